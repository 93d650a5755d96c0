/* test-range.c: unit tests of AsmRangeSet (layer 0)
 *
 * Each test builds sets by hand and compares them with the exact list of
 * ranges expected: adding merges overlapping and adjacent ranges, removing
 * splits, nothing wraps around at G_MAXUINT64, and a refused call leaves the
 * set unchanged.  Also the names of the error codes (asm-error.c, the other
 * half of layer 0).
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

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */
/* ---------------------------------------------------------------------- */

static void
print_set (const char *title, const AsmRangeSet *set)
{
  guint n = asm_range_set_get_n_ranges (set);

  print_error ("  %s (%u ranges):", title, n);
  for (guint i = 0; i < n && i < 32; i++)
    {
      AsmRange r = asm_range_set_get_range (set, i);

      print_error (" [" X ", " X "]", r.first, r.last);
    }
  print_error ("\n");
}

static void
check_at (const AsmRangeSet *set, const char *file, int line)
{
  g_autoptr(GError) error = NULL;

  if (!asm_range_set_check (set, &error))
    FAIL_AT (file, line, "asm_range_set_check failed: %s",
             error ? error->message : "(no error set)");
  if (error != NULL)
    FAIL_AT (file, line, "asm_range_set_check returned TRUE with an error");
}
#define assert_check(set) check_at ((set), __FILE__, __LINE__)

/* The set holds exactly @expected, in order; also runs the check. */
static void
ranges_at (const AsmRangeSet *set, const AsmRange *expected, guint n,
           const char *file, int line)
{
  guint got = asm_range_set_get_n_ranges (set);
  gboolean same = got == n;

  for (guint i = 0; same && i < n; i++)
    {
      AsmRange r = asm_range_set_get_range (set, i);

      same = r.first == expected[i].first && r.last == expected[i].last;
    }
  if (!same)
    {
      print_set ("got", set);
      print_error ("  expected (%u ranges):", n);
      for (guint i = 0; i < n; i++)
        print_error (" [" X ", " X "]", expected[i].first, expected[i].last);
      print_error ("\n");
      FAIL_AT (file, line, "set differs");
    }
  check_at (set, file, line);
}
#define assert_ranges(set, ...) \
  ranges_at ((set), (const AsmRange[]) { __VA_ARGS__ }, \
             G_N_ELEMENTS (((const AsmRange[]) { __VA_ARGS__ })), \
             __FILE__, __LINE__)

static void
empty_at (const AsmRangeSet *set, const char *file, int line)
{
  if (asm_range_set_get_n_ranges (set) != 0)
    {
      print_set ("got", set);
      FAIL_AT (file, line, "set is not empty");
    }
  if (asm_range_set_get_units (set) != 0)
    FAIL_AT (file, line, "empty set has units");
  check_at (set, file, line);
}
#define assert_empty(set) empty_at ((set), __FILE__, __LINE__)

static void
add_at (AsmRangeSet *set, guint64 first, guint64 last, const char *file,
        int line)
{
  g_autoptr(GError) error = NULL;

  if (!asm_range_set_add (set, first, last, &error))
    FAIL_AT (file, line, "add [" X ", " X "] failed: %s", first, last,
             error ? error->message : "(no error set)");
  if (error != NULL)
    FAIL_AT (file, line, "add succeeded with an error set");
}
#define add(set, f, l) add_at ((set), (f), (l), __FILE__, __LINE__)

static void
remove_at (AsmRangeSet *set, guint64 first, guint64 last, const char *file,
           int line)
{
  g_autoptr(GError) error = NULL;

  if (!asm_range_set_remove (set, first, last, &error))
    FAIL_AT (file, line, "remove [" X ", " X "] failed: %s", first, last,
             error ? error->message : "(no error set)");
  if (error != NULL)
    FAIL_AT (file, line, "remove succeeded with an error set");
}
#define remove_range(set, f, l) remove_at ((set), (f), (l), __FILE__, __LINE__)

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

/* ---------------------------------------------------------------------- */
/* Tests                                                                  */
/* ---------------------------------------------------------------------- */

