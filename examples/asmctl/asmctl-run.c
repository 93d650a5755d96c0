/* asmctl-run.c: `asmctl run SCENARIO.json`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A scenario file describes a fabric (global space, switches, devices,
 * workloads) and a list of steps to run on it; see README.md ("Scenario
 * files") for the format with an example.  Reading is strict: every key
 * is known or refused, every value checked, and each error names its JSON
 * path ("$.steps[3].partition: unknown partition 'p9'").  Objects are
 * named in the file and steps may name what they create ("as": "p1") so
 * later steps can refer to it.  An object that leaves the fabric (a
 * partition released, a workload ended, a VF destroyed or transferred, a
 * device or switch removed) leaves the names too: a later step that names
 * it fails with not-found, saying which step took it away, rather than
 * passing a dead id to the library.  A step may carry "expect": "<error
 * code>" when it is meant to fail; any other failure stops the run with
 * exit status 1, its message ending with the code.  The output is a
 * timeline of the steps and the fabric's events, then the switches;
 * `--json` prints the final snapshot instead.
 */
#include "asmctl.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  AsmFabric *fabric;
  AsmBackend *backend;
  GHashTable *names;   /* name -> AsmId (switches, devices, workloads,
                          partitions, VFs share one namespace) */
  GHashTable *id_names; /* AsmId -> GSList of its names (the keys of
                           names), so an object that leaves takes its
                           names along without a scan of every name */
  GHashTable *wl_parts; /* workload AsmId -> set of the AsmIds of the
                           partitions requested for it (a superset: a
                           partition that left is filtered out on use) */
  GHashTable *virt;    /* partition name -> its first virtual address */
  GHashTable *gone;    /* name -> how its object left the fabric
                          ("released by $.steps[3]"), until given again */
  GError *gone_err;    /* a step named an object that left: the step
                          fails with not-found, which "expect" may accept */
  guint observer;      /* on_event's, on r->fabric: removed before the
                          fabric outlives the run (asmctl_scenario_open) */
  gboolean quiet;
  GError **error;
  char *path;          /* the JSON path being read, for messages */
} Run;

static gboolean
fail_at (Run *r, const char *key, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
fail_at (Run *r, const char *key, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (r->error != NULL && *r->error == NULL)
    g_set_error (r->error, ASM_ERROR, ASM_ERROR_PARSE, "%s%s%s: %s", r->path,
                 key ? "." : "", key ? key : "", msg);
  return FALSE;
}

/* The largest value of each kind of field: a value above it is refused
 * with the range, never clamped. */
#define MAX_U64 G_MAXUINT64
#define MAX_U32 ((guint64) G_MAXUINT32)
#define MAX_VFS 64 /* the most VFs a PF may have (asm_fabric_set_sriov) */

/* Sizes, addresses and counts: a JSON integer (decimal; the pre-scan
 * refuses leading zeros), or a string of decimal or 0x-hex digits with an
 * optional K, M, G or T suffix ("0x1000", "123", "2M"), as
 * asmctl_parse_u64() reads it: no spaces, no sign, no octal.  A value
 * above @max is refused with the allowed range. */
static gboolean
node_u64 (Run *r, JsonNode *n, const char *key, guint64 max, guint64 *out)
{
  guint64 v;

  if (n != NULL && JSON_NODE_HOLDS_VALUE (n) &&
      json_node_get_value_type (n) == G_TYPE_INT64)
    {
      if (json_node_get_int (n) < 0)
        return fail_at (r, key, "%" G_GINT64_FORMAT " is out of range "
                        "0..%" G_GUINT64_FORMAT, json_node_get_int (n), max);
      v = (guint64) json_node_get_int (n);
    }
  else if (n != NULL && JSON_NODE_HOLDS_VALUE (n) &&
           json_node_get_value_type (n) == G_TYPE_STRING)
    {
      g_autoptr (GError) err = NULL;
      if (!asmctl_parse_u64 (json_node_get_string (n), &v, &err))
        return fail_at (r, key, "%s", err->message);
    }
  else
    return fail_at (r, key, "expected a number >= 0 (\"0x..\", \"2M\" or "
                    "an integer)");
  if (v > max)
    return fail_at (r, key, "%" G_GUINT64_FORMAT " is out of range "
                    "0..%" G_GUINT64_FORMAT, v, max);
  *out = v;
  return TRUE;
}

/* A strict view of one JSON object. */
typedef struct {
  Run *r;
  JsonObject *o;
  GHashTable *seen;
} Obj;

static gboolean
obj_open (Obj *ob, Run *r, JsonNode *n)
{
  ob->r = r;
  ob->seen = g_hash_table_new (g_str_hash, g_str_equal);
  if (n == NULL || !JSON_NODE_HOLDS_OBJECT (n))
    {
      ob->o = NULL;
      return fail_at (r, NULL, "expected an object");
    }
  ob->o = json_node_get_object (n);
  return TRUE;
}

static void
obj_close (Obj *ob)
{
  g_hash_table_unref (ob->seen);
}

static JsonNode *
obj_get (Obj *ob, const char *key, gboolean required)
{
  JsonNode *n;
  g_hash_table_add (ob->seen, (gpointer) key);
  n = json_object_get_member (ob->o, key);
  if (n == NULL && required)
    fail_at (ob->r, key, "missing");
  return n;
}

static gboolean
obj_u64 (Obj *ob, const char *key, gboolean required, guint64 dflt,
         guint64 max, guint64 *out)
{
  JsonNode *n = obj_get (ob, key, required);
  if (n == NULL)
    {
      *out = dflt;
      return !required;
    }
  return node_u64 (ob->r, n, key, max, out);
}

/* a guint32 field */
static gboolean
obj_u32 (Obj *ob, const char *key, gboolean required, guint32 dflt,
         guint32 *out)
{
  guint64 v;

  if (!obj_u64 (ob, key, required, dflt, MAX_U32, &v))
    return FALSE;
  *out = (guint32) v;
  return TRUE;
}

static const char *
obj_str (Obj *ob, const char *key, gboolean required)
{
  JsonNode *n = obj_get (ob, key, required);
  if (n == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_VALUE (n) ||
      json_node_get_value_type (n) != G_TYPE_STRING)
    {
      fail_at (ob->r, key, "expected a string");
      return NULL;
    }
  return json_node_get_string (n);
}

static gboolean
obj_bool (Obj *ob, const char *key, gboolean *out)
{
  JsonNode *n = obj_get (ob, key, FALSE);
  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) ||
      json_node_get_value_type (n) != G_TYPE_BOOLEAN)
    return fail_at (ob->r, key, "expected true or false");
  *out = json_node_get_boolean (n);
  return TRUE;
}

