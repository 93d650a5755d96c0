/* asm-addr.c: the generic N-dimensional address allocator (layer 2)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * A tuple (v0, v1, ..., v[n-1]) with dimension d being bits[d] wide is
 * encoded in mixed radix as the integer
 *
 *     code = v0 << shift[0] | v1 << shift[1] | ... | v[n-1]
 *
 * with shift[d] the total width of the dimensions after d.  The encoding
 * is monotone: lexicographic order of tuples is numeric order of codes, so
 * "the lowest free tuple" is "the lowest free code", which the arena finds.
 * The widths add up to at most 64 bits.
 *
 * All codes live in one arena of quantum 1 with one span, [0, 2^bits - 1].
 * A code is in one of three states:
 *
 *   outside    not in any pool: covered by a RESERVED arena segment that
 *              is not in `pools` (a placeholder);
 *   free       in a pool and free in the arena;
 *   reserved   in a pool and covered by a RESERVED arena segment.
 *
 * `pools` (an AsmRangeSet of codes) tells placeholders from reservations:
 * an arena segment is never part placeholder, part reservation.  Keeping
 * non-pool codes as placeholders (rather than leaving them out of the
 * arena's spans) lets pools be added at any time and lets adjacent pools
 * behave as one run, since arena spans never merge.
 *
 * A box (one inclusive range per dimension) is a union of code runs: with
 * j the first dimension after which every dimension covers its full width,
 * each combination of values of the dimensions before j gives one run.
 * add_pool and reserve_box work run by run (O(runs log n)) after checking
 * every run first, so they are all or nothing.  A box of more than
 * MAX_BOX_RUNS runs is refused as INVALID rather than looped over.
 *
 * Units are single tuples: reserving a box makes one arena reservation per
 * run, and releasing one tuple of it splits that reservation (free, then
 * reserve the one or two remaining pieces; O(log n)).
 *
 * reserve_any(within) finds the lowest free tuple inside a box by asking
 * the arena for the lowest free code at or above the box's next candidate
 * (asm_arena_find_free(), O(log n)); when that code lies outside the box,
 * it jumps to the smallest box tuple above it and asks again.  Each step
 * skips at least one free run outside the box, so the cost is O(log n) per
 * free run met, never a scan of tuples.  find_free(within, k) does the same
 * for blocks whose last k dimensions are wholly free (a whole PCI slot).
 *
 * Locking: none; a container like the arena under it.
 */
#include <asm/asm-addr.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "asm-bug-private.h"

G_DEFINE_BOXED_TYPE (AsmAddrSpace, asm_addr_space, asm_addr_space_ref,
                     asm_addr_space_unref)

#define MAX_BOX_RUNS (G_GUINT64_CONSTANT (1) << 24)

struct _AsmAddrSpace {
  gint ref;
  char *name;
  guint n_dims;
  guint8 bits[ASM_ADDR_MAX_DIMS];
  guint8 shift[ASM_ADDR_MAX_DIMS];
  guint total_bits;
  guint64 code_max;    /* the largest code, 2^total_bits - 1 */
  AsmArena *arena;     /* quantum 1 over [0, code_max] */
  AsmRangeSet *pools;  /* codes that belong to some pool */
  guint64 n_reserved;  /* reserved tuples, modulo 2^64 */
  gboolean n_full;     /* ... and there are 2^64 of them (n_reserved 0) */
  AsmAddrFormatFunc format;
  AsmAddrParseFunc parse;
  gpointer fmt_data;
  GDestroyNotify fmt_destroy;
};

/* Counting reserved tuples: the count reaches 2^64 exactly when a 64-bit
 * space is wholly reserved, so it is kept with one extra bit. */
static void
count_add (guint64 *n, gboolean *full, guint64 v)
{
  guint64 sum = *n + v;
  if (sum < *n)
    *full = TRUE; /* wrapped: the true count is 2^64 + sum, so sum is 0 */
  *n = sum;
}

static void
count_add_range (guint64 *n, gboolean *full, guint64 first, guint64 last)
{
  count_add (n, full, last - first);
  count_add (n, full, 1);
}

static void
count_sub_one (guint64 *n, gboolean *full)
{
  if (*n == 0 && *full)
    *full = FALSE;
  *n -= 1;
}

static inline guint64
dim_max (const AsmAddrSpace *s, guint d)
{
  return s->bits[d] == 64 ? G_MAXUINT64
                          : (G_GUINT64_CONSTANT (1) << s->bits[d]) - 1;
}

static guint64
encode (const AsmAddrSpace *s, const guint64 *addr)
{
  guint64 code = 0;
  for (guint d = 0; d < s->n_dims; d++)
    code |= s->bits[d] == 64 ? addr[d] : addr[d] << s->shift[d];
  return code;
}

static void
decode (const AsmAddrSpace *s, guint64 code, guint64 *addr)
{
  for (guint d = 0; d < s->n_dims; d++)
    addr[d] = s->bits[d] == 64 ? code : (code >> s->shift[d]) & dim_max (s, d);
}

/* the default text form: decimal values joined by '.' */
static char *
default_format (const guint64 *addr, guint n_dims, gpointer user_data)
{
  GString *str = g_string_new (NULL);
  for (guint d = 0; d < n_dims; d++)
    g_string_append_printf (str, "%s%" G_GUINT64_FORMAT, d ? "." : "",
                            addr[d]);
  return g_string_free (str, FALSE);
}