static void
test_range_set_new_empty (void **state)
{
  g_autoptr(AsmRangeSet) s = asm_range_set_new ();

  assert_non_null (s);
  assert_empty (s);
  assert_false (asm_range_set_contains (s, 0));
  assert_false (asm_range_set_contains (s, MAX64));
  assert_false (asm_range_set_contains_range (s, 0, MAX64));
  assert_false (asm_range_set_overlaps (s, 0, MAX64));
  /* _free is NULL-safe. */
  asm_range_set_free (NULL);
}

static void
test_range_set_add_merges_overlapping (void **state)
{
  g_autoptr(AsmRangeSet) s = asm_range_set_new ();

  add (s, 10, 20);
  assert_ranges (s, ASM_RANGE (10, 20));
  add (s, 15, 30);
  assert_ranges (s, ASM_RANGE (10, 30));
  add (s, 5, 12);
  assert_ranges (s, ASM_RANGE (5, 30));
  add (s, 40, 50);
  assert_ranges (s, ASM_RANGE (5, 30), ASM_RANGE (40, 50));
  add (s, 12, 18);     /* contained: no change */
  assert_ranges (s, ASM_RANGE (5, 30), ASM_RANGE (40, 50));
  add (s, 30, 40);     /* touches both ends */
  assert_ranges (s, ASM_RANGE (5, 50));
  add (s, 60, 70);
  add (s, 80, 90);
  add (s, 0, 100);     /* swallows everything */
  assert_ranges (s, ASM_RANGE (0, 100));
  add (s, 7, 7);
  assert_ranges (s, ASM_RANGE (0, 100));
  assert_int_equal (asm_range_set_get_units (s), 101);
}

static void
test_range_set_add_merges_adjacent (void **state)
{
  g_autoptr(AsmRangeSet) s = asm_range_set_new ();

  add (s, 10, 20);
  add (s, 21, 30);
  assert_ranges (s, ASM_RANGE (10, 30));
  add (s, 0, 9);
  assert_ranges (s, ASM_RANGE (0, 30));
  add (s, 32, 40);     /* 31 is missing: stays separate */
  assert_ranges (s, ASM_RANGE (0, 30), ASM_RANGE (32, 40));
  add (s, 31, 31);     /* fills the gap: one range */
  assert_ranges (s, ASM_RANGE (0, 40));

  /* A range bridging several through adjacency only. */
  add (s, 50, 51);
  add (s, 53, 54);
  add (s, 56, 57);
  assert_ranges (s, ASM_RANGE (0, 40), ASM_RANGE (50, 51), ASM_RANGE (53, 54),
                 ASM_RANGE (56, 57));
  add (s, 52, 55);
  assert_ranges (s, ASM_RANGE (0, 40), ASM_RANGE (50, 57));
  add (s, 41, 49);
  assert_ranges (s, ASM_RANGE (0, 57));
}

static void
test_range_set_add_keeps_order (void **state)
{
  g_autoptr(AsmRangeSet) s = asm_range_set_new ();

  add (s, 900, 999);
  add (s, 100, 199);
  add (s, 500, 599);
  add (s, 0, 0);
  add (s, 300, 300);
  assert_ranges (s, ASM_RANGE (0, 0), ASM_RANGE (100, 199),
                 ASM_RANGE (300, 300), ASM_RANGE (500, 599),
                 ASM_RANGE (900, 999));
  assert_int_equal (asm_range_set_get_n_ranges (s), 5);
  assert_int_equal (asm_range_set_get_units (s), 1 + 100 + 1 + 100 + 100);
  /* A range over several ranges and gaps. */
  add (s, 150, 550);
  assert_ranges (s, ASM_RANGE (0, 0), ASM_RANGE (100, 599),
                 ASM_RANGE (900, 999));
}

