/* asmctl-script-pci-fabric.c: the `asmctl script` commands on fabrics
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The handlers of fabric, load, reserve, switch, window, device, sriov, vf, workload,
 * partition, map, translate, migrate, grow, release-partition,
 * transfer-vf, the lifecycle (unmap, shrink, destroy-vf, remove-device,
 * drain, remove-switch, end-workload, migrate-workload), root-map, usage,
 * sample, predict, rebalance, the simulator's faults (fail, crash, clear,
 * calls, verify) and save, with their part of the command table (the PCI
 * bus sets' commands are in asmctl-script-pci.c).
 * A partition or workload that leaves the fabric leaves the script's names
 * too: a later reference fails with not-found and says how it left.  The
 * interpreter that runs them is asmctl-script.c; the rules every handler
 * follows are written there.
 */
#include "asmctl-script.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* Fabrics                                                              */

/* Switches and devices are found by their names in the fabric; workloads
 * and partitions by the names the script gave them.  A number in place of
 * a name is an id, passed to the library as it is. */

static gboolean
fab_switch (Obj *o, const char *text, AsmId *out, GError **error)
{
  if (g_ascii_isdigit (text[0]))
    return asmctl_script_num32 ("SWITCH", text, out, error);
  if (!asm_fabric_find_switch (o->fabric, text, out))
    return asmctl_script_fail (error, ASM_ERROR_NOT_FOUND,
                               "%s: no switch named '%s'", o->name, text);
  return TRUE;
}

