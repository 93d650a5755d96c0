/* asmctl-bus.c: `asmctl --bus BUS fabric ...`, a client of asmd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * asmd serves one fabric as org.asm.Fabric1 (examples/asmd); this is its
 * command-line client.  One subcommand per method of the interface, one
 * line of `commands[]` each: its name (asmctl script's where the script
 * has the same operation; the script's other spelling is an alias), its
 * arguments, its options and a handler.  The driver does the rest the
 * same way for every subcommand:
 *
 *   1. the command line is read in full before the bus is touched: a
 *      wrong word count, a number that does not parse or is out of range
 *      is exit 2 (ASMCTL_EXIT_USAGE), whether or not a daemon runs;
 *   2. names become ids through the daemon's Resolve (switches, devices,
 *      workloads: a name first, then a number as an id; partitions have
 *      only ids), so a name means what the daemon means by it now;
 *   3. one method call; a refusal arrives as org.asm.Fabric1.Error.<Code>,
 *      mapped back to ASM_ERROR by asmd_register_errors(), and is printed
 *      as "asmctl: MESSAGE (CODE)", exit 1 (ASMCTL_EXIT_FAILED); no daemon
 *      on the bus is exit 1 with a message that says so;
 *   4. the result, read back through the Get* methods where a name reads
 *      better than an id, is printed as text or, with --json, as one JSON
 *      object (watch: one object per line).
 *
 * Every value the daemon sends is read with a type check (a reply of the
 * wrong signature is an error, a dictionary entry of the wrong type is
 * left out), so a misbehaving peer makes asmctl fail, never crash.
 *
 * JSON: ids and 32-bit counts are numbers; every other 64-bit quantity
 * (addresses, sizes, bandwidths) is a "0x..." string, as asm_fabric_save()
 * and asmctl's other --json outputs write them.
 */
#include "asmctl-bus.h"

#include "asmctl-dbus.h"

#include <math.h>
#include <string.h>

/* a fabric operation on the QEMU backend can take a while; a daemon that
 * does not answer in ten minutes is reported, not waited on forever */
#define CALL_TIMEOUT_MS (10 * 60 * 1000)

/* errors of the command line (exit 2), as opposed to the daemon's */
#define USAGE_ERROR (usage_error_quark ())
/* clang-format off */
static G_DEFINE_QUARK (asmctl-bus-usage-error-quark, usage_error)
/* clang-format on */

static AsmctlBusOptions opts;

/* ------------------------------------------------------------------ */
/* Reading the command line                                             */

gboolean G_GNUC_PRINTF (2, 3)
asmctl_bus_usage_fail (GError **error, const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  g_propagate_error (error, g_error_new_valist (USAGE_ERROR, 0, format, ap));
  va_end (ap);
  return FALSE;
}

/* @text as a number of at most @max, or a usage error naming @what */
gboolean
asmctl_bus_parse_number (const char *what, const char *text, guint64 max,
                         guint64 *out, GError **error)
{
  g_autoptr (GError) local = NULL;

  if (!asmctl_parse_u64 (text, out, &local))
    return asmctl_bus_usage_fail (error, "%s: %s", what, local->message);
  if (*out > max)
    return asmctl_bus_usage_fail (error,
                                  "%s %s is out of range 0..%" G_GUINT64_FORMAT,
                                  what, text, max);
  return TRUE;
}

gboolean
asmctl_bus_parse_u32 (const char *what, const char *text, guint32 *out,
                      GError **error)
{
  guint64 v;

  if (!asmctl_bus_parse_number (what, text, G_MAXUINT32, &v, error))
    return FALSE;
  *out = (guint32) v;
  return TRUE;
}

/* a time or a horizon: a finite decimal number */
gboolean
asmctl_bus_parse_double (const char *what, const char *text, double *out,
                         GError **error)
{
  char *end = NULL;

  *out = g_ascii_strtod (text, &end);
  if (text[0] == '\0' || g_ascii_isspace (text[0]) || end == NULL ||
      *end != '\0' || !isfinite (*out))
    return asmctl_bus_usage_fail (error, "%s '%s' is not a finite number", what,
                                  text);
  return TRUE;
}

/* an id: decimal or 0x-hex digits, no unit suffix */
static gboolean
parse_id (const char *text, guint64 *out)
{
  gsize n = strlen (text);

  return n > 0 && g_ascii_isxdigit (text[n - 1]) &&
         asmctl_parse_u64 (text, out, NULL);
}

