/* asm-fplan.c: placement and the planners of the fabric's operations
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * A planner (asm_fplan_NAME, one per line of ASM_FABRIC_OPS) changes a
 * private clone of the published model exactly as its operation would,
 * and records in the transaction the hardware steps that realise the
 * change, its description, its events and its results.  It validates
 * first: every refusal is a GError that names the bad value or what
 * blocks it, and since the clone is thrown away on any error a planner
 * may stop anywhere.  Planners are deterministic (ids in order, ties to
 * the lowest id, no hash or pointer order), so recovery replays a
 * committed operation by planning it again (asm-fsave.c).
 *
 * Placement score.  asm_fabric_request_partition() (and a migration
 * without a target) considers every switch, in id order, that is not
 * draining and meets the request's latency, minimum bandwidth, bandwidth
 * headroom and table room, and that has space (a free range that fits, or
 * the right to grow a window and a global range to grow it with).  A
 * qualifying preferred switch wins.  Otherwise the highest score wins,
 * ties to the lowest id:
 *
 *     score = 0.4 * F + 0.4 * B + 0.2 * G - L / 10,000
 *
 *     F  free fraction of the switch's window bytes after placement (a
 *        window it must grow counts, empty but for the partition), 0..1
 *     B  bandwidth headroom after placement: (bandwidth - used - demand)
 *        / bandwidth, 0..1 (MB/s over MB/s)
 *     G  1 if no window has to grow, else 0
 *     L  the switch's latency in ns
 *
 * so space and bandwidth balance across switches, growing windows is a
 * last resort, and 1 us of latency costs 0.1, as much as a quarter of the
 * free space or of the headroom.  Worked (two empty switches that must
 * both grow, so F = 1 - size / window and G = 0, a 2 MiB partition in a
 * 1 GiB window, F = 0.998, B = 1 - demand / bandwidth):
 *
 *     switch   latency   B       score
 *     A        100 ns    1.0     0.3992 + 0.4 - 0.01 = 0.7892
 *     B        5 us      1.0     0.3992 + 0.4 - 0.50 = 0.2992
 *     C        0 ns      0.5     0.3992 + 0.2 - 0    = 0.5992
 *
 * A wins: 100 ns beats 5 us by 0.49, and C's half-used bandwidth costs it
 * 0.2, more than A's 100 ns.
 *
 * Windows are the fabric's dynamic partitioning: when no window of a
 * switch can hold a partition, the switch gets a new window from the
 * global space (window_granule bytes at least); when a window of a switch
 * that is not pinned becomes empty, it goes back (switch_shrink).
 *
 * Migration (plan_relocate) takes these steps: hold the devices'
 * drivers, build the new map, program the new switch's entry, move the
 * devices (unbind, bind), remove the old entry, flush the old switch,
 * give emptied windows back, lift the holds.  A VF transfer follows seed
 * 003 (asm_fplan_transfer_vf).
 *
 * Costs: see the table in asm-fmodel.c.
 */
#include "asm-ftxn-private.h"

#include <math.h>
#include <string.h>

static GArray *
windows_copy (GArray *w)
{
  return g_array_copy (w);
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
  *wsize = asm_round_up (MAX (size, m->window_granule), m->granule);
  *walign = MAX (align, m->granule);
}

/* The steps of a change of switch s's windows from `old` to its current
 * ones: the switch decodes its new windows before the root complex routes
 * to them, and the root complex stops routing before the switch lets a
 * window go. */
static void
push_windows (Txn *t, const FSwitch *s, GArray *old, gboolean growing)
{
  static const StepKind grow_order[2] = { ST_WINDOWS, ST_ROOT };
  static const StepKind shrink_order[2] = { ST_ROOT, ST_WINDOWS };
  const StepKind *order = growing ? grow_order : shrink_order;

  for (guint i = 0; i < 2; i++)
    {
      /* filled at once: the next asm_txn_step() may move the array */
      Step *st = asm_txn_step (t, order[i]);
      st->sw = s->id;
      st->windows = windows_copy (s->windows);
      st->old_windows = windows_copy (old);
    }
}

/* Makes win, already taken from the global space, a window of the writable
 * switch s: a span of its space, the windows and root steps, the event. */
