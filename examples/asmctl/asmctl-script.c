/* asmctl-script.c: `asmctl script`, a line-oriented operation language
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One command per line over named arenas, address spaces, PCI bus sets and
 * fabrics (the language is documented in asmctl-script.md, next to this
 * file).  The output is deterministic, so a script and its output make a
 * test, a bug report or a fuzzer input.
 *
 * Errors go to stderr as `FILE:LINE: message`.  A script error (bad
 * syntax, unknown command or object, wrong arguments) stops the run with
 * exit code 3; an operation that fails when no `expect` announced it, or
 * an `expect` that does not hold, stops it with exit code 1 (with
 * --keep-going the run goes on and exits 1 at the end).
 *
 * Structure: the command table maps (verb, kind of the first argument) to
 * a handler and its argument rules; run_line() splits a line, finds the
 * entry, checks the counts, bare-word flags and key=value options, runs
 * the handler and settles `expect`.  Handlers parse every argument before
 * they change anything, and print only after success.
 *
 * This file is the interpreter: errors, numbers, objects, arguments, the
 * commands on any object, the table and the running.  The handlers of the
 * other commands, each file with its part of the table, are in
 * asmctl-script-arena-addr.c (arenas and address spaces) and
 * asmctl-script-pci-fabric.c (PCI bus sets and fabrics); what the three
 * share is in asmctl-script.h.
 */
#include "asmctl-script.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Errors                                                               */

/* Script errors (exit 3) live in their own domain; every other error is
 * the failure of an operation (exit 1), usually in ASM_ERROR. */
#define SCRIPT_ERROR (script_error_quark ())
enum {
  SCRIPT_ERROR_SYNTAX,
};

static GQuark
script_error_quark (void)
{
  return g_quark_from_static_string ("asmctl-script-error-quark");
}

/**
 * asmctl_error_code_name:
 * @error: an error
 *
 * The short name of an %ASM_ERROR code ("no-space", "in-use", ...), as the
 * script's `expect` and the --json outputs write it; "failed" for an error
 * of another domain.
 *
 * Returns: (transfer none): the name
 */
const char *
asmctl_error_code_name (const GError *error)
{
  const char *name;

  if (error->domain != ASM_ERROR)
    return "failed";
  name = asm_error_code_to_string (error->code);
  return name != NULL ? name : "unknown";
}

gboolean G_GNUC_PRINTF (2, 3)
asmctl_script_syntax (GError **error, const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  g_propagate_error (error, g_error_new_valist (SCRIPT_ERROR,
                                                SCRIPT_ERROR_SYNTAX, format,
                                                ap));
  va_end (ap);
  return FALSE;
}

gboolean G_GNUC_PRINTF (3, 4)
asmctl_script_fail (GError **error, AsmError code, const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  g_propagate_error (error, g_error_new_valist (ASM_ERROR, (gint) code,
                                                format, ap));
  va_end (ap);
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* Numbers, shared with asmctl-quick.c                                  */

/**
 * asmctl_parse_u64:
 * @text: decimal or 0x-hex digits, optionally followed by one of K, M, G,
 *   T (binary units: 2^10, 2^20, 2^30, 2^40); no sign, no spaces, no
 *   leading zero in a decimal number (it would look octal)
 * @out: (out): the value
 * @error: return location for a #GError (%ASM_ERROR_PARSE)
 *
 * Parses a number of the script language and of the quick commands.
 *
 * Returns: %TRUE on success
 */
gboolean
asmctl_parse_u64 (const char *text, guint64 *out, GError **error)
{
  const char *p = text;
  guint64 v = 0;
  guint base = 10, digits = 0, shift = 0;

  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
    {
      base = 16;
      p += 2;
    }
  for (; base == 16 ? g_ascii_isxdigit (*p) : g_ascii_isdigit (*p); p++)
    {
      guint d = (guint) g_ascii_xdigit_value (*p);
      if (v > (G_MAXUINT64 - d) / base)
        goto too_large;
      v = v * base + d;
      digits++;
    }
  if (digits == 0)
    goto bad;
  /* "010" is not octal 8 here, and not quietly 10 either */
  if (base == 10 && digits > 1 && text[0] == '0')
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "'%s' has a leading zero (numbers are decimal or 0x-hex; "
                   "octal is not read)", text);
      return FALSE;
    }
  switch (*p)
    {
    case 'K':
      shift = 10;
      break;
    case 'M':
      shift = 20;
      break;
    case 'G':
      shift = 30;
      break;
    case 'T':
      shift = 40;
      break;
    default:
      break;
    }
  if (shift != 0)
    p++;
  if (*p != '\0')
    goto bad;
  if (shift != 0 && v > (G_MAXUINT64 >> shift))
    goto too_large;
  *out = v << shift;
  return TRUE;

bad:
  g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
               "'%s' is not a number (decimal or 0x-hex, with an optional K, "
               "M, G or T suffix)", text);
  return FALSE;
too_large:
  g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
               "'%s' does not fit in 64 bits", text);
  return FALSE;
}

