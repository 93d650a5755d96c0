/* asmctl-script-arena-addr.c: the `asmctl script` commands on arenas and
 * address spaces
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The handlers of arena, span, unspan, reserve, alloc, find, free, move,
 * lookup, stats, walk and largest (arenas) and of space, pool, take,
 * take-box, take-any, find-any, release, list and probe (address spaces),
 * with their part of the command table.  The interpreter that runs them is
 * asmctl-script.c; the rules every handler follows are written there.
 */
#include "asmctl-script.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* Arenas                                                               */

/* The constraints of alloc, find and move: every key=value option. */
static gboolean
parse_request (Args *a, guint64 size, AsmRequest *req, GError **error)
{
  const char *fit = asmctl_script_opt (a, "fit");

  *req = ASM_REQUEST_INIT (size);
  if (!asmctl_script_opt_num (a, "align", &req->align, error) ||
      !asmctl_script_opt_num (a, "phase", &req->phase, error) ||
      !asmctl_script_opt_num (a, "nocross", &req->nocross, error) ||
      !asmctl_script_opt_num (a, "min", &req->min, error) ||
      !asmctl_script_opt_num (a, "max", &req->max, error))
    return FALSE;
  if (fit != NULL)
    {
      GError *local = NULL;
      if (!asmctl_parse_fit (fit, &req->fit, &local))
        {
          asmctl_script_syntax (error, "fit=: %s", local->message);
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
  if (asmctl_script_opt (a, "align"))
    g_string_append_printf (str, " align=" HEX, req->align);
  if (asmctl_script_opt (a, "phase"))
    g_string_append_printf (str, " phase=" HEX, req->phase);
  if (asmctl_script_opt (a, "nocross"))
    g_string_append_printf (str, " nocross=" HEX, req->nocross);
  if (asmctl_script_opt (a, "min"))
    g_string_append_printf (str, " min=" HEX, req->min);
  if (asmctl_script_opt (a, "max"))
    g_string_append_printf (str, " max=" HEX, req->max);
  if (asmctl_script_opt (a, "fit"))
    g_string_append_printf (str, " fit=%s", asmctl_fit_name (req->fit));
  return g_string_free (str, FALSE);
}

gboolean
asmctl_script_cmd_arena (Script *s, Args *a, Obj *unused, GError **error)
{
  guint64 quantum;
  Obj *o;

  if (!asmctl_script_check_new_name (s, a->pos[0], error) ||
      !asmctl_script_num ("QUANTUM", a->pos[1], &quantum, error))
    return FALSE;
  if (quantum == 0 || (quantum & (quantum - 1)) != 0)
    return asmctl_script_fail (error, ASM_ERROR_INVALID,
                               "%s: quantum " HEX " is not a power of two",
                               a->pos[0], quantum);
  o = asmctl_script_obj_add (s, a->pos[0], OBJ_ARENA);
  o->arena = asm_arena_new (a->pos[0], quantum);
  return TRUE;
}

static gboolean
cmd_span (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 first, last;

  return asmctl_script_parse_first_last (a, 1, &first, &last, error) &&
         asm_arena_add_span (o->arena, first, last, error);
}

static gboolean
cmd_unspan (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 first, last;

  return asmctl_script_parse_first_last (a, 1, &first, &last, error) &&
         asm_arena_remove_span (o->arena, first, last, error);
}

static gboolean
cmd_arena_reserve (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 first, last;

  return asmctl_script_parse_first_last (a, 1, &first, &last, error) &&
         asm_arena_reserve (o->arena, first, last, error);
}

static gboolean
cmd_alloc (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 size, addr;
  AsmRequest req;
  g_autofree char *what = NULL;
  gboolean find = strcmp (a->verb, "find") == 0;

  if (!asmctl_script_num ("SIZE", a->pos[1], &size, error) ||
      !parse_request (a, size, &req, error))
    return FALSE;
  if (find ? !asm_arena_find_free (o->arena, &req, &addr, error)
           : !asm_arena_alloc_full (o->arena, &req, &addr, error))
    return FALSE;
  what = format_request (a, &req);
  asmctl_script_emit (s, "%s: %s %s -> " HEX, o->name, a->verb, what, addr);
  return TRUE;
}

static gboolean
cmd_free (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 addr;

  return asmctl_script_num ("ADDR", a->pos[1], &addr, error) &&
         asm_arena_free (o->arena, addr, error);
}

static gboolean
cmd_move (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 addr, size, out;
  AsmRequest req;
  g_autofree char *what = NULL;

  if (!asmctl_script_num ("ADDR", a->pos[1], &addr, error) ||
      !asmctl_script_num ("SIZE", a->pos[2], &size, error) ||
      !parse_request (a, size, &req, error) ||
      !asm_arena_move (o->arena, addr, &req, &out, error))
    return FALSE;
  what = format_request (a, &req);
  asmctl_script_emit (s, "%s: move " HEX " %s -> " HEX, o->name, addr, what,
                      out);
  return TRUE;
}

static gboolean
cmd_lookup (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 addr;
  AsmRange seg;
  AsmSegmentKind kind;

  if (!asmctl_script_num ("ADDR", a->pos[1], &addr, error))
    return FALSE;
  if (asm_arena_lookup_full (o->arena, addr, &seg, &kind))
    asmctl_script_emit (s, "%s: lookup " HEX " -> %s " HEX "-" HEX, o->name,
                        addr, asmctl_segment_kind_name (kind), seg.first,
                        seg.last);
  else
    asmctl_script_emit (s, "%s: lookup " HEX " -> outside every span", o->name,
                        addr);
  return TRUE;
}

static gboolean
cmd_cache (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 max_size;

  return asmctl_script_num ("MAX_SIZE", a->pos[1], &max_size, error) &&
         asm_arena_enable_cache (o->arena, max_size, error);
}

static gboolean
cmd_stats (Script *s, Args *a, Obj *o, GError **error)
{
  AsmArenaStats st;
  AsmArenaCacheStats cs;

  asm_arena_get_stats (o->arena, &st);
  if (asm_arena_get_cache_stats (o->arena, &cs))
    asmctl_script_emit (s,
                        "%s: cache -> max-size=" HEX " cached=%"
                        G_GUINT64_FORMAT
                        " cached-units=" HEX " hits=%" G_GUINT64_FORMAT
                        " misses=%" G_GUINT64_FORMAT " flushes=%"
                        G_GUINT64_FORMAT, o->name, cs.max_size,
                        cs.cached_ranges, cs.cached_units, cs.hits, cs.misses,
                        cs.flushes);
  asmctl_script_emit (s,
                      "%s: stats -> spans=%" G_GUINT64_FORMAT " span-units=" HEX
                      " allocated=%" G_GUINT64_FORMAT " allocated-units=" HEX
                      " reserved=%" G_GUINT64_FORMAT " reserved-units=" HEX
                      " free-units=" HEX " free-segments=%" G_GUINT64_FORMAT
                      " largest-free=" HEX,
                      o->name, st.n_spans, st.span_units, st.n_allocated,
                      st.allocated_units, st.n_reserved, st.reserved_units,
                      st.free_units, st.n_free_segments, st.largest_free);
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

gboolean
asmctl_script_cmd_walk (Script *s, Args *a, Obj *o, GError **error)
{
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);

  ASMCTL_MUST (asm_arena_walk (o->arena, collect_segment, lines));
  asmctl_script_emit (s, "%s: %s -> %u segment%s", o->name, a->verb, lines->len,
                      lines->len == 1 ? "" : "s");
  asmctl_script_emit_lines (s, lines);
  return TRUE;
}

static gboolean
cmd_largest (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 min = 0, max = G_MAXUINT64;

  if (!asmctl_script_opt_num (a, "min", &min, error) ||
      !asmctl_script_opt_num (a, "max", &max, error))
    return FALSE;
  asmctl_script_emit (s, "%s: largest " HEX "-" HEX " -> " HEX, o->name, min,
                      max, asm_arena_largest_free_within (o->arena, min, max));
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Address spaces                                                       */

gboolean
asmctl_script_cmd_space (Script *s, Args *a, Obj *unused, GError **error)
{
  g_auto (GStrv) parts = NULL;
  guint8 bits[ASM_ADDR_MAX_DIMS];
  guint n;
  AsmAddrSpace *space;
  Obj *o;

  if (!asmctl_script_check_new_name (s, a->pos[0], error))
    return FALSE;
  parts = g_strsplit (a->pos[1], ",", -1);
  n = g_strv_length (parts);
  for (guint d = 0; d < n; d++)
    {
      guint64 v;
      if (!asmctl_script_num ("BITS", parts[d], &v, error))
        return FALSE;
      if (d < ASM_ADDR_MAX_DIMS)
        {
          if (v < 1 || v > 64)
            return asmctl_script_fail (error, ASM_ERROR_INVALID,
                                       "%s: dimension %u is %" G_GUINT64_FORMAT
                                       " bits wide, out of range 1..64",
                                       a->pos[0], d, v);
          bits[d] = (guint8) v;
        }
    }
  if (n > ASM_ADDR_MAX_DIMS)
    return asmctl_script_fail (error, ASM_ERROR_INVALID,
                               "%s: %u dimensions is out of range 1..%u",
                               a->pos[0], n, ASM_ADDR_MAX_DIMS);
  space = asm_addr_space_new (a->pos[0], n, bits, error);
  if (space == NULL)
    return FALSE;
  o = asmctl_script_obj_add (s, a->pos[0], OBJ_SPACE);
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
        return asmctl_script_syntax (error,
                                     "%s '%s' has more than the %u dimensions "
                                     "of %s",
                                     what, text, n_dims, o->name);
      if (*p == '*')
        {
          guint bits = asm_addr_space_get_dim_bits (o->space, d);
          if (tuple)
            return asmctl_script_syntax (error,
                                         "tuple '%s': '*' stands for many "
                                         "values; a tuple has one per "
                                         "dimension",
                                         text);
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
              if (!asmctl_script_num (what, item, &v[k], error))
                return FALSE;
              if (k == 0 && p[0] == '.' && p[1] == '.')
                {
                  if (tuple)
                    return asmctl_script_syntax (error,
                                                 "tuple '%s': a range; a tuple "
                                                 "has one value per dimension",
                                                 text);
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
        return asmctl_script_syntax (error,
                                     "%s '%s': unexpected '%c' (items are "
                                     "separated by ':' or '.')",
                                     what, text, *p);
      p++;
    }
  if (d != n_dims)
    return asmctl_script_syntax (error, "%s '%s' has %u dimension%s, %s has %u",
                                 what, text, d, d == 1 ? "" : "s", o->name,
                                 n_dims);
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
  if (find && !asmctl_script_opt_num (a, "whole", &whole, error))
    return FALSE;
  if (whole > asm_addr_space_get_n_dims (o->space))
    return asmctl_script_fail (error, ASM_ERROR_INVALID,
                               "%s: whole=%" G_GUINT64_FORMAT
                               " is more than %u dimensions",
                               o->name, whole,
                               asm_addr_space_get_n_dims (o->space));
  if (find ? !asm_addr_space_find_free (o->space, a->n_pos > 1 ? box : NULL,
                                        (guint) whole, t, error)
           : !asm_addr_space_reserve_any (o->space, a->n_pos > 1 ? box : NULL,
                                          t, error))
    return FALSE;
  text = asm_addr_space_format (o->space, t);
  if (asmctl_script_opt (a, "whole") != NULL)
    asmctl_script_emit (s, "%s: %s%s%s whole=%" G_GUINT64_FORMAT " -> %s",
                        o->name, a->verb, a->n_pos > 1 ? " " : "",
                        a->n_pos > 1 ? a->pos[1] : "", whole, text);
  else
    asmctl_script_emit (s, "%s: %s%s%s -> %s", o->name, a->verb,
                        a->n_pos > 1 ? " " : "", a->n_pos > 1 ? a->pos[1] : "",
                        text);
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

gboolean
asmctl_script_cmd_space_list (Script *s, Args *a, Obj *o, GError **error)
{
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  gpointer data[2] = { o->space, lines };

  ASMCTL_MUST (asm_addr_space_foreach_reserved (o->space, collect_tuple,
                                                data));
  asmctl_script_emit (s, "%s: %s -> %" G_GUINT64_FORMAT " reserved", o->name,
                      a->verb, asm_addr_space_get_n_reserved (o->space));
  asmctl_script_emit_lines (s, lines);
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
  asmctl_script_emit (s, "%s: probe %s -> %s", o->name, text, state);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Their part of the command table                                      */

#define REQ_OPTS "align phase nocross min max fit"
#define REQ_USAGE "[align=A] [phase=P] [nocross=N] [min=M] [max=X] " \
                  "[fit=lowest|highest|best|next|instant]"


const Command asmctl_script_arena_addr_commands[] = {
  /* arenas */
  { "arena", K_NONE, 2, 2, NULL, NULL, "arena NAME QUANTUM",
    asmctl_script_cmd_arena },
  { "span", OBJ_ARENA, 3, 3, NULL, NULL, "span ARENA FIRST LAST", cmd_span },
  { "unspan", OBJ_ARENA, 3, 3, NULL, NULL, "unspan ARENA FIRST LAST",
    cmd_unspan },
  { "reserve", OBJ_ARENA, 3, 3, NULL, NULL, "reserve ARENA FIRST LAST",
    cmd_arena_reserve },
  { "cache", OBJ_ARENA, 2, 2, NULL, NULL, "cache ARENA MAX_SIZE", cmd_cache },
  { "alloc", OBJ_ARENA, 2, 2, NULL, REQ_OPTS,
    "alloc ARENA SIZE " REQ_USAGE, cmd_alloc },
  { "find", OBJ_ARENA, 2, 2, NULL, REQ_OPTS, "find ARENA SIZE " REQ_USAGE,
    cmd_alloc },
  { "free", OBJ_ARENA, 2, 2, NULL, NULL, "free ARENA ADDR", cmd_free },
  { "move", OBJ_ARENA, 3, 3, NULL, REQ_OPTS,
    "move ARENA ADDR SIZE " REQ_USAGE, cmd_move },
  { "lookup", OBJ_ARENA, 2, 2, NULL, NULL, "lookup ARENA ADDR", cmd_lookup },
  { "stats", OBJ_ARENA, 1, 1, NULL, NULL, "stats ARENA", cmd_stats },
  { "walk", OBJ_ARENA, 1, 1, NULL, NULL, "walk ARENA", asmctl_script_cmd_walk },
  { "largest", OBJ_ARENA, 1, 1, NULL, "min max",
    "largest ARENA [min=M] [max=X]", cmd_largest },

  /* address spaces */
  { "space", K_NONE, 2, 2, NULL, NULL, "space NAME BITS,BITS,...",
    asmctl_script_cmd_space },
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
  { "list", OBJ_SPACE, 1, 1, NULL, NULL, "list SPACE",
    asmctl_script_cmd_space_list },
  { "probe", OBJ_SPACE, 2, 2, NULL, NULL, "probe SPACE TUPLE",
    cmd_space_probe },

};

const guint asmctl_script_arena_addr_n_commands =
  G_N_ELEMENTS (asmctl_script_arena_addr_commands);
