/* test-sim-verify.c: asm_sim_verify() against real fabrics (layer 4)
 *
 * Builds real fabrics on a sim backend and checks asm_sim_verify(): it
 * agrees with the fabric after each operation and after every injected
 * fault, and finds each kind of difference made by writing the simulated
 * hardware behind the fabric's back, the root complex's routes compared
 * with asm_fabric_get_root_map() among them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sim-test-common.h"

/* ---------------------------------------------------------------------- */
/* Verify (against a real fabric)                                         */
/* ---------------------------------------------------------------------- */

typedef struct {
  Fx *fx;
  AsmFabric *fabric;
  AsmId sw1, sw2;      /* switches: 4 ports, 8 entries; 2 ports, 8 entries */
  AsmId nic, pf, vf;   /* endpoint at sw1 port 0, PF at sw2 port 1, its VF */
  AsmId wl, part;      /* a workload and its partition */
  AsmId part_sw;       /* the switch the partition is on */
} Fab;

static AsmId
add_switch (AsmFabric *fabric, const char *name, guint32 n_ports)
{
  AsmSwitchSpec spec = {
    .name = name,
    .bandwidth = 10000,
    .latency_ns = 100,
    .table_capacity = 8,
    .n_ports = n_ports,
  };
  g_autoptr(GError) error = NULL;
  AsmId id = ASM_ID_NONE;

  if (!asm_fabric_add_switch (fabric, &spec, &id, &error))
    fail_msg ("add_switch %s: %s", name, error->message);
  return id;
}

static void
verify_ok_at (Fab *f, const char *file, int line)
{
  g_autoptr(GError) error = NULL;

  if (!asm_sim_verify (f->fx->b, f->fabric, &error))
    {
      g_autofree char *dump = asm_sim_dump (f->fx->b);

      FAIL_AT (file, line, "asm_sim_verify: %s\n%s", error->message, dump);
    }
  if (!asm_fabric_check (f->fabric, &error))
    FAIL_AT (file, line, "asm_fabric_check: %s", error->message);
}
#define assert_verify_ok(f) verify_ok_at ((f), __FILE__, __LINE__)

static void
verify_differs_at (Fab *f, const char *expected, const char *file, int line)
{
  g_autoptr(GError) error = NULL;

  if (asm_sim_verify (f->fx->b, f->fabric, &error))
    FAIL_AT (file, line, "asm_sim_verify passed, expected \"%s\"", expected);
  if (!g_error_matches (error, ASM_ERROR, ASM_ERROR_FAILED))
    FAIL_AT (file, line, "asm_sim_verify: wrong error: %s", error->message);
  if (strstr (error->message, expected) == NULL)
    FAIL_AT (file, line, "asm_sim_verify: \"%s\" does not contain \"%s\"",
             error->message, expected);
}
#define assert_verify_differs(f, ...) \
  G_STMT_START { \
    g_autofree char *exp_ = g_strdup_printf (__VA_ARGS__); \
    verify_differs_at ((f), exp_, __FILE__, __LINE__); \
  } G_STMT_END

static Fab *
fab_new (gboolean with_partition)
{
  Fab *f = g_new0 (Fab, 1);
  g_autoptr(GError) error = NULL;

  f->fx = fx_new ();
  f->fabric = asm_fabric_new ("f", 0, (G_GUINT64_CONSTANT (1) << 36) - 1,
                              MIB, f->fx->b, &error);
  if (f->fabric == NULL)
    fail_msg ("asm_fabric_new: %s", error->message);
  f->sw1 = add_switch (f->fabric, "sw1", 4);
  f->sw2 = add_switch (f->fabric, "sw2", 2);
  if (!asm_fabric_add_device (f->fabric, "nic", ASM_DEVICE_ENDPOINT, MIB,
                              f->sw1, 0, &f->nic, &error) ||
      !asm_fabric_add_device (f->fabric, "pf", ASM_DEVICE_PF, MIB, f->sw2, 1,
                              &f->pf, &error) ||
      !asm_fabric_set_sriov (f->fabric, f->pf, 4, MIB, &error) ||
      !asm_fabric_create_vf (f->fabric, f->pf, &f->vf, &error) ||
      !asm_fabric_add_workload (f->fabric, "wl", &f->wl, &error))
    fail_msg ("building the fabric: %s", error->message);
  if (with_partition)
    {
      AsmPartitionRequest req = { .size = 4 * MIB };
      AsmPartitionInfo info;
      guint64 virt;

      if (!asm_fabric_request_partition (f->fabric, f->wl, &req, &f->part,
                                         &virt, &error))
        fail_msg ("request_partition: %s", error->message);
      assert_true (asm_fabric_get_partition_info (f->fabric, f->part, &info));
      f->part_sw = info.switch_id;
    }
  return f;
}

