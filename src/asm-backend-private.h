/* asm-backend-private.h: what the fabric and the backends share beyond
 * the public ops table
 *
 * Not installed.  A backend (asm-sim.c, asm-qemu.c) includes this and its
 * public headers, never the fabric's private headers: the fabric's model
 * is none of its business.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <asm/asm-backend.h>

G_BEGIN_DECLS

/* the ops table given to asm_backend_new() */
const AsmBackendOps *asm_backend_get_ops (AsmBackend *backend);

G_END_DECLS
