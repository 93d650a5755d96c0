/* arena-harness.c: operations on AsmArena, checked against the model
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * The property test (tests/test-arena-prop.c) and the fuzz target
 * (tests/fuzz/fuzz-arena.c) generate operations here and apply them to
 * real arenas and to the reference model of arena-model.c; every answer,
 * every error code and every observable state must be equal.
 *
 * The model only knows the window, so the generators never produce a valid
 * span outside it; were one produced, the model answers MODEL_SKIP and the
 * harness does not send it to the library.  Requests, reservations, frees
 * and lookups may name any address: outside the window there is no span.
 *
 * The harness keeps HARNESS_SLOTS arenas, each with its own model.  Cloning
 * copies the model; from then on the two are driven independently, which
 * shows that copy-on-write never leaks a change from one into the other.
 * After every operation the arena it touched must pass asm_arena_check(),
 * and after every mutation its walk (every segment, in order, with its kind)
 * and its stats must equal the model's; every few steps all slots are
 * compared.  Operations are concrete values (addresses, not "the third
 * allocation"), so a recorded sequence replays on a fresh harness and can be
 * shrunk by deleting operations.
 *
 * Choices come from a ChoiceSource (asm-test.h): a seeded PRNG in the
 * property test, the input bytes in the fuzz target (a choice among n
 * options consumes as few bytes as n needs; an exhausted input reads zeros
 * and ends the run). */
#define ASM_TEST_NO_CMOCKA
#include "arena-harness.h"
#include "arena-model-private.h"

#include "asm-arena-private.h"

#define BELOW(n) choice_below (s, (n))
#define PICK(...)                                                              \
  ({                                                                           \
    const guint64 pick_[] = { __VA_ARGS__ };                                   \
    pick_[BELOW (G_N_ELEMENTS (pick_))];                                       \
  })

/* ---------------------------------------------------------------------- */
/* generators                                                              */

static guint64
gen_addr (const ArenaModel *m, ChoiceSource *s)
{
  guint64 base = m->base, end = model_end (m), q = m->quantum;
  guint w = m->width;

  switch (BELOW (12))
    {
    case 0:
    case 1:
    case 2:
      return base + q * BELOW (w / q);
    case 3:
      return base + BELOW (w);
    case 4:
    case 5:
      return base + run_start (m, BELOW (w));
    case 6:
      return base + run_end (m, BELOW (w)) + 1;
    case 7:
      /* the middle is 2^32 in the window that straddles it */
      return PICK (base, base - 1, end, end + 1, base - q, end - q + 1,
                   base + w / 2, base + w / 2 - q, base + w / 2 - 1);
    case 8:
      return PICK (0, G_MAXUINT64, G_GUINT64_CONSTANT (1) << 32,
                   (G_GUINT64_CONSTANT (1) << 32) - 1,
                   G_GUINT64_CONSTANT (1) << 63, G_MAXUINT64 - q + 1);
    case 9:
      return choice_u64 (s);
    default:
      return base - w / 4 + BELOW (w + w / 2);
    }
}

/* Pick a random unit for which @pred holds; FALSE if there is none. */
static gboolean
pick_unit (const ArenaModel *m, ChoiceSource *s,
           gboolean (*pred) (const ArenaModel *, guint), guint *out_i)
{
  guint i, n = 0, k;

  for (i = 0; i < m->width; i++)
    if (pred (m, i))
      n++;
  if (n == 0)
    return FALSE;
  k = BELOW (n);
  for (i = 0; i < m->width; i++)
    if (pred (m, i) && k-- == 0)
      break;
  *out_i = i;
  return TRUE;
}

static gboolean
pred_owned_start (const ArenaModel *m, guint i)
{
  return owned_start (m, i);
}

static gboolean
pred_span_start (const ArenaModel *m, guint i)
{
  return m->span[i] != 0 && (i == 0 || m->span[i - 1] != m->span[i]);
}

static gboolean
pred_free_start (const ArenaModel *m, guint i)
{
  return m->kind[i] == ASM_SEGMENT_FREE &&
         (i == 0 || !same_segment (m, i - 1, i));
}

static gboolean
pred_in_span (const ArenaModel *m, guint i)
{
  return m->span[i] != 0;
}

static guint
span_end (const ArenaModel *m, guint i)
{
  while (i + 1 < m->width && m->span[i + 1] == m->span[i])
    i++;
  return i;
}

static guint64
gen_size (const HarnessConfig *cfg, const ArenaModel *m, ChoiceSource *s)
{
  guint64 q = m->quantum;
  guint w = m->width;
  guint i;

  if (cfg->tiny && BELOW (10) < 8)
    return q * (1 + BELOW (2));
  switch (BELOW (20))
    {
    case 0:
      if (q > 1 && BELOW (2))
        return q * BELOW (4) + 1 + BELOW (q - 1);
      return 0;
    case 1:
      return PICK (G_MAXUINT64 - q + 1, G_GUINT64_CONSTANT (1) << 63,
                   G_GUINT64_CONSTANT (1) << 32, (guint64) w + q);
    case 3:
    case 4:
      return q * (1 + BELOW (w / q));
    case 5:
    case 6:
      /* exactly a free segment, or one quantum less */
      if (pick_unit (m, s, pred_free_start, &i))
        {
          guint64 len = run_end (m, i) - i + 1;

          return len > q && BELOW (3) == 0 ? len - q : len;
        }
      return q;
    case 2:
    case 7:
    case 8:
    case 9:
    case 10:
    case 11:
      return q * (1 + BELOW (32));
    default:
      return q * (1 + BELOW (4));
    }
}

