/* asm-fmodel.c: the fabric's model: objects, O(1) copies, invariants
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * An FModel is one complete, self-consistent state of a fabric: the global
 * arena (the fabric's physical space), and the switches, devices,
 * workloads and partitions in persistent maps (asm-pmap.c), plus an index
 * of switch names.  asm_fmodel_clone() is O(1): it clones the arena and
 * the maps; objects are copied one by one when a clone writes them
 * (FSW_W() and friends), and an object copy clones its arenas (O(1)) and
 * copies its small arrays.  So a transaction plans on a private model
 * while readers keep using the published one, and throwing a plan away
 * costs nothing but the copies it made.  Its saved form is in asm-fjson.c.
 *
 * Intervals are inclusive [first, last]; sizes are bytes >= 1; ids are
 * dense from 1 (0 is ASM_ID_NONE) and never reused.
 *
 * Invariants (asm_fmodel_check() verifies each and names it when broken)
 *
 *   F1 identity: every object is stored under its own id, below next_id;
 *      every id an object names (switch, workload, partition, PF) exists.
 *   F2 windows: a switch's windows are sorted and disjoint, each is its
 *      own allocation in the global arena, and they are exactly the spans
 *      of the switch's space; the global arena has no other allocation
 *      (its reservations are the holes: firmware, the root complex).
 *   F3 partitions: a partition's physical range is its own allocation in
 *      its switch's space; its virtual slot, the ASM_FABRIC_VIRT_ALIGN
 *      bytes from its (so aligned) first virtual address, is its own
 *      allocation in its workload's virtual arena, and holds its virtual
 *      range (which grows in place inside it); the workload lists its
 *      partitions in virtual order and its virtual arena holds nothing
 *      else.
 *   F4 mappings: a partition lists each mapped device once; each lies
 *      inside the part given out (offset + BAR <= dev_next <= size) and
 *      names the partition back; a mapped device is behind the partition's
 *      switch unless it is redirected (F6).
 *   F5 ports: a port holds the endpoint or PF that sits there, and every
 *      endpoint or PF sits on a port of its switch; a VF sits where its PF
 *      does, with its index marked used in the PF.
 *   F6 redirects: a redirected VF (moved by asm_fabric_transfer_vf()) is
 *      mapped, and routed by the switch it is behind, through its own
 *      table entry and its own allocation of whole granules in that
 *      switch's space.
 *   F7 accounting: a switch's bandwidth use is the sum of its partitions'
 *      demands and within its bandwidth; its table use counts its
 *      partitions and redirects and is within capacity; n_partitions
 *      counts its partitions.
 *   F8 names: the name index lists every switch once, in the bucket of its
 *      name's hash, and nothing else; switch names are unique.
 *   F9 reclamation: a draining switch holds no window, partition or
 *      translation entry.  (Every planner that frees space in a switch
 *      gives the windows it empties back in the same transaction, so a
 *      switch that is not pinned holds a window without anything in it
 *      only when asm_fabric_add_window() gave it one explicitly.)
 *
 * Costs (n objects of a kind, S switches, W windows, P partitions of one
 * workload, D devices in one partition; "path" is a persistent-map write,
 * O(32 log32 n) with a copy of the object)
 *
 *   operation              planning                         steps
 *   add_switch             path + name bucket               1
 *   add_window             O(log W)                         1
 *   reserve_global         O(log W)                         0
 *   add_device             path                             1
 *   set_sriov, create_vf   path                             0 or 1
 *   add_workload           path                             0
 *   request_partition      O(S log W) score + O(log P)      1 or 2
 *   map_device             path; a PF that moves: O(n dev)  0 or 2+
 *   grow_partition         O(log) in place; else as migrate 1 or more
 *   migrate_partition      O(S log W) without a target      4 + 3 per device
 *                          + O(D) devices
 *   release_partition      O(D + log W)                     2+
 *   transfer_vf            O(log W)                         5 or 6
 *   record_usage           path                             0
 *   unmap_device           O(D)                             0, or 1-3 for
 *                                                           a redirected VF
 *   shrink_partition       O(D + log W)                     2
 *   destroy_vf             path                             1
 *   remove_device          path                             1
 *   drain_switch           O(n partitions) to find them,    as migrate, per
 *                          then as migrate for each one     partition, + 2
 *   remove_switch          path + name bucket               1
 *   remove_workload        as release, per partition        as release
 *   migrate_workload       O(S log W) once + as migrate     as migrate
 *                          for each partition that moves
 *   translate (reader)     O(log P + D), no lock held
 *   clone                  O(1);  check  O(n)
 */
