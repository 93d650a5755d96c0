/* asm-sim.c: the simulated switch fabric, the default backend (layer 4)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory of operation
 * ===================
 *
 * The sim backend is a deterministic model of switch hardware: the
 * registers a fabric manager programs, the checks the hardware makes
 * before it accepts a write, and faults injected on request.  It applies
 * every capability (windows, translation, devices, hold, flush, VFs, the
 * root complex's map, usage counters) and implements every member of
 * AsmBackendOps, so a fabric that runs on it exercises all of its apply and
 * undo paths.  asm_sim_verify() then reads the registers back and compares
 * them with the fabric's model.
 *
 * Registers.  Per switch, created by switch_add (id, name, n_ports,
 * table_capacity):
 *   windows   the committed address windows, kept sorted by first address
 *             (the order they were given in does not matter), pairwise
 *             disjoint; adjacent windows stay separate;
 *   table     the committed translation table: AsmXlatEntry sorted by key,
 *             keys unique and non-zero, at most table_capacity entries;
 *   staging   NULL, or the update being made between xlat_begin and
 *             xlat_commit / xlat_abort: xlat_set and xlat_remove append
 *             to it, in call order, and the staged table is the committed
 *             one with those changes applied (it may exceed the capacity
 *             while it is edited); xlat_commit applies them in one step,
 *             and refuses ("table full") when the result holds more than
 *             table_capacity entries, leaving the table as it was and the
 *             update open.  An update costs O(changes), not O(table): a
 *             switch with 10^5 entries is updated as fast as one with 10;
 *   ports     the device bound at each port, ASM_ID_NONE (0) when free.
 *             Port 0 is an ordinary port: "free" is the device id 0, which
 *             no device has, never a port number;
 *   flushes   how many cache_flush calls the switch accepted.
 * switch_remove deletes a switch and all of these with it (they are empty
 * by then, see below); a later switch_add of the same id starts afresh.
 * Global: the bindings (device -> switch, port, name), the VFs
 * ((pf, vf_index) -> vf id), the set of held devices, and:
 *   routes    the root complex's register file: {first, last, switch}
 *             triples, sorted by first, pairwise disjoint whichever switch
 *             they go to (adjacent ones stay separate), each to a switch
 *             that exists.  root_routes (sw, list) replaces every route of
 *             sw with the list (the order it comes in does not matter; an
 *             empty list removes them).  It is independent of the
 *             switches' own windows registers: the fabric keeps the two
 *             equal, and asm_sim_verify() compares both with its model;
 *   usage     the usage counters, one per partition id that has been read,
 *             sorted by partition: how many usage_read calls answered for
 *             it.  Deterministic model of the bytes in use: the read of
 *             partition p on switch sw finds the committed table entry of
 *             sw with key p (its size is the partition's size) and answers
 *               min (size, size/4 + (size/8) * reads)
 *             where reads is the count before this read, which then grows
 *             by one: 1/4 of the partition at the first read, 1/8 more at
 *             each one after, up to all of it (computed without
 *             overflow).  The count belongs to the partition, not the
 *             switch or the entry: it survives a migration or a resize,
 *             and the answer uses the size of the entry read.  Refused
 *             reads do not count.
 *
 * Validation, as hardware would refuse a write (every refusal is
 * ASM_ERROR_BACKEND and changes nothing; the message names the call and
 * its switch, port or device, then the reason):
 *   every call   the switch must exist (switch_add first); ids are
 *                non-zero; ports are below n_ports;
 *   switch_add   an id that exists with the same name, ports and capacity
 *                is accepted and changes nothing (a restarted fabric may
 *                announce its switches again); with different ones it is
 *                refused;
 *   windows      each window has first <= last; no two overlap;
 *   xlat         set/remove/commit need an open update; begin refuses a
 *                second one; set needs size >= 1 and a virtual range that
 *                does not pass 2^64 - 1; commit refuses more entries than
 *                the capacity;
 *   bind         the port must be free and the device bound nowhere else;
 *                a VF is never bound to a port; binding a device again at
 *                its own port succeeds and changes nothing;
 *   unbind       a device bound at another port than the one named is not
 *                bound there: the unbind succeeds and changes nothing (it
 *                must not unbind the device elsewhere, and an undo
 *                repeated by a recovery, after later undos put the device
 *                back, must go through; the QEMU backend does the same);
 *   hold         a device that is not present (neither bound nor a VF)
 *                accesses nothing: holding it succeeds and changes nothing
 *                (an undo that a recovery repeats, after a kill in the
 *                middle of the process's own undo left the device between
 *                ports, must go through);
 *   vf_create    the PF must be bound; the index must be free (creating
 *                the same VF at the same index again succeeds and changes
 *                nothing); the VF id must not exist elsewhere nor be bound;
 *   vf_destroy   an index that holds another VF, or a VF that lives at
 *                another index, is refused;
 *   flush        the range has first <= last;
 *   root_routes  each window has first <= last; no two overlap; none
 *                overlaps a route of another switch (routes of sw itself
 *                are being replaced and may overlap);
 *   switch_remove  id 0 is refused; the switch must have no windows, no
 *                table entries, no open update (even an empty one), no
 *                bound port (a pending bind or unbind counts as bound) and
 *                no root route;
 *   usage_read   partition id 0 is refused; the committed table of the
 *                switch must hold an entry with that key (a staged one
 *                does not count).
 * Inverses are idempotent, as AsmBackendOps requires: removing an absent
 * entry, unbinding an unbound device, releasing a device that is not held,
 * destroying an absent VF, removing an absent switch and aborting when no
 * update is open all succeed and change nothing.  Holding a held device
 * succeeds too, and root_routes with the list a switch already has
 * succeeds and changes nothing (the undo of a route change sets the old
 * list again).
 *
 * Pending binds (asm_sim_set_pending_binds(), private, off by default).
 * A bind or unbind that changes something returns ASM_BACKEND_PENDING and
 * takes effect at device_wait.  Meanwhile a pending bind occupies its port
 * but the device is not present (no hold, no VFs); a pending unbind keeps
 * the device bound.  Repeating the pending call returns PENDING again;
 * the opposite call is refused until the wait.  device_wait with nothing
 * pending succeeds at once.
 *
 * Fault injection.  Every call of an operation that can fail is counted,
 * whether it succeeds or not; transaction_begin, undo_begin,
 * transaction_end, xlat_abort and destroy cannot fail and are not counted
 * (so "fail call n" always lands on a call that can fail).  Call numbers
 * start at 1.  Before it validates anything, call c fails when:
 *   crash    asm_sim_crash_after(n) was called when n_calls was m, and
 *            c > m + n: the controlling process is gone, every call fails
 *            ("simulated crash"), and xlat_abort does nothing, until
 *            asm_sim_clear_faults();
 *   one-shot asm_sim_fail_call(n) was called when n_calls was m, and
 *            c == m + n ("injected fault (call c)"); one pending at a time;
 *   kind     the call's AsmSimOp (or ASM_SIM_OP_ANY) is set with
 *            asm_sim_fail_kind(); root_routes is ASM_SIM_OP_ROOT,
 *            usage_read ASM_SIM_OP_USAGE, device_wait has the kind of the
 *            call it completes, switch_add and switch_remove only
 *            ASM_SIM_OP_ANY.
 * One-shot and kind faults are not injected between undo_begin and
 * transaction_end (undo must not stop halfway); a one-shot whose call
 * falls there is spent without effect.  The crash applies everywhere.
 * asm_sim_clear_faults() clears all three and the undo flag, and keeps the
 * registers and the call count: a crash models the process dying, not the
 * hardware, so an update left open stays open until someone aborts it.
 *
 * Modules.  The sim is three files that share the structures and helpers
 * of asm-sim-private.h:
 *   asm-sim.c          the registers, the operations and their validation,
 *                      fault injection, the ops table (its members that
 *                      write the registers through included), the
 *                      constructors and accessors: this comment;
 *   asm-sim-persist.c  the state file of asm_sim_backend_new_persistent():
 *                      its JSON form, loading, write-through;
 *   asm-sim-verify.c   asm_sim_dump(), asm_sim_verify() and the invariants
 *                      S1-S8 that asm_sim_check() verifies (the S numbers
 *                      in the comments of this file are theirs).
 *
 * Cost (s switches, t entries of one table, w windows in a call, r root
 * routes, v VFs, h held, u usage counters): switch lookup O(log s);
 * switch_add O(s); windows_commit O(w log w); xlat_begin O(t); xlat_set
 * and xlat_remove O(log t) search plus O(t) move; xlat_commit O(1); bind,
 * unbind, wait O(1) expected; hold and release O(h); vf_create,
 * vf_destroy O(v); root_routes O(w log w + w log r + k + r), k the routes
 * the windows overlap (a rebuild of the register file: the fabric calls it
 * once per window change, not per byte); switch_remove O(s + r + ports);
 * usage_read O(log s + log t + log u), plus O(u) the first time a
 * partition is read; dump, check, verify linear.
 *
 * Locking.  One mutex per backend around every call (recursive, for the
 * write-through of asm-sim-persist.c), so the fault controls, dump and
 * verify may be used from any thread.  The sim never calls out while it
 * holds it: verify reads the fabric first, then locks the sim and compares.
 */
