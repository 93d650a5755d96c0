#!/usr/bin/env python3
# man-commands.py: the COMMANDS section of asmctl(1), from asmctl itself
#
# Usage: man-commands.py ASMCTL OUTPUT.h2m
#
# help2man makes asmctl.1 from `asmctl --help`, which only lists the
# commands.  This writes a help2man include file with one subsection per
# command and subcommand, each the text that command's --help prints, so
# the man page covers every one and can never disagree with the program.
# Commands are discovered, not listed here: the "Commands:" lines of
# `asmctl iova --help`, `asmctl pci --help` and
# `asmctl --bus session fabric --help` name their subcommands.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import re
import subprocess
import sys

asmctl, output = sys.argv[1], sys.argv[2]


def help_of(args):
    r = subprocess.run([asmctl, *args, "--help"], capture_output=True,
                       text=True, timeout=30, env={"LC_ALL": "C.UTF-8"})
    if r.returncode != 0:
        sys.exit("man-commands.py: asmctl %s --help failed (%d): %s"
                 % (" ".join(args), r.returncode, r.stderr.strip()))
    return r.stdout


def listed(text):
    """The command names of a help text's "Commands" block."""
    names, inside = [], False
    for line in text.splitlines():
        if line.startswith("Commands"):
            inside = True
            continue
        if inside:
            m = re.match(r"^  ([a-z][a-z0-9-]*)(\s|$)", line)
            if m:
                names.append(m.group(1))
            elif line.strip() == "":
                break
    return names


def roff(text):
    out = []
    for line in text.rstrip("\n").splitlines():
        line = line.replace("\\", "\\e")
        if line.startswith((".", "'")):
            line = "\\&" + line
        out.append(line)
    return "\n".join(out)


commands = [("demo",), ("run",), ("script",)]
commands += [("iova", c) for c in listed(help_of(["iova"]))]
commands += [("pci", c) for c in listed(help_of(["pci"]))]
commands += [("pci", "assign"), ("pci", "attach"), ("pci", "detach")]
fabric = ["--bus", "session", "fabric"]
commands += [tuple(fabric)]
commands += [tuple(fabric + [c]) for c in listed(help_of(fabric))]
if len(commands) < 20:
    sys.exit("man-commands.py: only %d commands found" % len(commands))

with open(output, "w") as f:
    f.write("[COMMANDS]\n")
    f.write("Each command's own --help, as the program prints it.\n")
    for args in commands:
        name = " ".join(a for a in args if a != "session"
                        ).replace("--bus", "--bus BUS")
        f.write('.SS "asmctl %s"\n.nf\n%s\n.fi\n' % (name, roff(help_of(list(args)))))