static void
fab_free (Fab *f)
{
  asm_fabric_unref (f->fabric);
  fx_free (f->fx);
  g_free (f);
}

static void
test_verify_matches (void **state)
{
  Fab *f = fab_new (TRUE);
  Fx *fx = f->fx;

  assert_verify_ok (f);
  /* the fabric's calls reached the hardware */
  assert_dump_has (fx, "2 switches, 2 devices bound, 1 VFs, 0 held");
  assert_dump_has (fx, "window ");
  assert_dump_has (fx, "entry key ");
  assert_dump_has (fx, "root 0x");
  fab_free (f);

  /* VFs created in an order where their ids do not follow (PF, index) */
  f = fab_new (TRUE);
  fx = f->fx;
  {
    g_autoptr(GError) error = NULL;
    AsmId pf2, vf2, vf3;

    if (!asm_fabric_add_device (f->fabric, "pf2", ASM_DEVICE_PF, MIB, f->sw2,
                                0, &pf2, &error) ||
        !asm_fabric_set_sriov (f->fabric, pf2, 4, MIB, &error) ||
        !asm_fabric_create_vf (f->fabric, pf2, &vf2, &error) ||
        !asm_fabric_create_vf (f->fabric, f->pf, &vf3, &error))
      fail_msg ("%s", error->message);
    assert_true (pf2 > f->pf && vf3 > vf2);
    assert_verify_ok (f);
    assert_dump_has (fx, "3 devices bound, 3 VFs");
  }
  fab_free (f);

  /* the switches' configuration is compared: the sim of one fabric
   * checked against another fabric whose first switch differs */
  {
    static const struct {
      const char *name;
      guint32 n_ports, capacity;
      const char *expected;
    } cases[] = {
      { "sw1", 3, 8, "switch 1: 4 ports in hardware, 3 in the model" },
      { "sw1", 4, 9, "switch 1: table capacity 8 in hardware, 9 in the "
                     "model" },
      { "other", 4, 8, "switch 1: name \"sw1\" in hardware, \"other\" in "
                       "the model" },
    };
    Fab *g = fab_new (FALSE);

    assert_int_equal (g->sw1, 1);
    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(AsmBackend) b2 = asm_sim_backend_new ();
        g_autoptr(AsmFabric) other = asm_fabric_new ("o", 0,
                                                     (1u << 30) - 1, MIB, b2,
                                                     &error);
        AsmSwitchSpec spec = { .name = cases[i].name, .bandwidth = 10000,
                               .latency_ns = 100,
                               .table_capacity = cases[i].capacity,
                               .n_ports = cases[i].n_ports };
        AsmId id;

        assert_non_null (other);
        assert_true (asm_fabric_add_switch (other, &spec, &id, &error));
        assert_int_equal (id, 1);
        spec.name = "sw2";
        spec.n_ports = 2;
        spec.table_capacity = 8;
        assert_true (asm_fabric_add_switch (other, &spec, &id, &error));
        assert_false (asm_sim_verify (g->fx->b, other, &error));
        assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_FAILED));
        if (strstr (error->message, cases[i].expected) == NULL)
          fail_msg ("\"%s\" does not contain \"%s\"", error->message,
                    cases[i].expected);
      }
    fab_free (g);
  }

  /* an empty fabric matches an empty sim */
  {
    g_autoptr(GError) error = NULL;
    Fx *fx2 = fx_new ();
    g_autoptr(AsmFabric) fabric = asm_fabric_new ("e", 0, (1u << 30) - 1,
                                                  MIB, fx2->b, &error);

    assert_non_null (fabric);
    assert_true (asm_sim_verify (fx2->b, fabric, &error));
    g_clear_pointer (&fabric, asm_fabric_unref);
    fx_free (fx2);
  }
}

/* Each kind of difference, made behind the fabric's back, is found and
 * named; putting the hardware back makes verify pass again. */
