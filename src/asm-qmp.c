/* asm-qmp.c: a QMP client on GLib streams, and the QMP stream parser
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * QMP.  QEMU's machine protocol is a stream of JSON objects over a socket.
 * On connect QEMU sends a greeting {"QMP": {"version": ...}}; the client
 * answers {"execute": "qmp_capabilities"}; from then on every command
 * {"execute": NAME, "arguments": {...}, "id": N} gets exactly one reply,
 * {"return": VALUE, "id": N} or {"error": {"class", "desc"}, "id": N}, in
 * the order the commands were sent, and events {"event": NAME, "data":
 * {...}, "timestamp": {...}} may come between them at any time.  QEMU
 * writes one object per line (CR LF); nothing in the protocol requires
 * that, so the parser does not rely on it.
 *
 * The parser (AsmQmpParser) is a byte-driven framer in front of json-glib.
 * Between messages it skips whitespace and expects '{'; inside one it
 * tracks strings (with backslash escapes) and the nesting depth, and when
 * the depth returns to 0 it hands the object's text to json-glib and
 * classifies it (asm_qmp_message_parse()).  Anything else is skipped up
 * to the next newline, where QMP's one-object-per-line framing lets it
 * resynchronise: a byte that cannot start a message, an object longer than
 * the limit or nested deeper than MAX_DEPTH, a raw newline inside a string
 * (JSON forbids it, so it marks a line cut short), text json-glib rejects,
 * an object that is no QMP message.  Each skip is reported as an error
 * string and the stream goes on.  The framer's state depends on nothing
 * but the bytes, so the messages and errors do not depend on how the
 * stream is cut into reads (the fuzz target checks exactly that).
 *
 * The client (AsmQmp) owns one I/O thread running a private GMainContext.
 * All socket I/O happens there: a GDataInputStream reads lines
 * asynchronously and feeds them to the parser; writes are queued and sent
 * one at a time with g_output_stream_write_all_async().  The table of
 * pending commands (id -> Request) is touched only by that thread, so it
 * needs no lock.  A command is a GTask created in the caller's
 * thread-default context: asm_qmp_command_async() numbers it, formats it
 * and passes it to the I/O thread with an idle source; the I/O thread
 * arms its timeout and cancellation, queues its bytes, and completes the
 * task when the reply with its id arrives, the timeout fires, it is
 * cancelled or the connection ends.  GTask then runs the callback in the
 * caller's context, so the client is main-loop friendly in any thread.
 * The blocking asm_qmp_command() pushes a private GMainContext, starts the
 * command and iterates that context until the callback has run; it
 * cannot hang, because the I/O thread always completes the task (reply,
 * timeout or close).  A reply whose id is no longer pending (its command
 * timed out or was cancelled) is counted and dropped.
 *
 * The end.  EOF or an error on the socket closes the client: every
 * pending command fails at once with ASM_ERROR_BACKEND ("QEMU exited:
 * ..."), the hooks hear about it, and every later command fails at once
 * with the same message, without touching the socket.  When QEMU is
 * killed, the kernel closes its end of the socket and the blocked read
 * returns EOF immediately, so nobody waits for a timeout.
 *
 * Events go first to the hooks (called in the I/O thread, for state that
 * must be updated before any reply that follows the event is seen), then
 * to each handler in the main context it was added from.
 *
 * Lifetime.  The I/O thread holds no reference: the last asm_qmp_unref()
 * posts a shutdown to the thread (close, cancel the socket operations,
 * quit once they have called back), joins it, runs what is left in its
 * context, and frees everything.
 */
#include "asm-qmp-private.h"

#include <string.h>

#define MAX_DEPTH 128
#define DEFAULT_TIMEOUT_MS 5000

/* ------------------------------------------------------------------ */
/* messages                                                             */

void
asm_qmp_message_free (AsmQmpMessage *msg)
{
  if (msg == NULL)
    return;
  if (msg->root != NULL)
    json_node_unref (msg->root);
  g_free (msg->error_class);
  g_free (msg->error_desc);
  g_free (msg->event);
  g_free (msg->version);
  g_free (msg);
}

static gboolean
node_get_int (JsonNode *node, gint64 *out)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int (node);
  return TRUE;
}

static const char *
node_get_string (JsonNode *node)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static JsonObject *
member_object (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n != NULL && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n)
                                                  : NULL;
}

static char *
greeting_version (JsonObject *qmp)
{
  JsonObject *v = member_object (member_object (qmp, "version"), "qemu");
  gint64 ma, mi, mc;

  if (v != NULL && node_get_int (json_object_get_member (v, "major"), &ma) &&
      node_get_int (json_object_get_member (v, "minor"), &mi) &&
      node_get_int (json_object_get_member (v, "micro"), &mc))
    return g_strdup_printf ("%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT
                            ".%" G_GINT64_FORMAT, ma, mi, mc);
  return g_strdup ("");
}

/* TRUE when @text is one JSON object (by the framer's rules) and nothing
 * but whitespace after it.  json-glib 1.6 leaks the value it parsed when
 * text follows it, so such text never reaches it. */
