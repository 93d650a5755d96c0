/* asm-fmodel.c: the fabric's model: objects, O(1) copies, JSON, invariants
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * An FModel is one complete, self-consistent state of a fabric: the global
 * arena, and the switches, devices, workloads and partitions in persistent
 * maps (asm-pmap.c).  asm_fmodel_clone() is O(1): it clones the arena and
 * the four maps; objects are copied one by one when a clone writes them
 * (FSW_W() and friends), and an object copy clones its arenas (O(1)) and
 * copies its small arrays.  So a transaction can plan on a private model
 * while readers keep using the published one, and throwing a plan away
 * costs nothing but the copies it made.
 *
 * The JSON form (asm_fmodel_to_json) is the persistent state: versioned,
 * every object in id order, u64 values as "0x..." strings (JSON numbers are
 * not exact beyond 2^53), doubles as "%.17g" strings (exact round trip).
 * Derived values (bandwidth and table use, port maps, free space) are not
 * stored: asm_fmodel_from_json() rebuilds them and then runs
 * asm_fmodel_check(), so a document that describes an impossible fabric is
 * refused with the first broken rule, and nothing is built.  Unknown keys
 * are errors: a misspelt key must not silently become a default.
 */
#include "asm-fabric-private.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* objects                                                              */

/* Copies *src into *dst from `first_field` on, leaving out the reference
 * count before it: other threads may change that count (atomically) while
 * we copy, and a plain read of it would be a data race.  The caller sets
 * the copy's count. */
#define COPY_BODY(dst, src, type, first_field)                                \
  memcpy ((char *) (dst) + G_STRUCT_OFFSET (type, first_field),               \
          (const char *) (src) + G_STRUCT_OFFSET (type, first_field),         \
          sizeof (type) - G_STRUCT_OFFSET (type, first_field))

static AsmPObj *
fswitch_copy (const AsmPObj *o)
{
  const FSwitch *s = (const FSwitch *) o;
  FSwitch *c = g_new (FSwitch, 1);

  COPY_BODY (c, s, FSwitch, id);
  c->name = g_strdup (s->name);
  c->windows = g_array_copy (s->windows);
  c->space = asm_arena_clone (s->space, s->name);
  c->ports = g_memdup2 (s->ports, sizeof (AsmId) * MAX (s->n_ports, 1));
  return &c->obj;
}

static void
fswitch_free (AsmPObj *o)
{
  FSwitch *s = (FSwitch *) o;
  g_free (s->name);
  g_array_unref (s->windows);
  asm_arena_unref (s->space);
  g_free (s->ports);
  g_free (s);
}

FSwitch *
asm_fswitch_new (void)
{
  FSwitch *s = g_new0 (FSwitch, 1);
  s->obj.ref = 1;
  s->windows = g_array_new (FALSE, FALSE, sizeof (AsmRange));
  return s;
}

static AsmPObj *
fdevice_copy (const AsmPObj *o)
{
  FDevice *c = g_new (FDevice, 1);
  COPY_BODY (c, (const FDevice *) o, FDevice, id);
  c->name = g_strdup (((const FDevice *) o)->name);
  return &c->obj;
}

static void
fdevice_free (AsmPObj *o)
{
  g_free (((FDevice *) o)->name);
  g_free (o);
}

FDevice *
asm_fdevice_new (void)
{
  FDevice *d = g_new0 (FDevice, 1);
  d->obj.ref = 1;
  return d;
}

static AsmPObj *
fworkload_copy (const AsmPObj *o)
{
  const FWorkload *w = (const FWorkload *) o;
  FWorkload *c = g_new (FWorkload, 1);

  COPY_BODY (c, w, FWorkload, id);
  c->name = g_strdup (w->name);
  c->virt = asm_arena_clone (w->virt, w->name);
  c->partitions = g_array_copy (w->partitions);
  return &c->obj;
}

static void
fworkload_free (AsmPObj *o)
{
  FWorkload *w = (FWorkload *) o;
  g_free (w->name);
  asm_arena_unref (w->virt);
  g_array_unref (w->partitions);
  g_free (w);
}

FWorkload *
asm_fworkload_new (guint64 granule)
{
  FWorkload *w = g_new0 (FWorkload, 1);
  GError *err = NULL;

  w->obj.ref = 1;
  w->virt = asm_arena_new ("virtual", granule);
  if (!asm_arena_add_span (w->virt, ASM_FABRIC_VIRT_FIRST,
                           ASM_FABRIC_VIRT_LAST, &err))
    g_error ("%s", err->message);
  w->partitions = g_array_new (FALSE, FALSE, sizeof (AsmId));
  return w;
}

static AsmPObj *
fpartition_copy (const AsmPObj *o)
{
  const FPartition *p = (const FPartition *) o;
  FPartition *c = g_new (FPartition, 1);

  COPY_BODY (c, p, FPartition, id);
  c->devices = g_array_copy (p->devices);
  return &c->obj;
}

