/* asm-range.c: ordered sets of disjoint inclusive u64 ranges (layer 0)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * An AsmRangeSet is a sorted array of AsmRange with three invariants
 * (asm_range_set_check() verifies them): every range has first <= last;
 * ranges are sorted by first; two neighbours neither overlap nor touch
 * (r[i].last + 1 < r[i + 1].first), so the representation of a set of
 * values is unique and asm_range_set_equal() is a plain comparison.
 *
 * Membership queries are binary searches, O(log n).  add and remove shift
 * the array tail, O(n) in the worst case: this type describes small
 * configuration sets (spans, windows, holes); the arena's B+tree is the
 * structure for large, changing sets.
 *
 * Inclusive ends make [x, G_MAXUINT64] representable; every "last + 1" is
 * guarded against wrapping.  The unit count of [0, G_MAXUINT64] is 2^64,
 * which saturates at G_MAXUINT64.
 */
#include <asm/asm-range.h>

#include <string.h>

#include "asm-boxed-private.h"

ASM_DEFINE_VALUE_TYPE (AsmRange, asm_range)
G_DEFINE_BOXED_TYPE (AsmRangeSet, asm_range_set, asm_range_set_copy,
                     asm_range_set_free)

struct _AsmRangeSet {
  GArray *ranges; /* of AsmRange, sorted, disjoint, non-adjacent */
};

static inline const AsmRange *
range_at (const AsmRangeSet *set, guint i)
{
  return &g_array_index (set->ranges, AsmRange, i);
}

/* first index whose range ends at or after v */
static guint
lower_index (const AsmRangeSet *set, guint64 v)
{
  guint lo = 0, hi = set->ranges->len;

  while (lo < hi)
    {
      guint mid = (lo + hi) / 2;
      if (range_at (set, mid)->last < v)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/**
 * asm_range_set_new:
 *
 * Creates an empty set.
 *
 * Returns: (transfer full): a new set; free with asm_range_set_free()
 *
 * Since: 0.1
 */
AsmRangeSet *
asm_range_set_new (void)
{
  AsmRangeSet *set = g_new (AsmRangeSet, 1);
  set->ranges = g_array_new (FALSE, FALSE, sizeof (AsmRange));
  return set;
}

/**
 * asm_range_set_copy:
 * @set: a set
 *
 * Copies a set.
 *
 * Returns: (transfer full): an independent copy of @set
 *
 * Since: 0.1
 */
AsmRangeSet *
asm_range_set_copy (const AsmRangeSet *set)
{
  AsmRangeSet *copy;

  g_return_val_if_fail (set != NULL, NULL);
  copy = asm_range_set_new ();
  g_array_append_vals (copy->ranges, set->ranges->data, set->ranges->len);
  return copy;
}

/**
 * asm_range_set_free:
 * @set: (nullable) (transfer full): a set
 *
 * Frees @set.  %NULL is ignored.
 *
 * Since: 0.1
 */
void
asm_range_set_free (AsmRangeSet *set)
{
  if (set == NULL)
    return;
  g_array_unref (set->ranges);
  g_free (set);
}

static gboolean
check_bounds (guint64 first, guint64 last, GError **error)
{
  if (first > last)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "range 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
                   "x is empty (first above last)",
                   first, last);
      return FALSE;
    }
  return TRUE;
}

/**
 * asm_range_set_add:
 * @set: a set
 * @first: first value to add
 * @last: last value to add (inclusive)
 * @error: return location for a #GError
 *
 * Adds every value of `[first, last]`, merging with each range it overlaps
 * or touches.
 *
 * Errors: %ASM_ERROR_INVALID when @first > @last; the set is unchanged.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_range_set_add (AsmRangeSet *set, guint64 first, guint64 last,
                   GError **error)
{
  guint i, j;
  AsmRange merged = { first, last };

  g_return_val_if_fail (set != NULL, FALSE);
  if (!check_bounds (first, last, error))
    return FALSE;

  /* i: first range that ends at or after first - 1 (touching counts) */
  i = lower_index (set, first == 0 ? 0 : first - 1);
  /* j: one past the last range that starts at or before last + 1 */
  for (j = i; j < set->ranges->len; j++)
    {
      const AsmRange *r = range_at (set, j);
      if (last != G_MAXUINT64 && r->first > last + 1)
        break;
      merged.first = MIN (merged.first, r->first);
      merged.last = MAX (merged.last, r->last);
    }
  if (j > i)
    g_array_remove_range (set->ranges, i, j - i);
  g_array_insert_val (set->ranges, i, merged);
  return TRUE;
}

