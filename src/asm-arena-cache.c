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
 * Misses come in runs: a class whose demand grows finds its magazines
 * and the depot empty again and again, and each time the tree's search
 * and carve cost about 1,600 instructions.  So a miss whose class has a
 * loaded magazine with room asks the tree for up to MISS_RUN ranges at
 * once (asm_arena_tree_alloc_run(): the lowest run of them, each aligned
 * to the size rounded up to a power of two, the gaps left free, carved in
 * one pass as far as the leaf has room); the first answers the request,
 * the others go into the magazine, cached, free to every caller as any
 * cached range is.
 *
 * Where.  Each thread is given a slot of the cache (thread number modulo
 * the slot count, which is twice the CPUs rounded up to a power of two, at
 * most 64: up to that many threads, a slot is one thread's).  A slot holds, per class, a loaded and
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
 * (AsmArenaCacheStats.capacity) between calls; a free that overflows may
 * hold one more magazine until it has given it back, before it returns.
 *
 * Knowing a freed range.  asm_arena_free() gets an address, not a size,
 * and must refuse a double free, so the cache keeps tables of the ranges
 * it knows: the allocations it handed out, and those the tree handed out
 * for an ASM_FIT_INSTANT request of a cacheable size and shape
 * (OUTSTANDING), and the ranges in its magazines (CACHED).  Each slot has
 * its own table, of the ranges it handed out and of those in its
 * magazines, and the depot one of the ranges in its magazines; a range is
 * in exactly one table, which moves with its magazine.  A table is open
 * addressing with linear probing, one 8-byte entry per range (the unit
 * index, the class and the state; an address whose unit index does not
 * fit in 55 bits is never cached).  A free looks the address up in the
 * calling thread's table: OUTSTANDING becomes CACHED and the range goes
 * into the magazine; CACHED is a double free (NOT_FOUND, as the tree says
 * it).  An address that table does not know is looked up, under the
 * tree's lock so that nothing moves meanwhile, in every slot's table and
 * the depot's (a range freed by another thread than the one that took it
 * goes back to the magazine of the slot that knows it); an address no
 * table knows is the tree's, which frees it as before.  An allocation
 * popped from a magazine turns CACHED back into OUTSTANDING without a
 * search: beside each range a magazine keeps the index of its entry (the
 * free had just found it), and that index stays exact.  An entry never
 * moves within its table: a deleted entry becomes a tombstone, which a
 * search passes and an insertion reuses.  Only a rebuild moves entries,
 * when a table must grow (entries and tombstones over three quarters) or
 * shrink (under an eighth in use); it happens where every magazine of the
 * table is in its place (slot_table_settle(), depot_table_settle()),
 * before a batch of insertions or after a batch of deletions, and gives
 * each of those magazines the new indexes.  A range moving between the
 * depot and a slot gets its index in the new table as it moves.  So the
 * hot paths touch only the calling thread's slot: one lock, its magazine
 * and its table, nothing another thread writes.
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
 *     ALLOCATED segment of exactly its extent, known to one table, and the
 *     CACHED entries of a table are exactly the ranges in the magazines
 *     that go with it, each once.
 * A request served from a magazine satisfies every constraint of its
 * request by construction (size, alignment, [min, max] tested per range).
 *
 * Locks, always taken in this order:
 *   tree_lock    the arena: its tree, spans, tallies, hint and cursor; a
 *                flush, a free the calling slot does not know, a miss
 *   slot         one slot's magazines and table (several: by index)
 *   depot        the depot's magazines and table
 * The slot and depot locks are spinlocks (their sections are a few dozen
 * instructions, and a slot's is almost never contended), tree_lock a
 * pthread mutex.  Nobody who holds a slot's lock waits for tree_lock: a
 * magazine that must go back to the tree while the slot is locked (both
 * of the class full, the depot at its cap) waits on the slot's spill list,
 * counted as cached, until the freeing thread has dropped the slot's lock
 * and taken tree_lock.  A flush, stats and check take tree_lock first and
 * then each slot, so they see no range in transit.  Whether the cache
 * holds anything is read without locks (each slot's count and the depot's,
 * atomically): a free that happened before a call is seen by it, which is
 * all exactness asks; one that races with it is ordered after it.
 *
 * Cost.  A hit is the slot's lock, a pop, a table update and the unlock; a
 * free the same with a push and one table search (its only hashing).
 * Neither touches the tree or a cache line another thread writes, so
 * threads scale.  Misses and overflows cost what the tree costs, plus the
 * table entry; a free on another thread than the allocation's costs a
 * lookup in every slot under tree_lock.  The hit paths are written for
 * the instruction count: asm_arena_alloc_full(), asm_arena_alloc_instant()
 * and asm_arena_free() are defined here, with the hits inlined
 * (cache_pop_hit(), cache_release()), and hand every other case to a
 * function of the cache and the caller's other arguments as a tail call;
 * a hit that gives up after locking its slot takes the cache from the
 * slot, so that no register is saved on the way.  The request is judged
 * cacheable with one class index and three tests (cache_serves()), the
 * thread's slot is found from one thread-local variable, its loaded
 * magazines are inside it, the entry of a popped range is at the index
 * its magazine kept, and the slot's count of cached ranges is added to in
 * one instruction.  asm_arena_alloc_instant() takes a request of the
 * usual DMA shape (fit INSTANT, a size, its alignment, a limit) in
 * registers, and the public header compiles a call of
 * asm_arena_alloc_full() with such a request, when the compiler can see
 * it, as a call of it: the caller then fills no AsmRequest, and the hit
 * tests no fit, phase, nocross or min.  At 10^3 live allocations of W1
 * (bench-peers, 20,000 steps after 1,000 of warm-up), a free + allocation
 * takes about 267 instructions: the benchmark's loop 88, its wrappers 35
 * (the alignment it computes, the out-pointer, the checked results), the
 * library 144: the two hits about 127 with their argument checks, the
 * tree about 15 (the allocations that find their class empty and take a
 * run from the tree, above), and 2 in the magazines' exchanges with the
 * depot.  Linux's rcache takes 277 in the same run: the same loop, 10 in
 * its wrappers, 179 in the library.  bench-peers' floor peer, which does
 * only what the contract needs (a lock, the entry found by hashing, kept
 * ranges per size), takes 189 there.
 */
#include <asm/asm-arena.h>

#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "asm-arena-cache-private.h"
#include "asm-arena-tree-private.h"
#include "asm-bug-private.h"

#define MAG_SIZE 62      /* ranges per magazine: a magazine is 760 bytes */
#define DEPOT_MAGS 64    /* full magazines in the depot, all classes */
#define DEPOT_EMPTIES 2  /* spare empty magazines kept per class */
#define MAX_CLASSES 256
#define MAX_SLOTS 64
#define TABLE_MIN_BITS 4
/* the most entries a table takes: its indexes fit the magazines' 32 bits
 * (a range the slot's table cannot take is not cached: it is the tree's) */
#define TABLE_MAX_ENTRIES (G_GUINT64_CONSTANT (1) << 31)
#define SPIN_BEFORE_YIELD 64
#define MISS_RUN 8 /* ranges a miss may take from the tree at once */

/* table entries: (unit << 9) | (class << 1) | CACHED */
#define ENTRY_EMPTY G_MAXUINT64
#define ENTRY_TOMB (G_MAXUINT64 - 1) /* a deleted entry */
#define ENTRY_CACHED G_GUINT64_CONSTANT (1)
#define UNIT_LIMIT ((G_GUINT64_CONSTANT (1) << 55) - 1) /* units below it */

G_STATIC_ASSERT (MAX_CLASSES <= 256);

/* GCC says __SANITIZE_THREAD__, Clang __has_feature (thread_sanitizer) */
#if defined(__SANITIZE_THREAD__)
#define ASM_THREAD_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ASM_THREAD_SANITIZER 1
#endif
#endif
#ifndef ASM_THREAD_SANITIZER
#define ASM_THREAD_SANITIZER 0
#endif

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
  Magazine *next; /* in a depot's stack or a slot's spill list */
  guint64 n;      /* ranges held: addr[0 .. n-1] */
  guint64 addr[MAG_SIZE];
  /* the index of each range's entry in its table: exact, since an entry
   * moves only when its table is rebuilt, and then every magazine of the
   * table is given the new indexes */
  guint32 at[MAG_SIZE];
};

