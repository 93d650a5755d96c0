/* asmd-service.c: the org.asm.Fabric1 interface over one fabric
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each method of org.asm.Fabric1.xml is one line of `methods[]`: its
 * name, whether it changes the fabric, and a handler that unpacks the
 * arguments, calls the library and packs the reply.  The dispatcher does
 * the rest the same way for every method:
 *
 *   - a method that changes the fabric is refused with
 *     org.freedesktop.DBus.Error.AccessDenied, before anything is read or
 *     changed, when the daemon authorizes writers and the caller is
 *     neither root nor in the writer group (sender_may_write());
 *   - a handler's GError of the ASM_ERROR domain goes out as
 *     org.asm.Fabric1.Error.<Code> (asmd_register_errors());
 *   - a change that returns is committed: the library has written and
 *     synced its journal record before the call returned, so the reply
 *     the client sees is never ahead of the disk; every
 *     checkpoint_every-th change also writes a snapshot, which keeps the
 *     journal short.
 *
 * Calls are served one at a time on the main thread, in the order they
 * arrive: the fabric is thread-safe, but one writer keeps the journal's
 * order the order clients saw.  Events reach clients as signals, emitted
 * by the observer the fabric calls after each commit.
 */
#include "asmd.h"

#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "asmd-resources.h"

typedef gboolean (*Handler) (Asmd *d, GVariant *in, GVariant **out,
                             GError **error);

/* ------------------------------------------------------------------ */
/* Who may change the fabric                                            */

#define RIGHT_ALLOWED 1
#define RIGHT_REFUSED 2
/* senders remembered at most; the table is emptied when it is full, and
 * a sender that leaves the bus is forgotten at once */
#define MAX_SENDERS 4096

/* Whether @uid is root or a member of @group (its primary group or a
 * supplementary one, as the group database says now). */
static gboolean
uid_may_write (uid_t uid, const char *group)
{
  struct passwd pw, *pwp = NULL;
  struct group gr, *grp = NULL;
  char buf[16384], gbuf[16384];
  g_autofree gid_t *groups = NULL;
  int n = 64;

  if (uid == 0)
    return TRUE;
  if (group == NULL ||
      getpwuid_r (uid, &pw, buf, sizeof buf, &pwp) != 0 || pwp == NULL ||
      getgrnam_r (group, &gr, gbuf, sizeof gbuf, &grp) != 0 || grp == NULL)
    return FALSE;
  if (pw.pw_gid == gr.gr_gid)
    return TRUE;
  for (int tries = 0; tries < 4; tries++)
    {
      int got = n;
      groups = g_renew (gid_t, groups, (gsize) n);
      if (getgrouplist (pw.pw_name, pw.pw_gid, groups, &got) >= 0)
        {
          for (int i = 0; i < got; i++)
            if (groups[i] == gr.gr_gid)
              return TRUE;
          return FALSE;
        }
      n = got > n ? got : n * 4;
    }
  return FALSE;
}

static gboolean
sender_may_write (Asmd *d, const char *sender, GError **error)
{
  gpointer right;

  if (!d->authorize)
    return TRUE;
  right = sender ? g_hash_table_lookup (d->sender_rights, sender) : NULL;
  if (right == NULL && sender != NULL)
    {
      g_autoptr (GVariant) reply = NULL;
      guint32 uid;

      reply = g_dbus_connection_call_sync (
          d->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
          "org.freedesktop.DBus", "GetConnectionUnixUser",
          g_variant_new ("(s)", sender), G_VARIANT_TYPE ("(u)"),
          G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
      if (reply == NULL)
        return FALSE;
      g_variant_get (reply, "(u)", &uid);
      right = GINT_TO_POINTER (uid_may_write ((uid_t) uid, d->writer_group)
                                   ? RIGHT_ALLOWED
                                   : RIGHT_REFUSED);
      if (g_hash_table_size (d->sender_rights) >= MAX_SENDERS)
        g_hash_table_remove_all (d->sender_rights);
      g_hash_table_insert (d->sender_rights, g_strdup (sender), right);
    }
  if (right != GINT_TO_POINTER (RIGHT_ALLOWED))
    {
      g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
                   "%s may read this fabric but not change it: only root "
                   "%s%s%s may", sender ? sender : "this peer",
                   d->writer_group ? "and members of group '" : "",
                   d->writer_group ? d->writer_group : "",
                   d->writer_group ? "'" : "");
      return FALSE;
    }
  return TRUE;
}

static void
on_name_owner_changed (GDBusConnection *bus, const char *sender,
                       const char *path, const char *iface,
                       const char *signal, GVariant *params, gpointer data)
{
  Asmd *d = data;
  const char *name, *old_owner, *new_owner;

  g_variant_get (params, "(&s&s&s)", &name, &old_owner, &new_owner);
  if (name[0] == ':' && new_owner[0] == '\0')
    g_hash_table_remove (d->sender_rights, name);
}

/* ------------------------------------------------------------------ */
/* Arguments                                                            */

