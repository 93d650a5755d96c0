/* asm-sim-private.h: the simulated backend's internals for tests
 *
 * Not installed.  Reached through the static internal library only, so
 * nothing here is exported from libasm-1.so.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <asm/asm-sim.h>

G_BEGIN_DECLS

/* The ops table of every sim backend (the `self` to pass to its members is
 * asm_backend_get_self() of a backend from asm_sim_backend_new()). */
const AsmBackendOps *asm_sim_get_ops (void);

/* Checks every invariant of the simulated hardware state (the list is in
 * the theory comment of asm-sim.c); reports the first broken one. */
gboolean asm_sim_check (AsmBackend *backend, GError **error);

/* With @pending TRUE, device_bind and device_unbind that change something
 * return ASM_BACKEND_PENDING, and the change takes effect at device_wait.
 * Off by default. */
void asm_sim_set_pending_binds (AsmBackend *backend, gboolean pending);

G_END_DECLS