/* open addressing with linear probing, one 8-byte entry per range;
 * deleted entries become tombstones, so that an entry stays where it is
 * until the table is rebuilt */
typedef struct {
  guint64 *e;
  guint64 mask;  /* 2^bits - 1: the index of the last entry */
  guint shift;   /* 64 - bits: what the hash is shifted right by */
  guint bits;    /* 2^bits entries */
  guint64 n;     /* entries in use */
  guint64 tombs; /* deleted entries not yet reused */
} Table;

typedef struct {
  Spin lock;
  guint64 n_cached; /* ranges in loaded[], prev[] and spill */
  guint64 hits, misses;
  Table table;      /* the ranges this slot knows */
  Magazine *spill;  /* full magazines on their way back to the tree */
  AsmArenaCache *cache; /* whose slot this is */
  Magazine **prev;  /* per class, NULL until used: &loaded[n_classes] */
  /* per class, NULL until used; inside the slot, so that a hit reaches
   * its magazine with one load (a slot takes slot_size() bytes) */
  Magazine *loaded[];
} __attribute__ ((aligned (64))) Slot;

typedef struct {
  Magazine *full;  /* stack of magazines with ranges */
  Magazine *empty; /* spare empty magazines */
  guint n_full, n_empty;
} DepotClass;

typedef struct {
  Spin lock;
  guint n_full;      /* full magazines, all classes (read without the
                        lock by cache_may_hold()) */
  Table table;       /* the ranges in its magazines, all CACHED */
  DepotClass *cls;   /* per class */
} __attribute__ ((aligned (64))) Depot;

struct _AsmArenaCache {
  /* read-only after asm_arena_cache_new(), on a line of their own */
  AsmArena *arena; /* the arena in front of which this cache is */
  char *name;
  guint64 quantum;
  guint64 max_size;
  guint64 quantum_mask; /* quantum - 1 */
  guint64 *align_bad;   /* per class: the bits an alignment may not have */
  Slot *slots;          /* slot_mask + 1 of them, slot_size() apart */
  guint64 serial;    /* unique among all caches, from 1 */
  guint qshift;
  guint n_classes;
  guint slot_mask;
  /* written: the arena's lock */
  pthread_mutex_t tree_lock __attribute__ ((aligned (64)));
  guint64 flushes; /* under tree_lock */
  Depot depot;
};

/* the bytes of a slot with its loaded and previous magazine pointers,
 * whole cache lines */
static gsize
slot_size (guint n_classes)
{
  return (sizeof (Slot) + 2 * n_classes * sizeof (Magazine *) + 63) &
         ~(gsize) 63;
}

static inline Slot *
slot_at (const AsmArenaCache *c, guint i)
{
  return (Slot *) ((char *) c->slots + i * slot_size (c->n_classes));
}

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

/* Does the cache take ranges of this shape: size of class *cls, address a
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
  guint64 size = req->size, align = req->align;
  guint64 k = (size >> c->qshift) - 1; /* size 0 wraps to a huge class */

  /* align: 0, or one bit from the quantum to the size rounded up to a
   * power of two (the alignment of every cached range of the class): a
   * power of two has no bit in common with itself less one, 0 none with
   * anything.  min > max needs no test: no cached range is inside that
   * window, so the request goes to the tree, which refuses it as invalid */
  if (k >= c->n_classes || req->fit != ASM_FIT_INSTANT ||
      (req->phase | req->nocross | (size & c->quantum_mask)) != 0 ||
      (align & ((align - 1) | c->align_bad[k])) != 0)
    return FALSE;
  *cls = (guint) k;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* tables                                                               */

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

static inline guint64
entry_make (guint64 unit, guint cls, guint64 cached)
{
  return (unit << 9) | ((guint64) cls << 1) | cached;
}

/* Fibonacci hashing: the index is the top bits of the product.  (Its
 * bits from 32 up, with a constant shift and the mask, would spare the
 * variable shift, but made W1 at 10^5 twice as slow.) */
static inline guint64
table_home (const Table *t, guint64 unit)
{
  return (unit * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15)) >> t->shift;
}

static inline guint64
table_size (const Table *t)
{
  return G_GUINT64_CONSTANT (1) << t->bits;
}

static void
table_alloc (Table *t, guint bits)
{
  t->bits = bits;
  t->shift = 64 - bits;
  t->mask = (G_GUINT64_CONSTANT (1) << bits) - 1;
  t->tombs = 0;
  t->e = g_new (guint64, G_GUINT64_CONSTANT (1) << bits);
  memset (t->e, 0xff, sizeof (guint64) << bits); /* ENTRY_EMPTY */
}

static void
table_init (Table *t)
{
  table_alloc (t, TABLE_MIN_BITS);
  t->n = 0;
}

/* Is there an entry of unit (at *at)? */
static inline gboolean
table_lookup (const Table *t, guint64 unit, guint64 *at)
{
  guint64 mask = t->mask, i;

  /* the unit of ENTRY_EMPTY and ENTRY_TOMB is UNIT_LIMIT, which no entry
   * has: the probe passes tombstones and stops at an empty entry */
  for (i = table_home (t, unit);; i = (i + 1) & mask)
    {
      guint64 e = t->e[i];

      if (G_LIKELY (entry_unit (e) == unit))
        {
          *at = i;
          return TRUE;
        }
      if (e == ENTRY_EMPTY)
        return FALSE;
    }
}

/* the index of unit's entry, or -1 */
static inline gint64
table_find (const Table *t, guint64 unit)
{
  guint64 at;

  return table_lookup (t, unit, &at) ? (gint64) at : -1;
}

/* puts e in the first free place of its probe, empty or a tombstone;
 * returns the index */
static guint64
table_place (Table *t, guint64 e)
{
  guint64 mask = t->mask, i;

  for (i = table_home (t, entry_unit (e)); t->e[i] < ENTRY_TOMB;
       i = (i + 1) & mask)
    ;
  if (t->e[i] == ENTRY_TOMB)
    t->tombs--;
  t->e[i] = e;
  return i;
}

/* the smallest table in which n entries fill at most half */
static guint
table_bits_for (guint64 n)
{
  guint bits = TABLE_MIN_BITS;

  while ((n * 2) > (G_GUINT64_CONSTANT (1) << bits))
    bits++;
  return bits;
}

/* A new array sized for n_more more entries, without tombstones.  Every
 * entry moves, so the caller must then give the magazines of the table's
 * owner their new indexes (slot_table_settle(), depot_table_settle()). */
static void
table_rebuild (Table *t, guint64 n_more)
{
  guint64 *old = t->e;
  guint64 old_size = table_size (t);

  table_alloc (t, table_bits_for (t->n + n_more));
  for (guint64 i = 0; i < old_size; i++)
    if (old[i] < ENTRY_TOMB)
      table_place (t, old[i]);
  g_free (old);
}

/* Can n_more entries be inserted without a rebuild (the table stays at
 * most three quarters full, tombstones included)? */
static inline gboolean
table_has_room (const Table *t, guint64 n_more)
{
  return (t->n + t->tombs + n_more) * 4 <= table_size (t) * 3;
}

/* Should it shrink (under an eighth in use)? */
static inline gboolean
table_too_big (const Table *t)
{
  return t->bits > TABLE_MIN_BITS && t->n * 8 < table_size (t);
}

/* Rebuilds t when it has no room for n_more entries or is mostly unused;
 * TRUE when it did, and the owner's magazines must be reindexed. */
static gboolean
table_settle (Table *t, guint64 n_more)
{
  if (table_has_room (t, n_more) && !table_too_big (t))
    return FALSE;
  table_rebuild (t, n_more);
  return TRUE;
}

/* inserts e, for which there is room; returns its index */
static guint64
table_insert (Table *t, guint64 e)
{
  if (G_UNLIKELY (!table_has_room (t, 1)))
    ASM_BUG ("a cache table has no room for an entry it was reserved");
  t->n++;
  return table_place (t, e);
}

