/* fabric-migrate.c: a partition that moves between switches, and a VF
 * transfer, on the simulated fabric
 *
 * Seeds/000 and 003: a switch fabric whose address space is partitioned at
 * run time.  A workload reaches its devices through an address partition:
 * a virtual range that never changes, placed at a physical range in the
 * window of one switch and routed by that switch's translation table.
 *
 * The example builds a fabric over the embedded simulator
 * (asm_sim_backend_new()) with two switches, a NIC and two SR-IOV physical
 * functions, and a workload with two partitions on switch A: one holds the
 * NIC, the other a VF of the first PF.  It then
 *
 *   1. translates a virtual address of the NIC (switch A);
 *   2. migrates the NIC's partition to switch B and translates the same
 *      virtual address again: new switch, new physical address, same
 *      device and offset (the migration is invisible to the driver);
 *   3. transfers the VF to the PF on switch B (function transfer
 *      using virtualized mapping): a new VF on that PF takes its place, and
 *      the workload's virtual address now reaches the new VF;
 *
 * and after each step compares the simulated hardware with the fabric's
 * model (asm_sim_verify()).  Every answer is checked; the program exits
 * with status 1 on a wrong one.
 *
 * Build: cc fabric-migrate.c $(pkg-config --cflags --libs asm-1)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <asm/asm.h>

#include <stdio.h>
#include <stdlib.h>

#define KIB (G_GUINT64_CONSTANT (1) << 10)
#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define GIB (G_GUINT64_CONSTANT (1) << 30)

/* The fabric's physical space: 1 GiB at 64 GiB. */
#define GLOBAL_FIRST (64 * GIB)
#define GLOBAL_LAST (65 * GIB - 1)

static void
check (gboolean ok, const char *what)
{
  if (!ok)
    {
      fprintf (stderr, "fabric-migrate: wrong answer: %s\n", what);
      exit (1);
    }
}

static void
die (const char *what, GError *error)
{
  fprintf (stderr, "fabric-migrate: %s: %s\n", what, error->message);
  exit (1);
}

static const char *
switch_name (AsmFabric *fabric, AsmId sw)
{
  AsmSwitchInfo info;

  return asm_fabric_get_switch_info (fabric, sw, &info) ? info.name : "?";
}

static const char *
device_name (AsmFabric *fabric, AsmId device)
{
  AsmDeviceInfo info;

  return asm_fabric_get_device_info (fabric, device, &info) ? info.name
                                                            : "(none)";
}

/* Translates and prints one virtual address of @workload. */
static AsmTranslation
translate (AsmFabric *fabric, AsmId workload, guint64 virt)
{
  g_autoptr (GError) error = NULL;
  AsmTranslation t;

  if (!asm_fabric_translate (fabric, workload, virt, &t, &error))
    die ("translate", error);
  printf ("  virtual 0x%" G_GINT64_MODIFIER
          "x -> switch %s, physical 0x%" G_GINT64_MODIFIER
          "x, device %s + 0x%" G_GINT64_MODIFIER "x (generation %u)\n",
          virt, switch_name (fabric, t.switch_id), t.physical,
          device_name (fabric, t.device), t.device_offset, t.generation);
  return t;
}

/* The simulated registers match the model, and the model is consistent. */
static void
verify (AsmBackend *sim, AsmFabric *fabric)
{
  g_autoptr (GError) error = NULL;

  if (!asm_fabric_check (fabric, &error))
    die ("fabric check", error);
  if (!asm_sim_verify (sim, fabric, &error))
    die ("hardware differs from the model", error);
  printf ("  hardware matches the model\n");
}