gboolean
asmctl_bus_parse_partition (const char *text, guint64 *out, GError **error)
{
  if (!parse_id (text, out))
    return asmctl_bus_usage_fail (error,
                                  "partition '%s' is not an id (partitions "
                                  "are named by number; 'status' lists them)",
                                  text);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* The bus                                                              */

char *
asmctl_bus_label (const char *bus_arg)
{
  if (strcmp (bus_arg, "session") == 0 || strcmp (bus_arg, "system") == 0)
    return g_strdup_printf ("the %s bus", bus_arg);
  return g_strdup_printf ("the bus at %s", bus_arg);
}

gboolean
asmctl_bus_connect (AsmctlBus *c, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *label = NULL;

  if (c->bus != NULL)
    return TRUE;
  if (strcmp (c->bus_arg, "session") == 0)
    c->bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &local);
  else if (strcmp (c->bus_arg, "system") == 0)
    c->bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &local);
  else
    c->bus = g_dbus_connection_new_for_address_sync (
        c->bus_arg,
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
            G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
        NULL, NULL, &local);
  if (c->bus == NULL)
    {
      label = asmctl_bus_label (c->bus_arg);
      g_dbus_error_strip_remote_error (local);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                   "cannot connect to %s: %s", label, local->message);
      return FALSE;
    }
  /* a closed bus is an error this program reports, not a SIGTERM */
  g_dbus_connection_set_exit_on_close (c->bus, FALSE);
  return TRUE;
}

/* One synchronous call of @iface.@method on the daemon; the reply is
 * checked against @reply_type.  Returns: (transfer full) the reply. */
static GVariant *
call_iface (AsmctlBus *c, const char *iface, const char *method, GVariant *args,
            const char *reply_type, GError **error)
{
  if (!asmctl_bus_connect (c, error))
    {
      if (args != NULL)
        g_variant_unref (g_variant_ref_sink (args));
      return NULL;
    }
  return g_dbus_connection_call_sync (c->bus, c->dest, ASMD_OBJECT_PATH, iface,
                                      method, args, G_VARIANT_TYPE (reply_type),
                                      G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS,
                                      NULL, error);
}

GVariant *
asmctl_bus_call (AsmctlBus *c, const char *method, GVariant *args,
                 const char *reply_type, GError **error)
{
  return call_iface (c, ASMD_INTERFACE, method, args, reply_type, error);
}

/* the interface's properties as an a{sv} */
GVariant *
asmctl_bus_get_properties (AsmctlBus *c, GError **error)
{
  g_autoptr (GVariant) r =
      call_iface (c, "org.freedesktop.DBus.Properties", "GetAll",
                  g_variant_new ("(s)", ASMD_INTERFACE), "(a{sv})", error);

  return r ? g_variant_get_child_value (r, 0) : NULL;
}

/* Get<What>(id) as an a{sv}, e.g. asmctl_bus_get_info (c, "Switch", 1, ...) */
GVariant *
asmctl_bus_get_info (AsmctlBus *c, const char *what, guint64 id, GError **error)
{
  g_autofree char *method = g_strconcat ("Get", what, NULL);
  g_autoptr (GVariant) r =
      asmctl_bus_call (c, method, g_variant_new ("(t)", id), "(a{sv})", error);

  return r ? g_variant_get_child_value (r, 0) : NULL;
}

GArray *
asmctl_bus_list_ids (AsmctlBus *c, const char *what, GError **error)
{
  g_autoptr (GVariant) r =
      asmctl_bus_call (c, "List", g_variant_new ("(s)", what), "(at)", error);
  g_autoptr (GVariant) ids = NULL;
  GArray *out;
  gsize n;
  const guint64 *v;

  if (r == NULL)
    return NULL;
  ids = g_variant_get_child_value (r, 0);
  v = g_variant_get_fixed_array (ids, &n, sizeof (guint64));
  out = g_array_sized_new (FALSE, FALSE, sizeof (guint64), (guint) n);
  g_array_append_vals (out, v, (guint) n);
  return out;
}

/* The id of the @kind ("switch", "device", "workload") that @text names:
 * a name the daemon knows first, else @text read as an id. */
gboolean
asmctl_bus_resolve (AsmctlBus *c, const char *kind, const char *text,
                    guint64 *id, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GVariant) r =
      asmctl_bus_call (c, "Resolve", g_variant_new ("(ss)", kind, text), "(t)",
                       &local);

  if (r != NULL)
    {
      g_variant_get (r, "(t)", id);
      return TRUE;
    }
  if (g_error_matches (local, ASM_ERROR, ASM_ERROR_NOT_FOUND) &&
      parse_id (text, id))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

/* The name of a switch, device or workload @id, for messages; "KIND ID"
 * when it has none or is gone. */
char *
asmctl_bus_name_of (AsmctlBus *c, const char *what, guint64 id)
{
  g_autoptr (GVariant) info =
      id ? asmctl_bus_get_info (c, what, id, NULL) : NULL;
  const char *name;

  if (info != NULL && g_variant_lookup (info, "name", "&s", &name))
    return g_strdup (name);
  return g_strdup_printf ("%c%s %" G_GUINT64_FORMAT, g_ascii_tolower (what[0]),
                          what + 1, id);
}