/* refuses keys nobody asked for */
static gboolean
obj_done (Obj *ob)
{
  JsonObjectIter it;
  const char *name;
  JsonNode *node;

  json_object_iter_init (&it, ob->o);
  while (json_object_iter_next (&it, &name, &node))
    if (!g_hash_table_contains (ob->seen, name))
      return fail_at (ob->r, name, "unknown key");
  return TRUE;
}

static gboolean
lookup (Run *r, const char *key, const char *name, AsmId *out)
{
  gpointer v;
  const char *how;

  if (name == NULL)
    return FALSE;
  if (!g_hash_table_lookup_extended (r->names, name, NULL, &v))
    {
      how = g_hash_table_lookup (r->gone, name);
      if (how == NULL)
        return fail_at (r, key, "unknown name '%s'", name);
      /* an operation's failure, not a scenario error: the name was real */
      g_clear_error (&r->gone_err);
      r->gone_err = g_error_new (ASM_ERROR, ASM_ERROR_NOT_FOUND,
                                 "%s.%s: '%s' is gone (%s)", r->path, key,
                                 name, how);
      return FALSE;
    }
  *out = GPOINTER_TO_UINT (v);
  return TRUE;
}

/* The object with this id left the fabric by the step at r->path: its
 * names are free again, and until given again a step that uses one fails
 * with not-found, saying how it left ("released by $.steps[4]"). */
static void
forget_id (Run *r, AsmId id, const char *how)
{
  GSList *names = g_hash_table_lookup (r->id_names, GUINT_TO_POINTER (id));

  for (GSList *l = names; l != NULL; l = l->next)
    {
      g_hash_table_insert (r->gone, g_strdup (l->data),
                           g_strdup_printf ("%s by %s", how, r->path));
      g_hash_table_remove (r->virt, l->data);
      g_hash_table_remove (r->names, l->data); /* frees the name */
    }
  g_hash_table_remove (r->id_names, GUINT_TO_POINTER (id));
  g_hash_table_remove (r->wl_parts, GUINT_TO_POINTER (id));
}

/* a partition was requested for a workload */
static void
note_partition (Run *r, AsmId workload, AsmId partition)
{
  GHashTable *set = g_hash_table_lookup (r->wl_parts,
                                         GUINT_TO_POINTER (workload));
  if (set == NULL)
    {
      set = g_hash_table_new (NULL, NULL);
      g_hash_table_insert (r->wl_parts, GUINT_TO_POINTER (workload), set);
    }
  g_hash_table_add (set, GUINT_TO_POINTER (partition));
}

static gint
cmp_id (gconstpointer a, gconstpointer b)
{
  AsmId x = *(const AsmId *) a, y = *(const AsmId *) b;
  return x < y ? -1 : x > y;
}

/* the partitions of a workload, in id order: those this run requested
 * for it that the fabric still has (a look-up each, not a scan of every
 * partition of the fabric, so that a step costs what its workload has) */
static GArray *
workload_partitions (Run *r, AsmId workload)
{
  GHashTable *set = g_hash_table_lookup (r->wl_parts,
                                         GUINT_TO_POINTER (workload));
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (AsmId));
  GHashTableIter it;
  gpointer key;

  if (set == NULL)
    return ids;
  g_hash_table_iter_init (&it, set);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      AsmPartitionInfo pi;
      if (asm_fabric_get_partition_info (r->fabric, GPOINTER_TO_UINT (key),
                                         &pi) &&
          pi.workload == workload)
        g_array_append_val (ids, pi.id);
      else
        g_hash_table_iter_remove (&it);
    }
  g_array_sort (ids, cmp_id);
  return ids;
}

static gboolean
name_new (Run *r, const char *key, const char *name, AsmId id)
{
  char *copy;
  GSList *names;

  if (name == NULL)
    return TRUE;
  if (g_hash_table_contains (r->names, name))
    return fail_at (r, key, "the name '%s' is already used", name);
  copy = g_strdup (name);
  g_hash_table_remove (r->gone, name);
  g_hash_table_insert (r->names, copy, GUINT_TO_POINTER (id));
  names = g_hash_table_lookup (r->id_names, GUINT_TO_POINTER (id));
  g_hash_table_steal (r->id_names, GUINT_TO_POINTER (id));
  g_hash_table_insert (r->id_names, GUINT_TO_POINTER (id),
                       g_slist_prepend (names, copy));
  return TRUE;
}