/* decimal or 0x-hex values separated by '.' or ':' */
static gboolean
default_parse (const char *text, guint64 *out_addr, guint n_dims,
               gpointer user_data, GError **error)
{
  const char *p = text;

  for (guint d = 0; d < n_dims; d++)
    {
      guint64 v;
      char *end;
      if (!g_ascii_isdigit (*p))
        goto bad;
      errno = 0;
      v = g_ascii_strtoull (p, &end, (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) ? 16 : 10);
      if (errno != 0 || end == p)
        goto bad;
      out_addr[d] = v;
      p = end;
      if (d + 1 < n_dims)
        {
          if (*p != '.' && *p != ':')
            goto bad;
          p++;
        }
    }
  if (*p == '\0')
    return TRUE;
bad:
  g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
               "'%s' is not an address of %u numbers separated by '.' or ':'",
               text, n_dims);
  return FALSE;
}

/**
 * asm_addr_space_new:
 * @name: a name for messages
 * @n_dims: the number of dimensions, 1 to %ASM_ADDR_MAX_DIMS
 * @dim_bits: (array length=n_dims): the width in bits of each dimension,
 *   1 to 64, adding up to at most 64
 * @error: return location for a #GError
 *
 * Creates an empty address space: no pool, nothing reserved.  The default
 * text form of a tuple is its values in decimal joined by '.'; see
 * asm_addr_space_set_formatter().
 *
 * Errors: %ASM_ERROR_INVALID for a bad number of dimensions or widths.
 *
 * Returns: (transfer full) (nullable): the space, or %NULL on error
 *
 * Since: 0.1
 */
AsmAddrSpace *
asm_addr_space_new (const char *name, guint n_dims, const guint8 *dim_bits,
                    GError **error)
{
  AsmAddrSpace *s;
  guint total = 0;
  GError *err = NULL;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (dim_bits != NULL || n_dims == 0, NULL);

  if (n_dims < 1 || n_dims > ASM_ADDR_MAX_DIMS)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: %u dimensions is out of range 1..%u", name, n_dims,
                   ASM_ADDR_MAX_DIMS);
      return NULL;
    }
  for (guint d = 0; d < n_dims; d++)
    {
      if (dim_bits[d] < 1 || dim_bits[d] > 64)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "%s: dimension %u is %u bits wide, out of range 1..64",
                       name, d, dim_bits[d]);
          return NULL;
        }
      total += dim_bits[d];
    }
  if (total > 64)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: the dimensions add up to %u bits, more than 64", name,
                   total);
      return NULL;
    }

  s = g_new0 (AsmAddrSpace, 1);
  s->ref = 1;
  s->name = g_strdup (name);
  s->n_dims = n_dims;
  s->total_bits = total;
  for (guint d = n_dims, sh = 0; d-- > 0;)
    {
      s->bits[d] = dim_bits[d];
      s->shift[d] = sh;
      sh += dim_bits[d];
    }
  s->code_max = total == 64 ? G_MAXUINT64
                            : (G_GUINT64_CONSTANT (1) << total) - 1;
  s->arena = asm_arena_new (name, 1);
  s->pools = asm_range_set_new ();
  s->format = default_format;
  s->parse = default_parse;
  if (!asm_arena_add_span (s->arena, 0, s->code_max, &err) ||
      !asm_arena_reserve (s->arena, 0, s->code_max, &err))
    ASM_BUG ("%s: a new arena refused to take and reserve the whole code "
             "range: %s", name, err->message);
  return s;
}

/**
 * asm_addr_space_ref:
 * @s: a space
 *
 * Takes a reference on a space.
 *
 * Returns: (transfer full): @s, with one more reference
 *
 * Since: 0.1
 */
AsmAddrSpace *
asm_addr_space_ref (AsmAddrSpace *s)
{
  g_return_val_if_fail (s != NULL, NULL);
  g_atomic_int_inc (&s->ref);
  return s;
}

/**
 * asm_addr_space_unref:
 * @s: (nullable) (transfer full): a space
 *
 * Drops a reference; the last one frees the space.
 *
 * Since: 0.1
 */
void
asm_addr_space_unref (AsmAddrSpace *s)
{
  if (s == NULL || !g_atomic_int_dec_and_test (&s->ref))
    return;
  if (s->fmt_destroy != NULL)
    s->fmt_destroy (s->fmt_data);
  asm_arena_unref (s->arena);
  asm_range_set_free (s->pools);
  g_free (s->name);
  g_free (s);
}

/**
 * asm_addr_space_clone:
 * @s: a space
 * @name: the clone's name
 *
 * An independent copy of @s: pools, reservations and formatter (the
 * formatter's user data is shared, not copied, and the clone does not own
 * it).  The reservations are shared copy-on-write through
 * asm_arena_clone(); the pool set is copied, O(number of pool runs).
 *
 * Returns: (transfer full): the clone
 *
 * Since: 0.1
 */
