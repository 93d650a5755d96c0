/* asm-fop.c: the table of the fabric's operations and their journal form
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * Everything here is made from ASM_FABRIC_OPS (asm-fop-private.h): for
 * each operation, a writer and a reader of its arguments' JSON form, a
 * planner thunk that gives asm_fplan_NAME() its typed struct, and one
 * entry of asm_fops[].  The transaction runner (asm-ftxn.c) and recovery
 * (asm-fsave.c) reach every operation through asm_fops[], so neither
 * knows any operation by name.
 *
 * The journal form of one operation is
 *
 *     {"v": 2, "op": "map_device", "args": {"partition": 7, "device": 3}}
 *
 * read strictly: a missing, mistyped, out-of-range or unknown argument is
 * an ASM_ERROR_PARSE naming it ("$.args.device: missing").  Journals of
 * version 1 (positional arguments) are refused with that said.
 *
 * Costs: O(number of arguments) per record.
 */
#include "asm-fop-private.h"

#include <string.h>

/* ---- writing: one fop_put_TYPE per argument type -------------------- */

static void
fop_put_ID (JsonBuilder *b, const char *key, AsmId v)
{
  asm_fjson_add_int (b, key, v);
}

static void
fop_put_U32 (JsonBuilder *b, const char *key, guint32 v)
{
  asm_fjson_add_int (b, key, v);
}

static void
fop_put_U64 (JsonBuilder *b, const char *key, guint64 v)
{
  asm_fjson_add_u64 (b, key, v);
}

static void
fop_put_F64 (JsonBuilder *b, const char *key, gdouble v)
{
  asm_fjson_add_double (b, key, v);
}

static void
fop_put_STR (JsonBuilder *b, const char *key, const char *v)
{
  json_builder_set_member_name (b, key);
  if (v == NULL)
    json_builder_add_null_value (b);
  else
    json_builder_add_string_value (b, v);
}

static void
fop_put_BOOL (JsonBuilder *b, const char *key, gboolean v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_boolean_value (b, v);
}

/* ---- reading: one fop_get_TYPE per argument type -------------------- */

static AsmId
fop_get_ID (FJsonReader *r, const char *key)
{
  return (AsmId) asm_fjson_reader_int (r, key, 0, G_MAXUINT32);
}

static guint32
fop_get_U32 (FJsonReader *r, const char *key)
{
  return (guint32) asm_fjson_reader_int (r, key, 0, G_MAXUINT32);
}

static guint64
fop_get_U64 (FJsonReader *r, const char *key)
{
  return asm_fjson_reader_u64 (r, key);
}

static gdouble
fop_get_F64 (FJsonReader *r, const char *key)
{
  return asm_fjson_reader_double (r, key);
}

static const char *
fop_get_STR (FJsonReader *r, const char *key)
{
  JsonNode *n = json_object_get_member (r->obj, key);

  if (n != NULL && JSON_NODE_HOLDS_NULL (n))
    {
      asm_fjson_reader_member (r, key); /* known */
      return NULL;
    }
  return asm_fjson_reader_str (r, key);
}

static gboolean
fop_get_BOOL (FJsonReader *r, const char *key)
{
  return asm_fjson_reader_bool (r, key);
}

/* ---- per operation: writer, reader, planner thunk ------------------- */

#define FOP_PUT_FIELD(TYPE, field) fop_put_##TYPE (b, #field, a->field);
#define FOP_GET_FIELD(TYPE, field) a->field = fop_get_##TYPE (r, #field);
#define FOP_DEFINE_WRITER(name, Name, fields)                                 \
  static void fop_to_json_##name (JsonBuilder *b, const void *args)          \
  {                                                                           \
    const FOp##Name *a = args;                                                \
    fields                                                                    \
  }
ASM_FABRIC_OPS (FOP_DEFINE_WRITER, FOP_PUT_FIELD)

#define FOP_DEFINE_READER(name, Name, fields)                                 \
  static void fop_from_json_##name (FJsonReader *r, void *args)              \
  {                                                                           \
    FOp##Name *a = args;                                                      \
    fields                                                                    \
  }
ASM_FABRIC_OPS (FOP_DEFINE_READER, FOP_GET_FIELD)

#define FOP_DEFINE_THUNK(name, Name, fields)                                  \
  static gboolean fop_plan_##name (FModel *m, Txn *t, const void *args,      \
                                   GError **error)                            \
  {                                                                           \
    return asm_fplan_##name (m, t, (const FOp##Name *) args, error);          \
  }
ASM_FABRIC_OPS (FOP_DEFINE_THUNK, FOP_NO_FIELD)

#define FOP_DESCRIBE(name, Name, fields)                                      \
  [FOP_##name] = { #name, sizeof (FOp##Name), fop_plan_##name,                \
                   fop_to_json_##name, fop_from_json_##name },
const FOpDesc asm_fops[FOP_N_OPS] = {
  ASM_FABRIC_OPS (FOP_DESCRIBE, FOP_NO_FIELD)
};

/* ---- records -------------------------------------------------------- */

JsonNode *
asm_fop_to_json (FOpKind op, const void *args)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  ASM_BUG_UNLESS (op < FOP_N_OPS);
  json_builder_begin_object (b);
  asm_fjson_add_int (b, "v", ASM_FOP_JOURNAL_VERSION);
  fop_put_STR (b, "op", asm_fops[op].name);
  json_builder_set_member_name (b, "args");
  json_builder_begin_object (b);
  asm_fops[op].to_json (b, args);
  json_builder_end_object (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

gpointer
asm_fop_from_json (JsonNode *node, FOpKind *out_op, GError **error)
{
  FJsonReader top, r;
  const char *name;
  JsonNode *version, *args_node;
  gpointer args = NULL;
  guint op;

  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    {
      version = json_object_get_member (json_node_get_object (node), "v");
      if (version == NULL || !JSON_NODE_HOLDS_VALUE (version) ||
          json_node_get_value_type (version) != G_TYPE_INT64 ||
          json_node_get_int (version) != ASM_FOP_JOURNAL_VERSION)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                       "$.v: the operation record is not of journal version "
                       "%d (version 1 journals, with positional arguments, "
                       "are no longer read: finish them with the asm that "
                       "wrote them, then save)", ASM_FOP_JOURNAL_VERSION);
          return NULL;
        }
    }
  asm_fjson_reader_init (&top, node, "$", error);
  if (top.failed)
    {
      asm_fjson_reader_clear (&top);
      return NULL;
    }
  asm_fjson_reader_int (&top, "v", ASM_FOP_JOURNAL_VERSION,
                        ASM_FOP_JOURNAL_VERSION);
  name = asm_fjson_reader_str (&top, "op");
  args_node = asm_fjson_reader_member (&top, "args");
  if (!asm_fjson_reader_done (&top))
    {
      asm_fjson_reader_clear (&top);
      return NULL;
    }
  asm_fjson_reader_clear (&top);
  for (op = 0; op < FOP_N_OPS; op++)
    if (strcmp (asm_fops[op].name, name) == 0)
      break;
  if (op == FOP_N_OPS)
    {
      g_autofree char *shown = g_strescape (name, NULL);
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "$.op: '%s' is not an operation", shown);
      return NULL;
    }
  asm_fjson_reader_init (&r, args_node, "$.args", error);
  if (!r.failed)
    {
      args = g_malloc0 (asm_fops[op].args_size);
      asm_fops[op].from_json (&r, args);
      if (!asm_fjson_reader_done (&r))
        g_clear_pointer (&args, g_free);
    }
  asm_fjson_reader_clear (&r);
  if (args != NULL)
    *out_op = (FOpKind) op;
  return args;
}
