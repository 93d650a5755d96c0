/* test-fabric-topology.c: building a fabric and its partitions (layer 3)
 *
 * Over the sim backend: asm_fabric_new() and the operations that build a
 * fabric (switches, windows, devices, SR-IOV and its VFs, workloads), then
 * those that give out partitions: request one (placed by the policy,
 * aligned, in the workload's own virtual space), map a device into it (an
 * endpoint moves to the partition's switch, a PF with its VFs), translate
 * its addresses, release it.  Each operation's happy path (ids, infos,
 * windows, tables, events) and each documented error, which must come
 * with the documented code, a message naming the offending value, and
 * leave the fabric byte for byte as it was (asm_fabric_save(), the global
 * arena's stats and every AsmSwitchInfo are compared); asm_fabric_check()
 * and asm_sim_verify() run after every change.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fabric-test-common.h"

/* ---------------------------------------------------------------------- */
/* Operations: building                                                   */
/* ---------------------------------------------------------------------- */

static void
test_new_errors (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = NULL;

  FAILS (asm_fabric_new ("x", BASE, BASE + 16 * MIB - 1, 3 * MIB, sim,
                         &error) != NULL, INVALID, "power of two");
  FAILS (asm_fabric_new ("x", BASE + MIB, BASE + 16 * MIB - 1, GRAN, sim,
                         &error) != NULL, INVALID, "granule boundaries");
  FAILS (asm_fabric_new ("x", BASE, BASE + 15 * MIB, GRAN, sim,
                         &error) != NULL, INVALID, "granule boundaries");
  FAILS (asm_fabric_new ("x", BASE + 16 * MIB, BASE - 1, GRAN, sim,
                         &error) != NULL, INVALID, "non-empty");
  f = FABRIC_NEW (sim, 16 * MIB);
  assert_int_equal (asm_fabric_get_granule (f), GRAN);
  assert_string_equal (asm_fabric_get_name (f), "test");
  assert_ptr_equal (asm_fabric_get_backend (f), sim);
  assert_true (asm_sim_is_sim (sim));
  assert_null (asm_fabric_get_switch_windows (f, 1));
  assert_null (asm_fabric_get_xlat_table (f, 1));
  CONSISTENT (f, sim);
}

static void
test_add_switch (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  g_autoptr (GArray) ids = NULL;
  AsmSwitchSpec bad;
  AsmSwitchInfo info;
  EvLog ev;
  Snap snap;
  AsmId a, found = 0;

  evlog_init (&ev);
  asm_fabric_add_observer (f, record_event, &ev);
  a = SWITCH (f, "A", 1000, 100, 4, 2, FALSE);
  assert_int_equal (a, 1);
  info = SINFO (f, a);
  assert_string_equal (info.name, "A");
  assert_int_equal (info.bandwidth, 1000);
  assert_int_equal (info.latency_ns, 100);
  assert_int_equal (info.table_capacity, 4);
  assert_int_equal (info.n_ports, 2);
  assert_false (info.pinned);
  assert_int_equal (info.n_windows, 0);
  assert_int_equal (info.window_bytes, 0);
  assert_int_equal (info.table_used, 0);
  assert_int_equal (info.n_partitions, 0);
  assert_true (asm_fabric_find_switch (f, "A", &found));
  assert_int_equal (found, a);
  assert_false (asm_fabric_find_switch (f, "Z", NULL));
  assert_false (asm_fabric_get_switch_info (f, 99, &info));
  assert_int_equal (ev.events->len, 1);
  assert_int_equal (g_array_index (ev.events, Ev, 0).kind,
                    ASM_EVENT_SWITCH_ADDED);
  assert_int_equal (g_array_index (ev.events, Ev, 0).sw, a);
  CONSISTENT (f, sim);

  snap_take (f, &snap);
  bad = (AsmSwitchSpec) { "A", 1000, 0, 4, 2, FALSE };
  FAILS (asm_fabric_add_switch (f, &bad, NULL, &error), INVALID,
         "'A' is already used");
  bad = (AsmSwitchSpec) { "B", 0, 0, 4, 2, FALSE };
  FAILS (asm_fabric_add_switch (f, &bad, NULL, &error), INVALID,
         "bandwidth 0");
  bad = (AsmSwitchSpec) { "B", 10, 0, 0, 2, FALSE };
  FAILS (asm_fabric_add_switch (f, &bad, NULL, &error), INVALID,
         "table capacity 0");
  bad = (AsmSwitchSpec) { "B", 10, 0, 4, 65537, FALSE };
  FAILS (asm_fabric_add_switch (f, &bad, NULL, &error), INVALID, "65537");
  bad = (AsmSwitchSpec) { "", 10, 0, 4, 2, FALSE };
  FAILS (asm_fabric_add_switch (f, &bad, NULL, &error), INVALID,
         "needs a name");
  bad = (AsmSwitchSpec) { NULL, 10, 0, 4, 2, FALSE };
  FAILS (asm_fabric_add_switch (f, &bad, NULL, &error), INVALID,
         "needs a name");
  UNCHANGED (f, &snap);
  assert_int_equal (ev.events->len, 1);
  snap_clear (&snap);

  /* ids are never reused, also across object kinds */
  assert_int_equal (SWITCH (f, "B", 1, 0, 1, 0, TRUE), 2);
  assert_int_equal (WORKLOAD (f, "w"), 3);
  assert_int_equal (SWITCH (f, "C", 1, 0, 1, 1, FALSE), 4);
  ids = asm_fabric_list (f, ASM_FABRIC_SWITCHES);
  assert_int_equal (ids->len, 3);
  assert_int_equal (g_array_index (ids, AsmId, 2), 4);
  assert_true (SINFO (f, 2).pinned);
  assert_string_equal (ev.problems->str, "");
  CONSISTENT (f, sim);
  evlog_clear (&ev);
}

