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