#include <asm/asm-sim.h>

#include <string.h>

#include "asm-backend-private.h"
#include "asm-sim-private.h"

#define X "0x%" G_GINT64_MODIFIER "x"

/* the last AsmSimOp: fail_kinds has a bit for each */
#define SIM_OP_LAST ASM_SIM_OP_USAGE
G_STATIC_ASSERT (SIM_OP_LAST < 32);

/* ------------------------------------------------------------------ */
/* state                                                                */

static void
sim_switch_free (gpointer data)
{
  SimSwitch *s = data;

  g_free (s->name);
  g_array_unref (s->windows);
  g_array_unref (s->table);
  if (s->staging != NULL)
    g_array_unref (s->staging);
  g_free (s->ports);
  g_free (s);
}

static void
sim_binding_free (gpointer data)
{
  SimBinding *b = data;

  g_free (b->name);
  g_free (b);
}

Sim *
asm_sim_new (void)
{
  Sim *sim = g_new0 (Sim, 1);

  sim->magic = SIM_MAGIC;
  g_rec_mutex_init (&sim->lock);
  sim->switches = g_ptr_array_new_with_free_func (sim_switch_free);
  sim->bindings = g_hash_table_new_full (NULL, NULL, NULL, sim_binding_free);
  sim->vfs = g_array_new (FALSE, FALSE, sizeof (SimVf));
  sim->held = g_array_new (FALSE, FALSE, sizeof (AsmId));
  sim->routes = g_array_new (FALSE, FALSE, sizeof (SimRoute));
  sim->usage = g_array_new (FALSE, FALSE, sizeof (SimUsage));
  return sim;
}

void
asm_sim_destroy (gpointer self)
{
  Sim *sim = self;

  g_return_if_fail (sim != NULL && sim->magic == SIM_MAGIC);
  sim->magic = SIM_DEAD;
  g_ptr_array_unref (sim->switches);
  g_hash_table_unref (sim->bindings);
  g_array_unref (sim->vfs);
  g_array_unref (sim->held);
  g_array_unref (sim->routes);
  g_array_unref (sim->usage);
  g_free (sim->path);
  g_free (sim->tmp_path);
  g_free (sim->saved);
  g_rec_mutex_clear (&sim->lock);
  g_free (sim);
}

/* Binary search in a sorted array of switches; *out_pos is where @id is or
 * would be inserted. */
SimSwitch *
asm_sim_find_switch (Sim *sim, AsmId id, guint *out_pos)
{
  guint lo = 0, hi = sim->switches->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      SimSwitch *s = g_ptr_array_index (sim->switches, mid);

      if (s->id == id)
        {
          if (out_pos != NULL)
            *out_pos = mid;
          return s;
        }
      if (s->id < id)
        lo = mid + 1;
      else
        hi = mid;
    }
  if (out_pos != NULL)
    *out_pos = lo;
  return NULL;
}


gboolean
asm_sim_sorted_find (GArray *array, guint64 key, AsmSimKeyFunc key_of,
                     guint *out_pos)
{
  gsize size = g_array_get_element_size (array);
  guint lo = 0, hi = array->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      guint64 k = key_of (array->data + (gsize) mid * size);

      if (k == key)
        {
          *out_pos = mid;
          return TRUE;
        }
      if (k < key)
        lo = mid + 1;
      else
        hi = mid;
    }
  *out_pos = lo;
  return FALSE;
}

static guint64
entry_key (gconstpointer e)
{
  return ((const AsmXlatEntry *) e)->key;
}
/* Applies change c to the sorted table t; what it replaced or removed goes
 * to *out_old (has_old tells whether there was one), so it can be undone
 * with table_undo(). */
static void
table_apply (GArray *t, const SimXlatChange *c, AsmXlatEntry *out_old,
             gboolean *has_old)
{
  guint pos;

  *has_old = asm_sim_sorted_find (t, c->entry.key, entry_key, &pos);
  if (*has_old)
    *out_old = g_array_index (t, AsmXlatEntry, pos);
  if (c->remove)
    {
      if (*has_old)
        g_array_remove_index (t, pos);
    }
  else if (*has_old)
    g_array_index (t, AsmXlatEntry, pos) = c->entry;
  else
    g_array_insert_val (t, pos, c->entry);
}

static void
table_undo (GArray *t, AsmId key, const AsmXlatEntry *old, gboolean has_old)
{
  guint pos;
  gboolean present = asm_sim_sorted_find (t, key, entry_key, &pos);

  if (has_old && present)
    g_array_index (t, AsmXlatEntry, pos) = *old;
  else if (has_old)
    g_array_insert_val (t, pos, *old);
  else if (present)
    g_array_remove_index (t, pos);
}

/* the staged table of s (the table with the open update applied): a new
 * array, for the dump and the checks */
GArray *
asm_sim_staged_table (const SimSwitch *s)
{
  GArray *t = g_array_copy (s->table);

  for (guint i = 0; i < s->staging->len; i++)
    {
      AsmXlatEntry old;
      gboolean has_old;
      table_apply (t, &g_array_index (s->staging, SimXlatChange, i), &old,
                   &has_old);
    }
  return t;
}

guint64
asm_sim_id_key (gconstpointer e)
{
  return *(const AsmId *) e;
}

static guint64
route_key (gconstpointer e)
{
  return ((const SimRoute *) e)->first;
}

static guint64
usage_key (gconstpointer e)
{
  return ((const SimUsage *) e)->partition;
}