/**
 * asmctl_parse_fit:
 * @text: "lowest", "highest", "best", "next" or "instant"
 * @out: (out): the policy
 * @error: return location for a #GError (%ASM_ERROR_PARSE)
 *
 * Returns: %TRUE on success
 */
gboolean
asmctl_parse_fit (const char *text, AsmFit *out, GError **error)
{
  static const char *const names[] = { "lowest", "highest", "best", "next",
                                       "instant" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (strcmp (text, names[i]) == 0)
      {
        *out = (AsmFit) i;
        return TRUE;
      }
  g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
               "'%s' is not a fit (lowest, highest, best, next or instant)", text);
  return FALSE;
}

/**
 * asmctl_fit_name:
 * @fit: a placement policy
 *
 * Returns: (transfer none): its name, as asmctl_parse_fit() reads it
 */
const char *
asmctl_fit_name (AsmFit fit)
{
  switch (fit)
    {
    case ASM_FIT_LOWEST:
      return "lowest";
    case ASM_FIT_HIGHEST:
      return "highest";
    case ASM_FIT_BEST:
      return "best";
    case ASM_FIT_NEXT:
      return "next";
    case ASM_FIT_INSTANT:
      return "instant";
    }
  return "?";
}

/**
 * asmctl_segment_kind_name:
 * @kind: a segment kind
 *
 * Returns: (transfer none): "free", "allocated" or "reserved"
 */
const char *
asmctl_segment_kind_name (AsmSegmentKind kind)
{
  switch (kind)
    {
    case ASM_SEGMENT_FREE:
      return "free";
    case ASM_SEGMENT_ALLOCATED:
      return "allocated";
    case ASM_SEGMENT_RESERVED:
      return "reserved";
    }
  return "?";
}

/* ------------------------------------------------------------------ */
/* Objects and the interpreter's state                                  */

static const char *const obj_kind_names[] = {
  [OBJ_ARENA] = "an arena",
  [OBJ_SPACE] = "an address space",
  [OBJ_PCI] = "a PCI bus set",
  [OBJ_FABRIC] = "a fabric",
};

static void
obj_free (Obj *o)
{
  g_free (o->name);
  g_clear_pointer (&o->arena, asm_arena_unref);
  g_clear_pointer (&o->space, asm_addr_space_unref);
  g_clear_pointer (&o->pci, asm_pci_bus_set_unref);
  g_clear_pointer (&o->pci_indexes, g_array_unref);
  if (o->pci_grown != NULL)
    g_string_free (o->pci_grown, TRUE);
  g_clear_pointer (&o->fabric, asm_fabric_unref);
  g_clear_pointer (&o->sim, asm_backend_unref);
  g_clear_pointer (&o->workloads, g_hash_table_unref);
  g_clear_pointer (&o->workload_names, g_hash_table_unref);
  g_clear_pointer (&o->partitions, g_hash_table_unref);
  g_clear_pointer (&o->partition_names, g_hash_table_unref);
  g_clear_pointer (&o->workload_parts, g_hash_table_unref);
  g_clear_pointer (&o->gone, g_hash_table_unref);
  g_free (o);
}

void G_GNUC_PRINTF (2, 3)
asmctl_script_emit (Script *s, const char *format, ...)
{
  va_list ap;
  char *text;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (s->json)
    g_ptr_array_add (s->out_lines, text);
  else
    {
      fputs (text, stdout);
      fputc ('\n', stdout);
      g_free (text);
    }
}

void
asmctl_script_emit_lines (Script *s, GPtrArray *lines)
{
  for (guint i = 0; i < lines->len; i++)
    asmctl_script_emit (s, "%s", (const char *) g_ptr_array_index (lines, i));
}

/* A name of the language: a letter or '_' first, then letters, digits and
 * '_', '-', '.'.  Names never start with a digit, so that a number in
 * their place is an id (fabric objects). */
