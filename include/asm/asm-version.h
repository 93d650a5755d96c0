/* asm-version.h: version numbers and the export macro
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ASM_INSIDE) && !defined(ASM_COMPILATION)
#error "Only <asm/asm.h> can be included directly."
#endif

#include <glib-object.h>

/**
 * ASM_MAJOR_VERSION:
 *
 * The major version of the asm headers in use.
 *
 * Since: 0.1
 */
#define ASM_MAJOR_VERSION 0

/**
 * ASM_MINOR_VERSION:
 *
 * The minor version of the asm headers in use.
 *
 * Since: 0.1
 */
#define ASM_MINOR_VERSION 1

/**
 * ASM_MICRO_VERSION:
 *
 * The micro version of the asm headers in use.
 *
 * Since: 0.1
 */
#define ASM_MICRO_VERSION 0

/**
 * ASM_CHECK_VERSION:
 * @major: required major version
 * @minor: required minor version
 * @micro: required micro version
 *
 * Evaluates to true when the headers in use are at least the given version.
 *
 * Since: 0.1
 */
#define ASM_CHECK_VERSION(major, minor, micro)                                 \
  (ASM_MAJOR_VERSION > (major) ||                                              \
   (ASM_MAJOR_VERSION == (major) && ASM_MINOR_VERSION > (minor)) ||            \
   (ASM_MAJOR_VERSION == (major) && ASM_MINOR_VERSION == (minor) &&            \
    ASM_MICRO_VERSION >= (micro)))

/* Every public declaration carries one of these.  The library is built with
 * hidden visibility, so only what is marked here is exported (and the linker
 * version script, src/asm-1.map, lists exactly the same set). */
#if defined(ASM_COMPILATION) && defined(__GNUC__)
#define _ASM_EXTERN __attribute__((visibility("default"))) extern
#else
#define _ASM_EXTERN extern
#endif

/**
 * ASM_AVAILABLE_IN_0_1:
 *
 * Marks a symbol that first appeared in asm 0.1.
 *
 * Since: 0.1
 */
#define ASM_AVAILABLE_IN_0_1 _ASM_EXTERN
