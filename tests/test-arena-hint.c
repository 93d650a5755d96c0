/* test-arena-hint.c: the arena's refusal hint, against the reference model
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * An arena remembers its last refused request (the "refusal hint", see the
 * theory comment of src/asm-arena.c) and refuses in O(1), without a search,
 * any request that the hint proves impossible.  Speed is the point of it;
 * exactness is the product: a request must never be refused while a fit
 * exists.  This property test drives arenas and the model of
 * tests/arena-model.c through the harness of tests/arena-harness.c (which
 * compares every answer, error code, walk and stats with the model, and
 * runs asm_arena_check(), whose invariant I7 re-searches the hinted request,
 * after every operation) with a generator biased toward refusals:
 *
 *   - variants of the current hint: the same request again, a larger size,
 *     a stricter alignment with a consistent phase, a narrower [min, max], a
 *     smaller nocross, another fit (all covered by the hint), and looser
 *     ones (smaller, wider, less aligned, another phase, no nocross) that the
 *     hint must not answer;
 *   - requests sized to the largest free runs, so that many are refused;
 *   - frees of random allocations and reservations (most of which cannot
 *     create a fitting run: the hint must survive them), small allocations
 *     and reservations that fragment the space again, and the harness's own
 *     mixture (spans, moves, clones, unrefs, lookups).
 *
 * Besides the harness's checks, after every operation:
 *   S  soundness: for every live arena with a hint, the model finds no fit
 *      for the hinted request;
 *   R  a refused alloc (or move) leaves a hint that covers the request, so
 *      its repetition is answered in O(1); find_free never changes the hint;
 *   P  precision: a successful free or add_span keeps the hint exactly when
 *      the model still finds no fit for it (it is dropped only when the new
 *      free run could hold the hinted request), and then unchanged;
 *   K  an alloc or reserve that succeeds, or any call that fails with
 *      another error, leaves the hint as it was; a clone has its
 *      template's hint.
 * The run must also cover the ground: refusals answered by the hint, frees
 * that keep it, frees that drop it, clones that carry one.
 *
 * Seeds: seed % 3 selects the window (at 0, across 2^32, ending at
 * G_MAXUINT64); seeds from DMA_SEED_BASE on start as W2 does, with a "DMA32"
 * span of which only one quantum in k is free and a second span above it.
 *
 * Environment: ASM_PROP_SEED=N (only seed N), ASM_PROP_OPS=N (operations
 * per seed), ASM_PROP_SEEDS=N (seeds per test), ASM_PROP_TRACE=1.
 */
#include "arena-harness.h"
#include "arena-model-private.h"

#include "asm-arena-private.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define DEFAULT_OPS 4000
#define DEFAULT_SEEDS 8
#define DMA_SEED_BASE 1000

#define BELOW(n) choice_below (s, (n))

typedef struct {
  guint64 ops;
  guint64 from_hint;        /* requests generated as variants of a hint */
  guint64 refused_by_hint;  /* NO_SPACE answered by the hint */
  guint64 refused_searched; /* NO_SPACE after a search */
  guint64 free_kept, free_dropped; /* successful frees with a hint before */
  guint64 span_kept, span_dropped; /* successful add_spans with a hint */
  guint64 clone_with_hint;
} HintStats;

static guint64
next_pow2 (guint64 x)
{
  guint64 p = 1;

  while (p < x && p != 0)
    p <<= 1;
  return p;
}

static guint
pick_slot (const Harness *h, ChoiceSource *s)
{
  guint k, n = 0;

  for (k = 0; k < HARNESS_SLOTS; k++)
    n += h->arena[k] != NULL;
  n = BELOW (n);
  for (k = 0; k < HARNESS_SLOTS; k++)
    if (h->arena[k] != NULL && n-- == 0)
      return k;
  g_assert_not_reached ();
}

/* a random unit index for which the predicate holds, or FALSE */
static gboolean
pick (const ArenaModel *m, ChoiceSource *s, gboolean owned, guint *out)
{
  guint n = 0, i, k;

  for (i = 0; i < m->width; i++)
    n += owned ? owned_start (m, i)
               : (m->kind[i] == ASM_SEGMENT_FREE && i % m->quantum == 0);
  if (n == 0)
    return FALSE;
  k = BELOW (n);
  for (i = 0; i < m->width; i++)
    if ((owned ? owned_start (m, i)
               : (m->kind[i] == ASM_SEGMENT_FREE && i % m->quantum == 0)) &&
        k-- == 0)
      break;
  *out = i;
  return TRUE;
}