guint64
asmctl_bus_dict_t (GVariant *dict, const char *key)
{
  guint64 v = 0;

  if (dict != NULL)
    g_variant_lookup (dict, key, "t", &v);
  return v;
}

guint32
asmctl_bus_dict_u (GVariant *dict, const char *key)
{
  guint32 v = 0;

  if (dict != NULL)
    g_variant_lookup (dict, key, "u", &v);
  return v;
}

gboolean
asmctl_bus_dict_b (GVariant *dict, const char *key)
{
  gboolean v = FALSE;

  if (dict != NULL)
    g_variant_lookup (dict, key, "b", &v);
  return v;
}

const char *
asmctl_bus_dict_s (GVariant *dict, const char *key)
{
  const char *v = "";

  if (dict != NULL)
    g_variant_lookup (dict, key, "&s", &v);
  return v;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                 */

/* t-typed members that are ids (numbers in JSON); every other t is a
 * 64-bit quantity, written "0x..." */
gboolean
asmctl_bus_is_id_key (const char *key)
{
  static const char *const ids[] = { "id",        "switch", "old_switch",
                                     "partition", "device", "old_device",
                                     "workload",  "pf",     "vf",
                                     "new_vf" };

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    if (strcmp (ids[i], key) == 0)
      return TRUE;
  return FALSE;
}

void
asmctl_bus_json_hex (JsonBuilder *b, const char *key, guint64 v)
{
  g_autofree char *s = g_strdup_printf (HEX, v);

  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, s);
}

void
asmctl_bus_json_int (JsonBuilder *b, const char *key, guint64 v)
{
  json_builder_set_member_name (b, key);
  if (v <= G_MAXINT64)
    json_builder_add_int_value (b, (gint64) v);
  else
    json_builder_add_string_value (b, "out of range");
}

void
asmctl_bus_json_str (JsonBuilder *b, const char *key, const char *v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, v);
}

void
asmctl_bus_json_bool (JsonBuilder *b, const char *key, gboolean v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_boolean_value (b, v);
}

static gint
compare_keys (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* the keys of an a{sv}, sorted: the daemon's dictionaries have no order,
 * asmctl's output has one */
GPtrArray *
asmctl_bus_sorted_keys (GVariant *dict)
{
  GPtrArray *keys = g_ptr_array_new ();

  for (gsize i = 0; dict != NULL && i < g_variant_n_children (dict); i++)
    {
      const char *key;
      g_variant_get_child (dict, i, "{&sv}", &key, NULL);
      g_ptr_array_add (keys, (gpointer) key);
    }
  g_ptr_array_sort (keys, compare_keys);
  return keys;
}

/* the members of an a{sv} from the daemon, into the open object */
void
asmctl_bus_json_dict (JsonBuilder *b, GVariant *dict)
{
  g_autoptr (GPtrArray) keys = asmctl_bus_sorted_keys (dict);

  for (guint i = 0; i < keys->len; i++)
    {
      const char *key = g_ptr_array_index (keys, i);
      g_autoptr (GVariant) v = g_variant_lookup_value (dict, key, NULL);

      if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT64))
        {
          if (asmctl_bus_is_id_key (key))
            asmctl_bus_json_int (b, key, g_variant_get_uint64 (v));
          else
            asmctl_bus_json_hex (b, key, g_variant_get_uint64 (v));
        }
      else if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT32))
        asmctl_bus_json_int (b, key, g_variant_get_uint32 (v));
      else if (g_variant_is_of_type (v, G_VARIANT_TYPE_BOOLEAN))
        asmctl_bus_json_bool (b, key, g_variant_get_boolean (v));
      else if (g_variant_is_of_type (v, G_VARIANT_TYPE_STRING))
        asmctl_bus_json_str (b, key, g_variant_get_string (v, NULL));
      else if (g_variant_is_of_type (v, G_VARIANT_TYPE ("at")))
        {
          gsize n;
          const guint64 *a =
              g_variant_get_fixed_array (v, &n, sizeof (guint64));
          json_builder_set_member_name (b, key);
          json_builder_begin_array (b);
          for (gsize j = 0; j < n; j++)
            json_builder_add_int_value (b, (gint64) MIN (a[j], G_MAXINT64));
          json_builder_end_array (b);
        }
      else
        {
          g_autofree char *text = g_variant_print (v, TRUE);
          asmctl_bus_json_str (b, key, text);
        }
    }
}

void
asmctl_bus_json_print (JsonBuilder *b, gboolean pretty)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = NULL;

  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, pretty);
  text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
  fflush (stdout);
}

/* ------------------------------------------------------------------ */
/* The command table and the driver                                     */

/* option sets a subcommand takes besides --json and --dest */
enum {
  OPT_REQUEST = 1 << 0,
  OPT_SWITCH = 1 << 1,
  OPT_DEVICE = 1 << 2,
  OPT_WATCH = 1 << 3,
};

