/* asm-sim.h: the simulated switch fabric, the default backend (layer 4)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ASM_INSIDE) && !defined(ASM_COMPILATION)
#error "Only <asm/asm.h> can be included directly."
#endif

#include <asm/asm-fabric.h>

G_BEGIN_DECLS

/**
 * AsmSimOp:
 * @ASM_SIM_OP_ANY: every kind of call
 * @ASM_SIM_OP_WINDOWS: windows_commit
 * @ASM_SIM_OP_XLAT: xlat_begin, xlat_set, xlat_remove and xlat_commit
 * @ASM_SIM_OP_BIND: device_bind
 * @ASM_SIM_OP_UNBIND: device_unbind
 * @ASM_SIM_OP_HOLD: device_hold and device_release
 * @ASM_SIM_OP_VF: vf_create and vf_destroy
 * @ASM_SIM_OP_FLUSH: cache_flush
 * @ASM_SIM_OP_ROOT: root_routes (the root complex's map)
 * @ASM_SIM_OP_USAGE: usage_read (the partitions' usage counters)
 *
 * Kinds of simulated hardware call, for fault injection.  switch_add and
 * switch_remove have no kind of their own: only %ASM_SIM_OP_ANY fails
 * them.  device_wait has the kind of the bind or unbind it completes.  New
 * kinds are added at the end; the values of the others never change.
 *
 * Since: 0.1
 */
typedef enum {
  ASM_SIM_OP_ANY,
  ASM_SIM_OP_WINDOWS,
  ASM_SIM_OP_XLAT,
  ASM_SIM_OP_BIND,
  ASM_SIM_OP_UNBIND,
  ASM_SIM_OP_HOLD,
  ASM_SIM_OP_VF,
  ASM_SIM_OP_FLUSH,
  ASM_SIM_OP_ROOT,
  ASM_SIM_OP_USAGE,
} AsmSimOp;

/**
 * ASM_TYPE_SIM_OP:
 *
 * The #GType of #AsmSimOp, an enumeration type registered by
 * asm_sim_op_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_SIM_OP (asm_sim_op_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_sim_op_get_type (void) G_GNUC_CONST;

ASM_AVAILABLE_IN_0_1
AsmBackend *asm_sim_backend_new (void);
ASM_AVAILABLE_IN_0_1
AsmBackend *asm_sim_backend_new_persistent (const char *path,
                                            GError **error);
ASM_AVAILABLE_IN_0_1
const char *asm_sim_get_path (AsmBackend *backend);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_sim_is_sim (AsmBackend *backend);
ASM_AVAILABLE_IN_0_1
void asm_sim_fail_call (AsmBackend *backend, guint64 n);
ASM_AVAILABLE_IN_0_1
void asm_sim_fail_kind (AsmBackend *backend, AsmSimOp kind, gboolean fail);
ASM_AVAILABLE_IN_0_1
void asm_sim_crash_after (AsmBackend *backend, guint64 n);
ASM_AVAILABLE_IN_0_1
void asm_sim_clear_faults (AsmBackend *backend);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_sim_is_crashed (AsmBackend *backend);
ASM_AVAILABLE_IN_0_1
guint64 asm_sim_get_n_calls (AsmBackend *backend);
ASM_AVAILABLE_IN_0_1
char *asm_sim_dump (AsmBackend *backend);

ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_sim_verify (AsmBackend *backend, AsmFabric *fabric,
                         GError **error);

G_END_DECLS
