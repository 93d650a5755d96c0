# asmgi.py: the Asm namespace for the Python tests, and small helpers
#
# The tests run against the build tree: meson sets GI_TYPELIB_PATH and
# LD_LIBRARY_PATH to build/src, where Asm-1.0.typelib and libasm-1.so.0 are.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gi

gi.require_version("Asm", "1.0")
gi.require_version("GLib", "2.0")
gi.require_version("GObject", "2.0")

from gi.repository import Asm, GLib, GObject  # noqa: E402

MIB = 1 << 20

__all__ = ["Asm", "GLib", "GObject", "MIB", "asm_range", "request", "tup",
           "box"]


def asm_range(first, last):
    """An Asm.Range [first, last]."""
    r = Asm.Range()
    r.first = first
    r.last = last
    return r


def request(size, fit=Asm.Fit.LOWEST, align=0, max_=GLib.MAXUINT64):
    """An Asm.Request as ASM_REQUEST_INIT(size) makes it, with fit and align."""
    req = Asm.Request()
    req.size = size
    req.align = align
    req.max = max_
    req.fit = fit
    return req


def tup(*values):
    """An address-space tuple as bindings pass it: ASM_ADDR_MAX_DIMS values,
    the tuple first, zeros after."""
    return list(values) + [0] * (Asm.ADDR_MAX_DIMS - len(values))


def box(*ranges):
    """One Asm.Range per dimension, padded to ASM_ADDR_MAX_DIMS ranges."""
    return list(ranges) + [asm_range(0, 0)
                           for _ in range(Asm.ADDR_MAX_DIMS - len(ranges))]
