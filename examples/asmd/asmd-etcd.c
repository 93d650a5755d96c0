/* asmd-etcd.c: a fabric's snapshot and journal in etcd, with a fenced
 * leader
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * etcd is the store of record (asmd --etcd): every asmd of a fabric talks
 * to the same cluster through its v3 JSON gateway (POST /v3/kv/range,
 * /v3/kv/txn, /v3/lease/...; keys and values base64), with libsoup and
 * json-glib.  The fabric NAME owns the keys under /asm/NAME/:
 *
 *   leader               the leading member's id, attached to its lease
 *   snapshot             asm_fabric_save() of the last checkpoint
 *   journal/OFFSET       the journal's bytes from OFFSET (20 digits), one
 *                        key per append: the journal is the keys in order
 *
 * Leadership.  A member grants itself a lease of --lease-ttl seconds and
 * campaigns: a transaction creates `leader` with that lease only if it
 * does not exist.  The winner's fence is the revision that created the
 * key: unique to that term, since a new leader key is a new creation.
 * The leader renews its lease every third of its TTL; when the lease
 * expires (the leader died, or stopped longer than the TTL: a GC pause,
 * SIGSTOP), etcd deletes `leader` and another member can win.
 *
 * Fencing.  Every write of the journal store (append, truncate, the
 * snapshot) is a transaction whose first compare is `leader`'s create
 * revision == the writer's fence.  A deposed leader's write therefore
 * fails, whatever its clock says, and the store answers ASM_ERROR_FENCED:
 * the fabric stops where it is (see AsmJournalStore) and asmd steps down.
 * An append also requires its key not to exist yet, so that a record is
 * never written twice.
 *
 * Costs: an append is one etcd transaction (one raft round and one fsync
 * on a quorum of members); a recovery reads the journal with one range
 * request.  Values are limited by etcd's request size (1.5 MiB by
 * default): a snapshot above it fails its checkpoint, clearly.
 */
#include "asmd-etcd.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

struct _AsmdEtcd {
  SoupSession *session;
  char **endpoints;
  guint current;         /* the endpoint that answered last */
  char *prefix;          /* "/asm/NAME/" */
  char *member_id;
  guint ttl;
  gint64 lease;          /* 0: none granted yet */
  gint64 fence;          /* leader's create revision; 0: not leading */
  gint64 last_renewal;   /* g_get_monotonic_time () of the last keepalive */
  gint64 revision;       /* the store revision of the last write or read */
  SoupSession *watch_session; /* no I/O timeout: a watch waits for events */
  GCancellable *watch_cancel;
  GDataInputStream *watch_stream;
  AsmdEtcdChanged watch_func;
  gpointer watch_data;
};

static char *
b64 (const char *s)
{
  return g_base64_encode ((const guchar *) s, strlen (s));
}

static char *
key_of (AsmdEtcd *e, const char *suffix)
{
  return g_strconcat (e->prefix, suffix, NULL);
}

static char *
journal_key (AsmdEtcd *e, guint64 offset)
{
  return g_strdup_printf ("%sjournal/%020" G_GUINT64_FORMAT, e->prefix,
                          offset);
}

/* The key just above every key that starts with @prefix. */
static char *
prefix_end (const char *prefix)
{
  char *end = g_strdup (prefix);
  end[strlen (end) - 1]++;
  return end;
}

/* POSTs @body to @path on the first endpoint that answers; the reply's
 * JSON root, or NULL with an error naming the endpoints. */
