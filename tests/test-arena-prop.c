/* test-arena-prop.c: property test of AsmArena against a reference model
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * Random operation sequences (add_span, reserve, alloc, alloc_full with
 * random constraints and every AsmFit, find_free, free, move, lookup,
 * lookup_full, largest_free_within, clone, unref, walk + stats) run against
 * a real #AsmArena and against the model in arena-model.c, a plain array
 * over a window of 512 or 1024 units.  The model and the harness that
 * compares the two (arena-harness.c) are described there; this file only
 * chooses the runs.
 *
 * A seed fixes everything about a run:
 *
 *   window   = seed % 3         at 0, straddling 2^32, or ending at G_MAXUINT64
 *   quantum  = 1 << (seed / 3 % 4)          1, 2, 4 or 8
 *   width    = seed / 12 % 2 ? 1024 : 512   units in the window
 *   profile  = a hash of the seed           how often the generator frees
 *
 * and the operations come from a PRNG seeded with it.  Seeds from
 * DEEP_SEED_BASE on select the deep-tree profile instead: a 4096-unit
 * window, quantum 1 or 2, mostly allocations of one or two quanta, and
 * stretches that mostly free, so the B+tree grows to thousands of segments
 * and shrinks again.
 *
 * The default run gives each window 16 seeds of 10,000 operations and the
 * deep tree 6 seeds of 16,000: 576,000 operations in all.  On a mismatch the
 * test prints the seed and step, shrinks the failing sequence by deleting
 * operations while it still fails, and prints what is left.  Each window's
 * summary tells how much ground the run covered (placements per fit, NEXT
 * wrap-arounds, overlapping moves, allocations across 2^32 or ending at
 * G_MAXUINT64, the deepest tree).
 *
 * Environment:
 *   ASM_PROP_SEED=N      run only seed N (in the test of its window or the
 *                        deep-tree test)
 *   ASM_PROP_OPS=N       operations per seed (default 10000, deep 16000)
 *   ASM_PROP_SEEDS=N     seeds per window (default 16), for a longer soak
 *   ASM_PROP_TRACE=1     print every operation and its expected result
 *   ASM_PROP_MINIMIZE=0  do not shrink a failing sequence
 *   ASM_PROP_SABOTAGE=N  run against deliberately wrong model N (see
 *                        ModelSabotage), to see what a failure looks like
 *
 * The detects_* tests run the same harness against deliberately wrong models
 * (see ModelSabotage) and demand a mismatch: a comparison that cannot fail
 * proves nothing.
 */
#include "arena-harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#define DEFAULT_OPS 10000
#define DEFAULT_SEEDS 16
/* Seeds from here on select the deep-tree profile. */
#define DEEP_SEED_BASE 1000000
#define DEEP_WIDTH 4096
#define DEEP_OPS 16000
#define DEEP_SEEDS 6
#define MINIMIZE_SECONDS 60

static void
config_for_seed (guint64 seed, HarnessConfig *cfg)
{
  static const guint free_weights[] = { 8, 14, 22, 32 };
  ChoiceSource mix;
  guint free_weight;

  choice_source_init_seed (&mix,
                           seed ^ G_GUINT64_CONSTANT (0x6a09e667f3bcc908));
  free_weight = free_weights[choice_below (&mix, G_N_ELEMENTS (free_weights))];

  if (seed >= DEEP_SEED_BASE)
    {
      harness_config_init (cfg, seed % WINDOW_N, DEEP_WIDTH,
                           G_GUINT64_CONSTANT (1) << ((seed / 3) % 2),
                           MIN (free_weight, 14));
      cfg->tiny = TRUE;
      cfg->shrink_every = DEEP_OPS / 8;
      return;
    }
  harness_config_init (cfg, seed % WINDOW_N, (seed / 12) % 2 ? 1024 : 512,
                       G_GUINT64_CONSTANT (1) << ((seed / 3) % 4), free_weight);
}

