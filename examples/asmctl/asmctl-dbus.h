/* asmctl-dbus.h: what asmd and its clients agree on
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The interface itself is examples/asmd/org.asm.Fabric1.xml; these are
 * its names and the mapping of asm's error codes to D-Bus error names,
 * which both sides register so that an error crosses the bus as
 * org.asm.Fabric1.Error.NoSpace and arrives as ASM_ERROR_NO_SPACE.
 */
#pragma once

#include <asm/asm.h>
#include <gio/gio.h>

G_BEGIN_DECLS

#define ASMD_BUS_NAME "org.asm.Fabric1"
#define ASMD_OBJECT_PATH "/org/asm/Fabric1"
#define ASMD_INTERFACE "org.asm.Fabric1"

void asmd_register_errors (void);
const char *asmd_error_name (gint code);

G_END_DECLS
