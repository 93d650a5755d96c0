/* asm-bug-private.h: the one way asm handles its own breakage
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Three kinds of failure, three answers, in every layer:
 *
 *  - bad input (a range, a size, an address, text, a journal): a GError of
 *    the ASM_ERROR domain naming the bad value, and nothing changes;
 *  - a NULL object pointer or a value outside an enum: a programming
 *    error of the caller, g_return_val_if_fail() (a critical, then the
 *    call returns);
 *  - internal breakage: an invariant of asm's own state that no input can
 *    break (an arena free that cannot fail because the range was allocated
 *    a moment ago, a bookkeeping count that went negative).  That is a bug
 *    in asm; carrying on would corrupt the caller's address space, so asm
 *    stops the process with a message that starts "asm bug:" and names
 *    the place.  ASM_BUG() and ASM_BUG_UNLESS() are the only ways to say
 *    so; unlike g_assert() they are never compiled out.
 *
 * A fabric whose backend failed to undo a step is not internal breakage:
 * it is the world refusing, and the fabric reports it as
 * ASM_ERROR_BACKEND until asm_fabric_recover() (asm-ftxn.c).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

G_GNUC_NORETURN G_GNUC_PRINTF (2, 3)
void asm_bug_at (const char *where, const char *format, ...);

/* ASM_BUG ("format", ...): asm has a bug here; stops the process. */
#define ASM_BUG(...) asm_bug_at (G_STRLOC, __VA_ARGS__)

/* ASM_BUG_UNLESS (cond): cond is an invariant of asm's own state. */
#define ASM_BUG_UNLESS(cond)                                                  \
  G_STMT_START                                                                \
  {                                                                           \
    if (G_UNLIKELY (!(cond)))                                                 \
      ASM_BUG ("%s does not hold", #cond);                                    \
  }                                                                           \
  G_STMT_END

G_END_DECLS