/* A variant of the hint h: mostly one it covers, sometimes a looser one. */
static void
gen_variant (const ArenaModel *m, ChoiceSource *s, const AsmRequest *h,
             AsmRequest *v)
{
  guint64 q = m->quantum;
  guint rounds = 1 + (BELOW (4) == 0);

  *v = *h;
  for (guint k = 0; k < rounds; k++)
    switch (BELOW (14))
      {
      case 0:
      case 1:
      case 2:
        break; /* the same request again */
      case 3:
        v->size += q * (1 + BELOW (4));
        if (v->nocross != 0 && v->nocross < v->size)
          v->nocross = next_pow2 (v->size);
        break;
      case 4:
        {
          guint64 old = v->align, mul = G_GUINT64_CONSTANT (2) << BELOW (2);

          if (old <= G_MAXUINT64 / mul)
            {
              v->align = old * mul;
              v->phase += old * BELOW (mul);
            }
          break;
        }
      case 5:
        {
          guint64 d = q * BELOW (8);

          if (v->min <= v->max - d && v->max - (v->min + d) >= v->size - 1)
            v->min += d;
          break;
        }
      case 6:
        {
          guint64 d = q * BELOW (8);

          if (v->max >= v->min + d && v->max - d - v->min >= v->size - 1)
            v->max -= d;
          break;
        }
      case 7:
        {
          guint64 nc = v->nocross != 0 ? v->nocross : next_pow2 (v->size) << 2;

          nc >>= BELOW (3);
          if (nc >= v->size && nc != 0)
            v->nocross = nc;
          break;
        }
      case 8:
        /* looser: smaller */
        if (v->size > q)
          v->size -= q;
        break;
      case 9:
        /* looser: a wider window */
        if (BELOW (2))
          v->min = v->min >= q * 8 ? v->min - q * (1 + BELOW (8)) : 0;
        else
          v->max = v->max <= G_MAXUINT64 - q * 8 ? v->max + q * (1 + BELOW (8))
                                                 : G_MAXUINT64;
        break;
      case 10:
        /* looser: less aligned, or another phase */
        if (v->align > q && BELOW (2))
          {
            v->align /= 2;
            v->phase %= v->align;
          }
        else if (v->align > q)
          v->phase = (v->phase + q) % v->align;
        break;
      case 11:
        /* looser: a larger nocross, or none */
        v->nocross = BELOW (2) || v->nocross == 0 || v->nocross > G_MAXUINT64 / 2
                         ? 0
                         : v->nocross * 2;
        break;
      default:
        v->fit = (AsmFit) BELOW (4);
        break;
      }
  if (BELOW (2))
    v->fit = (AsmFit) BELOW (4);
}

/* A request near the edge of what fits: sized to a free run or a little
 * more, often inside the lower half (the "DMA32" part) of the window. */
static void
gen_tight (const ArenaModel *m, ChoiceSource *s, AsmRequest *req)
{
  guint64 q = m->quantum;
  guint i;
  guint64 len = q;

  if (pick (m, s, FALSE, &i))
    {
      len = (guint64) run_end (m, i) - i + 1;
      len -= len % q;
      if (len == 0)
        len = q;
    }
  *req = ASM_REQUEST_INIT (len + q * BELOW (3));
  switch (BELOW (4))
    {
    case 0:
      break;
    case 1:
      req->max = m->base + m->width / 2 - 1;
      break;
    case 2:
      req->min = m->base + q * BELOW (m->width / q);
      break;
    default:
      req->max = m->base + m->width / 2 - 1;
      req->min = m->base + q * BELOW (m->width / 2 / q);
      if (req->min > req->max)
        req->min = m->base;
      break;
    }
  if (BELOW (3) == 0)
    {
      /* the IOVA shape: size-aligned */
      req->align = next_pow2 (req->size);
    }
  else if (BELOW (3) == 0)
    {
      req->align = q << BELOW (4);
      req->phase = q * BELOW (req->align / q);
    }
  if (BELOW (6) == 0)
    req->nocross = next_pow2 (req->size) << BELOW (3);
  req->fit = (AsmFit) BELOW (4);
}