static JsonNode *
call (AsmdEtcd *e, const char *path, JsonNode *body, GError **error)
{
  g_autofree char *text = json_to_string (body, FALSE);
  g_autoptr (GString) failures = g_string_new (NULL);
  guint n = g_strv_length (e->endpoints);

  for (guint k = 0; k < n; k++)
    {
      guint i = (e->current + k) % n;
      g_autofree char *url = g_strconcat (e->endpoints[i], path, NULL);
      g_autoptr (SoupMessage) msg = soup_message_new ("POST", url);
      g_autoptr (GBytes) reply = NULL;
      g_autoptr (GError) err = NULL;
      g_autoptr (JsonParser) parser = NULL;
      g_autoptr (GBytes) request = NULL;

      if (msg == NULL)
        {
          g_string_append_printf (failures, "%s%s: not a URL",
                                  failures->len ? "; " : "", url);
          continue;
        }
      request = g_bytes_new (text, strlen (text));
      soup_message_set_request_body_from_bytes (msg, "application/json",
                                                request);
      reply = soup_session_send_and_read (e->session, msg, NULL, &err);
      if (reply == NULL)
        {
          g_string_append_printf (failures, "%s%s: %s",
                                  failures->len ? "; " : "", e->endpoints[i],
                                  err->message);
          continue;
        }
      parser = json_parser_new ();
      if (soup_message_get_status (msg) != SOUP_STATUS_OK ||
          !json_parser_load_from_data (parser,
                                       g_bytes_get_data (reply, NULL),
                                       (gssize) g_bytes_get_size (reply),
                                       NULL) ||
          !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        {
          g_autofree char *shown = g_strndup (
              g_bytes_get_data (reply, NULL),
              MIN (g_bytes_get_size (reply), 200));
          g_string_append_printf (failures, "%s%s: HTTP %u: %s",
                                  failures->len ? "; " : "", e->endpoints[i],
                                  soup_message_get_status (msg), shown);
          continue;
        }
      e->current = i;
      return json_node_copy (json_parser_get_root (parser));
    }
  g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED, "etcd %s: %s", path,
               failures->str);
  return NULL;
}

/* a number the gateway writes as a string (int64) or leaves out (0) */
static gint64
int_member (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n))
    return 0;
  if (json_node_get_value_type (n) == G_TYPE_STRING)
    return g_ascii_strtoll (json_node_get_string (n), NULL, 10);
  return json_node_get_int (n);
}

static JsonObject *
object_member (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

static JsonArray *
array_member (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
}

/* a base64 member decoded, NUL-terminated */
static GBytes *
bytes_member (JsonObject *o, const char *name)
{
  const char *s = o ? json_object_get_string_member_with_default (o, name,
                                                                   "")
                    : "";
  gsize len = 0;
  guchar *raw = *s ? g_base64_decode (s, &len) : NULL;
  return g_bytes_new_take (raw, len);
}

AsmdEtcd *
asmd_etcd_new (const char *endpoints, const char *name,
               const char *member_id, guint ttl, GError **error)
{
  AsmdEtcd *e;
  g_auto (GStrv) list = g_strsplit (endpoints, ",", -1);

  for (guint i = 0; list[i] != NULL; i++)
    if (!g_str_has_prefix (list[i], "http://") &&
        !g_str_has_prefix (list[i], "https://"))
      {
        g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                     "etcd endpoint '%s' is not an http:// or https:// URL",
                     list[i]);
        return NULL;
      }
  if (list[0] == NULL || name[0] == '\0' || strchr (name, '/') != NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "etcd: give at least one endpoint and a fabric name "
                   "without '/' (got '%s')", name);
      return NULL;
    }
  e = g_new0 (AsmdEtcd, 1);
  e->endpoints = g_steal_pointer (&list);
  e->prefix = g_strdup_printf ("/asm/%s/", name);
  e->member_id = g_strdup (member_id);
  e->ttl = ttl;
  /* a request waits at most one lease: a cluster without quorum makes a
   * write fail after that, not hang */
  e->session = soup_session_new_with_options ("timeout", ttl + 1, NULL);
  return e;
}

void
asmd_etcd_free (AsmdEtcd *e)
{
  if (e == NULL)
    return;
  asmd_etcd_unwatch (e);
  g_clear_object (&e->watch_session);
  g_object_unref (e->session);
  g_strfreev (e->endpoints);
  g_free (e->prefix);
  g_free (e->member_id);
  g_free (e);
}

/* {"key": .., "range_end": ..} (range_end NULL: one key) */
static void
add_key (JsonBuilder *b, const char *key, const char *range_end)
{
  g_autofree char *k = b64 (key);
  json_builder_set_member_name (b, "key");
  json_builder_add_string_value (b, k);
  if (range_end != NULL)
    {
      g_autofree char *r = b64 (range_end);
      json_builder_set_member_name (b, "range_end");
      json_builder_add_string_value (b, r);
    }
}

