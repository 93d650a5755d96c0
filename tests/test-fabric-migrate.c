/* test-fabric-migrate.c: moving partitions and functions (layer 3)
 *
 * Over the sim backend: grow (in place and by relocation), migrate (to a
 * given switch or where the policy says; a PF whose VF is mapped
 * elsewhere) and VF transfer, each with its events, its driver
 * notifications (holds first, then moved and resumed after the publish;
 * resumed in reverse after a failure) and its refusals, which leave the
 * fabric as it was; observers, which may call back into the fabric and
 * hear a failure once, as ROLLED_BACK; and translation stability: the
 * translations of every mapped address stay the same device and device
 * offset across random migrations, VF transfers and grows (the device
 * becomes the new VF after a transfer), each is backed by the entry of the
 * hardware table that routes it, and a driver's hold callback that
 * translates sees the old mapping with held set.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fabric-test-common.h"

/* ---------------------------------------------------------------------- */
/* Grow and migrate                                                       */
/* ---------------------------------------------------------------------- */

static void
test_grow (void **state)
{
  Scene s;
  EvLog ev;
  DrvLog drv;
  Snap snap;
  AsmPartitionInfo pi, before;
  guint64 free_before;
  g_autofree char *want = NULL;
  Ev *e;

  scene_build (&s, NULL);
  evlog_init (&ev);
  drvlog_init (&drv);
  asm_fabric_add_observer (s.f, record_event, &ev);
  asm_fabric_set_driver_funcs (s.f, &drv_funcs, &drv);

  /* in place: the bytes after P3 in A's second window are free */
  before = PINFO (s.f, s.p3);
  free_before = SINFO (s.f, s.a).free_bytes;
  OK (asm_fabric_grow_partition (s.f, s.p3, 4 * MIB, &error));
  pi = PINFO (s.f, s.p3);
  assert_int_equal (pi.size, 4 * MIB);
  assert_int_equal (pi.phys_first, before.phys_first);
  assert_int_equal (pi.virt_first, before.virt_first);
  assert_int_equal (pi.switch_id, s.a);
  assert_int_equal (pi.generation, before.generation + 1);
  assert_int_equal (SINFO (s.f, s.a).free_bytes, free_before - 2 * MIB);
  XLAT_ENTRY_IS (s.f, s.a, s.p3, s.p3, s.w1, s.v3, 4 * MIB, BASE + 8 * MIB);
  XLATE_IS (s.f, s.w1, s.v3 + 3 * MIB, s.p3, s.a, BASE + 11 * MIB,
            ASM_ID_NONE, 0);
  assert_int_equal (ev.events->len, 1);
  e = &g_array_index (ev.events, Ev, 0);
  assert_int_equal (e->kind, ASM_EVENT_PARTITION_GROWN);
  assert_int_equal (e->sw, s.a);
  assert_int_equal (e->old_sw, s.a);
  assert_string_equal (drv.log->str, "");
  CONSISTENT (s.f, s.sim);

  /* by relocation: P2 cannot grow past its window; C, pinned with 64 MiB
   * free and the lowest latency, scores best */
  evlog_reset (&ev);
  before = PINFO (s.f, s.p2);
  OK (asm_fabric_grow_partition (s.f, s.p2, 8 * MIB, &error));
  pi = PINFO (s.f, s.p2);
  assert_int_equal (pi.switch_id, s.c);
  assert_int_equal (pi.size, 8 * MIB);
  assert_int_equal (pi.virt_first, s.v2);
  assert_int_equal (pi.phys_first, BASE + 192 * MIB);
  assert_int_equal (pi.generation, before.generation + 1);
  assert_int_equal (DINFO (s.f, s.pf3).switch_id, s.c);
  assert_int_equal (DINFO (s.f, s.pf3).port, 0);
  assert_int_equal (DINFO (s.f, s.vf3).switch_id, s.c);
  assert_false (xlat_has (s.f, s.a, s.p2));
  XLAT_ENTRY_IS (s.f, s.c, s.p2, s.p2, s.w2, s.v2, 8 * MIB, pi.phys_first);
  XLATE_IS (s.f, s.w2, s.v2 + 512 * KIB + 3, s.p2, s.c,
            pi.phys_first + 512 * KIB + 3, s.vf3, 3);
  XLATE_IS (s.f, s.w2, s.v2 + 7 * MIB, s.p2, s.c, pi.phys_first + 7 * MIB,
            ASM_ID_NONE, 0);
  assert_int_equal (evlog_count (&ev, ASM_EVENT_PARTITION_GROWN), 1);
  e = &g_array_index (ev.events, Ev, ev.events->len - 1);
  assert_int_equal (e->kind, ASM_EVENT_PARTITION_GROWN);
  assert_int_equal (e->sw, s.c);
  assert_int_equal (e->old_sw, s.a);
  want = g_strdup_printf ("h%u h%u m%u@%u:" X " m%u@%u:" X " r%u r%u ",
                          s.pf3, s.vf3, s.pf3, s.c, pi.phys_first, s.vf3, s.c,
                          pi.phys_first + 512 * KIB, s.pf3, s.vf3);
  assert_string_equal (drv.log->str, want);
  CONSISTENT (s.f, s.sim);

  evlog_reset (&ev);
  snap_take (s.f, &snap);
  FAILS (asm_fabric_grow_partition (s.f, s.p1, 4 * MIB, &error), INVALID,
         "new size 0x400000 is not above its size 0x400000");
  FAILS (asm_fabric_grow_partition (s.f, s.p1, 2 * MIB, &error), INVALID,
         "is not above");
  FAILS (asm_fabric_grow_partition (s.f, s.p1, 5 * MIB, &error), INVALID,
         "size 0x500000 is not a non-zero multiple");
  FAILS (asm_fabric_grow_partition (s.f, s.p1, VIRT0 + GRAN, &error),
         INVALID, "up to 0x10000000000");
  FAILS (asm_fabric_grow_partition (s.f, 99, 8 * MIB, &error), NOT_FOUND,
         "partition 99");
  FAILS (asm_fabric_grow_partition (s.f, s.p1, 200 * MIB, &error), NO_SPACE,
         "grow partition");
  UNCHANGED (s.f, &snap);
  snap_clear (&snap);
  assert_int_equal (ev.events->len, 0);
  /* up to VIRT_ALIGN the virtual range grows in place */
  OK (asm_fabric_grow_partition (s.f, s.p3, 64 * MIB, &error));
  assert_int_equal (PINFO (s.f, s.p3).virt_first, s.v3);
  assert_string_equal (ev.problems->str, "");
  CONSISTENT (s.f, s.sim);
  evlog_clear (&ev);
  drvlog_clear (&drv);
  scene_clear (&s);
}

