/* addr-model.c: a brute-force model of AsmAddrSpace
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * The model keeps one "pooled" and one "reserved" flag per tuple of a small
 * space (at most ADDR_MODEL_MAX_TUPLES tuples, so every tuple can be
 * enumerated) and answers every question by brute force from DESIGN.md
 * section 4:
 *
 *   - tuples order lexicographically; reserve_any / find_free give the
 *     lowest qualifying tuple inside within (only pooled tuples qualify);
 *     find_free (k) looks for k whole trailing dimensions free: a block of
 *     consecutive indexes, aligned to its size;
 *   - a value beyond its width, an empty range, a tuple or box not wholly
 *     inside the pools, k >= n_dims, a within that does not cover the k
 *     trailing dimensions, or an overlapping pool is INVALID; INVALID comes
 *     before IN_USE / NO_SPACE;
 *   - a used tuple is IN_USE, nothing free is NO_SPACE, releasing a free
 *     pooled tuple is NOT_FOUND; a refused call changes nothing;
 *   - reserve_box is all or nothing; release frees exactly one tuple.
 *
 * Every answer is TEST_OK or the ASM_ERROR code the library must give.  A
 * sabotaged model (AddrSabotage) breaks one rule on purpose, so that a
 * harness can show it notices.
 *
 * Cost: every call is O(tuples) (find_free O(tuples) too: each block is
 * looked at once), so the model is for spaces of a few hundred tuples.
 */
#define ASM_TEST_NO_CMOCKA
#include "addr-model.h"

const AddrShape addr_model_shapes[] = {
  { 3, { 2, 3, 3 } },
  { 4, { 3, 2, 2, 2 } },
  { 8, { 1, 1, 1, 1, 1, 1, 1, 1 } },
  { 1, { 8 } },
  { 3, { 4, 1, 4 } },
  { 2, { 5, 4 } },
};
const guint addr_model_n_shapes = G_N_ELEMENTS (addr_model_shapes);

void
addr_model_init (AddrModel *m, const AddrShape *shape, AddrSabotage sabotage)
{
  memset (m, 0, sizeof *m);
  m->n_dims = shape->n_dims;
  m->n = 1;
  for (guint d = 0; d < shape->n_dims; d++)
    {
      m->size[d] = G_GUINT64_CONSTANT (1) << shape->bits[d];
      m->n *= m->size[d];
    }
  g_assert (m->n <= ADDR_MODEL_MAX_TUPLES);
  m->sabotage = sabotage;
}

guint
addr_model_index (const AddrModel *m, const guint64 *t)
{
  guint64 i = 0;

  for (guint d = 0; d < m->n_dims; d++)
    i = i * m->size[d] + t[d];
  return (guint) i;
}

void
addr_model_tuple (const AddrModel *m, guint i, guint64 *t)
{
  for (guint d = m->n_dims; d-- > 0;)
    {
      t[d] = i % m->size[d];
      i /= m->size[d];
    }
}

gboolean
addr_model_valid_tuple (const AddrModel *m, const guint64 *t)
{
  for (guint d = 0; d < m->n_dims; d++)
    if (t[d] >= m->size[d])
      return FALSE;
  return TRUE;
}

static gboolean
valid_box (const AddrModel *m, const AsmRange *box)
{
  for (guint d = 0; d < m->n_dims; d++)
    if (box[d].first > box[d].last || box[d].last >= m->size[d])
      return FALSE;
  return TRUE;
}

static gboolean
in_box (const AddrModel *m, const AsmRange *box, const guint64 *t)
{
  for (guint d = 0; d < m->n_dims; d++)
    if (t[d] < box[d].first || t[d] > box[d].last)
      return FALSE;
  return TRUE;
}

guint
addr_model_n_pooled (const AddrModel *m)
{
  guint n = 0;

  for (guint i = 0; i < m->n; i++)
    n += m->pooled[i];
  return n;
}

