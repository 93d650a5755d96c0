/* asm-fabric.h: switches, windows, partitions, workloads, migration (layer 3)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ASM_INSIDE) && !defined(ASM_COMPILATION)
#error "Only <asm/asm.h> can be included directly."
#endif

#include <asm/asm-arena.h>
#include <asm/asm-backend.h>

G_BEGIN_DECLS

/**
 * AsmFabric:
 *
 * A switch fabric: a global physical address space, switches that own
 * windows of it, devices bound to switch ports, workloads, and the address
 * partitions through which workloads reach their devices.  Thread-safe;
 * reference counted.
 *
 * Since: 0.1
 */
typedef struct _AsmFabric AsmFabric;

/**
 * ASM_TYPE_FABRIC:
 *
 * The #GType of #AsmFabric, a boxed type registered by
 * asm_fabric_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_FABRIC (asm_fabric_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_fabric_get_type (void) G_GNUC_CONST;

/**
 * AsmSwitchSpec:
 * @name: unique name
 * @bandwidth: what the switch carries, in MB/s
 * @latency_ns: the latency it adds, in nanoseconds
 * @table_capacity: entries its translation table holds
 * @n_ports: downstream ports for devices (numbered 0 to @n_ports - 1)
 * @pinned: its windows may not move: the fabric never grows or shrinks
 *   them (firmware placed them); windows are then given with
 *   asm_fabric_add_window()
 *
 * What asm_fabric_add_switch() needs to know of a switch.
 *
 * Since: 0.1
 */
typedef struct {
  const char *name;
  guint64 bandwidth;
  guint32 latency_ns;
  guint32 table_capacity;
  guint32 n_ports;
  gboolean pinned;
} AsmSwitchSpec;

/**
 * ASM_TYPE_SWITCH_SPEC:
 *
 * The #GType of #AsmSwitchSpec, a boxed type registered by
 * asm_switch_spec_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_SWITCH_SPEC (asm_switch_spec_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_switch_spec_get_type (void) G_GNUC_CONST;

/**
 * AsmDeviceKind:
 * @ASM_DEVICE_ENDPOINT: a plain PCIe endpoint
 * @ASM_DEVICE_PF: an SR-IOV physical function (may create VFs)
 * @ASM_DEVICE_VF: an SR-IOV virtual function of a PF
 *
 * What kind of PCIe function a fabric device is.
 *
 * Since: 0.1
 */
typedef enum {
  ASM_DEVICE_ENDPOINT,
  ASM_DEVICE_PF,
  ASM_DEVICE_VF,
} AsmDeviceKind;

/**
 * ASM_TYPE_DEVICE_KIND:
 *
 * The #GType of #AsmDeviceKind, an enumeration type registered by
 * asm_device_kind_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_DEVICE_KIND (asm_device_kind_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_device_kind_get_type (void) G_GNUC_CONST;

/**
 * AsmFabricObjects:
 * @ASM_FABRIC_SWITCHES: the switches
 * @ASM_FABRIC_DEVICES: the devices (endpoints, PFs and VFs)
 * @ASM_FABRIC_WORKLOADS: the workloads
 * @ASM_FABRIC_PARTITIONS: the address partitions
 *
 * The kinds of object asm_fabric_list() lists.
 *
 * Since: 0.1
 */
typedef enum {
  ASM_FABRIC_SWITCHES,
  ASM_FABRIC_DEVICES,
  ASM_FABRIC_WORKLOADS,
  ASM_FABRIC_PARTITIONS,
} AsmFabricObjects;

/**
 * ASM_TYPE_FABRIC_OBJECTS:
 *
 * The #GType of #AsmFabricObjects, an enumeration type registered by
 * asm_fabric_objects_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_FABRIC_OBJECTS (asm_fabric_objects_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_fabric_objects_get_type (void) G_GNUC_CONST;

/**
 * AsmPartitionRequest:
 * @size: bytes, a multiple of the fabric's granule
 * @align: 0 (the granule) or a power of two
 * @min_bandwidth: MB/s the partition needs from its switch (0: none)
 * @max_latency_ns: the largest switch latency acceptable (0: any)
 * @preferred_switch: a switch to choose when it qualifies (0: none)
 * @bandwidth_demand: MB/s the partition will use, counted against the
 *   switch's bandwidth (0: @min_bandwidth)
 *
 * A request for an address partition.
 *
 * Since: 0.1
 */