AsmAddrSpace *
asm_addr_space_clone (AsmAddrSpace *s, const char *name)
{
  AsmAddrSpace *c;

  g_return_val_if_fail (s != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  c = g_new (AsmAddrSpace, 1);
  *c = *s;
  c->ref = 1;
  c->name = g_strdup (name);
  c->arena = asm_arena_clone (s->arena, name);
  c->pools = asm_range_set_copy (s->pools);
  c->fmt_destroy = NULL;
  return c;
}

/**
 * asm_addr_space_get_name:
 * @s: a space
 *
 * Gets the name of the space.
 *
 * Returns: (transfer none): the name
 *
 * Since: 0.1
 */
const char *
asm_addr_space_get_name (AsmAddrSpace *s)
{
  g_return_val_if_fail (s != NULL, NULL);
  return s->name;
}

/**
 * asm_addr_space_get_n_dims:
 * @s: a space
 *
 * Gets the number of dimensions of the space.
 *
 * Returns: the number of dimensions
 *
 * Since: 0.1
 */
guint
asm_addr_space_get_n_dims (AsmAddrSpace *s)
{
  g_return_val_if_fail (s != NULL, 0);
  return s->n_dims;
}

/**
 * asm_addr_space_get_dim_bits:
 * @s: a space
 * @dim: a dimension, below asm_addr_space_get_n_dims()
 *
 * Gets the width of one dimension.
 *
 * Returns: the width of @dim in bits (0 for a bad @dim)
 *
 * Since: 0.1
 */
guint
asm_addr_space_get_dim_bits (AsmAddrSpace *s, guint dim)
{
  g_return_val_if_fail (s != NULL, 0);
  g_return_val_if_fail (dim < s->n_dims, 0);
  return s->bits[dim];
}

/**
 * asm_addr_space_format:
 * @s: a space
 * @addr: (array fixed-size=8): a tuple
 *
 * Formats @addr with the space's formatter.
 *
 * Returns: (transfer full): the text
 *
 * Since: 0.1
 */
char *
asm_addr_space_format (AsmAddrSpace *s, const guint64 *addr)
{
  g_return_val_if_fail (s != NULL && addr != NULL, NULL);
  return s->format (addr, s->n_dims, s->fmt_data);
}

static char *
format_box (AsmAddrSpace *s, const AsmRange *box)
{
  GString *str = g_string_new ("{");
  for (guint d = 0; d < s->n_dims; d++)
    {
      if (box[d].first == box[d].last)
        g_string_append_printf (str, "%s%" G_GUINT64_FORMAT, d ? ", " : "",
                                box[d].first);
      else
        g_string_append_printf (str, "%s%" G_GUINT64_FORMAT "..%"
                                G_GUINT64_FORMAT, d ? ", " : "", box[d].first,
                                box[d].last);
    }
  g_string_append_c (str, '}');
  return g_string_free (str, FALSE);
}

static gboolean
validate_tuple (AsmAddrSpace *s, const guint64 *addr, GError **error)
{
  for (guint d = 0; d < s->n_dims; d++)
    if (addr[d] > dim_max (s, d))
      {
        g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                     "%s: value %" G_GUINT64_FORMAT " of dimension %u is "
                     "beyond its %u-bit width (at most %" G_GUINT64_FORMAT ")",
                     s->name, addr[d], d, s->bits[d], dim_max (s, d));
        return FALSE;
      }
  return TRUE;
}

static gboolean
validate_box (AsmAddrSpace *s, const AsmRange *box, const char *what,
              GError **error)
{
  for (guint d = 0; d < s->n_dims; d++)
    {
      if (box[d].first > box[d].last)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "%s: %s range %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
                       " of dimension %u is empty",
                       s->name, what, box[d].first, box[d].last, d);
          return FALSE;
        }
      if (box[d].last > dim_max (s, d))
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "%s: %s value %" G_GUINT64_FORMAT " of dimension %u is "
                       "beyond its %u-bit width (at most %" G_GUINT64_FORMAT
                       ")",
                       s->name, what, box[d].last, d, s->bits[d],
                       dim_max (s, d));
          return FALSE;
        }
    }
  return TRUE;
}

/* Iterates the code runs of a box in increasing order. */
typedef struct {
  AsmAddrSpace *s;
  const AsmRange *box;
  guint j;                        /* the run dimension */
  guint64 cur[ASM_ADDR_MAX_DIMS]; /* odometer over dimensions < j */
  gboolean done;
} RunIter;

static guint64
box_n_runs (AsmAddrSpace *s, const AsmRange *box, guint *out_j)
{
  guint j = s->n_dims - 1;
  guint64 runs = 1;

  while (j > 0 && box[j].first == 0 && box[j].last == dim_max (s, j))
    j--;
  for (guint d = 0; d < j; d++)
    {
      guint64 len = box[d].last - box[d].first;
      if (len >= MAX_BOX_RUNS || runs * (len + 1) > MAX_BOX_RUNS)
        return G_MAXUINT64;
      runs *= len + 1;
    }
  *out_j = j;
  return runs;
}

static gboolean
box_runs_init (RunIter *it, AsmAddrSpace *s, const AsmRange *box,
               const char *what, GError **error)
{
  guint j = 0;

  if (box_n_runs (s, box, &j) == G_MAXUINT64)
    {
      g_autofree char *b = format_box (s, box);
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: %s %s splits into more than %" G_GUINT64_FORMAT
                   " ranges of addresses",
                   s->name, what, b, MAX_BOX_RUNS);
      return FALSE;
    }
  it->s = s;
  it->box = box;
  it->j = j;
  it->done = FALSE;
  for (guint d = 0; d < s->n_dims; d++)
    it->cur[d] = box[d].first;
  return TRUE;
}

