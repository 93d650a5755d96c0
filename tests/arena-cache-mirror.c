/* arena-cache-mirror.c: a cached arena, checked against an uncached one
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * The arena's cache (src/asm-arena-cache.c) must change nothing but the
 * speed: a cached range is free to every caller.  So the reference for a
 * cached arena is the same arena without a cache, driven alongside it.
 * The property test (tests/test-arena-cache.c) and the fuzz target
 * (tests/fuzz/fuzz-arena-cache.c) both drive a CacheMirror: the arena with
 * its cache, the mirror without, one span alike in both, and the list of
 * what both hold (live) and of what was recently freed (dead).
 *
 * A step is one random operation, applied to both:
 *   - an allocation (most of them ASM_FIT_INSTANT, of the sizes and shapes
 *     the cache serves and some it does not: less or more aligned, with a
 *     phase, inside a [min, max], 1 in 64 of a size far above any it
 *     serves, up to the largest; a few of the exact fits), through
 *     asm_arena_alloc_full() or, for the shape it takes, through
 *     asm_arena_alloc_instant().  Before it, the mirror says whether any
 *     address satisfies the request (find_free); the cached arena must
 *     agree, and its answer must satisfy the request and be free in the
 *     mirror, where it is then taken at exactly that address.  An exact
 *     fit's answer must be the mirror's own.
 *   - a free: of a live allocation or reservation, a double free (or a
 *     free of the second quantum) of a dead one, or of a random address;
 *     both must accept or both refuse.
 *   - now and then a reservation of a few quanta, which both must accept
 *     or both refuse.
 * Then a lookup of a random address must agree, the stats must be equal
 * (cached ranges count as free units) and asm_arena_check() must pass on
 * the cached arena, which verifies the cache's accounting: every table
 * entry an ALLOCATED segment of its extent, every magazine's range known.
 * About 20 allocations are live at a time, so the small space is at times
 * nearly full: refusals happen, and so do flushes (a refusal is retried
 * after every cached range went back to the tree).
 *
 * A drain (cache_mirror_drain(), which the fuzz target asks for now and
 * then and at the end) frees every live range on both, each of which both
 * must accept, and then the whole span must be free: no allocation or
 * reservation in the stats, one allocation of the whole span, INSTANT on
 * the cached arena, must succeed at its base (a flush first, if the cache
 * holds anything), and after its free lookup_full must report one free
 * segment from end to end on both.
 *
 * A burst (cache_mirror_burst(), which only the fuzz target asks for)
 * takes the cache where the steps never take it: the steps keep about 20
 * allocations live and flush often, so a class's magazines never fill.
 * A burst allocates ranges of one cached size and shape, each checked as
 * a step's allocation, up to a number of the choices' or until the span
 * is full, then frees them all on both, in an order of the choices'
 * (each free must succeed on both), and does it again with at most as
 * many: the frees fill the slot's two magazines, send full ones to the
 * depot, up to its cap and past it (the rest go back to the tree), and
 * the second round takes them back out of the depot.  The stats are
 * compared and asm_arena_check() run after each half of a round.
 *
 * The choices come from a ChoiceSource (asm-test.h): a seeded PRNG in the
 * property test, the input bytes in the fuzz target.  The same choices
 * give the same operations, and the property test's seeds must keep
 * giving the same operations, so a change of the generator is a change of
 * the property test too.  A step that finds a difference returns FALSE
 * and says what in `why` (this file knows nothing of cmocka): the test
 * fails with it, the fuzz target aborts with it.
 */
#define ASM_TEST_NO_CMOCKA
#include "arena-cache-mirror.h"

#define X "0x%" G_GINT64_MODIFIER "x"

static gboolean G_GNUC_PRINTF (2, 3) fail (CacheMirror *m, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  g_string_append_vprintf (m->why, fmt, ap);
  va_end (ap);
  return FALSE;
}

