/* asm-fjson-private.h: the fabric's JSON vocabulary, shared by its modules
 *
 * Not installed.  See the theory comment in asm-fjson.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

#include "asm-fmodel-private.h"

G_BEGIN_DECLS

/* A reader over one JSON object: every lookup records the key, and
 * asm_fjson_reader_done() refuses keys nobody asked for. */
typedef struct {
  JsonObject *obj;
  const char *path;
  GHashTable *seen;
  GError **error;
  gboolean failed;
} FJsonReader;

void asm_fjson_reader_init (FJsonReader *r, JsonNode *node, const char *path,
                            GError **error);
void asm_fjson_reader_clear (FJsonReader *r);
void asm_fjson_reader_fail (FJsonReader *r, const char *key, const char *why);
JsonNode *asm_fjson_reader_member (FJsonReader *r, const char *key);
guint64 asm_fjson_reader_u64 (FJsonReader *r, const char *key);
gint64 asm_fjson_reader_int (FJsonReader *r, const char *key, gint64 min,
                             gint64 max);
gdouble asm_fjson_reader_double (FJsonReader *r, const char *key);
const char *asm_fjson_reader_str (FJsonReader *r, const char *key);
gboolean asm_fjson_reader_bool (FJsonReader *r, const char *key);
JsonArray *asm_fjson_reader_array (FJsonReader *r, const char *key);
GArray *asm_fjson_reader_ranges (FJsonReader *r, const char *key);
GArray *asm_fjson_reader_ids (FJsonReader *r, const char *key);
gboolean asm_fjson_reader_done (FJsonReader *r);

/* the deepest nesting of arrays and objects any fabric document has
 * (saves, journal records) and well below what json-glib's recursive
 * parser survives */
#define ASM_FJSON_MAX_DEPTH 32

/* Refuses (ASM_ERROR_PARSE, naming the byte) text nested deeper than
 * max_depth, before any parser sees it; O(len). */
gboolean asm_fjson_check_depth (const char *text, gsize len, guint max_depth,
                                GError **error);

void asm_fjson_add_u64 (JsonBuilder *b, const char *key, guint64 v);
void asm_fjson_add_int (JsonBuilder *b, const char *key, gint64 v);
void asm_fjson_add_double (JsonBuilder *b, const char *key, gdouble v);
void asm_fjson_add_str (JsonBuilder *b, const char *key, const char *v);
void asm_fjson_add_ranges (JsonBuilder *b, const char *key, GArray *ranges);
void asm_fjson_add_ids (JsonBuilder *b, const char *key, GArray *ids);

/* the saved form of a model; journal_seq is the journal position it
 * reflects */
JsonNode *asm_fmodel_to_json (FModel *m, const char *name,
                              guint64 journal_seq);
FModel *asm_fmodel_from_json (JsonNode *root, guint64 *out_journal_seq,
                              char **out_name, GError **error);

G_END_DECLS
