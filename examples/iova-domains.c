/* iova-domains.c: IOVA arenas for IOMMU domains, and an id allocator
 *
 * What an IOMMU driver needs (seeds/001): a 48-bit IO virtual address space
 * with holes that may never be handed out (the x86 interrupt window
 * 0xfee00000-0xfeefffff and the RMRR identity-mapped ranges the firmware
 * reports), one copy of that space per IOMMU domain, and a domain id for
 * each domain.
 *
 * The example builds one template arena with the holes, clones it in O(1)
 * for each new domain, takes the domain ids from an arena of quantum 1 over
 * [0, 255] (an id allocator: id 0 is kept back), makes constrained
 * allocations in each domain, shows a request that is refused and why, and
 * checks every answer: it exits with status 1 on a wrong one.
 *
 * Build: cc iova-domains.c $(pkg-config --cflags --libs asm-1)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <asm/asm.h>

#include <stdio.h>
#include <stdlib.h>

#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define GIB (G_GUINT64_CONSTANT (1) << 30)

#define APIC_FIRST G_GUINT64_CONSTANT (0xfee00000)
#define APIC_LAST G_GUINT64_CONSTANT (0xfeefffff)

/* Two RMRRs, as a BIOS reports them: a USB controller's legacy buffer and
 * the integrated graphics' stolen memory. */
static const AsmRange rmrrs[] = {
  { 0x000e8000, 0x000e8fff },
  { 0x7b000000, 0x7f7fffff },
};

#define N_DOMAINS 4

static void
check (gboolean ok, const char *what)
{
  if (!ok)
    {
      fprintf (stderr, "iova-domains: wrong answer: %s\n", what);
      exit (1);
    }
}

static void
die (const char *what, GError *error)
{
  fprintf (stderr, "iova-domains: %s: %s\n", what, error->message);
  exit (1);
}

static void
print_stats (AsmArena *a)
{
  AsmArenaStats st;

  asm_arena_get_stats (a, &st);
  printf ("  %-10s %3" G_GUINT64_FORMAT " allocations, %2" G_GUINT64_FORMAT
          " holes, %" G_GUINT64_FORMAT " free segments, largest free "
          "run 0x%" G_GINT64_MODIFIER "x\n",
          asm_arena_get_name (a), st.n_allocated, st.n_reserved,
          st.n_free_segments, st.largest_free);
}

