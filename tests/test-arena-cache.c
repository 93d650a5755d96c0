/* test-arena-cache.c: the arena's magazines, exact and shared by threads
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * asm_arena_enable_cache() puts per-thread magazines of freed ranges in
 * front of the tree (src/asm-arena-cache.c).  Speed is its point; the
 * product is that nothing else changes: a cached range is free to every
 * caller.  This file checks that in three ways.
 *
 * Unit tests, one per rule: the argument checks of enable_cache (and that a
 * refused call changes nothing); a freed range comes back from the
 * magazine, also after its table entry has moved, and thousands of them
 * through the depot and back; a double free, a move or a lookup of a
 * cached range sees it free; exact fits, reserve and walk see cached
 * ranges as free; a request that only the cached ranges can satisfy
 * succeeds; [min, max] and the alignment are honoured by what the
 * magazine hands out; the cap holds; stats count cached ranges as free; a
 * clone is independent; asm_arena_walk may call into the arena from its
 * callback.
 *
 * A property test against the uncached arena: random operations (INSTANT
 * allocations of cacheable and other shapes, exact fits, frees, double
 * frees, frees of random addresses, reservations, lookups) on a cached
 * arena, each mirrored on an uncached arena.  Before each allocation the
 * mirror says whether any address satisfies the request (find_free); the
 * cached arena must agree, and its answer must satisfy the request and be
 * free in the mirror, where it is then taken at exactly that address (an
 * exact fit's answer must be the mirror's own).  Frees and reservations
 * must succeed or fail as on the mirror.  asm_arena_check() after every
 * step verifies the cache's accounting; stats must equal the mirror's.
 * The mirror and its operations live in the test-support library
 * (tests/arena-cache-mirror.c), which the fuzz target
 * tests/fuzz/fuzz-arena-cache.c drives from its input bytes; here they are
 * driven from seeds, and each run must have had hits and flushes.
 *
 * A threaded test: several threads churn one cached arena at once, each in
 * its own window ([min, max] of every request), so that each thread's own
 * list of live allocations is an exact model of its window: a refusal is
 * checked exact against it, while ranges of the window travel through the
 * depot into other threads' magazines and flushes happen under the others'
 * feet.  Every unit handed out is claimed in a shared array of atomic
 * owners, so an overlap between threads is caught when it happens.  After
 * the join, asm_arena_check() and the stats must agree with the union of
 * the live lists.  Then each thread frees another thread's allocations,
 * all at once, and frees each a second time, which must be refused.  Only
 * pthread create/join and atomics order the test's
 * own data, so a ThreadSanitizer build (CI's build-tsan) checks the locks.
 *
 * Environment: ASM_PROP_SEED=N, ASM_PROP_OPS=N, ASM_PROP_SEEDS=N;
 * ASM_PROP_TRACE=1 prints each seed's hits, misses and flushes, and
 * ASM_PROP_TRACE=ops also every operation of the property test.
 */
#include "arena-cache-mirror.h"

#include <pthread.h>

#define Q 0x1000 /* the quantum: 4 KiB pages */

static AsmArena *
cached_arena (guint64 first, guint64 last, guint64 max_size)
{
  AsmArena *a = asm_arena_new ("cached", Q);

  OK (asm_arena_add_span (a, first, last, &error));
  OK (asm_arena_enable_cache (a, max_size, &error));
  return a;
}

static guint64
instant (AsmArena *a, guint64 size)
{
  AsmRequest r = ASM_REQUEST_INIT (size);
  guint64 addr = G_MAXUINT64;

  r.fit = ASM_FIT_INSTANT;
  r.align = size; /* power-of-two sizes in the unit tests */
  OK (asm_arena_alloc_full (a, &r, &addr, &error));
  return addr;
}

static void
assert_checked (AsmArena *a)
{
  OK (asm_arena_check (a, &error));
}

static AsmArenaCacheStats
cache_stats (AsmArena *a)
{
  AsmArenaCacheStats cs;

  assert_true (asm_arena_get_cache_stats (a, &cs));
  return cs;
}

/* ------------------------------------------------------------------ */
/* unit tests                                                           */

static void
test_enable_refused (void **state)
{
  g_autoptr(AsmArena) a = asm_arena_new ("a", Q);
  AsmArenaCacheStats cs;

  (void) state;
  OK (asm_arena_add_span (a, 0, 0xfffff, &error));
  FAILS (asm_arena_enable_cache (a, 0, &error), INVALID, "max_size 0x0");
  FAILS (asm_arena_enable_cache (a, Q + 1, &error), INVALID,
         "max_size 0x1001 is not the quantum 0x1000 times 1 to 256");
  FAILS (asm_arena_enable_cache (a, 257 * (guint64) Q, &error), INVALID,
         "max_size 0x101000");
  FAILS (asm_arena_enable_cache (a, G_MAXUINT64 - Q + 1, &error), INVALID,
         "max_size 0xfffffffffffff000");
  /* nothing changed: still no cache */
  assert_false (asm_arena_get_cache_stats (a, &cs));
  assert_int_equal (cs.capacity, 0);
  OK (asm_arena_enable_cache (a, 256 * (guint64) Q, &error));
  FAILS (asm_arena_enable_cache (a, Q, &error), INVALID,
         "already has a cache");
  cs = cache_stats (a);
  assert_int_equal (cs.max_size, 256 * (guint64) Q);
  assert_true (cs.capacity > 0);
  assert_checked (a);
}