static void
test_migrate (void **state)
{
  Scene s;
  EvLog ev;
  DrvLog drv;
  Snap snap;
  AsmPartitionInfo pi, before;
  AsmSwitchInfo si;
  g_autofree char *want = NULL;
  AsmId d, e;
  g_autoptr (AsmBackend) sim1 = asm_sim_backend_new ();
  g_autoptr (AsmFabric) one = FABRIC_NEW (sim1, GLOBAL_SIZE);
  AsmId ow, op;

  scene_build (&s, NULL);
  evlog_init (&ev);
  drvlog_init (&drv);
  asm_fabric_add_observer (s.f, record_event, &ev);
  asm_fabric_set_driver_funcs (s.f, &drv_funcs, &drv);

  /* explicit target: P2 with pf3 and its vf3 to B, which grows a window */
  before = PINFO (s.f, s.p2);
  drv.probe_on = TRUE;
  drv.probe_workload = s.w2;
  drv.probe_virt = s.v2 + 512 * KIB + 9;
  drv.probe_before = XLATE (s.f, s.w2, drv.probe_virt);
  OK (asm_fabric_migrate_partition (s.f, s.p2, s.b, &error));
  drv.probe_on = FALSE;
  pi = PINFO (s.f, s.p2);
  assert_int_equal (pi.switch_id, s.b);
  assert_int_equal (pi.virt_first, s.v2);
  assert_int_equal (pi.size, 4 * MIB);
  assert_int_equal (pi.phys_first, BASE + 16 * MIB);
  assert_int_equal (pi.generation, before.generation + 1);
  assert_int_equal (DINFO (s.f, s.pf3).switch_id, s.b);
  assert_int_equal (DINFO (s.f, s.pf3).port, 2);
  assert_int_equal (DINFO (s.f, s.vf3).switch_id, s.b);
  assert_int_equal (DINFO (s.f, s.vf3).port, 2);
  assert_false (xlat_has (s.f, s.a, s.p2));
  XLAT_ENTRY_IS (s.f, s.b, s.p2, s.p2, s.w2, s.v2, 4 * MIB, pi.phys_first);
  XLATE_IS (s.f, s.w2, s.v2 + 3, s.p2, s.b, pi.phys_first + 3, s.pf3, 3);
  XLATE_IS (s.f, s.w2, s.v2 + 512 * KIB + 3, s.p2, s.b,
            pi.phys_first + 512 * KIB + 3, s.vf3, 3);
  si = SINFO (s.f, s.a);
  assert_int_equal (si.table_used, 2);
  assert_int_equal (si.bandwidth_used, 1500);
  assert_int_equal (si.n_ports_used, 2);
  assert_int_equal (si.n_partitions, 2);
  si = SINFO (s.f, s.b);
  assert_int_equal (si.table_used, 1);
  assert_int_equal (si.bandwidth_used, 1000);
  assert_int_equal (si.n_ports_used, 3);
  assert_int_equal (ev.events->len, 2);
  assert_int_equal (g_array_index (ev.events, Ev, 0).kind,
                    ASM_EVENT_WINDOW_GROWN);
  assert_int_equal (g_array_index (ev.events, Ev, 1).kind,
                    ASM_EVENT_PARTITION_MIGRATED);
  assert_int_equal (g_array_index (ev.events, Ev, 1).sw, s.b);
  assert_int_equal (g_array_index (ev.events, Ev, 1).old_sw, s.a);
  want = g_strdup_printf ("h%u h%u m%u@%u:" X " m%u@%u:" X " r%u r%u ",
                          s.pf3, s.vf3, s.pf3, s.b, pi.phys_first, s.vf3, s.b,
                          pi.phys_first + 512 * KIB, s.pf3, s.vf3);
  assert_string_equal (drv.log->str, want);
  /* the hold callback saw the old mapping, held */
  assert_int_equal (drv.n_probed_hold, 2);
  assert_int_equal (drv.n_probed_moved, 2);
  assert_string_equal (drv.problems->str, "");
  CONSISTENT (s.f, s.sim);

  /* the policy chooses among the others: C (room, lowest latency); A's
   * second window goes back */
  evlog_reset (&ev);
  OK (asm_fabric_migrate_partition (s.f, s.p3, ASM_ID_NONE, &error));
  assert_int_equal (PINFO (s.f, s.p3).switch_id, s.c);
  assert_int_equal (SINFO (s.f, s.a).n_windows, 1);
  assert_int_equal (ev.events->len, 2);
  assert_int_equal (g_array_index (ev.events, Ev, 0).kind,
                    ASM_EVENT_WINDOW_SHRUNK);
  assert_int_equal (g_array_index (ev.events, Ev, 0).range.first,
                    BASE + 8 * MIB);
  assert_int_equal (g_array_index (ev.events, Ev, 1).kind,
                    ASM_EVENT_PARTITION_MIGRATED);
  CONSISTENT (s.f, s.sim);

  d = SWITCH (s.f, "D", 100, 0, 4, 4, FALSE);
  e = SWITCH (s.f, "E", 10000, 0, 4, 0, FALSE);
  evlog_reset (&ev);
  drvlog_reset (&drv);
  snap_take (s.f, &snap);
  FAILS (asm_fabric_migrate_partition (s.f, s.p3, s.c, &error), INVALID,
         "is already on switch 3");
  FAILS (asm_fabric_migrate_partition (s.f, s.p3, 99, &error), NOT_FOUND,
         "switch 99");
  FAILS (asm_fabric_migrate_partition (s.f, 99, s.b, &error), NOT_FOUND,
         "partition 99");
  FAILS (asm_fabric_migrate_partition (s.f, s.p1, d, &error), NO_SPACE,
         "switch 'D' cannot take partition");
  FAILS (asm_fabric_migrate_partition (s.f, s.p1, s.b, &error), INVALID,
         "holds VF 'pf1-vf0' whose PF stays on switch 1; transfer the VF");
  FAILS (asm_fabric_migrate_partition (s.f, s.p2, e, &error), NO_SPACE,
         "switch 'E' has 0 free ports, partition 14 needs 1");
  UNCHANGED (s.f, &snap);
  snap_clear (&snap);
  assert_int_equal (ev.events->len, 0);
  assert_string_equal (drv.log->str, "");

  /* the policy with nowhere to go */
  SWITCH (one, "only", 1000, 0, 4, 4, FALSE);
  ow = WORKLOAD (one, "w");
  op = REQUEST (one, ow, 2 * MIB, 0, 0, NULL);
  snap_take (one, &snap);
  FAILS (asm_fabric_migrate_partition (one, op, ASM_ID_NONE, &error),
         NO_SPACE, "migrate partition 3: no switch can hold 0x200000 bytes");
  UNCHANGED (one, &snap);
  snap_clear (&snap);
  assert_string_equal (ev.problems->str, "");
  CONSISTENT (s.f, s.sim);
  CONSISTENT (one, sim1);
  evlog_clear (&ev);
  drvlog_clear (&drv);
  scene_clear (&s);
}

