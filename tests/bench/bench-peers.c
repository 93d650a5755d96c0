/* bench-peers.c: asm and Linux's own IOVA allocator, side by side
 *
 * The peer is Linux 6.12's drivers/iommu/iova.c with lib/rbtree.c, compiled
 * unchanged in user space: the build extracts them from Debian's
 * linux-source-6.12 package and compiles them against the project's shim
 * (linux-shim/linux-shim.h, which says what each kernel facility becomes);
 * linux-shim/linux-peer.h is their plain-C face.  The program is built only
 * when the package is installed (see meson.build).
 *
 * Five allocators, and a floor, get the same calls:
 *   asm lowest        asm_arena_alloc_full() with ASM_FIT_LOWEST: the
 *                     exact tree's cheapest fit
 *   asm highest       ASM_FIT_HIGHEST: exact, top-down as Linux places
 *   asm instant       ASM_FIT_INSTANT on an arena with its cache enabled
 *                     (asm_arena_enable_cache(), 64 pages, so that every W1
 *                     size is cached): per-thread magazines of freed
 *                     ranges of each exact size in front of the tree,
 *                     exact (never refused while a cached range would do)
 *                     and thread-safe, so called without a mutex
 *   linux alloc_iova  alloc_iova (size_aligned) / free_iova: Linux's exact
 *                     tree, top-down from the limit
 *   linux fast        alloc_iova_fast / free_iova_fast: the per-CPU rcache
 *                     (magazines of freed pfns per power-of-two size up to
 *                     32 pages) in front of the same tree, as dma-iommu
 *                     calls it (flush_rcache = true).  Sizes below 32 pages
 *                     are rounded up to a power of two
 *   floor             floor-peer.c: only what a thread-safe exact free by
 *                     address must do (a lock, a table entry found by
 *                     address, per-size stacks of kept ranges), measured
 *                     in the same loop; W1 only, a model and not an
 *                     allocator
 * Units are pages of 4 KiB; asm's span is [0, 2^48-1] (byte addresses,
 * quantum 4096), Linux's domain is pfn [1, 2^36-1] (granule 4096,
 * start_pfn 1 as the kernel's users have it, since pfn 0 means failure).
 *
 * W1  IOVA churn, exactly bench-arena's: request sizes 1-64 pages, 1 page
 *     with probability 1/2, else class (2^(e-1), 2^e] w.p. 2^-e and uniform
 *     inside it; each request size-aligned.  Fill N, run min(N, 50000)
 *     untimed warm-up steps, then time --steps steps; a step frees a random
 *     live allocation and allocates a new one (one op = free + alloc).  Every
 *     allocator sees the same sizes and frees the same indices (one seeded
 *     splitmix64 stream per run, seed + run).  N = 10^3 .. 10^6; ns/op is
 *     the median of --runs runs.  The warm-up always runs to the end (the
 *     state a figure describes must not depend on the machine's speed); a
 *     slow allocator stops its timed steps after TIMED_LIMIT_NS (the steps
 *     done are printed).  Instructions per op: this program under
 *     callgrind (--callgrind --workload W1 --peer P --n N), after the same
 *     fill and warm-up, counting only bench_peers_w1_measured() as
 *     run-callgrind.sh does; fewer steps where a step costs millions.
 * W2  DMA32 exhaustion, bench-arena's refusal cases of issue 14: below
 *     4 GiB every page is taken but one in k (k = 2: ~10^6 tree entries
 *     below 4 GiB), 1024 live 64-bit allocations above it, and a 2-page
 *     request limited to 4 GiB is refused:
 *       first       after the refusal's knowledge was voided (a taken run
 *                   next to a free page is freed and taken again)
 *       repeated    right after the same refusal
 *       after-free  right after a 1-page allocation below 4 GiB is freed
 *                   (a free that cannot help)
 *     asm: spans [0, 4 GiB-1] and [4 GiB, 2^48-1], reservations, LOWEST.
 *     Linux: the taken runs are allocations (alloc_iova top-down, then the
 *     1-page spacers between them freed), "first" frees a run and takes it
 *     back with reserve_iova(), "after-free" takes and frees one page with
 *     alloc_iova; refused with alloc_iova (its max32_alloc_size hint) and
 *     with alloc_iova_fast (rcache miss first; flush_rcache = false, as
 *     dma-iommu's 32-bit attempt).  Linux resets the hint on any free below
 *     4 GiB, so its "first" and "after-free" are the same full walk.
 * MT  W1 at --mt-n live allocations shared by 1 and 2 threads, each thread
 *     churning its own N/T allocations (own seed) for --mt-steps steps
 *     (2,000,000: a cached run must last long enough, ~70 ms, that the
 *     threads' wake-up from the start barrier does not weigh; at 200,000
 *     steps one thread often started late and the two-thread figure of one
 *     run ranged from 1.0x to 1.8x one thread's);
 *     aggregate ns per op = wall time / all ops.  Linux's calls are
 *     thread-safe (a spinlock on the tree, per-CPU locks on the rcache;
 *     thread t uses CPU slot t; threads are not pinned, so that on a
 *     machine shared with other work the scheduler can move them).  An
 *     AsmArena without a cache is a single-writer container, so asm
 *     LOWEST is driven behind one pthread mutex around each call, and
 *     labelled so; asm INSTANT, with its cache, is thread-safe and called
 *     as it is.
 *
 * Answers are checked: every allocation is inside its span or domain and
 * size-aligned (always), and with --smoke also against the live set (no
 * overlap with any live allocation, kept in a GTree); Linux's WARN_ON()s
 * are counted and any is a failure.  The exit status is 1 on a wrong
 * answer, never on timing.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <asm/asm.h>

#include "bench-common.h"
#include "bench-report.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "floor-peer.h"
#include "linux-shim/linux-peer.h"

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
#define LIMIT48_PFN (SPAN48_LAST / PAGE)        /* 2^36 - 1 */
#define FOUR_GIB (G_GUINT64_CONSTANT (1) << 32)
#define LIMIT32_PFN (FOUR_GIB / PAGE - 1)       /* 0xfffff */
#define NO_PFN G_MAXUINT64

#define FILL_LIMIT_NS (120 * NS_PER_S)
#define WARMUP_LIMIT_NS (300 * NS_PER_S) /* a safety net only */
#define TIMED_LIMIT_NS (5 * NS_PER_S)

/* ---------------------------------------------------------------- options */

static struct {
  gboolean smoke;
  gchar *workload;
  gint runs;
  gint64 n;
  gint64 steps;
  gint64 warmup;
  gint64 seed;
  gint64 k;
  gint64 mt_n;
  gint64 mt_steps;
  gboolean callgrind;
  gchar *peer;
  gchar *w2_case;
  gboolean no_instructions;
} opt = {
  .runs = 5,
  .seed = 0x5eed,
  .warmup = -1,
};

/* ---------------------- small helpers (the clock, rng: bench-common.h) */

/* ---------------------------------------------------------------- peers */

typedef enum {
  PEER_ASM_LOWEST,
  PEER_ASM_HIGHEST,
  PEER_ASM_INSTANT,
  PEER_LINUX,
  PEER_LINUX_FAST,
  PEER_FLOOR,
  N_PEERS
} PeerKind;

static const char *const peer_names[N_PEERS] = {
  "asm-lowest", "asm-highest", "asm-instant", "linux-alloc_iova", "linux-fast",
  "floor"
};