typedef struct {
  guint64 size;
  guint64 align;
  guint64 min_bandwidth;
  guint32 max_latency_ns;
  AsmId preferred_switch;
  guint64 bandwidth_demand;
} AsmPartitionRequest;

/**
 * ASM_TYPE_PARTITION_REQUEST:
 *
 * The #GType of #AsmPartitionRequest, a boxed type registered by
 * asm_partition_request_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_PARTITION_REQUEST (asm_partition_request_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_partition_request_get_type (void) G_GNUC_CONST;

/**
 * AsmTranslation:
 * @switch_id: the switch whose table routes the address
 * @partition: the partition that holds it
 * @physical: the physical address it reaches
 * @device: the device whose BAR holds @physical, or %ASM_ID_NONE
 * @device_offset: @physical minus the start of that BAR
 * @generation: the partition's generation, bumped by every change of its
 *   mapping
 * @held: %TRUE while a transaction holds the partition's drivers; the
 *   answer is then the mapping committed before it
 *
 * The result of asm_fabric_translate().
 *
 * Since: 0.1
 */
typedef struct {
  AsmId switch_id;
  AsmId partition;
  guint64 physical;
  AsmId device;
  guint64 device_offset;
  guint32 generation;
  gboolean held;
} AsmTranslation;

/**
 * ASM_TYPE_TRANSLATION:
 *
 * The #GType of #AsmTranslation, a boxed type registered by
 * asm_translation_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_TRANSLATION (asm_translation_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_translation_get_type (void) G_GNUC_CONST;

/**
 * AsmSwitchInfo:
 * @id: the switch id
 * @name: (transfer none): its name, valid while the fabric lives
 * @bandwidth: MB/s
 * @bandwidth_used: MB/s promised to its partitions
 * @latency_ns: nanoseconds
 * @table_capacity: translation entries it holds
 * @table_used: translation entries in use
 * @n_ports: ports
 * @n_ports_used: ports with a device bound
 * @pinned: its windows never move
 * @n_windows: number of windows
 * @window_bytes: bytes in its windows
 * @free_bytes: bytes of its windows not used by partitions
 * @n_partitions: partitions placed on it
 * @draining: drained by asm_fabric_drain_switch(): placement never picks it
 *
 * A snapshot of one switch.
 *
 * Since: 0.1
 */
typedef struct {
  AsmId id;
  const char *name;
  guint64 bandwidth;
  guint64 bandwidth_used;
  guint32 latency_ns;
  guint32 table_capacity;
  guint32 table_used;
  guint32 n_ports;
  guint32 n_ports_used;
  gboolean pinned;
  guint n_windows;
  guint64 window_bytes;
  guint64 free_bytes;
  guint n_partitions;
  gboolean draining;
} AsmSwitchInfo;

/**
 * ASM_TYPE_SWITCH_INFO:
 *
 * The #GType of #AsmSwitchInfo, a boxed type registered by
 * asm_switch_info_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_SWITCH_INFO (asm_switch_info_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_switch_info_get_type (void) G_GNUC_CONST;

/**
 * AsmPartitionInfo:
 * @id: the partition id
 * @workload: its workload
 * @switch_id: the switch it is placed on
 * @virt_first: its first virtual address (stable for its whole life)
 * @phys_first: its first physical address (changes on migration)
 * @size: bytes
 * @bandwidth_demand: MB/s counted against its switch
 * @generation: bumped by every change of its mapping
 * @n_devices: devices mapped into it
 *
 * A snapshot of one partition.
 *
 * Since: 0.1
 */
typedef struct {
  AsmId id;
  AsmId workload;
  AsmId switch_id;
  guint64 virt_first;
  guint64 phys_first;
  guint64 size;
  guint64 bandwidth_demand;
  guint32 generation;
  guint n_devices;
} AsmPartitionInfo;

