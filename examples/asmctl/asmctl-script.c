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
 * Structure: the command table at the end maps (verb, kind of the first
 * argument) to a handler and its argument rules; run_line() splits a line,
 * finds the entry, checks the counts, bare-word flags and key=value
 * options, runs the handler and settles `expect`.  Handlers parse every
 * argument before they change anything, and print only after success.
 */
#include "asmctl.h"

#include <json-glib/json-glib.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HEX "0x%" G_GINT64_MODIFIER "x"

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

static gboolean G_GNUC_PRINTF (2, 3)
syntax (GError **error, const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  g_propagate_error (error, g_error_new_valist (SCRIPT_ERROR,
                                                SCRIPT_ERROR_SYNTAX, format,
                                                ap));
  va_end (ap);
  return FALSE;
}

static gboolean G_GNUC_PRINTF (3, 4)
fail (GError **error, AsmError code, const char *format, ...)
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
 *   T (binary units: 2^10, 2^20, 2^30, 2^40)
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
 * @text: "lowest", "highest", "best" or "next"
 * @out: (out): the policy
 * @error: return location for a #GError (%ASM_ERROR_PARSE)
 *
 * Returns: %TRUE on success
 */
gboolean
asmctl_parse_fit (const char *text, AsmFit *out, GError **error)
{
  static const char *const names[] = { "lowest", "highest", "best", "next" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (strcmp (text, names[i]) == 0)
      {
        *out = (AsmFit) i;
        return TRUE;
      }
  g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
               "'%s' is not a fit (lowest, highest, best or next)", text);
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

typedef enum {
  OBJ_ARENA,
  OBJ_SPACE,
  OBJ_PCI,
  OBJ_FABRIC,
} ObjKind;

static const char *const obj_kind_names[] = {
  [OBJ_ARENA] = "an arena",
  [OBJ_SPACE] = "an address space",
  [OBJ_PCI] = "a PCI bus set",
  [OBJ_FABRIC] = "a fabric",
};

typedef struct {
  char *name;
  ObjKind kind;
  guint line;                  /* where it was created */

  AsmArena *arena;

  AsmAddrSpace *space;

  AsmPciBusSet *pci;
  GArray *pci_indexes;         /* guint32, sorted: the controllers added */
  gboolean pci_grow;           /* autogrow is on */
  AsmPciControllerModel pci_grow_model;
  guint32 pci_grow_domain;
  GString *pci_grown;          /* what the grow callback added, this call */

  AsmFabric *fabric;
  AsmBackend *sim;             /* NULL for a fabric from `load` */
  gboolean crash_armed;        /* `crash` was used: the hardware may lag */
  GHashTable *workloads;       /* name -> id */
  GHashTable *workload_names;  /* id -> name */
  GHashTable *partitions;      /* name -> id */
  GHashTable *partition_names; /* id -> name */
} Obj;

typedef struct {
  const char *file;            /* as shown in messages */
  guint line;
  GHashTable *objects;         /* name -> Obj (borrowed from order) */
  GPtrArray *order;            /* every Obj, in creation order */

  gboolean expect_pending;
  int expect_code;             /* an AsmError, or -1 for "any" */
  char *expect_name;
  guint expect_line;

  gboolean json, keep_going, check_all, verbose, trace;
  GPtrArray *out_lines;        /* --json: the current command's output */
  JsonArray *results;          /* --json: one object per command */
} Script;

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
  g_free (o);
}

static void G_GNUC_PRINTF (2, 3)
emit (Script *s, const char *format, ...)
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

/* A name of the language: a letter or '_' first, then letters, digits and
 * '_', '-', '.'.  Names never start with a digit, so that a number in
 * their place is an id (fabric objects). */
