/* test-sim-ops.c: the sim backend's operations (layer 4)
 *
 * Drives the backend through its AsmBackendOps table, as a fabric would:
 * every operation, the validation a hardware write gets, the staging of
 * translation updates and the table capacity, pending binds, the root
 * complex's routes, switch removal, the usage counters' sequence,
 * idempotent inverses, and the dump: a script of every operation ends in
 * a golden dump, and the same hardware state reached in different orders
 * dumps the same.  Every refused call is checked to leave the dump
 * unchanged and to report ASM_ERROR_BACKEND naming the call; every test
 * ends with asm_sim_check().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sim-test-common.h"

/* ---------------------------------------------------------------------- */
/* Operations                                                             */
/* ---------------------------------------------------------------------- */

static gboolean
noop_switch_add (gpointer self, AsmId sw, const char *name, guint32 n_ports,
                 guint32 table_capacity, GError **error)
{
  return TRUE;
}

static void
test_sim_new (void **state)
{
  Fx *fx = *state;
  const AsmBackendOps *o = fx->ops;
  static const AsmBackendOps other_ops = {
    .name = "sim",
    .switch_add = noop_switch_add,
  };
  static const AsmBackendOps qemu_ops = { .name = "qemu" };
  static guint8 small_state = 0;
  g_autoptr(AsmBackend) other = asm_backend_new (&other_ops, &small_state);
  g_autoptr(AsmBackend) qemu = asm_backend_new (&qemu_ops, NULL);
  g_autofree char *dump = asm_sim_dump (fx->b);

  assert_true (asm_sim_is_sim (fx->b));
  assert_string_equal (asm_backend_get_name (fx->b), "sim");
  assert_int_equal (asm_backend_get_caps (fx->b),
                    ASM_BACKEND_CAP_WINDOWS | ASM_BACKEND_CAP_TRANSLATION |
                    ASM_BACKEND_CAP_DEVICES | ASM_BACKEND_CAP_HOLD |
                    ASM_BACKEND_CAP_FLUSH | ASM_BACKEND_CAP_VFS |
                    ASM_BACKEND_CAP_ROOT | ASM_BACKEND_CAP_USAGE);
  assert_ptr_equal (o->name, asm_backend_get_name (fx->b));
  /* every operation is implemented */
  assert_non_null (o->transaction_begin);
  assert_non_null (o->undo_begin);
  assert_non_null (o->transaction_end);
  assert_non_null (o->switch_add);
  assert_non_null (o->windows_commit);
  assert_non_null (o->xlat_begin);
  assert_non_null (o->xlat_set);
  assert_non_null (o->xlat_remove);
  assert_non_null (o->xlat_commit);
  assert_non_null (o->xlat_abort);
  assert_non_null (o->device_bind);
  assert_non_null (o->device_unbind);
  assert_non_null (o->device_wait);
  assert_non_null (o->device_hold);
  assert_non_null (o->device_release);
  assert_non_null (o->vf_create);
  assert_non_null (o->vf_destroy);
  assert_non_null (o->cache_flush);
  assert_non_null (o->destroy);
  assert_non_null (o->root_routes);
  assert_non_null (o->switch_remove);
  assert_non_null (o->usage_read);

  /* another backend, even one named "sim", is not a sim */
  assert_false (asm_sim_is_sim (other));
  assert_false (asm_sim_is_sim (qemu));

  assert_int_equal (asm_sim_get_n_calls (fx->b), 0);
  assert_false (asm_sim_is_crashed (fx->b));
  assert_string_equal (dump, "sim: 0 switches, 0 devices bound, 0 VFs, "
                             "0 held\n");

  /* two backends have separate hardware */
  {
    Fx *fx2 = fx_new ();

    OK (hw_switch (fx2, 1, "a", 1, 1, &error));
    assert_int_equal (asm_sim_get_n_calls (fx2->b), 1);
    assert_int_equal (asm_sim_get_n_calls (fx->b), 0);
    assert_dump_lacks (fx, "switch 1");
    fx_free (fx2);
  }
}

static void
test_sim_switch_add (void **state)
{
  Fx *fx = *state;

  OK (hw_switch (fx, 2, "sw2", 8, 64, &error));
  OK (hw_switch (fx, 1, NULL, 0, 0, &error));
  assert_dump_has (fx, "switch 1 \"\": 0 ports, table 0/0, 0 flushes\n"
                       "switch 2 \"sw2\": 8 ports, table 0/64, 0 flushes\n");

  /* announcing the same switch again changes nothing */
  OK (hw_switch (fx, 2, "sw2", 8, 64, &error));
  /* a different switch under the same id is refused */
  HW_FAILS (hw_switch (fx, 2, "other", 8, 64, &error),
            "switch_add switch 2: switch 2 exists as \"sw2\"");
  HW_FAILS (hw_switch (fx, 2, "sw2", 4, 64, &error), "with 8 ports");
  HW_FAILS (hw_switch (fx, 2, "sw2", 8, 32, &error), "and 64 table entries");
  HW_FAILS (hw_switch (fx, 0, "zero", 1, 1, &error), "switch id 0 is invalid");

  /* every call that names an unknown switch is refused */
  HW_FAILS (hw_windows (fx, 9, &error, ASM_RANGE (0, 1)),
            "windows_commit switch 9: no such switch");
  HW_FAILS (hw_begin (fx, 9, &error), "xlat_begin switch 9: no such switch");
  HW_FAILS (hw_set (fx, 9, 1, 0, &error), "xlat_set switch 9 key 1: no such "
                                          "switch");
  HW_FAILS (hw_remove (fx, 9, 1, &error),
            "xlat_remove switch 9 key 1: no such");
  HW_FAILS (hw_commit (fx, 9, &error), "xlat_commit switch 9: no such switch");
  HW_FAILS (NOT_FAILED (hw_bind (fx, 5, 9, 0, &error)),
            "device_bind device 5 to switch 9 port 0: no such switch");
  HW_FAILS (NOT_FAILED (hw_unbind (fx, 5, 9, 0, &error)),
            "device_unbind device 5 from switch 9 port 0: no such switch");
  HW_FAILS (hw_flush (fx, 9, 0, 0, &error),
            "cache_flush switch 9 range 0x0-0x0: no such switch");
  hw_abort (fx, 9); /* cannot fail */
  assert_check (fx);
}

