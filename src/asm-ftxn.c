/* asm-ftxn.c: the fabric's transactions: steps, backend calls, journal
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * Every change of a fabric is one transaction, run by asm_ftxn_run():
 *
 *  1. plan: under `write_lock`, the operation's planner (asm-fplan.c)
 *     works on a private O(1) clone of the published model and records
 *     the hardware steps (Step) that realise the change, in the order
 *     migration and function transfer need, with the events and notes
 *     for drivers;
 *  2. apply: txn_apply() runs the steps through the backend's ops table,
 *     writing each to the journal first.  If a step fails, the steps
 *     already applied are undone in reverse (every undo is attempted; if
 *     one fails, the fabric is marked broken and refuses changes until
 *     asm_fabric_recover()), the clone is thrown away, and the published
 *     model has never changed: the call leaves the fabric as it was.  The
 *     one exception is a journal store that is fenced (ASM_ERROR_FENCED:
 *     another writer took the journal over, and with it the hardware):
 *     then nothing is undone, since the new writer's recovery undoes the
 *     steps from the records, and the fabric is marked fenced and refuses
 *     every change from then on;
 *  3. publish: the clone becomes the published model (a pointer swap
 *     under `current_lock`, bumping `generation`), the drivers are told
 *     (moved, resume), and the observers get the events once every lock
 *     is released.
 *
 * A step is one backend call with an inverse (asm_ftxn_undo_step): windows
 * commit (inverse: the old windows), a translation entry set or removed
 * (inverse: the old entry), device bind/unbind, hold/release, VF
 * create/destroy, cache flush (no inverse needed).  Inverses are
 * idempotent, so recovery may undo a step that never ran.  Without a
 * backend, or a capability, a step is model-only; the hold step still
 * marks the partition held and notifies the driver.
 *
 * Holds.  The hold step marks the partition object of the published model
 * held (an atomic count, hold_mark); the model published next has its own
 * copy of that partition, not held, so a reader sees (old mapping, held)
 * or (new mapping, not held), never a mix.
 *
 * Journal.  With a journal set, a transaction appends JSON lines: "begin"
 * (the operation and its arguments, asm-fop.c), one "step" per step
 * before it runs, then "commit", or "undone" once every applied step was
 * undone.  The records are built only when a journal is set.  asm-fsave.c
 * reads them back to recover.
 *
 * Driver callbacks run inside the transaction (hold during the hold step,
 * resume and moved after the publish) with the write lock held: they may
 * translate but must not change the fabric.  Observers run after every
 * lock is released.
 *
 * Costs: a transaction costs its planning (see the table in asm-fmodel.c)
 * plus O(1) per step and one backend call per step (two per translation
 * update: begin/set/commit), plus O(size of the record) per journal line.
 */
#include "asm-ftxn-private.h"

#include <errno.h>
#include <string.h>

/* how long a pending device operation may take (ms) */
#define HOLD_WAIT_MS 5000

const char *const asm_step_names[ST_N_KINDS] = {
  "switch_add", "windows_commit", "xlat_set", "xlat_remove", "device_bind",
  "device_unbind", "device_hold", "device_release", "vf_create", "vf_destroy",
  "cache_flush", "root_routes", "switch_remove",
};


void
asm_step_clear (Step *s)
{
  g_free (s->name);
  if (s->windows)
    g_array_unref (s->windows);
  if (s->old_windows)
    g_array_unref (s->old_windows);
}

void
asm_txn_init (Txn *t, FOpKind op, const void *args)
{
  memset (t, 0, sizeof *t);
  t->op = op;
  t->args = args;
  t->steps = g_array_new (FALSE, TRUE, sizeof (Step));
  g_array_set_clear_func (t->steps, (GDestroyNotify) asm_step_clear);
  t->events = g_array_new (FALSE, TRUE, sizeof (AsmFabricEvent));
  t->strings = g_ptr_array_new_with_free_func (g_free);
  t->moved = g_array_new (FALSE, FALSE, sizeof (MovedNote));
  t->resumed = g_array_new (FALSE, FALSE, sizeof (AsmId));
}

void
asm_txn_clear (Txn *t)
{
  g_free (t->desc);
  g_array_unref (t->steps);
  g_array_unref (t->events);
  g_ptr_array_unref (t->strings);
  g_array_unref (t->moved);
  g_array_unref (t->resumed);
}

