/* asm-arena.c: the arena, a vmem-style allocator over u64 spans
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory of operation
 * ===================
 *
 * Files.  This one holds the theory of the whole arena, the tree's nodes,
 * lookups and changes, and every public function that changes an arena
 * but two; asm-arena-search.c the constrained search (LOWEST, HIGHEST,
 * BEST, NEXT); asm-arena-read.c the reads (lookup, stats, largest free
 * run, walk) and the invariant check; asm-arena-tree-private.h the types
 * and small helpers they share; asm-arena-cache.c the optional cache in
 * front, and asm_arena_alloc_full() and asm_arena_free(), whose cache
 * hits are inlined there (an arena without a cache goes on to
 * asm_arena_tree_alloc() and asm_arena_tree_free() here).
 *
 * Concepts (vmem's vocabulary).  An arena manages address *units* of a u64
 * space in multiples of its *quantum* (a power of two).  The caller adds
 * *spans*, the ranges the arena manages; spans never overlap and never merge,
 * even when adjacent.  Every span is tiled, without gaps, by *segments*: each
 * segment is FREE, ALLOCATED or RESERVED (a hole carved out by
 * asm_arena_reserve()).  All intervals are inclusive [first, last], so the
 * segment that ends at G_MAXUINT64 and the span [0, G_MAXUINT64] are
 * representable, and address 0 is an ordinary address.
 *
 * Invariants (asm_arena_check() verifies every one of them):
 *   I1  segments are disjoint, sorted, and tile the spans exactly;
 *   I2  two FREE segments are never adjacent inside one span (a free segment
 *       is a maximal free run), while ALLOCATED and RESERVED segments never
 *       merge with anything (each is freed and looked up alone);
 *   I3  every segment boundary is a quantum boundary;
 *   I4  a segment carries the SPAN_START flag iff it starts its span;
 *   I5  the B+tree below is balanced and every augmented value is exact;
 *   I6  the accounting in AsmArena equals a recount of the segments;
 *   I7  the refusal hint, when there is one, is a valid request that no
 *       address satisfies (see "Refusal hint").
 *
 * Structure.  The segments live in a B+tree keyed by their first unit.
 * Leaves hold up to LEAF_CAP segments in parallel arrays (first[], last[],
 * kind[]), which keeps a leaf search inside a few cache lines; inner nodes
 * hold up to INNER_CAP children with, per child, the smallest key below it
 * and three augmented values over the FREE segments below it:
 *   max_free   the length of the longest free segment (0: none),
 *   min_free   the length of the shortest one (G_MAXUINT64: none),
 *   max_order  the largest k such that some free segment contains a
 *              naturally aligned block of 2^k units;
 *   max_tail   over the free segments whose order is max_order, the
 *              longest run from the segment's first multiple of
 *              2^(max_order + 1) to its end (0 when it has none).
 * Every non-root node is at least half full and all leaves are at the same
 * depth, so the height is O(log n) with a large base (3 levels hold up to
 * 8,192 segments, 5 levels up to ~2 * 10^6).  Lengths saturate at
 * G_MAXUINT64 (only the free segment [0, G_MAXUINT64] is affected, and it
 * can have no rival).  A leaf that a write would overflow first gives its
 * first segments to its left neighbour when that one has room
 * or its last ones to its right neighbour (leaf_shift), and splits only
 * when neither has room: a space filled from one end (LOWEST, HIGHEST,
 * the cache's misses) then has full leaves, not half-full ones: 21 bytes
 * per allocation at 10^6 after the fill instead of 40.
 *
 * Copy-on-write.  Nodes are reference counted (atomically, so that clones
 * may be written from different threads).  asm_arena_clone() takes one
 * reference on the root and copies the small arena header: O(1) time and
 * memory.  A write first makes the root-to-leaf path it touches exclusive
 * (node_make_writable() copies each shared node on the path and takes a
 * reference on the copy's children), so a write after a clone costs at most
 * O(height) node copies: O(log n) extra.  A node whose count is 1 is written
 * in place, so an arena that was never cloned pays nothing for this.
 *
 * Constrained fit.  A request (size, align, phase, nocross, min, max) is
 * exact: seg_fit_lowest() and seg_fit_highest() find the lowest or highest
 * satisfying address inside one free segment in O(1) (at most two tries,
 * because nocross and align are both powers of two).  The tree search visits
 * free segments in address order and skips every subtree that cannot hold a
 * fit: its key range lies outside [min, max], its max_free is below size, or
 * its max_order is below the order that any fit needs (a fit at an address
 * that is a multiple of 2^t contains a naturally aligned block of
 * 2^min(t, floor(log2 size)) units, where 2^t is the alignment the request
 * implies).  For the IOVA case, phase 0 and align/2 < size <= align = 2^k,
 * the test is exact: a segment of order >= k holds a fit at its aligned
 * block; one of order < k - 1 cannot hold one; one of order k - 1 can hold
 * a fit only at its first multiple of 2^k (a second one would put an
 * aligned 2^k block inside it), which is what max_tail measures.  So a request that cannot be met is refused in O(log n) when the
 * free space is too fragmented for it (the DMA32 exhaustion case that made
 * Linux walk its whole tree), and a LOWEST/HIGHEST/NEXT search costs
 * O(log n + k), where k counts the free segments that pass both pruning
 * tests and still fail the exact test (a segment long enough and holding a
 * large enough aligned block that still has no room at the requested phase
 * or across a nocross boundary).  For size-aligned power-of-two requests,
 * the IOVA common case, k is 0.
 *
 * The in-leaf fast path.  Most writes change one leaf and stay inside it: a
 * free whose free neighbours are in the same leaf (a neighbour at the edge
 * of the leaf is looked at in the sibling leaf and, when it is used, needs
 * no merge), a carve that leaves at most two free pieces in its leaf.
 * Those are done in place on an exclusive root-to-leaf path (for an
 * allocation, the one the search went down; without one, as for BEST, a
 * descent to the address first), and the augmented values above are
 * updated from what left and what came (agg_update): each is an extremum,
 * so it needs a recount of the node's entries only when the entries that
 * left held it and the new ones do not reach it, and then only the part
 * that changed (max_free, min_free, or max_order with max_tail).  The walk
 * up stops at the first entry that does not change.  A carve into a full
 * leaf first makes room on the same path (leaf_make_room): leaf_shift() to
 * a neighbour, or a split in halves under a parent with room; either moves
 * segments between children of that parent alone, which leaves its
 * augmented values, and everything above, as they were, so only its two
 * entries are recounted.  The cache's misses carve a run of allocations
 * from one free segment the same way (carve_run_in_leaf(), as many as the
 * leaf has room for, without making room).  A leaf's free segments are
 * found from a 32-bit mask of its kind bytes (leaf_free_mask), so the
 * searches and the recounts skip the used ones without testing them.
 * Everything else (a merge across two leaves, a free that would underflow
 * a leaf, a carve into a full leaf that is the root or whose parent is
 * full, a node shared with a clone) takes the general path, tree_splice(),
 * which copies shared nodes, splits, merges and rebalances; an inner node
 * it splits or rebalances moves its entries as they are (inner_move),
 * since an entry describes its child alone: only a new child is counted.
 *
 * Where the instructions go (callgrind, tests/bench/run-callgrind.sh on a
 * release build, W1 LOWEST at 10^3 live allocations): 1,897 per step of
 * one free and one alloc (1,904 before the carve's writing was shared
 * with the cache's runs, leaf_write_carve()); 1,929 when a carve into a
 * full leaf took the general path and an inner split recounted every
 * entry, 2,216 with inner nodes of 32, a recursive search and the keys
 * updated on the way up, 4,540 before the fast path (at 10^5: 2,819 now,
 * then 2,825, 2,908, 3,224 and 6,140; HIGHEST at 10^3: 1,906 now, then
 * 1,913, 1,940, 2,437 and 4,589, at 10^5: 2,859 now, then 2,864, 2,922
 * and 3,622).  Of a step, roughly: the search 340 (a loop, not a
 * recursion, down the path it records for the carve; the inner levels
 * test max_free alone for most entries, in a loop of its own, the others
 * only for the first subtree that passes it; the leaf passes its short
 * free segments by before clipping any); the carve 730, of which 480
 * update the augmented values, mostly recounts (an exact fit, 73% of W1's
 * carves, usually takes a leaf's largest, smallest or highest-order hole,
 * and a tie is a recount too; inner nodes of 16, not 32, cut the inner
 * part of them by a third), and 13 make room in the 1% of carves that find
 * their leaf full; the free 600: the descent 100, the leaf edit 250, the
 * update 150, and 70 for the 2% of frees that merge across leaves or would
 * underflow one (the general path, ~3,200 each); request validation and
 * the calls 125 (the cache's test included); the benchmark's own loop 120.
 * HIGHEST is alike (search 340, carve 725, free 595).  The keys on the
 * path never change in place (see path_fixup()), so the walk up does not
 * look at them.
 *
 * The cache's misses (asm-arena-cache.c) are LOWEST searches and carves in
 * a tree that the cache's own frees leave full: it keeps what it caches
 * ALLOCATED.  In bench-peers' W1 at 10^3, about 1 step in 90 of the 20,000
 * it counts misses (rarer as the magazines fill), and a miss costs the tree
 * about 1,600 instructions (1,870 before full leaves, inner splits and the
 * max_free loop were as above): validation and the calls 115, the search
 * 470 (its inner levels scan up to the few subtrees near the end of the
 * used space that still have room), the carve 1,020, of which 390 update
 * the augmented values and 240 make room in full leaves (one miss in five
 * finds its leaf full).
 *
 * BEST fit needs the smallest qualifying segment, which no order-preserving
 * augmentation can find directly: it walks the qualifying subtrees in
 * address order, skipping those whose min_free cannot beat the best found so
 * far and stopping at a segment of exactly the requested size.  Worst case
 * O(n), as in vmem; use LOWEST for hot paths.
 *
 * NEXT fit is LOWEST with the lower bound raised past the end of the
 * previous NEXT allocation, then LOWEST from the start if that fails.
 *
 * Refusal hint.  An exhausted DMA32 window refuses the same request over
 * and over, and each refusal is an O(log n) search.  So the arena keeps
 * the last request it refused (AsmArena.hint; size 0: none), a fact about
 * the free space: "no address satisfies H".  A request R is refused in O(1)
 * without a search when H covers it:
 *   R.size >= H.size, [R.min, R.max] inside [H.min, H.max],
 *   R.align >= H.align and R.phase % H.align == H.phase,
 *   H.nocross == 0, or R.nocross != 0 and R.nocross <= H.nocross,
 * for then the first H.size units of any fit of R would be a fit of H
 * (the fit policy does not matter: every policy finds a fit when one
 * exists).  The fact stays true while free space only shrinks (alloc,
 * reserve, remove_span), and free space grows in one place at a time: the
 * merged free segment of a free (an allocation or a hole), or the new
 * segment of add_span.  That segment is the only new space, so the hint
 * survives unless H fits inside it, an O(1) test (seg_fit_lowest); Linux's
 * max32_alloc_size, by contrast, is reset by any free below its limit.
 * A failed move records its request too (it had no fit even with the old
 * place free, so none once the old place is back).  The hint lives in the
 * arena header, which asm_arena_clone() copies, so a clone starts with its
 * template's hint (true of its identical free space) and the two evolve
 * apart.  asm_arena_find_free() reads the hint but never records one, so
 * that it stays a pure read (see Locking).  asm_arena_check() re-searches
 * the hinted request (I7), and tests/test-arena-hint.c checks against the
 * model that every refusal is right and that a free drops the hint exactly
 * when the hinted request fits again.
 *
 * On W2 (tests/bench: 2-page requests below 4 GiB, of which one page in
 * two is free, 10^6 segments), callgrind counts per refusal, including the
 * call, request validation and the GError-less report: the first refusal
 * after a change that voided the hint 1,053 instructions, 55 ns (1,661 and
 * 80 ns with inner nodes of 32 and a recursive search, 4,924 and 282 ns
 * before the hint and the fast path below); a repeated refusal
 * 116 instructions, 6 ns (6,139 and 247 ns before), and the same right
 * after a free of a page below 4 GiB that cannot hold two (Linux: 312
 * repeated, 37.7 M after any free below the limit; see
 * tests/bench/README.md).  A refusal with a GError pays
 * for its message (largest free run within [min, max], O(log n)) as before.
 *
 * Operations and their cost (n segments, s spans, h = height = O(log n)):
 *   add_span, reserve, free, alloc        O(h) node visits, O(h) copies
 *                                         after a clone
 *   a refusal the hint covers             O(1)
 *   lookup                                O(h)
 *   clone                                 O(1)
 *   largest_free_within                   O(h)
 *   stats                                 O(1)
 *   walk, check                           O(n)
 *
 * Every call validates its input before touching anything, and every
 * failure is reported before the first change, so a failed call leaves the
 * arena exactly as it was (asm_arena_move() keeps a reference to the old
 * root and restores it if its second half fails); the one exception is
 * invisible to every answer: a refused alloc or move records its request
 * as the refusal hint.
 *
 * Locking.  None inside an arena without a cache: it is a container like a
 * GHashTable; callers serialise writes to one arena (an alloc or move is a
 * write even when it is refused: it may record the refusal hint).
 * Distinct arenas that share nodes through clone() may be used from
 * different threads at the same time, and an arena that nobody writes may
 * be read from any number of threads.  asm_arena_enable_cache() changes
 * that: from then on every public function takes the arena's lock (the
 * guard below; the cache's own theory is in asm-arena-cache.c), except the
 * hits of alloc and free, which touch only the calling thread's magazines.
 */
