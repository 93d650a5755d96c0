/* test-fabric-persist.c: a fabric's state in files (layer 3)
 *
 * asm_fabric_save() and asm_fabric_restore(): restore(save(x)) is x, on
 * the same simulated hardware or as a model only, and carries on from
 * there; hostile documents (a wrong or missing member, an unknown key, an
 * overlap, an id used twice, a broken invariant, JSON that is not an
 * object, a truncated save, nesting deeper than any fabric document) are
 * refused with ASM_ERROR_PARSE naming the JSON path.  The journal: paths
 * that cannot be opened or written, a torn last record dropped and cut
 * off, damage before the end and a version 1 journal refused, a window
 * change kept to a small record, and a checkpoint that writes the
 * snapshot and cuts the journal back.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <json-glib/json-glib.h>

#include "fabric-test-common.h"

/* ---------------------------------------------------------------------- */
/* Save and restore                                                       */
/* ---------------------------------------------------------------------- */

/* the scene, busier: a transfer, a migration, samples, a reserved hole */
static void
populate (Scene *s)
{
  scene_build (s, NULL);
  prep_transfer (s);
  OK (asm_fabric_migrate_partition (s->f, s->p2, s->b, &error));
  OK (asm_fabric_record_usage (s->f, s->w1, 0.1, 3 * MIB, &error));
  OK (asm_fabric_record_usage (s->f, s->w1, 0.35, 5 * MIB + 1, &error));
  OK (asm_fabric_record_usage (s->f, s->w1, 1.7, 4 * MIB, &error));
  OK (asm_fabric_reserve_global (s->f, BASE + 100 * MIB, BASE + 102 * MIB - 1,
                                 &error));
  CONSISTENT (s->f, s->sim);
}

static void
test_save_restore (void **state)
{
  Scene s;
  g_autofree char *json = NULL;
  g_autofree char *again = NULL;
  g_autofree char *model_only = NULL;
  gsize len = 0;
  AsmFabric *f2, *f3;
  AsmPartitionRequest req = { .size = 4 * MIB };

  populate (&s);
  json = asm_fabric_save (s.f, &len);
  assert_int_equal (len, strlen (json));
  assert_non_null (strstr (json, "\"format\" : \"asm-fabric\""));
  /* the same state gives the same bytes */
  again = asm_fabric_save (s.f, NULL);
  assert_string_equal (json, again);
  g_clear_pointer (&again, g_free);

  /* on the same hardware, with the same name and workload names */
  f2 = asm_fabric_restore (json, (gssize) len, s.sim, NULL);
  assert_non_null (f2);
  assert_string_equal (asm_fabric_get_name (f2), asm_fabric_get_name (s.f));
  assert_string_equal (asm_fabric_get_workload_name (f2, s.w1),
                       asm_fabric_get_workload_name (s.f, s.w1));
  assert_null (asm_fabric_get_workload_name (f2, 999999));
  again = asm_fabric_save (f2, NULL);
  assert_string_equal (json, again);
  CONSISTENT (f2, s.sim);
  assert_int_equal (PREDICT (f2, s.w1, 2.5), PREDICT (s.f, s.w1, 2.5));
  assert_int_equal (XLATE (f2, s.w1, s.v1 + MIB + 3).device,
                    XLATE (s.f, s.w1, s.v1 + MIB + 3).device);
  /* and it goes on from there */
  g_clear_pointer (&s.f, asm_fabric_unref);
  OK (asm_fabric_migrate_partition (f2, s.p1, s.c, &error));
  CONSISTENT (f2, s.sim);
  asm_fabric_unref (f2);

  /* model only */
  f3 = asm_fabric_restore (json, -1, NULL, NULL);
  assert_non_null (f3);
  assert_null (asm_fabric_get_backend (f3));
  model_only = asm_fabric_save (f3, NULL);
  assert_string_equal (json, model_only);
  OK (asm_fabric_request_partition (f3, s.w2, &req, NULL, NULL, &error));
  OK (asm_fabric_migrate_partition (f3, s.p2, s.a, &error));
  CONSISTENT (f3, NULL);
  asm_fabric_unref (f3);

  /* a save made before the name was kept restores as "restored"; a name
   * that is not a string is refused with its path */
  {
    const char *member = strstr (json, "\n \"name\" : ");
    const char *end = member ? strchr (member + 1, '\n') : NULL;
    g_autofree char *head = NULL, *unnamed = NULL, *bad = NULL;
    g_autoptr (GError) err = NULL;
    assert_non_null (end);
    head = g_strndup (json, (gsize) (member - json));
    unnamed = g_strconcat (head, end, NULL);
    f3 = asm_fabric_restore (unnamed, -1, NULL, &err);
    assert_non_null (f3);
    assert_string_equal (asm_fabric_get_name (f3), "restored");
    asm_fabric_unref (f3);
    bad = g_strconcat (head, "\n \"name\" : 7,", end, NULL);
    assert_null (asm_fabric_restore (bad, -1, NULL, &err));
    assert_true (g_error_matches (err, ASM_ERROR, ASM_ERROR_PARSE));
    assert_non_null (strstr (err->message, "$.name"));
    g_clear_error (&err);
    /* a switch name with a control character, as a hostile save has it */
    {
      const char *sw = strstr (json, "\"switches\" : [");
      const char *q = sw ? strstr (sw, "\"name\" : \"") : NULL;
      g_autofree char *before = NULL, *hostile = NULL;
      assert_non_null (q);
      q += strlen ("\"name\" : \"");
      before = g_strndup (json, (gsize) (q - json));
      hostile = g_strconcat (before, "\\u0001", q, NULL);
      assert_null (asm_fabric_restore (hostile, -1, NULL, &err));
      assert_true (g_error_matches (err, ASM_ERROR, ASM_ERROR_PARSE));
      assert_non_null (strstr (err->message, "$.switches[0].name"));
      assert_non_null (strstr (err->message, "control character"));
    }
  }
  scene_clear (&s);
}

