/* asmctl-demo.c: `asmctl demo`, the embedded default scenario
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The scenario is deterministic: the same build prints the same text,
 * which tests/golden/ compares.  It uses only the public API.
 */
#include "asmctl.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KiB (G_GUINT64_CONSTANT (1) << 10)
#define MiB (G_GUINT64_CONSTANT (1) << 20)
#define GiB (G_GUINT64_CONSTANT (1) << 30)
#define PAGE (4 * KiB)

static const char *
kind_name (AsmSegmentKind kind)
{
  switch (kind)
    {
    case ASM_SEGMENT_FREE:
      return "free";
    case ASM_SEGMENT_ALLOCATED:
      return "allocated";
    case ASM_SEGMENT_RESERVED:
      return "reserved";
    }
  return "?";
}

static gboolean
print_segment (const AsmRange *seg, AsmSegmentKind kind, gpointer user_data)
{
  guint *shown = user_data;
  g_autofree char *size = asmctl_format_size (seg->last - seg->first + 1);

  if ((*shown)++ >= 12)
    return FALSE;
  printf ("    0x%016" G_GINT64_MODIFIER "x-0x%016" G_GINT64_MODIFIER
          "x  %-9s  %10s\n",
          seg->first, seg->last, kind_name (kind), size);
  return TRUE;
}

static void
print_stats_row (AsmArena *a)
{
  AsmArenaStats st;
  g_autofree char *alloc = NULL, *res = NULL, *largest = NULL;

  asm_arena_get_stats (a, &st);
  alloc = asmctl_format_size (st.allocated_units);
  res = asmctl_format_size (st.reserved_units);
  largest = asmctl_format_size (st.largest_free);
  printf ("  %-10s %6" G_GUINT64_FORMAT " %10s %6" G_GUINT64_FORMAT
          " %10s %10" G_GUINT64_FORMAT " %12s\n",
          asm_arena_get_name (a), st.n_allocated, alloc, st.n_reserved, res,
          st.n_free_segments, largest);
}

typedef struct {
  const char *what;
  AsmRequest req;
} DemoRequest;

static int
die (GError *error)
{
  fprintf (stderr, "asmctl: %s\n", error->message);
  g_error_free (error);
  return 1;
}

