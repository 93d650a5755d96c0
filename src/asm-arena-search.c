/* asm-arena-search.c: the arena's constrained search
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * The first fit of a request (size, align, phase, nocross, min, max) in the
 * B+tree, by its policy: LOWEST and HIGHEST descend in address order,
 * skipping every subtree whose augmented values prove it cannot hold a fit
 * (its key range outside [min, max], its max_free below the size, its
 * max_order and max_tail below what any fit needs), and test the free
 * segments of a leaf exactly (seg_fit_lowest/highest, O(1)); they record
 * the path they took, so that the carve that follows needs no second
 * descent.  NEXT is LOWEST above a cursor, then from the start; BEST walks
 * the qualifying subtrees for the smallest segment that holds a fit.  The
 * costs and the proof that the pruning is exact are in the theory comment
 * of asm-arena.c ("Constrained fit", "Where the instructions go"); this
 * file only reads the tree.
 */
#include "asm-arena-tree-private.h"

#include "asm-bug-private.h"

/* ------------------------------------------------------------------ */
/* tree: constrained search                                             */

typedef struct {
  const Req *r;
  guint64 floor_;     /* LOWEST/NEXT: addresses below this are not wanted */
  guint64 max_start;  /* no fit starts above this */
  /* BEST: the best found so far */
  gboolean found;
  guint64 best_len;
  guint64 addr;
  /* LOWEST, HIGHEST, NEXT: the way to the segment found, for the carve
   * (path->leaf is NULL when there is none: BEST) */
  Path *path;
  guint leaf_i;
} Search;

/* The order tests of agg_may_fit(), for a subtree whose max_free is
 * already known to reach r->size. */
static inline gboolean
order_may_fit (guint8 max_order, guint64 max_tail, const Req *r)
{
  return max_order != NO_ORDER && max_order >= r->need_order &&
         (max_order != r->tail_order || max_tail >= r->size);
}

static inline gboolean
agg_may_fit (guint64 max_free, guint8 max_order, guint64 max_tail,
             const Req *r)
{
  return max_free >= r->size && order_may_fit (max_order, max_tail, r);
}

static inline gboolean
subtree_may_fit (const Inner *in, guint i, const Req *r)
{
  return agg_may_fit (in->max_free[i], in->max_order[i], in->max_tail[i], r);
}

/* The first child at or after i whose max_free reaches size, nc (the
 * node's count) when none: a loop of a load, a compare and a pointer step
 * per child, which the cache's misses run over most of every inner node
 * on their way down (the subtrees below the end of the used space are
 * full). */
static inline guint
skip_short (const Inner *in, guint i, guint nc, guint64 size)
{
  const guint64 *mf = in->max_free + i, *end = in->max_free + nc;

  while (mf < end && *mf < size)
    mf++;
  return (guint) (mf - in->max_free);
}

/* LOWEST and HIGHEST walk down to the first leaf that may hold a fit and
 * back up when it holds none, without recursion: s->path records the way
 * down (the node and the child taken at each inner level), and backing up
 * resumes the level above at the child after (LOWEST) or before
 * (HIGHEST) the one it took.  So the path is ready for the carve when the
 * search ends in a fit.  24 inner levels would need more than 2^64
 * segments (see PATH_MAX_DEPTH): the path cannot overflow. */

static gboolean
search_lowest (const Node *root, Search *s)
{
  const Req *r = s->r;
  Path *path = s->path;
  guint64 lo = MAX (r->min, s->floor_);
  guint64 size = r->size, size1 = r->size - 1;
  const Node *n = root;
  const Inner *in;
  guint d = 0, i;

  for (;;)
    {
      if (n->leaf)
        {
          const Leaf *l = (const Leaf *) n;

          for (guint32 m = leaf_free_mask (l); m != 0; m &= m - 1)
            {
              i = __builtin_ctz (m);

              /* too short first: the common reason to pass a segment by
               * (a short one that starts past max_start is passed by too,
               * and so is every later one, which cannot hold a fit
               * either) */
              if (l->last[i] - l->first[i] < size1)
                continue;
              if (l->first[i] > s->max_start)
                return FALSE;
              if (l->last[i] < lo)
                continue;
              if (seg_fit_lowest (r, l->first[i], l->last[i], s->floor_,
                                  &s->addr))
                {
                  path->leaf = (Leaf *) l;
                  path->depth = d;
                  s->leaf_i = i;
                  return TRUE;
                }
            }
          goto up;
        }
      in = (const Inner *) n;
      /* lo is often 0 or below the second key: no binary search then */
      i = n->n < 2 || lo < in->key[1] ? 0 : inner_route (in, lo);
    scan:
      /* Loop invariant: no subtree before i holds a fit.  max_free is
       * tested first, alone, in skip_short()'s tight loop: it is the
       * cheapest test, and the one that passes most subtrees by (those
       * below the lowest fit are full); a subtree that starts past
       * max_start ends the search at the first one that passes it, as
       * every later one, here and in the levels above, starts later
       * still. */
      for (guint nc = in->h.n;; i++)
        {
          i = skip_short (in, i, nc, size);
          if (i == nc)
            goto up;
          if (in->key[i] > s->max_start)
            return FALSE;
          if (order_may_fit (in->max_order[i], in->max_tail[i], r))
            break;
        }
      ASM_BUG_UNLESS (d < PATH_MAX_DEPTH);
      path->in[d] = (Inner *) in;
      path->idx[d++] = i;
      n = in->child[i];
      continue;
    up:
      if (d == 0)
        return FALSE;
      d--;
      in = path->in[d];
      i = path->idx[d] + 1;
      goto scan;
    }
}

