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
 *   hold         the device must be present: bound, or a VF;
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
 * Persistence (asm_sim_backend_new_persistent()).  The registers can
 * live in a file too, so that they outlive a process that is killed: every
 * register above is saved (the switches with their windows, tables, open
 * updates and bindings, pending ones included; the root routes; the VFs;
 * the held devices; the usage counters), and nothing else: the fault
 * controls, the undo flag, the call count and the pending-binds mode
 * belong to the process, so a sim opened again has no faults and counts
 * from 0.  An update left open by a killed process stays open in the file
 * until someone aborts it, as in hardware.
 *   write-through  each member of the ops table runs the operation, then,
 *             if it succeeded, serialises all the registers and, if the
 *             bytes differ from what the file holds, writes them to
 *             path.tmp, fsyncs it and renames it over path (the directory
 *             is fsynced when the file is created).  rename is atomic, so
 *             a SIGKILL at any moment leaves the file with the state
 *             before the call or after it.  Both steps happen under one
 *             hold of the lock (a recursive one: the wrapper holds it
 *             around the operation, which takes it again), so no other
 *             call comes between a change and its write.  Refused calls
 *             change nothing and write nothing;
 *   write error  the registers are loaded back from the bytes of the last
 *             write (the state before the call) and the call fails with
 *             ASM_ERROR_BACKEND, so memory and file agree.  xlat_abort,
 *             which cannot fail, then leaves the update open, as an abort
 *             lost in a crash does;
 *   format     JSON, {"format": "asm-sim", "version": 1, "switches": [...],
 *             "routes": [...], "vfs": [...], "held": [...], "usage":
 *             [...]}; ids are integers, every u64 (addresses, sizes,
 *             offsets, flush and read counts) a "0x..." string; an open
 *             update is its change list in call order ({"set": entry} or
 *             {"remove": key}), no update is null; bindings are listed
 *             under their switch by port.  Everything is written in the
 *             dump's order, so the same registers give the same bytes;
 *   loading    a file that is not JSON, has another format or version,
 *             misses a member or has one of the wrong type, or whose
 *             registers break S1-S8 is refused with ASM_ERROR_PARSE naming
 *             the member or the invariant.
 * Cost: O(state) per call that succeeds (the serialisation and the
 * comparison), plus a write, an fsync and a rename when the registers
 * changed: milliseconds on a disk.  It is for crash tests and small
 * fabrics (tens of switches, hundreds of entries), not for 10^5
 * partitions; an in-memory sim pays only a test of the path per call.
 *
 * Dump.  asm_sim_dump() prints every register: switches by id, their
 * windows by address, entries by key, ports by number, root routes by
 * address, VFs by (pf, index), held devices by id, usage counters by
 * partition id.  Nothing depends on hash order or pointers, so the same
 * calls give the same text.
 *
 * Verify.  asm_sim_verify() reads the fabric's model through the public
 * fabric API only, then compares, stopping at the first difference, in
 * this order: the set of switches (by id); devices the model binds where
 * no hardware could hold them; then per switch by id: name, ports and
 * capacity, windows by address, an update left open, table entries by key
 * (every field), ports by number (and binds still pending); then the root
 * routes by address with asm_fabric_get_root_map() (range and switch);
 * then VFs by (pf, index); then held devices (none may be held between
 * transactions).  Usage counters have no counterpart in the model and are
 * not compared.
 *
 * Invariants (asm_sim_check(), private, verifies every one):
 *   S1  switches are sorted by id, ids unique and non-zero;
 *   S2  windows sorted, each first <= last, pairwise disjoint;
 *   S3  table and staging sorted by key, keys unique and non-zero, sizes
 *       >= 1; the table holds at most table_capacity entries;
 *   S4  ports[p] == d != 0 iff the binding of d is (switch, p); every
 *       binding's switch exists and its port is in range;
 *   S5  VFs sorted by (pf, index), (pf, index) and vf ids unique, non-zero,
 *       a VF is never bound;
 *   S6  held ids sorted, unique and non-zero;
 *   S7  routes sorted by first, each first <= last, pairwise disjoint
 *       (one ends before the next begins), each to a switch that exists;
 *   S8  usage counters sorted by partition id, ids unique and non-zero.
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
 * write-through above), so the fault controls, dump and verify may be used
 * from any thread.  The sim never calls out while it holds it: verify
 * reads the fabric first, then locks the sim and compares.
 */
#include <asm/asm-sim.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "asm-backend-private.h"
#include "asm-sim-private.h"

#define SIM_MAGIC 0x5353494du /* "MISS": a live sim state */
#define SIM_DEAD 0xdeadd1e5u  /* written by destroy */

#define X "0x%" G_GINT64_MODIFIER "x"

/* the last AsmSimOp: fail_kinds has a bit for each */
#define SIM_OP_LAST ASM_SIM_OP_USAGE
G_STATIC_ASSERT (SIM_OP_LAST < 32);

typedef enum {
  PENDING_NONE,
  PENDING_BIND,
  PENDING_UNBIND,
} SimPending;

typedef struct {
  AsmId device;       /* never ASM_ID_NONE */
  char *name;         /* as given to device_bind; "" when none was */
  AsmId sw;           /* the switch it is bound to */
  guint32 port;       /* the port, < that switch's n_ports */
  SimPending pending; /* a bind or unbind that waits for device_wait */
} SimBinding;

typedef struct {
  AsmId id;
  char *name;
  guint32 n_ports;
  guint32 table_capacity;
  GArray *windows;  /* AsmRange, sorted by first, disjoint (S2) */
  GArray *table;    /* AsmXlatEntry, sorted by key (S3) */
  GArray *staging;  /* SimXlatChange, in call order; NULL: no update open */
  AsmId *ports;     /* n_ports device ids, ASM_ID_NONE = free (S4) */
  guint64 n_flushes;
} SimSwitch;

typedef struct {
  AsmId pf;
  guint32 index;
  AsmId vf;
} SimVf;

/* One register of the root complex: the window first..last (inclusive) of
 * the global space is routed to switch sw. */
typedef struct {
  guint64 first;
  guint64 last; /* >= first */
  AsmId sw;     /* a switch that exists (S7) */
} SimRoute;

/* The usage counter of one partition: how many times usage_read has
 * answered for it. */
typedef struct {
  AsmId partition; /* never ASM_ID_NONE */
  guint64 reads;   /* successful reads so far */
} SimUsage;

typedef struct {
  guint32 magic;      /* SIM_MAGIC while alive */
  GRecMutex lock;     /* held by every call; recursive, so the write-through
                       * wrappers hold it across the call they wrap */

  GPtrArray *switches;  /* SimSwitch *, sorted by id (S1) */
  GHashTable *bindings; /* device id -> SimBinding * (owned) */
  GArray *vfs;          /* SimVf, sorted by (pf, index) (S5) */
  GArray *held;         /* AsmId, sorted (S6) */
  GArray *routes;       /* SimRoute, sorted by first, disjoint (S7) */
  GArray *usage;        /* SimUsage, sorted by partition (S8) */
  gboolean pending_binds;

  /* fault injection; call numbers start at 1 */
  guint64 n_calls;      /* calls counted so far */
  guint64 fail_at;      /* the call that fails once; 0: none */
  guint32 fail_kinds;   /* bit k set: calls of AsmSimOp k fail */
  gboolean crash_armed;
  guint64 crash_at;     /* with crash_armed: calls after this one fail */
  gboolean in_undo;     /* between undo_begin and transaction_end */

  /* persistence (asm_sim_backend_new_persistent()); all NULL in memory */
  char *path;           /* the state file */
  char *tmp_path;       /* path + ".tmp": written, synced, renamed */
  char *saved;          /* the bytes the state file holds now */
  gsize saved_len;
} Sim;

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

static Sim *
sim_new (void)
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

static void
sim_destroy (gpointer self)
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
static SimSwitch *
sim_find_switch (Sim *sim, AsmId id, guint *out_pos)
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

/* Binary search in a GArray sorted by key_of(); *out_pos as above. */
typedef guint64 (*SimKeyFunc) (gconstpointer element);

static gboolean
sorted_find (GArray *array, guint64 key, SimKeyFunc key_of, guint *out_pos)
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

/* one change of an open table update */
typedef struct {
  AsmXlatEntry entry; /* set: the entry; remove: entry.key */
  gboolean remove;
} SimXlatChange;

/* Applies change c to the sorted table t; what it replaced or removed goes
 * to *out_old (has_old tells whether there was one), so it can be undone
 * with table_undo(). */
static void
table_apply (GArray *t, const SimXlatChange *c, AsmXlatEntry *out_old,
             gboolean *has_old)
{
  guint pos;

  *has_old = sorted_find (t, c->entry.key, entry_key, &pos);
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
  gboolean present = sorted_find (t, key, entry_key, &pos);

  if (has_old && present)
    g_array_index (t, AsmXlatEntry, pos) = *old;
  else if (has_old)
    g_array_insert_val (t, pos, *old);
  else if (present)
    g_array_remove_index (t, pos);
}

/* the staged table of s (the table with the open update applied): a new
 * array, for the dump and the checks */
static GArray *
staged_table (const SimSwitch *s)
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

static guint64
id_key (gconstpointer e)
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

static guint64
vf_key (gconstpointer e)
{
  const SimVf *v = e;

  return vf_key_of (v->pf, v->index);
}