Step *
asm_txn_step (Txn *t, StepKind kind)
{
  Step s = { 0 };
  s.kind = kind;
  g_array_append_val (t->steps, s);
  return &g_array_index (t->steps, Step, t->steps->len - 1);
}

void
asm_txn_event (Txn *t, const AsmFabricEvent *proto, const char *fmt, ...)
{
  AsmFabricEvent e = *proto;
  va_list ap;
  char *msg;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_ptr_array_add (t->strings, msg);
  e.message = msg;
  g_array_append_val (t->events, e);
}

/* ------------------------------------------------------------------ */
/* backend calls                                                        */

gboolean
asm_fabric_has_cap (AsmFabric *f, guint32 cap)
{
  return f->ops != NULL && (f->ops->caps & cap) == cap;
}

static void
set_backend_error (GError **error, const char *op)
{
  g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
               "the backend's %s failed without saying why", op);
}

static gboolean
device_status (AsmFabric *f, AsmBackendStatus st, AsmId device,
               GError **error)
{
  if (st == ASM_BACKEND_DONE)
    return TRUE;
  if (st == ASM_BACKEND_PENDING)
    {
      if (f->ops->device_wait == NULL)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                       "device %u: the operation is pending and the backend "
                       "cannot wait for it", device);
          return FALSE;
        }
      return f->ops->device_wait (f->self, device, HOLD_WAIT_MS, error);
    }
  if (error != NULL && *error == NULL)
    set_backend_error (error, "device operation");
  return FALSE;
}

static gboolean
xlat_apply (AsmFabric *f, AsmId sw, const AsmXlatEntry *set, AsmId remove_key,
            GError **error)
{
  const AsmBackendOps *o = f->ops;
  gboolean ok;

  if (!asm_fabric_has_cap (f, ASM_BACKEND_CAP_TRANSLATION) ||
      o->xlat_begin == NULL || o->xlat_commit == NULL)
    return TRUE;
  if (!o->xlat_begin (f->self, sw, error))
    return FALSE;
  if (set != NULL)
    ok = o->xlat_set == NULL || o->xlat_set (f->self, sw, set, error);
  else
    ok = o->xlat_remove == NULL || o->xlat_remove (f->self, sw, remove_key,
                                                   error);
  if (ok)
    ok = o->xlat_commit (f->self, sw, error);
  if (!ok && o->xlat_abort != NULL)
    o->xlat_abort (f->self, sw);
  return ok;
}

/* Marks a partition of the published model held (or not): readers that
 * translate through that model see it.  Only the writer calls this, so the
 * published model does not change under it.  A transaction that holds a
 * partition always writes it too, so the model it publishes has its own
 * copy, never held; the old copy stays marked, which is right for readers
 * still answering from the old model. */
static void
hold_mark (AsmFabric *f, AsmId partition, gint delta)
{
  FPartition *p;

  if (partition == ASM_ID_NONE)
    return;
  p = FPART (f->current, partition);
  if (p != NULL)
    g_atomic_int_add (&p->held, delta);
}

static gboolean
do_hold (AsmFabric *f, const Step *s, GError **error)
{
  if (asm_fabric_has_cap (f, ASM_BACKEND_CAP_HOLD) &&
      f->ops->device_hold != NULL &&
      !f->ops->device_hold (f->self, s->device, error))
    return FALSE;
  hold_mark (f, s->partition, +1);
  if (f->drivers.hold != NULL)
    f->drivers.hold (f, s->device, f->drivers_data);
  return TRUE;
}

static gboolean
do_release (AsmFabric *f, const Step *s, GError **error)
{
  return !asm_fabric_has_cap (f, ASM_BACKEND_CAP_HOLD) ||
         f->ops->device_release == NULL ||
         f->ops->device_release (f->self, s->device, error);
}

static gboolean
do_bind (AsmFabric *f, AsmId device, const char *name, AsmId sw, guint32 port,
         GError **error)
{
  if (!asm_fabric_has_cap (f, ASM_BACKEND_CAP_DEVICES) ||
      f->ops->device_bind == NULL)
    return TRUE;
  return device_status (f, f->ops->device_bind (f->self, device, name, sw,
                                                port, error),
                        device, error);
}

