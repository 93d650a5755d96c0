/* fuzz-fabric-ops.c: libFuzzer target for AsmFabric operations
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * The input is a program.  Its first byte chooses the backend (the sim,
 * or none for one input in four: model only); then every operation is an
 * opcode byte followed by the bytes its arguments need, decoded until the
 * input runs out (at most MAX_OPS operations), so every byte string is a
 * valid input and a longer one is a longer program.  A byte read past the
 * end is 0.
 *
 * The operations build and change a small fabric (global space 1 GiB,
 * granule 1 MiB, at most MAX_SWITCHES switches, MAX_DEVICES devices,
 * MAX_WORKLOADS workloads): add switch (pinned or not), add window,
 * reserve global, add device (endpoint or PF), set SR-IOV, create VF, add
 * workload, request partition (every field of the request), map device,
 * grow, migrate (explicit target or chosen), release, transfer VF, record
 * usage, predict, rebalance, set window granule, a save/restore round trip
 * (optionally going on with the restored fabric, as a restarted process
 * would), and fault injection on the sim: fail call n, fail a kind of
 * call, crash after n calls, clear.  Object arguments are picked among the
 * fabric's own ids (asm_fabric_list()), or, for the last choice, any small
 * id, so unknown ids and ids of the wrong kind are exercised too.  Sizes,
 * alignments and names include invalid values.
 *
 * After every operation:
 *   - asm_fabric_check() passes and, with the sim, asm_sim_verify() passes
 *     (the hardware registers match the model); each partition's
 *     n_devices is the number of devices whose info names it;
 *   - a failed operation set an ASM_ERROR and left asm_fabric_save()
 *     unchanged (the "journal_seq" member aside: a transaction that was
 *     applied and undone still writes its journal records);
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
 * so) or a bad window granule was set (documented to warn).
 *
 * Set ASM_FUZZ_TRACE=1 to print every operation of a replayed input.
 */
#include <asm/asm.h>

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

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

typedef struct {
  const uint8_t *data;
  size_t size, pos;
} Src;

static guint
src_byte (Src *s)
{
  return s->pos < s->size ? s->data[s->pos++] : 0;
}

static guint
src_below (Src *s, guint n)
{
  return n <= 1 ? 0 : src_byte (s) % n;
}