static void
gen_op (Harness *h, ChoiceSource *s, ModelOp *op, HintStats *st)
{
  guint slot = pick_slot (h, s), i;
  ArenaModel *m = h->model[slot];
  AsmArena *a = h->arena[slot];
  guint64 q = m->quantum;
  AsmRequest hint;
  guint r = BELOW (100);

  memset (op, 0, sizeof *op);
  op->slot = slot;
  if (r < 30 && asm_arena_get_refusal_hint (a, &hint))
    {
      st->from_hint++;
      gen_variant (m, s, &hint, &op->req);
      op->kind = OP_ALLOC_FULL;
      if (BELOW (8) == 0)
        op->kind = OP_FIND_FREE;
      else if (BELOW (16) == 0 && pick (m, s, TRUE, &i))
        {
          op->kind = OP_MOVE;
          op->a = m->base + i;
        }
      return;
    }
  if (r < 45)
    {
      op->kind = OP_ALLOC_FULL;
      gen_tight (m, s, &op->req);
      return;
    }
  if (r < 68 && pick (m, s, TRUE, &i))
    {
      op->kind = OP_FREE;
      op->a = m->base + i;
      return;
    }
  if (r < 80)
    {
      op->kind = OP_ALLOC_FULL;
      op->req = ASM_REQUEST_INIT (q * (1 + BELOW (2)));
      if (BELOW (2))
        op->req.max = m->base + m->width / 2 - 1;
      op->req.min = BELOW (2) ? m->base + q * BELOW (m->width / q) : 0;
      op->req.fit = (AsmFit) BELOW (4);
      return;
    }
  if (r < 85 && pick (m, s, FALSE, &i))
    {
      op->kind = OP_RESERVE;
      op->a = m->base + i;
      op->b = op->a + q - 1;
      return;
    }
  harness_gen (h, s, op);
}

static gboolean
same_request (const AsmRequest *x, const AsmRequest *y)
{
  return x->size == y->size && x->align == y->align && x->phase == y->phase &&
         x->nocross == y->nocross && x->min == y->min && x->max == y->max;
}

static gboolean G_GNUC_PRINTF (2, 3) hfail (Harness *h, const char *fmt, ...)
{
  va_list ap;

  g_string_truncate (h->why, 0);
  va_start (ap, fmt);
  g_string_append_vprintf (h->why, fmt, ap);
  va_end (ap);
  return FALSE;
}

#define X "0x%" G_GINT64_MODIFIER "x"

/* S for every live arena */
static gboolean
check_sound (Harness *h)
{
  for (guint k = 0; k < HARNESS_SLOTS; k++)
    {
      AsmRequest hint;
      guint64 addr = 0;

      if (h->arena[k] == NULL || !asm_arena_get_refusal_hint (h->arena[k], &hint))
        continue;
      if (arena_model_query (h->model[k], &hint, &addr) != ASM_ERROR_NO_SPACE)
        return hfail (h,
                      "S: a%u's hint (size " X ", align " X ", phase " X
                      ", nocross " X ", within " X "-" X ") has a fit at " X,
                      k, hint.size, hint.align, hint.phase, hint.nocross,
                      hint.min, hint.max, addr);
    }
  return TRUE;
}

