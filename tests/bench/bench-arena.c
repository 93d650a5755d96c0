/* bench-arena.c: speed, scaling and memory figures for AsmArena
 *
 * The program prints figures; it never passes or fails on timing.  It exits
 * with status 1 only when the arena gives a wrong answer: an allocation that
 * breaks its request, a DMA32 request that should be impossible but succeeds
 * (or fails with a code other than NO_SPACE), a clone that is not independent
 * of its template, or a placement that differs from the naive baseline (both
 * implement the same exact LOWEST/HIGHEST policies, so for the same calls
 * they must return the same addresses).
 *
 * Every timed figure is the median, min and max over --runs runs (default 5);
 * each run starts from a fresh arena and its own seed (base seed + run), and
 * all randomness comes from a seeded splitmix64 stream, so runs repeat.
 *
 * W1  IOVA churn.  Span [0, 2^48-1], quantum 4096.  Request sizes are 1 to 64
 *     pages, weighted toward small: 1 page with probability 1/2; otherwise a
 *     size class (2], (2,4], (4,8], ... (32,64] is drawn with probabilities
 *     1/4, 1/8, ... and a size uniformly inside it.  Each request is
 *     size-aligned (align = size rounded up to a power of two, in bytes).
 *     The arena is filled to N live allocations, warmed up with min(N, 50000)
 *     untimed steps, then timed over --steps steps (default 200000).  A step
 *     frees a random live allocation and allocates a new one; "ns/op" is the
 *     time of one step (one free + one alloc), "ns/call" half of it.  Run for
 *     N = 10^3, 10^4, 10^5, 10^6 with ASM_FIT_LOWEST and ASM_FIT_HIGHEST, then
 *     ns/op(10^6) / ns/op(10^3) is printed.  Memory: a fresh child process
 *     (this program re-executed with --mem-probe) fills 10^6 allocations and
 *     reports the RSS growth (VmRSS and VmHWM from /proc/self/status) per live
 *     allocation, after the fill and after 200000 churn steps; the program's
 *     own bookkeeping arrays are touched before the first reading.
 * W2  DMA32 exhaustion.  Spans [0, 4 GiB-1] and [4 GiB, 2^48-1], quantum 4096.
 *     Everything below 4 GiB is reserved except one free page every k pages
 *     (k = 2048, 64, 2: 2^20 / k free single pages, 2 * 2^20 / k segments, so
 *     about 10^6 segments at k = 2).  Blocks of 64 two-page requests with
 *     max = 0xffffffff (which cannot succeed: they are counted, and a success
 *     is an error) alternate with blocks of 64 "64-bit" allocations (no max,
 *     ASM_FIT_HIGHEST as IOVA allocators do, random frees keep 1024 live).
 *     Only the failing requests are timed; fits LOWEST and HIGHEST.  The
 *     codes are checked on a further 256 requests made with a GError (also
 *     timed: the cost a caller that asks for the error pays).
 *     Then the refusal cases of issue 14 (see w2_prepare()): the first
 *     refusal after the arena's knowledge was voided, a repeated refusal,
 *     and a refusal right after a free that cannot help; outside --smoke
 *     each is also counted in instructions by a callgrind run of this
 *     program (--callgrind --workload W2 --case C --k K).
 * W3  Clone.  A template with 1,000 reservations spread over [0, 2^48) is
 *     cloned 100,000 times; each clone is then written once (a one-page
 *     alloc, which must land at address 0), written a second time, and all
 *     are unreffed.  Clone time is also measured for templates of 10, 1,000
 *     and 100,000 holes (it should not depend on the template's size).  Each
 *     measurement is preceded by one untimed warm-up batch (page faults).  A
 *     child process holds 100,000 unwritten clones and reports RSS growth per
 *     clone, then per written clone.
 * W4  IDs.  Quantum 1, span [0, 2^20-1], filled to 90% with single ids, then
 *     churned (free a random live id, alloc one) with ASM_FIT_LOWEST and
 *     ASM_FIT_NEXT; ns/op is one free + one alloc.
 *
 * Baseline: a naive allocator compiled only into this program: a sorted
 * array of free segments, searched first-fit by a linear walk (from the
 * bottom for LOWEST, from the top for HIGHEST), supporting size, align, min
 * and max, as hand-written allocators do.  Frees find their place by binary
 * search and coalesce with neighbours in the same span.  It runs W1 for
 * N <= --baseline-max-n (default 10^6) with fewer timed steps at large N
 * (max(5000, 2 * 10^8 / N), printed), and W2 with fewer requests (printed).
 *
 * Callgrind: --callgrind --n N runs one W1 fill and warm-up uninstrumented,
 * then the timed steps inside bench_w1_churn_measured() between
 * CALLGRIND_START_INSTRUMENTATION and CALLGRIND_STOP_INSTRUMENTATION, and
 * prints the number of steps ("ops=") so that run-callgrind.sh can divide the
 * instruction count by it.  --callgrind --workload W3 --holes H does the same
 * for a batch of clones of an H-hole template (bench_w3_clone_measured()).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <asm/asm.h>

#include "bench-common.h"
#include "bench-report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>

#define ASM_TEST_NO_CMOCKA
#include "arena-model.h"

#ifdef HAVE_VALGRIND_CALLGRIND_H
#include <valgrind/callgrind.h>
#define BENCH_CALLGRIND_START() CALLGRIND_START_INSTRUMENTATION
#define BENCH_CALLGRIND_STOP() CALLGRIND_STOP_INSTRUMENTATION
#define BENCH_HAVE_CALLGRIND TRUE
#else
#define BENCH_CALLGRIND_START() do { } while (0)
#define BENCH_CALLGRIND_STOP() do { } while (0)
#define BENCH_HAVE_CALLGRIND FALSE
#endif

#define PAGE G_GUINT64_CONSTANT (4096)
#define SPAN48_LAST ((G_GUINT64_CONSTANT (1) << 48) - 1)
#define FOUR_GIB (G_GUINT64_CONSTANT (1) << 32)

/* Wall-clock limits that keep a pathological implementation from hanging
 * the run: a phase that exceeds them stops early and says so. */
#define FILL_LIMIT_NS (120 * NS_PER_S)
#define TIMED_LIMIT_NS (20 * NS_PER_S)

/* ---------------------------------------------------------------- options */

static struct {
  gboolean smoke;
  gchar *workload;
  gint runs;
  gint64 n;
  gint64 max_n;
  gboolean json;
  gboolean callgrind;
  gchar *fit;
  gint64 steps;
  gint64 seed;
  gint64 baseline_max_n;
  gboolean no_baseline;
  gboolean no_memory;
  gchar *mem_probe;
  gint64 holes;
  gint64 clones;
  gboolean has_callgrind;
  gint64 k;
  gchar *w2_case;
  gboolean no_instructions;
} opt = {
  .runs = 5,
  .seed = 0x5eed,
  .baseline_max_n = 1000000,
};

/* ---------------------- small helpers (the clock, rng: bench-common.h) */

static inline guint64
hash_mix (guint64 h, guint64 v)
{
  h ^= v + G_GUINT64_CONSTANT (0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
  return h * G_GUINT64_CONSTANT (0xff51afd7ed558ccd);
}

/* ------------------------------------------------------ figures, records */

typedef struct {
  double median, min, max;
  guint n;
} Summary;

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static Summary
summarize (const double *v, guint n)
{
  Summary s = { 0, 0, 0, n };
  double *c;

  if (n == 0)
    return s;
  c = g_memdup2 (v, n * sizeof *v);
  qsort (c, n, sizeof *c, cmp_double);
  s.min = c[0];
  s.max = c[n - 1];
  s.median = (n & 1) ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
  g_free (c);
  return s;
}

typedef struct {
  gchar *workload;
  gchar *metric;
  gchar *unit;
  Summary s;
} Record;

static GPtrArray *records;

static void
record_free (gpointer p)
{
  Record *r = p;

  g_free (r->workload);
  g_free (r->metric);
  g_free (r->unit);
  g_free (r);
}

static Record *
record_new (const char *workload, const char *unit, const double *v, guint n,
            const char *fmt, va_list ap)
{
  Record *r = g_new0 (Record, 1);

  r->metric = g_strdup_vprintf (fmt, ap);
  r->workload = g_strdup (workload);
  r->unit = g_strdup (unit);
  r->s = summarize (v, n);
  g_ptr_array_add (records, r);
  return r;
}

static void record_only (const char *workload, const char *unit, double v,
                         const char *fmt, ...) G_GNUC_PRINTF (4, 5);

/* keeps a derived figure for --json without printing a line */
static void
record_only (const char *workload, const char *unit, double v,
             const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  record_new (workload, unit, &v, 1, fmt, ap);
  va_end (ap);
}

static Summary report (const char *workload, const char *unit, const double *v,
                       guint n, const char *fmt, ...) G_GNUC_PRINTF (5, 6);

/* Prints one figure line (median, min, max over the samples) and keeps it for
 * --json. */
static Summary
report (const char *workload, const char *unit, const double *v, guint n,
        const char *fmt, ...)
{
  Record *r;
  va_list ap;

  va_start (ap, fmt);
  r = record_new (workload, unit, v, n, fmt, ap);
  va_end (ap);
  say ("  %-50s %12.1f %12.1f %12.1f  %s\n", r->metric, r->s.median, r->s.min,
       r->s.max, unit);
  return r->s;
}

static void
report_header (void)
{
  say ("  %-50s %12s %12s %12s\n", "", "median", "min", "max");
}

static void
json_string (GString *s, const char *str)
{
  g_string_append_c (s, '"');
  for (const char *p = str; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_c (s, '\\');
      g_string_append_c (s, *p);
    }
  g_string_append_c (s, '"');
}

static void
print_json (void)
{
  GString *s = g_string_new ("[\n");

  for (guint i = 0; i < records->len; i++)
    {
      Record *r = records->pdata[i];

      g_string_append (s, "  {\"workload\": ");
      json_string (s, r->workload);
      g_string_append (s, ", \"metric\": ");
      json_string (s, r->metric);
      g_string_append (s, ", \"unit\": ");
      json_string (s, r->unit);
      g_string_append_printf (s, ", \"median\": %.3f, \"min\": %.3f, "
                              "\"max\": %.3f, \"samples\": %u}%s\n",
                              r->s.median, r->s.min, r->s.max, r->s.n,
                              i + 1 < records->len ? "," : "");
    }
  g_string_append (s, "]\n");
  fputs (s->str, stdout);
  g_string_free (s, TRUE);
}

/* ------------------------------------------------------------------ RSS */

typedef struct {
  guint64 rss_kb, hwm_kb;
} Mem;

static Mem
mem_read (void)
{
  Mem m = { 0, 0 };
  gchar *text = NULL;

  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL))
    return m;
  for (gchar *line = text; line && *line;)
    {
      gchar *nl = strchr (line, '\n');

      if (g_str_has_prefix (line, "VmRSS:"))
        m.rss_kb = g_ascii_strtoull (line + 6, NULL, 10);
      else if (g_str_has_prefix (line, "VmHWM:"))
        m.hwm_kb = g_ascii_strtoull (line + 6, NULL, 10);
      line = nl ? nl + 1 : NULL;
    }
  g_free (text);
  return m;
}