typedef struct {
  AsmFabric *fabric;
  AsmBackend *backend;  /* NULL: model only */
  char *journal;
  guint step;
  guint name_seq;
  gdouble time;
  gboolean crash_armed; /* a crash was injected: undo may warn */
  char op[256];         /* the operation being run, for messages */
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

static AsmId
pick (State *st, Src *s, AsmFabricObjects what)
{
  g_autoptr(GArray) ids = asm_fabric_list (st->fabric, what);
  guint k = src_below (s, ids->len + 1);

  if (k < ids->len)
    return g_array_index (ids, AsmId, k);
  return src_below (s, 48); /* any id: unknown, 0, or another kind */
}

static guint
count (State *st, AsmFabricObjects what)
{
  g_autoptr(GArray) ids = asm_fabric_list (st->fabric, what);
  return ids->len;
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

  asm_sim_clear_faults (st->backend);
  f = asm_fabric_restore (before_full, -1, st->backend, &error);
  if (f == NULL)
    die (st, "restore of the save before a crash: %s", error->message);
  if (!asm_fabric_recover (f, st->journal, &error))
    die (st, "recover after a crash: %s", error->message);
  asm_fabric_unref (st->fabric);
  st->fabric = f;
  st->crash_armed = FALSE;
  allow_warning = FALSE;
  set_journal (st);
  after = save_masked (f);
  if (strcmp (after, before) != 0)
    die (st, "after the crash and recovery the fabric is not the one "
         "before the failed operation:\n--- before\n%s\n--- after\n%s",
         before, after);
  check_all (st);
}

static void
round_trip (State *st, gboolean replace)
{
  g_autoptr(GError) error = NULL;
  gsize n1 = 0, n2 = 0;
  g_autofree char *s1 = asm_fabric_save (st->fabric, &n1);
  g_autofree char *s2 = NULL;
  AsmFabric *f = asm_fabric_restore (s1, n1, st->backend, &error);

  if (f == NULL)
    die (st, "restore (save (x)) failed: %s\n%s", error->message, s1);
  s2 = asm_fabric_save (f, &n2);
  if (n1 != n2 || memcmp (s1, s2, n1) != 0)
    die (st, "save (restore (save (x))) differs:\n--- save\n%s\n--- "
         "again\n%s", s1, s2);
  if (replace)
    {
      asm_fabric_unref (st->fabric);
      st->fabric = f;
      set_journal (st);
    }
  else
    asm_fabric_unref (f);
}

static const char *
name (State *st, Src *s, const char *prefix, AsmFabricObjects kind)
{
  static char buf[32];
  guint c = src_below (s, 8);

  if (c == 0)
    return "";
  if (c == 1)
    {
      /* an existing name (duplicate switch names are refused) */
      g_autoptr(GArray) ids = asm_fabric_list (st->fabric, kind);
      if (ids->len > 0 && kind == ASM_FABRIC_SWITCHES)
        {
          AsmSwitchInfo si;
          if (asm_fabric_get_switch_info (st->fabric,
                                          g_array_index (ids, AsmId, 0), &si))
            return si.name;
        }
    }
  g_snprintf (buf, sizeof buf, "%s%u", prefix, st->name_seq++);
  return buf;
}

static guint64
size_mib (Src *s, guint max)
{
  guint c = src_byte (s);
  guint64 v = (c % max) * MIB;

  if (c >= 0xf0)
    v += 4096; /* not a multiple of the granule */
  return v;
}

static const guint64 bandwidths[] = { 0, 100, 1000, 10000 };
static const guint32 latencies[] = { 0, 100, 1000, 5000 };
static const guint32 capacities[] = { 0, 1, 2, 4, 8 };
static const guint32 ports[] = { 0, 1, 2, 4 };
static const guint64 aligns[] = { 0, MIB, 2 * MIB, 4 * MIB, 3 * MIB };
static const guint64 min_bws[] = { 0, 100, 1000, 20000 };
static const guint64 demands[] = { 0, 10, 100, 1000, 5000 };
static const guint64 vf_bars[] = { 4096, 65536, MIB, 3 * MIB };
static const guint32 max_vfs[] = { 0, 1, 2, 4, 65 };
static const guint64 window_granules[] = { MIB, 2 * MIB, 8 * MIB, 3 * MIB,
                                           4096 };

enum {
  OP_ADD_SWITCH,
  OP_ADD_WINDOW,
  OP_RESERVE_GLOBAL,
  OP_ADD_DEVICE,
  OP_SET_SRIOV,
  OP_CREATE_VF,
  OP_ADD_WORKLOAD,
  OP_REQUEST,
  OP_REQUEST2, /* requests are the heart of it: twice the weight */
  OP_MAP,
  OP_GROW,
  OP_MIGRATE,
  OP_MIGRATE2,
  OP_RELEASE,
  OP_TRANSFER_VF,
  OP_RECORD_USAGE,
  OP_PREDICT,
  OP_REBALANCE,
  OP_WINDOW_GRANULE,
  OP_ROUND_TRIP,
  OP_FAULT,
  N_OPS
};

#define OPF(...) g_snprintf (st->op, sizeof st->op, __VA_ARGS__)

/* Runs one operation; returns FALSE with *error set when it failed, TRUE
 * when it succeeded or was skipped (*skipped). */
static gboolean
run_op (State *st, Src *s, gboolean *changes_nothing, GError **error)
{
  guint op = src_below (s, N_OPS);
  AsmId a, b;

  *changes_nothing = FALSE;
  switch (op)
    {
    case OP_ADD_SWITCH:
      {
        AsmSwitchSpec spec;
        guint c = src_byte (s);
        if (count (st, ASM_FABRIC_SWITCHES) >= MAX_SWITCHES)
          break;
        spec.name = name (st, s, "s", ASM_FABRIC_SWITCHES);
        spec.bandwidth = bandwidths[c % 4];
        spec.latency_ns = latencies[(c / 4) % 4];
        spec.table_capacity = capacities[src_below (s, 5)];
        spec.n_ports = ports[(c / 16) % 4];
        spec.pinned = (c / 64) == 3;
        OPF ("add_switch ('%s', bw %" G_GUINT64_FORMAT ", lat %u, cap %u, "
             "ports %u, pinned %d)", spec.name, spec.bandwidth,
             spec.latency_ns, spec.table_capacity, spec.n_ports, spec.pinned);
        if (trace)
          fprintf (stderr, "%u: %s\n", st->step, st->op);
        return asm_fabric_add_switch (st->fabric, &spec, NULL, error);
      }
    case OP_ADD_WINDOW:
    case OP_RESERVE_GLOBAL:
      {
        guint64 first = src_below (s, 128) * 8 * MIB, last;
        guint c = src_byte (s);
        last = first + (1 + c % 16) * MIB - 1;
        if (c >= 0xf0)
          first += 4096;
        a = op == OP_ADD_WINDOW ? pick (st, s, ASM_FABRIC_SWITCHES) : 0;
        OPF ("%s (%u, 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER "x)",
             op == OP_ADD_WINDOW ? "add_window" : "reserve_global", a, first,
             last);
        if (trace)
          fprintf (stderr, "%u: %s\n", st->step, st->op);
        if (op == OP_ADD_WINDOW)
          return asm_fabric_add_window (st->fabric, a, first, last, error);
        return asm_fabric_reserve_global (st->fabric, first, last, error);
      }
    case OP_ADD_DEVICE:
      {
        guint c = src_byte (s);
        const char *n;
        guint64 bar;
        guint32 port;
        AsmDeviceKind kind = (AsmDeviceKind) (c % 3);
        if (count (st, ASM_FABRIC_DEVICES) >= MAX_DEVICES)
          break;
        n = name (st, s, "d", ASM_FABRIC_DEVICES);
        bar = (c / 3) % 16 == 15 ? 3 * MIB
                                 : G_GUINT64_CONSTANT (1) << (12 + (c / 3) % 12);
        a = pick (st, s, ASM_FABRIC_SWITCHES);
        port = src_below (s, 5);
        OPF ("add_device ('%s', kind %d, bar 0x%" G_GINT64_MODIFIER "x, "
             "switch %u, port %u)", n, kind, bar, a, port);
        if (trace)
          fprintf (stderr, "%u: %s\n", st->step, st->op);
        return asm_fabric_add_device (st->fabric, n, kind, bar, a, port,
                                      NULL, error);
      }
    case OP_SET_SRIOV:
      {
        guint32 n;
        guint64 bar;
        a = pick (st, s, ASM_FABRIC_DEVICES);
        n = max_vfs[src_below (s, 5)];
        bar = vf_bars[src_below (s, 4)];
        OPF ("set_sriov (%u, %u VFs, bar 0x%" G_GINT64_MODIFIER "x)", a, n,
             bar);
        if (trace)
          fprintf (stderr, "%u: %s\n", st->step, st->op);
        return asm_fabric_set_sriov (st->fabric, a, n, bar, error);
      }
    case OP_CREATE_VF:
      if (count (st, ASM_FABRIC_DEVICES) >= MAX_DEVICES)
        break;
      a = pick (st, s, ASM_FABRIC_DEVICES);
      OPF ("create_vf (%u)", a);
      if (trace)
        fprintf (stderr, "%u: %s\n", st->step, st->op);
      return asm_fabric_create_vf (st->fabric, a, NULL, error);
    case OP_ADD_WORKLOAD:
      {
        const char *n;
        if (count (st, ASM_FABRIC_WORKLOADS) >= MAX_WORKLOADS)
          break;
        n = name (st, s, "w", ASM_FABRIC_WORKLOADS);
        OPF ("add_workload ('%s')", n);
        if (trace)
          fprintf (stderr, "%u: %s\n", st->step, st->op);
        return asm_fabric_add_workload (st->fabric, n, NULL, error);
      }
    case OP_REQUEST:
    case OP_REQUEST2:
      {
        AsmPartitionRequest req;
        guint c = src_byte (s);
        a = pick (st, s, ASM_FABRIC_WORKLOADS);
        req.size = size_mib (s, 10);
        req.align = aligns[c % 5];
        req.min_bandwidth = min_bws[(c / 5) % 4];
        req.max_latency_ns = latencies[(c / 20) % 4];
        req.preferred_switch = (c / 80) ? pick (st, s, ASM_FABRIC_SWITCHES) : 0;
        req.bandwidth_demand = demands[src_below (s, 5)];
        OPF ("request_partition (workload %u, size 0x%" G_GINT64_MODIFIER
             "x, align 0x%" G_GINT64_MODIFIER "x, min bw %" G_GUINT64_FORMAT
             ", max lat %u, preferred %u, demand %" G_GUINT64_FORMAT ")", a,
             req.size, req.align, req.min_bandwidth, req.max_latency_ns,
             req.preferred_switch, req.bandwidth_demand);
        if (trace)
          fprintf (stderr, "%u: %s\n", st->step, st->op);
        return asm_fabric_request_partition (st->fabric, a, &req, NULL, NULL,
                                             error);
      }
    case OP_MAP:
      a = pick (st, s, ASM_FABRIC_PARTITIONS);
      b = pick (st, s, ASM_FABRIC_DEVICES);
      OPF ("map_device (partition %u, device %u)", a, b);
      if (trace)
        fprintf (stderr, "%u: %s\n", st->step, st->op);
      return asm_fabric_map_device (st->fabric, a, b, NULL, error);
    case OP_GROW:
      {
        guint64 sz;
        a = pick (st, s, ASM_FABRIC_PARTITIONS);
        sz = size_mib (s, 16);
        OPF ("grow_partition (%u, 0x%" G_GINT64_MODIFIER "x)", a, sz);
        if (trace)
          fprintf (stderr, "%u: %s\n", st->step, st->op);
        return asm_fabric_grow_partition (st->fabric, a, sz, error);
      }
    case OP_MIGRATE:
    case OP_MIGRATE2:
      a = pick (st, s, ASM_FABRIC_PARTITIONS);
      b = src_below (s, 4) == 0 ? ASM_ID_NONE : pick (st, s, ASM_FABRIC_SWITCHES);
      OPF ("migrate_partition (%u, to %u)", a, b);
      if (trace)
        fprintf (stderr, "%u: %s\n", st->step, st->op);
      return asm_fabric_migrate_partition (st->fabric, a, b, error);
    case OP_RELEASE:
      a = pick (st, s, ASM_FABRIC_PARTITIONS);
      OPF ("release_partition (%u)", a);
      if (trace)
        fprintf (stderr, "%u: %s\n", st->step, st->op);
      return asm_fabric_release_partition (st->fabric, a, error);
    case OP_TRANSFER_VF:
      if (count (st, ASM_FABRIC_DEVICES) >= MAX_DEVICES + 2)
        break;
      a = pick (st, s, ASM_FABRIC_DEVICES);
      b = pick (st, s, ASM_FABRIC_DEVICES);
      OPF ("transfer_vf (%u, to PF %u)", a, b);
      if (trace)
        fprintf (stderr, "%u: %s\n", st->step, st->op);
      return asm_fabric_transfer_vf (st->fabric, a, b, NULL, error);
    case OP_RECORD_USAGE:
      {
        guint c = src_byte (s);
        guint64 bytes = (guint64) src_byte (s) * MIB / 4;
        gdouble t = st->time + (c % 4);  /* + 0: not after the last */
        a = pick (st, s, ASM_FABRIC_WORKLOADS);
        OPF ("record_usage (%u, time %g, 0x%" G_GINT64_MODIFIER "x)", a, t,
             bytes);
        if (trace)
          fprintf (stderr, "%u: %s\n", st->step, st->op);
        if (c % 4 != 0)
          st->time = t;
        return asm_fabric_record_usage (st->fabric, a, t, bytes, error);
      }
    case OP_PREDICT:
      {
        guint64 out = 0;
        a = pick (st, s, ASM_FABRIC_WORKLOADS);
        OPF ("predict (%u)", a);
        if (trace)
          fprintf (stderr, "%u: %s\n", st->step, st->op);
        *changes_nothing = TRUE;
        return asm_fabric_predict (st->fabric, a, src_below (s, 8), &out,
                                   error);
      }
    case OP_REBALANCE:
      {
        AsmRebalanceReport rep;
        gdouble horizon = src_below (s, 8);
        OPF ("rebalance (%g)", horizon);
        if (trace)
          fprintf (stderr, "%u: %s\n", st->step, st->op);
        if (!asm_fabric_rebalance (st->fabric, horizon, &rep, error))
          return FALSE;
        if (rep.n_grown + rep.n_migrated + rep.n_failed > rep.n_examined)
          die (st, "rebalance report: %u examined, %u grown, %u migrated, "
               "%u failed", rep.n_examined, rep.n_grown, rep.n_migrated,
               rep.n_failed);
        return TRUE;
      }
    case OP_WINDOW_GRANULE:
      {
        guint64 g = window_granules[src_below (s, 5)];
        OPF ("set_window_granule (0x%" G_GINT64_MODIFIER "x)", g);
        if (trace)
          fprintf (stderr, "%u: %s\n", st->step, st->op);
        {
          g_autoptr (GError) gerr = NULL;
          gboolean good = g >= asm_fabric_get_granule (st->fabric) &&
                          (g & (g - 1)) == 0;
          if (asm_fabric_set_window_granule (st->fabric, g, &gerr) != good)
            die (st, "set_window_granule (0x%" G_GINT64_MODIFIER "x): %s",
                 g, gerr ? gerr->message : "accepted a bad value");
          if (gerr != NULL && !g_error_matches (gerr, ASM_ERROR,
                                                ASM_ERROR_INVALID))
            die (st, "set_window_granule: wrong code: %s", gerr->message);
        }
        return TRUE;
      }
    case OP_ROUND_TRIP:
      {
        gboolean replace = src_below (s, 2);
        OPF ("round trip (replace %d)", replace);
        if (trace)
          fprintf (stderr, "%u: %s\n", st->step, st->op);
        round_trip (st, replace);
        return TRUE;
      }
    case OP_FAULT:
      {
        guint c = src_byte (s);
        if (st->backend == NULL)
          break;
        switch (c % 6)
          {
          case 0:
          case 1:
            OPF ("sim: fail call %u", 1 + c / 6 % 16);
            asm_sim_fail_call (st->backend, 1 + c / 6 % 16);
            break;
          case 2:
            OPF ("sim: fail kind %u", c / 6 % 8);
            asm_sim_fail_kind (st->backend, (AsmSimOp) (c / 6 % 8), TRUE);
            break;
          case 3:
            OPF ("sim: crash after %u", 1 + c / 6 % 24);
            asm_sim_crash_after (st->backend, 1 + c / 6 % 24);
            st->crash_armed = TRUE;
            allow_warning = TRUE;
            break;
          default:
            OPF ("sim: clear faults");
            asm_sim_clear_faults (st->backend);
            /* a crash that already happened is over: the fabric may be
             * broken, in which case the next failure recovers it */
            break;
          }
        if (trace)
          fprintf (stderr, "%u: %s\n", st->step, st->op);
        *changes_nothing = TRUE;
        return TRUE;
      }
    }
  OPF ("(skipped)");
  *changes_nothing = TRUE;
  return TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static gboolean initialised;
  static char *journal;
  State st = { 0 };
  Src s = { data, size, 0 };
  g_autoptr(GError) error = NULL;

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
  st.backend = src_below (&s, 4) == 0 ? NULL : asm_sim_backend_new ();
  st.journal = journal;
  st.fabric = asm_fabric_new ("fuzz", 0, GLOBAL_LAST, MIB, st.backend,
                              &error);
  if (st.fabric == NULL)
    die (&st, "asm_fabric_new: %s", error->message);
  remove (journal);
  set_journal (&st);
  if (trace)
    fprintf (stderr, "# backend %s\n", st.backend ? "sim" : "none");

  for (st.step = 1; st.step <= MAX_OPS && s.pos < s.size; st.step++)
    {
      g_autofree char *before_full = asm_fabric_save (st.fabric, NULL);
      g_autofree char *before = mask (before_full);
      gboolean nothing = FALSE, ok;

      g_clear_error (&error);
      st.op[0] = '\0';
      ok = run_op (&st, &s, &nothing, &error);
      if (!ok)
        {
          g_autofree char *after = NULL;

          if (error == NULL || error->domain != ASM_ERROR)
            die (&st, "failed without an ASM_ERROR (%s)",
                 error ? error->message : "no error");
          if (trace)
            fprintf (stderr, "   -> error %d: %s\n", error->code,
                     error->message);
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
      if (nothing)
        {
          g_autofree char *after = save_masked (st.fabric);
          if (strcmp (before, after) != 0)
            die (&st, "the operation should change nothing but did:\n"
                 "--- before\n%s\n--- after\n%s", before, after);
        }
      check_all (&st);
      check_translations (&st);
    }

  st.op[0] = '\0';
  g_strlcpy (st.op, "final round trip", sizeof st.op);
  if (st.backend != NULL)
    asm_sim_clear_faults (st.backend);
  round_trip (&st, FALSE);
  asm_fabric_unref (st.fabric);
  if (st.backend != NULL)
    asm_backend_unref (st.backend);
  remove (journal);
  return 0;
}
