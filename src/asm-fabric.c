/* asm-fabric.c: the fabric: placement, migration, VF transfer, transactions
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * Objects.  A fabric has one global physical space (an arena with quantum
 * `granule`), switches, devices, workloads and partitions (asm-fmodel.c).
 * A switch's *windows* are allocations in the global arena and, at the same
 * time, the spans of the switch's own arena (`space`), in which partitions
 * are placed.  A partition has a *virtual* range in its workload's virtual
 * arena that never changes, and a *physical* range in one switch's space
 * that changes when it migrates; the switch's translation table routes one
 * to the other with one entry {key = partition, offset = phys - virt}.
 * Devices mapped into a partition sit at an offset inside it (their BAR).
 * A VF transferred to another PF (seed 003) keeps its offset, but its BAR
 * range is routed by an entry of its own {key = VF id} in the table of the
 * switch of its new PF, to the base its new place gives it.
 *
 * Windows are the dynamic partitioning of seed 000: when no window of a
 * switch can hold a partition, the switch gets a new window from the
 * global space (window_granule bytes at least); when a window of a
 * switch that is not pinned becomes empty, it goes back.
 *
 * Placement score.  asm_fabric_request_partition() (and a migration without
 * a target) considers every switch, in id order, that meets the request's
 * latency, minimum bandwidth, bandwidth headroom and table room, and that
 * has space (a free range that fits, or the right to grow a window and a
 * global range to grow it with).  A qualifying preferred switch wins.
 * Otherwise the highest score wins, ties to the lowest id:
 *
 *     score = 0.4 * free space fraction after placement
 *           + 0.4 * bandwidth headroom fraction after placement
 *           + 0.2 if no window has to grow
 *           - latency in ns / 10^6
 *
 * so space and bandwidth balance across switches, growing windows is a
 * last resort, and 1 us of latency costs as much as 0.1 of either.
 *
 * Transactions.  Every change is made by plan_*() on a private O(1) clone
 * of the published model, which also records the hardware steps (Step)
 * that realise it, in the order seed 000 and seed 003 give.  txn_apply()
 * then runs the steps through the backend, writing each to the journal
 * first.  If a step fails, the steps already applied are undone in reverse
 * order (every undo is attempted; if one fails, the fabric is marked broken
 * and asks for asm_fabric_recover()), the clone is thrown away, and the
 * published model has never changed: the call leaves the fabric exactly as
 * it was.  If every step succeeds, the clone is published (a pointer swap
 * under `current_lock`) and the drivers are told.
 *
 * Concurrency.  Writers are serialised by `write_lock`; planning and
 * applying happen without blocking readers.  A reader (asm_fabric_translate
 * and the getters) takes `current_lock` only to read the published pointer
 * and take a reference on that model, then reads it with no lock held: it
 * never waits for a plan, only (for nanoseconds) for a pointer swap, it
 * cannot starve a writer (a mutex, unlike glibc's reader-preferring RW
 * locks, lets the swap in), and it answers from one model, the old or the
 * new, never a mix.  asm_fabric_translate() goes further and keeps, per
 * thread, a reference to the model it last read with the generation it
 * was published under (reader_model): until the next publish it reads
 * that model without writing anything shared, so it scales with threads,
 * and the writer never waits for a reader (an epoch scheme, tried first,
 * made the writer wait for readers preempted inside a lookup: minutes for
 * 10,000 migrations with four readers on two cores).  The hold step marks
 * the partition object of the
 * published model held (an atomic count); the model published next has
 * its own copy of that partition, not held, so a reader sees (old mapping,
 * held) or (new mapping, not held).
 *
 * Journal.  With asm_fabric_set_journal(), each transaction appends JSON
 * lines: "begin" (the operation and its arguments), one "step" per step
 * before it runs, then "commit", or "undone" once every applied step was
 * undone.  asm_fabric_save() records the journal position.  A process that
 * died mid-transaction is recovered by restoring the last save and calling
 * asm_fabric_recover(): committed operations after the save are planned
 * again (planning is deterministic) and published without touching the
 * hardware; the steps of a transaction with neither "commit" nor "undone"
 * are undone in reverse on the backend (undo operations are idempotent),
 * so the fabric ends in the state before that transaction.
 *
 * Driver callbacks run inside the transaction (hold during the hold step,
 * resume and moved after the publish) with the write lock held: they may
 * translate but must not change the fabric.  Observers run after every
 * lock is released.
 */
#include "asm-fabric-private.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define HOLD_WAIT_MS 5000

/* ------------------------------------------------------------------ */
/* steps and transactions                                               */

typedef enum {
  ST_SWITCH_ADD,
  ST_WINDOWS,
  ST_XLAT_SET,
  ST_XLAT_REMOVE,
  ST_BIND,
  ST_UNBIND,
  ST_HOLD,
  ST_RELEASE,
  ST_VF_CREATE,
  ST_VF_DESTROY,
  ST_FLUSH,
} StepKind;

static const char *const step_names[] = {
  "switch_add", "windows_commit", "xlat_set", "xlat_remove", "device_bind",
  "device_unbind", "device_hold", "device_release", "vf_create", "vf_destroy",
  "cache_flush",
};

typedef struct {
  StepKind kind;
  AsmId sw;
  AsmId device;
  AsmId pf;
  AsmId partition;  /* HOLD: the partition marked held */
  guint32 port;
  guint32 vf_index;
  guint32 n_ports;
  guint32 capacity;
  char *name;       /* switch or device name */
  AsmXlatEntry entry;
  AsmXlatEntry old_entry;
  gboolean has_old;
  GArray *windows;     /* WINDOWS: new */
  GArray *old_windows; /* WINDOWS: previous */
  AsmRange range;      /* FLUSH */
} Step;

/* The arguments of a public operation, in one shape for all of them so
 * that the journal can store and replay any of them. */
typedef struct {
  const char *op;
  AsmId id1;
  AsmId id2;
  guint64 n[6];
  gdouble d;
  char *str;
  gboolean flag;
} OpArgs;

typedef struct {
  OpArgs *args;
  char *desc;
  GArray *steps;        /* Step */
  GArray *events;       /* AsmFabricEvent; messages in `strings` */
  GPtrArray *strings;
  GArray *moved;        /* MovedNote */
  GArray *resumed;      /* AsmId devices to resume after publishing */
  AsmId out_id;         /* the object an operation created */
  guint64 out_u64;
} Txn;

typedef struct {
  AsmId device;
  AsmId sw;
  guint64 physical;
} MovedNote;

typedef struct {
  guint id;
  AsmFabricEventFunc func;
  gpointer user_data;
} Observer;

struct _AsmFabric {
  gint ref;
  char *name;
  AsmBackend *backend;       /* NULL: model only */
  const AsmBackendOps *ops;  /* NULL: model only */
  gpointer self;

  GMutex write_lock;         /* serialises changes */
  GMutex current_lock;       /* guards the pointer `current` only */
  gsize generation;          /* atomic; bumped with every publish */
  guint64 serial;            /* unique among fabrics of this process */
  FModel *current;           /* the published model */
  GHashTable *held;          /* partition id -> count */
  gboolean broken;

  AsmDriverFuncs drivers;
  gpointer drivers_data;

  GMutex obs_lock;
  GArray *observers;
  guint next_observer;

  FILE *journal;
  char *journal_path;
  guint64 journal_seq;       /* last sequence number written */
  guint64 journal_closed;    /* last "commit" or "undone": a save taken
                                while a transaction is unfinished (the
                                fabric broken) records this, so recovery
                                still sees that transaction */
};

static void
step_clear (Step *s)
{
  g_free (s->name);
  if (s->windows)
    g_array_unref (s->windows);
  if (s->old_windows)
    g_array_unref (s->old_windows);
}

static void
txn_init (Txn *t, OpArgs *args)
{
  memset (t, 0, sizeof *t);
  t->args = args;
  t->steps = g_array_new (FALSE, TRUE, sizeof (Step));
  g_array_set_clear_func (t->steps, (GDestroyNotify) step_clear);
  t->events = g_array_new (FALSE, TRUE, sizeof (AsmFabricEvent));
  t->strings = g_ptr_array_new_with_free_func (g_free);
  t->moved = g_array_new (FALSE, FALSE, sizeof (MovedNote));
  t->resumed = g_array_new (FALSE, FALSE, sizeof (AsmId));
}

static void
txn_clear (Txn *t)
{
  g_free (t->desc);
  g_array_unref (t->steps);
  g_array_unref (t->events);
  g_ptr_array_unref (t->strings);
  g_array_unref (t->moved);
  g_array_unref (t->resumed);
}

static Step *
txn_step (Txn *t, StepKind kind)
{
  Step s = { 0 };
  s.kind = kind;
  g_array_append_val (t->steps, s);
  return &g_array_index (t->steps, Step, t->steps->len - 1);
}

G_GNUC_PRINTF (3, 4)
static void
txn_event (Txn *t, const AsmFabricEvent *proto, const char *fmt, ...)
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

static GArray *
windows_copy (GArray *w)
{
  return g_array_copy (w);
}

/* ------------------------------------------------------------------ */
/* backend calls                                                        */

static gboolean
has_cap (AsmFabric *f, guint32 cap)
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

  if (!has_cap (f, ASM_BACKEND_CAP_TRANSLATION) || o->xlat_begin == NULL ||
      o->xlat_commit == NULL)
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
  if (has_cap (f, ASM_BACKEND_CAP_HOLD) && f->ops->device_hold != NULL &&
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
  return !has_cap (f, ASM_BACKEND_CAP_HOLD) || f->ops->device_release == NULL ||
         f->ops->device_release (f->self, s->device, error);
}

static gboolean
do_bind (AsmFabric *f, AsmId device, const char *name, AsmId sw, guint32 port,
         GError **error)
{
  if (!has_cap (f, ASM_BACKEND_CAP_DEVICES) || f->ops->device_bind == NULL)
    return TRUE;
  return device_status (f, f->ops->device_bind (f->self, device, name, sw,
                                                port, error),
                        device, error);
}

static gboolean
do_unbind (AsmFabric *f, AsmId device, AsmId sw, guint32 port, GError **error)
{
  if (!has_cap (f, ASM_BACKEND_CAP_DEVICES) || f->ops->device_unbind == NULL)
    return TRUE;
  return device_status (f, f->ops->device_unbind (f->self, device, sw, port,
                                                  error),
                        device, error);
}

static gboolean
do_windows (AsmFabric *f, AsmId sw, GArray *w, GError **error)
{
  if (!has_cap (f, ASM_BACKEND_CAP_WINDOWS) || f->ops->windows_commit == NULL)
    return TRUE;
  return f->ops->windows_commit (f->self, sw, (const AsmRange *) w->data,
                                 w->len, error);
}

static gboolean
do_vf (AsmFabric *f, gboolean create, const Step *s, GError **error)
{
  if (!has_cap (f, ASM_BACKEND_CAP_VFS))
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
      return f->ops->switch_add == NULL ||
             f->ops->switch_add (f->self, s->sw, s->name, s->n_ports,
                                 s->capacity, error);
    case ST_WINDOWS:
      return do_windows (f, s->sw, s->windows, error);
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
      return !has_cap (f, ASM_BACKEND_CAP_FLUSH) ||
             f->ops->cache_flush == NULL ||
             f->ops->cache_flush (f->self, s->sw, &s->range, error);
    }
  g_assert_not_reached ();
}

/* The inverse of a step.  Inverses are idempotent (AsmBackendOps), so a
 * recovering process may call them for steps that never ran. */
static gboolean
step_undo (AsmFabric *f, const Step *s, GError **error)
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
    case ST_FLUSH:
      return TRUE; /* nothing to take back */
    case ST_WINDOWS:
      return do_windows (f, s->sw, s->old_windows, error);
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
      return !has_cap (f, ASM_BACKEND_CAP_HOLD) ||
             f->ops->device_hold == NULL ||
             f->ops->device_hold (f->self, s->device, error);
    case ST_VF_CREATE:
      return do_vf (f, FALSE, s, error);
    case ST_VF_DESTROY:
      return do_vf (f, TRUE, s, error);
    case ST_HOLD:
      break;
    }
  g_assert_not_reached ();
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
    }
  g_assert_not_reached ();
}

/* ------------------------------------------------------------------ */
/* journal                                                              */

static guint64
hex_elem (JsonArray *a, guint i)
{
  const char *s = json_array_get_string_element (a, i);
  return s ? g_ascii_strtoull (s + 2, NULL, 16) : 0;
}

static JsonNode *
args_to_json (const OpArgs *a)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "op");
  json_builder_add_string_value (b, a->op);
  json_builder_set_member_name (b, "id1");
  json_builder_add_int_value (b, a->id1);
  json_builder_set_member_name (b, "id2");
  json_builder_add_int_value (b, a->id2);
  json_builder_set_member_name (b, "n");
  json_builder_begin_array (b);
  for (guint i = 0; i < G_N_ELEMENTS (a->n); i++)
    {
      g_autofree char *s = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x",
                                            a->n[i]);
      json_builder_add_string_value (b, s);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "d");
  json_builder_add_string_value (b, g_ascii_formatd (buf, sizeof buf, "%.17g",
                                                     a->d));
  json_builder_set_member_name (b, "str");
  json_builder_add_string_value (b, a->str ? a->str : "");
  json_builder_set_member_name (b, "flag");
  json_builder_add_boolean_value (b, a->flag);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static gboolean
args_from_json (JsonObject *o, OpArgs *a, char **out_op)
{
  JsonArray *n;

  if (!json_object_has_member (o, "op") || !json_object_has_member (o, "n") ||
      !JSON_NODE_HOLDS_ARRAY (json_object_get_member (o, "n")))
    return FALSE;
  memset (a, 0, sizeof *a);
  *out_op = g_strdup (json_object_get_string_member (o, "op"));
  a->op = *out_op;
  a->id1 = (AsmId) json_object_get_int_member_with_default (o, "id1", 0);
  a->id2 = (AsmId) json_object_get_int_member_with_default (o, "id2", 0);
  n = json_object_get_array_member (o, "n");
  for (guint i = 0; i < G_N_ELEMENTS (a->n) && i < json_array_get_length (n);
       i++)
    a->n[i] = hex_elem (n, i);
  a->d = g_ascii_strtod (
      json_object_get_string_member_with_default (o, "d", "0"), NULL);
  a->str = g_strdup (json_object_get_string_member_with_default (o, "str",
                                                                 ""));
  a->flag = json_object_get_boolean_member_with_default (o, "flag", FALSE);
  return *out_op != NULL;
}

static void
journal_write (AsmFabric *f, const char *type, JsonNode *payload)
{
  g_autoptr (JsonBuilder) b = NULL;
  g_autoptr (JsonGenerator) gen = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *line = NULL;

  if (f->journal == NULL)
    {
      if (payload)
        json_node_unref (payload);
      return;
    }
  b = json_builder_new ();
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
  root = json_builder_get_root (b);
  gen = json_generator_new ();
  json_generator_set_root (gen, root);
  line = json_generator_to_data (gen, NULL);
  fprintf (f->journal, "%s\n", line);
  fflush (f->journal);
  if (strcmp (type, "commit") == 0 || strcmp (type, "undone") == 0)
    f->journal_closed = f->journal_seq;
}