static void
fpartition_free (AsmPObj *o)
{
  g_array_unref (((FPartition *) o)->devices);
  g_free (o);
}

FPartition *
asm_fpartition_new (void)
{
  FPartition *p = g_new0 (FPartition, 1);
  p->obj.ref = 1;
  p->devices = g_array_new (FALSE, FALSE, sizeof (AsmId));
  return p;
}

void
asm_fpartition_entry (const FPartition *p, AsmXlatEntry *out)
{
  out->key = p->id;
  out->partition = p->id;
  out->workload = p->workload;
  out->virt_first = p->virt_first;
  out->size = p->size;
  out->offset = p->phys_first - p->virt_first;
}

void
asm_fdevice_entry (const FModel *m, const FDevice *d, AsmXlatEntry *out)
{
  const FPartition *p = FPART (m, d->partition);

  out->key = d->id;
  out->partition = d->partition;
  out->workload = p ? p->workload : ASM_ID_NONE;
  out->virt_first = (p ? p->virt_first : 0) + d->partition_offset;
  out->size = d->bar_size;
  out->offset = d->redirect_base - out->virt_first;
}

/* ------------------------------------------------------------------ */
/* the model                                                            */

FModel *
asm_fmodel_new (guint64 first, guint64 last, guint64 granule)
{
  FModel *m = g_new0 (FModel, 1);
  GError *err = NULL;

  m->ref = 1;
  m->granule = granule;
  m->window_granule = granule;
  m->next_id = 1;
  m->global = asm_arena_new ("global", granule);
  m->global_span = ASM_RANGE (first, last);
  if (!asm_arena_add_span (m->global, first, last, &err))
    g_error ("%s", err->message); /* validated by the caller */
  m->switches = asm_pmap_new (fswitch_copy, fswitch_free);
  m->devices = asm_pmap_new (fdevice_copy, fdevice_free);
  m->workloads = asm_pmap_new (fworkload_copy, fworkload_free);
  m->partitions = asm_pmap_new (fpartition_copy, fpartition_free);
  return m;
}

FModel *
asm_fmodel_clone (FModel *m)
{
  FModel *c = g_new (FModel, 1);

  COPY_BODY (c, m, FModel, granule);
  c->ref = 1;
  c->global = asm_arena_clone (m->global, "global");
  c->switches = asm_pmap_clone (m->switches);
  c->devices = asm_pmap_clone (m->devices);
  c->workloads = asm_pmap_clone (m->workloads);
  c->partitions = asm_pmap_clone (m->partitions);
  return c;
}

FModel *
asm_fmodel_ref (FModel *m)
{
  g_atomic_int_inc (&m->ref);
  return m;
}

void
asm_fmodel_unref (FModel *m)
{
  if (m == NULL || !g_atomic_int_dec_and_test (&m->ref))
    return;
  asm_arena_unref (m->global);
  asm_pmap_free (m->switches);
  asm_pmap_free (m->devices);
  asm_pmap_free (m->workloads);
  asm_pmap_free (m->partitions);
  g_free (m);
}

/* ------------------------------------------------------------------ */
/* JSON out                                                             */

static void
add_u64 (JsonBuilder *b, const char *key, guint64 v)
{
  g_autofree char *s = g_strdup_printf ("0x%" G_GINT64_MODIFIER "x", v);
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, s);
}

static void
add_int (JsonBuilder *b, const char *key, gint64 v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_int_value (b, v);
}

static void
add_double (JsonBuilder *b, const char *key, gdouble v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, g_ascii_formatd (buf, sizeof buf, "%.17g",
                                                     v));
}

static void
add_str (JsonBuilder *b, const char *key, const char *v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, v);
}

static void
add_ranges (JsonBuilder *b, const char *key, GArray *ranges)
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

static void
add_ids (JsonBuilder *b, const char *key, GArray *ids)
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
  add_int (b, "id", s->id);
  add_str (b, "name", s->name);
  add_u64 (b, "bandwidth", s->bandwidth);
  add_int (b, "latency_ns", s->latency_ns);
  add_int (b, "table_capacity", s->table_capacity);
  add_int (b, "n_ports", s->n_ports);
  json_builder_set_member_name (b, "pinned");
  json_builder_add_boolean_value (b, s->pinned);
  add_ranges (b, "windows", s->windows);
  json_builder_end_object (b);
  return TRUE;
}