static gboolean
switch_attach_window (Txn *t, FSwitch *s, AsmRange win, const char *verb,
                      GError **error)
{
  g_autoptr (GArray) old = NULL;

  if (!asm_arena_add_span (s->space, win.first, win.last, error))
    return FALSE;
  old = windows_copy (s->windows);
  windows_insert (s->windows, win);
  push_windows (t, s, old, TRUE);
  {
    AsmFabricEvent e = { ASM_EVENT_WINDOW_GROWN, s->id };
    e.range = win;
    asm_txn_event (t, &e, "switch '%s' %s 0x%" G_GINT64_MODIFIER "x-0x%"
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

/* Gives every empty window of the writable switch s back to the global
 * space; a pinned switch keeps its windows unless `even_pinned`. */
static void
switch_give_back (FModel *m, Txn *t, FSwitch *s, gboolean even_pinned)
{
  g_autoptr (GArray) old = NULL;
  gboolean changed = FALSE;

  if (s->pinned && !even_pinned)
    return;
  old = windows_copy (s->windows);
  for (guint i = s->windows->len; i-- > 0;)
    {
      AsmRange w = g_array_index (s->windows, AsmRange, i);
      if (asm_arena_remove_span (s->space, w.first, w.last, NULL))
        {
          GError *err = NULL;
          if (!asm_arena_free (m->global, w.first, &err))
            ASM_BUG ("the model lost an allocation (F2, F3, F6): %s",
                 err->message);
          g_array_remove_index (s->windows, i);
          changed = TRUE;
          {
            AsmFabricEvent e = { ASM_EVENT_WINDOW_SHRUNK, s->id };
            e.range = w;
            asm_txn_event (t, &e,
                           "switch '%s' gave window 0x%" G_GINT64_MODIFIER
                           "x-0x%" G_GINT64_MODIFIER "x back",
                           s->name, w.first, w.last);
          }
        }
    }
  if (changed)
    push_windows (t, s, old, FALSE);
}

/* Gives every empty window of the writable switch s back (unless pinned):
 * the reclamation invariant F9. */
static void
switch_shrink (FModel *m, Txn *t, FSwitch *s)
{
  switch_give_back (m, t, s, FALSE);
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
  guint n_latency, n_bandwidth, n_table, n_space, n_ports, n_draining;
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
  if (s->draining)
    {
      c->n_draining++;
      return TRUE; /* even when preferred */
    }
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
          - (gdouble) s->latency_ns / 1e4;
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

/* A placement request for partition p moving whole, at `size` bytes: its
 * alignment, bandwidth and latency terms and the ports its devices will
 * take.  The caller says which switch to exclude or count as its own. */
static void
place_ctx_for_partition (FModel *m, const FPartition *p, guint64 size,
                         PlaceCtx *c)
{
  *c = (PlaceCtx) { 0 };
  c->size = size;
  c->align = p->align;
  c->min_bandwidth = p->min_bandwidth;
  c->max_latency_ns = p->max_latency_ns;
  c->demand = p->bandwidth_demand;
  c->need_ports = partition_movers (m, p);
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
      g_autofree char *draining_note =
          c->n_draining > 0 ? g_strdup_printf ("%u draining, ", c->n_draining)
                            : g_strdup ("");
      g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                   "no switch can hold 0x%" G_GINT64_MODIFIER "x bytes: %s%u "
                   "too slow, %u short of bandwidth, %u with a full "
                   "translation table, %s%u without room (and the global "
                   "space %s grow a window)",
                   c->size, draining_note, c->n_latency, c->n_bandwidth,
                   c->n_table, ports_note, c->n_space,
                   c->global_can_grow ? "can" : "cannot");
      return FALSE;
    }
  return TRUE;
}

static void
workload_insert_partition (FModel *m, FWorkload *w, FPartition *p)
{
  guint lo = 0, hi = w->partitions->len;

  /* binary search: the first partition above p (F3 keeps them sorted) */
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      if (FPART (m, g_array_index (w->partitions, AsmId, mid))->virt_first
          < p->virt_first)
        lo = mid + 1;
      else
        hi = mid;
    }
  g_array_insert_val (w->partitions, lo, p->id);
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

  st = asm_txn_step (t, ST_UNBIND);
  st->device = d->id;
  st->name = g_strdup (d->name);
  st->sw = from->id;
  st->port = d->port;
  st = asm_txn_step (t, ST_BIND);
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

gboolean
asm_fplan_add_switch (FModel *m, Txn *t, const FOpAddSwitch *a,
                      GError **error)
{
  FSwitch *s;
  AsmId id;
  Step *st;

  if (!asm_fmodel_check_name ("switch", a->name, ASM_FMODEL_NAME_MAX, error))
    return FALSE;
  if (asm_fmodel_find_switch (m, a->name) != NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "switch name '%s' is already used", a->name);
      return FALSE;
    }
  if (a->bandwidth == 0 || a->table_capacity == 0 || a->n_ports > 65536)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "switch '%s': bandwidth %" G_GUINT64_FORMAT ", table "
                   "capacity %u and %u ports: bandwidth and capacity must be "
                   ">= 1, ports at most 65536",
                   a->name, a->bandwidth, a->table_capacity, a->n_ports);
      return FALSE;
    }
  if (!new_id (m, &id, error))
    return FALSE;
  s = asm_fswitch_new ();
  s->id = id;
  s->name = g_strdup (a->name);
  s->bandwidth = a->bandwidth;
  s->latency_ns = a->latency_ns;
  s->table_capacity = a->table_capacity;
  s->n_ports = a->n_ports;
  s->pinned = a->pinned;
  s->space = asm_arena_new (s->name, m->granule);
  s->ports = g_new0 (AsmId, MAX (s->n_ports, 1));
  asm_fmodel_insert_switch (m, s);
  st = asm_txn_step (t, ST_SWITCH_ADD);
  st->sw = id;
  st->name = g_strdup (s->name);
  st->n_ports = s->n_ports;
  st->capacity = s->table_capacity;
  t->out_id = id;
  t->desc = g_strdup_printf ("add switch '%s'", s->name);
  {
    AsmFabricEvent e = { ASM_EVENT_SWITCH_ADDED, id };
    asm_txn_event (t, &e, "switch '%s' (id %u) joined", s->name, id);
  }
  return TRUE;
}

gboolean
asm_fplan_add_window (FModel *m, Txn *t, const FOpAddWindow *a,
                      GError **error)
{
  FSwitch *s = asm_fmodel_get_switch (m, a->sw, error);
  guint64 first = a->first, last = a->last;
  AsmRange win = ASM_RANGE (first, last);

  if (s == NULL)
    return FALSE;
  if (s->draining)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "switch '%s' is draining: it takes no window",
                   s->name);
      return FALSE;
    }
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
  s = FSW_W (m, a->sw);
  t->desc = g_strdup_printf ("add window to switch '%s'", s->name);
  return switch_attach_window (t, s, win, "got window", error);
}

