#!/usr/bin/env python3
# fabric.py: the fabric from Python, through GObject introspection
#
# The same story as fabric-migrate.c, in PyGObject:
#
#   1. a fabric of 1 GiB over the simulated hardware, switches A and B, a
#      NIC on switch A, a workload with a 4 MiB partition holding the NIC;
#   2. the partition migrates to switch B: the workload's virtual address
#      is unchanged, the route and physical address are new;
#   3. the simulator fails the third hardware call from now, so a migration
#      back to A fails halfway: asm undoes the steps already applied, the error is a GLib.Error in asm's
#      domain with code Asm.Error.BACKEND, and the fabric is as it was.
#
# Run: python3 fabric.py, with Asm-1.0.typelib and libasm-1.so.0 where GI
# and the loader find them (installed, or GI_TYPELIB_PATH and
# LD_LIBRARY_PATH pointing at a build's src/ directory).  Exits non-zero on
# a wrong answer.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import sys

import gi

gi.require_version("Asm", "1.0")
from gi.repository import Asm, GLib  # noqa: E402

MIB = 1 << 20
GLOBAL_FIRST = 0x100000000
GLOBAL_LAST = GLOBAL_FIRST + (1 << 30) - 1


def check(ok, what):
    if not ok:
        print(f"fabric.py: wrong answer: {what}", file=sys.stderr)
        sys.exit(1)


def add_switch(fabric, name, latency_ns):
    spec = Asm.SwitchSpec()
    spec.name = name
    spec.bandwidth = 16000
    spec.latency_ns = latency_ns
    spec.table_capacity = 16
    spec.n_ports = 8
    _, sw = fabric.add_switch(spec)
    print(f"  switch {name}: 16000 MB/s, {latency_ns} ns, 8 ports")
    return sw


def show(fabric, workload, virt):
    _, t = fabric.translate(workload, virt)
    _, sw = fabric.get_switch_info(t.switch_id)
    print(f"  virtual {virt:#x} -> switch {sw.name}, physical "
          f"{t.physical:#x}, device {t.device} + {t.device_offset:#x}")
    return t


def main():
    sim = Asm.sim_backend_new()
    fabric = Asm.Fabric.new("example", GLOBAL_FIRST, GLOBAL_LAST, 2 * MIB, sim)
    print(f"fabric: [{GLOBAL_FIRST:#x}, {GLOBAL_LAST:#x}], granule 2 MiB, "
          f"backend {sim.get_name()}")
    sw_a = add_switch(fabric, "A", 100)
    sw_b = add_switch(fabric, "B", 150)
    _, nic = fabric.add_device("nic0", Asm.DeviceKind.ENDPOINT, MIB, sw_a, 0)
    _, vm = fabric.add_workload("vm1")

    req = Asm.PartitionRequest()
    req.size = 4 * MIB
    req.min_bandwidth = 1000
    req.preferred_switch = sw_a
    _, part, virt = fabric.request_partition(vm, req)
    _, offset = fabric.map_device(part, nic)
    print(f"  partition {part}: 4 MiB at virtual {virt:#x}, holds nic0 at "
          f"offset {offset}")

    print("\n1. translate an address of nic0")
    before = show(fabric, vm, virt + 0x1000)
    check(before.switch_id == sw_a and before.device == nic,
          "switch A routes the NIC's partition")

    print(f"\n2. migrate partition {part} to switch B")
    fabric.migrate_partition(part, sw_b)
    after = show(fabric, vm, virt + 0x1000)
    check(after.switch_id == sw_b and after.device == nic
          and after.device_offset == 0x1000,
          "switch B routes the same virtual address to the same device")
    check(Asm.sim_verify(sim, fabric), "the hardware matches the model")

    print("\n3. the third hardware call from now fails: migrate back to A")
    Asm.sim_fail_call(sim, 3)
    try:
        fabric.migrate_partition(part, sw_a)
        check(False, "the migration fails")
    except GLib.Error as e:
        print(f"  GLib.Error {e.domain} {Asm.Error(e.code).value_nick}: "
              f"{e.message}")
        check(e.matches(Asm.Error.quark(), Asm.Error.BACKEND),
              "a BACKEND error in asm's domain")
    rolled = show(fabric, vm, virt + 0x1000)
    check((rolled.switch_id, rolled.physical, rolled.generation)
          == (after.switch_id, after.physical, after.generation),
          "the failed migration left the partition where it was")
    check(fabric.check() and Asm.sim_verify(sim, fabric),
          "the fabric and the hardware are consistent")
    print("  rolled back: nothing changed")


if __name__ == "__main__":
    main()