static gboolean
device_to_json (guint32 key, AsmPObj *o, gpointer data)
{
  JsonBuilder *b = data;
  FDevice *d = (FDevice *) o;

  json_builder_begin_object (b);
  add_int (b, "id", d->id);
  add_str (b, "name", d->name);
  add_str (b, "kind", device_kinds[d->kind]);
  add_int (b, "switch", d->sw);
  add_int (b, "port", d->port);
  add_u64 (b, "bar_size", d->bar_size);
  if (d->kind == ASM_DEVICE_VF)
    {
      add_int (b, "pf", d->pf);
      add_int (b, "vf_index", d->vf_index);
    }
  if (d->kind == ASM_DEVICE_PF)
    {
      add_int (b, "max_vfs", d->max_vfs);
      add_u64 (b, "vf_bar_size", d->vf_bar_size);
    }
  add_int (b, "partition", d->partition);
  add_u64 (b, "partition_offset", d->partition_offset);
  add_int (b, "redirect_switch", d->redirect_sw);
  add_u64 (b, "redirect_base", d->redirect_base);
  json_builder_end_object (b);
  return TRUE;
}

static gboolean
workload_to_json (guint32 key, AsmPObj *o, gpointer data)
{
  JsonBuilder *b = data;
  FWorkload *w = (FWorkload *) o;

  json_builder_begin_object (b);
  add_int (b, "id", w->id);
  add_str (b, "name", w->name);
  add_u64 (b, "n_samples", w->n_samples);
  add_double (b, "level", w->level);
  add_double (b, "trend", w->trend);
  add_double (b, "last_time", w->last_time);
  json_builder_end_object (b);
  return TRUE;
}

static gboolean
partition_to_json (guint32 key, AsmPObj *o, gpointer data)
{
  JsonBuilder *b = data;
  FPartition *p = (FPartition *) o;

  json_builder_begin_object (b);
  add_int (b, "id", p->id);
  add_int (b, "workload", p->workload);
  add_int (b, "switch", p->sw);
  add_u64 (b, "virt_first", p->virt_first);
  add_u64 (b, "phys_first", p->phys_first);
  add_u64 (b, "size", p->size);
  add_u64 (b, "align", p->align);
  add_u64 (b, "bandwidth_demand", p->bandwidth_demand);
  add_u64 (b, "min_bandwidth", p->min_bandwidth);
  add_int (b, "max_latency_ns", p->max_latency_ns);
  add_int (b, "generation", p->generation);
  add_u64 (b, "dev_next", p->dev_next);
  add_ids (b, "devices", p->devices);
  json_builder_end_object (b);
  return TRUE;
}