#include <asm/asm-arena.h>

#include <string.h>

#include "asm-arena-private.h"
#include "asm-arena-cache-private.h"
#include "asm-bug-private.h"
#include "asm-boxed-private.h"

ASM_DEFINE_VALUE_TYPE (AsmRequest, asm_request)
ASM_DEFINE_VALUE_TYPE (AsmArenaStats, asm_arena_stats)
G_DEFINE_BOXED_TYPE (AsmArena, asm_arena, asm_arena_ref, asm_arena_unref)

#include "asm-arena-tree-private.h"

/* ------------------------------------------------------------------ */
/* the refusal hint (see "Refusal hint" in the theory comment)          */

/* The free segment [first, last] has just appeared (a free merged with its
 * neighbours, or a new span): the only new space, so the hint stays true
 * unless the hinted request fits in it.  O(1). */
static inline void
hint_note_free (AsmArena *a, guint64 first, guint64 last)
{
  guint64 addr;

  if (a->hint.size != 0 && seg_fit_lowest (&a->hint, first, last, 0, &addr))
    a->hint.size = 0;
}

/* ------------------------------------------------------------------ */
/* nodes                                                                */

static Leaf *
leaf_new (void)
{
  Leaf *l = g_new (Leaf, 1);
  l->h.ref = 1;
  l->h.n = 0;
  l->h.leaf = 1;
  l->h.pad = 0;
  /* defined bytes past n, which leaf_free_mask() reads (and masks off) */
  memset (l->kind, ASM_SEGMENT_ALLOCATED, sizeof l->kind);
  return l;
}

static Inner *
inner_new (void)
{
  Inner *in = g_new (Inner, 1);
  in->h.ref = 1;
  in->h.n = 0;
  in->h.leaf = 0;
  in->h.pad = 0;
  return in;
}

static void
node_unref (Node *n)
{
  if (n == NULL || !g_atomic_int_dec_and_test (&n->ref))
    return;
  if (!n->leaf)
    {
      Inner *in = (Inner *) n;
      for (guint i = 0; i < n->n; i++)
        node_unref (in->child[i]);
    }
  g_free (n);
}

static inline Node *
node_ref (Node *n)
{
  g_atomic_int_inc (&n->ref);
  return n;
}

/* Returns an exclusively owned version of *slot, copying it if it is shared
 * (the copy takes a reference on each child), and stores it in *slot. */
static Node *
node_make_writable (Node **slot)
{
  Node *n = *slot;
  Node *copy;

  if (g_atomic_int_get (&n->ref) == 1)
    return n;
  /* Copy everything but the reference count, which other threads may be
   * changing (atomically) while we read: a plain read of it would race. */
  if (n->leaf)
    copy = (Node *) g_new (Leaf, 1);
  else
    copy = (Node *) g_new (Inner, 1);
  memcpy ((char *) copy + NODE_BODY, (const char *) n + NODE_BODY,
          (n->leaf ? sizeof (Leaf) : sizeof (Inner)) - NODE_BODY);
  copy->ref = 1;
  if (!copy->leaf)
    {
      Inner *in = (Inner *) copy;
      for (guint i = 0; i < copy->n; i++)
        node_ref (in->child[i]);
    }
  node_unref (n);
  *slot = copy;
  return copy;
}

inline guint64
node_min_key (const Node *n)
{
  return n->leaf ? ((const Leaf *) n)->first[0] : ((const Inner *) n)->key[0];
}

void
agg_init (Agg *a)
{
  a->max_free = 0;
  a->min_free = G_MAXUINT64;
  a->max_tail = 0;
  a->max_order = NO_ORDER;
}

static inline void
agg_merge (Agg *a, guint64 max_free, guint64 min_free, guint8 max_order,
           guint64 max_tail)
{
  if (max_free == 0)
    return;
  a->max_free = MAX (a->max_free, max_free);
  a->min_free = MIN (a->min_free, min_free);
  if (a->max_order == NO_ORDER || max_order > a->max_order)
    {
      a->max_order = max_order;
      a->max_tail = max_tail;
    }
  else if (max_order == a->max_order)
    a->max_tail = MAX (a->max_tail, max_tail);
}

static inline void
agg_add_seg (Agg *a, guint64 first, guint64 last)
{
  guint64 len = seg_len (first, last);
  guint8 order = seg_order (first, last);

  agg_merge (a, len, len, order, seg_tail (first, last, order));
}

/* The augmented values of a node, recounted from its entries: the hot
 * part of every write that changes them, so both loops avoid per-entry
 * branches where they can.  In a leaf, a segment whose length is below
 * 2^max_order cannot raise max_order (its order is at most floor(log2
 * len)), so its order and tail are not computed.  In an inner node, an
 * entry without free segments (max_free 0, min_free G_MAXUINT64,
 * NO_ORDER, max_tail 0) is neutral in each of the three reductions, with
 * NO_ORDER ranked below every order. */
#define AGG_MAX 1   /* max_free */
#define AGG_MIN 2   /* min_free */
#define AGG_ORDER 4 /* max_order and max_tail */

/* Recounts the given parts of a node's augmented values in *out. */
static void
node_agg_part (const Node *n, guint parts, Agg *out)
{
  if (n->leaf)
    {
      const Leaf *l = (const Leaf *) n;
      guint32 free_mask = leaf_free_mask (l);
      guint64 dmax = 0, dmin = G_MAXUINT64, tail = 0;
      /* 2^order - 1: a segment with last - first below it is shorter
       * than 2^order, so its order is below order (0 while order is -1) */
      guint64 reach = 0;
      gint order = -1;
      gboolean any = free_mask != 0;

      if (!(parts & AGG_ORDER))
        for (guint32 m = free_mask; m != 0; m &= m - 1)
          {
            guint i = __builtin_ctz (m);
            guint64 d = l->last[i] - l->first[i];

            dmax = MAX (dmax, d);
            dmin = MIN (dmin, d);
          }
      else
        for (guint32 m = free_mask; m != 0; m &= m - 1)
          {
            guint i = __builtin_ctz (m);
            guint64 first = l->first[i], last = l->last[i], d = last - first;

            dmax = MAX (dmax, d);
            dmin = MIN (dmin, d);
            if (d >= reach)
              {
                gint o = seg_order (first, last);
                if (o > order)
                  {
                    order = o;
                    tail = seg_tail (first, last, o);
                    reach = o >= 64 ? G_MAXUINT64
                                    : (G_GUINT64_CONSTANT (1) << o) - 1;
                  }
                else if (o == order)
                  tail = MAX (tail, seg_tail (first, last, o));
              }
          }
      if (parts & AGG_MAX)
        out->max_free = !any                   ? 0
                        : dmax == G_MAXUINT64 ? G_MAXUINT64
                                              : dmax + 1;
      if (parts & AGG_MIN)
        out->min_free = !any || dmin == G_MAXUINT64 ? G_MAXUINT64 : dmin + 1;
      if (parts & AGG_ORDER)
        {
          out->max_order = order < 0 ? NO_ORDER : (guint8) order;
          out->max_tail = tail;
        }
    }
  else
    {
      const Inner *in = (const Inner *) n;
      guint64 maxf = 0, minf = G_MAXUINT64, tail = 0;
      guint8 order1 = 0; /* max_order + 1, which maps NO_ORDER to 0 */

      if (parts == AGG_MAX)
        {
          for (guint i = 0; i < n->n; i++)
            maxf = MAX (maxf, in->max_free[i]);
          out->max_free = maxf;
          return;
        }
      if (parts == AGG_MIN)
        {
          for (guint i = 0; i < n->n; i++)
            minf = MIN (minf, in->min_free[i]);
          out->min_free = minf;
          return;
        }
      /* two parts or more: one pass */
      for (guint i = 0; i < n->n; i++)
        {
          guint8 o1 = (guint8) (in->max_order[i] + 1);

          maxf = MAX (maxf, in->max_free[i]);
          minf = MIN (minf, in->min_free[i]);
          if (o1 > order1)
            {
              order1 = o1;
              tail = in->max_tail[i];
            }
          else if (o1 == order1)
            tail = MAX (tail, in->max_tail[i]);
        }
      if (parts & AGG_MAX)
        out->max_free = maxf;
      if (parts & AGG_MIN)
        out->min_free = minf;
      if (parts & AGG_ORDER)
        {
          out->max_order = (guint8) (order1 - 1);
          out->max_tail = tail;
        }
    }
}

/* The augmented values of a node, recounted from its entries: the hot
 * part of every write that changes them, so both loops avoid per-entry
 * branches where they can.  In a leaf, a segment whose length is below
 * 2^max_order cannot raise max_order (its order is at most floor(log2
 * len)), so its order and tail are not computed.  In an inner node, an
 * entry without free segments (max_free 0, min_free G_MAXUINT64,
 * NO_ORDER, max_tail 0) is neutral in each of the reductions, with
 * NO_ORDER ranked below every order. */
inline void
node_agg (const Node *n, Agg *out)
{
  node_agg_part (n, AGG_MAX | AGG_MIN | AGG_ORDER, out);
}

/* refresh key and augmented values of child i from the child itself */
static void
inner_refresh (Inner *in, guint i)
{
  Agg a;
  node_agg (in->child[i], &a);
  in->key[i] = node_min_key (in->child[i]);
  in->max_free[i] = a.max_free;
  in->min_free[i] = a.min_free;
  in->max_order[i] = a.max_order;
  in->max_tail[i] = a.max_tail;
}