static void
print_config (guint64 seed, const HarnessConfig *cfg)
{
  fprintf (stderr,
           "#   window %s: base 0x%" G_GINT64_MODIFIER
           "x, %u units, quantum %" G_GUINT64_FORMAT
           ", free weight %u (seed %" G_GUINT64_FORMAT ")\n",
           model_window_name (cfg->window), cfg->base, cfg->width, cfg->quantum,
           cfg->free_weight, seed);
}

static ModelSabotage
env_sabotage (void)
{
  return (ModelSabotage) MIN (test_env_u64 ("ASM_PROP_SABOTAGE", 0),
                              MODEL_SABOTAGE_N - 1);
}

/* Replay @ops on a fresh harness.  Returns the index of the first operation
 * that fails (n_ops if only the final check fails), or -1. */
static gint64
replay (const HarnessConfig *cfg, ModelSabotage sabotage, const ModelOp *ops,
        guint n_ops, GString *why)
{
  Harness *h = harness_new (cfg, sabotage);
  gint64 failed = -1;
  guint k;

  for (k = 0; k < n_ops; k++)
    if (!harness_apply (h, &ops[k]))
      {
        failed = k;
        break;
      }
  if (failed < 0 && !harness_verify_all (h))
    failed = n_ops;
  if (failed >= 0 && why != NULL)
    g_string_assign (why, h->why->str);
  harness_free (h);
  return failed;
}

/* Delete operations from a failing sequence while it keeps failing. */
static GArray *
minimize (const HarnessConfig *cfg, const ModelOp *ops, guint n_ops)
{
  GArray *cur = g_array_new (FALSE, FALSE, sizeof (ModelOp));
  gint64 deadline = g_get_monotonic_time () + MINIMIZE_SECONDS * G_USEC_PER_SEC;
  guint chunk;

  g_array_append_vals (cur, ops, n_ops);
  for (chunk = MAX (cur->len / 2, 1); chunk >= 1; chunk /= 2)
    {
      guint start = 0;

      while (start < cur->len && g_get_monotonic_time () < deadline)
        {
          g_autoptr(GArray) cand =
              g_array_new (FALSE, FALSE, sizeof (ModelOp));
          guint end = MIN (start + chunk, cur->len);
          gint64 f;

          g_array_append_vals (cand, cur->data, start);
          g_array_append_vals (cand, &g_array_index (cur, ModelOp, end),
                               cur->len - end);
          f = replay (cfg, env_sabotage (), (ModelOp *) cand->data, cand->len,
                      NULL);
          if (f >= 0)
            {
              g_array_set_size (cand, MIN ((guint) f + 1, cand->len));
              g_array_unref (cur);
              cur = g_steal_pointer (&cand);
            }
          else
            start += chunk;
        }
      if (chunk == 1)
        break;
    }
  return cur;
}

static void
report_failure (guint64 seed, const HarnessConfig *cfg, Harness *h, GArray *ops)
{
  g_autoptr(GString) why = g_string_new (NULL);
  guint k;

  fprintf (stderr,
           "# FAILED seed %" G_GUINT64_FORMAT " at step %" G_GUINT64_FORMAT
           "\n#   replay: ASM_PROP_SEED=%" G_GUINT64_FORMAT
           " ASM_PROP_OPS=%" G_GUINT64_FORMAT
           " ASM_PROP_TRACE=1 ./tests/test-arena-prop\n",
           seed, h->step, seed, h->step);
  print_config (seed, cfg);
  fprintf (stderr, "#   %s\n", h->why->str);

  if (test_env_u64 ("ASM_PROP_MINIMIZE", 1) == 0)
    return;

  {
    g_autoptr(GArray) small = minimize (cfg, (ModelOp *) ops->data, ops->len);
    g_autoptr(GString) line = g_string_new (NULL);

    replay (cfg, env_sabotage (), (ModelOp *) small->data, small->len, why);
    fprintf (stderr,
             "# shrunk to %u operations (asm_arena_new (\"prop-0\", "
             "%" G_GUINT64_FORMAT ") is a0):\n",
             small->len, cfg->quantum);
    for (k = 0; k < small->len; k++)
      {
        g_string_truncate (line, 0);
        model_op_format (&g_array_index (small, ModelOp, k), line);
        fprintf (stderr, "#   %s;\n", line->str);
      }
    fprintf (stderr, "#   -> %s\n", why->str);
  }
}

