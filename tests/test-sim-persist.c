/* test-sim-persist.c: the persistent sim (layer 4)
 *
 * asm_sim_backend_new_persistent() (the first argument is the path of
 * sim-crash-child): the file holds every kind of register after every
 * call and loads back the same; damaged and foreign files are refused; a
 * call whose write fails changes nothing in memory nor in the file;
 * faults are not saved; a fabric verifies against a sim opened on the
 * file; and a child killed with SIGKILL at random moments always leaves a
 * file that loads and keeps the invariants.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <glib/gstdio.h>

#include "sim-test-common.h"

/* ---------------------------------------------------------------------- */
/* Persistence (asm_sim_backend_new_persistent())                         */
/* ---------------------------------------------------------------------- */

/* The sim-crash-child program, from the command line (see main()). */
static const char *crash_child;

/* A new directory for state files, and the state file in it. */
typedef struct {
  char *dir;
  char *path;
} Tmp;

static Tmp
tmp_new (void)
{
  g_autoptr(GError) error = NULL;
  Tmp t;

  t.dir = g_dir_make_tmp ("asm-sim-XXXXXX", &error);
  if (t.dir == NULL)
    fail_msg ("g_dir_make_tmp: %s", error->message);
  t.path = g_build_filename (t.dir, "sim.json", NULL);
  return t;
}

/* Removes the directory and what the tests put in it (files, and empty
 * directories such as a path.tmp made to fail writes). */
static void
tmp_free (Tmp *t)
{
  GDir *d = g_dir_open (t->dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (t->dir, name, NULL);

      if (g_remove (p) != 0)
        fail_msg ("removing %s: %s", p, g_strerror (errno));
    }
  if (d != NULL)
    g_dir_close (d);
  if (g_rmdir (t->dir) != 0)
    fail_msg ("removing %s: %s", t->dir, g_strerror (errno));
  g_free (t->dir);
  g_free (t->path);
}

static Fx *
fx_open_at (const char *path, const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  Fx *fx = g_new0 (Fx, 1);

  fx->b = asm_sim_backend_new_persistent (path, &error);
  if (fx->b == NULL)
    FAIL_AT (file, line, "asm_sim_backend_new_persistent: %s",
             error->message);
  fx->ops = asm_sim_get_ops ();
  fx->self = asm_backend_get_self (fx->b);
  return fx;
}
#define fx_open(path) fx_open_at ((path), __FILE__, __LINE__)

static char *
file_text (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, &error))
    fail_msg ("reading %s: %s", path, error->message);
  return text;
}

/* Opening the file again in a second backend finds what fx holds. */
static void
reopen_same_at (Fx *fx, const char *path, const char *file, int line)
{
  Fx *again = fx_open_at (path, file, line);
  g_autofree char *want = asm_sim_dump (fx->b);
  g_autofree char *got = asm_sim_dump (again->b);

  if (strcmp (want, got) != 0)
    FAIL_AT (file, line, "the file holds other registers:\n--- in memory\n"
             "%s--- from the file\n%s", want, got);
  fx_free (again);
}
#define assert_reopen_same(fx, path) \
  reopen_same_at ((fx), (path), __FILE__, __LINE__)

static void
test_persist_new (void **state)
{
  Tmp t = tmp_new ();
  Fx *fx, *mem = fx_new ();
  g_autofree char *text = NULL, *dump = NULL;
  g_autofree char *tmp = g_strconcat (t.path, ".tmp", NULL);

  assert_null (asm_sim_get_path (mem->b));
  fx_free (mem);

  /* a new file for a path that does not exist */
  fx = fx_open (t.path);
  assert_true (asm_sim_is_sim (fx->b));
  assert_string_equal (asm_sim_get_path (fx->b), t.path);
  assert_true (g_file_test (t.path, G_FILE_TEST_IS_REGULAR));
  assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  text = file_text (t.path);
  assert_non_null (strstr (text, "\"format\" : \"asm-sim\""));
  assert_non_null (strstr (text, "\"version\" : 1"));
  dump = asm_sim_dump (fx->b);
  assert_string_equal (dump, "sim: 0 switches, 0 devices bound, 0 VFs, "
                             "0 held\n");
  fx_free (fx);

  /* the same file again: the same, empty, registers */
  fx = fx_open (t.path);
  assert_int_equal (asm_sim_get_n_calls (fx->b), 0);
  g_free (dump);
  dump = asm_sim_dump (fx->b);
  assert_string_equal (dump, "sim: 0 switches, 0 devices bound, 0 VFs, "
                             "0 held\n");
  fx_free (fx);
  tmp_free (&t);
}

