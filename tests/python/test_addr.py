# test_addr.py: an address space from Python: IPv4 pools, reserve any
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import unittest

from asmgi import Asm, GLib, asm_range, box, tup


def ipv4(space, text):
    ok, addr = space.parse(text)
    return addr[:4]


class AddrSpaceTest(unittest.TestCase):
    def setUp(self):
        self.space = Asm.AddrSpace.new("ipv4", [8, 8, 8, 8])
        # two pools: 10.0.0.0/24 and 192.168.1.0/24
        # every tuple or box goes in as ASM_ADDR_MAX_DIMS values (tup, box)
        self.space.add_pool(box(asm_range(10, 10), asm_range(0, 0),
                                asm_range(0, 0), asm_range(0, 255)))
        self.space.add_pool(box(asm_range(192, 192), asm_range(168, 168),
                                asm_range(1, 1), asm_range(0, 255)))

    def test_shape(self):
        self.assertEqual(self.space.get_name(), "ipv4")
        self.assertEqual(self.space.get_n_dims(), 4)
        self.assertEqual(self.space.get_dim_bits(3), 8)

    def test_reserve_any(self):
        self.space.reserve(tup(10, 0, 0, 0))
        ok, addr = self.space.reserve_any(None)
        self.assertTrue(ok)
        # out arrays hold ASM_ADDR_MAX_DIMS values; the tuple is the first 4
        self.assertEqual(addr[:4], [10, 0, 0, 1])
        within = box(asm_range(192, 192), asm_range(168, 168),
                     asm_range(1, 1), asm_range(100, 200))
        ok, addr = self.space.reserve_any(within)
        self.assertEqual(addr[:4], [192, 168, 1, 100])
        self.assertEqual(self.space.format(addr), "192.168.1.100")
        self.assertEqual(self.space.get_n_reserved(), 3)
        self.assertFalse(self.space.is_free(tup(192, 168, 1, 100)))
        self.assertTrue(self.space.is_pooled(tup(192, 168, 1, 7)))
        self.assertFalse(self.space.is_pooled(tup(172, 16, 0, 1)))
        self.space.release(tup(192, 168, 1, 100))
        self.assertTrue(self.space.is_free(tup(192, 168, 1, 100)))
        self.space.check()

    def test_parse_and_clone(self):
        self.assertEqual(ipv4(self.space, "10.0.0.7"), [10, 0, 0, 7])
        self.space.reserve(tup(*ipv4(self.space, "10.0.0.7")))
        clone = self.space.clone("ipv4-clone")
        clone.reserve(tup(10, 0, 0, 8))
        self.assertEqual(clone.get_n_reserved(), 2)
        self.assertEqual(self.space.get_n_reserved(), 1)

    def test_callbacks_get_tuples(self):
        for t in ([10, 0, 0, 9], [10, 0, 0, 3], [192, 168, 1, 4]):
            self.space.reserve(tup(*t))
        seen = []

        def each(addr, data):
            # fixed-size arrays: the tuple, then zeros up to 8 values
            self.assertEqual(len(addr), 8)
            self.assertEqual(addr[4:], [0, 0, 0, 0])
            seen.append(addr[:4])
            return True

        self.assertTrue(self.space.foreach_reserved(each, None))
        self.assertEqual(seen, [[10, 0, 0, 3], [10, 0, 0, 9],
                                [192, 168, 1, 4]])

        def dashed(addr, n_dims, data):
            self.assertEqual(len(addr), n_dims)  # exactly the tuple
            return "-".join(str(v) for v in addr)

        self.space.set_formatter(dashed, None, None)
        # (tuples still go in as 8 values; the formatter sees n_dims)
        self.assertEqual(self.space.format(tup(10, 0, 0, 9)), "10-0-0-9")
        with self.assertRaises(GLib.Error) as cm:
            self.space.reserve(tup(10, 0, 0, 9))
        self.assertIn("10-0-0-9", cm.exception.message)

    def test_a_short_tuple_is_refused_before_it_reaches_c(self):
        # asm reads n_dims values: a shorter list must never get there
        for bad in ([10, 0], [10, 0, 0, 1]):
            with self.assertRaises(ValueError):
                self.space.reserve(bad)
            with self.assertRaises(ValueError):
                self.space.is_free(bad)
        with self.assertRaises(ValueError):
            self.space.reserve_any([asm_range(10, 10)])
        self.assertEqual(self.space.get_n_reserved(), 0)

    def test_errors(self):
        self.space.reserve(tup(10, 0, 0, 1))
        with self.assertRaises(GLib.Error) as cm:
            self.space.reserve(tup(10, 0, 0, 1))
        self.assertEqual(cm.exception.domain, "asm-error-quark")
        self.assertEqual(cm.exception.code, Asm.Error.IN_USE)
        self.assertIn("10.0.0.1", cm.exception.message)
        with self.assertRaises(GLib.Error) as cm:
            self.space.reserve(tup(172, 16, 0, 1))
        self.assertNotEqual(cm.exception.code, Asm.Error.IN_USE)
        with self.assertRaises(GLib.Error) as cm:
            self.space.parse("10.0.0.x")
        self.assertEqual(cm.exception.code, Asm.Error.PARSE)
        full = box(asm_range(10, 10), asm_range(0, 0), asm_range(0, 0),
                   asm_range(1, 1))
        with self.assertRaises(GLib.Error) as cm:
            self.space.reserve_any(full)
        self.assertEqual(cm.exception.code, Asm.Error.NO_SPACE)