/* Every mapped device is reached through its partition's switch, or,
 * redirected (a transferred VF), through its own entry on the switch it
 * sits behind.  NULL, or what is wrong. */
static char *
unreachable (AsmFabric *f)
{
  g_autoptr (GArray) devs = asm_fabric_list (f, ASM_FABRIC_DEVICES);
  g_autoptr (GArray) sws = asm_fabric_list (f, ASM_FABRIC_SWITCHES);

  for (guint i = 0; i < devs->len; i++)
    {
      AsmDeviceInfo di;
      AsmPartitionInfo pi;
      AsmId routed_by = ASM_ID_NONE;

      g_assert_true (asm_fabric_get_device_info (
          f, g_array_index (devs, AsmId, i), &di));
      if (di.partition == ASM_ID_NONE)
        continue;
      g_assert_true (asm_fabric_get_partition_info (f, di.partition, &pi));
      for (guint j = 0; j < sws->len; j++)
        if (xlat_has (f, g_array_index (sws, AsmId, j), di.id))
          routed_by = g_array_index (sws, AsmId, j);
      if (routed_by == ASM_ID_NONE && di.switch_id != pi.switch_id)
        return g_strdup_printf ("device %u ('%s') is mapped into partition "
                                "%u on switch %u, but sits behind switch %u "
                                "with no entry routing to it", di.id,
                                di.name, pi.id, pi.switch_id, di.switch_id);
      if (routed_by != ASM_ID_NONE && routed_by != di.switch_id)
        return g_strdup_printf ("device %u ('%s') sits behind switch %u, "
                                "its BAR is routed by switch %u", di.id,
                                di.name, di.switch_id, routed_by);
    }
  return NULL;
}

static void
reachable_at (AsmFabric *f, const char *file, int line)
{
  g_autofree char *why = unreachable (f);
  if (why != NULL)
    FAIL_AT (file, line, "%s", why);
}
#define REACHABLE(f) reachable_at ((f), __FILE__, __LINE__)

/* A PF moves with its partition (or into one); its VFs live where it
 * is: the move must not strand a VF mapped elsewhere, nor move a
 * transferred VF away from the switch that routes it (reported as
 * fabric-1, fabric-4 and fabric-6). */
static void
test_migrate_pf_with_outside_vf (void **state)
{
  static const char *const what[] = {
    "migrate P3 holding pf1, whose vf1 is in P1",
    "migrate P2 holding pf3 and vf3, pf3 has another VF unmapped",
    "map pf1, whose vf1 is in P1 on A, into a partition on B",
    "map pf2, whose VF is transferred (routed by B), into P3 on A",
  };
  g_autoptr (GString) problems = g_string_new (NULL);

  for (guint variant = 0; variant < G_N_ELEMENTS (what); variant++)
    {
      Scene s;
      g_autofree char *before = NULL;
      g_autofree char *why = NULL;
      g_autoptr (GError) err = NULL;
      AsmId p;
      gboolean ok;

      scene_build (&s, NULL);
      if (variant == 0)
        {
          MAP (s.f, s.p3, s.pf1);
          p = s.p3;
        }
      else if (variant == 1)
        {
          VF (s.f, s.pf3);
          p = s.p2;
        }
      else if (variant == 2)
        p = REQUEST (s.f, s.w2, 2 * MIB, s.b, 0, NULL);
      else
        {
          prep_transfer (&s);
          p = s.p3;
        }
      before = asm_fabric_save (s.f, NULL);
      if (variant < 2)
        ok = asm_fabric_migrate_partition (s.f, p, s.b, &err);
      else
        ok = asm_fabric_map_device (s.f, p, variant == 2 ? s.pf1 : s.pf2,
                                    NULL, &err);
      print_message ("# %s: %s\n", what[variant],
                     ok ? "done" : err->message);
      if (!ok)
        {
          g_autofree char *now = asm_fabric_save (s.f, NULL);
          if (err->code == ASM_ERROR_BACKEND || strcmp (now, before) != 0)
            g_string_append_printf (problems, "%s: refused (%s) but not "
                                    "cleanly\n", what[variant],
                                    err->message);
        }
      if (!asm_fabric_check (s.f, &err) || !asm_sim_verify (s.sim, s.f, &err))
        g_string_append_printf (problems, "%s: %s\n", what[variant],
                                err->message);
      why = unreachable (s.f);
      if (why != NULL)
        g_string_append_printf (problems, "%s: %s\n", what[variant], why);
      {
        g_autofree char *json = asm_fabric_save (s.f, NULL);
        AsmFabric *f2 = asm_fabric_restore (json, -1, NULL, &err);
        if (f2 == NULL)
          g_string_append_printf (problems, "%s: the saved state does not "
                                  "restore: %s\n", what[variant],
                                  err->message);
        else
          asm_fabric_unref (f2);
      }
      scene_clear (&s);
    }
  REPORT (problems);
}

