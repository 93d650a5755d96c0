/* fuzz-fabric-json.c: libFuzzer target for asm_fabric_restore()
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * The input is the text handed to asm_fabric_restore(): hostile JSON.  The
 * contract: it returns NULL with an ASM_ERROR_PARSE error, or a fabric
 * that passes asm_fabric_check() and whose save restores again and saves
 * to byte-identical JSON (restore (save (x)) == x on the bytes).
 *
 * A document that restores describes a fabric nobody built with the
 * operations, so the target then drives it: every partition is translated
 * at its first and last virtual address (the answer must lie in its
 * switch's placement or a VF redirect), then migrated to a switch of the
 * score's choice and grown by one granule; every workload's usage is
 * predicted and the fabric rebalanced; then every partition is released;
 * asm_fabric_check() runs after every step (with one more rule seen
 * through the public API: a partition's n_devices is the number of devices
 * whose info says they are mapped into it), a failed step must leave the
 * save unchanged, and a final round trip closes.  The fabric is model-only (restore
 * never programs a backend, and there is no hardware state to compare).
 * At most MAX_DRIVEN partitions are driven, so a large valid document
 * cannot make one input slow.
 *
 * A violation prints what happened and calls abort(); a GLib critical or
 * warning aborts too.  The seed corpus (corpus/fabric-json/) holds saves
 * of small fabrics made by the operations, and mutations of them.
 */
#include <asm/asm.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DRIVEN 8

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN
static void
die (const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "fuzz-fabric-json: ");
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fprintf (stderr, "\n");
  abort ();
}

static void
log_handler (const gchar *domain, GLogLevelFlags level, const gchar *message,
             gpointer user_data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL |
               G_LOG_LEVEL_WARNING))
    die ("GLib critical or warning from %s: %s", domain ? domain : "?",
         message);
}

/* asm_fabric_check(), and what the public API shows must agree: each
 * partition's n_devices is the number of devices mapped into it */
static void
check (AsmFabric *f, const char *when)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) parts = NULL;
  g_autoptr(GArray) devs = NULL;
  g_autoptr(GHashTable) mapped = NULL;

  if (!asm_fabric_check (f, &error))
    die ("asm_fabric_check %s: %s", when, error->message);
  parts = asm_fabric_list (f, ASM_FABRIC_PARTITIONS);
  devs = asm_fabric_list (f, ASM_FABRIC_DEVICES);
  mapped = g_hash_table_new (NULL, NULL);
  for (guint i = 0; i < devs->len; i++)
    {
      AsmDeviceInfo di;
      gpointer key;
      if (!asm_fabric_get_device_info (f, g_array_index (devs, AsmId, i),
                                       &di))
        die ("%s: device %u is listed but has no info", when,
             g_array_index (devs, AsmId, i));
      if (di.partition == ASM_ID_NONE)
        continue;
      key = GUINT_TO_POINTER (di.partition);
      g_hash_table_insert (mapped, key,
                           GUINT_TO_POINTER (GPOINTER_TO_UINT (
                               g_hash_table_lookup (mapped, key)) + 1));
    }
  for (guint i = 0; i < parts->len; i++)
    {
      AsmPartitionInfo pi;
      AsmId id = g_array_index (parts, AsmId, i);
      guint n;
      if (!asm_fabric_get_partition_info (f, id, &pi))
        die ("%s: partition %u is listed but has no info", when, id);
      n = GPOINTER_TO_UINT (g_hash_table_lookup (mapped,
                                                 GUINT_TO_POINTER (id)));
      if (n != pi.n_devices)
        die ("%s: partition %u has n_devices %u but %u devices are mapped "
             "into it", when, id, pi.n_devices, n);
    }
}