static gboolean
single_object (const char *text, gsize length)
{
  guint depth = 0;
  gboolean in_string = FALSE, escape = FALSE;
  gsize i = 0;

  while (i < length && g_ascii_isspace (text[i]))
    i++;
  if (i == length || text[i] != '{')
    return FALSE;
  for (; i < length; i++)
    {
      char c = text[i];
      if (in_string)
        {
          if (escape)
            escape = FALSE;
          else if (c == '\\')
            escape = TRUE;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        depth++;
      else if ((c == '}' || c == ']') && --depth == 0)
        break;
    }
  if (i == length)
    return FALSE;
  for (i++; i < length; i++)
    if (!g_ascii_isspace (text[i]))
      return FALSE;
  return TRUE;
}

AsmQmpMessage *
asm_qmp_message_parse (const char *text, gsize length, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) err = NULL;
  g_autoptr (AsmQmpMessage) msg = NULL;
  JsonNode *root;
  JsonObject *o;
  gint64 id;

  if (!single_object (text, length))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "QMP: a message must be one JSON object");
      return NULL;
    }
  if (length > G_MAXSSIZE ||
      !json_parser_load_from_data (parser, text, (gssize) length, &err))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "QMP: not JSON: %s", err ? err->message : "too long");
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "QMP: a message must be a JSON object");
      return NULL;
    }
  msg = g_new0 (AsmQmpMessage, 1);
  msg->root = json_node_ref (root);
  msg->seconds = -1;
  msg->microseconds = -1;
  o = json_node_get_object (root);
  if (node_get_int (json_object_get_member (o, "id"), &id) && id >= 0)
    msg->id = (guint64) id;

  if (member_object (o, "QMP") != NULL)
    {
      msg->kind = ASM_QMP_MSG_GREETING;
      msg->version = greeting_version (member_object (o, "QMP"));
    }
  else if (json_object_has_member (o, "return"))
    {
      msg->kind = ASM_QMP_MSG_RETURN;
      msg->value = json_object_get_member (o, "return");
    }
  else if (json_object_has_member (o, "error"))
    {
      JsonObject *e = member_object (o, "error");
      const char *cls = e ? node_get_string (json_object_get_member (e,
                                                                     "class"))
                          : NULL;
      const char *desc = e ? node_get_string (json_object_get_member (e,
                                                                      "desc"))
                           : NULL;
      msg->kind = ASM_QMP_MSG_ERROR;
      msg->error_class = g_strdup (cls ? cls : "");
      msg->error_desc = g_strdup (desc ? desc
                                       : "QEMU sent a malformed error reply");
    }
  else if (node_get_string (json_object_get_member (o, "event")) != NULL)
    {
      JsonObject *ts = member_object (o, "timestamp");
      msg->kind = ASM_QMP_MSG_EVENT;
      msg->event = g_strdup (node_get_string (json_object_get_member (o,
                                                                      "event")));
      msg->data = member_object (o, "data");
      if (ts != NULL)
        {
          node_get_int (json_object_get_member (ts, "seconds"),
                        &msg->seconds);
          node_get_int (json_object_get_member (ts, "microseconds"),
                        &msg->microseconds);
        }
    }
  else
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "QMP: an object that is neither a greeting, a reply nor "
                   "an event");
      return NULL;
    }
  return g_steal_pointer (&msg);
}

/* ------------------------------------------------------------------ */
/* the stream parser                                                    */

struct _AsmQmpParser {
  GString *buf;        /* the object being read */
  gsize max;
  guint depth;         /* 0: between messages */
  gboolean in_string;
  gboolean escape;
  gboolean skipping;   /* discarding up to the next newline */
};

AsmQmpParser *
asm_qmp_parser_new (gsize max_message)
{
  AsmQmpParser *p = g_new0 (AsmQmpParser, 1);

  p->buf = g_string_new (NULL);
  p->max = max_message ? max_message : ASM_QMP_MAX_MESSAGE;
  return p;
}

void
asm_qmp_parser_free (AsmQmpParser *parser)
{
  if (parser == NULL)
    return;
  g_string_free (parser->buf, TRUE);
  g_free (parser);
}

gsize
asm_qmp_parser_get_pending (AsmQmpParser *parser)
{
  return parser->buf->len;
}

static void
parser_reset (AsmQmpParser *p)
{
  g_string_truncate (p->buf, 0);
  p->depth = 0;
  p->in_string = FALSE;
  p->escape = FALSE;
}

