/* asm-test.c: what the test programs share (see asm-test.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define ASM_TEST_NO_CMOCKA
#include "asm-test.h"

const char *
test_code_name (int code)
{
  const char *name;

  if (code == TEST_OK)
    return "ok";
  name = asm_error_code_to_string (code);
  return name != NULL ? name : "?";
}

guint64
test_env_u64 (const char *name, guint64 def)
{
  const char *v = g_getenv (name);

  return v != NULL && *v != '\0' ? g_ascii_strtoull (v, NULL, 0) : def;
}

/* ---------------------------------------------------------------------- */
/* choices                                                                */

void
choice_source_init_seed (ChoiceSource *src, guint64 seed)
{
  memset (src, 0, sizeof *src);
  src->state = seed;
}

void
choice_source_init_data (ChoiceSource *src, const guint8 *data, gsize len)
{
  memset (src, 0, sizeof *src);
  src->data = data;
  src->len = len;
}

/* splitmix64 */
static guint64
prng_next (guint64 *state)
{
  guint64 z = (*state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* n_bytes (1..8) worth of choice: from the PRNG, or the next input bytes,
 * big-endian, zeros past the end */
static guint64
source_bytes (ChoiceSource *src, guint n_bytes)
{
  guint64 v = 0;

  if (src->data == NULL)
    {
      v = prng_next (&src->state);
      return n_bytes >= 8 ? v
                          : v & ((G_GUINT64_CONSTANT (1) << (8 * n_bytes)) - 1);
    }
  for (guint k = 0; k < n_bytes; k++)
    {
      v <<= 8;
      if (src->pos < src->len)
        v |= src->data[src->pos++];
      else
        src->exhausted = TRUE;
    }
  return v;
}

guint64
choice_u64 (ChoiceSource *src)
{
  return source_bytes (src, 8);
}

guint64
choice_below (ChoiceSource *src, guint64 n)
{
  guint n_bytes = 0;

  if (n <= 1)
    return 0;
  for (guint64 top = n - 1; top != 0; top >>= 8)
    n_bytes++;
  return source_bytes (src, n_bytes) % n;
}

gboolean
choice_chance (ChoiceSource *src, guint num, guint den)
{
  return choice_below (src, den) < num;
}
