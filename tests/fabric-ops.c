/* fabric-ops.c: fabric operations decoded from a source of choices
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * The property test (tests/test-fabric-prop.c) and the fuzz target
 * (tests/fuzz/fuzz-fabric-ops.c) both turn choices into fabric API calls:
 * the property test from a seeded PRNG, the fuzz target from the bytes of
 * its input (a ChoiceSource, asm-test.h, either way).  This file is that
 * decoder; each harness keeps only its own checks and models.
 *
 * One step:
 *
 *   1. the operation: a choice among the rows of `ops` below that may run
 *      now, by weight (a row whose `grows` kind has reached the
 *      configured maximum, or that injects faults when the configuration
 *      says not to, may not); the weights add up to less than 256, so from
 *      bytes this is one byte;
 *   2. its arguments, chosen by the row's function: object ids mostly
 *      among the fabric's own (asm_fabric_list()), now and then an id that
 *      does not exist or is of another kind; sizes, alignments, names,
 *      ports, times mostly valid, sometimes not (off the granule, zero,
 *      not a power of two, a duplicate name, a time not after the last);
 *      arguments that make success likely where that matters (a VF and a
 *      partition on its switch, a PF whose VFs have the VF's BAR size);
 *   3. the call, through the public API only;
 *   4. the operation's own contract: a failure comes with an ASM_ERROR and
 *      a success sets no error; the values returned are what the call
 *      promised (a requested partition is aligned as asked and of the size
 *      asked, a transferred VF is gone and its successor is a VF of the
 *      target PF, set_window_granule() refuses exactly the documented
 *      values, rebalance() fails only when an undo failed after a crash
 *      and changes at most one partition's size per workload,
 *      save (restore (save (x))) is save (x), ...).  A broken contract is
 *      FABRIC_OP_WRONG with what was wrong;
 *   5. the report: the call as text, the outcome, and its effect in terms
 *      a shadow model can follow (FabricEffect: created an object, a new
 *      partition at a virtual address, a device mapped at an offset, ...).
 *
 * Faults are operations too (with a sim backend): fail the n-th call from
 * now once, fail every call of a kind, crash after n calls (only when the
 * configuration allows: the harness must then restore and recover), or
 * clear them.  They persist across operations until cleared, as a flaky
 * device would.  The decoder follows what is armed, so each result says
 * whether a fault could fire during its call (a one-shot fault is pending
 * until the sim's call count reaches it).
 *
 * Adding an operation is one row in `ops`: its name, its weight, the kind
 * of object it adds (if it adds one; -1 otherwise), flags, its effect, and
 * the function that chooses its arguments, runs it and checks its
 * contract.  A new kind of effect also needs a FabricEffect (and the
 * shadow models that care, a case).
 *
 * Every choice is made in the order written, so the same seed or the same
 * bytes give the same operations on the same fabric.
 */
#define ASM_TEST_NO_CMOCKA
#include "fabric-ops.h"

#define KIB (G_GUINT64_CONSTANT (1) << 10)
#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define X "0x%" G_GINT64_MODIFIER "x"

struct _FabricOps {
  FabricOpsConfig cfg;
  char *journal;         /* cfg.journal's copy */
  AsmFabric *fabric;
  AsmBackend *sim;       /* the backend when it is a sim, else NULL */
  AsmId max_id;          /* the largest id seen */
  guint name_seq;        /* names are prefix + a number */
  GHashTable *last_time; /* workload -> gdouble *: its last usage sample */
  /* what is armed in the sim */
  guint32 fail_kinds;      /* bit k: calls of AsmSimOp k fail */
  guint64 fail_at;         /* the call a one-shot fault hits (0: none) */
  gboolean crash_pending;  /* asm_sim_crash_after() not cleared */
  gboolean crash_injected; /* since the last fabric_ops_clear_faults () */
};

/* ---------------------------------------------------------------------- */
/* choosing arguments                                                     */

#define BELOW(n) choice_below (c, (n))
#define CHANCE(num, den) choice_chance (c, (num), (den))

static guint64
granule (FabricOps *o)
{
  return asm_fabric_get_granule (o->fabric);
}

static GArray *
list (FabricOps *o, AsmFabricObjects what)
{
  GArray *ids = asm_fabric_list (o->fabric, what);

  g_assert (ids != NULL);
  if (ids->len > 0)
    o->max_id = MAX (o->max_id, g_array_index (ids, AsmId, ids->len - 1));
  return ids;
}

static guint
count (FabricOps *o, AsmFabricObjects what)
{
  g_autoptr (GArray) ids = list (o, what);

  return ids->len;
}

/* An id that names nothing of the kind wanted, mostly: ASM_ID_NONE or a
 * small id, one above every id seen, or any id (maybe of another kind). */
static AsmId
other_id (FabricOps *o, ChoiceSource *c)
{
  switch (BELOW (3))
    {
    case 0:
      return (AsmId) BELOW (3);
    case 1:
      return o->max_id + 1 + (AsmId) BELOW (3);
    default:
      return 1 + (AsmId) BELOW ((guint64) o->max_id + 1);
    }
}

/* An object of the kind, or now and then other_id (). */
static AsmId
pick (FabricOps *o, ChoiceSource *c, AsmFabricObjects what)
{
  g_autoptr (GArray) ids = list (o, what);

  if (ids->len == 0 || CHANCE (1, 24))
    return other_id (o, c);
  return g_array_index (ids, AsmId, BELOW (ids->len));
}

