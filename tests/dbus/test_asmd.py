# test_asmd.py: asmd, the fabric as a D-Bus service, on a private bus
#
# Run by taprunner.py under dbus-run-session (tests/dbus/meson.build), with
# ASMD (the daemon), ASMD_TEST_DATA (this directory) in the environment.
# Every test starts its own daemon on a fresh state directory and talks to
# it with Gio, as any D-Bus client would: every method of the interface,
# the error names, the signals, a daemon killed with SIGKILL and started
# again, two clients at once, and a caller without the right to write.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import xml.etree.ElementTree as ET

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

ASMD = os.environ["ASMD"]
DATA = os.environ["ASMD_TEST_DATA"]
FABRIC = os.path.join(DATA, "fabric.json")
XML = os.path.join(DATA, "..", "..", "examples", "asmd", "org.asm.Fabric1.xml")
NAME = "org.asm.Fabric1"
PATH = "/org/asm/Fabric1"
IFACE = "org.asm.Fabric1"
MIB = 1 << 20
GIB = 1 << 30


def new_connection():
    """A connection of its own to the private bus (not the shared one)."""
    address = Gio.dbus_address_get_for_bus_sync(Gio.BusType.SESSION, None)
    return Gio.DBusConnection.new_for_address_sync(
        address,
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
        | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)


class Client:
    """Calls org.asm.Fabric1 on one connection."""

    def __init__(self, bus=None):
        self.bus = bus or new_connection()

    def call(self, method, sig=None, *args):
        params = GLib.Variant(sig, args) if sig else None
        reply = self.bus.call_sync(NAME, PATH, IFACE, method, params, None,
                                   Gio.DBusCallFlags.NONE, 30000, None)
        return reply.unpack()

    def prop(self, name):
        reply = self.bus.call_sync(
            NAME, PATH, "org.freedesktop.DBus.Properties", "Get",
            GLib.Variant("(ss)", (IFACE, name)), None,
            Gio.DBusCallFlags.NONE, 30000, None)
        return reply.unpack()[0]

    def resolve(self, kind, name):
        return self.call("Resolve", "(ss)", kind, name)[0]

    def state(self):
        """The saved state without its journal position, which a
        checkpoint moves without changing the fabric."""
        saved = json.loads(self.call("Save")[0])
        saved.pop("journal_seq")
        return saved

    def error_of(self, method, sig=None, *args):
        """The D-Bus error name and message of a call that must fail."""
        try:
            self.call(method, sig, *args)
        except GLib.Error as e:
            return Gio.DBusError.get_remote_error(e), e.message
        raise AssertionError(f"{method}{args} succeeded")


def name_has_owner(bus):
    reply = bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "NameHasOwner",
                          GLib.Variant("(s)", (NAME,)), None,
                          Gio.DBusCallFlags.NONE, 5000, None)
    return reply.unpack()[0]


class Daemon:
    """One asmd on the private bus, on @state_dir."""

    def __init__(self, state_dir, *extra, fabric=FABRIC):
        args = [ASMD, "--session", "--state-dir", state_dir]
        if fabric:
            args += ["--fabric", fabric]
        self.proc = subprocess.Popen(args + list(extra),
                                     stderr=subprocess.PIPE, text=True)
        bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
        deadline = time.monotonic() + 20
        while not name_has_owner(bus):
            if self.proc.poll() is not None:
                raise AssertionError("asmd exited: " + self.proc.stderr.read())
            if time.monotonic() > deadline:
                raise AssertionError("asmd did not take its name")
            time.sleep(0.02)

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stderr.close()
        wait_name_gone()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        status = self.proc.wait(timeout=30)
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        wait_name_gone()
        return status, err


def wait_name_gone():
    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    deadline = time.monotonic() + 10
    while name_has_owner(bus):
        if time.monotonic() > deadline:
            raise AssertionError("the name stayed owned")
        time.sleep(0.02)


def run_asmd(*args, timeout=30):
    return subprocess.run([ASMD, *args], capture_output=True, text=True,
                          timeout=timeout)


class AsmdTestCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="asmd-test-")
        self.state = os.path.join(self.dir, "state")
        self.daemon = None

    def tearDown(self):
        if self.daemon is not None and self.daemon.proc.poll() is None:
            self.daemon.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, *extra, fabric=FABRIC):
        self.daemon = Daemon(self.state, *extra, fabric=fabric)
        return Client()


