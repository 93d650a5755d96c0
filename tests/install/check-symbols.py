#!/usr/bin/env python3
# check-symbols.py: compare the linker version script with the built library
#
# The exported ABI of libasm-1 is written down once, in src/asm-1.map.  This
# test reads the dynamic symbol table of the built shared library and fails
# when the two disagree in either direction (in the spirit of libvirt's
# check-symfile.py), when an export lacks the asm_ prefix, when the SONAME is
# not libasm-1.so.0, or when any export or map entry has the same name as an
# export of elfutils' libasm.so.1, the library whose name asm shares.
#
# Usage: check-symbols.py --map src/asm-1.map [--nm nm] [--readelf readelf]
#                         [--soname libasm-1.so.0] [--elfutils PATH] LIBRARY
#
# Exit status: 0 pass, 1 fail, 77 (Meson's skip) when every check that could
# run passed but elfutils' libasm is not installed, so the collision check
# could not run.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys

SKIP = 77
PREFIX = "asm_"
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class MapError(Exception):
    pass


def parse_map(path):
    """Parse a GNU ld version script.

    Returns (symbols, nodes): symbols maps every global name to the version
    node that lists it; nodes is the list of node names in file order.
    Understands '#' and '/* */' comments, several nodes, node inheritance
    ('} ASM_1_0;') and 'global:'/'local:' sections.  A wildcard is only
    accepted under 'local:'; explicit lists keep the ABI reviewable.
    """
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"#[^\n]*", " ", text)
    tokens = re.findall(r"[{};:]|[^\s{};:]+", text)

    symbols = {}
    nodes = []
    i = 0
    n = len(tokens)
    while i < n:
        node = tokens[i]
        if not IDENT.match(node):
            raise MapError(f"expected a version node name, found {node!r}")
        if i + 1 >= n or tokens[i + 1] != "{":
            raise MapError(f"expected '{{' after version node {node}")
        nodes.append(node)
        i += 2
        section = "global"  # ld's default before any 'global:'/'local:'
        while True:
            if i >= n:
                raise MapError(f"version node {node} is not closed")
            tok = tokens[i]
            if tok == "}":
                i += 1
                break
            if tok in ("global", "local") and i + 1 < n and \
                    tokens[i + 1] == ":":
                section = tok
                i += 2
                continue
            if tok == "extern":
                raise MapError(f"'extern' blocks are not expected in {path}")
            if i + 1 >= n or tokens[i + 1] != ";":
                raise MapError(f"missing ';' after {tok!r} in node {node}")
            if section == "global":
                if not IDENT.match(tok):
                    raise MapError(
                        f"global entry {tok!r} in node {node} is not a plain "
                        "symbol name (wildcards may only be local)")
                if tok in symbols:
                    raise MapError(
                        f"{tok} is listed twice (nodes {symbols[tok]} and "
                        f"{node})")
                symbols[tok] = node
            i += 2
        # optional parent node, then the closing ';'
        if i < n and tokens[i] != ";":
            parent = tokens[i]
            if parent not in nodes:
                raise MapError(f"node {node} inherits unknown node {parent}")
            i += 1
        if i >= n or tokens[i] != ";":
            raise MapError(f"missing ';' after the '}}' of node {node}")
        i += 1
    if not nodes:
        raise MapError(f"{path} defines no version node")
    return symbols, nodes


def run(argv):
    try:
        out = subprocess.run(argv, check=True, capture_output=True,
                             text=True)
    except FileNotFoundError:
        sys.exit(f"FAIL: cannot run {argv[0]}")
    except subprocess.CalledProcessError as e:
        sys.exit(f"FAIL: {' '.join(argv)} exited {e.returncode}:\n{e.stderr}")
    return out.stdout


def dynamic_exports(nm, library):
    """Return {name: version or None} for the defined dynamic symbols.

    Absolute symbols ('A') are the version nodes themselves and are left
    out; so are binutils' '@@VERSION' / '@VERSION' suffixes, kept as the
    value.
    """
    exports = {}
    for line in run([nm, "-D", "--defined-only", library]).splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        kind, name = parts[-2], parts[-1]
        if kind == "A":
            continue
        version = None
        m = re.match(r"^([^@]+)@@?(.*)$", name)
        if m:
            name, version = m.group(1), m.group(2)
        exports[name] = version
    return exports


def soname(readelf, library):
    if readelf:
        out = run([readelf, "-d", library])
        m = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", out)
    else:
        out = run(["objdump", "-p", library])
        m = re.search(r"^\s*SONAME\s+(\S+)", out, flags=re.M)
    return m.group(1) if m else None


def find_elfutils_libasm():
    """Locate elfutils' libasm.so.1 (Debian package libasm1)."""
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True,
                             text=True).stdout
    except (FileNotFoundError, PermissionError):
        out = ""
    for line in out.splitlines():
        m = re.match(r"^\s*libasm\.so\.1\s.*=>\s*(\S+)\s*$", line)
        if m and os.path.exists(m.group(1)):
            return m.group(1)
    for pattern in ("/usr/lib/*/libasm.so.1", "/lib/*/libasm.so.1",
                    "/usr/lib/libasm.so.1", "/usr/lib64/libasm.so.1"):
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[0]
    return None