/* Removes entry i, leaving a tombstone: no other entry moves, so the
 * indexes the magazines keep stay exact. */
static inline void
table_delete_at (Table *t, guint64 i)
{
  t->e[i] = ENTRY_TOMB;
  t->n--;
  t->tombs++;
}

/* moves the entry of addr from one table to another (which has room), as
 * it is; returns its index in the new one */
static guint64
table_move (AsmArenaCache *c, Table *from, Table *to, guint64 addr)
{
  gint64 i = table_find (from, addr >> c->qshift);
  guint64 at;

  if (G_UNLIKELY (i < 0))
    ASM_BUG ("%s: 0x%" G_GINT64_MODIFIER "x is in a magazine but not in its "
             "table", c->name, addr);
  at = table_insert (to, from->e[i]);
  table_delete_at (from, (guint64) i);
  return at;
}

/* the magazine's indexes, after its table was rebuilt */
static void
mag_reindex (AsmArenaCache *c, const Table *t, Magazine *m)
{
  for (guint64 j = 0; j < m->n; j++)
    {
      gint64 at = table_find (t, m->addr[j] >> c->qshift);

      if (G_UNLIKELY (at < 0))
        ASM_BUG ("%s: 0x%" G_GINT64_MODIFIER "x is in a magazine but not in "
                 "its table",
                 c->name, m->addr[j]);
      m->at[j] = (guint32) at;
    }
}

/* ------------------------------------------------------------------ */
/* slots, magazines and the depot                                       */

/* The calling thread's number (from 1), and its slot in the cache it used
 * last, named by that cache's serial, which no other cache ever has (an
 * address could be reused after a free). */
typedef struct {
  guint64 last_serial; /* the serial of the cache used last, 0: none */
  Slot *last_slot;     /* this thread's slot in it */
  guint no;            /* from 1; 0 until the thread first uses a cache */
} ArenaThread;

/* one variable, so that the hit paths find both fields from one address */
static __thread ArenaThread arena_thread __attribute__ ((tls_model ("initial-exec")));
static guint arena_threads;
static guint64 arena_cache_serials;

G_GNUC_NO_INLINE static Slot *
my_slot_slow (AsmArenaCache *c)
{
  guint no = arena_thread.no;

  if (no == 0)
    {
      do
        no = __atomic_add_fetch (&arena_threads, 1, __ATOMIC_RELAXED);
      while (no == 0);
      arena_thread.no = no;
    }
  arena_thread.last_serial = c->serial;
  arena_thread.last_slot = slot_at (c, (no - 1) & c->slot_mask);
  return arena_thread.last_slot;
}

static inline Slot *
my_slot (AsmArenaCache *c)
{
  if (G_LIKELY (arena_thread.last_serial == c->serial))
    return arena_thread.last_slot;
  return my_slot_slow (c);
}

static inline void
slot_count (Slot *s, gint64 delta)
{
  /* written under the slot's lock; read without it by cache_may_hold().
   * On x86-64 an aligned 8-byte store is seen whole, so the lock holder,
   * the only writer, may add in one instruction what a relaxed atomic
   * store of the value plus delta does in three; ThreadSanitizer builds
   * keep the store it can see. */
#if defined(__x86_64__) && !ASM_THREAD_SANITIZER
  __asm__("addq %1, %0" : "+m"(s->n_cached) : "er"(delta));
#else
  __atomic_store_n (&s->n_cached, s->n_cached + (guint64) delta,
                    __ATOMIC_RELAXED);
#endif
}

/* With s locked and every magazine of it in place: makes room in its
 * table for n_more entries and shrinks a table mostly unused, rebuilding
 * it and giving its magazines their entries' new indexes. */
static void
slot_table_settle (AsmArenaCache *c, Slot *s, guint64 n_more)
{
  if (G_LIKELY (!table_settle (&s->table, n_more)))
    return;
  for (guint k = 0; k < c->n_classes; k++)
    {
      if (s->loaded[k] != NULL)
        mag_reindex (c, &s->table, s->loaded[k]);
      if (s->prev[k] != NULL)
        mag_reindex (c, &s->table, s->prev[k]);
    }
  for (Magazine *m = s->spill; m != NULL; m = m->next)
    mag_reindex (c, &s->table, m);
}

/* the same for the depot, locked */
static void
depot_table_settle (AsmArenaCache *c, Depot *d, guint64 n_more)
{
  if (G_LIKELY (!table_settle (&d->table, n_more)))
    return;
  for (guint k = 0; k < c->n_classes; k++)
    for (Magazine *m = d->cls[k].full; m != NULL; m = m->next)
      mag_reindex (c, &d->table, m);
}

/* with the depot's lock held */
static Magazine *
depot_get_empty_locked (Depot *d, guint cls)
{
  DepotClass *dc = &d->cls[cls];
  Magazine *m = dc->empty;

  if (m != NULL)
    {
      dc->empty = m->next;
      dc->n_empty--;
    }
  else
    m = g_new (Magazine, 1);
  m->next = NULL;
  m->n = 0;
  return m;
}

static Magazine *
depot_get_empty (AsmArenaCache *c, guint cls)
{
  Magazine *m;

  spin_lock (&c->depot.lock);
  m = depot_get_empty_locked (&c->depot, cls);
  spin_unlock (&c->depot.lock);
  return m;
}

/* with the depot's lock held */
static void
depot_put_empty_locked (Depot *d, guint cls, Magazine *m)
{
  DepotClass *dc = &d->cls[cls];

  if (dc->n_empty < DEPOT_EMPTIES)
    {
      m->next = dc->empty;
      dc->empty = m;
      dc->n_empty++;
    }
  else
    g_free (m);
}

/* Slot s (locked) gives its full magazine m to the depot, with the
 * entries of its ranges, and gets an empty one back; NULL, with nothing
 * done, when the depot is at its cap.  The caller settles s's table once
 * m has left the slot. */
static Magazine *
depot_exchange_full (AsmArenaCache *c, Slot *s, guint cls, Magazine *m)
{
  Depot *d = &c->depot;
  DepotClass *dc = &d->cls[cls];
  Magazine *empty = NULL;

  spin_lock (&d->lock);
  if (d->n_full < DEPOT_MAGS)
    {
      depot_table_settle (c, d, m->n);
      for (guint64 i = 0; i < m->n; i++)
        m->at[i] = (guint32) table_move (c, &s->table, &d->table, m->addr[i]);
      m->next = dc->full;
      dc->full = m;
      dc->n_full++;
      __atomic_store_n (&d->n_full, d->n_full + 1, __ATOMIC_RELAXED);
      empty = depot_get_empty_locked (d, cls);
    }
  spin_unlock (&d->lock);
  return empty;
}

/* Slot s (locked) takes a full magazine of class cls from the depot, with
 * the entries of its ranges, and gives its empty one (or NULL) back. */
static Magazine *
depot_exchange_empty (AsmArenaCache *c, Slot *s, guint cls, Magazine *empty)
{
  Depot *d = &c->depot;
  DepotClass *dc = &d->cls[cls];
  Magazine *m;

  if (__atomic_load_n (&d->n_full, __ATOMIC_RELAXED) == 0)
    return NULL;
  spin_lock (&d->lock);
  m = dc->full;
  if (m != NULL && s->table.n + m->n > TABLE_MAX_ENTRIES)
    m = NULL; /* the slot's table is full: the tree serves */
  if (m != NULL)
    {
      /* while the slot's empty magazine is still its own */
      slot_table_settle (c, s, m->n);
      dc->full = m->next;
      dc->n_full--;
      __atomic_store_n (&d->n_full, d->n_full - 1, __ATOMIC_RELAXED);
      for (guint64 i = 0; i < m->n; i++)
        m->at[i] = (guint32) table_move (c, &d->table, &s->table, m->addr[i]);
      depot_table_settle (c, d, 0);
      if (empty != NULL)
        depot_put_empty_locked (d, cls, empty);
    }
  spin_unlock (&d->lock);
  return m;
}

static inline void
mag_put (Magazine *m, guint64 addr, guint64 at)
{
  m->addr[m->n] = addr;
  m->at[m->n] = (guint32) at;
  m->n++;
}