/* Begins a transaction whose compare holds the fence (and, when @absent
 * is not NULL, that key's absence); the caller adds the success ops and
 * ends with end_txn(). */
static JsonBuilder *
begin_txn (AsmdEtcd *e, const char *absent)
{
  JsonBuilder *b = json_builder_new ();
  g_autofree char *leader = key_of (e, "leader");
  g_autofree char *fence = g_strdup_printf ("%" G_GINT64_FORMAT, e->fence);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "compare");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  add_key (b, leader, NULL);
  json_builder_set_member_name (b, "target");
  json_builder_add_string_value (b, "CREATE");
  json_builder_set_member_name (b, "create_revision");
  json_builder_add_string_value (b, fence);
  json_builder_end_object (b);
  if (absent != NULL)
    {
      json_builder_begin_object (b);
      add_key (b, absent, NULL);
      json_builder_set_member_name (b, "target");
      json_builder_add_string_value (b, "VERSION");
      json_builder_set_member_name (b, "version");
      json_builder_add_string_value (b, "0");
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "success");
  json_builder_begin_array (b);
  return b;
}

/* Ends the transaction (its failure branch reads the leader key) and runs
 * it: FENCED when the compare failed, naming who leads now. */
static gboolean
end_txn (AsmdEtcd *e, JsonBuilder *b, const char *what, GError **error)
{
  g_autofree char *leader = key_of (e, "leader");
  g_autoptr (JsonNode) body = NULL, reply = NULL;
  JsonObject *r;

  json_builder_end_array (b);
  json_builder_set_member_name (b, "failure");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "request_range");
  json_builder_begin_object (b);
  add_key (b, leader, NULL);
  json_builder_end_object (b);
  json_builder_end_object (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  body = json_builder_get_root (b);
  g_object_unref (b);
  reply = call (e, "/v3/kv/txn", body, error);
  if (reply == NULL)
    return FALSE;
  r = json_node_get_object (reply);
  e->revision = MAX (e->revision,
                     int_member (object_member (r, "header"), "revision"));
  if (!json_object_get_boolean_member_with_default (r, "succeeded", FALSE))
    {
      /* who leads now, if anyone, for the message */
      JsonArray *resp = array_member (r, "responses");
      JsonObject *range = resp && json_array_get_length (resp) > 0
                              ? object_member (json_array_get_object_element (
                                                   resp, 0),
                                               "response_range")
                              : NULL;
      JsonArray *kvs = array_member (range, "kvs");
      g_autoptr (GBytes) holder = kvs && json_array_get_length (kvs) > 0
                                      ? bytes_member (
                                            json_array_get_object_element (
                                                kvs, 0),
                                            "value")
                                      : NULL;
      g_autofree char *who = holder ? g_strndup (g_bytes_get_data (holder,
                                                                   NULL),
                                                 g_bytes_get_size (holder))
                                    : NULL;
      g_set_error (error, ASM_ERROR, ASM_ERROR_FENCED,
                   "etcd refused the %s of member %s: it no longer leads "
                   "fabric %s (%s)", what, e->member_id, e->prefix,
                   who ? who : "no leader now");
      return FALSE;
    }
  return TRUE;
}

