/* crash-child.c: the process the crash test kills
 *
 * run-crash.py starts this program over and over and kills it with SIGKILL
 * at random moments; the fabric's journal, its checkpoint and the
 * simulator's registers (a persistent sim, asm_sim_backend_new_persistent)
 * live in DIR and outlive every kill, as a real fabric manager's journal
 * and its switches' hardware would.
 *
 *   crash-child init DIR        builds the fabric, journal and checkpoint
 *   crash-child recover DIR     restores the checkpoint, recovers with the
 *                               journal, checks the model (asm_fabric_check)
 *                               and the hardware (asm_sim_verify), prints
 *                               "state HASH"
 *   crash-child run DIR K N     runs operations K .. N-1, printing
 *                               "begin k" before and "done k" after each
 *                               (flushed), checkpointing every 16
 *   crash-child reference N     prints "ref k HASH" for k = 0 .. N: the
 *                               state after the first k operations, on a
 *                               fabric with no backend
 *
 * Operation k is one transaction, the same every time (a migration, a
 * grow or shrink, a VF transfer, a workload's migration, a switch drained
 * or added), chosen from k alone; one the fabric refuses changes nothing,
 * on both sides.  HASH is the SHA-256 of asm_fabric_save() without its
 * journal position.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <asm/asm.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define BASE (G_GUINT64_CONSTANT (1) << 32)
#define N_PARTS 6

static void G_GNUC_NORETURN
die (const char *what, GError *error)
{
  fprintf (stderr, "crash-child: %s: %s\n", what,
           error ? error->message : "failed");
  exit (2);
}

static char *
state_hash (AsmFabric *f)
{
  g_autofree char *text = asm_fabric_save (f, NULL);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr (GString) kept = g_string_new (NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], "\"journal_seq\"") == NULL)
      g_string_append_printf (kept, "%s\n", lines[i]);
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, kept->str,
                                        (gssize) kept->len);
}

/* the fabric every run starts from */
static AsmFabric *
build (AsmBackend *backend)
{
  g_autoptr (GError) error = NULL;
  AsmFabric *f = asm_fabric_new ("crash", BASE, BASE + 4096 * MIB - 1,
                                 2 * MIB, backend, &error);
  AsmId sw[4], w[3], pf[2], ep[4];

  if (f == NULL || !asm_fabric_set_window_granule (f, 16 * MIB, &error))
    die ("new", error);
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *name = g_strdup_printf ("s%u", i);
      AsmSwitchSpec spec = { name, 100000, 100 + 50 * i, 64, 8, FALSE };
      if (!asm_fabric_add_switch (f, &spec, &sw[i], &error))
        die ("add_switch", error);
    }
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *name = g_strdup_printf ("pf%u", i);
      if (!asm_fabric_add_device (f, name, ASM_DEVICE_PF, MIB, sw[i], 0,
                                  &pf[i], &error) ||
          !asm_fabric_set_sriov (f, pf[i], 8, MIB, &error))
        die ("pf", error);
    }
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *name = g_strdup_printf ("ep%u", i);
      if (!asm_fabric_add_device (f, name, ASM_DEVICE_ENDPOINT, MIB, sw[i], 1,
                                  &ep[i], &error))
        die ("endpoint", error);
    }
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("w%u", i);
      if (!asm_fabric_add_workload (f, name, &w[i], &error))
        die ("workload", error);
    }
  for (guint i = 0; i < N_PARTS; i++)
    {
      AsmPartitionRequest req = { .size = 4 * MIB,
                                  .preferred_switch = sw[i % 4],
                                  .bandwidth_demand = 100 };
      AsmId p, vf;
      if (!asm_fabric_request_partition (f, w[i % 3], &req, &p, NULL, &error))
        die ("request", error);
      if (i < 4 && !asm_fabric_map_device (f, p, ep[i], NULL, &error))
        die ("map endpoint", error);
      if (i < 2 && (!asm_fabric_create_vf (f, pf[i], &vf, &error) ||
                    !asm_fabric_map_device (f, p, vf, NULL, &error)))
        die ("map vf", error);
    }
  return f;
}

