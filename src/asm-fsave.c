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
  root = asm_fmodel_to_json (m, fabric->name, seq);
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
 * asm_fabric_check(); errors name the JSON path.  The fabric has the
 * name it was saved with ("restored" for a save that has none).  The
 * backend is not programmed: it is expected to hold the state already (a
 * restarted process), see asm_fabric_recover().
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
  g_autofree char *name = NULL;
  AsmFabric *f;

  g_return_val_if_fail (json != NULL, NULL);
  if (!asm_fjson_check_depth (json, length < 0 ? strlen (json) : (gsize) length,
                              ASM_FJSON_MAX_DEPTH, error))
    return NULL;
  if (!json_parser_load_from_data (parser, json, length, &err))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE, "not JSON: %s",
                   err->message);
      return NULL;
    }
  m = asm_fmodel_from_json (json_parser_get_root (parser), &seq, &name,
                            error);
  if (m == NULL)
    return NULL;
  f = asm_fabric_alloc (name != NULL ? name : "restored", m, backend);
  f->journal_seq = f->journal_closed = seq;
  return f;
}

/* Installs @j (or none) as the fabric's journal. */
static void
install_journal (AsmFabric *fabric, FJournal *j, guint64 last)
{
  g_mutex_lock (&fabric->write_lock);
  asm_fjournal_close (fabric->journal);
  fabric->journal = j;
  /* never reuse a sequence number the journal holds */
  if (last > fabric->journal_seq)
    fabric->journal_seq = last;
  g_mutex_unlock (&fabric->write_lock);
}