/* takes from m a range inside [min, max], the newest first, and the
 * index of its entry */
static gboolean
mag_take (Magazine *m, guint64 size, guint64 min, guint64 max,
          guint64 *out_addr, guint64 *out_at)
{
  for (guint64 i = m->n; i-- > 0;)
    if (in_window (m->addr[i], size, min, max))
      {
        *out_addr = m->addr[i];
        *out_at = m->at[i];
        m->n--;
        m->addr[i] = m->addr[m->n];
        m->at[i] = m->at[m->n];
        return TRUE;
      }
  return FALSE;
}

G_GNUC_NO_INLINE static gboolean
slot_pop_slow (AsmArenaCache *c, Slot *s, guint cls, guint64 min, guint64 max,
               guint64 *out_addr, guint64 *out_at)
{
  Magazine **lp = &s->loaded[cls], **pp = &s->prev[cls], *full;
  guint64 size = class_size (c, cls);

  if (*lp != NULL && mag_take (*lp, size, min, max, out_addr, out_at))
    return TRUE;
  if (*pp != NULL && mag_take (*pp, size, min, max, out_addr, out_at))
    {
      Magazine *t = *lp;

      *lp = *pp;
      *pp = t;
      return TRUE;
    }
  if ((*lp != NULL && (*lp)->n != 0) || (*pp != NULL && (*pp)->n != 0))
    return FALSE; /* ranges, but none in the window: the tree decides */
  full = depot_exchange_empty (c, s, cls, *lp);
  if (full == NULL)
    return FALSE;
  slot_count (s, (gint64) full->n);
  *lp = full;
  return mag_take (full, size, min, max, out_addr, out_at);
}

/* Both magazines of the class are full and the depot is at its cap: the
 * previous one goes on the slot's spill list, which goes back to the tree
 * as soon as the tree's lock can be taken (slot_release_spill()). */
G_GNUC_NO_INLINE static void
slot_push_slow (AsmArenaCache *c, Slot *s, guint cls, guint64 addr,
                guint64 at)
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
      /* read before the depot has it: another slot may take it at once */
      guint64 given = (*pp)->n;

      m = depot_exchange_full (c, s, cls, *pp);
      if (m != NULL)
        slot_count (s, -(gint64) given);
      else
        {
          (*pp)->next = s->spill;
          s->spill = *pp;
          m = g_new (Magazine, 1);
          m->next = NULL;
          m->n = 0;
        }
      *pp = *lp;
      *lp = m;
    }
  mag_put (*lp, addr, at);
  slot_table_settle (c, s, 0); /* the entries given to the depot */
}

/* addr, whose entry is at index at of s's table, into a magazine */
static inline void
slot_push (AsmArenaCache *c, Slot *s, guint cls, guint64 addr, guint64 at)
{
  Magazine *m = s->loaded[cls];

  if (G_LIKELY (m != NULL && m->n < MAG_SIZE))
    mag_put (m, addr, at);
  else
    slot_push_slow (c, s, cls, addr, at);
  slot_count (s, 1);
}

/* With the tree's lock and s's lock held: the spill list back to the
 * tree.  The class of a spilled range is in its entry. */
static void
slot_release_spill_locked (AsmArenaCache *c, AsmArena *a, Slot *s)
{
  while (s->spill != NULL)
    {
      Magazine *m = s->spill;

      s->spill = m->next;
      for (guint64 i = 0; i < m->n; i++)
        {
          guint64 e = s->table.e[m->at[i]];

          if (G_UNLIKELY (entry_unit (e) != m->addr[i] >> c->qshift))
            ASM_BUG ("%s: spilled 0x%" G_GINT64_MODIFIER "x has no entry",
                     c->name, m->addr[i]);
          asm_arena_tree_release (a, m->addr[i],
                                  class_size (c, entry_class (e)));
          table_delete_at (&s->table, m->at[i]);
        }
      slot_count (s, -(gint64) m->n);
      g_free (m);
    }
  slot_table_settle (c, s, 0);
}

G_GNUC_NO_INLINE static void
slot_release_spill (AsmArenaCache *c, AsmArena *a, Slot *s)
{
  pthread_mutex_lock (&c->tree_lock);
  spin_lock (&s->lock);
  slot_release_spill_locked (c, a, s);
  spin_unlock (&s->lock);
  pthread_mutex_unlock (&c->tree_lock);
}

/* ------------------------------------------------------------------ */
/* flushing and locking                                                 */

/* Might the cache hold a range?  A free that happened before the call
 * that asks is seen (its counts were written before). */
static gboolean
cache_may_hold (AsmArenaCache *c)
{
  if (__atomic_load_n (&c->depot.n_full, __ATOMIC_RELAXED) != 0)
    return TRUE;
  for (guint i = 0; i <= c->slot_mask; i++)
    if (__atomic_load_n (&slot_at (c, i)->n_cached, __ATOMIC_RELAXED) != 0)
      return TRUE;
  return FALSE;
}

/* m's ranges back to the tree, their entries deleted from t (the caller
 * settles t) */
static void
mag_release (AsmArenaCache *c, AsmArena *a, Table *t, guint cls,
             Magazine *m)
{
  for (guint64 i = 0; i < m->n; i++)
    {
      if (G_UNLIKELY (t->e[m->at[i]] !=
                      entry_make (m->addr[i] >> c->qshift, cls, ENTRY_CACHED)))
        ASM_BUG ("%s: 0x%" G_GINT64_MODIFIER "x is in a magazine but not in "
                 "its table",
                 c->name, m->addr[i]);
      asm_arena_tree_release (a, m->addr[i], class_size (c, cls));
      table_delete_at (t, m->at[i]);
    }
  m->n = 0;
}

/* With the tree's lock held: every cached range back to the tree. */
static void
cache_flush_locked (AsmArenaCache *c, AsmArena *a)
{
  Depot *d = &c->depot;

  for (guint i = 0; i <= c->slot_mask; i++)
    {
      Slot *s = slot_at (c, i);

      spin_lock (&s->lock);
      slot_release_spill_locked (c, a, s);
      for (guint k = 0; k < c->n_classes && s->n_cached != 0; k++)
        {
          if (s->loaded[k] != NULL)
            mag_release (c, a, &s->table, k, s->loaded[k]);
          if (s->prev[k] != NULL)
            mag_release (c, a, &s->table, k, s->prev[k]);
        }
      slot_count (s, -(gint64) s->n_cached);
      slot_table_settle (c, s, 0);
      spin_unlock (&s->lock);
    }
  spin_lock (&d->lock);
  for (guint k = 0; k < c->n_classes; k++)
    {
      DepotClass *dc = &d->cls[k];

      while (dc->full != NULL)
        {
          Magazine *m = dc->full;

          dc->full = m->next;
          mag_release (c, a, &d->table, k, m);
          depot_put_empty_locked (d, k, m);
        }
      dc->n_full = 0;
    }
  depot_table_settle (c, d, 0);
  __atomic_store_n (&d->n_full, 0, __ATOMIC_RELAXED);
  spin_unlock (&d->lock);
  c->flushes++;
}

void
asm_arena_cache_lock (AsmArenaCache *c, AsmArena *a, gboolean flush)
{
  pthread_mutex_lock (&c->tree_lock);
  if (flush && cache_may_hold (c))
    cache_flush_locked (c, a);
}

void
asm_arena_cache_unlock (AsmArenaCache *c)
{
  pthread_mutex_unlock (&c->tree_lock);
}

/* every lock, in order, for a reader of the whole picture */
static void
cache_lock_all (AsmArenaCache *c)
{
  pthread_mutex_lock (&c->tree_lock);
  for (guint i = 0; i <= c->slot_mask; i++)
    spin_lock (&slot_at (c, i)->lock);
  spin_lock (&c->depot.lock);
}

static void
cache_unlock_all (AsmArenaCache *c)
{
  spin_unlock (&c->depot.lock);
  for (guint i = c->slot_mask + 1; i-- > 0;)
    spin_unlock (&slot_at (c, i)->lock);
  pthread_mutex_unlock (&c->tree_lock);
}

/* ------------------------------------------------------------------ */
/* allocation and free                                                  */

