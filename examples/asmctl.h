/* asmctl.h: what the parts of asmctl share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <asm/asm.h>

#include <stdio.h>

G_BEGIN_DECLS

/* exit codes of every subcommand */
#define ASMCTL_EXIT_OK 0
#define ASMCTL_EXIT_FAILED 1   /* the operation failed (a clear message) */
#define ASMCTL_EXIT_USAGE 2    /* bad command line */
#define ASMCTL_EXIT_INPUT 3    /* bad input file (JSON, script, XML) */

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

G_END_DECLS
