/* test-sim.c: unit tests of the sim backend (layer 4)
 *
 * The "sim" group drives the backend through its AsmBackendOps table, as a
 * fabric would: every operation, the validation a hardware write gets, the
 * staging of translation updates and the table capacity, the root
 * complex's routes, switch removal, the usage counters' sequence,
 * idempotent inverses, every fault mode, and the determinism of the dump.  Every
 * refused call is checked to leave the dump unchanged and to report
 * ASM_ERROR_BACKEND naming the call; every test ends with asm_sim_check().
 *
 * The "sim-verify" group builds real fabrics on a sim backend and checks
 * asm_sim_verify(): it agrees with the fabric after each operation, after
 * every injected fault, and finds each kind of difference made by writing
 * the simulated hardware behind the fabric's back.  It runs when the
 * program's first argument is "verify" (each group is its own TAP stream,
 * so the groups are registered as separate tests).
 *
 * The "sim-persist" group (first argument "persist", second the path of
 * sim-crash-child) checks the persistent sim: the file holds every kind of
 * register after every call and loads back the same; damaged and foreign
 * files are refused; a call whose write fails changes nothing in memory
 * nor in the file; faults are not saved; a fabric verifies against a sim
 * opened on the file; and a child killed with SIGKILL at random moments
 * always leaves a file that loads and keeps the invariants.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <glib/gstdio.h>

#include <asm/asm.h>

#include "asm-test.h"

#include "asm-sim-private.h"

#define X "0x%" G_GINT64_MODIFIER "x"
#define MIB (G_GUINT64_CONSTANT (1) << 20)

/* ---------------------------------------------------------------------- */
/* Fixture and helpers                                                    */
/* ---------------------------------------------------------------------- */

typedef struct {
  AsmBackend *b;
  const AsmBackendOps *ops;
  gpointer self;
} Fx;

static Fx *
fx_new (void)
{
  Fx *fx = g_new0 (Fx, 1);

  fx->b = asm_sim_backend_new ();
  fx->ops = asm_sim_get_ops ();
  fx->self = asm_backend_get_self (fx->b);
  return fx;
}

static void
fx_free (Fx *fx)
{
  g_autoptr(GError) error = NULL;

  if (!asm_sim_check (fx->b, &error))
    fail_msg ("asm_sim_check: %s", error->message);
  asm_backend_unref (fx->b);
  g_free (fx);
}

static int
setup (void **state)
{
  *state = fx_new ();
  return 0;
}

static int
teardown (void **state)
{
  fx_free (*state);
  return 0;
}

/* The operations, as a fabric calls them. */

static gboolean
hw_switch (Fx *fx, AsmId sw, const char *name, guint32 n_ports,
           guint32 capacity, GError **error)
{
  return fx->ops->switch_add (fx->self, sw, name, n_ports, capacity, error);
}

static gboolean
hw_windows_v (Fx *fx, AsmId sw, const AsmRange *w, guint n, GError **error)
{
  return fx->ops->windows_commit (fx->self, sw, w, n, error);
}
#define hw_windows(fx, sw, error, ...) \
  hw_windows_v ((fx), (sw), (const AsmRange[]) { __VA_ARGS__ }, \
                G_N_ELEMENTS (((const AsmRange[]) { __VA_ARGS__ })), (error))

static gboolean
hw_begin (Fx *fx, AsmId sw, GError **error)
{
  return fx->ops->xlat_begin (fx->self, sw, error);
}

static AsmXlatEntry
entry (AsmId key, guint64 virt, guint64 size, guint64 offset)
{
  AsmXlatEntry e = { key, key, 100 + key, virt, size, offset };

  return e;
}

static gboolean
hw_set_entry (Fx *fx, AsmId sw, AsmXlatEntry e, GError **error)
{
  return fx->ops->xlat_set (fx->self, sw, &e, error);
}

static gboolean
hw_set (Fx *fx, AsmId sw, AsmId key, guint64 offset, GError **error)
{
  return hw_set_entry (fx, sw, entry (key, (guint64) key << 32, MIB, offset),
                       error);
}

static gboolean
hw_remove (Fx *fx, AsmId sw, AsmId key, GError **error)
{
  return fx->ops->xlat_remove (fx->self, sw, key, error);
}

static gboolean
hw_commit (Fx *fx, AsmId sw, GError **error)
{
  return fx->ops->xlat_commit (fx->self, sw, error);
}

static void
hw_abort (Fx *fx, AsmId sw)
{
  fx->ops->xlat_abort (fx->self, sw);
}

static AsmBackendStatus
hw_bind (Fx *fx, AsmId dev, AsmId sw, guint32 port, GError **error)
{
  g_autofree char *name = g_strdup_printf ("dev%u", dev);

  return fx->ops->device_bind (fx->self, dev, name, sw, port, error);
}

static AsmBackendStatus
hw_unbind (Fx *fx, AsmId dev, AsmId sw, guint32 port, GError **error)
{
  return fx->ops->device_unbind (fx->self, dev, sw, port, error);
}

static gboolean
hw_wait (Fx *fx, AsmId dev, GError **error)
{
  return fx->ops->device_wait (fx->self, dev, 1000, error);
}

static gboolean
hw_hold (Fx *fx, AsmId dev, GError **error)
{
  return fx->ops->device_hold (fx->self, dev, error);
}

static gboolean
hw_release (Fx *fx, AsmId dev, GError **error)
{
  return fx->ops->device_release (fx->self, dev, error);
}

static gboolean
hw_vf_create (Fx *fx, AsmId pf, guint32 index, AsmId vf, GError **error)
{
  return fx->ops->vf_create (fx->self, pf, index, vf, error);
}

static gboolean
hw_vf_destroy (Fx *fx, AsmId pf, guint32 index, AsmId vf, GError **error)
{
  return fx->ops->vf_destroy (fx->self, pf, index, vf, error);
}

static gboolean
hw_flush (Fx *fx, AsmId sw, guint64 first, guint64 last, GError **error)
{
  AsmRange r = ASM_RANGE (first, last);

  return fx->ops->cache_flush (fx->self, sw, &r, error);
}

static gboolean
hw_root_v (Fx *fx, AsmId sw, const AsmRange *w, guint n, GError **error)
{
  return fx->ops->root_routes (fx->self, sw, w, n, error);
}
#define hw_root(fx, sw, error, ...) \
  hw_root_v ((fx), (sw), (const AsmRange[]) { __VA_ARGS__ }, \
             G_N_ELEMENTS (((const AsmRange[]) { __VA_ARGS__ })), (error))

static gboolean
hw_switch_remove (Fx *fx, AsmId sw, GError **error)
{
  return fx->ops->switch_remove (fx->self, sw, error);
}

static gboolean
hw_usage (Fx *fx, AsmId sw, AsmId partition, guint64 *out_bytes,
          GError **error)
{
  return fx->ops->usage_read (fx->self, sw, partition, out_bytes, error);
}

/* usage_read must answer `expected` */
static void
usage_is_at (Fx *fx, AsmId sw, AsmId partition, guint64 expected,
             const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  guint64 bytes = G_MAXUINT64;

  if (!hw_usage (fx, sw, partition, &bytes, &error))
    FAIL_AT (file, line, "usage_read switch %u partition %u: %s", sw,
             partition, error->message);
  if (bytes != expected)
    FAIL_AT (file, line, "usage_read switch %u partition %u: " X
             ", expected " X, sw, partition, bytes, expected);
}
#define assert_usage(fx, sw, partition, expected) \
  usage_is_at ((fx), (sw), (partition), (expected), __FILE__, __LINE__)

#define DONE(expr) ((expr) == ASM_BACKEND_DONE)
#define PENDING(expr) ((expr) == ASM_BACKEND_PENDING)
#define NOT_FAILED(expr) ((expr) != ASM_BACKEND_FAILED)

static void
fails_at (gboolean ok, GError *err, const char *substr, const char *before,
          const char *after, const char *expr, const char *file, int line)
{
  g_autoptr(GError) e = err;

  if (ok)
    FAIL_AT (file, line, "%s succeeded, expected \"%s\"", expr, substr);
  if (e == NULL)
    FAIL_AT (file, line, "%s failed without an error", expr);
  if (!g_error_matches (e, ASM_ERROR, ASM_ERROR_BACKEND))
    FAIL_AT (file, line, "%s: got %s (%s), expected %s", expr,
             e->domain == ASM_ERROR ? test_code_name (e->code)
                                    : g_quark_to_string (e->domain),
             e->message, test_code_name (ASM_ERROR_BACKEND));
  if (strstr (e->message, substr) == NULL)
    FAIL_AT (file, line, "%s: error \"%s\" does not contain \"%s\"", expr,
             e->message, substr);
  if (strcmp (before, after) != 0)
    FAIL_AT (file, line, "%s failed but changed the hardware:\n--- before\n"
             "%s--- after\n%s", expr, before, after);
}

/* HW_FAILS (expr, substr): expr, which may use `&error`, is FALSE with an
 * ASM_ERROR_BACKEND error that contains substr, and the hardware (the dump
 * of fx) did not change. */
#define HW_FAILS(expr, substr) \
  G_STMT_START { \
    GError *error = NULL; \
    g_autofree char *before_ = asm_sim_dump (fx->b); \
    gboolean ok_ = (expr); \
    g_autofree char *after_ = asm_sim_dump (fx->b); \
    fails_at (ok_, error, (substr), before_, after_, #expr, __FILE__, \
              __LINE__); \
  } G_STMT_END

static void
dump_has_at (Fx *fx, const char *text, gboolean want, const char *file,
             int line)
{
  g_autofree char *dump = asm_sim_dump (fx->b);

  if ((strstr (dump, text) != NULL) != want)
    FAIL_AT (file, line, "dump %s \"%s\":\n%s",
             want ? "does not contain" : "contains", text, dump);
}
#define assert_dump_has(fx, text) \
  dump_has_at ((fx), (text), TRUE, __FILE__, __LINE__)
#define assert_dump_lacks(fx, text) \
  dump_has_at ((fx), (text), FALSE, __FILE__, __LINE__)

static void
check_at (Fx *fx, const char *file, int line)
{
  g_autoptr(GError) error = NULL;

  if (!asm_sim_check (fx->b, &error))
    FAIL_AT (file, line, "asm_sim_check: %s", error->message);
}
#define assert_check(fx) check_at ((fx), __FILE__, __LINE__)

/* Two switches: 1 "sw1" (4 ports, 4 entries), 2 "sw2" (2 ports, 1 entry). */
static void
two_switches (Fx *fx)
{
  OK (hw_switch (fx, 1, "sw1", 4, 4, &error));
  OK (hw_switch (fx, 2, "sw2", 2, 1, &error));
}

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
/* Fault injection                                                        */
/* ---------------------------------------------------------------------- */