static AsmId
nth (AsmFabric *f, AsmFabricObjects what, guint64 k)
{
  g_autoptr (GArray) ids = asm_fabric_list (f, what);
  return ids->len ? g_array_index (ids, AsmId, k % ids->len) : ASM_ID_NONE;
}

/* the VFs mapped into a partition, and the PFs */
static void
pick_vf_transfer (AsmFabric *f, guint64 k, AsmId *out_vf, AsmId *out_pf)
{
  g_autoptr (GArray) devs = asm_fabric_list (f, ASM_FABRIC_DEVICES);
  g_autoptr (GArray) vfs = g_array_new (FALSE, FALSE, sizeof (AsmId));
  g_autoptr (GArray) pfs = g_array_new (FALSE, FALSE, sizeof (AsmId));

  for (guint i = 0; i < devs->len; i++)
    {
      AsmDeviceInfo di;
      AsmId id = g_array_index (devs, AsmId, i);
      if (!asm_fabric_get_device_info (f, id, &di))
        continue;
      if (di.kind == ASM_DEVICE_VF && di.partition != ASM_ID_NONE)
        g_array_append_val (vfs, id);
      if (di.kind == ASM_DEVICE_PF)
        g_array_append_val (pfs, id);
    }
  *out_vf = vfs->len ? g_array_index (vfs, AsmId, k % vfs->len) : 0;
  *out_pf = pfs->len ? g_array_index (pfs, AsmId, (k / 7) % pfs->len) : 0;
}

/* Operation k: exactly one call that may change the fabric.  A refusal
 * (any error but a backend one) changes nothing and is fine. */
static gboolean
operation (AsmFabric *f, guint64 k, GError **error)
{
  guint64 h = k * 0x9E3779B97F4A7C15u;
  guint what = (guint) ((h >> 32) % 20);
  AsmId p = nth (f, ASM_FABRIC_PARTITIONS, h >> 8);
  AsmId sw = nth (f, ASM_FABRIC_SWITCHES, h >> 16);
  AsmPartitionInfo pi;

  if (what < 9)
    return asm_fabric_migrate_partition (f, p, what % 3 ? sw : ASM_ID_NONE,
                                         error);
  if (what < 12 && asm_fabric_get_partition_info (f, p, &pi))
    return what % 2 ? asm_fabric_grow_partition (f, p, pi.size + 2 * MIB,
                                                 error)
                    : asm_fabric_shrink_partition (f, p, pi.size - 2 * MIB,
                                                   error);
  if (what < 15)
    {
      AsmId vf, pf;
      pick_vf_transfer (f, k, &vf, &pf);
      return asm_fabric_transfer_vf (f, vf, pf, NULL, error);
    }
  if (what < 17)
    return asm_fabric_migrate_workload (f, nth (f, ASM_FABRIC_WORKLOADS, k),
                                        what == 15 ? sw : ASM_ID_NONE, error);
  if (what < 18)
    return asm_fabric_drain_switch (f, sw, error);
  {
    g_autofree char *name = g_strdup_printf ("n%" G_GUINT64_FORMAT, k);
    AsmSwitchSpec spec = { name, 100000, 120, 64, 8, FALSE };
    return asm_fabric_add_switch (f, &spec, NULL, error);
  }
}

static void
check_refusal (GError *error, guint64 k)
{
  if (error != NULL && error->domain == ASM_ERROR &&
      (error->code == ASM_ERROR_BACKEND || error->code == ASM_ERROR_FAILED))
    die (g_strdup_printf ("operation %" G_GUINT64_FORMAT, k), error);
}

static char *
path_in (const char *dir, const char *name)
{
  return g_build_filename (dir, name, NULL);
}