static void
parser_error (GPtrArray *errors, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
parser_error (GPtrArray *errors, const char *fmt, ...)
{
  va_list ap;

  if (errors == NULL)
    return;
  va_start (ap, fmt);
  g_ptr_array_add (errors, g_strdup_vprintf (fmt, ap));
  va_end (ap);
}

/* Skips the rest of the line: the object so far is dropped. */
static void
parser_skip (AsmQmpParser *p, guchar c)
{
  parser_reset (p);
  p->skipping = c != '\n';
}

guint
asm_qmp_parser_feed (AsmQmpParser *p, const char *data, gsize length,
                     GPtrArray *messages, GPtrArray *errors)
{
  guint n = 0;

  for (gsize i = 0; i < length; i++)
    {
      guchar c = (guchar) data[i];

      if (p->skipping)
        {
          if (c == '\n')
            p->skipping = FALSE;
          continue;
        }
      if (p->depth == 0)
        {
          if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
          if (c != '{')
            {
              parser_error (errors, "QMP: byte 0x%02x cannot start a "
                            "message; skipping the line", c);
              parser_skip (p, c);
              continue;
            }
          p->depth = 1;
          g_string_append_c (p->buf, '{');
          continue;
        }
      if (p->buf->len >= p->max)
        {
          parser_error (errors, "QMP: a message longer than %" G_GSIZE_FORMAT
                        " bytes; skipping the line", p->max);
          parser_skip (p, c);
          continue;
        }
      g_string_append_c (p->buf, (char) c);
      if (p->in_string)
        {
          if (c == '\n') /* raw, even after a backslash: a line cut short */
            {
              parser_error (errors, "QMP: a line ends inside a string");
              parser_skip (p, c);
            }
          else if (p->escape)
            p->escape = FALSE;
          else if (c == '\\')
            p->escape = TRUE;
          else if (c == '"')
            p->in_string = FALSE;
          continue;
        }
      switch (c)
        {
        case '"':
          p->in_string = TRUE;
          break;
        case '{':
        case '[':
          if (++p->depth > MAX_DEPTH)
            {
              parser_error (errors, "QMP: a message nested deeper than %d "
                            "levels; skipping the line", MAX_DEPTH);
              parser_skip (p, c);
            }
          break;
        case '}':
        case ']':
          if (--p->depth == 0)
            {
              g_autoptr (GError) err = NULL;
              AsmQmpMessage *msg = asm_qmp_message_parse (p->buf->str,
                                                          p->buf->len, &err);
              if (msg != NULL)
                {
                  g_ptr_array_add (messages, msg);
                  n++;
                }
              else
                parser_error (errors, "%s", err->message);
              parser_reset (p);
            }
          break;
        default:
          break;
        }
    }
  return n;
}

/* ------------------------------------------------------------------ */
/* the client                                                           */

typedef struct {
  gint ref;
  guint id;
  AsmQmpEventFunc func;
  gpointer data;
  GDestroyNotify notify;
  GMainContext *ctx;
  gint active;
} Handler;

typedef struct {
  AsmQmp *qmp;
  guint64 id;
  char *command;
  guint timeout_ms;
  GTask *task;
  GBytes *bytes;
  GSource *timeout;
  GCancellable *cancellable;
  gulong cancel_id;
} Request;

typedef struct {
  JsonNode *value;    /* success */
  char *error_class;  /* QMP error reply */
  char *error_desc;
} Reply;

struct _AsmQmp {
  gint ref;

  /* fixed after connect */
  GMainContext *ctx;
  GMainLoop *loop;
  GThread *thread;
  GSocketConnection *conn;
  GDataInputStream *in;
  GOutputStream *out;
  GCancellable *io_cancel;
  AsmQmpHooks hooks;
  gpointer hooks_data;

  /* the I/O thread only */
  AsmQmpParser *parser;
  GHashTable *pending;   /* guint64 id -> Request * */
  GQueue writes;         /* GBytes * */
  GBytes *writing;       /* being written, or NULL */
  gboolean reading;
  gboolean stopping;

  /* under lock */
  GMutex lock;
  GCond cond;
  gboolean closed;
  char *reason;
  gboolean greeted;
  char *version;
  GPtrArray *handlers;   /* Handler * */
  guint next_handler;
  guint default_timeout;
  guint64 next_id;
  guint64 n_commands;
  guint64 n_late;
};

static void
reply_free (gpointer p)
{
  Reply *r = p;

  if (r->value != NULL)
    json_node_unref (r->value);
  g_free (r->error_class);
  g_free (r->error_desc);
  g_free (r);
}

static void
handler_unref (Handler *h)
{
  if (!g_atomic_int_dec_and_test (&h->ref))
    return;
  if (h->notify != NULL)
    h->notify (h->data);
  g_main_context_unref (h->ctx);
  g_free (h);
}

static char *
qmp_reason (AsmQmp *qmp)
{
  char *r;

  g_mutex_lock (&qmp->lock);
  r = g_strdup (qmp->reason ? qmp->reason : "QMP connection closed");
  g_mutex_unlock (&qmp->lock);
  return r;
}

/* Completes a request (I/O thread), with a reply or an error, and frees
 * it.  It must already be out of the pending table. */
static void
request_finish (Request *r, Reply *reply, GError *error)
{
  if (r->timeout != NULL)
    {
      g_source_destroy (r->timeout);
      g_source_unref (r->timeout);
    }
  if (r->cancel_id != 0)
    g_cancellable_disconnect (r->cancellable, r->cancel_id);
  if (error != NULL)
    g_task_return_error (r->task, error);
  else
    g_task_return_pointer (r->task, reply, reply_free);
  g_object_unref (r->task);
  g_clear_object (&r->cancellable);
  g_clear_pointer (&r->bytes, g_bytes_unref);
  g_free (r->command);
  g_free (r);
}

static void maybe_quit (AsmQmp *qmp);
static void kick_writer (AsmQmp *qmp);

/* Closes the connection (I/O thread): everything pending fails now,
 * everything later fails at once. */
static void
close_in_thread (AsmQmp *qmp, const char *reason)
{
  GHashTableIter it;
  gpointer v;
  GPtrArray *reqs;

  g_mutex_lock (&qmp->lock);
  if (qmp->closed)
    {
      g_mutex_unlock (&qmp->lock);
      return;
    }
  qmp->closed = TRUE;
  qmp->reason = g_strdup (reason);
  g_cond_broadcast (&qmp->cond);
  g_mutex_unlock (&qmp->lock);

  g_cancellable_cancel (qmp->io_cancel);
  g_queue_clear_full (&qmp->writes, (GDestroyNotify) g_bytes_unref);
  /* fail them in id order, the order they were sent */
  reqs = g_ptr_array_new ();
  g_hash_table_iter_init (&it, qmp->pending);
  while (g_hash_table_iter_next (&it, NULL, &v))
    g_ptr_array_add (reqs, v);
  g_hash_table_steal_all (qmp->pending);
  for (guint i = 0; i < reqs->len; i++)
    for (guint j = i + 1; j < reqs->len; j++)
      if (((Request *) reqs->pdata[j])->id < ((Request *) reqs->pdata[i])->id)
        {
          gpointer t = reqs->pdata[i];
          reqs->pdata[i] = reqs->pdata[j];
          reqs->pdata[j] = t;
        }
  for (guint i = 0; i < reqs->len; i++)
    {
      Request *r = reqs->pdata[i];
      request_finish (r, NULL, g_error_new (ASM_ERROR, ASM_ERROR_BACKEND,
                                            "QMP %s: %s", r->command,
                                            reason));
    }
  g_ptr_array_free (reqs, TRUE);
  if (qmp->hooks.closed != NULL)
    qmp->hooks.closed (qmp, reason, qmp->hooks_data);
}

typedef struct {
  gint ref;
  AsmQmp *qmp;
  Handler *h;
  AsmQmpMessage *msg;
} Delivery;

static gboolean
deliver_event (gpointer p)
{
  Delivery *d = p;

  if (g_atomic_int_get (&d->h->active))
    d->h->func (d->qmp, d->msg, d->h->data);
  return G_SOURCE_REMOVE;
}

static void
delivery_free (gpointer p)
{
  Delivery *d = p;

  handler_unref (d->h);
  asm_qmp_message_free (d->msg);
  g_free (d);
}

static AsmQmpMessage *
message_copy (const AsmQmpMessage *m)
{
  AsmQmpMessage *c = g_new0 (AsmQmpMessage, 1);

  *c = *m;
  c->root = json_node_copy (m->root);
  c->error_class = g_strdup (m->error_class);
  c->error_desc = g_strdup (m->error_desc);
  c->event = g_strdup (m->event);
  c->version = g_strdup (m->version);
  c->value = NULL;
  c->data = NULL;
  if (m->kind == ASM_QMP_MSG_RETURN)
    c->value = json_object_get_member (json_node_get_object (c->root),
                                       "return");
  if (m->data != NULL)
    c->data = member_object (json_node_get_object (c->root), "data");
  return c;
}

static void
dispatch_event (AsmQmp *qmp, AsmQmpMessage *msg)
{
  g_autoptr (GPtrArray) hs = g_ptr_array_new ();

  if (qmp->hooks.event != NULL)
    qmp->hooks.event (qmp, msg, qmp->hooks_data);
  g_mutex_lock (&qmp->lock);
  for (guint i = 0; i < qmp->handlers->len; i++)
    {
      Handler *h = qmp->handlers->pdata[i];
      g_atomic_int_inc (&h->ref);
      g_ptr_array_add (hs, h);
    }
  g_mutex_unlock (&qmp->lock);
  for (guint i = 0; i < hs->len; i++)
    {
      Delivery *d = g_new0 (Delivery, 1);
      GSource *s = g_idle_source_new ();
      d->qmp = qmp;
      d->h = hs->pdata[i];
      d->msg = message_copy (msg);
      g_source_set_callback (s, deliver_event, d, delivery_free);
      g_source_set_priority (s, G_PRIORITY_DEFAULT);
      g_source_attach (s, d->h->ctx);
      g_source_unref (s);
    }
}

static void
dispatch (AsmQmp *qmp, AsmQmpMessage *msg)
{
  Request *r;
  Reply *reply;

  switch (msg->kind)
    {
    case ASM_QMP_MSG_GREETING:
      g_mutex_lock (&qmp->lock);
      if (!qmp->greeted)
        {
          qmp->greeted = TRUE;
          qmp->version = g_strdup (msg->version);
          g_cond_broadcast (&qmp->cond);
        }
      g_mutex_unlock (&qmp->lock);
      return;
    case ASM_QMP_MSG_EVENT:
      dispatch_event (qmp, msg);
      return;
    case ASM_QMP_MSG_RETURN:
    case ASM_QMP_MSG_ERROR:
      break;
    }
  r = msg->id ? g_hash_table_lookup (qmp->pending, &msg->id) : NULL;
  if (r == NULL)
    {
      g_mutex_lock (&qmp->lock);
      qmp->n_late++;
      g_mutex_unlock (&qmp->lock);
      g_debug ("QMP: dropping a reply for id %" G_GUINT64_FORMAT
               " (timed out, cancelled or not ours)", msg->id);
      return;
    }
  g_hash_table_steal (qmp->pending, &msg->id);
  reply = g_new0 (Reply, 1);
  if (msg->kind == ASM_QMP_MSG_RETURN)
    reply->value = json_node_copy (msg->value);
  else
    {
      reply->error_class = g_strdup (msg->error_class);
      reply->error_desc = g_strdup (msg->error_desc);
    }
  request_finish (r, reply, NULL);
}

static void start_read (AsmQmp *qmp);

/* A read or a write of the QMP stream failed (I/O thread): unless we
 * cancelled it ourselves, QEMU is gone, and the connection closes with
 * "QEMU exited (DOING QMP failed: ...)". */
static void
close_on_io_error (AsmQmp *qmp, const char *doing, const GError *err)
{
  g_autofree char *why = NULL;

  if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  why = g_strdup_printf ("QEMU exited (%s QMP failed: %s)", doing,
                         err->message);
  close_in_thread (qmp, why);
}

static void
on_line (GObject *source, GAsyncResult *res, gpointer user_data)
{
  AsmQmp *qmp = user_data;
  g_autoptr (GError) err = NULL;
  g_autofree char *line = NULL;
  gsize len = 0;

  qmp->reading = FALSE;
  line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source),
                                               res, &len, &err);
  if (line == NULL)
    {
      if (err == NULL)
        close_in_thread (qmp, "QEMU exited (the QMP connection was closed)");
      else
        close_on_io_error (qmp, "reading", err);
      maybe_quit (qmp);
      return;
    }
  {
    g_autoptr (GPtrArray) msgs = g_ptr_array_new_with_free_func (
        (GDestroyNotify) asm_qmp_message_free);
    g_autoptr (GPtrArray) errs = g_ptr_array_new_with_free_func (g_free);

    asm_qmp_parser_feed (qmp->parser, line, len, msgs, errs);
    asm_qmp_parser_feed (qmp->parser, "\n", 1, msgs, errs);
    for (guint i = 0; i < errs->len; i++)
      g_warning ("%s", (char *) errs->pdata[i]);
    for (guint i = 0; i < msgs->len; i++)
      dispatch (qmp, msgs->pdata[i]);
  }
  if (!g_cancellable_is_cancelled (qmp->io_cancel))
    start_read (qmp);
  maybe_quit (qmp);
}