static gboolean
find_device (Obj *o, const char *name, AsmId *out)
{
  g_autoptr (GArray) ids = asm_fabric_list (o->fabric, ASM_FABRIC_DEVICES);

  for (guint i = 0; i < ids->len; i++)
    {
      AsmDeviceInfo info;
      if (asm_fabric_get_device_info (o->fabric, g_array_index (ids, AsmId, i),
                                      &info) &&
          strcmp (info.name, name) == 0)
        {
          *out = info.id;
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
fab_device (Obj *o, const char *text, AsmId *out, GError **error)
{
  if (g_ascii_isdigit (text[0]))
    return asmctl_script_num32 ("DEVICE", text, out, error);
  if (!find_device (o, text, out))
    return asmctl_script_fail (error, ASM_ERROR_NOT_FOUND,
                               "%s: no device named '%s'", o->name, text);
  return TRUE;
}

static gboolean
fab_named (Obj *o, GHashTable *names, const char *what, const char *text,
           AsmId *out, GError **error)
{
  gpointer id;

  *out = ASM_ID_NONE;
  if (g_ascii_isdigit (text[0]))
    return asmctl_script_num32 (what, text, out, error);
  if (!g_hash_table_lookup_extended (names, text, NULL, &id))
    {
      g_autofree char *key = g_strdup_printf ("%s %s", what, text);
      const char *how = g_hash_table_lookup (o->gone, key);

      if (how != NULL)
        return asmctl_script_fail (error, ASM_ERROR_NOT_FOUND,
                                   "%s: no %s named '%s' (%s)", o->name,
                                   what, text, how);
      return asmctl_script_fail (error, ASM_ERROR_NOT_FOUND,
                                 "%s: no %s named '%s'", o->name, what, text);
    }
  *out = GPOINTER_TO_UINT (id);
  return TRUE;
}

static gboolean
fab_workload (Obj *o, const char *text, AsmId *out, GError **error)
{
  return fab_named (o, o->workloads, "workload", text, out, error);
}

static gboolean
fab_partition (Obj *o, const char *text, AsmId *out, GError **error)
{
  return fab_named (o, o->partitions, "partition", text, out, error);
}

static char *
switch_name (Obj *o, AsmId id)
{
  AsmSwitchInfo info;

  if (asm_fabric_get_switch_info (o->fabric, id, &info))
    return g_strdup (info.name);
  return g_strdup_printf ("%u", id);
}

static char *
device_name (Obj *o, AsmId id)
{
  AsmDeviceInfo info;

  if (asm_fabric_get_device_info (o->fabric, id, &info))
    return g_strdup (info.name);
  return g_strdup_printf ("%u", id);
}

static char *
id_name (GHashTable *names, AsmId id)
{
  const char *name = g_hash_table_lookup (names, GUINT_TO_POINTER (id));

  return name != NULL ? g_strdup (name) : g_strdup_printf ("%u", id);
}

static gboolean
need_sim (Obj *o, GError **error)
{
  if (o->sim == NULL)
    return asmctl_script_fail (error, ASM_ERROR_UNSUPPORTED,
                               "%s: the fabric was loaded without a simulated "
                               "backend; fault injection needs one",
                               o->name);
  return TRUE;
}

static Obj *
fabric_obj_new (Script *s, const char *name)
{
  Obj *o = asmctl_script_obj_add (s, name, OBJ_FABRIC);

  o->workloads = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  o->workload_names = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  o->partitions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         NULL);
  o->partition_names = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  o->workload_parts = g_hash_table_new_full (
      NULL, NULL, NULL, (GDestroyNotify) g_hash_table_unref);
  o->gone = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return o;
}

/* a partition of this workload joined the fabric */
static void
note_partition (Obj *o, AsmId workload, AsmId partition)
{
  GHashTable *set = g_hash_table_lookup (o->workload_parts,
                                         GUINT_TO_POINTER (workload));

  if (set == NULL)
    {
      set = g_hash_table_new (NULL, NULL);
      g_hash_table_insert (o->workload_parts, GUINT_TO_POINTER (workload),
                           set);
    }
  g_hash_table_add (set, GUINT_TO_POINTER (partition));
}

/* what is "partition" or "workload": the key of o->gone */
static void
name_id (Obj *o, const char *what, GHashTable *by_name, GHashTable *by_id,
         const char *name, AsmId id)
{
  g_autofree char *key = g_strdup_printf ("%s %s", what, name);

  g_hash_table_remove (o->gone, key);
  g_hash_table_insert (by_name, g_strdup (name), GUINT_TO_POINTER (id));
  g_hash_table_insert (by_id, GUINT_TO_POINTER (id), g_strdup (name));
}

/* The object with this id left the fabric: its name is free again, and
 * until it is given again a reference to it says how the object left. */
static void
forget_id (Obj *o, const char *what, GHashTable *by_name, GHashTable *by_id,
           AsmId id, char *how /* (transfer full) */)
{
  const char *name = g_hash_table_lookup (by_id, GUINT_TO_POINTER (id));

  if (name != NULL)
    {
      g_hash_table_insert (o->gone, g_strdup_printf ("%s %s", what, name),
                           g_steal_pointer (&how));
      g_hash_table_remove (by_name, name);
      g_hash_table_remove (by_id, GUINT_TO_POINTER (id));
    }
  g_free (how);
}

gboolean
asmctl_script_cmd_fabric (Script *s, Args *a, Obj *unused, GError **error)
{
  guint64 first, last, granule, window = 0;
  g_autoptr (AsmBackend) sim = NULL;
  g_autoptr (AsmFabric) fabric = NULL;
  Obj *o;

  if (!asmctl_script_check_new_name (s, a->pos[0], error) ||
      !asmctl_script_parse_first_last (a, 1, &first, &last, error) ||
      !asmctl_script_num ("GRANULE", a->pos[3], &granule, error) ||
      !asmctl_script_opt_num (a, "window", &window, error))
    return FALSE;
  sim = asm_sim_backend_new ();
  fabric = asm_fabric_new (a->pos[0], first, last, granule, sim, error);
  if (fabric == NULL)
    return FALSE;
  if (asmctl_script_opt (a, "window") != NULL)
    {
      if (window < granule || (window & (window - 1)) != 0)
        return asmctl_script_fail (error, ASM_ERROR_INVALID,
                                   "%s: window=" HEX
                                   " is not a power of two of at least the "
                                   "granule " HEX,
                                   a->pos[0], window, granule);
      if (!asm_fabric_set_window_granule (fabric, window, error))
        return FALSE;
    }
  o = fabric_obj_new (s, a->pos[0]);
  o->fabric = g_steal_pointer (&fabric);
  o->sim = g_steal_pointer (&sim);
  return TRUE;
}

/* load NAME FILE: a fabric from `save`, in the model only (no backend) */
gboolean
asmctl_script_cmd_load (Script *s, Args *a, Obj *unused, GError **error)
{
  g_autofree char *json = NULL;
  gsize len;
  g_autoptr (AsmFabric) fabric = NULL;
  g_autoptr (JsonParser) parser = NULL;
  GError *local = NULL;
  JsonNode *root;
  Obj *o;

  if (!asmctl_script_check_new_name (s, a->pos[0], error))
    return FALSE;
  if (!g_file_get_contents (a->pos[1], &json, &len, &local))
    {
      /* a missing file is not-found, any other file error failed */
      asmctl_script_fail (error,
                          g_error_matches (local, G_FILE_ERROR,
                                           G_FILE_ERROR_NOENT)
                              ? ASM_ERROR_NOT_FOUND
                              : ASM_ERROR_FAILED,
                          "%s: %s", a->pos[0], local->message);
      g_error_free (local);
      return FALSE;
    }
  /* the nesting depth, duplicate keys and NULs first: the restore's
   * parser would recurse without bound or keep the last of two keys */
  if (!asmctl_json_prescan (json, len, &local))
    {
      asmctl_script_fail (error, ASM_ERROR_PARSE, "%s: %s: %s", a->pos[0],
                          a->pos[1], local->message);
      g_error_free (local);
      return FALSE;
    }
  fabric = asm_fabric_restore (json, (gssize) len, NULL, error);
  if (fabric == NULL)
    return FALSE;
  o = fabric_obj_new (s, a->pos[0]);
  o->fabric = g_steal_pointer (&fabric);
  {
    g_autoptr (GArray) all = asm_fabric_list (o->fabric,
                                              ASM_FABRIC_PARTITIONS);
    for (guint i = 0; i < all->len; i++)
      {
        AsmPartitionInfo pi;
        ASMCTL_MUST (asm_fabric_get_partition_info (
            o->fabric, g_array_index (all, AsmId, i), &pi));
        note_partition (o, pi.workload, pi.id);
      }
  }

  /* the workloads' names are in the saved state; partitions have none */
  parser = json_parser_new ();
  if (json_parser_load_from_data (parser, json, (gssize) len, NULL) &&
      (root = json_parser_get_root (parser)) != NULL &&
      JSON_NODE_HOLDS_OBJECT (root))
    {
      JsonObject *top = json_node_get_object (root);
      JsonArray *wl = json_object_has_member (top, "workloads")
                          ? json_object_get_array_member (top, "workloads")
                          : NULL;
      for (guint i = 0; wl != NULL && i < json_array_get_length (wl); i++)
        {
          JsonObject *w = json_array_get_object_element (wl, i);
          if (w != NULL && json_object_has_member (w, "id") &&
              json_object_has_member (w, "name"))
            name_id (o, "workload", o->workloads, o->workload_names,
                     json_object_get_string_member (w, "name"),
                     (AsmId) json_object_get_int_member (w, "id"));
        }
    }
  return TRUE;
}

static gboolean
cmd_fabric_reserve (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 first, last;

  return asmctl_script_parse_first_last (a, 1, &first, &last, error) &&
         asm_fabric_reserve_global (o->fabric, first, last, error);
}

/* switch F NAME [bw=MB/s] [latency=NS] [table=N] [ports=N] [pinned] */
static gboolean
cmd_switch (Script *s, Args *a, Obj *o, GError **error)
{
  AsmSwitchSpec spec = { 0 };
  AsmId id;

  spec.name = a->pos[1];
  spec.bandwidth = 16000;
  spec.latency_ns = 200;
  spec.table_capacity = 16;
  spec.n_ports = 8;
  spec.pinned = asmctl_script_has_flag (a, "pinned");
  if (!asmctl_script_valid_name (a->pos[1]))
    return asmctl_script_syntax (error, "'%s' is not a valid switch name",
                                 a->pos[1]);
  if (!asmctl_script_opt_num (a, "bw", &spec.bandwidth, error) ||
      !asmctl_script_opt_num32 (a, "latency", &spec.latency_ns, error) ||
      !asmctl_script_opt_num32 (a, "table", &spec.table_capacity, error) ||
      !asmctl_script_opt_num32 (a, "ports", &spec.n_ports, error) ||
      !asm_fabric_add_switch (o->fabric, &spec, &id, error))
    return FALSE;
  asmctl_script_emit (s, "%s: switch %s -> id %u", o->name, a->pos[1], id);
  return TRUE;
}

static gboolean
cmd_window (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId sw;
  guint64 first, last;

  return asmctl_script_parse_first_last (a, 2, &first, &last, error) &&
         fab_switch (o, a->pos[1], &sw, error) &&
         asm_fabric_add_window (o->fabric, sw, first, last, error);
}

/* device F NAME SWITCH PORT BAR [pf] */
static gboolean
cmd_device (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId sw, id;
  guint32 port;
  guint64 bar;

  if (!asmctl_script_valid_name (a->pos[1]))
    return asmctl_script_syntax (error, "'%s' is not a valid device name",
                                 a->pos[1]);
  if (!asmctl_script_num32 ("PORT", a->pos[3], &port, error) ||
      !asmctl_script_num ("BAR", a->pos[4], &bar, error) ||
      !fab_switch (o, a->pos[2], &sw, error))
    return FALSE;
  if (find_device (o, a->pos[1], &id))
    return asmctl_script_fail (error, ASM_ERROR_INVALID,
                               "%s: device %s already exists", o->name,
                               a->pos[1]);
  if (!asm_fabric_add_device (o->fabric, a->pos[1],
                              asmctl_script_has_flag (a, "pf")
                                  ? ASM_DEVICE_PF
                                  : ASM_DEVICE_ENDPOINT,
                              bar, sw, port, &id, error))
    return FALSE;
  asmctl_script_emit (s, "%s: device %s -> id %u", o->name, a->pos[1], id);
  return TRUE;
}

static gboolean
cmd_sriov (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId pf;
  guint32 max_vfs;
  guint64 bar;

  return asmctl_script_num32 ("MAXVFS", a->pos[2], &max_vfs, error) &&
         asmctl_script_num ("VFBAR", a->pos[3], &bar, error) &&
         fab_device (o, a->pos[1], &pf, error) &&
         asm_fabric_set_sriov (o->fabric, pf, max_vfs, bar, error);
}

static gboolean
cmd_vf (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId pf, vf;
  g_autofree char *name = NULL;

  if (!fab_device (o, a->pos[1], &pf, error) ||
      !asm_fabric_create_vf (o->fabric, pf, &vf, error))
    return FALSE;
  name = device_name (o, vf);
  asmctl_script_emit (s, "%s: vf %s -> %s (id %u)", o->name, a->pos[1], name,
                      vf);
  return TRUE;
}

static gboolean
cmd_workload (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId id;

  if (!asmctl_script_valid_name (a->pos[1]))
    return asmctl_script_syntax (error, "'%s' is not a valid workload name",
                                 a->pos[1]);
  if (g_hash_table_contains (o->workloads, a->pos[1]))
    return asmctl_script_fail (error, ASM_ERROR_INVALID,
                               "%s: workload %s already exists", o->name,
                               a->pos[1]);
  if (!asm_fabric_add_workload (o->fabric, a->pos[1], &id, error))
    return FALSE;
  name_id (o, "workload", o->workloads, o->workload_names, a->pos[1], id);
  asmctl_script_emit (s, "%s: workload %s -> id %u", o->name, a->pos[1], id);
  return TRUE;
}

/* partition F NAME WORKLOAD SIZE [align=A] [min-bw=MB/s] [max-latency=NS]
 *   [prefer=SWITCH] [demand=MB/s] */
static gboolean
cmd_partition (Script *s, Args *a, Obj *o, GError **error)
{
  AsmPartitionRequest req = { 0 };
  AsmPartitionInfo info;
  AsmId wl, id;
  guint64 virt;
  g_autofree char *sw = NULL;

  if (!asmctl_script_valid_name (a->pos[1]))
    return asmctl_script_syntax (error, "'%s' is not a valid partition name",
                                 a->pos[1]);
  if (!asmctl_script_num ("SIZE", a->pos[3], &req.size, error) ||
      !asmctl_script_opt_num (a, "align", &req.align, error) ||
      !asmctl_script_opt_num (a, "min-bw", &req.min_bandwidth, error) ||
      !asmctl_script_opt_num32 (a, "max-latency", &req.max_latency_ns, error) ||
      !asmctl_script_opt_num (a, "demand", &req.bandwidth_demand, error))
    return FALSE;
  if (g_hash_table_contains (o->partitions, a->pos[1]))
    return asmctl_script_fail (error, ASM_ERROR_INVALID,
                               "%s: partition %s already exists", o->name,
                               a->pos[1]);
  if (!fab_workload (o, a->pos[2], &wl, error) ||
      (asmctl_script_opt (a, "prefer") != NULL &&
       !fab_switch (o, asmctl_script_opt (a, "prefer"), &req.preferred_switch,
                    error)) ||
      !asm_fabric_request_partition (o->fabric, wl, &req, &id, &virt, error))
    return FALSE;
  name_id (o, "partition", o->partitions, o->partition_names, a->pos[1],
           id);
  note_partition (o, wl, id);
  ASMCTL_MUST (asm_fabric_get_partition_info (o->fabric, id, &info));
  sw = switch_name (o, info.switch_id);
  asmctl_script_emit (s,
                      "%s: partition %s %s " HEX " -> id %u on %s, virtual " HEX
                      ", physical " HEX,
                      o->name, a->pos[1], a->pos[2], req.size, id, sw, virt,
                      info.phys_first);
  return TRUE;
}

static gboolean
cmd_map (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId part, dev;
  guint64 offset;

  if (!fab_partition (o, a->pos[1], &part, error) ||
      !fab_device (o, a->pos[2], &dev, error) ||
      !asm_fabric_map_device (o->fabric, part, dev, &offset, error))
    return FALSE;
  asmctl_script_emit (s, "%s: map %s %s -> offset " HEX, o->name, a->pos[1],
                      a->pos[2], offset);
  return TRUE;
}

/* VIRT: a number, or PARTITION[+OFFSET] (the partition's first virtual
 * address plus OFFSET) */
static gboolean
parse_virt (Obj *o, const char *text, guint64 *out, GError **error)
{
  g_auto (GStrv) parts = NULL;
  AsmId part;
  AsmPartitionInfo info;
  guint64 offset = 0;

  *out = 0;
  if (g_ascii_isdigit (text[0]))
    return asmctl_script_num ("VIRT", text, out, error);
  parts = g_strsplit (text, "+", 2);
  if (parts[1] != NULL &&
      !asmctl_script_num ("VIRT offset", parts[1], &offset, error))
    return FALSE;
  if (!fab_partition (o, parts[0], &part, error))
    return FALSE;
  if (!asm_fabric_get_partition_info (o->fabric, part, &info))
    return asmctl_script_fail (error, ASM_ERROR_NOT_FOUND,
                               "%s: partition %s does not exist (any more)",
                               o->name, parts[0]);
  *out = info.virt_first + offset;
  return TRUE;
}

static gboolean
cmd_translate (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId wl;
  guint64 virt;
  AsmTranslation t;
  g_autofree char *sw = NULL, *dev = NULL, *part = NULL;

  if (!fab_workload (o, a->pos[1], &wl, error) ||
      !parse_virt (o, a->pos[2], &virt, error) ||
      !asm_fabric_translate (o->fabric, wl, virt, &t, error))
    return FALSE;
  sw = switch_name (o, t.switch_id);
  part = id_name (o->partition_names, t.partition);
  if (t.device != ASM_ID_NONE)
    {
      g_autofree char *name = device_name (o, t.device);
      dev = g_strdup_printf ("%s+" HEX, name, t.device_offset);
    }
  asmctl_script_emit (s,
                      "%s: translate %s " HEX " -> %s, physical " HEX
                      ", device %s, partition %s, generation %u%s",
                      o->name, a->pos[1], virt, sw, t.physical, dev ? dev : "-",
                      part, t.generation, t.held ? ", held" : "");
  return TRUE;
}

static gboolean
emit_placement (Script *s, Obj *o, const char *what, AsmId part)
{
  AsmPartitionInfo info;
  g_autofree char *sw = NULL;

  ASMCTL_MUST (asm_fabric_get_partition_info (o->fabric, part, &info));
  sw = switch_name (o, info.switch_id);
  asmctl_script_emit (s, "%s: %s -> %s, physical " HEX ", size " HEX, o->name,
                      what, sw, info.phys_first, info.size);
  return TRUE;
}

static gboolean
cmd_migrate (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId part, sw = ASM_ID_NONE;
  g_autofree char *what = NULL;

  if (!fab_partition (o, a->pos[1], &part, error) ||
      (a->n_pos > 2 && !fab_switch (o, a->pos[2], &sw, error)) ||
      !asm_fabric_migrate_partition (o->fabric, part, sw, error))
    return FALSE;
  what = g_strdup_printf ("migrate %s%s%s", a->pos[1], a->n_pos > 2 ? " " : "",
                          a->n_pos > 2 ? a->pos[2] : "");
  return emit_placement (s, o, what, part);
}

/* grow and shrink: PARTITION SIZE, then where the partition now stands */
static gboolean
resize_partition (Script *s, Args *a, Obj *o, const char *verb,
                  gboolean (*resize) (AsmFabric *, AsmId, guint64, GError **),
                  GError **error)
{
  AsmId part;
  guint64 size;
  g_autofree char *what = NULL;

  if (!asmctl_script_num ("SIZE", a->pos[2], &size, error) ||
      !fab_partition (o, a->pos[1], &part, error) ||
      !resize (o->fabric, part, size, error))
    return FALSE;
  what = g_strdup_printf ("%s %s " HEX, verb, a->pos[1], size);
  return emit_placement (s, o, what, part);
}

static gboolean
cmd_grow (Script *s, Args *a, Obj *o, GError **error)
{
  return resize_partition (s, a, o, "grow", asm_fabric_grow_partition, error);
}

static gboolean
cmd_release_partition (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId part;

  if (!fab_partition (o, a->pos[1], &part, error) ||
      !asm_fabric_release_partition (o->fabric, part, error))
    return FALSE;
  forget_id (o, "partition", o->partitions, o->partition_names, part,
             g_strdup_printf ("released on line %u", s->line));
  return TRUE;
}

static gboolean
cmd_unmap (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId part, dev;
  AsmPartitionInfo info;

  if (!fab_partition (o, a->pos[1], &part, error) ||
      !fab_device (o, a->pos[2], &dev, error) ||
      !asm_fabric_unmap_device (o->fabric, part, dev, error))
    return FALSE;
  ASMCTL_MUST (asm_fabric_get_partition_info (o->fabric, part, &info));
  asmctl_script_emit (s, "%s: unmap %s %s -> devices %u, generation %u",
                      o->name, a->pos[1], a->pos[2], info.n_devices,
                      info.generation);
  return TRUE;
}

static gboolean
cmd_shrink (Script *s, Args *a, Obj *o, GError **error)
{
  return resize_partition (s, a, o, "shrink", asm_fabric_shrink_partition,
                           error);
}

static gboolean
cmd_destroy_vf (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId vf;
  AsmDeviceInfo info = { 0 };
  g_autofree char *pf = NULL;

  /* what it was, read before it goes (an unknown id fails in the call) */
  if (!fab_device (o, a->pos[1], &vf, error))
    return FALSE;
  if (asm_fabric_get_device_info (o->fabric, vf, &info))
    pf = device_name (o, info.pf);
  if (!asm_fabric_destroy_vf (o->fabric, vf, error))
    return FALSE;
  asmctl_script_emit (s, "%s: destroy-vf %s -> vf %u of %s free", o->name,
                      a->pos[1], info.vf_index, pf);
  return TRUE;
}

static gboolean
cmd_remove_device (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId dev;
  AsmDeviceInfo info = { 0 };
  g_autofree char *sw = NULL;

  if (!fab_device (o, a->pos[1], &dev, error))
    return FALSE;
  if (asm_fabric_get_device_info (o->fabric, dev, &info))
    sw = switch_name (o, info.switch_id);
  if (!asm_fabric_remove_device (o->fabric, dev, error))
    return FALSE;
  asmctl_script_emit (s, "%s: remove-device %s -> unbound from %s port %u",
                      o->name, a->pos[1], sw, info.port);
  return TRUE;
}

static gint
cmp_id (gconstpointer a, gconstpointer b)
{
  AsmId x = *(const AsmId *) a, y = *(const AsmId *) b;
  return x < y ? -1 : x > y;
}

/* the partitions on a switch (sw) or of a workload (wl), in id order.
 * Neither scans every partition of the fabric (a script of 10,000
 * partitions that drains or ends workloads would be quadratic): a
 * switch's are the partition entries of its translation table, a
 * workload's the set cmd_partition and load recorded, each confirmed. */
static GArray *
partitions_where (Obj *o, AsmId sw, AsmId wl)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (AsmId));
  g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);
  GHashTable *set;
  GHashTableIter it;
  gpointer key;

  if (sw != ASM_ID_NONE)
    {
      g_autoptr (GArray) table = asm_fabric_get_xlat_table (o->fabric, sw);
      for (guint i = 0; table != NULL && i < table->len; i++)
        {
          const AsmXlatEntry *e = &g_array_index (table, AsmXlatEntry, i);
          AsmPartitionInfo pi;
          if (e->key == e->partition &&
              g_hash_table_add (seen, GUINT_TO_POINTER (e->partition)) &&
              asm_fabric_get_partition_info (o->fabric, e->partition, &pi) &&
              pi.switch_id == sw)
            g_array_append_val (ids, pi.id);
        }
    }
  set = wl != ASM_ID_NONE ? g_hash_table_lookup (o->workload_parts,
                                                 GUINT_TO_POINTER (wl))
                          : NULL;
  if (set != NULL)
    {
      g_hash_table_iter_init (&it, set);
      while (g_hash_table_iter_next (&it, &key, NULL))
        {
          AsmPartitionInfo pi;
          if (!asm_fabric_get_partition_info (o->fabric,
                                              GPOINTER_TO_UINT (key), &pi) ||
              pi.workload != wl)
            g_hash_table_iter_remove (&it);
          else if (g_hash_table_add (seen, key))
            g_array_append_val (ids, pi.id);
        }
    }
  g_array_sort (ids, cmp_id);
  return ids;
}