/**
 * asm_range_set_remove:
 * @set: a set
 * @first: first value to remove
 * @last: last value to remove (inclusive)
 * @error: return location for a #GError
 *
 * Removes every value of `[first, last]` from the set, splitting a range
 * when the removed part is inside it.  Values that are not in the set are
 * ignored.
 *
 * Errors: %ASM_ERROR_INVALID when @first > @last; the set is unchanged.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_range_set_remove (AsmRangeSet *set, guint64 first, guint64 last,
                      GError **error)
{
  guint i;

  g_return_val_if_fail (set != NULL, FALSE);
  if (!check_bounds (first, last, error))
    return FALSE;

  i = lower_index (set, first);
  while (i < set->ranges->len)
    {
      AsmRange r = *range_at (set, i);
      AsmRange pieces[2];
      guint n = 0;

      if (r.first > last)
        break;
      if (r.first < first)
        pieces[n++] = ASM_RANGE (r.first, first - 1);
      if (r.last > last)
        pieces[n++] = ASM_RANGE (last + 1, r.last);
      g_array_remove_index (set->ranges, i);
      if (n > 0)
        g_array_insert_vals (set->ranges, i, pieces, n);
      i += n;
    }
  return TRUE;
}

/**
 * asm_range_set_contains:
 * @set: a set
 * @value: a value
 *
 * Tells whether a value is in the set.
 *
 * Returns: %TRUE when @value is in the set
 *
 * Since: 0.1
 */
gboolean
asm_range_set_contains (const AsmRangeSet *set, guint64 value)
{
  return asm_range_set_contains_range (set, value, value);
}

/**
 * asm_range_set_contains_range:
 * @set: a set
 * @first: first value
 * @last: last value (inclusive)
 *
 * Tells whether a whole range is in the set.
 *
 * Returns: %TRUE when every value of `[first, last]` is in the set (always
 *   %FALSE for an empty range, @first > @last)
 *
 * Since: 0.1
 */
gboolean
asm_range_set_contains_range (const AsmRangeSet *set, guint64 first,
                              guint64 last)
{
  guint i;

  g_return_val_if_fail (set != NULL, FALSE);
  if (first > last)
    return FALSE;
  i = lower_index (set, first);
  return i < set->ranges->len && range_at (set, i)->first <= first &&
         range_at (set, i)->last >= last;
}

/**
 * asm_range_set_overlaps:
 * @set: a set
 * @first: first value
 * @last: last value (inclusive)
 *
 * Tells whether a range and the set have a value in common.
 *
 * Returns: %TRUE when some value of `[first, last]` is in the set
 *
 * Since: 0.1
 */
gboolean
asm_range_set_overlaps (const AsmRangeSet *set, guint64 first, guint64 last)
{
  guint i;

  g_return_val_if_fail (set != NULL, FALSE);
  if (first > last)
    return FALSE;
  i = lower_index (set, first);
  return i < set->ranges->len && range_at (set, i)->first <= last;
}

/**
 * asm_range_set_get_n_ranges:
 * @set: a set
 *
 * Counts the ranges of the set.
 *
 * Returns: the number of maximal ranges in the set
 *
 * Since: 0.1
 */
guint
asm_range_set_get_n_ranges (const AsmRangeSet *set)
{
  g_return_val_if_fail (set != NULL, 0);
  return set->ranges->len;
}

/**
 * asm_range_set_get_range: (skip)
 * @set: a set
 * @index: 0 to asm_range_set_get_n_ranges() - 1
 *
 * Gets one range of the set; ranges are numbered in increasing order.  An
 * @index out of bounds is a programming error (a critical warning and the
 * empty-looking range `{1, 0}`).  Bindings, which cannot receive a struct
 * by value, use asm_range_set_get_range_bounds() instead.
 *
 * Returns: (transfer none): a copy of the range at @index (a plain value,
 *   nothing to free)
 *
 * Since: 0.1
 */