typedef struct {
  const char *name;
  const char *alias;   /* asmctl script's spelling, when it differs */
  const char *args;    /* the positional arguments, as --help shows them */
  guint n_args;        /* exactly this many */
  guint options;       /* OPT_* */
  gboolean raw;        /* prints its own output, --json or not */
  const char *summary; /* one line, for `fabric --help` */
  const char *help;    /* its own --help */
  AsmctlBusRunFunc run;
} Command;

static const Command commands[] = {
  { "status", NULL, "", 0, 0, FALSE,
    "the fabric: switches, devices, workloads, partitions",
    "Prints the fabric's name, backend and operation count, then a table of "
    "its\nswitches (as asmctl run prints them), its devices, workloads and "
    "partitions.\nReads only.",
    asmctl_bus_status },
  { "request", "partition", "WORKLOAD SIZE", 2, OPT_REQUEST, FALSE,
    "place a partition of SIZE bytes for WORKLOAD",
    "Places a partition of SIZE bytes (a multiple of the granule) for "
    "WORKLOAD on\nthe switch that fits best, within the options' limits, "
    "and prints it: its\nid, switch, virtual and physical ranges.",
    asmctl_bus_request },
  { "map", NULL, "PARTITION DEVICE", 2, 0, FALSE,
    "map a device's BAR into a partition",
    "Maps DEVICE's BAR into PARTITION (on the same switch) and prints the "
    "offset\nand the virtual address where it starts.",
    asmctl_bus_map },
  { "unmap", NULL, "PARTITION DEVICE", 2, 0, FALSE,
    "take a device out of a partition",
    "Takes DEVICE out of PARTITION; its space in the partition is free "
    "again.",
    asmctl_bus_unmap },
  { "migrate", NULL, "PARTITION SWITCH", 2, 0, FALSE,
    "move a partition to another switch",
    "Moves PARTITION, with its devices' mappings, to SWITCH; its virtual "
    "addresses\nare unchanged, the physical ones are new.  On a backend "
    "failure the\nmigration is undone and the daemon refuses it.",
    asmctl_bus_migrate },
  { "grow", NULL, "PARTITION SIZE", 2, 0, FALSE,
    "grow a partition to SIZE bytes",
    "Grows PARTITION to SIZE bytes, in place or by migrating it.",
    asmctl_bus_grow },
  { "shrink", NULL, "PARTITION SIZE", 2, 0, FALSE,
    "shrink a partition to SIZE bytes",
    "Shrinks PARTITION in place to SIZE bytes; its mapped devices must "
    "still fit.",
    asmctl_bus_shrink },
  { "release", "release-partition", "PARTITION", 1, 0, FALSE,
    "release a partition",
    "Releases PARTITION; its space is reclaimed and emptied windows go "
    "back.",
    asmctl_bus_release },
  { "create-vf", "vf", "PF", 1, 0, FALSE, "create a VF under a PF",
    "Creates a VF under the SR-IOV physical function PF and prints its "
    "name and id.",
    asmctl_bus_create_vf },
  { "destroy-vf", NULL, "VF", 1, 0, FALSE, "destroy an unmapped VF",
    "Destroys VF, which must not be mapped.", asmctl_bus_destroy_vf },
  { "transfer-vf", NULL, "VF PF", 2, 0, FALSE,
    "move a VF's function to a VF of another PF",
    "Moves VF's function to a new VF of PF, reached through a translation "
    "offset:\nthe workload's virtual addresses keep answering.  Prints the "
    "new VF.",
    asmctl_bus_transfer_vf },
  { "remove-device", NULL, "DEVICE", 1, 0, FALSE, "unbind an unmapped device",
    "Unbinds DEVICE, which must not be mapped, with its VFs.",
    asmctl_bus_remove_device },
  { "drain", NULL, "SWITCH", 1, 0, FALSE, "move every partition off a switch",
    "Moves every partition off SWITCH and gives its windows back; "
    "placement never\npicks it again.  Then remove-device its devices and "
    "remove-switch it.",
    asmctl_bus_drain },
  { "remove-switch", NULL, "SWITCH", 1, 0, FALSE, "remove a drained switch",
    "Removes SWITCH, which must be drained and have no devices.",
    asmctl_bus_remove_switch },
  { "add-workload", "workload", "NAME", 1, 0, FALSE, "add a workload",
    "Adds a workload called NAME and prints its id.", asmctl_bus_add_workload },
  { "end-workload", NULL, "WORKLOAD", 1, 0, FALSE,
    "end a workload, releasing its partitions",
    "Ends WORKLOAD: its partitions are released and it is forgotten.",
    asmctl_bus_end_workload },
  { "migrate-workload", NULL, "WORKLOAD SWITCH", 2, 0, FALSE,
    "move every partition of a workload to one switch",
    "Moves every partition of WORKLOAD to SWITCH, all or none.",
    asmctl_bus_migrate_workload },
  { "translate", NULL, "WORKLOAD VIRT", 2, 0, FALSE,
    "where a workload's virtual address goes now",
    "Prints where WORKLOAD's virtual address VIRT goes now: the switch, the "
    "physical\naddress, the device and the offset in its BAR, the "
    "partition's generation.\nReads only.",
    asmctl_bus_translate },
  { "usage", NULL, "WORKLOAD TIME BYTES", 3, 0, FALSE,
    "feed the profiler a usage sample",
    "Records that WORKLOAD used BYTES at TIME (a number, in the profiler's "
    "units).",
    asmctl_bus_record_usage },
  { "predict", NULL, "WORKLOAD HORIZON", 2, 0, FALSE,
    "the profiler's predicted use of a workload",
    "Prints the profiler's predicted use of WORKLOAD at HORIZON.  Reads "
    "only.",
    asmctl_bus_predict },
  { "rebalance", NULL, "HORIZON", 1, 0, FALSE,
    "resize and move partitions by the predictions",
    "Grows, migrates and shrinks partitions by the profiler's prediction at "
    "HORIZON\nand prints how many were examined, grown, shrunk, moved and "
    "failed.",
    asmctl_bus_rebalance },
  { "add-switch", "switch", "NAME BANDWIDTH", 2, OPT_SWITCH, FALSE,
    "add a switch of BANDWIDTH MB/s",
    "Adds a switch called NAME with BANDWIDTH MB/s and prints its id.",
    asmctl_bus_add_switch },
  { "add-window", "window", "SWITCH FIRST LAST", 3, 0, FALSE,
    "give a pinned switch a window",
    "Gives the pinned SWITCH the window FIRST-LAST (inclusive).",
    asmctl_bus_add_window },
  { "add-device", "device", "NAME SWITCH PORT BAR", 4, OPT_DEVICE, FALSE,
    "bind a device to a switch port",
    "Binds a device called NAME with a BAR of BAR bytes to PORT of SWITCH "
    "and\nprints its id.",
    asmctl_bus_add_device },
  { "sriov", NULL, "PF MAX_VFS VF_BAR", 3, 0, FALSE, "let a PF have VFs",
    "Lets the physical function PF have up to MAX_VFS VFs of VF_BAR bytes "
    "each.",
    asmctl_bus_sriov },
  { "show", NULL, "switch|device|workload|partition OBJECT", 2, 0, FALSE,
    "every field of one object",
    "Prints every field the daemon reports for one switch, device, "
    "workload or\npartition.  Reads only.",
    asmctl_bus_show },
  { "check", NULL, "", 0, 0, FALSE, "check the fabric's invariants",
    "Checks every invariant of the model and, on the simulator, that the "
    "hardware\nequals the model; a broken one is an error that names it.",
    asmctl_bus_check },
  { "save", NULL, "", 0, 0, TRUE, "print the fabric's state as JSON",
    "Prints the whole state as JSON, in asm_fabric_save()'s form (the same "
    "with or\nwithout --json).  Reads only.",
    asmctl_bus_save },
  { "watch", NULL, "", 0, OPT_WATCH, TRUE, "print the fabric's events",
    "Prints the fabric's events as the daemon signals them, one line each "
    "(with\n--json, one JSON object per line), until interrupted or --count "
    "events.\nA line on stderr says when the watch has started.",
    asmctl_bus_watch },
};