static int
demo_iova (void)
{
  GError *error = NULL;
  g_autoptr (AsmArena) tmpl = NULL;
  g_autoptr (AsmArena) ids = NULL;
  GPtrArray *domains = g_ptr_array_new_with_free_func ((GDestroyNotify) asm_arena_unref);
  guint shown = 0;
  static const struct {
    const char *what;
    guint64 first, last;
  } holes[] = {
    { "x86 interrupt window", 0xfee00000, 0xfeefffff },
    { "RMRR (USB controller)", 0x7b800000, 0x7b81ffff },
    { "RMRR (integrated GPU)", 0x7c000000, 0x7fffffff },
  };

  printf ("Part 1: IOVA domains cloned from one template\n");
  printf ("==============================================\n\n");

  /* 1. the template: a 48-bit IOVA space with holes carved out */
  tmpl = asm_arena_new ("template", PAGE);
  if (!asm_arena_add_span (tmpl, 0, (G_GUINT64_CONSTANT (1) << 48) - 1, &error))
    return die (error);
  printf ("1. Template arena: span 0x0-0xffffffffffff (48-bit IOVA), quantum 4 KiB\n");
  for (guint i = 0; i < G_N_ELEMENTS (holes); i++)
    {
      g_autofree char *size = asmctl_format_size (holes[i].last - holes[i].first + 1);
      if (!asm_arena_reserve (tmpl, holes[i].first, holes[i].last, &error))
        return die (error);
      printf ("   hole 0x%08" G_GINT64_MODIFIER "x-0x%08" G_GINT64_MODIFIER
              "x %8s  %s\n",
              holes[i].first, holes[i].last, size, holes[i].what);
    }
  printf ("   segments of the template:\n");
  ASMCTL_MUST (asm_arena_walk (tmpl, print_segment, &shown));

  /* 2. an id allocator hands out IOMMU domain ids (quantum 1, 256 ids) */
  ids = asm_arena_new ("domain-ids", 1);
  if (!asm_arena_add_span (ids, 0, 255, &error) ||
      !asm_arena_reserve (ids, 0, 0, &error)) /* id 0 is the identity domain */
    return die (error);
  printf ("\n2. Domain ids: an id arena over [0, 255], id 0 reserved\n");

  for (guint d = 0; d < 4; d++)
    {
      guint64 id;
      g_autofree char *name = NULL;
      AsmRequest one = ASM_REQUEST_INIT (1);

      one.fit = ASM_FIT_NEXT;
      if (!asm_arena_alloc_full (ids, &one, &id, &error))
        return die (error);
      name = g_strdup_printf ("domain-%" G_GUINT64_FORMAT, id);
      g_ptr_array_add (domains, asm_arena_clone (tmpl, name));
      printf ("   id %" G_GUINT64_FORMAT " -> %s (O(1) clone of the template)\n",
              id, name);
    }

  /* 3. constrained allocations in each domain */
  {
    DemoRequest reqs[] = {
      { "ring buffer 64 KiB, size-aligned", ASM_REQUEST_INIT (64 * KiB) },
      { "DMA32 buffer 2 MiB below 4 GiB, top-down", ASM_REQUEST_INIT (2 * MiB) },
      { "descriptor page, no 64 KiB crossing", ASM_REQUEST_INIT (8 * KiB) },
      { "BAR-like 256 MiB, 256 MiB aligned", ASM_REQUEST_INIT (256 * MiB) },
      { "odd 12 KiB, phase 4 KiB of 16 KiB", ASM_REQUEST_INIT (12 * KiB) },
    };
    reqs[0].req.align = 64 * KiB;
    reqs[1].req.max = 0xffffffff;
    reqs[1].req.fit = ASM_FIT_HIGHEST;
    reqs[2].req.nocross = 64 * KiB;
    reqs[2].req.min = 60 * KiB;
    reqs[3].req.align = 256 * MiB;
    reqs[3].req.min = 4 * GiB;
    reqs[4].req.align = 16 * KiB;
    reqs[4].req.phase = 4 * KiB;

    printf ("\n3. Constrained allocations in each domain\n");
    printf ("   %-10s  %-42s  %s\n", "domain", "request", "address");
    for (guint d = 0; d < domains->len; d++)
      {
        AsmArena *dom = g_ptr_array_index (domains, d);
        /* each domain also gets a different number of earlier buffers, so
         * the clones diverge */
        for (guint k = 0; k < d; k++)
          {
            guint64 ignored;
            if (!asm_arena_alloc (dom, 1 * MiB, &ignored, &error))
              return die (error);
          }
        for (guint i = 0; i < G_N_ELEMENTS (reqs); i++)
          {
            guint64 addr;
            if (!asm_arena_alloc_full (dom, &reqs[i].req, &addr, &error))
              return die (error);
            printf ("   %-10s  %-42s  0x%012" G_GINT64_MODIFIER "x\n",
                    d == 0 || i == 0 ? asm_arena_get_name (dom) : "",
                    reqs[i].what, addr);
          }
      }
  }

  /* 4. a request that cannot be met, and the message that says why */
  {
    AsmArena *dom = g_ptr_array_index (domains, 0);
    AsmRequest huge = ASM_REQUEST_INIT (3 * GiB);
    guint64 addr;
    AsmArenaStats before, after;

    huge.max = 0xffffffff;
    asm_arena_get_stats (dom, &before);
    printf ("\n4. A 3 GiB buffer below 4 GiB does not fit around the holes:\n");
    if (asm_arena_alloc_full (dom, &huge, &addr, &error))
      {
        fprintf (stderr, "asmctl: the impossible request succeeded\n");
        return 1;
      }
    printf ("   %s\n", error->message);
    g_clear_error (&error);
    asm_arena_get_stats (dom, &after);
    printf ("   arena unchanged after the failure: %s\n",
            memcmp (&before, &after, sizeof before) == 0 ? "yes" : "NO");
  }

  /* 5. the stats of every arena */
  printf ("\n5. Stats\n");
  printf ("  %-10s %6s %10s %6s %10s %10s %12s\n", "arena", "allocs", "bytes",
          "holes", "bytes", "free segs", "largest free");
  print_stats_row (tmpl);
  for (guint d = 0; d < domains->len; d++)
    print_stats_row (g_ptr_array_index (domains, d));

  /* 6. every arena is still consistent */
  for (guint d = 0; d < domains->len; d++)
    if (!asm_arena_check (g_ptr_array_index (domains, d), &error))
      return die (error);
  if (!asm_arena_check (tmpl, &error) || !asm_arena_check (ids, &error))
    return die (error);
  printf ("\nAll %u arenas pass asm_arena_check(); the template is untouched "
          "by its clones.\n", domains->len + 2);

  g_ptr_array_unref (domains);
  return 0;
}


