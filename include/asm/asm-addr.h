/* asm-addr.h: a generic allocator of N-dimensional address tuples (layer 2)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ASM_INSIDE) && !defined(ASM_COMPILATION)
#error "Only <asm/asm.h> can be included directly."
#endif

#include <asm/asm-arena.h>

G_BEGIN_DECLS

/**
 * ASM_ADDR_MAX_DIMS:
 *
 * The largest number of dimensions of an #AsmAddrSpace.
 *
 * Since: 0.1
 */
#define ASM_ADDR_MAX_DIMS 8

/**
 * AsmAddrSpace:
 *
 * A set of N-dimensional integer tuples (PCI `domain:bus:slot.function`,
 * IPv4 `a.b.c.d`, SCSI `controller:bus:unit`, ...) made of pools, from
 * which single tuples, whole boxes and "any free tuple within these ranges"
 * are reserved and released.  Tuples are ordered lexicographically (the
 * first dimension is the most significant).  Reference counted.
 *
 * Since: 0.1
 */
typedef struct _AsmAddrSpace AsmAddrSpace;

/**
 * ASM_TYPE_ADDR_SPACE:
 *
 * The #GType of #AsmAddrSpace, a boxed type registered by
 * asm_addr_space_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_ADDR_SPACE (asm_addr_space_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_addr_space_get_type (void) G_GNUC_CONST;

/**
 * AsmAddrFormatFunc:
 * @addr: (array length=n_dims): the tuple, one value per dimension
 * @n_dims: the number of dimensions
 * @user_data: the data given to asm_addr_space_set_formatter()
 *
 * Formats a tuple for messages and for asm_addr_space_format().
 *
 * Returns: (transfer full): the text
 *
 * Since: 0.1
 */
typedef char *(*AsmAddrFormatFunc) (const guint64 *addr, guint n_dims,
                                    gpointer user_data);

/**
 * AsmAddrParseFunc:
 * @text: the text to parse
 * @out_addr: (array): where the @n_dims values go
 * @n_dims: the number of dimensions
 * @user_data: the data given to asm_addr_space_set_formatter()
 * @error: return location for a #GError (%ASM_ERROR_PARSE)
 *
 * Parses the text form of a tuple.  Range checks against the dimension
 * widths are done by the caller.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
typedef gboolean (*AsmAddrParseFunc) (const char *text, guint64 *out_addr,
                                      guint n_dims, gpointer user_data,
                                      GError **error);

/**
 * AsmAddrForeachFunc:
 * @addr: (array fixed-size=8): a reserved tuple: %ASM_ADDR_MAX_DIMS
 *   values, of which the first asm_addr_space_get_n_dims() are the tuple
 *   and the rest 0
 * @user_data: the data given to asm_addr_space_foreach_reserved()
 *
 * Called by asm_addr_space_foreach_reserved() for each reserved tuple, in
 * increasing order.
 *
 * Returns: %TRUE to go on, %FALSE to stop
 *
 * Since: 0.1
 */
typedef gboolean (*AsmAddrForeachFunc) (const guint64 *addr,
                                        gpointer user_data);

ASM_AVAILABLE_IN_0_1
AsmAddrSpace *asm_addr_space_new (const char *name, guint n_dims,
                                  const guint8 *dim_bits, GError **error);
ASM_AVAILABLE_IN_0_1
AsmAddrSpace *asm_addr_space_ref (AsmAddrSpace *s);
ASM_AVAILABLE_IN_0_1
void asm_addr_space_unref (AsmAddrSpace *s);
ASM_AVAILABLE_IN_0_1
AsmAddrSpace *asm_addr_space_clone (AsmAddrSpace *s, const char *name);
ASM_AVAILABLE_IN_0_1
const char *asm_addr_space_get_name (AsmAddrSpace *s);
ASM_AVAILABLE_IN_0_1
guint asm_addr_space_get_n_dims (AsmAddrSpace *s);
ASM_AVAILABLE_IN_0_1
guint asm_addr_space_get_dim_bits (AsmAddrSpace *s, guint dim);

ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_addr_space_add_pool (AsmAddrSpace *s, const AsmRange *box,
                                  GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_addr_space_reserve (AsmAddrSpace *s, const guint64 *addr,
                                 GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_addr_space_reserve_box (AsmAddrSpace *s, const AsmRange *box,
                                     GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_addr_space_reserve_any (AsmAddrSpace *s, const AsmRange *within,
                                     guint64 *out_addr, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_addr_space_find_free (AsmAddrSpace *s, const AsmRange *within,
                                   guint n_whole_dims, guint64 *out_addr,
                                   GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_addr_space_release (AsmAddrSpace *s, const guint64 *addr,
                                 GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_addr_space_is_free (AsmAddrSpace *s, const guint64 *addr);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_addr_space_is_pooled (AsmAddrSpace *s, const guint64 *addr);
ASM_AVAILABLE_IN_0_1
guint64 asm_addr_space_get_n_reserved (AsmAddrSpace *s);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_addr_space_foreach_reserved (AsmAddrSpace *s,
                                          AsmAddrForeachFunc func,
                                          gpointer user_data);
ASM_AVAILABLE_IN_0_1
void asm_addr_space_set_formatter (AsmAddrSpace *s, AsmAddrFormatFunc format,
                                   AsmAddrParseFunc parse, gpointer user_data,
                                   GDestroyNotify destroy);
ASM_AVAILABLE_IN_0_1
char *asm_addr_space_format (AsmAddrSpace *s, const guint64 *addr);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_addr_space_parse (AsmAddrSpace *s, const char *text,
                               guint64 *out_addr, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_addr_space_check (AsmAddrSpace *s, GError **error);

ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_disk_name_parse (const char *name, char **out_prefix,
                              guint64 *out_index, GError **error);
ASM_AVAILABLE_IN_0_1
char *asm_disk_name_format (const char *prefix, guint64 index);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AsmAddrSpace, asm_addr_space_unref)

G_END_DECLS
