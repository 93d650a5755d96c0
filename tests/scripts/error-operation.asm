# error-operation.asm: an operation fails with no expect announcing it;
# exit 1 after the message (with --keep-going the script goes on)
arena a 4K
span a 0 16K-1
alloc a 8K
alloc a 16K
alloc a 8K
stats a