/* The script of every operation, on a persistent sim: after each step the
 * file holds what memory holds; after the last, a sim opened on the file
 * has every kind of register of the golden dump (switches, windows, table
 * entries, an open update, bound ports, flushes, root routes, VFs, a held
 * device, a usage counter). */
static void
test_persist_round_trip (void **state)
{
  Tmp t = tmp_new ();
  Fx *fx = fx_open (t.path);
  g_autofree char *text = NULL, *again = NULL, *dump = NULL;

  for (guint i = 0; i < N_STEPS; i++)
    {
      OK (run_step (fx, i, &error));
      assert_reopen_same (fx, t.path);
    }
  dump = asm_sim_dump (fx->b);
  assert_string_equal (dump, script_dump);
  text = file_text (t.path);
  fx_free (fx);

  fx = fx_open (t.path);
  g_free (dump);
  dump = asm_sim_dump (fx->b);
  assert_string_equal (dump, script_dump);
  assert_check (fx);
  /* u64 registers are "0x..." strings */
  assert_non_null (strstr (text, "\"size\" : \"0x100000\""));
  assert_non_null (strstr (text, "\"flushes\" : \"0x1\""));
  assert_non_null (strstr (text, "\"reads\" : \"0x1\""));

  /* the same registers, the same bytes: a change and its inverse write
   * the file back as it was */
  OK (hw_hold (fx, 20, &error));
  again = file_text (t.path);
  assert_string_not_equal (again, text);
  OK (hw_release (fx, 20, &error));
  g_free (again);
  again = file_text (t.path);
  assert_string_equal (again, text);

  /* the open update goes on where it stopped: commit it */
  OK (hw_set (fx, 2, 8, 0x8, &error));
  assert_reopen_same (fx, t.path);
  HW_FAILS (hw_commit (fx, 2, &error), "table full");
  OK (hw_remove (fx, 2, 8, &error));
  OK (hw_commit (fx, 2, &error));
  assert_reopen_same (fx, t.path);
  assert_dump_has (fx, "switch 2 \"sw2\": 2 ports, table 1/1, 0 flushes\n");
  fx_free (fx);
  tmp_free (&t);
}

/* Pending binds and unbinds are registers too; the pending-binds mode is
 * the process's and is not saved. */
static void
test_persist_pending (void **state)
{
  Tmp t = tmp_new ();
  Fx *fx = fx_open (t.path);

  two_switches (fx);
  OK (DONE (hw_bind (fx, 11, 1, 1, &error)));
  asm_sim_set_pending_binds (fx->b, TRUE);
  OK (PENDING (hw_bind (fx, 10, 1, 0, &error)));
  OK (PENDING (hw_unbind (fx, 11, 1, 1, &error)));
  assert_dump_has (fx, "port 0: device 10 \"dev10\", bind pending\n");
  assert_dump_has (fx, "port 1: device 11 \"dev11\", unbind pending\n");
  assert_reopen_same (fx, t.path);
  fx_free (fx);

  fx = fx_open (t.path);
  assert_dump_has (fx, "port 0: device 10 \"dev10\", bind pending\n");
  OK (hw_wait (fx, 10, &error));
  OK (hw_wait (fx, 11, &error));
  assert_dump_has (fx, "port 0: device 10 \"dev10\"\n");
  assert_dump_lacks (fx, "device 11");
  /* not in pending mode any more */
  OK (DONE (hw_bind (fx, 12, 2, 0, &error)));
  assert_reopen_same (fx, t.path);
  assert_check (fx);
  fx_free (fx);
  tmp_free (&t);
}