/* How many windows the root complex routes to switch @sw: O(routes). */
static guint
sim_count_routes (Sim *sim, AsmId sw)
{
  guint n = 0;

  for (guint i = 0; i < sim->routes->len; i++)
    if (g_array_index (sim->routes, SimRoute, i).sw == sw)
      n++;
  return n;
}

static guint64
vf_key_of (AsmId pf, guint32 index)
{
  return ((guint64) pf << 32) | index;
}

guint64
asm_sim_vf_key (gconstpointer e)
{
  const SimVf *v = e;

  return vf_key_of (v->pf, v->index);
}

/* the position of VF @vf in sim->vfs, or -1 */
gint
asm_sim_find_vf_id (Sim *sim, AsmId vf)
{
  for (guint i = 0; i < sim->vfs->len; i++)
    if (g_array_index (sim->vfs, SimVf, i).vf == vf)
      return (gint) i;
  return -1;
}

SimBinding *
asm_sim_find_binding (Sim *sim, AsmId device)
{
  return g_hash_table_lookup (sim->bindings, GUINT_TO_POINTER (device));
}

/* A device the hardware can reach: bound (and not waiting for its bind),
 * or a VF. */
static gboolean
sim_device_present (Sim *sim, AsmId device)
{
  SimBinding *b = asm_sim_find_binding (sim, device);

  if (b != NULL)
    return b->pending != PENDING_BIND;
  return asm_sim_find_vf_id (sim, device) >= 0;
}

static gboolean
sim_is_crashed (Sim *sim)
{
  return sim->crash_armed && sim->n_calls >= sim->crash_at;
}

/* ------------------------------------------------------------------ */
/* errors and fault injection                                           */

/* Sets "CTX: MESSAGE" as an ASM_ERROR_BACKEND error. */
void
asm_sim_fail (GError **error, const char *ctx, const char *format, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND, "%s: %s", ctx, msg);
}

/* Counts a call and decides whether a fault is injected into it.  The
 * first thing every operation that can fail does, with the lock held. */
static gboolean
sim_enter (Sim *sim, AsmSimOp kind, const char *ctx, GError **error)
{
  guint64 call = ++sim->n_calls;
  guint32 kinds = 1u << ASM_SIM_OP_ANY;

  if (kind != ASM_SIM_OP_ANY)
    kinds |= 1u << kind;

  if (sim->crash_armed && call > sim->crash_at)
    {
      asm_sim_fail (error, ctx, "simulated crash (call %" G_GUINT64_FORMAT ")",
                    call);
      return FALSE;
    }
  if (call == sim->fail_at)
    {
      sim->fail_at = 0;
      if (!sim->in_undo)
        {
          asm_sim_fail (error, ctx,
                        "injected fault (call %" G_GUINT64_FORMAT ")", call);
          return FALSE;
        }
    }
  if (!sim->in_undo && (sim->fail_kinds & kinds) != 0)
    {
      asm_sim_fail (error, ctx, "injected fault (call %" G_GUINT64_FORMAT ")",
                    call);
      return FALSE;
    }
  return TRUE;
}

/* The switch @id, or NULL with the error set. */
static SimSwitch *
sim_get_switch (Sim *sim, AsmId id, const char *ctx, GError **error)
{
  SimSwitch *s = asm_sim_find_switch (sim, id, NULL);

  if (s == NULL)
    asm_sim_fail (error, ctx, "no such switch");
  return s;
}

static gboolean
sim_check_port (SimSwitch *s, guint32 port, const char *ctx, GError **error)
{
  if (port < s->n_ports)
    return TRUE;
  if (s->n_ports == 0)
    asm_sim_fail (error, ctx, "switch %u has no ports", s->id);
  else
    asm_sim_fail (error, ctx, "port %u is out of range 0..%u", port,
                  s->n_ports - 1);
  return FALSE;
}

/* Ids are non-zero (ASM_ID_NONE is "none"): every call that names a
 * switch, a device or a partition refuses 0 with the same message,
 * "WHAT id 0 is invalid". */
static gboolean
sim_check_id (AsmId id, const char *what, const char *ctx, GError **error)
{
  if (id != ASM_ID_NONE)
    return TRUE;
  asm_sim_fail (error, ctx, "%s id 0 is invalid", what);
  return FALSE;
}

#define CTX(...) \
  char ctx[128]; \
  g_snprintf (ctx, sizeof ctx, __VA_ARGS__)

/* ------------------------------------------------------------------ */
/* operations                                                           */

static void
sim_transaction_begin (gpointer self, const char *what)
{
  Sim *sim = self;
  SIM_LOCK (sim);

  sim->in_undo = FALSE;
}

static void
sim_undo_begin (gpointer self)
{
  Sim *sim = self;
  SIM_LOCK (sim);

  sim->in_undo = TRUE;
}

static void
sim_transaction_end (gpointer self, gboolean committed)
{
  Sim *sim = self;
  SIM_LOCK (sim);

  sim->in_undo = FALSE;
}

static gboolean
sim_switch_add (gpointer self, AsmId sw, const char *name, guint32 n_ports,
                guint32 table_capacity, GError **error)
{
  Sim *sim = self;
  SimSwitch *s;
  guint pos;
  SIM_LOCK (sim);
  CTX ("switch_add switch %u", sw);

  if (!sim_enter (sim, ASM_SIM_OP_ANY, ctx, error))
    return FALSE;
  if (!sim_check_id (sw, "switch", ctx, error))
    return FALSE;
  if (name == NULL)
    name = "";
  s = asm_sim_find_switch (sim, sw, &pos);
  if (s != NULL)
    {
      if (strcmp (s->name, name) == 0 && s->n_ports == n_ports &&
          s->table_capacity == table_capacity)
        return TRUE;
      asm_sim_fail (error, ctx,
                    "switch %u exists as \"%s\" with %u ports and %u table "
                    "entries, not \"%s\" with %u ports and %u entries",
                    sw, s->name, s->n_ports, s->table_capacity, name, n_ports,
                    table_capacity);
      return FALSE;
    }

  s = g_new0 (SimSwitch, 1);
  s->id = sw;
  s->name = g_strdup (name);
  s->n_ports = n_ports;
  s->table_capacity = table_capacity;
  s->windows = g_array_new (FALSE, FALSE, sizeof (AsmRange));
  s->table = g_array_new (FALSE, FALSE, sizeof (AsmXlatEntry));
  s->ports = g_new0 (AsmId, MAX (n_ports, 1));
  g_ptr_array_insert (sim->switches, (gint) pos, s);
  return TRUE;
}

gint
asm_sim_range_cmp (gconstpointer a, gconstpointer b)
{
  const AsmRange *x = a, *y = b;

  if (x->first != y->first)
    return x->first < y->first ? -1 : 1;
  if (x->last != y->last)
    return x->last < y->last ? -1 : 1;
  return 0;
}

/* A window list as windows_commit and root_routes take it: a new array of
 * the windows sorted by address, or NULL with the error set when one is
 * empty or two overlap.  O(n log n). */