/* first index in a leaf whose first is >= key */
static inline guint
leaf_lower_bound (const Leaf *l, guint64 key)
{
  guint lo = 0, hi = l->h.n;

  while (lo < hi)
    {
      guint mid = (lo + hi) / 2;
      if (l->first[mid] < key)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* ------------------------------------------------------------------ */
/* tree: lookups                                                        */

/* The segment with the largest first <= addr; FALSE when there is none. */
static gboolean
tree_find_le (const AsmArena *a, guint64 addr, Seg *out)
{
  const Node *n = a->root;

  if (n == NULL)
    return FALSE;
  while (!n->leaf)
    {
      const Inner *in = (const Inner *) n;
      n = in->child[inner_route (in, addr)];
    }
  {
    const Leaf *l = (const Leaf *) n;
    guint i = leaf_lower_bound (l, addr);
    if (i < l->h.n && l->first[i] == addr)
      ;
    else if (i == 0)
      return FALSE; /* only possible in the leftmost leaf */
    else
      i--;
    out->first = l->first[i];
    out->last = l->last[i];
    out->kind = l->kind[i];
    return TRUE;
  }
}

/* The segment that contains addr; FALSE when addr is outside every span. */
gboolean
tree_find (const AsmArena *a, guint64 addr, Seg *out)
{
  return tree_find_le (a, addr, out) && out->last >= addr;
}

/* ------------------------------------------------------------------ */
/* tree: splice, the one primitive that changes the tree                */

#define SPLICE_MAX 3 /* at most this many segments replace one */

typedef struct {
  guint64 key;      /* where */
  gboolean replace; /* remove the segment whose first == key */
  const Seg *segs;  /* sorted, all keys >= key and below the next segment */
  guint n_segs;
} Splice;

static void inner_fix_underflow (Inner *in, guint i);

/* Moves k segments between neighbour leaves: the first k of `from` to the
 * end of `to` when to_left, else the last k of `from` to the front of
 * `to`. */
static void
leaf_move (Leaf *from, Leaf *to, guint k, gboolean to_left)
{
  guint src = to_left ? 0 : from->h.n - k;

  if (to_left)
    {
      memcpy (&to->first[to->h.n], from->first, k * sizeof (guint64));
      memcpy (&to->last[to->h.n], from->last, k * sizeof (guint64));
      memcpy (&to->kind[to->h.n], from->kind, k);
      memmove (from->first, &from->first[k],
               (from->h.n - k) * sizeof (guint64));
      memmove (from->last, &from->last[k], (from->h.n - k) * sizeof (guint64));
      memmove (from->kind, &from->kind[k], from->h.n - k);
    }
  else
    {
      memmove (&to->first[k], to->first, to->h.n * sizeof (guint64));
      memmove (&to->last[k], to->last, to->h.n * sizeof (guint64));
      memmove (&to->kind[k], to->kind, to->h.n);
      memcpy (to->first, &from->first[src], k * sizeof (guint64));
      memcpy (to->last, &from->last[src], k * sizeof (guint64));
      memcpy (to->kind, &from->kind[src], k);
    }
  to->h.n += k;
  from->h.n -= k;
}

/* One array of inner_move(): k elements of size bytes from the n_from of
 * from to the n_to of to. */
static void
array_move (void *from, guint n_from, void *to, guint n_to, guint k, gsize size,
            gboolean to_left)
{
  char *f = from, *t = to;

  if (to_left)
    {
      memcpy (t + n_to * size, f, k * size);
      memmove (f, f + k * size, (n_from - k) * size);
    }
  else
    {
      memmove (t + k * size, t, n_to * size);
      memcpy (t, f + (n_from - k) * size, k * size);
    }
}

/* Moves k entries between neighbour inner nodes, as leaf_move() moves
 * segments.  An entry describes its child alone, so it moves as it is,
 * without a recount. */
static void
inner_move (Inner *from, Inner *to, guint k, gboolean to_left)
{
  guint nf = from->h.n, nt = to->h.n;

  array_move (from->key, nf, to->key, nt, k, sizeof (guint64), to_left);
  array_move (from->max_free, nf, to->max_free, nt, k, sizeof (guint64),
              to_left);
  array_move (from->min_free, nf, to->min_free, nt, k, sizeof (guint64),
              to_left);
  array_move (from->max_tail, nf, to->max_tail, nt, k, sizeof (guint64),
              to_left);
  array_move (from->max_order, nf, to->max_order, nt, k, 1, to_left);
  array_move (from->child, nf, to->child, nt, k, sizeof (Node *), to_left);
  to->h.n += k;
  from->h.n -= k;
}

/* Leaf i of the writable inner node in is about to receive sp, which
 * would overflow it: move its first segments (those before sp's place, so
 * that sp still routes to it) to the end of leaf i - 1, or its last ones
 * (those after sp's place) to the front of leaf i + 1, while that one has
 * room, keeping leaf i at least half full, so that no split is needed.
 * This is what keeps the leaves full when allocations are appended at one
 * end of the free space, as LOWEST and HIGHEST fits fill it (a split in
 * halves would leave every leaf behind half empty: twice the memory).
 * TRUE when it moved segments, which leaves leaf i room for sp and the
 * augmented values of in as they were (the same segments lie below it). */
static gboolean
leaf_shift (Inner *in, guint i, const Splice *sp)
{
  Leaf *l = (Leaf *) in->child[i];
  guint removed = sp->replace ? 1 : 0;
  guint total = l->h.n - removed + sp->n_segs, need, pos, spare, k;

  if (total <= LEAF_CAP)
    return FALSE;
  need = total - LEAF_CAP;
  pos = leaf_lower_bound (l, sp->key);
  spare = (guint) l->h.n - (guint) LEAF_MIN;
  if (i > 0)
    {
      k = MIN (MIN ((guint) (LEAF_CAP - in->child[i - 1]->n), pos), spare);
      if (k >= need && k >= 2)
        {
          l = (Leaf *) node_make_writable (&in->child[i]);
          leaf_move (l, (Leaf *) node_make_writable (&in->child[i - 1]), k,
                     TRUE);
          inner_refresh (in, i - 1);
          inner_refresh (in, i);
          return TRUE;
        }
    }
  if (i + 1 < in->h.n)
    {
      k = MIN (MIN ((guint) (LEAF_CAP - in->child[i + 1]->n),
                    l->h.n - (pos + removed)), spare);
      if (k >= need && k >= 2)
        {
          l = (Leaf *) node_make_writable (&in->child[i]);
          leaf_move (l, (Leaf *) node_make_writable (&in->child[i + 1]), k,
                     FALSE);
          inner_refresh (in, i);
          inner_refresh (in, i + 1);
          return TRUE;
        }
    }
  return FALSE;
}

/* Inserts sib as child pos of the writable inner node in, which has room,
 * and sets its entry from it. */
static void
inner_insert_at (Inner *in, guint pos, Node *sib)
{
  guint tail = in->h.n - pos;

  if (tail != 0)
    {
      memmove (&in->key[pos + 1], &in->key[pos], tail * sizeof (guint64));
      memmove (&in->max_free[pos + 1], &in->max_free[pos],
               tail * sizeof (guint64));
      memmove (&in->min_free[pos + 1], &in->min_free[pos],
               tail * sizeof (guint64));
      memmove (&in->max_tail[pos + 1], &in->max_tail[pos],
               tail * sizeof (guint64));
      memmove (&in->max_order[pos + 1], &in->max_order[pos], tail);
      memmove (&in->child[pos + 1], &in->child[pos], tail * sizeof (Node *));
    }
  in->child[pos] = sib;
  in->h.n++;
  inner_refresh (in, pos);
}

/* Applies sp under *slot; returns the new right sibling when the node had to
 * split, else NULL.  *changed tells whether the node's smallest key or
 * augmented values may have changed: when they did not, the caller's entry
 * for *slot is still exact and nothing above needs recomputing, which is
 * the common case (most writes inside a leaf leave its largest free run
 * and its key alone as seen from two levels up). */
static Node *
node_splice (Node **slot, const Splice *sp, gboolean *changed)
{
  Node *n = node_make_writable (slot);

  if (n->leaf)
    {
      Leaf *l = (Leaf *) n;
      guint pos = leaf_lower_bound (l, sp->key);
      guint removed = sp->replace ? 1 : 0;
      guint total = l->h.n - removed + sp->n_segs;
      guint tail = l->h.n - pos - removed;

      ASM_BUG_UNLESS (!sp->replace ||
                      (pos < l->h.n && l->first[pos] == sp->key));
      *changed = TRUE; /* the parent compares the leaf's new values */

      if (total <= LEAF_CAP)
        {
          memmove (&l->first[pos + sp->n_segs], &l->first[pos + removed],
                   tail * sizeof (guint64));
          memmove (&l->last[pos + sp->n_segs], &l->last[pos + removed],
                   tail * sizeof (guint64));
          memmove (&l->kind[pos + sp->n_segs], &l->kind[pos + removed], tail);
          for (guint i = 0; i < sp->n_segs; i++)
            {
              l->first[pos + i] = sp->segs[i].first;
              l->last[pos + i] = sp->segs[i].last;
              l->kind[pos + i] = sp->segs[i].kind;
            }
          l->h.n = total;
          return NULL;
        }
      else
        {
          /* gather everything in order, then split in halves */
          Seg all[LEAF_CAP + SPLICE_MAX];
          guint k = 0, left_n;
          Leaf *right = leaf_new ();

          for (guint i = 0; i < pos; i++)
            all[k++] = (Seg){ l->first[i], l->last[i], l->kind[i] };
          for (guint i = 0; i < sp->n_segs; i++)
            all[k++] = sp->segs[i];
          for (guint i = pos + removed; i < l->h.n; i++)
            all[k++] = (Seg){ l->first[i], l->last[i], l->kind[i] };
          ASM_BUG_UNLESS (k == total);
          left_n = total / 2;
          for (guint i = 0; i < total; i++)
            {
              Leaf *dst = i < left_n ? l : right;
              guint j = i < left_n ? i : i - left_n;
              dst->first[j] = all[i].first;
              dst->last[j] = all[i].last;
              dst->kind[j] = all[i].kind;
            }
          l->h.n = left_n;
          right->h.n = total - left_n;
          return &right->h;
        }
    }
  else
    {
      Inner *in = (Inner *) n;
      guint i = inner_route (in, sp->key);
      gboolean child_changed = TRUE;
      Node *sib;

      if (in->child[i]->leaf)
        (void) leaf_shift (in, i, sp);
      sib = node_splice (&in->child[i], sp, &child_changed);

      *changed = TRUE;
      if (sib == NULL)
        {
          if (in->child[i]->n < (in->child[i]->leaf ? LEAF_MIN : INNER_MIN))
            {
              inner_refresh (in, i);
              inner_fix_underflow (in, i);
              return NULL;
            }
          if (child_changed)
            {
              guint64 key = in->key[i], max_free = in->max_free[i];
              guint64 min_free = in->min_free[i], max_tail = in->max_tail[i];
              guint8 max_order = in->max_order[i];
              inner_refresh (in, i);
              *changed = key != in->key[i] || max_free != in->max_free[i] ||
                         min_free != in->min_free[i] ||
                         max_tail != in->max_tail[i] ||
                         max_order != in->max_order[i];
            }
          else
            *changed = FALSE;
          return NULL;
        }
      inner_refresh (in, i);
      /* insert sib after child i, splitting this node if it is full: the
       * first (INNER_CAP + 1) / 2 of the INNER_CAP + 1 entries stay, the
       * others go to a new right node, entries as they are */
      if (in->h.n < INNER_CAP)
        {
          inner_insert_at (in, i + 1, sib);
          return NULL;
        }
      else
        {
          guint left_n = (INNER_CAP + 1) / 2;
          Inner *right = inner_new ();

          if (i + 1 < left_n)
            {
              inner_move (in, right, INNER_CAP - (left_n - 1), FALSE);
              inner_insert_at (in, i + 1, sib);
            }
          else
            {
              inner_move (in, right, INNER_CAP - left_n, FALSE);
              inner_insert_at (right, i + 1 - left_n, sib);
            }
          return &right->h;
        }
    }
}

/* Child i of the writable node in has fewer than the minimum of entries:
 * merge it with a neighbour when both fit in one node, else share evenly. */
static void
inner_fix_underflow (Inner *in, guint i)
{
  guint l_idx, r_idx;
  Node *left, *right;

  if (in->h.n < 2)
    return; /* the root's only child: the caller collapses the root */
  l_idx = (i + 1 < in->h.n) ? i : i - 1;
  r_idx = l_idx + 1;
  left = node_make_writable (&in->child[l_idx]);
  right = node_make_writable (&in->child[r_idx]);

  if (left->leaf)
    {
      Leaf *L = (Leaf *) left, *R = (Leaf *) right;
      guint total = L->h.n + R->h.n;

      if (total <= LEAF_CAP)
        {
          memcpy (&L->first[L->h.n], R->first, R->h.n * sizeof (guint64));
          memcpy (&L->last[L->h.n], R->last, R->h.n * sizeof (guint64));
          memcpy (&L->kind[L->h.n], R->kind, R->h.n);
          L->h.n = total;
          R->h.n = 0;
        }
      else
        {
          /* rotate so that the left gets total / 2 */
          guint want = total / 2;
          if (L->h.n < want)
            {
              guint m = want - L->h.n;
              memcpy (&L->first[L->h.n], R->first, m * sizeof (guint64));
              memcpy (&L->last[L->h.n], R->last, m * sizeof (guint64));
              memcpy (&L->kind[L->h.n], R->kind, m);
              memmove (R->first, &R->first[m], (R->h.n - m) * sizeof (guint64));
              memmove (R->last, &R->last[m], (R->h.n - m) * sizeof (guint64));
              memmove (R->kind, &R->kind[m], R->h.n - m);
              L->h.n += m;
              R->h.n -= m;
            }
          else
            {
              guint m = L->h.n - want;
              memmove (&R->first[m], R->first, R->h.n * sizeof (guint64));
              memmove (&R->last[m], R->last, R->h.n * sizeof (guint64));
              memmove (&R->kind[m], R->kind, R->h.n);
              memcpy (R->first, &L->first[want], m * sizeof (guint64));
              memcpy (R->last, &L->last[want], m * sizeof (guint64));
              memcpy (R->kind, &L->kind[want], m);
              L->h.n -= m;
              R->h.n += m;
            }
        }
    }
  else
    {
      Inner *L = (Inner *) left, *R = (Inner *) right;
      guint total = L->h.n + R->h.n;

      if (total <= INNER_CAP)
        inner_move (R, L, R->h.n, TRUE); /* R's children now belong to L */
      else if (L->h.n < total / 2)
        inner_move (R, L, total / 2 - L->h.n, TRUE);
      else
        inner_move (L, R, L->h.n - total / 2, FALSE);
    }

  if (right->n == 0)
    {
      /* merged: drop the empty right node (exclusively ours, and its
       * children, if any, moved to the left) */
      guint tail = in->h.n - (r_idx + 1);
      g_free (right);
      memmove (&in->key[r_idx], &in->key[r_idx + 1], tail * sizeof (guint64));
      memmove (&in->max_free[r_idx], &in->max_free[r_idx + 1],
               tail * sizeof (guint64));
      memmove (&in->min_free[r_idx], &in->min_free[r_idx + 1],
               tail * sizeof (guint64));
      memmove (&in->max_tail[r_idx], &in->max_tail[r_idx + 1],
               tail * sizeof (guint64));
      memmove (&in->max_order[r_idx], &in->max_order[r_idx + 1], tail);
      memmove (&in->child[r_idx], &in->child[r_idx + 1], tail * sizeof (Node *));
      in->h.n--;
      inner_refresh (in, l_idx);
    }
  else
    {
      inner_refresh (in, l_idx);
      inner_refresh (in, r_idx);
    }
}

static void
tree_splice (AsmArena *a, const Splice *sp)
{
  Node *sib;
  gboolean changed;

  if (a->root == NULL)
    {
      Leaf *l = leaf_new ();
      ASM_BUG_UNLESS (!sp->replace); /* nothing to replace in no tree */
      a->root = &l->h;
      a->height = 1;
    }
  sib = node_splice (&a->root, sp, &changed);
  if (sib != NULL)
    {
      Inner *root = inner_new ();
      root->child[0] = a->root;
      root->child[1] = sib;
      root->h.n = 2;
      inner_refresh (root, 0);
      inner_refresh (root, 1);
      a->root = &root->h;
      a->height++;
      return;
    }
  /* shrink: an inner root with one child, or an empty leaf root */
  while (a->root != NULL && !a->root->leaf && a->root->n == 1)
    {
      Node *old = a->root;
      a->root = node_ref (((Inner *) old)->child[0]);
      node_unref (old);
      a->height--;
    }
  if (a->root != NULL && a->root->leaf && a->root->n == 0)
    {
      node_unref (a->root);
      a->root = NULL;
      a->height = 0;
    }
}

static void
tree_replace (AsmArena *a, guint64 key, const Seg *segs, guint n_segs)
{
  Splice sp = { key, TRUE, segs, n_segs };
  tree_splice (a, &sp);
}

static void
tree_insert (AsmArena *a, const Seg *seg)
{
  Splice sp = { seg->first, FALSE, seg, 1 };
  tree_splice (a, &sp);
}

/* ------------------------------------------------------------------ */
/* tree: the in-leaf fast path                                          */

/* Most frees and allocations change one leaf and stay inside it: a free
 * merges with neighbours in the same leaf, a carve adds at most two
 * segments to a leaf with room.  They are done in place along one exclusive
 * root-to-leaf path, and the augmented values above are updated from what
 * left and what came (agg_update) instead of being recomputed over every
 * entry of every node on the path.  Anything else (a neighbour in another
 * leaf, a leaf that would overflow or underflow, a node shared with a
 * clone) takes the general path, tree_splice(). */

/* Descends to the leaf whose key range holds key.  FALSE when the tree is
 * empty or some node on the way is shared with a clone (writing it would
 * need a copy: the general path does that). */
static gboolean
path_find_exclusive (AsmArena *a, guint64 key, Path *p)
{
  Node *n = a->root;

  p->depth = 0;
  if (n == NULL)
    return FALSE;
  while (!n->leaf)
    {
      Inner *in = (Inner *) n;
      guint i;

      if (g_atomic_int_get (&n->ref) != 1 || p->depth == PATH_MAX_DEPTH)
        return FALSE;
      i = inner_route (in, key);
      p->in[p->depth] = in;
      p->idx[p->depth++] = i;
      n = in->child[i];
    }
  if (g_atomic_int_get (&n->ref) != 1)
    return FALSE;
  p->leaf = (Leaf *) n;
  return TRUE;
}

/* a's augmented values over a set of entries from which the entries whose
 * values merge to `removed` left and the ones that merge to `added` came.
 * Each value is an extremum, so it is known without a recount unless the
 * entries that left held it and the new ones do not reach it: returns the
 * parts (AGG_MAX, AGG_MIN, AGG_ORDER) that the caller must recount.  (max_order, max_tail) is one lexicographic
 * maximum, NO_ORDER below every order. */
static inline guint
agg_update (Agg *a, const Agg *removed, const Agg *added)
{
  /* ranks: max_order + 1, which maps NO_ORDER to 0 */
  guint8 ao = (guint8) (a->max_order + 1);
  guint8 ro = (guint8) (removed->max_order + 1);
  guint8 no = (guint8) (added->max_order + 1);
  guint recount = 0;

  if (added->max_free >= a->max_free)
    a->max_free = added->max_free;
  else if (removed->max_free >= a->max_free)
    recount |= AGG_MAX;
  if (added->min_free <= a->min_free)
    a->min_free = added->min_free;
  else if (removed->min_free <= a->min_free)
    recount |= AGG_MIN;
  if (no > ao || (no == ao && added->max_tail >= a->max_tail))
    {
      a->max_order = added->max_order;
      a->max_tail = added->max_tail;
    }
  else if (ro > ao || (ro == ao && removed->max_tail >= a->max_tail))
    recount |= AGG_ORDER;
  return recount;
}

/* The leaf of p changed in place (and is within its fill limits): the free
 * segments that merge to `removed` left it, those that merge to `added`
 * came.  Brings every entry on the path up to date, bottom up, stopping at
 * the first that does not change.  Keys need no update: neither in-place
 * edit changes the first key of a leaf (a carve keeps the free segment's
 * first as the first of its first piece, a free keeps the first of the
 * leftmost entry it merges), so no key on the path changes either. */
static void
path_fixup (Path *p, const Agg *removed, const Agg *added)
{
  Agg rem = *removed, add = *added;
  Node *child = &p->leaf->h;

  for (guint d = p->depth; d-- > 0;)
    {
      Inner *in = p->in[d];
      guint i = p->idx[d];
      Agg old = { in->max_free[i], in->min_free[i], in->max_tail[i],
                  in->max_order[i] };
      Agg now = old;
      guint recount = agg_update (&now, &rem, &add);

      if (recount != 0)
        node_agg_part (child, recount, &now);
      if (now.max_free == old.max_free && now.min_free == old.min_free &&
          now.max_order == old.max_order && now.max_tail == old.max_tail)
        return;
      in->max_free[i] = now.max_free;
      in->min_free[i] = now.min_free;
      in->max_order[i] = now.max_order;
      in->max_tail[i] = now.max_tail;
      rem = old;
      add = now;
      child = &in->h;
    }
}

/* ------------------------------------------------------------------ */
/* span table                                                           */

static SpanTable *
span_table_new (void)
{
  SpanTable *t = g_new0 (SpanTable, 1);
  t->ref = 1;
  return t;
}

static void
span_table_unref (SpanTable *t)
{
  if (t != NULL && g_atomic_int_dec_and_test (&t->ref))
    {
      g_free (t->r);
      g_free (t);
    }
}

/* first index whose span ends at or after v (the table is sorted and its
 * spans disjoint, so that is where v is or would go) */
static guint
span_table_lower (const SpanTable *t, guint64 v)
{
  guint lo = 0, hi = t->n;

  while (lo < hi)
    {
      guint mid = (lo + hi) / 2;
      if (t->r[mid].last < v)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* index of the span containing v, or -1 */
gint
span_table_find (const SpanTable *t, guint64 v)
{
  guint i = span_table_lower (t, v);

  if (i < t->n && t->r[i].first <= v)
    return (gint) i;
  return -1;
}

static void
arena_spans_insert (AsmArena *a, guint64 first, guint64 last)
{
  SpanTable *t = a->spans;
  guint pos;

  if (g_atomic_int_get (&t->ref) != 1)
    {
      SpanTable *copy = span_table_new ();
      copy->n = t->n;
      copy->alloc = t->n + 1;
      copy->r = g_new (AsmRange, copy->alloc);
      if (t->n > 0)
        memcpy (copy->r, t->r, t->n * sizeof (AsmRange));
      span_table_unref (t);
      a->spans = t = copy;
    }
  if (t->n == t->alloc)
    {
      t->alloc = MAX (4, t->alloc * 2);
      t->r = g_renew (AsmRange, t->r, t->alloc);
    }
  pos = span_table_lower (t, first);
  memmove (&t->r[pos + 1], &t->r[pos], (t->n - pos) * sizeof (AsmRange));
  t->r[pos] = ASM_RANGE (first, last);
  t->n++;
}

/* ------------------------------------------------------------------ */
/* public API                                                           */

/**
 * asm_arena_new:
 * @name: a name for messages and debugging
 * @quantum: the allocation unit, a power of two (1 for an id allocator)
 *
 * Creates an empty arena.  Add the managed space with asm_arena_add_span().
 * Every size, alignment, phase, span end and reservation end is a multiple
 * of @quantum.  An arena with quantum 1 over `[0, 255]` is an allocator of
 * 256 ids.
 *
 * A @quantum that is not a power of two is a programming error (a critical
 * warning, and %NULL is returned).
 *
 * Returns: (transfer full): a new arena; free with asm_arena_unref()
 *
 * Since: 0.1
 */
AsmArena *
asm_arena_new (const char *name, guint64 quantum)
{
  AsmArena *a;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (is_pow2 (quantum), NULL);

  a = g_new0 (AsmArena, 1);
  a->ref = 1;
  a->name = g_strdup (name);
  a->quantum = quantum;
  a->spans = span_table_new ();
  return a;
}

/**
 * asm_arena_ref:
 * @a: an arena
 *
 * Takes a reference (atomically).
 *
 * Returns: (transfer full): @a
 *
 * Since: 0.1
 */
AsmArena *
asm_arena_ref (AsmArena *a)
{
  g_return_val_if_fail (a != NULL, NULL);
  g_atomic_int_inc (&a->ref);
  return a;
}

/**
 * asm_arena_unref:
 * @a: (nullable) (transfer full): an arena
 *
 * Drops a reference; the last one frees the arena.  Nodes shared with
 * clones are freed with the last arena that uses them.
 *
 * Since: 0.1
 */
void
asm_arena_unref (AsmArena *a)
{
  if (a == NULL || !g_atomic_int_dec_and_test (&a->ref))
    return;
  asm_arena_cache_free (a->cache);
  node_unref (a->root);
  span_table_unref (a->spans);
  g_free (a->name);
  g_free (a);
}

/**
 * asm_arena_get_name:
 * @a: an arena
 *
 * Gets the name of the arena.
 *
 * Returns: (transfer none): the arena's name
 *
 * Since: 0.1
 */
const char *
asm_arena_get_name (AsmArena *a)
{
  g_return_val_if_fail (a != NULL, NULL);
  return a->name;
}

/**
 * asm_arena_get_quantum:
 * @a: an arena
 *
 * Gets the quantum of the arena: the unit of every address and size.
 *
 * Returns: the arena's quantum
 *
 * Since: 0.1
 */
guint64
asm_arena_get_quantum (AsmArena *a)
{
  g_return_val_if_fail (a != NULL, 0);
  return a->quantum;
}

static gboolean
check_range (AsmArena *a, const char *what, guint64 first, guint64 last,
             GError **error)
{
  if (first > last)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: %s 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
                   "x is empty (first above last)",
                   a->name, what, first, last);
      return FALSE;
    }
  if ((first & (a->quantum - 1)) != 0 || ((last + 1) & (a->quantum - 1)) != 0)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: %s 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
                   "x does not start and end on quantum (0x%"
                   G_GINT64_MODIFIER "x) boundaries",
                   a->name, what, first, last, a->quantum);
      return FALSE;
    }
  return TRUE;
}