/* ---------------------------------------------------------------------- */
/* Function transfer                                                      */
/* ---------------------------------------------------------------------- */

static void
test_transfer_vf (void **state)
{
  Scene s;
  EvLog ev;
  DrvLog drv;
  Snap snap;
  AsmDeviceInfo di;
  AsmPartitionInfo pi, before;
  AsmTranslation t;
  g_autofree char *want = NULL;
  AsmId vfu, pf4, pf5, pf6, sw_t, nvf, nvf2;
  guint64 base, pc;
  Ev *e;

  scene_build (&s, NULL);
  evlog_init (&ev);
  drvlog_init (&drv);
  vfu = VF (s.f, s.pf2);
  pf4 = DEVICE (s.f, "pf4", ASM_DEVICE_PF, MIB, s.b, 2);
  OK (asm_fabric_set_sriov (s.f, pf4, 4, 128 * KIB, &error));
  pf5 = DEVICE (s.f, "pf5", ASM_DEVICE_PF, MIB, s.b, 3);
  OK (asm_fabric_set_sriov (s.f, pf5, 1, 256 * KIB, &error));
  VF (s.f, pf5);
  sw_t = SWITCH (s.f, "T", 10000, 0, 1, 2, FALSE);
  REQUEST (s.f, s.w2, 2 * MIB, sw_t, 0, NULL);
  pf6 = DEVICE (s.f, "pf6", ASM_DEVICE_PF, MIB, sw_t, 0);
  OK (asm_fabric_set_sriov (s.f, pf6, 2, 256 * KIB, &error));
  asm_fabric_add_observer (s.f, record_event, &ev);
  asm_fabric_set_driver_funcs (s.f, &drv_funcs, &drv);

  snap_take (s.f, &snap);
  FAILS (asm_fabric_transfer_vf (s.f, s.e1, s.pf2, NULL, &error), INVALID,
         "'e1' is not a VF mapped into a partition");
  FAILS (asm_fabric_transfer_vf (s.f, vfu, s.pf1, NULL, &error), INVALID,
         "'pf2-vf0' is not a VF mapped into a partition");
  FAILS (asm_fabric_transfer_vf (s.f, s.vf1, s.e2, NULL, &error), INVALID,
         "'e2' is not another SR-IOV PF with 262144-byte VF BARs");
  FAILS (asm_fabric_transfer_vf (s.f, s.vf1, s.pf1, NULL, &error), INVALID,
         "'pf1' is not another SR-IOV PF");
  FAILS (asm_fabric_transfer_vf (s.f, s.vf1, pf4, NULL, &error), INVALID,
         "'pf4' is not another SR-IOV PF with 262144-byte VF BARs");
  FAILS (asm_fabric_transfer_vf (s.f, s.vf1, pf5, NULL, &error), NO_SPACE,
         "PF 'pf5' has all its 1 VFs");
  FAILS (asm_fabric_transfer_vf (s.f, s.vf1, pf6, NULL, &error), NO_SPACE,
         "switch 'T' has no free translation entry");
  FAILS (asm_fabric_transfer_vf (s.f, 99, s.pf2, NULL, &error), NOT_FOUND,
         "device 99");
  FAILS (asm_fabric_transfer_vf (s.f, s.vf1, 99, NULL, &error), NOT_FOUND,
         "device 99");
  UNCHANGED (s.f, &snap);
  snap_clear (&snap);
  assert_int_equal (ev.events->len, 0);
  assert_string_equal (drv.log->str, "");

  /* function transfer: a VF on pf2, based in B's windows, offset = base -
   * virtual */
  before = PINFO (s.f, s.p1);
  drv.probe_on = TRUE;
  drv.probe_workload = s.w1;
  drv.probe_virt = s.v1 + MIB + 7;
  drv.probe_before = XLATE (s.f, s.w1, drv.probe_virt);
  OK (asm_fabric_transfer_vf (s.f, s.vf1, s.pf2, &nvf, &error));
  drv.probe_on = FALSE;
  assert_false (asm_fabric_get_device_info (s.f, s.vf1, &di));
  di = DINFO (s.f, nvf);
  assert_int_equal (di.kind, ASM_DEVICE_VF);
  assert_int_equal (di.pf, s.pf2);
  assert_int_equal (di.vf_index, 1);
  assert_string_equal (di.name, "pf2-vf1");
  assert_int_equal (di.switch_id, s.b);
  assert_int_equal (di.port, 1);
  assert_int_equal (di.partition, s.p1);
  assert_int_equal (di.partition_offset, MIB);
  assert_int_equal (di.bar_size, 256 * KIB);
  pi = PINFO (s.f, s.p1);
  assert_int_equal (pi.switch_id, s.a);
  assert_int_equal (pi.phys_first, before.phys_first);
  assert_int_equal (pi.n_devices, 2);
  assert_int_equal (pi.generation, before.generation + 1);
  t = XLATE (s.f, s.w1, s.v1 + MIB + 7);
  assert_int_equal (t.device, nvf);
  assert_int_equal (t.device_offset, 7);
  assert_int_equal (t.switch_id, s.b);
  assert_int_equal (t.partition, s.p1);
  base = t.physical - 7;
  assert_int_equal (base % (256 * KIB), 0);
  {
    g_autoptr (GArray) bw = asm_fabric_get_switch_windows (s.f, s.b);
    assert_int_equal (bw->len, 1);
    assert_int_equal (base, g_array_index (bw, AsmRange, 0).first);
  }
  XLAT_ENTRY_IS (s.f, s.b, nvf, s.p1, s.w1, s.v1 + MIB, 256 * KIB, base);
  ROUTED (s.f, s.w1, s.v1 + MIB + 7, &t);
  XLATE_IS (s.f, s.w1, s.v1 + 5, s.p1, s.a, BASE + 5, s.e1, 5);
  XLATE_IS (s.f, s.w1, s.v1 + MIB + 256 * KIB, s.p1, s.a,
            BASE + MIB + 256 * KIB, ASM_ID_NONE, 0);
  assert_int_equal (SINFO (s.f, s.b).table_used, 1);
  assert_int_equal (SINFO (s.f, s.b).n_partitions, 0);
  assert_int_equal (SINFO (s.f, s.a).table_used, 3);
  assert_int_equal (ev.events->len, 2);
  assert_int_equal (g_array_index (ev.events, Ev, 0).kind,
                    ASM_EVENT_WINDOW_GROWN);
  e = &g_array_index (ev.events, Ev, 1);
  assert_int_equal (e->kind, ASM_EVENT_VF_TRANSFERRED);
  assert_int_equal (e->sw, s.b);
  assert_int_equal (e->old_sw, s.a);
  assert_int_equal (e->partition, s.p1);
  assert_int_equal (e->device, nvf);
  assert_int_equal (e->range.first, base);
  assert_int_equal (e->range.last, base + 256 * KIB - 1);
  /* the old VF is held; the new one is told where it is and resumed */
  want = g_strdup_printf ("h%u m%u@%u:" X " r%u ", s.vf1, nvf, s.b, base,
                          nvf);
  assert_string_equal (drv.log->str, want);
  assert_int_equal (drv.n_probed_hold, 1);
  assert_int_equal (drv.n_probed_moved, 1);
  assert_string_equal (drv.problems->str, "");
  CONSISTENT (s.f, s.sim);

  /* P1 can now migrate: e1 moves, the redirected VF keeps its route */
  drvlog_reset (&drv);
  OK (asm_fabric_migrate_partition (s.f, s.p1, s.c, &error));
  pc = PINFO (s.f, s.p1).phys_first;
  XLATE_IS (s.f, s.w1, s.v1 + 5, s.p1, s.c, pc + 5, s.e1, 5);
  XLATE_IS (s.f, s.w1, s.v1 + MIB + 7, s.p1, s.b, base + 7, nvf, 7);
  g_free (want);
  want = g_strdup_printf ("h%u h%u m%u@%u:" X " m%u@%u:" X " r%u r%u ", s.e1,
                          nvf, s.e1, s.c, pc, nvf, s.b, base, s.e1, nvf);
  assert_string_equal (drv.log->str, want);
  CONSISTENT (s.f, s.sim);

  /* and back to pf1: the redirect on B goes, with B's window */
  OK (asm_fabric_transfer_vf (s.f, nvf, s.pf1, &nvf2, &error));
  assert_int_equal (DINFO (s.f, nvf2).vf_index, 0);
  assert_false (xlat_has (s.f, s.b, nvf));
  assert_int_equal (SINFO (s.f, s.b).n_windows, 0);
  assert_int_equal (SINFO (s.f, s.b).table_used, 0);
  t = XLATE (s.f, s.w1, s.v1 + MIB + 7);
  assert_int_equal (t.device, nvf2);
  assert_int_equal (t.device_offset, 7);
  assert_int_equal (t.switch_id, s.a);
  ROUTED (s.f, s.w1, s.v1 + MIB + 7, &t);
  assert_string_equal (ev.problems->str, "");
  CONSISTENT (s.f, s.sim);
  evlog_clear (&ev);
  drvlog_clear (&drv);
  scene_clear (&s);
}