/* Applies op through the harness, then checks S, R, P and K. */
static gboolean
apply_checked (Harness *h, const ModelOp *op, HintStats *st)
{
  guint slot = op->slot;
  AsmArena *a = slot < HARNESS_SLOTS ? h->arena[slot] : NULL;
  AsmRequest before = { 0 }, after = { 0 }, req = op->req;
  gboolean had = FALSE, has, covered = FALSE, ok, refused, still_none = FALSE;
  guint64 no_space = h->n_no_space, failed = h->n_failed_ok, addr;

  if (a == NULL)
    return harness_apply (h, op);
  if (op->kind == OP_ALLOC)
    req = ASM_REQUEST_INIT (op->req.size);
  had = asm_arena_get_refusal_hint (a, &before);
  if (op->kind == OP_ALLOC || op->kind == OP_ALLOC_FULL ||
      op->kind == OP_FIND_FREE)
    covered = asm_arena_refusal_hint_covers (a, &req);

  if (!harness_apply (h, op))
    return FALSE;
  ok = h->n_failed_ok == failed;
  refused = h->n_no_space > no_space;
  if (!check_sound (h))
    return FALSE;
  if (op->kind == OP_DROP)
    return TRUE;
  if (op->kind == OP_CLONE)
    {
      AsmRequest ch;
      gboolean chas = asm_arena_get_refusal_hint (h->arena[op->slot2], &ch);

      if (chas != had || (had && !same_request (&ch, &before)))
        return hfail (h, "K: the clone a%u does not have a%u's hint",
                      op->slot2, slot);
      st->clone_with_hint += had;
      return TRUE;
    }
  a = h->arena[slot];
  has = asm_arena_get_refusal_hint (a, &after);

  if (covered)
    {
      if (!refused)
        return hfail (h, "the hint covers a request that was not refused");
      st->refused_by_hint++;
    }
  else if (refused &&
           (op->kind == OP_ALLOC || op->kind == OP_ALLOC_FULL))
    st->refused_searched++;

  switch (op->kind)
    {
    case OP_ALLOC:
    case OP_ALLOC_FULL:
    case OP_MOVE:
      if (refused)
        {
          if (!asm_arena_refusal_hint_covers (a, &req))
            return hfail (h, "R: a refused request is not covered by the "
                          "hint that follows it");
          break;
        }
      if (op->kind == OP_MOVE && ok)
        break; /* the move's free may drop the hint */
      if (had != has || (had && !same_request (&before, &after)))
        return hfail (h, "K: the hint changed on a call that was not refused");
      break;
    case OP_FREE:
    case OP_ADD_SPAN:
      if (!ok || !had)
        {
          if (had != has || (had && !same_request (&before, &after)))
            return hfail (h, "K: the hint changed on a failed call");
          break;
        }
      still_none = arena_model_query (h->model[slot], &before, &addr) ==
                   ASM_ERROR_NO_SPACE;
      if (has != still_none || (has && !same_request (&before, &after)))
        return hfail (h,
                      "P: after the %s the hint is %s, but the hinted request "
                      "%s",
                      op->kind == OP_FREE ? "free" : "add_span",
                      has ? "kept" : "gone",
                      still_none ? "still has no fit" : "now fits");
      if (op->kind == OP_FREE)
        {
          st->free_kept += has;
          st->free_dropped += !has;
        }
      else
        {
          st->span_kept += has;
          st->span_dropped += !has;
        }
      break;
    default:
      /* reserve, find_free, lookups, largest_free_within, verify */
      if (had != has || (had && !same_request (&before, &after)))
        return hfail (h, "K: the hint changed on a call that frees nothing "
                      "and records nothing");
      break;
    }
  return TRUE;
}

static void
config_for_seed (guint64 seed, HarnessConfig *cfg)
{
  if (seed >= DMA_SEED_BASE)
    harness_config_init (cfg, seed % WINDOW_N, 2048,
                         G_GUINT64_CONSTANT (1) << (seed / 3 % 2), 12);
  else
    harness_config_init (cfg, seed % WINDOW_N, seed / 3 % 2 ? 1024 : 512,
                         G_GUINT64_CONSTANT (1) << (seed / 6 % 3), 12);
}

/* The W2 start: a lower span of which one quantum in k is free, an upper
 * span above it. */
static gboolean
dma_setup (Harness *h, guint64 seed, HintStats *st)
{
  guint64 q = h->cfg.quantum, base = h->cfg.base, half = h->cfg.width / 2;
  static const guint64 ks[] = { 2, 4, 16 };
  guint64 k = ks[seed / 6 % G_N_ELEMENTS (ks)];
  ModelOp op = { .kind = OP_ADD_SPAN, .a = base, .b = base + half - 1 };

  if (!apply_checked (h, &op, st))
    return FALSE;
  op = (ModelOp){ .kind = OP_ADD_SPAN, .a = base + half,
                  .b = base + h->cfg.width - 1 };
  if (!apply_checked (h, &op, st))
    return FALSE;
  for (guint64 i = 0; i < half; i += k * q)
    {
      op = (ModelOp){ .kind = OP_RESERVE, .a = base + i + q,
                      .b = base + i + k * q - 1 };
      if (!apply_checked (h, &op, st))
        return FALSE;
    }
  return TRUE;
}