/**
 * asm_arena_add_span:
 * @a: an arena
 * @first: the first unit of the span
 * @last: the last unit of the span (inclusive)
 * @error: return location for a #GError
 *
 * Adds `[first, last]` to the space the arena manages.  The span may touch
 * an existing span but stays separate from it: no allocation or reservation
 * ever crosses from one span into another.
 *
 * Errors: %ASM_ERROR_INVALID when @first > @last, when the ends are not
 * quantum boundaries (@first a multiple of the quantum, @last + 1 too), or
 * when the span overlaps an existing one.  Nothing changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_arena_add_span (AsmArena *a, guint64 first, guint64 last, GError **error)
{
  gint overlap;
  guint pos;
  Seg seg;

  g_return_val_if_fail (a != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  ARENA_GUARD (a, FALSE);

  if (!check_range (a, "span", first, last, error))
    return FALSE;
  pos = span_table_lower (a->spans, first);
  overlap = (pos < a->spans->n && a->spans->r[pos].first <= last) ? (gint) pos
                                                                   : -1;
  if (overlap >= 0)
    {
      AsmRange o = a->spans->r[overlap];
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: span 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
                   "x overlaps span 0x%" G_GINT64_MODIFIER
                   "x-0x%" G_GINT64_MODIFIER "x",
                   a->name, first, last, o.first, o.last);
      return FALSE;
    }

  arena_spans_insert (a, first, last);
  seg = (Seg){ first, last, ASM_SEGMENT_FREE | SPAN_START };
  tree_insert (a, &seg);
  tally_add (&a->t_spans, first, last);
  tally_add (&a->t_free, first, last);
  hint_note_free (a, first, last);
  return TRUE;
}

/**
 * asm_arena_remove_span:
 * @a: an arena
 * @first: the first unit of a span
 * @last: the last unit of the span (inclusive)
 * @error: return location for a #GError
 *
 * Removes the span `[first, last]`, which must have been added exactly so
 * and hold no allocation or reservation.  A fabric uses this to give an
 * empty switch window back.
 *
 * Errors: %ASM_ERROR_NOT_FOUND when no span is exactly `[first, last]`;
 * %ASM_ERROR_IN_USE when some unit of it is allocated or reserved.
 * Nothing changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_arena_remove_span (AsmArena *a, guint64 first, guint64 last,
                       GError **error)
{
  gint si;
  Seg f;
  SpanTable *t;

  g_return_val_if_fail (a != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  ARENA_GUARD (a, TRUE);

  si = span_table_find (a->spans, first);
  if (si < 0 || a->spans->r[si].first != first || a->spans->r[si].last != last)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                   "%s: no span is exactly 0x%" G_GINT64_MODIFIER
                   "x-0x%" G_GINT64_MODIFIER "x",
                   a->name, first, last);
      return FALSE;
    }
  if (!tree_find (a, first, &f))
    ASM_BUG ("%s: span 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
             "x starts no segment (segments tile the spans, I1)",
             a->name, first, last);
  if ((f.kind & KIND_MASK) != ASM_SEGMENT_FREE || f.last != last)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                   "%s: span 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
                   "x still holds allocations or reservations",
                   a->name, first, last);
      return FALSE;
    }
  tree_replace (a, first, NULL, 0);
  tally_sub (&a->t_free, first, last);
  tally_sub (&a->t_spans, first, last);
  t = a->spans;
  if (g_atomic_int_get (&t->ref) != 1)
    {
      SpanTable *copy = span_table_new ();
      copy->n = copy->alloc = t->n;
      copy->r = g_new (AsmRange, MAX (t->n, 1));
      memcpy (copy->r, t->r, t->n * sizeof (AsmRange));
      span_table_unref (t);
      a->spans = t = copy;
    }
  memmove (&t->r[si], &t->r[si + 1], (t->n - si - 1) * sizeof (AsmRange));
  t->n--;
  return TRUE;
}

/* A path a search recorded: complete, and every node on it exclusive? */
static gboolean
path_exclusive (const Path *p)
{
  if (p->leaf == NULL || p->depth > PATH_MAX_DEPTH)
    return FALSE;
  for (guint d = 0; d < p->depth; d++)
    if (g_atomic_int_get (&p->in[d]->h.ref) != 1)
      return FALSE;
  return g_atomic_int_get (&p->leaf->h.ref) == 1;
}

