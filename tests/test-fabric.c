/* test-fabric.c: unit tests of AsmFabric over the sim backend (layer 3)
 *
 * Four parts.
 *
 * Operations.  Every public operation on small hand-built fabrics: its
 * happy path (ids, infos, windows, tables, events) and each documented
 * error, which must come with the documented code, a message naming the
 * offending value, and leave the fabric byte for byte as it was
 * (asm_fabric_save(), the global arena's stats and every AsmSwitchInfo are
 * compared).  asm_fabric_check() and asm_sim_verify() run after every
 * change.
 *
 * The fault matrix.  One deterministic "scene" (three switches, one
 * pinned; endpoints, PFs with VFs, two workloads, three partitions) and a
 * table of multi-step operations on it, each with the exact sequence of
 * backend steps its planner records (the order migration and function
 * transfer need).  For each operation the test runs it once to count its
 * backend calls N, checks N against the expected steps, then on a second
 * identical scene makes every call k = 1..N fail in turn
 * (asm_sim_fail_call()) and checks that the operation fails with
 * ASM_ERROR_BACKEND naming "step i of n (<the step that call k belongs
 * to>", that the fabric, the global arena, every switch and the simulated
 * hardware are as before, that observers heard exactly one ROLLED_BACK and
 * that every held driver was resumed; finally the operation runs without a
 * fault on that same, many times rolled back, fabric and must give the
 * very bytes of the first run.  The same again with asm_sim_fail_kind()
 * for every AsmSimOp: the first step of that kind fails, or, when the
 * operation has none, it succeeds with the same bytes.
 *
 * Crashes.  For the same operations and every k = 0..N, the process
 * "dies" after k calls (asm_sim_crash_after()); a new fabric restored from
 * the last save on the same simulated hardware recovers from the journal
 * and must equal the state before the operation (or after it, when all N
 * calls ran and the operation committed), match the hardware, and carry
 * on.  Committed operations after the save are replayed, an undone one is
 * skipped.
 *
 * Translation, save/restore and the profiler.  Translations of every
 * mapped address stay the same device and device offset across random
 * migrations and VF transfers (the device becomes the new VF after a
 * transfer), and each translation is backed by an entry of the hardware
 * table that routes it; a driver's hold callback that translates sees the
 * old mapping with held set.  restore(save(x)) is x; hostile documents are
 * refused with ASM_ERROR_PARSE naming the JSON path.  The profiler's
 * prediction error at horizon 10 is printed for five synthetic traces.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#include <unistd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <asm/asm.h>

#include "asm-test.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <asm/asm-sim.h>
#include <json-glib/json-glib.h>

#define X "0x%" G_GINT64_MODIFIER "x"
#define KIB (G_GUINT64_CONSTANT (1) << 10)
#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define GRAN (2 * MIB)
#define BASE (G_GUINT64_CONSTANT (1) << 32)
#define GLOBAL_SIZE (256 * MIB)

/* ---------------------------------------------------------------------- */
/* Log: the warnings a crashed fabric prints are expected                  */
/* ---------------------------------------------------------------------- */

static gboolean quiet_undo_warnings;
static guint n_quieted;

static void
log_handler (const char *domain, GLogLevelFlags level, const char *message,
             gpointer user_data)
{
  if (quiet_undo_warnings && (level & G_LOG_LEVEL_WARNING) &&
      (strstr (message, "undo of step") != NULL ||
       strstr (message, "cannot write a record") != NULL))
    {
      n_quieted++;
      return;
    }
  g_log_default_handler (domain, level, message, user_data);
}

/* Fails with every line of `problems`, when there is any. */
static void
report_at (GString *problems, const char *file, int line)
{
  gchar **lines;
  guint n = 0;

  if (problems->len == 0)
    return;
  lines = g_strsplit (problems->str, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] != '\0')
      {
        print_error ("%s\n", lines[i]);
        n++;
      }
  g_strfreev (lines);
  FAIL_AT (file, line, "%u problems", n);
}
#define REPORT(problems) report_at ((problems), __FILE__, __LINE__)

/* ---------------------------------------------------------------------- */
/* Consistency and snapshots                                              */
/* ---------------------------------------------------------------------- */

static void
consistent_at (AsmFabric *f, AsmBackend *sim, const char *file, int line)
{
  g_autoptr (GError) error = NULL;

  if (!asm_fabric_check (f, &error))
    FAIL_AT (file, line, "asm_fabric_check: %s", error->message);
  if (sim != NULL && !asm_sim_verify (sim, f, &error))
    FAIL_AT (file, line, "asm_sim_verify: %s", error->message);
}
#define CONSISTENT(f, sim) consistent_at ((f), (sim), __FILE__, __LINE__)

/* Everything a failed operation must leave as it was. */
typedef struct {
  char *json;
  AsmArenaStats global;
  GArray *switches; /* AsmSwitchInfo */
} Snap;

static void
snap_take (AsmFabric *f, Snap *s)
{
  g_autoptr (GArray) ids = asm_fabric_list (f, ASM_FABRIC_SWITCHES);

  s->json = asm_fabric_save (f, NULL);
  asm_fabric_get_global_stats (f, &s->global);
  s->switches = g_array_new (FALSE, TRUE, sizeof (AsmSwitchInfo));
  for (guint i = 0; i < ids->len; i++)
    {
      AsmSwitchInfo info;
      g_assert_true (asm_fabric_get_switch_info (
          f, g_array_index (ids, AsmId, i), &info));
      g_array_append_val (s->switches, info);
    }
}

static void
snap_clear (Snap *s)
{
  g_clear_pointer (&s->json, g_free);
  g_clear_pointer (&s->switches, g_array_unref);
}

static gboolean
switch_info_equal (const AsmSwitchInfo *a, const AsmSwitchInfo *b)
{
  return a->id == b->id && g_strcmp0 (a->name, b->name) == 0 &&
         a->bandwidth == b->bandwidth &&
         a->bandwidth_used == b->bandwidth_used &&
         a->latency_ns == b->latency_ns &&
         a->table_capacity == b->table_capacity &&
         a->table_used == b->table_used && a->n_ports == b->n_ports &&
         a->n_ports_used == b->n_ports_used && a->pinned == b->pinned &&
         a->n_windows == b->n_windows && a->window_bytes == b->window_bytes &&
         a->free_bytes == b->free_bytes && a->n_partitions == b->n_partitions;
}

/* NULL when f is as in s, else what differs */
static char *
snap_diff (AsmFabric *f, const Snap *s)
{
  Snap now = { 0 };
  char *why = NULL;

  snap_take (f, &now);
  if (strcmp (now.json, s->json) != 0)
    why = g_strdup_printf ("the saved state changed:\nbefore:\n%s\nafter:\n%s",
                           s->json, now.json);
  else if (memcmp (&now.global, &s->global, sizeof now.global) != 0)
    why = g_strdup_printf ("the global stats changed: allocated " X " -> " X
                           ", %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT
                           " allocations",
                           s->global.allocated_units, now.global.allocated_units,
                           s->global.n_allocated, now.global.n_allocated);
  else if (now.switches->len != s->switches->len)
    why = g_strdup ("the number of switches changed");
  else
    for (guint i = 0; i < now.switches->len && why == NULL; i++)
      {
        const AsmSwitchInfo *a = &g_array_index (s->switches, AsmSwitchInfo, i);
        const AsmSwitchInfo *b = &g_array_index (now.switches, AsmSwitchInfo,
                                                 i);
        if (!switch_info_equal (a, b))
          why = g_strdup_printf (
              "switch %u changed: free " X " -> " X ", windows " X " -> " X
              ", table %u -> %u, bandwidth %" G_GUINT64_FORMAT " -> %"
              G_GUINT64_FORMAT ", ports %u -> %u", a->id, a->free_bytes,
              b->free_bytes, a->window_bytes, b->window_bytes, a->table_used,
              b->table_used, a->bandwidth_used, b->bandwidth_used,
              a->n_ports_used, b->n_ports_used);
      }
  snap_clear (&now);
  return why;
}

static void
unchanged_at (AsmFabric *f, const Snap *s, const char *file, int line)
{
  g_autofree char *why = snap_diff (f, s);

  if (why != NULL)
    FAIL_AT (file, line, "%s", why);
}
#define UNCHANGED(f, snap) unchanged_at ((f), (snap), __FILE__, __LINE__)

/* The saved JSON without its "journal_seq" line: the journal position is
 * the only thing a failed (journaled) operation may advance. */
static char *
strip_seq (const char *json)
{
  g_autoptr (GRegex) re = g_regex_new ("^ *\"journal_seq\" : \"0x[0-9a-f]+\","
                                       "\n", G_REGEX_MULTILINE, 0, NULL);
  return g_regex_replace_literal (re, json, -1, 0, "", 0, NULL);
}

static gboolean
same_but_seq (const char *a, const char *b)
{
  g_autofree char *x = strip_seq (a);
  g_autofree char *y = strip_seq (b);
  return strcmp (x, y) == 0;
}

/* ---------------------------------------------------------------------- */
/* Building                                                               */
/* ---------------------------------------------------------------------- */

static AsmFabric *
fabric_new_at (AsmBackend *sim, guint64 size, const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  AsmFabric *f = asm_fabric_new ("test", BASE, BASE + size - 1, GRAN, sim,
                                 &error);
  if (f == NULL)
    FAIL_AT (file, line, "asm_fabric_new: %s", error->message);
  return f;
}
#define FABRIC_NEW(sim, size) fabric_new_at ((sim), (size), __FILE__, __LINE__)

static AsmId
switch_at (AsmFabric *f, const char *name, guint64 bw, guint32 lat,
           guint32 cap, guint32 ports, gboolean pinned, const char *file,
           int line)
{
  g_autoptr (GError) error = NULL;
  AsmSwitchSpec spec = { name, bw, lat, cap, ports, pinned };
  AsmId id = ASM_ID_NONE;

  if (!asm_fabric_add_switch (f, &spec, &id, &error))
    FAIL_AT (file, line, "add_switch '%s': %s", name, error->message);
  return id;
}
#define SWITCH(f, name, bw, lat, cap, ports, pinned) \
  switch_at ((f), (name), (bw), (lat), (cap), (ports), (pinned), __FILE__, \
             __LINE__)

static AsmId
device_at (AsmFabric *f, const char *name, AsmDeviceKind kind, guint64 bar,
           AsmId sw, guint32 port, const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  AsmId id = ASM_ID_NONE;

  if (!asm_fabric_add_device (f, name, kind, bar, sw, port, &id, &error))
    FAIL_AT (file, line, "add_device '%s': %s", name, error->message);
  return id;
}
#define DEVICE(f, name, kind, bar, sw, port) \
  device_at ((f), (name), (kind), (bar), (sw), (port), __FILE__, __LINE__)

static AsmId
workload_at (AsmFabric *f, const char *name, const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  AsmId id = ASM_ID_NONE;

  if (!asm_fabric_add_workload (f, name, &id, &error))
    FAIL_AT (file, line, "add_workload '%s': %s", name, error->message);
  return id;
}
#define WORKLOAD(f, name) workload_at ((f), (name), __FILE__, __LINE__)

static AsmId
request_at (AsmFabric *f, AsmId w, guint64 size, AsmId pref, guint64 demand,
            guint64 *out_virt, const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  AsmPartitionRequest req = { 0 };
  AsmId id = ASM_ID_NONE;

  req.size = size;
  req.preferred_switch = pref;
  req.bandwidth_demand = demand;
  if (!asm_fabric_request_partition (f, w, &req, &id, out_virt, &error))
    FAIL_AT (file, line, "request_partition: %s", error->message);
  return id;
}
#define REQUEST(f, w, size, pref, demand, out_virt) \
  request_at ((f), (w), (size), (pref), (demand), (out_virt), __FILE__, \
              __LINE__)

static guint64
map_at (AsmFabric *f, AsmId p, AsmId d, const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  guint64 off = G_MAXUINT64;

  if (!asm_fabric_map_device (f, p, d, &off, &error))
    FAIL_AT (file, line, "map_device %u into %u: %s", d, p, error->message);
  return off;
}
#define MAP(f, p, d) map_at ((f), (p), (d), __FILE__, __LINE__)

static AsmId
vf_at (AsmFabric *f, AsmId pf, const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  AsmId id = ASM_ID_NONE;

  if (!asm_fabric_create_vf (f, pf, &id, &error))
    FAIL_AT (file, line, "create_vf of %u: %s", pf, error->message);
  return id;
}
#define VF(f, pf) vf_at ((f), (pf), __FILE__, __LINE__)

static AsmPartitionInfo
pinfo_at (AsmFabric *f, AsmId p, const char *file, int line)
{
  AsmPartitionInfo info = { 0 };
  if (!asm_fabric_get_partition_info (f, p, &info))
    FAIL_AT (file, line, "partition %u does not exist", p);
  return info;
}
#define PINFO(f, p) pinfo_at ((f), (p), __FILE__, __LINE__)

static AsmDeviceInfo
dinfo_at (AsmFabric *f, AsmId d, const char *file, int line)
{
  AsmDeviceInfo info = { 0 };
  if (!asm_fabric_get_device_info (f, d, &info))
    FAIL_AT (file, line, "device %u does not exist", d);
  return info;
}
#define DINFO(f, d) dinfo_at ((f), (d), __FILE__, __LINE__)

static AsmSwitchInfo
sinfo_at (AsmFabric *f, AsmId s, const char *file, int line)
{
  AsmSwitchInfo info = { 0 };
  if (!asm_fabric_get_switch_info (f, s, &info))
    FAIL_AT (file, line, "switch %u does not exist", s);
  return info;
}
#define SINFO(f, s) sinfo_at ((f), (s), __FILE__, __LINE__)

static AsmTranslation
xlate_at (AsmFabric *f, AsmId w, guint64 virt, const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  AsmTranslation t = { 0 };

  if (!asm_fabric_translate (f, w, virt, &t, &error))
    FAIL_AT (file, line, "translate " X " of workload %u: %s", virt, w,
             error->message);
  return t;
}
#define XLATE(f, w, virt) xlate_at ((f), (w), (virt), __FILE__, __LINE__)

/* ---------------------------------------------------------------------- */
/* Observers and drivers                                                  */
/* ---------------------------------------------------------------------- */

typedef struct {
  AsmFabricEventKind kind;
  AsmId sw, old_sw, partition, device;
  AsmRange range;
} Ev;

typedef struct {
  GArray *events;     /* Ev */
  GString *problems;  /* what the observer found wrong */
} EvLog;

/* An observer that records events and checks they come after the change
 * is published (it calls back into the fabric, which would deadlock if a
 * lock were held). */
static void
record_event (AsmFabric *f, const AsmFabricEvent *e, gpointer data)
{
  EvLog *log = data;
  Ev ev = { e->kind, e->switch_id, e->old_switch_id, e->partition,
            e->device, e->range };
  AsmPartitionInfo pi;
  gboolean exists;

  g_array_append_val (log->events, ev);
  if (e->message == NULL || e->message[0] == '\0')
    g_string_append_printf (log->problems, "event %d without a message; ",
                            e->kind);
  exists = e->partition != ASM_ID_NONE &&
           asm_fabric_get_partition_info (f, e->partition, &pi);
  switch (e->kind)
    {
    case ASM_EVENT_PARTITION_PLACED:
    case ASM_EVENT_PARTITION_MIGRATED:
    case ASM_EVENT_PARTITION_GROWN:
      if (!exists || pi.switch_id != e->switch_id ||
          pi.phys_first != e->range.first ||
          pi.size != e->range.last - e->range.first + 1)
        g_string_append_printf (log->problems,
                                "event %d for partition %u is not what the "
                                "fabric shows; ", e->kind, e->partition);
      break;
    case ASM_EVENT_PARTITION_RELEASED:
      if (exists)
        g_string_append_printf (log->problems, "partition %u released but "
                                "still there; ", e->partition);
      break;
    case ASM_EVENT_VF_TRANSFERRED:
    case ASM_EVENT_DEVICE_MAPPED:
      {
        AsmDeviceInfo di;
        if (!asm_fabric_get_device_info (f, e->device, &di) ||
            di.partition != e->partition)
          g_string_append_printf (log->problems, "device %u of event %d is "
                                  "not mapped into %u; ", e->device, e->kind,
                                  e->partition);
      }
      break;
    default:
      break;
    }
  /* the write lock is free: saving takes it */
  g_free (asm_fabric_save (f, NULL));
}

static void
evlog_init (EvLog *log)
{
  log->events = g_array_new (FALSE, FALSE, sizeof (Ev));
  log->problems = g_string_new (NULL);
}

static void
evlog_clear (EvLog *log)
{
  g_array_unref (log->events);
  g_string_free (log->problems, TRUE);
}

static void
evlog_reset (EvLog *log)
{
  g_array_set_size (log->events, 0);
  g_string_truncate (log->problems, 0);
}

static guint
evlog_count (EvLog *log, AsmFabricEventKind kind)
{
  guint n = 0;
  for (guint i = 0; i < log->events->len; i++)
    n += g_array_index (log->events, Ev, i).kind == kind;
  return n;
}

/* Driver notifications, as "h3 m3@2:0x... r3 " */
typedef struct {
  GString *log;
  gint holds, resumes;
  GString *problems;
  /* a probe translated inside the callbacks */
  AsmId probe_workload;
  guint64 probe_virt;
  AsmTranslation probe_before;  /* the mapping before the operation */
  gboolean probe_on;
  guint n_probed_hold, n_probed_moved;
} DrvLog;

static void
drv_hold (AsmFabric *f, AsmId device, gpointer data)
{
  DrvLog *d = data;

  d->holds++;
  g_string_append_printf (d->log, "h%u ", device);
  if (d->probe_on)
    {
      AsmTranslation t;
      if (!asm_fabric_translate (f, d->probe_workload, d->probe_virt, &t,
                                 NULL))
        g_string_append (d->problems, "translate fails in hold; ");
      else if (!t.held || t.switch_id != d->probe_before.switch_id ||
               t.physical != d->probe_before.physical ||
               t.device != d->probe_before.device ||
               t.device_offset != d->probe_before.device_offset ||
               t.generation != d->probe_before.generation)
        g_string_append_printf (d->problems,
                                "in hold: held %d switch %u phys " X
                                " device %u gen %u, expected the old mapping "
                                "(switch %u phys " X " device %u gen %u) "
                                "held; ", t.held, t.switch_id, t.physical,
                                t.device, t.generation,
                                d->probe_before.switch_id,
                                d->probe_before.physical,
                                d->probe_before.device,
                                d->probe_before.generation);
      d->n_probed_hold++;
    }
}

static void
drv_resume (AsmFabric *f, AsmId device, gpointer data)
{
  DrvLog *d = data;

  d->resumes++;
  g_string_append_printf (d->log, "r%u ", device);
}

static void
drv_moved (AsmFabric *f, AsmId device, AsmId sw, guint64 phys, gpointer data)
{
  DrvLog *d = data;

  g_string_append_printf (d->log, "m%u@%u:" X " ", device, sw, phys);
  if (d->probe_on)
    {
      AsmTranslation t;
      if (!asm_fabric_translate (f, d->probe_workload, d->probe_virt, &t,
                                 NULL))
        g_string_append (d->problems, "translate fails in moved; ");
      else if (t.held)
        g_string_append (d->problems, "held still set in moved; ");
      d->n_probed_moved++;
    }
}

static const AsmDriverFuncs drv_funcs = { drv_hold, drv_resume, drv_moved };

static void
drvlog_init (DrvLog *d)
{
  memset (d, 0, sizeof *d);
  d->log = g_string_new (NULL);
  d->problems = g_string_new (NULL);
}

static void
drvlog_reset (DrvLog *d)
{
  g_string_truncate (d->log, 0);
  g_string_truncate (d->problems, 0);
  d->holds = d->resumes = 0;
}

static void
drvlog_clear (DrvLog *d)
{
  g_string_free (d->log, TRUE);
  g_string_free (d->problems, TRUE);
}

/* ---------------------------------------------------------------------- */
/* The scene                                                              */
/* ---------------------------------------------------------------------- */

/* Global [BASE, BASE + 256 MiB), granule 2 MiB, windows of 8 MiB.
 *
 *   A  bandwidth 10000, 100 ns, 8 entries, 8 ports
 *   B  bandwidth 10000, 300 ns, 8 entries, 8 ports
 *   C  bandwidth 4000, 50 ns, 4 entries, 4 ports, pinned, window
 *      [BASE + 192 MiB, BASE + 256 MiB)
 *   e1 endpoint 1 MiB at A:0         e2 endpoint 1 MiB at B:0
 *   pf1 PF 1 MiB at A:1, 4 VFs of 256 KiB, vf1 created
 *   pf2 PF 1 MiB at B:1, 4 VFs of 256 KiB
 *   pf3 PF 512 KiB at A:2, 2 VFs of 256 KiB, vf3 created
 *   P1 (w1, 4 MiB, demand 1000) on A at BASE: e1 at 0, vf1 at 1 MiB
 *   P2 (w2, 4 MiB, demand 1000) on A at BASE + 4 MiB: pf3 at 0, vf3 at
 *      512 KiB
 *   P3 (w1, 2 MiB, demand 500) on A at BASE + 8 MiB, in A's second window
 *      [BASE + 8 MiB, BASE + 16 MiB)
 */
typedef struct {
  AsmBackend *sim;
  AsmFabric *f;
  AsmId a, b, c;
  AsmId e1, e2, pf1, pf2, pf3, vf1, vf3;
  AsmId w1, w2;
  AsmId p1, p2, p3;
  guint64 v1, v2, v3;
  AsmId nvf;    /* a VF made by a transfer in prep */
  AsmId out_id; /* what the operation under test made */
} Scene;

