/* asm-arena-cache-private.h: between the arena's tree and its cache
 *
 * asm-arena.c owns the tree; asm-arena-cache.c the magazines, the depot,
 * the table of ranges the cache knows and the locks (its theory comment
 * says how they fit).  Not installed, not exported.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <asm/asm-arena.h>

G_BEGIN_DECLS

typedef struct _AsmArenaCache AsmArenaCache;

/* asm-arena.c: the tree.  With a cache, called with the arena's lock held
 * (asm_arena_cache_lock()); the first two are also asm_arena_alloc_full()
 * and asm_arena_free() of an arena without a cache (both public functions
 * are in asm-arena-cache.c, with the cache's hit paths inlined). */
gboolean asm_arena_tree_alloc (AsmArena *a, const AsmRequest *req,
                               guint64 *out_addr, GError **error);
gboolean asm_arena_tree_alloc_run (AsmArena *a, const AsmRequest *req,
                                   guint64 stride, guint n_max,
                                   guint64 *out_addr, guint *out_n,
                                   GError **error);
gboolean asm_arena_tree_free (AsmArena *a, guint64 addr, GError **error);
void asm_arena_tree_release (AsmArena *a, guint64 addr, guint64 size);
gboolean asm_arena_tree_segment (AsmArena *a, guint64 addr,
                                 AsmRange *out_segment,
                                 AsmSegmentKind *out_kind);
void asm_arena_tree_stats (AsmArena *a, AsmArenaStats *out_stats);
gboolean asm_arena_tree_check (AsmArena *a, GError **error);

/* asm-arena-cache.c */
AsmArenaCache *asm_arena_cache_new (AsmArena *arena, const char *name,
                                    guint64 quantum, guint64 max_size,
                                    GError **error);
void asm_arena_cache_free (AsmArenaCache *c);

/* the arena's lock, for every call the cache does not serve; flush gives
 * every cached range back to the tree first */
void asm_arena_cache_lock (AsmArenaCache *c, AsmArena *a, gboolean flush);
void asm_arena_cache_unlock (AsmArenaCache *c);

/* with the arena's lock held: is the allocation at addr a cached range;
 * forget the allocation at addr (it moved) */
gboolean asm_arena_cache_holds (AsmArenaCache *c, guint64 addr);
void asm_arena_cache_forget (AsmArenaCache *c, guint64 addr);

/* take every lock, then report or verify */
void asm_arena_cache_stats (AsmArenaCache *c, AsmArena *a,
                            AsmArenaStats *out_stats);
void asm_arena_cache_get_stats (AsmArenaCache *c,
                                AsmArenaCacheStats *out_stats);
gboolean asm_arena_cache_check (AsmArenaCache *c, AsmArena *a,
                                GError **error);

G_END_DECLS
