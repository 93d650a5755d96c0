/* bench-fabric.c: speed and scaling figures for AsmFabric
 *
 * The program prints figures; it never passes or fails on timing.  It exits
 * with status 1 only on a wrong answer: an operation that fails when it
 * cannot, a translation that disagrees with its partition, a fabric that
 * fails asm_fabric_check() or (sim backend) asm_sim_verify() after a
 * section, or a save that does not restore to the same bytes.
 *
 * Every timed figure is the median, min and max of --runs runs (default 5);
 * each run builds its fabric afresh from its own seed (base seed + run),
 * and all randomness comes from a seeded splitmix64 stream, so runs repeat.
 *
 * T  translate.  A model-only fabric of 1,000 switches (8 ports each), 1,000
 *    workloads with 4 partitions of 2 MiB each (placed round-robin on the
 *    switches with preferred_switch), and one 1 MiB endpoint per switch
 *    mapped into a partition on it.  A table of 4,096 random probes
 *    (workload, virtual address inside one of its partitions) is made
 *    first; a thread walks it from its own offset, 2,000,000 calls.  With
 *    1 thread: ns per call.  With 2 and with 4 threads (started together,
 *    each making the same number of calls): the aggregate throughput
 *    (total calls / wall time, also printed as ns per call) and the
 *    per-thread ns per call (each thread's own time / its calls; the
 *    median over threads is the run's sample).  On a machine with fewer
 *    than 4 cores the threads share them, and the per-thread figure
 *    includes that wait.
 * P  placement.  1,000 switches (--switches; not pinned, window granule 1 GiB, tables of
 *    10^6 entries), 1,000 workloads.  The fabric is filled with N
 *    partitions of 1 MiB (requests round-robin over the workloads, the
 *    switch chosen by the placement score), then a batch of 1,000 more
 *    requests is timed, then 1,000 migrations of distinct random
 *    partitions, each to an explicit target (the next switch by id).
 *    N = 10^3 and 10^5; model-only and sim backend.  ns/op of each, and
 *    the ratio ns/op(10^5) / ns/op(10^3) (a model whose costs grow with
 *    log N gives a small ratio; a linear one about 100).
 * R  rebalance.  16 switches, 10,000 workloads, each with one 2 MiB
 *    partition and three usage samples (t = 1, 2, 3) growing by 1 MiB per
 *    time unit, so the profiler predicts more than the partition holds;
 *    asm_fabric_rebalance (horizon 2) is timed: total and per workload
 *    (model-only and sim).  The report's counts are printed.
 * L  lifecycle.  16 switches (sim and model-only); N = 10^3 and 8 x 10^3
 *    partitions of 1 MiB placed on switch 0, which is then drained (every
 *    partition migrates off by placement, in one transaction) and removed:
 *    total and per partition, and the per-partition ratio.  Then a workload
 *    of 100 partitions (among 200 of two workloads) is ended with
 *    asm_fabric_remove_workload().
 * J  journal.  2,000 migrations of one partition between two switches (sim)
 *    with a journal in a temporary directory, with every record synced and
 *    with ASM_FABRIC_JOURNAL_NO_SYNC=1: us per migration and migrations
 *    per second; then the bytes asm_fabric_add_window() appends to the
 *    journal when its pinned switch already has 1,000 windows.
 * S  save/restore.  The model-only fabric of P filled to N = 10^4 and
 *    10^5 partitions: asm_fabric_save() and asm_fabric_restore() time,
 *    total and per partition, and the bytes of the save per partition.
 *
 * --smoke runs every section once at tiny sizes and checks every answer
 * (it is the test bench-fabric-smoke).  The full run takes a few minutes
 * on 2 cores; --max-n caps N of P and S.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <asm/asm.h>

#include "bench-common.h"
#include "bench-report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define ASM_TEST_NO_CMOCKA
#include "asm-test.h"

#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define GIB (G_GUINT64_CONSTANT (1) << 30)

static struct {
  gboolean smoke;
  gint runs;
  gint64 seed;
  gint64 max_n;
  gint switches;
  gchar *only;
} opt = {
  .runs = 5,
  .seed = 0xfab,
  .max_n = 100000,
  .switches = 1000,
};

static int exit_status = 0;

/* ------------------------------------------------------------- figures */

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
median_of (const double *v, guint n, double *out_min, double *out_max)
{
  double *c = g_memdup2 (v, n * sizeof *v), m;

  qsort (c, n, sizeof *c, cmp_double);
  m = (n & 1) ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
  if (out_min)
    *out_min = c[0];
  if (out_max)
    *out_max = c[n - 1];
  g_free (c);
  return m;
}