static void
scene_build (Scene *s, const char *journal)
{
  memset (s, 0, sizeof *s);
  s->sim = asm_sim_backend_new ();
  s->f = FABRIC_NEW (s->sim, GLOBAL_SIZE);
  if (journal != NULL)
    {
      unlink (journal);
      OK (asm_fabric_set_journal (s->f, journal, &error));
    }
  g_assert_true (asm_fabric_set_window_granule (s->f, 8 * MIB, NULL));
  s->a = SWITCH (s->f, "A", 10000, 100, 8, 8, FALSE);
  s->b = SWITCH (s->f, "B", 10000, 300, 8, 8, FALSE);
  s->c = SWITCH (s->f, "C", 4000, 50, 4, 4, TRUE);
  OK (asm_fabric_add_window (s->f, s->c, BASE + 192 * MIB,
                             BASE + GLOBAL_SIZE - 1, &error));
  s->e1 = DEVICE (s->f, "e1", ASM_DEVICE_ENDPOINT, MIB, s->a, 0);
  s->e2 = DEVICE (s->f, "e2", ASM_DEVICE_ENDPOINT, MIB, s->b, 0);
  s->pf1 = DEVICE (s->f, "pf1", ASM_DEVICE_PF, MIB, s->a, 1);
  OK (asm_fabric_set_sriov (s->f, s->pf1, 4, 256 * KIB, &error));
  s->vf1 = VF (s->f, s->pf1);
  s->pf2 = DEVICE (s->f, "pf2", ASM_DEVICE_PF, MIB, s->b, 1);
  OK (asm_fabric_set_sriov (s->f, s->pf2, 4, 256 * KIB, &error));
  s->pf3 = DEVICE (s->f, "pf3", ASM_DEVICE_PF, 512 * KIB, s->a, 2);
  OK (asm_fabric_set_sriov (s->f, s->pf3, 2, 256 * KIB, &error));
  s->vf3 = VF (s->f, s->pf3);
  s->w1 = WORKLOAD (s->f, "w1");
  s->w2 = WORKLOAD (s->f, "w2");
  s->p1 = REQUEST (s->f, s->w1, 4 * MIB, s->a, 1000, &s->v1);
  assert_int_equal (MAP (s->f, s->p1, s->e1), 0);
  assert_int_equal (MAP (s->f, s->p1, s->vf1), MIB);
  s->p2 = REQUEST (s->f, s->w2, 4 * MIB, s->a, 1000, &s->v2);
  assert_int_equal (MAP (s->f, s->p2, s->pf3), 0);
  assert_int_equal (MAP (s->f, s->p2, s->vf3), 512 * KIB);
  s->p3 = REQUEST (s->f, s->w1, 2 * MIB, s->a, 500, &s->v3);
  assert_int_equal (PINFO (s->f, s->p1).phys_first, BASE);
  assert_int_equal (PINFO (s->f, s->p2).phys_first, BASE + 4 * MIB);
  assert_int_equal (PINFO (s->f, s->p3).phys_first, BASE + 8 * MIB);
  assert_int_equal (SINFO (s->f, s->a).n_windows, 2);
  CONSISTENT (s->f, s->sim);
}

static void
scene_clear (Scene *s)
{
  g_clear_pointer (&s->f, asm_fabric_unref);
  g_clear_pointer (&s->sim, asm_backend_unref);
}

/* ---------------------------------------------------------------------- */
/* The operations of the fault matrix                                     */
/* ---------------------------------------------------------------------- */

static void
prep_transfer (Scene *s)
{
  OK (asm_fabric_transfer_vf (s->f, s->vf1, s->pf2, &s->nvf, &error));
}

static gboolean
op_add_switch (Scene *s, GError **error)
{
  AsmSwitchSpec spec = { "D", 1000, 10, 4, 4, FALSE };
  return asm_fabric_add_switch (s->f, &spec, &s->out_id, error);
}

static gboolean
op_add_window (Scene *s, GError **error)
{
  return asm_fabric_add_window (s->f, s->b, BASE + 64 * MIB,
                                BASE + 72 * MIB - 1, error);
}

static gboolean
op_add_device (Scene *s, GError **error)
{
  return asm_fabric_add_device (s->f, "e3", ASM_DEVICE_ENDPOINT, MIB, s->a, 3,
                                &s->out_id, error);
}

static gboolean
op_create_vf (Scene *s, GError **error)
{
  return asm_fabric_create_vf (s->f, s->pf2, &s->out_id, error);
}

static gboolean
op_request (Scene *s, GError **error)
{
  AsmPartitionRequest req = { .size = 2 * MIB, .preferred_switch = s->a };
  return asm_fabric_request_partition (s->f, s->w2, &req, &s->out_id, NULL,
                                       error);
}

static gboolean
op_request_grow (Scene *s, GError **error)
{
  AsmPartitionRequest req = { .size = 2 * MIB, .preferred_switch = s->b,
                              .bandwidth_demand = 100 };
  return asm_fabric_request_partition (s->f, s->w2, &req, &s->out_id, NULL,
                                       error);
}

static gboolean
op_map_move (Scene *s, GError **error)
{
  return asm_fabric_map_device (s->f, s->p1, s->e2, NULL, error);
}

static gboolean
op_grow_in_place (Scene *s, GError **error)
{
  return asm_fabric_grow_partition (s->f, s->p3, 4 * MIB, error);
}

static gboolean
op_grow_relocate (Scene *s, GError **error)
{
  return asm_fabric_grow_partition (s->f, s->p2, 8 * MIB, error);
}

static gboolean
op_migrate (Scene *s, GError **error)
{
  return asm_fabric_migrate_partition (s->f, s->p2, s->b, error);
}

static gboolean
op_migrate_shrink (Scene *s, GError **error)
{
  return asm_fabric_migrate_partition (s->f, s->p3, s->b, error);
}

static gboolean
op_release (Scene *s, GError **error)
{
  return asm_fabric_release_partition (s->f, s->p3, error);
}

static gboolean
op_release_redirected (Scene *s, GError **error)
{
  return asm_fabric_release_partition (s->f, s->p1, error);
}

static gboolean
op_transfer (Scene *s, GError **error)
{
  return asm_fabric_transfer_vf (s->f, s->vf1, s->pf2, &s->out_id, error);
}

static gboolean
op_transfer_again (Scene *s, GError **error)
{
  return asm_fabric_transfer_vf (s->f, s->nvf, s->pf1, &s->out_id, error);
}

static gboolean
op_unmap_redirected (Scene *s, GError **error)
{
  return asm_fabric_unmap_device (s->f, s->p1, s->nvf, error);
}

static gboolean
op_shrink (Scene *s, GError **error)
{
  return asm_fabric_shrink_partition (s->f, s->p1, 2 * MIB, error);
}

static void
prep_vf2 (Scene *s)
{
  OK (asm_fabric_create_vf (s->f, s->pf2, &s->nvf, &error));
}

static gboolean
op_destroy_vf (Scene *s, GError **error)
{
  return asm_fabric_destroy_vf (s->f, s->nvf, error);
}

static gboolean
op_remove_device (Scene *s, GError **error)
{
  return asm_fabric_remove_device (s->f, s->e2, error);
}

/* P3 (no device) on B, in a window B grew for it */
static void
prep_p3_on_b (Scene *s)
{
  OK (asm_fabric_migrate_partition (s->f, s->p3, s->b, &error));
}

static gboolean
op_drain_b (Scene *s, GError **error)
{
  return asm_fabric_drain_switch (s->f, s->b, error);
}

static void
prep_drain_c (Scene *s)
{
  OK (asm_fabric_drain_switch (s->f, s->c, &error));
}

static gboolean
op_remove_c (Scene *s, GError **error)
{
  return asm_fabric_remove_switch (s->f, s->c, error);
}

static gboolean
op_remove_w2 (Scene *s, GError **error)
{
  return asm_fabric_remove_workload (s->f, s->w2, error);
}

static gboolean
op_migrate_w2 (Scene *s, GError **error)
{
  return asm_fabric_migrate_workload (s->f, s->w2, s->b, error);
}

#define MAX_STEPS 16

typedef struct {
  const char *name;
  void (*prep) (Scene *s);
  gboolean (*run) (Scene *s, GError **error);
  const char *steps[MAX_STEPS]; /* the backend steps, in order */
} OpCase;

static const OpCase op_cases[] = {
  { "add_switch", NULL, op_add_switch, { "switch_add" } },
  { "add_window", NULL, op_add_window, { "windows_commit", "root_routes" } },
  { "add_device", NULL, op_add_device, { "device_bind" } },
  { "create_vf", NULL, op_create_vf, { "vf_create" } },
  { "request_partition", NULL, op_request, { "xlat_set" } },
  { "request_partition with window growth", NULL, op_request_grow,
    { "windows_commit", "root_routes", "xlat_set" } },
  { "map_device moving an endpoint", NULL, op_map_move,
    { "device_unbind", "device_bind" } },
  { "grow in place", NULL, op_grow_in_place, { "xlat_set" } },
  { "grow by relocation", NULL, op_grow_relocate,
    { "device_hold", "device_hold", "xlat_set", "device_unbind",
      "device_bind", "xlat_remove", "cache_flush", "device_release",
      "device_release" } },
  { "migrate with devices", NULL, op_migrate,
    { "device_hold", "device_hold", "windows_commit", "root_routes",
      "xlat_set", "device_unbind", "device_bind", "xlat_remove",
      "cache_flush", "device_release", "device_release" } },
  { "migrate giving a window back", NULL, op_migrate_shrink,
    { "windows_commit", "root_routes", "xlat_set", "xlat_remove",
      "cache_flush", "root_routes", "windows_commit" } },
  { "release", NULL, op_release,
    { "xlat_remove", "cache_flush", "root_routes", "windows_commit" } },
  { "release with a redirected VF", prep_transfer, op_release_redirected,
    { "xlat_remove", "xlat_remove", "root_routes", "windows_commit",
      "cache_flush" } },
  { "transfer_vf", NULL, op_transfer,
    { "vf_create", "windows_commit", "root_routes", "device_hold",
      "xlat_set", "device_release", "vf_destroy" } },
  { "transfer_vf of a redirected VF", prep_transfer, op_transfer_again,
    { "vf_create", "device_hold", "xlat_set", "xlat_remove",
      "root_routes", "windows_commit", "device_release", "vf_destroy" } },
  { "unmap_device of a redirected VF", prep_transfer, op_unmap_redirected,
    { "xlat_remove", "root_routes", "windows_commit" } },
  { "shrink_partition", NULL, op_shrink, { "xlat_set", "cache_flush" } },
  { "destroy_vf", prep_vf2, op_destroy_vf, { "vf_destroy" } },
  { "remove_device", NULL, op_remove_device, { "device_unbind" } },
  { "drain_switch", prep_p3_on_b, op_drain_b,
    { "xlat_set", "xlat_remove", "cache_flush", "root_routes",
      "windows_commit" } },
  { "remove_switch", prep_drain_c, op_remove_c, { "switch_remove" } },
  { "remove_workload", NULL, op_remove_w2,
    { "xlat_remove", "cache_flush" } },
  { "migrate_workload", NULL, op_migrate_w2,
    { "device_hold", "device_hold", "windows_commit", "root_routes",
      "xlat_set", "device_unbind", "device_bind", "xlat_remove",
      "cache_flush", "device_release", "device_release" } },
};

/* backend calls a step makes on the sim (no pending binds) */
static guint
step_calls (const char *step)
{
  return g_str_has_prefix (step, "xlat_") ? 3 : 1;
}

static AsmSimOp
step_kind (const char *step)
{
  static const struct {
    const char *step;
    AsmSimOp kind;
  } kinds[] = {
    { "switch_add", ASM_SIM_OP_ANY },
    { "switch_remove", ASM_SIM_OP_ANY },
    { "root_routes", ASM_SIM_OP_ROOT },
    { "windows_commit", ASM_SIM_OP_WINDOWS },
    { "xlat_set", ASM_SIM_OP_XLAT },
    { "xlat_remove", ASM_SIM_OP_XLAT },
    { "device_bind", ASM_SIM_OP_BIND },
    { "device_unbind", ASM_SIM_OP_UNBIND },
    { "device_hold", ASM_SIM_OP_HOLD },
    { "device_release", ASM_SIM_OP_HOLD },
    { "vf_create", ASM_SIM_OP_VF },
    { "vf_destroy", ASM_SIM_OP_VF },
    { "cache_flush", ASM_SIM_OP_FLUSH },
  };
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    if (strcmp (kinds[i].step, step) == 0)
      return kinds[i].kind;
  g_assert_not_reached ();
}

static guint
case_n_steps (const OpCase *c)
{
  guint n = 0;
  while (n < MAX_STEPS && c->steps[n] != NULL)
    n++;
  return n;
}

static guint
case_n_calls (const OpCase *c)
{
  guint n = 0;
  for (guint i = 0; i < case_n_steps (c); i++)
    n += step_calls (c->steps[i]);
  return n;
}

/* the index of the step that call k (1-based) belongs to */
static guint
step_of_call (const OpCase *c, guint k)
{
  guint n = 0;
  for (guint i = 0; i < case_n_steps (c); i++)
    {
      n += step_calls (c->steps[i]);
      if (k <= n)
        return i;
    }
  g_assert_not_reached ();
}

/* Runs the case on a fresh scene; returns the saved state after it. */
static char *
case_reference (const OpCase *c, guint *out_calls)
{
  Scene s;
  g_autoptr (GError) error = NULL;
  guint64 n0;
  char *after;

  scene_build (&s, NULL);
  if (c->prep)
    c->prep (&s);
  n0 = asm_sim_get_n_calls (s.sim);
  if (!c->run (&s, &error))
    fail_msg ("%s: %s", c->name, error->message);
  *out_calls = (guint) (asm_sim_get_n_calls (s.sim) - n0);
  CONSISTENT (s.f, s.sim);
  after = asm_fabric_save (s.f, NULL);
  scene_clear (&s);
  return after;
}

/* One failure checked: code, message, state, events, drivers. */
static void
check_failure (const OpCase *c, Scene *s, const Snap *before, GError *error,
               gboolean ok, guint step, const char *how, EvLog *ev,
               DrvLog *drv, GString *problems)
{
  g_autofree char *want = NULL;
  g_autofree char *why = NULL;
  g_autoptr (GError) verr = NULL;
  guint n = case_n_steps (c);

  if (ok)
    {
      g_string_append_printf (problems, "%s (%s): succeeded\n", c->name, how);
      return;
    }
  if (error->domain != ASM_ERROR || error->code != ASM_ERROR_BACKEND)
    g_string_append_printf (problems, "%s (%s): code %s: %s\n", c->name, how,
                            test_code_name (error->code), error->message);
  want = g_strdup_printf ("step %u of %u (%s", step + 1, n, c->steps[step]);
  if (strstr (error->message, want) == NULL ||
      strstr (error->message, "injected fault") == NULL ||
      strstr (error->message, "the fabric is as it was") == NULL)
    g_string_append_printf (problems, "%s (%s): message '%s' lacks '%s'\n",
                            c->name, how, error->message, want);
  why = snap_diff (s->f, before);
  if (why != NULL)
    g_string_append_printf (problems, "%s (%s): %s\n", c->name, how, why);
  if (!asm_fabric_check (s->f, &verr) || !asm_sim_verify (s->sim, s->f, &verr))
    g_string_append_printf (problems, "%s (%s): %s\n", c->name, how,
                            verr->message);
  if (ev->events->len != 1 ||
      g_array_index (ev->events, Ev, 0).kind != ASM_EVENT_ROLLED_BACK ||
      ev->problems->len > 0)
    g_string_append_printf (problems, "%s (%s): %u events (%s), expected one "
                            "ROLLED_BACK\n", c->name, how, ev->events->len,
                            ev->problems->str);
  if (drv->holds != drv->resumes || strstr (drv->log->str, "m") != NULL)
    g_string_append_printf (problems, "%s (%s): drivers '%s': every hold "
                            "must be resumed, nothing moved\n", c->name, how,
                            drv->log->str);
}

static void
test_fault_matrix (void **state)
{
  g_autoptr (GString) problems = g_string_new (NULL);
  guint total_calls = 0, total_faults = 0;

  for (guint ci = 0; ci < G_N_ELEMENTS (op_cases); ci++)
    {
      const OpCase *c = &op_cases[ci];
      g_autofree char *after = NULL;
      g_autofree char *again = NULL;
      guint n_calls;
      Scene s;
      Snap before = { 0 };
      EvLog ev;
      DrvLog drv;
      g_autoptr (GError) error = NULL;

      after = case_reference (c, &n_calls);
      if (n_calls != case_n_calls (c))
        {
          g_string_append_printf (problems, "%s: %u backend calls, expected "
                                  "%u for steps", c->name, n_calls,
                                  case_n_calls (c));
          for (guint i = 0; i < case_n_steps (c); i++)
            g_string_append_printf (problems, " %s", c->steps[i]);
          g_string_append_c (problems, '\n');
          continue;
        }

      scene_build (&s, NULL);
      if (c->prep)
        c->prep (&s);
      evlog_init (&ev);
      drvlog_init (&drv);
      asm_fabric_add_observer (s.f, record_event, &ev);
      asm_fabric_set_driver_funcs (s.f, &drv_funcs, &drv);
      snap_take (s.f, &before);
      for (guint k = 1; k <= n_calls; k++)
        {
          g_autofree char *how = g_strdup_printf ("call %u of %u failed", k,
                                                  n_calls);
          GError *err = NULL;
          gboolean ok;

          evlog_reset (&ev);
          drvlog_reset (&drv);
          asm_sim_fail_call (s.sim, k);
          ok = c->run (&s, &err);
          check_failure (c, &s, &before, err, ok, step_of_call (c, k), how,
                         &ev, &drv, problems);
          g_clear_error (&err);
          total_faults++;
        }
      asm_sim_fail_call (s.sim, 0);
      /* after n failures, the same operation gives the same bytes */
      evlog_reset (&ev);
      drvlog_reset (&drv);
      if (!c->run (&s, &error))
        g_string_append_printf (problems, "%s: fails after the faults: %s\n",
                                c->name, error->message);
      else
        {
          again = asm_fabric_save (s.f, NULL);
          if (strcmp (again, after) != 0)
            g_string_append_printf (problems, "%s: the state after the "
                                    "faults differs from a clean run\n",
                                    c->name);
          if (drv.holds != drv.resumes || ev.problems->len > 0 ||
              evlog_count (&ev, ASM_EVENT_ROLLED_BACK) != 0)
            g_string_append_printf (problems, "%s: drivers '%s', events "
                                    "'%s'\n", c->name, drv.log->str,
                                    ev.problems->str);
        }
      print_message ("# %-40s %2u steps, %2u calls, each failed once\n",
                     c->name, case_n_steps (c), n_calls);
      total_calls += n_calls;
      snap_clear (&before);
      scene_clear (&s);
      evlog_clear (&ev);
      drvlog_clear (&drv);
    }
  print_message ("# fault matrix: %u operations, %u injected faults\n",
                 (guint) G_N_ELEMENTS (op_cases), total_faults);
  REPORT (problems);
}

static void
test_fault_kinds (void **state)
{
  static const AsmSimOp kinds[] = {
    ASM_SIM_OP_ANY, ASM_SIM_OP_WINDOWS, ASM_SIM_OP_XLAT, ASM_SIM_OP_BIND,
    ASM_SIM_OP_UNBIND, ASM_SIM_OP_HOLD, ASM_SIM_OP_VF, ASM_SIM_OP_FLUSH,
  };
  g_autoptr (GString) problems = g_string_new (NULL);
  guint n_failed = 0, n_passed = 0;

  for (guint ci = 0; ci < G_N_ELEMENTS (op_cases); ci++)
    {
      const OpCase *c = &op_cases[ci];
      guint n_calls;
      g_autofree char *after = case_reference (c, &n_calls);

      for (guint ki = 0; ki < G_N_ELEMENTS (kinds); ki++)
        {
          Scene s;
          Snap before = { 0 };
          EvLog ev;
          DrvLog drv;
          GError *err = NULL;
          gboolean ok;
          guint step = G_MAXUINT;
          g_autofree char *how = g_strdup_printf ("kind %d failing",
                                                  kinds[ki]);

          for (guint i = 0; i < case_n_steps (c) && step == G_MAXUINT; i++)
            if (kinds[ki] == ASM_SIM_OP_ANY ||
                step_kind (c->steps[i]) == kinds[ki])
              step = i;
          scene_build (&s, NULL);
          if (c->prep)
            c->prep (&s);
          evlog_init (&ev);
          drvlog_init (&drv);
          asm_fabric_add_observer (s.f, record_event, &ev);
          asm_fabric_set_driver_funcs (s.f, &drv_funcs, &drv);
          snap_take (s.f, &before);
          asm_sim_fail_kind (s.sim, kinds[ki], TRUE);
          ok = c->run (&s, &err);
          asm_sim_fail_kind (s.sim, kinds[ki], FALSE);
          if (step != G_MAXUINT)
            {
              check_failure (c, &s, &before, err, ok, step, how, &ev, &drv,
                             problems);
              n_failed++;
            }
          else if (!ok)
            g_string_append_printf (problems, "%s (%s): no step of that kind, "
                                    "yet it failed: %s\n", c->name, how,
                                    err->message);
          else
            {
              g_autofree char *now = asm_fabric_save (s.f, NULL);
              if (strcmp (now, after) != 0)
                g_string_append_printf (problems, "%s (%s): differs from a "
                                        "clean run\n", c->name, how);
              n_passed++;
            }
          g_clear_error (&err);
          snap_clear (&before);
          scene_clear (&s);
          evlog_clear (&ev);
          drvlog_clear (&drv);
        }
    }
  print_message ("# fail_kind: %u operation x kind pairs failed as expected, "
                 "%u had no step of the kind and succeeded\n", n_failed,
                 n_passed);
  REPORT (problems);
}

/* ---------------------------------------------------------------------- */
/* Crashes and the journal                                                */
/* ---------------------------------------------------------------------- */

static char *
journal_path (const char *tag)
{
  return g_strdup_printf ("%s/asm-test-fabric-%d-%s.journal", g_get_tmp_dir (),
                          (int) getpid (), tag);
}

/* Restores `json` on the sim of the crashed fabric and recovers it; checks
 * the result against `want`.  Returns the recovered fabric or NULL. */