static gboolean
search_highest (const Node *root, Search *s)
{
  const Req *r = s->r;
  Path *path = s->path;
  guint64 size = r->size, size1 = r->size - 1;
  const Node *n = root;
  const Inner *in;
  guint d = 0, i;

  for (;;)
    {
      if (n->leaf)
        {
          const Leaf *l = (const Leaf *) n;

          for (guint32 m = leaf_free_mask (l); m != 0;)
            {
              i = 31 - __builtin_clz (m);
              m &= ~(1u << i);
              if (l->last[i] < r->min)
                return FALSE;
              if (l->last[i] - l->first[i] < size1 ||
                  l->first[i] > s->max_start)
                continue;
              if (seg_fit_highest (r, l->first[i], l->last[i], &s->addr))
                {
                  path->leaf = (Leaf *) l;
                  path->depth = d;
                  s->leaf_i = i;
                  return TRUE;
                }
            }
          goto up;
        }
      in = (const Inner *) n;
      /* max_start is often past every key (max is G_MAXUINT64): no
       * binary search then */
      i = in->key[n->n - 1] <= s->max_start ? n->n
                                             : inner_route (in, s->max_start) + 1;
    scan:
      /* Loop invariant: no subtree at or after i holds a fit (as in
       * search_lowest(), max_free first; a subtree that ends below min
       * ends the search at the first one that passes it) */
      while (i-- > 0)
        {
          if (in->max_free[i] < size)
            continue;
          if (child_key_last (in, i) < r->min)
            return FALSE;
          if (order_may_fit (in->max_order[i], in->max_tail[i], r))
            break;
        }
      if (i == G_MAXUINT)
        goto up;
      ASM_BUG_UNLESS (d < PATH_MAX_DEPTH);
      path->in[d] = (Inner *) in;
      path->idx[d++] = i;
      n = in->child[i];
      continue;
    up:
      if (d == 0)
        return FALSE;
      d--;
      in = path->in[d];
      i = path->idx[d];
      goto scan;
    }
}

/* BEST: visits qualifying subtrees in address order; returns TRUE when the
 * search may stop (a segment of exactly the requested size was found). */
static gboolean
search_best (const Node *n, Search *s)
{
  const Req *r = s->r;

  if (n->leaf)
    {
      const Leaf *l = (const Leaf *) n;
      for (guint i = 0; i < n->n; i++)
        {
          guint64 len, addr;
          if (l->first[i] > s->max_start)
            return TRUE;
          if ((l->kind[i] & KIND_MASK) != ASM_SEGMENT_FREE ||
              l->last[i] < r->min)
            continue;
          len = seg_len (l->first[i], l->last[i]);
          if (s->found && len >= s->best_len)
            continue;
          if (seg_fit_lowest (r, l->first[i], l->last[i], 0, &addr))
            {
              s->found = TRUE;
              s->best_len = len;
              s->addr = addr;
              if (len == r->size)
                return TRUE;
            }
        }
      return FALSE;
    }
  else
    {
      const Inner *in = (const Inner *) n;
      for (guint i = inner_route (in, r->min); i < n->n; i++)
        {
          if (in->key[i] > s->max_start)
            return TRUE;
          if (!subtree_may_fit (in, i, r))
            continue;
          if (s->found && in->min_free[i] >= s->best_len)
            continue;
          if (search_best (in->child[i], s))
            return TRUE;
        }
      return FALSE;
    }
}

/* Finds the address the request's fit names; FALSE when none satisfies.
 * With path, also the way to the free segment that holds it (path->leaf
 * NULL when the search does not tell it) and, in *out_i, its index in the
 * leaf. */
gboolean
arena_search_path (const AsmArena *a, const Req *r, guint64 *out_addr,
                   Path *path, guint *out_i)
{
  Search s = { 0 };
  Path scratch;

  /* no separate test of the root's aggregate: the search's first level
   * tests each of the root's entries, which together are that aggregate */
  if (a->root == NULL || r->max < r->size - 1)
    return FALSE;

  s.r = r;
  s.max_start = r->max - (r->size - 1);
  s.path = path != NULL ? path : &scratch;
  s.path->leaf = NULL;
  switch (r->fit)
    {
    case ASM_FIT_LOWEST:
    case ASM_FIT_INSTANT: /* the cache's miss path: lowest is the fastest */
      if (!search_lowest (a->root, &s))
        return FALSE;
      break;
    case ASM_FIT_HIGHEST:
      if (!search_highest (a->root, &s))
        return FALSE;
      break;
    case ASM_FIT_BEST:
      search_best (a->root, &s);
      if (!s.found)
        return FALSE;
      break;
    case ASM_FIT_NEXT:
      if (a->next_valid && a->next_cursor != G_MAXUINT64)
        {
          s.floor_ = a->next_cursor + 1;
          if (search_lowest (a->root, &s))
            break;
        }
      s.floor_ = 0;
      if (!search_lowest (a->root, &s))
        return FALSE;
      break;
    default:
      ASM_BUG ("%s: fit %d passed request_validate() but has no search",
               a->name, (int) r->fit);
    }
  *out_addr = s.addr;
  if (out_i != NULL)
    *out_i = s.leaf_i;
  return TRUE;
}