/* ------------------------------------------------------------------ */
/* part 2: the fabric                                                   */

static void
on_event (AsmFabric *fabric, const AsmFabricEvent *event, gpointer user_data)
{
  printf ("   | %s\n", event->message);
}

static void
print_translation (AsmFabric *fabric, AsmId workload, guint64 virt,
                   const char *when)
{
  AsmTranslation t;
  AsmSwitchInfo si;
  AsmDeviceInfo di = { 0 };
  g_autoptr (GError) error = NULL;

  if (!asm_fabric_translate (fabric, workload, virt, &t, &error))
    {
      printf ("   %-8s virtual 0x%" G_GINT64_MODIFIER "x: %s\n", when, virt,
              error->message);
      return;
    }
  if (!asm_fabric_get_switch_info (fabric, t.switch_id, &si))
    si.name = "?";
  if (t.device != ASM_ID_NONE &&
      !asm_fabric_get_device_info (fabric, t.device, &di))
    di.name = "?";
  printf ("   %-8s virtual 0x%" G_GINT64_MODIFIER "x -> switch %-5s physical "
          "0x%09" G_GINT64_MODIFIER "x  device %s +0x%" G_GINT64_MODIFIER
          "x  (generation %u)\n",
          when, virt, si.name, t.physical,
          t.device ? di.name : "-", t.device_offset, t.generation);
}

#define CHECK_OK(call)                                                        \
  G_STMT_START                                                                \
  {                                                                           \
    if (!(call))                                                              \
      return die (error);                                                     \
  }                                                                           \
  G_STMT_END

/* --json: the final snapshot, printed after the run */
static gboolean demo_json;
static char *demo_snapshot;

static int
write_outputs (AsmFabric *fabric, const char *output_dir)
{
  GError *error = NULL;
  g_autofree char *svg = g_build_filename (output_dir, "asm-demo.svg", NULL);
  g_autofree char *topo = g_build_filename (output_dir,
                                            "asm-demo-topology.svg", NULL);
  g_autofree char *json = g_build_filename (output_dir, "asm-demo.json",
                                            NULL);
  g_autoptr (GError) derr = NULL;

  if (!asmctl_write_svg (fabric, svg, &error) ||
      !asmctl_write_json (fabric, json, &error))
    return die (error);
  printf ("   wrote asm-demo.svg (the fabric to scale) and asm-demo.json (a "
          "snapshot of this state)\n");
  if (asmctl_write_dot_svg (fabric, topo, &derr))
    printf ("   wrote asm-demo-topology.svg (the topology, drawn by "
            "graphviz)\n");
  else
    printf ("   no topology picture: %s\n", derr->message);
  return 0;
}

/* The hardware side of the demo: the simulator (default), or a real QEMU
 * whose topology has the demo's three switches. */
static AsmBackend *
demo_backend_new (const char *name, GError **error)
{
  static const AsmQemuSwitch switches[] = {
    { "sw-a", 8 }, { "sw-b", 8 }, { "sw-c", 8 },
  };

  if (name == NULL || strcmp (name, "sim") == 0)
    return asm_sim_backend_new ();
  if (strcmp (name, "qemu") == 0)
    return asm_qemu_backend_new (NULL, switches, G_N_ELEMENTS (switches),
                                 error);
  g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
               "unknown backend '%s' (sim or qemu)", name);
  return NULL;
}