static void
test_sim_windows (void **state)
{
  Fx *fx = *state;

  two_switches (fx);
  /* kept sorted by address, whatever order they come in */
  OK (hw_windows (fx, 1, &error, ASM_RANGE (0x300000, 0x3fffff),
                  ASM_RANGE (0x100000, 0x1fffff), ASM_RANGE (0, 0xfffff)));
  assert_dump_has (fx, "  window 0x0-0xfffff\n"
                       "  window 0x100000-0x1fffff\n"
                       "  window 0x300000-0x3fffff\n");
  /* each switch has its own windows */
  OK (hw_windows (fx, 2, &error, ASM_RANGE (0x400000, 0x4fffff)));
  assert_dump_has (fx, "  window 0x300000-0x3fffff\nswitch 2");

  /* overlapping or empty windows are refused and change nothing */
  HW_FAILS (hw_windows (fx, 1, &error, ASM_RANGE (0, 0xfffff),
                        ASM_RANGE (0x80000, 0x17ffff)),
            "windows_commit switch 1: windows 0x0-0xfffff and "
            "0x80000-0x17ffff overlap");
  HW_FAILS (hw_windows (fx, 1, &error, ASM_RANGE (0x5000, 0x5000),
                        ASM_RANGE (0x5000, 0x5000)),
            "overlap");
  HW_FAILS (hw_windows (fx, 1, &error, ASM_RANGE (0x2000, 0x1fff)),
            "window 0x2000-0x1fff is empty");

  /* a commit replaces all of them; the top of the space is usable */
  OK (hw_windows (fx, 1, &error, ASM_RANGE (G_MAXUINT64, G_MAXUINT64),
                  ASM_RANGE (0, 0)));
  assert_dump_has (fx, "  window 0x0-0x0\n"
                       "  window 0xffffffffffffffff-0xffffffffffffffff\n");
  assert_dump_lacks (fx, "0x300000");
  /* adjacent windows stay separate */
  OK (hw_windows (fx, 1, &error, ASM_RANGE (0x1000, 0x1fff),
                  ASM_RANGE (0, 0xfff)));
  assert_dump_has (fx, "  window 0x0-0xfff\n  window 0x1000-0x1fff\n");
  /* no windows at all */
  OK (hw_windows_v (fx, 1, NULL, 0, &error));
  assert_dump_lacks (fx, "0x1000-0x1fff");
  assert_check (fx);
}

static void
test_sim_xlat_staging (void **state)
{
  Fx *fx = *state;

  two_switches (fx);
  /* no update open */
  HW_FAILS (hw_set (fx, 1, 5, 0, &error), "xlat_set switch 1 key 5: no table "
                                          "update is open");
  HW_FAILS (hw_remove (fx, 1, 5, &error), "no table update is open");
  HW_FAILS (hw_commit (fx, 1, &error), "no table update is open");
  hw_abort (fx, 1); /* nothing to abort: no-op */

  OK (hw_begin (fx, 1, &error));
  HW_FAILS (hw_begin (fx, 1, &error), "xlat_begin switch 1: a table update is "
                                      "already open");
  OK (hw_set (fx, 1, 7, 0x1000, &error));
  OK (hw_set (fx, 1, 3, 0x3000, &error));
  /* staged, not committed */
  assert_dump_has (fx, "table 0/4");
  assert_dump_has (fx, "  update open: 2 entries staged\n"
                       "    entry key 3: partition 3, workload 103, virt "
                       "0x300000000, size 0x100000, offset 0x3000\n"
                       "    entry key 7:");
  /* the other switch's table is independent */
  HW_FAILS (hw_set (fx, 2, 1, 0, &error), "no table update is open");
  OK (hw_commit (fx, 1, &error));
  assert_dump_has (fx, "table 2/4");
  assert_dump_has (fx, "  entry key 3: partition 3, workload 103, virt "
                       "0x300000000, size 0x100000, offset 0x3000\n"
                       "  entry key 7: partition 7, workload 107, virt "
                       "0x700000000, size 0x100000, offset 0x1000\n");
  assert_dump_lacks (fx, "update open");
  HW_FAILS (hw_commit (fx, 1, &error), "no table update is open");

  /* replace by key, remove, remove an absent key */
  OK (hw_begin (fx, 1, &error));
  OK (hw_set (fx, 1, 7, 0x7777, &error));
  OK (hw_remove (fx, 1, 3, &error));
  OK (hw_remove (fx, 1, 3, &error));
  OK (hw_remove (fx, 1, 42, &error));
  /* the committed table is untouched until the commit */
  assert_dump_has (fx, "  entry key 3: ");
  assert_dump_has (fx, "offset 0x1000\n");
  OK (hw_commit (fx, 1, &error));
  assert_dump_has (fx, "table 1/4");
  assert_dump_lacks (fx, "entry key 3:");
  assert_dump_has (fx, "  entry key 7: partition 7, workload 107, virt "
                       "0x700000000, size 0x100000, offset 0x7777\n");

  /* abort drops the staged changes */
  OK (hw_begin (fx, 1, &error));
  OK (hw_remove (fx, 1, 7, &error));
  OK (hw_set (fx, 1, 9, 0x9, &error));
  hw_abort (fx, 1);
  hw_abort (fx, 1);
  assert_dump_has (fx, "table 1/4");
  assert_dump_has (fx, "entry key 7:");
  assert_dump_lacks (fx, "entry key 9:");
  assert_dump_lacks (fx, "update open");

  /* malformed entries */
  OK (hw_begin (fx, 1, &error));
  HW_FAILS (hw_set_entry (fx, 1, entry (0, 0, MIB, 0), &error), "key 0 is "
                                                                "invalid");
  HW_FAILS (hw_set_entry (fx, 1, entry (4, 0, 0, 0), &error),
            "xlat_set switch "
            "1 key 4: the entry's size is 0");
  HW_FAILS (hw_set_entry (fx, 1, entry (4, G_MAXUINT64 - 0xfff, 0x1001, 0),
                          &error),
            "virtual range 0xfffffffffffff000 + 0x1001 passes the end");
  /* the last byte of the space is fine, and so is any offset */
  OK (hw_set_entry (fx, 1, entry (4, G_MAXUINT64 - 0xfff, 0x1000, G_MAXUINT64),
                    &error));
  OK (hw_set_entry (fx, 1, entry (5, 0, G_MAXUINT64, 1), &error));
  OK (hw_commit (fx, 1, &error));
  assert_dump_has (fx, "entry key 4: partition 4, workload 104, virt "
                       "0xfffffffffffff000, size 0x1000, offset "
                       "0xffffffffffffffff\n");
  assert_check (fx);
}