static const char *const peer_titles[N_PEERS] = {
  "asm LOWEST", "asm HIGHEST", "asm INSTANT+cache", "Linux alloc_iova",
  "Linux alloc_iova_fast", "floor (model)"
};

/* the cache's largest size: every W1 size is cached (Linux caches sizes up
 * to 32 pages, rounded up to a power of two) */
#define ASM_CACHE_MAX_PAGES 64

static inline gboolean
peer_is_asm (PeerKind kind)
{
  return kind == PEER_ASM_LOWEST || kind == PEER_ASM_HIGHEST ||
         kind == PEER_ASM_INSTANT;
}

/* W1's view of an allocator: pages in, pfn out (NO_PFN on failure) */
typedef struct {
  PeerKind kind;
  gpointer self;
  guint64 first_pfn, last_pfn; /* the span or domain, inclusive */
  guint64 (*alloc) (gpointer self, guint64 pages);
  void (*free) (gpointer self, guint64 pfn, guint64 pages);
} Peer;

typedef struct {
  AsmArena *a;
  AsmFit fit;
  pthread_mutex_t lock; /* taken around each call by the _locked variants */
} AsmPeer;

/* fit: a constant where the caller's is, as a VMM's would be (the header
 * then routes an ASM_FIT_INSTANT request to asm_arena_alloc_instant()) */
static inline gboolean
asm_alloc_pages (AsmPeer *p, AsmFit fit, guint64 pages, guint64 *addr)
{
  AsmRequest req = ASM_REQUEST_INIT (pages * PAGE);

  req.align = pow2_ceil (pages) * PAGE;
  req.fit = fit;
  return asm_arena_alloc_full (p->a, &req, addr, NULL);
}

static guint64
asm_peer_alloc (gpointer self, guint64 pages)
{
  AsmPeer *p = self;
  guint64 addr;

  return asm_alloc_pages (p, p->fit, pages, &addr) ? addr / PAGE : NO_PFN;
}

static guint64
asm_peer_alloc_instant (gpointer self, guint64 pages)
{
  guint64 addr;

  return asm_alloc_pages (self, ASM_FIT_INSTANT, pages, &addr) ? addr / PAGE
                                                               : NO_PFN;
}

static void
asm_peer_free (gpointer self, guint64 pfn, guint64 pages)
{
  AsmPeer *p = self;

  if (G_UNLIKELY (!asm_arena_free (p->a, pfn * PAGE, NULL)))
    bench_die ("asm_arena_free (0x%" G_GINT64_MODIFIER "x) failed",
               pfn * PAGE);
}

static guint64
asm_peer_alloc_locked (gpointer self, guint64 pages)
{
  AsmPeer *p = self;
  guint64 addr;
  gboolean ok;

  pthread_mutex_lock (&p->lock);
  ok = asm_alloc_pages (p, p->fit, pages, &addr);
  pthread_mutex_unlock (&p->lock);
  return ok ? addr / PAGE : NO_PFN;
}

static void
asm_peer_free_locked (gpointer self, guint64 pfn, guint64 pages)
{
  AsmPeer *p = self;
  gboolean ok;

  pthread_mutex_lock (&p->lock);
  ok = asm_arena_free (p->a, pfn * PAGE, NULL);
  pthread_mutex_unlock (&p->lock);
  if (G_UNLIKELY (!ok))
    bench_die ("asm_arena_free (0x%" G_GINT64_MODIFIER "x) failed",
               pfn * PAGE);
}

static guint64
linux_peer_alloc_w1 (gpointer self, guint64 pages)
{
  unsigned long pfn = linux_peer_alloc (self, pages, LIMIT48_PFN, true);

  return pfn ? pfn : NO_PFN;
}

static guint64
floor_alloc_w1 (gpointer self, guint64 pages)
{
  return floor_peer_alloc (self, pages);
}

static void
floor_free_w1 (gpointer self, guint64 pfn, guint64 pages)
{
  if (G_UNLIKELY (!floor_peer_free (self, pfn)))
    bench_die ("floor: free of pfn 0x%" G_GINT64_MODIFIER "x refused", pfn);
}

static void
linux_peer_free_w1 (gpointer self, guint64 pfn, guint64 pages)
{
  linux_peer_free (self, pfn);
}

static guint64
linux_fast_alloc_w1 (gpointer self, guint64 pages)
{
  unsigned long pfn = linux_peer_alloc_fast (self, pages, LIMIT48_PFN, true);

  return pfn ? pfn : NO_PFN;
}

static void
linux_fast_free_w1 (gpointer self, guint64 pfn, guint64 pages)
{
  linux_peer_free_fast (self, pfn, pages);
}

/* A fresh W1 allocator; locked: asm behind its mutex (threads) */
static Peer
peer_new (PeerKind kind, gboolean locked)
{
  Peer p = { .kind = kind };

  if (peer_is_asm (kind))
    {
      AsmPeer *ap = g_new0 (AsmPeer, 1);
      GError *error = NULL;

      ap->a = asm_arena_new ("peers-w1", PAGE);
      ap->fit = kind == PEER_ASM_LOWEST    ? ASM_FIT_LOWEST
                : kind == PEER_ASM_HIGHEST ? ASM_FIT_HIGHEST
                                           : ASM_FIT_INSTANT;
      pthread_mutex_init (&ap->lock, NULL);
      if (!asm_arena_add_span (ap->a, 0, SPAN48_LAST, &error))
        bench_die ("asm_arena_add_span: %s", error->message);
      /* with its cache the arena is thread-safe: no mutex around it */
      if (kind == PEER_ASM_INSTANT)
        {
          if (!asm_arena_enable_cache (ap->a, ASM_CACHE_MAX_PAGES * PAGE,
                                       &error))
            bench_die ("asm_arena_enable_cache: %s", error->message);
          locked = FALSE;
        }
      p.self = ap;
      p.first_pfn = 0;
      p.last_pfn = LIMIT48_PFN;
      p.alloc = locked                     ? asm_peer_alloc_locked
                : kind == PEER_ASM_INSTANT ? asm_peer_alloc_instant
                                           : asm_peer_alloc;
      p.free = locked ? asm_peer_free_locked : asm_peer_free;
    }
  else if (kind == PEER_FLOOR)
    {
      p.self = floor_peer_new (0);
      p.first_pfn = 0;
      p.last_pfn = LIMIT48_PFN;
      p.alloc = floor_alloc_w1;
      p.free = floor_free_w1;
    }
  else
    {
      p.self = linux_peer_new (PAGE, 1, kind == PEER_LINUX_FAST);
      if (p.self == NULL)
        bench_die ("linux_peer_new failed");
      p.first_pfn = 1;
      p.last_pfn = LIMIT48_PFN;
      p.alloc = kind == PEER_LINUX ? linux_peer_alloc_w1 : linux_fast_alloc_w1;
      p.free = kind == PEER_LINUX ? linux_peer_free_w1 : linux_fast_free_w1;
    }
  return p;
}

static void
peer_destroy (Peer *p)
{
  if (peer_is_asm (p->kind))
    {
      AsmPeer *ap = p->self;

      if (p->kind == PEER_ASM_INSTANT && opt.smoke)
        {
          GError *error = NULL;

          if (!asm_arena_check (ap->a, &error))
            bench_die ("asm_arena_check: %s", error->message);
        }

      asm_arena_unref (ap->a);
      pthread_mutex_destroy (&ap->lock);
      g_free (ap);
    }
  else if (p->kind == PEER_FLOOR)
    floor_peer_destroy (p->self);
  else
    linux_peer_destroy (p->self);
  p->self = NULL;
}