static void
start_read (AsmQmp *qmp)
{
  qmp->reading = TRUE;
  g_data_input_stream_read_line_async (qmp->in, G_PRIORITY_DEFAULT,
                                       qmp->io_cancel, on_line, qmp);
}

static void
on_written (GObject *source, GAsyncResult *res, gpointer user_data)
{
  AsmQmp *qmp = user_data;
  g_autoptr (GError) err = NULL;

  g_clear_pointer (&qmp->writing, g_bytes_unref);
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), res, NULL,
                                         &err))
    {
      close_on_io_error (qmp, "writing", err);
      maybe_quit (qmp);
      return;
    }
  kick_writer (qmp);
  maybe_quit (qmp);
}

static void
kick_writer (AsmQmp *qmp)
{
  gsize size;
  gconstpointer data;

  if (qmp->writing != NULL || g_queue_is_empty (&qmp->writes) ||
      g_cancellable_is_cancelled (qmp->io_cancel))
    return;
  qmp->writing = g_queue_pop_head (&qmp->writes);
  data = g_bytes_get_data (qmp->writing, &size);
  g_output_stream_write_all_async (qmp->out, data, size, G_PRIORITY_DEFAULT,
                                   qmp->io_cancel, on_written, qmp);
}

static void
maybe_quit (AsmQmp *qmp)
{
  if (qmp->stopping && !qmp->reading && qmp->writing == NULL)
    g_main_loop_quit (qmp->loop);
}

