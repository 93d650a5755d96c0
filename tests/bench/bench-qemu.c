/* bench-qemu.c: how fast the qemu backend moves devices in a real QEMU
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * Two figures, against a real qemu-system-x86_64 (q35, stopped, no guest)
 * started by asm_qemu_backend_new() with two switches of four ports:
 *
 *   QMP          the round trip of a trivial command (query-status)
 *                through asm_qemu_command(): the client's own cost (a hop
 *                to its I/O thread and back, and QEMU's dispatch);
 *   round trips  bind + unbind of one device through the backend's ops
 *                table, as a fabric calls them: device_add, then
 *                device_del and the wait for DEVICE_DELETED.  Printed as
 *                round trips per second, with the median time of each
 *                half (--rounds N, default 40, after 3 untimed ones);
 *   migration    asm_fabric_migrate_partition() of a partition with four
 *                devices between the two switches (each device unbound
 *                from its port and bound to one on the other switch), the
 *                median, min and max of --migrations N (default 5), each
 *                checked afterwards in QOM.
 *
 * It never fails on timing; it exits with 1 when an operation fails or
 * QEMU disagrees with the fabric afterwards, and with 77 (skip) when
 * qemu-system-x86_64 is not installed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <asm/asm.h>

#include "asm-qmp-private.h"

#define MIB (G_GUINT64_CONSTANT (1) << 20)

static int
die (const char *what, GError *error)
{
  fprintf (stderr, "bench-qemu: %s: %s\n", what,
           error ? error->message : "failed");
  return 1;
}

static gint
cmp_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (GArray *v)
{
  g_array_sort (v, cmp_double);
  return g_array_index (v, double, v->len / 2);
}

static double
now (void)
{
  return g_get_monotonic_time () / 1e6;
}

static int
bench_round_trips (guint rounds)
{
  const AsmQemuSwitch sws[] = { { "sw1", 4 }, { "sw2", 4 } };
  g_autoptr (GError) error = NULL;
  g_autoptr (AsmBackend) b = asm_qemu_backend_new (NULL, sws, 2, &error);
  g_autoptr (GArray) bind = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) unbind = g_array_new (FALSE, FALSE, sizeof (double));
  const AsmBackendOps *ops = asm_qemu_get_ops ();
  gpointer self;
  double t_all = 0;

  if (b == NULL)
    return die ("starting QEMU", error);
  self = asm_backend_get_self (b);
  printf ("QEMU %s (pid %d)\n\n", asm_qemu_get_version (b),
          (int) asm_qemu_get_pid (b));
  if (!ops->switch_add (self, 1, "sw1", 4, 8, &error))
    return die ("switch_add", error);
  {
    g_autoptr (GArray) qmp = g_array_new (FALSE, FALSE, sizeof (double));
    for (guint i = 0; i < 1000; i++)
      {
        double t0 = now (), t;
        g_autofree char *r = asm_qemu_command (b, "query-status", NULL, 0,
                                               &error);
        if (r == NULL)
          return die ("query-status", error);
        t = now () - t0;
        g_array_append_val (qmp, t);
      }
    printf ("QMP command round trip (query-status, 1000 runs): median "
            "%.1f us\n", median (qmp) * 1e6);
  }
  for (guint i = 0; i < rounds + 3; i++)
    {
      double t0 = now (), t1, t2;
      AsmBackendStatus st;

      if (ops->device_bind (self, 100, "edu", 1, i % 4, &error) !=
          ASM_BACKEND_DONE)
        return die ("device_bind", error);
      t1 = now ();
      st = ops->device_unbind (self, 100, 1, i % 4, &error);
      if (st == ASM_BACKEND_FAILED ||
          (st == ASM_BACKEND_PENDING &&
           !ops->device_wait (self, 100, 5000, &error)))
        return die ("device_unbind", error);
      t2 = now ();
      if (i < 3)
        continue;
      t1 -= t0;
      t2 -= t0 + t1;
      g_array_append_val (bind, t1);
      g_array_append_val (unbind, t2);
      t_all += t1 + t2;
    }
  {
    g_auto (GStrv) devs = asm_qemu_list_devices (b, &error);
    if (devs == NULL || devs[0] != NULL)
      return die ("a device is left in QEMU", error);
  }
  printf ("bind + unbind round trips: %u in %.2f s = %.1f per second\n",
          rounds, t_all, rounds / t_all);
  printf ("  bind (device_add)                       median %7.2f ms\n",
          median (bind) * 1e3);
  printf ("  unbind (device_del + DEVICE_DELETED)    median %7.2f ms\n",
          median (unbind) * 1e3);
  return 0;
}

static int
bench_migration (guint n_migrations)
{
  const AsmQemuSwitch sws[] = { { "sw1", 4 }, { "sw2", 4 } };
  g_autoptr (GError) error = NULL;
  g_autoptr (AsmBackend) b = asm_qemu_backend_new (NULL, sws, 2, &error);
  g_autoptr (AsmFabric) f = NULL;
  g_autoptr (GArray) times = g_array_new (FALSE, FALSE, sizeof (double));
  AsmSwitchSpec spec = { NULL, 64000, 300, 16, 4, FALSE };
  AsmPartitionRequest req = { 0 };
  AsmId sw[2], dev[4], w, p;
  double lo = G_MAXDOUBLE, hi = 0;

  if (b == NULL)
    return die ("starting QEMU", error);
  f = asm_fabric_new ("bench", G_GUINT64_CONSTANT (1) << 32,
                      (G_GUINT64_CONSTANT (1) << 32) + 1024 * MIB - 1,
                      2 * MIB, b, &error);
  if (f == NULL)
    return die ("asm_fabric_new", error);
  g_assert_true (asm_fabric_set_window_granule (f, 64 * MIB, NULL));
  for (guint i = 0; i < 2; i++)
    {
      spec.name = sws[i].name;
      if (!asm_fabric_add_switch (f, &spec, &sw[i], &error))
        return die ("add_switch", error);
    }
  if (!asm_fabric_add_workload (f, "vm", &w, &error))
    return die ("add_workload", error);
  req.size = 16 * MIB;
  req.preferred_switch = sw[0];
  if (!asm_fabric_request_partition (f, w, &req, &p, NULL, &error))
    return die ("request_partition", error);
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *name = g_strdup_printf ("edu%u", i);
      if (!asm_fabric_add_device (f, name, ASM_DEVICE_ENDPOINT, MIB, sw[0], i,
                                  &dev[i], &error) ||
          !asm_fabric_map_device (f, p, dev[i], NULL, &error))
        return die (name, error);
    }

  for (guint i = 0; i < n_migrations; i++)
    {
      AsmId to = sw[(i + 1) % 2];
      double t0 = now (), t;

      if (!asm_fabric_migrate_partition (f, p, to, &error))
        return die ("migrate_partition", error);
      t = now () - t0;
      g_array_append_val (times, t);
      lo = MIN (lo, t);
      hi = MAX (hi, t);
      for (guint d = 0; d < 4; d++)
        {
          AsmDeviceInfo di;
          g_autofree char *id = asm_qemu_get_device_id (dev[d]);
          g_autofree char *bus = asm_qemu_get_device_bus (b, id, &error);
          g_autofree char *want = NULL;

          g_assert_true (asm_fabric_get_device_info (f, dev[d], &di));
          want = asm_qemu_get_port_id (b, di.switch_id, di.port);
          if (di.switch_id != to || g_strcmp0 (bus, want) != 0)
            return die ("QEMU disagrees with the fabric after a migration",
                        error);
        }
    }
  printf ("migration of a partition with 4 devices (%u runs):\n"
          "  median %7.1f ms   min %7.1f ms   max %7.1f ms\n",
          n_migrations, median (times) * 1e3, lo * 1e3, hi * 1e3);
  return 0;
}

int
main (int argc, char **argv)
{
  guint rounds = 40, migrations = 5;
  g_autofree char *qemu = g_find_program_in_path ("qemu-system-x86_64");
  int rc;

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--rounds") == 0 && i + 1 < argc)
        rounds = (guint) MAX (1, atoi (argv[++i]));
      else if (strcmp (argv[i], "--migrations") == 0 && i + 1 < argc)
        migrations = (guint) MAX (1, atoi (argv[++i]));
      else
        {
          fprintf (stderr, "usage: %s [--rounds N] [--migrations N]\n",
                   argv[0]);
          return 2;
        }
    }
  if (qemu == NULL)
    {
      fprintf (stderr, "SKIP: qemu-system-x86_64 not found; nothing to "
                       "measure\n");
      return 77;
    }
  rc = bench_round_trips (rounds);
  if (rc != 0)
    return rc;
  printf ("\n");
  return bench_migration (migrations);
}
