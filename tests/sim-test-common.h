/* sim-test-common.h: what the sim test programs share
 *
 * test-sim-{ops,faults,verify,persist}.c test the sim backend, one part
 * each; what more than one of them uses is here and in
 * sim-test-common.c: the fixture (a sim backend and its ops table), the
 * backend's operations called as a fabric calls them (hw_*), the checks
 * that fail at the caller's line (HW_FAILS, assert_usage,
 * assert_dump_has, assert_check), and a script of every operation with
 * the dump it ends in.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "asm-test.h"

#include "asm-sim-private.h"

G_BEGIN_DECLS

#define X "0x%" G_GINT64_MODIFIER "x"
#define MIB (G_GUINT64_CONSTANT (1) << 20)

/* ---------------------------------------------------------------------- */
/* The fixture                                                            */
/* ---------------------------------------------------------------------- */

typedef struct {
  AsmBackend *b;
  const AsmBackendOps *ops;
  gpointer self;
} Fx;

Fx *fx_new (void);
/* asm_sim_check(), then frees */
void fx_free (Fx *fx);
/* the cmocka setup and teardown: *state is an Fx */
int setup (void **state);
int teardown (void **state);

/* ---------------------------------------------------------------------- */
/* The operations, as a fabric calls them                                 */
/* ---------------------------------------------------------------------- */

gboolean hw_switch (Fx *fx, AsmId sw, const char *name, guint32 n_ports,
                    guint32 capacity, GError **error);
gboolean hw_windows_v (Fx *fx, AsmId sw, const AsmRange *w, guint n,
                       GError **error);
#define hw_windows(fx, sw, error, ...) \
  hw_windows_v ((fx), (sw), (const AsmRange[]) { __VA_ARGS__ }, \
                G_N_ELEMENTS (((const AsmRange[]) { __VA_ARGS__ })), (error))
gboolean hw_begin (Fx *fx, AsmId sw, GError **error);
/* entry `key` of partition key, workload 100 + key */
AsmXlatEntry entry (AsmId key, guint64 virt, guint64 size, guint64 offset);
gboolean hw_set_entry (Fx *fx, AsmId sw, AsmXlatEntry e, GError **error);
/* entry `key`: virtual key << 32, 1 MiB at offset */
gboolean hw_set (Fx *fx, AsmId sw, AsmId key, guint64 offset,
                 GError **error);
gboolean hw_remove (Fx *fx, AsmId sw, AsmId key, GError **error);
gboolean hw_commit (Fx *fx, AsmId sw, GError **error);
void hw_abort (Fx *fx, AsmId sw);
/* binds device dev, named "dev<dev>" */
AsmBackendStatus hw_bind (Fx *fx, AsmId dev, AsmId sw, guint32 port,
                          GError **error);
AsmBackendStatus hw_unbind (Fx *fx, AsmId dev, AsmId sw, guint32 port,
                            GError **error);
gboolean hw_wait (Fx *fx, AsmId dev, GError **error);
gboolean hw_hold (Fx *fx, AsmId dev, GError **error);
gboolean hw_release (Fx *fx, AsmId dev, GError **error);
gboolean hw_vf_create (Fx *fx, AsmId pf, guint32 index, AsmId vf,
                       GError **error);
gboolean hw_vf_destroy (Fx *fx, AsmId pf, guint32 index, AsmId vf,
                        GError **error);
gboolean hw_flush (Fx *fx, AsmId sw, guint64 first, guint64 last,
                   GError **error);
gboolean hw_root_v (Fx *fx, AsmId sw, const AsmRange *w, guint n,
                    GError **error);
#define hw_root(fx, sw, error, ...) \
  hw_root_v ((fx), (sw), (const AsmRange[]) { __VA_ARGS__ }, \
             G_N_ELEMENTS (((const AsmRange[]) { __VA_ARGS__ })), (error))
gboolean hw_switch_remove (Fx *fx, AsmId sw, GError **error);
gboolean hw_usage (Fx *fx, AsmId sw, AsmId partition, guint64 *out_bytes,
                   GError **error);

/* usage_read must answer `expected` */
void usage_is_at (Fx *fx, AsmId sw, AsmId partition, guint64 expected,
                  const char *file, int line);
#define assert_usage(fx, sw, partition, expected) \
  usage_is_at ((fx), (sw), (partition), (expected), __FILE__, __LINE__)

#define DONE(expr) ((expr) == ASM_BACKEND_DONE)
#define PENDING(expr) ((expr) == ASM_BACKEND_PENDING)
#define NOT_FAILED(expr) ((expr) != ASM_BACKEND_FAILED)

void fails_at (gboolean ok, GError *err, const char *substr,
               const char *before, const char *after, const char *expr,
               const char *file, int line);

/* HW_FAILS (expr, substr): expr, which may use `&error`, is FALSE with an
 * ASM_ERROR_BACKEND error that contains substr, and the hardware (the dump
 * of fx) did not change. */
#define HW_FAILS(expr, substr) \
  G_STMT_START { \
    GError *error = NULL; \
    g_autofree char *before_ = asm_sim_dump (fx->b); \
    gboolean ok_ = (expr); \
    g_autofree char *after_ = asm_sim_dump (fx->b); \
    fails_at (ok_, error, (substr), before_, after_, #expr, __FILE__, \
              __LINE__); \
  } G_STMT_END

void dump_has_at (Fx *fx, const char *text, gboolean want, const char *file,
                  int line);
#define assert_dump_has(fx, text) \
  dump_has_at ((fx), (text), TRUE, __FILE__, __LINE__)
#define assert_dump_lacks(fx, text) \
  dump_has_at ((fx), (text), FALSE, __FILE__, __LINE__)

void check_at (Fx *fx, const char *file, int line);
#define assert_check(fx) check_at ((fx), __FILE__, __LINE__)

/* Two switches: 1 "sw1" (4 ports, 4 entries), 2 "sw2" (2 ports, 1 entry). */
void two_switches (Fx *fx);

/* ---------------------------------------------------------------------- */
/* A script that uses every operation                                     */
/* ---------------------------------------------------------------------- */

/* Step i (0 .. N_STEPS - 1) returns its result. */
#define N_STEPS 29

gboolean run_step (Fx *fx, guint i, GError **error);
/* asm_sim_dump() after the whole script */
extern const char script_dump[];

G_END_DECLS