static void
test_add_window (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  g_autoptr (GArray) w = NULL;
  AsmArenaStats st;
  EvLog ev;
  Snap snap;
  AsmId c, d;

  evlog_init (&ev);
  c = SWITCH (f, "C", 1000, 0, 4, 2, TRUE);
  d = SWITCH (f, "D", 1000, 0, 4, 2, FALSE);
  asm_fabric_add_observer (f, record_event, &ev);
  OK (asm_fabric_add_window (f, c, BASE, BASE + 8 * MIB - 1, &error));
  w = asm_fabric_get_switch_windows (f, c);
  assert_int_equal (w->len, 1);
  assert_int_equal (g_array_index (w, AsmRange, 0).first, BASE);
  assert_int_equal (g_array_index (w, AsmRange, 0).last, BASE + 8 * MIB - 1);
  assert_int_equal (SINFO (f, c).window_bytes, 8 * MIB);
  assert_int_equal (SINFO (f, c).free_bytes, 8 * MIB);
  asm_fabric_get_global_stats (f, &st);
  assert_int_equal (st.n_allocated, 1);
  assert_int_equal (st.allocated_units, 8 * MIB);
  assert_int_equal (ev.events->len, 1);
  assert_int_equal (g_array_index (ev.events, Ev, 0).kind,
                    ASM_EVENT_WINDOW_GROWN);
  assert_int_equal (g_array_index (ev.events, Ev, 0).range.first, BASE);
  OK (asm_fabric_reserve_global (f, BASE + 16 * MIB, BASE + 18 * MIB - 1,
                                 &error));
  CONSISTENT (f, sim);

  snap_take (f, &snap);
  FAILS (asm_fabric_add_window (f, c, BASE + 4 * MIB, BASE + 12 * MIB - 1,
                                &error), IN_USE, "overlaps");
  FAILS (asm_fabric_add_window (f, d, BASE, BASE + 2 * MIB - 1, &error),
         IN_USE, "0x100000000-0x1001fffff");
  FAILS (asm_fabric_add_window (f, c, BASE + 16 * MIB, BASE + 20 * MIB - 1,
                                &error), IN_USE, "reserved");
  FAILS (asm_fabric_add_window (f, c, BASE + 9 * MIB, BASE + 11 * MIB - 1,
                                &error), INVALID, "granule");
  FAILS (asm_fabric_add_window (f, c, BASE + 10 * MIB, BASE + 11 * MIB - 1,
                                &error), INVALID, "granule (0x200000)");
  FAILS (asm_fabric_add_window (f, c, BASE + 12 * MIB, BASE + 10 * MIB - 1,
                                &error), INVALID, "empty");
  FAILS (asm_fabric_add_window (f, c, BASE + GLOBAL_SIZE,
                                BASE + GLOBAL_SIZE + 2 * MIB - 1, &error),
         IN_USE, "outside the global space");
  FAILS (asm_fabric_add_window (f, c, 0, 2 * MIB - 1, &error), IN_USE,
         "outside the global space");
  FAILS (asm_fabric_add_window (f, 99, BASE + 8 * MIB, BASE + 10 * MIB - 1,
                                &error), NOT_FOUND, "switch 99");
  FAILS (asm_fabric_reserve_global (f, BASE + 2 * MIB, BASE + 4 * MIB - 1,
                                    &error), IN_USE, "");
  UNCHANGED (f, &snap);
  snap_clear (&snap);
  assert_int_equal (ev.events->len, 1);

  /* an adjacent window stays a window of its own */
  OK (asm_fabric_add_window (f, c, BASE + 8 * MIB, BASE + 10 * MIB - 1,
                             &error));
  assert_int_equal (SINFO (f, c).n_windows, 2);
  assert_int_equal (SINFO (f, c).window_bytes, 10 * MIB);
  /* a switch that is not pinned may be given one too */
  OK (asm_fabric_add_window (f, d, BASE + 32 * MIB, BASE + 34 * MIB - 1,
                             &error));
  asm_fabric_get_global_stats (f, &st);
  assert_int_equal (st.n_allocated, 3);
  assert_int_equal (st.allocated_units, 12 * MIB);
  assert_int_equal (st.reserved_units, 2 * MIB);
  assert_string_equal (ev.problems->str, "");
  CONSISTENT (f, sim);
  evlog_clear (&ev);
}

