/* asm-fop-private.h: the fabric's operations, each described once
 *
 * Not installed.  See the theory comment in asm-fabric.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * ASM_FABRIC_OPS is the one table of the operations that change a fabric.
 * Each line gives an operation's name (the "op" of its journal record),
 * the name of its argument struct, and its arguments in journal order as
 * ARG (TYPE, field), TYPE being
 *
 *   ID    an AsmId              JSON integer 0..2^32-1
 *   U32   a guint32             JSON integer 0..2^32-1
 *   U64   a guint64             "0x..." string (exact)
 *   F64   a gdouble             "%.17g" string (exact), finite
 *   STR   a const char *        string, or null for NULL
 *   BOOL  a gboolean            true or false
 *
 * From the table come, with no other code to write: the argument struct
 * (FOpAddSwitch ...), the FOP_add_switch constant, the typed runner
 * asm_fop_run_add_switch() that a public function calls (asm-ftxn.h), the
 * declaration of the planner asm_fplan_add_switch() that asm-fplan.c must
 * define with exactly that signature, and the JSON form of the arguments
 * for the journal (asm-fop.c).  Adding an operation is one line here and
 * one planner; its public function fills the struct and calls the runner.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "asm-fjson-private.h"
#include "asm-fmodel-private.h"

G_BEGIN_DECLS

/* The version of the journal's operation records; asm_fop_from_json()
 * refuses any other.  1 was a positional argument array, read no more. */
#define ASM_FOP_JOURNAL_VERSION 2

#define ASM_FABRIC_OPS(OP, ARG)                                               \
  OP (add_switch, AddSwitch,                                                  \
      ARG (STR, name) ARG (U64, bandwidth) ARG (U32, latency_ns)              \
      ARG (U32, table_capacity) ARG (U32, n_ports) ARG (BOOL, pinned))        \
  OP (add_window, AddWindow, ARG (ID, sw) ARG (U64, first) ARG (U64, last))   \
  OP (reserve_global, ReserveGlobal, ARG (U64, first) ARG (U64, last))        \
  OP (add_device, AddDevice,                                                  \
      ARG (STR, name) ARG (U32, kind) ARG (U64, bar_size) ARG (ID, sw)        \
      ARG (U32, port))                                                        \
  OP (set_sriov, SetSriov,                                                    \
      ARG (ID, pf) ARG (U32, max_vfs) ARG (U64, vf_bar_size))                 \
  OP (create_vf, CreateVf, ARG (ID, pf))                                      \
  OP (add_workload, AddWorkload, ARG (STR, name))                             \
  OP (request_partition, RequestPartition,                                    \
      ARG (ID, workload) ARG (U64, size) ARG (U64, align)                     \
      ARG (U64, min_bandwidth) ARG (U32, max_latency_ns)                      \
      ARG (U64, bandwidth_demand) ARG (ID, preferred_switch))                 \
  OP (map_device, MapDevice, ARG (ID, partition) ARG (ID, device))            \
  OP (grow_partition, GrowPartition,                                          \
      ARG (ID, partition) ARG (U64, new_size))                                \
  OP (migrate_partition, MigratePartition,                                    \
      ARG (ID, partition) ARG (ID, target_switch))                            \
  OP (release_partition, ReleasePartition, ARG (ID, partition))               \
  OP (transfer_vf, TransferVf, ARG (ID, vf) ARG (ID, target_pf))              \
  OP (record_usage, RecordUsage,                                              \
      ARG (ID, workload) ARG (F64, time) ARG (U64, bytes_used))               \
  OP (set_window_granule, SetWindowGranule, ARG (U64, bytes))               \
  OP (unmap_device, UnmapDevice, ARG (ID, partition) ARG (ID, device))        \
  OP (shrink_partition, ShrinkPartition,                                      \
      ARG (ID, partition) ARG (U64, new_size))                                \
  OP (destroy_vf, DestroyVf, ARG (ID, vf))                                    \
  OP (remove_device, RemoveDevice, ARG (ID, device))                          \
  OP (drain_switch, DrainSwitch, ARG (ID, sw))                                \
  OP (remove_switch, RemoveSwitch, ARG (ID, sw))                              \
  OP (remove_workload, RemoveWorkload, ARG (ID, workload))                    \
  OP (migrate_workload, MigrateWorkload,                                      \
      ARG (ID, workload) ARG (ID, target_switch))

/* the C type of each argument TYPE */
#define FOP_CTYPE_ID AsmId
#define FOP_CTYPE_U32 guint32
#define FOP_CTYPE_U64 guint64
#define FOP_CTYPE_F64 gdouble
#define FOP_CTYPE_STR const char *
#define FOP_CTYPE_BOOL gboolean

#define FOP_DECLARE_FIELD(TYPE, field) FOP_CTYPE_##TYPE field;
#define FOP_DECLARE_STRUCT(name, Name, fields)                                \
  typedef struct {                                                            \
    fields                                                                    \
  } FOp##Name;
ASM_FABRIC_OPS (FOP_DECLARE_STRUCT, FOP_DECLARE_FIELD)

#define FOP_NO_FIELD(TYPE, field)
#define FOP_DECLARE_KIND(name, Name, fields) FOP_##name,
typedef enum {
  ASM_FABRIC_OPS (FOP_DECLARE_KIND, FOP_NO_FIELD)
  FOP_N_OPS
} FOpKind;

/* a transaction being planned (asm-ftxn-private.h) */
typedef struct _Txn Txn;

/* The planner of each operation: changes the writable clone m as the
 * operation would and records in t the hardware steps that realise it,
 * its description, its events and what it returns (t->out_id,
 * t->out_u64).  On error it may leave m half changed: m is thrown away. */
#define FOP_DECLARE_PLANNER(name, Name, fields)                               \
  gboolean asm_fplan_##name (FModel *m, Txn *t, const FOp##Name *a,           \
                             GError **error);
ASM_FABRIC_OPS (FOP_DECLARE_PLANNER, FOP_NO_FIELD)

typedef struct {
  const char *name;
  gsize args_size;
  gboolean (*plan) (FModel *m, Txn *t, const void *args, GError **error);
  void (*to_json) (JsonBuilder *b, const void *args);
  void (*from_json) (FJsonReader *r, void *args);
} FOpDesc;

/* indexed by FOpKind */
extern const FOpDesc asm_fops[FOP_N_OPS];

/* {"v": 2, "op": NAME, "args": {...}} */
JsonNode *asm_fop_to_json (FOpKind op, const void *args);
/* Reads what asm_fop_to_json() wrote: the arguments in a new block of the
 * operation's args_size (g_free() it), whose strings point into node.
 * NULL with ASM_ERROR_PARSE naming what is wrong. */
gpointer asm_fop_from_json (JsonNode *node, FOpKind *out_op, GError **error);

G_END_DECLS