static gboolean
do_unbind (AsmFabric *f, AsmId device, AsmId sw, guint32 port, GError **error)
{
  if (!asm_fabric_has_cap (f, ASM_BACKEND_CAP_DEVICES) ||
      f->ops->device_unbind == NULL)
    return TRUE;
  return device_status (f, f->ops->device_unbind (f->self, device, sw, port,
                                                  error),
                        device, error);
}

static gboolean
do_windows (AsmFabric *f, AsmId sw, GArray *w, GError **error)
{
  if (!asm_fabric_has_cap (f, ASM_BACKEND_CAP_WINDOWS) ||
      f->ops->windows_commit == NULL)
    return TRUE;
  return f->ops->windows_commit (f->self, sw, (const AsmRange *) w->data,
                                 w->len, error);
}

static gboolean
do_root (AsmFabric *f, AsmId sw, GArray *w, GError **error)
{
  if (!asm_fabric_has_cap (f, ASM_BACKEND_CAP_ROOT) ||
      f->ops->root_routes == NULL)
    return TRUE;
  return f->ops->root_routes (f->self, sw, (const AsmRange *) w->data,
                              w->len, error);
}

static gboolean
do_switch_add (AsmFabric *f, const Step *s, GError **error)
{
  return f->ops->switch_add == NULL ||
         f->ops->switch_add (f->self, s->sw, s->name, s->n_ports,
                             s->capacity, error);
}

static gboolean
do_switch_remove (AsmFabric *f, const Step *s, GError **error)
{
  return f->ops->switch_remove == NULL ||
         f->ops->switch_remove (f->self, s->sw, error);
}

static gboolean
do_vf (AsmFabric *f, gboolean create, const Step *s, GError **error)
{
  if (!asm_fabric_has_cap (f, ASM_BACKEND_CAP_VFS))
    return TRUE;
  if (create)
    return f->ops->vf_create == NULL ||
           f->ops->vf_create (f->self, s->pf, s->vf_index, s->device, error);
  return f->ops->vf_destroy == NULL ||
         f->ops->vf_destroy (f->self, s->pf, s->vf_index, s->device, error);
}

static gboolean
step_do (AsmFabric *f, const Step *s, GError **error)
{
  if (f->ops == NULL)
    {
      /* model only: the notifications still happen */
      if (s->kind == ST_HOLD)
        {
          hold_mark (f, s->partition, +1);
          if (f->drivers.hold != NULL)
            f->drivers.hold (f, s->device, f->drivers_data);
        }
      return TRUE;
    }
  switch (s->kind)
    {
    case ST_SWITCH_ADD:
      return do_switch_add (f, s, error);
    case ST_SWITCH_REMOVE:
      return do_switch_remove (f, s, error);
    case ST_WINDOWS:
      return do_windows (f, s->sw, s->windows, error);
    case ST_ROOT:
      return do_root (f, s->sw, s->windows, error);
    case ST_XLAT_SET:
      return xlat_apply (f, s->sw, &s->entry, 0, error);
    case ST_XLAT_REMOVE:
      return xlat_apply (f, s->sw, NULL, s->entry.key, error);
    case ST_BIND:
      return do_bind (f, s->device, s->name, s->sw, s->port, error);
    case ST_UNBIND:
      return do_unbind (f, s->device, s->sw, s->port, error);
    case ST_HOLD:
      return do_hold (f, s, error);
    case ST_RELEASE:
      return do_release (f, s, error);
    case ST_VF_CREATE:
      return do_vf (f, TRUE, s, error);
    case ST_VF_DESTROY:
      return do_vf (f, FALSE, s, error);
    case ST_FLUSH:
      return !asm_fabric_has_cap (f, ASM_BACKEND_CAP_FLUSH) ||
             f->ops->cache_flush == NULL ||
             f->ops->cache_flush (f->self, s->sw, &s->range, error);
    }
  ASM_BUG ("step kind %d", (int) s->kind);
}

/* The inverse of a step.  Inverses are idempotent (AsmBackendOps), so a
 * recovering process may call them for steps that never ran. */
