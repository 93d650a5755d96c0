#!/usr/bin/env python3
# check-pc.py: validate the generated asm-1.pc
#
# Runs `pkg-config --validate` on the file Meson generated from asm.pc.in,
# then checks what a consumer gets from it: its own Cflags add one directory
# ending in /asm-1 (so that <asm/asm.h> resolves under it and nothing else
# of ours lands in the kernel's <asm/...> namespace), its Libs link -lasm-1
# (never -lasm, elfutils' library), its Version is the project's, and its
# Requires (glib-2.0) resolve.
#
# Usage: check-pc.py [--pkg-config PROG] [--version V] [--api asm-1] PC_FILE
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys


def parse_pc(path):
    """Return (variables, fields) of a .pc file, variables expanded."""
    variables, fields = {}, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            m = re.match(r"^([A-Za-z0-9_.]+)\s*([=:])\s*(.*)$", line)
            if not m:
                raise ValueError(f"unparsable line {line!r}")
            key, sep, value = m.groups()
            (variables if sep == "=" else fields)[key] = value

    def expand(value, depth=0):
        if depth > 16:
            raise ValueError(f"recursive variable in {value!r}")
        return re.sub(r"\$\{([^}]+)\}",
                      lambda m: expand(variables.get(m.group(1), ""),
                                       depth + 1),
                      value)

    variables = {k: expand(v) for k, v in variables.items()}
    fields = {k: expand(v) for k, v in fields.items()}
    return variables, fields


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pkg-config", default=shutil.which("pkg-config"))
    ap.add_argument("--version", default=None)
    ap.add_argument("--api", default="asm-1")
    ap.add_argument("pc_file")
    args = ap.parse_args()

    pc = os.path.abspath(args.pc_file)
    module = os.path.basename(pc)[:-len(".pc")]
    errors = []

    if module != args.api:
        errors.append(f"the file is {os.path.basename(pc)}, expected "
                      f"{args.api}.pc")

    try:
        variables, fields = parse_pc(pc)
    except (OSError, ValueError) as e:
        print(f"FAIL: {pc}: {e}")
        return 1

    # 1. pkg-config's own validation of the file
    if not args.pkg_config:
        print("FAIL: pkg-config not found")
        return 1
    env = dict(os.environ)
    search = [os.path.dirname(pc)]
    search += [p for p in env.get("PKG_CONFIG_PATH", "").split(os.pathsep)
               if p]
    env["PKG_CONFIG_PATH"] = os.pathsep.join(search)
    env.pop("PKG_CONFIG_SYSROOT_DIR", None)

    def pkgconfig(*argv):
        return subprocess.run([args.pkg_config, *argv], env=env, text=True,
                              capture_output=True)

    r = pkgconfig("--validate", pc)
    print(f"$ pkg-config --validate {pc}: exit {r.returncode}")
    if r.returncode != 0 or r.stdout.strip() or r.stderr.strip():
        errors.append("pkg-config --validate complained:\n"
                      + r.stdout + r.stderr)

    # 2. the fields a consumer sees
    for field in ("Name", "Description", "Version", "Libs", "Cflags",
                  "Requires"):
        if not fields.get(field):
            errors.append(f"field {field} is missing or empty")

    cflags = shlex.split(fields.get("Cflags", ""))
    incs = [f[2:] for f in cflags if f.startswith("-I")]
    if len(incs) != 1 or not incs[0].rstrip("/").endswith("/" + args.api):
        errors.append(f"Cflags {fields.get('Cflags')!r} should add exactly "
                      f"one include directory, ending in /{args.api}")
    if incs and incs[0].rstrip("/").endswith("/asm"):
        errors.append("Cflags point into an asm/ directory: <asm/...> of the "
                      "kernel would be shadowed")
    if incs and variables.get("includedir") and \
            not incs[0].startswith(variables["includedir"]):
        errors.append(f"Cflags {incs[0]} are not under includedir "
                      f"{variables['includedir']}")

    libs = shlex.split(fields.get("Libs", ""))
    if f"-l{args.api}" not in libs:
        errors.append(f"Libs {fields.get('Libs')!r} lack -l{args.api}")
    if "-lasm" in libs:
        errors.append("Libs link -lasm, which is elfutils' libasm")
    if variables.get("libdir") and f"-L{variables['libdir']}" not in libs:
        errors.append(f"Libs {fields.get('Libs')!r} lack "
                      f"-L{variables['libdir']}")

    if args.version and fields.get("Version") != args.version:
        errors.append(f"Version is {fields.get('Version')!r}, expected "
                      f"{args.version!r}")
    if not re.search(r"\bglib-2\.0\b", fields.get("Requires", "")):
        errors.append("Requires does not name glib-2.0")

    for v in ("prefix", "libdir", "includedir"):
        if not os.path.isabs(variables.get(v, "")):
            errors.append(f"variable {v} is {variables.get(v)!r}, not an "
                          "absolute path")

    # 3. what pkg-config resolves (Requires included)
    r = pkgconfig("--print-errors", "--exists", module)
    if r.returncode != 0:
        errors.append(f"pkg-config --exists {module} failed:\n{r.stderr}")
    else:
        flags = pkgconfig("--cflags", "--libs", module)
        print(f"$ pkg-config --cflags --libs {module}\n{flags.stdout.strip()}")
        got = shlex.split(flags.stdout)
        if flags.returncode != 0:
            errors.append("pkg-config --cflags --libs failed:\n"
                          + flags.stderr)
        elif f"-l{args.api}" not in got or "-lglib-2.0" not in got:
            errors.append(f"resolved flags lack -l{args.api} or -lglib-2.0")
        elif incs and f"-I{incs[0]}" not in got:
            errors.append(f"resolved flags lack -I{incs[0]}")
        ver = pkgconfig("--modversion", module).stdout.strip()
        if args.version and ver != args.version:
            errors.append(f"pkg-config --modversion says {ver!r}")

    for e in errors:
        print("FAIL: " + e.rstrip("\n"))
    if errors:
        return 1
    print(f"ok: {os.path.basename(pc)} validates; Cflags end in /{args.api}, "
          f"Libs have -l{args.api}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
