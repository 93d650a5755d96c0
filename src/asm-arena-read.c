/* asm-arena-read.c: the arena's reads and its invariant check
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * Everything here reads the tree and changes nothing: lookups (the segment
 * that holds an address), the accounting (O(1), from the tallies and the
 * root's augmented values), the largest free run inside a window (O(log n),
 * from max_free), the walk (O(n), in address order), asm_arena_check(),
 * which verifies every invariant I1-I7 of the theory comment in
 * asm-arena.c by a recount of the whole tree, and the private
 * introspection the tests and benchmarks use.  With a cache, each takes
 * the arena's lock (ARENA_GUARD); those that need the exact free space
 * first give the cached ranges back to the tree, and the walk walks an
 * O(1) snapshot so that its callback may call into the arena.
 */
#include "asm-arena-tree-private.h"

#include <string.h>

#include "asm-arena-private.h"
#include "asm-bug-private.h"

/**
 * asm_arena_lookup:
 * @a: an arena
 * @addr: any unit
 * @out_segment: (out) (optional): the allocation or reservation found
 *
 * Finds the allocation or reservation that contains @addr.
 *
 * Returns: %TRUE when @addr is allocated or reserved (and @out_segment is
 *   set), %FALSE when it is free or outside every span
 *
 * Since: 0.1
 */
gboolean
asm_arena_lookup (AsmArena *a, guint64 addr, AsmRange *out_segment)
{
  Seg s;

  g_return_val_if_fail (a != NULL, FALSE);
  ARENA_GUARD (a, FALSE);

  if (!tree_find (a, addr, &s) || (s.kind & KIND_MASK) == ASM_SEGMENT_FREE)
    return FALSE;
  if (a->cache != NULL && asm_arena_cache_holds (a->cache, s.first))
    return FALSE; /* a cached range is free to every caller */
  if (out_segment != NULL)
    *out_segment = ASM_RANGE (s.first, s.last);
  return TRUE;
}

/**
 * asm_arena_lookup_full:
 * @a: an arena
 * @addr: any unit
 * @out_segment: (out) (optional): the segment that contains @addr
 * @out_kind: (out) (optional): what the segment holds
 *
 * Finds the segment, free or not, that contains @addr.  A free segment is a
 * maximal run of free units inside one span.
 *
 * Returns: %TRUE when @addr is inside a span, %FALSE otherwise
 *
 * Since: 0.1
 */
gboolean
asm_arena_lookup_full (AsmArena *a, guint64 addr, AsmRange *out_segment,
                       AsmSegmentKind *out_kind)
{
  Seg s;

  g_return_val_if_fail (a != NULL, FALSE);
  ARENA_GUARD (a, TRUE);

  if (!tree_find (a, addr, &s))
    return FALSE;
  if (out_segment != NULL)
    *out_segment = ASM_RANGE (s.first, s.last);
  if (out_kind != NULL)
    *out_kind = (AsmSegmentKind) (s.kind & KIND_MASK);
  return TRUE;
}

/**
 * asm_arena_get_stats:
 * @a: an arena
 * @out_stats: (out caller-allocates): where the figures are stored
 *
 * Reports the arena's accounting in O(1).  Unit counts are in address units
 * (not quanta) and saturate at %G_MAXUINT64 for the one case that reaches
 * 2^64, a span covering the whole space.
 *
 * Since: 0.1
 */
void
asm_arena_get_stats (AsmArena *a, AsmArenaStats *out_stats)
{
  g_return_if_fail (a != NULL);
  g_return_if_fail (out_stats != NULL);

  if (G_UNLIKELY (a->cache != NULL))
    asm_arena_cache_stats (a->cache, a, out_stats);
  else
    asm_arena_tree_stats (a, out_stats);
}