/* the position of VF @vf in sim->vfs, or -1 */
static gint
sim_find_vf_id (Sim *sim, AsmId vf)
{
  for (guint i = 0; i < sim->vfs->len; i++)
    if (g_array_index (sim->vfs, SimVf, i).vf == vf)
      return (gint) i;
  return -1;
}

static SimBinding *
sim_find_binding (Sim *sim, AsmId device)
{
  return g_hash_table_lookup (sim->bindings, GUINT_TO_POINTER (device));
}

/* A device the hardware can reach: bound (and not waiting for its bind),
 * or a VF. */
static gboolean
sim_device_present (Sim *sim, AsmId device)
{
  SimBinding *b = sim_find_binding (sim, device);

  if (b != NULL)
    return b->pending != PENDING_BIND;
  return sim_find_vf_id (sim, device) >= 0;
}

static gboolean
sim_is_crashed (Sim *sim)
{
  return sim->crash_armed && sim->n_calls >= sim->crash_at;
}

/* ------------------------------------------------------------------ */
/* errors and fault injection                                           */

static void sim_fail (GError **error, const char *ctx, const char *format,
                      ...) G_GNUC_PRINTF (3, 4);

/* Sets "CTX: MESSAGE" as an ASM_ERROR_BACKEND error. */
static void
sim_fail (GError **error, const char *ctx, const char *format, ...)
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
      sim_fail (error, ctx, "simulated crash (call %" G_GUINT64_FORMAT ")",
                call);
      return FALSE;
    }
  if (call == sim->fail_at)
    {
      sim->fail_at = 0;
      if (!sim->in_undo)
        {
          sim_fail (error, ctx, "injected fault (call %" G_GUINT64_FORMAT ")",
                    call);
          return FALSE;
        }
    }
  if (!sim->in_undo && (sim->fail_kinds & kinds) != 0)
    {
      sim_fail (error, ctx, "injected fault (call %" G_GUINT64_FORMAT ")",
                call);
      return FALSE;
    }
  return TRUE;
}

/* The switch @id, or NULL with the error set. */
static SimSwitch *
sim_get_switch (Sim *sim, AsmId id, const char *ctx, GError **error)
{
  SimSwitch *s = sim_find_switch (sim, id, NULL);

  if (s == NULL)
    sim_fail (error, ctx, "no such switch");
  return s;
}

static gboolean
sim_check_port (SimSwitch *s, guint32 port, const char *ctx, GError **error)
{
  if (port < s->n_ports)
    return TRUE;
  if (s->n_ports == 0)
    sim_fail (error, ctx, "switch %u has no ports", s->id);
  else
    sim_fail (error, ctx, "port %u is out of range 0..%u", port,
              s->n_ports - 1);
  return FALSE;
}