static const GOptionEntry common_entries[] = {
  { "json", 0, 0, G_OPTION_ARG_NONE, &opts.json,
    "Print one JSON object (watch: one per line)", NULL },
  { "dest", 0, 0, G_OPTION_ARG_STRING, &opts.dest,
    "The daemon's bus name (default " ASMD_BUS_NAME ")", "NAME" },
  { NULL }
};

static const GOptionEntry request_entries[] = {
  { "align", 0, 0, G_OPTION_ARG_STRING, &opts.align,
    "Place the partition at a multiple of N bytes", "N" },
  { "bandwidth", 0, 0, G_OPTION_ARG_STRING, &opts.bandwidth,
    "The partition's bandwidth demand, reserved on its switch", "MB/s" },
  { "min-bandwidth", 0, 0, G_OPTION_ARG_STRING, &opts.min_bandwidth,
    "Only a switch of at least this bandwidth", "MB/s" },
  { "max-latency-ns", 0, 0, G_OPTION_ARG_STRING, &opts.max_latency,
    "Only a switch of at most this latency", "NS" },
  { "prefer", 0, 0, G_OPTION_ARG_STRING, &opts.prefer, "Try SWITCH first",
    "SWITCH" },
  { NULL }
};

static const GOptionEntry switch_entries[] = {
  { "latency-ns", 0, 0, G_OPTION_ARG_STRING, &opts.latency,
    "The switch's latency (default 0)", "NS" },
  { "table-capacity", 0, 0, G_OPTION_ARG_STRING, &opts.table,
    "Entries of its translation table (default 64)", "N" },
  { "ports", 0, 0, G_OPTION_ARG_STRING, &opts.ports,
    "Its downstream ports (default 8)", "N" },
  { "pinned", 0, 0, G_OPTION_ARG_NONE, &opts.pinned,
    "Its windows are given (add-window), never grown", NULL },
  { NULL }
};

