/* arena-cache-mirror.h: a cached arena, checked against an uncached one
 *
 * Shared by the property test (tests/test-arena-cache.c) and the fuzz
 * target (tests/fuzz/fuzz-arena-cache.c).  See arena-cache-mirror.c for
 * the theory.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "asm-test.h"

G_BEGIN_DECLS

typedef struct {
  guint64 quantum;  /* both arenas' */
  guint64 base;     /* the one span: [base, base + pages * quantum - 1] */
  guint64 pages;    /* its width, in quanta */
  guint64 max_size; /* the cache's (asm_arena_enable_cache()) */
} CacheMirrorConfig;

/* an allocation or a reservation, live on both arenas */
typedef struct {
  guint64 addr, size;
} CacheMirrorRange;

typedef struct {
  CacheMirrorConfig cfg;
  AsmArena *arena;  /* with the cache */
  AsmArena *mirror; /* without */
  GArray *live;     /* CacheMirrorRange: what both hold now */
  GArray *dead;     /* CacheMirrorRange: recently freed, to free again */
  guint64 step;     /* steps and drains done */
  GString *why;     /* what went wrong, when a step returned FALSE */
  gboolean trace;   /* print every operation and its result */
} CacheMirror;

CacheMirror *cache_mirror_new (const CacheMirrorConfig *cfg);
void cache_mirror_free (CacheMirror *m);
gboolean cache_mirror_step (CacheMirror *m, ChoiceSource *s);
gboolean cache_mirror_drain (CacheMirror *m);
gboolean cache_mirror_burst (CacheMirror *m, ChoiceSource *s);

/* a request through asm_arena_alloc_instant() (when it has the shape it
 * takes and by_instant) or asm_arena_alloc_full(): both entry points in
 * the tests that alternate them */
gboolean arena_alloc_either (AsmArena *a, const AsmRequest *r,
                             guint64 *out_addr, GError **error,
                             gboolean by_instant);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CacheMirror, cache_mirror_free)

G_END_DECLS
