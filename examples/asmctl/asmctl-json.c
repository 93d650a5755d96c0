/* asmctl-json.c: the pre-scan every JSON file asmctl and asmd read
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * json-glib accepts what asm's readers must refuse (a member name twice
 * in one object, U+0000 inside a string, nesting deep enough to exhaust
 * the stack), so every file goes through asmctl_json_prescan() before the
 * parser sees it; see asmctl.h.
 */
#include "asmctl.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* The JSON pre-scan                                                    */

/* One open container of the pre-scan. */
typedef struct {
  gboolean is_object;
  gboolean want_key;   /* object: the next string is a member name */
  guint index;         /* array: the element being read */
  char *key;           /* object: the member being read (NULL before) */
  GHashTable *keys;    /* object: the member names seen (owned) */
} ScanLevel;

/* "$.steps[3].do" for the containers open at @depth, then @last */
static char *
scan_path (ScanLevel *levels, guint depth, const char *last)
{
  GString *p = g_string_new ("$");

  for (guint i = 0; i < depth; i++)
    {
      if (!levels[i].is_object)
        g_string_append_printf (p, "[%u]", levels[i].index);
      else if (levels[i].key != NULL)
        g_string_append_printf (p, ".%s", levels[i].key);
    }
  if (last != NULL)
    g_string_append_printf (p, ".%s", last);
  return g_string_free (p, FALSE);
}

/* Decodes the JSON string at @p (after its opening quote) into @out;
 * returns the byte after the closing quote, or NULL when the string is
 * malformed (the parser reports that).  *@nul is set when the string
 * holds U+0000. */
static const char *
scan_string (const char *p, const char *end, GString *out, gboolean *nul)
{
  g_string_truncate (out, 0);
  while (p < end && *p != '"')
    {
      gunichar c;

      if (*p != '\\')
        {
          if (*p == '\0')
            *nul = TRUE;
          g_string_append_c (out, *p++);
          continue;
        }
      if (++p >= end)
        return NULL;
      switch (*p++)
        {
        case '"': g_string_append_c (out, '"'); continue;
        case '\\': g_string_append_c (out, '\\'); continue;
        case '/': g_string_append_c (out, '/'); continue;
        case 'b': g_string_append_c (out, '\b'); continue;
        case 'f': g_string_append_c (out, '\f'); continue;
        case 'n': g_string_append_c (out, '\n'); continue;
        case 'r': g_string_append_c (out, '\r'); continue;
        case 't': g_string_append_c (out, '\t'); continue;
        case 'u': break;
        default: return NULL;
        }
      c = 0;
      for (int i = 0; i < 4; i++, p++)
        {
          if (p >= end || !g_ascii_isxdigit (*p))
            return NULL;
          c = c * 16 + (gunichar) g_ascii_xdigit_value (*p);
        }
      if (c == 0)
        *nul = TRUE;
      /* a surrogate pair is one character; a lone half stands for itself
       * as U+FFFD (the parser decides whether it accepts it) */
      if (c >= 0xd800 && c < 0xdc00 && end - p >= 6 && p[0] == '\\' &&
          p[1] == 'u')
        {
          gunichar lo = 0;
          gboolean hex = TRUE;
          for (int i = 2; i < 6; i++)
            if (g_ascii_isxdigit (p[i]))
              lo = lo * 16 + (gunichar) g_ascii_xdigit_value (p[i]);
            else
              hex = FALSE;
          if (hex && lo >= 0xdc00 && lo < 0xe000)
            {
              c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
              p += 6;
            }
        }
      if (c >= 0xd800 && c < 0xe000)
        c = 0xfffd;
      g_string_append_unichar (out, c);
    }
  return p < end ? p + 1 : NULL;
}

/* a JSON number as the grammar has it: -?(0|[1-9][0-9]*)(.[0-9]+)?
 * ([eE][+-]?[0-9]+)?, so neither 010 nor 0x10 */