static gboolean
box_runs_next (RunIter *it, AsmRange *run)
{
  AsmAddrSpace *s = it->s;
  guint64 lo[ASM_ADDR_MAX_DIMS], hi[ASM_ADDR_MAX_DIMS];
  guint d;

  if (it->done)
    return FALSE;
  for (d = 0; d < s->n_dims; d++)
    {
      if (d < it->j)
        lo[d] = hi[d] = it->cur[d];
      else
        lo[d] = it->box[d].first, hi[d] = it->box[d].last;
    }
  *run = ASM_RANGE (encode (s, lo), encode (s, hi));
  /* advance the odometer */
  for (d = it->j; d-- > 0;)
    {
      if (it->cur[d] < it->box[d].last)
        {
          it->cur[d]++;
          break;
        }
      it->cur[d] = it->box[d].first;
    }
  if (d == G_MAXUINT || it->j == 0)
    it->done = TRUE;
  return TRUE;
}

/* Makes a pooled code run out of placeholder codes. */
static void
unplaceholder_run (AsmAddrSpace *s, const AsmRange *run)
{
  AsmRange seg;
  AsmSegmentKind kind;
  GError *err = NULL;

  if (!asm_arena_lookup_full (s->arena, run->first, &seg, &kind) ||
      kind != ASM_SEGMENT_RESERVED || seg.last < run->last ||
      !asm_arena_free (s->arena, seg.first, &err) ||
      (seg.first < run->first &&
       !asm_arena_reserve (s->arena, seg.first, run->first - 1, &err)) ||
      (seg.last > run->last &&
       !asm_arena_reserve (s->arena, run->last + 1, seg.last, &err)))
    ASM_BUG ("%s: pool bookkeeping broken: %s", s->name,
             err ? err->message : "no placeholder");
}

/**
 * asm_addr_space_add_pool:
 * @s: a space
 * @box: (array fixed-size=8): one inclusive range per dimension
 * @error: return location for a #GError
 *
 * Makes every tuple of @box available.  Pools may touch but not overlap.
 * For example, a root PCI bus is the pool `{0..0}:{0..31}.{0..7}`.
 *
 * Errors: %ASM_ERROR_INVALID when a range is empty or reaches beyond its
 * dimension's width, when @box overlaps an existing pool, or when it splits
 * into more than 2^24 code runs.  Nothing changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_addr_space_add_pool (AsmAddrSpace *s, const AsmRange *box, GError **error)
{
  RunIter it;
  AsmRange run;
  GError *err = NULL;

  g_return_val_if_fail (s != NULL && box != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!validate_box (s, box, "pool", error) ||
      !box_runs_init (&it, s, box, "pool", error))
    return FALSE;
  while (box_runs_next (&it, &run))
    if (asm_range_set_overlaps (s->pools, run.first, run.last))
      {
        g_autofree char *b = format_box (s, box);
        g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                     "%s: pool %s overlaps an existing pool", s->name, b);
        return FALSE;
      }
  box_runs_init (&it, s, box, "pool", NULL);
  while (box_runs_next (&it, &run))
    {
      unplaceholder_run (s, &run);
      if (!asm_range_set_add (s->pools, run.first, run.last, &err))
        ASM_BUG ("%s: the pool set refused a run checked to overlap "
                 "nothing: %s", s->name, err->message);
    }
  return TRUE;
}

/* The code of @addr when it is a valid tuple in a pool; otherwise FALSE
 * with ASM_ERROR_INVALID naming the value beyond its width, or the tuple
 * that is in no pool.  The first check of reserve and release. */
static gboolean
encode_pooled (AsmAddrSpace *s, const guint64 *addr, guint64 *out_code,
               GError **error)
{
  if (!validate_tuple (s, addr, error))
    return FALSE;
  *out_code = encode (s, addr);
  if (!asm_range_set_contains (s->pools, *out_code))
    {
      g_autofree char *t = asm_addr_space_format (s, addr);
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: %s is not in any pool", s->name, t);
      return FALSE;
    }
  return TRUE;
}

