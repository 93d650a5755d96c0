# error-unknown-command.asm: exit 3, naming the line and the word
arena a 4K
allocate a 4K