static const GOptionEntry device_entries[] = {
  { "pf", 0, 0, G_OPTION_ARG_NONE, &opts.pf,
    "An SR-IOV physical function (then sriov), not an endpoint", NULL },
  { NULL }
};

static const GOptionEntry watch_entries[] = {
  { "count", 0, 0, G_OPTION_ARG_STRING, &opts.count, "Stop after N events",
    "N" },
  { NULL }
};

#define FABRIC_USAGE                                                           \
  "asmctl --bus session|system|ADDRESS [--dest NAME] fabric COMMAND "          \
  "[ARGS...] [--json]"

static const char fabric_notes[] =
    "Switches, devices and workloads are named by name or by id; partitions "
    "by id\n(status lists them).  Numbers are decimal or 0x-hex with an "
    "optional K, M, G\nor T suffix (2M, 0x1000); TIME and HORIZON are "
    "decimal numbers.\n"
    "\n"
    "Exit status: 0 success; 1 the daemon refused (asmctl: MESSAGE (CODE), "
    "CODE\nas asmctl script's expect names it, access-denied for a caller "
    "who may not\nchange the fabric, or the D-Bus error's name), or no asmd "
    "serves the bus name,\nor the bus cannot be reached; 2 a bad command "
    "line.";

static void
fabric_usage (FILE *out)
{
  fprintf (out,
           "Usage: " FABRIC_USAGE "\n"
           "\n"
           "Talks to asmd, the daemon that serves one fabric as " ASMD_INTERFACE
           " on a D-Bus\nbus: --bus session, --bus system, "
           "or --bus ADDRESS (anything with a ':',\ne.g. "
           "unix:path=/run/asm/bus).  --dest NAME reaches a daemon started "
           "with\nasmd --bus-name NAME.  Every change it asks for is "
           "committed in the daemon's\njournal before it returns.\n"
           "\n"
           "Commands (asmctl --bus session fabric COMMAND --help for each):\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autofree char *head =
          g_strdup_printf ("%s %s", commands[i].name, commands[i].args);
      if (strlen (head) > 31)
        fprintf (out, "  %s\n  %-31s %s\n", head, "", commands[i].summary);
      else
        fprintf (out, "  %-31s %s\n", head, commands[i].summary);
    }
  fprintf (out, "\nOptions of every command: --json (one JSON object; ids as "
                "numbers, addresses\nand sizes as \"0x...\" strings), --dest "
                "NAME.  asmctl script's names work too:\n");
  for (guint i = 0, col = 0; i < G_N_ELEMENTS (commands); i++)
    if (commands[i].alias != NULL)
      {
        g_autofree char *one =
            g_strdup_printf ("%s for %s", commands[i].alias, commands[i].name);
        /* wrapped at 78 columns */
        if (col > 0 && col + 2 + strlen (one) > 77)
          {
            fprintf (out, ",\n");
            col = 0;
          }
        else if (col > 0)
          {
            fprintf (out, ", ");
            col += 2;
          }
        if (col == 0)
          col += (guint) fprintf (out, "  ");
        col += (guint) fprintf (out, "%s", one);
      }
  fprintf (out, ".\n\n%s\n", fabric_notes);
}

/* Prints a failure on stderr (and, with --json, as the command's JSON
 * object) and returns the exit status. */