typedef enum {
  UNMAPPED,
  MAPPED,
  EITHER,
} Mapped;

/* A device of the kind (mapped or not), starting the search at a chosen
 * place; pick () when there is none. */
static AsmId
pick_device (FabricOps *o, ChoiceSource *c, AsmDeviceKind kind, Mapped mapped)
{
  g_autoptr (GArray) ids = list (o, ASM_FABRIC_DEVICES);
  guint start = (guint) BELOW (ids->len + 1);

  for (guint i = 0; i < ids->len; i++)
    {
      AsmDeviceInfo di;
      AsmId id = g_array_index (ids, AsmId, (start + i) % ids->len);

      g_assert_true (asm_fabric_get_device_info (o->fabric, id, &di));
      if (di.kind == kind &&
          (mapped == EITHER ||
           (di.partition != ASM_ID_NONE) == (mapped == MAPPED)))
        return id;
    }
  return pick (o, c, ASM_FABRIC_DEVICES);
}

/* A partition placed on the switch of device @d, or @otherwise. */
static AsmId
pick_partition_on_switch_of (FabricOps *o, ChoiceSource *c, AsmId d,
                             AsmId otherwise)
{
  g_autoptr (GArray) ids = list (o, ASM_FABRIC_PARTITIONS);
  guint start = (guint) BELOW (ids->len + 1);
  AsmDeviceInfo di;

  if (!asm_fabric_get_device_info (o->fabric, d, &di))
    return otherwise;
  for (guint i = 0; i < ids->len; i++)
    {
      AsmPartitionInfo pi;
      AsmId id = g_array_index (ids, AsmId, (start + i) % ids->len);

      g_assert_true (asm_fabric_get_partition_info (o->fabric, id, &pi));
      if (pi.switch_id == di.switch_id)
        return id;
    }
  return otherwise;
}

/* How many VFs PF @pf has now. */
static guint
n_vfs_of (FabricOps *o, GArray *devices, AsmId pf)
{
  guint n = 0;

  for (guint i = 0; i < devices->len; i++)
    {
      AsmDeviceInfo di;

      g_assert_true (asm_fabric_get_device_info (
          o->fabric, g_array_index (devices, AsmId, i), &di));
      n += di.kind == ASM_DEVICE_VF && di.pf == pf;
    }
  return n;
}

/* Mostly a PF with room for one more VF; for @vf (unless ASM_ID_NONE),
 * another PF whose VFs have the BAR size of @vf. */
static AsmId
pick_pf_with_room (FabricOps *o, ChoiceSource *c, AsmId vf)
{
  g_autoptr (GArray) ids = list (o, ASM_FABRIC_DEVICES);
  guint start = (guint) BELOW (ids->len + 1);
  AsmDeviceInfo v = { 0 };

  if (CHANCE (1, 5) ||
      (vf != ASM_ID_NONE && !asm_fabric_get_device_info (o->fabric, vf, &v)))
    return pick_device (o, c, ASM_DEVICE_PF, EITHER);
  for (guint i = 0; i < ids->len; i++)
    {
      AsmDeviceInfo di;
      AsmId id = g_array_index (ids, AsmId, (start + i) % ids->len);

      g_assert_true (asm_fabric_get_device_info (o->fabric, id, &di));
      if (di.kind == ASM_DEVICE_PF && di.max_vfs > n_vfs_of (o, ids, id) &&
          (vf == ASM_ID_NONE ||
           (di.id != v.pf && di.vf_bar_size == v.bar_size)))
        return id;
    }
  return pick_device (o, c, ASM_DEVICE_PF, UNMAPPED);
}

/* Mostly a pinned switch (they get their windows from firmware). */
static AsmId
pick_pinned_switch (FabricOps *o, ChoiceSource *c)
{
  g_autoptr (GArray) ids = list (o, ASM_FABRIC_SWITCHES);
  guint start = (guint) BELOW (ids->len + 1);

  if (CHANCE (1, 4))
    return pick (o, c, ASM_FABRIC_SWITCHES);
  for (guint i = 0; i < ids->len; i++)
    {
      AsmSwitchInfo si;
      AsmId id = g_array_index (ids, AsmId, (start + i) % ids->len);

      g_assert_true (asm_fabric_get_switch_info (o->fabric, id, &si));
      if (si.pinned)
        return id;
    }
  return pick (o, c, ASM_FABRIC_SWITCHES);
}

/* A new name, mostly; sometimes "" or the name of an object of the kind
 * (switch and device names must be unique). */
static char *
gen_name (FabricOps *o, ChoiceSource *c, const char *prefix,
          AsmFabricObjects kind)
{
  switch (BELOW (24))
    {
    case 0:
      return g_strdup ("");
    case 1:
      {
        AsmId id = pick (o, c, kind);
        AsmSwitchInfo si;
        AsmDeviceInfo di;

        if (kind == ASM_FABRIC_SWITCHES &&
            asm_fabric_get_switch_info (o->fabric, id, &si))
          return g_strdup (si.name);
        if (kind == ASM_FABRIC_DEVICES &&
            asm_fabric_get_device_info (o->fabric, id, &di))
          return g_strdup (di.name);
        return g_strdup_printf ("%s%u", prefix,
                                (guint) BELOW (MAX (o->name_seq, 1)));
      }
    default:
      return g_strdup_printf ("%s%u", prefix, o->name_seq++);
    }
}