static JsonNode *
step_to_json (const Step *s)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, step_names[s->kind]);
#define INT_MEMBER(key, v)                                                    \
  json_builder_set_member_name (b, key);                                      \
  json_builder_add_int_value (b, v)
  INT_MEMBER ("sw", s->sw);
  INT_MEMBER ("device", s->device);
  INT_MEMBER ("pf", s->pf);
  INT_MEMBER ("partition", s->partition);
  INT_MEMBER ("port", s->port);
  INT_MEMBER ("vf_index", s->vf_index);
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
  {
    GArray *w[2] = { s->windows, s->old_windows };
    const char *names[2] = { "windows", "old_windows" };
    for (guint i = 0; i < 2; i++)
      {
        json_builder_set_member_name (b, names[i]);
        json_builder_begin_array (b);
        for (guint j = 0; w[i] != NULL && j < w[i]->len; j++)
          {
            AsmRange r = g_array_index (w[i], AsmRange, j);
            g_autofree char *a = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x",
                                                  r.first);
            g_autofree char *z = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x",
                                                  r.last);
            json_builder_add_string_value (b, a);
            json_builder_add_string_value (b, z);
          }
        json_builder_end_array (b);
      }
  }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static gboolean
step_from_json (JsonObject *o, Step *s)
{
  const char *kind = json_object_get_string_member (o, "kind");
  gboolean found = FALSE;

  memset (s, 0, sizeof *s);
  for (guint k = 0; kind != NULL && k < G_N_ELEMENTS (step_names); k++)
    if (strcmp (kind, step_names[k]) == 0)
      s->kind = k, found = TRUE;
  if (!found)
    return FALSE;
  s->sw = (AsmId) json_object_get_int_member (o, "sw");
  s->device = (AsmId) json_object_get_int_member (o, "device");
  s->pf = (AsmId) json_object_get_int_member (o, "pf");
  s->partition = (AsmId) json_object_get_int_member (o, "partition");
  s->port = (guint32) json_object_get_int_member (o, "port");
  s->vf_index = (guint32) json_object_get_int_member (o, "vf_index");
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
    const char *names[2] = { "windows", "old_windows" };
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
  }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* applying a transaction                                               */

static gboolean
txn_apply (AsmFabric *f, Txn *t, GError **error)
{
  guint i, n = t->steps->len;
  g_autoptr (GError) err = NULL;
  gboolean undo_ok = TRUE;
  g_autofree char *failed = NULL;

  journal_write (f, "begin", args_to_json (t->args));
  if (f->ops != NULL && f->ops->transaction_begin != NULL)
    f->ops->transaction_begin (f->self, t->desc);
  for (i = 0; i < n; i++)
    {
      Step *s = &g_array_index (t->steps, Step, i);
      journal_write (f, "step", step_to_json (s));
      if (!step_do (f, s, &err))
        break;
    }
  if (i == n)
    {
      journal_write (f, "commit", NULL);
      return TRUE;
    }

  if (err == NULL)
    set_backend_error (&err, step_names[g_array_index (t->steps, Step,
                                                       i).kind]);
  failed = step_describe (&g_array_index (t->steps, Step, i));
  if (f->ops != NULL && f->ops->undo_begin != NULL)
    f->ops->undo_begin (f->self);
  /* Undo never stops: each applied step is undone even if another undo
   * failed; a failure leaves the fabric broken until recovered. */
  for (guint j = i; j-- > 0;)
    {
      g_autoptr (GError) uerr = NULL;
      if (!step_undo (f, &g_array_index (t->steps, Step, j), &uerr))
        {
          undo_ok = FALSE;
          g_warning ("%s: undo of step %u failed: %s", f->name, j + 1,
                     uerr ? uerr->message : "no reason given");
        }
    }
  if (f->ops != NULL && f->ops->transaction_end != NULL)
    f->ops->transaction_end (f->self, FALSE);
  if (undo_ok)
    journal_write (f, "undone", NULL);
  else
    f->broken = TRUE;
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

static void
publish (AsmFabric *f, FModel *next, Txn *t)
{
  FModel *old;

  /* the holds end with the old mapping: readers see (old, held) or
   * (new, not held), see hold_mark() */
  for (guint i = 0; i < t->steps->len; i++)
    {
      const Step *s = &g_array_index (t->steps, Step, i);
      if (s->kind == ST_HOLD && s->partition != ASM_ID_NONE)
        g_assert (FPART (next, s->partition) == NULL ||
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

typedef gboolean (*PlanFunc) (AsmFabric *f, FModel *m, Txn *t,
                              GError **error);

static gboolean
run_txn (AsmFabric *f, OpArgs *args, PlanFunc plan, AsmId *out_id,
         guint64 *out_u64, GError **error)
{
  FModel *next;
  Txn t;
  gboolean ok = FALSE;

  txn_init (&t, args);
  g_mutex_lock (&f->write_lock);
  if (f->broken)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                   "%s: an earlier transaction could not be undone; the "
                   "fabric needs asm_fabric_recover()", f->name);
      g_mutex_unlock (&f->write_lock);
      txn_clear (&t);
      return FALSE;
    }
  next = asm_fmodel_clone (f->current);
  if (!plan (f, next, &t, error))
    {
      asm_fmodel_unref (next);
      g_mutex_unlock (&f->write_lock);
      txn_clear (&t);
      return FALSE;
    }
  if (t.desc == NULL)
    t.desc = g_strdup (args->op);
  if (!txn_apply (f, &t, error))
    {
      AsmFabricEvent e = { ASM_EVENT_ROLLED_BACK };
      GArray *events = t.events;
      asm_fmodel_unref (next);
      g_array_set_size (events, 0);
      txn_event (&t, &e, "%s rolled back: %s", t.desc,
                 (error && *error) ? (*error)->message : "");
      g_mutex_unlock (&f->write_lock);
      emit_events (f, t.events);
      txn_clear (&t);
      return FALSE;
    }
  publish (f, next, &t);
  if (f->ops != NULL && f->ops->transaction_end != NULL)
    f->ops->transaction_end (f->self, TRUE);
  for (guint i = 0; i < t.moved->len; i++)
    {
      MovedNote *mn = &g_array_index (t.moved, MovedNote, i);
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
  txn_clear (&t);
  return ok;
}

/* ------------------------------------------------------------------ */
/* planning helpers                                                     */

static gboolean
new_id (FModel *m, AsmId *out, GError **error)
{
  if (m->next_id == G_MAXUINT32)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                   "every object id has been used");
      return FALSE;
    }
  *out = m->next_id++;
  return TRUE;
}

static FSwitch *
get_switch (FModel *m, AsmId id, GError **error)
{
  FSwitch *s = FSW (m, id);
  if (s == NULL)
    g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                 "switch %u does not exist", id);
  return s;
}

static FDevice *
get_device (FModel *m, AsmId id, GError **error)
{
  FDevice *d = FDEV (m, id);
  if (d == NULL)
    g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                 "device %u does not exist", id);
  return d;
}

static FWorkload *
get_workload (FModel *m, AsmId id, GError **error)
{
  FWorkload *w = FWL (m, id);
  if (w == NULL)
    g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                 "workload %u does not exist", id);
  return w;
}

static FPartition *
get_partition (FModel *m, AsmId id, GError **error)
{
  FPartition *p = FPART (m, id);
  if (p == NULL)
    g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                 "partition %u does not exist", id);
  return p;
}

static gboolean
is_pow2 (guint64 v)
{
  return v != 0 && (v & (v - 1)) == 0;
}

static guint64
round_up (guint64 v, guint64 to)
{
  return (v + to - 1) & ~(to - 1);
}

static void
windows_insert (GArray *w, AsmRange r)
{
  guint pos = 0;
  while (pos < w->len && g_array_index (w, AsmRange, pos).first < r.first)
    pos++;
  g_array_insert_val (w, pos, r);
}

/* the window size and alignment a switch grows by to hold (size, align) */
static void
window_growth (FModel *m, guint64 size, guint64 align, guint64 *wsize,
               guint64 *walign)
{
  *wsize = round_up (MAX (size, m->window_granule), m->granule);
  *walign = MAX (align, m->granule);
}

/* Makes win, already taken from the global space, a window of the writable
 * switch s: a span of its space, the windows_commit step, the event. */
static gboolean
switch_attach_window (Txn *t, FSwitch *s, AsmRange win, const char *verb,
                      GError **error)
{
  g_autoptr (GArray) old = NULL;
  Step *st;

  if (!asm_arena_add_span (s->space, win.first, win.last, error))
    return FALSE;
  old = windows_copy (s->windows);
  windows_insert (s->windows, win);
  st = txn_step (t, ST_WINDOWS);
  st->sw = s->id;
  st->windows = windows_copy (s->windows);
  st->old_windows = g_steal_pointer (&old);
  {
    AsmFabricEvent e = { ASM_EVENT_WINDOW_GROWN, s->id };
    e.range = win;
    txn_event (t, &e, "switch '%s' %s 0x%" G_GINT64_MODIFIER "x-0x%"
               G_GINT64_MODIFIER "x", s->name, verb, win.first, win.last);
  }
  return TRUE;
}

/* Places `size` bytes at `align` in the writable switch s, growing a window
 * from the global space when needed (and allowed). */
static gboolean
switch_place (FModel *m, Txn *t, FSwitch *s, guint64 size, guint64 align,
              guint64 *out_phys, GError **error)
{
  AsmRequest req = ASM_REQUEST_INIT (size);
  guint64 wsize, walign, w;
  AsmRequest wreq;
  AsmRange win;

  req.align = MAX (align, m->granule);
  if (asm_arena_alloc_full (s->space, &req, out_phys, NULL))
    return TRUE;
  if (s->pinned)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                   "switch '%s' has no room for 0x%" G_GINT64_MODIFIER
                   "x bytes and its windows are pinned", s->name, size);
      return FALSE;
    }
  window_growth (m, size, align, &wsize, &walign);
  wreq = ASM_REQUEST_INIT (wsize);
  wreq.align = walign;
  if (!asm_arena_alloc_full (m->global, &wreq, &w, error))
    {
      g_prefix_error (error, "switch '%s' cannot grow a window: ", s->name);
      return FALSE;
    }
  win = ASM_RANGE (w, w + wsize - 1);
  if (!switch_attach_window (t, s, win, "grew a window", error))
    return FALSE;
  if (!asm_arena_alloc_full (s->space, &req, out_phys, error))
    return FALSE;
  return TRUE;
}

/* Gives every empty window of the writable switch s back (unless pinned). */
static void
switch_shrink (FModel *m, Txn *t, FSwitch *s)
{
  g_autoptr (GArray) old = NULL;
  gboolean changed = FALSE;

  if (s->pinned)
    return;
  old = windows_copy (s->windows);
  for (guint i = s->windows->len; i-- > 0;)
    {
      AsmRange w = g_array_index (s->windows, AsmRange, i);
      if (asm_arena_remove_span (s->space, w.first, w.last, NULL))
        {
          GError *err = NULL;
          if (!asm_arena_free (m->global, w.first, &err))
            g_error ("%s", err->message);
          g_array_remove_index (s->windows, i);
          changed = TRUE;
          {
            AsmFabricEvent e = { ASM_EVENT_WINDOW_SHRUNK, s->id };
            e.range = w;
            txn_event (t, &e, "switch '%s' gave window 0x%" G_GINT64_MODIFIER
                       "x-0x%" G_GINT64_MODIFIER "x back", s->name, w.first,
                       w.last);
          }
        }
    }
  if (changed)
    {
      Step *st = txn_step (t, ST_WINDOWS);
      st->sw = s->id;
      st->windows = windows_copy (s->windows);
      st->old_windows = g_steal_pointer (&old);
    }
}

typedef struct {
  guint64 size;
  guint64 align;
  guint64 demand;
  guint64 min_bandwidth;
  guint32 max_latency_ns;
  AsmId preferred;
  AsmId exclude;
  AsmId own;        /* the switch that already counts this demand and
                       table entry (a partition growing by relocation) */
  guint need_ports; /* free ports the devices moving along need */
  /* filled by choose_switch */
  FModel *m;
  gboolean global_can_grow;
  AsmId best;
  gdouble best_score;
  guint n_latency, n_bandwidth, n_table, n_space, n_ports;
} PlaceCtx;

static gboolean
score_switch (guint32 key, AsmPObj *o, gpointer data)
{
  PlaceCtx *c = data;
  FSwitch *s = (FSwitch *) o;
  AsmArenaStats st;
  gboolean fits = FALSE, grow = FALSE;
  guint64 wsize = 0, walign, align = MAX (c->align, c->m->granule);
  guint64 demand = s->id == c->own ? 0 : c->demand;
  guint32 entries = s->id == c->own ? 0 : 1;
  gdouble free_frac, bw_frac, score, window_bytes;

  if (s->id == c->exclude)
    return TRUE;
  if (c->max_latency_ns != 0 && s->latency_ns > c->max_latency_ns)
    {
      c->n_latency++;
      return TRUE;
    }
  if (s->bandwidth < c->min_bandwidth ||
      s->bandwidth - s->bandwidth_used < demand)
    {
      c->n_bandwidth++;
      return TRUE;
    }
  if (s->table_capacity - s->table_used < entries)
    {
      c->n_table++;
      return TRUE;
    }
  if (c->need_ports > 0 && s->id != c->own)
    {
      guint free_ports = 0;
      for (guint i = 0; i < s->n_ports; i++)
        free_ports += s->ports[i] == ASM_ID_NONE;
      if (free_ports < c->need_ports)
        {
          c->n_ports++;
          return TRUE;
        }
    }
  asm_arena_get_stats (s->space, &st);
  if (st.largest_free >= c->size &&
      st.largest_free - c->size >= align - c->m->granule)
    fits = TRUE;
  else if (st.largest_free >= c->size)
    {
      AsmRequest req = ASM_REQUEST_INIT (c->size);
      guint64 addr;
      req.align = align;
      fits = asm_arena_find_free (s->space, &req, &addr, NULL);
    }
  if (!fits)
    {
      if (s->pinned || !c->global_can_grow)
        {
          c->n_space++;
          return TRUE;
        }
      grow = TRUE;
      window_growth (c->m, c->size, c->align, &wsize, &walign);
    }
  if (s->id == c->preferred)
    {
      c->best = s->id;
      c->best_score = G_MAXDOUBLE;
      return FALSE; /* a qualifying preferred switch wins */
    }
  window_bytes = (gdouble) st.span_units + (gdouble) wsize;
  free_frac = window_bytes > 0
                  ? ((gdouble) st.free_units + (gdouble) wsize
                     - (gdouble) c->size) / window_bytes
                  : 0;
  bw_frac = s->bandwidth > 0 ? (gdouble) (s->bandwidth - s->bandwidth_used
                                          - demand)
                                   / (gdouble) s->bandwidth
                             : 0;
  score = 0.4 * free_frac + 0.4 * bw_frac + (grow ? 0.0 : 0.2)
          - (gdouble) s->latency_ns / 1e6;
  if (c->best == ASM_ID_NONE || score > c->best_score)
    {
      c->best = s->id;
      c->best_score = score;
    }
  return TRUE;
}