static gboolean
parse_peer (const char *s, PeerKind *kind)
{
  for (guint i = 0; i < N_PEERS; i++)
    if (s != NULL && g_ascii_strcasecmp (s, peer_names[i]) == 0)
      {
        *kind = (PeerKind) i;
        return TRUE;
      }
  return FALSE;
}

/* ------------------------------------------------------------------- W1 */

typedef struct {
  guint64 *pfn;
  guint8 *pages;
  gsize n;
  GTree *check; /* --smoke: pfn -> last pfn of every live range */
} Live;

static gint
cmp_pfn (gconstpointer a, gconstpointer b, gpointer data)
{
  guint64 x = GPOINTER_TO_SIZE (a), y = GPOINTER_TO_SIZE (b);

  return (x > y) - (x < y);
}

static void
live_init (Live *l, gsize cap, gboolean check)
{
  l->pfn = g_new0 (guint64, MAX (cap, 1));
  l->pages = g_new0 (guint8, MAX (cap, 1));
  l->n = 0;
  l->check = check ? g_tree_new_full (cmp_pfn, NULL, NULL, NULL) : NULL;
}

static void
live_clear (Live *l)
{
  g_clear_pointer (&l->pfn, g_free);
  g_clear_pointer (&l->pages, g_free);
  g_clear_pointer (&l->check, g_tree_destroy);
}

/* what the allocator really holds for a request of pages: the rcache path
 * rounds sizes below 32 pages up to a power of two */
static inline guint64
held_pages (const Peer *p, guint64 pages)
{
  return p->kind == PEER_LINUX_FAST && pages < 32 ? pow2_ceil (pages) : pages;
}

/* --smoke: [pfn, pfn + held - 1] overlaps no live range; then recorded */
static void
live_check_insert (Live *l, const Peer *p, guint64 pfn, guint64 pages)
{
  guint64 last = pfn + held_pages (p, pages) - 1;
  GTreeNode *next = g_tree_lower_bound (l->check, GSIZE_TO_POINTER (pfn));
  GTreeNode *prev = next ? g_tree_node_previous (next)
                         : g_tree_node_last (l->check);

  if ((next && GPOINTER_TO_SIZE (g_tree_node_key (next)) <= last)
      || (prev && GPOINTER_TO_SIZE (g_tree_node_value (prev)) >= pfn))
    bench_fail ("%s: pfn range 0x%" G_GINT64_MODIFIER "x-0x%"
                G_GINT64_MODIFIER "x overlaps a live allocation",
                peer_names[p->kind], pfn, last);
  g_tree_insert (l->check, GSIZE_TO_POINTER (pfn), GSIZE_TO_POINTER (last));
}

static inline guint64
w1_alloc (const Peer *p, Live *l, guint64 pages)
{
  guint64 pfn = p->alloc (p->self, pages);

  if (G_UNLIKELY (pfn == NO_PFN))
    bench_die ("%s: alloc of %" G_GUINT64_FORMAT " pages failed",
               peer_names[p->kind], pages);
  if (G_UNLIKELY ((pfn & (pow2_ceil (pages) - 1)) != 0 || pfn < p->first_pfn
                  || pfn + pages - 1 > p->last_pfn
                  || pfn + pages - 1 < pfn))
    bench_die ("%s: alloc of %" G_GUINT64_FORMAT " pages returned pfn 0x%"
               G_GINT64_MODIFIER "x: outside [0x%" G_GINT64_MODIFIER "x, 0x%"
               G_GINT64_MODIFIER "x] or not size-aligned", peer_names[p->kind],
               pages, pfn, p->first_pfn, p->last_pfn);
  if (G_UNLIKELY (l->check != NULL))
    live_check_insert (l, p, pfn, pages);
  return pfn;
}

static inline void
w1_free (const Peer *p, Live *l, gsize i)
{
  if (G_UNLIKELY (l->check != NULL))
    g_tree_remove (l->check, GSIZE_TO_POINTER (l->pfn[i]));
  p->free (p->self, l->pfn[i], l->pages[i]);
}

static inline guint64
w1_step (const Peer *p, Live *l, Rng *rng, guint64 hash)
{
  gsize i = rng_below (rng, l->n);
  guint64 pages;

  w1_free (p, l, i);
  pages = w1_pages (rng);
  l->pfn[i] = w1_alloc (p, l, pages);
  l->pages[i] = (guint8) pages;
  return (hash ^ l->pfn[i]) * G_GUINT64_CONSTANT (0xff51afd7ed558ccd);
}

/* The measured steady-state loop: its own symbol (never inlined or cloned)
 * so that callgrind counts exactly it with --toggle-collect. */
guint64 bench_peers_w1_measured (const Peer *p, Live *l, Rng *rng,
                                 guint64 steps, guint64 hash);

__attribute__ ((noinline, noclone)) guint64
bench_peers_w1_measured (const Peer *p, Live *l, Rng *rng, guint64 steps,
                         guint64 hash)
{
  for (guint64 s = 0; s < steps; s++)
    hash = w1_step (p, l, rng, hash);
  return hash;
}

/* the same loop, for warm-ups: another symbol, never counted */
static guint64
w1_churn (const Peer *p, Live *l, Rng *rng, guint64 steps, guint64 hash)
{
  for (guint64 s = 0; s < steps; s++)
    hash = w1_step (p, l, rng, hash);
  return hash;
}

/* fills l to n; FALSE if that took longer than FILL_LIMIT_NS */
static gboolean
w1_fill (const Peer *p, Live *l, Rng *rng, guint64 n)
{
  guint64 t0 = now_ns ();

  for (gsize i = 0; i < n; i++)
    {
      guint64 pages = w1_pages (rng);

      l->pfn[i] = w1_alloc (p, l, pages);
      l->pages[i] = (guint8) pages;
      l->n++;
      if ((i & 1023) == 1023 && now_ns () - t0 > FILL_LIMIT_NS)
        return FALSE;
    }
  return TRUE;
}

/* runs steps in chunks until done or limit_ns passed (measured: in
 * bench_peers_w1_measured()); returns the steps */
static guint64
w1_churn_limited (const Peer *p, Live *l, Rng *rng, guint64 steps,
                  guint64 limit_ns, gboolean measured, guint64 *hash,
                  guint64 *elapsed)
{
  guint64 t0 = now_ns (), done = 0;

  while (done < steps)
    {
      guint64 chunk = MIN (steps - done, 256);

      *hash = measured ? bench_peers_w1_measured (p, l, rng, chunk, *hash)
                       : w1_churn (p, l, rng, chunk, *hash);
      done += chunk;
      if (now_ns () - t0 > limit_ns)
        break;
    }
  *elapsed = now_ns () - t0;
  return done;
}

typedef struct {
  gboolean completed;
  guint64 warmup_done, steps_done, timed_ns;
} W1Run;

static guint64
w1_warmup_steps (guint64 n)
{
  return opt.warmup >= 0 ? (guint64) opt.warmup
                         : MIN (n, G_GUINT64_CONSTANT (50000));
}

