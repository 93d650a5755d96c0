/* test-fabric-prop.c: property test of AsmFabric over the sim backend
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * Random sequences of every fabric operation -- add switch (some pinned,
 * with a window), add device (endpoints and SR-IOV PFs), add workload,
 * create VF, request partition, map device, grow, migrate (to a random
 * switch or wherever the policy says), release, transfer VF, record usage,
 * rebalance -- with random, sometimes invalid, arguments, and now and then
 * a fault injected into the simulated hardware (asm_sim_fail_call() of a
 * random call, or asm_sim_fail_kind() of a random kind).  After every
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
 *     was; it failed with ASM_ERROR_BACKEND only when a fault was
 *     injected, and then named the step ("step i of n").
 *
 * The default run is 8 seeds of 2,500 operations (20,000 in all).  On a
 * failure the seed, the step and the last operations are printed.
 *
 * Environment:
 *   ASM_PROP_SEED=N   run only seed N
 *   ASM_PROP_OPS=N    operations per seed (default 2500)
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

#define X "0x%" G_GINT64_MODIFIER "x"
#define KIB (G_GUINT64_CONSTANT (1) << 10)
#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define BASE (G_GUINT64_CONSTANT (1) << 36)
#define GLOBAL_SIZE (512 * MIB)
#define HISTORY 24

#define MAX_SWITCHES 8
#define MAX_DEVICES 40
#define MAX_WORKLOADS 8
#define MAX_PARTITIONS 20

typedef enum {
  OP_ADD_SWITCH,
  OP_ADD_DEVICE,
  OP_ADD_WORKLOAD,
  OP_CREATE_VF,
  OP_REQUEST,
  OP_MAP,
  OP_GROW,
  OP_MIGRATE,
  OP_RELEASE,
  OP_TRANSFER,
  OP_RECORD,
  OP_REBALANCE,
  N_OPS
} OpKind;

static const char *const op_names[N_OPS] = {
  "add_switch", "add_device", "add_workload", "create_vf", "request", "map",
  "grow", "migrate", "release", "transfer_vf", "record_usage", "rebalance",
};

/* relative frequencies */
static const guint op_weights[N_OPS] = {
  2, 5, 2, 4, 14, 12, 8, 12, 8, 8, 4, 1,
};

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

static guint64
env_u64 (const char *name, guint64 def)
{
  const char *v = g_getenv (name);
  return v != NULL && *v != '\0' ? g_ascii_strtoull (v, NULL, 10) : def;
}

/* ---------------------------------------------------------------------- */
/* A run                                                                  */
/* ---------------------------------------------------------------------- */

typedef struct {
  GRand *rng;
  AsmBackend *sim;
  AsmFabric *f;
  guint64 granule;
  GHashTable *parts;    /* AsmId -> ShadowPart * */
  GHashTable *devs;     /* AsmId -> ShadowDev * (mapped devices only) */
  GHashTable *last_time; /* workload -> gdouble * */
  AsmId max_id;         /* the largest id seen */
  guint n_ops[N_OPS], n_ok[N_OPS], n_refused[N_OPS], n_faulted[N_OPS];
  guint n_injected;
} Run;

static guint
rnd (Run *r, guint n)
{
  return n == 0 ? 0 : (guint) g_rand_int_range (r->rng, 0, (gint32) n);
}

static GArray *
list (Run *r, AsmFabricObjects what)
{
  GArray *a = asm_fabric_list (r->f, what);
  g_assert_nonnull (a);
  return a;
}

/* a random id of the kind, or sometimes one that does not exist */
static AsmId
pick (Run *r, AsmFabricObjects what)
{
  g_autoptr (GArray) a = list (r, what);

  if (a->len == 0 || rnd (r, 40) == 0)
    return rnd (r, 2) ? r->max_id + 1 + rnd (r, 3) : (AsmId) rnd (r, 3);
  return g_array_index (a, AsmId, rnd (r, a->len));
}