static gboolean
valid_name (const char *name)
{
  if (!g_ascii_isalpha (name[0]) && name[0] != '_')
    return FALSE;
  for (const char *p = name + 1; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-' && *p != '.')
      return FALSE;
  return TRUE;
}

static gboolean
check_new_name (Script *s, const char *name, GError **error)
{
  Obj *o;

  if (!valid_name (name))
    return syntax (error, "'%s' is not a valid name (a letter or '_', then "
                   "letters, digits, '_', '-' or '.')", name);
  if ((o = g_hash_table_lookup (s->objects, name)) != NULL)
    return syntax (error, "'%s' is already %s (line %u)", name,
                   obj_kind_names[o->kind], o->line);
  return TRUE;
}

static Obj *
obj_add (Script *s, const char *name, ObjKind kind)
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

typedef struct {
  const char *verb;
  char **pos;                  /* positional arguments after the verb */
  guint n_pos;
  char **opt_keys;             /* key=value options */
  char **opt_values;
  guint n_opts;
  const char *rest;            /* the raw text after the verb */
  const char *flags_seen[4];   /* bare-word flags that were given */
  guint n_flags;
} Args;

static gboolean
has_flag (Args *a, const char *flag)
{
  for (guint i = 0; i < a->n_flags; i++)
    if (strcmp (a->flags_seen[i], flag) == 0)
      return TRUE;
  return FALSE;
}

static const char *
opt (Args *a, const char *key)
{
  for (guint i = 0; i < a->n_opts; i++)
    if (strcmp (a->opt_keys[i], key) == 0)
      return a->opt_values[i];
  return NULL;
}

/* NUMBER, or NUMBER+NUMBER-NUMBER... evaluated left to right ("1T-1") */
static gboolean
num (const char *what, const char *text, guint64 *out, GError **error)
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
          syntax (error, "%s: %s", what, local->message);
          g_error_free (local);
          return FALSE;
        }
      if (op == '+' ? v > G_MAXUINT64 - total : v > total)
        return syntax (error, "%s: '%s' %s", what, text,
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

static gboolean
num32 (const char *what, const char *text, guint32 *out, GError **error)
{
  guint64 v;

  *out = 0;
  if (!num (what, text, &v, error))
    return FALSE;
  if (v > G_MAXUINT32)
    return syntax (error, "%s: '%s' is above 0xffffffff", what, text);
  *out = (guint32) v;
  return TRUE;
}

static gboolean
opt_num (Args *a, const char *key, guint64 *inout, GError **error)
{
  const char *v = opt (a, key);
  g_autofree char *what = g_strconcat (key, "=", NULL);

  return v == NULL || num (what, v, inout, error);
}

static gboolean
opt_num32 (Args *a, const char *key, guint32 *inout, GError **error)
{
  const char *v = opt (a, key);
  g_autofree char *what = g_strconcat (key, "=", NULL);

  return v == NULL || num32 (what, v, inout, error);
}

static gboolean
dbl (const char *what, const char *text, gdouble *out, GError **error)
{
  char *end = NULL;
  gdouble v;

  errno = 0;
  v = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0' || errno != 0 || !isfinite (v))
    return syntax (error, "%s: '%s' is not a finite decimal number", what,
                   text);
  *out = v;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Arenas                                                               */

/* The constraints of alloc, find and move: every key=value option. */
static gboolean
parse_request (Args *a, guint64 size, AsmRequest *req, GError **error)
{
  const char *fit = opt (a, "fit");

  *req = ASM_REQUEST_INIT (size);
  if (!opt_num (a, "align", &req->align, error) ||
      !opt_num (a, "phase", &req->phase, error) ||
      !opt_num (a, "nocross", &req->nocross, error) ||
      !opt_num (a, "min", &req->min, error) ||
      !opt_num (a, "max", &req->max, error))
    return FALSE;
  if (fit != NULL)
    {
      GError *local = NULL;
      if (!asmctl_parse_fit (fit, &req->fit, &local))
        {
          syntax (error, "fit=: %s", local->message);
          g_error_free (local);
          return FALSE;
        }
    }
  return TRUE;
}

/* "0x2000 align=0x10000 fit=highest": the size and the constraints given */
static char *
format_request (Args *a, const AsmRequest *req)
{
  GString *str = g_string_new (NULL);

  g_string_append_printf (str, HEX, req->size);
  if (opt (a, "align"))
    g_string_append_printf (str, " align=" HEX, req->align);
  if (opt (a, "phase"))
    g_string_append_printf (str, " phase=" HEX, req->phase);
  if (opt (a, "nocross"))
    g_string_append_printf (str, " nocross=" HEX, req->nocross);
  if (opt (a, "min"))
    g_string_append_printf (str, " min=" HEX, req->min);
  if (opt (a, "max"))
    g_string_append_printf (str, " max=" HEX, req->max);
  if (opt (a, "fit"))
    g_string_append_printf (str, " fit=%s", asmctl_fit_name (req->fit));
  return g_string_free (str, FALSE);
}

static gboolean
cmd_arena (Script *s, Args *a, Obj *unused, GError **error)
{
  guint64 quantum;
  Obj *o;

  if (!check_new_name (s, a->pos[0], error) ||
      !num ("QUANTUM", a->pos[1], &quantum, error))
    return FALSE;
  if (quantum == 0 || (quantum & (quantum - 1)) != 0)
    return fail (error, ASM_ERROR_INVALID,
                 "%s: quantum " HEX " is not a power of two", a->pos[0],
                 quantum);
  o = obj_add (s, a->pos[0], OBJ_ARENA);
  o->arena = asm_arena_new (a->pos[0], quantum);
  return TRUE;
}

static gboolean
parse_first_last (Args *a, guint i, guint64 *first, guint64 *last,
                  GError **error)
{
  return num ("FIRST", a->pos[i], first, error) &&
         num ("LAST", a->pos[i + 1], last, error);
}

static gboolean
cmd_span (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 first, last;

  return parse_first_last (a, 1, &first, &last, error) &&
         asm_arena_add_span (o->arena, first, last, error);
}

static gboolean
cmd_unspan (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 first, last;

  return parse_first_last (a, 1, &first, &last, error) &&
         asm_arena_remove_span (o->arena, first, last, error);
}

static gboolean
cmd_arena_reserve (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 first, last;

  return parse_first_last (a, 1, &first, &last, error) &&
         asm_arena_reserve (o->arena, first, last, error);
}

static gboolean
cmd_alloc (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 size, addr;
  AsmRequest req;
  g_autofree char *what = NULL;
  gboolean find = strcmp (a->verb, "find") == 0;

  if (!num ("SIZE", a->pos[1], &size, error) ||
      !parse_request (a, size, &req, error))
    return FALSE;
  if (find ? !asm_arena_find_free (o->arena, &req, &addr, error)
           : !asm_arena_alloc_full (o->arena, &req, &addr, error))
    return FALSE;
  what = format_request (a, &req);
  emit (s, "%s: %s %s -> " HEX, o->name, a->verb, what, addr);
  return TRUE;
}

static gboolean
cmd_free (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 addr;

  return num ("ADDR", a->pos[1], &addr, error) &&
         asm_arena_free (o->arena, addr, error);
}

static gboolean
cmd_move (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 addr, size, out;
  AsmRequest req;
  g_autofree char *what = NULL;

  if (!num ("ADDR", a->pos[1], &addr, error) ||
      !num ("SIZE", a->pos[2], &size, error) ||
      !parse_request (a, size, &req, error) ||
      !asm_arena_move (o->arena, addr, &req, &out, error))
    return FALSE;
  what = format_request (a, &req);
  emit (s, "%s: move " HEX " %s -> " HEX, o->name, addr, what, out);
  return TRUE;
}

static gboolean
cmd_lookup (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 addr;
  AsmRange seg;
  AsmSegmentKind kind;

  if (!num ("ADDR", a->pos[1], &addr, error))
    return FALSE;
  if (asm_arena_lookup_full (o->arena, addr, &seg, &kind))
    emit (s, "%s: lookup " HEX " -> %s " HEX "-" HEX, o->name, addr,
          asmctl_segment_kind_name (kind), seg.first, seg.last);
  else
    emit (s, "%s: lookup " HEX " -> outside every span", o->name, addr);
  return TRUE;
}

static gboolean
cmd_stats (Script *s, Args *a, Obj *o, GError **error)
{
  AsmArenaStats st;

  asm_arena_get_stats (o->arena, &st);
  emit (s, "%s: stats -> spans=%" G_GUINT64_FORMAT " span-units=" HEX
        " allocated=%" G_GUINT64_FORMAT " allocated-units=" HEX
        " reserved=%" G_GUINT64_FORMAT " reserved-units=" HEX
        " free-units=" HEX " free-segments=%" G_GUINT64_FORMAT
        " largest-free=" HEX,
        o->name, st.n_spans, st.span_units, st.n_allocated,
        st.allocated_units, st.n_reserved, st.reserved_units, st.free_units,
        st.n_free_segments, st.largest_free);
  return TRUE;
}

static gboolean
collect_segment (const AsmRange *seg, AsmSegmentKind kind, gpointer user_data)
{
  GPtrArray *lines = user_data;

  g_ptr_array_add (lines, g_strdup_printf ("  " HEX "-" HEX " %s", seg->first,
                                           seg->last,
                                           asmctl_segment_kind_name (kind)));
  return TRUE;
}

static void
emit_lines (Script *s, GPtrArray *lines)
{
  for (guint i = 0; i < lines->len; i++)
    emit (s, "%s", (const char *) g_ptr_array_index (lines, i));
}

static gboolean
cmd_walk (Script *s, Args *a, Obj *o, GError **error)
{
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);

  asm_arena_walk (o->arena, collect_segment, lines);
  emit (s, "%s: %s -> %u segment%s", o->name, a->verb, lines->len,
        lines->len == 1 ? "" : "s");
  emit_lines (s, lines);
  return TRUE;
}

static gboolean
cmd_largest (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 min = 0, max = G_MAXUINT64;

  if (!opt_num (a, "min", &min, error) || !opt_num (a, "max", &max, error))
    return FALSE;
  emit (s, "%s: largest " HEX "-" HEX " -> " HEX, o->name, min, max,
        asm_arena_largest_free_within (o->arena, min, max));
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Address spaces                                                       */

static gboolean
cmd_space (Script *s, Args *a, Obj *unused, GError **error)
{
  g_auto (GStrv) parts = NULL;
  guint8 bits[ASM_ADDR_MAX_DIMS];
  guint n;
  AsmAddrSpace *space;
  Obj *o;

  if (!check_new_name (s, a->pos[0], error))
    return FALSE;
  parts = g_strsplit (a->pos[1], ",", -1);
  n = g_strv_length (parts);
  for (guint d = 0; d < n; d++)
    {
      guint64 v;
      if (!num ("BITS", parts[d], &v, error))
        return FALSE;
      if (d < ASM_ADDR_MAX_DIMS)
        {
          if (v < 1 || v > 64)
            return fail (error, ASM_ERROR_INVALID,
                         "%s: dimension %u is %" G_GUINT64_FORMAT " bits "
                         "wide, out of range 1..64", a->pos[0], d, v);
          bits[d] = (guint8) v;
        }
    }
  if (n > ASM_ADDR_MAX_DIMS)
    return fail (error, ASM_ERROR_INVALID,
                 "%s: %u dimensions is out of range 1..%u", a->pos[0], n,
                 ASM_ADDR_MAX_DIMS);
  space = asm_addr_space_new (a->pos[0], n, bits, error);
  if (space == NULL)
    return FALSE;
  o = obj_add (s, a->pos[0], OBJ_SPACE);
  o->space = space;
  return TRUE;
}

/* A box: one item per dimension, separated by ':' or '.'; an item is a
 * number, FIRST..LAST, or '*' (the whole dimension); a lone '*' is the
 * whole space.  A tuple is a box with one number per dimension. */
static gboolean
parse_box (Obj *o, const char *text, gboolean tuple, AsmRange *box,
           GError **error)
{
  guint n_dims = asm_addr_space_get_n_dims (o->space);
  const char *what = tuple ? "tuple" : "box";
  const char *p = text;
  guint d = 0;

  if (!tuple && strcmp (text, "*") == 0)
    {
      /* a lone '*': the whole space */
      for (d = 0; d < n_dims; d++)
        {
          guint bits = asm_addr_space_get_dim_bits (o->space, d);
          box[d] = ASM_RANGE (0, bits == 64 ? G_MAXUINT64
                                            : (G_GUINT64_CONSTANT (1) << bits)
                                                  - 1);
        }
      return TRUE;
    }
  for (;;)
    {
      guint64 v[2];

      if (d == n_dims)
        return syntax (error, "%s '%s' has more than the %u dimensions of "
                       "%s", what, text, n_dims, o->name);
      if (*p == '*')
        {
          guint bits = asm_addr_space_get_dim_bits (o->space, d);
          if (tuple)
            return syntax (error, "tuple '%s': '*' stands for many values; "
                           "a tuple has one per dimension", text);
          v[0] = 0;
          v[1] = bits == 64 ? G_MAXUINT64
                            : (G_GUINT64_CONSTANT (1) << bits) - 1;
          p++;
        }
      else
        {
          for (guint k = 0; k < 2; k++)
            {
              const char *start = p;
              g_autofree char *item = NULL;
              while (g_ascii_isalnum (*p))
                p++;
              item = g_strndup (start, (gsize) (p - start));
              if (!num (what, item, &v[k], error))
                return FALSE;
              if (k == 0 && p[0] == '.' && p[1] == '.')
                {
                  if (tuple)
                    return syntax (error, "tuple '%s': a range; a tuple has "
                                   "one value per dimension", text);
                  p += 2;
                  continue;
                }
              if (k == 0)
                v[1] = v[0];
              break;
            }
        }
      box[d++] = ASM_RANGE (v[0], v[1]);
      if (*p == '\0')
        break;
      if (*p != ':' && *p != '.')
        return syntax (error, "%s '%s': unexpected '%c' (items are "
                       "separated by ':' or '.')", what, text, *p);
      p++;
    }
  if (d != n_dims)
    return syntax (error, "%s '%s' has %u dimension%s, %s has %u", what, text,
                   d, d == 1 ? "" : "s", o->name, n_dims);
  return TRUE;
}

static gboolean
parse_tuple (Obj *o, const char *text, guint64 *tuple, GError **error)
{
  AsmRange box[ASM_ADDR_MAX_DIMS];
  guint n = asm_addr_space_get_n_dims (o->space);

  if (!parse_box (o, text, TRUE, box, error))
    return FALSE;
  for (guint d = 0; d < n; d++)
    tuple[d] = box[d].first;
  return TRUE;
}

static gboolean
cmd_pool (Script *s, Args *a, Obj *o, GError **error)
{
  AsmRange box[ASM_ADDR_MAX_DIMS];

  return parse_box (o, a->pos[1], FALSE, box, error) &&
         asm_addr_space_add_pool (o->space, box, error);
}

static gboolean
cmd_take (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 t[ASM_ADDR_MAX_DIMS];

  return parse_tuple (o, a->pos[1], t, error) &&
         asm_addr_space_reserve (o->space, t, error);
}

static gboolean
cmd_take_box (Script *s, Args *a, Obj *o, GError **error)
{
  AsmRange box[ASM_ADDR_MAX_DIMS];

  return parse_box (o, a->pos[1], FALSE, box, error) &&
         asm_addr_space_reserve_box (o->space, box, error);
}

/* take-any and find-any */
static gboolean
cmd_take_any (Script *s, Args *a, Obj *o, GError **error)
{
  AsmRange box[ASM_ADDR_MAX_DIMS];
  guint64 t[ASM_ADDR_MAX_DIMS];
  guint64 whole = 0;
  gboolean find = strcmp (a->verb, "find-any") == 0;
  g_autofree char *text = NULL;

  if (a->n_pos > 1 && !parse_box (o, a->pos[1], FALSE, box, error))
    return FALSE;
  if (find && !opt_num (a, "whole", &whole, error))
    return FALSE;
  if (whole > asm_addr_space_get_n_dims (o->space))
    return fail (error, ASM_ERROR_INVALID,
                 "%s: whole=%" G_GUINT64_FORMAT " is more than %u dimensions",
                 o->name, whole, asm_addr_space_get_n_dims (o->space));
  if (find ? !asm_addr_space_find_free (o->space, a->n_pos > 1 ? box : NULL,
                                        (guint) whole, t, error)
           : !asm_addr_space_reserve_any (o->space, a->n_pos > 1 ? box : NULL,
                                          t, error))
    return FALSE;
  text = asm_addr_space_format (o->space, t);
  if (opt (a, "whole") != NULL)
    emit (s, "%s: %s%s%s whole=%" G_GUINT64_FORMAT " -> %s", o->name,
          a->verb, a->n_pos > 1 ? " " : "", a->n_pos > 1 ? a->pos[1] : "",
          whole, text);
  else
    emit (s, "%s: %s%s%s -> %s", o->name, a->verb, a->n_pos > 1 ? " " : "",
          a->n_pos > 1 ? a->pos[1] : "", text);
  return TRUE;
}

static gboolean
cmd_space_release (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 t[ASM_ADDR_MAX_DIMS];

  return parse_tuple (o, a->pos[1], t, error) &&
         asm_addr_space_release (o->space, t, error);
}

static gboolean
collect_tuple (const guint64 *addr, gpointer user_data)
{
  gpointer *data = user_data;
  g_autofree char *text = asm_addr_space_format (data[0], addr);

  g_ptr_array_add (data[1], g_strdup_printf ("  %s", text));
  return TRUE;
}

static gboolean
cmd_space_list (Script *s, Args *a, Obj *o, GError **error)
{
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  gpointer data[2] = { o->space, lines };

  asm_addr_space_foreach_reserved (o->space, collect_tuple, data);
  emit (s, "%s: %s -> %" G_GUINT64_FORMAT " reserved", o->name, a->verb,
        asm_addr_space_get_n_reserved (o->space));
  emit_lines (s, lines);
  return TRUE;
}

static gboolean
cmd_space_probe (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 t[ASM_ADDR_MAX_DIMS];
  g_autofree char *text = NULL;
  const char *state;

  if (!parse_tuple (o, a->pos[1], t, error))
    return FALSE;
  if (!asm_addr_space_is_pooled (o->space, t))
    state = "not pooled";
  else if (asm_addr_space_is_free (o->space, t))
    state = "free";
  else
    state = "reserved";
  text = asm_addr_space_format (o->space, t);
  emit (s, "%s: probe %s -> %s", o->name, text, state);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* PCI bus sets                                                         */

static const struct {
  const char *name;
  const char *alias;
  AsmPciConnectFlags bit;
} pci_flag_names[] = {
  { "pci-device", NULL, ASM_PCI_CONNECT_TYPE_PCI_DEVICE },
  { "pcie-device", NULL, ASM_PCI_CONNECT_TYPE_PCIE_DEVICE },
  { "pcie-root-port", NULL, ASM_PCI_CONNECT_TYPE_PCIE_ROOT_PORT },
  { "pcie-switch-upstream-port", NULL,
    ASM_PCI_CONNECT_TYPE_PCIE_SWITCH_UPSTREAM_PORT },
  { "pcie-switch-downstream-port", NULL,
    ASM_PCI_CONNECT_TYPE_PCIE_SWITCH_DOWNSTREAM_PORT },
  { "dmi-to-pci-bridge", NULL, ASM_PCI_CONNECT_TYPE_DMI_TO_PCI_BRIDGE },
  { "pci-expander-bus", NULL, ASM_PCI_CONNECT_TYPE_PCI_EXPANDER_BUS },
  { "pcie-expander-bus", NULL, ASM_PCI_CONNECT_TYPE_PCIE_EXPANDER_BUS },
  { "pci-bridge", NULL, ASM_PCI_CONNECT_TYPE_PCI_BRIDGE },
  { "pcie-to-pci-bridge", NULL, ASM_PCI_CONNECT_TYPE_PCIE_TO_PCI_BRIDGE },
  { "auto", "autoassign", ASM_PCI_CONNECT_AUTOASSIGN },
  { "hotplug", "hotpluggable", ASM_PCI_CONNECT_HOTPLUGGABLE },
  { "integrated", NULL, ASM_PCI_CONNECT_INTEGRATED },
  { "aggregate", "aggregate-slot", ASM_PCI_CONNECT_AGGREGATE_SLOT },
};

/* FLAGS: names joined by ',' ("pcie-device,auto,hotplug") */
static gboolean
parse_pci_flags (const char *text, AsmPciConnectFlags *out, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  AsmPciConnectFlags flags = 0;

  for (guint i = 0; parts[i] != NULL; i++)
    {
      guint k;
      for (k = 0; k < G_N_ELEMENTS (pci_flag_names); k++)
        if (strcmp (parts[i], pci_flag_names[k].name) == 0 ||
            (pci_flag_names[k].alias != NULL &&
             strcmp (parts[i], pci_flag_names[k].alias) == 0))
          break;
      if (k == G_N_ELEMENTS (pci_flag_names))
        return syntax (error, "FLAGS: '%s' is not a PCI connect flag (a "
                       "device type such as pci-device, pcie-device, "
                       "pcie-root-port, pci-bridge, ..., or auto, hotplug, "
                       "integrated, aggregate)", parts[i]);
      flags |= pci_flag_names[k].bit;
    }
  *out = flags;
  return TRUE;
}

static gboolean
parse_pci_addr (const char *text, AsmPciAddr *out, GError **error)
{
  GError *local = NULL;

  if (!asm_pci_addr_parse (text, out, &local))
    {
      syntax (error, "%s", local->message);
      g_error_free (local);
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_pci_model (const char *text, AsmPciControllerModel *out, GError **error)
{
  GError *local = NULL;

  if (!asm_pci_controller_model_from_string (text, out, &local))
    {
      syntax (error, "MODEL: %s (pci-root, pcie-root, pci-bridge, "
              "dmi-to-pci-bridge, pcie-root-port, pcie-switch-upstream-port, "
              "pcie-switch-downstream-port, pci-expander-bus, "
              "pcie-expander-bus or pcie-to-pci-bridge)", local->message);
      g_error_free (local);
      return FALSE;
    }
  return TRUE;
}

static void
pci_track (Obj *o, guint32 index)
{
  guint i = 0;

  while (i < o->pci_indexes->len &&
         g_array_index (o->pci_indexes, guint32, i) < index)
    i++;
  if (i < o->pci_indexes->len &&
      g_array_index (o->pci_indexes, guint32, i) == index)
    return;
  g_array_insert_val (o->pci_indexes, i, index);
}

/* forget the controllers that a rolled-back growth added */
static void
pci_untrack_missing (Obj *o)
{
  for (guint i = o->pci_indexes->len; i-- > 0;)
    if (!asm_pci_bus_set_get_controller (
            o->pci, g_array_index (o->pci_indexes, guint32, i), NULL))
      g_array_remove_index (o->pci_indexes, i);
}

static char *
format_pci (const AsmPciAddr *addr)
{
  return asm_pci_addr_format (addr);
}

/* "pci.1, bus 0000:01" */
static char *
describe_bus (Obj *o, guint32 index)
{
  AsmPciControllerInfo info;
  g_autofree char *name = asm_pci_bus_set_get_controller_name (o->pci, index);

  ASMCTL_MUST (asm_pci_bus_set_get_controller (o->pci, index, &info));
  return g_strdup_printf ("%s, bus %04x:%02x", name, info.domain, info.bus);
}

static gboolean
pci_grow_cb (AsmPciBusSet *set, AsmPciConnectFlags flags, gpointer user_data,
             GError **error)
{
  Obj *o = user_data;
  guint32 index = 0;
  AsmPciAddr at;
  g_autofree char *where = NULL;

  if (o->pci_indexes->len > 0)
    index = g_array_index (o->pci_indexes, guint32, o->pci_indexes->len - 1);
  if (index == G_MAXUINT32)
    return fail (error, ASM_ERROR_NO_SPACE, "no controller index is left");
  index++;
  if (!asm_pci_bus_set_add_controller_next (set, index, o->pci_grow_model,
                                            o->pci_grow_domain, &at, error))
    return FALSE;
  pci_track (o, index);
  where = format_pci (&at);
  g_string_append_printf (
      o->pci_grown, ", added controller %u %s at %s", index,
      asm_pci_controller_model_to_string (o->pci_grow_model), where);
  return TRUE;
}

static Obj *
pci_obj_new (Script *s, const char *name)
{
  Obj *o = obj_add (s, name, OBJ_PCI);

  o->pci_indexes = g_array_new (FALSE, FALSE, sizeof (guint32));
  o->pci_grown = g_string_new (NULL);
  return o;
}

static void
pci_set_autogrow (Obj *o, gboolean on, AsmPciControllerModel model,
                  guint32 domain)
{
  o->pci_grow = on;
  o->pci_grow_model = model;
  o->pci_grow_domain = domain;
  asm_pci_bus_set_set_grow_func (o->pci, on ? pci_grow_cb : NULL,
                                 on ? o : NULL, NULL);
}

static gboolean
cmd_pci (Script *s, Args *a, Obj *unused, GError **error)
{
  Obj *o;

  if (!check_new_name (s, a->pos[0], error))
    return FALSE;
  o = pci_obj_new (s, a->pos[0]);
  o->pci = asm_pci_bus_set_new ();
  return TRUE;
}

/* controller PCS INDEX MODEL [ADDR | next [domain=D]] */
static gboolean
cmd_controller (Script *s, Args *a, Obj *o, GError **error)
{
  guint32 index, domain = 0;
  AsmPciControllerModel model;
  AsmPciAddr at;
  gboolean next = a->n_pos > 3 && strcmp (a->pos[3], "next") == 0;
  g_autofree char *bus = NULL;

  if (!num32 ("INDEX", a->pos[1], &index, error) ||
      !parse_pci_model (a->pos[2], &model, error))
    return FALSE;
  if (opt (a, "domain") != NULL && !next)
    return syntax (error, "domain= goes with 'next' (controller PCS INDEX "
                   "MODEL next domain=D)");
  if (!opt_num32 (a, "domain", &domain, error))
    return FALSE;
  if (a->n_pos > 3 && !next && !parse_pci_addr (a->pos[3], &at, error))
    return FALSE;

  if (next)
    {
      if (!asm_pci_bus_set_add_controller_next (o->pci, index, model, domain,
                                                &at, error))
        return FALSE;
    }
  else if (!asm_pci_bus_set_add_controller (o->pci, index, model,
                                            a->n_pos > 3 ? &at : NULL, error))
    return FALSE;
  pci_track (o, index);
  bus = describe_bus (o, index);
  if (a->n_pos > 3)
    {
      g_autofree char *where = format_pci (&at);
      emit (s, "%s: controller %u %s at %s -> %s", o->name, index,
            asm_pci_controller_model_to_string (model), where, bus);
    }
  else
    emit (s, "%s: controller %u %s -> %s", o->name, index,
          asm_pci_controller_model_to_string (model), bus);
  return TRUE;
}

static gboolean
cmd_hotplug (Script *s, Args *a, Obj *o, GError **error)
{
  guint32 index;
  gboolean on;

  if (!num32 ("INDEX", a->pos[1], &index, error))
    return FALSE;
  if (strcmp (a->pos[2], "on") == 0)
    on = TRUE;
  else if (strcmp (a->pos[2], "off") == 0)
    on = FALSE;
  else
    return syntax (error, "hotplug: '%s' is neither 'on' nor 'off'",
                   a->pos[2]);
  return asm_pci_bus_set_set_hotplug (o->pci, index, on, error);
}

static gboolean
cmd_group (Script *s, Args *a, Obj *o, GError **error)
{
  guint32 index, group;

  return num32 ("INDEX", a->pos[1], &index, error) &&
         num32 ("GROUP", a->pos[2], &group, error) &&
         asm_pci_bus_set_set_isolation_group (o->pci, index, group,
                                              has_flag (a, "locked"), error);
}

static gboolean
cmd_pci_reserve (Script *s, Args *a, Obj *o, GError **error)
{
  AsmPciAddr addr;
  AsmPciConnectFlags flags;
  guint32 group = 0;
  gboolean slot = strcmp (a->verb, "reserve-slot") == 0;

  if (!parse_pci_addr (a->pos[1], &addr, error) ||
      !parse_pci_flags (a->pos[2], &flags, error) ||
      !opt_num32 (a, "group", &group, error))
    return FALSE;
  if (slot)
    return asm_pci_bus_set_reserve_slot (o->pci, &addr, flags,
                                         has_flag (a, "config"), error);
  return asm_pci_bus_set_reserve_addr_full (o->pci, &addr, flags, group,
                                            has_flag (a, "config"), error);
}

static gboolean
cmd_reserve_next (Script *s, Args *a, Obj *o, GError **error)
{
  AsmPciAddr addr;
  AsmPciConnectFlags flags;
  guint32 group = 0;
  g_autofree char *text = NULL;
  gboolean ok;

  if (!parse_pci_flags (a->pos[1], &flags, error) ||
      !opt_num32 (a, "group", &group, error))
    return FALSE;
  g_string_truncate (o->pci_grown, 0);
  ok = asm_pci_bus_set_reserve_next_full (o->pci, flags, group, &addr, error);
  pci_untrack_missing (o);
  if (!ok)
    return FALSE;
  text = format_pci (&addr);
  if (opt (a, "group") != NULL)
    emit (s, "%s: reserve-next %s group=%u -> %s%s", o->name, a->pos[1],
          group, text, o->pci_grown->str);
  else
    emit (s, "%s: reserve-next %s -> %s%s", o->name, a->pos[1], text,
          o->pci_grown->str);
  return TRUE;
}

/* autogrow PCS MODEL [domain=D] | autogrow PCS off */
static gboolean
cmd_autogrow (Script *s, Args *a, Obj *o, GError **error)
{
  AsmPciControllerModel model;
  guint32 domain = 0;

  if (strcmp (a->pos[1], "off") == 0)
    {
      if (opt (a, "domain") != NULL)
        return syntax (error, "domain= goes with a MODEL, not with 'off'");
      pci_set_autogrow (o, FALSE, 0, 0);
      return TRUE;
    }
  if (!parse_pci_model (a->pos[1], &model, error) ||
      !opt_num32 (a, "domain", &domain, error))
    return FALSE;
  if (asm_pci_controller_model_is_root (model))
    return fail (error, ASM_ERROR_INVALID,
                 "%s: autogrow needs a model that plugs into a bus, not the "
                 "root %s", o->name, a->pos[1]);
  pci_set_autogrow (o, TRUE, model, domain);
  return TRUE;
}

static gboolean
cmd_pci_release (Script *s, Args *a, Obj *o, GError **error)
{
  AsmPciAddr addr;

  return parse_pci_addr (a->pos[1], &addr, error) &&
         asm_pci_bus_set_release_addr (o->pci, &addr, error);
}

static gboolean
collect_pci (const AsmPciAddr *addr, gpointer user_data)
{
  g_autofree char *text = format_pci (addr);

  g_ptr_array_add (user_data, g_strdup_printf ("  %s", text));
  return TRUE;
}

static gboolean
cmd_pci_list (Script *s, Args *a, Obj *o, GError **error)
{
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);

  asm_pci_bus_set_foreach_reserved (o->pci, collect_pci, lines);
  emit (s, "%s: list -> %" G_GUINT64_FORMAT " reserved", o->name,
        asm_pci_bus_set_get_n_reserved (o->pci));
  emit_lines (s, lines);
  return TRUE;
}

static gboolean
cmd_pci_probe (Script *s, Args *a, Obj *o, GError **error)
{
  AsmPciAddr addr;
  g_autofree char *text = NULL;
  GString *state;

  if (!parse_pci_addr (a->pos[1], &addr, error))
    return FALSE;
  text = format_pci (&addr);
  if (!asm_pci_bus_set_find_controller (o->pci, addr.domain, addr.bus, NULL))
    {
      emit (s, "%s: probe %s -> no such bus", o->name, text);
      return TRUE;
    }
  state = g_string_new (asm_pci_bus_set_is_reserved (o->pci, &addr)
                            ? "reserved" : "free");
  if (asm_pci_bus_set_is_aggregate_slot (o->pci, &addr))
    g_string_append (state, ", aggregate slot");
  if (asm_pci_bus_set_is_multifunction (o->pci, &addr))
    g_string_append (state, ", multifunction");
  emit (s, "%s: probe %s -> %s", o->name, text, state->str);
  g_string_free (state, TRUE);
  return TRUE;
}

static void
show_pci (Script *s, Obj *o)
{
  emit (s, "%s: show -> %u controller%s, %" G_GUINT64_FORMAT " reserved",
        o->name, o->pci_indexes->len, o->pci_indexes->len == 1 ? "" : "s",
        asm_pci_bus_set_get_n_reserved (o->pci));
  for (guint i = 0; i < o->pci_indexes->len; i++)
    {
      guint32 index = g_array_index (o->pci_indexes, guint32, i);
      AsmPciControllerInfo info;
      g_autofree char *name = asm_pci_bus_set_get_controller_name (o->pci,
                                                                   index);
      g_autofree char *at = NULL;

      ASMCTL_MUST (asm_pci_bus_set_get_controller (o->pci, index, &info));
      if (!info.is_root)
        at = format_pci (&info.plugged_at);
      emit (s, "  %u %s %s%s%s: bus %04x:%02x, slots 0x%02x-0x%02x%s, "
            "group %u%s, %u reserved",
            index, asm_pci_controller_model_to_string (info.model), name,
            at ? " at " : "", at ? at : "", info.domain, info.bus,
            info.min_slot, info.max_slot,
            (info.accepts & ASM_PCI_CONNECT_HOTPLUGGABLE) ? ", hotplug" : "",
            info.isolation_group, info.isolation_locked ? " (locked)" : "",
            info.n_reserved);
    }
}

/* ------------------------------------------------------------------ */
/* Fabrics                                                              */

/* Switches and devices are found by their names in the fabric; workloads
 * and partitions by the names the script gave them.  A number in place of
 * a name is an id, passed to the library as it is. */

static gboolean
fab_switch (Obj *o, const char *text, AsmId *out, GError **error)
{
  if (g_ascii_isdigit (text[0]))
    return num32 ("SWITCH", text, out, error);
  if (!asm_fabric_find_switch (o->fabric, text, out))
    return fail (error, ASM_ERROR_NOT_FOUND, "%s: no switch named '%s'",
                 o->name, text);
  return TRUE;
}

static gboolean
find_device (Obj *o, const char *name, AsmId *out)
{
  g_autoptr (GArray) ids = asm_fabric_list (o->fabric, ASM_FABRIC_DEVICES);

  for (guint i = 0; i < ids->len; i++)
    {
      AsmDeviceInfo info;
      if (asm_fabric_get_device_info (o->fabric, g_array_index (ids, AsmId, i),
                                      &info) &&
          strcmp (info.name, name) == 0)
        {
          *out = info.id;
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
fab_device (Obj *o, const char *text, AsmId *out, GError **error)
{
  if (g_ascii_isdigit (text[0]))
    return num32 ("DEVICE", text, out, error);
  if (!find_device (o, text, out))
    return fail (error, ASM_ERROR_NOT_FOUND, "%s: no device named '%s'",
                 o->name, text);
  return TRUE;
}

static gboolean
fab_named (Obj *o, GHashTable *names, const char *what, const char *text,
           AsmId *out, GError **error)
{
  gpointer id;

  *out = ASM_ID_NONE;
  if (g_ascii_isdigit (text[0]))
    return num32 (what, text, out, error);
  if (!g_hash_table_lookup_extended (names, text, NULL, &id))
    return fail (error, ASM_ERROR_NOT_FOUND, "%s: no %s named '%s'", o->name,
                 what, text);
  *out = GPOINTER_TO_UINT (id);
  return TRUE;
}

static gboolean
fab_workload (Obj *o, const char *text, AsmId *out, GError **error)
{
  return fab_named (o, o->workloads, "workload", text, out, error);
}

static gboolean
fab_partition (Obj *o, const char *text, AsmId *out, GError **error)
{
  return fab_named (o, o->partitions, "partition", text, out, error);
}

static char *
switch_name (Obj *o, AsmId id)
{
  AsmSwitchInfo info;

  if (asm_fabric_get_switch_info (o->fabric, id, &info))
    return g_strdup (info.name);
  return g_strdup_printf ("%u", id);
}

static char *
device_name (Obj *o, AsmId id)
{
  AsmDeviceInfo info;

  if (asm_fabric_get_device_info (o->fabric, id, &info))
    return g_strdup (info.name);
  return g_strdup_printf ("%u", id);
}

static char *
id_name (GHashTable *names, AsmId id)
{
  const char *name = g_hash_table_lookup (names, GUINT_TO_POINTER (id));

  return name != NULL ? g_strdup (name) : g_strdup_printf ("%u", id);
}

static gboolean
need_sim (Obj *o, GError **error)
{
  if (o->sim == NULL)
    return fail (error, ASM_ERROR_UNSUPPORTED,
                 "%s: the fabric was loaded without a simulated backend; "
                 "fault injection needs one", o->name);
  return TRUE;
}

static Obj *
fabric_obj_new (Script *s, const char *name)
{
  Obj *o = obj_add (s, name, OBJ_FABRIC);

  o->workloads = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  o->workload_names = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  o->partitions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         NULL);
  o->partition_names = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  return o;
}

static void
name_id (GHashTable *by_name, GHashTable *by_id, const char *name, AsmId id)
{
  g_hash_table_insert (by_name, g_strdup (name), GUINT_TO_POINTER (id));
  g_hash_table_insert (by_id, GUINT_TO_POINTER (id), g_strdup (name));
}

static gboolean
cmd_fabric (Script *s, Args *a, Obj *unused, GError **error)
{
  guint64 first, last, granule, window = 0;
  g_autoptr (AsmBackend) sim = NULL;
  g_autoptr (AsmFabric) fabric = NULL;
  Obj *o;

  if (!check_new_name (s, a->pos[0], error) ||
      !parse_first_last (a, 1, &first, &last, error) ||
      !num ("GRANULE", a->pos[3], &granule, error) ||
      !opt_num (a, "window", &window, error))
    return FALSE;
  sim = asm_sim_backend_new ();
  fabric = asm_fabric_new (a->pos[0], first, last, granule, sim, error);
  if (fabric == NULL)
    return FALSE;
  if (opt (a, "window") != NULL)
    {
      if (window < granule || (window & (window - 1)) != 0)
        return fail (error, ASM_ERROR_INVALID,
                     "%s: window=" HEX " is not a power of two of at least "
                     "the granule " HEX, a->pos[0], window, granule);
      if (!asm_fabric_set_window_granule (fabric, window, error))
        return FALSE;
    }
  o = fabric_obj_new (s, a->pos[0]);
  o->fabric = g_steal_pointer (&fabric);
  o->sim = g_steal_pointer (&sim);
  return TRUE;
}

/* load NAME FILE: a fabric from `save`, in the model only (no backend) */
static gboolean
cmd_load (Script *s, Args *a, Obj *unused, GError **error)
{
  g_autofree char *json = NULL;
  gsize len;
  g_autoptr (AsmFabric) fabric = NULL;
  g_autoptr (JsonParser) parser = NULL;
  GError *local = NULL;
  JsonNode *root;
  Obj *o;

  if (!check_new_name (s, a->pos[0], error))
    return FALSE;
  if (!g_file_get_contents (a->pos[1], &json, &len, &local))
    {
      /* a missing file is not-found, any other file error failed */
      fail (error,
            g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)
                ? ASM_ERROR_NOT_FOUND : ASM_ERROR_FAILED,
            "%s: %s", a->pos[0], local->message);
      g_error_free (local);
      return FALSE;
    }
  fabric = asm_fabric_restore (json, (gssize) len, NULL, error);
  if (fabric == NULL)
    return FALSE;
  o = fabric_obj_new (s, a->pos[0]);
  o->fabric = g_steal_pointer (&fabric);

  /* the workloads' names are in the saved state; partitions have none */
  parser = json_parser_new ();
  if (json_parser_load_from_data (parser, json, (gssize) len, NULL) &&
      (root = json_parser_get_root (parser)) != NULL &&
      JSON_NODE_HOLDS_OBJECT (root))
    {
      JsonObject *top = json_node_get_object (root);
      JsonArray *wl = json_object_has_member (top, "workloads")
                          ? json_object_get_array_member (top, "workloads")
                          : NULL;
      for (guint i = 0; wl != NULL && i < json_array_get_length (wl); i++)
        {
          JsonObject *w = json_array_get_object_element (wl, i);
          if (w != NULL && json_object_has_member (w, "id") &&
              json_object_has_member (w, "name"))
            name_id (o->workloads, o->workload_names,
                     json_object_get_string_member (w, "name"),
                     (AsmId) json_object_get_int_member (w, "id"));
        }
    }
  return TRUE;
}

static gboolean
cmd_fabric_reserve (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 first, last;

  return parse_first_last (a, 1, &first, &last, error) &&
         asm_fabric_reserve_global (o->fabric, first, last, error);
}

/* switch F NAME [bw=MB/s] [latency=NS] [table=N] [ports=N] [pinned] */
static gboolean
cmd_switch (Script *s, Args *a, Obj *o, GError **error)
{
  AsmSwitchSpec spec = { 0 };
  AsmId id;

  spec.name = a->pos[1];
  spec.bandwidth = 16000;
  spec.latency_ns = 200;
  spec.table_capacity = 16;
  spec.n_ports = 8;
  spec.pinned = has_flag (a, "pinned");
  if (!valid_name (a->pos[1]))
    return syntax (error, "'%s' is not a valid switch name", a->pos[1]);
  if (!opt_num (a, "bw", &spec.bandwidth, error) ||
      !opt_num32 (a, "latency", &spec.latency_ns, error) ||
      !opt_num32 (a, "table", &spec.table_capacity, error) ||
      !opt_num32 (a, "ports", &spec.n_ports, error) ||
      !asm_fabric_add_switch (o->fabric, &spec, &id, error))
    return FALSE;
  emit (s, "%s: switch %s -> id %u", o->name, a->pos[1], id);
  return TRUE;
}

static gboolean
cmd_window (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId sw;
  guint64 first, last;

  return parse_first_last (a, 2, &first, &last, error) &&
         fab_switch (o, a->pos[1], &sw, error) &&
         asm_fabric_add_window (o->fabric, sw, first, last, error);
}

/* device F NAME SWITCH PORT BAR [pf] */
static gboolean
cmd_device (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId sw, id;
  guint32 port;
  guint64 bar;

  if (!valid_name (a->pos[1]))
    return syntax (error, "'%s' is not a valid device name", a->pos[1]);
  if (!num32 ("PORT", a->pos[3], &port, error) ||
      !num ("BAR", a->pos[4], &bar, error) ||
      !fab_switch (o, a->pos[2], &sw, error))
    return FALSE;
  if (find_device (o, a->pos[1], &id))
    return fail (error, ASM_ERROR_INVALID, "%s: device %s already exists",
                 o->name, a->pos[1]);
  if (!asm_fabric_add_device (o->fabric, a->pos[1],
                              has_flag (a, "pf") ? ASM_DEVICE_PF
                                                 : ASM_DEVICE_ENDPOINT,
                              bar, sw, port, &id, error))
    return FALSE;
  emit (s, "%s: device %s -> id %u", o->name, a->pos[1], id);
  return TRUE;
}

static gboolean
cmd_sriov (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId pf;
  guint32 max_vfs;
  guint64 bar;

  return num32 ("MAXVFS", a->pos[2], &max_vfs, error) &&
         num ("VFBAR", a->pos[3], &bar, error) &&
         fab_device (o, a->pos[1], &pf, error) &&
         asm_fabric_set_sriov (o->fabric, pf, max_vfs, bar, error);
}

static gboolean
cmd_vf (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId pf, vf;
  g_autofree char *name = NULL;

  if (!fab_device (o, a->pos[1], &pf, error) ||
      !asm_fabric_create_vf (o->fabric, pf, &vf, error))
    return FALSE;
  name = device_name (o, vf);
  emit (s, "%s: vf %s -> %s (id %u)", o->name, a->pos[1], name, vf);
  return TRUE;
}

static gboolean
cmd_workload (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId id;

  if (!valid_name (a->pos[1]))
    return syntax (error, "'%s' is not a valid workload name", a->pos[1]);
  if (g_hash_table_contains (o->workloads, a->pos[1]))
    return fail (error, ASM_ERROR_INVALID, "%s: workload %s already exists",
                 o->name, a->pos[1]);
  if (!asm_fabric_add_workload (o->fabric, a->pos[1], &id, error))
    return FALSE;
  name_id (o->workloads, o->workload_names, a->pos[1], id);
  emit (s, "%s: workload %s -> id %u", o->name, a->pos[1], id);
  return TRUE;
}

/* partition F NAME WORKLOAD SIZE [align=A] [min-bw=MB/s] [max-latency=NS]
 *   [prefer=SWITCH] [demand=MB/s] */
static gboolean
cmd_partition (Script *s, Args *a, Obj *o, GError **error)
{
  AsmPartitionRequest req = { 0 };
  AsmPartitionInfo info;
  AsmId wl, id;
  guint64 virt;
  g_autofree char *sw = NULL;

  if (!valid_name (a->pos[1]))
    return syntax (error, "'%s' is not a valid partition name", a->pos[1]);
  if (!num ("SIZE", a->pos[3], &req.size, error) ||
      !opt_num (a, "align", &req.align, error) ||
      !opt_num (a, "min-bw", &req.min_bandwidth, error) ||
      !opt_num32 (a, "max-latency", &req.max_latency_ns, error) ||
      !opt_num (a, "demand", &req.bandwidth_demand, error))
    return FALSE;
  if (g_hash_table_contains (o->partitions, a->pos[1]))
    return fail (error, ASM_ERROR_INVALID, "%s: partition %s already exists",
                 o->name, a->pos[1]);
  if (!fab_workload (o, a->pos[2], &wl, error) ||
      (opt (a, "prefer") != NULL &&
       !fab_switch (o, opt (a, "prefer"), &req.preferred_switch, error)) ||
      !asm_fabric_request_partition (o->fabric, wl, &req, &id, &virt, error))
    return FALSE;
  name_id (o->partitions, o->partition_names, a->pos[1], id);
  ASMCTL_MUST (asm_fabric_get_partition_info (o->fabric, id, &info));
  sw = switch_name (o, info.switch_id);
  emit (s, "%s: partition %s %s " HEX " -> id %u on %s, virtual " HEX
        ", physical " HEX, o->name, a->pos[1], a->pos[2], req.size, id, sw,
        virt, info.phys_first);
  return TRUE;
}

static gboolean
cmd_map (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId part, dev;
  guint64 offset;

  if (!fab_partition (o, a->pos[1], &part, error) ||
      !fab_device (o, a->pos[2], &dev, error) ||
      !asm_fabric_map_device (o->fabric, part, dev, &offset, error))
    return FALSE;
  emit (s, "%s: map %s %s -> offset " HEX, o->name, a->pos[1], a->pos[2],
        offset);
  return TRUE;
}

/* VIRT: a number, or PARTITION[+OFFSET] (the partition's first virtual
 * address plus OFFSET) */
static gboolean
parse_virt (Obj *o, const char *text, guint64 *out, GError **error)
{
  g_auto (GStrv) parts = NULL;
  AsmId part;
  AsmPartitionInfo info;
  guint64 offset = 0;

  *out = 0;
  if (g_ascii_isdigit (text[0]))
    return num ("VIRT", text, out, error);
  parts = g_strsplit (text, "+", 2);
  if (parts[1] != NULL && !num ("VIRT offset", parts[1], &offset, error))
    return FALSE;
  if (!fab_partition (o, parts[0], &part, error))
    return FALSE;
  if (!asm_fabric_get_partition_info (o->fabric, part, &info))
    return fail (error, ASM_ERROR_NOT_FOUND, "%s: partition %s does not "
                 "exist (any more)", o->name, parts[0]);
  *out = info.virt_first + offset;
  return TRUE;
}

static gboolean
cmd_translate (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId wl;
  guint64 virt;
  AsmTranslation t;
  g_autofree char *sw = NULL, *dev = NULL, *part = NULL;

  if (!fab_workload (o, a->pos[1], &wl, error) ||
      !parse_virt (o, a->pos[2], &virt, error) ||
      !asm_fabric_translate (o->fabric, wl, virt, &t, error))
    return FALSE;
  sw = switch_name (o, t.switch_id);
  part = id_name (o->partition_names, t.partition);
  if (t.device != ASM_ID_NONE)
    {
      g_autofree char *name = device_name (o, t.device);
      dev = g_strdup_printf ("%s+" HEX, name, t.device_offset);
    }
  emit (s, "%s: translate %s " HEX " -> %s, physical " HEX ", device %s, "
        "partition %s, generation %u%s",
        o->name, a->pos[1], virt, sw, t.physical, dev ? dev : "-", part,
        t.generation, t.held ? ", held" : "");
  return TRUE;
}

static gboolean
emit_placement (Script *s, Obj *o, const char *what, AsmId part)
{
  AsmPartitionInfo info;
  g_autofree char *sw = NULL;

  ASMCTL_MUST (asm_fabric_get_partition_info (o->fabric, part, &info));
  sw = switch_name (o, info.switch_id);
  emit (s, "%s: %s -> %s, physical " HEX ", size " HEX, o->name, what, sw,
        info.phys_first, info.size);
  return TRUE;
}

static gboolean
cmd_migrate (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId part, sw = ASM_ID_NONE;
  g_autofree char *what = NULL;

  if (!fab_partition (o, a->pos[1], &part, error) ||
      (a->n_pos > 2 && !fab_switch (o, a->pos[2], &sw, error)) ||
      !asm_fabric_migrate_partition (o->fabric, part, sw, error))
    return FALSE;
  what = g_strdup_printf ("migrate %s%s%s", a->pos[1], a->n_pos > 2 ? " " : "",
                          a->n_pos > 2 ? a->pos[2] : "");
  return emit_placement (s, o, what, part);
}

static gboolean
cmd_grow (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId part;
  guint64 size;
  g_autofree char *what = NULL;

  if (!num ("SIZE", a->pos[2], &size, error) ||
      !fab_partition (o, a->pos[1], &part, error) ||
      !asm_fabric_grow_partition (o->fabric, part, size, error))
    return FALSE;
  what = g_strdup_printf ("grow %s " HEX, a->pos[1], size);
  return emit_placement (s, o, what, part);
}

static gboolean
cmd_release_partition (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId part;

  return fab_partition (o, a->pos[1], &part, error) &&
         asm_fabric_release_partition (o->fabric, part, error);
}

static gboolean
cmd_transfer_vf (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId vf, pf, new_vf;
  g_autofree char *name = NULL;

  if (!fab_device (o, a->pos[1], &vf, error) ||
      !fab_device (o, a->pos[2], &pf, error) ||
      !asm_fabric_transfer_vf (o->fabric, vf, pf, &new_vf, error))
    return FALSE;
  name = device_name (o, new_vf);
  emit (s, "%s: transfer-vf %s %s -> %s (id %u)", o->name, a->pos[1],
        a->pos[2], name, new_vf);
  return TRUE;
}

static gboolean
cmd_usage (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId wl;
  gdouble time;
  guint64 bytes;

  return dbl ("TIME", a->pos[2], &time, error) &&
         num ("BYTES", a->pos[3], &bytes, error) &&
         fab_workload (o, a->pos[1], &wl, error) &&
         asm_fabric_record_usage (o->fabric, wl, time, bytes, error);
}

static gboolean
cmd_predict (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId wl;
  gdouble horizon;
  guint64 bytes;

  if (!dbl ("HORIZON", a->pos[2], &horizon, error) ||
      !fab_workload (o, a->pos[1], &wl, error) ||
      !asm_fabric_predict (o->fabric, wl, horizon, &bytes, error))
    return FALSE;
  emit (s, "%s: predict %s %s -> " HEX, o->name, a->pos[1], a->pos[2], bytes);
  return TRUE;
}

static gboolean
cmd_rebalance (Script *s, Args *a, Obj *o, GError **error)
{
  gdouble horizon;
  AsmRebalanceReport rep;

  if (!dbl ("HORIZON", a->pos[1], &horizon, error) ||
      !asm_fabric_rebalance (o->fabric, horizon, &rep, error))
    return FALSE;
  emit (s, "%s: rebalance %s -> examined %u, grown %u, migrated %u, "
        "failed %u", o->name, a->pos[1], rep.n_examined, rep.n_grown,
        rep.n_migrated, rep.n_failed);
  return TRUE;
}

static const char *const sim_op_names[] = {
  [ASM_SIM_OP_ANY] = "any",       [ASM_SIM_OP_WINDOWS] = "windows",
  [ASM_SIM_OP_XLAT] = "xlat",     [ASM_SIM_OP_BIND] = "bind",
  [ASM_SIM_OP_UNBIND] = "unbind", [ASM_SIM_OP_HOLD] = "hold",
  [ASM_SIM_OP_VF] = "vf",         [ASM_SIM_OP_FLUSH] = "flush",
};

/* fail F call N | fail F kind KIND [off] */
static gboolean
cmd_fail (Script *s, Args *a, Obj *o, GError **error)
{
  if (strcmp (a->pos[1], "call") == 0)
    {
      guint64 n;
      if (has_flag (a, "off"))
        return syntax (error, "'off' goes with 'fail F kind KIND'; "
                       "'fail F call 0' cancels a pending call fault");
      if (!num ("N", a->pos[2], &n, error) || !need_sim (o, error))
        return FALSE;
      asm_sim_fail_call (o->sim, n);
      return TRUE;
    }
  if (strcmp (a->pos[1], "kind") == 0)
    {
      guint k;
      for (k = 0; k < G_N_ELEMENTS (sim_op_names); k++)
        if (strcmp (a->pos[2], sim_op_names[k]) == 0)
          break;
      if (k == G_N_ELEMENTS (sim_op_names))
        return syntax (error, "KIND: '%s' is not a kind of call (any, "
                       "windows, xlat, bind, unbind, hold, vf, flush)",
                       a->pos[2]);
      if (!need_sim (o, error))
        return FALSE;
      asm_sim_fail_kind (o->sim, (AsmSimOp) k, !has_flag (a, "off"));
      return TRUE;
    }
  return syntax (error, "fail: '%s' is neither 'call' nor 'kind'",
                 a->pos[1]);
}

static gboolean
cmd_crash (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 n;

  if (!num ("N", a->pos[1], &n, error) || !need_sim (o, error))
    return FALSE;
  asm_sim_crash_after (o->sim, n);
  o->crash_armed = TRUE;
  return TRUE;
}

static gboolean
cmd_clear (Script *s, Args *a, Obj *o, GError **error)
{
  if (!need_sim (o, error))
    return FALSE;
  asm_sim_clear_faults (o->sim);
  return TRUE;
}

static gboolean
cmd_calls (Script *s, Args *a, Obj *o, GError **error)
{
  if (!need_sim (o, error))
    return FALSE;
  emit (s, "%s: calls -> %" G_GUINT64_FORMAT, o->name,
        asm_sim_get_n_calls (o->sim));
  return TRUE;
}

static gboolean
cmd_verify (Script *s, Args *a, Obj *o, GError **error)
{
  if (!need_sim (o, error) || !asm_sim_verify (o->sim, o->fabric, error))
    return FALSE;
  emit (s, "%s: verify -> ok", o->name);
  return TRUE;
}

/* save F FILE | save F - (to the output) */
static gboolean
cmd_save (Script *s, Args *a, Obj *o, GError **error)
{
  gsize len;
  g_autofree char *json = asm_fabric_save (o->fabric, &len);
  GError *local = NULL;

  if (strcmp (a->pos[1], "-") == 0)
    {
      g_auto (GStrv) lines = NULL;
      guint n;

      while (len > 0 && json[len - 1] == '\n')
        json[--len] = '\0';
      lines = g_strsplit (json, "\n", -1);
      n = g_strv_length (lines);
      for (guint i = 0; i < n; i++)
        emit (s, "%s", lines[i]);
      return TRUE;
    }
  if (!g_file_set_contents (a->pos[1], json, (gssize) len, &local))
    {
      fail (error, ASM_ERROR_FAILED, "%s: %s", o->name, local->message);
      g_error_free (local);
      return FALSE;
    }
  return TRUE;
}

static void
show_fabric (Script *s, Obj *o)
{
  g_autoptr (GArray) sws = asm_fabric_list (o->fabric, ASM_FABRIC_SWITCHES);
  g_autoptr (GArray) devs = asm_fabric_list (o->fabric, ASM_FABRIC_DEVICES);
  g_autoptr (GArray) wls = asm_fabric_list (o->fabric, ASM_FABRIC_WORKLOADS);
  g_autoptr (GArray) parts = asm_fabric_list (o->fabric, ASM_FABRIC_PARTITIONS);

  emit (s, "%s: show -> %u switches, %u devices, %u workloads, "
        "%u partitions", o->name, sws->len, devs->len, wls->len, parts->len);
  for (guint i = 0; i < sws->len; i++)
    {
      AsmSwitchInfo si;
      g_autoptr (GArray) w = NULL;
      GString *ranges = g_string_new (NULL);

      ASMCTL_MUST (asm_fabric_get_switch_info (o->fabric, g_array_index (sws, AsmId, i),
                                  &si));
      w = asm_fabric_get_switch_windows (o->fabric, si.id);
      for (guint j = 0; j < w->len; j++)
        g_string_append_printf (ranges, "%s" HEX "-" HEX, j ? " " : "",
                                g_array_index (w, AsmRange, j).first,
                                g_array_index (w, AsmRange, j).last);
      emit (s, "  switch %s (id %u)%s: bandwidth %" G_GUINT64_FORMAT "/%"
            G_GUINT64_FORMAT ", latency %u, table %u/%u, ports %u/%u, "
            "windows %s, free " HEX ", partitions %u",
            si.name, si.id, si.pinned ? " pinned" : "", si.bandwidth_used,
            si.bandwidth, si.latency_ns, si.table_used, si.table_capacity,
            si.n_ports_used, si.n_ports, ranges->len ? ranges->str : "-",
            si.free_bytes, si.n_partitions);
      g_string_free (ranges, TRUE);
    }
  for (guint i = 0; i < devs->len; i++)
    {
      AsmDeviceInfo di;
      g_autofree char *sw = NULL, *where = NULL, *kind = NULL;

      ASMCTL_MUST (asm_fabric_get_device_info (o->fabric, g_array_index (devs, AsmId, i),
                                  &di));
      sw = switch_name (o, di.switch_id);
      if (di.kind == ASM_DEVICE_PF)
        kind = g_strdup_printf ("pf (max %u vfs of " HEX ")", di.max_vfs,
                                di.vf_bar_size);
      else if (di.kind == ASM_DEVICE_VF)
        {
          g_autofree char *pf = device_name (o, di.pf);
          kind = g_strdup_printf ("vf %u of %s", di.vf_index, pf);
        }
      else
        kind = g_strdup ("endpoint");
      if (di.partition != ASM_ID_NONE)
        {
          g_autofree char *p = id_name (o->partition_names, di.partition);
          where = g_strdup_printf ("in %s+" HEX, p, di.partition_offset);
        }
      emit (s, "  device %s (id %u): %s on %s port %u, bar " HEX ", %s",
            di.name, di.id, kind, sw, di.port, di.bar_size,
            where ? where : "unmapped");
    }
  for (guint i = 0; i < wls->len; i++)
    {
      AsmId id = g_array_index (wls, AsmId, i);
      const char *name = g_hash_table_lookup (o->workload_names,
                                              GUINT_TO_POINTER (id));
      if (name != NULL)
        emit (s, "  workload %s (id %u)", name, id);
      else
        emit (s, "  workload %u", id);
    }
  for (guint i = 0; i < parts->len; i++)
    {
      AsmPartitionInfo pi;
      g_autofree char *name = NULL, *wl = NULL, *sw = NULL;
      const char *given;

      ASMCTL_MUST (asm_fabric_get_partition_info (o->fabric,
                                     g_array_index (parts, AsmId, i), &pi));
      given = g_hash_table_lookup (o->partition_names,
                                   GUINT_TO_POINTER (pi.id));
      name = given ? g_strdup_printf ("%s (id %u)", given, pi.id)
                   : g_strdup_printf ("%u", pi.id);
      wl = id_name (o->workload_names, pi.workload);
      sw = switch_name (o, pi.switch_id);
      emit (s, "  partition %s: %s on %s, virtual " HEX "-" HEX
            ", physical " HEX ", bandwidth %" G_GUINT64_FORMAT
            ", devices %u, generation %u",
            name, wl, sw, pi.virt_first, pi.virt_first + pi.size - 1,
            pi.phys_first, pi.bandwidth_demand, pi.n_devices, pi.generation);
    }
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
      emit (s, "check -> %u object%s ok", s->order->len,
            s->order->len == 1 ? "" : "s");
      return TRUE;
    }
  if (!obj_check (o, error))
    return FALSE;
  emit (s, "%s: check -> ok", o->name);
  return TRUE;
}

static gboolean
cmd_show (Script *s, Args *a, Obj *o, GError **error)
{
  switch (o->kind)
    {
    case OBJ_ARENA:
      return cmd_walk (s, a, o, error);
    case OBJ_SPACE:
      return cmd_space_list (s, a, o, error);
    case OBJ_PCI:
      show_pci (s, o);
      return TRUE;
    case OBJ_FABRIC:
      show_fabric (s, o);
      return TRUE;
    }
  return TRUE;
}

static gboolean
cmd_clone (Script *s, Args *a, Obj *o, GError **error)
{
  Obj *n;

  if (!check_new_name (s, a->pos[1], error))
    return FALSE;
  switch (o->kind)
    {
    case OBJ_ARENA:
      n = obj_add (s, a->pos[1], OBJ_ARENA);
      n->arena = asm_arena_clone (o->arena, a->pos[1]);
      break;
    case OBJ_SPACE:
      n = obj_add (s, a->pos[1], OBJ_SPACE);
      n->space = asm_addr_space_clone (o->space, a->pos[1]);
      break;
    case OBJ_PCI:
      n = pci_obj_new (s, a->pos[1]);
      n->pci = asm_pci_bus_set_clone (o->pci);
      g_array_append_vals (n->pci_indexes, o->pci_indexes->data,
                           o->pci_indexes->len);
      if (o->pci_grow)
        pci_set_autogrow (n, TRUE, o->pci_grow_model, o->pci_grow_domain);
      break;
    case OBJ_FABRIC:
      return fail (error, ASM_ERROR_UNSUPPORTED,
                   "%s: a fabric cannot be cloned (save it, then load the "
                   "file under another name)", o->name);
    }
  return TRUE;
}

static gboolean
cmd_echo (Script *s, Args *a, Obj *o, GError **error)
{
  emit (s, "%s", a->rest);
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
        return syntax (error, "expect: '%s' is not an error code (invalid, "
                       "no-space, in-use, not-found, held, backend, timeout, "
                       "parse, unsupported, failed, or any)", a->pos[0]);
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

#define K_NONE -1 /* the first argument is not an existing object */
#define K_ANY -2  /* the first argument is an object of any kind */
#define MANY G_MAXUINT

typedef struct {
  const char *verb;
  int kind;              /* an ObjKind, K_NONE or K_ANY */
  guint min, max;        /* positional arguments after the verb */
  const char *flags;     /* bare words allowed after the first min */
  const char *options;   /* key=value keys allowed */
  const char *usage;
  gboolean (*run) (Script *s, Args *a, Obj *o, GError **error);
} Command;

#define REQ_OPTS "align phase nocross min max fit"
#define REQ_USAGE "[align=A] [phase=P] [nocross=N] [min=M] [max=X] " \
                  "[fit=lowest|highest|best|next]"

static const Command commands[] = {
  { "echo", K_NONE, 0, MANY, NULL, NULL, "echo TEXT", cmd_echo },
  { "expect", K_NONE, 1, 1, NULL, NULL, "expect CODE", cmd_expect },
  { "check", K_NONE, 0, 0, NULL, NULL, "check [NAME]", cmd_check },
  { "check", K_ANY, 1, 1, NULL, NULL, "check [NAME]", cmd_check },
  { "show", K_ANY, 1, 1, NULL, NULL, "show NAME", cmd_show },
  { "clone", K_ANY, 2, 2, NULL, NULL, "clone NAME NEW", cmd_clone },

  /* arenas */
  { "arena", K_NONE, 2, 2, NULL, NULL, "arena NAME QUANTUM", cmd_arena },
  { "span", OBJ_ARENA, 3, 3, NULL, NULL, "span ARENA FIRST LAST", cmd_span },
  { "unspan", OBJ_ARENA, 3, 3, NULL, NULL, "unspan ARENA FIRST LAST",
    cmd_unspan },
  { "reserve", OBJ_ARENA, 3, 3, NULL, NULL, "reserve ARENA FIRST LAST",
    cmd_arena_reserve },
  { "alloc", OBJ_ARENA, 2, 2, NULL, REQ_OPTS,
    "alloc ARENA SIZE " REQ_USAGE, cmd_alloc },
  { "find", OBJ_ARENA, 2, 2, NULL, REQ_OPTS, "find ARENA SIZE " REQ_USAGE,
    cmd_alloc },
  { "free", OBJ_ARENA, 2, 2, NULL, NULL, "free ARENA ADDR", cmd_free },
  { "move", OBJ_ARENA, 3, 3, NULL, REQ_OPTS,
    "move ARENA ADDR SIZE " REQ_USAGE, cmd_move },
  { "lookup", OBJ_ARENA, 2, 2, NULL, NULL, "lookup ARENA ADDR", cmd_lookup },
  { "stats", OBJ_ARENA, 1, 1, NULL, NULL, "stats ARENA", cmd_stats },
  { "walk", OBJ_ARENA, 1, 1, NULL, NULL, "walk ARENA", cmd_walk },
  { "largest", OBJ_ARENA, 1, 1, NULL, "min max",
    "largest ARENA [min=M] [max=X]", cmd_largest },

  /* address spaces */
  { "space", K_NONE, 2, 2, NULL, NULL, "space NAME BITS,BITS,...",
    cmd_space },
  { "pool", OBJ_SPACE, 2, 2, NULL, NULL, "pool SPACE BOX", cmd_pool },
  { "take", OBJ_SPACE, 2, 2, NULL, NULL, "take SPACE TUPLE", cmd_take },
  { "take-box", OBJ_SPACE, 2, 2, NULL, NULL, "take-box SPACE BOX",
    cmd_take_box },
  { "take-any", OBJ_SPACE, 1, 2, NULL, NULL, "take-any SPACE [BOX]",
    cmd_take_any },
  { "find-any", OBJ_SPACE, 1, 2, NULL, "whole",
    "find-any SPACE [BOX] [whole=N]", cmd_take_any },
  { "release", OBJ_SPACE, 2, 2, NULL, NULL, "release SPACE TUPLE",
    cmd_space_release },
  { "list", OBJ_SPACE, 1, 1, NULL, NULL, "list SPACE", cmd_space_list },
  { "probe", OBJ_SPACE, 2, 2, NULL, NULL, "probe SPACE TUPLE",
    cmd_space_probe },

  /* PCI bus sets */
  { "pci", K_NONE, 1, 1, NULL, NULL, "pci NAME", cmd_pci },
  { "controller", OBJ_PCI, 3, 4, NULL, "domain",
    "controller PCI INDEX MODEL [ADDR | next [domain=D]]", cmd_controller },
  { "hotplug", OBJ_PCI, 3, 3, NULL, NULL, "hotplug PCI INDEX on|off",
    cmd_hotplug },
  { "group", OBJ_PCI, 3, 3, "locked", NULL, "group PCI INDEX GROUP [locked]",
    cmd_group },
  { "reserve", OBJ_PCI, 3, 3, "config", "group",
    "reserve PCI ADDR FLAGS [config] [group=G]", cmd_pci_reserve },
  { "reserve-slot", OBJ_PCI, 3, 3, "config", NULL,
    "reserve-slot PCI ADDR FLAGS [config]", cmd_pci_reserve },
  { "reserve-next", OBJ_PCI, 2, 2, NULL, "group",
    "reserve-next PCI FLAGS [group=G]", cmd_reserve_next },
  { "autogrow", OBJ_PCI, 2, 2, NULL, "domain",
    "autogrow PCI MODEL [domain=D] | autogrow PCI off", cmd_autogrow },
  { "release", OBJ_PCI, 2, 2, NULL, NULL, "release PCI ADDR",
    cmd_pci_release },
  { "list", OBJ_PCI, 1, 1, NULL, NULL, "list PCI", cmd_pci_list },
  { "probe", OBJ_PCI, 2, 2, NULL, NULL, "probe PCI ADDR", cmd_pci_probe },

  /* fabrics */
  { "fabric", K_NONE, 4, 4, NULL, "window",
    "fabric NAME FIRST LAST GRANULE [window=SIZE]", cmd_fabric },
  { "load", K_NONE, 2, 2, NULL, NULL, "load NAME FILE", cmd_load },
  { "reserve", OBJ_FABRIC, 3, 3, NULL, NULL, "reserve FABRIC FIRST LAST",
    cmd_fabric_reserve },
  { "switch", OBJ_FABRIC, 2, 2, "pinned", "bw latency table ports",
    "switch FABRIC NAME [bw=MB/s] [latency=NS] [table=N] [ports=N] [pinned]",
    cmd_switch },
  { "window", OBJ_FABRIC, 4, 4, NULL, NULL,
    "window FABRIC SWITCH FIRST LAST", cmd_window },
  { "device", OBJ_FABRIC, 5, 5, "pf", NULL,
    "device FABRIC NAME SWITCH PORT BAR [pf]", cmd_device },
  { "sriov", OBJ_FABRIC, 4, 4, NULL, NULL, "sriov FABRIC PF MAXVFS VFBAR",
    cmd_sriov },
  { "vf", OBJ_FABRIC, 2, 2, NULL, NULL, "vf FABRIC PF", cmd_vf },
  { "workload", OBJ_FABRIC, 2, 2, NULL, NULL, "workload FABRIC NAME",
    cmd_workload },
  { "partition", OBJ_FABRIC, 4, 4, NULL,
    "align min-bw max-latency prefer demand",
    "partition FABRIC NAME WORKLOAD SIZE [align=A] [min-bw=MB/s] "
    "[max-latency=NS] [prefer=SWITCH] [demand=MB/s]", cmd_partition },
  { "map", OBJ_FABRIC, 3, 3, NULL, NULL, "map FABRIC PARTITION DEVICE",
    cmd_map },
  { "translate", OBJ_FABRIC, 3, 3, NULL, NULL,
    "translate FABRIC WORKLOAD VIRT|PARTITION[+OFFSET]", cmd_translate },
  { "migrate", OBJ_FABRIC, 2, 3, NULL, NULL,
    "migrate FABRIC PARTITION [SWITCH]", cmd_migrate },
  { "grow", OBJ_FABRIC, 3, 3, NULL, NULL, "grow FABRIC PARTITION SIZE",
    cmd_grow },
  { "release-partition", OBJ_FABRIC, 2, 2, NULL, NULL,
    "release-partition FABRIC PARTITION", cmd_release_partition },
  { "transfer-vf", OBJ_FABRIC, 3, 3, NULL, NULL,
    "transfer-vf FABRIC VF PF", cmd_transfer_vf },
  { "usage", OBJ_FABRIC, 4, 4, NULL, NULL,
    "usage FABRIC WORKLOAD TIME BYTES", cmd_usage },
  { "predict", OBJ_FABRIC, 3, 3, NULL, NULL,
    "predict FABRIC WORKLOAD HORIZON", cmd_predict },
  { "rebalance", OBJ_FABRIC, 2, 2, NULL, NULL, "rebalance FABRIC HORIZON",
    cmd_rebalance },
  { "fail", OBJ_FABRIC, 3, 3, "off", NULL,
    "fail FABRIC call N | fail FABRIC kind KIND [off]", cmd_fail },
  { "crash", OBJ_FABRIC, 2, 2, NULL, NULL, "crash FABRIC N", cmd_crash },
  { "clear", OBJ_FABRIC, 1, 1, NULL, NULL, "clear FABRIC", cmd_clear },
  { "calls", OBJ_FABRIC, 1, 1, NULL, NULL, "calls FABRIC", cmd_calls },
  { "verify", OBJ_FABRIC, 1, 1, NULL, NULL, "verify FABRIC", cmd_verify },
  { "save", OBJ_FABRIC, 2, 2, NULL, NULL, "save FABRIC FILE|-", cmd_save },
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

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (commands[i].verb, verb) == 0 && n < G_N_ELEMENTS (cands))
      cands[n++] = &commands[i];
  *out_obj = NULL;
  if (n == 0)
    {
      syntax (error, "unknown command '%s'", verb);
      return NULL;
    }
  if (n == 1 && cands[0]->kind == K_NONE)
    return cands[0];
  if (a->n_pos == 0)
    {
      for (guint i = 0; i < n; i++)
        if (cands[i]->kind == K_NONE)
          return cands[i];
      syntax (error, "usage: %s", cands[0]->usage);
      return NULL;
    }
  o = g_hash_table_lookup (s->objects, a->pos[0]);
  if (o == NULL)
    {
      syntax (error, "%s: no object named '%s'", verb, a->pos[0]);
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
  syntax (error, "%s: '%s' is %s, not %s", verb, a->pos[0],
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
              return syntax (error, "'%s' is given twice", a->pos[i]);
          if (a->n_flags < G_N_ELEMENTS (a->flags_seen))
            a->flags_seen[a->n_flags++] = a->pos[i];
          continue;
        }
      a->pos[kept++] = a->pos[i];
    }
  a->n_pos = kept;
  if (cmd->max != MANY && (a->n_pos < cmd->min || a->n_pos > cmd->max))
    return syntax (error, "usage: %s", cmd->usage);
  for (guint i = 0; i < a->n_opts; i++)
    {
      if (!word_in (cmd->options, a->opt_keys[i]))
        return syntax (error, "%s: unknown option '%s=' (usage: %s)",
                       cmd->verb, a->opt_keys[i], cmd->usage);
      for (guint k = 0; k < i; k++)
        if (strcmp (a->opt_keys[k], a->opt_keys[i]) == 0)
          return syntax (error, "option '%s=' is given twice",
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
  if (a->n_pos > 0 &&
      (cmd->run == cmd_arena || cmd->run == cmd_space ||
       cmd->run == cmd_pci || cmd->run == cmd_fabric || cmd->run == cmd_load))
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
      syntax (&error, "expect follows the expect of line %u, with no "
              "command between them", s->expect_line);
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
          emit (s, "%s: %s%s%s -> %s (expected)", first, verb,
                *args ? " " : "", args, asmctl_error_code_name (error));
        else
          emit (s, "%s%s%s -> %s (expected)", verb, *args ? " " : "", args,
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
  "  usage FABRIC WORKLOAD TIME BYTES | predict FABRIC WORKLOAD HORIZON\n"
  "  rebalance FABRIC HORIZON | save FABRIC FILE|-\n"
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