/* Edits a saved document: `path` is member names and array indexes joined
 * by '.', e.g. "switches.1.windows" */
typedef enum { MUT_REMOVE, MUT_SET, MUT_COPY } MutKind;

static JsonNode *
node_at (JsonNode *root, const char *path, JsonNode **out_parent,
         char **out_last)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  JsonNode *node = root, *parent = NULL;
  guint n = g_strv_length (parts);

  for (guint i = 0; i < n; i++)
    {
      parent = node;
      if (JSON_NODE_HOLDS_ARRAY (node))
        node = json_array_get_element (json_node_get_array (node),
                                       (guint) atoi (parts[i]));
      else
        node = json_object_get_member (json_node_get_object (node), parts[i]);
    }
  if (out_parent)
    *out_parent = parent;
  if (out_last)
    *out_last = g_strdup (parts[n - 1]);
  return node;
}

static char *
mutate (const char *json, MutKind kind, const char *path, const char *value)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autofree char *last = NULL;
  JsonNode *root, *parent, *node = NULL;

  g_assert_true (json_parser_load_from_data (parser, json, -1, NULL));
  root = json_parser_get_root (parser);
  node_at (root, path, &parent, &last);
  if (kind == MUT_SET)
    {
      g_autoptr (JsonParser) vp = json_parser_new ();
      g_assert_true (json_parser_load_from_data (vp, value, -1, NULL));
      node = json_node_copy (json_parser_get_root (vp));
    }
  else if (kind == MUT_COPY)
    node = json_node_copy (node_at (root, value, NULL, NULL));
  if (JSON_NODE_HOLDS_ARRAY (parent))
    {
      JsonArray *a = json_node_get_array (parent);
      guint i = (guint) atoi (last);
      g_assert_true (kind != MUT_REMOVE);
      /* replace element i */
      {
        JsonArray *b = json_array_new ();
        for (guint j = 0; j < json_array_get_length (a); j++)
          json_array_add_element (b, j == i ? node
                                            : json_node_copy (
                                                  json_array_get_element (a,
                                                                          j)));
        json_node_take_array (parent, b);
      }
    }
  else if (kind == MUT_REMOVE)
    json_object_remove_member (json_node_get_object (parent), last);
  else
    json_object_set_member (json_node_get_object (parent), last, node);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

