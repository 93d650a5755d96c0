#!/usr/bin/env python3
"""run-crash.py: SIGKILL a fabric at random moments, recover, compare.

Usage: run-crash.py CRASH_CHILD [KILLS] [SEED] [--tiny-journal]

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

With --tiny-journal the journal lives on a 24 KiB tmpfs (mounted here;
this needs root, as CI has): it fills up over and over, every operation
it cannot take fails cleanly and changes nothing, the child compacts the
journal with a checkpoint and goes on, and the kills and checks are the
same.

It prints the figures (kills, kills inside an operation, recovered, lost,
duplicated, full journals) and exits non-zero on the first problem.
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
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    tiny = "--tiny-journal" in sys.argv
    child = args[0]
    kills = int(args[1]) if len(args) > 1 else 120
    seed = int(args[2]) if len(args) > 2 else 4011
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
                 committed_inflight=0, ops=0, full=0)
    mnt = None
    env = dict(os.environ)
    try:
        if tiny:
            if os.geteuid() != 0:
                print("run-crash: SKIPPED: --tiny-journal mounts a tmpfs and "
                      "needs root")
                return 77
            mnt = os.path.join(tmp, "tiny")
            os.mkdir(mnt)
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24k",
                            "tmpfs", mnt], check=True)
            os.symlink(os.path.join(mnt, "journal"),
                       os.path.join(tmp, "journal"))
            env["ASM_CRASH_FULL"] = "1"
        subprocess.run([child, "init", tmp], check=True)
        done = 0
        while stats["kills"] < kills:
            if done + 40 >= n_ref:
                print(f"run-crash: past the {n_ref} reference states; "
                      "stopping early")
                break
            proc = subprocess.Popen([child, "run", tmp, str(done),
                                     str(n_ref)],
                                    stdout=subprocess.PIPE, text=True,
                                    env=env)
            time.sleep(rng.uniform(0.0, 0.25))
            proc.send_signal(signal.SIGKILL)
            lines = proc.communicate()[0].splitlines()
            stats["kills"] += 1
            last_done, began = done - 1, None
            for line in lines:
                word, k = line.split()
                if word == "full":
                    stats["full"] += 1
                elif word == "begin":
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
              "operations, lost {lost}, duplicated {duplicated}, "
              "operations refused by a full journal {full}"
              .format(**stats))
        if tiny and stats["full"] == 0:
            print("run-crash: the tiny journal never filled up")
            return 1
        return 0
    finally:
        if mnt is not None:
            subprocess.run(["umount", mnt], check=False)
        if os.environ.get("ASM_CRASH_KEEP") is None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept", tmp)


if __name__ == "__main__":
    sys.exit(main())