/* Bytes: mostly 1 to 6 granules; sometimes 0, half a granule or a granule
 * multiple plus 4 KiB. */
static guint64
gen_size (FabricOps *o, ChoiceSource *c)
{
  guint64 g = granule (o);

  switch (BELOW (16))
    {
    case 0:
      return 0;
    case 1:
      return g / 2;
    case 2:
      return g * (1 + BELOW (6)) + 4 * KIB;
    default:
      return g * (1 + BELOW (6));
    }
}

/* A range of the global space: 1 to 16 granules on a granule boundary,
 * sometimes 4 KiB off it, sometimes reaching past the end. */
static void
gen_global_range (FabricOps *o, ChoiceSource *c, guint64 *first,
                  guint64 *last)
{
  guint64 g = granule (o);
  guint64 n = (o->cfg.global_last - o->cfg.global_first) / g + 1;

  *first = o->cfg.global_first + g * BELOW (n);
  *last = *first + g * (1 + BELOW (16)) - 1;
  if (CHANCE (1, 16))
    *first += 4 * KIB;
}

/* ---------------------------------------------------------------------- */
/* the operations                                                         */

#define CALL(...) g_string_printf (r->call, __VA_ARGS__)
#define WRONG(...) g_string_append_printf (r->wrong, __VA_ARGS__)

static gboolean
op_add_switch (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
               GError **error)
{
  static const guint32 latencies[] = { 0, 100, 1000, 5000 };
  g_autofree char *name = gen_name (o, c, "s", ASM_FABRIC_SWITCHES);
  AsmSwitchSpec spec;

  spec.name = name;
  spec.bandwidth = CHANCE (1, 16) ? 0 : 1000 + BELOW (9000);
  spec.latency_ns = CHANCE (1, 4) ? latencies[BELOW (4)]
                                  : (guint32) BELOW (2000);
  spec.table_capacity = CHANCE (1, 16) ? (guint32) BELOW (2)
                                       : 2 + (guint32) BELOW (10);
  spec.n_ports = CHANCE (1, 16) ? (guint32) BELOW (2)
                                : 2 + (guint32) BELOW (8);
  spec.pinned = CHANCE (1, 4);
  CALL ("add_switch ('%s', bw %" G_GUINT64_FORMAT ", lat %u, cap %u, "
        "ports %u, pinned %d)", spec.name, spec.bandwidth, spec.latency_ns,
        spec.table_capacity, spec.n_ports, spec.pinned);
  return asm_fabric_add_switch (o->fabric, &spec, &r->created, error);
}

static gboolean
op_add_window (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
               GError **error)
{
  AsmId sw = pick_pinned_switch (o, c);
  guint64 first, last;

  gen_global_range (o, c, &first, &last);
  CALL ("add_window (%u, " X "-" X ")", sw, first, last);
  return asm_fabric_add_window (o->fabric, sw, first, last, error);
}

static gboolean
op_reserve_global (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
                   GError **error)
{
  guint64 first, last;

  gen_global_range (o, c, &first, &last);
  CALL ("reserve_global (" X "-" X ")", first, last);
  return asm_fabric_reserve_global (o->fabric, first, last, error);
}

static gboolean
op_add_device (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
               GError **error)
{
  g_autofree char *name = gen_name (o, c, "d", ASM_FABRIC_DEVICES);
  AsmId sw = pick (o, c, ASM_FABRIC_SWITCHES);
  guint k = (guint) BELOW (12);
  AsmDeviceKind kind = k < 4    ? ASM_DEVICE_PF
                       : k == 4 ? ASM_DEVICE_VF /* refused: VFs are created */
                                : ASM_DEVICE_ENDPOINT;
  guint64 bar = CHANCE (1, 16) ? 3 * KIB : KIB << (4 + BELOW (9));
  guint32 port = (guint32) BELOW (10);

  CALL ("add_device ('%s', kind %d, bar " X ", switch %u, port %u)", name,
        kind, bar, sw, port);
  return asm_fabric_add_device (o->fabric, name, kind, bar, sw, port,
                                &r->created, error);
}

/* Mostly a PF that has no SR-IOV capability yet. */
static AsmId
pick_pf_without_vfs (FabricOps *o, ChoiceSource *c)
{
  g_autoptr (GArray) ids = list (o, ASM_FABRIC_DEVICES);
  guint start = (guint) BELOW (ids->len + 1);

  if (CHANCE (1, 4))
    return pick_device (o, c, ASM_DEVICE_PF, EITHER);
  for (guint i = 0; i < ids->len; i++)
    {
      AsmDeviceInfo di;
      AsmId id = g_array_index (ids, AsmId, (start + i) % ids->len);

      g_assert_true (asm_fabric_get_device_info (o->fabric, id, &di));
      if (di.kind == ASM_DEVICE_PF && di.max_vfs == 0)
        return id;
    }
  return pick_device (o, c, ASM_DEVICE_PF, EITHER);
}

