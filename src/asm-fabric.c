/* asm-fabric.c: the fabric's public API: life cycle, operations, readers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * Objects.  A fabric has one global physical space (an arena with quantum
 * `granule`), switches, devices, workloads and partitions.  A switch's
 * *windows* are allocations in the global arena and, at the same time,
 * the spans of the switch's own arena (`space`), in which partitions are
 * placed.  A partition has a *virtual* range in its workload's virtual
 * arena that never changes, and a *physical* range in one switch's space
 * that changes when it migrates; the switch's translation table routes one
 * to the other with one entry {key = partition, offset = phys - virt}.
 * Devices mapped into a partition sit at an offset inside it (their BAR).
 * A VF transferred to another PF (function transfer) keeps its offset, but its BAR
 * range is routed by an entry of its own {key = VF id} in the table of the
 * switch of its new PF, to the base its new place gives it.
 *
 * Rooms.  The fabric is eight modules, one direction of dependency:
 *
 *   asm-fmodel.c   the model: objects, O(1) clones, the invariants F1-F9
 *                  and the cost of each operation
 *   asm-fjson.c    the JSON vocabulary and the model's saved form
 *   asm-fop.c      the table of operations (ASM_FABRIC_OPS in
 *                  asm-fop-private.h) and their journal form
 *   asm-fplan.c    placement and one planner per operation
 *   asm-ftxn.c     transactions: steps, backend calls, undo, the journal
 *                  writer, publish
 *   asm-fjournal.c the journal file: framed, checksummed, synced records
 *   asm-fsave.c    save, restore, checkpoints, recovery
 *   asm-fabric.c   this file: the public functions, which fill an
 *                  operation's argument struct and run it, and the readers
 *
 * Every public function that changes the fabric is a transaction
 * (asm-ftxn.c): planned on a clone, applied step by step through the
 * backend, undone exactly on any failure; the call then leaves the fabric
 * as it was.
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
 * 10,000 migrations with four readers on two cores).
 *
 * Costs of the readers: translate O(log P + D) with no lock and no shared
 * write; the getters O(1) plus a reference; list and the translation table
 * O(objects).  The operations' costs are tabled in asm-fmodel.c.
 */
#include "asm-ftxn-private.h"

#include <math.h>
#include <string.h>

#include "asm-boxed-private.h"

G_DEFINE_BOXED_TYPE (AsmFabric, asm_fabric, asm_fabric_ref, asm_fabric_unref)
ASM_DEFINE_VALUE_TYPE (AsmSwitchSpec, asm_switch_spec)
ASM_DEFINE_VALUE_TYPE (AsmPartitionRequest, asm_partition_request)
ASM_DEFINE_VALUE_TYPE (AsmTranslation, asm_translation)
ASM_DEFINE_VALUE_TYPE (AsmSwitchInfo, asm_switch_info)
ASM_DEFINE_VALUE_TYPE (AsmPartitionInfo, asm_partition_info)
ASM_DEFINE_VALUE_TYPE (AsmDeviceInfo, asm_device_info)
ASM_DEFINE_VALUE_TYPE (AsmFabricEvent, asm_fabric_event)
ASM_DEFINE_VALUE_TYPE (AsmDriverFuncs, asm_driver_funcs)
ASM_DEFINE_VALUE_TYPE (AsmJournalStore, asm_journal_store)
ASM_DEFINE_VALUE_TYPE (AsmRootRoute, asm_root_route)
ASM_DEFINE_VALUE_TYPE (AsmRebalanceReport, asm_rebalance_report)

/* ------------------------------------------------------------------ */
/* public API: life cycle                                               */