static guint64
span_end (const CacheMirror *m)
{
  return m->cfg.base + (m->cfg.pages * m->cfg.quantum - 1);
}

CacheMirror *
cache_mirror_new (const CacheMirrorConfig *cfg)
{
  CacheMirror *m = g_new0 (CacheMirror, 1);

  m->cfg = *cfg;
  m->arena = asm_arena_new ("cached", cfg->quantum);
  m->mirror = asm_arena_new ("mirror", cfg->quantum);
  OK (asm_arena_add_span (m->arena, cfg->base, span_end (m), &error));
  OK (asm_arena_enable_cache (m->arena, cfg->max_size, &error));
  OK (asm_arena_add_span (m->mirror, cfg->base, span_end (m), &error));
  m->live = g_array_new (FALSE, FALSE, sizeof (CacheMirrorRange));
  m->dead = g_array_new (FALSE, FALSE, sizeof (CacheMirrorRange));
  m->why = g_string_new (NULL);
  return m;
}

void
cache_mirror_free (CacheMirror *m)
{
  if (m == NULL)
    return;
  asm_arena_unref (m->arena);
  asm_arena_unref (m->mirror);
  g_array_unref (m->live);
  g_array_unref (m->dead);
  g_string_free (m->why, TRUE);
  g_free (m);
}

static void
format_request (const AsmRequest *r, GString *out)
{
  g_string_append_printf (out, "size " X " align " X, r->size, r->align);
  if (r->phase != 0)
    g_string_append_printf (out, " phase " X, r->phase);
  if (r->nocross != 0)
    g_string_append_printf (out, " nocross " X, r->nocross);
  if (r->min != 0 || r->max != G_MAXUINT64)
    g_string_append_printf (out, " [" X ", " X "]", r->min, r->max);
  g_string_append_printf (out, " fit %d", r->fit);
}

/* r through asm_arena_alloc_instant() when it has that shape and
 * by_instant, else through asm_arena_alloc_full() itself (the parentheses
 * keep the header from routing a constant request) */
gboolean
arena_alloc_either (AsmArena *a, const AsmRequest *r, guint64 *out_addr,
                    GError **error, gboolean by_instant)
{
  if (by_instant && r->fit == ASM_FIT_INSTANT &&
      (r->phase | r->nocross | r->min) == 0)
    return asm_arena_alloc_instant (a, r->size, r->align, r->max, out_addr,
                                    error);
  return (asm_arena_alloc_full) (a, r, out_addr, error);
}

/* a request of one of the cache's sizes, mostly of the shape it serves */
static void
gen_request (const CacheMirror *m, ChoiceSource *s, AsmRequest *r)
{
  static const guint64 sizes[] = { 1, 1, 1, 2, 2,  3,  4, 4,
                                   5, 8, 8, 9, 16, 32, 64 };
  guint64 q = m->cfg.quantum;
  guint64 pages = sizes[choice_below (s, G_N_ELEMENTS (sizes))];

  *r = ASM_REQUEST_INIT (pages * q);
  r->align = (pages <= 1 ? 1
                         : G_GUINT64_CONSTANT (1)
                               << (64 - __builtin_clzll (pages - 1))) *
             q;
  if (choice_chance (s, 1, 6))
    r->align = 0; /* less aligned */
  if (choice_chance (s, 1, 8))
    r->align *= 2; /* more aligned than the cache serves */
  if (choice_chance (s, 1, 5))
    {
      guint64 slack;

      r->min = m->cfg.base + choice_below (s, m->cfg.pages) * q;
      slack = choice_below (s, m->cfg.pages * q) + r->size;
      /* at the top of the address space: up to the end */
      r->max = r->min + slack >= r->min ? r->min + slack : G_MAXUINT64;
    }
  if (choice_chance (s, 1, 16) && r->align >= 2 * q)
    r->phase = q;
  if (choice_chance (s, 1, 64))
    {
      /* far above the cache's sizes: the tree's, whole, even past 2^63 */
      static const guint64 huge[] = { G_GUINT64_CONSTANT (1) << 63,
                                      G_MAXUINT64 };

      r->size = huge[choice_below (s, G_N_ELEMENTS (huge))] & ~(q - 1);
      r->align = 0;
      r->phase = 0;
    }
  r->fit = choice_chance (s, 23, 24) ? ASM_FIT_INSTANT
                                     : (AsmFit) choice_below (s, 4);
}

