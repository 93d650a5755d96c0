/* asmctl-bus-cmds.c: the subcommands of `asmctl --bus BUS fabric`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One handler per subcommand, each called by asmctl-bus.c's driver with
 * its positional arguments once the command line has been read: numbers
 * are parsed first (a bad one is exit 2 before the bus is touched), then
 * names are resolved, then the daemon is called, then the result is
 * printed as text or added to the command's JSON object.  The readers
 * that print more than a line are at the end: status (the tables), show
 * and watch (the signals, as they come).
 */
#include "asmctl-bus.h"

#include "asmctl-dbus.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* Subcommands                                                          */


/* After an operation on a partition: its state now, as text ("partition
 * 9 placed: 512 MiB for vm1 on sw-a, virtual ..., physical ...") or
 * JSON. */
static gboolean
report_partition (AsmctlBus *c, guint64 id, const char *done)
{
  g_autoptr (GVariant) p = asmctl_bus_get_info (c, "Partition", id, NULL);
  g_autofree char *wl = NULL, *sw = NULL, *size = NULL;
  guint64 v, n;

  if (c->json)
    {
      asmctl_bus_json_int (c->b, "partition", id);
      asmctl_bus_json_dict (c->b, p);
      return TRUE;
    }
  printf ("partition %" G_GUINT64_FORMAT " %s", id, done);
  if (p == NULL)
    {
      /* gone already: another client was quicker */
      printf ("\n");
      return TRUE;
    }
  wl = asmctl_bus_name_of (c, "Workload", asmctl_bus_dict_t (p, "workload"));
  sw = asmctl_bus_name_of (c, "Switch", asmctl_bus_dict_t (p, "switch"));
  size = asmctl_format_size (asmctl_bus_dict_t (p, "size"));
  v = asmctl_bus_dict_t (p, "virt_first");
  n = asmctl_bus_dict_t (p, "size");
  printf (": %s for %s on %s, virtual " HEX "-" HEX ", physical " HEX
          " (generation %u, %u device%s)\n",
          size, wl, sw, v, v + (n ? n - 1 : 0),
          asmctl_bus_dict_t (p, "phys_first"),
          asmctl_bus_dict_u (p, "generation"), asmctl_bus_dict_u (p, "devices"),
          asmctl_bus_dict_u (p, "devices") == 1 ? "" : "s");
  return TRUE;
}

gboolean
asmctl_bus_request (AsmctlBus *c, char **args, GError **error)
{
  GVariantDict o;
  g_autoptr (GVariant) options = NULL, r = NULL;
  guint64 wl, size, v, partition, virt;
  guint32 lat;

  g_variant_dict_init (&o, NULL);
  if (!asmctl_bus_parse_number ("SIZE", args[1], G_MAXUINT64, &size, error))
    goto fail;
  if (c->opts->align != NULL)
    {
      if (!asmctl_bus_parse_number ("--align", c->opts->align, G_MAXUINT64, &v,
                                    error))
        goto fail;
      g_variant_dict_insert (&o, "align", "t", v);
    }
  if (c->opts->bandwidth != NULL)
    {
      if (!asmctl_bus_parse_number ("--bandwidth", c->opts->bandwidth,
                                    G_MAXUINT64, &v, error))
        goto fail;
      g_variant_dict_insert (&o, "bandwidth_demand", "t", v);
    }
  if (c->opts->min_bandwidth != NULL)
    {
      if (!asmctl_bus_parse_number ("--min-bandwidth", c->opts->min_bandwidth,
                                    G_MAXUINT64, &v, error))
        goto fail;
      g_variant_dict_insert (&o, "min_bandwidth", "t", v);
    }
  if (c->opts->max_latency != NULL)
    {
      if (!asmctl_bus_parse_u32 ("--max-latency-ns", c->opts->max_latency, &lat,
                                 error))
        goto fail;
      g_variant_dict_insert (&o, "max_latency_ns", "u", lat);
    }
  if (!asmctl_bus_resolve (c, "workload", args[0], &wl, error))
    goto fail;
  if (c->opts->prefer != NULL)
    {
      if (!asmctl_bus_resolve (c, "switch", c->opts->prefer, &v, error))
        goto fail;
      g_variant_dict_insert (&o, "preferred_switch", "t", v);
    }
  options = g_variant_ref_sink (g_variant_dict_end (&o));
  r = asmctl_bus_call (c, "RequestPartition",
                       g_variant_new ("(tt@a{sv})", wl, size, options), "(tt)",
                       error);
  if (r == NULL)
    return FALSE;
  g_variant_get (r, "(tt)", &partition, &virt);
  if (c->json)
    asmctl_bus_json_hex (c->b, "virt_first", virt);
  return report_partition (c, partition, "placed");

fail:
  g_variant_dict_clear (&o);
  return FALSE;
}

/* the partition and the device of map and unmap */
static gboolean
partition_device (AsmctlBus *c, char **args, guint64 *p, guint64 *d,
                  GError **error)
{
  return asmctl_bus_parse_partition (args[0], p, error) &&
         asmctl_bus_resolve (c, "device", args[1], d, error);
}

gboolean
asmctl_bus_map (AsmctlBus *c, char **args, GError **error)
{
  g_autoptr (GVariant) r = NULL, info = NULL;
  g_autofree char *dev = NULL;
  guint64 p, d, offset;

  if (!partition_device (c, args, &p, &d, error) ||
      (r = asmctl_bus_call (c, "MapDevice", g_variant_new ("(tt)", p, d), "(t)",
                            error)) == NULL)
    return FALSE;
  g_variant_get (r, "(t)", &offset);
  info = asmctl_bus_get_info (c, "Partition", p, NULL);
  if (c->json)
    {
      asmctl_bus_json_int (c->b, "partition", p);
      asmctl_bus_json_int (c->b, "device", d);
      asmctl_bus_json_hex (c->b, "offset", offset);
      if (info != NULL)
        asmctl_bus_json_hex (c->b, "virt",
                             asmctl_bus_dict_t (info, "virt_first") + offset);
      return TRUE;
    }
  dev = asmctl_bus_name_of (c, "Device", d);
  printf ("%s mapped into partition %" G_GUINT64_FORMAT " at offset " HEX, dev,
          p, offset);
  if (info != NULL)
    printf (" (virtual " HEX ")",
            asmctl_bus_dict_t (info, "virt_first") + offset);
  printf ("\n");
  return TRUE;
}

