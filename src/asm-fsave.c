/* asm-fsave.c: a fabric's state on disk: save, restore, journal, recover
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * A fabric outlives its process through two files the caller names: a
 * snapshot (asm_fabric_save(), the model's JSON form of asm-fjson.c, which
 * records the journal position it reflects) and a journal
 * (asm_fabric_set_journal(), the records asm-ftxn.c appends: "begin" with
 * the operation (asm-fop.c), one "step" per hardware step before it runs,
 * then "commit" or "undone").
 *
 * A process that died mid-transaction is recovered by restoring the last
 * save and calling asm_fabric_recover(): committed operations after the
 * save are planned again (planning is deterministic) and published
 * without touching the hardware; the steps of a transaction with neither
 * "commit" nor "undone" are undone in reverse on the backend (undo
 * operations are idempotent), so the fabric ends in the state before that
 * transaction.  A torn last line is what a crash leaves and is skipped;
 * damage anywhere else is an error.
 *
 * Costs: save and restore O(objects); recovery O(journal records after the
 * save) plus one planning per committed operation.
 */
#include "asm-ftxn-private.h"

#include <errno.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* save, restore, journal, recover                                      */

/**
 * asm_fabric_save:
 * @fabric: a fabric
 * @out_length: (out) (optional): the length of the text
 *
 * The whole state as versioned JSON (see asm-fmodel.c for the format),
 * deterministic: the same state gives the same bytes, and
 * asm_fabric_save (asm_fabric_restore (x)) is x.  Records the journal
 * position, so that asm_fabric_recover() replays only what came after.
 *
 * Returns: (transfer full): the JSON text
 *
 * Since: 0.1
 */
char *
asm_fabric_save (AsmFabric *fabric, gsize *out_length)
{
  FModel *m;
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonGenerator) gen = NULL;
  guint64 seq;

  g_return_val_if_fail (fabric != NULL, NULL);
  g_mutex_lock (&fabric->write_lock);
  m = asm_fmodel_ref (fabric->current);
  seq = fabric->broken ? fabric->journal_closed : fabric->journal_seq;
  g_mutex_unlock (&fabric->write_lock);
  root = asm_fmodel_to_json (m, seq);
  asm_fmodel_unref (m);
  gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 1);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, out_length);
}

/**
 * asm_fabric_restore:
 * @json: text from asm_fabric_save()
 * @length: its length, or -1 when NUL-terminated
 * @backend: (nullable): the backend of the new fabric
 * @error: return location for a #GError
 *
 * Builds a fabric from saved JSON.  Every field is checked, unknown keys
 * are refused, and the result must satisfy every invariant of
 * asm_fabric_check(); errors name the JSON path.  The backend is not
 * programmed: it is expected to hold the state already (a restarted
 * process), see asm_fabric_recover().
 *
 * Errors: %ASM_ERROR_PARSE.
 *
 * Returns: (transfer full) (nullable): the fabric
 *
 * Since: 0.1
 */
AsmFabric *
asm_fabric_restore (const char *json, gssize length, AsmBackend *backend,
                    GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) err = NULL;
  FModel *m;
  guint64 seq = 0;
  AsmFabric *f;

  g_return_val_if_fail (json != NULL, NULL);
  if (!json_parser_load_from_data (parser, json, length, &err))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE, "not JSON: %s",
                   err->message);
      return NULL;
    }
  m = asm_fmodel_from_json (json_parser_get_root (parser), &seq, error);
  if (m == NULL)
    return NULL;
  f = asm_fabric_alloc ("restored", m, backend);
  f->journal_seq = f->journal_closed = seq;
  return f;
}

