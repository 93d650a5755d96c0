#!/usr/bin/env python3
# gen-corpus.py: write the seed corpus of a fuzz target
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   tests/fuzz/gen-corpus.py arena [DIR]
#   tests/fuzz/gen-corpus.py arena-cache [DIR]
#   tests/fuzz/gen-corpus.py fabric-ops STANDALONE [DIR]
#
# DIR defaults to tests/fuzz/corpus/TARGET.  Inputs that libFuzzer found and
# that were worth keeping live beside the seeds under their SHA-1 names;
# this script only (re)writes the seed-* files.
#
# arena: every byte string is a valid input of fuzz-arena (its bytes are
# the generator's choices, see arena-harness.c), so the seeds are
# deterministic pseudo-random strings.  The first byte selects the
# configuration: window = b % 3, width = (128, 256, 512, 2048)[b // 3 % 4],
# quantum = 1 << (b // 12 % 4), free weight = b // 48 % 4; the seeds walk
# through all 48 window/width/quantum combinations with lengths from 64
# bytes to 4 KiB.
#
# arena-cache: every byte string is a valid input of fuzz-arena-cache too
# (its bytes are the choices of the mirror of arena-cache-mirror.c), so
# the seeds are deterministic pseudo-random strings as well.  The first
# byte selects the configuration: the cache's max_size = (1, 4, 16,
# 256)[b % 4] quanta, the span's width = (64, 256, 1024, 8192)[b // 4 % 4]
# quanta, its place = b // 16 % 3 (at 0, across the cache's unit limit,
# at the top); the seeds walk through all 48 combinations with lengths
# from 64 bytes to 4 KiB.
#
# fabric-ops: the input is a program for the operation decoder of
# tests/fabric-ops.c (byte 0: the backend, 0 mod 4 for none, else the sim;
# then the decoder's choices).  seed-random-* are deterministic pseudo-
# random programs, most with the sim.  The other seeds each show one
# situation worth keeping (a crash in the middle of a migration and the
# recovery after it, a VF transfer, a window given to a pinned switch, ...):
# the script tries deterministic pseudo-random programs on STANDALONE (the
# fuzz-fabric-ops-standalone of a build) with ASM_FUZZ_TRACE=1, keeps the
# first whose trace shows the situation, and cuts it to the shortest prefix
# that still shows it.  The seeds depend on the decoder: regenerate them
# when its table or its choices change.

import os
import random
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def gen_arena(out):
    rng = random.Random(0x61736d)
    lengths = [64, 128, 256, 512, 1024, 2048, 4096]
    for i in range(48):
        first = i + 48 * rng.randrange(4)  # every config, random profile
        n = lengths[i % len(lengths)]
        body = bytes(rng.randrange(256) for _ in range(n - 1))
        with open(os.path.join(out, 'seed-%02d' % i), 'wb') as f:
            f.write(bytes([first]) + body)


def gen_arena_cache(out):
    rng = random.Random(0x6361636865)
    lengths = [64, 128, 256, 512, 1024, 2048, 4096]
    for i in range(48):
        first = i + 48 * rng.randrange(5)  # every config, any of 5 bytes
        n = lengths[i % len(lengths)]
        body = bytes(rng.randrange(256) for _ in range(n - 1))
        with open(os.path.join(out, 'seed-%02d' % i), 'wb') as f:
            f.write(bytes([first]) + body)