gboolean
asmctl_bus_unmap (AsmctlBus *c, char **args, GError **error)
{
  g_autoptr (GVariant) r = NULL;
  guint64 p, d;

  if (!partition_device (c, args, &p, &d, error) ||
      (r = asmctl_bus_call (c, "UnmapDevice", g_variant_new ("(tt)", p, d),
                            "()", error)) == NULL)
    return FALSE;
  if (c->json)
    {
      asmctl_bus_json_int (c->b, "partition", p);
      asmctl_bus_json_int (c->b, "device", d);
    }
  else
    printf ("%s unmapped from partition %" G_GUINT64_FORMAT "\n", args[1], p);
  return TRUE;
}

gboolean
asmctl_bus_migrate (AsmctlBus *c, char **args, GError **error)
{
  g_autoptr (GVariant) r = NULL;
  guint64 p, sw;

  if (!asmctl_bus_parse_partition (args[0], &p, error) ||
      !asmctl_bus_resolve (c, "switch", args[1], &sw, error) ||
      (r = asmctl_bus_call (c, "MigratePartition",
                            g_variant_new ("(tt)", p, sw), "()", error)) ==
          NULL)
    return FALSE;
  return report_partition (c, p, "migrated (virtual addresses unchanged)");
}

/* grow and shrink */
static gboolean
resize (AsmctlBus *c, char **args, const char *method, GError **error)
{
  g_autoptr (GVariant) r = NULL;
  guint64 p, size;

  if (!asmctl_bus_parse_partition (args[0], &p, error) ||
      !asmctl_bus_parse_number ("SIZE", args[1], G_MAXUINT64, &size, error) ||
      (r = asmctl_bus_call (c, method, g_variant_new ("(tt)", p, size), "()",
                            error)) == NULL)
    return FALSE;
  return report_partition (c, p, "resized");
}

gboolean
asmctl_bus_grow (AsmctlBus *c, char **args, GError **error)
{
  return resize (c, args, "GrowPartition", error);
}

gboolean
asmctl_bus_shrink (AsmctlBus *c, char **args, GError **error)
{
  return resize (c, args, "ShrinkPartition", error);
}

gboolean
asmctl_bus_release (AsmctlBus *c, char **args, GError **error)
{
  g_autoptr (GVariant) r = NULL;
  guint64 p;

  if (!asmctl_bus_parse_partition (args[0], &p, error) ||
      (r = asmctl_bus_call (c, "ReleasePartition", g_variant_new ("(t)", p),
                            "()", error)) == NULL)
    return FALSE;
  if (c->json)
    asmctl_bus_json_int (c->b, "partition", p);
  else
    printf ("partition %" G_GUINT64_FORMAT " released\n", p);
  return TRUE;
}

/* A method that takes one object named by @kind and returns nothing:
 * destroy-vf, remove-device, drain, remove-switch, end-workload. */
static gboolean
one_object (AsmctlBus *c, const char *kind, const char *text,
            const char *method, const char *done, GError **error)
{
  g_autoptr (GVariant) r = NULL;
  guint64 id;

  if (!asmctl_bus_resolve (c, kind, text, &id, error) ||
      (r = asmctl_bus_call (c, method, g_variant_new ("(t)", id), "()",
                            error)) == NULL)
    return FALSE;
  if (c->json)
    asmctl_bus_json_int (c->b, kind, id);
  else
    printf ("%s %s %s\n", kind, text, done);
  return TRUE;
}

gboolean
asmctl_bus_destroy_vf (AsmctlBus *c, char **args, GError **error)
{
  return one_object (c, "device", args[0], "DestroyVf", "destroyed", error);
}

gboolean
asmctl_bus_remove_device (AsmctlBus *c, char **args, GError **error)
{
  return one_object (c, "device", args[0], "RemoveDevice", "removed", error);
}

gboolean
asmctl_bus_drain (AsmctlBus *c, char **args, GError **error)
{
  return one_object (c, "switch", args[0], "DrainSwitch",
                     "drained: its partitions moved away, its windows given "
                     "back",
                     error);
}

gboolean
asmctl_bus_remove_switch (AsmctlBus *c, char **args, GError **error)
{
  return one_object (c, "switch", args[0], "RemoveSwitch", "removed", error);
}

gboolean
asmctl_bus_end_workload (AsmctlBus *c, char **args, GError **error)
{
  return one_object (c, "workload", args[0], "RemoveWorkload",
                     "ended: its partitions released", error);
}

/* a method that returns a new device: create-vf and transfer-vf */
static gboolean
report_new_device (AsmctlBus *c, GVariant *r, const char *key, const char *done)
{
  g_autofree char *name = NULL;
  guint64 id;

  g_variant_get (r, "(t)", &id);
  name = asmctl_bus_name_of (c, "Device", id);
  if (c->json)
    {
      asmctl_bus_json_int (c->b, key, id);
      asmctl_bus_json_str (c->b, "name", name);
    }
  else
    printf ("%s %s (device %" G_GUINT64_FORMAT ")\n", done, name, id);
  return TRUE;
}