static guint64
next_pow2 (guint64 x)
{
  guint64 p = 1;

  while (p < x && p != 0)
    p <<= 1;
  return p;
}

static void
gen_request (const HarnessConfig *cfg, const ArenaModel *m, ChoiceSource *s,
             AsmRequest *req)
{
  guint64 q = m->quantum, align, r;

  *req = ASM_REQUEST_INIT (gen_size (cfg, m, s));

  /* align: half the time 0, rarely invalid */
  r = BELOW (32);
  if (r < 16)
    req->align = 0;
  else if (r < 24)
    req->align = q << BELOW (6);
  else if (r < 26)
    req->align = G_GUINT64_CONSTANT (1) << BELOW (11); /* may be < q */
  else if (r < 28)
    req->align = G_GUINT64_CONSTANT (1) << BELOW (64);
  else if (r < 31)
    req->align =
        PICK (G_GUINT64_CONSTANT (1) << 32, G_GUINT64_CONSTANT (1) << 63,
              (guint64) m->width, (guint64) m->width / 2);
  else
    req->align = PICK (3, q * 3, G_MAXUINT64, q > 1 ? q / 2 : 6);

  /* phase: mostly 0, often one that some address of the window has */
  align = req->align != 0 ? req->align : q;
  r = BELOW (20);
  if (r < 12)
    req->phase = 0;
  else if (r < 15)
    req->phase = q * BELOW (align / q);
  else if (r < 19)
    req->phase =
        is_pow2 (align) && align >= q ? gen_addr (m, s) % align / q * q : 0;
  else
    req->phase = PICK (align, align + q, 1, G_MAXUINT64,
                       q * BELOW (8) + (q > 1 ? 1 : 0));

  /* nocross: mostly none, some a little above the size, rarely invalid */
  r = BELOW (20);
  if (r < 14)
    req->nocross = 0;
  else if (r < 17)
    {
      guint64 p = next_pow2 (req->size);
      guint shift = BELOW (4);

      req->nocross = p != 0 && (p << shift) != 0 ? p << shift : p;
    }
  else if (r < 19)
    req->nocross = PICK (G_GUINT64_CONSTANT (1) << 32,
                         G_GUINT64_CONSTANT (1) << 63, q << BELOW (10));
  else
    req->nocross =
        PICK (next_pow2 (req->size) / 2, 3, req->size + q, G_MAXUINT64);

  /* min and max: mostly the whole space */
  r = BELOW (20);
  if (r < 10)
    req->min = 0; /* and max G_MAXUINT64 */
  else if (r < 12)
    {
      /* a tight window around the middle (2^32 in the window across it) */
      if (req->size != 0 && req->size <= m->width / 2)
        {
          req->min = m->base + m->width / 2 - q * BELOW (req->size / q + 1);
          req->max = req->min + (req->size - 1) + q * BELOW (2);
        }
    }
  else if (r < 14)
    req->min = gen_addr (m, s);
  else if (r < 16)
    req->max = gen_addr (m, s);
  else if (r < 19)
    {
      guint64 slack = BELOW (4 * q);

      req->min = gen_addr (m, s);
      req->max = req->min + (req->size - 1) + slack;
      if (req->max < req->min || req->size == 0)
        req->max = G_MAXUINT64;
    }
  else
    {
      req->min = gen_addr (m, s); /* may be above max */
      req->max = gen_addr (m, s);
    }

  /* The IOVA shapes: a power-of-two size aligned to itself, or a size
   * between half the alignment and the alignment, phase 0. */
  if (BELOW (8) == 0)
    {
      guint shift = 1 + BELOW (8);

      req->align = q << shift;
      req->phase = 0;
      if (BELOW (2))
        req->size = req->align;
      else
        req->size = req->align / 2 + q * (1 + BELOW ((req->align / 2) / q - 1));
      if (req->nocross != 0 && req->nocross < req->size)
        req->nocross = 0;
    }

  req->fit = BELOW (5);
  if (BELOW (128) == 0)
    req->fit = (AsmFit) PICK (5, 6, 0xff, G_MAXINT);
}

