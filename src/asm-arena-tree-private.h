/* asm-arena-tree-private.h: the arena's B+tree, shared by its files
 *
 * The types of the tree (nodes, leaves, segments, requests, the arena
 * header), the small arithmetic every part of it uses, and the functions
 * one file of the arena calls in another.  asm-arena.c holds the theory
 * and the tree's changes, asm-arena-search.c the constrained search,
 * asm-arena-read.c the reads and the invariant check.  Not installed, not
 * exported.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <asm/asm-arena.h>

#include "asm-arena-cache-private.h"

G_BEGIN_DECLS

#define LEAF_CAP 32
#define INNER_CAP 16
#define LEAF_MIN (LEAF_CAP / 2)
#define INNER_MIN (INNER_CAP / 2)

G_STATIC_ASSERT ((LEAF_CAP & (LEAF_CAP - 1)) == 0);
G_STATIC_ASSERT (LEAF_CAP % 8 == 0 && LEAF_CAP <= 32); /* leaf_free_mask */
G_STATIC_ASSERT (ASM_SEGMENT_FREE == 0);
G_STATIC_ASSERT (INNER_CAP >= 4 && LEAF_CAP >= 4);

/* kind[] byte: the AsmSegmentKind in the low bits, and a flag */
#define KIND_MASK 0x03
#define SPAN_START 0x80

#define NO_ORDER 0xff /* max_order of a subtree without free segments */
G_STATIC_ASSERT ((guint8) (NO_ORDER + 1) == 0); /* node_agg_part ranks it */

typedef struct {
  gint ref;   /* atomic reference count; 1 means exclusively owned */
  guint16 n;  /* segments in a leaf, children in an inner node */
  guint8 leaf;
  guint8 pad;
} Node;

/* where a node's contents start after its reference count */
#define NODE_BODY G_STRUCT_OFFSET (Node, n)

typedef struct {
  Node h;
  guint8 kind[LEAF_CAP];    /* AsmSegmentKind | SPAN_START */
  guint64 first[LEAF_CAP];  /* first unit of segment i (the key) */
  guint64 last[LEAF_CAP];   /* last unit of segment i (inclusive) */
} Leaf;

typedef struct {
  Node h;
  guint8 max_order[INNER_CAP]; /* see the theory comment; NO_ORDER: none */
  guint64 key[INNER_CAP];      /* smallest first below child i */
  guint64 max_free[INNER_CAP]; /* longest free segment below child i */
  guint64 min_free[INNER_CAP]; /* shortest free segment below child i */
  guint64 max_tail[INNER_CAP]; /* see the theory comment */
  Node *child[INNER_CAP];
} Inner;

/* the augmented values of one subtree */
typedef struct {
  guint64 max_free;
  guint64 min_free;
  guint64 max_tail;
  guint8 max_order;
} Agg;

/* one segment, as passed around between functions */
typedef struct {
  guint64 first;
  guint64 last;
  guint8 kind;
} Seg;

/* The spans, sorted by first, shared between clones and copied on write
 * (spans are few and change rarely). */
typedef struct {
  gint ref;
  guint n;
  guint alloc;
  AsmRange *r;
} SpanTable;

/* Unit counts are kept as (sum of (last - first), count) so that they cannot
 * overflow: the true count is sum + n, which is at most 2^64. */
typedef struct {
  guint64 sum; /* sum of (last - first) over the segments */
  guint64 n;   /* number of segments */
} Tally;

/* A validated request, with the derived values the search needs. */
typedef struct {
  guint64 size, align, phase, nocross, min, max;
  AsmFit fit;
  guint8 need_order; /* subtrees with a smaller max_order cannot fit */
  guint8 tail_order; /* IOVA case: subtrees of this max_order fit iff
                        their max_tail >= size; NO_ORDER otherwise */
} Req;