gboolean
asm_fplan_reserve_global (FModel *m, Txn *t, const FOpReserveGlobal *a,
                          GError **error)
{
  t->desc = g_strdup ("reserve global range");
  return asm_arena_reserve (m->global, a->first, a->last, error);
}

gboolean
asm_fplan_add_device (FModel *m, Txn *t, const FOpAddDevice *a,
                      GError **error)
{
  FSwitch *s = asm_fmodel_get_switch (m, a->sw, error);
  FDevice *d;
  AsmId id;
  guint32 port = (guint32) a->port;
  Step *st;

  if (s == NULL)
    return FALSE;
  if (!asm_fmodel_check_name ("device", a->name, ASM_FMODEL_NAME_MAX, error))
    return FALSE;
  if (a->kind != ASM_DEVICE_ENDPOINT && a->kind != ASM_DEVICE_PF)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "device '%s': kind %u cannot be added "
                   "(VFs come from asm_fabric_create_vf())", a->name, a->kind);
      return FALSE;
    }
  if (!asm_is_pow2 (a->bar_size))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "device '%s': BAR size 0x%" G_GINT64_MODIFIER "x is not a "
                   "power of two", a->name, a->bar_size);
      return FALSE;
    }
  if (a->port >= s->n_ports || s->ports[port] != ASM_ID_NONE)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                   "device '%s': port %u of switch '%s' "
                   "is out of range 0..%u or taken", a->name, a->port, s->name,
                   s->n_ports ? s->n_ports - 1 : 0);
      return FALSE;
    }
  if (!new_id (m, &id, error))
    return FALSE;
  s = FSW_W (m, a->sw);
  d = asm_fdevice_new ();
  d->id = id;
  d->name = g_strdup (a->name);
  d->kind = (AsmDeviceKind) a->kind;
  d->sw = s->id;
  d->port = port;
  d->bar_size = a->bar_size;
  s->ports[port] = id;
  asm_pmap_insert (m->devices, id, &d->obj);
  st = asm_txn_step (t, ST_BIND);
  st->device = id;
  st->name = g_strdup (d->name);
  st->sw = s->id;
  st->port = port;
  t->out_id = id;
  t->desc = g_strdup_printf ("add device '%s'", d->name);
  return TRUE;
}

gboolean
asm_fplan_set_sriov (FModel *m, Txn *t, const FOpSetSriov *a,
                     GError **error)
{
  FDevice *d = asm_fmodel_get_device (m, a->pf, error);

  if (d == NULL)
    return FALSE;
  if (d->kind != ASM_DEVICE_PF || a->max_vfs > 64 ||
      !asm_is_pow2 (a->vf_bar_size) || d->vf_used != 0)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "device %u: SR-IOV needs a PF without VFs, at most 64 VFs "
                   "(%u asked) and a power-of-two VF BAR "
                   "(0x%" G_GINT64_MODIFIER "x asked)", d->id, a->max_vfs,
                   a->vf_bar_size);
      return FALSE;
    }
  d = FDEV_W (m, a->pf);
  d->max_vfs = (guint32) a->max_vfs;
  d->vf_bar_size = a->vf_bar_size;
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
  st = asm_txn_step (t, ST_VF_CREATE);
  st->device = id;
  st->pf = pf->id;
  st->vf_index = index;
  st->sw = pf->sw;
  return vf;
}

/* Undoes what vf_new() gave vf: the VF_DESTROY step, and its index under
 * its PF free again.  The device itself stays in the model for the caller
 * to remove.  Returns the PF, writable. */
static FDevice *
plan_vf_destroy (FModel *m, Txn *t, const FDevice *vf)
{
  Step *st = asm_txn_step (t, ST_VF_DESTROY);
  FDevice *pf;

  st->device = vf->id;
  st->pf = vf->pf;
  st->vf_index = vf->vf_index;
  st->sw = vf->sw;
  pf = FDEV_W (m, vf->pf);
  pf->vf_used &= ~(G_GUINT64_CONSTANT (1) << vf->vf_index);
  return pf;
}

gboolean
asm_fplan_create_vf (FModel *m, Txn *t, const FOpCreateVf *a,
                     GError **error)
{
  FDevice *pf = asm_fmodel_get_device (m, a->pf, error), *vf;

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

gboolean
asm_fplan_add_workload (FModel *m, Txn *t, const FOpAddWorkload *a,
                        GError **error)
{
  FWorkload *w;
  AsmId id;

  if (!asm_fmodel_check_name ("workload", a->name, ASM_FMODEL_NAME_MAX, error))
    return FALSE;
  if (!new_id (m, &id, error))
    return FALSE;
  w = asm_fworkload_new (m->granule);
  w->id = id;
  w->name = g_strdup (a->name);
  asm_pmap_insert (m->workloads, id, &w->obj);
  t->out_id = id;
  t->desc = g_strdup_printf ("add workload '%s'", w->name);
  return TRUE;
}

static Step *
push_xlat_set (Txn *t, AsmId sw, const AsmXlatEntry *entry,
               const AsmXlatEntry *old)
{
  Step *st = asm_txn_step (t, ST_XLAT_SET);
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
  Step *st = asm_txn_step (t, ST_XLAT_REMOVE);
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
  if (align != 0 && !asm_is_pow2 (align))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s alignment 0x%" G_GINT64_MODIFIER "x is not a power "
                   "of two", what, align);
      return FALSE;
    }
  return TRUE;
}