static AsmFabric *
recover_and_compare (AsmBackend *sim, const char *json, const char *journal,
                     const char *want, const char *what, GString *problems)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *got = NULL;
  AsmFabric *f2;

  f2 = asm_fabric_restore (json, -1, sim, &error);
  if (f2 == NULL)
    {
      g_string_append_printf (problems, "%s: restore: %s\n", what,
                              error->message);
      return NULL;
    }
  if (!asm_fabric_recover (f2, journal, &error))
    {
      g_string_append_printf (problems, "%s: recover: %s\n", what,
                              error->message);
      asm_fabric_unref (f2);
      return NULL;
    }
  if (!asm_sim_verify (sim, f2, &error) || !asm_fabric_check (f2, &error))
    {
      g_string_append_printf (problems, "%s: after recovery: %s\n", what,
                              error->message);
      asm_fabric_unref (f2);
      return NULL;
    }
  got = asm_fabric_save (f2, NULL);
  if (!same_but_seq (got, want))
    {
      g_string_append_printf (problems, "%s: recovered state differs:\n"
                              "want:\n%s\ngot:\n%s\n", what, want, got);
      asm_fabric_unref (f2);
      return NULL;
    }
  return f2;
}

static void
test_crash_recovery (void **state)
{
  g_autoptr (GString) problems = g_string_new (NULL);
  g_autofree char *journal = journal_path ("crash");
  guint n_runs = 0;

  quiet_undo_warnings = TRUE;
  for (guint ci = 0; ci < G_N_ELEMENTS (op_cases); ci++)
    {
      const OpCase *c = &op_cases[ci];
      guint n_calls;
      g_autofree char *after = case_reference (c, &n_calls);

      for (guint k = 0; k <= n_calls; k++)
        {
          g_autofree char *what = g_strdup_printf ("%s, crash after %u of %u "
                                                   "calls", c->name, k,
                                                   n_calls);
          g_autofree char *before = NULL;
          Scene s;
          GError *err = NULL;
          gboolean ok;
          AsmFabric *f2;

          scene_build (&s, journal);
          if (c->prep)
            c->prep (&s);
          before = asm_fabric_save (s.f, NULL);
          asm_sim_crash_after (s.sim, k);
          ok = c->run (&s, &err);
          if (ok != (k == n_calls))
            g_string_append_printf (problems, "%s: %s\n", what,
                                    ok ? "succeeded" : err->message);
          else if (!ok && (err->code != ASM_ERROR_BACKEND ||
                           strstr (err->message, "simulated crash") == NULL))
            g_string_append_printf (problems, "%s: %s\n", what, err->message);
          g_clear_error (&err);
          asm_sim_clear_faults (s.sim);
          /* the process is gone; the hardware stays */
          g_clear_pointer (&s.f, asm_fabric_unref);
          f2 = recover_and_compare (s.sim, before, journal,
                                    ok ? after : before, what, problems);
          if (f2 != NULL)
            {
              /* and the recovered fabric carries on */
              s.f = f2;
              if (!ok)
                {
                  if (!c->run (&s, &err))
                    g_string_append_printf (problems, "%s: after recovery "
                                            "the operation fails: %s\n",
                                            what, err->message);
                  else
                    {
                      g_autofree char *now = asm_fabric_save (s.f, NULL);
                      if (!same_but_seq (now, after))
                        g_string_append_printf (problems, "%s: after "
                                                "recovery the operation "
                                                "gives another state\n",
                                                what);
                      if (!asm_sim_verify (s.sim, s.f, &err))
                        g_string_append_printf (problems, "%s: %s\n", what,
                                                err->message);
                    }
                  g_clear_error (&err);
                }
            }
          scene_clear (&s);
          n_runs++;
        }
      print_message ("# crash: %-40s k = 0..%u\n", c->name, n_calls);
    }
  quiet_undo_warnings = FALSE;
  unlink (journal);
  print_message ("# crash recovery: %u crashes\n", n_runs);
  REPORT (problems);
}

/* Committed operations after the save are replayed; an undone one is not;
 * the one interrupted by the crash is undone. */
static void
test_journal_replay (void **state)
{
  g_autoptr (GString) problems = g_string_new (NULL);
  g_autofree char *journal = journal_path ("replay");
  gboolean done = FALSE;
  guint k;

  quiet_undo_warnings = TRUE;
  for (k = 0; !done && k < 100; k++)
    {
      g_autofree char *what = g_strdup_printf ("replay, then crash after %u "
                                               "calls of transfer_vf", k);
      g_autofree char *saved = NULL;
      g_autofree char *mid = NULL;
      g_autofree char *after = NULL;
      g_autoptr (GError) err = NULL;
      Scene s;
      AsmId p4;
      AsmFabric *f2;
      AsmPartitionRequest req = { .size = 2 * MIB, .preferred_switch = 0 };

      scene_build (&s, journal);
      saved = asm_fabric_save (s.f, NULL);
      /* committed 1: a request that grows a window on B */
      p4 = REQUEST (s.f, s.w2, 2 * MIB, s.b, 10, NULL);
      /* undone: a migration that fails at its third call */
      asm_sim_fail_call (s.sim, 3);
      FAILS (asm_fabric_migrate_partition (s.f, s.p2, s.b, &error), BACKEND,
             "injected fault");
      /* committed 2: the same migration; then 3: a policy request */
      OK (asm_fabric_migrate_partition (s.f, s.p2, s.b, &error));
      OK (asm_fabric_request_partition (s.f, s.w1, &req, NULL, NULL, &error));
      assert_int_equal (PINFO (s.f, p4).switch_id, s.b);
      assert_int_equal (PINFO (s.f, s.p2).switch_id, s.b);
      mid = asm_fabric_save (s.f, NULL);
      asm_sim_crash_after (s.sim, k);
      if (op_transfer (&s, &err))
        {
          /* all its calls ran: recovery replays it too */
          done = TRUE;
          after = asm_fabric_save (s.f, NULL);
        }
      g_clear_error (&err);
      asm_sim_clear_faults (s.sim);
      g_clear_pointer (&s.f, asm_fabric_unref);
      f2 = recover_and_compare (s.sim, saved, journal, done ? after : mid,
                                what, problems);
      if (f2 != NULL && !done)
        {
          s.f = f2;
          if (!op_transfer (&s, &err))
            g_string_append_printf (problems, "%s: then: %s\n", what,
                                    err->message);
          else if (!asm_sim_verify (s.sim, s.f, &err))
            g_string_append_printf (problems, "%s: then: %s\n", what,
                                    err->message);
        }
      else if (f2 != NULL)
        asm_fabric_unref (f2);
      scene_clear (&s);
    }
  quiet_undo_warnings = FALSE;
  unlink (journal);
  assert_true (done);
  print_message ("# journal replay: 3 committed and 1 undone operations "
                 "replayed, then transfer_vf crashed after k = 0..%u "
                 "calls\n", k - 1);
  REPORT (problems);
}

/* ---------------------------------------------------------------------- */
/* Operations: building                                                   */
/* ---------------------------------------------------------------------- */

static void
test_new_errors (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = NULL;

  FAILS (asm_fabric_new ("x", BASE, BASE + 16 * MIB - 1, 3 * MIB, sim,
                         &error) != NULL, INVALID, "power of two");
  FAILS (asm_fabric_new ("x", BASE + MIB, BASE + 16 * MIB - 1, GRAN, sim,
                         &error) != NULL, INVALID, "granule boundaries");
  FAILS (asm_fabric_new ("x", BASE, BASE + 15 * MIB, GRAN, sim,
                         &error) != NULL, INVALID, "granule boundaries");
  FAILS (asm_fabric_new ("x", BASE + 16 * MIB, BASE - 1, GRAN, sim,
                         &error) != NULL, INVALID, "non-empty");
  f = FABRIC_NEW (sim, 16 * MIB);
  assert_int_equal (asm_fabric_get_granule (f), GRAN);
  assert_string_equal (asm_fabric_get_name (f), "test");
  assert_ptr_equal (asm_fabric_get_backend (f), sim);
  assert_true (asm_sim_is_sim (sim));
  assert_null (asm_fabric_get_switch_windows (f, 1));
  assert_null (asm_fabric_get_xlat_table (f, 1));
  CONSISTENT (f, sim);
}

static void
test_add_switch (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  g_autoptr (GArray) ids = NULL;
  AsmSwitchSpec bad;
  AsmSwitchInfo info;
  EvLog ev;
  Snap snap;
  AsmId a, found = 0;

  evlog_init (&ev);
  asm_fabric_add_observer (f, record_event, &ev);
  a = SWITCH (f, "A", 1000, 100, 4, 2, FALSE);
  assert_int_equal (a, 1);
  info = SINFO (f, a);
  assert_string_equal (info.name, "A");
  assert_int_equal (info.bandwidth, 1000);
  assert_int_equal (info.latency_ns, 100);
  assert_int_equal (info.table_capacity, 4);
  assert_int_equal (info.n_ports, 2);
  assert_false (info.pinned);
  assert_int_equal (info.n_windows, 0);
  assert_int_equal (info.window_bytes, 0);
  assert_int_equal (info.table_used, 0);
  assert_int_equal (info.n_partitions, 0);
  assert_true (asm_fabric_find_switch (f, "A", &found));
  assert_int_equal (found, a);
  assert_false (asm_fabric_find_switch (f, "Z", NULL));
  assert_false (asm_fabric_get_switch_info (f, 99, &info));
  assert_int_equal (ev.events->len, 1);
  assert_int_equal (g_array_index (ev.events, Ev, 0).kind,
                    ASM_EVENT_SWITCH_ADDED);
  assert_int_equal (g_array_index (ev.events, Ev, 0).sw, a);
  CONSISTENT (f, sim);

  snap_take (f, &snap);
  bad = (AsmSwitchSpec) { "A", 1000, 0, 4, 2, FALSE };
  FAILS (asm_fabric_add_switch (f, &bad, NULL, &error), INVALID,
         "'A' is already used");
  bad = (AsmSwitchSpec) { "B", 0, 0, 4, 2, FALSE };
  FAILS (asm_fabric_add_switch (f, &bad, NULL, &error), INVALID,
         "bandwidth 0");
  bad = (AsmSwitchSpec) { "B", 10, 0, 0, 2, FALSE };
  FAILS (asm_fabric_add_switch (f, &bad, NULL, &error), INVALID,
         "table capacity 0");
  bad = (AsmSwitchSpec) { "B", 10, 0, 4, 65537, FALSE };
  FAILS (asm_fabric_add_switch (f, &bad, NULL, &error), INVALID, "65537");
  bad = (AsmSwitchSpec) { "", 10, 0, 4, 2, FALSE };
  FAILS (asm_fabric_add_switch (f, &bad, NULL, &error), INVALID,
         "needs a name");
  bad = (AsmSwitchSpec) { NULL, 10, 0, 4, 2, FALSE };
  FAILS (asm_fabric_add_switch (f, &bad, NULL, &error), INVALID,
         "needs a name");
  UNCHANGED (f, &snap);
  assert_int_equal (ev.events->len, 1);
  snap_clear (&snap);

  /* ids are never reused, also across object kinds */
  assert_int_equal (SWITCH (f, "B", 1, 0, 1, 0, TRUE), 2);
  assert_int_equal (WORKLOAD (f, "w"), 3);
  assert_int_equal (SWITCH (f, "C", 1, 0, 1, 1, FALSE), 4);
  ids = asm_fabric_list (f, ASM_FABRIC_SWITCHES);
  assert_int_equal (ids->len, 3);
  assert_int_equal (g_array_index (ids, AsmId, 2), 4);
  assert_true (SINFO (f, 2).pinned);
  assert_string_equal (ev.problems->str, "");
  CONSISTENT (f, sim);
  evlog_clear (&ev);
}

static void
test_add_window (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  g_autoptr (GArray) w = NULL;
  AsmArenaStats st;
  EvLog ev;
  Snap snap;
  AsmId c, d;

  evlog_init (&ev);
  c = SWITCH (f, "C", 1000, 0, 4, 2, TRUE);
  d = SWITCH (f, "D", 1000, 0, 4, 2, FALSE);
  asm_fabric_add_observer (f, record_event, &ev);
  OK (asm_fabric_add_window (f, c, BASE, BASE + 8 * MIB - 1, &error));
  w = asm_fabric_get_switch_windows (f, c);
  assert_int_equal (w->len, 1);
  assert_int_equal (g_array_index (w, AsmRange, 0).first, BASE);
  assert_int_equal (g_array_index (w, AsmRange, 0).last, BASE + 8 * MIB - 1);
  assert_int_equal (SINFO (f, c).window_bytes, 8 * MIB);
  assert_int_equal (SINFO (f, c).free_bytes, 8 * MIB);
  asm_fabric_get_global_stats (f, &st);
  assert_int_equal (st.n_allocated, 1);
  assert_int_equal (st.allocated_units, 8 * MIB);
  assert_int_equal (ev.events->len, 1);
  assert_int_equal (g_array_index (ev.events, Ev, 0).kind,
                    ASM_EVENT_WINDOW_GROWN);
  assert_int_equal (g_array_index (ev.events, Ev, 0).range.first, BASE);
  OK (asm_fabric_reserve_global (f, BASE + 16 * MIB, BASE + 18 * MIB - 1,
                                 &error));
  CONSISTENT (f, sim);

  snap_take (f, &snap);
  FAILS (asm_fabric_add_window (f, c, BASE + 4 * MIB, BASE + 12 * MIB - 1,
                                &error), IN_USE, "overlaps");
  FAILS (asm_fabric_add_window (f, d, BASE, BASE + 2 * MIB - 1, &error),
         IN_USE, "0x100000000-0x1001fffff");
  FAILS (asm_fabric_add_window (f, c, BASE + 16 * MIB, BASE + 20 * MIB - 1,
                                &error), IN_USE, "reserved");
  FAILS (asm_fabric_add_window (f, c, BASE + 9 * MIB, BASE + 11 * MIB - 1,
                                &error), INVALID, "granule");
  FAILS (asm_fabric_add_window (f, c, BASE + 10 * MIB, BASE + 11 * MIB - 1,
                                &error), INVALID, "granule (0x200000)");
  FAILS (asm_fabric_add_window (f, c, BASE + 12 * MIB, BASE + 10 * MIB - 1,
                                &error), INVALID, "empty");
  FAILS (asm_fabric_add_window (f, c, BASE + GLOBAL_SIZE,
                                BASE + GLOBAL_SIZE + 2 * MIB - 1, &error),
         IN_USE, "outside the global space");
  FAILS (asm_fabric_add_window (f, c, 0, 2 * MIB - 1, &error), IN_USE,
         "outside the global space");
  FAILS (asm_fabric_add_window (f, 99, BASE + 8 * MIB, BASE + 10 * MIB - 1,
                                &error), NOT_FOUND, "switch 99");
  FAILS (asm_fabric_reserve_global (f, BASE + 2 * MIB, BASE + 4 * MIB - 1,
                                    &error), IN_USE, "");
  UNCHANGED (f, &snap);
  snap_clear (&snap);
  assert_int_equal (ev.events->len, 1);

  /* an adjacent window stays a window of its own */
  OK (asm_fabric_add_window (f, c, BASE + 8 * MIB, BASE + 10 * MIB - 1,
                             &error));
  assert_int_equal (SINFO (f, c).n_windows, 2);
  assert_int_equal (SINFO (f, c).window_bytes, 10 * MIB);
  /* a switch that is not pinned may be given one too */
  OK (asm_fabric_add_window (f, d, BASE + 32 * MIB, BASE + 34 * MIB - 1,
                             &error));
  asm_fabric_get_global_stats (f, &st);
  assert_int_equal (st.n_allocated, 3);
  assert_int_equal (st.allocated_units, 12 * MIB);
  assert_int_equal (st.reserved_units, 2 * MIB);
  assert_string_equal (ev.problems->str, "");
  CONSISTENT (f, sim);
  evlog_clear (&ev);
}

static void
test_add_device (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  g_autoptr (GArray) ids = NULL;
  AsmDeviceInfo di;
  Snap snap;
  AsmId a, e;

  a = SWITCH (f, "A", 1000, 0, 4, 2, FALSE);
  e = DEVICE (f, "e", ASM_DEVICE_ENDPOINT, MIB, a, 0);
  di = DINFO (f, e);
  assert_string_equal (di.name, "e");
  assert_int_equal (di.kind, ASM_DEVICE_ENDPOINT);
  assert_int_equal (di.switch_id, a);
  assert_int_equal (di.port, 0);
  assert_int_equal (di.bar_size, MIB);
  assert_int_equal (di.partition, ASM_ID_NONE);
  assert_int_equal (SINFO (f, a).n_ports_used, 1);
  assert_false (asm_fabric_get_device_info (f, 99, &di));
  CONSISTENT (f, sim);

  snap_take (f, &snap);
  FAILS (asm_fabric_add_device (f, "x", ASM_DEVICE_ENDPOINT, MIB, a, 0, NULL,
                                &error), IN_USE, "port 0 of switch 'A'");
  FAILS (asm_fabric_add_device (f, "x", ASM_DEVICE_ENDPOINT, MIB, a, 2, NULL,
                                &error), IN_USE, "out of range 0..1");
  FAILS (asm_fabric_add_device (f, "x", ASM_DEVICE_ENDPOINT, 3 * MIB, a, 1,
                                NULL, &error), INVALID,
         "BAR size 0x300000 is not a power of two");
  FAILS (asm_fabric_add_device (f, "x", ASM_DEVICE_ENDPOINT, 0, a, 1, NULL,
                                &error), INVALID, "not a power of two");
  FAILS (asm_fabric_add_device (f, "x", ASM_DEVICE_VF, MIB, a, 1, NULL,
                                &error), INVALID, "asm_fabric_create_vf");
  FAILS (asm_fabric_add_device (f, "x", ASM_DEVICE_ENDPOINT, MIB, 99, 1, NULL,
                                &error), NOT_FOUND, "switch 99");
  FAILS (asm_fabric_add_device (f, "", ASM_DEVICE_ENDPOINT, MIB, a, 1, NULL,
                                &error), INVALID, "needs a name");
  FAILS (asm_fabric_add_device (f, "\x7f", ASM_DEVICE_ENDPOINT, MIB, a, 1,
                                NULL, &error), INVALID,
         "device name \"\\177\" holds a control character");
  UNCHANGED (f, &snap);
  snap_clear (&snap);
  /* port 1 still free after all that */
  DEVICE (f, "pf", ASM_DEVICE_PF, 4 * KIB, a, 1);
  assert_int_equal (SINFO (f, a).n_ports_used, 2);
  ids = asm_fabric_list (f, ASM_FABRIC_DEVICES);
  assert_int_equal (ids->len, 2);
  CONSISTENT (f, sim);
}

static void
test_sriov (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  AsmDeviceInfo di;
  Snap snap;
  AsmId a, e, pf, v0, v1, pf0;

  a = SWITCH (f, "A", 1000, 0, 4, 4, FALSE);
  e = DEVICE (f, "e", ASM_DEVICE_ENDPOINT, MIB, a, 0);
  pf = DEVICE (f, "pf", ASM_DEVICE_PF, MIB, a, 1);
  pf0 = DEVICE (f, "pf0", ASM_DEVICE_PF, MIB, a, 2);

  snap_take (f, &snap);
  FAILS (asm_fabric_set_sriov (f, e, 2, 64 * KIB, &error), INVALID,
         "needs a PF");
  FAILS (asm_fabric_set_sriov (f, pf, 65, 64 * KIB, &error), INVALID,
         "(65 asked)");
  FAILS (asm_fabric_set_sriov (f, pf, 2, 3000, &error), INVALID,
         "(0xbb8 asked)");
  FAILS (asm_fabric_set_sriov (f, 99, 2, 64 * KIB, &error), NOT_FOUND,
         "device 99");
  FAILS (asm_fabric_create_vf (f, e, NULL, &error), INVALID,
         "'e' is not an SR-IOV PF");
  FAILS (asm_fabric_create_vf (f, pf0, NULL, &error), NO_SPACE,
         "all its 0 VFs");
  FAILS (asm_fabric_create_vf (f, 99, NULL, &error), NOT_FOUND, "device 99");
  UNCHANGED (f, &snap);
  snap_clear (&snap);

  OK (asm_fabric_set_sriov (f, pf, 2, 64 * KIB, &error));
  di = DINFO (f, pf);
  assert_int_equal (di.max_vfs, 2);
  assert_int_equal (di.vf_bar_size, 64 * KIB);
  v0 = VF (f, pf);
  di = DINFO (f, v0);
  assert_string_equal (di.name, "pf-vf0");
  assert_int_equal (di.kind, ASM_DEVICE_VF);
  assert_int_equal (di.pf, pf);
  assert_int_equal (di.vf_index, 0);
  assert_int_equal (di.switch_id, a);
  assert_int_equal (di.port, 1);
  assert_int_equal (di.bar_size, 64 * KIB);
  v1 = VF (f, pf);
  assert_int_equal (DINFO (f, v1).vf_index, 1);
  /* VFs take no port */
  assert_int_equal (SINFO (f, a).n_ports_used, 3);
  CONSISTENT (f, sim);

  snap_take (f, &snap);
  FAILS (asm_fabric_create_vf (f, pf, NULL, &error), NO_SPACE,
         "PF 'pf' has all its 2 VFs");
  FAILS (asm_fabric_set_sriov (f, pf, 4, 64 * KIB, &error), INVALID,
         "without VFs");
  FAILS (asm_fabric_create_vf (f, v0, NULL, &error), INVALID,
         "not an SR-IOV PF");
  UNCHANGED (f, &snap);
  snap_clear (&snap);
  CONSISTENT (f, sim);
}

