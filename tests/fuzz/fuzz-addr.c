/* fuzz-addr.c: fuzz target for AsmAddrSpace and the disk-name helpers
 *
 * Every input is used twice:
 *
 * (a) as text (up to its first NUL byte), parsed by asm_addr_space_parse()
 *     on a few spaces (IPv4-like {8,8,8,8}, PCI-like {16,8,5,3}, {64},
 *     {32,32}, eight 1-bit dimensions) and by asm_disk_name_parse().  Each
 *     answer must equal that of a reference parser written here from the
 *     documented grammar (decimal or 0x-hex values separated by '.' or ':';
 *     PARSE for text that is not a tuple, INVALID for a value beyond its
 *     width), and what parses must round-trip: format(parse(x)) parses back
 *     to the same tuple, and is the canonical decimal form.  A disk name
 *     must format back to exactly the input.
 *
 * (b) as bytes, decoded into a sequence of operations (add_pool, reserve,
 *     reserve_box, reserve_any, find_free, release, is_free, clone) on a
 *     small space, each checked against the brute-force model of the
 *     DESIGN.md rules in tests/addr-model.c (shared with the property test
 *     tests/test-addr-prop.c), with asm_addr_space_check() after every
 *     step.
 *
 * Any mismatch prints what happened and abort()s.
 *
 * Operation encoding (b): byte 0 picks the shape; then each operation is
 * one opcode byte followed by its arguments, one byte per value (a value
 * byte v means v % (size + 1), so size itself is the out-of-width value,
 * and 255 means G_MAXUINT64); a box is a flag byte (bit 0: do not sort
 * first/last) and two value bytes per dimension.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <asm/asm.h>

#define ASM_TEST_NO_CMOCKA
#include "addr-model.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The reference parsers are not coverage-instrumented (nor is the model,
 * which is in the test-support library): the engine should chase new paths
 * in asm, not in them. */
#if defined(__clang__) && defined(__has_attribute)
#if __has_attribute(no_sanitize)
#define NO_COVERAGE __attribute__ ((no_sanitize ("coverage")))
#endif
#endif
#ifndef NO_COVERAGE
#define NO_COVERAGE
#endif

static void G_GNUC_NORETURN G_GNUC_PRINTF (1, 2)
die (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  fprintf (stderr, "fuzz-addr: ");
  vfprintf (stderr, fmt, ap);
  fprintf (stderr, "\n");
  va_end (ap);
  abort ();
}

/* ---------------------------------------------------------------------- */
/* (a) text                                                               */
/* ---------------------------------------------------------------------- */

static const AddrShape text_shapes[] = {
  { 4, { 8, 8, 8, 8 } },
  { 4, { 16, 8, 5, 3 } },
  { 1, { 64 } },
  { 2, { 32, 32 } },
  { 8, { 1, 1, 1, 1, 1, 1, 1, 1 } },
};

NO_COVERAGE static guint64
width_max (guint8 bits)
{
  return bits == 64 ? G_MAXUINT64 : (G_GUINT64_CONSTANT (1) << bits) - 1;
}

NO_COVERAGE static int
hexval (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* The documented default grammar, written independently. */
NO_COVERAGE static int
ref_parse (const char *text, const AddrShape *sh, guint64 *out)
{
  const char *p = text;

  for (guint d = 0; d < sh->n_dims; d++)
    {
      guint64 v = 0;

      if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && hexval (p[2]) >= 0)
        {
          for (p += 2; hexval (*p) >= 0; p++)
            {
              if (v > G_MAXUINT64 >> 4)
                return ASM_ERROR_PARSE;
              v = v << 4 | (guint64) hexval (*p);
            }
        }
      else if (*p >= '0' && *p <= '9')
        {
          for (; *p >= '0' && *p <= '9'; p++)
            {
              guint64 digit = (guint64) (*p - '0');
              if (v > (G_MAXUINT64 - digit) / 10)
                return ASM_ERROR_PARSE;
              v = v * 10 + digit;
            }
        }
      else
        return ASM_ERROR_PARSE;
      out[d] = v;
      if (d + 1 < sh->n_dims)
        {
          if (*p != '.' && *p != ':')
            return ASM_ERROR_PARSE;
          p++;
        }
    }
  if (*p != '\0')
    return ASM_ERROR_PARSE;
  for (guint d = 0; d < sh->n_dims; d++)
    if (out[d] > width_max (sh->bits[d]))
      return ASM_ERROR_INVALID;
  return TEST_OK;
}