static gboolean
op_set_sriov (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
              GError **error)
{
  /* two common VF BAR sizes, so that VFs can move between PFs */
  static const guint32 max_vfs[] = { 4, 8, 8, 4, 2, 1, 0, 65 };
  static const guint64 other_bars[] = { 4 * KIB, MIB, 3 * MIB, 48 * KIB };
  AsmId pf = pick_pf_without_vfs (o, c);
  guint32 n = max_vfs[BELOW (G_N_ELEMENTS (max_vfs))];
  guint64 bar = CHANCE (3, 4) ? (CHANCE (1, 2) ? 64 * KIB : 256 * KIB)
                              : other_bars[BELOW (G_N_ELEMENTS (other_bars))];

  CALL ("set_sriov (%u, %u VFs, bar " X ")", pf, n, bar);
  return asm_fabric_set_sriov (o->fabric, pf, n, bar, error);
}

static gboolean
op_create_vf (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
              GError **error)
{
  AsmId pf = pick_pf_with_room (o, c, ASM_ID_NONE);

  CALL ("create_vf (%u)", pf);
  return asm_fabric_create_vf (o->fabric, pf, &r->created, error);
}

static gboolean
op_add_workload (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
                 GError **error)
{
  g_autofree char *name = gen_name (o, c, "w", ASM_FABRIC_WORKLOADS);

  CALL ("add_workload ('%s')", name);
  return asm_fabric_add_workload (o->fabric, name, &r->created, error);
}

static gboolean
op_request_partition (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
                      GError **error)
{
  AsmPartitionRequest req = { 0 };
  AsmPartitionInfo pi;
  guint64 g = granule (o);
  guint a;

  r->workload = pick (o, c, ASM_FABRIC_WORKLOADS);
  req.size = gen_size (o, c);
  a = (guint) BELOW (16);
  req.align = a < 2 ? g << BELOW (4) : a == 2 ? 3 * MIB : 0;
  req.preferred_switch = CHANCE (1, 3) ? pick (o, c, ASM_FABRIC_SWITCHES)
                                       : ASM_ID_NONE;
  req.bandwidth_demand = CHANCE (2, 3) ? BELOW (1500) : 0;
  req.min_bandwidth = CHANCE (1, 6) ? BELOW (12000) : 0;
  req.max_latency_ns = CHANCE (1, 6) ? (guint32) BELOW (2000) : 0;
  r->size = req.size;
  CALL ("request_partition (workload %u, size " X ", align " X ", min bw %"
        G_GUINT64_FORMAT ", max lat %u, preferred %u, demand %"
        G_GUINT64_FORMAT ")", r->workload, req.size, req.align,
        req.min_bandwidth, req.max_latency_ns, req.preferred_switch,
        req.bandwidth_demand);
  if (!asm_fabric_request_partition (o->fabric, r->workload, &req,
                                     &r->created, &r->virt, error))
    return FALSE;
  if (!asm_fabric_get_partition_info (o->fabric, r->created, &pi))
    WRONG ("the new partition %u has no info", r->created);
  else if (pi.workload != r->workload || pi.virt_first != r->virt ||
           pi.size != req.size ||
           (req.align != 0 && pi.phys_first % req.align != 0))
    WRONG ("the new partition %u is of workload %u at " X " (physical " X
           "), " X " bytes", r->created, pi.workload, pi.virt_first,
           pi.phys_first, pi.size);
  return TRUE;
}

static gboolean
op_map_device (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
               GError **error)
{
  r->partition = pick (o, c, ASM_FABRIC_PARTITIONS);
  switch (BELOW (4))
    {
    case 0:
      r->device = pick_device (o, c, ASM_DEVICE_VF, UNMAPPED);
      if (!CHANCE (1, 5))
        r->partition = pick_partition_on_switch_of (o, c, r->device,
                                                    r->partition);
      break;
    case 1:
      r->device = pick_device (o, c, ASM_DEVICE_PF, UNMAPPED);
      break;
    default:
      r->device = pick_device (o, c, ASM_DEVICE_ENDPOINT,
                               CHANCE (1, 8) ? MAPPED : UNMAPPED);
      break;
    }
  CALL ("map_device (partition %u, device %u)", r->partition, r->device);
  return asm_fabric_map_device (o->fabric, r->partition, r->device,
                                &r->offset, error);
}

static gboolean
op_grow_partition (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
                   GError **error)
{
  AsmPartitionInfo pi = { 0 };

  r->partition = pick (o, c, ASM_FABRIC_PARTITIONS);
  /* an id that names no partition grows from 0, and fails */
  if (!asm_fabric_get_partition_info (o->fabric, r->partition, &pi))
    pi.size = 0;
  switch (BELOW (16))
    {
    case 0:
      r->size = pi.size; /* not bigger */
      break;
    case 1:
      r->size = pi.size + 4 * KIB; /* off the granule */
      break;
    default:
      r->size = pi.size + granule (o) * (1 + BELOW (4));
      break;
    }
  CALL ("grow_partition (%u, " X " to " X ")", r->partition, pi.size,
        r->size);
  return asm_fabric_grow_partition (o->fabric, r->partition, r->size, error);
}

static gboolean
op_migrate_partition (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
                      GError **error)
{
  AsmId to;

  r->partition = pick (o, c, ASM_FABRIC_PARTITIONS);
  to = CHANCE (1, 2) ? pick (o, c, ASM_FABRIC_SWITCHES) : ASM_ID_NONE;
  CALL ("migrate_partition (%u, to %u)", r->partition, to);
  return asm_fabric_migrate_partition (o->fabric, r->partition, to, error);
}

