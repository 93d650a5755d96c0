/* asm-range.h: inclusive u64 ranges and ordered sets of them (layer 0)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ASM_INSIDE) && !defined(ASM_COMPILATION)
#error "Only <asm/asm.h> can be included directly."
#endif

#include <asm/asm-error.h>

G_BEGIN_DECLS

/**
 * AsmRange:
 * @first: the first value in the range
 * @last: the last value in the range (inclusive)
 *
 * An inclusive range of 64-bit values, `[first, last]`.  Inclusive ends make
 * the range that ends at %G_MAXUINT64, and the whole space `[0, G_MAXUINT64]`,
 * representable.  A well-formed range has @first <= @last.
 *
 * Since: 0.1
 */
typedef struct {
  guint64 first;
  guint64 last;
} AsmRange;

/**
 * ASM_TYPE_RANGE:
 *
 * The #GType of #AsmRange, a boxed type registered by
 * asm_range_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_RANGE (asm_range_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_range_get_type (void) G_GNUC_CONST;

/**
 * ASM_RANGE:
 * @a: first value
 * @b: last value (inclusive)
 *
 * An #AsmRange compound literal for `[a, b]`.
 *
 * Since: 0.1
 */
#define ASM_RANGE(a, b) ((AsmRange){ (a), (b) })

/**
 * ASM_VALUE:
 * @v: the value
 *
 * An #AsmRange compound literal holding the single value @v.
 *
 * Since: 0.1
 */
#define ASM_VALUE(v) ((AsmRange){ (v), (v) })

/**
 * AsmRangeSet:
 *
 * An ordered set of disjoint, non-adjacent inclusive ranges (a value type:
 * create with asm_range_set_new(), copy with asm_range_set_copy(), free with
 * asm_range_set_free()).  Adding a range merges it with every range it
 * overlaps or touches; removing one splits as needed.
 *
 * Since: 0.1
 */
typedef struct _AsmRangeSet AsmRangeSet;

/**
 * ASM_TYPE_RANGE_SET:
 *
 * The #GType of #AsmRangeSet, a boxed type registered by
 * asm_range_set_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_RANGE_SET (asm_range_set_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_range_set_get_type (void) G_GNUC_CONST;

ASM_AVAILABLE_IN_0_1
AsmRangeSet *asm_range_set_new (void);
ASM_AVAILABLE_IN_0_1
AsmRangeSet *asm_range_set_copy (const AsmRangeSet *set);
ASM_AVAILABLE_IN_0_1
void asm_range_set_free (AsmRangeSet *set);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_range_set_add (AsmRangeSet *set, guint64 first, guint64 last,
                            GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_range_set_remove (AsmRangeSet *set, guint64 first, guint64 last,
                               GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_range_set_contains (const AsmRangeSet *set, guint64 value);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_range_set_contains_range (const AsmRangeSet *set, guint64 first,
                                       guint64 last);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_range_set_overlaps (const AsmRangeSet *set, guint64 first,
                                 guint64 last);
ASM_AVAILABLE_IN_0_1
guint asm_range_set_get_n_ranges (const AsmRangeSet *set);
ASM_AVAILABLE_IN_0_1
AsmRange asm_range_set_get_range (const AsmRangeSet *set, guint index);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_range_set_get_range_bounds (const AsmRangeSet *set, guint index,
                                         guint64 *first_out,
                                         guint64 *last_out, GError **error);
ASM_AVAILABLE_IN_0_1
guint64 asm_range_set_get_units (const AsmRangeSet *set);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_range_set_equal (const AsmRangeSet *a, const AsmRangeSet *b);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_range_set_check (const AsmRangeSet *set, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AsmRangeSet, asm_range_set_free)

G_END_DECLS