/* ------------------------------------------------------- implementations */

/* What the workloads call: asm or the naive baseline.  free() takes the size
 * because a hand-written allocator needs it; asm ignores it. */
typedef struct {
  const char *name;
  gpointer self;
  gboolean verify; /* check every answer with asm_arena_lookup_full() */
  gboolean (*alloc) (gpointer self, const AsmRequest *req, guint64 *out_addr);
  void (*free) (gpointer self, guint64 addr, guint64 size);
  void (*reserve) (gpointer self, guint64 first, guint64 last);
  void (*destroy) (gpointer self);
} Impl;

static gboolean
asm_impl_alloc (gpointer self, const AsmRequest *req, guint64 *out_addr)
{
  return asm_arena_alloc_full (self, req, out_addr, NULL);
}

static void
asm_impl_free (gpointer self, guint64 addr, guint64 size)
{
  if (G_UNLIKELY (!asm_arena_free (self, addr, NULL)))
    bench_die ("asm_arena_free (0x%" G_GINT64_MODIFIER "x) failed", addr);
}

static void
asm_impl_reserve (gpointer self, guint64 first, guint64 last)
{
  GError *error = NULL;

  if (!asm_arena_reserve (self, first, last, &error))
    bench_die ("asm_arena_reserve ([0x%" G_GINT64_MODIFIER "x, 0x%"
               G_GINT64_MODIFIER "x]): %s", first, last, error->message);
}

static void
asm_impl_destroy (gpointer self)
{
  asm_arena_unref (self);
}

static Impl
impl_asm (const char *name, guint64 quantum, const AsmRange *spans,
          guint n_spans)
{
  AsmArena *a = asm_arena_new (name, quantum);
  GError *error = NULL;

  if (a == NULL)
    bench_die ("asm_arena_new (%s) returned NULL", name);
  for (guint i = 0; i < n_spans; i++)
    if (!asm_arena_add_span (a, spans[i].first, spans[i].last, &error))
      bench_die ("asm_arena_add_span: %s", error->message);
  return (Impl) { "asm", a, opt.smoke, asm_impl_alloc, asm_impl_free,
                  asm_impl_reserve, asm_impl_destroy };
}

/* The naive baseline: a sorted array of free segments, first-fit walk. */
typedef struct {
  guint64 first, last;
  guint span;
} BaseSeg;

typedef struct {
  guint64 quantum;
  BaseSeg *seg;
  gsize n, cap;
  AsmRange spans[4];
  guint n_spans;
} Baseline;

static void
base_insert (Baseline *b, gsize i, BaseSeg s)
{
  if (b->n == b->cap)
    {
      b->cap = b->cap ? b->cap * 2 : 64;
      b->seg = g_renew (BaseSeg, b->seg, b->cap);
    }
  memmove (&b->seg[i + 1], &b->seg[i], (b->n - i) * sizeof *b->seg);
  b->seg[i] = s;
  b->n++;
}

static void
base_remove (Baseline *b, gsize i)
{
  memmove (&b->seg[i], &b->seg[i + 1], (b->n - i - 1) * sizeof *b->seg);
  b->n--;
}