JsonNode *
asm_fmodel_to_json (FModel *m, guint64 journal_seq)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GArray) holes = g_array_new (FALSE, FALSE, sizeof (AsmRange));

  json_builder_begin_object (b);
  add_str (b, "format", "asm-fabric");
  add_int (b, "version", 1);
  add_u64 (b, "granule", m->granule);
  add_u64 (b, "window_granule", m->window_granule);
  add_int (b, "next_id", m->next_id);
  add_u64 (b, "journal_seq", journal_seq);
  add_u64 (b, "global_first", m->global_span.first);
  add_u64 (b, "global_last", m->global_span.last);
  asm_arena_walk (m->global, collect_reserved, holes);
  add_ranges (b, "global_reserved", holes);
  json_builder_set_member_name (b, "switches");
  json_builder_begin_array (b);
  asm_pmap_foreach (m->switches, switch_to_json, b);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "devices");
  json_builder_begin_array (b);
  asm_pmap_foreach (m->devices, device_to_json, b);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "workloads");
  json_builder_begin_array (b);
  asm_pmap_foreach (m->workloads, workload_to_json, b);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "partitions");
  json_builder_begin_array (b);
  asm_pmap_foreach (m->partitions, partition_to_json, b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* ------------------------------------------------------------------ */
/* JSON in                                                              */

/* A reader over one JSON object: every lookup records the key, and
 * reader_done() refuses keys nobody asked for. */
typedef struct {
  JsonObject *obj;
  const char *path;
  GHashTable *seen;
  GError **error;
  gboolean failed;
} Reader;

static void
reader_init (Reader *r, JsonNode *node, const char *path, GError **error)
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

static void
reader_clear (Reader *r)
{
  g_hash_table_unref (r->seen);
}

static void
reader_fail (Reader *r, const char *key, const char *why)
{
  if (!r->failed)
    g_set_error (r->error, ASM_ERROR, ASM_ERROR_PARSE, "%s.%s: %s", r->path,
                 key, why);
  r->failed = TRUE;
}

static JsonNode *
reader_member (Reader *r, const char *key)
{
  JsonNode *n;

  if (r->failed)
    return NULL;
  g_hash_table_add (r->seen, (gpointer) key);
  n = json_object_get_member (r->obj, key);
  if (n == NULL)
    reader_fail (r, key, "missing");
  return n;
}

static guint64
reader_u64 (Reader *r, const char *key)
{
  JsonNode *n = reader_member (r, key);
  const char *s;
  guint64 v;
  char *end;

  if (n == NULL)
    return 0;
  if (!JSON_NODE_HOLDS_VALUE (n) ||
      json_node_get_value_type (n) != G_TYPE_STRING)
    {
      reader_fail (r, key, "expected a \"0x...\" string");
      return 0;
    }
  s = json_node_get_string (n);
  if (!g_str_has_prefix (s, "0x") || s[2] == '\0')
    {
      reader_fail (r, key, "expected a \"0x...\" string");
      return 0;
    }
  errno = 0;
  v = g_ascii_strtoull (s + 2, &end, 16);
  if (errno != 0 || *end != '\0')
    {
      reader_fail (r, key, "not a 64-bit hexadecimal number");
      return 0;
    }
  return v;
}

static gint64
reader_int (Reader *r, const char *key, gint64 min, gint64 max)
{
  JsonNode *n = reader_member (r, key);
  gint64 v;

  if (n == NULL)
    return 0;
  if (!JSON_NODE_HOLDS_VALUE (n) ||
      json_node_get_value_type (n) != G_TYPE_INT64)
    {
      reader_fail (r, key, "expected an integer");
      return 0;
    }
  v = json_node_get_int (n);
  if (v < min || v > max)
    {
      g_autofree char *why = g_strdup_printf (
          "%" G_GINT64_FORMAT " is out of range %" G_GINT64_FORMAT
          "..%" G_GINT64_FORMAT, v, min, max);
      reader_fail (r, key, why);
      return 0;
    }
  return v;
}

static gdouble
reader_double (Reader *r, const char *key)
{
  JsonNode *n = reader_member (r, key);
  const char *s;
  char *end;
  gdouble v;

  if (n == NULL)
    return 0;
  if (!JSON_NODE_HOLDS_VALUE (n) ||
      json_node_get_value_type (n) != G_TYPE_STRING)
    {
      reader_fail (r, key, "expected a number as a string");
      return 0;
    }
  s = json_node_get_string (n);
  v = g_ascii_strtod (s, &end);
  if (end == s || *end != '\0' || !isfinite (v))
    {
      reader_fail (r, key, "not a finite number");
      return 0;
    }
  return v;
}

static const char *
reader_str (Reader *r, const char *key)
{
  JsonNode *n = reader_member (r, key);

  if (n == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_VALUE (n) ||
      json_node_get_value_type (n) != G_TYPE_STRING)
    {
      reader_fail (r, key, "expected a string");
      return NULL;
    }
  return json_node_get_string (n);
}

static gboolean
reader_bool (Reader *r, const char *key)
{
  JsonNode *n = reader_member (r, key);

  if (n == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_VALUE (n) ||
      json_node_get_value_type (n) != G_TYPE_BOOLEAN)
    {
      reader_fail (r, key, "expected true or false");
      return FALSE;
    }
  return json_node_get_boolean (n);
}

static JsonArray *
reader_array (Reader *r, const char *key)
{
  JsonNode *n = reader_member (r, key);

  if (n == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (n))
    {
      reader_fail (r, key, "expected an array");
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

static GArray *
reader_ranges (Reader *r, const char *key)
{
  JsonArray *a = reader_array (r, key);
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
          !parse_hex_string (json_array_get_element (json_node_get_array (e), 0),
                             &range.first) ||
          !parse_hex_string (json_array_get_element (json_node_get_array (e), 1),
                             &range.last) ||
          range.first > range.last)
        {
          g_autofree char *why = g_strdup_printf (
              "element %u is not a [\"0x<first>\", \"0x<last>\"] range", i);
          reader_fail (r, key, why);
          g_array_unref (out);
          return NULL;
        }
      g_array_append_val (out, range);
    }
  return out;
}

static GArray *
reader_ids (Reader *r, const char *key)
{
  JsonArray *a = reader_array (r, key);
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
          reader_fail (r, key, why);
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

static gboolean
reader_done (Reader *r)
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
        reader_fail (r, name, "unknown key");
        return FALSE;
      }
  return TRUE;
}

/* fail with a model-level message */
#define MODEL_FAIL(...)                                                       \
  G_STMT_START                                                                \
  {                                                                           \
    g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE, __VA_ARGS__);             \
    goto fail;                                                                \
  }                                                                           \
  G_STMT_END

/* Allocates exactly [first, first + size - 1] in a; FALSE (and no change)
 * when any of it is not free. */
gboolean
asm_fmodel_alloc_exact (AsmArena *a, guint64 first, guint64 size)
{
  AsmRequest req = ASM_REQUEST_INIT (size);
  guint64 addr;

  if (size == 0 || first > G_MAXUINT64 - (size - 1))
    return FALSE;
  req.min = first;
  req.max = first + (size - 1);
  return asm_arena_alloc_full (a, &req, &addr, NULL) && addr == first;
}

/* a redirected BAR takes whole granules of its switch's space */
static guint64
redirect_bytes (const FModel *m, const FDevice *d)
{
  return (d->bar_size + m->granule - 1) & ~(m->granule - 1);
}

static gboolean
is_pow2 (guint64 v)
{
  return v != 0 && (v & (v - 1)) == 0;
}

