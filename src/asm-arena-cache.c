/* asm-arena-cache.c: magazines of freed ranges in front of an arena
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory of operation
 * ===================
 *
 * Why.  A VMM or an IOMMU driver maps and unmaps DMA buffers of a few
 * sizes, millions of times, from many threads, and most of what it frees
 * it asks for again a moment later.  The tree (asm-arena.c) answers every
 * request exactly in O(log n), but even its lightest path is a descent, a
 * carve and an update of the augmented values; Linux answers the common
 * case from per-CPU magazines of freed IOVAs (its rcache), Bonwick's vmem
 * from quantum caches.  This file is that cache, made exact.
 *
 * What it holds.  asm_arena_enable_cache() gives an arena one size class
 * per multiple of the quantum up to max_size (at most 256).  A freed
 * allocation of class k (k + 1 quanta) whose address is a multiple of its
 * size rounded up to a power of two is not returned to the tree: it stays
 * an ALLOCATED segment there and goes, by address, into a magazine of
 * class k.  A request with ASM_FIT_INSTANT, that size, no phase, no
 * nocross and an alignment no larger than that power of two is satisfied
 * by any such range inside its [min, max], so it takes one.
 *
 * Where.  Each thread is given a slot of the cache (thread number modulo
 * the slot count, which is at least twice the CPUs: up to that many
 * threads, a slot is one thread's).  A slot holds, per class, a loaded and
 * a previous magazine of MAG_SIZE addresses: a free pushes onto the loaded
 * one, an allocation pops from it (the newest range first, hot in the
 * caches).  When the loaded magazine is full and the previous one holds
 * ranges, the previous one goes to the depot, a per-class stack of full
 * magazines shared by all slots; when both are empty, a full one comes
 * from the depot.  So a thread touches shared state once per MAG_SIZE
 * operations of one class (Bonwick's magazine layer, with Linux's choice
 * of two magazines per CPU and one depot).  The depot holds at most
 * DEPOT_MAGS magazines for all classes together; beyond that, a magazine's
 * ranges go back to the tree.  The hard cap on what the cache holds is
 * therefore slots x classes x 2 x MAG_SIZE + DEPOT_MAGS x MAG_SIZE ranges
 * (AsmArenaCacheStats.capacity).
 *
 * Knowing a freed range.  asm_arena_free() gets an address, not a size,
 * and must refuse a double free, so the cache keeps a table of the ranges
 * it knows: the allocations it handed out, and those the tree handed out
 * for an ASM_FIT_INSTANT request of a cacheable size and shape (OUTSTANDING),
 * and the ranges in its magazines (CACHED).  The table is 64 shards of
 * open addressing with linear probing, one 8-byte entry per range (the
 * unit index, the class and the state; an address whose unit index does
 * not fit in 55 bits is never cached), each shard behind its own lock, so
 * two threads rarely meet.  A free looks the address up: OUTSTANDING
 * becomes CACHED and the range goes into the magazine; CACHED is a double
 * free (NOT_FOUND, as the tree says it); an address the table does not
 * know is the tree's, which frees it as before.  An allocation popped from
 * a magazine turns CACHED back into OUTSTANDING.
 *
 * Exact.  A cached range is free to every caller, so nothing may be
 * refused, or placed differently, because of it:
 *   - a request the tree refuses is retried after a flush (every magazine
 *     and the depot given back to the tree) whenever the cache holds
 *     anything, so NO_SPACE means that no address satisfies the request;
 *     the refusal hint stays a fact about the tree's free space, and the
 *     flush's frees update it as any free does;
 *   - an exact fit (LOWEST, HIGHEST, BEST, NEXT), reserve, remove_span,
 *     move, find_free, lookup_full, largest_free_within, walk and clone
 *     flush first, so they see the free space a cacheless arena would
 *     have (their cost grows by the flush, at most the cap);
 *   - lookup reports a cached range as free, get_stats counts it as free
 *     units, and check verifies the whole picture: every table entry is an
 *     ALLOCATED segment of exactly its extent, and the CACHED entries are
 *     exactly the ranges in the magazines and the depot, each once.
 * A request served from a magazine satisfies every constraint of its
 * request by construction (size, alignment, [min, max] tested per range).
 *
 * Locks, always taken in this order:
 *   flush_lock   one flusher, stats reader or checker at a time
 *   slot         a thread's magazines (its n_cached is read without it)
 *   depot        one class's stack of full magazines
 *   tree_lock    the arena: its tree, spans, tallies, hint and cursor
 *   shard        one shard of the table
 * The slot and shard locks are spinlocks (their sections are a few dozen
 * instructions, and the slot's is almost never contended), the others
 * pthread mutexes.  A flush takes the magazines out slot by slot under
 * flush_lock, then gives them back under tree_lock; anyone who needs the
 * whole picture (check, stats) takes flush_lock first, so never sees a
 * range in transit.  Whether the cache holds anything is read without
 * locks (each slot's n_cached and the depot's count, atomically): a free
 * that happened before a call is seen by it, which is all exactness asks;
 * one that races with it is ordered after it.
 *
 * Cost.  A hit is a slot lock, a pop, a table update under its shard lock
 * and the unlocks; a free the same with a push.  Neither touches the tree
 * or shared cache lines other than the table's.  Misses and overflows cost
 * what the tree costs, plus the table entry.
 */
#include <asm/asm-arena.h>

#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "asm-arena-cache-private.h"
#include "asm-bug-private.h"