/* How many ranges of s's class cls a miss may take from the tree at once
 * (asm_arena_tree_alloc_run()): the extra ones go into the class's loaded
 * magazine, so at most the room there, and none when the table is near
 * its cap.  With the tree's lock held, nobody but the calling thread
 * changes s meanwhile (a free of another thread into s takes that lock). */
static guint
slot_run_room (Slot *s, guint cls)
{
  Magazine *m;
  guint room = 1;

  spin_lock (&s->lock);
  m = s->loaded[cls];
  if (m != NULL && s->table.n + MISS_RUN <= TABLE_MAX_ENTRIES)
    room += (guint) MIN (MAG_SIZE - m->n, MISS_RUN - 1);
  spin_unlock (&s->lock);
  return room;
}

/* With the tree's lock held: the allocations from..n - 1 of a run the
 * cache did not take go back to the tree */
static void
run_release (AsmArena *a, guint64 addr, guint64 size, guint64 stride,
             guint from, guint n)
{
  for (guint k = from; k < n; k++)
    asm_arena_tree_release (a, addr + k * stride, size);
}

/* the tree's allocation for a request the magazines did not serve; with
 * from_miss (the request is cacheable, its class was empty), up to
 * MISS_RUN ranges of its class at once, the others cached */
G_GNUC_NO_INLINE static gboolean
cache_alloc_tree (AsmArenaCache *c, const AsmRequest *req, gboolean from_miss,
                  guint64 *out_addr, GError **error)
{
  AsmArena *a = c->arena;
  g_autoptr(GError) local = NULL;
  GError **err = error != NULL ? &local : NULL;
  gboolean ok, flushed;
  guint64 addr = 0, stride = 0;
  guint cls = 0, n = 1, n_max = 1;
  Slot *s = my_slot (c);

  pthread_mutex_lock (&c->tree_lock);
  /* an exact fit sees the cached ranges as free */
  flushed = req->fit != ASM_FIT_INSTANT && cache_may_hold (c);
  if (flushed)
    cache_flush_locked (c, a);
  if (from_miss)
    {
      /* a cacheable size: at most max_size, so its power of two fits */
      stride = pow2_ceil (req->size);
      n_max = slot_run_room (s, (guint) (req->size >> c->qshift) - 1);
    }
  ok = asm_arena_tree_alloc_run (a, req, stride, n_max, &addr, &n, err);
  if (!ok && !flushed && cache_may_hold (c))
    {
      /* never refused while a cached range could serve */
      g_clear_error (&local);
      cache_flush_locked (c, a);
      n = 1;
      ok = asm_arena_tree_alloc (a, req, &addr, err);
    }
  if (ok && req->fit == ASM_FIT_INSTANT &&
      cacheable_shape (c, addr, req->size, &cls))
    {
      guint cached = 0;

      spin_lock (&s->lock);
      if (s->table.n + n <= TABLE_MAX_ENTRIES)
        {
          slot_table_settle (c, s, n);
          table_insert (&s->table, entry_make (addr >> c->qshift, cls, 0));
          /* the run's others, into the room slot_run_room() saw (all of
           * them, unless the last pass the unit limit) */
          for (; cached + 1 < n; cached++)
            {
              guint64 at = addr + (cached + 1) * stride;

              if ((at >> c->qshift) >= UNIT_LIMIT)
                break;
              mag_put (s->loaded[cls], at,
                       table_insert (&s->table,
                                     entry_make (at >> c->qshift, cls,
                                                 ENTRY_CACHED)));
            }
          slot_count (s, cached);
        }
      spin_unlock (&s->lock);
      run_release (a, addr, req->size, stride, cached + 1, n);
    }
  else if (ok)
    run_release (a, addr, req->size, stride, 1, n);
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

/* With s locked: addr, taken from one of its magazines, whose entry is at
 * i in its table, becomes an allocation again and goes to the caller. */
static inline gboolean
slot_hand_out (Slot *s, guint64 i, guint64 addr, guint64 *out_addr)
{
  s->table.e[i] &= ~ENTRY_CACHED;
  slot_count (s, -1);
  s->hits++;
  spin_unlock (&s->lock);
  if (out_addr != NULL)
    *out_addr = addr;
  return TRUE;
}

/* A cacheable request the slot's loaded magazine cannot answer at once:
 * with the slot's lock taken here, the rest of the magazine, the previous
 * one and the depot, else the tree. */
G_GNUC_NO_INLINE static gboolean
cache_alloc_slow (AsmArenaCache *c, const AsmRequest *req, guint64 *out_addr,
                  GError **error)
{
  guint cls = (guint) (req->size >> c->qshift) - 1;
  Slot *s = my_slot (c);
  guint64 addr, at;

  spin_lock (&s->lock);
  if (slot_pop_slow (c, s, cls, req->min, req->max, &addr, &at))
    {
      if (G_UNLIKELY (s->table.e[at] !=
                      entry_make (addr >> c->qshift, cls, ENTRY_CACHED)))
        ASM_BUG ("%s: 0x%" G_GINT64_MODIFIER "x was in a magazine but is "
                 "not a cached range", c->name, addr);
      return slot_hand_out (s, at, addr, out_addr);
    }
  s->misses++;
  spin_unlock (&s->lock);
  return cache_alloc_tree (c, req, TRUE, out_addr, error);
}

/* The allocation hit: with the calling thread's slot (when it has one in
 * this cache and its lock is free) locked, the newest range of class cls
 * in its loaded magazine, if that range lies in [min, last_start],
 * becomes an allocation again: NULL.  Else, with nothing changed and no
 * lock held, the cache, for cache_alloc_slow(): once the slot is locked,
 * taken from the slot, so that c need not stay in a register.  Inlined
 * into both public entry points, where min may be a constant. */
G_ALWAYS_INLINE static inline AsmArenaCache *
cache_pop_hit (AsmArenaCache *c, guint64 cls, guint64 min, guint64 last_start,
               guint64 *out_addr)
{
  Slot *s;
  Magazine *m;
  guint64 addr, top;

  /* the slot this thread used last, if it is this cache's (else the slow
   * path finds it) */
  if (G_UNLIKELY (arena_thread.last_serial != c->serial))
    return c;
  s = arena_thread.last_slot;
  if (G_UNLIKELY (__atomic_exchange_n (&s->lock.held, 1, __ATOMIC_ACQUIRE)))
    return c;
  m = s->loaded[cls];
  if (G_UNLIKELY (m == NULL || m->n == 0))
    goto miss;
  top = m->n - 1;
  addr = m->addr[top];
  if (G_UNLIKELY (addr < min || addr > last_start))
    goto miss;
  m->n = top;
  s->table.e[m->at[top]] &= ~ENTRY_CACHED;
  slot_count (s, -1);
  s->hits++;
  spin_unlock (&s->lock);
  if (out_addr != NULL)
    *out_addr = addr;
  return NULL;

miss:
  spin_unlock (&s->lock);
  return s->cache;
}

/* asm_arena_alloc_full() with a cache.  The hit path calls nothing:
 * every other case is a tail call with the caller's arguments, so that
 * the public function keeps no registers. */
G_ALWAYS_INLINE static inline gboolean
cache_alloc (AsmArenaCache *c, const AsmRequest *req, guint64 *out_addr,
             GError **error)
{
  guint cls;

  if (G_UNLIKELY (!cache_serves (c, req, &cls)))
    return cache_alloc_tree (c, req, FALSE, out_addr, error);
  if (G_UNLIKELY (req->max < req->size - 1))
    return cache_alloc_slow (c, req, out_addr, error);
  c = cache_pop_hit (c, cls, req->min, req->max - (req->size - 1), out_addr);
  if (G_LIKELY (c == NULL))
    return TRUE;
  return cache_alloc_slow (c, req, out_addr, error);
}

G_GNUC_NO_INLINE static gboolean
cache_double_free (AsmArenaCache *c, guint64 addr, GError **error)
{
  g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
               "%s: no allocation or reservation starts at 0x%"
               G_GINT64_MODIFIER "x (it was freed already)", c->name, addr);
  return FALSE;
}