#define SIM_LOCK(sim) \
  g_autoptr (GRecMutexLocker) G_PASTE (locker_, __LINE__) = \
      g_rec_mutex_locker_new (&(sim)->lock)

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
  if (sw == ASM_ID_NONE)
    {
      sim_fail (error, ctx, "switch id 0 is invalid");
      return FALSE;
    }
  if (name == NULL)
    name = "";
  s = sim_find_switch (sim, sw, &pos);
  if (s != NULL)
    {
      if (strcmp (s->name, name) == 0 && s->n_ports == n_ports &&
          s->table_capacity == table_capacity)
        return TRUE;
      sim_fail (error, ctx,
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

static gint
range_cmp (gconstpointer a, gconstpointer b)
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
        sim_fail (error, ctx, "window " X "-" X " is empty",
                  windows[i].first, windows[i].last);
        return NULL;
      }

  sorted = g_array_sized_new (FALSE, FALSE, sizeof (AsmRange), n_windows);
  if (n_windows > 0)
    g_array_append_vals (sorted, windows, n_windows);
  g_array_sort (sorted, range_cmp);
  for (guint i = 1; i < sorted->len; i++)
    {
      const AsmRange *a = &g_array_index (sorted, AsmRange, i - 1);
      const AsmRange *b = &g_array_index (sorted, AsmRange, i);

      if (a->last >= b->first)
        {
          sim_fail (error, ctx, "windows " X "-" X " and " X "-" X " overlap",
                    a->first, a->last, b->first, b->last);
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
      sim_fail (error, ctx, "a table update is already open");
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
      sim_fail (error, ctx, "no table update is open (xlat_begin first)");
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
        sim_fail (error, ctx, "key 0 is invalid");
        return FALSE;
      }
    if (entry->size == 0)
      {
        sim_fail (error, ctx, "the entry's size is 0");
        return FALSE;
      }
    if (entry->size - 1 > G_MAXUINT64 - entry->virt_first)
      {
        sim_fail (error, ctx,
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
        sim_fail (error, ctx, "table full: %u entries staged, capacity %u",
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
  s = sim_find_switch (sim, sw, NULL);
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
  if (device == ASM_ID_NONE)
    {
      sim_fail (error, ctx, "device id 0 is invalid");
      return ASM_BACKEND_FAILED;
    }
  if ((s = sim_get_switch (sim, sw, ctx, error)) == NULL ||
      !sim_check_port (s, port, ctx, error))
    return ASM_BACKEND_FAILED;
  if ((vf = sim_find_vf_id (sim, device)) >= 0)
    {
      const SimVf *v = &g_array_index (sim->vfs, SimVf, vf);

      sim_fail (error, ctx, "device %u is VF %u of PF %u; a VF is not bound "
                "to a port", device, v->index, v->pf);
      return ASM_BACKEND_FAILED;
    }
  if ((b = sim_find_binding (sim, device)) != NULL)
    {
      if (b->sw != sw || b->port != port)
        {
          sim_fail (error, ctx, "device %u is already bound at switch %u "
                    "port %u", device, b->sw, b->port);
          return ASM_BACKEND_FAILED;
        }
      if (b->pending == PENDING_UNBIND)
        {
          sim_fail (error, ctx, "an unbind of device %u is pending", device);
          return ASM_BACKEND_FAILED;
        }
      return b->pending == PENDING_BIND ? ASM_BACKEND_PENDING
                                        : ASM_BACKEND_DONE;
    }
  if (s->ports[port] != ASM_ID_NONE)
    {
      sim_fail (error, ctx, "port %u is occupied by device %u", port,
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
  SimSwitch *s = sim_find_switch (sim, b->sw, NULL);

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
  if (device == ASM_ID_NONE)
    {
      sim_fail (error, ctx, "device id 0 is invalid");
      return ASM_BACKEND_FAILED;
    }
  if ((s = sim_get_switch (sim, sw, ctx, error)) == NULL ||
      !sim_check_port (s, port, ctx, error))
    return ASM_BACKEND_FAILED;
  if ((b = sim_find_binding (sim, device)) == NULL)
    return ASM_BACKEND_DONE;
  if (b->sw != sw || b->port != port)
    return ASM_BACKEND_DONE; /* not bound there: nothing to do */
  if (b->pending == PENDING_BIND)
    {
      sim_fail (error, ctx, "a bind of device %u is pending", device);
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

  b = sim_find_binding (sim, device);
  if (b != NULL && b->pending == PENDING_BIND)
    kind = ASM_SIM_OP_BIND;
  else if (b != NULL && b->pending == PENDING_UNBIND)
    kind = ASM_SIM_OP_UNBIND;
  if (!sim_enter (sim, kind, ctx, error))
    return FALSE;
  if (device == ASM_ID_NONE)
    {
      sim_fail (error, ctx, "device id 0 is invalid");
      return FALSE;
    }
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
  if (device == ASM_ID_NONE)
    {
      sim_fail (error, ctx, "device id 0 is invalid");
      return FALSE;
    }
  if (!sim_device_present (sim, device))
    {
      sim_fail (error, ctx, "device %u is not present (neither bound nor a "
                "VF)", device);
      return FALSE;
    }
  if (!sorted_find (sim->held, device, id_key, &pos))
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
  if (device == ASM_ID_NONE)
    {
      sim_fail (error, ctx, "device id 0 is invalid");
      return FALSE;
    }
  if (sorted_find (sim->held, device, id_key, &pos))
    g_array_remove_index (sim->held, pos);
  return TRUE;
}

static gboolean
sim_check_vf_ids (AsmId pf, AsmId vf, const char *ctx, GError **error)
{
  if (pf == ASM_ID_NONE || vf == ASM_ID_NONE)
    {
      sim_fail (error, ctx, "device id 0 is invalid");
      return FALSE;
    }
  if (pf == vf)
    {
      sim_fail (error, ctx, "device %u cannot be its own VF", vf);
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
  b = sim_find_binding (sim, pf);
  if (b == NULL || b->pending == PENDING_BIND)
    {
      if (sim_find_vf_id (sim, pf) >= 0)
        sim_fail (error, ctx, "PF %u is itself a VF", pf);
      else
        sim_fail (error, ctx, "PF %u is not present (not bound)", pf);
      return FALSE;
    }
  if (sorted_find (sim->vfs, vf_key (&v), vf_key, &pos))
    {
      AsmId there = g_array_index (sim->vfs, SimVf, pos).vf;

      if (there == vf)
        return TRUE;
      sim_fail (error, ctx, "index %u of PF %u is in use by VF %u", vf_index,
                pf, there);
      return FALSE;
    }
  if ((other = sim_find_vf_id (sim, vf)) >= 0)
    {
      const SimVf *o = &g_array_index (sim->vfs, SimVf, other);

      sim_fail (error, ctx, "VF %u already exists at PF %u index %u", vf,
                o->pf, o->index);
      return FALSE;
    }
  if ((b = sim_find_binding (sim, vf)) != NULL)
    {
      sim_fail (error, ctx, "device %u is bound at switch %u port %u; a VF "
                "is not bound to a port", vf, b->sw, b->port);
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
  if (sorted_find (sim->vfs, vf_key (&v), vf_key, &pos))
    {
      AsmId there = g_array_index (sim->vfs, SimVf, pos).vf;

      if (there != vf)
        {
          sim_fail (error, ctx, "index %u of PF %u holds VF %u", vf_index,
                    pf, there);
          return FALSE;
        }
      g_array_remove_index (sim->vfs, pos);
      return TRUE;
    }
  if ((other = sim_find_vf_id (sim, vf)) >= 0)
    {
      const SimVf *o = &g_array_index (sim->vfs, SimVf, other);

      sim_fail (error, ctx, "VF %u is at PF %u index %u", vf, o->pf,
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
        sim_fail (error, ctx, "the range is empty");
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
  if (!sorted_find (sim->routes, first, route_key, &pos) && pos > 0)
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
          sim_fail (error, ctx, "window " X "-" X " overlaps the route " X
                    "-" X " to switch %u", w->first, w->last, r->first,
                    r->last, r->sw);
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
  if (sw == ASM_ID_NONE)
    {
      sim_fail (error, ctx, "switch id 0 is invalid");
      return FALSE;
    }
  if ((s = sim_find_switch (sim, sw, &pos)) == NULL)
    return TRUE; /* an inverse: removing an absent switch does nothing */
  if (s->windows->len > 0)
    {
      sim_fail (error, ctx, "the switch still has %u windows",
                s->windows->len);
      return FALSE;
    }
  if (s->table->len > 0)
    {
      sim_fail (error, ctx, "the switch still has %u table entries",
                s->table->len);
      return FALSE;
    }
  if (s->staging != NULL)
    {
      sim_fail (error, ctx, "a table update is open");
      return FALSE;
    }
  for (guint p = 0; p < s->n_ports; p++)
    if (s->ports[p] != ASM_ID_NONE)
      {
        sim_fail (error, ctx, "port %u is bound to device %u", p,
                  s->ports[p]);
        return FALSE;
      }
  if ((n_routes = sim_count_routes (sim, sw)) > 0)
    {
      sim_fail (error, ctx, "the root complex still routes %u windows to "
                "the switch", n_routes);
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
  if (partition == ASM_ID_NONE)
    {
      sim_fail (error, ctx, "partition id 0 is invalid");
      return FALSE;
    }
  if (!sorted_find (s->table, partition, entry_key, &pos))
    {
      sim_fail (error, ctx, "no committed table entry has key %u",
                partition);
      return FALSE;
    }
  size = g_array_index (s->table, AsmXlatEntry, pos).size;

  if (!sorted_find (sim->usage, partition, usage_key, &pos))
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

/* ------------------------------------------------------------------ */
/* persistence                                                          */

#define SIM_FILE_FORMAT "asm-sim"
#define SIM_FILE_VERSION 1

static gboolean sim_check_state (Sim *sim, GError **error);

static void
put_u64 (JsonBuilder *b, const char *member, guint64 v)
{
  char text[24];

  g_snprintf (text, sizeof text, X, v);
  json_builder_set_member_name (b, member);
  json_builder_add_string_value (b, text);
}

static void
put_id (JsonBuilder *b, const char *member, guint32 v)
{
  json_builder_set_member_name (b, member);
  json_builder_add_int_value (b, v);
}

static void
put_string (JsonBuilder *b, const char *member, const char *v)
{
  json_builder_set_member_name (b, member);
  json_builder_add_string_value (b, v);
}

static void
put_entry (JsonBuilder *b, const AsmXlatEntry *e)
{
  json_builder_begin_object (b);
  put_id (b, "key", e->key);
  put_id (b, "partition", e->partition);
  put_id (b, "workload", e->workload);
  put_u64 (b, "virt_first", e->virt_first);
  put_u64 (b, "size", e->size);
  put_u64 (b, "offset", e->offset);
  json_builder_end_object (b);
}

static const char *const pending_names[] = { "none", "bind", "unbind" };

static void
put_switch (JsonBuilder *b, Sim *sim, const SimSwitch *s)
{
  json_builder_begin_object (b);
  put_id (b, "id", s->id);
  put_string (b, "name", s->name);
  put_id (b, "n_ports", s->n_ports);
  put_id (b, "table_capacity", s->table_capacity);
  put_u64 (b, "flushes", s->n_flushes);

  json_builder_set_member_name (b, "windows");
  json_builder_begin_array (b);
  for (guint j = 0; j < s->windows->len; j++)
    {
      const AsmRange *w = &g_array_index (s->windows, AsmRange, j);

      json_builder_begin_object (b);
      put_u64 (b, "first", w->first);
      put_u64 (b, "last", w->last);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "table");
  json_builder_begin_array (b);
  for (guint j = 0; j < s->table->len; j++)
    put_entry (b, &g_array_index (s->table, AsmXlatEntry, j));
  json_builder_end_array (b);

  /* the open update as the change list it is, in call order */
  json_builder_set_member_name (b, "update");
  if (s->staging == NULL)
    json_builder_add_null_value (b);
  else
    {
      json_builder_begin_array (b);
      for (guint j = 0; j < s->staging->len; j++)
        {
          const SimXlatChange *c =
              &g_array_index (s->staging, SimXlatChange, j);

          json_builder_begin_object (b);
          if (c->remove)
            put_id (b, "remove", c->entry.key);
          else
            {
              json_builder_set_member_name (b, "set");
              put_entry (b, &c->entry);
            }
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }

  /* the bindings, by port (S4 makes this every binding, once) */
  json_builder_set_member_name (b, "bindings");
  json_builder_begin_array (b);
  for (guint p = 0; p < s->n_ports; p++)
    {
      SimBinding *bd;

      if (s->ports[p] == ASM_ID_NONE)
        continue;
      bd = sim_find_binding (sim, s->ports[p]);
      json_builder_begin_object (b);
      put_id (b, "port", p);
      put_id (b, "device", bd->device);
      put_string (b, "name", bd->name);
      put_string (b, "pending", pending_names[bd->pending]);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
}

/* The registers of @sim as the state file holds them: a new string, the
 * same for the same registers.  O(state). */
static char *
sim_to_json (Sim *sim, gsize *out_len)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;
  char *with_newline;
  gsize len;

  json_builder_begin_object (b);
  put_string (b, "format", SIM_FILE_FORMAT);
  put_id (b, "version", SIM_FILE_VERSION);

  json_builder_set_member_name (b, "switches");
  json_builder_begin_array (b);
  for (guint i = 0; i < sim->switches->len; i++)
    put_switch (b, sim, g_ptr_array_index (sim->switches, i));
  json_builder_end_array (b);

  json_builder_set_member_name (b, "routes");
  json_builder_begin_array (b);
  for (guint i = 0; i < sim->routes->len; i++)
    {
      const SimRoute *r = &g_array_index (sim->routes, SimRoute, i);

      json_builder_begin_object (b);
      put_u64 (b, "first", r->first);
      put_u64 (b, "last", r->last);
      put_id (b, "switch", r->sw);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "vfs");
  json_builder_begin_array (b);
  for (guint i = 0; i < sim->vfs->len; i++)
    {
      const SimVf *v = &g_array_index (sim->vfs, SimVf, i);

      json_builder_begin_object (b);
      put_id (b, "pf", v->pf);
      put_id (b, "index", v->index);
      put_id (b, "vf", v->vf);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "held");
  json_builder_begin_array (b);
  for (guint i = 0; i < sim->held->len; i++)
    json_builder_add_int_value (b, g_array_index (sim->held, AsmId, i));
  json_builder_end_array (b);

  json_builder_set_member_name (b, "usage");
  json_builder_begin_array (b);
  for (guint i = 0; i < sim->usage->len; i++)
    {
      const SimUsage *u = &g_array_index (sim->usage, SimUsage, i);

      json_builder_begin_object (b);
      put_id (b, "partition", u->partition);
      put_u64 (b, "reads", u->reads);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 2);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, &len);
  with_newline = g_malloc (len + 2);
  memcpy (with_newline, text, len);
  with_newline[len] = '\n';
  with_newline[len + 1] = '\0';
  *out_len = len + 1;
  return with_newline;
}

static void parse_fail (GError **error, const char *where, const char *format,
                        ...) G_GNUC_PRINTF (3, 4);

/* Sets "WHERE: MESSAGE" as an ASM_ERROR_PARSE error. */
static void
parse_fail (GError **error, const char *where, const char *format, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE, "%s: %s", where, msg);
}

/* Member @member of @o, of node type @type, or NULL with the error set. */
static JsonNode *
get_member (JsonObject *o, const char *member, JsonNodeType type,
            const char *where, GError **error)
{
  static const char *const type_names[] = { "an object", "an array",
                                            "a value", "null" };
  JsonNode *n = json_object_get_member (o, member);

  if (n == NULL)
    {
      parse_fail (error, where, "\"%s\" is missing", member);
      return NULL;
    }
  if (JSON_NODE_TYPE (n) != type)
    {
      parse_fail (error, where, "\"%s\" is not %s", member,
                  type_names[type]);
      return NULL;
    }
  return n;
}

/* An id (an integer 0..2^32-1) from the value node @n. */
static gboolean
node_id (JsonNode *n, const char *member, const char *where, guint32 *out,
         GError **error)
{
  gint64 v;

  if (n == NULL || JSON_NODE_TYPE (n) != JSON_NODE_VALUE ||
      json_node_get_value_type (n) != G_TYPE_INT64 ||
      (v = json_node_get_int (n)) < 0 || v > G_MAXUINT32)
    {
      parse_fail (error, where, "\"%s\" is not an integer 0..%u", member,
                  G_MAXUINT32);
      return FALSE;
    }
  *out = (guint32) v;
  return TRUE;
}

static gboolean
get_id (JsonObject *o, const char *member, const char *where, guint32 *out,
        GError **error)
{
  JsonNode *n = get_member (o, member, JSON_NODE_VALUE, where, error);

  return n != NULL && node_id (n, member, where, out, error);
}

static const char *
get_string (JsonObject *o, const char *member, const char *where,
            GError **error)
{
  JsonNode *n = get_member (o, member, JSON_NODE_VALUE, where, error);

  if (n == NULL)
    return NULL;
  if (json_node_get_value_type (n) != G_TYPE_STRING)
    {
      parse_fail (error, where, "\"%s\" is not a string", member);
      return NULL;
    }
  return json_node_get_string (n);
}

/* A u64: "0x" and 1 to 16 hexadecimal digits. */
static gboolean
get_u64 (JsonObject *o, const char *member, const char *where, guint64 *out,
         GError **error)
{
  const char *text = get_string (o, member, where, error);
  guint64 v = 0;
  gsize n;

  if (text == NULL)
    return FALSE;
  n = strlen (text);
  if (n < 3 || n > 18 || text[0] != '0' || text[1] != 'x')
    goto bad;
  for (gsize i = 2; i < n; i++)
    {
      int d = g_ascii_xdigit_value (text[i]);

      if (d < 0)
        goto bad;
      v = (v << 4) | (guint64) d;
    }
  *out = v;
  return TRUE;

bad:
  parse_fail (error, where, "\"%s\" is \"%s\", not \"0x\" and 1 to 16 hex "
              "digits", member, text);
  return FALSE;
}

static JsonArray *
get_array (JsonObject *o, const char *member, const char *where,
           GError **error)
{
  JsonNode *n = get_member (o, member, JSON_NODE_ARRAY, where, error);

  return n != NULL ? json_node_get_array (n) : NULL;
}

/* Element @i of @a, an object, or NULL with the error set; *where_i names
 * it ("WHERE[I]", to free). */
static JsonObject *
get_element (JsonArray *a, guint i, const char *where, char **where_i,
             GError **error)
{
  JsonNode *n = json_array_get_element (a, i);

  *where_i = g_strdup_printf ("%s[%u]", where, i);
  if (JSON_NODE_TYPE (n) != JSON_NODE_OBJECT)
    {
      parse_fail (error, *where_i, "not an object");
      return NULL;
    }
  return json_node_get_object (n);
}

static gboolean
get_entry (JsonObject *o, const char *where, AsmXlatEntry *e, GError **error)
{
  return get_id (o, "key", where, &e->key, error) &&
         get_id (o, "partition", where, &e->partition, error) &&
         get_id (o, "workload", where, &e->workload, error) &&
         get_u64 (o, "virt_first", where, &e->virt_first, error) &&
         get_u64 (o, "size", where, &e->size, error) &&
         get_u64 (o, "offset", where, &e->offset, error);
}

/* The bindings of switch @s (ports and the global map). */
static gboolean
load_bindings (Sim *sim, SimSwitch *s, JsonArray *a, const char *where,
               GError **error)
{
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      g_autofree char *w = NULL;
      JsonObject *o = get_element (a, i, where, &w, error);
      const char *name, *pending;
      guint32 port, device;
      SimBinding *b;
      guint k;

      if (o == NULL || !get_id (o, "port", w, &port, error) ||
          !get_id (o, "device", w, &device, error) ||
          (name = get_string (o, "name", w, error)) == NULL ||
          (pending = get_string (o, "pending", w, error)) == NULL)
        return FALSE;
      for (k = 0; k < G_N_ELEMENTS (pending_names); k++)
        if (strcmp (pending, pending_names[k]) == 0)
          break;
      if (k == G_N_ELEMENTS (pending_names))
        {
          parse_fail (error, w, "\"pending\" is \"%s\", not none, bind or "
                      "unbind", pending);
          return FALSE;
        }
      /* what would write out of bounds or lose a binding is refused here;
       * the rest of S4 is left to sim_check_state() */
      if (port >= s->n_ports)
        {
          parse_fail (error, w, "port %u is out of range (the switch has "
                      "%u)", port, s->n_ports);
          return FALSE;
        }
      if (device == ASM_ID_NONE || s->ports[port] != ASM_ID_NONE ||
          sim_find_binding (sim, device) != NULL)
        {
          parse_fail (error, w, "device %u at port %u: id 0, a port bound "
                      "twice or a device bound twice", device, port);
          return FALSE;
        }
      b = g_new0 (SimBinding, 1);
      b->device = device;
      b->name = g_strdup (name);
      b->sw = s->id;
      b->port = port;
      b->pending = (SimPending) k;
      g_hash_table_insert (sim->bindings, GUINT_TO_POINTER (device), b);
      s->ports[port] = device;
    }
  return TRUE;
}

static gboolean
load_switch (Sim *sim, JsonObject *o, const char *where, GError **error)
{
  g_autofree char *w = NULL;
  SimSwitch *s = g_new0 (SimSwitch, 1);
  const char *name;
  JsonArray *a;
  JsonNode *update;

  /* owned by sim from here, so every error path frees it */
  s->windows = g_array_new (FALSE, FALSE, sizeof (AsmRange));
  s->table = g_array_new (FALSE, FALSE, sizeof (AsmXlatEntry));
  s->name = g_strdup ("");
  g_ptr_array_add (sim->switches, s);

  if (!get_id (o, "id", where, &s->id, error) ||
      (name = get_string (o, "name", where, error)) == NULL ||
      !get_id (o, "n_ports", where, &s->n_ports, error) ||
      !get_id (o, "table_capacity", where, &s->table_capacity, error) ||
      !get_u64 (o, "flushes", where, &s->n_flushes, error))
    return FALSE;
  g_free (s->name);
  s->name = g_strdup (name);
  s->ports = g_try_new0 (AsmId, MAX (s->n_ports, 1));
  if (s->ports == NULL)
    {
      parse_fail (error, where, "cannot allocate %u ports", s->n_ports);
      return FALSE;
    }

  if ((a = get_array (o, "windows", where, error)) == NULL)
    return FALSE;
  w = g_strdup_printf ("%s.windows", where);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      g_autofree char *wi = NULL;
      JsonObject *e = get_element (a, i, w, &wi, error);
      AsmRange r;

      if (e == NULL || !get_u64 (e, "first", wi, &r.first, error) ||
          !get_u64 (e, "last", wi, &r.last, error))
        return FALSE;
      g_array_append_val (s->windows, r);
    }

  if ((a = get_array (o, "table", where, error)) == NULL)
    return FALSE;
  g_free (w);
  w = g_strdup_printf ("%s.table", where);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      g_autofree char *wi = NULL;
      JsonObject *e = get_element (a, i, w, &wi, error);
      AsmXlatEntry x;

      if (e == NULL || !get_entry (e, wi, &x, error))
        return FALSE;
      g_array_append_val (s->table, x);
    }

  if ((update = json_object_get_member (o, "update")) == NULL)
    {
      parse_fail (error, where, "\"update\" is missing");
      return FALSE;
    }
  if (JSON_NODE_TYPE (update) == JSON_NODE_ARRAY)
    {
      a = json_node_get_array (update);
      g_free (w);
      w = g_strdup_printf ("%s.update", where);
      s->staging = g_array_new (FALSE, FALSE, sizeof (SimXlatChange));
      for (guint i = 0; i < json_array_get_length (a); i++)
        {
          g_autofree char *wi = NULL;
          JsonObject *e = get_element (a, i, w, &wi, error);
          SimXlatChange c = { { 0 }, FALSE };
          JsonNode *set;

          if (e == NULL)
            return FALSE;
          if (json_object_has_member (e, "remove"))
            {
              c.remove = TRUE;
              if (!get_id (e, "remove", wi, &c.entry.key, error))
                return FALSE;
            }
          else if ((set = get_member (e, "set", JSON_NODE_OBJECT, wi,
                                      error)) == NULL ||
                   !get_entry (json_node_get_object (set), wi, &c.entry,
                               error))
            return FALSE;
          g_array_append_val (s->staging, c);
        }
    }
  else if (JSON_NODE_TYPE (update) != JSON_NODE_NULL)
    {
      parse_fail (error, where, "\"update\" is neither null nor an array");
      return FALSE;
    }

  if ((a = get_array (o, "bindings", where, error)) == NULL)
    return FALSE;
  g_free (w);
  w = g_strdup_printf ("%s.bindings", where);
  return load_bindings (sim, s, a, w, error);
}

/* A new Sim with the registers of the state file text @text, checked with
 * S1-S8; NULL with an ASM_ERROR_PARSE error naming the problem.  O(state). */
static Sim *
sim_from_json (const char *text, gsize len, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  Sim *sim;
  JsonNode *root;
  JsonObject *o;
  JsonArray *a;
  const char *format;
  guint32 version;

  if (!json_parser_load_from_data (parser, text, (gssize) len, &local))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE, "not JSON: %s",
                   local->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || JSON_NODE_TYPE (root) != JSON_NODE_OBJECT)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "not an asm-sim state file (%s)",
                   root == NULL ? "empty" : "not a JSON object");
      return NULL;
    }
  o = json_node_get_object (root);
  if (!json_object_has_member (o, "format") ||
      (format = get_string (o, "format", "file", NULL)) == NULL ||
      strcmp (format, SIM_FILE_FORMAT) != 0)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "not an asm-sim state file (\"format\" is not \"%s\")",
                   SIM_FILE_FORMAT);
      return NULL;
    }
  if (!get_id (o, "version", "file", &version, error))
    return NULL;
  if (version != SIM_FILE_VERSION)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "asm-sim state version %u is not supported (only %u is)",
                   version, SIM_FILE_VERSION);
      return NULL;
    }

  sim = sim_new ();
  if ((a = get_array (o, "switches", "file", error)) == NULL)
    goto fail;
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      g_autofree char *w = NULL;
      JsonObject *e = get_element (a, i, "switches", &w, error);

      if (e == NULL || !load_switch (sim, e, w, error))
        goto fail;
    }

  if ((a = get_array (o, "routes", "file", error)) == NULL)
    goto fail;
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      g_autofree char *w = NULL;
      JsonObject *e = get_element (a, i, "routes", &w, error);
      SimRoute r;

      if (e == NULL || !get_u64 (e, "first", w, &r.first, error) ||
          !get_u64 (e, "last", w, &r.last, error) ||
          !get_id (e, "switch", w, &r.sw, error))
        goto fail;
      g_array_append_val (sim->routes, r);
    }

  if ((a = get_array (o, "vfs", "file", error)) == NULL)
    goto fail;
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      g_autofree char *w = NULL;
      JsonObject *e = get_element (a, i, "vfs", &w, error);
      SimVf v;

      if (e == NULL || !get_id (e, "pf", w, &v.pf, error) ||
          !get_id (e, "index", w, &v.index, error) ||
          !get_id (e, "vf", w, &v.vf, error))
        goto fail;
      g_array_append_val (sim->vfs, v);
    }

  if ((a = get_array (o, "held", "file", error)) == NULL)
    goto fail;
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      g_autofree char *w = g_strdup_printf ("held[%u]", i);
      AsmId d;

      if (!node_id (json_array_get_element (a, i), "held", w, &d, error))
        goto fail;
      g_array_append_val (sim->held, d);
    }

  if ((a = get_array (o, "usage", "file", error)) == NULL)
    goto fail;
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      g_autofree char *w = NULL;
      JsonObject *e = get_element (a, i, "usage", &w, error);
      SimUsage u;

      if (e == NULL || !get_id (e, "partition", w, &u.partition, error) ||
          !get_u64 (e, "reads", w, &u.reads, error))
        goto fail;
      g_array_append_val (sim->usage, u);
    }

  if (!sim_check_state (sim, &local))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "the registers break an invariant: %s", local->message);
      goto fail;
    }
  return sim;