static void
test_sim_xlat_capacity (void **state)
{
  Fx *fx = *state;

  two_switches (fx); /* switch 2 holds one entry */
  OK (hw_begin (fx, 2, &error));
  OK (hw_set (fx, 2, 1, 0x10, &error));
  OK (hw_commit (fx, 2, &error));

  /* a staged table may exceed the capacity while it is edited */
  OK (hw_begin (fx, 2, &error));
  OK (hw_set (fx, 2, 2, 0x20, &error));
  OK (hw_set (fx, 2, 3, 0x30, &error));
  HW_FAILS (hw_commit (fx, 2, &error), "xlat_commit switch 2: table full: 3 "
                                       "entries staged, capacity 1");
  /* the refused commit leaves the update open and the table as it was */
  assert_dump_has (fx, "table 1/1");
  assert_dump_has (fx, "update open: 3 entries staged");
  OK (hw_remove (fx, 2, 3, &error));
  HW_FAILS (hw_commit (fx, 2, &error), "table full: 2 entries staged");
  /* replacing the entry in place fits */
  OK (hw_remove (fx, 2, 1, &error));
  OK (hw_commit (fx, 2, &error));
  assert_dump_has (fx, "switch 2 \"sw2\": 2 ports, table 1/1, 0 flushes\n"
                       "  entry key 2: ");

  /* an update that stays within the capacity commits; a capacity of 0
   * takes an empty table only */
  OK (hw_switch (fx, 3, "none", 1, 0, &error));
  OK (hw_begin (fx, 3, &error));
  OK (hw_commit (fx, 3, &error));
  OK (hw_begin (fx, 3, &error));
  OK (hw_set (fx, 3, 1, 0, &error));
  HW_FAILS (hw_commit (fx, 3, &error), "table full: 1 entries staged, capacity "
                                       "0");
  hw_abort (fx, 3);
  assert_check (fx);
}

static void
test_sim_bind (void **state)
{
  Fx *fx = *state;

  two_switches (fx);
  /* port 0 is an ordinary port */
  OK (DONE (hw_bind (fx, 10, 1, 0, &error)));
  OK (DONE (hw_bind (fx, 11, 1, 3, &error)));
  OK (DONE (hw_bind (fx, 12, 2, 1, &error)));
  assert_dump_has (fx, "  port 0: device 10 \"dev10\"\n"
                       "  port 3: device 11 \"dev11\"\n");
  assert_dump_has (fx, "  port 1: device 12 \"dev12\"\n");
  assert_dump_has (fx, "sim: 2 switches, 3 devices bound, 0 VFs, 0 held\n");

  /* binding again at the same port succeeds and changes nothing */
  OK (DONE (hw_bind (fx, 10, 1, 0, &error)));
  /* the device elsewhere, the port taken, the port out of range */
  HW_FAILS (NOT_FAILED (hw_bind (fx, 10, 1, 1, &error)),
            "device_bind device 10 to switch 1 port 1: device 10 is already "
            "bound at switch 1 port 0");
  HW_FAILS (NOT_FAILED (hw_bind (fx, 10, 2, 0, &error)),
            "already bound at switch 1 port 0");
  HW_FAILS (NOT_FAILED (hw_bind (fx, 13, 1, 3, &error)),
            "device_bind device 13 to switch 1 port 3: port 3 is occupied by "
            "device 11");
  HW_FAILS (NOT_FAILED (hw_bind (fx, 13, 1, 4, &error)),
            "port 4 is out of range 0..3");
  HW_FAILS (NOT_FAILED (hw_bind (fx, 0, 1, 2, &error)),
            "device id 0 is invalid");
  OK (hw_switch (fx, 3, "portless", 0, 1, &error));
  HW_FAILS (NOT_FAILED (hw_bind (fx, 13, 3, 0, &error)),
            "switch 3 has no ports");

  /* unbind: at a port where the device is not, or of an unbound device,
   * succeeds and changes nothing (the device stays where it is) */
  OK (DONE (hw_unbind (fx, 10, 1, 1, &error)));
  OK (DONE (hw_unbind (fx, 10, 2, 0, &error)));
  assert_dump_has (fx, "device 10");
  HW_FAILS (NOT_FAILED (hw_unbind (fx, 10, 1, 9, &error)), "port 9 is out of "
                                                           "range 0..3");
  HW_FAILS (NOT_FAILED (hw_unbind (fx, 0, 1, 0, &error)), "device id 0");
  OK (DONE (hw_unbind (fx, 10, 1, 0, &error)));
  assert_dump_lacks (fx, "device 10");
  OK (DONE (hw_unbind (fx, 10, 1, 0, &error)));
  OK (DONE (hw_unbind (fx, 99, 1, 2, &error)));
  /* an unbound device with another one at the named port: nothing to do */
  OK (DONE (hw_unbind (fx, 10, 1, 3, &error)));
  assert_dump_has (fx, "port 3: device 11");

  /* the freed port and the unbound device can be used again */
  OK (DONE (hw_bind (fx, 13, 1, 0, &error)));
  OK (DONE (hw_bind (fx, 10, 1, 1, &error)));
  assert_dump_has (fx, "  port 0: device 13 \"dev13\"\n"
                       "  port 1: device 10 \"dev10\"\n"
                       "  port 3: device 11 \"dev11\"\n");
  /* device_wait with nothing pending */
  OK (hw_wait (fx, 10, &error));
  OK (hw_wait (fx, 77, &error));
  assert_check (fx);
}