static void
w1_run (PeerKind kind, guint64 n, guint64 seed, guint64 steps, W1Run *r)
{
  Peer p = peer_new (kind, FALSE);
  Rng rng = rng_new (seed);
  Live l;
  guint64 hash = 0, ns;

  memset (r, 0, sizeof *r);
  live_init (&l, n, opt.smoke);
  if (w1_fill (&p, &l, &rng, n))
    {
      r->warmup_done = w1_churn_limited (&p, &l, &rng, w1_warmup_steps (n),
                                         WARMUP_LIMIT_NS, FALSE, &hash, &ns);
      r->steps_done = w1_churn_limited (&p, &l, &rng, steps, TIMED_LIMIT_NS,
                                        TRUE, &hash, &r->timed_ns);
      r->completed = TRUE;
    }
  peer_destroy (&p);
  live_clear (&l);
}

typedef struct {
  guint64 ns[4];
  guint n_ns;
  guint64 steps;
  guint w2_k[2];
  guint n_w2_k;
  guint64 w2_count;
  guint64 mt_n, mt_steps;
} Plan;

/* results, for the closing table: [peer][N index] */
static double w1_ns[N_PEERS][4], w1_ir[N_PEERS][4];


/* Timed steps of peer kind at n.  Linux's exact tree slows down as the
 * churn goes on (its free space fragments below the cached node), so its
 * time and its instructions must describe the same steps: fewer of them,
 * the same for both, chosen so that a callgrind run counts ~10^9
 * instructions at most. */
static guint64
w1_timed_steps (PeerKind kind, guint64 n, guint64 plan_steps)
{
  if (kind != PEER_LINUX)
    return plan_steps;
  return MIN (plan_steps, n >= 1000000 ? 200 : n >= 100000 ? 1000
                          : n >= 10000 ? 5000 : 20000);
}

/* The steps that callgrind counts: the timed ones for Linux's exact tree;
 * 20000 for the others, whose cost per step does not drift */
static guint64
w1_callgrind_steps (PeerKind kind, guint64 n, guint64 plan_steps)
{
  if (kind == PEER_LINUX)
    return w1_timed_steps (kind, n, plan_steps);
  return MIN (plan_steps, G_GUINT64_CONSTANT (20000));
}

static void
workload_w1 (const Plan *plan)
{
  g_autofree gchar *valgrind = g_find_program_in_path ("valgrind");
  gboolean instructions = !opt.smoke && !opt.no_instructions
                          && valgrind != NULL;
  double *sample = g_new (double, opt.runs);

  say ("\nW1 IOVA churn: span 2^48, 4 KiB pages, 1-64 pages size-aligned; "
       "one op = free a random live\n  allocation + allocate a new one; "
       "min(N, 50000) warm-up steps, then %" G_GUINT64_FORMAT " timed steps"
       "\n  (or %" G_GUINT64_FORMAT " s of them); median of %d runs; "
       "Ir/op: callgrind, same fill and warm-up\n", plan->steps,
       TIMED_LIMIT_NS / NS_PER_S, opt.runs);
  for (guint k = 0; k < plan->n_ns; k++)
    {
      guint64 n = plan->ns[k];

      say ("\n N=%" G_GUINT64_FORMAT "\n", n);
      for (guint kind = 0; kind < N_PEERS; kind++)
        {
          guint64 steps_min = G_MAXUINT64, warm_min = G_MAXUINT64;
          guint done = 0;
          double ir = -1;

          for (gint r = 0; r < opt.runs; r++)
            {
              W1Run run;

              w1_run ((PeerKind) kind, n, opt.seed + r,
                      w1_timed_steps (kind, n, plan->steps), &run);
              if (!run.completed)
                {
                  say ("  %-22s fill did not finish in %" G_GUINT64_FORMAT
                       " s\n", peer_titles[kind], FILL_LIMIT_NS / NS_PER_S);
                  break;
                }
              sample[done++] = (double) run.timed_ns / run.steps_done;
              steps_min = MIN (steps_min, run.steps_done);
              warm_min = MIN (warm_min, run.warmup_done);
            }
          w1_ns[kind][k] = bench_median (sample, done);
          if (instructions)
            {
              g_autofree gchar *n_s = g_strdup_printf ("%" G_GUINT64_FORMAT,
                                                       n);
              g_autofree gchar *s_s = g_strdup_printf (
                  "%" G_GUINT64_FORMAT, w1_callgrind_steps (kind, n, plan->steps));
              g_autofree gchar *w_s = g_strdup_printf ("%" G_GUINT64_FORMAT,
                                                       w1_warmup_steps (n));
              {
                const char *args[] = { "--callgrind", "--workload", "W1",
                                       "--peer", peer_names[kind], "--n", n_s,
                                       "--steps", s_s, "--warmup", w_s,
                                       NULL };

                if (!bench_callgrind_ir_per_op ("bench_peers_w1_measured", args,
                                          &ir))
                  ir = -1;
              }
            }
          w1_ir[kind][k] = ir;
          say ("  %-22s %12.1f ns/op", peer_titles[kind], w1_ns[kind][k]);
          if (ir >= 0)
            say (" %12.0f Ir/op", ir);
          if (done && steps_min < plan->steps)
            say ("  (%" G_GUINT64_FORMAT " steps)", steps_min);
          if (done && warm_min < w1_warmup_steps (n))
            say ("  (warm-up steps: %" G_GUINT64_FORMAT ")", warm_min);
          say ("\n");
        }
    }
  g_free (sample);
}

/* --callgrind --workload W1 --peer P --n N [--steps S] [--warmup W] */
static int
run_callgrind_w1 (void)
{
  PeerKind kind;
  guint64 n = opt.n > 0 ? (guint64) opt.n : 1000;
  guint64 steps = opt.steps > 0 ? (guint64) opt.steps : 20000;
  Rng rng = rng_new (opt.seed);
  guint64 hash = 0;
  Peer p;
  Live l;

  if (!parse_peer (opt.peer, &kind))
    bench_die ("bad --peer (asm-lowest, asm-highest, asm-instant, "
               "linux-alloc_iova, linux-fast or floor)");
  p = peer_new (kind, FALSE);
  live_init (&l, n, FALSE);
  if (!w1_fill (&p, &l, &rng, n))
    bench_die ("fill did not finish in time");
  hash = w1_churn (&p, &l, &rng, w1_warmup_steps (n), hash);
  BENCH_CALLGRIND_START ();
  hash = bench_peers_w1_measured (&p, &l, &rng, steps, hash);
  BENCH_CALLGRIND_STOP ();
  printf ("callgrind: workload=W1 peer=%s n=%" G_GUINT64_FORMAT " warmup=%"
          G_GUINT64_FORMAT " ops=%" G_GUINT64_FORMAT " op=free+alloc "
          "client-requests=%s hash=%016" G_GINT64_MODIFIER "x\n",
          peer_names[kind], n, w1_warmup_steps (n), steps,
          BENCH_HAVE_CALLGRIND ? "yes" : "no", hash);
  peer_destroy (&p);
  live_clear (&l);
  return linux_peer_warnings () ? 1 : 0;
}

/* ------------------------------------------------------------------- W2 */

typedef enum {
  W2_FIRST,
  W2_REPEATED,
  W2_AFTER_FREE,
  W2_N_CASES
} W2Case;

static const char *const w2_case_names[W2_N_CASES] = { "first", "repeated",
                                                       "after-free" };