static gboolean
on_timeout (gpointer p)
{
  Request *r = p;
  AsmQmp *qmp = r->qmp;

  g_hash_table_steal (qmp->pending, &r->id);
  request_finish (r, NULL, g_error_new (ASM_ERROR, ASM_ERROR_TIMEOUT,
                                        "QMP %s: no reply from QEMU within "
                                        "%u ms", r->command, r->timeout_ms));
  return G_SOURCE_REMOVE;
}

typedef struct {
  AsmQmp *qmp;
  guint64 id;
} CancelNote;

static gboolean
cancel_in_thread (gpointer p)
{
  CancelNote *c = p;
  Request *r = g_hash_table_lookup (c->qmp->pending, &c->id);

  if (r != NULL)
    {
      g_hash_table_steal (c->qmp->pending, &c->id);
      request_finish (r, NULL, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                            "QMP %s: cancelled",
                                            r->command));
    }
  return G_SOURCE_REMOVE;
}

static void
on_cancelled (GCancellable *cancellable, gpointer p)
{
  CancelNote *c = g_new (CancelNote, 1);
  GSource *s = g_idle_source_new ();

  *c = *(CancelNote *) p;
  g_source_set_callback (s, cancel_in_thread, c, g_free);
  g_source_attach (s, c->qmp->ctx);
  g_source_unref (s);
}