#include "asm-fmodel-private.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* objects                                                              */

/* Copies *src into *dst from `first_field` on, leaving out the reference
 * count before it: other threads may change that count (atomically) while
 * we copy, and a plain read of it would be a data race.  The caller sets
 * the copy's count. */
#define COPY_BODY(dst, src, type, first_field)                                \
  memcpy ((char *) (dst) + G_STRUCT_OFFSET (type, first_field),               \
          (const char *) (src) + G_STRUCT_OFFSET (type, first_field),         \
          sizeof (type) - G_STRUCT_OFFSET (type, first_field))

static AsmPObj *
fswitch_copy (const AsmPObj *o)
{
  const FSwitch *s = (const FSwitch *) o;
  FSwitch *c = g_new (FSwitch, 1);

  COPY_BODY (c, s, FSwitch, id);
  c->name = g_strdup (s->name);
  c->windows = g_array_copy (s->windows);
  c->space = asm_arena_clone (s->space, s->name);
  c->ports = g_memdup2 (s->ports, sizeof (AsmId) * MAX (s->n_ports, 1));
  return &c->obj;
}

void
asm_fswitch_free (AsmPObj *o)
{
  FSwitch *s = (FSwitch *) o;
  g_free (s->name);
  g_array_unref (s->windows);
  asm_arena_unref (s->space);
  g_free (s->ports);
  g_free (s);
}

FSwitch *
asm_fswitch_new (void)
{
  FSwitch *s = g_new0 (FSwitch, 1);
  s->obj.ref = 1;
  s->windows = g_array_new (FALSE, FALSE, sizeof (AsmRange));
  return s;
}

static AsmPObj *
fdevice_copy (const AsmPObj *o)
{
  FDevice *c = g_new (FDevice, 1);
  COPY_BODY (c, (const FDevice *) o, FDevice, id);
  c->name = g_strdup (((const FDevice *) o)->name);
  return &c->obj;
}

void
asm_fdevice_free (AsmPObj *o)
{
  g_free (((FDevice *) o)->name);
  g_free (o);
}

FDevice *
asm_fdevice_new (void)
{
  FDevice *d = g_new0 (FDevice, 1);
  d->obj.ref = 1;
  return d;
}

static AsmPObj *
fworkload_copy (const AsmPObj *o)
{
  const FWorkload *w = (const FWorkload *) o;
  FWorkload *c = g_new (FWorkload, 1);

  COPY_BODY (c, w, FWorkload, id);
  c->name = g_strdup (w->name);
  c->virt = asm_arena_clone (w->virt, w->name);
  c->partitions = g_array_copy (w->partitions);
  return &c->obj;
}

void
asm_fworkload_free (AsmPObj *o)
{
  FWorkload *w = (FWorkload *) o;
  g_free (w->name);
  asm_arena_unref (w->virt);
  g_array_unref (w->partitions);
  g_free (w);
}

FWorkload *
asm_fworkload_new (guint64 granule)
{
  FWorkload *w = g_new0 (FWorkload, 1);
  GError *err = NULL;

  w->obj.ref = 1;
  w->virt = asm_arena_new ("virtual", granule);
  if (!asm_arena_add_span (w->virt, ASM_FABRIC_VIRT_FIRST,
                           ASM_FABRIC_VIRT_LAST, &err))
    ASM_BUG ("a new virtual arena refused its span: %s", err->message);
  w->partitions = g_array_new (FALSE, FALSE, sizeof (AsmId));
  return w;
}