static void
test_range_set_remove_splits (void **state)
{
  g_autoptr(AsmRangeSet) s = asm_range_set_new ();

  add (s, 0, 100);
  remove_range (s, 10, 20);
  assert_ranges (s, ASM_RANGE (0, 9), ASM_RANGE (21, 100));
  remove_range (s, 0, 0);
  assert_ranges (s, ASM_RANGE (1, 9), ASM_RANGE (21, 100));
  remove_range (s, 100, 100);
  assert_ranges (s, ASM_RANGE (1, 9), ASM_RANGE (21, 99));
  remove_range (s, 50, 50);
  assert_ranges (s, ASM_RANGE (1, 9), ASM_RANGE (21, 49), ASM_RANGE (51, 99));
  assert_int_equal (asm_range_set_get_units (s), 9 + 29 + 49);
  /* Across a gap: trims both sides. */
  remove_range (s, 5, 30);
  assert_ranges (s, ASM_RANGE (1, 4), ASM_RANGE (31, 49), ASM_RANGE (51, 99));
  /* A whole range exactly. */
  remove_range (s, 31, 49);
  assert_ranges (s, ASM_RANGE (1, 4), ASM_RANGE (51, 99));
  /* Over several ranges at once. */
  remove_range (s, 0, 200);
  assert_empty (s);
}

static void
test_range_set_remove_absent (void **state)
{
  g_autoptr(AsmRangeSet) s = asm_range_set_new ();

  remove_range (s, 0, MAX64);   /* nothing to remove */
  assert_empty (s);
  add (s, 10, 20);
  add (s, 40, 50);
  remove_range (s, 500, 600);
  remove_range (s, 21, 39);
  remove_range (s, 0, 9);
  assert_ranges (s, ASM_RANGE (10, 20), ASM_RANGE (40, 50));
  remove_range (s, 15, 45);     /* partly present */
  assert_ranges (s, ASM_RANGE (10, 14), ASM_RANGE (46, 50));
}

static void
test_range_set_contains (void **state)
{
  g_autoptr(AsmRangeSet) s = asm_range_set_new ();

  add (s, 10, 20);
  add (s, 30, 40);

  assert_false (asm_range_set_contains (s, 9));
  assert_true (asm_range_set_contains (s, 10));
  assert_true (asm_range_set_contains (s, 15));
  assert_true (asm_range_set_contains (s, 20));
  assert_false (asm_range_set_contains (s, 21));
  assert_false (asm_range_set_contains (s, 29));
  assert_true (asm_range_set_contains (s, 30));
  assert_true (asm_range_set_contains (s, 40));
  assert_false (asm_range_set_contains (s, 41));
  assert_false (asm_range_set_contains (s, 0));
  assert_false (asm_range_set_contains (s, MAX64));

  assert_true (asm_range_set_contains_range (s, 10, 20));
  assert_true (asm_range_set_contains_range (s, 12, 18));
  assert_true (asm_range_set_contains_range (s, 40, 40));
  assert_false (asm_range_set_contains_range (s, 10, 21));
  assert_false (asm_range_set_contains_range (s, 9, 20));
  assert_false (asm_range_set_contains_range (s, 10, 40));  /* gap inside */
  assert_false (asm_range_set_contains_range (s, 21, 29));
  assert_false (asm_range_set_contains_range (s, 0, MAX64));

  assert_true (asm_range_set_overlaps (s, 0, 10));
  assert_true (asm_range_set_overlaps (s, 20, 30));
  assert_true (asm_range_set_overlaps (s, 15, 16));
  assert_true (asm_range_set_overlaps (s, 40, MAX64));
  assert_true (asm_range_set_overlaps (s, 0, MAX64));
  assert_true (asm_range_set_overlaps (s, 25, 35));
  assert_false (asm_range_set_overlaps (s, 21, 29));
  assert_false (asm_range_set_overlaps (s, 0, 9));
  assert_false (asm_range_set_overlaps (s, 41, MAX64));
  assert_check (s);
}

static void
test_range_set_get_range (void **state)
{
  g_autoptr(AsmRangeSet) s = asm_range_set_new ();
  AsmRange r;

  add (s, 100, 200);
  add (s, 0, 5);
  add (s, MAX64, MAX64);
  assert_int_equal (asm_range_set_get_n_ranges (s), 3);
  r = asm_range_set_get_range (s, 0);
  assert_int_equal (r.first, 0);
  assert_int_equal (r.last, 5);
  r = asm_range_set_get_range (s, 1);
  assert_int_equal (r.first, 100);
  assert_int_equal (r.last, 200);
  r = asm_range_set_get_range (s, 2);
  assert_int_equal (r.first, MAX64);
  assert_int_equal (r.last, MAX64);
  assert_check (s);
}