/* Faults and the call count are not saved: a sim opened again after a
 * simulated crash has none, and the registers the crash left. */
static void
test_persist_faults_not_saved (void **state)
{
  Tmp t = tmp_new ();
  Fx *fx = fx_open (t.path);
  g_autofree char *before = NULL, *after = NULL;

  two_switches (fx);
  OK (hw_begin (fx, 1, &error));
  OK (hw_set (fx, 1, 5, 0x5, &error));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_HOLD, TRUE);
  asm_sim_fail_call (fx->b, 3);
  asm_sim_crash_after (fx->b, 0);
  HW_FAILS (hw_commit (fx, 1, &error), "simulated crash");
  hw_abort (fx, 1); /* does nothing: the process is gone */
  before = asm_sim_dump (fx->b);
  fx_free (fx);

  fx = fx_open (t.path);
  after = asm_sim_dump (fx->b);
  assert_string_equal (after, before);
  assert_non_null (strstr (after, "update open: 1 entries staged"));
  assert_false (asm_sim_is_crashed (fx->b));
  assert_int_equal (asm_sim_get_n_calls (fx->b), 0);
  /* recovery aborts the update the killed process left open */
  hw_abort (fx, 1);
  assert_dump_lacks (fx, "update open");
  assert_reopen_same (fx, t.path);
  OK (DONE (hw_bind (fx, 10, 1, 0, &error)));
  OK (hw_hold (fx, 10, &error));
  OK (hw_release (fx, 10, &error));
  OK (hw_flush (fx, 1, 0, 0xfff, &error));
  assert_int_equal (asm_sim_get_n_calls (fx->b), 4);
  fx_free (fx);
  tmp_free (&t);
}

/* A file that is not one, is damaged or holds impossible registers is
 * refused with ASM_ERROR_PARSE naming the file and the problem. */
static const struct {
  const char *text;
  const char *message;
} bad_files[] = {
  { "", "not an asm-sim state file (empty)" },
  { "{ \"format\" : \"asm-sim\", ", "not JSON" },
  { "[1, 2]", "not an asm-sim state file (not a JSON object)" },
  { "{ \"a\" : 1 }", "\"format\" is not \"asm-sim\"" },
  { "{ \"format\" : \"asm-fabric\", \"version\" : 1 }",
    "\"format\" is not \"asm-sim\"" },
  { "{ \"format\" : \"asm-sim\", \"version\" : 2 }",
    "version 2 is not supported" },
  { "{ \"format\" : \"asm-sim\", \"version\" : \"1\" }",
    "\"version\" is not an integer" },
  { "{ \"format\" : \"asm-sim\", \"version\" : 1 }",
    "\"switches\" is missing" },
  { "{ \"format\" : \"asm-sim\", \"version\" : 1, \"switches\" : {} }",
    "\"switches\" is not an array" },
  { "{ \"format\" : \"asm-sim\", \"version\" : 1, \"switches\" : [], "
    "\"routes\" : [], \"vfs\" : [], \"held\" : [-1], \"usage\" : [] }",
    "held[0]: \"held\" is not an integer" },
  { "{ \"format\" : \"asm-sim\", \"version\" : 1, \"switches\" : [], "
    "\"routes\" : [ { \"first\" : 0, \"last\" : \"0x1\", \"switch\" : 1 } ],"
    " \"vfs\" : [], \"held\" : [], \"usage\" : [] }",
    "routes[0]: \"first\" is not a string" },
  { "{ \"format\" : \"asm-sim\", \"version\" : 1, \"switches\" : [], "
    "\"routes\" : [ { \"first\" : \"0x\", \"last\" : \"0x1\", \"switch\" : 1 "
    "} ], \"vfs\" : [], \"held\" : [], \"usage\" : [] }",
    "routes[0]: \"first\" is \"0x\", not \"0x\" and 1 to 16 hex digits" },
  { "{ \"format\" : \"asm-sim\", \"version\" : 1, \"switches\" : [], "
    "\"routes\" : [ { \"first\" : \"0x10000000000000000\", \"last\" : "
    "\"0x1\", \"switch\" : 1 } ], \"vfs\" : [], \"held\" : [], "
    "\"usage\" : [] }",
    "not \"0x\" and 1 to 16 hex digits" },
  /* registers that break an invariant */
  { "{ \"format\" : \"asm-sim\", \"version\" : 1, \"switches\" : [], "
    "\"routes\" : [ { \"first\" : \"0x0\", \"last\" : \"0x1\", \"switch\" : 1 "
    "} ], \"vfs\" : [], \"held\" : [], \"usage\" : [] }",
    "break an invariant: root route 0x0-0x1 goes to switch 1, which does "
    "not exist" },
  { "{ \"format\" : \"asm-sim\", \"version\" : 1, \"switches\" : [], "
    "\"routes\" : [], \"vfs\" : [], \"held\" : [3, 2], \"usage\" : [] }",
    "break an invariant: held devices out of order at 1" },
};

