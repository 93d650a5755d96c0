/* fuzz-fabric-ops.c: libFuzzer target for AsmFabric operations
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * The input is a program.  Its first byte chooses the backend (the sim,
 * or none for one input in four: model only); the rest are the choices of
 * the operation decoder of tests/fabric-ops.c (the one the property test
 * uses): each operation is a byte that chooses a row of its table, then
 * the bytes its arguments need, decoded until the input runs out (at most
 * MAX_OPS operations), so every byte string is a valid input and a longer
 * one is a longer program.  A byte read past the end is 0.
 *
 * The operations build and change a small fabric (global space 1 GiB,
 * granule 1 MiB, at most MAX_SWITCHES switches, MAX_DEVICES devices,
 * MAX_WORKLOADS workloads and MAX_PARTITIONS partitions): every operation
 * of the decoder's table, and with the sim its fault injection too: fail
 * call n, fail a kind of call, crash after n calls, clear.  The decoder
 * checks each call's own contract (an ASM_ERROR on failure, the values a
 * success returns); a broken one is a crash.
 *
 * After every operation:
 *   - asm_fabric_check() passes and, with the sim, asm_sim_verify() passes
 *     (the hardware registers match the model); each partition's
 *     n_devices is the number of devices whose info names it;
 *   - a failed operation left asm_fabric_save() unchanged (the
 *     "journal_seq" member aside: a transaction that was applied and undone
 *     still writes its journal records), and so did one that changes
 *     nothing (a query, a fault, a round trip);
 *   - after a successful one, every partition translates at its first
 *     virtual address to its switch and physical address.
 * When an operation fails while the sim is "crashed", the process is
 * treated as dead: the faults are cleared, the fabric is restored from the
 * save taken before the operation, asm_fabric_recover() runs on the
 * journal, and the result must equal that save (and verify against the
 * sim); the run goes on with the recovered fabric.
 * At the end of the input, restore(save(x)) must save to the same bytes.
 *
 * A violation prints the step and the operation and calls abort(), which
 * the fuzzing engine reports as a crash.  A GLib critical is a bug too; a
 * warning is one unless a crash was injected (undo fails then, and says
 * so).
 *
 * Set ASM_FUZZ_TRACE=1 to print every operation of a replayed input.
 */
#include <asm/asm.h>

#define ASM_TEST_NO_CMOCKA
#include "fabric-ops.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define GLOBAL_LAST (1024 * MIB - 1)
#define MAX_OPS 200
#define MAX_SWITCHES 5
#define MAX_DEVICES 10
#define MAX_WORKLOADS 4
#define MAX_PARTITIONS 16

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

typedef struct {
  FabricOps *ops;       /* the decoder, and the fabric it changes */
  AsmFabric *fabric;    /* its fabric now (a round trip may replace it) */
  AsmBackend *backend;  /* NULL: model only */
  char *journal;
  guint step;
  const char *op;       /* the operation being run, for messages */
} State;

static gboolean trace;
static gboolean allow_warning;

static void
log_handler (const gchar *domain, GLogLevelFlags level, const gchar *message,
             gpointer user_data)
{
  if ((level & G_LOG_LEVEL_WARNING) && allow_warning)
    return;
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL |
               G_LOG_LEVEL_WARNING))
    {
      fprintf (stderr, "fuzz-fabric-ops: GLib %s from %s: %s\n",
               (level & G_LOG_LEVEL_WARNING) ? "warning" : "critical/error",
               domain ? domain : "?", message);
      abort ();
    }
}

G_GNUC_PRINTF (2, 3) G_GNUC_NORETURN
static void
die (State *st, const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "fuzz-fabric-ops: step %u, %s:\n  ", st->step, st->op);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fprintf (stderr, "\n");
  abort ();
}

/* a save without its "journal_seq" line */
static char *
mask (const char *s)
{
  const char *k = strstr (s, "\"journal_seq\"");
  const char *e;

  if (k == NULL)
    return g_strdup (s);
  e = strchr (k, '\n');
  return g_strdup_printf ("%.*s%s", (int) (k - s), s, e ? e : "");
}

static char *
save_masked (AsmFabric *f)
{
  g_autofree char *s = asm_fabric_save (f, NULL);
  return mask (s);
}