gboolean
asm_ftxn_undo_step (AsmFabric *f, const Step *s, GError **error)
{
  if (s->kind == ST_HOLD)
    {
      gboolean ok = TRUE;
      if (f->ops != NULL)
        ok = do_release (f, s, error);
      hold_mark (f, s->partition, -1);
      if (f->drivers.resume != NULL)
        f->drivers.resume (f, s->device, f->drivers_data);
      return ok;
    }
  if (f->ops == NULL)
    return TRUE;
  switch (s->kind)
    {
    case ST_SWITCH_ADD:
      /* a switch that joined had nothing yet: taking it out is exact */
      return do_switch_remove (f, s, error);
    case ST_SWITCH_REMOVE:
      return do_switch_add (f, s, error);
    case ST_FLUSH:
      return TRUE; /* nothing to take back */
    case ST_WINDOWS:
      return do_windows (f, s->sw, s->old_windows, error);
    case ST_ROOT:
      return do_root (f, s->sw, s->old_windows, error);
    case ST_XLAT_SET:
      if (s->has_old)
        return xlat_apply (f, s->sw, &s->old_entry, 0, error);
      return xlat_apply (f, s->sw, NULL, s->entry.key, error);
    case ST_XLAT_REMOVE:
      return xlat_apply (f, s->sw, &s->old_entry, 0, error);
    case ST_BIND:
      return do_unbind (f, s->device, s->sw, s->port, error);
    case ST_UNBIND:
      return do_bind (f, s->device, s->name, s->sw, s->port, error);
    case ST_RELEASE:
      return !asm_fabric_has_cap (f, ASM_BACKEND_CAP_HOLD) ||
             f->ops->device_hold == NULL ||
             f->ops->device_hold (f->self, s->device, error);
    case ST_VF_CREATE:
      return do_vf (f, FALSE, s, error);
    case ST_VF_DESTROY:
      return do_vf (f, TRUE, s, error);
    case ST_HOLD:
      break;
    }
  ASM_BUG ("step kind %d", (int) s->kind);
}

static char *
step_describe (const Step *s)
{
  switch (s->kind)
    {
    case ST_SWITCH_ADD:
      return g_strdup_printf ("switch_add %u '%s'", s->sw, s->name);
    case ST_WINDOWS:
      return g_strdup_printf ("windows_commit on switch %u (%u windows)",
                              s->sw, s->windows->len);
    case ST_XLAT_SET:
      return g_strdup_printf ("xlat_set of entry %u on switch %u",
                              s->entry.key, s->sw);
    case ST_XLAT_REMOVE:
      return g_strdup_printf ("xlat_remove of entry %u on switch %u",
                              s->entry.key, s->sw);
    case ST_BIND:
      return g_strdup_printf ("device_bind of device %u to switch %u port %u",
                              s->device, s->sw, s->port);
    case ST_UNBIND:
      return g_strdup_printf ("device_unbind of device %u from switch %u "
                              "port %u", s->device, s->sw, s->port);
    case ST_HOLD:
      return g_strdup_printf ("device_hold of device %u", s->device);
    case ST_RELEASE:
      return g_strdup_printf ("device_release of device %u", s->device);
    case ST_VF_CREATE:
      return g_strdup_printf ("vf_create of VF %u (index %u) on PF %u",
                              s->device, s->vf_index, s->pf);
    case ST_VF_DESTROY:
      return g_strdup_printf ("vf_destroy of VF %u (index %u) on PF %u",
                              s->device, s->vf_index, s->pf);
    case ST_FLUSH:
      return g_strdup_printf ("cache_flush on switch %u", s->sw);
    case ST_ROOT:
      return g_strdup_printf ("root_routes to switch %u (%u windows)", s->sw,
                              s->windows->len);
    case ST_SWITCH_REMOVE:
      return g_strdup_printf ("switch_remove %u '%s'", s->sw, s->name);
    }
  ASM_BUG ("step kind %d", (int) s->kind);
}

/* ------------------------------------------------------------------ */
/* journal                                                              */

static guint64
hex_elem (JsonArray *a, guint i)
{
  const char *s = json_array_get_string_element (a, i);
  return s ? g_ascii_strtoull (s + 2, NULL, 16) : 0;
}

void
asm_ftxn_journal_record (AsmFabric *f, GString *out, const char *type,
                         JsonNode *payload)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "seq");
  json_builder_add_int_value (b, (gint64) ++f->journal_seq);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, type);
  if (payload != NULL)
    {
      json_builder_set_member_name (b, "data");
      json_builder_add_value (b, payload);
    }
  json_builder_end_object (b);
  asm_fjournal_frame (out, json_builder_get_root (b));
}