/* the refusers: asm LOWEST, Linux alloc_iova, Linux alloc_iova_fast */
typedef enum {
  W2_ASM,
  W2_LINUX,
  W2_LINUX_FAST,
  W2_N_PEERS
} W2PeerKind;

static const char *const w2_peer_names[W2_N_PEERS] = {
  "asm-lowest", "linux-alloc_iova", "linux-fast"
};

static const char *const w2_peer_titles[W2_N_PEERS] = {
  "asm LOWEST", "Linux alloc_iova", "Linux alloc_iova_fast (no flush)"
};

typedef struct {
  W2PeerKind kind;
  AsmArena *a;
  LinuxPeer *lp;
  guint k;
  Rng rng;
  guint64 bad;
} W2;

static void
w2_build (W2 *w, W2PeerKind kind, guint k)
{
  guint64 pages = FOUR_GIB / PAGE;
  Rng traffic = rng_new (opt.seed + 1000);
  GError *error = NULL;

  memset (w, 0, sizeof *w);
  w->kind = kind;
  w->k = k;
  w->rng = rng_new (opt.seed);
  if (kind == W2_ASM)
    {
      w->a = asm_arena_new ("peers-w2", PAGE);
      if (!asm_arena_add_span (w->a, 0, FOUR_GIB - 1, &error)
          || !asm_arena_add_span (w->a, FOUR_GIB, SPAN48_LAST, &error))
        bench_die ("asm_arena_add_span: %s", error->message);
      for (guint64 p = 0; p < pages; p += k)
        if (!asm_arena_reserve (w->a, (p + 1) * PAGE, (p + k) * PAGE - 1,
                                &error))
          bench_die ("asm_arena_reserve: %s", error->message);
      for (guint i = 0; i < 1024; i++)
        {
          guint64 n = w1_pages (&traffic), addr;
          AsmRequest req = ASM_REQUEST_INIT (n * PAGE);

          req.align = pow2_ceil (n) * PAGE;
          req.fit = ASM_FIT_HIGHEST;
          if (!asm_arena_alloc_full (w->a, &req, &addr, &error))
            bench_die ("W2 64-bit alloc: %s", error->message);
        }
      return;
    }

  w->lp = linux_peer_new (PAGE, 1, kind == W2_LINUX_FAST);
  if (w->lp == NULL)
    bench_die ("linux_peer_new failed");
  /* top-down from 4 GiB: the taken run [p + 1, p + k - 1], then a spacer
   * at p, down to p = 0 (outside the domain: start_pfn is 1) */
  for (guint64 p = pages - k; p + k > 0; p -= k)
    {
      unsigned long got = linux_peer_alloc (w->lp, k - 1, LIMIT32_PFN, false);

      if (got != p + 1)
        bench_die ("W2 build: the run for pfn 0x%" G_GINT64_MODIFIER "x "
                   "landed at 0x%lx", p + 1, got);
      if (p == 0)
        break;
      if (linux_peer_alloc (w->lp, 1, LIMIT32_PFN, false) != p)
        bench_die ("W2 build: the spacer at pfn 0x%" G_GINT64_MODIFIER "x "
                   "landed elsewhere", p);
    }
  for (guint64 p = k; p < pages; p += k)
    linux_peer_free (w->lp, p);
  for (guint i = 0; i < 1024; i++)
    if (linux_peer_alloc (w->lp, w1_pages (&traffic), LIMIT48_PFN, true) == 0)
      bench_die ("W2 64-bit alloc failed");
}

static void
w2_fini (W2 *w)
{
  g_clear_pointer (&w->a, asm_arena_unref);
  g_clear_pointer (&w->lp, linux_peer_destroy);
}

/* One refused request (2 pages below 4 GiB): its own symbol (never inlined
 * or cloned) so that callgrind counts exactly this call.  TRUE if it was
 * (wrongly) granted. */
gboolean bench_peers_w2_refusal_measured (W2 *w);

__attribute__ ((noinline, noclone)) gboolean
bench_peers_w2_refusal_measured (W2 *w)
{
  switch (w->kind)
    {
    case W2_ASM:
      {
        AsmRequest dma = ASM_REQUEST_INIT (2 * PAGE);
        guint64 addr;

        dma.max = 0xffffffff;
        return asm_arena_alloc_full (w->a, &dma, &addr, NULL);
      }
    case W2_LINUX:
      return linux_peer_alloc (w->lp, 2, LIMIT32_PFN, true) != 0;
    default:
      return linux_peer_alloc_fast (w->lp, 2, LIMIT32_PFN, false) != 0;
    }
}

/* the untimed part of one op of case c */
static void
w2_prepare (W2 *w, W2Case c)
{
  guint64 p = rng_below (&w->rng, FOUR_GIB / PAGE / w->k) * w->k;
  GError *error = NULL;

  if (c == W2_REPEATED)
    return;
  if (w->kind == W2_ASM)
    {
      if (c == W2_FIRST)
        {
          if (!asm_arena_free (w->a, (p + 1) * PAGE, &error)
              || !asm_arena_reserve (w->a, (p + 1) * PAGE,
                                     (p + w->k) * PAGE - 1, &error))
            bench_die ("W2 first: %s", error->message);
        }
      else
        {
          AsmRequest one = ASM_REQUEST_INIT (PAGE);
          guint64 addr;

          one.min = p * PAGE;
          one.max = 0xffffffff;
          if (!asm_arena_alloc_full (w->a, &one, &addr, &error)
              || !asm_arena_free (w->a, addr, &error))
            bench_die ("W2 after-free: %s", error->message);
        }
      return;
    }
  if (c == W2_FIRST)
    {
      linux_peer_free (w->lp, p + 1);
      if (!linux_peer_reserve (w->lp, p + 1, p + w->k - 1))
        bench_die ("W2 first: reserve_iova failed");
    }
  else
    {
      unsigned long one = linux_peer_alloc (w->lp, 1, LIMIT32_PFN, false);

      if (one == 0)
        bench_die ("W2 after-free: no free page below 4 GiB");
      linux_peer_free (w->lp, one);
    }
}

static inline void
w2_granted (W2 *w)
{
  if (w->bad++ == 0)
    bench_fail ("W2 %s: a 2-page request below 4 GiB was granted",
                w2_peer_names[w->kind]);
}

/* ns per refusal of case c over count ops: "repeated" timed in blocks of
 * 64 back-to-back refusals, the others one at a time less the timer */
static double
w2_case_measure (W2 *w, W2Case c, guint64 count)
{
  guint64 total = 0, done = 0;

  if (bench_peers_w2_refusal_measured (w))
    w2_granted (w);
  while (done < count)
    {
      if (c == W2_REPEATED)
        {
          guint64 chunk = MIN (64, count - done), t0 = now_ns (), bad = 0;

          for (guint64 i = 0; i < chunk; i++)
            bad += bench_peers_w2_refusal_measured (w);
          total += now_ns () - t0;
          done += chunk;
          if (G_UNLIKELY (bad))
            w2_granted (w);
        }
      else
        {
          guint64 t0;
          gboolean granted;

          w2_prepare (w, c);
          t0 = now_ns ();
          granted = bench_peers_w2_refusal_measured (w);
          total += now_ns () - t0;
          done++;
          if (G_UNLIKELY (granted))
            w2_granted (w);
        }
      if (total > TIMED_LIMIT_NS)
        break;
    }
  if (c == W2_REPEATED)
    return (double) total / done;
  return MAX (0.0, (double) total / done - bench_timer_overhead_ns ());
}