static void
gen_add_span (const ArenaModel *m, ChoiceSource *s, ModelOp *op)
{
  guint64 q = m->quantum, base = m->base;
  guint w = m->width, units = w / q;
  guint64 len =
      q * (1 + BELOW (MIN (units, PICK (4, 16, 64, units / 2, units))));
  guint64 fi, li; /* unit indexes */
  guint i;

  len = MIN (len, (guint64) w);
  switch (BELOW (12))
    {
    case 6:
      if (pick_unit (m, s, pred_span_start, &i) && span_end (m, i) + 1 < w)
        {
          fi = span_end (m, i) + 1;
          li = MIN (fi + len - 1, (guint64) w - 1);
          break;
        }
      goto random;
    case 7:
      if (pick_unit (m, s, pred_span_start, &i) && i > 0)
        {
          li = i - 1;
          fi = li + 1 >= len ? li + 1 - len : 0;
          break;
        }
      goto random;
    case 8:
      li = w - 1;
      fi = w - len;
      break;
    case 9:
      fi = 0;
      li = len - 1;
      break;
    case 5:
      /* across the middle of the window */
      fi = w / 2 - MIN ((guint64) w / 2, q * (1 + BELOW (len / q)));
      li = MIN (fi + len - 1 + q, (guint64) w - 1);
      break;
    case 10:
      if (pick_unit (m, s, pred_in_span, &i))
        {
          fi = i - i % q;
          li = MIN (fi + len - 1, (guint64) w - 1);
          break;
        }
      goto random;
    case 11:
      switch (BELOW (4))
        {
        case 0:
          op->a = base + q * BELOW (units) + (q > 1 ? 1 + BELOW (q - 1) : 0);
          op->b = op->a + len - 1;
          if (q == 1)
            op->b = op->a - 1 - BELOW (4); /* reversed */
          return;
        case 1:
          op->a = base + q * BELOW (units);
          op->b = op->a - q;
          return;
        case 2:
          op->a = base + q * BELOW (units);
          op->b = op->a + len - 1 + (q > 1 ? 1 : q);
          return;
        default:
          op->a = 0;
          op->b = G_MAXUINT64;
          return;
        }
    default:
    random:
      fi = q * BELOW (units);
      li = MIN (fi + len - 1, (guint64) w - 1);
      break;
    }
  op->a = base + fi;
  op->b = base + li;
}

static void
gen_reserve (const ArenaModel *m, ChoiceSource *s, ModelOp *op)
{
  guint64 q = m->quantum, base = m->base, end = model_end (m);
  guint w = m->width;
  guint i, e;

  switch (BELOW (12))
    {
    case 4:
      if (pick_unit (m, s, pred_free_start, &i))
        {
          op->a = base + i;
          op->b = base + run_end (m, i);
          return;
        }
      break;
    case 5:
      if (pick_unit (m, s, pred_free_start, &i))
        {
          guint64 nq;

          e = run_end (m, i);
          nq = (e - i + 1) / q;
          op->a = base + i + q * BELOW (nq);
          op->b = op->a + q * (1 + BELOW ((base + e - op->a + 1) / q)) - 1;
          return;
        }
      break;
    case 6:
      if (pick_unit (m, s, pred_span_start, &i))
        {
          e = span_end (m, i);
          op->a = base + e + 1 - q * (1 + BELOW (2));
          op->b = base + e + q * (1 + BELOW (2));
          return;
        }
      break;
    case 7:
      op->a = base + q * BELOW (w / q);
      op->b = op->a + q * (1 + BELOW (w / q / 4 + 1)) - 1;
      return;
    case 8:
      op->a = base + q * BELOW (w / q);
      op->b = op->a + q * (1 + BELOW (4)) - 1;
      switch (BELOW (3))
        {
        case 0:
          op->a += q > 1 ? 1 : 0;
          break;
        case 1:
          op->b -= q > 1 ? 1 : 0;
          break;
        default:
          op->b = op->a - 1;
          break;
        }
      return;
    case 9:
      if (BELOW (2))
        {
          op->a = base - q * (1 + BELOW (4));
          op->b = op->a + q * (1 + BELOW (8)) - 1;
        }
      else
        {
          op->a = end + 1 - q * BELOW (4);
          op->b = op->a + q * (1 + BELOW (8)) - 1;
        }
      return;
    case 10:
      if (pick_unit (m, s, pred_owned_start, &i))
        {
          op->a = base + i - q * BELOW (2);
          op->b = op->a + q * (1 + BELOW (4)) - 1;
          return;
        }
      break;
    case 11:
      op->a = gen_addr (m, s);
      op->b = op->a + q * (1 + BELOW (8)) - 1;
      return;
    default:
      break;
    }
  op->a = base + run_start (m, BELOW (w));
  op->a -= op->a % q;
  op->b = op->a + q * (1 + BELOW (8)) - 1;
}

static guint64
gen_segment_addr (const ArenaModel *m, ChoiceSource *s)
{
  guint i;

  switch (BELOW (10))
    {
    case 8:
      if (pick_unit (m, s, pred_owned_start, &i))
        return m->base + i + PICK (m->quantum, 1, -1);
      break;
    case 9:
      return gen_addr (m, s);
    default:
      if (pick_unit (m, s, pred_owned_start, &i))
        return m->base + i;
      break;
    }
  return gen_addr (m, s);
}

static void
gen_move (const HarnessConfig *cfg, const ArenaModel *m, ChoiceSource *s,
          ModelOp *op)
{
  guint64 q = m->quantum;
  guint i;

  op->a = gen_segment_addr (m, s);
  gen_request (cfg, m, s, &op->req);

  /* Now and then a request that can only be met near the old place. */
  if (BELOW (4) == 0 && model_index (m, op->a, &i) && m->owner[i] != 0)
    {
      guint e = run_end (m, run_start (m, i));
      guint64 first = m->base + run_start (m, i), last = m->base + e;
      guint64 below = q * BELOW (4), above = q * BELOW (4);

      op->req.size = last - first + 1 + q * BELOW (3);
      if (op->req.size > q && BELOW (2))
        op->req.size -= 2 * q > op->req.size ? q : 2 * q;
      op->req.min = first >= below ? first - below : 0;
      op->req.max = last + above >= last ? last + above : G_MAXUINT64;
      op->req.align = 0;
      op->req.phase = 0;
      op->req.nocross = 0;
    }
}