/**
 * ASM_TYPE_PARTITION_INFO:
 *
 * The #GType of #AsmPartitionInfo, a boxed type registered by
 * asm_partition_info_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_PARTITION_INFO (asm_partition_info_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_partition_info_get_type (void) G_GNUC_CONST;

/**
 * AsmDeviceInfo:
 * @id: the device id
 * @name: (transfer none): its name, valid while the fabric lives
 * @kind: endpoint, PF or VF
 * @switch_id: the switch it is bound to
 * @port: the port it is bound to
 * @bar_size: the size of its BAR in bytes
 * @pf: for a VF, its PF
 * @vf_index: for a VF, its index under the PF
 * @max_vfs: for a PF, how many VFs it may have
 * @vf_bar_size: for a PF, the BAR size of each VF
 * @partition: the partition it is mapped into, or %ASM_ID_NONE
 * @partition_offset: where its BAR starts inside that partition
 *
 * A snapshot of one device.
 *
 * Since: 0.1
 */
typedef struct {
  AsmId id;
  const char *name;
  AsmDeviceKind kind;
  AsmId switch_id;
  guint32 port;
  guint64 bar_size;
  AsmId pf;
  guint32 vf_index;
  guint32 max_vfs;
  guint64 vf_bar_size;
  AsmId partition;
  guint64 partition_offset;
} AsmDeviceInfo;

/**
 * ASM_TYPE_DEVICE_INFO:
 *
 * The #GType of #AsmDeviceInfo, a boxed type registered by
 * asm_device_info_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_DEVICE_INFO (asm_device_info_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_device_info_get_type (void) G_GNUC_CONST;

/**
 * AsmFabricEventKind:
 * @ASM_EVENT_SWITCH_ADDED: a switch joined
 * @ASM_EVENT_WINDOW_GROWN: a switch got a new window from the global space
 * @ASM_EVENT_WINDOW_SHRUNK: a switch gave an empty window back
 * @ASM_EVENT_PARTITION_PLACED: a partition was placed on a switch
 * @ASM_EVENT_PARTITION_GROWN: a partition grew
 * @ASM_EVENT_PARTITION_MIGRATED: a partition moved to another switch
 * @ASM_EVENT_PARTITION_RELEASED: a partition was released and reclaimed
 * @ASM_EVENT_DEVICE_MAPPED: a device was mapped into a partition
 * @ASM_EVENT_VF_TRANSFERRED: a VF's function moved to another device
 *   (@old_device is the VF that went away, @device the one that took over)
 * @ASM_EVENT_ROLLED_BACK: a transaction failed and was undone
 * @ASM_EVENT_DEVICE_UNMAPPED: a device left a partition
 * @ASM_EVENT_PARTITION_SHRUNK: a partition shrank in place
 * @ASM_EVENT_VF_DESTROYED: a VF was destroyed
 * @ASM_EVENT_DEVICE_REMOVED: a device left the fabric
 * @ASM_EVENT_SWITCH_DRAINED: a switch gave up its partitions and windows
 * @ASM_EVENT_SWITCH_REMOVED: a switch left the fabric
 * @ASM_EVENT_WORKLOAD_REMOVED: a workload ended and was forgotten
 *
 * What an observer hears about.
 *
 * Since: 0.1
 */
typedef enum {
  ASM_EVENT_SWITCH_ADDED,
  ASM_EVENT_WINDOW_GROWN,
  ASM_EVENT_WINDOW_SHRUNK,
  ASM_EVENT_PARTITION_PLACED,
  ASM_EVENT_PARTITION_GROWN,
  ASM_EVENT_PARTITION_MIGRATED,
  ASM_EVENT_PARTITION_RELEASED,
  ASM_EVENT_DEVICE_MAPPED,
  ASM_EVENT_VF_TRANSFERRED,
  ASM_EVENT_ROLLED_BACK,
  ASM_EVENT_DEVICE_UNMAPPED,
  ASM_EVENT_PARTITION_SHRUNK,
  ASM_EVENT_VF_DESTROYED,
  ASM_EVENT_DEVICE_REMOVED,
  ASM_EVENT_SWITCH_DRAINED,
  ASM_EVENT_SWITCH_REMOVED,
  ASM_EVENT_WORKLOAD_REMOVED,
} AsmFabricEventKind;

/**
 * ASM_TYPE_FABRIC_EVENT_KIND:
 *
 * The #GType of #AsmFabricEventKind, an enumeration type registered by
 * asm_fabric_event_kind_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_FABRIC_EVENT_KIND (asm_fabric_event_kind_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_fabric_event_kind_get_type (void) G_GNUC_CONST;

/**
 * AsmFabricEvent:
 * @kind: what happened
 * @switch_id: the switch concerned (the new one for a migration)
 * @old_switch_id: for a migration, the switch left
 * @partition: the partition concerned
 * @device: the device concerned
 * @range: the address range concerned (a window, a physical placement)
 * @message: (transfer none): a human-readable line
 * @old_device: for %ASM_EVENT_VF_TRANSFERRED, the VF that went away
 *
 * An event delivered to observers after the change is committed (or, for
 * %ASM_EVENT_ROLLED_BACK, after it is undone).
 *
 * Since: 0.1
 */