gboolean
asmctl_script_valid_name (const char *name)
{
  if (!g_ascii_isalpha (name[0]) && name[0] != '_')
    return FALSE;
  for (const char *p = name + 1; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-' && *p != '.')
      return FALSE;
  return TRUE;
}

gboolean
asmctl_script_check_new_name (Script *s, const char *name, GError **error)
{
  Obj *o;

  if (!asmctl_script_valid_name (name))
    return asmctl_script_syntax (error,
                                 "'%s' is not a valid name (a letter or '_', "
                                 "then letters, digits, '_', '-' or '.')",
                                 name);
  if ((o = g_hash_table_lookup (s->objects, name)) != NULL)
    return asmctl_script_syntax (error, "'%s' is already %s (line %u)", name,
                                 obj_kind_names[o->kind], o->line);
  return TRUE;
}

Obj *
asmctl_script_obj_add (Script *s, const char *name, ObjKind kind)
{
  Obj *o = g_new0 (Obj, 1);

  o->name = g_strdup (name);
  o->kind = kind;
  o->line = s->line;
  g_ptr_array_add (s->order, o);
  g_hash_table_insert (s->objects, o->name, o);
  return o;
}

/* ------------------------------------------------------------------ */
/* Arguments                                                            */


gboolean
asmctl_script_has_flag (Args *a, const char *flag)
{
  for (guint i = 0; i < a->n_flags; i++)
    if (strcmp (a->flags_seen[i], flag) == 0)
      return TRUE;
  return FALSE;
}

const char *
asmctl_script_opt (Args *a, const char *key)
{
  for (guint i = 0; i < a->n_opts; i++)
    if (strcmp (a->opt_keys[i], key) == 0)
      return a->opt_values[i];
  return NULL;
}

/* NUMBER, or NUMBER+NUMBER-NUMBER... evaluated left to right ("1T-1") */
gboolean
asmctl_script_num (const char *what, const char *text, guint64 *out,
                   GError **error)
{
  const char *p = text;
  guint64 total = 0;
  char op = '+';

  *out = 0;
  for (;;)
    {
      const char *end = p + strcspn (p, "+-");
      g_autofree char *term = g_strndup (p, (gsize) (end - p));
      GError *local = NULL;
      guint64 v;

      if (!asmctl_parse_u64 (term, &v, &local))
        {
          asmctl_script_syntax (error, "%s: %s", what, local->message);
          g_error_free (local);
          return FALSE;
        }
      if (op == '+' ? v > G_MAXUINT64 - total : v > total)
        return asmctl_script_syntax (error, "%s: '%s' %s", what, text,
                                     op == '+' ? "does not fit in 64 bits"
                                               : "is below zero");
      total = op == '+' ? total + v : total - v;
      if (*end == '\0')
        break;
      op = *end;
      p = end + 1;
    }
  *out = total;
  return TRUE;
}

gboolean
asmctl_script_num32 (const char *what, const char *text, guint32 *out,
                     GError **error)
{
  guint64 v;

  *out = 0;
  if (!asmctl_script_num (what, text, &v, error))
    return FALSE;
  if (v > G_MAXUINT32)
    return asmctl_script_syntax (error, "%s: '%s' is above 0xffffffff", what,
                                 text);
  *out = (guint32) v;
  return TRUE;
}

gboolean
asmctl_script_opt_num (Args *a, const char *key, guint64 *inout, GError **error)
{
  const char *v = asmctl_script_opt (a, key);
  g_autofree char *what = g_strconcat (key, "=", NULL);

  return v == NULL || asmctl_script_num (what, v, inout, error);
}

gboolean
asmctl_script_opt_num32 (Args *a, const char *key, guint32 *inout,
                         GError **error)
{
  const char *v = asmctl_script_opt (a, key);
  g_autofree char *what = g_strconcat (key, "=", NULL);

  return v == NULL || asmctl_script_num32 (what, v, inout, error);
}

gboolean
asmctl_script_dbl (const char *what, const char *text, gdouble *out,
                   GError **error)
{
  char *end = NULL;
  gdouble v;

  errno = 0;
  v = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0' || errno != 0 || !isfinite (v))
    return asmctl_script_syntax (error,
                                 "%s: '%s' is not a finite decimal number",
                                 what, text);
  *out = v;
  return TRUE;
}

gboolean
asmctl_script_parse_first_last (Args *a, guint i, guint64 *first, guint64 *last,
                                GError **error)
{
  return asmctl_script_num ("FIRST", a->pos[i], first, error) &&
         asmctl_script_num ("LAST", a->pos[i + 1], last, error);
}

/* ------------------------------------------------------------------ */
/* Commands on any object, and the language's own                       */

static gboolean
obj_check (Obj *o, GError **error)
{
  switch (o->kind)
    {
    case OBJ_ARENA:
      return asm_arena_check (o->arena, error);
    case OBJ_SPACE:
      return asm_addr_space_check (o->space, error);
    case OBJ_PCI:
      return asm_pci_bus_set_check (o->pci, error);
    case OBJ_FABRIC:
      return asm_fabric_check (o->fabric, error);
    }
  return TRUE;
}

static gboolean
cmd_check (Script *s, Args *a, Obj *o, GError **error)
{
  if (o == NULL)
    {
      for (guint i = 0; i < s->order->len; i++)
        if (!obj_check (g_ptr_array_index (s->order, i), error))
          return FALSE;
      asmctl_script_emit (s, "check -> %u object%s ok", s->order->len,
                          s->order->len == 1 ? "" : "s");
      return TRUE;
    }
  if (!obj_check (o, error))
    return FALSE;
  asmctl_script_emit (s, "%s: check -> ok", o->name);
  return TRUE;
}

static gboolean
cmd_show (Script *s, Args *a, Obj *o, GError **error)
{
  switch (o->kind)
    {
    case OBJ_ARENA:
      return asmctl_script_cmd_walk (s, a, o, error);
    case OBJ_SPACE:
      return asmctl_script_cmd_space_list (s, a, o, error);
    case OBJ_PCI:
      asmctl_script_show_pci (s, o);
      return TRUE;
    case OBJ_FABRIC:
      asmctl_script_show_fabric (s, o);
      return TRUE;
    }
  return TRUE;
}

static gboolean
cmd_clone (Script *s, Args *a, Obj *o, GError **error)
{
  Obj *n;

  if (!asmctl_script_check_new_name (s, a->pos[1], error))
    return FALSE;
  switch (o->kind)
    {
    case OBJ_ARENA:
      n = asmctl_script_obj_add (s, a->pos[1], OBJ_ARENA);
      n->arena = asm_arena_clone (o->arena, a->pos[1]);
      break;
    case OBJ_SPACE:
      n = asmctl_script_obj_add (s, a->pos[1], OBJ_SPACE);
      n->space = asm_addr_space_clone (o->space, a->pos[1]);
      break;
    case OBJ_PCI:
      n = asmctl_script_pci_obj_new (s, a->pos[1]);
      n->pci = asm_pci_bus_set_clone (o->pci);
      g_array_append_vals (n->pci_indexes, o->pci_indexes->data,
                           o->pci_indexes->len);
      if (o->pci_grow)
        asmctl_script_pci_set_autogrow (n, TRUE, o->pci_grow_model,
                                        o->pci_grow_domain);
      break;
    case OBJ_FABRIC:
      return asmctl_script_fail (error, ASM_ERROR_UNSUPPORTED,
                                 "%s: a fabric cannot be cloned (save it, then "
                                 "load the file under another name)",
                                 o->name);
    }
  return TRUE;
}

static gboolean
cmd_echo (Script *s, Args *a, Obj *o, GError **error)
{
  asmctl_script_emit (s, "%s", a->rest);
  return TRUE;
}

static gboolean
cmd_expect (Script *s, Args *a, Obj *o, GError **error)
{
  int code = -1;

  if (strcmp (a->pos[0], "any") != 0)
    {
      for (code = 0; asm_error_code_to_string (code) != NULL; code++)
        if (strcmp (a->pos[0], asm_error_code_to_string (code)) == 0)
          break;
      if (asm_error_code_to_string (code) == NULL)
        return asmctl_script_syntax (error,
                                     "expect: '%s' is not an error code "
                                     "(invalid, no-space, in-use, not-found, "
                                     "held, backend, timeout, parse, "
                                     "unsupported, failed, or any)",
                                     a->pos[0]);
    }
  s->expect_pending = TRUE;
  s->expect_code = code;
  g_free (s->expect_name);
  s->expect_name = g_strdup (a->pos[0]);
  s->expect_line = s->line;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* The command table                                                    */

static const Command commands[] = {
  { "echo", K_NONE, 0, MANY, NULL, NULL, "echo TEXT", cmd_echo },
  { "expect", K_NONE, 1, 1, NULL, NULL, "expect CODE", cmd_expect },
  { "check", K_NONE, 0, 0, NULL, NULL, "check [NAME]", cmd_check },
  { "check", K_ANY, 1, 1, NULL, NULL, "check [NAME]", cmd_check },
  { "show", K_ANY, 1, 1, NULL, NULL, "show NAME", cmd_show },
  { "clone", K_ANY, 2, 2, NULL, NULL, "clone NAME NEW", cmd_clone },
};

static const guint n_commands = G_N_ELEMENTS (commands);

/* the parts of the table in the order resolve() reads them, which is the
 * order of a verb's entries: the first one gives the usage of an error */
static const struct {
  const Command *commands;
  const guint *n_commands;
} tables[] = {
  { commands, &n_commands },
  { asmctl_script_arena_addr_commands,
    &asmctl_script_arena_addr_n_commands },
  { asmctl_script_pci_commands, &asmctl_script_pci_n_commands },
  { asmctl_script_pci_fabric_commands,
    &asmctl_script_pci_fabric_n_commands },
};

static gboolean
word_in (const char *words, const char *word)
{
  gsize len = strlen (word);

  for (const char *p = words; p != NULL && *p;)
    {
      const char *end = strchr (p, ' ');
      gsize n = end ? (gsize) (end - p) : strlen (p);
      if (n == len && strncmp (p, word, n) == 0)
        return TRUE;
      p = end ? end + 1 : NULL;
    }
  return FALSE;
}

static gboolean
is_option (const char *token)
{
  const char *eq = strchr (token, '=');

  if (eq == NULL || eq == token)
    return FALSE;
  for (const char *p = token; p < eq; p++)
    if (!g_ascii_islower (*p) && *p != '-')
      return FALSE;
  return TRUE;
}

/* Which entry of the table runs this line, and on which object. */
static const Command *
resolve (Script *s, const char *verb, Args *a, Obj **out_obj, GError **error)
{
  const Command *cands[4];
  guint n = 0;
  Obj *o;
  GString *kinds;

  for (guint t = 0; t < G_N_ELEMENTS (tables); t++)
    for (guint i = 0; i < *tables[t].n_commands; i++)
      if (strcmp (tables[t].commands[i].verb, verb) == 0 &&
          n < G_N_ELEMENTS (cands))
        cands[n++] = &tables[t].commands[i];
  *out_obj = NULL;
  if (n == 0)
    {
      asmctl_script_syntax (error, "unknown command '%s'", verb);
      return NULL;
    }
  if (n == 1 && cands[0]->kind == K_NONE)
    return cands[0];
  if (a->n_pos == 0)
    {
      for (guint i = 0; i < n; i++)
        if (cands[i]->kind == K_NONE)
          return cands[i];
      asmctl_script_syntax (error, "usage: %s", cands[0]->usage);
      return NULL;
    }
  o = g_hash_table_lookup (s->objects, a->pos[0]);
  if (o == NULL)
    {
      asmctl_script_syntax (error, "%s: no object named '%s'", verb, a->pos[0]);
      return NULL;
    }
  for (guint i = 0; i < n; i++)
    if (cands[i]->kind == K_ANY || cands[i]->kind == (int) o->kind)
      {
        *out_obj = o;
        return cands[i];
      }
  kinds = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    if (cands[i]->kind >= 0)
      g_string_append_printf (kinds, "%s%s", kinds->len ? " or " : "",
                              obj_kind_names[cands[i]->kind]);
  asmctl_script_syntax (error, "%s: '%s' is %s, not %s", verb, a->pos[0],
                        obj_kind_names[o->kind], kinds->str);
  g_string_free (kinds, TRUE);
  return NULL;
}

/* The checks of the table: flags, counts and options. */
static gboolean
check_args (const Command *cmd, Args *a, GError **error)
{
  guint kept = 0;

  for (guint i = 0; i < a->n_pos; i++)
    {
      if (i >= cmd->min && word_in (cmd->flags, a->pos[i]))
        {
          for (guint k = 0; k < a->n_flags; k++)
            if (strcmp (a->flags_seen[k], a->pos[i]) == 0)
              return asmctl_script_syntax (error, "'%s' is given twice",
                                           a->pos[i]);
          if (a->n_flags < G_N_ELEMENTS (a->flags_seen))
            a->flags_seen[a->n_flags++] = a->pos[i];
          continue;
        }
      a->pos[kept++] = a->pos[i];
    }
  a->n_pos = kept;
  if (cmd->max != MANY && (a->n_pos < cmd->min || a->n_pos > cmd->max))
    return asmctl_script_syntax (error, "usage: %s", cmd->usage);
  for (guint i = 0; i < a->n_opts; i++)
    {
      if (!word_in (cmd->options, a->opt_keys[i]))
        return asmctl_script_syntax (error,
                                     "%s: unknown option '%s=' (usage: %s)",
                                     cmd->verb, a->opt_keys[i], cmd->usage);
      for (guint k = 0; k < i; k++)
        if (strcmp (a->opt_keys[k], a->opt_keys[i]) == 0)
          return asmctl_script_syntax (error, "option '%s=' is given twice",
                                       a->opt_keys[i]);
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Running                                                              */

typedef struct {
  int status;             /* ASMCTL_EXIT_* of the run so far */
  JsonObject *error;      /* --json: the first error */
} RunState;

/* FILE:LINE: message on stderr, with " (code)" after an operation's
 * message; --json also keeps the first error for the final document */
static void G_GNUC_PRINTF (5, 6)
report (Script *s, RunState *rs, const char *code, gboolean show_code,
        const char *format, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  fflush (stdout);
  if (show_code)
    fprintf (stderr, "%s:%u: %s (%s)\n", s->file, s->line, msg, code);
  else
    fprintf (stderr, "%s:%u: %s\n", s->file, s->line, msg);
  if (s->json && rs->error == NULL)
    {
      rs->error = json_object_new ();
      json_object_set_int_member (rs->error, "line", s->line);
      json_object_set_string_member (rs->error, "code", code);
      json_object_set_string_member (rs->error, "message", msg);
    }
}

static void
json_result (Script *s, const char *verb, const char *object,
             const char *expected)
{
  JsonObject *r;
  JsonArray *out;

  if (!s->json)
    return;
  r = json_object_new ();
  out = json_array_new ();
  json_object_set_int_member (r, "line", s->line);
  json_object_set_string_member (r, "command", verb);
  if (object != NULL)
    json_object_set_string_member (r, "object", object);
  for (guint i = 0; i < s->out_lines->len; i++)
    json_array_add_string_element (out, g_ptr_array_index (s->out_lines, i));
  json_object_set_array_member (r, "output", out);
  if (expected != NULL)
    json_object_set_string_member (r, "expected", expected);
  json_array_add_object_element (s->results, r);
  g_ptr_array_set_size (s->out_lines, 0);
}

/* --check-all: every object is consistent, and every simulated backend
 * matches its fabric, unless a crash was armed on it (a crash leaves the
 * hardware as the calls before it wrote it, on purpose) */
static gboolean
check_everything (Script *s, GError **error)
{
  for (guint i = 0; i < s->order->len; i++)
    {
      Obj *o = g_ptr_array_index (s->order, i);
      if (!obj_check (o, error))
        return FALSE;
      if (o->kind == OBJ_FABRIC && o->sim != NULL && !o->crash_armed &&
          !asm_sim_verify (o->sim, o->fabric, error))
        return FALSE;
    }
  return TRUE;
}

/* the object a command works on or creates, for --json */
static const char *
result_object (const Command *cmd, Args *a, Obj *o)
{
  if (o != NULL)
    return o->name;
  if (a->n_pos > 0 && (cmd->run == asmctl_script_cmd_arena ||
                       cmd->run == asmctl_script_cmd_space ||
                       cmd->run == asmctl_script_cmd_pci ||
                       cmd->run == asmctl_script_cmd_fabric ||
                       cmd->run == asmctl_script_cmd_load))
    return a->pos[0];
  return NULL;
}

/* Runs one line; returns ASMCTL_EXIT_OK, _FAILED or _INPUT. */
static int
run_line (Script *s, RunState *rs, char *line)
{
  g_autoptr (GPtrArray) pos = g_ptr_array_new ();
  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) values = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *normal = NULL;
  const Command *cmd;
  char *text, *verb, *p;
  Args a = { 0 };
  Obj *o = NULL;
  gboolean ok;

  /* a '#' that starts a word starts a comment */
  for (p = line; *p; p++)
    if (*p == '#' && (p == line || g_ascii_isspace (p[-1])))
      {
        *p = '\0';
        break;
      }
  text = g_strstrip (line);
  if (*text == '\0')
    return ASMCTL_EXIT_OK;
  if (s->trace)
    {
      fflush (stdout);
      fprintf (stderr, "%s:%u: + %s\n", s->file, s->line, text);
    }

  /* words */
  verb = text;
  for (p = text; *p && !g_ascii_isspace (*p); p++)
    ;
  if (*p)
    {
      *p++ = '\0';
      while (g_ascii_isspace (*p))
        p++;
    }
  a.verb = verb;
  normal = g_strdup (p);
  a.rest = normal;
  for (char *w = p; *w;)
    {
      char *start = w;
      while (*w && !g_ascii_isspace (*w))
        w++;
      if (*w)
        *w++ = '\0';
      while (g_ascii_isspace (*w))
        w++;
      if (is_option (start))
        {
          char *eq = strchr (start, '=');
          g_ptr_array_add (keys, g_strndup (start, (gsize) (eq - start)));
          g_ptr_array_add (values, eq + 1);
        }
      else
        g_ptr_array_add (pos, start);
    }
  a.pos = (char **) pos->pdata;
  a.n_pos = pos->len;
  a.opt_keys = (char **) keys->pdata;
  a.opt_values = (char **) values->pdata;
  a.n_opts = keys->len;

  if (strcmp (verb, "echo") == 0)
    cmd = &commands[0];
  else if ((cmd = resolve (s, verb, &a, &o, &error)) != NULL &&
           !check_args (cmd, &a, &error))
    cmd = NULL;
  if (cmd != NULL && cmd->run == cmd_expect && s->expect_pending)
    {
      asmctl_script_syntax (&error,
                            "expect follows the expect of line %u, with no "
                            "command between them",
                            s->expect_line);
      cmd = NULL;
    }
  if (cmd == NULL)
    {
      report (s, rs, "syntax", FALSE, "%s", error->message);
      return ASMCTL_EXIT_INPUT;
    }

  ok = cmd->run (s, &a, o, &error);

  if (!ok && error->domain == SCRIPT_ERROR)
    {
      report (s, rs, "syntax", FALSE, "%s", error->message);
      return ASMCTL_EXIT_INPUT;
    }
  if (s->expect_pending && cmd->run != cmd_expect)
    {
      s->expect_pending = FALSE;
      if (ok)
        {
          json_result (s, verb, result_object (cmd, &a, o), NULL);
          report (s, rs, "expect", FALSE, "expected %s (line %u), but the "
                  "command succeeded", s->expect_name, s->expect_line);
          return ASMCTL_EXIT_FAILED;
        }
      if (s->expect_code >= 0 &&
          strcmp (s->expect_name, asmctl_error_code_name (error)) != 0)
        {
          json_result (s, verb, result_object (cmd, &a, o), NULL);
          report (s, rs, "expect", FALSE,
                  "expected %s (line %u), got %s: %s", s->expect_name,
                  s->expect_line, asmctl_error_code_name (error),
                  error->message);
          return ASMCTL_EXIT_FAILED;
        }
      /* "NAME: verb args -> code (expected)", the arguments as written */
      {
        const char *first = a.n_pos ? a.pos[0] : NULL;
        const char *args = normal;
        if (first != NULL && g_str_has_prefix (normal, first))
          {
            args = normal + strlen (first);
            while (g_ascii_isspace (*args))
              args++;
          }
        if (first != NULL)
          asmctl_script_emit (s, "%s: %s%s%s -> %s (expected)", first, verb,
                              *args ? " " : "", args,
                              asmctl_error_code_name (error));
        else
          asmctl_script_emit (s, "%s%s%s -> %s (expected)", verb,
                              *args ? " " : "", args,
                              asmctl_error_code_name (error));
      }
      if (s->verbose)
        {
          fflush (stdout);
          fprintf (stderr, "%s:%u: expected error: %s\n", s->file, s->line,
                   error->message);
        }
      json_result (s, verb, result_object (cmd, &a, o),
                   asmctl_error_code_name (error));
      g_clear_error (&error);
    }
  else if (!ok)
    {
      json_result (s, verb, result_object (cmd, &a, o), NULL);
      report (s, rs, asmctl_error_code_name (error), TRUE, "%s",
              error->message);
      return ASMCTL_EXIT_FAILED;
    }
  else if (cmd->run != cmd_expect)
    json_result (s, verb, result_object (cmd, &a, o), NULL);

  if (s->check_all && cmd->run != cmd_expect && !check_everything (s, &error))
    {
      report (s, rs, asmctl_error_code_name (error), TRUE,
              "after this command: %s", error->message);
      return ASMCTL_EXIT_FAILED;
    }
  return ASMCTL_EXIT_OK;
}

static int
run_text (Script *s, RunState *rs, const char *text, gsize len)
{
  const char *p = text, *end = text + len;

  while (p < end)
    {
      const char *nl = memchr (p, '\n', (gsize) (end - p));
      gsize n = nl ? (gsize) (nl - p) : (gsize) (end - p);
      g_autofree char *line = NULL;
      int rc;

      s->line++;
      if (memchr (p, '\0', n) != NULL)
        {
          report (s, rs, "syntax", FALSE, "the line holds a NUL byte");
          return ASMCTL_EXIT_INPUT;
        }
      line = g_strndup (p, n);
      p = nl ? nl + 1 : end;
      rc = run_line (s, rs, line);
      if (rc == ASMCTL_EXIT_INPUT)
        return rc;
      if (rc != ASMCTL_EXIT_OK)
        {
          rs->status = rc;
          if (!s->keep_going)
            return rc;
        }
    }
  if (s->expect_pending)
    {
      s->line = s->expect_line;
      report (s, rs, "syntax", FALSE, "expect %s is the last command: "
              "nothing follows it", s->expect_name);
      return ASMCTL_EXIT_INPUT;
    }
  return rs->status;
}

static gboolean
read_input (const char *path, char **out, gsize *out_len, GError **error)
{
  FILE *f = strcmp (path, "-") == 0 ? stdin : fopen (path, "rb");
  GString *buf;
  char chunk[8192];
  size_t n;

  if (f == NULL)
    {
      int e = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e),
                   "cannot open %s: %s", path, g_strerror (e));
      return FALSE;
    }
  buf = g_string_new (NULL);
  while ((n = fread (chunk, 1, sizeof chunk, f)) > 0)
    g_string_append_len (buf, chunk, (gssize) n);
  if (ferror (f))
    {
      int e = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e),
                   "cannot read %s: %s", f == stdin ? "standard input" : path,
                   g_strerror (e));
      if (f != stdin)
        fclose (f);
      g_string_free (buf, TRUE);
      return FALSE;
    }
  if (f != stdin)
    fclose (f);
  *out_len = buf->len;
  *out = g_string_free (buf, FALSE);
  return TRUE;
}

