/* test-lifecycle.c: everything that arrives can leave
 *
 * The fabric's lifecycle operations one by one (unmap, shrink, destroy a
 * VF, remove a device, drain and remove a switch, end a workload, migrate
 * a workload), each refusal checked to leave asm_fabric_save() byte for
 * byte what it was; the root complex's map; the placement score's latency
 * term; the driver's view of a VF transfer; rebalance that shrinks and
 * moves; the profiler sampling the simulator's counters; and a 16-switch
 * fabric of 1,000 partitions drained down to one switch and refilled with
 * nothing leaked.  The fault matrix and crash recovery of the new
 * operations are in test-fabric-undo.c with the others.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "asm-test.h"

#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define GIB (G_GUINT64_CONSTANT (1) << 30)
#define GRAN (2 * MIB)
#define BASE (G_GUINT64_CONSTANT (1) << 32)

/* ---------------------------------------------------------------------- */
/* helpers                                                                */
/* ---------------------------------------------------------------------- */

typedef struct {
  AsmBackend *sim;
  AsmFabric *f;
} Fab;

static void
fab_init (Fab *x, guint64 global_size, guint64 window)
{
  g_autoptr (GError) error = NULL;

  x->sim = asm_sim_backend_new ();
  x->f = asm_fabric_new ("life", BASE, BASE + global_size - 1, GRAN, x->sim,
                         &error);
  g_assert_no_error (error);
  g_assert_true (asm_fabric_set_window_granule (x->f, window, NULL));
}

static void
fab_clear (Fab *x)
{
  g_clear_pointer (&x->f, asm_fabric_unref);
  g_clear_pointer (&x->sim, asm_backend_unref);
}

/* the model's invariants hold and the simulated hardware matches them */
static void
consistent_at (Fab *x, const char *file, int line)
{
  g_autoptr (GError) error = NULL;

  if (!asm_fabric_check (x->f, &error))
    FAIL_AT (file, line, "check: %s", error->message);
  if (!asm_sim_verify (x->sim, x->f, &error))
    FAIL_AT (file, line, "verify: %s", error->message);
}
#define CONSISTENT(x) consistent_at ((x), __FILE__, __LINE__)

static AsmId
sw_at (Fab *x, const char *name, guint64 bw, guint32 lat, guint32 cap,
       guint32 ports, gboolean pinned, const char *file, int line)
{
  AsmSwitchSpec spec = { name, bw, lat, cap, ports, pinned };
  g_autoptr (GError) error = NULL;
  AsmId id = 0;

  if (!asm_fabric_add_switch (x->f, &spec, &id, &error))
    FAIL_AT (file, line, "add_switch %s: %s", name, error->message);
  return id;
}
#define SWITCH(x, name, bw, lat, cap, ports, pinned)                          \
  sw_at ((x), (name), (bw), (lat), (cap), (ports), (pinned), __FILE__,       \
         __LINE__)

static AsmId
dev_at (Fab *x, const char *name, AsmDeviceKind kind, guint64 bar, AsmId sw,
        guint32 port, const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  AsmId id = 0;

  if (!asm_fabric_add_device (x->f, name, kind, bar, sw, port, &id, &error))
    FAIL_AT (file, line, "add_device %s: %s", name, error->message);
  return id;
}
#define DEVICE(x, name, kind, bar, sw, port)                                  \
  dev_at ((x), (name), (kind), (bar), (sw), (port), __FILE__, __LINE__)

static AsmId
wl_at (Fab *x, const char *name, const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  AsmId id = 0;

  if (!asm_fabric_add_workload (x->f, name, &id, &error))
    FAIL_AT (file, line, "add_workload %s: %s", name, error->message);
  return id;
}
#define WORKLOAD(x, name) wl_at ((x), (name), __FILE__, __LINE__)

static AsmId
req_at (Fab *x, AsmId w, guint64 size, AsmId pref, guint64 demand,
        const char *file, int line)
{
  AsmPartitionRequest req = { .size = size, .preferred_switch = pref,
                              .bandwidth_demand = demand };
  g_autoptr (GError) error = NULL;
  AsmId id = 0;

  if (!asm_fabric_request_partition (x->f, w, &req, &id, NULL, &error))
    FAIL_AT (file, line, "request_partition: %s", error->message);
  return id;
}
#define REQUEST(x, w, size, pref, demand)                                     \
  req_at ((x), (w), (size), (pref), (demand), __FILE__, __LINE__)

static AsmPartitionInfo
pinfo (Fab *x, AsmId p)
{
  AsmPartitionInfo pi;
  g_assert_true (asm_fabric_get_partition_info (x->f, p, &pi));
  return pi;
}

static AsmSwitchInfo
sinfo (Fab *x, AsmId s)
{
  AsmSwitchInfo si;
  g_assert_true (asm_fabric_get_switch_info (x->f, s, &si));
  return si;
}

/* REFUSED (x, expr, CODE, "text"): expr fails as FAILS says, and the
 * fabric's saved state is byte for byte what it was */