gboolean
asmd_etcd_campaign (AsmdEtcd *e, gboolean *out_leader, char **out_holder,
                    GError **error)
{
  g_autofree char *leader = key_of (e, "leader");
  g_autoptr (JsonNode) reply = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) body = NULL;
  JsonObject *r;

  *out_leader = FALSE;
  if (out_holder)
    *out_holder = NULL;
  /* a standby keeps its lease alive between campaigns; one that expired
   * (a long wait, a paused process) is replaced by a new one */
  if (e->lease != 0)
    {
      g_autoptr (GError) err = NULL;
      if (!asmd_etcd_keepalive (e, &err) &&
          g_error_matches (err, ASM_ERROR, ASM_ERROR_FENCED))
        e->lease = 0;
    }
  if (e->lease == 0)
    {
      g_autoptr (JsonBuilder) g = json_builder_new ();
      g_autoptr (JsonNode) gb = NULL, grant = NULL;
      json_builder_begin_object (g);
      json_builder_set_member_name (g, "TTL");
      json_builder_add_int_value (g, e->ttl);
      json_builder_end_object (g);
      gb = json_builder_get_root (g);
      grant = call (e, "/v3/lease/grant", gb, error);
      if (grant == NULL)
        return FALSE;
      e->lease = int_member (json_node_get_object (grant), "ID");
      if (e->lease == 0)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                       "etcd granted no lease");
          return FALSE;
        }
      e->last_renewal = g_get_monotonic_time ();
    }
  {
    g_autofree char *k = b64 (leader);
    g_autofree char *v = b64 (e->member_id);
    g_autofree char *lease = g_strdup_printf ("%" G_GINT64_FORMAT, e->lease);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "compare");
    json_builder_begin_array (b);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "key");
    json_builder_add_string_value (b, k);
    json_builder_set_member_name (b, "target");
    json_builder_add_string_value (b, "CREATE");
    json_builder_set_member_name (b, "create_revision");
    json_builder_add_string_value (b, "0");
    json_builder_end_object (b);
    json_builder_end_array (b);
    json_builder_set_member_name (b, "success");
    json_builder_begin_array (b);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "request_put");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "key");
    json_builder_add_string_value (b, k);
    json_builder_set_member_name (b, "value");
    json_builder_add_string_value (b, v);
    json_builder_set_member_name (b, "lease");
    json_builder_add_string_value (b, lease);
    json_builder_end_object (b);
    json_builder_end_object (b);
    json_builder_end_array (b);
    json_builder_set_member_name (b, "failure");
    json_builder_begin_array (b);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "request_range");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "key");
    json_builder_add_string_value (b, k);
    json_builder_end_object (b);
    json_builder_end_object (b);
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  body = json_builder_get_root (b);
  reply = call (e, "/v3/kv/txn", body, error);
  if (reply == NULL)
    return FALSE;
  r = json_node_get_object (reply);
  if (json_object_get_boolean_member_with_default (r, "succeeded", FALSE))
    {
      /* the put's revision created the key: this term's fence */
      e->fence = int_member (object_member (r, "header"), "revision");
      *out_leader = e->fence > 0;
      return TRUE;
    }
  if (out_holder != NULL)
    {
      JsonArray *resp = array_member (r, "responses");
      JsonObject *range = resp && json_array_get_length (resp) > 0
                              ? object_member (json_array_get_object_element (
                                                   resp, 0),
                                               "response_range")
                              : NULL;
      JsonArray *kvs = array_member (range, "kvs");
      if (kvs && json_array_get_length (kvs) > 0)
        {
          g_autoptr (GBytes) v = bytes_member (
              json_array_get_object_element (kvs, 0), "value");
          *out_holder = g_strndup (g_bytes_get_data (v, NULL),
                                   g_bytes_get_size (v));
        }
    }
  return TRUE;
}

gboolean
asmd_etcd_keepalive (AsmdEtcd *e, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) body = NULL, reply = NULL;
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, e->lease);
  g_autoptr (GError) err = NULL;
  gint64 ttl;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ID");
  json_builder_add_string_value (b, id);
  json_builder_end_object (b);
  body = json_builder_get_root (b);
  reply = call (e, "/v3/lease/keepalive", body, &err);
  if (reply == NULL)
    {
      /* an unreachable cluster: the lease may still live; it is lost for
       * sure once a whole TTL has passed without a renewal */
      if (g_get_monotonic_time () - e->last_renewal >
          (gint64) e->ttl * G_USEC_PER_SEC)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_FENCED,
                       "no lease renewal for %u s: %s", e->ttl, err->message);
          return FALSE;
        }
      return TRUE;
    }
  ttl = int_member (object_member (json_node_get_object (reply), "result"),
                    "TTL");
  if (ttl <= 0)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_FENCED,
                   "the lease of member %s expired: another member may lead",
                   e->member_id);
      return FALSE;
    }
  e->last_renewal = g_get_monotonic_time ();
  return TRUE;
}

void
asmd_etcd_forget_lease (AsmdEtcd *e)
{
  e->lease = 0;
  e->fence = 0;
}