static void
test_sim_fail_call (void **state)
{
  Fx *fx = *state;

  two_switches (fx);
  assert_int_equal (asm_sim_get_n_calls (fx->b), 2);
  /* markers and xlat_abort are not counted; refused calls are */
  fx->ops->transaction_begin (fx->self, "t");
  fx->ops->undo_begin (fx->self);
  fx->ops->transaction_end (fx->self, FALSE);
  hw_abort (fx, 1);
  assert_int_equal (asm_sim_get_n_calls (fx->b), 2);
  HW_FAILS (hw_commit (fx, 1, &error), "no table update");
  assert_int_equal (asm_sim_get_n_calls (fx->b), 3);

  /* the next call */
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_begin (fx, 1, &error), "xlat_begin switch 1: injected fault "
                                      "(call 4)");
  /* one-shot: the call after it succeeds */
  OK (hw_begin (fx, 1, &error));
  assert_int_equal (asm_sim_get_n_calls (fx->b), 5);

  /* the third call from now, whatever it is */
  asm_sim_fail_call (fx->b, 3);
  OK (hw_set (fx, 1, 1, 0, &error));
  OK (hw_set (fx, 1, 2, 0, &error));
  HW_FAILS (hw_commit (fx, 1, &error), "xlat_commit switch 1: injected fault "
                                       "(call 8)");
  /* the failed commit left the update open */
  assert_dump_has (fx, "update open: 2 entries staged");
  OK (hw_commit (fx, 1, &error));
  OK (DONE (hw_bind (fx, 5, 1, 0, &error)));

  /* each kind of call can be hit; messages name the call */
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (NOT_FAILED (hw_bind (fx, 6, 1, 1, &error)),
            "device_bind device 6 to switch 1 port 1: injected fault (call "
            "11)");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (NOT_FAILED (hw_unbind (fx, 5, 1, 0, &error)),
            "device_unbind device 5 from switch 1 port 0: injected fault");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_hold (fx, 5, &error), "device_hold device 5: injected fault");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_release (fx, 5, &error), "device_release device 5: injected");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_vf_create (fx, 5, 0, 7, &error),
            "vf_create VF 7 at PF 5 index 0: "
            "injected fault");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_vf_destroy (fx, 5, 0, 7, &error),
            "vf_destroy VF 7 at PF 5 index "
            "0: injected fault");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_flush (fx, 1, 0, 1, &error),
            "cache_flush switch 1 range 0x0-0x1: "
            "injected fault");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_windows (fx, 1, &error, ASM_RANGE (0, 1)),
            "windows_commit switch 1: injected fault");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_switch (fx, 3, "sw3", 1, 1, &error), "switch_add switch 3: "
                                                    "injected fault");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_wait (fx, 5, &error), "device_wait device 5: injected fault");
  /* the injected fault comes before validation */
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_begin (fx, 9, &error), "xlat_begin switch 9: injected fault");

  /* a new request replaces the pending one; 0 cancels */
  asm_sim_fail_call (fx->b, 1);
  asm_sim_fail_call (fx->b, 2);
  OK (hw_flush (fx, 1, 0, 1, &error));
  HW_FAILS (hw_flush (fx, 1, 0, 1, &error), "injected fault");
  asm_sim_fail_call (fx->b, 1);
  asm_sim_fail_call (fx->b, 0);
  OK (hw_flush (fx, 1, 0, 1, &error));
  /* markers between the request and the call do not move it */
  asm_sim_fail_call (fx->b, 2);
  fx->ops->transaction_begin (fx->self, "t");
  OK (hw_begin (fx, 2, &error));
  hw_abort (fx, 2);
  HW_FAILS (hw_begin (fx, 2, &error), "injected fault");
  fx->ops->transaction_end (fx->self, TRUE);
  OK (hw_begin (fx, 2, &error));
  hw_abort (fx, 2);
  assert_false (asm_sim_is_crashed (fx->b));
  assert_check (fx);
}

static void
test_sim_fail_kind (void **state)
{
  Fx *fx = *state;

  two_switches (fx);
  OK (DONE (hw_bind (fx, 5, 1, 0, &error)));

  asm_sim_fail_kind (fx->b, ASM_SIM_OP_XLAT, TRUE);
  HW_FAILS (hw_begin (fx, 1, &error), "xlat_begin switch 1: injected fault");
  HW_FAILS (hw_begin (fx, 1, &error), "injected fault"); /* persistent */
  OK (hw_windows (fx, 1, &error, ASM_RANGE (0, 0xfff)));
  OK (hw_flush (fx, 1, 0, 1, &error));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_XLAT, FALSE);
  OK (hw_begin (fx, 1, &error));
  OK (hw_set (fx, 1, 1, 0, &error));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_XLAT, TRUE);
  HW_FAILS (hw_set (fx, 1, 2, 0, &error), "xlat_set switch 1 key 2: injected");
  HW_FAILS (hw_remove (fx, 1, 1, &error),
            "xlat_remove switch 1 key 1: injected");
  HW_FAILS (hw_commit (fx, 1, &error), "xlat_commit switch 1: injected");
  hw_abort (fx, 1); /* abort cannot fail */
  assert_dump_lacks (fx, "update open");
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_XLAT, FALSE);

  asm_sim_fail_kind (fx->b, ASM_SIM_OP_WINDOWS, TRUE);
  HW_FAILS (hw_windows (fx, 1, &error, ASM_RANGE (0, 1)), "injected fault");
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_WINDOWS, FALSE);

  asm_sim_fail_kind (fx->b, ASM_SIM_OP_BIND, TRUE);
  HW_FAILS (NOT_FAILED (hw_bind (fx, 6, 1, 1, &error)), "injected fault");
  OK (DONE (hw_unbind (fx, 5, 1, 0, &error)));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_BIND, FALSE);
  OK (DONE (hw_bind (fx, 5, 1, 0, &error)));

  asm_sim_fail_kind (fx->b, ASM_SIM_OP_UNBIND, TRUE);
  HW_FAILS (NOT_FAILED (hw_unbind (fx, 5, 1, 0, &error)), "injected fault");
  OK (DONE (hw_bind (fx, 6, 1, 1, &error)));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_UNBIND, FALSE);

  asm_sim_fail_kind (fx->b, ASM_SIM_OP_HOLD, TRUE);
  HW_FAILS (hw_hold (fx, 5, &error), "injected fault");
  HW_FAILS (hw_release (fx, 5, &error), "injected fault");
  OK (hw_vf_create (fx, 5, 0, 7, &error));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_HOLD, FALSE);

  asm_sim_fail_kind (fx->b, ASM_SIM_OP_VF, TRUE);
  HW_FAILS (hw_vf_create (fx, 5, 1, 8, &error), "injected fault");
  HW_FAILS (hw_vf_destroy (fx, 5, 0, 7, &error), "injected fault");
  OK (hw_hold (fx, 7, &error));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_VF, FALSE);

  asm_sim_fail_kind (fx->b, ASM_SIM_OP_FLUSH, TRUE);
  HW_FAILS (hw_flush (fx, 1, 0, 1, &error), "injected fault");
  OK (hw_release (fx, 7, &error));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_FLUSH, FALSE);

  /* ANY: every call, switch_add and device_wait included */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ANY, TRUE);
  HW_FAILS (hw_switch (fx, 3, "sw3", 1, 1, &error), "injected fault");
  HW_FAILS (hw_wait (fx, 5, &error), "injected fault");
  HW_FAILS (hw_flush (fx, 1, 0, 1, &error), "injected fault");
  HW_FAILS (hw_release (fx, 7, &error), "injected fault");
  /* kinds are independent: clearing one leaves the others */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_FLUSH, TRUE);
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ANY, FALSE);
  OK (hw_switch (fx, 3, "sw3", 1, 1, &error));
  HW_FAILS (hw_flush (fx, 1, 0, 1, &error), "injected fault");
  asm_sim_clear_faults (fx->b);
  OK (hw_flush (fx, 1, 0, 1, &error));
  assert_check (fx);
}

static void
test_sim_crash (void **state)
{
  Fx *fx = *state;
  g_autofree char *before = NULL, *after = NULL;
  guint64 n;

  two_switches (fx);
  OK (hw_begin (fx, 1, &error));
  asm_sim_crash_after (fx->b, 2);
  assert_false (asm_sim_is_crashed (fx->b));
  OK (hw_set (fx, 1, 1, 0x100, &error));
  assert_false (asm_sim_is_crashed (fx->b));
  OK (hw_set (fx, 1, 2, 0x200, &error));
  assert_true (asm_sim_is_crashed (fx->b));
  before = asm_sim_dump (fx->b);
  HW_FAILS (hw_commit (fx, 1, &error), "xlat_commit switch 1: simulated crash "
                                       "(call 6)");
  HW_FAILS (hw_flush (fx, 2, 0, 0, &error), "simulated crash");
  HW_FAILS (hw_switch (fx, 3, "sw3", 1, 1, &error), "simulated crash");
  /* the crash applies during undo too; abort does nothing */
  fx->ops->transaction_begin (fx->self, "t");
  fx->ops->undo_begin (fx->self);
  HW_FAILS (hw_remove (fx, 1, 2, &error), "simulated crash");
  hw_abort (fx, 1);
  fx->ops->transaction_end (fx->self, FALSE);
  HW_FAILS (NOT_FAILED (hw_bind (fx, 4, 1, 0, &error)), "simulated crash");
  assert_true (asm_sim_is_crashed (fx->b));
  after = asm_sim_dump (fx->b);
  assert_string_equal (before, after);
  assert_dump_has (fx, "update open: 2 entries staged");

  /* the restart: faults cleared, registers and the call count kept */
  n = asm_sim_get_n_calls (fx->b);
  asm_sim_clear_faults (fx->b);
  assert_false (asm_sim_is_crashed (fx->b));
  assert_int_equal (asm_sim_get_n_calls (fx->b), n);
  g_free (after);
  after = asm_sim_dump (fx->b);
  assert_string_equal (before, after);
  /* the recovering process finds the open update and aborts it */
  HW_FAILS (hw_begin (fx, 1, &error), "already open");
  hw_abort (fx, 1);
  OK (hw_begin (fx, 1, &error));
  OK (hw_commit (fx, 1, &error));
  assert_dump_has (fx, "table 0/4");

  /* crash_after (0): the very next call fails */
  asm_sim_crash_after (fx->b, 0);
  assert_true (asm_sim_is_crashed (fx->b));
  HW_FAILS (hw_flush (fx, 1, 0, 0, &error), "simulated crash");
  asm_sim_clear_faults (fx->b);
  OK (hw_flush (fx, 1, 0, 0, &error));
  assert_check (fx);
}