static gboolean
scan_number_ok (const char *p, gsize n)
{
  gsize i = 0;

  if (i < n && p[i] == '-')
    i++;
  if (i < n && p[i] == '0')
    i++;
  else if (i < n && p[i] >= '1' && p[i] <= '9')
    while (i < n && g_ascii_isdigit (p[i]))
      i++;
  else
    return FALSE;
  if (i < n && p[i] == '.')
    {
      gsize d = ++i;
      while (i < n && g_ascii_isdigit (p[i]))
        i++;
      if (i == d)
        return FALSE;
    }
  if (i < n && (p[i] == 'e' || p[i] == 'E'))
    {
      gsize d;
      i++;
      if (i < n && (p[i] == '+' || p[i] == '-'))
        i++;
      d = i;
      while (i < n && g_ascii_isdigit (p[i]))
        i++;
      if (i == d)
        return FALSE;
    }
  return i == n;
}

/* an integer literal the parser reads exactly (it wraps one above
 * G_MAXINT64 to a negative number); fractions and exponents pass */
static gboolean
scan_integer_fits (const char *p, gsize n)
{
  gboolean neg = n > 0 && p[0] == '-';
  guint64 v = 0;

  for (gsize i = neg; i < n; i++)
    {
      if (!g_ascii_isdigit (p[i]))
        return TRUE;
      if (v > (G_MAXUINT64 - 9) / 10)
        return FALSE;
      v = v * 10 + (guint64) (p[i] - '0');
    }
  return v <= (guint64) G_MAXINT64 + neg;
}

/**
 * asmctl_json_prescan:
 * @data: JSON text
 * @len: its length in bytes
 * @error: return location for a #GError (%ASM_ERROR_PARSE)
 *
 * Reads JSON text once, in linear time and constant stack, before a
 * parser builds a tree from it, and refuses what the parser would take
 * without complaint or could not survive:
 *
 * - nesting deeper than %ASMCTL_JSON_MAX_DEPTH arrays and objects (the
 *   parser recurses once per level; 100,000 levels overflow the stack);
 * - a member name given twice in one object (the parser keeps the last
 *   one, so a second "steps" would silently replace the first);
 * - U+0000 in a string, escaped or raw (C strings end there, so a name
 *   would be cut short);
 * - a number outside JSON's grammar: a leading zero (the parser reads
 *   010 as octal 8), hexadecimal (0x10), a leading '+'; an integer
 *   outside -2^63..2^63-1 (the parser wraps it).
 *
 * Member names are compared decoded, so "a" and "\u0061" are the same
 * name.  Malformed text (an unterminated string, a stray bracket) is left
 * for the parser, which reports it with its position.  Errors give the
 * line and column and the JSON path ("line 3, column 17: $.steps: ...").
 *
 * Returns: %TRUE when the parser may read @data
 */