/* The carve of segment *i of p's exclusive leaf would leave it add_n
 * entries more than it can hold: make room as the general path would, by
 * leaf_shift() or else a split in halves, but from the path at hand, with
 * no second descent.  Both move segments between children of the leaf's
 * parent alone, so the parent's augmented values, and every entry above
 * it, stay exact: only the parent's entries for the two leaves are
 * recounted, and the carve's path_fixup() goes up from there as usual.  p
 * and *i then name the place segment *i moved to.  FALSE, with nothing
 * changed, when the general path must do it: the leaf is the root, the
 * parent is full, or the carve would leave a half below LEAF_MIN (a leaf
 * of 31 whose middle segment becomes three). */
static gboolean
leaf_make_room (Path *p, guint *i, guint add_n)
{
  Leaf *l = p->leaf, *right;
  guint n = l->h.n, d, idx, half, left_n, in_left;
  Inner *in;
  Splice sp;

  if (p->depth == 0)
    return FALSE;
  d = p->depth - 1;
  in = p->in[d];
  idx = p->idx[d];
  sp = (Splice){ l->first[*i], TRUE, NULL, 1 + add_n };
  if (leaf_shift (in, idx, &sp))
    {
      /* the first segments went left (those before *i), or the last ones
       * right (those after it) */
      if (*i >= l->h.n || l->first[*i] != sp.key)
        *i -= n - l->h.n;
      return TRUE;
    }
  if (in->h.n == INNER_CAP)
    return FALSE;
  /* halves as even after the carve as the general path's: segment *i and
   * its free pieces stay together, on the side that keeps them closer */
  half = (n + add_n) / 2;
  if (*i + add_n < half)
    left_n = half - add_n;
  else if (*i >= half)
    left_n = half;
  else
    left_n = MIN (*i + 1 + add_n, n - *i - 1) >= MIN (*i, n - *i + add_n)
                 ? *i + 1
                 : *i;
  in_left = *i < left_n ? add_n : 0;
  if (left_n + in_left < LEAF_MIN || n - left_n + (add_n - in_left) < LEAF_MIN)
    return FALSE;
  right = leaf_new ();
  right->h.n = n - left_n;
  memcpy (right->first, &l->first[left_n], right->h.n * sizeof (guint64));
  memcpy (right->last, &l->last[left_n], right->h.n * sizeof (guint64));
  memcpy (right->kind, &l->kind[left_n], right->h.n);
  l->h.n = left_n;
  inner_refresh (in, idx);
  inner_insert_at (in, idx + 1, &right->h);
  if (*i >= left_n)
    {
      p->leaf = right;
      p->idx[d] = idx + 1;
      *i -= left_n;
    }
  return TRUE;
}

/* The writing half of a carve in place: n segments of kind, each of size
 * units, stride apart from addr (stride >= size, the gaps between them
 * free; stride and size are taken modulo 2^64, so one segment may span
 * the whole space), out of free segment i of p's leaf, which has room
 * for the add_n entries the carve adds.  Then the tallies and the
 * augmented values above. */