static void
test_sim_undo_suppresses_faults (void **state)
{
  Fx *fx = *state;

  two_switches (fx);
  OK (DONE (hw_bind (fx, 5, 1, 0, &error)));

  /* fail_kind: the forward step fails, the undo goes through */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ANY, TRUE);
  fx->ops->transaction_begin (fx->self, "move");
  HW_FAILS (hw_begin (fx, 1, &error), "injected fault");
  fx->ops->undo_begin (fx->self);
  OK (DONE (hw_unbind (fx, 5, 1, 0, &error)));
  OK (hw_begin (fx, 1, &error));
  OK (hw_set (fx, 1, 1, 0, &error));
  OK (hw_commit (fx, 1, &error));
  OK (hw_windows (fx, 1, &error, ASM_RANGE (0, 0xfff)));
  fx->ops->transaction_end (fx->self, FALSE);
  /* after the transaction the kind fails again */
  HW_FAILS (hw_flush (fx, 1, 0, 0, &error), "injected fault");
  /* and a new transaction starts outside any undo */
  fx->ops->transaction_begin (fx->self, "again");
  HW_FAILS (hw_flush (fx, 1, 0, 0, &error), "injected fault");
  fx->ops->transaction_end (fx->self, FALSE);
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ANY, FALSE);

  /* fail_call: a fault that falls inside the undo is spent */
  fx->ops->transaction_begin (fx->self, "t");
  asm_sim_fail_call (fx->b, 2);
  OK (DONE (hw_bind (fx, 5, 1, 0, &error)));
  fx->ops->undo_begin (fx->self);
  OK (DONE (hw_unbind (fx, 5, 1, 0, &error))); /* the targeted call */
  fx->ops->transaction_end (fx->self, FALSE);
  OK (DONE (hw_bind (fx, 5, 1, 0, &error)));
  OK (hw_flush (fx, 1, 0, 0, &error));

  /* the crash is not suppressed */
  fx->ops->transaction_begin (fx->self, "t");
  asm_sim_crash_after (fx->b, 0);
  fx->ops->undo_begin (fx->self);
  HW_FAILS (NOT_FAILED (hw_unbind (fx, 5, 1, 0, &error)), "simulated crash");
  fx->ops->transaction_end (fx->self, FALSE);
  asm_sim_clear_faults (fx->b);

  /* clear_faults forgets an undo in progress */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_FLUSH, TRUE);
  fx->ops->undo_begin (fx->self);
  OK (hw_flush (fx, 1, 0, 0, &error));
  asm_sim_clear_faults (fx->b);
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_FLUSH, TRUE);
  HW_FAILS (hw_flush (fx, 1, 0, 0, &error), "injected fault");
  asm_sim_clear_faults (fx->b);
  assert_check (fx);
}

/* root_routes, switch_remove and usage_read under every fault mode */
static void
test_sim_fault_new_calls (void **state)
{
  Fx *fx = *state;
  guint64 bytes = 12345;

  two_switches (fx);
  OK (hw_switch (fx, 3, "sw3", 1, 1, &error));
  OK (hw_begin (fx, 1, &error));
  OK (hw_set (fx, 1, 1, 0, &error));
  OK (hw_commit (fx, 1, &error));
  assert_int_equal (asm_sim_get_n_calls (fx->b), 6);

  /* one-shot, before validation; the messages name the call */
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_root (fx, 1, &error, ASM_RANGE (0, 0xfff)),
            "root_routes switch 1: injected fault (call 7)");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_root (fx, 9, &error, ASM_RANGE (1, 0)),
            "root_routes switch 9: injected fault (call 8)");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_switch_remove (fx, 3, &error),
            "switch_remove switch 3: injected fault (call 9)");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_switch_remove (fx, 99, &error),
            "switch_remove switch 99: injected fault");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_usage (fx, 1, 1, &bytes, &error),
            "usage_read switch 1 partition 1: injected fault (call 11)");
  /* the failed read answered nothing and did not count */
  assert_int_equal (bytes, 12345);
  assert_dump_lacks (fx, "usage:");
  assert_usage (fx, 1, 1, MIB / 4);
  assert_int_equal (asm_sim_get_n_calls (fx->b), 12);

  /* kinds: ROOT fails root_routes only */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ROOT, TRUE);
  HW_FAILS (hw_root (fx, 1, &error, ASM_RANGE (0, 0xfff)),
            "root_routes switch 1: injected fault");
  HW_FAILS (hw_root_v (fx, 1, NULL, 0, &error), "injected fault");
  OK (hw_windows (fx, 1, &error, ASM_RANGE (0, 0xfff)));
  OK (hw_flush (fx, 1, 0, 0xfff, &error));
  assert_usage (fx, 1, 1, MIB / 4 + MIB / 8);
  OK (hw_switch_remove (fx, 3, &error));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ROOT, FALSE);
  OK (hw_root (fx, 1, &error, ASM_RANGE (0, 0xfff)));
  /* nor does WINDOWS, which is windows_commit's */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_WINDOWS, TRUE);
  OK (hw_root (fx, 2, &error, ASM_RANGE (0x1000, 0x1fff)));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_WINDOWS, FALSE);

  /* USAGE fails usage_read only */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_USAGE, TRUE);
  HW_FAILS (hw_usage (fx, 1, 1, &bytes, &error),
            "usage_read switch 1 partition 1: injected fault");
  OK (hw_root (fx, 2, &error, ASM_RANGE (0x2000, 0x2fff)));
  OK (hw_switch (fx, 3, "sw3", 1, 1, &error));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_USAGE, FALSE);
  assert_usage (fx, 1, 1, MIB / 4 + MIB / 8 * 2);

  /* ANY fails them all, switch_remove included */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ANY, TRUE);
  HW_FAILS (hw_root (fx, 2, &error, ASM_RANGE (0x3000, 0x3fff)),
            "injected fault");
  HW_FAILS (hw_switch_remove (fx, 3, &error), "switch_remove switch 3: "
                                              "injected fault");
  HW_FAILS (hw_usage (fx, 1, 1, &bytes, &error), "injected fault");
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ANY, FALSE);

  /* undo suppresses them: a failed root change and the undo of a
   * switch_add go through */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ANY, TRUE);
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ROOT, TRUE);
  fx->ops->transaction_begin (fx->self, "grow");
  HW_FAILS (hw_root (fx, 2, &error, ASM_RANGE (0x2000, 0x3fff)),
            "injected fault");
  fx->ops->undo_begin (fx->self);
  OK (hw_root (fx, 2, &error, ASM_RANGE (0x2000, 0x2fff))); /* the old */
  OK (hw_switch_remove (fx, 3, &error));
  OK (hw_switch_remove (fx, 3, &error));
  fx->ops->transaction_end (fx->self, FALSE);
  HW_FAILS (hw_root (fx, 2, &error, ASM_RANGE (0x2000, 0x2fff)),
            "injected fault");
  asm_sim_clear_faults (fx->b);
  assert_dump_lacks (fx, "switch 3 ");
  /* a one-shot that falls on an undo call is spent */
  fx->ops->transaction_begin (fx->self, "t");
  asm_sim_fail_call (fx->b, 2);
  OK (hw_root (fx, 2, &error, ASM_RANGE (0x2000, 0x3fff)));
  fx->ops->undo_begin (fx->self);
  OK (hw_root (fx, 2, &error, ASM_RANGE (0x2000, 0x2fff)));
  fx->ops->transaction_end (fx->self, FALSE);
  OK (hw_root (fx, 2, &error, ASM_RANGE (0x2000, 0x2fff)));

  /* the crash stops them all, undo or not */
  asm_sim_crash_after (fx->b, 0);
  HW_FAILS (hw_root (fx, 1, &error, ASM_RANGE (0, 0xfff)),
            "root_routes switch 1: simulated crash");
  HW_FAILS (hw_switch_remove (fx, 2, &error),
            "switch_remove switch 2: simulated crash");
  HW_FAILS (hw_usage (fx, 1, 1, &bytes, &error),
            "usage_read switch 1 partition 1: simulated crash");
  fx->ops->transaction_begin (fx->self, "t");
  fx->ops->undo_begin (fx->self);
  HW_FAILS (hw_root_v (fx, 2, NULL, 0, &error), "simulated crash");
  HW_FAILS (hw_switch_remove (fx, 77, &error), "simulated crash");
  fx->ops->transaction_end (fx->self, FALSE);
  asm_sim_clear_faults (fx->b);
  assert_usage (fx, 1, 1, MIB / 4 + MIB / 8 * 3);
  assert_dump_has (fx, "root 0x0-0xfff: switch 1\n"
                       "root 0x2000-0x2fff: switch 2\n");
  assert_check (fx);
}

/* A script that uses every operation.  Step i returns its result. */
#define N_STEPS 29

static gboolean
run_step (Fx *fx, guint i, GError **error)
{
  switch (i)
    {
    case 0: return hw_switch (fx, 1, "sw1", 4, 4, error);
    case 1: return hw_switch (fx, 2, "sw2", 2, 1, error);
    case 2: return hw_windows (fx, 1, error, ASM_RANGE (0x100000, 0x1fffff),
                               ASM_RANGE (0, 0xfffff));
    case 3: return hw_windows (fx, 2, error, ASM_RANGE (0x200000, 0x2fffff));
    case 4: return hw_begin (fx, 1, error);
    case 5: return hw_set (fx, 1, 10, 0x10, error);
    case 6: return hw_set (fx, 1, 5, 0x5, error);
    case 7: return hw_commit (fx, 1, error);
    case 8: return hw_begin (fx, 1, error);
    case 9: return hw_remove (fx, 1, 10, error);
    case 10: return hw_set (fx, 1, 5, 0x55, error);
    case 11: return hw_commit (fx, 1, error);
    case 12: return DONE (hw_bind (fx, 20, 1, 0, error));
    case 13: return DONE (hw_bind (fx, 21, 2, 1, error));
    case 14: return hw_vf_create (fx, 20, 0, 30, error);
    case 15: return hw_hold (fx, 30, error);
    case 16: return hw_hold (fx, 21, error);
    case 17: return hw_flush (fx, 1, 0, 0xfff, error);
    case 18: return hw_release (fx, 30, error);
    case 19: return DONE (hw_unbind (fx, 21, 2, 1, error));
    case 20: return hw_vf_destroy (fx, 20, 0, 30, error);
    case 21: return hw_vf_create (fx, 20, 3, 31, error);
    case 22: return hw_begin (fx, 2, error);
    case 23: return hw_set (fx, 2, 7, 0x7, error);
    case 24: return hw_root (fx, 1, error, ASM_RANGE (0x100000, 0x1fffff),
                             ASM_RANGE (0, 0xfffff));
    case 25: return hw_root (fx, 2, error, ASM_RANGE (0x200000, 0x2fffff));
    case 26:
      {
        guint64 bytes = 0;

        return hw_usage (fx, 1, 5, &bytes, error) && bytes == MIB / 4;
      }
    case 27: return hw_switch (fx, 3, "sw3", 1, 1, error);
    case 28: return hw_switch_remove (fx, 3, error);
    default: g_assert_not_reached ();
    }
}