static void
test_add_device (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  g_autoptr (GArray) ids = NULL;
  AsmDeviceInfo di;
  Snap snap;
  AsmId a, e;

  a = SWITCH (f, "A", 1000, 0, 4, 2, FALSE);
  e = DEVICE (f, "e", ASM_DEVICE_ENDPOINT, MIB, a, 0);
  di = DINFO (f, e);
  assert_string_equal (di.name, "e");
  assert_int_equal (di.kind, ASM_DEVICE_ENDPOINT);
  assert_int_equal (di.switch_id, a);
  assert_int_equal (di.port, 0);
  assert_int_equal (di.bar_size, MIB);
  assert_int_equal (di.partition, ASM_ID_NONE);
  assert_int_equal (SINFO (f, a).n_ports_used, 1);
  assert_false (asm_fabric_get_device_info (f, 99, &di));
  CONSISTENT (f, sim);

  snap_take (f, &snap);
  FAILS (asm_fabric_add_device (f, "x", ASM_DEVICE_ENDPOINT, MIB, a, 0, NULL,
                                &error), IN_USE, "port 0 of switch 'A'");
  FAILS (asm_fabric_add_device (f, "x", ASM_DEVICE_ENDPOINT, MIB, a, 2, NULL,
                                &error), IN_USE, "out of range 0..1");
  FAILS (asm_fabric_add_device (f, "x", ASM_DEVICE_ENDPOINT, 3 * MIB, a, 1,
                                NULL, &error), INVALID,
         "BAR size 0x300000 is not a power of two");
  FAILS (asm_fabric_add_device (f, "x", ASM_DEVICE_ENDPOINT, 0, a, 1, NULL,
                                &error), INVALID, "not a power of two");
  FAILS (asm_fabric_add_device (f, "x", ASM_DEVICE_VF, MIB, a, 1, NULL,
                                &error), INVALID, "asm_fabric_create_vf");
  FAILS (asm_fabric_add_device (f, "x", ASM_DEVICE_ENDPOINT, MIB, 99, 1, NULL,
                                &error), NOT_FOUND, "switch 99");
  FAILS (asm_fabric_add_device (f, "", ASM_DEVICE_ENDPOINT, MIB, a, 1, NULL,
                                &error), INVALID, "needs a name");
  FAILS (asm_fabric_add_device (f, "\x7f", ASM_DEVICE_ENDPOINT, MIB, a, 1,
                                NULL, &error), INVALID,
         "device name \"\\177\" holds a control character");
  UNCHANGED (f, &snap);
  snap_clear (&snap);
  /* port 1 still free after all that */
  DEVICE (f, "pf", ASM_DEVICE_PF, 4 * KIB, a, 1);
  assert_int_equal (SINFO (f, a).n_ports_used, 2);
  ids = asm_fabric_list (f, ASM_FABRIC_DEVICES);
  assert_int_equal (ids->len, 2);
  CONSISTENT (f, sim);
}