/* the devices of p that take a port of the switch it moves to */
static guint
partition_movers (FModel *m, const FPartition *p)
{
  guint n = 0;
  for (guint i = 0; i < p->devices->len; i++)
    {
      const FDevice *d = FDEV (m, g_array_index (p->devices, AsmId, i));
      n += d->kind != ASM_DEVICE_VF && d->redirect_sw == ASM_ID_NONE;
    }
  return n;
}

static gboolean
choose_switch (FModel *m, PlaceCtx *c, GError **error)
{
  guint64 wsize, walign, addr;
  AsmRequest wreq;

  c->m = m;
  c->best = ASM_ID_NONE;
  window_growth (m, c->size, c->align, &wsize, &walign);
  wreq = ASM_REQUEST_INIT (wsize);
  wreq.align = walign;
  c->global_can_grow = asm_arena_find_free (m->global, &wreq, &addr, NULL);
  asm_pmap_foreach (m->switches, score_switch, c);
  if (c->best == ASM_ID_NONE)
    {
      g_autofree char *ports_note =
          c->need_ports > 0 ? g_strdup_printf ("%u short of free ports, ",
                                               c->n_ports)
                            : g_strdup ("");
      g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                   "no switch can hold 0x%" G_GINT64_MODIFIER "x bytes: %u "
                   "too slow, %u short of bandwidth, %u with a full "
                   "translation table, %s%u without room (and the global "
                   "space %s grow a window)",
                   c->size, c->n_latency, c->n_bandwidth, c->n_table,
                   ports_note, c->n_space,
                   c->global_can_grow ? "can" : "cannot");
      return FALSE;
    }
  return TRUE;
}

static void
workload_insert_partition (FModel *m, FWorkload *w, FPartition *p)
{
  guint pos = 0;
  while (pos < w->partitions->len &&
         FPART (m, g_array_index (w->partitions, AsmId, pos))->virt_first
             < p->virt_first)
    pos++;
  g_array_insert_val (w->partitions, pos, p->id);
}

static void
workload_remove_partition (FWorkload *w, AsmId id)
{
  for (guint i = 0; i < w->partitions->len; i++)
    if (g_array_index (w->partitions, AsmId, i) == id)
      {
        g_array_remove_index (w->partitions, i);
        return;
      }
}

static guint32
lowest_free_port (const FSwitch *s)
{
  for (guint32 i = 0; i < s->n_ports; i++)
    if (s->ports[i] == ASM_ID_NONE)
      return i;
  return G_MAXUINT32;
}

typedef struct {
  FModel *m;
  AsmId pf;
  AsmId sw;
  guint32 port;
} FollowCtx;

static gboolean
vf_follow_cb (guint32 key, AsmPObj *o, gpointer data)
{
  FollowCtx *c = data;
  FDevice *d = (FDevice *) o;
  if (d->kind == ASM_DEVICE_VF && d->pf == c->pf)
    {
      d = FDEV_W (c->m, key);
      d->sw = c->sw;
      d->port = c->port;
    }
  return TRUE;
}

typedef struct {
  AsmId pf;
  AsmId partition;  /* the partition moving with the PF, or 0 */
  const FDevice *blocker;
} PfMoveCtx;

static gboolean
pf_move_cb (guint32 key, AsmPObj *o, gpointer data)
{
  PfMoveCtx *c = data;
  const FDevice *d = (const FDevice *) o;
  if (d->kind == ASM_DEVICE_VF && d->pf == c->pf &&
      (d->redirect_sw != ASM_ID_NONE ||
       (d->partition != ASM_ID_NONE && d->partition != c->partition)))
    {
      c->blocker = d;
      return FALSE;
    }
  return TRUE;
}

/* A PF can change switch only if each of its VFs can follow it: a VF
 * mapped into another partition, or routed by its own table entry after a
 * transfer, would be left behind a switch that does not reach it. */
static gboolean
pf_can_move (FModel *m, const FDevice *pf, AsmId moving_partition,
             GError **error)
{
  PfMoveCtx c = { pf->id, moving_partition, NULL };

  if (pf->kind != ASM_DEVICE_PF || pf->vf_used == 0)
    return TRUE;
  asm_pmap_foreach (m->devices, pf_move_cb, &c);
  if (c.blocker == NULL)
    return TRUE;
  g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
               "PF '%s' cannot change switch: its VF '%s' %s", pf->name,
               c.blocker->name,
               c.blocker->redirect_sw != ASM_ID_NONE
                   ? "is routed by its own table entry on this switch"
                   : "is mapped into another partition");
  return FALSE;
}

/* Moves device `id` (an endpoint or a PF) from its port to port `port` of
 * the writable switch `to` (its old switch is made writable here): the
 * unbind and bind steps, the port maps, and its VFs, which live where
 * their PF is. */
static void
move_device (FModel *m, Txn *t, AsmId id, FSwitch *to, guint32 port)
{
  FDevice *d = FDEV_W (m, id);
  FSwitch *from = FSW_W (m, d->sw);
  Step *st;

  st = txn_step (t, ST_UNBIND);
  st->device = d->id;
  st->name = g_strdup (d->name);
  st->sw = from->id;
  st->port = d->port;
  st = txn_step (t, ST_BIND);
  st->device = d->id;
  st->name = g_strdup (d->name);
  st->sw = to->id;
  st->port = port;
  from->ports[d->port] = ASM_ID_NONE;
  to->ports[port] = d->id;
  d->sw = to->id;
  d->port = port;
  if (d->kind == ASM_DEVICE_PF && d->vf_used != 0)
    {
      /* collect first: the walk must not see the map change under it */
      g_autoptr (GArray) ids = asm_pmap_keys (m->devices);
      FollowCtx c = { m, d->id, to->id, port };
      for (guint i = 0; i < ids->len; i++)
        {
          guint32 key = g_array_index (ids, guint32, i);
          vf_follow_cb (key, asm_pmap_get (m->devices, key), &c);
        }
    }
}

/* ------------------------------------------------------------------ */
/* plans                                                                */

static gboolean
plan_add_switch (AsmFabric *f, FModel *m, Txn *t, GError **error)
{
  OpArgs *a = t->args;
  FSwitch *s;
  AsmId id;
  Step *st;
  g_autoptr (GArray) ids = asm_pmap_keys (m->switches);

  if (a->str == NULL || a->str[0] == '\0')
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "a switch needs a name");
      return FALSE;
    }
  for (guint i = 0; i < ids->len; i++)
    if (strcmp (FSW (m, g_array_index (ids, guint32, i))->name, a->str) == 0)
      {
        g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                     "switch name '%s' is already used", a->str);
        return FALSE;
      }
  if (a->n[0] == 0 || a->n[2] == 0 || a->n[3] > 65536 || a->n[1] > G_MAXUINT32
      || a->n[2] > G_MAXUINT32)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "switch '%s': bandwidth %" G_GUINT64_FORMAT ", table "
                   "capacity %" G_GUINT64_FORMAT " and %" G_GUINT64_FORMAT
                   " ports: bandwidth and capacity must be >= 1, ports at "
                   "most 65536", a->str, a->n[0], a->n[2], a->n[3]);
      return FALSE;
    }
  if (!new_id (m, &id, error))
    return FALSE;
  s = asm_fswitch_new ();
  s->id = id;
  s->name = g_strdup (a->str);
  s->bandwidth = a->n[0];
  s->latency_ns = (guint32) a->n[1];
  s->table_capacity = (guint32) a->n[2];
  s->n_ports = (guint32) a->n[3];
  s->pinned = a->flag;
  s->space = asm_arena_new (s->name, m->granule);
  s->ports = g_new0 (AsmId, MAX (s->n_ports, 1));
  asm_pmap_insert (m->switches, id, &s->obj);
  st = txn_step (t, ST_SWITCH_ADD);
  st->sw = id;
  st->name = g_strdup (s->name);
  st->n_ports = s->n_ports;
  st->capacity = s->table_capacity;
  t->out_id = id;
  t->desc = g_strdup_printf ("add switch '%s'", s->name);
  {
    AsmFabricEvent e = { ASM_EVENT_SWITCH_ADDED, id };
    txn_event (t, &e, "switch '%s' (id %u) joined", s->name, id);
  }
  return TRUE;
}

static gboolean
plan_add_window (AsmFabric *f, FModel *m, Txn *t, GError **error)
{
  OpArgs *a = t->args;
  FSwitch *s = get_switch (m, a->id1, error);
  guint64 first = a->n[0], last = a->n[1];
  AsmRange win = ASM_RANGE (first, last);

  if (s == NULL)
    return FALSE;
  if (first > last || (first & (m->granule - 1)) ||
      ((last + 1) & (m->granule - 1)))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "window 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
                   "x is empty or not on granule (0x%" G_GINT64_MODIFIER
                   "x) boundaries", first, last, m->granule);
      return FALSE;
    }
  {
    if (!asm_fmodel_alloc_exact (m->global, first, last - first + 1))
      {
        g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                     "window 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
                     "x is outside the global space or overlaps a window or "
                     "a reserved range", first, last);
        return FALSE;
      }
  }
  s = FSW_W (m, a->id1);
  t->desc = g_strdup_printf ("add window to switch '%s'", s->name);
  return switch_attach_window (t, s, win, "got window", error);
}

static gboolean
plan_reserve_global (AsmFabric *f, FModel *m, Txn *t, GError **error)
{
  t->desc = g_strdup ("reserve global range");
  return asm_arena_reserve (m->global, t->args->n[0], t->args->n[1], error);
}

static gboolean
plan_add_device (AsmFabric *f, FModel *m, Txn *t, GError **error)
{
  OpArgs *a = t->args;
  FSwitch *s = get_switch (m, a->id1, error);
  FDevice *d;
  AsmId id;
  guint32 port = (guint32) a->n[2];
  Step *st;

  if (s == NULL)
    return FALSE;
  if (a->str == NULL || a->str[0] == '\0')
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "a device needs a name");
      return FALSE;
    }
  if (a->n[0] != ASM_DEVICE_ENDPOINT && a->n[0] != ASM_DEVICE_PF)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "device '%s': kind %" G_GUINT64_FORMAT " cannot be added "
                   "(VFs come from asm_fabric_create_vf())", a->str, a->n[0]);
      return FALSE;
    }
  if (!is_pow2 (a->n[1]))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "device '%s': BAR size 0x%" G_GINT64_MODIFIER "x is not a "
                   "power of two", a->str, a->n[1]);
      return FALSE;
    }
  if (a->n[2] >= s->n_ports || s->ports[port] != ASM_ID_NONE)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                   "device '%s': port %" G_GUINT64_FORMAT " of switch '%s' "
                   "is out of range 0..%u or taken", a->str, a->n[2], s->name,
                   s->n_ports ? s->n_ports - 1 : 0);
      return FALSE;
    }
  if (!new_id (m, &id, error))
    return FALSE;
  s = FSW_W (m, a->id1);
  d = asm_fdevice_new ();
  d->id = id;
  d->name = g_strdup (a->str);
  d->kind = (AsmDeviceKind) a->n[0];
  d->sw = s->id;
  d->port = port;
  d->bar_size = a->n[1];
  s->ports[port] = id;
  asm_pmap_insert (m->devices, id, &d->obj);
  st = txn_step (t, ST_BIND);
  st->device = id;
  st->name = g_strdup (d->name);
  st->sw = s->id;
  st->port = port;
  t->out_id = id;
  t->desc = g_strdup_printf ("add device '%s'", d->name);
  return TRUE;
}

static gboolean
plan_set_sriov (AsmFabric *f, FModel *m, Txn *t, GError **error)
{
  OpArgs *a = t->args;
  FDevice *d = get_device (m, a->id1, error);

  if (d == NULL)
    return FALSE;
  if (d->kind != ASM_DEVICE_PF || a->n[0] > 64 || !is_pow2 (a->n[1]) ||
      d->vf_used != 0)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "device %u: SR-IOV needs a PF without VFs, at most 64 VFs "
                   "(%" G_GUINT64_FORMAT " asked) and a power-of-two VF BAR "
                   "(0x%" G_GINT64_MODIFIER "x asked)", d->id, a->n[0],
                   a->n[1]);
      return FALSE;
    }
  d = FDEV_W (m, a->id1);
  d->max_vfs = (guint32) a->n[0];
  d->vf_bar_size = a->n[1];
  t->desc = g_strdup_printf ("enable SR-IOV on '%s'", d->name);
  return TRUE;
}

/* Adds a new VF under the PF to the model and the VF_CREATE step. */
static FDevice *
vf_new (FModel *m, Txn *t, AsmId pf_id, GError **error)
{
  FDevice *pf = FDEV (m, pf_id), *vf;
  guint32 index;
  AsmId id;
  Step *st;

  for (index = 0; index < pf->max_vfs; index++)
    if (!(pf->vf_used & (G_GUINT64_CONSTANT (1) << index)))
      break;
  if (index >= pf->max_vfs)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                   "PF '%s' has all its %u VFs", pf->name, pf->max_vfs);
      return NULL;
    }
  if (!new_id (m, &id, error))
    return NULL;
  pf = FDEV_W (m, pf_id);
  pf->vf_used |= G_GUINT64_CONSTANT (1) << index;
  vf = asm_fdevice_new ();
  vf->id = id;
  vf->name = g_strdup_printf ("%s-vf%u", pf->name, index);
  vf->kind = ASM_DEVICE_VF;
  vf->sw = pf->sw;
  vf->port = pf->port;
  vf->bar_size = pf->vf_bar_size;
  vf->pf = pf->id;
  vf->vf_index = index;
  asm_pmap_insert (m->devices, id, &vf->obj);
  st = txn_step (t, ST_VF_CREATE);
  st->device = id;
  st->pf = pf->id;
  st->vf_index = index;
  st->sw = pf->sw;
  return vf;
}

static gboolean
plan_create_vf (AsmFabric *f, FModel *m, Txn *t, GError **error)
{
  FDevice *pf = get_device (m, t->args->id1, error), *vf;

  if (pf == NULL)
    return FALSE;
  if (pf->kind != ASM_DEVICE_PF)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "device '%s' is not an SR-IOV PF", pf->name);
      return FALSE;
    }
  vf = vf_new (m, t, pf->id, error);
  if (vf == NULL)
    return FALSE;
  t->out_id = vf->id;
  t->desc = g_strdup_printf ("create VF %u of '%s'", vf->vf_index, pf->name);
  return TRUE;
}

static gboolean
plan_add_workload (AsmFabric *f, FModel *m, Txn *t, GError **error)
{
  FWorkload *w;
  AsmId id;

  if (t->args->str == NULL || t->args->str[0] == '\0')
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "a workload needs a name");
      return FALSE;
    }
  if (!new_id (m, &id, error))
    return FALSE;
  w = asm_fworkload_new (m->granule);
  w->id = id;
  w->name = g_strdup (t->args->str);
  asm_pmap_insert (m->workloads, id, &w->obj);
  t->out_id = id;
  t->desc = g_strdup_printf ("add workload '%s'", w->name);
  return TRUE;
}

static Step *
push_xlat_set (Txn *t, AsmId sw, const AsmXlatEntry *entry,
               const AsmXlatEntry *old)
{
  Step *st = txn_step (t, ST_XLAT_SET);
  st->sw = sw;
  st->entry = *entry;
  if (old != NULL)
    {
      st->old_entry = *old;
      st->has_old = TRUE;
    }
  return st;
}