static AsmPObj *
fpartition_copy (const AsmPObj *o)
{
  const FPartition *p = (const FPartition *) o;
  FPartition *c = g_new (FPartition, 1);

  COPY_BODY (c, p, FPartition, id);
  c->devices = g_array_copy (p->devices);
  return &c->obj;
}

void
asm_fpartition_free (AsmPObj *o)
{
  g_array_unref (((FPartition *) o)->devices);
  g_free (o);
}

FPartition *
asm_fpartition_new (void)
{
  FPartition *p = g_new0 (FPartition, 1);
  p->obj.ref = 1;
  p->devices = g_array_new (FALSE, FALSE, sizeof (AsmId));
  return p;
}

void
asm_fpartition_entry (const FPartition *p, AsmXlatEntry *out)
{
  out->key = p->id;
  out->partition = p->id;
  out->workload = p->workload;
  out->virt_first = p->virt_first;
  out->size = p->size;
  out->offset = p->phys_first - p->virt_first;
}

guint64
asm_fpartition_devices_end (const FModel *m, const FPartition *p)
{
  guint64 end = 0;

  for (guint i = 0; i < p->devices->len; i++)
    {
      const FDevice *d = FDEV (m, g_array_index (p->devices, AsmId, i));
      end = MAX (end, d->partition_offset + d->bar_size);
    }
  return end;
}

void
asm_fdevice_entry (const FModel *m, const FDevice *d, AsmXlatEntry *out)
{
  const FPartition *p = FPART (m, d->partition);

  out->key = d->id;
  out->partition = d->partition;
  out->workload = p ? p->workload : ASM_ID_NONE;
  out->virt_first = (p ? p->virt_first : 0) + d->partition_offset;
  out->size = d->bar_size;
  out->offset = d->redirect_base - out->virt_first;
}

/* ------------------------------------------------------------------ */
/* lookups that report a missing object                                 */

/* The object @id of @map, or NULL with "WHAT ID does not exist"
 * (ASM_ERROR_NOT_FOUND): the one lookup behind the four typed getters
 * below, so every kind reports a missing object the same way. */
static AsmPObj *
fmodel_get (const AsmPMap *map, const char *what, AsmId id, GError **error)
{
  AsmPObj *o = asm_pmap_get (map, id);
  if (o == NULL)
    g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                 "%s %u does not exist", what, id);
  return o;
}

FSwitch *
asm_fmodel_get_switch (FModel *m, AsmId id, GError **error)
{
  return (FSwitch *) fmodel_get (m->switches, "switch", id, error);
}

FDevice *
asm_fmodel_get_device (FModel *m, AsmId id, GError **error)
{
  return (FDevice *) fmodel_get (m->devices, "device", id, error);
}

FWorkload *
asm_fmodel_get_workload (FModel *m, AsmId id, GError **error)
{
  return (FWorkload *) fmodel_get (m->workloads, "workload", id, error);
}

FPartition *
asm_fmodel_get_partition (FModel *m, AsmId id, GError **error)
{
  return (FPartition *) fmodel_get (m->partitions, "partition", id, error);
}

/* ------------------------------------------------------------------ */
/* the switch name index (F8)                                           */

static AsmPObj *
fname_bucket_copy (const AsmPObj *o)
{
  FNameBucket *c = g_new (FNameBucket, 1);
  c->ids = g_array_copy (((const FNameBucket *) o)->ids);
  return &c->obj;
}

static void
fname_bucket_free (AsmPObj *o)
{
  g_array_unref (((FNameBucket *) o)->ids);
  g_free (o);
}

/* the bucket of a name: g_str_hash() spreads similar names ("s100",
 * "s101") only over its low bits, so the hash is multiplied by 2^32/phi
 * (Fibonacci hashing) before its top bits are taken */
guint32
asm_fmodel_name_key (const char *name)
{
  return (guint32) (g_str_hash (name) * 0x9E3779B1u) >> (32 - FNAME_BITS);
}

