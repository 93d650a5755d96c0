/* test-fabric-placement.c: where partitions go, and the profiler (layer 3)
 *
 * The placement policy over the sim backend: the score that picks a switch
 * (latency, bandwidth headroom, free space, whether a window must grow;
 * the window granule it grows by), a preferred switch that does or does
 * not qualify, and the refusal that counts why no switch can hold a
 * request; then what moves partitions later: asm_fabric_record_usage()
 * and asm_fabric_predict() with their errors and Holt's arithmetic worked
 * by hand, the prediction error at horizon 10 printed for five synthetic
 * traces, and asm_fabric_rebalance() growing, shrinking and refusing
 * partitions by their predictions.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include "fabric-test-common.h"

/* ---------------------------------------------------------------------- */
/* Placement                                                              */
/* ---------------------------------------------------------------------- */

static void
test_placement_score (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  AsmPartitionRequest req = { 0 };
  AsmId a, b, c, w, p;

  /* A latency 2000 ns (0.002 of score), B 0, C pinned with room */
  a = SWITCH (f, "A", 1000, 2000, 8, 2, FALSE);
  b = SWITCH (f, "B", 5000, 0, 8, 2, FALSE);
  w = WORKLOAD (f, "w");
  /* a window granule that is not a power of two >= the granule is refused
   * with the value named, and nothing changes */
  FAILS (asm_fabric_set_window_granule (f, 3 * MIB, &error), INVALID,
         "0x300000");
  FAILS (asm_fabric_set_window_granule (f, GRAN / 2, &error), INVALID,
         "power of two");
  OK (asm_fabric_set_window_granule (f, 8 * MIB, &error));

  /* equal but for latency: B */
  p = REQUEST (f, w, 2 * MIB, 0, 0, NULL);
  assert_int_equal (PINFO (f, p).switch_id, b);
  /* B has room now (no growth: +0.2): B again, though A has headroom */
  p = REQUEST (f, w, 2 * MIB, 0, 0, NULL);
  assert_int_equal (PINFO (f, p).switch_id, b);
  assert_int_equal (SINFO (f, b).n_windows, 1);
  /* a qualifying preferred switch wins whatever its score */
  p = REQUEST (f, w, 2 * MIB, a, 0, NULL);
  assert_int_equal (PINFO (f, p).switch_id, a);
  /* a preferred switch that is too slow does not */
  req = (AsmPartitionRequest) { .size = 2 * MIB, .preferred_switch = a,
                                .max_latency_ns = 1000 };
  OK (asm_fabric_request_partition (f, w, &req, &p, NULL, &error));
  assert_int_equal (PINFO (f, p).switch_id, b);
  /* nor one short of bandwidth */
  req = (AsmPartitionRequest) { .size = 2 * MIB, .preferred_switch = a,
                                .min_bandwidth = 2000, .bandwidth_demand = 1 };
  OK (asm_fabric_request_partition (f, w, &req, &p, NULL, &error));
  assert_int_equal (PINFO (f, p).switch_id, b);
  /* demand beyond B's headroom: A, the only one left */
  req = (AsmPartitionRequest) { .size = 2 * MIB, .bandwidth_demand = 5000 };
  FAILS (asm_fabric_request_partition (f, w, &req, &p, NULL, &error),
         NO_SPACE, "0 too slow, 2 short of bandwidth");
  req.bandwidth_demand = 900;
  OK (asm_fabric_request_partition (f, w, &req, &p, NULL, &error));
  assert_int_equal (PINFO (f, p).switch_id, b);
  /* free space balances: a pinned switch with a big window, low latency */
  c = SWITCH (f, "C", 5000, 0, 8, 2, TRUE);
  OK (asm_fabric_add_window (f, c, BASE + 128 * MIB, BASE + 192 * MIB - 1,
                             &error));
  p = REQUEST (f, w, 2 * MIB, 0, 0, NULL);
  assert_int_equal (PINFO (f, p).switch_id, c);
  assert_int_equal (PINFO (f, p).phys_first, BASE + 128 * MIB);
  CONSISTENT (f, sim);
}