/* Reads the a{sv} @options against @keys (name, type string, where to
 * store): an unknown key or a value of another type is refused, naming
 * it; a key not given leaves its target as it was. */
typedef struct {
  const char *key;
  const char *type;
  gpointer target;
} OptionSpec;

static gboolean
read_options (GVariant *options, const OptionSpec *specs, guint n_specs,
              GError **error)
{
  GVariantIter it;
  const char *key;
  GVariant *value;

  g_variant_iter_init (&it, options);
  while (g_variant_iter_loop (&it, "{&sv}", &key, &value))
    {
      const OptionSpec *spec = NULL;
      for (guint i = 0; i < n_specs && spec == NULL; i++)
        if (strcmp (specs[i].key, key) == 0)
          spec = &specs[i];
      if (spec == NULL)
        {
          g_autoptr (GString) known = g_string_new (NULL);
          for (guint i = 0; i < n_specs; i++)
            g_string_append_printf (known, "%s%s", i ? ", " : "",
                                    specs[i].key);
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "option '%s' is unknown (known: %s)", key, known->str);
          g_variant_unref (value);
          return FALSE;
        }
      if (!g_variant_is_of_type (value, G_VARIANT_TYPE (spec->type)))
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "option '%s' must be of type %s, not %s", key,
                       spec->type, g_variant_get_type_string (value));
          g_variant_unref (value);
          return FALSE;
        }
      g_variant_get (value, spec->type, spec->target);
    }
  return TRUE;
}

/* AsmId is 32 bits; the interface carries ids as t so that it can grow.
 * An id above the range is refused, not truncated. */
static gboolean
id_arg (guint64 value, const char *what, AsmId *out, GError **error)
{
  if (value > G_MAXUINT32)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                   "%s %" G_GUINT64_FORMAT " does not exist (ids are below "
                   "2^32)", what, value);
      return FALSE;
    }
  *out = (AsmId) value;
  return TRUE;
}

#define ID2(in, fmt, n1, v1, n2, v2)                                          \
  guint64 raw1_, raw2_;                                                       \
  AsmId v1, v2;                                                               \
  g_variant_get (in, fmt, &raw1_, &raw2_);                                    \
  if (!id_arg (raw1_, n1, &v1, error) || !id_arg (raw2_, n2, &v2, error))     \
    return FALSE

#define ID1(in, n1, v1)                                                       \
  guint64 raw1_;                                                              \
  AsmId v1;                                                                   \
  g_variant_get (in, "(t)", &raw1_);                                          \
  if (!id_arg (raw1_, n1, &v1, error))                                        \
    return FALSE

/* ------------------------------------------------------------------ */
/* Methods that change the fabric                                       */

static gboolean
h_add_switch (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  g_autoptr (GVariant) options = NULL;
  const char *name;
  AsmSwitchSpec spec = { .table_capacity = 64, .n_ports = 8 };
  OptionSpec specs[] = {
    { "latency_ns", "u", &spec.latency_ns },
    { "table_capacity", "u", &spec.table_capacity },
    { "ports", "u", &spec.n_ports },
    { "pinned", "b", &spec.pinned },
  };
  AsmId id;

  g_variant_get (in, "(&st@a{sv})", &name, &spec.bandwidth, &options);
  spec.name = name;
  if (!read_options (options, specs, G_N_ELEMENTS (specs), error) ||
      !asm_fabric_add_switch (d->fabric, &spec, &id, error))
    return FALSE;
  *out = g_variant_new ("(t)", (guint64) id);
  return TRUE;
}

static gboolean
h_add_window (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  guint64 raw, first, last;
  AsmId sw;

  g_variant_get (in, "(ttt)", &raw, &first, &last);
  return id_arg (raw, "switch", &sw, error) &&
         asm_fabric_add_window (d->fabric, sw, first, last, error);
}

static gboolean
h_add_device (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  const char *name, *kind_name;
  guint64 bar, raw;
  guint32 port;
  AsmId sw, id;
  AsmDeviceKind kind;

  g_variant_get (in, "(&s&sttu)", &name, &kind_name, &bar, &raw, &port);
  if (strcmp (kind_name, "endpoint") == 0)
    kind = ASM_DEVICE_ENDPOINT;
  else if (strcmp (kind_name, "pf") == 0)
    kind = ASM_DEVICE_PF;
  else
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "device kind '%s' is not \"endpoint\" or \"pf\"",
                   kind_name);
      return FALSE;
    }
  if (!id_arg (raw, "switch", &sw, error) ||
      !asm_fabric_add_device (d->fabric, name, kind, bar, sw, port, &id,
                              error))
    return FALSE;
  *out = g_variant_new ("(t)", (guint64) id);
  return TRUE;
}

static gboolean
h_set_sriov (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  guint64 raw, vf_bar;
  guint32 max_vfs;
  AsmId pf;

  g_variant_get (in, "(tut)", &raw, &max_vfs, &vf_bar);
  return id_arg (raw, "device", &pf, error) &&
         asm_fabric_set_sriov (d->fabric, pf, max_vfs, vf_bar, error);
}