gboolean
asm_fplan_request_partition (FModel *m, Txn *t, const FOpRequestPartition *a,
                             GError **error)
{
  FWorkload *w = asm_fmodel_get_workload (m, a->workload, error);
  PlaceCtx c = { 0 };
  FSwitch *s;
  FPartition *p;
  AsmRequest vreq;
  AsmXlatEntry entry;
  AsmId id;

  if (w == NULL || !validate_size (m, "partition", a->size, a->align, error))
    return FALSE;
  if (a->preferred_switch != ASM_ID_NONE &&
      asm_fmodel_get_switch (m, a->preferred_switch, error) == NULL)
    return FALSE;
  c.size = a->size;
  c.align = a->align;
  c.min_bandwidth = a->min_bandwidth;
  c.max_latency_ns = (guint32) MIN (a->max_latency_ns, G_MAXUINT32);
  c.demand = a->bandwidth_demand ? a->bandwidth_demand : a->min_bandwidth;
  c.preferred = a->preferred_switch;
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
  /* the partition's virtual slot: all the room it may grow into (F3), so
   * the lowest free slot is found in O(log P) */
  w = FWL_W (m, w->id);
  vreq = ASM_REQUEST_INIT (ASM_FABRIC_VIRT_ALIGN);
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
    asm_txn_event (t, &e, "partition %u (0x%" G_GINT64_MODIFIER "x bytes) of "
               "'%s' placed on '%s' at 0x%" G_GINT64_MODIFIER "x", id,
               p->size, w->name, s->name, p->phys_first);
  }
  return TRUE;
}

gboolean
asm_fplan_map_device (FModel *m, Txn *t, const FOpMapDevice *a,
                      GError **error)
{
  FPartition *p = asm_fmodel_get_partition (m, a->partition, error);
  FDevice *d = p ? asm_fmodel_get_device (m, a->device, error) : NULL;
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
  offset = asm_round_up (p->dev_next, d->bar_size);
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
    asm_txn_event (t, &e, "device '%s' mapped into partition %u at offset 0x%"
               G_GINT64_MODIFIER "x", d->name, p->id, offset);
  }
  return TRUE;
}

/* Moves partition p (with new size `size`) to switch `to`, which may be its
 * own switch (a move inside it): the steps of a migration. */
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
      Step *st = asm_txn_step (t, ST_HOLD);
      st->device = g_array_index (p->devices, AsmId, i);
      st->partition = p->id;
    }

  /* 2-3. collect the devices (above) and build the new map */
  from = FSW_W (m, p->sw);
  if (!asm_arena_free (from->space, p->phys_first, &err))
    ASM_BUG ("the model lost an allocation (F2, F3, F6): %s",
                 err->message);
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
    Step *st = asm_txn_step (t, ST_FLUSH);
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
      Step *st = asm_txn_step (t, ST_RELEASE);
      MovedNote note = { dev, d->redirect_sw ? d->redirect_sw : p->sw,
                         d->redirect_sw ? d->redirect_base
                                        : p->phys_first + d->partition_offset };
      st->device = dev;
      g_array_append_val (t->moved, note);
      g_array_append_val (t->resumed, dev);
    }
  return TRUE;
}

/* Migrates partition pid to switch `to` (ASM_ID_NONE: where placement
 * says, never its own switch): the steps, the model and the event. */
static gboolean
migrate_one (FModel *m, Txn *t, AsmId pid, AsmId to, GError **error)
{
  FPartition *p = FPART (m, pid);
  AsmId from = p->sw;

  if (to == ASM_ID_NONE)
    {
      PlaceCtx c;
      place_ctx_for_partition (m, p, p->size, &c);
      c.exclude = p->sw;
      if (!choose_switch (m, &c, error))
        {
          g_prefix_error (error, "migrate partition %u: ", p->id);
          return FALSE;
        }
      to = c.best;
    }
  else if (asm_fmodel_get_switch (m, to, error) == NULL)
    return FALSE;
  if (to == from)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "partition %u is already on switch %u", p->id, to);
      return FALSE;
    }
  if (FSW (m, to)->draining)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "switch '%s' is draining: nothing moves onto it",
                   FSW (m, to)->name);
      return FALSE;
    }
  if (!plan_relocate (m, t, p->id, to, p->size, error))
    return FALSE;
  {
    AsmFabricEvent e = { ASM_EVENT_PARTITION_MIGRATED, to, from, p->id };
    p = FPART (m, p->id);
    e.range = ASM_RANGE (p->phys_first, p->phys_first + p->size - 1);
    asm_txn_event (t, &e,
                   "partition %u migrated from '%s' to '%s' (physical "
                   "0x%" G_GINT64_MODIFIER "x, virtual 0x%" G_GINT64_MODIFIER
                   "x unchanged)",
                   p->id, FSW (m, from)->name, FSW (m, to)->name,
                   p->phys_first, p->virt_first);
  }
  return TRUE;
}