static void
test_sriov (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  AsmDeviceInfo di;
  Snap snap;
  AsmId a, e, pf, v0, v1, pf0;

  a = SWITCH (f, "A", 1000, 0, 4, 4, FALSE);
  e = DEVICE (f, "e", ASM_DEVICE_ENDPOINT, MIB, a, 0);
  pf = DEVICE (f, "pf", ASM_DEVICE_PF, MIB, a, 1);
  pf0 = DEVICE (f, "pf0", ASM_DEVICE_PF, MIB, a, 2);

  snap_take (f, &snap);
  FAILS (asm_fabric_set_sriov (f, e, 2, 64 * KIB, &error), INVALID,
         "needs a PF");
  FAILS (asm_fabric_set_sriov (f, pf, 65, 64 * KIB, &error), INVALID,
         "(65 asked)");
  FAILS (asm_fabric_set_sriov (f, pf, 2, 3000, &error), INVALID,
         "(0xbb8 asked)");
  FAILS (asm_fabric_set_sriov (f, 99, 2, 64 * KIB, &error), NOT_FOUND,
         "device 99");
  FAILS (asm_fabric_create_vf (f, e, NULL, &error), INVALID,
         "'e' is not an SR-IOV PF");
  FAILS (asm_fabric_create_vf (f, pf0, NULL, &error), NO_SPACE,
         "all its 0 VFs");
  FAILS (asm_fabric_create_vf (f, 99, NULL, &error), NOT_FOUND, "device 99");
  UNCHANGED (f, &snap);
  snap_clear (&snap);

  OK (asm_fabric_set_sriov (f, pf, 2, 64 * KIB, &error));
  di = DINFO (f, pf);
  assert_int_equal (di.max_vfs, 2);
  assert_int_equal (di.vf_bar_size, 64 * KIB);
  v0 = VF (f, pf);
  di = DINFO (f, v0);
  assert_string_equal (di.name, "pf-vf0");
  assert_int_equal (di.kind, ASM_DEVICE_VF);
  assert_int_equal (di.pf, pf);
  assert_int_equal (di.vf_index, 0);
  assert_int_equal (di.switch_id, a);
  assert_int_equal (di.port, 1);
  assert_int_equal (di.bar_size, 64 * KIB);
  v1 = VF (f, pf);
  assert_int_equal (DINFO (f, v1).vf_index, 1);
  /* VFs take no port */
  assert_int_equal (SINFO (f, a).n_ports_used, 3);
  CONSISTENT (f, sim);

  snap_take (f, &snap);
  FAILS (asm_fabric_create_vf (f, pf, NULL, &error), NO_SPACE,
         "PF 'pf' has all its 2 VFs");
  FAILS (asm_fabric_set_sriov (f, pf, 4, 64 * KIB, &error), INVALID,
         "without VFs");
  FAILS (asm_fabric_create_vf (f, v0, NULL, &error), INVALID,
         "not an SR-IOV PF");
  UNCHANGED (f, &snap);
  snap_clear (&snap);
  CONSISTENT (f, sim);
}

static void
test_workloads (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  g_autoptr (GArray) ids = NULL;
  Snap snap;

  snap_take (f, &snap);
  FAILS (asm_fabric_add_workload (f, "", NULL, &error), INVALID,
         "needs a name");
  FAILS (asm_fabric_add_workload (f, NULL, NULL, &error), INVALID,
         "needs a name");
  /* names are 1-255 bytes of UTF-8 without control characters, for
   * switches, devices, workloads and fabrics alike */
  {
    g_autofree char *long_name = g_strnfill (256, 'w');
    AsmSwitchSpec spec = { .name = "sw\tx", .bandwidth = 1,
                           .table_capacity = 4, .n_ports = 1 };
    g_autoptr (GError) err = NULL;
    FAILS (asm_fabric_add_workload (f, long_name, NULL, &error), INVALID,
           "256 bytes is longer than 255");
    long_name[255] = '\0';
    FAILS (asm_fabric_add_workload (f, "bad\xff", NULL, &error), INVALID,
           "\"bad\\377\" is not valid UTF-8");
    FAILS (asm_fabric_add_workload (f, "a\nb", NULL, &error), INVALID,
           "\"a\\nb\" holds a control character");
    FAILS (asm_fabric_add_switch (f, &spec, NULL, &error), INVALID,
           "switch name \"sw\\tx\" holds a control character");
    assert_null (asm_fabric_new ("", 0, 0xfff, 0x1000, NULL, &err));
    assert_true (g_error_matches (err, ASM_ERROR, ASM_ERROR_INVALID));
    UNCHANGED (f, &snap);
    /* 255 bytes is a name */
    OK (asm_fabric_add_workload (f, long_name, NULL, &error));
    assert_string_equal (asm_fabric_get_workload_name (f, 1), long_name);
    OK (asm_fabric_remove_workload (f, 1, &error));
  }
  snap_clear (&snap);
  assert_int_equal (WORKLOAD (f, "w"), 2);
  /* workload names need not be unique */
  assert_int_equal (WORKLOAD (f, "w"), 3);
  ids = asm_fabric_list (f, ASM_FABRIC_WORKLOADS);
  assert_int_equal (ids->len, 2);
  CONSISTENT (f, sim);
}


/* ---------------------------------------------------------------------- */
/* Operations: partitions                                                 */
/* ---------------------------------------------------------------------- */