static void
test_restore_hostile (void **state)
{
  static const struct {
    MutKind kind;
    const char *path;
    const char *value;
    const char *want;
  } cases[] = {
    { MUT_REMOVE, "granule", NULL, "$.granule: missing" },
    { MUT_SET, "extra", "1", "$.extra: unknown key" },
    { MUT_SET, "version", "\"1\"", "$.version: expected an integer" },
    { MUT_SET, "version", "2", "$.version: 2 is out of range 1..1" },
    { MUT_SET, "format", "\"other\"", "$.format: is not \"asm-fabric\"" },
    { MUT_SET, "next_id", "0", "$.next_id: 0 is out of range" },
    { MUT_SET, "granule", "\"0x300000\"", "$.granule: 0x300000" },
    { MUT_SET, "switches", "{}", "$.switches: expected an array" },
    { MUT_SET, "switches.0", "7", "$.switches[0]: not an object" },
    { MUT_SET, "switches.0.bandwidth", "1000",
      "$.switches[0].bandwidth: expected a \"0x...\" string" },
    { MUT_REMOVE, "switches.1.name", NULL, "$.switches[1].name: missing" },
    { MUT_SET, "switches.0.latency_ns", "\"x\"",
      "$.switches[0].latency_ns: expected an integer" },
    { MUT_SET, "switches.0.pinned", "1",
      "$.switches[0].pinned: expected true or false" },
    { MUT_SET, "switches.0.windows", "[[\"0x10\"]]",
      "$.switches[0].windows: element 0 is not a" },
    { MUT_COPY, "switches.1.windows", "switches.0.windows",
      "$.switches[1].windows[0]: 0x100000000-0x1007fffff overlaps" },
    { MUT_SET, "switches.0.windows", "[[\"0x100100000\", \"0x1008fffff\"]]",
      "$.switches[0].windows[0]" },
    { MUT_SET, "global_reserved", "[[\"0x100000000\", \"0x1001fffff\"]]",
      "$.switches[0].windows[0]" },
    { MUT_COPY, "switches.1.id", "switches.0.id",
      "$.switches[1].id: 1 is used twice" },
    { MUT_SET, "devices.2.colour", "\"red\"",
      "$.devices[2].colour: unknown key" },
    { MUT_SET, "devices.0.kind", "\"gpu\"",
      "$.devices[0].kind: is not endpoint, pf or vf" },
    { MUT_SET, "devices.0.switch", "99",
      "$.devices[0].switch: 99 is out of range" },
    { MUT_COPY, "devices.1.id", "devices.0.id",
      "$.devices[1].id: 4 is used twice" },
    { MUT_COPY, "devices.2.port", "devices.0.port",
      "$.devices[2].port: port 0 of switch 1 is out of range or taken" },
    { MUT_SET, "devices.5.pf", "4",
      "$.devices[5]: VF 0 of PF 4 is not a free VF slot" },
    { MUT_SET, "devices.6.redirect_base", "\"0x100000000\"",
      "$.devices[6].redirect_base: 0x100000000 is not free" },
    { MUT_COPY, "workloads.1.id", "workloads.0.id",
      "$.workloads[1].id: 11 is used twice" },
    { MUT_SET, "workloads.0.level", "\"abc\"",
      "$.workloads[0].level: not a finite number" },
    { MUT_SET, "workloads.0.trend", "\"inf\"",
      "$.workloads[0].trend: not a finite number" },
    { MUT_SET, "partitions.0.size", "\"0xZZ\"",
      "$.partitions[0].size: not a 64-bit hexadecimal number" },
    { MUT_SET, "partitions.0.size", "\"4096\"",
      "$.partitions[0].size: expected a \"0x...\" string" },
    { MUT_SET, "partitions.0.size", "\"0x\"",
      "$.partitions[0].size: expected a \"0x...\" string" },
    { MUT_SET, "partitions.0.virt_first", "\"0x10000000000000000\"",
      "$.partitions[0].virt_first: not a 64-bit hexadecimal number" },
    { MUT_SET, "partitions.0.phys_first", "\"0x0\"",
      "$.partitions[0]: its physical or virtual range overlaps another or "
      "lies outside its switch's windows" },
    { MUT_COPY, "partitions.2.virt_first", "partitions.0.virt_first",
      "$.partitions[2]: its physical or virtual range" },
    { MUT_COPY, "partitions.1.id", "partitions.0.id",
      "$.partitions[1]: id 13 is used twice" },
    { MUT_SET, "partitions.0.switch", "4",
      "$.partitions[0]: id 13 is used twice, or its switch or workload "
      "does not exist" },
    { MUT_SET, "partitions.0.devices", "[0]",
      "$.partitions[0].devices: element 0 is not an id" },
    { MUT_SET, "devices.0.partition", "0", "$: fabric invariant F4 broken" },
  };
  Scene s;
  g_autofree char *json = NULL;
  g_autoptr (GString) problems = g_string_new (NULL);

  populate (&s);
  json = asm_fabric_save (s.f, NULL);
  /* the indexes above name these objects */
  {
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonNode *root;
    assert_true (json_parser_load_from_data (parser, json, -1, NULL));
    root = json_parser_get_root (parser);
    assert_string_equal (json_node_get_string (
                             node_at (root, "devices.5.name", NULL, NULL)),
                         "pf3-vf0");
    assert_int_equal (json_node_get_int (
                          node_at (root, "devices.6.redirect_switch", NULL,
                                   NULL)), s.b);
    assert_int_equal (json_node_get_int (
                          node_at (root, "partitions.2.workload", NULL,
                                   NULL)), s.w1);
  }
  assert_int_equal (s.e1, 4);
  assert_int_equal (s.p1, 13);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *bad = mutate (json, cases[i].kind, cases[i].path,
                                     cases[i].value);
      g_autoptr (GError) error = NULL;
      AsmFabric *f2 = asm_fabric_restore (bad, -1, s.sim, &error);

      if (f2 != NULL)
        {
          g_string_append_printf (problems, "case %u (%s): restored\n", i,
                                  cases[i].path);
          asm_fabric_unref (f2);
        }
      else if (error == NULL || error->domain != ASM_ERROR ||
               error->code != ASM_ERROR_PARSE)
        g_string_append_printf (problems, "case %u (%s): %s\n", i,
                                cases[i].path,
                                error ? error->message : "no error");
      else if (strstr (error->message, cases[i].want) == NULL)
        g_string_append_printf (problems, "case %u (%s): message '%s' lacks "
                                "'%s'\n", i, cases[i].path, error->message,
                                cases[i].want);
    }
  {
    static const struct {
      const char *text;
      const char *want;
    } raw[] = {
      { "", "$: not an object" },
      { "{", "not JSON" },
      { "[]", "$: not an object" },
      { "\"asm-fabric\"", "$: not an object" },
      { "{}", "$.format: missing" },
    };
    for (guint i = 0; i < G_N_ELEMENTS (raw); i++)
      {
        g_autoptr (GError) error = NULL;
        AsmFabric *f2 = asm_fabric_restore (raw[i].text, -1, NULL, &error);
        if (f2 != NULL || error == NULL || error->code != ASM_ERROR_PARSE ||
            strstr (error->message, raw[i].want) == NULL)
          g_string_append_printf (problems, "raw '%s': %s\n", raw[i].text,
                                  error ? error->message : "restored");
        if (f2 != NULL)
          asm_fabric_unref (f2);
      }
    /* a truncated save */
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *cut = g_strndup (json, strlen (json) / 2);
      assert_null (asm_fabric_restore (cut, -1, NULL, &error));
      assert_int_equal (error->code, ASM_ERROR_PARSE);
    }
  }
  /* the unmodified document still restores */
  {
    AsmFabric *f2 = asm_fabric_restore (json, -1, s.sim, NULL);
    assert_non_null (f2);
    asm_fabric_unref (f2);
  }
  print_message ("# restore refused %u hostile documents\n",
                 (guint) G_N_ELEMENTS (cases) + 6);
  scene_clear (&s);
  REPORT (problems);
}