static gboolean
send_in_thread (gpointer p)
{
  Request *r = p;
  AsmQmp *qmp = r->qmp;
  gboolean closed;

  g_mutex_lock (&qmp->lock);
  closed = qmp->closed;
  g_mutex_unlock (&qmp->lock);
  if (closed)
    {
      g_autofree char *why = qmp_reason (qmp);
      request_finish (r, NULL, g_error_new (ASM_ERROR, ASM_ERROR_BACKEND,
                                            "QMP %s: %s", r->command, why));
      return G_SOURCE_REMOVE;
    }
  if (r->cancellable != NULL && g_cancellable_is_cancelled (r->cancellable))
    {
      request_finish (r, NULL, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                            "QMP %s: cancelled",
                                            r->command));
      return G_SOURCE_REMOVE;
    }
  g_hash_table_insert (qmp->pending, &r->id, r);
  if (r->timeout_ms != G_MAXUINT)
    {
      r->timeout = g_timeout_source_new (r->timeout_ms);
      g_source_set_callback (r->timeout, on_timeout, r, NULL);
      g_source_attach (r->timeout, qmp->ctx);
    }
  if (r->cancellable != NULL)
    {
      CancelNote *c = g_new (CancelNote, 1);
      c->qmp = qmp;
      c->id = r->id;
      r->cancel_id = g_cancellable_connect (r->cancellable,
                                            G_CALLBACK (on_cancelled), c,
                                            g_free);
    }
  g_queue_push_tail (&qmp->writes, g_steal_pointer (&r->bytes));
  kick_writer (qmp);
  return G_SOURCE_REMOVE;
}

static gboolean
shutdown_in_thread (gpointer p)
{
  AsmQmp *qmp = p;

  qmp->stopping = TRUE;
  close_in_thread (qmp, "the QMP connection was closed by its client");
  maybe_quit (qmp);
  return G_SOURCE_REMOVE;
}

static gpointer
io_thread (gpointer p)
{
  AsmQmp *qmp = p;

  g_main_context_push_thread_default (qmp->ctx);
  start_read (qmp);
  g_main_loop_run (qmp->loop);
  g_main_context_pop_thread_default (qmp->ctx);
  return NULL;
}

static void
post (AsmQmp *qmp, GSourceFunc func, gpointer data, GDestroyNotify notify)
{
  GSource *s = g_idle_source_new ();

  g_source_set_callback (s, func, data, notify);
  g_source_attach (s, qmp->ctx);
  g_source_unref (s);
}

static void
qmp_free (AsmQmp *qmp)
{
  if (qmp->thread != NULL)
    {
      post (qmp, shutdown_in_thread, qmp, NULL);
      g_thread_join (qmp->thread);
      qmp->thread = NULL;
      /* run what was posted after the shutdown: sends fail, as closed */
      while (g_main_context_iteration (qmp->ctx, FALSE))
        ;
    }
  if (qmp->conn != NULL)
    g_io_stream_close (G_IO_STREAM (qmp->conn), NULL, NULL);
  g_clear_object (&qmp->in);
  g_clear_object (&qmp->conn);
  g_clear_object (&qmp->io_cancel);
  g_clear_pointer (&qmp->loop, g_main_loop_unref);
  g_clear_pointer (&qmp->ctx, g_main_context_unref);
  g_clear_pointer (&qmp->parser, asm_qmp_parser_free);
  g_hash_table_unref (qmp->pending);
  g_queue_clear_full (&qmp->writes, (GDestroyNotify) g_bytes_unref);
  for (guint i = 0; i < qmp->handlers->len; i++)
    {
      Handler *h = qmp->handlers->pdata[i];
      g_atomic_int_set (&h->active, FALSE);
      handler_unref (h);
    }
  g_ptr_array_free (qmp->handlers, TRUE);
  g_free (qmp->reason);
  g_free (qmp->version);
  g_mutex_clear (&qmp->lock);
  g_cond_clear (&qmp->cond);
  g_free (qmp);
}

