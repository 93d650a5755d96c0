/* test-journal-store.c: a fabric's journal in an AsmJournalStore
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A store in memory stands in for the replicated logs a store is for.  It
 * checks the contract the fabric must keep (every append at the store's
 * end) and can be told to fail an append, or to be fenced from some
 * append on, as a store is when another writer takes the journal over.
 *
 *   - the same operations give the store exactly the bytes they give a
 *     journal file;
 *   - a checkpoint without a file goes to the store's snapshot and cuts
 *     the journal back to its header;
 *   - a fabric whose process "died" in the middle of a transaction (the
 *     sim's crash) is recovered from the store's snapshot and journal as
 *     from files: the interrupted steps undone, the hardware equal to the
 *     model, the state the one before the transaction;
 *   - a store that cannot take a record fails the operation, which changes
 *     nothing, and the fabric goes on;
 *   - a fenced store stops the fabric where it is: the operation fails
 *     with ASM_ERROR_FENCED, nothing is undone, every later change and
 *     checkpoint is refused; the writer that takes over recovers from the
 *     store and finds the state before that operation, hardware included.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <asm/asm.h>
#include <glib/gstdio.h>

#include "asm-test.h"

#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define BASE (G_GUINT64_CONSTANT (1) << 32)

/* ------------------------------------------------------------------ */
/* A store in memory                                                    */

typedef struct {
  GByteArray *bytes;
  GString *snapshot;   /* NULL until one is written */
  guint n_appends;
  guint fail_at;       /* this append fails once (1-based; 0: none) */
  guint fence_from;    /* this append and every later one are fenced */
} MemStore;

static gboolean
mem_read (gpointer data, GBytes **out, GError **error)
{
  MemStore *m = data;
  *out = g_bytes_new (m->bytes->data, m->bytes->len);
  return TRUE;
}

static gboolean
mem_append (gpointer data, guint64 offset, const char *bytes, gsize length,
            GError **error)
{
  MemStore *m = data;

  /* the contract: the fabric appends at the store's end */
  if (offset != m->bytes->len)
    FAIL_AT (__FILE__, __LINE__, "append at %" G_GUINT64_FORMAT " to a store "
             "of %u bytes", offset, m->bytes->len);
  m->n_appends++;
  if (m->fence_from != 0 && m->n_appends >= m->fence_from)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_FENCED,
                   "the leader key's revision moved");
      return FALSE;
    }
  if (m->fail_at != 0 && m->n_appends == m->fail_at)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "quota exceeded");
      return FALSE;
    }
  g_byte_array_append (m->bytes, (const guint8 *) bytes, (guint) length);
  return TRUE;
}

static gboolean
mem_truncate (gpointer data, guint64 length, GError **error)
{
  MemStore *m = data;
  if (m->fence_from != 0 && m->n_appends + 1 >= m->fence_from)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_FENCED, "fenced");
      return FALSE;
    }
  g_byte_array_set_size (m->bytes, (guint) MIN (length, m->bytes->len));
  return TRUE;
}

static gboolean
mem_write_snapshot (gpointer data, const char *text, gsize length,
                    GError **error)
{
  MemStore *m = data;
  if (m->snapshot == NULL)
    m->snapshot = g_string_new (NULL);
  g_string_truncate (m->snapshot, 0);
  g_string_append_len (m->snapshot, text, (gssize) length);
  return TRUE;
}

static const AsmJournalStore mem_funcs = {
  .read = mem_read,
  .append = mem_append,
  .truncate = mem_truncate,
  .write_snapshot = mem_write_snapshot,
};

static MemStore *
mem_new (void)
{
  MemStore *m = g_new0 (MemStore, 1);
  m->bytes = g_byte_array_new ();
  return m;
}

static void
mem_free (gpointer data)
{
  MemStore *m = data;
  g_byte_array_unref (m->bytes);
  if (m->snapshot)
    g_string_free (m->snapshot, TRUE);
  g_free (m);
}

/* A copy of @m's bytes and snapshot: what a new writer reads. */
static MemStore *
mem_copy (MemStore *m)
{
  MemStore *c = mem_new ();
  g_byte_array_append (c->bytes, m->bytes->data, m->bytes->len);
  if (m->snapshot)
    c->snapshot = g_string_new (m->snapshot->str);
  return c;
}