static gboolean
op_release_partition (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
                      GError **error)
{
  r->partition = pick (o, c, ASM_FABRIC_PARTITIONS);
  CALL ("release_partition (%u)", r->partition);
  return asm_fabric_release_partition (o->fabric, r->partition, error);
}

static gboolean
op_transfer_vf (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
                GError **error)
{
  AsmId pf;
  AsmDeviceInfo di;

  r->device = pick_device (o, c, ASM_DEVICE_VF, MAPPED);
  pf = pick_pf_with_room (o, c, r->device);
  CALL ("transfer_vf (%u, to PF %u)", r->device, pf);
  if (!asm_fabric_transfer_vf (o->fabric, r->device, pf, &r->created, error))
    return FALSE;
  if (asm_fabric_get_device_info (o->fabric, r->device, &di))
    WRONG ("VF %u still exists after its transfer", r->device);
  if (!asm_fabric_get_device_info (o->fabric, r->created, &di) ||
      di.kind != ASM_DEVICE_VF || di.pf != pf)
    WRONG ("the new VF %u is not a VF of PF %u", r->created, pf);
  return TRUE;
}

static gboolean
op_record_usage (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
                 GError **error)
{
  gdouble *last, t;
  guint64 bytes;

  r->workload = pick (o, c, ASM_FABRIC_WORKLOADS);
  last = g_hash_table_lookup (o->last_time, GUINT_TO_POINTER (r->workload));
  t = last != NULL ? *last : 0;
  switch (BELOW (16))
    {
    case 0:
      break; /* not after the last sample */
    case 1:
      t -= 1;
      break;
    default:
      t += 0.5 + BELOW (4);
      break;
    }
  bytes = granule (o) * BELOW (24) + (CHANCE (1, 8) ? 4 * KIB : 0);
  CALL ("record_usage (%u, time %g, " X ")", r->workload, t, bytes);
  if (!asm_fabric_record_usage (o->fabric, r->workload, t, bytes, error))
    return FALSE;
  if (last == NULL)
    {
      last = g_new (gdouble, 1);
      g_hash_table_insert (o->last_time, GUINT_TO_POINTER (r->workload), last);
    }
  *last = t;
  return TRUE;
}

static gboolean
op_predict (FabricOps *o, ChoiceSource *c, FabricOpResult *r, GError **error)
{
  gdouble horizon;
  guint64 bytes = 0;

  r->workload = pick (o, c, ASM_FABRIC_WORKLOADS);
  horizon = CHANCE (1, 16) ? -1.0 : (gdouble) BELOW (8);
  CALL ("predict (%u, horizon %g)", r->workload, horizon);
  return asm_fabric_predict (o->fabric, r->workload, horizon, &bytes, error);
}

static gboolean
op_rebalance (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
              GError **error)
{
  AsmRebalanceReport rep = { 0 };
  gdouble horizon = (gdouble) BELOW (8);

  CALL ("rebalance (horizon %g)", horizon);
  if (!asm_fabric_rebalance (o->fabric, horizon, &rep, error))
    {
      /* documented: only when a change could not be undone */
      if (error != NULL && *error != NULL &&
          !(g_error_matches (*error, ASM_ERROR, ASM_ERROR_BACKEND) &&
            o->sim != NULL && asm_sim_is_crashed (o->sim)))
        WRONG ("rebalance failed and the fabric is not crashed: %s",
               (*error)->message);
      return FALSE;
    }
  /* the first pass grows or shrinks one partition per workload at most */
  if (rep.n_grown + rep.n_shrunk > rep.n_examined)
    WRONG ("rebalance report: %u workloads examined, %u partitions grown "
           "and %u shrunk", rep.n_examined, rep.n_grown, rep.n_shrunk);
  return TRUE;
}

static gboolean
op_set_window_granule (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
                       GError **error)
{
  static const guint64 times[] = { 1, 2, 8, 4, 3 };
  guint k = (guint) BELOW (G_N_ELEMENTS (times) + 1);
  guint64 g = granule (o);
  guint64 bytes = k < G_N_ELEMENTS (times) ? g * times[k] : g / 2;
  gboolean good = bytes >= g && (bytes & (bytes - 1)) == 0;
  gboolean ok;

  CALL ("set_window_granule (" X ")", bytes);
  ok = asm_fabric_set_window_granule (o->fabric, bytes, error);
  if (ok != good)
    WRONG ("set_window_granule (" X ") with granule " X " %s", bytes, g,
           ok ? "accepted a bad value" : "refused a good value");
  else if (!ok && error != NULL && *error != NULL &&
           !g_error_matches (*error, ASM_ERROR, ASM_ERROR_INVALID))
    WRONG ("set_window_granule (" X "): not INVALID: %s", bytes,
           (*error)->message);
  return ok;
}