/**
 * asm_addr_space_reserve:
 * @s: a space
 * @addr: (array fixed-size=8): the tuple to reserve
 * @error: return location for a #GError
 *
 * Reserves exactly @addr, for an address given in configuration or one a
 * device must have (for example the router's `192.168.1.254`).
 *
 * Errors: %ASM_ERROR_INVALID when a value is beyond its dimension's width
 * or @addr is in no pool; %ASM_ERROR_IN_USE when it is already reserved.
 * Nothing changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_addr_space_reserve (AsmAddrSpace *s, const guint64 *addr, GError **error)
{
  guint64 code;

  g_return_val_if_fail (s != NULL && addr != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!encode_pooled (s, addr, &code, error))
    return FALSE;
  if (!asm_arena_reserve (s->arena, code, code, NULL))
    {
      g_autofree char *t = asm_addr_space_format (s, addr);
      g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                   "%s: %s is already reserved", s->name, t);
      return FALSE;
    }
  count_add (&s->n_reserved, &s->n_full, 1);
  return TRUE;
}

/**
 * asm_addr_space_reserve_box:
 * @s: a space
 * @box: (array fixed-size=8): one inclusive range per dimension
 * @error: return location for a #GError
 *
 * Reserves every tuple of @box, all or nothing: a whole PCI slot is the box
 * `{d, b, s, 0..7}`.  Each tuple can later be released on its own.
 *
 * Errors: %ASM_ERROR_INVALID when a range is empty or beyond its width, or
 * the box is not wholly inside the pools; %ASM_ERROR_IN_USE when any tuple
 * of it is reserved.  Nothing changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_addr_space_reserve_box (AsmAddrSpace *s, const AsmRange *box,
                            GError **error)
{
  RunIter it;
  AsmRange run;

  g_return_val_if_fail (s != NULL && box != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!validate_box (s, box, "box", error) ||
      !box_runs_init (&it, s, box, "box", error))
    return FALSE;
  while (box_runs_next (&it, &run))
    if (!asm_range_set_contains_range (s->pools, run.first, run.last))
      {
        g_autofree char *b = format_box (s, box);
        g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                     "%s: box %s is not wholly inside the pools", s->name, b);
        return FALSE;
      }
  box_runs_init (&it, s, box, "box", NULL);
  while (box_runs_next (&it, &run))
    {
      AsmRange seg;
      AsmSegmentKind kind;
      if (!asm_arena_lookup_full (s->arena, run.first, &seg, &kind) ||
          kind != ASM_SEGMENT_FREE || seg.last < run.last)
        {
          g_autofree char *b = format_box (s, box);
          g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                       "%s: box %s holds a reserved address", s->name, b);
          return FALSE;
        }
    }
  box_runs_init (&it, s, box, "box", NULL);
  while (box_runs_next (&it, &run))
    {
      GError *err = NULL;
      if (!asm_arena_reserve (s->arena, run.first, run.last, &err))
        ASM_BUG ("%s: the arena refused a box checked to be free: %s",
                 s->name, err->message);
      count_add_range (&s->n_reserved, &s->n_full, run.first, run.last);
    }
  return TRUE;
}

/* The smallest tuple >= u (lexicographically) inside the box; FALSE when
 * there is none. */
static gboolean
next_in_box (AsmAddrSpace *s, const AsmRange *box, const guint64 *u,
             guint64 *v)
{
  guint n = s->n_dims;

  for (guint d = 0; d < n; d++)
    {
      if (u[d] < box[d].first)
        {
          memcpy (v, u, d * sizeof (guint64));
          for (guint e = d; e < n; e++)
            v[e] = box[e].first;
          return TRUE;
        }
      if (u[d] > box[d].last)
        {
          /* carry into the nearest earlier dimension that can grow */
          for (guint e = d; e-- > 0;)
            if (u[e] < box[e].last)
              {
                memcpy (v, u, e * sizeof (guint64));
                v[e] = u[e] + 1;
                for (guint f = e + 1; f < n; f++)
                  v[f] = box[f].first;
                return TRUE;
              }
          return FALSE;
        }
    }
  memcpy (v, u, n * sizeof (guint64));
  return TRUE;
}

static gboolean
in_box (AsmAddrSpace *s, const AsmRange *box, const guint64 *u, guint n)
{
  for (guint d = 0; d < n; d++)
    if (u[d] < box[d].first || u[d] > box[d].last)
      return FALSE;
  return TRUE;
}

/**
 * asm_addr_space_find_free:
 * @s: a space
 * @within: (array fixed-size=8) (nullable): one inclusive range per
 *   dimension; %NULL for the whole space
 * @n_whole_dims: how many trailing dimensions must be wholly free (0 for a
 *   single tuple, 1 for a whole PCI slot in `domain:bus:slot.function`)
 * @out_addr: (array fixed-size=8) (out caller-allocates): the tuple found
 *   (the first asm_addr_space_get_n_dims() values; bindings pass
 *   %ASM_ADDR_MAX_DIMS)
 * @error: return location for a #GError
 *
 * A dry run: finds the lowest tuple t inside @within such that every tuple
 * that shares t's leading `n_dims - n_whole_dims` values is pooled and
 * free (with @n_whole_dims = 0, simply the lowest free tuple); its trailing
 * values are 0.  @within may reach outside the pools: only pooled tuples
 * are candidates.  Its trailing @n_whole_dims ranges must cover their
 * dimensions' full width.  Nothing changes.  O(log n) per free run met
 * outside @within.
 *
 * Errors: %ASM_ERROR_INVALID for a malformed @within or @n_whole_dims;
 * %ASM_ERROR_NO_SPACE when no tuple qualifies.
 *
 * Returns: %TRUE when a tuple was found
 *
 * Since: 0.1
 */