/* prints median, min, max; returns the median */
static double
report (const char *unit, const double *v, guint n, const char *fmt, ...)
  G_GNUC_PRINTF (4, 5);

static double
report (const char *unit, const double *v, guint n, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *metric = NULL;
  double lo, hi, m = median_of (v, n, &lo, &hi);

  va_start (ap, fmt);
  metric = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  say ("  %-52s %12.1f %12.1f %12.1f  %s\n", metric, m, lo, hi, unit);
  return m;
}

static void
header (const char *title)
{
  say ("\n%s\n  %-52s %12s %12s %12s\n", title, "", "median", "min", "max");
}

static void
verify (AsmFabric *f, AsmBackend *b, const char *when)
{
  g_autoptr(GError) error = NULL;

  if (!asm_fabric_check (f, &error))
    bench_die ("%s: asm_fabric_check: %s", when, error->message);
  if (b != NULL && !asm_sim_verify (b, f, &error))
    bench_die ("%s: asm_sim_verify: %s", when, error->message);
}

static AsmId
add_switch (AsmFabric *f, guint i, guint32 ports, guint32 capacity)
{
  char name[32];
  AsmSwitchSpec spec = { name, G_GUINT64_CONSTANT (1) << 40, 100, capacity,
                         ports, FALSE };
  AsmId id = 0;

  g_snprintf (name, sizeof name, "sw%u", i);
  OK (asm_fabric_add_switch (f, &spec, &id, &error));
  return id;
}

/* ------------------------------------------------------------ translate */

typedef struct {
  AsmId workload;
  guint64 virt;
  AsmId sw;        /* the expected answer */
  guint64 phys;
} Probe;

typedef struct {
  AsmFabric *fabric;
  const Probe *probes;
  guint n_probes;
  guint start;
  guint64 calls;
  gint *go;
  guint64 elapsed_ns;
  guint64 checksum;
} TWorker;

static gpointer
translate_worker (gpointer data)
{
  TWorker *w = data;
  AsmTranslation t;
  guint64 t0, sum = 0;
  guint k = w->start;

  while (!g_atomic_int_get (w->go))
    ;
  t0 = now_ns ();
  for (guint64 i = 0; i < w->calls; i++)
    {
      const Probe *p = &w->probes[k];
      if (G_UNLIKELY (!asm_fabric_translate (w->fabric, p->workload, p->virt,
                                             &t, NULL)))
        bench_die ("translate (%u, 0x%" G_GINT64_MODIFIER "x) failed",
                   p->workload, p->virt);
      sum += t.physical ^ t.switch_id;
      if (++k == w->n_probes)
        k = 0;
    }
  w->elapsed_ns = now_ns () - t0;
  w->checksum = sum;
  return NULL;
}

/* n_threads threads, `calls` each; returns the wall time; per-thread
 * ns/call in *per_thread (median over threads) */
static guint64
translate_run (AsmFabric *f, const Probe *probes, guint n_probes,
               guint n_threads, guint64 calls, double *per_thread)
{
  TWorker w[8];
  GThread *th[8];
  gint go = 0;
  double pt[8];
  guint64 t0, wall;

  for (guint i = 0; i < n_threads; i++)
    {
      w[i] = (TWorker) { f, probes, n_probes, (i * n_probes) / n_threads,
                         calls, &go, 0, 0 };
      th[i] = g_thread_new ("translate", translate_worker, &w[i]);
    }
  g_usleep (1000);
  t0 = now_ns ();
  g_atomic_int_set (&go, 1);
  for (guint i = 0; i < n_threads; i++)
    g_thread_join (th[i]);
  wall = now_ns () - t0;
  for (guint i = 0; i < n_threads; i++)
    pt[i] = (double) w[i].elapsed_ns / (double) calls;
  *per_thread = median_of (pt, n_threads, NULL, NULL);
  return wall;
}