/* asm_arena_get_stats() of the tree alone */
void
asm_arena_tree_stats (AsmArena *a, AsmArenaStats *out_stats)
{
  Agg root;

  out_stats->span_units = tally_units (&a->t_spans);
  out_stats->allocated_units = tally_units (&a->t_alloc);
  out_stats->reserved_units = tally_units (&a->t_reserved);
  out_stats->free_units = tally_units (&a->t_free);
  out_stats->n_spans = a->t_spans.n;
  out_stats->n_allocated = a->t_alloc.n;
  out_stats->n_reserved = a->t_reserved.n;
  out_stats->n_free_segments = a->t_free.n;
  if (a->root != NULL)
    node_agg (a->root, &root);
  else
    agg_init (&root);
  out_stats->largest_free = root.max_free;
}

static guint64
largest_within (const Node *n, guint64 lo, guint64 hi, guint64 min,
                guint64 max)
{
  guint64 best = 0;

  if (n->leaf)
    {
      const Leaf *l = (const Leaf *) n;
      for (guint i = 0; i < n->n; i++)
        {
          guint64 f = MAX (l->first[i], min), t = MIN (l->last[i], max);
          if ((l->kind[i] & KIND_MASK) == ASM_SEGMENT_FREE && f <= t)
            best = MAX (best, seg_len (f, t));
        }
      return best;
    }
  else
    {
      const Inner *in = (const Inner *) n;
      for (guint i = 0; i < n->n; i++)
        {
          guint64 k_first = in->key[i], k_last = child_key_last (in, i);
          if (in->max_free[i] == 0 || k_last < min || k_first > max ||
              in->max_free[i] <= best)
            continue;
          if (k_first >= min && k_last <= max)
            best = MAX (best, in->max_free[i]);
          else
            best = MAX (best, largest_within (in->child[i], k_first, k_last,
                                              min, max));
        }
      return best;
    }
}

/**
 * asm_arena_largest_free_within:
 * @a: an arena
 * @min: the first unit of the window
 * @max: the last unit of the window (inclusive)
 *
 * The size of the largest free run inside the window `[min, max]`: every
 * free segment clipped to the window, the longest result.  O(log n).  A
 * run of 2^64 units saturates at %G_MAXUINT64.
 *
 * Returns: the size in units, 0 when the window holds no free unit (or
 *   @min > @max)
 *
 * Since: 0.1
 */
guint64
asm_arena_largest_free_within (AsmArena *a, guint64 min, guint64 max)
{
  g_return_val_if_fail (a != NULL, 0);
  ARENA_GUARD (a, TRUE);

  return arena_largest_free_within (a, min, max);
}

guint64
arena_largest_free_within (AsmArena *a, guint64 min, guint64 max)
{
  if (a->root == NULL || min > max)
    return 0;
  return largest_within (a->root, 0, G_MAXUINT64, min, max);
}

static gboolean
walk_node (const Node *n, AsmArenaWalkFunc func, gpointer user_data)
{
  if (n->leaf)
    {
      const Leaf *l = (const Leaf *) n;
      for (guint i = 0; i < n->n; i++)
        {
          AsmRange r = ASM_RANGE (l->first[i], l->last[i]);
          if (!func (&r, (AsmSegmentKind) (l->kind[i] & KIND_MASK), user_data))
            return FALSE;
        }
      return TRUE;
    }
  for (guint i = 0; i < n->n; i++)
    if (!walk_node (((const Inner *) n)->child[i], func, user_data))
      return FALSE;
  return TRUE;
}

/**
 * asm_arena_walk:
 * @a: an arena
 * @func: (scope call): called for each segment in address order
 * @user_data: passed to @func
 *
 * Visits every segment (free, allocated and reserved) in address order
 * until @func returns %FALSE.  The arena must not change during the walk.
 *
 * Returns: %TRUE when every segment was visited, %FALSE when @func stopped
 *   the walk
 *
 * Since: 0.1
 */
gboolean
asm_arena_walk (AsmArena *a, AsmArenaWalkFunc func, gpointer user_data)
{
  g_return_val_if_fail (a != NULL, FALSE);
  g_return_val_if_fail (func != NULL, FALSE);

  if (G_UNLIKELY (a->cache != NULL))
    {
      /* walk an O(1) snapshot, so that func may call into the arena */
      g_autoptr(AsmArena) snapshot = asm_arena_clone (a, a->name);

      return asm_arena_walk (snapshot, func, user_data);
    }
  if (a->root == NULL)
    return TRUE;
  return walk_node (a->root, func, user_data);
}