static gboolean
cmd_drain (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId sw;
  AsmSwitchInfo before;
  g_autoptr (GArray) moved = NULL;
  GString *where;

  if (!fab_switch (o, a->pos[1], &sw, error))
    return FALSE;
  moved = partitions_where (o, sw, ASM_ID_NONE);
  if (!asm_fabric_get_switch_info (o->fabric, sw, &before))
    before.n_windows = 0;
  if (!asm_fabric_drain_switch (o->fabric, sw, error))
    return FALSE;
  where = g_string_new (NULL);
  for (guint i = 0; i < moved->len; i++)
    {
      AsmId id = g_array_index (moved, AsmId, i);
      AsmPartitionInfo pi;
      g_autofree char *name = id_name (o->partition_names, id);
      g_autofree char *to = NULL;

      ASMCTL_MUST (asm_fabric_get_partition_info (o->fabric, id, &pi));
      to = switch_name (o, pi.switch_id);
      g_string_append_printf (where, "%s%s to %s", i ? ", " : " (", name, to);
    }
  if (moved->len > 0)
    g_string_append_c (where, ')');
  asmctl_script_emit (s,
                      "%s: drain %s -> %u partition%s moved%s, %u window%s "
                      "returned",
                      o->name, a->pos[1], moved->len,
                      moved->len == 1 ? "" : "s", where->str,
                      before.n_windows, before.n_windows == 1 ? "" : "s");
  g_string_free (where, TRUE);
  return TRUE;
}

