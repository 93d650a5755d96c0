/* bench-addr.c: speed figures for AsmAddrSpace (the IPv4 example
 * scaled to a /8)
 *
 * The program prints figures; it never passes or fails on timing.  It exits
 * with status 1 only when the space gives a wrong answer: a reserve_any()
 * result outside `within`, not above the previous one of the same round, or
 * (with --smoke) not the lowest free tuple by a brute-force scan; a failed
 * reserve, release or asm_addr_space_check().
 *
 * Space: dims {8,8,8,8}, one pool 10.{0..255}.{0..255}.{0..255} (2^24
 * tuples).  "within" is 10.{0..255}.{0..255}.{1..254}: every host address
 * of every /24, so .0 and .255 are pooled but never candidates.
 *
 * A  Random holes.  N random tuples of the pool are reserved (N = 10^3,
 *    10^4, 10^5, 10^6; the fill's cost per reserve is printed), then
 *    --rounds rounds of K = --k reserve_any(within) calls (default 20 x
 *    1000) are timed; after each round its K tuples are released (also
 *    timed), so every round starts from the same N.  Each call returns the
 *    lowest free host address, so it meets the holes and the free .255/.0
 *    pairs (outside within) between 10.0.0.1 and its answer: K stays the
 *    same at every N so that the figures compare N alone.
 * B  Far, prefix wholly reserved.  10.{0..229}.*.* (89.8% of the pool) is
 *    reserved as one box; then K reserve_any(within) calls: the first free
 *    tuple is 10.230.0.0 (outside within), the answer 10.230.0.1, ...
 * C  Far, prefix reserved except .0 and .255.  10.{0..229}.*.{1..254} is
 *    reserved; every call must now skip 230 * 256 = 58,880 free runs (each
 *    .255 with the next .0) that lie outside within before its answer.  The
 *    theory comment promises O(log n) per free run met; this shows what
 *    that costs.  Only --far-calls calls (default 20) are timed.
 *
 * Every figure is the median (min, max) of --runs runs (default 5), each
 * from a fresh space and its own seed (base seed + run).
 *
 * Times are thread CPU time (CLOCK_THREAD_CPUTIME_ID), so that a busy
 * machine does not add the time spent waiting for a CPU; --wall uses
 * CLOCK_MONOTONIC instead.
 *
 * Usage: bench-addr [--smoke] [--wall] [--runs N] [--k K] [--rounds R]
 *                   [--max-n N] [--far-calls C] [--seed S]
 *   --smoke   tiny sizes, one run, every reserve_any answer checked by a
 *             brute-force scan; registered as a test so the bench cannot rot
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <asm/asm.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RUNS 64

/* what the lookups answered, so that they are not optimised away */
static volatile guint lookup_sink;

static struct {
  gboolean smoke;
  guint runs;
  guint k;
  guint rounds;
  guint64 max_n;
  guint far_calls;
  guint64 seed;
} opt = { FALSE, 5, 1000, 20, 1000000, 20, 20160524 };

static gboolean failed;

#define WRONG(...) \
  G_STMT_START { \
    fprintf (stderr, "WRONG: " __VA_ARGS__); \
    fprintf (stderr, "\n"); \
    failed = TRUE; \
  } G_STMT_END

/* Thread CPU time by default: the figures then do not count the time the
 * thread waited for a CPU on a busy machine.  --wall for wall-clock time. */
static clockid_t bench_clock = CLOCK_THREAD_CPUTIME_ID;

static guint64
now_ns (void)
{
  struct timespec ts;
  clock_gettime (bench_clock, &ts);
  return (guint64) ts.tv_sec * 1000000000u + (guint64) ts.tv_nsec;
}

