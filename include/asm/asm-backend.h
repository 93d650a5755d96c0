/* asm-backend.h: how a fabric reaches hardware (layer 4)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ASM_INSIDE) && !defined(ASM_COMPILATION)
#error "Only <asm/asm.h> can be included directly."
#endif

#include <asm/asm-range.h>

G_BEGIN_DECLS

/**
 * AsmId:
 *
 * The id of a fabric object (switch, device, workload, partition).  Ids
 * start at 1 and are never reused within a fabric; %ASM_ID_NONE is 0.
 *
 * Since: 0.1
 */
typedef guint32 AsmId;

/**
 * ASM_ID_NONE:
 *
 * "No object".
 *
 * Since: 0.1
 */
#define ASM_ID_NONE ((AsmId) 0)

/**
 * AsmBackendCaps:
 * @ASM_BACKEND_CAP_WINDOWS: programs switch address windows
 * @ASM_BACKEND_CAP_TRANSLATION: programs translation tables
 * @ASM_BACKEND_CAP_DEVICES: binds and unbinds devices to switch ports
 * @ASM_BACKEND_CAP_HOLD: holds and releases device drivers
 * @ASM_BACKEND_CAP_FLUSH: flushes caches
 * @ASM_BACKEND_CAP_VFS: creates and destroys SR-IOV virtual functions
 * @ASM_BACKEND_CAP_ROOT: programs the root complex's map of which switch
 *   routes which window of the global space
 * @ASM_BACKEND_CAP_USAGE: reads how many bytes of a partition are in use
 *   (the profiler's samples, asm_fabric_sample_usage())
 *
 * What a backend applies to hardware.  For a capability it lacks, the
 * fabric keeps that part of the state in its model only.
 *
 * Since: 0.1
 */
typedef enum {
  ASM_BACKEND_CAP_WINDOWS = 1 << 0,
  ASM_BACKEND_CAP_TRANSLATION = 1 << 1,
  ASM_BACKEND_CAP_DEVICES = 1 << 2,
  ASM_BACKEND_CAP_HOLD = 1 << 3,
  ASM_BACKEND_CAP_FLUSH = 1 << 4,
  ASM_BACKEND_CAP_VFS = 1 << 5,
  ASM_BACKEND_CAP_ROOT = 1 << 6,
  ASM_BACKEND_CAP_USAGE = 1 << 7,
} AsmBackendCaps;

/**
 * ASM_TYPE_BACKEND_CAPS:
 *
 * The #GType of #AsmBackendCaps, a flags type registered by
 * asm_backend_caps_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_BACKEND_CAPS (asm_backend_caps_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_backend_caps_get_type (void) G_GNUC_CONST;

/**
 * AsmBackendStatus:
 * @ASM_BACKEND_DONE: the operation is complete
 * @ASM_BACKEND_PENDING: the operation started and completes later; the
 *   fabric calls `device_wait` before it goes on
 * @ASM_BACKEND_FAILED: the operation failed and changed nothing; the error
 *   is set
 *
 * The result of a device operation.
 *
 * Since: 0.1
 */
typedef enum {
  ASM_BACKEND_DONE,
  ASM_BACKEND_PENDING,
  ASM_BACKEND_FAILED,
} AsmBackendStatus;

/**
 * ASM_TYPE_BACKEND_STATUS:
 *
 * The #GType of #AsmBackendStatus, an enumeration type registered by
 * asm_backend_status_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_BACKEND_STATUS (asm_backend_status_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_backend_status_get_type (void) G_GNUC_CONST;

/**
 * AsmXlatEntry:
 * @key: what the entry routes: a partition id for a partition's entry, or
 *   a device id for a device redirected to another switch (VF transfer)
 * @partition: the partition the entry belongs to
 * @workload: its workload
 * @virt_first: first virtual address of the partition
 * @size: size of the partition in bytes
 * @offset: physical address minus virtual address, modulo 2^64
 *
 * One translation-table entry: an access to `virt_first + x` (x < size) is
 * routed to `virt_first + x + offset`.
 *
 * Since: 0.1
 */
typedef struct {
  AsmId key;
  AsmId partition;
  AsmId workload;
  guint64 virt_first;
  guint64 size;
  guint64 offset;
} AsmXlatEntry;