/* results, for the closing table: [k index][peer][case] */
static double w2_ns[2][W2_N_PEERS][W2_N_CASES];
static double w2_ir[2][W2_N_PEERS][W2_N_CASES];

static void
workload_w2 (const Plan *plan)
{
  g_autofree gchar *valgrind = g_find_program_in_path ("valgrind");
  gboolean instructions = !opt.smoke && !opt.no_instructions
                          && valgrind != NULL;
  double *sample = g_new (double, opt.runs);

  say ("\nW2 DMA32 exhaustion: every page below 4 GiB taken but one in k, "
       "1024 live 64-bit allocations;\n  a 2-page request limited to 4 GiB "
       "is refused; ns per refusal (median of %d runs)\n", opt.runs);
  for (guint kk = 0; kk < plan->n_w2_k; kk++)
    {
      guint k = plan->w2_k[kk];

      say ("\n W2 k=%u: %" G_GUINT64_FORMAT " runs taken below 4 GiB\n", k,
           FOUR_GIB / PAGE / k);
      for (guint pk = 0; pk < W2_N_PEERS; pk++)
        {
          W2 w;

          w2_build (&w, (W2PeerKind) pk, k);
          for (guint c = 0; c < W2_N_CASES; c++)
            {
              guint64 count = c == W2_REPEATED ? plan->w2_count
                              : pk == W2_ASM ? plan->w2_count / 10
                                             : MAX (plan->w2_count / 1000, 16);
              double ir = -1;

              count = MAX (count, 16);
              for (gint r = 0; r < opt.runs; r++)
                sample[r] = w2_case_measure (&w, (W2Case) c, count);
              w2_ns[kk][pk][c] = bench_median (sample, opt.runs);
              if (instructions)
                {
                  g_autofree gchar *k_s = g_strdup_printf ("%u", k);
                  const char *steps = c == W2_REPEATED || pk == W2_ASM
                                        ? "2000" : k <= 2 ? "10" : "200";
                  const char *args[] = { "--callgrind", "--workload", "W2",
                                         "--peer", w2_peer_names[pk],
                                         "--case", w2_case_names[c], "--k",
                                         k_s, "--steps", steps, NULL };

                  if (!bench_callgrind_ir_per_op ("bench_peers_w2_refusal_measured",
                                            args, &ir))
                    ir = -1;
                }
              w2_ir[kk][pk][c] = ir;
              say ("  %-34s %-10s %12.1f ns", w2_peer_titles[pk],
                   w2_case_names[c], w2_ns[kk][pk][c]);
              if (ir >= 0)
                say (" %12.0f Ir", ir);
              say ("  (%" G_GUINT64_FORMAT " refusals per run)\n", count);
            }
          if (opt.smoke && w.a != NULL)
            {
              GError *error = NULL;

              if (!asm_arena_check (w.a, &error))
                {
                  bench_fail ("W2: asm_arena_check: %s", error->message);
                  g_clear_error (&error);
                }
            }
          w2_fini (&w);
        }
    }
  g_free (sample);
}

/* --callgrind --workload W2 --peer P --case C --k K [--steps S] */
static int
run_callgrind_w2 (void)
{
  W2Case c = W2_REPEATED;
  W2PeerKind pk = W2_ASM;
  guint k = opt.k > 0 ? (guint) opt.k : 2;
  guint64 steps = opt.steps > 0 ? (guint64) opt.steps : 1000;
  gboolean found = FALSE;
  W2 w;

  for (guint i = 0; i < W2_N_CASES; i++)
    if (opt.w2_case && g_ascii_strcasecmp (opt.w2_case, w2_case_names[i]) == 0)
      c = (W2Case) i;
  for (guint i = 0; i < W2_N_PEERS; i++)
    if (opt.peer && g_ascii_strcasecmp (opt.peer, w2_peer_names[i]) == 0)
      {
        pk = (W2PeerKind) i;
        found = TRUE;
      }
  if (!found)
    bench_die ("bad --peer (asm-lowest, linux-alloc_iova or linux-fast)");
  if (k < 2 || (FOUR_GIB / PAGE) % k != 0)
    bench_die ("bad --k (a power of two from 2 to 2^20)");
  w2_build (&w, pk, k);
  if (bench_peers_w2_refusal_measured (&w))
    w2_granted (&w);
  BENCH_CALLGRIND_START ();
  for (guint64 i = 0; i < steps; i++)
    {
      w2_prepare (&w, c);
      if (bench_peers_w2_refusal_measured (&w))
        w2_granted (&w);
    }
  BENCH_CALLGRIND_STOP ();
  printf ("callgrind: workload=W2 peer=%s case=%s k=%u ops=%" G_GUINT64_FORMAT
          " op=refusal client-requests=%s\n", w2_peer_names[pk],
          w2_case_names[c], k, steps, BENCH_HAVE_CALLGRIND ? "yes" : "no");
  w2_fini (&w);
  return w.bad || linux_peer_warnings () ? 1 : 0;
}

/* ------------------------------------------------------------------- MT */

typedef struct {
  const Peer *p;
  guint index;
  guint64 n, steps;
  pthread_barrier_t *start;
  guint64 hash;
  guint64 cpu_ns; /* the thread's CPU time over its timed steps */
} MtThread;

static guint64
thread_cpu_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (guint64) ts.tv_sec * NS_PER_S + (guint64) ts.tv_nsec;
}

static gpointer
mt_thread (gpointer data)
{
  MtThread *t = data;
  Rng rng = rng_new (opt.seed + 100 * (t->index + 1));
  Live l;

  linux_peer_set_cpu (t->index % linux_peer_ncpus ());
  live_init (&l, t->n, opt.smoke);
  if (!w1_fill (t->p, &l, &rng, t->n))
    bench_die ("MT: fill did not finish in time");
  t->hash = w1_churn (t->p, &l, &rng, MIN (t->n, 50000), 0);
  pthread_barrier_wait (t->start);
  t->cpu_ns = thread_cpu_ns ();
  t->hash = bench_peers_w1_measured (t->p, &l, &rng, t->steps, t->hash);
  t->cpu_ns = thread_cpu_ns () - t->cpu_ns;
  pthread_barrier_wait (t->start);
  live_clear (&l);
  return NULL;
}

/* wall ns per op, all threads together, of one run; *cpu: the threads'
 * CPU ns per op (a waiter that spins counts, one that sleeps does not) */
static double
mt_run (PeerKind kind, guint threads, guint64 n, guint64 steps, double *cpu)
{
  Peer p = peer_new (kind, TRUE);
  MtThread t[2];
  GThread *th[2];
  pthread_barrier_t start;
  guint64 t0, t1;

  g_assert (threads <= G_N_ELEMENTS (t));
  pthread_barrier_init (&start, NULL, threads + 1);
  for (guint i = 0; i < threads; i++)
    {
      t[i] = (MtThread) { &p, i, n / threads, steps, &start, 0, 0 };
      th[i] = g_thread_new ("churn", mt_thread, &t[i]);
    }
  pthread_barrier_wait (&start); /* all filled and warm */
  t0 = now_ns ();
  pthread_barrier_wait (&start); /* all done */
  t1 = now_ns ();
  *cpu = 0;
  for (guint i = 0; i < threads; i++)
    {
      g_thread_join (th[i]);
      *cpu += (double) t[i].cpu_ns / (threads * steps);
    }
  pthread_barrier_destroy (&start);
  peer_destroy (&p);
  linux_peer_set_cpu (0);
  return (double) (t1 - t0) / (threads * steps);
}

