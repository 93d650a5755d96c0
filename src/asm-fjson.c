/* asm-fjson.c: the fabric's JSON vocabulary and the model's saved form
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * Everything the fabric writes as JSON (a saved model, a journal record,
 * an operation's arguments) uses one vocabulary, so one strict reader
 * reads all of it back:
 *
 *   - u64 values are "0x..." strings: JSON numbers are not exact beyond
 *     2^53, and an address must come back bit for bit;
 *   - doubles are "%.17g" strings, which round-trip exactly;
 *   - ids and small counts are JSON integers, range-checked on reading;
 *   - a reader (FJsonReader) over one object records every key it is asked
 *     for, and asm_fjson_reader_done() refuses any other key: a misspelt
 *     key is an error, never a silent default.  The first failure sticks
 *     and names its JSON path ("$.switches[2].windows: ...").
 *
 * The saved model (asm_fmodel_to_json) is versioned, lists every object in
 * id order (deterministic: the same model gives the same bytes), and stores
 * only what cannot be derived.  asm_fmodel_from_json() rebuilds the rest
 * (bandwidth and table use, port maps, the switch name index, free space)
 * and then runs asm_fmodel_check(): a document that describes an
 * impossible fabric is refused with the first broken rule, and nothing is
 * built.
 *
 * Costs: writing and reading are O(size of the document); reading also
 * pays one arena insertion per window and partition, O(log n) each.
 */
#include "asm-fjson-private.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* JSON out                                                             */

gboolean
asm_fjson_check_depth (const char *text, gsize len, guint max_depth,
                       GError **error)
{
  guint depth = 0;
  gboolean in_string = FALSE;

  for (gsize i = 0; i < len; i++)
    {
      char c = text[i];
      if (in_string)
        {
          if (c == '\\')
            i++; /* the escaped character */
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      if (c == '"')
        in_string = TRUE;
      else if (c == '[' || c == '{')
        {
          if (++depth > max_depth)
            {
              g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                           "JSON nested deeper than %u levels at byte %"
                           G_GSIZE_FORMAT, max_depth, i);
              return FALSE;
            }
        }
      else if ((c == ']' || c == '}') && depth > 0)
        depth--;
    }
  return TRUE;
}

void
asm_fjson_add_u64 (JsonBuilder *b, const char *key, guint64 v)
{
  g_autofree char *s = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x", v);
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, s);
}

void
asm_fjson_add_int (JsonBuilder *b, const char *key, gint64 v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_int_value (b, v);
}

void
asm_fjson_add_double (JsonBuilder *b, const char *key, gdouble v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, g_ascii_formatd (buf, sizeof buf, "%.17g",
                                                     v));
}

void
asm_fjson_add_str (JsonBuilder *b, const char *key, const char *v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, v);
}

void
asm_fjson_add_ranges (JsonBuilder *b, const char *key, GArray *ranges)
{
  json_builder_set_member_name (b, key);
  json_builder_begin_array (b);
  for (guint i = 0; i < ranges->len; i++)
    {
      AsmRange r = g_array_index (ranges, AsmRange, i);
      g_autofree char *f = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x",
                                            r.first);
      g_autofree char *l = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x",
                                            r.last);
      json_builder_begin_array (b);
      json_builder_add_string_value (b, f);
      json_builder_add_string_value (b, l);
      json_builder_end_array (b);
    }
  json_builder_end_array (b);
}

void
asm_fjson_add_ids (JsonBuilder *b, const char *key, GArray *ids)
{
  json_builder_set_member_name (b, key);
  json_builder_begin_array (b);
  for (guint i = 0; i < ids->len; i++)
    json_builder_add_int_value (b, g_array_index (ids, AsmId, i));
  json_builder_end_array (b);
}

static gboolean
collect_reserved (const AsmRange *seg, AsmSegmentKind kind, gpointer data)
{
  if (kind == ASM_SEGMENT_RESERVED)
    g_array_append_val ((GArray *) data, *seg);
  return TRUE;
}

static const char *const device_kinds[] = { "endpoint", "pf", "vf" };

