/* floor-peer.c: the least a thread-safe exact free by address costs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Why.  asm_arena_free() takes an address, not a size, refuses a double
 * free, and with the arena's cache is thread-safe.  Whatever keeps that
 * contract must, for one W1 step, at least
 *   - free: take a lock, find the address's entry in a table keyed by
 *     address (for the size, and to see it was not freed already), mark
 *     it free and keep the range for reuse, drop the lock;
 *   - allocate: take a lock, take a kept range of the size asked, mark it
 *     taken, drop the lock.
 * This file does exactly that and nothing else, so that its cost in
 * bench-peers is a floor for the design, measured in the same loop as
 * asm and Linux: what asm's cache could cost if it did no more than the
 * contract needs.
 *
 * How.  One spinlock (one atomic exchange to take it, as asm's slot lock
 * and the Linux shim's spinlock); one open-addressing table of 8-byte
 * entries (pfn << 8 | pages << 1 | kept) hashed by pfn, linear probing;
 * per-size stacks of the table indices of kept ranges, so an allocation
 * finds its entry without hashing (when the table grows, the stacks are
 * rewritten).  A size with nothing kept takes fresh pages from a bump
 * pointer, size-aligned; nothing is ever given back, no request is
 * checked, there is no window, no statistic, no other size.
 *
 * Not an allocator: never use it as one.
 */
#include "floor-peer.h"

#include "bench-common.h"

#include <string.h>

#define ENTRY_EMPTY G_MAXUINT64
#define ENTRY_KEPT G_GUINT64_CONSTANT (1)
#define TABLE_MIN_BITS 10

struct _FloorPeer {
  gint lock;
  guint64 *table;
  guint64 mask;
  guint shift;
  guint64 used;
  guint64 bump;
  guint64 *stack[FLOOR_PEER_MAX_PAGES + 1]; /* table indices, per size */
  guint64 depth[FLOOR_PEER_MAX_PAGES + 1];
  guint64 room[FLOOR_PEER_MAX_PAGES + 1];
};

static inline void
floor_lock (FloorPeer *f)
{
  while (__atomic_exchange_n (&f->lock, 1, __ATOMIC_ACQUIRE))
    while (__atomic_load_n (&f->lock, __ATOMIC_RELAXED))
      ;
}

static inline void
floor_unlock (FloorPeer *f)
{
  __atomic_store_n (&f->lock, 0, __ATOMIC_RELEASE);
}

static inline guint64
floor_home (const FloorPeer *f, guint64 pfn)
{
  return (pfn * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15)) >> f->shift;
}

/* the index of pfn's entry, or -1 */
static inline gint64
floor_find (const FloorPeer *f, guint64 pfn)
{
  for (guint64 i = floor_home (f, pfn);; i = (i + 1) & f->mask)
    {
      guint64 e = f->table[i];

      if (e >> 8 == pfn)
        return (gint64) i;
      if (e == ENTRY_EMPTY)
        return -1;
    }
}

static guint64
floor_place (FloorPeer *f, guint64 e)
{
  guint64 i = floor_home (f, e >> 8);

  while (f->table[i] != ENTRY_EMPTY)
    i = (i + 1) & f->mask;
  f->table[i] = e;
  return i;
}

static void
floor_table_init (FloorPeer *f, guint bits)
{
  f->mask = (G_GUINT64_CONSTANT (1) << bits) - 1;
  f->shift = 64 - bits;
  f->table = g_new (guint64, f->mask + 1);
  memset (f->table, 0xff, (f->mask + 1) * sizeof (guint64));
}

/* twice the entries; the kept ranges' stacks follow their entries */
static void
floor_grow (FloorPeer *f)
{
  guint64 *old = f->table, old_size = f->mask + 1;

  floor_table_init (f, 64 - f->shift + 1);
  for (guint p = 1; p <= FLOOR_PEER_MAX_PAGES; p++)
    for (guint64 j = 0; j < f->depth[p]; j++)
      {
        guint64 e = old[f->stack[p][j]];

        old[f->stack[p][j]] = ENTRY_EMPTY;
        f->stack[p][j] = floor_place (f, e);
      }
  for (guint64 i = 0; i < old_size; i++)
    if (old[i] != ENTRY_EMPTY)
      floor_place (f, old[i]);
  g_free (old);
}

FloorPeer *
floor_peer_new (guint64 first_pfn)
{
  FloorPeer *f = g_new0 (FloorPeer, 1);

  floor_table_init (f, TABLE_MIN_BITS);
  f->bump = first_pfn;
  return f;
}

void
floor_peer_destroy (FloorPeer *f)
{
  for (guint p = 1; p <= FLOOR_PEER_MAX_PAGES; p++)
    g_free (f->stack[p]);
  g_free (f->table);
  g_free (f);
}

guint64
floor_peer_alloc (FloorPeer *f, guint64 pages)
{
  guint64 pfn, align;

  g_assert (pages >= 1 && pages <= FLOOR_PEER_MAX_PAGES);
  floor_lock (f);
  if (G_LIKELY (f->depth[pages] != 0))
    {
      guint64 i = f->stack[pages][--f->depth[pages]];
      guint64 e = f->table[i];

      f->table[i] = e & ~ENTRY_KEPT;
      floor_unlock (f);
      return e >> 8;
    }
  align = pow2_ceil (pages);
  pfn = (f->bump + align - 1) & ~(align - 1);
  f->bump = pfn + pages;
  if ((f->used + 1) * 4 > (f->mask + 1) * 3)
    floor_grow (f);
  floor_place (f, (pfn << 8) | (pages << 1));
  f->used++;
  floor_unlock (f);
  return pfn;
}

gboolean
floor_peer_free (FloorPeer *f, guint64 pfn)
{
  gint64 i;
  guint64 e, pages;

  floor_lock (f);
  i = floor_find (f, pfn);
  if (G_UNLIKELY (i < 0 || (f->table[i] & ENTRY_KEPT)))
    {
      floor_unlock (f);
      return FALSE;
    }
  e = f->table[i];
  f->table[i] = e | ENTRY_KEPT;
  pages = (e >> 1) & 0x7f;
  if (G_UNLIKELY (f->depth[pages] == f->room[pages]))
    {
      f->room[pages] = MAX (f->room[pages] * 2, 64);
      f->stack[pages] = g_renew (guint64, f->stack[pages], f->room[pages]);
    }
  f->stack[pages][f->depth[pages]++] = (guint64) i;
  floor_unlock (f);
  return TRUE;
}
