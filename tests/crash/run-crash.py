#!/usr/bin/env python3
"""run-crash.py: SIGKILL a fabric at random moments, recover, compare.

Usage: run-crash.py CRASH_CHILD [KILLS] [SEED]

crash-child (crash-child.c) keeps a fabric whose journal, checkpoint and
simulated hardware (a persistent sim) live in a temporary directory.  This
script:

  1. asks crash-child for the reference states: the hash of the fabric
     after each of the first N operations, on a fabric with no backend;
  2. initialises the directory, then KILLS times: starts `crash-child run`
     from the next operation, lets it work for a random 0-250 ms, kills it
     with SIGKILL, and runs `crash-child recover`, which restores the
     checkpoint, recovers with the journal, checks the model and compares
     the surviving hardware with it (asm_sim_verify), and prints the hash;
  3. checks each recovered state: if c operations were reported done
     before the kill, the state must be the reference after c operations,
     or after c + 1 when operation c had begun (it may have committed just
     before the kill).  Anything else is a committed operation lost (a
     state before c) or one applied twice (a state the sequence never
     reaches).  The next run starts after the state recovered.

It prints the figures (kills, kills inside an operation, recovered, lost,
duplicated) and exits non-zero on the first problem.
"""

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def main():
    child = sys.argv[1]
    kills = int(sys.argv[2]) if len(sys.argv) > 2 else 120
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 4011
    rng = random.Random(seed)
    n_ref = 40 * kills + 200

    out = subprocess.run([child, "reference", str(n_ref)], check=True,
                         capture_output=True, text=True).stdout
    ref = []
    for line in out.splitlines():
        _, k, h = line.split()
        assert int(k) == len(ref)
        ref.append(h)
    where = {}
    for k, h in enumerate(ref):
        where.setdefault(h, []).append(k)

    tmp = tempfile.mkdtemp(prefix="asm-crash-")
    stats = dict(kills=0, inside=0, recovered=0, lost=0, duplicated=0,
                 committed_inflight=0, ops=0)
    try:
        subprocess.run([child, "init", tmp], check=True)
        done = 0
        while stats["kills"] < kills:
            if done + 40 >= n_ref:
                print(f"run-crash: past the {n_ref} reference states; "
                      "stopping early")
                break
            proc = subprocess.Popen([child, "run", tmp, str(done),
                                     str(n_ref)],
                                    stdout=subprocess.PIPE, text=True)
            time.sleep(rng.uniform(0.0, 0.25))
            proc.send_signal(signal.SIGKILL)
            lines = proc.communicate()[0].splitlines()
            stats["kills"] += 1
            last_done, began = done - 1, None
            for line in lines:
                word, k = line.split()
                if word == "begin":
                    began = int(k)
                elif word == "done":
                    last_done = int(k)
                    began = None
            c = last_done + 1
            inside = began is not None and began == c
            stats["inside"] += inside
            rec = subprocess.run([child, "recover", tmp],
                                 capture_output=True, text=True)
            if rec.returncode != 0:
                print(f"run-crash: recovery after kill {stats['kills']} "
                      f"failed: {rec.stderr.strip()}")
                return 1
            stats["recovered"] += 1
            h = rec.stdout.split()[1]
            allowed = [c, c + 1] if inside else [c]
            if ref[c] == h:
                nxt = c
            elif inside and ref[c + 1] == h:
                nxt = c + 1
                stats["committed_inflight"] += 1
            else:
                seen = where.get(h, [])
                if any(k < c for k in seen):
                    stats["lost"] += 1
                    why = "a committed operation was lost"
                else:
                    stats["duplicated"] += 1
                    why = "an operation was applied twice (or wrongly)"
                print(f"run-crash: kill {stats['kills']}: {c} operations "
                      f"done, {'one' if inside else 'none'} in flight: the "
                      f"recovered state is none of {allowed} "
                      f"(matches {seen[:5]}): {why}")
                return 1
            stats["ops"] += nxt - done
            done = nxt
        print("run-crash: {kills} kills ({inside} inside an operation, "
              "{committed_inflight} of those had committed), {recovered} "
              "recovered with the hardware equal to the model, {ops} "
              "operations, lost {lost}, duplicated {duplicated}"
              .format(**stats))
        return 0
    finally:
        if os.environ.get("ASM_CRASH_KEEP") is None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept", tmp)


if __name__ == "__main__":
    sys.exit(main())
