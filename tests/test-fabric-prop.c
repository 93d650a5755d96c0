/* test-fabric-prop.c: property test of AsmFabric over the sim backend
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * Random sequences of every fabric operation, chosen and run by the
 * decoder of tests/fabric-ops.c from a seeded choice source (the fuzz
 * target fuzz-fabric-ops uses the same decoder on its input bytes): add
 * switch (some pinned), add window, reserve global space, add device
 * (endpoints and SR-IOV PFs), set SR-IOV, create VF, add workload, request
 * partition, map device, grow, migrate (to a random switch or wherever the
 * policy says), release, transfer VF, record usage, predict, rebalance,
 * set the window granule, a save/restore round trip -- with random,
 * sometimes invalid, arguments, and now and then a fault injected into the
 * simulated hardware (asm_sim_fail_call() of a coming call, or
 * asm_sim_fail_kind() of a kind, until cleared).  The decoder checks each
 * call's own contract (its error, the values it returns).  After every
 * step:
 *
 *   - asm_fabric_check() and asm_sim_verify() pass;
 *   - an independent checker, built only from the public getters
 *     (asm_fabric_list, get_switch_info, get_switch_windows,
 *     get_partition_info, get_device_info, get_xlat_table,
 *     get_global_stats, translate), confirms: windows are granule-aligned,
 *     pairwise disjoint across all switches and inside the global space,
 *     and add up to each switch's window_bytes and to the global arena's
 *     allocations; every partition lies inside one window of its switch;
 *     no two partitions (nor a partition and a transferred VF's base)
 *     overlap physically, no two partitions of a workload virtually; each
 *     switch's table holds table_used <= capacity entries: one per
 *     partition placed on it (key = partition id, offset = phys - virt)
 *     and one per VF redirected to it (key = VF id, over the VF's BAR);
 *     free_bytes, bandwidth_used, n_partitions and n_ports_used are the
 *     sums they claim to be; VFs live with their PF; every mapped device
 *     is inside its partition, BARs do not overlap, and the device is
 *     reachable (its partition's switch, or its own table entry); the
 *     first and last byte of every partition translate through the table
 *     that routes them;
 *   - a shadow model (partition -> workload, virtual start, size;
 *     device -> partition, offset) follows the successful operations and
 *     must match: virtual addresses and device offsets never move, a
 *     transferred VF's successor takes its place;
 *   - an operation that failed left asm_fabric_save() byte for byte as it
 *     was, and so did a successful query; it failed with
 *     ASM_ERROR_BACKEND only when a fault was armed, and then named the
 *     step ("step i of n").
 *
 * The default run is 8 seeds of 3,000 operations (24,000 in all).  On a
 * failure the seed, the step and the last operations are printed.
 *
 * Environment:
 *   ASM_PROP_SEED=N   run only seed N
 *   ASM_PROP_OPS=N    operations per seed (default 3000)
 *   ASM_PROP_SEEDS=N  number of seeds (default 8), for a longer soak
 *   ASM_PROP_TRACE=1  print every operation and its outcome
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <asm/asm.h>
#include <asm/asm-sim.h>

#include "fabric-ops.h"

#define X "0x%" G_GINT64_MODIFIER "x"
#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define BASE (G_GUINT64_CONSTANT (1) << 36)
#define GLOBAL_SIZE (512 * MIB)
#define HISTORY 24

#define MAX_SWITCHES 8
#define MAX_DEVICES 40
#define MAX_WORKLOADS 8
#define MAX_PARTITIONS 20

typedef struct {
  AsmId workload;
  guint64 virt;
  guint64 size;
} ShadowPart;

typedef struct {
  AsmId partition;
  guint64 offset;
} ShadowDev;

/* what one seed's run is doing, for the failure report */
typedef struct {
  guint64 seed;
  guint step;
  GString *op;
  char *history[HISTORY];
  guint n_history;
  gboolean trace;
} Ctx;

static Ctx ctx;

static void
ctx_report (void)
{
  print_error ("# FAILED seed %" G_GUINT64_FORMAT " at step %u: %s\n",
               ctx.seed, ctx.step, ctx.op->str);
  print_error ("#   replay: ASM_PROP_SEED=%" G_GUINT64_FORMAT
               " ASM_PROP_OPS=%u ASM_PROP_TRACE=1\n", ctx.seed,
               ctx.step + 1);
  print_error ("#   the operations before it:\n");
  for (guint i = ctx.n_history > HISTORY ? ctx.n_history - HISTORY : 0;
       i < ctx.n_history; i++)
    print_error ("#     %s\n", ctx.history[i % HISTORY]);
}