class InterfaceTest(AsmdTestCase):
    def test_introspection_matches_the_xml_in_the_tree(self):
        c = self.start()
        text = c.bus.call_sync(
            NAME, PATH, "org.freedesktop.DBus.Introspectable", "Introspect",
            None, None, Gio.DBusCallFlags.NONE, 5000, None).unpack()[0]
        live = Gio.DBusNodeInfo.new_for_xml(text).lookup_interface(IFACE)
        tree = ET.parse(XML).getroot().find(f"interface[@name='{IFACE}']")
        want_methods = {m.get("name"): [(a.get("direction"), a.get("type"))
                                        for a in m.findall("arg")]
                        for m in tree.findall("method")}
        got_methods = {m.name: [("in", a.signature) for a in m.in_args] +
                       [("out", a.signature) for a in m.out_args]
                       for m in live.methods}
        self.assertEqual(got_methods, want_methods)
        self.assertEqual({s.name for s in live.signals},
                         {s.get("name") for s in tree.findall("signal")})
        self.assertEqual({p.name for p in live.properties},
                         {p.get("name") for p in tree.findall("property")})
        for op in ("AddWorkload", "RequestPartition", "MapDevice",
                   "MigratePartition", "GrowPartition", "ReleasePartition",
                   "TransferVf", "Translate", "Rebalance", "UnmapDevice",
                   "DrainSwitch", "RemoveSwitch", "RemoveWorkload",
                   "MigrateWorkload"):
            self.assertIn(op, got_methods)

    def test_properties(self):
        c = self.start()
        self.assertEqual(c.prop("Name"), "lab")
        self.assertEqual(c.prop("Granule"), 2 * MIB)
        self.assertEqual(c.prop("Backend"), "sim")
        self.assertEqual(c.prop("Operations"), 0)
        vm1 = c.resolve("workload", "vm1")
        c.call("RequestPartition", "(tta{sv})", vm1, 64 * MIB, {})
        self.assertEqual(c.prop("Operations"), 1)

    def test_every_method(self):
        c = self.start()
        sw_a = c.resolve("switch", "sw-a")
        sw_b = c.resolve("switch", "sw-b")
        nic0 = c.resolve("device", "nic0")
        nic1 = c.resolve("device", "nic1")
        gpu0 = c.resolve("device", "gpu0")
        vm1 = c.resolve("workload", "vm1")
        self.assertEqual(sorted(c.call("List", "(s)", "switches")[0]),
                         sorted([sw_a, sw_b, c.resolve("switch", "sw-c")]))

        # grow the fabric: a switch, a pinned one with a window, devices
        (sw_d,) = c.call("AddSwitch", "(sta{sv})", "sw-d", 8000,
                         {"latency_ns": GLib.Variant("u", 150),
                          "ports": GLib.Variant("u", 4)})
        info = c.call("GetSwitch", "(t)", sw_d)[0]
        self.assertEqual((info["name"], info["bandwidth"], info["ports"],
                          info["latency_ns"], info["pinned"]),
                         ("sw-d", 8000, 4, 150, False))
        (sw_e,) = c.call("AddSwitch", "(sta{sv})", "sw-e", 8000,
                         {"pinned": GLib.Variant("b", True)})
        c.call("AddWindow", "(ttt)", sw_e, 0x18000000000, 0x1803fffffff)
        self.assertEqual(c.call("GetSwitch", "(t)", sw_e)[0]["window_bytes"],
                         GIB)
        (nic2,) = c.call("AddDevice", "(ssttu)", "nic2", "pf", MIB, sw_d, 0)
        c.call("SetSriov", "(tut)", nic2, 4, 64 * 1024)
        dev = c.call("GetDevice", "(t)", nic2)[0]
        self.assertEqual((dev["name"], dev["kind"], dev["switch"],
                          dev["max_vfs"], dev["vf_bar_size"]),
                         ("nic2", "pf", sw_d, 4, 64 * 1024))

        # a workload, a partition, devices mapped into it
        (vm3,) = c.call("AddWorkload", "(s)", "vm3")
        self.assertEqual(c.resolve("workload", "vm3"), vm3)
        # a name two workloads share resolves to neither
        (twin,) = c.call("AddWorkload", "(s)", "vm3")
        name, message = c.error_of("Resolve", "(ss)", "workload", "vm3")
        self.assertEqual(name, "org.asm.Fabric1.Error.Invalid")
        self.assertIn(f"ids {vm3}, {twin}", message)
        c.call("RemoveWorkload", "(t)", twin)
        part, virt = c.call("RequestPartition", "(tta{sv})", vm1, 512 * MIB,
                            {"bandwidth_demand": GLib.Variant("t", 20000),
                             "preferred_switch": GLib.Variant("t", sw_a)})
        p = c.call("GetPartition", "(t)", part)[0]
        self.assertEqual((p["workload"], p["switch"], p["size"],
                          p["virt_first"], p["bandwidth_demand"]),
                         (vm1, sw_a, 512 * MIB, virt, 20000))
        self.assertIn(part, c.call("GetWorkload", "(t)", vm1)[0]["partitions"])
        (offset,) = c.call("MapDevice", "(tt)", part, gpu0)
        self.assertEqual(c.call("GetDevice", "(t)", gpu0)[0]["partition"],
                         part)
        t = c.call("Translate", "(tt)", vm1, virt + offset + 0x40)[0]
        self.assertEqual((t["switch"], t["partition"], t["device"],
                          t["device_offset"]), (sw_a, part, gpu0, 0x40))
        phys_a = t["physical"]

        # move it, grow it, shrink it: the virtual address stays
        c.call("MigratePartition", "(tt)", part, sw_b)
        t = c.call("Translate", "(tt)", vm1, virt + offset + 0x40)[0]
        self.assertEqual((t["switch"], t["device"]), (sw_b, gpu0))
        self.assertNotEqual(t["physical"], phys_a)
        c.call("GrowPartition", "(tt)", part, GIB)
        self.assertEqual(c.call("GetPartition", "(t)", part)[0]["size"], GIB)
        c.call("ShrinkPartition", "(tt)", part, 768 * MIB)
        self.assertEqual(c.call("GetPartition", "(t)", part)[0]["size"],
                         768 * MIB)

        # a VF moves to another PF and is reached at a new physical address
        p2, virt2 = c.call("RequestPartition", "(tta{sv})", vm1, 64 * MIB,
                           {"preferred_switch": GLib.Variant("t", sw_a)})
        (vf0,) = c.call("CreateVf", "(t)", nic0)
        self.assertEqual(c.call("GetDevice", "(t)", vf0)[0]["pf"], nic0)
        (vf_off,) = c.call("MapDevice", "(tt)", p2, vf0)
        before = c.call("Translate", "(tt)", vm1, virt2 + vf_off)[0]
        self.assertEqual(before["device"], vf0)
        (vf1,) = c.call("TransferVf", "(tt)", vf0, nic1)
        self.assertEqual(c.call("GetDevice", "(t)", vf1)[0]["pf"], nic1)
        t = c.call("Translate", "(tt)", vm1, virt2 + vf_off)[0]
        self.assertEqual(t["device"], vf1)
        self.assertNotEqual(t["physical"], before["physical"])
        c.call("UnmapDevice", "(tt)", p2, vf1)
        c.call("DestroyVf", "(t)", vf1)
        c.call("ReleasePartition", "(t)", p2)
        self.assertEqual(c.error_of("GetDevice", "(t)", vf1)[0],
                         "org.asm.Fabric1.Error.NotFound")

        # the profiler
        for when, used in ((0, 400), (1, 520), (2, 640), (3, 760)):
            c.call("RecordUsage", "(tdt)", vm1, float(when), used * MIB)
        (predicted,) = c.call("Predict", "(td)", vm1, 4.0)
        self.assertGreater(predicted, 760 * MIB)
        (report,) = c.call("Rebalance", "(d)", 4.0)
        self.assertEqual(set(report), {"examined", "grown", "migrated",
                                       "failed", "shrunk"})
        self.assertGreaterEqual(report["examined"], 1)

        # a second partition; a workload moves as a whole, then ends
        p3, _ = c.call("RequestPartition", "(tta{sv})", vm3, 64 * MIB,
                       {"align": GLib.Variant("t", 64 * MIB)})
        c.call("MigrateWorkload", "(tt)", vm3, sw_d)
        self.assertEqual(c.call("GetPartition", "(t)", p3)[0]["switch"], sw_d)
        c.call("RemoveWorkload", "(t)", vm3)
        self.assertNotIn(p3, c.call("List", "(s)", "partitions")[0])
        self.assertNotIn(vm3, c.call("List", "(s)", "workloads")[0])

        # release; then take a switch out of the fabric
        c.call("UnmapDevice", "(tt)", part, gpu0)
        c.call("ReleasePartition", "(t)", part)
        self.assertEqual(c.call("List", "(s)", "partitions")[0], [])
        c.call("RemoveDevice", "(t)", nic2)
        c.call("DrainSwitch", "(t)", sw_d)
        self.assertTrue(c.call("GetSwitch", "(t)", sw_d)[0]["draining"])
        c.call("RemoveSwitch", "(t)", sw_d)
        self.assertNotIn(sw_d, c.call("List", "(s)", "switches")[0])

        self.assertEqual(c.call("CanWrite"), (True,))
        c.call("Check")
        saved = json.loads(c.call("Save")[0])
        self.assertEqual(saved["format"], "asm-fabric")
        self.assertEqual(saved["name"], "lab")