static gboolean
cmd_remove_switch (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId sw;
  g_autoptr (GArray) left = NULL;

  if (!fab_switch (o, a->pos[1], &sw, error) ||
      !asm_fabric_remove_switch (o->fabric, sw, error))
    return FALSE;
  left = asm_fabric_list (o->fabric, ASM_FABRIC_SWITCHES);
  asmctl_script_emit (s, "%s: remove-switch %s -> id %u removed, %u "
                      "switch%s left",
                      o->name, a->pos[1], sw, left->len,
                      left->len == 1 ? "" : "es");
  return TRUE;
}

static gboolean
cmd_end_workload (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId wl;
  g_autoptr (GArray) parts = NULL;
  g_autofree char *wname = NULL;
  GString *names;

  if (!fab_workload (o, a->pos[1], &wl, error))
    return FALSE;
  parts = partitions_where (o, ASM_ID_NONE, wl);
  if (!asm_fabric_remove_workload (o->fabric, wl, error))
    return FALSE;
  wname = id_name (o->workload_names, wl);
  names = g_string_new (NULL);
  for (guint i = 0; i < parts->len; i++)
    {
      AsmId id = g_array_index (parts, AsmId, i);
      g_autofree char *name = id_name (o->partition_names, id);

      g_string_append_printf (names, "%s%s", i ? ", " : " (", name);
      forget_id (o, "partition", o->partitions, o->partition_names, id,
                 g_strdup_printf ("released when workload %s ended on line "
                                  "%u", wname, s->line));
    }
  if (parts->len > 0)
    g_string_append_c (names, ')');
  forget_id (o, "workload", o->workloads, o->workload_names, wl,
             g_strdup_printf ("ended on line %u", s->line));
  asmctl_script_emit (s, "%s: end-workload %s -> %u partition%s released%s",
                      o->name, a->pos[1], parts->len,
                      parts->len == 1 ? "" : "s", names->str);
  g_string_free (names, TRUE);
  return TRUE;
}