static void
test_request_partition (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  AsmPartitionRequest req = { 0 };
  AsmPartitionInfo pi;
  AsmSwitchInfo si;
  AsmArenaStats st;
  EvLog ev;
  Snap snap;
  AsmId a, b, w, w2, p, q, r, x;
  guint64 virt = 0;

  evlog_init (&ev);
  a = SWITCH (f, "A", 10000, 100, 4, 4, FALSE);
  b = SWITCH (f, "B", 10000, 100, 4, 4, FALSE);
  w = WORKLOAD (f, "w");
  w2 = WORKLOAD (f, "w2");
  asm_fabric_add_observer (f, record_event, &ev);

  /* two empty switches score the same: the lowest id wins; A grows a
   * window of exactly the size (the window granule is the granule) */
  p = REQUEST (f, w, 4 * MIB, 0, 300, &virt);
  pi = PINFO (f, p);
  assert_int_equal (pi.switch_id, a);
  assert_int_equal (pi.workload, w);
  assert_int_equal (pi.size, 4 * MIB);
  assert_int_equal (pi.virt_first, VIRT0);
  assert_int_equal (virt, VIRT0);
  assert_int_equal (pi.phys_first, BASE);
  assert_int_equal (pi.bandwidth_demand, 300);
  assert_int_equal (pi.n_devices, 0);
  si = SINFO (f, a);
  assert_int_equal (si.n_windows, 1);
  assert_int_equal (si.window_bytes, 4 * MIB);
  assert_int_equal (si.free_bytes, 0);
  assert_int_equal (si.table_used, 1);
  assert_int_equal (si.n_partitions, 1);
  assert_int_equal (si.bandwidth_used, 300);
  XLAT_ENTRY_IS (f, a, p, p, w, VIRT0, 4 * MIB, BASE);
  /* the window growth event, then the placement */
  assert_int_equal (ev.events->len, 2);
  assert_int_equal (g_array_index (ev.events, Ev, 0).kind,
                    ASM_EVENT_WINDOW_GROWN);
  assert_int_equal (g_array_index (ev.events, Ev, 0).sw, a);
  assert_int_equal (g_array_index (ev.events, Ev, 0).range.first, BASE);
  assert_int_equal (g_array_index (ev.events, Ev, 0).range.last,
                    BASE + 4 * MIB - 1);
  assert_int_equal (g_array_index (ev.events, Ev, 1).kind,
                    ASM_EVENT_PARTITION_PLACED);
  assert_int_equal (g_array_index (ev.events, Ev, 1).partition, p);
  asm_fabric_get_global_stats (f, &st);
  assert_int_equal (st.n_allocated, 1);
  CONSISTENT (f, sim);

  /* bandwidth balance: A has 300 of 10000 promised, B none */
  q = REQUEST (f, w, 2 * MIB, 0, 0, &virt);
  assert_int_equal (PINFO (f, q).switch_id, b);
  /* the second partition of a workload is a VIRT_ALIGN step further */
  assert_int_equal (virt, VIRT0 + VIRT0);
  /* another workload has its own virtual space */
  r = REQUEST (f, w2, 2 * MIB, a, 0, &virt);
  assert_int_equal (virt, VIRT0);
  assert_int_equal (PINFO (f, r).switch_id, a);
  /* alignment */
  req = (AsmPartitionRequest) { .size = 2 * MIB, .align = 32 * MIB };
  OK (asm_fabric_request_partition (f, w2, &req, &x, NULL, &error));
  assert_int_equal (PINFO (f, x).phys_first % (32 * MIB), 0);
  /* bandwidth_demand 0 counts min_bandwidth */
  req = (AsmPartitionRequest) { .size = 2 * MIB, .min_bandwidth = 700,
                                .preferred_switch = b };
  OK (asm_fabric_request_partition (f, w2, &req, &x, NULL, &error));
  assert_int_equal (PINFO (f, x).bandwidth_demand, 700);
  assert_int_equal (SINFO (f, b).bandwidth_used, 700);
  CONSISTENT (f, sim);

  evlog_reset (&ev);
  snap_take (f, &snap);
  req = (AsmPartitionRequest) { .size = MIB };
  FAILS (asm_fabric_request_partition (f, w, &req, NULL, NULL, &error),
         INVALID, "size 0x100000 is not a non-zero multiple of the granule");
  req = (AsmPartitionRequest) { .size = 0 };
  FAILS (asm_fabric_request_partition (f, w, &req, NULL, NULL, &error),
         INVALID, "size 0x0");
  req = (AsmPartitionRequest) { .size = 3 * MIB };
  FAILS (asm_fabric_request_partition (f, w, &req, NULL, NULL, &error),
         INVALID, "0x300000");
  req = (AsmPartitionRequest) { .size = VIRT0 + GRAN };
  FAILS (asm_fabric_request_partition (f, w, &req, NULL, NULL, &error),
         INVALID, "up to 0x10000000000");
  req = (AsmPartitionRequest) { .size = 2 * MIB, .align = 3 * MIB };
  FAILS (asm_fabric_request_partition (f, w, &req, NULL, NULL, &error),
         INVALID, "alignment 0x300000 is not a power of two");
  req = (AsmPartitionRequest) { .size = 2 * MIB };
  FAILS (asm_fabric_request_partition (f, 99, &req, NULL, NULL, &error),
         NOT_FOUND, "workload 99");
  FAILS (asm_fabric_request_partition (f, a, &req, NULL, NULL, &error),
         NOT_FOUND, "workload 1");
  req = (AsmPartitionRequest) { .size = 2 * MIB, .preferred_switch = 77 };
  FAILS (asm_fabric_request_partition (f, w, &req, NULL, NULL, &error),
         NOT_FOUND, "switch 77");
  /* larger than the global space can give */
  req = (AsmPartitionRequest) { .size = GLOBAL_SIZE };
  FAILS (asm_fabric_request_partition (f, w, &req, NULL, NULL, &error),
         NO_SPACE, "cannot grow a window");
  UNCHANGED (f, &snap);
  snap_clear (&snap);
  assert_int_equal (ev.events->len, 0);
  assert_string_equal (ev.problems->str, "");
  evlog_clear (&ev);
}