static void
test_no_switch_qualifies (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  g_autoptr (AsmBackend) sim2 = asm_sim_backend_new ();
  g_autoptr (AsmFabric) small = FABRIC_NEW (sim2, 8 * MIB);
  AsmPartitionRequest req = { 0 };
  Snap snap;
  AsmId s3, s4, w;

  SWITCH (f, "slow", 10000, 1000, 4, 1, FALSE);
  SWITCH (f, "thin", 100, 0, 4, 1, FALSE);
  s3 = SWITCH (f, "full", 10000, 0, 1, 1, FALSE);
  s4 = SWITCH (f, "pinned", 10000, 0, 4, 1, TRUE);
  OK (asm_fabric_add_window (f, s4, BASE + 64 * MIB, BASE + 66 * MIB - 1,
                             &error));
  w = WORKLOAD (f, "w");
  REQUEST (f, w, 2 * MIB, s3, 0, NULL);
  REQUEST (f, w, 2 * MIB, s4, 0, NULL);
  assert_int_equal (SINFO (f, s3).table_used, 1);
  assert_int_equal (SINFO (f, s4).free_bytes, 0);

  snap_take (f, &snap);
  req = (AsmPartitionRequest) { .size = 4 * MIB, .max_latency_ns = 500,
                                .min_bandwidth = 1000 };
  FAILS (asm_fabric_request_partition (f, w, &req, NULL, NULL, &error),
         NO_SPACE, "no switch can hold 0x400000 bytes: 1 too slow, 1 short "
         "of bandwidth, 1 with a full translation table, 1 without room "
         "(and the global space can grow a window)");
  /* a preferred switch that does not qualify changes nothing */
  req.preferred_switch = s4;
  FAILS (asm_fabric_request_partition (f, w, &req, NULL, NULL, &error),
         NO_SPACE, "1 without room");
  UNCHANGED (f, &snap);
  snap_clear (&snap);
  CONSISTENT (f, sim);

  /* the global space exhausted */
  SWITCH (small, "A", 1000, 0, 4, 1, FALSE);
  w = WORKLOAD (small, "w");
  REQUEST (small, w, 8 * MIB, 0, 0, NULL);
  snap_take (small, &snap);
  req = (AsmPartitionRequest) { .size = 2 * MIB };
  FAILS (asm_fabric_request_partition (small, w, &req, NULL, NULL, &error),
         NO_SPACE, "0 too slow, 0 short of bandwidth, 0 with a full "
         "translation table, 1 without room (and the global space cannot "
         "grow a window)");
  UNCHANGED (small, &snap);
  snap_clear (&snap);
  CONSISTENT (small, sim2);
}

/* ---------------------------------------------------------------------- */
/* The profiler                                                           */
/* ---------------------------------------------------------------------- */

static void
test_profiler_errors (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  Snap snap;
  guint64 v;
  AsmId w, w2;

  w = WORKLOAD (f, "w");
  w2 = WORKLOAD (f, "w2");
  OK (asm_fabric_record_usage (f, w, 1.0, 10, &error));
  snap_take (f, &snap);
  FAILS (asm_fabric_record_usage (f, 99, 2.0, 10, &error), NOT_FOUND,
         "workload 99");
  FAILS (asm_fabric_record_usage (f, w, 1.0, 20, &error), INVALID,
         "sample time 1 is not after the last sample's 1");
  FAILS (asm_fabric_record_usage (f, w, 0.5, 20, &error), INVALID,
         "is not after");
  FAILS (asm_fabric_record_usage (f, w, NAN, 20, &error), INVALID,
         "is not after");
  FAILS (asm_fabric_record_usage (f, w, INFINITY, 20, &error), INVALID,
         "is not after");
  FAILS (asm_fabric_predict (f, w2, 1, &v, &error), INVALID,
         "no usage sample yet");
  FAILS (asm_fabric_predict (f, w, -1, &v, &error), INVALID,
         "the horizon must be >= 0");
  FAILS (asm_fabric_predict (f, w, NAN, &v, &error), INVALID, "horizon");
  FAILS (asm_fabric_predict (f, 99, 1, &v, &error), NOT_FOUND,
         "workload 99");
  UNCHANGED (f, &snap);
  snap_clear (&snap);

  /* Holt, level weight 0.5, trend weight 0.3, trend per time unit */
  assert_int_equal (PREDICT (f, w, 5), 10);
  OK (asm_fabric_record_usage (f, w, 2.0, 20, &error));
  /* the second sample sets level 20 and trend (20 - 10) / 1 */
  assert_int_equal (PREDICT (f, w, 0), 20);
  assert_int_equal (PREDICT (f, w, 3), 50);
  OK (asm_fabric_record_usage (f, w, 3.0, 40, &error));
  /* forecast 30, level 0.5 * 40 + 0.5 * 30 = 35,
   * trend 0.3 * (35 - 20) / 1 + 0.7 * 10 = 11.5 */
  assert_int_equal (PREDICT (f, w, 2), 58);
  /* predictions do not go below 0 */
  OK (asm_fabric_record_usage (f, w2, 0, 1000, &error));
  OK (asm_fabric_record_usage (f, w2, 1, 0, &error));
  assert_int_equal (PREDICT (f, w2, 100), 0);
  CONSISTENT (f, sim);
}