/* a switch 1 of 2 ports and 1 entry, with these members */
#define SWITCH_1(windows, table, update, bindings) \
  "{ \"format\" : \"asm-sim\", \"version\" : 1, \"switches\" : [ { \"id\" :" \
  " 1, \"name\" : \"s\", \"n_ports\" : 2, \"table_capacity\" : 1, " \
  "\"flushes\" : \"0x0\", \"windows\" : [" windows "], \"table\" : [" table \
  "], \"update\" : " update ", \"bindings\" : [" bindings "] } ], " \
  "\"routes\" : [], \"vfs\" : [], \"held\" : [], \"usage\" : [] }"
#define ENTRY(key) \
  "{ \"key\" : " #key ", \"partition\" : 1, \"workload\" : 1, " \
  "\"virt_first\" : \"0x0\", \"size\" : \"0x1000\", \"offset\" : \"0x0\" }"

static const struct {
  const char *text;
  const char *message;
} bad_switches[] = {
  { SWITCH_1 ("", "", "null", ""), "" }, /* the good one */
  { SWITCH_1 ("{ \"first\" : \"0x2\", \"last\" : \"0x1\" }", "", "null", ""),
    "switch 1: window 0 is empty" },
  { SWITCH_1 ("", ENTRY (1) ", " ENTRY (2), "null", ""),
    "switch 1: 2 entries committed, capacity 1" },
  { SWITCH_1 ("", ENTRY (0), "null", ""), "switch 1: table entry 0 has "
    "key 0" },
  { SWITCH_1 ("", "", "[ { \"set\" : " ENTRY (0) " } ]", ""),
    "switch 1: staged entry 0 has key 0" },
  { SWITCH_1 ("", "", "[ { \"add\" : 1 } ]", ""),
    "switches[0].update[0]: \"set\" is missing" },
  { SWITCH_1 ("", "", "7", ""), "\"update\" is neither null nor an array" },
  { SWITCH_1 ("", "", "null", "{ \"port\" : 2, \"device\" : 5, \"name\" : "
              "\"d\", \"pending\" : \"none\" }"),
    "switches[0].bindings[0]: port 2 is out of range" },
  { SWITCH_1 ("", "", "null", "{ \"port\" : 0, \"device\" : 5, \"name\" : "
              "\"d\", \"pending\" : \"none\" }, { \"port\" : 1, \"device\" : "
              "5, \"name\" : \"d\", \"pending\" : \"none\" }"),
    "switches[0].bindings[1]: device 5 at port 1" },
  { SWITCH_1 ("", "", "null", "{ \"port\" : 0, \"device\" : 5, \"name\" : "
              "\"d\", \"pending\" : \"maybe\" }"),
    "\"pending\" is \"maybe\"" },
  { SWITCH_1 ("", "", "null", "{ \"port\" : 0, \"device\" : 5, \"name\" : "
              "\"d\" }"),
    "switches[0].bindings[0]: \"pending\" is missing" },
};