fail:
  sim_destroy (sim);
  return NULL;
}

/* Writes @len bytes of @data to @path so that a crash at any moment leaves
 * the old file or the new one: the bytes go to @tmp_path, which is synced
 * and renamed over @path; with @sync_dir the directory is synced too (the
 * file is new).  ASM_ERROR_BACKEND on failure, @path untouched. */
static gboolean
sim_write_file (const char *path, const char *tmp_path, const char *data,
                gsize len, gboolean sync_dir, GError **error)
{
  const char *step = "create";
  int fd, e;

  fd = open (tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    goto fail;
  step = "write";
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        goto fail;
      data += n;
      len -= (gsize) n;
    }
  step = "sync";
  if (fsync (fd) != 0)
    goto fail;
  step = "close";
  e = close (fd);
  fd = -1;
  if (e != 0)
    goto fail;
  step = "rename";
  if (rename (tmp_path, path) != 0)
    goto fail;
  if (sync_dir)
    {
      g_autofree char *dir = g_path_get_dirname (path);
      int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

      if (dfd < 0 || fsync (dfd) != 0)
        {
          e = errno;
          if (dfd >= 0)
            close (dfd);
          g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                       "cannot sync directory '%s': %s", dir, g_strerror (e));
          return FALSE;
        }
      close (dfd);
    }
  return TRUE;

