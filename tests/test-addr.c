/* test-addr.c: unit tests of AsmAddrSpace and the disk-name helpers (layer 2)
 *
 * The first tests are the address-space examples as first written down: the
 * PCI pool {0..1}:{0..31}.{0..7} with 0:13.2 reserved, the router at
 * 192.168.1.254 and the computers in 192.168.1.{1..254}, the disk names
 * sda..sdaaa, and a whole PCI slot reserved at once.  The rest pin down
 * DESIGN.md section 4's AsmAddrSpace rules one by one: every refused call
 * must fail with the documented code and a message naming the space, and
 * must leave the space exactly as it was.  "Exactly" is checked by a
 * snapshot taken before and compared after: the reserved count, the full
 * foreach_reserved() listing, the lowest free tuple, and is_free() and
 * is_pooled() of every tuple of a probe box around the pools.
 * asm_addr_space_check() runs after every call that changes a space.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <asm/asm.h>

#include "asm-test.h"

#define MAX64 G_MAXUINT64
#define MAX32 G_GUINT64_CONSTANT (0xffffffff)

/* a tuple and a box as compound literals */
#define T(...) ((const guint64[]) { __VA_ARGS__ })
#define B(...) ((const AsmRange[]) { __VA_ARGS__ })
#define R(a, b) ASM_RANGE ((a), (b))
#define V(v) ASM_VALUE (v)

/* cmocka reports the line of the failing assertion; the helpers below take
 * the caller's file and line so that a failure points at the test. */
static char *
tuple_str (guint n, const guint64 *t)
{
  GString *s = g_string_new ("(");
  for (guint d = 0; d < n; d++)
    g_string_append_printf (s, "%s%" G_GUINT64_FORMAT, d ? ", " : "", t[d]);
  g_string_append_c (s, ')');
  return g_string_free (s, FALSE);
}

/* ---------------------------------------------------------------------- */
/* Invariant check                                                        */
/* ---------------------------------------------------------------------- */

static void
check_at (AsmAddrSpace *s, const char *file, int line)
{
  g_autoptr(GError) error = NULL;

  if (!asm_addr_space_check (s, &error))
    FAIL_AT (file, line, "asm_addr_space_check: %s",
             error ? error->message : "(no error set)");
  if (error != NULL)
    FAIL_AT (file, line, "asm_addr_space_check succeeded but set an error");
}
#define assert_space_ok(s) check_at ((s), __FILE__, __LINE__)

/* ---------------------------------------------------------------------- */
/* Snapshot: everything observable about a space                          */
/* ---------------------------------------------------------------------- */

/* The probe box: every tuple of it is looked at by a snapshot.  Each test
 * that checks refused calls sets it around its pools (<= 2^16 tuples). */
static AsmRange probe_box[ASM_ADDR_MAX_DIMS];
static guint probe_n_dims;

static void
probe_set (guint n_dims, const AsmRange *box)
{
  probe_n_dims = n_dims;
  memcpy (probe_box, box, n_dims * sizeof (AsmRange));
}

/* The first tuple of a box, then the next ones in lexicographic order. */
static void
box_first (guint n, const AsmRange *box, guint64 *t)
{
  for (guint d = 0; d < n; d++)
    t[d] = box[d].first;
}

static gboolean
box_next (guint n, const AsmRange *box, guint64 *t)
{
  for (guint d = n; d-- > 0;)
    {
      if (t[d] < box[d].last)
        {
          t[d]++;
          return TRUE;
        }
      t[d] = box[d].first;
    }
  return FALSE;
}

/* A listing stops after this many tuples (spaces of 2^64 tuples can be
 * wholly reserved); the snapshot compares that prefix. */
#define LISTING_MAX (1u << 16)

typedef struct {
  guint n_dims;
  GArray *tuples; /* of guint64, n_dims per tuple */
} Listing;

static gboolean
listing_cb (const guint64 *addr, gpointer user_data)
{
  Listing *l = user_data;
  g_array_append_vals (l->tuples, addr, l->n_dims);
  return l->tuples->len < LISTING_MAX * l->n_dims;
}

/* foreach_reserved() as a flat array of n_dims * count values, at most
 * LISTING_MAX tuples */
static GArray *
list_reserved (AsmAddrSpace *s)
{
  Listing l = { asm_addr_space_get_n_dims (s),
                g_array_new (FALSE, FALSE, sizeof (guint64)) };
  gboolean all = asm_addr_space_foreach_reserved (s, listing_cb, &l);
  assert_true (all || l.tuples->len == LISTING_MAX * l.n_dims);
  return l.tuples;
}

typedef struct {
  guint64 n_reserved;
  GArray *reserved;
  GByteArray *probe;    /* per probe tuple: pooled | free << 1 */
  gboolean has_free;
  guint64 lowest_free[ASM_ADDR_MAX_DIMS];
  char *name;
} Snapshot;

static void
snapshot_take (AsmAddrSpace *s, Snapshot *snap)
{
  guint n = asm_addr_space_get_n_dims (s);
  guint64 t[ASM_ADDR_MAX_DIMS];

  memset (snap, 0, sizeof *snap);
  snap->n_reserved = asm_addr_space_get_n_reserved (s);
  snap->reserved = list_reserved (s);
  snap->probe = g_byte_array_new ();
  snap->name = g_strdup (asm_addr_space_get_name (s));
  snap->has_free =
      asm_addr_space_find_free (s, NULL, 0, snap->lowest_free, NULL);
  if (probe_n_dims == n)
    {
      box_first (n, probe_box, t);
      do
        {
          guint8 b = (asm_addr_space_is_pooled (s, t) ? 1 : 0) |
                     (asm_addr_space_is_free (s, t) ? 2 : 0);
          g_byte_array_append (snap->probe, &b, 1);
        }
      while (box_next (n, probe_box, t));
    }
}

static void
snapshot_clear (Snapshot *snap)
{
  g_array_unref (snap->reserved);
  g_byte_array_unref (snap->probe);
  g_free (snap->name);
}

static void
snapshot_compare_at (AsmAddrSpace *s, const Snapshot *before,
                     const char *what, const char *file, int line)
{
  Snapshot after;
  guint n = asm_addr_space_get_n_dims (s);

  snapshot_take (s, &after);
  if (after.n_reserved != before->n_reserved)
    FAIL_AT (file, line, "%s changed the reserved count: %" G_GUINT64_FORMAT
             " -> %" G_GUINT64_FORMAT, what, before->n_reserved,
             after.n_reserved);
  if (after.reserved->len != before->reserved->len ||
      (after.reserved->len > 0 &&
       memcmp (after.reserved->data, before->reserved->data,
              after.reserved->len * sizeof (guint64)) != 0))
    FAIL_AT (file, line, "%s changed the foreach_reserved() listing (%u -> "
             "%u tuples)", what, before->reserved->len / n,
             after.reserved->len / n);
  if (after.has_free != before->has_free ||
      (after.has_free &&
       memcmp (after.lowest_free, before->lowest_free,
               n * sizeof (guint64)) != 0))
    FAIL_AT (file, line, "%s changed the lowest free tuple", what);
  if (after.probe->len != before->probe->len ||
      (after.probe->len > 0 &&
       memcmp (after.probe->data, before->probe->data, after.probe->len) != 0))
    {
      guint64 t[ASM_ADDR_MAX_DIMS];
      guint i = 0;
      box_first (n, probe_box, t);
      do
        {
          if (after.probe->data[i] != before->probe->data[i])
            {
              g_autofree char *ts = tuple_str (n, t);
              FAIL_AT (file, line, "%s changed tuple %s: pooled/free %u -> %u",
                       what, ts, before->probe->data[i],
                       after.probe->data[i]);
            }
          i++;
        }
      while (box_next (n, probe_box, t));
    }
  if (g_strcmp0 (after.name, before->name) != 0)
    FAIL_AT (file, line, "%s changed the name", what);
  snapshot_clear (&after);
  check_at (s, file, line);
}

/* ---------------------------------------------------------------------- */
/* Call wrappers: success expected, or failure with a code and no change  */
/* ---------------------------------------------------------------------- */

static void
expect_error_at (AsmAddrSpace *s, gboolean ret, GError *error, gint code,
                 const char *what, const char *file, int line)
{
  if (ret)
    FAIL_AT (file, line, "%s succeeded, expected %s", what,
             test_code_name (code));
  if (error == NULL)
    FAIL_AT (file, line, "%s failed without setting an error", what);
  if (error->domain != ASM_ERROR || error->code != code)
    FAIL_AT (file, line, "%s failed with %s (%s), expected %s", what,
             error->domain == ASM_ERROR ? test_code_name (error->code)
                                        : g_quark_to_string (error->domain),
             error->message, test_code_name (code));
  if (error->message == NULL || error->message[0] == '\0')
    FAIL_AT (file, line, "%s: empty error message", what);
  if (s != NULL && strstr (error->message, asm_addr_space_get_name (s)) == NULL)
    FAIL_AT (file, line, "%s: message '%s' does not name the space '%s'",
             what, error->message, asm_addr_space_get_name (s));
}

static void
expect_ok_at (AsmAddrSpace *s, gboolean ret, GError *error, const char *what,
              const char *file, int line)
{
  if (!ret)
    FAIL_AT (file, line, "%s failed: %s", what,
             error ? error->message : "(no error set)");
  if (error != NULL)
    FAIL_AT (file, line, "%s succeeded but set an error", what);
  check_at (s, file, line);
}