static gboolean
compare_stats (CacheMirror *m)
{
  AsmArenaStats x, y;

  asm_arena_get_stats (m->arena, &x);
  asm_arena_get_stats (m->mirror, &y);
#define SAME(field)                                                            \
  if (x.field != y.field)                                                      \
    return fail (m,                                                            \
                 "stats: " #field " is %" G_GUINT64_FORMAT                     \
                 " cached, %" G_GUINT64_FORMAT " uncached",                    \
                 x.field, y.field);
  SAME (allocated_units);
  SAME (reserved_units);
  SAME (free_units);
  SAME (n_allocated);
  SAME (n_reserved);
#undef SAME
  return TRUE;
}

static gboolean
check_cached (CacheMirror *m)
{
  g_autoptr (GError) error = NULL;

  if (!asm_arena_check (m->arena, &error))
    return fail (m, "asm_arena_check: %s",
                 error != NULL ? error->message : "(no error set)");
  return TRUE;
}

/* r on both arenas: the cached one must grant it exactly when the mirror
 * has a fit, at an address that satisfies r in the mirror (an exact fit's
 * at the mirror's own), which the mirror then takes too.  FALSE on a
 * difference; else *out_ok says whether r was granted, at *out_addr. */
static gboolean
alloc_both (CacheMirror *m, const AsmRequest *r, gboolean by_instant,
            gboolean trace, gboolean *out_ok, guint64 *out_addr)
{
  AsmRequest at = *r;
  guint64 want = 0, got = 0, placed = 0;
  gboolean fits, ok;

  if (r->fit == ASM_FIT_INSTANT)
    at.fit = ASM_FIT_LOWEST;
  fits = asm_arena_find_free (m->mirror, &at, &want, NULL);
  ok = arena_alloc_either (m->arena, r, &got, NULL, by_instant);
  if (trace || ok != fits)
    {
      g_autoptr (GString) line = g_string_new ("alloc ");

      format_request (r, line);
      if (by_instant)
        g_string_append (line, " (instant entry)");
      if (ok != fits)
        return fail (m, "%s: cached %s, uncached %s", line->str,
                     ok ? "ok" : "refused", fits ? "has a fit" : "has none");
      if (ok)
        g_string_append_printf (line, " -> " X, got);
      else
        g_string_append (line, " -> refused");
      g_printerr ("# %" G_GUINT64_FORMAT ": %s\n", m->step, line->str);
    }
  *out_ok = ok;
  *out_addr = got;
  if (!ok)
    return TRUE;
  if (r->fit != ASM_FIT_INSTANT && got != want)
    return fail (m, "exact fit %d: cached " X ", uncached " X, r->fit, got,
                 want);
  /* take the same place in the mirror: it must satisfy r there (and a
   * NEXT allocation moves the mirror's cursor as it moved the arena's) */
  at.fit = r->fit == ASM_FIT_NEXT ? ASM_FIT_NEXT : ASM_FIT_LOWEST;
  at.min = got;
  at.max = MIN (r->max, got + (r->size - 1));
  if (!asm_arena_alloc_full (m->mirror, &at, &placed, NULL) || placed != got)
    return fail (m,
                 X "+" X " is not a fit of the request in the uncached "
                   "arena",
                 got, r->size);
  return TRUE;
}

static gboolean
step_alloc (CacheMirror *m, ChoiceSource *s)
{
  AsmRequest r;
  guint64 got = 0;
  gboolean ok = FALSE, by_instant;

  gen_request (m, s, &r);
  by_instant = choice_chance (s, 1, 2);
  if (!alloc_both (m, &r, by_instant, m->trace, &ok, &got))
    return FALSE;
  if (ok)
    g_array_append_val (m->live, ((CacheMirrorRange){ got, r.size }));
  return TRUE;
}

