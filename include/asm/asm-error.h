/* asm-error.h: the single error domain of the library
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ASM_INSIDE) && !defined(ASM_COMPILATION)
#error "Only <asm/asm.h> can be included directly."
#endif

#include <asm/asm-version.h>

G_BEGIN_DECLS

/**
 * ASM_ERROR:
 *
 * The error domain of every #GError that asm reports.
 *
 * Since: 0.1
 */
#define ASM_ERROR (asm_error_quark ())

/**
 * AsmError:
 * @ASM_ERROR_INVALID: an argument is malformed or out of range (a range whose
 *   first is above its last, a size that is not a multiple of the quantum, an
 *   address outside every span, ...). Reported before any other error.
 * @ASM_ERROR_NO_SPACE: the request is valid but no free address satisfies it.
 * @ASM_ERROR_IN_USE: some unit of the range is already allocated or reserved.
 * @ASM_ERROR_NOT_FOUND: nothing starts at the given address (or name).
 * @ASM_ERROR_HELD: the object is held by a driver and cannot change now.
 * @ASM_ERROR_BACKEND: a backend refused or failed an operation.
 * @ASM_ERROR_TIMEOUT: an operation did not finish in time.
 * @ASM_ERROR_PARSE: text could not be parsed.
 * @ASM_ERROR_UNSUPPORTED: the operation is not supported here.
 * @ASM_ERROR_FAILED: any other failure.
 * @ASM_ERROR_FENCED: a fabric's journal store refused a write because
 *   another writer took the journal over (see #AsmJournalStore); the
 *   fabric then changes nothing more, hardware included.
 *
 * Error codes of the %ASM_ERROR domain.  New codes may be added.
 *
 * Since: 0.1
 */
typedef enum {
  ASM_ERROR_INVALID,
  ASM_ERROR_NO_SPACE,
  ASM_ERROR_IN_USE,
  ASM_ERROR_NOT_FOUND,
  ASM_ERROR_HELD,
  ASM_ERROR_BACKEND,
  ASM_ERROR_TIMEOUT,
  ASM_ERROR_PARSE,
  ASM_ERROR_UNSUPPORTED,
  ASM_ERROR_FAILED,
  ASM_ERROR_FENCED,
} AsmError;

/**
 * ASM_TYPE_ERROR:
 *
 * The #GType of #AsmError, an enumeration type registered by
 * asm_error_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_ERROR (asm_error_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_error_get_type (void) G_GNUC_CONST;

ASM_AVAILABLE_IN_0_1
GQuark asm_error_quark (void);

ASM_AVAILABLE_IN_0_1
const char *asm_error_code_to_string (gint code);

G_END_DECLS
