# error-expect-last.asm: an expect with no command after it; exit 3
arena a 4K
expect no-space