typedef struct {
  guint64 ops;
  guint64 counts[OP_N];
  guint64 n_invalid, n_no_space, n_in_use, n_not_found;
  HarnessCoverage cov;
} RunTotals;

static void
add_coverage (HarnessCoverage *t, const HarnessCoverage *c)
{
  guint k;

  for (k = 0; k < G_N_ELEMENTS (t->fit_ok); k++)
    t->fit_ok[k] += c->fit_ok[k];
  t->ok_align += c->ok_align;
  t->ok_phase += c->ok_phase;
  t->ok_nocross += c->ok_nocross;
  t->ok_minmax += c->ok_minmax;
  t->best_not_lowest += c->best_not_lowest;
  t->next_wrapped += c->next_wrapped;
  t->move_ok += c->move_ok;
  t->move_overlap += c->move_overlap;
  t->adjacent_spans += c->adjacent_spans;
  t->across_middle += c->across_middle;
  t->at_top += c->at_top;
  t->max_height = MAX (t->max_height, c->max_height);
  t->max_segments = MAX (t->max_segments, c->max_segments);
}

static void
print_totals (const char *what, const RunTotals *t, double seconds)
{
  const HarnessCoverage *c = &t->cov;

  fprintf (stderr, "# %s: %" G_GUINT64_FORMAT " operations in %.2f s\n", what,
           t->ops, seconds);
  fprintf (stderr,
           "#   add_span %" G_GUINT64_FORMAT ", reserve %" G_GUINT64_FORMAT
           ", alloc %" G_GUINT64_FORMAT ", alloc_full %" G_GUINT64_FORMAT
           ", find_free %" G_GUINT64_FORMAT ", free %" G_GUINT64_FORMAT
           ", move %" G_GUINT64_FORMAT ", lookup %" G_GUINT64_FORMAT
           ", lookup_full %" G_GUINT64_FORMAT
           ", largest_free_within %" G_GUINT64_FORMAT
           ", clone %" G_GUINT64_FORMAT ", unref %" G_GUINT64_FORMAT
           ", verify %" G_GUINT64_FORMAT "\n",
           t->counts[OP_ADD_SPAN], t->counts[OP_RESERVE], t->counts[OP_ALLOC],
           t->counts[OP_ALLOC_FULL], t->counts[OP_FIND_FREE],
           t->counts[OP_FREE], t->counts[OP_MOVE], t->counts[OP_LOOKUP],
           t->counts[OP_LOOKUP_FULL], t->counts[OP_LARGEST_FREE],
           t->counts[OP_CLONE], t->counts[OP_DROP], t->counts[OP_VERIFY]);
  fprintf (stderr,
           "#   expected errors: INVALID %" G_GUINT64_FORMAT
           ", NO_SPACE %" G_GUINT64_FORMAT ", IN_USE %" G_GUINT64_FORMAT
           ", NOT_FOUND %" G_GUINT64_FORMAT "\n",
           t->n_invalid, t->n_no_space, t->n_in_use, t->n_not_found);
  fprintf (stderr,
           "#   placed: LOWEST %" G_GUINT64_FORMAT
           ", HIGHEST %" G_GUINT64_FORMAT ", BEST %" G_GUINT64_FORMAT
           " (%" G_GUINT64_FORMAT " not where LOWEST is)"
           ", NEXT %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
           " wrapped); with align %" G_GUINT64_FORMAT
           ", phase %" G_GUINT64_FORMAT ", nocross %" G_GUINT64_FORMAT
           ", min/max %" G_GUINT64_FORMAT "; moves %" G_GUINT64_FORMAT
           " (%" G_GUINT64_FORMAT
           " overlapping); adjacent spans %" G_GUINT64_FORMAT
           "; across the middle %" G_GUINT64_FORMAT
           ", ending at G_MAXUINT64 %" G_GUINT64_FORMAT
           "; B+tree height <= %" G_GUINT64_FORMAT
           ", segments <= %" G_GUINT64_FORMAT "\n",
           c->fit_ok[ASM_FIT_LOWEST], c->fit_ok[ASM_FIT_HIGHEST],
           c->fit_ok[ASM_FIT_BEST], c->best_not_lowest, c->fit_ok[ASM_FIT_NEXT],
           c->next_wrapped, c->ok_align, c->ok_phase, c->ok_nocross,
           c->ok_minmax, c->move_ok, c->move_overlap, c->adjacent_spans,
           c->across_middle, c->at_top, c->max_height, c->max_segments);
}