G_ALWAYS_INLINE static inline void
leaf_write_carve (AsmArena *a, Path *p, guint i, guint64 addr, guint64 size,
                  guint64 stride, guint n, guint add_n, AsmSegmentKind kind)
{
  Leaf *l = p->leaf;
  guint n_leaf = l->h.n, tail = n_leaf - (i + 1);
  guint64 ff = l->first[i], fl = l->last[i];
  guint64 end = addr + (n - 1) * stride + (size - 1);
  guint8 flag = l->kind[i] & SPAN_START;
  Tally *used = kind == ASM_SEGMENT_ALLOCATED ? &a->t_alloc : &a->t_reserved;
  Agg rem, add;

  agg_init (&rem);
  agg_init (&add);
  agg_add_seg (&rem, ff, fl);
  if (add_n != 0) /* an exact fit, the common case, moves nothing */
    {
      memmove (&l->first[i + 1 + add_n], &l->first[i + 1],
               tail * sizeof (guint64));
      memmove (&l->last[i + 1 + add_n], &l->last[i + 1],
               tail * sizeof (guint64));
      memmove (&l->kind[i + 1 + add_n], &l->kind[i + 1], tail);
    }
  if (addr > ff)
    {
      l->last[i] = addr - 1; /* first and kind (with its flag) stay */
      tally_add (&a->t_free, ff, addr - 1);
      agg_add_seg (&add, ff, addr - 1);
      i++;
      flag = 0;
    }
  for (guint k = 0; k < n; k++)
    {
      guint64 at = addr + k * stride;

      l->first[i] = at;
      l->last[i] = at + (size - 1);
      l->kind[i] = kind | (k == 0 ? flag : 0);
      tally_add (used, at, at + (size - 1));
      i++;
      if (size < stride && k + 1 < n)
        {
          l->first[i] = at + size;
          l->last[i] = at + (stride - 1);
          l->kind[i] = ASM_SEGMENT_FREE;
          tally_add (&a->t_free, at + size, at + (stride - 1));
          agg_add_seg (&add, at + size, at + (stride - 1));
          i++;
        }
    }
  if (end < fl)
    {
      l->first[i] = end + 1;
      l->last[i] = fl;
      l->kind[i] = ASM_SEGMENT_FREE;
      tally_add (&a->t_free, end + 1, fl);
      agg_add_seg (&add, end + 1, fl);
    }
  l->h.n = n_leaf + add_n;
  tally_sub (&a->t_free, ff, fl);
  path_fixup (p, &rem, &add);
}

/* arena_carve() of [addr, end] from segment i of p's leaf, in place (see
 * "the in-leaf fast path"), making room in the leaf first when it is full:
 * FALSE, with nothing changed, when the general path must do it. */
static gboolean
carve_in_leaf (AsmArena *a, Path *p, guint i, guint64 addr, guint64 end,
               AsmSegmentKind kind)
{
  Leaf *l = p->leaf;
  guint8 fk = l->kind[i];
  guint64 ff = l->first[i], fl = l->last[i];
  guint add_n;

  if ((fk & KIND_MASK) != ASM_SEGMENT_FREE || fl < end)
    return FALSE;
  add_n = (addr > ff) + (end < fl); /* free pieces left around the carve */
  if (l->h.n + add_n > LEAF_CAP && !leaf_make_room (p, &i, add_n))
    return FALSE;
  leaf_write_carve (a, p, i, addr, end - addr + 1, end - addr + 1, 1, add_n,
                    kind);
  return TRUE;
}

/* carve_in_leaf() of a run: up to n allocations of size units, stride
 * apart from addr (stride >= size; the gaps between them stay free), all
 * inside free segment i of p's leaf: as many as the leaf has room for,
 * without making room.  Returns how many, 0 (with nothing changed) when
 * not two.  Used for the cache's misses (asm_arena_tree_alloc_run()). */
static guint
carve_run_in_leaf (AsmArena *a, Path *p, guint i, guint64 addr, guint64 size,
                   guint64 stride, guint n)
{
  Leaf *l = p->leaf;
  guint8 fk = l->kind[i];
  guint64 ff = l->first[i], fl = l->last[i], end;
  /* each allocation after the first takes an entry, and one more for the
   * gap before it; the free pieces around the run one each */
  guint per = size < stride ? 2 : 1, outer = (addr > ff) + 1;

  end = addr + (n - 1) * stride + (size - 1);
  if ((fk & KIND_MASK) != ASM_SEGMENT_FREE || addr < ff || fl < end ||
      l->h.n + outer > LEAF_CAP)
    return 0;
  n = MIN (n, (LEAF_CAP - l->h.n - outer) / per + 1);
  if (n < 2)
    return 0;
  end = addr + (n - 1) * stride + (size - 1);
  leaf_write_carve (a, p, i, addr, size, stride, n,
                    (addr > ff) + (end < fl) + (n - 1) * per,
                    ASM_SEGMENT_ALLOCATED);
  return n;
}

/* carve_in_leaf() after a descent to addr */
static gboolean
carve_fast (AsmArena *a, guint64 addr, guint64 end, AsmSegmentKind kind)
{
  Path p;
  guint i;

  if (!path_find_exclusive (a, addr, &p))
    return FALSE;
  i = leaf_lower_bound (p.leaf, addr);
  if (i == p.leaf->h.n || p.leaf->first[i] != addr)
    {
      if (i == 0)
        return FALSE;
      i--;
    }
  return carve_in_leaf (a, &p, i, addr, end, kind);
}

/* Turns the free segment f into up to three segments with [addr, end] of
 * kind `kind` in the middle. */
static void
arena_carve (AsmArena *a, const Seg *f, guint64 addr, guint64 end,
             AsmSegmentKind kind)
{
  Seg repl[SPLICE_MAX];
  guint k = 0;
  guint8 start_flag = f->kind & SPAN_START;

  if (addr > f->first)
    {
      repl[k++] = (Seg){ f->first, addr - 1, ASM_SEGMENT_FREE | start_flag };
      repl[k++] = (Seg){ addr, end, kind };
      tally_add (&a->t_free, f->first, addr - 1);
    }
  else
    {
      repl[k++] = (Seg){ addr, end, kind | start_flag };
    }
  if (end < f->last)
    {
      repl[k++] = (Seg){ end + 1, f->last, ASM_SEGMENT_FREE };
      tally_add (&a->t_free, end + 1, f->last);
    }
  tally_sub (&a->t_free, f->first, f->last);
  tally_add (kind == ASM_SEGMENT_ALLOCATED ? &a->t_alloc : &a->t_reserved,
             addr, end);
  tree_replace (a, f->first, repl, k);
}

/**
 * asm_arena_reserve:
 * @a: an arena
 * @first: the first unit to reserve
 * @last: the last unit to reserve (inclusive)
 * @error: return location for a #GError
 *
 * Claims exactly `[first, last]`: carves a hole (the x86 interrupt window,
 * an RMRR identity range, a peer-to-peer window) or pins a range that was
 * chosen elsewhere.  The reservation is a segment of its own: it never
 * merges with a neighbour, asm_arena_free() on @first releases it, and
 * asm_arena_lookup() reports it.
 *
 * Errors: %ASM_ERROR_INVALID when @first > @last, when the ends are not
 * quantum boundaries, or when the range is not wholly inside one span
 * (outside every span, or across two adjacent spans);
 * %ASM_ERROR_IN_USE when any unit of it is allocated or reserved.  Nothing
 * changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_arena_reserve (AsmArena *a, guint64 first, guint64 last, GError **error)
{
  gint si;
  Seg f;

  g_return_val_if_fail (a != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  ARENA_GUARD (a, TRUE);

  if (!check_range (a, "reservation", first, last, error))
    return FALSE;
  si = span_table_find (a->spans, first);
  if (si < 0 || a->spans->r[si].last < last)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: reservation 0x%" G_GINT64_MODIFIER
                   "x-0x%" G_GINT64_MODIFIER "x is not inside one span",
                   a->name, first, last);
      return FALSE;
    }
  if (!tree_find (a, first, &f))
    ASM_BUG ("%s: 0x%" G_GINT64_MODIFIER "x is inside a span but in no "
             "segment (segments tile the spans, I1)", a->name, first);
  if ((f.kind & KIND_MASK) != ASM_SEGMENT_FREE || f.last < last)
    {
      Seg used = f;
      if ((f.kind & KIND_MASK) == ASM_SEGMENT_FREE)
        (void) tree_find (a, f.last + 1, &used);
      g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                   "%s: reservation 0x%" G_GINT64_MODIFIER
                   "x-0x%" G_GINT64_MODIFIER "x overlaps %s 0x%"
                   G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER "x",
                   a->name, first, last,
                   (used.kind & KIND_MASK) == ASM_SEGMENT_RESERVED
                       ? "reservation"
                       : "allocation",
                   used.first, used.last);
      return FALSE;
    }
  arena_carve (a, &f, first, last, ASM_SEGMENT_RESERVED);
  return TRUE;
}

/* Sets INVALID naming the field and its value ("iova: align 0x3 is not a
 * power of two"), or just the reason when field is NULL. */
G_GNUC_PRINTF (5, 6)
static gboolean
request_invalid (AsmArena *a, GError **error, const char *field,
                 guint64 value, const char *why, ...)
{
  va_list ap;
  g_autofree char *reason = NULL;

  va_start (ap, why);
  reason = g_strdup_vprintf (why, ap);
  va_end (ap);
  if (field != NULL)
    g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                 "%s: %s 0x%" G_GINT64_MODIFIER "x %s", a->name, field, value,
                 reason);
  else
    g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID, "%s: %s", a->name,
                 reason);
  return FALSE;
}

/* Checks a request against the rules documented on #AsmRequest in
 * asm-arena.h and derives the search parameters.  INVALID only. */
gboolean
request_validate (AsmArena *a, const AsmRequest *req, Req *r, GError **error)
{
  guint64 q = a->quantum;
  guint64 align = req->align ? req->align : q;
  guint t;

  if (req->size == 0)
    return request_invalid (a, error, NULL, 0,
                            "size 0 is invalid: a size is a count >= 1");
  if ((req->size & (q - 1)) != 0)
    return request_invalid (a, error, "size", req->size,
                            "is not a multiple of the quantum 0x%"
                            G_GINT64_MODIFIER "x", q);
  if (req->align != 0 && !is_pow2 (req->align))
    return request_invalid (a, error, "align", req->align,
                            "is not a power of two");
  if (req->align != 0 && req->align < q)
    return request_invalid (a, error, "align", req->align,
                            "is below the quantum 0x%" G_GINT64_MODIFIER "x",
                            q);
  if (req->phase >= align)
    return request_invalid (a, error, "phase", req->phase,
                            "is not below the alignment 0x%"
                            G_GINT64_MODIFIER "x", align);
  if ((req->phase & (q - 1)) != 0)
    return request_invalid (a, error, "phase", req->phase,
                            "is not a multiple of the quantum 0x%"
                            G_GINT64_MODIFIER "x", q);
  if (req->nocross != 0 && !is_pow2 (req->nocross))
    return request_invalid (a, error, "nocross", req->nocross,
                            "is not a power of two");
  if (req->nocross != 0 && req->nocross < req->size)
    return request_invalid (a, error, "nocross", req->nocross,
                            "is smaller than the size 0x%" G_GINT64_MODIFIER
                            "x", req->size);
  if (req->min > req->max)
    return request_invalid (a, error, "min", req->min,
                            "is above max 0x%" G_GINT64_MODIFIER "x",
                            req->max);
  if ((guint) req->fit > ASM_FIT_INSTANT)
    return request_invalid (a, error, "fit", (guint64) req->fit,
                            "is not an AsmFit value");

  r->size = req->size;
  r->align = req->align ? req->align : q;
  r->phase = req->phase;
  r->nocross = req->nocross;
  r->min = req->min;
  r->max = req->max;
  r->fit = req->fit;
  /* any fit starts at a multiple of 2^t and so holds an aligned block of
   * 2^min(t, floor(log2 size)) units */
  t = r->phase ? (guint) __builtin_ctzll (r->phase) : log2_floor (r->align);
  r->need_order = MIN (t, log2_floor (r->size));
  r->tail_order = NO_ORDER;
  if (r->phase == 0 && r->size < r->align && r->size > r->align / 2)
    r->tail_order = log2_floor (r->align) - 1;
  return TRUE;
}