fail:
  e = errno;
  if (fd >= 0)
    close (fd);
  if (strcmp (step, "create") != 0)
    unlink (tmp_path);
  g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND, "cannot %s '%s': %s",
               step, tmp_path, g_strerror (e));
  return FALSE;
}

/* The registers of @a and @b change places (faults, lock and file stay). */
static void
sim_swap_registers (Sim *a, Sim *b)
{
#define SWAP(f) \
  G_STMT_START \
  { \
    gpointer t_ = a->f; \
    a->f = b->f; \
    b->f = t_; \
  } \
  G_STMT_END
  SWAP (switches);
  SWAP (bindings);
  SWAP (vfs);
  SWAP (held);
  SWAP (routes);
  SWAP (usage);
#undef SWAP
}

/* Writes the registers through to the state file after a call @ctx that
 * succeeded, with the lock held; nothing to do in memory or when they did
 * not change.  When the file cannot be written the registers go back to
 * what it holds (the state before the call) and the call fails. */
static gboolean
sim_write_through (Sim *sim, const char *ctx, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *text = NULL;
  gsize len;

  if (sim->path == NULL)
    return TRUE;
  text = sim_to_json (sim, &len);
  if (len == sim->saved_len && memcmp (text, sim->saved, len) == 0)
    return TRUE;
  if (!sim_write_file (sim->path, sim->tmp_path, text, len, FALSE, &local))
    {
      Sim *before = sim_from_json (sim->saved, sim->saved_len, NULL);

      /* the saved bytes were loaded or written by this process */
      g_assert (before != NULL);
      sim_swap_registers (sim, before);
      sim_destroy (before);
      sim_fail (error, ctx, "the registers were not saved, the call is "
                "undone: %s", local->message);
      return FALSE;
    }
  g_free (sim->saved);
  sim->saved = g_steal_pointer (&text);
  sim->saved_len = len;
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
    return sim_write_through (sim, #op, error); \
  }

#define WT_STATUS(op, params, args) \
  static AsmBackendStatus wt_##op params \
  { \
    Sim *sim = self; \
    AsmBackendStatus st; \
    SIM_LOCK (sim); \
    st = sim_##op args; \
    if (st == ASM_BACKEND_FAILED || sim_write_through (sim, #op, error)) \
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
  if (!sim_write_through (sim, "xlat_abort", NULL))
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
  .destroy = sim_destroy,
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
  return asm_backend_new (&sim_ops, sim_new ());
}

/**
 * asm_sim_backend_new_persistent:
 * @path: (type filename): the state file of the simulated hardware
 * @error: return location for a #GError
 *
 * Creates a simulated switch fabric like asm_sim_backend_new() whose
 * registers outlive the process: a crash test can kill the process that
 * drives it (even with SIGKILL) and open the same @path again to find the
 * hardware as the process left it.
 *
 * When @path exists its registers are loaded, and a file that is not an
 * asm-sim state file, is damaged, or holds registers that break one of the
 * sim's invariants is refused with %ASM_ERROR_PARSE naming the problem.
 * Otherwise the sim starts empty and @path is created.
 *
 * After every call that changes a register, the whole state is written to
 * `@path.tmp`, synced and renamed over @path, so that at any moment the
 * file holds the registers before that call or after it, never a mix.  A
 * call whose state cannot be written fails with %ASM_ERROR_BACKEND and
 * leaves the registers as they were before it (as the file has them).
 * Each write costs time proportional to the whole state: this is for
 * crash tests and small fabrics.
 *
 * Fault injection (asm_sim_fail_call(), asm_sim_fail_kind(),
 * asm_sim_crash_after()) and the call count are the process's, not the
 * hardware's: they are not saved, and a sim opened again has no faults and
 * a call count of 0.  asm_sim_dump() and asm_sim_verify() work as on any
 * sim.  Two processes must not open the same @path at once.
 *
 * Returns: (transfer full) (nullable): a new backend named "sim"; free with
 *   asm_backend_unref(); %NULL with @error set when @path cannot be read,
 *   loaded or created
 *
 * Since: 0.1
 */
AsmBackend *
asm_sim_backend_new_persistent (const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *text = NULL;
  gsize len = 0;
  Sim *sim;

  g_return_val_if_fail (path != NULL && *path != '\0', NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_file_get_contents (path, &text, &len, &local))
    {
      sim = sim_from_json (text, len, error);
      if (sim == NULL)
        {
          g_prefix_error (error, "%s: ", path);
          return NULL;
        }
    }
  else if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      g_autofree char *tmp_path = g_strconcat (path, ".tmp", NULL);

      sim = sim_new ();
      g_free (text);
      text = sim_to_json (sim, &len);
      if (!sim_write_file (path, tmp_path, text, len, TRUE, error))
        {
          g_prefix_error (error, "%s: cannot create the sim state: ", path);
          sim_destroy (sim);
          return NULL;
        }
    }
  else
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                   "cannot read the sim state: %s", local->message);
      return NULL;
    }
  sim->path = g_strdup (path);
  sim->tmp_path = g_strconcat (path, ".tmp", NULL);
  sim->saved = g_steal_pointer (&text);
  sim->saved_len = len;
  return asm_backend_new (&sim_ops, sim);
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

static Sim *
sim_from_backend (AsmBackend *backend)
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
  Sim *sim = sim_from_backend (backend);

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
  Sim *sim = sim_from_backend (backend);

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
  Sim *sim = sim_from_backend (backend);

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
  Sim *sim = sim_from_backend (backend);

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
  Sim *sim = sim_from_backend (backend);

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
  Sim *sim = sim_from_backend (backend);

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
  Sim *sim = sim_from_backend (backend);

  g_return_val_if_fail (sim != NULL, 0);
  {
    SIM_LOCK (sim);

    return sim->n_calls;
  }
}

