#!/usr/bin/env python3
# hostile.py: `asmctl pci assign` on inputs too large to commit
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage:
#   hostile.py check ASMCTL       every hostile input refused (exit 3) in
#                                 bounded time; cost linear in the devices
#   hostile.py bench ASMCTL [N]   the scaling figures only (median of N runs)
#
# The small hostile inputs (huge indexes, drive controllers, disk names,
# numbers with signs or spaces, an entity declaration) are goldens in
# beyond/bad-*.xml.  Here are those that are only hostile when large:
#   - a 100 KB entity referenced 20,000 times (2 GB once expanded);
#   - 10,000 virtio NICs on q35 (more than 256 buses hold);
#   - a document above 16 MiB, an attribute above 4 KiB, a text above
#     64 KiB;
# and the scaling check: a pc domain with 1,000 and with 8,000 devices
# (half of them at fixed multifunction addresses, half virtio disks
# without one, behind pci-bridges), and a pc domain whose pci-bridge has
# the highest index (255: 254 bridges filled in below it); 8x the devices may cost at most ~10x the time.

import os
import statistics
import subprocess
import sys
import tempfile
import time

LIMIT_S = 5.0    # a refusal takes milliseconds; this is for slow machines
RATIO_MAX = 12.0  # 8x the devices: ~8x the time, with room for noise


def head(name, machine):
    return ("<domain type='qemu'>\n  <name>%s</name>\n"
            "  <memory unit='MiB'>256</memory>\n  <os>\n"
            "    <type arch='x86_64' machine='%s'>hvm</type>\n  </os>\n"
            "  <devices>\n" % (name, machine))


TAIL = "  </devices>\n</domain>\n"


def vd(i):
    s = ""
    i += 1
    while i > 0:
        i -= 1
        s = chr(ord("a") + i % 26) + s
        i //= 26
    return "vd" + s


def entity_bomb():
    return ("<!DOCTYPE domain [\n<!ENTITY big \"%s\">\n]>\n" % ("x" * 100000)
            + head("&big;" * 20000, "pc") + TAIL)


def many_nics(n):
    return (head("nics", "q35") +
            "    <interface type='user'><model type='virtio'/></interface>\n"
            * n + TAIL)


def big_document():
    pad = "    <!-- %s -->\n" % ("x" * 60000)
    return head("big", "pc") + pad * 300 + TAIL


def long_attribute():
    return (head("attr", "pc") +
            "    <disk type='file' device='disk'>\n"
            "      <source file='/%s'/>\n"
            "      <target dev='vda' bus='virtio'/>\n    </disk>\n"
            % ("x" * 5000) + TAIL)


def long_text():
    return (head("text", "pc").replace(
        "  <memory", "  <description>%s</description>\n  <memory"
        % ("x" * 70000)) + TAIL)


def pc_devices(n):
    """n devices on pc: n/2 at fixed addresses (8 functions a slot), n/2
    virtio disks without one; the pci-bridges for both given"""
    fixed = n // 2
    auto = n - fixed
    fixed_buses = (fixed + 30 * 8 - 1) // (30 * 8)
    auto_buses = (auto + 29) // 30 + 1
    out = [head("scale-%d" % n, "pc")]
    for i in range(1, fixed_buses + auto_buses + 1):
        out.append("    <controller type='pci' index='%d' model='pci-bridge'/>\n"
                   % i)
    for i in range(fixed):
        bus = 1 + i // 240
        slot = 1 + (i % 240) // 8
        fn = i % 8
        multi = " multifunction='on'" if fn == 0 else ""
        out.append("    <interface type='user'>\n      <model type='e1000'/>\n"
                   "      <address type='pci' domain='0x0000' bus='%#04x' "
                   "slot='%#04x' function='%#x'%s/>\n    </interface>\n"
                   % (bus, slot, fn, multi))
    for i in range(auto):
        out.append("    <disk type='file' device='disk'>\n"
                   "      <source file='/var/lib/asm/%s.img'/>\n"
                   "      <target dev='%s' bus='virtio'/>\n    </disk>\n"
                   % (vd(i), vd(i)))
    out.append(TAIL)
    return "".join(out)