static const char script_description[] =
  "The language (full reference: asmctl-script.md in the asm sources):\n"
  "one command per line; '#' starts a comment; numbers are decimal or\n"
  "0x-hex with an optional K, M, G or T suffix (binary units).\n"
  "\n"
  "  echo TEXT | expect CODE | check [NAME] | show NAME | clone NAME NEW\n"
  "  arena NAME QUANTUM          span|unspan|reserve ARENA FIRST LAST\n"
  "  alloc|find ARENA SIZE [align= phase= nocross= min= max= fit=]\n"
  "  free ARENA ADDR | move ARENA ADDR SIZE [...] | lookup ARENA ADDR\n"
  "  stats|walk ARENA | largest ARENA [min= max=]\n"
  "  space NAME BITS,BITS,...    pool|take-box SPACE BOX\n"
  "  take|release|probe SPACE TUPLE | take-any SPACE [BOX] | list SPACE\n"
  "  find-any SPACE [BOX] [whole=N]\n"
  "  pci NAME | controller PCI INDEX MODEL [ADDR | next [domain=D]]\n"
  "  reserve PCI ADDR FLAGS [config] [group=G]\n"
  "  reserve-slot PCI ADDR FLAGS [config]\n"
  "  reserve-next PCI FLAGS [group=G] | release|probe PCI ADDR | list PCI\n"
  "  hotplug PCI INDEX on|off | group PCI INDEX G [locked]\n"
  "  autogrow PCI MODEL [domain=D] | autogrow PCI off\n"
  "  fabric NAME FIRST LAST GRANULE [window=SIZE] | load NAME FILE\n"
  "  reserve FABRIC FIRST LAST | window FABRIC SWITCH FIRST LAST\n"
  "  switch FABRIC NAME [bw= latency= table= ports=] [pinned]\n"
  "  device FABRIC NAME SWITCH PORT BAR [pf] | sriov FABRIC PF MAXVFS VFBAR\n"
  "  vf FABRIC PF | workload FABRIC NAME\n"
  "  partition FABRIC NAME WORKLOAD SIZE [align= min-bw= max-latency=\n"
  "    prefer= demand=] | map FABRIC PARTITION DEVICE\n"
  "  translate FABRIC WORKLOAD VIRT|PARTITION[+OFFSET]\n"
  "  migrate FABRIC PARTITION [SWITCH] | grow FABRIC PARTITION SIZE\n"
  "  release-partition FABRIC PARTITION | transfer-vf FABRIC VF PF\n"
  "  unmap FABRIC PARTITION DEVICE | shrink FABRIC PARTITION SIZE\n"
  "  destroy-vf FABRIC VF | remove-device FABRIC DEVICE\n"
  "  drain FABRIC SWITCH | remove-switch FABRIC SWITCH | root-map FABRIC\n"
  "  end-workload FABRIC WORKLOAD | migrate-workload FABRIC WORKLOAD [SWITCH]\n"
  "  usage FABRIC WORKLOAD TIME BYTES | sample FABRIC TIME\n"
  "  predict FABRIC WORKLOAD HORIZON | rebalance FABRIC HORIZON\n"
  "  save FABRIC FILE|-\n"
  "  fail FABRIC call N | fail FABRIC kind KIND [off] | crash FABRIC N\n"
  "  clear FABRIC | calls FABRIC | verify FABRIC\n"
  "\n"
  "Exit status: 0 success; 1 an operation failed that no expect announced,\n"
  "or an expect did not hold; 2 a bad command line; 3 a script error\n"
  "(syntax, unknown command or name) or an unreadable FILE.";