static void
test_sim_hold (void **state)
{
  Fx *fx = *state;

  two_switches (fx);
  /* a device that is not there accesses nothing: holding it holds nothing */
  OK (hw_hold (fx, 10, &error));
  assert_dump_lacks (fx, "held: device 10");
  HW_FAILS (hw_hold (fx, 0, &error), "device id 0 is invalid");
  HW_FAILS (hw_release (fx, 0, &error), "device id 0 is invalid");
  OK (DONE (hw_bind (fx, 10, 1, 0, &error)));
  OK (DONE (hw_bind (fx, 4, 1, 1, &error)));
  OK (hw_hold (fx, 10, &error));
  OK (hw_hold (fx, 10, &error)); /* holding again changes nothing */
  OK (hw_hold (fx, 4, &error));
  assert_dump_has (fx, "held: device 4\nheld: device 10\n");
  assert_dump_has (fx, "0 VFs, 2 held\n");
  OK (hw_release (fx, 10, &error));
  assert_dump_lacks (fx, "held: device 10");
  OK (hw_release (fx, 10, &error)); /* not held: succeeds */
  OK (hw_release (fx, 55, &error)); /* never known: succeeds */
  /* a VF can be held */
  OK (hw_vf_create (fx, 10, 0, 20, &error));
  OK (hw_hold (fx, 20, &error));
  assert_dump_has (fx, "held: device 4\nheld: device 20\n");
  OK (hw_release (fx, 20, &error));
  OK (hw_release (fx, 4, &error));
  assert_dump_lacks (fx, "held:");
  assert_check (fx);
}

static void
test_sim_vf (void **state)
{
  Fx *fx = *state;

  two_switches (fx);
  HW_FAILS (hw_vf_create (fx, 10, 0, 20, &error),
            "vf_create VF 20 at PF 10 index 0: PF 10 is not present");
  OK (DONE (hw_bind (fx, 10, 1, 0, &error)));
  OK (DONE (hw_bind (fx, 11, 1, 1, &error)));
  OK (hw_vf_create (fx, 10, 1, 21, &error));
  OK (hw_vf_create (fx, 10, 0, 20, &error));
  OK (hw_vf_create (fx, 11, 0, 30, &error));
  assert_dump_has (fx, "vf 20: PF 10 index 0\n"
                       "vf 21: PF 10 index 1\n"
                       "vf 30: PF 11 index 0\n");
  /* the same VF again changes nothing */
  OK (hw_vf_create (fx, 10, 0, 20, &error));
  HW_FAILS (hw_vf_create (fx, 10, 0, 22, &error), "index 0 of PF 10 is in use "
                                                  "by VF 20");
  HW_FAILS (hw_vf_create (fx, 10, 2, 30, &error), "VF 30 already exists at PF "
                                                  "11 index 0");
  HW_FAILS (hw_vf_create (fx, 10, 2, 11, &error),
            "device 11 is bound at switch "
            "1 port 1");
  HW_FAILS (hw_vf_create (fx, 20, 0, 40, &error), "PF 20 is itself a VF");
  HW_FAILS (hw_vf_create (fx, 10, 2, 10, &error), "device 10 cannot be its own "
                                                  "VF");
  HW_FAILS (hw_vf_create (fx, 0, 2, 40, &error), "device id 0 is invalid");
  HW_FAILS (hw_vf_create (fx, 10, 2, 0, &error), "device id 0 is invalid");
  /* a VF is not bound to a port */
  HW_FAILS (NOT_FAILED (hw_bind (fx, 20, 1, 2, &error)),
            "device 20 is VF 0 of PF 10");

  /* destroy: idempotent, but never the wrong VF */
  HW_FAILS (hw_vf_destroy (fx, 10, 0, 21, &error),
            "vf_destroy VF 21 at PF 10 index 0: index 0 of PF 10 holds VF 20");
  HW_FAILS (hw_vf_destroy (fx, 10, 5, 21, &error), "VF 21 is at PF 10 index 1");
  HW_FAILS (hw_vf_destroy (fx, 10, 5, 0, &error), "device id 0 is invalid");
  OK (hw_vf_destroy (fx, 10, 0, 20, &error));
  OK (hw_vf_destroy (fx, 10, 0, 20, &error));
  OK (hw_vf_destroy (fx, 12, 3, 40, &error));
  assert_dump_lacks (fx, "vf 20:");
  /* the index is free again */
  OK (hw_vf_create (fx, 10, 0, 22, &error));
  assert_dump_has (fx, "vf 22: PF 10 index 0\n");
  assert_dump_has (fx, "3 VFs");
  assert_check (fx);
}

static void
test_sim_flush (void **state)
{
  Fx *fx = *state;

  two_switches (fx);
  OK (hw_flush (fx, 1, 0, 0xfff, &error));
  OK (hw_flush (fx, 1, 0, G_MAXUINT64, &error));
  OK (hw_flush (fx, 2, 5, 5, &error));
  HW_FAILS (hw_flush (fx, 1, 0x1000, 0xfff, &error),
            "cache_flush switch 1 range 0x1000-0xfff: the range is empty");
  assert_dump_has (fx, "switch 1 \"sw1\": 4 ports, table 0/4, 2 flushes\n");
  assert_dump_has (fx, "switch 2 \"sw2\": 2 ports, table 0/1, 1 flushes\n");
  assert_check (fx);
}