static void
dump_entry (GString *out, const char *indent, const AsmXlatEntry *e)
{
  g_string_append_printf (out,
                          "%sentry key %u: partition %u, workload %u, "
                          "virt " X ", size " X ", offset " X "\n",
                          indent, e->key, e->partition, e->workload,
                          e->virt_first, e->size, e->offset);
}

/**
 * asm_sim_dump:
 * @backend: a sim backend
 *
 * Prints every simulated register, one per line, in a fixed order:
 * switches by id (their windows by address, translation entries by key, an
 * open update and its staged entries, bound ports by number), then the
 * root complex's routes by address, then VFs by PF and index, then held
 * devices by id, then the partitions' usage counters by partition id.  The same calls always give the
 * same text, so dumps can be compared with expected output.
 *
 * Returns: (transfer full): the dump; free with g_free()
 *
 * Since: 0.1
 */
char *
asm_sim_dump (AsmBackend *backend)
{
  Sim *sim = sim_from_backend (backend);
  GString *out;

  g_return_val_if_fail (sim != NULL, NULL);

  out = g_string_new (NULL);
  {
    SIM_LOCK (sim);

    g_string_append_printf (out,
                            "sim: %u switches, %u devices bound, %u VFs, "
                            "%u held\n",
                            sim->switches->len,
                            g_hash_table_size (sim->bindings),
                            sim->vfs->len, sim->held->len);
    for (guint i = 0; i < sim->switches->len; i++)
      {
        SimSwitch *s = g_ptr_array_index (sim->switches, i);

        g_string_append_printf (out,
                                "switch %u \"%s\": %u ports, table %u/%u, "
                                "%" G_GUINT64_FORMAT " flushes\n",
                                s->id, s->name, s->n_ports, s->table->len,
                                s->table_capacity, s->n_flushes);
        for (guint j = 0; j < s->windows->len; j++)
          {
            const AsmRange *w = &g_array_index (s->windows, AsmRange, j);

            g_string_append_printf (out, "  window " X "-" X "\n", w->first,
                                    w->last);
          }
        for (guint j = 0; j < s->table->len; j++)
          dump_entry (out, "  ", &g_array_index (s->table, AsmXlatEntry, j));
        if (s->staging != NULL)
          {
            g_autoptr (GArray) staged = staged_table (s);
            g_string_append_printf (out, "  update open: %u entries staged\n",
                                    staged->len);
            for (guint j = 0; j < staged->len; j++)
              dump_entry (out, "    ",
                          &g_array_index (staged, AsmXlatEntry, j));
          }
        for (guint p = 0; p < s->n_ports; p++)
          {
            SimBinding *b;

            if (s->ports[p] == ASM_ID_NONE)
              continue;
            b = sim_find_binding (sim, s->ports[p]);
            g_string_append_printf (out, "  port %u: device %u \"%s\"%s\n", p,
                                    b->device, b->name,
                                    b->pending == PENDING_BIND
                                        ? ", bind pending"
                                        : b->pending == PENDING_UNBIND
                                              ? ", unbind pending"
                                              : "");
          }
      }
    for (guint i = 0; i < sim->routes->len; i++)
      {
        const SimRoute *r = &g_array_index (sim->routes, SimRoute, i);

        g_string_append_printf (out, "root " X "-" X ": switch %u\n",
                                r->first, r->last, r->sw);
      }
    for (guint i = 0; i < sim->vfs->len; i++)
      {
        const SimVf *v = &g_array_index (sim->vfs, SimVf, i);

        g_string_append_printf (out, "vf %u: PF %u index %u\n", v->vf, v->pf,
                                v->index);
      }
    for (guint i = 0; i < sim->held->len; i++)
      g_string_append_printf (out, "held: device %u\n",
                              g_array_index (sim->held, AsmId, i));
    for (guint i = 0; i < sim->usage->len; i++)
      {
        const SimUsage *u = &g_array_index (sim->usage, SimUsage, i);

        g_string_append_printf (out,
                                "usage: partition %u, %" G_GUINT64_FORMAT
                                " reads\n",
                                u->partition, u->reads);
      }
  }
  return g_string_free (out, FALSE);
}

/* ------------------------------------------------------------------ */
/* verify                                                               */

/* One switch of the fabric's model, as read through the public API. */
typedef struct {
  AsmSwitchInfo info; /* info.name belongs to the fabric */
  GArray *windows;    /* AsmRange, sorted by first */
  GArray *table;      /* AsmXlatEntry, sorted by key */
  AsmId *ports;       /* info.n_ports device ids, ASM_ID_NONE = free */
} ModelSwitch;

typedef struct {
  GArray *switch_ids;   /* AsmId, sorted */
  GPtrArray *switches;  /* ModelSwitch *, parallel to switch_ids */
  GArray *vfs;          /* SimVf, sorted by (pf, index) */
  GArray *routes;       /* AsmRootRoute, sorted by first */
  char *impossible;     /* the first thing no hardware could hold, or NULL */
} Model;

static void
model_switch_free (gpointer data)
{
  ModelSwitch *m = data;

  if (m->windows != NULL)
    g_array_unref (m->windows);
  if (m->table != NULL)
    g_array_unref (m->table);
  g_free (m->ports);
  g_free (m);
}

static void
model_clear (Model *m)
{
  g_clear_pointer (&m->switch_ids, g_array_unref);
  g_clear_pointer (&m->switches, g_ptr_array_unref);
  g_clear_pointer (&m->vfs, g_array_unref);
  g_clear_pointer (&m->routes, g_array_unref);
  g_clear_pointer (&m->impossible, g_free);
}

static gint
id_cmp (gconstpointer a, gconstpointer b)
{
  AsmId x = *(const AsmId *) a, y = *(const AsmId *) b;

  return x < y ? -1 : x > y;
}

static gint
entry_cmp (gconstpointer a, gconstpointer b)
{
  return id_cmp (&((const AsmXlatEntry *) a)->key,
                 &((const AsmXlatEntry *) b)->key);
}

static gint
vf_cmp (gconstpointer a, gconstpointer b)
{
  guint64 x = vf_key (a), y = vf_key (b);

  return x < y ? -1 : x > y;
}

static gint
root_route_cmp (gconstpointer a, gconstpointer b)
{
  const AsmRootRoute *x = a, *y = b;

  if (x->first != y->first)
    return x->first < y->first ? -1 : 1;
  return x->switch_id < y->switch_id ? -1 : x->switch_id > y->switch_id;
}

/* a sorted copy of an id list from asm_fabric_list(); never NULL */
static GArray *
model_list (AsmFabric *fabric, AsmFabricObjects what)
{
  GArray *ids = asm_fabric_list (fabric, what);
  GArray *copy = g_array_new (FALSE, FALSE, sizeof (AsmId));

  if (ids != NULL)
    {
      if (ids->len > 0)
        g_array_append_vals (copy, ids->data, ids->len);
      g_array_unref (ids);
    }
  g_array_sort (copy, id_cmp);
  return copy;
}

static GArray *
sorted_copy (GArray *array, gsize element_size, GCompareFunc cmp)
{
  GArray *copy = g_array_new (FALSE, FALSE, element_size);

  if (array != NULL)
    {
      if (array->len > 0)
        g_array_append_vals (copy, array->data, array->len);
      g_array_unref (array);
    }
  g_array_sort (copy, cmp);
  return copy;
}