#define PROP_FAIL(...) \
  G_STMT_START { \
    ctx_report (); \
    print_error ("%s:%d: ", __FILE__, __LINE__); \
    print_error (__VA_ARGS__); \
    print_error ("\n"); \
    _fail (__FILE__, __LINE__); \
  } G_STMT_END

#define PROP_CHECK(cond, ...) \
  G_STMT_START { \
    if (!(cond)) \
      PROP_FAIL (__VA_ARGS__); \
  } G_STMT_END

static void
ctx_note (const char *outcome)
{
  char **slot = &ctx.history[ctx.n_history % HISTORY];

  g_free (*slot);
  *slot = g_strdup_printf ("%u: %s -> %s", ctx.step, ctx.op->str, outcome);
  ctx.n_history++;
  if (ctx.trace)
    print_message ("# %s\n", *slot);
}


/* ---------------------------------------------------------------------- */
/* A run                                                                  */
/* ---------------------------------------------------------------------- */

/* per operation of the table (fabric-ops.c) */
#define MAX_KINDS 64

typedef struct {
  FabricOps *ops;       /* the decoder: chooses and runs the operations */
  AsmFabric *f;         /* its fabric (a round trip may replace it) */
  AsmBackend *sim;
  guint64 granule;
  GHashTable *parts;    /* AsmId -> ShadowPart * */
  GHashTable *devs;     /* AsmId -> ShadowDev * (mapped devices only) */
  AsmId max_id;         /* the largest id seen */
  guint n_ops[MAX_KINDS], n_ok[MAX_KINDS], n_refused[MAX_KINDS],
      n_faulted[MAX_KINDS];
  guint n_armed;        /* operations run with a fault armed */
} Run;

static GArray *
list (Run *r, AsmFabricObjects what)
{
  GArray *a = asm_fabric_list (r->f, what);
  g_assert_nonnull (a);
  return a;
}

static void
note_id (Run *r, AsmId id)
{
  PROP_CHECK (id > r->max_id, "new id %u is not above every id seen (%u)",
              id, r->max_id);
  r->max_id = id;
}

/* ---------------------------------------------------------------------- */
/* The independent checker                                                */
/* ---------------------------------------------------------------------- */

typedef struct {
  guint64 first, last;
  AsmId owner;   /* switch (windows), partition or device (placements) */
} Span;

static gint
span_cmp (gconstpointer a, gconstpointer b)
{
  const Span *x = a, *y = b;
  return x->first < y->first ? -1 : x->first > y->first;
}

/* sorts and checks that no two spans overlap */
static void
spans_disjoint (GArray *spans, const char *what)
{
  g_array_sort (spans, span_cmp);
  for (guint i = 1; i < spans->len; i++)
    {
      const Span *a = &g_array_index (spans, Span, i - 1);
      const Span *b = &g_array_index (spans, Span, i);
      PROP_CHECK (a->last < b->first, "%s " X "-" X " (%u) and " X "-" X
                  " (%u) overlap", what, a->first, a->last, a->owner,
                  b->first, b->last, b->owner);
    }
}

static guint64
round_up (guint64 v, guint64 to)
{
  return (v + to - 1) & ~(to - 1);
}