/* ------------------------------------------------------------------ */
/* invariant check                                                      */

typedef struct {
  AsmArena *a;
  GError **error;
  gboolean have_prev;
  Seg prev;
  guint span_idx;     /* span the previous segment belongs to */
  guint leaf_depth;   /* depth of the first leaf seen, 0: none yet */
  Tally t_alloc, t_reserved, t_free;
} Check;

#define CHECK_FAIL(c, ...)                                                    \
  G_STMT_START                                                                \
  {                                                                           \
    g_autofree char *_msg = g_strdup_printf (__VA_ARGS__);                    \
    g_set_error ((c)->error, ASM_ERROR, ASM_ERROR_FAILED,                     \
                 "%s: invariant broken: %s", (c)->a->name, _msg);             \
    return FALSE;                                                             \
  }                                                                           \
  G_STMT_END

static gboolean
check_segment (Check *c, const Seg *s)
{
  AsmArena *a = c->a;
  guint kind = s->kind & KIND_MASK;
  gint si;
  gboolean starts_span;

  if (s->first > s->last)
    CHECK_FAIL (c, "segment 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
                "x is empty", s->first, s->last);
  if (kind > ASM_SEGMENT_RESERVED || (s->kind & ~(KIND_MASK | SPAN_START)))
    CHECK_FAIL (c, "segment 0x%" G_GINT64_MODIFIER "x has kind byte 0x%x",
                s->first, s->kind);
  if ((s->first & (a->quantum - 1)) || ((s->last + 1) & (a->quantum - 1)))
    CHECK_FAIL (c, "segment 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
                "x is not on quantum boundaries", s->first, s->last);
  si = span_table_find (a->spans, s->first);
  if (si < 0 || a->spans->r[si].last < s->last)
    CHECK_FAIL (c, "segment 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
                "x is not inside one span", s->first, s->last);
  starts_span = a->spans->r[si].first == s->first;
  if (starts_span != !!(s->kind & SPAN_START))
    CHECK_FAIL (c, "segment 0x%" G_GINT64_MODIFIER "x has a wrong span-start "
                "flag", s->first);
  if (c->have_prev)
    {
      if (c->prev.last >= s->first)
        CHECK_FAIL (c, "segments 0x%" G_GINT64_MODIFIER "x and 0x%"
                    G_GINT64_MODIFIER "x overlap or are out of order",
                    c->prev.first, s->first);
      if (!starts_span && c->prev.last + 1 != s->first)
        CHECK_FAIL (c, "gap before segment 0x%" G_GINT64_MODIFIER "x inside "
                    "a span", s->first);
      if (starts_span && (guint) si != c->span_idx + 1)
        CHECK_FAIL (c, "span %d is not tiled completely", (gint) si - 1);
      if (starts_span && a->spans->r[c->span_idx].last != c->prev.last)
        CHECK_FAIL (c, "span %u does not end with a segment", c->span_idx);
      if (!starts_span && kind == ASM_SEGMENT_FREE &&
          (c->prev.kind & KIND_MASK) == ASM_SEGMENT_FREE)
        CHECK_FAIL (c, "free segments 0x%" G_GINT64_MODIFIER "x and 0x%"
                    G_GINT64_MODIFIER "x are adjacent", c->prev.first,
                    s->first);
    }
  else if (si != 0 || !starts_span)
    CHECK_FAIL (c, "the first segment 0x%" G_GINT64_MODIFIER "x does not "
                "start the first span", s->first);
  c->have_prev = TRUE;
  c->prev = *s;
  c->span_idx = (guint) si;
  tally_add (kind == ASM_SEGMENT_FREE        ? &c->t_free
             : kind == ASM_SEGMENT_ALLOCATED ? &c->t_alloc
                                             : &c->t_reserved,
             s->first, s->last);
  return TRUE;
}