AsmQmp *
asm_qmp_connect (const char *path, guint timeout_ms, const AsmQmpHooks *hooks,
                 gpointer hooks_data, GError **error)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketAddress) addr = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (JsonNode) ret = NULL;
  GSocketConnection *conn;
  AsmQmp *qmp;
  gint64 deadline;
  gboolean greeted, closed;

  g_return_val_if_fail (path != NULL, NULL);
  deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  addr = g_unix_socket_address_new (path);
  conn = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (addr), NULL,
                                  error);
  if (conn == NULL)
    return NULL;

  qmp = g_new0 (AsmQmp, 1);
  qmp->ref = 1;
  g_mutex_init (&qmp->lock);
  g_cond_init (&qmp->cond);
  qmp->conn = conn;
  qmp->in = g_data_input_stream_new (
      g_io_stream_get_input_stream (G_IO_STREAM (conn)));
  g_data_input_stream_set_newline_type (qmp->in,
                                        G_DATA_STREAM_NEWLINE_TYPE_LF);
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (qmp->in),
                                               FALSE);
  qmp->out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  qmp->io_cancel = g_cancellable_new ();
  qmp->ctx = g_main_context_new ();
  qmp->loop = g_main_loop_new (qmp->ctx, FALSE);
  qmp->parser = asm_qmp_parser_new (0);
  qmp->pending = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_queue_init (&qmp->writes);
  qmp->handlers = g_ptr_array_new ();
  qmp->default_timeout = DEFAULT_TIMEOUT_MS;
  qmp->next_id = 1;
  if (hooks != NULL)
    qmp->hooks = *hooks;
  qmp->hooks_data = hooks_data;
  qmp->thread = g_thread_new ("asm-qmp", io_thread, qmp);

  g_mutex_lock (&qmp->lock);
  while (!qmp->greeted && !qmp->closed &&
         g_cond_wait_until (&qmp->cond, &qmp->lock, deadline))
    ;
  greeted = qmp->greeted;
  closed = qmp->closed;
  g_mutex_unlock (&qmp->lock);
  if (!greeted)
    {
      if (closed)
        {
          g_autofree char *why = qmp_reason (qmp);
          g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                       "QMP at %s: %s before its greeting", path, why);
        }
      else
        g_set_error (error, ASM_ERROR, ASM_ERROR_TIMEOUT,
                     "QMP at %s: no greeting within %u ms (is another "
                     "client connected?)", path, timeout_ms);
      asm_qmp_unref (qmp);
      return NULL;
    }
  {
    gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
    ret = asm_qmp_command (qmp, "qmp_capabilities", NULL,
                           (guint) CLAMP (left, 1, G_MAXUINT - 1), NULL,
                           &err);
  }
  if (ret == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&err),
                                  "QMP at %s: ", path);
      asm_qmp_unref (qmp);
      return NULL;
    }
  return qmp;
}

AsmQmp *
asm_qmp_ref (AsmQmp *qmp)
{
  g_atomic_int_inc (&qmp->ref);
  return qmp;
}

void
asm_qmp_unref (AsmQmp *qmp)
{
  if (qmp != NULL && g_atomic_int_dec_and_test (&qmp->ref))
    qmp_free (qmp);
}

typedef struct {
  AsmQmp *qmp;
  char *reason;
} CloseNote;

static gboolean
close_note_in_thread (gpointer p)
{
  CloseNote *c = p;

  close_in_thread (c->qmp, c->reason);
  return G_SOURCE_REMOVE;
}

static void
close_note_free (gpointer p)
{
  CloseNote *c = p;

  g_free (c->reason);
  g_free (c);
}

void
asm_qmp_close (AsmQmp *qmp, const char *reason)
{
  CloseNote *c = g_new0 (CloseNote, 1);

  c->qmp = qmp;
  c->reason = g_strdup (reason ? reason : "the QMP connection was closed");
  post (qmp, close_note_in_thread, c, close_note_free);
  /* wait until the I/O thread has made it so */
  g_mutex_lock (&qmp->lock);
  while (!qmp->closed)
    g_cond_wait (&qmp->cond, &qmp->lock);
  g_mutex_unlock (&qmp->lock);
}

gboolean
asm_qmp_is_closed (AsmQmp *qmp, char **out_reason)
{
  gboolean closed;

  g_mutex_lock (&qmp->lock);
  closed = qmp->closed;
  if (out_reason != NULL)
    *out_reason = closed ? g_strdup (qmp->reason) : NULL;
  g_mutex_unlock (&qmp->lock);
  return closed;
}

const char *
asm_qmp_get_version (AsmQmp *qmp)
{
  return qmp->version ? qmp->version : "";
}

void
asm_qmp_set_default_timeout (AsmQmp *qmp, guint timeout_ms)
{
  g_mutex_lock (&qmp->lock);
  qmp->default_timeout = timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS;
  g_mutex_unlock (&qmp->lock);
}

guint
asm_qmp_get_default_timeout (AsmQmp *qmp)
{
  guint t;

  g_mutex_lock (&qmp->lock);
  t = qmp->default_timeout;
  g_mutex_unlock (&qmp->lock);
  return t;
}

