/* asm-error.c: the ASM_ERROR domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <asm/asm.h>

/**
 * asm_error_quark:
 *
 * The quark of the %ASM_ERROR domain.
 *
 * Returns: the error domain quark
 *
 * Since: 0.1
 */
G_DEFINE_QUARK (asm-error-quark, asm_error)