static void
check_text_on_shape (const char *text, const AddrShape *sh)
{
  g_autoptr(AsmAddrSpace) s = asm_addr_space_new ("text", sh->n_dims,
                                                  sh->bits, NULL);
  g_autoptr(GError) error = NULL;
  guint64 got[ASM_ADDR_MAX_DIMS], want[ASM_ADDR_MAX_DIMS],
      back[ASM_ADDR_MAX_DIMS];
  g_autofree char *formatted = NULL;
  g_autofree char *again = NULL;
  GString *canon;
  int expect = ref_parse (text, sh, want);
  gboolean ok;

  if (s == NULL)
    die ("cannot make a %u-dimension space", sh->n_dims);
  memset (got, 0, sizeof got);
  ok = asm_addr_space_parse (s, text, got, &error);
  if (ok != (expect == TEST_OK) || (ok && error != NULL) ||
      (!ok && (error == NULL || error->domain != ASM_ERROR ||
               error->code != expect)))
    die ("parse '%s' on %u dims: %s (code %d), reference says %d", text,
         sh->n_dims, ok ? "ok" : error ? error->message : "no error",
         error ? error->code : -1, expect);
  if (!ok)
    return;
  if (memcmp (got, want, sh->n_dims * sizeof (guint64)) != 0)
    die ("parse '%s' gave other values than the reference", text);

  /* round trip: the canonical form parses back to the same tuple */
  formatted = asm_addr_space_format (s, got);
  canon = g_string_new (NULL);
  for (guint d = 0; d < sh->n_dims; d++)
    g_string_append_printf (canon, "%s%" G_GUINT64_FORMAT, d ? "." : "",
                            got[d]);
  if (g_strcmp0 (formatted, canon->str) != 0)
    die ("format gave '%s', expected '%s'", formatted, canon->str);
  g_string_free (canon, TRUE);
  if (!asm_addr_space_parse (s, formatted, back, NULL) ||
      memcmp (back, got, sh->n_dims * sizeof (guint64)) != 0)
    die ("'%s' (from '%s') does not parse back", formatted, text);
  again = asm_addr_space_format (s, back);
  if (g_strcmp0 (again, formatted) != 0)
    die ("format is not stable: '%s' then '%s'", formatted, again);
}

static const char *const disk_prefixes[] = { "sd", "hd", "vd", "xvd", "fd",
                                             "ubd" };

/* Reference disk-name parse: the index of the letters after a known
 * prefix (bijective base 26).  *overflow is set when the index does not
 * fit 64 bits. */
NO_COVERAGE static int
ref_disk (const char *name, const char **prefix, guint64 *index,
          gboolean *overflow)
{
  const char *p = NULL;
  guint64 n = 0; /* the 1-based bijective value */

  *overflow = FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (disk_prefixes); i++)
    if (g_str_has_prefix (name, disk_prefixes[i]))
      {
        *prefix = disk_prefixes[i];
        p = name + strlen (disk_prefixes[i]);
      }
  if (p == NULL || *p == '\0')
    return ASM_ERROR_PARSE;
  for (; *p != '\0'; p++)
    {
      guint64 c;
      if (*p < 'a' || *p > 'z')
        return ASM_ERROR_PARSE;
      c = (guint64) (*p - 'a' + 1);
      if (n > (G_MAXUINT64 - c) / 26)
        *overflow = TRUE;
      n = n * 26 + c;
    }
  *index = n - 1;
  return TEST_OK;
}

static void
check_disk_name (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *prefix = NULL;
  g_autofree char *back = NULL;
  const char *ref_prefix = NULL;
  guint64 index = 0, ref_index = 0;
  gboolean overflow = FALSE;
  int expect = ref_disk (text, &ref_prefix, &ref_index, &overflow);
  gboolean ok = asm_disk_name_parse (text, &prefix, &index, &error);

  if (!ok && (error == NULL ||
              !g_error_matches (error, ASM_ERROR, ASM_ERROR_PARSE)))
    die ("disk name '%s' refused without a PARSE error", text);
  if (ok && error != NULL)
    die ("disk name '%s' accepted with an error set", text);
  if (expect != TEST_OK)
    {
      if (ok)
        die ("disk name '%s' accepted (index %" G_GUINT64_FORMAT ")", text,
             index);
      return;
    }
  /* documented: PARSE for an index beyond 2^63; anything below 2^62 must
   * be accepted, anything that does not fit 64 bits refused */
  if (!ok)
    {
      if (!overflow && ref_index < (G_GUINT64_CONSTANT (1) << 62))
        die ("disk name '%s' (index %" G_GUINT64_FORMAT ") refused: %s", text,
             ref_index, error->message);
      return;
    }
  if (overflow)
    die ("disk name '%s' beyond 64 bits accepted", text);
  if (index != ref_index || g_strcmp0 (prefix, ref_prefix) != 0)
    die ("disk name '%s' gave %s/%" G_GUINT64_FORMAT ", reference %s/%"
         G_GUINT64_FORMAT, text, prefix, index, ref_prefix, ref_index);
  back = asm_disk_name_format (prefix, index);
  if (g_strcmp0 (back, text) != 0)
    die ("disk name '%s' formats back as '%s'", text, back);
}