typedef struct {
  AsmFabricEventKind kind;
  AsmId switch_id;
  AsmId old_switch_id;
  AsmId partition;
  AsmId device;
  AsmRange range;
  const char *message;
  AsmId old_device;
} AsmFabricEvent;

/**
 * ASM_TYPE_FABRIC_EVENT:
 *
 * The #GType of #AsmFabricEvent, a boxed type registered by
 * asm_fabric_event_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_FABRIC_EVENT (asm_fabric_event_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_fabric_event_get_type (void) G_GNUC_CONST;

/**
 * AsmFabricEventFunc:
 * @fabric: the fabric
 * @event: what happened
 * @user_data: the data given to asm_fabric_add_observer()
 *
 * An observer.  It runs in the thread that made the change, after the
 * fabric's locks are released, and may call back into the fabric.
 *
 * Since: 0.1
 */
typedef void (*AsmFabricEventFunc) (AsmFabric *fabric,
                                    const AsmFabricEvent *event,
                                    gpointer user_data);

/**
 * AsmDriverFuncs:
 * @hold: the driver of @device must stop accessing it (step "hold")
 * @resume: the driver may go on (step "lift the hold")
 * @moved: the device's partition now reaches it at @physical on @switch_id;
 *   the driver's virtual addresses are unchanged
 * @vf_moved: a VF transfer (asm_fabric_transfer_vf()) is done: the function
 *   the driver used as @old_vf is now @new_vf, reached at @physical on
 *   @switch_id.  A transfer notifies hold (@old_vf), then vf_moved (@old_vf,
 *   @new_vf), then moved and resume (@new_vf).
 *
 * Driver notifications, called during a transaction in the order its steps
 * run, and again (resume) when a transaction is undone.  Each may be %NULL.
 *
 * Since: 0.1
 */
typedef struct {
  void (*hold) (AsmFabric *fabric, AsmId device, gpointer user_data);
  void (*resume) (AsmFabric *fabric, AsmId device, gpointer user_data);
  void (*moved) (AsmFabric *fabric, AsmId device, AsmId switch_id,
                 guint64 physical, gpointer user_data);
  void (*vf_moved) (AsmFabric *fabric, AsmId old_vf, AsmId new_vf,
                    AsmId switch_id, guint64 physical, gpointer user_data);
  /*< private >*/
  gpointer reserved[3];
} AsmDriverFuncs;

/**
 * ASM_TYPE_DRIVER_FUNCS:
 *
 * The #GType of #AsmDriverFuncs, a boxed type registered by
 * asm_driver_funcs_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_DRIVER_FUNCS (asm_driver_funcs_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_driver_funcs_get_type (void) G_GNUC_CONST;

/**
 * AsmJournalStore:
 * @read: the journal as the store holds it, durably: every byte appended
 *   and not truncated away since it was empty (0 bytes for a new store)
 * @append: stores @length bytes of @data at @offset, the store's current
 *   length, durably before it returns %TRUE.  A store that fails must hold
 *   what it held before; a store that refuses because another writer has
 *   taken the journal over fails with %ASM_ERROR_FENCED
 * @truncate: keeps only the first @length bytes, durably
 * @write_snapshot: (nullable): replaces the stored snapshot with @text
 *   (@length bytes), atomically and durably; what
 *   asm_fabric_checkpoint() writes when it is given no file
 *
 * Where a fabric's journal lives when it is not a file: a replicated log,
 * a database, memory for tests.  The fabric frames, checksums and reads
 * the records itself; a store keeps bytes.  Each function gets the
 * store's data pointer first and fails with a #GError.  An operation is
 * reported committed only once the store has its commit record; a store
 * that cannot take a record fails the operation, which then changes
 * nothing, and one that is fenced (%ASM_ERROR_FENCED) stops the fabric
 * where it is: nothing is undone on the hardware, which the writer that
 * took over now owns, and every later operation is refused.
 *
 * Since: 0.1
 */