static void
test_range_set_get_range_bounds (void **state)
{
  g_autoptr(AsmRangeSet) s = asm_range_set_new ();
  g_autoptr(GError) error = NULL;
  guint64 first = 7, last = 7;

  add (s, 100, 200);
  add (s, MAX64, MAX64);
  assert_true (asm_range_set_get_range_bounds (s, 1, &first, &last, &error));
  assert_null (error);
  assert_true (first == MAX64 && last == MAX64);
  assert_true (asm_range_set_get_range_bounds (s, 0, NULL, &last, &error));
  assert_int_equal (last, 200);

  /* an index past the end is an error naming it; outputs stay as they were */
  first = last = 7;
  assert_false (asm_range_set_get_range_bounds (s, 2, &first, &last, &error));
  assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_INVALID));
  assert_non_null (strstr (error->message, "index 2"));
  assert_non_null (strstr (error->message, "2 ranges"));
  assert_true (first == 7 && last == 7);
  g_clear_error (&error);
  assert_false (asm_range_set_get_range_bounds (s, G_MAXUINT, &first, NULL,
                                                &error));
  assert_non_null (strstr (error->message, "4294967295"));
  assert_int_equal (asm_range_set_get_n_ranges (s), 2);
  assert_check (s);
}

static void
test_range_set_units (void **state)
{
  g_autoptr(AsmRangeSet) s = asm_range_set_new ();

  add (s, 0, 9);
  add (s, MAX64 - 9, MAX64);
  assert_int_equal (asm_range_set_get_units (s), 20);
  add (s, 5, MAX64 - 12);
  assert_ranges (s, ASM_RANGE (0, MAX64 - 12), ASM_RANGE (MAX64 - 9, MAX64));
  /* 2^64 - 2 units */
  assert_int_equal (asm_range_set_get_units (s), MAX64 - 1);
  add (s, MAX64 - 11, MAX64 - 11);
  /* 2^64 - 1 units: exactly G_MAXUINT64 */
  assert_int_equal (asm_range_set_get_units (s), MAX64);
  add (s, MAX64 - 10, MAX64 - 10);
  assert_ranges (s, ASM_RANGE (0, MAX64));
  /* 2^64 units saturate */
  assert_int_equal (asm_range_set_get_units (s), MAX64);
  remove_range (s, 0, 0);
  assert_int_equal (asm_range_set_get_units (s), MAX64);
  remove_range (s, MAX64, MAX64);
  assert_int_equal (asm_range_set_get_units (s), MAX64 - 1);
  assert_ranges (s, ASM_RANGE (1, MAX64 - 1));
}

static void
test_range_set_equal_and_copy (void **state)
{
  g_autoptr(AsmRangeSet) a = asm_range_set_new ();
  g_autoptr(AsmRangeSet) b = asm_range_set_new ();
  g_autoptr(AsmRangeSet) c = NULL;
  g_autoptr(AsmRangeSet) e = asm_range_set_new ();
  g_autoptr(AsmRangeSet) ec = NULL;

  assert_true (asm_range_set_equal (a, b));     /* both empty */
  add (a, 0, 10);
  add (a, 20, 30);
  add (a, MAX64 - 1, MAX64);
  assert_true (asm_range_set_equal (a, a));
  assert_false (asm_range_set_equal (a, b));
  assert_false (asm_range_set_equal (b, a));

  /* Same set built another way. */
  add (b, 25, 30);
  add (b, MAX64, MAX64);
  add (b, 0, 5);
  add (b, 20, 24);
  add (b, 6, 10);
  add (b, MAX64 - 1, MAX64 - 1);
  assert_true (asm_range_set_equal (a, b));
  assert_true (asm_range_set_equal (b, a));
  remove_range (b, 30, 30);
  assert_false (asm_range_set_equal (a, b));

  /* A copy is equal, then independent both ways. */
  c = asm_range_set_copy (a);
  assert_non_null (c);
  assert_true (c != a);
  assert_true (asm_range_set_equal (a, c));
  assert_check (c);
  add (c, 11, 19);
  assert_ranges (c, ASM_RANGE (0, 30), ASM_RANGE (MAX64 - 1, MAX64));
  assert_ranges (a, ASM_RANGE (0, 10), ASM_RANGE (20, 30),
                 ASM_RANGE (MAX64 - 1, MAX64));
  remove_range (a, 0, 30);
  assert_ranges (a, ASM_RANGE (MAX64 - 1, MAX64));
  assert_ranges (c, ASM_RANGE (0, 30), ASM_RANGE (MAX64 - 1, MAX64));
  assert_false (asm_range_set_equal (a, c));

  ec = asm_range_set_copy (e);
  assert_true (asm_range_set_equal (e, ec));
  add (ec, 1, 1);
  assert_empty (e);
  assert_false (asm_range_set_equal (e, ec));
}