/* ---------------------------------------------------------------------- */
/* Observers and drivers                                                  */
/* ---------------------------------------------------------------------- */

static void
observer_adds_workload (AsmFabric *f, const AsmFabricEvent *e, gpointer data)
{
  guint *n = data;

  /* observers may change the fabric: no lock is held */
  if (e->kind == ASM_EVENT_PARTITION_PLACED && (*n)++ == 0)
    g_assert_true (asm_fabric_add_workload (f, "from-observer", NULL, NULL));
}

static void
observer_message (AsmFabric *f, const AsmFabricEvent *e, gpointer data)
{
  GString *s = data;
  g_string_append_printf (s, "%d:%s\n", e->kind, e->message);
}

static void
test_observers (void **state)
{
  Scene s;
  EvLog ev1, ev2;
  guint n_placed = 0, id2;
  g_autoptr (GString) messages = g_string_new (NULL);
  g_autoptr (GArray) wl = NULL;

  scene_build (&s, NULL);
  evlog_init (&ev1);
  evlog_init (&ev2);
  asm_fabric_add_observer (s.f, record_event, &ev1);
  id2 = asm_fabric_add_observer (s.f, record_event, &ev2);
  asm_fabric_add_observer (s.f, observer_adds_workload, &n_placed);
  asm_fabric_add_observer (s.f, observer_message, messages);

  REQUEST (s.f, s.w2, 2 * MIB, s.b, 0, NULL);
  assert_int_equal (ev1.events->len, 2);
  assert_int_equal (ev2.events->len, 2);
  assert_int_equal (n_placed, 1);
  wl = asm_fabric_list (s.f, ASM_FABRIC_WORKLOADS);
  assert_int_equal (wl->len, 3);
  assert_non_null (strstr (messages->str, "placed on 'B'"));
  asm_fabric_remove_observer (s.f, id2);
  asm_fabric_remove_observer (s.f, 12345);

  /* a failure is heard once, as ROLLED_BACK, after the undo */
  g_string_truncate (messages, 0);
  asm_sim_fail_call (s.sim, 2);
  FAILS (asm_fabric_migrate_partition (s.f, s.p3, s.b, &error), BACKEND,
         "step 1 of 5 (xlat_set of entry 15 on switch 2)");
  asm_sim_fail_call (s.sim, 0);
  assert_int_equal (ev1.events->len, 3);
  assert_int_equal (g_array_index (ev1.events, Ev, 2).kind,
                    ASM_EVENT_ROLLED_BACK);
  assert_int_equal (ev2.events->len, 2);
  assert_non_null (strstr (messages->str, "rolled back"));
  assert_non_null (strstr (messages->str, "injected fault"));
  /* no event for a refusal */
  FAILS (asm_fabric_migrate_partition (s.f, s.p3, s.a, &error), INVALID,
         "already");
  assert_int_equal (ev1.events->len, 3);
  assert_string_equal (ev1.problems->str, "");
  CONSISTENT (s.f, s.sim);
  evlog_clear (&ev1);
  evlog_clear (&ev2);
  scene_clear (&s);
}