static const PeerKind mt_peers[] = { PEER_ASM_LOWEST, PEER_ASM_INSTANT,
                                     PEER_LINUX, PEER_LINUX_FAST };
static double mt_ns[G_N_ELEMENTS (mt_peers)][2];
static double mt_cpu[G_N_ELEMENTS (mt_peers)][2];

static void
workload_mt (const Plan *plan)
{
  double *sample = g_new (double, opt.runs);
  double *sample_cpu = g_new (double, opt.runs);

  say ("\nMT: W1 with N=%" G_GUINT64_FORMAT " live allocations shared by 1 "
       "and 2 threads (N/T each, own seeds),\n  %" G_GUINT64_FORMAT " timed "
       "steps per thread; wall ns per op over all threads (median of %d "
       "runs),\n  and the threads' CPU ns per op (CPU time of the timed "
       "steps / all ops); asm LOWEST behind one\n  pthread mutex (an "
       "AsmArena without a cache is single-writer), asm INSTANT (cached, "
       "thread-safe)\n  and Linux as they are; load average %.2f on %ld "
       "CPUs\n", plan->mt_n, plan->mt_steps, opt.runs, bench_load_average (),
       sysconf (_SC_NPROCESSORS_ONLN));
  for (guint i = 0; i < G_N_ELEMENTS (mt_peers); i++)
    {
      PeerKind kind = mt_peers[i];

      for (guint threads = 1; threads <= 2; threads++)
        {
          guint64 steps = plan->mt_steps;

          /* the exact Linux tree costs ~10 us a step at 10^4 */
          if (kind == PEER_LINUX && plan->mt_n >= 10000 && !opt.smoke)
            steps = MIN (steps, G_GUINT64_CONSTANT (20000));
          for (gint r = 0; r < opt.runs; r++)
            sample[r] = mt_run (kind, threads, plan->mt_n, steps,
                                &sample_cpu[r]);
          mt_ns[i][threads - 1] = bench_median (sample, opt.runs);
          mt_cpu[i][threads - 1] = bench_median (sample_cpu, opt.runs);
          say ("  %-22s%-8s %u thread%s %10.1f ns/op  %8.2f Mops/s  %10.1f "
               "CPU ns/op  (%" G_GUINT64_FORMAT " steps per thread)\n",
               peer_titles[kind], kind == PEER_ASM_LOWEST ? " +mutex" : "",
               threads, threads > 1 ? "s" : " ", mt_ns[i][threads - 1],
               1000.0 / mt_ns[i][threads - 1], mt_cpu[i][threads - 1],
               steps);
        }
      say ("  %-30s 2 threads / 1 thread: %.2fx throughput\n", "",
           mt_ns[i][0] / mt_ns[i][1]);
    }
  g_free (sample);
  g_free (sample_cpu);
}

/* ------------------------------------------------- smoke: rcache paths */

/* --smoke: the paths of Linux's rcache that a balanced churn never takes
 * (magazines pushed to and popped from the depot; a failed allocation that
 * flushes every cache and retries), checked for answers, and under ASan
 * for the shim's memory handling. */
static void
smoke_linux_rcache (void)
{
  const guint n = 2000;
  unsigned long *pfn = g_new (unsigned long, n);
  g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);
  unsigned long works = linux_peer_work_scheduled (), two;
  LinuxPeer *lp = linux_peer_new (PAGE, 1, TRUE);

  say ("\nLinux rcache paths (smoke): depot push/pop, flush on failure\n");
  for (guint round = 0; round < 2; round++)
    {
      g_hash_table_remove_all (seen);
      for (guint i = 0; i < n; i++)
        {
          pfn[i] = linux_peer_alloc_fast (lp, 1, LIMIT48_PFN, TRUE);
          if (pfn[i] == 0 || !g_hash_table_add (seen, GSIZE_TO_POINTER (pfn[i])))
            bench_fail ("rcache: alloc_iova_fast gave 0x%lx twice or 0",
                        pfn[i]);
        }
      /* 2 x 127 fit the CPU's magazines; the rest go to the depot */
      for (guint i = 0; i < n; i++)
        linux_peer_free_fast (lp, pfn[i], 1);
    }
  if (linux_peer_work_scheduled () == works)
    bench_fail ("rcache: no magazine reached the depot");
  linux_peer_destroy (lp);

  /* pfns [1, 64] only: fill with single pages, free them into the rcache;
   * a 2-page request then fails in the tree, flushes and succeeds */
  lp = linux_peer_new (PAGE, 1, TRUE);
  for (guint i = 0; i < 64; i++)
    if ((pfn[i] = linux_peer_alloc_fast (lp, 1, 64, TRUE)) == 0)
      bench_fail ("rcache: page %u of 64 refused", i);
  if (linux_peer_alloc_fast (lp, 1, 64, TRUE) != 0)
    bench_fail ("rcache: a 65th page in a 64-page window");
  for (guint i = 0; i < 64; i++)
    linux_peer_free_fast (lp, pfn[i], 1);
  two = linux_peer_alloc_fast (lp, 2, 64, TRUE);
  if (two == 0 || (two & 1) != 0 || two + 1 > 64)
    bench_fail ("rcache: after the flush, 2 pages in the window gave 0x%lx",
                two);
  linux_peer_destroy (lp);
  g_free (pfn);
  say ("  %s\n", bench_exit_status () ? "FAILED" : "ok");
}

/* ------------------------------------------------------------ callgrind */


/* ------------------------------------------------------------- summary */

static void
print_figure (double v)
{
  if (v < 0)
    say (" %12s |", "-");
  else
    say (" %12.0f |", v);
}

/* the closing tables, in Markdown, for the README */
static void
print_summary (const Plan *plan, gboolean w1, gboolean w2, gboolean mt)
{
  say ("\nSummary (Markdown)\n");
  if (w1)
    for (guint t = 0; t < 2; t++)
      {
        say ("\n| W1, %s per op | N |", t == 0 ? "ns" : "instructions");
        for (guint kind = 0; kind < N_PEERS; kind++)
          say (" %s |", peer_titles[kind]);
        say ("\n|---|---|");
        for (guint kind = 0; kind < N_PEERS; kind++)
          say ("---|");
        say ("\n");
        for (guint k = 0; k < plan->n_ns; k++)
          {
            say ("| | %" G_GUINT64_FORMAT " |", plan->ns[k]);
            for (guint kind = 0; kind < N_PEERS; kind++)
              print_figure (t == 0 ? w1_ns[kind][k] : w1_ir[kind][k]);
            say ("\n");
          }
      }
  if (w2)
    for (guint kk = 0; kk < plan->n_w2_k; kk++)
      {
        say ("\n| W2 refusal, k=%u | case |", plan->w2_k[kk]);
        for (guint pk = 0; pk < W2_N_PEERS; pk++)
          say (" %s ns | Ir |", w2_peer_titles[pk]);
        say ("\n|---|---|");
        for (guint pk = 0; pk < W2_N_PEERS; pk++)
          say ("---|---|");
        say ("\n");
        for (guint c = 0; c < W2_N_CASES; c++)
          {
            say ("| | %s |", w2_case_names[c]);
            for (guint pk = 0; pk < W2_N_PEERS; pk++)
              {
                print_figure (w2_ns[kk][pk][c]);
                print_figure (w2_ir[kk][pk][c]);
              }
            say ("\n");
          }
      }
  if (mt)
    {
      say ("\n| MT W1, N=%" G_GUINT64_FORMAT " | wall ns/op, 1 thread | 2 "
           "threads | 2T/1T throughput | CPU ns/op, 1 thread | 2 threads "
           "|\n|---|---|---|---|---|---|\n", plan->mt_n);
      for (guint i = 0; i < G_N_ELEMENTS (mt_peers); i++)
        say ("| %s%s | %.1f | %.1f | %.2fx | %.1f | %.1f |\n",
             peer_titles[mt_peers[i]],
             mt_peers[i] == PEER_ASM_LOWEST ? " + one mutex" : "",
             mt_ns[i][0], mt_ns[i][1], mt_ns[i][0] / mt_ns[i][1],
             mt_cpu[i][0], mt_cpu[i][1]);
    }
}