static void
test_sim_pending_binds (void **state)
{
  Fx *fx = *state;

  two_switches (fx);
  OK (DONE (hw_bind (fx, 9, 1, 3, &error)));
  asm_sim_set_pending_binds (fx->b, TRUE);

  OK (PENDING (hw_bind (fx, 10, 1, 0, &error)));
  assert_dump_has (fx, "  port 0: device 10 \"dev10\", bind pending\n");
  /* the pending bind holds its port; repeating it is still pending */
  HW_FAILS (NOT_FAILED (hw_bind (fx, 11, 1, 0, &error)),
            "port 0 is occupied by "
            "device 10");
  OK (PENDING (hw_bind (fx, 10, 1, 0, &error)));
  HW_FAILS (NOT_FAILED (hw_unbind (fx, 10, 1, 0, &error)),
            "a bind of device 10 is pending");
  /* the device is not present until the wait: holding it holds nothing */
  OK (hw_hold (fx, 10, &error));
  assert_dump_lacks (fx, "held: device");
  HW_FAILS (hw_vf_create (fx, 10, 0, 20, &error), "PF 10 is not present");
  /* a fault in the wait leaves it pending */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_BIND, TRUE);
  HW_FAILS (hw_wait (fx, 10, &error), "device_wait device 10: injected fault");
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_BIND, FALSE);
  OK (hw_wait (fx, 10, &error));
  assert_dump_has (fx, "  port 0: device 10 \"dev10\"\n");
  OK (hw_hold (fx, 10, &error));
  OK (hw_release (fx, 10, &error));
  /* already bound: done at once */
  OK (DONE (hw_bind (fx, 10, 1, 0, &error)));

  /* unbind: the device stays bound until the wait */
  OK (PENDING (hw_unbind (fx, 10, 1, 0, &error)));
  assert_dump_has (fx, "  port 0: device 10 \"dev10\", unbind pending\n");
  OK (PENDING (hw_unbind (fx, 10, 1, 0, &error)));
  HW_FAILS (NOT_FAILED (hw_bind (fx, 10, 1, 0, &error)),
            "an unbind of device 10 is pending");
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_UNBIND, TRUE);
  HW_FAILS (hw_wait (fx, 10, &error), "injected fault");
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_UNBIND, FALSE);
  OK (hw_wait (fx, 10, &error));
  assert_dump_lacks (fx, "device 10");
  /* nothing pending, nothing bound */
  OK (hw_wait (fx, 10, &error));
  OK (DONE (hw_unbind (fx, 10, 1, 0, &error)));

  /* off again: done at once */
  asm_sim_set_pending_binds (fx->b, FALSE);
  OK (DONE (hw_unbind (fx, 9, 1, 3, &error)));
  OK (DONE (hw_bind (fx, 10, 1, 0, &error)));
  assert_check (fx);
}