/* ------------------------------------------------------------------ */
/* A fabric and a script of operations                                  */

typedef struct {
  AsmFabric *f;
  AsmBackend *sim;
  AsmId sw[3], pf[2], w[2], p[4], vf;
} Scene;

static void
scene_build (Scene *s)
{
  s->sim = asm_sim_backend_new ();
  s->f = asm_fabric_new ("store", BASE, BASE + 2048 * MIB - 1, 2 * MIB,
                         s->sim, NULL);
  assert_non_null (s->f);
  OK (asm_fabric_set_window_granule (s->f, 16 * MIB, &error));
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("s%u", i);
      AsmSwitchSpec spec = { name, 100000, 100, 64, 8, FALSE };
      OK (asm_fabric_add_switch (s->f, &spec, &s->sw[i], &error));
    }
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *name = g_strdup_printf ("pf%u", i);
      OK (asm_fabric_add_device (s->f, name, ASM_DEVICE_PF, MIB, s->sw[i], 0,
                                 &s->pf[i], &error));
      OK (asm_fabric_set_sriov (s->f, s->pf[i], 8, MIB, &error));
    }
  OK (asm_fabric_add_workload (s->f, "w0", &s->w[0], &error));
  OK (asm_fabric_add_workload (s->f, "w1", &s->w[1], &error));
}

static void
scene_clear (Scene *s)
{
  g_clear_pointer (&s->f, asm_fabric_unref);
  g_clear_pointer (&s->sim, asm_backend_unref);
}

/* Operation k of the script: each is one transaction. */
static void
script_step (Scene *s, guint k)
{
  AsmPartitionRequest req = { .size = 16 * MIB };

  switch (k)
    {
    case 0:
    case 1:
    case 2:
    case 3:
      req.preferred_switch = s->sw[k % 2];
      OK (asm_fabric_request_partition (s->f, s->w[k % 2], &req, &s->p[k],
                                        NULL, &error));
      break;
    case 4:
      OK (asm_fabric_create_vf (s->f, s->pf[0], &s->vf, &error));
      OK (asm_fabric_map_device (s->f, s->p[0], s->vf, NULL, &error));
      break;
    case 5:
      OK (asm_fabric_migrate_partition (s->f, s->p[1], s->sw[2], &error));
      break;
    case 6:
      OK (asm_fabric_grow_partition (s->f, s->p[2], 48 * MIB, &error));
      break;
    case 7:
      OK (asm_fabric_transfer_vf (s->f, s->vf, s->pf[1], &s->vf, &error));
      break;
    case 8:
      OK (asm_fabric_shrink_partition (s->f, s->p[2], 32 * MIB, &error));
      break;
    default:
      OK (asm_fabric_migrate_workload (s->f, s->w[1], s->sw[k % 3], &error));
      break;
    }
}

#define N_STEPS 12

/* asm_fabric_save() without its journal position, which every record
 * moves even when the state does not change */
static char *
state_of (AsmFabric *f)
{
  g_autofree char *text = asm_fabric_save (f, NULL);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  GString *kept = g_string_new (NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], "\"journal_seq\"") == NULL)
      g_string_append_printf (kept, "%s\n", lines[i]);
  return g_string_free (kept, FALSE);
}

/* The crash tests make the fabric warn when its undo meets the crashed
 * sim, as it must; those warnings are expected here. */
static GLogWriterOutput
quiet_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
              gpointer data)
{
  if (level & G_LOG_LEVEL_WARNING)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, data);
}

/* ------------------------------------------------------------------ */
/* Tests                                                                */

static char *
temp_journal (void)
{
  g_autofree char *dir = g_dir_make_tmp ("asm-store-XXXXXX", NULL);
  assert_non_null (dir);
  return g_build_filename (dir, "journal", NULL);
}