static void
test_verify_finds_differences (void **state)
{
  Fab *f = fab_new (TRUE);
  Fx *fx = f->fx;
  g_autoptr(GArray) windows = asm_fabric_get_switch_windows (f->fabric,
                                                             f->part_sw);
  g_autoptr(GArray) table = asm_fabric_get_xlat_table (f->fabric,
                                                       f->part_sw);
  AsmXlatEntry e, changed;
  AsmRange extra;
  AsmId other_sw = f->part_sw == f->sw1 ? f->sw2 : f->sw1;

  assert_verify_ok (f);
  assert_true (windows->len > 0);
  assert_int_equal (table->len, 1);
  e = g_array_index (table, AsmXlatEntry, 0);
  assert_int_equal (e.key, f->part);

  /* a window too many, then one too few */
  extra = g_array_index (windows, AsmRange, windows->len - 1);
  extra.first = extra.last + 1 + MIB;
  extra.last = extra.first + MIB - 1;
  g_array_append_val (windows, extra);
  OK (hw_windows_v (fx, f->part_sw, (AsmRange *) windows->data, windows->len,
                    &error));
  assert_verify_differs (f, "switch %u: window " X "-" X " is in hardware "
                         "but not in the model", f->part_sw, extra.first,
                         extra.last);
  OK (hw_windows_v (fx, f->part_sw, (AsmRange *) windows->data,
                    windows->len - 2, &error));
  extra = g_array_index (windows, AsmRange, windows->len - 2);
  assert_verify_differs (f, "switch %u: window " X "-" X " is in the model "
                         "but not in hardware", f->part_sw, extra.first,
                         extra.last);
  OK (hw_windows_v (fx, f->part_sw, (AsmRange *) windows->data,
                    windows->len - 1, &error));
  assert_verify_ok (f);

  /* a table entry: changed, missing, extra, and an update left open */
  changed = e;
  changed.offset += MIB;
  OK (hw_begin (fx, f->part_sw, &error));
  OK (hw_set_entry (fx, f->part_sw, changed, &error));
  assert_verify_differs (f, "switch %u: a table update is open",
                         f->part_sw);
  OK (hw_commit (fx, f->part_sw, &error));
  assert_verify_differs (f, "switch %u: table entry key %u: offset " X
                         " in hardware, " X " in the model", f->part_sw,
                         e.key, changed.offset, e.offset);
  /* every field is compared */
  for (guint field = 0; field < 4; field++)
    {
      g_autofree char *expected = NULL;

      changed = e;
      switch (field)
        {
        case 0:
          changed.partition = 4241;
          expected = g_strdup_printf ("partition 4241 in hardware, %u in the "
                                      "model", e.partition);
          break;
        case 1:
          changed.workload = 4242;
          expected = g_strdup_printf ("workload 4242 in hardware, %u in the "
                                      "model", e.workload);
          break;
        case 2:
          changed.virt_first += MIB;
          expected = g_strdup_printf ("virt_first " X " in hardware, " X
                                      " in the model", changed.virt_first,
                                      e.virt_first);
          break;
        default:
          changed.size += MIB;
          expected = g_strdup_printf ("size " X " in hardware, " X " in the "
                                      "model", changed.size, e.size);
          break;
        }
      OK (hw_begin (fx, f->part_sw, &error));
      OK (hw_set_entry (fx, f->part_sw, changed, &error));
      OK (hw_commit (fx, f->part_sw, &error));
      assert_verify_differs (f, "switch %u: table entry key %u: %s",
                             f->part_sw, e.key, expected);
    }
  OK (hw_begin (fx, f->part_sw, &error));
  OK (hw_remove (fx, f->part_sw, e.key, &error));
  OK (hw_commit (fx, f->part_sw, &error));
  assert_verify_differs (f, "switch %u: table entry key %u is in the model "
                         "but not in hardware", f->part_sw, e.key);
  OK (hw_begin (fx, f->part_sw, &error));
  OK (hw_set_entry (fx, f->part_sw, e, &error));
  OK (hw_commit (fx, f->part_sw, &error));
  assert_verify_ok (f);
  changed = entry (777, 0, MIB, 0);
  OK (hw_begin (fx, other_sw, &error));
  OK (hw_set_entry (fx, other_sw, changed, &error));
  OK (hw_commit (fx, other_sw, &error));
  assert_verify_differs (f, "switch %u: table entry key 777 is in hardware "
                         "but not in the model", other_sw);
  OK (hw_begin (fx, other_sw, &error));
  OK (hw_remove (fx, other_sw, 777, &error));
  OK (hw_commit (fx, other_sw, &error));
  assert_verify_ok (f);

  /* ports */
  OK (DONE (hw_bind (fx, 888, f->sw1, 3, &error)));
  assert_verify_differs (f, "switch %u port 3: device 888 in hardware, free "
                         "in the model", f->sw1);
  OK (DONE (hw_unbind (fx, 888, f->sw1, 3, &error)));
  OK (DONE (hw_unbind (fx, f->nic, f->sw1, 0, &error)));
  assert_verify_differs (f, "switch %u port 0: free in hardware, device %u "
                         "in the model", f->sw1, f->nic);
  OK (DONE (hw_bind (fx, 888, f->sw1, 0, &error)));
  assert_verify_differs (f, "switch %u port 0: device 888 in hardware, "
                         "device %u in the model", f->sw1, f->nic);
  OK (DONE (hw_unbind (fx, 888, f->sw1, 0, &error)));
  OK (DONE (hw_bind (fx, f->nic, f->sw1, 0, &error)));
  assert_verify_ok (f);

  /* a bind or unbind still pending */
  asm_sim_set_pending_binds (fx->b, TRUE);
  OK (PENDING (hw_unbind (fx, f->nic, f->sw1, 0, &error)));
  assert_verify_differs (f, "switch %u port 0: device %u has an unbind "
                         "pending in hardware", f->sw1, f->nic);
  OK (hw_wait (fx, f->nic, &error));
  OK (PENDING (hw_bind (fx, f->nic, f->sw1, 0, &error)));
  assert_verify_differs (f, "switch %u port 0: device %u has a bind pending "
                         "in hardware", f->sw1, f->nic);
  OK (hw_wait (fx, f->nic, &error));
  asm_sim_set_pending_binds (fx->b, FALSE);
  assert_verify_ok (f);

  /* VFs */
  OK (hw_vf_create (fx, f->pf, 3, 889, &error));
  assert_verify_differs (f, "PF %u VF index 3: VF 889 in hardware, none in "
                         "the model", f->pf);
  OK (hw_vf_destroy (fx, f->pf, 3, 889, &error));
  {
    AsmDeviceInfo vf;

    assert_true (asm_fabric_get_device_info (f->fabric, f->vf, &vf));
    OK (hw_vf_destroy (fx, f->pf, vf.vf_index, f->vf, &error));
    assert_verify_differs (f, "PF %u VF index %u: none in hardware, VF %u in "
                           "the model", f->pf, vf.vf_index, f->vf);
    OK (hw_vf_create (fx, f->pf, vf.vf_index, 890, &error));
    assert_verify_differs (f, "PF %u VF index %u: VF 890 in hardware, VF %u "
                           "in the model", f->pf, vf.vf_index, f->vf);
    OK (hw_vf_destroy (fx, f->pf, vf.vf_index, 890, &error));
    OK (hw_vf_create (fx, f->pf, vf.vf_index, f->vf, &error));
  }
  assert_verify_ok (f);

  /* a device left held */
  OK (hw_hold (fx, f->nic, &error));
  assert_verify_differs (f, "device %u is held in hardware", f->nic);
  OK (hw_release (fx, f->nic, &error));
  assert_verify_ok (f);

  /* a switch the fabric does not know; it is the first difference, as
   * switches are compared before everything else */
  OK (hw_hold (fx, f->nic, &error));
  OK (hw_switch (fx, 999, "ghost", 1, 1, &error));
  assert_verify_differs (f, "hardware differs from the model: switch 999 is "
                         "in hardware but not in the model");
  fab_free (f);
}