static gboolean
check_node (Check *c, const Node *n, guint depth, gboolean is_root,
            guint64 lo, guint64 hi, Agg *out_agg)
{
  if (g_atomic_int_get (&n->ref) < 1)
    CHECK_FAIL (c, "node with reference count %d", n->ref);
  if (n->n == 0 || n->n > (n->leaf ? LEAF_CAP : INNER_CAP))
    CHECK_FAIL (c, "node with %u entries", n->n);
  if (!is_root && n->n < (n->leaf ? LEAF_MIN : INNER_MIN))
    CHECK_FAIL (c, "non-root node with %u entries (minimum %u)", n->n,
                n->leaf ? LEAF_MIN : INNER_MIN);
  if (is_root && !n->leaf && n->n < 2)
    CHECK_FAIL (c, "inner root with one child");

  if (n->leaf)
    {
      const Leaf *l = (const Leaf *) n;
      if (c->leaf_depth == 0)
        c->leaf_depth = depth;
      else if (c->leaf_depth != depth)
        CHECK_FAIL (c, "leaves at depths %u and %u: unbalanced",
                    c->leaf_depth, depth);
      for (guint i = 0; i < n->n; i++)
        {
          Seg s = { l->first[i], l->last[i], l->kind[i] };
          if (s.first < lo || s.first > hi)
            CHECK_FAIL (c, "segment 0x%" G_GINT64_MODIFIER "x outside its "
                        "parent's key range", s.first);
          if (!check_segment (c, &s))
            return FALSE;
        }
    }
  else
    {
      const Inner *in = (const Inner *) n;
      for (guint i = 0; i < n->n; i++)
        {
          Agg ca;
          guint64 k_last = child_key_last (in, i);
          if (i > 0 && in->key[i] <= in->key[i - 1])
            CHECK_FAIL (c, "inner keys out of order");
          if (in->key[i] != node_min_key (in->child[i]))
            CHECK_FAIL (c, "inner key 0x%" G_GINT64_MODIFIER "x is not its "
                        "child's smallest key", in->key[i]);
          if (!check_node (c, in->child[i], depth + 1, FALSE, in->key[i],
                           MIN (k_last, hi), &ca))
            return FALSE;
          if (ca.max_free != in->max_free[i] ||
              ca.min_free != in->min_free[i] ||
              ca.max_order != in->max_order[i] ||
              ca.max_tail != in->max_tail[i])
            CHECK_FAIL (c, "augmented values of the child at key 0x%"
                        G_GINT64_MODIFIER "x are stale", in->key[i]);
        }
    }
  node_agg (n, out_agg);
  return TRUE;
}

/**
 * asm_arena_check:
 * @a: an arena
 * @error: return location for a #GError
 *
 * Verifies every invariant of the arena (see the theory comment in
 * asm-arena.c): segments sorted, disjoint and tiling the spans, maximal free
 * segments, quantum boundaries, the tree's balance, fill and augmented
 * values, and the accounting.  O(n); for tests, fuzzers and debug builds.
 *
 * Returns: %TRUE when the arena is consistent; else %FALSE with an
 *   %ASM_ERROR_FAILED error describing the first broken invariant
 *
 * Since: 0.1
 */
gboolean
asm_arena_check (AsmArena *a, GError **error)
{
  g_return_val_if_fail (a != NULL, FALSE);

  if (G_UNLIKELY (a->cache != NULL))
    return asm_arena_cache_check (a->cache, a, error);
  return asm_arena_tree_check (a, error);
}