static void
bench_translate (void)
{
  const guint n_switches = opt.smoke ? 10 : 1000;
  const guint n_workloads = opt.smoke ? 10 : 1000;
  const guint per_workload = 4;
  const guint n_probes = opt.smoke ? 64 : 4096;
  const guint64 calls = opt.smoke ? 2000 : 2000000;
  guint runs = opt.smoke ? 1 : (guint) opt.runs;
  double one[16], agg[2][16], agg_ns[2][16], per[2][16];
  static const guint n_threads[2] = { 2, 4 };

  header (opt.smoke ? "T translate (smoke)" : "T translate: 1,000 switches, "
          "1,000 workloads x 4 partitions, 1,000 mapped endpoints");
  for (guint r = 0; r < runs; r++)
    {
      Rng rng = rng_new (opt.seed + r);
      g_autoptr(AsmFabric) f = asm_fabric_new ("translate", 0,
                                               (G_GUINT64_CONSTANT (1) << 40)
                                                   - 1,
                                               MIB, NULL, NULL);
      AsmId *sw = g_new (AsmId, n_switches);
      AsmId *parts = g_new (AsmId, n_workloads * per_workload);
      AsmId *wls = g_new (AsmId, n_workloads);
      Probe *probes = g_new (Probe, n_probes);
      guint np = 0;
      double pt;
      guint64 wall;

      if (f == NULL)
        bench_die ("asm_fabric_new");
      g_assert_true (asm_fabric_set_window_granule (f, 64 * MIB, NULL));
      for (guint i = 0; i < n_switches; i++)
        sw[i] = add_switch (f, i, 8, 64);
      for (guint i = 0; i < n_workloads; i++)
        {
          char name[32];
          g_snprintf (name, sizeof name, "w%u", i);
          OK (asm_fabric_add_workload (f, name, &wls[i], &error));
          for (guint j = 0; j < per_workload; j++)
            {
              AsmPartitionRequest req = { .size = 2 * MIB };
              req.preferred_switch = sw[np % n_switches];
              OK (asm_fabric_request_partition (f, wls[i], &req, &parts[np],
                                                NULL, &error));
              np++;
            }
        }
      /* one endpoint per switch, mapped into the first partition on it */
      for (guint i = 0; i < n_switches && i < np; i++)
        {
          char name[32];
          AsmId dev;
          g_snprintf (name, sizeof name, "ep%u", i);
          OK (asm_fabric_add_device (f, name, ASM_DEVICE_ENDPOINT, MIB, sw[i],
                                     0, &dev, &error));
          OK (asm_fabric_map_device (f, parts[i], dev, NULL, &error));
        }
      for (guint k = 0; k < n_probes; k++)
        {
          AsmPartitionInfo info;
          AsmId p = parts[rng_below (&rng, np)];
          if (!asm_fabric_get_partition_info (f, p, &info))
            bench_die ("partition %u has no info", p);
          probes[k].workload = info.workload;
          probes[k].virt = info.virt_first + rng_below (&rng, info.size);
          probes[k].sw = info.switch_id;
          probes[k].phys = info.phys_first + (probes[k].virt
                                              - info.virt_first);
        }
      /* every probe's answer is checked once, untimed */
      for (guint k = 0; k < n_probes; k++)
        {
          AsmTranslation t;
          OK (asm_fabric_translate (f, probes[k].workload, probes[k].virt, &t,
                                    &error));
          if (t.switch_id != probes[k].sw || t.physical != probes[k].phys)
            {
              fprintf (stderr, "bench-fabric: FAIL: translate probe %u\n", k);
              exit_status = 1;
            }
        }
      if (r == 0)
        verify (f, NULL, "translate fabric");

      wall = translate_run (f, probes, n_probes, 1, calls, &pt);
      one[r] = (double) wall / (double) calls;
      for (guint k = 0; k < 2; k++)
        {
          double nt = n_threads[k];
          wall = translate_run (f, probes, n_probes, n_threads[k], calls,
                                &pt);
          agg[k][r] = nt * (double) calls / ((double) wall / 1e9) / 1e6;
          agg_ns[k][r] = (double) wall / (nt * (double) calls);
          per[k][r] = pt;
        }
      g_free (sw);
      g_free (parts);
      g_free (wls);
      g_free (probes);
    }
  {
    double a = report ("ns/call", one, runs, "1 thread"), b[2];
    for (guint k = 0; k < 2; k++)
      {
        report ("Mcalls/s", agg[k], runs, "%u threads: aggregate throughput",
                n_threads[k]);
        b[k] = report ("ns/call", agg_ns[k], runs, "%u threads: aggregate "
                       "(wall/total calls)", n_threads[k]);
        report ("ns/call", per[k], runs, "%u threads: per thread (own "
                "time/calls)", n_threads[k]);
      }
    say ("  aggregate speed-up over 1 thread: 2 threads %.2fx, 4 threads "
         "%.2fx (%u cores online)\n", a / b[0], a / b[1],
         g_get_num_processors ());
  }
}