static gboolean
h_create_vf (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  AsmId vf;
  ID1 (in, "device", pf);

  if (!asm_fabric_create_vf (d->fabric, pf, &vf, error))
    return FALSE;
  *out = g_variant_new ("(t)", (guint64) vf);
  return TRUE;
}

static gboolean
h_add_workload (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  const char *name;
  AsmId id;

  g_variant_get (in, "(&s)", &name);
  if (!asm_fabric_add_workload (d->fabric, name, &id, error))
    return FALSE;
  *out = g_variant_new ("(t)", (guint64) id);
  return TRUE;
}

static gboolean
h_request_partition (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  g_autoptr (GVariant) options = NULL;
  AsmPartitionRequest req = { 0 };
  guint64 raw, preferred = 0;
  OptionSpec specs[] = {
    { "align", "t", &req.align },
    { "min_bandwidth", "t", &req.min_bandwidth },
    { "max_latency_ns", "u", &req.max_latency_ns },
    { "preferred_switch", "t", &preferred },
    { "bandwidth_demand", "t", &req.bandwidth_demand },
  };
  AsmId workload, partition;
  guint64 virt_first;

  g_variant_get (in, "(tt@a{sv})", &raw, &req.size, &options);
  if (!id_arg (raw, "workload", &workload, error) ||
      !read_options (options, specs, G_N_ELEMENTS (specs), error) ||
      !id_arg (preferred, "switch", &req.preferred_switch, error) ||
      !asm_fabric_request_partition (d->fabric, workload, &req, &partition,
                                     &virt_first, error))
    return FALSE;
  *out = g_variant_new ("(tt)", (guint64) partition, virt_first);
  return TRUE;
}

static gboolean
h_map_device (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  guint64 offset;
  ID2 (in, "(tt)", "partition", partition, "device", device);

  if (!asm_fabric_map_device (d->fabric, partition, device, &offset, error))
    return FALSE;
  *out = g_variant_new ("(t)", offset);
  return TRUE;
}

static gboolean
h_unmap_device (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  ID2 (in, "(tt)", "partition", partition, "device", device);
  return asm_fabric_unmap_device (d->fabric, partition, device, error);
}

static gboolean
h_migrate_partition (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  ID2 (in, "(tt)", "partition", partition, "switch", sw);
  return asm_fabric_migrate_partition (d->fabric, partition, sw, error);
}

static gboolean
h_grow_partition (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  guint64 raw, size;
  AsmId partition;

  g_variant_get (in, "(tt)", &raw, &size);
  return id_arg (raw, "partition", &partition, error) &&
         asm_fabric_grow_partition (d->fabric, partition, size, error);
}

static gboolean
h_shrink_partition (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  guint64 raw, size;
  AsmId partition;

  g_variant_get (in, "(tt)", &raw, &size);
  return id_arg (raw, "partition", &partition, error) &&
         asm_fabric_shrink_partition (d->fabric, partition, size, error);
}

static gboolean
h_release_partition (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  ID1 (in, "partition", partition);
  return asm_fabric_release_partition (d->fabric, partition, error);
}

static gboolean
h_transfer_vf (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  AsmId new_vf;
  ID2 (in, "(tt)", "device", vf, "device", pf);

  if (!asm_fabric_transfer_vf (d->fabric, vf, pf, &new_vf, error))
    return FALSE;
  *out = g_variant_new ("(t)", (guint64) new_vf);
  return TRUE;
}

static gboolean
h_destroy_vf (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  ID1 (in, "device", vf);
  return asm_fabric_destroy_vf (d->fabric, vf, error);
}

static gboolean
h_remove_device (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  ID1 (in, "device", device);
  return asm_fabric_remove_device (d->fabric, device, error);
}

static gboolean
h_drain_switch (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  ID1 (in, "switch", sw);
  return asm_fabric_drain_switch (d->fabric, sw, error);
}

static gboolean
h_remove_switch (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  ID1 (in, "switch", sw);
  return asm_fabric_remove_switch (d->fabric, sw, error);
}

static gboolean
h_remove_workload (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  ID1 (in, "workload", workload);
  return asm_fabric_remove_workload (d->fabric, workload, error);
}

static gboolean
h_migrate_workload (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  ID2 (in, "(tt)", "workload", workload, "switch", sw);
  return asm_fabric_migrate_workload (d->fabric, workload, sw, error);
}

static gboolean
h_record_usage (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  guint64 raw, bytes;
  gdouble time;
  AsmId workload;

  g_variant_get (in, "(tdt)", &raw, &time, &bytes);
  return id_arg (raw, "workload", &workload, error) &&
         asm_fabric_record_usage (d->fabric, workload, time, bytes, error);
}