/* Appends the framed records and syncs them; on failure the sequence
 * numbers they took are given back (the file is as it was). */
static gboolean
journal_append (AsmFabric *f, GString *frames, guint64 seq_before,
                GError **error)
{
  if (asm_fjournal_append (f->journal, frames, error))
    return TRUE;
  f->journal_seq = seq_before;
  return FALSE;
}

gboolean
asm_ftxn_journal_write (AsmFabric *f, const char *type, JsonNode *payload,
                        GError **error)
{
  g_autoptr (GString) frames = NULL;
  guint64 seq_before = f->journal_seq;

  if (f->journal == NULL)
    {
      if (payload)
        json_node_unref (payload);
      return TRUE;
    }
  frames = g_string_new (NULL);
  asm_ftxn_journal_record (f, frames, type, payload);
  if (!journal_append (f, frames, seq_before, error))
    return FALSE;
  if (strcmp (type, "commit") == 0 || strcmp (type, "undone") == 0)
    f->journal_closed = f->journal_seq;
  return TRUE;
}

/* Adds to b, under key, the ranges of `a` that are not in `b_set`. */
static void
add_ranges_missing (JsonBuilder *b, const char *key, GArray *a, GArray *b_set)
{
  json_builder_set_member_name (b, key);
  json_builder_begin_array (b);
  for (guint i = 0; a != NULL && i < a->len; i++)
    {
      AsmRange r = g_array_index (a, AsmRange, i);
      gboolean found = FALSE;
      for (guint j = 0; b_set != NULL && j < b_set->len && !found; j++)
        found = g_array_index (b_set, AsmRange, j).first == r.first &&
                g_array_index (b_set, AsmRange, j).last == r.last;
      if (!found)
        {
          g_autofree char *f = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x",
                                                r.first);
          g_autofree char *l = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x",
                                                r.last);
          json_builder_add_string_value (b, f);
          json_builder_add_string_value (b, l);
        }
    }
  json_builder_end_array (b);
}

JsonNode *
asm_step_to_json (const Step *s)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, asm_step_names[s->kind]);
#define INT_MEMBER(key, v)                                                    \
  json_builder_set_member_name (b, key);                                      \
  json_builder_add_int_value (b, v)
  INT_MEMBER ("sw", s->sw);
  INT_MEMBER ("device", s->device);
  INT_MEMBER ("pf", s->pf);
  INT_MEMBER ("partition", s->partition);
  INT_MEMBER ("port", s->port);
  INT_MEMBER ("vf_index", s->vf_index);
  INT_MEMBER ("n_ports", s->n_ports);
  INT_MEMBER ("capacity", s->capacity);
  INT_MEMBER ("has_old", s->has_old);
#undef INT_MEMBER
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, s->name ? s->name : "");
  {
    const AsmXlatEntry *e[2] = { &s->entry, &s->old_entry };
    const char *names[2] = { "entry", "old_entry" };
    for (guint i = 0; i < 2; i++)
      {
        g_autofree char *v = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x",
                                              e[i]->virt_first);
        g_autofree char *z = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x",
                                              e[i]->size);
        g_autofree char *o = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x",
                                              e[i]->offset);
        json_builder_set_member_name (b, names[i]);
        json_builder_begin_array (b);
        json_builder_add_int_value (b, e[i]->key);
        json_builder_add_int_value (b, e[i]->partition);
        json_builder_add_int_value (b, e[i]->workload);
        json_builder_add_string_value (b, v);
        json_builder_add_string_value (b, z);
        json_builder_add_string_value (b, o);
        json_builder_end_array (b);
      }
  }
  /* what changed, not the switch's whole window list: recovery rebuilds
   * the lists from the model it recovers (asm-fsave.c) */
  add_ranges_missing (b, "added", s->windows, s->old_windows);
  add_ranges_missing (b, "removed", s->old_windows, s->windows);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