static void
add_pool_at (AsmAddrSpace *s, const AsmRange *box, gint code,
             const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  Snapshot snap;
  gboolean r;

  if (code < 0)
    {
      r = asm_addr_space_add_pool (s, box, &error);
      expect_ok_at (s, r, error, "add_pool", file, line);
      return;
    }
  snapshot_take (s, &snap);
  r = asm_addr_space_add_pool (s, box, &error);
  expect_error_at (s, r, error, code, "add_pool", file, line);
  snapshot_compare_at (s, &snap, "refused add_pool", file, line);
  snapshot_clear (&snap);
}
#define pool_ok(s, box) add_pool_at ((s), (box), -1, __FILE__, __LINE__)
#define pool_fails(s, box, code) \
  add_pool_at ((s), (box), ASM_ERROR_##code, __FILE__, __LINE__)

static void
reserve_at (AsmAddrSpace *s, const guint64 *addr, gint code,
            const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  Snapshot snap;
  gboolean r;

  if (code < 0)
    {
      guint64 n = asm_addr_space_get_n_reserved (s);
      r = asm_addr_space_reserve (s, addr, &error);
      expect_ok_at (s, r, error, "reserve", file, line);
      if (asm_addr_space_is_free (s, addr))
        FAIL_AT (file, line, "reserved tuple is still free");
      if (asm_addr_space_get_n_reserved (s) != n + 1)
        FAIL_AT (file, line, "reserve did not count one tuple");
      return;
    }
  snapshot_take (s, &snap);
  r = asm_addr_space_reserve (s, addr, &error);
  expect_error_at (s, r, error, code, "reserve", file, line);
  snapshot_compare_at (s, &snap, "refused reserve", file, line);
  snapshot_clear (&snap);
}
#define reserve_ok(s, addr) reserve_at ((s), (addr), -1, __FILE__, __LINE__)
#define reserve_fails(s, addr, code) \
  reserve_at ((s), (addr), ASM_ERROR_##code, __FILE__, __LINE__)

static void
reserve_box_at (AsmAddrSpace *s, const AsmRange *box, gint code,
                const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  Snapshot snap;
  gboolean r;

  if (code < 0)
    {
      r = asm_addr_space_reserve_box (s, box, &error);
      expect_ok_at (s, r, error, "reserve_box", file, line);
      return;
    }
  snapshot_take (s, &snap);
  r = asm_addr_space_reserve_box (s, box, &error);
  expect_error_at (s, r, error, code, "reserve_box", file, line);
  snapshot_compare_at (s, &snap, "refused reserve_box", file, line);
  snapshot_clear (&snap);
}
#define box_ok(s, box) reserve_box_at ((s), (box), -1, __FILE__, __LINE__)
#define box_fails(s, box, code) \
  reserve_box_at ((s), (box), ASM_ERROR_##code, __FILE__, __LINE__)

static void
release_at (AsmAddrSpace *s, const guint64 *addr, gint code,
            const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  Snapshot snap;
  gboolean r;

  if (code < 0)
    {
      guint64 n = asm_addr_space_get_n_reserved (s);
      r = asm_addr_space_release (s, addr, &error);
      expect_ok_at (s, r, error, "release", file, line);
      if (!asm_addr_space_is_free (s, addr))
        FAIL_AT (file, line, "released tuple is not free");
      if (asm_addr_space_get_n_reserved (s) != n - 1)
        FAIL_AT (file, line, "release did not uncount one tuple");
      return;
    }
  snapshot_take (s, &snap);
  r = asm_addr_space_release (s, addr, &error);
  expect_error_at (s, r, error, code, "release", file, line);
  snapshot_compare_at (s, &snap, "refused release", file, line);
  snapshot_clear (&snap);
}
#define release_ok(s, addr) release_at ((s), (addr), -1, __FILE__, __LINE__)
#define release_fails(s, addr, code) \
  release_at ((s), (addr), ASM_ERROR_##code, __FILE__, __LINE__)

/* reserve_any() must give exactly @expect */
static void
any_at (AsmAddrSpace *s, const AsmRange *within, const guint64 *expect,
        const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  guint n = asm_addr_space_get_n_dims (s);
  guint64 got[ASM_ADDR_MAX_DIMS];
  guint64 count = asm_addr_space_get_n_reserved (s);
  gboolean r;

  memset (got, 0xa5, sizeof got);
  if (!asm_addr_space_is_free (s, expect))
    FAIL_AT (file, line, "test bug: expected tuple is not free");
  r = asm_addr_space_reserve_any (s, within, got, &error);
  expect_ok_at (s, r, error, "reserve_any", file, line);
  if (memcmp (got, expect, n * sizeof (guint64)) != 0)
    {
      g_autofree char *g = tuple_str (n, got);
      g_autofree char *e = tuple_str (n, expect);
      FAIL_AT (file, line, "reserve_any gave %s, expected %s", g, e);
    }
  for (guint d = n; d < ASM_ADDR_MAX_DIMS; d++)
    if (got[d] != G_GUINT64_CONSTANT (0xa5a5a5a5a5a5a5a5))
      FAIL_AT (file, line, "reserve_any wrote beyond n_dims");
  if (asm_addr_space_is_free (s, expect) ||
      asm_addr_space_get_n_reserved (s) != count + 1)
    FAIL_AT (file, line, "reserve_any did not reserve its tuple");
}
#define any_gives(s, within, expect) \
  any_at ((s), (within), (expect), __FILE__, __LINE__)

static void
any_fails_at (AsmAddrSpace *s, const AsmRange *within, gint code,
              const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  guint64 got[ASM_ADDR_MAX_DIMS];
  Snapshot snap;
  gboolean r;

  snapshot_take (s, &snap);
  r = asm_addr_space_reserve_any (s, within, got, &error);
  expect_error_at (s, r, error, code, "reserve_any", file, line);
  snapshot_compare_at (s, &snap, "refused reserve_any", file, line);
  snapshot_clear (&snap);
}
#define any_fails(s, within, code) \
  any_fails_at ((s), (within), ASM_ERROR_##code, __FILE__, __LINE__)

/* find_free() gives exactly @expect (NULL: fails with @code); never
 * changes anything */
static void
find_at (AsmAddrSpace *s, const AsmRange *within, guint k,
         const guint64 *expect, gint code, const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  guint n = asm_addr_space_get_n_dims (s);
  guint64 got[ASM_ADDR_MAX_DIMS];
  Snapshot snap;
  gboolean r;

  snapshot_take (s, &snap);
  r = asm_addr_space_find_free (s, within, k, got, &error);
  if (expect != NULL)
    {
      if (!r)
        FAIL_AT (file, line, "find_free failed: %s",
                 error ? error->message : "(no error)");
      if (memcmp (got, expect, n * sizeof (guint64)) != 0)
        {
          g_autofree char *g = tuple_str (n, got);
          g_autofree char *e = tuple_str (n, expect);
          FAIL_AT (file, line, "find_free gave %s, expected %s", g, e);
        }
    }
  else
    expect_error_at (s, r, error, code, "find_free", file, line);
  snapshot_compare_at (s, &snap, "find_free", file, line);
  snapshot_clear (&snap);
}
#define find_gives(s, within, k, expect) \
  find_at ((s), (within), (k), (expect), -1, __FILE__, __LINE__)
#define find_fails(s, within, k, code) \
  find_at ((s), (within), (k), NULL, ASM_ERROR_##code, __FILE__, __LINE__)

static AsmAddrSpace *
space_new_at (const char *name, guint n, const guint8 *bits,
              const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  AsmAddrSpace *s = asm_addr_space_new (name, n, bits, &error);

  if (s == NULL)
    FAIL_AT (file, line, "asm_addr_space_new: %s",
             error ? error->message : "(no error)");
  if (error != NULL)
    FAIL_AT (file, line, "asm_addr_space_new succeeded but set an error");
  check_at (s, file, line);
  return s;
}
#define space_new(name, n, ...) \
  space_new_at ((name), (n), (const guint8[]) { __VA_ARGS__ }, __FILE__, \
                __LINE__)

/* the listing of foreach_reserved() must be exactly these tuples */
static void
assert_reserved_at (AsmAddrSpace *s, const guint64 *tuples, guint count,
                    const char *file, int line)
{
  g_autoptr(GArray) got = list_reserved (s);
  guint n = asm_addr_space_get_n_dims (s);

  if (asm_addr_space_get_n_reserved (s) != count)
    FAIL_AT (file, line, "%" G_GUINT64_FORMAT " reserved, expected %u",
             asm_addr_space_get_n_reserved (s), count);
  if (got->len != count * n)
    FAIL_AT (file, line, "foreach_reserved listed %u tuples, expected %u",
             got->len / n, count);
  for (guint i = 0; i < count; i++)
    if (memcmp (&g_array_index (got, guint64, i * n), tuples + i * n,
                n * sizeof (guint64)) != 0)
      {
        g_autofree char *g = tuple_str (n, &g_array_index (got, guint64, i * n));
        g_autofree char *e = tuple_str (n, tuples + i * n);
        FAIL_AT (file, line, "foreach_reserved item %u is %s, expected %s", i,
                 g, e);
      }
}
#define assert_reserved(s, count, ...) \
  assert_reserved_at ((s), (const guint64[]) { __VA_ARGS__ }, (count), \
                      __FILE__, __LINE__)
#define assert_none_reserved(s) assert_reserved_at ((s), NULL, 0, __FILE__, __LINE__)

/* number of free tuples inside a box, by is_free() */
static guint64
count_free (AsmAddrSpace *s, const AsmRange *box)
{
  guint n = asm_addr_space_get_n_dims (s);
  guint64 t[ASM_ADDR_MAX_DIMS], c = 0;

  box_first (n, box, t);
  do
    c += asm_addr_space_is_free (s, t) ? 1 : 0;
  while (box_next (n, box, t));
  return c;
}

/* ---------------------------------------------------------------------- */
/* Seed 004 examples                                                      */
/* ---------------------------------------------------------------------- */

/* "{0..1} {0..31} {0..7}; now someone reserves address 0:13.2": the free
 * set becomes the five boxes the seed lists (its "12..12" lines mean 13). */
static void
pci_two_buses (guint8 domain_bits)
{
  g_autoptr(AsmAddrSpace) s = space_new ("pci", 3, domain_bits, 5, 3);
  static const AsmRange free_boxes[][3] = {
    { { 0, 0 }, { 0, 12 }, { 0, 7 } },
    { { 0, 0 }, { 13, 13 }, { 0, 1 } },
    { { 0, 0 }, { 13, 13 }, { 3, 7 } },
    { { 0, 0 }, { 14, 31 }, { 0, 7 } },
    { { 1, 1 }, { 0, 31 }, { 0, 7 } },
  };
  guint64 t[3], addr[3];
  g_autoptr(GError) error = NULL;

  probe_set (3, B (R (0, 2), R (0, 31), R (0, 7)));
  pool_ok (s, B (R (0, 1), R (0, 31), R (0, 7)));
  assert_int_equal (count_free (s, B (R (0, 3), R (0, 31), R (0, 7))), 512);
  assert_true (asm_addr_space_parse (s, "0:13.2", addr, &error));
  assert_null (error);
  assert_memory_equal (addr, T (0, 13, 2), sizeof addr);
  reserve_ok (s, addr);

  assert_false (asm_addr_space_is_free (s, T (0, 13, 2)));
  assert_true (asm_addr_space_is_pooled (s, T (0, 13, 2)));
  assert_true (asm_addr_space_is_free (s, T (0, 13, 1)));
  assert_true (asm_addr_space_is_free (s, T (0, 13, 3)));
  assert_true (asm_addr_space_is_free (s, T (0, 12, 7)));
  assert_true (asm_addr_space_is_free (s, T (0, 14, 0)));
  assert_true (asm_addr_space_is_free (s, T (1, 13, 2)));
  assert_reserved (s, 1, 0, 13, 2);
  reserve_fails (s, T (0, 13, 2), IN_USE);

  /* the free tuples are exactly the union of the seed's five boxes */
  box_first (3, B (R (0, 3), R (0, 31), R (0, 7)), t);
  do
    {
      gboolean in = FALSE;
      for (guint i = 0; i < G_N_ELEMENTS (free_boxes); i++)
        in |= t[0] >= free_boxes[i][0].first && t[0] <= free_boxes[i][0].last &&
              t[1] >= free_boxes[i][1].first && t[1] <= free_boxes[i][1].last &&
              t[2] >= free_boxes[i][2].first && t[2] <= free_boxes[i][2].last;
      assert_int_equal (asm_addr_space_is_free (s, t), in);
    }
  while (box_next (3, B (R (0, 3), R (0, 31), R (0, 7)), t));
  assert_int_equal (count_free (s, B (R (0, 3), R (0, 31), R (0, 7))), 511);

  /* any free function of slot 13 goes around the hole */
  any_gives (s, B (V (0), V (13), R (0, 7)), T (0, 13, 0));
  any_gives (s, B (V (0), V (13), R (0, 7)), T (0, 13, 1));
  any_gives (s, B (V (0), V (13), R (0, 7)), T (0, 13, 3));
  release_ok (s, T (0, 13, 0));
  release_ok (s, T (0, 13, 1));
  release_ok (s, T (0, 13, 3));
  /* slot 13 is no longer wholly free: the first whole free slot of bus 0
   * at or after slot 13 is 14 */
  find_gives (s, B (V (0), R (13, 31), R (0, 7)), 1, T (0, 14, 0));
  find_gives (s, NULL, 1, T (0, 0, 0));
  release_ok (s, T (0, 13, 2));
  assert_none_reserved (s);
  assert_int_equal (count_free (s, B (R (0, 3), R (0, 31), R (0, 7))), 512);
}

static void
test_seed_pci_pool_16bit_domain (void **state)
{
  pci_two_buses (16);
}

static void
test_seed_pci_pool_8bit_domain (void **state)
{
  pci_two_buses (8);
}

/* The router first, then the computers: "any address in 192.168.1.{1..254}"
 * gives .1, .2, ... in order, skipping the router. */
static void
test_seed_router_within_including_it (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("lan", 4, 8, 8, 8, 8);
  const AsmRange *within = B (V (192), V (168), V (1), R (1, 254));

  probe_set (4, B (V (192), V (168), R (0, 2), R (0, 255)));
  pool_ok (s, B (V (192), V (168), V (1), R (0, 255)));
  reserve_ok (s, T (192, 168, 1, 254));
  for (guint64 i = 1; i <= 253; i++)
    any_gives (s, within, T (192, 168, 1, i));
  /* the 254th request: the 253 others and the router fill the range */
  any_fails (s, within, NO_SPACE);
  assert_int_equal (asm_addr_space_get_n_reserved (s), 254);
  /* .0 and .255 are pooled but outside the range: still free */
  assert_true (asm_addr_space_is_free (s, T (192, 168, 1, 0)));
  assert_true (asm_addr_space_is_free (s, T (192, 168, 1, 255)));
  /* a release makes exactly that address the next answer */
  release_ok (s, T (192, 168, 1, 77));
  any_gives (s, within, T (192, 168, 1, 77));
  any_fails (s, within, NO_SPACE);
  /* the whole pool is still open to a NULL within */
  any_gives (s, NULL, T (192, 168, 1, 0));
  any_gives (s, NULL, T (192, 168, 1, 255));
  any_fails (s, NULL, NO_SPACE);
  assert_space_ok (s);
}

/* The seed's range 192.168.1.2 to .240 does not reach the router: 239
 * computers fit, the 240th request fails. */
static void
test_seed_router_within_excluding_it (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("lan", 4, 8, 8, 8, 8);
  const AsmRange *within = B (V (192), V (168), V (1), R (2, 240));

  probe_set (4, B (V (192), V (168), R (0, 2), R (0, 255)));
  pool_ok (s, B (V (192), V (168), V (1), R (0, 255)));
  reserve_ok (s, T (192, 168, 1, 254));
  for (guint64 i = 2; i <= 240; i++)
    any_gives (s, within, T (192, 168, 1, i));
  any_fails (s, within, NO_SPACE);
  assert_int_equal (asm_addr_space_get_n_reserved (s), 240);
  /* the router was not touched, and the rest is free */
  reserve_fails (s, T (192, 168, 1, 254), IN_USE);
  assert_int_equal (count_free (s, B (V (192), V (168), V (1), R (0, 255))),
                    256 - 240);
  any_gives (s, B (V (192), V (168), V (1), R (1, 254)), T (192, 168, 1, 1));
  any_gives (s, B (V (192), V (168), V (1), R (1, 254)), T (192, 168, 1, 241));
  assert_space_ok (s);
}

/* ---------------------------------------------------------------------- */
/* Disk names                                                             */
/* ---------------------------------------------------------------------- */

static void
test_disk_names (void **state)
{
  static const struct {
    const char *name;
    guint64 index;
  } table[] = {
    { "sda", 0 },    { "sdb", 1 },    { "sdz", 25 },   { "sdaa", 26 },
    { "sdab", 27 },  { "sdaz", 51 },  { "sdba", 52 },  { "sdzz", 701 },
    { "sdaaa", 702 }, { "sdaab", 703 }, { "sdzzz", 18277 },
    { "sdaaaa", 18278 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (table); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *prefix = NULL;
      g_autofree char *back = NULL;
      guint64 index = G_MAXUINT64;

      if (!asm_disk_name_parse (table[i].name, &prefix, &index, &error))
        fail_msg ("%s: %s", table[i].name, error->message);
      assert_null (error);
      assert_string_equal (prefix, "sd");
      if (index != table[i].index)
        fail_msg ("%s parsed as %" G_GUINT64_FORMAT ", expected %"
                  G_GUINT64_FORMAT, table[i].name, index, table[i].index);
      back = asm_disk_name_format ("sd", table[i].index);
      assert_string_equal (back, table[i].name);
    }

  /* every index of the first three lengths round-trips */
  for (guint64 i = 0; i < 26 + 26 * 26 + 26 * 26 * 26 + 5; i++)
    {
      g_autofree char *name = asm_disk_name_format ("vd", i);
      g_autofree char *prefix = NULL;
      guint64 back = G_MAXUINT64;

      assert_true (asm_disk_name_parse (name, &prefix, &back, NULL));
      assert_string_equal (prefix, "vd");
      assert_int_equal (back, i);
    }

  /* the other prefixes, and optional outputs */
  {
    static const char *const prefixes[] = { "hd", "vd", "xvd", "fd", "ubd" };
    for (guint i = 0; i < G_N_ELEMENTS (prefixes); i++)
      {
        g_autofree char *name = g_strconcat (prefixes[i], "ba", NULL);
        g_autofree char *prefix = NULL;
        guint64 index = 0;
        assert_true (asm_disk_name_parse (name, &prefix, &index, NULL));
        assert_string_equal (prefix, prefixes[i]);
        assert_int_equal (index, 52);
      }
    assert_true (asm_disk_name_parse ("xvdc", NULL, NULL, NULL));
  }
}

static void
test_disk_names_invalid (void **state)
{
  static const char *const bad[] = {
    "", "sd", "sda1", "nvme0n1", "sdA", "SDA", "sd a", " sda", "sda ",
    "s", "xv", "xvd", "sd-a", "sd0", "hd1a", "mmcblk0",
    "sdaaaaaaaaaaaaaaaaaaaaaaa", /* far beyond 2^63 */
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      char *prefix = (char *) "untouched";
      guint64 index = 12345;

      if (asm_disk_name_parse (bad[i], &prefix, &index, &error))
        fail_msg ("disk name '%s' was accepted (index %" G_GUINT64_FORMAT ")",
                  bad[i], index);
      assert_non_null (error);
      if (!g_error_matches (error, ASM_ERROR, ASM_ERROR_PARSE))
        fail_msg ("'%s': %s (code %d), expected PARSE", bad[i], error->message,
                  error->code);
      assert_true (strlen (error->message) > 0);
      assert_string_equal (prefix, "untouched");
      assert_int_equal (index, 12345);
    }
}

/* Seed 004: reserving "sda" is reserving index 0 of a one-dimensional
 * space. */
static void
test_disk_names_as_addresses (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("scsi-disks", 1, 16);
  guint64 idx, got[1];
  g_autofree char *name = NULL;

  probe_set (1, B (R (0, 800)));
  pool_ok (s, B (R (0, 701)));
  assert_true (asm_disk_name_parse ("sda", NULL, &idx, NULL));
  reserve_ok (s, &idx);
  assert_true (asm_disk_name_parse ("sdc", NULL, &idx, NULL));
  reserve_ok (s, &idx);
  assert_true (asm_disk_name_parse ("sdc", NULL, &idx, NULL));
  reserve_fails (s, &idx, IN_USE);
  any_gives (s, NULL, T (1));
  any_gives (s, NULL, T (3));
  assert_true (asm_addr_space_reserve_any (s, NULL, got, NULL));
  name = asm_disk_name_format ("sd", got[0]);
  assert_string_equal (name, "sde");
  assert_true (asm_disk_name_parse ("sdaaa", NULL, &idx, NULL));
  reserve_fails (s, &idx, INVALID); /* 702 is beyond the pool */
  assert_true (asm_disk_name_parse ("sdzz", NULL, &idx, NULL));
  reserve_ok (s, &idx);
  assert_reserved (s, 6, 0, 1, 2, 3, 4, 701);
}

/* ---------------------------------------------------------------------- */
/* PCI slots: boxes and whole-slot search                                 */
/* ---------------------------------------------------------------------- */

static AsmAddrSpace *
pci_space (void)
{
  /* domain:bus:slot.function */
  AsmAddrSpace *s = space_new ("pci0", 4, 16, 8, 5, 3);

  probe_set (4, B (V (0), R (0, 2), R (0, 31), R (0, 7)));
  pool_ok (s, B (V (0), V (0), R (0, 31), R (0, 7)));
  pool_ok (s, B (V (0), V (1), R (0, 31), R (0, 7)));
  return s;
}

static void
test_pci_slot_box (void **state)
{
  g_autoptr(AsmAddrSpace) s = pci_space ();

  box_ok (s, B (V (0), V (0), V (3), R (0, 7)));
  assert_int_equal (asm_addr_space_get_n_reserved (s), 8);
  for (guint64 f = 0; f < 8; f++)
    {
      assert_false (asm_addr_space_is_free (s, T (0, 0, 3, f)));
      reserve_fails (s, T (0, 0, 3, f), IN_USE);
    }
  assert_true (asm_addr_space_is_free (s, T (0, 0, 2, 7)));
  assert_true (asm_addr_space_is_free (s, T (0, 0, 4, 0)));
  assert_reserved (s, 8, 0, 0, 3, 0, 0, 0, 3, 1, 0, 0, 3, 2, 0, 0, 3, 3,
                   0, 0, 3, 4, 0, 0, 3, 5, 0, 0, 3, 6, 0, 0, 3, 7);

  /* releasing one function frees only that function */
  release_ok (s, T (0, 0, 3, 5));
  assert_int_equal (asm_addr_space_get_n_reserved (s), 7);
  for (guint64 f = 0; f < 8; f++)
    assert_int_equal (asm_addr_space_is_free (s, T (0, 0, 3, f)), f == 5);
  release_fails (s, T (0, 0, 3, 5), NOT_FOUND);
  /* the slot box is not reservable again while its other functions are */
  box_fails (s, B (V (0), V (0), V (3), R (0, 7)), IN_USE);
  any_gives (s, B (V (0), V (0), V (3), R (0, 7)), T (0, 0, 3, 5));
  /* each function releases alone, from the ends and the middle */
  release_ok (s, T (0, 0, 3, 0));
  release_ok (s, T (0, 0, 3, 7));
  release_ok (s, T (0, 0, 3, 3));
  assert_reserved (s, 5, 0, 0, 3, 1, 0, 0, 3, 2, 0, 0, 3, 4, 0, 0, 3, 5, 0,
                   0, 3, 6);
}

static void
test_pci_find_free_slot (void **state)
{
  g_autoptr(AsmAddrSpace) s = pci_space ();

  find_gives (s, NULL, 1, T (0, 0, 0, 0));
  reserve_ok (s, T (0, 0, 0, 0));
  reserve_ok (s, T (0, 0, 1, 7));
  box_ok (s, B (V (0), V (0), V (2), R (0, 7)));
  reserve_ok (s, T (0, 0, 4, 3));
  /* the lowest slot whose 8 functions are all free */
  find_gives (s, NULL, 1, T (0, 0, 3, 0));
  find_gives (s, B (R (0, 0xffff), R (0, 255), R (0, 31), R (0, 7)), 1,
              T (0, 0, 3, 0));
  find_gives (s, B (V (0), V (0), R (4, 31), R (0, 7)), 1, T (0, 0, 5, 0));
  /* single tuples: the lowest free function */
  find_gives (s, NULL, 0, T (0, 0, 0, 1));
  find_gives (s, B (V (0), V (0), V (4), R (0, 7)), 0, T (0, 0, 4, 0));
  find_gives (s, B (V (0), V (0), R (2, 31), R (3, 3)), 0, T (0, 0, 3, 3));
  assert_int_equal (asm_addr_space_get_n_reserved (s), 11);
}

static void
test_pci_find_free_slot_more (void **state)
{
  g_autoptr(AsmAddrSpace) s = pci_space ();

  reserve_ok (s, T (0, 0, 0, 0));
  reserve_ok (s, T (0, 0, 1, 7));
  box_ok (s, B (V (0), V (0), V (2), R (0, 7)));
  /* slot 2 is full: no single free function there */
  find_fails (s, B (V (0), V (0), V (2), R (0, 7)), 0, NO_SPACE);
  find_fails (s, B (V (0), V (0), R (0, 2), R (0, 7)), 1, NO_SPACE);
  find_gives (s, B (V (0), V (0), R (0, 3), R (0, 7)), 1, T (0, 0, 3, 0));
  /* release 0:0:1.7 and slot 1 is wholly free again */
  release_ok (s, T (0, 0, 1, 7));
  find_gives (s, NULL, 1, T (0, 0, 1, 0));
  /* a bus whose every slot is touched: the answer moves to bus 1 */
  for (guint64 slot = 0; slot < 32; slot++)
    if (asm_addr_space_is_free (s, T (0, 0, slot, 4)))
      reserve_ok (s, T (0, 0, slot, 4));
  find_gives (s, NULL, 1, T (0, 1, 0, 0));
  find_fails (s, B (V (0), V (0), R (0, 31), R (0, 7)), 1, NO_SPACE);
  /* a whole free bus (two trailing dimensions) */
  find_gives (s, NULL, 2, T (0, 1, 0, 0));
  reserve_ok (s, T (0, 1, 31, 7));
  find_fails (s, NULL, 2, NO_SPACE);
  /* the trailing whole dimensions must be whole in @within */
  find_fails (s, B (V (0), V (1), R (0, 31), R (0, 6)), 1, INVALID);
  find_fails (s, B (V (0), V (1), R (1, 31), R (0, 7)), 2, INVALID);
  /* n_whole_dims must leave a dimension to choose */
  find_fails (s, NULL, 4, INVALID);
  find_fails (s, NULL, 5, INVALID);
  /* find_free never reserves */
  find_gives (s, NULL, 1, T (0, 1, 0, 0));
  find_gives (s, NULL, 1, T (0, 1, 0, 0));
}

/* A slot that is only partly pooled is never "wholly free". */
static void
test_find_free_slot_partly_pooled (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("pci", 3, 8, 5, 3);

  probe_set (3, B (R (0, 1), R (0, 31), R (0, 7)));
  pool_ok (s, B (V (0), V (0), R (0, 3)));      /* slot 0: functions 0-3 */
  pool_ok (s, B (V (0), V (1), R (4, 7)));      /* slot 1: functions 4-7 */
  pool_ok (s, B (V (0), R (2, 3), R (0, 7)));   /* slots 2-3: whole */
  find_gives (s, NULL, 1, T (0, 2, 0));
  find_gives (s, NULL, 0, T (0, 0, 0));
  find_fails (s, B (V (0), R (0, 1), R (0, 7)), 1, NO_SPACE);
  /* slots 0 and 1 together are not one slot either */
  pool_ok (s, B (V (0), V (0), R (4, 7)));
  find_gives (s, NULL, 1, T (0, 0, 0));
  box_ok (s, B (V (0), R (0, 0), R (0, 7)));
  find_gives (s, NULL, 1, T (0, 2, 0));
  /* 0:1.0-3 is outside the pools: reserving slot 1 as a box is INVALID */
  box_fails (s, B (V (0), V (1), R (0, 7)), INVALID);
}

/* ---------------------------------------------------------------------- */
/* new() validation                                                       */
/* ---------------------------------------------------------------------- */

static void
new_fails_at (guint n, const guint8 *bits, const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  AsmAddrSpace *s = asm_addr_space_new ("bad-space", n, bits, &error);

  if (s != NULL)
    {
      asm_addr_space_unref (s);
      FAIL_AT (file, line, "asm_addr_space_new succeeded");
    }
  if (!g_error_matches (error, ASM_ERROR, ASM_ERROR_INVALID))
    FAIL_AT (file, line, "expected INVALID, got %s",
             error ? error->message : "no error");
  if (strstr (error->message, "bad-space") == NULL)
    FAIL_AT (file, line, "message '%s' does not name the space",
             error->message);
}
#define new_fails(n, ...) \
  new_fails_at ((n), (const guint8[]) { __VA_ARGS__ }, __FILE__, __LINE__)

static void
test_new_invalid (void **state)
{
  new_fails (0, 8);
  new_fails_at (0, NULL, __FILE__, __LINE__);
  new_fails (9, 1, 1, 1, 1, 1, 1, 1, 1, 1);
  new_fails (1, 0);
  new_fails (1, 65);
  new_fails (3, 8, 0, 8);
  new_fails (2, 65, 1);
  new_fails (2, 255, 1);
  new_fails (2, 32, 33);
  new_fails (8, 8, 8, 8, 8, 8, 8, 8, 9);
  new_fails (4, 16, 16, 16, 17);
  /* the G_MAXUINT8 + 1 trap: 8 x 32 bits would wrap a guint8 sum */
  new_fails (8, 32, 32, 32, 32, 32, 32, 32, 32);
}

static void
test_new_limits (void **state)
{
  g_autoptr(AsmAddrSpace) a = space_new ("one", 1, 1);
  g_autoptr(AsmAddrSpace) b = space_new ("wide", 1, 64);
  g_autoptr(AsmAddrSpace) c = space_new ("eight", 8, 8, 8, 8, 8, 8, 8, 8, 8);
  g_autoptr(AsmAddrSpace) d = space_new ("bits", 8, 1, 1, 1, 1, 1, 1, 1, 1);
  g_autoptr(AsmAddrSpace) e = space_new ("split", 2, 63, 1);

  assert_string_equal (asm_addr_space_get_name (c), "eight");
  assert_int_equal (asm_addr_space_get_n_dims (a), 1);
  assert_int_equal (asm_addr_space_get_n_dims (c), 8);
  assert_int_equal (asm_addr_space_get_dim_bits (b, 0), 64);
  assert_int_equal (asm_addr_space_get_dim_bits (e, 0), 63);
  assert_int_equal (asm_addr_space_get_dim_bits (e, 1), 1);
  /* a new space has no pools: nothing is free or pooled */
  assert_false (asm_addr_space_is_free (c, T (0, 0, 0, 0, 0, 0, 0, 0)));
  assert_false (asm_addr_space_is_pooled (c, T (0, 0, 0, 0, 0, 0, 0, 0)));
  assert_int_equal (asm_addr_space_get_n_reserved (c), 0);
  probe_set (1, B (R (0, 1)));
  any_fails (a, NULL, NO_SPACE);
  reserve_fails (a, T (0), INVALID);
  /* 8 dims of 8 bits: a tuple at the very top */
  probe_set (8, B (V (255), V (255), V (255), V (255), V (255), V (255),
                   V (255), R (250, 255)));
  pool_ok (c, B (V (255), V (255), V (255), V (255), V (255), V (255),
                 V (255), R (254, 255)));
  any_gives (c, NULL, T (255, 255, 255, 255, 255, 255, 255, 254));
  any_gives (c, NULL, T (255, 255, 255, 255, 255, 255, 255, 255));
  any_fails (c, NULL, NO_SPACE);
  /* 8 one-bit dims */
  probe_set (8, B (R (0, 1), R (0, 1), R (0, 1), R (0, 1), R (0, 1), R (0, 1),
                   R (0, 1), R (0, 1)));
  pool_ok (d, B (R (0, 1), R (0, 1), R (0, 1), R (0, 1), R (0, 1), R (0, 1),
                 R (0, 1), R (0, 1)));
  box_ok (d, B (R (0, 1), V (0), R (0, 1), V (1), R (0, 1), R (0, 1),
                R (0, 1), V (1)));
  assert_int_equal (asm_addr_space_get_n_reserved (d), 32);
  any_gives (d, NULL, T (0, 0, 0, 0, 0, 0, 0, 0));
  reserve_fails (d, T (0, 0, 0, 1, 0, 0, 0, 1), IN_USE);
  reserve_fails (d, T (0, 0, 0, 1, 0, 0, 0, 2), INVALID);
}

/* ---------------------------------------------------------------------- */
/* Pools                                                                  */
/* ---------------------------------------------------------------------- */

static void
test_pool_overlap_invalid (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("pools", 3, 8, 5, 3);

  probe_set (3, B (R (0, 3), R (0, 31), R (0, 7)));
  pool_ok (s, B (V (0), R (4, 9), R (2, 5)));
  reserve_ok (s, T (0, 5, 3));
  /* the same box, a box inside, a box around, a corner overlap */
  pool_fails (s, B (V (0), R (4, 9), R (2, 5)), INVALID);
  pool_fails (s, B (V (0), V (6), V (3)), INVALID);
  pool_fails (s, B (R (0, 1), R (0, 31), R (0, 7)), INVALID);
  pool_fails (s, B (V (0), R (9, 12), R (5, 7)), INVALID);
  pool_fails (s, B (V (0), R (0, 4), R (0, 2)), INVALID);
  /* a box whose first runs are new but whose last one overlaps: still
   * nothing added */
  pool_fails (s, B (V (0), R (0, 4), V (5)), INVALID);
  assert_false (asm_addr_space_is_pooled (s, T (0, 0, 5)));
  /* malformed boxes */
  pool_fails (s, B (V (1), R (5, 4), R (0, 7)), INVALID);
  pool_fails (s, B (V (1), R (0, 31), R (0, 8)), INVALID);
  pool_fails (s, B (V (256), R (0, 31), R (0, 7)), INVALID);
  pool_fails (s, B (V (1), R (0, 32), R (0, 7)), INVALID);
  pool_fails (s, B (R (2, 1), R (0, 31), R (0, 7)), INVALID);
  pool_fails (s, B (V (1), R (0, MAX64), R (0, 7)), INVALID);
  /* beside it, in every direction: fine */
  pool_ok (s, B (V (0), R (4, 9), R (0, 1)));
  pool_ok (s, B (V (0), R (4, 9), R (6, 7)));
  pool_ok (s, B (V (0), R (0, 3), R (0, 7)));
  pool_ok (s, B (V (1), R (0, 31), R (0, 7)));
  assert_true (asm_addr_space_is_pooled (s, T (0, 4, 0)));
  assert_true (asm_addr_space_is_pooled (s, T (1, 31, 7)));
  assert_false (asm_addr_space_is_pooled (s, T (0, 10, 0)));
  assert_false (asm_addr_space_is_pooled (s, T (2, 0, 0)));
  assert_reserved (s, 1, 0, 5, 3);
  /* pooled count by is_free: 6*8 + 4*8 + 32*8 - 1 reserved */
  assert_int_equal (count_free (s, B (R (0, 3), R (0, 31), R (0, 7))),
                    6 * 8 + 4 * 8 + 32 * 8 - 1);
}

/* Pools may touch; a box across the seam of two pools is reservable, and so
 * is the lowest free tuple found across it. */
static void
test_pools_touching (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("touch", 3, 8, 5, 3);

  probe_set (3, B (R (0, 1), R (0, 31), R (0, 7)));
  /* touching along slots: one contiguous run of codes */
  pool_ok (s, B (V (0), R (0, 15), R (0, 7)));
  pool_ok (s, B (V (0), R (16, 31), R (0, 7)));
  box_ok (s, B (V (0), R (14, 17), R (0, 7)));
  assert_int_equal (asm_addr_space_get_n_reserved (s), 32);
  release_ok (s, T (0, 15, 7));
  release_ok (s, T (0, 16, 0));
  any_gives (s, B (V (0), R (15, 16), R (0, 7)), T (0, 15, 7));
  any_gives (s, B (V (0), R (15, 16), R (0, 7)), T (0, 16, 0));
  find_gives (s, B (V (0), R (14, 31), R (0, 7)), 1, T (0, 18, 0));
  /* a whole-slot search that starts in one pool and ends in the other */
  box_ok (s, B (V (0), R (0, 13), R (0, 7)));
  find_gives (s, NULL, 1, T (0, 18, 0));
  /* release the seam and reserve it again as one box */
  for (guint64 slot = 15; slot <= 16; slot++)
    for (guint64 f = 0; f < 8; f++)
      release_ok (s, T (0, slot, f));
  box_ok (s, B (V (0), R (15, 16), R (0, 7)));
  assert_int_equal (asm_addr_space_get_n_reserved (s), 32 + 14 * 8);
  /* touching along functions: pools that interleave in code order */
  pool_ok (s, B (V (1), R (0, 31), R (0, 3)));
  pool_ok (s, B (V (1), R (0, 31), R (4, 7)));
  box_ok (s, B (V (1), R (5, 6), R (2, 5)));
  assert_int_equal (asm_addr_space_get_n_reserved (s), 32 + 14 * 8 + 8);
  find_gives (s, B (V (1), R (5, 31), R (0, 7)), 1, T (1, 7, 0));
  any_gives (s, B (V (1), R (5, 6), R (0, 7)), T (1, 5, 0));
  /* a whole slot spanning both function pools */
  box_ok (s, B (V (1), V (9), R (0, 7)));
  /* the seam across buses 0 and 1 */
  box_ok (s, B (R (0, 1), V (31), R (6, 7)));
  release_ok (s, T (0, 31, 7));
  release_ok (s, T (1, 31, 6));
  assert_space_ok (s);
}

static void
test_pool_whole_space_and_empty_space (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("tiny", 2, 2, 2);

  probe_set (2, B (R (0, 3), R (0, 3)));
  any_fails (s, NULL, NO_SPACE);
  find_fails (s, NULL, 0, NO_SPACE);
  find_fails (s, NULL, 1, NO_SPACE);
  box_fails (s, B (V (0), V (0)), INVALID);
  release_fails (s, T (0, 0), INVALID);
  pool_ok (s, B (R (0, 3), R (0, 3)));
  pool_fails (s, B (V (3), V (3)), INVALID);
  box_ok (s, B (R (0, 3), R (0, 3)));
  assert_int_equal (asm_addr_space_get_n_reserved (s), 16);
  any_fails (s, NULL, NO_SPACE);
  box_fails (s, B (V (2), V (2)), IN_USE);
  release_ok (s, T (2, 2));
  any_gives (s, NULL, T (2, 2));
  any_fails (s, NULL, NO_SPACE);
}

/* Documented limit: a pool or box that splits into more than 2^24 runs of
 * codes is INVALID (nothing changes); a within of that shape is fine. */
static void
test_box_too_many_runs (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("runs", 4, 16, 16, 16, 16);
  const AsmRange *huge = B (R (0, 4096), R (0, 4096), V (0), R (0, 1));

  probe_set (4, B (R (0, 2), R (0, 2), R (0, 1), R (0, 3)));
  pool_fails (s, huge, INVALID);
  assert_false (asm_addr_space_is_pooled (s, T (0, 0, 0, 0)));
  /* the same shape, smaller */
  pool_ok (s, B (R (0, 63), R (0, 63), V (0), R (0, 1)));
  assert_true (asm_addr_space_is_pooled (s, T (63, 63, 0, 1)));
  assert_false (asm_addr_space_is_pooled (s, T (63, 63, 0, 2)));
  assert_false (asm_addr_space_is_pooled (s, T (64, 0, 0, 0)));
  box_fails (s, huge, INVALID);
  reserve_ok (s, T (0, 0, 0, 0));
  any_gives (s, huge, T (0, 0, 0, 1));
  any_gives (s, huge, T (0, 1, 0, 0));
  find_gives (s, B (R (1, 4096), R (0, 4096), V (0), R (0, 1)), 0,
              T (1, 0, 0, 0));
}

/* ---------------------------------------------------------------------- */
/* reserve / release validation                                           */
/* ---------------------------------------------------------------------- */

static void
test_reserve_release_errors (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("errs", 3, 8, 5, 3);

  probe_set (3, B (R (0, 2), R (0, 31), R (0, 7)));
  pool_ok (s, B (V (0), R (2, 5), R (0, 7)));
  reserve_ok (s, T (0, 3, 3));
  reserve_ok (s, T (0, 2, 0));
  reserve_ok (s, T (0, 5, 7));
  /* outside every pool: INVALID, not NO_SPACE or NOT_FOUND */
  reserve_fails (s, T (0, 1, 7), INVALID);
  reserve_fails (s, T (0, 6, 0), INVALID);
  reserve_fails (s, T (1, 3, 3), INVALID);
  /* a value beyond its dimension's width */
  reserve_fails (s, T (0, 3, 8), INVALID);
  reserve_fails (s, T (0, 32, 0), INVALID);
  reserve_fails (s, T (256, 3, 3), INVALID);
  reserve_fails (s, T (0, 3, MAX64), INVALID);
  /* beyond the width even though value mod 2^bits is pooled and free */
  reserve_fails (s, T (0, 2 + 32, 1), INVALID);
  reserve_fails (s, T (0, 3, 8 + 1), INVALID);
  /* double reserve */
  reserve_fails (s, T (0, 3, 3), IN_USE);
  reserve_fails (s, T (0, 2, 0), IN_USE);
  /* release: free tuple, outside pools, beyond width */
  release_fails (s, T (0, 3, 4), NOT_FOUND);
  release_fails (s, T (0, 2, 1), NOT_FOUND);
  release_fails (s, T (0, 1, 7), INVALID);
  release_fails (s, T (1, 0, 0), INVALID);
  release_fails (s, T (0, 3, 11), INVALID);
  release_fails (s, T (0, 35, 3), INVALID);
  /* is_free and is_pooled tell the three states apart */
  assert_false (asm_addr_space_is_free (s, T (0, 3, 3)));
  assert_true (asm_addr_space_is_pooled (s, T (0, 3, 3)));
  assert_true (asm_addr_space_is_free (s, T (0, 3, 4)));
  assert_false (asm_addr_space_is_free (s, T (0, 1, 7)));
  assert_false (asm_addr_space_is_pooled (s, T (0, 1, 7)));
  assert_false (asm_addr_space_is_free (s, T (0, 3, 8)));
  assert_false (asm_addr_space_is_pooled (s, T (0, 3, 8)));
  assert_false (asm_addr_space_is_pooled (s, T (0, 3 + 32, 4)));
  release_ok (s, T (0, 3, 3));
  release_fails (s, T (0, 3, 3), NOT_FOUND);
  reserve_ok (s, T (0, 3, 3));
  assert_reserved (s, 3, 0, 2, 0, 0, 3, 3, 0, 5, 7);
}

static void
test_reserve_box_errors (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("boxes", 3, 8, 5, 3);
  guint64 t[3];

  probe_set (3, B (R (0, 2), R (0, 31), R (0, 7)));
  pool_ok (s, B (V (0), R (0, 7), R (0, 7)));
  pool_ok (s, B (V (1), R (0, 7), R (0, 3)));
  reserve_ok (s, T (0, 4, 6));
  /* partly reserved: IN_USE, and none of the free tuples got reserved */
  box_fails (s, B (V (0), R (3, 5), R (5, 7)), IN_USE);
  box_fails (s, B (V (0), V (4), R (0, 7)), IN_USE);
  box_fails (s, B (V (0), V (4), V (6)), IN_USE);
  box_fails (s, B (R (0, 1), R (0, 7), R (0, 4)), INVALID); /* not in pool */
  box_fails (s, B (V (0), R (0, 7), R (0, 7)), IN_USE);
  box_first (3, B (V (0), R (3, 5), R (5, 7)), t);
  do
    assert_int_equal (asm_addr_space_is_free (s, t),
                      !(t[1] == 4 && t[2] == 6));
  while (box_next (3, B (V (0), R (3, 5), R (5, 7)), t));
  /* partly outside the pools: INVALID even where the rest is free */
  box_fails (s, B (V (1), V (0), R (2, 5)), INVALID);
  box_fails (s, B (V (0), R (6, 9), V (0)), INVALID);
  /* across two pools that do not touch (bus 0 slot 0 and bus 1 slot 0 are
   * both pooled, everything between too: this one is fine) */
  box_ok (s, B (R (0, 1), V (5), V (2)));
  /* malformed boxes */
  box_fails (s, B (V (0), R (3, 2), V (0)), INVALID);
  box_fails (s, B (V (0), V (0), R (0, 8)), INVALID);
  box_fails (s, B (V (0), R (0, 32), V (0)), INVALID);
  box_fails (s, B (R (0, 256), V (0), V (0)), INVALID);
  box_fails (s, B (V (0), V (0), R (7, 0)), INVALID);
  /* a one-tuple box is a reserve */
  box_ok (s, B (V (0), V (7), V (7)));
  reserve_fails (s, T (0, 7, 7), IN_USE);
  assert_reserved (s, 4, 0, 4, 6, 0, 5, 2, 0, 7, 7, 1, 5, 2);
}

/* All or nothing on a box of many runs, where the reserved tuple is met
 * only in its last run. */
static void
test_reserve_box_all_or_nothing (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("aon", 3, 4, 4, 4);
  const AsmRange *box = B (R (0, 15), R (0, 15), R (0, 14));

  probe_set (3, B (R (0, 15), R (0, 15), R (0, 15)));
  pool_ok (s, B (R (0, 15), R (0, 15), R (0, 15)));
  reserve_ok (s, T (15, 15, 14));
  box_fails (s, box, IN_USE);
  assert_reserved (s, 1, 15, 15, 14);
  release_ok (s, T (15, 15, 14));
  reserve_ok (s, T (15, 15, 15)); /* just outside the box */
  box_ok (s, box);
  assert_int_equal (asm_addr_space_get_n_reserved (s), 16 * 16 * 15 + 1);
  assert_int_equal (count_free (s, B (R (0, 15), R (0, 15), R (0, 15))),
                    16 * 16 - 1);
  find_fails (s, NULL, 1, NO_SPACE);
  any_gives (s, NULL, T (0, 0, 15));
}

/* ---------------------------------------------------------------------- */
/* reserve_any / within                                                   */
/* ---------------------------------------------------------------------- */

static void
test_reserve_any_within_outside_pools (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("scattered", 3, 4, 4, 4);
  const AsmRange *all = B (R (0, 15), R (0, 15), R (0, 15));
  const AsmRange *within = B (R (1, 3), R (2, 13), R (5, 9));
  guint64 t[3];
  guint got = 0;

  probe_set (3, all);
  pool_ok (s, B (V (2), R (0, 3), R (0, 15)));
  pool_ok (s, B (V (2), V (10), R (8, 12)));
  pool_ok (s, B (V (3), R (13, 15), V (5)));
  pool_ok (s, B (V (5), R (0, 15), R (0, 15)));
  /* within reaches far outside the pools: only pooled tuples, lowest
   * first, and exactly those inside within */
  any_gives (s, within, T (2, 2, 5));
  any_gives (s, within, T (2, 2, 6));
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gboolean r = asm_addr_space_reserve_any (s, within, t, &error);

      assert_space_ok (s);
      if (!r)
        {
          assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_NO_SPACE));
          break;
        }
      assert_true (asm_addr_space_is_pooled (s, t));
      assert_true (t[0] >= 1 && t[0] <= 3 && t[1] >= 2 && t[1] <= 13 &&
                   t[2] >= 5 && t[2] <= 9);
      got++;
    }
  /* pooled tuples in within: 2:{2,3}:{5..9} = 10, 2:10:{8,9} = 2,
   * 3:13:5 = 1; two were taken first */
  assert_int_equal (got, 10 + 2 + 1 - 2);
  assert_int_equal (asm_addr_space_get_n_reserved (s), 13);
  /* the tuples of within that are free and unpooled stay so */
  assert_false (asm_addr_space_is_pooled (s, T (1, 2, 5)));
  assert_true (asm_addr_space_is_free (s, T (2, 10, 10)));
  any_fails (s, within, NO_SPACE);
  /* NULL within: the whole space, lowest pooled free tuple */
  any_gives (s, NULL, T (2, 0, 0));
  any_gives (s, all, T (2, 0, 1));
  /* a within with nothing pooled */
  any_fails (s, B (R (6, 15), R (0, 15), R (0, 15)), NO_SPACE);
  any_fails (s, B (V (4), R (0, 15), R (0, 15)), NO_SPACE);
  find_fails (s, B (V (4), R (0, 15), R (0, 15)), 2, NO_SPACE);
  find_gives (s, B (R (3, 15), R (0, 15), R (0, 15)), 2, T (5, 0, 0));
  find_gives (s, B (R (0, 15), R (3, 15), R (0, 15)), 1, T (5, 3, 0));
}

static void
test_within_invalid (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("within", 3, 4, 4, 4);

  probe_set (3, B (R (0, 15), R (0, 15), R (0, 15)));
  pool_ok (s, B (R (0, 3), R (0, 15), R (0, 15)));
  reserve_ok (s, T (0, 0, 0));
  any_fails (s, B (R (1, 0), R (0, 15), R (0, 15)), INVALID);
  any_fails (s, B (R (0, 3), R (9, 8), R (0, 15)), INVALID);
  any_fails (s, B (R (0, 3), R (0, 15), R (15, 0)), INVALID);
  any_fails (s, B (R (0, 3), R (0, 15), R (0, 16)), INVALID);
  any_fails (s, B (R (0, 16), R (0, 15), R (0, 15)), INVALID);
  any_fails (s, B (R (0, 3), R (0, MAX64), R (0, 15)), INVALID);
  find_fails (s, B (R (1, 0), R (0, 15), R (0, 15)), 0, INVALID);
  find_fails (s, B (R (0, 3), R (1, 0), R (0, 15)), 1, INVALID);
  find_fails (s, B (R (0, 3), R (0, 15), R (0, 16)), 1, INVALID);
  /* INVALID wins over NO_SPACE: a malformed within in a full space */
  box_ok (s, B (R (0, 3), R (0, 15), R (1, 15)));
  box_ok (s, B (R (0, 3), R (1, 15), V (0)));
  box_ok (s, B (R (1, 3), V (0), V (0)));
  any_fails (s, NULL, NO_SPACE);
  any_fails (s, B (R (0, 3), R (5, 4), R (0, 15)), INVALID);
  any_fails (s, B (R (0, 3), R (0, 15), R (0, 15)), NO_SPACE);
}

/* The search jumps over free runs outside within in every dimension: a
 * within whose last dimension excludes most free tuples. */
static void
test_reserve_any_sparse_within (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("sparse", 3, 8, 8, 8);
  const AsmRange *within = B (R (0, 255), R (3, 200), R (250, 251));

  probe_set (3, B (R (0, 1), R (0, 255), R (240, 255)));
  pool_ok (s, B (R (0, 1), R (0, 255), R (0, 255)));
  for (guint64 a = 0; a <= 1; a++)
    for (guint64 b = 3; b <= 200; b++)
      for (guint64 c = 250; c <= 251; c++)
        any_gives (s, within, T (a, b, c));
  any_fails (s, within, NO_SPACE);
  assert_int_equal (asm_addr_space_get_n_reserved (s), 2 * 198 * 2);
  any_gives (s, NULL, T (0, 0, 0));
}

/* ---------------------------------------------------------------------- */
/* Text form                                                              */
/* ---------------------------------------------------------------------- */

static void
parse_ok_at (AsmAddrSpace *s, const char *text, const guint64 *expect,
             const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  guint n = asm_addr_space_get_n_dims (s);
  guint64 got[ASM_ADDR_MAX_DIMS];

  if (!asm_addr_space_parse (s, text, got, &error))
    FAIL_AT (file, line, "parse '%s': %s", text,
             error ? error->message : "(no error)");
  if (memcmp (got, expect, n * sizeof (guint64)) != 0)
    {
      g_autofree char *g = tuple_str (n, got);
      FAIL_AT (file, line, "parse '%s' gave %s", text, g);
    }
}
#define parse_gives(s, text, ...) \
  parse_ok_at ((s), (text), T (__VA_ARGS__), __FILE__, __LINE__)

static void
parse_fails_at (AsmAddrSpace *s, const char *text, gint code,
                const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  guint64 got[ASM_ADDR_MAX_DIMS];

  memset (got, 0x5a, sizeof got);
  if (asm_addr_space_parse (s, text, got, &error))
    FAIL_AT (file, line, "parse '%s' succeeded", text);
  if (!g_error_matches (error, ASM_ERROR, code))
    FAIL_AT (file, line, "parse '%s': %s (code %d), expected %s", text,
             error ? error->message : "(no error)", error ? error->code : -1,
             test_code_name (code));
  for (guint d = 0; d < ASM_ADDR_MAX_DIMS; d++)
    if (got[d] != G_GUINT64_CONSTANT (0x5a5a5a5a5a5a5a5a))
      FAIL_AT (file, line, "a failed parse of '%s' wrote its output", text);
}
#define parse_fails(s, text, code) \
  parse_fails_at ((s), (text), ASM_ERROR_##code, __FILE__, __LINE__)

static void
format_is_at (AsmAddrSpace *s, const guint64 *addr, const char *expect,
              const char *file, int line)
{
  g_autofree char *got = asm_addr_space_format (s, addr);

  if (g_strcmp0 (got, expect) != 0)
    FAIL_AT (file, line, "format gave '%s', expected '%s'", got, expect);
}
#define format_is(s, addr, expect) \
  format_is_at ((s), (addr), (expect), __FILE__, __LINE__)

static void
test_default_format_parse (void **state)
{
  g_autoptr(AsmAddrSpace) ip = space_new ("ip", 4, 8, 8, 8, 8);
  g_autoptr(AsmAddrSpace) pci = space_new ("pci", 4, 16, 8, 5, 3);
  g_autoptr(AsmAddrSpace) one = space_new ("one", 1, 64);

  format_is (ip, T (192, 168, 1, 254), "192.168.1.254");
  format_is (ip, T (0, 0, 0, 0), "0.0.0.0");
  format_is (pci, T (65535, 255, 31, 7), "65535.255.31.7");
  format_is (one, T (MAX64), "18446744073709551615");
  format_is (one, T (0), "0");

  parse_gives (ip, "192.168.1.254", 192, 168, 1, 254);
  parse_gives (ip, "10:0:0:1", 10, 0, 0, 1);
  parse_gives (ip, "10.0:0.1", 10, 0, 0, 1);
  parse_gives (pci, "0:13.2.1", 0, 13, 2, 1);
  parse_gives (pci, "0:0:31.7", 0, 0, 31, 7);
  parse_gives (pci, "0x1f:0x0A:0x1f.0X7", 31, 10, 31, 7);
  parse_gives (ip, "010.001.0.00", 10, 1, 0, 0);
  parse_gives (one, "18446744073709551615", MAX64);
  parse_gives (one, "0xffffffffffffffff", MAX64);
  parse_gives (one, "0", 0);

  /* wrong number of parts */
  parse_fails (ip, "192.168.1", PARSE);
  parse_fails (ip, "192.168.1.2.3", PARSE);
  parse_fails (ip, "192", PARSE);
  parse_fails (ip, "", PARSE);
  parse_fails (one, "1.2", PARSE);
  parse_fails (one, "", PARSE);
  /* garbage */
  parse_fails (ip, "192.168.1.x", PARSE);
  parse_fails (ip, "a.b.c.d", PARSE);
  parse_fails (ip, "192.168..1", PARSE);
  parse_fails (ip, ".192.168.1.1", PARSE);
  parse_fails (ip, "192.168.1.1.", PARSE);
  parse_fails (ip, "192.168.1.1 ", PARSE);
  parse_fails (ip, " 192.168.1.1", PARSE);
  parse_fails (ip, "192. 168.1.1", PARSE);
  parse_fails (ip, "192.-1.1.1", PARSE);
  parse_fails (ip, "192.+1.1.1", PARSE);
  parse_fails (ip, "192,168,1,1", PARSE);
  parse_fails (ip, "192.168.1.1/24", PARSE);
  parse_fails (ip, "0x.1.1.1", PARSE);
  parse_fails (ip, "1.1.1.0x", PARSE);
  parse_fails (ip, "1.1.1.0xg", PARSE);
  parse_fails (one, "18446744073709551616", PARSE);  /* beyond 64 bits */
  parse_fails (one, "0x10000000000000000", PARSE);
  parse_fails (one, "99999999999999999999999999", PARSE);
  /* values beyond a dimension's width */
  parse_fails (ip, "256.0.0.1", INVALID);
  parse_fails (ip, "1.2.3.256", INVALID);
  parse_fails (pci, "0:0:32.0", INVALID);
  parse_fails (pci, "0:0:0.8", INVALID);
  parse_fails (pci, "65536:0:0.0", INVALID);
  parse_fails (pci, "0:0x100:0.0", INVALID);

  /* format and parse are inverses over a sample of tuples */
  for (guint64 i = 0; i < 2000; i++)
    {
      guint64 t[4] = { (i * 7919) & 0xffff, (i * 31) & 0xff, i % 32, i % 8 };
      guint64 back[4];
      g_autofree char *text = asm_addr_space_format (pci, t);
      assert_true (asm_addr_space_parse (pci, text, back, NULL));
      assert_memory_equal (t, back, sizeof t);
    }
}

/* PCI text form for a custom formatter: "%04x:%02x:%02x.%x" */
static char *
pci_format (const guint64 *addr, guint n_dims, gpointer user_data)
{
  guint *calls = user_data;

  assert_int_equal (n_dims, 4);
  (*calls)++;
  return g_strdup_printf ("%04x:%02x:%02x.%x", (guint) addr[0],
                          (guint) addr[1], (guint) addr[2], (guint) addr[3]);
}

static gboolean
pci_parse (const char *text, guint64 *out_addr, guint n_dims,
           gpointer user_data, GError **error)
{
  unsigned int d, b, sl, f;
  int end = -1;

  assert_int_equal (n_dims, 4);
  if (sscanf (text, "%4x:%2x:%2x.%1x%n", &d, &b, &sl, &f, &end) != 4 ||
      end < 0 || text[end] != '\0')
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE, "'%s' is not D:B:S.F",
                   text);
      return FALSE;
    }
  out_addr[0] = d;
  out_addr[1] = b;
  out_addr[2] = sl;
  out_addr[3] = f;
  return TRUE;
}

static guint destroyed;

/* any number of dimensions, hex joined by '/' */
static char *
hex_format (const guint64 *addr, guint n_dims, gpointer user_data)
{
  GString *str = g_string_new (NULL);
  guint *calls = user_data;

  (*calls)++;
  for (guint d = 0; d < n_dims; d++)
    g_string_append_printf (str, "%s%" G_GINT64_MODIFIER "x", d ? "/" : "",
                            addr[d]);
  return g_string_free (str, FALSE);
}

static void
count_destroy (gpointer data)
{
  destroyed++;
}

static void
message_has_at (GError *error, const char *what, const char *file, int line)
{
  if (error == NULL || strstr (error->message, what) == NULL)
    FAIL_AT (file, line, "message '%s' does not contain '%s'",
             error ? error->message : "(no error)", what);
}
#define message_has(error, what) \
  message_has_at ((error), (what), __FILE__, __LINE__)

static void
test_custom_formatter (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("pcihex", 4, 16, 8, 5, 3);
  guint calls = 0;
  guint64 t[4];

  destroyed = 0;
  asm_addr_space_set_formatter (s, pci_format, pci_parse, &calls,
                                count_destroy);
  probe_set (4, B (V (0), R (0, 2), R (0, 31), R (0, 7)));
  pool_ok (s, B (V (0), V (0x1a), R (0, 31), R (0, 7)));
  format_is (s, T (0, 0x1a, 0x1f, 7), "0000:1a:1f.7");
  assert_true (asm_addr_space_parse (s, "0000:1a:0b.3", t, NULL));
  assert_memory_equal (t, T (0, 0x1a, 0x0b, 3), sizeof t);
  /* the custom parser is the only one: the decimal form is refused */
  parse_fails (s, "0.26.11.3", PARSE);
  /* width checks still apply after a custom parse */
  parse_fails (s, "0000:1a:20.0", INVALID);
  parse_fails (s, "0000:1a:1f.8", INVALID);
  reserve_ok (s, t);

  /* the error messages name tuples in the custom form */
  {
    g_autoptr(GError) error = NULL;
    assert_false (asm_addr_space_reserve (s, t, &error));
    assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_IN_USE));
    message_has (error, "0000:1a:0b.3");
    message_has (error, "pcihex");
  }
  {
    g_autoptr(GError) error = NULL;
    assert_false (asm_addr_space_release (s, T (0, 0x1a, 0x0b, 4), &error));
    assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_NOT_FOUND));
    message_has (error, "0000:1a:0b.4");
  }
  {
    g_autoptr(GError) error = NULL;
    assert_false (asm_addr_space_reserve (s, T (0, 0x1b, 0, 0), &error));
    assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_INVALID));
    message_has (error, "0000:1b:00.0");
  }
  assert_true (calls >= 4);
  assert_int_equal (destroyed, 0);

  /* replacing the formatter destroys the old data; NULL is the default */
  asm_addr_space_set_formatter (s, NULL, NULL, NULL, NULL);
  assert_int_equal (destroyed, 1);
  format_is (s, T (0, 0x1a, 0x1f, 7), "0.26.31.7");
  parse_gives (s, "0:26:11.3", 0, 26, 11, 3);
  asm_addr_space_set_formatter (s, pci_format, NULL, &calls, count_destroy);
  format_is (s, T (0, 0x1a, 0x1f, 7), "0000:1a:1f.7");
  parse_gives (s, "0:26:11.3", 0, 26, 11, 3); /* default parser */
  assert_space_ok (s);
  g_clear_pointer (&s, asm_addr_space_unref);
  assert_int_equal (destroyed, 2);
}