static void
test_map_device (void **state)
{
  Scene s;
  EvLog ev;
  Snap snap;
  AsmPartitionInfo before;
  AsmTranslation t;
  AsmDeviceInfo di;
  AsmId e4, vf2, d, pd, e5;

  scene_build (&s, NULL);
  evlog_init (&ev);
  asm_fabric_add_observer (s.f, record_event, &ev);
  before = PINFO (s.f, s.p1);
  /* e2 on B moves to A's lowest free port, at the next 1 MiB boundary */
  assert_int_equal (MAP (s.f, s.p1, s.e2), 2 * MIB);
  di = DINFO (s.f, s.e2);
  assert_int_equal (di.switch_id, s.a);
  assert_int_equal (di.port, 3);
  assert_int_equal (di.partition, s.p1);
  assert_int_equal (di.partition_offset, 2 * MIB);
  assert_int_equal (SINFO (s.f, s.b).n_ports_used, 1);
  assert_int_equal (SINFO (s.f, s.a).n_ports_used, 4);
  assert_int_equal (PINFO (s.f, s.p1).generation, before.generation + 1);
  assert_int_equal (PINFO (s.f, s.p1).n_devices, 3);
  assert_int_equal (ev.events->len, 1);
  assert_int_equal (g_array_index (ev.events, Ev, 0).kind,
                    ASM_EVENT_DEVICE_MAPPED);
  assert_int_equal (g_array_index (ev.events, Ev, 0).device, s.e2);
  assert_int_equal (g_array_index (ev.events, Ev, 0).partition, s.p1);
  t = XLATE (s.f, s.w1, s.v1 + 2 * MIB + 5);
  assert_int_equal (t.device, s.e2);
  assert_int_equal (t.device_offset, 5);
  assert_int_equal (t.switch_id, s.a);
  assert_int_equal (t.physical, BASE + 2 * MIB + 5);
  /* a device of the partition's switch stays where it is */
  assert_int_equal (MAP (s.f, s.p3, s.pf1), 0);
  assert_int_equal (DINFO (s.f, s.pf1).port, 1);
  CONSISTENT (s.f, s.sim);

  e4 = DEVICE (s.f, "e4", ASM_DEVICE_ENDPOINT, 4 * MIB, s.a, 4);
  vf2 = VF (s.f, s.pf2);
  d = SWITCH (s.f, "D", 1000, 0, 4, 1, FALSE);
  DEVICE (s.f, "ed", ASM_DEVICE_ENDPOINT, MIB, d, 0);
  pd = REQUEST (s.f, s.w2, 2 * MIB, d, 0, NULL);
  e5 = DEVICE (s.f, "e5", ASM_DEVICE_ENDPOINT, MIB, s.b, 2);
  evlog_reset (&ev);
  snap_take (s.f, &snap);
  FAILS (asm_fabric_map_device (s.f, s.p3, s.e1, NULL, &error), IN_USE,
         "'e1' is already mapped into partition");
  FAILS (asm_fabric_map_device (s.f, s.p3, e4, NULL, &error), NO_SPACE,
         "has no room for the 0x400000-byte BAR of 'e4'");
  FAILS (asm_fabric_map_device (s.f, s.p1, vf2, NULL, &error), INVALID,
         "transfer it with asm_fabric_transfer_vf()");
  FAILS (asm_fabric_map_device (s.f, pd, e5, NULL, &error), NO_SPACE,
         "switch 'D' has no free port for device 'e5'");
  FAILS (asm_fabric_map_device (s.f, s.p1, 99, NULL, &error), NOT_FOUND,
         "device 99");
  FAILS (asm_fabric_map_device (s.f, 99, s.e1, NULL, &error), NOT_FOUND,
         "partition 99");
  UNCHANGED (s.f, &snap);
  snap_clear (&snap);
  assert_int_equal (ev.events->len, 0);
  /* a PF moves with its VFs (none of them mapped) */
  assert_int_equal (MAP (s.f, s.p1, s.pf2), 3 * MIB);
  assert_int_equal (DINFO (s.f, s.pf2).switch_id, s.a);
  assert_int_equal (DINFO (s.f, vf2).switch_id, s.a);
  assert_int_equal (DINFO (s.f, vf2).port, DINFO (s.f, s.pf2).port);
  assert_int_equal (SINFO (s.f, s.b).n_ports_used, 1); /* e5 */
  CONSISTENT (s.f, s.sim);
  /* so its VF can be mapped on A now */
  assert_int_equal (MAP (s.f, s.p3, vf2), MIB);
  /* BARs are aligned to their size: 4 MiB after 1.25 MiB in 8 MiB */
  OK (asm_fabric_grow_partition (s.f, s.p3, 8 * MIB, &error));
  assert_int_equal (PINFO (s.f, s.p3).phys_first, BASE + 8 * MIB);
  assert_int_equal (MAP (s.f, s.p3, e4), 4 * MIB);
  assert_string_equal (ev.problems->str, "");
  CONSISTENT (s.f, s.sim);
  evlog_clear (&ev);
  scene_clear (&s);
}

