/* arena-harness.h: operations on AsmArena, checked against the model
 *
 * Shared by the property test (tests/test-arena-prop.c) and the fuzz target
 * (tests/fuzz/fuzz-arena.c).  See arena-harness.c for the theory.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "arena-model.h"

G_BEGIN_DECLS

/* Number of arena slots the harness juggles (the original and its clones). */
#define HARNESS_SLOTS 4

typedef enum {
  OP_ADD_SPAN,
  OP_RESERVE,
  OP_ALLOC,
  OP_ALLOC_FULL,
  OP_FIND_FREE,
  OP_FREE,
  OP_MOVE,
  OP_LOOKUP,
  OP_LOOKUP_FULL,
  OP_LARGEST_FREE,
  OP_CLONE,
  OP_DROP,
  OP_VERIFY,
  OP_N,
} ModelOpKind;

/* One concrete operation: replayable on any harness state. */
typedef struct {
  ModelOpKind kind;
  guint slot;  /* the arena it applies to */
  guint slot2; /* OP_CLONE: the slot that receives the clone */
  guint64 a;   /* first / addr / min */
  guint64 b;   /* last / max / OP_VERIFY: walk stop count */
  AsmRequest req;
} ModelOp;

typedef enum {
  WINDOW_ZERO, /* [0, W-1] */
  WINDOW_4G,   /* straddles 2^32 */
  WINDOW_TOP,  /* ends at G_MAXUINT64 */
  WINDOW_N,
} ModelWindow;

typedef struct {
  ModelWindow window;
  guint width;
  guint64 quantum;
  guint64 base;
  /* generator profile: bias between allocating and freeing */
  guint free_weight;
  /* mostly allocations of one or two quanta: many segments, a deep tree */
  gboolean tiny;
  /* if not 0: every fourth stretch of this many steps mostly frees, so the
   * tree shrinks again (merging and rebalancing nodes) after it has grown */
  guint shrink_every;
} HarnessConfig;

/* How much of the interesting ground a run covered. */
typedef struct {
  guint64 fit_ok[5];       /* successful allocations (and moves) by fit */
  guint64 ok_align;        /* ... with an alignment above the quantum */
  guint64 ok_phase;        /* ... with a phase */
  guint64 ok_nocross;      /* ... with nocross */
  guint64 ok_minmax;       /* ... with min or max set */
  guint64 best_not_lowest; /* BEST placed elsewhere than LOWEST would */
  guint64 next_wrapped;    /* NEXT found nothing after its cursor */
  guint64 move_ok;
  guint64 move_overlap;   /* the new place overlapped the old one */
  guint64 adjacent_spans; /* spans added touching another span */
  guint64 across_middle;  /* placed across the window's middle (2^32) */
  guint64 at_top;         /* placed ending at G_MAXUINT64 */
  guint64 max_height;     /* of the arena's B+tree */
  guint64 max_segments;
} HarnessCoverage;

typedef struct {
  HarnessConfig cfg;
  AsmArena *arena[HARNESS_SLOTS];
  ArenaModel *model[HARNESS_SLOTS];
  ModelSabotage sabotage;
  guint n_created;
  guint64 step;
  GString *why;         /* what went wrong, on failure */
  guint64 counts[OP_N]; /* operations applied, by kind */
  guint64 n_failed_ok;  /* operations the model expected to fail */
  guint64 n_no_space;
  guint64 n_invalid;
  guint64 n_in_use;
  guint64 n_not_found;
  gboolean trace; /* print every operation and its result */
  HarnessCoverage cov;
} Harness;

void harness_config_init (HarnessConfig *cfg, ModelWindow window, guint width,
                          guint64 quantum, guint free_weight);
Harness *harness_new (const HarnessConfig *cfg, ModelSabotage sabotage);
void harness_free (Harness *h);
void harness_gen (Harness *h, ChoiceSource *s, ModelOp *op);
gboolean harness_apply (Harness *h, const ModelOp *op);
gboolean harness_verify_all (Harness *h);
void model_op_format (const ModelOp *op, GString *out);
const char *model_window_name (ModelWindow w);

G_END_DECLS