static gboolean
run_seed (guint64 seed, guint64 n_ops, HintStats *st)
{
  HarnessConfig cfg;
  ChoiceSource src, *s = &src;
  Harness *h;
  gboolean ok = TRUE;
  guint64 step;
  ModelOp op = { 0 };
  g_autoptr (GString) line = g_string_new (NULL);

  config_for_seed (seed, &cfg);
  h = harness_new (&cfg, MODEL_SABOTAGE_NONE);
  h->trace = test_env_u64 ("ASM_PROP_TRACE", 0) != 0;
  choice_source_init_seed (&src,
                           seed * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15) + 7);
  if (seed >= DMA_SEED_BASE)
    ok = dma_setup (h, seed, st);
  for (step = 0; step < n_ops && ok; step++)
    {
      gen_op (h, s, &op, st);
      ok = apply_checked (h, &op, st);
    }
  if (ok && !harness_verify_all (h))
    ok = FALSE;
  st->ops += step;
  if (!ok)
    {
      model_op_format (&op, line);
      fprintf (stderr,
               "# FAILED seed %" G_GUINT64_FORMAT " at step %" G_GUINT64_FORMAT
               " (window %s, width %u, quantum %" G_GUINT64_FORMAT ")\n"
               "#   %s\n#   %s\n#   replay: ASM_PROP_SEED=%" G_GUINT64_FORMAT
               " ASM_PROP_OPS=%" G_GUINT64_FORMAT
               " ASM_PROP_TRACE=1 ./tests/test-arena-hint\n",
               seed, h->step, model_window_name (cfg.window), cfg.width,
               cfg.quantum, line->str, h->why->str, seed, step);
    }
  harness_free (h);
  return ok;
}

static void
print_stats (const char *what, const HintStats *st)
{
  fprintf (stderr,
           "# %s: %" G_GUINT64_FORMAT " operations, %" G_GUINT64_FORMAT
           " from a hint; refused by the hint %" G_GUINT64_FORMAT
           ", after a search %" G_GUINT64_FORMAT "; frees with a hint: kept %"
           G_GUINT64_FORMAT ", dropped %" G_GUINT64_FORMAT
           "; add_spans with a hint: kept %" G_GUINT64_FORMAT ", dropped %"
           G_GUINT64_FORMAT "; clones with a hint %" G_GUINT64_FORMAT "\n",
           what, st->ops, st->from_hint, st->refused_by_hint,
           st->refused_searched, st->free_kept, st->free_dropped,
           st->span_kept, st->span_dropped, st->clone_with_hint);
}

static void
run_seeds (guint64 first_seed, HintStats *st)
{
  guint64 n_ops = test_env_u64 ("ASM_PROP_OPS", DEFAULT_OPS);
  guint64 n_seeds = test_env_u64 ("ASM_PROP_SEEDS", DEFAULT_SEEDS);
  const char *only = g_getenv ("ASM_PROP_SEED");

  if (only != NULL && *only != '\0')
    {
      guint64 seed = g_ascii_strtoull (only, NULL, 0);

      if ((seed >= DMA_SEED_BASE) != (first_seed >= DMA_SEED_BASE))
        skip ();
      if (!run_seed (seed, n_ops, st))
        fail_msg ("the refusal hint broke a property (see above)");
      return;
    }
  for (guint64 i = 0; i < n_seeds * WINDOW_N; i++)
    if (!run_seed (first_seed + i, n_ops, st))
      fail_msg ("the refusal hint broke a property (see above)");
}

/* the default run, whose coverage the tests demand */
static gboolean
full_run (void)
{
  static const char *const vars[] = { "ASM_PROP_SEED", "ASM_PROP_OPS",
                                      "ASM_PROP_SEEDS" };

  for (guint i = 0; i < G_N_ELEMENTS (vars); i++)
    {
      const char *v = g_getenv (vars[i]);

      if (v != NULL && *v != '\0')
        return FALSE;
    }
  return TRUE;
}