/* ----------------------------------------------------------------- main */

int
main (int argc, char **argv)
{
  static const guint64 all_ns[] = { 1000, 10000, 100000, 1000000 };

  bench_report_init ("bench-peers", stdout);
  GOptionEntry entries[] = {
    { "smoke", 0, 0, G_OPTION_ARG_NONE, &opt.smoke,
      "Tiny sizes, one run, every answer checked (the smoke test)", NULL },
    { "workload", 0, 0, G_OPTION_ARG_STRING, &opt.workload,
      "W1, W2, MT or all (default)", "W" },
    { "runs", 0, 0, G_OPTION_ARG_INT, &opt.runs, "Runs per figure (5)", "R" },
    { "n", 0, 0, G_OPTION_ARG_INT64, &opt.n, "W1: only this N", "N" },
    { "steps", 0, 0, G_OPTION_ARG_INT64, &opt.steps,
      "W1: timed steps per run (200000); --callgrind: ops counted", "S" },
    { "warmup", 0, 0, G_OPTION_ARG_INT64, &opt.warmup,
      "W1: warm-up steps (min(N, 50000))", "S" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &opt.seed, "Base seed", "S" },
    { "k", 0, 0, G_OPTION_ARG_INT64, &opt.k,
      "W2: only this k (one free page in k below 4 GiB)", "K" },
    { "mt-n", 0, 0, G_OPTION_ARG_INT64, &opt.mt_n,
      "MT: live allocations in all (10000)", "N" },
    { "mt-steps", 0, 0, G_OPTION_ARG_INT64, &opt.mt_steps,
      "MT: timed steps per thread (2000000)", "S" },
    { "no-instructions", 0, 0, G_OPTION_ARG_NONE, &opt.no_instructions,
      "Do not count instructions under callgrind", NULL },
    { "callgrind", 0, 0, G_OPTION_ARG_NONE, &opt.callgrind,
      "One run for callgrind: --workload W1|W2 --peer P ...", NULL },
    { "peer", 0, 0, G_OPTION_ARG_STRING, &opt.peer,
      "--callgrind: asm-lowest, asm-highest, asm-instant, linux-alloc_iova, "
      "linux-fast, floor", "P" },
    { "case", 0, 0, G_OPTION_ARG_STRING, &opt.w2_case,
      "--callgrind W2: first, repeated or after-free", "C" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  gboolean w1, w2, mt;
  Plan plan = {
    .steps = 200000,
    .w2_k = { 64, 2 },
    .n_w2_k = 2,
    .w2_count = 20000,
    .mt_n = 10000,
    .mt_steps = 2000000,
  };

  ctx = g_option_context_new ("- asm beside Linux's iova.c");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    bench_die ("%s", error->message);
  if (opt.runs < 1)
    bench_die ("--runs must be >= 1");

  if (opt.callgrind)
    {
      if (opt.workload && g_ascii_strcasecmp (opt.workload, "W2") == 0)
        return run_callgrind_w2 ();
      return run_callgrind_w1 ();
    }

  w1 = w2 = mt = opt.workload == NULL
                 || g_ascii_strcasecmp (opt.workload, "all") == 0;
  if (opt.workload && g_ascii_strcasecmp (opt.workload, "W1") == 0)
    w1 = TRUE;
  if (opt.workload && g_ascii_strcasecmp (opt.workload, "W2") == 0)
    w2 = TRUE;
  if (opt.workload && g_ascii_strcasecmp (opt.workload, "MT") == 0)
    mt = TRUE;
  if (!w1 && !w2 && !mt)
    bench_die ("bad --workload (W1, W2, MT or all)");

  if (opt.smoke)
    {
      opt.runs = 1;
      plan.steps = 2000;
      plan.w2_k[0] = 2048;
      plan.n_w2_k = 1;
      plan.w2_count = 256;
      plan.mt_n = 1000;
      plan.mt_steps = 2000;
    }
  for (guint i = 0; i < G_N_ELEMENTS (all_ns); i++)
    if ((opt.n <= 0 || (guint64) opt.n == all_ns[i])
        && !(opt.smoke && all_ns[i] > 10000))
      plan.ns[plan.n_ns++] = all_ns[i];
  if (opt.n > 0 && plan.n_ns == 0)
    plan.ns[plan.n_ns++] = opt.n;
  if (opt.steps > 0)
    plan.steps = opt.steps;
  if (opt.k > 0)
    {
      plan.w2_k[0] = (guint) opt.k;
      plan.n_w2_k = 1;
    }
  if (opt.mt_n > 0)
    plan.mt_n = opt.mt_n;
  if (opt.mt_steps > 0)
    plan.mt_steps = opt.mt_steps;

  say ("bench-peers: asm %d.%d.%d beside Linux %s drivers/iommu/iova.c "
       "(built unchanged from Debian's\n  linux-source-6.12 with the "
       "project's shim), %s, %d run%s per figure, %u CPU slots\n",
       ASM_MAJOR_VERSION, ASM_MINOR_VERSION, ASM_MICRO_VERSION,
       linux_peer_version (), opt.smoke ? "smoke sizes" : "full sizes",
       opt.runs, opt.runs > 1 ? "s" : "", linux_peer_ncpus ());
  say ("  load average at start %.2f (other work on the machine moves the ns "
       "figures, not the Ir ones)\n", bench_load_average ());
  say ("  asm LOWEST and HIGHEST are its exact tree; asm INSTANT+cache is "
       "ASM_FIT_INSTANT with the\n  arena's cache (64 pages).  Linux's "
       "rcache depot worker never runs in the shim\n");
#ifndef __OPTIMIZE__
  say ("  WARNING: an unoptimised build; the figures mean little\n");
#endif

  if (w1)
    workload_w1 (&plan);
  if (w2)
    workload_w2 (&plan);
  if (mt)
    workload_mt (&plan);
  if (opt.smoke)
    smoke_linux_rcache ();
  print_summary (&plan, w1, w2, mt);

  say ("\nLinux: %lu delayed works requested (never run), %lu WARN_ON\n",
       linux_peer_work_scheduled (), linux_peer_warnings ());
  if (linux_peer_warnings ())
    bench_fail ("Linux's iova.c warned %lu times", linux_peer_warnings ());
  return bench_exit_status ();
}