/**
 * asm_fabric_set_journal:
 * @fabric: a fabric
 * @path: (nullable): a file to append transaction records to; %NULL stops
 *   journaling
 * @error: return location for a #GError
 *
 * Journals every transaction from now on (see the theory comments in
 * asm-fjournal.c and asm-fsave.c) so that a process that dies
 * mid-transaction can be recovered from its last save.  The file is
 * created with its header (and its directory synced) when it does not
 * exist; an existing journal is checked, a torn last record (left by a
 * crash or a full disk) is cut off, and new records take sequence numbers
 * after the last one in it.  Every record is synced to the disk before
 * the step it describes runs, and an operation is reported committed only
 * once its commit record is synced; a journal that cannot take a record
 * fails the operation, which then changes nothing.
 *
 * Errors: %ASM_ERROR_FAILED when the file cannot be opened, created or
 * written; %ASM_ERROR_PARSE for a damaged or foreign journal.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_set_journal (AsmFabric *fabric, const char *path, GError **error)
{
  FJournal *j = NULL;
  guint64 last = 0;

  g_return_val_if_fail (fabric != NULL, FALSE);
  if (path != NULL && (j = asm_fjournal_open (path, &last, error)) == NULL)
    return FALSE;
  install_journal (fabric, j, last);
  return TRUE;
}

/**
 * asm_fabric_set_journal_store: (skip)
 * @fabric: a fabric
 * @store: where the journal lives (the functions are copied)
 * @store_data: the store's data, passed to each function
 * @destroy: (nullable): frees @store_data when the fabric is done with it
 * @error: return location for a #GError
 *
 * Journals every transaction from now on into @store instead of a file,
 * exactly as asm_fabric_set_journal() does into one: the same records,
 * checks and guarantees, and a store that holds a journal already is
 * checked, its torn last record cut off, and continued.  A store lets the
 * journal live where a file cannot: a replicated log shared by the hosts
 * of a fabric, for one.  Its append fails with %ASM_ERROR_FENCED when
 * another writer has taken the journal over; the fabric then stops where
 * it is (see #AsmJournalStore).  On success the fabric owns @store_data
 * (and calls @destroy on it when it is replaced or freed); on failure the
 * caller keeps it.
 *
 * Errors: those of the store; %ASM_ERROR_PARSE for a damaged or foreign
 * journal.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_set_journal_store (AsmFabric *fabric, const AsmJournalStore *store,
                              gpointer store_data, GDestroyNotify destroy,
                              GError **error)
{
  FJournal *j;
  guint64 last = 0;

  g_return_val_if_fail (fabric != NULL && store != NULL, FALSE);
  g_return_val_if_fail (store->read != NULL && store->append != NULL &&
                            store->truncate != NULL,
                        FALSE);
  j = asm_fjournal_open_store (store, store_data, &last, error);
  if (j == NULL)
    return FALSE;
  asm_fjournal_set_destroy (j, destroy);
  install_journal (fabric, j, last);
  return TRUE;
}

/**
 * asm_fabric_checkpoint:
 * @fabric: a fabric with a journal
 * @snapshot_path: (nullable): the file that receives asm_fabric_save()'s
 *   state; %NULL for the snapshot of the journal's store
 *   (#AsmJournalStore.write_snapshot)
 * @error: return location for a #GError
 *
 * Compacts the journal: writes the fabric's state to @snapshot_path
 * atomically and durably (a temporary file, synced, renamed over it, the
 * directory synced) and then cuts the journal back to its header, so that
 * it does not grow forever.  A restarted process restores @snapshot_path
 * and recovers with the journal.  No transaction runs meanwhile.
 *
 * Errors: %ASM_ERROR_FAILED when a file cannot be written (the journal is
 * then left as it was), or when the fabric has no journal (or, with no
 * @snapshot_path, a journal whose store keeps no snapshot);
 * %ASM_ERROR_BACKEND when the fabric needs asm_fabric_recover() first;
 * %ASM_ERROR_FENCED when its journal store was taken over.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_checkpoint (AsmFabric *fabric, const char *snapshot_path,
                       GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) err = NULL;
  gsize len;
  gboolean ok;

  g_return_val_if_fail (fabric != NULL, FALSE);
  g_mutex_lock (&fabric->write_lock);
  if (fabric->fenced)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_FENCED,
                   "%s: its journal was taken over by another writer: no "
                   "checkpoint", fabric->name);
      g_mutex_unlock (&fabric->write_lock);
      return FALSE;
    }
  if (fabric->journal == NULL || fabric->broken)
    {
      g_set_error (error, ASM_ERROR,
                   fabric->broken ? ASM_ERROR_BACKEND : ASM_ERROR_FAILED,
                   "%s: %s", fabric->name,
                   fabric->broken ? "an unfinished transaction must be "
                                    "recovered before a checkpoint"
                                  : "no journal to compact");
      g_mutex_unlock (&fabric->write_lock);
      return FALSE;
    }
  {
    g_autoptr (JsonNode) root = asm_fmodel_to_json (
        fabric->current, fabric->name, fabric->journal_seq);
    g_autoptr (JsonGenerator) gen = json_generator_new ();
    json_generator_set_pretty (gen, TRUE);
    json_generator_set_indent (gen, 1);
    json_generator_set_root (gen, root);
    text = json_generator_to_data (gen, &len);
  }
  /* g_file_set_contents_full syncs the data before the rename and, with
   * G_FILE_SET_CONTENTS_DURABLE, the directory after it */
  if (snapshot_path == NULL)
    ok = asm_fjournal_write_snapshot (fabric->journal, text, len, error);
  else
    {
      ok = g_file_set_contents_full (snapshot_path, text, (gssize) len,
                                     G_FILE_SET_CONTENTS_CONSISTENT |
                                         G_FILE_SET_CONTENTS_DURABLE,
                                     0600, &err);
      if (!ok)
        g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                     "checkpoint: cannot write the snapshot: %s",
                     err->message);
    }
  if (ok)
    ok = asm_fjournal_reset (fabric->journal, error);
  g_mutex_unlock (&fabric->write_lock);
  return ok;
}