static GArray *
sim_sorted_windows (const AsmRange *windows, guint n_windows,
                    const char *ctx, GError **error)
{
  g_autoptr (GArray) sorted = NULL;

  for (guint i = 0; i < n_windows; i++)
    if (windows[i].first > windows[i].last)
      {
        asm_sim_fail (error, ctx, "window " X "-" X " is empty",
                      windows[i].first, windows[i].last);
        return NULL;
      }

  sorted = g_array_sized_new (FALSE, FALSE, sizeof (AsmRange), n_windows);
  if (n_windows > 0)
    g_array_append_vals (sorted, windows, n_windows);
  g_array_sort (sorted, asm_sim_range_cmp);
  for (guint i = 1; i < sorted->len; i++)
    {
      const AsmRange *a = &g_array_index (sorted, AsmRange, i - 1);
      const AsmRange *b = &g_array_index (sorted, AsmRange, i);

      if (a->last >= b->first)
        {
          asm_sim_fail (error, ctx,
                        "windows " X "-" X " and " X "-" X " overlap", a->first,
                        a->last, b->first, b->last);
          return NULL;
        }
    }
  return g_steal_pointer (&sorted);
}

static gboolean
sim_windows_commit (gpointer self, AsmId sw, const AsmRange *windows,
                    guint n_windows, GError **error)
{
  Sim *sim = self;
  GArray *sorted;
  SimSwitch *s;
  SIM_LOCK (sim);
  CTX ("windows_commit switch %u", sw);

  g_return_val_if_fail (n_windows == 0 || windows != NULL, FALSE);

  if (!sim_enter (sim, ASM_SIM_OP_WINDOWS, ctx, error))
    return FALSE;
  if ((s = sim_get_switch (sim, sw, ctx, error)) == NULL)
    return FALSE;
  if ((sorted = sim_sorted_windows (windows, n_windows, ctx, error)) == NULL)
    return FALSE;

  g_array_unref (s->windows);
  s->windows = sorted;
  return TRUE;
}

static gboolean
sim_xlat_begin (gpointer self, AsmId sw, GError **error)
{
  Sim *sim = self;
  SimSwitch *s;
  SIM_LOCK (sim);
  CTX ("xlat_begin switch %u", sw);

  if (!sim_enter (sim, ASM_SIM_OP_XLAT, ctx, error))
    return FALSE;
  if ((s = sim_get_switch (sim, sw, ctx, error)) == NULL)
    return FALSE;
  if (s->staging != NULL)
    {
      asm_sim_fail (error, ctx, "a table update is already open");
      return FALSE;
    }
  s->staging = g_array_new (FALSE, FALSE, sizeof (SimXlatChange));
  return TRUE;
}

/* The switch, with an open update, or NULL with the error set. */
static SimSwitch *
sim_get_staging (Sim *sim, AsmId sw, const char *ctx, GError **error)
{
  SimSwitch *s = sim_get_switch (sim, sw, ctx, error);

  if (s != NULL && s->staging == NULL)
    {
      asm_sim_fail (error, ctx, "no table update is open (xlat_begin first)");
      return NULL;
    }
  return s;
}

static gboolean
sim_xlat_set (gpointer self, AsmId sw, const AsmXlatEntry *entry,
              GError **error)
{
  Sim *sim = self;
  SimSwitch *s;
  SIM_LOCK (sim);

  g_return_val_if_fail (entry != NULL, FALSE);
  {
    CTX ("xlat_set switch %u key %u", sw, entry->key);

    if (!sim_enter (sim, ASM_SIM_OP_XLAT, ctx, error))
      return FALSE;
    if ((s = sim_get_staging (sim, sw, ctx, error)) == NULL)
      return FALSE;
    if (entry->key == ASM_ID_NONE)
      {
        asm_sim_fail (error, ctx, "key 0 is invalid");
        return FALSE;
      }
    if (entry->size == 0)
      {
        asm_sim_fail (error, ctx, "the entry's size is 0");
        return FALSE;
      }
    if (entry->size - 1 > G_MAXUINT64 - entry->virt_first)
      {
        asm_sim_fail (error, ctx,
                      "virtual range " X " + " X " passes the end of the "
                      "address space",
                      entry->virt_first, entry->size);
        return FALSE;
      }
    {
      SimXlatChange c = { *entry, FALSE };
      g_array_append_val (s->staging, c);
    }
  }
  return TRUE;
}

static gboolean
sim_xlat_remove (gpointer self, AsmId sw, AsmId key, GError **error)
{
  Sim *sim = self;
  SimSwitch *s;
  SIM_LOCK (sim);
  CTX ("xlat_remove switch %u key %u", sw, key);

  if (!sim_enter (sim, ASM_SIM_OP_XLAT, ctx, error))
    return FALSE;
  if ((s = sim_get_staging (sim, sw, ctx, error)) == NULL)
    return FALSE;
  {
    SimXlatChange c = { { .key = key }, TRUE };
    g_array_append_val (s->staging, c);
  }
  return TRUE;
}

static gboolean
sim_xlat_commit (gpointer self, AsmId sw, GError **error)
{
  Sim *sim = self;
  SimSwitch *s;
  SIM_LOCK (sim);
  CTX ("xlat_commit switch %u", sw);

  if (!sim_enter (sim, ASM_SIM_OP_XLAT, ctx, error))
    return FALSE;
  if ((s = sim_get_staging (sim, sw, ctx, error)) == NULL)
    return FALSE;
  {
    guint n = s->staging->len, staged;
    g_autofree AsmXlatEntry *old = g_new (AsmXlatEntry, MAX (n, 1));
    g_autofree gboolean *has_old = g_new (gboolean, MAX (n, 1));

    for (guint i = 0; i < n; i++)
      table_apply (s->table, &g_array_index (s->staging, SimXlatChange, i),
                   &old[i], &has_old[i]);
    staged = s->table->len;
    if (staged > s->table_capacity)
      {
        for (guint i = n; i-- > 0;)
          table_undo (s->table,
                      g_array_index (s->staging, SimXlatChange, i).entry.key,
                      &old[i], has_old[i]);
        asm_sim_fail (error, ctx, "table full: %u entries staged, capacity %u",
                      staged, s->table_capacity);
        return FALSE;
      }
  }
  g_clear_pointer (&s->staging, g_array_unref);
  return TRUE;
}

static void
sim_xlat_abort (gpointer self, AsmId sw)
{
  Sim *sim = self;
  SimSwitch *s;
  SIM_LOCK (sim);

  if (sim_is_crashed (sim))
    return;
  s = asm_sim_find_switch (sim, sw, NULL);
  if (s != NULL && s->staging != NULL)
    g_clear_pointer (&s->staging, g_array_unref);
}