static void
refused_at (const char *dir, const char *text, gssize len,
            const char *message, const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (dir, "bad.json", NULL);
  g_autofree char *after = NULL;
  AsmBackend *b;

  if (!g_file_set_contents (path, text, len, &error))
    FAIL_AT (file, line, "writing %s: %s", path, error->message);
  b = asm_sim_backend_new_persistent (path, &error);
  if (b != NULL)
    FAIL_AT (file, line, "%s was accepted, expected \"%s\"", text, message);
  if (!g_error_matches (error, ASM_ERROR, ASM_ERROR_PARSE))
    FAIL_AT (file, line, "%s: got %s, expected ASM_ERROR_PARSE", text,
             error->message);
  if (!g_str_has_prefix (error->message, path) ||
      strstr (error->message, message) == NULL)
    FAIL_AT (file, line, "\"%s\" does not start with the path or lacks "
             "\"%s\"", error->message, message);
  /* a refused file is left alone */
  after = file_text (path);
  if (memcmp (after, text, len < 0 ? strlen (text) : (gsize) len) != 0)
    FAIL_AT (file, line, "the refused file was changed");
}
#define assert_refused(dir, text, len, message) \
  refused_at ((dir), (text), (len), (message), __FILE__, __LINE__)

static void
test_persist_refuses (void **state)
{
  Tmp t = tmp_new ();
  g_autofree char *good = NULL;
  Fx *fx;
  gsize len;

  for (guint i = 0; i < G_N_ELEMENTS (bad_files); i++)
    assert_refused (t.dir, bad_files[i].text, -1, bad_files[i].message);
  /* the good switch loads; each damage of it is refused */
  {
    g_autofree char *p = g_build_filename (t.dir, "good.json", NULL);

    OK (g_file_set_contents (p, bad_switches[0].text, -1, &error));
    fx = fx_open (p);
    assert_dump_has (fx, "switch 1 \"s\": 2 ports, table 0/1, 0 flushes\n");
    fx_free (fx);
  }
  for (guint i = 1; i < G_N_ELEMENTS (bad_switches); i++)
    assert_refused (t.dir, bad_switches[i].text, -1,
                    bad_switches[i].message);

  /* a real state file cut short anywhere is refused, never half loaded */
  fx = fx_open (t.path);
  for (guint i = 0; i < N_STEPS; i++)
    OK (run_step (fx, i, &error));
  fx_free (fx);
  good = file_text (t.path);
  len = strlen (good);
  for (gsize cut = 0; cut + 1 < len; cut += 7)
    assert_refused (t.dir, good, (gssize) cut, "");
  /* a directory cannot be read */
  {
    g_autoptr(GError) error = NULL;

    assert_null (asm_sim_backend_new_persistent (t.dir, &error));
    assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_BACKEND));
  }
  tmp_free (&t);
}

/* A call whose registers cannot be written fails, and memory goes back to
 * what the file holds.  path.tmp made a directory makes every write fail,
 * even for root (whom a read-only directory does not stop). */