static void
check_independent (Run *r)
{
  g_autoptr (GArray) sws = list (r, ASM_FABRIC_SWITCHES);
  g_autoptr (GArray) parts = list (r, ASM_FABRIC_PARTITIONS);
  g_autoptr (GArray) devs = list (r, ASM_FABRIC_DEVICES);
  g_autoptr (GArray) wls = list (r, ASM_FABRIC_WORKLOADS);
  g_autoptr (GArray) windows = g_array_new (FALSE, FALSE, sizeof (Span));
  g_autoptr (GArray) phys = g_array_new (FALSE, FALSE, sizeof (Span));
  g_autoptr (GHashTable) pinfo = g_hash_table_new_full (NULL, NULL, NULL,
                                                        g_free);
  g_autoptr (GHashTable) dinfo = g_hash_table_new_full (NULL, NULL, NULL,
                                                        g_free);
  AsmArenaStats gs;
  guint64 all_window_bytes = 0;

  /* objects and ids */
  for (guint i = 0; i < parts->len; i++)
    {
      AsmPartitionInfo *pi = g_new (AsmPartitionInfo, 1);
      AsmId id = g_array_index (parts, AsmId, i);
      PROP_CHECK (asm_fabric_get_partition_info (r->f, id, pi),
                  "listed partition %u has no info", id);
      g_hash_table_insert (pinfo, GUINT_TO_POINTER (id), pi);
    }
  for (guint i = 0; i < devs->len; i++)
    {
      AsmDeviceInfo *di = g_new (AsmDeviceInfo, 1);
      AsmId id = g_array_index (devs, AsmId, i);
      PROP_CHECK (asm_fabric_get_device_info (r->f, id, di),
                  "listed device %u has no info", id);
      g_hash_table_insert (dinfo, GUINT_TO_POINTER (id), di);
    }
  {
    GArray *all[4] = { sws, parts, devs, wls };
    for (guint k = 0; k < 4; k++)
      for (guint i = 0; i < all[k]->len; i++)
        {
          AsmId id = g_array_index (all[k], AsmId, i);
          PROP_CHECK (id >= 1 && id <= r->max_id, "id %u was never handed "
                      "out (max %u)", id, r->max_id);
          PROP_CHECK (i == 0 || g_array_index (all[k], AsmId, i - 1) < id,
                      "list not in increasing order");
        }
  }

  /* shadow model: partitions */
  PROP_CHECK (g_hash_table_size (r->parts) == parts->len,
              "%u partitions, the shadow has %u", parts->len,
              g_hash_table_size (r->parts));
  for (guint i = 0; i < parts->len; i++)
    {
      AsmId id = g_array_index (parts, AsmId, i);
      AsmPartitionInfo *pi = g_hash_table_lookup (pinfo,
                                                  GUINT_TO_POINTER (id));
      ShadowPart *sp = g_hash_table_lookup (r->parts, GUINT_TO_POINTER (id));
      PROP_CHECK (sp != NULL, "partition %u is not in the shadow", id);
      PROP_CHECK (sp->workload == pi->workload && sp->virt == pi->virt_first &&
                  sp->size == pi->size,
                  "partition %u: workload %u virt " X " size " X ", shadow "
                  "%u " X " " X, id, pi->workload, pi->virt_first, pi->size,
                  sp->workload, sp->virt, sp->size);
    }

  /* devices: VFs with their PF, mappings inside partitions, shadow */
  {
    guint n_mapped = 0;
    g_autoptr (GHashTable) bars = g_hash_table_new_full (
        NULL, NULL, NULL, (GDestroyNotify) g_array_unref);
    for (guint i = 0; i < devs->len; i++)
      {
        AsmId id = g_array_index (devs, AsmId, i);
        AsmDeviceInfo *di = g_hash_table_lookup (dinfo, GUINT_TO_POINTER (id));
        ShadowDev *sd = g_hash_table_lookup (r->devs, GUINT_TO_POINTER (id));
        AsmSwitchInfo si;

        PROP_CHECK (asm_fabric_get_switch_info (r->f, di->switch_id, &si),
                    "device %u on switch %u that does not exist", id,
                    di->switch_id);
        PROP_CHECK (di->port < si.n_ports, "device %u at port %u of %u", id,
                    di->port, si.n_ports);
        PROP_CHECK ((di->bar_size & (di->bar_size - 1)) == 0 &&
                    di->bar_size != 0, "device %u BAR " X, id, di->bar_size);
        if (di->kind == ASM_DEVICE_VF)
          {
            AsmDeviceInfo *pf = g_hash_table_lookup (
                dinfo, GUINT_TO_POINTER (di->pf));
            PROP_CHECK (pf != NULL && pf->kind == ASM_DEVICE_PF &&
                        pf->switch_id == di->switch_id &&
                        pf->port == di->port &&
                        di->vf_index < pf->max_vfs &&
                        di->bar_size == pf->vf_bar_size,
                        "VF %u does not live with its PF %u", id, di->pf);
          }
        if (di->partition == ASM_ID_NONE)
          {
            PROP_CHECK (sd == NULL, "device %u unmapped, the shadow has it "
                        "in partition %u", id, sd ? sd->partition : 0);
            continue;
          }
        n_mapped++;
        {
          AsmPartitionInfo *pi = g_hash_table_lookup (
              pinfo, GUINT_TO_POINTER (di->partition));
          Span b;
          PROP_CHECK (pi != NULL, "device %u in partition %u that does not "
                      "exist", id, di->partition);
          PROP_CHECK (sd != NULL && sd->partition == di->partition &&
                      sd->offset == di->partition_offset,
                      "device %u: partition %u offset " X ", shadow %u " X,
                      id, di->partition, di->partition_offset,
                      sd ? sd->partition : 0, sd ? sd->offset : 0);
          PROP_CHECK (di->partition_offset % di->bar_size == 0 &&
                      di->partition_offset + di->bar_size <= pi->size,
                      "device %u: BAR at " X " (" X ") in partition of " X,
                      id, di->partition_offset, di->bar_size, pi->size);
          /* reachable: through the partition's switch, or its own entry */
          if (di->switch_id != pi->switch_id)
            {
              g_autoptr (GArray) t = asm_fabric_get_xlat_table (
                  r->f, di->switch_id);
              gboolean own = FALSE;
              for (guint j = 0; j < t->len; j++)
                own |= g_array_index (t, AsmXlatEntry, j).key == id;
              PROP_CHECK (own, "device %u ('%s') mapped into partition %u on "
                          "switch %u sits behind switch %u with no entry "
                          "there", id, di->name, pi->id, pi->switch_id,
                          di->switch_id);
            }
          /* BARs of one partition do not overlap */
          b.first = di->partition_offset;
          b.last = b.first + di->bar_size - 1;
          b.owner = id;
          {
            GArray *in = g_hash_table_lookup (bars,
                                              GUINT_TO_POINTER (pi->id));
            if (in == NULL)
              {
                in = g_array_new (FALSE, FALSE, sizeof (Span));
                g_hash_table_insert (bars, GUINT_TO_POINTER (pi->id), in);
              }
            g_array_append_val (in, b);
          }
        }
      }
    {
      GHashTableIter it;
      gpointer value;
      g_hash_table_iter_init (&it, bars);
      while (g_hash_table_iter_next (&it, NULL, &value))
        spans_disjoint (value, "BARs in a partition");
    }
    PROP_CHECK (g_hash_table_size (r->devs) == n_mapped,
                "%u devices mapped, the shadow has %u", n_mapped,
                g_hash_table_size (r->devs));
    {
      /* every shadow device still exists (transfers replace their VF) */
      GHashTableIter it;
      gpointer key;
      g_hash_table_iter_init (&it, r->devs);
      while (g_hash_table_iter_next (&it, &key, NULL))
        PROP_CHECK (g_hash_table_contains (dinfo, key), "shadow device %u "
                    "is gone", GPOINTER_TO_UINT (key));
    }
  }

  /* virtual: partitions of one workload never overlap */
  for (guint w = 0; w < wls->len; w++)
    {
      g_autoptr (GArray) v = g_array_new (FALSE, FALSE, sizeof (Span));
      AsmId wid = g_array_index (wls, AsmId, w);
      for (guint i = 0; i < parts->len; i++)
        {
          AsmPartitionInfo *pi = g_hash_table_lookup (
              pinfo, GUINT_TO_POINTER (g_array_index (parts, AsmId, i)));
          Span s = { pi->virt_first, pi->virt_first + pi->size - 1, pi->id };
          if (pi->workload == wid)
            g_array_append_val (v, s);
        }
      spans_disjoint (v, "virtual ranges");
    }

  /* switches: windows, placements, table, sums */
  for (guint i = 0; i < sws->len; i++)
    {
      AsmId sw = g_array_index (sws, AsmId, i);
      g_autoptr (GArray) w = asm_fabric_get_switch_windows (r->f, sw);
      g_autoptr (GArray) t = asm_fabric_get_xlat_table (r->f, sw);
      g_autoptr (GArray) mine = g_array_new (FALSE, FALSE, sizeof (Span));
      AsmSwitchInfo si;
      guint64 wbytes = 0, used = 0, bw = 0;
      guint n_parts = 0, n_ports = 0, n_redirects = 0;

      PROP_CHECK (asm_fabric_get_switch_info (r->f, sw, &si) && w && t,
                  "switch %u has no info", sw);
      PROP_CHECK (w->len == si.n_windows, "switch %u: %u windows, info says "
                  "%u", sw, w->len, si.n_windows);
      for (guint j = 0; j < w->len; j++)
        {
          AsmRange rg = g_array_index (w, AsmRange, j);
          Span s = { rg.first, rg.last, sw };
          PROP_CHECK (rg.first <= rg.last && rg.first >= BASE &&
                      rg.last <= BASE + GLOBAL_SIZE - 1 &&
                      rg.first % r->granule == 0 &&
                      (rg.last + 1) % r->granule == 0,
                      "switch %u: window " X "-" X " is outside the global "
                      "space or off the granule", sw, rg.first, rg.last);
          PROP_CHECK (j == 0 || g_array_index (w, AsmRange, j - 1).last
                                    < rg.first,
                      "switch %u: windows out of order", sw);
          g_array_append_val (windows, s);
          wbytes += rg.last - rg.first + 1;
        }
      PROP_CHECK (wbytes == si.window_bytes, "switch %u: windows add up to "
                  X ", info says " X, sw, wbytes, si.window_bytes);
      all_window_bytes += wbytes;

      /* partitions placed here */
      for (guint j = 0; j < parts->len; j++)
        {
          AsmPartitionInfo *pi = g_hash_table_lookup (
              pinfo, GUINT_TO_POINTER (g_array_index (parts, AsmId, j)));
          const AsmXlatEntry *e = NULL;
          gboolean inside = FALSE;
          Span s;

          if (pi->switch_id != sw)
            continue;
          n_parts++;
          used += pi->size;
          bw += pi->bandwidth_demand;
          for (guint k = 0; k < w->len; k++)
            {
              AsmRange rg = g_array_index (w, AsmRange, k);
              inside |= pi->phys_first >= rg.first &&
                        pi->phys_first + pi->size - 1 <= rg.last &&
                        pi->phys_first + pi->size - 1 >= pi->phys_first;
            }
          PROP_CHECK (inside, "partition %u at " X " (" X ") is not inside "
                      "one window of switch %u", pi->id, pi->phys_first,
                      pi->size, sw);
          s = (Span) { pi->phys_first, pi->phys_first + pi->size - 1, pi->id };
          g_array_append_val (mine, s);
          g_array_append_val (phys, s);
          for (guint k = 0; k < t->len; k++)
            if (g_array_index (t, AsmXlatEntry, k).key == pi->id)
              e = &g_array_index (t, AsmXlatEntry, k);
          PROP_CHECK (e != NULL, "switch %u: no table entry for partition %u",
                      sw, pi->id);
          PROP_CHECK (e->partition == pi->id && e->workload == pi->workload &&
                      e->virt_first == pi->virt_first &&
                      e->size == pi->size &&
                      e->offset == pi->phys_first - pi->virt_first,
                      "switch %u: entry %u is not partition %u's", sw, e->key,
                      pi->id);
          /* its first and last byte translate through this entry */
          {
            guint64 vs[2] = { pi->virt_first, pi->virt_first + pi->size - 1 };
            for (guint k = 0; k < 2; k++)
              {
                AsmTranslation tr;
                PROP_CHECK (asm_fabric_translate (r->f, pi->workload, vs[k],
                                                  &tr, NULL),
                            "partition %u: " X " does not translate", pi->id,
                            vs[k]);
                PROP_CHECK (tr.partition == pi->id && !tr.held &&
                            tr.generation == pi->generation,
                            "partition %u: " X " translates into %u", pi->id,
                            vs[k], tr.partition);
                if (tr.switch_id == sw)
                  PROP_CHECK (tr.physical == vs[k] + e->offset ||
                              tr.device != ASM_ID_NONE,
                              "partition %u: " X " -> " X, pi->id, vs[k],
                              tr.physical);
              }
          }
        }
      /* table: partition entries and redirected VFs, nothing else */
      for (guint k = 0; k < t->len; k++)
        {
          const AsmXlatEntry *e = &g_array_index (t, AsmXlatEntry, k);
          AsmPartitionInfo *pi = g_hash_table_lookup (
              pinfo, GUINT_TO_POINTER (e->partition));
          AsmDeviceInfo *di;
          Span s;

          PROP_CHECK (k == 0 || g_array_index (t, AsmXlatEntry, k - 1).key
                                    < e->key,
                      "switch %u: table not sorted by key", sw);
          if (g_hash_table_contains (pinfo, GUINT_TO_POINTER (e->key)))
            {
              PROP_CHECK (pi != NULL && pi->id == e->key &&
                          pi->switch_id == sw,
                          "switch %u: entry %u for a partition placed "
                          "elsewhere", sw, e->key);
              continue;
            }
          di = g_hash_table_lookup (dinfo, GUINT_TO_POINTER (e->key));
          PROP_CHECK (di != NULL && di->kind == ASM_DEVICE_VF &&
                      di->switch_id == sw && pi != NULL &&
                      di->partition == pi->id &&
                      e->workload == pi->workload &&
                      e->virt_first == pi->virt_first + di->partition_offset &&
                      e->size == di->bar_size,
                      "switch %u: entry %u is neither a partition of it nor "
                      "a VF redirected to it", sw, e->key);
          n_redirects++;
          s.first = e->virt_first + e->offset;
          s.last = s.first + round_up (e->size, r->granule) - 1;
          s.owner = e->key;
          {
            gboolean inside = FALSE;
            for (guint j = 0; j < w->len; j++)
              inside |= s.first >= g_array_index (w, AsmRange, j).first &&
                        s.last <= g_array_index (w, AsmRange, j).last;
            PROP_CHECK (inside && s.first % e->size == 0,
                        "switch %u: VF %u's base " X " is not an aligned "
                        "range of its windows", sw, e->key, s.first);
          }
          used += s.last - s.first + 1;
          g_array_append_val (mine, s);
          g_array_append_val (phys, s);
        }
      spans_disjoint (mine, "placements");
      PROP_CHECK (t->len == si.table_used && si.table_used <= si.table_capacity
                  && t->len == n_parts + n_redirects,
                  "switch %u: %u entries, table_used %u, capacity %u, %u "
                  "partitions + %u redirects", sw, t->len, si.table_used,
                  si.table_capacity, n_parts, n_redirects);
      PROP_CHECK (si.n_partitions == n_parts, "switch %u: %u partitions, "
                  "info says %u", sw, n_parts, si.n_partitions);
      PROP_CHECK (si.bandwidth_used == bw && bw <= si.bandwidth,
                  "switch %u: bandwidth used %" G_GUINT64_FORMAT ", sum %"
                  G_GUINT64_FORMAT ", capacity %" G_GUINT64_FORMAT, sw,
                  si.bandwidth_used, bw, si.bandwidth);
      PROP_CHECK (si.free_bytes == wbytes - used, "switch %u: free " X
                  ", windows " X " minus placements " X, sw, si.free_bytes,
                  wbytes, used);
      {
        g_autoptr (GArray) ports = g_array_new (FALSE, FALSE, sizeof (Span));
        for (guint j = 0; j < devs->len; j++)
          {
            AsmDeviceInfo *di = g_hash_table_lookup (
                dinfo, GUINT_TO_POINTER (g_array_index (devs, AsmId, j)));
            Span s = { di->port, di->port, di->id };
            if (di->switch_id == sw && di->kind != ASM_DEVICE_VF)
              {
                n_ports++;
                g_array_append_val (ports, s);
              }
          }
        spans_disjoint (ports, "ports");
      }
      PROP_CHECK (si.n_ports_used == n_ports, "switch %u: %u ports used, "
                  "info says %u", sw, n_ports, si.n_ports_used);
    }
  spans_disjoint (windows, "windows");
  spans_disjoint (phys, "physical placements");
  asm_fabric_get_global_stats (r->f, &gs);
  PROP_CHECK (gs.n_allocated == windows->len &&
              gs.allocated_units == all_window_bytes,
              "global: %" G_GUINT64_FORMAT " allocations of " X ", windows %u "
              "of " X, gs.n_allocated, gs.allocated_units, windows->len,
              all_window_bytes);
}