static AsmBackendStatus
sim_device_bind (gpointer self, AsmId device, const char *device_name,
                 AsmId sw, guint32 port, GError **error)
{
  Sim *sim = self;
  SimSwitch *s;
  SimBinding *b;
  gint vf;
  SIM_LOCK (sim);
  CTX ("device_bind device %u to switch %u port %u", device, sw, port);

  if (!sim_enter (sim, ASM_SIM_OP_BIND, ctx, error))
    return ASM_BACKEND_FAILED;
  if (!sim_check_id (device, "device", ctx, error))
    return ASM_BACKEND_FAILED;
  if ((s = sim_get_switch (sim, sw, ctx, error)) == NULL ||
      !sim_check_port (s, port, ctx, error))
    return ASM_BACKEND_FAILED;
  if ((vf = asm_sim_find_vf_id (sim, device)) >= 0)
    {
      const SimVf *v = &g_array_index (sim->vfs, SimVf, vf);

      asm_sim_fail (error, ctx,
                    "device %u is VF %u of PF %u; a VF is not bound "
                    "to a port",
                    device, v->index, v->pf);
      return ASM_BACKEND_FAILED;
    }
  if ((b = asm_sim_find_binding (sim, device)) != NULL)
    {
      if (b->sw != sw || b->port != port)
        {
          asm_sim_fail (error, ctx,
                        "device %u is already bound at switch %u "
                        "port %u",
                        device, b->sw, b->port);
          return ASM_BACKEND_FAILED;
        }
      if (b->pending == PENDING_UNBIND)
        {
          asm_sim_fail (error, ctx, "an unbind of device %u is pending",
                        device);
          return ASM_BACKEND_FAILED;
        }
      return b->pending == PENDING_BIND ? ASM_BACKEND_PENDING
                                        : ASM_BACKEND_DONE;
    }
  if (s->ports[port] != ASM_ID_NONE)
    {
      asm_sim_fail (error, ctx, "port %u is occupied by device %u", port,
                    s->ports[port]);
      return ASM_BACKEND_FAILED;
    }

  b = g_new0 (SimBinding, 1);
  b->device = device;
  b->name = g_strdup (device_name != NULL ? device_name : "");
  b->sw = sw;
  b->port = port;
  b->pending = sim->pending_binds ? PENDING_BIND : PENDING_NONE;
  g_hash_table_insert (sim->bindings, GUINT_TO_POINTER (device), b);
  s->ports[port] = device;
  return sim->pending_binds ? ASM_BACKEND_PENDING : ASM_BACKEND_DONE;
}

static void
sim_remove_binding (Sim *sim, SimBinding *b)
{
  SimSwitch *s = asm_sim_find_switch (sim, b->sw, NULL);

  s->ports[b->port] = ASM_ID_NONE;
  g_hash_table_remove (sim->bindings, GUINT_TO_POINTER (b->device));
}

static AsmBackendStatus
sim_device_unbind (gpointer self, AsmId device, AsmId sw, guint32 port,
                   GError **error)
{
  Sim *sim = self;
  SimSwitch *s;
  SimBinding *b;
  SIM_LOCK (sim);
  CTX ("device_unbind device %u from switch %u port %u", device, sw, port);

  if (!sim_enter (sim, ASM_SIM_OP_UNBIND, ctx, error))
    return ASM_BACKEND_FAILED;
  if (!sim_check_id (device, "device", ctx, error))
    return ASM_BACKEND_FAILED;
  if ((s = sim_get_switch (sim, sw, ctx, error)) == NULL ||
      !sim_check_port (s, port, ctx, error))
    return ASM_BACKEND_FAILED;
  if ((b = asm_sim_find_binding (sim, device)) == NULL)
    return ASM_BACKEND_DONE;
  if (b->sw != sw || b->port != port)
    return ASM_BACKEND_DONE; /* not bound there: nothing to do */
  if (b->pending == PENDING_BIND)
    {
      asm_sim_fail (error, ctx, "a bind of device %u is pending", device);
      return ASM_BACKEND_FAILED;
    }
  if (b->pending == PENDING_UNBIND)
    return ASM_BACKEND_PENDING;
  if (sim->pending_binds)
    {
      b->pending = PENDING_UNBIND;
      return ASM_BACKEND_PENDING;
    }
  sim_remove_binding (sim, b);
  return ASM_BACKEND_DONE;
}

static gboolean
sim_device_wait (gpointer self, AsmId device, guint timeout_ms,
                 GError **error)
{
  Sim *sim = self;
  SimBinding *b;
  AsmSimOp kind = ASM_SIM_OP_ANY;
  SIM_LOCK (sim);
  CTX ("device_wait device %u", device);

  b = asm_sim_find_binding (sim, device);
  if (b != NULL && b->pending == PENDING_BIND)
    kind = ASM_SIM_OP_BIND;
  else if (b != NULL && b->pending == PENDING_UNBIND)
    kind = ASM_SIM_OP_UNBIND;
  if (!sim_enter (sim, kind, ctx, error))
    return FALSE;
  if (!sim_check_id (device, "device", ctx, error))
    return FALSE;
  if (b == NULL || b->pending == PENDING_NONE)
    return TRUE;
  if (b->pending == PENDING_BIND)
    b->pending = PENDING_NONE;
  else
    sim_remove_binding (sim, b);
  return TRUE;
}

static gboolean
sim_device_hold (gpointer self, AsmId device, GError **error)
{
  Sim *sim = self;
  guint pos;
  SIM_LOCK (sim);
  CTX ("device_hold device %u", device);

  if (!sim_enter (sim, ASM_SIM_OP_HOLD, ctx, error))
    return FALSE;
  if (!sim_check_id (device, "device", ctx, error))
    return FALSE;
  if (!sim_device_present (sim, device))
    return TRUE; /* not there: it accesses nothing, nothing to hold */
  if (!asm_sim_sorted_find (sim->held, device, asm_sim_id_key, &pos))
    g_array_insert_val (sim->held, pos, device);
  return TRUE;
}

static gboolean
sim_device_release (gpointer self, AsmId device, GError **error)
{
  Sim *sim = self;
  guint pos;
  SIM_LOCK (sim);
  CTX ("device_release device %u", device);

  if (!sim_enter (sim, ASM_SIM_OP_HOLD, ctx, error))
    return FALSE;
  if (!sim_check_id (device, "device", ctx, error))
    return FALSE;
  if (asm_sim_sorted_find (sim->held, device, asm_sim_id_key, &pos))
    g_array_remove_index (sim->held, pos);
  return TRUE;
}

static gboolean
sim_check_vf_ids (AsmId pf, AsmId vf, const char *ctx, GError **error)
{
  if (!sim_check_id (pf, "device", ctx, error) ||
      !sim_check_id (vf, "device", ctx, error))
    return FALSE;
  if (pf == vf)
    {
      asm_sim_fail (error, ctx, "device %u cannot be its own VF", vf);
      return FALSE;
    }
  return TRUE;
}

static gboolean
sim_vf_create (gpointer self, AsmId pf, guint32 vf_index, AsmId vf,
               GError **error)
{
  Sim *sim = self;
  SimBinding *b;
  SimVf v = { pf, vf_index, vf };
  guint pos;
  gint other;
  SIM_LOCK (sim);
  CTX ("vf_create VF %u at PF %u index %u", vf, pf, vf_index);

  if (!sim_enter (sim, ASM_SIM_OP_VF, ctx, error))
    return FALSE;
  if (!sim_check_vf_ids (pf, vf, ctx, error))
    return FALSE;
  b = asm_sim_find_binding (sim, pf);
  if (b == NULL || b->pending == PENDING_BIND)
    {
      if (asm_sim_find_vf_id (sim, pf) >= 0)
        asm_sim_fail (error, ctx, "PF %u is itself a VF", pf);
      else
        asm_sim_fail (error, ctx, "PF %u is not present (not bound)", pf);
      return FALSE;
    }
  if (asm_sim_sorted_find (sim->vfs, asm_sim_vf_key (&v), asm_sim_vf_key, &pos))
    {
      AsmId there = g_array_index (sim->vfs, SimVf, pos).vf;

      if (there == vf)
        return TRUE;
      asm_sim_fail (error, ctx, "index %u of PF %u is in use by VF %u",
                    vf_index, pf, there);
      return FALSE;
    }
  if ((other = asm_sim_find_vf_id (sim, vf)) >= 0)
    {
      const SimVf *o = &g_array_index (sim->vfs, SimVf, other);

      asm_sim_fail (error, ctx, "VF %u already exists at PF %u index %u", vf,
                    o->pf, o->index);
      return FALSE;
    }
  if ((b = asm_sim_find_binding (sim, vf)) != NULL)
    {
      asm_sim_fail (error, ctx,
                    "device %u is bound at switch %u port %u; a VF "
                    "is not bound to a port",
                    vf, b->sw, b->port);
      return FALSE;
    }
  g_array_insert_val (sim->vfs, pos, v);
  return TRUE;
}

