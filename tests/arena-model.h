/* arena-model.h: a reference model of AsmArena
 *
 * Used by the harness of arena-harness.c (the property test and the fuzz
 * target) and by the benchmark's smoke run (tests/bench/bench-arena.c).
 * See arena-model.c for the theory.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "asm-test.h"

G_BEGIN_DECLS

/* The largest window the model handles, in address units. */
#define MODEL_MAX_WIDTH 4096

/* Expected outcome of an operation: success, or an AsmError code. */
#define MODEL_OK TEST_OK
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

G_END_DECLS
