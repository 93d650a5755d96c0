/* test-arena.c: unit tests of AsmArena (layer 1)
 *
 * Every test builds a small arena by hand and checks the exact answers that
 * DESIGN.md sections 3-4 and asm-arena.h define: the address each fit
 * returns, the error code of each refused call, and that a refused call
 * leaves the arena exactly as it was (stats and the full segment walk are
 * compared before and after).  The first ten tests are the regression
 * bugs that shipped in peer allocators, one regression test each.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <asm/asm.h>

#include "asm-test.h"

#define X "0x%" G_GINT64_MODIFIER "x"
#define MAX64 G_MAXUINT64
#define KiB (G_GUINT64_CONSTANT (1) << 10)
#define MiB (G_GUINT64_CONSTANT (1) << 20)
#define GiB (G_GUINT64_CONSTANT (1) << 30)

/* cmocka reports the line of the failing assertion; the helpers below take
 * the caller's file and line so that a failure points at the test. */
/* ---------------------------------------------------------------------- */
/* Helpers                                                                */
/* ---------------------------------------------------------------------- */

typedef struct {
  AsmRange range;
  AsmSegmentKind kind;
} Seg;

#define SEG_F(x, y) { { (x), (y) }, ASM_SEGMENT_FREE }
#define SEG_A(x, y) { { (x), (y) }, ASM_SEGMENT_ALLOCATED }
#define SEG_R(x, y) { { (x), (y) }, ASM_SEGMENT_RESERVED }

static const char *
kind_name (AsmSegmentKind kind)
{
  switch (kind)
    {
    case ASM_SEGMENT_FREE:
      return "free";
    case ASM_SEGMENT_ALLOCATED:
      return "allocated";
    case ASM_SEGMENT_RESERVED:
      return "reserved";
    default:
      return "?";
    }
}

static gboolean
collect_cb (const AsmRange *segment, AsmSegmentKind kind, gpointer user_data)
{
  GArray *segs = user_data;
  Seg s = { *segment, kind };

  g_array_append_val (segs, s);
  return TRUE;
}

static GArray *
walk_segments (AsmArena *a)
{
  GArray *segs = g_array_new (FALSE, TRUE, sizeof (Seg));

  assert_true (asm_arena_walk (a, collect_cb, segs));
  return segs;
}

static gboolean
segs_equal (const Seg *x, guint nx, const Seg *y, guint ny)
{
  if (nx != ny)
    return FALSE;
  for (guint i = 0; i < nx; i++)
    if (x[i].range.first != y[i].range.first ||
        x[i].range.last != y[i].range.last || x[i].kind != y[i].kind)
      return FALSE;
  return TRUE;
}

static void
print_segs (const char *title, const Seg *s, guint n)
{
  print_error ("  %s (%u segments):\n", title, n);
  for (guint i = 0; i < n && i < 64; i++)
    print_error ("    [" X ", " X "] %s\n", s[i].range.first,
                 s[i].range.last, kind_name (s[i].kind));
  if (n > 64)
    print_error ("    ...\n");
}

typedef struct {
  AsmArenaStats stats;
  GArray *segs;
} Snapshot;

static void
snapshot_take (AsmArena *a, Snapshot *s)
{
  memset (&s->stats, 0, sizeof s->stats);
  asm_arena_get_stats (a, &s->stats);
  s->segs = walk_segments (a);
}

static void
snapshot_clear (Snapshot *s)
{
  g_clear_pointer (&s->segs, g_array_unref);
}

static void
print_stats (const char *title, const AsmArenaStats *st)
{
  print_error ("  %s: span " X " alloc " X " res " X " free " X
               " n_spans %" G_GUINT64_FORMAT " n_alloc %" G_GUINT64_FORMAT
               " n_res %" G_GUINT64_FORMAT " n_free %" G_GUINT64_FORMAT
               " largest " X "\n",
               title, st->span_units, st->allocated_units, st->reserved_units,
               st->free_units, st->n_spans, st->n_allocated, st->n_reserved,
               st->n_free_segments, st->largest_free);
}

/* Fails unless @a has the same stats and segments as @before. */
static void
assert_unchanged_at (AsmArena *a, const Snapshot *before, const char *what,
                     const char *file, int line)
{
  Snapshot after;
  gboolean same;

  snapshot_take (a, &after);
  same = memcmp (&before->stats, &after.stats, sizeof after.stats) == 0 &&
         segs_equal ((const Seg *) before->segs->data, before->segs->len,
                     (const Seg *) after.segs->data, after.segs->len);
  if (!same)
    {
      print_stats ("stats before", &before->stats);
      print_stats ("stats after", &after.stats);
      print_segs ("before", (const Seg *) before->segs->data,
                  before->segs->len);
      print_segs ("after", (const Seg *) after.segs->data, after.segs->len);
      snapshot_clear (&after);
      FAIL_AT (file, line, "%s changed the arena although it failed", what);
    }
  snapshot_clear (&after);
}

static void
assert_check_at (AsmArena *a, const char *file, int line)
{
  g_autoptr(GError) error = NULL;

  if (!asm_arena_check (a, &error))
    FAIL_AT (file, line, "asm_arena_check failed: %s",
             error ? error->message : "(no error set)");
  if (error != NULL)
    FAIL_AT (file, line, "asm_arena_check returned TRUE with an error set");
}
#define assert_check(a) assert_check_at ((a), __FILE__, __LINE__)

/* TRUE when @msg names @value in decimal or in 0x-hex (any case). */
static gboolean
message_mentions (const char *msg, guint64 value)
{
  g_autofree char *dec = g_strdup_printf ("%" G_GUINT64_FORMAT, value);
  g_autofree char *hex = g_strdup_printf (X, value);
  g_autofree char *lower = NULL;

  if (msg == NULL)
    return FALSE;
  lower = g_ascii_strdown (msg, -1);
  return strstr (msg, dec) != NULL || strstr (lower, hex) != NULL;
}

static void
check_error_at (const GError *error, int code, const char *what,
                const char *file, int line)
{
  if (error == NULL)
    FAIL_AT (file, line, "%s: failed without setting an error", what);
  if (error->domain != ASM_ERROR || error->code != code)
    FAIL_AT (file, line, "%s: expected ASM_ERROR code %d, got %s code %d: %s",
             what, code, g_quark_to_string (error->domain), error->code,
             error->message);
  if (error->message == NULL || error->message[0] == '\0')
    FAIL_AT (file, line, "%s: empty error message", what);
}

static AsmRequest
req_new (guint64 size, AsmFit fit)
{
  AsmRequest r = ASM_REQUEST_INIT (size);

  r.fit = fit;
  return r;
}

static AsmArena *
arena_new_span_at (const char *name, guint64 quantum, guint64 first,
                   guint64 last, const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  AsmArena *a = asm_arena_new (name, quantum);

  if (a == NULL)
    FAIL_AT (file, line, "asm_arena_new returned NULL");
  if (!asm_arena_add_span (a, first, last, &error))
    FAIL_AT (file, line, "add_span [" X ", " X "] failed: %s", first, last,
             error ? error->message : "(no error set)");
  return a;
}
#define arena_new_span(n, q, f, l) \
  arena_new_span_at ((n), (q), (f), (l), __FILE__, __LINE__)

static void
add_span_at (AsmArena *a, guint64 first, guint64 last, const char *file,
             int line)
{
  g_autoptr(GError) error = NULL;

  if (!asm_arena_add_span (a, first, last, &error))
    FAIL_AT (file, line, "add_span [" X ", " X "] failed: %s", first, last,
             error ? error->message : "(no error set)");
  if (error != NULL)
    FAIL_AT (file, line, "add_span succeeded with an error set");
}
#define add_span(a, f, l) add_span_at ((a), (f), (l), __FILE__, __LINE__)

static GError *
add_span_error_at (AsmArena *a, guint64 first, guint64 last, int code,
                   const char *file, int line)
{
  GError *error = NULL;
  Snapshot before;

  snapshot_take (a, &before);
  if (asm_arena_add_span (a, first, last, &error))
    FAIL_AT (file, line, "add_span [" X ", " X "] succeeded, expected error %d",
             first, last, code);
  check_error_at (error, code, "add_span", file, line);
  assert_unchanged_at (a, &before, "add_span", file, line);
  snapshot_clear (&before);
  return error;
}
#define assert_add_span_fails(a, f, l, code) \
  g_error_free (add_span_error_at ((a), (f), (l), (code), __FILE__, __LINE__))

static guint64
alloc_ok_at (AsmArena *a, const AsmRequest *req, const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  guint64 addr = 0;

  if (!asm_arena_alloc_full (a, req, &addr, &error))
    FAIL_AT (file, line,
             "alloc size " X " align " X " phase " X " nocross " X " min " X
             " max " X " fit %d failed: %s",
             req->size, req->align, req->phase, req->nocross, req->min,
             req->max, (int) req->fit,
             error ? error->message : "(no error set)");
  if (error != NULL)
    FAIL_AT (file, line, "alloc succeeded with an error set");
  return addr;
}
#define alloc_ok(a, req) alloc_ok_at ((a), (req), __FILE__, __LINE__)

static void
assert_alloc_at (AsmArena *a, const AsmRequest *req, guint64 expected,
                 const char *file, int line)
{
  guint64 addr = alloc_ok_at (a, req, file, line);

  if (addr != expected)
    FAIL_AT (file, line,
             "alloc size " X " align " X " phase " X " nocross " X " min " X
             " max " X " fit %d returned " X ", expected " X,
             req->size, req->align, req->phase, req->nocross, req->min,
             req->max, (int) req->fit, addr, expected);
}
#define assert_alloc(a, req, expected) \
  assert_alloc_at ((a), (req), (expected), __FILE__, __LINE__)

/* Allocates size units with fit and no other constraint. */
#define assert_alloc_sz(a, size, fit, expected) \
  G_STMT_START { \
    AsmRequest r_ = req_new ((size), (fit)); \
    assert_alloc_at ((a), &r_, (expected), __FILE__, __LINE__); \
  } G_STMT_END

static GError *
alloc_error_at (AsmArena *a, const AsmRequest *req, int code,
                const char *file, int line)
{
  GError *error = NULL;
  guint64 addr = 0;
  Snapshot before;

  snapshot_take (a, &before);
  if (asm_arena_alloc_full (a, req, &addr, &error))
    FAIL_AT (file, line,
             "alloc size " X " align " X " phase " X " nocross " X " min " X
             " max " X " fit %d returned " X ", expected error %d",
             req->size, req->align, req->phase, req->nocross, req->min,
             req->max, (int) req->fit, addr, code);
  check_error_at (error, code, "alloc_full", file, line);
  assert_unchanged_at (a, &before, "alloc_full", file, line);
  snapshot_clear (&before);
  return error;
}
#define alloc_error(a, req, code) \
  alloc_error_at ((a), (req), (code), __FILE__, __LINE__)
#define assert_alloc_fails(a, req, code) \
  g_error_free (alloc_error_at ((a), (req), (code), __FILE__, __LINE__))

/* Allocates, checks the address, frees again (for one-shot placement
 * questions that must not disturb the layout). */
static void
assert_probe_at (AsmArena *a, const AsmRequest *req, guint64 expected,
                 const char *file, int line)
{
  g_autoptr(GError) error = NULL;

  assert_alloc_at (a, req, expected, file, line);
  if (!asm_arena_free (a, expected, &error))
    FAIL_AT (file, line, "free " X " failed: %s", expected,
             error ? error->message : "(no error set)");
}
#define assert_probe(a, req, expected) \
  assert_probe_at ((a), (req), (expected), __FILE__, __LINE__)

static void
free_ok_at (AsmArena *a, guint64 addr, const char *file, int line)
{
  g_autoptr(GError) error = NULL;

  if (!asm_arena_free (a, addr, &error))
    FAIL_AT (file, line, "free " X " failed: %s", addr,
             error ? error->message : "(no error set)");
  if (error != NULL)
    FAIL_AT (file, line, "free succeeded with an error set");
}
#define assert_free(a, addr) free_ok_at ((a), (addr), __FILE__, __LINE__)

static void
free_fails_at (AsmArena *a, guint64 addr, int code, const char *file,
               int line)
{
  g_autoptr(GError) error = NULL;
  Snapshot before;

  snapshot_take (a, &before);
  if (asm_arena_free (a, addr, &error))
    FAIL_AT (file, line, "free " X " succeeded, expected error %d", addr,
             code);
  check_error_at (error, code, "free", file, line);
  assert_unchanged_at (a, &before, "free", file, line);
  snapshot_clear (&before);
}
#define assert_free_fails(a, addr, code) \
  free_fails_at ((a), (addr), (code), __FILE__, __LINE__)

static void
reserve_ok_at (AsmArena *a, guint64 first, guint64 last, const char *file,
               int line)
{
  g_autoptr(GError) error = NULL;

  if (!asm_arena_reserve (a, first, last, &error))
    FAIL_AT (file, line, "reserve [" X ", " X "] failed: %s", first, last,
             error ? error->message : "(no error set)");
  if (error != NULL)
    FAIL_AT (file, line, "reserve succeeded with an error set");
}
#define assert_reserve(a, f, l) reserve_ok_at ((a), (f), (l), __FILE__, __LINE__)

static void
reserve_fails_at (AsmArena *a, guint64 first, guint64 last, int code,
                  const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  Snapshot before;

  snapshot_take (a, &before);
  if (asm_arena_reserve (a, first, last, &error))
    FAIL_AT (file, line, "reserve [" X ", " X "] succeeded, expected error %d",
             first, last, code);
  check_error_at (error, code, "reserve", file, line);
  assert_unchanged_at (a, &before, "reserve", file, line);
  snapshot_clear (&before);
}
#define assert_reserve_fails(a, f, l, code) \
  reserve_fails_at ((a), (f), (l), (code), __FILE__, __LINE__)

static void
move_ok_at (AsmArena *a, guint64 addr, const AsmRequest *req,
            guint64 expected, const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  guint64 out = 0;

  if (!asm_arena_move (a, addr, req, &out, &error))
    FAIL_AT (file, line, "move " X " to size " X " failed: %s", addr,
             req->size, error ? error->message : "(no error set)");
  if (error != NULL)
    FAIL_AT (file, line, "move succeeded with an error set");
  if (out != expected)
    FAIL_AT (file, line, "move " X " to size " X " returned " X
             ", expected " X, addr, req->size, out, expected);
}
#define assert_move(a, addr, req, expected) \
  move_ok_at ((a), (addr), (req), (expected), __FILE__, __LINE__)

