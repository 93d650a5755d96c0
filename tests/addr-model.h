/* addr-model.h: a brute-force model of AsmAddrSpace
 *
 * Shared by the property test (tests/test-addr-prop.c) and the fuzz target
 * (tests/fuzz/fuzz-addr.c).  See addr-model.c for the rules it follows.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "asm-test.h"

G_BEGIN_DECLS

/* The largest space the model handles: every tuple is enumerated. */
#define ADDR_MODEL_MAX_TUPLES 512

typedef struct {
  guint n_dims;
  guint8 bits[ASM_ADDR_MAX_DIMS];
} AddrShape;

/* The small spaces both harnesses run on (each <= ADDR_MODEL_MAX_TUPLES). */
extern const AddrShape addr_model_shapes[];
extern const guint addr_model_n_shapes;

/* Deliberately wrong models, to show that a harness notices. */
typedef enum {
  ADDR_SABOTAGE_NONE,
  ADDR_SABOTAGE_ANY_HIGHEST, /* reserve_any takes the highest free tuple */
  ADDR_SABOTAGE_BOX_PARTIAL, /* a refused box keeps its free tuples */
  ADDR_SABOTAGE_BLOCK_FIRST, /* find_free (k > 0) looks at the first tuple */
  ADDR_SABOTAGE_N
} AddrSabotage;

/* One "pooled" and one "reserved" flag per tuple, in lexicographic order:
 * tuple t is index ((t[0] * size[1] + t[1]) * size[2] + t[2]) ... */
typedef struct {
  guint n_dims;
  guint64 size[ASM_ADDR_MAX_DIMS]; /* values per dimension: 2^bits */
  guint n;                         /* number of tuples */
  guint8 pooled[ADDR_MODEL_MAX_TUPLES];
  guint8 reserved[ADDR_MODEL_MAX_TUPLES];
  guint64 n_reserved;
  AddrSabotage sabotage;
} AddrModel;

void addr_model_init (AddrModel *m, const AddrShape *shape,
                      AddrSabotage sabotage);
guint addr_model_index (const AddrModel *m, const guint64 *t);
void addr_model_tuple (const AddrModel *m, guint i, guint64 *t);
gboolean addr_model_valid_tuple (const AddrModel *m, const guint64 *t);
guint addr_model_n_pooled (const AddrModel *m);

/* The calls: TEST_OK or the ASM_ERROR code the library must give; a
 * refused call changes nothing. */
int addr_model_add_pool (AddrModel *m, const AsmRange *box);
int addr_model_reserve (AddrModel *m, const guint64 *t);
int addr_model_reserve_box (AddrModel *m, const AsmRange *box);
int addr_model_reserve_any (AddrModel *m, const AsmRange *within,
                            guint64 *out);
int addr_model_find_free (const AddrModel *m, const AsmRange *within,
                          guint k, guint64 *out);
int addr_model_release (AddrModel *m, const guint64 *t);
gboolean addr_model_is_free (const AddrModel *m, const guint64 *t);
gboolean addr_model_is_pooled (const AddrModel *m, const guint64 *t);

/* Compares everything observable: is_pooled and is_free of every tuple and
 * the foreach_reserved listing.  FALSE on a difference, said in @why. */
gboolean addr_model_compare (const AddrModel *m, AsmAddrSpace *s,
                             GString *why);

/* "(1,2,3)" and "{0..1, 2..2}" (or "NULL"), for reports. */
void addr_model_append_tuple (GString *out, guint n_dims, const guint64 *t);
void addr_model_append_box (GString *out, guint n_dims, const AsmRange *box);

G_END_DECLS
