/* sim-crash-child.c: a fabric manager to be killed, for crash tests
 *
 * Opens the persistent sim at SIM_PATH (asm_sim_backend_new_persistent()),
 * builds a small fabric on it through the public fabric API, prints
 * "ready" on a line of its own, then migrates partitions between the
 * switches until it is killed (or --iterations are done).  Every backend
 * call it makes writes the simulated registers through to SIM_PATH, so a
 * parent that SIGKILLs it at any moment can open SIM_PATH again and check
 * what the hardware was left holding.
 *
 *   sim-crash-child [--journal=FILE] [--save=FILE] [--iterations=N]
 *                   [--seed=N] SIM_PATH
 *
 *   --journal=FILE  journal the fabric's transactions to FILE from its
 *                   creation (asm_fabric_set_journal())
 *   --save=FILE     once the fabric is built, save it to FILE
 *                   (asm_fabric_save(), written atomically) before "ready"
 *   --iterations=N  stop after N migrations and exit 0; 0, the default,
 *                   runs until killed
 *   --seed=N        the choice of partitions and target switches
 *
 * The fabric: "crash", global space 0..2^36-1, granule 1 MiB; switches
 * "s0", "s1", "s2" (8 ports, 16 table entries each), an endpoint "e<i>"
 * at port 0 of each, a PF "pf" at port 1 of s0 with one VF; a workload
 * "w" with 4 partitions of 4 MiB, the first mapped to e0.
 * SIM_PATH must not exist (or hold empty hardware): the fabric is built
 * anew.  Bringing a fabric back onto hardware a killed child left is the
 * job of asm_fabric_restore() and asm_fabric_recover(), from the files
 * --save and --journal write.
 *
 * Exit status: 0 after --iterations migrations, 1 when a call fails (the
 * error on stderr), 2 on a usage error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>

#include <asm/asm.h>

#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define N_SWITCHES 3
#define N_PARTITIONS 4

static void G_GNUC_NORETURN
die (const char *what, GError *error)
{
  fprintf (stderr, "sim-crash-child: %s: %s\n", what,
           error != NULL ? error->message : "failed");
  exit (1);
}

int
main (int argc, char **argv)
{
  g_autofree char *journal = NULL, *save = NULL;
  gint64 iterations = 0, seed = 1;
  GOptionEntry entries[] = {
    { "journal", 0, 0, G_OPTION_ARG_FILENAME, &journal,
      "Journal the fabric's transactions to FILE", "FILE" },
    { "save", 0, 0, G_OPTION_ARG_FILENAME, &save,
      "Save the built fabric to FILE", "FILE" },
    { "iterations", 0, 0, G_OPTION_ARG_INT64, &iterations,
      "Migrations to run (0: until killed)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed of the choices", "N" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("SIM_PATH");
  g_autoptr (GError) error = NULL;
  g_autoptr (AsmBackend) sim = NULL;
  g_autoptr (AsmFabric) fabric = NULL;
  g_autoptr (GRand) rand = NULL;
  AsmId sw[N_SWITCHES], part[N_PARTITIONS], e0 = ASM_ID_NONE, pf, vf, wl;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2 ||
      iterations < 0)
    {
      fprintf (stderr, "sim-crash-child: %s\n",
               error != NULL ? error->message : "usage: sim-crash-child "
               "[OPTION...] SIM_PATH");
      return 2;
    }
  rand = g_rand_new_with_seed ((guint32) seed);

  if ((sim = asm_sim_backend_new_persistent (argv[1], &error)) == NULL)
    die ("opening the sim", error);
  {
    g_autofree char *dump = asm_sim_dump (sim);

    if (!g_str_has_prefix (dump, "sim: 0 switches,"))
      {
        fprintf (stderr, "sim-crash-child: %s: the hardware is not empty\n",
                 argv[1]);
        return 1;
      }
  }
  fabric = asm_fabric_new ("crash", 0, (G_GUINT64_CONSTANT (1) << 36) - 1,
                           MIB, sim, &error);
  if (fabric == NULL)
    die ("asm_fabric_new", error);
  if (journal != NULL && !asm_fabric_set_journal (fabric, journal, &error))
    die ("asm_fabric_set_journal", error);

  for (guint i = 0; i < N_SWITCHES; i++)
    {
      g_autofree char *name = g_strdup_printf ("s%u", i);
      g_autofree char *dev = g_strdup_printf ("e%u", i);
      AsmSwitchSpec spec = {
        .name = name,
        .bandwidth = 10000,
        .latency_ns = 100,
        .table_capacity = 16,
        .n_ports = 8,
      };
      AsmId id;

      if (!asm_fabric_add_switch (fabric, &spec, &sw[i], &error))
        die ("asm_fabric_add_switch", error);
      if (!asm_fabric_add_device (fabric, dev, ASM_DEVICE_ENDPOINT, MIB,
                                  sw[i], 0, &id, &error))
        die ("asm_fabric_add_device", error);
      if (i == 0)
        e0 = id;
    }
  if (!asm_fabric_add_device (fabric, "pf", ASM_DEVICE_PF, MIB, sw[0], 1,
                              &pf, &error) ||
      !asm_fabric_set_sriov (fabric, pf, 4, MIB, &error) ||
      !asm_fabric_create_vf (fabric, pf, &vf, &error) ||
      !asm_fabric_add_workload (fabric, "w", &wl, &error))
    die ("building the fabric", error);
  for (guint i = 0; i < N_PARTITIONS; i++)
    {
      AsmPartitionRequest req = { .size = 4 * MIB };
      guint64 virt;

      if (!asm_fabric_request_partition (fabric, wl, &req, &part[i], &virt,
                                         &error))
        die ("asm_fabric_request_partition", error);
    }
  {
    guint64 offset;

    if (!asm_fabric_map_device (fabric, part[0], e0, &offset, &error))
      die ("asm_fabric_map_device", error);
  }
  if (save != NULL)
    {
      gsize len;
      g_autofree char *json = asm_fabric_save (fabric, &len);

      if (!g_file_set_contents (save, json, (gssize) len, &error))
        die ("saving the fabric", error);
    }
  printf ("ready\n");
  fflush (stdout);

  for (gint64 n = 0; iterations == 0 || n < iterations; n++)
    {
      AsmId p = part[g_rand_int_range (rand, 0, N_PARTITIONS)];
      AsmPartitionInfo info;
      AsmId target;

      if (!asm_fabric_get_partition_info (fabric, p, &info))
        die ("asm_fabric_get_partition_info", NULL);
      do
        target = sw[g_rand_int_range (rand, 0, N_SWITCHES)];
      while (target == info.switch_id);
      if (!asm_fabric_migrate_partition (fabric, p, target, &error))
        die ("asm_fabric_migrate_partition", error);
    }
  return 0;
}