static const char script_dump[] =
  "sim: 2 switches, 1 devices bound, 1 VFs, 1 held\n"
  "switch 1 \"sw1\": 4 ports, table 1/4, 1 flushes\n"
  "  window 0x0-0xfffff\n"
  "  window 0x100000-0x1fffff\n"
  "  entry key 5: partition 5, workload 105, virt 0x500000000, size "
  "0x100000, offset 0x55\n"
  "  port 0: device 20 \"dev20\"\n"
  "switch 2 \"sw2\": 2 ports, table 0/1, 0 flushes\n"
  "  window 0x200000-0x2fffff\n"
  "  update open: 1 entries staged\n"
  "    entry key 7: partition 7, workload 107, virt 0x700000000, size "
  "0x100000, offset 0x7\n"
  "root 0x0-0xfffff: switch 1\n"
  "root 0x100000-0x1fffff: switch 1\n"
  "root 0x200000-0x2fffff: switch 2\n"
  "vf 31: PF 20 index 3\n"
  "held: device 21\n"
  "usage: partition 5, 1 reads\n";

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

/* Fail each step of the script in turn: the failed step changes nothing,
 * and when it is retried the script ends where it would have. */
static void
test_sim_every_step_fails_cleanly (void **state)
{
  for (guint k = 0; k < N_STEPS; k++)
    {
      Fx *fx = fx_new ();
      g_autofree char *dump = NULL;

      for (guint i = 0; i < k; i++)
        OK (run_step (fx, i, &error));
      asm_sim_fail_call (fx->b, 1);
      HW_FAILS (run_step (fx, k, &error), "injected fault");
      assert_check (fx);
      for (guint i = k; i < N_STEPS; i++)
        OK (run_step (fx, i, &error));
      dump = asm_sim_dump (fx->b);
      assert_string_equal (dump, script_dump);
      assert_int_equal (asm_sim_get_n_calls (fx->b), N_STEPS + 1);
      fx_free (fx);
    }
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

/* ---------------------------------------------------------------------- */
/* Verify (against a real fabric)                                         */
/* ---------------------------------------------------------------------- */

typedef struct {
  Fx *fx;
  AsmFabric *fabric;
  AsmId sw1, sw2;      /* switches: 4 ports, 8 entries; 2 ports, 8 entries */
  AsmId nic, pf, vf;   /* endpoint at sw1 port 0, PF at sw2 port 1, its VF */
  AsmId wl, part;      /* a workload and its partition */
  AsmId part_sw;       /* the switch the partition is on */
} Fab;

static AsmId
add_switch (AsmFabric *fabric, const char *name, guint32 n_ports)
{
  AsmSwitchSpec spec = {
    .name = name,
    .bandwidth = 10000,
    .latency_ns = 100,
    .table_capacity = 8,
    .n_ports = n_ports,
  };
  g_autoptr(GError) error = NULL;
  AsmId id = ASM_ID_NONE;

  if (!asm_fabric_add_switch (fabric, &spec, &id, &error))
    fail_msg ("add_switch %s: %s", name, error->message);
  return id;
}

static void
verify_ok_at (Fab *f, const char *file, int line)
{
  g_autoptr(GError) error = NULL;

  if (!asm_sim_verify (f->fx->b, f->fabric, &error))
    {
      g_autofree char *dump = asm_sim_dump (f->fx->b);

      FAIL_AT (file, line, "asm_sim_verify: %s\n%s", error->message, dump);
    }
  if (!asm_fabric_check (f->fabric, &error))
    FAIL_AT (file, line, "asm_fabric_check: %s", error->message);
}
#define assert_verify_ok(f) verify_ok_at ((f), __FILE__, __LINE__)

static void
verify_differs_at (Fab *f, const char *expected, const char *file, int line)
{
  g_autoptr(GError) error = NULL;

  if (asm_sim_verify (f->fx->b, f->fabric, &error))
    FAIL_AT (file, line, "asm_sim_verify passed, expected \"%s\"", expected);
  if (!g_error_matches (error, ASM_ERROR, ASM_ERROR_FAILED))
    FAIL_AT (file, line, "asm_sim_verify: wrong error: %s", error->message);
  if (strstr (error->message, expected) == NULL)
    FAIL_AT (file, line, "asm_sim_verify: \"%s\" does not contain \"%s\"",
             error->message, expected);
}
#define assert_verify_differs(f, ...) \
  G_STMT_START { \
    g_autofree char *exp_ = g_strdup_printf (__VA_ARGS__); \
    verify_differs_at ((f), exp_, __FILE__, __LINE__); \
  } G_STMT_END

static Fab *
fab_new (gboolean with_partition)
{
  Fab *f = g_new0 (Fab, 1);
  g_autoptr(GError) error = NULL;

  f->fx = fx_new ();
  f->fabric = asm_fabric_new ("f", 0, (G_GUINT64_CONSTANT (1) << 36) - 1,
                              MIB, f->fx->b, &error);
  if (f->fabric == NULL)
    fail_msg ("asm_fabric_new: %s", error->message);
  f->sw1 = add_switch (f->fabric, "sw1", 4);
  f->sw2 = add_switch (f->fabric, "sw2", 2);
  if (!asm_fabric_add_device (f->fabric, "nic", ASM_DEVICE_ENDPOINT, MIB,
                              f->sw1, 0, &f->nic, &error) ||
      !asm_fabric_add_device (f->fabric, "pf", ASM_DEVICE_PF, MIB, f->sw2, 1,
                              &f->pf, &error) ||
      !asm_fabric_set_sriov (f->fabric, f->pf, 4, MIB, &error) ||
      !asm_fabric_create_vf (f->fabric, f->pf, &f->vf, &error) ||
      !asm_fabric_add_workload (f->fabric, "wl", &f->wl, &error))
    fail_msg ("building the fabric: %s", error->message);
  if (with_partition)
    {
      AsmPartitionRequest req = { .size = 4 * MIB };
      AsmPartitionInfo info;
      guint64 virt;

      if (!asm_fabric_request_partition (f->fabric, f->wl, &req, &f->part,
                                         &virt, &error))
        fail_msg ("request_partition: %s", error->message);
      assert_true (asm_fabric_get_partition_info (f->fabric, f->part, &info));
      f->part_sw = info.switch_id;
    }
  return f;
}

static void
fab_free (Fab *f)
{
  asm_fabric_unref (f->fabric);
  fx_free (f->fx);
  g_free (f);
}

static void
test_verify_matches (void **state)
{
  Fab *f = fab_new (TRUE);
  Fx *fx = f->fx;

  assert_verify_ok (f);
  /* the fabric's calls reached the hardware */
  assert_dump_has (fx, "2 switches, 2 devices bound, 1 VFs, 0 held");
  assert_dump_has (fx, "window ");
  assert_dump_has (fx, "entry key ");
  assert_dump_has (fx, "root 0x");
  fab_free (f);

  /* VFs created in an order where their ids do not follow (PF, index) */
  f = fab_new (TRUE);
  fx = f->fx;
  {
    g_autoptr(GError) error = NULL;
    AsmId pf2, vf2, vf3;

    if (!asm_fabric_add_device (f->fabric, "pf2", ASM_DEVICE_PF, MIB, f->sw2,
                                0, &pf2, &error) ||
        !asm_fabric_set_sriov (f->fabric, pf2, 4, MIB, &error) ||
        !asm_fabric_create_vf (f->fabric, pf2, &vf2, &error) ||
        !asm_fabric_create_vf (f->fabric, f->pf, &vf3, &error))
      fail_msg ("%s", error->message);
    assert_true (pf2 > f->pf && vf3 > vf2);
    assert_verify_ok (f);
    assert_dump_has (fx, "3 devices bound, 3 VFs");
  }
  fab_free (f);

  /* the switches' configuration is compared: the sim of one fabric
   * checked against another fabric whose first switch differs */
  {
    static const struct {
      const char *name;
      guint32 n_ports, capacity;
      const char *expected;
    } cases[] = {
      { "sw1", 3, 8, "switch 1: 4 ports in hardware, 3 in the model" },
      { "sw1", 4, 9, "switch 1: table capacity 8 in hardware, 9 in the "
                     "model" },
      { "other", 4, 8, "switch 1: name \"sw1\" in hardware, \"other\" in "
                       "the model" },
    };
    Fab *g = fab_new (FALSE);

    assert_int_equal (g->sw1, 1);
    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(AsmBackend) b2 = asm_sim_backend_new ();
        g_autoptr(AsmFabric) other = asm_fabric_new ("o", 0,
                                                     (1u << 30) - 1, MIB, b2,
                                                     &error);
        AsmSwitchSpec spec = { .name = cases[i].name, .bandwidth = 10000,
                               .latency_ns = 100,
                               .table_capacity = cases[i].capacity,
                               .n_ports = cases[i].n_ports };
        AsmId id;

        assert_non_null (other);
        assert_true (asm_fabric_add_switch (other, &spec, &id, &error));
        assert_int_equal (id, 1);
        spec.name = "sw2";
        spec.n_ports = 2;
        spec.table_capacity = 8;
        assert_true (asm_fabric_add_switch (other, &spec, &id, &error));
        assert_false (asm_sim_verify (g->fx->b, other, &error));
        assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_FAILED));
        if (strstr (error->message, cases[i].expected) == NULL)
          fail_msg ("\"%s\" does not contain \"%s\"", error->message,
                    cases[i].expected);
      }
    fab_free (g);
  }

  /* an empty fabric matches an empty sim */
  {
    g_autoptr(GError) error = NULL;
    Fx *fx2 = fx_new ();
    g_autoptr(AsmFabric) fabric = asm_fabric_new ("e", 0, (1u << 30) - 1,
                                                  MIB, fx2->b, &error);

    assert_non_null (fabric);
    assert_true (asm_sim_verify (fx2->b, fabric, &error));
    g_clear_pointer (&fabric, asm_fabric_unref);
    fx_free (fx2);
  }
}

/* Each kind of difference, made behind the fabric's back, is found and
 * named; putting the hardware back makes verify pass again. */