static void
test_freed_range_comes_back (void **state)
{
  g_autoptr(AsmArena) a = cached_arena (0, 0xffffff, 8 * Q);
  guint64 x, y, z;
  AsmArenaCacheStats cs;
  AsmArenaStats st;

  (void) state;
  x = instant (a, Q);
  y = instant (a, Q);
  assert_true (x != y);
  OK (asm_arena_free (a, x, &error));
  cs = cache_stats (a);
  assert_int_equal (cs.cached_ranges, 1);
  assert_int_equal (cs.cached_units, Q);
  asm_arena_get_stats (a, &st);
  assert_int_equal (st.n_allocated, 1);
  assert_int_equal (st.allocated_units, Q);
  assert_int_equal (st.free_units, 0x1000000 - Q);
  assert_checked (a);
  z = instant (a, Q);
  assert_int_equal (z, x); /* from the magazine */
  cs = cache_stats (a);
  assert_int_equal (cs.hits, 1);
  assert_int_equal (cs.cached_ranges, 0);
  assert_checked (a);
}

/* An allocation takes its range's table entry at the index the free left
 * beside it in the magazine; when the table has grown since (and moved
 * every entry), the magazine must have been given the new indexes, and
 * the same ranges come back. */
static void
test_moved_entries_still_found (void **state)
{
  g_autoptr(AsmArena) a = cached_arena (0, 0xfffffff, 8 * Q);
  guint64 ones[40], twos[200], back[40];
  AsmArenaCacheStats cs;

  (void) state;
  for (guint i = 0; i < G_N_ELEMENTS (ones); i++)
    ones[i] = instant (a, Q);
  for (guint i = 0; i < G_N_ELEMENTS (ones); i++)
    OK (asm_arena_free (a, ones[i], &error));
  /* 200 more entries: the table doubles at least twice, so every entry,
   * the 40 cached ones included, moves */
  for (guint i = 0; i < G_N_ELEMENTS (twos); i++)
    twos[i] = instant (a, 2 * Q);
  assert_checked (a);
  for (guint i = 0; i < G_N_ELEMENTS (back); i++)
    back[i] = instant (a, Q);
  cs = cache_stats (a);
  assert_int_equal (cs.hits, G_N_ELEMENTS (back));
  assert_int_equal (cs.cached_ranges, 0);
  /* the newest first: exactly the freed ranges, in reverse */
  for (guint i = 0; i < G_N_ELEMENTS (back); i++)
    assert_int_equal (back[i], ones[G_N_ELEMENTS (ones) - 1 - i]);
  assert_checked (a);
  for (guint i = 0; i < G_N_ELEMENTS (back); i++)
    {
      OK (asm_arena_free (a, back[i], &error));
      FAILS (asm_arena_free (a, back[i], &error), NOT_FOUND,
             "freed already");
    }
  for (guint i = 0; i < G_N_ELEMENTS (twos); i++)
    OK (asm_arena_free (a, twos[i], &error));
  assert_checked (a);
}

static gint
compare_u64 (gconstpointer x, gconstpointer y)
{
  guint64 a = *(const guint64 *) x, b = *(const guint64 *) y;

  return a < b ? -1 : a > b;
}

/* Thousands of ranges of one class through the magazines and the depot
 * and back: every table grows, fills with tombstones and shrinks while
 * magazines hold ranges, and check() verifies after each phase that every
 * index a magazine keeps is exact.  What comes back is what was freed. */
static void
test_tables_through_the_depot (void **state)
{
  enum {
    N = 3000
  };
  g_autoptr (AsmArena) a = cached_arena (0, G_MAXUINT32, 4 * Q);
  g_autofree guint64 *p = g_new (guint64, N), *back = g_new (guint64, N);
  AsmRequest lowest = ASM_REQUEST_INIT (Q);
  AsmArenaCacheStats cs = cache_stats (a);
  guint64 addr, hits, n_back = 2 * N / 3;

  (void) state;
  assert_true (N <= cs.capacity); /* the depot keeps them all */
  for (guint i = 0; i < N; i++)
    p[i] = instant (a, Q);
  assert_checked (a);
  for (guint i = 0; i < N; i++)
    OK (asm_arena_free (a, p[i], &error));
  cs = cache_stats (a);
  assert_int_equal (cs.cached_ranges, N);
  assert_checked (a);
  /* two thirds back: magazines come out of the depot, whose table then
   * shrinks while it still holds the rest */
  hits = cs.hits;
  for (guint i = 0; i < n_back; i++)
    {
      back[i] = instant (a, Q);
      if (i % 500 == 0)
        assert_checked (a);
    }
  cs = cache_stats (a);
  assert_int_equal (cs.hits - hits, n_back);
  assert_int_equal (cs.cached_ranges, N - n_back);
  assert_checked (a);
  /* the rest, then nothing cached is left to hand out */
  for (guint64 i = n_back; i < N; i++)
    back[i] = instant (a, Q);
  cs = cache_stats (a);
  assert_int_equal (cs.hits - hits, N);
  assert_int_equal (cs.cached_ranges, 0);
  qsort (p, N, sizeof *p, compare_u64);
  qsort (back, N, sizeof *back, compare_u64);
  assert_memory_equal (p, back, N * sizeof *p);
  assert_checked (a);
  /* all freed again, then an exact fit flushes every table */
  for (guint i = 0; i < N; i++)
    OK (asm_arena_free (a, back[i], &error));
  FAILS (asm_arena_free (a, back[N / 2], &error), NOT_FOUND, "freed already");
  OK (asm_arena_alloc_full (a, &lowest, &addr, &error));
  assert_int_equal (addr, 0);
  cs = cache_stats (a);
  assert_int_equal (cs.cached_ranges, 0);
  assert_checked (a);
}