static gboolean
op_round_trip (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
               GError **error)
{
  gboolean replace = CHANCE (1, 2);
  g_autoptr (GError) local = NULL;
  gsize n1 = 0, n2 = 0;
  g_autofree char *s1 = NULL;
  g_autofree char *s2 = NULL;
  AsmFabric *f;

  CALL ("save/restore round trip%s", replace ? ", going on with the copy"
                                             : "");
  s1 = asm_fabric_save (o->fabric, &n1);
  f = asm_fabric_restore (s1, (gssize) n1, asm_fabric_get_backend (o->fabric),
                          &local);
  if (f == NULL)
    {
      WRONG ("restore (save (x)) failed: %s", local->message);
      return TRUE;
    }
  s2 = asm_fabric_save (f, &n2);
  if (n1 != n2 || memcmp (s1, s2, n1) != 0)
    WRONG ("save (restore (save (x))) differs:\n--- save\n%s\n--- again\n%s",
           s1, s2);
  if (replace)
    {
      fabric_ops_set_fabric (o, f);
      if (o->journal != NULL &&
          !asm_fabric_set_journal (o->fabric, o->journal, &local))
        WRONG ("set_journal on the restored fabric: %s", local->message);
    }
  asm_fabric_unref (f);
  return TRUE;
}

static gboolean
op_sim_fault (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
              GError **error)
{
  guint k = (guint) BELOW (16);

  /* one-shot faults often, every call of a kind (until cleared) seldom */
  if (k == 7 && !o->cfg.crashes)
    k = 0;
  switch (k < 6 ? 0 : k)
    {
    case 0:
      {
        guint64 n = 1 + BELOW (16);
        CALL ("sim: fail call %" G_GUINT64_FORMAT " from now", n);
        asm_sim_fail_call (o->sim, n);
        o->fail_at = asm_sim_get_n_calls (o->sim) + n;
      }
      break;
    case 6:
      {
        AsmSimOp kind = (AsmSimOp) BELOW (ASM_SIM_OP_FLUSH + 1);
        CALL ("sim: fail every call of kind %d", kind);
        asm_sim_fail_kind (o->sim, kind, TRUE);
        o->fail_kinds |= 1u << kind;
      }
      break;
    case 7:
      {
        guint64 n = 1 + BELOW (24);
        CALL ("sim: crash after %" G_GUINT64_FORMAT " calls", n);
        asm_sim_crash_after (o->sim, n);
        o->crash_pending = o->crash_injected = TRUE;
      }
      break;
    default:
      /* a crash that already happened is over: the fabric may be broken
       * (crash_injected stays), the next failure shows it */
      CALL ("sim: clear faults");
      asm_sim_clear_faults (o->sim);
      o->fail_kinds = 0;
      o->fail_at = 0;
      o->crash_pending = FALSE;
      break;
    }
  return TRUE;
}

static gboolean
op_unmap_device (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
                 GError **error)
{
  static const AsmDeviceKind kinds[] = { ASM_DEVICE_ENDPOINT, ASM_DEVICE_PF,
                                         ASM_DEVICE_VF };
  AsmDeviceInfo di;

  r->device = pick_device (o, c, kinds[BELOW (G_N_ELEMENTS (kinds))], MAPPED);
  /* mostly the partition that maps it */
  if (!CHANCE (1, 8) &&
      asm_fabric_get_device_info (o->fabric, r->device, &di) &&
      di.partition != ASM_ID_NONE)
    r->partition = di.partition;
  else
    r->partition = pick (o, c, ASM_FABRIC_PARTITIONS);
  CALL ("unmap_device (partition %u, device %u)", r->partition, r->device);
  return asm_fabric_unmap_device (o->fabric, r->partition, r->device, error);
}

static gboolean
op_shrink_partition (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
                     GError **error)
{
  AsmPartitionInfo pi = { 0 };
  guint64 g = granule (o);

  r->partition = pick (o, c, ASM_FABRIC_PARTITIONS);
  if (!asm_fabric_get_partition_info (o->fabric, r->partition, &pi))
    pi.size = 0;
  switch (BELOW (16))
    {
    case 0:
      r->size = 0;
      break;
    case 1:
      r->size = pi.size; /* not smaller */
      break;
    case 2:
      r->size = pi.size > g ? pi.size - g / 2 : g / 2; /* off the granule */
      break;
    default:
      r->size = pi.size > g ? pi.size - g * (1 + BELOW (pi.size / g - 1))
                            : pi.size;
      break;
    }
  CALL ("shrink_partition (%u, " X " to " X ")", r->partition, pi.size,
        r->size);
  return asm_fabric_shrink_partition (o->fabric, r->partition, r->size,
                                      error);
}

static gboolean
op_destroy_vf (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
               GError **error)
{
  r->device = pick_device (o, c, ASM_DEVICE_VF,
                           CHANCE (1, 8) ? MAPPED : UNMAPPED);
  CALL ("destroy_vf (%u)", r->device);
  return asm_fabric_destroy_vf (o->fabric, r->device, error);
}

static gboolean
op_remove_device (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
                  GError **error)
{
  AsmDeviceKind kind = CHANCE (1, 3) ? ASM_DEVICE_PF : ASM_DEVICE_ENDPOINT;

  r->device = pick_device (o, c, kind, CHANCE (1, 8) ? MAPPED : UNMAPPED);
  CALL ("remove_device (%u)", r->device);
  return asm_fabric_remove_device (o->fabric, r->device, error);
}

static gboolean
op_drain_switch (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
                 GError **error)
{
  AsmId sw = pick (o, c, ASM_FABRIC_SWITCHES);

  CALL ("drain_switch (%u)", sw);
  return asm_fabric_drain_switch (o->fabric, sw, error);
}

