# test_fabric.py: a fabric over the simulated hardware, from Python
#
# A partition is placed, translated, migrated, and a migration whose
# hardware call fails is rolled back: GLib.Error (asm's domain, BACKEND)
# and the fabric exactly as it was.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import unittest

from asmgi import MIB, Asm, GLib, GObject

GLOBAL_FIRST = 0x100000000
GLOBAL_LAST = GLOBAL_FIRST + (1 << 30) - 1


class FabricTest(unittest.TestCase):
    def setUp(self):
        self.sim = Asm.sim_backend_new()
        self.fabric = Asm.Fabric.new("py", GLOBAL_FIRST, GLOBAL_LAST, 2 * MIB,
                                     self.sim)
        self.sw_a = self.add_switch("A", 100)
        self.sw_b = self.add_switch("B", 150)
        ok, self.nic = self.fabric.add_device("nic0", Asm.DeviceKind.ENDPOINT,
                                              MIB, self.sw_a, 0)
        ok, self.vm = self.fabric.add_workload("vm1")
        req = Asm.PartitionRequest()
        req.size = 4 * MIB
        req.min_bandwidth = 1000
        req.preferred_switch = self.sw_a
        ok, self.part, self.virt = self.fabric.request_partition(self.vm, req)
        ok, offset = self.fabric.map_device(self.part, self.nic)
        self.assertEqual(offset, 0)

    def add_switch(self, name, latency_ns):
        spec = Asm.SwitchSpec()
        spec.name = name
        spec.bandwidth = 16000
        spec.latency_ns = latency_ns
        spec.table_capacity = 16
        spec.n_ports = 8
        ok, sw = self.fabric.add_switch(spec)
        self.assertTrue(ok)
        return sw

    def verify(self):
        self.assertTrue(self.fabric.check())
        self.assertTrue(Asm.sim_verify(self.sim, self.fabric))

    def state(self):
        ok, p = self.fabric.get_partition_info(self.part)
        ok, d = self.fabric.get_device_info(self.nic)
        ok, t = self.fabric.translate(self.vm, self.virt + 0x1000)
        return (p.switch_id, p.phys_first, p.generation, d.switch_id, d.port,
                t.switch_id, t.physical, t.device, t.device_offset)

    def test_backend(self):
        self.assertTrue(Asm.sim_is_sim(self.sim))
        self.assertEqual(self.sim.get_name(), "sim")
        caps = Asm.BackendCaps(self.sim.get_caps())
        self.assertTrue(caps & Asm.BackendCaps.TRANSLATION)
        self.assertEqual(self.fabric.get_backend().get_name(), "sim")
        self.assertEqual(self.fabric.get_granule(), 2 * MIB)

    def test_partition(self):
        ok, info = self.fabric.get_partition_info(self.part)
        self.assertEqual(info.switch_id, self.sw_a)
        self.assertEqual(info.virt_first, self.virt)
        self.assertEqual(info.size, 4 * MIB)
        self.assertEqual(info.n_devices, 1)
        ok, sw = self.fabric.get_switch_info(self.sw_a)
        self.assertEqual(sw.name, "A")
        self.assertEqual(sw.n_partitions, 1)
        ok, t = self.fabric.translate(self.vm, self.virt + 0x1000)
        self.assertEqual(t.partition, self.part)
        self.assertEqual(t.switch_id, self.sw_a)
        self.assertEqual(t.physical, info.phys_first + 0x1000)
        self.assertEqual((t.device, t.device_offset), (self.nic, 0x1000))
        self.assertEqual(self.fabric.list(Asm.FabricObjects.SWITCHES),
                         [self.sw_a, self.sw_b])
        self.assertEqual(self.fabric.list(Asm.FabricObjects.PARTITIONS),
                         [self.part])
        self.verify()

    def test_migrate(self):
        before = self.state()
        self.fabric.migrate_partition(self.part, self.sw_b)
        ok, t = self.fabric.translate(self.vm, self.virt + 0x1000)
        self.assertEqual(t.switch_id, self.sw_b)
        self.assertEqual((t.device, t.device_offset), (self.nic, 0x1000))
        self.assertGreater(t.generation, before[2])
        ok, d = self.fabric.get_device_info(self.nic)
        self.assertEqual(d.switch_id, self.sw_b)
        self.verify()

    def test_rollback(self):
        before = self.state()
        # the third hardware call from now fails: the migration's first
        # steps are applied, then undone
        n = Asm.sim_get_n_calls(self.sim)
        Asm.sim_fail_call(self.sim, 3)
        with self.assertRaises(GLib.Error) as cm:
            self.fabric.migrate_partition(self.part, self.sw_b)
        self.assertEqual(cm.exception.domain, "asm-error-quark")
        self.assertEqual(cm.exception.code, Asm.Error.BACKEND)
        self.assertTrue(cm.exception.matches(Asm.Error.quark(),
                                             Asm.Error.BACKEND))
        self.assertIn("undone", cm.exception.message)
        self.assertRegex(cm.exception.message, r"step \d+ of \d+")
        self.assertGreater(Asm.sim_get_n_calls(self.sim), n + 3)
        self.assertEqual(self.state(), before)
        self.verify()
        # with the fault spent, the same migration goes through
        Asm.sim_clear_faults(self.sim)
        self.fabric.migrate_partition(self.part, self.sw_b)
        self.assertEqual(self.state()[0], self.sw_b)
        self.verify()

    def test_errors(self):
        with self.assertRaises(GLib.Error) as cm:
            self.fabric.migrate_partition(9999, self.sw_b)
        self.assertEqual(cm.exception.code, Asm.Error.NOT_FOUND)
        with self.assertRaises(GLib.Error) as cm:
            Asm.Fabric.new("bad", 0x2000, 0x1000, 2 * MIB, None)
        self.assertEqual(cm.exception.code, Asm.Error.INVALID)
        self.assertEqual(Asm.Error.code_to_string(Asm.Error.BACKEND),
                         Asm.error_code_to_string(Asm.Error.BACKEND))