class ErrorTest(AsmdTestCase):
    def test_refusals_carry_asm_codes_and_change_nothing(self):
        c = self.start()
        vm1 = c.resolve("workload", "vm1")
        part, _ = c.call("RequestPartition", "(tta{sv})", vm1, 64 * MIB, {})
        before = c.state()
        ops_before = c.prop("Operations")
        E = "org.asm.Fabric1.Error."
        cases = [
            (E + "NotFound", "MigratePartition", "(tt)", 999, 1),
            (E + "NotFound", "MigratePartition", "(tt)", 1 << 40, 1),
            (E + "NotFound", "Resolve", "(ss)", "switch", "nope"),
            (E + "Invalid", "Resolve", "(ss)", "partition", "x"),
            (E + "Invalid", "List", "(s)", "everything"),
            (E + "Invalid", "RequestPartition", "(tta{sv})", vm1, MIB,
             {"colour": GLib.Variant("s", "red")}),
            (E + "Invalid", "RequestPartition", "(tta{sv})", vm1, MIB,
             {"align": GLib.Variant("s", "2M")}),
            (E + "Invalid", "RequestPartition", "(tta{sv})", vm1, 1 << 44,
             {}),
            (E + "NoSpace", "RequestPartition", "(tta{sv})", vm1, MIB * 2,
             {"max_latency_ns": GLib.Variant("u", 100)}),
            (E + "Invalid", "AddDevice", "(ssttu)", "x", "gpu", MIB, 1, 0),
            (E + "NotFound", "GetPartition", "(t)", 12345),
            ("org.freedesktop.DBus.Error.InvalidArgs", "MigratePartition",
             "(s)", "p1"),
        ]
        for want, method, sig, *args in cases:
            name, message = c.error_of(method, sig, *args)
            self.assertEqual(name, want, f"{method}{tuple(args)}: {message}")
        # the message names the bad value
        name, message = c.error_of("RequestPartition", "(tta{sv})", vm1, MIB,
                                   {"colour": GLib.Variant("s", "red")})
        self.assertIn("'colour'", message)
        self.assertEqual(c.state(), before)
        self.assertEqual(c.prop("Operations"), ops_before)
        c.call("Check")

    def test_the_proxy_side_gets_asm_error_codes(self):
        # a client that registers the names gets GLib errors it can match
        c = self.start()
        try:
            c.call("GetSwitch", "(t)", 999)
        except GLib.Error as e:
            self.assertTrue(Gio.DBusError.is_remote_error(e))
            self.assertIn("switch 999 does not exist", e.message)
        else:
            self.fail("GetSwitch 999 succeeded")