gboolean
asm_step_from_json (JsonObject *o, Step *s)
{
  const char *kind = json_object_get_string_member (o, "kind");
  gboolean found = FALSE;

  memset (s, 0, sizeof *s);
  for (guint k = 0; kind != NULL && k < ST_N_KINDS; k++)
    if (strcmp (kind, asm_step_names[k]) == 0)
      s->kind = k, found = TRUE;
  if (!found)
    return FALSE;
  s->sw = (AsmId) json_object_get_int_member (o, "sw");
  s->device = (AsmId) json_object_get_int_member (o, "device");
  s->pf = (AsmId) json_object_get_int_member (o, "pf");
  s->partition = (AsmId) json_object_get_int_member (o, "partition");
  s->port = (guint32) json_object_get_int_member (o, "port");
  s->vf_index = (guint32) json_object_get_int_member (o, "vf_index");
  s->n_ports = (guint32) json_object_get_int_member_with_default (o, "n_ports",
                                                                  0);
  s->capacity = (guint32) json_object_get_int_member_with_default (o,
                                                                   "capacity",
                                                                   0);
  s->has_old = json_object_get_int_member (o, "has_old") != 0;
  s->name = g_strdup (json_object_get_string_member (o, "name"));
  {
    AsmXlatEntry *e[2] = { &s->entry, &s->old_entry };
    const char *names[2] = { "entry", "old_entry" };
    for (guint i = 0; i < 2; i++)
      {
        JsonArray *a = json_object_get_array_member (o, names[i]);
        if (a == NULL || json_array_get_length (a) != 6)
          return FALSE;
        e[i]->key = (AsmId) json_array_get_int_element (a, 0);
        e[i]->partition = (AsmId) json_array_get_int_element (a, 1);
        e[i]->workload = (AsmId) json_array_get_int_element (a, 2);
        e[i]->virt_first = hex_elem (a, 3);
        e[i]->size = hex_elem (a, 4);
        e[i]->offset = hex_elem (a, 5);
      }
  }
  {
    GArray **w[2] = { &s->windows, &s->old_windows };
    const char *names[2] = { "added", "removed" };
    for (guint i = 0; i < 2; i++)
      {
        JsonArray *a = json_object_get_array_member (o, names[i]);
        *w[i] = g_array_new (FALSE, FALSE, sizeof (AsmRange));
        for (guint j = 0; a != NULL && j + 1 < json_array_get_length (a);
             j += 2)
          {
            AsmRange r = ASM_RANGE (hex_elem (a, j), hex_elem (a, j + 1));
            g_array_append_val (*w[i], r);
          }
      }
    s->delta = TRUE;
  }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* applying a transaction                                               */

/* Undoes steps [0, n) in reverse; FALSE when an undo failed (each is
 * attempted anyway: undo never stops halfway). */
static gboolean
undo_steps (AsmFabric *f, Txn *t, guint n)
{
  gboolean ok = TRUE;

  if (f->ops != NULL && f->ops->undo_begin != NULL)
    f->ops->undo_begin (f->self);
  for (guint j = n; j-- > 0;)
    {
      g_autoptr (GError) uerr = NULL;
      if (!asm_ftxn_undo_step (f, &g_array_index (t->steps, Step, j), &uerr))
        {
          ok = FALSE;
          g_warning ("%s: undo of step %u failed: %s", f->name, j + 1,
                     uerr ? uerr->message : "no reason given");
        }
    }
  if (f->ops != NULL && f->ops->transaction_end != NULL)
    f->ops->transaction_end (f->self, FALSE);
  return ok;
}

/* Write-ahead: the record of step i (with "begin" before step 0, and
 * "commit" as well when there is no step) is durable before the step
 * runs.  FALSE with the journal's error. */
static gboolean
journal_before_step (AsmFabric *f, Txn *t, guint i, GError **error)
{
  g_autoptr (GString) frames = g_string_new (NULL);
  guint64 seq_before = f->journal_seq;

  if (f->journal == NULL)
    return TRUE;
  if (i == 0)
    asm_ftxn_journal_record (f, frames, "begin",
                             asm_fop_to_json (t->op, t->args));
  if (i < t->steps->len)
    asm_ftxn_journal_record (f, frames, "step",
                             asm_step_to_json (&g_array_index (t->steps,
                                                               Step, i)));
  else
    asm_ftxn_journal_record (f, frames, "commit", NULL);
  if (!journal_append (f, frames, seq_before, error))
    return FALSE;
  if (i >= t->steps->len)
    f->journal_closed = f->journal_seq;
  return TRUE;
}

/* The journal store refused a record of @t, the one before step @done of
 * @n (n: its commit), because another writer took the journal over: stop
 * here.  Nothing is undone (the new writer's recovery undoes the steps
 * from the records it has), and the fabric refuses every later change. */
static gboolean
fence (AsmFabric *f, Txn *t, guint done, guint n, GError *err,
       GError **error)
{
  f->broken = f->fenced = TRUE;
  g_set_error (error, ASM_ERROR, ASM_ERROR_FENCED,
               "%s: the journal was taken over by another writer (%s); "
               "stopped %s, nothing undone: the fabric changes nothing any "
               "more", t->desc, err->message,
               done == 0 ? "before any step"
               : done < n ? "between two steps"
                          : "before its commit");
  return FALSE;
}

static gboolean
txn_apply (AsmFabric *f, Txn *t, GError **error)
{
  guint i, n = t->steps->len;
  g_autoptr (GError) err = NULL;
  gboolean undo_ok;
  gboolean journal_failed = FALSE;
  g_autofree char *failed = NULL;
  g_autoptr (GError) uerr = NULL;
  guint64 txn_start = f->journal ? asm_fjournal_get_size (f->journal) : 0;

  /* nothing reaches the hardware unless its record is durable */
  if (!journal_before_step (f, t, 0, &err))
    {
      if (g_error_matches (err, ASM_ERROR, ASM_ERROR_FENCED))
        return fence (f, t, 0, n, err, error);
      g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                   "%s: the journal cannot take it, nothing was done: %s",
                   t->desc, err->message);
      return FALSE;
    }
  if (n == 0)
    return TRUE; /* begin and commit went in one write */
  if (f->ops != NULL && f->ops->transaction_begin != NULL)
    f->ops->transaction_begin (f->self, t->desc);
  for (i = 0; i < n; i++)
    {
      Step *s = &g_array_index (t->steps, Step, i);
      if (i > 0 && !journal_before_step (f, t, i, &err))
        {
          journal_failed = TRUE;
          break;
        }
      if (!step_do (f, s, &err))
        break;
    }
  if (i == n)
    {
      if (f->journal == NULL)
        return TRUE;
      if (asm_ftxn_journal_write (f, "commit", NULL, &err))
        return TRUE;
      journal_failed = TRUE;
    }

  if (journal_failed && g_error_matches (err, ASM_ERROR, ASM_ERROR_FENCED))
    return fence (f, t, i, n, err, error);
  if (err == NULL)
    set_backend_error (&err, asm_step_names[g_array_index (t->steps, Step,
                                                       i).kind]);
  if (i < n)
    failed = step_describe (&g_array_index (t->steps, Step, i));
  undo_ok = undo_steps (f, t, i);
  if (undo_ok && !asm_ftxn_journal_write (f, "undone", NULL, &uerr) &&
      g_error_matches (uerr, ASM_ERROR, ASM_ERROR_FENCED))
    {
      /* taken over while undoing: the new writer owns what is left */
      f->broken = f->fenced = TRUE;
    }
  else if (undo_ok && uerr != NULL)
    {
      g_autoptr (GError) jerr = NULL;
      /* A journal that cannot take "undone" (a full disk) must not keep
       * the transaction: a recovery would undo its steps a second time,
       * after they were put back, which is not the identity.  The
       * hardware is as before it, so the transaction leaves the journal
       * (cutting a file needs no space). */
      if (!asm_fjournal_cut (f->journal, txn_start, &jerr))
        {
          g_warning ("%s: %s", f->name, jerr->message);
          f->broken = TRUE;
        }
    }
  else if (!undo_ok)
    f->broken = TRUE;
  if (journal_failed)
    g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                 "%s: the journal could not take the record %s: %s; %s",
                 t->desc, i < n ? "of a step" : "of its commit", err->message,
                 undo_ok ? "every step applied was undone and the fabric is "
                           "as it was"
                         : "undoing the applied steps failed too: the fabric "
                           "needs asm_fabric_recover()");
  else
    g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                 "%s: step %u of %u (%s) failed: %s; %s", t->desc, i + 1, n,
                 failed, err->message,
                 undo_ok ? "every step applied before it was undone and the "
                           "fabric is as it was"
                         : "undoing the applied steps failed too: the fabric "
                           "needs asm_fabric_recover()");
  return FALSE;
}

