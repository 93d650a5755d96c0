# error-expect-mismatch.asm: the command fails with another code; exit 1
arena a 4K
span a 0 16K-1
expect in-use
alloc a 32K
