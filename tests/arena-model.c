/* arena-model.c: a reference model of AsmArena
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * The property test and the fuzz target (through the harness of
 * arena-harness.c), and the benchmark's smoke run, drive a real #AsmArena
 * and this model side by side and demand that every answer, every error
 * code and every observable state are equal after every step.  The model
 * is built to be obviously correct rather than fast: it is an array over a
 * small window of W address units (W <= MODEL_MAX_WIDTH) at a chosen base.
 * The windows the tests use sit at 0, across 2^32 and at the very top of
 * the space (ending at G_MAXUINT64), so the library's 64-bit edge
 * arithmetic is exercised while the model stays a plain array.
 *
 * Per unit the model stores:
 *
 *   kind   MODEL_OUTSIDE, or the AsmSegmentKind that holds the unit;
 *   span   the id of the span the unit belongs to (0 outside every span);
 *   owner  the id of the allocation or reservation holding it (0 if none).
 *
 * Ids are never reused, so a segment is simply a maximal run of units with
 * the same (kind, span, owner): allocations and reservations never merge with
 * their neighbours, and free runs never merge across a span boundary even
 * when two spans touch.  "Something starts at addr" means owner[addr] != 0
 * and owner[addr - 1] differs.  Besides the array the model keeps the
 * ASM_FIT_NEXT cursor: the last unit of the previous successful NEXT
 * allocation.
 *
 * Every expected result is computed by brute force from the definitions in
 * DESIGN.md section 4:
 *
 *  - Validation first (INVALID before anything else): a size of 0 or not a
 *    multiple of the quantum; an align that is not 0 and not a power of two
 *    >= the quantum; a phase >= the effective align (0 means the quantum) or
 *    not a multiple of the quantum; a nocross that is not 0 and not a power
 *    of two >= size; min > max; a fit that is not an AsmFit value.
 *  - A candidate address satisfies a request when its size units are free
 *    and inside one span, addr % align == phase, addr >= min,
 *    addr + size - 1 <= max, and [addr, addr + size - 1] crosses no multiple
 *    of nocross.  run[i], the number of free units from unit i to the end of
 *    its free run inside its span, makes the first test O(1).
 *  - LOWEST / HIGHEST: the first / last satisfying candidate of the window.
 *    INSTANT, on an arena without a cache (the only kind this model
 *    describes), is LOWEST.
 *    BEST: over the free segments (maximal free runs inside one span, not
 *    clipped to min/max), the smallest that contains a satisfying address,
 *    ties to the lowest, and inside it its lowest satisfying address.  NEXT:
 *    the lowest satisfying address > cursor, else as LOWEST; a success moves
 *    the cursor to the allocation's last unit.  No satisfying address at all
 *    is NO_SPACE.
 *  - add_span: INVALID when first > last, an end is not a quantum boundary,
 *    or the range overlaps a span.  Adjacent spans are accepted and stay
 *    separate.
 *  - reserve: INVALID when first > last, an end is not a quantum boundary,
 *    or the range is not wholly inside one span; IN_USE if a unit is not
 *    free.
 *  - free(addr): NOT_FOUND unless an allocation or reservation starts at
 *    addr.
 *  - move(addr, req): INVALID for a bad request, then NOT_FOUND if nothing
 *    starts at addr; the old segment is treated as free while the new place
 *    is searched (so they may overlap); on NO_SPACE nothing changes, on
 *    success the old segment is gone and a new ALLOCATED one exists.  A move
 *    with ASM_FIT_NEXT is a NEXT allocation: it uses and advances the
 *    cursor.
 *  - lookup(addr): the allocated or reserved segment holding addr, else
 *    FALSE.  lookup_full(addr): any segment holding addr, free ones too,
 *    with its kind; FALSE outside every span.
 *  - largest_free_within(min, max): the largest number of consecutive free
 *    units inside one free segment and inside [min, max].
 *  - find_free(req): what alloc_full(req) would answer; nothing changes,
 *    not even the NEXT cursor.
 *
 * The model only knows the window: a valid span outside it is MODEL_SKIP
 * (the harness does not send it to the library).  Requests, reservations,
 * frees and lookups may name any address: outside the window there is no
 * span.
 */
#define ASM_TEST_NO_CMOCKA
#include "arena-model-private.h"

/* ---------------------------------------------------------------------- */
/* the model                                                               */