static gboolean
sim_vf_destroy (gpointer self, AsmId pf, guint32 vf_index, AsmId vf,
                GError **error)
{
  Sim *sim = self;
  SimVf v = { pf, vf_index, vf };
  guint pos;
  gint other;
  SIM_LOCK (sim);
  CTX ("vf_destroy VF %u at PF %u index %u", vf, pf, vf_index);

  if (!sim_enter (sim, ASM_SIM_OP_VF, ctx, error))
    return FALSE;
  if (!sim_check_vf_ids (pf, vf, ctx, error))
    return FALSE;
  if (asm_sim_sorted_find (sim->vfs, asm_sim_vf_key (&v), asm_sim_vf_key, &pos))
    {
      AsmId there = g_array_index (sim->vfs, SimVf, pos).vf;

      if (there != vf)
        {
          asm_sim_fail (error, ctx, "index %u of PF %u holds VF %u", vf_index,
                        pf, there);
          return FALSE;
        }
      g_array_remove_index (sim->vfs, pos);
      return TRUE;
    }
  if ((other = asm_sim_find_vf_id (sim, vf)) >= 0)
    {
      const SimVf *o = &g_array_index (sim->vfs, SimVf, other);

      asm_sim_fail (error, ctx, "VF %u is at PF %u index %u", vf, o->pf,
                    o->index);
      return FALSE;
    }
  return TRUE;
}

static gboolean
sim_cache_flush (gpointer self, AsmId sw, const AsmRange *range,
                 GError **error)
{
  Sim *sim = self;
  SimSwitch *s;
  SIM_LOCK (sim);

  g_return_val_if_fail (range != NULL, FALSE);
  {
    CTX ("cache_flush switch %u range " X "-" X, sw, range->first,
         range->last);

    if (!sim_enter (sim, ASM_SIM_OP_FLUSH, ctx, error))
      return FALSE;
    if ((s = sim_get_switch (sim, sw, ctx, error)) == NULL)
      return FALSE;
    if (range->first > range->last)
      {
        asm_sim_fail (error, ctx, "the range is empty");
        return FALSE;
      }
    s->n_flushes++;
  }
  return TRUE;
}

/* The first route of another switch than @sw that overlaps first..last,
 * or NULL.  O(log r + k), k the routes that overlap it. */
static const SimRoute *
sim_route_conflict (Sim *sim, AsmId sw, guint64 first, guint64 last)
{
  guint pos;

  /* Start at the last route that begins at or before first: the ones
   * before it end before it begins (S7), so before first. */
  if (!asm_sim_sorted_find (sim->routes, first, route_key, &pos) && pos > 0)
    pos--;
  /* Loop invariant: no route before pos overlaps first..last with another
   * switch. */
  for (; pos < sim->routes->len; pos++)
    {
      const SimRoute *r = &g_array_index (sim->routes, SimRoute, pos);

      if (r->first > last)
        break;
      if (r->last >= first && r->sw != sw)
        return r;
    }
  return NULL;
}

static gboolean
sim_root_routes (gpointer self, AsmId sw, const AsmRange *windows,
                 guint n_windows, GError **error)
{
  Sim *sim = self;
  g_autoptr (GArray) sorted = NULL;
  GArray *routes;
  guint i, j;
  SIM_LOCK (sim);
  CTX ("root_routes switch %u", sw);

  g_return_val_if_fail (n_windows == 0 || windows != NULL, FALSE);

  if (!sim_enter (sim, ASM_SIM_OP_ROOT, ctx, error))
    return FALSE;
  if (sim_get_switch (sim, sw, ctx, error) == NULL)
    return FALSE;
  if ((sorted = sim_sorted_windows (windows, n_windows, ctx, error)) == NULL)
    return FALSE;
  for (i = 0; i < sorted->len; i++)
    {
      const AsmRange *w = &g_array_index (sorted, AsmRange, i);
      const SimRoute *r = sim_route_conflict (sim, sw, w->first, w->last);

      if (r != NULL)
        {
          asm_sim_fail (error, ctx,
                        "window " X "-" X " overlaps the route " X "-" X
                        " to switch %u",
                        w->first, w->last, r->first, r->last, r->sw);
          return FALSE;
        }
    }

  /* The routes of the other switches and the new ones, merged by address.
   * Loop invariant: routes holds, sorted, every route of another switch
   * before position i and every new window before position j. */
  routes = g_array_sized_new (FALSE, FALSE, sizeof (SimRoute),
                              sim->routes->len + sorted->len);
  for (i = 0, j = 0; i < sim->routes->len || j < sorted->len;)
    {
      const SimRoute *r = i < sim->routes->len
                              ? &g_array_index (sim->routes, SimRoute, i)
                              : NULL;
      const AsmRange *w = j < sorted->len
                              ? &g_array_index (sorted, AsmRange, j)
                              : NULL;

      if (r != NULL && r->sw == sw)
        i++; /* replaced */
      else if (w != NULL && (r == NULL || w->first < r->first))
        {
          SimRoute n = { w->first, w->last, sw };

          g_array_append_val (routes, n);
          j++;
        }
      else
        {
          g_array_append_val (routes, *r);
          i++;
        }
    }
  g_array_unref (sim->routes);
  sim->routes = routes;
  return TRUE;
}

static gboolean
sim_switch_remove (gpointer self, AsmId sw, GError **error)
{
  Sim *sim = self;
  SimSwitch *s;
  guint pos, n_routes;
  SIM_LOCK (sim);
  CTX ("switch_remove switch %u", sw);

  if (!sim_enter (sim, ASM_SIM_OP_ANY, ctx, error))
    return FALSE;
  if (!sim_check_id (sw, "switch", ctx, error))
    return FALSE;
  if ((s = asm_sim_find_switch (sim, sw, &pos)) == NULL)
    return TRUE; /* an inverse: removing an absent switch does nothing */
  if (s->windows->len > 0)
    {
      asm_sim_fail (error, ctx, "the switch still has %u windows",
                    s->windows->len);
      return FALSE;
    }
  if (s->table->len > 0)
    {
      asm_sim_fail (error, ctx, "the switch still has %u table entries",
                    s->table->len);
      return FALSE;
    }
  if (s->staging != NULL)
    {
      asm_sim_fail (error, ctx, "a table update is open");
      return FALSE;
    }
  for (guint p = 0; p < s->n_ports; p++)
    if (s->ports[p] != ASM_ID_NONE)
      {
        asm_sim_fail (error, ctx, "port %u is bound to device %u", p,
                      s->ports[p]);
        return FALSE;
      }
  if ((n_routes = sim_count_routes (sim, sw)) > 0)
    {
      asm_sim_fail (error, ctx,
                    "the root complex still routes %u windows to "
                    "the switch",
                    n_routes);
      return FALSE;
    }
  g_ptr_array_remove_index (sim->switches, pos);
  return TRUE;
}