/* ------------------------------------------------------------ placement */

typedef struct {
  AsmFabric *fabric;
  AsmBackend *backend;
  AsmId *sw;
  guint n_sw;
  AsmId *wl;
  guint n_wl;
  GArray *parts;   /* AsmId */
} PFab;

static void
pfab_init (PFab *p, gboolean sim, guint n_sw, guint n_wl)
{
  memset (p, 0, sizeof *p);
  p->backend = sim ? asm_sim_backend_new () : NULL;
  p->fabric = asm_fabric_new ("place", 0, (G_GUINT64_CONSTANT (1) << 44) - 1,
                              MIB, p->backend, NULL);
  if (p->fabric == NULL)
    bench_die ("asm_fabric_new");
  g_assert_true (asm_fabric_set_window_granule (p->fabric, GIB, NULL));
  p->n_sw = n_sw;
  p->sw = g_new (AsmId, n_sw);
  for (guint i = 0; i < n_sw; i++)
    p->sw[i] = add_switch (p->fabric, i, 4, 1000000);
  p->n_wl = n_wl;
  p->wl = g_new (AsmId, n_wl);
  for (guint i = 0; i < n_wl; i++)
    {
      char name[32];
      g_snprintf (name, sizeof name, "w%u", i);
      OK (asm_fabric_add_workload (p->fabric, name, &p->wl[i], &error));
    }
  p->parts = g_array_new (FALSE, FALSE, sizeof (AsmId));
}

static void
pfab_request (PFab *p, guint64 size)
{
  AsmPartitionRequest req = { .size = size };
  AsmId id;

  OK (asm_fabric_request_partition (p->fabric,
                                    p->wl[p->parts->len % p->n_wl], &req, &id,
                                    NULL, &error));
  g_array_append_val (p->parts, id);
}

static void
pfab_clear (PFab *p)
{
  asm_fabric_unref (p->fabric);
  if (p->backend)
    asm_backend_unref (p->backend);
  g_free (p->sw);
  g_free (p->wl);
  g_array_unref (p->parts);
}