/* ---------------------------------------------------------------------- */
/* Extremes: one 64-bit dimension, two 32-bit dimensions                  */
/* ---------------------------------------------------------------------- */

static void
test_64bit_single_dimension (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("u64", 1, 64);

  probe_set (1, B (R (0, 3)));
  pool_ok (s, B (R (0, MAX64)));
  pool_fails (s, B (V (MAX64)), INVALID);
  pool_fails (s, B (V (0)), INVALID);
  reserve_ok (s, T (0));
  reserve_ok (s, T (MAX64));
  reserve_fails (s, T (MAX64), IN_USE);
  reserve_fails (s, T (0), IN_USE);
  assert_reserved (s, 2, 0, MAX64);
  any_gives (s, NULL, T (1));
  any_gives (s, B (R (MAX64 - 1, MAX64)), T (MAX64 - 1));
  any_fails (s, B (R (MAX64 - 1, MAX64)), NO_SPACE);
  any_fails (s, B (V (MAX64)), NO_SPACE);
  find_gives (s, B (R (MAX64 - 5, MAX64)), 0, T (MAX64 - 5));
  find_fails (s, NULL, 1, INVALID);
  box_ok (s, B (R (MAX64 - 5, MAX64 - 2)));
  box_fails (s, B (R (MAX64 - 6, MAX64)), IN_USE);
  any_gives (s, B (R (MAX64 - 10, MAX64)), T (MAX64 - 10));
  release_ok (s, T (MAX64));
  release_fails (s, T (MAX64), NOT_FOUND);
  any_gives (s, B (R (MAX64 - 1, MAX64)), T (MAX64));
  release_ok (s, T (0));
  any_gives (s, NULL, T (0));
  assert_reserved (s, 9, 0, 1, MAX64 - 10, MAX64 - 5, MAX64 - 4, MAX64 - 3,
                   MAX64 - 2, MAX64 - 1, MAX64);
  format_is (s, T (MAX64), "18446744073709551615");
}

