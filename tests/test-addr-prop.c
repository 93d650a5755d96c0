/* test-addr-prop.c: property test of AsmAddrSpace against a naive model
 *
 * Random sequences of add_pool, reserve, reserve_box, reserve_any (random
 * within boxes, often reaching outside the pools), find_free (0 and 1 whole
 * trailing dimensions), release, is_free, is_pooled, parse/format and clone
 * run on a real space and on the brute-force model of tests/addr-model.c
 * (one "pooled" and one "reserved" flag per tuple of a small space; its
 * theory comment lists the rules it follows).
 *
 * Every answer and error code must equal the model's.  After every step
 * asm_addr_space_check() runs and the reserved count is compared; after
 * every refused call and every 16 steps the whole state is compared
 * (is_free and is_pooled of every tuple, and the foreach_reserved listing).
 * Two slots hold a space each so that clones are exercised: a clone is made
 * into the other slot and both are then changed independently.
 *
 * A seed fixes the shape of the space (one of addr_model_shapes) and the
 * operation stream.  The default run is 30 seeds of 4,000 operations
 * (120,000 operations).  On a mismatch the seed, step and operation are
 * printed.
 *
 *   ASM_PROP_SEED=N    run only seed N
 *   ASM_PROP_OPS=N     operations per seed (default 4000)
 *   ASM_PROP_SEEDS=N   number of seeds (default 30)
 *   ASM_PROP_TRACE=1   print every operation
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <asm/asm.h>

#include "addr-model.h"

#define N_SLOTS 2

/* ---------------------------------------------------------------------- */
/* Random generation                                                      */
/* ---------------------------------------------------------------------- */

typedef struct {
  guint64 s;
} Rng;