void
asmd_etcd_resign (AsmdEtcd *e)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) body = NULL, reply = NULL;
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, e->lease);

  if (e->lease == 0)
    return;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ID");
  json_builder_add_string_value (b, id);
  json_builder_end_object (b);
  body = json_builder_get_root (b);
  reply = call (e, "/v3/lease/revoke", body, NULL);
  e->lease = 0;
  e->fence = 0;
}

/* The kvs of a range over [key, range_end) (range_end NULL: one key). */
static JsonNode *
range (AsmdEtcd *e, const char *key, const char *range_end, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) body = NULL;

  json_builder_begin_object (b);
  add_key (b, key, range_end);
  json_builder_end_object (b);
  body = json_builder_get_root (b);
  return call (e, "/v3/kv/range", body, error);
}

gboolean
asmd_etcd_get_snapshot (AsmdEtcd *e, char **out_text, GError **error)
{
  g_autofree char *key = key_of (e, "snapshot");
  g_autoptr (JsonNode) reply = range (e, key, NULL, error);
  JsonArray *kvs;

  *out_text = NULL;
  if (reply == NULL)
    return FALSE;
  kvs = array_member (json_node_get_object (reply), "kvs");
  if (kvs != NULL && json_array_get_length (kvs) > 0)
    {
      g_autoptr (GBytes) v = bytes_member (
          json_array_get_object_element (kvs, 0), "value");
      *out_text = g_strndup (g_bytes_get_data (v, NULL), g_bytes_get_size (v));
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* The journal store                                                    */

static gboolean
store_read (gpointer data, GBytes **out, GError **error)
{
  g_autofree char *snapshot = NULL, *leader = NULL;
  gint64 revision;

  /* the journal as of one revision (with the rest of the fabric's keys,
   * which recovery alone reads) */
  return asmd_etcd_read_state (data, &snapshot, out, &leader, &revision,
                               error);
}

/* A fenced put of @length bytes at @key; @fresh: the key must not exist
 * yet (a journal record is never written twice). */
static gboolean
fenced_put (AsmdEtcd *e, const char *key, gboolean fresh, const char *data,
            gsize length, const char *what, GError **error)
{
  g_autofree char *k = b64 (key);
  g_autofree char *v = g_base64_encode ((const guchar *) data, length);
  JsonBuilder *b = begin_txn (e, fresh ? key : NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "request_put");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "key");
  json_builder_add_string_value (b, k);
  json_builder_set_member_name (b, "value");
  json_builder_add_string_value (b, v);
  json_builder_end_object (b);
  json_builder_end_object (b);
  return end_txn (e, b, what, error);
}

static gboolean
store_append (gpointer data, guint64 offset, const char *bytes, gsize length,
              GError **error)
{
  AsmdEtcd *e = data;
  g_autofree char *key = journal_key (e, offset);

  return fenced_put (e, key, TRUE, bytes, length, "journal append", error);
}

static gboolean
store_truncate (gpointer data, guint64 length, GError **error)
{
  AsmdEtcd *e = data;
  g_autofree char *first = key_of (e, "journal/");
  g_autofree char *end = prefix_end (first);
  g_autofree char *from = journal_key (e, length);
  g_autoptr (GBytes) all = NULL;
  JsonBuilder *b;

  /* the fabric cuts only at the end of an append, so every key from
   * @length on goes and none is cut in the middle; check it */
  if (!store_read (e, &all, error))
    return FALSE;
  if (length < g_bytes_get_size (all))
    {
      g_autofree char *kfrom = b64 (from);
      g_autoptr (JsonNode) reply = range (e, first, from, error);
      JsonArray *kvs;
      guint64 kept = 0;
      if (reply == NULL)
        return FALSE;
      kvs = array_member (json_node_get_object (reply), "kvs");
      for (guint i = 0; kvs != NULL && i < json_array_get_length (kvs); i++)
        {
          g_autoptr (GBytes) v = bytes_member (
              json_array_get_object_element (kvs, i), "value");
          kept += g_bytes_get_size (v);
        }
      if (kept != length)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                       "etcd journal of %s: %" G_GUINT64_FORMAT " is not the "
                       "end of an append", e->prefix, length);
          return FALSE;
        }
    }
  b = begin_txn (e, NULL);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "request_delete_range");
  json_builder_begin_object (b);
  add_key (b, from, end);
  json_builder_end_object (b);
  json_builder_end_object (b);
  return end_txn (e, b, "journal truncation", error);
}