/* Reserving the whole 2^64-tuple space: the count saturates.  (The
 * release/reserve helpers check the count by +-1, which saturation breaks,
 * so this test calls the API directly.) */
static void
test_64bit_whole_space_count (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("u64-all", 1, 64);
  g_autoptr(AsmAddrSpace) w = space_new ("u32x32-all", 2, 32, 32);
  guint64 t[2];

  probe_set (1, B (R (0, 3)));
  pool_ok (s, B (R (0, MAX64)));
  box_ok (s, B (R (0, MAX64)));
  any_fails (s, NULL, NO_SPACE);
  assert_false (asm_addr_space_is_free (s, T (0)));
  assert_false (asm_addr_space_is_free (s, T (MAX64)));
  /* documented: "the number of reserved tuples (saturated at G_MAXUINT64)";
   * 2^64 - 1 and 2^64 both read G_MAXUINT64 */
  assert_int_equal (asm_addr_space_get_n_reserved (s), MAX64);
  assert_true (asm_addr_space_release (s, T (12345), NULL));
  assert_space_ok (s);
  assert_true (asm_addr_space_is_free (s, T (12345)));
  assert_int_equal (asm_addr_space_get_n_reserved (s), MAX64);
  assert_true (asm_addr_space_release (s, T (MAX64), NULL));
  assert_space_ok (s);
  assert_int_equal (asm_addr_space_get_n_reserved (s), MAX64 - 1);
  assert_true (asm_addr_space_reserve_any (s, NULL, t, NULL));
  assert_int_equal (t[0], 12345);
  assert_true (asm_addr_space_reserve (s, T (MAX64), NULL));
  assert_space_ok (s);
  assert_int_equal (asm_addr_space_get_n_reserved (s), MAX64);

  probe_set (2, B (R (0, 1), R (0, 3)));
  pool_ok (w, B (R (0, MAX32), R (0, MAX32)));
  box_ok (w, B (R (0, MAX32), R (0, MAX32)));
  assert_int_equal (asm_addr_space_get_n_reserved (w), MAX64);
  assert_true (asm_addr_space_release (w, T (MAX32, 0), NULL));
  assert_true (asm_addr_space_release (w, T (0, MAX32), NULL));
  assert_space_ok (w);
  assert_int_equal (asm_addr_space_get_n_reserved (w), MAX64 - 1);
  find_gives (w, NULL, 0, T (0, MAX32));
}