/* migrate-workload F WORKLOAD [SWITCH] */
static gboolean
cmd_migrate_workload (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId wl, sw = ASM_ID_NONE, to = ASM_ID_NONE;
  g_autoptr (GArray) parts = NULL;
  g_autoptr (GArray) from = g_array_new (FALSE, FALSE, sizeof (AsmId));
  g_autofree char *name = NULL;
  guint n_moved = 0;

  if (!fab_workload (o, a->pos[1], &wl, error) ||
      (a->n_pos > 2 && !fab_switch (o, a->pos[2], &sw, error)))
    return FALSE;
  parts = partitions_where (o, ASM_ID_NONE, wl);
  for (guint i = 0; i < parts->len; i++)
    {
      AsmPartitionInfo pi;

      ASMCTL_MUST (asm_fabric_get_partition_info (
          o->fabric, g_array_index (parts, AsmId, i), &pi));
      g_array_append_val (from, pi.switch_id);
    }
  if (!asm_fabric_migrate_workload (o->fabric, wl, sw, error))
    return FALSE;
  for (guint i = 0; i < parts->len; i++)
    {
      AsmPartitionInfo pi;

      ASMCTL_MUST (asm_fabric_get_partition_info (
          o->fabric, g_array_index (parts, AsmId, i), &pi));
      to = pi.switch_id;
      n_moved += pi.switch_id != g_array_index (from, AsmId, i);
    }
  name = to != ASM_ID_NONE ? switch_name (o, to) : g_strdup ("-");
  asmctl_script_emit (s,
                      "%s: migrate-workload %s%s%s -> %s, %u of %u "
                      "partition%s moved",
                      o->name, a->pos[1], a->n_pos > 2 ? " " : "",
                      a->n_pos > 2 ? a->pos[2] : "", name, n_moved, parts->len,
                      parts->len == 1 ? "" : "s");
  return TRUE;
}

