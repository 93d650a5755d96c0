# test_arena.py: an arena from Python: spans, holes, requests, a clone
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import unittest

from asmgi import Asm, GLib, GObject, request


class ArenaTest(unittest.TestCase):
    def setUp(self):
        # [0, 0xfffff] in 4 KiB pages, with a hole at [0x1000, 0x1fff]
        self.arena = Asm.Arena.new("iova", 0x1000)
        self.arena.add_span(0, 0xFFFFF)
        self.arena.reserve(0x1000, 0x1FFF)

    def test_types(self):
        self.assertEqual(Asm.Arena.__gtype__.name, "AsmArena")
        self.assertTrue(Asm.Arena.__gtype__.is_a(GObject.TYPE_BOXED))
        self.assertEqual(Asm.Fit.__gtype__.name, "AsmFit")
        self.assertEqual(self.arena.get_name(), "iova")
        self.assertEqual(self.arena.get_quantum(), 0x1000)

    def test_alloc_skips_the_hole(self):
        ok, addr = self.arena.alloc(0x1000)
        self.assertTrue(ok)
        self.assertEqual(addr, 0)
        ok, addr = self.arena.alloc(0x2000)
        self.assertEqual(addr, 0x2000)
        ok, seg = self.arena.lookup(0x2000)
        self.assertTrue(ok)
        self.assertEqual((seg.first, seg.last), (0x2000, 0x3FFF))
        ok, seg, kind = self.arena.lookup_full(0x1800)
        self.assertEqual(kind, Asm.SegmentKind.RESERVED)
        self.arena.check()

    def test_alloc_full_with_a_request(self):
        ok, top = self.arena.alloc_full(request(0x2000, Asm.Fit.HIGHEST))
        self.assertEqual(top, 0xFE000)
        ok, aligned = self.arena.alloc_full(request(0x1000, align=0x10000))
        self.assertEqual(aligned, 0)
        ok, again = self.arena.alloc_full(request(0x1000, align=0x10000))
        self.assertEqual(again, 0x10000)
        stats = self.arena.get_stats()
        self.assertEqual(stats.n_allocated, 3)
        self.assertEqual(stats.n_reserved, 1)
        self.assertEqual(stats.allocated_units, 0x4000)
        self.arena.free(again)
        self.assertEqual(self.arena.get_stats().n_allocated, 2)

    def test_cache(self):
        # freed ranges come back from the calling thread's magazine
        self.arena.enable_cache(0x8000)
        with self.assertRaises(GLib.Error):
            self.arena.enable_cache(0x8000)  # once only
        ok, x = self.arena.alloc_full(request(0x1000, Asm.Fit.INSTANT))
        self.assertTrue(ok)
        self.arena.free(x)
        ok, stats = self.arena.get_cache_stats()
        self.assertTrue(ok)
        self.assertEqual(stats.cached_ranges, 1)
        self.assertEqual(stats.max_size, 0x8000)
        self.assertFalse(self.arena.lookup(x)[0])  # a cached range is free
        ok, y = self.arena.alloc_full(request(0x1000, Asm.Fit.INSTANT))
        self.assertEqual(y, x)
        self.assertEqual(self.arena.get_cache_stats()[1].hits, 1)
        self.arena.check()

    def test_alloc_instant(self):
        # the request in arguments: a size, its alignment, the limit; a
        # cached range comes back through it, and a bad request is an error
        self.arena.enable_cache(0x8000)
        ok, x = self.arena.alloc_instant(0x2000, 0x2000, 0xFFFFFFFF)
        self.assertTrue(ok)
        self.assertEqual(x % 0x2000, 0)
        self.arena.free(x)
        ok, y = self.arena.alloc_instant(0x2000, 0x2000, 0xFFFFFFFF)
        self.assertEqual(y, x)
        with self.assertRaises(GLib.Error) as raised:
            self.arena.alloc_instant(0x1000, 0x3000, 0xFFFFFFFF)
        self.assertIn("align 0x3000 is not a power of two", str(raised.exception))
        with self.assertRaises(GLib.Error):
            self.arena.alloc_instant(0x1000, 0, 0x800)  # max below the size
        self.arena.check()

    def test_clone_is_independent(self):
        ok, first = self.arena.alloc(0x1000)
        clone = self.arena.clone("iova-clone")
        self.assertEqual(clone.get_name(), "iova-clone")
        clone.free(first)
        ok, other = clone.alloc(0x3000)
        self.assertEqual(other, 0x2000)
        # the original still holds its allocation and not the clone's
        self.assertTrue(self.arena.lookup(first)[0])
        self.assertFalse(self.arena.lookup(other)[0])
        self.assertEqual(self.arena.get_stats().n_allocated, 1)
        self.assertEqual(clone.get_stats().n_allocated, 1)
        clone.check()
        self.arena.check()

    def test_walk(self):
        self.arena.alloc(0x1000)
        seen = []

        def visit(segment, kind, data):
            seen.append((segment.first, segment.last, kind))
            return True

        self.assertTrue(self.arena.walk(visit, None))
        self.assertEqual(seen[:3], [
            (0, 0xFFF, Asm.SegmentKind.ALLOCATED),
            (0x1000, 0x1FFF, Asm.SegmentKind.RESERVED),
            (0x2000, 0xFFFFF, Asm.SegmentKind.FREE),
        ])

    def test_errors(self):
        with self.assertRaises(GLib.Error) as cm:
            self.arena.alloc_full(request(0x200000))
        self.assertEqual(cm.exception.domain, "asm-error-quark")
        self.assertEqual(cm.exception.code, Asm.Error.NO_SPACE)
        with self.assertRaises(GLib.Error) as cm:
            self.arena.reserve(0x1000, 0x1FFF)
        self.assertTrue(cm.exception.matches(Asm.Error.quark(),
                                             Asm.Error.IN_USE))
        with self.assertRaises(GLib.Error) as cm:
            self.arena.free(0x5000)
        self.assertEqual(cm.exception.code, Asm.Error.NOT_FOUND)
        self.assertIn("0x5000", cm.exception.message)


class RangeSetTest(unittest.TestCase):
    def test_add_merge_copy(self):
        s = Asm.RangeSet.new()
        s.add(0, 9)
        s.add(10, 19)
        s.add(100, 199)
        self.assertEqual(s.get_n_ranges(), 2)
        # get_range() returns a struct by value, which introspection
        # cannot pass, so it is skipped; get_range_bounds() is the binding
        self.assertFalse(hasattr(s, "get_range"))
        self.assertEqual(s.get_range_bounds(0), (0, 19))
        self.assertEqual(s.get_range_bounds(1), (100, 199))
        with self.assertRaises(GLib.Error) as cm:
            s.get_range_bounds(2)
        self.assertEqual(cm.exception.code, Asm.Error.INVALID)
        self.assertIn("index 2", cm.exception.message)
        self.assertTrue(s.contains_range(0, 19))
        self.assertFalse(s.contains(20))
        self.assertEqual(s.get_units(), 120)
        c = s.copy()
        c.remove(5, 5)
        self.assertEqual(c.get_n_ranges(), 3)
        self.assertEqual(s.get_n_ranges(), 2)
        self.assertFalse(s.equal(c))
        with self.assertRaises(GLib.Error) as cm:
            s.add(9, 0)
        self.assertEqual(cm.exception.code, Asm.Error.INVALID)