static void
test_translate (void **state)
{
  Scene s;
  AsmTranslation t;

  scene_build (&s, NULL);
  FAILS (asm_fabric_translate (s.f, 99, s.v1, &t, &error), NOT_FOUND,
         "workload 99 does not exist");
  FAILS (asm_fabric_translate (s.f, s.a, s.v1, &t, &error), NOT_FOUND,
         "workload 1 does not exist");
  FAILS (asm_fabric_translate (s.f, s.w1, s.v1 - 1, &t, &error), NOT_FOUND,
         "no partition at virtual 0xffffffffff");
  FAILS (asm_fabric_translate (s.f, s.w1, s.v1 + 4 * MIB, &t, &error),
         NOT_FOUND, "no partition at virtual 0x10000400000");
  FAILS (asm_fabric_translate (s.f, s.w1, s.v3 + 2 * MIB, &t, &error),
         NOT_FOUND, "'w1'");
  FAILS (asm_fabric_translate (s.f, s.w1, 0, &t, &error), NOT_FOUND, "0x0");
  FAILS (asm_fabric_translate (s.f, s.w1, G_MAXUINT64, &t, &error),
         NOT_FOUND, "0xffffffffffffffff");
  FAILS (asm_fabric_translate (s.f, s.w2, s.v3, &t, &error), NOT_FOUND,
         "'w2'");
  assert_int_equal (s.v1, VIRT0);
  assert_int_equal (s.v2, VIRT0);
  assert_int_equal (s.v3, 2 * VIRT0);
  XLATE_IS (s.f, s.w1, s.v1, s.p1, s.a, BASE, s.e1, 0);
  XLATE_IS (s.f, s.w1, s.v1 + MIB - 1, s.p1, s.a, BASE + MIB - 1, s.e1,
            MIB - 1);
  XLATE_IS (s.f, s.w1, s.v1 + MIB, s.p1, s.a, BASE + MIB, s.vf1, 0);
  XLATE_IS (s.f, s.w1, s.v1 + MIB + 256 * KIB - 1, s.p1, s.a,
            BASE + MIB + 256 * KIB - 1, s.vf1, 256 * KIB - 1);
  XLATE_IS (s.f, s.w1, s.v1 + MIB + 256 * KIB, s.p1, s.a,
            BASE + MIB + 256 * KIB, ASM_ID_NONE, 0);
  XLATE_IS (s.f, s.w1, s.v1 + 4 * MIB - 1, s.p1, s.a, BASE + 4 * MIB - 1,
            ASM_ID_NONE, 0);
  XLATE_IS (s.f, s.w2, s.v2 + 3, s.p2, s.a, BASE + 4 * MIB + 3, s.pf3, 3);
  XLATE_IS (s.f, s.w2, s.v2 + 512 * KIB + 3, s.p2, s.a,
            BASE + 4 * MIB + 512 * KIB + 3, s.vf3, 3);
  XLATE_IS (s.f, s.w1, s.v3, s.p3, s.a, BASE + 8 * MIB, ASM_ID_NONE, 0);
  XLATE_IS (s.f, s.w1, s.v3 + 2 * MIB - 1, s.p3, s.a, BASE + 10 * MIB - 1,
            ASM_ID_NONE, 0);
  scene_clear (&s);
}

