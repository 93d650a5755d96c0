/* fabric-test-common.c: what the fabric test programs share
 *
 * The helpers fabric-test-common.h declares; the fabric's unit-test
 * programs link them.  A helper that takes the caller's file and line
 * fails there, through FAIL_AT (asm-test.h), so cmocka points at the test.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <unistd.h>

#include "fabric-test-common.h"

/* ---------------------------------------------------------------------- */
/* Failing with a list of problems                                        */
/* ---------------------------------------------------------------------- */

/* Fails with every line of `problems`, when there is any. */
void
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

/* ---------------------------------------------------------------------- */
/* Consistency and snapshots                                              */
/* ---------------------------------------------------------------------- */

void
consistent_at (AsmFabric *f, AsmBackend *sim, const char *file, int line)
{
  g_autoptr (GError) error = NULL;

  if (!asm_fabric_check (f, &error))
    FAIL_AT (file, line, "asm_fabric_check: %s", error->message);
  if (sim != NULL && !asm_sim_verify (sim, f, &error))
    FAIL_AT (file, line, "asm_sim_verify: %s", error->message);
}

void
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

void
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
char *
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

void
unchanged_at (AsmFabric *f, const Snap *s, const char *file, int line)
{
  g_autofree char *why = snap_diff (f, s);

  if (why != NULL)
    FAIL_AT (file, line, "%s", why);
}

/* The saved JSON without its "journal_seq" line: the journal position is
 * the only thing a failed (journaled) operation may advance. */
static char *
strip_seq (const char *json)
{
  g_autoptr (GRegex) re = g_regex_new ("^ *\"journal_seq\" : \"0x[0-9a-f]+\","
                                       "\n", G_REGEX_MULTILINE, 0, NULL);
  return g_regex_replace_literal (re, json, -1, 0, "", 0, NULL);
}

gboolean
same_but_seq (const char *a, const char *b)
{
  g_autofree char *x = strip_seq (a);
  g_autofree char *y = strip_seq (b);
  return strcmp (x, y) == 0;
}

/* ---------------------------------------------------------------------- */
/* Building                                                               */
/* ---------------------------------------------------------------------- */

AsmFabric *
fabric_new_at (AsmBackend *sim, guint64 size, const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  AsmFabric *f = asm_fabric_new ("test", BASE, BASE + size - 1, GRAN, sim,
                                 &error);
  if (f == NULL)
    FAIL_AT (file, line, "asm_fabric_new: %s", error->message);
  return f;
}

AsmId
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

AsmId
device_at (AsmFabric *f, const char *name, AsmDeviceKind kind, guint64 bar,
           AsmId sw, guint32 port, const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  AsmId id = ASM_ID_NONE;

  if (!asm_fabric_add_device (f, name, kind, bar, sw, port, &id, &error))
    FAIL_AT (file, line, "add_device '%s': %s", name, error->message);
  return id;
}

AsmId
workload_at (AsmFabric *f, const char *name, const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  AsmId id = ASM_ID_NONE;

  if (!asm_fabric_add_workload (f, name, &id, &error))
    FAIL_AT (file, line, "add_workload '%s': %s", name, error->message);
  return id;
}

AsmId
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

guint64
map_at (AsmFabric *f, AsmId p, AsmId d, const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  guint64 off = G_MAXUINT64;

  if (!asm_fabric_map_device (f, p, d, &off, &error))
    FAIL_AT (file, line, "map_device %u into %u: %s", d, p, error->message);
  return off;
}

AsmId
vf_at (AsmFabric *f, AsmId pf, const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  AsmId id = ASM_ID_NONE;

  if (!asm_fabric_create_vf (f, pf, &id, &error))
    FAIL_AT (file, line, "create_vf of %u: %s", pf, error->message);
  return id;
}

AsmPartitionInfo
pinfo_at (AsmFabric *f, AsmId p, const char *file, int line)
{
  AsmPartitionInfo info = { 0 };
  if (!asm_fabric_get_partition_info (f, p, &info))
    FAIL_AT (file, line, "partition %u does not exist", p);
  return info;
}