struct _AsmArena {
  gint ref;
  guint height;     /* 0: empty tree; 1: root is a leaf */
  Node *root;
  SpanTable *spans;
  char *name;
  guint64 quantum;
  guint64 next_cursor; /* last unit of the previous NEXT allocation */
  gboolean next_valid;
  Tally t_spans, t_alloc, t_reserved, t_free;
  Req hint; /* the refusal hint: a request with no fit (I7); size 0: none */
  AsmArenaCache *cache; /* NULL until asm_arena_enable_cache(); never
                           copied by a clone */
};

/* With a cache, the arena is shared between threads and every call but the
 * two the cache serves takes the arena's lock (asm-arena-cache.c); the
 * guard releases it when the function returns.  Without one it costs one
 * test.  flush: give the cached ranges back to the tree first, for a call
 * that needs the exact free space. */
typedef struct {
  AsmArenaCache *cache;
} ArenaGuard;

static inline ArenaGuard
arena_guard_enter (AsmArena *a, gboolean flush)
{
  ArenaGuard g = { a->cache };

  if (G_UNLIKELY (g.cache != NULL))
    asm_arena_cache_lock (g.cache, a, flush);
  return g;
}

static inline void
arena_guard_leave (ArenaGuard *g)
{
  if (G_UNLIKELY (g->cache != NULL))
    asm_arena_cache_unlock (g->cache);
}

#define ARENA_GUARD(a, flush)                                                 \
  G_GNUC_UNUSED __attribute__ ((cleanup (arena_guard_leave)))                 \
  ArenaGuard arena_guard_ = arena_guard_enter ((a), (flush))

/* ------------------------------------------------------------------ */
/* small arithmetic helpers                                             */

static inline gboolean
is_pow2 (guint64 v)
{
  return v != 0 && (v & (v - 1)) == 0;
}

static inline guint
log2_floor (guint64 v)
{
  return 63 - __builtin_clzll (v);
}

static inline guint64
seg_len (guint64 first, guint64 last)
{
  guint64 d = last - first;
  return d == G_MAXUINT64 ? G_MAXUINT64 : d + 1; /* saturating */
}

static inline guint64
tally_units (const Tally *t)
{
  guint64 u = t->sum + t->n;
  if (t->n > 0 && u < t->n) /* wrapped: exactly 2^64 */
    return G_MAXUINT64;
  return u;
}

static inline void
tally_add (Tally *t, guint64 first, guint64 last)
{
  t->sum += last - first;
  t->n++;
}

static inline void
tally_sub (Tally *t, guint64 first, guint64 last)
{
  t->sum -= last - first;
  t->n--;
}

/* The largest k such that [first, last] contains a block of 2^k units that
 * starts at a multiple of 2^k.  An interval of length L >= 2^k0 always holds
 * an aligned block of 2^(k0-1), so the answer is k0 or k0 - 1. */
G_GNUC_UNUSED static guint8
seg_order (guint64 first, guint64 last)
{
  guint64 d = last - first;
  guint k0;
  guint64 mask;

  if (d == G_MAXUINT64)
    return 64;
  k0 = log2_floor (d + 1);
  if (k0 == 0)
    return 0;
  mask = (G_GUINT64_CONSTANT (1) << k0) - 1;
  if (first <= G_MAXUINT64 - mask)
    {
      guint64 x = (first + mask) & ~mask;
      if (x + mask <= last)
        return k0;
    }
  return k0 - 1;
}

/* The run from the first multiple of 2^(order + 1) in [first, last] to
 * last, 0 when there is none (see max_tail). */
G_GNUC_UNUSED static guint64
seg_tail (guint64 first, guint64 last, guint order)
{
  guint64 mask, x;

  if (order >= 63)
    return (order == 64 || first == 0) ? seg_len (first, last) : 0;
  mask = (G_GUINT64_CONSTANT (2) << order) - 1;
  if (first > G_MAXUINT64 - mask)
    return 0;
  x = (first + mask) & ~mask;
  return x > last ? 0 : seg_len (x, last);
}