static void
test_double_free_and_lookup (void **state)
{
  g_autoptr(AsmArena) a = cached_arena (0, 0xffffff, 8 * Q);
  guint64 x = instant (a, 2 * Q);
  AsmRange r;
  AsmSegmentKind kind;
  AsmRequest req = ASM_REQUEST_INIT (Q);

  (void) state;
  assert_true (asm_arena_lookup (a, x + Q, &r));
  assert_int_equal (r.first, x);
  OK (asm_arena_free (a, x, &error));
  assert_false (asm_arena_lookup (a, x, NULL));
  assert_false (asm_arena_lookup (a, x + Q, NULL));
  FAILS (asm_arena_free (a, x, &error), NOT_FOUND, "starts at 0x0");
  FAILS (asm_arena_free (a, x + Q, &error), NOT_FOUND, "starts at 0x1000");
  FAILS (asm_arena_move (a, x, &req, NULL, &error), NOT_FOUND,
         "starts at 0x0");
  assert_true (asm_arena_lookup_full (a, x, &r, &kind));
  assert_int_equal (kind, ASM_SEGMENT_FREE);
  assert_int_equal (r.first, 0);
  assert_int_equal (r.last, 0xffffff);
  assert_checked (a);
}

static void
test_only_cached_space_satisfies (void **state)
{
  /* four pages, all freed into the cache one by one: a 4-page request
   * needs all of them back in the tree */
  g_autoptr(AsmArena) a = cached_arena (0, 4 * Q - 1, 4 * Q);
  guint64 p[4], addr;
  AsmRequest big = ASM_REQUEST_INIT (4 * Q);

  (void) state;
  for (guint i = 0; i < 4; i++)
    p[i] = instant (a, Q);
  for (guint i = 0; i < 4; i++)
    OK (asm_arena_free (a, p[i], &error));
  assert_int_equal (cache_stats (a).cached_ranges, 4);
  big.fit = ASM_FIT_INSTANT;
  OK (asm_arena_alloc_full (a, &big, &addr, &error));
  assert_int_equal (addr, 0);
  assert_int_equal (cache_stats (a).cached_ranges, 0);
  assert_true (cache_stats (a).flushes >= 1);
  /* and a refusal is a real one, with the usual message */
  FAILS (asm_arena_alloc_full (a, &big, &addr, &error), NO_SPACE,
         "no free range of 0x4000 units");
  assert_checked (a);
}

static void
test_exact_fits_see_cached_ranges (void **state)
{
  g_autoptr(AsmArena) a = cached_arena (0, 0xffffff, 8 * Q);
  guint64 p[4], addr;
  AsmRequest low = ASM_REQUEST_INIT (Q);
  AsmRequest high = ASM_REQUEST_INIT (Q);

  (void) state;
  for (guint i = 0; i < 4; i++)
    p[i] = instant (a, Q);
  OK (asm_arena_free (a, p[0], &error));
  OK (asm_arena_alloc_full (a, &low, &addr, &error));
  assert_int_equal (addr, p[0]); /* LOWEST: the lowest free page */
  high.fit = ASM_FIT_HIGHEST;
  OK (asm_arena_alloc_full (a, &high, &addr, &error));
  assert_int_equal (addr, 0xfff000);
  OK (asm_arena_free (a, addr, &error)); /* tree allocation: to the tree */
  OK (asm_arena_free (a, p[1], &error)); /* cached */
  OK (asm_arena_reserve (a, p[1], p[1] + Q - 1, &error));
  assert_true (asm_arena_lookup (a, p[1], NULL));
  assert_checked (a);
}

static void
test_window_and_alignment_honoured (void **state)
{
  g_autoptr(AsmArena) a = cached_arena (0, 0xffffffff, 16 * Q);
  AsmRequest r = ASM_REQUEST_INIT (Q);
  guint64 high, low, addr;

  (void) state;
  /* one page high, one low, both freed into the magazine */
  r.fit = ASM_FIT_INSTANT;
  r.min = 0x80000000;
  OK (asm_arena_alloc_full (a, &r, &high, &error));
  r.min = 0;
  r.max = 0x7fffffff;
  OK (asm_arena_alloc_full (a, &r, &low, &error));
  OK (asm_arena_free (a, low, &error));
  OK (asm_arena_free (a, high, &error)); /* the top of the magazine */
  /* a request limited below 2 GiB must not get the high page */
  OK (asm_arena_alloc_full (a, &r, &addr, &error));
  assert_int_equal (addr, low);
  /* 3 pages with 4-page alignment: a cached 3-page range is aligned so */
  r = ASM_REQUEST_INIT (3 * Q);
  r.fit = ASM_FIT_INSTANT;
  r.align = 4 * Q;
  OK (asm_arena_alloc_full (a, &r, &addr, &error));
  assert_int_equal (addr % (4 * Q), 0);
  OK (asm_arena_free (a, addr, &error));
  assert_int_equal (cache_stats (a).cached_ranges, 2); /* and the high page */
  OK (asm_arena_alloc_full (a, &r, &addr, &error));
  assert_int_equal (addr % (4 * Q), 0);
  /* a phase, a nocross or a larger alignment bypass the magazines */
  OK (asm_arena_free (a, addr, &error));
  r.align = 8 * Q;
  OK (asm_arena_alloc_full (a, &r, &addr, &error));
  assert_int_equal (addr % (8 * Q), 0);
  assert_checked (a);
}

/* a cached range ending one unit past max is refused, one ending at max
 * handed out, through either entry point */
static void
test_window_edge (void **state)
{
  (void) state;
  for (guint by_instant = 0; by_instant < 2; by_instant++)
    {
      g_autoptr (AsmArena) a = cached_arena (0, 0xffffff, 8 * Q);
      AsmRequest r = ASM_REQUEST_INIT (2 * Q);
      guint64 addr;

      r.fit = ASM_FIT_INSTANT;
      r.align = 2 * Q;
      for (guint i = 0; i < 4; i++)
        assert_int_equal (instant (a, 2 * Q), i * 2 * Q);
      OK (asm_arena_free (a, 6 * Q, &error)); /* the magazine's top */
      r.max = 8 * Q - 2;
      FAILS (arena_alloc_either (a, &r, &addr, &error, by_instant), NO_SPACE,
             "no free range of 0x2000 units");
      r.max = 8 * Q - 1;
      OK (arena_alloc_either (a, &r, &addr, &error, by_instant));
      assert_int_equal (addr, 6 * Q);
      assert_checked (a);
    }
}