static Step *
push_xlat_remove (Txn *t, AsmId sw, const AsmXlatEntry *old)
{
  Step *st = txn_step (t, ST_XLAT_REMOVE);
  st->sw = sw;
  st->entry = *old;
  st->old_entry = *old;
  st->has_old = TRUE;
  return st;
}

static gboolean
validate_size (FModel *m, const char *what, guint64 size, guint64 align,
               GError **error)
{
  if (size == 0 || (size & (m->granule - 1)) ||
      size > ASM_FABRIC_VIRT_ALIGN)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s size 0x%" G_GINT64_MODIFIER "x is not a non-zero "
                   "multiple of the granule 0x%" G_GINT64_MODIFIER "x up to "
                   "0x%" G_GINT64_MODIFIER "x", what, size, m->granule,
                   ASM_FABRIC_VIRT_ALIGN);
      return FALSE;
    }
  if (align != 0 && !is_pow2 (align))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s alignment 0x%" G_GINT64_MODIFIER "x is not a power "
                   "of two", what, align);
      return FALSE;
    }
  return TRUE;
}

static gboolean
plan_request_partition (AsmFabric *f, FModel *m, Txn *t, GError **error)
{
  OpArgs *a = t->args;
  FWorkload *w = get_workload (m, a->id1, error);
  PlaceCtx c = { 0 };
  FSwitch *s;
  FPartition *p;
  AsmRequest vreq;
  AsmXlatEntry entry;
  AsmId id;

  if (w == NULL || !validate_size (m, "partition", a->n[0], a->n[1], error))
    return FALSE;
  if (a->id2 != ASM_ID_NONE && get_switch (m, a->id2, error) == NULL)
    return FALSE;
  c.size = a->n[0];
  c.align = a->n[1];
  c.min_bandwidth = a->n[2];
  c.max_latency_ns = (guint32) MIN (a->n[3], G_MAXUINT32);
  c.demand = a->n[4] ? a->n[4] : a->n[2];
  c.preferred = a->id2;
  if (!choose_switch (m, &c, error) || !new_id (m, &id, error))
    return FALSE;

  p = asm_fpartition_new ();
  p->id = id;
  p->workload = w->id;
  p->sw = c.best;
  p->size = c.size;
  p->align = c.align;
  p->min_bandwidth = c.min_bandwidth;
  p->max_latency_ns = c.max_latency_ns;
  p->bandwidth_demand = c.demand;
  /* on failure the whole clone is thrown away, partition included */
  asm_pmap_insert (m->partitions, id, &p->obj);
  s = FSW_W (m, c.best);
  if (!switch_place (m, t, s, p->size, p->align, &p->phys_first, error))
    return FALSE;
  w = FWL_W (m, w->id);
  vreq = ASM_REQUEST_INIT (p->size);
  vreq.align = ASM_FABRIC_VIRT_ALIGN;
  if (!asm_arena_alloc_full (w->virt, &vreq, &p->virt_first, error))
    {
      g_prefix_error (error, "workload '%s': ", w->name);
      return FALSE;
    }
  workload_insert_partition (m, w, p);
  s->bandwidth_used += p->bandwidth_demand;
  s->table_used++;
  s->n_partitions++;
  asm_fpartition_entry (p, &entry);
  push_xlat_set (t, s->id, &entry, NULL);
  t->out_id = id;
  t->out_u64 = p->virt_first;
  t->desc = g_strdup_printf ("place partition %u of workload '%s' on switch "
                             "'%s'", id, w->name, s->name);
  {
    AsmFabricEvent e = { ASM_EVENT_PARTITION_PLACED, s->id };
    e.partition = id;
    e.range = ASM_RANGE (p->phys_first, p->phys_first + p->size - 1);
    txn_event (t, &e, "partition %u (0x%" G_GINT64_MODIFIER "x bytes) of "
               "'%s' placed on '%s' at 0x%" G_GINT64_MODIFIER "x", id,
               p->size, w->name, s->name, p->phys_first);
  }
  return TRUE;
}

static gboolean
plan_map_device (AsmFabric *f, FModel *m, Txn *t, GError **error)
{
  OpArgs *a = t->args;
  FPartition *p = get_partition (m, a->id1, error);
  FDevice *d = p ? get_device (m, a->id2, error) : NULL;
  guint64 offset;

  if (d == NULL)
    return FALSE;
  if (d->partition != ASM_ID_NONE)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                   "device '%s' is already mapped into partition %u", d->name,
                   d->partition);
      return FALSE;
    }
  offset = round_up (p->dev_next, d->bar_size);
  if (offset < p->dev_next || offset > p->size ||
      p->size - offset < d->bar_size)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                   "partition %u (0x%" G_GINT64_MODIFIER "x bytes, 0x%"
                   G_GINT64_MODIFIER "x used) has no room for the 0x%"
                   G_GINT64_MODIFIER "x-byte BAR of '%s'", p->id, p->size,
                   p->dev_next, d->bar_size, d->name);
      return FALSE;
    }
  if (d->sw != p->sw)
    {
      FSwitch *to;
      guint32 port;

      if (d->kind == ASM_DEVICE_VF)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "VF '%s' lives on switch %u with its PF and cannot be "
                       "mapped into partition %u on switch %u; transfer it "
                       "with asm_fabric_transfer_vf()", d->name, d->sw, p->id,
                       p->sw);
          return FALSE;
        }
      if (!pf_can_move (m, d, ASM_ID_NONE, error))
        return FALSE;
      to = FSW (m, p->sw);
      port = lowest_free_port (to);
      if (port == G_MAXUINT32)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                       "switch '%s' has no free port for device '%s'",
                       to->name, d->name);
          return FALSE;
        }
      move_device (m, t, d->id, FSW_W (m, p->sw), port);
    }
  d = FDEV_W (m, d->id);
  p = FPART_W (m, p->id);
  d->partition = p->id;
  d->partition_offset = offset;
  p->dev_next = offset + d->bar_size;
  g_array_append_val (p->devices, d->id);
  p->generation++;
  t->out_u64 = offset;
  t->desc = g_strdup_printf ("map device '%s' into partition %u", d->name,
                             p->id);
  {
    AsmFabricEvent e = { ASM_EVENT_DEVICE_MAPPED, p->sw };
    e.partition = p->id;
    e.device = d->id;
    txn_event (t, &e, "device '%s' mapped into partition %u at offset 0x%"
               G_GINT64_MODIFIER "x", d->name, p->id, offset);
  }
  return TRUE;
}

/* Moves partition p (with new size `size`) to switch `to`, which may be its
 * own switch (a move inside it): the steps of seed 000's migration. */
static gboolean
plan_relocate (FModel *m, Txn *t, AsmId pid, AsmId to_id, guint64 size,
               GError **error)
{
  FPartition *p = FPART (m, pid);
  FSwitch *from, *to;
  guint64 phys;
  AsmXlatEntry old_entry, new_entry;
  AsmRange old_range = ASM_RANGE (p->phys_first, p->phys_first + p->size - 1);
  g_autoptr (GArray) movers = g_array_new (FALSE, FALSE, sizeof (AsmId));
  gboolean same = to_id == p->sw;
  GError *err = NULL;

  to = FSW (m, to_id);
  if (!same)
    {
      guint free_ports = 0;
      if (to->bandwidth - to->bandwidth_used < p->bandwidth_demand ||
          to->table_used >= to->table_capacity ||
          (p->max_latency_ns && to->latency_ns > p->max_latency_ns) ||
          to->bandwidth < p->min_bandwidth)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                       "switch '%s' cannot take partition %u: bandwidth, "
                       "latency or translation-table room", to->name, p->id);
          return FALSE;
        }
      for (guint i = 0; i < p->devices->len; i++)
        {
          FDevice *d = FDEV (m, g_array_index (p->devices, AsmId, i));
          if (d->redirect_sw != ASM_ID_NONE)
            continue; /* routed by its own entry elsewhere */
          if (d->kind == ASM_DEVICE_VF)
            {
              FDevice *pf = FDEV (m, d->pf);
              if (pf->partition != p->id)
                {
                  g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                               "partition %u holds VF '%s' whose PF stays on "
                               "switch %u; transfer the VF instead", p->id,
                               d->name, d->sw);
                  return FALSE;
                }
              continue; /* moves with its PF */
            }
          if (!pf_can_move (m, d, p->id, error))
            return FALSE;
          g_array_append_val (movers, d->id);
        }
      for (guint i = 0; i < to->n_ports; i++)
        free_ports += to->ports[i] == ASM_ID_NONE;
      if (free_ports < movers->len)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                       "switch '%s' has %u free ports, partition %u needs %u",
                       to->name, free_ports, p->id, movers->len);
          return FALSE;
        }
    }

  /* 1. lock: hold every device of the partition */
  for (guint i = 0; i < p->devices->len; i++)
    {
      Step *st = txn_step (t, ST_HOLD);
      st->device = g_array_index (p->devices, AsmId, i);
      st->partition = p->id;
    }

  /* 2-3. collect the devices (above) and build the new map */
  from = FSW_W (m, p->sw);
  if (!asm_arena_free (from->space, p->phys_first, &err))
    g_error ("%s", err->message);
  to = FSW_W (m, to_id);
  if (!switch_place (m, t, to, size, p->align, &phys, error))
    return FALSE;
  asm_fpartition_entry (p, &old_entry);
  p = FPART_W (m, pid);
  p->phys_first = phys;
  p->size = size;
  p->sw = to_id;
  p->generation++;
  asm_fpartition_entry (p, &new_entry);

  /* 4. broadcast: the new entry, the devices, the old entry away */
  push_xlat_set (t, to_id, &new_entry, same ? &old_entry : NULL);
  if (!same)
    {
      for (guint i = 0; i < movers->len; i++)
        move_device (m, t, g_array_index (movers, AsmId, i), to,
                     lowest_free_port (to));
      from = FSW_W (m, from->id);
      push_xlat_remove (t, from->id, &old_entry);
      from->bandwidth_used -= p->bandwidth_demand;
      from->table_used--;
      from->n_partitions--;
      to->bandwidth_used += p->bandwidth_demand;
      to->table_used++;
      to->n_partitions++;
    }
  /* 5. flush what the old switch cached */
  {
    Step *st = txn_step (t, ST_FLUSH);
    st->sw = from->id;
    st->range = old_range;
  }
  /* 6. re-associate (the model above); give empty windows back */
  switch_shrink (m, t, FSW_W (m, from->id));
  /* 7. unlock */
  for (guint i = 0; i < p->devices->len; i++)
    {
      AsmId dev = g_array_index (p->devices, AsmId, i);
      FDevice *d = FDEV (m, dev);
      Step *st = txn_step (t, ST_RELEASE);
      MovedNote note = { dev, d->redirect_sw ? d->redirect_sw : p->sw,
                         d->redirect_sw ? d->redirect_base
                                        : p->phys_first + d->partition_offset };
      st->device = dev;
      g_array_append_val (t->moved, note);
      g_array_append_val (t->resumed, dev);
    }
  return TRUE;
}

static gboolean
plan_migrate (AsmFabric *f, FModel *m, Txn *t, GError **error)
{
  OpArgs *a = t->args;
  FPartition *p = get_partition (m, a->id1, error);
  AsmId from, to = a->id2;

  if (p == NULL)
    return FALSE;
  from = p->sw;
  if (to == ASM_ID_NONE)
    {
      PlaceCtx c = { 0 };
      c.size = p->size;
      c.align = p->align;
      c.min_bandwidth = p->min_bandwidth;
      c.max_latency_ns = p->max_latency_ns;
      c.demand = p->bandwidth_demand;
      c.exclude = p->sw;
      c.need_ports = partition_movers (m, p);
      if (!choose_switch (m, &c, error))
        {
          g_prefix_error (error, "migrate partition %u: ", p->id);
          return FALSE;
        }
      to = c.best;
    }
  else if (get_switch (m, to, error) == NULL)
    return FALSE;
  if (to == from)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "partition %u is already on switch %u", p->id, to);
      return FALSE;
    }
  if (!plan_relocate (m, t, p->id, to, p->size, error))
    return FALSE;
  t->out_id = to;
  t->desc = g_strdup_printf ("migrate partition %u from switch '%s' to '%s'",
                             p->id, FSW (m, from)->name, FSW (m, to)->name);
  {
    AsmFabricEvent e = { ASM_EVENT_PARTITION_MIGRATED, to, from, p->id };
    p = FPART (m, p->id);
    e.range = ASM_RANGE (p->phys_first, p->phys_first + p->size - 1);
    txn_event (t, &e, "partition %u migrated from '%s' to '%s' (physical 0x%"
               G_GINT64_MODIFIER "x, virtual 0x%" G_GINT64_MODIFIER "x "
               "unchanged)", p->id, FSW (m, from)->name, FSW (m, to)->name,
               p->phys_first, p->virt_first);
  }
  return TRUE;
}

static gboolean
plan_grow (AsmFabric *f, FModel *m, Txn *t, GError **error)
{
  OpArgs *a = t->args;
  FPartition *p = get_partition (m, a->id1, error);
  guint64 new_size = a->n[0];
  FWorkload *w;
  FSwitch *s;
  AsmRequest req;
  guint64 addr;
  AsmId from;

  if (p == NULL || !validate_size (m, "partition", new_size, 0, error))
    return FALSE;
  if (new_size <= p->size)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "partition %u: new size 0x%" G_GINT64_MODIFIER "x is not "
                   "above its size 0x%" G_GINT64_MODIFIER "x", p->id,
                   new_size, p->size);
      return FALSE;
    }
  /* the virtual range grows in place, always (VIRT_ALIGN spacing) */
  w = FWL_W (m, p->workload);
  req = ASM_REQUEST_INIT (new_size);
  req.min = p->virt_first;
  req.max = p->virt_first + new_size - 1;
  if (!asm_arena_move (w->virt, p->virt_first, &req, &addr, error))
    {
      g_prefix_error (error, "partition %u: ", p->id);
      return FALSE;
    }
  from = p->sw;
  s = FSW_W (m, p->sw);
  req.min = p->phys_first;
  req.max = p->phys_first + new_size - 1;
  req.align = MAX (p->align, m->granule);
  if (asm_arena_move (s->space, p->phys_first, &req, &addr, NULL))
    {
      AsmXlatEntry old_entry, entry;
      asm_fpartition_entry (p, &old_entry);
      p = FPART_W (m, p->id);
      p->size = new_size;
      p->generation++;
      asm_fpartition_entry (p, &entry);
      push_xlat_set (t, s->id, &entry, &old_entry);
      t->out_id = s->id;
      t->desc = g_strdup_printf ("grow partition %u in place to 0x%"
                                 G_GINT64_MODIFIER "x", p->id, new_size);
    }
  else
    {
      /* elsewhere: the best switch, its own included */
      PlaceCtx c = { 0 };
      c.size = new_size;
      c.align = p->align;
      c.min_bandwidth = p->min_bandwidth;
      c.max_latency_ns = p->max_latency_ns;
      c.demand = p->bandwidth_demand;
      c.own = from;
      c.need_ports = partition_movers (m, p);
      if (!choose_switch (m, &c, error))
        {
          g_prefix_error (error, "grow partition %u: ", p->id);
          return FALSE;
        }
      if (!plan_relocate (m, t, p->id, c.best, new_size, error))
        return FALSE;
      t->out_id = c.best;
      t->desc = g_strdup_printf ("grow partition %u to 0x%" G_GINT64_MODIFIER
                                 "x by moving it to switch '%s'", p->id,
                                 new_size, FSW (m, c.best)->name);
    }
  {
    AsmFabricEvent e = { ASM_EVENT_PARTITION_GROWN };
    p = FPART (m, p->id);
    e.switch_id = p->sw;
    e.old_switch_id = from;
    e.partition = p->id;
    e.range = ASM_RANGE (p->phys_first, p->phys_first + p->size - 1);
    txn_event (t, &e, "partition %u grew to 0x%" G_GINT64_MODIFIER "x bytes "
               "on '%s'", p->id, p->size, FSW (m, p->sw)->name);
  }
  return TRUE;
}