/* restore (save (f)) must save to the same bytes; returns the save */
static char *
round_trip (AsmFabric *f, gsize *out_len, const char *when)
{
  g_autoptr(GError) error = NULL;
  gsize n1 = 0, n2 = 0;
  char *s1 = asm_fabric_save (f, &n1);
  g_autofree char *s2 = NULL;
  g_autoptr(AsmFabric) g = asm_fabric_restore (s1, n1, NULL, &error);

  if (g == NULL)
    die ("%s: the save does not restore: %s\n%s", when, error->message, s1);
  check (g, "after restoring a save");
  s2 = asm_fabric_save (g, &n2);
  if (n1 != n2 || memcmp (s1, s2, n1) != 0)
    die ("%s: save (restore (save (x))) differs:\n--- save\n%s\n--- "
         "again\n%s", when, s1, s2);
  if (out_len != NULL)
    *out_len = n1;
  return s1;
}

static void
check_translate (AsmFabric *f, const AsmPartitionInfo *info, guint64 off)
{
  g_autoptr(GError) error = NULL;
  AsmTranslation t;

  if (!asm_fabric_translate (f, info->workload, info->virt_first + off, &t,
                             &error))
    die ("translate partition %u at +0x%" G_GINT64_MODIFIER "x: %s",
         info->id, off, error->message);
  if (t.partition != info->id || t.generation != info->generation ||
      t.held)
    die ("translate partition %u: partition %u generation %u held %d",
         info->id, t.partition, t.generation, t.held);
  if (t.switch_id == info->switch_id && t.physical == info->phys_first + off)
    return;
  /* otherwise only a transferred VF's redirect may route it */
  {
    AsmDeviceInfo di;
    if (t.device == ASM_ID_NONE ||
        !asm_fabric_get_device_info (f, t.device, &di) ||
        di.kind != ASM_DEVICE_VF || di.partition != info->id ||
        t.device_offset >= di.bar_size)
      die ("translate partition %u at +0x%" G_GINT64_MODIFIER "x: (%u, 0x%"
           G_GINT64_MODIFIER "x) device %u, but it is on (%u, 0x%"
           G_GINT64_MODIFIER "x)", info->id, off, t.switch_id, t.physical,
           t.device, info->switch_id, info->phys_first + off);
  }
}

/* a failed operation must leave the fabric as it was */
static void
step (AsmFabric *f, gboolean ok, GError *error, const char *before,
      const char *what)
{
  if (!ok)
    {
      g_autofree char *after = asm_fabric_save (f, NULL);
      if (error == NULL || error->domain != ASM_ERROR)
        die ("%s failed without an ASM_ERROR", what);
      if (strcmp (before, after) != 0)
        die ("%s failed (%s) but changed the fabric:\n--- before\n%s\n--- "
             "after\n%s", what, error->message, before, after);
    }
  check (f, what);
}

