#!/usr/bin/env python3
# gen-corpus.py: write the seed corpus of the arena fuzz target
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Every byte string is a valid input of fuzz-arena (its bytes are the
# generator's choices, see fuzz-arena.c), so the seeds are deterministic
# pseudo-random strings.  The first byte selects the configuration: window
# = b % 3, width = (128, 256, 512, 2048)[b // 3 % 4], quantum =
# 1 << (b // 12 % 4), free weight = b // 48 % 4; the seeds walk through all
# 48 window/width/quantum combinations with lengths from 64 bytes to 4 KiB.
#
#   tests/fuzz/gen-corpus.py tests/fuzz/corpus/arena
#
# Inputs that libFuzzer found and that were worth keeping live beside these
# under their SHA-1 names; this script only (re)writes the seed-* files.

import os
import random
import sys


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), 'corpus', 'arena')
    os.makedirs(out, exist_ok=True)
    rng = random.Random(0x61736d)
    lengths = [64, 128, 256, 512, 1024, 2048, 4096]
    for i in range(48):
        first = i + 48 * rng.randrange(4)  # every config, random profile
        n = lengths[i % len(lengths)]
        body = bytes(rng.randrange(256) for _ in range(n - 1))
        with open(os.path.join(out, 'seed-%02d' % i), 'wb') as f:
            f.write(bytes([first]) + body)


if __name__ == '__main__':
    main()