static guint
live_slots (const Harness *h)
{
  guint k, n = 0;

  for (k = 0; k < HARNESS_SLOTS; k++)
    if (h->arena[k] != NULL)
      n++;
  return n;
}

static guint
pick_live_slot (const Harness *h, ChoiceSource *s)
{
  guint k, n = BELOW (live_slots (h));

  for (k = 0; k < HARNESS_SLOTS; k++)
    if (h->arena[k] != NULL && n-- == 0)
      return k;
  g_assert_not_reached ();
}

void
harness_gen (Harness *h, ChoiceSource *s, ModelOp *op)
{
  guint weights[OP_N] = { 0 }, total = 0, k, r;
  const ArenaModel *m;
  gboolean shrinking;

  memset (op, 0, sizeof *op);
  op->slot = pick_live_slot (h, s);
  m = h->model[op->slot];

  weights[OP_ADD_SPAN] = m->n_spans == 0 ? 60 : m->n_spans < 3 ? 6 : 2;
  weights[OP_RESERVE] = 6;
  weights[OP_ALLOC] = h->cfg.tiny ? 25 : 3;
  weights[OP_ALLOC_FULL] = 26;
  weights[OP_FIND_FREE] = 4;
  shrinking =
      h->cfg.shrink_every != 0 && (h->step / h->cfg.shrink_every) % 4 == 3;
  weights[OP_FREE] = shrinking ? 100 : h->cfg.free_weight;
  weights[OP_MOVE] = 8;
  weights[OP_LOOKUP] = 5;
  weights[OP_LOOKUP_FULL] = 4;
  weights[OP_LARGEST_FREE] = 2;
  weights[OP_CLONE] = 2;
  weights[OP_DROP] = live_slots (h) > 1 ? 1 : 0;
  weights[OP_VERIFY] = 3;
  for (k = 0; k < OP_N; k++)
    total += weights[k];
  r = BELOW (total);
  for (k = 0; r >= weights[k]; k++)
    r -= weights[k];
  op->kind = k;

  switch (op->kind)
    {
    case OP_ADD_SPAN:
      gen_add_span (m, s, op);
      break;
    case OP_RESERVE:
      gen_reserve (m, s, op);
      break;
    case OP_ALLOC:
      op->req = ASM_REQUEST_INIT (gen_size (&h->cfg, m, s));
      break;
    case OP_ALLOC_FULL:
    case OP_FIND_FREE:
      gen_request (&h->cfg, m, s, &op->req);
      break;
    case OP_FREE:
      op->a = gen_segment_addr (m, s);
      /* Every other shrinking stretch frees from the low end: that empties
       * one side of the tree while its neighbour stays full, so nodes
       * borrow from their siblings; uniform freeing makes them merge. */
      if (shrinking && (h->step / h->cfg.shrink_every / 4) % 2 == 0 &&
          BELOW (4) != 0)
        for (k = 0; k < m->width; k++)
          if (owned_start (m, k))
            {
              op->a = m->base + k;
              break;
            }
      break;
    case OP_MOVE:
      gen_move (&h->cfg, m, s, op);
      break;
    case OP_LOOKUP:
    case OP_LOOKUP_FULL:
      op->a = gen_addr (m, s);
      break;
    case OP_LARGEST_FREE:
      op->a = BELOW (3) == 0 ? 0 : gen_addr (m, s);
      op->b = BELOW (3) == 0 ? G_MAXUINT64 : gen_addr (m, s);
      break;
    case OP_CLONE:
      op->slot2 = BELOW (HARNESS_SLOTS);
      break;
    case OP_DROP:
      break;
    case OP_VERIFY:
      op->b = BELOW (4) == 0 ? 1 + BELOW (8) : G_MAXUINT64;
      break;
    default:
      g_assert_not_reached ();
    }
}

/* ---------------------------------------------------------------------- */
/* the harness                                                             */

const char *
model_window_name (ModelWindow w)
{
  switch (w)
    {
    case WINDOW_ZERO:
      return "zero";
    case WINDOW_4G:
      return "4g";
    case WINDOW_TOP:
      return "top";
    default:
      return "?";
    }
}

void
harness_config_init (HarnessConfig *cfg, ModelWindow window, guint width,
                     guint64 quantum, guint free_weight)
{
  g_assert (width % 16 == 0 && width <= MODEL_MAX_WIDTH);
  memset (cfg, 0, sizeof *cfg);
  cfg->window = window;
  cfg->width = width;
  cfg->quantum = quantum;
  cfg->free_weight = free_weight;
  switch (window)
    {
    case WINDOW_ZERO:
      cfg->base = 0;
      break;
    case WINDOW_4G:
      cfg->base = (G_GUINT64_CONSTANT (1) << 32) - width / 2;
      break;
    case WINDOW_TOP:
      cfg->base = G_MAXUINT64 - width + 1;
      break;
    default:
      g_assert_not_reached ();
    }
}

Harness *
harness_new (const HarnessConfig *cfg, ModelSabotage sabotage)
{
  Harness *h = g_new0 (Harness, 1);

  h->cfg = *cfg;
  h->sabotage = sabotage;
  h->why = g_string_new (NULL);
  h->arena[0] = asm_arena_new ("prop-0", cfg->quantum);
  h->model[0] = arena_model_new (cfg->base, cfg->width, cfg->quantum);
  arena_model_set_sabotage (h->model[0], sabotage);
  h->n_created = 1;
  return h;
}