static void
test_verify_finds_differences (void **state)
{
  Fab *f = fab_new (TRUE);
  Fx *fx = f->fx;
  g_autoptr(GArray) windows = asm_fabric_get_switch_windows (f->fabric,
                                                             f->part_sw);
  g_autoptr(GArray) table = asm_fabric_get_xlat_table (f->fabric,
                                                       f->part_sw);
  AsmXlatEntry e, changed;
  AsmRange extra;
  AsmId other_sw = f->part_sw == f->sw1 ? f->sw2 : f->sw1;

  assert_verify_ok (f);
  assert_true (windows->len > 0);
  assert_int_equal (table->len, 1);
  e = g_array_index (table, AsmXlatEntry, 0);
  assert_int_equal (e.key, f->part);

  /* a window too many, then one too few */
  extra = g_array_index (windows, AsmRange, windows->len - 1);
  extra.first = extra.last + 1 + MIB;
  extra.last = extra.first + MIB - 1;
  g_array_append_val (windows, extra);
  OK (hw_windows_v (fx, f->part_sw, (AsmRange *) windows->data, windows->len,
                    &error));
  assert_verify_differs (f, "switch %u: window " X "-" X " is in hardware "
                         "but not in the model", f->part_sw, extra.first,
                         extra.last);
  OK (hw_windows_v (fx, f->part_sw, (AsmRange *) windows->data,
                    windows->len - 2, &error));
  extra = g_array_index (windows, AsmRange, windows->len - 2);
  assert_verify_differs (f, "switch %u: window " X "-" X " is in the model "
                         "but not in hardware", f->part_sw, extra.first,
                         extra.last);
  OK (hw_windows_v (fx, f->part_sw, (AsmRange *) windows->data,
                    windows->len - 1, &error));
  assert_verify_ok (f);

  /* a table entry: changed, missing, extra, and an update left open */
  changed = e;
  changed.offset += MIB;
  OK (hw_begin (fx, f->part_sw, &error));
  OK (hw_set_entry (fx, f->part_sw, changed, &error));
  assert_verify_differs (f, "switch %u: a table update is open",
                         f->part_sw);
  OK (hw_commit (fx, f->part_sw, &error));
  assert_verify_differs (f, "switch %u: table entry key %u: offset " X
                         " in hardware, " X " in the model", f->part_sw,
                         e.key, changed.offset, e.offset);
  /* every field is compared */
  for (guint field = 0; field < 4; field++)
    {
      g_autofree char *expected = NULL;

      changed = e;
      switch (field)
        {
        case 0:
          changed.partition = 4241;
          expected = g_strdup_printf ("partition 4241 in hardware, %u in the "
                                      "model", e.partition);
          break;
        case 1:
          changed.workload = 4242;
          expected = g_strdup_printf ("workload 4242 in hardware, %u in the "
                                      "model", e.workload);
          break;
        case 2:
          changed.virt_first += MIB;
          expected = g_strdup_printf ("virt_first " X " in hardware, " X
                                      " in the model", changed.virt_first,
                                      e.virt_first);
          break;
        default:
          changed.size += MIB;
          expected = g_strdup_printf ("size " X " in hardware, " X " in the "
                                      "model", changed.size, e.size);
          break;
        }
      OK (hw_begin (fx, f->part_sw, &error));
      OK (hw_set_entry (fx, f->part_sw, changed, &error));
      OK (hw_commit (fx, f->part_sw, &error));
      assert_verify_differs (f, "switch %u: table entry key %u: %s",
                             f->part_sw, e.key, expected);
    }
  OK (hw_begin (fx, f->part_sw, &error));
  OK (hw_remove (fx, f->part_sw, e.key, &error));
  OK (hw_commit (fx, f->part_sw, &error));
  assert_verify_differs (f, "switch %u: table entry key %u is in the model "
                         "but not in hardware", f->part_sw, e.key);
  OK (hw_begin (fx, f->part_sw, &error));
  OK (hw_set_entry (fx, f->part_sw, e, &error));
  OK (hw_commit (fx, f->part_sw, &error));
  assert_verify_ok (f);
  changed = entry (777, 0, MIB, 0);
  OK (hw_begin (fx, other_sw, &error));
  OK (hw_set_entry (fx, other_sw, changed, &error));
  OK (hw_commit (fx, other_sw, &error));
  assert_verify_differs (f, "switch %u: table entry key 777 is in hardware "
                         "but not in the model", other_sw);
  OK (hw_begin (fx, other_sw, &error));
  OK (hw_remove (fx, other_sw, 777, &error));
  OK (hw_commit (fx, other_sw, &error));
  assert_verify_ok (f);

  /* ports */
  OK (DONE (hw_bind (fx, 888, f->sw1, 3, &error)));
  assert_verify_differs (f, "switch %u port 3: device 888 in hardware, free "
                         "in the model", f->sw1);
  OK (DONE (hw_unbind (fx, 888, f->sw1, 3, &error)));
  OK (DONE (hw_unbind (fx, f->nic, f->sw1, 0, &error)));
  assert_verify_differs (f, "switch %u port 0: free in hardware, device %u "
                         "in the model", f->sw1, f->nic);
  OK (DONE (hw_bind (fx, 888, f->sw1, 0, &error)));
  assert_verify_differs (f, "switch %u port 0: device 888 in hardware, "
                         "device %u in the model", f->sw1, f->nic);
  OK (DONE (hw_unbind (fx, 888, f->sw1, 0, &error)));
  OK (DONE (hw_bind (fx, f->nic, f->sw1, 0, &error)));
  assert_verify_ok (f);

  /* a bind or unbind still pending */
  asm_sim_set_pending_binds (fx->b, TRUE);
  OK (PENDING (hw_unbind (fx, f->nic, f->sw1, 0, &error)));
  assert_verify_differs (f, "switch %u port 0: device %u has an unbind "
                         "pending in hardware", f->sw1, f->nic);
  OK (hw_wait (fx, f->nic, &error));
  OK (PENDING (hw_bind (fx, f->nic, f->sw1, 0, &error)));
  assert_verify_differs (f, "switch %u port 0: device %u has a bind pending "
                         "in hardware", f->sw1, f->nic);
  OK (hw_wait (fx, f->nic, &error));
  asm_sim_set_pending_binds (fx->b, FALSE);
  assert_verify_ok (f);

  /* VFs */
  OK (hw_vf_create (fx, f->pf, 3, 889, &error));
  assert_verify_differs (f, "PF %u VF index 3: VF 889 in hardware, none in "
                         "the model", f->pf);
  OK (hw_vf_destroy (fx, f->pf, 3, 889, &error));
  {
    AsmDeviceInfo vf;

    assert_true (asm_fabric_get_device_info (f->fabric, f->vf, &vf));
    OK (hw_vf_destroy (fx, f->pf, vf.vf_index, f->vf, &error));
    assert_verify_differs (f, "PF %u VF index %u: none in hardware, VF %u in "
                           "the model", f->pf, vf.vf_index, f->vf);
    OK (hw_vf_create (fx, f->pf, vf.vf_index, 890, &error));
    assert_verify_differs (f, "PF %u VF index %u: VF 890 in hardware, VF %u "
                           "in the model", f->pf, vf.vf_index, f->vf);
    OK (hw_vf_destroy (fx, f->pf, vf.vf_index, 890, &error));
    OK (hw_vf_create (fx, f->pf, vf.vf_index, f->vf, &error));
  }
  assert_verify_ok (f);

  /* a device left held */
  OK (hw_hold (fx, f->nic, &error));
  assert_verify_differs (f, "device %u is held in hardware", f->nic);
  OK (hw_release (fx, f->nic, &error));
  assert_verify_ok (f);

  /* a switch the fabric does not know; it is the first difference, as
   * switches are compared before everything else */
  OK (hw_hold (fx, f->nic, &error));
  OK (hw_switch (fx, 999, "ghost", 1, 1, &error));
  assert_verify_differs (f, "hardware differs from the model: switch 999 is "
                         "in hardware but not in the model");
  fab_free (f);
}

/* The root complex's routes are compared with asm_fabric_get_root_map():
 * each kind of difference is found and named, after the switches'
 * registers (which still match) and before the VFs. */
static void
test_verify_root_map (void **state)
{
  Fab *f = fab_new (TRUE);
  Fx *fx = f->fx;
  AsmId p = f->part_sw, o = p == f->sw1 ? f->sw2 : f->sw1;
  g_autoptr(GArray) map = asm_fabric_get_root_map (f->fabric);
  g_autoptr(GArray) pw = asm_fabric_get_switch_windows (f->fabric, p);
  g_autoptr(GArray) ow = asm_fabric_get_switch_windows (f->fabric, o);
  g_autoptr(GArray) moved = NULL;
  AsmRange *w = (AsmRange *) pw->data, last, cut;
  g_autofree char *line = NULL;

  assert_verify_ok (f);
  /* the fabric programmed the root complex: every window of every
   * switch, and nothing else */
  assert_true (pw->len > 0);
  assert_int_equal (map->len, pw->len + ow->len);
  last = w[pw->len - 1];
  line = g_strdup_printf ("root " X "-" X ": switch %u\n", last.first,
                          last.last, p);
  assert_dump_has (fx, line);

  /* a route too many: beyond the fabric's global space, where no switch
   * of it has a window */
  {
    g_autoptr(GArray) more = g_array_copy (pw);
    AsmRange extra = ASM_RANGE (G_GUINT64_CONSTANT (1) << 40,
                                (G_GUINT64_CONSTANT (1) << 40) + MIB - 1);

    g_array_append_val (more, extra);
    OK (hw_root_v (fx, p, (AsmRange *) more->data, more->len, &error));
    assert_verify_differs (f, "hardware differs from the model: root route "
                           X "-" X " to switch %u is in hardware but not in "
                           "the model", extra.first, extra.last, p);
  }
  /* one too few */
  OK (hw_root_v (fx, p, w, pw->len - 1, &error));
  assert_verify_differs (f, "hardware differs from the model: root route " X
                         "-" X " to switch %u is in the model but not in "
                         "hardware", last.first, last.last, p);
  /* routed to the wrong switch */
  moved = g_array_copy (ow);
  g_array_append_val (moved, last);
  OK (hw_root_v (fx, o, (AsmRange *) moved->data, moved->len, &error));
  assert_verify_differs (f, "root route " X "-" X " to switch %u in "
                         "hardware, " X "-" X " to switch %u in the model",
                         last.first, last.last, o, last.first, last.last, p);
  OK (hw_root_v (fx, o, (AsmRange *) ow->data, ow->len, &error));
  /* a different extent */
  cut = ASM_RANGE (last.first, last.last - 1);
  {
    g_autoptr(GArray) shorter = g_array_copy (pw);

    g_array_index (shorter, AsmRange, shorter->len - 1) = cut;
    OK (hw_root_v (fx, p, (AsmRange *) shorter->data, shorter->len,
                   &error));
  }
  assert_verify_differs (f, "root route " X "-" X " to switch %u in "
                         "hardware, " X "-" X " to switch %u in the model",
                         cut.first, cut.last, p, last.first, last.last, p);
  /* nothing routed at all */
  OK (hw_root_v (fx, p, NULL, 0, &error));
  OK (hw_root_v (fx, o, NULL, 0, &error));
  assert_verify_differs (f, "is in the model but not in hardware");
  /* put back, in either order: verify passes again */
  OK (hw_root_v (fx, o, (AsmRange *) ow->data, ow->len, &error));
  OK (hw_root_v (fx, p, w, pw->len, &error));
  assert_verify_ok (f);

  /* the switches' registers come first: a switch window missing is
   * reported before the route to it */
  OK (hw_windows_v (fx, p, w, pw->len - 1, &error));
  OK (hw_root_v (fx, p, w, pw->len - 1, &error));
  assert_verify_differs (f, "switch %u: window " X "-" X " is in the model "
                         "but not in hardware", p, last.first, last.last);
  OK (hw_windows_v (fx, p, w, pw->len, &error));
  assert_verify_differs (f, "root route " X "-" X " to switch %u is in the "
                         "model but not in hardware", last.first, last.last,
                         p);
  /* and the routes before the VFs */
  OK (hw_vf_create (fx, f->pf, 3, 889, &error));
  assert_verify_differs (f, "root route " X "-" X " to switch %u is in the "
                         "model", last.first, last.last, p);
  OK (hw_root_v (fx, p, w, pw->len, &error));
  assert_verify_differs (f, "PF %u VF index 3: VF 889 in hardware", f->pf);
  OK (hw_vf_destroy (fx, f->pf, 3, 889, &error));
  assert_verify_ok (f);
  fab_free (f);
}