class SignalTest(AsmdTestCase):
    def collect(self, action, until):
        """Runs action() while a second connection listens; returns the
        signals [(name, args)] heard until until(names) holds (10 s)."""
        listener = new_connection()
        got = []
        ctx = GLib.MainContext.new()
        ctx.push_thread_default()
        try:
            listener.signal_subscribe(
                NAME, IFACE, None, PATH, None, Gio.DBusSignalFlags.NONE,
                lambda conn, sender, path, iface, sig, params:
                got.append((sig, params.unpack())))
            action()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not until(
                    [s for s, _ in got]):
                ctx.iteration(False) or time.sleep(0.01)
        finally:
            ctx.pop_thread_default()
        return got

    def test_one_signal_per_event(self):
        c = self.start()
        sw_a = c.resolve("switch", "sw-a")
        sw_b = c.resolve("switch", "sw-b")
        vm1 = c.resolve("workload", "vm1")
        made = {}

        def action():
            made["part"], _ = c.call(
                "RequestPartition", "(tta{sv})", vm1, 64 * MIB,
                {"preferred_switch": GLib.Variant("t", sw_a)})
            c.call("MigratePartition", "(tt)", made["part"], sw_b)
            c.call("ReleasePartition", "(t)", made["part"])
            (made["sw_x"],) = c.call("AddSwitch", "(sta{sv})", "sw-x", 1000,
                                     {})

        got = self.collect(action, lambda names: "SwitchAdded" in names)
        kinds = [s for s, _ in got]
        for want in ("PartitionPlaced", "PartitionMigrated",
                     "PartitionReleased", "SwitchAdded"):
            self.assertIn(want, kinds)
        self.assertLess(kinds.index("PartitionPlaced"),
                        kinds.index("PartitionMigrated"))
        self.assertLess(kinds.index("PartitionMigrated"),
                        kinds.index("PartitionReleased"))
        migrated = dict(got)["PartitionMigrated"]
        self.assertEqual(migrated[0:3], (sw_b, sw_a, made["part"]))
        self.assertTrue(migrated[7])           # a human-readable line
        self.assertEqual(dict(got)["SwitchAdded"][0], made["sw_x"])

    def test_a_failed_operation_is_rolled_back_and_signalled(self):
        c = self.start("--testing")
        vm1 = c.resolve("workload", "vm1")
        sw_b = c.resolve("switch", "sw-b")
        part, _ = c.call("RequestPartition", "(tta{sv})", vm1, 64 * MIB, {})
        before = c.state()
        ops = c.prop("Operations")
        testing = IFACE + ".Testing"
        refused = {}

        def action():
            c.bus.call_sync(NAME, PATH, testing, "SimFailKind",
                            GLib.Variant("(sb)", ("xlat", True)), None,
                            Gio.DBusCallFlags.NONE, 5000, None)
            refused["error"] = c.error_of("MigratePartition", "(tt)", part,
                                          sw_b)

        got = self.collect(action, lambda names: "RolledBack" in names)
        self.assertEqual(refused["error"][0], "org.asm.Fabric1.Error.Backend")
        self.assertIn("RolledBack", [s for s, _ in got])
        self.assertNotIn("PartitionMigrated", [s for s, _ in got])
        self.assertEqual(c.state(), before)
        self.assertEqual(c.prop("Operations"), ops)
        c.call("Check")
        c.bus.call_sync(NAME, PATH, testing, "SimClearFaults", None, None,
                        Gio.DBusCallFlags.NONE, 5000, None)
        c.call("MigratePartition", "(tt)", part, sw_b)
        c.call("Check")

    def test_no_testing_interface_unless_asked(self):
        c = self.start()
        try:
            c.bus.call_sync(NAME, PATH, IFACE + ".Testing", "SimClearFaults",
                            None, None, Gio.DBusCallFlags.NONE, 5000, None)
        except GLib.Error as e:
            self.assertIn("org.freedesktop.DBus.Error.Unknown",
                          Gio.DBusError.get_remote_error(e))
        else:
            self.fail("the testing interface is served without --testing")
        r = run_asmd("--session", "--state-dir", self.state + "2",
                     "--backend", "none", "--testing")
        self.assertEqual(r.returncode, 2)
        self.assertIn("needs --backend sim", r.stderr)