FModel *
asm_fmodel_from_json (JsonNode *root, guint64 *out_journal_seq,
                      GError **error)
{
  Reader top;
  FModel *m = NULL;
  guint64 granule, window_granule, first, last;
  gint64 next_id;
  const char *format;
  g_autoptr (GArray) holes = NULL;
  JsonArray *switches, *devices, *workloads, *partitions;

  reader_init (&top, root, "$", error);
  if (top.failed)
    {
      reader_clear (&top);
      return NULL;
    }
  format = reader_str (&top, "format");
  if (format != NULL && strcmp (format, "asm-fabric") != 0)
    reader_fail (&top, "format", "is not \"asm-fabric\"");
  reader_int (&top, "version", 1, 1);
  granule = reader_u64 (&top, "granule");
  window_granule = reader_u64 (&top, "window_granule");
  next_id = reader_int (&top, "next_id", 1, G_MAXUINT32);
  *out_journal_seq = reader_u64 (&top, "journal_seq");
  first = reader_u64 (&top, "global_first");
  last = reader_u64 (&top, "global_last");
  holes = reader_ranges (&top, "global_reserved");
  switches = reader_array (&top, "switches");
  devices = reader_array (&top, "devices");
  workloads = reader_array (&top, "workloads");
  partitions = reader_array (&top, "partitions");
  if (!reader_done (&top))
    {
      reader_clear (&top);
      return NULL;
    }
  reader_clear (&top);

  if (!is_pow2 (granule) || !is_pow2 (window_granule) ||
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
      Reader r;
      FSwitch *s = asm_fswitch_new ();
      g_autoptr (GArray) windows = NULL;
      const char *name;

      reader_init (&r, json_array_get_element (switches, i), path, error);
      s->id = (AsmId) reader_int (&r, "id", 1, next_id - 1);
      name = reader_str (&r, "name");
      s->bandwidth = reader_u64 (&r, "bandwidth");
      s->latency_ns = (guint32) reader_int (&r, "latency_ns", 0, G_MAXUINT32);
      s->table_capacity = (guint32) reader_int (&r, "table_capacity", 0,
                                                G_MAXUINT32);
      s->n_ports = (guint32) reader_int (&r, "n_ports", 0, 65536);
      s->pinned = reader_bool (&r, "pinned");
      windows = reader_ranges (&r, "windows");
      if (!reader_done (&r))
        {
          reader_clear (&r);
          asm_pobj_unref (&s->obj, fswitch_free);
          goto fail;
        }
      reader_clear (&r);
      s->name = g_strdup (name);
      s->space = asm_arena_new (name, granule);
      s->ports = g_new0 (AsmId, MAX (s->n_ports, 1));
      if (asm_pmap_get (m->switches, s->id) != NULL)
        {
          AsmId dup = s->id;
          asm_pobj_unref (&s->obj, fswitch_free);
          MODEL_FAIL ("%s.id: %u is used twice", path, dup);
        }
      asm_pmap_insert (m->switches, s->id, &s->obj);
      for (guint j = 0; j < windows->len; j++)
        {
          AsmRange w = g_array_index (windows, AsmRange, j);
          if (!asm_arena_add_span (s->space, w.first, w.last, NULL) ||
              !asm_fmodel_alloc_exact (m->global, w.first, w.last - w.first + 1))
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
      Reader r;
      FWorkload *w = asm_fworkload_new (granule);
      const char *name;

      reader_init (&r, json_array_get_element (workloads, i), path, error);
      w->id = (AsmId) reader_int (&r, "id", 1, next_id - 1);
      name = reader_str (&r, "name");
      w->n_samples = reader_u64 (&r, "n_samples");
      w->level = reader_double (&r, "level");
      w->trend = reader_double (&r, "trend");
      w->last_time = reader_double (&r, "last_time");
      if (!reader_done (&r))
        {
          reader_clear (&r);
          asm_pobj_unref (&w->obj, fworkload_free);
          goto fail;
        }
      reader_clear (&r);
      w->name = g_strdup (name);
      if (asm_pmap_get (m->workloads, w->id) != NULL)
        {
          AsmId dup = w->id;
          asm_pobj_unref (&w->obj, fworkload_free);
          MODEL_FAIL ("%s.id: %u is used twice", path, dup);
        }
      asm_pmap_insert (m->workloads, w->id, &w->obj);
    }

  for (guint i = 0; i < json_array_get_length (partitions); i++)
    {
      g_autofree char *path = g_strdup_printf ("$.partitions[%u]", i);
      Reader r;
      FPartition *p = asm_fpartition_new ();
      g_autoptr (GArray) devs = NULL;
      FSwitch *s;
      FWorkload *w;

      reader_init (&r, json_array_get_element (partitions, i), path, error);
      p->id = (AsmId) reader_int (&r, "id", 1, next_id - 1);
      p->workload = (AsmId) reader_int (&r, "workload", 1, next_id - 1);
      p->sw = (AsmId) reader_int (&r, "switch", 1, next_id - 1);
      p->virt_first = reader_u64 (&r, "virt_first");
      p->phys_first = reader_u64 (&r, "phys_first");
      p->size = reader_u64 (&r, "size");
      p->align = reader_u64 (&r, "align");
      p->bandwidth_demand = reader_u64 (&r, "bandwidth_demand");
      p->min_bandwidth = reader_u64 (&r, "min_bandwidth");
      p->max_latency_ns = (guint32) reader_int (&r, "max_latency_ns", 0,
                                                G_MAXUINT32);
      p->generation = (guint32) reader_int (&r, "generation", 0, G_MAXUINT32);
      p->dev_next = reader_u64 (&r, "dev_next");
      devs = reader_ids (&r, "devices");
      if (!reader_done (&r))
        {
          reader_clear (&r);
          asm_pobj_unref (&p->obj, fpartition_free);
          goto fail;
        }
      reader_clear (&r);
      g_array_append_vals (p->devices, devs->data, devs->len);
      if (asm_pmap_get (m->partitions, p->id) != NULL ||
          (s = FSW_W (m, p->sw)) == NULL || (w = FWL_W (m, p->workload)) == NULL)
        {
          AsmId id = p->id;
          asm_pobj_unref (&p->obj, fpartition_free);
          MODEL_FAIL ("%s: id %u is used twice, or its switch or workload "
                      "does not exist", path, id);
        }
      if (p->size == 0 || !asm_fmodel_alloc_exact (s->space, p->phys_first, p->size) ||
          !asm_fmodel_alloc_exact (w->virt, p->virt_first, p->size))
        {
          asm_pobj_unref (&p->obj, fpartition_free);
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
      Reader r;
      FDevice *d = asm_fdevice_new ();
      const char *name, *kind;
      gboolean known_kind = FALSE;

      reader_init (&r, json_array_get_element (devices, i), path, error);
      d->id = (AsmId) reader_int (&r, "id", 1, next_id - 1);
      name = reader_str (&r, "name");
      kind = reader_str (&r, "kind");
      for (guint k = 0; kind != NULL && k < G_N_ELEMENTS (device_kinds); k++)
        if (strcmp (kind, device_kinds[k]) == 0)
          d->kind = k, known_kind = TRUE;
      if (kind != NULL && !known_kind)
        reader_fail (&r, "kind", "is not endpoint, pf or vf");
      d->sw = (AsmId) reader_int (&r, "switch", 1, next_id - 1);
      d->port = (guint32) reader_int (&r, "port", 0, 65535);
      d->bar_size = reader_u64 (&r, "bar_size");
      if (known_kind && d->kind == ASM_DEVICE_VF)
        {
          d->pf = (AsmId) reader_int (&r, "pf", 1, next_id - 1);
          d->vf_index = (guint32) reader_int (&r, "vf_index", 0, 63);
        }
      if (known_kind && d->kind == ASM_DEVICE_PF)
        {
          d->max_vfs = (guint32) reader_int (&r, "max_vfs", 0, 64);
          d->vf_bar_size = reader_u64 (&r, "vf_bar_size");
        }
      d->partition = (AsmId) reader_int (&r, "partition", 0, next_id - 1);
      d->partition_offset = reader_u64 (&r, "partition_offset");
      d->redirect_sw = (AsmId) reader_int (&r, "redirect_switch", 0,
                                           next_id - 1);
      d->redirect_base = reader_u64 (&r, "redirect_base");
      if (!reader_done (&r))
        {
          reader_clear (&r);
          asm_pobj_unref (&d->obj, fdevice_free);
          goto fail;
        }
      reader_clear (&r);
      d->name = g_strdup (name);
      if (asm_pmap_get (m->devices, d->id) != NULL)
        {
          AsmId dup = d->id;
          asm_pobj_unref (&d->obj, fdevice_free);
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
                            redirect_bytes (m, d)))
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

/* ------------------------------------------------------------------ */
/* invariants                                                           */

typedef struct {
  FModel *m;
  GError **error;
  gboolean ok;
  guint64 *bw_used;    /* recomputed, indexed by switch id */
  guint32 *table_used;
  guint *n_parts;
} CheckCtx;

#define CHECK(cond, ...)                                                      \
  G_STMT_START                                                                \
  {                                                                           \
    if (!(cond))                                                              \
      {                                                                       \
        g_autofree char *_m = g_strdup_printf (__VA_ARGS__);                  \
        g_set_error (c->error, ASM_ERROR, ASM_ERROR_FAILED,                   \
                     "fabric invariant broken: %s", _m);                      \
        c->ok = FALSE;                                                        \
        return FALSE;                                                         \
      }                                                                       \
  }                                                                           \
  G_STMT_END

static gboolean
check_partition (guint32 key, AsmPObj *o, gpointer data)
{
  CheckCtx *c = data;
  FPartition *p = (FPartition *) o;
  FSwitch *s = FSW (c->m, p->sw);
  FWorkload *w = FWL (c->m, p->workload);
  AsmRange seg;
  AsmSegmentKind kind;

  CHECK (p->id == key, "partition %u stored under %u", p->id, key);
  CHECK (s != NULL && w != NULL, "partition %u: switch %u or workload %u "
         "missing", p->id, p->sw, p->workload);
  CHECK (asm_arena_lookup_full (s->space, p->phys_first, &seg, &kind) &&
         kind == ASM_SEGMENT_ALLOCATED && seg.first == p->phys_first &&
         seg.last - seg.first + 1 == p->size,
         "partition %u: physical range is not its own allocation in switch "
         "%u's windows", p->id, p->sw);
  CHECK (asm_arena_lookup_full (w->virt, p->virt_first, &seg, &kind) &&
         kind == ASM_SEGMENT_ALLOCATED && seg.first == p->virt_first &&
         seg.last - seg.first + 1 == p->size,
         "partition %u: virtual range is not its own allocation", p->id);
  for (guint i = 0; i < p->devices->len; i++)
    {
      FDevice *d = FDEV (c->m, g_array_index (p->devices, AsmId, i));
      for (guint j = 0; j < i; j++)
        CHECK (g_array_index (p->devices, AsmId, j) !=
                   g_array_index (p->devices, AsmId, i),
               "partition %u lists device %u twice", p->id,
               g_array_index (p->devices, AsmId, i));
      CHECK (d != NULL && d->partition == p->id &&
             d->partition_offset + d->bar_size <= p->size &&
             d->partition_offset + d->bar_size <= p->dev_next,
             "partition %u: device %u is not mapped inside it", p->id,
             g_array_index (p->devices, AsmId, i));
      CHECK (d->redirect_sw != ASM_ID_NONE || d->sw == p->sw,
             "partition %u: device %u is behind switch %u, not %u", p->id,
             d->id, d->sw, p->sw);
    }
  c->bw_used[p->sw] += p->bandwidth_demand;
  c->table_used[p->sw]++;
  c->n_parts[p->sw]++;
  return TRUE;
}

static gboolean
check_device (guint32 key, AsmPObj *o, gpointer data)
{
  CheckCtx *c = data;
  FDevice *d = (FDevice *) o;
  FSwitch *s = FSW (c->m, d->sw);

  CHECK (d->id == key, "device %u stored under %u", d->id, key);
  CHECK (s != NULL, "device %u: switch %u missing", d->id, d->sw);
  if (d->kind != ASM_DEVICE_VF)
    CHECK (d->port < s->n_ports && s->ports[d->port] == d->id,
           "device %u: port %u of switch %u does not hold it", d->id, d->port,
           d->sw);
  else
    {
      FDevice *pf = FDEV (c->m, d->pf);
      CHECK (pf != NULL && pf->kind == ASM_DEVICE_PF && pf->sw == d->sw &&
             pf->port == d->port &&
             (pf->vf_used & (G_GUINT64_CONSTANT (1) << d->vf_index)),
             "VF %u: not a VF of PF %u where the PF is", d->id, d->pf);
    }
  if (d->partition != ASM_ID_NONE)
    {
      FPartition *p = FPART (c->m, d->partition);
      gboolean listed = FALSE;
      CHECK (p != NULL, "device %u: partition %u missing", d->id,
             d->partition);
      for (guint i = 0; i < p->devices->len; i++)
        listed |= g_array_index (p->devices, AsmId, i) == d->id;
      CHECK (listed, "device %u: not listed by partition %u", d->id, p->id);
    }
  if (d->redirect_sw != ASM_ID_NONE)
    {
      FSwitch *rs = FSW (c->m, d->redirect_sw);
      AsmRange seg;
      CHECK (d->redirect_sw == d->sw,
             "device %u: redirected to switch %u but behind switch %u", d->id,
             d->redirect_sw, d->sw);
      CHECK (rs != NULL && d->partition != ASM_ID_NONE &&
             asm_arena_lookup (rs->space, d->redirect_base, &seg) &&
             seg.first == d->redirect_base &&
             seg.last - seg.first + 1 == redirect_bytes (c->m, d),
             "device %u: redirect base 0x%" G_GINT64_MODIFIER "x is not its "
             "own allocation on switch %u", d->id, d->redirect_base,
             d->redirect_sw);
      c->table_used[d->redirect_sw]++;
    }
  return TRUE;
}

static gboolean
check_switch (guint32 key, AsmPObj *o, gpointer data)
{
  CheckCtx *c = data;
  FSwitch *s = (FSwitch *) o;
  guint64 window_bytes = 0;
  AsmArenaStats st;

  CHECK (s->id == key, "switch %u stored under %u", s->id, key);
  CHECK (asm_arena_check (s->space, c->error), "switch %u: space", s->id);
  for (guint i = 0; i < s->windows->len; i++)
    {
      AsmRange w = g_array_index (s->windows, AsmRange, i);
      AsmRange seg;
      AsmSegmentKind kind;
      CHECK (i == 0 || g_array_index (s->windows, AsmRange, i - 1).last
                           < w.first,
             "switch %u: windows out of order", s->id);
      CHECK (asm_arena_lookup_full (c->m->global, w.first, &seg, &kind) &&
             kind == ASM_SEGMENT_ALLOCATED && seg.first == w.first &&
             seg.last == w.last,
             "switch %u: window 0x%" G_GINT64_MODIFIER "x-0x%"
             G_GINT64_MODIFIER "x is not its own allocation in the global "
             "space", s->id, w.first, w.last);
      window_bytes += w.last - w.first + 1;
    }
  asm_arena_get_stats (s->space, &st);
  CHECK (st.n_spans == s->windows->len && st.span_units == window_bytes,
         "switch %u: its space's spans are not its windows", s->id);
  CHECK (s->bandwidth_used == c->bw_used[s->id] &&
         s->bandwidth_used <= s->bandwidth,
         "switch %u: bandwidth used %" G_GUINT64_FORMAT " (recount %"
         G_GUINT64_FORMAT ", capacity %" G_GUINT64_FORMAT ")", s->id,
         s->bandwidth_used, c->bw_used[s->id], s->bandwidth);
  CHECK (s->table_used == c->table_used[s->id] &&
         s->table_used <= s->table_capacity,
         "switch %u: %u table entries (recount %u, capacity %u)", s->id,
         s->table_used, c->table_used[s->id], s->table_capacity);
  CHECK (s->n_partitions == c->n_parts[s->id], "switch %u: partition count",
         s->id);
  for (guint i = 0; i < s->n_ports; i++)
    if (s->ports[i] != ASM_ID_NONE)
      {
        FDevice *d = FDEV (c->m, s->ports[i]);
        CHECK (d != NULL && d->sw == s->id && d->port == i &&
               d->kind != ASM_DEVICE_VF,
               "switch %u: port %u holds device %u, which is elsewhere",
               s->id, i, s->ports[i]);
      }
  return TRUE;
}

static gboolean
check_workload (guint32 key, AsmPObj *o, gpointer data)
{
  CheckCtx *c = data;
  FWorkload *w = (FWorkload *) o;
  AsmArenaStats st;

  CHECK (w->id == key, "workload %u stored under %u", w->id, key);
  CHECK (asm_arena_check (w->virt, c->error), "workload %u: virtual space",
         w->id);
  asm_arena_get_stats (w->virt, &st);
  CHECK (st.n_allocated == w->partitions->len,
         "workload %u: %u partitions but %" G_GUINT64_FORMAT " virtual "
         "ranges", w->id, w->partitions->len, st.n_allocated);
  for (guint i = 0; i < w->partitions->len; i++)
    {
      FPartition *p = FPART (c->m, g_array_index (w->partitions, AsmId, i));
      CHECK (p != NULL && p->workload == w->id,
             "workload %u: lists partition %u that is not its own", w->id,
             g_array_index (w->partitions, AsmId, i));
      CHECK (i == 0 || FPART (c->m, g_array_index (w->partitions, AsmId,
                                                    i - 1))->virt_first
                           < p->virt_first,
             "workload %u: partitions out of virtual order", w->id);
    }
  return TRUE;
}

gboolean
asm_fmodel_check (FModel *m, GError **error)
{
  CheckCtx c = { m, error, TRUE, NULL, NULL, NULL };
  AsmArenaStats st;
  guint64 n_windows = 0;
  GArray *keys;

  if (!asm_arena_check (m->global, error))
    return FALSE;
  c.bw_used = g_new0 (guint64, (gsize) m->next_id + 1);
  c.table_used = g_new0 (guint32, (gsize) m->next_id + 1);
  c.n_parts = g_new0 (guint, (gsize) m->next_id + 1);
  keys = asm_pmap_keys (m->switches);
  for (guint i = 0; i < keys->len; i++)
    n_windows += FSW (m, g_array_index (keys, guint32, i))->windows->len;
  g_array_unref (keys);
  if (asm_pmap_foreach (m->partitions, check_partition, &c) &&
      asm_pmap_foreach (m->devices, check_device, &c) &&
      asm_pmap_foreach (m->switches, check_switch, &c) &&
      asm_pmap_foreach (m->workloads, check_workload, &c))
    {
      asm_arena_get_stats (m->global, &st);
      if (st.n_allocated != n_windows)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                       "fabric invariant broken: %" G_GUINT64_FORMAT
                       " global allocations but %" G_GUINT64_FORMAT
                       " windows", st.n_allocated, n_windows);
          c.ok = FALSE;
        }
    }
  g_free (c.bw_used);
  g_free (c.table_used);
  g_free (c.n_parts);
  return c.ok;
}