class ErrorDomainTest(unittest.TestCase):
    def test_domain_and_codes(self):
        self.assertEqual(GLib.quark_to_string(Asm.Error.quark()),
                         "asm-error-quark")
        self.assertEqual(Asm.Error.__gtype__.name, "AsmError")
        names = [Asm.Error(c).value_nick for c in range(10)]
        self.assertEqual(names, ["invalid", "no-space", "in-use", "not-found",
                                 "held", "backend", "timeout", "parse",
                                 "unsupported", "failed"])
        e = GLib.Error.new_literal(Asm.Error.quark(), "x", Asm.Error.HELD)
        self.assertTrue(e.matches(Asm.Error.quark(), Asm.Error.HELD))

    def test_every_public_type_has_a_gtype(self):
        for name in ("Arena", "AddrSpace", "PciBusSet", "Fabric", "Backend",
                     "RangeSet", "Range", "Request", "PciAddr",
                     "PartitionRequest", "Translation", "SwitchInfo",
                     "PartitionInfo", "DeviceInfo", "RootRoute",
                     "RebalanceReport", "XlatEntry", "ArenaStats",
                     "SwitchSpec", "FabricEvent", "PciControllerInfo"):
            gtype = getattr(Asm, name).__gtype__
            self.assertEqual(gtype.name, "Asm" + name)
            self.assertTrue(gtype.is_a(GObject.TYPE_BOXED), name)
        for name in ("Error", "Fit", "FabricObjects", "DeviceKind",
                     "FabricEventKind", "BackendStatus", "SimOp",
                     "SegmentKind", "PciControllerModel"):
            self.assertEqual(getattr(Asm, name).__gtype__.name, "Asm" + name)
        for name in ("BackendCaps", "PciConnectFlags"):
            gtype = getattr(Asm, name).__gtype__
            self.assertTrue(gtype.is_a(GObject.TYPE_FLAGS), name)