/* drops a device's redirect: its base and its table entry */
static void
drop_redirect (FModel *m, Txn *t, FDevice *d)
{
  FSwitch *rs = FSW_W (m, d->redirect_sw);
  AsmXlatEntry old;
  GError *err = NULL;

  asm_fdevice_entry (m, d, &old);
  push_xlat_remove (t, rs->id, &old);
  if (!asm_arena_free (rs->space, d->redirect_base, &err))
    g_error ("%s", err->message);
  rs->table_used--;
  switch_shrink (m, t, rs);
}

static gboolean
plan_release (AsmFabric *f, FModel *m, Txn *t, GError **error)
{
  FPartition *p = get_partition (m, t->args->id1, error);
  FSwitch *s;
  FWorkload *w;
  AsmXlatEntry entry;
  GError *err = NULL;
  Step *st;

  if (p == NULL)
    return FALSE;
  asm_fpartition_entry (p, &entry);
  s = FSW_W (m, p->sw);
  push_xlat_remove (t, s->id, &entry);
  for (guint i = 0; i < p->devices->len; i++)
    {
      FDevice *d = FDEV_W (m, g_array_index (p->devices, AsmId, i));
      if (d->redirect_sw != ASM_ID_NONE)
        drop_redirect (m, t, d);
      d->partition = ASM_ID_NONE;
      d->partition_offset = 0;
      d->redirect_sw = ASM_ID_NONE;
      d->redirect_base = 0;
    }
  st = txn_step (t, ST_FLUSH);
  st->sw = s->id;
  st->range = ASM_RANGE (p->phys_first, p->phys_first + p->size - 1);
  s = FSW_W (m, p->sw);
  if (!asm_arena_free (s->space, p->phys_first, &err))
    g_error ("%s", err->message);
  s->bandwidth_used -= p->bandwidth_demand;
  s->table_used--;
  s->n_partitions--;
  w = FWL_W (m, p->workload);
  if (!asm_arena_free (w->virt, p->virt_first, &err))
    g_error ("%s", err->message);
  workload_remove_partition (w, p->id);
  t->desc = g_strdup_printf ("release partition %u", p->id);
  {
    AsmFabricEvent e = { ASM_EVENT_PARTITION_RELEASED, s->id };
    e.partition = p->id;
    e.range = ASM_RANGE (p->phys_first, p->phys_first + p->size - 1);
    txn_event (t, &e, "partition %u released; 0x%" G_GINT64_MODIFIER
               "x bytes of '%s' reclaimed", p->id, p->size, s->name);
  }
  asm_pmap_remove (m->partitions, p->id);
  switch_shrink (m, t, s);
  return TRUE;
}

/* Seed 003: function transfer using virtualized mapping. */
static gboolean
plan_transfer_vf (AsmFabric *f, FModel *m, Txn *t, GError **error)
{
  OpArgs *a = t->args;
  FDevice *vf = get_device (m, a->id1, error), *target, *nvf, *opf;
  FPartition *p;
  FSwitch *s2;
  guint64 base, virt;
  AsmXlatEntry entry;
  Step *st;

  if (vf == NULL || (target = get_device (m, a->id2, error)) == NULL)
    return FALSE;
  if (vf->kind != ASM_DEVICE_VF || vf->partition == ASM_ID_NONE)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "device '%s' is not a VF mapped into a partition",
                   vf->name);
      return FALSE;
    }
  if (target->kind != ASM_DEVICE_PF || target->id == vf->pf ||
      target->vf_bar_size != vf->bar_size)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "device '%s' is not another SR-IOV PF with %"
                   G_GUINT64_FORMAT "-byte VF BARs", target->name,
                   vf->bar_size);
      return FALSE;
    }
  p = FPART (m, vf->partition);
  virt = p->virt_first + vf->partition_offset;

  /* 1. create the second VF on the second device */
  nvf = vf_new (m, t, target->id, error);
  if (nvf == NULL)
    return FALSE;
  /* 2. its base, from its place in the topology: the lowest free range of
   * its size, naturally aligned, in the windows of its PF's switch */
  s2 = FSW (m, nvf->sw);
  if (s2->table_used >= s2->table_capacity)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                   "switch '%s' has no free translation entry", s2->name);
      return FALSE;
    }
  s2 = FSW_W (m, nvf->sw);
  if (!switch_place (m, t, s2, round_up (nvf->bar_size, m->granule),
                     nvf->bar_size, &base, error))
    return FALSE;
  s2->table_used++;
  /* 3. the offset */
  nvf = FDEV_W (m, nvf->id);
  nvf->partition = p->id;
  nvf->partition_offset = vf->partition_offset;
  nvf->redirect_sw = s2->id;
  nvf->redirect_base = base;
  asm_fdevice_entry (m, nvf, &entry);
  g_assert (entry.virt_first == virt);
  /* 4. hold the driver */
  st = txn_step (t, ST_HOLD);
  st->device = vf->id;
  st->partition = p->id;
  /* 5. store the offset in the translation table */
  push_xlat_set (t, s2->id, &entry, NULL);
  if (vf->redirect_sw != ASM_ID_NONE)
    drop_redirect (m, t, FDEV_W (m, vf->id));
  /* 6. lift the hold; the first VF goes away */
  st = txn_step (t, ST_RELEASE);
  st->device = vf->id;
  st = txn_step (t, ST_VF_DESTROY);
  st->device = vf->id;
  st->pf = vf->pf;
  st->vf_index = vf->vf_index;
  st->sw = vf->sw;
  opf = FDEV_W (m, vf->pf);
  opf->vf_used &= ~(G_GUINT64_CONSTANT (1) << vf->vf_index);
  p = FPART_W (m, p->id);
  for (guint i = 0; i < p->devices->len; i++)
    if (g_array_index (p->devices, AsmId, i) == vf->id)
      g_array_index (p->devices, AsmId, i) = nvf->id;
  p->generation++;
  /* 7. route by the offset: published with the model */
  {
    MovedNote note = { nvf->id, s2->id, base };
    g_array_append_val (t->moved, note);
    g_array_append_val (t->resumed, nvf->id);
  }
  t->out_id = nvf->id;
  t->desc = g_strdup_printf ("transfer VF '%s' to PF '%s'", vf->name,
                             target->name);
  {
    AsmFabricEvent e = { ASM_EVENT_VF_TRANSFERRED, s2->id, vf->sw };
    e.partition = p->id;
    e.device = nvf->id;
    e.range = ASM_RANGE (base, base + nvf->bar_size - 1);
    txn_event (t, &e, "VF '%s' transferred to '%s' on '%s': virtual 0x%"
               G_GINT64_MODIFIER "x now routes to 0x%" G_GINT64_MODIFIER
               "x (offset 0x%" G_GINT64_MODIFIER "x)", vf->name, nvf->name,
               s2->name, virt, base, entry.offset);
  }
  asm_pmap_remove (m->devices, vf->id);
  return TRUE;
}

/* Holt's double exponential smoothing with time-scaled trend */
#define PROFILE_ALPHA 0.5
#define PROFILE_BETA 0.3

static gboolean
plan_record_usage (AsmFabric *f, FModel *m, Txn *t, GError **error)
{
  OpArgs *a = t->args;
  FWorkload *w = get_workload (m, a->id1, error);
  gdouble y = (gdouble) a->n[0], time = a->d;

  if (w == NULL)
    return FALSE;
  if (!isfinite (time) || (w->n_samples > 0 && time <= w->last_time))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "workload '%s': sample time %g is not after the last "
                   "sample's %g", w->name, time, w->last_time);
      return FALSE;
    }
  w = FWL_W (m, w->id);
  if (w->n_samples == 0)
    {
      w->level = y;
      w->trend = 0;
    }
  else
    {
      gdouble dt = time - w->last_time;
      gdouble forecast = w->level + w->trend * dt;
      gdouble level = PROFILE_ALPHA * y + (1 - PROFILE_ALPHA) * forecast;
      if (w->n_samples == 1)
        w->trend = (y - w->level) / dt;
      else
        w->trend = PROFILE_BETA * (level - w->level) / dt
                   + (1 - PROFILE_BETA) * w->trend;
      w->level = w->n_samples == 1 ? y : level;
    }
  w->n_samples++;
  w->last_time = time;
  t->desc = g_strdup_printf ("record usage of '%s'", w->name);
  return TRUE;
}

static gboolean
plan_set_window_granule (AsmFabric *f, FModel *m, Txn *t, GError **error)
{
  guint64 v = t->args->n[0];
  if (!is_pow2 (v) || v < m->granule)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "window granule 0x%" G_GINT64_MODIFIER "x is not a power "
                   "of two >= the granule 0x%" G_GINT64_MODIFIER "x", v,
                   m->granule);
      return FALSE;
    }
  m->window_granule = v;
  t->desc = g_strdup ("set window granule");
  return TRUE;
}

static const struct {
  const char *op;
  PlanFunc plan;
} plans[] = {
  { "add_switch", plan_add_switch },
  { "add_window", plan_add_window },
  { "reserve_global", plan_reserve_global },
  { "add_device", plan_add_device },
  { "set_sriov", plan_set_sriov },
  { "create_vf", plan_create_vf },
  { "add_workload", plan_add_workload },
  { "request_partition", plan_request_partition },
  { "map_device", plan_map_device },
  { "grow", plan_grow },
  { "migrate", plan_migrate },
  { "release", plan_release },
  { "transfer_vf", plan_transfer_vf },
  { "record_usage", plan_record_usage },
  { "set_window_granule", plan_set_window_granule },
};

static PlanFunc
plan_lookup (const char *op)
{
  for (guint i = 0; i < G_N_ELEMENTS (plans); i++)
    if (strcmp (plans[i].op, op) == 0)
      return plans[i].plan;
  return NULL;
}

static gboolean
run_op (AsmFabric *f, OpArgs *args, AsmId *out_id, guint64 *out_u64,
        GError **error)
{
  return run_txn (f, args, plan_lookup (args->op), out_id, out_u64, error);
}

/* ------------------------------------------------------------------ */
/* public API: life cycle                                               */

static AsmFabric *
fabric_alloc (const char *name, FModel *m, AsmBackend *backend)
{
  AsmFabric *f = g_new0 (AsmFabric, 1);

  f->ref = 1;
  f->name = g_strdup (name);
  if (backend != NULL)
    {
      f->backend = asm_backend_ref (backend);
      f->ops = asm_backend_get_ops (backend);
      f->self = asm_backend_get_self (backend);
    }
  g_mutex_init (&f->write_lock);
  g_mutex_init (&f->current_lock);
  {
    static gsize next_serial;
    f->serial = (guint64) g_atomic_pointer_add (&next_serial, 1) + 1;
  }
  g_mutex_init (&f->obs_lock);
  f->observers = g_array_new (FALSE, FALSE, sizeof (Observer));
  f->next_observer = 1;
  f->current = m;
  return f;
}

/**
 * asm_fabric_new:
 * @name: a name for messages
 * @global_first: the first byte of the fabric's physical space
 * @global_last: its last byte (inclusive)
 * @granule: the unit of windows and partitions, a power of two (e.g. 2 MiB)
 * @backend: (nullable): how to reach hardware; %NULL keeps everything in
 *   the model only.  asm_sim_backend_new() is the embedded simulator.
 * @error: return location for a #GError
 *
 * Creates an empty fabric over the global space `[global_first,
 * global_last]`.  New windows are at least @granule bytes; see
 * asm_fabric_set_window_granule().
 *
 * Errors: %ASM_ERROR_INVALID when @granule is not a power of two or the
 * space is empty or not on granule boundaries.
 *
 * Returns: (transfer full) (nullable): the fabric
 *
 * Since: 0.1
 */
AsmFabric *
asm_fabric_new (const char *name, guint64 global_first, guint64 global_last,
                guint64 granule, AsmBackend *backend, GError **error)
{
  g_return_val_if_fail (name != NULL, NULL);

  if (!is_pow2 (granule) || global_first > global_last ||
      (global_first & (granule - 1)) || ((global_last + 1) & (granule - 1)))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: the global space 0x%" G_GINT64_MODIFIER "x-0x%"
                   G_GINT64_MODIFIER "x with granule 0x%" G_GINT64_MODIFIER
                   "x: the granule must be a power of two and the space "
                   "non-empty and on granule boundaries",
                   name, global_first, global_last, granule);
      return NULL;
    }
  return fabric_alloc (name, asm_fmodel_new (global_first, global_last,
                                             granule),
                       backend);
}

/**
 * asm_fabric_ref:
 * @fabric: a fabric
 *
 * Takes a reference on a fabric.
 *
 * Returns: (transfer full): @fabric
 *
 * Since: 0.1
 */
AsmFabric *
asm_fabric_ref (AsmFabric *fabric)
{
  g_return_val_if_fail (fabric != NULL, NULL);
  g_atomic_int_inc (&fabric->ref);
  return fabric;
}

/**
 * asm_fabric_unref:
 * @fabric: (nullable) (transfer full): a fabric
 *
 * Drops a reference; the last one frees the fabric (not the hardware
 * state: the backend keeps what it applied).
 *
 * Since: 0.1
 */
void
asm_fabric_unref (AsmFabric *fabric)
{
  if (fabric == NULL || !g_atomic_int_dec_and_test (&fabric->ref))
    return;
  asm_fmodel_unref (fabric->current);
  asm_backend_unref (fabric->backend);
  g_array_unref (fabric->observers);
  if (fabric->journal)
    fclose (fabric->journal);
  g_free (fabric->journal_path);
  g_mutex_clear (&fabric->write_lock);
  g_mutex_clear (&fabric->current_lock);
  g_mutex_clear (&fabric->obs_lock);
  g_free (fabric->name);
  g_free (fabric);
}

/**
 * asm_fabric_get_name:
 * @fabric: a fabric
 *
 * Gets the name of the fabric.
 *
 * Returns: (transfer none): its name
 *
 * Since: 0.1
 */
const char *
asm_fabric_get_name (AsmFabric *fabric)
{
  g_return_val_if_fail (fabric != NULL, NULL);
  return fabric->name;
}

/**
 * asm_fabric_get_backend:
 * @fabric: a fabric
 *
 * Gets the backend of the fabric.
 *
 * Returns: (transfer none) (nullable): its backend
 *
 * Since: 0.1
 */
AsmBackend *
asm_fabric_get_backend (AsmFabric *fabric)
{
  g_return_val_if_fail (fabric != NULL, NULL);
  return fabric->backend;
}