/* an index from the bytes formats to a name that parses back to it */
static void
check_disk_index (guint64 index)
{
  static const char *const prefixes[] = { "sd", "xvd" };

  for (guint i = 0; i < G_N_ELEMENTS (prefixes); i++)
    {
      g_autofree char *name = asm_disk_name_format (prefixes[i], index);
      g_autofree char *prefix = NULL;
      guint64 back = 0;

      if (!asm_disk_name_parse (name, &prefix, &back, NULL))
        {
          if (index < (G_GUINT64_CONSTANT (1) << 62))
            die ("'%s' (index %" G_GUINT64_FORMAT ") does not parse", name,
                 index);
          continue;
        }
      if (back != index || g_strcmp0 (prefix, prefixes[i]) != 0)
        die ("'%s' parses to %" G_GUINT64_FORMAT ", not %" G_GUINT64_FORMAT,
             name, back, index);
    }
}

static void
fuzz_text (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, MIN (size, 4096));

  for (guint i = 0; i < G_N_ELEMENTS (text_shapes); i++)
    check_text_on_shape (text, &text_shapes[i]);
  check_disk_name (text);
  if (size >= 8)
    {
      guint64 index;
      memcpy (&index, data + size - 8, 8);
      check_disk_index (index);
      check_disk_index (index >> 40);
    }
}

/* ---------------------------------------------------------------------- */
/* (b) operations against a model                                         */
/* ---------------------------------------------------------------------- */

typedef struct {
  const uint8_t *p, *end;
} Reader;

static gboolean
reader_more (const Reader *r)
{
  return r->p < r->end;
}

static guint8
reader_byte (Reader *r)
{
  return r->p < r->end ? *r->p++ : 0;
}

static guint64
read_value (Reader *r, const AddrModel *m, guint d)
{
  guint8 b = reader_byte (r);

  if (b == 255)
    return G_MAXUINT64;
  return b % (m->size[d] + 1);
}

static void
read_tuple (Reader *r, const AddrModel *m, guint64 *t)
{
  for (guint d = 0; d < m->n_dims; d++)
    t[d] = read_value (r, m, d);
}

static void
read_box (Reader *r, const AddrModel *m, AsmRange *box)
{
  guint8 flags = reader_byte (r);

  for (guint d = 0; d < m->n_dims; d++)
    {
      guint64 a = read_value (r, m, d), b = read_value (r, m, d);
      if (!(flags & 1) && a > b)
        {
          guint64 x = a;
          a = b;
          b = x;
        }
      box[d] = ASM_RANGE (a, b);
    }
}

static void
expect_result (const char *what, guint step, gboolean ret, GError *error,
               int expect)
{
  int got = ret ? TEST_OK : error ? error->code : -2;

  if ((ret && error != NULL) || (!ret && error == NULL) ||
      (!ret && error->domain != ASM_ERROR) || got != expect)
    die ("step %u %s: got %d (%s), model says %d", step, what, got,
         error ? error->message : "no error", expect);
}

static void
verify (AsmAddrSpace *s, const AddrModel *m, guint step, gboolean full)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) why = NULL;

  if (!asm_addr_space_check (s, &error))
    die ("step %u: check: %s", step, error->message);
  if (asm_addr_space_get_n_reserved (s) != m->n_reserved)
    die ("step %u: %" G_GUINT64_FORMAT " reserved, model %" G_GUINT64_FORMAT,
         step, asm_addr_space_get_n_reserved (s), m->n_reserved);
  if (!full)
    return;
  why = g_string_new (NULL);
  if (!addr_model_compare (m, s, why))
    die ("step %u: %s", step, why->str);
}