# name: a regular expression the trace must match (re.M | re.S)
OK = r'\n(?!   -> )'
FABRIC_SITUATIONS = {
    'model-only': r'^# backend none(.*?^\d+: request_partition[^\n]*' + OK
                  + r'){3}',
    'crash-migrate': r'^\d+: migrate_partition[^\n]*\n   -> error backend:'
                     r'[^\n]*asm_fabric_recover',
    'crash-request': r'^\d+: request_partition[^\n]*\n   -> error backend:'
                     r'[^\n]*asm_fabric_recover',
    'crash-rebalance': r'^\d+: rebalance[^\n]*\n   -> error backend:'
                       r'[^\n]*asm_fabric_recover',
    'crash-later-ok': r'sim: crash after.*?asm_fabric_recover.*?'
                      r'(^\d+: (request|migrate|grow)_partition[^\n]*'
                      + OK + r'.*?){3}',
    'fail-kind': r'sim: fail every call of kind [1-7].*?'
                 r'-> error backend:[^\n]*the fabric is as it was',
    'fail-call-rollback': r'sim: fail call.*?-> error backend:[^\n]*step [2-9]'
                          r' of',
    'vf-transfer': r'^\d+: transfer_vf[^\n]*' + OK,
    'vf-map-on-switch': r'^\d+: create_vf[^\n]*' + OK
                        + r'.*?^\d+: map_device[^\n]*' + OK
                        + r'.*?^\d+: migrate_partition[^\n]*' + OK,
    'pinned-window': r'pinned 1\)' + OK + r'.*?^\d+: add_window[^\n]*' + OK
                     + r'.*?^\d+: request_partition[^\n]*' + OK,
    'grow-migrate': r'(^\d+: grow_partition[^\n]*' + OK + r'.*?){3}'
                    r'^\d+: migrate_partition[^\n]*' + OK,
    'usage-rebalance': r'(^\d+: record_usage[^\n]*' + OK + r'.*?){3}'
                       r'^\d+: predict[^\n]*' + OK
                       + r'.*?^\d+: rebalance[^\n]*' + OK,
    'window-granule': r'^\d+: set_window_granule[^\n]*' + OK
                      + r'.*?^\d+: set_window_granule[^\n]*\n   -> error',
    'round-trip-copy': r'going on with the copy' + OK
                       + r'.*?^\d+: (request|migrate|grow)_partition[^\n]*'
                       + OK,
    'release-all': r'(^\d+: release_partition[^\n]*' + OK + r'.*?){4}',
    'bad-args': r'(-> error invalid.*?){8}',
    'full-table': r'(^\d+: request_partition[^\n]*' + OK + r'.*?){12}',
}


def trace(standalone, data):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(data)
        path = f.name
    try:
        env = dict(os.environ, ASM_FUZZ_TRACE='1')
        r = subprocess.run([standalone, path], env=env, capture_output=True,
                           text=True, errors='replace')
        if r.returncode != 0:
            sys.exit('%s failed on a generated input:\n%s' % (standalone,
                                                              r.stderr))
        return r.stderr
    finally:
        os.unlink(path)


def shortest_prefix(standalone, data, pattern):
    lo, hi = 1, len(data)  # pattern shows at hi
    while lo < hi:
        mid = (lo + hi) // 2
        if pattern.search(trace(standalone, data[:mid])):
            hi = mid
        else:
            lo = mid + 1
    return data[:hi]


def gen_fabric_ops(out, standalone):
    rng = random.Random(0x666f7073)
    for i, n in enumerate([256, 512, 1024, 1536, 2048, 3072, 4096, 4096]):
        # byte 0 mod 4: no backend (model only); otherwise the sim
        backend = 4 * rng.randrange(64) + (0 if i == 3 else 1 + rng.randrange(3))
        body = bytes(rng.randrange(256) for _ in range(n - 1))
        with open(os.path.join(out, 'seed-random-%d' % i), 'wb') as f:
            f.write(bytes([backend]) + body)

    todo = {name: re.compile(p, re.M | re.S)
            for name, p in FABRIC_SITUATIONS.items()}
    rng = random.Random(0x73697475)
    for attempt in range(20000):
        if not todo:
            break
        data = bytes(rng.randrange(256) for _ in range(4096))
        text = trace(standalone, data)
        for name, pattern in list(todo.items()):
            if pattern.search(text):
                seed = shortest_prefix(standalone, data, pattern)
                with open(os.path.join(out, 'seed-' + name), 'wb') as f:
                    f.write(seed)
                print('seed-%s: %d bytes (program %d)' % (name, len(seed),
                                                          attempt))
                del todo[name]
    if todo:
        sys.exit('no program shows: ' + ', '.join(sorted(todo)))


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ('arena', 'arena-cache',
                                                 'fabric-ops'):
        sys.exit('usage: gen-corpus.py arena [DIR]\n'
                 '       gen-corpus.py arena-cache [DIR]\n'
                 '       gen-corpus.py fabric-ops STANDALONE [DIR]')
    target = sys.argv[1]
    args = sys.argv[2:]
    if target == 'fabric-ops':
        if not args:
            sys.exit('fabric-ops needs the path of '
                     'fuzz-fabric-ops-standalone')
        standalone = os.path.abspath(args.pop(0))
    out = args[0] if args else os.path.join(HERE, 'corpus', target)
    os.makedirs(out, exist_ok=True)
    if target == 'arena':
        gen_arena(out)
    elif target == 'arena-cache':
        gen_arena_cache(out)
    else:
        gen_fabric_ops(out, standalone)


if __name__ == '__main__':
    main()