/* A miss whose class has an empty magazine takes a run of ranges from the
 * tree at once (one search, one carve); the others are cached, free to
 * every caller: the next allocations of the class are hits, an exact fit
 * sees them (and the gaps a run of 3-page ranges leaves) as free. */
static void
test_miss_takes_a_run (void **state)
{
  (void) state;
  for (guint64 pages = 1; pages <= 3; pages += 2)
    {
      g_autoptr (AsmArena) a = cached_arena (0, 0xffffff, 8 * Q);
      guint64 size = pages * Q, stride = pages == 3 ? 4 * Q : Q;
      AsmRequest r = ASM_REQUEST_INIT (size), low = ASM_REQUEST_INIT (Q);
      AsmArenaCacheStats cs;
      AsmArenaStats st;
      guint64 first, second, addr, hits;

      r.fit = ASM_FIT_INSTANT;
      r.align = stride;
      OK (asm_arena_alloc_full (a, &r, &first, &error)); /* no magazine yet */
      OK (asm_arena_free (a, first, &error));            /* now one */
      OK (asm_arena_alloc_full (a, &r, &addr, &error));  /* a hit */
      assert_int_equal (addr, first);
      assert_int_equal (cache_stats (a).cached_ranges, 0);
      OK (asm_arena_alloc_full (a, &r, &second, &error)); /* the run */
      assert_int_equal (second, first + stride);
      cs = cache_stats (a);
      assert_true (cs.cached_ranges >= 1);
      assert_checked (a);
      asm_arena_get_stats (a, &st);
      assert_int_equal (st.n_allocated, 2);
      assert_int_equal (st.free_units, 0x1000000 - 2 * size);
      /* the run's others come back, one hit each, lowest first */
      hits = cs.hits;
      for (guint64 k = 0; k < cs.cached_ranges; k++)
        {
          OK (asm_arena_alloc_full (a, &r, &addr, &error));
          assert_int_equal (addr, second + (cs.cached_ranges - k) * stride);
          assert_int_equal (cache_stats (a).hits, hits + k + 1);
        }
      assert_checked (a);
      /* freed again, an exact fit sees them as free: the lowest page
       * free is the gap after the first range, or the first range freed */
      for (guint64 k = 1; k <= cs.cached_ranges; k++)
        OK (asm_arena_free (a, second + k * stride, &error));
      OK (asm_arena_alloc_full (a, &low, &addr, &error));
      assert_int_equal (addr, pages == 3 ? first + size : second + stride);
      assert_checked (a);
    }
}

/* A run that would pass the cache's unit limit: the ranges beyond it are
 * given back to the tree, not cached. */
static void
test_run_at_the_unit_limit (void **state)
{
  guint64 limit = (G_GUINT64_CONSTANT (1) << 55) - 1; /* units below it */
  g_autoptr (AsmArena) a = asm_arena_new ("edge", 1);
  AsmRequest r = ASM_REQUEST_INIT (1);
  AsmArenaStats st;
  guint64 x, y;

  (void) state;
  OK (asm_arena_add_span (a, limit - 4, limit + 20, &error));
  OK (asm_arena_enable_cache (a, 2, &error));
  r.fit = ASM_FIT_INSTANT;
  OK (asm_arena_alloc_full (a, &r, &x, &error));
  assert_int_equal (x, limit - 4);
  OK (asm_arena_free (a, x, &error));
  OK (asm_arena_alloc_full (a, &r, &x, &error));
  OK (asm_arena_alloc_full (a, &r, &y, &error));
  assert_int_equal (y, limit - 3);
  assert_int_equal (cache_stats (a).cached_ranges, 2); /* limit - 2, - 1 */
  assert_checked (a);
  asm_arena_get_stats (a, &st);
  assert_int_equal (st.n_allocated, 2);
  assert_int_equal (st.free_units, 25 - 2);
  OK (asm_arena_free (a, y, &error));
  OK (asm_arena_free (a, x, &error));
  assert_checked (a);
}

/* sizes far above the cache's, up to the largest multiple of the
 * quantum: refused or served by the tree, whole, with nothing changed on
 * a refusal (the cache's miss path computes no run for them) */
static void
test_huge_sizes_go_to_the_tree (void **state)
{
  g_autoptr (AsmArena) a =
      cached_arena (0, (G_GUINT64_CONSTANT (1) << 63) - 1, 8 * Q);
  static const guint64 sizes[] = {
    (G_GUINT64_CONSTANT (1) << 63) + Q,
    G_MAXUINT64 - (Q - 1),
    G_GUINT64_CONSTANT (1) << 62,
  };
  AsmArenaStats before, after;
  guint64 addr;

  (void) state;
  assert_int_equal (instant (a, Q), 0);
  asm_arena_get_stats (a, &before);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      AsmRequest r = ASM_REQUEST_INIT (sizes[i]);

      r.fit = ASM_FIT_INSTANT;
      if (i < 2)
        {
          FAILS (arena_alloc_either (a, &r, &addr, &error, i == 0), NO_SPACE,
                 "no free range");
          asm_arena_get_stats (a, &after);
          assert_int_equal (after.free_units, before.free_units);
          assert_int_equal (after.n_allocated, before.n_allocated);
        }
      else
        {
          OK (arena_alloc_either (a, &r, &addr, &error, TRUE));
          assert_int_equal (addr, Q); /* the lowest: INSTANT's miss path */
          OK (asm_arena_free (a, addr, &error));
        }
      assert_checked (a);
    }
}