static void
remove_temp (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_store_holds_what_a_file_holds (void **state)
{
  Scene a = { 0 }, b = { 0 };
  g_autofree char *path = temp_journal ();
  g_autofree char *file = NULL;
  g_autofree char *save_a = NULL, *save_b = NULL;
  MemStore *m = mem_new ();
  gsize len;

  scene_build (&a);
  scene_build (&b);
  OK (asm_fabric_set_journal (a.f, path, &error));
  OK (asm_fabric_set_journal_store (b.f, &mem_funcs, m, mem_free, &error));
  for (guint k = 0; k < N_STEPS; k++)
    {
      script_step (&a, k);
      script_step (&b, k);
    }
  assert_true (g_file_get_contents (path, &file, &len, NULL));
  assert_int_equal (len, m->bytes->len);
  assert_memory_equal (file, m->bytes->data, len);
  save_a = asm_fabric_save (a.f, NULL);
  save_b = asm_fabric_save (b.f, NULL);
  assert_string_equal (save_a, save_b);
  scene_clear (&a);
  scene_clear (&b); /* frees m through mem_free */
  remove_temp (path);
}

static void
test_checkpoint_into_the_store (void **state)
{
  Scene s = { 0 };
  MemStore *m = mem_new ();
  g_autofree char *saved = NULL;
  guint header;

  scene_build (&s);
  OK (asm_fabric_set_journal_store (s.f, &mem_funcs, m, mem_free, &error));
  header = m->bytes->len;
  for (guint k = 0; k < 5; k++)
    script_step (&s, k);
  assert_true (m->bytes->len > header);
  OK (asm_fabric_checkpoint (s.f, NULL, &error));
  assert_int_equal (m->bytes->len, header);
  assert_non_null (m->snapshot);
  saved = asm_fabric_save (s.f, NULL);
  assert_string_equal (m->snapshot->str, saved);
  scene_clear (&s);

  /* a store that keeps no snapshot, and a fabric with a file journal,
   * need a file */
  {
    AsmJournalStore no_snapshot = mem_funcs;
    MemStore *m2 = mem_new ();
    no_snapshot.write_snapshot = NULL;
    scene_build (&s);
    OK (asm_fabric_set_journal_store (s.f, &no_snapshot, m2, mem_free,
                                      &error));
    FAILS (asm_fabric_checkpoint (s.f, NULL, &error), FAILED,
           "cannot keep a snapshot");
    scene_clear (&s);
  }
}

/* Runs the script on a fabric journaling into @m until the sim "dies" at
 * its @crash_call-th call; then recovers a new fabric from the store's
 * snapshot and journal on the same hardware and checks it.  Returns the
 * recovered fabric's save. */
static char *
crash_and_recover (guint64 crash_call, guint *out_steps_done)
{
  Scene s = { 0 };
  MemStore *m = mem_new (), *after;
  g_autoptr (GError) err = NULL;
  AsmFabric *f2;
  char *saved;
  guint k;

  scene_build (&s);
  OK (asm_fabric_set_journal_store (s.f, &mem_funcs, m, NULL, &error));
  OK (asm_fabric_checkpoint (s.f, NULL, &error));
  asm_sim_crash_after (s.sim, crash_call);
  for (k = 0; k < N_STEPS && !asm_sim_is_crashed (s.sim); k++)
    {
      AsmPartitionRequest req = { .size = 16 * MIB };
      /* the script's own calls assert success: run them until the crash
       * by hand here */
      gboolean ok;
      switch (k)
        {
        case 0:
        case 1:
        case 2:
        case 3:
          req.preferred_switch = s.sw[k % 2];
          ok = asm_fabric_request_partition (s.f, s.w[k % 2], &req, &s.p[k],
                                             NULL, &err);
          break;
        case 4:
          ok = asm_fabric_create_vf (s.f, s.pf[0], &s.vf, &err) &&
               asm_fabric_map_device (s.f, s.p[0], s.vf, NULL, &err);
          break;
        case 5:
          ok = asm_fabric_migrate_partition (s.f, s.p[1], s.sw[2], &err);
          break;
        case 6:
          ok = asm_fabric_grow_partition (s.f, s.p[2], 48 * MIB, &err);
          break;
        case 7:
          ok = asm_fabric_transfer_vf (s.f, s.vf, s.pf[1], &s.vf, &err);
          break;
        default:
          ok = asm_fabric_migrate_workload (s.f, s.w[1], s.sw[k % 3], &err);
          break;
        }
      if (!ok)
        {
          assert_true (asm_sim_is_crashed (s.sim));
          g_clear_error (&err);
        }
    }
  *out_steps_done = k;
  /* the process is gone: only the store and the hardware remain */
  after = mem_copy (m);
  g_clear_pointer (&s.f, asm_fabric_unref);
  mem_free (m);
  asm_sim_clear_faults (s.sim);
  f2 = asm_fabric_restore (after->snapshot->str, -1, s.sim, &err);
  assert_non_null (f2);
  OK (asm_fabric_recover_store (f2, &mem_funcs, after, mem_free, &error));
  OK (asm_fabric_check (f2, &error));
  OK (asm_sim_verify (s.sim, f2, &error));
  /* and it goes on journaling into the store */
  OK (asm_fabric_checkpoint (f2, NULL, &error));
  saved = asm_fabric_save (f2, NULL);
  asm_fabric_unref (f2);
  scene_clear (&s);
  return saved;
}

static void
test_recovery_from_a_store (void **state)
{
  guint recovered = 0;

  /* crash at every call of the first hundred: each recovery must pass its
   * checks (model, hardware equal to it) */
  for (guint64 c = 1; c <= 100; c++)
    {
      guint done = 0;
      g_autofree char *saved = crash_and_recover (c, &done);
      assert_non_null (saved);
      recovered++;
    }
  assert_int_equal (recovered, 100);
}

static void
test_a_store_that_fails_fails_the_operation (void **state)
{
  Scene s = { 0 };
  MemStore *m = mem_new ();
  g_autofree char *before = NULL, *after = NULL;

  scene_build (&s);
  OK (asm_fabric_set_journal_store (s.f, &mem_funcs, m, mem_free, &error));
  for (guint k = 0; k < 5; k++)
    script_step (&s, k);
  /* the migration's second record (its first step) cannot be stored */
  m->fail_at = m->n_appends + 2;
  before = state_of (s.f);
  FAILS (asm_fabric_migrate_partition (s.f, s.p[1], s.sw[2], &error), FAILED,
         "quota exceeded");
  after = state_of (s.f);
  assert_string_equal (before, after);
  OK (asm_sim_verify (s.sim, s.f, &error));
  /* the fabric goes on */
  OK (asm_fabric_migrate_partition (s.f, s.p[1], s.sw[2], &error));
  OK (asm_fabric_check (s.f, &error));
  scene_clear (&s);
}

/* The store is fenced from its @from-th append after the first five
 * steps; the next operation (a migration) must stop without undoing. */
static void
fence_during_migration (guint from_offset)
{
  Scene s = { 0 };
  MemStore *m = mem_new (), *taken;
  g_autofree char *before = NULL, *hw_before = NULL, *hw_after = NULL;
  g_autofree char *recovered = NULL;
  AsmFabric *f2;
  guint64 calls;

  scene_build (&s);
  OK (asm_fabric_set_journal_store (s.f, &mem_funcs, m, NULL, &error));
  for (guint k = 0; k < 5; k++)
    script_step (&s, k);
  OK (asm_fabric_checkpoint (s.f, NULL, &error));
  before = asm_fabric_save (s.f, NULL);
  hw_before = asm_sim_dump (s.sim);
  m->fence_from = m->n_appends + from_offset;
  calls = asm_sim_get_n_calls (s.sim);
  FAILS (asm_fabric_migrate_partition (s.f, s.p[1], s.sw[2], &error), FENCED,
         "taken over by another writer");
  hw_after = asm_sim_dump (s.sim);
  if (from_offset == 1)
    {
      /* fenced at "begin": nothing reached the hardware */
      assert_int_equal (asm_sim_get_n_calls (s.sim), calls);
      assert_string_equal (hw_before, hw_after);
    }
  else
    /* some steps ran and were left for the new writer */
    assert_true (asm_sim_get_n_calls (s.sim) > calls);
  /* the deposed fabric refuses everything that changes */
  FAILS (asm_fabric_grow_partition (s.f, s.p[2], 64 * MIB, &error), FENCED,
         "taken over");
  FAILS (asm_fabric_checkpoint (s.f, NULL, &error), FENCED, "taken over");
  /* reads still answer, from the model before the migration */
  {
    g_autofree char *now = asm_fabric_save (s.f, NULL);
    assert_string_equal (now, before);
  }
  /* the writer that took over: the store as it is, the same hardware */
  taken = mem_copy (m);
  g_clear_pointer (&s.f, asm_fabric_unref);
  mem_free (m);
  f2 = asm_fabric_restore (taken->snapshot->str, -1, s.sim, NULL);
  assert_non_null (f2);
  OK (asm_fabric_recover_store (f2, &mem_funcs, taken, mem_free, &error));
  OK (asm_fabric_check (f2, &error));
  OK (asm_sim_verify (s.sim, f2, &error));
  recovered = asm_fabric_save (f2, NULL);
  {
    /* the state before the migration (journal positions aside) */
    g_autoptr (AsmFabric) a = asm_fabric_restore (before, -1, NULL, NULL);
    g_autoptr (AsmFabric) b = asm_fabric_restore (recovered, -1, NULL, NULL);
    GArray *pa = asm_fabric_list (a, ASM_FABRIC_PARTITIONS);
    AsmPartitionInfo ia, ib;
    assert_true (asm_fabric_get_partition_info (a, s.p[1], &ia));
    assert_true (asm_fabric_get_partition_info (b, s.p[1], &ib));
    assert_int_equal (ia.switch_id, ib.switch_id);
    assert_int_equal (ia.phys_first, ib.phys_first);
    assert_int_equal (pa->len, 4);
    g_array_unref (pa);
  }
  /* and it goes on */
  OK (asm_fabric_migrate_partition (f2, s.p[1], s.sw[2], &error));
  OK (asm_sim_verify (s.sim, f2, &error));
  asm_fabric_unref (f2);
  scene_clear (&s);
}

static void
test_fenced_before_any_step (void **state)
{
  fence_during_migration (1);
}

static void
test_fenced_between_steps (void **state)
{
  fence_during_migration (3);
}

static void
test_fenced_before_commit (void **state)
{
  /* a migration of this scene has fewer than 12 steps: an offset beyond
   * them fences its commit record */
  Scene s = { 0 };
  MemStore *m = mem_new ();
  guint n_before;

  /* count the records one migration writes */
  scene_build (&s);
  OK (asm_fabric_set_journal_store (s.f, &mem_funcs, m, mem_free, &error));
  for (guint k = 0; k < 5; k++)
    script_step (&s, k);
  n_before = m->n_appends;
  OK (asm_fabric_migrate_partition (s.f, s.p[1], s.sw[2], &error));
  {
    guint records = m->n_appends - n_before;
    scene_clear (&s);
    assert_true (records >= 3);
    fence_during_migration (records); /* the last append: the commit */
  }
}

static gboolean
failing_read (gpointer data, GBytes **out, GError **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "cluster unreachable");
  return FALSE;
}

