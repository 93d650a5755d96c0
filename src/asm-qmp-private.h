/* asm-qmp-private.h: the QMP client and stream parser behind the qemu backend
 *
 * Not installed.  Reached through the static internal library only (the
 * qemu backend, its tests and the fuzz target), so nothing here is
 * exported from libasm-1.so.  See the theory comment of asm-qmp.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <asm/asm-backend.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* ------------------------------------------------------------------ */
/* the stream parser                                                    */

typedef enum {
  ASM_QMP_MSG_GREETING, /* {"QMP": {...}} */
  ASM_QMP_MSG_RETURN,   /* {"return": ..., "id": ...} */
  ASM_QMP_MSG_ERROR,    /* {"error": {"class", "desc"}, "id": ...} */
  ASM_QMP_MSG_EVENT,    /* {"event": "...", "data": {...}, "timestamp"} */
} AsmQmpMsgKind;

typedef struct {
  AsmQmpMsgKind kind;
  guint64 id;           /* the integer "id" member; 0 when absent or not a
                           non-negative integer (the client numbers from 1) */
  JsonNode *root;       /* the whole object (owned) */
  JsonNode *value;      /* RETURN: the "return" member (in root) */
  char *error_class;    /* ERROR: "GenericError", "DeviceNotFound", ... */
  char *error_desc;     /* ERROR: QEMU's message */
  char *event;          /* EVENT: its name */
  JsonObject *data;     /* EVENT: its "data" (in root), or NULL */
  gint64 seconds;       /* EVENT: timestamp, -1 when absent */
  gint64 microseconds;
  char *version;        /* GREETING: "7.2.22" or "" */
} AsmQmpMessage;

void asm_qmp_message_free (AsmQmpMessage *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AsmQmpMessage, asm_qmp_message_free)

/* Classifies one complete JSON text as a QMP message.  Fails with
 * ASM_ERROR_PARSE for text that is not one JSON object or an object that
 * is none of the four kinds. */
AsmQmpMessage *asm_qmp_message_parse (const char *text, gsize length,
                                      GError **error);

typedef struct _AsmQmpParser AsmQmpParser;

/* The largest message the parser accepts (bytes of one JSON object). */
#define ASM_QMP_MAX_MESSAGE (16u << 20)

AsmQmpParser *asm_qmp_parser_new (gsize max_message);
void asm_qmp_parser_free (AsmQmpParser *parser);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AsmQmpParser, asm_qmp_parser_free)

/* Feeds @length bytes of a QMP stream.  Every message completed by them is
 * appended to @messages (AsmQmpMessage *, owned by the array's free
 * function); every malformed one is skipped and described by a string
 * appended to @errors (may be NULL).  The result does not depend on how a
 * stream is cut into calls.  Returns the number of messages appended. */
guint asm_qmp_parser_feed (AsmQmpParser *parser, const char *data,
                           gsize length, GPtrArray *messages,
                           GPtrArray *errors);

/* Bytes of an incomplete message held between calls. */
gsize asm_qmp_parser_get_pending (AsmQmpParser *parser);

/* ------------------------------------------------------------------ */
/* the client                                                           */

typedef struct _AsmQmp AsmQmp;

/* Called for every event, in the main context that was the thread
 * default when the handler was added. */
typedef void (*AsmQmpEventFunc) (AsmQmp *qmp, const AsmQmpMessage *event,
                                 gpointer user_data);

/* Hooks called in the client's I/O thread, before anything else sees the
 * event or the close: they must not block nor call the client. */
typedef struct {
  void (*event) (AsmQmp *qmp, const AsmQmpMessage *event, gpointer data);
  void (*closed) (AsmQmp *qmp, const char *reason, gpointer data);
} AsmQmpHooks;

/* Connects to the QMP socket at @path, reads the greeting and negotiates
 * capabilities, all within @timeout_ms.  Blocking.  Fails with the
 * GIOError of the connection (G_IO_ERROR_NOT_FOUND, ...) when the socket
 * cannot be reached, so that a caller can retry while QEMU starts; with
 * ASM_ERROR_TIMEOUT or ASM_ERROR_BACKEND once connected. */
AsmQmp *asm_qmp_connect (const char *path, guint timeout_ms,
                         const AsmQmpHooks *hooks, gpointer hooks_data,
                         GError **error);
AsmQmp *asm_qmp_ref (AsmQmp *qmp);
/* The last reference closes the connection (pending commands fail with
 * ASM_ERROR_BACKEND) and joins the I/O thread; it must not be dropped in
 * a hook. */
void asm_qmp_unref (AsmQmp *qmp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AsmQmp, asm_qmp_unref)

/* Closes the connection now: every pending and later command fails with
 * ASM_ERROR_BACKEND and @reason. */
void asm_qmp_close (AsmQmp *qmp, const char *reason);

/* TRUE once the connection is closed; @out_reason (nullable) gets why. */
gboolean asm_qmp_is_closed (AsmQmp *qmp, char **out_reason);

/* The version QEMU announced in its greeting ("7.2.22"). */
const char *asm_qmp_get_version (AsmQmp *qmp);

/* The timeout of commands given 0 as theirs (5000 ms at first). */
void asm_qmp_set_default_timeout (AsmQmp *qmp, guint timeout_ms);
guint asm_qmp_get_default_timeout (AsmQmp *qmp);

/* Sends a command; @arguments (nullable, transfer none) is copied.
 * @timeout_ms 0 means the default, G_MAXUINT none.  @callback runs in the
 * thread-default main context of the caller. */
void asm_qmp_command_async (AsmQmp *qmp, const char *command,
                            JsonObject *arguments, guint timeout_ms,
                            GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
/* Returns the "return" value (transfer full).  A QMP error reply fails
 * with ASM_ERROR_BACKEND, QEMU's desc as the message, and its class in
 * @out_class (nullable); no reply in time with ASM_ERROR_TIMEOUT; a closed
 * connection with ASM_ERROR_BACKEND. */
JsonNode *asm_qmp_command_finish (AsmQmp *qmp, GAsyncResult *result,
                                  char **out_class, GError **error);
/* The blocking form: runs a private main context until the reply, the
 * timeout or the end of the connection. */
JsonNode *asm_qmp_command (AsmQmp *qmp, const char *command,
                           JsonObject *arguments, guint timeout_ms,
                           char **out_class, GError **error);

guint asm_qmp_add_event_handler (AsmQmp *qmp, AsmQmpEventFunc func,
                                 gpointer user_data, GDestroyNotify notify);
void asm_qmp_remove_event_handler (AsmQmp *qmp, guint handler_id);

/* Counters, for tests and benchmarks. */
guint64 asm_qmp_get_n_commands (AsmQmp *qmp);
guint64 asm_qmp_get_n_late_replies (AsmQmp *qmp);

/* ------------------------------------------------------------------ */
/* the qemu backend's test hooks                                        */

/* The ops table of every qemu backend. */
const AsmBackendOps *asm_qemu_get_ops (void);

/* Kills QEMU (SIGKILL) just before the @n-th device command (device_add
 * or device_del) from now is sent; 0 disarms.  Simulates QEMU dying in
 * the middle of a transaction. */
void asm_qemu_kill_before_command (AsmBackend *backend, guint n);

/* The client of a qemu backend (transfer none). */
AsmQmp *asm_qemu_get_qmp (AsmBackend *backend);

G_END_DECLS