static gboolean
store_write_snapshot (gpointer data, const char *text, gsize length,
                      GError **error)
{
  AsmdEtcd *e = data;
  g_autofree char *key = key_of (e, "snapshot");

  return fenced_put (e, key, FALSE, text, length, "snapshot", error);
}

const AsmJournalStore asmd_etcd_store = {
  .read = store_read,
  .append = store_append,
  .truncate = store_truncate,
  .write_snapshot = store_write_snapshot,
};

gint64
asmd_etcd_get_revision (AsmdEtcd *e)
{
  return e->revision;
}

gboolean
asmd_etcd_read_state (AsmdEtcd *e, char **out_snapshot, GBytes **out_journal,
                      char **out_leader, gint64 *out_revision, GError **error)
{
  g_autofree char *end = prefix_end (e->prefix);
  g_autofree char *jfirst = key_of (e, "journal/");
  g_autofree char *snap_key = key_of (e, "snapshot");
  g_autofree char *leader_key = key_of (e, "leader");
  g_autoptr (JsonNode) reply = range (e, e->prefix, end, error);
  g_autoptr (GByteArray) journal = g_byte_array_new ();
  JsonObject *r;
  JsonArray *kvs;

  *out_snapshot = NULL;
  *out_leader = NULL;
  if (reply == NULL)
    return FALSE;
  /* one range over the prefix: the snapshot, the journal and the leader
   * as of one revision */
  r = json_node_get_object (reply);
  *out_revision = int_member (object_member (r, "header"), "revision");
  kvs = array_member (r, "kvs");
  for (guint i = 0; kvs != NULL && i < json_array_get_length (kvs); i++)
    {
      JsonObject *kv = json_array_get_object_element (kvs, i);
      g_autoptr (GBytes) k = bytes_member (kv, "key");
      g_autoptr (GBytes) v = bytes_member (kv, "value");
      g_autofree char *name = g_strndup (g_bytes_get_data (k, NULL),
                                         g_bytes_get_size (k));
      char *text = g_strndup (g_bytes_get_data (v, NULL),
                              g_bytes_get_size (v));
      if (strcmp (name, snap_key) == 0)
        *out_snapshot = text;
      else if (strcmp (name, leader_key) == 0)
        *out_leader = text;
      else
        {
          if (g_str_has_prefix (name, jfirst))
            {
              guint64 offset = g_ascii_strtoull (name + strlen (jfirst),
                                                 NULL, 10);
              if (offset != journal->len)
                {
                  g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                               "etcd journal of %s: key %s does not follow "
                               "the %u bytes before it", e->prefix, name,
                               journal->len);
                  g_free (text);
                  g_clear_pointer (out_snapshot, g_free);
                  g_clear_pointer (out_leader, g_free);
                  return FALSE;
                }
              g_byte_array_append (journal, g_bytes_get_data (v, NULL),
                                   (guint) g_bytes_get_size (v));
            }
          g_free (text);
        }
    }
  *out_journal = g_byte_array_free_to_bytes (g_steal_pointer (&journal));
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* A watch of the fabric's keys                                         */

static void watch_start (AsmdEtcd *e);

static gboolean
watch_retry (gpointer data)
{
  watch_start (data);
  return G_SOURCE_REMOVE;
}

static void
watch_line (GObject *source, GAsyncResult *res, gpointer data)
{
  AsmdEtcd *e = data;
  g_autoptr (GError) err = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish (
      G_DATA_INPUT_STREAM (source), res, NULL, &err);

  if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (line == NULL)
    {
      /* the stream ended or broke (a member went away): watch again in a
       * moment; the new watch starts with a rebuild, so nothing is
       * missed */
      g_clear_object (&e->watch_stream);
      g_timeout_add (500, watch_retry, e);
      return;
    }
  if (strstr (line, "\"events\"") != NULL)
    e->watch_func (e->watch_data);
  g_data_input_stream_read_line_async (e->watch_stream, G_PRIORITY_DEFAULT,
                                       e->watch_cancel, watch_line, e);
}