gboolean
asm_fplan_migrate_partition (FModel *m, Txn *t, const FOpMigratePartition *a,
                             GError **error)
{
  FPartition *p = asm_fmodel_get_partition (m, a->partition, error);
  AsmId from;

  if (p == NULL)
    return FALSE;
  from = p->sw;
  if (!migrate_one (m, t, p->id, a->target_switch, error))
    return FALSE;
  p = FPART (m, a->partition);
  t->out_id = p->sw;
  t->desc = g_strdup_printf ("migrate partition %u from switch '%s' to '%s'",
                             p->id, FSW (m, from)->name, FSW (m, p->sw)->name);
  return TRUE;
}

gboolean
asm_fplan_grow_partition (FModel *m, Txn *t, const FOpGrowPartition *a,
                          GError **error)
{
  FPartition *p = asm_fmodel_get_partition (m, a->partition, error);
  guint64 new_size = a->new_size;
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
  /* the virtual range grows in place, always: its slot is its own (F3) */
  req = ASM_REQUEST_INIT (new_size);
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
      PlaceCtx c;
      place_ctx_for_partition (m, p, new_size, &c);
      c.own = from;
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
    asm_txn_event (t, &e,
                   "partition %u grew to 0x%" G_GINT64_MODIFIER "x bytes "
                   "on '%s'",
                   p->id, p->size, FSW (m, p->sw)->name);
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
    ASM_BUG ("the model lost an allocation (F2, F3, F6): %s",
                 err->message);
  rs->table_used--;
  switch_shrink (m, t, rs);
}

/* Takes the writable device d out of its partition: its redirect goes
 * (base and table entry), and it no longer names a partition.  What an
 * unmap and a release do to each device; the partition's device list is
 * the caller's. */
static void
device_drop_mapping (FModel *m, Txn *t, FDevice *d)
{
  if (d->redirect_sw != ASM_ID_NONE)
    drop_redirect (m, t, d);
  d->partition = ASM_ID_NONE;
  d->partition_offset = 0;
  d->redirect_sw = ASM_ID_NONE;
  d->redirect_base = 0;
}

/* Releases partition p: its entries, its devices' mappings, its ranges,
 * emptied windows; the event. */
static void
release_one (FModel *m, Txn *t, AsmId pid)
{
  FPartition *p = FPART (m, pid);
  FSwitch *s;
  FWorkload *w;
  AsmXlatEntry entry;
  GError *err = NULL;
  Step *st;

  asm_fpartition_entry (p, &entry);
  s = FSW_W (m, p->sw);
  push_xlat_remove (t, s->id, &entry);
  for (guint i = 0; i < p->devices->len; i++)
    device_drop_mapping (m, t,
                         FDEV_W (m, g_array_index (p->devices, AsmId, i)));
  st = asm_txn_step (t, ST_FLUSH);
  st->sw = s->id;
  st->range = ASM_RANGE (p->phys_first, p->phys_first + p->size - 1);
  s = FSW_W (m, p->sw);
  if (!asm_arena_free (s->space, p->phys_first, &err))
    ASM_BUG ("the model lost an allocation (F2, F3, F6): %s",
             err->message);
  s->bandwidth_used -= p->bandwidth_demand;
  s->table_used--;
  s->n_partitions--;
  w = FWL_W (m, p->workload);
  if (!asm_arena_free (w->virt, p->virt_first, &err))
    ASM_BUG ("the model lost an allocation (F2, F3, F6): %s",
             err->message);
  workload_remove_partition (w, p->id);
  {
    AsmFabricEvent e = { ASM_EVENT_PARTITION_RELEASED, s->id };
    e.partition = p->id;
    e.range = ASM_RANGE (p->phys_first, p->phys_first + p->size - 1);
    asm_txn_event (t, &e, "partition %u released; 0x%" G_GINT64_MODIFIER
                   "x bytes of '%s' reclaimed", p->id, p->size, s->name);
  }
  asm_pmap_remove (m->partitions, p->id);
  switch_shrink (m, t, s);
}

gboolean
asm_fplan_release_partition (FModel *m, Txn *t, const FOpReleasePartition *a,
                             GError **error)
{
  if (asm_fmodel_get_partition (m, a->partition, error) == NULL)
    return FALSE;
  release_one (m, t, a->partition);
  t->desc = g_strdup_printf ("release partition %u", a->partition);
  return TRUE;
}