static gboolean
switch_to_json (guint32 key, AsmPObj *o, gpointer data)
{
  JsonBuilder *b = data;
  FSwitch *s = (FSwitch *) o;

  json_builder_begin_object (b);
  asm_fjson_add_int (b, "id", s->id);
  asm_fjson_add_str (b, "name", s->name);
  asm_fjson_add_u64 (b, "bandwidth", s->bandwidth);
  asm_fjson_add_int (b, "latency_ns", s->latency_ns);
  asm_fjson_add_int (b, "table_capacity", s->table_capacity);
  asm_fjson_add_int (b, "n_ports", s->n_ports);
  json_builder_set_member_name (b, "pinned");
  json_builder_add_boolean_value (b, s->pinned);
  if (s->draining)
    {
      /* only when set: a fabric that never drained saves as before */
      json_builder_set_member_name (b, "draining");
      json_builder_add_boolean_value (b, TRUE);
    }
  asm_fjson_add_ranges (b, "windows", s->windows);
  json_builder_end_object (b);
  return TRUE;
}

static gboolean
device_to_json (guint32 key, AsmPObj *o, gpointer data)
{
  JsonBuilder *b = data;
  FDevice *d = (FDevice *) o;

  json_builder_begin_object (b);
  asm_fjson_add_int (b, "id", d->id);
  asm_fjson_add_str (b, "name", d->name);
  asm_fjson_add_str (b, "kind", device_kinds[d->kind]);
  asm_fjson_add_int (b, "switch", d->sw);
  asm_fjson_add_int (b, "port", d->port);
  asm_fjson_add_u64 (b, "bar_size", d->bar_size);
  if (d->kind == ASM_DEVICE_VF)
    {
      asm_fjson_add_int (b, "pf", d->pf);
      asm_fjson_add_int (b, "vf_index", d->vf_index);
    }
  if (d->kind == ASM_DEVICE_PF)
    {
      asm_fjson_add_int (b, "max_vfs", d->max_vfs);
      asm_fjson_add_u64 (b, "vf_bar_size", d->vf_bar_size);
    }
  asm_fjson_add_int (b, "partition", d->partition);
  asm_fjson_add_u64 (b, "partition_offset", d->partition_offset);
  asm_fjson_add_int (b, "redirect_switch", d->redirect_sw);
  asm_fjson_add_u64 (b, "redirect_base", d->redirect_base);
  json_builder_end_object (b);
  return TRUE;
}

static gboolean
workload_to_json (guint32 key, AsmPObj *o, gpointer data)
{
  JsonBuilder *b = data;
  FWorkload *w = (FWorkload *) o;

  json_builder_begin_object (b);
  asm_fjson_add_int (b, "id", w->id);
  asm_fjson_add_str (b, "name", w->name);
  asm_fjson_add_u64 (b, "n_samples", w->n_samples);
  asm_fjson_add_double (b, "level", w->level);
  asm_fjson_add_double (b, "trend", w->trend);
  asm_fjson_add_double (b, "last_time", w->last_time);
  json_builder_end_object (b);
  return TRUE;
}

static gboolean
partition_to_json (guint32 key, AsmPObj *o, gpointer data)
{
  JsonBuilder *b = data;
  FPartition *p = (FPartition *) o;

  json_builder_begin_object (b);
  asm_fjson_add_int (b, "id", p->id);
  asm_fjson_add_int (b, "workload", p->workload);
  asm_fjson_add_int (b, "switch", p->sw);
  asm_fjson_add_u64 (b, "virt_first", p->virt_first);
  asm_fjson_add_u64 (b, "phys_first", p->phys_first);
  asm_fjson_add_u64 (b, "size", p->size);
  asm_fjson_add_u64 (b, "align", p->align);
  asm_fjson_add_u64 (b, "bandwidth_demand", p->bandwidth_demand);
  asm_fjson_add_u64 (b, "min_bandwidth", p->min_bandwidth);
  asm_fjson_add_int (b, "max_latency_ns", p->max_latency_ns);
  asm_fjson_add_int (b, "generation", p->generation);
  asm_fjson_add_u64 (b, "dev_next", p->dev_next);
  asm_fjson_add_ids (b, "devices", p->devices);
  json_builder_end_object (b);
  return TRUE;
}

/* Writes "key": [...], the objects of @map in id order, each written by
 * @to_json: the four lists of the saved model. */
static void
add_objects (JsonBuilder *b, const char *key, const AsmPMap *map,
             AsmPMapForeachFunc to_json)
{
  json_builder_set_member_name (b, key);
  json_builder_begin_array (b);
  asm_pmap_foreach (map, to_json, b);
  json_builder_end_array (b);
}