static gboolean
h_rebalance (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  AsmRebalanceReport report;
  GVariantDict dict;
  gdouble horizon;

  g_variant_get (in, "(d)", &horizon);
  if (!asm_fabric_rebalance (d->fabric, horizon, &report, error))
    return FALSE;
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "examined", "u", report.n_examined);
  g_variant_dict_insert (&dict, "grown", "u", report.n_grown);
  g_variant_dict_insert (&dict, "migrated", "u", report.n_migrated);
  g_variant_dict_insert (&dict, "failed", "u", report.n_failed);
  g_variant_dict_insert (&dict, "shrunk", "u", report.n_shrunk);
  *out = g_variant_new ("(@a{sv})", g_variant_dict_end (&dict));
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Readers                                                              */

static gboolean
h_translate (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  guint64 raw, virt;
  AsmId workload;
  AsmTranslation t;
  GVariantDict dict;

  g_variant_get (in, "(tt)", &raw, &virt);
  if (!id_arg (raw, "workload", &workload, error) ||
      !asm_fabric_translate (d->fabric, workload, virt, &t, error))
    return FALSE;
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "switch", "t", (guint64) t.switch_id);
  g_variant_dict_insert (&dict, "partition", "t", (guint64) t.partition);
  g_variant_dict_insert (&dict, "physical", "t", t.physical);
  g_variant_dict_insert (&dict, "device", "t", (guint64) t.device);
  g_variant_dict_insert (&dict, "device_offset", "t", t.device_offset);
  g_variant_dict_insert (&dict, "generation", "u", t.generation);
  g_variant_dict_insert (&dict, "held", "b", t.held);
  if (d->etcd != NULL)
    g_variant_dict_insert (&dict, "revision", "t",
                           (guint64) (d->leading
                                          ? asmd_etcd_get_revision (d->etcd)
                                          : d->revision));
  *out = g_variant_new ("(@a{sv})", g_variant_dict_end (&dict));
  return TRUE;
}

static gboolean
h_predict (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  guint64 raw, bytes;
  gdouble horizon;
  AsmId workload;

  g_variant_get (in, "(td)", &raw, &horizon);
  if (!id_arg (raw, "workload", &workload, error) ||
      !asm_fabric_predict (d->fabric, workload, horizon, &bytes, error))
    return FALSE;
  *out = g_variant_new ("(t)", bytes);
  return TRUE;
}

/* The one object of @what named @name: a name two devices or two
 * workloads share (the library allows it) is refused as ambiguous rather
 * than answered with one of them. */
static gboolean
find_named (Asmd *d, AsmFabricObjects what, const char *kind,
            const char *name, AsmId *out, GError **error)
{
  g_autoptr (GArray) ids = asm_fabric_list (d->fabric, what);
  g_autoptr (GString) all = g_string_new (NULL);
  guint n = 0;

  for (guint i = 0; i < ids->len; i++)
    {
      AsmId id = g_array_index (ids, AsmId, i);
      AsmDeviceInfo info;
      const char *its = NULL;
      if (what == ASM_FABRIC_DEVICES)
        its = asm_fabric_get_device_info (d->fabric, id, &info) ? info.name
                                                                 : NULL;
      else
        its = asm_fabric_get_workload_name (d->fabric, id);
      if (g_strcmp0 (its, name) == 0)
        {
          g_string_append_printf (all, "%s%u", n ? ", " : "", id);
          *out = id;
          n++;
        }
    }
  if (n == 0)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                   "no %s is named '%s'", kind, name);
      return FALSE;
    }
  if (n > 1)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%u %ss are named '%s' (ids %s): name one by its id", n,
                   kind, name, all->str);
      return FALSE;
    }
  return TRUE;
}

static gboolean
h_resolve (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  const char *kind, *name;
  AsmId id = ASM_ID_NONE;

  g_variant_get (in, "(&s&s)", &kind, &name);
  if (strcmp (kind, "switch") == 0)
    {
      /* switch names are unique */
      if (!asm_fabric_find_switch (d->fabric, name, &id))
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                       "no switch is named '%s'", name);
          return FALSE;
        }
    }
  else if (strcmp (kind, "device") == 0 || strcmp (kind, "workload") == 0)
    {
      if (!find_named (d, kind[0] == 'd' ? ASM_FABRIC_DEVICES
                                         : ASM_FABRIC_WORKLOADS,
                       kind, name, &id, error))
        return FALSE;
    }
  else
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "kind '%s' is not \"switch\", \"device\" or \"workload\"",
                   kind);
      return FALSE;
    }
  *out = g_variant_new ("(t)", (guint64) id);
  return TRUE;
}