/* the published model, with a reference */
static FModel *
model_get (AsmFabric *f)
{
  FModel *m;
  g_mutex_lock (&f->current_lock);
  m = asm_fmodel_ref (f->current);
  g_mutex_unlock (&f->current_lock);
  return m;
}

/**
 * asm_fabric_get_granule:
 * @fabric: a fabric
 *
 * Gets the granule of the fabric.
 *
 * Returns: the unit of windows and partitions
 *
 * Since: 0.1
 */
guint64
asm_fabric_get_granule (AsmFabric *fabric)
{
  FModel *m;
  guint64 g;

  g_return_val_if_fail (fabric != NULL, 0);
  m = model_get (fabric);
  g = m->granule;
  asm_fmodel_unref (m);
  return g;
}

/**
 * asm_fabric_set_window_granule:
 * @fabric: a fabric
 * @bytes: a power of two >= the granule
 * @error: return location for a #GError
 *
 * Sets the smallest window a switch grows by.
 *
 * Errors: %ASM_ERROR_INVALID when @bytes is not a power of two at least
 * the fabric's granule; nothing changes then.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_set_window_granule (AsmFabric *fabric, guint64 bytes,
                               GError **error)
{
  OpArgs a = { "set_window_granule" };

  g_return_val_if_fail (fabric != NULL, FALSE);
  a.n[0] = bytes;
  return run_op (fabric, &a, NULL, NULL, error);
}

/* ------------------------------------------------------------------ */
/* public API: building                                                 */

/**
 * asm_fabric_reserve_global:
 * @fabric: a fabric
 * @first: first byte
 * @last: last byte (inclusive)
 * @error: return location for a #GError
 *
 * Takes `[first, last]` out of the global space (firmware, MMIO of the
 * root complex, ...): no window will ever cover it.
 *
 * Errors: as asm_arena_reserve().
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_reserve_global (AsmFabric *fabric, guint64 first, guint64 last,
                           GError **error)
{
  OpArgs a = { "reserve_global" };
  g_return_val_if_fail (fabric != NULL, FALSE);
  a.n[0] = first;
  a.n[1] = last;
  return run_op (fabric, &a, NULL, NULL, error);
}

/**
 * asm_fabric_add_switch:
 * @fabric: a fabric
 * @spec: the switch
 * @out_id: (out) (optional): its id
 * @error: return location for a #GError
 *
 * Adds a switch with no window yet (windows grow on demand, or are given
 * with asm_fabric_add_window() for a pinned switch).
 *
 * Errors: %ASM_ERROR_INVALID for an empty or duplicate name, zero
 * bandwidth or table capacity, more than 65536 ports; %ASM_ERROR_BACKEND
 * when the backend refuses it.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_add_switch (AsmFabric *fabric, const AsmSwitchSpec *spec,
                       AsmId *out_id, GError **error)
{
  OpArgs a = { "add_switch" };

  g_return_val_if_fail (fabric != NULL && spec != NULL, FALSE);
  a.str = (char *) spec->name;
  a.n[0] = spec->bandwidth;
  a.n[1] = spec->latency_ns;
  a.n[2] = spec->table_capacity;
  a.n[3] = spec->n_ports;
  a.flag = spec->pinned;
  return run_op (fabric, &a, out_id, NULL, error);
}

/**
 * asm_fabric_add_window:
 * @fabric: a fabric
 * @sw: a switch
 * @first: first byte of the window
 * @last: last byte (inclusive)
 * @error: return location for a #GError
 *
 * Gives switch @sw the window `[first, last]` of the global space, as
 * firmware would for a pinned switch.
 *
 * Errors: %ASM_ERROR_NOT_FOUND for an unknown switch; %ASM_ERROR_INVALID
 * for a range not on granule boundaries; %ASM_ERROR_IN_USE when the range
 * is not free in the global space.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_add_window (AsmFabric *fabric, AsmId sw, guint64 first,
                       guint64 last, GError **error)
{
  OpArgs a = { "add_window" };
  g_return_val_if_fail (fabric != NULL, FALSE);
  a.id1 = sw;
  a.n[0] = first;
  a.n[1] = last;
  return run_op (fabric, &a, NULL, NULL, error);
}

/**
 * asm_fabric_add_device:
 * @fabric: a fabric
 * @name: the device's name
 * @kind: %ASM_DEVICE_ENDPOINT or %ASM_DEVICE_PF
 * @bar_size: its BAR size, a power of two
 * @sw: the switch it is bound to
 * @port: the port
 * @out_id: (out) (optional): its id
 * @error: return location for a #GError
 *
 * Adds a device and binds it to `@sw:@port` through the backend.
 *
 * Errors: %ASM_ERROR_INVALID, %ASM_ERROR_NOT_FOUND, %ASM_ERROR_IN_USE (port
 * taken or out of range), %ASM_ERROR_BACKEND.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_add_device (AsmFabric *fabric, const char *name,
                       AsmDeviceKind kind, guint64 bar_size, AsmId sw,
                       guint32 port, AsmId *out_id, GError **error)
{
  OpArgs a = { "add_device" };
  g_return_val_if_fail (fabric != NULL, FALSE);
  a.str = (char *) name;
  a.n[0] = kind;
  a.n[1] = bar_size;
  a.id1 = sw;
  a.n[2] = port;
  return run_op (fabric, &a, out_id, NULL, error);
}

/**
 * asm_fabric_set_sriov:
 * @fabric: a fabric
 * @pf: a device of kind %ASM_DEVICE_PF without VFs
 * @max_vfs: at most 64
 * @vf_bar_size: the BAR size of each VF, a power of two
 * @error: return location for a #GError
 *
 * Declares a PF's SR-IOV capability.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_set_sriov (AsmFabric *fabric, AsmId pf, guint32 max_vfs,
                      guint64 vf_bar_size, GError **error)
{
  OpArgs a = { "set_sriov" };
  g_return_val_if_fail (fabric != NULL, FALSE);
  a.id1 = pf;
  a.n[0] = max_vfs;
  a.n[1] = vf_bar_size;
  return run_op (fabric, &a, NULL, NULL, error);
}

/**
 * asm_fabric_create_vf:
 * @fabric: a fabric
 * @pf: an SR-IOV PF
 * @out_vf: (out) (optional): the new VF's id
 * @error: return location for a #GError
 *
 * Creates the PF's lowest free VF.
 *
 * Errors: %ASM_ERROR_INVALID when @pf is not a PF; %ASM_ERROR_NO_SPACE when
 * all its VFs exist; %ASM_ERROR_BACKEND.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_create_vf (AsmFabric *fabric, AsmId pf, AsmId *out_vf,
                      GError **error)
{
  OpArgs a = { "create_vf" };
  g_return_val_if_fail (fabric != NULL, FALSE);
  a.id1 = pf;
  return run_op (fabric, &a, out_vf, NULL, error);
}

/**
 * asm_fabric_add_workload:
 * @fabric: a fabric
 * @name: its name
 * @out_id: (out) (optional): its id
 * @error: return location for a #GError
 *
 * Adds a workload: a user of partitions with its own virtual space.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_add_workload (AsmFabric *fabric, const char *name, AsmId *out_id,
                         GError **error)
{
  OpArgs a = { "add_workload" };
  g_return_val_if_fail (fabric != NULL, FALSE);
  a.str = (char *) name;
  return run_op (fabric, &a, out_id, NULL, error);
}

/* ------------------------------------------------------------------ */
/* public API: operations                                               */

/**
 * asm_fabric_request_partition:
 * @fabric: a fabric
 * @workload: the workload
 * @req: size, alignment and performance needs
 * @out_partition: (out) (optional): the partition's id
 * @out_virt: (out) (optional): its first virtual address, stable for its
 *   whole life
 * @error: return location for a #GError
 *
 * Places a new partition on the switch the placement score chooses (see
 * the theory comment in asm-fabric.c), growing that switch's windows from
 * the global space if needed, and programs the switch's translation table.
 *
 * Errors: %ASM_ERROR_INVALID (size not a multiple of the granule or above
 * 1 TiB, bad alignment), %ASM_ERROR_NOT_FOUND, %ASM_ERROR_NO_SPACE (no
 * switch qualifies; the message counts the reasons), %ASM_ERROR_BACKEND
 * (a step failed and was undone).  Nothing changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_request_partition (AsmFabric *fabric, AsmId workload,
                              const AsmPartitionRequest *req,
                              AsmId *out_partition, guint64 *out_virt,
                              GError **error)
{
  OpArgs a = { "request_partition" };
  g_return_val_if_fail (fabric != NULL && req != NULL, FALSE);
  a.id1 = workload;
  a.id2 = req->preferred_switch;
  a.n[0] = req->size;
  a.n[1] = req->align;
  a.n[2] = req->min_bandwidth;
  a.n[3] = req->max_latency_ns;
  a.n[4] = req->bandwidth_demand;
  return run_op (fabric, &a, out_partition, out_virt, error);
}

/**
 * asm_fabric_map_device:
 * @fabric: a fabric
 * @partition: a partition
 * @device: a device not mapped yet
 * @out_offset: (out) (optional): where its BAR starts inside the partition
 * @error: return location for a #GError
 *
 * Maps the device's BAR into the partition at the lowest offset aligned to
 * the BAR size above the devices mapped before.  A device bound to another
 * switch is moved to a free port of the partition's switch (unbind, bind).
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_map_device (AsmFabric *fabric, AsmId partition, AsmId device,
                       guint64 *out_offset, GError **error)
{
  OpArgs a = { "map_device" };
  g_return_val_if_fail (fabric != NULL, FALSE);
  a.id1 = partition;
  a.id2 = device;
  return run_op (fabric, &a, NULL, out_offset, error);
}

/**
 * asm_fabric_grow_partition:
 * @fabric: a fabric
 * @partition: a partition
 * @new_size: its new size, above the current one
 * @error: return location for a #GError
 *
 * Grows a partition: in place when the bytes after it in its window are
 * free, else by moving it (as asm_fabric_migrate_partition() does) to the
 * best switch with room, its own included.  Its virtual range grows in
 * place in every case.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_grow_partition (AsmFabric *fabric, AsmId partition,
                           guint64 new_size, GError **error)
{
  OpArgs a = { "grow" };
  g_return_val_if_fail (fabric != NULL, FALSE);
  a.id1 = partition;
  a.n[0] = new_size;
  return run_op (fabric, &a, NULL, NULL, error);
}

/**
 * asm_fabric_migrate_partition:
 * @fabric: a fabric
 * @partition: a partition
 * @target_switch: the switch to move it to, or %ASM_ID_NONE to let the
 *   placement score choose among the others
 * @error: return location for a #GError
 *
 * Moves a partition and its devices to another switch, transparently: its
 * virtual addresses do not change.  The steps follow seed 000: hold the
 * devices' drivers, build the new map, program the new switch's table,
 * move the devices, remove the old entry, flush the old switch, give
 * emptied windows back, lift the holds.  Any failure undoes every applied
 * step and leaves the fabric as it was.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_migrate_partition (AsmFabric *fabric, AsmId partition,
                              AsmId target_switch, GError **error)
{
  OpArgs a = { "migrate" };
  g_return_val_if_fail (fabric != NULL, FALSE);
  a.id1 = partition;
  a.id2 = target_switch;
  return run_op (fabric, &a, NULL, NULL, error);
}

/**
 * asm_fabric_release_partition:
 * @fabric: a fabric
 * @partition: a partition
 * @error: return location for a #GError
 *
 * Releases a partition: its table entries go, its devices are unmapped
 * (they stay bound), its physical and virtual ranges return to their
 * arenas, and windows it leaves empty go back to the global space.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_release_partition (AsmFabric *fabric, AsmId partition,
                              GError **error)
{
  OpArgs a = { "release" };
  g_return_val_if_fail (fabric != NULL, FALSE);
  a.id1 = partition;
  return run_op (fabric, &a, NULL, NULL, error);
}

/**
 * asm_fabric_transfer_vf:
 * @fabric: a fabric
 * @vf: a VF mapped into a partition
 * @target_pf: another PF with the same VF BAR size
 * @out_new_vf: (out) (optional): the VF that takes its place
 * @error: return location for a #GError
 *
 * Function transfer using virtualized mapping (seed 003): creates a VF on
 * @target_pf, gives it a base from its place in the topology (the lowest
 * free naturally aligned range in its switch's windows), computes offset =
 * base - virtual, holds the driver, stores the offset in the translation
 * table of the new VF's switch, lifts the hold and destroys the old VF;
 * accesses to the same virtual addresses now reach the new VF.  Unlike the
 * patent, a failure at any step undoes the others: the hold is lifted with
 * the old mapping intact and the new VF is destroyed.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_transfer_vf (AsmFabric *fabric, AsmId vf, AsmId target_pf,
                        AsmId *out_new_vf, GError **error)
{
  OpArgs a = { "transfer_vf" };
  g_return_val_if_fail (fabric != NULL, FALSE);
  a.id1 = vf;
  a.id2 = target_pf;
  return run_op (fabric, &a, out_new_vf, NULL, error);
}

/**
 * asm_fabric_record_usage:
 * @fabric: a fabric
 * @workload: a workload
 * @time: the sample's time (any unit; strictly increasing per workload)
 * @bytes_used: the bytes the workload used then
 * @error: return location for a #GError
 *
 * Feeds the workload profiler: Holt's double exponential smoothing (level
 * weight 0.5, trend weight 0.3) with the trend per unit of time, so
 * samples need not be evenly spaced.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_record_usage (AsmFabric *fabric, AsmId workload, gdouble time,
                         guint64 bytes_used, GError **error)
{
  OpArgs a = { "record_usage" };
  g_return_val_if_fail (fabric != NULL, FALSE);
  a.id1 = workload;
  a.d = time;
  a.n[0] = bytes_used;
  return run_op (fabric, &a, NULL, NULL, error);
}

/**
 * asm_fabric_predict:
 * @fabric: a fabric
 * @workload: a workload with at least one sample
 * @horizon: how far after the last sample, in the samples' time unit
 * @out_bytes: (out): the predicted use (level + trend * horizon, at least 0)
 * @error: return location for a #GError
 *
 * Predicts the address space a workload will use @horizon after its last usage
 * sample, from the profiler's smoothed level and trend.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_predict (AsmFabric *fabric, AsmId workload, gdouble horizon,
                    guint64 *out_bytes, GError **error)
{
  FModel *m;
  FWorkload *w;
  gdouble v;

  g_return_val_if_fail (fabric != NULL && out_bytes != NULL, FALSE);
  m = model_get (fabric);
  w = get_workload (m, workload, error);
  if (w == NULL || w->n_samples == 0 || !isfinite (horizon) || horizon < 0)
    {
      if (w != NULL)
        g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                     "workload '%s': %s", w->name,
                     w->n_samples == 0 ? "no usage sample yet"
                                       : "the horizon must be >= 0");
      asm_fmodel_unref (m);
      return FALSE;
    }
  v = w->level + w->trend * horizon;
  *out_bytes = v <= 0 ? 0 : v >= 1.8e19 ? G_MAXUINT64 : (guint64) (v + 0.5);
  asm_fmodel_unref (m);
  return TRUE;
}

/**
 * asm_fabric_rebalance:
 * @fabric: a fabric
 * @horizon: how far ahead to plan, in the samples' time unit
 * @out_report: (out) (optional): what was done
 * @error: return location for a #GError
 *
 * For each workload, in id order, whose predicted use at @horizon exceeds
 * the bytes of its partitions, grows its largest partition (ties: the
 * lowest id) by the difference rounded up to the granule, in place or by
 * migration.  Each change is its own transaction; one that fails is
 * counted in @out_report and leaves no trace.
 *
 * Returns: %TRUE, failures of single changes being counted in
 *   @out_report; %FALSE with %ASM_ERROR_BACKEND only when a change could
 *   not be undone and the fabric needs asm_fabric_recover()
 *
 * Since: 0.1
 */