typedef struct {
  gboolean (*read) (gpointer store, GBytes **out_contents, GError **error);
  gboolean (*append) (gpointer store, guint64 offset, const char *data,
                      gsize length, GError **error);
  gboolean (*truncate) (gpointer store, guint64 length, GError **error);
  gboolean (*write_snapshot) (gpointer store, const char *text, gsize length,
                              GError **error);
  /*< private >*/
  gpointer reserved[4];
} AsmJournalStore;

/**
 * ASM_TYPE_JOURNAL_STORE:
 *
 * The #GType of #AsmJournalStore, a boxed type registered by
 * asm_journal_store_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_JOURNAL_STORE (asm_journal_store_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_journal_store_get_type (void) G_GNUC_CONST;

/**
 * AsmRootRoute:
 * @first: first byte of a window of the global space
 * @last: its last byte (inclusive)
 * @switch_id: the switch the root complex routes it to
 *
 * One entry of the root complex's map (asm_fabric_get_root_map()).
 *
 * Since: 0.1
 */
typedef struct {
  guint64 first;
  guint64 last;
  AsmId switch_id;
} AsmRootRoute;

/**
 * ASM_TYPE_ROOT_ROUTE:
 *
 * The #GType of #AsmRootRoute, a boxed type registered by
 * asm_root_route_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_ROOT_ROUTE (asm_root_route_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_root_route_get_type (void) G_GNUC_CONST;

/**
 * AsmRebalanceReport:
 * @n_examined: workloads examined
 * @n_grown: partitions grown in place
 * @n_migrated: partitions migrated (to grow, or off an overloaded switch)
 * @n_failed: planned changes that could not be made (each left no trace)
 * @n_shrunk: partitions shrunk because their predicted use is well below
 *   their size
 *
 * What asm_fabric_rebalance() did.
 *
 * Since: 0.1
 */
typedef struct {
  guint n_examined;
  guint n_grown;
  guint n_migrated;
  guint n_failed;
  guint n_shrunk;
} AsmRebalanceReport;