static gboolean
h_list (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  static const char *const kinds[] = {
    [ASM_FABRIC_SWITCHES] = "switches",
    [ASM_FABRIC_DEVICES] = "devices",
    [ASM_FABRIC_WORKLOADS] = "workloads",
    [ASM_FABRIC_PARTITIONS] = "partitions",
  };
  g_autoptr (GArray) ids = NULL;
  GVariantBuilder b;
  const char *what;
  guint k;

  g_variant_get (in, "(&s)", &what);
  for (k = 0; k < G_N_ELEMENTS (kinds) && strcmp (kinds[k], what) != 0; k++)
    ;
  if (k == G_N_ELEMENTS (kinds))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "'%s' is not \"switches\", \"devices\", \"workloads\" or "
                   "\"partitions\"", what);
      return FALSE;
    }
  ids = asm_fabric_list (d->fabric, (AsmFabricObjects) k);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("at"));
  for (guint i = 0; i < ids->len; i++)
    g_variant_builder_add (&b, "t", (guint64) g_array_index (ids, AsmId, i));
  *out = g_variant_new ("(at)", &b);
  return TRUE;
}

static gboolean
not_found (GError **error, const char *what, AsmId id)
{
  g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND, "%s %u does not exist",
               what, id);
  return FALSE;
}

static gboolean
h_get_switch (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  AsmSwitchInfo s;
  GVariantDict dict;
  ID1 (in, "switch", sw);

  if (!asm_fabric_get_switch_info (d->fabric, sw, &s))
    return not_found (error, "switch", sw);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "name", "s", s.name);
  g_variant_dict_insert (&dict, "bandwidth", "t", s.bandwidth);
  g_variant_dict_insert (&dict, "bandwidth_used", "t", s.bandwidth_used);
  g_variant_dict_insert (&dict, "window_bytes", "t", s.window_bytes);
  g_variant_dict_insert (&dict, "free_bytes", "t", s.free_bytes);
  g_variant_dict_insert (&dict, "latency_ns", "u", s.latency_ns);
  g_variant_dict_insert (&dict, "table_capacity", "u", s.table_capacity);
  g_variant_dict_insert (&dict, "table_used", "u", s.table_used);
  g_variant_dict_insert (&dict, "ports", "u", s.n_ports);
  g_variant_dict_insert (&dict, "ports_used", "u", s.n_ports_used);
  g_variant_dict_insert (&dict, "windows", "u", s.n_windows);
  g_variant_dict_insert (&dict, "partitions", "u", s.n_partitions);
  g_variant_dict_insert (&dict, "pinned", "b", s.pinned);
  g_variant_dict_insert (&dict, "draining", "b", s.draining);
  *out = g_variant_new ("(@a{sv})", g_variant_dict_end (&dict));
  return TRUE;
}

static gboolean
h_get_partition (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  AsmPartitionInfo p;
  GVariantDict dict;
  ID1 (in, "partition", partition);

  if (!asm_fabric_get_partition_info (d->fabric, partition, &p))
    return not_found (error, "partition", partition);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "workload", "t", (guint64) p.workload);
  g_variant_dict_insert (&dict, "switch", "t", (guint64) p.switch_id);
  g_variant_dict_insert (&dict, "virt_first", "t", p.virt_first);
  g_variant_dict_insert (&dict, "phys_first", "t", p.phys_first);
  g_variant_dict_insert (&dict, "size", "t", p.size);
  g_variant_dict_insert (&dict, "bandwidth_demand", "t", p.bandwidth_demand);
  g_variant_dict_insert (&dict, "generation", "u", p.generation);
  g_variant_dict_insert (&dict, "devices", "u", p.n_devices);
  *out = g_variant_new ("(@a{sv})", g_variant_dict_end (&dict));
  return TRUE;
}

static gboolean
h_get_device (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  static const char *const kinds[] = {
    [ASM_DEVICE_ENDPOINT] = "endpoint",
    [ASM_DEVICE_PF] = "pf",
    [ASM_DEVICE_VF] = "vf",
  };
  AsmDeviceInfo v;
  GVariantDict dict;
  ID1 (in, "device", device);

  if (!asm_fabric_get_device_info (d->fabric, device, &v))
    return not_found (error, "device", device);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "name", "s", v.name);
  g_variant_dict_insert (&dict, "kind", "s", kinds[v.kind]);
  g_variant_dict_insert (&dict, "switch", "t", (guint64) v.switch_id);
  g_variant_dict_insert (&dict, "bar_size", "t", v.bar_size);
  g_variant_dict_insert (&dict, "pf", "t", (guint64) v.pf);
  g_variant_dict_insert (&dict, "vf_bar_size", "t", v.vf_bar_size);
  g_variant_dict_insert (&dict, "partition", "t", (guint64) v.partition);
  g_variant_dict_insert (&dict, "partition_offset", "t", v.partition_offset);
  g_variant_dict_insert (&dict, "port", "u", v.port);
  g_variant_dict_insert (&dict, "vf_index", "u", v.vf_index);
  g_variant_dict_insert (&dict, "max_vfs", "u", v.max_vfs);
  *out = g_variant_new ("(@a{sv})", g_variant_dict_end (&dict));
  return TRUE;
}

