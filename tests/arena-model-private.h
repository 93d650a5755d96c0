/* arena-model-private.h: the inside of ArenaModel
 *
 * For arena-model.c and the generators of arena-harness.c, which choose
 * addresses and sizes that mean something in the model's current state.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "arena-model.h"

G_BEGIN_DECLS

struct _ArenaModel {
  guint64 base;    /* address of unit 0 */
  guint width;     /* units in the window; base + width - 1 <= G_MAXUINT64 */
  guint64 quantum; /* the arena's quantum, a power of two */
  guint8 *kind;    /* per unit: AsmSegmentKind or MODEL_OUTSIDE */
  guint32 *span;   /* per unit: span id, 0 outside every span */
  guint32 *owner;  /* per unit: allocation/reservation id, 0 if none */
  guint32 *run;    /* scratch: free units from here to the run's end */
  guint32 next_id; /* ids of spans and segments; never reused */
  guint n_spans;
  gboolean has_cursor; /* a NEXT allocation has succeeded */
  guint64 cursor;      /* last unit of the previous NEXT allocation */
  ModelSabotage sabotage;
};

static inline guint64
model_end (const ArenaModel *m)
{
  return m->base + (m->width - 1);
}

/* Unit index of @addr, if it is inside the window. */
static inline gboolean
model_index (const ArenaModel *m, guint64 addr, guint *out_i)
{
  guint64 off = addr - m->base;

  if (off >= m->width)
    return FALSE;
  *out_i = (guint) off;
  return TRUE;
}

static inline gboolean
is_pow2 (guint64 x)
{
  return x != 0 && (x & (x - 1)) == 0;
}

/* Units @i and @j belong to the same segment if they are adjacent. */
static inline gboolean
same_segment (const ArenaModel *m, guint i, guint j)
{
  return m->kind[i] == m->kind[j] && m->span[i] == m->span[j] &&
         m->owner[i] == m->owner[j];
}

static inline guint
run_start (const ArenaModel *m, guint i)
{
  while (i > 0 && same_segment (m, i - 1, i))
    i--;
  return i;
}

static inline guint
run_end (const ArenaModel *m, guint i)
{
  while (i + 1 < m->width && same_segment (m, i + 1, i))
    i++;
  return i;
}

static inline gboolean
owned_start (const ArenaModel *m, guint i)
{
  return m->owner[i] != 0 && (i == 0 || m->owner[i - 1] != m->owner[i]);
}
/* The stats of the segments arena_model_segments() gave. */
void arena_model_stats_from_segments (const ArenaModel *m, const GArray *segs,
                                      AsmArenaStats *st);

G_END_DECLS