static guint64
splitmix (guint64 *s)
{
  guint64 z = (*s += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

typedef struct {
  double v[MAX_RUNS];
  guint n;
} Figure;

static void
figure_add (Figure *f, double v)
{
  if (f->n < MAX_RUNS)
    f->v[f->n++] = v;
}

static void
figure_print (const char *label, Figure *f, const char *unit)
{
  double med;

  if (f->n == 0)
    return;
  qsort (f->v, f->n, sizeof (double), cmp_double);
  med = f->n % 2 ? f->v[f->n / 2] : (f->v[f->n / 2 - 1] + f->v[f->n / 2]) / 2;
  printf ("  %-44s %10.1f %s  (min %.1f, max %.1f, %u runs)\n", label, med,
          unit, f->v[0], f->v[f->n - 1], f->n);
}

static double
figure_median (Figure *f)
{
  if (f->n == 0)
    return 0;
  qsort (f->v, f->n, sizeof (double), cmp_double);
  return f->n % 2 ? f->v[f->n / 2] : (f->v[f->n / 2 - 1] + f->v[f->n / 2]) / 2;
}

/* ---------------------------------------------------------------------- */

static const AsmRange pool_box[4] = {
  { 10, 10 }, { 0, 255 }, { 0, 255 }, { 0, 255 },
};
static const AsmRange host_within[4] = {
  { 10, 10 }, { 0, 255 }, { 0, 255 }, { 1, 254 },
};

static AsmAddrSpace *
new_space (void)
{
  static const guint8 bits[4] = { 8, 8, 8, 8 };
  g_autoptr(GError) error = NULL;
  AsmAddrSpace *s = asm_addr_space_new ("ipv4-10/8", 4, bits, &error);

  if (s == NULL || !asm_addr_space_add_pool (s, pool_box, &error))
    {
      fprintf (stderr, "cannot set up the space: %s\n",
               error ? error->message : "?");
      exit (2);
    }
  return s;
}

static guint64
code_of (const guint64 *t)
{
  return t[1] << 16 | t[2] << 8 | t[3];
}

static void
check_space (AsmAddrSpace *s, const char *where)
{
  g_autoptr(GError) error = NULL;

  if (!asm_addr_space_check (s, &error))
    WRONG ("%s: asm_addr_space_check: %s", where, error->message);
}

/* --smoke: the answer must be the lowest free host address (brute force,
 * from 10.0.0.1 up to the answer) */
static void
smoke_check_lowest (AsmAddrSpace *s, const guint64 *got)
{
  guint64 t[4] = { 10, 0, 0, 0 };
  guint64 end = code_of (got);

  for (guint64 c = 0; c < end; c++)
    {
      t[1] = c >> 16;
      t[2] = (c >> 8) & 255;
      t[3] = c & 255;
      if (t[3] == 0 || t[3] == 255)
        continue;
      if (asm_addr_space_is_free (s, t))
        {
          WRONG ("reserve_any gave 10.%" G_GUINT64_FORMAT ".%" G_GUINT64_FORMAT
                 ".%" G_GUINT64_FORMAT " but 10.%" G_GUINT64_FORMAT
                 ".%" G_GUINT64_FORMAT ".%" G_GUINT64_FORMAT " is free",
                 got[1], got[2], got[3], t[1], t[2], t[3]);
          return;
        }
    }
}

/* K timed reserve_any calls; the answers go to @out (K * 4 values).
 * Returns the time in ns. */
static guint64
timed_reserve_any (AsmAddrSpace *s, guint k, guint64 *out)
{
  guint64 t0, t1;
  guint i;

  t0 = now_ns ();
  for (i = 0; i < k; i++)
    if (!asm_addr_space_reserve_any (s, host_within, out + 4 * i, NULL))
      break;
  t1 = now_ns ();
  if (i < k)
    WRONG ("reserve_any failed after %u calls", i);
  /* the answers: inside within, increasing */
  for (guint j = 0; j < i; j++)
    {
      const guint64 *t = out + 4 * j;
      if (t[0] != 10 || t[1] > 255 || t[2] > 255 || t[3] < 1 || t[3] > 254)
        WRONG ("reserve_any gave a tuple outside within");
      if (j > 0 && code_of (t) <= code_of (out + 4 * (j - 1)))
        WRONG ("reserve_any answers not increasing");
    }
  return t1 - t0;
}

static guint64
timed_release (AsmAddrSpace *s, guint k, const guint64 *tuples)
{
  guint64 t0 = now_ns ();

  for (guint i = 0; i < k; i++)
    if (!asm_addr_space_release (s, tuples + 4 * i, NULL))
      {
        WRONG ("release of a reserve_any answer failed");
        break;
      }
  return now_ns () - t0;
}

/* ---------------------------------------------------------------------- */
/* A: random holes                                                         */
/* ---------------------------------------------------------------------- */

static void
bench_random_holes (guint64 n)
{
  Figure fill = { { 0 }, 0 }, any = { { 0 }, 0 }, rel = { { 0 }, 0 },
         lookup = { { 0 }, 0 };
  g_autofree guint64 *answers = g_new (guint64, 4 * (gsize) opt.k);
  guint64 last_answer[4] = { 0 };

  for (guint run = 0; run < opt.runs; run++)
    {
      g_autoptr(AsmAddrSpace) s = new_space ();
      guint64 rng = opt.seed + run, t0, any_ns = 0, rel_ns = 0;
      guint64 t[4] = { 10, 0, 0, 0 };
      guint64 placed = 0;
      guint64 probes = 0;

      /* fill: N random tuples anywhere in the pool */
      t0 = now_ns ();
      while (placed < n)
        {
          guint64 c = splitmix (&rng) & 0xffffff;
          t[1] = c >> 16;
          t[2] = (c >> 8) & 255;
          t[3] = c & 255;
          if (asm_addr_space_reserve (s, t, NULL))
            placed++;
        }
      figure_add (&fill, (double) (now_ns () - t0) / (double) n);
      if (asm_addr_space_get_n_reserved (s) != n)
        WRONG ("%" G_GUINT64_FORMAT " reserved after placing %" G_GUINT64_FORMAT,
               asm_addr_space_get_n_reserved (s), n);

      for (guint r = 0; r < opt.rounds; r++)
        {
          any_ns += timed_reserve_any (s, opt.k, answers);
          if (opt.smoke)
            {
              /* answers increase and nothing is released during a round,
               * so each was the lowest free one iff every host tuple below
               * the last one is now reserved */
              if (asm_addr_space_get_n_reserved (s) != n + opt.k)
                WRONG ("reserve_any did not add %u tuples", opt.k);
              smoke_check_lowest (s, answers + 4 * (opt.k - 1));
            }
          memcpy (last_answer, answers + 4 * (opt.k - 1), sizeof last_answer);
          rel_ns += timed_release (s, opt.k, answers);
        }
      figure_add (&any, (double) any_ns / ((double) opt.k * opt.rounds));
      figure_add (&rel, (double) rel_ns / ((double) opt.k * opt.rounds));

      /* is_free of random tuples */
      t0 = now_ns ();
      for (probes = 0; probes < 100000 / (opt.smoke ? 100 : 1); probes++)
        {
          guint64 c = splitmix (&rng) & 0xffffff;
          t[1] = c >> 16;
          t[2] = (c >> 8) & 255;
          t[3] = c & 255;
          lookup_sink += asm_addr_space_is_free (s, t);
        }
      figure_add (&lookup, (double) (now_ns () - t0) / (double) probes);
      if (opt.smoke || n <= 1000)
        check_space (s, "random holes");
      if (asm_addr_space_get_n_reserved (s) != n)
        WRONG ("releases did not restore the count");
    }

  printf ("A: %" G_GUINT64_FORMAT " random holes (%.3f%% of the /8), "
          "reserve_any x %u x %u rounds, last answer 10.%" G_GUINT64_FORMAT
          ".%" G_GUINT64_FORMAT ".%" G_GUINT64_FORMAT "\n",
          n, 100.0 * (double) n / 16777216.0, opt.k, opt.rounds,
          last_answer[1], last_answer[2], last_answer[3]);
  figure_print ("fill: reserve (random tuple)", &fill, "ns/op");
  figure_print ("reserve_any(10.*.*.{1..254})", &any, "ns/op");
  figure_print ("release (of those)", &rel, "ns/op");
  figure_print ("is_free (random tuple)", &lookup, "ns/op");
}

/* ---------------------------------------------------------------------- */
/* B, C: the lowest free tuple is far                                      */
/* ---------------------------------------------------------------------- */

static void
bench_far (gboolean leave_edges)
{
  Figure setup = { { 0 }, 0 }, any = { { 0 }, 0 };
  guint64 top = opt.smoke ? 3 : 229;
  guint calls = leave_edges ? opt.far_calls : opt.k;
  g_autofree guint64 *answers = g_new (guint64, 4 * (gsize) calls);
  AsmRange box[4] = { { 10, 10 }, { 0, top }, { 0, 255 }, { 0, 255 } };
  guint64 reserved = 0;

  if (leave_edges)
    box[3] = ASM_RANGE (1, 254);
  for (guint run = 0; run < opt.runs; run++)
    {
      g_autoptr(AsmAddrSpace) s = new_space ();
      g_autoptr(GError) error = NULL;
      guint64 t0 = now_ns ();

      if (!asm_addr_space_reserve_box (s, box, &error))
        {
          WRONG ("reserve_box: %s", error->message);
          return;
        }
      figure_add (&setup, (double) (now_ns () - t0) / 1e6);
      reserved = asm_addr_space_get_n_reserved (s);
      figure_add (&any, (double) timed_reserve_any (s, calls, answers) /
                            (double) calls);
      if (answers[1] != top + 1 || answers[2] != 0 || answers[3] != 1)
        WRONG ("far: first answer is 10.%" G_GUINT64_FORMAT ".%"
               G_GUINT64_FORMAT ".%" G_GUINT64_FORMAT ", expected 10.%"
               G_GUINT64_FORMAT ".0.1", answers[1], answers[2], answers[3],
               top + 1);
      if (opt.smoke)
        {
          check_space (s, "far");
          for (guint i = 0; i < calls; i++)
            if (!asm_addr_space_release (s, answers + 4 * i, NULL))
              WRONG ("release failed");
          smoke_check_lowest (s, answers);
        }
    }
  if (leave_edges)
    printf ("C: 10.{0..%" G_GUINT64_FORMAT "}.*.{1..254} reserved "
            "(%" G_GUINT64_FORMAT " tuples, %.1f%% of the /8); each call skips "
            "%" G_GUINT64_FORMAT " free .255/.0 runs outside within\n",
            top, reserved, 100.0 * (double) reserved / 16777216.0,
            (top + 1) * 256);
  else
    printf ("B: 10.{0..%" G_GUINT64_FORMAT "}.*.* reserved as one box "
            "(%" G_GUINT64_FORMAT " tuples, %.1f%% of the /8)\n",
            top, reserved, 100.0 * (double) reserved / 16777216.0);
  figure_print ("reserve_box of the prefix", &setup, "ms");
  figure_print (leave_edges ? "reserve_any (far, many runs to skip)"
                            : "reserve_any (far, prefix one reservation)",
                &any, "ns/op");
  if (leave_edges)
    {
      double per_run = figure_median (&any) / (double) ((top + 1) * 256);
      printf ("  %-44s %10.1f ns\n", "  = per free run skipped", per_run);
    }
}

static guint64
arg_u64 (int *i, int argc, char **argv)
{
  if (*i + 1 >= argc)
    {
      fprintf (stderr, "%s needs a value\n", argv[*i]);
      exit (2);
    }
  return g_ascii_strtoull (argv[++*i], NULL, 0);
}

/* MAX() would evaluate (and consume) the argument twice */
static guint64
arg_at_least_1 (int *i, int argc, char **argv)
{
  guint64 v = arg_u64 (i, argc, argv);
  return MAX (v, 1);
}

int
main (int argc, char **argv)
{
  static const guint64 sizes[] = { 1000, 10000, 100000, 1000000 };

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--smoke") == 0)
        opt.smoke = TRUE;
      else if (strcmp (argv[i], "--wall") == 0)
        bench_clock = CLOCK_MONOTONIC;
      else if (strcmp (argv[i], "--runs") == 0)
        opt.runs = (guint) CLAMP (arg_u64 (&i, argc, argv), 1, MAX_RUNS);
      else if (strcmp (argv[i], "--k") == 0)
        opt.k = (guint) arg_at_least_1 (&i, argc, argv);
      else if (strcmp (argv[i], "--rounds") == 0)
        opt.rounds = (guint) arg_at_least_1 (&i, argc, argv);
      else if (strcmp (argv[i], "--max-n") == 0)
        opt.max_n = arg_u64 (&i, argc, argv);
      else if (strcmp (argv[i], "--far-calls") == 0)
        opt.far_calls = (guint) arg_at_least_1 (&i, argc, argv);
      else if (strcmp (argv[i], "--seed") == 0)
        opt.seed = arg_u64 (&i, argc, argv);
      else
        {
          fprintf (stderr, "usage: %s [--smoke] [--wall] [--runs N] [--k K] "
                   "[--rounds R] [--max-n N] [--far-calls C] [--seed S]\n",
                   argv[0]);
          return 2;
        }
    }
  if (opt.smoke)
    {
      opt.runs = 1;
      opt.k = 50;
      opt.rounds = 2;
      opt.far_calls = 3;
      opt.max_n = 1000;
    }
#ifndef __OPTIMIZE__
  printf ("warning: not an optimised build; figures are not representative\n");
#endif
  printf ("AsmAddrSpace: dims {8,8,8,8}, pool 10.0.0.0/8, within "
          "10.{0..255}.{0..255}.{1..254}; median (min, max) of %u runs, %s\n",
          opt.runs, bench_clock == CLOCK_MONOTONIC ? "wall-clock time"
                                                   : "thread CPU time");
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    if (sizes[i] <= opt.max_n)
      bench_random_holes (opt.smoke ? sizes[i] / 10 : sizes[i]);
  bench_far (FALSE);
  bench_far (TRUE);
  if (failed)
    {
      fprintf (stderr, "bench-addr: WRONG ANSWERS (see above)\n");
      return 1;
    }
  return 0;
}
