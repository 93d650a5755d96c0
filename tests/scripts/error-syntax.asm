# error-syntax.asm: a bad number stops the script at its line, exit 3
arena a 4K
span a 0 1M-1
alloc a 4K
alloc a 12Q
alloc a 4K