static void
set_no_space (AsmArena *a, const Req *r, GError **error)
{
  guint64 window;
  AsmArenaStats st;

  if (error == NULL)
    return; /* the message's figures cost O(log n): only for a reader */
  window = arena_largest_free_within (a, r->min, r->max);
  asm_arena_tree_stats (a, &st);
  g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
               "%s: no free range of 0x%" G_GINT64_MODIFIER
               "x units (align 0x%" G_GINT64_MODIFIER "x, phase 0x%"
               G_GINT64_MODIFIER "x, nocross 0x%" G_GINT64_MODIFIER
               "x) within 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
               "x: the largest free run there is 0x%" G_GINT64_MODIFIER
               "x units, the largest anywhere 0x%" G_GINT64_MODIFIER "x",
               a->name, r->size, r->align, r->phase, r->nocross, r->min,
               r->max, window, st.largest_free);
}

/* Carves the allocation the search found at addr; path and i, when not
 * NULL, are where the search found it. */
static void
arena_commit_alloc (AsmArena *a, const Req *r, guint64 addr, Path *path,
                    guint i)
{
  guint64 end = addr + (r->size - 1);
  Seg f;

  /* the search's path leads to the leaf a descent to addr would find: when
   * the carve fails there, it would fail after the descent too */
  if (path != NULL && path_exclusive (path)
          ? carve_in_leaf (a, path, i, addr, end, ASM_SEGMENT_ALLOCATED)
          : carve_fast (a, addr, end, ASM_SEGMENT_ALLOCATED))
    ;
  else if (!tree_find (a, addr, &f))
    ASM_BUG ("%s: the search chose 0x%" G_GINT64_MODIFIER "x, which is in "
             "no segment", a->name, addr);
  else
    arena_carve (a, &f, addr, end, ASM_SEGMENT_ALLOCATED);
  if (r->fit == ASM_FIT_NEXT)
    {
      a->next_cursor = addr + (r->size - 1);
      a->next_valid = TRUE;
    }
}

/* The start of asm_arena_tree_alloc(): req validated into *r, and not
 * refused by the hint.  FALSE, with the error set, otherwise. */
G_ALWAYS_INLINE static inline gboolean
tree_alloc_admit (AsmArena *a, const AsmRequest *req, Req *r, GError **error)
{
  if (!request_validate (a, req, r, error))
    return FALSE;
  if (hint_covers (&a->hint, r))
    {
      set_no_space (a, r, error);
      return FALSE;
    }
  return TRUE;
}

/* The rest: the search, the refusal remembered, or the carve. */
G_ALWAYS_INLINE static inline gboolean
tree_alloc_req (AsmArena *a, const Req *r, guint64 *out_addr, GError **error)
{
  guint64 addr;
  Path path;
  guint i;

  if (!arena_search_path (a, r, &addr, &path, &i))
    {
      a->hint = *r;
      set_no_space (a, r, error);
      return FALSE;
    }
  arena_commit_alloc (a, r, addr, &path, i);
  if (out_addr != NULL)
    *out_addr = addr;
  return TRUE;
}

/* asm_arena_alloc_full() in the tree: the whole of it without a cache.
 * The public function is in asm-arena-cache.c, whose hit path it inlines;
 * this one is its tail call for an arena without a cache. */
gboolean
asm_arena_tree_alloc (AsmArena *a, const AsmRequest *req, guint64 *out_addr,
                      GError **error)
{
  Req r;

  return tree_alloc_admit (a, req, &r, error) &&
         tree_alloc_req (a, &r, out_addr, error);
}

/* asm_arena_tree_alloc() of a request of the cache's (fit INSTANT, no
 * phase, no nocross, an alignment no larger than stride, a power of two
 * at least its size), which may also carve up to n_max - 1 more
 * allocations of the same size after the one it returns, stride apart:
 * when the lowest run of n_max of them inside [min, max] has its free
 * segment in a leaf with room for them, one search and one carve make
 * them all.  *out_n tells how many were made (1 to n_max), at *out_addr,
 * *out_addr + stride, ...  Else, or with n_max 1, asm_arena_tree_alloc()
 * of the request.  So the cache's misses, which come in runs (a class
 * whose demand grows finds its magazines empty again and again), cost
 * the tree one search for several ranges. */
gboolean
asm_arena_tree_alloc_run (AsmArena *a, const AsmRequest *req, guint64 stride,
                          guint n_max, guint64 *out_addr, guint *out_n,
                          GError **error)
{
  Req r, run;
  AsmRequest rq;
  guint64 addr;
  Path path;
  guint i;

  *out_n = 1;
  if (n_max <= 1 || req->size > stride ||
      stride > (G_MAXUINT64 - req->size) / (n_max - 1) ||
      req->fit != ASM_FIT_INSTANT || req->phase != 0 || req->nocross != 0 ||
      (req->align != 0 && req->align > stride))
    return asm_arena_tree_alloc (a, req, out_addr, error);
  if (!tree_alloc_admit (a, req, &r, error))
    return FALSE;
  rq = *req;
  rq.size = (n_max - 1) * stride + req->size;
  rq.align = stride;
  if (request_validate (a, &rq, &run, NULL) &&
      arena_search_path (a, &run, &addr, &path, &i))
    {
      /* the run's first allocation answers the request (its alignment is
       * a multiple of the request's, the run lies inside [min, max]), so
       * when the leaf has no room for the run, it is carved alone */
      if (path.leaf != NULL && path_exclusive (&path))
        *out_n =
            carve_run_in_leaf (a, &path, i, addr, req->size, stride, n_max);
      if (*out_n < 2)
        {
          *out_n = 1;
          arena_commit_alloc (a, &r, addr, &path, i);
        }
      if (out_addr != NULL)
        *out_addr = addr;
      return TRUE;
    }
  return tree_alloc_req (a, &r, out_addr, error);
}

/**
 * asm_arena_find_free:
 * @a: an arena
 * @req: the request: size and constraints
 * @out_addr: (out): where the address found is stored
 * @error: return location for a #GError
 *
 * A dry run of asm_arena_alloc_full(): finds the address it would return,
 * and changes nothing (not even the %ASM_FIT_NEXT cursor).  Useful to plan
 * a multi-step change before making it, and to ask "what is the lowest free
 * unit at or above X" (size 1, min X).
 *
 * Errors: as asm_arena_alloc_full().
 *
 * Returns: %TRUE when an address satisfies @req
 *
 * Since: 0.1
 */
gboolean
asm_arena_find_free (AsmArena *a, const AsmRequest *req, guint64 *out_addr,
                     GError **error)
{
  Req r;
  guint64 addr;

  g_return_val_if_fail (a != NULL, FALSE);
  g_return_val_if_fail (req != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  ARENA_GUARD (a, TRUE);

  if (!request_validate (a, req, &r, error))
    return FALSE;
  /* the hint is read, never written: find_free is a read (see Locking) */
  if (hint_covers (&a->hint, &r) || !arena_search (a, &r, &addr))
    {
      set_no_space (a, &r, error);
      return FALSE;
    }
  if (out_addr != NULL)
    *out_addr = addr;
  return TRUE;
}

/**
 * asm_arena_alloc:
 * @a: an arena
 * @size: units to allocate, a multiple of the quantum
 * @out_addr: (out): where the first unit of the allocation is stored
 * @error: return location for a #GError
 *
 * Allocates @size units at the lowest free address aligned to the quantum:
 * asm_arena_alloc_full() with ASM_REQUEST_INIT(@size).
 *
 * Errors: as asm_arena_alloc_full().
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_arena_alloc (AsmArena *a, guint64 size, guint64 *out_addr, GError **error)
{
  AsmRequest req = ASM_REQUEST_INIT (size);
  return asm_arena_alloc_full (a, &req, out_addr, error);
}

/* asm_arena_free() inside one leaf (see "the in-leaf fast path"): FALSE,
 * with nothing changed, when the general path must do it (or report that
 * nothing starts at addr). */
static gboolean
free_fast (AsmArena *a, guint64 addr)
{
  Path p;
  Leaf *l;
  guint i, n, lo, hi;
  guint64 first, last;
  guint8 uk;
  Agg rem, add;

  if (!path_find_exclusive (a, addr, &p))
    return FALSE;
  l = p.leaf;
  n = l->h.n;
  i = leaf_lower_bound (l, addr);
  if (i == n || l->first[i] != addr ||
      (l->kind[i] & KIND_MASK) == ASM_SEGMENT_FREE)
    return FALSE;
  uk = l->kind[i];
  first = addr;
  last = l->last[i];
  lo = hi = i; /* entries lo..hi become one free segment */
  agg_init (&rem);
  if (last != G_MAXUINT64)
    {
      if (i + 1 == n)
        {
          /* the next segment, if any, starts the next leaf: the general
           * path merges across leaves, but a used or absent neighbour
           * needs no merge */
          const Leaf *next;
          if (p.depth == 0)
            goto right_done; /* the root leaf: nothing follows */
          if (p.idx[p.depth - 1] + 1 == p.in[p.depth - 1]->h.n)
            return FALSE;
          next = (const Leaf *) p.in[p.depth - 1]->child[p.idx[p.depth - 1] + 1];
          if (next->first[0] == last + 1 && !(next->kind[0] & SPAN_START) &&
              (next->kind[0] & KIND_MASK) == ASM_SEGMENT_FREE)
            return FALSE;
          goto right_done;
        }
      if (l->first[i + 1] == last + 1 && !(l->kind[i + 1] & SPAN_START) &&
          (l->kind[i + 1] & KIND_MASK) == ASM_SEGMENT_FREE)
        {
          hi = i + 1;
          last = l->last[hi];
          agg_add_seg (&rem, l->first[hi], last);
        }
    }
right_done:
  if (!(uk & SPAN_START))
    {
      if (i == 0)
        {
          /* likewise the previous segment, which ends the previous leaf
           * (i == 0 in the leftmost leaf would start a span) */
          const Leaf *prev;
          if (p.depth == 0 || p.idx[p.depth - 1] == 0)
            return FALSE;
          prev = (const Leaf *) p.in[p.depth - 1]->child[p.idx[p.depth - 1] - 1];
          if ((prev->kind[prev->h.n - 1] & KIND_MASK) == ASM_SEGMENT_FREE)
            return FALSE;
        }
      else if ((l->kind[i - 1] & KIND_MASK) == ASM_SEGMENT_FREE)
        {
          lo = i - 1;
          first = l->first[lo];
          agg_add_seg (&rem, first, l->last[lo]);
        }
    }
  if (p.depth > 0 && n - (hi - lo) < LEAF_MIN)
    return FALSE; /* the leaf would underflow */

  tally_sub ((uk & KIND_MASK) == ASM_SEGMENT_ALLOCATED ? &a->t_alloc
                                                       : &a->t_reserved,
             addr, l->last[i]);
  if (hi > i)
    tally_sub (&a->t_free, l->first[hi], l->last[hi]);
  if (lo < i)
    tally_sub (&a->t_free, l->first[lo], l->last[lo]);
  tally_add (&a->t_free, first, last);
  hint_note_free (a, first, last);

  l->kind[lo] = ASM_SEGMENT_FREE | (l->kind[lo] & SPAN_START);
  l->first[lo] = first;
  l->last[lo] = last;
  if (hi > lo)
    {
      guint tail = n - (hi + 1);
      memmove (&l->first[lo + 1], &l->first[hi + 1], tail * sizeof (guint64));
      memmove (&l->last[lo + 1], &l->last[hi + 1], tail * sizeof (guint64));
      memmove (&l->kind[lo + 1], &l->kind[hi + 1], tail);
      l->h.n = n - (hi - lo);
    }
  agg_init (&add);
  agg_add_seg (&add, first, last);
  path_fixup (&p, &rem, &add);
  return TRUE;
}

/* Frees the used segment u (which starts at u->first), merging it with free
 * neighbours inside its span. */
static void
arena_release (AsmArena *a, const Seg *u)
{
  guint64 first = u->first, last = u->last;
  gboolean merge_left = FALSE;
  Seg left, right;

  tally_sub ((u->kind & KIND_MASK) == ASM_SEGMENT_ALLOCATED ? &a->t_alloc
                                                            : &a->t_reserved,
             u->first, u->last);

  if (u->last != G_MAXUINT64 && tree_find (a, u->last + 1, &right) &&
      right.first == u->last + 1 && !(right.kind & SPAN_START) &&
      (right.kind & KIND_MASK) == ASM_SEGMENT_FREE)
    {
      last = right.last;
      tally_sub (&a->t_free, right.first, right.last);
      tree_replace (a, right.first, NULL, 0);
    }
  if (!(u->kind & SPAN_START) && tree_find (a, u->first - 1, &left) &&
      (left.kind & KIND_MASK) == ASM_SEGMENT_FREE)
    {
      merge_left = TRUE;
      first = left.first;
      tally_sub (&a->t_free, left.first, left.last);
    }
  tally_add (&a->t_free, first, last);
  hint_note_free (a, first, last);
  if (merge_left)
    {
      Seg merged = { first, last, left.kind };
      tree_replace (a, u->first, NULL, 0);
      tree_replace (a, left.first, &merged, 1);
    }
  else
    {
      Seg merged = { first, last,
                     ASM_SEGMENT_FREE | (u->kind & SPAN_START) };
      tree_replace (a, u->first, &merged, 1);
    }
}

static gboolean
find_used_at (AsmArena *a, guint64 addr, Seg *u, GError **error)
{
  if (!tree_find_le (a, addr, u) || u->first != addr ||
      (u->kind & KIND_MASK) == ASM_SEGMENT_FREE)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                   "%s: no allocation or reservation starts at 0x%"
                   G_GINT64_MODIFIER "x",
                   a->name, addr);
      return FALSE;
    }
  return TRUE;
}