gboolean
asm_addr_space_find_free (AsmAddrSpace *s, const AsmRange *within,
                          guint n_whole_dims, guint64 *out_addr,
                          GError **error)
{
  AsmRange full[ASM_ADDR_MAX_DIMS];
  guint64 t[ASM_ADDR_MAX_DIMS], u[ASM_ADDR_MAX_DIMS], hi[ASM_ADDR_MAX_DIMS];
  guint lead, block_bits = 0;
  AsmRequest req;

  g_return_val_if_fail (s != NULL && out_addr != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (n_whole_dims >= s->n_dims)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: %u whole dimensions leaves no dimension to choose "
                   "(the space has %u)",
                   s->name, n_whole_dims, s->n_dims);
      return FALSE;
    }
  if (within == NULL)
    {
      for (guint d = 0; d < s->n_dims; d++)
        full[d] = ASM_RANGE (0, dim_max (s, d));
      within = full;
    }
  if (!validate_box (s, within, "within", error))
    return FALSE;
  lead = s->n_dims - n_whole_dims;
  for (guint d = lead; d < s->n_dims; d++)
    {
      if (within[d].first != 0 || within[d].last != dim_max (s, d))
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "%s: dimension %u must be whole (0..%" G_GUINT64_FORMAT
                       ") to find a free block",
                       s->name, d, dim_max (s, d));
          return FALSE;
        }
      block_bits += s->bits[d];
    }

  req = ASM_REQUEST_INIT (G_GUINT64_CONSTANT (1) << block_bits);
  req.align = req.size;
  for (guint d = 0; d < s->n_dims; d++)
    {
      t[d] = within[d].first;
      hi[d] = within[d].last;
    }
  req.max = encode (s, hi);
  for (;;)
    {
      guint64 code;
      req.min = encode (s, t);
      if (!asm_arena_find_free (s->arena, &req, &code, NULL))
        break;
      decode (s, code, u);
      if (in_box (s, within, u, lead))
        {
          memcpy (out_addr, u, s->n_dims * sizeof (guint64));
          return TRUE;
        }
      if (!next_in_box (s, within, u, t))
        break;
    }
  if (error != NULL) /* callers probing many boxes pass NULL: skip the text */
  {
    g_autofree char *b = format_box (s, within);
    g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                 "%s: no free %s inside %s", s->name,
                 n_whole_dims ? "block" : "address", b);
  }
  return FALSE;
}

/**
 * asm_addr_space_reserve_any:
 * @s: a space
 * @within: (array fixed-size=8) (nullable): one inclusive range per
 *   dimension; %NULL for the whole space
 * @out_addr: (array fixed-size=8) (out caller-allocates) (optional): the
 *   tuple reserved (the first asm_addr_space_get_n_dims() values; bindings
 *   pass %ASM_ADDR_MAX_DIMS)
 * @error: return location for a #GError
 *
 * Reserves the lowest free tuple inside @within (for example any address
 * in `192.168.1.{1..254}`).  @within may reach outside the pools; only
 * pooled tuples are candidates.  O(log n) per free run met outside
 * @within, never a scan of tuples.
 *
 * Errors: %ASM_ERROR_INVALID for a malformed @within; %ASM_ERROR_NO_SPACE
 * when no tuple inside it is free.  Nothing changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_addr_space_reserve_any (AsmAddrSpace *s, const AsmRange *within,
                            guint64 *out_addr, GError **error)
{
  guint64 t[ASM_ADDR_MAX_DIMS];
  GError *err = NULL;

  g_return_val_if_fail (s != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!asm_addr_space_find_free (s, within, 0, t, error))
    return FALSE;
  if (!asm_addr_space_reserve (s, t, &err))
    ASM_BUG ("%s: the tuple just found free cannot be reserved: %s",
             s->name, err->message);
  if (out_addr != NULL)
    memcpy (out_addr, t, s->n_dims * sizeof (guint64));
  return TRUE;
}

/**
 * asm_addr_space_release:
 * @s: a space
 * @addr: (array fixed-size=8): a reserved tuple
 * @error: return location for a #GError
 *
 * Releases exactly one tuple, however it was reserved (exact, box or any).
 *
 * Errors: %ASM_ERROR_INVALID when a value is beyond its width or @addr is
 * in no pool; %ASM_ERROR_NOT_FOUND when it is not reserved.  Nothing
 * changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_addr_space_release (AsmAddrSpace *s, const guint64 *addr, GError **error)
{
  guint64 code;
  AsmRange seg;
  AsmSegmentKind kind;
  GError *err = NULL;

  g_return_val_if_fail (s != NULL && addr != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!encode_pooled (s, addr, &code, error))
    return FALSE;
  if (!asm_arena_lookup_full (s->arena, code, &seg, &kind) ||
      kind != ASM_SEGMENT_RESERVED)
    {
      g_autofree char *t = asm_addr_space_format (s, addr);
      g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                   "%s: %s is not reserved", s->name, t);
      return FALSE;
    }
  if (!asm_arena_free (s->arena, seg.first, &err) ||
      (seg.first < code &&
       !asm_arena_reserve (s->arena, seg.first, code - 1, &err)) ||
      (seg.last > code &&
       !asm_arena_reserve (s->arena, code + 1, seg.last, &err)))
    ASM_BUG ("%s: re-reserving the rest of a segment just freed failed: "
             "%s", s->name, err->message);
  count_sub_one (&s->n_reserved, &s->n_full);
  return TRUE;
}

/**
 * asm_addr_space_is_free:
 * @s: a space
 * @addr: (array fixed-size=8): a tuple
 *
 * Tells whether a tuple is free.
 *
 * Returns: %TRUE when @addr is pooled and not reserved (%FALSE also for a
 *   value beyond its width)
 *
 * Since: 0.1
 */
gboolean
asm_addr_space_is_free (AsmAddrSpace *s, const guint64 *addr)
{
  AsmSegmentKind kind;

  g_return_val_if_fail (s != NULL && addr != NULL, FALSE);
  if (!validate_tuple (s, addr, NULL))
    return FALSE;
  return asm_arena_lookup_full (s->arena, encode (s, addr), NULL, &kind) &&
         kind == ASM_SEGMENT_FREE;
}

/**
 * asm_addr_space_is_pooled:
 * @s: a space
 * @addr: (array fixed-size=8): a tuple
 *
 * Tells whether a tuple belongs to a pool.
 *
 * Returns: %TRUE when @addr belongs to a pool, reserved or not
 *
 * Since: 0.1
 */