static void
check_all (Run *r)
{
  g_autoptr (GError) error = NULL;

  PROP_CHECK (asm_fabric_check (r->f, &error), "asm_fabric_check: %s",
              error->message);
  PROP_CHECK (asm_sim_verify (r->sim, r->f, &error), "asm_sim_verify: %s",
              error->message);
  check_independent (r);
}


/* ---------------------------------------------------------------------- */
/* Operations                                                             */
/* ---------------------------------------------------------------------- */

/* The devices mapped into partition @p are mapped nowhere now. */
static void
shadow_unmap_partition (Run *r, AsmId p)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, r->devs);
  while (g_hash_table_iter_next (&it, NULL, &value))
    if (((ShadowDev *) value)->partition == p)
      g_hash_table_iter_remove (&it);
}

/* The shadow follows what a successful operation did. */
static void
shadow_apply (Run *r, const FabricOpResult *res)
{
  switch (res->effect)
    {
    case FABRIC_EFFECT_NONE:
    case FABRIC_EFFECT_NOTHING:
      break;
    case FABRIC_EFFECT_CREATED:
      note_id (r, res->created);
      break;
    case FABRIC_EFFECT_PARTITION_NEW:
      {
        ShadowPart *sp = g_new (ShadowPart, 1);
        note_id (r, res->created);
        *sp = (ShadowPart) { res->workload, res->virt, res->size };
        g_hash_table_insert (r->parts, GUINT_TO_POINTER (res->created), sp);
      }
      break;
    case FABRIC_EFFECT_DEVICE_MAPPED:
      {
        ShadowDev *sd = g_new (ShadowDev, 1);
        *sd = (ShadowDev) { res->partition, res->offset };
        g_hash_table_insert (r->devs, GUINT_TO_POINTER (res->device), sd);
      }
      break;
    case FABRIC_EFFECT_PARTITION_SIZE:
      {
        ShadowPart *sp =
            g_hash_table_lookup (r->parts, GUINT_TO_POINTER (res->partition));
        PROP_CHECK (sp != NULL, "partition %u grew but the shadow does not "
                    "have it", res->partition);
        sp->size = res->size;
      }
      break;
    case FABRIC_EFFECT_PARTITION_GONE:
      g_hash_table_remove (r->parts, GUINT_TO_POINTER (res->partition));
      shadow_unmap_partition (r, res->partition);
      break;
    case FABRIC_EFFECT_VF_REPLACED:
      {
        ShadowDev *sd = g_hash_table_lookup (r->devs,
                                             GUINT_TO_POINTER (res->device));
        ShadowDev *nd = g_new (ShadowDev, 1);
        note_id (r, res->created);
        PROP_CHECK (sd != NULL, "transferred VF %u was not mapped",
                    res->device);
        *nd = *sd;
        g_hash_table_remove (r->devs, GUINT_TO_POINTER (res->device));
        g_hash_table_insert (r->devs, GUINT_TO_POINTER (res->created), nd);
      }
      break;
    case FABRIC_EFFECT_DEVICE_UNMAPPED:
      PROP_CHECK (g_hash_table_remove (r->devs,
                                       GUINT_TO_POINTER (res->device)),
                  "device %u was unmapped but the shadow had it unmapped",
                  res->device);
      break;
    case FABRIC_EFFECT_DEVICE_GONE:
      PROP_CHECK (!g_hash_table_contains (r->devs,
                                          GUINT_TO_POINTER (res->device)),
                  "device %u was removed while the shadow had it mapped",
                  res->device);
      break;
    case FABRIC_EFFECT_WORKLOAD_GONE:
      {
        GHashTableIter it;
        gpointer key, value;
        g_hash_table_iter_init (&it, r->parts);
        while (g_hash_table_iter_next (&it, &key, &value))
          if (((ShadowPart *) value)->workload == res->workload)
            {
              shadow_unmap_partition (r, GPOINTER_TO_UINT (key));
              g_hash_table_iter_remove (&it);
            }
      }
      break;
    case FABRIC_EFFECT_SIZES:
      {
        /* partitions may have grown or shrunk: the shadow follows (the
         * checker sees that every mapped device still fits) */
        GHashTableIter it;
        gpointer key, value;
        g_hash_table_iter_init (&it, r->parts);
        while (g_hash_table_iter_next (&it, &key, &value))
          {
            AsmPartitionInfo pi;
            ShadowPart *sp = value;
            PROP_CHECK (asm_fabric_get_partition_info (
                            r->f, GPOINTER_TO_UINT (key), &pi),
                        "partition %u is gone", GPOINTER_TO_UINT (key));
            sp->size = pi.size;
          }
      }
      break;
    }
}

