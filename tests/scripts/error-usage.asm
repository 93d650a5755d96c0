# error-usage.asm: a wrong number of arguments prints the usage; exit 3
arena a 4K
span a 0 1M-1
alloc a