#define MAG_SIZE 62      /* ranges per magazine: a magazine is 512 bytes */
#define DEPOT_MAGS 64    /* full magazines in the depot, all classes */
#define DEPOT_EMPTIES 2  /* spare empty magazines kept per class */
#define MAX_CLASSES 256
#define MAX_SLOTS 64
#define SHARD_BITS 6
#define N_SHARDS (1u << SHARD_BITS)
#define TABLE_MIN_BITS 4
#define SPIN_BEFORE_YIELD 64

/* table entries: (unit << 9) | (class << 1) | CACHED */
#define ENTRY_EMPTY G_MAXUINT64
#define ENTRY_CACHED G_GUINT64_CONSTANT (1)
#define UNIT_LIMIT ((G_GUINT64_CONSTANT (1) << 55) - 1) /* units below it */

G_STATIC_ASSERT (MAX_CLASSES <= 256);

/* ------------------------------------------------------------------ */
/* spinlocks                                                            */

typedef struct {
  gint held;
} Spin;

static void
spin_wait (Spin *l)
{
  for (guint i = 0;; i++)
    {
      while (__atomic_load_n (&l->held, __ATOMIC_RELAXED))
        {
          if (++i >= SPIN_BEFORE_YIELD)
            {
              sched_yield ();
              i = 0;
            }
#if defined(__x86_64__) || defined(__i386__)
          else
            __builtin_ia32_pause ();
#endif
        }
      if (!__atomic_exchange_n (&l->held, 1, __ATOMIC_ACQUIRE))
        return;
    }
}

static inline void
spin_lock (Spin *l)
{
  if (G_UNLIKELY (__atomic_exchange_n (&l->held, 1, __ATOMIC_ACQUIRE)))
    spin_wait (l);
}