static void
run_seed (guint64 seed, guint n_ops, Run *totals)
{
  static const guint64 granules[] = { 1 * MIB, 2 * MIB, 4 * MIB };
  FabricOpsConfig cfg = {
    .global_first = BASE,
    .global_last = BASE + GLOBAL_SIZE - 1,
    .max_objects = {
      [ASM_FABRIC_SWITCHES] = MAX_SWITCHES,
      [ASM_FABRIC_DEVICES] = MAX_DEVICES,
      [ASM_FABRIC_WORKLOADS] = MAX_WORKLOADS,
      [ASM_FABRIC_PARTITIONS] = MAX_PARTITIONS,
    },
    .faults = TRUE,
    .crashes = FALSE, /* a failed operation must leave the fabric as it was */
  };
  Run r = { 0 };
  ChoiceSource src;
  FabricOpResult res;
  AsmFabric *f;
  char *before;

  g_assert_cmpuint (fabric_ops_n_ops (), <=, MAX_KINDS);
  choice_source_init_seed (&src, seed);
  r.granule = granules[seed % G_N_ELEMENTS (granules)];
  r.sim = asm_sim_backend_new ();
  f = asm_fabric_new ("prop", BASE, BASE + GLOBAL_SIZE - 1, r.granule, r.sim,
                      NULL);
  g_assert_nonnull (f);
  g_assert_true (asm_fabric_set_window_granule (
      f, r.granule << choice_below (&src, 4), NULL));
  r.ops = fabric_ops_new (f, &cfg);
  asm_fabric_unref (f);
  r.parts = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  r.devs = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  fabric_op_result_init (&res);
  ctx.seed = seed;
  ctx.n_history = 0;

  /* the state before each step is the state after the one before */
  r.f = fabric_ops_get_fabric (r.ops);
  before = asm_fabric_save (r.f, NULL);
  for (ctx.step = 0; ctx.step < n_ops; ctx.step++)
    {
      g_autofree char *after = NULL;
      GError *error = NULL;
      FabricOpOutcome outcome;

      outcome = fabric_ops_step (r.ops, &src, &res, &error);
      r.f = fabric_ops_get_fabric (r.ops);
      g_string_assign (ctx.op, res.call->str);
      if (res.fault_pending)
        {
          g_string_prepend (ctx.op, "[a fault is armed] ");
          r.n_armed++;
        }
      r.n_ops[res.op]++;
      after = asm_fabric_save (r.f, NULL);
      switch (outcome)
        {
        case FABRIC_OP_WRONG:
          PROP_FAIL ("%s", res.wrong->str);
          break;
        case FABRIC_OP_OK:
          r.n_ok[res.op]++;
          ctx_note ("ok");
          shadow_apply (&r, &res);
          if (res.effect == FABRIC_EFFECT_NOTHING)
            PROP_CHECK (strcmp (before, after) == 0, "an operation that "
                        "changes nothing changed the fabric:\nbefore:\n%s\n"
                        "after:\n%s", before, after);
          break;
        case FABRIC_OP_REFUSED:
          ctx_note (error->message);
          if (error->code == ASM_ERROR_BACKEND)
            {
              PROP_CHECK (res.fault_pending, "a backend failure with no "
                          "fault armed: %s", error->message);
              PROP_CHECK (strstr (error->message, "step ") != NULL &&
                          strstr (error->message, " of ") != NULL &&
                          strstr (error->message, "the fabric is as it was")
                              != NULL,
                          "backend failure without the step: %s",
                          error->message);
              r.n_faulted[res.op]++;
            }
          else
            r.n_refused[res.op]++;
          PROP_CHECK (strcmp (before, after) == 0, "a failed operation (%s) "
                      "changed the fabric:\nbefore:\n%s\nafter:\n%s",
                      error->message, before, after);
          g_clear_error (&error);
          break;
        }
      check_all (&r);
      /* now and then: restore (save (x)) is x */
      if (ctx.step % 250 == 249)
        {
          g_autoptr (GError) rerr = NULL;
          g_autoptr (AsmFabric) f2 = asm_fabric_restore (after, -1, NULL,
                                                          &rerr);
          g_autofree char *again = NULL;
          PROP_CHECK (f2 != NULL, "restore: %s", rerr->message);
          again = asm_fabric_save (f2, NULL);
          PROP_CHECK (strcmp (after, again) == 0, "restore (save (x)) != x");
        }
      g_free (before);
      before = g_steal_pointer (&after);
    }
  g_free (before);

  for (guint i = 0; i < fabric_ops_n_ops (); i++)
    {
      totals->n_ops[i] += r.n_ops[i];
      totals->n_ok[i] += r.n_ok[i];
      totals->n_refused[i] += r.n_refused[i];
      totals->n_faulted[i] += r.n_faulted[i];
    }
  totals->n_armed += r.n_armed;
  fabric_op_result_clear (&res);
  g_hash_table_unref (r.parts);
  g_hash_table_unref (r.devs);
  fabric_ops_free (r.ops);
  asm_backend_unref (r.sim);
}