static void
test_persist_write_error (void **state)
{
  Tmp t = tmp_new ();
  g_autofree char *tmp = g_strconcat (t.path, ".tmp", NULL);
  g_autofree char *text = NULL, *after = NULL, *dump = NULL;
  Fx *fx = fx_open (t.path);

  for (guint i = 0; i < N_STEPS; i++)
    OK (run_step (fx, i, &error));
  text = file_text (t.path);
  assert_int_equal (g_mkdir (tmp, 0700), 0);

  /* each kind of call that changes something */
  HW_FAILS (hw_switch (fx, 9, "sw9", 1, 1, &error), "were not saved");
  HW_FAILS (hw_windows (fx, 1, &error, ASM_RANGE (0, 0xfff)),
            "windows_commit: the registers were not saved, the call is "
            "undone: cannot create");
  HW_FAILS (hw_set (fx, 2, 9, 0x9, &error), "xlat_set");
  HW_FAILS (hw_remove (fx, 2, 7, &error), "xlat_remove");
  HW_FAILS (hw_commit (fx, 2, &error), "xlat_commit");
  HW_FAILS (hw_begin (fx, 1, &error), "xlat_begin");
  HW_FAILS (NOT_FAILED (hw_bind (fx, 22, 1, 2, &error)), "device_bind");
  HW_FAILS (NOT_FAILED (hw_unbind (fx, 20, 1, 0, &error)), "device_unbind");
  HW_FAILS (hw_hold (fx, 20, &error), "device_hold");
  HW_FAILS (hw_release (fx, 21, &error), "device_release");
  HW_FAILS (hw_vf_create (fx, 20, 4, 32, &error), "vf_create");
  HW_FAILS (hw_vf_destroy (fx, 20, 3, 31, &error), "vf_destroy");
  HW_FAILS (hw_flush (fx, 1, 0, 0xfff, &error), "cache_flush");
  HW_FAILS (hw_root (fx, 1, &error, ASM_RANGE (0, 0xfff)), "root_routes");
  {
    guint64 bytes;

    HW_FAILS (hw_usage (fx, 1, 5, &bytes, &error), "usage_read");
  }
  assert_reopen_same (fx, t.path);
  /* calls that change nothing write nothing and succeed */
  OK (hw_switch (fx, 1, "sw1", 4, 4, &error));
  OK (hw_release (fx, 20, &error));
  OK (DONE (hw_bind (fx, 20, 1, 0, &error)));
  /* xlat_abort cannot fail: the update stays open, in memory as on file */
  dump = asm_sim_dump (fx->b);
  hw_abort (fx, 2);
  after = asm_sim_dump (fx->b);
  assert_string_equal (after, dump);
  assert_reopen_same (fx, t.path);
  g_free (after);
  after = file_text (t.path);
  assert_string_equal (after, text);

  /* writable again: the same calls go through */
  assert_int_equal (g_rmdir (tmp), 0);
  hw_abort (fx, 2);
  assert_dump_lacks (fx, "update open");
  OK (hw_windows (fx, 1, &error, ASM_RANGE (0, 0xfff)));
  OK (hw_hold (fx, 20, &error));
  assert_reopen_same (fx, t.path);
  assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  assert_check (fx);
  fx_free (fx);

  /* a file that cannot be created */
  {
    g_autofree char *p = g_build_filename (t.dir, "nowhere", "sim.json",
                                           NULL);
    g_autoptr(GError) error = NULL;

    assert_null (asm_sim_backend_new_persistent (p, &error));
    assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_BACKEND));
    assert_non_null (strstr (error->message, "cannot create the sim state"));
  }
  tmp_free (&t);
}

/* A fabric on a persistent sim: a sim opened on the file matches the
 * fabric's model, as the live one does. */
static void
test_persist_fabric (void **state)
{
  Tmp t = tmp_new ();
  g_autoptr(GError) err = NULL;
  AsmBackend *sim = asm_sim_backend_new_persistent (t.path, &err);
  AsmFabric *fabric;
  AsmSwitchSpec spec = { .name = "a", .bandwidth = 10000, .latency_ns = 100,
                         .table_capacity = 8, .n_ports = 4 };
  AsmPartitionRequest req = { .size = 4 * MIB };
  AsmId a, b, nic, pf, vf, wl, part;
  guint64 virt;

  assert_non_null (sim);
  fabric = asm_fabric_new ("f", 0, (G_GUINT64_CONSTANT (1) << 36) - 1, MIB,
                           sim, &err);
  assert_non_null (fabric);
  OK (asm_fabric_add_switch (fabric, &spec, &a, &error));
  spec.name = "b";
  OK (asm_fabric_add_switch (fabric, &spec, &b, &error));
  OK (asm_fabric_add_device (fabric, "nic", ASM_DEVICE_ENDPOINT, MIB, a, 0,
                             &nic, &error));
  OK (asm_fabric_add_device (fabric, "pf", ASM_DEVICE_PF, MIB, b, 1, &pf,
                             &error));
  OK (asm_fabric_set_sriov (fabric, pf, 4, MIB, &error));
  OK (asm_fabric_create_vf (fabric, pf, &vf, &error));
  OK (asm_fabric_add_workload (fabric, "wl", &wl, &error));
  OK (asm_fabric_request_partition (fabric, wl, &req, &part, &virt, &error));
  for (guint i = 0; i < 6; i++)
    {
      AsmPartitionInfo info;
      Fx *again;

      assert_true (asm_fabric_get_partition_info (fabric, part, &info));
      OK (asm_fabric_migrate_partition (fabric, part,
                                        info.switch_id == a ? b : a,
                                        &error));
      OK (asm_sim_verify (sim, fabric, &error));
      again = fx_open (t.path);
      OK (asm_sim_verify (again->b, fabric, &error));
      fx_free (again);
    }
  asm_fabric_unref (fabric);
  asm_backend_unref (sim);
  tmp_free (&t);
}