class DurabilityTest(AsmdTestCase):
    def test_killed_daemon_comes_back_with_every_committed_operation(self):
        c = self.start()
        vm1 = c.resolve("workload", "vm1")
        sw_b = c.resolve("switch", "sw-b")
        parts = [c.call("RequestPartition", "(tta{sv})", vm1, 64 * MIB, {})[0]
                 for _ in range(5)]
        c.call("MigratePartition", "(tt)", parts[0], sw_b)
        c.call("ReleasePartition", "(t)", parts[1])
        before = c.state()
        self.daemon.kill()
        c = self.start(fabric=None)       # no fabric file: the state dir
        self.assertEqual(c.state(), before)
        self.assertEqual(c.prop("Name"), "lab")
        c.call("Check")

    def test_kill_during_a_stream_of_operations(self):
        c = self.start()
        vm1 = c.resolve("workload", "vm1")
        done = []
        stop = threading.Event()

        def client():
            mine = Client()
            while not stop.is_set():
                try:
                    done.append(mine.call("RequestPartition", "(tta{sv})",
                                          vm1, 2 * MIB, {})[0])
                except GLib.Error:
                    return

        for round_ in range(3):
            stop.clear()
            worker = threading.Thread(target=client)
            worker.start()
            time.sleep(0.2 + 0.1 * round_)
            self.daemon.kill()
            stop.set()
            worker.join()
            c = self.start(fabric=None)
            have = set(c.call("List", "(s)", "partitions")[0])
            self.assertTrue(set(done) <= have,
                            f"lost: {sorted(set(done) - have)}")
            # at most the one call whose reply the kill cut off is extra
            self.assertLessEqual(len(have - set(done)), 1)
            done[:] = sorted(have)
            c.call("Check")
        self.assertGreater(len(done), 3)

    def test_sigterm_stops_cleanly_with_a_checkpoint(self):
        c = self.start("--checkpoint-every", "1000000")
        vm1 = c.resolve("workload", "vm1")
        c.call("RequestPartition", "(tta{sv})", vm1, 64 * MIB, {})
        before = c.state()
        status, err = self.daemon.stop()
        self.assertEqual(status, 0, err)
        snap = json.load(open(os.path.join(self.state, "snapshot")))
        snap.pop("journal_seq")
        self.assertEqual(snap, before)
        c = self.start(fabric=None)
        self.assertEqual(c.state(), before)

    def test_periodic_checkpoints_keep_the_journal_short(self):
        c = self.start("--checkpoint-every", "4")
        vm1 = c.resolve("workload", "vm1")
        journal = os.path.join(self.state, "journal")
        sizes = []
        for _ in range(12):
            c.call("RequestPartition", "(tta{sv})", vm1, 2 * MIB, {})
            sizes.append(os.path.getsize(journal))
        self.assertLess(max(sizes), 4 * max(sizes[:4]))
        self.assertEqual(sizes[3], sizes[7])   # cut back after the 4th, 8th