static void
test_workloads (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  g_autoptr (GArray) ids = NULL;
  Snap snap;

  snap_take (f, &snap);
  FAILS (asm_fabric_add_workload (f, "", NULL, &error), INVALID,
         "needs a name");
  FAILS (asm_fabric_add_workload (f, NULL, NULL, &error), INVALID,
         "needs a name");
  /* names are 1-255 bytes of UTF-8 without control characters, for
   * switches, devices, workloads and fabrics alike */
  {
    g_autofree char *long_name = g_strnfill (256, 'w');
    AsmSwitchSpec spec = { .name = "sw\tx", .bandwidth = 1,
                           .table_capacity = 4, .n_ports = 1 };
    g_autoptr (GError) err = NULL;
    FAILS (asm_fabric_add_workload (f, long_name, NULL, &error), INVALID,
           "256 bytes is longer than 255");
    long_name[255] = '\0';
    FAILS (asm_fabric_add_workload (f, "bad\xff", NULL, &error), INVALID,
           "\"bad\\377\" is not valid UTF-8");
    FAILS (asm_fabric_add_workload (f, "a\nb", NULL, &error), INVALID,
           "\"a\\nb\" holds a control character");
    FAILS (asm_fabric_add_switch (f, &spec, NULL, &error), INVALID,
           "switch name \"sw\\tx\" holds a control character");
    assert_null (asm_fabric_new ("", 0, 0xfff, 0x1000, NULL, &err));
    assert_true (g_error_matches (err, ASM_ERROR, ASM_ERROR_INVALID));
    UNCHANGED (f, &snap);
    /* 255 bytes is a name */
    OK (asm_fabric_add_workload (f, long_name, NULL, &error));
    assert_string_equal (asm_fabric_get_workload_name (f, 1), long_name);
    OK (asm_fabric_remove_workload (f, 1, &error));
  }
  snap_clear (&snap);
  assert_int_equal (WORKLOAD (f, "w"), 2);
  /* workload names need not be unique */
  assert_int_equal (WORKLOAD (f, "w"), 3);
  ids = asm_fabric_list (f, ASM_FABRIC_WORKLOADS);
  assert_int_equal (ids->len, 2);
  CONSISTENT (f, sim);
}

/* ---------------------------------------------------------------------- */
/* Operations: partitions                                                 */
/* ---------------------------------------------------------------------- */

static void
xlat_entry_is_at (AsmFabric *f, AsmId sw, AsmId key, AsmId partition,
                  AsmId workload, guint64 virt, guint64 size, guint64 phys,
                  const char *file, int line)
{
  g_autoptr (GArray) t = asm_fabric_get_xlat_table (f, sw);

  if (t == NULL)
    FAIL_AT (file, line, "switch %u has no table", sw);
  for (guint i = 0; i < t->len; i++)
    {
      AsmXlatEntry *e = &g_array_index (t, AsmXlatEntry, i);
      if (e->key != key)
        continue;
      if (e->partition != partition || e->workload != workload ||
          e->virt_first != virt || e->size != size ||
          e->offset != phys - virt)
        FAIL_AT (file, line, "entry %u of switch %u: partition %u workload %u "
                 "virt " X " size " X " offset " X "; expected %u %u " X " "
                 X " " X, key, sw, e->partition, e->workload, e->virt_first,
                 e->size, e->offset, partition, workload, virt, size,
                 phys - virt);
      return;
    }
  FAIL_AT (file, line, "switch %u has no entry %u", sw, key);
}
#define XLAT_ENTRY_IS(f, sw, key, p, w, virt, size, phys) \
  xlat_entry_is_at ((f), (sw), (key), (p), (w), (virt), (size), (phys), \
                    __FILE__, __LINE__)

static gboolean
xlat_has (AsmFabric *f, AsmId sw, AsmId key)
{
  g_autoptr (GArray) t = asm_fabric_get_xlat_table (f, sw);
  for (guint i = 0; i < t->len; i++)
    if (g_array_index (t, AsmXlatEntry, i).key == key)
      return TRUE;
  return FALSE;
}

#define VIRT0 (G_GUINT64_CONSTANT (1) << 40)

static void
test_request_partition (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  AsmPartitionRequest req = { 0 };
  AsmPartitionInfo pi;
  AsmSwitchInfo si;
  AsmArenaStats st;
  EvLog ev;
  Snap snap;
  AsmId a, b, w, w2, p, q, r, x;
  guint64 virt = 0;

  evlog_init (&ev);
  a = SWITCH (f, "A", 10000, 100, 4, 4, FALSE);
  b = SWITCH (f, "B", 10000, 100, 4, 4, FALSE);
  w = WORKLOAD (f, "w");
  w2 = WORKLOAD (f, "w2");
  asm_fabric_add_observer (f, record_event, &ev);

  /* two empty switches score the same: the lowest id wins; A grows a
   * window of exactly the size (the window granule is the granule) */
  p = REQUEST (f, w, 4 * MIB, 0, 300, &virt);
  pi = PINFO (f, p);
  assert_int_equal (pi.switch_id, a);
  assert_int_equal (pi.workload, w);
  assert_int_equal (pi.size, 4 * MIB);
  assert_int_equal (pi.virt_first, VIRT0);
  assert_int_equal (virt, VIRT0);
  assert_int_equal (pi.phys_first, BASE);
  assert_int_equal (pi.bandwidth_demand, 300);
  assert_int_equal (pi.n_devices, 0);
  si = SINFO (f, a);
  assert_int_equal (si.n_windows, 1);
  assert_int_equal (si.window_bytes, 4 * MIB);
  assert_int_equal (si.free_bytes, 0);
  assert_int_equal (si.table_used, 1);
  assert_int_equal (si.n_partitions, 1);
  assert_int_equal (si.bandwidth_used, 300);
  XLAT_ENTRY_IS (f, a, p, p, w, VIRT0, 4 * MIB, BASE);
  /* the window growth event, then the placement */
  assert_int_equal (ev.events->len, 2);
  assert_int_equal (g_array_index (ev.events, Ev, 0).kind,
                    ASM_EVENT_WINDOW_GROWN);
  assert_int_equal (g_array_index (ev.events, Ev, 0).sw, a);
  assert_int_equal (g_array_index (ev.events, Ev, 0).range.first, BASE);
  assert_int_equal (g_array_index (ev.events, Ev, 0).range.last,
                    BASE + 4 * MIB - 1);
  assert_int_equal (g_array_index (ev.events, Ev, 1).kind,
                    ASM_EVENT_PARTITION_PLACED);
  assert_int_equal (g_array_index (ev.events, Ev, 1).partition, p);
  asm_fabric_get_global_stats (f, &st);
  assert_int_equal (st.n_allocated, 1);
  CONSISTENT (f, sim);

  /* bandwidth balance: A has 300 of 10000 promised, B none */
  q = REQUEST (f, w, 2 * MIB, 0, 0, &virt);
  assert_int_equal (PINFO (f, q).switch_id, b);
  /* the second partition of a workload is a VIRT_ALIGN step further */
  assert_int_equal (virt, VIRT0 + VIRT0);
  /* another workload has its own virtual space */
  r = REQUEST (f, w2, 2 * MIB, a, 0, &virt);
  assert_int_equal (virt, VIRT0);
  assert_int_equal (PINFO (f, r).switch_id, a);
  /* alignment */
  req = (AsmPartitionRequest) { .size = 2 * MIB, .align = 32 * MIB };
  OK (asm_fabric_request_partition (f, w2, &req, &x, NULL, &error));
  assert_int_equal (PINFO (f, x).phys_first % (32 * MIB), 0);
  /* bandwidth_demand 0 counts min_bandwidth */
  req = (AsmPartitionRequest) { .size = 2 * MIB, .min_bandwidth = 700,
                                .preferred_switch = b };
  OK (asm_fabric_request_partition (f, w2, &req, &x, NULL, &error));
  assert_int_equal (PINFO (f, x).bandwidth_demand, 700);
  assert_int_equal (SINFO (f, b).bandwidth_used, 700);
  CONSISTENT (f, sim);

  evlog_reset (&ev);
  snap_take (f, &snap);
  req = (AsmPartitionRequest) { .size = MIB };
  FAILS (asm_fabric_request_partition (f, w, &req, NULL, NULL, &error),
         INVALID, "size 0x100000 is not a non-zero multiple of the granule");
  req = (AsmPartitionRequest) { .size = 0 };
  FAILS (asm_fabric_request_partition (f, w, &req, NULL, NULL, &error),
         INVALID, "size 0x0");
  req = (AsmPartitionRequest) { .size = 3 * MIB };
  FAILS (asm_fabric_request_partition (f, w, &req, NULL, NULL, &error),
         INVALID, "0x300000");
  req = (AsmPartitionRequest) { .size = VIRT0 + GRAN };
  FAILS (asm_fabric_request_partition (f, w, &req, NULL, NULL, &error),
         INVALID, "up to 0x10000000000");
  req = (AsmPartitionRequest) { .size = 2 * MIB, .align = 3 * MIB };
  FAILS (asm_fabric_request_partition (f, w, &req, NULL, NULL, &error),
         INVALID, "alignment 0x300000 is not a power of two");
  req = (AsmPartitionRequest) { .size = 2 * MIB };
  FAILS (asm_fabric_request_partition (f, 99, &req, NULL, NULL, &error),
         NOT_FOUND, "workload 99");
  FAILS (asm_fabric_request_partition (f, a, &req, NULL, NULL, &error),
         NOT_FOUND, "workload 1");
  req = (AsmPartitionRequest) { .size = 2 * MIB, .preferred_switch = 77 };
  FAILS (asm_fabric_request_partition (f, w, &req, NULL, NULL, &error),
         NOT_FOUND, "switch 77");
  /* larger than the global space can give */
  req = (AsmPartitionRequest) { .size = GLOBAL_SIZE };
  FAILS (asm_fabric_request_partition (f, w, &req, NULL, NULL, &error),
         NO_SPACE, "cannot grow a window");
  UNCHANGED (f, &snap);
  snap_clear (&snap);
  assert_int_equal (ev.events->len, 0);
  assert_string_equal (ev.problems->str, "");
  evlog_clear (&ev);
}

static void
test_placement_score (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  AsmPartitionRequest req = { 0 };
  AsmId a, b, c, w, p;

  /* A latency 2000 ns (0.002 of score), B 0, C pinned with room */
  a = SWITCH (f, "A", 1000, 2000, 8, 2, FALSE);
  b = SWITCH (f, "B", 5000, 0, 8, 2, FALSE);
  w = WORKLOAD (f, "w");
  /* a window granule that is not a power of two >= the granule is refused
   * with the value named, and nothing changes */
  FAILS (asm_fabric_set_window_granule (f, 3 * MIB, &error), INVALID,
         "0x300000");
  FAILS (asm_fabric_set_window_granule (f, GRAN / 2, &error), INVALID,
         "power of two");
  OK (asm_fabric_set_window_granule (f, 8 * MIB, &error));

  /* equal but for latency: B */
  p = REQUEST (f, w, 2 * MIB, 0, 0, NULL);
  assert_int_equal (PINFO (f, p).switch_id, b);
  /* B has room now (no growth: +0.2): B again, though A has headroom */
  p = REQUEST (f, w, 2 * MIB, 0, 0, NULL);
  assert_int_equal (PINFO (f, p).switch_id, b);
  assert_int_equal (SINFO (f, b).n_windows, 1);
  /* a qualifying preferred switch wins whatever its score */
  p = REQUEST (f, w, 2 * MIB, a, 0, NULL);
  assert_int_equal (PINFO (f, p).switch_id, a);
  /* a preferred switch that is too slow does not */
  req = (AsmPartitionRequest) { .size = 2 * MIB, .preferred_switch = a,
                                .max_latency_ns = 1000 };
  OK (asm_fabric_request_partition (f, w, &req, &p, NULL, &error));
  assert_int_equal (PINFO (f, p).switch_id, b);
  /* nor one short of bandwidth */
  req = (AsmPartitionRequest) { .size = 2 * MIB, .preferred_switch = a,
                                .min_bandwidth = 2000, .bandwidth_demand = 1 };
  OK (asm_fabric_request_partition (f, w, &req, &p, NULL, &error));
  assert_int_equal (PINFO (f, p).switch_id, b);
  /* demand beyond B's headroom: A, the only one left */
  req = (AsmPartitionRequest) { .size = 2 * MIB, .bandwidth_demand = 5000 };
  FAILS (asm_fabric_request_partition (f, w, &req, &p, NULL, &error),
         NO_SPACE, "0 too slow, 2 short of bandwidth");
  req.bandwidth_demand = 900;
  OK (asm_fabric_request_partition (f, w, &req, &p, NULL, &error));
  assert_int_equal (PINFO (f, p).switch_id, b);
  /* free space balances: a pinned switch with a big window, low latency */
  c = SWITCH (f, "C", 5000, 0, 8, 2, TRUE);
  OK (asm_fabric_add_window (f, c, BASE + 128 * MIB, BASE + 192 * MIB - 1,
                             &error));
  p = REQUEST (f, w, 2 * MIB, 0, 0, NULL);
  assert_int_equal (PINFO (f, p).switch_id, c);
  assert_int_equal (PINFO (f, p).phys_first, BASE + 128 * MIB);
  CONSISTENT (f, sim);
}

static void
test_no_switch_qualifies (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  g_autoptr (AsmBackend) sim2 = asm_sim_backend_new ();
  g_autoptr (AsmFabric) small = FABRIC_NEW (sim2, 8 * MIB);
  AsmPartitionRequest req = { 0 };
  Snap snap;
  AsmId s3, s4, w;

  SWITCH (f, "slow", 10000, 1000, 4, 1, FALSE);
  SWITCH (f, "thin", 100, 0, 4, 1, FALSE);
  s3 = SWITCH (f, "full", 10000, 0, 1, 1, FALSE);
  s4 = SWITCH (f, "pinned", 10000, 0, 4, 1, TRUE);
  OK (asm_fabric_add_window (f, s4, BASE + 64 * MIB, BASE + 66 * MIB - 1,
                             &error));
  w = WORKLOAD (f, "w");
  REQUEST (f, w, 2 * MIB, s3, 0, NULL);
  REQUEST (f, w, 2 * MIB, s4, 0, NULL);
  assert_int_equal (SINFO (f, s3).table_used, 1);
  assert_int_equal (SINFO (f, s4).free_bytes, 0);

  snap_take (f, &snap);
  req = (AsmPartitionRequest) { .size = 4 * MIB, .max_latency_ns = 500,
                                .min_bandwidth = 1000 };
  FAILS (asm_fabric_request_partition (f, w, &req, NULL, NULL, &error),
         NO_SPACE, "no switch can hold 0x400000 bytes: 1 too slow, 1 short "
         "of bandwidth, 1 with a full translation table, 1 without room "
         "(and the global space can grow a window)");
  /* a preferred switch that does not qualify changes nothing */
  req.preferred_switch = s4;
  FAILS (asm_fabric_request_partition (f, w, &req, NULL, NULL, &error),
         NO_SPACE, "1 without room");
  UNCHANGED (f, &snap);
  snap_clear (&snap);
  CONSISTENT (f, sim);

  /* the global space exhausted */
  SWITCH (small, "A", 1000, 0, 4, 1, FALSE);
  w = WORKLOAD (small, "w");
  REQUEST (small, w, 8 * MIB, 0, 0, NULL);
  snap_take (small, &snap);
  req = (AsmPartitionRequest) { .size = 2 * MIB };
  FAILS (asm_fabric_request_partition (small, w, &req, NULL, NULL, &error),
         NO_SPACE, "0 too slow, 0 short of bandwidth, 0 with a full "
         "translation table, 1 without room (and the global space cannot "
         "grow a window)");
  UNCHANGED (small, &snap);
  snap_clear (&snap);
  CONSISTENT (small, sim2);
}
static void
test_map_device (void **state)
{
  Scene s;
  EvLog ev;
  Snap snap;
  AsmPartitionInfo before;
  AsmTranslation t;
  AsmDeviceInfo di;
  AsmId e4, vf2, d, pd, e5;

  scene_build (&s, NULL);
  evlog_init (&ev);
  asm_fabric_add_observer (s.f, record_event, &ev);
  before = PINFO (s.f, s.p1);
  /* e2 on B moves to A's lowest free port, at the next 1 MiB boundary */
  assert_int_equal (MAP (s.f, s.p1, s.e2), 2 * MIB);
  di = DINFO (s.f, s.e2);
  assert_int_equal (di.switch_id, s.a);
  assert_int_equal (di.port, 3);
  assert_int_equal (di.partition, s.p1);
  assert_int_equal (di.partition_offset, 2 * MIB);
  assert_int_equal (SINFO (s.f, s.b).n_ports_used, 1);
  assert_int_equal (SINFO (s.f, s.a).n_ports_used, 4);
  assert_int_equal (PINFO (s.f, s.p1).generation, before.generation + 1);
  assert_int_equal (PINFO (s.f, s.p1).n_devices, 3);
  assert_int_equal (ev.events->len, 1);
  assert_int_equal (g_array_index (ev.events, Ev, 0).kind,
                    ASM_EVENT_DEVICE_MAPPED);
  assert_int_equal (g_array_index (ev.events, Ev, 0).device, s.e2);
  assert_int_equal (g_array_index (ev.events, Ev, 0).partition, s.p1);
  t = XLATE (s.f, s.w1, s.v1 + 2 * MIB + 5);
  assert_int_equal (t.device, s.e2);
  assert_int_equal (t.device_offset, 5);
  assert_int_equal (t.switch_id, s.a);
  assert_int_equal (t.physical, BASE + 2 * MIB + 5);
  /* a device of the partition's switch stays where it is */
  assert_int_equal (MAP (s.f, s.p3, s.pf1), 0);
  assert_int_equal (DINFO (s.f, s.pf1).port, 1);
  CONSISTENT (s.f, s.sim);

  e4 = DEVICE (s.f, "e4", ASM_DEVICE_ENDPOINT, 4 * MIB, s.a, 4);
  vf2 = VF (s.f, s.pf2);
  d = SWITCH (s.f, "D", 1000, 0, 4, 1, FALSE);
  DEVICE (s.f, "ed", ASM_DEVICE_ENDPOINT, MIB, d, 0);
  pd = REQUEST (s.f, s.w2, 2 * MIB, d, 0, NULL);
  e5 = DEVICE (s.f, "e5", ASM_DEVICE_ENDPOINT, MIB, s.b, 2);
  evlog_reset (&ev);
  snap_take (s.f, &snap);
  FAILS (asm_fabric_map_device (s.f, s.p3, s.e1, NULL, &error), IN_USE,
         "'e1' is already mapped into partition");
  FAILS (asm_fabric_map_device (s.f, s.p3, e4, NULL, &error), NO_SPACE,
         "has no room for the 0x400000-byte BAR of 'e4'");
  FAILS (asm_fabric_map_device (s.f, s.p1, vf2, NULL, &error), INVALID,
         "transfer it with asm_fabric_transfer_vf()");
  FAILS (asm_fabric_map_device (s.f, pd, e5, NULL, &error), NO_SPACE,
         "switch 'D' has no free port for device 'e5'");
  FAILS (asm_fabric_map_device (s.f, s.p1, 99, NULL, &error), NOT_FOUND,
         "device 99");
  FAILS (asm_fabric_map_device (s.f, 99, s.e1, NULL, &error), NOT_FOUND,
         "partition 99");
  UNCHANGED (s.f, &snap);
  snap_clear (&snap);
  assert_int_equal (ev.events->len, 0);
  /* a PF moves with its VFs (none of them mapped) */
  assert_int_equal (MAP (s.f, s.p1, s.pf2), 3 * MIB);
  assert_int_equal (DINFO (s.f, s.pf2).switch_id, s.a);
  assert_int_equal (DINFO (s.f, vf2).switch_id, s.a);
  assert_int_equal (DINFO (s.f, vf2).port, DINFO (s.f, s.pf2).port);
  assert_int_equal (SINFO (s.f, s.b).n_ports_used, 1); /* e5 */
  CONSISTENT (s.f, s.sim);
  /* so its VF can be mapped on A now */
  assert_int_equal (MAP (s.f, s.p3, vf2), MIB);
  /* BARs are aligned to their size: 4 MiB after 1.25 MiB in 8 MiB */
  OK (asm_fabric_grow_partition (s.f, s.p3, 8 * MIB, &error));
  assert_int_equal (PINFO (s.f, s.p3).phys_first, BASE + 8 * MIB);
  assert_int_equal (MAP (s.f, s.p3, e4), 4 * MIB);
  assert_string_equal (ev.problems->str, "");
  CONSISTENT (s.f, s.sim);
  evlog_clear (&ev);
  scene_clear (&s);
}

/* the translation is what the hardware table routes */
static void
routed_at (AsmFabric *f, AsmId w, guint64 virt, const AsmTranslation *t,
           const char *file, int line)
{
  g_autoptr (GArray) table = asm_fabric_get_xlat_table (f, t->switch_id);
  const AsmXlatEntry *hit = NULL;

  for (guint i = 0; table != NULL && i < table->len; i++)
    {
      const AsmXlatEntry *e = &g_array_index (table, AsmXlatEntry, i);
      if (e->workload == w && virt >= e->virt_first &&
          virt - e->virt_first < e->size &&
          (e->key == t->device || (hit == NULL && e->key == t->partition)))
        hit = e;
    }
  if (hit == NULL)
    FAIL_AT (file, line, "no entry of switch %u routes " X " of workload %u",
             t->switch_id, virt, w);
  if (hit->partition != t->partition || virt + hit->offset != t->physical)
    FAIL_AT (file, line, "entry %u of switch %u routes " X " to " X
             " (partition %u), the translation says " X " (partition %u)",
             hit->key, t->switch_id, virt, virt + hit->offset,
             hit->partition, t->physical, t->partition);
}
#define ROUTED(f, w, virt, t) routed_at ((f), (w), (virt), (t), __FILE__, \
                                         __LINE__)

static void
xlate_is_at (AsmFabric *f, AsmId w, guint64 virt, AsmId partition,
             AsmId sw, guint64 phys, AsmId device, guint64 dev_off,
             const char *file, int line)
{
  AsmTranslation t = xlate_at (f, w, virt, file, line);
  AsmPartitionInfo pi = pinfo_at (f, partition, file, line);

  if (t.partition != partition || t.switch_id != sw || t.physical != phys ||
      t.device != device || t.device_offset != dev_off || t.held ||
      t.generation != pi.generation)
    FAIL_AT (file, line, X " -> partition %u switch %u phys " X " device %u "
             "+" X " held %d gen %u; expected %u %u " X " %u +" X " gen %u",
             virt, t.partition, t.switch_id, t.physical, t.device,
             t.device_offset, t.held, t.generation, partition, sw, phys,
             device, dev_off, pi.generation);
  routed_at (f, w, virt, &t, file, line);
}
#define XLATE_IS(f, w, virt, p, sw, phys, dev, off) \
  xlate_is_at ((f), (w), (virt), (p), (sw), (phys), (dev), (off), __FILE__, \
               __LINE__)