static void
test_release (void **state)
{
  Scene s;
  EvLog ev;
  Snap snap;
  AsmArenaStats st, st0;
  AsmSwitchInfo si;
  AsmTranslation t;
  AsmPartitionInfo pi;
  g_autoptr (GArray) parts = NULL;
  AsmId pc;
  guint64 virt;

  scene_build (&s, NULL);
  evlog_init (&ev);
  asm_fabric_add_observer (s.f, record_event, &ev);
  asm_fabric_get_global_stats (s.f, &st0);
  assert_int_equal (st0.n_allocated, 3);

  /* P3 was alone in A's second window: the window goes back */
  OK (asm_fabric_release_partition (s.f, s.p3, &error));
  asm_fabric_get_global_stats (s.f, &st);
  assert_int_equal (st.n_allocated, 2);
  assert_int_equal (st.allocated_units, st0.allocated_units - 8 * MIB);
  assert_int_equal (st.free_units, st0.free_units + 8 * MIB);
  si = SINFO (s.f, s.a);
  assert_int_equal (si.n_windows, 1);
  assert_int_equal (si.window_bytes, 8 * MIB);
  assert_int_equal (si.table_used, 2);
  assert_int_equal (si.n_partitions, 2);
  assert_int_equal (si.bandwidth_used, 2000);
  assert_false (asm_fabric_get_partition_info (s.f, s.p3, &pi));
  assert_false (xlat_has (s.f, s.a, s.p3));
  FAILS (asm_fabric_translate (s.f, s.w1, s.v3, &t, &error), NOT_FOUND,
         "no partition");
  parts = asm_fabric_list (s.f, ASM_FABRIC_PARTITIONS);
  assert_int_equal (parts->len, 2);
  assert_int_equal (ev.events->len, 2);
  assert_int_equal (g_array_index (ev.events, Ev, 0).kind,
                    ASM_EVENT_PARTITION_RELEASED);
  assert_int_equal (g_array_index (ev.events, Ev, 0).partition, s.p3);
  assert_int_equal (g_array_index (ev.events, Ev, 1).kind,
                    ASM_EVENT_WINDOW_SHRUNK);
  assert_int_equal (g_array_index (ev.events, Ev, 1).range.first,
                    BASE + 8 * MIB);
  assert_int_equal (g_array_index (ev.events, Ev, 1).range.last,
                    BASE + 16 * MIB - 1);
  CONSISTENT (s.f, s.sim);

  /* P1's devices are unmapped but stay bound */
  OK (asm_fabric_release_partition (s.f, s.p1, &error));
  assert_int_equal (DINFO (s.f, s.e1).partition, ASM_ID_NONE);
  assert_int_equal (DINFO (s.f, s.e1).switch_id, s.a);
  assert_int_equal (DINFO (s.f, s.e1).port, 0);
  assert_int_equal (DINFO (s.f, s.vf1).partition, ASM_ID_NONE);
  assert_int_equal (SINFO (s.f, s.a).table_used, 1);
  assert_int_equal (SINFO (s.f, s.a).n_windows, 1);
  CONSISTENT (s.f, s.sim);
  /* they can be mapped again, and the virtual space is reused */
  pc = REQUEST (s.f, s.w1, 2 * MIB, s.a, 0, &virt);
  assert_int_equal (virt, VIRT0);
  assert_int_equal (MAP (s.f, pc, s.vf1), 0);
  OK (asm_fabric_release_partition (s.f, pc, &error));
  OK (asm_fabric_release_partition (s.f, s.p2, &error));
  assert_int_equal (SINFO (s.f, s.a).n_windows, 0);
  asm_fabric_get_global_stats (s.f, &st);
  assert_int_equal (st.n_allocated, 1);
  CONSISTENT (s.f, s.sim);

  /* a pinned switch keeps its window */
  pc = REQUEST (s.f, s.w1, 2 * MIB, s.c, 0, NULL);
  OK (asm_fabric_release_partition (s.f, pc, &error));
  assert_int_equal (SINFO (s.f, s.c).n_windows, 1);
  assert_int_equal (SINFO (s.f, s.c).window_bytes, 64 * MIB);
  asm_fabric_get_global_stats (s.f, &st);
  assert_int_equal (st.n_allocated, 1);

  evlog_reset (&ev);
  snap_take (s.f, &snap);
  FAILS (asm_fabric_release_partition (s.f, 99, &error), NOT_FOUND,
         "partition 99");
  FAILS (asm_fabric_release_partition (s.f, s.p1, &error), NOT_FOUND,
         "partition 13");
  UNCHANGED (s.f, &snap);
  snap_clear (&snap);
  assert_int_equal (ev.events->len, 0);
  assert_string_equal (ev.problems->str, "");
  CONSISTENT (s.f, s.sim);
  evlog_clear (&ev);
  scene_clear (&s);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_new_errors),
    cmocka_unit_test (test_add_switch),
    cmocka_unit_test (test_add_window),
    cmocka_unit_test (test_add_device),
    cmocka_unit_test (test_sriov),
    cmocka_unit_test (test_workloads),
    cmocka_unit_test (test_request_partition),
    cmocka_unit_test (test_map_device),
    cmocka_unit_test (test_translate),
    cmocka_unit_test (test_release),
  };

  return cmocka_run_group_tests_name ("fabric-topology", tests, NULL, NULL);
}