/* Seed 003: function transfer using virtualized mapping. */
gboolean
asm_fplan_transfer_vf (FModel *m, Txn *t, const FOpTransferVf *a,
                       GError **error)
{
  FDevice *vf = asm_fmodel_get_device (m, a->vf, error), *target, *nvf;
  FPartition *p;
  FSwitch *s2;
  guint64 base, virt;
  AsmXlatEntry entry;
  Step *st;

  if (vf == NULL ||
      (target = asm_fmodel_get_device (m, a->target_pf, error)) == NULL)
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
  if (FSW (m, target->sw)->draining)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "PF '%s' is behind switch '%s', which is draining: no VF "
                   "is routed there", target->name, FSW (m, target->sw)->name);
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
  if (!switch_place (m, t, s2, asm_round_up (nvf->bar_size, m->granule),
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
  ASM_BUG_UNLESS (entry.virt_first == virt);
  /* 4. hold the driver */
  st = asm_txn_step (t, ST_HOLD);
  st->device = vf->id;
  st->partition = p->id;
  /* 5. store the offset in the translation table */
  push_xlat_set (t, s2->id, &entry, NULL);
  if (vf->redirect_sw != ASM_ID_NONE)
    drop_redirect (m, t, FDEV_W (m, vf->id));
  /* 6. lift the hold; the first VF goes away */
  st = asm_txn_step (t, ST_RELEASE);
  st->device = vf->id;
  plan_vf_destroy (m, t, vf);
  p = FPART_W (m, p->id);
  for (guint i = 0; i < p->devices->len; i++)
    if (g_array_index (p->devices, AsmId, i) == vf->id)
      g_array_index (p->devices, AsmId, i) = nvf->id;
  p->generation++;
  /* 7. route by the offset: published with the model */
  {
    MovedNote note = { nvf->id, s2->id, base, vf->id };
    g_array_append_val (t->moved, note);
    g_array_append_val (t->resumed, nvf->id);
  }
  t->out_id = nvf->id;
  t->desc = g_strdup_printf ("transfer VF '%s' to PF '%s'", vf->name,
                             target->name);
  {
    AsmFabricEvent e = { ASM_EVENT_VF_TRANSFERRED, s2->id, vf->sw };
    e.old_device = vf->id;
    e.partition = p->id;
    e.device = nvf->id;
    e.range = ASM_RANGE (base, base + nvf->bar_size - 1);
    asm_txn_event (t, &e, "VF '%s' transferred to '%s' on '%s': virtual 0x%"
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

gboolean
asm_fplan_record_usage (FModel *m, Txn *t, const FOpRecordUsage *a,
                        GError **error)
{
  FWorkload *w = asm_fmodel_get_workload (m, a->workload, error);
  gdouble y = (gdouble) a->bytes_used, time = a->time;

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

gboolean
asm_fplan_set_window_granule (FModel *m, Txn *t, const FOpSetWindowGranule *a,
                              GError **error)
{
  guint64 v = a->bytes;
  if (!asm_is_pow2 (v) || v < m->granule)
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


/* ------------------------------------------------------------------ */
/* taking things away                                                   */

gboolean
asm_fplan_unmap_device (FModel *m, Txn *t, const FOpUnmapDevice *a,
                        GError **error)
{
  FPartition *p = asm_fmodel_get_partition (m, a->partition, error);
  FDevice *d = p ? asm_fmodel_get_device (m, a->device, error) : NULL;

  if (d == NULL)
    return FALSE;
  if (d->partition != p->id)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                   "partition %u does not hold device '%s'", p->id, d->name);
      return FALSE;
    }
  d = FDEV_W (m, d->id);
  device_drop_mapping (m, t, d);
  p = FPART_W (m, p->id);
  for (guint i = 0; i < p->devices->len; i++)
    if (g_array_index (p->devices, AsmId, i) == d->id)
      {
        g_array_remove_index (p->devices, i);
        break;
      }
  p->dev_next = asm_fpartition_devices_end (m, p); /* after one left */
  p->generation++;
  t->desc = g_strdup_printf ("unmap device '%s' from partition %u", d->name,
                             p->id);
  {
    AsmFabricEvent e = { ASM_EVENT_DEVICE_UNMAPPED, p->sw };
    e.partition = p->id;
    e.device = d->id;
    asm_txn_event (t, &e, "device '%s' unmapped from partition %u", d->name,
                   p->id);
  }
  return TRUE;
}

gboolean
asm_fplan_shrink_partition (FModel *m, Txn *t, const FOpShrinkPartition *a,
                            GError **error)
{
  FPartition *p = asm_fmodel_get_partition (m, a->partition, error);
  AsmXlatEntry old_entry, entry;
  AsmRange tail;
  FSwitch *s;
  Step *st;
  GError *err = NULL;

  if (p == NULL ||
      !validate_size (m, "partition", a->new_size, 0, error))
    return FALSE;
  if (a->new_size >= p->size)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "partition %u: new size 0x%" G_GINT64_MODIFIER "x is not "
                   "below its size 0x%" G_GINT64_MODIFIER "x", p->id,
                   a->new_size, p->size);
      return FALSE;
    }
  for (guint i = 0; i < p->devices->len; i++)
    {
      const FDevice *d = FDEV (m, g_array_index (p->devices, AsmId, i));
      if (d->partition_offset + d->bar_size > a->new_size)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                       "partition %u: device '%s' is mapped at 0x%"
                       G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER "x, "
                       "beyond the new size 0x%" G_GINT64_MODIFIER "x",
                       p->id, d->name, d->partition_offset,
                       d->partition_offset + d->bar_size - 1, a->new_size);
          return FALSE;
        }
    }
  /* the start stays: free the allocation and take its head again */
  s = FSW_W (m, p->sw);
  tail = ASM_RANGE (p->phys_first + a->new_size, p->phys_first + p->size - 1);
  if (!asm_arena_free (s->space, p->phys_first, &err) ||
      !asm_fmodel_alloc_exact (s->space, p->phys_first, a->new_size))
    ASM_BUG ("the model lost an allocation (F3): %s",
             err ? err->message : "its head is not free");
  asm_fpartition_entry (p, &old_entry);
  p = FPART_W (m, p->id);
  p->size = a->new_size;
  p->dev_next = MIN (p->dev_next, a->new_size);
  p->generation++;
  asm_fpartition_entry (p, &entry);
  push_xlat_set (t, s->id, &entry, &old_entry);
  st = asm_txn_step (t, ST_FLUSH);
  st->sw = s->id;
  st->range = tail;
  switch_shrink (m, t, s);
  t->out_id = s->id;
  t->desc = g_strdup_printf ("shrink partition %u to 0x%" G_GINT64_MODIFIER
                             "x", p->id, a->new_size);
  {
    AsmFabricEvent e = { ASM_EVENT_PARTITION_SHRUNK, s->id };
    e.partition = p->id;
    e.range = tail;
    asm_txn_event (t, &e, "partition %u shrank to 0x%" G_GINT64_MODIFIER
                   "x bytes on '%s'; 0x%" G_GINT64_MODIFIER "x bytes "
                   "reclaimed", p->id, p->size, s->name,
                   tail.last - tail.first + 1);
  }
  return TRUE;
}