/* each partition's n_devices is the number of devices mapped into it */
static void
check_device_counts (State *st)
{
  g_autoptr(GArray) parts = asm_fabric_list (st->fabric, ASM_FABRIC_PARTITIONS);
  g_autoptr(GArray) devs = asm_fabric_list (st->fabric, ASM_FABRIC_DEVICES);

  for (guint i = 0; i < parts->len; i++)
    {
      AsmPartitionInfo pi;
      AsmId id = g_array_index (parts, AsmId, i);
      guint n = 0;

      if (!asm_fabric_get_partition_info (st->fabric, id, &pi))
        die (st, "partition %u is listed but has no info", id);
      for (guint j = 0; j < devs->len; j++)
        {
          AsmDeviceInfo di;
          if (asm_fabric_get_device_info (st->fabric,
                                          g_array_index (devs, AsmId, j),
                                          &di) && di.partition == id)
            n++;
        }
      if (n != pi.n_devices)
        die (st, "partition %u has n_devices %u but %u devices are mapped "
             "into it", id, pi.n_devices, n);
    }
}

static void
check_all (State *st)
{
  g_autoptr(GError) error = NULL;

  if (!asm_fabric_check (st->fabric, &error))
    die (st, "asm_fabric_check: %s", error->message);
  check_device_counts (st);
  if (st->backend != NULL && !asm_sim_is_crashed (st->backend) &&
      !asm_sim_verify (st->backend, st->fabric, &error))
    {
      g_autofree char *dump = asm_sim_dump (st->backend);
      die (st, "asm_sim_verify: %s\n%s", error->message, dump);
    }
}

static void
check_translations (State *st)
{
  g_autoptr(GArray) parts = asm_fabric_list (st->fabric, ASM_FABRIC_PARTITIONS);

  for (guint i = 0; i < parts->len; i++)
    {
      AsmPartitionInfo info;
      AsmTranslation t;
      g_autoptr(GError) error = NULL;
      AsmId id = g_array_index (parts, AsmId, i);

      if (!asm_fabric_get_partition_info (st->fabric, id, &info))
        die (st, "partition %u is listed but has no info", id);
      if (!asm_fabric_translate (st->fabric, info.workload, info.virt_first,
                                 &t, &error))
        die (st, "translate partition %u at 0x%" G_GINT64_MODIFIER "x: %s",
             id, info.virt_first, error->message);
      if (t.partition != id || t.generation != info.generation || t.held)
        die (st, "translate partition %u: partition %u generation %u held "
             "%d, expected generation %u", id, t.partition, t.generation,
             t.held, info.generation);
      if (t.switch_id != info.switch_id || t.physical != info.phys_first)
        {
          /* only a transferred VF is routed elsewhere (its redirect) */
          AsmDeviceInfo di;
          if (t.device == ASM_ID_NONE ||
              !asm_fabric_get_device_info (st->fabric, t.device, &di) ||
              di.kind != ASM_DEVICE_VF || di.partition != id ||
              t.device_offset != 0 || di.partition_offset != 0)
            die (st, "translate partition %u: (%u, 0x%" G_GINT64_MODIFIER
                 "x) through device %u, its info says (%u, 0x%"
                 G_GINT64_MODIFIER "x)", id, t.switch_id, t.physical,
                 t.device, info.switch_id, info.phys_first);
        }
    }
}

static void
set_journal (State *st)
{
  g_autoptr(GError) error = NULL;

  if (st->backend != NULL &&
      !asm_fabric_set_journal (st->fabric, st->journal, &error))
    die (st, "set_journal: %s", error->message);
}

/* The process died in the middle of the operation: restore the save from
 * before it, recover with the journal, and go on with that fabric. */
static void
recover (State *st, const char *before_full, const char *before)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *after = NULL;
  AsmFabric *f;

  fabric_ops_clear_faults (st->ops);
  f = asm_fabric_restore (before_full, -1, st->backend, &error);
  if (f == NULL)
    die (st, "restore of the save before a crash: %s", error->message);
  if (!asm_fabric_recover (f, st->journal, &error))
    die (st, "recover after a crash: %s", error->message);
  fabric_ops_set_fabric (st->ops, f);
  asm_fabric_unref (f);
  st->fabric = f;
  allow_warning = FALSE;
  set_journal (st);
  after = save_masked (f);
  if (strcmp (after, before) != 0)
    die (st, "after the crash and recovery the fabric is not the one "
         "before the failed operation:\n--- before\n%s\n--- after\n%s",
         before, after);
  check_all (st);
}