static void
emit_events (AsmFabric *f, GArray *events)
{
  g_autoptr (GArray) obs = NULL;

  g_mutex_lock (&f->obs_lock);
  obs = g_array_copy (f->observers);
  g_mutex_unlock (&f->obs_lock);
  for (guint i = 0; i < events->len; i++)
    for (guint j = 0; j < obs->len; j++)
      {
        Observer *o = &g_array_index (obs, Observer, j);
        o->func (f, &g_array_index (events, AsmFabricEvent, i), o->user_data);
      }
}

void
asm_ftxn_publish (AsmFabric *f, FModel *next, Txn *t)
{
  FModel *old;

  /* the holds end with the old mapping: readers see (old, held) or
   * (new, not held), see hold_mark() */
  for (guint i = 0; i < t->steps->len; i++)
    {
      const Step *s = &g_array_index (t->steps, Step, i);
      if (s->kind == ST_HOLD && s->partition != ASM_ID_NONE)
        ASM_BUG_UNLESS (FPART (next, s->partition) == NULL ||
                  FPART (next, s->partition) != FPART (f->current,
                                                       s->partition));
    }
  g_mutex_lock (&f->current_lock);
  old = f->current;
  f->current = next;
  g_atomic_pointer_set (&f->generation, f->generation + 1);
  g_mutex_unlock (&f->current_lock);
  asm_fmodel_unref (old);
}