int
asmctl_cmd_script (int argc, char **argv)
{
  gboolean json = FALSE, keep_going = FALSE, check_all = FALSE;
  gboolean verbose = FALSE, trace = FALSE;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  gsize len;
  Script s = { 0 };
  RunState rs = { ASMCTL_EXIT_OK, NULL };
  int rc;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      "Print one JSON document: every command's output, and the error", NULL },
    { "keep-going", 'k', 0, G_OPTION_ARG_NONE, &keep_going,
      "Go on after a failed operation (exit 1 at the end)", NULL },
    { "check-all", 'c', 0, G_OPTION_ARG_NONE, &check_all,
      "Check every object after every command (and verify simulated "
      "hardware)", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      "Print the message of each expected error on stderr", NULL },
    { "trace", 'x', 0, G_OPTION_ARG_NONE, &trace,
      "Print each command on stderr before running it", NULL },
    { NULL }
  };

  ctx = g_option_context_new ("FILE|- - run a script of asm operations");
  g_option_context_set_summary (
      ctx, "Runs a line-oriented script over arenas, address spaces, PCI bus "
           "sets and\nfabrics (simulated backend) and prints one line per "
           "result; '-' reads\nstandard input.  The output is deterministic: "
           "a script with its output is\na test or a bug report.");
  g_option_context_set_description (ctx, script_description);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "asmctl script: %s\n", error->message);
      return ASMCTL_EXIT_USAGE;
    }
  if (argc != 2)
    {
      fprintf (stderr, "asmctl script: %s (see asmctl script --help)\n",
               argc < 2 ? "which script? give FILE, or - for standard input"
                        : "give one FILE only");
      return ASMCTL_EXIT_USAGE;
    }
  if (!read_input (argv[1], &text, &len, &error))
    {
      fprintf (stderr, "asmctl script: %s\n", error->message);
      return ASMCTL_EXIT_INPUT;
    }

  s.file = strcmp (argv[1], "-") == 0 ? "<stdin>" : argv[1];
  s.objects = g_hash_table_new (g_str_hash, g_str_equal);
  s.order = g_ptr_array_new_with_free_func ((GDestroyNotify) obj_free);
  s.json = json;
  s.keep_going = keep_going;
  s.check_all = check_all;
  s.verbose = verbose;
  s.trace = trace;
  s.out_lines = g_ptr_array_new_with_free_func (g_free);
  s.results = json_array_new ();

  rc = run_text (&s, &rs, text, len);

  if (json)
    {
      g_autoptr (JsonGenerator) gen = json_generator_new ();
      JsonObject *top = json_object_new ();
      JsonNode *root = json_node_new (JSON_NODE_OBJECT);
      g_autofree char *out = NULL;

      json_object_set_string_member (top, "file", s.file);
      json_object_set_string_member (top, "status",
                                     rc == ASMCTL_EXIT_OK ? "ok"
                                     : rc == ASMCTL_EXIT_INPUT ? "script-error"
                                                               : "failed");
      json_object_set_int_member (top, "exit_code", rc);
      json_object_set_array_member (top, "results",
                                    json_array_ref (s.results));
      if (rs.error != NULL)
        json_object_set_object_member (top, "error", rs.error);
      json_node_take_object (root, top);
      json_generator_set_root (gen, root);
      json_generator_set_pretty (gen, TRUE);
      out = json_generator_to_data (gen, NULL);
      printf ("%s\n", out);
      json_node_unref (root);
    }
  else if (rs.error != NULL)
    json_object_unref (rs.error);

  /* objects go before the tables that point at them */
  g_ptr_array_unref (s.order);
  g_hash_table_unref (s.objects);
  g_ptr_array_unref (s.out_lines);
  json_array_unref (s.results);
  g_free (s.expect_name);
  return rc;
}