gboolean
asm_fmodel_check_name (const char *what, const char *name, gsize max,
                       GError **error)
{
  gsize len = name ? strlen (name) : 0;

  if (len == 0)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID, "a %s needs a name",
                   what);
      return FALSE;
    }
  if (len > max)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "a %s name of %" G_GSIZE_FORMAT " bytes is longer than "
                   "%" G_GSIZE_FORMAT, what, len, max);
      return FALSE;
    }
  if (!g_utf8_validate (name, (gssize) len, NULL))
    {
      g_autofree char *shown = g_strescape (name, NULL);
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s name \"%s\" is not valid UTF-8", what, shown);
      return FALSE;
    }
  for (const char *c = name; *c != '\0'; c++)
    if ((guchar) *c < 0x20 || *c == 0x7f)
      {
        g_autofree char *shown = g_strescape (name, NULL);
        g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                     "%s name \"%s\" holds a control character", what,
                     shown);
        return FALSE;
      }
  return TRUE;
}

FSwitch *
asm_fmodel_find_switch (const FModel *m, const char *name)
{
  const FNameBucket *b;

  b = (const FNameBucket *) asm_pmap_get (m->switch_names,
                                          asm_fmodel_name_key (name));
  for (guint i = 0; b != NULL && i < b->ids->len; i++)
    {
      FSwitch *s = FSW (m, g_array_index (b->ids, AsmId, i));
      if (strcmp (s->name, name) == 0)
        return s;
    }
  return NULL;
}

void
asm_fmodel_insert_switch (FModel *m, FSwitch *s)
{
  guint32 key = asm_fmodel_name_key (s->name);
  FNameBucket *b;
  guint pos = 0;

  asm_pmap_insert (m->switches, s->id, &s->obj);
  b = (FNameBucket *) asm_pmap_get_writable (m->switch_names, key);
  if (b == NULL)
    {
      b = g_new0 (FNameBucket, 1);
      b->obj.ref = 1;
      b->ids = g_array_new (FALSE, FALSE, sizeof (AsmId));
      asm_pmap_insert (m->switch_names, key, &b->obj);
    }
  while (pos < b->ids->len && g_array_index (b->ids, AsmId, pos) < s->id)
    pos++;
  g_array_insert_val (b->ids, pos, s->id);
}

void
asm_fmodel_remove_switch (FModel *m, AsmId id)
{
  FSwitch *s = FSW (m, id);
  guint32 key;
  FNameBucket *b;

  ASM_BUG_UNLESS (s != NULL);
  key = asm_fmodel_name_key (s->name);
  b = (FNameBucket *) asm_pmap_get_writable (m->switch_names, key);
  ASM_BUG_UNLESS (b != NULL);
  for (guint i = 0; i < b->ids->len; i++)
    if (g_array_index (b->ids, AsmId, i) == id)
      {
        g_array_remove_index (b->ids, i);
        break;
      }
  if (b->ids->len == 0)
    asm_pmap_remove (m->switch_names, key);
  asm_pmap_remove (m->switches, id);
}

/* ------------------------------------------------------------------ */
/* the model                                                            */

FModel *
asm_fmodel_new (guint64 first, guint64 last, guint64 granule)
{
  FModel *m = g_new0 (FModel, 1);
  GError *err = NULL;

  m->ref = 1;
  m->granule = granule;
  m->window_granule = granule;
  m->next_id = 1;
  m->global = asm_arena_new ("global", granule);
  m->global_span = ASM_RANGE (first, last);
  if (!asm_arena_add_span (m->global, first, last, &err))
    ASM_BUG ("a new global arena refused its span (the caller validates "
             "it): %s", err->message);
  m->switches = asm_pmap_new (fswitch_copy, asm_fswitch_free);
  m->devices = asm_pmap_new (fdevice_copy, asm_fdevice_free);
  m->workloads = asm_pmap_new (fworkload_copy, asm_fworkload_free);
  m->partitions = asm_pmap_new (fpartition_copy, asm_fpartition_free);
  m->switch_names = asm_pmap_new (fname_bucket_copy, fname_bucket_free);
  return m;
}

