/* asmctl-script.h: what the parts of `asmctl script` share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private to asmctl-script.c (the interpreter), asmctl-script-arena-addr.c
 * (the commands on arenas and address spaces) and
 * asmctl-script-pci-fabric.c (the commands on PCI bus sets and fabrics):
 * the objects of a script, the arguments of a command, the command table's
 * entries, and the interpreter's helpers that every handler uses.
 */
#pragma once

#include "asmctl.h"

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define HEX "0x%" G_GINT64_MODIFIER "x"

typedef enum {
  OBJ_ARENA,
  OBJ_SPACE,
  OBJ_PCI,
  OBJ_FABRIC,
} ObjKind;

typedef struct {
  char *name;
  ObjKind kind;
  guint line;                  /* where it was created */

  AsmArena *arena;

  AsmAddrSpace *space;

  AsmPciBusSet *pci;
  GArray *pci_indexes;         /* guint32, sorted: the controllers added */
  gboolean pci_grow;           /* autogrow is on */
  AsmPciControllerModel pci_grow_model;
  guint32 pci_grow_domain;
  GString *pci_grown;          /* what the grow callback added, this call */

  AsmFabric *fabric;
  AsmBackend *sim;             /* NULL for a fabric from `load` */
  gboolean crash_armed;        /* `crash` was used: the hardware may lag */
  GHashTable *workloads;       /* name -> id */
  GHashTable *workload_names;  /* id -> name */
  GHashTable *partitions;      /* name -> id */
  GHashTable *partition_names; /* id -> name */
  GHashTable *workload_parts;  /* workload id -> set of partition ids
                                  requested for it (a superset: one that
                                  left is filtered out on use), so a
                                  command costs what its workload has */
  GHashTable *gone;            /* "partition NAME", "workload NAME" -> how
                                  it left ("released on line 12"), until
                                  the name is given again */
} Obj;

typedef struct {
  const char *file;            /* as shown in messages */
  guint line;
  GHashTable *objects;         /* name -> Obj (borrowed from order) */
  GPtrArray *order;            /* every Obj, in creation order */

  gboolean expect_pending;
  int expect_code;             /* an AsmError, or -1 for "any" */
  char *expect_name;
  guint expect_line;

  gboolean json, keep_going, check_all, verbose, trace;
  GPtrArray *out_lines;        /* --json: the current command's output */
  JsonArray *results;          /* --json: one object per command */
} Script;

typedef struct {
  const char *verb;
  char **pos;                  /* positional arguments after the verb */
  guint n_pos;
  char **opt_keys;             /* key=value options */
  char **opt_values;
  guint n_opts;
  const char *rest;            /* the raw text after the verb */
  const char *flags_seen[4];   /* bare-word flags that were given */
  guint n_flags;
} Args;

#define K_NONE -1 /* the first argument is not an existing object */
#define K_ANY -2  /* the first argument is an object of any kind */
#define MANY G_MAXUINT

typedef struct {
  const char *verb;
  int kind;              /* an ObjKind, K_NONE or K_ANY */
  guint min, max;        /* positional arguments after the verb */
  const char *flags;     /* bare words allowed after the first min */
  const char *options;   /* key=value keys allowed */
  const char *usage;
  gboolean (*run) (Script *s, Args *a, Obj *o, GError **error);
} Command;

/* asmctl-script.c: errors (a script error, exit 3; an operation's error,
 * exit 1), output, names and objects */
gboolean asmctl_script_syntax (GError **error, const char *format, ...)
  G_GNUC_PRINTF (2, 3);
gboolean asmctl_script_fail (GError **error, AsmError code,
                             const char *format, ...) G_GNUC_PRINTF (3, 4);
void asmctl_script_emit (Script *s, const char *format, ...)
  G_GNUC_PRINTF (2, 3);
void asmctl_script_emit_lines (Script *s, GPtrArray *lines);
gboolean asmctl_script_valid_name (const char *name);
gboolean asmctl_script_check_new_name (Script *s, const char *name,
                                       GError **error);
Obj *asmctl_script_obj_add (Script *s, const char *name, ObjKind kind);

/* asmctl-script.c: arguments (numbers are script errors when malformed) */
gboolean asmctl_script_has_flag (Args *a, const char *flag);
const char *asmctl_script_opt (Args *a, const char *key);
gboolean asmctl_script_num (const char *what, const char *text, guint64 *out,
                            GError **error);
gboolean asmctl_script_num32 (const char *what, const char *text,
                              guint32 *out, GError **error);
gboolean asmctl_script_opt_num (Args *a, const char *key, guint64 *inout,
                                GError **error);
gboolean asmctl_script_opt_num32 (Args *a, const char *key, guint32 *inout,
                                  GError **error);
gboolean asmctl_script_dbl (const char *what, const char *text,
                            gdouble *out, GError **error);
gboolean asmctl_script_parse_first_last (Args *a, guint i, guint64 *first,
                                         guint64 *last, GError **error);

/* asmctl-script-arena-addr.c: arenas and address spaces */
extern const Command asmctl_script_arena_addr_commands[];
extern const guint asmctl_script_arena_addr_n_commands;
gboolean asmctl_script_cmd_arena (Script *s, Args *a, Obj *unused,
                                  GError **error);
gboolean asmctl_script_cmd_walk (Script *s, Args *a, Obj *o, GError **error);
gboolean asmctl_script_cmd_space (Script *s, Args *a, Obj *unused,
                                  GError **error);
gboolean asmctl_script_cmd_space_list (Script *s, Args *a, Obj *o,
                                       GError **error);

/* asmctl-script-pci-fabric.c: PCI bus sets and fabrics */
extern const Command asmctl_script_pci_commands[];
extern const guint asmctl_script_pci_n_commands;
extern const Command asmctl_script_pci_fabric_commands[];
extern const guint asmctl_script_pci_fabric_n_commands;
gboolean asmctl_script_cmd_pci (Script *s, Args *a, Obj *unused,
                                GError **error);
Obj *asmctl_script_pci_obj_new (Script *s, const char *name);
void asmctl_script_pci_set_autogrow (Obj *o, gboolean on,
                                     AsmPciControllerModel model,
                                     guint32 domain);
void asmctl_script_show_pci (Script *s, Obj *o);
gboolean asmctl_script_cmd_fabric (Script *s, Args *a, Obj *unused,
                                   GError **error);
gboolean asmctl_script_cmd_load (Script *s, Args *a, Obj *unused,
                                 GError **error);
void asmctl_script_show_fabric (Script *s, Obj *o);

G_END_DECLS