gboolean
asmctl_bus_create_vf (AsmctlBus *c, char **args, GError **error)
{
  g_autoptr (GVariant) r = NULL;
  g_autofree char *done = NULL;
  guint64 pf;

  if (!asmctl_bus_resolve (c, "device", args[0], &pf, error) ||
      (r = asmctl_bus_call (c, "CreateVf", g_variant_new ("(t)", pf), "(t)",
                            error)) == NULL)
    return FALSE;
  if (c->json)
    asmctl_bus_json_int (c->b, "pf", pf);
  done = g_strdup_printf ("%s has a new VF:", args[0]);
  return report_new_device (c, r, "vf", done);
}

gboolean
asmctl_bus_transfer_vf (AsmctlBus *c, char **args, GError **error)
{
  g_autoptr (GVariant) r = NULL;
  g_autofree char *done = NULL;
  guint64 vf, pf;

  if (!asmctl_bus_resolve (c, "device", args[0], &vf, error) ||
      !asmctl_bus_resolve (c, "device", args[1], &pf, error) ||
      (r = asmctl_bus_call (c, "TransferVf", g_variant_new ("(tt)", vf, pf),
                            "(t)", error)) == NULL)
    return FALSE;
  if (c->json)
    {
      asmctl_bus_json_int (c->b, "vf", vf);
      asmctl_bus_json_int (c->b, "pf", pf);
    }
  done = g_strdup_printf ("VF %s transferred to %s, its virtual addresses "
                          "unchanged:",
                          args[0], args[1]);
  return report_new_device (c, r, "new_vf", done);
}

gboolean
asmctl_bus_add_workload (AsmctlBus *c, char **args, GError **error)
{
  g_autoptr (GVariant) r =
      asmctl_bus_call (c, "AddWorkload", g_variant_new ("(s)", args[0]), "(t)",
                       error);
  guint64 id;

  if (r == NULL)
    return FALSE;
  g_variant_get (r, "(t)", &id);
  if (c->json)
    {
      asmctl_bus_json_int (c->b, "workload", id);
      asmctl_bus_json_str (c->b, "name", args[0]);
    }
  else
    printf ("workload %s added (id %" G_GUINT64_FORMAT ")\n", args[0], id);
  return TRUE;
}

gboolean
asmctl_bus_migrate_workload (AsmctlBus *c, char **args, GError **error)
{
  g_autoptr (GVariant) r = NULL;
  guint64 wl, sw;

  if (!asmctl_bus_resolve (c, "workload", args[0], &wl, error) ||
      !asmctl_bus_resolve (c, "switch", args[1], &sw, error) ||
      (r = asmctl_bus_call (c, "MigrateWorkload",
                            g_variant_new ("(tt)", wl, sw), "()", error)) ==
          NULL)
    return FALSE;
  if (c->json)
    {
      asmctl_bus_json_int (c->b, "workload", wl);
      asmctl_bus_json_int (c->b, "switch", sw);
    }
  else
    printf ("every partition of %s is on %s, its virtual addresses "
            "unchanged\n",
            args[0], args[1]);
  return TRUE;
}

gboolean
asmctl_bus_translate (AsmctlBus *c, char **args, GError **error)
{
  g_autoptr (GVariant) r = NULL, info = NULL;
  g_autofree char *sw = NULL, *dev = NULL;
  guint64 wl, virt;

  if (!asmctl_bus_parse_number ("VIRT", args[1], G_MAXUINT64, &virt, error) ||
      !asmctl_bus_resolve (c, "workload", args[0], &wl, error) ||
      (r = asmctl_bus_call (c, "Translate", g_variant_new ("(tt)", wl, virt),
                            "(a{sv})", error)) == NULL)
    return FALSE;
  info = g_variant_get_child_value (r, 0);
  if (c->json)
    {
      asmctl_bus_json_int (c->b, "workload", wl);
      asmctl_bus_json_hex (c->b, "virt", virt);
      asmctl_bus_json_dict (c->b, info);
      return TRUE;
    }
  /* as asmctl run prints a translate step */
  sw = asmctl_bus_name_of (c, "Switch", asmctl_bus_dict_t (info, "switch"));
  printf ("virtual " HEX " -> switch %s physical " HEX, virt, sw,
          asmctl_bus_dict_t (info, "physical"));
  if (asmctl_bus_dict_t (info, "device") != 0)
    {
      dev =
          asmctl_bus_name_of (c, "Device", asmctl_bus_dict_t (info, "device"));
      printf (" device %s +" HEX, dev,
              asmctl_bus_dict_t (info, "device_offset"));
    }
  printf (" (generation %u)%s\n", asmctl_bus_dict_u (info, "generation"),
          asmctl_bus_dict_b (info, "held")
              ? " (held: an operation is moving it)"
              : "");
  return TRUE;
}

gboolean
asmctl_bus_rebalance (AsmctlBus *c, char **args, GError **error)
{
  g_autoptr (GVariant) r = NULL, rep = NULL;
  double horizon;

  if (!asmctl_bus_parse_double ("HORIZON", args[0], &horizon, error) ||
      (r = asmctl_bus_call (c, "Rebalance", g_variant_new ("(d)", horizon),
                            "(a{sv})", error)) == NULL)
    return FALSE;
  rep = g_variant_get_child_value (r, 0);
  if (c->json)
    asmctl_bus_json_dict (c->b, rep);
  else
    printf ("%u examined, %u grown in place, %u shrunk, %u moved, %u "
            "failed\n",
            asmctl_bus_dict_u (rep, "examined"),
            asmctl_bus_dict_u (rep, "grown"), asmctl_bus_dict_u (rep, "shrunk"),
            asmctl_bus_dict_u (rep, "migrated"),
            asmctl_bus_dict_u (rep, "failed"));
  return TRUE;
}