/* the first index whose segment starts above addr */
static gsize
base_upper (Baseline *b, guint64 addr)
{
  gsize lo = 0, hi = b->n;

  while (lo < hi)
    {
      gsize mid = lo + (hi - lo) / 2;

      if (b->seg[mid].first <= addr)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

static guint
base_span_of (Baseline *b, guint64 addr)
{
  for (guint i = 0; i < b->n_spans; i++)
    if (addr >= b->spans[i].first && addr <= b->spans[i].last)
      return i;
  bench_die ("baseline: 0x%" G_GINT64_MODIFIER "x is in no span", addr);
}

/* take [first, last] out of free segment i */
static void
base_carve (Baseline *b, gsize i, guint64 first, guint64 last)
{
  BaseSeg *s = &b->seg[i];

  if (s->first == first && s->last == last)
    base_remove (b, i);
  else if (s->first == first)
    s->first = last + 1;
  else if (s->last == last)
    s->last = first - 1;
  else
    {
      BaseSeg tail = { last + 1, s->last, s->span };

      s->last = first - 1;
      base_insert (b, i + 1, tail);
    }
}

static gboolean
base_alloc (gpointer self, const AsmRequest *req, guint64 *out_addr)
{
  Baseline *b = self;
  guint64 size = req->size;
  guint64 amask = (req->align ? req->align : b->quantum) - 1;

  if (req->fit != ASM_FIT_HIGHEST)
    {
      for (gsize i = 0; i < b->n; i++)
        {
          const BaseSeg *s = &b->seg[i];
          guint64 lo, hi, a;

          if (s->first > req->max)
            break; /* sorted: nothing further can fit */
          lo = MAX (s->first, req->min);
          hi = MIN (s->last, req->max);
          if (lo > hi)
            continue;
          a = (lo + amask) & ~amask;
          if (a < lo || a > hi || hi - a < size - 1)
            continue;
          base_carve (b, i, a, a + size - 1);
          *out_addr = a;
          return TRUE;
        }
    }
  else
    {
      for (gsize i = b->n; i-- > 0;)
        {
          const BaseSeg *s = &b->seg[i];
          guint64 lo, hi, a;

          if (s->last < req->min)
            break;
          lo = MAX (s->first, req->min);
          hi = MIN (s->last, req->max);
          if (lo > hi || hi - lo < size - 1)
            continue;
          a = (hi - (size - 1)) & ~amask;
          if (a < lo)
            continue;
          base_carve (b, i, a, a + size - 1);
          *out_addr = a;
          return TRUE;
        }
    }
  return FALSE;
}

static void
base_free (gpointer self, guint64 addr, guint64 size)
{
  Baseline *b = self;
  guint64 last = addr + size - 1;
  guint span = base_span_of (b, addr);
  gsize i = base_upper (b, addr);
  gboolean join_prev = i > 0 && b->seg[i - 1].span == span
                       && b->seg[i - 1].last + 1 == addr;
  gboolean join_next = i < b->n && b->seg[i].span == span
                       && b->seg[i].first == last + 1;

  if (i > 0 && b->seg[i - 1].last >= addr)
    bench_die ("baseline: double free at 0x%" G_GINT64_MODIFIER "x", addr);
  if (join_prev && join_next)
    {
      b->seg[i - 1].last = b->seg[i].last;
      base_remove (b, i);
    }
  else if (join_prev)
    b->seg[i - 1].last = last;
  else if (join_next)
    b->seg[i].first = addr;
  else
    base_insert (b, i, (BaseSeg) { addr, last, span });
}

static void
base_reserve (gpointer self, guint64 first, guint64 last)
{
  Baseline *b = self;
  gsize i = base_upper (b, first);

  if (i == 0 || b->seg[i - 1].last < last)
    bench_die ("baseline: reserve of a range that is not free");
  base_carve (b, i - 1, first, last);
}

static void
base_destroy (gpointer self)
{
  Baseline *b = self;

  g_free (b->seg);
  g_free (b);
}

static Impl
impl_base (guint64 quantum, const AsmRange *spans, guint n_spans)
{
  Baseline *b = g_new0 (Baseline, 1);

  g_assert (n_spans <= G_N_ELEMENTS (b->spans));
  b->quantum = quantum;
  for (guint i = 0; i < n_spans; i++)
    {
      b->spans[b->n_spans++] = spans[i];
      base_insert (b, base_upper (b, spans[i].first),
                   (BaseSeg) { spans[i].first, spans[i].last, i });
    }
  return (Impl) { "baseline", b, FALSE, base_alloc, base_free, base_reserve,
                  base_destroy };
}

/* Checks, with asm_arena_lookup_full(), that [addr, addr + size - 1] is one
 * allocated segment (smoke runs only). */
static void
verify_allocated (Impl *impl, guint64 addr, guint64 size)
{
  AsmRange seg;
  AsmSegmentKind kind;

  if (!asm_arena_lookup_full (impl->self, addr, &seg, &kind)
      || seg.first != addr || seg.last != addr + size - 1
      || kind != ASM_SEGMENT_ALLOCATED)
    bench_die ("asm_arena_lookup_full (0x%" G_GINT64_MODIFIER "x) does not "
               "return the allocation just made", addr);
}

static void
verify_free (Impl *impl, guint64 addr)
{
  if (asm_arena_lookup (impl->self, addr, NULL))
    bench_die ("asm_arena_lookup (0x%" G_GINT64_MODIFIER "x) still finds a "
               "segment after the free", addr);
}

/* ------------------------------------------------------------------- W1 */

typedef struct {
  guint64 *addr;
  guint64 *size;
  gsize n, cap;
} Live;

static void
live_init (Live *l, gsize cap)
{
  l->cap = MAX (cap, 1);
  l->n = 0;
  /* touched now, so that RSS readings taken later do not count them */
  l->addr = g_new0 (guint64, l->cap);
  l->size = g_new0 (guint64, l->cap);
  memset (l->addr, 0xff, l->cap * sizeof *l->addr);
  memset (l->size, 0xff, l->cap * sizeof *l->size);
}

static void
live_clear (Live *l)
{
  g_clear_pointer (&l->addr, g_free);
  g_clear_pointer (&l->size, g_free);
  l->n = l->cap = 0;
}

static inline void
w1_request (Rng *rng, AsmFit fit, AsmRequest *req)
{
  guint64 pages = w1_pages (rng);

  *req = ASM_REQUEST_INIT (pages * PAGE);
  req->align = pow2_ceil (pages) * PAGE;
  req->fit = fit;
}

static inline guint64
w1_alloc (Impl *impl, const AsmRequest *req)
{
  guint64 addr;

  if (G_UNLIKELY (!impl->alloc (impl->self, req, &addr)))
    bench_die ("%s: alloc of %" G_GUINT64_FORMAT " bytes failed", impl->name,
               req->size);
  if (G_UNLIKELY ((addr & (req->align - 1)) != 0 || addr < req->min
                  || addr > req->max - (req->size - 1)))
    bench_die ("%s: alloc returned 0x%" G_GINT64_MODIFIER "x for size 0x%"
               G_GINT64_MODIFIER "x align 0x%" G_GINT64_MODIFIER "x",
               impl->name, addr, req->size, req->align);
  if (G_UNLIKELY (impl->verify))
    verify_allocated (impl, addr, req->size);
  return addr;
}

static inline void
w1_free (Impl *impl, guint64 addr, guint64 size)
{
  impl->free (impl->self, addr, size);
  if (G_UNLIKELY (impl->verify))
    verify_free (impl, addr);
}

static inline guint64
w1_step (Impl *impl, Live *live, Rng *rng, AsmFit fit, guint64 hash)
{
  gsize i = rng_below (rng, live->n);
  AsmRequest req;

  w1_free (impl, live->addr[i], live->size[i]);
  w1_request (rng, fit, &req);
  live->addr[i] = w1_alloc (impl, &req);
  live->size[i] = req.size;
  return hash_mix (hash, live->addr[i]);
}

static guint64
w1_churn (Impl *impl, Live *live, Rng *rng, AsmFit fit, guint64 steps,
          guint64 hash)
{
  for (guint64 s = 0; s < steps; s++)
    hash = w1_step (impl, live, rng, fit, hash);
  return hash;
}

/* The measured steady-state loop: its own symbol (never inlined or cloned)
 * so that callgrind can also select it with --toggle-collect. */
guint64 bench_w1_churn_measured (Impl *impl, Live *live, Rng *rng, AsmFit fit,
                                 guint64 steps, guint64 hash);

__attribute__ ((noinline, noclone)) guint64
bench_w1_churn_measured (Impl *impl, Live *live, Rng *rng, AsmFit fit,
                         guint64 steps, guint64 hash)
{
  for (guint64 s = 0; s < steps; s++)
    hash = w1_step (impl, live, rng, fit, hash);
  return hash;
}

typedef struct {
  Impl impl;
  Live live;
  Rng rng;
  AsmFit fit;
  guint64 hash;
} W1State;

static const AsmRange w1_span = { 0, SPAN48_LAST };

static void
w1_init (W1State *st, gboolean baseline, guint64 n, AsmFit fit, guint64 seed)
{
  st->impl = baseline ? impl_base (PAGE, &w1_span, 1)
                      : impl_asm ("w1", PAGE, &w1_span, 1);
  live_init (&st->live, n);
  st->rng = rng_new (seed);
  st->fit = fit;
  st->hash = 0;
}

static void
w1_fini (W1State *st)
{
  st->impl.destroy (st->impl.self);
  live_clear (&st->live);
}

/* fills to n live; FALSE if it took longer than FILL_LIMIT_NS */
static gboolean
w1_fill (W1State *st, guint64 n, guint64 *out_ns)
{
  guint64 t0 = now_ns ();

  for (gsize i = 0; i < n; i++)
    {
      AsmRequest req;

      w1_request (&st->rng, st->fit, &req);
      st->live.addr[i] = w1_alloc (&st->impl, &req);
      st->live.size[i] = req.size;
      st->live.n++;
      st->hash = hash_mix (st->hash, st->live.addr[i]);
      if ((i & 1023) == 1023 && now_ns () - t0 > FILL_LIMIT_NS)
        return FALSE;
    }
  *out_ns = now_ns () - t0;
  return TRUE;
}

typedef struct {
  gboolean completed;
  guint64 fill_ns;
  guint64 timed_ns;
  guint64 steps_done;
  guint64 hash_at;  /* after fill, warm-up and hash_at_step timed steps */
  guint64 hash_end;
  guint64 free_segments;
} W1Run;

static void
w1_run (gboolean baseline, guint64 n, AsmFit fit, guint64 seed,
        guint64 warmup, guint64 steps, guint64 hash_at_step, W1Run *r)
{
  W1State st;
  guint64 t0, done = 0;

  memset (r, 0, sizeof *r);
  w1_init (&st, baseline, n, fit, seed);
  if (!w1_fill (&st, n, &r->fill_ns))
    goto out;

  t0 = now_ns ();
  for (guint64 done_w = 0; done_w < warmup;)
    {
      guint64 chunk = MIN (4096, warmup - done_w);

      st.hash = w1_churn (&st.impl, &st.live, &st.rng, fit, chunk, st.hash);
      done_w += chunk;
      if (now_ns () - t0 > FILL_LIMIT_NS)
        goto out;
    }

  t0 = now_ns ();
  while (done < steps)
    {
      guint64 chunk = MIN (4096, steps - done);

      if (hash_at_step > done && hash_at_step < done + chunk)
        chunk = hash_at_step - done;
      st.hash = bench_w1_churn_measured (&st.impl, &st.live, &st.rng, fit,
                                         chunk, st.hash);
      done += chunk;
      if (done == hash_at_step)
        r->hash_at = st.hash;
      if (now_ns () - t0 > TIMED_LIMIT_NS)
        break;
    }
  r->timed_ns = now_ns () - t0;
  r->steps_done = done;
  r->hash_end = st.hash;
  r->completed = TRUE;
  if (!baseline)
    {
      AsmArenaStats stats;

      asm_arena_get_stats (st.impl.self, &stats);
      r->free_segments = stats.n_free_segments;
      if (stats.n_allocated != n)
        bench_fail ("W1: asm_arena_get_stats() counts %" G_GUINT64_FORMAT
                    " allocations, expected %" G_GUINT64_FORMAT,
                    stats.n_allocated, n);
    }
out:
  w1_fini (&st);
}

static const char *
fit_name (AsmFit fit)
{
  switch (fit)
    {
    case ASM_FIT_LOWEST:
      return "lowest";
    case ASM_FIT_HIGHEST:
      return "highest";
    case ASM_FIT_BEST:
      return "best";
    case ASM_FIT_NEXT:
      return "next";
    case ASM_FIT_INSTANT:
      return "instant";
    default:
      return "?";
    }
}

static gboolean
parse_fit (const char *s, AsmFit *fit)
{
  if (s == NULL || g_ascii_strcasecmp (s, "lowest") == 0)
    *fit = ASM_FIT_LOWEST;
  else if (g_ascii_strcasecmp (s, "highest") == 0)
    *fit = ASM_FIT_HIGHEST;
  else if (g_ascii_strcasecmp (s, "best") == 0)
    *fit = ASM_FIT_BEST;
  else if (g_ascii_strcasecmp (s, "next") == 0)
    *fit = ASM_FIT_NEXT;
  else if (g_ascii_strcasecmp (s, "instant") == 0)
    *fit = ASM_FIT_INSTANT; /* with the arena's cache (64 pages) */
  else
    return FALSE;
  return TRUE;
}

/* Runs this program again as a fresh process with the given arguments and
 * parses its "MEM key=value ..." line, so that a memory reading is not
 * polluted by what earlier workloads left in the heap. */
static GHashTable *
mem_probe_spawn (const char *const *args)
{
  g_autofree gchar *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree gchar *child_out = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) lines = NULL;
  GHashTable *kv;
  gint status = 0;

  if (self == NULL)
    return NULL;
  g_ptr_array_add (argv, self);
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_sync (NULL, (gchar **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL,
                     NULL, &child_out, NULL, &status, &error)
      || !g_spawn_check_wait_status (status, &error))
    {
      bench_fail ("memory probe: %s", error->message);
      return NULL;
    }
  kv = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  lines = g_strsplit (child_out, "\n", -1);
  for (gchar **l = lines; *l; l++)
    {
      g_auto (GStrv) kvs = NULL;

      if (!g_str_has_prefix (*l, "MEM "))
        continue;
      kvs = g_strsplit (*l + 4, " ", -1);
      for (gchar **p = kvs; *p; p++)
        {
          gchar *eq = strchr (*p, '=');

          if (eq)
            g_hash_table_insert (kv, g_strndup (*p, eq - *p),
                                 g_strdup (eq + 1));
        }
    }
  return kv;
}

static double
kv_double (GHashTable *kv, const char *key)
{
  const char *v = kv ? g_hash_table_lookup (kv, key) : NULL;

  return v ? g_ascii_strtod (v, NULL) : -1;
}

typedef struct {
  guint64 ns[4];
  guint n_ns;
  guint64 steps, warmup_max, mem_n, mem_steps;
  guint w2_k[3];
  guint n_w2_k;
  guint64 w2_count;
  guint64 w3_clones, w3_holes, w3_mem_clones;
  guint64 w3_sizes[3];
  guint w4_bits;
  guint64 w4_steps, w4_warmup;
} Plan;

static guint64
w1_base_steps (const Plan *plan, guint64 n)
{
  /* the baseline's steps cost O(free segments): fewer of them at large N */
  guint64 s = MAX (G_GUINT64_CONSTANT (5000), plan->steps * 1000 / n);

  return MIN (s, plan->steps);
}

static void
workload_w1 (const Plan *plan)
{
  static const AsmFit fits[] = { ASM_FIT_LOWEST, ASM_FIT_HIGHEST };
  double asm_median[G_N_ELEMENTS (fits)][4] = { { 0 } };
  double *sample = g_new (double, opt.runs);
  double *sample2 = g_new (double, opt.runs);
  guint64 max_n_done = 0;

  say ("\nW1 IOVA churn: span [0, 2^48-1], quantum 4096, 1-64 pages "
       "size-aligned, %d runs\n", opt.runs);
  say ("  ns/op = one step = free a random live allocation + alloc a new one "
       "(ns/call = ns/op / 2);\n  timed %" G_GUINT64_FORMAT
       " steps per run after min(N, %" G_GUINT64_FORMAT ") warm-up steps\n",
       plan->steps, plan->warmup_max);

  for (guint f = 0; f < G_N_ELEMENTS (fits); f++)
    {
      AsmFit fit = fits[f];

      say ("\n W1 fit %s\n", fit_name (fit));
      report_header ();
      for (guint k = 0; k < plan->n_ns; k++)
        {
          guint64 n = plan->ns[k];
          guint64 warmup = MIN (n, plan->warmup_max);
          gboolean do_base = !opt.no_baseline
                             && n <= (guint64) opt.baseline_max_n;
          guint64 base_steps = do_base ? w1_base_steps (plan, n) : 0;
          guint64 asm_hash = 0, free_segs = 0;
          gboolean complete = TRUE;
          guint runs_done = 0;

          for (gint r = 0; r < opt.runs; r++)
            {
              W1Run run;

              w1_run (FALSE, n, fit, opt.seed + r, warmup, plan->steps,
                      r == 0 ? base_steps : 0, &run);
              if (!run.completed)
                {
                  say ("  N=%-8" G_GUINT64_FORMAT " asm: fill or warm-up did "
                       "not finish in %" G_GUINT64_FORMAT " s; larger N "
                       "skipped\n", n, FILL_LIMIT_NS / NS_PER_S);
                  complete = FALSE;
                  break;
                }
              if (run.steps_done < plan->steps)
                say ("  (asm run %d stopped after %" G_GUINT64_FORMAT
                     " steps: time limit)\n", r, run.steps_done);
              sample[r] = (double) run.timed_ns / run.steps_done;
              sample2[r] = (double) run.fill_ns / n;
              if (r == 0)
                {
                  asm_hash = run.hash_at;
                  free_segs = run.free_segments;
                }
              runs_done++;
            }
          if (!complete)
            break;
          asm_median[f][k] =
              report ("W1", "ns/op", sample, runs_done,
                      "%s asm N=%" G_GUINT64_FORMAT " ns/op", fit_name (fit),
                      n).median;
          report ("W1", "ns/alloc", sample2, runs_done,
                  "%s asm N=%" G_GUINT64_FORMAT " fill ns/alloc",
                  fit_name (fit), n);
          say ("  %-50s %12" G_GUINT64_FORMAT "\n", "  (free segments after "
               "run 0)", free_segs);
          max_n_done = MAX (max_n_done, n);

          if (!do_base)
            continue;
          runs_done = 0;
          for (gint r = 0; r < opt.runs; r++)
            {
              W1Run run;

              w1_run (TRUE, n, fit, opt.seed + r, warmup, base_steps, 0, &run);
              if (!run.completed)
                {
                  say ("  N=%-8" G_GUINT64_FORMAT " baseline: fill did not "
                       "finish in time; skipped\n", n);
                  break;
                }
              if (r == 0 && run.steps_done == base_steps
                  && run.hash_end != asm_hash)
                bench_fail ("W1 %s N=%" G_GUINT64_FORMAT ": asm and the "
                            "baseline return different addresses for the "
                            "same calls", fit_name (fit), n);
              sample[r] = (double) run.timed_ns / run.steps_done;
              runs_done++;
            }
          if (runs_done)
            {
              Summary b = report ("W1", "ns/op", sample, runs_done,
                                  "%s baseline N=%" G_GUINT64_FORMAT
                                  " ns/op (%" G_GUINT64_FORMAT " steps)",
                                  fit_name (fit), n, base_steps);

              say ("  %-50s %12.1fx\n", "  baseline / asm", b.median
                   / asm_median[f][k]);
            }
        }
    }

  say ("\n W1 scaling (median ns/op)\n");
  for (guint f = 0; f < G_N_ELEMENTS (fits); f++)
    {
      gint first = -1, last = -1;
      double ratio;

      for (guint k = 0; k < plan->n_ns; k++)
        if (asm_median[f][k] > 0)
          {
            if (first < 0)
              first = k;
            last = k;
          }
      if (first < 0 || last == first)
        {
          say ("  %-7s (needs two values of N)\n", fit_name (fits[f]));
          continue;
        }
      ratio = asm_median[f][last] / asm_median[f][first];
      say ("  %-7s ns/op(N=%" G_GUINT64_FORMAT ") / ns/op(N=%"
           G_GUINT64_FORMAT ") = %.2fx%s\n", fit_name (fits[f]),
           plan->ns[last], plan->ns[first], ratio,
           plan->ns[last] == 1000000 && plan->ns[first] == 1000
               ? "   (target <= 6x)" : "");
      record_only ("W1", "x", ratio, "%s wall ratio N=%" G_GUINT64_FORMAT
                   " / N=%" G_GUINT64_FORMAT, fit_name (fits[f]),
                   plan->ns[last], plan->ns[first]);
    }

  if (!opt.no_memory && max_n_done > 0)
    {
      guint64 mem_n = MIN (plan->mem_n, max_n_done);
      g_autofree gchar *n_s = g_strdup_printf ("%" G_GUINT64_FORMAT, mem_n);
      g_autofree gchar *steps_s = g_strdup_printf ("%" G_GUINT64_FORMAT,
                                                   plan->mem_steps);

      static const AsmFit mem_fits[] = { ASM_FIT_LOWEST, ASM_FIT_HIGHEST,
                                         ASM_FIT_INSTANT };

      say ("\n W1 memory, fresh process, N=%s live allocations "
           "(RSS growth / N; instant: with the arena's cache, 64 pages, "
           "whose table and magazines count)\n", n_s);
      for (guint f = 0; f < G_N_ELEMENTS (mem_fits); f++)
        {
          const char *args[] = { "--mem-probe", "w1", "--n", n_s, "--fit",
                                 fit_name (mem_fits[f]), "--steps", steps_s,
                                 NULL };
          GHashTable *kv = mem_probe_spawn (args);
          double before = kv_double (kv, "rss_before_kb");
          double fill_rss = (kv_double (kv, "rss_fill_kb") - before) * 1024
                            / mem_n;
          double fill_hwm = (kv_double (kv, "hwm_fill_kb") - before) * 1024
                            / mem_n;
          double churn_hwm = (kv_double (kv, "hwm_churn_kb") - before) * 1024
                             / mem_n;

          if (kv == NULL)
            continue;
          report ("W1", "bytes", &fill_rss, 1, "%s bytes/live alloc after "
                  "fill (VmRSS)", fit_name (mem_fits[f]));
          report ("W1", "bytes", &fill_hwm, 1, "%s bytes/live alloc after "
                  "fill (VmHWM)", fit_name (mem_fits[f]));
          report ("W1", "bytes", &churn_hwm, 1, "%s bytes/live alloc after "
                  "+%s steps (VmHWM)", fit_name (mem_fits[f]), steps_s);
          say ("  %-50s %12.0f\n", "  (free segments after the steps)",
               kv_double (kv, "free_segments"));
          g_hash_table_unref (kv);
        }
      if (mem_n == 1000000)
        say ("  (target <= 64 bytes per live allocation at N=10^6)\n");
    }
  g_free (sample);
  g_free (sample2);
}

static int
mem_probe_w1 (void)
{
  AsmFit fit;
  W1State st;
  Mem m0, m1, m2;
  guint64 n = opt.n > 0 ? (guint64) opt.n : 1000000;
  guint64 steps = opt.steps > 0 ? (guint64) opt.steps : 0;
  guint64 ns;
  AsmArenaStats stats;

  if (!parse_fit (opt.fit, &fit))
    bench_die ("bad --fit");
  /* the bookkeeping arrays first (touched), then the first reading */
  live_init (&st.live, n);
  st.rng = rng_new (opt.seed);
  st.fit = fit;
  st.hash = 0;
  m0 = mem_read ();
  st.impl = impl_asm ("w1-mem", PAGE, &w1_span, 1);
  if (fit == ASM_FIT_INSTANT &&
      !asm_arena_enable_cache (st.impl.self, 64 * PAGE, NULL))
    bench_die ("asm_arena_enable_cache failed");
  if (!w1_fill (&st, n, &ns))
    bench_die ("fill did not finish in time");
  m1 = mem_read ();
  st.hash = w1_churn (&st.impl, &st.live, &st.rng, fit, steps, st.hash);
  m2 = mem_read ();
  asm_arena_get_stats (st.impl.self, &stats);
  printf ("MEM n=%" G_GUINT64_FORMAT " rss_before_kb=%" G_GUINT64_FORMAT
          " rss_fill_kb=%" G_GUINT64_FORMAT " hwm_fill_kb=%" G_GUINT64_FORMAT
          " rss_churn_kb=%" G_GUINT64_FORMAT " hwm_churn_kb=%" G_GUINT64_FORMAT
          " free_segments=%" G_GUINT64_FORMAT "\n", n, m0.rss_kb, m1.rss_kb,
          m1.hwm_kb, m2.rss_kb, m2.hwm_kb, stats.n_free_segments);
  w1_fini (&st);
  return 0;
}

static int
run_callgrind (void)
{
  AsmFit fit;
  W1State st;
  guint64 n = opt.n > 0 ? (guint64) opt.n : 1000;
  guint64 steps = opt.steps > 0 ? (guint64) opt.steps : 100000;
  guint64 ns;

  if (!parse_fit (opt.fit, &fit))
    bench_die ("bad --fit");
  w1_init (&st, FALSE, n, fit, opt.seed);
  if (!w1_fill (&st, n, &ns))
    bench_die ("fill did not finish in time");
  st.hash = w1_churn (&st.impl, &st.live, &st.rng, fit, MIN (n, 50000),
                      st.hash);
  BENCH_CALLGRIND_START ();
  st.hash = bench_w1_churn_measured (&st.impl, &st.live, &st.rng, fit, steps,
                                     st.hash);
  BENCH_CALLGRIND_STOP ();
  printf ("callgrind: workload=W1 n=%" G_GUINT64_FORMAT " fit=%s ops=%"
          G_GUINT64_FORMAT " op=free+alloc client-requests=%s hash=%016"
          G_GINT64_MODIFIER "x\n", n, fit_name (fit), steps,
          BENCH_HAVE_CALLGRIND ? "yes" : "no", st.hash);
  w1_fini (&st);
  return 0;
}

/* ------------------------------------------------------------------- W2 */

#define W2_RING 1024
#define W2_BLOCK 64

static const AsmRange w2_spans[] = {
  { 0, FOUR_GIB - 1 },
  { FOUR_GIB, SPAN48_LAST },
};

typedef struct {
  Impl impl;
  Live ring; /* the live 64-bit allocations */
  Rng rng;
  guint64 bad;
} W2State;

static void
w2_build (W2State *st, gboolean baseline, guint k, guint64 *build_ns)
{
  guint64 pages = FOUR_GIB / PAGE, t0;

  st->impl = baseline ? impl_base (PAGE, w2_spans, 2)
                      : impl_asm ("w2", PAGE, w2_spans, 2);
  live_init (&st->ring, W2_RING);
  st->rng = rng_new (opt.seed);
  st->bad = 0;
  t0 = now_ns ();
  for (guint64 p = 0; p < pages; p += k)
    st->impl.reserve (st->impl.self, (p + 1) * PAGE, (p + k) * PAGE - 1);
  *build_ns = now_ns () - t0;
}

static void
w2_fini (W2State *st)
{
  st->impl.destroy (st->impl.self);
  live_clear (&st->ring);
}

/* one 64-bit allocation (top-down), freeing a random older one when full */
static inline void
w2_traffic (W2State *st)
{
  AsmRequest req;
  gsize i;

  w1_request (&st->rng, ASM_FIT_HIGHEST, &req);
  if (st->ring.n == st->ring.cap)
    {
      i = rng_below (&st->rng, st->ring.n);
      w1_free (&st->impl, st->ring.addr[i], st->ring.size[i]);
    }
  else
    i = st->ring.n++;
  st->ring.addr[i] = w1_alloc (&st->impl, &req);
  st->ring.size[i] = req.size;
  if (G_UNLIKELY (st->ring.addr[i] < FOUR_GIB))
    bench_fail ("W2: a top-down 64-bit allocation landed below 4 GiB");
}

static inline void
w2_unexpected (W2State *st, guint64 addr)
{
  if (st->bad++ == 0)
    bench_fail ("W2 %s: a 2-page request with max 0xffffffff succeeded at "
                "0x%" G_GINT64_MODIFIER "x", st->impl.name, addr);
  st->impl.free (st->impl.self, addr, 2 * PAGE);
}

/* Times count failing DMA32 requests (blocks of W2_BLOCK, between blocks of
 * 64-bit traffic); returns ns per request, *done the number made. */
static double
w2_measure (W2State *st, AsmFit fit, guint64 count, guint64 *done)
{
  AsmRequest dma = ASM_REQUEST_INIT (2 * PAGE);
  guint64 total = 0;

  dma.max = 0xffffffff;
  dma.fit = fit;
  *done = 0;
  while (*done < count)
    {
      guint64 chunk = MIN (W2_BLOCK, count - *done), t0, t1;

      t0 = now_ns ();
      for (guint64 i = 0; i < chunk; i++)
        {
          guint64 addr;

          if (G_UNLIKELY (st->impl.alloc (st->impl.self, &dma, &addr)))
            w2_unexpected (st, addr);
        }
      t1 = now_ns ();
      total += t1 - t0;
      *done += chunk;
      for (guint i = 0; i < W2_BLOCK; i++)
        w2_traffic (st);
      if (total > TIMED_LIMIT_NS)
        break;
    }
  return (double) total / *done;
}

/* 256 more requests, each with a GError whose code must be NO_SPACE */
static double
w2_check_codes (W2State *st, AsmFit fit)
{
  AsmRequest dma = ASM_REQUEST_INIT (2 * PAGE);
  guint64 t0, total = 0;

  dma.max = 0xffffffff;
  dma.fit = fit;
  for (guint i = 0; i < 256; i++)
    {
      GError *error = NULL;
      guint64 addr;
      gboolean ok;

      t0 = now_ns ();
      ok = asm_arena_alloc_full (st->impl.self, &dma, &addr, &error);
      if (!ok)
        g_clear_error (&error);
      total += now_ns () - t0;
      if (ok)
        w2_unexpected (st, addr);
      else
        {
          /* again, for the code (untimed) */
          ok = asm_arena_alloc_full (st->impl.self, &dma, &addr, &error);
          if (!ok && !g_error_matches (error, ASM_ERROR, ASM_ERROR_NO_SPACE))
            {
              bench_fail ("W2: the impossible request failed with %s %d (%s),"
                          " not NO_SPACE", g_quark_to_string (error->domain),
                          error->code, error->message);
              g_clear_error (&error);
              break;
            }
          g_clear_error (&error);
        }
    }
  return (double) total / 256;
}

/* ----------------------------------------------- W2: repeated refusals */

/* The three refusal cases of issue 14 on the W2 arena.  Each op is one
 * refused DMA32 request (2 pages, max 0xffffffff, LOWEST); only that call is
 * timed (and, under callgrind, counted).  What comes before it, untimed:
 *   first       the free of a reservation next to a free page (a run of 3
 *               or more pages: the refused request would fit), then the same
 *               reservation again: whatever the arena learnt from earlier
 *               refusals is void, and the refusal searches from scratch;
 *   repeated    nothing: the same request was refused just before;
 *   after-free  a one-page DMA32 allocation on a random free page and its
 *               free: the freed run is one page, which cannot hold two.
 *               Linux resets its max32_alloc_size hint on any free below
 *               its DMA32 limit, so its next refusal walks the whole tree. */
typedef enum {
  W2_FIRST,
  W2_REPEATED,
  W2_AFTER_FREE,
  W2_N_CASES
} W2Case;

static const char *const w2_case_names[W2_N_CASES] = { "first", "repeated",
                                                       "after-free" };

static gboolean
parse_w2_case (const char *s, W2Case *c)
{
  for (guint i = 0; i < W2_N_CASES; i++)
    if (s != NULL && g_ascii_strcasecmp (s, w2_case_names[i]) == 0)
      {
        *c = (W2Case) i;
        return TRUE;
      }
  return FALSE;
}

static AsmRequest
w2_dma_request (AsmFit fit)
{
  AsmRequest dma = ASM_REQUEST_INIT (2 * PAGE);

  dma.max = 0xffffffff;
  dma.fit = fit;
  return dma;
}

/* One refused request: its own symbol (never inlined or cloned) so that
 * callgrind can count exactly this call with --toggle-collect. */
gboolean bench_w2_refusal_measured (AsmArena *a, const AsmRequest *req);

__attribute__ ((noinline, noclone)) gboolean
bench_w2_refusal_measured (AsmArena *a, const AsmRequest *req)
{
  guint64 addr;

  return asm_arena_alloc_full (a, req, &addr, NULL);
}

/* The untimed part of one op of case c on a W2 arena built with k. */
static void
w2_prepare (W2State *st, W2Case c, guint k)
{
  AsmArena *a = st->impl.self;
  guint64 p = rng_below (&st->rng, FOUR_GIB / PAGE / k) * k; /* free page */
  GError *error = NULL;

  switch (c)
    {
    case W2_FIRST:
      if (!asm_arena_free (a, (p + 1) * PAGE, &error)
          || !asm_arena_reserve (a, (p + 1) * PAGE, (p + k) * PAGE - 1,
                                 &error))
        bench_die ("W2 first: %s", error->message);
      break;
    case W2_AFTER_FREE:
      {
        AsmRequest one = ASM_REQUEST_INIT (PAGE);
        guint64 addr;

        one.min = p * PAGE;
        one.max = 0xffffffff;
        if (!asm_arena_alloc_full (a, &one, &addr, &error))
          bench_die ("W2 after-free: %s", error->message);
        if (addr != p * PAGE)
          bench_fail ("W2 after-free: the free page 0x%" G_GINT64_MODIFIER
                      "x was not the lowest at or above itself (got 0x%"
                      G_GINT64_MODIFIER "x)", p * PAGE, addr);
        if (!asm_arena_free (a, addr, &error))
          bench_die ("W2 after-free: %s", error->message);
        break;
      }
    default:
      break;
    }
}

/* ns per refusal of case c over count ops.  "repeated" is timed in blocks
 * of W2_BLOCK back-to-back refusals; the others one op at a time, less the
 * timer's own cost. */
static double
w2_case_measure (W2State *st, W2Case c, guint k, guint64 count)
{
  AsmRequest dma = w2_dma_request (ASM_FIT_LOWEST);
  AsmArena *a = st->impl.self;
  guint64 total = 0, done = 0;

  if (bench_w2_refusal_measured (a, &dma)) /* the refusal behind "repeated" */
    w2_unexpected (st, 0);
  while (done < count)
    {
      if (c == W2_REPEATED)
        {
          guint64 chunk = MIN (W2_BLOCK, count - done), t0 = now_ns ();
          guint64 bad = 0;

          for (guint64 i = 0; i < chunk; i++)
            bad += bench_w2_refusal_measured (a, &dma);
          total += now_ns () - t0;
          done += chunk;
          if (G_UNLIKELY (bad))
            w2_unexpected (st, 0);
        }
      else
        {
          guint64 t0, t1;
          gboolean ok;

          w2_prepare (st, c, k);
          t0 = now_ns ();
          ok = bench_w2_refusal_measured (a, &dma);
          t1 = now_ns ();
          total += t1 - t0;
          done++;
          if (G_UNLIKELY (ok))
            w2_unexpected (st, 0);
        }
      if (total > TIMED_LIMIT_NS)
        break;
    }
  if (c == W2_REPEATED)
    return (double) total / done;
  return MAX (0.0, (double) total / done - bench_timer_overhead_ns ());
}

/* --callgrind --workload W2 --case C --k K: one W2 arena, then --steps ops
 * of case C, of which only bench_w2_refusal_measured() is counted. */
static int
run_callgrind_w2 (void)
{
  W2Case c = W2_REPEATED;
  guint k = opt.k > 0 ? (guint) opt.k : 2;
  guint64 steps = opt.steps > 0 ? (guint64) opt.steps : 10000;
  AsmRequest dma = w2_dma_request (ASM_FIT_LOWEST);
  W2State st;
  guint64 build_ns;

  if (opt.w2_case != NULL && !parse_w2_case (opt.w2_case, &c))
    bench_die ("bad --case (first, repeated or after-free)");
  if (k == 0 || (FOUR_GIB / PAGE) % k != 0)
    bench_die ("bad --k (a power of two up to 2^20)");
  w2_build (&st, FALSE, k, &build_ns);
  if (bench_w2_refusal_measured (st.impl.self, &dma))
    w2_unexpected (&st, 0);
  BENCH_CALLGRIND_START ();
  for (guint64 i = 0; i < steps; i++)
    {
      w2_prepare (&st, c, k);
      if (bench_w2_refusal_measured (st.impl.self, &dma))
        w2_unexpected (&st, 0);
    }
  BENCH_CALLGRIND_STOP ();
  printf ("callgrind: workload=W2 case=%s k=%u ops=%" G_GUINT64_FORMAT
          " op=refusal client-requests=%s\n", w2_case_names[c], k, steps,
          BENCH_HAVE_CALLGRIND ? "yes" : "no");
  w2_fini (&st);
  return st.bad ? 1 : 0;
}


/* The three refusal cases on the arena st (built with k): ns per refusal,
 * and with instructions, callgrind's count per refusal from a fresh run. */
static void
w2_hint_cases (W2State *st, guint k, guint64 segs, const Plan *plan,
               gboolean instructions)
{
  double *sample = g_new (double, opt.runs);

  for (guint c = 0; c < W2_N_CASES; c++)
    {
      guint64 count = c == W2_REPEATED ? plan->w2_count : plan->w2_count / 10;
      double ir;

      count = MAX (count, 16);
      for (gint r = 0; r < opt.runs; r++)
        sample[r] = w2_case_measure (st, (W2Case) c, k, count);
      report ("W2", "ns/request", sample, opt.runs,
              "refusal %-10s N=%" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
              ")", w2_case_names[c], segs, count);
      if (instructions)
        {
          g_autofree gchar *k_s = g_strdup_printf ("%u", k);
          const char *args[] = { "--callgrind", "--workload", "W2", "--case",
                                 w2_case_names[c], "--k", k_s, "--steps",
                                 "2000", NULL };

          if (bench_callgrind_ir_per_op ("bench_w2_refusal_measured", args, &ir))
            report ("W2", "Ir/request", &ir, 1, "refusal %-10s N=%"
                    G_GUINT64_FORMAT " instructions", w2_case_names[c], segs);
        }
    }
  if (opt.smoke)
    {
      GError *error = NULL;

      if (!asm_arena_check (st->impl.self, &error))
        {
          bench_fail ("W2 refusal cases: asm_arena_check: %s",
                      error->message);
          g_clear_error (&error);
        }
    }
  g_free (sample);
}

static void
workload_w2 (const Plan *plan)
{
  static const AsmFit fits[] = { ASM_FIT_LOWEST, ASM_FIT_HIGHEST };
  double *sample = g_new (double, opt.runs);
  g_autofree gchar *valgrind = g_find_program_in_path ("valgrind");
  gboolean instructions = !opt.smoke && !opt.no_instructions
                          && valgrind != NULL;

  say ("\nW2 DMA32 exhaustion: spans [0, 4 GiB-1] + [4 GiB, 2^48-1], quantum "
       "4096;\n  below 4 GiB all reserved but one page in k; timed: 2-page "
       "requests with max 0xffffffff\n  (all must fail NO_SPACE), in blocks "
       "of %d between blocks of %d top-down 64-bit allocs; %d runs\n",
       W2_BLOCK, W2_BLOCK, opt.runs);
  for (guint kk = 0; kk < plan->n_w2_k; kk++)
    {
      guint k = plan->w2_k[kk];
      guint64 segs = 2 * (FOUR_GIB / PAGE) / k;
      guint64 base_count = CLAMP (G_GUINT64_CONSTANT (200000000) / segs, 16,
                                  plan->w2_count);
      W2State as, bs;
      guint64 build_ns, done;
      AsmArenaStats stats;

      w2_build (&as, FALSE, k, &build_ns);
      asm_arena_get_stats (as.impl.self, &stats);
      say ("\n W2 k=%u: %" G_GUINT64_FORMAT " segments below 4 GiB (%"
           G_GUINT64_FORMAT " free pages); arena has %" G_GUINT64_FORMAT
           " free segments, %" G_GUINT64_FORMAT " reservations; asm built "
           "in %.1f ns/reserve\n", k, segs, segs / 2, stats.n_free_segments,
           stats.n_reserved, (double) build_ns / (segs / 2));
      report_header ();
      if (!opt.no_baseline)
        w2_build (&bs, TRUE, k, &build_ns);
      for (guint f = 0; f < G_N_ELEMENTS (fits); f++)
        {
          Summary sa, sb;
          double with_error, ratio;
          guint runs_done = 0;

          for (gint r = 0; r < opt.runs; r++)
            {
              sample[r] = w2_measure (&as, fits[f], plan->w2_count, &done);
              runs_done++;
            }
          sa = report ("W2", "ns/request", sample, runs_done,
                       "%s asm N=%" G_GUINT64_FORMAT " ns/failing request "
                       "(%" G_GUINT64_FORMAT ")", fit_name (fits[f]), segs,
                       done);
          with_error = w2_check_codes (&as, fits[f]);
          report ("W2", "ns/request", &with_error, 1,
                  "%s asm N=%" G_GUINT64_FORMAT " same, with a GError",
                  fit_name (fits[f]), segs);
          if (opt.no_baseline)
            continue;
          for (gint r = 0; r < opt.runs; r++)
            sample[r] = w2_measure (&bs, fits[f], base_count, &done);
          sb = report ("W2", "ns/request", sample, opt.runs,
                       "%s baseline N=%" G_GUINT64_FORMAT " ns/failing "
                       "request (%" G_GUINT64_FORMAT ")", fit_name (fits[f]),
                       segs, done);
          ratio = sb.median / sa.median;
          record_only ("W2", "x", ratio, "%s baseline/asm N=%" G_GUINT64_FORMAT,
                       fit_name (fits[f]), segs);
          say ("  %-50s %12.0fx%s\n", "  baseline / asm", ratio,
               segs >= 1000000 ? "   (target >= 1000x)" : "");
        }
      say ("  refusals of the same 2-page request (LOWEST; see README: first,"
           " repeated, after-free)\n");
      w2_hint_cases (&as, k, segs, plan, instructions);
      if (as.bad || (!opt.no_baseline && bs.bad))
        say ("  !! %" G_GUINT64_FORMAT " impossible requests succeeded\n",
             as.bad + (opt.no_baseline ? 0 : bs.bad));
      else
        say ("  all impossible requests failed (asm with NO_SPACE)\n");
      w2_fini (&as);
      if (!opt.no_baseline)
        w2_fini (&bs);
    }
  g_free (sample);
}

/* ------------------------------------------------------------------- W3 */

static AsmArena *
w3_template (guint64 holes)
{
  AsmArena *a = asm_arena_new ("w3-template", PAGE);
  guint64 stride = ((SPAN48_LAST / PAGE) + 1) / holes;
  GError *error = NULL;

  if (!asm_arena_add_span (a, 0, SPAN48_LAST, &error))
    bench_die ("asm_arena_add_span: %s", error->message);
  for (guint64 i = 0; i < holes; i++)
    {
      guint64 first = (i * stride + 1) * PAGE;

      if (!asm_arena_reserve (a, first, first + (1 + i % 8) * PAGE - 1,
                              &error))
        bench_die ("asm_arena_reserve: %s", error->message);
    }
  return a;
}

/* How many clones it is safe to hold: a clone that copies the template
 * would need far more memory and time than a copy-on-write one. */
static guint64
w3_safe_count (AsmArena *tmpl, guint64 want, const char *what)
{
  AsmArena *probe[64];
  Mem m0, m1;
  guint64 t0, ns, bytes, count = want;

  m0 = mem_read ();
  t0 = now_ns ();
  for (guint i = 0; i < G_N_ELEMENTS (probe); i++)
    probe[i] = asm_arena_clone (tmpl, "clone");
  ns = (now_ns () - t0) / G_N_ELEMENTS (probe);
  m1 = mem_read ();
  for (guint i = 0; i < G_N_ELEMENTS (probe); i++)
    asm_arena_unref (probe[i]);
  bytes = (m1.rss_kb > m0.rss_kb ? m1.rss_kb - m0.rss_kb : 0) * 1024
          / G_N_ELEMENTS (probe);
  if (bytes > 0)
    count = MIN (count, (G_GUINT64_CONSTANT (2) << 30) / bytes);
  if (ns > 0)
    count = MIN (count, 10 * NS_PER_S / ns);
  count = MAX (count, 16);
  if (count < want)
    say ("  !! %s: a clone costs ~%" G_GUINT64_FORMAT " ns and ~%"
         G_GUINT64_FORMAT " bytes; only %" G_GUINT64_FORMAT " clones made\n",
         what, ns, bytes, count);
  return count;
}

static void
workload_w3 (const Plan *plan)
{
  double *s_clone = g_new (double, opt.runs);
  double *s_write = g_new (double, opt.runs);
  double *s_write2 = g_new (double, opt.runs);
  double *s_unref = g_new (double, opt.runs);
  AsmArena **clones;
  AsmArena *tmpl;
  guint64 count;
  double flat[G_N_ELEMENTS (plan->w3_sizes)];

  say ("\nW3 clone: template with %" G_GUINT64_FORMAT " holes in [0, 2^48), "
       "quantum 4096; %d runs\n", plan->w3_holes, opt.runs);
  report_header ();

  tmpl = w3_template (plan->w3_holes);
  count = w3_safe_count (tmpl, plan->w3_clones, "W3");
  clones = g_new0 (AsmArena *, count);
  for (gint r = -1; r < opt.runs; r++) /* run -1: untimed warm-up */
    {
      AsmRequest req = ASM_REQUEST_INIT (PAGE);
      guint64 t0, t1, t2, t3, t4;

      t0 = now_ns ();
      for (guint64 i = 0; i < count; i++)
        clones[i] = asm_arena_clone (tmpl, "clone");
      t1 = now_ns ();
      for (guint64 i = 0; i < count; i++)
        {
          guint64 addr;

          if (!asm_arena_alloc_full (clones[i], &req, &addr, NULL))
            bench_die ("W3: first write to a clone failed");
          if (G_UNLIKELY (addr != 0))
            bench_fail ("W3: first write to a clone returned 0x%"
                        G_GINT64_MODIFIER "x, expected 0", addr);
        }
      t2 = now_ns ();
      for (guint64 i = 0; i < count; i++)
        {
          guint64 addr;

          if (!asm_arena_alloc_full (clones[i], &req, &addr, NULL))
            bench_die ("W3: second write to a clone failed");
        }
      t3 = now_ns ();
      if (asm_arena_lookup (tmpl, 0, NULL))
        bench_fail ("W3: writes to clones changed the template");
      for (guint64 i = 0; i < count; i++)
        asm_arena_unref (clones[i]);
      t4 = now_ns ();
      if (r < 0)
        continue;
      s_clone[r] = (double) (t1 - t0) / count;
      s_write[r] = (double) (t2 - t1) / count;
      s_write2[r] = (double) (t3 - t2) / count;
      s_unref[r] = (double) (t4 - t3) / count;
    }
  report ("W3", "ns", s_clone, opt.runs, "ns/clone (%" G_GUINT64_FORMAT
          " clones)", count);
  report ("W3", "ns", s_write, opt.runs, "ns/first write after clone");
  report ("W3", "ns", s_write2, opt.runs, "ns/second write");
  report ("W3", "ns", s_unref, opt.runs, "ns/unref of a written clone");
  asm_arena_unref (tmpl);
  g_free (clones);

  say ("\n W3 clone time vs template size\n");
  report_header ();
  for (guint h = 0; h < G_N_ELEMENTS (plan->w3_sizes); h++)
    {
      guint64 holes = plan->w3_sizes[h];
      g_autofree gchar *what = g_strdup_printf ("W3 %" G_GUINT64_FORMAT
                                                " holes", holes);

      tmpl = w3_template (holes);
      count = w3_safe_count (tmpl, plan->w3_clones, what);
      clones = g_new0 (AsmArena *, count);
      for (gint r = -1; r < opt.runs; r++) /* run -1: untimed warm-up */
        {
          guint64 t0 = now_ns ();

          for (guint64 i = 0; i < count; i++)
            clones[i] = asm_arena_clone (tmpl, "clone");
          if (r >= 0)
            s_clone[r] = (double) (now_ns () - t0) / count;
          for (guint64 i = 0; i < count; i++)
            asm_arena_unref (clones[i]);
        }
      flat[h] = report ("W3", "ns", s_clone, opt.runs,
                        "ns/clone, template of %" G_GUINT64_FORMAT " holes",
                        holes).median;
      asm_arena_unref (tmpl);
      g_free (clones);
    }
  {
    double lo = flat[0], hi = flat[0], ratio;

    for (guint h = 1; h < G_N_ELEMENTS (flat); h++)
      {
        lo = MIN (lo, flat[h]);
        hi = MAX (hi, flat[h]);
      }
    ratio = hi / lo;
    report ("W3", "x", &ratio, 1, "slowest / fastest of those");
    say ("  (target: flat, i.e. independent of the template's size)\n");
  }

  if (!opt.no_memory)
    {
      g_autofree gchar *c_s = g_strdup_printf ("%" G_GUINT64_FORMAT,
                                               plan->w3_mem_clones);
      g_autofree gchar *h_s = g_strdup_printf ("%" G_GUINT64_FORMAT,
                                               plan->w3_holes);
      const char *args[] = { "--mem-probe", "w3", "--clones", c_s, "--holes",
                             h_s, NULL };
      GHashTable *kv = mem_probe_spawn (args);

      if (kv)
        {
          double n = kv_double (kv, "clones");
          double before = kv_double (kv, "rss_before_kb");
          double unwritten = (kv_double (kv, "rss_clones_kb") - before) * 1024
                             / n;
          double written = (kv_double (kv, "rss_written_kb") - before) * 1024
                           / n;

          say ("\n W3 memory, fresh process, %.0f live clones of a %s-hole "
               "template (RSS growth / clones)\n", n, h_s);
          report ("W3", "bytes", &unwritten, 1, "bytes/unwritten clone");
          report ("W3", "bytes", &written, 1, "bytes/clone after one write");
          say ("  (target <= 256 bytes per unwritten clone)\n");
          g_hash_table_unref (kv);
        }
    }
  g_free (s_clone);
  g_free (s_write);
  g_free (s_write2);
  g_free (s_unref);
}

static int
mem_probe_w3 (void)
{
  guint64 want = opt.clones > 0 ? (guint64) opt.clones : 100000;
  guint64 holes = opt.holes > 0 ? (guint64) opt.holes : 1000;
  AsmArena *tmpl = w3_template (holes);
  guint64 count = w3_safe_count (tmpl, want, "W3 memory");
  AsmArena **clones = g_new0 (AsmArena *, count);
  AsmRequest req = ASM_REQUEST_INIT (PAGE);
  Mem m0, m1, m2;

  memset (clones, 0, count * sizeof *clones);
  m0 = mem_read ();
  for (guint64 i = 0; i < count; i++)
    clones[i] = asm_arena_clone (tmpl, "clone");
  m1 = mem_read ();
  for (guint64 i = 0; i < count; i++)
    {
      guint64 addr;

      if (!asm_arena_alloc_full (clones[i], &req, &addr, NULL))
        bench_die ("W3: write to a clone failed");
    }
  m2 = mem_read ();
  printf ("MEM clones=%" G_GUINT64_FORMAT " rss_before_kb=%" G_GUINT64_FORMAT
          " rss_clones_kb=%" G_GUINT64_FORMAT " rss_written_kb=%"
          G_GUINT64_FORMAT "\n", count, m0.rss_kb, m1.rss_kb, m2.rss_kb);
  for (guint64 i = 0; i < count; i++)
    asm_arena_unref (clones[i]);
  g_free (clones);
  asm_arena_unref (tmpl);
  return 0;
}

/* The measured clone loop for callgrind (see run_callgrind()). */
void bench_w3_clone_measured (AsmArena *tmpl, AsmArena **clones,
                              guint64 count);

__attribute__ ((noinline, noclone)) void
bench_w3_clone_measured (AsmArena *tmpl, AsmArena **clones, guint64 count)
{
  for (guint64 i = 0; i < count; i++)
    clones[i] = asm_arena_clone (tmpl, "clone");
}

static int
run_callgrind_w3 (void)
{
  guint64 holes = opt.holes > 0 ? (guint64) opt.holes : 1000;
  guint64 count = opt.clones > 0 ? (guint64) opt.clones : 10000;
  AsmArena *tmpl = w3_template (holes);
  AsmArena **clones = g_new0 (AsmArena *, count);

  BENCH_CALLGRIND_START ();
  bench_w3_clone_measured (tmpl, clones, count);
  BENCH_CALLGRIND_STOP ();
  printf ("callgrind: workload=W3 holes=%" G_GUINT64_FORMAT " ops=%"
          G_GUINT64_FORMAT " op=clone client-requests=%s\n", holes, count,
          BENCH_HAVE_CALLGRIND ? "yes" : "no");
  for (guint64 i = 0; i < count; i++)
    asm_arena_unref (clones[i]);
  g_free (clones);
  asm_arena_unref (tmpl);
  return 0;
}

/* ------------------------------------------------------------------- W4 */

/* Smoke runs check every answer against the reference model of the tests
 * (tests/arena-model.c), which holds up to MODEL_MAX_WIDTH units. */
static inline guint64
w4_alloc (AsmArena *a, AsmFit fit, ArenaModel *m)
{
  AsmRequest req = ASM_REQUEST_INIT (1);
  guint64 id;

  req.fit = fit;
  if (G_UNLIKELY (!asm_arena_alloc_full (a, &req, &id, NULL)))
    bench_die ("W4: id alloc failed");
  if (G_UNLIKELY (m != NULL))
    {
      guint64 want = G_MAXUINT64;

      if (arena_model_alloc (m, &req, &want) != MODEL_OK || id != want)
        bench_die ("W4 %s: got id %" G_GUINT64_FORMAT ", expected %"
                   G_GUINT64_FORMAT, fit_name (fit), id, want);
    }
  return id;
}

static void
workload_w4 (const Plan *plan)
{
  static const AsmFit fits[] = { ASM_FIT_LOWEST, ASM_FIT_NEXT };
  guint64 space = G_GUINT64_CONSTANT (1) << plan->w4_bits;
  guint64 n = space * 9 / 10;
  double *sample = g_new (double, opt.runs);
  double *sample2 = g_new (double, opt.runs);
  guint64 *ids = g_new (guint64, n);

  say ("\nW4 ids: quantum 1, span [0, 2^%u-1], filled to 90%% (%"
       G_GUINT64_FORMAT " ids), then %" G_GUINT64_FORMAT " timed steps after %"
       G_GUINT64_FORMAT " warm-up;\n  ns/op = free a random live id + alloc "
       "one; %d runs\n", plan->w4_bits, n, plan->w4_steps, plan->w4_warmup,
       opt.runs);
  report_header ();
  for (guint f = 0; f < G_N_ELEMENTS (fits); f++)
    {
      AsmFit fit = fits[f];

      for (gint r = 0; r < opt.runs; r++)
        {
          AsmArena *a = asm_arena_new ("w4", 1);
          Rng rng = rng_new (opt.seed + r);
          ArenaModel *m = NULL;
          GError *error = NULL;
          guint64 t0, t1;

          if (opt.smoke && space <= MODEL_MAX_WIDTH)
            {
              m = arena_model_new (0, (guint) space, 1);
              if (arena_model_add_span (m, 0, space - 1) != MODEL_OK)
                bench_die ("W4: the model refused its span");
            }
          if (!asm_arena_add_span (a, 0, space - 1, &error))
            bench_die ("asm_arena_add_span: %s", error->message);
          t0 = now_ns ();
          for (guint64 i = 0; i < n; i++)
            ids[i] = w4_alloc (a, fit, m);
          sample2[r] = (double) (now_ns () - t0) / n;
          for (guint64 s = 0; s < plan->w4_warmup + plan->w4_steps; s++)
            {
              gsize i = rng_below (&rng, n);

              if (s == plan->w4_warmup)
                t0 = now_ns ();
              if (!asm_arena_free (a, ids[i], NULL))
                bench_die ("W4: free of id %" G_GUINT64_FORMAT " failed",
                           ids[i]);
              if (m != NULL && arena_model_free_at (m, ids[i]) != MODEL_OK)
                bench_die ("W4: the model has no id %" G_GUINT64_FORMAT,
                           ids[i]);
              ids[i] = w4_alloc (a, fit, m);
            }
          t1 = now_ns ();
          sample[r] = (double) (t1 - t0) / plan->w4_steps;
          if (r == 0 && !asm_arena_check (a, &error))
            {
              bench_fail ("W4: asm_arena_check: %s", error->message);
              g_clear_error (&error);
            }
          asm_arena_unref (a);
          arena_model_free (m);
        }
      report ("W4", "ns/op", sample, opt.runs, "%s ns/op", fit_name (fit));
      report ("W4", "ns/alloc", sample2, opt.runs, "%s fill ns/alloc",
              fit_name (fit));
    }
  g_free (ids);
  g_free (sample);
  g_free (sample2);
}

/* ----------------------------------------------------------------- main */

static gboolean
want_workload (const char *w)
{
  return opt.workload == NULL || g_ascii_strcasecmp (opt.workload, "all") == 0
         || g_ascii_strcasecmp (opt.workload, w) == 0;
}

int
main (int argc, char **argv)
{
  GOptionEntry entries[] = {
    { "smoke", 0, 0, G_OPTION_ARG_NONE, &opt.smoke,
      "Tiny sizes, one run, every answer checked", NULL },
    { "workload", 'w', 0, G_OPTION_ARG_STRING, &opt.workload,
      "W1, W2, W3, W4 or all (default)", "W" },
    { "runs", 'r', 0, G_OPTION_ARG_INT, &opt.runs,
      "Runs per figure (default 5)", "N" },
    { "n", 'n', 0, G_OPTION_ARG_INT64, &opt.n,
      "W1: only this number of live allocations", "N" },
    { "max-n", 0, 0, G_OPTION_ARG_INT64, &opt.max_n,
      "W1: only N up to this", "N" },
    { "steps", 0, 0, G_OPTION_ARG_INT64, &opt.steps,
      "W1: timed steps per run (default 200000)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &opt.seed, "Base seed", "S" },
    { "baseline-max-n", 0, 0, G_OPTION_ARG_INT64, &opt.baseline_max_n,
      "W1: run the baseline up to this N (default 1000000)", "N" },
    { "no-baseline", 0, 0, G_OPTION_ARG_NONE, &opt.no_baseline,
      "Skip the naive baseline", NULL },
    { "no-memory", 0, 0, G_OPTION_ARG_NONE, &opt.no_memory,
      "Skip the memory measurements", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &opt.json,
      "Print the figures as JSON on stdout (the table goes to stderr)", NULL },
    { "callgrind", 0, 0, G_OPTION_ARG_NONE, &opt.callgrind,
      "One W1 run for callgrind (with --n, --fit, --steps), or with "
      "--workload W3 one clone batch (with --holes, --clones), or with "
      "--workload W2 one refusal case (with --case, --k, --steps)", NULL },
    { "fit", 0, 0, G_OPTION_ARG_STRING, &opt.fit,
      "--callgrind: lowest (default) or highest", "FIT" },
    { "has-callgrind-requests", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE,
      &opt.has_callgrind, NULL, NULL },
    { "mem-probe", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING,
      &opt.mem_probe, NULL, NULL },
    { "holes", 0, 0, G_OPTION_ARG_INT64, &opt.holes,
      "W3 --callgrind: holes in the template (default 1000)", "N" },
    { "clones", 0, 0, G_OPTION_ARG_INT64, &opt.clones,
      "W3 --callgrind: clones to make (default 10000)", "N" },
    { "case", 0, 0, G_OPTION_ARG_STRING, &opt.w2_case,
      "W2 --callgrind: first, repeated (default) or after-free", "CASE" },
    { "k", 0, 0, G_OPTION_ARG_INT64, &opt.k,
      "W2: only this k (one free page in k below 4 GiB; --callgrind: "
      "default 2)", "K" },
    { "no-instructions", 0, 0, G_OPTION_ARG_NONE, &opt.no_instructions,
      "W2: do not count the refusals' instructions under callgrind", NULL },
    { NULL }
  };
  static const guint64 all_ns[] = { 1000, 10000, 100000, 1000000 };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  Plan plan = {
    .steps = 200000,
    .warmup_max = 50000,
    .mem_n = 1000000,
    .mem_steps = 200000,
    .w2_k = { 2048, 64, 2 },
    .n_w2_k = 3,
    .w2_count = 100000,
    .w3_clones = 100000,
    .w3_holes = 1000,
    .w3_mem_clones = 100000,
    .w3_sizes = { 10, 1000, 100000 },
    .w4_bits = 20,
    .w4_steps = 500000,
    .w4_warmup = 50000,
  };
  guint64 t_start = now_ns ();

  ctx = g_option_context_new ("- AsmArena benchmarks");
  g_option_context_set_summary (ctx, "Prints speed, scaling and memory "
                                "figures for AsmArena (see README.md).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("bench-arena: %s\n", error->message);
      return 2;
    }
  bench_report_init ("bench-arena", opt.json ? stderr : stdout);
  records = g_ptr_array_new_with_free_func (record_free);

  if (opt.has_callgrind)
    {
      puts (BENCH_HAVE_CALLGRIND ? "yes" : "no");
      return 0;
    }
  if (opt.mem_probe)
    {
      if (g_strcmp0 (opt.mem_probe, "w1") == 0)
        return mem_probe_w1 ();
      if (g_strcmp0 (opt.mem_probe, "w3") == 0)
        return mem_probe_w3 ();
      g_printerr ("bench-arena: unknown --mem-probe\n");
      return 2;
    }
  if (opt.callgrind)
    {
      if (opt.workload && g_ascii_strcasecmp (opt.workload, "W3") == 0)
        return run_callgrind_w3 ();
      if (opt.workload && g_ascii_strcasecmp (opt.workload, "W2") == 0)
        return run_callgrind_w2 ();
      return run_callgrind ();
    }
  if (opt.workload && !want_workload ("W1") && !want_workload ("W2")
      && !want_workload ("W3") && !want_workload ("W4"))
    {
      g_printerr ("bench-arena: --workload is W1, W2, W3, W4 or all\n");
      return 2;
    }

  if (opt.smoke)
    {
      opt.runs = 1;
      plan.steps = 2000;
      plan.warmup_max = 1000;
      plan.mem_n = 10000;
      plan.mem_steps = 2000;
      plan.w2_k[0] = 2048;
      plan.w2_k[1] = 256;
      plan.n_w2_k = 2;
      plan.w2_count = 512;
      plan.w3_clones = 1000;
      plan.w3_holes = 100;
      plan.w3_mem_clones = 1000;
      plan.w3_sizes[0] = 10;
      plan.w3_sizes[1] = 100;
      plan.w3_sizes[2] = 1000;
      plan.w4_bits = 12;
      plan.w4_steps = 4000;
      plan.w4_warmup = 100;
    }
  if (opt.runs < 1)
    opt.runs = 1;
  if (opt.k > 0)
    {
      if ((FOUR_GIB / PAGE) % (guint64) opt.k != 0 || opt.k < 2)
        {
          g_printerr ("bench-arena: --k is a power of two from 2 to 2^20\n");
          return 2;
        }
      plan.w2_k[0] = (guint) opt.k;
      plan.n_w2_k = 1;
    }
  if (opt.steps > 0)
    plan.steps = opt.steps;
  for (guint i = 0; i < G_N_ELEMENTS (all_ns); i++)
    {
      guint64 n = all_ns[i];

      if (opt.smoke && n > 1000)
        break;
      if ((opt.n > 0 && n != (guint64) opt.n)
          || (opt.max_n > 0 && n > (guint64) opt.max_n))
        continue;
      plan.ns[plan.n_ns++] = n;
    }
  if (opt.n > 0 && plan.n_ns == 0)
    plan.ns[plan.n_ns++] = opt.n;
  if (opt.max_n > 0)
    plan.mem_n = MIN (plan.mem_n, (guint64) opt.max_n);

  say ("bench-arena: asm %d.%d.%d, %s, %d run(s) per figure, seed %"
       G_GINT64_FORMAT "\n", ASM_MAJOR_VERSION, ASM_MINOR_VERSION,
       ASM_MICRO_VERSION, opt.smoke ? "smoke sizes" : "full sizes", opt.runs,
       opt.seed);
#ifndef __OPTIMIZE__
  say ("bench-arena: built without optimisation; figures are not "
       "representative\n");
#endif

  if (want_workload ("W1"))
    workload_w1 (&plan);
  if (want_workload ("W2"))
    workload_w2 (&plan);
  if (want_workload ("W3"))
    workload_w3 (&plan);
  if (want_workload ("W4"))
    workload_w4 (&plan);

  say ("\nbench-arena: done in %.1f s%s\n",
       (double) (now_ns () - t_start) / NS_PER_S,
       bench_exit_status () ? " (with FAILURES, see above)" : "");
  if (opt.json)
    print_json ();
  g_ptr_array_unref (records);
  return bench_exit_status ();
}