static int
report_error (AsmctlBus *c, GError *error)
{
  g_autofree char *remote = NULL, *label = NULL;
  const char *code = NULL;

  if (error->domain == USAGE_ERROR)
    {
      fprintf (stderr, "asmctl fabric %s: %s\n", c->command, error->message);
      return ASMCTL_EXIT_USAGE;
    }
  label = asmctl_bus_label (c->bus_arg);
  remote = g_dbus_error_get_remote_error (error);
  g_dbus_error_strip_remote_error (error);
  if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
      g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER))
    {
      g_autofree char *msg = g_strdup_printf (
          "no asmd serves %s on %s (is it running? asmd --%s --state-dir "
          "DIR --fabric FILE starts one)",
          c->dest, label,
          strchr (c->bus_arg, ':') ? "address ADDRESS" : c->bus_arg);
      g_free (error->message);
      error->message = g_steal_pointer (&msg);
      code = "no-daemon";
    }
  else if (error->domain == ASM_ERROR)
    code = asmctl_error_code_name (error);
  else if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED))
    code = "access-denied"; /* not root, not in asmd's writer group */
  else if (remote != NULL)
    code = remote;
  if (code != NULL && strcmp (code, "no-daemon") != 0)
    fprintf (stderr, "asmctl: %s (%s)\n", error->message, code);
  else
    fprintf (stderr, "asmctl: %s\n", error->message);
  if (c->json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      asmctl_bus_json_str (b, "command", c->command);
      json_builder_set_member_name (b, "error");
      json_builder_begin_object (b);
      asmctl_bus_json_str (b, "code", code ? code : "failed");
      if (remote != NULL)
        asmctl_bus_json_str (b, "dbus_error", remote);
      asmctl_bus_json_str (b, "message", error->message);
      json_builder_end_object (b);
      json_builder_end_object (b);
      asmctl_bus_json_print (b, TRUE);
    }
  return ASMCTL_EXIT_FAILED;
}

static const Command *
find_command (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (commands[i].name, name) == 0 ||
        (commands[i].alias != NULL && strcmp (commands[i].alias, name) == 0))
      return &commands[i];
  return NULL;
}

/* The bus and destination the command line gives, checked: exit 2 for a
 * value that cannot be a bus or a bus name. */
static gboolean
check_target (const char *bus_arg, const char *dest, GError **error)
{
  g_autoptr (GError) local = NULL;

  if (bus_arg == NULL)
    return asmctl_bus_usage_fail (error,
                                  "which bus? give --bus session, --bus system "
                                  "or --bus ADDRESS before 'fabric'");
  if (strchr (bus_arg, ':') != NULL)
    {
      if (!g_dbus_is_supported_address (bus_arg, &local))
        return asmctl_bus_usage_fail (error,
                                      "--bus '%s' is not a usable D-Bus "
                                      "address: "
                                      "%s",
                                      bus_arg, local->message);
    }
  else if (strcmp (bus_arg, "session") != 0 && strcmp (bus_arg, "system") != 0)
    return asmctl_bus_usage_fail (
        error,
        "--bus '%s' is not session, system or a D-Bus "
        "address (one with ':', e.g. unix:path=/run/asm/bus)",
        bus_arg);
  if (!g_dbus_is_name (dest))
    return asmctl_bus_usage_fail (error, "--dest '%s' is not a D-Bus bus name",
                                  dest);
  return TRUE;
}

static int
run_command (const Command *cmd, const char *bus_arg, int argc, char **argv)
{
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *param = NULL, *prgname = NULL, *desc = NULL;
  g_auto (GStrv) args = g_new0 (char *, (gsize) argc + 2);
  AsmctlBus c = { .bus_arg = bus_arg, .command = cmd->name };
  guint n;
  int rc = ASMCTL_EXIT_OK;

  /* args[0] is the program, as GOption expects */
  args[0] = g_strdup ("asmctl");
  for (int i = 0; i < argc; i++)
    args[i + 1] = g_strdup (argv[i]);
  param = g_strdup_printf ("%s%s- %s", cmd->args, cmd->args[0] ? " " : "",
                           cmd->summary);
  prgname = g_strdup_printf ("asmctl --bus BUS fabric %s", cmd->name);
  g_set_prgname (prgname);
  ctx = g_option_context_new (param);
  g_option_context_set_summary (ctx, cmd->help);
  desc =
      g_strdup_printf ("%s%s%sasmctl --bus session fabric --help lists "
                       "every command.\n\n%s",
                       cmd->alias ? "asmctl script calls it '" : "",
                       cmd->alias ? cmd->alias : "",
                       cmd->alias ? "'; both names work.\n" : "", fabric_notes);
  g_option_context_set_description (ctx, desc);
  g_option_context_add_main_entries (ctx, common_entries, NULL);
  if (cmd->options & OPT_REQUEST)
    g_option_context_add_main_entries (ctx, request_entries, NULL);
  if (cmd->options & OPT_SWITCH)
    g_option_context_add_main_entries (ctx, switch_entries, NULL);
  if (cmd->options & OPT_DEVICE)
    g_option_context_add_main_entries (ctx, device_entries, NULL);
  if (cmd->options & OPT_WATCH)
    g_option_context_add_main_entries (ctx, watch_entries, NULL);
  if (!g_option_context_parse_strv (ctx, &args, &error))
    {
      fprintf (stderr, "asmctl fabric %s: %s\n", cmd->name, error->message);
      return ASMCTL_EXIT_USAGE;
    }
  c.opts = &opts;
  c.json = opts.json;
  c.dest = opts.dest ? opts.dest : ASMD_BUS_NAME;
  n = g_strv_length (args) - 1;
  if (n != cmd->n_args)
    {
      fprintf (stderr,
               "asmctl fabric %s: takes %s%s, not %u argument%s "
               "(asmctl --bus BUS fabric %s --help)\n",
               cmd->name, cmd->n_args ? cmd->args : "no arguments",
               cmd->n_args ? (cmd->n_args == 1 ? " (1 argument)" : "") : "", n,
               n == 1 ? "" : "s", cmd->name);
      return ASMCTL_EXIT_USAGE;
    }
  /* names travel as D-Bus strings, which are UTF-8 */
  for (guint i = 1; args[i] != NULL; i++)
    if (!g_utf8_validate (args[i], -1, NULL))
      {
        fprintf (stderr, "asmctl fabric %s: argument %u is not valid UTF-8\n",
                 cmd->name, i);
        return ASMCTL_EXIT_USAGE;
      }
  if (opts.prefer != NULL && !g_utf8_validate (opts.prefer, -1, NULL))
    {
      fprintf (stderr, "asmctl fabric %s: --prefer is not valid UTF-8\n",
               cmd->name);
      return ASMCTL_EXIT_USAGE;
    }
  if (!check_target (bus_arg, c.dest, &error))
    return report_error (&c, error);

  asmd_register_errors ();
  if (c.json && !cmd->raw)
    {
      c.b = json_builder_new ();
      json_builder_begin_object (c.b);
      asmctl_bus_json_str (c.b, "command", cmd->name);
    }
  if (!cmd->run (&c, args + 1, &error))
    rc = report_error (&c, error);
  else if (c.b != NULL)
    {
      json_builder_end_object (c.b);
      asmctl_bus_json_print (c.b, TRUE);
    }
  g_clear_object (&c.b);
  if (c.bus != NULL)
    g_dbus_connection_flush_sync (c.bus, NULL, NULL);
  g_clear_object (&c.bus);
  return rc;
}