JsonNode *
asm_fmodel_to_json (FModel *m, const char *name, guint64 journal_seq)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GArray) holes = g_array_new (FALSE, FALSE, sizeof (AsmRange));

  json_builder_begin_object (b);
  asm_fjson_add_str (b, "format", "asm-fabric");
  asm_fjson_add_int (b, "version", 1);
  asm_fjson_add_str (b, "name", name);
  asm_fjson_add_u64 (b, "granule", m->granule);
  asm_fjson_add_u64 (b, "window_granule", m->window_granule);
  asm_fjson_add_int (b, "next_id", m->next_id);
  asm_fjson_add_u64 (b, "journal_seq", journal_seq);
  asm_fjson_add_u64 (b, "global_first", m->global_span.first);
  asm_fjson_add_u64 (b, "global_last", m->global_span.last);
  if (!asm_arena_walk (m->global, collect_reserved, holes))
    ASM_BUG ("collecting the global space's holes stopped early");
  asm_fjson_add_ranges (b, "global_reserved", holes);
  add_objects (b, "switches", m->switches, switch_to_json);
  add_objects (b, "devices", m->devices, device_to_json);
  add_objects (b, "workloads", m->workloads, workload_to_json);
  add_objects (b, "partitions", m->partitions, partition_to_json);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* ------------------------------------------------------------------ */
/* JSON in                                                              */


void
asm_fjson_reader_init (FJsonReader *r, JsonNode *node, const char *path,
                       GError **error)
{
  r->path = path;
  r->error = error;
  r->failed = FALSE;
  r->seen = g_hash_table_new (g_str_hash, g_str_equal);
  r->obj = NULL;
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE, "%s: not an object",
                   path);
      r->failed = TRUE;
      return;
    }
  r->obj = json_node_get_object (node);
}

void
asm_fjson_reader_clear (FJsonReader *r)
{
  g_hash_table_unref (r->seen);
}

void
asm_fjson_reader_fail (FJsonReader *r, const char *key, const char *why)
{
  if (!r->failed)
    g_set_error (r->error, ASM_ERROR, ASM_ERROR_PARSE, "%s.%s: %s", r->path,
                 key, why);
  r->failed = TRUE;
}

JsonNode *
asm_fjson_reader_member (FJsonReader *r, const char *key)
{
  JsonNode *n;

  if (r->failed)
    return NULL;
  g_hash_table_add (r->seen, (gpointer) key);
  n = json_object_get_member (r->obj, key);
  if (n == NULL)
    asm_fjson_reader_fail (r, key, "missing");
  return n;
}

/* The member @key of @r when it is a JSON value of @type, or NULL: a
 * missing member has failed the reader already (asm_fjson_reader_member()),
 * a member of another type fails it here with @expected.  The first check
 * of every scalar reader below. */
static JsonNode *
reader_scalar (FJsonReader *r, const char *key, GType type,
               const char *expected)
{
  JsonNode *n = asm_fjson_reader_member (r, key);

  if (n == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != type)
    {
      asm_fjson_reader_fail (r, key, expected);
      return NULL;
    }
  return n;
}

guint64
asm_fjson_reader_u64 (FJsonReader *r, const char *key)
{
  JsonNode *n =
      reader_scalar (r, key, G_TYPE_STRING, "expected a \"0x...\" string");
  const char *s;
  guint64 v;
  char *end;

  if (n == NULL)
    return 0;
  s = json_node_get_string (n);
  if (!g_str_has_prefix (s, "0x") || s[2] == '\0')
    {
      asm_fjson_reader_fail (r, key, "expected a \"0x...\" string");
      return 0;
    }
  errno = 0;
  v = g_ascii_strtoull (s + 2, &end, 16);
  if (errno != 0 || *end != '\0')
    {
      asm_fjson_reader_fail (r, key, "not a 64-bit hexadecimal number");
      return 0;
    }
  return v;
}

gint64
asm_fjson_reader_int (FJsonReader *r, const char *key, gint64 min, gint64 max)
{
  JsonNode *n = reader_scalar (r, key, G_TYPE_INT64, "expected an integer");
  gint64 v;

  if (n == NULL)
    return 0;
  v = json_node_get_int (n);
  if (v < min || v > max)
    {
      g_autofree char *why = g_strdup_printf (
          "%" G_GINT64_FORMAT " is out of range %" G_GINT64_FORMAT
          "..%" G_GINT64_FORMAT, v, min, max);
      asm_fjson_reader_fail (r, key, why);
      return 0;
    }
  return v;
}