/* The fabric's other uses of the new calls: removing a switch, and
 * sampling usage (the counters are the hardware's own, not compared). */
static void
test_verify_remove_switch_and_usage (void **state)
{
  Fab *f = fab_new (TRUE);
  Fx *fx = f->fx;
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL, *after = NULL, *line = NULL;
  AsmPartitionInfo info;
  AsmId sw3 = add_switch (f->fabric, "sw3", 1);
  guint64 n;

  assert_dump_has (fx, "\"sw3\": 1 ports");
  assert_verify_ok (f);
  /* a refused removal leaves both sides as they were */
  before = asm_sim_dump (fx->b);
  n = asm_sim_get_n_calls (fx->b);
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ANY, TRUE);
  assert_false (asm_fabric_remove_switch (f->fabric, sw3, &error));
  assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_BACKEND));
  assert_non_null (strstr (error->message, "switch_remove"));
  g_clear_error (&error);
  asm_sim_clear_faults (fx->b);
  after = asm_sim_dump (fx->b);
  assert_string_equal (before, after);
  assert_true (asm_sim_get_n_calls (fx->b) > n);
  assert_verify_ok (f);
  assert_true (asm_fabric_remove_switch (f->fabric, sw3, &error));
  assert_dump_lacks (fx, "sw3");
  assert_verify_ok (f);

  /* each sample reads the partition's counter once: size/4, then 1/8
   * more */
  assert_true (asm_fabric_get_partition_info (f->fabric, f->part, &info));
  assert_true (asm_fabric_sample_usage (f->fabric, 1.0, &error));
  line = g_strdup_printf ("usage: partition %u, 1 reads\n", f->part);
  assert_dump_has (fx, line);
  assert_true (asm_fabric_sample_usage (f->fabric, 2.0, &error));
  g_free (line);
  line = g_strdup_printf ("usage: partition %u, 2 reads\n", f->part);
  assert_dump_has (fx, line);
  assert_verify_ok (f);
  /* a refused read: the sample records nothing and the count stays */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_USAGE, TRUE);
  assert_false (asm_fabric_sample_usage (f->fabric, 3.0, &error));
  assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_BACKEND));
  assert_non_null (strstr (error->message, "usage_read switch"));
  g_clear_error (&error);
  asm_sim_clear_faults (fx->b);
  assert_dump_has (fx, line);
  assert_true (asm_fabric_sample_usage (f->fabric, 3.0, &error));
  assert_verify_ok (f);
  fab_free (f);
}

/* Fail each backend call of an operation in turn: the fabric undoes what
 * it applied, and the hardware matches the unchanged model every time. */
static void
test_verify_after_each_fault (void **state)
{
  gboolean done = FALSE;

  for (guint64 n = 1; !done; n++)
    {
      Fab *f = fab_new (FALSE);
      g_autoptr(GError) error = NULL;
      g_autofree char *before = asm_sim_dump (f->fx->b);
      AsmPartitionRequest req = { .size = 4 * MIB };
      AsmId part;
      guint64 virt;

      assert_true (n < 1000);
      asm_sim_fail_call (f->fx->b, n);
      done = asm_fabric_request_partition (f->fabric, f->wl, &req, &part,
                                           &virt, &error);
      if (!done)
        {
          g_autofree char *after = asm_sim_dump (f->fx->b);

          assert_non_null (error);
          assert_string_equal (before, after);
        }
      assert_verify_ok (f);
      fab_free (f);
    }

  /* a whole kind failing */
  for (AsmSimOp kind = ASM_SIM_OP_ANY; kind <= ASM_SIM_OP_USAGE; kind++)
    {
      Fab *f = fab_new (TRUE);
      g_autoptr(GError) error = NULL;
      AsmPartitionRequest req = { .size = 8 * MIB };
      AsmId part;
      guint64 virt;

      asm_sim_fail_kind (f->fx->b, kind, TRUE);
      /* the fault may refuse either: the hardware must match the model
       * whatever happened */
      if (!asm_fabric_request_partition (f->fabric, f->wl, &req, &part,
                                         &virt, &error))
        g_clear_error (&error);
      if (!asm_fabric_migrate_partition (f->fabric, f->part,
                                         f->part_sw == f->sw1 ? f->sw2
                                                              : f->sw1,
                                         NULL))
        g_clear_error (&error);
      asm_sim_clear_faults (f->fx->b);
      assert_verify_ok (f);
      fab_free (f);
    }
}

/* ---------------------------------------------------------------------- */
/* Persistence (asm_sim_backend_new_persistent())                         */
/* ---------------------------------------------------------------------- */

/* The sim-crash-child program, from the command line (see main()). */
static const char *crash_child;

/* A new directory for state files, and the state file in it. */
typedef struct {
  char *dir;
  char *path;
} Tmp;

static Tmp
tmp_new (void)
{
  g_autoptr(GError) error = NULL;
  Tmp t;

  t.dir = g_dir_make_tmp ("asm-sim-XXXXXX", &error);
  if (t.dir == NULL)
    fail_msg ("g_dir_make_tmp: %s", error->message);
  t.path = g_build_filename (t.dir, "sim.json", NULL);
  return t;
}

/* Removes the directory and what the tests put in it (files, and empty
 * directories such as a path.tmp made to fail writes). */
static void
tmp_free (Tmp *t)
{
  GDir *d = g_dir_open (t->dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (t->dir, name, NULL);

      if (g_remove (p) != 0)
        fail_msg ("removing %s: %s", p, g_strerror (errno));
    }
  if (d != NULL)
    g_dir_close (d);
  if (g_rmdir (t->dir) != 0)
    fail_msg ("removing %s: %s", t->dir, g_strerror (errno));
  g_free (t->dir);
  g_free (t->path);
}

static Fx *
fx_open_at (const char *path, const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  Fx *fx = g_new0 (Fx, 1);

  fx->b = asm_sim_backend_new_persistent (path, &error);
  if (fx->b == NULL)
    FAIL_AT (file, line, "asm_sim_backend_new_persistent: %s",
             error->message);
  fx->ops = asm_sim_get_ops ();
  fx->self = asm_backend_get_self (fx->b);
  return fx;
}
#define fx_open(path) fx_open_at ((path), __FILE__, __LINE__)

static char *
file_text (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, &error))
    fail_msg ("reading %s: %s", path, error->message);
  return text;
}

/* Opening the file again in a second backend finds what fx holds. */
static void
reopen_same_at (Fx *fx, const char *path, const char *file, int line)
{
  Fx *again = fx_open_at (path, file, line);
  g_autofree char *want = asm_sim_dump (fx->b);
  g_autofree char *got = asm_sim_dump (again->b);

  if (strcmp (want, got) != 0)
    FAIL_AT (file, line, "the file holds other registers:\n--- in memory\n"
             "%s--- from the file\n%s", want, got);
  fx_free (again);
}
#define assert_reopen_same(fx, path) \
  reopen_same_at ((fx), (path), __FILE__, __LINE__)

static void
test_persist_new (void **state)
{
  Tmp t = tmp_new ();
  Fx *fx, *mem = fx_new ();
  g_autofree char *text = NULL, *dump = NULL;
  g_autofree char *tmp = g_strconcat (t.path, ".tmp", NULL);

  assert_null (asm_sim_get_path (mem->b));
  fx_free (mem);

  /* a new file for a path that does not exist */
  fx = fx_open (t.path);
  assert_true (asm_sim_is_sim (fx->b));
  assert_string_equal (asm_sim_get_path (fx->b), t.path);
  assert_true (g_file_test (t.path, G_FILE_TEST_IS_REGULAR));
  assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  text = file_text (t.path);
  assert_non_null (strstr (text, "\"format\" : \"asm-sim\""));
  assert_non_null (strstr (text, "\"version\" : 1"));
  dump = asm_sim_dump (fx->b);
  assert_string_equal (dump, "sim: 0 switches, 0 devices bound, 0 VFs, "
                             "0 held\n");
  fx_free (fx);

  /* the same file again: the same, empty, registers */
  fx = fx_open (t.path);
  assert_int_equal (asm_sim_get_n_calls (fx->b), 0);
  g_free (dump);
  dump = asm_sim_dump (fx->b);
  assert_string_equal (dump, "sim: 0 switches, 0 devices bound, 0 VFs, "
                             "0 held\n");
  fx_free (fx);
  tmp_free (&t);
}

/* The script of every operation, on a persistent sim: after each step the
 * file holds what memory holds; after the last, a sim opened on the file
 * has every kind of register of the golden dump (switches, windows, table
 * entries, an open update, bound ports, flushes, root routes, VFs, a held
 * device, a usage counter). */
static void
test_persist_round_trip (void **state)
{
  Tmp t = tmp_new ();
  Fx *fx = fx_open (t.path);
  g_autofree char *text = NULL, *again = NULL, *dump = NULL;

  for (guint i = 0; i < N_STEPS; i++)
    {
      OK (run_step (fx, i, &error));
      assert_reopen_same (fx, t.path);
    }
  dump = asm_sim_dump (fx->b);
  assert_string_equal (dump, script_dump);
  text = file_text (t.path);
  fx_free (fx);

  fx = fx_open (t.path);
  g_free (dump);
  dump = asm_sim_dump (fx->b);
  assert_string_equal (dump, script_dump);
  assert_check (fx);
  /* u64 registers are "0x..." strings */
  assert_non_null (strstr (text, "\"size\" : \"0x100000\""));
  assert_non_null (strstr (text, "\"flushes\" : \"0x1\""));
  assert_non_null (strstr (text, "\"reads\" : \"0x1\""));

  /* the same registers, the same bytes: a change and its inverse write
   * the file back as it was */
  OK (hw_hold (fx, 20, &error));
  again = file_text (t.path);
  assert_string_not_equal (again, text);
  OK (hw_release (fx, 20, &error));
  g_free (again);
  again = file_text (t.path);
  assert_string_equal (again, text);

  /* the open update goes on where it stopped: commit it */
  OK (hw_set (fx, 2, 8, 0x8, &error));
  assert_reopen_same (fx, t.path);
  HW_FAILS (hw_commit (fx, 2, &error), "table full");
  OK (hw_remove (fx, 2, 8, &error));
  OK (hw_commit (fx, 2, &error));
  assert_reopen_same (fx, t.path);
  assert_dump_has (fx, "switch 2 \"sw2\": 2 ports, table 1/1, 0 flushes\n");
  fx_free (fx);
  tmp_free (&t);
}

/* Pending binds and unbinds are registers too; the pending-binds mode is
 * the process's and is not saved. */