ArenaModel *
arena_model_new (guint64 base, guint width, guint64 quantum)
{
  ArenaModel *m;

  g_assert (width > 0 && width <= MODEL_MAX_WIDTH);
  g_assert (base + (width - 1) >= base);
  g_assert (quantum != 0 && (quantum & (quantum - 1)) == 0);

  m = g_new0 (ArenaModel, 1);
  m->base = base;
  m->width = width;
  m->quantum = quantum;
  m->kind = g_new (guint8, width);
  memset (m->kind, MODEL_OUTSIDE, width);
  m->span = g_new0 (guint32, width);
  m->owner = g_new0 (guint32, width);
  m->run = g_new0 (guint32, width);
  return m;
}

ArenaModel *
arena_model_copy (const ArenaModel *m)
{
  ArenaModel *c = g_memdup2 (m, sizeof *m);

  c->kind = g_memdup2 (m->kind, m->width * sizeof m->kind[0]);
  c->span = g_memdup2 (m->span, m->width * sizeof m->span[0]);
  c->owner = g_memdup2 (m->owner, m->width * sizeof m->owner[0]);
  c->run = g_new0 (guint32, m->width);
  return c;
}

void
arena_model_free (ArenaModel *m)
{
  if (m == NULL)
    return;
  g_free (m->kind);
  g_free (m->span);
  g_free (m->owner);
  g_free (m->run);
  g_free (m);
}

void
arena_model_set_sabotage (ArenaModel *m, ModelSabotage sabotage)
{
  m->sabotage = sabotage;
}

/* Both ends on quantum boundaries: first % q == 0 and (last + 1) % q == 0,
 * written so that last == G_MAXUINT64 does not overflow. */
static gboolean
on_quanta (guint64 q, guint64 first, guint64 last)
{
  return first % q == 0 && last % q == q - 1;
}

int
arena_model_add_span (ArenaModel *m, guint64 first, guint64 last)
{
  guint i, j, k;
  guint32 id;

  if (first > last || !on_quanta (m->quantum, first, last))
    return ASM_ERROR_INVALID;

  if (!model_index (m, first, &i) || !model_index (m, last, &j))
    {
      /* Not representable, unless it overlaps a span we know of. */
      guint64 lo = MAX (first, m->base), hi = MIN (last, model_end (m));

      if (lo <= hi && model_index (m, lo, &i) && model_index (m, hi, &j))
        for (k = i; k <= j; k++)
          if (m->span[k] != 0)
            return ASM_ERROR_INVALID;
      return MODEL_SKIP;
    }

  for (k = i; k <= j; k++)
    if (m->span[k] != 0)
      return ASM_ERROR_INVALID;

  id = ++m->next_id;
  for (k = i; k <= j; k++)
    {
      m->span[k] = id;
      m->kind[k] = ASM_SEGMENT_FREE;
      m->owner[k] = 0;
    }
  m->n_spans++;
  return MODEL_OK;
}

static void
model_claim (ArenaModel *m, guint i, guint64 size, AsmSegmentKind kind)
{
  guint32 id = ++m->next_id;
  guint k;

  for (k = i; k < i + size; k++)
    {
      g_assert (m->kind[k] == ASM_SEGMENT_FREE);
      m->kind[k] = kind;
      m->owner[k] = id;
    }
}

int
arena_model_reserve (ArenaModel *m, guint64 first, guint64 last)
{
  guint i, j, k;

  if (first > last || !on_quanta (m->quantum, first, last))
    return ASM_ERROR_INVALID;
  /* Every span lies inside the window. */
  if (!model_index (m, first, &i) || !model_index (m, last, &j))
    return ASM_ERROR_INVALID;
  for (k = i; k <= j; k++)
    if (m->span[k] == 0 || m->span[k] != m->span[i])
      return ASM_ERROR_INVALID;
  for (k = i; k <= j; k++)
    if (m->kind[k] != ASM_SEGMENT_FREE)
      return ASM_ERROR_IN_USE;
  model_claim (m, i, j - i + 1, ASM_SEGMENT_RESERVED);
  return MODEL_OK;
}

static int
model_validate (const ArenaModel *m, const AsmRequest *req, guint64 *out_align)
{
  guint64 q = m->quantum, align;

  if (req->size == 0 || req->size % q != 0)
    return ASM_ERROR_INVALID;
  if (req->align != 0 && (!is_pow2 (req->align) || req->align < q))
    return ASM_ERROR_INVALID;
  align = req->align != 0 ? req->align : q;
  if (req->phase >= align || req->phase % q != 0)
    return ASM_ERROR_INVALID;
  if (req->nocross != 0 &&
      (!is_pow2 (req->nocross) || req->nocross < req->size))
    return ASM_ERROR_INVALID;
  if (req->min > req->max)
    return ASM_ERROR_INVALID;
  if ((guint) req->fit > ASM_FIT_INSTANT)
    return ASM_ERROR_INVALID;
  *out_align = align;
  return MODEL_OK;
}

