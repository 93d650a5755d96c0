/* sim-test-common.c: what the sim test programs share
 *
 * The helpers sim-test-common.h declares; the sim's unit-test programs
 * link them.  A helper that takes the caller's file and line fails there,
 * through FAIL_AT (asm-test.h), so cmocka points at the test.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sim-test-common.h"

/* ---------------------------------------------------------------------- */
/* The fixture                                                            */
/* ---------------------------------------------------------------------- */

Fx *
fx_new (void)
{
  Fx *fx = g_new0 (Fx, 1);

  fx->b = asm_sim_backend_new ();
  fx->ops = asm_sim_get_ops ();
  fx->self = asm_backend_get_self (fx->b);
  return fx;
}

void
fx_free (Fx *fx)
{
  g_autoptr(GError) error = NULL;

  if (!asm_sim_check (fx->b, &error))
    fail_msg ("asm_sim_check: %s", error->message);
  asm_backend_unref (fx->b);
  g_free (fx);
}

int
setup (void **state)
{
  *state = fx_new ();
  return 0;
}

int
teardown (void **state)
{
  fx_free (*state);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* The operations, as a fabric calls them                                 */
/* ---------------------------------------------------------------------- */

gboolean
hw_switch (Fx *fx, AsmId sw, const char *name, guint32 n_ports,
           guint32 capacity, GError **error)
{
  return fx->ops->switch_add (fx->self, sw, name, n_ports, capacity, error);
}

gboolean
hw_windows_v (Fx *fx, AsmId sw, const AsmRange *w, guint n, GError **error)
{
  return fx->ops->windows_commit (fx->self, sw, w, n, error);
}

gboolean
hw_begin (Fx *fx, AsmId sw, GError **error)
{
  return fx->ops->xlat_begin (fx->self, sw, error);
}

AsmXlatEntry
entry (AsmId key, guint64 virt, guint64 size, guint64 offset)
{
  AsmXlatEntry e = { key, key, 100 + key, virt, size, offset };

  return e;
}

gboolean
hw_set_entry (Fx *fx, AsmId sw, AsmXlatEntry e, GError **error)
{
  return fx->ops->xlat_set (fx->self, sw, &e, error);
}

gboolean
hw_set (Fx *fx, AsmId sw, AsmId key, guint64 offset, GError **error)
{
  return hw_set_entry (fx, sw, entry (key, (guint64) key << 32, MIB, offset),
                       error);
}

gboolean
hw_remove (Fx *fx, AsmId sw, AsmId key, GError **error)
{
  return fx->ops->xlat_remove (fx->self, sw, key, error);
}

gboolean
hw_commit (Fx *fx, AsmId sw, GError **error)
{
  return fx->ops->xlat_commit (fx->self, sw, error);
}

void
hw_abort (Fx *fx, AsmId sw)
{
  fx->ops->xlat_abort (fx->self, sw);
}

AsmBackendStatus
hw_bind (Fx *fx, AsmId dev, AsmId sw, guint32 port, GError **error)
{
  g_autofree char *name = g_strdup_printf ("dev%u", dev);

  return fx->ops->device_bind (fx->self, dev, name, sw, port, error);
}

AsmBackendStatus
hw_unbind (Fx *fx, AsmId dev, AsmId sw, guint32 port, GError **error)
{
  return fx->ops->device_unbind (fx->self, dev, sw, port, error);
}

gboolean
hw_wait (Fx *fx, AsmId dev, GError **error)
{
  return fx->ops->device_wait (fx->self, dev, 1000, error);
}

gboolean
hw_hold (Fx *fx, AsmId dev, GError **error)
{
  return fx->ops->device_hold (fx->self, dev, error);
}

gboolean
hw_release (Fx *fx, AsmId dev, GError **error)
{
  return fx->ops->device_release (fx->self, dev, error);
}

gboolean
hw_vf_create (Fx *fx, AsmId pf, guint32 index, AsmId vf, GError **error)
{
  return fx->ops->vf_create (fx->self, pf, index, vf, error);
}

gboolean
hw_vf_destroy (Fx *fx, AsmId pf, guint32 index, AsmId vf, GError **error)
{
  return fx->ops->vf_destroy (fx->self, pf, index, vf, error);
}

gboolean
hw_flush (Fx *fx, AsmId sw, guint64 first, guint64 last, GError **error)
{
  AsmRange r = ASM_RANGE (first, last);

  return fx->ops->cache_flush (fx->self, sw, &r, error);
}

gboolean
hw_root_v (Fx *fx, AsmId sw, const AsmRange *w, guint n, GError **error)
{
  return fx->ops->root_routes (fx->self, sw, w, n, error);
}

gboolean
hw_switch_remove (Fx *fx, AsmId sw, GError **error)
{
  return fx->ops->switch_remove (fx->self, sw, error);
}

gboolean
hw_usage (Fx *fx, AsmId sw, AsmId partition, guint64 *out_bytes,
          GError **error)
{
  return fx->ops->usage_read (fx->self, sw, partition, out_bytes, error);
}

/* usage_read must answer `expected` */
void
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

void
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

void
dump_has_at (Fx *fx, const char *text, gboolean want, const char *file,
             int line)
{
  g_autofree char *dump = asm_sim_dump (fx->b);

  if ((strstr (dump, text) != NULL) != want)
    FAIL_AT (file, line, "dump %s \"%s\":\n%s",
             want ? "does not contain" : "contains", text, dump);
}

void
check_at (Fx *fx, const char *file, int line)
{
  g_autoptr(GError) error = NULL;

  if (!asm_sim_check (fx->b, &error))
    FAIL_AT (file, line, "asm_sim_check: %s", error->message);
}

/* Two switches: 1 "sw1" (4 ports, 4 entries), 2 "sw2" (2 ports, 1 entry). */
void
two_switches (Fx *fx)
{
  OK (hw_switch (fx, 1, "sw1", 4, 4, &error));
  OK (hw_switch (fx, 2, "sw2", 2, 1, &error));
}

/* ---------------------------------------------------------------------- */
/* A script that uses every operation                                     */
/* ---------------------------------------------------------------------- */

gboolean
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

const char script_dump[] =
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