/**
 * ASM_TYPE_XLAT_ENTRY:
 *
 * The #GType of #AsmXlatEntry, a boxed type registered by
 * asm_xlat_entry_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_XLAT_ENTRY (asm_xlat_entry_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_xlat_entry_get_type (void) G_GNUC_CONST;

/**
 * AsmBackendOps:
 * @name: a short name ("sim", "qemu")
 * @caps: the #AsmBackendCaps this backend applies
 * @transaction_begin: a transaction starts applying its steps
 * @undo_begin: a step failed; the calls until @transaction_end undo the
 *   steps already applied, in reverse order (a backend must not inject or
 *   report faults it could avoid here: undo cannot stop halfway)
 * @transaction_end: the transaction is over, committed or undone
 * @switch_add: a switch joined the fabric (called once per switch, before
 *   any other call that names it)
 * @windows_commit: make @windows the switch's address windows
 * @xlat_begin: open an update of a switch's translation table
 * @xlat_set: stage an entry (add, or replace the entry with the same key)
 * @xlat_remove: stage the removal of the entry with this key
 * @xlat_commit: apply the staged entries at once
 * @xlat_abort: drop the staged entries (cannot fail)
 * @device_bind: bind a device to a switch port
 * @device_unbind: unbind a device from its port
 * @device_wait: wait for a %ASM_BACKEND_PENDING bind or unbind to finish
 * @device_hold: quiesce a device's driver (accesses stall)
 * @device_release: lift the hold
 * @vf_create: create virtual function @vf_index on physical function @pf
 * @vf_destroy: destroy it
 * @cache_flush: flush what a switch caches for a physical range
 * @destroy: free the backend's state
 * @root_routes: make the root complex route exactly @windows (sorted,
 *   disjoint) of the global space to switch @sw, replacing what it routed
 *   there before (an empty list: nothing)
 * @switch_remove: a switch left the fabric (it has no partition, window or
 *   bound device left); its inverse is @switch_add
 * @usage_read: the bytes of partition @partition, placed on switch @sw,
 *   that its workload uses now (a counter of the switch)
 *
 * A backend: a const table of operations, any of which may be %NULL (the
 * fabric then treats that part of the state as model-only).  `self` is the
 * pointer given to asm_backend_new().  Every operation that can fail
 * returns %FALSE (or %ASM_BACKEND_FAILED) with @error set, and changes
 * nothing when it fails.
 *
 * Undo.  The fabric undoes a half-applied transaction by calling the
 * inverse operations in reverse order, and a restarted fabric may call an
 * inverse for a step that had not been applied when the process died, so
 * inverses must be idempotent: removing an absent entry, unbinding an
 * unbound device, releasing a device that is not held, destroying an
 * absent VF and removing an absent switch succeed and do nothing.  A
 * recovery may also repeat the undo of a transaction whose process was
 * killed in the middle of undoing it, so the inverses must go through
 * from any point of that: unbinding a device at a port where it is not,
 * and holding a device that is not present, succeed and do nothing.
 *
 * Since: 0.1
 */
typedef struct {
  const char *name;
  guint32 caps;
  void (*transaction_begin) (gpointer self, const char *what);
  void (*undo_begin) (gpointer self);
  void (*transaction_end) (gpointer self, gboolean committed);
  gboolean (*switch_add) (gpointer self, AsmId sw, const char *name,
                          guint32 n_ports, guint32 table_capacity,
                          GError **error);
  gboolean (*windows_commit) (gpointer self, AsmId sw, const AsmRange *windows,
                              guint n_windows, GError **error);
  gboolean (*xlat_begin) (gpointer self, AsmId sw, GError **error);
  gboolean (*xlat_set) (gpointer self, AsmId sw, const AsmXlatEntry *entry,
                        GError **error);
  gboolean (*xlat_remove) (gpointer self, AsmId sw, AsmId key,
                           GError **error);
  gboolean (*xlat_commit) (gpointer self, AsmId sw, GError **error);
  void (*xlat_abort) (gpointer self, AsmId sw);
  AsmBackendStatus (*device_bind) (gpointer self, AsmId device,
                                   const char *device_name, AsmId sw,
                                   guint32 port, GError **error);
  AsmBackendStatus (*device_unbind) (gpointer self, AsmId device, AsmId sw,
                                     guint32 port, GError **error);
  gboolean (*device_wait) (gpointer self, AsmId device, guint timeout_ms,
                           GError **error);
  gboolean (*device_hold) (gpointer self, AsmId device, GError **error);
  gboolean (*device_release) (gpointer self, AsmId device, GError **error);
  gboolean (*vf_create) (gpointer self, AsmId pf, guint32 vf_index,
                         AsmId vf, GError **error);
  gboolean (*vf_destroy) (gpointer self, AsmId pf, guint32 vf_index,
                          AsmId vf, GError **error);
  gboolean (*cache_flush) (gpointer self, AsmId sw, const AsmRange *range,
                           GError **error);
  void (*destroy) (gpointer self);
  gboolean (*root_routes) (gpointer self, AsmId sw, const AsmRange *windows,
                           guint n_windows, GError **error);
  gboolean (*switch_remove) (gpointer self, AsmId sw, GError **error);
  gboolean (*usage_read) (gpointer self, AsmId sw, AsmId partition,
                          guint64 *out_bytes, GError **error);
  /*< private >*/
  gpointer reserved[5];
} AsmBackendOps;

/**
 * ASM_TYPE_BACKEND_OPS:
 *
 * The #GType of #AsmBackendOps, a boxed type registered by
 * asm_backend_ops_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_BACKEND_OPS (asm_backend_ops_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_backend_ops_get_type (void) G_GNUC_CONST;

/**
 * AsmBackend:
 *
 * A backend instance: an #AsmBackendOps table and its state.  Reference
 * counted; a fabric holds a reference to its backend.
 *
 * Since: 0.1
 */
typedef struct _AsmBackend AsmBackend;

/**
 * ASM_TYPE_BACKEND:
 *
 * The #GType of #AsmBackend, a boxed type registered by
 * asm_backend_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_BACKEND (asm_backend_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_backend_get_type (void) G_GNUC_CONST;

ASM_AVAILABLE_IN_0_1
AsmBackend *asm_backend_new (const AsmBackendOps *ops, gpointer self);
ASM_AVAILABLE_IN_0_1
AsmBackend *asm_backend_ref (AsmBackend *backend);
ASM_AVAILABLE_IN_0_1
void asm_backend_unref (AsmBackend *backend);
ASM_AVAILABLE_IN_0_1
const char *asm_backend_get_name (AsmBackend *backend);
ASM_AVAILABLE_IN_0_1
guint32 asm_backend_get_caps (AsmBackend *backend);
ASM_AVAILABLE_IN_0_1
gpointer asm_backend_get_self (AsmBackend *backend);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AsmBackend, asm_backend_unref)

G_END_DECLS