static void
test_sim_root_routes (void **state)
{
  Fx *fx = *state;
  g_autofree char *before = NULL, *after = NULL;

  two_switches (fx);
  /* one register file for every switch, kept sorted by address whatever
   * order the windows come in */
  OK (hw_root (fx, 1, &error, ASM_RANGE (0x300000, 0x3fffff),
               ASM_RANGE (0, 0xfffff)));
  OK (hw_root (fx, 2, &error, ASM_RANGE (0x100000, 0x1fffff)));
  assert_dump_has (fx, "root 0x0-0xfffff: switch 1\n"
                       "root 0x100000-0x1fffff: switch 2\n"
                       "root 0x300000-0x3fffff: switch 1\n");
  /* the switches' own windows registers are another thing */
  assert_dump_lacks (fx, "  window ");
  assert_int_equal (asm_sim_get_n_calls (fx->b), 4);

  /* setting what is set succeeds and changes nothing (an undo does it) */
  before = asm_sim_dump (fx->b);
  OK (hw_root (fx, 1, &error, ASM_RANGE (0, 0xfffff),
               ASM_RANGE (0x300000, 0x3fffff)));
  after = asm_sim_dump (fx->b);
  assert_string_equal (before, after);

  /* a call replaces every route of its switch, which may overlap the
   * ones it replaces */
  OK (hw_root (fx, 1, &error, ASM_RANGE (0x200000, 0x3fffff)));
  assert_dump_has (fx, "root 0x100000-0x1fffff: switch 2\n"
                       "root 0x200000-0x3fffff: switch 1\n");
  assert_dump_lacks (fx, "root 0x0-0xfffff");

  /* refused: an unknown switch (even with nothing to route), an empty
   * window, windows that overlap each other */
  HW_FAILS (hw_root (fx, 9, &error, ASM_RANGE (0, 1)),
            "root_routes switch 9: no such switch");
  HW_FAILS (hw_root_v (fx, 9, NULL, 0, &error),
            "root_routes switch 9: no such switch");
  HW_FAILS (hw_root (fx, 0, &error, ASM_RANGE (0, 1)),
            "root_routes switch 0: no such switch");
  HW_FAILS (hw_root (fx, 1, &error, ASM_RANGE (0x5000, 0x4fff)),
            "root_routes switch 1: window 0x5000-0x4fff is empty");
  HW_FAILS (hw_root (fx, 1, &error, ASM_RANGE (0x480000, 0x57ffff),
                     ASM_RANGE (0x400000, 0x4fffff)),
            "root_routes switch 1: windows 0x400000-0x4fffff and "
            "0x480000-0x57ffff overlap");
  HW_FAILS (hw_root (fx, 1, &error, ASM_RANGE (0x400000, 0x400000),
                     ASM_RANGE (0x400000, 0x400000)),
            "overlap");
  /* refused: a window over another switch's route, across its start, its
   * end, inside it or around it, wherever it is in the list */
  HW_FAILS (hw_root (fx, 1, &error, ASM_RANGE (0x80000, 0x100000)),
            "root_routes switch 1: window 0x80000-0x100000 overlaps the "
            "route 0x100000-0x1fffff to switch 2");
  HW_FAILS (hw_root (fx, 1, &error, ASM_RANGE (0x1fffff, 0x1fffff)),
            "window 0x1fffff-0x1fffff overlaps the route 0x100000-0x1fffff "
            "to switch 2");
  HW_FAILS (hw_root (fx, 1, &error, ASM_RANGE (0x180000, 0x18ffff)),
            "overlaps the route 0x100000-0x1fffff to switch 2");
  HW_FAILS (hw_root (fx, 1, &error, ASM_RANGE (0, G_MAXUINT64)),
            "overlaps the route 0x100000-0x1fffff to switch 2");
  HW_FAILS (hw_root (fx, 1, &error, ASM_RANGE (0x200000, 0x3fffff),
                     ASM_RANGE (0, 0xfffff), ASM_RANGE (0x100000, 0x100000)),
            "window 0x100000-0x100000 overlaps the route 0x100000-0x1fffff "
            "to switch 2");
  HW_FAILS (hw_root (fx, 2, &error, ASM_RANGE (0x100000, 0x1fffff),
                     ASM_RANGE (0x3fffff, 0x400000)),
            "root_routes switch 2: window 0x3fffff-0x400000 overlaps the "
            "route 0x200000-0x3fffff to switch 1");

  /* adjacent routes of different switches are fine, and so is the top of
   * the space */
  OK (hw_root (fx, 1, &error, ASM_RANGE (G_MAXUINT64, G_MAXUINT64),
               ASM_RANGE (0x200000, 0x3fffff), ASM_RANGE (0, 0xfffff)));
  assert_dump_has (fx, "root 0x0-0xfffff: switch 1\n"
                       "root 0x100000-0x1fffff: switch 2\n"
                       "root 0x200000-0x3fffff: switch 1\n"
                       "root 0xffffffffffffffff-0xffffffffffffffff: switch "
                       "1\n");
  assert_check (fx);

  /* an empty list: nothing is routed to the switch any more; again, it
   * changes nothing */
  OK (hw_root_v (fx, 1, NULL, 0, &error));
  assert_dump_lacks (fx, ": switch 1\n");
  assert_dump_has (fx, "root 0x100000-0x1fffff: switch 2\n");
  g_free (before);
  before = asm_sim_dump (fx->b);
  OK (hw_root_v (fx, 1, NULL, 0, &error));
  g_free (after);
  after = asm_sim_dump (fx->b);
  assert_string_equal (before, after);

  /* what one switch gave up another can take */
  OK (hw_root (fx, 2, &error, ASM_RANGE (0, 0x3fffff)));
  assert_dump_has (fx, "0 flushes\nroot 0x0-0x3fffff: switch 2\n");
  assert_dump_lacks (fx, "0x100000-0x1fffff");
  assert_check (fx);
}

static void
test_sim_switch_remove (void **state)
{
  Fx *fx = *state;
  g_autofree char *before = NULL, *after = NULL;

  two_switches (fx);
  OK (hw_switch (fx, 3, "sw3", 2, 2, &error));
  OK (hw_switch_remove (fx, 2, &error));
  assert_dump_has (fx, "sim: 2 switches");
  assert_dump_lacks (fx, "switch 2 ");
  assert_int_equal (asm_sim_get_n_calls (fx->b), 4);

  /* an inverse: removing an absent switch succeeds and changes nothing */
  before = asm_sim_dump (fx->b);
  OK (hw_switch_remove (fx, 2, &error));
  OK (hw_switch_remove (fx, 77, &error));
  after = asm_sim_dump (fx->b);
  assert_string_equal (before, after);
  assert_int_equal (asm_sim_get_n_calls (fx->b), 6);
  HW_FAILS (hw_switch_remove (fx, 0, &error),
            "switch_remove switch 0: switch id 0 is invalid");

  /* the removed switch is gone for every call; its id can join again, as
   * a new switch */
  HW_FAILS (hw_windows (fx, 2, &error, ASM_RANGE (0, 1)),
            "windows_commit switch 2: no such switch");
  HW_FAILS (hw_root (fx, 2, &error, ASM_RANGE (0, 1)),
            "root_routes switch 2: no such switch");
  OK (hw_switch (fx, 2, "other", 1, 3, &error));
  assert_dump_has (fx, "switch 2 \"other\": 1 ports, table 0/3, 0 flushes\n");

  /* refused while the switch has anything: windows */
  OK (hw_windows (fx, 3, &error, ASM_RANGE (0, 0xfff)));
  HW_FAILS (hw_switch_remove (fx, 3, &error),
            "switch_remove switch 3: the switch still has 1 windows");
  OK (hw_windows_v (fx, 3, NULL, 0, &error));
  /* table entries */
  OK (hw_begin (fx, 3, &error));
  OK (hw_set (fx, 3, 1, 0, &error));
  OK (hw_set (fx, 3, 2, 0, &error));
  OK (hw_commit (fx, 3, &error));
  HW_FAILS (hw_switch_remove (fx, 3, &error),
            "switch_remove switch 3: the switch still has 2 table entries");
  OK (hw_begin (fx, 3, &error));
  OK (hw_remove (fx, 3, 1, &error));
  OK (hw_remove (fx, 3, 2, &error));
  OK (hw_commit (fx, 3, &error));
  /* an open update, even one that stages nothing */
  OK (hw_begin (fx, 3, &error));
  HW_FAILS (hw_switch_remove (fx, 3, &error),
            "switch_remove switch 3: a table update is open");
  hw_abort (fx, 3);
  /* a bound port, port 0 included */
  OK (DONE (hw_bind (fx, 5, 3, 1, &error)));
  HW_FAILS (hw_switch_remove (fx, 3, &error),
            "switch_remove switch 3: port 1 is bound to device 5");
  OK (DONE (hw_unbind (fx, 5, 3, 1, &error)));
  OK (DONE (hw_bind (fx, 5, 3, 0, &error)));
  HW_FAILS (hw_switch_remove (fx, 3, &error), "port 0 is bound to device 5");
  OK (DONE (hw_unbind (fx, 5, 3, 0, &error)));
  /* a bind or an unbind still pending */
  asm_sim_set_pending_binds (fx->b, TRUE);
  OK (PENDING (hw_bind (fx, 6, 3, 1, &error)));
  HW_FAILS (hw_switch_remove (fx, 3, &error), "port 1 is bound to device 6");
  OK (hw_wait (fx, 6, &error));
  OK (PENDING (hw_unbind (fx, 6, 3, 1, &error)));
  HW_FAILS (hw_switch_remove (fx, 3, &error), "port 1 is bound to device 6");
  OK (hw_wait (fx, 6, &error));
  asm_sim_set_pending_binds (fx->b, FALSE);
  /* root routes */
  OK (hw_root (fx, 3, &error, ASM_RANGE (0, 0xfff),
               ASM_RANGE (0x2000, 0x2fff)));
  HW_FAILS (hw_switch_remove (fx, 3, &error),
            "switch_remove switch 3: the root complex still routes 2 "
            "windows to the switch");
  OK (hw_root_v (fx, 3, NULL, 0, &error));

  /* empty again: it goes, and nothing of it stays (a usage counter is the
   * partition's, not the switch's) */
  OK (hw_begin (fx, 3, &error));
  OK (hw_set (fx, 3, 9, 0, &error));
  OK (hw_commit (fx, 3, &error));
  assert_usage (fx, 3, 9, MIB / 4);
  OK (hw_begin (fx, 3, &error));
  OK (hw_remove (fx, 3, 9, &error));
  OK (hw_commit (fx, 3, &error));
  OK (hw_flush (fx, 3, 0, 0, &error));
  OK (hw_switch_remove (fx, 3, &error));
  assert_dump_lacks (fx, "switch 3 ");
  assert_dump_has (fx, "usage: partition 9, 1 reads\n");
  assert_check (fx);
  OK (hw_switch (fx, 3, "sw3", 2, 2, &error));
  assert_dump_has (fx, "switch 3 \"sw3\": 2 ports, table 0/2, 0 flushes\n");
  assert_check (fx);
}