/* Does the hardware hold what the model says?  The sim compares every
 * register; with QEMU, every endpoint and PF must sit behind the port the
 * model binds it to (windows and tables are model-only there). */
static gboolean
demo_verify (AsmBackend *backend, AsmFabric *fabric, GError **error)
{
  g_autoptr (GArray) ids = NULL;

  if (asm_sim_is_sim (backend))
    return asm_sim_verify (backend, fabric, error);
  ids = asm_fabric_list (fabric, ASM_FABRIC_DEVICES);
  for (guint i = 0; i < ids->len; i++)
    {
      AsmDeviceInfo di;
      g_autofree char *qid = NULL, *bus = NULL, *port = NULL;

      if (!asm_fabric_get_device_info (fabric, g_array_index (ids, AsmId, i),
                                       &di) ||
          di.kind == ASM_DEVICE_VF)
        continue;
      qid = asm_qemu_get_device_id (di.id);
      bus = asm_qemu_get_device_bus (backend, qid, error);
      port = asm_qemu_get_port_id (backend, di.switch_id, di.port);
      if (bus == NULL)
        return FALSE;
      if (port == NULL || strcmp (bus, port) != 0)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                       "device '%s' is behind %s in QEMU, the model says %s",
                       di.name, bus, port ? port : "(no port)");
          return FALSE;
        }
    }
  return TRUE;
}

/* Takes away the device step 7 plugged behind the fabric's back: a
 * hot-added device leaves QEMU at once, but the answer to device_del comes
 * before it is gone, so wait until QEMU no longer knows it. */
static gboolean
qemu_unplug (AsmBackend *backend, const char *qdev_id, GError **error)
{
  g_autofree char *args = g_strdup_printf ("{\"id\":\"%s\"}", qdev_id);
  g_autofree char *reply = asm_qemu_command (backend, "device_del", args, 0,
                                             error);
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  if (reply == NULL)
    return FALSE;
  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr (GError) local = NULL;
      g_autofree char *bus = asm_qemu_get_device_bus (backend, qdev_id,
                                                      &local);
      if (bus == NULL && g_error_matches (local, ASM_ERROR,
                                          ASM_ERROR_NOT_FOUND))
        return TRUE;
      if (bus == NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      g_usleep (10 * 1000);
    }
  g_set_error (error, ASM_ERROR, ASM_ERROR_TIMEOUT,
               "QEMU still has %s 5 s after device_del", qdev_id);
  return FALSE;
}

static void
print_qom (AsmBackend *backend, const char *when)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tree = NULL;

  if (!asm_qemu_is_qemu (backend))
    return;
  tree = asm_qemu_get_qom_tree (backend, &error);
  printf ("   QEMU's ports %s:\n", when);
  if (tree == NULL)
    printf ("     (%s)\n", error->message);
  else
    {
      g_auto (GStrv) lines = g_strsplit (tree, "\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        if (lines[i][0] != '\0')
          printf ("     %s\n", lines[i]);
    }
}

