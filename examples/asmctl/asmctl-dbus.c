/* asmctl-dbus.c: asm's error codes as D-Bus error names
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "asmctl-dbus.h"

/* One D-Bus error name per asm error code, in the order of AsmError. */
static const char *const error_names[] = {
  [ASM_ERROR_INVALID] = ASMD_INTERFACE ".Error.Invalid",
  [ASM_ERROR_NO_SPACE] = ASMD_INTERFACE ".Error.NoSpace",
  [ASM_ERROR_IN_USE] = ASMD_INTERFACE ".Error.InUse",
  [ASM_ERROR_NOT_FOUND] = ASMD_INTERFACE ".Error.NotFound",
  [ASM_ERROR_HELD] = ASMD_INTERFACE ".Error.Held",
  [ASM_ERROR_BACKEND] = ASMD_INTERFACE ".Error.Backend",
  [ASM_ERROR_TIMEOUT] = ASMD_INTERFACE ".Error.Timeout",
  [ASM_ERROR_PARSE] = ASMD_INTERFACE ".Error.Parse",
  [ASM_ERROR_UNSUPPORTED] = ASMD_INTERFACE ".Error.Unsupported",
  [ASM_ERROR_FAILED] = ASMD_INTERFACE ".Error.Failed",
  [ASM_ERROR_FENCED] = ASMD_INTERFACE ".Error.Fenced",
};
G_STATIC_ASSERT (G_N_ELEMENTS (error_names) == ASM_ERROR_FENCED + 1);

/* The D-Bus error name of an asm error code; NULL for an unknown code. */
const char *
asmd_error_name (gint code)
{
  if (code < 0 || (guint) code >= G_N_ELEMENTS (error_names))
    return NULL;
  return error_names[code];
}

/* Registers the mapping with GDBus, once per process: errors of the
 * ASM_ERROR domain returned by a method handler go out under these names,
 * and a proxy's caller gets ASM_ERROR back (with the remote message). */
void
asmd_register_errors (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      for (guint code = 0; code < G_N_ELEMENTS (error_names); code++)
        g_dbus_error_register_error (ASM_ERROR, (gint) code,
                                     error_names[code]);
      g_once_init_leave (&done, 1);
    }
}
