#!/usr/bin/env python3
"""check-qemu-exit.py ASMCTL SCENARIO: asmctl --backend qemu ends clean.

- a directory $TMPDIR/asm-qemu-XXXXXX/ left by a killed run (its
  owner.pid names a process that is gone) is removed by the next run; one
  whose owner is alive is kept;
- a QEMU stopped with SIGSTOP is reported as unresponsive, with the time
  waited ("QEMU does not answer after N ms"), not with a hotplug hint;
- asmctl killed by SIGTERM or SIGINT while it waits for QEMU exits with
  128 + the signal and leaves no temporary directory behind.

Each run has a TMPDIR of its own.
"""
import glob
import os
import signal
import subprocess
import sys
import tempfile
import time

asmctl, scenario = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def children(pid):
    kids = []
    for task in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            kids += [int(k) for k in open(task).read().split()]
        except OSError:
            pass
    return kids


def start(tmp):
    env = dict(os.environ, TMPDIR=tmp)
    return subprocess.Popen([asmctl, "run", "--backend", "qemu", scenario],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def wait_for_qemu(p, tmp):
    """QEMU's pid once its QMP socket is there, or None"""
    end = time.monotonic() + 30
    while time.monotonic() < end and p.poll() is None:
        if glob.glob(os.path.join(tmp, "asm-qemu-*", "qmp.sock")):
            kids = children(p.pid)
            if kids:
                return kids[0]
        time.sleep(0.01)
    return None


# a stale directory (its owner is gone) and a live one (its owner is us)
with tempfile.TemporaryDirectory() as tmp:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = os.path.join(tmp, "asm-qemu-STALE1")
    live = os.path.join(tmp, "asm-qemu-LIVE01")
    for d, pid in ((stale, dead.pid), (live, os.getpid())):
        os.mkdir(d, 0o700)
        open(os.path.join(d, "owner.pid"), "w").write(f"{pid}\n")
        open(os.path.join(d, "qemu.log"), "w").write("old\n")
    p = start(tmp)
    out, err = p.communicate(timeout=120)
    check(p.returncode == 0, f"the scenario runs: exit {p.returncode} "
          f"{err[-300:]}")
    check(not os.path.exists(stale),
          "a directory whose owner is gone is removed at the next start")
    check(os.path.exists(os.path.join(live, "owner.pid")),
          "a directory whose owner is alive is kept")
    check(glob.glob(os.path.join(tmp, "asm-qemu-*")) == [live],
          "the run leaves no directory of its own")

# a stopped QEMU: unresponsive, with the time waited (stopped as soon as
# its QMP socket is there, and 0.2 s later, in the middle of the run)
for delay in (0, 0.2):
  with tempfile.TemporaryDirectory() as tmp:
    p = start(tmp)
    qemu = wait_for_qemu(p, tmp)
    check(qemu is not None, "QEMU starts")
    if qemu is not None:
        time.sleep(delay)
        try:
            os.kill(qemu, signal.SIGSTOP)
        except ProcessLookupError:
            p.communicate(timeout=60)
            print(f"skip: the run ended within {delay} s")
            continue
        try:
            out, err = p.communicate(timeout=120)
        finally:
            try:
                os.kill(qemu, signal.SIGCONT)
            except ProcessLookupError:
                pass
        check(p.returncode == 1 and "QEMU does not answer after " in err and
              "hotplug" not in err,
              f"QEMU stopped after {delay} s is unresponsive: exit "
              f"{p.returncode}, "
              f"{err.strip()[-300:]}")
        check(glob.glob(os.path.join(tmp, "asm-qemu-*")) == [],
              "no directory left after the failure")

# killed while it waits for a stopped QEMU
for sig in (signal.SIGTERM, signal.SIGINT):
    with tempfile.TemporaryDirectory() as tmp:
        p = start(tmp)
        qemu = wait_for_qemu(p, tmp)
        if qemu is None:
            check(False, f"{sig.name}: QEMU starts")
            continue
        os.kill(qemu, signal.SIGSTOP)
        time.sleep(0.3)
        p.send_signal(sig)
        out, err = p.communicate(timeout=60)
        check(p.returncode == 128 + sig.value,
              f"{sig.name}: exit {p.returncode} (want {128 + sig.value})")
        check(glob.glob(os.path.join(tmp, "asm-qemu-*")) == [],
              f"{sig.name}: the temporary directory is removed")
        time.sleep(0.5)
        try:
            os.kill(qemu, 0)
            gone = open(f"/proc/{qemu}/stat").read().split()[2] == "Z"
        except (ProcessLookupError, FileNotFoundError):
            gone = True
        check(gone, f"{sig.name}: QEMU is gone too")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