void
harness_free (Harness *h)
{
  guint k;

  for (k = 0; k < HARNESS_SLOTS; k++)
    {
      g_clear_pointer (&h->arena[k], asm_arena_unref);
      g_clear_pointer (&h->model[k], arena_model_free);
    }
  g_string_free (h->why, TRUE);
  g_free (h);
}

static const char *
fit_name (AsmFit fit)
{
  static const char *const names[] = { "LOWEST", "HIGHEST", "BEST", "NEXT",
                                       "INSTANT" };

  return (guint) fit < G_N_ELEMENTS (names) ? names[fit] : "?";
}

static const char *
kind_name (int kind)
{
  static const char *const names[] = { "FREE", "ALLOCATED", "RESERVED",
                                       "OUTSIDE" };

  return kind >= 0 && (guint) kind < G_N_ELEMENTS (names) ? names[kind] : "?";
}

static void
format_request (const AsmRequest *r, GString *out)
{
  g_string_append_printf (out,
                          "{ .size = 0x%" G_GINT64_MODIFIER
                          "x, .align = 0x%" G_GINT64_MODIFIER
                          "x, .phase = 0x%" G_GINT64_MODIFIER
                          "x, .nocross = 0x%" G_GINT64_MODIFIER
                          "x, .min = 0x%" G_GINT64_MODIFIER
                          "x, .max = 0x%" G_GINT64_MODIFIER "x, .fit = ",
                          r->size, r->align, r->phase, r->nocross, r->min,
                          r->max);
  if ((guint) r->fit <= ASM_FIT_INSTANT)
    g_string_append_printf (out, "ASM_FIT_%s }", fit_name (r->fit));
  else
    g_string_append_printf (out, "(AsmFit) %u }", (guint) r->fit);
}

#define X "0x%" G_GINT64_MODIFIER "x"

void
model_op_format (const ModelOp *op, GString *out)
{
  switch (op->kind)
    {
    case OP_ADD_SPAN:
      g_string_append_printf (out, "add_span (a%u, " X ", " X ")", op->slot,
                              op->a, op->b);
      break;
    case OP_RESERVE:
      g_string_append_printf (out, "reserve (a%u, " X ", " X ")", op->slot,
                              op->a, op->b);
      break;
    case OP_ALLOC:
      g_string_append_printf (out, "alloc (a%u, " X ")", op->slot,
                              op->req.size);
      break;
    case OP_ALLOC_FULL:
      g_string_append_printf (out, "alloc_full (a%u, ", op->slot);
      format_request (&op->req, out);
      g_string_append (out, ")");
      break;
    case OP_FIND_FREE:
      g_string_append_printf (out, "find_free (a%u, ", op->slot);
      format_request (&op->req, out);
      g_string_append (out, ")");
      break;
    case OP_FREE:
      g_string_append_printf (out, "free (a%u, " X ")", op->slot, op->a);
      break;
    case OP_MOVE:
      g_string_append_printf (out, "move (a%u, " X ", ", op->slot, op->a);
      format_request (&op->req, out);
      g_string_append (out, ")");
      break;
    case OP_LOOKUP:
      g_string_append_printf (out, "lookup (a%u, " X ")", op->slot, op->a);
      break;
    case OP_LOOKUP_FULL:
      g_string_append_printf (out, "lookup_full (a%u, " X ")", op->slot, op->a);
      break;
    case OP_LARGEST_FREE:
      g_string_append_printf (out, "largest_free_within (a%u, " X ", " X ")",
                              op->slot, op->a, op->b);
      break;
    case OP_CLONE:
      g_string_append_printf (out, "a%u = clone (a%u)", op->slot2, op->slot);
      break;
    case OP_DROP:
      g_string_append_printf (out, "unref (a%u)", op->slot);
      break;
    case OP_VERIFY:
      g_string_append_printf (out,
                              "verify (a%u, walk stops after %" G_GUINT64_FORMAT
                              ")",
                              op->slot, op->b);
      break;
    default:
      g_string_append (out, "?");
      break;
    }
}

static gboolean G_GNUC_PRINTF (2, 3) fail (Harness *h, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  g_string_append_vprintf (h->why, fmt, ap);
  va_end (ap);
  return FALSE;
}

/* Compare a call's outcome with the model's expectation. */
static gboolean
expect_outcome (Harness *h, int expected, gboolean ok, const GError *error)
{
  if (expected == MODEL_OK)
    {
      if (!ok || error != NULL)
        return fail (h, "expected success, got %s (%s)",
                     error ? test_code_name (error->code)
                           : "FALSE without error",
                     error ? error->message : "");
      return TRUE;
    }
  if (ok)
    return fail (h, "expected error %s, got success",
                 test_code_name (expected));
  if (error == NULL)
    return fail (h, "expected error %s, got FALSE without a GError",
                 test_code_name (expected));
  if (error->domain != ASM_ERROR || error->code != expected)
    return fail (h, "expected error %s, got %s:%d %s (%s)",
                 test_code_name (expected), g_quark_to_string (error->domain),
                 error->code,
                 error->domain == ASM_ERROR ? test_code_name (error->code) : "",
                 error->message);
  if (error->message == NULL || error->message[0] == '\0')
    return fail (h, "error %s has no message", test_code_name (expected));
  switch (expected)
    {
    case ASM_ERROR_INVALID:
      h->n_invalid++;
      break;
    case ASM_ERROR_NO_SPACE:
      h->n_no_space++;
      break;
    case ASM_ERROR_IN_USE:
      h->n_in_use++;
      break;
    case ASM_ERROR_NOT_FOUND:
      h->n_not_found++;
      break;
    default:
      break;
    }
  h->n_failed_ok++;
  return TRUE;
}