static AsmFabric *
recover (const char *dir, AsmBackend *sim)
{
  g_autofree char *snapshot = path_in (dir, "snapshot");
  g_autofree char *journal = path_in (dir, "journal");
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  AsmFabric *f;

  if (!g_file_get_contents (snapshot, &text, NULL, &error))
    die ("snapshot", error);
  f = asm_fabric_restore (text, -1, sim, &error);
  if (f == NULL)
    die ("restore", error);
  if (!asm_fabric_recover (f, journal, &error))
    die ("recover", error);
  if (!asm_fabric_set_journal (f, journal, &error))
    die ("set_journal", error);
  return f;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  if (argc == 3 && strcmp (argv[1], "reference") == 0)
    {
      guint64 n = g_ascii_strtoull (argv[2], NULL, 10);
      g_autoptr (AsmFabric) f = build (NULL);
      for (guint64 k = 0; k <= n; k++)
        {
          g_autofree char *h = state_hash (f);
          printf ("ref %" G_GUINT64_FORMAT " %s\n", k, h);
          if (k < n && !operation (f, k, &error))
            {
              check_refusal (error, k);
              g_clear_error (&error);
            }
        }
      return 0;
    }
  if (argc >= 3)
    {
      const char *dir = argv[2];
      g_autofree char *simpath = path_in (dir, "sim");
      g_autofree char *journal = path_in (dir, "journal");
      g_autofree char *snapshot = path_in (dir, "snapshot");
      g_autoptr (AsmBackend) sim = asm_sim_backend_new_persistent (simpath,
                                                                   &error);
      g_autoptr (AsmFabric) f = NULL;

      if (sim == NULL)
        die ("persistent sim", error);
      if (strcmp (argv[1], "init") == 0 && argc == 3)
        {
          f = build (sim);
          if (!asm_fabric_set_journal (f, journal, &error) ||
              !asm_fabric_checkpoint (f, snapshot, &error))
            die ("init", error);
          return 0;
        }
      f = recover (dir, sim);
      if (!asm_fabric_check (f, &error))
        die ("check after recovery", error);
      if (!asm_sim_verify (sim, f, &error))
        die ("hardware after recovery", error);
      if (strcmp (argv[1], "recover") == 0 && argc == 3)
        {
          g_autofree char *h = state_hash (f);
          printf ("state %s\n", h);
          return 0;
        }
      if (strcmp (argv[1], "run") == 0 && argc == 5)
        {
          gboolean full = g_strcmp0 (g_getenv ("ASM_CRASH_FULL"), "1") == 0;
          guint64 from = g_ascii_strtoull (argv[3], NULL, 10);
          guint64 to = g_ascii_strtoull (argv[4], NULL, 10);
          for (guint64 k = from; k < to; k++)
            {
              printf ("begin %" G_GUINT64_FORMAT "\n", k);
              fflush (stdout);
              for (guint tries = 0; !operation (f, k, &error); tries++)
                {
                  /* a full journal (ASM_CRASH_FULL=1: it is on a tiny
                   * file system) fails the operation, which changes
                   * nothing; a checkpoint frees the space, and the same
                   * operation goes again */
                  if (full && tries < 3 && error->code == ASM_ERROR_FAILED &&
                      strstr (error->message, "journal") != NULL)
                    {
                      printf ("full %" G_GUINT64_FORMAT "\n", k);
                      fflush (stdout);
                      g_clear_error (&error);
                      if (!asm_fabric_checkpoint (f, snapshot, &error))
                        die ("checkpoint on a full journal", error);
                      continue;
                    }
                  check_refusal (error, k);
                  g_clear_error (&error);
                  break;
                }
              printf ("done %" G_GUINT64_FORMAT "\n", k);
              fflush (stdout);
              if (k % 16 == 15 && !asm_fabric_checkpoint (f, snapshot, &error))
                die ("checkpoint", error);
            }
          return 0;
        }
    }
  fprintf (stderr, "usage: crash-child init|recover DIR | run DIR K N | "
           "reference N\n");
  return 2;
}