static void
test_translate (void **state)
{
  Scene s;
  AsmTranslation t;

  scene_build (&s, NULL);
  FAILS (asm_fabric_translate (s.f, 99, s.v1, &t, &error), NOT_FOUND,
         "workload 99 does not exist");
  FAILS (asm_fabric_translate (s.f, s.a, s.v1, &t, &error), NOT_FOUND,
         "workload 1 does not exist");
  FAILS (asm_fabric_translate (s.f, s.w1, s.v1 - 1, &t, &error), NOT_FOUND,
         "no partition at virtual 0xffffffffff");
  FAILS (asm_fabric_translate (s.f, s.w1, s.v1 + 4 * MIB, &t, &error),
         NOT_FOUND, "no partition at virtual 0x10000400000");
  FAILS (asm_fabric_translate (s.f, s.w1, s.v3 + 2 * MIB, &t, &error),
         NOT_FOUND, "'w1'");
  FAILS (asm_fabric_translate (s.f, s.w1, 0, &t, &error), NOT_FOUND, "0x0");
  FAILS (asm_fabric_translate (s.f, s.w1, G_MAXUINT64, &t, &error),
         NOT_FOUND, "0xffffffffffffffff");
  FAILS (asm_fabric_translate (s.f, s.w2, s.v3, &t, &error), NOT_FOUND,
         "'w2'");
  assert_int_equal (s.v1, VIRT0);
  assert_int_equal (s.v2, VIRT0);
  assert_int_equal (s.v3, 2 * VIRT0);
  XLATE_IS (s.f, s.w1, s.v1, s.p1, s.a, BASE, s.e1, 0);
  XLATE_IS (s.f, s.w1, s.v1 + MIB - 1, s.p1, s.a, BASE + MIB - 1, s.e1,
            MIB - 1);
  XLATE_IS (s.f, s.w1, s.v1 + MIB, s.p1, s.a, BASE + MIB, s.vf1, 0);
  XLATE_IS (s.f, s.w1, s.v1 + MIB + 256 * KIB - 1, s.p1, s.a,
            BASE + MIB + 256 * KIB - 1, s.vf1, 256 * KIB - 1);
  XLATE_IS (s.f, s.w1, s.v1 + MIB + 256 * KIB, s.p1, s.a,
            BASE + MIB + 256 * KIB, ASM_ID_NONE, 0);
  XLATE_IS (s.f, s.w1, s.v1 + 4 * MIB - 1, s.p1, s.a, BASE + 4 * MIB - 1,
            ASM_ID_NONE, 0);
  XLATE_IS (s.f, s.w2, s.v2 + 3, s.p2, s.a, BASE + 4 * MIB + 3, s.pf3, 3);
  XLATE_IS (s.f, s.w2, s.v2 + 512 * KIB + 3, s.p2, s.a,
            BASE + 4 * MIB + 512 * KIB + 3, s.vf3, 3);
  XLATE_IS (s.f, s.w1, s.v3, s.p3, s.a, BASE + 8 * MIB, ASM_ID_NONE, 0);
  XLATE_IS (s.f, s.w1, s.v3 + 2 * MIB - 1, s.p3, s.a, BASE + 10 * MIB - 1,
            ASM_ID_NONE, 0);
  scene_clear (&s);
}

static void
test_grow (void **state)
{
  Scene s;
  EvLog ev;
  DrvLog drv;
  Snap snap;
  AsmPartitionInfo pi, before;
  guint64 free_before;
  g_autofree char *want = NULL;
  Ev *e;

  scene_build (&s, NULL);
  evlog_init (&ev);
  drvlog_init (&drv);
  asm_fabric_add_observer (s.f, record_event, &ev);
  asm_fabric_set_driver_funcs (s.f, &drv_funcs, &drv);

  /* in place: the bytes after P3 in A's second window are free */
  before = PINFO (s.f, s.p3);
  free_before = SINFO (s.f, s.a).free_bytes;
  OK (asm_fabric_grow_partition (s.f, s.p3, 4 * MIB, &error));
  pi = PINFO (s.f, s.p3);
  assert_int_equal (pi.size, 4 * MIB);
  assert_int_equal (pi.phys_first, before.phys_first);
  assert_int_equal (pi.virt_first, before.virt_first);
  assert_int_equal (pi.switch_id, s.a);
  assert_int_equal (pi.generation, before.generation + 1);
  assert_int_equal (SINFO (s.f, s.a).free_bytes, free_before - 2 * MIB);
  XLAT_ENTRY_IS (s.f, s.a, s.p3, s.p3, s.w1, s.v3, 4 * MIB, BASE + 8 * MIB);
  XLATE_IS (s.f, s.w1, s.v3 + 3 * MIB, s.p3, s.a, BASE + 11 * MIB,
            ASM_ID_NONE, 0);
  assert_int_equal (ev.events->len, 1);
  e = &g_array_index (ev.events, Ev, 0);
  assert_int_equal (e->kind, ASM_EVENT_PARTITION_GROWN);
  assert_int_equal (e->sw, s.a);
  assert_int_equal (e->old_sw, s.a);
  assert_string_equal (drv.log->str, "");
  CONSISTENT (s.f, s.sim);

  /* by relocation: P2 cannot grow past its window; C, pinned with 64 MiB
   * free and the lowest latency, scores best */
  evlog_reset (&ev);
  before = PINFO (s.f, s.p2);
  OK (asm_fabric_grow_partition (s.f, s.p2, 8 * MIB, &error));
  pi = PINFO (s.f, s.p2);
  assert_int_equal (pi.switch_id, s.c);
  assert_int_equal (pi.size, 8 * MIB);
  assert_int_equal (pi.virt_first, s.v2);
  assert_int_equal (pi.phys_first, BASE + 192 * MIB);
  assert_int_equal (pi.generation, before.generation + 1);
  assert_int_equal (DINFO (s.f, s.pf3).switch_id, s.c);
  assert_int_equal (DINFO (s.f, s.pf3).port, 0);
  assert_int_equal (DINFO (s.f, s.vf3).switch_id, s.c);
  assert_false (xlat_has (s.f, s.a, s.p2));
  XLAT_ENTRY_IS (s.f, s.c, s.p2, s.p2, s.w2, s.v2, 8 * MIB, pi.phys_first);
  XLATE_IS (s.f, s.w2, s.v2 + 512 * KIB + 3, s.p2, s.c,
            pi.phys_first + 512 * KIB + 3, s.vf3, 3);
  XLATE_IS (s.f, s.w2, s.v2 + 7 * MIB, s.p2, s.c, pi.phys_first + 7 * MIB,
            ASM_ID_NONE, 0);
  assert_int_equal (evlog_count (&ev, ASM_EVENT_PARTITION_GROWN), 1);
  e = &g_array_index (ev.events, Ev, ev.events->len - 1);
  assert_int_equal (e->kind, ASM_EVENT_PARTITION_GROWN);
  assert_int_equal (e->sw, s.c);
  assert_int_equal (e->old_sw, s.a);
  want = g_strdup_printf ("h%u h%u m%u@%u:" X " m%u@%u:" X " r%u r%u ",
                          s.pf3, s.vf3, s.pf3, s.c, pi.phys_first, s.vf3, s.c,
                          pi.phys_first + 512 * KIB, s.pf3, s.vf3);
  assert_string_equal (drv.log->str, want);
  CONSISTENT (s.f, s.sim);

  evlog_reset (&ev);
  snap_take (s.f, &snap);
  FAILS (asm_fabric_grow_partition (s.f, s.p1, 4 * MIB, &error), INVALID,
         "new size 0x400000 is not above its size 0x400000");
  FAILS (asm_fabric_grow_partition (s.f, s.p1, 2 * MIB, &error), INVALID,
         "is not above");
  FAILS (asm_fabric_grow_partition (s.f, s.p1, 5 * MIB, &error), INVALID,
         "size 0x500000 is not a non-zero multiple");
  FAILS (asm_fabric_grow_partition (s.f, s.p1, VIRT0 + GRAN, &error),
         INVALID, "up to 0x10000000000");
  FAILS (asm_fabric_grow_partition (s.f, 99, 8 * MIB, &error), NOT_FOUND,
         "partition 99");
  FAILS (asm_fabric_grow_partition (s.f, s.p1, 200 * MIB, &error), NO_SPACE,
         "grow partition");
  UNCHANGED (s.f, &snap);
  snap_clear (&snap);
  assert_int_equal (ev.events->len, 0);
  /* up to VIRT_ALIGN the virtual range grows in place */
  OK (asm_fabric_grow_partition (s.f, s.p3, 64 * MIB, &error));
  assert_int_equal (PINFO (s.f, s.p3).virt_first, s.v3);
  assert_string_equal (ev.problems->str, "");
  CONSISTENT (s.f, s.sim);
  evlog_clear (&ev);
  drvlog_clear (&drv);
  scene_clear (&s);
}

static void
test_migrate (void **state)
{
  Scene s;
  EvLog ev;
  DrvLog drv;
  Snap snap;
  AsmPartitionInfo pi, before;
  AsmSwitchInfo si;
  g_autofree char *want = NULL;
  AsmId d, e;
  g_autoptr (AsmBackend) sim1 = asm_sim_backend_new ();
  g_autoptr (AsmFabric) one = FABRIC_NEW (sim1, GLOBAL_SIZE);
  AsmId ow, op;

  scene_build (&s, NULL);
  evlog_init (&ev);
  drvlog_init (&drv);
  asm_fabric_add_observer (s.f, record_event, &ev);
  asm_fabric_set_driver_funcs (s.f, &drv_funcs, &drv);

  /* explicit target: P2 with pf3 and its vf3 to B, which grows a window */
  before = PINFO (s.f, s.p2);
  drv.probe_on = TRUE;
  drv.probe_workload = s.w2;
  drv.probe_virt = s.v2 + 512 * KIB + 9;
  drv.probe_before = XLATE (s.f, s.w2, drv.probe_virt);
  OK (asm_fabric_migrate_partition (s.f, s.p2, s.b, &error));
  drv.probe_on = FALSE;
  pi = PINFO (s.f, s.p2);
  assert_int_equal (pi.switch_id, s.b);
  assert_int_equal (pi.virt_first, s.v2);
  assert_int_equal (pi.size, 4 * MIB);
  assert_int_equal (pi.phys_first, BASE + 16 * MIB);
  assert_int_equal (pi.generation, before.generation + 1);
  assert_int_equal (DINFO (s.f, s.pf3).switch_id, s.b);
  assert_int_equal (DINFO (s.f, s.pf3).port, 2);
  assert_int_equal (DINFO (s.f, s.vf3).switch_id, s.b);
  assert_int_equal (DINFO (s.f, s.vf3).port, 2);
  assert_false (xlat_has (s.f, s.a, s.p2));
  XLAT_ENTRY_IS (s.f, s.b, s.p2, s.p2, s.w2, s.v2, 4 * MIB, pi.phys_first);
  XLATE_IS (s.f, s.w2, s.v2 + 3, s.p2, s.b, pi.phys_first + 3, s.pf3, 3);
  XLATE_IS (s.f, s.w2, s.v2 + 512 * KIB + 3, s.p2, s.b,
            pi.phys_first + 512 * KIB + 3, s.vf3, 3);
  si = SINFO (s.f, s.a);
  assert_int_equal (si.table_used, 2);
  assert_int_equal (si.bandwidth_used, 1500);
  assert_int_equal (si.n_ports_used, 2);
  assert_int_equal (si.n_partitions, 2);
  si = SINFO (s.f, s.b);
  assert_int_equal (si.table_used, 1);
  assert_int_equal (si.bandwidth_used, 1000);
  assert_int_equal (si.n_ports_used, 3);
  assert_int_equal (ev.events->len, 2);
  assert_int_equal (g_array_index (ev.events, Ev, 0).kind,
                    ASM_EVENT_WINDOW_GROWN);
  assert_int_equal (g_array_index (ev.events, Ev, 1).kind,
                    ASM_EVENT_PARTITION_MIGRATED);
  assert_int_equal (g_array_index (ev.events, Ev, 1).sw, s.b);
  assert_int_equal (g_array_index (ev.events, Ev, 1).old_sw, s.a);
  want = g_strdup_printf ("h%u h%u m%u@%u:" X " m%u@%u:" X " r%u r%u ",
                          s.pf3, s.vf3, s.pf3, s.b, pi.phys_first, s.vf3, s.b,
                          pi.phys_first + 512 * KIB, s.pf3, s.vf3);
  assert_string_equal (drv.log->str, want);
  /* the hold callback saw the old mapping, held */
  assert_int_equal (drv.n_probed_hold, 2);
  assert_int_equal (drv.n_probed_moved, 2);
  assert_string_equal (drv.problems->str, "");
  CONSISTENT (s.f, s.sim);

  /* the policy chooses among the others: C (room, lowest latency); A's
   * second window goes back */
  evlog_reset (&ev);
  OK (asm_fabric_migrate_partition (s.f, s.p3, ASM_ID_NONE, &error));
  assert_int_equal (PINFO (s.f, s.p3).switch_id, s.c);
  assert_int_equal (SINFO (s.f, s.a).n_windows, 1);
  assert_int_equal (ev.events->len, 2);
  assert_int_equal (g_array_index (ev.events, Ev, 0).kind,
                    ASM_EVENT_WINDOW_SHRUNK);
  assert_int_equal (g_array_index (ev.events, Ev, 0).range.first,
                    BASE + 8 * MIB);
  assert_int_equal (g_array_index (ev.events, Ev, 1).kind,
                    ASM_EVENT_PARTITION_MIGRATED);
  CONSISTENT (s.f, s.sim);

  d = SWITCH (s.f, "D", 100, 0, 4, 4, FALSE);
  e = SWITCH (s.f, "E", 10000, 0, 4, 0, FALSE);
  evlog_reset (&ev);
  drvlog_reset (&drv);
  snap_take (s.f, &snap);
  FAILS (asm_fabric_migrate_partition (s.f, s.p3, s.c, &error), INVALID,
         "is already on switch 3");
  FAILS (asm_fabric_migrate_partition (s.f, s.p3, 99, &error), NOT_FOUND,
         "switch 99");
  FAILS (asm_fabric_migrate_partition (s.f, 99, s.b, &error), NOT_FOUND,
         "partition 99");
  FAILS (asm_fabric_migrate_partition (s.f, s.p1, d, &error), NO_SPACE,
         "switch 'D' cannot take partition");
  FAILS (asm_fabric_migrate_partition (s.f, s.p1, s.b, &error), INVALID,
         "holds VF 'pf1-vf0' whose PF stays on switch 1; transfer the VF");
  FAILS (asm_fabric_migrate_partition (s.f, s.p2, e, &error), NO_SPACE,
         "switch 'E' has 0 free ports, partition 14 needs 1");
  UNCHANGED (s.f, &snap);
  snap_clear (&snap);
  assert_int_equal (ev.events->len, 0);
  assert_string_equal (drv.log->str, "");

  /* the policy with nowhere to go */
  SWITCH (one, "only", 1000, 0, 4, 4, FALSE);
  ow = WORKLOAD (one, "w");
  op = REQUEST (one, ow, 2 * MIB, 0, 0, NULL);
  snap_take (one, &snap);
  FAILS (asm_fabric_migrate_partition (one, op, ASM_ID_NONE, &error),
         NO_SPACE, "migrate partition 3: no switch can hold 0x200000 bytes");
  UNCHANGED (one, &snap);
  snap_clear (&snap);
  assert_string_equal (ev.problems->str, "");
  CONSISTENT (s.f, s.sim);
  CONSISTENT (one, sim1);
  evlog_clear (&ev);
  drvlog_clear (&drv);
  scene_clear (&s);
}

/* Every mapped device is reached through its partition's switch, or,
 * redirected (a transferred VF), through its own entry on the switch it
 * sits behind.  NULL, or what is wrong. */
static char *
unreachable (AsmFabric *f)
{
  g_autoptr (GArray) devs = asm_fabric_list (f, ASM_FABRIC_DEVICES);
  g_autoptr (GArray) sws = asm_fabric_list (f, ASM_FABRIC_SWITCHES);

  for (guint i = 0; i < devs->len; i++)
    {
      AsmDeviceInfo di;
      AsmPartitionInfo pi;
      AsmId routed_by = ASM_ID_NONE;

      g_assert_true (asm_fabric_get_device_info (
          f, g_array_index (devs, AsmId, i), &di));
      if (di.partition == ASM_ID_NONE)
        continue;
      g_assert_true (asm_fabric_get_partition_info (f, di.partition, &pi));
      for (guint j = 0; j < sws->len; j++)
        if (xlat_has (f, g_array_index (sws, AsmId, j), di.id))
          routed_by = g_array_index (sws, AsmId, j);
      if (routed_by == ASM_ID_NONE && di.switch_id != pi.switch_id)
        return g_strdup_printf ("device %u ('%s') is mapped into partition "
                                "%u on switch %u, but sits behind switch %u "
                                "with no entry routing to it", di.id,
                                di.name, pi.id, pi.switch_id, di.switch_id);
      if (routed_by != ASM_ID_NONE && routed_by != di.switch_id)
        return g_strdup_printf ("device %u ('%s') sits behind switch %u, "
                                "its BAR is routed by switch %u", di.id,
                                di.name, di.switch_id, routed_by);
    }
  return NULL;
}

static void
reachable_at (AsmFabric *f, const char *file, int line)
{
  g_autofree char *why = unreachable (f);
  if (why != NULL)
    FAIL_AT (file, line, "%s", why);
}
#define REACHABLE(f) reachable_at ((f), __FILE__, __LINE__)

/* A PF moves with its partition (or into one); its VFs live where it
 * is: the move must not strand a VF mapped elsewhere, nor move a
 * transferred VF away from the switch that routes it (reported as
 * fabric-1, fabric-4 and fabric-6). */
static void
test_migrate_pf_with_outside_vf (void **state)
{
  static const char *const what[] = {
    "migrate P3 holding pf1, whose vf1 is in P1",
    "migrate P2 holding pf3 and vf3, pf3 has another VF unmapped",
    "map pf1, whose vf1 is in P1 on A, into a partition on B",
    "map pf2, whose VF is transferred (routed by B), into P3 on A",
  };
  g_autoptr (GString) problems = g_string_new (NULL);

  for (guint variant = 0; variant < G_N_ELEMENTS (what); variant++)
    {
      Scene s;
      g_autofree char *before = NULL;
      g_autofree char *why = NULL;
      g_autoptr (GError) err = NULL;
      AsmId p;
      gboolean ok;

      scene_build (&s, NULL);
      if (variant == 0)
        {
          MAP (s.f, s.p3, s.pf1);
          p = s.p3;
        }
      else if (variant == 1)
        {
          VF (s.f, s.pf3);
          p = s.p2;
        }
      else if (variant == 2)
        p = REQUEST (s.f, s.w2, 2 * MIB, s.b, 0, NULL);
      else
        {
          prep_transfer (&s);
          p = s.p3;
        }
      before = asm_fabric_save (s.f, NULL);
      if (variant < 2)
        ok = asm_fabric_migrate_partition (s.f, p, s.b, &err);
      else
        ok = asm_fabric_map_device (s.f, p, variant == 2 ? s.pf1 : s.pf2,
                                    NULL, &err);
      print_message ("# %s: %s\n", what[variant],
                     ok ? "done" : err->message);
      if (!ok)
        {
          g_autofree char *now = asm_fabric_save (s.f, NULL);
          if (err->code == ASM_ERROR_BACKEND || strcmp (now, before) != 0)
            g_string_append_printf (problems, "%s: refused (%s) but not "
                                    "cleanly\n", what[variant],
                                    err->message);
        }
      if (!asm_fabric_check (s.f, &err) || !asm_sim_verify (s.sim, s.f, &err))
        g_string_append_printf (problems, "%s: %s\n", what[variant],
                                err->message);
      why = unreachable (s.f);
      if (why != NULL)
        g_string_append_printf (problems, "%s: %s\n", what[variant], why);
      {
        g_autofree char *json = asm_fabric_save (s.f, NULL);
        AsmFabric *f2 = asm_fabric_restore (json, -1, NULL, &err);
        if (f2 == NULL)
          g_string_append_printf (problems, "%s: the saved state does not "
                                  "restore: %s\n", what[variant],
                                  err->message);
        else
          asm_fabric_unref (f2);
      }
      scene_clear (&s);
    }
  REPORT (problems);
}