static void
test_invalid_requests_unchanged (void **state)
{
  g_autoptr(AsmArena) a = cached_arena (0, 0xffffff, 8 * Q);
  guint64 x = instant (a, Q);
  AsmRequest r = ASM_REQUEST_INIT (0);
  AsmArenaCacheStats before, after;

  (void) state;
  OK (asm_arena_free (a, x, &error));
  before = cache_stats (a);
  r.fit = ASM_FIT_INSTANT;
  FAILS (asm_arena_alloc_full (a, &r, NULL, &error), INVALID, "size 0");
  r.size = Q;
  r.align = 3 * Q;
  FAILS (asm_arena_alloc_full (a, &r, NULL, &error), INVALID,
         "align 0x3000 is not a power of two");
  r.align = 0;
  r.min = 2, r.max = 1;
  FAILS (asm_arena_alloc_full (a, &r, NULL, &error), INVALID,
         "min 0x2 is above max 0x1");
  r = ASM_REQUEST_INIT (Q);
  r.fit = (AsmFit) 5;
  FAILS (asm_arena_alloc_full (a, &r, NULL, &error), INVALID,
         "fit 0x5 is not an AsmFit value");
  FAILS (asm_arena_free (a, 0x123, &error), NOT_FOUND, "starts at 0x123");
  /* the invalid requests found the tree unchanged, the cache may have
   * been given back to it, nothing else */
  after = cache_stats (a);
  assert_int_equal (before.cached_ranges + before.flushes,
                    after.cached_ranges + after.flushes);
  assert_checked (a);
}

/* asm_arena_alloc_instant() is asm_arena_alloc_full() of its request:
 * the same requests, good and bad, on two arenas built alike, one through
 * each, give the same addresses, the same errors and the same arenas,
 * with and without a cache */
static void
test_instant_entry_is_alloc_full (void **state)
{
  static const struct {
    guint64 size, align, max;
  } reqs[] = {
    { Q, 0, G_MAXUINT64 },
    { 2 * Q, 2 * Q, G_MAXUINT64 },
    { 3 * Q, 4 * Q, 0x7fffff },
    { 8 * Q, 8 * Q, G_MAXUINT64 },
    { 16 * Q, 16 * Q, 0xffffff }, /* above the cache's sizes */
    { 0, 0, G_MAXUINT64 },        /* size 0 */
    { Q + 1, 0, G_MAXUINT64 },    /* not a multiple of the quantum */
    { Q, 3 * Q, G_MAXUINT64 },    /* align not a power of two */
    { Q, Q / 2, G_MAXUINT64 },    /* align below the quantum */
    { 2 * Q, 0, Q },              /* max below the size */
    { 4 * Q, 4 * Q, 0x3fff },     /* max inside the first range */
    { Q, 0, 0 },                  /* max 0 */
    { Q, 0, 0x4ffe },             /* max one short of a range's end */
    { 2 * Q, 2 * Q, 0x5ffe },
  };

  (void) state;
  for (guint cached = 0; cached < 2; cached++)
    {
      g_autoptr (AsmArena) one = asm_arena_new ("twin", Q);
      g_autoptr (AsmArena) two = asm_arena_new ("twin", Q);
      g_autoptr (GArray) live = g_array_new (FALSE, FALSE, sizeof (guint64));

      OK (asm_arena_add_span (one, 0, 0x7ffff, &error));
      OK (asm_arena_add_span (two, 0, 0x7ffff, &error));
      if (cached)
        {
          OK (asm_arena_enable_cache (one, 8 * Q, &error));
          OK (asm_arena_enable_cache (two, 8 * Q, &error));
        }
      /* rounds: the first fills from the tree, the frees between them
       * fill the magazines, the last rounds find the space full */
      for (guint round = 0; round < 40; round++)
        {
          for (guint i = 0; i < G_N_ELEMENTS (reqs); i++)
            {
              AsmRequest r = ASM_REQUEST_INIT (reqs[i].size);
              guint64 x = 1, y = 2;
              GError *ex = NULL, *ey = NULL;
              gboolean okx, oky;

              r.align = reqs[i].align;
              r.max = reqs[i].max;
              r.fit = ASM_FIT_INSTANT;
              okx = asm_arena_alloc_instant (one, r.size, r.align, r.max, &x,
                                             &ex);
              oky = (asm_arena_alloc_full) (two, &r, &y, &ey);
              assert_int_equal (okx, oky);
              if (okx)
                {
                  assert_int_equal (x, y);
                  g_array_append_val (live, x);
                  continue;
                }
              assert_int_equal (x, 1); /* nothing stored on failure */
              assert_non_null (ex);
              assert_non_null (ey);
              assert_int_equal (ex->code, ey->code);
              assert_string_equal (ex->message, ey->message);
              g_error_free (ex);
              g_error_free (ey);
            }
          /* free every third live allocation on both */
          for (guint j = round % 3; j < live->len; j += 3)
            {
              guint64 addr = g_array_index (live, guint64, j);

              OK (asm_arena_free (one, addr, &error));
              OK (asm_arena_free (two, addr, &error));
              g_array_remove_index_fast (live, j);
            }
          OK (asm_arena_check (one, &error));
          OK (asm_arena_check (two, &error));
          {
            AsmArenaStats sx, sy;

            asm_arena_get_stats (one, &sx);
            asm_arena_get_stats (two, &sy);
            assert_int_equal (sx.free_units, sy.free_units);
            assert_int_equal (sx.n_allocated, sy.n_allocated);
          }
        }
      /* out_addr may be NULL, as for asm_arena_alloc_full() */
      OK (asm_arena_alloc_instant (one, Q, 0, G_MAXUINT64, NULL, &error) ||
          error->code == ASM_ERROR_NO_SPACE);
    }
}

