# json.asm: --json prints every command's output and the error
arena a 4K
span a 0 16K-1
alloc a 8K
expect no-space
alloc a 16K
echo next: a failure
alloc a 16K