static GError *
move_error_at (AsmArena *a, guint64 addr, const AsmRequest *req, int code,
               const char *file, int line)
{
  GError *error = NULL;
  guint64 out = 0;
  Snapshot before;

  snapshot_take (a, &before);
  if (asm_arena_move (a, addr, req, &out, &error))
    FAIL_AT (file, line, "move " X " to size " X " returned " X
             ", expected error %d", addr, req->size, out, code);
  check_error_at (error, code, "move", file, line);
  assert_unchanged_at (a, &before, "move", file, line);
  snapshot_clear (&before);
  return error;
}
#define assert_move_fails(a, addr, req, code) \
  g_error_free (move_error_at ((a), (addr), (req), (code), __FILE__, __LINE__))

/* lookup and lookup_full both return [first, last] of @kind for @addr. */
static void
lookup_at (AsmArena *a, guint64 addr, guint64 first, guint64 last,
           AsmSegmentKind kind, const char *file, int line)
{
  AsmRange r = { 0x1234, 0x5678 };
  AsmSegmentKind k = ASM_SEGMENT_FREE;

  if (!asm_arena_lookup (a, addr, &r))
    FAIL_AT (file, line, "lookup " X " found nothing, expected [" X ", " X "]",
             addr, first, last);
  if (r.first != first || r.last != last)
    FAIL_AT (file, line, "lookup " X " gave [" X ", " X "], expected [" X
             ", " X "]", addr, r.first, r.last, first, last);
  r = ASM_RANGE (0x1234, 0x5678);
  if (!asm_arena_lookup_full (a, addr, &r, &k))
    FAIL_AT (file, line, "lookup_full " X " found nothing", addr);
  if (r.first != first || r.last != last || k != kind)
    FAIL_AT (file, line, "lookup_full " X " gave [" X ", " X "] %s, expected ["
             X ", " X "] %s", addr, r.first, r.last, kind_name (k), first,
             last, kind_name (kind));
}
#define assert_lookup(a, addr, f, l, kind) \
  lookup_at ((a), (addr), (f), (l), (kind), __FILE__, __LINE__)
#define assert_lookup_alloc(a, addr, f, l) \
  assert_lookup ((a), (addr), (f), (l), ASM_SEGMENT_ALLOCATED)
#define assert_lookup_res(a, addr, f, l) \
  assert_lookup ((a), (addr), (f), (l), ASM_SEGMENT_RESERVED)

/* @addr is free: lookup finds nothing, lookup_full the free segment. */
static void
lookup_free_at (AsmArena *a, guint64 addr, guint64 first, guint64 last,
                const char *file, int line)
{
  AsmRange r = { 0x1234, 0x5678 };
  AsmSegmentKind k = ASM_SEGMENT_ALLOCATED;

  if (asm_arena_lookup (a, addr, &r))
    FAIL_AT (file, line, "lookup " X " gave [" X ", " X "], expected nothing",
             addr, r.first, r.last);
  if (!asm_arena_lookup_full (a, addr, &r, &k))
    FAIL_AT (file, line, "lookup_full " X " found nothing", addr);
  if (r.first != first || r.last != last || k != ASM_SEGMENT_FREE)
    FAIL_AT (file, line, "lookup_full " X " gave [" X ", " X "] %s, expected ["
             X ", " X "] free", addr, r.first, r.last, kind_name (k), first,
             last);
}
#define assert_lookup_free(a, addr, f, l) \
  lookup_free_at ((a), (addr), (f), (l), __FILE__, __LINE__)

static void
no_lookup_at (AsmArena *a, guint64 addr, const char *file, int line)
{
  AsmRange r = { 0, 0 };

  if (asm_arena_lookup (a, addr, &r))
    FAIL_AT (file, line, "lookup " X " gave [" X ", " X "], expected nothing",
             addr, r.first, r.last);
}
#define assert_no_lookup(a, addr) no_lookup_at ((a), (addr), __FILE__, __LINE__)

static void
stats_at (AsmArena *a, const AsmArenaStats *expected, const char *file,
          int line)
{
  AsmArenaStats st;

  memset (&st, 0xa5, sizeof st);
  asm_arena_get_stats (a, &st);
  if (memcmp (&st, expected, sizeof st) != 0)
    {
      print_stats ("got     ", &st);
      print_stats ("expected", expected);
      FAIL_AT (file, line, "stats differ");
    }
}
/* span, allocated, reserved, free, n_spans, n_allocated, n_reserved,
 * n_free_segments, largest_free */
#define assert_stats(a, ...) \
  stats_at ((a), &(const AsmArenaStats) { __VA_ARGS__ }, __FILE__, __LINE__)

static void
layout_at (AsmArena *a, const Seg *expected, guint n, const char *file,
           int line)
{
  g_autoptr(GArray) segs = walk_segments (a);

  if (!segs_equal ((const Seg *) segs->data, segs->len, expected, n))
    {
      print_segs ("walk", (const Seg *) segs->data, segs->len);
      print_segs ("expected", expected, n);
      FAIL_AT (file, line, "walk differs from the expected layout");
    }
}
#define assert_layout(a, ...) \
  layout_at ((a), (const Seg[]) { __VA_ARGS__ }, \
             G_N_ELEMENTS (((const Seg[]) { __VA_ARGS__ })), __FILE__, __LINE__)

static void
assert_same_layout_at (AsmArena *x, AsmArena *y, const char *file, int line)
{
  Snapshot sx, sy;
  gboolean same;

  snapshot_take (x, &sx);
  snapshot_take (y, &sy);
  same = memcmp (&sx.stats, &sy.stats, sizeof sx.stats) == 0 &&
         segs_equal ((const Seg *) sx.segs->data, sx.segs->len,
                     (const Seg *) sy.segs->data, sy.segs->len);
  if (!same)
    {
      print_stats (asm_arena_get_name (x), &sx.stats);
      print_stats (asm_arena_get_name (y), &sy.stats);
      print_segs (asm_arena_get_name (x), (const Seg *) sx.segs->data,
                  sx.segs->len);
      print_segs (asm_arena_get_name (y), (const Seg *) sy.segs->data,
                  sy.segs->len);
    }
  snapshot_clear (&sx);
  snapshot_clear (&sy);
  if (!same)
    FAIL_AT (file, line, "arenas differ");
}
#define assert_same_layout(x, y) \
  assert_same_layout_at ((x), (y), __FILE__, __LINE__)

/* ---------------------------------------------------------------------- */
/* bugs that shipped in peer allocators: a regression test each           */
/* ---------------------------------------------------------------------- */

/* 1. 1 GiB space: alloc 500M, 12M, 499M; free the 12M; alloc 13M; then a 2M
 * alloc must succeed (it lands in the 12M hole). */
static void
test_bug1_hole_reused_after_larger_alloc (void **state)
{
  g_autoptr(AsmArena) a = arena_new_span ("iova", 4096, 0, GiB - 1);
  g_autoptr(AsmArena) h = arena_new_span ("iova-top-down", 4096, 0, GiB - 1);

  assert_alloc_sz (a, 500 * MiB, ASM_FIT_LOWEST, 0);
  assert_alloc_sz (a, 12 * MiB, ASM_FIT_LOWEST, 500 * MiB);
  assert_alloc_sz (a, 499 * MiB, ASM_FIT_LOWEST, 512 * MiB);
  assert_free (a, 500 * MiB);
  assert_alloc_sz (a, 13 * MiB, ASM_FIT_LOWEST, 1011 * MiB);
  assert_alloc_sz (a, 2 * MiB, ASM_FIT_LOWEST, 500 * MiB);
  assert_stats (a, GiB, GiB - 10 * MiB, 0, 10 * MiB, 1, 4, 0, 1, 10 * MiB);
  assert_check (a);

  /* The same sequence top-down. */
  assert_alloc_sz (h, 500 * MiB, ASM_FIT_HIGHEST, 524 * MiB);
  assert_alloc_sz (h, 12 * MiB, ASM_FIT_HIGHEST, 512 * MiB);
  assert_alloc_sz (h, 499 * MiB, ASM_FIT_HIGHEST, 13 * MiB);
  assert_free (h, 512 * MiB);
  assert_alloc_sz (h, 13 * MiB, ASM_FIT_HIGHEST, 0);
  assert_alloc_sz (h, 2 * MiB, ASM_FIT_HIGHEST, 522 * MiB);
  assert_stats (h, GiB, GiB - 10 * MiB, 0, 10 * MiB, 1, 4, 0, 1, 10 * MiB);
  assert_check (h);
}

/* 2. Space below 4 GiB full, mixed 64-bit and 32-bit-limited requests: the
 * 32-bit request fails NO_SPACE (and keeps failing without side effects),
 * 64-bit requests keep succeeding above 4 GiB, and one free below 4 GiB makes
 * the 32-bit request succeed there. */
static void
test_bug2_dma32_full_then_one_free (void **state)
{
  g_autoptr(AsmArena) a = arena_new_span ("iova", 4096, 0, 64 * GiB - 1);
  AsmRequest r32 = req_new (4 * MiB, ASM_FIT_HIGHEST);
  AsmRequest r64 = req_new (2 * MiB, ASM_FIT_HIGHEST);
  AsmRequest small32 = req_new (4096, ASM_FIT_HIGHEST);
  AsmRequest small64 = req_new (4096, ASM_FIT_LOWEST);
  guint n64 = 0;

  r32.max = 0xffffffff;
  small32.max = 0xffffffff;

  for (guint i = 0; i < 1024; i++)
    {
      assert_alloc (a, &r32, 4 * GiB - (guint64) (i + 1) * 4 * MiB);
      if (i % 64 == 63)
        {
          assert_alloc (a, &r64, 64 * GiB - (guint64) (n64 + 1) * 2 * MiB);
          n64++;
        }
    }
  assert_stats (a, 64 * GiB, 4 * GiB + n64 * 2 * MiB, 0,
                60 * GiB - n64 * 2 * MiB, 1, 1024 + n64, 0, 1,
                60 * GiB - n64 * 2 * MiB);

  for (guint i = 0; i < 100; i++)
    {
      g_autoptr(GError) error = alloc_error (a, &small32, ASM_ERROR_NO_SPACE);

      assert_true (message_mentions (error->message, 4096));
      assert_alloc_fails (a, &r32, ASM_ERROR_NO_SPACE);
      /* 64-bit requests still succeed, above 4 GiB. */
      assert_alloc (a, &small64, 4 * GiB + (guint64) i * 4096);
    }

  /* One free below 4 GiB. */
  assert_free (a, 1 * GiB);
  assert_alloc (a, &small32, 1 * GiB + 4 * MiB - 4096);
  small32.fit = ASM_FIT_LOWEST;
  assert_alloc (a, &small32, 1 * GiB);
  small32.size = 4 * MiB - 2 * 4096;
  small32.fit = ASM_FIT_BEST;
  assert_alloc (a, &small32, 1 * GiB + 4096);
  small32.size = 4096;
  assert_alloc_fails (a, &small32, ASM_ERROR_NO_SPACE);
  assert_check (a);
}

/* 3. A gap that fits size at align exactly, with gap length < size + align - 1
 * (padding the size by align - 1 misses it). */
static void
test_bug3_exact_aligned_gap_found (void **state)
{
  static const AsmFit fits[] = {
    ASM_FIT_LOWEST, ASM_FIT_HIGHEST, ASM_FIT_BEST, ASM_FIT_NEXT,
  };
  g_autoptr(AsmArena) a = arena_new_span ("gap", 0x1000, 0, 0xfffff);
  g_autoptr(AsmArena) b = arena_new_span ("gap-phase", 0x1000, 0, 0xfffff);
  g_autoptr(AsmArena) c = arena_new_span ("gap-ids", 1, 0, 0xff);

  /* Free gap [0x10000, 0x2ffff]: 0x20000 units at align 0x10000. */
  assert_reserve (a, 0, 0xffff);
  assert_reserve (a, 0x30000, 0xfffff);
  for (guint i = 0; i < G_N_ELEMENTS (fits); i++)
    {
      AsmRequest r = req_new (0x20000, fits[i]);

      r.align = 0x10000;
      assert_probe (a, &r, 0x10000);
    }
  assert_check (a);

  /* Free gap [0x11000, 0x11fff]: one unit at phase 0x1000 of 0x10000. */
  assert_reserve (b, 0, 0x10fff);
  assert_reserve (b, 0x12000, 0xfffff);
  for (guint i = 0; i < G_N_ELEMENTS (fits); i++)
    {
      AsmRequest r = req_new (0x1000, fits[i]);

      r.align = 0x10000;
      r.phase = 0x1000;
      assert_probe (b, &r, 0x11000);
      r.phase = 0;
      assert_alloc_fails (b, &r, ASM_ERROR_NO_SPACE);
    }
  assert_check (b);

  /* Quantum 1: gap [0x10, 0x1f], 16 units at align 16. */
  assert_reserve (c, 0, 0xf);
  assert_reserve (c, 0x20, 0xff);
  for (guint i = 0; i < G_N_ELEMENTS (fits); i++)
    {
      AsmRequest r = req_new (16, fits[i]);

      r.align = 16;
      assert_probe (c, &r, 0x10);
    }
  assert_check (c);
}