static int macro_arena_calls, macro_req_calls, macro_out_calls;

static AsmArena *
count_arena (AsmArena *a)
{
  macro_arena_calls++;
  return a;
}

static const AsmRequest *
count_req (const AsmRequest *r)
{
  macro_req_calls++;
  return r;
}

static guint64 *
count_out (guint64 *out)
{
  macro_out_calls++;
  return out;
}

static void
count_critical (const char *domain, GLogLevelFlags level, const char *message,
                gpointer user_data)
{
  (void) domain, (void) level, (void) message;
  (*(guint *) user_data)++;
}

/* the header's asm_arena_alloc_full() macro: each argument evaluated
 * once, whichever function it calls, and a constant INSTANT request, a
 * constant LOWEST one and one it cannot see give what the function gives */
static void
test_alloc_full_macro (void **state)
{
  g_autoptr (AsmArena) a = cached_arena (0, 0xffffff, 8 * Q);
  AsmRequest inst = ASM_REQUEST_INIT (2 * Q), low = ASM_REQUEST_INIT (Q);
  const AsmRequest *unseen;
  guint64 addr = 1, freed;
  guint handler, criticals = 0;

  (void) state;
  inst.fit = ASM_FIT_INSTANT;
  inst.align = 2 * Q;
  OK (asm_arena_alloc_full (count_arena (a), count_req (&inst),
                            count_out (&addr), &error));
  assert_int_equal (addr, 0);
  OK (asm_arena_alloc_full (count_arena (a), count_req (&low),
                            count_out (&addr), &error));
  assert_int_equal (addr, 2 * Q);
  assert_int_equal (macro_arena_calls, 2);
  assert_int_equal (macro_req_calls, 2);
  assert_int_equal (macro_out_calls, 2);
  /* a cached range comes back through the routed call */
  OK (asm_arena_free (a, 0, &error));
  freed = 0;
  addr = 1;
  OK (asm_arena_alloc_full (a, &inst, &addr, &error));
  assert_int_equal (addr, freed);
  /* a request the compiler cannot see, and a NULL one */
  unseen = g_getenv ("ASM_NEVER_SET_THIS") != NULL ? &low : &inst;
  OK (asm_arena_alloc_full (a, unseen, &addr, &error));
  assert_int_equal (addr % (2 * Q), 0);
  handler = g_log_set_handler ("asm", G_LOG_LEVEL_CRITICAL, count_critical,
                               &criticals);
  assert_false (asm_arena_alloc_full (a, NULL, &addr, NULL));
  assert_false (asm_arena_alloc_instant (NULL, Q, 0, G_MAXUINT64, &addr, NULL));
  g_log_remove_handler ("asm", handler);
  assert_int_equal (criticals, 2);
  assert_checked (a);
}

static void
test_cap (void **state)
{
  g_autoptr(AsmArena) a = cached_arena (0, G_MAXUINT32, Q);
  AsmArenaCacheStats cs = cache_stats (a);
  guint64 n = cs.capacity + 500, *p = g_new (guint64, n);
  AsmArenaStats st;

  (void) state;
  for (guint64 i = 0; i < n; i++)
    p[i] = instant (a, Q);
  for (guint64 i = 0; i < n; i++)
    OK (asm_arena_free (a, p[i], &error));
  cs = cache_stats (a);
  assert_true (cs.cached_ranges <= cs.capacity);
  assert_true (cs.cached_ranges > 0);
  asm_arena_get_stats (a, &st);
  assert_int_equal (st.n_allocated, 0);
  assert_int_equal (st.allocated_units, 0);
  assert_int_equal (st.free_units, (guint64) G_MAXUINT32 + 1);
  assert_checked (a);
  g_free (p);
}

static gboolean
walk_and_call (const AsmRange *seg, AsmSegmentKind kind, gpointer data)
{
  AsmArena *a = data;

  /* the callback may call into the arena (the walk has a snapshot) */
  return kind != ASM_SEGMENT_ALLOCATED || asm_arena_lookup (a, seg->first,
                                                           NULL);
}

static gboolean
count_allocated (const AsmRange *seg, AsmSegmentKind kind, gpointer data)
{
  (void) seg;
  if (kind == ASM_SEGMENT_ALLOCATED)
    (*(guint *) data)++;
  return TRUE;
}

static void
test_clone_and_walk (void **state)
{
  g_autoptr(AsmArena) a = cached_arena (0, 0xffffff, 8 * Q);
  g_autoptr(AsmArena) c = NULL;
  guint64 x = instant (a, Q), y = instant (a, Q);
  AsmArenaCacheStats cs;
  guint n = 0;

  (void) state;
  OK (asm_arena_free (a, x, &error));
  assert_true (asm_arena_walk (a, walk_and_call, a));
  assert_true (asm_arena_walk (a, count_allocated, &n));
  assert_int_equal (n, 1); /* the walk sees the cached page as free */
  OK (asm_arena_free (a, y, &error));
  c = asm_arena_clone (a, "clone");
  assert_false (asm_arena_get_cache_stats (c, &cs));
  assert_false (asm_arena_lookup (c, y, NULL));
  x = instant (c, Q);
  OK (asm_arena_free (c, x, &error));
  FAILS (asm_arena_free (c, x, &error), NOT_FOUND, "starts at");
  assert_checked (a);
  assert_checked (c);
}

/* ------------------------------------------------------------------ */
/* the property test against the uncached arena                         */

/* the property test's space: 256 pages, small enough that refusals
 * happen, and a cache of up to 16 pages */