static AsmId
pick_device (Run *r, AsmDeviceKind kind, gboolean mapped)
{
  g_autoptr (GArray) a = list (r, ASM_FABRIC_DEVICES);
  guint start = rnd (r, a->len + 1);

  for (guint i = 0; i < a->len; i++)
    {
      AsmDeviceInfo di;
      AsmId id = g_array_index (a, AsmId, (start + i) % a->len);
      g_assert_true (asm_fabric_get_device_info (r->f, id, &di));
      if (di.kind == kind && (di.partition != ASM_ID_NONE) == mapped)
        return id;
    }
  return pick (r, ASM_FABRIC_DEVICES);
}

/* a partition on the switch of device d, or `otherwise` */
static AsmId
pick_partition_on_switch_of (Run *r, AsmId d, AsmId otherwise)
{
  g_autoptr (GArray) a = list (r, ASM_FABRIC_PARTITIONS);
  AsmDeviceInfo di;
  guint start = rnd (r, a->len + 1);

  if (!asm_fabric_get_device_info (r->f, d, &di))
    return otherwise;
  for (guint i = 0; i < a->len; i++)
    {
      AsmPartitionInfo pi;
      AsmId id = g_array_index (a, AsmId, (start + i) % a->len);
      g_assert_true (asm_fabric_get_partition_info (r->f, id, &pi));
      if (pi.switch_id == di.switch_id)
        return id;
    }
  return otherwise;
}

