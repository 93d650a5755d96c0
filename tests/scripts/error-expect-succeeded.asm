# error-expect-succeeded.asm: an expect that does not hold; exit 1
arena a 4K
span a 0 16K-1
expect no-space
alloc a 8K
