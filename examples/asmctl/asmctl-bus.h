/* asmctl-bus.h: what the parts of `asmctl --bus BUS fabric` share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * asmctl-bus.c reads the command line, talks to the bus and writes JSON;
 * asmctl-bus-cmds.c has one handler per subcommand.  Private to asmctl.
 */
#pragma once

#include "asmctl.h"

#include <gio/gio.h>

G_BEGIN_DECLS

#define HEX "0x%" G_GINT64_MODIFIER "x"

/* the options of every subcommand, as strings: numbers are read with
 * asmctl_parse_u64 so that "2M" and "0x1000" work everywhere */
typedef struct {
  gboolean json;
  char *dest;
  char *align, *bandwidth, *min_bandwidth, *max_latency, *prefer;
  char *latency, *table, *ports, *count;
  gboolean pinned, pf;
} AsmctlBusOptions;

typedef struct {
  const char *bus_arg;  /* "session", "system" or a D-Bus address */
  const char *dest;     /* the daemon's bus name */
  const char *command;  /* the subcommand's name */
  gboolean json;
  GDBusConnection *bus; /* connected on the first call */
  JsonBuilder *b;       /* --json: the command's object, open */
  const AsmctlBusOptions *opts; /* the subcommand's options */
} AsmctlBus;

/* Each handler gets the positional arguments (as many as its line of
 * the command table says); with --json it adds members to c->b,
 * otherwise it prints text.  A GError of asmctl_bus_usage_fail() is a bad
 * command line (exit 2), any other a failure (exit 1). */
typedef gboolean (*AsmctlBusRunFunc) (AsmctlBus *c, char **args,
                                      GError **error);

/* asmctl-bus.c: the command line, the bus, JSON */
gboolean asmctl_bus_usage_fail (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);
gboolean asmctl_bus_parse_number (const char *what, const char *text, guint64 max, guint64 *out, GError **error);
gboolean asmctl_bus_parse_u32 (const char *what, const char *text, guint32 *out, GError **error);
gboolean asmctl_bus_parse_double (const char *what, const char *text, double *out, GError **error);
gboolean asmctl_bus_parse_partition (const char *text, guint64 *out, GError **error);
char *asmctl_bus_label (const char *bus_arg);
gboolean asmctl_bus_connect (AsmctlBus *c, GError **error);
GVariant *asmctl_bus_call (AsmctlBus *c, const char *method, GVariant *args, const char *reply_type, GError **error);
GVariant *asmctl_bus_get_properties (AsmctlBus *c, GError **error);
GVariant *asmctl_bus_get_info (AsmctlBus *c, const char *what, guint64 id, GError **error);
GArray *asmctl_bus_list_ids (AsmctlBus *c, const char *what, GError **error);
gboolean asmctl_bus_resolve (AsmctlBus *c, const char *kind, const char *text, guint64 *id, GError **error);
char *asmctl_bus_name_of (AsmctlBus *c, const char *what, guint64 id);
guint64 asmctl_bus_dict_t (GVariant *dict, const char *key);
guint32 asmctl_bus_dict_u (GVariant *dict, const char *key);
gboolean asmctl_bus_dict_b (GVariant *dict, const char *key);
const char *asmctl_bus_dict_s (GVariant *dict, const char *key);
gboolean asmctl_bus_is_id_key (const char *key);
void asmctl_bus_json_hex (JsonBuilder *b, const char *key, guint64 v);
void asmctl_bus_json_int (JsonBuilder *b, const char *key, guint64 v);
void asmctl_bus_json_str (JsonBuilder *b, const char *key, const char *v);
void asmctl_bus_json_bool (JsonBuilder *b, const char *key, gboolean v);
GPtrArray *asmctl_bus_sorted_keys (GVariant *dict);
void asmctl_bus_json_dict (JsonBuilder *b, GVariant *dict);
void asmctl_bus_json_print (JsonBuilder *b, gboolean pretty);

/* asmctl-bus-cmds.c: the subcommands */
gboolean asmctl_bus_request (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_map (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_unmap (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_migrate (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_grow (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_shrink (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_release (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_destroy_vf (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_remove_device (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_drain (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_remove_switch (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_end_workload (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_create_vf (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_transfer_vf (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_add_workload (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_migrate_workload (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_translate (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_rebalance (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_predict (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_record_usage (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_add_switch (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_add_window (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_add_device (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_sriov (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_check (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_save (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_show (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_status (AsmctlBus *c, char **args, GError **error);
gboolean asmctl_bus_watch (AsmctlBus *c, char **args, GError **error);

G_END_DECLS