def pc_high_index():
    """pc: a pci-bridge at the highest index (gap filling from 1 to 254)"""
    return (head("high", "pc") +
            "    <controller type='pci' index='255' model='pci-bridge'/>\n"
            "    <interface type='user'><model type='virtio'/></interface>\n"
            + TAIL)


def run(asmctl, path):
    t0 = time.monotonic()
    r = subprocess.run([asmctl, "pci", "assign", path, "-o", os.devnull],
                       capture_output=True, text=True, timeout=600)
    return time.monotonic() - t0, r


def median_time(asmctl, path, runs, rc=0):
    times = []
    for _ in range(runs):
        t, r = run(asmctl, path)
        if r.returncode != rc:
            raise SystemExit("%s: exit %d: %s" % (path, r.returncode,
                                                  r.stderr.strip()))
        times.append(t)
    return statistics.median(times)


def scaling(asmctl, tmp, runs):
    """prints the figures; returns the worst ratio of 8,000 to 1,000"""
    times = {}
    for n in (1000, 8000):
        path = os.path.join(tmp, "scale-%d.xml" % n)
        with open(path, "w") as f:
            f.write(pc_devices(n))
        times["pc", n] = median_time(asmctl, path, runs)
        path = os.path.join(tmp, "nics-%d.xml" % n)
        with open(path, "w") as f:
            f.write(many_nics(n))
        times["nics", n] = median_time(asmctl, path, runs, rc=3)
    path = os.path.join(tmp, "high.xml")
    with open(path, "w") as f:
        f.write(pc_high_index())
    high = median_time(asmctl, path, runs)
    print("%-44s %10s" % ("input", "time (s)"))
    ratios = []
    for kind, what in (("pc", "pc, %s devices"),
                       ("nics", "q35, %s virtio NICs (refused)")):
        for n in (1000, 8000):
            print("%-44s %10.4f" % (what % format(n, ","), times[kind, n]))
        ratios.append(times[kind, 8000] / max(times[kind, 1000], 1e-3))
    print("%-44s %10.4f" % ("pc, pci-bridge at index 255", high))
    print("8,000 / 1,000: %.1fx the time (pc), %.1fx (NICs)" % tuple(ratios))
    return max(ratios)


def check(asmctl):
    failed = 0
    cases = [
        ("entity-bomb", entity_bomb(), "entity declarations are not accepted"),
        ("nics-10000", many_nics(10000), "above the maximum of 255"),
        ("big-document", big_document(), "the limit for a domain XML"),
        ("long-attribute", long_attribute(), "above the limit of 4096"),
        ("long-text", long_text(), "above the limit of 65536"),
    ]
    with tempfile.TemporaryDirectory(prefix="asm-hostile-") as tmp:
        for name, text, want in cases:
            path = os.path.join(tmp, name + ".xml")
            with open(path, "w") as f:
                f.write(text)
            try:
                t, r = run(asmctl, path)
            except subprocess.TimeoutExpired:
                print("FAILED %s: no answer within 600 s" % name)
                failed += 1
                continue
            ok = r.returncode == 3 and want in r.stderr and t < LIMIT_S
            print("%-6s %-16s exit %d in %.3f s: %s"
                  % ("ok" if ok else "FAILED", name, r.returncode, t,
                     r.stderr.strip()[:200]))
            failed += not ok
        ratio = scaling(asmctl, tmp, 3)
        if ratio > RATIO_MAX:
            print("FAILED scaling: 8x the devices cost %.1fx the time "
                  "(at most %.0fx)" % (ratio, RATIO_MAX))
            failed += 1
    print("%d failed" % failed)
    return 1 if failed else 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "check":
        return check(argv[2])
    if len(argv) >= 3 and argv[1] == "bench":
        runs = int(argv[3]) if len(argv) > 3 else 5
        with tempfile.TemporaryDirectory(prefix="asm-scale-") as tmp:
            scaling(argv[2], tmp, runs)
        return 0
    sys.stderr.write("usage: hostile.py check|bench ASMCTL [RUNS]\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