static void
fuzz_ops (const uint8_t *data, size_t size)
{
  Reader r = { data, data + size };
  const AddrShape *sh =
      &addr_model_shapes[reader_byte (&r) % addr_model_n_shapes];
  AsmAddrSpace *space[2];
  AddrModel model[2];
  guint cur = 0, step = 0;

  for (guint i = 0; i < 2; i++)
    {
      space[i] = asm_addr_space_new ("ops", sh->n_dims, sh->bits, NULL);
      addr_model_init (&model[i], sh, ADDR_SABOTAGE_NONE);
    }
  while (reader_more (&r) && step < 2000)
    {
      guint8 op = reader_byte (&r);
      AsmAddrSpace *s = space[cur];
      AddrModel *m = &model[cur];
      guint n = m->n_dims;
      guint64 t[ASM_ADDR_MAX_DIMS], got[ASM_ADDR_MAX_DIMS],
          want[ASM_ADDR_MAX_DIMS];
      AsmRange box[ASM_ADDR_MAX_DIMS];
      g_autoptr(GError) error = NULL;
      gboolean ret;
      int expect;

      step++;
      switch (op % 10)
        {
        case 0:
          read_box (&r, m, box);
          expect = addr_model_add_pool (m, box);
          ret = asm_addr_space_add_pool (s, box, &error);
          expect_result ("add_pool", step, ret, error, expect);
          break;
        case 1:
        case 2:
          read_tuple (&r, m, t);
          expect = addr_model_reserve (m, t);
          ret = asm_addr_space_reserve (s, t, &error);
          expect_result ("reserve", step, ret, error, expect);
          break;
        case 3:
          read_box (&r, m, box);
          expect = addr_model_reserve_box (m, box);
          ret = asm_addr_space_reserve_box (s, box, &error);
          expect_result ("reserve_box", step, ret, error, expect);
          break;
        case 4:
        case 5:
          {
            gboolean null_within = (op & 0x80) != 0;
            if (!null_within)
              read_box (&r, m, box);
            expect = addr_model_reserve_any (m, null_within ? NULL : box,
                                             want);
            memset (got, 0, sizeof got);
            ret = asm_addr_space_reserve_any (s, null_within ? NULL : box,
                                              got, &error);
            expect_result ("reserve_any", step, ret, error, expect);
            if (ret && memcmp (got, want, n * sizeof (guint64)) != 0)
              die ("step %u reserve_any: other tuple than the model", step);
          }
          break;
        case 6:
          {
            guint k = (op >> 4) % (n + 1);
            gboolean null_within = (op & 0x80) != 0 && (op & 0x40) != 0;
            if (!null_within)
              {
                read_box (&r, m, box);
                /* whole trailing dimensions unless bit 3 says otherwise */
                if (!(op & 0x08))
                  for (guint d = k < n ? n - k : 0; d < n; d++)
                    box[d] = ASM_RANGE (0, m->size[d] - 1);
              }
            expect = addr_model_find_free (m, null_within ? NULL : box, k,
                                           want);
            ret = asm_addr_space_find_free (s, null_within ? NULL : box, k,
                                            got, &error);
            expect_result ("find_free", step, ret, error, expect);
            if (ret && memcmp (got, want, n * sizeof (guint64)) != 0)
              die ("step %u find_free k=%u: other tuple than the model", step,
                   k);
          }
          break;
        case 7:
        case 8:
          read_tuple (&r, m, t);
          expect = addr_model_release (m, t);
          ret = asm_addr_space_release (s, t, &error);
          expect_result ("release", step, ret, error, expect);
          break;
        case 9:
          if (op & 0x10)
            {
              guint other = 1 - cur;
              asm_addr_space_unref (space[other]);
              space[other] = asm_addr_space_clone (s, "ops-clone");
              model[other] = *m;
              verify (space[other], &model[other], step, TRUE);
            }
          if (op & 0x20)
            cur = 1 - cur;
          else
            {
              read_tuple (&r, m, t);
              if (asm_addr_space_is_free (s, t) != addr_model_is_free (m, t))
                die ("step %u: is_free differs", step);
            }
          break;
        }
      /* a refused call that changed something shows at the next full
       * verification, since the model did not change */
      verify (s, m, step, step % 16 == 0);
    }
  for (guint i = 0; i < 2; i++)
    {
      verify (space[i], &model[i], step, TRUE);
      asm_addr_space_unref (space[i]);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_text (data, size);
  fuzz_ops (data, size);
  return 0;
}
