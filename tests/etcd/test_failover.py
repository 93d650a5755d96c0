# test_failover.py: asmd members over a real 3-member etcd cluster
#
# Run by taprunner.py under dbus-run-session (tests/etcd/meson.build) with
# ASMD, ASMD_TEST_DATA and ETCD_CLUSTER (etcd-cluster.sh) set.  The cluster
# runs on 127.0.0.1 in a temporary directory; three asmd members of one
# fabric share the simulator's register file as they would share switch
# hardware, each on its own bus name (org.asm.Fabric1.mN), the leader also
# on org.asm.Fabric1.
#
#   - kills: a client migrates a partition and transfers a VF back and
#     forth through the leader while the leader is killed with SIGKILL at
#     random moments, 20 times; each time another member must take over
#     within the lease, and no operation the client saw succeed may be
#     lost or applied twice; the model and the hardware must agree;
#   - quorum: with one etcd member stopped the fabric goes on; with two,
#     a change is refused with a clear error and nothing half-applied
#     remains; with the members back, service resumes;
#   - a paused leader (SIGSTOP past its lease, as a GC pause): another
#     member leads; when the old one wakes, its write is refused (fenced,
#     or as a follower) and it follows.
#
# The figures (kills, takeovers, takeover time, lost, duplicated, fenced)
# are printed as TAP comments.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import unittest

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

ASMD = os.environ["ASMD"]
CLUSTER = os.environ["ETCD_CLUSTER"]
FABRIC = os.path.join(os.environ["ASMD_TEST_DATA"], "..", "dbus",
                      "fabric.json")
LEADER = "org.asm.Fabric1"
PATH = "/org/asm/Fabric1"
IFACE = "org.asm.Fabric1"
MIB = 1 << 20
TTL = 1             # seconds: a dead leader is replaced within about this
KILLS = int(os.environ.get("ASMD_ETCD_KILLS", "20"))
BASE_PORT = 23790


def connection():
    address = Gio.dbus_address_get_for_bus_sync(Gio.BusType.SESSION, None)
    return Gio.DBusConnection.new_for_address_sync(
        address,
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
        | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)


def call(bus, method, sig=None, *args, dest=LEADER, timeout=10000):
    params = GLib.Variant(sig, args) if sig else None
    return bus.call_sync(dest, PATH, IFACE, method, params, None,
                         Gio.DBusCallFlags.NONE, timeout, None).unpack()


def prop(bus, name, dest=LEADER):
    return bus.call_sync(dest, PATH, "org.freedesktop.DBus.Properties", "Get",
                         GLib.Variant("(ss)", (IFACE, name)), None,
                         Gio.DBusCallFlags.NONE, 5000, None).unpack()[0]


def remote_error(e):
    return Gio.DBusError.get_remote_error(e) or ""


class Member:
    def __init__(self, test, n, first=False):
        self.n = n
        self.name = f"m{n}"
        self.bus_name = f"{LEADER}.m{n}"
        self.test = test
        self.log = open(os.path.join(test.dir, f"asmd-m{n}.log"), "a")
        self.start(first)

    def start(self, first=False):
        args = [ASMD, "--session", "--etcd", self.test.endpoints,
                "--fabric-name", "lab", "--member-id", self.name,
                "--bus-name", self.bus_name, "--leader-bus-name", LEADER,
                "--lease-ttl", str(TTL), "--sim-file", self.test.sim,
                "--checkpoint-every", "16"]
        if first:
            args += ["--fabric", FABRIC]
        self.proc = subprocess.Popen(args, stderr=self.log)

    def alive(self):
        return self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            self.proc.wait()


class FailoverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("etcd") is None:
            raise unittest.SkipTest(
                "SKIPPED LOUDLY: etcd is not installed (Debian: etcd-server, "
                "etcd-client); .ci/install-deps installs them")
        cls.cluster_dir = tempfile.mkdtemp(prefix="asm-etcd-")
        r = subprocess.run(["bash", CLUSTER, "start", cls.cluster_dir,
                            str(BASE_PORT)], capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise RuntimeError("etcd cluster: " + r.stderr)
        cls.endpoints_all = r.stdout.strip()

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["bash", CLUSTER, "stop", cls.cluster_dir])
        shutil.rmtree(cls.cluster_dir, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="asm-failover-")
        self.sim = os.path.join(self.dir, "sim")
        self.endpoints = self.endpoints_all
        subprocess.run(["etcdctl", "--endpoints", self.endpoints, "del",
                        "--prefix", "/asm/"], capture_output=True,
                       env=dict(os.environ, ETCDCTL_API="3"), check=True)
        self.bus = connection()
        self.members = [Member(self, 1, first=True)]
        self.wait_leader()
        self.members += [Member(self, 2), Member(self, 3)]
        for m in self.members:
            self.wait_role(m, ("leader", "follower"))

    def tearDown(self):
        problems = []
        for m in self.members:
            if m.alive():
                m.kill(signal.SIGCONT)
                m.kill(signal.SIGTERM)
                if m.proc.returncode != 0:
                    problems.append(f"member {m.name} exited with "
                                    f"{m.proc.returncode} on SIGTERM")
            m.log.close()
        # a sanitizer build's findings land in the members' logs
        for m in self.members:
            with open(os.path.join(self.dir, f"asmd-m{m.n}.log")) as f:
                text = f.read()
            for bad in ("AddressSanitizer", "runtime error:",
                        "LeakSanitizer", "CRITICAL", "asmd bug"):
                if bad in text:
                    problems.append(f"member {m.name}'s log: "
                                    + text[text.index(bad) - 200:][:2000])
        shutil.rmtree(self.dir, ignore_errors=True)
        # a test that stopped etcd members leaves them running again
        for n in ("1", "2", "3"):
            if not os.path.exists(os.path.join(self.cluster_dir,
                                               f"m{n}.pid")):
                subprocess.run(["bash", CLUSTER, "resume", self.cluster_dir,
                                n], capture_output=True)
        self.assertEqual(problems, [])

    def wait_leader(self, not_member=None, timeout=20):
        """The member id of the leader once one serves org.asm.Fabric1."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                who = prop(self.bus, "Member")
                if who and who != not_member and \
                        prop(self.bus, "Role") == "leader":
                    call(self.bus, "CanWrite")
                    return who
            except GLib.Error:
                pass
            time.sleep(0.02)
        self.fail("no member took over within %d s" % timeout)

    def wait_role(self, m, roles, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if prop(self.bus, "Role", dest=m.bus_name) in roles:
                    return
            except GLib.Error:
                pass
            time.sleep(0.05)
        self.fail(f"member {m.name} is not {roles} after {timeout} s")

    def member(self, name):
        return next(m for m in self.members if m.name == name)

    def setup_fabric(self):
        vm1 = call(self.bus, "Resolve", "(ss)", "workload", "vm1")[0]
        vm2 = call(self.bus, "Resolve", "(ss)", "workload", "vm2")[0]
        nic0 = call(self.bus, "Resolve", "(ss)", "device", "nic0")[0]
        nic1 = call(self.bus, "Resolve", "(ss)", "device", "nic1")[0]
        switches = [call(self.bus, "Resolve", "(ss)", "switch", s)[0]
                    for s in ("sw-a", "sw-b")]
        p1, _ = call(self.bus, "RequestPartition", "(tta{sv})", vm1, 64 * MIB,
                     {})
        p2, _ = call(self.bus, "RequestPartition", "(tta{sv})", vm2, 64 * MIB,
                     {"preferred_switch": GLib.Variant("t", switches[0])})
        (vf,) = call(self.bus, "CreateVf", "(t)", nic0)
        call(self.bus, "MapDevice", "(tt)", p2, vf)
        return dict(p1=p1, p2=p2, vf=vf, pfs=[nic0, nic1], switches=switches)

    def observed(self, f):
        """(p1's switch, {vf: pf}) as the leader has them"""
        sw = call(self.bus, "GetPartition", "(t)", f["p1"])[0]["switch"]
        vfs = {}
        for dev in call(self.bus, "List", "(s)", "devices")[0]:
            info = call(self.bus, "GetDevice", "(t)", dev)[0]
            if info["kind"] == "vf":
                vfs[dev] = info["pf"]
        return sw, vfs

    def test_leader_killed_twenty_times(self):
        f = self.setup_fabric()
        # the client's view: what succeeded, and the one call whose reply a
        # kill may have cut off (it may or may not have committed)
        state = {"sw": None, "vf": f["vf"], "pf": f["pfs"][0],
                 "uncertain": None, "ok": 0}
        state["sw"] = self.observed(f)[0]
        stop = threading.Event()
        lock = threading.Lock()

        def client():
            bus = connection()
            i = 0
            while not stop.is_set():
                i += 1
                with lock:
                    if i % 2:
                        target = f["switches"][0] if state["sw"] != \
                            f["switches"][0] else f["switches"][1]
                        op = ("sw", target)
                    else:
                        target = f["pfs"][1] if state["pf"] == f["pfs"][0] \
                            else f["pfs"][0]
                        op = ("pf", target)
                    vf = state["vf"]
                try:
                    if op[0] == "sw":
                        call(bus, "MigratePartition", "(tt)", f["p1"], op[1],
                             timeout=5000)
                        with lock:
                            state["sw"] = op[1]
                    else:
                        (new_vf,) = call(bus, "TransferVf", "(tt)", vf, op[1],
                                         timeout=5000)
                        with lock:
                            state["vf"], state["pf"] = new_vf, op[1]
                    with lock:
                        state["ok"] += 1
                except GLib.Error as e:
                    name = remote_error(e)
                    if name.startswith("org.asm.Fabric1.Error.") and \
                            name not in ("org.asm.Fabric1.Error.NotLeader",
                                         "org.asm.Fabric1.Error.Fenced",
                                         "org.asm.Fabric1.Error.Failed"):
                        # a refusal by the fabric's rules: a bug here
                        with lock:
                            state["bad"] = f"{op}: {e.message}"
                        return
                    # the leader died under the call, or none leads yet:
                    # the call may have committed; the check resolves it
                    with lock:
                        state["uncertain"] = op
                    stop.wait(0.05)
                    return

        takeovers, lost, duplicated = [], 0, 0
        rng = random.Random(int(os.environ.get("ASMD_ETCD_SEED", "1206")))
        for k in range(KILLS):
            state["uncertain"] = None
            stop.clear()
            worker = threading.Thread(target=client)
            worker.start()
            time.sleep(rng.uniform(0.1, 0.6))
            leader = prop(self.bus, "Member")
            victim = self.member(leader)
            victim.kill(signal.SIGKILL)
            t0 = time.monotonic()
            new = self.wait_leader(not_member=leader)
            takeovers.append(time.monotonic() - t0)
            stop.set()
            worker.join()
            self.assertNotIn("bad", state, state.get("bad"))
            # what the client saw is there, once
            sw, vfs = self.observed(f)
            want_sw, want_vfs = state["sw"], {state["vf"]: state["pf"]}
            u = state["uncertain"]
            if sw != want_sw and not (u and u[0] == "sw" and sw == u[1]):
                lost += 1
            if u and u[0] == "sw" and sw == u[1]:
                state["sw"] = sw
            if vfs != want_vfs:
                if u and u[0] == "pf" and len(vfs) == 1 and \
                        list(vfs.values())[0] == u[1]:
                    state["vf"], state["pf"] = list(vfs.items())[0]
                elif len(vfs) > 1:
                    duplicated += 1
                else:
                    lost += 1
            call(self.bus, "Check")   # model, and hardware equal to it
            victim.start()
            self.wait_role(victim, ("follower", "leader"))
        median = statistics.median(takeovers)
        print(f"# kills {KILLS}, takeovers {len(takeovers)}, takeover time "
              f"median {median:.2f} s max {max(takeovers):.2f} s (lease "
              f"{TTL} s), operations committed {state['ok']}, lost {lost}, "
              f"duplicated {duplicated}")
        self.assertEqual((lost, duplicated), (0, 0))
        self.assertEqual(len(takeovers), KILLS)
        self.assertGreater(state["ok"], KILLS)

    def test_quorum(self):
        f = self.setup_fabric()
        subprocess.run(["bash", CLUSTER, "stop", self.cluster_dir, "3"],
                       check=True)
        # two of three: the fabric goes on
        sw_b = f["switches"][1]
        call(self.bus, "MigratePartition", "(tt)", f["p1"], sw_b)
        call(self.bus, "Check")
        before = self.observed(f)
        subprocess.run(["bash", CLUSTER, "stop", self.cluster_dir, "2"],
                       check=True)
        # one of three: a change is refused, clearly
        t0 = time.monotonic()
        with self.assertRaises(GLib.Error) as cm:
            call(self.bus, "MigratePartition", "(tt)", f["p1"],
                 f["switches"][0], timeout=30000)
        refused_in = time.monotonic() - t0
        # refused by etcd (no quorum for the journal's record), or, once the
        # leader could not renew its lease, because no member leads
        self.assertTrue("etcd" in cm.exception.message or
                        "no member leads" in cm.exception.message,
                        cm.exception.message)
        print(f"# without quorum a change was refused in {refused_in:.1f} s: "
              f"{cm.exception.message[:160]}")
        for n in ("2", "3"):
            subprocess.run(["bash", CLUSTER, "resume", self.cluster_dir, n],
                           check=True)
        # quorum back: a leader serves, nothing half-applied
        self.wait_leader(timeout=30)
        deadline = time.monotonic() + 30
        while True:
            try:
                call(self.bus, "Check")
                break
            except GLib.Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.assertEqual(self.observed(f), before)
        call(self.bus, "MigratePartition", "(tt)", f["p1"], f["switches"][0])
        call(self.bus, "Check")

    def test_deposed_leader_write_is_fenced(self):
        # the leader key deleted under a live leader (its lease still
        # renews): only its next write can tell it, and etcd refuses it
        f = self.setup_fabric()
        old = prop(self.bus, "Member")
        m = self.member(old)
        before = self.observed(f)
        subprocess.run(["etcdctl", "--endpoints", self.endpoints, "del",
                        "/asm/lab/leader"], capture_output=True, check=True,
                       env=dict(os.environ, ETCDCTL_API="3"))
        with self.assertRaises(GLib.Error) as cm:
            call(self.bus, "MigratePartition", "(tt)", f["p1"],
                 f["switches"][1], dest=m.bus_name)
        self.assertEqual(remote_error(cm.exception),
                         "org.asm.Fabric1.Error.Fenced", cm.exception.message)
        print(f"# the deposed leader's write: {cm.exception.message[:200]}")
        self.wait_role(m, ("follower", "leader"))
        self.wait_leader()
        self.assertEqual(self.observed(f), before)
        call(self.bus, "Check")

    def test_paused_leader_is_fenced(self):
        f = self.setup_fabric()
        old = prop(self.bus, "Member")
        m = self.member(old)
        m.kill(signal.SIGSTOP)
        new = self.wait_leader(not_member=old)
        self.assertNotEqual(new, old)
        call(self.bus, "MigratePartition", "(tt)", f["p1"], f["switches"][1])
        before = self.observed(f)
        # a write sent to the old leader while it sleeps, answered when it
        # wakes: never applied
        result = {}

        def on_reply(bus, res, data):
            try:
                bus.call_finish(res)
                result["ok"] = True
            except GLib.Error as e:
                result["error"] = remote_error(e) + ": " + e.message

        ctx = GLib.MainContext.new()
        ctx.push_thread_default()
        try:
            self.bus.call(m.bus_name, PATH, IFACE, "MigratePartition",
                          GLib.Variant("(tt)", (f["p1"], f["switches"][0])),
                          None, Gio.DBusCallFlags.NONE, 20000, None, on_reply,
                          None)
            time.sleep(0.2)
            m.kill(signal.SIGCONT)
            deadline = time.monotonic() + 20
            while not result and time.monotonic() < deadline:
                ctx.iteration(False) or time.sleep(0.01)
        finally:
            ctx.pop_thread_default()
        self.assertNotIn("ok", result)
        self.assertTrue(
            "Fenced" in result.get("error", "") or
            "NotLeader" in result.get("error", ""), result)
        print(f"# the woken leader's write: {result['error'][:160]}")
        self.wait_role(m, ("follower",))
        self.assertEqual(prop(self.bus, "Member"), new)
        self.assertEqual(self.observed(f), before)
        call(self.bus, "Check")


if __name__ == "__main__":
    unittest.main()