gboolean
asm_fabric_rebalance (AsmFabric *fabric, gdouble horizon,
                      AsmRebalanceReport *out_report, GError **error)
{
  AsmRebalanceReport rep = { 0 };
  FModel *m;
  g_autoptr (GArray) ids = NULL;

  g_return_val_if_fail (fabric != NULL, FALSE);
  m = model_get (fabric);
  ids = asm_pmap_keys (m->workloads);
  for (guint i = 0; i < ids->len; i++)
    {
      FWorkload *w = FWL (m, g_array_index (ids, guint32, i));
      guint64 predicted, have = 0, grow;
      AsmId largest = ASM_ID_NONE;
      guint64 largest_size = 0;
      AsmPartitionInfo before, after;

      rep.n_examined++;
      if (w->n_samples == 0 || w->partitions->len == 0 ||
          !asm_fabric_predict (fabric, w->id, horizon, &predicted, NULL))
        continue;
      for (guint j = 0; j < w->partitions->len; j++)
        {
          FPartition *p = FPART (m, g_array_index (w->partitions, AsmId, j));
          have += p->size;
          if (p->size > largest_size ||
              (p->size == largest_size && p->id < largest))
            largest = p->id, largest_size = p->size;
        }
      if (predicted <= have)
        continue;
      grow = round_up (predicted - have, m->granule);
      if (!asm_fabric_get_partition_info (fabric, largest, &before))
        continue; /* released since m was taken */
      {
        g_autoptr (GError) gerr = NULL;
        if (!asm_fabric_grow_partition (fabric, largest, largest_size + grow,
                                        &gerr))
          {
            gboolean broken;
            g_mutex_lock (&fabric->write_lock);
            broken = fabric->broken;
            g_mutex_unlock (&fabric->write_lock);
            if (broken)
              {
                /* an undo failed: stop, and say so */
                asm_fmodel_unref (m);
                if (out_report != NULL)
                  *out_report = rep;
                g_propagate_error (error, g_steal_pointer (&gerr));
                return FALSE;
              }
            rep.n_failed++;
            continue;
          }
      }
      if (!asm_fabric_get_partition_info (fabric, largest, &after))
        continue; /* released by another thread since it grew */
      if (after.switch_id == before.switch_id &&
          after.phys_first == before.phys_first)
        rep.n_grown++;
      else
        rep.n_migrated++;
    }
  asm_fmodel_unref (m);
  if (out_report != NULL)
    *out_report = rep;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* translate                                                            */

/* The model a translating thread reads.  Each thread keeps, for the last
 * fabric it translated through, a reference to the published model and the
 * generation it was published under; while the generation has not moved
 * it reads that model without writing anything shared (translate then
 * scales with threads), and after a publish it takes the new model once,
 * under current_lock.  The cost: a thread keeps the model it last used
 * alive until it translates again or exits. */
typedef struct {
  guint64 serial;   /* the fabric's, 0: none */
  gsize generation;
  FModel *model;    /* a reference */
} ReaderCache;

static void
reader_cache_free (gpointer data)
{
  ReaderCache *rc = data;
  asm_fmodel_unref (rc->model);
  g_free (rc);
}

static GPrivate reader_cache_key = G_PRIVATE_INIT (reader_cache_free);

static FModel *
reader_model (AsmFabric *f)
{
  ReaderCache *rc = g_private_get (&reader_cache_key);
  gsize generation = (gsize) g_atomic_pointer_get (&f->generation);
  FModel *old;

  if (G_LIKELY (rc != NULL && rc->serial == f->serial &&
                rc->generation == generation))
    return rc->model;
  if (rc == NULL)
    {
      rc = g_new0 (ReaderCache, 1);
      g_private_set (&reader_cache_key, rc);
    }
  old = rc->model;
  g_mutex_lock (&f->current_lock);
  rc->model = asm_fmodel_ref (f->current);
  rc->generation = f->generation;
  g_mutex_unlock (&f->current_lock);
  rc->serial = f->serial;
  asm_fmodel_unref (old);
  return rc->model;
}

/**
 * asm_fabric_translate:
 * @fabric: a fabric
 * @workload: a workload
 * @virt: one of its virtual addresses
 * @out: (out caller-allocates): where it goes
 * @error: return location for a #GError
 *
 * Where an access by @workload to @virt goes: the switch whose table
 * routes it, the physical address, and the device whose BAR it falls in.
 * Thread-safe and lock-light: it never waits for a transaction being
 * planned or applied, and it answers from the last published model, so it
 * sees the old mapping or the new one, never a mix; while a transaction
 * holds the partition's drivers, the answer is the old mapping with
 * @out->held set.
 *
 * Errors: %ASM_ERROR_NOT_FOUND when the workload does not exist or @virt
 * is in none of its partitions.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_translate (AsmFabric *fabric, AsmId workload, guint64 virt,
                      AsmTranslation *out, GError **error)
{
  FModel *m;
  FWorkload *w;
  FPartition *p = NULL;
  guint lo = 0, hi;
  gboolean ok = FALSE;

  g_return_val_if_fail (fabric != NULL && out != NULL, FALSE);
  m = reader_model (fabric);
  w = FWL (m, workload);
  if (w == NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                   "workload %u does not exist", workload);
      goto out;
    }
  hi = w->partitions->len;
  while (lo < hi)
    {
      guint mid = (lo + hi) / 2;
      FPartition *q = FPART (m, g_array_index (w->partitions, AsmId, mid));
      if (q->virt_first + (q->size - 1) < virt)
        lo = mid + 1;
      else
        hi = mid;
    }
  if (lo < w->partitions->len)
    p = FPART (m, g_array_index (w->partitions, AsmId, lo));
  if (p == NULL || p->virt_first > virt)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                   "workload '%s' has no partition at virtual 0x%"
                   G_GINT64_MODIFIER "x", w->name, virt);
      goto out;
    }
  out->partition = p->id;
  out->switch_id = p->sw;
  out->physical = p->phys_first + (virt - p->virt_first);
  out->device = ASM_ID_NONE;
  out->device_offset = 0;
  out->generation = p->generation;
  for (guint i = 0; i < p->devices->len; i++)
    {
      FDevice *d = FDEV (m, g_array_index (p->devices, AsmId, i));
      guint64 off = virt - p->virt_first;
      if (off >= d->partition_offset && off - d->partition_offset < d->bar_size)
        {
          out->device = d->id;
          out->device_offset = off - d->partition_offset;
          if (d->redirect_sw != ASM_ID_NONE)
            {
              out->switch_id = d->redirect_sw;
              out->physical = d->redirect_base + out->device_offset;
            }
          break;
        }
    }
  out->held = g_atomic_int_get (&p->held) > 0;
  ok = TRUE;
out:
  return ok;
}

/* ------------------------------------------------------------------ */
/* observers and drivers                                                */

/**
 * asm_fabric_set_driver_funcs:
 * @fabric: a fabric
 * @funcs: (nullable): the notifications; copied
 * @user_data: passed to them
 *
 * Sets the driver notifications (hold, resume, moved).  They run inside
 * transactions with the fabric's write lock held: they may call
 * asm_fabric_translate() and the getters but must not change the fabric.
 *
 * Since: 0.1
 */
void
asm_fabric_set_driver_funcs (AsmFabric *fabric, const AsmDriverFuncs *funcs,
                             gpointer user_data)
{
  g_return_if_fail (fabric != NULL);
  g_mutex_lock (&fabric->write_lock);
  if (funcs != NULL)
    fabric->drivers = *funcs;
  else
    memset (&fabric->drivers, 0, sizeof fabric->drivers);
  fabric->drivers_data = user_data;
  g_mutex_unlock (&fabric->write_lock);
}

/**
 * asm_fabric_add_observer:
 * @fabric: a fabric
 * @func: (scope forever): called for each event until
 *   asm_fabric_remove_observer()
 * @user_data: passed to @func
 *
 * Subscribes to the fabric's events.  Observers run after the change, with
 * no lock held, and may call any fabric function.
 *
 * Returns: an id for asm_fabric_remove_observer()
 *
 * Since: 0.1
 */
guint
asm_fabric_add_observer (AsmFabric *fabric, AsmFabricEventFunc func,
                         gpointer user_data)
{
  Observer o;

  g_return_val_if_fail (fabric != NULL && func != NULL, 0);
  g_mutex_lock (&fabric->obs_lock);
  o.id = fabric->next_observer++;
  o.func = func;
  o.user_data = user_data;
  g_array_append_val (fabric->observers, o);
  g_mutex_unlock (&fabric->obs_lock);
  return o.id;
}

/**
 * asm_fabric_remove_observer:
 * @fabric: a fabric
 * @observer_id: an id from asm_fabric_add_observer()
 *
 * Unsubscribes.
 *
 * Since: 0.1
 */
void
asm_fabric_remove_observer (AsmFabric *fabric, guint observer_id)
{
  g_return_if_fail (fabric != NULL);
  g_mutex_lock (&fabric->obs_lock);
  for (guint i = 0; i < fabric->observers->len; i++)
    if (g_array_index (fabric->observers, Observer, i).id == observer_id)
      {
        g_array_remove_index (fabric->observers, i);
        break;
      }
  g_mutex_unlock (&fabric->obs_lock);
}

/* ------------------------------------------------------------------ */
/* introspection                                                        */

typedef struct {
  const char *name;
  AsmId found;
} FindCtx;

static gboolean
find_switch_cb (guint32 key, AsmPObj *o, gpointer data)
{
  FindCtx *c = data;
  if (strcmp (((FSwitch *) o)->name, c->name) == 0)
    {
      c->found = key;
      return FALSE;
    }
  return TRUE;
}

/**
 * asm_fabric_find_switch:
 * @fabric: a fabric
 * @name: a switch name
 * @out_id: (out) (optional): its id
 *
 * Finds a switch by name, O(switches).
 *
 * Returns: %TRUE when found
 *
 * Since: 0.1
 */
gboolean
asm_fabric_find_switch (AsmFabric *fabric, const char *name, AsmId *out_id)
{
  FModel *m;
  FindCtx c = { name, ASM_ID_NONE };

  g_return_val_if_fail (fabric != NULL && name != NULL, FALSE);
  m = model_get (fabric);
  asm_pmap_foreach (m->switches, find_switch_cb, &c);
  asm_fmodel_unref (m);
  if (c.found != ASM_ID_NONE && out_id != NULL)
    *out_id = c.found;
  return c.found != ASM_ID_NONE;
}

/* Names handed out by the getters live as long as the fabric: they are
 * interned (switch and device names are few and never change). */
static const char *
intern (const char *s)
{
  return g_intern_string (s);
}

/**
 * asm_fabric_get_switch_info:
 * @fabric: a fabric
 * @sw: a switch
 * @out: (out caller-allocates): the snapshot
 *
 * Takes a snapshot of one switch.
 *
 * Returns: %FALSE when the switch does not exist
 *
 * Since: 0.1
 */
gboolean
asm_fabric_get_switch_info (AsmFabric *fabric, AsmId sw, AsmSwitchInfo *out)
{
  FModel *m;
  FSwitch *s;
  AsmArenaStats st;
  guint32 used = 0;

  g_return_val_if_fail (fabric != NULL && out != NULL, FALSE);
  m = model_get (fabric);
  s = FSW (m, sw);
  if (s == NULL)
    {
      asm_fmodel_unref (m);
      return FALSE;
    }
  asm_arena_get_stats (s->space, &st);
  for (guint i = 0; i < s->n_ports; i++)
    used += s->ports[i] != ASM_ID_NONE;
  out->id = s->id;
  out->name = intern (s->name);
  out->bandwidth = s->bandwidth;
  out->bandwidth_used = s->bandwidth_used;
  out->latency_ns = s->latency_ns;
  out->table_capacity = s->table_capacity;
  out->table_used = s->table_used;
  out->n_ports = s->n_ports;
  out->n_ports_used = used;
  out->pinned = s->pinned;
  out->n_windows = s->windows->len;
  out->window_bytes = st.span_units;
  out->free_bytes = st.free_units;
  out->n_partitions = s->n_partitions;
  asm_fmodel_unref (m);
  return TRUE;
}

/**
 * asm_fabric_get_switch_windows:
 * @fabric: a fabric
 * @sw: a switch
 *
 * Lists the address windows of a switch.
 *
 * Returns: (transfer full) (element-type AsmRange) (nullable): the
 *   switch's windows in address order, or %NULL for an unknown switch
 *
 * Since: 0.1
 */
GArray *
asm_fabric_get_switch_windows (AsmFabric *fabric, AsmId sw)
{
  FModel *m;
  FSwitch *s;
  GArray *w = NULL;

  g_return_val_if_fail (fabric != NULL, NULL);
  m = model_get (fabric);
  s = FSW (m, sw);
  if (s != NULL)
    w = g_array_copy (s->windows);
  asm_fmodel_unref (m);
  return w;
}

/**
 * asm_fabric_get_partition_info:
 * @fabric: a fabric
 * @partition: a partition
 * @out: (out caller-allocates): the snapshot
 *
 * Takes a snapshot of one partition.
 *
 * Returns: %FALSE when the partition does not exist
 *
 * Since: 0.1
 */
gboolean
asm_fabric_get_partition_info (AsmFabric *fabric, AsmId partition,
                               AsmPartitionInfo *out)
{
  FModel *m;
  FPartition *p;

  g_return_val_if_fail (fabric != NULL && out != NULL, FALSE);
  m = model_get (fabric);
  p = FPART (m, partition);
  if (p != NULL)
    {
      out->id = p->id;
      out->workload = p->workload;
      out->switch_id = p->sw;
      out->virt_first = p->virt_first;
      out->phys_first = p->phys_first;
      out->size = p->size;
      out->bandwidth_demand = p->bandwidth_demand;
      out->generation = p->generation;
      out->n_devices = p->devices->len;
    }
  asm_fmodel_unref (m);
  return p != NULL;
}

/**
 * asm_fabric_get_device_info:
 * @fabric: a fabric
 * @device: a device
 * @out: (out caller-allocates): the snapshot
 *
 * Takes a snapshot of one device.
 *
 * Returns: %FALSE when the device does not exist
 *
 * Since: 0.1
 */
gboolean
asm_fabric_get_device_info (AsmFabric *fabric, AsmId device,
                            AsmDeviceInfo *out)
{
  FModel *m;
  FDevice *d;

  g_return_val_if_fail (fabric != NULL && out != NULL, FALSE);
  m = model_get (fabric);
  d = FDEV (m, device);
  if (d != NULL)
    {
      out->id = d->id;
      out->name = intern (d->name);
      out->kind = d->kind;
      out->switch_id = d->sw;
      out->port = d->port;
      out->bar_size = d->bar_size;
      out->pf = d->pf;
      out->vf_index = d->vf_index;
      out->max_vfs = d->max_vfs;
      out->vf_bar_size = d->vf_bar_size;
      out->partition = d->partition;
      out->partition_offset = d->partition_offset;
    }
  asm_fmodel_unref (m);
  return d != NULL;
}

/**
 * asm_fabric_list:
 * @fabric: a fabric
 * @what: which kind of object
 *
 * Lists the ids of the fabric's objects of one kind.
 *
 * Returns: (transfer full) (element-type AsmId): the ids, in increasing
 *   order
 *
 * Since: 0.1
 */
GArray *
asm_fabric_list (AsmFabric *fabric, AsmFabricObjects what)
{
  FModel *m;
  AsmPMap *map = NULL;
  GArray *ids;

  g_return_val_if_fail (fabric != NULL, NULL);
  g_return_val_if_fail (what <= ASM_FABRIC_PARTITIONS, NULL);
  m = model_get (fabric);
  switch (what)
    {
    case ASM_FABRIC_SWITCHES:
      map = m->switches;
      break;
    case ASM_FABRIC_DEVICES:
      map = m->devices;
      break;
    case ASM_FABRIC_WORKLOADS:
      map = m->workloads;
      break;
    case ASM_FABRIC_PARTITIONS:
      map = m->partitions;
      break;
    }
  ids = asm_pmap_keys (map);
  asm_fmodel_unref (m);
  return ids;
}

typedef struct {
  FModel *m;
  AsmId sw;
  GArray *out;
} XlatCtx;

static gboolean
xlat_partition_cb (guint32 key, AsmPObj *o, gpointer data)
{
  XlatCtx *c = data;
  FPartition *p = (FPartition *) o;
  if (p->sw == c->sw)
    {
      AsmXlatEntry e;
      asm_fpartition_entry (p, &e);
      g_array_append_val (c->out, e);
    }
  return TRUE;
}

static gboolean
xlat_device_cb (guint32 key, AsmPObj *o, gpointer data)
{
  XlatCtx *c = data;
  FDevice *d = (FDevice *) o;
  if (d->redirect_sw == c->sw)
    {
      AsmXlatEntry e;
      asm_fdevice_entry (c->m, d, &e);
      g_array_append_val (c->out, e);
    }
  return TRUE;
}

static gint
entry_cmp (gconstpointer a, gconstpointer b)
{
  AsmId x = ((const AsmXlatEntry *) a)->key, y = ((const AsmXlatEntry *) b)->key;
  return x < y ? -1 : x > y;
}

/**
 * asm_fabric_get_xlat_table:
 * @fabric: a fabric
 * @sw: a switch
 *
 * The switch's translation table as the model has it.  O(partitions).
 *
 * Returns: (transfer full) (element-type AsmXlatEntry) (nullable): the
 *   entries sorted by key, or %NULL for an unknown switch
 *
 * Since: 0.1
 */
GArray *
asm_fabric_get_xlat_table (AsmFabric *fabric, AsmId sw)
{
  XlatCtx c;

  g_return_val_if_fail (fabric != NULL, NULL);
  c.m = model_get (fabric);
  c.sw = sw;
  c.out = NULL;
  if (FSW (c.m, sw) != NULL)
    {
      c.out = g_array_new (FALSE, FALSE, sizeof (AsmXlatEntry));
      asm_pmap_foreach (c.m->partitions, xlat_partition_cb, &c);
      asm_pmap_foreach (c.m->devices, xlat_device_cb, &c);
      g_array_sort (c.out, entry_cmp);
    }
  asm_fmodel_unref (c.m);
  return c.out;
}

/**
 * asm_fabric_get_global_stats:
 * @fabric: a fabric
 * @out: (out caller-allocates): the global arena's stats (windows are
 *   allocations, reserved ranges reservations)
 *
 * Gets the accounting of the fabric's global address space.
 *
 * Since: 0.1
 */
void
asm_fabric_get_global_stats (AsmFabric *fabric, AsmArenaStats *out)
{
  FModel *m;

  g_return_if_fail (fabric != NULL && out != NULL);
  m = model_get (fabric);
  asm_arena_get_stats (m->global, out);
  asm_fmodel_unref (m);
}

/**
 * asm_fabric_check:
 * @fabric: a fabric
 * @error: return location for a #GError
 *
 * Verifies every invariant of the published model: no two partitions
 * overlap physically or virtually; each lies inside its switch's windows;
 * windows are disjoint and inside the global space; table use within
 * capacity and equal to the entries; bandwidth within capacity; ports and
 * device mappings consistent.  O(n).
 *
 * Returns: %TRUE when consistent
 *
 * Since: 0.1
 */
gboolean
asm_fabric_check (AsmFabric *fabric, GError **error)
{
  FModel *m;
  gboolean ok;

  g_return_val_if_fail (fabric != NULL, FALSE);
  m = model_get (fabric);
  ok = asm_fmodel_check (m, error);
  asm_fmodel_unref (m);
  return ok;
}

/* ------------------------------------------------------------------ */
/* save, restore, journal, recover                                      */

/**
 * asm_fabric_save:
 * @fabric: a fabric
 * @out_length: (out) (optional): the length of the text
 *
 * The whole state as versioned JSON (see asm-fmodel.c for the format),
 * deterministic: the same state gives the same bytes, and
 * asm_fabric_save (asm_fabric_restore (x)) is x.  Records the journal
 * position, so that asm_fabric_recover() replays only what came after.
 *
 * Returns: (transfer full): the JSON text
 *
 * Since: 0.1
 */
char *
asm_fabric_save (AsmFabric *fabric, gsize *out_length)
{
  FModel *m;
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonGenerator) gen = NULL;
  guint64 seq;

  g_return_val_if_fail (fabric != NULL, NULL);
  g_mutex_lock (&fabric->write_lock);
  m = asm_fmodel_ref (fabric->current);
  seq = fabric->broken ? fabric->journal_closed : fabric->journal_seq;
  g_mutex_unlock (&fabric->write_lock);
  root = asm_fmodel_to_json (m, seq);
  asm_fmodel_unref (m);
  gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 1);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, out_length);
}