/* The root complex's routes are compared with asm_fabric_get_root_map():
 * each kind of difference is found and named, after the switches'
 * registers (which still match) and before the VFs. */
static void
test_verify_root_map (void **state)
{
  Fab *f = fab_new (TRUE);
  Fx *fx = f->fx;
  AsmId p = f->part_sw, o = p == f->sw1 ? f->sw2 : f->sw1;
  g_autoptr(GArray) map = asm_fabric_get_root_map (f->fabric);
  g_autoptr(GArray) pw = asm_fabric_get_switch_windows (f->fabric, p);
  g_autoptr(GArray) ow = asm_fabric_get_switch_windows (f->fabric, o);
  g_autoptr(GArray) moved = NULL;
  AsmRange *w = (AsmRange *) pw->data, last, cut;
  g_autofree char *line = NULL;

  assert_verify_ok (f);
  /* the fabric programmed the root complex: every window of every
   * switch, and nothing else */
  assert_true (pw->len > 0);
  assert_int_equal (map->len, pw->len + ow->len);
  last = w[pw->len - 1];
  line = g_strdup_printf ("root " X "-" X ": switch %u\n", last.first,
                          last.last, p);
  assert_dump_has (fx, line);

  /* a route too many: beyond the fabric's global space, where no switch
   * of it has a window */
  {
    g_autoptr(GArray) more = g_array_copy (pw);
    AsmRange extra = ASM_RANGE (G_GUINT64_CONSTANT (1) << 40,
                                (G_GUINT64_CONSTANT (1) << 40) + MIB - 1);

    g_array_append_val (more, extra);
    OK (hw_root_v (fx, p, (AsmRange *) more->data, more->len, &error));
    assert_verify_differs (f, "hardware differs from the model: root route "
                           X "-" X " to switch %u is in hardware but not in "
                           "the model", extra.first, extra.last, p);
  }
  /* one too few */
  OK (hw_root_v (fx, p, w, pw->len - 1, &error));
  assert_verify_differs (f, "hardware differs from the model: root route " X
                         "-" X " to switch %u is in the model but not in "
                         "hardware", last.first, last.last, p);
  /* routed to the wrong switch */
  moved = g_array_copy (ow);
  g_array_append_val (moved, last);
  OK (hw_root_v (fx, o, (AsmRange *) moved->data, moved->len, &error));
  assert_verify_differs (f, "root route " X "-" X " to switch %u in "
                         "hardware, " X "-" X " to switch %u in the model",
                         last.first, last.last, o, last.first, last.last, p);
  OK (hw_root_v (fx, o, (AsmRange *) ow->data, ow->len, &error));
  /* a different extent */
  cut = ASM_RANGE (last.first, last.last - 1);
  {
    g_autoptr(GArray) shorter = g_array_copy (pw);

    g_array_index (shorter, AsmRange, shorter->len - 1) = cut;
    OK (hw_root_v (fx, p, (AsmRange *) shorter->data, shorter->len,
                   &error));
  }
  assert_verify_differs (f, "root route " X "-" X " to switch %u in "
                         "hardware, " X "-" X " to switch %u in the model",
                         cut.first, cut.last, p, last.first, last.last, p);
  /* nothing routed at all */
  OK (hw_root_v (fx, p, NULL, 0, &error));
  OK (hw_root_v (fx, o, NULL, 0, &error));
  assert_verify_differs (f, "is in the model but not in hardware");
  /* put back, in either order: verify passes again */
  OK (hw_root_v (fx, o, (AsmRange *) ow->data, ow->len, &error));
  OK (hw_root_v (fx, p, w, pw->len, &error));
  assert_verify_ok (f);

  /* the switches' registers come first: a switch window missing is
   * reported before the route to it */
  OK (hw_windows_v (fx, p, w, pw->len - 1, &error));
  OK (hw_root_v (fx, p, w, pw->len - 1, &error));
  assert_verify_differs (f, "switch %u: window " X "-" X " is in the model "
                         "but not in hardware", p, last.first, last.last);
  OK (hw_windows_v (fx, p, w, pw->len, &error));
  assert_verify_differs (f, "root route " X "-" X " to switch %u is in the "
                         "model but not in hardware", last.first, last.last,
                         p);
  /* and the routes before the VFs */
  OK (hw_vf_create (fx, f->pf, 3, 889, &error));
  assert_verify_differs (f, "root route " X "-" X " to switch %u is in the "
                         "model", last.first, last.last, p);
  OK (hw_root_v (fx, p, w, pw->len, &error));
  assert_verify_differs (f, "PF %u VF index 3: VF 889 in hardware", f->pf);
  OK (hw_vf_destroy (fx, f->pf, 3, 889, &error));
  assert_verify_ok (f);
  fab_free (f);
}

