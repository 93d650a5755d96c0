/* fuzz-arena.c: libFuzzer target for AsmArena
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * The input bytes are the choices of the operation generator that the
 * property test uses (tests/arena-harness.c): the first byte picks the window
 * (at 0, across 2^32, or ending at G_MAXUINT64), the quantum (1, 2, 4, 8),
 * the window's width and the generator's profile; every following choice
 * among n options reads as few bytes as n needs.  The operations (add_span,
 * reserve, alloc, alloc_full, find_free, free, move, lookup, lookup_full,
 * largest_free_within, clone, unref, walk + stats) run on real arenas and
 * on the reference model side by side; after every step the touched arena
 * must pass asm_arena_check() and agree with its model.  Any disagreement
 * prints the operation and the difference and calls abort(), which the
 * fuzzing engine reports as a crash.  Inputs are decoded until they run out
 * (at most MAX_OPS operations), so every byte string is a valid input and
 * a longer one is a longer sequence.
 *
 * The model and the harness (arena-model.c, arena-harness.c, in the
 * test-support library) are compiled without coverage instrumentation, so
 * the engine's feedback comes from the library alone.
 *
 * Set ASM_FUZZ_TRACE=1 to print every operation of a replayed input, and
 * ASM_FUZZ_SABOTAGE=N to run against deliberately wrong model N (see
 * ModelSabotage) and watch the target fail.
 */
#define ASM_TEST_NO_CMOCKA
#include "arena-harness.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_OPS 2000

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const guint widths[] = { 128, 256, 512, 2048 };
  static const guint free_weights[] = { 8, 14, 22, 32 };
  static gboolean initialised, trace;
  static ModelSabotage sabotage;
  HarnessConfig cfg;
  ChoiceSource src;
  Harness *h;
  guint c, n;

  if (!initialised)
    {
      /* a critical or warning from the library is a bug too */
      g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL |
                              G_LOG_LEVEL_WARNING);
      trace = g_strcmp0 (g_getenv ("ASM_FUZZ_TRACE"), "1") == 0;
      if (g_getenv ("ASM_FUZZ_SABOTAGE") != NULL)
        sabotage =
            MIN (g_ascii_strtoull (g_getenv ("ASM_FUZZ_SABOTAGE"), NULL, 10),
                 MODEL_SABOTAGE_N - 1);
      initialised = TRUE;
    }
  if (size < 1)
    return 0;

  choice_source_init_data (&src, data, size);
  c = choice_below (&src, 256);
  harness_config_init (&cfg, c % WINDOW_N,
                       widths[(c / 3) % G_N_ELEMENTS (widths)],
                       G_GUINT64_CONSTANT (1) << ((c / 12) % 4),
                       free_weights[(c / 48) % G_N_ELEMENTS (free_weights)]);
  cfg.tiny = cfg.width == 2048;
  cfg.shrink_every = cfg.tiny ? 400 : 0;
  h = harness_new (&cfg, sabotage);
  h->trace = trace;
  if (trace)
    fprintf (stderr,
             "# window %s: base 0x%" G_GINT64_MODIFIER
             "x, %u units, quantum %" G_GUINT64_FORMAT "\n",
             model_window_name (cfg.window), cfg.base, cfg.width, cfg.quantum);

  for (n = 0; n < MAX_OPS; n++)
    {
      ModelOp op;

      harness_gen (h, &src, &op);
      if (src.exhausted)
        break;
      if (!harness_apply (h, &op))
        {
          fprintf (stderr, "fuzz-arena: step %u: %s\n", n + 1, h->why->str);
          abort ();
        }
    }
  if (!harness_verify_all (h))
    {
      fprintf (stderr, "fuzz-arena: final check: %s\n", h->why->str);
      abort ();
    }
  harness_free (h);
  return 0;
}