static void
test_32x32 (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("u32x32", 2, 32, 32);

  probe_set (2, B (R (0, 2), R (0, 3)));
  pool_fails (s, B (R (0, MAX32 + 1), R (0, MAX32)), INVALID);
  pool_ok (s, B (R (0, MAX32), R (0, MAX32)));
  reserve_ok (s, T (0, 0));
  reserve_ok (s, T (MAX32, MAX32));
  reserve_fails (s, T (MAX32, MAX32 + 1), INVALID);
  reserve_fails (s, T (MAX32 + 1, 0), INVALID);
  any_gives (s, NULL, T (0, 1));
  /* within whose last dimension ends at the top: the search carries into
   * the first dimension */
  any_gives (s, B (R (0, 2), R (MAX32 - 1, MAX32)), T (0, MAX32 - 1));
  any_gives (s, B (R (0, 2), R (MAX32 - 1, MAX32)), T (0, MAX32));
  any_gives (s, B (R (0, 2), R (MAX32 - 1, MAX32)), T (1, MAX32 - 1));
  any_gives (s, B (R (MAX32, MAX32), R (0, MAX32)), T (MAX32, 0));
  any_gives (s, B (R (MAX32 - 1, MAX32), R (MAX32, MAX32)),
             T (MAX32 - 1, MAX32));
  any_fails (s, B (R (MAX32 - 1, MAX32), R (MAX32, MAX32)), NO_SPACE);
  /* a box of two runs at the top of the second dimension */
  box_ok (s, B (R (5, 6), R (MAX32 - 3, MAX32)));
  box_fails (s, B (R (6, 7), R (MAX32, MAX32)), IN_USE);
  /* whole rows */
  find_gives (s, NULL, 1, T (2, 0));
  box_ok (s, B (V (2), R (0, MAX32)));
  find_gives (s, NULL, 1, T (3, 0));
  release_ok (s, T (2, MAX32 / 2));
  find_gives (s, B (R (2, MAX32), R (0, MAX32)), 1, T (3, 0));
  assert_int_equal (asm_addr_space_get_n_reserved (s),
                    2 + 1 + 3 + 2 + 8 + (MAX32 + 1) - 1);
  assert_space_ok (s);
}