#define REFUSED(x, expr, ecode, text)                                         \
  G_STMT_START                                                                \
  {                                                                           \
    g_autofree char *_before = asm_fabric_save ((x)->f, NULL);                \
    g_autofree char *_after = NULL;                                           \
    FAILS (expr, ecode, text);                                                \
    _after = asm_fabric_save ((x)->f, NULL);                                  \
    if (strcmp (_before, _after) != 0)                                        \
      FAIL_AT (__FILE__, __LINE__, "%s changed the fabric", #expr);           \
  }                                                                           \
  G_STMT_END

/* the root map is exactly the switches' windows, in address order */
static void
root_map_at (Fab *x, const char *file, int line)
{
  g_autoptr (GArray) routes = asm_fabric_get_root_map (x->f);
  g_autoptr (GArray) sws = asm_fabric_list (x->f, ASM_FABRIC_SWITCHES);
  guint n = 0;

  for (guint i = 1; i < routes->len; i++)
    if (g_array_index (routes, AsmRootRoute, i - 1).last >=
        g_array_index (routes, AsmRootRoute, i).first)
      FAIL_AT (file, line, "root map: routes %u and %u overlap or are out "
               "of order", i - 1, i);
  for (guint i = 0; i < sws->len; i++)
    {
      AsmId id = g_array_index (sws, AsmId, i);
      g_autoptr (GArray) w = asm_fabric_get_switch_windows (x->f, id);
      for (guint j = 0; j < w->len; j++)
        {
          AsmRange r = g_array_index (w, AsmRange, j);
          gboolean found = FALSE;
          for (guint k = 0; k < routes->len; k++)
            {
              AsmRootRoute *rr = &g_array_index (routes, AsmRootRoute, k);
              found |= rr->first == r.first && rr->last == r.last &&
                       rr->switch_id == id;
            }
          if (!found)
            FAIL_AT (file, line, "root map: switch %u's window 0x%"
                     G_GINT64_MODIFIER "x is not routed to it", id, r.first);
          n++;
        }
    }
  if (n != routes->len)
    FAIL_AT (file, line, "root map: %u routes for %u windows", routes->len,
             n);
}
#define ROOT_MAP_EXACT(x) root_map_at ((x), __FILE__, __LINE__)

static guint64
global_free (Fab *x)
{
  AsmArenaStats st;
  asm_fabric_get_global_stats (x->f, &st);
  return st.free_units;
}

/* ---------------------------------------------------------------------- */
/* one operation at a time                                                */
/* ---------------------------------------------------------------------- */

static void
test_unmap_device (void **state)
{
  Fab x;
  AsmId a, w, p, e1, e2, other;
  AsmTranslation t;
  guint64 virt;
  guint32 gen;

  fab_init (&x, GIB, 64 * MIB);
  a = SWITCH (&x, "A", 10000, 100, 8, 8, FALSE);
  e1 = DEVICE (&x, "e1", ASM_DEVICE_ENDPOINT, MIB, a, 0);
  e2 = DEVICE (&x, "e2", ASM_DEVICE_ENDPOINT, MIB, a, 1);
  w = WORKLOAD (&x, "w");
  p = REQUEST (&x, w, 8 * MIB, a, 0);
  other = REQUEST (&x, w, 4 * MIB, a, 0);
  OK (asm_fabric_map_device (x.f, p, e1, NULL, &error));
  OK (asm_fabric_map_device (x.f, p, e2, NULL, &error));
  virt = pinfo (&x, p).virt_first;
  OK (asm_fabric_translate (x.f, w, virt + 16, &t, &error));
  assert_int_equal (t.device, e1);
  gen = t.generation;

  REFUSED (&x, asm_fabric_unmap_device (x.f, 999, e1, &error), NOT_FOUND,
           "partition 999");
  REFUSED (&x, asm_fabric_unmap_device (x.f, p, 999, &error), NOT_FOUND,
           "device 999");
  REFUSED (&x, asm_fabric_unmap_device (x.f, other, e1, &error), NOT_FOUND,
           "does not hold device 'e1'");

  OK (asm_fabric_unmap_device (x.f, p, e1, &error));
  OK (asm_fabric_translate (x.f, w, virt + 16, &t, &error));
  assert_int_equal (t.device, ASM_ID_NONE);
  assert_true (t.generation != gen);
  OK (asm_fabric_translate (x.f, w, virt + MIB + 16, &t, &error));
  assert_int_equal (t.device, e2); /* the other device stays where it was */
  assert_int_equal (pinfo (&x, p).n_devices, 1);
  REFUSED (&x, asm_fabric_unmap_device (x.f, p, e1, &error), NOT_FOUND,
           "does not hold");
  /* an unmapped device can be mapped again */
  OK (asm_fabric_map_device (x.f, other, e1, NULL, &error));
  CONSISTENT (&x);
  fab_clear (&x);
}

static void
test_shrink_partition (void **state)
{
  Fab x;
  AsmId a, w, p, e1, e2;
  AsmPartitionInfo before, after;
  AsmSwitchInfo sb, sa;

  fab_init (&x, GIB, 64 * MIB);
  a = SWITCH (&x, "A", 10000, 100, 8, 8, FALSE);
  e1 = DEVICE (&x, "e1", ASM_DEVICE_ENDPOINT, MIB, a, 0);
  e2 = DEVICE (&x, "e2", ASM_DEVICE_ENDPOINT, 4 * MIB, a, 1);
  w = WORKLOAD (&x, "w");
  p = REQUEST (&x, w, 16 * MIB, a, 0);
  OK (asm_fabric_map_device (x.f, p, e1, NULL, &error));  /* 0..1M */
  OK (asm_fabric_map_device (x.f, p, e2, NULL, &error));  /* 4M..8M */
  before = pinfo (&x, p);
  sb = sinfo (&x, a);

  REFUSED (&x, asm_fabric_shrink_partition (x.f, p, 16 * MIB, &error),
           INVALID, "not below");
  REFUSED (&x, asm_fabric_shrink_partition (x.f, p, 32 * MIB, &error),
           INVALID, "not below");
  REFUSED (&x, asm_fabric_shrink_partition (x.f, p, 3 * MIB, &error),
           INVALID, "multiple of the granule");
  REFUSED (&x, asm_fabric_shrink_partition (x.f, p, 0, &error), INVALID,
           "0x0");
  REFUSED (&x, asm_fabric_shrink_partition (x.f, p, 6 * MIB, &error),
           IN_USE, "device 'e2'");
  REFUSED (&x, asm_fabric_shrink_partition (x.f, 77, 2 * MIB, &error),
           NOT_FOUND, "partition 77");

  OK (asm_fabric_shrink_partition (x.f, p, 8 * MIB, &error));
  after = pinfo (&x, p);
  assert_int_equal (after.size, 8 * MIB);
  assert_int_equal (after.phys_first, before.phys_first);
  assert_int_equal (after.virt_first, before.virt_first);
  assert_int_equal (after.switch_id, a);
  sa = sinfo (&x, a);
  assert_int_equal (sa.free_bytes, sb.free_bytes + 8 * MIB);
  {
    AsmTranslation t;
    OK (asm_fabric_translate (x.f, w, before.virt_first + 4 * MIB + 1, &t,
                              &error));
    assert_int_equal (t.device, e2);
    FAILS (asm_fabric_translate (x.f, w, before.virt_first + 8 * MIB, &t,
                                 &error), NOT_FOUND, "no partition");
  }
  /* the space given back is placed again, and grows back in place */
  OK (asm_fabric_grow_partition (x.f, p, 16 * MIB, &error));
  assert_int_equal (pinfo (&x, p).phys_first, before.phys_first);
  CONSISTENT (&x);
  ROOT_MAP_EXACT (&x);
  fab_clear (&x);
}

static void
test_destroy_vf_remove_device (void **state)
{
  Fab x;
  AsmId a, w, p, pf, vf, e1, e2;
  AsmDeviceInfo di;

  fab_init (&x, GIB, 64 * MIB);
  a = SWITCH (&x, "A", 10000, 100, 8, 8, FALSE);
  pf = DEVICE (&x, "pf", ASM_DEVICE_PF, MIB, a, 0);
  e1 = DEVICE (&x, "e1", ASM_DEVICE_ENDPOINT, MIB, a, 1);
  e2 = DEVICE (&x, "e2", ASM_DEVICE_ENDPOINT, MIB, a, 2);
  OK (asm_fabric_set_sriov (x.f, pf, 4, MIB, &error));
  OK (asm_fabric_create_vf (x.f, pf, &vf, &error));
  w = WORKLOAD (&x, "w");
  p = REQUEST (&x, w, 8 * MIB, a, 0);
  OK (asm_fabric_map_device (x.f, p, vf, NULL, &error));
  OK (asm_fabric_map_device (x.f, p, e1, NULL, &error));

  REFUSED (&x, asm_fabric_destroy_vf (x.f, vf, &error), IN_USE,
           "mapped into partition");
  REFUSED (&x, asm_fabric_destroy_vf (x.f, e2, &error), INVALID,
           "is not a VF");
  REFUSED (&x, asm_fabric_destroy_vf (x.f, 999, &error), NOT_FOUND,
           "device 999");
  REFUSED (&x, asm_fabric_remove_device (x.f, pf, &error), IN_USE,
           "still has 1 VFs");
  REFUSED (&x, asm_fabric_remove_device (x.f, e1, &error), IN_USE,
           "mapped into partition");
  REFUSED (&x, asm_fabric_remove_device (x.f, vf, &error), INVALID,
           "asm_fabric_destroy_vf");
  REFUSED (&x, asm_fabric_remove_device (x.f, 999, &error), NOT_FOUND,
           "device 999");

  OK (asm_fabric_unmap_device (x.f, p, vf, &error));
  OK (asm_fabric_destroy_vf (x.f, vf, &error));
  assert_false (asm_fabric_get_device_info (x.f, vf, &di));
  /* its index is free again: the next VF takes it */
  {
    AsmId vf2;
    OK (asm_fabric_create_vf (x.f, pf, &vf2, &error));
    assert_true (asm_fabric_get_device_info (x.f, vf2, &di));
    assert_int_equal (di.vf_index, 0);
    OK (asm_fabric_destroy_vf (x.f, vf2, &error));
  }
  OK (asm_fabric_remove_device (x.f, pf, &error));
  OK (asm_fabric_remove_device (x.f, e2, &error));
  assert_false (asm_fabric_get_device_info (x.f, pf, &di));
  assert_int_equal (sinfo (&x, a).n_ports_used, 1);
  /* the port is free for a new device */
  DEVICE (&x, "e3", ASM_DEVICE_ENDPOINT, MIB, a, 0);
  CONSISTENT (&x);
  fab_clear (&x);
}

static void
test_drain_and_remove_switch (void **state)
{
  Fab x;
  AsmId a, b, c, w, p1, p2, p3, e1, e2;
  guint64 free0;
  AsmTranslation t;
  guint64 v1;

  fab_init (&x, GIB, 64 * MIB);
  free0 = global_free (&x);
  a = SWITCH (&x, "A", 10000, 100, 8, 8, FALSE);
  b = SWITCH (&x, "B", 10000, 100, 8, 8, FALSE);
  c = SWITCH (&x, "C", 10000, 100, 8, 8, FALSE);
  e1 = DEVICE (&x, "e1", ASM_DEVICE_ENDPOINT, MIB, a, 0);
  e2 = DEVICE (&x, "e2", ASM_DEVICE_ENDPOINT, MIB, a, 1);
  w = WORKLOAD (&x, "w");
  p1 = REQUEST (&x, w, 8 * MIB, a, 100);
  p2 = REQUEST (&x, w, 8 * MIB, a, 100);
  p3 = REQUEST (&x, w, 4 * MIB, b, 100);
  OK (asm_fabric_map_device (x.f, p1, e1, NULL, &error));
  v1 = pinfo (&x, p1).virt_first;
  ROOT_MAP_EXACT (&x);

  REFUSED (&x, asm_fabric_remove_switch (x.f, a, &error), IN_USE,
           "still has 2 partitions");
  REFUSED (&x, asm_fabric_drain_switch (x.f, 99, &error), NOT_FOUND,
           "switch 99");

  OK (asm_fabric_drain_switch (x.f, a, &error));
  assert_true (sinfo (&x, a).draining);
  assert_int_equal (sinfo (&x, a).n_windows, 0);
  assert_int_equal (sinfo (&x, a).n_partitions, 0);
  assert_true (pinfo (&x, p1).switch_id != a);
  assert_true (pinfo (&x, p2).switch_id != a);
  assert_int_equal (pinfo (&x, p1).virt_first, v1);
  /* the mapped device moved with its partition, the other stayed bound */
  {
    AsmDeviceInfo di;
    g_assert_true (asm_fabric_get_device_info (x.f, e1, &di));
    assert_int_equal (di.switch_id, pinfo (&x, p1).switch_id);
    g_assert_true (asm_fabric_get_device_info (x.f, e2, &di));
    assert_int_equal (di.switch_id, a);
  }
  OK (asm_fabric_translate (x.f, w, v1, &t, &error));
  assert_int_equal (t.device, e1);
  ROOT_MAP_EXACT (&x);
  CONSISTENT (&x);

  /* placement never picks it again, even preferred; nothing moves onto it */
  {
    AsmId p4 = REQUEST (&x, w, 2 * MIB, a, 0);
    assert_true (pinfo (&x, p4).switch_id != a);
  }
  REFUSED (&x, asm_fabric_migrate_partition (x.f, p3, a, &error), INVALID,
           "draining");
  REFUSED (&x, asm_fabric_migrate_workload (x.f, w, a, &error), INVALID,
           "draining");

  /* nothing is placed on it another way either */
  REFUSED (&x, asm_fabric_add_window (x.f, a, BASE + 512 * MIB,
                                      BASE + 576 * MIB - 1, &error),
           INVALID, "draining");
  REFUSED (&x, asm_fabric_remove_switch (x.f, a, &error), IN_USE,
           "1 bound devices");
  OK (asm_fabric_remove_device (x.f, e2, &error));
  OK (asm_fabric_remove_switch (x.f, a, &error));
  {
    AsmSwitchInfo si;
    AsmId found;
    assert_false (asm_fabric_get_switch_info (x.f, a, &si));
    assert_false (asm_fabric_find_switch (x.f, "A", &found));
  }
  REFUSED (&x, asm_fabric_remove_switch (x.f, a, &error), NOT_FOUND,
           "switch");
  /* the name may come back (as a new switch) */
  {
    AsmId a2 = SWITCH (&x, "A", 10000, 100, 8, 8, FALSE);
    assert_true (a2 != a);
  }
  ROOT_MAP_EXACT (&x);
  CONSISTENT (&x);

  /* remove the rest: every byte of the global space comes back */
  OK (asm_fabric_remove_workload (x.f, w, &error));
  assert_int_equal (global_free (&x), free0);
  (void) c;
  CONSISTENT (&x);
  fab_clear (&x);
}

/* A drain that cannot place a partition changes nothing and names it. */
static void
test_drain_no_space (void **state)
{
  Fab x;
  AsmId a, b, w, p1, p2;

  fab_init (&x, GIB, 16 * MIB);
  a = SWITCH (&x, "A", 10000, 100, 8, 8, FALSE);
  b = SWITCH (&x, "B", 10000, 100, 1, 8, FALSE); /* one entry only */
  w = WORKLOAD (&x, "w");
  p1 = REQUEST (&x, w, 4 * MIB, a, 0);
  p2 = REQUEST (&x, w, 4 * MIB, a, 0);
  REFUSED (&x, asm_fabric_drain_switch (x.f, a, &error), NO_SPACE,
           "partition");
  assert_false (sinfo (&x, a).draining);
  assert_int_equal (pinfo (&x, p1).switch_id, a);
  assert_int_equal (pinfo (&x, p2).switch_id, a);
  (void) b;
  CONSISTENT (&x);
  fab_clear (&x);
}

/* A pinned switch gives its windows back too when drained. */
static void
test_drain_pinned (void **state)
{
  Fab x;
  AsmId a, b, w, p;
  guint64 free_before;

  fab_init (&x, GIB, 16 * MIB);
  a = SWITCH (&x, "A", 10000, 100, 8, 8, TRUE);
  b = SWITCH (&x, "B", 10000, 100, 8, 8, FALSE);
  free_before = global_free (&x);
  OK (asm_fabric_add_window (x.f, a, BASE, BASE + 32 * MIB - 1, &error));
  w = WORKLOAD (&x, "w");
  p = REQUEST (&x, w, 4 * MIB, a, 0);
  OK (asm_fabric_drain_switch (x.f, a, &error));
  assert_int_equal (pinfo (&x, p).switch_id, b);
  assert_int_equal (sinfo (&x, a).n_windows, 0);
  OK (asm_fabric_release_partition (x.f, p, &error));
  assert_int_equal (global_free (&x), free_before);
  OK (asm_fabric_remove_switch (x.f, a, &error));
  ROOT_MAP_EXACT (&x);
  CONSISTENT (&x);
  fab_clear (&x);
}

/* Two switches A and B, an SR-IOV PF on each, and a VF of A's PF mapped
 * in a partition of workload w on A: where a VF transfer starts. */
typedef struct {
  AsmId a, b, pf1, pf2, vf, w, p;
} VfFix;

static void
vf_fixture (Fab *x, VfFix *v)
{
  fab_init (x, GIB, 16 * MIB);
  v->a = SWITCH (x, "A", 10000, 100, 8, 8, FALSE);
  v->b = SWITCH (x, "B", 10000, 100, 8, 8, FALSE);
  v->pf1 = DEVICE (x, "pf1", ASM_DEVICE_PF, MIB, v->a, 0);
  v->pf2 = DEVICE (x, "pf2", ASM_DEVICE_PF, MIB, v->b, 0);
  OK (asm_fabric_set_sriov (x->f, v->pf1, 4, MIB, &error));
  OK (asm_fabric_set_sriov (x->f, v->pf2, 4, MIB, &error));
  OK (asm_fabric_create_vf (x->f, v->pf1, &v->vf, &error));
  v->w = WORKLOAD (x, "w");
  v->p = REQUEST (x, v->w, 4 * MIB, v->a, 0);
  OK (asm_fabric_map_device (x->f, v->p, v->vf, NULL, &error));
}

/* A VF is not transferred to a PF behind a draining switch: its redirect
 * would put a window and an entry there. */
static void
test_drain_refuses_vf_redirect (void **state)
{
  Fab x;
  VfFix v;

  vf_fixture (&x, &v);
  OK (asm_fabric_drain_switch (x.f, v.b, &error));
  REFUSED (&x, asm_fabric_transfer_vf (x.f, v.vf, v.pf2, NULL, &error),
           INVALID, "'B', which is draining");
  CONSISTENT (&x);
  fab_clear (&x);
}

static void
test_remove_workload (void **state)
{
  Fab x;
  AsmId a, b, w, w2, e1, keep;
  guint64 free0;
  AsmDeviceInfo di;
  g_autoptr (GArray) wls = NULL;

  fab_init (&x, GIB, 16 * MIB);
  free0 = global_free (&x);
  a = SWITCH (&x, "A", 10000, 100, 8, 8, FALSE);
  b = SWITCH (&x, "B", 10000, 100, 8, 8, FALSE);
  e1 = DEVICE (&x, "e1", ASM_DEVICE_ENDPOINT, MIB, a, 0);
  w = WORKLOAD (&x, "w");
  w2 = WORKLOAD (&x, "w2");
  for (guint i = 0; i < 5; i++)
    {
      AsmId p = REQUEST (&x, w, 4 * MIB, i % 2 ? a : b, 10);
      if (i == 0)
        OK (asm_fabric_map_device (x.f, p, e1, NULL, &error));
    }
  keep = REQUEST (&x, w2, 2 * MIB, a, 0);

  REFUSED (&x, asm_fabric_remove_workload (x.f, 999, &error), NOT_FOUND,
           "workload 999");
  OK (asm_fabric_remove_workload (x.f, w, &error));
  wls = asm_fabric_list (x.f, ASM_FABRIC_WORKLOADS);
  assert_int_equal (wls->len, 1);
  assert_int_equal (g_array_index (wls, AsmId, 0), w2);
  g_assert_true (asm_fabric_get_device_info (x.f, e1, &di));
  assert_int_equal (di.partition, ASM_ID_NONE);
  assert_int_equal (sinfo (&x, a).n_partitions, 1);
  assert_int_equal (sinfo (&x, b).n_partitions, 0);
  assert_int_equal (sinfo (&x, b).n_windows, 0); /* reclaimed */
  {
    AsmTranslation t;
    FAILS (asm_fabric_translate (x.f, w, pinfo (&x, keep).virt_first, &t,
                                 &error), NOT_FOUND, "workload");
  }
  OK (asm_fabric_release_partition (x.f, keep, &error));
  assert_int_equal (global_free (&x), free0);
  ROOT_MAP_EXACT (&x);
  CONSISTENT (&x);
  fab_clear (&x);
}

static void
test_migrate_workload (void **state)
{
  Fab x;
  AsmId a, b, c, full, w, p[3];
  guint64 virt[3];

  fab_init (&x, GIB, 16 * MIB);
  a = SWITCH (&x, "A", 10000, 100, 8, 8, FALSE);
  b = SWITCH (&x, "B", 10000, 100, 8, 8, FALSE);
  c = SWITCH (&x, "C", 10000, 100, 8, 8, FALSE);
  full = SWITCH (&x, "F", 10000, 100, 2, 8, FALSE); /* room for 2 entries */
  w = WORKLOAD (&x, "w");
  p[0] = REQUEST (&x, w, 4 * MIB, a, 10);
  p[1] = REQUEST (&x, w, 4 * MIB, b, 10);
  p[2] = REQUEST (&x, w, 4 * MIB, c, 10);
  for (guint i = 0; i < 3; i++)
    virt[i] = pinfo (&x, p[i]).virt_first;

  REFUSED (&x, asm_fabric_migrate_workload (x.f, 999, b, &error), NOT_FOUND,
           "workload 999");
  REFUSED (&x, asm_fabric_migrate_workload (x.f, w, 999, &error), NOT_FOUND,
           "switch 999");
  /* all or none: F takes two of the three */
  REFUSED (&x, asm_fabric_migrate_workload (x.f, w, full, &error), NO_SPACE,
           "'F'");

  OK (asm_fabric_migrate_workload (x.f, w, b, &error));
  for (guint i = 0; i < 3; i++)
    {
      assert_int_equal (pinfo (&x, p[i]).switch_id, b);
      assert_int_equal (pinfo (&x, p[i]).virt_first, virt[i]);
    }
  assert_int_equal (sinfo (&x, a).n_windows, 0);
  OK (asm_fabric_migrate_workload (x.f, w, ASM_ID_NONE, &error));
  {
    AsmId on = pinfo (&x, p[0]).switch_id;
    for (guint i = 1; i < 3; i++)
      assert_int_equal (pinfo (&x, p[i]).switch_id, on);
  }
  ROOT_MAP_EXACT (&x);
  CONSISTENT (&x);
  fab_clear (&x);
}

/* ---------------------------------------------------------------------- */
/* placement, drivers, rebalance, profiler                                */
/* ---------------------------------------------------------------------- */

/* The latency term weighs what the documentation says: 1 us costs 0.1 of
 * score.  Two switches with equal windows, equally used; 100 ns "fast" has
 * 2 % of its bandwidth promised, 5 us "slow" none.  fast scores
 * 0.4 F + 0.4 * 0.98 + 0.2 - 0.01, slow 0.4 F + 0.4 + 0.2 - 0.5: fast wins
 * by 0.48.  (When latency was divided by 10^6, slow won by 0.003.) */
static void
test_score_latency (void **state)
{
  Fab x;
  AsmId slow, fast, w, p;

  fab_init (&x, 16 * GIB, 64 * MIB);
  slow = SWITCH (&x, "slow", 10000, 5000, 64, 8, FALSE);
  fast = SWITCH (&x, "fast", 10000, 100, 64, 8, FALSE);
  w = WORKLOAD (&x, "w");
  assert_int_equal (pinfo (&x, REQUEST (&x, w, 2 * MIB, slow, 0)).switch_id,
                    slow);
  assert_int_equal (pinfo (&x, REQUEST (&x, w, 2 * MIB, fast, 200)).switch_id,
                    fast);
  p = REQUEST (&x, w, 2 * MIB, ASM_ID_NONE, 0);
  assert_int_equal (pinfo (&x, p).switch_id, fast);
  /* a latency bound excludes the slow switch outright */
  {
    AsmPartitionRequest req = { .size = 2 * MIB, .max_latency_ns = 1000,
                                .preferred_switch = slow };
    AsmId q;
    OK (asm_fabric_request_partition (x.f, w, &req, &q, NULL, &error));
    assert_int_equal (pinfo (&x, q).switch_id, fast);
  }
  CONSISTENT (&x);
  fab_clear (&x);
}

typedef struct {
  GString *log;
} Drv;

static void
drv_hold (AsmFabric *f, AsmId d, gpointer data)
{
  g_string_append_printf (((Drv *) data)->log, "hold %u; ", d);
}

static void
drv_resume (AsmFabric *f, AsmId d, gpointer data)
{
  g_string_append_printf (((Drv *) data)->log, "resume %u; ", d);
}

static void
drv_moved (AsmFabric *f, AsmId d, AsmId sw, guint64 phys, gpointer data)
{
  g_string_append_printf (((Drv *) data)->log, "moved %u; ", d);
}

static void
drv_vf_moved (AsmFabric *f, AsmId old, AsmId new, AsmId sw, guint64 phys,
              gpointer data)
{
  g_string_append_printf (((Drv *) data)->log, "vf_moved %u->%u; ", old,
                          new);
}

static void
on_event (AsmFabric *f, const AsmFabricEvent *e, gpointer data)
{
  if (e->kind == ASM_EVENT_VF_TRANSFERRED)
    g_string_append_printf (((Drv *) data)->log, "event %u->%u",
                            e->old_device, e->device);
}

static void
test_vf_transfer_identities (void **state)
{
  Fab x;
  VfFix v;
  AsmId nvf;
  AsmDriverFuncs funcs = { drv_hold, drv_resume, drv_moved, drv_vf_moved };
  Drv drv = { g_string_new (NULL) };
  g_autofree char *want = NULL;

  vf_fixture (&x, &v);
  asm_fabric_set_driver_funcs (x.f, &funcs, &drv);
  asm_fabric_add_observer (x.f, on_event, &drv);
  OK (asm_fabric_transfer_vf (x.f, v.vf, v.pf2, &nvf, &error));
  want = g_strdup_printf ("hold %u; vf_moved %u->%u; moved %u; resume %u; "
                          "event %u->%u", v.vf, v.vf, nvf, nvf, nvf, v.vf,
                          nvf);
  assert_string_equal (drv.log->str, want);
  CONSISTENT (&x);
  asm_fabric_set_driver_funcs (x.f, NULL, NULL);
  g_string_free (drv.log, TRUE);
  fab_clear (&x);
}

static void
test_rebalance_shrinks_and_moves (void **state)
{
  Fab x;
  AsmId a, b, w, big, hot[3];
  AsmRebalanceReport rep;

  fab_init (&x, 4 * GIB, 64 * MIB);
  a = SWITCH (&x, "A", 1000, 100, 16, 8, FALSE);
  b = SWITCH (&x, "B", 100000, 100, 16, 8, FALSE);
  w = WORKLOAD (&x, "w");
  big = REQUEST (&x, w, 64 * MIB, a, 0);
  /* the workload uses 8 MiB, steadily: keep 1.25 x 8 = 10 MiB */
  for (guint i = 1; i <= 3; i++)
    OK (asm_fabric_record_usage (x.f, w, i, 8 * MIB, &error));
  /* A carries 950 of its 1000 MB/s: above 90 % */
  {
    AsmId w2 = WORKLOAD (&x, "w2");
    hot[0] = REQUEST (&x, w2, 2 * MIB, a, 500);
    hot[1] = REQUEST (&x, w2, 2 * MIB, a, 300);
    hot[2] = REQUEST (&x, w2, 2 * MIB, a, 150);
  }
  assert_int_equal (sinfo (&x, a).bandwidth_used, 950);
  OK (asm_fabric_rebalance (x.f, 2, &rep, &error));
  assert_int_equal (rep.n_shrunk, 1);
  assert_int_equal (pinfo (&x, big).size, 10 * MIB);
  /* the smallest demand moves first: 150 off makes 800, at most 900 */
  assert_int_equal (rep.n_migrated, 1);
  assert_int_equal (pinfo (&x, hot[2]).switch_id, b);
  assert_int_equal (pinfo (&x, hot[0]).switch_id, a);
  assert_int_equal (pinfo (&x, hot[1]).switch_id, a);
  assert_int_equal (rep.n_failed, 0);
  CONSISTENT (&x);
  fab_clear (&x);
}

static void
test_sample_usage (void **state)
{
  Fab x;
  AsmId a, w, p;
  guint64 first, later;

  fab_init (&x, GIB, 16 * MIB);
  a = SWITCH (&x, "A", 10000, 100, 8, 8, FALSE);
  w = WORKLOAD (&x, "w");
  p = REQUEST (&x, w, 8 * MIB, a, 0);
  if (!(asm_backend_get_caps (x.sim) & ASM_BACKEND_CAP_USAGE))
    {
      fab_clear (&x);
      fail_msg ("the simulator reads no usage counters");
    }
  OK (asm_fabric_sample_usage (x.f, 1, &error));
  OK (asm_fabric_predict (x.f, w, 0, &first, &error));
  OK (asm_fabric_sample_usage (x.f, 2, &error));
  OK (asm_fabric_sample_usage (x.f, 3, &error));
  OK (asm_fabric_predict (x.f, w, 1, &later, &error));
  assert_true (first > 0 && first <= 8 * MIB);
  assert_true (later > first); /* the counters grow; so does the forecast */
  REFUSED (&x, asm_fabric_sample_usage (x.f, 3, &error), INVALID,
           "not after");
  (void) p;
  /* a fabric without a backend has no counters to read */
  {
    g_autoptr (AsmFabric) bare = asm_fabric_new ("bare", BASE, BASE + GIB - 1,
                                                 GRAN, NULL, NULL);
    FAILS (asm_fabric_sample_usage (bare, 1, &error), UNSUPPORTED,
           "asm_fabric_record_usage");
  }
  fab_clear (&x);
}

/* ---------------------------------------------------------------------- */
/* at scale                                                               */
/* ---------------------------------------------------------------------- */

/* 16 switches, 1,000 partitions: drained switch by switch down to one,
 * then refilled onto 15 new switches, then emptied; check and verify after
 * every step; the global space ends as it started. */
static void
test_drain_sixteen (void **state)
{
  Fab x;
  AsmId sw[16], w[10], p[1000], fresh[15];
  guint64 free0;
  guint n_steps = 0;

  fab_init (&x, 64 * GIB, 64 * MIB);
  free0 = global_free (&x);
  for (guint i = 0; i < 16; i++)
    {
      g_autofree char *name = g_strdup_printf ("s%u", i);
      sw[i] = SWITCH (&x, name, 1000000, 100 + i, 2000, 8, FALSE);
    }
  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *name = g_strdup_printf ("w%u", i);
      w[i] = WORKLOAD (&x, name);
    }
  for (guint i = 0; i < 1000; i++)
    p[i] = REQUEST (&x, w[i % 10], 2 * MIB * (1 + i % 3), sw[i % 16], 10);
  CONSISTENT (&x);
  for (guint i = 0; i < 15; i++)
    {
      OK (asm_fabric_drain_switch (x.f, sw[i], &error));
      CONSISTENT (&x);
      ROOT_MAP_EXACT (&x);
      OK (asm_fabric_remove_switch (x.f, sw[i], &error));
      CONSISTENT (&x);
      n_steps += 2;
    }
  assert_int_equal (sinfo (&x, sw[15]).n_partitions, 1000);
  for (guint i = 0; i < 15; i++)
    {
      g_autofree char *name = g_strdup_printf ("n%u", i);
      fresh[i] = SWITCH (&x, name, 1000000, 50, 2000, 8, FALSE);
    }
  for (guint i = 0; i < 1000; i++)
    if (i % 16 != 15)
      {
        OK (asm_fabric_migrate_partition (x.f, p[i], fresh[i % 15], &error));
        CONSISTENT (&x);
        n_steps++;
      }
  CONSISTENT (&x);
  ROOT_MAP_EXACT (&x);
  for (guint i = 0; i < 10; i++)
    {
      OK (asm_fabric_remove_workload (x.f, w[i], &error));
      CONSISTENT (&x);
    }
  for (guint i = 0; i < 15; i++)
    assert_int_equal (sinfo (&x, fresh[i]).n_windows, 0);
  assert_int_equal (global_free (&x), free0);
  print_message ("# drained 15 of 16 switches under 1,000 partitions, "
                 "refilled, emptied: %u steps, nothing leaked\n", n_steps);
  fab_clear (&x);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_unmap_device),
    cmocka_unit_test (test_shrink_partition),
    cmocka_unit_test (test_destroy_vf_remove_device),
    cmocka_unit_test (test_drain_and_remove_switch),
    cmocka_unit_test (test_drain_no_space),
    cmocka_unit_test (test_drain_pinned),
    cmocka_unit_test (test_drain_refuses_vf_redirect),
    cmocka_unit_test (test_remove_workload),
    cmocka_unit_test (test_migrate_workload),
    cmocka_unit_test (test_score_latency),
    cmocka_unit_test (test_vf_transfer_identities),
    cmocka_unit_test (test_rebalance_shrinks_and_moves),
    cmocka_unit_test (test_sample_usage),
    cmocka_unit_test (test_drain_sixteen),
  };
  return cmocka_run_group_tests_name ("lifecycle", tests, NULL, NULL);
}