gboolean
asmctl_bus_predict (AsmctlBus *c, char **args, GError **error)
{
  g_autoptr (GVariant) r = NULL;
  g_autofree char *size = NULL;
  guint64 wl, bytes;
  double horizon;

  if (!asmctl_bus_parse_double ("HORIZON", args[1], &horizon, error) ||
      !asmctl_bus_resolve (c, "workload", args[0], &wl, error) ||
      (r = asmctl_bus_call (c, "Predict", g_variant_new ("(td)", wl, horizon),
                            "(t)", error)) == NULL)
    return FALSE;
  g_variant_get (r, "(t)", &bytes);
  if (c->json)
    {
      asmctl_bus_json_int (c->b, "workload", wl);
      asmctl_bus_json_hex (c->b, "bytes", bytes);
      return TRUE;
    }
  size = asmctl_format_size (bytes);
  printf ("predicted use of %s at %s: %s (" HEX " bytes)\n", args[0], args[1],
          size, bytes);
  return TRUE;
}

gboolean
asmctl_bus_record_usage (AsmctlBus *c, char **args, GError **error)
{
  g_autoptr (GVariant) r = NULL;
  guint64 wl, bytes;
  double time;

  if (!asmctl_bus_parse_double ("TIME", args[1], &time, error) ||
      !asmctl_bus_parse_number ("BYTES", args[2], G_MAXUINT64, &bytes, error) ||
      !asmctl_bus_resolve (c, "workload", args[0], &wl, error) ||
      (r = asmctl_bus_call (c, "RecordUsage",
                            g_variant_new ("(tdt)", wl, time, bytes), "()",
                            error)) == NULL)
    return FALSE;
  if (c->json)
    asmctl_bus_json_int (c->b, "workload", wl);
  else
    printf ("%s used " HEX " bytes at %s\n", args[0], bytes, args[1]);
  return TRUE;
}

gboolean
asmctl_bus_add_switch (AsmctlBus *c, char **args, GError **error)
{
  GVariantDict o;
  guint64 bw, id;
  guint32 v;
  g_autoptr (GVariant) r = NULL, options = NULL;

  g_variant_dict_init (&o, NULL);
  if (!asmctl_bus_parse_number ("BANDWIDTH", args[1], G_MAXUINT64, &bw, error))
    goto fail;
  if (c->opts->latency != NULL)
    {
      if (!asmctl_bus_parse_u32 ("--latency-ns", c->opts->latency, &v, error))
        goto fail;
      g_variant_dict_insert (&o, "latency_ns", "u", v);
    }
  if (c->opts->table != NULL)
    {
      if (!asmctl_bus_parse_u32 ("--table-capacity", c->opts->table, &v, error))
        goto fail;
      g_variant_dict_insert (&o, "table_capacity", "u", v);
    }
  if (c->opts->ports != NULL)
    {
      if (!asmctl_bus_parse_u32 ("--ports", c->opts->ports, &v, error))
        goto fail;
      g_variant_dict_insert (&o, "ports", "u", v);
    }
  if (c->opts->pinned)
    g_variant_dict_insert (&o, "pinned", "b", TRUE);
  options = g_variant_ref_sink (g_variant_dict_end (&o));
  r = asmctl_bus_call (c, "AddSwitch",
                       g_variant_new ("(st@a{sv})", args[0], bw, options),
                       "(t)", error);
  if (r == NULL)
    return FALSE;
  g_variant_get (r, "(t)", &id);
  if (c->json)
    {
      asmctl_bus_json_int (c->b, "switch", id);
      asmctl_bus_json_str (c->b, "name", args[0]);
    }
  else
    printf ("switch %s added (id %" G_GUINT64_FORMAT ")\n", args[0], id);
  return TRUE;

fail:
  g_variant_dict_clear (&o);
  return FALSE;
}

gboolean
asmctl_bus_add_window (AsmctlBus *c, char **args, GError **error)
{
  g_autoptr (GVariant) r = NULL;
  guint64 sw, first, last;

  if (!asmctl_bus_parse_number ("FIRST", args[1], G_MAXUINT64, &first, error) ||
      !asmctl_bus_parse_number ("LAST", args[2], G_MAXUINT64, &last, error) ||
      !asmctl_bus_resolve (c, "switch", args[0], &sw, error) ||
      (r = asmctl_bus_call (c, "AddWindow",
                            g_variant_new ("(ttt)", sw, first, last), "()",
                            error)) == NULL)
    return FALSE;
  if (c->json)
    {
      asmctl_bus_json_int (c->b, "switch", sw);
      asmctl_bus_json_hex (c->b, "first", first);
      asmctl_bus_json_hex (c->b, "last", last);
    }
  else
    printf ("switch %s got window " HEX "-" HEX "\n", args[0], first, last);
  return TRUE;
}

gboolean
asmctl_bus_add_device (AsmctlBus *c, char **args, GError **error)
{
  g_autoptr (GVariant) r = NULL;
  guint64 sw, bar, id;
  guint32 port;

  if (!asmctl_bus_parse_u32 ("PORT", args[2], &port, error) ||
      !asmctl_bus_parse_number ("BAR", args[3], G_MAXUINT64, &bar, error) ||
      !asmctl_bus_resolve (c, "switch", args[1], &sw, error) ||
      (r = asmctl_bus_call (c, "AddDevice",
                            g_variant_new ("(ssttu)", args[0],
                                           c->opts->pf ? "pf" : "endpoint", bar,
                                           sw, port),
                            "(t)", error)) == NULL)
    return FALSE;
  g_variant_get (r, "(t)", &id);
  if (c->json)
    {
      asmctl_bus_json_int (c->b, "device", id);
      asmctl_bus_json_str (c->b, "name", args[0]);
    }
  else
    printf ("device %s added on %s port %u (id %" G_GUINT64_FORMAT ")\n",
            args[0], args[1], port, id);
  return TRUE;
}