int
addr_model_add_pool (AddrModel *m, const AsmRange *box)
{
  guint64 t[ASM_ADDR_MAX_DIMS];

  if (!valid_box (m, box))
    return ASM_ERROR_INVALID;
  for (guint i = 0; i < m->n; i++)
    {
      addr_model_tuple (m, i, t);
      if (in_box (m, box, t) && m->pooled[i])
        return ASM_ERROR_INVALID;
    }
  for (guint i = 0; i < m->n; i++)
    {
      addr_model_tuple (m, i, t);
      if (in_box (m, box, t))
        m->pooled[i] = 1;
    }
  return TEST_OK;
}

int
addr_model_reserve (AddrModel *m, const guint64 *t)
{
  guint i;

  if (!addr_model_valid_tuple (m, t))
    return ASM_ERROR_INVALID;
  i = addr_model_index (m, t);
  if (!m->pooled[i])
    return ASM_ERROR_INVALID;
  if (m->reserved[i])
    return ASM_ERROR_IN_USE;
  m->reserved[i] = 1;
  m->n_reserved++;
  return TEST_OK;
}

int
addr_model_reserve_box (AddrModel *m, const AsmRange *box)
{
  guint64 t[ASM_ADDR_MAX_DIMS];
  gboolean used = FALSE;

  if (!valid_box (m, box))
    return ASM_ERROR_INVALID;
  for (guint i = 0; i < m->n; i++)
    {
      addr_model_tuple (m, i, t);
      if (!in_box (m, box, t))
        continue;
      if (!m->pooled[i])
        return ASM_ERROR_INVALID;
      used |= m->reserved[i];
    }
  if (used && m->sabotage != ADDR_SABOTAGE_BOX_PARTIAL)
    return ASM_ERROR_IN_USE;
  for (guint i = 0; i < m->n; i++)
    {
      addr_model_tuple (m, i, t);
      if (in_box (m, box, t) && !m->reserved[i])
        {
          m->reserved[i] = 1;
          m->n_reserved++;
        }
    }
  return used ? ASM_ERROR_IN_USE : TEST_OK;
}

int
addr_model_find_free (const AddrModel *m, const AsmRange *within, guint k,
                      guint64 *out)
{
  AsmRange full[ASM_ADDR_MAX_DIMS];
  guint64 t[ASM_ADDR_MAX_DIMS];
  guint block = 1;
  int found = -1;

  if (k >= m->n_dims)
    return ASM_ERROR_INVALID;
  if (within == NULL)
    {
      for (guint d = 0; d < m->n_dims; d++)
        full[d] = ASM_RANGE (0, m->size[d] - 1);
      within = full;
    }
  if (!valid_box (m, within))
    return ASM_ERROR_INVALID;
  for (guint d = m->n_dims - k; d < m->n_dims; d++)
    {
      if (within[d].first != 0 || within[d].last != m->size[d] - 1)
        return ASM_ERROR_INVALID;
      block *= m->size[d];
    }
  /* blocks are consecutive indexes, aligned to their size */
  for (guint i = 0; i < m->n; i += block)
    {
      gboolean ok = TRUE;

      addr_model_tuple (m, i, t);
      if (!in_box (m, within, t))
        continue;
      for (guint j = i; j < i + block && ok; j++)
        {
          ok = m->pooled[j] && !m->reserved[j];
          if (m->sabotage == ADDR_SABOTAGE_BLOCK_FIRST)
            break;
        }
      if (ok)
        {
          found = (int) i;
          if (!(m->sabotage == ADDR_SABOTAGE_ANY_HIGHEST && k == 0))
            break;
        }
    }
  if (found < 0)
    return ASM_ERROR_NO_SPACE;
  addr_model_tuple (m, (guint) found, out);
  return TEST_OK;
}

int
addr_model_reserve_any (AddrModel *m, const AsmRange *within, guint64 *out)
{
  int r = addr_model_find_free (m, within, 0, out);

  if (r == TEST_OK && addr_model_reserve (m, out) != TEST_OK)
    g_assert_not_reached ();
  return r;
}