static void
set_path (Run *r, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
set_path (Run *r, const char *fmt, ...)
{
  va_list ap;
  g_free (r->path);
  va_start (ap, fmt);
  r->path = g_strdup_vprintf (fmt, ap);
  va_end (ap);
}

static void
on_event (AsmFabric *fabric, const AsmFabricEvent *event, gpointer user_data)
{
  Run *r = user_data;
  if (!r->quiet)
    printf ("   | %s\n", event->message);
}

static const struct {
  const char *name;
  AsmSimOp op;
} sim_ops[] = {
  { "any", ASM_SIM_OP_ANY },       { "windows", ASM_SIM_OP_WINDOWS },
  { "xlat", ASM_SIM_OP_XLAT },     { "bind", ASM_SIM_OP_BIND },
  { "unbind", ASM_SIM_OP_UNBIND }, { "hold", ASM_SIM_OP_HOLD },
  { "vf", ASM_SIM_OP_VF },         { "flush", ASM_SIM_OP_FLUSH },
};

static gboolean
build_fabric (Run *r, JsonObject *root)
{
  Obj ob;
  JsonNode *n;
  guint64 first = 0, last = 0, granule = 0, wgran = 0;
  const char *name;
  GError *err = NULL;

  set_path (r, "$.fabric");
  if (!obj_open (&ob, r, json_object_get_member (root, "fabric")))
    {
      obj_close (&ob);
      return FALSE;
    }
  name = obj_str (&ob, "name", FALSE);
  n = obj_get (&ob, "global", TRUE);
  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n) ||
      json_array_get_length (json_node_get_array (n)) != 2 ||
      !node_u64 (r, json_array_get_element (json_node_get_array (n), 0),
                 "global[0]", MAX_U64, &first) ||
      !node_u64 (r, json_array_get_element (json_node_get_array (n), 1),
                 "global[1]", MAX_U64, &last))
    {
      fail_at (r, "global", "expected [first, last]");
      obj_close (&ob);
      return FALSE;
    }
  if (!obj_u64 (&ob, "granule", TRUE, 0, MAX_U64, &granule) ||
      !obj_u64 (&ob, "window_granule", FALSE, 0, MAX_U64, &wgran) ||
      !obj_done (&ob))
    {
      obj_close (&ob);
      return FALSE;
    }
  obj_close (&ob);
  r->fabric = asm_fabric_new (name ? name : "scenario", first, last, granule,
                              r->backend, &err);
  if (r->fabric == NULL)
    {
      fail_at (r, NULL, "%s", err->message);
      g_error_free (err);
      return FALSE;
    }
  if (wgran != 0 && !asm_fabric_set_window_granule (r->fabric, wgran, &err))
    {
      fail_at (r, NULL, "%s", err->message);
      g_error_free (err);
      return FALSE;
    }
  r->observer = asm_fabric_add_observer (r->fabric, on_event, r);
  return TRUE;
}

static gboolean
op_fail (Run *r, GError *err)
{
  fail_at (r, NULL, "%s", err->message);
  (*r->error)->code = err->code;
  g_error_free (err);
  return FALSE;
}

/* One switch of $.switches, read and checked; build_switches and the
 * QEMU topology (qemu_for_scenario) both read switches through it. */
typedef struct {
  AsmSwitchSpec spec;  /* spec.name borrowed from the JSON tree */
  JsonNode *windows;   /* NULL when there are none */
} SwitchFields;

static gboolean
read_switch (Run *r, guint i, JsonNode *node, SwitchFields *sf)
{
  Obj ob;
  gboolean ok;

  memset (sf, 0, sizeof *sf);
  set_path (r, "$.switches[%u]", i);
  ok = obj_open (&ob, r, node) &&
       (sf->spec.name = obj_str (&ob, "name", TRUE)) != NULL &&
       obj_u64 (&ob, "bandwidth", TRUE, 0, MAX_U64, &sf->spec.bandwidth) &&
       obj_u32 (&ob, "latency_ns", FALSE, 0, &sf->spec.latency_ns) &&
       obj_u32 (&ob, "table_capacity", FALSE, 64,
                &sf->spec.table_capacity) &&
       obj_u32 (&ob, "ports", FALSE, 8, &sf->spec.n_ports) &&
       obj_bool (&ob, "pinned", &sf->spec.pinned);
  sf->windows = ok ? obj_get (&ob, "windows", FALSE) : NULL;
  ok = ok && obj_done (&ob);
  obj_close (&ob);
  return ok;
}