gboolean
asmctl_json_prescan (const char *data, gsize len, GError **error)
{
  const char *p = data, *end = data + len, *line_start = data;
  ScanLevel levels[ASMCTL_JSON_MAX_DEPTH];
  g_autoptr (GString) str = g_string_new (NULL);
  guint depth = 0, line = 1;
  gboolean ok = TRUE;
  char *msg = NULL;
  const char *at = NULL;

  while (p < end && ok)
    {
      char c = *p;
      ScanLevel *top = depth > 0 ? &levels[depth - 1] : NULL;

      if (c == '\n')
        {
          line++;
          line_start = ++p;
          continue;
        }
      if (c == ' ' || c == '\t' || c == '\r' || c == ':')
        {
          p++;
          continue;
        }
      at = p;
      if (c == '"')
        {
          gboolean nul = FALSE;
          const char *next = scan_string (p + 1, end, str, &nul);
          if (next == NULL)
            break; /* the parser says what is wrong */
          if (nul)
            {
              g_autofree char *path = scan_path (
                  levels, depth,
                  top != NULL && top->is_object && top->want_key ? str->str
                                                                   : NULL);
              msg = g_strdup_printf ("%s: a string holds U+0000 (NUL)", path);
              ok = FALSE;
            }
          else if (top != NULL && top->is_object && top->want_key)
            {
              top->want_key = FALSE;
              if (g_hash_table_contains (top->keys, str->str))
                {
                  g_autofree char *path = scan_path (levels, depth - 1,
                                                     NULL);
                  msg = g_strdup_printf ("%s: the key \"%s\" is given twice",
                                         path, str->str);
                  ok = FALSE;
                }
              else
                {
                  top->key = g_strdup (str->str);
                  g_hash_table_add (top->keys, top->key);
                }
            }
          /* a string, like every value, is on one line only if it has
           * no newline: count the newlines it holds */
          for (const char *q = p; q < next; q++)
            if (*q == '\n')
              {
                line++;
                line_start = q + 1;
              }
          p = next;
          continue;
        }
      if (c == '{' || c == '[')
        {
          if (depth == ASMCTL_JSON_MAX_DEPTH)
            {
              msg = g_strdup_printf ("nested deeper than %u arrays and "
                                     "objects", ASMCTL_JSON_MAX_DEPTH);
              ok = FALSE;
              break;
            }
          levels[depth].is_object = c == '{';
          levels[depth].want_key = c == '{';
          levels[depth].index = 0;
          levels[depth].key = NULL;
          levels[depth].keys = c == '{' ? g_hash_table_new_full (
                                              g_str_hash, g_str_equal,
                                              g_free, NULL)
                                        : NULL;
          depth++;
          p++;
          continue;
        }
      if (c == '}' || c == ']')
        {
          if (depth == 0)
            break;
          depth--;
          if (levels[depth].keys != NULL)
            g_hash_table_unref (levels[depth].keys);
          p++;
          continue;
        }
      if (c == ',')
        {
          if (top != NULL && top->is_object)
            {
              top->want_key = TRUE;
              top->key = NULL;
            }
          else if (top != NULL)
            top->index++;
          p++;
          continue;
        }
      if (c == '\0')
        {
          g_autofree char *path = scan_path (levels, depth, NULL);
          msg = g_strdup_printf ("%s: a NUL byte", path);
          ok = FALSE;
          break;
        }
      /* a bare word: a number, true, false or null */
      {
        const char *w = p;
        gsize n;
        while (p < end && (g_ascii_isalnum (*p) || *p == '-' || *p == '+' ||
                           *p == '.'))
          p++;
        n = (gsize) (p - w);
        /* a stray character or word: the parser says what is wrong, and
         * stops there, before any deeper nesting */
        if (n == 0 || (g_ascii_isalpha (*w) &&
                       !((n == 4 && memcmp (w, "true", 4) == 0) ||
                         (n == 5 && memcmp (w, "false", 5) == 0) ||
                         (n == 4 && memcmp (w, "null", 4) == 0))))
          break;
        if (!((n == 4 && memcmp (w, "true", 4) == 0) ||
              (n == 5 && memcmp (w, "false", 5) == 0) ||
              (n == 4 && memcmp (w, "null", 4) == 0) ||
              scan_number_ok (w, n)))
          {
            g_autofree char *path = scan_path (levels, depth, NULL);
            msg = g_strdup_printf ("%s: '%.*s' is not a JSON value (numbers "
                                   "are decimal without leading zeros; "
                                   "write \"0x..\" as a string)",
                                   path, (int) MIN (n, 40), w);
            ok = FALSE;
          }
        else if (!scan_integer_fits (w, n))
          {
            g_autofree char *path = scan_path (levels, depth, NULL);
            msg = g_strdup_printf ("%s: %.*s does not fit in a 64-bit JSON "
                                   "integer (write it as a string, "
                                   "\"0x..\")", path, (int) MIN (n, 40), w);
            ok = FALSE;
          }
      }
    }
  while (depth > 0)
    {
      depth--;
      if (levels[depth].keys != NULL)
        g_hash_table_unref (levels[depth].keys);
    }
  if (!ok)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "line %u, column %u: %s", line,
                   (guint) g_utf8_strlen (line_start, at - line_start) + 1,
                   msg);
      g_free (msg);
    }
  return ok;
}

/**
 * asmctl_json_load:
 * @parser: a parser
 * @path: the file to read
 * @error: return location for a #GError: %G_FILE_ERROR when the file
 *   cannot be read, else %ASM_ERROR_PARSE or json-glib's parse error
 *
 * Reads @path, checks it with asmctl_json_prescan() and parses it.
 *
 * Returns: %TRUE on success
 */
gboolean
asmctl_json_load (JsonParser *parser, const char *path, GError **error)
{
  g_autofree char *data = NULL;
  gsize len;

  return g_file_get_contents (path, &data, &len, error) &&
         asmctl_json_prescan (data, len, error) &&
         json_parser_load_from_data (parser, data, (gssize) len, error);
}