static gboolean
h_get_workload (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  g_autoptr (GArray) ids = NULL;
  GVariantBuilder parts;
  GVariantDict dict;
  const char *name;
  ID1 (in, "workload", workload);

  name = asm_fabric_get_workload_name (d->fabric, workload);
  if (name == NULL)
    return not_found (error, "workload", workload);
  ids = asm_fabric_list (d->fabric, ASM_FABRIC_PARTITIONS);
  g_variant_builder_init (&parts, G_VARIANT_TYPE ("at"));
  for (guint i = 0; i < ids->len; i++)
    {
      AsmPartitionInfo p;
      if (asm_fabric_get_partition_info (d->fabric,
                                         g_array_index (ids, AsmId, i), &p) &&
          p.workload == workload)
        g_variant_builder_add (&parts, "t", (guint64) p.id);
    }
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "name", "s", name);
  g_variant_dict_insert_value (&dict, "partitions",
                               g_variant_builder_end (&parts));
  *out = g_variant_new ("(@a{sv})", g_variant_dict_end (&dict));
  return TRUE;
}

static gboolean
h_save (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  g_autofree char *json = asm_fabric_save (d->fabric, NULL);

  *out = g_variant_new ("(s)", json);
  return TRUE;
}

static gboolean
h_check (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  if (!asm_fabric_check (d->fabric, error))
    return FALSE;
  return d->backend == NULL || !asm_sim_is_sim (d->backend) ||
         asm_sim_verify (d->backend, d->fabric, error);
}

/* Filled in by the dispatcher: whether the caller may write. */
static gboolean
h_can_write (Asmd *d, GVariant *in, GVariant **out, GError **error)
{
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                             */

static const struct {
  const char *name;
  gboolean changes;
  Handler handler;
} methods[] = {
  { "AddSwitch", TRUE, h_add_switch },
  { "AddWindow", TRUE, h_add_window },
  { "AddDevice", TRUE, h_add_device },
  { "SetSriov", TRUE, h_set_sriov },
  { "CreateVf", TRUE, h_create_vf },
  { "AddWorkload", TRUE, h_add_workload },
  { "RequestPartition", TRUE, h_request_partition },
  { "MapDevice", TRUE, h_map_device },
  { "UnmapDevice", TRUE, h_unmap_device },
  { "MigratePartition", TRUE, h_migrate_partition },
  { "GrowPartition", TRUE, h_grow_partition },
  { "ShrinkPartition", TRUE, h_shrink_partition },
  { "ReleasePartition", TRUE, h_release_partition },
  { "TransferVf", TRUE, h_transfer_vf },
  { "DestroyVf", TRUE, h_destroy_vf },
  { "RemoveDevice", TRUE, h_remove_device },
  { "DrainSwitch", TRUE, h_drain_switch },
  { "RemoveSwitch", TRUE, h_remove_switch },
  { "RemoveWorkload", TRUE, h_remove_workload },
  { "MigrateWorkload", TRUE, h_migrate_workload },
  { "RecordUsage", TRUE, h_record_usage },
  { "Rebalance", TRUE, h_rebalance },
  { "Translate", FALSE, h_translate },
  { "Predict", FALSE, h_predict },
  { "Resolve", FALSE, h_resolve },
  { "List", FALSE, h_list },
  { "GetSwitch", FALSE, h_get_switch },
  { "GetPartition", FALSE, h_get_partition },
  { "GetDevice", FALSE, h_get_device },
  { "GetWorkload", FALSE, h_get_workload },
  { "Save", FALSE, h_save },
  { "Check", FALSE, h_check },
  { "CanWrite", FALSE, h_can_write },
};

/* Writes a snapshot and starts the journal afresh after it. */
gboolean
asmd_checkpoint (Asmd *d, GError **error)
{
  if (!asm_fabric_checkpoint (d->fabric, d->snapshot_path, error))
    return FALSE;
  d->since_checkpoint = 0;
  return TRUE;
}

static void
on_method_call (GDBusConnection *bus, const char *sender, const char *path,
                const char *iface, const char *method, GVariant *params,
                GDBusMethodInvocation *invocation, gpointer data)
{
  Asmd *d = data;
  GVariant *out = NULL;
  g_autoptr (GError) error = NULL;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (methods); i++)
    if (strcmp (methods[i].name, method) == 0)
      break;
  if (i == G_N_ELEMENTS (methods))
    {
      /* GDBus checks calls against the introspection data first */
      g_dbus_method_invocation_return_error (
          invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
          "no method %s", method);
      return;
    }
  if (methods[i].handler == h_can_write)
    {
      gboolean allowed = sender_may_write (d, sender, &error);
      if (!allowed && !g_error_matches (error, G_DBUS_ERROR,
                                        G_DBUS_ERROR_ACCESS_DENIED))
        {
          g_dbus_method_invocation_return_gerror (invocation, error);
          return;
        }
      g_dbus_method_invocation_return_value (invocation,
                                             g_variant_new ("(b)", allowed));
      return;
    }
  if (methods[i].changes && d->etcd != NULL && !d->leading)
    {
      /* a follower reads; changes go to the leader, which it names */
      g_autofree char *why =
          d->leader_id != NULL
              ? g_strdup_printf ("member %s follows; member %s leads: send "
                                 "changes to it", d->member_id, d->leader_id)
              : g_strdup_printf ("member %s follows and no member leads "
                                 "now: try again in a moment",
                                 d->member_id);
      g_dbus_method_invocation_return_dbus_error (
          invocation, ASMD_INTERFACE ".Error.NotLeader", why);
      return;
    }
  if (d->fabric == NULL)
    {
      g_dbus_method_invocation_return_error (
          invocation, ASM_ERROR, ASM_ERROR_FAILED,
          "member %s has no fabric yet: etcd holds none, or it is still "
          "being read", d->member_id ? d->member_id : "");
      return;
    }
  if ((methods[i].changes && !sender_may_write (d, sender, &error)) ||
      !methods[i].handler (d, params, &out, &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      /* another member took the journal over: this one serves no more */
      if (g_error_matches (error, ASM_ERROR, ASM_ERROR_FENCED))
        asmd_step_down (d, error);
      return;
    }
  if (methods[i].changes)
    {
      d->n_operations++;
      if (++d->since_checkpoint >= d->checkpoint_every &&
          !asmd_checkpoint (d, &error))
        {
          /* the operation is committed in the journal; the snapshot only
           * shortens the journal, so a failed one is reported, not fatal,
           * unless another member took the journal over */
          g_printerr ("asmd: checkpoint: %s\n", error->message);
          if (g_error_matches (error, ASM_ERROR, ASM_ERROR_FENCED))
            asmd_step_down (d, error);
          g_clear_error (&error);
        }
    }
  g_dbus_method_invocation_return_value (invocation, out);
}

static GVariant *
on_get_property (GDBusConnection *bus, const char *sender, const char *path,
                 const char *iface, const char *property, GError **error,
                 gpointer data)
{
  Asmd *d = data;

  if (strcmp (property, "Role") == 0)
    return g_variant_new_string (d->etcd == NULL ? "sole"
                                 : d->leading    ? "leader"
                                                 : "follower");
  if (strcmp (property, "Leader") == 0)
    return g_variant_new_string (d->leader_id ? d->leader_id : "");
  if (strcmp (property, "Member") == 0)
    return g_variant_new_string (d->member_id ? d->member_id : "");
  if (strcmp (property, "Revision") == 0)
    return g_variant_new_uint64 (
        d->etcd == NULL ? 0
        : d->leading    ? (guint64) asmd_etcd_get_revision (d->etcd)
                        : (guint64) d->revision);
  if (d->fabric == NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                   "no fabric yet: etcd holds none, or it is being read");
      return NULL;
    }
  if (strcmp (property, "Name") == 0)
    return g_variant_new_string (asm_fabric_get_name (d->fabric));
  if (strcmp (property, "Granule") == 0)
    return g_variant_new_uint64 (asm_fabric_get_granule (d->fabric));
  if (strcmp (property, "Backend") == 0)
    return g_variant_new_string (d->backend_name);
  if (strcmp (property, "Operations") == 0)
    return g_variant_new_uint64 (d->n_operations);
  g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY,
               "no property %s", property);
  return NULL;
}