static gboolean
build_switches (Run *r, JsonArray *a)
{
  for (guint i = 0; a != NULL && i < json_array_get_length (a); i++)
    {
      SwitchFields sf;
      AsmId id;
      GError *err = NULL;
      gboolean ok;

      ok = read_switch (r, i, json_array_get_element (a, i), &sf);
      if (ok)
        ok = asm_fabric_add_switch (r->fabric, &sf.spec, &id, &err)
                 ? name_new (r, "name", sf.spec.name, id)
                 : op_fail (r, err);
      if (ok && sf.windows != NULL)
        {
          JsonArray *wa = JSON_NODE_HOLDS_ARRAY (sf.windows)
                              ? json_node_get_array (sf.windows)
                              : NULL;
          if (wa == NULL)
            ok = fail_at (r, "windows", "expected an array of [first, last]");
          for (guint j = 0; ok && j < json_array_get_length (wa); j++)
            {
              JsonNode *e = json_array_get_element (wa, j);
              g_autofree char *k0 = g_strdup_printf ("windows[%u][0]", j);
              g_autofree char *k1 = g_strdup_printf ("windows[%u][1]", j);
              guint64 f, l;
              if (!JSON_NODE_HOLDS_ARRAY (e) ||
                  json_array_get_length (json_node_get_array (e)) != 2)
                ok = fail_at (r, "windows", "element %u is not [first, last]",
                              j);
              else if (!node_u64 (r, json_array_get_element (
                                         json_node_get_array (e), 0),
                                  k0, MAX_U64, &f) ||
                       !node_u64 (r, json_array_get_element (
                                         json_node_get_array (e), 1),
                                  k1, MAX_U64, &l))
                ok = FALSE;
              else if (!asm_fabric_add_window (r->fabric, id, f, l, &err))
                ok = op_fail (r, err);
            }
        }
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static gboolean
build_devices (Run *r, JsonArray *a)
{
  for (guint i = 0; a != NULL && i < json_array_get_length (a); i++)
    {
      Obj ob;
      const char *name, *kind, *sw;
      guint64 bar, vfs = 0, vf_bar = 0;
      guint32 port;
      AsmId sw_id = 0, id;
      AsmDeviceKind k = ASM_DEVICE_ENDPOINT;
      GError *err = NULL;
      gboolean ok;

      set_path (r, "$.devices[%u]", i);
      ok = obj_open (&ob, r, json_array_get_element (a, i)) &&
           (name = obj_str (&ob, "name", TRUE)) != NULL &&
           (kind = obj_str (&ob, "kind", TRUE)) != NULL &&
           obj_u64 (&ob, "bar", TRUE, 0, MAX_U64, &bar) &&
           (sw = obj_str (&ob, "switch", TRUE)) != NULL &&
           lookup (r, "switch", sw, &sw_id) &&
           obj_u32 (&ob, "port", TRUE, 0, &port) &&
           obj_u64 (&ob, "vfs", FALSE, 0, MAX_VFS, &vfs) &&
           obj_u64 (&ob, "vf_bar", FALSE, 0, MAX_U64, &vf_bar) &&
           obj_done (&ob);
      if (ok)
        {
          if (strcmp (kind, "pf") == 0)
            k = ASM_DEVICE_PF;
          else if (strcmp (kind, "endpoint") != 0)
            ok = fail_at (r, "kind", "'%s' is not \"endpoint\" or \"pf\"",
                          kind);
        }
      if (ok && !asm_fabric_add_device (r->fabric, name, k, bar, sw_id, port,
                                        &id, &err))
        ok = op_fail (r, err);
      ok = ok && name_new (r, "name", name, id);
      if (ok && k == ASM_DEVICE_PF && vfs > 0 &&
          !asm_fabric_set_sriov (r->fabric, id, (guint32) vfs, vf_bar, &err))
        ok = op_fail (r, err);
      obj_close (&ob);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static void
print_translation (Run *r, AsmId workload, guint64 virt)
{
  AsmTranslation t;
  AsmSwitchInfo si;
  AsmDeviceInfo di = { 0 };
  g_autoptr (GError) err = NULL;

  if (!asm_fabric_translate (r->fabric, workload, virt, &t, &err))
    {
      printf ("   virtual 0x%" G_GINT64_MODIFIER "x: %s\n", virt, err->message);
      return;
    }
  if (!asm_fabric_get_switch_info (r->fabric, t.switch_id, &si))
    si.name = "?";
  if (t.device != ASM_ID_NONE &&
      !asm_fabric_get_device_info (r->fabric, t.device, &di))
    di.name = "?";
  printf ("   virtual 0x%" G_GINT64_MODIFIER "x -> switch %s physical 0x%"
          G_GINT64_MODIFIER "x device %s +0x%" G_GINT64_MODIFIER "x "
          "(generation %u)\n",
          virt, si.name, t.physical, t.device ? di.name : "-",
          t.device_offset, t.generation);
}

/* Runs one step; returns FALSE with r->error set on an unexpected
 * failure or a bad step. */
/* An operation ran: whether it failed is in the GError it was given, which
 * the caller reads (against the step's "expect"). */
static gboolean
ran (gboolean succeeded)
{
  (void) succeeded;
  return TRUE;
}

static gboolean
run_step (Run *r, guint index, JsonNode *node)
{
  Obj ob;
  const char *what, *expect, *as;
  GError *err = NULL;
  gboolean ok = TRUE;
  AsmId id = ASM_ID_NONE, a = 0, b = 0;
  guint64 u = 0, v = 0;

  set_path (r, "$.steps[%u]", index);
  if (!obj_open (&ob, r, node) || (what = obj_str (&ob, "do", TRUE)) == NULL)
    {
      obj_close (&ob);
      return FALSE;
    }
  expect = obj_str (&ob, "expect", FALSE);
  as = obj_str (&ob, "as", FALSE);
  if (!r->quiet)
    printf ("%u. %s\n", index + 1, what);

  if (strcmp (what, "request") == 0)
    {
      AsmPartitionRequest req = { 0 };
      const char *w = obj_str (&ob, "workload", TRUE), *prefer;
      ok = lookup (r, "workload", w, &a) &&
           obj_u64 (&ob, "size", TRUE, 0, MAX_U64, &req.size) &&
           obj_u64 (&ob, "align", FALSE, 0, MAX_U64, &req.align) &&
           obj_u64 (&ob, "min_bandwidth", FALSE, 0, MAX_U64,
                    &req.min_bandwidth) &&
           obj_u64 (&ob, "bandwidth", FALSE, 0, MAX_U64,
                    &req.bandwidth_demand) &&
           obj_u32 (&ob, "max_latency_ns", FALSE, 0, &req.max_latency_ns);
      prefer = ok ? obj_str (&ob, "prefer", FALSE) : NULL;
      ok = ok && (prefer == NULL ||
                  lookup (r, "prefer", prefer, &req.preferred_switch)) &&
           obj_done (&ob);
      if (ok && asm_fabric_request_partition (r->fabric, a, &req, &id, &u,
                                              &err))
        {
          note_partition (r, a, id);
          if (as != NULL)
            g_hash_table_insert (r->virt, g_strdup (as),
                                 g_memdup2 (&u, sizeof u));
        }
    }
  else if (strcmp (what, "map") == 0)
    ok = lookup (r, "partition", obj_str (&ob, "partition", TRUE), &a) &&
         lookup (r, "device", obj_str (&ob, "device", TRUE), &b) &&
         obj_done (&ob) &&
         ran (asm_fabric_map_device (r->fabric, a, b, &u, &err));
  else if (strcmp (what, "create_vf") == 0)
    ok = lookup (r, "pf", obj_str (&ob, "pf", TRUE), &a) && obj_done (&ob) &&
         ran (asm_fabric_create_vf (r->fabric, a, &id, &err));
  else if (strcmp (what, "migrate") == 0)
    {
      const char *to;
      ok = lookup (r, "partition", obj_str (&ob, "partition", TRUE), &a);
      to = ok ? obj_str (&ob, "to", FALSE) : NULL;
      ok = ok && (to == NULL || lookup (r, "to", to, &b)) && obj_done (&ob) &&
           ran (asm_fabric_migrate_partition (r->fabric, a, b, &err));
    }
  else if (strcmp (what, "grow") == 0)
    ok = lookup (r, "partition", obj_str (&ob, "partition", TRUE), &a) &&
         obj_u64 (&ob, "size", TRUE, 0, MAX_U64, &u) && obj_done (&ob) &&
         ran (asm_fabric_grow_partition (r->fabric, a, u, &err));
  else if (strcmp (what, "release") == 0)
    {
      ok = lookup (r, "partition", obj_str (&ob, "partition", TRUE), &a) &&
           obj_done (&ob);
      if (ok && asm_fabric_release_partition (r->fabric, a, &err))
        forget_id (r, a, "released");
    }
  else if (strcmp (what, "unmap") == 0)
    ok = lookup (r, "partition", obj_str (&ob, "partition", TRUE), &a) &&
         lookup (r, "device", obj_str (&ob, "device", TRUE), &b) &&
         obj_done (&ob) &&
         ran (asm_fabric_unmap_device (r->fabric, a, b, &err));
  else if (strcmp (what, "shrink") == 0)
    ok = lookup (r, "partition", obj_str (&ob, "partition", TRUE), &a) &&
         obj_u64 (&ob, "size", TRUE, 0, MAX_U64, &u) && obj_done (&ob) &&
         ran (asm_fabric_shrink_partition (r->fabric, a, u, &err));
  else if (strcmp (what, "destroy_vf") == 0)
    {
      ok = lookup (r, "vf", obj_str (&ob, "vf", TRUE), &a) && obj_done (&ob);
      if (ok && asm_fabric_destroy_vf (r->fabric, a, &err))
        forget_id (r, a, "destroyed");
    }
  else if (strcmp (what, "remove_device") == 0)
    {
      ok = lookup (r, "device", obj_str (&ob, "device", TRUE), &a) &&
           obj_done (&ob);
      if (ok && asm_fabric_remove_device (r->fabric, a, &err))
        forget_id (r, a, "removed");
    }
  else if (strcmp (what, "drain") == 0)
    ok = lookup (r, "switch", obj_str (&ob, "switch", TRUE), &a) &&
         obj_done (&ob) && ran (asm_fabric_drain_switch (r->fabric, a, &err));
  else if (strcmp (what, "remove_switch") == 0)
    {
      ok = lookup (r, "switch", obj_str (&ob, "switch", TRUE), &a) &&
           obj_done (&ob);
      if (ok && asm_fabric_remove_switch (r->fabric, a, &err))
        forget_id (r, a, "removed");
    }
  else if (strcmp (what, "end_workload") == 0)
    {
      g_autoptr (GArray) parts = NULL;
      ok = lookup (r, "workload", obj_str (&ob, "workload", TRUE), &a) &&
           obj_done (&ob);
      parts = ok ? workload_partitions (r, a) : NULL;
      if (ok && asm_fabric_remove_workload (r->fabric, a, &err))
        {
          for (guint i = 0; i < parts->len; i++)
            forget_id (r, g_array_index (parts, AsmId, i), "released");
          forget_id (r, a, "ended");
        }
    }
  else if (strcmp (what, "migrate_workload") == 0)
    {
      const char *to;
      ok = lookup (r, "workload", obj_str (&ob, "workload", TRUE), &a);
      to = ok ? obj_str (&ob, "to", FALSE) : NULL;
      ok = ok && (to == NULL || lookup (r, "to", to, &b)) && obj_done (&ob);
      if (ok && asm_fabric_migrate_workload (r->fabric, a, b, &err) &&
          !r->quiet)
        {
          g_autoptr (GArray) parts = workload_partitions (r, a);
          AsmPartitionInfo pi;
          AsmSwitchInfo si;
          if (parts->len == 0 ||
              !asm_fabric_get_partition_info (
                  r->fabric, g_array_index (parts, AsmId, 0), &pi) ||
              !asm_fabric_get_switch_info (r->fabric, pi.switch_id, &si))
            si.name = "-";
          printf ("   %u partition%s of the workload on switch %s\n",
                  parts->len, parts->len == 1 ? "" : "s", si.name);
        }
    }
  else if (strcmp (what, "root_map") == 0)
    {
      ok = obj_done (&ob);
      if (ok && !r->quiet)
        {
          g_autoptr (GArray) routes = asm_fabric_get_root_map (r->fabric);
          for (guint i = 0; i < routes->len; i++)
            {
              const AsmRootRoute *rt = &g_array_index (routes, AsmRootRoute,
                                                       i);
              AsmSwitchInfo si;
              if (!asm_fabric_get_switch_info (r->fabric, rt->switch_id, &si))
                si.name = "?";
              printf ("   0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
                      "x -> switch %s\n", rt->first, rt->last, si.name);
            }
          if (routes->len == 0)
            printf ("   no routes\n");
        }
    }
  else if (strcmp (what, "sample") == 0)
    {
      ok = obj_u64 (&ob, "time", TRUE, 0, MAX_U64, &u) && obj_done (&ob);
      if (ok && asm_fabric_sample_usage (r->fabric, (gdouble) u, &err) &&
          !r->quiet)
        {
          g_autoptr (GArray) wls = asm_fabric_list (r->fabric,
                                                    ASM_FABRIC_WORKLOADS);
          guint n = 0;
          for (guint i = 0; i < wls->len; i++)
            {
              g_autoptr (GArray) parts = workload_partitions (
                  r, g_array_index (wls, AsmId, i));
              n += parts->len > 0;
            }
          printf ("   usage read for %u workload%s\n", n, n == 1 ? "" : "s");
        }
    }
  else if (strcmp (what, "transfer_vf") == 0)
    {
      ok = lookup (r, "vf", obj_str (&ob, "vf", TRUE), &a) &&
           lookup (r, "to", obj_str (&ob, "to", TRUE), &b) && obj_done (&ob);
      /* the old VF is destroyed; "as" names the new one */
      if (ok && asm_fabric_transfer_vf (r->fabric, a, b, &id, &err))
        forget_id (r, a, "transferred");
    }
  else if (strcmp (what, "usage") == 0)
    {
      JsonNode *samples = NULL;
      ok = lookup (r, "workload", obj_str (&ob, "workload", TRUE), &a) &&
           (samples = obj_get (&ob, "samples", TRUE)) != NULL &&
           obj_done (&ob);
      if (ok && !JSON_NODE_HOLDS_ARRAY (samples))
        ok = fail_at (r, "samples", "expected [[time, bytes], ...]");
      for (guint i = 0; ok && err == NULL &&
                        i < json_array_get_length (json_node_get_array (samples));
           i++)
        {
          JsonNode *e = json_array_get_element (json_node_get_array (samples),
                                                i);
          JsonArray *pair = JSON_NODE_HOLDS_ARRAY (e) ? json_node_get_array (e)
                                                      : NULL;
          g_autofree char *k0 = g_strdup_printf ("samples[%u][0]", i);
          g_autofree char *k1 = g_strdup_printf ("samples[%u][1]", i);
          if (pair == NULL || json_array_get_length (pair) != 2)
            ok = fail_at (r, "samples", "element %u is not [time, bytes]", i);
          else if (!node_u64 (r, json_array_get_element (pair, 0), k0, MAX_U64,
                              &u) ||
                   !node_u64 (r, json_array_get_element (pair, 1), k1, MAX_U64,
                              &v))
            ok = FALSE;
          else
            ran (asm_fabric_record_usage (r->fabric, a, (gdouble) u, v,
                                          &err));
        }
    }
  else if (strcmp (what, "predict") == 0)
    {
      ok = lookup (r, "workload", obj_str (&ob, "workload", TRUE), &a) &&
           obj_u64 (&ob, "horizon", TRUE, 0, MAX_U64, &u) && obj_done (&ob);
      if (ok && asm_fabric_predict (r->fabric, a, (gdouble) u, &v, &err) &&
          !r->quiet)
        {
          g_autofree char *s = asmctl_format_size (v);
          printf ("   predicted use in %" G_GUINT64_FORMAT ": %s\n", u, s);
        }
    }
  else if (strcmp (what, "rebalance") == 0)
    {
      AsmRebalanceReport rep;
      ok = obj_u64 (&ob, "horizon", TRUE, 0, MAX_U64, &u) && obj_done (&ob);
      if (ok && asm_fabric_rebalance (r->fabric, (gdouble) u, &rep, &err) &&
          !r->quiet)
        printf ("   %u examined, %u grown in place, %u shrunk, %u moved, %u "
                "failed\n", rep.n_examined, rep.n_grown, rep.n_shrunk,
                rep.n_migrated, rep.n_failed);
    }
  else if (strcmp (what, "translate") == 0)
    {
      const char *pname = obj_str (&ob, "partition", TRUE);
      guint64 *base = pname ? g_hash_table_lookup (r->virt, pname) : NULL;
      ok = lookup (r, "workload", obj_str (&ob, "workload", TRUE), &a) &&
           obj_u64 (&ob, "offset", FALSE, 0, MAX_U64, &u) && obj_done (&ob);
      if (ok && base == NULL && pname != NULL &&
          g_hash_table_contains (r->gone, pname))
        ok = lookup (r, "partition", pname, &b); /* says how it left */
      else if (ok && base == NULL)
        ok = fail_at (r, "partition", "'%s' is not a partition this scenario "
                      "requested", pname ? pname : "");
      if (ok && !r->quiet)
        print_translation (r, a, *base + u);
    }
  else if (strcmp (what, "fail") == 0)
    {
      const char *kind = obj_str (&ob, "kind", FALSE);
      ok = obj_u64 (&ob, "call", FALSE, 0, MAX_U64, &u) && obj_done (&ob);
      if (ok && (r->backend == NULL || !asm_sim_is_sim (r->backend)))
        ok = fail_at (r, NULL, "fault injection needs the sim backend");
      if (ok && kind != NULL)
        {
          gboolean known = FALSE;
          for (guint i = 0; i < G_N_ELEMENTS (sim_ops); i++)
            if (strcmp (kind, sim_ops[i].name) == 0)
              {
                asm_sim_fail_kind (r->backend, sim_ops[i].op, TRUE);
                known = TRUE;
              }
          if (!known)
            ok = fail_at (r, "kind", "'%s' is not a sim operation kind", kind);
        }
      if (ok && u > 0)
        asm_sim_fail_call (r->backend, u);
    }
  else if (strcmp (what, "clear_faults") == 0)
    {
      ok = obj_done (&ob);
      if (ok && r->backend != NULL && asm_sim_is_sim (r->backend))
        asm_sim_clear_faults (r->backend);
    }
  else if (strcmp (what, "check") == 0)
    {
      ok = obj_done (&ob);
      if (ok && asm_fabric_check (r->fabric, &err) && r->backend != NULL &&
          asm_sim_is_sim (r->backend))
        ran (asm_sim_verify (r->backend, r->fabric, &err));
      if (ok && err == NULL && !r->quiet)
        printf ("   the model is consistent%s\n",
                r->backend != NULL && asm_sim_is_sim (r->backend)
                    ? " and the hardware matches it"
                    : "");
    }
  else
    {
      obj_close (&ob);
      return fail_at (r, "do", "unknown step '%s'", what);
    }
  obj_close (&ob);
  if (!ok && r->gone_err != NULL)
    {
      /* a name whose object left: the step failed as an operation */
      err = g_steal_pointer (&r->gone_err);
      ok = TRUE;
    }
  if (!ok)
    return FALSE;

  if (err != NULL)
    {
      const char *code = asmctl_error_code_name (err);
      if (expect != NULL && strcmp (expect, code) == 0)
        {
          if (!r->quiet)
            printf ("   failed as expected (%s): %s\n", code, err->message);
          g_error_free (err);
          return TRUE;
        }
      /* name the code, as `expect` would write it; a message of this
       * file (a name that is gone) has its JSON path already */
      if (r->error != NULL && *r->error == NULL)
        g_set_error (r->error, ASM_ERROR, err->code, "%s%s%s (%s%s%s)",
                     g_str_has_prefix (err->message, "$.") ? "" : r->path,
                     g_str_has_prefix (err->message, "$.") ? "" : ": ",
                     err->message, code,
                     expect != NULL ? "; the step expected " : "",
                     expect != NULL ? expect : "");
      g_error_free (err);
      return FALSE;
    }
  if (expect != NULL)
    return fail_at (r, "expect", "the step succeeded, '%s' was expected",
                    expect);
  if (id != ASM_ID_NONE && as != NULL)
    return name_new (r, "as", as, id);
  return TRUE;
}

/* A QEMU whose topology has the scenario's switches, read through the
 * same checked reader as build_switches: a bad switch is refused here,
 * with its JSON path, before QEMU starts.  The root is an object. */
static AsmBackend *
qemu_for_scenario (Run *r, JsonObject *root)
{
  JsonNode *sn = json_object_get_member (root, "switches");
  JsonArray *a = sn != NULL && JSON_NODE_HOLDS_ARRAY (sn)
                     ? json_node_get_array (sn)
                     : NULL;
  g_autoptr (GArray) sw = g_array_new (FALSE, TRUE, sizeof (AsmQemuSwitch));
  GError *err = NULL;
  AsmBackend *backend;

  for (guint i = 0; a != NULL && i < json_array_get_length (a); i++)
    {
      SwitchFields sf;
      AsmQemuSwitch q = { 0 };
      if (!read_switch (r, i, json_array_get_element (a, i), &sf))
        return NULL;
      q.name = sf.spec.name;
      q.n_ports = sf.spec.n_ports;
      g_array_append_val (sw, q);
    }
  backend = asm_qemu_backend_new (NULL, (const AsmQemuSwitch *) sw->data,
                                  sw->len, &err);
  if (backend == NULL)
    {
      /* QEMU's failure, not the scenario's */
      g_propagate_error (r->error, err);
    }
  return backend;
}

static JsonArray *
member_array (JsonObject *o, const char *key)
{
  JsonNode *n = json_object_get_member (o, key);
  return n != NULL && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n)
                                                : NULL;
}

/* The tables a run keeps; run_clear() frees them with the fabric and
 * the backend. */
static void
run_init (Run *r)
{
  r->names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  r->id_names = g_hash_table_new_full (NULL, NULL, NULL,
                                       (GDestroyNotify) g_slist_free);
  r->wl_parts = g_hash_table_new_full (NULL, NULL, NULL,
                                       (GDestroyNotify) g_hash_table_unref);
  r->virt = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  r->gone = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static void
run_clear (Run *r)
{
  g_hash_table_unref (r->names);
  g_hash_table_unref (r->id_names);
  g_hash_table_unref (r->wl_parts);
  g_hash_table_unref (r->virt);
  g_hash_table_unref (r->gone);
  g_clear_error (&r->gone_err);
  g_free (r->path);
  g_clear_pointer (&r->fabric, asm_fabric_unref);
  g_clear_pointer (&r->backend, asm_backend_unref);
}

/* Builds what the scenario @node (read from @file) describes before its
 * steps: the backend (@backend_name: NULL or "sim", "qemu", "none"; a
 * sim keeps its registers in @sim_path when that is not NULL, see
 * asm_sim_backend_new_persistent()), the fabric, its switches, devices
 * and workloads.  Every key is checked, the steps' too (they must be an
 * array); the steps are the caller's. */
static gboolean
scenario_build (Run *r, JsonNode *node, const char *file,
                const char *backend_name, const char *sim_path)
{
  JsonObject *root;
  JsonObjectIter it;
  const char *key;
  JsonNode *member;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      set_path (r, "$");
      return fail_at (r, NULL, "a scenario is a JSON object");
    }
  root = json_node_get_object (node);
  if ((backend_name == NULL || strcmp (backend_name, "sim") == 0) &&
      sim_path != NULL)
    {
      r->backend = asm_sim_backend_new_persistent (sim_path, r->error);
      if (r->backend == NULL)
        return FALSE;
    }
  else if (backend_name == NULL || strcmp (backend_name, "sim") == 0)
    r->backend = asm_sim_backend_new ();
  else if (strcmp (backend_name, "qemu") == 0)
    {
      /* QEMU's topology is fixed at launch: read the switches first */
      r->backend = qemu_for_scenario (r, root);
      if (r->backend == NULL)
        return FALSE;
    }
  json_object_iter_init (&it, root);
  while (json_object_iter_next (&it, &key, &member))
    if (strcmp (key, "fabric") && strcmp (key, "switches") &&
        strcmp (key, "devices") && strcmp (key, "workloads") &&
        strcmp (key, "steps") && strcmp (key, "description"))
      {
        set_path (r, "$");
        return fail_at (r, key, "unknown key");
      }
  if (!build_fabric (r, root))
    return FALSE;
  if (!r->quiet)
    printf ("scenario %s: fabric '%s'\n", file,
            asm_fabric_get_name (r->fabric));
  if ((json_object_has_member (root, "switches") &&
       !JSON_NODE_HOLDS_ARRAY (json_object_get_member (root, "switches"))) ||
      (json_object_has_member (root, "devices") &&
       !JSON_NODE_HOLDS_ARRAY (json_object_get_member (root, "devices"))) ||
      (json_object_has_member (root, "workloads") &&
       !JSON_NODE_HOLDS_ARRAY (json_object_get_member (root, "workloads"))) ||
      (json_object_has_member (root, "steps") &&
       !JSON_NODE_HOLDS_ARRAY (json_object_get_member (root, "steps"))))
    {
      set_path (r, "$");
      return fail_at (r, NULL,
                      "switches, devices, workloads and steps are arrays");
    }
  if (!build_switches (r, member_array (root, "switches")) ||
      !build_devices (r, member_array (root, "devices")))
    return FALSE;
  {
    JsonArray *w = member_array (root, "workloads");
    for (guint i = 0; w != NULL && i < json_array_get_length (w); i++)
      {
        const char *name = json_array_get_string_element (w, i);
        AsmId id;
        GError *err = NULL;
        set_path (r, "$.workloads[%u]", i);
        if (name == NULL)
          return fail_at (r, NULL, "expected a workload name");
        if (!asm_fabric_add_workload (r->fabric, name, &id, &err))
          return op_fail (r, err);
        if (!name_new (r, NULL, name, id))
          return FALSE;
      }
  }
  return TRUE;
}

/**
 * asmctl_scenario_open:
 * @path: a scenario file without steps
 * @backend_name: NULL or "sim", "qemu", "none"
 * @sim_path: (nullable): for the sim, the file of its registers
 * @out_backend: (out): the backend made (NULL for "none")
 * @error: return location for a #GError
 *
 * Builds the fabric a scenario file describes (its switches, devices and
 * workloads), as asmctl run does before the steps; a file with steps is
 * refused, for a fabric served by asmd starts where the file says.
 *
 * Returns: (transfer full): the fabric, or NULL with @error set
 */
AsmFabric *
asmctl_scenario_open (const char *path, const char *backend_name,
                      const char *sim_path, AsmBackend **out_backend,
                      GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  Run r = { 0 };
  AsmFabric *fabric = NULL;
  JsonNode *root;

  if (!asmctl_json_load (parser, path, error))
    return NULL;
  r.error = error;
  r.quiet = TRUE;
  run_init (&r);
  root = json_parser_get_root (parser);
  if (scenario_build (&r, root, path, backend_name, sim_path))
    {
      if (member_array (json_node_get_object (root), "steps") != NULL)
        {
          set_path (&r, "$");
          fail_at (&r, "steps", "a served fabric starts as the file "
                   "describes it; steps are for asmctl run");
        }
      else
        {
          asm_fabric_remove_observer (r.fabric, r.observer);
          fabric = g_steal_pointer (&r.fabric);
          *out_backend = g_steal_pointer (&r.backend);
        }
    }
  run_clear (&r);
  return fabric;
}

int
asmctl_cmd_run (int argc, char **argv)
{
  g_autofree char *backend_name = NULL, *svg = NULL, *snapshot = NULL;
  gboolean json_out = FALSE;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = NULL;
  GOptionEntry entries[] = {
    { "backend", 'b', 0, G_OPTION_ARG_STRING, &backend_name,
      "sim (default), qemu (a real qemu-system-x86_64 with the scenario's "
      "switches) or none (model only)", "NAME" },
    { "svg", 0, 0, G_OPTION_ARG_FILENAME, &svg,
      "Write a picture of the final fabric", "FILE" },
    { "snapshot", 0, 0, G_OPTION_ARG_FILENAME, &snapshot,
      "Write the final state as JSON", "FILE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json_out,
      "Print the final state as JSON instead of the timeline", NULL },
    { NULL }
  };
  Run r = { 0 };
  JsonObject *root;
  JsonNode *node;
  int rc = ASMCTL_EXIT_OK;

  ctx = g_option_context_new ("SCENARIO.json - run a fabric scenario");
  g_option_context_set_summary (
      ctx, "Builds the fabric a scenario file describes and runs its steps.\n"
           "The format is documented in README.md (\"Scenario files\").");
  g_option_context_set_description (
      ctx,
      "Steps (\"do\", then their keys; every step takes \"expect\": CODE):\n"
      "  request (workload, size, align, bandwidth, min_bandwidth,\n"
      "    max_latency_ns, prefer, as) | map (partition, device)\n"
      "  unmap (partition, device) | create_vf (pf, as) | destroy_vf (vf)\n"
      "  migrate (partition, to) | grow (partition, size)\n"
      "  shrink (partition, size) | release (partition)\n"
      "  transfer_vf (vf, to, as) | remove_device (device)\n"
      "  drain (switch) | remove_switch (switch) | root_map\n"
      "  end_workload (workload) | migrate_workload (workload, to)\n"
      "  usage (workload, samples) | sample (time)\n"
      "  predict (workload, horizon) | rebalance (horizon)\n"
      "  translate (workload, partition, offset) | fail (call, kind)\n"
      "  clear_faults | check\n"
      "A name whose object left (released, ended, removed, destroyed) fails\n"
      "a later step with not-found.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "asmctl run: %s\n", error->message);
      return ASMCTL_EXIT_USAGE;
    }
  if (argc != 2)
    {
      fprintf (stderr, "asmctl run: expected one scenario file (see asmctl "
                       "run --help)\n");
      return ASMCTL_EXIT_USAGE;
    }
  if (backend_name != NULL && strcmp (backend_name, "sim") != 0 &&
      strcmp (backend_name, "none") != 0 && strcmp (backend_name, "qemu") != 0)
    {
      fprintf (stderr, "asmctl run: unknown backend '%s' (sim, qemu or "
                       "none)\n", backend_name);
      return ASMCTL_EXIT_USAGE;
    }
  parser = json_parser_new ();
  if (!asmctl_json_load (parser, argv[1], &error))
    {
      fprintf (stderr, "asmctl run: %s: %s\n", argv[1], error->message);
      return error->domain == G_FILE_ERROR ? ASMCTL_EXIT_FAILED
                                           : ASMCTL_EXIT_INPUT;
    }
  r.error = &error;
  r.quiet = json_out;
  run_init (&r);
  node = json_parser_get_root (parser);
  if (!scenario_build (&r, node, argv[1], backend_name, NULL))
    goto out;
  root = json_node_get_object (node);
  {
    JsonArray *steps = member_array (root, "steps");
    gboolean tty = isatty (fileno (stderr)) && !json_out;
    for (guint i = 0; steps != NULL && i < json_array_get_length (steps); i++)
      {
        if (tty && json_array_get_length (steps) > 20)
          fprintf (stderr, "\r[%u/%u]", i + 1, json_array_get_length (steps));
        if (!run_step (&r, i, json_array_get_element (steps, i)))
          goto out;
      }
    if (tty && steps != NULL && json_array_get_length (steps) > 20)
      fprintf (stderr, "\r\033[K");
  }
  if (!r.quiet)
    {
      printf ("\nfinal state:\n");
      asmctl_print_switches (r.fabric, stdout);
    }
  if (json_out)
    {
      g_autofree char *json = asm_fabric_save (r.fabric, NULL);
      printf ("%s\n", json);
    }
  if ((svg != NULL && !asmctl_write_svg (r.fabric, svg, &error)) ||
      (snapshot != NULL && !asmctl_write_json (r.fabric, snapshot, &error)))
    {
      fprintf (stderr, "asmctl run: %s\n", error->message);
      rc = ASMCTL_EXIT_FAILED;
    }

out:
  if (error != NULL && rc == ASMCTL_EXIT_OK)
    {
      fprintf (stderr, "asmctl run: %s: %s\n", argv[1], error->message);
      rc = error->code == ASM_ERROR_PARSE ? ASMCTL_EXIT_INPUT
                                          : ASMCTL_EXIT_FAILED;
    }
  run_clear (&r);
  return rc;
}
