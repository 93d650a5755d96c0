# error-option.asm: an option the command does not take; exit 3
arena a 4K
span a 0 1M-1
alloc a 4K colour=red