/* JSON nested deeper than any fabric document is refused before it is
 * parsed (json-glib's parser recurses). */
static void
test_restore_deep (void **state)
{
  GString *deep = g_string_new (NULL);

  for (guint i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  FAILS (asm_fabric_restore (deep->str, -1, NULL, &error) != NULL, PARSE,
         "nested deeper than");
  g_string_free (deep, TRUE);
}

/* ---------------------------------------------------------------------- */
/* The journal                                                            */
/* ---------------------------------------------------------------------- */

static void
test_journal_errors (void **state)
{
  g_autofree char *journal = journal_path ("errors");
  g_autofree char *damaged = journal_path ("damaged");
  g_autofree char *saved = NULL;
  g_autofree char *after = NULL;
  g_autofree char *text = NULL;
  g_autofree char *torn = NULL;
  g_autofree char *bad = NULL;
  Scene s;
  AsmFabric *f2;

  scene_build (&s, journal);
  FAILS (asm_fabric_set_journal (s.f, "/nonexistent-dir/journal", &error),
         FAILED, "journal '/nonexistent-dir/journal': cannot open");
  /* a journal that cannot take its header is refused at once */
  FAILS (asm_fabric_set_journal (s.f, "/dev/full", &error), FAILED,
         "cannot write its header");
  saved = asm_fabric_save (s.f, NULL);
  REQUEST (s.f, s.w2, 2 * MIB, s.b, 0, NULL);
  after = asm_fabric_save (s.f, NULL);
  /* journaling stops; the file is complete */
  OK (asm_fabric_set_journal (s.f, NULL, &error));
  REQUEST (s.f, s.w2, 2 * MIB, s.b, 0, NULL);
  g_assert_true (g_file_get_contents (journal, &text, NULL, NULL));

  /* a torn last record is what a crash leaves: dropped */
  torn = g_strconcat (text, "0000002a 1234abcd {\"seq\": 999, \"type\": \"beg",
                      NULL);
  g_assert_true (g_file_set_contents (damaged, torn, -1, NULL));
  f2 = asm_fabric_restore (saved, -1, NULL, NULL);
  assert_non_null (f2);
  OK (asm_fabric_recover (f2, damaged, &error));
  {
    g_autofree char *got = asm_fabric_save (f2, NULL);
    assert_true (same_but_seq (got, after));
  }
  asm_fabric_unref (f2);
  /* appending to it cuts the torn record off and goes on after the last
   * sequence number: a later recovery reads every record */
  f2 = asm_fabric_restore (after, -1, NULL, NULL);
  OK (asm_fabric_set_journal (f2, damaged, &error));
  REQUEST (f2, s.w2, 2 * MIB, s.b, 0, NULL);
  {
    g_autofree char *want = asm_fabric_save (f2, NULL);
    g_autofree char *got = NULL;
    AsmFabric *f3 = asm_fabric_restore (saved, -1, NULL, NULL);
    OK (asm_fabric_recover (f3, damaged, &error));
    got = asm_fabric_save (f3, NULL);
    assert_true (same_but_seq (got, want));
    asm_fabric_unref (f3);
  }
  asm_fabric_unref (f2);

  /* damage before the end is an error */
  bad = g_strconcat ("not json\n", text, NULL);
  g_assert_true (g_file_set_contents (damaged, bad, -1, NULL));
  f2 = asm_fabric_restore (saved, -1, NULL, NULL);
  FAILS (asm_fabric_recover (f2, damaged, &error), PARSE,
         "is damaged at byte 0");
  asm_fabric_unref (f2);
  /* a flipped byte inside a record that other records follow */
  g_free (bad);
  bad = g_strdup (text);
  bad[strlen (bad) / 2] ^= 0x20;
  g_assert_true (g_file_set_contents (damaged, bad, -1, NULL));
  f2 = asm_fabric_restore (saved, -1, NULL, NULL);
  FAILS (asm_fabric_recover (f2, damaged, &error), PARSE, "is damaged");
  asm_fabric_unref (f2);
  /* a journal of version 1 (bare JSON lines) is refused by name */
  g_assert_true (g_file_set_contents (damaged, "{\"seq\": 1, \"type\": "
                                      "\"begin\"}\n", -1, NULL));
  f2 = asm_fabric_restore (saved, -1, NULL, NULL);
  FAILS (asm_fabric_recover (f2, damaged, &error), PARSE,
         "version 1 journal");
  asm_fabric_unref (f2);
  f2 = asm_fabric_restore (saved, -1, NULL, NULL);
  FAILS (asm_fabric_recover (f2, "/nonexistent-dir/journal", &error), FAILED,
         "cannot read journal");
  asm_fabric_unref (f2);
  unlink (journal);
  unlink (damaged);
  scene_clear (&s);
}

/* A window change records the window that changed, not the switch's whole
 * list: with 300 windows a record stays under 2 KiB (it was ~15 KiB). */
static void
test_journal_record_size (void **state)
{
  g_autofree char *journal = journal_path ("size");
  g_autoptr (AsmFabric) f = FABRIC_NEW (NULL, 2048 * MIB);
  struct stat st0, st1;
  AsmId c = SWITCH (f, "C", 1000, 0, 4, 2, TRUE);

  for (guint i = 0; i < 300; i++)
    OK (asm_fabric_add_window (f, c, BASE + (guint64) i * 2 * GRAN,
                               BASE + (guint64) i * 2 * GRAN + GRAN - 1,
                               &error));
  unlink (journal);
  OK (asm_fabric_set_journal (f, journal, &error));
  g_assert_true (stat (journal, &st0) == 0);
  OK (asm_fabric_add_window (f, c, BASE + 300 * 2 * GRAN,
                             BASE + 300 * 2 * GRAN + GRAN - 1, &error));
  g_assert_true (stat (journal, &st1) == 0);
  print_message ("# a window change on a switch of 300 windows: %" G_GINT64_FORMAT
                 " bytes of journal\n", (gint64) (st1.st_size - st0.st_size));
  assert_true (st1.st_size - st0.st_size < 2048);
  unlink (journal);
}

/* A checkpoint writes the snapshot and cuts the journal back: restore +
 * recover from the pair gives the fabric. */
static void
test_checkpoint (void **state)
{
  g_autofree char *journal = journal_path ("ckpt");
  g_autofree char *snapshot = journal_path ("ckpt-snapshot");
  struct stat before, after;
  Scene s;

  scene_build (&s, journal);
  for (guint i = 0; i < 4; i++)
    OK (asm_fabric_migrate_partition (s.f, s.p2, i % 2 ? s.a : s.b, &error));
  g_assert_true (stat (journal, &before) == 0);
  OK (asm_fabric_checkpoint (s.f, snapshot, &error));
  g_assert_true (stat (journal, &after) == 0);
  assert_true (after.st_size < before.st_size);
  REQUEST (s.f, s.w2, 2 * MIB, s.b, 0, NULL);
  {
    g_autofree char *want = asm_fabric_save (s.f, NULL);
    g_autofree char *snap_text = NULL;
    g_autofree char *got = NULL;
    AsmFabric *f2;
    g_assert_true (g_file_get_contents (snapshot, &snap_text, NULL, NULL));
    f2 = asm_fabric_restore (snap_text, -1, s.sim, NULL);
    OK (asm_fabric_recover (f2, journal, &error));
    got = asm_fabric_save (f2, NULL);
    assert_true (same_but_seq (got, want));
    asm_fabric_unref (f2);
  }
  {
    g_autoptr (AsmFabric) bare = FABRIC_NEW (NULL, GLOBAL_SIZE);
    FAILS (asm_fabric_checkpoint (bare, snapshot, &error), FAILED,
           "no journal");
  }
  unlink (journal);
  unlink (snapshot);
  scene_clear (&s);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_journal_record_size),
    cmocka_unit_test (test_checkpoint),
    cmocka_unit_test (test_restore_deep),
    cmocka_unit_test (test_save_restore),
    cmocka_unit_test (test_restore_hostile),
    cmocka_unit_test (test_journal_errors),
  };

  return cmocka_run_group_tests_name ("fabric-persist", tests, NULL, NULL);
}