static void
model_compute_runs (ArenaModel *m)
{
  guint i;

  for (i = m->width; i-- > 0;)
    {
      if (m->kind[i] != ASM_SEGMENT_FREE)
        m->run[i] = 0;
      else if (i + 1 < m->width && m->kind[i + 1] == ASM_SEGMENT_FREE &&
               (m->span[i + 1] == m->span[i] ||
                m->sabotage == MODEL_SABOTAGE_SPAN_JOIN))
        m->run[i] = m->run[i + 1] + 1;
      else
        m->run[i] = 1;
    }
}

/* Does the request fit at unit @i?  Needs model_compute_runs(). */
static gboolean
model_fits (const ArenaModel *m, const AsmRequest *req, guint64 align, guint i)
{
  guint64 addr = m->base + i, last;

  if (req->size > m->run[i])
    return FALSE;
  last = addr + (req->size - 1);
  if (addr % align != req->phase && m->sabotage != MODEL_SABOTAGE_PHASE)
    return FALSE;
  if (addr < req->min || last > req->max)
    return FALSE;
  if (req->nocross != 0 && m->sabotage != MODEL_SABOTAGE_NOCROSS &&
      addr / req->nocross != last / req->nocross)
    return FALSE;
  return TRUE;
}

static gboolean
model_find (ArenaModel *m, const AsmRequest *req, guint64 align, guint *out_i)
{
  guint i;

  model_compute_runs (m);

  switch (req->fit)
    {
    case ASM_FIT_NEXT:
      if (m->has_cursor)
        {
          guint64 from = m->cursor + 1;

          if (m->sabotage == MODEL_SABOTAGE_NEXT_CURSOR)
            from = m->cursor;
          if (from != 0) /* the cursor was not the last unit of the space */
            for (i = 0; i < m->width; i++)
              if (m->base + i >= from && model_fits (m, req, align, i))
                {
                  *out_i = i;
                  return TRUE;
                }
        }
      G_GNUC_FALLTHROUGH;
    case ASM_FIT_LOWEST:
    case ASM_FIT_INSTANT: /* any fit; without a cache, the lowest */
      for (i = 0; i < m->width; i++)
        if (model_fits (m, req, align, i))
          {
            *out_i = i;
            return TRUE;
          }
      return FALSE;

    case ASM_FIT_HIGHEST:
      for (i = m->width; i-- > 0;)
        if (model_fits (m, req, align, i))
          {
            *out_i = i;
            return TRUE;
          }
      return FALSE;

    case ASM_FIT_BEST:
      {
        gboolean found = FALSE;
        guint best_len = 0, best_i = 0;

        i = 0;
        while (i < m->width)
          {
            guint len, k;

            /* run[] at the first unit of a free segment is its length */
            if (m->kind[i] != ASM_SEGMENT_FREE)
              {
                i++;
                continue;
              }
            len = m->run[i];
            for (k = i; k < i + len; k++)
              if (model_fits (m, req, align, k))
                {
                  if (!found || len < best_len ||
                      (len == best_len &&
                       m->sabotage == MODEL_SABOTAGE_BEST_TIE))
                    {
                      found = TRUE;
                      best_len = len;
                      best_i = k;
                    }
                  break;
                }
            i += len;
          }
        if (found)
          *out_i = best_i;
        return found;
      }

    default:
      g_assert_not_reached ();
    }
}

int
arena_model_alloc (ArenaModel *m, const AsmRequest *req, guint64 *out_addr)
{
  guint64 align = 0;
  guint i;
  int r = model_validate (m, req, &align);

  if (r != MODEL_OK)
    return r;
  if (!model_find (m, req, align, &i))
    return ASM_ERROR_NO_SPACE;
  model_claim (m, i, req->size, ASM_SEGMENT_ALLOCATED);
  if (req->fit == ASM_FIT_NEXT)
    {
      m->has_cursor = TRUE;
      m->cursor = m->base + i + (req->size - 1);
    }
  *out_addr = m->base + i;
  return MODEL_OK;
}

int
arena_model_query (ArenaModel *m, const AsmRequest *req, guint64 *out_addr)
{
  guint64 align = 0;
  guint i;
  int r = model_validate (m, req, &align);

  if (r != MODEL_OK)
    return r;
  if (!model_find (m, req, align, &i))
    return ASM_ERROR_NO_SPACE;
  *out_addr = m->base + i;
  return MODEL_OK;
}