static const CacheMirrorConfig prop_config = { Q, 0, 256, 16 * Q };

static void
prop_run (guint64 seed, guint64 ops)
{
  g_autoptr (CacheMirror) m = cache_mirror_new (&prop_config);
  ChoiceSource s;
  AsmArenaCacheStats cs;

  m->trace = g_getenv ("ASM_PROP_TRACE") != NULL &&
             g_strcmp0 (g_getenv ("ASM_PROP_TRACE"), "ops") == 0;
  choice_source_init_seed (&s, seed);
  for (guint64 step = 0; step < ops; step++)
    if (!cache_mirror_step (m, &s))
      fail_msg ("seed %" G_GUINT64_FORMAT ", %s", seed, m->why->str);
  cs = cache_stats (m->arena);
  if (g_getenv ("ASM_PROP_TRACE") != NULL)
    print_message ("# seed %" G_GUINT64_FORMAT ": hits %" G_GUINT64_FORMAT
                   ", misses %" G_GUINT64_FORMAT ", flushes %"
                   G_GUINT64_FORMAT "\n", seed, cs.hits, cs.misses,
                   cs.flushes);
  /* the run must have exercised the cache, not only the tree */
  assert_true (cs.hits > ops / 40);
  assert_true (cs.flushes > 0);
}

static void
test_property_vs_uncached (void **state)
{
  guint64 only = test_env_u64 ("ASM_PROP_SEED", G_MAXUINT64);
  guint64 seeds = test_env_u64 ("ASM_PROP_SEEDS", 20);
  guint64 ops = test_env_u64 ("ASM_PROP_OPS", 3000);

  (void) state;
  for (guint64 seed = 1; seed <= seeds; seed++)
    if (only == G_MAXUINT64 || only == seed)
      prop_run (seed, ops);
}

/* ------------------------------------------------------------------ */
/* threads                                                              */

#define T_THREADS 4
#define T_WINDOW (64 * (guint64) Q) /* each thread's window */
#define T_UNITS (T_THREADS * T_WINDOW / Q)

typedef struct {
  guint64 addr, size;
} Live;

typedef struct {
  AsmArena *a;
  guint no;
  guint64 seed, steps;
  guint8 *owner; /* shared: per page, 0 or the owning thread + 1 */
  GArray *live;
  guint64 refusals, allocs;
  const char *failure; /* the first violation (atomic) */
  guint64 failure_addr;
} Churner;