static AsmId
add_switch (AsmFabric *fabric, const char *name, guint32 latency_ns)
{
  g_autoptr (GError) error = NULL;
  AsmSwitchSpec spec = {
    .name = name,
    .bandwidth = 16000,
    .latency_ns = latency_ns,
    .table_capacity = 16,
    .n_ports = 8,
    .pinned = FALSE,
  };
  AsmId id;

  if (!asm_fabric_add_switch (fabric, &spec, &id, &error))
    die ("add_switch", error);
  printf ("  switch %s: 16000 MB/s, %u ns, 8 ports, 16 table entries\n", name,
          latency_ns);
  return id;
}

static AsmId
add_device (AsmFabric *fabric, const char *name, AsmDeviceKind kind,
            guint64 bar_size, AsmId sw, guint32 port)
{
  g_autoptr (GError) error = NULL;
  AsmId id;

  if (!asm_fabric_add_device (fabric, name, kind, bar_size, sw, port, &id,
                              &error))
    die ("add_device", error);
  printf ("  device %s: %s, BAR %" G_GUINT64_FORMAT " KiB, at %s port %u\n",
          name, kind == ASM_DEVICE_PF ? "SR-IOV PF" : "endpoint",
          bar_size / KIB, switch_name (fabric, sw), port);
  return id;
}

/* Requests a partition of @size bytes for @workload on switch @sw and maps
 * @device into it at offset 0. */
static AsmId
add_partition (AsmFabric *fabric, AsmId workload, guint64 size, AsmId sw,
               AsmId device, guint64 *out_virt)
{
  g_autoptr (GError) error = NULL;
  AsmPartitionRequest req = { 0 };
  AsmPartitionInfo info;
  AsmId partition;
  guint64 offset;

  req.size = size;
  req.min_bandwidth = 1000;
  req.preferred_switch = sw;
  if (!asm_fabric_request_partition (fabric, workload, &req, &partition,
                                     out_virt, &error))
    die ("request_partition", error);
  if (!asm_fabric_map_device (fabric, partition, device, &offset, &error))
    die ("map_device", error);
  if (!asm_fabric_get_partition_info (fabric, partition, &info))
    check (FALSE, "the partition exists");
  printf ("  partition %u: %" G_GUINT64_FORMAT
          " MiB, virtual 0x%" G_GINT64_MODIFIER
          "x, on switch %s at physical 0x%" G_GINT64_MODIFIER "x, holds %s\n",
          partition, size / MIB, *out_virt,
          switch_name (fabric, info.switch_id), info.phys_first,
          device_name (fabric, device));
  check (info.switch_id == sw, "the preferred switch is chosen");
  check (info.virt_first == *out_virt, "the virtual address is the start");
  check (offset == 0, "the device's BAR is at the partition's start");
  return partition;
}