static inline void
spin_unlock (Spin *l)
{
  __atomic_store_n (&l->held, 0, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------------ */
/* the structures                                                       */

typedef struct _Magazine Magazine;
struct _Magazine {
  Magazine *next; /* in a depot's stack */
  guint64 n;      /* ranges held: addr[0 .. n-1] */
  guint64 addr[MAG_SIZE];
};

typedef struct {
  Spin lock;
  guint64 n_cached; /* ranges in loaded[] and prev[] */
  guint64 hits, misses;
  Magazine **loaded; /* per class, NULL until used */
  Magazine **prev;
} __attribute__ ((aligned (64))) Slot;

typedef struct {
  Spin lock;
  guint n_full;
  guint n_empty;
  Magazine *full;  /* stack of magazines with ranges */
  Magazine *empty; /* spare empty magazines */
} __attribute__ ((aligned (64))) Depot;

typedef struct {
  Spin lock;
  guint bits; /* the table has 2^bits entries */
  guint64 n;  /* entries in use */
  guint64 *e;
} __attribute__ ((aligned (64))) Shard;

struct _AsmArenaCache {
  Shard shards[N_SHARDS];
  pthread_mutex_t tree_lock;
  pthread_mutex_t flush_lock;
  char *name;
  guint64 quantum;
  guint qshift;
  guint64 max_size;
  guint n_classes;
  guint64 *align_ok; /* per class: the bits an alignment may have */
  guint slot_mask;
  Slot *slots;     /* slot_mask + 1 of them */
  Depot *depots;   /* one per class */
  gint depot_full; /* full magazines in all depots (atomic) */
  guint64 flushes; /* under tree_lock */
};

/* a range taken out of the cache by a flush */
typedef struct {
  guint64 addr;
  guint cls;
} Taken;

static inline guint64
class_size (const AsmArenaCache *c, guint cls)
{
  return (guint64) (cls + 1) << c->qshift;
}

static inline guint64
pow2_ceil (guint64 v)
{
  return v <= 1 ? 1 : G_GUINT64_CONSTANT (1) << (64 - __builtin_clzll (v - 1));
}

static inline gboolean
in_window (guint64 addr, guint64 size, guint64 min, guint64 max)
{
  return addr >= min && addr + (size - 1) <= max;
}

/* Does the cache know ranges of this shape: size of class *cls, address a
 * multiple of the size rounded up to a power of two, unit index in range? */
static inline gboolean
cacheable_shape (const AsmArenaCache *c, guint64 addr, guint64 size,
                 guint *cls)
{
  if (size > c->max_size || (addr & (pow2_ceil (size) - 1)) != 0 ||
      (addr >> c->qshift) >= UNIT_LIMIT)
    return FALSE;
  *cls = (guint) (size >> c->qshift) - 1;
  return TRUE;
}

/* Is req one the magazines can serve (valid, and met by any cached range
 * of its class inside its window)?  Everything else goes to the tree,
 * which validates it. */
static inline gboolean
cache_serves (const AsmArenaCache *c, const AsmRequest *req, guint *cls)
{
  guint64 size = req->size, align = req->align, k;

  if (req->fit != ASM_FIT_INSTANT || (req->phase | req->nocross) != 0 ||
      (size & (c->quantum - 1)) != 0)
    return FALSE;
  k = (size >> c->qshift) - 1; /* size 0 wraps to a huge class */
  /* align: 0, or one bit from the quantum to the size rounded up to a
   * power of two (the alignment of every cached range of the class).
   * min > max needs no test: no cached range is inside that window, so
   * the request goes to the tree, which refuses it as invalid */
  if (k >= c->n_classes || (align & c->align_ok[k]) != align ||
      (align & (align - 1)) != 0)
    return FALSE;
  *cls = (guint) k;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* the table of ranges the cache knows                                  */

static inline guint64
unit_hash (guint64 unit)
{
  return unit * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
}

/* the high bits of a unit's hash choose its shard, the next ones its home
 * in the shard's table */
static inline Shard *
shard_of (AsmArenaCache *c, guint64 unit)
{
  return &c->shards[unit_hash (unit) >> (64 - SHARD_BITS)];
}

static inline guint64
shard_home (const Shard *sh, guint64 unit)
{
  return (unit_hash (unit) << SHARD_BITS) >> (64 - sh->bits);
}

static inline guint64
entry_unit (guint64 e)
{
  return e >> 9;
}

static inline guint
entry_class (guint64 e)
{
  return (guint) (e >> 1) & 0xff;
}

/* the index of unit's entry, or -1 */
static inline gint64
shard_find (const Shard *sh, guint64 unit)
{
  guint64 mask = (G_GUINT64_CONSTANT (1) << sh->bits) - 1, i;

  /* ENTRY_EMPTY's unit is UNIT_LIMIT, which no entry has */
  for (i = shard_home (sh, unit);; i = (i + 1) & mask)
    {
      guint64 e = sh->e[i];

      if (G_LIKELY (entry_unit (e) == unit))
        return (gint64) i;
      if (e == ENTRY_EMPTY)
        return -1;
    }
}

static void
shard_place (Shard *sh, guint64 e)
{
  guint64 mask = (G_GUINT64_CONSTANT (1) << sh->bits) - 1, i;

  for (i = shard_home (sh, entry_unit (e)); sh->e[i] != ENTRY_EMPTY;
       i = (i + 1) & mask)
    ;
  sh->e[i] = e;
}

static void
shard_resize (Shard *sh, guint bits)
{
  guint64 *old = sh->e;

  guint64 old_size = G_GUINT64_CONSTANT (1) << sh->bits;

  sh->bits = bits;
  sh->e = g_new (guint64, G_GUINT64_CONSTANT (1) << bits);
  memset (sh->e, 0xff, sizeof (guint64) << bits); /* ENTRY_EMPTY */
  for (guint64 i = 0; i < old_size; i++)
    if (old[i] != ENTRY_EMPTY)
      shard_place (sh, old[i]);
  g_free (old);
}

static void
shard_insert (Shard *sh, guint64 e)
{
  if ((sh->n + 1) * 4 > (G_GUINT64_CONSTANT (3) << sh->bits))
    shard_resize (sh, sh->bits + 1);
  shard_place (sh, e);
  sh->n++;
}

/* removes entry i, shifting back the entries of its probe run */
static void
shard_delete_at (Shard *sh, guint64 i)
{
  guint64 mask = (G_GUINT64_CONSTANT (1) << sh->bits) - 1, j = i;

  for (;;)
    {
      guint64 home;

      j = (j + 1) & mask;
      if (sh->e[j] == ENTRY_EMPTY)
        break;
      home = shard_home (sh, entry_unit (sh->e[j]));
      /* the entry at j stays unless its home is outside (i, j] */
      if (((j - home) & mask) < ((j - i) & mask))
        continue;
      sh->e[i] = sh->e[j];
      i = j;
    }
  sh->e[i] = ENTRY_EMPTY;
  sh->n--;
  if (sh->bits > TABLE_MIN_BITS &&
      sh->n * 8 < (G_GUINT64_CONSTANT (1) << sh->bits))
    shard_resize (sh, sh->bits - 1);
}

static void
table_insert (AsmArenaCache *c, guint64 addr, guint cls, guint64 state)
{
  guint64 unit = addr >> c->qshift;
  Shard *sh = shard_of (c, unit);

  spin_lock (&sh->lock);
  if (G_UNLIKELY (shard_find (sh, unit) >= 0))
    ASM_BUG ("%s: the cache already knows 0x%" G_GINT64_MODIFIER "x",
             c->name, addr);
  shard_insert (sh, (unit << 9) | ((guint64) cls << 1) | state);
  spin_unlock (&sh->lock);
}

static void
table_remove (AsmArenaCache *c, guint64 addr)
{
  guint64 unit = addr >> c->qshift;
  Shard *sh = shard_of (c, unit);
  gint64 i;

  spin_lock (&sh->lock);
  i = shard_find (sh, unit);
  if (G_UNLIKELY (i < 0))
    ASM_BUG ("%s: the cache does not know 0x%" G_GINT64_MODIFIER "x",
             c->name, addr);
  shard_delete_at (sh, (guint64) i);
  spin_unlock (&sh->lock);
}

/* ------------------------------------------------------------------ */
/* magazines, slots and the depot                                       */

static __thread guint arena_thread_no __attribute__ ((tls_model ("initial-exec")));
static guint arena_threads;

static inline Slot *
my_slot (AsmArenaCache *c)
{
  guint no = arena_thread_no;

  if (G_UNLIKELY (no == 0))
    {
      do
        no = __atomic_add_fetch (&arena_threads, 1, __ATOMIC_RELAXED);
      while (no == 0);
      arena_thread_no = no;
    }
  return &c->slots[(no - 1) & c->slot_mask];
}

static inline void
slot_count (Slot *s, gint64 delta)
{
  /* written under the slot's lock; read without it by cache_may_hold() */
  __atomic_store_n (&s->n_cached, s->n_cached + (guint64) delta,
                    __ATOMIC_RELAXED);
}

static Magazine *
depot_get_empty (AsmArenaCache *c, guint cls)
{
  Depot *d = &c->depots[cls];
  Magazine *m;

  spin_lock (&d->lock);
  m = d->empty;
  if (m != NULL)
    {
      d->empty = m->next;
      d->n_empty--;
    }
  spin_unlock (&d->lock);
  if (m == NULL)
    m = g_new (Magazine, 1);
  m->next = NULL;
  m->n = 0;
  return m;
}

static void
depot_put_empty (AsmArenaCache *c, guint cls, Magazine *m)
{
  Depot *d = &c->depots[cls];

  spin_lock (&d->lock);
  if (d->n_empty < DEPOT_EMPTIES)
    {
      m->next = d->empty;
      d->empty = m;
      d->n_empty++;
      m = NULL;
    }
  spin_unlock (&d->lock);
  g_free (m);
}

/* FALSE when the depot is at its cap */
static gboolean
depot_put_full (AsmArenaCache *c, guint cls, Magazine *m)
{
  Depot *d = &c->depots[cls];
  gint v = __atomic_load_n (&c->depot_full, __ATOMIC_RELAXED);

  do
    if (v >= DEPOT_MAGS)
      return FALSE;
  while (!__atomic_compare_exchange_n (&c->depot_full, &v, v + 1, TRUE,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  spin_lock (&d->lock);
  m->next = d->full;
  d->full = m;
  d->n_full++;
  spin_unlock (&d->lock);
  return TRUE;
}

static Magazine *
depot_take_full (AsmArenaCache *c, guint cls)
{
  Depot *d = &c->depots[cls];
  Magazine *m;

  if (__atomic_load_n (&c->depot_full, __ATOMIC_RELAXED) == 0)
    return NULL;
  spin_lock (&d->lock);
  m = d->full;
  if (m != NULL)
    {
      d->full = m->next;
      d->n_full--;
      __atomic_sub_fetch (&c->depot_full, 1, __ATOMIC_RELAXED);
    }
  spin_unlock (&d->lock);
  return m;
}

/* takes from m a range inside [min, max], the newest first */
static gboolean
mag_take (Magazine *m, guint64 size, guint64 min, guint64 max,
          guint64 *out_addr)
{
  for (guint64 i = m->n; i-- > 0;)
    if (in_window (m->addr[i], size, min, max))
      {
        *out_addr = m->addr[i];
        m->addr[i] = m->addr[--m->n];
        return TRUE;
      }
  return FALSE;
}

G_GNUC_NO_INLINE static gboolean
slot_pop_slow (AsmArenaCache *c, Slot *s, guint cls, guint64 min,
               guint64 max, guint64 *out_addr)
{
  Magazine **lp = &s->loaded[cls], **pp = &s->prev[cls], *full;
  guint64 size = class_size (c, cls);

  if (*lp != NULL && mag_take (*lp, size, min, max, out_addr))
    return TRUE;
  if (*pp != NULL && mag_take (*pp, size, min, max, out_addr))
    {
      Magazine *t = *lp;

      *lp = *pp;
      *pp = t;
      return TRUE;
    }
  if ((*lp != NULL && (*lp)->n != 0) || (*pp != NULL && (*pp)->n != 0))
    return FALSE; /* ranges, but none in the window: the tree decides */
  full = depot_take_full (c, cls);
  if (full == NULL)
    return FALSE;
  slot_count (s, (gint64) full->n);
  if (*lp != NULL)
    depot_put_empty (c, cls, *lp);
  *lp = full;
  return mag_take (full, size, min, max, out_addr);
}

static inline gboolean
slot_pop (AsmArenaCache *c, Slot *s, guint cls, guint64 min, guint64 max,
          guint64 *out_addr)
{
  Magazine *m = s->loaded[cls];

  if (G_LIKELY (m != NULL && m->n != 0))
    {
      guint64 top = m->addr[m->n - 1];

      if (G_LIKELY (in_window (top, class_size (c, cls), min, max)))
        {
          m->n--;
          *out_addr = top;
          return TRUE;
        }
    }
  return slot_pop_slow (c, s, cls, min, max, out_addr);
}

/* Gives a magazine's ranges back to the tree (the depot is full). */
static void
mag_flush_to_tree (AsmArenaCache *c, AsmArena *a, guint cls, Magazine *m)
{
  pthread_mutex_lock (&c->tree_lock);
  for (guint64 i = 0; i < m->n; i++)
    {
      asm_arena_tree_release (a, m->addr[i], class_size (c, cls));
      table_remove (c, m->addr[i]);
    }
  pthread_mutex_unlock (&c->tree_lock);
  m->n = 0;
}

G_GNUC_NO_INLINE static void
slot_push_slow (AsmArenaCache *c, AsmArena *a, Slot *s, guint cls,
                guint64 addr)
{
  Magazine **lp = &s->loaded[cls], **pp = &s->prev[cls], *m;

  if (*lp == NULL)
    *lp = depot_get_empty (c, cls);
  else if (*pp == NULL || (*pp)->n == 0)
    {
      m = *pp;
      *pp = *lp;
      *lp = m != NULL ? m : depot_get_empty (c, cls);
    }
  else
    {
      /* both hold ranges: the previous one goes to the depot */
      m = *pp;
      slot_count (s, -(gint64) m->n);
      if (depot_put_full (c, cls, m))
        m = depot_get_empty (c, cls);
      else
        mag_flush_to_tree (c, a, cls, m);
      *pp = *lp;
      *lp = m;
    }
  (*lp)->addr[(*lp)->n++] = addr;
}

static inline void
slot_push (AsmArenaCache *c, AsmArena *a, Slot *s, guint cls, guint64 addr)
{
  Magazine *m = s->loaded[cls];

  if (G_LIKELY (m != NULL && m->n < MAG_SIZE))
    m->addr[m->n++] = addr;
  else
    slot_push_slow (c, a, s, cls, addr);
  slot_count (s, 1);
}

/* ------------------------------------------------------------------ */
/* flushing                                                             */

/* Might the cache hold a range?  See "Locks" above. */
static gboolean
cache_may_hold (AsmArenaCache *c)
{
  if (__atomic_load_n (&c->depot_full, __ATOMIC_RELAXED) != 0)
    return TRUE;
  for (guint i = 0; i <= c->slot_mask; i++)
    if (__atomic_load_n (&c->slots[i].n_cached, __ATOMIC_RELAXED) != 0)
      return TRUE;
  return FALSE;
}

static void
take_magazine (GArray *taken, guint cls, Magazine *m)
{
  for (guint64 i = 0; i < m->n; i++)
    {
      Taken t = { m->addr[i], cls };
      g_array_append_val (taken, t);
    }
  m->n = 0;
}

/* With flush_lock held: empties every magazine and the depot into taken. */
static void
cache_take_all (AsmArenaCache *c, GArray *taken)
{
  for (guint i = 0; i <= c->slot_mask; i++)
    {
      Slot *s = &c->slots[i];

      spin_lock (&s->lock);
      for (guint k = 0; k < c->n_classes && s->n_cached != 0; k++)
        {
          if (s->loaded[k] != NULL)
            take_magazine (taken, k, s->loaded[k]);
          if (s->prev[k] != NULL)
            take_magazine (taken, k, s->prev[k]);
        }
      slot_count (s, -(gint64) s->n_cached);
      spin_unlock (&s->lock);
    }
  for (guint k = 0; k < c->n_classes; k++)
    {
      Magazine *m;

      while ((m = depot_take_full (c, k)) != NULL)
        {
          take_magazine (taken, k, m);
          depot_put_empty (c, k, m);
        }
    }
}

/* Gives every cached range back to the tree and returns with tree_lock
 * held. */
static void
cache_flush_and_lock (AsmArenaCache *c, AsmArena *a)
{
  g_autoptr(GArray) taken = g_array_new (FALSE, FALSE, sizeof (Taken));

  pthread_mutex_lock (&c->flush_lock);
  cache_take_all (c, taken);
  pthread_mutex_lock (&c->tree_lock);
  pthread_mutex_unlock (&c->flush_lock);
  for (guint i = 0; i < taken->len; i++)
    {
      const Taken *t = &g_array_index (taken, Taken, i);

      asm_arena_tree_release (a, t->addr, class_size (c, t->cls));
      table_remove (c, t->addr);
    }
  c->flushes++;
}

void
asm_arena_cache_lock (AsmArenaCache *c, AsmArena *a, gboolean flush)
{
  if (flush && cache_may_hold (c))
    cache_flush_and_lock (c, a);
  else
    pthread_mutex_lock (&c->tree_lock);
}

void
asm_arena_cache_unlock (AsmArenaCache *c)
{
  pthread_mutex_unlock (&c->tree_lock);
}

/* every lock, in order, for a reader of the whole picture */
static void
cache_lock_all (AsmArenaCache *c, gboolean shards)
{
  pthread_mutex_lock (&c->flush_lock);
  for (guint i = 0; i <= c->slot_mask; i++)
    spin_lock (&c->slots[i].lock);
  for (guint k = 0; k < c->n_classes; k++)
    spin_lock (&c->depots[k].lock);
  pthread_mutex_lock (&c->tree_lock);
  if (shards)
    for (guint i = 0; i < N_SHARDS; i++)
      spin_lock (&c->shards[i].lock);
}

static void
cache_unlock_all (AsmArenaCache *c, gboolean shards)
{
  if (shards)
    for (guint i = N_SHARDS; i-- > 0;)
      spin_unlock (&c->shards[i].lock);
  pthread_mutex_unlock (&c->tree_lock);
  for (guint k = c->n_classes; k-- > 0;)
    spin_unlock (&c->depots[k].lock);
  for (guint i = c->slot_mask + 1; i-- > 0;)
    spin_unlock (&c->slots[i].lock);
  pthread_mutex_unlock (&c->flush_lock);
}

/* ------------------------------------------------------------------ */
/* allocation and free                                                  */

G_GNUC_NO_INLINE static gboolean
cache_alloc_tree (AsmArenaCache *c, AsmArena *a, const AsmRequest *req,
                  guint64 *out_addr, GError **error)
{
  g_autoptr(GError) local = NULL;
  GError **err = error != NULL ? &local : NULL;
  gboolean ok, flushed = FALSE;
  guint64 addr = 0;
  guint cls;

  /* an exact fit sees the cached ranges as free */
  flushed = req->fit != ASM_FIT_INSTANT && cache_may_hold (c);
  if (flushed)
    cache_flush_and_lock (c, a);
  else
    pthread_mutex_lock (&c->tree_lock);
  ok = asm_arena_tree_alloc (a, req, &addr, err);
  if (!ok && !flushed && cache_may_hold (c))
    {
      /* never refused while a cached range could serve */
      pthread_mutex_unlock (&c->tree_lock);
      g_clear_error (&local);
      cache_flush_and_lock (c, a);
      ok = asm_arena_tree_alloc (a, req, &addr, err);
    }
  if (ok && req->fit == ASM_FIT_INSTANT &&
      cacheable_shape (c, addr, req->size, &cls))
    table_insert (c, addr, cls, 0);
  pthread_mutex_unlock (&c->tree_lock);
  if (!ok)
    {
      if (local != NULL)
        g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (out_addr != NULL)
    *out_addr = addr;
  return TRUE;
}

gboolean
asm_arena_cache_alloc (AsmArenaCache *c, AsmArena *a, const AsmRequest *req,
                       guint64 *out_addr, GError **error)
{
  guint cls;

  if (G_LIKELY (cache_serves (c, req, &cls)))
    {
      Slot *s = my_slot (c);
      guint64 addr;

      spin_lock (&s->lock);
      if (G_LIKELY (slot_pop (c, s, cls, req->min, req->max, &addr)))
        {
          guint64 unit = addr >> c->qshift;
          Shard *sh = shard_of (c, unit);
          gint64 i;

          slot_count (s, -1);
          s->hits++;
          spin_lock (&sh->lock);
          i = shard_find (sh, unit);
          if (G_UNLIKELY (i < 0 || !(sh->e[i] & ENTRY_CACHED)))
            ASM_BUG ("%s: 0x%" G_GINT64_MODIFIER "x was in a magazine but "
                     "is not a cached range", c->name, addr);
          sh->e[i] &= ~ENTRY_CACHED;
          spin_unlock (&sh->lock);
          spin_unlock (&s->lock);
          if (out_addr != NULL)
            *out_addr = addr;
          return TRUE;
        }
      s->misses++;
      spin_unlock (&s->lock);
    }
  return cache_alloc_tree (c, a, req, out_addr, error);
}

/* a free the table does not know: the tree's allocation, reservation or
 * error */
G_GNUC_NO_INLINE static gboolean
cache_free_tree (AsmArenaCache *c, AsmArena *a, guint64 addr, GError **error)
{
  gboolean ok;

  pthread_mutex_lock (&c->tree_lock);
  ok = asm_arena_tree_free (a, addr, error);
  pthread_mutex_unlock (&c->tree_lock);
  return ok;
}

G_GNUC_NO_INLINE static gboolean
cache_double_free (AsmArenaCache *c, guint64 addr, GError **error)
{
  g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
               "%s: no allocation or reservation starts at 0x%"
               G_GINT64_MODIFIER "x (it was freed already)", c->name, addr);
  return FALSE;
}

gboolean
asm_arena_cache_release (AsmArenaCache *c, AsmArena *a, guint64 addr,
                         GError **error)
{
  guint64 unit = addr >> c->qshift;

  if (G_LIKELY (unit < UNIT_LIMIT && (addr & (c->quantum - 1)) == 0))
    {
      Slot *s = my_slot (c);
      Shard *sh = shard_of (c, unit);
      gint64 i;
      guint64 e;

      spin_lock (&s->lock);
      spin_lock (&sh->lock);
      i = shard_find (sh, unit);
      if (G_LIKELY (i >= 0))
        {
          e = sh->e[i];
          if (G_UNLIKELY (e & ENTRY_CACHED))
            {
              spin_unlock (&sh->lock);
              spin_unlock (&s->lock);
              return cache_double_free (c, addr, error);
            }
          sh->e[i] = e | ENTRY_CACHED;
          spin_unlock (&sh->lock);
          slot_push (c, a, s, entry_class (e), addr);
          spin_unlock (&s->lock);
          return TRUE;
        }
      spin_unlock (&sh->lock);
      spin_unlock (&s->lock);
    }
  return cache_free_tree (c, a, addr, error);
}

gboolean
asm_arena_cache_holds (AsmArenaCache *c, guint64 addr)
{
  guint64 unit = addr >> c->qshift;
  Shard *sh;
  gint64 i;
  gboolean held;

  if (unit >= UNIT_LIMIT)
    return FALSE;
  sh = shard_of (c, unit);
  spin_lock (&sh->lock);
  i = shard_find (sh, unit);
  held = i >= 0 && (sh->e[i] & ENTRY_CACHED);
  spin_unlock (&sh->lock);
  return held;
}

void
asm_arena_cache_forget (AsmArenaCache *c, guint64 addr)
{
  guint64 unit = addr >> c->qshift;
  Shard *sh;
  gint64 i;

  if (unit >= UNIT_LIMIT)
    return;
  sh = shard_of (c, unit);
  spin_lock (&sh->lock);
  i = shard_find (sh, unit);
  if (i >= 0)
    shard_delete_at (sh, (guint64) i);
  spin_unlock (&sh->lock);
}

/* ------------------------------------------------------------------ */
/* life cycle                                                           */

AsmArenaCache *
asm_arena_cache_new (const char *name, guint64 quantum, guint64 max_size,
                     GError **error)
{
  AsmArenaCache *c;
  guint n_slots;

  if (max_size == 0 || (max_size & (quantum - 1)) != 0 ||
      max_size / quantum > MAX_CLASSES)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: cache max_size 0x%" G_GINT64_MODIFIER "x is not the "
                   "quantum 0x%" G_GINT64_MODIFIER "x times 1 to %u", name,
                   max_size, quantum, MAX_CLASSES);
      return NULL;
    }
  n_slots = 2;
  while (n_slots < 2 * g_get_num_processors () && n_slots < MAX_SLOTS)
    n_slots *= 2;

  c = g_aligned_alloc0 (1, sizeof *c, 64);
  pthread_mutex_init (&c->tree_lock, NULL);
  pthread_mutex_init (&c->flush_lock, NULL);
  c->name = g_strdup (name);
  c->quantum = quantum;
  c->qshift = (guint) __builtin_ctzll (quantum);
  c->max_size = max_size;
  c->n_classes = (guint) (max_size / quantum);
  c->slot_mask = n_slots - 1;
  c->slots = g_aligned_alloc0 (n_slots, sizeof (Slot), 64);
  for (guint i = 0; i < n_slots; i++)
    {
      c->slots[i].loaded = g_new0 (Magazine *, c->n_classes);
      c->slots[i].prev = g_new0 (Magazine *, c->n_classes);
    }
  c->depots = g_aligned_alloc0 (c->n_classes, sizeof (Depot), 64);
  c->align_ok = g_new (guint64, c->n_classes);
  for (guint k = 0; k < c->n_classes; k++)
    c->align_ok[k] = ((pow2_ceil (class_size (c, k)) << 1) - 1) & ~(quantum - 1);
  for (guint i = 0; i < N_SHARDS; i++)
    {
      c->shards[i].bits = TABLE_MIN_BITS;
      c->shards[i].e = g_new (guint64, 1u << TABLE_MIN_BITS);
      memset (c->shards[i].e, 0xff, sizeof (guint64) << TABLE_MIN_BITS);
    }
  return c;
}

static void
mag_list_free (Magazine *m)
{
  while (m != NULL)
    {
      Magazine *next = m->next;
      g_free (m);
      m = next;
    }
}

void
asm_arena_cache_free (AsmArenaCache *c)
{
  if (c == NULL)
    return;
  for (guint i = 0; i <= c->slot_mask; i++)
    {
      for (guint k = 0; k < c->n_classes; k++)
        {
          g_free (c->slots[i].loaded[k]);
          g_free (c->slots[i].prev[k]);
        }
      g_free (c->slots[i].loaded);
      g_free (c->slots[i].prev);
    }
  for (guint k = 0; k < c->n_classes; k++)
    {
      mag_list_free (c->depots[k].full);
      mag_list_free (c->depots[k].empty);
    }
  for (guint i = 0; i < N_SHARDS; i++)
    g_free (c->shards[i].e);
  g_aligned_free (c->depots);
  g_free (c->align_ok);
  g_aligned_free (c->slots);
  pthread_mutex_destroy (&c->tree_lock);
  pthread_mutex_destroy (&c->flush_lock);
  g_free (c->name);
  g_aligned_free (c);
}

/* ------------------------------------------------------------------ */
/* stats and check                                                      */

/* with every slot and depot lock held: what the cache holds */
static void
cache_count (AsmArenaCache *c, guint64 *ranges, guint64 *units)
{
  *ranges = *units = 0;
  for (guint k = 0; k < c->n_classes; k++)
    {
      guint64 n = 0;

      for (guint i = 0; i <= c->slot_mask; i++)
        {
          if (c->slots[i].loaded[k] != NULL)
            n += c->slots[i].loaded[k]->n;
          if (c->slots[i].prev[k] != NULL)
            n += c->slots[i].prev[k]->n;
        }
      for (Magazine *m = c->depots[k].full; m != NULL; m = m->next)
        n += m->n;
      *ranges += n;
      *units += n * class_size (c, k);
    }
}

void
asm_arena_cache_stats (AsmArenaCache *c, AsmArena *a, AsmArenaStats *out)
{
  guint64 ranges, units;

  cache_lock_all (c, FALSE);
  asm_arena_tree_stats (a, out);
  cache_count (c, &ranges, &units);
  cache_unlock_all (c, FALSE);
  out->n_allocated -= ranges;
  out->allocated_units -= units;
  out->free_units += units;
}

void
asm_arena_cache_get_stats (AsmArenaCache *c, AsmArenaCacheStats *out)
{
  cache_lock_all (c, FALSE);
  out->max_size = c->max_size;
  out->capacity = (guint64) (c->slot_mask + 1) * c->n_classes * 2 * MAG_SIZE +
                  (guint64) DEPOT_MAGS * MAG_SIZE;
  cache_count (c, &out->cached_ranges, &out->cached_units);
  out->hits = out->misses = 0;
  for (guint i = 0; i <= c->slot_mask; i++)
    {
      out->hits += c->slots[i].hits;
      out->misses += c->slots[i].misses;
    }
  out->flushes = c->flushes;
  cache_unlock_all (c, FALSE);
}

#define CACHE_FAIL(error, c, ...)                                             \
  G_STMT_START                                                                \
  {                                                                           \
    g_autofree char *_msg = g_strdup_printf (__VA_ARGS__);                    \
    g_set_error ((error), ASM_ERROR, ASM_ERROR_FAILED,                        \
                 "%s: invariant broken: cache: %s", (c)->name, _msg);         \
    return FALSE;                                                             \
  }                                                                           \
  G_STMT_END

/* every table entry is an allocation of exactly its extent, in its home
 * shard, found from its home; counts the CACHED ones */
static gboolean
check_table (AsmArenaCache *c, AsmArena *a, guint64 *n_cached,
             GError **error)
{
  *n_cached = 0;
  for (guint s = 0; s < N_SHARDS; s++)
    {
      const Shard *sh = &c->shards[s];
      guint64 size = G_GUINT64_CONSTANT (1) << sh->bits;
      guint64 used = 0;

      for (guint64 i = 0; i < size; i++)
        {
          guint64 e = sh->e[i], unit, addr, len;
          AsmRange seg;
          AsmSegmentKind kind;
          guint cls;

          if (e == ENTRY_EMPTY)
            continue;
          used++;
          unit = entry_unit (e);
          addr = unit << c->qshift;
          if (entry_class (e) >= c->n_classes)
            CACHE_FAIL (error, c, "entry 0x%" G_GINT64_MODIFIER "x has class "
                        "%u of %u", addr, entry_class (e), c->n_classes);
          len = class_size (c, entry_class (e));
          if (shard_of (c, unit) != sh || shard_find (sh, unit) != (gint64) i)
            CACHE_FAIL (error, c, "entry 0x%" G_GINT64_MODIFIER "x cannot be "
                        "found from its home", addr);
          if (!cacheable_shape (c, addr, len, &cls) || cls != entry_class (e))
            CACHE_FAIL (error, c, "entry 0x%" G_GINT64_MODIFIER "x+0x%"
                        G_GINT64_MODIFIER "x has a shape the cache does not "
                        "take", addr, len);
          if (!asm_arena_tree_segment (a, addr, &seg, &kind) ||
              kind != ASM_SEGMENT_ALLOCATED || seg.first != addr ||
              seg.last != addr + (len - 1))
            CACHE_FAIL (error, c, "entry 0x%" G_GINT64_MODIFIER "x+0x%"
                        G_GINT64_MODIFIER "x is not an allocation of the tree",
                        addr, len);
          if (e & ENTRY_CACHED)
            (*n_cached)++;
        }
      if (used != sh->n)
        CACHE_FAIL (error, c, "shard %u counts %" G_GUINT64_FORMAT
                    " entries but holds %" G_GUINT64_FORMAT, s, sh->n, used);
    }
  return TRUE;
}

static gboolean
check_magazine (AsmArenaCache *c, const Magazine *m, guint cls,
                GHashTable *seen, GError **error)
{
  if (m->n > MAG_SIZE)
    CACHE_FAIL (error, c, "a magazine holds %" G_GUINT64_FORMAT " ranges",
                m->n);
  for (guint64 i = 0; i < m->n; i++)
    {
      guint64 addr = m->addr[i], unit = addr >> c->qshift;
      const Shard *sh = shard_of (c, unit);
      gint64 at = shard_find (sh, unit);

      if (at < 0 || !(sh->e[at] & ENTRY_CACHED) ||
          entry_class (sh->e[at]) != cls)
        CACHE_FAIL (error, c, "0x%" G_GINT64_MODIFIER "x in a magazine of "
                    "class %u is not a cached range of that class", addr, cls);
      if (!g_hash_table_add (seen, g_memdup2 (&addr, sizeof addr)))
        CACHE_FAIL (error, c, "0x%" G_GINT64_MODIFIER "x is cached twice",
                    addr);
    }
  return TRUE;
}

static gboolean
check_magazines (AsmArenaCache *c, guint64 n_cached, GError **error)
{
  g_autoptr(GHashTable) seen =
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  guint64 depot_mags = 0;

  for (guint i = 0; i <= c->slot_mask; i++)
    {
      const Slot *s = &c->slots[i];
      guint64 held = 0;

      for (guint k = 0; k < c->n_classes; k++)
        for (guint j = 0; j < 2; j++)
          {
            const Magazine *m = j == 0 ? s->loaded[k] : s->prev[k];

            if (m == NULL)
              continue;
            if (!check_magazine (c, m, k, seen, error))
              return FALSE;
            held += m->n;
          }
      if (held != s->n_cached)
        CACHE_FAIL (error, c, "slot %u counts %" G_GUINT64_FORMAT
                    " ranges but holds %" G_GUINT64_FORMAT, i, s->n_cached,
                    held);
    }
  for (guint k = 0; k < c->n_classes; k++)
    {
      guint n = 0;

      for (const Magazine *m = c->depots[k].full; m != NULL; m = m->next, n++)
        if (!check_magazine (c, m, k, seen, error))
          return FALSE;
      if (n != c->depots[k].n_full)
        CACHE_FAIL (error, c, "the depot of class %u counts %u magazines but "
                    "holds %u", k, c->depots[k].n_full, n);
      depot_mags += n;
    }
  if (depot_mags != (guint64) c->depot_full || depot_mags > DEPOT_MAGS)
    CACHE_FAIL (error, c, "the depot counts %d magazines but holds %"
                G_GUINT64_FORMAT " (cap %u)", c->depot_full, depot_mags,
                DEPOT_MAGS);
  if (g_hash_table_size (seen) != n_cached)
    CACHE_FAIL (error, c, "the table knows %" G_GUINT64_FORMAT " cached "
                "ranges but the magazines hold %u", n_cached,
                g_hash_table_size (seen));
  return TRUE;
}

gboolean
asm_arena_cache_check (AsmArenaCache *c, AsmArena *a, GError **error)
{
  guint64 n_cached;
  gboolean ok;

  cache_lock_all (c, TRUE);
  ok = asm_arena_tree_check (a, error) &&
       check_table (c, a, &n_cached, error) &&
       check_magazines (c, n_cached, error);
  cache_unlock_all (c, TRUE);
  return ok;
}
