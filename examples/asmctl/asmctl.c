/* asmctl: the command-line front of asm
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One program, one subcommand per job; each subcommand lives in its own
 * asmctl-*.c file and parses its own options.  Exit codes: 0 success, 1 an
 * operation failed, 2 a bad command line, 3 a bad input file.
 */
#include "asmctl.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Clean exits on SIGINT and SIGTERM                                    */

/* The QEMU backend keeps QMP's socket and QEMU's log in
 * $TMPDIR/asm-qemu-XXXXXX/, with owner.pid holding the pid of the process
 * that made it, and removes it when the backend is freed.  A signal would
 * end asmctl before that, so asmctl catches SIGINT and SIGTERM on a
 * thread of its own (the main thread may be waiting on QEMU), removes the
 * directories this process made and exits with 128 + the signal, as the
 * shell reports a process killed by it.  QEMU, started with
 * PR_SET_PDEATHSIG, dies with asmctl.  A directory left by a process
 * killed with SIGKILL is removed by the next QEMU launch. */
static void
remove_own_qemu_dirs (void)
{
  const char *tmp = g_get_tmp_dir ();
  g_autoptr (GDir) d = g_dir_open (tmp, 0, NULL);
  g_autofree char *me = g_strdup_printf ("%d\n", (int) getpid ());
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *dir = NULL, *owner = NULL, *text = NULL;
      struct stat st;

      if (!g_str_has_prefix (name, "asm-qemu-"))
        continue;
      dir = g_build_filename (tmp, name, NULL);
      owner = g_build_filename (dir, "owner.pid", NULL);
      if (lstat (dir, &st) != 0 || !S_ISDIR (st.st_mode) ||
          st.st_uid != getuid () ||
          !g_file_get_contents (owner, &text, NULL, NULL) ||
          strcmp (text, me) != 0)
        continue;
      for (const char *const *f = (const char *const[]){ "qmp.sock",
                                                         "qemu.log",
                                                         "owner.pid", NULL };
           *f != NULL; f++)
        {
          g_autofree char *path = g_build_filename (dir, *f, NULL);
          g_unlink (path);
        }
      g_rmdir (dir);
    }
}

static gboolean
on_signal (gpointer data)
{
  int signum = GPOINTER_TO_INT (data);

  remove_own_qemu_dirs ();
  fflush (stdout);
  _exit (128 + signum);
  return G_SOURCE_REMOVE;
}

static gpointer
signal_thread (gpointer data)
{
  GMainContext *ctx = data;

  for (;;)
    g_main_context_iteration (ctx, TRUE);
  return NULL;
}

static void
catch_signals (void)
{
  GMainContext *ctx = g_main_context_new ();
  const int signals[] = { SIGINT, SIGTERM };

  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    {
      GSource *src = g_unix_signal_source_new (signals[i]);
      g_source_set_callback (src, on_signal, GINT_TO_POINTER (signals[i]),
                             NULL);
      g_source_attach (src, ctx);
      g_source_unref (src);
    }
  /* runs until the process exits */
  g_thread_unref (g_thread_new ("asmctl-signals", signal_thread, ctx));
}

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

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage: asmctl COMMAND [ARGS...]\n"
           "\n"
           "Commands:\n"
           "  demo      run the embedded default scenario and print the result\n"
           "  run       run a fabric scenario file (asmctl run --help)\n"
           "  script    run a script of arena, address, PCI and fabric operations\n"
           "  iova      show an IOVA arena with its holes; allocate with constraints\n"
           "  pci       parse and format PCI addresses\n"
           "  pci assign|attach|detach  libvirt domain XML: PCI addresses as\n"
           "            libvirt assigns them (asmctl pci assign --help)\n"
           "  help      show this text (also --help; --version)\n"
           "\n"
           "Everything that joins a fabric can leave it: script commands (and\n"
           "run steps, which write '_' for '-') unmap, shrink, destroy-vf,\n"
           "remove-device, drain, remove-switch, end-workload and\n"
           "migrate-workload, with root-map and sample to watch it (asmctl\n"
           "script --help and asmctl run --help list every command and step).\n"
           "\n"
           "Every command has --help.  Exit status: 0 success, 1 an operation\n"
           "failed, 2 a bad command line, 3 a bad input file.\n"
           "\n"
           "asm %d.%d.%d, the Address Space Manager.\n",
           ASM_MAJOR_VERSION, ASM_MINOR_VERSION, ASM_MICRO_VERSION);
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      usage (stderr);
      return 2;
    }
  catch_signals ();
  if (strcmp (argv[1], "demo") == 0)
    return asmctl_cmd_demo (argc - 1, argv + 1);
  if (strcmp (argv[1], "run") == 0)
    return asmctl_cmd_run (argc - 1, argv + 1);
  if (strcmp (argv[1], "script") == 0)
    return asmctl_cmd_script (argc - 1, argv + 1);
  if (strcmp (argv[1], "iova") == 0)
    return asmctl_cmd_iova (argc - 1, argv + 1);
  if (strcmp (argv[1], "pci") == 0 && argc >= 3 &&
      strcmp (argv[2], "assign") == 0)
    return asmctl_cmd_pci_assign (argc - 2, argv + 2);
  if (strcmp (argv[1], "pci") == 0 && argc >= 3 &&
      strcmp (argv[2], "attach") == 0)
    return asmctl_cmd_pci_attach (argc - 2, argv + 2);
  if (strcmp (argv[1], "pci") == 0 && argc >= 3 &&
      strcmp (argv[2], "detach") == 0)
    return asmctl_cmd_pci_detach (argc - 2, argv + 2);
  if (strcmp (argv[1], "pci") == 0)
    return asmctl_cmd_pci (argc - 1, argv + 1);
  if (strcmp (argv[1], "--version") == 0)
    {
      printf ("asmctl (asm) %d.%d.%d\n", ASM_MAJOR_VERSION, ASM_MINOR_VERSION,
              ASM_MICRO_VERSION);
      return 0;
    }
  if (strcmp (argv[1], "help") == 0 || strcmp (argv[1], "--help") == 0 ||
      strcmp (argv[1], "-h") == 0)
    {
      usage (stdout);
      return 0;
    }
  fprintf (stderr, "asmctl: unknown command '%s'\n\n", argv[1]);
  usage (stderr);
  return 2;
}