int
addr_model_release (AddrModel *m, const guint64 *t)
{
  guint i;

  if (!addr_model_valid_tuple (m, t))
    return ASM_ERROR_INVALID;
  i = addr_model_index (m, t);
  if (!m->pooled[i])
    return ASM_ERROR_INVALID;
  if (!m->reserved[i])
    return ASM_ERROR_NOT_FOUND;
  m->reserved[i] = 0;
  m->n_reserved--;
  return TEST_OK;
}

gboolean
addr_model_is_free (const AddrModel *m, const guint64 *t)
{
  guint i;

  if (!addr_model_valid_tuple (m, t))
    return FALSE;
  i = addr_model_index (m, t);
  return m->pooled[i] && !m->reserved[i];
}

gboolean
addr_model_is_pooled (const AddrModel *m, const guint64 *t)
{
  return addr_model_valid_tuple (m, t) && m->pooled[addr_model_index (m, t)];
}

/* ---------------------------------------------------------------------- */
/* comparing with a space                                                 */

typedef struct {
  const AddrModel *m;
  guint next; /* index of the model's next reserved tuple */
  gboolean bad;
  GString *why;
} ListCheck;

static gboolean
list_cb (const guint64 *addr, gpointer user_data)
{
  ListCheck *lc = user_data;
  const AddrModel *m = lc->m;

  while (lc->next < m->n && !m->reserved[lc->next])
    lc->next++;
  if (lc->next >= m->n || !addr_model_valid_tuple (m, addr) ||
      addr_model_index (m, addr) != lc->next)
    {
      g_string_printf (lc->why, "foreach_reserved listed ");
      addr_model_append_tuple (lc->why, m->n_dims, addr);
      g_string_append (lc->why, lc->next >= m->n
                                    ? " after the model's last reserved tuple"
                                    : " out of order or not reserved");
      lc->bad = TRUE;
      return FALSE;
    }
  lc->next++;
  return TRUE;
}

gboolean
addr_model_compare (const AddrModel *m, AsmAddrSpace *s, GString *why)
{
  guint64 t[ASM_ADDR_MAX_DIMS];
  ListCheck lc = { m, 0, FALSE, why };

  for (guint i = 0; i < m->n; i++)
    {
      addr_model_tuple (m, i, t);
      if (asm_addr_space_is_pooled (s, t) != (gboolean) m->pooled[i] ||
          asm_addr_space_is_free (s, t) != addr_model_is_free (m, t))
        {
          g_string_printf (why, "tuple ");
          addr_model_append_tuple (why, m->n_dims, t);
          g_string_append_printf (why, " is pooled=%d free=%d, model "
                                  "pooled=%d free=%d",
                                  asm_addr_space_is_pooled (s, t),
                                  asm_addr_space_is_free (s, t),
                                  m->pooled[i], addr_model_is_free (m, t));
          return FALSE;
        }
    }
  if (!asm_addr_space_foreach_reserved (s, list_cb, &lc) || lc.bad)
    {
      if (!lc.bad)
        g_string_printf (why, "foreach_reserved stopped early");
      return FALSE;
    }
  while (lc.next < m->n && !m->reserved[lc.next])
    lc.next++;
  if (lc.next < m->n)
    {
      g_string_printf (why, "foreach_reserved missed ");
      addr_model_tuple (m, lc.next, t);
      addr_model_append_tuple (why, m->n_dims, t);
      return FALSE;
    }
  return TRUE;
}

void
addr_model_append_tuple (GString *out, guint n_dims, const guint64 *t)
{
  g_string_append_c (out, '(');
  for (guint d = 0; d < n_dims; d++)
    g_string_append_printf (out, "%s%" G_GUINT64_FORMAT, d ? "," : "", t[d]);
  g_string_append_c (out, ')');
}

void
addr_model_append_box (GString *out, guint n_dims, const AsmRange *box)
{
  if (box == NULL)
    {
      g_string_append (out, "NULL");
      return;
    }
  g_string_append_c (out, '{');
  for (guint d = 0; d < n_dims; d++)
    g_string_append_printf (out, "%s%" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT,
                            d ? ", " : "", box[d].first, box[d].last);
  g_string_append_c (out, '}');
}