gboolean
asmctl_bus_sriov (AsmctlBus *c, char **args, GError **error)
{
  g_autoptr (GVariant) r = NULL;
  guint64 pf, vf_bar;
  guint32 max_vfs;

  if (!asmctl_bus_parse_u32 ("MAX_VFS", args[1], &max_vfs, error) ||
      !asmctl_bus_parse_number ("VF_BAR", args[2], G_MAXUINT64, &vf_bar,
                                error) ||
      !asmctl_bus_resolve (c, "device", args[0], &pf, error) ||
      (r = asmctl_bus_call (c, "SetSriov",
                            g_variant_new ("(tut)", pf, max_vfs, vf_bar), "()",
                            error)) == NULL)
    return FALSE;
  if (c->json)
    asmctl_bus_json_int (c->b, "pf", pf);
  else
    printf ("%s may have %u VFs of " HEX " bytes\n", args[0], max_vfs, vf_bar);
  return TRUE;
}

gboolean
asmctl_bus_check (AsmctlBus *c, char **args, GError **error)
{
  g_autoptr (GVariant) r = asmctl_bus_call (c, "Check", NULL, "()", error);
  g_autoptr (GVariant) props = NULL;
  gboolean sim;

  if (r == NULL)
    return FALSE;
  props = asmctl_bus_get_properties (c, NULL);
  sim = strcmp (asmctl_bus_dict_s (props, "Backend"), "sim") == 0;
  if (c->json)
    {
      asmctl_bus_json_bool (c->b, "consistent", TRUE);
      asmctl_bus_json_bool (c->b, "hardware_verified", sim);
    }
  else
    printf ("the model is consistent%s\n",
            sim ? " and the hardware matches it" : "");
  return TRUE;
}

gboolean
asmctl_bus_save (AsmctlBus *c, char **args, GError **error)
{
  g_autoptr (GVariant) r = asmctl_bus_call (c, "Save", NULL, "(s)", error);
  const char *text;

  if (r == NULL)
    return FALSE;
  g_variant_get (r, "(&s)", &text);
  /* the document itself, with or without --json */
  printf ("%s%s", text, g_str_has_suffix (text, "\n") ? "" : "\n");
  return TRUE;
}

gboolean
asmctl_bus_show (AsmctlBus *c, char **args, GError **error)
{
  static const char *const kinds[] = { "switch", "device", "workload",
                                       "partition" };
  static const char *const methods[] = { "Switch", "Device", "Workload",
                                         "Partition" };
  g_autoptr (GVariant) info = NULL;
  g_autoptr (GPtrArray) keys = NULL;
  guint64 id;
  guint k;

  for (k = 0; k < G_N_ELEMENTS (kinds) && strcmp (kinds[k], args[0]) != 0; k++)
    ;
  if (k == G_N_ELEMENTS (kinds))
    return asmctl_bus_usage_fail (error,
                                  "'%s' is not switch, device, workload or "
                                  "partition",
                                  args[0]);
  if (k == 3 ? !asmctl_bus_parse_partition (args[1], &id, error)
             : !asmctl_bus_resolve (c, kinds[k], args[1], &id, error))
    return FALSE;
  info = asmctl_bus_get_info (c, methods[k], id, error);
  if (info == NULL)
    return FALSE;
  if (c->json)
    {
      asmctl_bus_json_int (c->b, "id", id);
      asmctl_bus_json_str (c->b, "kind", kinds[k]);
      asmctl_bus_json_dict (c->b, info);
      return TRUE;
    }
  printf ("%s %" G_GUINT64_FORMAT ":\n", kinds[k], id);
  keys = asmctl_bus_sorted_keys (info);
  for (guint i = 0; i < keys->len; i++)
    {
      const char *key = g_ptr_array_index (keys, i);
      g_autoptr (GVariant) v = g_variant_lookup_value (info, key, NULL);
      g_autofree char *text = NULL;

      if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT64) &&
          !asmctl_bus_is_id_key (key))
        text = g_strdup_printf (HEX, g_variant_get_uint64 (v));
      else if (g_variant_is_of_type (v, G_VARIANT_TYPE_STRING))
        text = g_strdup (g_variant_get_string (v, NULL));
      else
        text = g_variant_print (v, FALSE);
      printf ("   %-18s %s\n", key, text);
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* status                                                               */

/* The member @key of @o if it holds a JSON value of @type, else NULL. */
static JsonNode *
json_member (JsonObject *o, const char *key, GType type)
{
  JsonNode *n = o ? json_object_get_member (o, key) : NULL;

  if (n == NULL)
    return NULL;
  if (type == JSON_TYPE_ARRAY)
    return JSON_NODE_HOLDS_ARRAY (n) ? n : NULL;
  return JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == type
             ? n
             : NULL;
}

/* The window ranges of every switch ("ID" -> the JSON array of [first,
 * last] strings), read from the daemon's Save; the interface's GetSwitch
 * counts windows but does not list them.  Empty if the save cannot be
 * read: the table then shows no ranges. */
static GHashTable *
window_ranges (AsmctlBus *c)
{
  GHashTable *out = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) json_node_unref);
  g_autoptr (GVariant) r = asmctl_bus_call (c, "Save", NULL, "(s)", NULL);
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  const char *text;
  JsonNode *root, *sws;
  JsonArray *a;

  if (r == NULL)
    return out;
  g_variant_get (r, "(&s)", &text);
  if (!json_parser_load_from_data (parser, text, -1, NULL) ||
      (root = json_parser_get_root (parser)) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (root) ||
      (sws = json_member (json_node_get_object (root), "switches",
                          JSON_TYPE_ARRAY)) == NULL)
    return out;
  a = json_node_get_array (sws);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *sw = json_array_get_element (a, i), *id, *windows;
      JsonObject *o =
          JSON_NODE_HOLDS_OBJECT (sw) ? json_node_get_object (sw) : NULL;

      id = json_member (o, "id", G_TYPE_INT64);
      windows = json_member (o, "windows", JSON_TYPE_ARRAY);
      if (id != NULL && windows != NULL)
        g_hash_table_insert (out,
                             g_strdup_printf ("%" G_GINT64_FORMAT,
                                              json_node_get_int (id)),
                             json_node_ref (windows));
    }
  return out;
}