static void
test_release (void **state)
{
  Scene s;
  EvLog ev;
  Snap snap;
  AsmArenaStats st, st0;
  AsmSwitchInfo si;
  AsmTranslation t;
  AsmPartitionInfo pi;
  g_autoptr (GArray) parts = NULL;
  AsmId pc;
  guint64 virt;

  scene_build (&s, NULL);
  evlog_init (&ev);
  asm_fabric_add_observer (s.f, record_event, &ev);
  asm_fabric_get_global_stats (s.f, &st0);
  assert_int_equal (st0.n_allocated, 3);

  /* P3 was alone in A's second window: the window goes back */
  OK (asm_fabric_release_partition (s.f, s.p3, &error));
  asm_fabric_get_global_stats (s.f, &st);
  assert_int_equal (st.n_allocated, 2);
  assert_int_equal (st.allocated_units, st0.allocated_units - 8 * MIB);
  assert_int_equal (st.free_units, st0.free_units + 8 * MIB);
  si = SINFO (s.f, s.a);
  assert_int_equal (si.n_windows, 1);
  assert_int_equal (si.window_bytes, 8 * MIB);
  assert_int_equal (si.table_used, 2);
  assert_int_equal (si.n_partitions, 2);
  assert_int_equal (si.bandwidth_used, 2000);
  assert_false (asm_fabric_get_partition_info (s.f, s.p3, &pi));
  assert_false (xlat_has (s.f, s.a, s.p3));
  FAILS (asm_fabric_translate (s.f, s.w1, s.v3, &t, &error), NOT_FOUND,
         "no partition");
  parts = asm_fabric_list (s.f, ASM_FABRIC_PARTITIONS);
  assert_int_equal (parts->len, 2);
  assert_int_equal (ev.events->len, 2);
  assert_int_equal (g_array_index (ev.events, Ev, 0).kind,
                    ASM_EVENT_PARTITION_RELEASED);
  assert_int_equal (g_array_index (ev.events, Ev, 0).partition, s.p3);
  assert_int_equal (g_array_index (ev.events, Ev, 1).kind,
                    ASM_EVENT_WINDOW_SHRUNK);
  assert_int_equal (g_array_index (ev.events, Ev, 1).range.first,
                    BASE + 8 * MIB);
  assert_int_equal (g_array_index (ev.events, Ev, 1).range.last,
                    BASE + 16 * MIB - 1);
  CONSISTENT (s.f, s.sim);

  /* P1's devices are unmapped but stay bound */
  OK (asm_fabric_release_partition (s.f, s.p1, &error));
  assert_int_equal (DINFO (s.f, s.e1).partition, ASM_ID_NONE);
  assert_int_equal (DINFO (s.f, s.e1).switch_id, s.a);
  assert_int_equal (DINFO (s.f, s.e1).port, 0);
  assert_int_equal (DINFO (s.f, s.vf1).partition, ASM_ID_NONE);
  assert_int_equal (SINFO (s.f, s.a).table_used, 1);
  assert_int_equal (SINFO (s.f, s.a).n_windows, 1);
  CONSISTENT (s.f, s.sim);
  /* they can be mapped again, and the virtual space is reused */
  pc = REQUEST (s.f, s.w1, 2 * MIB, s.a, 0, &virt);
  assert_int_equal (virt, VIRT0);
  assert_int_equal (MAP (s.f, pc, s.vf1), 0);
  OK (asm_fabric_release_partition (s.f, pc, &error));
  OK (asm_fabric_release_partition (s.f, s.p2, &error));
  assert_int_equal (SINFO (s.f, s.a).n_windows, 0);
  asm_fabric_get_global_stats (s.f, &st);
  assert_int_equal (st.n_allocated, 1);
  CONSISTENT (s.f, s.sim);

  /* a pinned switch keeps its window */
  pc = REQUEST (s.f, s.w1, 2 * MIB, s.c, 0, NULL);
  OK (asm_fabric_release_partition (s.f, pc, &error));
  assert_int_equal (SINFO (s.f, s.c).n_windows, 1);
  assert_int_equal (SINFO (s.f, s.c).window_bytes, 64 * MIB);
  asm_fabric_get_global_stats (s.f, &st);
  assert_int_equal (st.n_allocated, 1);

  evlog_reset (&ev);
  snap_take (s.f, &snap);
  FAILS (asm_fabric_release_partition (s.f, 99, &error), NOT_FOUND,
         "partition 99");
  FAILS (asm_fabric_release_partition (s.f, s.p1, &error), NOT_FOUND,
         "partition 13");
  UNCHANGED (s.f, &snap);
  snap_clear (&snap);
  assert_int_equal (ev.events->len, 0);
  assert_string_equal (ev.problems->str, "");
  CONSISTENT (s.f, s.sim);
  evlog_clear (&ev);
  scene_clear (&s);
}

static void
test_transfer_vf (void **state)
{
  Scene s;
  EvLog ev;
  DrvLog drv;
  Snap snap;
  AsmDeviceInfo di;
  AsmPartitionInfo pi, before;
  AsmTranslation t;
  g_autofree char *want = NULL;
  AsmId vfu, pf4, pf5, pf6, sw_t, nvf, nvf2;
  guint64 base, pc;
  Ev *e;

  scene_build (&s, NULL);
  evlog_init (&ev);
  drvlog_init (&drv);
  vfu = VF (s.f, s.pf2);
  pf4 = DEVICE (s.f, "pf4", ASM_DEVICE_PF, MIB, s.b, 2);
  OK (asm_fabric_set_sriov (s.f, pf4, 4, 128 * KIB, &error));
  pf5 = DEVICE (s.f, "pf5", ASM_DEVICE_PF, MIB, s.b, 3);
  OK (asm_fabric_set_sriov (s.f, pf5, 1, 256 * KIB, &error));
  VF (s.f, pf5);
  sw_t = SWITCH (s.f, "T", 10000, 0, 1, 2, FALSE);
  REQUEST (s.f, s.w2, 2 * MIB, sw_t, 0, NULL);
  pf6 = DEVICE (s.f, "pf6", ASM_DEVICE_PF, MIB, sw_t, 0);
  OK (asm_fabric_set_sriov (s.f, pf6, 2, 256 * KIB, &error));
  asm_fabric_add_observer (s.f, record_event, &ev);
  asm_fabric_set_driver_funcs (s.f, &drv_funcs, &drv);

  snap_take (s.f, &snap);
  FAILS (asm_fabric_transfer_vf (s.f, s.e1, s.pf2, NULL, &error), INVALID,
         "'e1' is not a VF mapped into a partition");
  FAILS (asm_fabric_transfer_vf (s.f, vfu, s.pf1, NULL, &error), INVALID,
         "'pf2-vf0' is not a VF mapped into a partition");
  FAILS (asm_fabric_transfer_vf (s.f, s.vf1, s.e2, NULL, &error), INVALID,
         "'e2' is not another SR-IOV PF with 262144-byte VF BARs");
  FAILS (asm_fabric_transfer_vf (s.f, s.vf1, s.pf1, NULL, &error), INVALID,
         "'pf1' is not another SR-IOV PF");
  FAILS (asm_fabric_transfer_vf (s.f, s.vf1, pf4, NULL, &error), INVALID,
         "'pf4' is not another SR-IOV PF with 262144-byte VF BARs");
  FAILS (asm_fabric_transfer_vf (s.f, s.vf1, pf5, NULL, &error), NO_SPACE,
         "PF 'pf5' has all its 1 VFs");
  FAILS (asm_fabric_transfer_vf (s.f, s.vf1, pf6, NULL, &error), NO_SPACE,
         "switch 'T' has no free translation entry");
  FAILS (asm_fabric_transfer_vf (s.f, 99, s.pf2, NULL, &error), NOT_FOUND,
         "device 99");
  FAILS (asm_fabric_transfer_vf (s.f, s.vf1, 99, NULL, &error), NOT_FOUND,
         "device 99");
  UNCHANGED (s.f, &snap);
  snap_clear (&snap);
  assert_int_equal (ev.events->len, 0);
  assert_string_equal (drv.log->str, "");

  /* function transfer: a VF on pf2, based in B's windows, offset = base -
   * virtual */
  before = PINFO (s.f, s.p1);
  drv.probe_on = TRUE;
  drv.probe_workload = s.w1;
  drv.probe_virt = s.v1 + MIB + 7;
  drv.probe_before = XLATE (s.f, s.w1, drv.probe_virt);
  OK (asm_fabric_transfer_vf (s.f, s.vf1, s.pf2, &nvf, &error));
  drv.probe_on = FALSE;
  assert_false (asm_fabric_get_device_info (s.f, s.vf1, &di));
  di = DINFO (s.f, nvf);
  assert_int_equal (di.kind, ASM_DEVICE_VF);
  assert_int_equal (di.pf, s.pf2);
  assert_int_equal (di.vf_index, 1);
  assert_string_equal (di.name, "pf2-vf1");
  assert_int_equal (di.switch_id, s.b);
  assert_int_equal (di.port, 1);
  assert_int_equal (di.partition, s.p1);
  assert_int_equal (di.partition_offset, MIB);
  assert_int_equal (di.bar_size, 256 * KIB);
  pi = PINFO (s.f, s.p1);
  assert_int_equal (pi.switch_id, s.a);
  assert_int_equal (pi.phys_first, before.phys_first);
  assert_int_equal (pi.n_devices, 2);
  assert_int_equal (pi.generation, before.generation + 1);
  t = XLATE (s.f, s.w1, s.v1 + MIB + 7);
  assert_int_equal (t.device, nvf);
  assert_int_equal (t.device_offset, 7);
  assert_int_equal (t.switch_id, s.b);
  assert_int_equal (t.partition, s.p1);
  base = t.physical - 7;
  assert_int_equal (base % (256 * KIB), 0);
  {
    g_autoptr (GArray) bw = asm_fabric_get_switch_windows (s.f, s.b);
    assert_int_equal (bw->len, 1);
    assert_int_equal (base, g_array_index (bw, AsmRange, 0).first);
  }
  XLAT_ENTRY_IS (s.f, s.b, nvf, s.p1, s.w1, s.v1 + MIB, 256 * KIB, base);
  ROUTED (s.f, s.w1, s.v1 + MIB + 7, &t);
  XLATE_IS (s.f, s.w1, s.v1 + 5, s.p1, s.a, BASE + 5, s.e1, 5);
  XLATE_IS (s.f, s.w1, s.v1 + MIB + 256 * KIB, s.p1, s.a,
            BASE + MIB + 256 * KIB, ASM_ID_NONE, 0);
  assert_int_equal (SINFO (s.f, s.b).table_used, 1);
  assert_int_equal (SINFO (s.f, s.b).n_partitions, 0);
  assert_int_equal (SINFO (s.f, s.a).table_used, 3);
  assert_int_equal (ev.events->len, 2);
  assert_int_equal (g_array_index (ev.events, Ev, 0).kind,
                    ASM_EVENT_WINDOW_GROWN);
  e = &g_array_index (ev.events, Ev, 1);
  assert_int_equal (e->kind, ASM_EVENT_VF_TRANSFERRED);
  assert_int_equal (e->sw, s.b);
  assert_int_equal (e->old_sw, s.a);
  assert_int_equal (e->partition, s.p1);
  assert_int_equal (e->device, nvf);
  assert_int_equal (e->range.first, base);
  assert_int_equal (e->range.last, base + 256 * KIB - 1);
  /* the old VF is held; the new one is told where it is and resumed */
  want = g_strdup_printf ("h%u m%u@%u:" X " r%u ", s.vf1, nvf, s.b, base,
                          nvf);
  assert_string_equal (drv.log->str, want);
  assert_int_equal (drv.n_probed_hold, 1);
  assert_int_equal (drv.n_probed_moved, 1);
  assert_string_equal (drv.problems->str, "");
  CONSISTENT (s.f, s.sim);

  /* P1 can now migrate: e1 moves, the redirected VF keeps its route */
  drvlog_reset (&drv);
  OK (asm_fabric_migrate_partition (s.f, s.p1, s.c, &error));
  pc = PINFO (s.f, s.p1).phys_first;
  XLATE_IS (s.f, s.w1, s.v1 + 5, s.p1, s.c, pc + 5, s.e1, 5);
  XLATE_IS (s.f, s.w1, s.v1 + MIB + 7, s.p1, s.b, base + 7, nvf, 7);
  g_free (want);
  want = g_strdup_printf ("h%u h%u m%u@%u:" X " m%u@%u:" X " r%u r%u ", s.e1,
                          nvf, s.e1, s.c, pc, nvf, s.b, base, s.e1, nvf);
  assert_string_equal (drv.log->str, want);
  CONSISTENT (s.f, s.sim);

  /* and back to pf1: the redirect on B goes, with B's window */
  OK (asm_fabric_transfer_vf (s.f, nvf, s.pf1, &nvf2, &error));
  assert_int_equal (DINFO (s.f, nvf2).vf_index, 0);
  assert_false (xlat_has (s.f, s.b, nvf));
  assert_int_equal (SINFO (s.f, s.b).n_windows, 0);
  assert_int_equal (SINFO (s.f, s.b).table_used, 0);
  t = XLATE (s.f, s.w1, s.v1 + MIB + 7);
  assert_int_equal (t.device, nvf2);
  assert_int_equal (t.device_offset, 7);
  assert_int_equal (t.switch_id, s.a);
  ROUTED (s.f, s.w1, s.v1 + MIB + 7, &t);
  assert_string_equal (ev.problems->str, "");
  CONSISTENT (s.f, s.sim);
  evlog_clear (&ev);
  drvlog_clear (&drv);
  scene_clear (&s);
}
/* ---------------------------------------------------------------------- */
/* Observers and drivers                                                  */
/* ---------------------------------------------------------------------- */

static void
observer_adds_workload (AsmFabric *f, const AsmFabricEvent *e, gpointer data)
{
  guint *n = data;

  /* observers may change the fabric: no lock is held */
  if (e->kind == ASM_EVENT_PARTITION_PLACED && (*n)++ == 0)
    g_assert_true (asm_fabric_add_workload (f, "from-observer", NULL, NULL));
}

static void
observer_message (AsmFabric *f, const AsmFabricEvent *e, gpointer data)
{
  GString *s = data;
  g_string_append_printf (s, "%d:%s\n", e->kind, e->message);
}

static void
test_observers (void **state)
{
  Scene s;
  EvLog ev1, ev2;
  guint n_placed = 0, id2;
  g_autoptr (GString) messages = g_string_new (NULL);
  g_autoptr (GArray) wl = NULL;

  scene_build (&s, NULL);
  evlog_init (&ev1);
  evlog_init (&ev2);
  asm_fabric_add_observer (s.f, record_event, &ev1);
  id2 = asm_fabric_add_observer (s.f, record_event, &ev2);
  asm_fabric_add_observer (s.f, observer_adds_workload, &n_placed);
  asm_fabric_add_observer (s.f, observer_message, messages);

  REQUEST (s.f, s.w2, 2 * MIB, s.b, 0, NULL);
  assert_int_equal (ev1.events->len, 2);
  assert_int_equal (ev2.events->len, 2);
  assert_int_equal (n_placed, 1);
  wl = asm_fabric_list (s.f, ASM_FABRIC_WORKLOADS);
  assert_int_equal (wl->len, 3);
  assert_non_null (strstr (messages->str, "placed on 'B'"));
  asm_fabric_remove_observer (s.f, id2);
  asm_fabric_remove_observer (s.f, 12345);

  /* a failure is heard once, as ROLLED_BACK, after the undo */
  g_string_truncate (messages, 0);
  asm_sim_fail_call (s.sim, 2);
  FAILS (asm_fabric_migrate_partition (s.f, s.p3, s.b, &error), BACKEND,
         "step 1 of 5 (xlat_set of entry 15 on switch 2)");
  asm_sim_fail_call (s.sim, 0);
  assert_int_equal (ev1.events->len, 3);
  assert_int_equal (g_array_index (ev1.events, Ev, 2).kind,
                    ASM_EVENT_ROLLED_BACK);
  assert_int_equal (ev2.events->len, 2);
  assert_non_null (strstr (messages->str, "rolled back"));
  assert_non_null (strstr (messages->str, "injected fault"));
  /* no event for a refusal */
  FAILS (asm_fabric_migrate_partition (s.f, s.p3, s.a, &error), INVALID,
         "already");
  assert_int_equal (ev1.events->len, 3);
  assert_string_equal (ev1.problems->str, "");
  CONSISTENT (s.f, s.sim);
  evlog_clear (&ev1);
  evlog_clear (&ev2);
  scene_clear (&s);
}

static void
test_driver_order (void **state)
{
  Scene s;
  DrvLog drv;
  Snap snap;
  g_autofree char *want = NULL;

  scene_build (&s, NULL);
  drvlog_init (&drv);
  asm_fabric_set_driver_funcs (s.f, &drv_funcs, &drv);
  snap_take (s.f, &snap);

  /* a failure after the holds: resumed in reverse, nothing moved; during
   * the hold the old mapping is reported, held */
  drv.probe_on = TRUE;
  drv.probe_workload = s.w2;
  drv.probe_virt = s.v2 + 100;
  drv.probe_before = XLATE (s.f, s.w2, s.v2 + 100);
  /* hold, hold, windows, root routes, xlat_begin */
  asm_sim_fail_call (s.sim, 5);
  FAILS (asm_fabric_migrate_partition (s.f, s.p2, s.b, &error), BACKEND,
         "step 5 of 11 (xlat_set of entry 14 on switch 2)");
  want = g_strdup_printf ("h%u h%u r%u r%u ", s.pf3, s.vf3, s.vf3, s.pf3);
  assert_string_equal (drv.log->str, want);
  assert_int_equal (drv.n_probed_hold, 2);
  assert_string_equal (drv.problems->str, "");
  UNCHANGED (s.f, &snap);
  assert_false (XLATE (s.f, s.w2, s.v2 + 100).held);
  CONSISTENT (s.f, s.sim);

  /* a hold refused by the hardware: nothing to resume for it */
  drvlog_reset (&drv);
  asm_sim_fail_call (s.sim, 2);
  FAILS (asm_fabric_migrate_partition (s.f, s.p2, s.b, &error), BACKEND,
         "step 2 of 11 (device_hold of device 10)");
  g_free (want);
  want = g_strdup_printf ("h%u r%u ", s.pf3, s.pf3);
  assert_string_equal (drv.log->str, want);
  UNCHANGED (s.f, &snap);

  /* success: holds first, then moved and resumed after the publish */
  drvlog_reset (&drv);
  OK (asm_fabric_migrate_partition (s.f, s.p2, s.b, &error));
  g_free (want);
  want = g_strdup_printf ("h%u h%u m%u@%u:" X " m%u@%u:" X " r%u r%u ",
                          s.pf3, s.vf3, s.pf3, s.b, BASE + 16 * MIB, s.vf3,
                          s.b, BASE + 16 * MIB + 512 * KIB, s.pf3, s.vf3);
  assert_string_equal (drv.log->str, want);
  assert_string_equal (drv.problems->str, "");
  /* without callbacks */
  asm_fabric_set_driver_funcs (s.f, NULL, NULL);
  drvlog_reset (&drv);
  OK (asm_fabric_migrate_partition (s.f, s.p2, s.a, &error));
  assert_string_equal (drv.log->str, "");
  CONSISTENT (s.f, s.sim);
  snap_clear (&snap);
  drvlog_clear (&drv);
  scene_clear (&s);
}

/* ---------------------------------------------------------------------- */
/* The profiler                                                           */
/* ---------------------------------------------------------------------- */

static guint64
predict_at (AsmFabric *f, AsmId w, gdouble h, const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  guint64 v = 0;

  if (!asm_fabric_predict (f, w, h, &v, &error))
    FAIL_AT (file, line, "predict: %s", error->message);
  return v;
}
#define PREDICT(f, w, h) predict_at ((f), (w), (h), __FILE__, __LINE__)

static void
test_profiler_errors (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  Snap snap;
  guint64 v;
  AsmId w, w2;

  w = WORKLOAD (f, "w");
  w2 = WORKLOAD (f, "w2");
  OK (asm_fabric_record_usage (f, w, 1.0, 10, &error));
  snap_take (f, &snap);
  FAILS (asm_fabric_record_usage (f, 99, 2.0, 10, &error), NOT_FOUND,
         "workload 99");
  FAILS (asm_fabric_record_usage (f, w, 1.0, 20, &error), INVALID,
         "sample time 1 is not after the last sample's 1");
  FAILS (asm_fabric_record_usage (f, w, 0.5, 20, &error), INVALID,
         "is not after");
  FAILS (asm_fabric_record_usage (f, w, NAN, 20, &error), INVALID,
         "is not after");
  FAILS (asm_fabric_record_usage (f, w, INFINITY, 20, &error), INVALID,
         "is not after");
  FAILS (asm_fabric_predict (f, w2, 1, &v, &error), INVALID,
         "no usage sample yet");
  FAILS (asm_fabric_predict (f, w, -1, &v, &error), INVALID,
         "the horizon must be >= 0");
  FAILS (asm_fabric_predict (f, w, NAN, &v, &error), INVALID, "horizon");
  FAILS (asm_fabric_predict (f, 99, 1, &v, &error), NOT_FOUND,
         "workload 99");
  UNCHANGED (f, &snap);
  snap_clear (&snap);

  /* Holt, level weight 0.5, trend weight 0.3, trend per time unit */
  assert_int_equal (PREDICT (f, w, 5), 10);
  OK (asm_fabric_record_usage (f, w, 2.0, 20, &error));
  /* the second sample sets level 20 and trend (20 - 10) / 1 */
  assert_int_equal (PREDICT (f, w, 0), 20);
  assert_int_equal (PREDICT (f, w, 3), 50);
  OK (asm_fabric_record_usage (f, w, 3.0, 40, &error));
  /* forecast 30, level 0.5 * 40 + 0.5 * 30 = 35,
   * trend 0.3 * (35 - 20) / 1 + 0.7 * 10 = 11.5 */
  assert_int_equal (PREDICT (f, w, 2), 58);
  /* predictions do not go below 0 */
  OK (asm_fabric_record_usage (f, w2, 0, 1000, &error));
  OK (asm_fabric_record_usage (f, w2, 1, 0, &error));
  assert_int_equal (PREDICT (f, w2, 100), 0);
  CONSISTENT (f, sim);
}

typedef enum {
  TRACE_CONSTANT,
  TRACE_LINEAR,
  TRACE_STEP,
  TRACE_SAWTOOTH,
  TRACE_NOISY_LINEAR,
} TraceKind;

/* bytes used at time t */
static gdouble
trace_value (TraceKind kind, guint t, guint32 *rng)
{
  const gdouble mib = (gdouble) MIB;

  switch (kind)
    {
    case TRACE_CONSTANT:
      return 64 * mib;
    case TRACE_LINEAR:
      return 8 * mib + t * mib;
    case TRACE_STEP:
      return t < 30 ? 32 * mib : 96 * mib;
    case TRACE_SAWTOOTH:
      return 16 * mib + (t % 20) * 4 * mib;
    case TRACE_NOISY_LINEAR:
      {
        gdouble u;
        /* xorshift32: the same noise on every platform */
        *rng ^= *rng << 13;
        *rng ^= *rng >> 17;
        *rng ^= *rng << 5;
        u = (gdouble) *rng / 4294967296.0 * 2 - 1;
        return (8 * mib + t * mib) * (1 + 0.05 * u);
      }
    }
  g_assert_not_reached ();
}