static int
demo_fabric (const char *output_dir, const char *backend_name)
{
  GError *error = NULL;
  g_autoptr (AsmBackend) sim = NULL;
  g_autoptr (AsmFabric) fabric = NULL;
  gboolean is_qemu;
  AsmId sw_a, sw_b, sw_c, nic0, nic1, gpu0, nvme0, vm1, vm2, p1, p2, vf, vf2;
  guint64 v1, v2, gpu_off, vf_off, predicted;
  AsmSwitchSpec spec = { 0 };
  AsmPartitionRequest req = { 0 };
  AsmRebalanceReport rep;
  g_autofree char *before = NULL, *after = NULL;

  printf ("\nPart 2: a switch fabric, partitioned and repartitioned at run "
          "time\n");
  printf ("=================================================================="
          "\n\n");
  sim = demo_backend_new (backend_name, &error);
  if (sim == NULL)
    {
      if (g_error_matches (error, ASM_ERROR, ASM_ERROR_NOT_FOUND))
        fprintf (stderr, "asmctl: QEMU is not installed (Debian package "
                         "qemu-system-x86)\n");
      return die (error);
    }
  is_qemu = asm_qemu_is_qemu (sim);
  if (is_qemu)
    printf ("Backend: %s, pid %d; windows and translation tables stay in "
            "the model (QMP cannot program them).\n\n",
            asm_qemu_get_version (sim), (int) asm_qemu_get_pid (sim));
  fabric = asm_fabric_new ("demo", 0, (G_GUINT64_CONSTANT (1) << 40) - 1,
                           2 * MiB, sim, &error);
  if (fabric == NULL)
    return die (error);
  if (!asm_fabric_set_window_granule (fabric, 1 * GiB, &error))
    return die (error);
  asm_fabric_add_observer (fabric, on_event, NULL);

  printf ("1. Three switches share a 1 TiB physical space; windows grow on "
          "demand\n   (1 GiB at a time) from the global space (%s).\n",
          is_qemu ? "a real QEMU" : "simulated hardware backend");
  spec.table_capacity = 16;
  spec.n_ports = 8;
  spec.name = "sw-a", spec.bandwidth = 64000, spec.latency_ns = 300;
  CHECK_OK (asm_fabric_add_switch (fabric, &spec, &sw_a, &error));
  spec.name = "sw-b", spec.bandwidth = 32000, spec.latency_ns = 250;
  CHECK_OK (asm_fabric_add_switch (fabric, &spec, &sw_b, &error));
  spec.name = "sw-c", spec.bandwidth = 16000, spec.latency_ns = 200;
  CHECK_OK (asm_fabric_add_switch (fabric, &spec, &sw_c, &error));

  printf ("\n2. Devices: two SR-IOV NICs, a GPU and an NVMe drive bound to "
          "switch ports\n");
  CHECK_OK (asm_fabric_add_device (fabric, "nic0", ASM_DEVICE_PF, 1 * MiB,
                                   sw_a, 0, &nic0, &error));
  CHECK_OK (asm_fabric_set_sriov (fabric, nic0, 8, 64 * KiB, &error));
  CHECK_OK (asm_fabric_add_device (fabric, "nic1", ASM_DEVICE_PF, 1 * MiB,
                                   sw_b, 0, &nic1, &error));
  CHECK_OK (asm_fabric_set_sriov (fabric, nic1, 8, 64 * KiB, &error));
  CHECK_OK (asm_fabric_add_device (fabric, "gpu0", ASM_DEVICE_ENDPOINT,
                                   256 * MiB, sw_a, 1, &gpu0, &error));
  CHECK_OK (asm_fabric_add_device (fabric, "nvme0", ASM_DEVICE_ENDPOINT,
                                   16 * KiB, sw_c, 0, &nvme0, &error));
  CHECK_OK (asm_fabric_create_vf (fabric, nic0, &vf, &error));
  printf ("   nic0 creates VF %u\n", vf);

  printf ("\n3. Two workloads ask for address partitions; the placement "
          "score picks the switch\n");
  CHECK_OK (asm_fabric_add_workload (fabric, "vm1", &vm1, &error));
  CHECK_OK (asm_fabric_add_workload (fabric, "vm2", &vm2, &error));
  req.size = 512 * MiB;
  req.bandwidth_demand = 20000;
  req.preferred_switch = sw_a;
  CHECK_OK (asm_fabric_request_partition (fabric, vm1, &req, &p1, &v1,
                                          &error));
  CHECK_OK (asm_fabric_map_device (fabric, p1, gpu0, &gpu_off, &error));
  req.size = 64 * MiB;
  req.bandwidth_demand = 4000;
  req.preferred_switch = ASM_ID_NONE;
  req.max_latency_ns = 400;
  req.min_bandwidth = 40000; /* only sw-a is that wide */
  CHECK_OK (asm_fabric_request_partition (fabric, vm2, &req, &p2, &v2,
                                          &error));
  CHECK_OK (asm_fabric_map_device (fabric, p2, vf, &vf_off, &error));
  asmctl_print_switches (fabric, stdout);
  print_translation (fabric, vm1, v1 + gpu_off + 0x40, "vm1:");
  print_translation (fabric, vm2, v2 + vf_off + 0x10, "vm2:");

  printf ("\n4. The profiler watches vm1 grow and predicts its demand\n");
  for (guint t = 0; t < 6; t++)
    CHECK_OK (asm_fabric_record_usage (fabric, vm1, t,
                                       (400 + 120 * t) * MiB, &error));
  CHECK_OK (asm_fabric_predict (fabric, vm1, 4, &predicted, &error));
  printf ("   samples 400, 520, ... 1000 MiB; predicted in 4 steps: %"
          G_GUINT64_FORMAT " MiB\n", predicted / MiB);
  CHECK_OK (asm_fabric_rebalance (fabric, 4, &rep, &error));
  printf ("   rebalance: %u workloads examined, %u grown in place, %u "
          "shrunk, %u moved, %u failed\n",
          rep.n_examined, rep.n_grown, rep.n_shrunk, rep.n_migrated,
          rep.n_failed);
  asmctl_print_switches (fabric, stdout);

  printf ("\n5. Transparent migration: vm1's partition moves to sw-b with "
          "its GPU\n");
  print_translation (fabric, vm1, v1 + gpu_off + 0x40, "before:");
  print_qom (sim, "before");
  CHECK_OK (asm_fabric_migrate_partition (fabric, p1, sw_b, &error));
  print_translation (fabric, vm1, v1 + gpu_off + 0x40, "after:");
  print_qom (sim, "after");

  printf ("\n6. VF transfer (hold, new VF on nic1, offset stored, hold "
          "lifted): same virtual address\n");
  print_translation (fabric, vm2, v2 + vf_off + 0x10, "before:");
  CHECK_OK (asm_fabric_transfer_vf (fabric, vf, nic1, &vf2, &error));
  print_translation (fabric, vm2, v2 + vf_off + 0x10, "after:");

  printf ("\n7. A backend failure in the middle of a migration is undone "
          "exactly\n");
  before = asm_fabric_save (fabric, NULL);
  if (is_qemu)
    {
      /* a device plugged behind the fabric's back where gpu0 would go */
      g_autofree char *port = asm_qemu_get_port_id (sim, sw_a, 1);
      g_autofree char *args = g_strdup_printf (
          "{\"driver\":\"edu\",\"id\":\"intruder\",\"bus\":\"%s\","
          "\"addr\":\"0x0\"}", port);
      g_autofree char *reply = asm_qemu_command (sim, "device_add", args, 0,
                                                 &error);
      if (reply == NULL)
        return die (error);
      printf ("   (a device 'intruder' was plugged into %s behind the "
              "fabric's back)\n", port);
    }
  else
    asm_sim_fail_call (sim, 5);
  if (asm_fabric_migrate_partition (fabric, p1, sw_a, &error))
    {
      fprintf (stderr, "asmctl: the injected failure did not happen\n");
      return 1;
    }
  printf ("   error: %s\n", error->message);
  g_clear_error (&error);
  if (!is_qemu)
    asm_sim_clear_faults (sim);
  after = asm_fabric_save (fabric, NULL);
  printf ("   saved state identical to before: %s; hardware matches the "
          "model: %s\n",
          strcmp (before, after) == 0 ? "yes" : "NO",
          demo_verify (sim, fabric, NULL) ? "yes" : "NO");
  print_translation (fabric, vm1, v1 + gpu_off + 0x40, "still:");
  if (is_qemu)
    {
      CHECK_OK (qemu_unplug (sim, "intruder", &error));
      printf ("   (the device 'intruder' was unplugged again)\n");
    }

  if (output_dir != NULL && write_outputs (fabric, output_dir) != 0)
    return ASMCTL_EXIT_FAILED;

  printf ("\n8. vm2 ends: its partitions are released and emptied windows "
          "go back\n");
  CHECK_OK (asm_fabric_remove_workload (fabric, vm2, &error));
  asmctl_print_switches (fabric, stdout);

  printf ("\n9. sw-b is drained for service and removed; vm1's addresses "
          "keep answering\n");
  print_translation (fabric, vm1, v1 + gpu_off + 0x40, "before:");
  CHECK_OK (asm_fabric_drain_switch (fabric, sw_b, &error));
  CHECK_OK (asm_fabric_destroy_vf (fabric, vf2, &error));
  CHECK_OK (asm_fabric_remove_device (fabric, nic1, &error));
  CHECK_OK (asm_fabric_remove_switch (fabric, sw_b, &error));
  print_translation (fabric, vm1, v1 + gpu_off + 0x40, "after:");
  asmctl_print_switches (fabric, stdout);

  CHECK_OK (asm_fabric_check (fabric, &error));
  CHECK_OK (demo_verify (sim, fabric, &error));
  if (demo_json)
    demo_snapshot = asm_fabric_save (fabric, NULL);
  printf ("\nThe fabric passes asm_fabric_check() and the %s "
          "hardware matches the model.\n", is_qemu ? "QEMU" : "simulated");
  return 0;
}