AsmFabric *
asm_fabric_alloc (const char *name, FModel *m, AsmBackend *backend)
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
 * @name: a name for messages and saves: 1 to 255 bytes of UTF-8 without
 *   control characters, as every name in a fabric
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
 * Errors: %ASM_ERROR_INVALID for a bad @name, or when @granule is not a
 * power of two or the space is empty or not on granule boundaries.
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

  if (!asm_fmodel_check_name ("fabric", name, ASM_FMODEL_NAME_MAX, error))
    return NULL;
  if (!asm_is_pow2 (granule) || global_first > global_last ||
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
  return asm_fabric_alloc (name, asm_fmodel_new (global_first, global_last,
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
  asm_fjournal_close (fabric->journal);
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

FModel *
asm_fabric_model_get (AsmFabric *f)
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
  m = asm_fabric_model_get (fabric);
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
  FOpSetWindowGranule a = { .bytes = bytes };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_set_window_granule (fabric, &a, NULL, NULL, error);
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
  FOpReserveGlobal a = { .first = first, .last = last };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_reserve_global (fabric, &a, NULL, NULL, error);
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
 * Errors: %ASM_ERROR_INVALID for a duplicate name or one that is empty,
 * longer than 255 bytes, not UTF-8 or holds a control character, zero
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
  FOpAddSwitch a;

  g_return_val_if_fail (fabric != NULL && spec != NULL, FALSE);
  a = (FOpAddSwitch) { .name = spec->name, .bandwidth = spec->bandwidth,
                       .latency_ns = spec->latency_ns,
                       .table_capacity = spec->table_capacity,
                       .n_ports = spec->n_ports, .pinned = spec->pinned };
  return asm_fop_run_add_switch (fabric, &a, out_id, NULL, error);
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
  FOpAddWindow a = { .sw = sw, .first = first, .last = last };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_add_window (fabric, &a, NULL, NULL, error);
}

/**
 * asm_fabric_add_device:
 * @fabric: a fabric
 * @name: the device's name (1 to 255 bytes of UTF-8 without control
 *   characters)
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
  FOpAddDevice a = { .name = name, .kind = (guint32) kind,
                     .bar_size = bar_size, .sw = sw, .port = port };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_add_device (fabric, &a, out_id, NULL, error);
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
  FOpSetSriov a = { .pf = pf, .max_vfs = max_vfs,
                    .vf_bar_size = vf_bar_size };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_set_sriov (fabric, &a, NULL, NULL, error);
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
  FOpCreateVf a = { .pf = pf };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_create_vf (fabric, &a, out_vf, NULL, error);
}

/**
 * asm_fabric_add_workload:
 * @fabric: a fabric
 * @name: its name (1 to 255 bytes of UTF-8 without control characters;
 *   two workloads may share one)
 * @out_id: (out) (optional): its id
 * @error: return location for a #GError
 *
 * Adds a workload: a user of partitions with its own virtual space.
 *
 * Errors: %ASM_ERROR_INVALID for a bad name.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_add_workload (AsmFabric *fabric, const char *name, AsmId *out_id,
                         GError **error)
{
  FOpAddWorkload a = { .name = name };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_add_workload (fabric, &a, out_id, NULL, error);
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
  FOpRequestPartition a;

  g_return_val_if_fail (fabric != NULL && req != NULL, FALSE);
  a = (FOpRequestPartition) {
    .workload = workload, .size = req->size, .align = req->align,
    .min_bandwidth = req->min_bandwidth,
    .max_latency_ns = req->max_latency_ns,
    .bandwidth_demand = req->bandwidth_demand,
    .preferred_switch = req->preferred_switch,
  };
  return asm_fop_run_request_partition (fabric, &a, out_partition, out_virt,
                                        error);
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
  FOpMapDevice a = { .partition = partition, .device = device };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_map_device (fabric, &a, NULL, out_offset, error);
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
  FOpGrowPartition a = { .partition = partition, .new_size = new_size };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_grow_partition (fabric, &a, NULL, NULL, error);
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
 * virtual addresses do not change.  The steps, in order: hold the
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
  FOpMigratePartition a = { .partition = partition,
                            .target_switch = target_switch };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_migrate_partition (fabric, &a, NULL, NULL, error);
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
  FOpReleasePartition a = { .partition = partition };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_release_partition (fabric, &a, NULL, NULL, error);
}

/**
 * asm_fabric_transfer_vf:
 * @fabric: a fabric
 * @vf: a VF mapped into a partition
 * @target_pf: another PF with the same VF BAR size
 * @out_new_vf: (out) (optional): the VF that takes its place
 * @error: return location for a #GError
 *
 * Function transfer using virtualized mapping: creates a VF on
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
  FOpTransferVf a = { .vf = vf, .target_pf = target_pf };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_transfer_vf (fabric, &a, out_new_vf, NULL, error);
}

/**
 * asm_fabric_unmap_device:
 * @fabric: a fabric
 * @partition: a partition
 * @device: a device mapped into it
 * @error: return location for a #GError
 *
 * Unmaps a device: the partition's addresses at its BAR then reach no
 * device (asm_fabric_translate() answers %ASM_ID_NONE there), and the
 * device stays bound where it is.  A VF routed by an entry of its own
 * (after asm_fabric_transfer_vf()) loses that entry and the range it
 * routed to.
 *
 * Errors: %ASM_ERROR_NOT_FOUND for an unknown partition or device, or when
 * the partition does not hold the device; %ASM_ERROR_BACKEND.  Nothing
 * changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_unmap_device (AsmFabric *fabric, AsmId partition, AsmId device,
                         GError **error)
{
  FOpUnmapDevice a = { .partition = partition, .device = device };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_unmap_device (fabric, &a, NULL, NULL, error);
}

/**
 * asm_fabric_shrink_partition:
 * @fabric: a fabric
 * @partition: a partition
 * @new_size: its new size, below the current one, a multiple of the granule
 * @error: return location for a #GError
 *
 * Shrinks a partition in place: its start, its virtual range's start and
 * every mapped device stay where they are; the bytes after @new_size go
 * back to its switch (the switch's cache is flushed for them), and the
 * translation entry is updated.
 *
 * Errors: %ASM_ERROR_INVALID when @new_size is zero, not a multiple of the
 * granule or not below the size; %ASM_ERROR_IN_USE (naming the device)
 * when a mapped BAR would fall outside; %ASM_ERROR_NOT_FOUND;
 * %ASM_ERROR_BACKEND.  Nothing changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_shrink_partition (AsmFabric *fabric, AsmId partition,
                             guint64 new_size, GError **error)
{
  FOpShrinkPartition a = { .partition = partition, .new_size = new_size };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_shrink_partition (fabric, &a, NULL, NULL, error);
}

/**
 * asm_fabric_destroy_vf:
 * @fabric: a fabric
 * @vf: a VF that no partition maps
 * @error: return location for a #GError
 *
 * Destroys a virtual function (the backend's vf_destroy); its index under
 * its PF is free again.
 *
 * Errors: %ASM_ERROR_NOT_FOUND; %ASM_ERROR_INVALID when @vf is not a VF;
 * %ASM_ERROR_IN_USE while it is mapped; %ASM_ERROR_BACKEND.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_destroy_vf (AsmFabric *fabric, AsmId vf, GError **error)
{
  FOpDestroyVf a = { .vf = vf };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_destroy_vf (fabric, &a, NULL, NULL, error);
}

/**
 * asm_fabric_remove_device:
 * @fabric: a fabric
 * @device: an endpoint or a PF that no partition maps
 * @error: return location for a #GError
 *
 * Unbinds a device from its port (the backend's device_unbind) and forgets
 * it: an unplugged GPU leaves the model.
 *
 * Errors: %ASM_ERROR_NOT_FOUND; %ASM_ERROR_INVALID for a VF (see
 * asm_fabric_destroy_vf()); %ASM_ERROR_IN_USE while it is mapped or, a PF,
 * has VFs; %ASM_ERROR_BACKEND.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_remove_device (AsmFabric *fabric, AsmId device, GError **error)
{
  FOpRemoveDevice a = { .device = device };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_remove_device (fabric, &a, NULL, NULL, error);
}

/**
 * asm_fabric_drain_switch:
 * @fabric: a fabric
 * @sw: a switch
 * @error: return location for a #GError
 *
 * Takes a switch out of service, in one transaction: every partition on it
 * migrates (with the devices mapped in it, as
 * asm_fabric_migrate_partition() does) to the switch placement chooses,
 * the switch gives all its windows back to the global space (a pinned
 * switch too), and it is marked draining: placement never picks it again,
 * even when preferred, and nothing migrates onto it.  Devices no partition
 * maps stay bound.  Translations keep answering throughout: each sees the
 * old mapping or the new one.
 *
 * Errors: %ASM_ERROR_NO_SPACE naming the partition that fits nowhere
 * else; %ASM_ERROR_IN_USE while the switch routes a transferred VF by an
 * entry of its own; %ASM_ERROR_NOT_FOUND; %ASM_ERROR_BACKEND.  All or
 * nothing: on error no partition has moved.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_drain_switch (AsmFabric *fabric, AsmId sw, GError **error)
{
  FOpDrainSwitch a = { .sw = sw };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_drain_switch (fabric, &a, NULL, NULL, error);
}

/**
 * asm_fabric_remove_switch:
 * @fabric: a fabric
 * @sw: a switch with nothing left on it
 * @error: return location for a #GError
 *
 * Takes a switch out of the fabric (the backend's switch_remove).  Its id
 * is never reused; its name may be.
 *
 * Errors: %ASM_ERROR_IN_USE, naming what remains, while it has partitions,
 * windows (drain it first), bound devices or translation entries;
 * %ASM_ERROR_NOT_FOUND; %ASM_ERROR_BACKEND.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_remove_switch (AsmFabric *fabric, AsmId sw, GError **error)
{
  FOpRemoveSwitch a = { .sw = sw };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_remove_switch (fabric, &a, NULL, NULL, error);
}

/**
 * asm_fabric_remove_workload:
 * @fabric: a fabric
 * @workload: a workload
 * @error: return location for a #GError
 *
 * Ends a workload, in one transaction: every partition of it is released
 * (as asm_fabric_release_partition() does), emptied windows go back, and
 * the workload is forgotten.  Its devices stay bound, unmapped.
 *
 * Errors: %ASM_ERROR_NOT_FOUND; %ASM_ERROR_BACKEND (nothing changed).
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_remove_workload (AsmFabric *fabric, AsmId workload,
                            GError **error)
{
  FOpRemoveWorkload a = { .workload = workload };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_remove_workload (fabric, &a, NULL, NULL, error);
}

/**
 * asm_fabric_migrate_workload:
 * @fabric: a fabric
 * @workload: a workload
 * @target_switch: the switch to move all its partitions to, or
 *   %ASM_ID_NONE for the switch placement chooses for all of them together
 *   (their sizes and demands summed)
 * @error: return location for a #GError
 *
 * Moves every partition of a workload to one switch, atomically: all
 * move, or none.  Partitions already there stay; each one that moves does
 * as in asm_fabric_migrate_partition().
 *
 * Errors: %ASM_ERROR_NOT_FOUND; %ASM_ERROR_NO_SPACE; %ASM_ERROR_INVALID
 * (the target is draining); %ASM_ERROR_BACKEND.  Nothing changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_migrate_workload (AsmFabric *fabric, AsmId workload,
                             AsmId target_switch, GError **error)
{
  FOpMigrateWorkload a = { .workload = workload,
                           .target_switch = target_switch };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_migrate_workload (fabric, &a, NULL, NULL, error);
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
  FOpRecordUsage a = { .workload = workload, .time = time,
                       .bytes_used = bytes_used };

  g_return_val_if_fail (fabric != NULL, FALSE);
  return asm_fop_run_record_usage (fabric, &a, NULL, NULL, error);
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
  m = asm_fabric_model_get (fabric);
  w = asm_fmodel_get_workload (m, workload, error);
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

/* Rebalance thresholds (documented on asm_fabric_rebalance()) */
#define REBALANCE_KEEP 1.25      /* keep 25 % above the prediction */
#define REBALANCE_BANDWIDTH_HIGH 0.9 /* a switch above 90 % is overloaded */

/* An outcome of one rebalancing change: counted, or fatal (the fabric
 * is broken) with the error moved to *error. */
static gboolean
rebalance_failed (AsmFabric *fabric, GError **change_error, guint *n_failed,
                  GError **error)
{
  gboolean broken;

  g_mutex_lock (&fabric->write_lock);
  broken = fabric->broken;
  g_mutex_unlock (&fabric->write_lock);
  if (broken)
    {
      g_propagate_error (error, g_steal_pointer (change_error));
      return FALSE;
    }
  g_clear_error (change_error);
  (*n_failed)++;
  return TRUE;
}

/* the largest partition of w (ties: the lowest id) and the bytes of all */
static AsmId
largest_partition (FModel *m, FWorkload *w, guint64 *out_total,
                   guint64 *out_size)
{
  AsmId largest = ASM_ID_NONE;
  guint64 have = 0, largest_size = 0;

  for (guint j = 0; j < w->partitions->len; j++)
    {
      FPartition *p = FPART (m, g_array_index (w->partitions, AsmId, j));
      have += p->size;
      if (p->size > largest_size ||
          (p->size == largest_size && p->id < largest))
        largest = p->id, largest_size = p->size;
    }
  *out_total = have;
  *out_size = largest_size;
  return largest;
}

/* Grows or shrinks the largest partition of workload wid toward its
 * prediction; counts what it did in rep. */
static gboolean
rebalance_workload (AsmFabric *fabric, FModel *m, AsmId wid, gdouble horizon,
                    AsmRebalanceReport *rep, GError **error)
{
  FWorkload *w = FWL (m, wid);
  guint64 predicted, have, largest_size, keep, floor_size = 0;
  AsmPartitionInfo before, after;
  g_autoptr (GError) gerr = NULL;
  AsmId largest;

  if (w->n_samples == 0 || w->partitions->len == 0 ||
      !asm_fabric_predict (fabric, w->id, horizon, &predicted, NULL))
    return TRUE;
  largest = largest_partition (m, w, &have, &largest_size);
  if (!asm_fabric_get_partition_info (fabric, largest, &before))
    return TRUE; /* released since m was taken */
  if (predicted > have)
    {
      guint64 grow = asm_round_up (predicted - have, m->granule);
      if (!asm_fabric_grow_partition (fabric, largest, largest_size + grow,
                                      &gerr))
        return rebalance_failed (fabric, &gerr, &rep->n_failed, error);
      if (!asm_fabric_get_partition_info (fabric, largest, &after))
        return TRUE;
      if (after.switch_id == before.switch_id &&
          after.phys_first == before.phys_first)
        rep->n_grown++;
      else
        rep->n_migrated++;
      return TRUE;
    }
  /* well below: keep REBALANCE_KEEP times the prediction, whole granules,
   * and never less than the devices mapped in the partition need */
  keep = asm_round_up ((guint64) ((gdouble) predicted * REBALANCE_KEEP),
                       m->granule);
  if (keep >= have)
    return TRUE;
  floor_size = asm_fpartition_devices_end (m, FPART (m, largest));
  floor_size = MAX (asm_round_up (floor_size, m->granule), m->granule);
  {
    guint64 target = largest_size - MIN (have - keep, largest_size);
    target = MAX (target, floor_size);
    if (target >= largest_size)
      return TRUE;
    if (!asm_fabric_shrink_partition (fabric, largest, target, &gerr))
      return rebalance_failed (fabric, &gerr, &rep->n_failed, error);
    rep->n_shrunk++;
  }
  return TRUE;
}

/* Moves partitions, smallest demand first, off switch sid while it
 * carries more than REBALANCE_BANDWIDTH_HIGH of its bandwidth. */
static gboolean
rebalance_switch (AsmFabric *fabric, AsmId sid, AsmRebalanceReport *rep,
                  GError **error)
{
  for (;;)
    {
      g_autoptr (GError) gerr = NULL;
      g_autoptr (GArray) parts = NULL;
      FModel *m = asm_fabric_model_get (fabric);
      FSwitch *s = FSW (m, sid);
      AsmId pick = ASM_ID_NONE;
      guint64 pick_demand = G_MAXUINT64;
      gboolean ok;

      if (s == NULL || s->bandwidth == 0 ||
          (gdouble) s->bandwidth_used
              <= REBALANCE_BANDWIDTH_HIGH * (gdouble) s->bandwidth)
        {
          asm_fmodel_unref (m);
          return TRUE;
        }
      parts = asm_pmap_keys (m->partitions);
      for (guint i = 0; i < parts->len; i++)
        {
          FPartition *p = FPART (m, g_array_index (parts, guint32, i));
          if (p->sw == sid && p->bandwidth_demand > 0 &&
              p->bandwidth_demand < pick_demand)
            pick = p->id, pick_demand = p->bandwidth_demand;
        }
      asm_fmodel_unref (m);
      if (pick == ASM_ID_NONE)
        return TRUE;
      ok = asm_fabric_migrate_partition (fabric, pick, ASM_ID_NONE, &gerr);
      if (ok)
        {
          rep->n_migrated++;
          continue;
        }
      /* nowhere to go: the switch stays overloaded */
      return rebalance_failed (fabric, &gerr, &rep->n_failed, error);
    }
}

/**
 * asm_fabric_rebalance:
 * @fabric: a fabric
 * @horizon: how far ahead to plan, in the samples' time unit
 * @out_report: (out) (optional): what was done
 * @error: return location for a #GError
 *
 * Reshapes the fabric on the profiler's predictions, in two passes:
 *
 * 1. For each workload, in id order, with usage samples: when its
 *    predicted use at @horizon exceeds the bytes of its partitions, its
 *    largest partition (ties: the lowest id) grows by the difference
 *    rounded up to the granule, in place or by migration; when 1.25 times
 *    the prediction, rounded up to the granule, is below those bytes, its
 *    largest partition shrinks by the excess (never below what its mapped
 *    devices need, nor below one granule).
 * 2. For each switch, in id order, whose partitions' bandwidth demands
 *    exceed 90 % of its bandwidth: its partitions, smallest demand first,
 *    migrate to the switch placement chooses until it is at or below 90 %
 *    or one cannot move.
 *
 * Each change is its own transaction; one that fails is counted in
 * @out_report and leaves no trace.
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
  g_autoptr (GArray) sws = NULL;
  gboolean ok = TRUE;

  g_return_val_if_fail (fabric != NULL, FALSE);
  m = asm_fabric_model_get (fabric);
  ids = asm_pmap_keys (m->workloads);
  sws = asm_pmap_keys (m->switches);
  for (guint i = 0; ok && i < ids->len; i++)
    {
      rep.n_examined++;
      ok = rebalance_workload (fabric, m, g_array_index (ids, guint32, i),
                               horizon, &rep, error);
    }
  asm_fmodel_unref (m);
  for (guint i = 0; ok && i < sws->len; i++)
    ok = rebalance_switch (fabric, g_array_index (sws, guint32, i), &rep,
                           error);
  if (out_report != NULL)
    *out_report = rep;
  return ok;
}

/**
 * asm_fabric_sample_usage:
 * @fabric: a fabric
 * @time: the samples' time (strictly after every workload's last sample)
 * @error: return location for a #GError
 *
 * Feeds the profiler from the hardware: reads, through the backend's
 * usage_read (%ASM_BACKEND_CAP_USAGE), the bytes in use of every
 * partition, and records for each workload with partitions the sum of its
 * partitions' (as asm_fabric_record_usage() does).  Every counter is read
 * and every time checked before anything is recorded.
 *
 * Errors: %ASM_ERROR_UNSUPPORTED when the backend cannot read usage;
 * %ASM_ERROR_INVALID when @time is not after a workload's last sample;
 * %ASM_ERROR_BACKEND when a counter cannot be read (nothing recorded).
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_sample_usage (AsmFabric *fabric, gdouble time, GError **error)
{
  g_autoptr (GArray) wls = NULL;
  g_autoptr (GArray) used = NULL;
  FModel *m;
  gboolean ok = TRUE;

  g_return_val_if_fail (fabric != NULL, FALSE);
  if (!asm_fabric_has_cap (fabric, ASM_BACKEND_CAP_USAGE) ||
      fabric->ops->usage_read == NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_UNSUPPORTED,
                   "%s: the backend cannot read usage counters; record "
                   "samples with asm_fabric_record_usage()", fabric->name);
      return FALSE;
    }
  used = g_array_new (FALSE, TRUE, sizeof (guint64));
  g_mutex_lock (&fabric->write_lock);
  m = asm_fmodel_ref (fabric->current);
  wls = asm_pmap_keys (m->workloads);
  g_array_set_size (used, wls->len);
  for (guint i = 0; ok && i < wls->len; i++)
    {
      FWorkload *w = FWL (m, g_array_index (wls, guint32, i));
      if (w->partitions->len == 0)
        continue;
      if (!isfinite (time) || (w->n_samples > 0 && time <= w->last_time))
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "workload '%s': sample time %g is not after the last "
                       "sample's %g", w->name, time, w->last_time);
          ok = FALSE;
          break;
        }
      for (guint j = 0; ok && j < w->partitions->len; j++)
        {
          FPartition *p = FPART (m, g_array_index (w->partitions, AsmId, j));
          guint64 bytes = 0;
          if (!fabric->ops->usage_read (fabric->self, p->sw, p->id, &bytes,
                                        error))
            ok = FALSE;
          g_array_index (used, guint64, i) += bytes;
        }
    }
  g_mutex_unlock (&fabric->write_lock);
  for (guint i = 0; ok && i < wls->len; i++)
    if (FWL (m, g_array_index (wls, guint32, i))->partitions->len > 0)
      ok = asm_fabric_record_usage (fabric, g_array_index (wls, guint32, i),
                                    time, g_array_index (used, guint64, i),
                                    error);
  asm_fmodel_unref (m);
  return ok;
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

/**
 * asm_fabric_find_switch:
 * @fabric: a fabric
 * @name: a switch name
 * @out_id: (out) (optional): its id
 *
 * Finds a switch by name, O(1).
 *
 * Returns: %TRUE when found
 *
 * Since: 0.1
 */
gboolean
asm_fabric_find_switch (AsmFabric *fabric, const char *name, AsmId *out_id)
{
  FModel *m;
  FSwitch *s;
  AsmId found = ASM_ID_NONE;

  g_return_val_if_fail (fabric != NULL && name != NULL, FALSE);
  m = asm_fabric_model_get (fabric);
  s = asm_fmodel_find_switch (m, name);
  if (s != NULL)
    found = s->id;
  asm_fmodel_unref (m);
  if (found != ASM_ID_NONE && out_id != NULL)
    *out_id = found;
  return found != ASM_ID_NONE;
}

/* Names handed out by the getters live as long as the fabric: they are
 * interned (switch and device names are few and never change). */
static const char *
intern (const char *s)
{
  return g_intern_string (s);
}

/**
 * asm_fabric_get_workload_name:
 * @fabric: a fabric
 * @workload: a workload
 *
 * The name a workload was added with (asm_fabric_add_workload()).
 *
 * Returns: (transfer none) (nullable): the name, valid while the process
 *   lives (names are interned); %NULL when there is no such workload
 *
 * Since: 0.1
 */
const char *
asm_fabric_get_workload_name (AsmFabric *fabric, AsmId workload)
{
  FModel *m;
  FWorkload *w;
  const char *name = NULL;

  g_return_val_if_fail (fabric != NULL, NULL);
  m = asm_fabric_model_get (fabric);
  w = FWL (m, workload);
  if (w != NULL)
    name = intern (w->name);
  asm_fmodel_unref (m);
  return name;
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
  m = asm_fabric_model_get (fabric);
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
  out->draining = s->draining;
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
  m = asm_fabric_model_get (fabric);
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
  m = asm_fabric_model_get (fabric);
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
  m = asm_fabric_model_get (fabric);
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
  m = asm_fabric_model_get (fabric);
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
  AsmId x = ((const AsmXlatEntry *) a)->key,
        y = ((const AsmXlatEntry *) b)->key;
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
  c.m = asm_fabric_model_get (fabric);
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

static gint
route_cmp (gconstpointer a, gconstpointer b)
{
  guint64 x = ((const AsmRootRoute *) a)->first;
  guint64 y = ((const AsmRootRoute *) b)->first;
  return x < y ? -1 : x > y;
}

static gboolean
collect_routes (guint32 key, AsmPObj *o, gpointer data)
{
  FSwitch *s = (FSwitch *) o;
  for (guint i = 0; i < s->windows->len; i++)
    {
      AsmRange w = g_array_index (s->windows, AsmRange, i);
      AsmRootRoute r = { w.first, w.last, s->id };
      g_array_append_val ((GArray *) data, r);
    }
  return TRUE;
}

/**
 * asm_fabric_get_root_map:
 * @fabric: a fabric
 *
 * The root complex's map: which switch each window of the global space is
 * routed to.  It covers exactly the switches' windows; every window change
 * updates it through the backend in the same transaction (a backend with
 * %ASM_BACKEND_CAP_ROOT programs it).  O(windows log windows).
 *
 * Returns: (transfer full) (element-type AsmRootRoute): the routes, sorted
 *   by address
 *
 * Since: 0.1
 */
GArray *
asm_fabric_get_root_map (AsmFabric *fabric)
{
  FModel *m;
  GArray *routes;

  g_return_val_if_fail (fabric != NULL, NULL);
  routes = g_array_new (FALSE, FALSE, sizeof (AsmRootRoute));
  m = asm_fabric_model_get (fabric);
  asm_pmap_foreach (m->switches, collect_routes, routes);
  asm_fmodel_unref (m);
  g_array_sort (routes, route_cmp);
  return routes;
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
  m = asm_fabric_model_get (fabric);
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
  m = asm_fabric_model_get (fabric);
  ok = asm_fmodel_check (m, error);
  asm_fmodel_unref (m);
  return ok;
}