/* "0x0-0x3fffffff, ..." from a windows array; "-" when empty */
static char *
format_ranges (JsonNode *windows)
{
  GString *s = g_string_new (NULL);
  JsonArray *a = windows ? json_node_get_array (windows) : NULL;

  for (guint i = 0; a != NULL && i < json_array_get_length (a); i++)
    {
      JsonNode *w = json_array_get_element (a, i);
      JsonArray *pair =
          JSON_NODE_HOLDS_ARRAY (w) ? json_node_get_array (w) : NULL;
      const char *first, *last;

      if (pair == NULL || json_array_get_length (pair) != 2 ||
          (first = json_array_get_string_element (pair, 0)) == NULL ||
          (last = json_array_get_string_element (pair, 1)) == NULL)
        continue;
      g_string_append_printf (s, "%s%s-%s", s->len ? ", " : "", first, last);
    }
  if (s->len == 0)
    g_string_append (s, "-");
  return g_string_free (s, FALSE);
}

/* one object of get_all() */
typedef struct {
  guint64 id;
  GVariant *info; /* a{sv}, Get<what>'s */
} Entry;

static void
entry_free (Entry *e)
{
  g_variant_unref (e->info);
  g_free (e);
}

/* The Get<what> of every id List(@list) returns, as Entry; an object
 * that went away between the two calls is left out. */
static GPtrArray *
get_all (AsmctlBus *c, const char *list, const char *what, GError **error)
{
  g_autoptr (GArray) ids = asmctl_bus_list_ids (c, list, error);
  GPtrArray *out;

  if (ids == NULL)
    return NULL;
  out = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  for (guint i = 0; i < ids->len; i++)
    {
      guint64 id = g_array_index (ids, guint64, i);
      GVariant *info = asmctl_bus_get_info (c, what, id, NULL);
      if (info != NULL)
        {
          Entry *e = g_new (Entry, 1);
          e->id = id;
          e->info = info;
          g_ptr_array_add (out, e);
        }
    }
  return out;
}

/* the id and the dictionary of one get_all() element */
static GVariant *
entry (GPtrArray *all, guint i, guint64 *id)
{
  Entry *e = g_ptr_array_index (all, i);

  *id = e->id;
  return e->info;
}

/* the name of @id among get_all() results, or its number */
static const char *
name_in (GPtrArray *all, guint64 id, char buf[32])
{
  for (guint i = 0; i < all->len; i++)
    {
      guint64 e;
      GVariant *info = entry (all, i, &e);
      if (e == id)
        return asmctl_bus_dict_s (info, "name");
    }
  if (id == 0)
    return "-";
  g_snprintf (buf, 32, "%" G_GUINT64_FORMAT, id);
  return buf;
}