/* with the tree's lock held: the entry of addr, in whichever slot (its
 * slot locked on return, in *out_slot), or NULL */
static guint64 *
cache_find_locked (AsmArenaCache *c, guint64 addr, Slot **out_slot)
{
  guint64 unit = addr >> c->qshift;

  if (unit >= UNIT_LIMIT)
    return NULL;
  for (guint i = 0; i <= c->slot_mask; i++)
    {
      Slot *s = slot_at (c, i);
      gint64 at;

      spin_lock (&s->lock);
      at = table_find (&s->table, unit);
      if (at >= 0)
        {
          *out_slot = s;
          return &s->table.e[at];
        }
      spin_unlock (&s->lock);
    }
  return NULL;
}

/* A free the calling thread's slot does not know: with the tree's lock
 * held, so that nothing moves, every slot and the depot are asked; an
 * address none of them knows is the tree's (an allocation made by an
 * exact fit, a reservation, or an error). */
G_GNUC_NO_INLINE static gboolean
cache_free_slow (AsmArenaCache *c, guint64 addr, GError **error)
{
  AsmArena *a = c->arena;
  guint64 unit = addr >> c->qshift;
  gboolean ok;

  pthread_mutex_lock (&c->tree_lock);
  if (unit < UNIT_LIMIT && (addr & c->quantum_mask) == 0)
    {
      Slot *s;
      guint64 *entry = cache_find_locked (c, addr, &s), e;

      if (entry != NULL)
        {
          e = *entry;
          if (!(e & ENTRY_CACHED))
            {
              *entry = e | ENTRY_CACHED;
              slot_push (c, s, entry_class (e), addr,
                         (guint64) (entry - s->table.e));
              slot_release_spill_locked (c, a, s);
            }
          spin_unlock (&s->lock);
          pthread_mutex_unlock (&c->tree_lock);
          return (e & ENTRY_CACHED) ? cache_double_free (c, addr, error)
                                    : TRUE;
        }
      spin_lock (&c->depot.lock);
      ok = table_find (&c->depot.table, unit) < 0;
      spin_unlock (&c->depot.lock);
      if (!ok)
        {
          pthread_mutex_unlock (&c->tree_lock);
          return cache_double_free (c, addr, error);
        }
    }
  ok = asm_arena_tree_free (a, addr, error);
  pthread_mutex_unlock (&c->tree_lock);
  return ok;
}

/* asm_arena_free() of a range the slot may know, when the hit path below
 * cannot do it at once (its lock is taken, or the magazine is full) */
G_GNUC_NO_INLINE static gboolean
cache_release_slow (AsmArenaCache *c, guint64 addr, GError **error)
{
  AsmArena *a = c->arena;
  Slot *s = my_slot (c);
  gint64 i;
  guint64 e;
  gboolean spilled;

  spin_lock (&s->lock);
  i = table_find (&s->table, addr >> c->qshift);
  if (i < 0)
    {
      spin_unlock (&s->lock);
      return cache_free_slow (c, addr, error);
    }
  e = s->table.e[i];
  if (e & ENTRY_CACHED)
    {
      spin_unlock (&s->lock);
      return cache_double_free (c, addr, error);
    }
  s->table.e[i] = e | ENTRY_CACHED;
  slot_push (c, s, entry_class (e), addr, (guint64) i);
  spilled = s->spill != NULL;
  spin_unlock (&s->lock);
  if (spilled)
    slot_release_spill (c, a, s);
  return TRUE;
}

/* asm_arena_free() with a cache; the hit path calls nothing, as
 * cache_alloc()'s */
G_ALWAYS_INLINE static inline gboolean
cache_release (AsmArenaCache *c, guint64 addr, GError **error)
{
  guint64 unit = addr >> c->qshift, e, i;
  Slot *s;
  Magazine *m;

  if (G_UNLIKELY (unit >= UNIT_LIMIT || (addr & c->quantum_mask) != 0))
    return cache_free_slow (c, addr, error);
  if (G_UNLIKELY (arena_thread.last_serial != c->serial))
    return cache_release_slow (c, addr, error);
  s = arena_thread.last_slot;
  if (G_UNLIKELY (__atomic_exchange_n (&s->lock.held, 1, __ATOMIC_ACQUIRE)))
    return cache_release_slow (c, addr, error);
  /* from here on the cache is s->cache, so that c need not stay in a
   * register across the search */
  if (G_UNLIKELY (!table_lookup (&s->table, unit, &i)))
    {
      spin_unlock (&s->lock);
      return cache_free_slow (s->cache, addr, error);
    }
  e = s->table.e[i];
  m = s->loaded[entry_class (e)];
  if (G_UNLIKELY ((e & ENTRY_CACHED) || m == NULL || m->n >= MAG_SIZE))
    {
      spin_unlock (&s->lock);
      return cache_release_slow (s->cache, addr, error);
    }
  mag_put (m, addr, i);
  s->table.e[i] = e | ENTRY_CACHED;
  slot_count (s, 1);
  spin_unlock (&s->lock);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* the public entry points                                              */

/* asm_arena_alloc_full()'s precondition warnings */
G_GNUC_NO_INLINE static gboolean
alloc_full_refuse_arguments (AsmArena *a, const AsmRequest *req, GError **error)
{
  g_return_val_if_fail (a != NULL, FALSE);
  g_return_val_if_fail (req != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return FALSE;
}

/**
 * asm_arena_alloc_full:
 * @a: an arena
 * @req: the request: size and constraints
 * @out_addr: (out): where the first unit of the allocation is stored
 * @error: return location for a #GError
 *
 * Allocates @req->size units at the address @req->fit names among all the
 * addresses that satisfy every constraint of @req (see #AsmRequest and
 * #AsmFit).  The allocation lies inside one free segment of one span.
 *
 * Errors: %ASM_ERROR_INVALID for a malformed request (size 0 or not a
 * multiple of the quantum; align not 0 and not a power of two or below the
 * quantum; phase not below the alignment or not a multiple of the quantum;
 * nocross not 0 and not a power of two or below the size; min above max),
 * always reported before %ASM_ERROR_NO_SPACE, which means that no address
 * satisfies the request; its message tells the largest free run within
 * [min, max].  Nothing changes on error.
 *
 * A refusal is remembered: until free space appears that could hold it, the
 * same request, or one at least as large with constraints at least as strict
 * (the same or a narrower [min, max], an alignment that is a multiple of its
 * alignment with a phase that agrees, the same or a smaller nocross), is
 * refused in O(1), without a search.  Exact still: a request is refused only
 * when no address satisfies it.  With @error set, the refusal also computes
 * the largest free run within [min, max] for the message (O(log n)); pass
 * %NULL where refusals are frequent and the message is not needed.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_arena_alloc_full (AsmArena *a, const AsmRequest *req, guint64 *out_addr,
                      GError **error)
{
  /* the checks' warnings are out of line: the common case then sets up no
   * stack frame and passes its arguments on as they came */
  if (G_UNLIKELY (a == NULL || req == NULL ||
                  (error != NULL && *error != NULL)))
    return alloc_full_refuse_arguments (a, req, error);
  if (G_LIKELY (a->cache == NULL))
    return asm_arena_tree_alloc (a, req, out_addr, error);
  return cache_alloc (a->cache, req, out_addr, error);
}

/* asm_arena_alloc_instant()'s request, as asm_arena_alloc_full() takes
 * it */
static inline AsmRequest
instant_request (guint64 size, guint64 align, guint64 max)
{
  AsmRequest req = ASM_REQUEST_INIT (size);

  req.align = align;
  req.max = max;
  req.fit = ASM_FIT_INSTANT;
  return req;
}

/* asm_arena_alloc_instant() without a cache, or with bad arguments */
G_GNUC_NO_INLINE static gboolean
alloc_instant_general (AsmArena *a, guint64 size, guint64 align, guint64 max,
                       guint64 *out_addr, GError **error)
{
  AsmRequest req = instant_request (size, align, max);

  return asm_arena_alloc_full (a, &req, out_addr, error);
}

/* asm_arena_alloc_instant() with a cache, when its hit cannot serve; max
 * comes as the last address the allocation may start at, max - (size -
 * 1), which the hit compares (one register for both) */
G_GNUC_NO_INLINE static gboolean
alloc_instant_cached (AsmArenaCache *c, guint64 size, guint64 align,
                      guint64 last_start, guint64 *out_addr, GError **error)
{
  AsmRequest req = instant_request (size, align, last_start + (size - 1));

  return cache_alloc (c, &req, out_addr, error);
}

/**
 * asm_arena_alloc_instant:
 * @a: an arena
 * @size: units to allocate, a multiple of the quantum
 * @align: 0, or the alignment of the allocation: a power of two, at least
 *   the quantum
 * @max: the last unit the allocation may take
 * @out_addr: (out): where the first unit of the allocation is stored
 * @error: return location for a #GError
 *
 * asm_arena_alloc_full() of the request with @size, @align and @max, fit
 * %ASM_FIT_INSTANT and no other constraint, with its arguments in
 * registers: the shape of nearly every DMA mapping (a size, its alignment,
 * the device's address limit), served from the cache's magazines
 * (asm_arena_enable_cache()) without a request in memory.  Everything
 * else, results, errors and messages included, is as
 * asm_arena_alloc_full()'s.
 *
 * With GCC or Clang and optimisation, a call of asm_arena_alloc_full()
 * whose request is known at compile time to be of that shape (fit
 * %ASM_FIT_INSTANT, phase, nocross and min 0) is compiled as a call of
 * this function; take the address of asm_arena_alloc_full() or write
 * `(asm_arena_alloc_full) (...)` to call it as it is.
 *
 * Errors: as asm_arena_alloc_full().
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_arena_alloc_instant (AsmArena *a, guint64 size, guint64 align, guint64 max,
                         guint64 *out_addr, GError **error)
{
  AsmArenaCache *c;
  guint64 k, last_start;

  /* size 0 fails the second test */
  if (G_UNLIKELY (a == NULL || (error != NULL && *error != NULL) ||
                  max < size - 1 || a->cache == NULL))
    return alloc_instant_general (a, size, align, max, out_addr, error);
  c = a->cache;
  last_start = max - (size - 1);
  /* cache_serves() of the request: its other tests are constants here */
  k = (size >> c->qshift) - 1;
  if (G_UNLIKELY (k >= c->n_classes || (size & c->quantum_mask) != 0 ||
                  (align & ((align - 1) | c->align_bad[k])) != 0))
    return alloc_instant_cached (c, size, align, last_start, out_addr, error);
  c = cache_pop_hit (c, k, 0, last_start, out_addr);
  if (G_LIKELY (c == NULL))
    return TRUE;
  return alloc_instant_cached (c, size, align, last_start, out_addr, error);
}

