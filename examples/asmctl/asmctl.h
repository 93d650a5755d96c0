/* asmctl.h: what the parts of asmctl share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <asm/asm.h>

#include <json-glib/json-glib.h>
#include <stdio.h>

G_BEGIN_DECLS

/* exit codes of every subcommand */
#define ASMCTL_EXIT_OK 0
#define ASMCTL_EXIT_FAILED 1   /* the operation failed (a clear message) */
#define ASMCTL_EXIT_USAGE 2    /* bad command line */
#define ASMCTL_EXIT_INPUT 3    /* bad input file (JSON, script, XML) */

/* ASMCTL_MUST (lookup): a lookup of an object asmctl just listed or made,
 * which cannot fail in this single-threaded program; if it does, asmctl
 * has a bug and stops with the call named. */
#define ASMCTL_MUST(lookup)                                                   \
  G_STMT_START                                                                \
  {                                                                           \
    if (!(lookup))                                                            \
      g_error ("asmctl bug: %s failed", #lookup);                             \
  }                                                                           \
  G_STMT_END

/* asmctl.c: every JSON file asmctl reads goes through the pre-scan first:
 * at most this many nested arrays and objects, no member name twice in
 * one object, no U+0000 in a string, numbers as JSON writes them */
#define ASMCTL_JSON_MAX_DEPTH 64
gboolean asmctl_json_prescan (const char *data, gsize len, GError **error);
gboolean asmctl_json_load (JsonParser *parser, const char *path,
                           GError **error);

char *asmctl_format_size (guint64 bytes);

gboolean asmctl_write_svg (AsmFabric *fabric, const char *path,
                           GError **error);
gboolean asmctl_write_dot_svg (AsmFabric *fabric, const char *path,
                               GError **error);
gboolean asmctl_write_json (AsmFabric *fabric, const char *path,
                            GError **error);

void asmctl_print_switches (AsmFabric *fabric, FILE *out);

int asmctl_cmd_demo (int argc, char **argv);
int asmctl_cmd_run (int argc, char **argv);

/* asmctl-run.c: the fabric of a scenario file without steps, for asmd */
AsmFabric *asmctl_scenario_open (const char *path, const char *backend_name,
                                 const char *sim_path,
                                 AsmBackend **out_backend, GError **error);

/* asmctl-script.c: `asmctl script`, and the parsers it shares */
gboolean asmctl_parse_u64 (const char *text, guint64 *out, GError **error);
gboolean asmctl_parse_fit (const char *text, AsmFit *out, GError **error);
const char *asmctl_fit_name (AsmFit fit);
const char *asmctl_segment_kind_name (AsmSegmentKind kind);
const char *asmctl_error_code_name (const GError *error);
int asmctl_cmd_script (int argc, char **argv);

/* asmctl-quick.c: `asmctl iova` and `asmctl pci` */
int asmctl_cmd_iova (int argc, char **argv);
int asmctl_cmd_pci (int argc, char **argv);

/* asmctl-bus.c: `asmctl --bus BUS fabric ...`, a client of asmd */
int asmctl_cmd_bus (int argc, char **argv);

/* asmctl-pci-assign.c: `asmctl pci assign|attach|detach` (libvirt XML) */
int asmctl_cmd_pci_assign (int argc, char **argv);
int asmctl_cmd_pci_attach (int argc, char **argv);
int asmctl_cmd_pci_detach (int argc, char **argv);

G_END_DECLS