static void
test_sim_usage (void **state)
{
  Fx *fx = *state;
  const guint64 half = G_GUINT64_CONSTANT (1) << 63;
  guint64 bytes;

  two_switches (fx);
  OK (hw_begin (fx, 1, &error));
  OK (hw_set (fx, 1, 1, 0, &error)); /* 1 MiB */
  OK (hw_set_entry (fx, 1, entry (2, 0x10000000, 15, 0), &error));
  OK (hw_set_entry (fx, 1, entry (3, 0x20000000, 7, 0), &error));
  OK (hw_set_entry (fx, 1, entry (4, half, half, 0), &error));
  OK (hw_commit (fx, 1, &error));

  /* size/4 at the first read, size/8 more at each one after, up to the
   * size, then the size */
  for (guint64 r = 0; r <= 8; r++)
    assert_usage (fx, 1, 1, MIN (MIB, MIB / 4 + MIB / 8 * r));
  assert_usage (fx, 1, 1, MIB);
  /* sizes that are not a multiple of 8: 15 grows by 1 from 3 ... */
  for (guint64 r = 0; r <= 12; r++)
    assert_usage (fx, 1, 2, 3 + r);
  assert_usage (fx, 1, 2, 15);
  assert_usage (fx, 1, 2, 15);
  /* ... and 7 by nothing (7/8 is 0) */
  for (guint r = 0; r < 4; r++)
    assert_usage (fx, 1, 3, 1);
  /* the largest size, without overflow */
  assert_usage (fx, 1, 4, half / 4);
  assert_usage (fx, 1, 4, half / 4 + half / 8);
  for (guint r = 2; r < 6; r++)
    assert_usage (fx, 1, 4, half / 4 + half / 8 * r);
  assert_usage (fx, 1, 4, half);
  assert_usage (fx, 1, 4, half);
  assert_dump_has (fx, "usage: partition 1, 10 reads\n"
                       "usage: partition 2, 15 reads\n"
                       "usage: partition 3, 4 reads\n"
                       "usage: partition 4, 8 reads\n");

  /* refused, leaving the answer and every counter alone: an unknown
   * switch, partition 0, no entry with that key on the switch, an entry
   * only staged */
  bytes = 12345;
  HW_FAILS (hw_usage (fx, 9, 1, &bytes, &error),
            "usage_read switch 9 partition 1: no such switch");
  HW_FAILS (hw_usage (fx, 1, 0, &bytes, &error),
            "usage_read switch 1 partition 0: partition id 0 is invalid");
  HW_FAILS (hw_usage (fx, 2, 1, &bytes, &error),
            "usage_read switch 2 partition 1: no committed table entry has "
            "key 1");
  HW_FAILS (hw_usage (fx, 1, 5, &bytes, &error),
            "no committed table entry has key 5");
  OK (hw_begin (fx, 2, &error));
  OK (hw_set (fx, 2, 5, 0, &error));
  HW_FAILS (hw_usage (fx, 2, 5, &bytes, &error),
            "usage_read switch 2 partition 5: no committed table entry has "
            "key 5");
  assert_int_equal (bytes, 12345);
  assert_dump_lacks (fx, "usage: partition 5");
  OK (hw_commit (fx, 2, &error));
  /* each partition has its own count, whatever the reads in between */
  assert_usage (fx, 2, 5, MIB / 4);
  assert_usage (fx, 1, 3, 1);
  assert_usage (fx, 2, 5, MIB / 4 + MIB / 8);

  /* the count is the partition's: it goes on after a move to another
   * switch and a resize, with the size of the entry read */
  OK (hw_begin (fx, 2, &error));
  OK (hw_remove (fx, 2, 5, &error));
  OK (hw_commit (fx, 2, &error));
  OK (hw_begin (fx, 1, &error));
  OK (hw_remove (fx, 1, 3, &error));
  OK (hw_set_entry (fx, 1, entry (5, 0x50000000, 8 * MIB, 0), &error));
  OK (hw_commit (fx, 1, &error));
  HW_FAILS (hw_usage (fx, 2, 5, &bytes, &error), "no committed table entry");
  assert_usage (fx, 1, 5, 2 * MIB + MIB * 2);
  assert_dump_has (fx, "usage: partition 5, 3 reads\n");
  /* a counter outlives its entry (the id is never reused) */
  assert_dump_has (fx, "usage: partition 3, 5 reads\n");
  /* every read is counted, refused or not: setup 8, reads of 1 to 4
   * 10 + 15 + 4 + 8, refusals and staging 7, commit and reads 1 + 3, the
   * move and its reads 9 */
  assert_int_equal (asm_sim_get_n_calls (fx->b),
                    8 + 10 + 15 + 4 + 8 + 7 + 1 + 3 + 9);
  assert_check (fx);
}