/* ---------------------------------------------------------------------- */
/* foreach, clone, ref                                                    */
/* ---------------------------------------------------------------------- */

typedef struct {
  guint n_dims;
  guint limit;
  guint seen;
  guint64 last[ASM_ADDR_MAX_DIMS];
} StopData;

static gboolean
stop_cb (const guint64 *addr, gpointer user_data)
{
  StopData *d = user_data;

  d->seen++;
  memcpy (d->last, addr, d->n_dims * sizeof (guint64));
  return d->seen < d->limit;
}

static void
test_foreach_order_and_stop (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("order", 3, 8, 5, 3);
  static const guint64 order[][3] = {
    { 1, 0, 0 }, { 0, 31, 7 }, { 0, 0, 1 }, { 1, 31, 7 }, { 0, 7, 0 },
    { 0, 6, 7 }, { 0, 0, 0 }, { 1, 0, 7 },
  };
  StopData d = { 3, 0, 0, { 0 } };

  probe_set (3, B (R (0, 2), R (0, 31), R (0, 7)));
  pool_ok (s, B (V (1), R (0, 31), R (0, 7)));
  pool_ok (s, B (V (0), R (0, 31), R (0, 7)));
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    reserve_ok (s, order[i]);
  box_ok (s, B (V (0), V (20), R (2, 4)));
  assert_reserved (s, 11, 0, 0, 0, 0, 0, 1, 0, 6, 7, 0, 7, 0, 0, 20, 2,
                   0, 20, 3, 0, 20, 4, 0, 31, 7, 1, 0, 0, 1, 0, 7, 1, 31, 7);

  /* stops when the callback says so, after exactly that many calls */
  d.limit = 1;
  assert_false (asm_addr_space_foreach_reserved (s, stop_cb, &d));
  assert_int_equal (d.seen, 1);
  assert_memory_equal (d.last, T (0, 0, 0), 3 * sizeof (guint64));
  d.seen = 0;
  d.limit = 5; /* inside the box reservation */
  assert_false (asm_addr_space_foreach_reserved (s, stop_cb, &d));
  assert_int_equal (d.seen, 5);
  assert_memory_equal (d.last, T (0, 20, 2), 3 * sizeof (guint64));
  d.seen = 0;
  d.limit = 11; /* FALSE on the very last one still reports stopped */
  assert_false (asm_addr_space_foreach_reserved (s, stop_cb, &d));
  assert_int_equal (d.seen, 11);
  d.seen = 0;
  d.limit = 12;
  assert_true (asm_addr_space_foreach_reserved (s, stop_cb, &d));
  assert_int_equal (d.seen, 11);
  assert_memory_equal (d.last, T (1, 31, 7), 3 * sizeof (guint64));

  /* an empty space visits nothing */
  {
    g_autoptr(AsmAddrSpace) e = space_new ("empty", 1, 8);
    d.seen = 0;
    assert_true (asm_addr_space_foreach_reserved (e, stop_cb, &d));
    assert_int_equal (d.seen, 0);
  }
}