AsmRange
asm_range_set_get_range (const AsmRangeSet *set, guint index)
{
  g_return_val_if_fail (set != NULL, ASM_RANGE (1, 0));
  g_return_val_if_fail (index < set->ranges->len, ASM_RANGE (1, 0));
  return *range_at (set, index);
}

/**
 * asm_range_set_get_range_bounds:
 * @set: a set
 * @index: 0 to asm_range_set_get_n_ranges() - 1
 * @first_out: (out) (optional): the first value of the range at @index
 * @last_out: (out) (optional): the last value of the range at @index
 * @error: return location for a #GError
 *
 * Gets the bounds of one range of the set, as asm_range_set_get_range()
 * does, for callers that check the index at run time and for language
 * bindings.  An @index out of bounds fails with %ASM_ERROR_INVALID naming
 * the index and the count, and leaves the outputs untouched.
 *
 * Returns: (skip): %TRUE with the bounds set, or %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
asm_range_set_get_range_bounds (const AsmRangeSet *set, guint index,
                                guint64 *first_out, guint64 *last_out,
                                GError **error)
{
  const AsmRange *range;

  g_return_val_if_fail (set != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (index >= set->ranges->len)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "range index %u is out of bounds (the set has %u ranges)",
                   index, set->ranges->len);
      return FALSE;
    }
  range = range_at (set, index);
  if (first_out != NULL)
    *first_out = range->first;
  if (last_out != NULL)
    *last_out = range->last;
  return TRUE;
}

/**
 * asm_range_set_get_units:
 * @set: a set
 *
 * Counts the values in the set.
 *
 * Returns: the number of values in the set, saturated at %G_MAXUINT64 (the
 *   full set has 2^64)
 *
 * Since: 0.1
 */
guint64
asm_range_set_get_units (const AsmRangeSet *set)
{
  guint64 total = 0;

  g_return_val_if_fail (set != NULL, 0);
  for (guint i = 0; i < set->ranges->len; i++)
    {
      const AsmRange *r = range_at (set, i);
      guint64 len = r->last - r->first;
      if (len == G_MAXUINT64 || total > G_MAXUINT64 - len - 1)
        return G_MAXUINT64;
      total += len + 1;
    }
  return total;
}

/**
 * asm_range_set_equal:
 * @a: a set
 * @b: another set
 *
 * Compares two sets.
 *
 * Returns: %TRUE when the two sets hold the same values
 *
 * Since: 0.1
 */
gboolean
asm_range_set_equal (const AsmRangeSet *a, const AsmRangeSet *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, FALSE);
  if (a->ranges->len != b->ranges->len)
    return FALSE;
  return a->ranges->len == 0 ||
         memcmp (a->ranges->data, b->ranges->data,
                 a->ranges->len * sizeof (AsmRange)) == 0;
}

/**
 * asm_range_set_check:
 * @set: a set
 * @error: return location for a #GError
 *
 * Verifies the invariants: ranges well-formed, sorted, neither overlapping
 * nor touching.
 *
 * Returns: %TRUE when consistent, else %FALSE with %ASM_ERROR_FAILED
 *
 * Since: 0.1
 */
gboolean
asm_range_set_check (const AsmRangeSet *set, GError **error)
{
  g_return_val_if_fail (set != NULL, FALSE);
  for (guint i = 0; i < set->ranges->len; i++)
    {
      const AsmRange *r = range_at (set, i);
      if (r->first > r->last ||
          (i > 0 && (r->first == 0 ||
                      range_at (set, i - 1)->last >= r->first - 1)))
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                       "range set: range %u (0x%" G_GINT64_MODIFIER
                       "x-0x%" G_GINT64_MODIFIER "x) is empty, out of order "
                       "or touches its neighbour",
                       i, r->first, r->last);
          return FALSE;
        }
    }
  return TRUE;
}