FModel *
asm_fmodel_clone (FModel *m)
{
  FModel *c = g_new (FModel, 1);

  COPY_BODY (c, m, FModel, granule);
  c->ref = 1;
  c->global = asm_arena_clone (m->global, "global");
  c->switches = asm_pmap_clone (m->switches);
  c->devices = asm_pmap_clone (m->devices);
  c->workloads = asm_pmap_clone (m->workloads);
  c->partitions = asm_pmap_clone (m->partitions);
  c->switch_names = asm_pmap_clone (m->switch_names);
  return c;
}

FModel *
asm_fmodel_ref (FModel *m)
{
  g_atomic_int_inc (&m->ref);
  return m;
}

void
asm_fmodel_unref (FModel *m)
{
  if (m == NULL || !g_atomic_int_dec_and_test (&m->ref))
    return;
  asm_arena_unref (m->global);
  asm_pmap_free (m->switches);
  asm_pmap_free (m->devices);
  asm_pmap_free (m->workloads);
  asm_pmap_free (m->partitions);
  asm_pmap_free (m->switch_names);
  g_free (m);
}

/* Allocates exactly [first, first + size - 1] in a; FALSE (and no change)
 * when any of it is not free. */
gboolean
asm_fmodel_alloc_exact (AsmArena *a, guint64 first, guint64 size)
{
  AsmRequest req = ASM_REQUEST_INIT (size);
  guint64 addr;

  if (size == 0 || first > G_MAXUINT64 - (size - 1))
    return FALSE;
  req.min = first;
  req.max = first + (size - 1);
  return asm_arena_alloc_full (a, &req, &addr, NULL) && addr == first;
}

/* a redirected BAR takes whole granules of its switch's space */
guint64
asm_fmodel_redirect_bytes (const FModel *m, const FDevice *d)
{
  return (d->bar_size + m->granule - 1) & ~(m->granule - 1);
}

/* ------------------------------------------------------------------ */
/* invariants                                                           */

typedef struct {
  FModel *m;
  GError **error;
  gboolean ok;
  guint64 *bw_used;    /* recomputed, indexed by switch id */
  guint32 *table_used;
  guint *n_parts;
} CheckCtx;

/* CHECK (n, cond, ...): invariant Fn holds, or the walk stops with an
 * error that names it */
#define CHECK(n, cond, ...)                                                   \
  G_STMT_START                                                                \
  {                                                                           \
    if (!(cond))                                                              \
      {                                                                       \
        g_autofree char *_m = g_strdup_printf (__VA_ARGS__);                  \
        g_set_error (c->error, ASM_ERROR, ASM_ERROR_FAILED,                   \
                     "fabric invariant F%d broken: %s", n, _m);               \
        c->ok = FALSE;                                                        \
        return FALSE;                                                         \
      }                                                                       \
  }                                                                           \
  G_STMT_END

/* an arena's own check, as part of invariant n */
static gboolean
check_arena (CheckCtx *c, int n, AsmArena *a, const char *what, AsmId id)
{
  g_autoptr (GError) err = NULL;

  CHECK (n, asm_arena_check (a, &err), "%s %u: %s", what, id, err->message);
  return TRUE;
}