typedef enum {
  TRACE_CONSTANT,
  TRACE_LINEAR,
  TRACE_STEP,
  TRACE_SAWTOOTH,
  TRACE_NOISY_LINEAR,
} TraceKind;

/* bytes used at time t */
static gdouble
trace_value (TraceKind kind, guint t, guint32 *rng)
{
  const gdouble mib = (gdouble) MIB;

  switch (kind)
    {
    case TRACE_CONSTANT:
      return 64 * mib;
    case TRACE_LINEAR:
      return 8 * mib + t * mib;
    case TRACE_STEP:
      return t < 30 ? 32 * mib : 96 * mib;
    case TRACE_SAWTOOTH:
      return 16 * mib + (t % 20) * 4 * mib;
    case TRACE_NOISY_LINEAR:
      {
        gdouble u;
        /* xorshift32: the same noise on every platform */
        *rng ^= *rng << 13;
        *rng ^= *rng >> 17;
        *rng ^= *rng << 5;
        u = (gdouble) *rng / 4294967296.0 * 2 - 1;
        return (8 * mib + t * mib) * (1 + 0.05 * u);
      }
    }
  g_assert_not_reached ();
}

static void
test_profiler_accuracy (void **state)
{
  static const struct {
    TraceKind kind;
    const char *name;
  } traces[] = {
    { TRACE_CONSTANT, "constant" },
    { TRACE_LINEAR, "linear growth" },
    { TRACE_STEP, "step" },
    { TRACE_SAWTOOTH, "sawtooth" },
    { TRACE_NOISY_LINEAR, "noisy linear" },
  };
  const guint n = 60, horizon = 10;
  g_autoptr (AsmFabric) f = FABRIC_NEW (NULL, GLOBAL_SIZE);

  for (guint i = 0; i < G_N_ELEMENTS (traces); i++)
    {
      AsmId w = WORKLOAD (f, traces[i].name);
      guint32 rng = 2463534242u;
      gdouble truth, err;
      guint64 pred;

      for (guint t = 0; t < n; t++)
        OK (asm_fabric_record_usage (f, w, t,
                                     (guint64) trace_value (traces[i].kind,
                                                            t, &rng),
                                     &error));
      /* the truth at t = n - 1 + horizon, without noise */
      truth = trace_value (traces[i].kind == TRACE_NOISY_LINEAR
                               ? TRACE_LINEAR
                               : traces[i].kind,
                           n - 1 + horizon, &rng);
      pred = PREDICT (f, w, horizon);
      err = fabs ((gdouble) pred - truth) / truth;
      print_message ("# profiler, %-14s %u samples: predicted %.2f MiB at "
                     "horizon %u, truth %.2f MiB, relative error %.2f %%\n",
                     traces[i].name, n, (gdouble) pred / MIB, horizon,
                     truth / MIB, 100 * err);
      if (traces[i].kind == TRACE_LINEAR)
        assert_true (err < 0.05);
      if (traces[i].kind == TRACE_LINEAR || traces[i].kind == TRACE_CONSTANT)
        assert_true (err < 1e-6);
      if (traces[i].kind == TRACE_NOISY_LINEAR)
        assert_true (err < 0.25);
    }
}