/* mostly another PF whose VFs have the VF's BAR size */
static AsmId
pick_pf_for (Run *r, AsmId vf)
{
  g_autoptr (GArray) a = list (r, ASM_FABRIC_DEVICES);
  AsmDeviceInfo v;
  guint start = rnd (r, a->len + 1);

  if (rnd (r, 5) == 0 || !asm_fabric_get_device_info (r->f, vf, &v))
    return pick_device (r, ASM_DEVICE_PF, rnd (r, 2));
  for (guint i = 0; i < a->len; i++)
    {
      AsmDeviceInfo di;
      AsmId id = g_array_index (a, AsmId, (start + i) % a->len);
      g_assert_true (asm_fabric_get_device_info (r->f, id, &di));
      if (di.kind == ASM_DEVICE_PF && di.id != v.pf &&
          di.vf_bar_size == v.bar_size)
        return id;
    }
  return pick_device (r, ASM_DEVICE_PF, FALSE);
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

static guint64
rnd_size (Run *r)
{
  switch (rnd (r, 12))
    {
    case 0:
      return r->granule / 2; /* not a multiple */
    case 1:
      return 0;
    default:
      return r->granule * (1 + rnd (r, 6));
    }
}

/* Runs one operation; returns whether it succeeded, with *error set if
 * not. */
static gboolean
run_op (Run *r, OpKind kind, GError **error)
{
  AsmId id = ASM_ID_NONE;
  gboolean ok = FALSE;

  switch (kind)
    {
    case OP_ADD_SWITCH:
      {
        g_autofree char *name = g_strdup_printf ("s%u", r->max_id + 1);
        gboolean pinned = rnd (r, 4) == 0;
        AsmSwitchSpec spec = { rnd (r, 30) ? name : "s1",
                               rnd (r, 30) ? 1000 + rnd (r, 9000) : 0,
                               rnd (r, 2000), 2 + rnd (r, 10), 2 + rnd (r, 8),
                               pinned };
        g_string_append_printf (ctx.op, "add_switch '%s' bw %" G_GUINT64_FORMAT
                                " lat %u cap %u ports %u%s", spec.name,
                                spec.bandwidth, spec.latency_ns,
                                spec.table_capacity, spec.n_ports,
                                pinned ? " pinned" : "");
        ok = asm_fabric_add_switch (r->f, &spec, &id, error);
        if (ok)
          {
            note_id (r, id);
            if (pinned)
              {
                /* firmware gives it a window, wherever one is free */
                guint64 size = r->granule * (4 + rnd (r, 12));
                guint64 first = BASE + r->granule
                                * rnd (r, (guint) (GLOBAL_SIZE / r->granule));
                g_autoptr (GError) werr = NULL;
                g_string_append_printf (ctx.op, "; add_window " X " + " X,
                                        first, size);
                if (!asm_fabric_add_window (r->f, id, first, first + size - 1,
                                            &werr))
                  PROP_CHECK (werr->code == ASM_ERROR_IN_USE ||
                              werr->code == ASM_ERROR_BACKEND,
                              "add_window: %s", werr->message);
              }
          }
        break;
      }
    case OP_ADD_DEVICE:
      {
        g_autofree char *name = g_strdup_printf ("d%u", r->max_id + 1);
        AsmId sw = pick (r, ASM_FABRIC_SWITCHES);
        AsmDeviceKind k = rnd (r, 3) == 0 ? ASM_DEVICE_PF
                                          : ASM_DEVICE_ENDPOINT;
        guint64 bar = rnd (r, 25) ? KIB << (4 + rnd (r, 9)) : 3 * KIB;
        guint32 port = rnd (r, 10);
        g_string_append_printf (ctx.op, "add_device '%s' %s BAR " X " at "
                                "%u:%u", name, k ? "PF" : "endpoint", bar, sw,
                                port);
        ok = asm_fabric_add_device (r->f, name, k, bar, sw, port, &id, error);
        if (ok)
          {
            note_id (r, id);
            if (k == ASM_DEVICE_PF)
              {
                g_autoptr (GError) serr = NULL;
                guint64 vbar = rnd (r, 2) ? 64 * KIB : 256 * KIB;
                g_string_append_printf (ctx.op, "; set_sriov 4 x " X, vbar);
                PROP_CHECK (asm_fabric_set_sriov (r->f, id, 4, vbar, &serr),
                            "set_sriov: %s", serr->message);
              }
          }
        break;
      }
    case OP_ADD_WORKLOAD:
      {
        g_autofree char *name = g_strdup_printf ("w%u", r->max_id + 1);
        g_string_append_printf (ctx.op, "add_workload '%s'", name);
        ok = asm_fabric_add_workload (r->f, name, &id, error);
        if (ok)
          note_id (r, id);
        break;
      }
    case OP_CREATE_VF:
      {
        AsmId pf = pick_device (r, ASM_DEVICE_PF, rnd (r, 2));
        g_string_append_printf (ctx.op, "create_vf of %u", pf);
        ok = asm_fabric_create_vf (r->f, pf, &id, error);
        if (ok)
          note_id (r, id);
        break;
      }
    case OP_REQUEST:
      {
        AsmPartitionRequest req = { 0 };
        AsmId w = pick (r, ASM_FABRIC_WORKLOADS);
        guint64 virt = 0;
        req.size = rnd_size (r);
        req.align = rnd (r, 8) == 0 ? r->granule << rnd (r, 4) : 0;
        req.preferred_switch = rnd (r, 3) == 0 ? pick (r, ASM_FABRIC_SWITCHES) : 0;
        req.bandwidth_demand = rnd (r, 3) ? rnd (r, 1500) : 0;
        req.min_bandwidth = rnd (r, 6) == 0 ? rnd (r, 8000) : 0;
        req.max_latency_ns = rnd (r, 6) == 0 ? rnd (r, 2000) : 0;
        g_string_append_printf (ctx.op, "request for %u: " X " align " X
                                " pref %u demand %" G_GUINT64_FORMAT " min %"
                                G_GUINT64_FORMAT " lat %u", w, req.size,
                                req.align, req.preferred_switch,
                                req.bandwidth_demand, req.min_bandwidth,
                                req.max_latency_ns);
        ok = asm_fabric_request_partition (r->f, w, &req, &id, &virt, error);
        if (ok)
          {
            ShadowPart *sp = g_new (ShadowPart, 1);
            AsmPartitionInfo pi;
            note_id (r, id);
            *sp = (ShadowPart) { w, virt, req.size };
            g_hash_table_insert (r->parts, GUINT_TO_POINTER (id), sp);
            g_assert_true (asm_fabric_get_partition_info (r->f, id, &pi));
            PROP_CHECK (req.align == 0 || pi.phys_first % req.align == 0,
                        "partition %u at " X " is not aligned to " X, id,
                        pi.phys_first, req.align);
          }
        break;
      }
    case OP_MAP:
      {
        AsmId p = pick (r, ASM_FABRIC_PARTITIONS);
        AsmId d;
        guint64 off = 0;
        switch (rnd (r, 4))
          {
          case 0:
            d = pick_device (r, ASM_DEVICE_VF, FALSE);
            if (rnd (r, 5) != 0)
              p = pick_partition_on_switch_of (r, d, p);
            break;
          case 1:
            d = pick_device (r, ASM_DEVICE_PF, FALSE);
            break;
          default:
            d = pick_device (r, ASM_DEVICE_ENDPOINT, rnd (r, 8) == 0);
            break;
          }
        g_string_append_printf (ctx.op, "map %u into %u", d, p);
        ok = asm_fabric_map_device (r->f, p, d, &off, error);
        if (ok)
          {
            ShadowDev *sd = g_new (ShadowDev, 1);
            *sd = (ShadowDev) { p, off };
            g_hash_table_insert (r->devs, GUINT_TO_POINTER (d), sd);
          }
        break;
      }
    case OP_GROW:
      {
        AsmId p = pick (r, ASM_FABRIC_PARTITIONS);
        AsmPartitionInfo pi = { 0 };
        guint64 size;
        /* pick() may name no partition: pi stays zero, the grow fails */
        if (!asm_fabric_get_partition_info (r->f, p, &pi))
          pi.size = 0;
        size = rnd (r, 10) ? pi.size + r->granule * (1 + rnd (r, 4))
                           : pi.size;
        g_string_append_printf (ctx.op, "grow %u from " X " to " X, p,
                                pi.size, size);
        ok = asm_fabric_grow_partition (r->f, p, size, error);
        if (ok)
          ((ShadowPart *) g_hash_table_lookup (r->parts,
                                               GUINT_TO_POINTER (p)))->size
              = size;
        break;
      }
    case OP_MIGRATE:
      {
        AsmId p = pick (r, ASM_FABRIC_PARTITIONS);
        AsmId to = rnd (r, 2) ? pick (r, ASM_FABRIC_SWITCHES) : ASM_ID_NONE;
        g_string_append_printf (ctx.op, "migrate %u to %u", p, to);
        ok = asm_fabric_migrate_partition (r->f, p, to, error);
        break;
      }
    case OP_RELEASE:
      {
        AsmId p = pick (r, ASM_FABRIC_PARTITIONS);
        g_string_append_printf (ctx.op, "release %u", p);
        ok = asm_fabric_release_partition (r->f, p, error);
        if (ok)
          {
            GHashTableIter it;
            gpointer key, value;
            g_hash_table_remove (r->parts, GUINT_TO_POINTER (p));
            g_hash_table_iter_init (&it, r->devs);
            while (g_hash_table_iter_next (&it, &key, &value))
              if (((ShadowDev *) value)->partition == p)
                g_hash_table_iter_remove (&it);
          }
        break;
      }
    case OP_TRANSFER:
      {
        AsmId vf = pick_device (r, ASM_DEVICE_VF, TRUE);
        AsmId pf = pick_pf_for (r, vf);
        g_string_append_printf (ctx.op, "transfer VF %u to PF %u", vf, pf);
        ok = asm_fabric_transfer_vf (r->f, vf, pf, &id, error);
        if (ok)
          {
            ShadowDev *sd = g_hash_table_lookup (r->devs,
                                                 GUINT_TO_POINTER (vf));
            ShadowDev *nd = g_new (ShadowDev, 1);
            AsmDeviceInfo di;
            note_id (r, id);
            PROP_CHECK (sd != NULL, "transferred VF %u was not mapped", vf);
            *nd = *sd;
            g_hash_table_remove (r->devs, GUINT_TO_POINTER (vf));
            g_hash_table_insert (r->devs, GUINT_TO_POINTER (id), nd);
            PROP_CHECK (!asm_fabric_get_device_info (r->f, vf, &di),
                        "VF %u still exists after its transfer", vf);
            g_assert_true (asm_fabric_get_device_info (r->f, id, &di));
            PROP_CHECK (di.pf == pf && di.kind == ASM_DEVICE_VF,
                        "new VF %u is not a VF of %u", id, pf);
          }
        break;
      }
    case OP_RECORD:
      {
        AsmId w = pick (r, ASM_FABRIC_WORKLOADS);
        gdouble *last = g_hash_table_lookup (r->last_time,
                                             GUINT_TO_POINTER (w));
        gdouble t = (last ? *last : 0) + (rnd (r, 15) ? 0.5 + rnd (r, 4)
                                                      : -1.0);
        guint64 bytes = r->granule * rnd (r, 24);
        g_string_append_printf (ctx.op, "record_usage of %u at %g: " X, w, t,
                                bytes);
        ok = asm_fabric_record_usage (r->f, w, t, bytes, error);
        if (ok)
          {
            gdouble *v = g_new (gdouble, 1);
            *v = t;
            g_hash_table_insert (r->last_time, GUINT_TO_POINTER (w), v);
          }
        break;
      }
    case OP_REBALANCE:
      {
        AsmRebalanceReport rep;
        g_autoptr (GArray) before = list (r, ASM_FABRIC_PARTITIONS);
        g_string_append (ctx.op, "rebalance, horizon 4");
        ok = asm_fabric_rebalance (r->f, 4, &rep, error);
        PROP_CHECK (ok, "rebalance failed");
        /* sizes may have grown: the shadow follows */
        for (guint i = 0; i < before->len; i++)
          {
            AsmId p = g_array_index (before, AsmId, i);
            AsmPartitionInfo pi;
            ShadowPart *sp = g_hash_table_lookup (r->parts,
                                                  GUINT_TO_POINTER (p));
            /* pick() may name no partition: pi stays zero, the grow fails */
        if (!asm_fabric_get_partition_info (r->f, p, &pi))
          pi.size = 0;
            PROP_CHECK (pi.size >= sp->size, "rebalance shrank %u", p);
            sp->size = pi.size;
          }
        break;
      }
    case N_OPS:
      g_assert_not_reached ();
    }
  return ok;
}

static OpKind
choose_op (Run *r)
{
  guint total = 0, x;
  g_autoptr (GArray) sws = list (r, ASM_FABRIC_SWITCHES);
  g_autoptr (GArray) devs = list (r, ASM_FABRIC_DEVICES);
  g_autoptr (GArray) wls = list (r, ASM_FABRIC_WORKLOADS);
  g_autoptr (GArray) parts = list (r, ASM_FABRIC_PARTITIONS);

  for (;;)
    {
      OpKind k = N_OPS;
      total = 0;
      for (guint i = 0; i < N_OPS; i++)
        total += op_weights[i];
      x = rnd (r, total);
      for (guint i = 0; i < N_OPS; i++)
        {
          if (x < op_weights[i])
            {
              k = i;
              break;
            }
          x -= op_weights[i];
        }
      /* keep the fabric a size where every op has something to do */
      if ((k == OP_ADD_SWITCH && sws->len >= MAX_SWITCHES) ||
          (k == OP_ADD_DEVICE && devs->len >= MAX_DEVICES) ||
          (k == OP_CREATE_VF && devs->len >= MAX_DEVICES) ||
          (k == OP_ADD_WORKLOAD && wls->len >= MAX_WORKLOADS) ||
          (k == OP_REQUEST && parts->len >= MAX_PARTITIONS))
        continue;
      return k;
    }
}

static void
run_seed (guint64 seed, guint n_ops, Run *totals)
{
  Run r = { 0 };
  static const guint64 granules[] = { 1 * MIB, 2 * MIB, 4 * MIB };
  char *before;

  r.rng = g_rand_new_with_seed ((guint32) seed ^ (guint32) (seed >> 32));
  r.granule = granules[seed % G_N_ELEMENTS (granules)];
  r.sim = asm_sim_backend_new ();
  r.f = asm_fabric_new ("prop", BASE, BASE + GLOBAL_SIZE - 1, r.granule,
                        r.sim, NULL);
  g_assert_nonnull (r.f);
  g_assert_true (asm_fabric_set_window_granule (r.f, r.granule << rnd (&r, 4),
                                                NULL));
  r.parts = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  r.devs = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  r.last_time = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  ctx.seed = seed;
  ctx.n_history = 0;

  /* the state before each step is the state after the one before */
  before = asm_fabric_save (r.f, NULL);
  for (ctx.step = 0; ctx.step < n_ops; ctx.step++)
    {
      OpKind kind = choose_op (&r);
      g_autofree char *after = NULL;
      GError *error = NULL;
      gboolean injected = FALSE, ok;
      AsmSimOp fail_kind = ASM_SIM_OP_ANY;
      gboolean by_kind = FALSE;

      g_string_truncate (ctx.op, 0);
      if (rnd (&r, 7) == 0)
        {
          injected = TRUE;
          r.n_injected++;
          if (rnd (&r, 4) == 0)
            {
              by_kind = TRUE;
              fail_kind = (AsmSimOp) (1 + rnd (&r, ASM_SIM_OP_FLUSH));
              asm_sim_fail_kind (r.sim, fail_kind, TRUE);
              g_string_append_printf (ctx.op, "[kind %d fails] ", fail_kind);
            }
          else
            {
              guint k = 1 + rnd (&r, 10);
              asm_sim_fail_call (r.sim, k);
              g_string_append_printf (ctx.op, "[call %u fails] ", k);
            }
        }
      ok = run_op (&r, kind, &error);
      if (injected)
        {
          if (by_kind)
            asm_sim_fail_kind (r.sim, fail_kind, FALSE);
          else
            asm_sim_fail_call (r.sim, 0);
        }
      r.n_ops[kind]++;
      after = asm_fabric_save (r.f, NULL);
      if (ok)
        {
          r.n_ok[kind]++;
          ctx_note ("ok");
        }
      else
        {
          PROP_CHECK (error != NULL && error->domain == ASM_ERROR,
                      "failed without an ASM_ERROR");
          ctx_note (error->message);
          if (error->code == ASM_ERROR_BACKEND)
            {
              PROP_CHECK (injected, "a backend failure with no fault "
                          "injected: %s", error->message);
              PROP_CHECK (strstr (error->message, "step ") != NULL &&
                          strstr (error->message, " of ") != NULL &&
                          strstr (error->message, "the fabric is as it was")
                              != NULL,
                          "backend failure without the step: %s",
                          error->message);
              r.n_faulted[kind]++;
            }
          else
            r.n_refused[kind]++;
          PROP_CHECK (strcmp (before, after) == 0, "a failed operation (%s) "
                      "changed the fabric:\nbefore:\n%s\nafter:\n%s",
                      error->message, before, after);
          g_clear_error (&error);
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

  for (guint i = 0; i < N_OPS; i++)
    {
      totals->n_ops[i] += r.n_ops[i];
      totals->n_ok[i] += r.n_ok[i];
      totals->n_refused[i] += r.n_refused[i];
      totals->n_faulted[i] += r.n_faulted[i];
    }
  totals->n_injected += r.n_injected;
  g_hash_table_unref (r.parts);
  g_hash_table_unref (r.devs);
  g_hash_table_unref (r.last_time);
  asm_fabric_unref (r.f);
  asm_backend_unref (r.sim);
  g_rand_free (r.rng);
}

static void
test_random_sequences (void **state)
{
  guint64 only = env_u64 ("ASM_PROP_SEED", G_MAXUINT64);
  guint n_ops = (guint) env_u64 ("ASM_PROP_OPS", 2500);
  guint n_seeds = (guint) env_u64 ("ASM_PROP_SEEDS", 8);
  Run totals = { 0 };
  guint total = 0;
  gint64 t0 = g_get_monotonic_time ();

  ctx.op = g_string_new (NULL);
  ctx.trace = env_u64 ("ASM_PROP_TRACE", 0) != 0;
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
  print_message ("# %u operations, %u with a fault injected, in %.1f s\n",
                 total, totals.n_injected,
                 (g_get_monotonic_time () - t0) / 1e6);
  for (guint i = 0; i < N_OPS; i++)
    print_message ("#   %-13s %6u: %6u ok, %6u refused, %5u rolled back\n",
                   op_names[i], totals.n_ops[i], totals.n_ok[i],
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