/* The usage model: the bytes in use of a partition of @size bytes at its
 * read number reads + 1, min (size, size/4 + size/8 * reads), computed
 * without overflow. */
static guint64
usage_model (guint64 size, guint64 reads)
{
  guint64 base = size / 4, step = size / 8;

  if (step != 0 && reads > (size - base) / step)
    return size;
  return base + step * reads; /* step * reads <= size - base */
}

static gboolean
sim_usage_read (gpointer self, AsmId sw, AsmId partition, guint64 *out_bytes,
                GError **error)
{
  Sim *sim = self;
  SimSwitch *s;
  SimUsage *u;
  guint64 size;
  guint pos;
  SIM_LOCK (sim);
  CTX ("usage_read switch %u partition %u", sw, partition);

  g_return_val_if_fail (out_bytes != NULL, FALSE);

  if (!sim_enter (sim, ASM_SIM_OP_USAGE, ctx, error))
    return FALSE;
  if ((s = sim_get_switch (sim, sw, ctx, error)) == NULL)
    return FALSE;
  if (!sim_check_id (partition, "partition", ctx, error))
    return FALSE;
  if (!asm_sim_sorted_find (s->table, partition, entry_key, &pos))
    {
      asm_sim_fail (error, ctx, "no committed table entry has key %u",
                    partition);
      return FALSE;
    }
  size = g_array_index (s->table, AsmXlatEntry, pos).size;

  if (!asm_sim_sorted_find (sim->usage, partition, usage_key, &pos))
    {
      SimUsage n = { partition, 0 };

      g_array_insert_val (sim->usage, pos, n);
    }
  u = &g_array_index (sim->usage, SimUsage, pos);
  *out_bytes = usage_model (size, u->reads);
  if (u->reads < G_MAXUINT64)
    u->reads++;
  return TRUE;
}

/* The ops table's members: each runs the operation and writes the
 * registers through, under one hold of the (recursive) lock, so no other
 * call comes between a change and its write. */