static void
test_driver_order (void **state)
{
  Scene s;
  DrvLog drv;
  Snap snap;
  g_autofree char *want = NULL;

  scene_build (&s, NULL);
  drvlog_init (&drv);
  asm_fabric_set_driver_funcs (s.f, &drv_funcs, &drv);
  snap_take (s.f, &snap);

  /* a failure after the holds: resumed in reverse, nothing moved; during
   * the hold the old mapping is reported, held */
  drv.probe_on = TRUE;
  drv.probe_workload = s.w2;
  drv.probe_virt = s.v2 + 100;
  drv.probe_before = XLATE (s.f, s.w2, s.v2 + 100);
  /* hold, hold, windows, root routes, xlat_begin */
  asm_sim_fail_call (s.sim, 5);
  FAILS (asm_fabric_migrate_partition (s.f, s.p2, s.b, &error), BACKEND,
         "step 5 of 11 (xlat_set of entry 14 on switch 2)");
  want = g_strdup_printf ("h%u h%u r%u r%u ", s.pf3, s.vf3, s.vf3, s.pf3);
  assert_string_equal (drv.log->str, want);
  assert_int_equal (drv.n_probed_hold, 2);
  assert_string_equal (drv.problems->str, "");
  UNCHANGED (s.f, &snap);
  assert_false (XLATE (s.f, s.w2, s.v2 + 100).held);
  CONSISTENT (s.f, s.sim);

  /* a hold refused by the hardware: nothing to resume for it */
  drvlog_reset (&drv);
  asm_sim_fail_call (s.sim, 2);
  FAILS (asm_fabric_migrate_partition (s.f, s.p2, s.b, &error), BACKEND,
         "step 2 of 11 (device_hold of device 10)");
  g_free (want);
  want = g_strdup_printf ("h%u r%u ", s.pf3, s.pf3);
  assert_string_equal (drv.log->str, want);
  UNCHANGED (s.f, &snap);

  /* success: holds first, then moved and resumed after the publish */
  drvlog_reset (&drv);
  OK (asm_fabric_migrate_partition (s.f, s.p2, s.b, &error));
  g_free (want);
  want = g_strdup_printf ("h%u h%u m%u@%u:" X " m%u@%u:" X " r%u r%u ",
                          s.pf3, s.vf3, s.pf3, s.b, BASE + 16 * MIB, s.vf3,
                          s.b, BASE + 16 * MIB + 512 * KIB, s.pf3, s.vf3);
  assert_string_equal (drv.log->str, want);
  assert_string_equal (drv.problems->str, "");
  /* without callbacks */
  asm_fabric_set_driver_funcs (s.f, NULL, NULL);
  drvlog_reset (&drv);
  OK (asm_fabric_migrate_partition (s.f, s.p2, s.a, &error));
  assert_string_equal (drv.log->str, "");
  CONSISTENT (s.f, s.sim);
  snap_clear (&snap);
  drvlog_clear (&drv);
  scene_clear (&s);
}

/* ---------------------------------------------------------------------- */
/* Translation stability                                                  */
/* ---------------------------------------------------------------------- */

typedef struct {
  AsmId w;
  guint64 virt;
  AsmId partition;
  AsmId device;     /* the device it reaches; follows VF transfers */
  guint64 dev_off;
} Sample;

static void
add_samples (AsmFabric *f, AsmId p, GArray *samples)
{
  AsmPartitionInfo pi = PINFO (f, p);
  g_autoptr (GArray) devs = asm_fabric_list (f, ASM_FABRIC_DEVICES);
  GArray *virts = g_array_new (FALSE, FALSE, sizeof (guint64));
  guint64 v;

  v = pi.virt_first;
  g_array_append_val (virts, v);
  v = pi.virt_first + pi.size - 1;
  g_array_append_val (virts, v);
  for (guint i = 0; i < devs->len; i++)
    {
      AsmDeviceInfo di = DINFO (f, g_array_index (devs, AsmId, i));
      if (di.partition != p)
        continue;
      v = pi.virt_first + di.partition_offset;
      g_array_append_val (virts, v);
      v += di.bar_size / 2 + 1;
      g_array_append_val (virts, v);
      v = pi.virt_first + di.partition_offset + di.bar_size - 1;
      g_array_append_val (virts, v);
    }
  for (guint i = 0; i < virts->len; i++)
    {
      AsmTranslation t;
      Sample s;
      v = g_array_index (virts, guint64, i);
      t = XLATE (f, pi.workload, v);
      s = (Sample) { pi.workload, v, p, t.device, t.device_offset };
      g_array_append_val (samples, s);
    }
  g_array_unref (virts);
}

