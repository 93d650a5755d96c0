/* bench-common.h: the clock and the random numbers every bench program
 * uses, so that their seeds mean the same sequences everywhere
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <time.h>

#define NS_PER_S G_GUINT64_CONSTANT (1000000000)

static inline guint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * NS_PER_S + (guint64) ts.tv_nsec;
}

/* splitmix64: seeded, repeatable, and fast enough not to be measured */
typedef struct {
  guint64 s;
} Rng;

static inline Rng
rng_new (guint64 seed)
{
  return (Rng) { seed * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15) + 1 };
}

static inline guint64
rng_next (Rng *r)
{
  guint64 z = (r->s += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* uniform in [0, n) */
static inline guint64
rng_below (Rng *r, guint64 n)
{
  return (guint64) (((unsigned __int128) rng_next (r) * n) >> 64);
}

static inline guint64
pow2_ceil (guint64 v)
{
  return v <= 1 ? 1 : G_GUINT64_CONSTANT (1) << (64 - __builtin_clzll (v - 1));
}

/* W1's request sizes, in pages: 1 page w.p. 1/2, else class
 * (2^(e-1), 2^e] w.p. 2^-e (e = 1..6), uniform inside it */
static inline guint64
w1_pages (Rng *r)
{
  guint64 x = rng_next (r);
  guint e = 1;
  guint64 lo, hi;

  if (x & 1)
    return 1;
  x >>= 1;
  while (e < 6 && (x & 1))
    {
      e++;
      x >>= 1;
    }
  x >>= 1;
  lo = (G_GUINT64_CONSTANT (1) << (e - 1)) + 1;
  hi = G_GUINT64_CONSTANT (1) << e;
  return lo + x % (hi - lo + 1);
}
