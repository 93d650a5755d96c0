/* asm-qemu.h: a backend that drives a QEMU machine's PCIe topology (layer 4)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ASM_INSIDE) && !defined(ASM_COMPILATION)
#error "Only <asm/asm.h> can be included directly."
#endif

#include <gio/gio.h>
#include <asm/asm-fabric.h>

G_BEGIN_DECLS

/**
 * AsmQemuSwitch:
 * @name: the switch's name, as the fabric will give it to
 *   asm_fabric_add_switch() (the backend matches switches by name)
 * @n_ports: its downstream ports, 1 to 32
 * @number: the number in its QEMU ids (`asm-rp<number>`,
 *   `asm-us<number>`, `asm-ds<number>-<port>`); 0 means its position in
 *   the array plus one.  When it is the fabric's id of the switch, it also
 *   names the switch for a fabric that never announces it (one restored
 *   from a save)
 * @expander: put the switch's root port on a `pxb-pcie` expander bus of
 *   its own instead of the root bus
 *
 * One switch of the machine's fixed topology: a `pcie-root-port`, an
 * `x3130-upstream` port behind it and one `xio3130-downstream` port per
 * switch port.
 *
 * Since: 0.1
 */
typedef struct {
  const char *name;
  guint32 n_ports;
  guint32 number;
  gboolean expander;
  /*< private >*/
  gpointer reserved[2];
} AsmQemuSwitch;

/**
 * ASM_TYPE_QEMU_SWITCH:
 *
 * The #GType of #AsmQemuSwitch, a boxed type registered by
 * asm_qemu_switch_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_QEMU_SWITCH (asm_qemu_switch_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_qemu_switch_get_type (void) G_GNUC_CONST;

/**
 * AsmQemuConfig:
 * @binary: the QEMU program (%NULL: `qemu-system-x86_64` from `PATH`)
 * @device_driver: the qdev driver of bound devices (%NULL: `edu`, a PCIe
 *   endpoint every QEMU build has)
 * @extra_args: (array zero-terminated=1) (nullable): more arguments for
 *   the QEMU command line
 * @command_timeout_ms: how long a QMP command may take (0: 5000)
 * @launch_timeout_ms: how long QEMU may take to start and greet (0: 10000)
 *
 * How to start or reach QEMU.  A %NULL config means every default.
 *
 * Since: 0.1
 */
typedef struct {
  const char *binary;
  const char *device_driver;
  const char *const *extra_args;
  guint command_timeout_ms;
  guint launch_timeout_ms;
  /*< private >*/
  gpointer reserved[4];
} AsmQemuConfig;

/**
 * ASM_TYPE_QEMU_CONFIG:
 *
 * The #GType of #AsmQemuConfig, a boxed type registered by
 * asm_qemu_config_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_QEMU_CONFIG (asm_qemu_config_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_qemu_config_get_type (void) G_GNUC_CONST;

/**
 * AsmQemuEventFunc:
 * @backend: the qemu backend
 * @event: the event's name ("DEVICE_DELETED", ...)
 * @data_json: its "data" member as JSON text ("{}" when it has none)
 * @user_data: the data given to asm_qemu_add_event_watch()
 *
 * Called for each QMP event.
 *
 * Since: 0.1
 */
typedef void (*AsmQemuEventFunc) (AsmBackend *backend, const char *event,
                                  const char *data_json, gpointer user_data);

ASM_AVAILABLE_IN_0_1
AsmBackend *asm_qemu_backend_new (const AsmQemuConfig *config,
                                  const AsmQemuSwitch *switches,
                                  guint n_switches, GError **error);
ASM_AVAILABLE_IN_0_1
AsmBackend *asm_qemu_backend_new_for_fabric (AsmFabric *fabric,
                                             const AsmQemuConfig *config,
                                             GError **error);
ASM_AVAILABLE_IN_0_1
AsmBackend *asm_qemu_backend_attach (const char *socket_path,
                                     const AsmQemuConfig *config,
                                     const AsmQemuSwitch *switches,
                                     guint n_switches, GError **error);
ASM_AVAILABLE_IN_0_1
char **asm_qemu_build_argv (const AsmQemuConfig *config,
                            const AsmQemuSwitch *switches, guint n_switches,
                            const char *socket_path, GError **error);

ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_qemu_is_qemu (AsmBackend *backend);
ASM_AVAILABLE_IN_0_1
GPid asm_qemu_get_pid (AsmBackend *backend);
ASM_AVAILABLE_IN_0_1
const char *asm_qemu_get_socket_path (AsmBackend *backend);
ASM_AVAILABLE_IN_0_1
const char *asm_qemu_get_version (AsmBackend *backend);
ASM_AVAILABLE_IN_0_1
char **asm_qemu_get_argv (AsmBackend *backend);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_qemu_is_alive (AsmBackend *backend);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_qemu_kill (AsmBackend *backend);

ASM_AVAILABLE_IN_0_1
char *asm_qemu_get_port_id (AsmBackend *backend, AsmId sw, guint32 port);
ASM_AVAILABLE_IN_0_1
char *asm_qemu_get_device_id (AsmId device);
ASM_AVAILABLE_IN_0_1
char *asm_qemu_get_device_bus (AsmBackend *backend, const char *qdev_id,
                               GError **error);
ASM_AVAILABLE_IN_0_1
char **asm_qemu_list_devices (AsmBackend *backend, GError **error);
ASM_AVAILABLE_IN_0_1
char *asm_qemu_get_qom_tree (AsmBackend *backend, GError **error);

ASM_AVAILABLE_IN_0_1
char *asm_qemu_command (AsmBackend *backend, const char *command,
                        const char *arguments_json, guint timeout_ms,
                        GError **error);
ASM_AVAILABLE_IN_0_1
void asm_qemu_command_async (AsmBackend *backend, const char *command,
                             const char *arguments_json,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data);
ASM_AVAILABLE_IN_0_1
char *asm_qemu_command_finish (AsmBackend *backend, GAsyncResult *result,
                               GError **error);
ASM_AVAILABLE_IN_0_1
guint asm_qemu_add_event_watch (AsmBackend *backend, AsmQemuEventFunc func,
                                gpointer user_data, GDestroyNotify notify);
ASM_AVAILABLE_IN_0_1
void asm_qemu_remove_event_watch (AsmBackend *backend, guint watch_id);

G_END_DECLS