static void
check_samples (AsmFabric *f, GArray *samples, const char *when)
{
  for (guint i = 0; i < samples->len; i++)
    {
      const Sample *s = &g_array_index (samples, Sample, i);
      AsmTranslation t = XLATE (f, s->w, s->virt);
      AsmPartitionInfo pi = PINFO (f, s->partition);

      if (t.partition != s->partition || t.device != s->device ||
          t.device_offset != s->dev_off || t.held)
        fail_msg ("%s: " X " of workload %u reaches device %u +" X
                  " (partition %u, held %d), expected device %u +" X
                  " (partition %u)", when, s->virt, s->w, t.device,
                  t.device_offset, t.partition, t.held, s->device,
                  s->dev_off, s->partition);
      if (t.device != ASM_ID_NONE && xlat_has (f, t.switch_id, t.device))
        {
          /* a transferred VF: routed by its own entry, on its PF's switch */
          if (DINFO (f, t.device).kind != ASM_DEVICE_VF ||
              DINFO (f, t.device).switch_id != t.switch_id)
            fail_msg ("%s: " X " routed by entry %u of switch %u", when,
                      s->virt, t.device, t.switch_id);
        }
      else if (t.switch_id != pi.switch_id ||
               t.physical != pi.phys_first + (s->virt - pi.virt_first))
        fail_msg ("%s: " X " -> switch %u " X ", partition on %u at " X, when,
                  s->virt, t.switch_id, t.physical, pi.switch_id,
                  pi.phys_first);
      ROUTED (f, s->w, s->virt, &t);
    }
}

