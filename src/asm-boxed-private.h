/* asm-boxed-private.h: registering asm's plain structs as boxed GTypes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The value structs of the public API (AsmRange, AsmRequest, AsmPciAddr,
 * the fabric's snapshots, ...) hold no owned pointer: a copy is a byte
 * copy and a free is g_free().  Their strings, where they have any (an
 * AsmSwitchInfo's name, an AsmFabricEvent's message), belong to the object
 * that filled them in, so a copy shares them, exactly as an assignment in
 * C does.  Registering them as boxed types is what lets GObject
 * introspection (and so Python) pass them by value and own its copies.
 */
#pragma once

#include <glib-object.h>

/* ASM_DEFINE_VALUE_TYPE(TypeName, type_name): defines type_name_get_type()
 * for a plain struct, with a byte copy and g_free(). */
#define ASM_DEFINE_VALUE_TYPE(TypeName, type_name)                             \
  static TypeName *type_name##_value_copy (const TypeName *value)              \
  {                                                                            \
    return g_memdup2 (value, sizeof *value);                                   \
  }                                                                            \
  G_DEFINE_BOXED_TYPE (TypeName, type_name, type_name##_value_copy, g_free)