/* asm_arena_free()'s precondition warnings */
G_GNUC_NO_INLINE static gboolean
free_refuse_arguments (AsmArena *a, GError **error)
{
  g_return_val_if_fail (a != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return FALSE;
}

/**
 * asm_arena_free:
 * @a: an arena
 * @addr: the first unit of an allocation or reservation
 * @error: return location for a #GError
 *
 * Releases the allocation or reservation that starts exactly at @addr; its
 * units become free and join the free units around them in the same span.
 *
 * Errors: %ASM_ERROR_NOT_FOUND when nothing starts at @addr (a free
 * address, an address inside an allocation, a double free).  Nothing
 * changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_arena_free (AsmArena *a, guint64 addr, GError **error)
{
  /* as asm_arena_alloc_full()'s */
  if (G_UNLIKELY (a == NULL || (error != NULL && *error != NULL)))
    return free_refuse_arguments (a, error);
  if (G_LIKELY (a->cache == NULL))
    return asm_arena_tree_free (a, addr, error);
  return cache_release (a->cache, addr, error);
}

gboolean
asm_arena_cache_holds (AsmArenaCache *c, guint64 addr)
{
  Slot *s;
  guint64 *e = cache_find_locked (c, addr, &s);
  gboolean held;

  if (e != NULL)
    {
      held = (*e & ENTRY_CACHED) != 0;
      spin_unlock (&s->lock);
      return held;
    }
  spin_lock (&c->depot.lock);
  held = addr >> c->qshift < UNIT_LIMIT &&
         table_find (&c->depot.table, addr >> c->qshift) >= 0;
  spin_unlock (&c->depot.lock);
  return held;
}

void
asm_arena_cache_forget (AsmArenaCache *c, guint64 addr)
{
  Slot *s;
  guint64 *e = cache_find_locked (c, addr, &s);

  if (e != NULL)
    {
      table_delete_at (&s->table, (guint64) (e - s->table.e));
      slot_table_settle (c, s, 0);
      spin_unlock (&s->lock);
    }
}

/* ------------------------------------------------------------------ */
/* life cycle                                                           */

AsmArenaCache *
asm_arena_cache_new (AsmArena *arena, const char *name, guint64 quantum,
                     guint64 max_size, GError **error)
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
  c->serial = __atomic_add_fetch (&arena_cache_serials, 1, __ATOMIC_RELAXED);
  {
    /* the tree's sections are short (a miss, a flush): a waiter spins a
     * little before it sleeps, rather than pay a wake-up each time */
    pthread_mutexattr_t attr;

    pthread_mutexattr_init (&attr);
    pthread_mutexattr_settype (&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init (&c->tree_lock, &attr);
    pthread_mutexattr_destroy (&attr);
  }
  c->arena = arena;
  c->name = g_strdup (name);
  c->quantum = quantum;
  c->qshift = (guint) __builtin_ctzll (quantum);
  c->max_size = max_size;
  c->n_classes = (guint) (max_size / quantum);
  c->quantum_mask = quantum - 1;
  c->align_bad = g_new (guint64, c->n_classes);
  for (guint k = 0; k < c->n_classes; k++)
    c->align_bad[k] = ~(((pow2_ceil (class_size (c, k)) << 1) - 1) &
                        ~(quantum - 1));
  c->slot_mask = n_slots - 1;
  c->slots = g_aligned_alloc0 (n_slots, slot_size (c->n_classes), 64);
  for (guint i = 0; i < n_slots; i++)
    {
      Slot *s = slot_at (c, i);

      s->cache = c;
      s->prev = &s->loaded[c->n_classes];
      table_init (&s->table);
    }
  c->depot.cls = g_new0 (DepotClass, c->n_classes);
  table_init (&c->depot.table);
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
      Slot *s = slot_at (c, i);

      for (guint k = 0; k < c->n_classes; k++)
        {
          g_free (s->loaded[k]);
          g_free (s->prev[k]);
        }
      mag_list_free (s->spill);
      g_free (s->table.e);
    }
  for (guint k = 0; k < c->n_classes; k++)
    {
      mag_list_free (c->depot.cls[k].full);
      mag_list_free (c->depot.cls[k].empty);
    }
  g_free (c->depot.cls);
  g_free (c->depot.table.e);
  g_aligned_free (c->slots);
  g_free (c->align_bad);
  pthread_mutex_destroy (&c->tree_lock);
  g_free (c->name);
  g_aligned_free (c);
}

/* ------------------------------------------------------------------ */
/* stats and check                                                      */

static guint64
mag_units (const AsmArenaCache *c, const Magazine *m, guint cls)
{
  return m != NULL ? m->n * class_size (c, cls) : 0;
}

/* with every lock held: what the cache holds */
static void
cache_count (AsmArenaCache *c, guint64 *ranges, guint64 *units)
{
  *ranges = *units = 0;
  for (guint i = 0; i <= c->slot_mask; i++)
    {
      const Slot *s = slot_at (c, i);

      *ranges += s->n_cached;
      for (guint k = 0; k < c->n_classes; k++)
        *units += mag_units (c, s->loaded[k], k) + mag_units (c, s->prev[k], k);
      for (const Magazine *m = s->spill; m != NULL; m = m->next)
        for (guint64 j = 0; j < m->n; j++)
          {
            gint64 at = table_find (&s->table, m->addr[j] >> c->qshift);
            *units += class_size (c, entry_class (s->table.e[at]));
          }
    }
  for (guint k = 0; k < c->n_classes; k++)
    for (const Magazine *m = c->depot.cls[k].full; m != NULL; m = m->next)
      {
        *ranges += m->n;
        *units += mag_units (c, m, k);
      }
}