/* The options before 'fabric': --bus VALUE, --dest VALUE (also
 * --bus=VALUE, --dest=VALUE), --json. */
static gboolean
is_global (const char *arg, const char *name)
{
  gsize n = strlen (name);

  return strncmp (arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/**
 * asmctl_cmd_bus:
 * @argc: the number of words in @argv
 * @argv: the command line from its first option on: `--bus session fabric
 *   status --json`
 *
 * `asmctl --bus BUS fabric COMMAND ...`: one asmctl_bus_call (or a watch) on a running
 * asmd.
 *
 * Returns: the exit status
 */
int
asmctl_cmd_bus (int argc, char **argv)
{
  const char *bus_arg = NULL;
  const Command *cmd;
  int i;

  for (i = 0; i < argc && strcmp (argv[i], "fabric") != 0; i++)
    {
      const char *arg = argv[i], *value;
      gboolean bus = is_global (arg, "--bus");

      if (strcmp (arg, "--json") == 0)
        {
          opts.json = TRUE;
          continue;
        }
      if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0)
        {
          fabric_usage (stdout);
          return ASMCTL_EXIT_OK;
        }
      if (!bus && !is_global (arg, "--dest"))
        {
          fprintf (stderr,
                   "asmctl: '%s' is not an option before 'fabric' "
                   "(usage: " FABRIC_USAGE ")\n",
                   arg);
          return ASMCTL_EXIT_USAGE;
        }
      if (strchr (arg, '=') != NULL)
        value = strchr (arg, '=') + 1;
      else if (i + 1 < argc)
        value = argv[++i];
      else
        {
          fprintf (stderr,
                   "asmctl: %s needs a value (usage: " FABRIC_USAGE ")\n", arg);
          return ASMCTL_EXIT_USAGE;
        }
      if (bus)
        bus_arg = value;
      else
        opts.dest = g_strdup (value);
    }
  if (i == argc)
    {
      fprintf (stderr, "asmctl: 'fabric' is missing after the bus options "
                       "(usage: " FABRIC_USAGE ")\n");
      return ASMCTL_EXIT_USAGE;
    }
  if (i + 1 == argc)
    {
      fprintf (stderr, "asmctl fabric: which command?\n\n");
      fabric_usage (stderr);
      return ASMCTL_EXIT_USAGE;
    }
  if (strcmp (argv[i + 1], "--help") == 0 || strcmp (argv[i + 1], "-h") == 0 ||
      strcmp (argv[i + 1], "help") == 0)
    {
      fabric_usage (stdout);
      return ASMCTL_EXIT_OK;
    }
  cmd = find_command (argv[i + 1]);
  if (cmd == NULL)
    {
      fprintf (stderr,
               "asmctl fabric: unknown command '%s' (asmctl --bus "
               "session fabric --help lists them)\n",
               argv[i + 1]);
      return ASMCTL_EXIT_USAGE;
    }
  return run_command (cmd, bus_arg, argc - i - 2, argv + i + 2);
}
