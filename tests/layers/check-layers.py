#!/usr/bin/env python3
"""check-layers.py: no library source includes a header of a higher layer.

asm is built in layers, each usable without the ones above it:

    0 range    asm-version.h asm-error.h asm-range.h, the bug helper
    1 arena    asm-arena.h and its private header
    2 address  asm-addr.h, the persistent map (asm-pmap)
    3 pci      asm-pci.h and the PCI modules
    4 fabric   asm-backend.h (the ops table the fabric calls through),
               asm-fabric.h and the fabric's modules
    5 backends asm-sim.h, asm-qemu.h, the simulator, QEMU and QMP

Each file of src/ and include/asm/ belongs to one layer (the table FILES
below; a file it does not list is an error, so a new file must be placed).
A file may include headers of its own layer and of lower layers only, and
no library source may include the umbrella <asm/asm.h>.

Usage: check-layers.py SOURCE_ROOT            check the tree
       check-layers.py --self-test SOURCE_ROOT plant an upward include in a
                                               copy of the tree and check
                                               that it is caught
Exit status 0 when every include is in order, 1 otherwise (each bad
include printed as FILE:LINE: ...).
"""

import os
import re
import shutil
import sys
import tempfile

LAYERS = ["range", "arena", "address", "pci", "fabric", "backends"]

# (regular expression on the file name, layer), first match wins
FILES = [
    (r"asm\.h$", "umbrella"),
    (r"asm-(version|error|range)\.[ch]$", "range"),
    (r"asm-bug-private\.h$", "range"),
    (r"asm-boxed-private\.h$", "range"),
    (r"asm-arena(-[a-z]+)*\.[ch]$", "arena"),
    (r"asm-addr\.[ch]$", "address"),
    (r"asm-pmap(-private)?\.[ch]$", "address"),
    (r"asm-pci(-[a-z]+)*\.[ch]$", "pci"),
    (r"asm-backend(-private)?\.[ch]$", "fabric"),
    (r"asm-fabric\.[ch]$", "fabric"),
    (r"asm-f(model|json|journal|op|plan|txn|save)(-private)?\.[ch]$", "fabric"),
    (r"asm-(sim|qemu|qmp)(-[a-z]+)?\.[ch]$", "backends"),
]

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"](?:asm/)?([^">]+)[">]')


def layer_of(name):
    for pattern, layer in FILES:
        if re.match(pattern, name):
            return layer
    return None


def check(root):
    problems = []
    files = []
    for sub in ("src", os.path.join("include", "asm")):
        d = os.path.join(root, sub)
        for name in sorted(os.listdir(d)):
            if name.endswith((".c", ".h")):
                files.append(os.path.join(sub, name))
    if not files:
        problems.append(f"{root}: no sources found")
    for path in files:
        name = os.path.basename(path)
        mine = layer_of(name)
        if mine is None:
            problems.append(f"{path}: not in the layer table of "
                            f"{os.path.basename(__file__)}: place it")
            continue
        with open(os.path.join(root, path), encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if m is None:
                    continue
                target = os.path.basename(m.group(1))
                if not target.startswith("asm"):
                    continue  # glib, json-glib, libc
                theirs = layer_of(target)
                if theirs == "umbrella":
                    if mine != "umbrella":
                        problems.append(
                            f"{path}:{lineno}: includes the umbrella "
                            f"<asm/asm.h>; include {name}'s own header and "
                            f"the ones below it")
                    continue
                if theirs is None:
                    problems.append(f"{path}:{lineno}: includes {target}, "
                                    f"which is in no layer")
                    continue
                if mine != "umbrella" and \
                        LAYERS.index(theirs) > LAYERS.index(mine):
                    problems.append(
                        f"{path}:{lineno}: layer '{mine}' includes {target} "
                        f"of the higher layer '{theirs}'")
    return problems, len(files)


def self_test(root):
    """Plants an include of the fabric's header in the range layer of a
    copy of the tree: the check must fail and name it."""
    with tempfile.TemporaryDirectory() as tmp:
        for sub in ("src", os.path.join("include", "asm")):
            shutil.copytree(os.path.join(root, sub), os.path.join(tmp, sub))
        clean, n = check(tmp)
        if clean:
            print("self-test: the copy is not clean to begin with:")
            print("\n".join(clean))
            return 1
        victim = os.path.join(tmp, "src", "asm-range.c")
        with open(victim, encoding="utf-8") as f:
            text = f.read()
        with open(victim, "w", encoding="utf-8") as f:
            f.write('#include "asm-fmodel-private.h"\n' + text)
        planted, _ = check(tmp)
        want = "src/asm-range.c:1: layer 'range' includes " \
               "asm-fmodel-private.h of the higher layer 'fabric'"
        if planted != [want]:
            print("self-test: the planted upward include was not reported "
                  "as expected; got:")
            print("\n".join(planted) or "(nothing)")
            return 1
        print(f"self-test: {n} files clean; the planted include was caught:")
        print("  " + planted[0])
        return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "--self-test":
        return self_test(argv[2])
    if len(argv) != 2:
        print(__doc__)
        return 2
    problems, n = check(argv[1])
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} include(s) out of layer order")
        return 1
    print(f"{n} files, every include in layer order")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