static void
watch_sent (GObject *source, GAsyncResult *res, gpointer data)
{
  AsmdEtcd *e = data;
  g_autoptr (GError) err = NULL;
  g_autoptr (GInputStream) in = soup_session_send_finish (
      SOUP_SESSION (source), res, &err);

  if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (in == NULL)
    {
      g_timeout_add (500, watch_retry, e);
      return;
    }
  e->watch_stream = g_data_input_stream_new (in);
  /* whatever changed before the watch began is read now */
  e->watch_func (e->watch_data);
  g_data_input_stream_read_line_async (e->watch_stream, G_PRIORITY_DEFAULT,
                                       e->watch_cancel, watch_line, e);
}

static void
watch_start (AsmdEtcd *e)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) body = NULL;
  g_autofree char *end = prefix_end (e->prefix);
  g_autofree char *text = NULL, *url = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GBytes) request = NULL;

  if (e->watch_cancel == NULL || g_cancellable_is_cancelled (e->watch_cancel))
    return;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "create_request");
  json_builder_begin_object (b);
  add_key (b, e->prefix, end);
  json_builder_end_object (b);
  json_builder_end_object (b);
  body = json_builder_get_root (b);
  text = json_to_string (body, FALSE);
  e->current = (e->current + 1) % g_strv_length (e->endpoints);
  url = g_strconcat (e->endpoints[e->current], "/v3/watch", NULL);
  msg = soup_message_new ("POST", url);
  request = g_bytes_new (text, strlen (text));
  soup_message_set_request_body_from_bytes (msg, "application/json", request);
  soup_session_send_async (e->watch_session, msg, G_PRIORITY_DEFAULT,
                           e->watch_cancel, watch_sent, e);
}

void
asmd_etcd_watch (AsmdEtcd *e, AsmdEtcdChanged func, gpointer data)
{
  asmd_etcd_unwatch (e);
  if (e->watch_session == NULL)
    e->watch_session = soup_session_new ();
  e->watch_func = func;
  e->watch_data = data;
  e->watch_cancel = g_cancellable_new ();
  watch_start (e);
}

void
asmd_etcd_unwatch (AsmdEtcd *e)
{
  if (e->watch_cancel != NULL)
    g_cancellable_cancel (e->watch_cancel);
  g_clear_object (&e->watch_cancel);
  g_clear_object (&e->watch_stream);
}

/* ------------------------------------------------------------------ */
/* A journal in memory: a follower's private copy                       */

typedef struct {
  GByteArray *bytes;
} MemJournal;

static gboolean
mem_read (gpointer data, GBytes **out, GError **error)
{
  MemJournal *m = data;
  *out = g_bytes_new (m->bytes->data, m->bytes->len);
  return TRUE;
}

static gboolean
mem_append (gpointer data, guint64 offset, const char *bytes, gsize length,
            GError **error)
{
  MemJournal *m = data;
  g_byte_array_append (m->bytes, (const guint8 *) bytes, (guint) length);
  return TRUE;
}

static gboolean
mem_truncate (gpointer data, guint64 length, GError **error)
{
  MemJournal *m = data;
  g_byte_array_set_size (m->bytes, (guint) MIN (length, m->bytes->len));
  return TRUE;
}

static const AsmJournalStore mem_store = {
  .read = mem_read,
  .append = mem_append,
  .truncate = mem_truncate,
};

static void
mem_free (gpointer data)
{
  MemJournal *m = data;
  g_byte_array_unref (m->bytes);
  g_free (m);
}

AsmFabric *
asmd_etcd_replay (const char *snapshot, GBytes *journal, GError **error)
{
  MemJournal *m = g_new0 (MemJournal, 1);
  AsmFabric *f;

  m->bytes = g_byte_array_new ();
  g_byte_array_append (m->bytes, g_bytes_get_data (journal, NULL),
                       (guint) g_bytes_get_size (journal));
  f = asm_fabric_restore (snapshot, -1, NULL, error);
  if (f == NULL)
    {
      mem_free (m);
      return NULL;
    }
  /* model only: an operation in flight on the leader is not in the model
   * yet (its steps are undone on this private copy, never on hardware) */
  if (!asm_fabric_recover_store (f, &mem_store, m, mem_free, error))
    {
      asm_fabric_unref (f);
      return NULL;
    }
  return f;
}
