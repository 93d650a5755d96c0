#include <asm/asm.h>

int
main (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AsmArena) tmpl = asm_arena_new ("iova", 4096);
  guint64 addr;

  /* a 48-bit IOVA space without the x86 interrupt window */
  if (!asm_arena_add_span (tmpl, 0, (G_GUINT64_CONSTANT (1) << 48) - 1, &error) ||
      !asm_arena_reserve (tmpl, 0xfee00000, 0xfeefffff, &error))
    g_error ("%s", error->message);

  /* one O(1) clone per IOMMU domain */
  g_autoptr (AsmArena) dom = asm_arena_clone (tmpl, "domain-1");

  /* 2 MiB below 4 GiB, 2 MiB aligned, as high as possible */
  AsmRequest req = ASM_REQUEST_INIT (2 << 20);
  req.align = 2 << 20;
  req.max = 0xffffffff;
  req.fit = ASM_FIT_HIGHEST;
  if (!asm_arena_alloc_full (dom, &req, &addr, &error))
    g_error ("%s", error->message);   /* says why: the largest run that fits */

  return asm_arena_free (dom, addr, &error) ? 0 : 1;
}