static void
bench_placement (void)
{
  const guint n_sw = opt.smoke ? 4 : (guint) opt.switches;
  const guint n_wl = opt.smoke ? 10 : 1000;
  const guint batch = opt.smoke ? 20 : 1000;
  guint64 ns[2] = { opt.smoke ? 100 : 1000, opt.smoke ? 400 : 100000 };
  guint runs = opt.smoke ? 1 : (guint) opt.runs;

  ns[1] = MIN (ns[1], (guint64) opt.max_n);
  {
    g_autofree char *h = g_strdup_printf (
        "P placement: %u switches, 1,000 workloads, 1 MiB partitions, "
        "batches of 1,000", n_sw);
    header (opt.smoke ? "P placement (smoke)" : h);
  }
  for (guint b = 0; b < 2; b++)
    {
      double req_med[2], mig_med[2];

      for (guint k = 0; k < 2; k++)
        {
          double req[16], mig[16], fill[16];
          guint64 n = ns[k];

          for (guint r = 0; r < runs; r++)
            {
              Rng rng = rng_new (opt.seed + r);
              PFab p;
              guint64 t0;
              AsmId *victims = g_new (AsmId, batch);
              AsmId *targets = g_new (AsmId, batch);

              pfab_init (&p, b == 1, n_sw, n_wl);
              t0 = now_ns ();
              for (guint64 i = 0; i < n; i++)
                pfab_request (&p, MIB);
              fill[r] = (double) (now_ns () - t0) / (double) n;
              t0 = now_ns ();
              for (guint i = 0; i < batch; i++)
                pfab_request (&p, MIB);
              req[r] = (double) (now_ns () - t0) / batch;
              /* distinct random partitions, explicit targets */
              for (guint i = 0; i < batch; i++)
                {
                  guint j = i + (guint) rng_below (&rng, p.parts->len - i);
                  AsmId tmp = g_array_index (p.parts, AsmId, i);
                  AsmPartitionInfo info;
                  g_array_index (p.parts, AsmId, i) =
                      g_array_index (p.parts, AsmId, j);
                  g_array_index (p.parts, AsmId, j) = tmp;
                  victims[i] = g_array_index (p.parts, AsmId, i);
                  if (!asm_fabric_get_partition_info (p.fabric, victims[i],
                                                      &info))
                    bench_die ("partition %u has no info", victims[i]);
                  targets[i] = p.sw[(info.switch_id - p.sw[0] + 1) % n_sw];
                }
              t0 = now_ns ();
              for (guint i = 0; i < batch; i++)
                OK (asm_fabric_migrate_partition (p.fabric, victims[i],
                                                  targets[i], &error));
              mig[r] = (double) (now_ns () - t0) / batch;
              for (guint i = 0; i < batch; i++)
                {
                  AsmPartitionInfo info;
                  if (!asm_fabric_get_partition_info (p.fabric, victims[i],
                                                      &info) ||
                      info.switch_id != targets[i])
                    {
                      fprintf (stderr, "bench-fabric: FAIL: partition %u is "
                               "not on switch %u\n", victims[i], targets[i]);
                      exit_status = 1;
                    }
                }
              if (r == 0)
                verify (p.fabric, p.backend, "placement");
              g_free (victims);
              g_free (targets);
              pfab_clear (&p);
            }
          report ("ns/op", fill, runs, "%s N=%" G_GUINT64_FORMAT ": fill",
                  b ? "sim  " : "model", n);
          req_med[k] = report ("ns/op", req, runs,
                               "%s N=%" G_GUINT64_FORMAT ": request_partition",
                               b ? "sim  " : "model", n);
          mig_med[k] = report ("ns/op", mig, runs,
                               "%s N=%" G_GUINT64_FORMAT ": migrate_partition",
                               b ? "sim  " : "model", n);
        }
      say ("  %s ratio N=%" G_GUINT64_FORMAT " / N=%" G_GUINT64_FORMAT
           ": request %.2fx, migrate %.2fx\n", b ? "sim  " : "model", ns[1],
           ns[0], req_med[1] / req_med[0], mig_med[1] / mig_med[0]);
    }
}

/* ------------------------------------------------------------ rebalance */

static void
bench_rebalance (void)
{
  const guint n_wl = opt.smoke ? 50 : 10000;
  guint runs = opt.smoke ? 1 : (guint) opt.runs;

  header (opt.smoke ? "R rebalance (smoke)" : "R rebalance: 10,000 workloads, "
          "one 2 MiB partition each, usage growing 1 MiB per time unit");
  for (guint b = 0; b < 2; b++)
    {
      double total[16], per[16];
      AsmRebalanceReport last = { 0 };

      for (guint r = 0; r < runs; r++)
        {
          PFab p;
          guint64 t0;
          AsmRebalanceReport rep;

          pfab_init (&p, b == 1, 16, n_wl);
          for (guint i = 0; i < n_wl; i++)
            pfab_request (&p, 2 * MIB);
          for (guint i = 0; i < n_wl; i++)
            for (guint t = 1; t <= 3; t++)
              OK (asm_fabric_record_usage (p.fabric, p.wl[i], t,
                                           (t + 1) * MIB + (i % 7) * 4096,
                                           &error));
          t0 = now_ns ();
          OK (asm_fabric_rebalance (p.fabric, 2.0, &rep, &error));
          total[r] = (double) (now_ns () - t0) / 1e6;
          per[r] = total[r] * 1e6 / n_wl;
          if (rep.n_examined != n_wl || rep.n_grown + rep.n_migrated == 0)
            {
              fprintf (stderr, "bench-fabric: FAIL: rebalance examined %u, "
                       "grew %u, migrated %u\n", rep.n_examined, rep.n_grown,
                       rep.n_migrated);
              exit_status = 1;
            }
          last = rep;
          if (r == 0)
            verify (p.fabric, p.backend, "rebalance");
          pfab_clear (&p);
        }
      report ("ms", total, runs, "%s: rebalance, total", b ? "sim  " : "model");
      report ("ns/workload", per, runs, "%s: rebalance, per workload",
              b ? "sim  " : "model");
      say ("  %s: report: %u examined, %u grown in place, %u migrated, %u "
           "failed\n", b ? "sim  " : "model", last.n_examined, last.n_grown,
           last.n_migrated, last.n_failed);
    }
}