/* A device that may leave: not mapped; a PF without VFs. */
static gboolean
device_can_leave (const FDevice *d, GError **error)
{
  if (d->partition != ASM_ID_NONE)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                   "device '%s' is mapped into partition %u", d->name,
                   d->partition);
      return FALSE;
    }
  if (d->kind == ASM_DEVICE_PF && d->vf_used != 0)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                   "PF '%s' still has %u VFs", d->name,
                   (guint) __builtin_popcountll (d->vf_used));
      return FALSE;
    }
  return TRUE;
}

gboolean
asm_fplan_destroy_vf (FModel *m, Txn *t, const FOpDestroyVf *a,
                      GError **error)
{
  FDevice *vf = asm_fmodel_get_device (m, a->vf, error), *pf;

  if (vf == NULL)
    return FALSE;
  if (vf->kind != ASM_DEVICE_VF)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "device '%s' is not a VF", vf->name);
      return FALSE;
    }
  if (!device_can_leave (vf, error))
    return FALSE;
  pf = plan_vf_destroy (m, t, vf);
  t->desc = g_strdup_printf ("destroy VF '%s'", vf->name);
  {
    AsmFabricEvent e = { ASM_EVENT_VF_DESTROYED, vf->sw };
    e.device = vf->id;
    asm_txn_event (t, &e, "VF '%s' of '%s' destroyed", vf->name, pf->name);
  }
  asm_pmap_remove (m->devices, vf->id);
  return TRUE;
}

gboolean
asm_fplan_remove_device (FModel *m, Txn *t, const FOpRemoveDevice *a,
                         GError **error)
{
  FDevice *d = asm_fmodel_get_device (m, a->device, error);
  FSwitch *s;
  Step *st;

  if (d == NULL)
    return FALSE;
  if (d->kind == ASM_DEVICE_VF)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "device '%s' is a VF: asm_fabric_destroy_vf() removes it",
                   d->name);
      return FALSE;
    }
  if (!device_can_leave (d, error))
    return FALSE;
  st = asm_txn_step (t, ST_UNBIND);
  st->device = d->id;
  st->name = g_strdup (d->name);
  st->sw = d->sw;
  st->port = d->port;
  s = FSW_W (m, d->sw);
  s->ports[d->port] = ASM_ID_NONE;
  t->desc = g_strdup_printf ("remove device '%s'", d->name);
  {
    AsmFabricEvent e = { ASM_EVENT_DEVICE_REMOVED, s->id };
    e.device = d->id;
    asm_txn_event (t, &e, "device '%s' unbound from '%s' port %u and "
                   "removed", d->name, s->name, d->port);
  }
  asm_pmap_remove (m->devices, d->id);
  return TRUE;
}

typedef struct {
  AsmId sw;
  GArray *ids;
} CollectCtx;

static gboolean
collect_partitions_on (guint32 key, AsmPObj *o, gpointer data)
{
  CollectCtx *c = data;
  if (((FPartition *) o)->sw == c->sw)
    g_array_append_val (c->ids, key);
  return TRUE;
}

static gboolean
find_redirect_on (guint32 key, AsmPObj *o, gpointer data)
{
  CollectCtx *c = data;
  if (((FDevice *) o)->redirect_sw == c->sw)
    {
      g_array_append_val (c->ids, key);
      return FALSE;
    }
  return TRUE;
}

gboolean
asm_fplan_drain_switch (FModel *m, Txn *t, const FOpDrainSwitch *a,
                        GError **error)
{
  FSwitch *s = asm_fmodel_get_switch (m, a->sw, error);
  g_autoptr (GArray) parts = g_array_new (FALSE, FALSE, sizeof (AsmId));
  g_autoptr (GArray) redirected = g_array_new (FALSE, FALSE, sizeof (AsmId));
  CollectCtx c;
  guint n_windows;

  if (s == NULL)
    return FALSE;
  /* a VF routed by this switch's own entry stays with its PF here: the
   * switch cannot give its windows back while it routes one */
  c = (CollectCtx) { s->id, redirected };
  asm_pmap_foreach (m->devices, find_redirect_on, &c);
  if (redirected->len > 0)
    {
      FDevice *d = FDEV (m, g_array_index (redirected, AsmId, 0));
      g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                   "switch '%s' routes VF '%s' (transferred there) by its "
                   "own entry; transfer or unmap it first", s->name,
                   d->name);
      return FALSE;
    }
  /* every window it has now goes back, some with the migrations */
  n_windows = s->windows->len;
  /* mark first, so no partition is placed back onto it */
  s = FSW_W (m, s->id);
  s->draining = TRUE;
  c = (CollectCtx) { s->id, parts };
  asm_pmap_foreach (m->partitions, collect_partitions_on, &c);
  for (guint i = 0; i < parts->len; i++)
    {
      AsmId pid = g_array_index (parts, AsmId, i);
      g_autoptr (GError) err = NULL;
      if (!migrate_one (m, t, pid, ASM_ID_NONE, &err))
        {
          g_set_error (error, err->domain, err->code,
                       "drain switch '%s': partition %u fits nowhere else: "
                       "%s", FSW (m, a->sw)->name, pid, err->message);
          return FALSE;
        }
    }
  s = FSW_W (m, a->sw);
  switch_give_back (m, t, s, TRUE);
  ASM_BUG_UNLESS (s->windows->len == 0);
  t->desc = g_strdup_printf ("drain switch '%s'", s->name);
  {
    AsmFabricEvent e = { ASM_EVENT_SWITCH_DRAINED, s->id };
    asm_txn_event (t, &e, "switch '%s' drained: %u partition%s moved off, "
                   "%u window%s given back", s->name, parts->len,
                   parts->len == 1 ? "" : "s", n_windows,
                   n_windows == 1 ? "" : "s");
  }
  return TRUE;
}