static void
test_rebalance (void **state)
{
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) f = FABRIC_NEW (sim, GLOBAL_SIZE);
  AsmRebalanceReport rep = { 99, 99, 99, 99, 99 };
  AsmPartitionInfo p1_before, p2_before, p4_before;
  AsmId w1, w2, w3, w4, p1, p2, p4;
  guint64 v1;

  SWITCH (f, "A", 10000, 0, 8, 4, FALSE);
  SWITCH (f, "B", 10000, 0, 8, 4, FALSE);
  w1 = WORKLOAD (f, "growing");
  w2 = WORKLOAD (f, "steady");
  w3 = WORKLOAD (f, "quiet");
  w4 = WORKLOAD (f, "greedy");
  p1 = REQUEST (f, w1, 4 * MIB, 0, 0, &v1);
  p2 = REQUEST (f, w2, 4 * MIB, 0, 0, NULL);
  p4 = REQUEST (f, w4, 2 * MIB, 0, 0, NULL);
  REQUEST (f, w3, 2 * MIB, 0, 0, NULL);
  for (guint t = 0; t < 10; t++)
    {
      OK (asm_fabric_record_usage (f, w1, t, 2 * MIB + t * MIB, &error));
      OK (asm_fabric_record_usage (f, w2, t, MIB, &error));
    }
  OK (asm_fabric_record_usage (f, w4, 0, 0, &error));
  OK (asm_fabric_record_usage (f, w4, 1, 512 * MIB, &error));
  assert_int_equal (PREDICT (f, w1, 10), 21 * MIB);
  p1_before = PINFO (f, p1);
  p2_before = PINFO (f, p2);
  p4_before = PINFO (f, p4);

  OK (asm_fabric_rebalance (f, 10, &rep, &error));
  assert_int_equal (rep.n_examined, 4);
  assert_int_equal (rep.n_grown + rep.n_migrated, 1);
  assert_int_equal (rep.n_failed, 1);
  /* 21 MiB predicted, 4 MiB held: grown by 17 MiB rounded to the granule */
  assert_int_equal (PINFO (f, p1).size, 22 * MIB);
  assert_int_equal (PINFO (f, p1).virt_first, p1_before.virt_first);
  assert_int_equal (rep.n_migrated,
                    PINFO (f, p1).phys_first != p1_before.phys_first ||
                        PINFO (f, p1).switch_id != p1_before.switch_id);
  /* 'steady' uses 1 MiB of 4: kept at 1.25 x 1 MiB, rounded up to the
   * granule, in place */
  assert_int_equal (rep.n_shrunk, 1);
  assert_int_equal (PINFO (f, p2).size, 2 * MIB);
  assert_int_equal (PINFO (f, p2).phys_first, p2_before.phys_first);
  assert_int_equal (PINFO (f, p4).size, p4_before.size);
  assert_int_equal (PINFO (f, p4).generation, p4_before.generation);
  CONSISTENT (f, sim);
  /* nothing left to do */
  OK (asm_fabric_rebalance (f, 10, NULL, &error));
  OK (asm_fabric_rebalance (f, 10, &rep, &error));
  assert_int_equal (rep.n_grown + rep.n_migrated + rep.n_shrunk, 0);
  assert_int_equal (rep.n_failed, 1);
  print_message ("# rebalance: 'growing' grown to 22 MiB (%s), 'greedy' "
                 "refused\n", rep.n_migrated ? "moved" : "in place");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_placement_score),
    cmocka_unit_test (test_no_switch_qualifies),
    cmocka_unit_test (test_profiler_errors),
    cmocka_unit_test (test_profiler_accuracy),
    cmocka_unit_test (test_rebalance),
  };

  return cmocka_run_group_tests_name ("fabric-placement", tests, NULL, NULL);
}