/* ------------------------------------------------------- lifecycle */

/* L: a switch holding N partitions drained (every partition migrates off
 * in one transaction), then removed; a workload of 100 partitions ended
 * (every partition released in one transaction). */
static void
bench_lifecycle (void)
{
  guint64 ns[2] = { opt.smoke ? 20 : 1000, opt.smoke ? 80 : 8000 };
  const guint n_end = opt.smoke ? 10 : 100;
  guint runs = opt.smoke ? 1 : (guint) opt.runs;

  header (opt.smoke ? "L lifecycle (smoke)"
                    : "L lifecycle: drain a switch of 16 holding N 1 MiB "
                      "partitions; end a workload of 100");
  for (guint b = 0; b < 2; b++)
    {
      double per_part[2] = { 0, 0 };
      for (guint k = 0; k < 2; k++)
        {
          double total[16], per[16];
          for (guint r = 0; r < runs; r++)
            {
              PFab p;
              AsmPartitionRequest req = { .size = MIB };
              guint64 t0;
              AsmSwitchInfo si;

              pfab_init (&p, b == 1, 16, 10);
              for (guint64 i = 0; i < ns[k]; i++)
                {
                  AsmId id;
                  req.preferred_switch = p.sw[0];
                  OK (asm_fabric_request_partition (p.fabric, p.wl[i % 10],
                                                    &req, &id, NULL, &error));
                }
              t0 = now_ns ();
              OK (asm_fabric_drain_switch (p.fabric, p.sw[0], &error));
              total[r] = (double) (now_ns () - t0) / 1e6;
              per[r] = total[r] * 1e6 / (double) ns[k];
              if (!asm_fabric_get_switch_info (p.fabric, p.sw[0], &si) ||
                  si.n_partitions != 0 || si.n_windows != 0)
                bench_die ("drain left partitions or windows behind");
              OK (asm_fabric_remove_switch (p.fabric, p.sw[0], &error));
              if (r == 0)
                verify (p.fabric, p.backend, "drain");
              pfab_clear (&p);
            }
          report ("ms", total, runs, "%s: drain N=%" G_GUINT64_FORMAT
                  ", total", b ? "sim  " : "model", ns[k]);
          per_part[k] = report ("ns/partition", per, runs,
                                "%s: drain N=%" G_GUINT64_FORMAT
                                ", per partition", b ? "sim  " : "model",
                                ns[k]);
        }
      say ("  %s: drain ratio per partition N=%" G_GUINT64_FORMAT " / N=%"
           G_GUINT64_FORMAT ": %.2fx\n", b ? "sim  " : "model", ns[1], ns[0],
           per_part[1] / per_part[0]);
      {
        double total[16];
        for (guint r = 0; r < runs; r++)
          {
            PFab p;
            guint64 t0;
            g_autoptr (GArray) wls = NULL;

            pfab_init (&p, b == 1, 16, 2);
            for (guint i = 0; i < n_end * 2; i++)
              pfab_request (&p, MIB);
            t0 = now_ns ();
            OK (asm_fabric_remove_workload (p.fabric, p.wl[0], &error));
            total[r] = (double) (now_ns () - t0) / 1e6;
            wls = asm_fabric_list (p.fabric, ASM_FABRIC_WORKLOADS);
            if (wls->len != 1)
              bench_die ("remove_workload left %u workloads", wls->len);
            if (r == 0)
              verify (p.fabric, p.backend, "remove_workload");
            pfab_clear (&p);
          }
        report ("ms", total, runs, "%s: remove_workload of %u partitions",
                b ? "sim  " : "model", n_end);
      }
    }
}

/* --------------------------------------------------------- journal */

/* J: migrations between two switches with a journal, synced and not; and
 * the bytes one operation appends when its switch has 1,000 windows. */