/* smallest x >= v with x % align == phase (align a power of two, phase <
 * align); FALSE when it would pass G_MAXUINT64 */
static inline gboolean
round_up_phase (guint64 v, guint64 align, guint64 phase, guint64 *out)
{
  guint64 x = (v & ~(align - 1)) + phase; /* cannot overflow */

  if (x >= v)
    {
      *out = x;
      return TRUE;
    }
  if (x > G_MAXUINT64 - align)
    return FALSE;
  *out = x + align;
  return TRUE;
}

/* largest x <= v with x % align == phase; FALSE when there is none */
static inline gboolean
round_down_phase (guint64 v, guint64 align, guint64 phase, guint64 *out)
{
  guint64 base = v & ~(align - 1);
  guint64 x = base + phase;

  if (x <= v)
    {
      *out = x;
      return TRUE;
    }
  if (base == 0)
    return FALSE;
  *out = x - align;
  return TRUE;
}

static inline gboolean
crosses (guint64 addr, guint64 size, guint64 nocross)
{
  guint64 end = addr + (size - 1);
  return nocross != 0 && (addr & ~(nocross - 1)) != (end & ~(nocross - 1));
}

/* Lowest satisfying address whose units all lie in [lo, hi].  Inlined:
 * the LOWEST search calls it once per candidate segment, and most calls
 * end at the first test or two. */
G_ALWAYS_INLINE static inline gboolean
fit_lowest (const Req *r, guint64 lo, guint64 hi, guint64 *out)
{
  guint64 last_start, x;

  if (lo > hi || hi - lo < r->size - 1)
    return FALSE;
  last_start = hi - (r->size - 1);
  if (!round_up_phase (lo, r->align, r->phase, &x) || x > last_start)
    return FALSE;
  if (crosses (x, r->size, r->nocross))
    {
      /* Candidates up to the next multiple of nocross cross it too; the
       * first candidate after it is the only other one worth testing: if it
       * crosses, every candidate in every block does. */
      guint64 boundary = x | (r->nocross - 1);
      if (boundary == G_MAXUINT64)
        return FALSE;
      if (!round_up_phase (boundary + 1, r->align, r->phase, &x) ||
          x > last_start || crosses (x, r->size, r->nocross))
        return FALSE;
    }
  *out = x;
  return TRUE;
}

/* Highest satisfying address whose units all lie in [lo, hi]. */
G_GNUC_UNUSED static gboolean
fit_highest (const Req *r, guint64 lo, guint64 hi, guint64 *out)
{
  guint64 last_start, x;

  if (lo > hi || hi - lo < r->size - 1)
    return FALSE;
  last_start = hi - (r->size - 1);
  if (!round_down_phase (last_start, r->align, r->phase, &x) || x < lo)
    return FALSE;
  if (crosses (x, r->size, r->nocross))
    {
      /* end below the boundary that x's range crosses */
      guint64 boundary = (x + (r->size - 1)) & ~(r->nocross - 1);
      if (boundary < r->size ||
          !round_down_phase (boundary - r->size, r->align, r->phase, &x) ||
          x < lo || crosses (x, r->size, r->nocross))
        return FALSE;
    }
  *out = x;
  return TRUE;
}

static inline gboolean
seg_fit_lowest (const Req *r, guint64 first, guint64 last, guint64 floor_,
                guint64 *out)
{
  return fit_lowest (r, MAX (MAX (first, r->min), floor_), MIN (last, r->max),
                     out);
}

static inline gboolean
seg_fit_highest (const Req *r, guint64 first, guint64 last, guint64 *out)
{
  return fit_highest (r, MAX (first, r->min), MIN (last, r->max), out);
}

