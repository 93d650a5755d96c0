#!/usr/bin/env python3
# readme-sync.py README.md readme-example.c: fail when the C example in the
# README's "Using it" section differs from readme-example.c, the copy that
# is built and run as a test.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import sys

readme, example = sys.argv[1], sys.argv[2]
lines = open(readme, encoding="utf-8").read().splitlines()
try:
    start = lines.index("## Using it")
    first = lines.index("```c", start) + 1
    last = lines.index("```", first)
except ValueError:
    sys.exit(f"{readme}: no ```c block in the section \"Using it\"")
block = "\n".join(lines[first:last]) + "\n"
copy = open(example, encoding="utf-8").read()
if block != copy:
    sys.exit(f"{example} differs from the example in {readme}: "
             "copy the README's block into it")
print(f"{example} is the README's example")