static gboolean
cmd_root_map (Script *s, Args *a, Obj *o, GError **error)
{
  g_autoptr (GArray) routes = asm_fabric_get_root_map (o->fabric);

  asmctl_script_emit (s, "%s: root-map -> %u route%s", o->name, routes->len,
                      routes->len == 1 ? "" : "s");
  for (guint i = 0; i < routes->len; i++)
    {
      const AsmRootRoute *r = &g_array_index (routes, AsmRootRoute, i);
      g_autofree char *sw = switch_name (o, r->switch_id);

      asmctl_script_emit (s, "  " HEX "-" HEX " %s", r->first, r->last, sw);
    }
  return TRUE;
}

static gboolean
cmd_transfer_vf (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId vf, pf, new_vf;
  g_autofree char *name = NULL;

  if (!fab_device (o, a->pos[1], &vf, error) ||
      !fab_device (o, a->pos[2], &pf, error) ||
      !asm_fabric_transfer_vf (o->fabric, vf, pf, &new_vf, error))
    return FALSE;
  name = device_name (o, new_vf);
  asmctl_script_emit (s, "%s: transfer-vf %s %s -> %s (id %u)", o->name,
                      a->pos[1], a->pos[2], name, new_vf);
  return TRUE;
}

static gboolean
cmd_usage (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId wl;
  gdouble time;
  guint64 bytes;

  return asmctl_script_dbl ("TIME", a->pos[2], &time, error) &&
         asmctl_script_num ("BYTES", a->pos[3], &bytes, error) &&
         fab_workload (o, a->pos[1], &wl, error) &&
         asm_fabric_record_usage (o->fabric, wl, time, bytes, error);
}

static gboolean
cmd_predict (Script *s, Args *a, Obj *o, GError **error)
{
  AsmId wl;
  gdouble horizon;
  guint64 bytes;

  if (!asmctl_script_dbl ("HORIZON", a->pos[2], &horizon, error) ||
      !fab_workload (o, a->pos[1], &wl, error) ||
      !asm_fabric_predict (o->fabric, wl, horizon, &bytes, error))
    return FALSE;
  asmctl_script_emit (s, "%s: predict %s %s -> " HEX, o->name, a->pos[1],
                      a->pos[2], bytes);
  return TRUE;
}

/* sample F TIME: the profiler reads the backend's usage counters */
static gboolean
cmd_sample (Script *s, Args *a, Obj *o, GError **error)
{
  gdouble time;
  g_autoptr (GArray) wls = NULL;
  guint n = 0;

  if (!asmctl_script_dbl ("TIME", a->pos[1], &time, error) ||
      !asm_fabric_sample_usage (o->fabric, time, error))
    return FALSE;
  /* what it recorded: one sample per workload with partitions */
  wls = asm_fabric_list (o->fabric, ASM_FABRIC_WORKLOADS);
  for (guint i = 0; i < wls->len; i++)
    {
      g_autoptr (GArray) parts = partitions_where (
          o, ASM_ID_NONE, g_array_index (wls, AsmId, i));
      n += parts->len > 0;
    }
  asmctl_script_emit (s, "%s: sample %s -> %u workload%s sampled", o->name,
                      a->pos[1], n, n == 1 ? "" : "s");
  return TRUE;
}

static gboolean
cmd_rebalance (Script *s, Args *a, Obj *o, GError **error)
{
  gdouble horizon;
  AsmRebalanceReport rep;

  if (!asmctl_script_dbl ("HORIZON", a->pos[1], &horizon, error) ||
      !asm_fabric_rebalance (o->fabric, horizon, &rep, error))
    return FALSE;
  asmctl_script_emit (s,
                      "%s: rebalance %s -> examined %u, grown %u, shrunk %u, "
                      "migrated %u, failed %u",
                      o->name, a->pos[1], rep.n_examined, rep.n_grown,
                      rep.n_shrunk, rep.n_migrated, rep.n_failed);
  return TRUE;
}

static const char *const sim_op_names[] = {
  [ASM_SIM_OP_ANY] = "any",       [ASM_SIM_OP_WINDOWS] = "windows",
  [ASM_SIM_OP_XLAT] = "xlat",     [ASM_SIM_OP_BIND] = "bind",
  [ASM_SIM_OP_UNBIND] = "unbind", [ASM_SIM_OP_HOLD] = "hold",
  [ASM_SIM_OP_VF] = "vf",         [ASM_SIM_OP_FLUSH] = "flush",
};

/* fail F call N | fail F kind KIND [off] */
static gboolean
cmd_fail (Script *s, Args *a, Obj *o, GError **error)
{
  if (strcmp (a->pos[1], "call") == 0)
    {
      guint64 n;
      if (asmctl_script_has_flag (a, "off"))
        return asmctl_script_syntax (error, "'off' goes with 'fail F kind "
                                            "KIND'; 'fail F call 0' cancels a "
                                            "pending call fault");
      if (!asmctl_script_num ("N", a->pos[2], &n, error) ||
          !need_sim (o, error))
        return FALSE;
      asm_sim_fail_call (o->sim, n);
      return TRUE;
    }
  if (strcmp (a->pos[1], "kind") == 0)
    {
      guint k;
      for (k = 0; k < G_N_ELEMENTS (sim_op_names); k++)
        if (strcmp (a->pos[2], sim_op_names[k]) == 0)
          break;
      if (k == G_N_ELEMENTS (sim_op_names))
        return asmctl_script_syntax (error,
                                     "KIND: '%s' is not a kind of call (any, "
                                     "windows, xlat, bind, unbind, hold, vf, "
                                     "flush)",
                                     a->pos[2]);
      if (!need_sim (o, error))
        return FALSE;
      asm_sim_fail_kind (o->sim, (AsmSimOp) k,
                         !asmctl_script_has_flag (a, "off"));
      return TRUE;
    }
  return asmctl_script_syntax (error, "fail: '%s' is neither 'call' nor 'kind'",
                               a->pos[1]);
}