/**
 * ASM_TYPE_REBALANCE_REPORT:
 *
 * The #GType of #AsmRebalanceReport, a boxed type registered by
 * asm_rebalance_report_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_REBALANCE_REPORT (asm_rebalance_report_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_rebalance_report_get_type (void) G_GNUC_CONST;

ASM_AVAILABLE_IN_0_1
AsmFabric *asm_fabric_new (const char *name, guint64 global_first,
                           guint64 global_last, guint64 granule,
                           AsmBackend *backend, GError **error);
ASM_AVAILABLE_IN_0_1
AsmFabric *asm_fabric_ref (AsmFabric *fabric);
ASM_AVAILABLE_IN_0_1
void asm_fabric_unref (AsmFabric *fabric);
ASM_AVAILABLE_IN_0_1
const char *asm_fabric_get_name (AsmFabric *fabric);
ASM_AVAILABLE_IN_0_1
AsmBackend *asm_fabric_get_backend (AsmFabric *fabric);
ASM_AVAILABLE_IN_0_1
guint64 asm_fabric_get_granule (AsmFabric *fabric);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_set_window_granule (AsmFabric *fabric, guint64 bytes,
                                        GError **error);

ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_reserve_global (AsmFabric *fabric, guint64 first,
                                    guint64 last, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_add_switch (AsmFabric *fabric, const AsmSwitchSpec *spec,
                                AsmId *out_id, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_add_window (AsmFabric *fabric, AsmId sw, guint64 first,
                                guint64 last, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_add_device (AsmFabric *fabric, const char *name,
                                AsmDeviceKind kind, guint64 bar_size,
                                AsmId sw, guint32 port, AsmId *out_id,
                                GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_set_sriov (AsmFabric *fabric, AsmId pf, guint32 max_vfs,
                               guint64 vf_bar_size, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_create_vf (AsmFabric *fabric, AsmId pf, AsmId *out_vf,
                               GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_add_workload (AsmFabric *fabric, const char *name,
                                  AsmId *out_id, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_request_partition (AsmFabric *fabric, AsmId workload,
                                       const AsmPartitionRequest *req,
                                       AsmId *out_partition,
                                       guint64 *out_virt, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_map_device (AsmFabric *fabric, AsmId partition,
                                AsmId device, guint64 *out_offset,
                                GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_translate (AsmFabric *fabric, AsmId workload,
                               guint64 virt, AsmTranslation *out,
                               GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_grow_partition (AsmFabric *fabric, AsmId partition,
                                    guint64 new_size, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_migrate_partition (AsmFabric *fabric, AsmId partition,
                                       AsmId target_switch, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_release_partition (AsmFabric *fabric, AsmId partition,
                                       GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_transfer_vf (AsmFabric *fabric, AsmId vf, AsmId target_pf,
                                 AsmId *out_new_vf, GError **error);

ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_unmap_device (AsmFabric *fabric, AsmId partition,
                                  AsmId device, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_shrink_partition (AsmFabric *fabric, AsmId partition,
                                      guint64 new_size, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_destroy_vf (AsmFabric *fabric, AsmId vf, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_remove_device (AsmFabric *fabric, AsmId device,
                                   GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_drain_switch (AsmFabric *fabric, AsmId sw,
                                  GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_remove_switch (AsmFabric *fabric, AsmId sw,
                                   GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_remove_workload (AsmFabric *fabric, AsmId workload,
                                     GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_migrate_workload (AsmFabric *fabric, AsmId workload,
                                      AsmId target_switch, GError **error);
ASM_AVAILABLE_IN_0_1
GArray *asm_fabric_get_root_map (AsmFabric *fabric);

ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_record_usage (AsmFabric *fabric, AsmId workload,
                                  gdouble time, guint64 bytes_used,
                                  GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_sample_usage (AsmFabric *fabric, gdouble time,
                                  GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_predict (AsmFabric *fabric, AsmId workload,
                             gdouble horizon, guint64 *out_bytes,
                             GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_rebalance (AsmFabric *fabric, gdouble horizon,
                               AsmRebalanceReport *out_report,
                               GError **error);

ASM_AVAILABLE_IN_0_1
void asm_fabric_set_driver_funcs (AsmFabric *fabric,
                                  const AsmDriverFuncs *funcs,
                                  gpointer user_data);
ASM_AVAILABLE_IN_0_1
guint asm_fabric_add_observer (AsmFabric *fabric, AsmFabricEventFunc func,
                               gpointer user_data);
ASM_AVAILABLE_IN_0_1
void asm_fabric_remove_observer (AsmFabric *fabric, guint observer_id);

ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_find_switch (AsmFabric *fabric, const char *name,
                                 AsmId *out_id);
ASM_AVAILABLE_IN_0_1
const char *asm_fabric_get_workload_name (AsmFabric *fabric, AsmId workload);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_get_switch_info (AsmFabric *fabric, AsmId sw,
                                     AsmSwitchInfo *out);
ASM_AVAILABLE_IN_0_1
GArray *asm_fabric_get_switch_windows (AsmFabric *fabric, AsmId sw);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_get_partition_info (AsmFabric *fabric, AsmId partition,
                                        AsmPartitionInfo *out);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_get_device_info (AsmFabric *fabric, AsmId device,
                                     AsmDeviceInfo *out);
ASM_AVAILABLE_IN_0_1
GArray *asm_fabric_list (AsmFabric *fabric, AsmFabricObjects what);
ASM_AVAILABLE_IN_0_1
GArray *asm_fabric_get_xlat_table (AsmFabric *fabric, AsmId sw);
ASM_AVAILABLE_IN_0_1
void asm_fabric_get_global_stats (AsmFabric *fabric, AsmArenaStats *out);

ASM_AVAILABLE_IN_0_1
char *asm_fabric_save (AsmFabric *fabric, gsize *out_length);
ASM_AVAILABLE_IN_0_1
AsmFabric *asm_fabric_restore (const char *json, gssize length,
                               AsmBackend *backend, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_set_journal (AsmFabric *fabric, const char *path,
                                 GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_set_journal_store (AsmFabric *fabric,
                                       const AsmJournalStore *store,
                                       gpointer store_data,
                                       GDestroyNotify destroy,
                                       GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_checkpoint (AsmFabric *fabric, const char *snapshot_path,
                                GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_recover_store (AsmFabric *fabric,
                                   const AsmJournalStore *store,
                                   gpointer store_data,
                                   GDestroyNotify destroy, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_recover (AsmFabric *fabric, const char *journal_path,
                             GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_fabric_check (AsmFabric *fabric, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AsmFabric, asm_fabric_unref)

G_END_DECLS