static void
range_list_remove (GArray *list, AsmRange r)
{
  for (guint i = 0; i < list->len; i++)
    if (g_array_index (list, AsmRange, i).first == r.first &&
        g_array_index (list, AsmRange, i).last == r.last)
      {
        g_array_remove_index (list, i);
        return;
      }
}

static void
range_list_insert (GArray *list, AsmRange r)
{
  guint pos = 0;
  while (pos < list->len && g_array_index (list, AsmRange, pos).first
                                < r.first)
    pos++;
  g_array_insert_val (list, pos, r);
}

/* Journal records of window and root steps hold what changed; the undo of
 * such a step needs the switch's whole list before it.  The model being
 * recovered is the state before the interrupted transaction, so each
 * switch's lists are its windows there, changed step by step in order. */
static void
rebuild_window_lists (FModel *m, GArray *steps)
{
  g_autoptr (GHashTable) lists = g_hash_table_new_full (
      g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) g_array_unref);

  for (guint i = 0; i < steps->len; i++)
    {
      Step *s = &g_array_index (steps, Step, i);
      gpointer key;
      GArray *list, *added, *removed;

      if (!s->delta || (s->kind != ST_WINDOWS && s->kind != ST_ROOT))
        continue;
      key = GUINT_TO_POINTER (s->sw * 2u + (s->kind == ST_ROOT));
      list = g_hash_table_lookup (lists, key);
      if (list == NULL)
        {
          FSwitch *sw = FSW (m, s->sw);
          list = sw != NULL ? g_array_copy (sw->windows)
                            : g_array_new (FALSE, FALSE, sizeof (AsmRange));
          g_hash_table_insert (lists, key, list);
        }
      added = s->windows;
      removed = s->old_windows;
      s->old_windows = g_array_copy (list);
      for (guint j = 0; j < removed->len; j++)
        range_list_remove (list, g_array_index (removed, AsmRange, j));
      for (guint j = 0; j < added->len; j++)
        range_list_insert (list, g_array_index (added, AsmRange, j));
      s->windows = g_array_copy (list);
      s->delta = FALSE;
      g_array_unref (added);
      g_array_unref (removed);
    }
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
 * the one the crashed fabric wrote; records up to the save are skipped,
 * and a torn last record (what the crash left) is dropped.  When it undid
 * an operation, recovery records that in the journal (which it then keeps
 * as the fabric's journal, as asm_fabric_set_journal() would), so a
 * second recovery does not undo it again.
 *
 * Errors: %ASM_ERROR_PARSE for a damaged journal, %ASM_ERROR_FAILED when a
 * committed operation does not replay or the journal cannot take the
 * record, %ASM_ERROR_BACKEND when an undo fails.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
/* Where recovery finds the journal and, when it must write to it, opens
 * it: a file, or a store. */
typedef struct {
  const char *path;
  const AsmJournalStore *store;
  gpointer store_data;
  GDestroyNotify destroy;
  gboolean store_taken; /* the fabric's journal owns store_data now */
} JournalSource;

static FJournal *
source_open (JournalSource *src, guint64 *last, GError **error)
{
  FJournal *j;

  if (src->path != NULL)
    return asm_fjournal_open (src->path, last, error);
  j = asm_fjournal_open_store (src->store, src->store_data, last, error);
  if (j != NULL)
    {
      asm_fjournal_set_destroy (j, src->destroy);
      src->store_taken = TRUE;
    }
  return j;
}

static gboolean recover_records (AsmFabric *fabric, GPtrArray *records,
                                 JournalSource *src, GError **error);

gboolean
asm_fabric_recover (AsmFabric *fabric, const char *journal_path,
                    GError **error)
{
  g_autoptr (GPtrArray) records = NULL;
  JournalSource src = { .path = journal_path };

  g_return_val_if_fail (fabric != NULL && journal_path != NULL, FALSE);
  records = asm_fjournal_read (journal_path, error);
  if (records == NULL)
    return FALSE;
  return recover_records (fabric, records, &src, error);
}

/**
 * asm_fabric_recover_store: (skip)
 * @fabric: a fabric restored from its last save
 * @store: the journal store the crashed fabric wrote
 * @store_data: the store's data
 * @destroy: (nullable): frees @store_data when the fabric is done with it
 * @error: return location for a #GError
 *
 * asm_fabric_recover() for a journal in a store: the same replay and
 * undo, the "undone" record written to the store.  On success the store
 * is the fabric's journal from then on (asm_fabric_set_journal_store() is
 * not needed, and the fabric owns @store_data); on failure the fabric has
 * no journal and @destroy has been called.
 *
 * Errors: as asm_fabric_recover(), and those of the store.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_fabric_recover_store (AsmFabric *fabric, const AsmJournalStore *store,
                          gpointer store_data, GDestroyNotify destroy,
                          GError **error)
{
  g_autoptr (GPtrArray) records = NULL;
  JournalSource src = { .store = store, .store_data = store_data,
                        .destroy = destroy };
  gboolean ok;

  g_return_val_if_fail (fabric != NULL && store != NULL, FALSE);
  records = asm_fjournal_read_store (store, store_data, error);
  ok = records != NULL && recover_records (fabric, records, &src, error);
  if (ok && !src.store_taken)
    {
      guint64 last = 0;
      FJournal *j = source_open (&src, &last, error);
      ok = j != NULL;
      if (ok)
        install_journal (fabric, j, last);
    }
  if (!ok && !src.store_taken && destroy != NULL)
    destroy (store_data);
  return ok;
}

static gboolean
recover_records (AsmFabric *fabric, GPtrArray *records, JournalSource *src,
                 GError **error)
{
  g_autoptr (GError) err = NULL;
  guint64 seq0;
  /* the operation being read: its arguments and steps */
  JsonNode *pending_args = NULL;
  GArray *pending_steps = NULL;
  guint64 pending_offset = 0; /* where its "begin" record starts */
  gboolean ok = TRUE;

  g_mutex_lock (&fabric->write_lock);
  seq0 = fabric->journal_seq;
  for (guint i = 0; i < records->len && ok; i++)
    {
      JsonObject *rec;
      const char *type;
      gint64 seq;

      /* a torn last record was dropped by the reader (a crash leaves one);
       * damage anywhere else was refused */
      rec = json_node_get_object (records->pdata[i]);
      seq = json_object_get_int_member_with_default (rec, "seq", -1);
      type = json_object_get_string_member_with_default (rec, "type", "");
      if (seq < 0 || (guint64) seq <= seq0)
        continue;
      fabric->journal_seq = (guint64) seq;
      if (strcmp (type, "begin") == 0)
        {
          pending_offset = (guint64) json_object_get_int_member_with_default (
              rec, "offset", 0);
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
                           "journal record %u: a step that cannot be read",
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
                           "journal record %u: the operation of this "
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
                           "journal record %u: committed operation %s does not "
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
  if (ok && pending_steps != NULL && fabric->journal == NULL)
    {
      /* the "undone" record must reach this journal: undoing the same
       * steps again in a later recovery, after later steps' undos, would
       * not be the identity (a device put back would be unbound from where
       * the interrupted step meant to bind it) */
      guint64 last = 0;
      fabric->journal = source_open (src, &last, error);
      if (fabric->journal == NULL)
        ok = FALSE;
      else if (last > fabric->journal_seq)
        fabric->journal_seq = last;
    }
  if (ok && pending_steps != NULL)
    {
      /* an interrupted transaction: undo every step it may have run */
      rebuild_window_lists (fabric->current, pending_steps);
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
      if (ok && !asm_ftxn_journal_write (fabric, "undone", NULL, &err) &&
          !asm_fjournal_cut (fabric->journal, pending_offset, NULL))
        {
          /* neither "undone" nor cutting the transaction out went in */
          g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                       "recovery undid the interrupted transaction but "
                       "cannot record it: %s", err->message);
          ok = FALSE;
        }
      g_clear_error (&err);
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