/* 4. Alignment is relative to the absolute address, not to the span start. */
static void
test_bug4_alignment_is_absolute (void **state)
{
  g_autoptr(AsmArena) a = arena_new_span ("abs", 0x1000, 0x1000, 0xfffff);
  g_autoptr(AsmArena) b = arena_new_span ("abs-phase", 0x1000, 0x3000, 0xfffff);
  g_autoptr(AsmArena) c = arena_new_span ("abs-ids", 1, 5, 100);
  AsmRequest r = req_new (0x1000, ASM_FIT_LOWEST);

  r.align = 0x10000;
  assert_probe (a, &r, 0x10000);
  r.fit = ASM_FIT_BEST;
  assert_probe (a, &r, 0x10000);
  r.fit = ASM_FIT_HIGHEST;
  assert_probe (a, &r, 0xf0000);
  r.phase = 0x2000;
  assert_probe (a, &r, 0xf2000);
  r.fit = ASM_FIT_LOWEST;
  assert_probe (a, &r, 0x2000);
  assert_check (a);

  /* Span starts at 0x3000: addr % 0x10000 == 0x2000 first holds at 0x12000. */
  assert_probe (b, &r, 0x12000);
  r.phase = 0;
  assert_probe (b, &r, 0x10000);
  r.fit = ASM_FIT_NEXT;
  assert_alloc (b, &r, 0x10000);
  assert_check (b);

  /* Quantum 1, span [5, 100]: align 8 gives 8, phase 3 gives 11. */
  r = req_new (1, ASM_FIT_LOWEST);
  r.align = 8;
  assert_probe (c, &r, 8);
  r.phase = 3;
  assert_probe (c, &r, 11);
  r.fit = ASM_FIT_HIGHEST;
  assert_probe (c, &r, 99);
  r.phase = 0;
  assert_probe (c, &r, 96);
  assert_check (c);
}

/* 5. Freeing an id that was never allocated is rejected, and no id is ever
 * handed out twice; a double free is rejected too. */
static void
test_bug5_free_unallocated_rejected (void **state)
{
  g_autoptr(AsmArena) a = arena_new_span ("ids", 1, 0, 99);
  g_autoptr(GError) error = NULL;
  guint64 id = G_MAXUINT64;

  for (guint64 i = 0; i < 3; i++)
    assert_alloc_sz (a, 1, ASM_FIT_LOWEST, i);
  assert_alloc_sz (a, 4, ASM_FIT_LOWEST, 3);

  assert_free_fails (a, 10, ASM_ERROR_NOT_FOUND);   /* free, never allocated */
  assert_free_fails (a, 4, ASM_ERROR_NOT_FOUND);    /* inside [3, 6] */
  assert_free_fails (a, 6, ASM_ERROR_NOT_FOUND);    /* last of [3, 6] */
  assert_free_fails (a, 200, ASM_ERROR_NOT_FOUND);  /* outside every span */
  assert_free_fails (a, G_MAXUINT64, ASM_ERROR_NOT_FOUND);

  assert_alloc_sz (a, 1, ASM_FIT_LOWEST, 7);
  assert_free (a, 1);
  assert_free_fails (a, 1, ASM_ERROR_NOT_FOUND);    /* double free */
  assert_lookup_alloc (a, 0, 0, 0);
  assert_lookup_alloc (a, 2, 2, 2);
  assert_alloc_sz (a, 1, ASM_FIT_LOWEST, 1);

  /* Every remaining id exactly once. */
  for (guint64 i = 8; i < 100; i++)
    {
      assert_true (asm_arena_alloc (a, 1, &id, &error));
      assert_null (error);
      assert_int_equal (id, i);
    }
  assert_false (asm_arena_alloc (a, 1, &id, &error));
  check_error_at (error, ASM_ERROR_NO_SPACE, "alloc", __FILE__, __LINE__);
  assert_stats (a, 100, 100, 0, 0, 1, 97, 0, 0, 0);
  assert_check (a);
}

/* 6. A move whose new range fails leaves the old allocation intact; a
 * successful move frees the old range and may reuse it. */
static void
test_bug6_failed_move_keeps_allocation (void **state)
{
  g_autoptr(AsmArena) a = arena_new_span ("move", 0x1000, 0, 0xffff);
  g_autoptr(AsmArena) one = arena_new_span ("move-in-place", 0x1000, 0, 0x7fff);
  AsmRequest r = req_new (0x4000, ASM_FIT_LOWEST);

  assert_alloc (a, &r, 0);
  assert_alloc (a, &r, 0x4000);

  /* NO_SPACE even with the old place counted as free. */
  r.size = 0x10000;
  assert_move_fails (a, 0, &r, ASM_ERROR_NO_SPACE);
  assert_lookup_alloc (a, 0x1000, 0, 0x3fff);
  /* Invalid requests. */
  r.size = 0;
  assert_move_fails (a, 0, &r, ASM_ERROR_INVALID);
  r.size = 0x4000;
  r.align = 0x3000;
  assert_move_fails (a, 0, &r, ASM_ERROR_INVALID);
  r.align = 0;
  r.min = 0x9000;
  r.max = 0x8fff;
  assert_move_fails (a, 0, &r, ASM_ERROR_INVALID);
  r.min = 0;
  r.max = G_MAXUINT64;
  /* Nothing starts there. */
  assert_move_fails (a, 0x1000, &r, ASM_ERROR_NOT_FOUND);
  assert_move_fails (a, 0x8000, &r, ASM_ERROR_NOT_FOUND);
  assert_move_fails (a, 0x100000, &r, ASM_ERROR_NOT_FOUND);
  assert_lookup_alloc (a, 0, 0, 0x3fff);
  assert_lookup_alloc (a, 0x4000, 0x4000, 0x7fff);
  assert_stats (a, 0x10000, 0x8000, 0, 0x8000, 1, 2, 0, 1, 0x8000);

  /* Grow to 8 units: the old 4-unit place is too small, goes to 0x8000. */
  r.size = 0x8000;
  assert_move (a, 0, &r, 0x8000);
  assert_no_lookup (a, 0);
  assert_free_fails (a, 0, ASM_ERROR_NOT_FOUND);
  assert_lookup_alloc (a, 0x9000, 0x8000, 0xffff);
  assert_layout (a, SEG_F (0, 0x3fff), SEG_A (0x4000, 0x7fff),
                 SEG_A (0x8000, 0xffff));
  assert_stats (a, 0x10000, 0xc000, 0, 0x4000, 1, 2, 0, 1, 0x4000);

  /* 12 units: free runs counting itself are 4 and 8 units. */
  r.size = 0xc000;
  assert_move_fails (a, 0x8000, &r, ASM_ERROR_NO_SPACE);
  assert_lookup_alloc (a, 0x8000, 0x8000, 0xffff);

  /* After freeing the neighbour, the move overlaps its own old place. */
  assert_free (a, 0x4000);
  assert_move (a, 0x8000, &r, 0);
  assert_layout (a, SEG_A (0, 0xbfff), SEG_F (0xc000, 0xffff));
  r.size = 0x10000;
  assert_move (a, 0, &r, 0);
  assert_layout (a, SEG_A (0, 0xffff));
  r.size = 0x4000;
  r.fit = ASM_FIT_HIGHEST;
  assert_move (a, 0, &r, 0xc000);
  assert_layout (a, SEG_F (0, 0xbfff), SEG_A (0xc000, 0xffff));
  assert_check (a);

  /* The only place is its own. */
  r = req_new (0x8000, ASM_FIT_LOWEST);
  assert_alloc (one, &r, 0);
  r.fit = ASM_FIT_HIGHEST;
  assert_move (one, 0, &r, 0);
  r.fit = ASM_FIT_BEST;
  assert_move (one, 0, &r, 0);
  assert_layout (one, SEG_A (0, 0x7fff));
  assert_stats (one, 0x8000, 0x8000, 0, 0, 1, 1, 0, 0, 0);
  assert_check (one);
}

/* asm_arena_move on a reservation: the result is an allocation. */
static void
test_move_reservation (void **state)
{
  g_autoptr(AsmArena) a = arena_new_span ("move-res", 0x1000, 0, 0xffff);
  AsmRequest r = req_new (0x2000, ASM_FIT_HIGHEST);

  assert_reserve (a, 0x8000, 0x9fff);
  assert_move (a, 0x8000, &r, 0xe000);
  assert_lookup_alloc (a, 0xe000, 0xe000, 0xffff);
  assert_lookup_free (a, 0x8000, 0, 0xdfff);
  assert_stats (a, 0x10000, 0x2000, 0, 0xe000, 1, 1, 0, 1, 0xe000);

  /* Growing a reservation in place, and a failed move of one. */
  assert_reserve (a, 0x4000, 0x4fff);
  r = req_new (0x3000, ASM_FIT_LOWEST);
  r.min = 0x3000;
  assert_move (a, 0x4000, &r, 0x3000);
  assert_lookup_alloc (a, 0x4000, 0x3000, 0x5fff);
  assert_reserve (a, 0x8000, 0x8fff);
  r = req_new (0x10000, ASM_FIT_LOWEST);
  assert_move_fails (a, 0x8000, &r, ASM_ERROR_NO_SPACE);
  assert_lookup_res (a, 0x8000, 0x8000, 0x8fff);
  assert_layout (a, SEG_F (0, 0x2fff), SEG_A (0x3000, 0x5fff),
                 SEG_F (0x6000, 0x7fff), SEG_R (0x8000, 0x8fff),
                 SEG_F (0x9000, 0xdfff), SEG_A (0xe000, 0xffff));
  assert_check (a);
}

/* 7. Reserving over a live allocation fails IN_USE and merges nothing. */
static void
test_bug7_reserve_over_allocation_merges_nothing (void **state)
{
  g_autoptr(AsmArena) a = arena_new_span ("hole", 0x1000, 0, 0xffff);
  AsmRequest r = req_new (0x2000, ASM_FIT_LOWEST);

  assert_alloc (a, &r, 0);
  assert_alloc (a, &r, 0x2000);

  assert_reserve_fails (a, 0x1000, 0x2fff, ASM_ERROR_IN_USE);
  assert_reserve_fails (a, 0, 0x1fff, ASM_ERROR_IN_USE);
  assert_reserve_fails (a, 0x1000, 0x1fff, ASM_ERROR_IN_USE);
  assert_reserve_fails (a, 0x3000, 0x4fff, ASM_ERROR_IN_USE);
  assert_reserve_fails (a, 0, 0xffff, ASM_ERROR_IN_USE);
  assert_lookup_alloc (a, 0x1000, 0, 0x1fff);
  assert_lookup_alloc (a, 0x3000, 0x2000, 0x3fff);
  assert_stats (a, 0x10000, 0x4000, 0, 0xc000, 1, 2, 0, 1, 0xc000);

  /* Each allocation is still freed alone. */
  assert_free (a, 0);
  assert_no_lookup (a, 0x1000);
  assert_lookup_alloc (a, 0x2000, 0x2000, 0x3fff);
  assert_free (a, 0x2000);
  assert_layout (a, SEG_F (0, 0xffff));

  /* Reservations do not merge either. */
  assert_reserve (a, 0x8000, 0x9fff);
  assert_reserve_fails (a, 0x9000, 0xafff, ASM_ERROR_IN_USE);
  assert_reserve_fails (a, 0x8000, 0x9fff, ASM_ERROR_IN_USE);
  assert_reserve_fails (a, 0x7000, 0x8fff, ASM_ERROR_IN_USE);
  assert_reserve_fails (a, 0x8000, 0x8fff, ASM_ERROR_IN_USE);
  assert_reserve (a, 0xa000, 0xafff);
  r.min = 0x6000;
  assert_alloc (a, &r, 0x6000);
  assert_layout (a, SEG_F (0, 0x5fff), SEG_A (0x6000, 0x7fff),
                 SEG_R (0x8000, 0x9fff), SEG_R (0xa000, 0xafff),
                 SEG_F (0xb000, 0xffff));
  assert_lookup_res (a, 0x9fff, 0x8000, 0x9fff);
  assert_lookup_res (a, 0xa000, 0xa000, 0xafff);
  assert_lookup_alloc (a, 0x7fff, 0x6000, 0x7fff);
  assert_stats (a, 0x10000, 0x2000, 0x3000, 0xb000, 1, 1, 2, 2, 0x6000);

  assert_free (a, 0x8000);
  assert_no_lookup (a, 0x8000);
  assert_lookup_res (a, 0xa000, 0xa000, 0xafff);
  assert_lookup_alloc (a, 0x6000, 0x6000, 0x7fff);
  assert_check (a);
}

/* 8. Address 0, the range ending at 2^64 - 1, and [0, 2^64 - 1] as one span
 * all work. */