/* asm_arena_check() of the tree alone: a cached range is an allocation */
gboolean
asm_arena_tree_check (AsmArena *a, GError **error)
{
  Check c = { 0 };
  Agg agg;
  guint64 span_sum = 0;

  c.a = a;
  c.error = error;
  for (guint i = 0; i < a->spans->n; i++)
    {
      const AsmRange *r = &a->spans->r[i];
      if (r->first > r->last || (i > 0 && a->spans->r[i - 1].last >= r->first))
        CHECK_FAIL (&c, "span table out of order at %u", i);
      span_sum += r->last - r->first;
    }
  if (span_sum != a->t_spans.sum || a->spans->n != a->t_spans.n)
    CHECK_FAIL (&c, "span accounting differs from the span table");

  if (a->root == NULL)
    {
      if (a->spans->n != 0 || a->height != 0)
        CHECK_FAIL (&c, "empty tree but %u spans", a->spans->n);
    }
  else
    {
      if (!check_node (&c, a->root, 1, TRUE, 0, G_MAXUINT64, &agg))
        return FALSE;
      if (c.leaf_depth != a->height)
        CHECK_FAIL (&c, "height %u but leaves at depth %u", a->height,
                    c.leaf_depth);
      if (c.span_idx + 1 != a->spans->n ||
          a->spans->r[c.span_idx].last != c.prev.last)
        CHECK_FAIL (&c, "the last span is not tiled completely");
    }
  if (memcmp (&c.t_alloc, &a->t_alloc, sizeof (Tally)) ||
      memcmp (&c.t_reserved, &a->t_reserved, sizeof (Tally)) ||
      memcmp (&c.t_free, &a->t_free, sizeof (Tally)))
    CHECK_FAIL (&c, "accounting differs from a recount of the segments");
  if (a->hint.size != 0)
    {
      Req h = a->hint;
      guint64 q = a->quantum, addr;

      if ((h.size & (q - 1)) != 0 || !is_pow2 (h.align) || h.align < q ||
          h.phase >= h.align || (h.phase & (q - 1)) != 0 ||
          (h.nocross != 0 && (!is_pow2 (h.nocross) || h.nocross < h.size)) ||
          h.min > h.max)
        CHECK_FAIL (&c, "the refusal hint (size 0x%" G_GINT64_MODIFIER
                    "x, align 0x%" G_GINT64_MODIFIER "x, phase 0x%"
                    G_GINT64_MODIFIER "x, nocross 0x%" G_GINT64_MODIFIER
                    "x) is not a valid request", h.size, h.align, h.phase,
                    h.nocross);
      h.fit = ASM_FIT_LOWEST;
      if (arena_search (a, &h, &addr))
        CHECK_FAIL (&c, "the refusal hint (size 0x%" G_GINT64_MODIFIER
                    "x, align 0x%" G_GINT64_MODIFIER "x, phase 0x%"
                    G_GINT64_MODIFIER "x, nocross 0x%" G_GINT64_MODIFIER
                    "x, within 0x%" G_GINT64_MODIFIER "x-0x%"
                    G_GINT64_MODIFIER "x) has a fit at 0x%"
                    G_GINT64_MODIFIER "x (I7)", h.size, h.align, h.phase,
                    h.nocross, h.min, h.max, addr);
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* private introspection (asm-arena-private.h)                          */

static void
count_nodes (const Node *n, AsmArenaTreeInfo *info)
{
  if (n->leaf)
    {
      info->n_leaves++;
      info->n_segments += n->n;
      info->bytes += sizeof (Leaf);
      return;
    }
  info->n_inner++;
  info->bytes += sizeof (Inner);
  for (guint i = 0; i < n->n; i++)
    count_nodes (((const Inner *) n)->child[i], info);
}

gboolean
asm_arena_get_refusal_hint (AsmArena *a, AsmRequest *out)
{
  ARENA_GUARD (a, FALSE);

  if (a->hint.size == 0)
    return FALSE;
  *out = ASM_REQUEST_INIT (a->hint.size);
  out->align = a->hint.align;
  out->phase = a->hint.phase;
  out->nocross = a->hint.nocross;
  out->min = a->hint.min;
  out->max = a->hint.max;
  return TRUE;
}

gboolean
asm_arena_refusal_hint_covers (AsmArena *a, const AsmRequest *req)
{
  Req r = { 0 };
  ARENA_GUARD (a, FALSE);

  return request_validate (a, req, &r, NULL) && hint_covers (&a->hint, &r);
}

void
asm_arena_get_tree_info (AsmArena *a, AsmArenaTreeInfo *info)
{
  ARENA_GUARD (a, FALSE);

  memset (info, 0, sizeof *info);
  info->height = a->height;
  info->leaf_bytes = sizeof (Leaf);
  info->inner_bytes = sizeof (Inner);
  if (a->root != NULL)
    count_nodes (a->root, info);
}
