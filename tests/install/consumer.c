/* consumer.c: a program built against an installed asm, as a user would
 *
 * check-install.sh compiles it with nothing but `pkg-config --cflags --libs
 * asm-1` against the staged install.  It includes the kernel's uapi headers
 * and asm's together: <asm/types.h> must still be the kernel's (asm ships no
 * such header) and <asm/asm.h> must be ours, both found through the same
 * `asm/` prefix.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <linux/types.h>
#include <sys/ioctl.h>
#include <asm/types.h>
#include <asm/asm.h>

#include <stdio.h>
#include <stdlib.h>

/* From the kernel's <asm/types.h> (via asm-generic/int-ll64.h). */
G_STATIC_ASSERT (sizeof (__u64) == 8);
G_STATIC_ASSERT (sizeof (__u32) == 4);
/* From <sys/ioctl.h>, which pulls in <asm/ioctls.h>. */
#ifndef TIOCGWINSZ
#error "<sys/ioctl.h> did not define TIOCGWINSZ: <asm/ioctls.h> was shadowed"
#endif
/* From ours. */
#if !ASM_CHECK_VERSION(0, 1, 0)
#error "asm headers older than 0.1"
#endif

#define FAIL(...)                                                              \
  G_STMT_START                                                                 \
  {                                                                            \
    fprintf (stderr, "consumer: " __VA_ARGS__);                                \
    fputc ('\n', stderr);                                                      \
    return EXIT_FAILURE;                                                       \
  }                                                                            \
  G_STMT_END

int
main (void)
{
  GError *error = NULL;
  AsmArena *arena;
  guint64 addr = 0, addr2 = 0;

  arena = asm_arena_new ("consumer", 0x1000);
  if (arena == NULL)
    FAIL ("asm_arena_new returned NULL");

  if (!asm_arena_add_span (arena, 0x100000, 0x1fffff, &error))
    FAIL ("asm_arena_add_span: %s", error->message);

  if (!asm_arena_alloc (arena, 0x4000, &addr, &error))
    FAIL ("asm_arena_alloc: %s", error->message);
  if (addr < 0x100000 || addr + 0x4000 - 1 > 0x1fffff || addr % 0x1000 != 0)
    FAIL ("allocation at 0x%llx is outside the span or misaligned",
          (unsigned long long) addr);

  if (!asm_arena_alloc (arena, 0x1000, &addr2, &error))
    FAIL ("second asm_arena_alloc: %s", error->message);
  if (addr2 + 0x1000 - 1 >= addr && addr2 <= addr + 0x4000 - 1)
    FAIL ("allocations 0x%llx and 0x%llx overlap", (unsigned long long) addr,
          (unsigned long long) addr2);

  if (!asm_arena_check (arena, &error))
    FAIL ("asm_arena_check: %s", error->message);

  if (!asm_arena_free (arena, addr, &error))
    FAIL ("asm_arena_free: %s", error->message);
  if (!asm_arena_free (arena, addr2, &error))
    FAIL ("second asm_arena_free: %s", error->message);

  /* Freeing twice must be refused with an ASM_ERROR. */
  if (asm_arena_free (arena, addr, &error))
    FAIL ("double free of 0x%llx was accepted", (unsigned long long) addr);
  if (error == NULL || error->domain != ASM_ERROR)
    FAIL ("double free: no ASM_ERROR set");
  g_clear_error (&error);

  if (!asm_arena_check (arena, &error))
    FAIL ("asm_arena_check after free: %s", error->message);

  asm_arena_unref (arena);
  printf ("consumer: ok (allocated 0x%llx and 0x%llx, freed both)\n",
          (unsigned long long) addr, (unsigned long long) addr2);
  return EXIT_SUCCESS;
}