def declared_in_headers(header_dir):
    """Return {name: header} for every function declared with an
    ASM_AVAILABLE_IN_* export macro in the public headers."""
    declared = {}
    for path in sorted(glob.glob(os.path.join(header_dir, "*.h"))):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        for m in re.finditer(r"\bASM_AVAILABLE_IN_\w+\b([^;{]*)", text):
            decl = m.group(1)
            name = re.search(r"\b([A-Za-z_]\w*)\s*\(", decl)
            # skip the macro's own #define and function-pointer typedefs
            if name and not name.group(1).startswith("_") and \
                    "#define" not in decl:
                declared[name.group(1)] = os.path.basename(path)
    return declared


def main():
    ap = argparse.ArgumentParser(
        description="Compare a linker version script with a built library")
    ap.add_argument("--map", required=True, help="the linker version script")
    ap.add_argument("--nm", default=shutil.which("nm") or "nm")
    ap.add_argument("--readelf", default=shutil.which("readelf"))
    ap.add_argument("--soname", default="libasm-1.so.0",
                    help="the expected DT_SONAME")
    ap.add_argument("--elfutils", default=None,
                    help="path of elfutils' libasm.so.1 (default: search)")
    ap.add_argument("--header-dir", default=None,
                    help="include/asm: ASM_AVAILABLE_IN_* declarations "
                    "must equal the map too")
    ap.add_argument("library", help="the built shared library")
    args = ap.parse_args()

    errors = []

    try:
        in_map, nodes = parse_map(args.map)
    except (OSError, MapError) as e:
        print(f"FAIL: cannot use {args.map}: {e}")
        return 1

    exports = dynamic_exports(args.nm, args.library)
    print(f"{args.map}: {len(in_map)} symbols in {', '.join(nodes)}")
    print(f"{args.library}: {len(exports)} defined dynamic symbols")

    extra = sorted(set(exports) - set(in_map))
    missing = sorted(set(in_map) - set(exports))
    if extra:
        errors.append("exported by the library but not in the map:\n"
                      + "".join(f"    {s}\n" for s in extra))
    if missing:
        errors.append("in the map but not exported by the library:\n"
                      + "".join(f"    {s}\n" for s in missing))

    if args.header_dir:
        declared = declared_in_headers(args.header_dir)
        print(f"{args.header_dir}: {len(declared)} ASM_AVAILABLE_IN_* "
              "declarations")
        undeclared = sorted(set(in_map) - set(declared))
        unlisted = sorted(set(declared) - set(in_map))
        if unlisted:
            errors.append("declared with ASM_AVAILABLE_IN_* but not in the "
                          "map (hidden by 'local: *'):\n"
                          + "".join(f"    {s} ({declared[s]})\n"
                                    for s in unlisted))
        if undeclared:
            errors.append("in the map but declared in no public header with "
                          "ASM_AVAILABLE_IN_*:\n"
                          + "".join(f"    {s}\n" for s in undeclared))

    unversioned = sorted(s for s in set(exports) & set(in_map)
                         if exports[s] is not None and exports[s] != in_map[s])
    if unversioned:
        errors.append("exported with a version other than the map's node:\n"
                      + "".join(f"    {s}@{exports[s]} (map: {in_map[s]})\n"
                                for s in unversioned))

    unprefixed = sorted(s for s in set(exports) | set(in_map)
                        if not s.startswith(PREFIX))
    if unprefixed:
        errors.append(f"exported or listed without the '{PREFIX}' prefix:\n"
                      + "".join(f"    {s}\n" for s in unprefixed))

    so = soname(args.readelf, args.library)
    if so != args.soname:
        errors.append(f"SONAME is {so!r}, expected {args.soname!r}\n")

    elfutils = args.elfutils or find_elfutils_libasm()
    skipped = False
    if args.elfutils and not os.path.exists(args.elfutils):
        errors.append(f"--elfutils {args.elfutils} does not exist\n")
    elif elfutils:
        theirs = dynamic_exports(args.nm, elfutils)
        print(f"{elfutils}: {len(theirs)} defined dynamic symbols "
              "(elfutils libasm)")
        if not theirs:
            errors.append(f"{elfutils} exports nothing: is it really "
                          "elfutils' libasm?\n")
        clash = sorted((set(exports) | set(in_map)) & set(theirs))
        if clash:
            errors.append(f"same name as an export of elfutils' {elfutils}:\n"
                          + "".join(f"    {s}\n" for s in clash))
    else:
        skipped = True

    if errors:
        for e in errors:
            print("FAIL: " + e, end="" if e.endswith("\n") else "\n")
        return 1
    print(f"ok: the exports equal the map, all are {PREFIX}*, "
          f"SONAME is {so}")
    if skipped:
        print("=" * 72)
        print("SKIP: elfutils libasm not installed (Debian package libasm1); "
              "the collision check with its exports did not run")
        print("=" * 72)
        return SKIP
    print("ok: no export shares a name with elfutils' libasm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