static void
model_release (ArenaModel *m, guint i)
{
  guint32 id = m->owner[i];

  for (; i < m->width && m->owner[i] == id; i++)
    {
      m->owner[i] = 0;
      m->kind[i] = ASM_SEGMENT_FREE;
    }
}

int
arena_model_free_at (ArenaModel *m, guint64 addr)
{
  guint i;

  if (!model_index (m, addr, &i) || !owned_start (m, i))
    return ASM_ERROR_NOT_FOUND;
  model_release (m, i);
  return MODEL_OK;
}

int
arena_model_move (ArenaModel *m, guint64 addr, const AsmRequest *req,
                  guint64 *out_addr)
{
  guint64 align = 0;
  guint i, e, k, n;
  guint8 old_kind;
  guint32 old_owner;
  int r = model_validate (m, req, &align);

  if (r != MODEL_OK)
    return r;
  if (!model_index (m, addr, &i) || !owned_start (m, i))
    return ASM_ERROR_NOT_FOUND;

  e = run_end (m, i);
  old_kind = m->kind[i];
  old_owner = m->owner[i];
  if (m->sabotage != MODEL_SABOTAGE_MOVE_OLD)
    model_release (m, i);
  if (!model_find (m, req, align, &n))
    {
      for (k = i; k <= e; k++)
        {
          m->kind[k] = old_kind;
          m->owner[k] = old_owner;
        }
      return ASM_ERROR_NO_SPACE;
    }
  if (m->sabotage == MODEL_SABOTAGE_MOVE_OLD)
    model_release (m, i);
  model_claim (m, n, req->size, ASM_SEGMENT_ALLOCATED);
  if (req->fit == ASM_FIT_NEXT)
    {
      m->has_cursor = TRUE;
      m->cursor = m->base + n + (req->size - 1);
    }
  *out_addr = m->base + n;
  return MODEL_OK;
}

int
arena_model_lookup (const ArenaModel *m, guint64 addr, AsmRange *out_segment)
{
  guint i;

  if (!model_index (m, addr, &i) || m->kind[i] == MODEL_OUTSIDE)
    return MODEL_OUTSIDE;
  out_segment->first = m->base + run_start (m, i);
  out_segment->last = m->base + run_end (m, i);
  return m->kind[i];
}

GArray *
arena_model_segments (const ArenaModel *m)
{
  GArray *segs = g_array_new (FALSE, FALSE, sizeof (ModelSegment));
  guint i = 0;

  while (i < m->width)
    {
      guint e = run_end (m, i);

      if (m->kind[i] != MODEL_OUTSIDE)
        {
          ModelSegment s = {
            .range = { m->base + i, m->base + e },
            .kind = m->kind[i],
          };
          g_array_append_val (segs, s);
        }
      i = e + 1;
    }
  return segs;
}

void
arena_model_stats_from_segments (const ArenaModel *m, const GArray *segs,
                                 AsmArenaStats *st)
{
  guint k;

  memset (st, 0, sizeof *st);
  st->n_spans = m->n_spans;
  for (k = 0; k < segs->len; k++)
    {
      const ModelSegment *s = &g_array_index (segs, ModelSegment, k);
      guint64 units = s->range.last - s->range.first + 1;

      st->span_units += units;
      switch (s->kind)
        {
        case ASM_SEGMENT_FREE:
          st->free_units += units;
          st->n_free_segments++;
          st->largest_free = MAX (st->largest_free, units);
          break;
        case ASM_SEGMENT_ALLOCATED:
          st->allocated_units += units;
          st->n_allocated++;
          break;
        case ASM_SEGMENT_RESERVED:
          st->reserved_units += units;
          st->n_reserved++;
          break;
        default:
          g_assert_not_reached ();
        }
    }
}

void
arena_model_get_stats (const ArenaModel *m, AsmArenaStats *st)
{
  g_autoptr(GArray) segs = arena_model_segments (m);

  arena_model_stats_from_segments (m, segs, st);
}

guint64
arena_model_largest_free_within (const ArenaModel *m, guint64 min, guint64 max)
{
  guint64 best = 0, cur = 0;
  guint i;

  for (i = 0; i < m->width; i++)
    {
      guint64 addr = m->base + i;

      if (m->kind[i] == ASM_SEGMENT_FREE && addr >= min && addr <= max)
        {
          if (cur > 0 && same_segment (m, i - 1, i))
            cur++;
          else
            cur = 1;
          best = MAX (best, cur);
        }
      else
        cur = 0;
    }
  return best;
}