/* Kill sim-crash-child with SIGKILL at random moments while it migrates
 * partitions: the file it leaves always loads (so it is whole and its
 * registers keep S1-S8).  ASM_SIM_KILL_SEED repeats a run's delays and the
 * child's choices (where a kill lands also depends on timing);
 * ASM_SIM_KILLS sets the number of kills (10). */
static void
test_persist_kill (void **state)
{
  guint64 seed = test_env_u64 ("ASM_SIM_KILL_SEED",
                               (guint64) g_get_real_time ());
  g_autoptr(GRand) rand = g_rand_new_with_seed ((guint32) seed);
  const guint n_kills = (guint) test_env_u64 ("ASM_SIM_KILLS", 10);
  Tmp t = tmp_new ();

  if (crash_child == NULL)
    fail_msg ("the path of sim-crash-child is not on the command line");
  print_message ("# kill: seed %" G_GUINT64_FORMAT ", %u kills "
                 "(ASM_SIM_KILL_SEED repeats the delays)\n", seed, n_kills);
  for (guint k = 0; k < n_kills; k++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *child_seed = g_strdup_printf ("--seed=%u",
                                                     g_rand_int (rand));
      const char *argv[] = { crash_child, child_seed, t.path, NULL };
      g_autoptr(GIOChannel) out = NULL;
      g_autofree char *line = NULL;
      guint delay_us = g_rand_int_range (rand, 0, 200 * 1000);
      GPid pid;
      int out_fd, status;
      Fx *fx;

      g_remove (t.path);
      if (!g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                                     G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                     &pid, NULL, &out_fd, NULL, &error))
        fail_msg ("spawning %s: %s", crash_child, error->message);
      out = g_io_channel_unix_new (out_fd);
      g_io_channel_set_close_on_unref (out, TRUE);
      if (g_io_channel_read_line (out, &line, NULL, NULL, &error) !=
              G_IO_STATUS_NORMAL ||
          strcmp (line, "ready\n") != 0)
        fail_msg ("seed %" G_GUINT64_FORMAT ": the child did not start "
                  "(%s)", seed, line != NULL ? line : "no line");
      g_usleep (delay_us);
      kill (pid, SIGKILL);
      if (waitpid (pid, &status, 0) != pid)
        fail_msg ("waitpid: %s", g_strerror (errno));
      g_spawn_close_pid (pid);
      if (!WIFSIGNALED (status) || WTERMSIG (status) != SIGKILL)
        fail_msg ("seed %" G_GUINT64_FORMAT " kill %u: the child ended "
                  "before it was killed (status 0x%x)", seed, k, status);

      /* whole, and within the invariants (the load checks S1-S8); a
       * device mapped to a migrating partition may be between ports */
      fx = fx_open (t.path);
      assert_check (fx);
      assert_dump_has (fx, "sim: 3 switches, ");
      fx_free (fx);
    }
  tmp_free (&t);
}

int
main (int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_persist_new),
    cmocka_unit_test (test_persist_round_trip),
    cmocka_unit_test (test_persist_pending),
    cmocka_unit_test (test_persist_faults_not_saved),
    cmocka_unit_test (test_persist_refuses),
    cmocka_unit_test (test_persist_write_error),
    cmocka_unit_test (test_persist_fabric),
    cmocka_unit_test (test_persist_kill),
  };

  crash_child = argc > 1 ? argv[1] : NULL;
  return cmocka_run_group_tests_name ("sim-persist", tests, NULL, NULL);
}