/* asm_arena_free() in the tree, as asm_arena_tree_alloc() */
gboolean
asm_arena_tree_free (AsmArena *a, guint64 addr, GError **error)
{
  Seg u;

  if (free_fast (a, addr))
    return TRUE;
  if (!find_used_at (a, addr, &u, error))
    return FALSE;
  arena_release (a, &u);
  return TRUE;
}

/**
 * asm_arena_move:
 * @a: an arena
 * @addr: the first unit of an allocation or reservation
 * @req: the request for the new place
 * @out_addr: (out): where the first unit of the new allocation is stored
 * @error: return location for a #GError
 *
 * Moves (or resizes) the allocation or reservation at @addr: the new place
 * is chosen as asm_arena_alloc_full() would choose it if the old units were
 * already free, so it may overlap the old place (growing or shrinking in
 * place).  The result is an allocation.  All or nothing: when no place
 * satisfies @req, the old allocation is still there, unchanged.
 *
 * Errors: %ASM_ERROR_INVALID for a malformed request (reported first),
 * %ASM_ERROR_NOT_FOUND when nothing starts at @addr, %ASM_ERROR_NO_SPACE
 * when no place satisfies @req.  Nothing changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_arena_move (AsmArena *a, guint64 addr, const AsmRequest *req,
                guint64 *out_addr, GError **error)
{
  Req r;
  Seg u;
  Node *saved_root;
  guint saved_height;
  Tally saved[4];
  guint64 new_addr;

  g_return_val_if_fail (a != NULL, FALSE);
  g_return_val_if_fail (req != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  ARENA_GUARD (a, TRUE);

  if (!request_validate (a, req, &r, error) ||
      !find_used_at (a, addr, &u, error))
    return FALSE;

  /* Keep the old tree alive: freeing copies the path it touches, and the
   * old root is put back if no new place is found. */
  saved_root = node_ref (a->root);
  saved_height = a->height;
  saved[0] = a->t_spans, saved[1] = a->t_alloc;
  saved[2] = a->t_reserved, saved[3] = a->t_free;

  arena_release (a, &u);
  if (hint_covers (&a->hint, &r) || !arena_search (a, &r, &new_addr))
    {
      set_no_space (a, &r, error);
      node_unref (a->root);
      a->root = saved_root;
      a->height = saved_height;
      a->t_spans = saved[0], a->t_alloc = saved[1];
      a->t_reserved = saved[2], a->t_free = saved[3];
      /* r has no fit even with the old place free, so none without it */
      a->hint = r;
      return FALSE;
    }
  node_unref (saved_root);
  if (a->cache != NULL) /* the table knows the old place no more */
    asm_arena_cache_forget (a->cache, addr);
  arena_commit_alloc (a, &r, new_addr, NULL, 0);
  if (out_addr != NULL)
    *out_addr = new_addr;
  return TRUE;
}

/**
 * asm_arena_clone:
 * @a: an arena
 * @name: the clone's name
 *
 * Makes an independent copy of @a (spans, holes, allocations and the NEXT
 * cursor) in O(1) time and memory: the two share their tree until either
 * is written, and a write then copies only the O(log n) nodes on its path.
 * This is how one IOVA template with its holes becomes the arena of each new
 * IOMMU domain.
 *
 * Returns: (transfer full): the clone; free with asm_arena_unref()
 *
 * Since: 0.1
 */
AsmArena *
asm_arena_clone (AsmArena *a, const char *name)
{
  AsmArena *c;

  g_return_val_if_fail (a != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  ARENA_GUARD (a, TRUE);

  c = g_new (AsmArena, 1);
  /* everything but the reference count (see node_make_writable) */
  memcpy ((char *) c + G_STRUCT_OFFSET (AsmArena, height),
          (const char *) a + G_STRUCT_OFFSET (AsmArena, height),
          sizeof *c - G_STRUCT_OFFSET (AsmArena, height));
  c->ref = 1;
  c->cache = NULL;
  c->name = g_strdup (name);
  if (c->root != NULL)
    node_ref (c->root);
  g_atomic_int_inc (&c->spans->ref);
  return c;
}

/* ------------------------------------------------------------------ */
/* the cache (asm-arena-cache.c)                                        */

ASM_DEFINE_VALUE_TYPE (AsmArenaCacheStats, asm_arena_cache_stats)

/**
 * asm_arena_enable_cache:
 * @a: an arena without a cache
 * @max_size: the largest size to cache, in address units: the quantum
 *   times 1 to 256
 * @error: return location for a #GError
 *
 * Puts magazines of recently freed ranges, vmem's quantum caches and
 * Linux's IOVA rcache done exactly, in front of the arena, and makes the
 * arena safe to share between threads.
 *
 * From then on, an %ASM_FIT_INSTANT request whose size is at most
 * @max_size, with no phase and no nocross and an alignment no larger than
 * its size rounded up to a power of two, is served from the calling
 * thread's magazine of freed ranges of exactly that size (within the
 * request's [min, max]), refilled from and returned to a shared depot; and
 * asm_arena_free() puts such ranges back in the magazine instead of the
 * tree.  What the magazines and the depot hold together has a hard cap,
 * asm_arena_get_cache_stats()'s @capacity; beyond it, ranges go back to
 * the tree.  Other requests, and misses, are served by the tree as before.
 *
 * Exact still: a cached range is free to every caller.  A request is never
 * refused while a cached range could satisfy it (the cache is given back to
 * the tree and the request retried first), an exact fit (%ASM_FIT_LOWEST,
 * %ASM_FIT_HIGHEST, %ASM_FIT_BEST, %ASM_FIT_NEXT) sees the cached ranges as
 * free (it gives them back first, so mixing exact fits with
 * %ASM_FIT_INSTANT on one arena empties the cache each time), and so do
 * asm_arena_reserve(), asm_arena_remove_span(), asm_arena_move(),
 * asm_arena_find_free(), asm_arena_lookup_full(),
 * asm_arena_largest_free_within(), asm_arena_walk() and asm_arena_clone().
 * asm_arena_lookup() reports a cached range as free; asm_arena_get_stats()
 * counts it as free units; asm_arena_check() accounts for every one.
 *
 * Threads: after this call, every function of this API may be called on
 * @a from several threads at once (the tree is behind a lock; the
 * magazines are per thread).  This call itself must not race with any
 * other call on @a.  A clone starts without a cache and is independent.
 * asm_arena_walk() walks a snapshot, so its callback may call into @a.
 * Costs: a free on the thread that made the allocation touches only that
 * thread's magazines; a free on another thread finds the range under the
 * tree's lock, asking every thread's table in turn (up to 64), so frees
 * are cheapest where the allocations were made.
 *
 * Errors: %ASM_ERROR_INVALID when @max_size is not the quantum times 1 to
 * 256, or when @a already has a cache.  Nothing changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_arena_enable_cache (AsmArena *a, guint64 max_size, GError **error)
{
  g_return_val_if_fail (a != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (a->cache != NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: the arena already has a cache", a->name);
      return FALSE;
    }
  a->cache = asm_arena_cache_new (a, a->name, a->quantum, max_size, error);
  return a->cache != NULL;
}

/**
 * asm_arena_get_cache_stats:
 * @a: an arena
 * @out_stats: (out caller-allocates): where the figures are stored
 *
 * Reports what the cache of @a holds and how it has served (all zero for
 * an arena without a cache).
 *
 * Returns: %TRUE when @a has a cache
 *
 * Since: 0.1
 */
gboolean
asm_arena_get_cache_stats (AsmArena *a, AsmArenaCacheStats *out_stats)
{
  g_return_val_if_fail (a != NULL, FALSE);
  g_return_val_if_fail (out_stats != NULL, FALSE);

  memset (out_stats, 0, sizeof *out_stats);
  if (a->cache == NULL)
    return FALSE;
  asm_arena_cache_get_stats (a->cache, out_stats);
  return TRUE;
}

/* A range the cache held goes back to the tree's free space. */
void
asm_arena_tree_release (AsmArena *a, guint64 addr, guint64 size)
{
  Seg u;

  if (!find_used_at (a, addr, &u, NULL) ||
      (u.kind & KIND_MASK) != ASM_SEGMENT_ALLOCATED ||
      u.last != addr + (size - 1))
    ASM_BUG ("%s: the cache held 0x%" G_GINT64_MODIFIER "x+0x%"
             G_GINT64_MODIFIER "x, which is not an allocation", a->name,
             addr, size);
  arena_release (a, &u);
}

/* The tree's segment that contains addr (FALSE: outside every span). */
gboolean
asm_arena_tree_segment (AsmArena *a, guint64 addr, AsmRange *out_segment,
                        AsmSegmentKind *out_kind)
{
  Seg s;

  if (!tree_find (a, addr, &s))
    return FALSE;
  *out_segment = ASM_RANGE (s.first, s.last);
  *out_kind = (AsmSegmentKind) (s.kind & KIND_MASK);
  return TRUE;
}