static void
bench_journal (void)
{
  const guint n_ops = opt.smoke ? 20 : 2000;
  const guint n_windows = opt.smoke ? 20 : 1000;
  guint runs = opt.smoke ? 1 : (guint) opt.runs;
  g_autofree char *dir = g_dir_make_tmp ("asm-bench-journal-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "journal", NULL);

  header (opt.smoke ? "J journal (smoke)"
                    : "J journal: 2,000 migrations, synced or not; one "
                      "operation's record at 1,000 windows");
  for (guint sync = 0; sync < 2; sync++)
    {
      double per[16], rate[16];
      for (guint r = 0; r < runs; r++)
        {
          PFab p;
          AsmId part;
          AsmPartitionRequest req = { .size = MIB };
          guint64 t0;

          g_setenv ("ASM_FABRIC_JOURNAL_NO_SYNC", sync ? "0" : "1", TRUE);
          unlink (path);
          pfab_init (&p, TRUE, 2, 1);
          req.preferred_switch = p.sw[0];
          OK (asm_fabric_request_partition (p.fabric, p.wl[0], &req, &part,
                                            NULL, &error));
          OK (asm_fabric_set_journal (p.fabric, path, &error));
          t0 = now_ns ();
          for (guint i = 0; i < n_ops; i++)
            OK (asm_fabric_migrate_partition (p.fabric, part,
                                              p.sw[(i + 1) % 2], &error));
          per[r] = (double) (now_ns () - t0) / n_ops / 1e3;
          rate[r] = 1e6 / per[r];
          if (r == 0)
            verify (p.fabric, p.backend, "journal");
          pfab_clear (&p);
        }
      report ("us/op", per, runs, "%s: migrate with a journal",
              sync ? "synced  " : "no sync ");
      report ("ops/s", rate, runs, "%s: migrations per second",
              sync ? "synced  " : "no sync ");
    }
  g_unsetenv ("ASM_FABRIC_JOURNAL_NO_SYNC");
  {
    /* a pinned switch with n_windows windows of one granule each, all
     * used; one more window added: the bytes that operation appends */
    g_autoptr (AsmFabric) f = asm_fabric_new ("windows", 0,
                                              (G_GUINT64_CONSTANT (1) << 44)
                                                  - 1,
                                              MIB, NULL, NULL);
    AsmSwitchSpec spec = { "many", 1000000, 100, 1000000, 4, TRUE };
    struct stat st0, st1;
    AsmId sw;

    g_setenv ("ASM_FABRIC_JOURNAL_NO_SYNC", "1", TRUE);
    OK (asm_fabric_add_switch (f, &spec, &sw, &error));
    for (guint i = 0; i < n_windows; i++)
      OK (asm_fabric_add_window (f, sw, (guint64) i * 2 * MIB,
                                 (guint64) i * 2 * MIB + MIB - 1, &error));
    unlink (path);
    OK (asm_fabric_set_journal (f, path, &error));
    if (stat (path, &st0) != 0)
      bench_die ("stat");
    OK (asm_fabric_add_window (f, sw, (guint64) n_windows * 2 * MIB,
                               (guint64) n_windows * 2 * MIB + MIB - 1,
                               &error));
    if (stat (path, &st1) != 0)
      bench_die ("stat");
    say ("  %-52s %12" G_GINT64_FORMAT " bytes\n",
         "add_window to a switch of 1,000 windows: journal",
         (gint64) (st1.st_size - st0.st_size));
    g_unsetenv ("ASM_FABRIC_JOURNAL_NO_SYNC");
  }
  unlink (path);
  g_rmdir (dir);
}

/* ------------------------------------------------------------ save */

static void
bench_save (void)
{
  guint64 ns[2] = { opt.smoke ? 100 : 10000, opt.smoke ? 300 : 100000 };
  guint runs = opt.smoke ? 1 : (guint) opt.runs;

  ns[1] = MIN (ns[1], (guint64) opt.max_n);
  header (opt.smoke ? "S save/restore (smoke)" : "S save/restore: the model-"
          "only fabric of P (16 switches, 1,000 workloads)");
  for (guint k = 0; k < 2; k++)
    {
      double save[16], restore[16], bytes[16];
      PFab p;

      pfab_init (&p, FALSE, 16, opt.smoke ? 10 : 1000);
      for (guint64 i = 0; i < ns[k]; i++)
        pfab_request (&p, MIB);
      for (guint r = 0; r < runs; r++)
        {
          gsize len = 0, len2 = 0;
          guint64 t0 = now_ns ();
          g_autofree char *s = asm_fabric_save (p.fabric, &len);
          g_autofree char *s2 = NULL;
          AsmFabric *g;

          save[r] = (double) (now_ns () - t0) / 1e6;
          t0 = now_ns ();
          g = asm_fabric_restore (s, len, NULL, NULL);
          restore[r] = (double) (now_ns () - t0) / 1e6;
          if (g == NULL)
            bench_die ("the save of %" G_GUINT64_FORMAT " partitions does "
                       "not restore", ns[k]);
          bytes[r] = (double) len / (double) ns[k];
          if (r == 0)
            {
              s2 = asm_fabric_save (g, &len2);
              if (len != len2 || memcmp (s, s2, len) != 0)
                {
                  fprintf (stderr, "bench-fabric: FAIL: save (restore (save)) "
                           "differs\n");
                  exit_status = 1;
                }
              verify (g, NULL, "restored");
            }
          asm_fabric_unref (g);
        }
      {
        double ms_s = report ("ms", save, runs, "N=%" G_GUINT64_FORMAT
                              ": save", ns[k]);
        double ms_r = report ("ms", restore, runs, "N=%" G_GUINT64_FORMAT
                              ": restore", ns[k]);
        report ("bytes", bytes, runs, "N=%" G_GUINT64_FORMAT
                ": bytes per partition", ns[k]);
        say ("  N=%" G_GUINT64_FORMAT ": per partition: save %.0f ns, "
             "restore %.0f ns\n", ns[k], ms_s * 1e6 / ns[k],
             ms_r * 1e6 / ns[k]);
      }
      pfab_clear (&p);
    }
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- AsmFabric figures");
  g_autoptr(GError) error = NULL;

  bench_report_init ("bench-fabric", stdout);
  GOptionEntry entries[] = {
    { "smoke", 0, 0, G_OPTION_ARG_NONE, &opt.smoke,
      "tiny sizes, one run, every answer checked", NULL },
    { "runs", 0, 0, G_OPTION_ARG_INT, &opt.runs, "runs per figure (5)",
      "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &opt.seed, "base seed", "S" },
    { "max-n", 0, 0, G_OPTION_ARG_INT64, &opt.max_n,
      "largest N of sections P and S (100000)", "N" },
    { "switches", 0, 0, G_OPTION_ARG_INT, &opt.switches,
      "switches of section P (1000)", "N" },
    { "only", 0, 0, G_OPTION_ARG_STRING, &opt.only,
      "one section: translate, placement, rebalance, lifecycle, journal "
      "or save",
      "S" },
    { NULL }
  };
  guint64 t0 = now_ns ();

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    bench_die ("%s", error->message);
  if (opt.runs < 1 || opt.runs > 16)
    bench_die ("--runs must be 1 to 16");
#if !defined(__OPTIMIZE__)
  if (!opt.smoke)
    say ("warning: an unoptimised build; use a release build for figures\n");
#endif
  say ("bench-fabric: %s, %d run(s) per figure, seed %" G_GINT64_FORMAT
       ", %u cores\n", opt.smoke ? "smoke" : "full", opt.smoke ? 1 : opt.runs,
       opt.seed, g_get_num_processors ());
  if (opt.only == NULL || strcmp (opt.only, "translate") == 0)
    bench_translate ();
  if (opt.only == NULL || strcmp (opt.only, "placement") == 0)
    bench_placement ();
  if (opt.only == NULL || strcmp (opt.only, "rebalance") == 0)
    bench_rebalance ();
  if (opt.only == NULL || strcmp (opt.only, "lifecycle") == 0)
    bench_lifecycle ();
  if (opt.only == NULL || strcmp (opt.only, "journal") == 0)
    bench_journal ();
  if (opt.only == NULL || strcmp (opt.only, "save") == 0)
    bench_save ();
  say ("\ntotal %.1f s%s\n", (double) (now_ns () - t0) / 1e9,
       exit_status ? "; WRONG ANSWERS (see above)" : "");
  return exit_status;
}