/* restore (save (x)) saves to the same bytes */
static void
round_trip (State *st)
{
  g_autoptr(GError) error = NULL;
  gsize n1 = 0, n2 = 0;
  g_autofree char *s1 = asm_fabric_save (st->fabric, &n1);
  g_autofree char *s2 = NULL;
  g_autoptr(AsmFabric) f = asm_fabric_restore (s1, n1, st->backend, &error);

  if (f == NULL)
    die (st, "restore (save (x)) failed: %s\n%s", error->message, s1);
  s2 = asm_fabric_save (f, &n2);
  if (n1 != n2 || memcmp (s1, s2, n1) != 0)
    die (st, "save (restore (save (x))) differs:\n--- save\n%s\n--- "
         "again\n%s", s1, s2);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static gboolean initialised;
  static char *journal;
  State st = { 0 };
  ChoiceSource src;
  FabricOpResult res;
  FabricOpsConfig cfg = {
    .global_first = 0,
    .global_last = GLOBAL_LAST,
    .max_objects = {
      [ASM_FABRIC_SWITCHES] = MAX_SWITCHES,
      [ASM_FABRIC_DEVICES] = MAX_DEVICES,
      [ASM_FABRIC_WORKLOADS] = MAX_WORKLOADS,
      [ASM_FABRIC_PARTITIONS] = MAX_PARTITIONS,
    },
  };
  g_autoptr(GError) error = NULL;
  AsmFabric *f;

  if (!initialised)
    {
      g_log_set_default_handler (log_handler, NULL);
      g_log_set_handler ("asm", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL,
                         log_handler, NULL);
      trace = g_strcmp0 (g_getenv ("ASM_FUZZ_TRACE"), "1") == 0;
      journal = g_strdup_printf ("%s/fuzz-fabric-ops-%d.journal",
                                 g_get_tmp_dir (), (int) getpid ());
      initialised = TRUE;
    }
  if (size < 1)
    return 0;

  allow_warning = FALSE;
  st.op = "setup";
  choice_source_init_data (&src, data, size);
  st.backend = choice_below (&src, 4) == 0 ? NULL : asm_sim_backend_new ();
  st.journal = journal;
  f = asm_fabric_new ("fuzz", 0, GLOBAL_LAST, MIB, st.backend, &error);
  if (f == NULL)
    die (&st, "asm_fabric_new: %s", error->message);
  cfg.faults = cfg.crashes = st.backend != NULL;
  cfg.journal = st.backend != NULL ? journal : NULL;
  st.ops = fabric_ops_new (f, &cfg);
  st.fabric = f;
  asm_fabric_unref (f);
  remove (journal);
  set_journal (&st);
  if (trace)
    fprintf (stderr, "# backend %s\n", st.backend ? "sim" : "none");

  fabric_op_result_init (&res);
  for (st.step = 1; st.step <= MAX_OPS && src.pos < src.len; st.step++)
    {
      g_autofree char *before_full = asm_fabric_save (st.fabric, NULL);
      g_autofree char *before = mask (before_full);
      FabricOpOutcome outcome;

      g_clear_error (&error);
      /* an undo that fails after a crash warns */
      allow_warning = fabric_ops_crash_injected (st.ops);
      st.op = "(choosing)";
      outcome = fabric_ops_step (st.ops, &src, &res, &error);
      st.fabric = fabric_ops_get_fabric (st.ops);
      st.op = res.call->str;
      if (trace)
        fprintf (stderr, "%u: %s\n", st.step, res.call->str);
      if (outcome == FABRIC_OP_WRONG)
        die (&st, "%s", res.wrong->str);
      if (outcome == FABRIC_OP_REFUSED)
        {
          g_autofree char *after = NULL;

          if (trace)
            fprintf (stderr, "   -> error %s: %s\n",
                     test_code_name (error->code), error->message);
          if (st.backend != NULL && asm_sim_is_crashed (st.backend))
            {
              recover (&st, before_full, before);
              continue;
            }
          after = save_masked (st.fabric);
          if (strcmp (before, after) != 0)
            die (&st, "the operation failed (%s) but changed the fabric:\n"
                 "--- before\n%s\n--- after\n%s", error->message, before,
                 after);
          check_all (&st);
          continue;
        }
      if (res.effect == FABRIC_EFFECT_NOTHING)
        {
          g_autofree char *after = save_masked (st.fabric);
          if (strcmp (before, after) != 0)
            die (&st, "the operation should change nothing but did:\n"
                 "--- before\n%s\n--- after\n%s", before, after);
        }
      check_all (&st);
      check_translations (&st);
    }

  st.op = "final round trip";
  if (st.backend != NULL)
    fabric_ops_clear_faults (st.ops);
  round_trip (&st);
  fabric_op_result_clear (&res);
  fabric_ops_free (st.ops);
  if (st.backend != NULL)
    asm_backend_unref (st.backend);
  remove (journal);
  return 0;
}