/* The signal of each AsmFabricEventKind, in its order. */
static const char *const event_signals[] = {
  [ASM_EVENT_SWITCH_ADDED] = "SwitchAdded",
  [ASM_EVENT_WINDOW_GROWN] = "WindowGrown",
  [ASM_EVENT_WINDOW_SHRUNK] = "WindowShrunk",
  [ASM_EVENT_PARTITION_PLACED] = "PartitionPlaced",
  [ASM_EVENT_PARTITION_GROWN] = "PartitionGrown",
  [ASM_EVENT_PARTITION_MIGRATED] = "PartitionMigrated",
  [ASM_EVENT_PARTITION_RELEASED] = "PartitionReleased",
  [ASM_EVENT_DEVICE_MAPPED] = "DeviceMapped",
  [ASM_EVENT_VF_TRANSFERRED] = "VfTransferred",
  [ASM_EVENT_ROLLED_BACK] = "RolledBack",
  [ASM_EVENT_DEVICE_UNMAPPED] = "DeviceUnmapped",
  [ASM_EVENT_PARTITION_SHRUNK] = "PartitionShrunk",
  [ASM_EVENT_VF_DESTROYED] = "VfDestroyed",
  [ASM_EVENT_DEVICE_REMOVED] = "DeviceRemoved",
  [ASM_EVENT_SWITCH_DRAINED] = "SwitchDrained",
  [ASM_EVENT_SWITCH_REMOVED] = "SwitchRemoved",
  [ASM_EVENT_WORKLOAD_REMOVED] = "WorkloadRemoved",
};
G_STATIC_ASSERT (G_N_ELEMENTS (event_signals) ==
                 ASM_EVENT_WORKLOAD_REMOVED + 1);