/* TRUE when hint h (a request with no fit) proves that r has none either:
 * every fit of r, cut to its first h->size units, would be a fit of h.  A
 * fit x of r has x % r->align == r->phase, so with h->align dividing
 * r->align, x % h->align == r->phase % h->align == h->phase; its first
 * h->size units lie inside its own units, so inside [h->min, h->max] and
 * one free segment; and a run that crosses no multiple of r->nocross
 * crosses no multiple of h->nocross, a multiple of it. */
static inline gboolean
hint_covers (const Req *h, const Req *r)
{
  return h->size != 0 && r->size >= h->size && r->min >= h->min &&
         r->max <= h->max && r->align >= h->align &&
         (r->phase & (h->align - 1)) == h->phase &&
         (h->nocross == 0 || (r->nocross != 0 && r->nocross <= h->nocross));
}

/* 24 inner levels need 2 * 8^23 * 16 segments: more than 2^64 */
#define PATH_MAX_DEPTH 24

typedef struct {
  Inner *in[PATH_MAX_DEPTH]; /* the inner nodes from the root down */
  guint idx[PATH_MAX_DEPTH]; /* the child taken in each */
  guint depth;               /* inner levels: height - 1 */
  Leaf *leaf;
} Path;

/* Bit i set iff segment i of the leaf is free: the loops that only care
 * about free segments (the searches, the recount of a leaf's augmented
 * values) visit those alone, with ctz, instead of testing every entry. */
static inline guint32
leaf_free_mask (const Leaf *l)
{
  guint64 bits = 0;

#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  for (guint w = 0; w < LEAF_CAP / 8; w++)
    {
      guint64 k;

      memcpy (&k, &l->kind[8 * w], sizeof k);
      k &= G_GUINT64_CONSTANT (0x0303030303030303); /* the kind bits */
      k = (k | (k >> 1)) & G_GUINT64_CONSTANT (0x0101010101010101);
      k ^= G_GUINT64_CONSTANT (0x0101010101010101); /* 1 per free byte */
      /* gather bit 8j of k into bit 56 + j */
      bits |= ((k * G_GUINT64_CONSTANT (0x0102040810204080)) >> 56) << (8 * w);
    }
#else
  for (guint i = 0; i < LEAF_CAP; i++)
    if ((l->kind[i] & KIND_MASK) == ASM_SEGMENT_FREE)
      bits |= G_GUINT64_CONSTANT (1) << i;
#endif
  return (guint32) (bits & ((G_GUINT64_CONSTANT (1) << l->h.n) - 1));
}

/* index of the child whose key range holds key: the last child whose key
 * is <= key, or 0 */
static inline guint
inner_route (const Inner *in, guint64 key)
{
  guint lo = 1, hi = in->h.n; /* answer in [lo - 1, hi - 1] */

  while (lo < hi)
    {
      guint mid = (lo + hi) / 2;
      if (in->key[mid] <= key)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo - 1;
}

/* the last unit that child i of in can hold (the next key minus one) */
static inline guint64
child_key_last (const Inner *in, guint i)
{
  return i + 1 < in->h.n ? in->key[i + 1] - 1 : G_MAXUINT64;
}

/* asm-arena.c */
void node_agg (const Node *n, Agg *out);
void agg_init (Agg *a);
guint64 node_min_key (const Node *n);
gboolean tree_find (const AsmArena *a, guint64 addr, Seg *out);
gint span_table_find (const SpanTable *t, guint64 v);
gboolean request_validate (AsmArena *a, const AsmRequest *req, Req *r,
                           GError **error);

/* asm-arena-search.c: the first fit of r by its policy, and where the
 * search found it (path and leaf index, for the carve); FALSE when none */
gboolean arena_search_path (const AsmArena *a, const Req *r,
                            guint64 *out_addr, Path *path, guint *out_i);

static inline gboolean
arena_search (const AsmArena *a, const Req *r, guint64 *out_addr)
{
  return arena_search_path (a, r, out_addr, NULL, NULL);
}

/* asm-arena-read.c */
guint64 arena_largest_free_within (AsmArena *a, guint64 min, guint64 max);

G_END_DECLS
