#!/usr/bin/env python3
"""scale-cli.py ASMCTL [SMALL]: asmctl run and script grow linearly.

Times `asmctl run` on a scenario of SMALL and 8*SMALL switches and as
many workloads (each switch drained and removed, each workload ended) and
`asmctl script` on a script of SMALL/4 and 2*SMALL partitions (each of its
own workload; half of them end with it, half are released), and prints
the figures.  Time may grow at most 12 times for 8 times the input
(linear, with room for noise); the scans of every name or partition per
step that it replaced made it grow 36 to 70 times.  SMALL is 4000 unless given (the tests
run it with 250, the README figures come from 4000).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

asmctl = os.path.abspath(sys.argv[1])
small = int(sys.argv[2]) if len(sys.argv) > 2 else 4000


def scenario(n):
    # every switch joins and leaves again (drained, removed), and so does
    # a workload per switch: what costs is asmctl's reading and its names.
    # Requests and VFs are left out: the library scores every switch per
    # request and looks through the devices per VF (its own costs); the
    # partitions are the script's part
    sw = [{"name": f"s{i}", "bandwidth": 1000, "ports": 1}
          for i in range(n)]
    wl = [f"w{i}" for i in range(n)]
    steps = []
    for i in range(n):
        steps.append({"do": "end_workload", "workload": f"w{i}"})
        steps.append({"do": "drain", "switch": f"s{i}"})
        steps.append({"do": "remove_switch", "switch": f"s{i}"})
    return json.dumps({
        "fabric": {"global": ["0", hex((n + 1) * (1 << 30) - 1)],
                   "granule": "2M", "window_granule": "1G"},
        "switches": sw, "workloads": wl, "steps": steps})


def script(n):
    # a workload per partition; every workload ends, and a switch is
    # drained on the way: both once scanned every partition of the fabric
    lines = ["fabric f 0 0xffffffffffff 2M",
             "switch f sw-a bw=1000000 table=1000000",
             "switch f sw-b bw=1000000 table=1000000",
             "window f sw-a 0 0x7fffffffff",
             "window f sw-b 0x8000000000 0xffffffffff"]
    for i in range(n):
        lines += [f"workload f w{i}", f"partition f p{i} w{i} 2M"]
    lines += [f"end-workload f w{i}" for i in range(0, n, 2)]
    lines += [f"release-partition f p{i}" for i in range(1, n, 2)]
    lines += ["drain f sw-a"]
    return "\n".join(lines) + "\n"


def timed(args, path, text):
    with open(path, "w") as f:
        f.write(text)
    t0 = time.monotonic()
    p = subprocess.run([asmctl, *args, path], capture_output=True, text=True)
    t = time.monotonic() - t0
    if p.returncode != 0:
        print(f"asmctl {' '.join(args)} {path}: exit {p.returncode}: "
              f"{p.stderr[:500]}")
        sys.exit(1)
    return t


failed = False
with tempfile.TemporaryDirectory() as tmp:
    for what, args, make, n in [
        ("run, switches", ["run", "--json"], scenario, small),
        ("script, partitions", ["script"], script, small // 4),
    ]:
        path = os.path.join(tmp, "in")
        t1 = timed(args, path, make(n))
        t8 = timed(args, path, make(8 * n))
        ratio = t8 / max(t1, 1e-3)
        print(f"{what}: {n}: {t1:.2f} s, {8 * n}: {t8:.2f} s, "
              f"x{ratio:.1f} for x8")
        # below 0.2 s start-up dominates and the ratio says nothing
        if t8 > 0.2 and ratio > 12:
            print(f"FAIL: {what} grows faster than linearly")
            failed = True
sys.exit(1 if failed else 0)