static void
test_translation_stability (void **state)
{
  const guint n_seeds = 6, n_actions = 150;
  guint n_migrations = 0, n_transfers = 0, n_grows = 0, n_refused = 0;
  guint n_checked = 0, n_probes = 0;

  for (guint seed = 1; seed <= n_seeds; seed++)
    {
      g_autoptr (GRand) rng = g_rand_new_with_seed (seed);
      g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
      g_autoptr (AsmFabric) f = FABRIC_NEW (sim, 1024 * MIB);
      g_autoptr (GArray) sw = g_array_new (FALSE, FALSE, sizeof (AsmId));
      g_autoptr (GArray) eps = g_array_new (FALSE, FALSE, sizeof (AsmId));
      g_autoptr (GArray) pfs = g_array_new (FALSE, FALSE, sizeof (AsmId));
      g_autoptr (GArray) wls = g_array_new (FALSE, FALSE, sizeof (AsmId));
      g_autoptr (GArray) parts = g_array_new (FALSE, FALSE, sizeof (AsmId));
      g_autoptr (GArray) samples = g_array_new (FALSE, FALSE, sizeof (Sample));
      DrvLog drv;

      drvlog_init (&drv);
      asm_fabric_set_driver_funcs (f, &drv_funcs, &drv);
      g_assert_true (asm_fabric_set_window_granule (f, 4 * MIB, NULL));
      for (guint i = 0; i < 5; i++)
        {
          g_autofree char *name = g_strdup_printf ("s%u", i);
          AsmId id = SWITCH (f, name, 100000, g_rand_int_range (rng, 0, 1000),
                             32, 12, i == 4);
          g_array_append_val (sw, id);
          if (i == 4)
            OK (asm_fabric_add_window (f, id, BASE + 896 * MIB,
                                       BASE + 1024 * MIB - 1, &error));
          for (guint j = 0; j < 3; j++)
            {
              g_autofree char *dn = g_strdup_printf ("e%u.%u", i, j);
              AsmId d = DEVICE (f, dn, ASM_DEVICE_ENDPOINT,
                                G_GUINT64_CONSTANT (1)
                                    << g_rand_int_range (rng, 14, 22),
                                id, j);
              g_array_append_val (eps, d);
            }
          for (guint j = 0; j < 2; j++)
            {
              g_autofree char *dn = g_strdup_printf ("pf%u.%u", i, j);
              AsmId d = DEVICE (f, dn, ASM_DEVICE_PF, MIB, id, 3 + j);
              OK (asm_fabric_set_sriov (f, d, 8, j ? 64 * KIB : 128 * KIB,
                                        &error));
              for (guint k = 0; k < 3; k++)
                VF (f, d);
              g_array_append_val (pfs, d);
            }
        }
      for (guint i = 0; i < 3; i++)
        {
          g_autofree char *name = g_strdup_printf ("w%u", i);
          AsmId id = WORKLOAD (f, name);
          g_array_append_val (wls, id);
        }
      for (guint i = 0; i < 8; i++)
        {
          AsmId w = g_array_index (wls, AsmId, g_rand_int_range (rng, 0, 3));
          AsmId pref = g_rand_boolean (rng)
                           ? g_array_index (sw, AsmId,
                                            g_rand_int_range (rng, 0, 5))
                           : ASM_ID_NONE;
          AsmId p = REQUEST (f, w, GRAN * g_rand_int_range (rng, 1, 9), pref,
                             g_rand_int_range (rng, 0, 2000), NULL);
          AsmPartitionInfo pi = PINFO (f, p);
          g_autoptr (GArray) devs = asm_fabric_list (f, ASM_FABRIC_DEVICES);

          g_array_append_val (parts, p);
          /* endpoints from anywhere (they move), VFs from this switch */
          for (guint k = 0; k < 2; k++)
            {
              AsmId d = g_array_index (eps, AsmId,
                                       g_rand_int_range (rng, 0, eps->len));
              /* a full partition refuses it: that is fine here */
              if (DINFO (f, d).partition == ASM_ID_NONE &&
                  !asm_fabric_map_device (f, p, d, NULL, NULL))
                continue;
            }
          for (guint k = 0, n = 0; k < devs->len && n < 2; k++)
            {
              AsmDeviceInfo di = DINFO (f, g_array_index (devs, AsmId, k));
              if (di.kind == ASM_DEVICE_VF && di.switch_id == pi.switch_id &&
                  di.partition == ASM_ID_NONE && g_rand_boolean (rng) &&
                  asm_fabric_map_device (f, p, di.id, NULL, NULL))
                n++;
            }
          add_samples (f, p, samples);
        }
      CONSISTENT (f, sim);
      check_samples (f, samples, "after setup");

      for (guint a = 0; a < n_actions; a++)
        {
          g_autofree char *before = asm_fabric_save (f, NULL);
          g_autofree char *when = NULL;
          GError *err = NULL;
          guint r = g_rand_int_range (rng, 0, 10);
          AsmId p = g_array_index (parts, AsmId,
                                   g_rand_int_range (rng, 0, parts->len));
          AsmId vf = ASM_ID_NONE, nvf = ASM_ID_NONE;
          const Sample *probe = NULL;
          gboolean ok;

          if (r >= 5 && r <= 7)
            {
              /* transfer a mapped VF to another PF with its BAR size */
              guint start = g_rand_int_range (rng, 0, samples->len);
              for (guint i = 0; i < samples->len && vf == ASM_ID_NONE; i++)
                {
                  const Sample *s = &g_array_index (
                      samples, Sample, (start + i) % samples->len);
                  if (s->device != ASM_ID_NONE &&
                      DINFO (f, s->device).kind == ASM_DEVICE_VF)
                    vf = s->device, probe = s;
                }
              if (vf == ASM_ID_NONE)
                r = 0;
            }
          else
            for (guint i = 0; i < samples->len && probe == NULL; i++)
              if (g_array_index (samples, Sample, i).partition == p &&
                  g_array_index (samples, Sample, i).device != ASM_ID_NONE)
                probe = &g_array_index (samples, Sample, i);
          drvlog_reset (&drv);
          drv.n_probed_hold = drv.n_probed_moved = 0;
          if (probe != NULL)
            {
              drv.probe_on = TRUE;
              drv.probe_workload = probe->w;
              drv.probe_virt = probe->virt;
              drv.probe_before = XLATE (f, probe->w, probe->virt);
            }
          if (r < 5)
            {
              AsmId to = g_rand_boolean (rng)
                             ? ASM_ID_NONE
                             : g_array_index (sw, AsmId,
                                              g_rand_int_range (rng, 0, 5));
              when = g_strdup_printf ("seed %u action %u: migrate %u to %u",
                                      seed, a, p, to);
              ok = asm_fabric_migrate_partition (f, p, to, &err);
              n_migrations += ok;
            }
          else if (r <= 7)
            {
              AsmDeviceInfo di = DINFO (f, vf);
              AsmId to = ASM_ID_NONE;
              guint start = g_rand_int_range (rng, 0, pfs->len);
              for (guint i = 0; i < pfs->len && to == ASM_ID_NONE; i++)
                {
                  AsmId pf = g_array_index (pfs, AsmId,
                                            (start + i) % pfs->len);
                  if (pf != di.pf && DINFO (f, pf).vf_bar_size == di.bar_size)
                    to = pf;
                }
              when = g_strdup_printf ("seed %u action %u: transfer VF %u to "
                                      "PF %u", seed, a, vf, to);
              ok = asm_fabric_transfer_vf (f, vf, to, &nvf, &err);
              if (ok)
                {
                  n_transfers++;
                  for (guint i = 0; i < samples->len; i++)
                    if (g_array_index (samples, Sample, i).device == vf)
                      g_array_index (samples, Sample, i).device = nvf;
                  assert_int_equal (DINFO (f, nvf).pf, to);
                }
            }
          else
            {
              guint64 size = PINFO (f, p).size
                             + GRAN * g_rand_int_range (rng, 1, 5);
              when = g_strdup_printf ("seed %u action %u: grow %u to " X,
                                      seed, a, p, size);
              ok = asm_fabric_grow_partition (f, p, size, &err);
              n_grows += ok;
            }
          drv.probe_on = FALSE;
          if (!ok)
            {
              g_autofree char *now = asm_fabric_save (f, NULL);
              if (err->code != ASM_ERROR_INVALID &&
                  err->code != ASM_ERROR_NO_SPACE)
                fail_msg ("%s: %s", when, err->message);
              if (strcmp (now, before) != 0)
                fail_msg ("%s: refused (%s) but changed the fabric", when,
                          err->message);
              n_refused++;
              g_clear_error (&err);
            }
          if (drv.problems->len > 0)
            fail_msg ("%s: %s", when, drv.problems->str);
          if (ok && drv.holds != (gint) drv.n_probed_hold)
            fail_msg ("%s: %d holds, %u probed", when, drv.holds,
                      drv.n_probed_hold);
          n_probes += drv.n_probed_hold;
          CONSISTENT (f, sim);
          REACHABLE (f);
          check_samples (f, samples, when);
          n_checked += samples->len;
        }
      drvlog_clear (&drv);
    }
  print_message ("# translation stability: %u migrations, %u VF transfers, "
                 "%u grows, %u refused; %u translations checked, %u "
                 "translated inside a hold\n", n_migrations, n_transfers,
                 n_grows, n_refused, n_checked, n_probes);
  assert_true (n_migrations > 50);
  assert_true (n_transfers > 20);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_grow),
    cmocka_unit_test (test_migrate),
    cmocka_unit_test (test_migrate_pf_with_outside_vf),
    cmocka_unit_test (test_transfer_vf),
    cmocka_unit_test (test_observers),
    cmocka_unit_test (test_driver_order),
    cmocka_unit_test (test_translation_stability),
  };

  return cmocka_run_group_tests_name ("fabric-migrate", tests, NULL, NULL);
}