static gboolean
claim (Churner *t, guint64 addr, guint64 size, guint8 from, guint8 to)
{
  for (guint64 p = addr / Q; p < (addr + size) / Q; p++)
    {
      guint8 expected = from;

      if (p >= T_UNITS ||
          !__atomic_compare_exchange_n (&t->owner[p], &expected, to, FALSE,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return FALSE;
    }
  return TRUE;
}

/* does a request of size pages fit in the thread's window, given its own
 * live allocations (the exact model of the window)? */
static gboolean
window_fits (Churner *t, const AsmRequest *r)
{
  guint64 pages = T_WINDOW / Q, base = t->no * T_WINDOW;
  g_autofree guint8 *used = g_new0 (guint8, pages);

  for (guint i = 0; i < t->live->len; i++)
    {
      Live *l = &g_array_index (t->live, Live, i);
      for (guint64 p = (l->addr - base) / Q; p < (l->addr - base + l->size) / Q;
           p++)
        used[p] = 1;
    }
  for (guint64 p = 0; p + r->size / Q <= pages; p++)
    {
      guint64 addr = base + p * Q, k;

      if (r->align != 0 && addr % r->align != 0)
        continue;
      for (k = 0; k < r->size / Q && !used[p + k]; k++)
        ;
      if (k == r->size / Q)
        return TRUE;
    }
  return FALSE;
}

static void *
churn_main (void *data)
{
  Churner *t = data;
  ChoiceSource s;
  static const guint64 sizes[] = { 1, 1, 1, 2, 2, 3, 4, 8 };

  choice_source_init_seed (&s, t->seed);
  for (guint64 step = 0; step < t->steps; step++)
    {
      if (t->live->len > 0 && choice_chance (&s, 1, 2))
        {
          guint i = (guint) choice_below (&s, t->live->len);
          Live l = g_array_index (t->live, Live, i);

          g_array_remove_index_fast (t->live, i);
          if (!claim (t, l.addr, l.size, (guint8) (t->no + 1), 0) ||
              !asm_arena_free (t->a, l.addr, NULL))
            {
              t->failure_addr = l.addr;
              __atomic_store_n (&t->failure, "a free failed", __ATOMIC_RELEASE);
              return NULL;
            }
        }
      else
        {
          guint64 pages = sizes[choice_below (&s, G_N_ELEMENTS (sizes))];
          AsmRequest r = ASM_REQUEST_INIT (pages * Q);
          guint64 addr;

          r.fit = choice_chance (&s, 15, 16) ? ASM_FIT_INSTANT : ASM_FIT_LOWEST;
          r.align = (pages == 3 ? 4 : pages) * Q;
          r.min = t->no * T_WINDOW;
          r.max = r.min + T_WINDOW - 1;
          if (arena_alloc_either (t->a, &r, &addr, NULL,
                                  choice_chance (&s, 1, 2)))
            {
              t->allocs++;
              if (addr < r.min || addr + r.size - 1 > r.max ||
                  addr % r.align != 0 ||
                  !claim (t, addr, r.size, 0, (guint8) (t->no + 1)))
                {
                  t->failure_addr = addr;
                  __atomic_store_n (&t->failure,
                                    "an allocation overlaps or breaks its "
                                    "request", __ATOMIC_RELEASE);
                  return NULL;
                }
              g_array_append_val (t->live, ((Live) { addr, r.size }));
            }
          else
            {
              t->refusals++;
              if (window_fits (t, &r))
                {
                  t->failure_addr = r.size;
                  __atomic_store_n (&t->failure,
                                    "refused while its window had room",
                                    __ATOMIC_RELEASE);
                  return NULL;
                }
            }
        }
    }
  return NULL;
}

/* phase 2: thread i frees thread i+1's allocations, then frees each once
 * more, which must be refused */
typedef struct {
  AsmArena *a;
  GArray *live;
  const char *failure;
} CrossFree;

static void *
cross_free_main (void *data)
{
  CrossFree *x = data;

  for (guint k = 0; k < x->live->len; k++)
    if (!asm_arena_free (x->a, g_array_index (x->live, Live, k).addr, NULL))
      {
        x->failure = "a free from another thread failed";
        return NULL;
      }
  for (guint k = 0; k < x->live->len; k++)
    if (asm_arena_free (x->a, g_array_index (x->live, Live, k).addr, NULL))
      {
        x->failure = "a double free from another thread succeeded";
        return NULL;
      }
  return NULL;
}

static void
test_threads_exact (void **state)
{
  g_autoptr(AsmArena) a = cached_arena (0, T_THREADS * T_WINDOW - 1, 8 * Q);
  Churner t[T_THREADS] = { 0 };
  pthread_t th[T_THREADS];
  g_autofree guint8 *owner = g_new0 (guint8, T_UNITS);
  guint64 steps = test_env_u64 ("ASM_PROP_OPS", 40000), live = 0, units = 0;
  guint64 refusals = 0;
  AsmArenaStats st;
  AsmArenaCacheStats cs;

  (void) state;
  for (guint i = 0; i < T_THREADS; i++)
    {
      t[i] = (Churner) { .a = a, .no = i, .seed = 0x7a5 + i, .steps = steps,
                         .owner = owner,
                         .live = g_array_new (FALSE, FALSE, sizeof (Live)) };
      assert_int_equal (pthread_create (&th[i], NULL, churn_main, &t[i]), 0);
    }
  for (guint i = 0; i < T_THREADS; i++)
    assert_int_equal (pthread_join (th[i], NULL), 0);
  for (guint i = 0; i < T_THREADS; i++)
    {
      if (t[i].failure != NULL)
        fail_msg ("thread %u: %s (0x%" G_GINT64_MODIFIER "x)", i, t[i].failure,
                  t[i].failure_addr);
      live += t[i].live->len;
      for (guint k = 0; k < t[i].live->len; k++)
        units += g_array_index (t[i].live, Live, k).size;
      refusals += t[i].refusals;
    }
  OK (asm_arena_check (a, &error));
  asm_arena_get_stats (a, &st);
  assert_int_equal (st.n_allocated, live);
  assert_int_equal (st.allocated_units, units);
  cs = cache_stats (a);
  print_message ("# threads: %u x %" G_GUINT64_FORMAT " steps, %"
                 G_GUINT64_FORMAT " refusals checked exact, hits %"
                 G_GUINT64_FORMAT ", misses %" G_GUINT64_FORMAT ", flushes %"
                 G_GUINT64_FORMAT ", cached now %" G_GUINT64_FORMAT "\n",
                 T_THREADS, steps, refusals, cs.hits, cs.misses, cs.flushes,
                 cs.cached_ranges);
  assert_true (refusals > 0);
  assert_true (cs.hits > steps / 10);
  /* everything freed, each thread's by another thread, at once: the whole
   * space comes back */
  {
    CrossFree x[T_THREADS];

    for (guint i = 0; i < T_THREADS; i++)
      {
        x[i] = (CrossFree) { a, t[(i + 1) % T_THREADS].live, NULL };
        assert_int_equal (pthread_create (&th[i], NULL, cross_free_main,
                                          &x[i]), 0);
      }
    for (guint i = 0; i < T_THREADS; i++)
      assert_int_equal (pthread_join (th[i], NULL), 0);
    for (guint i = 0; i < T_THREADS; i++)
      {
        if (x[i].failure != NULL)
          fail_msg ("thread %u: %s", i, x[i].failure);
        g_array_unref (t[i].live);
      }
  }
  OK (asm_arena_check (a, &error));
  asm_arena_get_stats (a, &st);
  assert_int_equal (st.n_allocated, 0);
  {
    AsmRequest all = ASM_REQUEST_INIT (T_THREADS * T_WINDOW);
    guint64 addr;

    all.fit = ASM_FIT_INSTANT;
    OK (asm_arena_alloc_full (a, &all, &addr, &error));
    assert_int_equal (addr, 0);
  }
  OK (asm_arena_check (a, &error));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_enable_refused),
    cmocka_unit_test (test_freed_range_comes_back),
    cmocka_unit_test (test_moved_entries_still_found),
    cmocka_unit_test (test_tables_through_the_depot),
    cmocka_unit_test (test_double_free_and_lookup),
    cmocka_unit_test (test_only_cached_space_satisfies),
    cmocka_unit_test (test_exact_fits_see_cached_ranges),
    cmocka_unit_test (test_window_and_alignment_honoured),
    cmocka_unit_test (test_window_edge),
    cmocka_unit_test (test_miss_takes_a_run),
    cmocka_unit_test (test_run_at_the_unit_limit),
    cmocka_unit_test (test_huge_sizes_go_to_the_tree),
    cmocka_unit_test (test_invalid_requests_unchanged),
    cmocka_unit_test (test_instant_entry_is_alloc_full),
    cmocka_unit_test (test_alloc_full_macro),
    cmocka_unit_test (test_cap),
    cmocka_unit_test (test_clone_and_walk),
    cmocka_unit_test (test_property_vs_uncached),
    cmocka_unit_test (test_threads_exact),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