static void
test_persist_pending (void **state)
{
  Tmp t = tmp_new ();
  Fx *fx = fx_open (t.path);

  two_switches (fx);
  OK (DONE (hw_bind (fx, 11, 1, 1, &error)));
  asm_sim_set_pending_binds (fx->b, TRUE);
  OK (PENDING (hw_bind (fx, 10, 1, 0, &error)));
  OK (PENDING (hw_unbind (fx, 11, 1, 1, &error)));
  assert_dump_has (fx, "port 0: device 10 \"dev10\", bind pending\n");
  assert_dump_has (fx, "port 1: device 11 \"dev11\", unbind pending\n");
  assert_reopen_same (fx, t.path);
  fx_free (fx);

  fx = fx_open (t.path);
  assert_dump_has (fx, "port 0: device 10 \"dev10\", bind pending\n");
  OK (hw_wait (fx, 10, &error));
  OK (hw_wait (fx, 11, &error));
  assert_dump_has (fx, "port 0: device 10 \"dev10\"\n");
  assert_dump_lacks (fx, "device 11");
  /* not in pending mode any more */
  OK (DONE (hw_bind (fx, 12, 2, 0, &error)));
  assert_reopen_same (fx, t.path);
  assert_check (fx);
  fx_free (fx);
  tmp_free (&t);
}

/* Faults and the call count are not saved: a sim opened again after a
 * simulated crash has none, and the registers the crash left. */
static void
test_persist_faults_not_saved (void **state)
{
  Tmp t = tmp_new ();
  Fx *fx = fx_open (t.path);
  g_autofree char *before = NULL, *after = NULL;

  two_switches (fx);
  OK (hw_begin (fx, 1, &error));
  OK (hw_set (fx, 1, 5, 0x5, &error));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_HOLD, TRUE);
  asm_sim_fail_call (fx->b, 3);
  asm_sim_crash_after (fx->b, 0);
  HW_FAILS (hw_commit (fx, 1, &error), "simulated crash");
  hw_abort (fx, 1); /* does nothing: the process is gone */
  before = asm_sim_dump (fx->b);
  fx_free (fx);

  fx = fx_open (t.path);
  after = asm_sim_dump (fx->b);
  assert_string_equal (after, before);
  assert_non_null (strstr (after, "update open: 1 entries staged"));
  assert_false (asm_sim_is_crashed (fx->b));
  assert_int_equal (asm_sim_get_n_calls (fx->b), 0);
  /* recovery aborts the update the killed process left open */
  hw_abort (fx, 1);
  assert_dump_lacks (fx, "update open");
  assert_reopen_same (fx, t.path);
  OK (DONE (hw_bind (fx, 10, 1, 0, &error)));
  OK (hw_hold (fx, 10, &error));
  OK (hw_release (fx, 10, &error));
  OK (hw_flush (fx, 1, 0, 0xfff, &error));
  assert_int_equal (asm_sim_get_n_calls (fx->b), 4);
  fx_free (fx);
  tmp_free (&t);
}

/* A file that is not one, is damaged or holds impossible registers is
 * refused with ASM_ERROR_PARSE naming the file and the problem. */
static const struct {
  const char *text;
  const char *message;
} bad_files[] = {
  { "", "not an asm-sim state file (empty)" },
  { "{ \"format\" : \"asm-sim\", ", "not JSON" },
  { "[1, 2]", "not an asm-sim state file (not a JSON object)" },
  { "{ \"a\" : 1 }", "\"format\" is not \"asm-sim\"" },
  { "{ \"format\" : \"asm-fabric\", \"version\" : 1 }",
    "\"format\" is not \"asm-sim\"" },
  { "{ \"format\" : \"asm-sim\", \"version\" : 2 }",
    "version 2 is not supported" },
  { "{ \"format\" : \"asm-sim\", \"version\" : \"1\" }",
    "\"version\" is not an integer" },
  { "{ \"format\" : \"asm-sim\", \"version\" : 1 }",
    "\"switches\" is missing" },
  { "{ \"format\" : \"asm-sim\", \"version\" : 1, \"switches\" : {} }",
    "\"switches\" is not an array" },
  { "{ \"format\" : \"asm-sim\", \"version\" : 1, \"switches\" : [], "
    "\"routes\" : [], \"vfs\" : [], \"held\" : [-1], \"usage\" : [] }",
    "held[0]: \"held\" is not an integer" },
  { "{ \"format\" : \"asm-sim\", \"version\" : 1, \"switches\" : [], "
    "\"routes\" : [ { \"first\" : 0, \"last\" : \"0x1\", \"switch\" : 1 } ],"
    " \"vfs\" : [], \"held\" : [], \"usage\" : [] }",
    "routes[0]: \"first\" is not a string" },
  { "{ \"format\" : \"asm-sim\", \"version\" : 1, \"switches\" : [], "
    "\"routes\" : [ { \"first\" : \"0x\", \"last\" : \"0x1\", \"switch\" : 1 "
    "} ], \"vfs\" : [], \"held\" : [], \"usage\" : [] }",
    "routes[0]: \"first\" is \"0x\", not \"0x\" and 1 to 16 hex digits" },
  { "{ \"format\" : \"asm-sim\", \"version\" : 1, \"switches\" : [], "
    "\"routes\" : [ { \"first\" : \"0x10000000000000000\", \"last\" : "
    "\"0x1\", \"switch\" : 1 } ], \"vfs\" : [], \"held\" : [], "
    "\"usage\" : [] }",
    "not \"0x\" and 1 to 16 hex digits" },
  /* registers that break an invariant */
  { "{ \"format\" : \"asm-sim\", \"version\" : 1, \"switches\" : [], "
    "\"routes\" : [ { \"first\" : \"0x0\", \"last\" : \"0x1\", \"switch\" : 1 "
    "} ], \"vfs\" : [], \"held\" : [], \"usage\" : [] }",
    "break an invariant: root route 0x0-0x1 goes to switch 1, which does "
    "not exist" },
  { "{ \"format\" : \"asm-sim\", \"version\" : 1, \"switches\" : [], "
    "\"routes\" : [], \"vfs\" : [], \"held\" : [3, 2], \"usage\" : [] }",
    "break an invariant: held devices out of order at 1" },
};

/* a switch 1 of 2 ports and 1 entry, with these members */
#define SWITCH_1(windows, table, update, bindings) \
  "{ \"format\" : \"asm-sim\", \"version\" : 1, \"switches\" : [ { \"id\" :" \
  " 1, \"name\" : \"s\", \"n_ports\" : 2, \"table_capacity\" : 1, " \
  "\"flushes\" : \"0x0\", \"windows\" : [" windows "], \"table\" : [" table \
  "], \"update\" : " update ", \"bindings\" : [" bindings "] } ], " \
  "\"routes\" : [], \"vfs\" : [], \"held\" : [], \"usage\" : [] }"
#define ENTRY(key) \
  "{ \"key\" : " #key ", \"partition\" : 1, \"workload\" : 1, " \
  "\"virt_first\" : \"0x0\", \"size\" : \"0x1000\", \"offset\" : \"0x0\" }"

static const struct {
  const char *text;
  const char *message;
} bad_switches[] = {
  { SWITCH_1 ("", "", "null", ""), "" }, /* the good one */
  { SWITCH_1 ("{ \"first\" : \"0x2\", \"last\" : \"0x1\" }", "", "null", ""),
    "switch 1: window 0 is empty" },
  { SWITCH_1 ("", ENTRY (1) ", " ENTRY (2), "null", ""),
    "switch 1: 2 entries committed, capacity 1" },
  { SWITCH_1 ("", ENTRY (0), "null", ""), "switch 1: table entry 0 has "
    "key 0" },
  { SWITCH_1 ("", "", "[ { \"set\" : " ENTRY (0) " } ]", ""),
    "switch 1: staged entry 0 has key 0" },
  { SWITCH_1 ("", "", "[ { \"add\" : 1 } ]", ""),
    "switches[0].update[0]: \"set\" is missing" },
  { SWITCH_1 ("", "", "7", ""), "\"update\" is neither null nor an array" },
  { SWITCH_1 ("", "", "null", "{ \"port\" : 2, \"device\" : 5, \"name\" : "
              "\"d\", \"pending\" : \"none\" }"),
    "switches[0].bindings[0]: port 2 is out of range" },
  { SWITCH_1 ("", "", "null", "{ \"port\" : 0, \"device\" : 5, \"name\" : "
              "\"d\", \"pending\" : \"none\" }, { \"port\" : 1, \"device\" : "
              "5, \"name\" : \"d\", \"pending\" : \"none\" }"),
    "switches[0].bindings[1]: device 5 at port 1" },
  { SWITCH_1 ("", "", "null", "{ \"port\" : 0, \"device\" : 5, \"name\" : "
              "\"d\", \"pending\" : \"maybe\" }"),
    "\"pending\" is \"maybe\"" },
  { SWITCH_1 ("", "", "null", "{ \"port\" : 0, \"device\" : 5, \"name\" : "
              "\"d\" }"),
    "switches[0].bindings[0]: \"pending\" is missing" },
};

static void
refused_at (const char *dir, const char *text, gssize len,
            const char *message, const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (dir, "bad.json", NULL);
  g_autofree char *after = NULL;
  AsmBackend *b;

  if (!g_file_set_contents (path, text, len, &error))
    FAIL_AT (file, line, "writing %s: %s", path, error->message);
  b = asm_sim_backend_new_persistent (path, &error);
  if (b != NULL)
    FAIL_AT (file, line, "%s was accepted, expected \"%s\"", text, message);
  if (!g_error_matches (error, ASM_ERROR, ASM_ERROR_PARSE))
    FAIL_AT (file, line, "%s: got %s, expected ASM_ERROR_PARSE", text,
             error->message);
  if (!g_str_has_prefix (error->message, path) ||
      strstr (error->message, message) == NULL)
    FAIL_AT (file, line, "\"%s\" does not start with the path or lacks "
             "\"%s\"", error->message, message);
  /* a refused file is left alone */
  after = file_text (path);
  if (memcmp (after, text, len < 0 ? strlen (text) : (gsize) len) != 0)
    FAIL_AT (file, line, "the refused file was changed");
}
#define assert_refused(dir, text, len, message) \
  refused_at ((dir), (text), (len), (message), __FILE__, __LINE__)

static void
test_persist_refuses (void **state)
{
  Tmp t = tmp_new ();
  g_autofree char *good = NULL;
  Fx *fx;
  gsize len;

  for (guint i = 0; i < G_N_ELEMENTS (bad_files); i++)
    assert_refused (t.dir, bad_files[i].text, -1, bad_files[i].message);
  /* the good switch loads; each damage of it is refused */
  {
    g_autofree char *p = g_build_filename (t.dir, "good.json", NULL);

    OK (g_file_set_contents (p, bad_switches[0].text, -1, &error));
    fx = fx_open (p);
    assert_dump_has (fx, "switch 1 \"s\": 2 ports, table 0/1, 0 flushes\n");
    fx_free (fx);
  }
  for (guint i = 1; i < G_N_ELEMENTS (bad_switches); i++)
    assert_refused (t.dir, bad_switches[i].text, -1,
                    bad_switches[i].message);

  /* a real state file cut short anywhere is refused, never half loaded */
  fx = fx_open (t.path);
  for (guint i = 0; i < N_STEPS; i++)
    OK (run_step (fx, i, &error));
  fx_free (fx);
  good = file_text (t.path);
  len = strlen (good);
  for (gsize cut = 0; cut + 1 < len; cut += 7)
    assert_refused (t.dir, good, (gssize) cut, "");
  /* a directory cannot be read */
  {
    g_autoptr(GError) error = NULL;

    assert_null (asm_sim_backend_new_persistent (t.dir, &error));
    assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_BACKEND));
  }
  tmp_free (&t);
}