int
asmctl_cmd_demo (int argc, char **argv)
{
  g_autofree char *output_dir = NULL, *backend = NULL;
  gboolean no_files = FALSE, json = FALSE;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  GOptionEntry entries[] = {
    { "output-dir", 'o', 0, G_OPTION_ARG_FILENAME, &output_dir,
      "Write asm-demo.svg, asm-demo-topology.svg and asm-demo.json here "
      "(default: the current directory)", "DIR" },
    { "no-files", 0, 0, G_OPTION_ARG_NONE, &no_files,
      "Print only; write no picture and no snapshot", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      "Print the final state of the fabric as JSON (for machines) instead "
      "of the timeline; writes no files", NULL },
    { "backend", 'b', 0, G_OPTION_ARG_STRING, &backend,
      "sim (default: the simulated switch hardware) or qemu (a real "
      "qemu-system-x86_64 driven over QMP)", "NAME" },
    { NULL }
  };
  int rc;

  ctx = g_option_context_new ("- run the embedded default scenario");
  g_option_context_set_summary (
      ctx, "Runs the embedded default scenario end to end on the simulated "
           "backend:\nIOVA domains cloned from a template, then a switch "
           "fabric with placement,\nprofiling, growth, migration, VF transfer, "
           "an injected failure rolled back,\na workload that ends, and a "
           "switch drained and removed while its\npartition's addresses keep "
           "answering.  Prints a timeline, writes an SVG\npicture and a JSON "
           "snapshot.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "asmctl demo: %s\n", error->message);
      return ASMCTL_EXIT_USAGE;
    }
  if (argc > 1)
    {
      fprintf (stderr, "asmctl demo: unexpected argument '%s'\n", argv[1]);
      return ASMCTL_EXIT_USAGE;
    }
  if (json)
    {
      /* the timeline goes to /dev/null, the snapshot to the real stdout */
      int saved = dup (STDOUT_FILENO);
      int null_fd = open ("/dev/null", O_WRONLY);
      fflush (stdout);
      if (saved < 0 || null_fd < 0 || dup2 (null_fd, STDOUT_FILENO) < 0)
        {
          fprintf (stderr, "asmctl demo: cannot redirect the timeline\n");
          return ASMCTL_EXIT_FAILED;
        }
      close (null_fd);
      demo_json = TRUE;
      rc = demo_iova ();
      if (rc == 0)
        rc = demo_fabric (NULL, backend);
      fflush (stdout);
      dup2 (saved, STDOUT_FILENO);
      close (saved);
      if (rc == 0)
        printf ("%s\n", demo_snapshot);
      g_free (demo_snapshot);
      return rc;
    }
  printf ("asm demo\n\n");
  rc = demo_iova ();
  if (rc != 0)
    return rc;
  return demo_fabric (no_files ? NULL : (output_dir ? output_dir : "."),
                      backend);
}