/* Run one seed; FALSE (after reporting) on a mismatch. */
static gboolean
run_seed (guint64 seed, guint64 n_ops, ModelSabotage sabotage, gboolean report,
          RunTotals *totals)
{
  HarnessConfig cfg;
  ChoiceSource src;
  Harness *h;
  g_autoptr(GArray) ops = g_array_new (FALSE, FALSE, sizeof (ModelOp));
  gboolean ok = TRUE;
  guint64 step;
  guint k;

  config_for_seed (seed, &cfg);
  h = harness_new (&cfg, sabotage);
  h->trace = report && test_env_u64 ("ASM_PROP_TRACE", 0) != 0;
  if (h->trace)
    print_config (seed, &cfg);
  choice_source_init_seed (&src,
                          seed * G_GUINT64_CONSTANT (0x2545f4914f6cdd1d) + 1);

  for (step = 0; step < n_ops && ok; step++)
    {
      ModelOp op;

      harness_gen (h, &src, &op);
      g_array_append_val (ops, op);
      ok = harness_apply (h, &op);
    }
  if (ok && !harness_verify_all (h))
    ok = FALSE;
  if (!ok && report)
    report_failure (seed, &cfg, h, ops);

  if (totals != NULL)
    {
      totals->ops += ops->len;
      for (k = 0; k < OP_N; k++)
        totals->counts[k] += h->counts[k];
      totals->n_invalid += h->n_invalid;
      totals->n_no_space += h->n_no_space;
      totals->n_in_use += h->n_in_use;
      totals->n_not_found += h->n_not_found;
      add_coverage (&totals->cov, &h->cov);
    }
  harness_free (h);
  return ok;
}

static void
run_window (ModelWindow window)
{
  guint64 n_ops = test_env_u64 ("ASM_PROP_OPS", DEFAULT_OPS);
  guint64 n_seeds = test_env_u64 ("ASM_PROP_SEEDS", DEFAULT_SEEDS);
  const char *only = g_getenv ("ASM_PROP_SEED");
  RunTotals t = { 0 };
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = TRUE;
  guint64 i;

  if (only != NULL && *only != '\0')
    {
      guint64 seed = g_ascii_strtoull (only, NULL, 0);

      if (seed % WINDOW_N != window || seed >= DEEP_SEED_BASE)
        skip ();
      ok = run_seed (seed, n_ops, env_sabotage (), TRUE, &t);
    }
  else
    for (i = 0; i < n_seeds && ok; i++)
      ok = run_seed (window + WINDOW_N * i, n_ops, env_sabotage (), TRUE, &t);

  {
    g_autofree char *what =
        g_strdup_printf ("window %s", model_window_name (window));

    print_totals (what, &t,
                  (g_get_monotonic_time () - t0) / (double) G_USEC_PER_SEC);
  }
  if (!ok)
    fail_msg (
        "the arena disagrees with the model (see the seed and sequence above)");
}

/* Small allocations in a 4096-unit window: thousands of segments, so the
 * B+tree grows to three levels and splits and merges inner nodes. */