/**
 * asm_fabric_restore:
 * @json: text from asm_fabric_save()
 * @length: its length, or -1 when NUL-terminated
 * @backend: (nullable): the backend of the new fabric
 * @error: return location for a #GError
 *
 * Builds a fabric from saved JSON.  Every field is checked, unknown keys
 * are refused, and the result must satisfy every invariant of
 * asm_fabric_check(); errors name the JSON path.  The backend is not
 * programmed: it is expected to hold the state already (a restarted
 * process), see asm_fabric_recover().
 *
 * Errors: %ASM_ERROR_PARSE.
 *
 * Returns: (transfer full) (nullable): the fabric
 *
 * Since: 0.1
 */
AsmFabric *
asm_fabric_restore (const char *json, gssize length, AsmBackend *backend,
                    GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) err = NULL;
  FModel *m;
  guint64 seq = 0;
  AsmFabric *f;

  g_return_val_if_fail (json != NULL, NULL);
  if (!json_parser_load_from_data (parser, json, length, &err))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE, "not JSON: %s",
                   err->message);
      return NULL;
    }
  m = asm_fmodel_from_json (json_parser_get_root (parser), &seq, error);
  if (m == NULL)
    return NULL;
  f = fabric_alloc ("restored", m, backend);
  f->journal_seq = f->journal_closed = seq;
  return f;
}

/**
 * asm_fabric_set_journal:
 * @fabric: a fabric
 * @path: (nullable): a file to append transaction records to; %NULL stops
 *   journaling
 * @error: return location for a #GError
 *
 * Journals every transaction (see the theory comment in asm-fabric.c) so a
 * process that dies mid-transaction can be recovered from its last save.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_set_journal (AsmFabric *fabric, const char *path, GError **error)
{
  FILE *fp = NULL;

  g_return_val_if_fail (fabric != NULL, FALSE);
  if (path != NULL)
    {
      fp = fopen (path, "a");
      if (fp == NULL)
        {
          int e = errno;
          g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                       "cannot open journal '%s': %s", path, g_strerror (e));
          return FALSE;
        }
    }
  g_mutex_lock (&fabric->write_lock);
  if (fabric->journal != NULL)
    fclose (fabric->journal);
  fabric->journal = fp;
  g_free (fabric->journal_path);
  fabric->journal_path = g_strdup (path);
  g_mutex_unlock (&fabric->write_lock);
  return TRUE;
}

/**
 * asm_fabric_recover:
 * @fabric: a fabric restored from its last save
 * @journal_path: the journal it wrote
 * @error: return location for a #GError
 *
 * Brings a restored fabric and its backend back in line after a crash:
 * replays (model only) the operations committed after the save, and undoes
 * on the backend, in reverse, the steps of an operation that neither
 * committed nor finished undoing.  The fabric then holds the state before
 * that operation, or after it if it had committed.  The journal must be
 * the one the crashed fabric wrote; records up to the save are skipped.
 *
 * Errors: %ASM_ERROR_PARSE for a damaged journal, %ASM_ERROR_FAILED when a
 * committed operation does not replay, %ASM_ERROR_BACKEND when an undo
 * fails.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_recover (AsmFabric *fabric, const char *journal_path,
                    GError **error)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GError) err = NULL;
  guint64 seq0;
  /* the operation being read: its arguments and steps */
  JsonNode *pending_args = NULL;
  GArray *pending_steps = NULL;
  gboolean ok = TRUE;

  g_return_val_if_fail (fabric != NULL && journal_path != NULL, FALSE);
  if (!g_file_get_contents (journal_path, &text, NULL, &err))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                   "cannot read journal: %s", err->message);
      return FALSE;
    }
  g_mutex_lock (&fabric->write_lock);
  seq0 = fabric->journal_seq;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL && ok; i++)
    {
      g_autoptr (JsonParser) parser = NULL;
      JsonObject *rec;
      const char *type;
      gint64 seq;

      if (lines[i][0] == '\0')
        continue;
      parser = json_parser_new ();
      if (!json_parser_load_from_data (parser, lines[i], -1, NULL) ||
          !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        {
          /* a torn last line is what a crash leaves; anything else is
           * damage */
          if (lines[i + 1] == NULL || lines[i + 1][0] == '\0')
            break;
          g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                       "journal line %u is not a JSON object", i + 1);
          ok = FALSE;
          break;
        }
      rec = json_node_get_object (json_parser_get_root (parser));
      seq = json_object_get_int_member_with_default (rec, "seq", -1);
      type = json_object_get_string_member_with_default (rec, "type", "");
      if (seq < 0 || (guint64) seq <= seq0)
        continue;
      fabric->journal_seq = (guint64) seq;
      if (strcmp (type, "begin") == 0)
        {
          if (pending_args)
            json_node_unref (pending_args);
          if (pending_steps)
            g_array_unref (pending_steps);
          pending_args = json_node_copy (json_object_get_member (rec, "data"));
          pending_steps = g_array_new (FALSE, TRUE, sizeof (Step));
          g_array_set_clear_func (pending_steps, (GDestroyNotify) step_clear);
        }
      else if (strcmp (type, "step") == 0 && pending_steps != NULL)
        {
          Step s;
          JsonNode *d = json_object_get_member (rec, "data");
          if (d == NULL || !JSON_NODE_HOLDS_OBJECT (d) ||
              !step_from_json (json_node_get_object (d), &s))
            {
              step_clear (&s);
              g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                           "journal line %u: a step that cannot be read",
                           i + 1);
              ok = FALSE;
              break;
            }
          g_array_append_val (pending_steps, s);
        }
      else if (strcmp (type, "commit") == 0 && pending_args != NULL)
        {
          /* replay the committed operation on the model only */
          OpArgs a;
          g_autofree char *op = NULL;
          PlanFunc plan;
          FModel *next;
          Txn t;

          if (!JSON_NODE_HOLDS_OBJECT (pending_args) ||
              !args_from_json (json_node_get_object (pending_args), &a, &op) ||
              (plan = plan_lookup (op)) == NULL)
            {
              g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                           "journal line %u: an unknown operation", i + 1);
              ok = FALSE;
              break;
            }
          txn_init (&t, &a);
          next = asm_fmodel_clone (fabric->current);
          if (!plan (fabric, next, &t, &err))
            {
              g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                           "journal line %u: committed operation %s does not "
                           "replay: %s", i + 1, op, err->message);
              asm_fmodel_unref (next);
              ok = FALSE;
            }
          else
            publish (fabric, next, &t);
          g_free (a.str);
          txn_clear (&t);
          json_node_unref (pending_args);
          pending_args = NULL;
          g_array_unref (pending_steps);
          pending_steps = NULL;
        }
      else if (strcmp (type, "undone") == 0)
        {
          if (pending_args)
            json_node_unref (pending_args);
          pending_args = NULL;
          if (pending_steps)
            g_array_unref (pending_steps);
          pending_steps = NULL;
        }
    }
  /* A process that died inside xlat_begin..xlat_commit left that table
   * update open, whether or not the journal saw the step finish: abort
   * any open update on every switch (xlat_abort cannot fail and is a
   * no-op when nothing is open). */
  if (ok && has_cap (fabric, ASM_BACKEND_CAP_TRANSLATION) &&
      fabric->ops->xlat_abort != NULL)
    {
      g_autoptr (GArray) ids = asm_pmap_keys (fabric->current->switches);
      for (guint j = 0; j < ids->len; j++)
        fabric->ops->xlat_abort (fabric->self, g_array_index (ids, guint32, j));
      for (guint j = 0; pending_steps != NULL && j < pending_steps->len; j++)
        {
          Step *s = &g_array_index (pending_steps, Step, j);
          if (s->kind == ST_XLAT_SET || s->kind == ST_XLAT_REMOVE)
            fabric->ops->xlat_abort (fabric->self, s->sw);
        }
    }
  if (ok && pending_steps != NULL)
    {
      /* an interrupted transaction: undo every step it may have run */
      if (fabric->ops != NULL && fabric->ops->undo_begin != NULL)
        fabric->ops->undo_begin (fabric->self);
      for (guint j = pending_steps->len; j-- > 0;)
        {
          g_autoptr (GError) uerr = NULL;
          Step *s = &g_array_index (pending_steps, Step, j);
          if (s->kind == ST_HOLD)
            s->partition = ASM_ID_NONE; /* nothing is held in this process */
          if (!step_undo (fabric, s, &uerr))
            {
              if (ok)
                g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                             "recovery: undo of %s failed: %s",
                             step_names[s->kind],
                             uerr ? uerr->message : "no reason given");
              ok = FALSE;
            }
        }
      if (fabric->ops != NULL && fabric->ops->transaction_end != NULL)
        fabric->ops->transaction_end (fabric->self, FALSE);
      if (ok)
        journal_write (fabric, "undone", NULL);
    }
  if (pending_args)
    json_node_unref (pending_args);
  if (pending_steps)
    g_array_unref (pending_steps);
  if (ok)
    {
      fabric->broken = FALSE;
      fabric->journal_closed = fabric->journal_seq;
    }
  g_mutex_unlock (&fabric->write_lock);
  return ok;
}