/* Mostly a switch that was drained. */
static gboolean
op_remove_switch (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
                  GError **error)
{
  g_autoptr (GArray) ids = list (o, ASM_FABRIC_SWITCHES);
  guint start = (guint) BELOW (ids->len + 1);
  AsmId sw = ASM_ID_NONE;

  for (guint i = 0; i < ids->len && !CHANCE (1, 4); i++)
    {
      AsmSwitchInfo si;
      AsmId id = g_array_index (ids, AsmId, (start + i) % ids->len);

      g_assert_true (asm_fabric_get_switch_info (o->fabric, id, &si));
      if (si.draining)
        {
          sw = id;
          break;
        }
    }
  if (sw == ASM_ID_NONE)
    sw = pick (o, c, ASM_FABRIC_SWITCHES);
  CALL ("remove_switch (%u)", sw);
  return asm_fabric_remove_switch (o->fabric, sw, error);
}

static gboolean
op_remove_workload (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
                    GError **error)
{
  r->workload = pick (o, c, ASM_FABRIC_WORKLOADS);
  CALL ("remove_workload (%u)", r->workload);
  if (!asm_fabric_remove_workload (o->fabric, r->workload, error))
    return FALSE;
  g_hash_table_remove (o->last_time, GUINT_TO_POINTER (r->workload));
  return TRUE;
}

static gboolean
op_migrate_workload (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
                     GError **error)
{
  AsmId to;

  r->workload = pick (o, c, ASM_FABRIC_WORKLOADS);
  to = CHANCE (2, 3) ? pick (o, c, ASM_FABRIC_SWITCHES) : ASM_ID_NONE;
  CALL ("migrate_workload (%u, to %u)", r->workload, to);
  return asm_fabric_migrate_workload (o->fabric, r->workload, to, error);
}

/* Flags of a row. */
enum {
  NEEDS_FAULTS = 1 << 0, /* injects faults: only with cfg.faults */
};

typedef gboolean (*FabricOpFunc) (FabricOps *o, ChoiceSource *c,
                                  FabricOpResult *r, GError **error);

typedef struct {
  const char *name;
  guint weight; /* relative frequency; all together < 256 */
  gint grows;   /* the AsmFabricObjects it adds one of, or -1 */
  guint flags;
  FabricEffect effect;
  FabricOpFunc run;
} FabricOpDesc;

/* The operations.  Requests, maps and migrations are the heart of it. */
static const FabricOpDesc ops[] = {
  { "add_switch", 3, ASM_FABRIC_SWITCHES, 0, FABRIC_EFFECT_CREATED,
    op_add_switch },
  { "add_window", 1, -1, 0, FABRIC_EFFECT_NONE, op_add_window },
  { "reserve_global", 1, -1, 0, FABRIC_EFFECT_NONE, op_reserve_global },
  { "add_device", 5, ASM_FABRIC_DEVICES, 0, FABRIC_EFFECT_CREATED,
    op_add_device },
  { "set_sriov", 2, -1, 0, FABRIC_EFFECT_NONE, op_set_sriov },
  { "create_vf", 3, ASM_FABRIC_DEVICES, 0, FABRIC_EFFECT_CREATED,
    op_create_vf },
  { "add_workload", 2, ASM_FABRIC_WORKLOADS, 0, FABRIC_EFFECT_CREATED,
    op_add_workload },
  { "request_partition", 14, ASM_FABRIC_PARTITIONS, 0,
    FABRIC_EFFECT_PARTITION_NEW, op_request_partition },
  { "map_device", 12, -1, 0, FABRIC_EFFECT_DEVICE_MAPPED, op_map_device },
  { "grow_partition", 8, -1, 0, FABRIC_EFFECT_PARTITION_SIZE,
    op_grow_partition },
  { "migrate_partition", 12, -1, 0, FABRIC_EFFECT_NONE,
    op_migrate_partition },
  { "release_partition", 8, -1, 0, FABRIC_EFFECT_PARTITION_GONE,
    op_release_partition },
  { "transfer_vf", 8, -1, 0, FABRIC_EFFECT_VF_REPLACED, op_transfer_vf },
  { "record_usage", 4, -1, 0, FABRIC_EFFECT_NONE, op_record_usage },
  { "predict", 1, -1, 0, FABRIC_EFFECT_NOTHING, op_predict },
  { "rebalance", 1, -1, 0, FABRIC_EFFECT_SIZES, op_rebalance },
  { "set_window_granule", 1, -1, 0, FABRIC_EFFECT_NONE,
    op_set_window_granule },
  { "round_trip", 1, -1, 0, FABRIC_EFFECT_NOTHING, op_round_trip },
  { "sim_fault", 4, -1, NEEDS_FAULTS, FABRIC_EFFECT_NOTHING, op_sim_fault },
  { "unmap_device", 3, -1, 0, FABRIC_EFFECT_DEVICE_UNMAPPED,
    op_unmap_device },
  { "shrink_partition", 3, -1, 0, FABRIC_EFFECT_PARTITION_SIZE,
    op_shrink_partition },
  { "destroy_vf", 2, -1, 0, FABRIC_EFFECT_DEVICE_GONE, op_destroy_vf },
  { "remove_device", 2, -1, 0, FABRIC_EFFECT_DEVICE_GONE, op_remove_device },
  { "drain_switch", 1, -1, 0, FABRIC_EFFECT_NONE, op_drain_switch },
  { "remove_switch", 1, -1, 0, FABRIC_EFFECT_NONE, op_remove_switch },
  { "remove_workload", 1, -1, 0, FABRIC_EFFECT_WORKLOAD_GONE,
    op_remove_workload },
  { "migrate_workload", 2, -1, 0, FABRIC_EFFECT_NONE, op_migrate_workload },
};