void
asm_arena_cache_stats (AsmArenaCache *c, AsmArena *a, AsmArenaStats *out)
{
  guint64 ranges, units;

  cache_lock_all (c);
  asm_arena_tree_stats (a, out);
  cache_count (c, &ranges, &units);
  cache_unlock_all (c);
  out->n_allocated -= ranges;
  out->allocated_units -= units;
  out->free_units += units;
}

void
asm_arena_cache_get_stats (AsmArenaCache *c, AsmArenaCacheStats *out)
{
  cache_lock_all (c);
  out->max_size = c->max_size;
  out->capacity = (guint64) (c->slot_mask + 1) * c->n_classes * 2 * MAG_SIZE +
                  (guint64) DEPOT_MAGS * MAG_SIZE;
  cache_count (c, &out->cached_ranges, &out->cached_units);
  out->hits = out->misses = 0;
  for (guint i = 0; i <= c->slot_mask; i++)
    {
      out->hits += slot_at (c, i)->hits;
      out->misses += slot_at (c, i)->misses;
    }
  out->flushes = c->flushes;
  cache_unlock_all (c);
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

/* every entry is an allocation of exactly its extent, found from its
 * home, and known to one table only */
static gboolean
check_table (AsmArenaCache *c, AsmArena *a, const Table *t, gboolean slot,
             GHashTable *seen, GError **error)
{
  guint64 size = table_size (t), used = 0, tombs = 0;

  for (guint64 i = 0; i < size; i++)
    {
      guint64 e = t->e[i], unit, addr, len;
      AsmRange seg;
      AsmSegmentKind kind;
      guint cls;

      if (e == ENTRY_EMPTY)
        continue;
      if (e == ENTRY_TOMB)
        {
          tombs++;
          continue;
        }
      used++;
      unit = entry_unit (e);
      addr = unit << c->qshift;
      if (entry_class (e) >= c->n_classes)
        CACHE_FAIL (error, c, "entry 0x%" G_GINT64_MODIFIER "x has class "
                    "%u of %u", addr, entry_class (e), c->n_classes);
      len = class_size (c, entry_class (e));
      if (table_find (t, unit) != (gint64) i)
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
      if (!slot && !(e & ENTRY_CACHED))
        CACHE_FAIL (error, c, "the depot knows 0x%" G_GINT64_MODIFIER "x as "
                    "allocated", addr);
      if (!g_hash_table_insert (seen, g_memdup2 (&unit, sizeof unit),
                                GUINT_TO_POINTER (1 + (guint) (e & 1))))
        CACHE_FAIL (error, c, "0x%" G_GINT64_MODIFIER "x is known to two "
                    "tables", addr);
    }
  if (used != t->n || tombs != t->tombs)
    CACHE_FAIL (error, c,
                "a table counts %" G_GUINT64_FORMAT " entries and "
                "%" G_GUINT64_FORMAT " tombstones but holds %" G_GUINT64_FORMAT
                " and %" G_GUINT64_FORMAT,
                t->n, t->tombs, used, tombs);
  if (!table_has_room (t, 0))
    CACHE_FAIL (error, c,
                "a table of %" G_GUINT64_FORMAT " entries is past "
                "its fill limit",
                size);
  return TRUE;
}

/* each range of m is a CACHED entry of t of class cls (any class when cls
 * is G_MAXUINT), and is in no other magazine */
static gboolean
check_magazine (AsmArenaCache *c, const Table *t, const Magazine *m,
                guint cls, GHashTable *in_mags, GError **error)
{
  if (m->n > MAG_SIZE)
    CACHE_FAIL (error, c, "a magazine holds %" G_GUINT64_FORMAT " ranges",
                m->n);
  for (guint64 i = 0; i < m->n; i++)
    {
      guint64 addr = m->addr[i], unit = addr >> c->qshift;
      gint64 at = unit < UNIT_LIMIT ? table_find (t, unit) : -1;

      if (at < 0 || !(t->e[at] & ENTRY_CACHED) ||
          (cls != G_MAXUINT && entry_class (t->e[at]) != cls))
        CACHE_FAIL (error, c, "0x%" G_GINT64_MODIFIER "x in a magazine of "
                    "class %d is not a cached range its table knows", addr,
                    (gint) cls);
      if (m->at[i] != (guint64) at)
        CACHE_FAIL (error, c,
                    "0x%" G_GINT64_MODIFIER "x in a magazine says "
                    "its entry is at %u, but it is at %" G_GINT64_FORMAT,
                    addr, m->at[i], at);
      if (!g_hash_table_add (in_mags, g_memdup2 (&unit, sizeof unit)))
        CACHE_FAIL (error, c, "0x%" G_GINT64_MODIFIER "x is cached twice",
                    addr);
    }
  return TRUE;
}

static guint64
table_count_cached (const Table *t)
{
  guint64 n = 0;

  for (guint64 i = 0; i < table_size (t); i++)
    n += t->e[i] < ENTRY_TOMB && (t->e[i] & ENTRY_CACHED);
  return n;
}

static gboolean
check_cache (AsmArenaCache *c, AsmArena *a, GError **error)
{
  g_autoptr(GHashTable) seen =
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_autoptr(GHashTable) in_mags =
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  const Depot *d = &c->depot;
  guint n_full = 0;

  for (guint i = 0; i <= c->slot_mask; i++)
    {
      const Slot *s = slot_at (c, i);
      guint64 before = g_hash_table_size (in_mags);

      if (!check_table (c, a, &s->table, TRUE, seen, error))
        return FALSE;
      for (guint k = 0; k < c->n_classes; k++)
        if ((s->loaded[k] != NULL &&
             !check_magazine (c, &s->table, s->loaded[k], k, in_mags,
                              error)) ||
            (s->prev[k] != NULL &&
             !check_magazine (c, &s->table, s->prev[k], k, in_mags, error)))
          return FALSE;
      for (const Magazine *m = s->spill; m != NULL; m = m->next)
        if (!check_magazine (c, &s->table, m, G_MAXUINT, in_mags, error))
          return FALSE;
      if (g_hash_table_size (in_mags) - before != s->n_cached ||
          table_count_cached (&s->table) != s->n_cached)
        CACHE_FAIL (error, c, "slot %u counts %" G_GUINT64_FORMAT " cached "
                    "ranges, its magazines hold %" G_GUINT64_FORMAT " and its "
                    "table knows %" G_GUINT64_FORMAT, i, s->n_cached,
                    (guint64) g_hash_table_size (in_mags) - before,
                    table_count_cached (&s->table));
    }
  if (!check_table (c, a, &d->table, FALSE, seen, error))
    return FALSE;
  {
    guint64 before = g_hash_table_size (in_mags);

    for (guint k = 0; k < c->n_classes; k++)
      {
        guint n = 0;

        for (const Magazine *m = d->cls[k].full; m != NULL; m = m->next, n++)
          if (!check_magazine (c, &d->table, m, k, in_mags, error))
            return FALSE;
        if (n != d->cls[k].n_full)
          CACHE_FAIL (error, c, "the depot of class %u counts %u magazines "
                      "but holds %u", k, d->cls[k].n_full, n);
        n_full += n;
      }
    if (n_full != d->n_full || n_full > DEPOT_MAGS)
      CACHE_FAIL (error, c, "the depot counts %u magazines but holds %u "
                  "(cap %u)", d->n_full, n_full, DEPOT_MAGS);
    if (g_hash_table_size (in_mags) - before != d->table.n)
      CACHE_FAIL (error, c, "the depot's table knows %" G_GUINT64_FORMAT
                  " ranges but its magazines hold %" G_GUINT64_FORMAT,
                  d->table.n, (guint64) g_hash_table_size (in_mags) - before);
  }
  return TRUE;
}

gboolean
asm_arena_cache_check (AsmArenaCache *c, AsmArena *a, GError **error)
{
  gboolean ok;

  cache_lock_all (c);
  ok = asm_arena_tree_check (a, error) && check_cache (c, a, error);
  cache_unlock_all (c);
  return ok;
}