int
main (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AsmBackend) sim = asm_sim_backend_new ();
  g_autoptr (AsmFabric) fabric = NULL;
  AsmPartitionInfo pinfo;
  AsmDeviceInfo dinfo;
  AsmTranslation before, after;
  AsmId sw_a, sw_b, nic, pf_a, pf_b, vf, new_vf, workload, p_nic, p_vf;
  guint64 v_nic, v_vf;

  /* The fabric: 1 GiB of physical space, 2 MiB granule, over the
   * simulated hardware. */
  printf ("fabric: [0x%" G_GINT64_MODIFIER "x, 0x%" G_GINT64_MODIFIER
          "x], granule 2 MiB, backend %s\n",
          GLOBAL_FIRST, GLOBAL_LAST, asm_backend_get_name (sim));
  fabric = asm_fabric_new ("example", GLOBAL_FIRST, GLOBAL_LAST, 2 * MIB, sim,
                           &error);
  if (fabric == NULL)
    die ("fabric_new", error);
  sw_a = add_switch (fabric, "A", 100);
  sw_b = add_switch (fabric, "B", 150);

  nic = add_device (fabric, "nic0", ASM_DEVICE_ENDPOINT, MIB, sw_a, 0);
  pf_a = add_device (fabric, "pf-a", ASM_DEVICE_PF, MIB, sw_a, 1);
  pf_b = add_device (fabric, "pf-b", ASM_DEVICE_PF, MIB, sw_b, 1);
  if (!asm_fabric_set_sriov (fabric, pf_a, 4, 256 * KIB, &error) ||
      !asm_fabric_set_sriov (fabric, pf_b, 4, 256 * KIB, &error) ||
      !asm_fabric_create_vf (fabric, pf_a, &vf, &error))
    die ("SR-IOV", error);
  printf ("  pf-a and pf-b: up to 4 VFs of 256 KiB each; %s created\n",
          device_name (fabric, vf));

  /* A workload with two partitions on switch A. */
  if (!asm_fabric_add_workload (fabric, "vm1", &workload, &error))
    die ("add_workload", error);
  printf ("\nworkload vm1:\n");
  p_nic = add_partition (fabric, workload, 4 * MIB, sw_a, nic, &v_nic);
  p_vf = add_partition (fabric, workload, 2 * MIB, sw_a, vf, &v_vf);
  verify (sim, fabric);

  /* 1. Translate before the migration. */
  printf ("\n1. translate an address of nic0\n");
  before = translate (fabric, workload, v_nic + 0x1000);
  if (!asm_fabric_get_partition_info (fabric, p_nic, &pinfo))
    check (FALSE, "the partition exists");
  check (before.switch_id == sw_a && before.partition == p_nic,
         "switch A routes the NIC's partition");
  check (before.device == nic && before.device_offset == 0x1000,
         "the address falls in the NIC's BAR");
  check (before.physical == pinfo.phys_first + 0x1000,
         "physical = placement + offset");

  /* 2. Migrate to switch B: the same virtual address, a new route. */
  printf ("\n2. migrate partition %u to switch B\n", p_nic);
  if (!asm_fabric_migrate_partition (fabric, p_nic, sw_b, &error))
    die ("migrate_partition", error);
  after = translate (fabric, workload, v_nic + 0x1000);
  check (after.switch_id == sw_b && after.partition == p_nic,
         "after the migration, switch B routes the partition");
  check (after.device == nic && after.device_offset == 0x1000,
         "the same device at the same offset");
  check (after.generation > before.generation, "the mapping's generation grew");
  if (!asm_fabric_get_device_info (fabric, nic, &dinfo))
    check (FALSE, "nic0 exists");
  printf ("  nic0 is now at switch %s port %u\n",
          switch_name (fabric, dinfo.switch_id), dinfo.port);
  check (dinfo.switch_id == sw_b, "the NIC moved with its partition");
  verify (sim, fabric);

  /* 3. Transfer the VF to pf-b: a new VF on pf-b takes its place, and the
   * workload's virtual address reaches it. */
  printf ("\n3. transfer %s to pf-b\n", device_name (fabric, vf));
  before = translate (fabric, workload, v_vf + 0x100);
  check (before.device == vf && before.device_offset == 0x100 &&
             before.partition == p_vf && before.switch_id == sw_a,
         "the VF is reached through switch A before the transfer");
  if (!asm_fabric_transfer_vf (fabric, vf, pf_b, &new_vf, &error))
    die ("transfer_vf", error);
  if (!asm_fabric_get_device_info (fabric, new_vf, &dinfo))
    check (FALSE, "the new VF exists");
  printf ("  new VF %s under pf-b, at switch %s\n", dinfo.name,
          switch_name (fabric, dinfo.switch_id));
  check (dinfo.kind == ASM_DEVICE_VF && dinfo.pf == pf_b,
         "the new VF belongs to pf-b");
  after = translate (fabric, workload, v_vf + 0x100);
  check (after.device == new_vf && after.device_offset == 0x100 &&
             after.partition == p_vf,
         "the same virtual address reaches the new VF");
  check (after.switch_id == sw_b, "the switch of the new VF routes it");
  check (!asm_fabric_get_device_info (fabric, vf, &dinfo),
         "the old VF is gone");
  verify (sim, fabric);

  printf ("\nall answers are right\n");
  return 0;
}