gboolean
asm_fplan_remove_switch (FModel *m, Txn *t, const FOpRemoveSwitch *a,
                         GError **error)
{
  FSwitch *s = asm_fmodel_get_switch (m, a->sw, error);
  guint bound = 0;
  Step *st;

  if (s == NULL)
    return FALSE;
  for (guint i = 0; i < s->n_ports; i++)
    bound += s->ports[i] != ASM_ID_NONE;
  if (s->n_partitions > 0 || s->windows->len > 0 || bound > 0 ||
      s->table_used > 0)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                   "switch '%s' still has %u partitions, %u windows, %u "
                   "bound devices and %u table entries (drain it and "
                   "remove its devices first)", s->name, s->n_partitions,
                   s->windows->len, bound, s->table_used);
      return FALSE;
    }
  st = asm_txn_step (t, ST_SWITCH_REMOVE);
  st->sw = s->id;
  st->name = g_strdup (s->name);
  st->n_ports = s->n_ports;
  st->capacity = s->table_capacity;
  t->desc = g_strdup_printf ("remove switch '%s'", s->name);
  {
    AsmFabricEvent e = { ASM_EVENT_SWITCH_REMOVED, s->id };
    asm_txn_event (t, &e, "switch '%s' (id %u) left", s->name, s->id);
  }
  asm_fmodel_remove_switch (m, s->id);
  return TRUE;
}

gboolean
asm_fplan_remove_workload (FModel *m, Txn *t, const FOpRemoveWorkload *a,
                           GError **error)
{
  FWorkload *w = asm_fmodel_get_workload (m, a->workload, error);
  g_autoptr (GArray) parts = NULL;
  g_autofree char *name = NULL;

  if (w == NULL)
    return FALSE;
  name = g_strdup (w->name);
  parts = g_array_copy (w->partitions);
  for (guint i = 0; i < parts->len; i++)
    release_one (m, t, g_array_index (parts, AsmId, i));
  t->desc = g_strdup_printf ("remove workload '%s'", name);
  {
    AsmFabricEvent e = { ASM_EVENT_WORKLOAD_REMOVED };
    asm_txn_event (t, &e, "workload '%s' ended: %u partition%s released",
                   name, parts->len, parts->len == 1 ? "" : "s");
  }
  asm_pmap_remove (m->workloads, a->workload);
  return TRUE;
}

gboolean
asm_fplan_migrate_workload (FModel *m, Txn *t, const FOpMigrateWorkload *a,
                            GError **error)
{
  FWorkload *w = asm_fmodel_get_workload (m, a->workload, error);
  g_autoptr (GArray) parts = NULL;
  AsmId to = a->target_switch;
  guint moved = 0;

  if (w == NULL)
    return FALSE;
  if (to != ASM_ID_NONE && asm_fmodel_get_switch (m, to, error) == NULL)
    return FALSE;
  parts = g_array_copy (w->partitions);
  if (to == ASM_ID_NONE && parts->len > 0)
    {
      /* one switch for all: placement for their sum, as one request */
      PlaceCtx c = { 0 };
      for (guint i = 0; i < parts->len; i++)
        {
          FPartition *p = FPART (m, g_array_index (parts, AsmId, i));
          c.size += p->size;
          c.align = MAX (c.align, p->align);
          c.min_bandwidth = MAX (c.min_bandwidth, p->min_bandwidth);
          if (p->max_latency_ns != 0)
            c.max_latency_ns = c.max_latency_ns == 0
                                   ? p->max_latency_ns
                                   : MIN (c.max_latency_ns, p->max_latency_ns);
          c.demand += p->bandwidth_demand;
          c.need_ports += partition_movers (m, p);
        }
      if (!choose_switch (m, &c, error))
        {
          g_prefix_error (error, "migrate workload '%s': ", w->name);
          return FALSE;
        }
      to = c.best;
    }
  for (guint i = 0; i < parts->len; i++)
    {
      AsmId pid = g_array_index (parts, AsmId, i);
      if (FPART (m, pid)->sw == to)
        continue;
      if (!migrate_one (m, t, pid, to, error))
        {
          g_prefix_error (error, "migrate workload '%s': ",
                          FWL (m, a->workload)->name);
          return FALSE;
        }
      moved++;
    }
  t->out_id = to;
  t->desc = g_strdup_printf ("migrate workload '%s' (%u partitions) to "
                             "switch %u", FWL (m, a->workload)->name, moved,
                             to);
  return TRUE;
}