static void
test_range_set_invalid (void **state)
{
  g_autoptr(AsmRangeSet) s = asm_range_set_new ();
  g_autoptr(AsmRangeSet) before = NULL;
  g_autoptr(GError) error = NULL;

  add (s, 10, 20);
  add (s, 40, 50);
  before = asm_range_set_copy (s);

  assert_false (asm_range_set_add (s, 35, 34, &error));
  assert_non_null (error);
  assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_INVALID));
  assert_true (error->message != NULL && error->message[0] != '\0');
  assert_true (message_mentions (error->message, 35) ||
               message_mentions (error->message, 34));
  g_clear_error (&error);
  assert_true (asm_range_set_equal (s, before));

  assert_false (asm_range_set_add (s, MAX64, 0, &error));
  assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_INVALID));
  g_clear_error (&error);
  assert_true (asm_range_set_equal (s, before));

  assert_false (asm_range_set_remove (s, 20, 10, &error));
  assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_INVALID));
  assert_true (message_mentions (error->message, 20) ||
               message_mentions (error->message, 10));
  g_clear_error (&error);
  assert_true (asm_range_set_equal (s, before));

  assert_false (asm_range_set_remove (s, MAX64, 0, &error));
  assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_INVALID));
  g_clear_error (&error);
  assert_ranges (s, ASM_RANGE (10, 20), ASM_RANGE (40, 50));
}

static void
test_range_set_top_of_space (void **state)
{
  g_autoptr(AsmRangeSet) s = asm_range_set_new ();
  g_autoptr(AsmRangeSet) t = asm_range_set_new ();
  g_autoptr(AsmRangeSet) u = asm_range_set_new ();

  /* A range ending at G_MAXUINT64 is not adjacent to one starting at 0. */
  add (s, MAX64 - 5, MAX64);
  add (s, 0, 5);
  assert_ranges (s, ASM_RANGE (0, 5), ASM_RANGE (MAX64 - 5, MAX64));
  assert_true (asm_range_set_contains (s, MAX64));
  assert_true (asm_range_set_contains (s, 0));
  assert_false (asm_range_set_contains (s, 6));
  assert_false (asm_range_set_contains (s, MAX64 - 6));
  assert_true (asm_range_set_contains_range (s, MAX64 - 5, MAX64));
  assert_false (asm_range_set_contains_range (s, MAX64 - 6, MAX64));
  assert_true (asm_range_set_overlaps (s, MAX64, MAX64));
  assert_true (asm_range_set_overlaps (s, MAX64 - 6, MAX64 - 5));
  assert_false (asm_range_set_overlaps (s, 6, MAX64 - 6));
  assert_int_equal (asm_range_set_get_units (s), 12);

  /* Merging adjacent ranges at the top. */
  add (s, MAX64 - 10, MAX64 - 6);
  assert_ranges (s, ASM_RANGE (0, 5), ASM_RANGE (MAX64 - 10, MAX64));
  remove_range (s, MAX64, MAX64);
  assert_ranges (s, ASM_RANGE (0, 5), ASM_RANGE (MAX64 - 10, MAX64 - 1));
  add (s, MAX64, MAX64);
  assert_ranges (s, ASM_RANGE (0, 5), ASM_RANGE (MAX64 - 10, MAX64));
  remove_range (s, MAX64 - 1, MAX64 - 1);
  assert_ranges (s, ASM_RANGE (0, 5), ASM_RANGE (MAX64 - 10, MAX64 - 2),
                 ASM_RANGE (MAX64, MAX64));
  add (s, MAX64 - 1, MAX64 - 1);
  assert_ranges (s, ASM_RANGE (0, 5), ASM_RANGE (MAX64 - 10, MAX64));

  /* The whole space. */
  add (s, 6, MAX64 - 11);
  assert_ranges (s, ASM_RANGE (0, MAX64));
  assert_int_equal (asm_range_set_get_units (s), MAX64);
  assert_true (asm_range_set_contains_range (s, 0, MAX64));
  assert_true (asm_range_set_overlaps (s, 0, MAX64));
  add (s, 0, MAX64);
  assert_ranges (s, ASM_RANGE (0, MAX64));
  remove_range (s, 1, MAX64 - 1);
  assert_ranges (s, ASM_RANGE (0, 0), ASM_RANGE (MAX64, MAX64));
  assert_int_equal (asm_range_set_get_units (s), 2);
  remove_range (s, 0, MAX64);
  assert_empty (s);

  /* Single values at both ends, added in either order. */
  add (t, MAX64, MAX64);
  add (t, 0, 0);
  assert_ranges (t, ASM_RANGE (0, 0), ASM_RANGE (MAX64, MAX64));
  add (u, 0, 0);
  add (u, MAX64, MAX64);
  assert_ranges (u, ASM_RANGE (0, 0), ASM_RANGE (MAX64, MAX64));
  assert_true (asm_range_set_equal (t, u));
  add (u, 0, MAX64);
  assert_ranges (u, ASM_RANGE (0, MAX64));
  assert_int_equal (asm_range_set_get_units (u), MAX64);
  add (t, 1, MAX64 - 1);
  assert_true (asm_range_set_equal (t, u));
}

