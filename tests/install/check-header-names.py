#!/usr/bin/env python3
# check-header-names.py: keep asm's public headers out of the kernel's way
#
# asm installs its headers as ${includedir}/asm-1/asm/*.h and consumers write
# #include <asm/asm.h>.  The Linux uapi headers (Debian linux-libc-dev) live
# in the same <asm/...> namespace, so a public header named like one of them
# (types.h, ioctl.h, kvm.h, ...) would shadow the kernel's for every program
# that adds `pkg-config --cflags asm-1`.  This test fails when
#   - a public header is not asm.h or asm-<module>.h, or
#   - a public header has the name of a header in a uapi asm/ directory
#     (/usr/include/<multiarch>/asm, /usr/include/asm,
#     /usr/include/asm-generic), or of a well-known one listed below (so the
#     check means something on a machine without linux-libc-dev too).
#
# Usage: check-header-names.py [--uapi-dir DIR]... HEADER_DIR [HEADER...]
#   HEADER_DIR: include/asm of the source tree (every *.h in it is checked)
#   HEADER...:  the headers the build installs (checked too)
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import argparse
import glob
import os
import re
import sys

NAME = re.compile(r"^asm(-[a-z0-9]+)*\.h$")

# A sample of uapi asm/ and asm-generic/ header names common to all
# architectures, used in addition to whatever is installed.
WELL_KNOWN = {
    "auxvec.h", "bitsperlong.h", "bpf_perf_event.h", "byteorder.h",
    "errno.h", "fcntl.h", "ioctl.h", "ioctls.h", "ipcbuf.h", "kvm.h",
    "kvm_para.h", "mman.h", "msgbuf.h", "param.h", "poll.h", "posix_types.h",
    "ptrace.h", "resource.h", "sembuf.h", "setup.h", "shmbuf.h",
    "sigcontext.h", "siginfo.h", "signal.h", "socket.h", "sockios.h",
    "stat.h", "statfs.h", "swab.h", "termbits.h", "termios.h", "types.h",
    "ucontext.h", "unistd.h", "int-ll64.h", "int-l64.h",
}


def default_uapi_dirs():
    dirs = sorted(glob.glob("/usr/include/*-linux-gnu*/asm"))
    dirs += ["/usr/include/asm", "/usr/include/asm-generic"]
    return dirs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uapi-dir", action="append", default=None,
                    help="a uapi asm/ directory (default: the system's)")
    ap.add_argument("header_dir")
    ap.add_argument("headers", nargs="*")
    args = ap.parse_args()

    ours = {}
    for path in sorted(glob.glob(os.path.join(args.header_dir, "*.h"))):
        ours.setdefault(os.path.basename(path), path)
    for path in args.headers:
        ours.setdefault(os.path.basename(path), path)
    if not ours:
        print(f"FAIL: no public header found in {args.header_dir}")
        return 1

    uapi = {}
    seen_dirs = []
    for d in args.uapi_dir or default_uapi_dirs():
        if not os.path.isdir(d):
            continue
        seen_dirs.append(d)
        for root, _, files in os.walk(d):
            for f in files:
                if f.endswith(".h"):
                    uapi.setdefault(f, os.path.join(root, f))
    for f in WELL_KNOWN:
        uapi.setdefault(f, "(a well-known uapi asm/ header)")

    print(f"{len(ours)} public headers: {', '.join(sorted(ours))}")
    if seen_dirs:
        print(f"{len(uapi)} uapi header names from {', '.join(seen_dirs)}")
    else:
        print("note: no uapi asm/ directory installed (linux-libc-dev); "
              f"checking against {len(WELL_KNOWN)} well-known names only")

    errors = []
    for name, path in sorted(ours.items()):
        if not NAME.match(name):
            errors.append(f"{path}: public headers are named asm.h or "
                          "asm-<module>.h")
        if name in uapi:
            errors.append(f"{path}: same name as the kernel's {uapi[name]}")
    if "asm.h" not in ours:
        errors.append("the umbrella header asm.h is missing")

    for e in errors:
        print("FAIL: " + e)
    if errors:
        return 1
    print("ok: every public header is asm.h or asm-*.h and none shadows a "
          "uapi <asm/...> header")
    return 0


if __name__ == "__main__":
    sys.exit(main())