#define WT_BOOL(op, params, args) \
  static gboolean wt_##op params \
  { \
    Sim *sim = self; \
    SIM_LOCK (sim); \
    if (!sim_##op args) \
      return FALSE; \
    return asm_sim_write_through (sim, #op, error); \
  }

#define WT_STATUS(op, params, args) \
  static AsmBackendStatus wt_##op params \
  { \
    Sim *sim = self; \
    AsmBackendStatus st; \
    SIM_LOCK (sim); \
    st = sim_##op args; \
    if (st == ASM_BACKEND_FAILED || asm_sim_write_through (sim, #op, error)) \
      return st; \
    return ASM_BACKEND_FAILED; \
  }

WT_BOOL (switch_add,
         (gpointer self, AsmId sw, const char *name, guint32 n_ports,
          guint32 table_capacity, GError **error),
         (self, sw, name, n_ports, table_capacity, error))
WT_BOOL (windows_commit,
         (gpointer self, AsmId sw, const AsmRange *windows, guint n_windows,
          GError **error),
         (self, sw, windows, n_windows, error))
WT_BOOL (xlat_begin, (gpointer self, AsmId sw, GError **error),
         (self, sw, error))
WT_BOOL (xlat_set,
         (gpointer self, AsmId sw, const AsmXlatEntry *entry, GError **error),
         (self, sw, entry, error))
WT_BOOL (xlat_remove, (gpointer self, AsmId sw, AsmId key, GError **error),
         (self, sw, key, error))
WT_BOOL (xlat_commit, (gpointer self, AsmId sw, GError **error),
         (self, sw, error))
WT_STATUS (device_bind,
           (gpointer self, AsmId device, const char *device_name, AsmId sw,
            guint32 port, GError **error),
           (self, device, device_name, sw, port, error))
WT_STATUS (device_unbind,
           (gpointer self, AsmId device, AsmId sw, guint32 port,
            GError **error),
           (self, device, sw, port, error))
WT_BOOL (device_wait,
         (gpointer self, AsmId device, guint timeout_ms, GError **error),
         (self, device, timeout_ms, error))
WT_BOOL (device_hold, (gpointer self, AsmId device, GError **error),
         (self, device, error))
WT_BOOL (device_release, (gpointer self, AsmId device, GError **error),
         (self, device, error))
WT_BOOL (vf_create,
         (gpointer self, AsmId pf, guint32 vf_index, AsmId vf,
          GError **error),
         (self, pf, vf_index, vf, error))
WT_BOOL (vf_destroy,
         (gpointer self, AsmId pf, guint32 vf_index, AsmId vf,
          GError **error),
         (self, pf, vf_index, vf, error))
WT_BOOL (cache_flush,
         (gpointer self, AsmId sw, const AsmRange *range, GError **error),
         (self, sw, range, error))
WT_BOOL (root_routes,
         (gpointer self, AsmId sw, const AsmRange *windows, guint n_windows,
          GError **error),
         (self, sw, windows, n_windows, error))
WT_BOOL (switch_remove, (gpointer self, AsmId sw, GError **error),
         (self, sw, error))
WT_BOOL (usage_read,
         (gpointer self, AsmId sw, AsmId partition, guint64 *out_bytes,
          GError **error),
         (self, sw, partition, out_bytes, error))

#undef WT_BOOL
#undef WT_STATUS

/* xlat_abort cannot fail: when its write does not go through, the update
 * stays open in memory as in the file, as after an abort lost in a crash. */
static void
wt_xlat_abort (gpointer self, AsmId sw)
{
  Sim *sim = self;
  SIM_LOCK (sim);

  sim_xlat_abort (self, sw);
  if (!asm_sim_write_through (sim, "xlat_abort", NULL))
    g_debug ("xlat_abort switch %u: not written through; the update stays "
             "open", sw);
}

static const AsmBackendOps sim_ops = {
  .name = "sim",
  .caps = ASM_BACKEND_CAP_WINDOWS | ASM_BACKEND_CAP_TRANSLATION |
          ASM_BACKEND_CAP_DEVICES | ASM_BACKEND_CAP_HOLD |
          ASM_BACKEND_CAP_FLUSH | ASM_BACKEND_CAP_VFS |
          ASM_BACKEND_CAP_ROOT | ASM_BACKEND_CAP_USAGE,
  .transaction_begin = sim_transaction_begin,
  .undo_begin = sim_undo_begin,
  .transaction_end = sim_transaction_end,
  .switch_add = wt_switch_add,
  .windows_commit = wt_windows_commit,
  .xlat_begin = wt_xlat_begin,
  .xlat_set = wt_xlat_set,
  .xlat_remove = wt_xlat_remove,
  .xlat_commit = wt_xlat_commit,
  .xlat_abort = wt_xlat_abort,
  .device_bind = wt_device_bind,
  .device_unbind = wt_device_unbind,
  .device_wait = wt_device_wait,
  .device_hold = wt_device_hold,
  .device_release = wt_device_release,
  .vf_create = wt_vf_create,
  .vf_destroy = wt_vf_destroy,
  .cache_flush = wt_cache_flush,
  .destroy = asm_sim_destroy,
  .root_routes = wt_root_routes,
  .switch_remove = wt_switch_remove,
  .usage_read = wt_usage_read,
};

const AsmBackendOps *
asm_sim_get_ops (void)
{
  return &sim_ops;
}

/* ------------------------------------------------------------------ */
/* public API                                                           */

/**
 * asm_sim_backend_new:
 *
 * Creates a simulated switch fabric: a deterministic model of the
 * hardware registers a fabric programs (per switch its address windows,
 * translation table and ports; the root complex's routes; the VFs of each
 * PF; the held devices) and of the partitions' usage counters, with fault
 * injection (asm_sim_fail_call(), asm_sim_fail_kind(),
 * asm_sim_crash_after()) and a check against a fabric's model
 * (asm_sim_verify()).  It applies every #AsmBackendCaps and starts empty:
 * the fabric announces its switches.
 *
 * Returns: (transfer full): a new backend named "sim"; free with
 *   asm_backend_unref()
 *
 * Since: 0.1
 */
AsmBackend *
asm_sim_backend_new (void)
{
  return asm_backend_new (&sim_ops, asm_sim_new ());
}

/**
 * asm_sim_is_sim:
 * @backend: a backend
 *
 * Tells a backend made by asm_sim_backend_new() or
 * asm_sim_backend_new_persistent() from any other.
 *
 * Returns: %TRUE when @backend is a sim backend
 *
 * Since: 0.1
 */
gboolean
asm_sim_is_sim (AsmBackend *backend)
{
  Sim *sim;

  g_return_val_if_fail (backend != NULL, FALSE);

  if (asm_backend_get_ops (backend) != &sim_ops ||
      g_strcmp0 (asm_backend_get_name (backend), "sim") != 0)
    return FALSE;
  sim = asm_backend_get_self (backend);
  return sim != NULL && sim->magic == SIM_MAGIC;
}

Sim *
asm_sim_from_backend (AsmBackend *backend)
{
  if (backend == NULL || !asm_sim_is_sim (backend))
    return NULL;
  return asm_backend_get_self (backend);
}

/**
 * asm_sim_get_path:
 * @backend: a sim backend
 *
 * The state file of a sim made by asm_sim_backend_new_persistent().
 *
 * Returns: (transfer none) (nullable) (type filename): the path, or %NULL
 *   when the registers live in memory only
 *
 * Since: 0.1
 */
const char *
asm_sim_get_path (AsmBackend *backend)
{
  Sim *sim = asm_sim_from_backend (backend);

  g_return_val_if_fail (sim != NULL, NULL);
  return sim->path;
}

/**
 * asm_sim_fail_call:
 * @backend: a sim backend
 * @n: which call from now fails: 1 is the next one; 0 cancels
 *
 * Makes the @n-th counted call from now fail once with %ASM_ERROR_BACKEND
 * ("injected fault (call N)"), changing nothing.  Every call of an
 * operation that can fail is counted (see asm_sim_get_n_calls()).  One
 * such fault is pending at a time: a new call replaces it.  No fault is
 * injected between a transaction's undo_begin and its transaction_end; a
 * fault whose call falls there is spent without effect.
 *
 * Since: 0.1
 */
void
asm_sim_fail_call (AsmBackend *backend, guint64 n)
{
  Sim *sim = asm_sim_from_backend (backend);

  g_return_if_fail (sim != NULL);
  {
    SIM_LOCK (sim);

    sim->fail_at = n == 0 ? 0 : sim->n_calls + n;
  }
}

/**
 * asm_sim_fail_kind:
 * @backend: a sim backend
 * @kind: the kind of call; %ASM_SIM_OP_ANY for every call
 * @fail: %TRUE to make every call of @kind fail, %FALSE to stop
 *
 * Makes every call of @kind fail with %ASM_ERROR_BACKEND, changing nothing,
 * until this is called again with @fail %FALSE (or asm_sim_clear_faults()).
 * Kinds are independent: clearing %ASM_SIM_OP_ANY does not clear the
 * others.  Like asm_sim_fail_call(), not injected during an undo.
 *
 * Since: 0.1
 */
void
asm_sim_fail_kind (AsmBackend *backend, AsmSimOp kind, gboolean fail)
{
  Sim *sim = asm_sim_from_backend (backend);

  g_return_if_fail (sim != NULL);
  g_return_if_fail ((guint) kind <= SIM_OP_LAST);
  {
    SIM_LOCK (sim);

    if (fail)
      sim->fail_kinds |= 1u << kind;
    else
      sim->fail_kinds &= ~(1u << kind);
  }
}

/**
 * asm_sim_crash_after:
 * @backend: a sim backend
 * @n: how many more calls succeed
 *
 * Simulates the death of the process that drives the hardware: after @n
 * more counted calls, every call fails ("simulated crash"), undo calls
 * included, and xlat_abort does nothing, until asm_sim_clear_faults().
 * The registers keep whatever the calls before the crash wrote, so a
 * restarted fabric can be tested on them.
 *
 * Since: 0.1
 */
void
asm_sim_crash_after (AsmBackend *backend, guint64 n)
{
  Sim *sim = asm_sim_from_backend (backend);

  g_return_if_fail (sim != NULL);
  {
    SIM_LOCK (sim);

    sim->crash_armed = TRUE;
    sim->crash_at = sim->n_calls + n;
  }
}

/**
 * asm_sim_clear_faults:
 * @backend: a sim backend
 *
 * Cancels every injected fault, the crash included, and forgets an undo
 * in progress (a restarted process starts afresh).  The registers and the
 * call count are kept.
 *
 * Since: 0.1
 */
void
asm_sim_clear_faults (AsmBackend *backend)
{
  Sim *sim = asm_sim_from_backend (backend);

  g_return_if_fail (sim != NULL);
  {
    SIM_LOCK (sim);

    sim->fail_at = 0;
    sim->fail_kinds = 0;
    sim->crash_armed = FALSE;
    sim->crash_at = 0;
    sim->in_undo = FALSE;
  }
}

/**
 * asm_sim_is_crashed:
 * @backend: a sim backend
 *
 * Whether the crash set with asm_sim_crash_after() has happened: the
 * next call fails.
 *
 * Returns: %TRUE when every call now fails
 *
 * Since: 0.1
 */
gboolean
asm_sim_is_crashed (AsmBackend *backend)
{
  Sim *sim = asm_sim_from_backend (backend);

  g_return_val_if_fail (sim != NULL, FALSE);
  {
    SIM_LOCK (sim);

    return sim_is_crashed (sim);
  }
}

/**
 * asm_sim_get_n_calls:
 * @backend: a sim backend
 *
 * The number of counted calls so far: every call of an operation that can
 * fail, successful or not.  transaction_begin, undo_begin,
 * transaction_end and xlat_abort are not counted.
 *
 * Returns: the call count
 *
 * Since: 0.1
 */
guint64
asm_sim_get_n_calls (AsmBackend *backend)
{
  Sim *sim = asm_sim_from_backend (backend);

  g_return_val_if_fail (sim != NULL, 0);
  {
    SIM_LOCK (sim);

    return sim->n_calls;
  }
}


void
asm_sim_set_pending_binds (AsmBackend *backend, gboolean pending)
{
  Sim *sim = asm_sim_from_backend (backend);

  g_return_if_fail (sim != NULL);
  {
    SIM_LOCK (sim);

    sim->pending_binds = pending;
  }
}