static void
test_clone_independence (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("orig", 3, 8, 5, 3);
  g_autoptr(AsmAddrSpace) c = NULL;
  g_autoptr(AsmAddrSpace) c2 = NULL;
  guint calls = 0;

  destroyed = 0;
  probe_set (3, B (R (0, 2), R (0, 31), R (0, 7)));
  pool_ok (s, B (V (0), R (0, 31), R (0, 7)));
  box_ok (s, B (V (0), V (5), R (0, 7)));
  reserve_ok (s, T (0, 0, 0));
  asm_addr_space_set_formatter (s, hex_format, NULL, &calls, count_destroy);

  c = asm_addr_space_clone (s, "copy");
  assert_non_null (c);
  assert_space_ok (c);
  assert_string_equal (asm_addr_space_get_name (c), "copy");
  assert_string_equal (asm_addr_space_get_name (s), "orig");
  assert_int_equal (asm_addr_space_get_n_dims (c), 3);
  assert_int_equal (asm_addr_space_get_dim_bits (c, 1), 5);
  assert_reserved (c, 9, 0, 0, 0, 0, 5, 0, 0, 5, 1, 0, 5, 2, 0, 5, 3, 0, 5,
                   4, 0, 5, 5, 0, 5, 6, 0, 5, 7);

  /* changes to the clone do not reach the original */
  release_ok (c, T (0, 5, 3));
  reserve_ok (c, T (0, 1, 1));
  pool_ok (c, B (V (1), R (0, 31), R (0, 7)));
  reserve_ok (c, T (1, 0, 0));
  assert_reserved (s, 9, 0, 0, 0, 0, 5, 0, 0, 5, 1, 0, 5, 2, 0, 5, 3, 0, 5,
                   4, 0, 5, 5, 0, 5, 6, 0, 5, 7);
  assert_true (asm_addr_space_is_free (s, T (0, 1, 1)));
  assert_false (asm_addr_space_is_pooled (s, T (1, 0, 0)));
  reserve_fails (s, T (1, 0, 0), INVALID);
  any_gives (s, NULL, T (0, 0, 1));
  /* and changes to the original do not reach the clone */
  release_ok (s, T (0, 5, 0));
  any_gives (c, NULL, T (0, 0, 1));
  assert_false (asm_addr_space_is_free (c, T (0, 5, 0)));
  assert_reserved (c, 11, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 5, 0, 0, 5, 1, 0, 5,
                   2, 0, 5, 4, 0, 5, 5, 0, 5, 6, 0, 5, 7, 1, 0, 0);
  assert_reserved (s, 9, 0, 0, 0, 0, 0, 1, 0, 5, 1, 0, 5, 2, 0, 5, 3, 0, 5,
                   4, 0, 5, 5, 0, 5, 6, 0, 5, 7);
  /* the clone shares the formatter, without owning its data */
  format_is (c, T (0, 0x1f, 7), "0/1f/7");
  format_is (s, T (0, 0x1f, 7), "0/1f/7");
  /* a clone of a clone */
  c2 = asm_addr_space_clone (c, "copy2");
  release_ok (c2, T (1, 0, 0));
  assert_false (asm_addr_space_is_free (c, T (1, 0, 0)));
  assert_true (asm_addr_space_is_pooled (c2, T (1, 0, 0)));
  /* the original's data is destroyed once, by the original */
  g_clear_pointer (&s, asm_addr_space_unref);
  assert_int_equal (destroyed, 1);
  g_clear_pointer (&c, asm_addr_space_unref);
  assert_int_equal (destroyed, 1);
  format_is (c2, T (0, 0x1f, 7), "0/1f/7");
  /* a formatter set on a clone is the clone's own */
  asm_addr_space_set_formatter (c2, NULL, NULL, NULL, NULL);
  assert_int_equal (destroyed, 1);
  format_is (c2, T (0, 0x1f, 7), "0.31.7");
  assert_space_ok (c2);
}