/* The fabric's other uses of the new calls: removing a switch, and
 * sampling usage (the counters are the hardware's own, not compared). */
static void
test_verify_remove_switch_and_usage (void **state)
{
  Fab *f = fab_new (TRUE);
  Fx *fx = f->fx;
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL, *after = NULL, *line = NULL;
  AsmPartitionInfo info;
  AsmId sw3 = add_switch (f->fabric, "sw3", 1);
  guint64 n;

  assert_dump_has (fx, "\"sw3\": 1 ports");
  assert_verify_ok (f);
  /* a refused removal leaves both sides as they were */
  before = asm_sim_dump (fx->b);
  n = asm_sim_get_n_calls (fx->b);
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ANY, TRUE);
  assert_false (asm_fabric_remove_switch (f->fabric, sw3, &error));
  assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_BACKEND));
  assert_non_null (strstr (error->message, "switch_remove"));
  g_clear_error (&error);
  asm_sim_clear_faults (fx->b);
  after = asm_sim_dump (fx->b);
  assert_string_equal (before, after);
  assert_true (asm_sim_get_n_calls (fx->b) > n);
  assert_verify_ok (f);
  assert_true (asm_fabric_remove_switch (f->fabric, sw3, &error));
  assert_dump_lacks (fx, "sw3");
  assert_verify_ok (f);

  /* each sample reads the partition's counter once: size/4, then 1/8
   * more */
  assert_true (asm_fabric_get_partition_info (f->fabric, f->part, &info));
  assert_true (asm_fabric_sample_usage (f->fabric, 1.0, &error));
  line = g_strdup_printf ("usage: partition %u, 1 reads\n", f->part);
  assert_dump_has (fx, line);
  assert_true (asm_fabric_sample_usage (f->fabric, 2.0, &error));
  g_free (line);
  line = g_strdup_printf ("usage: partition %u, 2 reads\n", f->part);
  assert_dump_has (fx, line);
  assert_verify_ok (f);
  /* a refused read: the sample records nothing and the count stays */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_USAGE, TRUE);
  assert_false (asm_fabric_sample_usage (f->fabric, 3.0, &error));
  assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_BACKEND));
  assert_non_null (strstr (error->message, "usage_read switch"));
  g_clear_error (&error);
  asm_sim_clear_faults (fx->b);
  assert_dump_has (fx, line);
  assert_true (asm_fabric_sample_usage (f->fabric, 3.0, &error));
  assert_verify_ok (f);
  fab_free (f);
}