void
asm_qmp_command_async (AsmQmp *qmp, const char *command,
                       JsonObject *arguments, guint timeout_ms,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  GTask *task;
  Request *r;
  char *text;
  gboolean closed;

  g_return_if_fail (qmp != NULL && command != NULL);
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, asm_qmp_command_async);
  r = g_new0 (Request, 1);
  r->qmp = qmp;
  r->task = task;
  r->command = g_strdup (command);
  r->cancellable = cancellable ? g_object_ref (cancellable) : NULL;

  g_mutex_lock (&qmp->lock);
  closed = qmp->closed;
  r->id = qmp->next_id++;
  r->timeout_ms = timeout_ms ? timeout_ms : qmp->default_timeout;
  if (!closed)
    qmp->n_commands++;
  g_mutex_unlock (&qmp->lock);
  if (closed)
    {
      g_autofree char *why = qmp_reason (qmp);
      request_finish (r, NULL, g_error_new (ASM_ERROR, ASM_ERROR_BACKEND,
                                            "QMP %s: %s", command, why));
      return;
    }

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "execute");
  json_builder_add_string_value (b, command);
  if (arguments != NULL)
    {
      JsonNode *a = json_node_new (JSON_NODE_OBJECT);
      json_node_set_object (a, arguments);
      json_builder_set_member_name (b, "arguments");
      json_builder_add_value (b, a);
    }
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, (gint64) r->id);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, FALSE);
  {
    gsize n = strlen (text);
    text = g_realloc (text, n + 2);
    text[n] = '\n';
    text[n + 1] = '\0';
    r->bytes = g_bytes_new_take (text, n + 1);
  }
  post (qmp, send_in_thread, r, NULL);
}

JsonNode *
asm_qmp_command_finish (AsmQmp *qmp, GAsyncResult *result, char **out_class,
                        GError **error)
{
  Reply *reply;
  JsonNode *value;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  if (out_class != NULL)
    *out_class = NULL;
  reply = g_task_propagate_pointer (G_TASK (result), error);
  if (reply == NULL)
    return NULL;
  if (reply->error_desc != NULL)
    {
      g_set_error_literal (error, ASM_ERROR, ASM_ERROR_BACKEND,
                           reply->error_desc);
      if (out_class != NULL)
        *out_class = g_steal_pointer (&reply->error_class);
      reply_free (reply);
      return NULL;
    }
  value = g_steal_pointer (&reply->value);
  reply_free (reply);
  return value ? value : json_node_new (JSON_NODE_NULL);
}

typedef struct {
  GAsyncResult *res;
} SyncWait;

static void
sync_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  SyncWait *w = user_data;

  w->res = g_object_ref (res);
}

JsonNode *
asm_qmp_command (AsmQmp *qmp, const char *command, JsonObject *arguments,
                 guint timeout_ms, char **out_class, GError **error)
{
  GMainContext *ctx = g_main_context_new ();
  SyncWait w = { NULL };
  JsonNode *ret;

  g_main_context_push_thread_default (ctx);
  asm_qmp_command_async (qmp, command, arguments, timeout_ms, NULL,
                         sync_done, &w);
  while (w.res == NULL)
    g_main_context_iteration (ctx, TRUE);
  g_main_context_pop_thread_default (ctx);
  ret = asm_qmp_command_finish (qmp, w.res, out_class, error);
  g_object_unref (w.res);
  /* the task may still hold the context until its last idle has run */
  while (g_main_context_iteration (ctx, FALSE))
    ;
  g_main_context_unref (ctx);
  return ret;
}

guint
asm_qmp_add_event_handler (AsmQmp *qmp, AsmQmpEventFunc func,
                           gpointer user_data, GDestroyNotify notify)
{
  Handler *h = g_new0 (Handler, 1);
  guint id;

  h->ref = 1;
  h->func = func;
  h->data = user_data;
  h->notify = notify;
  h->ctx = g_main_context_ref_thread_default ();
  h->active = TRUE;
  g_mutex_lock (&qmp->lock);
  id = h->id = ++qmp->next_handler;
  g_ptr_array_add (qmp->handlers, h);
  g_mutex_unlock (&qmp->lock);
  return id;
}

void
asm_qmp_remove_event_handler (AsmQmp *qmp, guint handler_id)
{
  Handler *found = NULL;

  g_mutex_lock (&qmp->lock);
  for (guint i = 0; i < qmp->handlers->len; i++)
    {
      Handler *h = qmp->handlers->pdata[i];
      if (h->id == handler_id)
        {
          found = h;
          g_ptr_array_remove_index (qmp->handlers, i);
          break;
        }
    }
  g_mutex_unlock (&qmp->lock);
  if (found != NULL)
    {
      g_atomic_int_set (&found->active, FALSE);
      handler_unref (found);
    }
}

guint64
asm_qmp_get_n_commands (AsmQmp *qmp)
{
  guint64 n;

  g_mutex_lock (&qmp->lock);
  n = qmp->n_commands;
  g_mutex_unlock (&qmp->lock);
  return n;
}

guint64
asm_qmp_get_n_late_replies (AsmQmp *qmp)
{
  guint64 n;

  g_mutex_lock (&qmp->lock);
  n = qmp->n_late;
  g_mutex_unlock (&qmp->lock);
  return n;
}