static gboolean
step_free (CacheMirror *m, ChoiceSource *s)
{
  guint64 q = m->cfg.quantum, addr;
  gboolean ok, want;
  guint pick = (guint) choice_below (s, 8);

  if (pick < 5 && m->live->len > 0)
    {
      guint i = (guint) choice_below (s, m->live->len);

      addr = g_array_index (m->live, CacheMirrorRange, i).addr;
      g_array_append_val (m->dead,
                          g_array_index (m->live, CacheMirrorRange, i));
      g_array_remove_index_fast (m->live, i);
    }
  else if (pick < 7 && m->dead->len > 0) /* a double free, or a page inside */
    addr = g_array_index (m->dead, CacheMirrorRange,
                          choice_below (s, m->dead->len))
               .addr +
           (choice_chance (s, 1, 4) ? q : 0);
  else
    addr = m->cfg.base + choice_below (s, m->cfg.pages) * q;
  want = asm_arena_free (m->mirror, addr, NULL);
  ok = asm_arena_free (m->arena, addr, NULL);
  if (ok != want)
    return fail (m, "free " X ": cached %s, uncached %s", addr,
                 ok ? "ok" : "refused", want ? "ok" : "refused");
  if (m->trace)
    g_printerr ("# %" G_GUINT64_FORMAT ": free " X " -> %s\n", m->step, addr,
                ok ? "ok" : "refused");
  if (ok)
    for (guint i = 0; i < m->live->len; i++) /* a random address may be live */
      if (g_array_index (m->live, CacheMirrorRange, i).addr == addr)
        {
          g_array_remove_index_fast (m->live, i);
          break;
        }
  return TRUE;
}

static gboolean
step_reserve (CacheMirror *m, ChoiceSource *s)
{
  guint64 q = m->cfg.quantum;
  guint64 first = m->cfg.base + choice_below (s, m->cfg.pages) * q;
  guint64 last = first + choice_below (s, 4) * q + q - 1;
  gboolean want = asm_arena_reserve (m->mirror, first, last, NULL);

  if (asm_arena_reserve (m->arena, first, last, NULL) != want)
    return fail (m, "reserve [" X ", " X "]: cached %s, uncached %s", first,
                 last, want ? "refused" : "ok", want ? "ok" : "refused");
  if (m->trace)
    g_printerr ("# %" G_GUINT64_FORMAT ": reserve [" X ", " X "] -> %s\n",
                m->step, first, last, want ? "ok" : "refused");
  if (want)
    g_array_append_val (m->live,
                        ((CacheMirrorRange){ first, last - first + 1 }));
  return TRUE;
}

gboolean
cache_mirror_step (CacheMirror *m, ChoiceSource *s)
{
  /* about 20 live allocations: the space is at times close to full, so
   * refusals and flushes happen, but not all the time */
  guint op = (guint) choice_below (s, 100);
  guint64 probe;
  gboolean ok;

  m->step++;
  if (op < (m->live->len < 20 ? 60u : 40u))
    ok = step_alloc (m, s);
  else if (op < 98)
    ok = step_free (m, s);
  else
    ok = step_reserve (m, s);
  if (!ok)
    goto out;
  if (m->dead->len > 64)
    g_array_remove_range (m->dead, 0, 32);
  probe = m->cfg.base + choice_below (s, m->cfg.pages * m->cfg.quantum);
  if (asm_arena_lookup (m->arena, probe, NULL) !=
      asm_arena_lookup (m->mirror, probe, NULL))
    {
      fail (m, "lookup " X ": cached %s, uncached %s", probe,
            asm_arena_lookup (m->arena, probe, NULL) ? "found" : "free",
            asm_arena_lookup (m->mirror, probe, NULL) ? "found" : "free");
      goto out;
    }
  if (!compare_stats (m) || !check_cached (m))
    goto out;
  return TRUE;

out:
  {
    g_autofree char *head =
        g_strdup_printf ("step %" G_GUINT64_FORMAT ": ", m->step);

    g_string_prepend (m->why, head);
  }
  return FALSE;
}