/* ---------------------------------------------------------------------- */
/* the decoder                                                            */

FabricOps *
fabric_ops_new (AsmFabric *fabric, const FabricOpsConfig *cfg)
{
  FabricOps *o = g_new0 (FabricOps, 1);
  AsmBackend *b = asm_fabric_get_backend (fabric);

  o->cfg = *cfg;
  o->journal = g_strdup (cfg->journal);
  o->cfg.journal = o->journal;
  o->fabric = asm_fabric_ref (fabric);
  o->sim = b != NULL && asm_sim_is_sim (b) ? b : NULL;
  g_assert (!cfg->faults || o->sim != NULL);
  g_assert (!cfg->crashes || cfg->faults);
  o->last_time = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  return o;
}

void
fabric_ops_free (FabricOps *o)
{
  if (o == NULL)
    return;
  asm_fabric_unref (o->fabric);
  g_hash_table_unref (o->last_time);
  g_free (o->journal);
  g_free (o);
}

AsmFabric *
fabric_ops_get_fabric (FabricOps *o)
{
  return o->fabric;
}

void
fabric_ops_set_fabric (FabricOps *o, AsmFabric *fabric)
{
  AsmFabric *old = o->fabric;

  o->fabric = asm_fabric_ref (fabric);
  asm_fabric_unref (old);
}

gboolean
fabric_ops_crash_injected (FabricOps *o)
{
  return o->crash_injected;
}

void
fabric_ops_clear_faults (FabricOps *o)
{
  if (o->sim != NULL)
    asm_sim_clear_faults (o->sim);
  o->fail_kinds = 0;
  o->fail_at = 0;
  o->crash_pending = FALSE;
  o->crash_injected = FALSE;
}

guint
fabric_ops_n_ops (void)
{
  return G_N_ELEMENTS (ops);
}

const char *
fabric_ops_name (guint op)
{
  return op < G_N_ELEMENTS (ops) ? ops[op].name : "?";
}

void
fabric_op_result_init (FabricOpResult *r)
{
  memset (r, 0, sizeof *r);
  r->call = g_string_new (NULL);
  r->wrong = g_string_new (NULL);
}

void
fabric_op_result_clear (FabricOpResult *r)
{
  g_string_free (r->call, TRUE);
  g_string_free (r->wrong, TRUE);
  memset (r, 0, sizeof *r);
}

static gboolean
may_run (FabricOps *o, const FabricOpDesc *d)
{
  if ((d->flags & NEEDS_FAULTS) && !o->cfg.faults)
    return FALSE;
  return d->grows < 0 ||
         count (o, (AsmFabricObjects) d->grows) < o->cfg.max_objects[d->grows];
}

static gboolean
fault_pending (FabricOps *o)
{
  return o->fail_kinds != 0 || o->crash_pending ||
         (o->fail_at != 0 && asm_sim_get_n_calls (o->sim) < o->fail_at);
}

FabricOpOutcome
fabric_ops_step (FabricOps *o, ChoiceSource *c, FabricOpResult *r,
                 GError **error)
{
  gboolean can[G_N_ELEMENTS (ops)];
  guint total = 0, op;
  guint64 x;
  GError *local = NULL;
  gboolean ok;

  for (op = 0; op < G_N_ELEMENTS (ops); op++)
    {
      can[op] = may_run (o, &ops[op]);
      total += can[op] ? ops[op].weight : 0;
    }
  G_STATIC_ASSERT (G_N_ELEMENTS (ops) > 0);
  g_assert (total > 0 && total < 256);
  x = BELOW (total);
  for (op = 0; !can[op] || x >= ops[op].weight; op++)
    x -= can[op] ? ops[op].weight : 0;

  g_string_truncate (r->call, 0);
  g_string_truncate (r->wrong, 0);
  r->op = op;
  r->effect = ops[op].effect;
  r->fault_pending = o->sim != NULL && fault_pending (o);
  r->created = r->workload = r->partition = r->device = ASM_ID_NONE;
  r->virt = r->size = r->offset = 0;

  ok = ops[op].run (o, c, r, &local);
  if (ok && local != NULL)
    WRONG ("%s succeeded with an error set: %s", ops[op].name,
           local->message);
  else if (!ok && local == NULL)
    WRONG ("%s failed without an error", ops[op].name);
  else if (!ok && local->domain != ASM_ERROR)
    WRONG ("%s failed with an error of domain %s: %s", ops[op].name,
           g_quark_to_string (local->domain), local->message);
  if (ok && r->created != ASM_ID_NONE)
    o->max_id = MAX (o->max_id, r->created);
  if (local != NULL)
    g_propagate_error (error, local);
  if (r->wrong->len > 0)
    return FABRIC_OP_WRONG;
  return ok ? FABRIC_OP_OK : FABRIC_OP_REFUSED;
}