static void
test_mixed (void **state)
{
  HintStats st = { 0 };

  run_seeds (0, &st);
  print_stats ("mixed", &st);
  if (full_run ())
    {
      assert_true (st.refused_by_hint >= 1000);
      assert_true (st.free_kept >= 100);
      assert_true (st.free_dropped >= 50);
      assert_true (st.clone_with_hint >= 10);
    }
}

static void
test_dma32 (void **state)
{
  HintStats st = { 0 };

  run_seeds (DMA_SEED_BASE, &st);
  print_stats ("dma32", &st);
  if (full_run ())
    {
      assert_true (st.refused_by_hint >= 1000);
      assert_true (st.free_kept >= 100);
      assert_true (st.free_dropped >= 50);
    }
}

/* ---------------------------------------------------------------------- */
/* examples: the cases of issue 14, one by one                             */

#define PG G_GUINT64_CONSTANT (4096)
#define DMA_LAST G_GUINT64_CONSTANT (0xffffffff)

static void
assert_checked (AsmArena *a)
{
  g_autoptr (GError) error = NULL;

  if (!asm_arena_check (a, &error))
    fail_msg ("asm_arena_check: %s", error->message);
}

/* [0, 64 pages) below a DMA limit of 64 pages, every other page reserved,
 * and a span above it */
static AsmArena *
new_w2_arena (void)
{
  AsmArena *a = asm_arena_new ("w2", PG);

  assert_true (asm_arena_add_span (a, 0, 64 * PG - 1, NULL));
  assert_true (asm_arena_add_span (a, 64 * PG, 1024 * PG - 1, NULL));
  for (guint64 p = 0; p < 64; p += 2)
    assert_true (asm_arena_reserve (a, (p + 1) * PG, (p + 2) * PG - 1, NULL));
  return a;
}

static AsmRequest
dma_req (guint64 pages)
{
  AsmRequest r = ASM_REQUEST_INIT (pages * PG);

  r.max = 64 * PG - 1;
  return r;
}

static void
test_example_repeated_and_after_free (void **state)
{
  AsmArena *a = new_w2_arena ();
  AsmRequest two = dma_req (2), one = dma_req (1), hint;
  AsmRequest four_aligned = dma_req (4), two_high = dma_req (2);
  g_autoptr (GError) error = NULL;
  guint64 addr = 0;

  four_aligned.align = 4 * PG;
  four_aligned.min = 8 * PG;
  two_high.fit = ASM_FIT_HIGHEST;

  /* no hint yet; the first refusal searches and records one */
  assert_false (asm_arena_get_refusal_hint (a, &hint));
  assert_false (asm_arena_refusal_hint_covers (a, &two));
  assert_false (asm_arena_alloc_full (a, &two, &addr, &error));
  assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_NO_SPACE));
  g_clear_error (&error);
  assert_true (asm_arena_get_refusal_hint (a, &hint));
  assert_int_equal (hint.size, 2 * PG);
  assert_int_equal (hint.max, 64 * PG - 1);

  /* the same, larger, stricter requests are covered; looser ones are not */
  assert_true (asm_arena_refusal_hint_covers (a, &two));
  assert_true (asm_arena_refusal_hint_covers (a, &two_high));
  assert_true (asm_arena_refusal_hint_covers (a, &four_aligned));
  assert_false (asm_arena_refusal_hint_covers (a, &one));
  {
    AsmRequest wider = dma_req (2);

    wider.max = 65 * PG - 1;
    assert_false (asm_arena_refusal_hint_covers (a, &wider));
  }
  /* a covered refusal still reports the same error, naming the request */
  assert_false (asm_arena_alloc_full (a, &four_aligned, &addr, &error));
  assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_NO_SPACE));
  assert_non_null (strstr (error->message, "0x4000 units"));
  assert_non_null (strstr (error->message, "largest free run there is 0x1000"));
  g_clear_error (&error);

  /* allocations keep the hint; a free that cannot make room keeps it */
  assert_true (asm_arena_alloc_full (a, &one, &addr, NULL));
  assert_int_equal (addr, 0);
  assert_true (asm_arena_free (a, 0, NULL));
  assert_true (asm_arena_refusal_hint_covers (a, &two));
  /* a free above the limit keeps it too */
  assert_true (asm_arena_alloc (a, 8 * PG, &addr, NULL));
  assert_true (asm_arena_free (a, addr, NULL));
  assert_true (asm_arena_refusal_hint_covers (a, &two));
  assert_checked (a);

  /* freeing the hole at page 1 joins pages 0-2: the hint goes, and the
   * request that was refused is granted */
  assert_true (asm_arena_free (a, 1 * PG, NULL));
  assert_false (asm_arena_get_refusal_hint (a, &hint));
  assert_true (asm_arena_alloc_full (a, &two, &addr, NULL));
  assert_int_equal (addr, 0);
  assert_checked (a);
  asm_arena_unref (a);
}