int
main (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AsmArena) tmpl = asm_arena_new ("template", 4096);
  g_autoptr (AsmArena) ids = asm_arena_new ("domain-ids", 1);
  AsmArena *domains[N_DOMAINS] = { NULL };
  guint64 domain_ids[N_DOMAINS];
  guint64 dma[N_DOMAINS];
  AsmRange seg;
  AsmSegmentKind kind;
  guint i;

  /* 1. The template: a 48-bit space, page-granular, with the holes. */
  printf ("template: [0, 2^48 - 1], quantum 4096\n");
  if (!asm_arena_add_span (tmpl, 0, (G_GUINT64_CONSTANT (1) << 48) - 1, &error))
    die ("add_span", error);
  printf ("  hole 0x%08" G_GINT64_MODIFIER "x-0x%08" G_GINT64_MODIFIER
          "x  interrupt (APIC) window\n",
          APIC_FIRST, APIC_LAST);
  if (!asm_arena_reserve (tmpl, APIC_FIRST, APIC_LAST, &error))
    die ("reserve the APIC window", error);
  for (i = 0; i < G_N_ELEMENTS (rmrrs); i++)
    {
      printf ("  hole 0x%08" G_GINT64_MODIFIER "x-0x%08" G_GINT64_MODIFIER
              "x  RMRR %u (identity mapped)\n",
              rmrrs[i].first, rmrrs[i].last, i + 1);
      if (!asm_arena_reserve (tmpl, rmrrs[i].first, rmrrs[i].last, &error))
        die ("reserve an RMRR", error);
    }

  /* Punching a hole twice is refused, and says why. */
  check (!asm_arena_reserve (tmpl, APIC_FIRST, APIC_FIRST + 0xfff, &error),
         "reserving the APIC window twice");
  check (g_error_matches (error, ASM_ERROR, ASM_ERROR_IN_USE),
         "a second reservation is IN_USE");
  printf ("  again: refused: %s\n", error->message);
  g_clear_error (&error);

  /* 2. Domain ids: an arena of quantum 1 over [0, 255] is a bitmap-like id
   * allocator.  Id 0 is kept back. */
  printf ("\ndomain ids: [0, 255], quantum 1, id 0 kept back\n");
  if (!asm_arena_add_span (ids, 0, 255, &error) ||
      !asm_arena_reserve (ids, 0, 0, &error))
    die ("id arena", error);

  /* 3. One clone of the template per domain, each with its id. */
  for (i = 0; i < N_DOMAINS; i++)
    {
      g_autofree char *name = NULL;

      if (!asm_arena_alloc (ids, 1, &domain_ids[i], &error))
        die ("allocate a domain id", error);
      check (domain_ids[i] == i + 1, "domain ids are handed out lowest first");
      name = g_strdup_printf ("domain-%" G_GUINT64_FORMAT, domain_ids[i]);
      domains[i] = asm_arena_clone (tmpl, name);
      printf ("  id %" G_GUINT64_FORMAT ": %s, cloned from the template "
              "with its holes\n",
              domain_ids[i], name);
    }

  /* 4. In each domain, a 2 MiB DMA buffer for a 32-bit device: below
   * 4 GiB, 2 MiB aligned, as high as possible.  Every clone starts alike,
   * so every domain gets the same address, and none sees the others'. */
  printf ("\n2 MiB, 2 MiB aligned, below 4 GiB, highest fit:\n");
  for (i = 0; i < N_DOMAINS; i++)
    {
      AsmRequest req = ASM_REQUEST_INIT (2 * MIB);

      req.align = 2 * MIB;
      req.max = 4 * GIB - 1;
      req.fit = ASM_FIT_HIGHEST;
      if (!asm_arena_alloc_full (domains[i], &req, &dma[i], &error))
        die ("alloc_full", error);
      printf ("  %-10s 0x%08" G_GINT64_MODIFIER "x\n",
              asm_arena_get_name (domains[i]), dma[i]);
      check (dma[i] == 4 * GIB - 2 * MIB, "the highest 2 MiB below 4 GiB");
    }
  check (!asm_arena_lookup (tmpl, dma[0], NULL),
         "the template does not see a domain's allocation");
  check (asm_arena_lookup (domains[1], dma[1], &seg) && seg.first == dma[1] &&
             seg.last == dma[1] + 2 * MIB - 1,
         "domain 2 sees its own buffer");

  /* 5. Allocations never touch a hole: 1 MiB in [0xfee00000, 0xfeffffff]
   * can only go just above the APIC window. */
  {
    AsmRequest req = ASM_REQUEST_INIT (MIB);
    guint64 addr;

    req.min = APIC_FIRST;
    req.max = 0xfeffffff;
    if (!asm_arena_alloc_full (domains[0], &req, &addr, &error))
      die ("alloc_full near the APIC window", error);
    printf ("\n1 MiB within [0xfee00000, 0xfeffffff]: 0x%08" G_GINT64_MODIFIER
            "x (after the hole)\n",
            addr);
    check (addr == APIC_LAST + 1, "the first address after the APIC window");

    /* Nothing is left there: the request is refused with the reason. */
    if (asm_arena_alloc_full (domains[0], &req, &addr, &error))
      check (FALSE, "a second 1 MiB in [0xfee00000, 0xfeffffff]");
    check (g_error_matches (error, ASM_ERROR, ASM_ERROR_NO_SPACE),
           "a request that no address satisfies is NO_SPACE");
    printf ("again: refused: %s\n", error->message);
    g_clear_error (&error);
  }

  /* The holes are reserved segments in every clone. */
  check (asm_arena_lookup_full (domains[3], APIC_FIRST + 0x1000, &seg, &kind) &&
             kind == ASM_SEGMENT_RESERVED && seg.first == APIC_FIRST &&
             seg.last == APIC_LAST,
         "the APIC window is a hole in a clone");
  check (asm_arena_lookup_full (domains[3], rmrrs[1].first, &seg, &kind) &&
             kind == ASM_SEGMENT_RESERVED,
         "an RMRR is a hole in a clone");

  /* 6. Tear down domain 2; its id is the lowest free one again. */
  printf ("\ndestroy %s; the next domain reuses its id\n",
          asm_arena_get_name (domains[1]));
  if (!asm_arena_free (ids, domain_ids[1], &error))
    die ("free a domain id", error);
  g_clear_pointer (&domains[1], asm_arena_unref);
  {
    guint64 id;

    if (!asm_arena_alloc (ids, 1, &id, &error))
      die ("allocate a domain id", error);
    printf ("  new domain id: %" G_GUINT64_FORMAT "\n", id);
    check (id == domain_ids[1], "a freed id is handed out again");
    domains[1] = asm_arena_clone (tmpl, "domain-2b");
  }

  /* 7. Accounting, and the invariant check of every arena. */
  printf ("\nstats:\n");
  print_stats (tmpl);
  for (i = 0; i < N_DOMAINS; i++)
    print_stats (domains[i]);
  print_stats (ids);
  {
    AsmArenaStats st;

    asm_arena_get_stats (tmpl, &st);
    check (st.n_allocated == 0 && st.n_reserved == 3,
           "the template has its three holes and no allocation");
    asm_arena_get_stats (ids, &st);
    check (st.n_allocated == N_DOMAINS, "one id per live domain");
  }
  if (!asm_arena_check (tmpl, &error) || !asm_arena_check (ids, &error))
    die ("check", error);
  for (i = 0; i < N_DOMAINS; i++)
    {
      if (!asm_arena_check (domains[i], &error))
        die ("check", error);
      asm_arena_unref (domains[i]);
    }

  printf ("\nall answers are right\n");
  return 0;
}