/* A call whose registers cannot be written fails, and memory goes back to
 * what the file holds.  path.tmp made a directory makes every write fail,
 * even for root (whom a read-only directory does not stop). */
static void
test_persist_write_error (void **state)
{
  Tmp t = tmp_new ();
  g_autofree char *tmp = g_strconcat (t.path, ".tmp", NULL);
  g_autofree char *text = NULL, *after = NULL, *dump = NULL;
  Fx *fx = fx_open (t.path);

  for (guint i = 0; i < N_STEPS; i++)
    OK (run_step (fx, i, &error));
  text = file_text (t.path);
  assert_int_equal (g_mkdir (tmp, 0700), 0);

  /* each kind of call that changes something */
  HW_FAILS (hw_switch (fx, 9, "sw9", 1, 1, &error), "were not saved");
  HW_FAILS (hw_windows (fx, 1, &error, ASM_RANGE (0, 0xfff)),
            "windows_commit: the registers were not saved, the call is "
            "undone: cannot create");
  HW_FAILS (hw_set (fx, 2, 9, 0x9, &error), "xlat_set");
  HW_FAILS (hw_remove (fx, 2, 7, &error), "xlat_remove");
  HW_FAILS (hw_commit (fx, 2, &error), "xlat_commit");
  HW_FAILS (hw_begin (fx, 1, &error), "xlat_begin");
  HW_FAILS (NOT_FAILED (hw_bind (fx, 22, 1, 2, &error)), "device_bind");
  HW_FAILS (NOT_FAILED (hw_unbind (fx, 20, 1, 0, &error)), "device_unbind");
  HW_FAILS (hw_hold (fx, 20, &error), "device_hold");
  HW_FAILS (hw_release (fx, 21, &error), "device_release");
  HW_FAILS (hw_vf_create (fx, 20, 4, 32, &error), "vf_create");
  HW_FAILS (hw_vf_destroy (fx, 20, 3, 31, &error), "vf_destroy");
  HW_FAILS (hw_flush (fx, 1, 0, 0xfff, &error), "cache_flush");
  HW_FAILS (hw_root (fx, 1, &error, ASM_RANGE (0, 0xfff)), "root_routes");
  {
    guint64 bytes;

    HW_FAILS (hw_usage (fx, 1, 5, &bytes, &error), "usage_read");
  }
  assert_reopen_same (fx, t.path);
  /* calls that change nothing write nothing and succeed */
  OK (hw_switch (fx, 1, "sw1", 4, 4, &error));
  OK (hw_release (fx, 20, &error));
  OK (DONE (hw_bind (fx, 20, 1, 0, &error)));
  /* xlat_abort cannot fail: the update stays open, in memory as on file */
  dump = asm_sim_dump (fx->b);
  hw_abort (fx, 2);
  after = asm_sim_dump (fx->b);
  assert_string_equal (after, dump);
  assert_reopen_same (fx, t.path);
  g_free (after);
  after = file_text (t.path);
  assert_string_equal (after, text);

  /* writable again: the same calls go through */
  assert_int_equal (g_rmdir (tmp), 0);
  hw_abort (fx, 2);
  assert_dump_lacks (fx, "update open");
  OK (hw_windows (fx, 1, &error, ASM_RANGE (0, 0xfff)));
  OK (hw_hold (fx, 20, &error));
  assert_reopen_same (fx, t.path);
  assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  assert_check (fx);
  fx_free (fx);

  /* a file that cannot be created */
  {
    g_autofree char *p = g_build_filename (t.dir, "nowhere", "sim.json",
                                           NULL);
    g_autoptr(GError) error = NULL;

    assert_null (asm_sim_backend_new_persistent (p, &error));
    assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_BACKEND));
    assert_non_null (strstr (error->message, "cannot create the sim state"));
  }
  tmp_free (&t);
}

/* A fabric on a persistent sim: a sim opened on the file matches the
 * fabric's model, as the live one does. */
static void
test_persist_fabric (void **state)
{
  Tmp t = tmp_new ();
  g_autoptr(GError) err = NULL;
  AsmBackend *sim = asm_sim_backend_new_persistent (t.path, &err);
  AsmFabric *fabric;
  AsmSwitchSpec spec = { .name = "a", .bandwidth = 10000, .latency_ns = 100,
                         .table_capacity = 8, .n_ports = 4 };
  AsmPartitionRequest req = { .size = 4 * MIB };
  AsmId a, b, nic, pf, vf, wl, part;
  guint64 virt;

  assert_non_null (sim);
  fabric = asm_fabric_new ("f", 0, (G_GUINT64_CONSTANT (1) << 36) - 1, MIB,
                           sim, &err);
  assert_non_null (fabric);
  OK (asm_fabric_add_switch (fabric, &spec, &a, &error));
  spec.name = "b";
  OK (asm_fabric_add_switch (fabric, &spec, &b, &error));
  OK (asm_fabric_add_device (fabric, "nic", ASM_DEVICE_ENDPOINT, MIB, a, 0,
                             &nic, &error));
  OK (asm_fabric_add_device (fabric, "pf", ASM_DEVICE_PF, MIB, b, 1, &pf,
                             &error));
  OK (asm_fabric_set_sriov (fabric, pf, 4, MIB, &error));
  OK (asm_fabric_create_vf (fabric, pf, &vf, &error));
  OK (asm_fabric_add_workload (fabric, "wl", &wl, &error));
  OK (asm_fabric_request_partition (fabric, wl, &req, &part, &virt, &error));
  for (guint i = 0; i < 6; i++)
    {
      AsmPartitionInfo info;
      Fx *again;

      assert_true (asm_fabric_get_partition_info (fabric, part, &info));
      OK (asm_fabric_migrate_partition (fabric, part,
                                        info.switch_id == a ? b : a,
                                        &error));
      OK (asm_sim_verify (sim, fabric, &error));
      again = fx_open (t.path);
      OK (asm_sim_verify (again->b, fabric, &error));
      fx_free (again);
    }
  asm_fabric_unref (fabric);
  asm_backend_unref (sim);
  tmp_free (&t);
}

/* Kill sim-crash-child with SIGKILL at random moments while it migrates
 * partitions: the file it leaves always loads (so it is whole and its
 * registers keep S1-S8).  ASM_SIM_KILL_SEED repeats a run's delays and the
 * child's choices (where a kill lands also depends on timing);
 * ASM_SIM_KILLS sets the number of kills (10). */
static void
test_persist_kill (void **state)
{
  guint64 seed = test_env_u64 ("ASM_SIM_KILL_SEED",
                               (guint64) g_get_real_time ());
  g_autoptr(GRand) rand = g_rand_new_with_seed ((guint32) seed);
  const guint n_kills = (guint) test_env_u64 ("ASM_SIM_KILLS", 10);
  Tmp t = tmp_new ();

  if (crash_child == NULL)
    fail_msg ("the path of sim-crash-child is not on the command line");
  print_message ("# kill: seed %" G_GUINT64_FORMAT ", %u kills "
                 "(ASM_SIM_KILL_SEED repeats the delays)\n", seed, n_kills);
  for (guint k = 0; k < n_kills; k++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *child_seed = g_strdup_printf ("--seed=%u",
                                                     g_rand_int (rand));
      const char *argv[] = { crash_child, child_seed, t.path, NULL };
      g_autoptr(GIOChannel) out = NULL;
      g_autofree char *line = NULL;
      guint delay_us = g_rand_int_range (rand, 0, 200 * 1000);
      GPid pid;
      int out_fd, status;
      Fx *fx;

      g_remove (t.path);
      if (!g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                                     G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                     &pid, NULL, &out_fd, NULL, &error))
        fail_msg ("spawning %s: %s", crash_child, error->message);
      out = g_io_channel_unix_new (out_fd);
      g_io_channel_set_close_on_unref (out, TRUE);
      if (g_io_channel_read_line (out, &line, NULL, NULL, &error) !=
              G_IO_STATUS_NORMAL ||
          strcmp (line, "ready\n") != 0)
        fail_msg ("seed %" G_GUINT64_FORMAT ": the child did not start "
                  "(%s)", seed, line != NULL ? line : "no line");
      g_usleep (delay_us);
      kill (pid, SIGKILL);
      if (waitpid (pid, &status, 0) != pid)
        fail_msg ("waitpid: %s", g_strerror (errno));
      g_spawn_close_pid (pid);
      if (!WIFSIGNALED (status) || WTERMSIG (status) != SIGKILL)
        fail_msg ("seed %" G_GUINT64_FORMAT " kill %u: the child ended "
                  "before it was killed (status 0x%x)", seed, k, status);

      /* whole, and within the invariants (the load checks S1-S8); a
       * device mapped to a migrating partition may be between ports */
      fx = fx_open (t.path);
      assert_check (fx);
      assert_dump_has (fx, "sim: 3 switches, ");
      fx_free (fx);
    }
  tmp_free (&t);
}

int
main (int argc, char **argv)
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
    T (test_sim_fail_call),
    T (test_sim_fail_kind),
    T (test_sim_crash),
    T (test_sim_undo_suppresses_faults),
    T (test_sim_fault_new_calls),
    T (test_sim_dump_golden),
    cmocka_unit_test (test_sim_every_step_fails_cleanly),
    cmocka_unit_test (test_sim_dump_deterministic),
  };
#undef T
  const struct CMUnitTest verify_tests[] = {
    cmocka_unit_test (test_verify_matches),
    cmocka_unit_test (test_verify_finds_differences),
    cmocka_unit_test (test_verify_root_map),
    cmocka_unit_test (test_verify_remove_switch_and_usage),
    cmocka_unit_test (test_verify_after_each_fault),
  };

  const struct CMUnitTest persist_tests[] = {
    cmocka_unit_test (test_persist_new),
    cmocka_unit_test (test_persist_round_trip),
    cmocka_unit_test (test_persist_pending),
    cmocka_unit_test (test_persist_faults_not_saved),
    cmocka_unit_test (test_persist_refuses),
    cmocka_unit_test (test_persist_write_error),
    cmocka_unit_test (test_persist_fabric),
    cmocka_unit_test (test_persist_kill),
  };

  if (argc > 1 && strcmp (argv[1], "persist") == 0)
    {
      crash_child = argc > 2 ? argv[2] : NULL;
      return cmocka_run_group_tests_name ("sim-persist", persist_tests, NULL,
                                          NULL);
    }
  if (argc > 1 && strcmp (argv[1], "verify") == 0)
    return cmocka_run_group_tests_name ("sim-verify", verify_tests, NULL,
                                        NULL);
  return cmocka_run_group_tests_name ("sim", tests, NULL, NULL);
}