static void
test_profiler_accuracy (void **state)
{
  static const struct {
    TraceKind kind;
    const char *name;
  } traces[] = {
    { TRACE_CONSTANT, "constant" },
    { TRACE_LINEAR, "linear growth" },
    { TRACE_STEP, "step" },
    { TRACE_SAWTOOTH, "sawtooth" },
    { TRACE_NOISY_LINEAR, "noisy linear" },
  };
  const guint n = 60, horizon = 10;
  g_autoptr (AsmFabric) f = FABRIC_NEW (NULL, GLOBAL_SIZE);

  for (guint i = 0; i < G_N_ELEMENTS (traces); i++)
    {
      AsmId w = WORKLOAD (f, traces[i].name);
      guint32 rng = 2463534242u;
      gdouble truth, err;
      guint64 pred;

      for (guint t = 0; t < n; t++)
        OK (asm_fabric_record_usage (f, w, t,
                                     (guint64) trace_value (traces[i].kind,
                                                            t, &rng),
                                     &error));
      /* the truth at t = n - 1 + horizon, without noise */
      truth = trace_value (traces[i].kind == TRACE_NOISY_LINEAR
                               ? TRACE_LINEAR
                               : traces[i].kind,
                           n - 1 + horizon, &rng);
      pred = PREDICT (f, w, horizon);
      err = fabs ((gdouble) pred - truth) / truth;
      print_message ("# profiler, %-14s %u samples: predicted %.2f MiB at "
                     "horizon %u, truth %.2f MiB, relative error %.2f %%\n",
                     traces[i].name, n, (gdouble) pred / MIB, horizon,
                     truth / MIB, 100 * err);
      if (traces[i].kind == TRACE_LINEAR)
        assert_true (err < 0.05);
      if (traces[i].kind == TRACE_LINEAR || traces[i].kind == TRACE_CONSTANT)
        assert_true (err < 1e-6);
      if (traces[i].kind == TRACE_NOISY_LINEAR)
        assert_true (err < 0.25);
    }
}

static void
test_rebalance (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  AsmRebalanceReport rep = { 99, 99, 99, 99, 99 };
  AsmPartitionInfo p1_before, p2_before, p4_before;
  AsmId w1, w2, w3, w4, p1, p2, p4;
  guint64 v1;

  SWITCH (f, "A", 10000, 0, 8, 4, FALSE);
  SWITCH (f, "B", 10000, 0, 8, 4, FALSE);
  w1 = WORKLOAD (f, "growing");
  w2 = WORKLOAD (f, "steady");
  w3 = WORKLOAD (f, "quiet");
  w4 = WORKLOAD (f, "greedy");
  p1 = REQUEST (f, w1, 4 * MIB, 0, 0, &v1);
  p2 = REQUEST (f, w2, 4 * MIB, 0, 0, NULL);
  p4 = REQUEST (f, w4, 2 * MIB, 0, 0, NULL);
  REQUEST (f, w3, 2 * MIB, 0, 0, NULL);
  for (guint t = 0; t < 10; t++)
    {
      OK (asm_fabric_record_usage (f, w1, t, 2 * MIB + t * MIB, &error));
      OK (asm_fabric_record_usage (f, w2, t, MIB, &error));
    }
  OK (asm_fabric_record_usage (f, w4, 0, 0, &error));
  OK (asm_fabric_record_usage (f, w4, 1, 512 * MIB, &error));
  assert_int_equal (PREDICT (f, w1, 10), 21 * MIB);
  p1_before = PINFO (f, p1);
  p2_before = PINFO (f, p2);
  p4_before = PINFO (f, p4);

  OK (asm_fabric_rebalance (f, 10, &rep, &error));
  assert_int_equal (rep.n_examined, 4);
  assert_int_equal (rep.n_grown + rep.n_migrated, 1);
  assert_int_equal (rep.n_failed, 1);
  /* 21 MiB predicted, 4 MiB held: grown by 17 MiB rounded to the granule */
  assert_int_equal (PINFO (f, p1).size, 22 * MIB);
  assert_int_equal (PINFO (f, p1).virt_first, p1_before.virt_first);
  assert_int_equal (rep.n_migrated,
                    PINFO (f, p1).phys_first != p1_before.phys_first ||
                        PINFO (f, p1).switch_id != p1_before.switch_id);
  /* 'steady' uses 1 MiB of 4: kept at 1.25 x 1 MiB, rounded up to the
   * granule, in place */
  assert_int_equal (rep.n_shrunk, 1);
  assert_int_equal (PINFO (f, p2).size, 2 * MIB);
  assert_int_equal (PINFO (f, p2).phys_first, p2_before.phys_first);
  assert_int_equal (PINFO (f, p4).size, p4_before.size);
  assert_int_equal (PINFO (f, p4).generation, p4_before.generation);
  CONSISTENT (f, sim);
  /* nothing left to do */
  OK (asm_fabric_rebalance (f, 10, NULL, &error));
  OK (asm_fabric_rebalance (f, 10, &rep, &error));
  assert_int_equal (rep.n_grown + rep.n_migrated + rep.n_shrunk, 0);
  assert_int_equal (rep.n_failed, 1);
  print_message ("# rebalance: 'growing' grown to 22 MiB (%s), 'greedy' "
                 "refused\n", rep.n_migrated ? "moved" : "in place");
}

/* ---------------------------------------------------------------------- */
/* Save and restore                                                       */
/* ---------------------------------------------------------------------- */

/* the scene, busier: a transfer, a migration, samples, a reserved hole */
static void
populate (Scene *s)
{
  scene_build (s, NULL);
  prep_transfer (s);
  OK (asm_fabric_migrate_partition (s->f, s->p2, s->b, &error));
  OK (asm_fabric_record_usage (s->f, s->w1, 0.1, 3 * MIB, &error));
  OK (asm_fabric_record_usage (s->f, s->w1, 0.35, 5 * MIB + 1, &error));
  OK (asm_fabric_record_usage (s->f, s->w1, 1.7, 4 * MIB, &error));
  OK (asm_fabric_reserve_global (s->f, BASE + 100 * MIB, BASE + 102 * MIB - 1,
                                 &error));
  CONSISTENT (s->f, s->sim);
}

static void
test_save_restore (void **state)
{
  Scene s;
  g_autofree char *json = NULL;
  g_autofree char *again = NULL;
  g_autofree char *model_only = NULL;
  gsize len = 0;
  AsmFabric *f2, *f3;
  AsmPartitionRequest req = { .size = 4 * MIB };

  populate (&s);
  json = asm_fabric_save (s.f, &len);
  assert_int_equal (len, strlen (json));
  assert_non_null (strstr (json, "\"format\" : \"asm-fabric\""));
  /* the same state gives the same bytes */
  again = asm_fabric_save (s.f, NULL);
  assert_string_equal (json, again);
  g_clear_pointer (&again, g_free);

  /* on the same hardware, with the same name and workload names */
  f2 = asm_fabric_restore (json, (gssize) len, s.sim, NULL);
  assert_non_null (f2);
  assert_string_equal (asm_fabric_get_name (f2), asm_fabric_get_name (s.f));
  assert_string_equal (asm_fabric_get_workload_name (f2, s.w1),
                       asm_fabric_get_workload_name (s.f, s.w1));
  assert_null (asm_fabric_get_workload_name (f2, 999999));
  again = asm_fabric_save (f2, NULL);
  assert_string_equal (json, again);
  CONSISTENT (f2, s.sim);
  assert_int_equal (PREDICT (f2, s.w1, 2.5), PREDICT (s.f, s.w1, 2.5));
  assert_int_equal (XLATE (f2, s.w1, s.v1 + MIB + 3).device,
                    XLATE (s.f, s.w1, s.v1 + MIB + 3).device);
  /* and it goes on from there */
  g_clear_pointer (&s.f, asm_fabric_unref);
  OK (asm_fabric_migrate_partition (f2, s.p1, s.c, &error));
  CONSISTENT (f2, s.sim);
  asm_fabric_unref (f2);

  /* model only */
  f3 = asm_fabric_restore (json, -1, NULL, NULL);
  assert_non_null (f3);
  assert_null (asm_fabric_get_backend (f3));
  model_only = asm_fabric_save (f3, NULL);
  assert_string_equal (json, model_only);
  OK (asm_fabric_request_partition (f3, s.w2, &req, NULL, NULL, &error));
  OK (asm_fabric_migrate_partition (f3, s.p2, s.a, &error));
  CONSISTENT (f3, NULL);
  asm_fabric_unref (f3);

  /* a save made before the name was kept restores as "restored"; a name
   * that is not a string is refused with its path */
  {
    const char *member = strstr (json, "\n \"name\" : ");
    const char *end = member ? strchr (member + 1, '\n') : NULL;
    g_autofree char *head = NULL, *unnamed = NULL, *bad = NULL;
    g_autoptr (GError) err = NULL;
    assert_non_null (end);
    head = g_strndup (json, (gsize) (member - json));
    unnamed = g_strconcat (head, end, NULL);
    f3 = asm_fabric_restore (unnamed, -1, NULL, &err);
    assert_non_null (f3);
    assert_string_equal (asm_fabric_get_name (f3), "restored");
    asm_fabric_unref (f3);
    bad = g_strconcat (head, "\n \"name\" : 7,", end, NULL);
    assert_null (asm_fabric_restore (bad, -1, NULL, &err));
    assert_true (g_error_matches (err, ASM_ERROR, ASM_ERROR_PARSE));
    assert_non_null (strstr (err->message, "$.name"));
    g_clear_error (&err);
    /* a switch name with a control character, as a hostile save has it */
    {
      const char *sw = strstr (json, "\"switches\" : [");
      const char *q = sw ? strstr (sw, "\"name\" : \"") : NULL;
      g_autofree char *before = NULL, *hostile = NULL;
      assert_non_null (q);
      q += strlen ("\"name\" : \"");
      before = g_strndup (json, (gsize) (q - json));
      hostile = g_strconcat (before, "\\u0001", q, NULL);
      assert_null (asm_fabric_restore (hostile, -1, NULL, &err));
      assert_true (g_error_matches (err, ASM_ERROR, ASM_ERROR_PARSE));
      assert_non_null (strstr (err->message, "$.switches[0].name"));
      assert_non_null (strstr (err->message, "control character"));
    }
  }
  scene_clear (&s);
}

/* Edits a saved document: `path` is member names and array indexes joined
 * by '.', e.g. "switches.1.windows" */
typedef enum { MUT_REMOVE, MUT_SET, MUT_COPY } MutKind;

static JsonNode *
node_at (JsonNode *root, const char *path, JsonNode **out_parent,
         char **out_last)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  JsonNode *node = root, *parent = NULL;
  guint n = g_strv_length (parts);

  for (guint i = 0; i < n; i++)
    {
      parent = node;
      if (JSON_NODE_HOLDS_ARRAY (node))
        node = json_array_get_element (json_node_get_array (node),
                                       (guint) atoi (parts[i]));
      else
        node = json_object_get_member (json_node_get_object (node), parts[i]);
    }
  if (out_parent)
    *out_parent = parent;
  if (out_last)
    *out_last = g_strdup (parts[n - 1]);
  return node;
}

static char *
mutate (const char *json, MutKind kind, const char *path, const char *value)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autofree char *last = NULL;
  JsonNode *root, *parent, *node = NULL;

  g_assert_true (json_parser_load_from_data (parser, json, -1, NULL));
  root = json_parser_get_root (parser);
  node_at (root, path, &parent, &last);
  if (kind == MUT_SET)
    {
      g_autoptr (JsonParser) vp = json_parser_new ();
      g_assert_true (json_parser_load_from_data (vp, value, -1, NULL));
      node = json_node_copy (json_parser_get_root (vp));
    }
  else if (kind == MUT_COPY)
    node = json_node_copy (node_at (root, value, NULL, NULL));
  if (JSON_NODE_HOLDS_ARRAY (parent))
    {
      JsonArray *a = json_node_get_array (parent);
      guint i = (guint) atoi (last);
      g_assert_true (kind != MUT_REMOVE);
      /* replace element i */
      {
        JsonArray *b = json_array_new ();
        for (guint j = 0; j < json_array_get_length (a); j++)
          json_array_add_element (b, j == i ? node
                                            : json_node_copy (
                                                  json_array_get_element (a,
                                                                          j)));
        json_node_take_array (parent, b);
      }
    }
  else if (kind == MUT_REMOVE)
    json_object_remove_member (json_node_get_object (parent), last);
  else
    json_object_set_member (json_node_get_object (parent), last, node);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

static void
test_restore_hostile (void **state)
{
  static const struct {
    MutKind kind;
    const char *path;
    const char *value;
    const char *want;
  } cases[] = {
    { MUT_REMOVE, "granule", NULL, "$.granule: missing" },
    { MUT_SET, "extra", "1", "$.extra: unknown key" },
    { MUT_SET, "version", "\"1\"", "$.version: expected an integer" },
    { MUT_SET, "version", "2", "$.version: 2 is out of range 1..1" },
    { MUT_SET, "format", "\"other\"", "$.format: is not \"asm-fabric\"" },
    { MUT_SET, "next_id", "0", "$.next_id: 0 is out of range" },
    { MUT_SET, "granule", "\"0x300000\"", "$.granule: 0x300000" },
    { MUT_SET, "switches", "{}", "$.switches: expected an array" },
    { MUT_SET, "switches.0", "7", "$.switches[0]: not an object" },
    { MUT_SET, "switches.0.bandwidth", "1000",
      "$.switches[0].bandwidth: expected a \"0x...\" string" },
    { MUT_REMOVE, "switches.1.name", NULL, "$.switches[1].name: missing" },
    { MUT_SET, "switches.0.latency_ns", "\"x\"",
      "$.switches[0].latency_ns: expected an integer" },
    { MUT_SET, "switches.0.pinned", "1",
      "$.switches[0].pinned: expected true or false" },
    { MUT_SET, "switches.0.windows", "[[\"0x10\"]]",
      "$.switches[0].windows: element 0 is not a" },
    { MUT_COPY, "switches.1.windows", "switches.0.windows",
      "$.switches[1].windows[0]: 0x100000000-0x1007fffff overlaps" },
    { MUT_SET, "switches.0.windows", "[[\"0x100100000\", \"0x1008fffff\"]]",
      "$.switches[0].windows[0]" },
    { MUT_SET, "global_reserved", "[[\"0x100000000\", \"0x1001fffff\"]]",
      "$.switches[0].windows[0]" },
    { MUT_COPY, "switches.1.id", "switches.0.id",
      "$.switches[1].id: 1 is used twice" },
    { MUT_SET, "devices.2.colour", "\"red\"",
      "$.devices[2].colour: unknown key" },
    { MUT_SET, "devices.0.kind", "\"gpu\"",
      "$.devices[0].kind: is not endpoint, pf or vf" },
    { MUT_SET, "devices.0.switch", "99",
      "$.devices[0].switch: 99 is out of range" },
    { MUT_COPY, "devices.1.id", "devices.0.id",
      "$.devices[1].id: 4 is used twice" },
    { MUT_COPY, "devices.2.port", "devices.0.port",
      "$.devices[2].port: port 0 of switch 1 is out of range or taken" },
    { MUT_SET, "devices.5.pf", "4",
      "$.devices[5]: VF 0 of PF 4 is not a free VF slot" },
    { MUT_SET, "devices.6.redirect_base", "\"0x100000000\"",
      "$.devices[6].redirect_base: 0x100000000 is not free" },
    { MUT_COPY, "workloads.1.id", "workloads.0.id",
      "$.workloads[1].id: 11 is used twice" },
    { MUT_SET, "workloads.0.level", "\"abc\"",
      "$.workloads[0].level: not a finite number" },
    { MUT_SET, "workloads.0.trend", "\"inf\"",
      "$.workloads[0].trend: not a finite number" },
    { MUT_SET, "partitions.0.size", "\"0xZZ\"",
      "$.partitions[0].size: not a 64-bit hexadecimal number" },
    { MUT_SET, "partitions.0.size", "\"4096\"",
      "$.partitions[0].size: expected a \"0x...\" string" },
    { MUT_SET, "partitions.0.size", "\"0x\"",
      "$.partitions[0].size: expected a \"0x...\" string" },
    { MUT_SET, "partitions.0.virt_first", "\"0x10000000000000000\"",
      "$.partitions[0].virt_first: not a 64-bit hexadecimal number" },
    { MUT_SET, "partitions.0.phys_first", "\"0x0\"",
      "$.partitions[0]: its physical or virtual range overlaps another or "
      "lies outside its switch's windows" },
    { MUT_COPY, "partitions.2.virt_first", "partitions.0.virt_first",
      "$.partitions[2]: its physical or virtual range" },
    { MUT_COPY, "partitions.1.id", "partitions.0.id",
      "$.partitions[1]: id 13 is used twice" },
    { MUT_SET, "partitions.0.switch", "4",
      "$.partitions[0]: id 13 is used twice, or its switch or workload "
      "does not exist" },
    { MUT_SET, "partitions.0.devices", "[0]",
      "$.partitions[0].devices: element 0 is not an id" },
    { MUT_SET, "devices.0.partition", "0", "$: fabric invariant F4 broken" },
  };
  Scene s;
  g_autofree char *json = NULL;
  g_autoptr (GString) problems = g_string_new (NULL);

  populate (&s);
  json = asm_fabric_save (s.f, NULL);
  /* the indexes above name these objects */
  {
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonNode *root;
    assert_true (json_parser_load_from_data (parser, json, -1, NULL));
    root = json_parser_get_root (parser);
    assert_string_equal (json_node_get_string (
                             node_at (root, "devices.5.name", NULL, NULL)),
                         "pf3-vf0");
    assert_int_equal (json_node_get_int (
                          node_at (root, "devices.6.redirect_switch", NULL,
                                   NULL)), s.b);
    assert_int_equal (json_node_get_int (
                          node_at (root, "partitions.2.workload", NULL,
                                   NULL)), s.w1);
  }
  assert_int_equal (s.e1, 4);
  assert_int_equal (s.p1, 13);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *bad = mutate (json, cases[i].kind, cases[i].path,
                                     cases[i].value);
      g_autoptr (GError) error = NULL;
      AsmFabric *f2 = asm_fabric_restore (bad, -1, s.sim, &error);

      if (f2 != NULL)
        {
          g_string_append_printf (problems, "case %u (%s): restored\n", i,
                                  cases[i].path);
          asm_fabric_unref (f2);
        }
      else if (error == NULL || error->domain != ASM_ERROR ||
               error->code != ASM_ERROR_PARSE)
        g_string_append_printf (problems, "case %u (%s): %s\n", i,
                                cases[i].path,
                                error ? error->message : "no error");
      else if (strstr (error->message, cases[i].want) == NULL)
        g_string_append_printf (problems, "case %u (%s): message '%s' lacks "
                                "'%s'\n", i, cases[i].path, error->message,
                                cases[i].want);
    }
  {
    static const struct {
      const char *text;
      const char *want;
    } raw[] = {
      { "", "$: not an object" },
      { "{", "not JSON" },
      { "[]", "$: not an object" },
      { "\"asm-fabric\"", "$: not an object" },
      { "{}", "$.format: missing" },
    };
    for (guint i = 0; i < G_N_ELEMENTS (raw); i++)
      {
        g_autoptr (GError) error = NULL;
        AsmFabric *f2 = asm_fabric_restore (raw[i].text, -1, NULL, &error);
        if (f2 != NULL || error == NULL || error->code != ASM_ERROR_PARSE ||
            strstr (error->message, raw[i].want) == NULL)
          g_string_append_printf (problems, "raw '%s': %s\n", raw[i].text,
                                  error ? error->message : "restored");
        if (f2 != NULL)
          asm_fabric_unref (f2);
      }
    /* a truncated save */
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *cut = g_strndup (json, strlen (json) / 2);
      assert_null (asm_fabric_restore (cut, -1, NULL, &error));
      assert_int_equal (error->code, ASM_ERROR_PARSE);
    }
  }
  /* the unmodified document still restores */
  {
    AsmFabric *f2 = asm_fabric_restore (json, -1, s.sim, NULL);
    assert_non_null (f2);
    asm_fabric_unref (f2);
  }
  print_message ("# restore refused %u hostile documents\n",
                 (guint) G_N_ELEMENTS (cases) + 6);
  scene_clear (&s);
  REPORT (problems);
}
/* ---------------------------------------------------------------------- */
/* Translation stability                                                  */
/* ---------------------------------------------------------------------- */

typedef struct {
  AsmId w;
  guint64 virt;
  AsmId partition;
  AsmId device;     /* the device it reaches; follows VF transfers */
  guint64 dev_off;
} Sample;

static void
add_samples (AsmFabric *f, AsmId p, GArray *samples)
{
  AsmPartitionInfo pi = PINFO (f, p);
  g_autoptr (GArray) devs = asm_fabric_list (f, ASM_FABRIC_DEVICES);
  GArray *virts = g_array_new (FALSE, FALSE, sizeof (guint64));
  guint64 v;

  v = pi.virt_first;
  g_array_append_val (virts, v);
  v = pi.virt_first + pi.size - 1;
  g_array_append_val (virts, v);
  for (guint i = 0; i < devs->len; i++)
    {
      AsmDeviceInfo di = DINFO (f, g_array_index (devs, AsmId, i));
      if (di.partition != p)
        continue;
      v = pi.virt_first + di.partition_offset;
      g_array_append_val (virts, v);
      v += di.bar_size / 2 + 1;
      g_array_append_val (virts, v);
      v = pi.virt_first + di.partition_offset + di.bar_size - 1;
      g_array_append_val (virts, v);
    }
  for (guint i = 0; i < virts->len; i++)
    {
      AsmTranslation t;
      Sample s;
      v = g_array_index (virts, guint64, i);
      t = XLATE (f, pi.workload, v);
      s = (Sample) { pi.workload, v, p, t.device, t.device_offset };
      g_array_append_val (samples, s);
    }
  g_array_unref (virts);
}

static void
check_samples (AsmFabric *f, GArray *samples, const char *when)
{
  for (guint i = 0; i < samples->len; i++)
    {
      const Sample *s = &g_array_index (samples, Sample, i);
      AsmTranslation t = XLATE (f, s->w, s->virt);
      AsmPartitionInfo pi = PINFO (f, s->partition);

      if (t.partition != s->partition || t.device != s->device ||
          t.device_offset != s->dev_off || t.held)
        fail_msg ("%s: " X " of workload %u reaches device %u +" X
                  " (partition %u, held %d), expected device %u +" X
                  " (partition %u)", when, s->virt, s->w, t.device,
                  t.device_offset, t.partition, t.held, s->device,
                  s->dev_off, s->partition);
      if (t.device != ASM_ID_NONE && xlat_has (f, t.switch_id, t.device))
        {
          /* a transferred VF: routed by its own entry, on its PF's switch */
          if (DINFO (f, t.device).kind != ASM_DEVICE_VF ||
              DINFO (f, t.device).switch_id != t.switch_id)
            fail_msg ("%s: " X " routed by entry %u of switch %u", when,
                      s->virt, t.device, t.switch_id);
        }
      else if (t.switch_id != pi.switch_id ||
               t.physical != pi.phys_first + (s->virt - pi.virt_first))
        fail_msg ("%s: " X " -> switch %u " X ", partition on %u at " X, when,
                  s->virt, t.switch_id, t.physical, pi.switch_id,
                  pi.phys_first);
      ROUTED (f, s->w, s->virt, &t);
    }
}