static gboolean
check_partition (guint32 key, AsmPObj *o, gpointer data)
{
  CheckCtx *c = data;
  FPartition *p = (FPartition *) o;
  FSwitch *s = FSW (c->m, p->sw);
  FWorkload *w = FWL (c->m, p->workload);
  AsmRange seg;
  AsmSegmentKind kind;

  CHECK (1, p->id == key && key < c->m->next_id,
         "partition %u stored under %u (next id %u)", p->id, key,
         c->m->next_id);
  CHECK (1, s != NULL && w != NULL, "partition %u: switch %u or workload %u "
         "missing", p->id, p->sw, p->workload);
  CHECK (3, asm_arena_lookup_full (s->space, p->phys_first, &seg, &kind) &&
         kind == ASM_SEGMENT_ALLOCATED && seg.first == p->phys_first &&
         seg.last - seg.first + 1 == p->size,
         "partition %u: physical range is not its own allocation in switch "
         "%u's windows", p->id, p->sw);
  CHECK (3, asm_arena_lookup_full (w->virt, p->virt_first, &seg, &kind) &&
         kind == ASM_SEGMENT_ALLOCATED && seg.first == p->virt_first &&
         (p->virt_first & (ASM_FABRIC_VIRT_ALIGN - 1)) == 0 &&
         seg.last - seg.first + 1 == ASM_FABRIC_VIRT_ALIGN &&
         p->size <= ASM_FABRIC_VIRT_ALIGN,
         "partition %u: its virtual slot is not its own allocation", p->id);
  CHECK (4, p->dev_next <= p->size, "partition %u: 0x%" G_GINT64_MODIFIER
         "x bytes given to devices, more than its 0x%" G_GINT64_MODIFIER "x",
         p->id, p->dev_next, p->size);
  for (guint i = 0; i < p->devices->len; i++)
    {
      FDevice *d = FDEV (c->m, g_array_index (p->devices, AsmId, i));
      for (guint j = 0; j < i; j++)
        CHECK (4, g_array_index (p->devices, AsmId, j) !=
                      g_array_index (p->devices, AsmId, i),
               "partition %u lists device %u twice", p->id,
               g_array_index (p->devices, AsmId, i));
      CHECK (4, d != NULL && d->partition == p->id &&
             d->partition_offset + d->bar_size <= p->dev_next,
             "partition %u: device %u is not mapped inside it", p->id,
             g_array_index (p->devices, AsmId, i));
      CHECK (4, d->redirect_sw != ASM_ID_NONE || d->sw == p->sw,
             "partition %u: device %u is behind switch %u, not %u", p->id,
             d->id, d->sw, p->sw);
    }
  c->bw_used[p->sw] += p->bandwidth_demand;
  c->table_used[p->sw]++;
  c->n_parts[p->sw]++;
  return TRUE;
}

static gboolean
check_device (guint32 key, AsmPObj *o, gpointer data)
{
  CheckCtx *c = data;
  FDevice *d = (FDevice *) o;
  FSwitch *s = FSW (c->m, d->sw);

  CHECK (1, d->id == key && key < c->m->next_id,
         "device %u stored under %u (next id %u)", d->id, key, c->m->next_id);
  CHECK (1, s != NULL, "device %u: switch %u missing", d->id, d->sw);
  if (d->kind != ASM_DEVICE_VF)
    CHECK (5, d->port < s->n_ports && s->ports[d->port] == d->id,
           "device %u: port %u of switch %u does not hold it", d->id, d->port,
           d->sw);
  else
    {
      FDevice *pf = FDEV (c->m, d->pf);
      CHECK (5, pf != NULL && pf->kind == ASM_DEVICE_PF && pf->sw == d->sw &&
             pf->port == d->port && d->vf_index < 64 &&
             (pf->vf_used & (G_GUINT64_CONSTANT (1) << d->vf_index)),
             "VF %u: not a VF of PF %u where the PF is", d->id, d->pf);
    }
  if (d->partition != ASM_ID_NONE)
    {
      FPartition *p = FPART (c->m, d->partition);
      gboolean listed = FALSE;
      CHECK (1, p != NULL, "device %u: partition %u missing", d->id,
             d->partition);
      for (guint i = 0; i < p->devices->len; i++)
        listed |= g_array_index (p->devices, AsmId, i) == d->id;
      CHECK (4, listed, "device %u: not listed by partition %u", d->id,
             p->id);
    }
  if (d->redirect_sw != ASM_ID_NONE)
    {
      FSwitch *rs = FSW (c->m, d->redirect_sw);
      AsmRange seg;
      CHECK (6, d->redirect_sw == d->sw,
             "device %u: redirected to switch %u but behind switch %u", d->id,
             d->redirect_sw, d->sw);
      CHECK (6, rs != NULL && d->partition != ASM_ID_NONE &&
             asm_arena_lookup (rs->space, d->redirect_base, &seg) &&
             seg.first == d->redirect_base &&
             seg.last - seg.first + 1 == asm_fmodel_redirect_bytes (c->m, d),
             "device %u: redirect base 0x%" G_GINT64_MODIFIER "x is not its "
             "own allocation on switch %u", d->id, d->redirect_base,
             d->redirect_sw);
      c->table_used[d->redirect_sw]++;
    }
  return TRUE;
}