class ClientsTest(AsmdTestCase):
    def test_two_clients_at_once(self):
        c = self.start()
        wl = [c.resolve("workload", "vm1"), c.resolve("workload", "vm2")]
        switches = [c.resolve("switch", "sw-a"), c.resolve("switch", "sw-b")]
        results = [[], []]
        errors = []

        def client(k):
            me = Client()
            try:
                for i in range(20):
                    p, _ = me.call("RequestPartition", "(tta{sv})", wl[k],
                                   2 * MIB, {})
                    me.call("MigratePartition", "(tt)", p,
                            switches[(i // 2) % 2])
                    if i % 2 == 0:
                        me.call("ReleasePartition", "(t)", p)
                    else:
                        results[k].append(p)
            except GLib.Error as e:
                errors.append(e.message)

        threads = [threading.Thread(target=client, args=(k,))
                   for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        for k in range(2):
            mine = c.call("GetWorkload", "(t)", wl[k])[0]["partitions"]
            self.assertEqual(sorted(mine), sorted(results[k]))
        # per client: 20 requests, 20 migrations, 10 releases
        self.assertEqual(c.prop("Operations"), 2 * (20 + 20 + 10))
        c.call("Check")


class AuthorizationTest(AsmdTestCase):
    GROUP = "asmd-test-writers"

    def call_as_nobody(self, *methods):
        """Runs calls as user nobody; returns [(method, error name|None)]."""
        code = (
            "import sys, json\n"
            "from gi.repository import Gio, GLib\n"
            "bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)\n"
            "out = []\n"
            "for m, sig, args in json.loads(sys.argv[1]):\n"
            "    try:\n"
            "        r = bus.call_sync('%s', '%s', '%s', m,\n"
            "            GLib.Variant(sig, tuple(args)) if sig else None,\n"
            "            None, 0, 5000, None)\n"
            "        out.append([m, None, r.unpack()])\n"
            "    except GLib.Error as e:\n"
            "        out.append([m, Gio.DBusError.get_remote_error(e), None])\n"
            "print(json.dumps(out))\n" % (NAME, PATH, IFACE))
        nobody = pwd.getpwnam("nobody")
        r = subprocess.run(
            ["setpriv", f"--reuid={nobody.pw_uid}",
             f"--regid={nobody.pw_gid}", "--clear-groups",
             sys.executable, "-c", code, json.dumps(methods)],
            capture_output=True, text=True, timeout=30,
            env={"DBUS_SESSION_BUS_ADDRESS":
                 os.environ["DBUS_SESSION_BUS_ADDRESS"],
                 "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_a_caller_without_the_right_is_refused_and_nothing_changes(self):
        c = self.start("--group", self.GROUP)
        vm1 = c.resolve("workload", "vm1")
        sw_b = c.resolve("switch", "sw-b")
        part, _ = c.call("RequestPartition", "(tta{sv})", vm1, 64 * MIB, {})
        before = c.state()
        ops = c.prop("Operations")
        denied = "org.freedesktop.DBus.Error.AccessDenied"
        if os.geteuid() != 0:
            # not root, and not in a group that does not exist: refused
            self.assertEqual(c.error_of("MigratePartition", "(tt)", part,
                                        sw_b)[0], denied)
            self.assertEqual(c.call("CanWrite"), (False,))
            self.assertEqual(c.state(), before)
            print("# running as a user: the refusal is tested on this "
                  "user; run as root to test another user as well")
            return
        results = self.call_as_nobody(
            ["MigratePartition", "(tt)", [part, sw_b]],
            ["ReleasePartition", "(t)", [part]],
            ["AddWorkload", "(s)", ["intruder"]],
            ["RequestPartition", "(tta{sv})", [vm1, 2 * MIB, {}]],
            ["CanWrite", None, []],
            ["GetPartition", "(t)", [part]],
            ["Resolve", "(ss)", ["workload", "vm1"]],
            ["Save", None, []])
        by_method = {m: (err, value) for m, err, value in results}
        for m in ("MigratePartition", "ReleasePartition", "AddWorkload",
                  "RequestPartition"):
            self.assertEqual(by_method[m][0], denied, m)
        self.assertEqual(by_method["CanWrite"], (None, [False]))
        self.assertIsNone(by_method["GetPartition"][0])  # reading is open
        self.assertEqual(by_method["Resolve"], (None, [vm1]))
        self.assertIsNone(by_method["Save"][0])
        # root may; the state is exactly as before the refused calls
        self.assertEqual(c.state(), before)
        self.assertEqual(c.prop("Operations"), ops)
        self.assertEqual(c.call("CanWrite"), (True,))
        c.call("MigratePartition", "(tt)", part, sw_b)
        c.call("Check")

    def test_without_a_group_every_peer_may_write(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to call as another user")
        c = self.start()
        vm1 = c.resolve("workload", "vm1")
        results = self.call_as_nobody(
            ["RequestPartition", "(tta{sv})", [vm1, 2 * MIB, {}]])
        self.assertIsNone(results[0][1])
        self.assertEqual(len(c.call("List", "(s)", "partitions")[0]), 1)


class QemuTest(AsmdTestCase):
    def test_a_fabric_on_a_real_qemu(self):
        if shutil.which("qemu-system-x86_64") is None:
            self.skipTest("SKIPPED LOUDLY: no qemu-system-x86_64 (Debian: "
                          "qemu-system-x86); .ci/install-deps installs it")
        c = self.start("--backend", "qemu")
        self.assertEqual(c.prop("Backend"), "qemu")
        vm1 = c.resolve("workload", "vm1")
        gpu0 = c.resolve("device", "gpu0")
        sw_a = c.resolve("switch", "sw-a")
        sw_b = c.resolve("switch", "sw-b")
        part, virt = c.call("RequestPartition", "(tta{sv})", vm1, 512 * MIB,
                            {"preferred_switch": GLib.Variant("t", sw_a)})
        (offset,) = c.call("MapDevice", "(tt)", part, gpu0)
        c.call("MigratePartition", "(tt)", part, sw_b)
        t = c.call("Translate", "(tt)", vm1, virt + offset)[0]
        self.assertEqual((t["switch"], t["device"]), (sw_b, gpu0))
        c.call("Check")
        status, err = self.daemon.stop()
        self.assertEqual(status, 0, err)
        # QEMU died with the daemon: its state is not served again
        r = run_asmd("--session", "--state-dir", self.state, "--backend",
                     "qemu")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot be restored onto a new QEMU", r.stderr)


SYSTEM_BUS_CONF = """<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus"/>
  </policy>
  <include>%s</include>
</busconfig>
"""
POLICY = os.path.join(DATA, "..", "..", "examples", "asmd",
                      "org.asm.Fabric1.conf")


class SystemPolicyTest(AsmdTestCase):
    """The installed system bus policy, on a bus configured as Debian's
    system bus is (deny by default) with the policy file included."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("SKIPPED LOUDLY: the system bus policy test needs "
                          "root to run asmd and its clients as two users")
        conf = os.path.join(self.dir, "system.conf")
        with open(conf, "w") as f:
            f.write(SYSTEM_BUS_CONF % os.path.abspath(POLICY))
        self.bus = subprocess.Popen(
            ["dbus-daemon", "--nofork", "--print-address=1",
             "--config-file", conf], stdout=subprocess.PIPE, text=True)
        self.address = self.bus.stdout.readline().strip()
        self.assertTrue(self.address.startswith("unix:"), self.address)
        self.nobody = pwd.getpwnam("nobody")
        os.chmod(self.dir, 0o755)

    def tearDown(self):
        super().tearDown()
        if hasattr(self, "bus"):
            self.bus.terminate()
            self.bus.wait()
            self.bus.stdout.close()

    def as_nobody(self, *args, **kw):
        return subprocess.run(
            ["setpriv", f"--reuid={self.nobody.pw_uid}",
             f"--regid={self.nobody.pw_gid}", "--clear-groups", *args],
            capture_output=True, text=True, timeout=60, **kw)

    def gdbus(self, method, *args):
        return ["gdbus", "call", "--address", self.address, "--dest", NAME,
                "--object-path", PATH, "--method", f"{IFACE}.{method}",
                *args]

    def test_only_root_owns_the_name_and_only_writers_write(self):
        # user nobody may not own the name: asmd says why and exits 1
        state = os.path.join(self.dir, "nobody-state")
        os.mkdir(state)
        os.chown(state, self.nobody.pw_uid, self.nobody.pw_gid)
        r = self.as_nobody(ASMD, "--address", self.address, "--state-dir",
                           state, "--fabric", FABRIC)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cannot own org.asm.Fabric1", r.stderr)
        self.assertIn("AccessDenied", r.stderr)

        # root may; then reading is open to nobody and writing is not
        daemon = subprocess.Popen(
            [ASMD, "--address", self.address, "--state-dir", self.state,
             "--fabric", FABRIC, "--group", "asmd-test-writers"],
            stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 20
            while True:
                r = subprocess.run(self.gdbus("Resolve", "workload", "vm1"),
                                   capture_output=True, text=True)
                if r.returncode == 0 or time.monotonic() > deadline:
                    break
                if daemon.poll() is not None:
                    self.fail("asmd exited: " + daemon.stderr.read())
                time.sleep(0.05)
            self.assertEqual(r.stdout.strip(), "(uint64 7,)")
            r = self.as_nobody(*self.gdbus("Resolve", "switch", "sw-b"))
            self.assertEqual((r.returncode, r.stdout.strip()),
                             (0, "(uint64 2,)"), r.stderr)
            r = self.as_nobody(*self.gdbus("RequestPartition", "7",
                                           "2097152", "{}"))
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("org.freedesktop.DBus.Error.AccessDenied",
                          r.stderr)
            r = self.as_nobody(*self.gdbus("CanWrite"))
            self.assertEqual(r.stdout.strip(), "(false,)", r.stderr)
            r = subprocess.run(self.gdbus("RequestPartition", "7", "2097152",
                                          "{}"), capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = subprocess.run(self.gdbus("List", "partitions"),
                               capture_output=True, text=True)
            self.assertEqual(r.stdout.strip(), "([uint64 9],)")
        finally:
            daemon.terminate()
            self.assertEqual(daemon.wait(timeout=30), 0)
            daemon.stderr.close()


class CommandLineTest(AsmdTestCase):
    def test_bad_command_lines_exit_2_with_a_message(self):
        for args, words in (
                ([], "exactly one of"),
                (["--session"], "--state-dir"),
                (["--session", "--system", "--state-dir", "x"],
                 "exactly one of"),
                (["--session", "--state-dir", "x", "--backend", "fpga"],
                 "'fpga'"),
                (["--session", "--state-dir", "x", "--checkpoint-every",
                  "0"], "0 is out of range"),
                (["--session", "--state-dir", "x", "--bus-name", "no"],
                 "'no'"),
                (["--session", "--state-dir", "x", "extra"], "'extra'"),
                (["--frobnicate"], "frobnicate")):
            r = run_asmd(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(words, r.stderr, args)

    def test_unusable_state_or_fabric_exit_1_with_a_message(self):
        r = run_asmd("--session", "--state-dir", self.state)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--fabric FILE", r.stderr)
        steps = os.path.join(self.dir, "steps.json")
        with open(FABRIC) as f:
            fab = json.load(f)
        fab["steps"] = [{"do": "check"}]
        with open(steps, "w") as f:
            json.dump(fab, f)
        r = run_asmd("--session", "--state-dir", self.state, "--fabric",
                     steps)
        self.assertEqual(r.returncode, 1)
        self.assertIn("$.steps", r.stderr)
        fab.pop("steps")
        fab["switches"][0]["bandwidth"] = -1
        with open(steps, "w") as f:
            json.dump(fab, f)
        r = run_asmd("--session", "--state-dir", self.state, "--fabric",
                     steps)
        self.assertEqual(r.returncode, 1)
        self.assertIn("$.switches[0].bandwidth", r.stderr)

    def test_a_second_daemon_on_the_same_state_is_refused(self):
        self.start()
        r = run_asmd("--session", "--state-dir", self.state, "--bus-name",
                     "org.asm.Other")
        self.assertEqual(r.returncode, 1)
        self.assertIn("another asmd serves this state directory", r.stderr)

    def test_a_state_dir_keeps_its_backend(self):
        c = self.start()
        c.call("Check")
        self.daemon.stop()
        r = run_asmd("--session", "--state-dir", self.state, "--backend",
                     "none")
        self.assertEqual(r.returncode, 1)
        self.assertIn("made with the sim backend, not none", r.stderr)

    def test_a_damaged_snapshot_is_refused_not_replaced(self):
        self.start().call("Check")
        self.daemon.stop()
        snap = os.path.join(self.state, "snapshot")
        with open(snap, "a") as f:
            f.write("garbage")
        r = run_asmd("--session", "--state-dir", self.state, "--fabric",
                     FABRIC)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("asmd: "), r.stderr)
        self.assertTrue(open(snap).read().endswith("garbage"))


if __name__ == "__main__":
    unittest.main()