typedef struct {
  GArray *segs;
  guint64 stop_after;
  gboolean bad;
} WalkData;

static gboolean
walk_collect (const AsmRange *segment, AsmSegmentKind kind, gpointer user_data)
{
  WalkData *wd = user_data;
  ModelSegment s = { .range = *segment, .kind = kind };

  if (segment == NULL)
    {
      wd->bad = TRUE;
      return FALSE;
    }
  g_array_append_val (wd->segs, s);
  return wd->segs->len < wd->stop_after;
}

static gboolean
verify_slot (Harness *h, guint slot, guint64 stop_after, gboolean lookups)
{
  AsmArena *a = h->arena[slot];
  ArenaModel *m = h->model[slot];
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) want = arena_model_segments (m);
  g_autoptr(GArray) got = g_array_new (FALSE, FALSE, sizeof (ModelSegment));
  WalkData wd = { got, stop_after, FALSE };
  AsmArenaStats ws, gs;
  AsmArenaTreeInfo info;
  gboolean completed;
  guint k, n_want;

  if (!asm_arena_check (a, &error))
    return fail (h, "asm_arena_check (a%u) failed: %s", slot,
                 error ? error->message : "(no error set)");
  if (error != NULL)
    return fail (h, "asm_arena_check (a%u) set an error but returned TRUE",
                 slot);

  asm_arena_get_tree_info (a, &info);
  h->cov.max_height = MAX (h->cov.max_height, info.height);
  h->cov.max_segments = MAX (h->cov.max_segments, info.n_segments);

  completed = asm_arena_walk (a, walk_collect, &wd);
  if (wd.bad)
    return fail (h, "walk (a%u) passed a NULL segment", slot);
  n_want = MIN ((guint64) want->len, stop_after);
  if (got->len != n_want)
    return fail (h,
                 "walk (a%u) visited %u segments, model has %u (stop after "
                 "%" G_GUINT64_FORMAT ")",
                 slot, got->len, want->len, stop_after);
  /* TRUE when the walk reached the end, FALSE when the callback stopped it
   * (it returns FALSE on segment number stop_after). */
  if (!completed != (want->len >= stop_after))
    return fail (h,
                 "walk (a%u) returned %s after %u of %u segments (stop after "
                 "%" G_GUINT64_FORMAT ")",
                 slot, completed ? "TRUE" : "FALSE", got->len, want->len,
                 stop_after);
  for (k = 0; k < n_want; k++)
    {
      const ModelSegment *w = &g_array_index (want, ModelSegment, k);
      const ModelSegment *g = &g_array_index (got, ModelSegment, k);

      if (w->range.first != g->range.first || w->range.last != g->range.last ||
          w->kind != g->kind)
        return fail (h,
                     "walk (a%u) segment %u: expected [" X ", " X
                     "] %s, got [" X ", " X "] %s",
                     slot, k, w->range.first, w->range.last,
                     kind_name (w->kind), g->range.first, g->range.last,
                     kind_name (g->kind));
    }

  arena_model_stats_from_segments (m, want, &ws);
  memset (&gs, 0xa5, sizeof gs);
  asm_arena_get_stats (a, &gs);
#define CMP_STAT(f)                                                            \
  if (ws.f != gs.f)                                                            \
    return fail (h,                                                            \
                 "stats (a%u)." #f ": expected %" G_GUINT64_FORMAT             \
                 ", got %" G_GUINT64_FORMAT,                                   \
                 slot, ws.f, gs.f);
  CMP_STAT (span_units);
  CMP_STAT (allocated_units);
  CMP_STAT (reserved_units);
  CMP_STAT (free_units);
  CMP_STAT (n_spans);
  CMP_STAT (n_allocated);
  CMP_STAT (n_reserved);
  CMP_STAT (n_free_segments);
  CMP_STAT (largest_free);
#undef CMP_STAT

  if (lookups)
    for (k = 0; k < want->len; k++)
      {
        const ModelSegment *w = &g_array_index (want, ModelSegment, k);
        guint64 probes[2] = { w->range.first, w->range.last };
        guint p;

        for (p = 0; p < 2; p++)
          {
            AsmRange r = { 1, 0 };
            AsmSegmentKind kind = 99;
            gboolean found = asm_arena_lookup_full (a, probes[p], &r, &kind);

            if (!found || r.first != w->range.first ||
                r.last != w->range.last || kind != w->kind)
              return fail (h,
                           "lookup_full (a%u, " X ") = %s [" X ", " X "] %s, "
                           "segment is [" X ", " X "] %s",
                           slot, probes[p], found ? "TRUE" : "FALSE", r.first,
                           r.last, kind_name (kind), w->range.first,
                           w->range.last, kind_name (w->kind));
          }
      }
  return TRUE;
}