static void
test_bug8_address_zero_and_top_of_space (void **state)
{
  g_autoptr(AsmArena) zero = arena_new_span ("zero", 1, 0, 9);
  g_autoptr(AsmArena) top = arena_new_span ("top", 4096, MAX64 - 0xffff, MAX64);
  g_autoptr(AsmArena) top1 = arena_new_span ("top-ids", 1, MAX64 - 9, MAX64);
  g_autoptr(GError) error = NULL;
  AsmRequest r;
  guint64 addr = 1;

  /* Address 0 is a valid result. */
  assert_true (asm_arena_alloc (zero, 1, &addr, &error));
  assert_null (error);
  assert_int_equal (addr, 0);
  assert_lookup_alloc (zero, 0, 0, 0);
  assert_free (zero, 0);
  assert_reserve (zero, 0, 0);
  assert_lookup_res (zero, 0, 0, 0);
  assert_free (zero, 0);
  assert_layout (zero, SEG_F (0, 9));
  assert_check (zero);

  /* A span ending at G_MAXUINT64 allocates its last unit. */
  assert_stats (top, 0x10000, 0, 0, 0x10000, 1, 0, 0, 1, 0x10000);
  assert_alloc_sz (top, 0x1000, ASM_FIT_HIGHEST, MAX64 - 0xfff);
  assert_lookup_alloc (top, MAX64, MAX64 - 0xfff, MAX64);
  assert_alloc_sz (top, 0x1000, ASM_FIT_HIGHEST, MAX64 - 0x1fff);
  assert_alloc_sz (top, 0xe000, ASM_FIT_LOWEST, MAX64 - 0xffff);
  r = req_new (0x1000, ASM_FIT_LOWEST);
  assert_alloc_fails (top, &r, ASM_ERROR_NO_SPACE);
  assert_free (top, MAX64 - 0xfff);
  assert_alloc_sz (top, 0x1000, ASM_FIT_NEXT, MAX64 - 0xfff);
  assert_free (top, MAX64 - 0xfff);
  assert_reserve (top, MAX64 - 0xfff, MAX64);
  assert_lookup_res (top, MAX64 - 0x800, MAX64 - 0xfff, MAX64);
  assert_free (top, MAX64 - 0xfff);
  assert_layout (top, SEG_A (MAX64 - 0xffff, MAX64 - 0x2000),
                 SEG_A (MAX64 - 0x1fff, MAX64 - 0x1000),
                 SEG_F (MAX64 - 0xfff, MAX64));
  assert_check (top);

  assert_alloc_sz (top1, 1, ASM_FIT_HIGHEST, MAX64);
  assert_alloc_sz (top1, 9, ASM_FIT_HIGHEST, MAX64 - 9);
  assert_stats (top1, 10, 10, 0, 0, 1, 2, 0, 0, 0);
  assert_check (top1);

  /* The whole space as one span, quantum 1 and quantum 4096. */
  for (guint q = 1; q <= 4096; q *= 4096)
    {
      g_autoptr(AsmArena) w = arena_new_span ("whole", q, 0, MAX64);

      assert_stats (w, MAX64, 0, 0, MAX64, 1, 0, 0, 1, MAX64);
      assert_int_equal (asm_arena_largest_free_within (w, 0, MAX64), MAX64);
      assert_alloc_sz (w, q, ASM_FIT_LOWEST, 0);
      assert_alloc_sz (w, q, ASM_FIT_HIGHEST, MAX64 - q + 1);
      assert_stats (w, MAX64, 2 * q, 0, MAX64 - 2 * q + 1, 1, 2, 0, 1,
                    MAX64 - 2 * q + 1);
      assert_layout (w, SEG_A (0, q - 1), SEG_F (q, MAX64 - q),
                     SEG_A (MAX64 - q + 1, MAX64));
      assert_lookup_alloc (w, MAX64, MAX64 - q + 1, MAX64);
      assert_lookup_alloc (w, 0, 0, q - 1);
      assert_no_lookup (w, q);
      assert_check (w);
      assert_free (w, 0);
      assert_free (w, MAX64 - q + 1);

      /* The largest allocation there is: 2^64 - q units. */
      assert_alloc_sz (w, MAX64 - q + 1, ASM_FIT_HIGHEST, q);
      assert_stats (w, MAX64, MAX64 - q + 1, 0, q, 1, 1, 0, 1, q);
      assert_alloc_sz (w, q, ASM_FIT_LOWEST, 0);
      /* allocated_units is 2^64: saturates. */
      assert_stats (w, MAX64, MAX64, 0, 0, 1, 2, 0, 0, 0);
      r = req_new (q, ASM_FIT_LOWEST);
      assert_alloc_fails (w, &r, ASM_ERROR_NO_SPACE);
      assert_check (w);
      assert_free (w, q);
      assert_free (w, 0);
      assert_alloc_sz (w, MAX64 - q + 1, ASM_FIT_LOWEST, 0);
      assert_free (w, 0);

      /* Reserving the whole space saturates reserved_units. */
      assert_reserve (w, 0, MAX64);
      assert_stats (w, MAX64, 0, MAX64, 0, 1, 0, 1, 0, 0);
      assert_lookup_res (w, 0x123456789000, 0, MAX64);
      assert_free (w, 0);

      /* The highest power-of-two alignment. */
      r = req_new (q, ASM_FIT_HIGHEST);
      r.align = G_GUINT64_CONSTANT (1) << 63;
      assert_probe (w, &r, G_GUINT64_CONSTANT (1) << 63);
      r.fit = ASM_FIT_LOWEST;
      assert_probe (w, &r, 0);
      r.min = 1;
      assert_probe (w, &r, G_GUINT64_CONSTANT (1) << 63);

      /* min/max at the edges of the space. */
      r = req_new (MAX64 - q + 1, ASM_FIT_LOWEST);
      r.min = 1;
      assert_probe (w, &r, q);
      r.min = q + 1;
      assert_alloc_fails (w, &r, ASM_ERROR_NO_SPACE);
      r.min = 0;
      r.max = MAX64 - 1;
      assert_probe (w, &r, 0);
      r.max = MAX64 - q;
      assert_probe (w, &r, 0);
      r.max = MAX64 - q - 1;
      assert_alloc_fails (w, &r, ASM_ERROR_NO_SPACE);
      assert_stats (w, MAX64, 0, 0, MAX64, 1, 0, 0, 1, MAX64);
      assert_check (w);
    }

  /* A huge size in a small arena is NO_SPACE, not an overflow. */
  r = req_new (MAX64, ASM_FIT_LOWEST);
  assert_alloc_fails (zero, &r, ASM_ERROR_NO_SPACE);
  r.fit = ASM_FIT_HIGHEST;
  assert_alloc_fails (top1, &r, ASM_ERROR_NO_SPACE);
  r = req_new (MAX64 - 0xfff, ASM_FIT_HIGHEST);
  assert_alloc_fails (top, &r, ASM_ERROR_NO_SPACE);
  r.fit = ASM_FIT_BEST;
  assert_alloc_fails (top, &r, ASM_ERROR_NO_SPACE);
}

/* 9. Top-down vs bottom-up near a limit gives the documented address. */
static void
test_bug9_limit_top_down_bottom_up (void **state)
{
  g_autoptr(AsmArena) a = arena_new_span ("limit", 0x1000, 0, 8 * GiB - 1);
  g_autoptr(AsmArena) c = arena_new_span ("limit-ids", 1, 0, 0x1ff);
  AsmRequest hi = req_new (0x1000, ASM_FIT_HIGHEST);
  AsmRequest lo = req_new (0x1000, ASM_FIT_LOWEST);

  assert_probe (a, &hi, 8 * GiB - 0x1000);
  hi.max = 0xffffffff;
  assert_probe (a, &hi, 0xfffff000);
  hi.max = 0xfffffffe;       /* not a quantum boundary */
  assert_probe (a, &hi, 0xffffe000);
  hi.max = 0x100000000;      /* last unit may be 0x100000000 */
  assert_probe (a, &hi, 0xfffff000);
  hi.max = 0x100000ffe;
  assert_probe (a, &hi, 0xfffff000);
  hi.max = 0x100000fff;
  assert_probe (a, &hi, 0x100000000);

  lo.min = 0x80000000;
  assert_probe (a, &lo, 0x80000000);
  lo.min = 0x80000001;       /* not a quantum multiple */
  assert_probe (a, &lo, 0x80001000);
  lo.min = 0x7fffffff;
  assert_probe (a, &lo, 0x80000000);

  /* With alignment. */
  hi = req_new (0x2000, ASM_FIT_HIGHEST);
  hi.align = 0x100000;
  hi.max = 0xffffffff;
  assert_probe (a, &hi, 0xfff00000);
  lo = req_new (0x2000, ASM_FIT_LOWEST);
  lo.align = 0x100000;
  lo.min = 0x80000001;
  assert_probe (a, &lo, 0x80100000);

  /* A window of one place between unaligned limits. */
  hi = req_new (0x1000, ASM_FIT_HIGHEST);
  hi.min = 0x80000001;
  hi.max = 0x80001fff;
  assert_probe (a, &hi, 0x80001000);
  hi.fit = ASM_FIT_LOWEST;
  assert_probe (a, &hi, 0x80001000);
  hi.max = 0x80001ffe;
  assert_alloc_fails (a, &hi, ASM_ERROR_NO_SPACE);
  hi.fit = ASM_FIT_HIGHEST;
  assert_alloc_fails (a, &hi, ASM_ERROR_NO_SPACE);

  /* BEST: the lowest satisfying address inside the chosen segment. */
  hi = req_new (0x1000, ASM_FIT_BEST);
  hi.max = 0xffffffff;
  assert_probe (a, &hi, 0);
  hi.min = 0x12345;
  assert_probe (a, &hi, 0x13000);

  /* Consecutive top-down allocations under the limit. */
  hi = req_new (0x1000, ASM_FIT_HIGHEST);
  hi.max = 0xffffffff;
  assert_alloc (a, &hi, 0xfffff000);
  assert_alloc (a, &hi, 0xffffe000);
  lo = req_new (0x1000, ASM_FIT_LOWEST);
  lo.min = 0xfffff000;
  lo.max = 0xffffffff;
  assert_alloc_fails (a, &lo, ASM_ERROR_NO_SPACE);
  lo.min = 0xffffd000;
  assert_alloc (a, &lo, 0xffffd000);
  lo.min = 0xffffd000;
  lo.max = G_MAXUINT64;
  assert_alloc (a, &lo, 0x100000000);
  assert_check (a);

  /* Quantum 1. */
  hi = req_new (3, ASM_FIT_HIGHEST);
  hi.max = 0xff;
  assert_probe (c, &hi, 0xfd);
  hi.align = 4;
  assert_probe (c, &hi, 0xfc);
  lo = req_new (3, ASM_FIT_LOWEST);
  lo.min = 0x101;
  assert_probe (c, &lo, 0x101);
  lo.align = 4;
  assert_probe (c, &lo, 0x104);
  assert_check (c);
}

/* 10. PCI: 32 devices on bus 0 with 00:00.0 reserved: 31 slots at .0 first;
 * a segment other than 0 works. */
#define PCI_ID(seg, bus, slot, fn) \
  (((guint64) (seg) << 16) | ((guint64) (bus) << 8) | \
   ((guint64) (slot) << 3) | (guint64) (fn))

static void
fill_pci_bus (AsmArena *a, guint seg, guint64 min, guint64 max)
{
  AsmRequest r = req_new (1, ASM_FIT_LOWEST);
  g_autoptr(GError) error = NULL;

  r.align = 8;
  r.min = min;
  r.max = max;
  for (guint slot = 1; slot < 32; slot++)
    assert_alloc (a, &r, PCI_ID (seg, 0, slot, 0));
  error = alloc_error (a, &r, ASM_ERROR_NO_SPACE);
  assert_true (message_mentions (error->message, 1));
}

static void
test_bug10_pci_slots_host_bridge_reserved (void **state)
{
  g_autoptr(AsmArena) s0 = arena_new_span ("pci-0000", 1, PCI_ID (0, 0, 0, 0),
                                           PCI_ID (0, 0, 31, 7));
  g_autoptr(AsmArena) s1 = arena_new_span ("pci-0001", 1, PCI_ID (1, 0, 0, 0),
                                           PCI_ID (1, 0, 31, 7));
  g_autoptr(AsmArena) both = asm_arena_new ("pci", 1);
  AsmRequest fn = req_new (1, ASM_FIT_LOWEST);

  assert_int_equal (PCI_ID (0, 0, 31, 7), 0xff);

  assert_reserve (s0, PCI_ID (0, 0, 0, 0), PCI_ID (0, 0, 0, 0));
  fill_pci_bus (s0, 0, 0, G_MAXUINT64);
  /* Functions come after the slots are used up. */
  assert_alloc (s0, &fn, PCI_ID (0, 0, 0, 1));
  assert_stats (s0, 256, 32, 1, 223, 1, 32, 1, 32, 7);
  assert_check (s0);

  assert_reserve (s1, PCI_ID (1, 0, 0, 0), PCI_ID (1, 0, 0, 0));
  fill_pci_bus (s1, 1, 0, G_MAXUINT64);
  assert_alloc (s1, &fn, PCI_ID (1, 0, 0, 1));
  assert_check (s1);

  /* Both segments in one arena, picked by min/max. */
  add_span (both, PCI_ID (0, 0, 0, 0), PCI_ID (0, 0, 31, 7));
  add_span (both, PCI_ID (1, 0, 0, 0), PCI_ID (1, 0, 31, 7));
  assert_reserve (both, PCI_ID (0, 0, 0, 0), PCI_ID (0, 0, 0, 0));
  assert_reserve (both, PCI_ID (1, 0, 0, 0), PCI_ID (1, 0, 0, 0));
  fill_pci_bus (both, 1, PCI_ID (1, 0, 0, 0), PCI_ID (1, 0xff, 31, 7));
  fill_pci_bus (both, 0, 0, PCI_ID (0, 0xff, 31, 7));
  assert_stats (both, 512, 62, 2, 448, 2, 62, 2, 64, 7);
  assert_check (both);
}

/* ---------------------------------------------------------------------- */
/* Request validation (DESIGN.md section 4)                               */
/* ---------------------------------------------------------------------- */

/* quantum 0x1000, span [0, 0xfffff], [0, 0x2fff] allocated,
 * [0x10000, 0x10fff] reserved */
static AsmArena *
validation_arena (void)
{
  AsmArena *a = arena_new_span ("validate", 0x1000, 0, 0xfffff);
  AsmRequest r = req_new (0x3000, ASM_FIT_LOWEST);

  assert_alloc (a, &r, 0);
  assert_reserve (a, 0x10000, 0x10fff);
  return a;
}

/* alloc_full and move both refuse @req with INVALID, name @v1 or @v2 in the
 * message, and leave the arena unchanged. */
static void
invalid_request_at (AsmArena *a, const AsmRequest *req, guint64 v1,
                    guint64 v2, const char *file, int line)
{
  g_autoptr(GError) e1 = alloc_error_at (a, req, ASM_ERROR_INVALID, file,
                                         line);
  g_autoptr(GError) e2 = move_error_at (a, 0, req, ASM_ERROR_INVALID, file,
                                        line);
  g_autoptr(GError) e3 = move_error_at (a, 0x50000, req, ASM_ERROR_INVALID,
                                        file, line);

  if (!message_mentions (e1->message, v1) &&
      !message_mentions (e1->message, v2))
    FAIL_AT (file, line, "alloc_full message \"%s\" names neither " X
             " nor " X, e1->message, v1, v2);
  if (!message_mentions (e2->message, v1) &&
      !message_mentions (e2->message, v2))
    FAIL_AT (file, line, "move message \"%s\" names neither " X " nor " X,
             e2->message, v1, v2);
  assert_check_at (a, file, line);
}
#define assert_invalid_request(a, req, v) \
  invalid_request_at ((a), (req), (v), (v), __FILE__, __LINE__)
#define assert_invalid_request2(a, req, v1, v2) \
  invalid_request_at ((a), (req), (v1), (v2), __FILE__, __LINE__)

static void
test_request_size_zero (void **state)
{
  g_autoptr(AsmArena) a = validation_arena ();
  g_autoptr(GError) error = NULL;
  AsmRequest r = req_new (0, ASM_FIT_LOWEST);
  guint64 addr = 0;
  Snapshot before;

  assert_invalid_request (a, &r, 0);
  r.fit = ASM_FIT_HIGHEST;
  assert_invalid_request (a, &r, 0);

  snapshot_take (a, &before);
  assert_false (asm_arena_alloc (a, 0, &addr, &error));
  check_error_at (error, ASM_ERROR_INVALID, "alloc", __FILE__, __LINE__);
  assert_unchanged_at (a, &before, "alloc", __FILE__, __LINE__);
  snapshot_clear (&before);
}

