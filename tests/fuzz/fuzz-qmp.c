/* fuzz-qmp.c: libFuzzer target for the QMP stream parser
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * The qemu backend reads whatever QEMU writes on its QMP socket through
 * AsmQmpParser (src/asm-qmp.c): a byte-driven framer that cuts the stream
 * into JSON objects, and a classifier that makes each one a greeting, a
 * reply, an error reply or an event.  This target feeds it arbitrary
 * bytes as such a stream.
 *
 * Input: byte 0 chooses the parser's message limit (64 bytes to 16 KiB,
 * so that the limit is reached often) and seeds the cutting; the rest is
 * the stream.  The stream is fed twice: to one parser in one call, and to
 * another in pieces of 1 to 17 bytes chosen by the seed, as reads from a
 * socket would cut it.  The target aborts when
 *   - the two parsers disagree: a different number of messages, of
 *     errors, different messages (kind, id, JSON text) or error texts, or
 *     a different number of bytes left pending (the parser's result must
 *     not depend on how its input is cut);
 *   - a message breaks its kind's contract: a RETURN without a value, an
 *     ERROR without class and description, an EVENT without a name, a
 *     GREETING without a version string, a root that is not an object;
 *   - the parser holds more pending bytes than its limit;
 *   - GLib logs a critical or a warning.
 * asm_qmp_message_parse() also runs on the whole stream as one text.
 * Sanitizers catch the rest (overflows, leaks, undefined behaviour).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asm-qmp-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
die (const char *what)
{
  fprintf (stderr, "fuzz-qmp: %s\n", what);
  abort ();
}

static char *
msg_text (const AsmQmpMessage *m)
{
  g_autofree char *json = json_to_string (m->root, FALSE);

  return g_strdup_printf ("%d %" G_GUINT64_FORMAT " %s", m->kind, m->id,
                          json);
}

static void
check_message (const AsmQmpMessage *m)
{
  if (m->root == NULL || !JSON_NODE_HOLDS_OBJECT (m->root))
    die ("a message whose root is not an object");
  switch (m->kind)
    {
    case ASM_QMP_MSG_GREETING:
      if (m->version == NULL)
        die ("a greeting without a version string");
      break;
    case ASM_QMP_MSG_RETURN:
      if (m->value == NULL)
        die ("a reply without a value");
      break;
    case ASM_QMP_MSG_ERROR:
      if (m->error_class == NULL || m->error_desc == NULL)
        die ("an error reply without class or description");
      break;
    case ASM_QMP_MSG_EVENT:
      if (m->event == NULL)
        die ("an event without a name");
      break;
    default:
      die ("a message of no known kind");
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static gboolean initialised;
  g_autoptr (GPtrArray) m1 = NULL, m2 = NULL, e1 = NULL, e2 = NULL;
  g_autoptr (AsmQmpParser) p1 = NULL, p2 = NULL;
  const char *stream;
  gsize len, max, off;
  guint32 rng;

  if (!initialised)
    {
      g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL |
                              G_LOG_LEVEL_WARNING);
      initialised = TRUE;
    }
  if (size == 0)
    return 0;
  max = (gsize) 64 << (data[0] % 9);
  rng = data[0] * 2654435761u + 1;
  stream = (const char *) data + 1;
  len = size - 1;

  m1 = g_ptr_array_new_with_free_func ((GDestroyNotify) asm_qmp_message_free);
  m2 = g_ptr_array_new_with_free_func ((GDestroyNotify) asm_qmp_message_free);
  e1 = g_ptr_array_new_with_free_func (g_free);
  e2 = g_ptr_array_new_with_free_func (g_free);
  p1 = asm_qmp_parser_new (max);
  p2 = asm_qmp_parser_new (max);

  asm_qmp_parser_feed (p1, stream, len, m1, e1);
  for (off = 0; off < len;)
    {
      gsize n;
      rng = rng * 1103515245u + 12345u;
      n = MIN (1 + (rng >> 16) % 17, len - off);
      asm_qmp_parser_feed (p2, stream + off, n, m2, e2);
      off += n;
      if (asm_qmp_parser_get_pending (p2) > max)
        die ("the parser holds more than its limit");
    }

  if (m1->len != m2->len)
    die ("cutting the stream changed the number of messages");
  if (e1->len != e2->len)
    die ("cutting the stream changed the number of errors");
  if (asm_qmp_parser_get_pending (p1) != asm_qmp_parser_get_pending (p2))
    die ("cutting the stream changed the bytes pending");
  for (guint i = 0; i < m1->len; i++)
    {
      g_autofree char *a = msg_text (m1->pdata[i]);
      g_autofree char *b = msg_text (m2->pdata[i]);
      check_message (m1->pdata[i]);
      check_message (m2->pdata[i]);
      if (strcmp (a, b) != 0)
        die ("cutting the stream changed a message");
    }
  for (guint i = 0; i < e1->len; i++)
    if (strcmp (e1->pdata[i], e2->pdata[i]) != 0)
      die ("cutting the stream changed an error");

  {
    g_autoptr (GError) error = NULL;
    g_autoptr (AsmQmpMessage) whole = asm_qmp_message_parse (stream, len,
                                                             &error);
    if (whole != NULL)
      check_message (whole);
    else if (error == NULL || !g_error_matches (error, ASM_ERROR,
                                                ASM_ERROR_PARSE))
      die ("asm_qmp_message_parse failed without ASM_ERROR_PARSE");
  }
  return 0;
}