/* The error domain is the lowest layer's too: every code has its name, and
 * nothing else has one. */
static void
test_error_code_names (void **state)
{
  static const struct {
    gint code;
    const char *name;
  } names[] = {
    { ASM_ERROR_INVALID, "invalid" },
    { ASM_ERROR_NO_SPACE, "no-space" },
    { ASM_ERROR_IN_USE, "in-use" },
    { ASM_ERROR_NOT_FOUND, "not-found" },
    { ASM_ERROR_HELD, "held" },
    { ASM_ERROR_BACKEND, "backend" },
    { ASM_ERROR_TIMEOUT, "timeout" },
    { ASM_ERROR_PARSE, "parse" },
    { ASM_ERROR_UNSUPPORTED, "unsupported" },
    { ASM_ERROR_FAILED, "failed" },
    { ASM_ERROR_FENCED, "fenced" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      const char *got = asm_error_code_to_string (names[i].code);

      if (g_strcmp0 (got, names[i].name) != 0)
        FAIL_AT (__FILE__, __LINE__, "code %d is named '%s', expected '%s'",
                 names[i].code, got ? got : "(null)", names[i].name);
    }
  /* the table above is every code, in order */
  assert_int_equal (G_N_ELEMENTS (names), ASM_ERROR_FENCED + 1);
  assert_null (asm_error_code_to_string (-1));
  assert_null (asm_error_code_to_string (ASM_ERROR_FENCED + 1));
  assert_null (asm_error_code_to_string (G_MININT));
  assert_null (asm_error_code_to_string (G_MAXINT));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_range_set_new_empty),
    cmocka_unit_test (test_range_set_add_merges_overlapping),
    cmocka_unit_test (test_range_set_add_merges_adjacent),
    cmocka_unit_test (test_range_set_add_keeps_order),
    cmocka_unit_test (test_range_set_remove_splits),
    cmocka_unit_test (test_range_set_remove_absent),
    cmocka_unit_test (test_range_set_contains),
    cmocka_unit_test (test_range_set_get_range),
    cmocka_unit_test (test_range_set_get_range_bounds),
    cmocka_unit_test (test_range_set_units),
    cmocka_unit_test (test_range_set_equal_and_copy),
    cmocka_unit_test (test_range_set_invalid),
    cmocka_unit_test (test_range_set_top_of_space),
    cmocka_unit_test (test_error_code_names),
  };

  return cmocka_run_group_tests_name ("range", tests, NULL, NULL);
}