static void
model_note (Model *m, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* Records the first impossibility found in the model. */
static void
model_note (Model *m, const char *format, ...)
{
  va_list ap;

  if (m->impossible != NULL)
    return;
  va_start (ap, format);
  m->impossible = g_strdup_vprintf (format, ap);
  va_end (ap);
}

static ModelSwitch *
model_find_switch (Model *m, AsmId id)
{
  guint pos;

  if (!sorted_find (m->switch_ids, id, id_key, &pos))
    return NULL;
  return g_ptr_array_index (m->switches, pos);
}

/* Reads the fabric's model through the public API. */
static void
model_load (Model *m, AsmFabric *fabric)
{
  g_autoptr (GArray) devices = NULL;

  m->switch_ids = model_list (fabric, ASM_FABRIC_SWITCHES);
  m->switches = g_ptr_array_new_with_free_func (model_switch_free);
  m->vfs = g_array_new (FALSE, FALSE, sizeof (SimVf));
  m->routes = sorted_copy (asm_fabric_get_root_map (fabric),
                           sizeof (AsmRootRoute), root_route_cmp);

  for (guint i = 0; i < m->switch_ids->len; i++)
    {
      AsmId id = g_array_index (m->switch_ids, AsmId, i);
      ModelSwitch *ms = g_new0 (ModelSwitch, 1);

      if (!asm_fabric_get_switch_info (fabric, id, &ms->info))
        {
          model_note (m, "switch %u: listed by the model, but it has no "
                      "information on it", id);
          ms->info.id = id;
        }
      ms->windows = sorted_copy (asm_fabric_get_switch_windows (fabric, id),
                                 sizeof (AsmRange), range_cmp);
      ms->table = sorted_copy (asm_fabric_get_xlat_table (fabric, id),
                               sizeof (AsmXlatEntry), entry_cmp);
      ms->ports = g_new0 (AsmId, MAX (ms->info.n_ports, 1));
      g_ptr_array_add (m->switches, ms);
    }

  devices = model_list (fabric, ASM_FABRIC_DEVICES);
  for (guint i = 0; i < devices->len; i++)
    {
      AsmId id = g_array_index (devices, AsmId, i);
      AsmDeviceInfo info;
      ModelSwitch *ms;

      if (!asm_fabric_get_device_info (fabric, id, &info))
        {
          model_note (m, "device %u: listed by the model, but it has no "
                      "information on it", id);
          continue;
        }
      if (info.kind == ASM_DEVICE_VF)
        {
          SimVf v = { info.pf, info.vf_index, id };

          g_array_append_val (m->vfs, v);
          continue;
        }
      if (info.switch_id == ASM_ID_NONE)
        continue;
      if ((ms = model_find_switch (m, info.switch_id)) == NULL)
        model_note (m, "device %u: bound to switch %u in the model, which "
                    "the model does not list", id, info.switch_id);
      else if (info.port >= ms->info.n_ports)
        model_note (m, "device %u: bound to port %u of switch %u in the "
                    "model, which has %u ports", id, info.port,
                    info.switch_id, ms->info.n_ports);
      else if (ms->ports[info.port] != ASM_ID_NONE)
        model_note (m, "switch %u port %u: devices %u and %u are both bound "
                    "there in the model", info.switch_id, info.port,
                    ms->ports[info.port], id);
      else
        ms->ports[info.port] = id;
    }
  g_array_sort (m->vfs, vf_cmp);
}

/* The first field in which two entries with the same key differ, or NULL. */
static char *
entry_diff (const AsmXlatEntry *hw, const AsmXlatEntry *mo)
{
#define ID_FIELD(f) \
  if (hw->f != mo->f) \
    return g_strdup_printf (#f " %u in hardware, %u in the model", hw->f, \
                            mo->f)
#define ADDR_FIELD(f) \
  if (hw->f != mo->f) \
    return g_strdup_printf (#f " " X " in hardware, " X " in the model", \
                            hw->f, mo->f)
  ID_FIELD (partition);
  ID_FIELD (workload);
  ADDR_FIELD (virt_first);
  ADDR_FIELD (size);
  ADDR_FIELD (offset);
  return NULL;
#undef ID_FIELD
#undef ADDR_FIELD
}

static char *
verify_switch (Sim *sim, SimSwitch *s, ModelSwitch *ms)
{
  guint i, j;

  if (g_strcmp0 (s->name, ms->info.name) != 0)
    return g_strdup_printf ("switch %u: name \"%s\" in hardware, \"%s\" in "
                            "the model", s->id, s->name,
                            ms->info.name ? ms->info.name : "(none)");
  if (s->n_ports != ms->info.n_ports)
    return g_strdup_printf ("switch %u: %u ports in hardware, %u in the "
                            "model", s->id, s->n_ports, ms->info.n_ports);
  if (s->table_capacity != ms->info.table_capacity)
    return g_strdup_printf ("switch %u: table capacity %u in hardware, %u "
                            "in the model", s->id, s->table_capacity,
                            ms->info.table_capacity);

  /* windows, merged by address */
  for (i = 0, j = 0; i < s->windows->len || j < ms->windows->len;)
    {
      const AsmRange *hw = i < s->windows->len
                               ? &g_array_index (s->windows, AsmRange, i)
                               : NULL;
      const AsmRange *mo = j < ms->windows->len
                               ? &g_array_index (ms->windows, AsmRange, j)
                               : NULL;

      if (hw != NULL && mo != NULL && hw->first == mo->first)
        {
          if (hw->last != mo->last)
            return g_strdup_printf ("switch %u: window " X "-" X " in "
                                    "hardware, " X "-" X " in the model",
                                    s->id, hw->first, hw->last, mo->first,
                                    mo->last);
          i++, j++;
        }
      else if (mo == NULL || (hw != NULL && hw->first < mo->first))
        return g_strdup_printf ("switch %u: window " X "-" X " is in "
                                "hardware but not in the model", s->id,
                                hw->first, hw->last);
      else
        return g_strdup_printf ("switch %u: window " X "-" X " is in the "
                                "model but not in hardware", s->id,
                                mo->first, mo->last);
    }

  if (s->staging != NULL)
    {
      g_autoptr (GArray) staged = staged_table (s);
      return g_strdup_printf ("switch %u: a table update is open in hardware "
                              "(%u entries staged, neither committed nor "
                              "aborted)", s->id, staged->len);
    }

  /* table entries, merged by key */
  for (i = 0, j = 0; i < s->table->len || j < ms->table->len;)
    {
      const AsmXlatEntry *hw =
          i < s->table->len ? &g_array_index (s->table, AsmXlatEntry, i)
                            : NULL;
      const AsmXlatEntry *mo =
          j < ms->table->len ? &g_array_index (ms->table, AsmXlatEntry, j)
                             : NULL;

      if (hw != NULL && mo != NULL && hw->key == mo->key)
        {
          g_autofree char *diff = entry_diff (hw, mo);

          if (diff != NULL)
            return g_strdup_printf ("switch %u: table entry key %u: %s",
                                    s->id, hw->key, diff);
          i++, j++;
        }
      else if (mo == NULL || (hw != NULL && hw->key < mo->key))
        return g_strdup_printf ("switch %u: table entry key %u is in "
                                "hardware but not in the model", s->id,
                                hw->key);
      else
        return g_strdup_printf ("switch %u: table entry key %u is in the "
                                "model but not in hardware", s->id,
                                mo->key);
    }

  /* ports */
  for (guint p = 0; p < s->n_ports; p++)
    {
      AsmId hw = s->ports[p], mo = ms->ports[p];
      SimBinding *b = hw != ASM_ID_NONE ? sim_find_binding (sim, hw) : NULL;

      if (b != NULL && b->pending != PENDING_NONE)
        return g_strdup_printf ("switch %u port %u: device %u has %s pending "
                                "in hardware", s->id, p, hw,
                                b->pending == PENDING_BIND ? "a bind"
                                                           : "an unbind");
      if (hw == mo)
        continue;
      if (hw == ASM_ID_NONE)
        return g_strdup_printf ("switch %u port %u: free in hardware, device "
                                "%u in the model", s->id, p, mo);
      if (mo == ASM_ID_NONE)
        return g_strdup_printf ("switch %u port %u: device %u in hardware, "
                                "free in the model", s->id, p, hw);
      return g_strdup_printf ("switch %u port %u: device %u in hardware, "
                              "device %u in the model", s->id, p, hw, mo);
    }
  return NULL;
}

/* The first difference between the hardware and the model, or NULL. */
static char *
verify_diff (Sim *sim, Model *m)
{
  guint i, j;

  /* the set of switches */
  for (i = 0, j = 0; i < sim->switches->len || j < m->switch_ids->len;)
    {
      SimSwitch *s = i < sim->switches->len
                         ? g_ptr_array_index (sim->switches, i)
                         : NULL;
      AsmId mo = j < m->switch_ids->len
                     ? g_array_index (m->switch_ids, AsmId, j)
                     : ASM_ID_NONE;

      if (s != NULL && mo != ASM_ID_NONE && s->id == mo)
        i++, j++;
      else if (mo == ASM_ID_NONE || (s != NULL && s->id < mo))
        return g_strdup_printf ("switch %u is in hardware but not in the "
                                "model", s->id);
      else
        return g_strdup_printf ("switch %u is in the model but not in "
                                "hardware", mo);
    }

  if (m->impossible != NULL)
    return g_strdup (m->impossible);

  for (i = 0; i < sim->switches->len; i++)
    {
      char *diff = verify_switch (sim, g_ptr_array_index (sim->switches, i),
                                  g_ptr_array_index (m->switches, i));

      if (diff != NULL)
        return diff;
    }

  /* the root complex's routes, merged by address */
  for (i = 0, j = 0; i < sim->routes->len || j < m->routes->len;)
    {
      const SimRoute *hw = i < sim->routes->len
                               ? &g_array_index (sim->routes, SimRoute, i)
                               : NULL;
      const AsmRootRoute *mo =
          j < m->routes->len ? &g_array_index (m->routes, AsmRootRoute, j)
                             : NULL;

      if (hw != NULL && mo != NULL && hw->first == mo->first)
        {
          if (hw->last != mo->last || hw->sw != mo->switch_id)
            return g_strdup_printf ("root route " X "-" X " to switch %u in "
                                    "hardware, " X "-" X " to switch %u in "
                                    "the model", hw->first, hw->last, hw->sw,
                                    mo->first, mo->last, mo->switch_id);
          i++, j++;
        }
      else if (mo == NULL || (hw != NULL && hw->first < mo->first))
        return g_strdup_printf ("root route " X "-" X " to switch %u is in "
                                "hardware but not in the model", hw->first,
                                hw->last, hw->sw);
      else
        return g_strdup_printf ("root route " X "-" X " to switch %u is in "
                                "the model but not in hardware", mo->first,
                                mo->last, mo->switch_id);
    }

  /* VFs, merged by (pf, index) */
  for (i = 0, j = 0; i < sim->vfs->len || j < m->vfs->len;)
    {
      const SimVf *hw =
          i < sim->vfs->len ? &g_array_index (sim->vfs, SimVf, i) : NULL;
      const SimVf *mo =
          j < m->vfs->len ? &g_array_index (m->vfs, SimVf, j) : NULL;

      if (hw != NULL && mo != NULL && vf_key (hw) == vf_key (mo))
        {
          if (hw->vf != mo->vf)
            return g_strdup_printf ("PF %u VF index %u: VF %u in hardware, "
                                    "VF %u in the model", hw->pf, hw->index,
                                    hw->vf, mo->vf);
          i++, j++;
        }
      else if (mo == NULL || (hw != NULL && vf_key (hw) < vf_key (mo)))
        return g_strdup_printf ("PF %u VF index %u: VF %u in hardware, none "
                                "in the model", hw->pf, hw->index, hw->vf);
      else
        return g_strdup_printf ("PF %u VF index %u: none in hardware, VF %u "
                                "in the model", mo->pf, mo->index, mo->vf);
    }

  if (sim->held->len > 0)
    return g_strdup_printf ("device %u is held in hardware",
                            g_array_index (sim->held, AsmId, 0));
  return NULL;
}

/**
 * asm_sim_verify:
 * @backend: a sim backend
 * @fabric: the fabric that drives it
 * @error: return location for a #GError
 *
 * Compares the simulated hardware with @fabric's model, read through the
 * public fabric API: the same switches (name, ports, table capacity), and
 * per switch the same windows, the same committed translation table (every
 * field of every entry) with no update left open, and the same device at
 * every port; the same root complex routes as asm_fabric_get_root_map();
 * the same VFs under every PF; and no device held.  The usage counters
 * are the hardware's own and are not compared.  Call it
 * when no operation is running on @fabric.
 *
 * The first difference is reported as %ASM_ERROR_FAILED, naming the
 * object and both values ("switch 3: table entry key 7: offset 0x1000 in
 * hardware, 0x2000 in the model").  The comparison order, and so which
 * difference comes first, is fixed (see the theory comment of asm-sim.c).
 *
 * Returns: %TRUE when the hardware matches the model
 *
 * Since: 0.1
 */
gboolean
asm_sim_verify (AsmBackend *backend, AsmFabric *fabric, GError **error)
{
  Sim *sim = sim_from_backend (backend);
  Model m = { 0 };
  g_autofree char *diff = NULL;

  g_return_val_if_fail (sim != NULL, FALSE);
  g_return_val_if_fail (fabric != NULL, FALSE);

  /* read the fabric first: the sim's lock is never held while calling out */
  model_load (&m, fabric);
  {
    SIM_LOCK (sim);

    diff = verify_diff (sim, &m);
  }
  model_clear (&m);
  if (diff != NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                   "hardware differs from the model: %s", diff);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* private                                                              */

#define CHECK(cond, ...) \
  G_STMT_START \
  { \
    if (!(cond)) \
      { \
        g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED, __VA_ARGS__); \
        return FALSE; \
      } \
  } \
  G_STMT_END

static gboolean
check_table (SimSwitch *s, GArray *t, const char *what, GError **error)
{
  for (guint i = 0; i < t->len; i++)
    {
      const AsmXlatEntry *e = &g_array_index (t, AsmXlatEntry, i);

      CHECK (e->key != ASM_ID_NONE, "switch %u: %s entry %u has key 0",
             s->id, what, i);
      CHECK (i == 0 || g_array_index (t, AsmXlatEntry, i - 1).key < e->key,
             "switch %u: %s keys out of order at entry %u", s->id, what, i);
      CHECK (e->size >= 1 && e->size - 1 <= G_MAXUINT64 - e->virt_first,
             "switch %u: %s entry key %u has a bad size", s->id, what,
             e->key);
    }
  return TRUE;
}

gboolean
asm_sim_check (AsmBackend *backend, GError **error)
{
  Sim *sim = sim_from_backend (backend);

  g_return_val_if_fail (sim != NULL, FALSE);
  {
    SIM_LOCK (sim);

    return sim_check_state (sim, error);
  }
}

/* S1-S8 on @sim, whose lock the caller holds (or which no one else sees
 * yet, as a state being loaded from a file). */
static gboolean
sim_check_state (Sim *sim, GError **error)
{
  guint n_bound = 0;

  for (guint i = 0; i < sim->switches->len; i++)
    {
      SimSwitch *s = g_ptr_array_index (sim->switches, i);

      /* S1 */
      CHECK (s->id != ASM_ID_NONE, "switch at %u has id 0", i);
      CHECK (i == 0 ||
                 ((SimSwitch *) g_ptr_array_index (sim->switches, i - 1))->id <
                     s->id,
             "switches out of order at %u", i);
      /* S2 */
      for (guint j = 0; j < s->windows->len; j++)
        {
          const AsmRange *w = &g_array_index (s->windows, AsmRange, j);

          CHECK (w->first <= w->last, "switch %u: window %u is empty", s->id,
                 j);
          CHECK (j == 0 ||
                     g_array_index (s->windows, AsmRange, j - 1).last <
                         w->first,
                 "switch %u: windows %u and %u overlap or are out of order",
                 s->id, j - 1, j);
        }
      /* S3 */
      if (!check_table (s, s->table, "table", error))
        return FALSE;
      CHECK (s->table->len <= s->table_capacity,
             "switch %u: %u entries committed, capacity %u", s->id,
             s->table->len, s->table_capacity);
      if (s->staging != NULL)
        {
          g_autoptr (GArray) staged = staged_table (s);
          if (!check_table (s, staged, "staged", error))
            return FALSE;
        }
      /* S4, from the ports' side */
      for (guint p = 0; p < s->n_ports; p++)
        {
          SimBinding *b;

          if (s->ports[p] == ASM_ID_NONE)
            continue;
          n_bound++;
          b = sim_find_binding (sim, s->ports[p]);
          CHECK (b != NULL && b->device == s->ports[p] && b->sw == s->id &&
                     b->port == p,
                 "switch %u port %u: device %u has no matching binding",
                 s->id, p, s->ports[p]);
        }
    }
  /* S4, from the bindings' side: each binding is at a distinct port that
   * names it, so equal counts make the map a bijection */
  CHECK (n_bound == g_hash_table_size (sim->bindings),
         "%u ports bound but %u bindings", n_bound,
         g_hash_table_size (sim->bindings));
  /* S5 */
  for (guint i = 0; i < sim->vfs->len; i++)
    {
      const SimVf *v = &g_array_index (sim->vfs, SimVf, i);

      CHECK (v->pf != ASM_ID_NONE && v->vf != ASM_ID_NONE && v->pf != v->vf,
             "VF entry %u has a bad id", i);
      CHECK (i == 0 || vf_key (&g_array_index (sim->vfs, SimVf, i - 1)) <
                           vf_key (v),
             "VFs out of order at %u", i);
      CHECK (sim_find_vf_id (sim, v->vf) == (gint) i, "VF %u appears twice",
             v->vf);
      CHECK (sim_find_binding (sim, v->vf) == NULL, "VF %u is bound", v->vf);
    }
  /* S6 */
  for (guint i = 0; i < sim->held->len; i++)
    {
      AsmId d = g_array_index (sim->held, AsmId, i);

      CHECK (d != ASM_ID_NONE, "held device %u has id 0", i);
      CHECK (i == 0 || g_array_index (sim->held, AsmId, i - 1) < d,
             "held devices out of order at %u", i);
    }
  /* S7 */
  for (guint i = 0; i < sim->routes->len; i++)
    {
      const SimRoute *r = &g_array_index (sim->routes, SimRoute, i);

      CHECK (r->first <= r->last, "root route %u is empty", i);
      CHECK (i == 0 ||
                 g_array_index (sim->routes, SimRoute, i - 1).last < r->first,
             "root routes %u and %u overlap or are out of order", i - 1, i);
      CHECK (sim_find_switch (sim, r->sw, NULL) != NULL,
             "root route " X "-" X " goes to switch %u, which does not "
             "exist", r->first, r->last, r->sw);
    }
  /* S8 */
  for (guint i = 0; i < sim->usage->len; i++)
    {
      AsmId p = g_array_index (sim->usage, SimUsage, i).partition;

      CHECK (p != ASM_ID_NONE, "usage counter %u has partition id 0", i);
      CHECK (i == 0 ||
                 g_array_index (sim->usage, SimUsage, i - 1).partition < p,
             "usage counters out of order at %u", i);
    }
  return TRUE;
}

#undef CHECK

void
asm_sim_set_pending_binds (AsmBackend *backend, gboolean pending)
{
  Sim *sim = sim_from_backend (backend);

  g_return_if_fail (sim != NULL);
  {
    SIM_LOCK (sim);

    sim->pending_binds = pending;
  }
}