gboolean
harness_verify_all (Harness *h)
{
  guint k;

  for (k = 0; k < HARNESS_SLOTS; k++)
    if (h->arena[k] != NULL && !verify_slot (h, k, G_MAXUINT64, FALSE))
      return FALSE;
  return TRUE;
}

#define SENTINEL G_GUINT64_CONSTANT (0x5a5a5a5a5a5a5a5a)

static void
note_alloc (Harness *h, const AsmRequest *req, guint64 addr,
            gboolean had_cursor, guint64 cursor)
{
  HarnessCoverage *c = &h->cov;
  guint64 mid;

  c->fit_ok[req->fit]++;
  if (req->align > h->cfg.quantum)
    c->ok_align++;
  if (req->phase != 0)
    c->ok_phase++;
  if (req->nocross != 0)
    c->ok_nocross++;
  if (req->min != 0 || req->max != G_MAXUINT64)
    c->ok_minmax++;
  if (req->fit == ASM_FIT_NEXT && had_cursor && addr <= cursor)
    c->next_wrapped++;
  mid = h->cfg.base + h->cfg.width / 2;
  if (addr < mid && addr + (req->size - 1) >= mid)
    c->across_middle++;
  if (addr + (req->size - 1) == G_MAXUINT64)
    c->at_top++;
}