/* Fail each backend call of an operation in turn: the fabric undoes what
 * it applied, and the hardware matches the unchanged model every time. */
static void
test_verify_after_each_fault (void **state)
{
  gboolean done = FALSE;

  for (guint64 n = 1; !done; n++)
    {
      Fab *f = fab_new (FALSE);
      g_autoptr(GError) error = NULL;
      g_autofree char *before = asm_sim_dump (f->fx->b);
      AsmPartitionRequest req = { .size = 4 * MIB };
      AsmId part;
      guint64 virt;

      assert_true (n < 1000);
      asm_sim_fail_call (f->fx->b, n);
      done = asm_fabric_request_partition (f->fabric, f->wl, &req, &part,
                                           &virt, &error);
      if (!done)
        {
          g_autofree char *after = asm_sim_dump (f->fx->b);

          assert_non_null (error);
          assert_string_equal (before, after);
        }
      assert_verify_ok (f);
      fab_free (f);
    }

  /* a whole kind failing */
  for (AsmSimOp kind = ASM_SIM_OP_ANY; kind <= ASM_SIM_OP_USAGE; kind++)
    {
      Fab *f = fab_new (TRUE);
      g_autoptr(GError) error = NULL;
      AsmPartitionRequest req = { .size = 8 * MIB };
      AsmId part;
      guint64 virt;

      asm_sim_fail_kind (f->fx->b, kind, TRUE);
      /* the fault may refuse either: the hardware must match the model
       * whatever happened */
      if (!asm_fabric_request_partition (f->fabric, f->wl, &req, &part,
                                         &virt, &error))
        g_clear_error (&error);
      if (!asm_fabric_migrate_partition (f->fabric, f->part,
                                         f->part_sw == f->sw1 ? f->sw2
                                                              : f->sw1,
                                         NULL))
        g_clear_error (&error);
      asm_sim_clear_faults (f->fx->b);
      assert_verify_ok (f);
      fab_free (f);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_verify_matches),
    cmocka_unit_test (test_verify_finds_differences),
    cmocka_unit_test (test_verify_root_map),
    cmocka_unit_test (test_verify_remove_switch_and_usage),
    cmocka_unit_test (test_verify_after_each_fault),
  };

  return cmocka_run_group_tests_name ("sim-verify", tests, NULL, NULL);
}