static guint64
rng_next (Rng *r)
{
  guint64 z = (r->s += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static guint64
rng_below (Rng *r, guint64 n)
{
  return n == 0 ? 0 : rng_next (r) % n;
}

static gboolean
rng_chance (Rng *r, guint num, guint den)
{
  return rng_below (r, den) < num;
}

/* a value for dimension d: usually valid, sometimes just beyond or far
 * beyond its width */
static guint64
gen_value (Rng *r, const AddrModel *m, guint d)
{
  guint k = (guint) rng_below (r, 100);

  if (k == 0)
    return m->size[d];
  if (k == 1)
    return G_MAXUINT64 - rng_below (r, 2);
  if (k == 2)
    return m->size[d] + rng_below (r, 1000);
  return rng_below (r, m->size[d]);
}

static void
gen_tuple (Rng *r, const AddrModel *m, guint64 *t)
{
  for (guint d = 0; d < m->n_dims; d++)
    t[d] = gen_value (r, m, d);
}

/* a tuple the model has reserved (if any), else a random one */
static void
gen_reserved_tuple (Rng *r, const AddrModel *m, guint64 *t)
{
  if (m->n_reserved > 0)
    {
      guint64 k = rng_below (r, m->n_reserved);
      for (guint i = 0; i < m->n; i++)
        if (m->reserved[i] && k-- == 0)
          {
            addr_model_tuple (m, i, t);
            return;
          }
    }
  gen_tuple (r, m, t);
}

/* a pooled tuple (if any), else a random one */
static void
gen_pooled_tuple (Rng *r, const AddrModel *m, guint64 *t)
{
  guint n_pooled = addr_model_n_pooled (m);

  if (n_pooled > 0)
    {
      guint64 k = rng_below (r, n_pooled);
      for (guint i = 0; i < m->n; i++)
        if (m->pooled[i] && k-- == 0)
          {
            addr_model_tuple (m, i, t);
            return;
          }
    }
  gen_tuple (r, m, t);
}

/* a tuple for reserve / release: mostly pooled or reserved ones, so that
 * the calls do not mostly fail INVALID */
static void
gen_target (Rng *r, const AddrModel *m, guint reserved_pct, guint pooled_pct,
            guint64 *t)
{
  guint k = (guint) rng_below (r, 100);

  if (k < reserved_pct)
    gen_reserved_tuple (r, m, t);
  else if (k < reserved_pct + pooled_pct)
    gen_pooled_tuple (r, m, t);
  else
    gen_tuple (r, m, t);
}

/* A random box.  @small: ranges biased to short (for pools and boxes to
 * reserve); otherwise anything (for within).  Sometimes malformed. */
static void
gen_box (Rng *r, const AddrModel *m, gboolean small, AsmRange *box)
{
  for (guint d = 0; d < m->n_dims; d++)
    {
      guint64 size = m->size[d], a, b;
      guint k = (guint) rng_below (r, 100);

      if (k < 15)
        a = 0, b = size - 1;                         /* whole */
      else if (k < 40)
        a = b = rng_below (r, size);                 /* one value */
      else if (small)
        {
          a = rng_below (r, size);
          b = MIN (size - 1, a + rng_below (r, 3));
        }
      else
        {
          a = rng_below (r, size);
          b = rng_below (r, size);
          if (a > b)
            {
              guint64 x = a;
              a = b;
              b = x;
            }
        }
      box[d] = ASM_RANGE (a, b);
    }
  if (rng_chance (r, 1, 40))
    {
      guint d = (guint) rng_below (r, m->n_dims);
      switch (rng_below (r, 3))
        {
        case 0: /* empty */
          box[d] = ASM_RANGE (box[d].last + 1, box[d].last);
          break;
        case 1: /* just beyond the width */
          box[d].last = m->size[d];
          break;
        default:
          box[d].last = G_MAXUINT64;
          break;
        }
    }
}

/* ---------------------------------------------------------------------- */
/* The harness                                                            */
/* ---------------------------------------------------------------------- */

typedef enum {
  OP_ADD_POOL,
  OP_RESERVE,
  OP_RESERVE_BOX,
  OP_RESERVE_ANY,
  OP_FIND_FREE,
  OP_RELEASE,
  OP_QUERY,
  OP_PARSE,
  OP_CLONE,
  OP_SWITCH,
  OP_RESET,
  OP_N
} OpKind;

static const char *const op_names[] = {
  "add_pool", "reserve", "reserve_box", "reserve_any", "find_free",
  "release", "query", "parse", "clone", "switch", "reset",
};

/* weights per 1000 */
static const guint op_weights[OP_N] = {
  [OP_ADD_POOL] = 90,
  [OP_RESERVE] = 170,
  [OP_RESERVE_BOX] = 100,
  [OP_RESERVE_ANY] = 200,
  [OP_FIND_FREE] = 120,
  [OP_RELEASE] = 220,
  [OP_QUERY] = 40,
  [OP_PARSE] = 25,
  [OP_CLONE] = 15,
  [OP_SWITCH] = 15,
  [OP_RESET] = 5,
};

typedef struct {
  const AddrShape *shape;
  guint64 seed;
  guint64 step;
  Rng rng;
  AsmAddrSpace *space[N_SLOTS];
  AddrModel model[N_SLOTS];
  guint cur;
  AddrSabotage sabotage;
  gboolean trace;
  gboolean quiet;      /* no report (sabotage runs) */
  GString *why;        /* the mismatch */
  GString *op;         /* the current operation, for the report */
  guint64 n_ops[OP_N];
  guint64 n_failed_calls;
} Harness;

/* outcome counts per operation, for ASM_PROP_STATS=1: [op][code + 1] */
static guint64 outcome[OP_N][ASM_ERROR_FAILED + 2];

static void
harness_new_space (Harness *h, guint slot)
{
  g_autoptr(GError) error = NULL;
  char name[32];

  g_clear_pointer (&h->space[slot], asm_addr_space_unref);
  g_snprintf (name, sizeof name, "prop%u", slot);
  h->space[slot] = asm_addr_space_new (name, h->shape->n_dims,
                                       h->shape->bits, &error);
  g_assert_no_error (error);
  addr_model_init (&h->model[slot], h->shape, h->sabotage);
}

static void
harness_init (Harness *h, guint64 seed, AddrSabotage sabotage, gboolean quiet)
{
  memset (h, 0, sizeof *h);
  h->seed = seed;
  h->shape = &addr_model_shapes[seed % addr_model_n_shapes];
  h->rng.s = seed * G_GUINT64_CONSTANT (0x2545f4914f6cdd1d) + 12345;
  h->sabotage = sabotage;
  h->quiet = quiet;
  h->trace = !quiet && test_env_u64 ("ASM_PROP_TRACE", 0) != 0;
  h->why = g_string_new (NULL);
  h->op = g_string_new (NULL);
  for (guint i = 0; i < N_SLOTS; i++)
    harness_new_space (h, i);
}

static void
harness_clear (Harness *h)
{
  for (guint i = 0; i < N_SLOTS; i++)
    g_clear_pointer (&h->space[i], asm_addr_space_unref);
  g_string_free (h->why, TRUE);
  g_string_free (h->op, TRUE);
}

/* Compares a call's outcome with the model's.  Also checks that a refused
 * call set an error and a successful one did not. */
static gboolean
compare_result (Harness *h, gboolean ret, GError *error, int expect)
{
  int got = ret ? TEST_OK : (error ? error->code : -2);

  if (ret && error != NULL)
    {
      g_string_printf (h->why, "succeeded but set an error: %s",
                       error->message);
      return FALSE;
    }
  if (!ret && error == NULL)
    {
      g_string_printf (h->why, "failed without an error");
      return FALSE;
    }
  if (!ret && error->domain != ASM_ERROR)
    {
      g_string_printf (h->why, "error in the wrong domain: %s",
                       error->message);
      return FALSE;
    }
  if (got != expect)
    {
      g_string_printf (h->why, "gave %s%s%s, model says %s",
                       test_code_name (got),
                       error ? ": " : "", error ? error->message : "",
                       test_code_name (expect));
      return FALSE;
    }
  if (!ret)
    h->n_failed_calls++;
  return TRUE;
}

static void
count_outcome (OpKind kind, int code)
{
  outcome[kind][code + 1]++;
}

/* the cheap check: invariants and the count */
static gboolean
verify_light (Harness *h, guint slot)
{
  g_autoptr(GError) error = NULL;
  AsmAddrSpace *s = h->space[slot];

  if (!asm_addr_space_check (s, &error))
    {
      g_string_printf (h->why, "slot %u: asm_addr_space_check: %s", slot,
                       error ? error->message : "(no error)");
      return FALSE;
    }
  if (asm_addr_space_get_n_reserved (s) != h->model[slot].n_reserved)
    {
      g_string_printf (h->why, "slot %u: %" G_GUINT64_FORMAT " reserved, "
                       "model has %" G_GUINT64_FORMAT, slot,
                       asm_addr_space_get_n_reserved (s),
                       h->model[slot].n_reserved);
      return FALSE;
    }
  return TRUE;
}

/* the full check: every tuple's state and the listing */
static gboolean
verify_full (Harness *h, guint slot)
{
  g_autoptr (GString) why = g_string_new (NULL);

  if (!verify_light (h, slot))
    return FALSE;
  if (!addr_model_compare (&h->model[slot], h->space[slot], why))
    {
      g_string_printf (h->why, "slot %u: %s", slot, why->str);
      return FALSE;
    }
  return TRUE;
}

/* Runs one random operation; FALSE on a mismatch (h->why says why). */
static gboolean
harness_step (Harness *h)
{
  guint64 pick = rng_below (&h->rng, 1000);
  OpKind kind = 0;
  guint slot;
  AsmAddrSpace *s;
  AddrModel *m;
  guint n;
  guint64 t[ASM_ADDR_MAX_DIMS], got[ASM_ADDR_MAX_DIMS],
      want[ASM_ADDR_MAX_DIMS];
  AsmRange box[ASM_ADDR_MAX_DIMS];
  g_autoptr(GError) error = NULL;
  gboolean ret, refused = FALSE;
  int expect;

  while (pick >= op_weights[kind])
    pick -= op_weights[kind++];
  /* most operations go to the current slot, some to the other one */
  slot = rng_chance (&h->rng, 1, 8) ? (h->cur + 1) % N_SLOTS : h->cur;
  s = h->space[slot];
  m = &h->model[slot];
  /* a space with few pooled tuples gets more pools */
  if (addr_model_n_pooled (m) < m->n / 8 && rng_chance (&h->rng, 1, 3))
    kind = OP_ADD_POOL;
  n = m->n_dims;
  h->n_ops[kind]++;
  g_string_printf (h->op, "slot %u %s ", slot, op_names[kind]);

  switch (kind)
    {
    case OP_ADD_POOL:
      gen_box (&h->rng, m, TRUE, box);
      addr_model_append_box (h->op, n, box);
      expect = addr_model_add_pool (m, box);
      ret = asm_addr_space_add_pool (s, box, &error);
      if (!compare_result (h, ret, error, expect))
        return FALSE;
      refused = !ret;
      break;

    case OP_RESERVE:
      gen_target (&h->rng, m, 10, 60, t);
      addr_model_append_tuple (h->op, n, t);
      expect = addr_model_reserve (m, t);
      ret = asm_addr_space_reserve (s, t, &error);
      if (!compare_result (h, ret, error, expect))
        return FALSE;
      refused = !ret;
      break;

    case OP_RESERVE_BOX:
      gen_box (&h->rng, m, TRUE, box);
      if (rng_chance (&h->rng, 2, 3))
        {
          /* anchored at a pooled tuple, a few values wide */
          gen_pooled_tuple (&h->rng, m, t);
          for (guint d = 0; d < n; d++)
            if (box[d].first <= box[d].last && box[d].last < m->size[d] &&
                t[d] < m->size[d])
              box[d] = ASM_RANGE (t[d], MIN (m->size[d] - 1,
                                             t[d] + (rng_chance (&h->rng, 1, 3)
                                                         ? 1 : 0)));
        }
      addr_model_append_box (h->op, n, box);
      expect = addr_model_reserve_box (m, box);
      ret = asm_addr_space_reserve_box (s, box, &error);
      if (!compare_result (h, ret, error, expect))
        return FALSE;
      refused = !ret;
      break;

    case OP_RESERVE_ANY:
      {
        gboolean null_within = rng_chance (&h->rng, 1, 10);
        if (!null_within)
          gen_box (&h->rng, m, FALSE, box);
        addr_model_append_box (h->op, n, null_within ? NULL : box);
        memset (got, 0, sizeof got);
        expect = addr_model_reserve_any (m, null_within ? NULL : box, want);
        ret = asm_addr_space_reserve_any (s, null_within ? NULL : box, got,
                                          &error);
        if (!compare_result (h, ret, error, expect))
          return FALSE;
        if (ret && memcmp (got, want, n * sizeof (guint64)) != 0)
          {
            g_string_printf (h->why, "gave ");
            addr_model_append_tuple (h->why, n, got);
            g_string_append (h->why, ", model says ");
            addr_model_append_tuple (h->why, n, want);
            return FALSE;
          }
        refused = !ret;
      }
      break;

    case OP_FIND_FREE:
      {
        /* k: 0 or 1 mostly, sometimes more (INVALID when >= n_dims) */
        guint k = rng_chance (&h->rng, 1, 2) ? 0
                  : rng_chance (&h->rng, 7, 8) ? 1
                                                : (guint) rng_below (&h->rng, n + 2);
        gboolean null_within = rng_chance (&h->rng, 1, 10);
        if (!null_within)
          {
            gen_box (&h->rng, m, FALSE, box);
            /* the whole trailing dimensions, mostly */
            if (rng_chance (&h->rng, 15, 16))
              for (guint d = k < n ? n - k : 0; d < n; d++)
                box[d] = ASM_RANGE (0, m->size[d] - 1);
          }
        addr_model_append_box (h->op, n, null_within ? NULL : box);
        g_string_append_printf (h->op, " k=%u", k);
        expect = addr_model_find_free (m, null_within ? NULL : box, k, want);
        ret = asm_addr_space_find_free (s, null_within ? NULL : box, k, got,
                                        &error);
        if (!compare_result (h, ret, error, expect))
          return FALSE;
        if (ret && memcmp (got, want, n * sizeof (guint64)) != 0)
          {
            g_string_printf (h->why, "gave ");
            addr_model_append_tuple (h->why, n, got);
            g_string_append (h->why, ", model says ");
            addr_model_append_tuple (h->why, n, want);
            return FALSE;
          }
        refused = !ret;
      }
      break;

    case OP_RELEASE:
      gen_target (&h->rng, m, 65, 20, t);
      addr_model_append_tuple (h->op, n, t);
      expect = addr_model_release (m, t);
      ret = asm_addr_space_release (s, t, &error);
      if (!compare_result (h, ret, error, expect))
        return FALSE;
      refused = !ret;
      break;

    case OP_QUERY:
      gen_tuple (&h->rng, m, t);
      addr_model_append_tuple (h->op, n, t);
      if (asm_addr_space_is_free (s, t) != addr_model_is_free (m, t) ||
          asm_addr_space_is_pooled (s, t) != addr_model_is_pooled (m, t))
        {
          g_string_printf (h->why, "is_free/is_pooled disagree");
          return FALSE;
        }
      break;

    case OP_PARSE:
      {
        g_autofree char *text = NULL;
        gen_tuple (&h->rng, m, t);
        addr_model_append_tuple (h->op, n, t);
        text = asm_addr_space_format (s, t);
        ret = asm_addr_space_parse (s, text, got, &error);
        expect = addr_model_valid_tuple (m, t) ? TEST_OK : ASM_ERROR_INVALID;
        if (!compare_result (h, ret, error, expect))
          return FALSE;
        if (ret && memcmp (got, t, n * sizeof (guint64)) != 0)
          {
            g_string_printf (h->why, "'%s' parsed back differently", text);
            return FALSE;
          }
      }
      break;

    case OP_CLONE:
      {
        guint other = (slot + 1) % N_SLOTS;
        char name[32];
        g_snprintf (name, sizeof name, "prop%u-clone%" G_GUINT64_FORMAT,
                    other, h->step);
        g_clear_pointer (&h->space[other], asm_addr_space_unref);
        h->space[other] = asm_addr_space_clone (s, name);
        h->model[other] = *m;
        if (!verify_full (h, other) || !verify_full (h, slot))
          return FALSE;
        /* go on with either the original or the clone */
        h->cur = rng_chance (&h->rng, 1, 2) ? other : slot;
      }
      break;

    case OP_SWITCH:
      h->cur = (h->cur + 1) % N_SLOTS;
      break;

    case OP_RESET:
      harness_new_space (h, slot);
      break;

    default:
      g_assert_not_reached ();
    }

  count_outcome (kind, error ? error->code : TEST_OK);
  if (h->trace)
    fprintf (stderr, "# %" G_GUINT64_FORMAT ": %s -> %s\n", h->step,
             h->op->str, error ? error->message : "ok");
  if (!verify_light (h, slot))
    return FALSE;
  if ((refused || h->step % 16 == 0) && !verify_full (h, slot))
    return FALSE;
  if (h->step % 64 == 0 && !verify_full (h, (slot + 1) % N_SLOTS))
    return FALSE;
  return TRUE;
}

typedef struct {
  guint64 ops;
  guint64 failed_calls;
  guint64 reserved_max;
} Totals;

/* Runs one seed; FALSE on a mismatch (reported unless quiet). */
static gboolean
run_seed (guint64 seed, guint64 n_ops, AddrSabotage sabotage, gboolean quiet,
          Totals *totals)
{
  Harness h;
  gboolean ok = TRUE;

  harness_init (&h, seed, sabotage, quiet);
  for (h.step = 1; h.step <= n_ops; h.step++)
    {
      if (!harness_step (&h))
        {
          ok = FALSE;
          break;
        }
      if (totals != NULL)
        totals->reserved_max =
            MAX (totals->reserved_max, h.model[h.cur].n_reserved);
    }
  if (ok)
    for (guint i = 0; i < N_SLOTS && ok; i++)
      ok = verify_full (&h, i);
  if (!ok && !quiet)
    {
      fprintf (stderr,
               "# FAILED seed %" G_GUINT64_FORMAT " at step %" G_GUINT64_FORMAT
               " (shape %u dims {",
               seed, MIN (h.step, n_ops), h.shape->n_dims);
      for (guint d = 0; d < h.shape->n_dims; d++)
        fprintf (stderr, "%s%u", d ? "," : "", h.shape->bits[d]);
      fprintf (stderr, "})\n#   op: %s\n#   %s\n"
               "#   replay: ASM_PROP_SEED=%" G_GUINT64_FORMAT
               " ASM_PROP_OPS=%" G_GUINT64_FORMAT
               " ASM_PROP_TRACE=1 ./tests/test-addr-prop\n",
               h.op->str, h.why->str, seed, MIN (h.step, n_ops));
    }
  if (totals != NULL)
    {
      totals->ops += MIN (h.step, n_ops);
      totals->failed_calls += h.n_failed_calls;
    }
  harness_clear (&h);
  return ok;
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                  */
/* ---------------------------------------------------------------------- */

static void
test_random_sequences (void **state)
{
  guint64 n_ops = test_env_u64 ("ASM_PROP_OPS", 4000);
  guint64 n_seeds = test_env_u64 ("ASM_PROP_SEEDS", 30);
  const char *only = g_getenv ("ASM_PROP_SEED");
  Totals totals = { 0 };
  guint failed = 0;
  gint64 t0 = g_get_monotonic_time ();

  if (only != NULL && *only != '\0')
    {
      guint64 seed = g_ascii_strtoull (only, NULL, 0);
      if (!run_seed (seed, n_ops, ADDR_SABOTAGE_NONE, FALSE, &totals))
        fail_msg ("seed %" G_GUINT64_FORMAT " failed", seed);
    }
  else
    for (guint64 seed = 0; seed < n_seeds; seed++)
      if (!run_seed (seed, n_ops, ADDR_SABOTAGE_NONE, FALSE, &totals))
        failed++;
  fprintf (stderr, "# %" G_GUINT64_FORMAT " operations (%" G_GUINT64_FORMAT
           " refused calls), up to %" G_GUINT64_FORMAT " tuples reserved, "
           "%.2f s\n", totals.ops, totals.failed_calls, totals.reserved_max,
           (g_get_monotonic_time () - t0) / 1e6);
  if (test_env_u64 ("ASM_PROP_STATS", 0) != 0)
    for (guint k = 0; k < OP_N; k++)
      {
        fprintf (stderr, "#   %-12s", op_names[k]);
        for (int c = TEST_OK; c <= ASM_ERROR_FAILED; c++)
          if (outcome[k][c + 1] != 0)
            fprintf (stderr, " %s=%" G_GUINT64_FORMAT, test_code_name (c),
                     outcome[k][c + 1]);
        fprintf (stderr, "\n");
      }
  if (failed > 0)
    fail_msg ("%u seeds failed", failed);
}

/* Each deliberately wrong model must be caught within a few seeds, or the
 * harness is not looking. */
static void
test_detects_sabotage (void **state)
{
  for (guint sab = ADDR_SABOTAGE_NONE + 1; sab < ADDR_SABOTAGE_N; sab++)
    {
      guint64 seed;
      gboolean caught = FALSE;

      for (seed = 0; seed < 12 && !caught; seed++)
        caught = !run_seed (seed, 2000, sab, TRUE, NULL);
      if (!caught)
        fail_msg ("sabotaged model %u was not caught", sab);
    }
}

/* The same seed gives the same run. */
static void
test_deterministic (void **state)
{
  Totals a = { 0 }, b = { 0 };

  assert_true (run_seed (7, 1500, ADDR_SABOTAGE_NONE, FALSE, &a));
  assert_true (run_seed (7, 1500, ADDR_SABOTAGE_NONE, FALSE, &b));
  assert_memory_equal (&a, &b, sizeof a);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_detects_sabotage),
    cmocka_unit_test (test_deterministic),
    cmocka_unit_test (test_random_sequences),
  };

  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL |
                          G_LOG_LEVEL_WARNING);
  return cmocka_run_group_tests_name ("addr-prop", tests, NULL, NULL);
}
