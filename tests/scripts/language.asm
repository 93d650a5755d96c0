# language.asm: the rules every command shares (asmctl-script.md, "Lines
# and words"): comments, blank lines, numbers, names, echo, expect, check.

   # an indented comment; blank lines are ignored

echo numbers are decimal or 0x-hex, with K, M, G or T, and + or - in a word
arena ids 1
span ids 0 255
reserve ids 0 0                  # id 0 is taken: a comment after a command
alloc ids 1 fit=next
alloc ids 1 fit=next
arena mem 4K
span mem 0 4G-1
span mem 1T 1T+1M-1
alloc mem 1K+3K
alloc mem 0x1000 align=1M
alloc mem 16K min=1T
lookup mem 0x10000000000+0x1000
echo a '#' inside a word is not a comment: a#b
arena my_arena.v2-x 0x1000
span my_arena.v2-x 0x0 0xfff
alloc my_arena.v2-x 4K

# expect CODE: the next command must fail with that code; "any" takes any
expect no-space
alloc my_arena.v2-x 4K
expect any
alloc mem 5G
expect invalid
alloc mem 1000

# check with no name checks every object
check
check mem