static void
drive (AsmFabric *f)
{
  g_autoptr(GArray) parts = asm_fabric_list (f, ASM_FABRIC_PARTITIONS);
  guint64 granule = asm_fabric_get_granule (f);

  for (guint i = 0; i < parts->len && i < MAX_DRIVEN; i++)
    {
      AsmId id = g_array_index (parts, AsmId, i);
      AsmPartitionInfo info;
      char what[64];

      if (!asm_fabric_get_partition_info (f, id, &info))
        die ("partition %u is listed but has no info", id);
      check_translate (f, &info, 0);
      check_translate (f, &info, info.size - 1);
      {
        g_autofree char *before = asm_fabric_save (f, NULL);
        g_autoptr(GError) error = NULL;
        gboolean ok = asm_fabric_migrate_partition (f, id, ASM_ID_NONE,
                                                    &error);
        g_snprintf (what, sizeof what, "migrate partition %u", id);
        step (f, ok, error, before, what);
      }
      if (granule != 0 && asm_fabric_get_partition_info (f, id, &info))
        {
          g_autofree char *before = asm_fabric_save (f, NULL);
          g_autoptr(GError) error = NULL;
          gboolean ok = asm_fabric_grow_partition (f, id,
                                                   info.size + granule,
                                                   &error);
          g_snprintf (what, sizeof what, "grow partition %u", id);
          step (f, ok, error, before, what);
        }
    }
  /* the profiler on restored samples: predictions, then a rebalance */
  {
    g_autoptr(GArray) wls = asm_fabric_list (f, ASM_FABRIC_WORKLOADS);
    AsmRebalanceReport rep;
    g_autoptr(GError) error = NULL;

    for (guint i = 0; i < wls->len && i < MAX_DRIVEN; i++)
      {
        guint64 bytes;
        g_autoptr(GError) perr = NULL;
        if (!asm_fabric_predict (f, g_array_index (wls, AsmId, i), 2.0,
                                 &bytes, &perr) &&
            (perr == NULL || perr->domain != ASM_ERROR))
          die ("predict failed without an ASM_ERROR");
      }
    if (!asm_fabric_rebalance (f, 2.0, &rep, &error))
      die ("rebalance: %s", error->message);
    check (f, "after rebalance");
  }
  for (guint i = 0; i < parts->len && i < MAX_DRIVEN; i++)
    {
      AsmId id = g_array_index (parts, AsmId, i);
      g_autofree char *before = asm_fabric_save (f, NULL);
      g_autoptr(GError) error = NULL;
      gboolean ok = asm_fabric_release_partition (f, id, &error);
      char what[64];

      g_snprintf (what, sizeof what, "release partition %u", id);
      step (f, ok, error, before, what);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static gboolean initialised;
  g_autoptr(GError) error = NULL;
  g_autoptr(AsmFabric) f = NULL;
  g_autofree char *saved = NULL;

  if (!initialised)
    {
      g_log_set_default_handler (log_handler, NULL);
      g_log_set_handler ("asm", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL,
                         log_handler, NULL);
      g_log_set_handler ("Json", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL,
                         log_handler, NULL);
      initialised = TRUE;
    }

  f = asm_fabric_restore ((const char *) data, (gssize) size, NULL, &error);
  if (f == NULL)
    {
      if (!g_error_matches (error, ASM_ERROR, ASM_ERROR_PARSE))
        die ("restore failed without ASM_ERROR_PARSE: %s",
             error ? error->message : "no error");
      if (error->message == NULL || error->message[0] == '\0')
        die ("restore failed with an empty message");
      return 0;
    }
  check (f, "after restore");
  saved = round_trip (f, NULL, "restored input");
  drive (f);
  g_free (round_trip (f, NULL, "after driving"));
  return 0;
}

#ifdef ASM_FUZZ_GEN_CORPUS
/* The seed corpus: saves of small fabrics built with the operations.
 *
 *   cc -DASM_FUZZ_GEN_CORPUS -DASM_COMPILATION -Iinclude -Isrc -Itests \
 *      tests/fuzz/fuzz-fabric-json.c src/asm-*.c \
 *      $(pkg-config --cflags --libs glib-2.0 json-glib-1.0) -lm -o gen
 *   ./gen tests/fuzz/corpus/fabric-json
 */
#define ASM_TEST_NO_CMOCKA
#include "asm-test.h"

#define MIB (G_GUINT64_CONSTANT (1) << 20)

static void
write_save (AsmFabric *f, const char *dir, const char *name)
{
  g_autofree char *path = g_strdup_printf ("%s/seed-%s.json", dir, name);
  gsize n;
  g_autofree char *s = asm_fabric_save (f, &n);
  g_autoptr(GError) error = NULL;

  if (!g_file_set_contents (path, s, n, &error))
    die ("%s", error->message);
  printf ("%s (%zu bytes)\n", path, (size_t) n);
}

static AsmId
gen_switch (AsmFabric *f, const char *name, guint64 bw, guint32 lat,
            guint32 cap, guint32 ports, gboolean pinned)
{
  AsmSwitchSpec spec = { name, bw, lat, cap, ports, pinned };
  AsmId id = 0;
  OK (asm_fabric_add_switch (f, &spec, &id, &error));
  return id;
}

int
main (int argc, char **argv)
{
  const char *dir = argc > 1 ? argv[1] : ".";
  AsmPartitionRequest req = { 0 };
  AsmId s1, s2, s3, w1, w2, p1, p2, p3, ep, pf1, pf2, vf, nvf;
  guint64 virt, off;
  g_autofree char *journal = g_strdup_printf ("%s/gen-fabric-json-%d",
                                              g_get_tmp_dir (),
                                              (int) getpid ());

  /* empty */
  {
    g_autoptr(AsmFabric) f = asm_fabric_new ("e", 0, 64 * MIB - 1, MIB,
                                             NULL, NULL);
    write_save (f, dir, "empty");
  }
  /* one switch, one workload, one partition */
  {
    g_autoptr(AsmFabric) f = asm_fabric_new ("a", 0, 256 * MIB - 1, MIB,
                                             NULL, NULL);
    s1 = gen_switch (f, "sw1", 1000, 100, 4, 2, FALSE);
    OK (asm_fabric_add_workload (f, "w1", &w1, &error));
    req.size = 4 * MIB;
    OK (asm_fabric_request_partition (f, w1, &req, &p1, &virt, &error));
    write_save (f, dir, "one-partition");
  }
  /* two switches, an endpoint and a PF with VFs mapped, migrated, grown */
  {
    g_autoptr(AsmBackend) sim = asm_sim_backend_new ();
    g_autoptr(AsmFabric) f = asm_fabric_new ("b", 0, 1024 * MIB - 1, MIB,
                                             sim, NULL);
    s1 = gen_switch (f, "sw1", 10000, 100, 8, 4, FALSE);
    s2 = gen_switch (f, "sw2", 20000, 300, 8, 4, FALSE);
    OK (asm_fabric_add_device (f, "nic", ASM_DEVICE_ENDPOINT, MIB, s1, 0,
                               &ep, &error));
    OK (asm_fabric_add_device (f, "gpu", ASM_DEVICE_PF, 2 * MIB, s1, 1, &pf1,
                               &error));
    OK (asm_fabric_set_sriov (f, pf1, 4, MIB, &error));
    OK (asm_fabric_create_vf (f, pf1, &vf, &error));
    OK (asm_fabric_add_workload (f, "vm1", &w1, &error));
    req.size = 8 * MIB;
    req.preferred_switch = s1;
    req.bandwidth_demand = 500;
    OK (asm_fabric_request_partition (f, w1, &req, &p1, &virt, &error));
    OK (asm_fabric_map_device (f, p1, ep, &off, &error));
    OK (asm_fabric_map_device (f, p1, pf1, &off, &error));
    OK (asm_fabric_map_device (f, p1, vf, &off, &error));
    OK (asm_fabric_migrate_partition (f, p1, s2, &error));
    OK (asm_fabric_grow_partition (f, p1, 12 * MIB, &error));
    write_save (f, dir, "devices-migrated");
  }
  /* pinned switches with windows, reserved holes, a bigger window granule */
  {
    g_autoptr(AsmFabric) f = asm_fabric_new ("c", 0, 4096 * MIB - 1, MIB,
                                             NULL, NULL);
    OK (asm_fabric_reserve_global (f, 0, 16 * MIB - 1, &error));
    OK (asm_fabric_reserve_global (f, 1024 * MIB, 1040 * MIB - 1, &error));
    g_assert_true (asm_fabric_set_window_granule (f, 8 * MIB, NULL));
    s1 = gen_switch (f, "fw1", 5000, 50, 2, 1, TRUE);
    OK (asm_fabric_add_window (f, s1, 64 * MIB, 80 * MIB - 1, &error));
    OK (asm_fabric_add_window (f, s1, 128 * MIB, 132 * MIB - 1, &error));
    s2 = gen_switch (f, "dyn", 5000, 2000, 16, 8, FALSE);
    OK (asm_fabric_add_workload (f, "db", &w1, &error));
    OK (asm_fabric_add_workload (f, "web", &w2, &error));
    req = (AsmPartitionRequest) { .size = 4 * MIB, .align = 4 * MIB,
                                  .preferred_switch = s1 };
    OK (asm_fabric_request_partition (f, w1, &req, &p1, &virt, &error));
    req = (AsmPartitionRequest) { .size = 2 * MIB, .max_latency_ns = 100 };
    OK (asm_fabric_request_partition (f, w1, &req, &p2, &virt, &error));
    req = (AsmPartitionRequest) { .size = 3 * MIB, .min_bandwidth = 1000 };
    OK (asm_fabric_request_partition (f, w2, &req, &p3, &virt, &error));
    write_save (f, dir, "pinned-reserved");
  }
  /* a VF transferred to another PF (a redirect entry) */
  {
    g_autoptr(AsmBackend) sim = asm_sim_backend_new ();
    g_autoptr(AsmFabric) f = asm_fabric_new ("d", 0, 1024 * MIB - 1, MIB,
                                             sim, NULL);
    s1 = gen_switch (f, "sw1", 10000, 100, 8, 4, FALSE);
    s2 = gen_switch (f, "sw2", 10000, 100, 8, 4, FALSE);
    OK (asm_fabric_add_device (f, "pf1", ASM_DEVICE_PF, MIB, s1, 0, &pf1,
                               &error));
    OK (asm_fabric_add_device (f, "pf2", ASM_DEVICE_PF, MIB, s2, 0, &pf2,
                               &error));
    OK (asm_fabric_set_sriov (f, pf1, 2, 64 * 1024, &error));
    OK (asm_fabric_set_sriov (f, pf2, 2, 64 * 1024, &error));
    OK (asm_fabric_create_vf (f, pf1, &vf, &error));
    OK (asm_fabric_add_workload (f, "vm", &w1, &error));
    req = (AsmPartitionRequest) { .size = 4 * MIB, .preferred_switch = s1 };
    OK (asm_fabric_request_partition (f, w1, &req, &p1, &virt, &error));
    OK (asm_fabric_map_device (f, p1, vf, &off, &error));
    OK (asm_fabric_transfer_vf (f, vf, pf2, &nvf, &error));
    write_save (f, dir, "vf-transferred");
  }
  /* usage samples, a rebalance, a released partition, a journal position */
  {
    g_autoptr(AsmBackend) sim = asm_sim_backend_new ();
    g_autoptr(AsmFabric) f = asm_fabric_new ("e", 0, 1024 * MIB - 1, MIB,
                                             sim, NULL);
    AsmRebalanceReport rep;
    remove (journal);
    OK (asm_fabric_set_journal (f, journal, &error));
    s1 = gen_switch (f, "sw1", 10000, 100, 8, 4, FALSE);
    s2 = gen_switch (f, "sw2", 10000, 500, 8, 4, FALSE);
    s3 = gen_switch (f, "sw3", 100, 10, 1, 0, FALSE);
    OK (asm_fabric_add_workload (f, "grower", &w1, &error));
    OK (asm_fabric_add_workload (f, "gone", &w2, &error));
    req = (AsmPartitionRequest) { .size = 2 * MIB };
    OK (asm_fabric_request_partition (f, w1, &req, &p1, &virt, &error));
    OK (asm_fabric_request_partition (f, w2, &req, &p2, &virt, &error));
    OK (asm_fabric_record_usage (f, w1, 1.0, 1 * MIB, &error));
    OK (asm_fabric_record_usage (f, w1, 2.0, 2 * MIB, &error));
    OK (asm_fabric_record_usage (f, w1, 3.5, 3 * MIB + 12345, &error));
    OK (asm_fabric_rebalance (f, 2.0, &rep, &error));
    OK (asm_fabric_release_partition (f, p2, &error));
    write_save (f, dir, "usage-released");
    asm_fabric_set_journal (f, NULL, NULL);
    remove (journal);
  }
  return 0;
}
#endif