gboolean
harness_apply (Harness *h, const ModelOp *op)
{
  g_autoptr(GError) error = NULL;
  AsmArena *a;
  ArenaModel *m;
  gboolean ok, mutated = FALSE;
  int expected = MODEL_OK;
  guint64 want = SENTINEL, got = SENTINEL;
  g_autoptr(GString) result = NULL; /* for the trace */

  g_string_truncate (h->why, 0);
  h->step++;
  if (op->slot >= HARNESS_SLOTS || h->arena[op->slot] == NULL ||
      (op->kind == OP_CLONE && op->slot2 >= HARNESS_SLOTS))
    return TRUE; /* possible when replaying a shortened sequence */
  a = h->arena[op->slot];
  m = h->model[op->slot];
  h->counts[op->kind]++;

  switch (op->kind)
    {
    case OP_ADD_SPAN:
      expected = arena_model_add_span (m, op->a, op->b);
      if (expected == MODEL_SKIP)
        return TRUE;
      ok = asm_arena_add_span (a, op->a, op->b, &error);
      if (!expect_outcome (h, expected, ok, error))
        goto out;
      if (ok)
        {
          AsmRange r;

          if (arena_model_lookup (m, op->a - 1, &r) != MODEL_OUTSIDE ||
              arena_model_lookup (m, op->b + 1, &r) != MODEL_OUTSIDE)
            h->cov.adjacent_spans++;
        }
      mutated = TRUE;
      break;

    case OP_RESERVE:
      expected = arena_model_reserve (m, op->a, op->b);
      ok = asm_arena_reserve (a, op->a, op->b, &error);
      if (!expect_outcome (h, expected, ok, error))
        goto out;
      mutated = TRUE;
      break;

    case OP_ALLOC:
    case OP_ALLOC_FULL:
      {
        AsmRequest req = op->req, low_req;
        gboolean had_cursor = m->has_cursor;
        guint64 cursor = m->cursor, low = SENTINEL;

        if (op->kind == OP_ALLOC)
          req = ASM_REQUEST_INIT (op->req.size);
        low_req = req;
        low_req.fit = ASM_FIT_LOWEST;
        if (req.fit == ASM_FIT_BEST)
          arena_model_query (m, &low_req, &low);
        expected = arena_model_alloc (m, &req, &want);
        if (op->kind == OP_ALLOC)
          ok = asm_arena_alloc (a, req.size, &got, &error);
        else
          ok = asm_arena_alloc_full (a, &req, &got, &error);
        if (!expect_outcome (h, expected, ok, error))
          goto out;
        if (ok && got != want)
          {
            fail (h, "expected address " X ", got " X, want, got);
            goto out;
          }
        if (ok)
          {
            note_alloc (h, &req, got, had_cursor, cursor);
            if (req.fit == ASM_FIT_BEST && low != want)
              h->cov.best_not_lowest++;
          }
        mutated = TRUE;
        break;
      }

    case OP_FIND_FREE:
      /* a dry run: the same answer as alloc_full, and nothing changes (not
       * even the NEXT cursor, which later NEXT allocations check) */
      expected = arena_model_query (m, &op->req, &want);
      ok = asm_arena_find_free (a, &op->req, &got, &error);
      if (!expect_outcome (h, expected, ok, error))
        goto out;
      if (ok && got != want)
        {
          fail (h, "expected address " X ", got " X, want, got);
          goto out;
        }
      mutated = TRUE; /* to verify that nothing changed */
      break;

    case OP_FREE:
      expected = arena_model_free_at (m, op->a);
      ok = asm_arena_free (a, op->a, &error);
      if (!expect_outcome (h, expected, ok, error))
        goto out;
      mutated = TRUE;
      break;

    case OP_MOVE:
      {
        gboolean had_cursor = m->has_cursor;
        guint64 cursor = m->cursor;
        AsmRange old = { 1, 0 };

        arena_model_lookup (m, op->a, &old);
        expected = arena_model_move (m, op->a, &op->req, &want);
        ok = asm_arena_move (a, op->a, &op->req, &got, &error);
        if (!expect_outcome (h, expected, ok, error))
          goto out;
        if (ok && got != want)
          {
            fail (h, "expected address " X ", got " X, want, got);
            goto out;
          }
        if (ok)
          {
            note_alloc (h, &op->req, got, had_cursor, cursor);
            h->cov.move_ok++;
            if (got <= old.last && old.first <= got + (op->req.size - 1))
              h->cov.move_overlap++;
          }
        mutated = TRUE;
        break;
      }

    case OP_LOOKUP:
    case OP_LOOKUP_FULL:
      {
        AsmRange wr = { 0, 0 }, gr = { 1, 0 };
        AsmSegmentKind gk = 99;
        int wk = arena_model_lookup (m, op->a, &wr);
        gboolean want_found;

        if (op->kind == OP_LOOKUP)
          {
            want_found =
                wk == ASM_SEGMENT_ALLOCATED || wk == ASM_SEGMENT_RESERVED;
            ok = asm_arena_lookup (a, op->a, &gr);
            gk = wk;
          }
        else
          {
            want_found = wk != MODEL_OUTSIDE;
            ok = asm_arena_lookup_full (a, op->a, &gr, &gk);
          }
        expected = want_found ? MODEL_OK : ASM_ERROR_NOT_FOUND;
        if (!ok != !want_found)
          {
            fail (h, "expected %s (unit is %s), got %s",
                  want_found ? "TRUE" : "FALSE", kind_name (wk),
                  ok ? "TRUE" : "FALSE");
            goto out;
          }
        if (ok &&
            (gr.first != wr.first || gr.last != wr.last || (int) gk != wk))
          {
            fail (h, "expected [" X ", " X "] %s, got [" X ", " X "] %s",
                  wr.first, wr.last, kind_name (wk), gr.first, gr.last,
                  kind_name (gk));
            goto out;
          }
        result = ok ? g_string_new (NULL) : g_string_new ("FALSE");
        if (ok)
          g_string_printf (result, "[" X ", " X "] %s", gr.first, gr.last,
                           kind_name (gk));
        break;
      }

    case OP_LARGEST_FREE:
      want = arena_model_largest_free_within (m, op->a, op->b);
      got = asm_arena_largest_free_within (a, op->a, op->b);
      if (got != want)
        {
          fail (h, "expected %" G_GUINT64_FORMAT ", got %" G_GUINT64_FORMAT,
                want, got);
          goto out;
        }
      result = g_string_new (NULL);
      g_string_printf (result, "%" G_GUINT64_FORMAT, got);
      break;

    case OP_CLONE:
      {
        g_autofree char *name = g_strdup_printf ("prop-%u", h->n_created++);
        AsmArena *c = asm_arena_clone (a, name);
        ArenaModel *cm;

        /* an extra reference changes nothing */
        asm_arena_unref (asm_arena_ref (c));
        if (c == NULL)
          {
            fail (h, "clone returned NULL");
            goto out;
          }
        if (g_strcmp0 (asm_arena_get_name (c), name) != 0 ||
            asm_arena_get_quantum (c) != h->cfg.quantum)
          {
            fail (h, "clone is named '%s' with quantum %" G_GUINT64_FORMAT,
                  asm_arena_get_name (c), asm_arena_get_quantum (c));
            asm_arena_unref (c);
            goto out;
          }
        cm = arena_model_copy (m);
        g_clear_pointer (&h->arena[op->slot2], asm_arena_unref);
        g_clear_pointer (&h->model[op->slot2], arena_model_free);
        h->arena[op->slot2] = c;
        h->model[op->slot2] = cm;
        if (!harness_verify_all (h))
          goto out;
        break;
      }

    case OP_DROP:
      if (live_slots (h) <= 1)
        return TRUE;
      g_clear_pointer (&h->arena[op->slot], asm_arena_unref);
      g_clear_pointer (&h->model[op->slot], arena_model_free);
      if (!harness_verify_all (h))
        goto out;
      break;

    case OP_VERIFY:
      if (!verify_slot (h, op->slot, op->b, TRUE))
        goto out;
      break;

    default:
      g_assert_not_reached ();
    }

  if (op->kind != OP_DROP && op->kind != OP_CLONE)
    {
      g_autoptr(GError) cerr = NULL;

      if (mutated)
        {
          if (!verify_slot (h, op->slot, G_MAXUINT64, FALSE))
            goto out;
        }
      else if (!asm_arena_check (a, &cerr))
        {
          fail (h, "asm_arena_check (a%u) failed: %s", op->slot,
                cerr ? cerr->message : "(no error set)");
          goto out;
        }
    }
  if (h->step % 16 == 0 && !harness_verify_all (h))
    goto out;

  if (h->trace)
    {
      g_autoptr(GString) line = g_string_new (NULL);

      model_op_format (op, line);
      if (result != NULL)
        g_string_append_printf (line, " -> %s", result->str);
      else if (mutated && expected == MODEL_OK && want != SENTINEL)
        g_string_append_printf (line, " -> " X, want);
      else if (mutated)
        g_string_append_printf (line, " -> %s", test_code_name (expected));
      g_printerr ("# %" G_GUINT64_FORMAT ": %s\n", h->step, line->str);
    }
  return TRUE;

out:
  {
    g_autoptr(GString) line = g_string_new (NULL);

    model_op_format (op, line);
    g_string_prepend (h->why, ": ");
    g_string_prepend (h->why, line->str);
  }
  return FALSE;
}