static gboolean
cmd_crash (Script *s, Args *a, Obj *o, GError **error)
{
  guint64 n;

  if (!asmctl_script_num ("N", a->pos[1], &n, error) || !need_sim (o, error))
    return FALSE;
  asm_sim_crash_after (o->sim, n);
  o->crash_armed = TRUE;
  return TRUE;
}

static gboolean
cmd_clear (Script *s, Args *a, Obj *o, GError **error)
{
  if (!need_sim (o, error))
    return FALSE;
  asm_sim_clear_faults (o->sim);
  return TRUE;
}

static gboolean
cmd_calls (Script *s, Args *a, Obj *o, GError **error)
{
  if (!need_sim (o, error))
    return FALSE;
  asmctl_script_emit (s, "%s: calls -> %" G_GUINT64_FORMAT, o->name,
                      asm_sim_get_n_calls (o->sim));
  return TRUE;
}

static gboolean
cmd_verify (Script *s, Args *a, Obj *o, GError **error)
{
  if (!need_sim (o, error) || !asm_sim_verify (o->sim, o->fabric, error))
    return FALSE;
  asmctl_script_emit (s, "%s: verify -> ok", o->name);
  return TRUE;
}

/* save F FILE | save F - (to the output) */
static gboolean
cmd_save (Script *s, Args *a, Obj *o, GError **error)
{
  gsize len;
  g_autofree char *json = asm_fabric_save (o->fabric, &len);
  GError *local = NULL;

  if (strcmp (a->pos[1], "-") == 0)
    {
      g_auto (GStrv) lines = NULL;
      guint n;

      while (len > 0 && json[len - 1] == '\n')
        json[--len] = '\0';
      lines = g_strsplit (json, "\n", -1);
      n = g_strv_length (lines);
      for (guint i = 0; i < n; i++)
        asmctl_script_emit (s, "%s", lines[i]);
      return TRUE;
    }
  if (!g_file_set_contents (a->pos[1], json, (gssize) len, &local))
    {
      asmctl_script_fail (error, ASM_ERROR_FAILED, "%s: %s", o->name,
                          local->message);
      g_error_free (local);
      return FALSE;
    }
  return TRUE;
}

void
asmctl_script_show_fabric (Script *s, Obj *o)
{
  g_autoptr (GArray) sws = asm_fabric_list (o->fabric, ASM_FABRIC_SWITCHES);
  g_autoptr (GArray) devs = asm_fabric_list (o->fabric, ASM_FABRIC_DEVICES);
  g_autoptr (GArray) wls = asm_fabric_list (o->fabric, ASM_FABRIC_WORKLOADS);
  g_autoptr (GArray) parts = asm_fabric_list (o->fabric, ASM_FABRIC_PARTITIONS);

  asmctl_script_emit (s,
                      "%s: show -> %u switches, %u devices, %u workloads, %u "
                      "partitions",
                      o->name, sws->len, devs->len, wls->len, parts->len);
  for (guint i = 0; i < sws->len; i++)
    {
      AsmSwitchInfo si;
      g_autoptr (GArray) w = NULL;
      GString *ranges = g_string_new (NULL);

      ASMCTL_MUST (asm_fabric_get_switch_info (o->fabric, g_array_index (sws, AsmId, i),
                                  &si));
      w = asm_fabric_get_switch_windows (o->fabric, si.id);
      for (guint j = 0; j < w->len; j++)
        g_string_append_printf (ranges, "%s" HEX "-" HEX, j ? " " : "",
                                g_array_index (w, AsmRange, j).first,
                                g_array_index (w, AsmRange, j).last);
      asmctl_script_emit (s,
                          "  switch %s (id %u)%s%s: bandwidth "
                          "%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
                          ", latency %u, table %u/%u, ports %u/%u, windows %s, "
                          "free " HEX ", partitions %u",
                          si.name, si.id, si.pinned ? " pinned" : "",
                          si.draining ? " draining" : "",
                          si.bandwidth_used, si.bandwidth, si.latency_ns,
                          si.table_used, si.table_capacity, si.n_ports_used,
                          si.n_ports, ranges->len ? ranges->str : "-",
                          si.free_bytes, si.n_partitions);
      g_string_free (ranges, TRUE);
    }
  for (guint i = 0; i < devs->len; i++)
    {
      AsmDeviceInfo di;
      g_autofree char *sw = NULL, *where = NULL, *kind = NULL;

      ASMCTL_MUST (asm_fabric_get_device_info (o->fabric, g_array_index (devs, AsmId, i),
                                  &di));
      sw = switch_name (o, di.switch_id);
      if (di.kind == ASM_DEVICE_PF)
        kind = g_strdup_printf ("pf (max %u vfs of " HEX ")", di.max_vfs,
                                di.vf_bar_size);
      else if (di.kind == ASM_DEVICE_VF)
        {
          g_autofree char *pf = device_name (o, di.pf);
          kind = g_strdup_printf ("vf %u of %s", di.vf_index, pf);
        }
      else
        kind = g_strdup ("endpoint");
      if (di.partition != ASM_ID_NONE)
        {
          g_autofree char *p = id_name (o->partition_names, di.partition);
          where = g_strdup_printf ("in %s+" HEX, p, di.partition_offset);
        }
      asmctl_script_emit (s,
                          "  device %s (id %u): %s on %s port %u, bar " HEX
                          ", %s",
                          di.name, di.id, kind, sw, di.port, di.bar_size,
                          where ? where : "unmapped");
    }
  for (guint i = 0; i < wls->len; i++)
    {
      AsmId id = g_array_index (wls, AsmId, i);
      const char *name = g_hash_table_lookup (o->workload_names,
                                              GUINT_TO_POINTER (id));
      if (name != NULL)
        asmctl_script_emit (s, "  workload %s (id %u)", name, id);
      else
        asmctl_script_emit (s, "  workload %u", id);
    }
  for (guint i = 0; i < parts->len; i++)
    {
      AsmPartitionInfo pi;
      g_autofree char *name = NULL, *wl = NULL, *sw = NULL;
      const char *given;

      ASMCTL_MUST (asm_fabric_get_partition_info (o->fabric,
                                     g_array_index (parts, AsmId, i), &pi));
      given = g_hash_table_lookup (o->partition_names,
                                   GUINT_TO_POINTER (pi.id));
      name = given ? g_strdup_printf ("%s (id %u)", given, pi.id)
                   : g_strdup_printf ("%u", pi.id);
      wl = id_name (o->workload_names, pi.workload);
      sw = switch_name (o, pi.switch_id);
      asmctl_script_emit (s,
                          "  partition %s: %s on %s, virtual " HEX "-" HEX
                          ", physical " HEX ", bandwidth %" G_GUINT64_FORMAT
                          ", devices %u, generation %u",
                          name, wl, sw, pi.virt_first,
                          pi.virt_first + pi.size - 1, pi.phys_first,
                          pi.bandwidth_demand, pi.n_devices, pi.generation);
    }
}

