/* fuzz-arena-cache.c: libFuzzer target for the arena's cache
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * The cache (src/asm-arena-cache.c) must be invisible: a cached arena
 * answers every call as the same arena without a cache would.  The
 * property test (tests/test-arena-cache.c) checks that from seeds; this
 * target drives the same mirror (tests/arena-cache-mirror.c: a cached
 * arena and an uncached one side by side, the same operations on both,
 * asm_arena_check() after each) from its input bytes, so the engine can
 * steer toward the cache's rare paths: runs carved at a leaf's end or cut
 * short by a neighbour, magazines through the depot, flushes on refusal,
 * tables that grow and shrink under their magazines.
 *
 * The first byte picks the configuration: the cache's max_size (1, 4, 16
 * or 256 quanta: byte % 4), the span's width (64, 256, 1024 or 8192
 * quanta: byte / 4 % 4) and where it lies (byte / 16 % 3): at 0 with
 * 4 KiB quanta, as the property test's; across the unit 2^55 - 1 with a
 * quantum of 1, where the cache stops caching (a range at or above that
 * unit is the tree's alone); or ending at G_MAXUINT64 with 4 KiB quanta.
 * Then each step reads one choice among 128: 0 drains (every live
 * allocation and reservation freed on both, then the whole span must be
 * free, and one INSTANT allocation of all of it must succeed); 1 is a
 * burst (allocations of one cached size until the span is full or up to
 * a number of the input's, all freed in an order of the input's, then
 * again fewer of them): the mirror's own steps keep about 20 allocations
 * live and flush often, so only bursts fill magazines beyond the slot's
 * two, through the depot to its cap (8192 quanta hold more than it
 * takes) and back; anything else is one step of the mirror, which reads
 * the rest of its choices.  Every byte string is a valid input and a
 * longer one a longer run, up to MAX_STEPS; every run ends with a drain.
 *
 * A disagreement, a failed asm_arena_check() or a GLib critical or
 * warning prints what happened and calls abort(), which the engine
 * reports as a crash.  The mirror is in the test-support library, which
 * is not coverage-instrumented: the engine's feedback comes from asm.
 * Single-threaded: every operation goes to the calling thread's slot, and
 * the depot is reached through that slot's full and empty magazines (the
 * threaded test in tests/test-arena-cache.c covers the sharing).
 *
 * Set ASM_FUZZ_TRACE=1 to print the configuration, every operation of a
 * replayed input with its result, and the cache's hits, misses and
 * flushes at the end.
 */
#define ASM_TEST_NO_CMOCKA
#include "arena-cache-mirror.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_STEPS 4000

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const guint64 max_quanta[] = { 1, 4, 16, 256 };
  static const guint64 widths[] = { 64, 256, 1024, 8192 };
  static gboolean initialised, trace;
  CacheMirrorConfig cfg;
  ChoiceSource src;
  CacheMirror *m;
  guint c, n;

  if (!initialised)
    {
      /* a critical or warning from the library is a bug too */
      g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL |
                              G_LOG_LEVEL_WARNING);
      trace = g_strcmp0 (g_getenv ("ASM_FUZZ_TRACE"), "1") == 0;
      initialised = TRUE;
    }
  if (size < 1)
    return 0;

  choice_source_init_data (&src, data, size);
  c = (guint) choice_below (&src, 256);
  cfg.pages = widths[c / 4 % G_N_ELEMENTS (widths)];
  switch (c / 16 % 3)
    {
    case 0:
      cfg.quantum = 0x1000;
      cfg.base = 0;
      break;
    case 1:
      cfg.quantum = 1;
      cfg.base = (G_GUINT64_CONSTANT (1) << 55) - cfg.pages / 2;
      break;
    default:
      cfg.quantum = 0x1000;
      cfg.base = 0 - cfg.pages * cfg.quantum;
      break;
    }
  cfg.max_size = max_quanta[c % G_N_ELEMENTS (max_quanta)] * cfg.quantum;
  m = cache_mirror_new (&cfg);
  m->trace = trace;
  if (trace)
    fprintf (stderr,
             "# span [0x%" G_GINT64_MODIFIER "x, +%" G_GUINT64_FORMAT
             " x 0x%" G_GINT64_MODIFIER
             "x], cache max_size 0x%" G_GINT64_MODIFIER "x\n",
             cfg.base, cfg.pages, cfg.quantum, cfg.max_size);

  for (n = 0; n < MAX_STEPS; n++)
    {
      guint64 what = choice_below (&src, 128);
      gboolean ok;

      if (src.exhausted)
        break;
      if (what == 0)
        ok = cache_mirror_drain (m);
      else if (what == 1)
        ok = cache_mirror_burst (m, &src);
      else
        ok = cache_mirror_step (m, &src);
      if (!ok)
        {
          fprintf (stderr, "fuzz-arena-cache: %s\n", m->why->str);
          abort ();
        }
    }
  if (!cache_mirror_drain (m))
    {
      fprintf (stderr, "fuzz-arena-cache: final drain: %s\n", m->why->str);
      abort ();
    }
  if (trace)
    {
      AsmArenaCacheStats cs;

      if (asm_arena_get_cache_stats (m->arena, &cs))
        fprintf (stderr,
                 "# cache: hits %" G_GUINT64_FORMAT
                 ", misses %" G_GUINT64_FORMAT ", flushes %" G_GUINT64_FORMAT
                 "\n",
                 cs.hits, cs.misses, cs.flushes);
    }
  cache_mirror_free (m);
  return 0;
}