static void
test_translation_stability (void **state)
{
  const guint n_seeds = 6, n_actions = 150;
  guint n_migrations = 0, n_transfers = 0, n_grows = 0, n_refused = 0;
  guint n_checked = 0, n_probes = 0;

  for (guint seed = 1; seed <= n_seeds; seed++)
    {
      g_autoptr (GRand) rng = g_rand_new_with_seed (seed);
      g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
      g_autoptr (AsmFabric) f = FABRIC_NEW (sim, 1024 * MIB);
      g_autoptr (GArray) sw = g_array_new (FALSE, FALSE, sizeof (AsmId));
      g_autoptr (GArray) eps = g_array_new (FALSE, FALSE, sizeof (AsmId));
      g_autoptr (GArray) pfs = g_array_new (FALSE, FALSE, sizeof (AsmId));
      g_autoptr (GArray) wls = g_array_new (FALSE, FALSE, sizeof (AsmId));
      g_autoptr (GArray) parts = g_array_new (FALSE, FALSE, sizeof (AsmId));
      g_autoptr (GArray) samples = g_array_new (FALSE, FALSE, sizeof (Sample));
      DrvLog drv;

      drvlog_init (&drv);
      asm_fabric_set_driver_funcs (f, &drv_funcs, &drv);
      g_assert_true (asm_fabric_set_window_granule (f, 4 * MIB, NULL));
      for (guint i = 0; i < 5; i++)
        {
          g_autofree char *name = g_strdup_printf ("s%u", i);
          AsmId id = SWITCH (f, name, 100000, g_rand_int_range (rng, 0, 1000),
                             32, 12, i == 4);
          g_array_append_val (sw, id);
          if (i == 4)
            OK (asm_fabric_add_window (f, id, BASE + 896 * MIB,
                                       BASE + 1024 * MIB - 1, &error));
          for (guint j = 0; j < 3; j++)
            {
              g_autofree char *dn = g_strdup_printf ("e%u.%u", i, j);
              AsmId d = DEVICE (f, dn, ASM_DEVICE_ENDPOINT,
                                G_GUINT64_CONSTANT (1)
                                    << g_rand_int_range (rng, 14, 22),
                                id, j);
              g_array_append_val (eps, d);
            }
          for (guint j = 0; j < 2; j++)
            {
              g_autofree char *dn = g_strdup_printf ("pf%u.%u", i, j);
              AsmId d = DEVICE (f, dn, ASM_DEVICE_PF, MIB, id, 3 + j);
              OK (asm_fabric_set_sriov (f, d, 8, j ? 64 * KIB : 128 * KIB,
                                        &error));
              for (guint k = 0; k < 3; k++)
                VF (f, d);
              g_array_append_val (pfs, d);
            }
        }
      for (guint i = 0; i < 3; i++)
        {
          g_autofree char *name = g_strdup_printf ("w%u", i);
          AsmId id = WORKLOAD (f, name);
          g_array_append_val (wls, id);
        }
      for (guint i = 0; i < 8; i++)
        {
          AsmId w = g_array_index (wls, AsmId, g_rand_int_range (rng, 0, 3));
          AsmId pref = g_rand_boolean (rng)
                           ? g_array_index (sw, AsmId,
                                            g_rand_int_range (rng, 0, 5))
                           : ASM_ID_NONE;
          AsmId p = REQUEST (f, w, GRAN * g_rand_int_range (rng, 1, 9), pref,
                             g_rand_int_range (rng, 0, 2000), NULL);
          AsmPartitionInfo pi = PINFO (f, p);
          g_autoptr (GArray) devs = asm_fabric_list (f, ASM_FABRIC_DEVICES);

          g_array_append_val (parts, p);
          /* endpoints from anywhere (they move), VFs from this switch */
          for (guint k = 0; k < 2; k++)
            {
              AsmId d = g_array_index (eps, AsmId,
                                       g_rand_int_range (rng, 0, eps->len));
              /* a full partition refuses it: that is fine here */
              if (DINFO (f, d).partition == ASM_ID_NONE &&
                  !asm_fabric_map_device (f, p, d, NULL, NULL))
                continue;
            }
          for (guint k = 0, n = 0; k < devs->len && n < 2; k++)
            {
              AsmDeviceInfo di = DINFO (f, g_array_index (devs, AsmId, k));
              if (di.kind == ASM_DEVICE_VF && di.switch_id == pi.switch_id &&
                  di.partition == ASM_ID_NONE && g_rand_boolean (rng) &&
                  asm_fabric_map_device (f, p, di.id, NULL, NULL))
                n++;
            }
          add_samples (f, p, samples);
        }
      CONSISTENT (f, sim);
      check_samples (f, samples, "after setup");

      for (guint a = 0; a < n_actions; a++)
        {
          g_autofree char *before = asm_fabric_save (f, NULL);
          g_autofree char *when = NULL;
          GError *err = NULL;
          guint r = g_rand_int_range (rng, 0, 10);
          AsmId p = g_array_index (parts, AsmId,
                                   g_rand_int_range (rng, 0, parts->len));
          AsmId vf = ASM_ID_NONE, nvf = ASM_ID_NONE;
          const Sample *probe = NULL;
          gboolean ok;

          if (r >= 5 && r <= 7)
            {
              /* transfer a mapped VF to another PF with its BAR size */
              guint start = g_rand_int_range (rng, 0, samples->len);
              for (guint i = 0; i < samples->len && vf == ASM_ID_NONE; i++)
                {
                  const Sample *s = &g_array_index (
                      samples, Sample, (start + i) % samples->len);
                  if (s->device != ASM_ID_NONE &&
                      DINFO (f, s->device).kind == ASM_DEVICE_VF)
                    vf = s->device, probe = s;
                }
              if (vf == ASM_ID_NONE)
                r = 0;
            }
          else
            for (guint i = 0; i < samples->len && probe == NULL; i++)
              if (g_array_index (samples, Sample, i).partition == p &&
                  g_array_index (samples, Sample, i).device != ASM_ID_NONE)
                probe = &g_array_index (samples, Sample, i);
          drvlog_reset (&drv);
          drv.n_probed_hold = drv.n_probed_moved = 0;
          if (probe != NULL)
            {
              drv.probe_on = TRUE;
              drv.probe_workload = probe->w;
              drv.probe_virt = probe->virt;
              drv.probe_before = XLATE (f, probe->w, probe->virt);
            }
          if (r < 5)
            {
              AsmId to = g_rand_boolean (rng)
                             ? ASM_ID_NONE
                             : g_array_index (sw, AsmId,
                                              g_rand_int_range (rng, 0, 5));
              when = g_strdup_printf ("seed %u action %u: migrate %u to %u",
                                      seed, a, p, to);
              ok = asm_fabric_migrate_partition (f, p, to, &err);
              n_migrations += ok;
            }
          else if (r <= 7)
            {
              AsmDeviceInfo di = DINFO (f, vf);
              AsmId to = ASM_ID_NONE;
              guint start = g_rand_int_range (rng, 0, pfs->len);
              for (guint i = 0; i < pfs->len && to == ASM_ID_NONE; i++)
                {
                  AsmId pf = g_array_index (pfs, AsmId,
                                            (start + i) % pfs->len);
                  if (pf != di.pf && DINFO (f, pf).vf_bar_size == di.bar_size)
                    to = pf;
                }
              when = g_strdup_printf ("seed %u action %u: transfer VF %u to "
                                      "PF %u", seed, a, vf, to);
              ok = asm_fabric_transfer_vf (f, vf, to, &nvf, &err);
              if (ok)
                {
                  n_transfers++;
                  for (guint i = 0; i < samples->len; i++)
                    if (g_array_index (samples, Sample, i).device == vf)
                      g_array_index (samples, Sample, i).device = nvf;
                  assert_int_equal (DINFO (f, nvf).pf, to);
                }
            }
          else
            {
              guint64 size = PINFO (f, p).size
                             + GRAN * g_rand_int_range (rng, 1, 5);
              when = g_strdup_printf ("seed %u action %u: grow %u to " X,
                                      seed, a, p, size);
              ok = asm_fabric_grow_partition (f, p, size, &err);
              n_grows += ok;
            }
          drv.probe_on = FALSE;
          if (!ok)
            {
              g_autofree char *now = asm_fabric_save (f, NULL);
              if (err->code != ASM_ERROR_INVALID &&
                  err->code != ASM_ERROR_NO_SPACE)
                fail_msg ("%s: %s", when, err->message);
              if (strcmp (now, before) != 0)
                fail_msg ("%s: refused (%s) but changed the fabric", when,
                          err->message);
              n_refused++;
              g_clear_error (&err);
            }
          if (drv.problems->len > 0)
            fail_msg ("%s: %s", when, drv.problems->str);
          if (ok && drv.holds != (gint) drv.n_probed_hold)
            fail_msg ("%s: %d holds, %u probed", when, drv.holds,
                      drv.n_probed_hold);
          n_probes += drv.n_probed_hold;
          CONSISTENT (f, sim);
          REACHABLE (f);
          check_samples (f, samples, when);
          n_checked += samples->len;
        }
      drvlog_clear (&drv);
    }
  print_message ("# translation stability: %u migrations, %u VF transfers, "
                 "%u grows, %u refused; %u translations checked, %u "
                 "translated inside a hold\n", n_migrations, n_transfers,
                 n_grows, n_refused, n_checked, n_probes);
  assert_true (n_migrations > 50);
  assert_true (n_transfers > 20);
}

static void
test_journal_errors (void **state)
{
  g_autofree char *journal = journal_path ("errors");
  g_autofree char *damaged = journal_path ("damaged");
  g_autofree char *saved = NULL;
  g_autofree char *after = NULL;
  g_autofree char *text = NULL;
  g_autofree char *torn = NULL;
  g_autofree char *bad = NULL;
  Scene s;
  AsmFabric *f2;

  scene_build (&s, journal);
  FAILS (asm_fabric_set_journal (s.f, "/nonexistent-dir/journal", &error),
         FAILED, "journal '/nonexistent-dir/journal': cannot open");
  /* a journal that cannot take its header is refused at once */
  FAILS (asm_fabric_set_journal (s.f, "/dev/full", &error), FAILED,
         "cannot write its header");
  saved = asm_fabric_save (s.f, NULL);
  REQUEST (s.f, s.w2, 2 * MIB, s.b, 0, NULL);
  after = asm_fabric_save (s.f, NULL);
  /* journaling stops; the file is complete */
  OK (asm_fabric_set_journal (s.f, NULL, &error));
  REQUEST (s.f, s.w2, 2 * MIB, s.b, 0, NULL);
  g_assert_true (g_file_get_contents (journal, &text, NULL, NULL));

  /* a torn last record is what a crash leaves: dropped */
  torn = g_strconcat (text, "0000002a 1234abcd {\"seq\": 999, \"type\": \"beg",
                      NULL);
  g_assert_true (g_file_set_contents (damaged, torn, -1, NULL));
  f2 = asm_fabric_restore (saved, -1, NULL, NULL);
  assert_non_null (f2);
  OK (asm_fabric_recover (f2, damaged, &error));
  {
    g_autofree char *got = asm_fabric_save (f2, NULL);
    assert_true (same_but_seq (got, after));
  }
  asm_fabric_unref (f2);
  /* appending to it cuts the torn record off and goes on after the last
   * sequence number: a later recovery reads every record */
  f2 = asm_fabric_restore (after, -1, NULL, NULL);
  OK (asm_fabric_set_journal (f2, damaged, &error));
  REQUEST (f2, s.w2, 2 * MIB, s.b, 0, NULL);
  {
    g_autofree char *want = asm_fabric_save (f2, NULL);
    g_autofree char *got = NULL;
    AsmFabric *f3 = asm_fabric_restore (saved, -1, NULL, NULL);
    OK (asm_fabric_recover (f3, damaged, &error));
    got = asm_fabric_save (f3, NULL);
    assert_true (same_but_seq (got, want));
    asm_fabric_unref (f3);
  }
  asm_fabric_unref (f2);

  /* damage before the end is an error */
  bad = g_strconcat ("not json\n", text, NULL);
  g_assert_true (g_file_set_contents (damaged, bad, -1, NULL));
  f2 = asm_fabric_restore (saved, -1, NULL, NULL);
  FAILS (asm_fabric_recover (f2, damaged, &error), PARSE,
         "is damaged at byte 0");
  asm_fabric_unref (f2);
  /* a flipped byte inside a record that other records follow */
  g_free (bad);
  bad = g_strdup (text);
  bad[strlen (bad) / 2] ^= 0x20;
  g_assert_true (g_file_set_contents (damaged, bad, -1, NULL));
  f2 = asm_fabric_restore (saved, -1, NULL, NULL);
  FAILS (asm_fabric_recover (f2, damaged, &error), PARSE, "is damaged");
  asm_fabric_unref (f2);
  /* a journal of version 1 (bare JSON lines) is refused by name */
  g_assert_true (g_file_set_contents (damaged, "{\"seq\": 1, \"type\": "
                                      "\"begin\"}\n", -1, NULL));
  f2 = asm_fabric_restore (saved, -1, NULL, NULL);
  FAILS (asm_fabric_recover (f2, damaged, &error), PARSE,
         "version 1 journal");
  asm_fabric_unref (f2);
  f2 = asm_fabric_restore (saved, -1, NULL, NULL);
  FAILS (asm_fabric_recover (f2, "/nonexistent-dir/journal", &error), FAILED,
         "cannot read journal");
  asm_fabric_unref (f2);
  unlink (journal);
  unlink (damaged);
  scene_clear (&s);
}

/* A journal that cannot take a record fails the operation, before its
 * first hardware step when it is the first record, and the fabric stays as
 * it was; what was committed stays recoverable.  The file is kept from
 * growing with RLIMIT_FSIZE (writes past it fail with EFBIG), at every
 * size from the one it has up to the one the operation needs. */
static void
test_journal_write_errors (void **state)
{
  g_autofree char *journal = journal_path ("full");
  g_autofree char *saved = NULL;
  struct rlimit old_limit;
  guint n_failed = 0, n_before_hardware = 0;
  Scene s;

  scene_build (&s, journal);
  saved = asm_fabric_save (s.f, NULL);
  g_assert_true (getrlimit (RLIMIT_FSIZE, &old_limit) == 0);
  signal (SIGXFSZ, SIG_IGN);
  quiet_undo_warnings = TRUE; /* an "undone" record may not fit either */
  for (guint extra = 0;; extra += 16)
    {
      struct stat st;
      struct rlimit lim = old_limit;
      g_autofree char *before = asm_fabric_save (s.f, NULL);
      g_autofree char *now = NULL;
      guint64 calls0 = asm_sim_get_n_calls (s.sim);
      g_autoptr (GError) err = NULL;
      gboolean ok;

      g_assert_true (stat (journal, &st) == 0);
      lim.rlim_cur = (rlim_t) st.st_size + extra;
      g_assert_true (setrlimit (RLIMIT_FSIZE, &lim) == 0);
      ok = op_migrate (&s, &err);
      g_assert_true (setrlimit (RLIMIT_FSIZE, &old_limit) == 0);
      if (ok)
        break;
      n_failed++;
      assert_int_equal (err->code, ASM_ERROR_FAILED);
      assert_non_null (strstr (err->message, "journal"));
      if (asm_sim_get_n_calls (s.sim) == calls0)
        n_before_hardware++;
      /* the model is as it was (the journal position may have moved:
       * records were written before the one that failed) */
      now = asm_fabric_save (s.f, NULL);
      assert_true (same_but_seq (now, before));
      CONSISTENT (s.f, s.sim);
    }
  assert_true (n_failed > 2);
  assert_true (n_before_hardware > 0);
  /* nothing half-written stayed behind: recovery reads every record and
   * reaches the state after the migration */
  {
    g_autofree char *want = asm_fabric_save (s.f, NULL);
    g_autofree char *got = NULL;
    AsmFabric *f2 = asm_fabric_restore (saved, -1, NULL, NULL);
    OK (asm_fabric_recover (f2, journal, &error));
    got = asm_fabric_save (f2, NULL);
    assert_true (same_but_seq (got, want));
    asm_fabric_unref (f2);
  }
  print_message ("# a full journal: %u migrations refused (%u before any "
                 "hardware step), each leaving the fabric as it was\n",
                 n_failed, n_before_hardware);
  quiet_undo_warnings = FALSE;
  signal (SIGXFSZ, SIG_DFL);
  unlink (journal);
  scene_clear (&s);
}

/* A window change records the window that changed, not the switch's whole
 * list: with 300 windows a record stays under 2 KiB (it was ~15 KiB). */
static void
test_journal_record_size (void **state)
{
  g_autofree char *journal = journal_path ("size");
  g_autoptr (AsmFabric) f = FABRIC_NEW (NULL, 2048 * MIB);
  struct stat st0, st1;
  AsmId c = SWITCH (f, "C", 1000, 0, 4, 2, TRUE);

  for (guint i = 0; i < 300; i++)
    OK (asm_fabric_add_window (f, c, BASE + (guint64) i * 2 * GRAN,
                               BASE + (guint64) i * 2 * GRAN + GRAN - 1,
                               &error));
  unlink (journal);
  OK (asm_fabric_set_journal (f, journal, &error));
  g_assert_true (stat (journal, &st0) == 0);
  OK (asm_fabric_add_window (f, c, BASE + 300 * 2 * GRAN,
                             BASE + 300 * 2 * GRAN + GRAN - 1, &error));
  g_assert_true (stat (journal, &st1) == 0);
  print_message ("# a window change on a switch of 300 windows: %" G_GINT64_FORMAT
                 " bytes of journal\n", (gint64) (st1.st_size - st0.st_size));
  assert_true (st1.st_size - st0.st_size < 2048);
  unlink (journal);
}

/* A checkpoint writes the snapshot and cuts the journal back: restore +
 * recover from the pair gives the fabric. */
static void
test_checkpoint (void **state)
{
  g_autofree char *journal = journal_path ("ckpt");
  g_autofree char *snapshot = journal_path ("ckpt-snapshot");
  struct stat before, after;
  Scene s;

  scene_build (&s, journal);
  for (guint i = 0; i < 4; i++)
    OK (asm_fabric_migrate_partition (s.f, s.p2, i % 2 ? s.a : s.b, &error));
  g_assert_true (stat (journal, &before) == 0);
  OK (asm_fabric_checkpoint (s.f, snapshot, &error));
  g_assert_true (stat (journal, &after) == 0);
  assert_true (after.st_size < before.st_size);
  REQUEST (s.f, s.w2, 2 * MIB, s.b, 0, NULL);
  {
    g_autofree char *want = asm_fabric_save (s.f, NULL);
    g_autofree char *snap_text = NULL;
    g_autofree char *got = NULL;
    AsmFabric *f2;
    g_assert_true (g_file_get_contents (snapshot, &snap_text, NULL, NULL));
    f2 = asm_fabric_restore (snap_text, -1, s.sim, NULL);
    OK (asm_fabric_recover (f2, journal, &error));
    got = asm_fabric_save (f2, NULL);
    assert_true (same_but_seq (got, want));
    asm_fabric_unref (f2);
  }
  {
    g_autoptr (AsmFabric) bare = FABRIC_NEW (NULL, GLOBAL_SIZE);
    FAILS (asm_fabric_checkpoint (bare, snapshot, &error), FAILED,
           "no journal");
  }
  unlink (journal);
  unlink (snapshot);
  scene_clear (&s);
}

/* JSON nested deeper than any fabric document is refused before it is
 * parsed (json-glib's parser recurses). */
static void
test_restore_deep (void **state)
{
  GString *deep = g_string_new (NULL);

  for (guint i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  FAILS (asm_fabric_restore (deep->str, -1, NULL, &error) != NULL, PARSE,
         "nested deeper than");
  g_string_free (deep, TRUE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_new_errors),
    cmocka_unit_test (test_journal_write_errors),
    cmocka_unit_test (test_journal_record_size),
    cmocka_unit_test (test_checkpoint),
    cmocka_unit_test (test_restore_deep),
    cmocka_unit_test (test_add_switch),
    cmocka_unit_test (test_add_window),
    cmocka_unit_test (test_add_device),
    cmocka_unit_test (test_sriov),
    cmocka_unit_test (test_workloads),
    cmocka_unit_test (test_request_partition),
    cmocka_unit_test (test_placement_score),
    cmocka_unit_test (test_no_switch_qualifies),
    cmocka_unit_test (test_map_device),
    cmocka_unit_test (test_translate),
    cmocka_unit_test (test_grow),
    cmocka_unit_test (test_migrate),
    cmocka_unit_test (test_migrate_pf_with_outside_vf),
    cmocka_unit_test (test_release),
    cmocka_unit_test (test_transfer_vf),
    cmocka_unit_test (test_observers),
    cmocka_unit_test (test_driver_order),
    cmocka_unit_test (test_profiler_errors),
    cmocka_unit_test (test_profiler_accuracy),
    cmocka_unit_test (test_rebalance),
    cmocka_unit_test (test_save_restore),
    cmocka_unit_test (test_restore_hostile),
    cmocka_unit_test (test_translation_stability),
    cmocka_unit_test (test_fault_matrix),
    cmocka_unit_test (test_fault_kinds),
    cmocka_unit_test (test_crash_recovery),
    cmocka_unit_test (test_journal_replay),
    cmocka_unit_test (test_journal_errors),
  };

  g_log_set_handler ("asm", G_LOG_LEVEL_WARNING | G_LOG_FLAG_FATAL |
                     G_LOG_FLAG_RECURSION, log_handler, NULL);
  return cmocka_run_group_tests_name ("fabric", tests, NULL, NULL);
}