static gboolean
check_switch (guint32 key, AsmPObj *o, gpointer data)
{
  CheckCtx *c = data;
  FSwitch *s = (FSwitch *) o;
  guint64 window_bytes = 0;
  AsmArenaStats st;

  CHECK (1, s->id == key && key < c->m->next_id,
         "switch %u stored under %u (next id %u)", s->id, key, c->m->next_id);
  if (!check_arena (c, 2, s->space, "switch", s->id))
    return FALSE;
  for (guint i = 0; i < s->windows->len; i++)
    {
      AsmRange w = g_array_index (s->windows, AsmRange, i);
      AsmRange seg;
      AsmSegmentKind kind;
      CHECK (2, i == 0 || g_array_index (s->windows, AsmRange, i - 1).last
                              < w.first,
             "switch %u: windows out of order", s->id);
      CHECK (2, asm_arena_lookup_full (c->m->global, w.first, &seg, &kind) &&
             kind == ASM_SEGMENT_ALLOCATED && seg.first == w.first &&
             seg.last == w.last,
             "switch %u: window 0x%" G_GINT64_MODIFIER "x-0x%"
             G_GINT64_MODIFIER "x is not its own allocation in the global "
             "space", s->id, w.first, w.last);
      window_bytes += w.last - w.first + 1;
    }
  asm_arena_get_stats (s->space, &st);
  CHECK (2, st.n_spans == s->windows->len && st.span_units == window_bytes,
         "switch %u: its space's spans are not its windows", s->id);
  CHECK (7, s->bandwidth_used == c->bw_used[s->id] &&
         s->bandwidth_used <= s->bandwidth,
         "switch %u: bandwidth used %" G_GUINT64_FORMAT " (recount %"
         G_GUINT64_FORMAT ", capacity %" G_GUINT64_FORMAT ")", s->id,
         s->bandwidth_used, c->bw_used[s->id], s->bandwidth);
  CHECK (7, s->table_used == c->table_used[s->id] &&
         s->table_used <= s->table_capacity,
         "switch %u: %u table entries (recount %u, capacity %u)", s->id,
         s->table_used, c->table_used[s->id], s->table_capacity);
  CHECK (7, s->n_partitions == c->n_parts[s->id],
         "switch %u: %u partitions counted, %u placed", s->id,
         s->n_partitions, c->n_parts[s->id]);
  for (guint i = 0; i < s->n_ports; i++)
    if (s->ports[i] != ASM_ID_NONE)
      {
        FDevice *d = FDEV (c->m, s->ports[i]);
        CHECK (5, d != NULL && d->sw == s->id && d->port == i &&
               d->kind != ASM_DEVICE_VF,
               "switch %u: port %u holds device %u, which is elsewhere",
               s->id, i, s->ports[i]);
      }
  CHECK (8, asm_fmodel_find_switch (c->m, s->name) == s,
         "switch %u: its name '%s' does not find it", s->id, s->name);
  CHECK (9, !s->draining || (s->windows->len == 0 && s->n_partitions == 0 &&
                             s->table_used == 0),
         "switch %u is draining but holds %u windows, %u partitions and %u "
         "table entries", s->id, s->windows->len, s->n_partitions,
         s->table_used);
  return TRUE;
}