gdouble
asm_fjson_reader_double (FJsonReader *r, const char *key)
{
  JsonNode *n =
      reader_scalar (r, key, G_TYPE_STRING, "expected a number as a string");
  const char *s;
  char *end;
  gdouble v;

  if (n == NULL)
    return 0;
  s = json_node_get_string (n);
  v = g_ascii_strtod (s, &end);
  if (end == s || *end != '\0' || !isfinite (v))
    {
      asm_fjson_reader_fail (r, key, "not a finite number");
      return 0;
    }
  return v;
}

const char *
asm_fjson_reader_str (FJsonReader *r, const char *key)
{
  JsonNode *n = reader_scalar (r, key, G_TYPE_STRING, "expected a string");

  if (n == NULL)
    return NULL;
  return json_node_get_string (n);
}

gboolean
asm_fjson_reader_bool (FJsonReader *r, const char *key)
{
  JsonNode *n =
      reader_scalar (r, key, G_TYPE_BOOLEAN, "expected true or false");

  if (n == NULL)
    return FALSE;
  return json_node_get_boolean (n);
}

JsonArray *
asm_fjson_reader_array (FJsonReader *r, const char *key)
{
  JsonNode *n = asm_fjson_reader_member (r, key);

  if (n == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (n))
    {
      asm_fjson_reader_fail (r, key, "expected an array");
      return NULL;
    }
  return json_node_get_array (n);
}

static gboolean
parse_hex_string (JsonNode *n, guint64 *out)
{
  const char *s;
  char *end;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) ||
      json_node_get_value_type (n) != G_TYPE_STRING)
    return FALSE;
  s = json_node_get_string (n);
  if (!g_str_has_prefix (s, "0x") || s[2] == '\0')
    return FALSE;
  errno = 0;
  *out = g_ascii_strtoull (s + 2, &end, 16);
  return errno == 0 && *end == '\0';
}

GArray *
asm_fjson_reader_ranges (FJsonReader *r, const char *key)
{
  JsonArray *a = asm_fjson_reader_array (r, key);
  GArray *out;

  if (a == NULL)
    return NULL;
  out = g_array_new (FALSE, FALSE, sizeof (AsmRange));
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      AsmRange range;
      if (!JSON_NODE_HOLDS_ARRAY (e) ||
          json_array_get_length (json_node_get_array (e)) != 2 ||
          !parse_hex_string (json_array_get_element (json_node_get_array (e),
                                                     0),
                             &range.first) ||
          !parse_hex_string (json_array_get_element (json_node_get_array (e),
                                                     1),
                             &range.last) ||
          range.first > range.last)
        {
          g_autofree char *why = g_strdup_printf (
              "element %u is not a [\"0x<first>\", \"0x<last>\"] range", i);
          asm_fjson_reader_fail (r, key, why);
          g_array_unref (out);
          return NULL;
        }
      g_array_append_val (out, range);
    }
  return out;
}

GArray *
asm_fjson_reader_ids (FJsonReader *r, const char *key)
{
  JsonArray *a = asm_fjson_reader_array (r, key);
  GArray *out;

  if (a == NULL)
    return NULL;
  out = g_array_new (FALSE, FALSE, sizeof (AsmId));
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      gint64 v;
      if (!JSON_NODE_HOLDS_VALUE (e) ||
          json_node_get_value_type (e) != G_TYPE_INT64 ||
          (v = json_node_get_int (e)) < 1 || v > G_MAXUINT32)
        {
          g_autofree char *why = g_strdup_printf ("element %u is not an id", i);
          asm_fjson_reader_fail (r, key, why);
          g_array_unref (out);
          return NULL;
        }
      {
        AsmId id = (AsmId) v;
        g_array_append_val (out, id);
      }
    }
  return out;
}

gboolean
asm_fjson_reader_done (FJsonReader *r)
{
  JsonObjectIter it;
  const char *name;
  JsonNode *node;

  if (r->failed)
    return FALSE;
  json_object_iter_init (&it, r->obj);
  while (json_object_iter_next (&it, &name, &node))
    if (!g_hash_table_contains (r->seen, name))
      {
        asm_fjson_reader_fail (r, name, "unknown key");
        return FALSE;
      }
  return TRUE;
}

