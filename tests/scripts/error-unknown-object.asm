# error-unknown-object.asm: names are created before use; exit 3
arena a 4K
span a 0 1M-1
free b 0