gboolean
asm_addr_space_is_pooled (AsmAddrSpace *s, const guint64 *addr)
{
  g_return_val_if_fail (s != NULL && addr != NULL, FALSE);
  return validate_tuple (s, addr, NULL) &&
         asm_range_set_contains (s->pools, encode (s, addr));
}

/**
 * asm_addr_space_get_n_reserved:
 * @s: a space
 *
 * Counts the reserved tuples.
 *
 * Returns: the number of reserved tuples (saturated at %G_MAXUINT64)
 *
 * Since: 0.1
 */
guint64
asm_addr_space_get_n_reserved (AsmAddrSpace *s)
{
  g_return_val_if_fail (s != NULL, 0);
  return s->n_full ? G_MAXUINT64 : s->n_reserved;
}

typedef struct {
  AsmAddrSpace *s;
  AsmAddrForeachFunc func;
  gpointer user_data;
  gboolean stopped;
} ForeachData;

static gboolean
foreach_segment (const AsmRange *seg, AsmSegmentKind kind, gpointer user_data)
{
  ForeachData *fd = user_data;
  guint64 t[ASM_ADDR_MAX_DIMS] = { 0 }; /* all of it is the callback's */

  if (kind != ASM_SEGMENT_RESERVED ||
      !asm_range_set_contains (fd->s->pools, seg->first))
    return TRUE;
  for (guint64 c = seg->first;; c++)
    {
      decode (fd->s, c, t);
      if (!fd->func (t, fd->user_data))
        {
          fd->stopped = TRUE;
          return FALSE;
        }
      if (c == seg->last)
        break;
    }
  return TRUE;
}

/**
 * asm_addr_space_foreach_reserved:
 * @s: a space
 * @func: (scope call): called with each reserved tuple in increasing order
 * @user_data: passed to @func
 *
 * Visits the reserved tuples until @func returns %FALSE.  The space must
 * not change during the visit.
 *
 * Returns: %TRUE when every tuple was visited
 *
 * Since: 0.1
 */
gboolean
asm_addr_space_foreach_reserved (AsmAddrSpace *s, AsmAddrForeachFunc func,
                                 gpointer user_data)
{
  ForeachData fd = { s, func, user_data, FALSE };

  g_return_val_if_fail (s != NULL && func != NULL, FALSE);
  /* the walk stops exactly when the caller's function stops it */
  return asm_arena_walk (s->arena, foreach_segment, &fd) && !fd.stopped;
}

/**
 * asm_addr_space_set_formatter:
 * @s: a space
 * @format: (nullable) (scope notified) (closure user_data) (destroy destroy):
 *   formats a tuple; %NULL for the default
 * @parse: (nullable) (scope notified) (closure user_data) (destroy destroy):
 *   parses a tuple; %NULL for the default
 * @user_data: passed to both
 * @destroy: (nullable): frees @user_data when the space is freed or the
 *   formatter replaced
 *
 * Sets the text form of the space's tuples, used in messages and by
 * asm_addr_space_format() and asm_addr_space_parse().  The default is the
 * values in decimal joined by '.', which reads IPv4 addresses naturally.
 *
 * Since: 0.1
 */
void
asm_addr_space_set_formatter (AsmAddrSpace *s, AsmAddrFormatFunc format,
                              AsmAddrParseFunc parse, gpointer user_data,
                              GDestroyNotify destroy)
{
  g_return_if_fail (s != NULL);
  if (s->fmt_destroy != NULL)
    s->fmt_destroy (s->fmt_data);
  s->format = format ? format : default_format;
  s->parse = parse ? parse : default_parse;
  s->fmt_data = user_data;
  s->fmt_destroy = destroy;
}

/**
 * asm_addr_space_parse:
 * @s: a space
 * @text: the text form of a tuple
 * @out_addr: (array fixed-size=8) (out caller-allocates): the tuple (the
 *   first asm_addr_space_get_n_dims() values; bindings pass
 *   %ASM_ADDR_MAX_DIMS)
 * @error: return location for a #GError
 *
 * Parses @text with the space's parser and checks each value against its
 * dimension's width.
 *
 * Errors: %ASM_ERROR_PARSE for text that is not a tuple;
 * %ASM_ERROR_INVALID for a value beyond its width.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_addr_space_parse (AsmAddrSpace *s, const char *text, guint64 *out_addr,
                      GError **error)
{
  guint64 t[ASM_ADDR_MAX_DIMS];

  g_return_val_if_fail (s != NULL && text != NULL && out_addr != NULL, FALSE);
  if (!s->parse (text, t, s->n_dims, s->fmt_data, error) ||
      !validate_tuple (s, t, error))
    return FALSE;
  memcpy (out_addr, t, s->n_dims * sizeof (guint64));
  return TRUE;
}

typedef struct {
  AsmAddrSpace *s;
  guint64 reserved;
  gboolean full;
  GError **error;
  gboolean ok;
} CheckData;

static gboolean
check_segment (const AsmRange *seg, AsmSegmentKind kind, gpointer user_data)
{
  CheckData *cd = user_data;
  gboolean in = asm_range_set_overlaps (cd->s->pools, seg->first, seg->last);
  gboolean all_in =
      asm_range_set_contains_range (cd->s->pools, seg->first, seg->last);

  if (kind == ASM_SEGMENT_ALLOCATED || (in && !all_in) ||
      (kind == ASM_SEGMENT_FREE && !all_in))
    {
      g_set_error (cd->error, ASM_ERROR, ASM_ERROR_FAILED,
                   "%s: invariant broken: segment 0x%" G_GINT64_MODIFIER
                   "x-0x%" G_GINT64_MODIFIER "x mixes pooled and unpooled "
                   "codes or is an allocation",
                   cd->s->name, seg->first, seg->last);
      cd->ok = FALSE;
      return FALSE;
    }
  if (kind == ASM_SEGMENT_RESERVED && in)
    count_add_range (&cd->reserved, &cd->full, seg->first, seg->last);
  return TRUE;
}

/**
 * asm_addr_space_check:
 * @s: a space
 * @error: return location for a #GError
 *
 * Verifies the invariants (see the theory comment in asm-addr.c) and those
 * of the arena and pool set beneath.  O(n).
 *
 * Returns: %TRUE when consistent, else %FALSE with %ASM_ERROR_FAILED
 *
 * Since: 0.1
 */