/* Ends reading one object: refuses a key nobody asked for
 * (asm_fjson_reader_done()) and frees the reader either way.  TRUE when
 * the object was read without a failure. */
static gboolean
reader_finish (FJsonReader *r)
{
  gboolean ok = asm_fjson_reader_done (r);

  asm_fjson_reader_clear (r);
  return ok;
}

/* fail with a model-level message */
#define MODEL_FAIL(...)                                                       \
  G_STMT_START                                                                \
  {                                                                           \
    g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE, __VA_ARGS__);             \
    goto fail;                                                                \
  }                                                                           \
  G_STMT_END



/* A name read from a save obeys the rule new names obey
 * (asm_fmodel_check_name()); a missing one has failed the reader already. */
static gboolean
check_name (FJsonReader *r, const char *what, const char *name, gsize max)
{
  g_autoptr (GError) local = NULL;

  if (name == NULL)
    return FALSE;
  if (!asm_fmodel_check_name (what, name, max, &local))
    {
      asm_fjson_reader_fail (r, "name", local->message);
      return FALSE;
    }
  return TRUE;
}

FModel *
asm_fmodel_from_json (JsonNode *root, guint64 *out_journal_seq,
                      char **out_name, GError **error)
{
  FJsonReader top;
  FModel *m = NULL;
  guint64 granule, window_granule, first, last;
  gint64 next_id;
  const char *format;
  g_autoptr (GArray) holes = NULL;
  JsonArray *switches, *devices, *workloads, *partitions;

  asm_fjson_reader_init (&top, root, "$", error);
  if (top.failed)
    {
      asm_fjson_reader_clear (&top);
      return NULL;
    }
  format = asm_fjson_reader_str (&top, "format");
  if (format != NULL && strcmp (format, "asm-fabric") != 0)
    asm_fjson_reader_fail (&top, "format", "is not \"asm-fabric\"");
  asm_fjson_reader_int (&top, "version", 1, 1);
  /* the fabric's name, optional: saves made before it was kept have none */
  if (json_object_has_member (top.obj, "name"))
    {
      const char *name = asm_fjson_reader_str (&top, "name");
      if (check_name (&top, "fabric", name, ASM_FMODEL_NAME_MAX))
        *out_name = g_strdup (name);
    }
  granule = asm_fjson_reader_u64 (&top, "granule");
  window_granule = asm_fjson_reader_u64 (&top, "window_granule");
  next_id = asm_fjson_reader_int (&top, "next_id", 1, G_MAXUINT32);
  *out_journal_seq = asm_fjson_reader_u64 (&top, "journal_seq");
  first = asm_fjson_reader_u64 (&top, "global_first");
  last = asm_fjson_reader_u64 (&top, "global_last");
  holes = asm_fjson_reader_ranges (&top, "global_reserved");
  switches = asm_fjson_reader_array (&top, "switches");
  devices = asm_fjson_reader_array (&top, "devices");
  workloads = asm_fjson_reader_array (&top, "workloads");
  partitions = asm_fjson_reader_array (&top, "partitions");
  if (!reader_finish (&top))
    return NULL;

  if (!asm_is_pow2 (granule) || !asm_is_pow2 (window_granule) ||
      window_granule < granule)
    MODEL_FAIL ("$.granule: 0x%" G_GINT64_MODIFIER "x / window_granule 0x%"
                G_GINT64_MODIFIER "x are not powers of two with window_granule"
                " >= granule", granule, window_granule);
  if (first > last || (first & (granule - 1)) ||
      ((last + 1) & (granule - 1)))
    MODEL_FAIL ("$.global_first: the global space 0x%" G_GINT64_MODIFIER
                "x-0x%" G_GINT64_MODIFIER "x is empty or not on granule "
                "boundaries", first, last);
  m = asm_fmodel_new (first, last, granule);
  m->window_granule = window_granule;
  m->next_id = (AsmId) next_id;
  for (guint i = 0; i < holes->len; i++)
    {
      AsmRange h = g_array_index (holes, AsmRange, i);
      if (!asm_arena_reserve (m->global, h.first, h.last, NULL))
        MODEL_FAIL ("$.global_reserved[%u]: 0x%" G_GINT64_MODIFIER "x-0x%"
                    G_GINT64_MODIFIER "x cannot be reserved", i, h.first,
                    h.last);
    }

  for (guint i = 0; i < json_array_get_length (switches); i++)
    {
      g_autofree char *path = g_strdup_printf ("$.switches[%u]", i);
      FJsonReader r;
      FSwitch *s = asm_fswitch_new ();
      g_autoptr (GArray) windows = NULL;
      const char *name;

      asm_fjson_reader_init (&r, json_array_get_element (switches, i), path,
                             error);
      s->id = (AsmId) asm_fjson_reader_int (&r, "id", 1, next_id - 1);
      name = asm_fjson_reader_str (&r, "name");
      check_name (&r, "switch", name, ASM_FMODEL_NAME_MAX);
      s->bandwidth = asm_fjson_reader_u64 (&r, "bandwidth");
      s->latency_ns =
          (guint32) asm_fjson_reader_int (&r, "latency_ns", 0, G_MAXUINT32);
      s->table_capacity =
          (guint32) asm_fjson_reader_int (&r, "table_capacity", 0, G_MAXUINT32);
      s->n_ports = (guint32) asm_fjson_reader_int (&r, "n_ports", 0, 65536);
      s->pinned = asm_fjson_reader_bool (&r, "pinned");
      if (r.obj != NULL && json_object_has_member (r.obj, "draining"))
        s->draining = asm_fjson_reader_bool (&r, "draining");
      windows = asm_fjson_reader_ranges (&r, "windows");
      if (!reader_finish (&r))
        {
          asm_pobj_unref (&s->obj, asm_fswitch_free);
          goto fail;
        }
      s->name = g_strdup (name);
      s->space = asm_arena_new (name, granule);
      s->ports = g_new0 (AsmId, MAX (s->n_ports, 1));
      if (asm_pmap_get (m->switches, s->id) != NULL)
        {
          AsmId dup = s->id;
          asm_pobj_unref (&s->obj, asm_fswitch_free);
          MODEL_FAIL ("%s.id: %u is used twice", path, dup);
        }
      if (s->name[0] == '\0' || asm_fmodel_find_switch (m, s->name) != NULL)
        {
          g_autofree char *dup = g_strescape (s->name, NULL);
          asm_pobj_unref (&s->obj, asm_fswitch_free);
          MODEL_FAIL ("%s.name: '%s' is empty or used twice", path, dup);
        }
      asm_fmodel_insert_switch (m, s);
      for (guint j = 0; j < windows->len; j++)
        {
          AsmRange w = g_array_index (windows, AsmRange, j);
          if (!asm_arena_add_span (s->space, w.first, w.last, NULL) ||
              !asm_fmodel_alloc_exact (m->global, w.first,
                                       w.last - w.first + 1))
            MODEL_FAIL ("%s.windows[%u]: 0x%" G_GINT64_MODIFIER "x-0x%"
                        G_GINT64_MODIFIER "x overlaps another window or a "
                        "reserved range, is outside the global space, or is "
                        "not on granule boundaries", path, j, w.first, w.last);
          g_array_append_val (s->windows, w);
        }
    }

  for (guint i = 0; i < json_array_get_length (workloads); i++)
    {
      g_autofree char *path = g_strdup_printf ("$.workloads[%u]", i);
      FJsonReader r;
      FWorkload *w = asm_fworkload_new (granule);
      const char *name;

      asm_fjson_reader_init (&r, json_array_get_element (workloads, i), path,
                             error);
      w->id = (AsmId) asm_fjson_reader_int (&r, "id", 1, next_id - 1);
      name = asm_fjson_reader_str (&r, "name");
      check_name (&r, "workload", name, ASM_FMODEL_NAME_MAX);
      w->n_samples = asm_fjson_reader_u64 (&r, "n_samples");
      w->level = asm_fjson_reader_double (&r, "level");
      w->trend = asm_fjson_reader_double (&r, "trend");
      w->last_time = asm_fjson_reader_double (&r, "last_time");
      if (!reader_finish (&r))
        {
          asm_pobj_unref (&w->obj, asm_fworkload_free);
          goto fail;
        }
      w->name = g_strdup (name);
      if (asm_pmap_get (m->workloads, w->id) != NULL)
        {
          AsmId dup = w->id;
          asm_pobj_unref (&w->obj, asm_fworkload_free);
          MODEL_FAIL ("%s.id: %u is used twice", path, dup);
        }
      asm_pmap_insert (m->workloads, w->id, &w->obj);
    }

  for (guint i = 0; i < json_array_get_length (partitions); i++)
    {
      g_autofree char *path = g_strdup_printf ("$.partitions[%u]", i);
      FJsonReader r;
      FPartition *p = asm_fpartition_new ();
      g_autoptr (GArray) devs = NULL;
      FSwitch *s;
      FWorkload *w;

      asm_fjson_reader_init (&r, json_array_get_element (partitions, i), path,
                             error);
      p->id = (AsmId) asm_fjson_reader_int (&r, "id", 1, next_id - 1);
      p->workload =
          (AsmId) asm_fjson_reader_int (&r, "workload", 1, next_id - 1);
      p->sw = (AsmId) asm_fjson_reader_int (&r, "switch", 1, next_id - 1);
      p->virt_first = asm_fjson_reader_u64 (&r, "virt_first");
      p->phys_first = asm_fjson_reader_u64 (&r, "phys_first");
      p->size = asm_fjson_reader_u64 (&r, "size");
      p->align = asm_fjson_reader_u64 (&r, "align");
      p->bandwidth_demand = asm_fjson_reader_u64 (&r, "bandwidth_demand");
      p->min_bandwidth = asm_fjson_reader_u64 (&r, "min_bandwidth");
      p->max_latency_ns =
          (guint32) asm_fjson_reader_int (&r, "max_latency_ns", 0, G_MAXUINT32);
      p->generation =
          (guint32) asm_fjson_reader_int (&r, "generation", 0, G_MAXUINT32);
      p->dev_next = asm_fjson_reader_u64 (&r, "dev_next");
      devs = asm_fjson_reader_ids (&r, "devices");
      if (!reader_finish (&r))
        {
          asm_pobj_unref (&p->obj, asm_fpartition_free);
          goto fail;
        }
      g_array_append_vals (p->devices, devs->data, devs->len);
      if (asm_pmap_get (m->partitions, p->id) != NULL ||
          (s = FSW_W (m, p->sw)) == NULL ||
          (w = FWL_W (m, p->workload)) == NULL)
        {
          AsmId id = p->id;
          asm_pobj_unref (&p->obj, asm_fpartition_free);
          MODEL_FAIL ("%s: id %u is used twice, or its switch or workload "
                      "does not exist", path, id);
        }
      if (p->size == 0 ||
          !asm_fmodel_alloc_exact (s->space, p->phys_first, p->size) ||
          (p->virt_first & (ASM_FABRIC_VIRT_ALIGN - 1)) != 0 ||
          !asm_fmodel_alloc_exact (w->virt, p->virt_first,
                                   ASM_FABRIC_VIRT_ALIGN))
        {
          asm_pobj_unref (&p->obj, asm_fpartition_free);
          MODEL_FAIL ("%s: its physical or virtual range overlaps another "
                      "or lies outside its switch's windows", path);
        }
      s->n_partitions++;
      s->bandwidth_used += p->bandwidth_demand;
      s->table_used++;
      {
        guint pos = 0;
        while (pos < w->partitions->len &&
               FPART (m, g_array_index (w->partitions, AsmId, pos))->virt_first
                   < p->virt_first)
          pos++;
        g_array_insert_val (w->partitions, pos, p->id);
      }
      asm_pmap_insert (m->partitions, p->id, &p->obj);
    }

  for (guint i = 0; i < json_array_get_length (devices); i++)
    {
      g_autofree char *path = g_strdup_printf ("$.devices[%u]", i);
      FJsonReader r;
      FDevice *d = asm_fdevice_new ();
      const char *name, *kind;
      gboolean known_kind = FALSE;

      asm_fjson_reader_init (&r, json_array_get_element (devices, i), path,
                             error);
      d->id = (AsmId) asm_fjson_reader_int (&r, "id", 1, next_id - 1);
      name = asm_fjson_reader_str (&r, "name");
      check_name (&r, "device", name, ASM_FMODEL_NAME_MAX + 16);
      kind = asm_fjson_reader_str (&r, "kind");
      for (guint k = 0; kind != NULL && k < G_N_ELEMENTS (device_kinds); k++)
        if (strcmp (kind, device_kinds[k]) == 0)
          d->kind = k, known_kind = TRUE;
      if (kind != NULL && !known_kind)
        asm_fjson_reader_fail (&r, "kind", "is not endpoint, pf or vf");
      d->sw = (AsmId) asm_fjson_reader_int (&r, "switch", 1, next_id - 1);
      d->port = (guint32) asm_fjson_reader_int (&r, "port", 0, 65535);
      d->bar_size = asm_fjson_reader_u64 (&r, "bar_size");
      if (known_kind && d->kind == ASM_DEVICE_VF)
        {
          d->pf = (AsmId) asm_fjson_reader_int (&r, "pf", 1, next_id - 1);
          d->vf_index = (guint32) asm_fjson_reader_int (&r, "vf_index", 0, 63);
        }
      if (known_kind && d->kind == ASM_DEVICE_PF)
        {
          d->max_vfs = (guint32) asm_fjson_reader_int (&r, "max_vfs", 0, 64);
          d->vf_bar_size = asm_fjson_reader_u64 (&r, "vf_bar_size");
        }
      d->partition =
          (AsmId) asm_fjson_reader_int (&r, "partition", 0, next_id - 1);
      d->partition_offset = asm_fjson_reader_u64 (&r, "partition_offset");
      d->redirect_sw = (AsmId) asm_fjson_reader_int (&r, "redirect_switch", 0,
                                           next_id - 1);
      d->redirect_base = asm_fjson_reader_u64 (&r, "redirect_base");
      if (!reader_finish (&r))
        {
          asm_pobj_unref (&d->obj, asm_fdevice_free);
          goto fail;
        }
      d->name = g_strdup (name);
      if (asm_pmap_get (m->devices, d->id) != NULL)
        {
          AsmId dup = d->id;
          asm_pobj_unref (&d->obj, asm_fdevice_free);
          MODEL_FAIL ("%s.id: %u is used twice", path, dup);
        }
      asm_pmap_insert (m->devices, d->id, &d->obj);
    }

  /* second pass over devices: ports, VF slots, redirects */
  for (guint i = 0; i < json_array_get_length (devices); i++)
    {
      AsmId id = (AsmId) json_object_get_int_member (
          json_node_get_object (json_array_get_element (devices, i)), "id");
      FDevice *d = FDEV (m, id);
      FSwitch *s = FSW_W (m, d->sw);

      if (s == NULL)
        MODEL_FAIL ("$.devices[%u].switch: switch %u does not exist", i, d->sw);
      if (d->kind == ASM_DEVICE_VF)
        {
          FDevice *pf = FDEV_W (m, d->pf);
          if (pf == NULL || pf->kind != ASM_DEVICE_PF ||
              d->vf_index >= pf->max_vfs ||
              (pf->vf_used & (G_GUINT64_CONSTANT (1) << d->vf_index)))
            MODEL_FAIL ("$.devices[%u]: VF %u of PF %u is not a free VF slot",
                        i, d->vf_index, d->pf);
          pf->vf_used |= G_GUINT64_CONSTANT (1) << d->vf_index;
        }
      else
        {
          if (d->port >= s->n_ports || s->ports[d->port] != ASM_ID_NONE)
            MODEL_FAIL ("$.devices[%u].port: port %u of switch %u is out of "
                        "range or taken", i, d->port, d->sw);
          s->ports[d->port] = d->id;
        }
      if (d->redirect_sw != ASM_ID_NONE)
        {
          FSwitch *rs = FSW_W (m, d->redirect_sw);
          if (rs == NULL || d->partition == ASM_ID_NONE ||
              !asm_fmodel_alloc_exact (rs->space, d->redirect_base,
                            asm_fmodel_redirect_bytes (m, d)))
            MODEL_FAIL ("$.devices[%u].redirect_base: 0x%" G_GINT64_MODIFIER
                        "x is not free in switch %u's windows", i,
                        d->redirect_base, d->redirect_sw);
          rs->table_used++;
        }
    }
  if (!asm_fmodel_check (m, error))
    {
      g_prefix_error (error, "$: ");
      if (error != NULL && *error != NULL)
        (*error)->code = ASM_ERROR_PARSE;
      goto fail;
    }
  return m;

fail:
  asm_fmodel_unref (m);
  return NULL;
}