void
asmd_emit_event (Asmd *d, const AsmFabricEvent *e)
{
  g_autoptr (GError) error = NULL;

  if (d->bus == NULL || (guint) e->kind >= G_N_ELEMENTS (event_signals))
    return;
  if (!g_dbus_connection_emit_signal (
          d->bus, NULL, ASMD_OBJECT_PATH, ASMD_INTERFACE,
          event_signals[e->kind],
          g_variant_new ("(ttttttts)", (guint64) e->switch_id,
                         (guint64) e->old_switch_id, (guint64) e->partition,
                         (guint64) e->device, (guint64) e->old_device,
                         e->range.first, e->range.last,
                         e->message ? e->message : ""),
          &error))
    g_printerr ("asmd: signal %s: %s\n", event_signals[e->kind],
                error->message);
}

/* org.asm.Fabric1.Testing: the simulator's fault injection, for tests of
 * rollbacks through the daemon (served with --testing only). */
static void
on_testing_call (GDBusConnection *bus, const char *sender, const char *path,
                 const char *iface, const char *method, GVariant *params,
                 GDBusMethodInvocation *invocation, gpointer data)
{
  Asmd *d = data;
  g_autoptr (GError) error = NULL;

  if (!sender_may_write (d, sender, &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  if (strcmp (method, "SimFailKind") == 0)
    {
      g_autoptr (GEnumClass) ops = g_type_class_ref (ASM_TYPE_SIM_OP);
      const char *kind;
      gboolean fail;
      GEnumValue *v;

      g_variant_get (params, "(&sb)", &kind, &fail);
      v = g_enum_get_value_by_nick (ops, kind);
      if (v == NULL)
        {
          g_dbus_method_invocation_return_error (
              invocation, ASM_ERROR, ASM_ERROR_INVALID,
              "'%s' is not a simulator call kind (any, windows, xlat, bind, "
              "unbind, hold, vf, flush, root, usage)", kind);
          return;
        }
      asm_sim_fail_kind (d->backend, (AsmSimOp) v->value, fail);
    }
  else
    asm_sim_clear_faults (d->backend);
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static const GDBusInterfaceVTable testing_vtable = {
  .method_call = on_testing_call,
};

static const GDBusInterfaceVTable vtable = {
  .method_call = on_method_call,
  .get_property = on_get_property,
};

gboolean
asmd_service_register (Asmd *d, GError **error)
{
  g_autoptr (GBytes) xml = NULL;
  g_autoptr (GDBusNodeInfo) node = NULL;
  GDBusInterfaceInfo *iface;

  asmd_register_errors ();
  xml = g_resources_lookup_data ("/org/asm/asmd/org.asm.Fabric1.xml",
                                 G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (xml == NULL)
    return FALSE;
  node = g_dbus_node_info_new_for_xml (g_bytes_get_data (xml, NULL), error);
  if (node == NULL)
    return FALSE;
  iface = g_dbus_node_info_lookup_interface (node, ASMD_INTERFACE);
  /* every method of the XML has a handler, and no handler is unlisted */
  for (guint i = 0; iface->methods[i] != NULL; i++)
    {
      guint j;
      for (j = 0; j < G_N_ELEMENTS (methods); j++)
        if (strcmp (methods[j].name, iface->methods[i]->name) == 0)
          break;
      if (j == G_N_ELEMENTS (methods))
        g_error ("asmd bug: no handler for %s", iface->methods[i]->name);
    }
  for (guint j = 0; j < G_N_ELEMENTS (methods); j++)
    if (g_dbus_interface_info_lookup_method (iface, methods[j].name) == NULL)
      g_error ("asmd bug: %s is not in the interface", methods[j].name);
  d->sender_rights = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            NULL);
  g_dbus_connection_signal_subscribe (
      d->bus, "org.freedesktop.DBus", "org.freedesktop.DBus",
      "NameOwnerChanged", "/org/freedesktop/DBus", NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_name_owner_changed, d, NULL);
  d->registration_id = g_dbus_connection_register_object (
      d->bus, ASMD_OBJECT_PATH, iface, &vtable, d, NULL, error);
  if (d->registration_id == 0)
    return FALSE;
  if (d->testing)
    {
      d->testing_registration_id = g_dbus_connection_register_object (
          d->bus, ASMD_OBJECT_PATH,
          g_dbus_node_info_lookup_interface (node, ASMD_INTERFACE ".Testing"),
          &testing_vtable, d, NULL, error);
      if (d->testing_registration_id == 0)
        return FALSE;
    }
  return TRUE;
}

void
asmd_service_unregister (Asmd *d)
{
  if (d->registration_id != 0)
    g_dbus_connection_unregister_object (d->bus, d->registration_id);
  if (d->testing_registration_id != 0)
    g_dbus_connection_unregister_object (d->bus, d->testing_registration_id);
  d->registration_id = d->testing_registration_id = 0;
  g_clear_pointer (&d->sender_rights, g_hash_table_unref);
}