/* ---------------------------------------------------------------------- */
/* The dump                                                               */
/* ---------------------------------------------------------------------- */

static void
test_sim_dump_golden (void **state)
{
  Fx *fx = *state;
  g_autofree char *dump = NULL;

  for (guint i = 0; i < N_STEPS; i++)
    OK (run_step (fx, i, &error));
  dump = asm_sim_dump (fx->b);
  assert_string_equal (dump, script_dump);
  assert_int_equal (asm_sim_get_n_calls (fx->b), N_STEPS);
  assert_check (fx);
}

/* The same hardware state reached in different orders dumps the same. */
static void
test_sim_dump_deterministic (void **state)
{
  Fx *a = fx_new (), *b = fx_new ();
  g_autofree char *da = NULL, *db = NULL;
  const guint n = 40;
  guint64 bytes;
  Fx *fx;

  fx = a;
  for (guint i = 1; i <= n; i++)
    OK (hw_switch (fx, i, "s", 2, 8, &error));
  for (guint i = 1; i <= n; i++)
    {
      OK (DONE (hw_bind (fx, 1000 + i, i, i % 2, &error)));
      OK (hw_begin (fx, i, &error));
      for (guint k = 1; k <= 8; k++)
        OK (hw_set (fx, i, k * 3, k, &error));
      OK (hw_commit (fx, i, &error));
      OK (hw_vf_create (fx, 1000 + i, 0, 5000 + i, &error));
      OK (hw_hold (fx, 5000 + i, &error));
      OK (hw_root (fx, i, &error, ASM_RANGE ((guint64) i << 20,
                                             ((guint64) i << 20) + 0xfff),
                   ASM_RANGE (((guint64) i << 20) + 0x2000,
                              ((guint64) i << 20) + 0x2fff)));
      OK (hw_usage (fx, i, (i % 8 + 1) * 3, &bytes, &error));
    }

  fx = b;
  for (guint i = n; i >= 1; i--)
    OK (hw_switch (fx, i, "s", 2, 8, &error));
  for (guint j = 0; j < n; j++)
    {
      guint i = (j * 7) % n + 1; /* another order: 7 is prime to 40 */

      OK (DONE (hw_bind (fx, 1000 + i, i, i % 2, &error)));
      OK (hw_begin (fx, i, &error));
      for (guint k = 8; k >= 1; k--)
        OK (hw_set (fx, i, k * 3, k, &error));
      OK (hw_commit (fx, i, &error));
    }
  for (guint i = n; i >= 1; i--)
    OK (hw_vf_create (fx, 1000 + i, 0, 5000 + i, &error));
  for (guint j = 0; j < n; j++)
    OK (hw_hold (fx, 5000 + (j * 13) % n + 1, &error));
  for (guint i = n; i >= 1; i--)
    OK (hw_root (fx, i, &error,
                 ASM_RANGE (((guint64) i << 20) + 0x2000,
                            ((guint64) i << 20) + 0x2fff),
                 ASM_RANGE ((guint64) i << 20, ((guint64) i << 20) + 0xfff)));
  for (guint j = 0; j < n; j++)
    {
      guint i = (j * 13) % n + 1;

      OK (hw_usage (fx, i, (i % 8 + 1) * 3, &bytes, &error));
    }

  da = asm_sim_dump (a->b);
  db = asm_sim_dump (b->b);
  assert_string_equal (da, db);
  /* the routes and the counters are in it */
  assert_non_null (strstr (da, "root 0x1000000-0x1000fff: switch 16\n"
                               "root 0x1002000-0x1002fff: switch 16\n"));
  assert_non_null (strstr (da, "usage: partition 3, 5 reads\n"
                               "usage: partition 6, 5 reads\n"));
  fx_free (a);
  fx_free (b);
}

int
main (void)
{
#define T(name) cmocka_unit_test_setup_teardown (name, setup, teardown)
  const struct CMUnitTest tests[] = {
    T (test_sim_new),
    T (test_sim_switch_add),
    T (test_sim_windows),
    T (test_sim_xlat_staging),
    T (test_sim_xlat_capacity),
    T (test_sim_bind),
    T (test_sim_hold),
    T (test_sim_vf),
    T (test_sim_flush),
    T (test_sim_pending_binds),
    T (test_sim_root_routes),
    T (test_sim_switch_remove),
    T (test_sim_usage),
    T (test_sim_dump_golden),
    cmocka_unit_test (test_sim_dump_deterministic),
  };
#undef T

  return cmocka_run_group_tests_name ("sim-ops", tests, NULL, NULL);
}