/* A store that cannot be read, or that holds something that is not a
 * journal, is refused before the fabric takes it: the fabric keeps no
 * journal, changes nothing, and the caller keeps the store's data. */
static void
test_a_bad_store_is_refused (void **state)
{
  Scene s = { 0 };
  AsmJournalStore unreadable = mem_funcs;
  MemStore *m = mem_new ();
  g_autofree char *before = NULL, *after = NULL;

  scene_build (&s);
  before = asm_fabric_save (s.f, NULL);
  unreadable.read = failing_read;
  FAILS (asm_fabric_set_journal_store (s.f, &unreadable, m, mem_free, &error),
         FAILED, "cluster unreachable");
  /* (shorter than a frame's prefix it would be a header cut short while
   * being written, and dropped, as in a file) */
  g_byte_array_append (m->bytes,
                       (const guint8 *) "this is not an asm journal\n", 27);
  FAILS (asm_fabric_set_journal_store (s.f, &mem_funcs, m, mem_free, &error),
         PARSE, "(store)");
  after = asm_fabric_save (s.f, NULL);
  assert_string_equal (before, after);
  /* no journal was kept: a checkpoint says so */
  FAILS (asm_fabric_checkpoint (s.f, NULL, &error), FAILED,
         "no journal to compact");
  mem_free (m); /* still the caller's */
  scene_clear (&s);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_store_holds_what_a_file_holds),
    cmocka_unit_test (test_checkpoint_into_the_store),
    cmocka_unit_test (test_recovery_from_a_store),
    cmocka_unit_test (test_a_store_that_fails_fails_the_operation),
    cmocka_unit_test (test_fenced_before_any_step),
    cmocka_unit_test (test_fenced_between_steps),
    cmocka_unit_test (test_fenced_before_commit),
    cmocka_unit_test (test_a_bad_store_is_refused),
  };
  g_setenv ("ASM_FABRIC_JOURNAL_NO_SYNC", "1", TRUE);
  g_log_set_writer_func (quiet_writer, NULL, NULL);
  return cmocka_run_group_tests (tests, NULL, NULL);
}