AsmDeviceInfo
dinfo_at (AsmFabric *f, AsmId d, const char *file, int line)
{
  AsmDeviceInfo info = { 0 };
  if (!asm_fabric_get_device_info (f, d, &info))
    FAIL_AT (file, line, "device %u does not exist", d);
  return info;
}

AsmSwitchInfo
sinfo_at (AsmFabric *f, AsmId s, const char *file, int line)
{
  AsmSwitchInfo info = { 0 };
  if (!asm_fabric_get_switch_info (f, s, &info))
    FAIL_AT (file, line, "switch %u does not exist", s);
  return info;
}

AsmTranslation
xlate_at (AsmFabric *f, AsmId w, guint64 virt, const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  AsmTranslation t = { 0 };

  if (!asm_fabric_translate (f, w, virt, &t, &error))
    FAIL_AT (file, line, "translate " X " of workload %u: %s", virt, w,
             error->message);
  return t;
}

/* ---------------------------------------------------------------------- */
/* Tables, translations, predictions                                      */
/* ---------------------------------------------------------------------- */

void
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

gboolean
xlat_has (AsmFabric *f, AsmId sw, AsmId key)
{
  g_autoptr (GArray) t = asm_fabric_get_xlat_table (f, sw);
  for (guint i = 0; i < t->len; i++)
    if (g_array_index (t, AsmXlatEntry, i).key == key)
      return TRUE;
  return FALSE;
}

/* the translation is what the hardware table routes */
void
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

void
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

guint64
predict_at (AsmFabric *f, AsmId w, gdouble h, const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  guint64 v = 0;

  if (!asm_fabric_predict (f, w, h, &v, &error))
    FAIL_AT (file, line, "predict: %s", error->message);
  return v;
}

/* ---------------------------------------------------------------------- */
/* Observers and drivers                                                  */
/* ---------------------------------------------------------------------- */

/* An observer that records events and checks they come after the change
 * is published (it calls back into the fabric, which would deadlock if a
 * lock were held). */
void
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

void
evlog_init (EvLog *log)
{
  log->events = g_array_new (FALSE, FALSE, sizeof (Ev));
  log->problems = g_string_new (NULL);
}

void
evlog_clear (EvLog *log)
{
  g_array_unref (log->events);
  g_string_free (log->problems, TRUE);
}

void
evlog_reset (EvLog *log)
{
  g_array_set_size (log->events, 0);
  g_string_truncate (log->problems, 0);
}

guint
evlog_count (EvLog *log, AsmFabricEventKind kind)
{
  guint n = 0;
  for (guint i = 0; i < log->events->len; i++)
    n += g_array_index (log->events, Ev, i).kind == kind;
  return n;
}

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

const AsmDriverFuncs drv_funcs = { drv_hold, drv_resume, drv_moved };

void
drvlog_init (DrvLog *d)
{
  memset (d, 0, sizeof *d);
  d->log = g_string_new (NULL);
  d->problems = g_string_new (NULL);
}

void
drvlog_reset (DrvLog *d)
{
  g_string_truncate (d->log, 0);
  g_string_truncate (d->problems, 0);
  d->holds = d->resumes = 0;
}

void
drvlog_clear (DrvLog *d)
{
  g_string_free (d->log, TRUE);
  g_string_free (d->problems, TRUE);
}

/* ---------------------------------------------------------------------- */
/* The scene                                                              */
/* ---------------------------------------------------------------------- */

void
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

void
scene_clear (Scene *s)
{
  g_clear_pointer (&s->f, asm_fabric_unref);
  g_clear_pointer (&s->sim, asm_backend_unref);
}

void
prep_transfer (Scene *s)
{
  OK (asm_fabric_transfer_vf (s->f, s->vf1, s->pf2, &s->nvf, &error));
}

/* ---------------------------------------------------------------------- */
/* Journals                                                               */
/* ---------------------------------------------------------------------- */

char *
journal_path (const char *tag)
{
  return g_strdup_printf ("%s/asm-test-fabric-%d-%s.journal", g_get_tmp_dir (),
                          (int) getpid (), tag);
}
