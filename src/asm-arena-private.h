/* asm-arena-private.h: arena internals for tests and benchmarks
 *
 * Not installed.  Reached through the static internal library only, so
 * nothing here is exported from libasm-1.so.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <asm/asm-arena.h>

G_BEGIN_DECLS

/* The shape of an arena's B+tree. */
typedef struct {
  guint height;        /* levels; 0 for an empty arena */
  guint64 n_leaves;
  guint64 n_inner;
  guint64 n_segments;  /* free, allocated and reserved */
  guint64 bytes;       /* node memory reachable from this arena */
  gsize leaf_bytes;    /* sizeof one leaf */
  gsize inner_bytes;   /* sizeof one inner node */
} AsmArenaTreeInfo;

void asm_arena_get_tree_info (AsmArena *a, AsmArenaTreeInfo *info);

/* The refusal hint (see "Refusal hint" in asm-arena.c): TRUE, with the
 * hinted request in *out (fit LOWEST), when the arena holds one. */
gboolean asm_arena_get_refusal_hint (AsmArena *a, AsmRequest *out);

/* TRUE when req is valid and the hint alone answers it with NO_SPACE. */
gboolean asm_arena_refusal_hint_covers (AsmArena *a, const AsmRequest *req);

G_END_DECLS