gboolean
asm_addr_space_check (AsmAddrSpace *s, GError **error)
{
  CheckData cd = { s, 0, FALSE, error, TRUE };
  AsmArenaStats st;

  g_return_val_if_fail (s != NULL, FALSE);
  if (!asm_arena_check (s->arena, error) ||
      !asm_range_set_check (s->pools, error))
    return FALSE;
  asm_arena_get_stats (s->arena, &st);
  if (st.n_spans != 1)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                   "%s: invariant broken: %" G_GUINT64_FORMAT " spans",
                   s->name, st.n_spans);
      return FALSE;
    }
  if (!asm_arena_walk (s->arena, check_segment, &cd))
    cd.ok = FALSE; /* check_segment stopped at a broken rule */
  if (cd.ok && (cd.reserved != s->n_reserved || cd.full != s->n_full))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                   "%s: invariant broken: %" G_GUINT64_FORMAT " reserved "
                   "tuples counted, %" G_GUINT64_FORMAT " recorded",
                   s->name, cd.reserved, s->n_reserved);
      return FALSE;
    }
  return cd.ok;
}

/* ------------------------------------------------------------------ */
/* disk names                                                           */

static const char *const disk_prefixes[] = { "xvd", "ubd", "fd", "hd", "vd",
                                             "sd" };

/**
 * asm_disk_name_parse:
 * @name: a disk name such as `sda`, `vdz`, `hdaa`
 * @out_prefix: (out) (optional) (transfer full): the bus prefix (`sd`)
 * @out_index: (out) (optional): the index: `a` = 0, `z` = 25, `aa` = 26,
 *   `zz` = 701, `aaa` = 702
 * @error: return location for a #GError
 *
 * Maps a disk name to its index the way libvirt does, so that disk names
 * can be reserved in a one-dimensional #AsmAddrSpace.  Known
 * prefixes: `sd`, `hd`, `vd`, `xvd`, `fd`, `ubd`.
 *
 * Errors: %ASM_ERROR_PARSE for an unknown prefix, no letters, anything
 * after the letters (a partition number), or an index beyond 2^63.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_disk_name_parse (const char *name, char **out_prefix, guint64 *out_index,
                     GError **error)
{
  const char *prefix = NULL, *p;
  guint64 idx = 0;
  guint i;

  g_return_val_if_fail (name != NULL, FALSE);
  for (i = 0; i < G_N_ELEMENTS (disk_prefixes); i++)
    if (g_str_has_prefix (name, disk_prefixes[i]))
      {
        prefix = disk_prefixes[i];
        break;
      }
  if (prefix == NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "disk name '%s' does not start with sd, hd, vd, xvd, fd or "
                   "ubd", name);
      return FALSE;
    }
  p = name + strlen (prefix);
  for (i = 0; g_ascii_islower (*p); i++, p++)
    {
      if (idx > (G_MAXUINT64 / 2) / 26)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                       "disk name '%s' is too long", name);
          return FALSE;
        }
      idx = (idx + (i < 1 ? 0 : 1)) * 26 + (guint64) (*p - 'a');
    }
  if (i == 0 || *p != '\0')
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "disk name '%s' is not %s followed by letters a-z only",
                   name, prefix);
      return FALSE;
    }
  if (out_prefix != NULL)
    *out_prefix = g_strdup (prefix);
  if (out_index != NULL)
    *out_index = idx;
  return TRUE;
}

/**
 * asm_disk_name_format:
 * @prefix: a bus prefix such as `sd`
 * @index: a disk index
 *
 * The inverse of asm_disk_name_parse(): 0 is `sda`, 26 is `sdaa`.
 *
 * Returns: (transfer full): the disk name
 *
 * Since: 0.1
 */
char *
asm_disk_name_format (const char *prefix, guint64 index)
{
  char letters[16];
  guint n = 0;
  guint64 i = index;

  g_return_val_if_fail (prefix != NULL, NULL);
  /* bijective base 26: a..z, aa..zz, aaa.. */
  for (;;)
    {
      letters[n++] = (char) ('a' + i % 26);
      if (i < 26)
        break;
      i = i / 26 - 1;
    }
  {
    GString *str = g_string_new (prefix);
    while (n > 0)
      g_string_append_c (str, letters[--n]);
    return g_string_free (str, FALSE);
  }
}