/* frees addrs on both, each of which both must accept, in an order of
 * the choices' */
static gboolean
free_all_both (CacheMirror *m, ChoiceSource *s, GArray *addrs)
{
  guint64 *v = (guint64 *) (gpointer) addrs->data;
  guint n = addrs->len;

  switch (choice_below (s, 4))
    {
    case 0: /* as allocated */
      break;
    case 1: /* the newest first */
      for (guint i = 0; i < n / 2; i++)
        {
          guint64 t = v[i];

          v[i] = v[n - 1 - i];
          v[n - 1 - i] = t;
        }
      break;
    case 2: /* every other one, then the rest */
      {
        g_autofree guint64 *w = g_new (guint64, MAX (n, 1));
        guint k = 0;

        for (guint i = 0; i < n; i += 2)
          w[k++] = v[i];
        for (guint i = 1; i < n; i += 2)
          w[k++] = v[i];
        memcpy (v, w, n * sizeof *v);
        break;
      }
    default: /* shuffled by a PRNG whose seed is a choice */
      {
        ChoiceSource prng;

        choice_source_init_seed (&prng, choice_u64 (s));
        for (guint i = n; i > 1; i--)
          {
            guint j = (guint) choice_below (&prng, i);
            guint64 t = v[i - 1];

            v[i - 1] = v[j];
            v[j] = t;
          }
        break;
      }
    }
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GError) error = NULL;

      if (!asm_arena_free (m->mirror, v[i], NULL))
        return fail (m, "the uncached arena refused to free " X, v[i]);
      if (!asm_arena_free (m->arena, v[i], &error))
        return fail (m, "free " X ": cached refused: %s", v[i], error->message);
    }
  g_array_set_size (addrs, 0);
  return TRUE;
}

gboolean
cache_mirror_burst (CacheMirror *m, ChoiceSource *s)
{
  guint64 q = m->cfg.quantum;
  guint64 pages = 1 + choice_below (s, MIN (m->cfg.max_size / q, 4));
  guint64 n = 1 + choice_below (s, 2 * m->cfg.pages / pages);
  guint64 again = choice_below (s, n + 1);
  gboolean by_instant = choice_chance (s, 1, 2);
  AsmRequest r = ASM_REQUEST_INIT (pages * q);
  g_autoptr (GArray) addrs = g_array_new (FALSE, FALSE, sizeof (guint64));
  guint64 taken[2] = { 0, 0 };

  m->step++;
  r.fit = ASM_FIT_INSTANT;
  r.align = (pages == 3 ? 4 : pages) * q; /* the shape the cache serves */
  for (guint round = 0; round < 2; round++)
    {
      for (guint64 i = 0; i < (round == 0 ? n : again); i++)
        {
          gboolean ok = FALSE;
          guint64 addr = 0;

          if (!alloc_both (m, &r, by_instant, FALSE, &ok, &addr))
            goto out;
          if (!ok)
            break;
          g_array_append_val (addrs, addr);
        }
      taken[round] = addrs->len;
      if (!compare_stats (m) || !check_cached (m) ||
          !free_all_both (m, s, addrs) || !compare_stats (m) ||
          !check_cached (m))
        goto out;
    }
  if (m->trace)
    g_printerr ("# %" G_GUINT64_FORMAT ": burst of size " X
                ": %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                " taken and freed, "
                "then %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT "\n",
                m->step, r.size, taken[0], n, taken[1], again);
  return TRUE;

out:
  {
    g_autofree char *head =
        g_strdup_printf ("step %" G_GUINT64_FORMAT ": burst of " X
                         " x %" G_GUINT64_FORMAT ": ",
                         m->step, r.size, n);

    g_string_prepend (m->why, head);
  }
  return FALSE;
}