static void
test_deep_tree (void **state)
{
  guint64 n_ops = test_env_u64 ("ASM_PROP_OPS", DEEP_OPS);
  const char *only = g_getenv ("ASM_PROP_SEED");
  RunTotals t = { 0 };
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = TRUE;
  guint64 i;

  if (only != NULL && *only != '\0')
    {
      guint64 seed = g_ascii_strtoull (only, NULL, 0);

      if (seed < DEEP_SEED_BASE)
        skip ();
      ok = run_seed (seed, n_ops, env_sabotage (), TRUE, &t);
    }
  else
    for (i = 0; i < DEEP_SEEDS && ok; i++)
      ok = run_seed (DEEP_SEED_BASE + i, n_ops, env_sabotage (), TRUE, &t);

  print_totals ("deep tree", &t,
                (g_get_monotonic_time () - t0) / (double) G_USEC_PER_SEC);
  if (!ok)
    fail_msg (
        "the arena disagrees with the model (see the seed and sequence above)");
  /* the profile must still reach a big tree (with 32-way nodes, 3 levels) */
  if (only == NULL || *only == '\0')
    assert_true (t.cov.max_segments >= 1000);
}

static void
test_window_zero (void **state)
{
  run_window (WINDOW_ZERO);
}

static void
test_window_4g (void **state)
{
  run_window (WINDOW_4G);
}

static void
test_window_top (void **state)
{
  run_window (WINDOW_TOP);
}

/* A model that believes in a unit the arena never gave out must be caught
 * by the walk and stats comparison. */
static void
test_detects_phantom_unit (void **state)
{
  HarnessConfig cfg;
  Harness *h;
  ModelOp op = { .kind = OP_ADD_SPAN, .a = 0x40, .b = 0x7f };
  guint64 addr = 0;
  AsmRequest req = ASM_REQUEST_INIT (4);

  harness_config_init (&cfg, WINDOW_ZERO, 512, 4, 10);
  h = harness_new (&cfg, MODEL_SABOTAGE_NONE);
  assert_true (harness_apply (h, &op));
  assert_true (harness_verify_all (h));

  /* the model alone allocates */
  assert_int_equal (arena_model_alloc (h->model[0], &req, &addr), MODEL_OK);
  assert_false (harness_verify_all (h));
  assert_non_null (strstr (h->why->str, "walk"));

  /* and the next allocation disagrees too */
  g_string_truncate (h->why, 0);
  op = (ModelOp){ .kind = OP_ALLOC, .req = ASM_REQUEST_INIT (4) };
  assert_false (harness_apply (h, &op));
  harness_free (h);
}

/* Each deliberately wrong model must be caught within a few seeds. */
static void
test_detects_sabotage (void **state)
{
  guint s;

  for (s = MODEL_SABOTAGE_NONE + 1; s < MODEL_SABOTAGE_N; s++)
    {
      guint64 seed;
      gboolean caught = FALSE;

      for (seed = 0; seed < 12 && !caught; seed++)
        caught = !run_seed (seed, 3000, s, FALSE, NULL);
      if (!caught)
        fail_msg ("sabotaged model %u was not caught", s);
      fprintf (stderr, "# sabotage %u caught by seed %" G_GUINT64_FORMAT "\n",
               s, seed - 1);
    }
}

/* The same seed gives the same run (a replay reproduces it). */
static void
test_deterministic (void **state)
{
  RunTotals a = { 0 }, b = { 0 };

  assert_true (run_seed (7, 2000, MODEL_SABOTAGE_NONE, TRUE, &a));
  assert_true (run_seed (7, 2000, MODEL_SABOTAGE_NONE, TRUE, &b));
  assert_memory_equal (&a, &b, sizeof a);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_detects_phantom_unit),
    cmocka_unit_test (test_detects_sabotage),
    cmocka_unit_test (test_deterministic),
    cmocka_unit_test (test_window_zero),
    cmocka_unit_test (test_window_4g),
    cmocka_unit_test (test_window_top),
    cmocka_unit_test (test_deep_tree),
  };

  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL |
                          G_LOG_LEVEL_WARNING);
  return cmocka_run_group_tests_name ("arena-prop", tests, NULL, NULL);
}