static void
test_request_size_not_quantum_multiple (void **state)
{
  g_autoptr(AsmArena) a = validation_arena ();
  g_autoptr(GError) error = NULL;
  AsmRequest r = req_new (0x1800, ASM_FIT_LOWEST);
  guint64 addr = 0;
  Snapshot before;

  assert_invalid_request (a, &r, 0x1800);
  r.size = 0x7ff;
  assert_invalid_request (a, &r, 0x7ff);
  r.size = G_MAXUINT64;
  assert_invalid_request (a, &r, G_MAXUINT64);

  snapshot_take (a, &before);
  assert_false (asm_arena_alloc (a, 0x1800, &addr, &error));
  check_error_at (error, ASM_ERROR_INVALID, "alloc", __FILE__, __LINE__);
  assert_true (message_mentions (error->message, 0x1800));
  assert_unchanged_at (a, &before, "alloc", __FILE__, __LINE__);
  snapshot_clear (&before);
}

static void
test_request_align_not_power_of_two (void **state)
{
  g_autoptr(AsmArena) a = validation_arena ();
  AsmRequest r = req_new (0x1000, ASM_FIT_LOWEST);

  r.align = 0x3000;
  assert_invalid_request (a, &r, 0x3000);
  r.align = G_MAXUINT64;
  assert_invalid_request (a, &r, G_MAXUINT64);
  r.align = 0x11000;
  r.fit = ASM_FIT_BEST;
  assert_invalid_request (a, &r, 0x11000);
}

static void
test_request_align_below_quantum (void **state)
{
  g_autoptr(AsmArena) a = validation_arena ();
  AsmRequest r = req_new (0x1000, ASM_FIT_LOWEST);

  r.align = 0x800;
  assert_invalid_request (a, &r, 0x800);
  r.align = 1;
  r.fit = ASM_FIT_NEXT;
  assert_invalid_request (a, &r, 1);
}

static void
test_request_phase_not_below_align (void **state)
{
  g_autoptr(AsmArena) a = validation_arena ();
  AsmRequest r = req_new (0x1000, ASM_FIT_LOWEST);

  r.align = 0x2000;
  r.phase = 0x2000;
  assert_invalid_request (a, &r, 0x2000);
  r.phase = 0x5000;
  assert_invalid_request (a, &r, 0x5000);
  /* align 0 means the quantum: the only phase is 0. */
  r.align = 0;
  r.phase = 0x1000;
  assert_invalid_request (a, &r, 0x1000);
}

static void
test_request_phase_not_quantum_multiple (void **state)
{
  g_autoptr(AsmArena) a = validation_arena ();
  AsmRequest r = req_new (0x1000, ASM_FIT_LOWEST);

  r.align = 0x4000;
  r.phase = 0x800;
  assert_invalid_request (a, &r, 0x800);
  r.phase = 0x1001;
  r.fit = ASM_FIT_HIGHEST;
  assert_invalid_request (a, &r, 0x1001);
}

static void
test_request_nocross_not_power_of_two (void **state)
{
  g_autoptr(AsmArena) a = validation_arena ();
  AsmRequest r = req_new (0x1000, ASM_FIT_LOWEST);

  r.nocross = 0x3000;
  assert_invalid_request (a, &r, 0x3000);
  r.nocross = 0x101000;
  assert_invalid_request (a, &r, 0x101000);
}

static void
test_request_nocross_below_size (void **state)
{
  g_autoptr(AsmArena) a = validation_arena ();
  AsmRequest r = req_new (0x4000, ASM_FIT_LOWEST);

  r.nocross = 0x2000;
  assert_invalid_request2 (a, &r, 0x2000, 0x4000);
  r.nocross = 0x1000;
  r.size = 0x2000;
  assert_invalid_request2 (a, &r, 0x1000, 0x2000);
}

static void
test_request_min_above_max (void **state)
{
  g_autoptr(AsmArena) a = validation_arena ();
  AsmRequest r = req_new (0x1000, ASM_FIT_LOWEST);

  r.min = 0x5000;
  r.max = 0x4fff;
  assert_invalid_request2 (a, &r, 0x5000, 0x4fff);
  r.min = G_MAXUINT64;
  r.max = 0;
  r.fit = ASM_FIT_HIGHEST;
  assert_invalid_request2 (a, &r, G_MAXUINT64, 0);
}

/* The boundary values of each rule are valid. */
static void
test_request_boundary_values_valid (void **state)
{
  g_autoptr(AsmArena) a = arena_new_span ("valid", 1, 0, 0xffff);
  g_autoptr(AsmArena) q = validation_arena ();
  AsmRequest r = req_new (1, ASM_FIT_LOWEST);

  r.min = 5;
  r.max = 5;                      /* min == max */
  assert_probe (a, &r, 5);
  r = req_new (8, ASM_FIT_LOWEST);
  r.nocross = 8;                  /* nocross == size */
  r.min = 1;
  assert_probe (a, &r, 8);
  r = req_new (1, ASM_FIT_LOWEST);
  r.align = 0x1000;
  r.phase = 0xfff;                /* phase == align - quantum */
  assert_probe (a, &r, 0xfff);
  r.align = 1;                    /* align == quantum */
  r.phase = 0;
  assert_probe (a, &r, 0);
  r.align = G_GUINT64_CONSTANT (1) << 63;
  assert_probe (a, &r, 0);
  r.fit = ASM_FIT_HIGHEST;
  assert_probe (a, &r, 0);
  assert_check (a);

  r = req_new (0x1000, ASM_FIT_LOWEST);
  r.align = 0x1000;
  assert_probe (q, &r, 0x3000);
  r.align = 0x4000;
  r.phase = 0x3000;
  assert_probe (q, &r, 0x3000);
  r.nocross = 0x1000;
  assert_probe (q, &r, 0x3000);
  assert_check (q);
}

/* INVALID is reported before NO_SPACE: an invalid request on a full arena is
 * INVALID; a valid one is NO_SPACE. */
