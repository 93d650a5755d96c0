/* arena-model.h: a reference model of AsmArena and an operation harness
 *
 * Shared by the property test (tests/test-arena-prop.c) and the fuzz target
 * (tests/fuzz/fuzz-arena.c).  See arena-model.c for the theory.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <asm/asm.h>

G_BEGIN_DECLS

/* The largest window the model handles, in address units. */
#define MODEL_MAX_WIDTH 4096

/* Number of arena slots the harness juggles (the original and its clones). */
#define HARNESS_SLOTS 4

/* Expected outcome of an operation: success, or an AsmError code. */
#define MODEL_OK (-1)
/* The model cannot represent the operation's effect (a valid span outside
 * the window); the harness skips such an operation. */
#define MODEL_SKIP (-2)

/* Per-unit state: the three AsmSegmentKind values, plus this. */
#define MODEL_OUTSIDE 3

/* Deliberate model errors, used to show that the harness notices when the
 * library and the model disagree.  Never set in a real run. */
typedef enum {
  MODEL_SABOTAGE_NONE,
  MODEL_SABOTAGE_BEST_TIE,    /* BEST ties go to the highest segment */
  MODEL_SABOTAGE_NEXT_CURSOR, /* NEXT may start at the cursor's own unit */
  MODEL_SABOTAGE_NOCROSS,     /* nocross is ignored */
  MODEL_SABOTAGE_PHASE,       /* phase is ignored */
  MODEL_SABOTAGE_SPAN_JOIN, /* an allocation may cross into an adjacent span */
  MODEL_SABOTAGE_MOVE_OLD,  /* a move does not treat its old place as free */
  MODEL_SABOTAGE_N,
} ModelSabotage;

typedef struct _ArenaModel ArenaModel;

ArenaModel *arena_model_new (guint64 base, guint width, guint64 quantum);
ArenaModel *arena_model_copy (const ArenaModel *m);
void arena_model_free (ArenaModel *m);
void arena_model_set_sabotage (ArenaModel *m, ModelSabotage sabotage);

int arena_model_add_span (ArenaModel *m, guint64 first, guint64 last);
int arena_model_reserve (ArenaModel *m, guint64 first, guint64 last);
int arena_model_alloc (ArenaModel *m, const AsmRequest *req, guint64 *out_addr);
/* What arena_model_alloc() would answer, without changing anything. */
int arena_model_query (ArenaModel *m, const AsmRequest *req, guint64 *out_addr);
int arena_model_free_at (ArenaModel *m, guint64 addr);
int arena_model_move (ArenaModel *m, guint64 addr, const AsmRequest *req,
                      guint64 *out_addr);
/* Returns ASM_SEGMENT_FREE/ALLOCATED/RESERVED or MODEL_OUTSIDE and the
 * segment (maximal free run inside one span, or one allocation or
 * reservation) that holds @addr. */
int arena_model_lookup (const ArenaModel *m, guint64 addr,
                        AsmRange *out_segment);
void arena_model_get_stats (const ArenaModel *m, AsmArenaStats *out_stats);
guint64 arena_model_largest_free_within (const ArenaModel *m, guint64 min,
                                         guint64 max);

typedef struct {
  AsmRange range;
  AsmSegmentKind kind;
} ModelSegment;

/* Every segment inside a span, in address order (a GArray of ModelSegment). */
GArray *arena_model_segments (const ArenaModel *m);

/* A source of choices: a seeded PRNG, or the bytes of a fuzz input. */
typedef struct {
  guint64 state;
  const guint8 *data;
  gsize len;
  gsize pos;
  gboolean exhausted;
} ModelSource;

void model_source_init_seed (ModelSource *s, guint64 seed);
void model_source_init_data (ModelSource *s, const guint8 *data, gsize len);
guint64 model_source_below (ModelSource *s, guint64 n);
guint64 model_source_u64 (ModelSource *s);

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
  guint64 fit_ok[4];       /* successful allocations (and moves) by fit */
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
void harness_gen (Harness *h, ModelSource *s, ModelOp *op);
gboolean harness_apply (Harness *h, const ModelOp *op);
gboolean harness_verify_all (Harness *h);
void model_op_format (const ModelOp *op, GString *out);
const char *model_window_name (ModelWindow w);

G_END_DECLS