static void
test_random_sequences (void **state)
{
  guint64 only = test_env_u64 ("ASM_PROP_SEED", G_MAXUINT64);
  guint n_ops = (guint) test_env_u64 ("ASM_PROP_OPS", 3000);
  guint n_seeds = (guint) test_env_u64 ("ASM_PROP_SEEDS", 8);
  Run totals = { 0 };
  guint total = 0;
  gint64 t0 = g_get_monotonic_time ();

  ctx.op = g_string_new (NULL);
  ctx.trace = test_env_u64 ("ASM_PROP_TRACE", 0) != 0;
  for (guint64 seed = 1; seed <= n_seeds; seed++)
    if (only == G_MAXUINT64 || only == seed)
      {
        run_seed (only == G_MAXUINT64 ? seed : only, n_ops, &totals);
        total += n_ops;
      }
  if (only != G_MAXUINT64 && only > n_seeds)
    {
      run_seed (only, n_ops, &totals);
      total += n_ops;
    }
  print_message ("# %u operations, %u with a fault armed, in %.1f s\n",
                 total, totals.n_armed, (g_get_monotonic_time () - t0) / 1e6);
  for (guint i = 0; i < fabric_ops_n_ops (); i++)
    print_message ("#   %-18s %6u: %6u ok, %6u refused, %5u rolled back\n",
                   fabric_ops_name (i), totals.n_ops[i], totals.n_ok[i],
                   totals.n_refused[i], totals.n_faulted[i]);
  for (guint i = 0; i < HISTORY; i++)
    g_clear_pointer (&ctx.history[i], g_free);
  g_string_free (ctx.op, TRUE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_random_sequences),
  };

  return cmocka_run_group_tests_name ("fabric-prop", tests, NULL, NULL);
}