gboolean
asm_ftxn_run (AsmFabric *f, FOpKind op, const void *args, AsmId *out_id,
              guint64 *out_u64, GError **error)
{
  FModel *next;
  Txn t;
  gboolean ok = FALSE;

  ASM_BUG_UNLESS (op < FOP_N_OPS);
  asm_txn_init (&t, op, args);
  g_mutex_lock (&f->write_lock);
  if (f->fenced)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_FENCED,
                   "%s: its journal was taken over by another writer; this "
                   "fabric changes nothing any more", f->name);
      g_mutex_unlock (&f->write_lock);
      asm_txn_clear (&t);
      return FALSE;
    }
  if (f->broken)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                   "%s: an earlier transaction could not be undone; the "
                   "fabric needs asm_fabric_recover()", f->name);
      g_mutex_unlock (&f->write_lock);
      asm_txn_clear (&t);
      return FALSE;
    }
  next = asm_fmodel_clone (f->current);
  if (!asm_fops[op].plan (next, &t, args, error))
    {
      asm_fmodel_unref (next);
      g_mutex_unlock (&f->write_lock);
      asm_txn_clear (&t);
      return FALSE;
    }
  if (t.desc == NULL)
    t.desc = g_strdup (asm_fops[op].name);
  if (!txn_apply (f, &t, error))
    {
      AsmFabricEvent e = { ASM_EVENT_ROLLED_BACK };
      GArray *events = t.events;
      asm_fmodel_unref (next);
      g_array_set_size (events, 0);
      asm_txn_event (&t, &e, "%s rolled back: %s", t.desc,
                 (error && *error) ? (*error)->message : "");
      g_mutex_unlock (&f->write_lock);
      emit_events (f, t.events);
      asm_txn_clear (&t);
      return FALSE;
    }
  asm_ftxn_publish (f, next, &t);
  if (f->ops != NULL && f->ops->transaction_end != NULL)
    f->ops->transaction_end (f->self, TRUE);
  for (guint i = 0; i < t.moved->len; i++)
    {
      MovedNote *mn = &g_array_index (t.moved, MovedNote, i);
      if (mn->old_device != ASM_ID_NONE && f->drivers.vf_moved != NULL)
        f->drivers.vf_moved (f, mn->old_device, mn->device, mn->sw,
                             mn->physical, f->drivers_data);
      if (f->drivers.moved != NULL)
        f->drivers.moved (f, mn->device, mn->sw, mn->physical,
                          f->drivers_data);
    }
  for (guint i = 0; i < t.resumed->len; i++)
    if (f->drivers.resume != NULL)
      f->drivers.resume (f, g_array_index (t.resumed, AsmId, i),
                         f->drivers_data);
  ok = TRUE;
  if (out_id != NULL)
    *out_id = t.out_id;
  if (out_u64 != NULL)
    *out_u64 = t.out_u64;
  g_mutex_unlock (&f->write_lock);
  emit_events (f, t.events);
  asm_txn_clear (&t);
  return ok;
}