static gboolean
whole_span_free (CacheMirror *m, AsmArena *a, const char *which)
{
  AsmRange seg = { 1, 0 };
  AsmSegmentKind kind = ASM_SEGMENT_ALLOCATED;

  if (!asm_arena_lookup_full (a, m->cfg.base, &seg, &kind) ||
      kind != ASM_SEGMENT_FREE || seg.first != m->cfg.base ||
      seg.last != span_end (m))
    return fail (m,
                 "%s: lookup_full " X " gives [" X ", " X "] of kind %d, "
                 "not the whole span free",
                 which, m->cfg.base, seg.first, seg.last, kind);
  return TRUE;
}

gboolean
cache_mirror_drain (CacheMirror *m)
{
  AsmRequest all = ASM_REQUEST_INIT (m->cfg.pages * m->cfg.quantum);
  AsmArenaStats st;
  g_autoptr (GError) error = NULL;
  guint64 got = 1, placed = 1;
  guint n = m->live->len;

  m->step++;
  for (guint i = 0; i < m->live->len; i++)
    {
      CacheMirrorRange r = g_array_index (m->live, CacheMirrorRange, i);

      if (!asm_arena_free (m->mirror, r.addr, NULL))
        {
          fail (m, "the uncached arena refused to free " X ", live", r.addr);
          goto out;
        }
      if (!asm_arena_free (m->arena, r.addr, &error))
        {
          fail (m, "free " X ", live: cached refused: %s", r.addr,
                error->message);
          goto out;
        }
      g_array_append_val (m->dead, r);
    }
  g_array_set_size (m->live, 0);
  if (m->dead->len > 64)
    g_array_remove_range (m->dead, 0, m->dead->len - 64);
  if (!compare_stats (m) || !check_cached (m))
    goto out;
  asm_arena_get_stats (m->arena, &st);
  if (st.n_allocated != 0 || st.n_reserved != 0 || st.free_units != all.size)
    {
      fail (m,
            "stats: %" G_GUINT64_FORMAT " allocations, %" G_GUINT64_FORMAT
            " reservations, " X " units free of " X,
            st.n_allocated, st.n_reserved, st.free_units, all.size);
      goto out;
    }
  /* the whole span at once: the cache gives back what it holds */
  all.fit = ASM_FIT_INSTANT;
  if (!asm_arena_alloc_full (m->arena, &all, &got, &error))
    {
      fail (m, "the whole span, INSTANT: cached refused: %s", error->message);
      goto out;
    }
  if (got != m->cfg.base)
    {
      fail (m, "the whole span, INSTANT: cached gives " X ", not " X, got,
            m->cfg.base);
      goto out;
    }
  all.fit = ASM_FIT_LOWEST;
  if (!asm_arena_alloc_full (m->mirror, &all, &placed, NULL) ||
      placed != m->cfg.base)
    {
      fail (m, "the whole span: the uncached arena refused it");
      goto out;
    }
  if (!check_cached (m) || !compare_stats (m))
    goto out;
  if (!asm_arena_free (m->arena, got, NULL) ||
      !asm_arena_free (m->mirror, placed, NULL))
    {
      fail (m, "the whole span: a free refused");
      goto out;
    }
  if (!whole_span_free (m, m->arena, "cached") ||
      !whole_span_free (m, m->mirror, "uncached") || !check_cached (m) ||
      !compare_stats (m))
    goto out;
  if (m->trace)
    g_printerr ("# %" G_GUINT64_FORMAT ": drain: %u freed, the span is free\n",
                m->step, n);
  return TRUE;

out:
  {
    g_autofree char *head =
        g_strdup_printf ("step %" G_GUINT64_FORMAT ": drain (%u live): ",
                         m->step, n);

    g_string_prepend (m->why, head);
  }
  return FALSE;
}
