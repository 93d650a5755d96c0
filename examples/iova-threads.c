/* iova-threads.c: one IOVA arena mapped from many threads, with its cache
 *
 * What a VMM's DMA path needs: its vCPU and I/O threads map and unmap
 * buffers of a few sizes all the time, in one IOMMU domain, and most of what
 * is unmapped is mapped again a moment later.  asm_arena_enable_cache()
 * gives the arena per-thread magazines of freed ranges for that
 * (ASM_FIT_INSTANT requests), and makes it safe to call from every thread
 * at once, without a lock of the caller's.
 *
 * The example builds the domain's arena (48 bits of 4 KiB pages, the x86
 * interrupt window carved out), enables the cache for sizes up to 64 KiB,
 * and runs four threads that each map and unmap 100,000 buffers of 4 to
 * 64 KiB, size-aligned, as an IOMMU driver does.  Each thread checks that
 * every mapping it gets lies outside the interrupt window and overlaps none
 * of its own live mappings; a 32-bit device's request (max 4 GiB) is mixed
 * in.  At the end it prints what the cache holds and how it served, checks
 * the arena's invariants (the cache's accounting included), and shows that
 * a double unmap is refused.  It exits with status 1 on a wrong answer.
 *
 * Build: cc iova-threads.c $(pkg-config --cflags --libs asm-1)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <asm/asm.h>

#include <stdio.h>
#include <stdlib.h>

#define PAGE G_GUINT64_CONSTANT (0x1000)
#define FOUR_GIB (G_GUINT64_CONSTANT (1) << 32)
#define APIC_FIRST G_GUINT64_CONSTANT (0xfee00000)
#define APIC_LAST G_GUINT64_CONSTANT (0xfeefffff)

#define N_THREADS 4
#define STEPS 100000
#define LIVE 256 /* mappings each thread keeps */

typedef struct {
  AsmArena *domain;
  guint seed;
  const char *failure; /* the first wrong answer, or NULL */
} Mapper;

/* one DMA mapping: size-aligned, 1 to 16 pages; one in eight for a 32-bit
 * device (below 4 GiB).  The request has the shape
 * asm_arena_alloc_instant() takes (INSTANT, a size, its alignment, a
 * limit), and the compiler sees it: with optimisation the header compiles
 * this call as asm_arena_alloc_instant (m->domain, req.size, req.align,
 * req.max, iova, NULL), which fills no request in memory. */
static gboolean
map_buffer (Mapper *m, GRand *rand, guint64 *iova, guint64 *size)
{
  AsmRequest req = ASM_REQUEST_INIT (0);
  guint pages = 1u << g_rand_int_range (rand, 0, 5); /* 1, 2, 4, 8, 16 */

  req.size = pages * PAGE;
  req.align = req.size;
  req.fit = ASM_FIT_INSTANT;
  if (g_rand_int_range (rand, 0, 8) == 0)
    req.max = FOUR_GIB - 1;
  *size = req.size;
  return asm_arena_alloc_full (m->domain, &req, iova, NULL);
}

static gpointer
mapper_main (gpointer data)
{
  Mapper *m = data;
  GRand *rand = g_rand_new_with_seed (m->seed);
  guint64 iova[LIVE] = { 0 }, size[LIVE] = { 0 };

  for (guint step = 0; step < STEPS && m->failure == NULL; step++)
    {
      guint i = (guint) g_rand_int_range (rand, 0, LIVE);

      if (size[i] != 0 && !asm_arena_free (m->domain, iova[i], NULL))
        m->failure = "an unmap of a live mapping was refused";
      size[i] = 0;
      if (!map_buffer (m, rand, &iova[i], &size[i]))
        m->failure = "a mapping was refused in a nearly empty domain";
      else if (iova[i] % size[i] != 0 ||
               (iova[i] <= APIC_LAST && iova[i] + size[i] - 1 >= APIC_FIRST))
        m->failure = "a mapping is misaligned or in the interrupt window";
      else
        for (guint k = 0; k < LIVE; k++)
          if (k != i && size[k] != 0 && iova[k] < iova[i] + size[i] &&
              iova[i] < iova[k] + size[k])
            m->failure = "two live mappings overlap";
    }
  for (guint i = 0; i < LIVE; i++)
    if (size[i] != 0 && !asm_arena_free (m->domain, iova[i], NULL))
      m->failure = "an unmap at the end was refused";
  g_rand_free (rand);
  return NULL;
}

int
main (void)
{
  g_autoptr(AsmArena) domain = asm_arena_new ("dom1", PAGE);
  g_autoptr(GError) error = NULL;
  Mapper mappers[N_THREADS];
  GThread *threads[N_THREADS];
  AsmArenaCacheStats cs;
  AsmArenaStats st;
  AsmRequest one = ASM_REQUEST_INIT (PAGE);
  guint64 iova;

  if (!asm_arena_add_span (domain, 0, (G_GUINT64_CONSTANT (1) << 48) - 1,
                           &error) ||
      !asm_arena_reserve (domain, APIC_FIRST, APIC_LAST, &error) ||
      !asm_arena_enable_cache (domain, 16 * PAGE, &error))
    {
      fprintf (stderr, "iova-threads: %s\n", error->message);
      return 1;
    }

  for (guint t = 0; t < N_THREADS; t++)
    {
      mappers[t] = (Mapper) { domain, 1000 + t, NULL };
      threads[t] = g_thread_new ("mapper", mapper_main, &mappers[t]);
    }
  for (guint t = 0; t < N_THREADS; t++)
    g_thread_join (threads[t]);
  for (guint t = 0; t < N_THREADS; t++)
    if (mappers[t].failure != NULL)
      {
        fprintf (stderr, "iova-threads: wrong answer: thread %u: %s\n", t,
                 mappers[t].failure);
        return 1;
      }

  asm_arena_get_cache_stats (domain, &cs);
  asm_arena_get_stats (domain, &st);
  printf ("%d threads mapped and unmapped %d buffers each\n", N_THREADS,
          STEPS);
  printf ("cache: %" G_GUINT64_FORMAT " ranges held (%" G_GUINT64_FORMAT
          " KiB, cap %" G_GUINT64_FORMAT " ranges), %" G_GUINT64_FORMAT
          " maps from a magazine, %" G_GUINT64_FORMAT " from the tree\n",
          cs.cached_ranges, cs.cached_units / 1024, cs.capacity, cs.hits,
          cs.misses);
  printf ("arena: %" G_GUINT64_FORMAT " live mappings, %" G_GUINT64_FORMAT
          " MiB free (cached ranges are free), the interrupt window "
          "reserved\n", st.n_allocated, st.free_units >> 20);
  if (st.n_allocated != 0 || cs.hits == 0 ||
      !asm_arena_check (domain, &error))
    {
      fprintf (stderr, "iova-threads: wrong answer: %s\n",
               error != NULL ? error->message : "stats");
      return 1;
    }

  /* a double unmap is refused, cache or not */
  one.fit = ASM_FIT_INSTANT;
  if (!asm_arena_alloc_full (domain, &one, &iova, &error) ||
      !asm_arena_free (domain, iova, &error))
    {
      fprintf (stderr, "iova-threads: %s\n", error->message);
      return 1;
    }
  if (asm_arena_free (domain, iova, &error))
    {
      fprintf (stderr, "iova-threads: wrong answer: a double unmap passed\n");
      return 1;
    }
  printf ("a double unmap of 0x%" G_GINT64_MODIFIER "x: %s\n", iova,
          error->message);
  return 0;
}
