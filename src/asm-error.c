/* asm-error.c: the ASM_ERROR domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <asm/asm-error.h>

#include "asm-bug-private.h"

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

/* The names, indexed by AsmError; the nicks glib-mkenums would give. */
static const char *const error_code_names[] = {
  [ASM_ERROR_INVALID] = "invalid",
  [ASM_ERROR_NO_SPACE] = "no-space",
  [ASM_ERROR_IN_USE] = "in-use",
  [ASM_ERROR_NOT_FOUND] = "not-found",
  [ASM_ERROR_HELD] = "held",
  [ASM_ERROR_BACKEND] = "backend",
  [ASM_ERROR_TIMEOUT] = "timeout",
  [ASM_ERROR_PARSE] = "parse",
  [ASM_ERROR_UNSUPPORTED] = "unsupported",
  [ASM_ERROR_FAILED] = "failed",
  [ASM_ERROR_FENCED] = "fenced",
};
G_STATIC_ASSERT (G_N_ELEMENTS (error_code_names) == ASM_ERROR_FENCED + 1);

/**
 * asm_error_code_to_string:
 * @code: a code of the %ASM_ERROR domain (an #AsmError)
 *
 * The short name of an error code: "invalid", "no-space", "in-use",
 * "not-found", "held", "backend", "timeout", "parse", "unsupported" or
 * "failed" (the #AsmError member's name after `ASM_ERROR_`, in lower case
 * with dashes).  Programs print it beside the message, and tests name the
 * code they expected with it.
 *
 * Returns: (transfer none) (nullable): a static string, or %NULL for a
 *   value that is not an #AsmError
 *
 * Since: 0.1
 */
const char *
asm_error_code_to_string (gint code)
{
  if (code < 0 || (guint) code >= G_N_ELEMENTS (error_code_names))
    return NULL;
  return error_code_names[code];
}

/* See asm-bug-private.h. */
void
asm_bug_at (const char *where, const char *format, ...)
{
  g_autofree char *what = NULL;
  va_list ap;

  va_start (ap, format);
  what = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_error ("asm bug: %s: %s (please report it with the steps that led "
           "here)", where, what);
}