/* ------------------------------------------------------------------ */
/* Their part of the command table                                      */

const Command asmctl_script_pci_fabric_commands[] = {
  /* fabrics */
  { "fabric", K_NONE, 4, 4, NULL, "window",
    "fabric NAME FIRST LAST GRANULE [window=SIZE]", asmctl_script_cmd_fabric },
  { "load", K_NONE, 2, 2, NULL, NULL, "load NAME FILE",
    asmctl_script_cmd_load },
  { "reserve", OBJ_FABRIC, 3, 3, NULL, NULL, "reserve FABRIC FIRST LAST",
    cmd_fabric_reserve },
  { "switch", OBJ_FABRIC, 2, 2, "pinned", "bw latency table ports",
    "switch FABRIC NAME [bw=MB/s] [latency=NS] [table=N] [ports=N] [pinned]",
    cmd_switch },
  { "window", OBJ_FABRIC, 4, 4, NULL, NULL,
    "window FABRIC SWITCH FIRST LAST", cmd_window },
  { "device", OBJ_FABRIC, 5, 5, "pf", NULL,
    "device FABRIC NAME SWITCH PORT BAR [pf]", cmd_device },
  { "sriov", OBJ_FABRIC, 4, 4, NULL, NULL, "sriov FABRIC PF MAXVFS VFBAR",
    cmd_sriov },
  { "vf", OBJ_FABRIC, 2, 2, NULL, NULL, "vf FABRIC PF", cmd_vf },
  { "workload", OBJ_FABRIC, 2, 2, NULL, NULL, "workload FABRIC NAME",
    cmd_workload },
  { "partition", OBJ_FABRIC, 4, 4, NULL,
    "align min-bw max-latency prefer demand",
    "partition FABRIC NAME WORKLOAD SIZE [align=A] [min-bw=MB/s] "
    "[max-latency=NS] [prefer=SWITCH] [demand=MB/s]", cmd_partition },
  { "map", OBJ_FABRIC, 3, 3, NULL, NULL, "map FABRIC PARTITION DEVICE",
    cmd_map },
  { "translate", OBJ_FABRIC, 3, 3, NULL, NULL,
    "translate FABRIC WORKLOAD VIRT|PARTITION[+OFFSET]", cmd_translate },
  { "migrate", OBJ_FABRIC, 2, 3, NULL, NULL,
    "migrate FABRIC PARTITION [SWITCH]", cmd_migrate },
  { "grow", OBJ_FABRIC, 3, 3, NULL, NULL, "grow FABRIC PARTITION SIZE",
    cmd_grow },
  { "release-partition", OBJ_FABRIC, 2, 2, NULL, NULL,
    "release-partition FABRIC PARTITION", cmd_release_partition },
  { "transfer-vf", OBJ_FABRIC, 3, 3, NULL, NULL,
    "transfer-vf FABRIC VF PF", cmd_transfer_vf },
  { "unmap", OBJ_FABRIC, 3, 3, NULL, NULL, "unmap FABRIC PARTITION DEVICE",
    cmd_unmap },
  { "shrink", OBJ_FABRIC, 3, 3, NULL, NULL, "shrink FABRIC PARTITION SIZE",
    cmd_shrink },
  { "destroy-vf", OBJ_FABRIC, 2, 2, NULL, NULL, "destroy-vf FABRIC VF",
    cmd_destroy_vf },
  { "remove-device", OBJ_FABRIC, 2, 2, NULL, NULL,
    "remove-device FABRIC DEVICE", cmd_remove_device },
  { "drain", OBJ_FABRIC, 2, 2, NULL, NULL, "drain FABRIC SWITCH", cmd_drain },
  { "remove-switch", OBJ_FABRIC, 2, 2, NULL, NULL,
    "remove-switch FABRIC SWITCH", cmd_remove_switch },
  { "end-workload", OBJ_FABRIC, 2, 2, NULL, NULL,
    "end-workload FABRIC WORKLOAD", cmd_end_workload },
  { "migrate-workload", OBJ_FABRIC, 2, 3, NULL, NULL,
    "migrate-workload FABRIC WORKLOAD [SWITCH]", cmd_migrate_workload },
  { "root-map", OBJ_FABRIC, 1, 1, NULL, NULL, "root-map FABRIC",
    cmd_root_map },
  { "usage", OBJ_FABRIC, 4, 4, NULL, NULL,
    "usage FABRIC WORKLOAD TIME BYTES", cmd_usage },
  { "sample", OBJ_FABRIC, 2, 2, NULL, NULL, "sample FABRIC TIME",
    cmd_sample },
  { "predict", OBJ_FABRIC, 3, 3, NULL, NULL,
    "predict FABRIC WORKLOAD HORIZON", cmd_predict },
  { "rebalance", OBJ_FABRIC, 2, 2, NULL, NULL, "rebalance FABRIC HORIZON",
    cmd_rebalance },
  { "fail", OBJ_FABRIC, 3, 3, "off", NULL,
    "fail FABRIC call N | fail FABRIC kind KIND [off]", cmd_fail },
  { "crash", OBJ_FABRIC, 2, 2, NULL, NULL, "crash FABRIC N", cmd_crash },
  { "clear", OBJ_FABRIC, 1, 1, NULL, NULL, "clear FABRIC", cmd_clear },
  { "calls", OBJ_FABRIC, 1, 1, NULL, NULL, "calls FABRIC", cmd_calls },
  { "verify", OBJ_FABRIC, 1, 1, NULL, NULL, "verify FABRIC", cmd_verify },
  { "save", OBJ_FABRIC, 2, 2, NULL, NULL, "save FABRIC FILE|-", cmd_save },
};

const guint asmctl_script_pci_fabric_n_commands =
  G_N_ELEMENTS (asmctl_script_pci_fabric_commands);
