# test_pci.py: a PCI bus set over several domains from Python
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import unittest

from asmgi import Asm, GLib

PCI_DEVICE = (Asm.PciConnectFlags.AUTOASSIGN
              | Asm.PciConnectFlags.HOTPLUGGABLE
              | Asm.PciConnectFlags.TYPE_PCI_DEVICE)


def pci(text):
    ok, addr = Asm.PciAddr.parse(text)
    assert ok
    return addr


class PciBusSetTest(unittest.TestCase):
    def setUp(self):
        # two PHBs, domains 0 and 15, and a bridge in each
        self.set = Asm.PciBusSet.new()
        M = Asm.PciControllerModel
        self.set.add_controller(0, M.PCI_ROOT, None)
        self.set.add_controller(15, M.PCI_ROOT, None)
        self.set.add_controller(3, M.PCI_BRIDGE, pci("0000:00:01.0"))
        self.set.add_controller(27, M.PCI_BRIDGE, pci("000f:00:01.0"))

    def test_controllers(self):
        self.assertEqual(self.set.get_n_controllers(), 4)
        ok, info = self.set.get_controller(27)
        self.assertTrue(ok)
        self.assertEqual(info.model, Asm.PciControllerModel.PCI_BRIDGE)
        self.assertEqual((info.domain, info.bus), (15, 27))
        self.assertEqual(info.plugged_at.format(), "000f:00:01.0")
        ok, index = self.set.find_controller(15, 0x1B)
        self.assertEqual(index, 27)
        self.assertFalse(self.set.find_controller(0, 0x1B)[0])

    def test_reserve_next_and_config(self):
        ok, addr = self.set.reserve_next(PCI_DEVICE)
        self.assertEqual(addr.format(), "0000:00:02.0")
        ok, addr = self.set.reserve_next(PCI_DEVICE)
        self.assertEqual(addr.format(), "0000:00:03.0")
        wide = pci("000f:1b:05.0")
        self.set.reserve_addr(wide, PCI_DEVICE, True)
        self.assertTrue(self.set.is_reserved(wide))
        self.assertEqual(self.set.get_n_reserved(), 5)  # 2 bridges + 3
        self.set.release_addr(wide)
        self.assertFalse(self.set.is_reserved(wide))
        clone = self.set.clone()
        clone.reserve_next(PCI_DEVICE)
        self.assertEqual(clone.get_n_reserved(), 5)
        self.assertEqual(self.set.get_n_reserved(), 4)
        self.set.check()

    def test_addr_value(self):
        a = pci("000f:1b:05.3")
        self.assertEqual((a.domain, a.bus, a.slot, a.function),
                         (15, 0x1B, 5, 3))
        self.assertTrue(a.equal(pci("000f:1b:05.3")))
        self.assertLess(pci("0000:00:01.0").compare(a), 0)

    def test_errors(self):
        with self.assertRaises(GLib.Error) as cm:
            self.set.add_controller(28, Asm.PciControllerModel.PCI_BRIDGE,
                                    pci("000f:00:01.0"))
        self.assertEqual(cm.exception.domain, "asm-error-quark")
        self.assertEqual(cm.exception.code, Asm.Error.IN_USE)
        with self.assertRaises(GLib.Error) as cm:
            Asm.PciAddr.parse("0000:00:20.0")
        self.assertIn(cm.exception.code, (Asm.Error.PARSE, Asm.Error.INVALID))