/**
 * asm_fabric_set_journal:
 * @fabric: a fabric
 * @path: (nullable): a file to append transaction records to; %NULL stops
 *   journaling
 * @error: return location for a #GError
 *
 * Journals every transaction (see the theory comment in asm-fabric.c) so a
 * process that dies mid-transaction can be recovered from its last save.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_set_journal (AsmFabric *fabric, const char *path, GError **error)
{
  FILE *fp = NULL;

  g_return_val_if_fail (fabric != NULL, FALSE);
  if (path != NULL)
    {
      fp = fopen (path, "a");
      if (fp == NULL)
        {
          int e = errno;
          g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                       "cannot open journal '%s': %s", path, g_strerror (e));
          return FALSE;
        }
    }
  g_mutex_lock (&fabric->write_lock);
  if (fabric->journal != NULL)
    fclose (fabric->journal);
  fabric->journal = fp;
  g_free (fabric->journal_path);
  fabric->journal_path = g_strdup (path);
  g_mutex_unlock (&fabric->write_lock);
  return TRUE;
}

/**
 * asm_fabric_recover:
 * @fabric: a fabric restored from its last save
 * @journal_path: the journal it wrote
 * @error: return location for a #GError
 *
 * Brings a restored fabric and its backend back in line after a crash:
 * replays (model only) the operations committed after the save, and undoes
 * on the backend, in reverse, the steps of an operation that neither
 * committed nor finished undoing.  The fabric then holds the state before
 * that operation, or after it if it had committed.  The journal must be
 * the one the crashed fabric wrote; records up to the save are skipped.
 *
 * Errors: %ASM_ERROR_PARSE for a damaged journal, %ASM_ERROR_FAILED when a
 * committed operation does not replay, %ASM_ERROR_BACKEND when an undo
 * fails.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_recover (AsmFabric *fabric, const char *journal_path,
                    GError **error)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GError) err = NULL;
  guint64 seq0;
  /* the operation being read: its arguments and steps */
  JsonNode *pending_args = NULL;
  GArray *pending_steps = NULL;
  gboolean ok = TRUE;

  g_return_val_if_fail (fabric != NULL && journal_path != NULL, FALSE);
  if (!g_file_get_contents (journal_path, &text, NULL, &err))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                   "cannot read journal: %s", err->message);
      return FALSE;
    }
  g_mutex_lock (&fabric->write_lock);
  seq0 = fabric->journal_seq;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL && ok; i++)
    {
      g_autoptr (JsonParser) parser = NULL;
      JsonObject *rec;
      const char *type;
      gint64 seq;

      if (lines[i][0] == '\0')
        continue;
      parser = json_parser_new ();
      if (!json_parser_load_from_data (parser, lines[i], -1, NULL) ||
          !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        {
          /* a torn last line is what a crash leaves; anything else is
           * damage */
          if (lines[i + 1] == NULL || lines[i + 1][0] == '\0')
            break;
          g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                       "journal line %u is not a JSON object", i + 1);
          ok = FALSE;
          break;
        }
      rec = json_node_get_object (json_parser_get_root (parser));
      seq = json_object_get_int_member_with_default (rec, "seq", -1);
      type = json_object_get_string_member_with_default (rec, "type", "");
      if (seq < 0 || (guint64) seq <= seq0)
        continue;
      fabric->journal_seq = (guint64) seq;
      if (strcmp (type, "begin") == 0)
        {
          if (pending_args)
            json_node_unref (pending_args);
          if (pending_steps)
            g_array_unref (pending_steps);
          pending_args = json_node_copy (json_object_get_member (rec, "data"));
          pending_steps = g_array_new (FALSE, TRUE, sizeof (Step));
          g_array_set_clear_func (pending_steps,
                                  (GDestroyNotify) asm_step_clear);
        }
      else if (strcmp (type, "step") == 0 && pending_steps != NULL)
        {
          Step s;
          JsonNode *d = json_object_get_member (rec, "data");
          if (d == NULL || !JSON_NODE_HOLDS_OBJECT (d) ||
              !asm_step_from_json (json_node_get_object (d), &s))
            {
              asm_step_clear (&s);
              g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                           "journal line %u: a step that cannot be read",
                           i + 1);
              ok = FALSE;
              break;
            }
          g_array_append_val (pending_steps, s);
        }
      else if (strcmp (type, "commit") == 0 && pending_args != NULL)
        {
          /* replay the committed operation on the model only */
          g_autofree gpointer args = NULL;
          FOpKind op;
          FModel *next;
          Txn t;

          args = asm_fop_from_json (pending_args, &op, &err);
          if (args == NULL)
            {
              g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                           "journal line %u: the operation of this "
                           "transaction cannot be read: %s", i + 1,
                           err->message);
              ok = FALSE;
              break;
            }
          asm_txn_init (&t, op, args);
          next = asm_fmodel_clone (fabric->current);
          if (!asm_fops[op].plan (next, &t, args, &err))
            {
              g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                           "journal line %u: committed operation %s does not "
                           "replay: %s", i + 1, asm_fops[op].name,
                           err->message);
              asm_fmodel_unref (next);
              ok = FALSE;
            }
          else
            asm_ftxn_publish (fabric, next, &t);
          asm_txn_clear (&t);
          json_node_unref (pending_args);
          pending_args = NULL;
          g_array_unref (pending_steps);
          pending_steps = NULL;
        }
      else if (strcmp (type, "undone") == 0)
        {
          if (pending_args)
            json_node_unref (pending_args);
          pending_args = NULL;
          if (pending_steps)
            g_array_unref (pending_steps);
          pending_steps = NULL;
        }
    }
  /* A process that died inside xlat_begin..xlat_commit left that table
   * update open, whether or not the journal saw the step finish: abort
   * any open update on every switch (xlat_abort cannot fail and is a
   * no-op when nothing is open). */
  if (ok && asm_fabric_has_cap (fabric, ASM_BACKEND_CAP_TRANSLATION) &&
      fabric->ops->xlat_abort != NULL)
    {
      g_autoptr (GArray) ids = asm_pmap_keys (fabric->current->switches);
      for (guint j = 0; j < ids->len; j++)
        fabric->ops->xlat_abort (fabric->self, g_array_index (ids, guint32, j));
      for (guint j = 0; pending_steps != NULL && j < pending_steps->len; j++)
        {
          Step *s = &g_array_index (pending_steps, Step, j);
          if (s->kind == ST_XLAT_SET || s->kind == ST_XLAT_REMOVE)
            fabric->ops->xlat_abort (fabric->self, s->sw);
        }
    }
  if (ok && pending_steps != NULL)
    {
      /* an interrupted transaction: undo every step it may have run */
      if (fabric->ops != NULL && fabric->ops->undo_begin != NULL)
        fabric->ops->undo_begin (fabric->self);
      for (guint j = pending_steps->len; j-- > 0;)
        {
          g_autoptr (GError) uerr = NULL;
          Step *s = &g_array_index (pending_steps, Step, j);
          if (s->kind == ST_HOLD)
            s->partition = ASM_ID_NONE; /* nothing is held in this process */
          if (!asm_ftxn_undo_step (fabric, s, &uerr))
            {
              if (ok)
                g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                             "recovery: undo of %s failed: %s",
                             asm_step_names[s->kind],
                             uerr ? uerr->message : "no reason given");
              ok = FALSE;
            }
        }
      if (fabric->ops != NULL && fabric->ops->transaction_end != NULL)
        fabric->ops->transaction_end (fabric->self, FALSE);
      if (ok)
        asm_ftxn_journal_write (fabric, "undone", NULL);
    }
  if (pending_args)
    json_node_unref (pending_args);
  if (pending_steps)
    g_array_unref (pending_steps);
  if (ok)
    {
      fabric->broken = FALSE;
      fabric->journal_closed = fabric->journal_seq;
    }
  g_mutex_unlock (&fabric->write_lock);
  return ok;
}