static void
test_example_clone_and_span (void **state)
{
  AsmArena *a = new_w2_arena (), *c;
  AsmRequest two = dma_req (2), wide = dma_req (2);
  guint64 addr;

  assert_false (asm_arena_alloc_full (a, &two, &addr, NULL));
  c = asm_arena_clone (a, "clone");
  assert_true (asm_arena_refusal_hint_covers (c, &two));
  /* a helpful free in the clone drops the clone's hint only */
  assert_true (asm_arena_free (c, 1 * PG, NULL));
  assert_false (asm_arena_refusal_hint_covers (c, &two));
  assert_true (asm_arena_refusal_hint_covers (a, &two));
  assert_false (asm_arena_alloc_full (a, &two, &addr, NULL));
  assert_true (asm_arena_alloc_full (c, &two, &addr, NULL));
  assert_checked (a);
  assert_checked (c);
  asm_arena_unref (c);

  /* a span outside [min, max] keeps the hint; one inside drops it */
  wide.max = G_MAXUINT64;
  wide.size = 2048 * PG;
  assert_false (asm_arena_alloc_full (a, &wide, &addr, NULL));
  assert_true (asm_arena_add_span (a, 1024 * PG, 2048 * PG - 1, NULL));
  assert_true (asm_arena_refusal_hint_covers (a, &wide));
  assert_true (asm_arena_add_span (a, 4096 * PG, 6144 * PG - 1, NULL));
  assert_false (asm_arena_refusal_hint_covers (a, &wide));
  assert_true (asm_arena_alloc_full (a, &wide, &addr, NULL));
  assert_int_equal (addr, 4096 * PG);
  assert_checked (a);
  asm_arena_unref (a);
}

static void
test_example_find_free_and_move (void **state)
{
  AsmArena *a = new_w2_arena ();
  AsmRequest two = dma_req (2), hint;
  g_autoptr (GError) error = NULL;
  guint64 addr, big;

  /* find_free is a read: it uses a hint but never records one */
  assert_false (asm_arena_find_free (a, &two, &addr, &error));
  assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_NO_SPACE));
  g_clear_error (&error);
  assert_false (asm_arena_get_refusal_hint (a, &hint));

  /* a refused move records its request, and the arena is unchanged */
  assert_true (asm_arena_alloc (a, 4 * PG, &big, NULL));
  assert_false (asm_arena_move (a, big, &two, &addr, &error));
  assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_NO_SPACE));
  g_clear_error (&error);
  assert_true (asm_arena_refusal_hint_covers (a, &two));
  assert_true (asm_arena_lookup (a, big, NULL));
  assert_false (asm_arena_find_free (a, &two, &addr, NULL));
  assert_checked (a);

  /* bad input is still INVALID, named, before any hint */
  two.align = 3 * PG;
  assert_false (asm_arena_alloc_full (a, &two, &addr, &error));
  assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_INVALID));
  assert_non_null (strstr (error->message, "align 0x3000"));
  assert_false (asm_arena_refusal_hint_covers (a, &two));
  asm_arena_unref (a);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_example_repeated_and_after_free),
    cmocka_unit_test (test_example_clone_and_span),
    cmocka_unit_test (test_example_find_free_and_move),
    cmocka_unit_test (test_mixed),
    cmocka_unit_test (test_dma32),
  };

  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL |
                          G_LOG_LEVEL_WARNING);
  return cmocka_run_group_tests_name ("arena-hint", tests, NULL, NULL);
}