static void
test_request_invalid_before_no_space (void **state)
{
  g_autoptr(AsmArena) a = validation_arena ();
  g_autoptr(AsmArena) empty = asm_arena_new ("empty", 0x1000);
  g_autoptr(GError) error = NULL;
  AsmRequest r = req_new (0x1000, ASM_FIT_LOWEST);

  /* Fill it. */
  r.size = 0xd000;
  assert_alloc (a, &r, 0x3000);
  r.size = 0xef000;
  assert_alloc (a, &r, 0x11000);
  assert_stats (a, 0x100000, 0xff000, 0x1000, 0, 1, 3, 1, 0, 0);

  r.size = 0x1000;
  error = alloc_error (a, &r, ASM_ERROR_NO_SPACE);
  g_clear_error (&error);
  r.size = 0x1800;
  assert_invalid_request (a, &r, 0x1800);
  r.size = 0;
  assert_invalid_request (a, &r, 0);
  r.size = 0x1000;
  r.align = 0x3000;
  assert_invalid_request (a, &r, 0x3000);
  r.align = 0x800;
  assert_invalid_request (a, &r, 0x800);
  r.align = 0x2000;
  r.phase = 0x2000;
  assert_invalid_request (a, &r, 0x2000);
  r.phase = 0x800;
  assert_invalid_request (a, &r, 0x800);
  r.align = 0;
  r.phase = 0;
  r.nocross = 0x3000;
  assert_invalid_request (a, &r, 0x3000);
  r.size = 0x4000;
  r.nocross = 0x2000;
  assert_invalid_request2 (a, &r, 0x2000, 0x4000);
  r.size = 0x1000;
  r.nocross = 0;
  r.min = 0x200000;   /* beyond every span as well */
  r.max = 0x1fffff;
  assert_invalid_request2 (a, &r, 0x200000, 0x1fffff);
  assert_check (a);

  /* An arena with no span at all. */
  r = req_new (0x1000, ASM_FIT_LOWEST);
  assert_alloc_fails (empty, &r, ASM_ERROR_NO_SPACE);
  r.size = 0x1800;
  assert_alloc_fails (empty, &r, ASM_ERROR_INVALID);
  r.size = 0x1000;
  r.min = 1;
  r.max = 0;
  assert_alloc_fails (empty, &r, ASM_ERROR_INVALID);
  assert_stats (empty, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  assert_check (empty);
}

/* NO_SPACE messages are informative: they name the size requested. */
static void
test_no_space_message_names_size (void **state)
{
  g_autoptr(AsmArena) a = arena_new_span ("msg", 0x1000, 0, 0xffff);
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(GError) e3 = NULL;
  AsmRequest r = req_new (0x20000, ASM_FIT_LOWEST);

  e1 = alloc_error (a, &r, ASM_ERROR_NO_SPACE);
  assert_true (message_mentions (e1->message, 0x20000));
  r = req_new (0x3000, ASM_FIT_HIGHEST);
  r.min = 0xe000;
  e2 = alloc_error (a, &r, ASM_ERROR_NO_SPACE);
  assert_true (message_mentions (e2->message, 0x3000));
  r = req_new (0x5000, ASM_FIT_BEST);
  r.align = 0x8000;
  r.nocross = 0x8000;
  r.min = 0x9000;
  e3 = alloc_error (a, &r, ASM_ERROR_NO_SPACE);
  assert_true (message_mentions (e3->message, 0x5000));
  assert_check (a);
}

/* ---------------------------------------------------------------------- */
/* Spans                                                                  */
/* ---------------------------------------------------------------------- */

static void
test_arena_new_properties (void **state)
{
  g_autoptr(AsmArena) a = asm_arena_new ("props", 0x1000);
  g_autoptr(AsmArena) b = asm_arena_new ("ids", 1);
  AsmArena *ref;

  assert_string_equal (asm_arena_get_name (a), "props");
  assert_int_equal (asm_arena_get_quantum (a), 0x1000);
  assert_int_equal (asm_arena_get_quantum (b), 1);
  assert_stats (a, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  assert_int_equal (asm_arena_largest_free_within (a, 0, MAX64), 0);
  assert_no_lookup (a, 0);
  {
    g_autoptr(GArray) segs = walk_segments (a);

    assert_int_equal (segs->len, 0);
  }
  ref = asm_arena_ref (a);
  assert_ptr_equal (ref, a);
  asm_arena_unref (ref);
  asm_arena_unref (NULL);
  assert_string_equal (asm_arena_get_name (a), "props");
  assert_check (a);
  assert_check (b);
}

static void
test_add_span_invalid (void **state)
{
  g_autoptr(AsmArena) a = asm_arena_new ("spans", 0x1000);
  g_autoptr(GError) error = NULL;

  /* first > last */
  error = add_span_error_at (a, 0x2000, 0x1fff, ASM_ERROR_INVALID, __FILE__,
                             __LINE__);
  assert_true (message_mentions (error->message, 0x2000) ||
               message_mentions (error->message, 0x1fff));
  g_clear_error (&error);
  assert_add_span_fails (a, MAX64, 0, ASM_ERROR_INVALID);
  /* ends not on quantum boundaries */
  assert_add_span_fails (a, 0x800, 0x1fff, ASM_ERROR_INVALID);
  assert_add_span_fails (a, 0x1000, 0x17ff, ASM_ERROR_INVALID);
  assert_add_span_fails (a, 0x1000, 0x1000, ASM_ERROR_INVALID);
  assert_add_span_fails (a, 0x1000, 0x2000, ASM_ERROR_INVALID);
  assert_add_span_fails (a, 1, MAX64, ASM_ERROR_INVALID);
  assert_add_span_fails (a, 0, MAX64 - 1, ASM_ERROR_INVALID);
  assert_stats (a, 0, 0, 0, 0, 0, 0, 0, 0, 0);

  add_span (a, 0x10000, 0x1ffff);
  /* overlapping the existing span in every way */
  assert_add_span_fails (a, 0x18000, 0x27fff, ASM_ERROR_INVALID);
  assert_add_span_fails (a, 0, 0x10fff, ASM_ERROR_INVALID);
  assert_add_span_fails (a, 0x11000, 0x11fff, ASM_ERROR_INVALID);
  assert_add_span_fails (a, 0x10000, 0x1ffff, ASM_ERROR_INVALID);
  assert_add_span_fails (a, 0, 0xfffff, ASM_ERROR_INVALID);
  assert_add_span_fails (a, 0x1f000, 0x1ffff, ASM_ERROR_INVALID);
  assert_add_span_fails (a, 0, MAX64, ASM_ERROR_INVALID);
  error = add_span_error_at (a, 0x18000, 0x27fff, ASM_ERROR_INVALID, __FILE__,
                             __LINE__);
  assert_non_null (error->message);
  assert_stats (a, 0x10000, 0, 0, 0x10000, 1, 0, 0, 1, 0x10000);
  assert_layout (a, SEG_F (0x10000, 0x1ffff));
  assert_check (a);
}

static void
test_add_span_adjacent_stays_separate (void **state)
{
  g_autoptr(AsmArena) a = asm_arena_new ("adjacent", 0x1000);
  AsmRequest r = req_new (0x8000, ASM_FIT_LOWEST);

  add_span (a, 0x4000, 0x7fff);
  add_span (a, 0, 0x3fff);   /* added below, out of order */
  assert_stats (a, 0x8000, 0, 0, 0x8000, 2, 0, 0, 2, 0x4000);
  assert_layout (a, SEG_F (0, 0x3fff), SEG_F (0x4000, 0x7fff));
  assert_int_equal (asm_arena_largest_free_within (a, 0, MAX64), 0x4000);
  assert_lookup_free (a, 0x3fff, 0, 0x3fff);
  assert_lookup_free (a, 0x4000, 0x4000, 0x7fff);

  /* No allocation crosses from one span into the adjacent one. */
  assert_alloc_fails (a, &r, ASM_ERROR_NO_SPACE);
  r.size = 0x5000;
  assert_alloc_fails (a, &r, ASM_ERROR_NO_SPACE);
  r.fit = ASM_FIT_HIGHEST;
  assert_alloc_fails (a, &r, ASM_ERROR_NO_SPACE);
  r.size = 0x2000;
  r.min = 0x3000;
  r.fit = ASM_FIT_LOWEST;
  assert_probe (a, &r, 0x4000);
  r.min = 0;
  r.max = 0x4fff;
  r.fit = ASM_FIT_HIGHEST;
  assert_probe (a, &r, 0x2000);
  r.max = MAX64;
  r.nocross = 0x8000;   /* no boundary of 0x8000 in the way */
  r.min = 0x3000;
  r.fit = ASM_FIT_LOWEST;
  assert_probe (a, &r, 0x4000);

  r = req_new (0x4000, ASM_FIT_LOWEST);
  assert_alloc (a, &r, 0);
  assert_alloc (a, &r, 0x4000);
  assert_layout (a, SEG_A (0, 0x3fff), SEG_A (0x4000, 0x7fff));
  assert_free (a, 0);
  assert_free (a, 0x4000);
  assert_layout (a, SEG_F (0, 0x3fff), SEG_F (0x4000, 0x7fff));

  /* A third span adjacent above, and one further away. */
  add_span (a, 0x8000, 0x8fff);
  add_span (a, 0x100000, 0x100fff);
  assert_layout (a, SEG_F (0, 0x3fff), SEG_F (0x4000, 0x7fff),
                 SEG_F (0x8000, 0x8fff), SEG_F (0x100000, 0x100fff));
  assert_stats (a, 0xa000, 0, 0, 0xa000, 4, 0, 0, 4, 0x4000);
  assert_check (a);

  /* Two adjacent spans of one unit each in an ID arena. */
  {
    g_autoptr(AsmArena) ids = asm_arena_new ("ids", 1);
    AsmRequest two = req_new (2, ASM_FIT_LOWEST);

    add_span (ids, 5, 5);
    add_span (ids, 6, 6);
    assert_alloc_fails (ids, &two, ASM_ERROR_NO_SPACE);
    assert_layout (ids, SEG_F (5, 5), SEG_F (6, 6));
    assert_check (ids);
  }
}

/* ---------------------------------------------------------------------- */
/* Reservations                                                           */
/* ---------------------------------------------------------------------- */

static void
test_reserve_invalid (void **state)
{
  g_autoptr(AsmArena) a = asm_arena_new ("reserve", 0x1000);
  AsmRequest r = req_new (0x1000, ASM_FIT_LOWEST);

  assert_reserve_fails (a, 0, 0xfff, ASM_ERROR_INVALID);   /* no span */
  add_span (a, 0x10000, 0x1ffff);
  add_span (a, 0x20000, 0x2ffff);

  assert_reserve_fails (a, 0, 0xfff, ASM_ERROR_INVALID);
  assert_reserve_fails (a, 0x30000, 0x30fff, ASM_ERROR_INVALID);
  assert_reserve_fails (a, MAX64 - 0xfff, MAX64, ASM_ERROR_INVALID);
  /* partly outside */
  assert_reserve_fails (a, 0xf000, 0x10fff, ASM_ERROR_INVALID);
  assert_reserve_fails (a, 0x2f000, 0x30fff, ASM_ERROR_INVALID);
  /* crossing two adjacent spans */
  assert_reserve_fails (a, 0x1f000, 0x20fff, ASM_ERROR_INVALID);
  assert_reserve_fails (a, 0x10000, 0x2ffff, ASM_ERROR_INVALID);
  /* not on quantum boundaries */
  assert_reserve_fails (a, 0x10800, 0x10fff, ASM_ERROR_INVALID);
  assert_reserve_fails (a, 0x10000, 0x107ff, ASM_ERROR_INVALID);
  assert_reserve_fails (a, 0x10000, 0x10000, ASM_ERROR_INVALID);
  /* first > last */
  assert_reserve_fails (a, 0x11000, 0x10fff, ASM_ERROR_INVALID);
  assert_reserve_fails (a, 0x12000, 0x10fff, ASM_ERROR_INVALID);

  /* INVALID comes before IN_USE. */
  assert_alloc (a, &r, 0x10000);
  assert_reserve_fails (a, 0x10000, 0x107ff, ASM_ERROR_INVALID);
  assert_reserve_fails (a, 0xf000, 0x10fff, ASM_ERROR_INVALID);
  assert_reserve_fails (a, 0x10000, 0x10fff, ASM_ERROR_IN_USE);
  assert_stats (a, 0x20000, 0x1000, 0, 0x1f000, 2, 1, 0, 2, 0x10000);
  assert_check (a);
}

static void
test_reserve_then_free (void **state)
{
  g_autoptr(AsmArena) a = asm_arena_new ("reserve", 0x1000);
  AsmRequest r = req_new (0x1000, ASM_FIT_LOWEST);

  add_span (a, 0x10000, 0x1ffff);
  add_span (a, 0x20000, 0x2ffff);
  assert_alloc (a, &r, 0x10000);

  assert_reserve (a, 0x12000, 0x13fff);
  assert_stats (a, 0x20000, 0x1000, 0x2000, 0x1d000, 2, 1, 1, 3, 0x10000);
  assert_lookup_res (a, 0x13000, 0x12000, 0x13fff);
  assert_lookup_res (a, 0x12abc, 0x12000, 0x13fff);
  assert_lookup_alloc (a, 0x10fff, 0x10000, 0x10fff);
  assert_layout (a, SEG_A (0x10000, 0x10fff), SEG_F (0x11000, 0x11fff),
                 SEG_R (0x12000, 0x13fff), SEG_F (0x14000, 0x1ffff),
                 SEG_F (0x20000, 0x2ffff));
  /* Allocations go around it. */
  r.size = 0x2000;
  assert_probe (a, &r, 0x14000);
  assert_reserve_fails (a, 0x11000, 0x12fff, ASM_ERROR_IN_USE);

  /* free(first) releases it; free in its middle does not. */
  assert_free_fails (a, 0x13000, ASM_ERROR_NOT_FOUND);
  assert_free (a, 0x12000);
  assert_no_lookup (a, 0x12000);
  assert_free_fails (a, 0x12000, ASM_ERROR_NOT_FOUND);
  assert_stats (a, 0x20000, 0x1000, 0, 0x1f000, 2, 1, 0, 2, 0x10000);

  /* A whole span reserved. */
  assert_reserve (a, 0x20000, 0x2ffff);
  r = req_new (0x1000, ASM_FIT_LOWEST);
  r.min = 0x20000;
  assert_alloc_fails (a, &r, ASM_ERROR_NO_SPACE);
  assert_lookup_res (a, 0x2ffff, 0x20000, 0x2ffff);
  assert_free (a, 0x20000);
  assert_alloc (a, &r, 0x20000);

  /* Single units in an ID arena; a reservation at the span edges. */
  {
    g_autoptr(AsmArena) ids = arena_new_span ("ids", 1, 10, 19);

    assert_reserve (ids, 10, 10);
    assert_reserve (ids, 19, 19);
    assert_reserve (ids, 11, 18);
    assert_stats (ids, 10, 0, 10, 0, 1, 0, 3, 0, 0);
    assert_layout (ids, SEG_R (10, 10), SEG_R (11, 18), SEG_R (19, 19));
    assert_free (ids, 11);
    assert_alloc_sz (ids, 1, ASM_FIT_LOWEST, 11);
    assert_check (ids);
  }
  assert_check (a);
}

/* ---------------------------------------------------------------------- */
/* Fits                                                                   */
/* ---------------------------------------------------------------------- */

/* quantum 1, span [0, 99]; free segments [10,14] (5), [20,27] (8),
 * [30,32] (3), [40,44] (5), [90,99] (10). */
static AsmArena *
fit_arena (void)
{
  AsmArena *a = arena_new_span ("fits", 1, 0, 99);

  assert_reserve (a, 0, 9);
  assert_reserve (a, 15, 19);
  assert_reserve (a, 28, 29);
  assert_reserve (a, 33, 39);
  assert_reserve (a, 45, 89);
  assert_layout (a, SEG_R (0, 9), SEG_F (10, 14), SEG_R (15, 19),
                 SEG_F (20, 27), SEG_R (28, 29), SEG_F (30, 32),
                 SEG_R (33, 39), SEG_F (40, 44), SEG_R (45, 89),
                 SEG_F (90, 99));
  assert_stats (a, 100, 0, 69, 31, 1, 0, 5, 5, 10);
  return a;
}

static void
test_fit_lowest (void **state)
{
  g_autoptr(AsmArena) a = fit_arena ();
  AsmRequest r;

  r = req_new (3, ASM_FIT_LOWEST);
  assert_probe (a, &r, 10);
  r.size = 6;
  assert_probe (a, &r, 20);
  r.size = 9;
  assert_probe (a, &r, 90);
  r.size = 11;
  assert_alloc_fails (a, &r, ASM_ERROR_NO_SPACE);
  r = req_new (2, ASM_FIT_LOWEST);
  r.align = 4;
  assert_probe (a, &r, 12);
  r = req_new (3, ASM_FIT_LOWEST);
  r.align = 8;
  assert_probe (a, &r, 24);
  r = req_new (3, ASM_FIT_LOWEST);
  r.min = 11;
  assert_probe (a, &r, 11);
  r.size = 4;
  r.min = 12;
  assert_probe (a, &r, 20);
  r.min = 0;
  r.max = 19;
  assert_probe (a, &r, 10);
  r.max = 13;
  assert_probe (a, &r, 10);
  r.max = 12;
  assert_alloc_fails (a, &r, ASM_ERROR_NO_SPACE);
  assert_check (a);
}

static void
test_fit_highest (void **state)
{
  g_autoptr(AsmArena) a = fit_arena ();
  AsmRequest r;

  r = req_new (3, ASM_FIT_HIGHEST);
  assert_probe (a, &r, 97);
  r.size = 6;
  assert_probe (a, &r, 94);
  r.max = 50;
  assert_probe (a, &r, 22);
  r.size = 3;
  r.max = 44;
  assert_probe (a, &r, 42);
  r.size = 2;
  r.max = 13;
  assert_probe (a, &r, 12);
  r = req_new (4, ASM_FIT_HIGHEST);
  r.align = 32;
  assert_probe (a, &r, 96);
  r.max = 98;
  assert_alloc_fails (a, &r, ASM_ERROR_NO_SPACE);
  r = req_new (5, ASM_FIT_HIGHEST);
  r.align = 4;
  assert_probe (a, &r, 92);
  /* The highest segment cannot hold it aligned: a lower one does. */
  r.align = 8;
  assert_probe (a, &r, 40);
  r.size = 6;
  assert_alloc_fails (a, &r, ASM_ERROR_NO_SPACE);
  r = req_new (11, ASM_FIT_HIGHEST);
  assert_alloc_fails (a, &r, ASM_ERROR_NO_SPACE);
  assert_check (a);
}

static void
test_fit_best (void **state)
{
  g_autoptr(AsmArena) a = fit_arena ();
  AsmRequest r;

  r = req_new (3, ASM_FIT_BEST);
  assert_probe (a, &r, 30);     /* exact fit */
  r.size = 4;
  assert_probe (a, &r, 10);     /* [10,14] and [40,44] tie: the lowest */
  r.size = 5;
  assert_probe (a, &r, 10);
  r.size = 6;
  assert_probe (a, &r, 20);
  r.size = 9;
  assert_probe (a, &r, 90);
  r.size = 11;
  assert_alloc_fails (a, &r, ASM_ERROR_NO_SPACE);

  /* Segments are not clipped to min/max: [20,27] counts as 8 units even
   * though only [25,27] is above min. */
  r = req_new (3, ASM_FIT_BEST);
  r.min = 25;
  assert_probe (a, &r, 30);
  /* [40,44] counts as 5 units even though only [40,41] is below max. */
  r = req_new (2, ASM_FIT_BEST);
  r.max = 41;
  assert_probe (a, &r, 30);
  /* Inside the chosen segment, its lowest satisfying address. */
  r = req_new (4, ASM_FIT_BEST);
  r.min = 11;
  assert_probe (a, &r, 11);
  r = req_new (1, ASM_FIT_BEST);
  r.min = 42;
  assert_probe (a, &r, 42);
  r = req_new (3, ASM_FIT_BEST);
  r.min = 31;
  assert_probe (a, &r, 40);
  /* Alignment rules out the smaller segments. */
  r = req_new (2, ASM_FIT_BEST);
  r.align = 4;
  assert_probe (a, &r, 12);
  r.align = 8;
  assert_probe (a, &r, 40);
  r = req_new (2, ASM_FIT_BEST);
  r.align = 8;
  r.phase = 3;
  assert_probe (a, &r, 11);
  assert_check (a);
}

static void
test_fit_next (void **state)
{
  g_autoptr(AsmArena) a = fit_arena ();
  g_autoptr(AsmArena) top = arena_new_span ("next-top", 1, MAX64 - 9, MAX64);
  AsmRequest r;

  assert_alloc_sz (a, 2, ASM_FIT_NEXT, 10);    /* none yet: as LOWEST */
  assert_alloc_sz (a, 2, ASM_FIT_NEXT, 12);
  assert_alloc_sz (a, 1, ASM_FIT_LOWEST, 14);  /* does not move the cursor */
  assert_alloc_sz (a, 2, ASM_FIT_HIGHEST, 98); /* neither does this */
  assert_alloc_sz (a, 2, ASM_FIT_NEXT, 20);
  assert_alloc_sz (a, 8, ASM_FIT_NEXT, 90);    /* ends at 97 */
  /* Nothing after 97 fits 5 units: wrap, as LOWEST. */
  assert_alloc_sz (a, 5, ASM_FIT_NEXT, 22);    /* ends at 26 */
  /* A freed earlier allocation is not revisited before wrapping. */
  assert_free (a, 10);
  assert_alloc_sz (a, 1, ASM_FIT_NEXT, 27);
  r = req_new (3, ASM_FIT_NEXT);
  r.max = 35;
  assert_alloc (a, &r, 30);                     /* ends at 32 */
  /* NO_SPACE does not move the cursor. */
  assert_alloc_fails (a, &r, ASM_ERROR_NO_SPACE);
  assert_alloc_sz (a, 1, ASM_FIT_NEXT, 40);
  /* Constraints still apply after the cursor. */
  r = req_new (1, ASM_FIT_NEXT);
  r.align = 4;
  assert_alloc (a, &r, 44);
  /* Nothing after 44 (only [10,11] is free): wrap. */
  assert_alloc_sz (a, 1, ASM_FIT_NEXT, 10);
  assert_alloc_sz (a, 1, ASM_FIT_NEXT, 11);
  assert_layout (a, SEG_R (0, 9), SEG_A (10, 10), SEG_A (11, 11),
                 SEG_A (12, 13), SEG_A (14, 14), SEG_R (15, 19),
                 SEG_A (20, 21), SEG_A (22, 26), SEG_A (27, 27),
                 SEG_R (28, 29), SEG_A (30, 32), SEG_R (33, 39),
                 SEG_A (40, 40), SEG_F (41, 43), SEG_A (44, 44),
                 SEG_R (45, 89), SEG_A (90, 97), SEG_A (98, 99));
  assert_check (a);

  /* The previous NEXT allocation ends at G_MAXUINT64: wrap. */
  assert_alloc_sz (top, 10, ASM_FIT_NEXT, MAX64 - 9);
  assert_free (top, MAX64 - 9);
  assert_alloc_sz (top, 1, ASM_FIT_NEXT, MAX64 - 9);
  assert_alloc_sz (top, 1, ASM_FIT_NEXT, MAX64 - 8);
  assert_check (top);
}

static void
test_fit_next_clone_inherits_cursor (void **state)
{
  g_autoptr(AsmArena) a = fit_arena ();
  g_autoptr(AsmArena) c = NULL;
  g_autoptr(AsmArena) cc = NULL;

  assert_alloc_sz (a, 2, ASM_FIT_NEXT, 10);
  assert_alloc_sz (a, 2, ASM_FIT_NEXT, 12);
  c = asm_arena_clone (a, "clone");
  assert_non_null (c);
  /* Both continue after 13, independently. */
  assert_alloc_sz (c, 2, ASM_FIT_NEXT, 20);
  assert_alloc_sz (c, 2, ASM_FIT_NEXT, 22);
  assert_alloc_sz (a, 2, ASM_FIT_NEXT, 20);
  cc = asm_arena_clone (c, "clone-of-clone");
  assert_alloc_sz (cc, 2, ASM_FIT_NEXT, 24);
  assert_alloc_sz (c, 3, ASM_FIT_NEXT, 24);
  assert_alloc_sz (a, 2, ASM_FIT_NEXT, 22);
  assert_check (a);
  assert_check (c);
  assert_check (cc);
}

static void
test_fit_nocross_phase_and_window (void **state)
{
  g_autoptr(AsmArena) a = arena_new_span ("nocross", 1, 0, 0xff);
  g_autoptr(AsmArena) top = arena_new_span ("nocross-top", 1, MAX64 - 0xff,
                                            MAX64);
  g_autoptr(AsmArena) edge = arena_new_span ("nocross-edge", 1, 0x1f0, 0x20f);
  g_autoptr(AsmArena) q = arena_new_span ("nocross-pages", 0x1000, 0,
                                          0xfffff);
  AsmRequest r;

  /* Would cross 8: placed after the boundary. */
  r = req_new (4, ASM_FIT_LOWEST);
  r.nocross = 8;
  r.min = 6;
  assert_probe (a, &r, 8);
  r.fit = ASM_FIT_BEST;
  assert_probe (a, &r, 8);
  r.fit = ASM_FIT_NEXT;
  assert_probe (a, &r, 8);
  r = req_new (4, ASM_FIT_HIGHEST);
  r.nocross = 8;
  r.max = 10;
  assert_probe (a, &r, 4);
  r = req_new (8, ASM_FIT_LOWEST);
  r.nocross = 8;
  r.min = 1;
  assert_probe (a, &r, 8);
  r = req_new (0x10, ASM_FIT_HIGHEST);
  r.nocross = 0x10;
  r.max = 0xfe;
  assert_probe (a, &r, 0xe0);

  /* With align and phase. */
  r = req_new (4, ASM_FIT_LOWEST);
  r.align = 4;
  r.phase = 2;
  r.nocross = 8;
  assert_probe (a, &r, 2);
  r.min = 3;
  assert_probe (a, &r, 10);
  r.fit = ASM_FIT_HIGHEST;
  assert_probe (a, &r, 0xfa);
  r = req_new (2, ASM_FIT_LOWEST);
  r.align = 16;
  r.phase = 4;
  assert_probe (a, &r, 4);
  r.fit = ASM_FIT_HIGHEST;
  assert_probe (a, &r, 0xf4);

  /* min/max clipping. */
  r = req_new (4, ASM_FIT_LOWEST);
  r.align = 4;
  r.min = 0x41;
  r.max = 0x50;
  assert_probe (a, &r, 0x44);
  r.fit = ASM_FIT_BEST;
  assert_probe (a, &r, 0x44);
  r.fit = ASM_FIT_NEXT;
  assert_probe (a, &r, 0x44);
  r.fit = ASM_FIT_HIGHEST;
  assert_probe (a, &r, 0x4c);
  r.max = 0x46;
  assert_alloc_fails (a, &r, ASM_ERROR_NO_SPACE);
  r.fit = ASM_FIT_LOWEST;
  assert_alloc_fails (a, &r, ASM_ERROR_NO_SPACE);
  /* nocross leaves no room inside the window. */
  r = req_new (4, ASM_FIT_LOWEST);
  r.nocross = 8;
  r.min = 0x45;
  r.max = 0x4a;
  assert_alloc_fails (a, &r, ASM_ERROR_NO_SPACE);
  assert_check (a);

  /* nocross at the top of the space (2^64 is the next boundary). */
  r = req_new (0x10, ASM_FIT_HIGHEST);
  r.nocross = 0x100;
  assert_probe (top, &r, MAX64 - 0xf);
  r.fit = ASM_FIT_LOWEST;
  r.min = MAX64 - 0x1f;
  assert_probe (top, &r, MAX64 - 0x1f);
  r.min = MAX64 - 8;
  assert_alloc_fails (top, &r, ASM_ERROR_NO_SPACE);
  r = req_new (0x100, ASM_FIT_LOWEST);
  r.nocross = G_GUINT64_CONSTANT (1) << 63;
  assert_probe (top, &r, MAX64 - 0xff);
  assert_check (top);

  /* A span across a boundary. */
  r = req_new (0x10, ASM_FIT_LOWEST);
  r.nocross = 0x100;
  r.min = 0x1f1;
  assert_probe (edge, &r, 0x200);
  r.min = 0;
  r.fit = ASM_FIT_HIGHEST;
  r.max = 0x1ff;
  assert_probe (edge, &r, 0x1f0);
  r.max = 0x20e;
  assert_probe (edge, &r, 0x1f0);
  r.size = 0x11;
  r.nocross = 0x20;
  r.max = MAX64;
  assert_alloc_fails (edge, &r, ASM_ERROR_NO_SPACE);
  assert_check (edge);

  /* Quantum 0x1000. */
  r = req_new (0x2000, ASM_FIT_LOWEST);
  r.nocross = 0x4000;
  r.min = 0x3000;
  assert_probe (q, &r, 0x4000);
  r.align = 0x2000;
  r.phase = 0x1000;
  assert_probe (q, &r, 0x5000);
  r.fit = ASM_FIT_HIGHEST;
  assert_probe (q, &r, 0xfd000);
  assert_check (q);
}

/* ---------------------------------------------------------------------- */
/* Lookup                                                                 */
/* ---------------------------------------------------------------------- */

static void
test_lookup (void **state)
{
  g_autoptr(AsmArena) a = arena_new_span ("lookup", 0x1000, 0, 0xffff);
  g_autoptr(AsmArena) empty = asm_arena_new ("empty", 1);
  AsmRequest r = req_new (0x3000, ASM_FIT_LOWEST);

  assert_alloc (a, &r, 0);
  assert_reserve (a, 0x5000, 0x6fff);

  assert_lookup_alloc (a, 0, 0, 0x2fff);
  assert_lookup_alloc (a, 0x1234, 0, 0x2fff);
  assert_lookup_alloc (a, 0x2fff, 0, 0x2fff);
  assert_lookup_res (a, 0x5000, 0x5000, 0x6fff);
  assert_lookup_res (a, 0x5fff, 0x5000, 0x6fff);
  assert_lookup_res (a, 0x6fff, 0x5000, 0x6fff);
  assert_no_lookup (a, 0x3000);       /* free */
  assert_no_lookup (a, 0x4fff);
  assert_no_lookup (a, 0x7000);
  assert_no_lookup (a, 0xffff);
  assert_no_lookup (a, 0x10000);      /* outside every span */
  assert_no_lookup (a, MAX64);
  assert_no_lookup (empty, 0);
  assert_no_lookup (empty, MAX64);

  /* lookup_full also reports free segments (maximal free runs). */
  assert_lookup_free (a, 0x3000, 0x3000, 0x4fff);
  assert_lookup_free (a, 0x4abc, 0x3000, 0x4fff);
  assert_lookup_free (a, 0x7000, 0x7000, 0xffff);
  assert_lookup_free (a, 0xffff, 0x7000, 0xffff);
  {
    AsmRange seg = { 1, 1 };
    AsmSegmentKind kind = ASM_SEGMENT_ALLOCATED;

    assert_false (asm_arena_lookup_full (a, 0x10000, &seg, &kind));
    assert_false (asm_arena_lookup_full (a, MAX64, &seg, &kind));
    assert_false (asm_arena_lookup_full (empty, 0, &seg, &kind));
    /* Both out parameters are optional. */
    assert_true (asm_arena_lookup (a, 0x1000, NULL));
    assert_false (asm_arena_lookup (a, 0x3000, NULL));
    assert_true (asm_arena_lookup_full (a, 0x3000, NULL, NULL));
    assert_true (asm_arena_lookup_full (a, 0x5000, NULL, &kind));
    assert_int_equal (kind, ASM_SEGMENT_RESERVED);
    assert_true (asm_arena_lookup_full (a, 0x5000, &seg, NULL));
    assert_int_equal (seg.first, 0x5000);
    assert_int_equal (seg.last, 0x6fff);
  }
  assert_check (a);
}

/* ---------------------------------------------------------------------- */
/* Clones                                                                 */
/* ---------------------------------------------------------------------- */

static AsmArena *
clone_source (void)
{
  AsmArena *a = asm_arena_new ("orig", 0x1000);
  AsmRequest r = req_new (0x2000, ASM_FIT_LOWEST);

  add_span (a, 0, 0xffff);
  add_span (a, 0x100000, 0x10ffff);
  assert_reserve (a, 0x1000, 0x1fff);
  assert_alloc (a, &r, 0x2000);
  r.size = 0x1000;
  assert_alloc (a, &r, 0);
  assert_layout (a, SEG_A (0, 0xfff), SEG_R (0x1000, 0x1fff),
                 SEG_A (0x2000, 0x3fff), SEG_F (0x4000, 0xffff),
                 SEG_F (0x100000, 0x10ffff));
  return a;
}

static void
test_clone_copies_everything (void **state)
{
  g_autoptr(AsmArena) a = clone_source ();
  g_autoptr(AsmArena) c = asm_arena_clone (a, "copy");
  g_autoptr(AsmArena) e = asm_arena_new ("empty", 1);
  g_autoptr(AsmArena) ec = asm_arena_clone (e, "empty-copy");

  assert_non_null (c);
  assert_true (c != a);
  assert_string_equal (asm_arena_get_name (c), "copy");
  assert_string_equal (asm_arena_get_name (a), "orig");
  assert_int_equal (asm_arena_get_quantum (c), 0x1000);
  assert_same_layout (a, c);
  assert_lookup_alloc (c, 0x3000, 0x2000, 0x3fff);
  assert_lookup_res (c, 0x1000, 0x1000, 0x1fff);
  assert_check (c);
  /* Allocations, reservations and spans of the clone are real ones. */
  assert_free (c, 0x2000);
  assert_free (c, 0x1000);
  assert_add_span_fails (c, 0x100000, 0x100fff, ASM_ERROR_INVALID);
  assert_check (c);

  assert_non_null (ec);
  assert_stats (ec, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  assert_int_equal (asm_arena_get_quantum (ec), 1);
  add_span (ec, 0, 9);
  assert_stats (e, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  assert_check (ec);
}

static void
test_clone_independent (void **state)
{
  g_autoptr(AsmArena) a = clone_source ();
  g_autoptr(AsmArena) c = asm_arena_clone (a, "clone");
  g_autoptr(AsmArena) cc = NULL;
  AsmRequest r = req_new (0x1000, ASM_FIT_LOWEST);

  /* alloc in the clone */
  assert_alloc (c, &r, 0x4000);
  assert_no_lookup (a, 0x4000);
  assert_alloc (a, &r, 0x4000);          /* the original still has it free */
  assert_alloc (a, &r, 0x5000);
  assert_no_lookup (c, 0x5000);
  /* free in the original */
  assert_free (a, 0x2000);
  assert_lookup_alloc (c, 0x2000, 0x2000, 0x3fff);
  /* reserve in the clone */
  assert_reserve (c, 0x100000, 0x100fff);
  assert_no_lookup (a, 0x100000);
  /* add a span to the clone */
  add_span (c, 0x200000, 0x200fff);
  assert_stats (a, 0x20000, 0x3000, 0x1000, 0x1c000, 2, 3, 1, 3, 0x10000);
  assert_stats (c, 0x21000, 0x4000, 0x2000, 0x1b000, 3, 3, 2, 3, 0xf000);
  assert_layout (a, SEG_A (0, 0xfff), SEG_R (0x1000, 0x1fff),
                 SEG_F (0x2000, 0x3fff), SEG_A (0x4000, 0x4fff),
                 SEG_A (0x5000, 0x5fff), SEG_F (0x6000, 0xffff),
                 SEG_F (0x100000, 0x10ffff));
  assert_layout (c, SEG_A (0, 0xfff), SEG_R (0x1000, 0x1fff),
                 SEG_A (0x2000, 0x3fff), SEG_A (0x4000, 0x4fff),
                 SEG_F (0x5000, 0xffff), SEG_R (0x100000, 0x100fff),
                 SEG_F (0x101000, 0x10ffff), SEG_F (0x200000, 0x200fff));

  /* A clone of a clone. */
  cc = asm_arena_clone (c, "clone2");
  assert_same_layout (c, cc);
  assert_free (cc, 0);
  assert_lookup_alloc (c, 0, 0, 0xfff);
  assert_lookup_alloc (a, 0, 0, 0xfff);
  assert_free (c, 0x4000);
  assert_lookup_alloc (cc, 0x4000, 0x4000, 0x4fff);
  assert_reserve (a, 0x6000, 0x6fff);
  assert_no_lookup (c, 0x6000);
  assert_no_lookup (cc, 0x6000);
  assert_check (a);
  assert_check (c);
  assert_check (cc);

  /* A failed call on a clone leaves the original alone too. */
  {
    Snapshot before;

    snapshot_take (a, &before);
    r.size = 0x1800;
    assert_alloc_fails (c, &r, ASM_ERROR_INVALID);
    assert_free_fails (c, 0x7000, ASM_ERROR_NOT_FOUND);
    assert_unchanged_at (a, &before, "calls on the clone", __FILE__,
                         __LINE__);
    snapshot_clear (&before);
  }
}

static void
test_clone_outlives_original (void **state)
{
  AsmArena *a = clone_source ();
  g_autoptr(AsmArena) c = asm_arena_clone (a, "survivor");
  g_autoptr(AsmArena) cc = asm_arena_clone (c, "survivor2");
  AsmArena *ref;
  AsmRequest r = req_new (0x1000, ASM_FIT_LOWEST);

  ref = asm_arena_ref (a);
  assert_ptr_equal (ref, a);
  asm_arena_unref (ref);
  asm_arena_unref (a);

  assert_layout (c, SEG_A (0, 0xfff), SEG_R (0x1000, 0x1fff),
                 SEG_A (0x2000, 0x3fff), SEG_F (0x4000, 0xffff),
                 SEG_F (0x100000, 0x10ffff));
  assert_alloc (c, &r, 0x4000);
  assert_free (c, 0x2000);
  assert_free (c, 0x1000);
  assert_free (c, 0);
  assert_check (c);
  /* Drop the middle of a chain. */
  g_clear_pointer (&c, asm_arena_unref);
  assert_layout (cc, SEG_A (0, 0xfff), SEG_R (0x1000, 0x1fff),
                 SEG_A (0x2000, 0x3fff), SEG_F (0x4000, 0xffff),
                 SEG_F (0x100000, 0x10ffff));
  assert_alloc (cc, &r, 0x4000);
  assert_check (cc);
}

/* ---------------------------------------------------------------------- */
/* ID mode                                                                */
/* ---------------------------------------------------------------------- */

static void
test_id_mode (void **state)
{
  g_autoptr(AsmArena) a = arena_new_span ("domain-ids", 1, 0, 255);
  g_autoptr(GError) error = NULL;
  guint64 id = 0;

  for (guint64 i = 0; i < 256; i++)
    {
      id = G_MAXUINT64;
      assert_true (asm_arena_alloc (a, 1, &id, &error));
      assert_null (error);
      assert_int_equal (id, i);
    }
  assert_false (asm_arena_alloc (a, 1, &id, &error));
  check_error_at (error, ASM_ERROR_NO_SPACE, "alloc", __FILE__, __LINE__);
  g_clear_error (&error);
  assert_stats (a, 256, 256, 0, 0, 1, 256, 0, 0, 0);

  assert_free (a, 17);
  assert_true (asm_arena_alloc (a, 1, &id, &error));
  assert_int_equal (id, 17);
  assert_free (a, 200);
  assert_free (a, 100);
  assert_true (asm_arena_alloc (a, 1, &id, &error));
  assert_int_equal (id, 100);
  assert_true (asm_arena_alloc (a, 1, &id, &error));
  assert_int_equal (id, 200);
  assert_null (error);
  assert_check (a);
}

/* ---------------------------------------------------------------------- */
/* Stats, largest_free_within and walk                                    */
/* ---------------------------------------------------------------------- */

/* quantum 0x1000; spans [0, 0xffff] and [0x20000, 0x27fff] */
static AsmArena *
stats_arena (void)
{
  AsmArena *a = asm_arena_new ("stats", 0x1000);
  AsmRequest r = req_new (0x2000, ASM_FIT_LOWEST);

  add_span (a, 0, 0xffff);
  add_span (a, 0x20000, 0x27fff);
  assert_alloc (a, &r, 0);
  r.size = 0x1000;
  assert_alloc (a, &r, 0x2000);
  assert_reserve (a, 0x8000, 0x9fff);
  assert_reserve (a, 0x20000, 0x20fff);
  r.size = 0x3000;
  r.min = 0x20000;
  assert_alloc (a, &r, 0x21000);
  return a;
}

typedef struct {
  guint calls;
  guint stop_after;
} StopData;

static gboolean
stop_cb (const AsmRange *segment, AsmSegmentKind kind, gpointer user_data)
{
  StopData *d = user_data;

  d->calls++;
  return d->calls < d->stop_after;
}

static void
test_stats_exact (void **state)
{
  g_autoptr(AsmArena) a = stats_arena ();

  assert_stats (a, 0x18000, 0x6000, 0x3000, 0xf000, 2, 3, 2, 3, 0x6000);
  assert_free (a, 0x2000);
  assert_stats (a, 0x18000, 0x5000, 0x3000, 0x10000, 2, 2, 2, 3, 0x6000);
  assert_free (a, 0x8000);
  assert_stats (a, 0x18000, 0x5000, 0x1000, 0x12000, 2, 2, 1, 2, 0xe000);
  assert_free (a, 0x20000);
  assert_stats (a, 0x18000, 0x5000, 0, 0x13000, 2, 2, 0, 3, 0xe000);
  assert_free (a, 0x21000);
  assert_free (a, 0);
  assert_stats (a, 0x18000, 0, 0, 0x18000, 2, 0, 0, 2, 0x10000);
  assert_check (a);
}

static void
test_largest_free_within (void **state)
{
  g_autoptr(AsmArena) a = stats_arena ();

  /* free: [0x3000, 0x7fff], [0xa000, 0xffff], [0x24000, 0x27fff] */
  assert_int_equal (asm_arena_largest_free_within (a, 0, MAX64), 0x6000);
  assert_int_equal (asm_arena_largest_free_within (a, 0, 0x9fff), 0x5000);
  assert_int_equal (asm_arena_largest_free_within (a, 0x4000, 0x7fff), 0x4000);
  assert_int_equal (asm_arena_largest_free_within (a, 0x4000, 0xbfff), 0x4000);
  assert_int_equal (asm_arena_largest_free_within (a, 0xb000, 0x24fff),
                    0x5000);
  assert_int_equal (asm_arena_largest_free_within (a, 0xe000, 0x27fff),
                    0x4000);
  assert_int_equal (asm_arena_largest_free_within (a, 0x20000, 0x23fff), 0);
  assert_int_equal (asm_arena_largest_free_within (a, 0x28000, MAX64), 0);
  assert_int_equal (asm_arena_largest_free_within (a, 0x8000, 0x9fff), 0);
  assert_int_equal (asm_arena_largest_free_within (a, 0x3000, 0x3fff), 0x1000);
  assert_int_equal (asm_arena_largest_free_within (a, 0x3000, 0x3000), 1);
  assert_int_equal (asm_arena_largest_free_within (a, 0x7ffe, 0xa000), 2);
  assert_int_equal (asm_arena_largest_free_within (a, 0x7000, 0x3000), 0);
  assert_check (a);
}

static void
test_walk_order_kinds_and_stop (void **state)
{
  g_autoptr(AsmArena) a = stats_arena ();
  g_autoptr(AsmArena) empty = asm_arena_new ("empty", 1);
  StopData d = { 0, 3 };

  assert_layout (a, SEG_A (0, 0x1fff), SEG_A (0x2000, 0x2fff),
                 SEG_F (0x3000, 0x7fff), SEG_R (0x8000, 0x9fff),
                 SEG_F (0xa000, 0xffff), SEG_R (0x20000, 0x20fff),
                 SEG_A (0x21000, 0x23fff), SEG_F (0x24000, 0x27fff));

  assert_false (asm_arena_walk (a, stop_cb, &d));
  assert_int_equal (d.calls, 3);
  d = (StopData) { 0, 1 };
  assert_false (asm_arena_walk (a, stop_cb, &d));
  assert_int_equal (d.calls, 1);
  d = (StopData) { 0, 8 };       /* stops at the last segment */
  assert_false (asm_arena_walk (a, stop_cb, &d));
  assert_int_equal (d.calls, 8);
  d = (StopData) { 0, 1000 };
  assert_true (asm_arena_walk (a, stop_cb, &d));
  assert_int_equal (d.calls, 8);
  d = (StopData) { 0, 1000 };
  assert_true (asm_arena_walk (empty, stop_cb, &d));
  assert_int_equal (d.calls, 0);
  assert_check (a);
}

/* A tree of tens of thousands of segments emptied from its top end, then
 * from its bottom end.  Freeing the highest allocation merges it into the
 * free tail, so the rightmost leaves and inner nodes underflow one after
 * the other and merge with their left neighbours or borrow from them (the
 * lowest: from the right).  An ascending fill leaves nodes as full as a
 * split leaves them, which only merge; so the lower half is made denser
 * first (each pair of units freed and taken again as two), which fills
 * its nodes up to a split and gives the underflows neighbours to borrow
 * from.  The check and the counts after every few thousand frees must
 * hold. */
static void
test_tree_emptied_from_each_end (void **state)
{
  enum {
    N = 20000,
    EVERY = 2500
  };
  g_autoptr (AsmArena) a = arena_new_span ("ends", 1, 0, 4 * N - 1);
  AsmRequest one = req_new (1, ASM_FIT_LOWEST),
             two = req_new (2, ASM_FIT_LOWEST);
  AsmArenaStats st;
  guint64 addr, n;

  (void) state;
  for (guint64 i = 0; i < N; i++)
    {
      OK (asm_arena_alloc_full (a, &two, &addr, &error));
      assert_int_equal (addr, 2 * i);
    }
  for (guint64 i = 0; i < N / 2; i++)
    {
      OK (asm_arena_free (a, 2 * i, &error));
      OK (asm_arena_alloc_full (a, &one, &addr, &error));
      assert_int_equal (addr, 2 * i);
      OK (asm_arena_alloc_full (a, &one, &addr, &error));
      assert_int_equal (addr, 2 * i + 1);
    }
  assert_check (a);
  n = N + N / 2; /* N / 2 pairs of ones below N, N / 2 twos above */
  for (guint64 top = 2 * N; top > 0;)
    {
      top -= top > N ? 2 : 1;
      OK (asm_arena_free (a, top, &error));
      n--;
      if (n % EVERY == 0)
        {
          assert_check (a);
          asm_arena_get_stats (a, &st);
          assert_int_equal (st.n_allocated, n);
          assert_int_equal (st.free_units, 4 * N - top);
        }
    }
  for (guint64 i = 0; i < 2 * N; i++)
    OK (asm_arena_alloc_full (a, &one, &addr, &error));
  for (guint64 i = N / 2; i < N; i++) /* the lower half denser again */
    {
      OK (asm_arena_free (a, i, &error));
      OK (asm_arena_alloc_full (a, &one, &addr, &error));
    }
  for (guint64 i = 0; i < 2 * N; i++)
    {
      OK (asm_arena_free (a, i, &error));
      if ((i + 1) % EVERY == 0)
        {
          assert_check (a);
          asm_arena_get_stats (a, &st);
          assert_int_equal (st.n_allocated, 2 * N - (i + 1));
          assert_int_equal (st.free_units, 2 * N + i + 1);
        }
    }
  asm_arena_get_stats (a, &st);
  assert_int_equal (st.n_allocated, 0);
  assert_int_equal (st.free_units, 4 * N);
  assert_check (a);
}

/* ---------------------------------------------------------------------- */

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_bug1_hole_reused_after_larger_alloc),
    cmocka_unit_test (test_bug2_dma32_full_then_one_free),
    cmocka_unit_test (test_bug3_exact_aligned_gap_found),
    cmocka_unit_test (test_bug4_alignment_is_absolute),
    cmocka_unit_test (test_bug5_free_unallocated_rejected),
    cmocka_unit_test (test_bug6_failed_move_keeps_allocation),
    cmocka_unit_test (test_move_reservation),
    cmocka_unit_test (test_bug7_reserve_over_allocation_merges_nothing),
    cmocka_unit_test (test_bug8_address_zero_and_top_of_space),
    cmocka_unit_test (test_bug9_limit_top_down_bottom_up),
    cmocka_unit_test (test_bug10_pci_slots_host_bridge_reserved),
    cmocka_unit_test (test_request_size_zero),
    cmocka_unit_test (test_request_size_not_quantum_multiple),
    cmocka_unit_test (test_request_align_not_power_of_two),
    cmocka_unit_test (test_request_align_below_quantum),
    cmocka_unit_test (test_request_phase_not_below_align),
    cmocka_unit_test (test_request_phase_not_quantum_multiple),
    cmocka_unit_test (test_request_nocross_not_power_of_two),
    cmocka_unit_test (test_request_nocross_below_size),
    cmocka_unit_test (test_request_min_above_max),
    cmocka_unit_test (test_request_boundary_values_valid),
    cmocka_unit_test (test_request_invalid_before_no_space),
    cmocka_unit_test (test_no_space_message_names_size),
    cmocka_unit_test (test_arena_new_properties),
    cmocka_unit_test (test_add_span_invalid),
    cmocka_unit_test (test_add_span_adjacent_stays_separate),
    cmocka_unit_test (test_reserve_invalid),
    cmocka_unit_test (test_reserve_then_free),
    cmocka_unit_test (test_fit_lowest),
    cmocka_unit_test (test_fit_highest),
    cmocka_unit_test (test_fit_best),
    cmocka_unit_test (test_fit_next),
    cmocka_unit_test (test_fit_next_clone_inherits_cursor),
    cmocka_unit_test (test_fit_nocross_phase_and_window),
    cmocka_unit_test (test_lookup),
    cmocka_unit_test (test_clone_copies_everything),
    cmocka_unit_test (test_clone_independent),
    cmocka_unit_test (test_clone_outlives_original),
    cmocka_unit_test (test_id_mode),
    cmocka_unit_test (test_stats_exact),
    cmocka_unit_test (test_largest_free_within),
    cmocka_unit_test (test_walk_order_kinds_and_stop),
    cmocka_unit_test (test_tree_emptied_from_each_end),
  };

  return cmocka_run_group_tests_name ("arena", tests, NULL, NULL);
}