/* A clone of a large box reservation, then a release in each: both stay
 * consistent (copy-on-write under them). */
static void
test_clone_then_split (void **state)
{
  g_autoptr(AsmAddrSpace) s = space_new ("cow", 2, 8, 8);
  g_autoptr(AsmAddrSpace) c = NULL;

  probe_set (2, B (R (0, 255), R (0, 255)));
  pool_ok (s, B (R (0, 255), R (0, 255)));
  box_ok (s, B (R (0, 255), R (0, 255)));
  c = asm_addr_space_clone (s, "cow2");
  release_ok (s, T (100, 100));
  release_ok (c, T (200, 200));
  assert_false (asm_addr_space_is_free (c, T (100, 100)));
  assert_false (asm_addr_space_is_free (s, T (200, 200)));
  any_gives (s, NULL, T (100, 100));
  any_gives (c, NULL, T (200, 200));
  any_fails (s, NULL, NO_SPACE);
  any_fails (c, NULL, NO_SPACE);
  assert_int_equal (asm_addr_space_get_n_reserved (s), 65536);
  assert_int_equal (asm_addr_space_get_n_reserved (c), 65536);
}

static void
test_ref_unref (void **state)
{
  AsmAddrSpace *s = space_new ("refs", 1, 8);
  g_autoptr(AsmAddrSpace) r = asm_addr_space_ref (s);

  assert_ptr_equal (r, s);
  asm_addr_space_unref (s);
  /* still alive through r */
  probe_set (1, B (R (0, 255)));
  pool_ok (r, B (R (0, 9)));
  any_gives (r, NULL, T (0));
  asm_addr_space_unref (NULL);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_seed_pci_pool_16bit_domain),
    cmocka_unit_test (test_seed_pci_pool_8bit_domain),
    cmocka_unit_test (test_seed_router_within_including_it),
    cmocka_unit_test (test_seed_router_within_excluding_it),
    cmocka_unit_test (test_disk_names),
    cmocka_unit_test (test_disk_names_invalid),
    cmocka_unit_test (test_disk_names_as_addresses),
    cmocka_unit_test (test_pci_slot_box),
    cmocka_unit_test (test_pci_find_free_slot),
    cmocka_unit_test (test_pci_find_free_slot_more),
    cmocka_unit_test (test_find_free_slot_partly_pooled),
    cmocka_unit_test (test_new_invalid),
    cmocka_unit_test (test_new_limits),
    cmocka_unit_test (test_pool_overlap_invalid),
    cmocka_unit_test (test_pools_touching),
    cmocka_unit_test (test_pool_whole_space_and_empty_space),
    cmocka_unit_test (test_box_too_many_runs),
    cmocka_unit_test (test_reserve_release_errors),
    cmocka_unit_test (test_reserve_box_errors),
    cmocka_unit_test (test_reserve_box_all_or_nothing),
    cmocka_unit_test (test_reserve_any_within_outside_pools),
    cmocka_unit_test (test_within_invalid),
    cmocka_unit_test (test_reserve_any_sparse_within),
    cmocka_unit_test (test_default_format_parse),
    cmocka_unit_test (test_custom_formatter),
    cmocka_unit_test (test_64bit_single_dimension),
    cmocka_unit_test (test_64bit_whole_space_count),
    cmocka_unit_test (test_32x32),
    cmocka_unit_test (test_foreach_order_and_stop),
    cmocka_unit_test (test_clone_independence),
    cmocka_unit_test (test_clone_then_split),
    cmocka_unit_test (test_ref_unref),
  };

  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL |
                          G_LOG_LEVEL_WARNING);
  return cmocka_run_group_tests_name ("addr", tests, NULL, NULL);
}
