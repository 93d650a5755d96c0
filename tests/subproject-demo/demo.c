/* demo.c: the subproject consumer's program
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <asm/asm.h>

#include <stdio.h>
#include <stdlib.h>

int
main (void)
{
  g_autoptr (AsmArena) arena = asm_arena_new ("demo", 1);
  g_autoptr (GError) error = NULL;
  guint64 addr = 0;

  if (!asm_arena_add_span (arena, 0, 0xff, &error) ||
      !asm_arena_alloc (arena, 0x10, &addr, &error) ||
      !asm_arena_check (arena, &error) || !asm_arena_free (arena, addr, &error))
    {
      fprintf (stderr, "demo: %s\n", error->message);
      return EXIT_FAILURE;
    }
  printf ("demo: allocated and freed 0x%" G_GINT64_MODIFIER "x\n", addr);
  return EXIT_SUCCESS;
}