static void
json_objects (JsonBuilder *b, const char *key, GPtrArray *all,
              GHashTable *ranges)
{
  json_builder_set_member_name (b, key);
  json_builder_begin_array (b);
  for (guint i = 0; i < all->len; i++)
    {
      guint64 id;
      GVariant *info = entry (all, i, &id);

      json_builder_begin_object (b);
      asmctl_bus_json_int (b, "id", id);
      asmctl_bus_json_dict (b, info);
      if (ranges != NULL)
        {
          g_autofree char *k = g_strdup_printf ("%" G_GUINT64_FORMAT, id);
          JsonNode *w = g_hash_table_lookup (ranges, k);
          json_builder_set_member_name (b, "window_ranges");
          if (w != NULL)
            json_builder_add_value (b, json_node_copy (w));
          else
            json_builder_add_null_value (b);
        }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static void
print_status (AsmctlBus *c, GVariant *props, GPtrArray *sws, GPtrArray *devs,
              GPtrArray *wls, GPtrArray *parts, GHashTable *ranges)
{
  g_autofree char *label = asmctl_bus_label (c->bus_arg);
  g_autofree char *granule =
      asmctl_format_size (asmctl_bus_dict_t (props, "Granule"));
  char b1[32], b2[32];
  guint64 id;

  printf ("fabric '%s' (%s on %s): backend %s, granule %s, %" G_GUINT64_FORMAT
          " operations since asmd started\n",
          asmctl_bus_dict_s (props, "Name"), c->dest, label,
          asmctl_bus_dict_s (props, "Backend"), granule,
          asmctl_bus_dict_t (props, "Operations"));
  if (g_strcmp0 (asmctl_bus_dict_s (props, "Role"), "leader") == 0 ||
      g_strcmp0 (asmctl_bus_dict_s (props, "Role"), "follower") == 0)
    printf ("state in etcd: member %s is the %s (leader: %s), as of etcd "
            "revision %" G_GUINT64_FORMAT "\n",
            asmctl_bus_dict_s (props, "Member"),
            asmctl_bus_dict_s (props, "Role"),
            *asmctl_bus_dict_s (props, "Leader")
                ? asmctl_bus_dict_s (props, "Leader")
                : "none now",
            asmctl_bus_dict_t (props, "Revision"));

  /* the look of asmctl_print_switches (asmctl run, asmctl demo) */
  printf ("\nswitches:\n   %-6s %7s %8s %8s %9s %8s %5s  %s\n", "switch",
          "latency", "bw used", "of MB/s", "windows", "free", "table",
          "window ranges");
  for (guint i = 0; i < sws->len; i++)
    {
      GVariant *s = entry (sws, i, &id);
      g_autofree char *k = g_strdup_printf ("%" G_GUINT64_FORMAT, id);
      g_autofree char *wb =
          asmctl_format_size (asmctl_bus_dict_t (s, "window_bytes"));
      g_autofree char *fb =
          asmctl_format_size (asmctl_bus_dict_t (s, "free_bytes"));
      g_autofree char *rs = format_ranges (g_hash_table_lookup (ranges, k));

      printf ("   %-6s %5uns %8" G_GUINT64_FORMAT " %8" G_GUINT64_FORMAT
              " %9s %8s %2u/%-2u  %s%s\n",
              asmctl_bus_dict_s (s, "name"),
              asmctl_bus_dict_u (s, "latency_ns"),
              asmctl_bus_dict_t (s, "bandwidth_used"),
              asmctl_bus_dict_t (s, "bandwidth"), wb, fb,
              asmctl_bus_dict_u (s, "table_used"),
              asmctl_bus_dict_u (s, "table_capacity"), rs,
              asmctl_bus_dict_b (s, "draining") ? " (draining)" : "");
    }

  printf ("\ndevices:\n   %-10s %-8s %-6s %4s %9s  %s\n", "device", "kind",
          "switch", "port", "bar", "mapped");
  for (guint i = 0; i < devs->len; i++)
    {
      GVariant *d = entry (devs, i, &id);
      g_autofree char *bar =
          asmctl_format_size (asmctl_bus_dict_t (d, "bar_size"));
      g_autofree char *mapped = NULL;

      if (asmctl_bus_dict_t (d, "partition") != 0)
        mapped = g_strdup_printf ("partition %" G_GUINT64_FORMAT " +" HEX,
                                  asmctl_bus_dict_t (d, "partition"),
                                  asmctl_bus_dict_t (d, "partition_offset"));
      printf ("   %-10s %-8s %-6s %4u %9s  %s\n", asmctl_bus_dict_s (d, "name"),
              asmctl_bus_dict_s (d, "kind"),
              name_in (sws, asmctl_bus_dict_t (d, "switch"), b1),
              asmctl_bus_dict_u (d, "port"), bar, mapped ? mapped : "-");
    }

  printf ("\nworkloads:\n   %-10s %4s  %s\n", "workload", "id", "partitions");
  for (guint i = 0; i < wls->len; i++)
    {
      GVariant *w = entry (wls, i, &id);
      g_autoptr (GVariant) ps =
          g_variant_lookup_value (w, "partitions", G_VARIANT_TYPE ("at"));
      GString *list = g_string_new (NULL);
      gsize n = 0;
      const guint64 *p =
          ps ? g_variant_get_fixed_array (ps, &n, sizeof (guint64)) : NULL;

      for (gsize j = 0; j < n; j++)
        g_string_append_printf (list, "%s%" G_GUINT64_FORMAT, j ? ", " : "",
                                p[j]);
      printf ("   %-10s %4" G_GUINT64_FORMAT "  %s\n",
              asmctl_bus_dict_s (w, "name"), id, list->len ? list->str : "-");
      g_string_free (list, TRUE);
    }

  printf ("\npartitions:\n   %-9s %-10s %-6s %9s  %-16s %-14s %7s %10s\n",
          "partition", "workload", "switch", "size", "virtual", "physical",
          "devices", "generation");
  for (guint i = 0; i < parts->len; i++)
    {
      GVariant *p = entry (parts, i, &id);
      g_autofree char *size =
          asmctl_format_size (asmctl_bus_dict_t (p, "size"));
      g_autofree char *virt =
          g_strdup_printf (HEX, asmctl_bus_dict_t (p, "virt_first"));
      g_autofree char *phys =
          g_strdup_printf (HEX, asmctl_bus_dict_t (p, "phys_first"));

      printf ("   %-9" G_GUINT64_FORMAT " %-10s %-6s %9s  %-16s %-14s %7u "
              "%10u\n",
              id, name_in (wls, asmctl_bus_dict_t (p, "workload"), b1),
              name_in (sws, asmctl_bus_dict_t (p, "switch"), b2), size, virt,
              phys, asmctl_bus_dict_u (p, "devices"),
              asmctl_bus_dict_u (p, "generation"));
    }
}

gboolean
asmctl_bus_status (AsmctlBus *c, char **args, GError **error)
{
  g_autoptr (GVariant) props = asmctl_bus_get_properties (c, error);
  g_autoptr (GPtrArray) sws = NULL, devs = NULL, wls = NULL, parts = NULL;
  g_autoptr (GHashTable) ranges = NULL;

  if (props == NULL ||
      (sws = get_all (c, "switches", "Switch", error)) == NULL ||
      (devs = get_all (c, "devices", "Device", error)) == NULL ||
      (wls = get_all (c, "workloads", "Workload", error)) == NULL ||
      (parts = get_all (c, "partitions", "Partition", error)) == NULL)
    return FALSE;
  ranges = window_ranges (c);
  if (!c->json)
    {
      print_status (c, props, sws, devs, wls, parts, ranges);
      return TRUE;
    }
  asmctl_bus_json_str (c->b, "name", asmctl_bus_dict_s (props, "Name"));
  asmctl_bus_json_str (c->b, "backend", asmctl_bus_dict_s (props, "Backend"));
  asmctl_bus_json_hex (c->b, "granule", asmctl_bus_dict_t (props, "Granule"));
  asmctl_bus_json_int (c->b, "operations",
                       asmctl_bus_dict_t (props, "Operations"));
  asmctl_bus_json_str (c->b, "dest", c->dest);
  asmctl_bus_json_str (c->b, "role", asmctl_bus_dict_s (props, "Role"));
  asmctl_bus_json_str (c->b, "member", asmctl_bus_dict_s (props, "Member"));
  asmctl_bus_json_str (c->b, "leader", asmctl_bus_dict_s (props, "Leader"));
  asmctl_bus_json_int (c->b, "revision",
                       asmctl_bus_dict_t (props, "Revision"));
  json_objects (c->b, "switches", sws, ranges);
  json_objects (c->b, "devices", devs, NULL);
  json_objects (c->b, "workloads", wls, NULL);
  json_objects (c->b, "partitions", parts, NULL);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* watch                                                                */

typedef struct {
  AsmctlBus *c;
  GMainLoop *loop;
  guint64 count, seen; /* count 0: until killed */
  GError *error;       /* why the watch ended early */
} Watch;

static void
on_fabric_signal (GDBusConnection *bus, const char *sender, const char *path,
                  const char *iface, const char *signal, GVariant *params,
                  gpointer data)
{
  Watch *w = data;
  guint64 sw, old_sw, part, dev, old_dev, first, last;
  const char *message;

  if (!g_variant_is_of_type (params, G_VARIANT_TYPE ("(ttttttts)")))
    return;
  g_variant_get (params, "(ttttttt&s)", &sw, &old_sw, &part, &dev, &old_dev,
                 &first, &last, &message);
  if (w->c->json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      asmctl_bus_json_str (b, "signal", signal);
      asmctl_bus_json_int (b, "switch", sw);
      asmctl_bus_json_int (b, "old_switch", old_sw);
      asmctl_bus_json_int (b, "partition", part);
      asmctl_bus_json_int (b, "device", dev);
      asmctl_bus_json_int (b, "old_device", old_dev);
      asmctl_bus_json_hex (b, "first", first);
      asmctl_bus_json_hex (b, "last", last);
      asmctl_bus_json_str (b, "message", message);
      json_builder_end_object (b);
      asmctl_bus_json_print (b, FALSE);
    }
  else
    {
      printf ("%s: %s\n", signal, message);
      fflush (stdout);
    }
  if (w->count != 0 && ++w->seen >= w->count)
    g_main_loop_quit (w->loop);
}

static void
on_owner_changed (GDBusConnection *bus, const char *sender, const char *path,
                  const char *iface, const char *signal, GVariant *params,
                  gpointer data)
{
  Watch *w = data;
  const char *name, *old_owner, *new_owner;
  g_autofree char *label = NULL;

  if (!g_variant_is_of_type (params, G_VARIANT_TYPE ("(sss)")))
    return;
  g_variant_get (params, "(&s&s&s)", &name, &old_owner, &new_owner);
  if (strcmp (name, w->c->dest) != 0 || new_owner[0] != '\0' ||
      w->error != NULL)
    return;
  label = asmctl_bus_label (w->c->bus_arg);
  g_set_error (&w->error, G_IO_ERROR, G_IO_ERROR_CLOSED,
               "asmd left %s (%s has no owner now)", label, name);
  g_main_loop_quit (w->loop);
}

static void
on_closed (GDBusConnection *bus, gboolean vanished, GError *error,
           gpointer data)
{
  Watch *w = data;
  g_autofree char *label = asmctl_bus_label (w->c->bus_arg);

  if (w->error == NULL)
    g_set_error (&w->error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                 "the connection to %s closed", label);
  g_main_loop_quit (w->loop);
}

gboolean
asmctl_bus_watch (AsmctlBus *c, char **args, GError **error)
{
  Watch w = { .c = c };
  g_autoptr (GVariant) props = NULL;
  g_autofree char *label = asmctl_bus_label (c->bus_arg);
  guint sub_fabric, sub_owner;
  gulong closed;

  if (c->opts->count != NULL &&
      (!asmctl_bus_parse_number ("--count", c->opts->count, G_MAXUINT64,
                                 &w.count, error) ||
       (w.count == 0 && !asmctl_bus_usage_fail (error,
                                                "--count 0 is out of range "
                                                "1..%" G_GUINT64_FORMAT,
                                                G_MAXUINT64))))
    return FALSE;
  if (!asmctl_bus_connect (c, error))
    return FALSE;
  w.loop = g_main_loop_new (NULL, FALSE);
  sub_fabric =
      g_dbus_connection_signal_subscribe (c->bus, c->dest, ASMD_INTERFACE, NULL,
                                          ASMD_OBJECT_PATH, NULL,
                                          G_DBUS_SIGNAL_FLAGS_NONE,
                                          on_fabric_signal, &w, NULL);
  sub_owner =
      g_dbus_connection_signal_subscribe (c->bus, "org.freedesktop.DBus",
                                          "org.freedesktop.DBus",
                                          "NameOwnerChanged",
                                          "/org/freedesktop/DBus", c->dest,
                                          G_DBUS_SIGNAL_FLAGS_NONE,
                                          on_owner_changed, &w, NULL);
  closed = g_signal_connect (c->bus, "closed", G_CALLBACK (on_closed), &w);
  /* a round trip to the daemon after the match rules went out: when it
   * returns, the bus has them, and no later event can be missed */
  props = asmctl_bus_get_properties (c, error);
  if (props != NULL)
    {
      g_printerr ("asmctl: watching fabric '%s' (%s on %s)%s\n",
                  asmctl_bus_dict_s (props, "Name"), c->dest, label,
                  w.count ? "" : "; interrupt to stop");
      g_main_loop_run (w.loop);
    }
  g_signal_handler_disconnect (c->bus, closed);
  g_dbus_connection_signal_unsubscribe (c->bus, sub_owner);
  g_dbus_connection_signal_unsubscribe (c->bus, sub_fabric);
  g_main_loop_unref (w.loop);
  if (props == NULL)
    return FALSE;
  if (w.error != NULL)
    {
      g_propagate_error (error, w.error);
      return FALSE;
    }
  return TRUE;
}