static gboolean
check_workload (guint32 key, AsmPObj *o, gpointer data)
{
  CheckCtx *c = data;
  FWorkload *w = (FWorkload *) o;
  AsmArenaStats st;

  CHECK (1, w->id == key && key < c->m->next_id,
         "workload %u stored under %u (next id %u)", w->id, key,
         c->m->next_id);
  if (!check_arena (c, 3, w->virt, "workload", w->id))
    return FALSE;
  asm_arena_get_stats (w->virt, &st);
  CHECK (3, st.n_allocated == w->partitions->len,
         "workload %u: %u partitions but %" G_GUINT64_FORMAT " virtual "
         "ranges", w->id, w->partitions->len, st.n_allocated);
  for (guint i = 0; i < w->partitions->len; i++)
    {
      FPartition *p = FPART (c->m, g_array_index (w->partitions, AsmId, i));
      CHECK (3, p != NULL && p->workload == w->id,
             "workload %u: lists partition %u that is not its own", w->id,
             g_array_index (w->partitions, AsmId, i));
      CHECK (3, i == 0 || FPART (c->m, g_array_index (w->partitions, AsmId,
                                                       i - 1))->virt_first
                              < p->virt_first,
             "workload %u: partitions out of virtual order", w->id);
    }
  return TRUE;
}

/* F8: every id in the name index is a switch filed under its own name */
static gboolean
check_name_bucket (guint32 key, AsmPObj *o, gpointer data)
{
  CheckCtx *c = data;
  FNameBucket *b = (FNameBucket *) o;

  CHECK (8, b->ids->len > 0, "name bucket %u is empty", key);
  for (guint i = 0; i < b->ids->len; i++)
    {
      AsmId id = g_array_index (b->ids, AsmId, i);
      FSwitch *s = FSW (c->m, id);
      CHECK (8, s != NULL && asm_fmodel_name_key (s->name) == key
                    && (i == 0 || g_array_index (b->ids, AsmId, i - 1) < id),
             "name bucket %u lists %u, which is not a switch filed there in "
             "id order", key, id);
    }
  return TRUE;
}

typedef struct {
  guint n;
} NameCount;

static gboolean
add_names (guint32 key, AsmPObj *o, gpointer data)
{
  ((NameCount *) data)->n += ((FNameBucket *) o)->ids->len;
  return TRUE;
}

gboolean
asm_fmodel_check (FModel *m, GError **error)
{
  CheckCtx c = { m, error, TRUE, NULL, NULL, NULL };
  AsmArenaStats st;
  guint64 n_windows = 0;
  NameCount names = { 0 };
  GArray *keys;

  if (!asm_arena_check (m->global, error))
    {
      g_prefix_error (error, "fabric invariant F2 broken: the global space: ");
      return FALSE;
    }
  c.bw_used = g_new0 (guint64, (gsize) m->next_id + 1);
  c.table_used = g_new0 (guint32, (gsize) m->next_id + 1);
  c.n_parts = g_new0 (guint, (gsize) m->next_id + 1);
  keys = asm_pmap_keys (m->switches);
  for (guint i = 0; i < keys->len; i++)
    n_windows += FSW (m, g_array_index (keys, guint32, i))->windows->len;
  g_array_unref (keys);
  if (asm_pmap_foreach (m->partitions, check_partition, &c) &&
      asm_pmap_foreach (m->devices, check_device, &c) &&
      asm_pmap_foreach (m->switches, check_switch, &c) &&
      asm_pmap_foreach (m->workloads, check_workload, &c) &&
      asm_pmap_foreach (m->switch_names, check_name_bucket, &c))
    {
      asm_arena_get_stats (m->global, &st);
      asm_pmap_foreach (m->switch_names, add_names, &names);
      if (st.n_allocated != n_windows)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                       "fabric invariant F2 broken: %" G_GUINT64_FORMAT
                       " global allocations but %" G_GUINT64_FORMAT
                       " windows", st.n_allocated, n_windows);
          c.ok = FALSE;
        }
      else if (names.n != asm_pmap_size (m->switches))
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                       "fabric invariant F8 broken: %u names indexed for %u "
                       "switches", names.n, asm_pmap_size (m->switches));
          c.ok = FALSE;
        }
    }
  g_free (c.bw_used);
  g_free (c.table_used);
  g_free (c.n_parts);
  return c.ok;
}
