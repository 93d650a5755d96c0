/* asm-pci.h: PCI addresses and sets of PCI buses (layer 2)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ASM_INSIDE) && !defined(ASM_COMPILATION)
#error "Only <asm/asm.h> can be included directly."
#endif

#include <asm/asm-addr.h>

G_BEGIN_DECLS

/**
 * ASM_PCI_DOMAIN_LAST:
 *
 * The largest PCI domain (segment) number: domains are 16 bits wide.
 *
 * Since: 0.1
 */
#define ASM_PCI_DOMAIN_LAST 0xffff

/**
 * ASM_PCI_SLOT_LAST:
 *
 * The largest PCI slot (device) number.
 *
 * Since: 0.1
 */
#define ASM_PCI_SLOT_LAST 0x1f

/**
 * ASM_PCI_FUNCTION_LAST:
 *
 * The largest PCI function number.
 *
 * Since: 0.1
 */
#define ASM_PCI_FUNCTION_LAST 7

/**
 * ASM_PCI_MAX_BUSES_PER_DOMAIN:
 *
 * The most buses one PCI domain holds (bus 0 included).  Bus ids in
 * configuration are not limited to 8 bits, but their number per domain is.
 *
 * Since: 0.1
 */
#define ASM_PCI_MAX_BUSES_PER_DOMAIN 256

/**
 * AsmPciAddr:
 * @domain: the PCI domain (segment), 0..0xffff
 * @bus: the bus id; in configuration it may exceed 8 bits (see
 *   #AsmPciBusSet)
 * @slot: the slot (device), 0..0x1f
 * @function: the function, 0..7
 *
 * A PCI address `domain:bus:slot.function`, written `DDDD:BB:SS.F` in hex.
 * A plain value: copy it by assignment.
 *
 * Since: 0.1
 */
typedef struct {
  guint32 domain;
  guint32 bus;
  guint8 slot;
  guint8 function;
} AsmPciAddr;

/**
 * ASM_TYPE_PCI_ADDR:
 *
 * The #GType of #AsmPciAddr, a boxed type registered by
 * asm_pci_addr_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_PCI_ADDR (asm_pci_addr_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_pci_addr_get_type (void) G_GNUC_CONST;

/**
 * AsmPciConnectFlags:
 * @ASM_PCI_CONNECT_AUTOASSIGN: on a device, its address is being chosen
 *   automatically; on a bus, it takes such devices (pcie-root does not)
 * @ASM_PCI_CONNECT_HOTPLUGGABLE: on a device, it must be hot-pluggable; on a
 *   bus, it supports hotplug
 * @ASM_PCI_CONNECT_INTEGRATED: the device must sit on bus 0 of its domain
 *   (an integrated endpoint), where auto-assignment is then allowed
 * @ASM_PCI_CONNECT_AGGREGATE_SLOT: the device may share a slot with others
 *   like it, one per function (8 pcie-root-ports in one slot)
 * @ASM_PCI_CONNECT_TYPE_PCI_DEVICE: a conventional PCI endpoint
 * @ASM_PCI_CONNECT_TYPE_PCIE_DEVICE: a PCI Express endpoint
 * @ASM_PCI_CONNECT_TYPE_PCIE_ROOT_PORT: a pcie-root-port
 * @ASM_PCI_CONNECT_TYPE_PCIE_SWITCH_UPSTREAM_PORT: a
 *   pcie-switch-upstream-port
 * @ASM_PCI_CONNECT_TYPE_PCIE_SWITCH_DOWNSTREAM_PORT: a
 *   pcie-switch-downstream-port
 * @ASM_PCI_CONNECT_TYPE_DMI_TO_PCI_BRIDGE: a dmi-to-pci-bridge
 * @ASM_PCI_CONNECT_TYPE_PCI_EXPANDER_BUS: a pci-expander-bus
 * @ASM_PCI_CONNECT_TYPE_PCIE_EXPANDER_BUS: a pcie-expander-bus
 * @ASM_PCI_CONNECT_TYPE_PCI_BRIDGE: a pci-bridge
 * @ASM_PCI_CONNECT_TYPE_PCIE_TO_PCI_BRIDGE: a pcie-to-pci-bridge
 *
 * How a device connects to a bus, and what a bus accepts: libvirt's
 * `virDomainPCIConnectFlags`, bit for bit.  A device fits a bus when they
 * share a type bit and the auto-assign, hotplug and integrated rules hold
 * (see asm_pci_bus_set_reserve_addr()).
 *
 * Since: 0.1
 */
typedef enum {
  ASM_PCI_CONNECT_AUTOASSIGN = 1 << 0,
  ASM_PCI_CONNECT_HOTPLUGGABLE = 1 << 1,
  ASM_PCI_CONNECT_INTEGRATED = 1 << 2,
  ASM_PCI_CONNECT_AGGREGATE_SLOT = 1 << 3,
  ASM_PCI_CONNECT_TYPE_PCI_DEVICE = 1 << 4,
  ASM_PCI_CONNECT_TYPE_PCIE_DEVICE = 1 << 5,
  ASM_PCI_CONNECT_TYPE_PCIE_ROOT_PORT = 1 << 6,
  ASM_PCI_CONNECT_TYPE_PCIE_SWITCH_UPSTREAM_PORT = 1 << 7,
  ASM_PCI_CONNECT_TYPE_PCIE_SWITCH_DOWNSTREAM_PORT = 1 << 8,
  ASM_PCI_CONNECT_TYPE_DMI_TO_PCI_BRIDGE = 1 << 9,
  ASM_PCI_CONNECT_TYPE_PCI_EXPANDER_BUS = 1 << 10,
  ASM_PCI_CONNECT_TYPE_PCIE_EXPANDER_BUS = 1 << 11,
  ASM_PCI_CONNECT_TYPE_PCI_BRIDGE = 1 << 12,
  ASM_PCI_CONNECT_TYPE_PCIE_TO_PCI_BRIDGE = 1 << 13,
} AsmPciConnectFlags;

/**
 * ASM_TYPE_PCI_CONNECT_FLAGS:
 *
 * The #GType of #AsmPciConnectFlags, a flags type registered by
 * asm_pci_connect_flags_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_PCI_CONNECT_FLAGS (asm_pci_connect_flags_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_pci_connect_flags_get_type (void) G_GNUC_CONST;

/**
 * ASM_PCI_CONNECT_TYPES_MASK:
 *
 * Every `ASM_PCI_CONNECT_TYPE_*` bit.
 *
 * Since: 0.1
 */
#define ASM_PCI_CONNECT_TYPES_MASK                                             \
  (ASM_PCI_CONNECT_TYPE_PCI_DEVICE | ASM_PCI_CONNECT_TYPE_PCIE_DEVICE |        \
   ASM_PCI_CONNECT_TYPE_PCIE_ROOT_PORT |                                       \
   ASM_PCI_CONNECT_TYPE_PCIE_SWITCH_UPSTREAM_PORT |                            \
   ASM_PCI_CONNECT_TYPE_PCIE_SWITCH_DOWNSTREAM_PORT |                          \
   ASM_PCI_CONNECT_TYPE_DMI_TO_PCI_BRIDGE |                                    \
   ASM_PCI_CONNECT_TYPE_PCI_EXPANDER_BUS |                                     \
   ASM_PCI_CONNECT_TYPE_PCIE_EXPANDER_BUS | ASM_PCI_CONNECT_TYPE_PCI_BRIDGE |  \
   ASM_PCI_CONNECT_TYPE_PCIE_TO_PCI_BRIDGE)

/**
 * ASM_PCI_CONNECT_TYPES_ENDPOINT:
 *
 * The type bits of endpoint devices (conventional PCI and PCI Express),
 * which an address from configuration may swap.
 *
 * Since: 0.1
 */
#define ASM_PCI_CONNECT_TYPES_ENDPOINT                                         \
  (ASM_PCI_CONNECT_TYPE_PCI_DEVICE | ASM_PCI_CONNECT_TYPE_PCIE_DEVICE)

/**
 * ASM_PCI_CONNECT_ALL:
 *
 * Every defined #AsmPciConnectFlags bit.
 *
 * Since: 0.1
 */
#define ASM_PCI_CONNECT_ALL                                                    \
  (ASM_PCI_CONNECT_AUTOASSIGN | ASM_PCI_CONNECT_HOTPLUGGABLE |                 \
   ASM_PCI_CONNECT_INTEGRATED | ASM_PCI_CONNECT_AGGREGATE_SLOT |               \
   ASM_PCI_CONNECT_TYPES_MASK)

/**
 * AsmPciControllerModel:
 * @ASM_PCI_CONTROLLER_MODEL_PCI_ROOT: `pci-root`, the root bus of a pc
 *   machine (or one of a pSeries machine's PHBs)
 * @ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT: `pcie-root`, the root complex of a
 *   q35 machine
 * @ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE: `pci-bridge`
 * @ASM_PCI_CONTROLLER_MODEL_DMI_TO_PCI_BRIDGE: `dmi-to-pci-bridge`
 * @ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT: `pcie-root-port`
 * @ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_UPSTREAM_PORT:
 *   `pcie-switch-upstream-port`
 * @ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_DOWNSTREAM_PORT:
 *   `pcie-switch-downstream-port`
 * @ASM_PCI_CONTROLLER_MODEL_PCI_EXPANDER_BUS: `pci-expander-bus`
 * @ASM_PCI_CONTROLLER_MODEL_PCIE_EXPANDER_BUS: `pcie-expander-bus`
 * @ASM_PCI_CONTROLLER_MODEL_PCIE_TO_PCI_BRIDGE: `pcie-to-pci-bridge`
 *
 * The PCI controller models of libvirt.  Each provides one bus; the roots
 * (pci-root, pcie-root) are plugged nowhere, every other model is plugged
 * into a slot of another bus.
 *
 * Since: 0.1
 */
typedef enum {
  ASM_PCI_CONTROLLER_MODEL_PCI_ROOT,
  ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT,
  ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE,
  ASM_PCI_CONTROLLER_MODEL_DMI_TO_PCI_BRIDGE,
  ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT,
  ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_UPSTREAM_PORT,
  ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_DOWNSTREAM_PORT,
  ASM_PCI_CONTROLLER_MODEL_PCI_EXPANDER_BUS,
  ASM_PCI_CONTROLLER_MODEL_PCIE_EXPANDER_BUS,
  ASM_PCI_CONTROLLER_MODEL_PCIE_TO_PCI_BRIDGE,
} AsmPciControllerModel;

/**
 * ASM_TYPE_PCI_CONTROLLER_MODEL:
 *
 * The #GType of #AsmPciControllerModel, an enumeration type registered by
 * asm_pci_controller_model_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_PCI_CONTROLLER_MODEL (asm_pci_controller_model_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_pci_controller_model_get_type (void) G_GNUC_CONST;

/**
 * AsmPciControllerInfo:
 * @index: the controller index
 * @model: the controller model
 * @is_root: %TRUE for pci-root and pcie-root
 * @domain: the domain of the bus the controller provides
 * @bus: the id of that bus (0 for a root, else @index)
 * @plugged_at: where the controller is plugged in (zero for a root)
 * @accepts: what the bus accepts (type bits, and %ASM_PCI_CONNECT_AUTOASSIGN
 *   and %ASM_PCI_CONNECT_HOTPLUGGABLE when it allows them)
 * @min_slot: the bus's lowest usable slot
 * @max_slot: the bus's highest usable slot
 * @isolation_group: the bus's isolation group
 * @isolation_locked: %TRUE when the group never changes by itself
 * @n_reserved: functions reserved on the bus
 *
 * A description of one controller and its bus, filled in by
 * asm_pci_bus_set_get_controller().  A plain value.
 *
 * Since: 0.1
 */
typedef struct {
  guint32 index;
  AsmPciControllerModel model;
  gboolean is_root;
  guint32 domain;
  guint32 bus;
  AsmPciAddr plugged_at;
  AsmPciConnectFlags accepts;
  guint8 min_slot;
  guint8 max_slot;
  guint32 isolation_group;
  gboolean isolation_locked;
  guint n_reserved;
} AsmPciControllerInfo;

/**
 * ASM_TYPE_PCI_CONTROLLER_INFO:
 *
 * The #GType of #AsmPciControllerInfo, a boxed type registered by
 * asm_pci_controller_info_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_PCI_CONTROLLER_INFO (asm_pci_controller_info_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_pci_controller_info_get_type (void) G_GNUC_CONST;

/**
 * AsmPciBusSet:
 *
 * The PCI buses of one machine, one per controller, with libvirt
 * `domain_addr` meaning, and the addresses reserved on them.  Reference
 * counted; see the theory comment in src/asm-pci-bus.c.
 *
 * Since: 0.1
 */
typedef struct _AsmPciBusSet AsmPciBusSet;

/**
 * ASM_TYPE_PCI_BUS_SET:
 *
 * The #GType of #AsmPciBusSet, a boxed type registered by
 * asm_pci_bus_set_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_PCI_BUS_SET (asm_pci_bus_set_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_pci_bus_set_get_type (void) G_GNUC_CONST;

/**
 * AsmPciGrowFunc:
 * @set: the set that has no room
 * @flags: the connect flags of the device that found no room
 * @user_data: the data given to asm_pci_bus_set_set_grow_func()
 * @error: return location for a #GError
 *
 * Called by asm_pci_bus_set_reserve_next() when no address accepts @flags,
 * so that the caller's policy can add a controller (a pci-bridge, a
 * pcie-root-port, ...) with asm_pci_bus_set_add_controller() or
 * asm_pci_bus_set_add_controller_next().  Not called again while it runs.
 *
 * Returns: %TRUE when it added room (the search is then retried once),
 *   %FALSE (with @error set or not) when it could not
 *
 * Since: 0.1
 */
typedef gboolean (*AsmPciGrowFunc) (AsmPciBusSet *set,
                                    AsmPciConnectFlags flags,
                                    gpointer user_data, GError **error);

/**
 * AsmPciForeachFunc:
 * @addr: a reserved address
 * @user_data: the data given to asm_pci_bus_set_foreach_reserved()
 *
 * Called by asm_pci_bus_set_foreach_reserved() for each reserved address,
 * in increasing order.
 *
 * Returns: %TRUE to go on, %FALSE to stop
 *
 * Since: 0.1
 */
typedef gboolean (*AsmPciForeachFunc) (const AsmPciAddr *addr,
                                       gpointer user_data);

ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_addr_parse (const char *text, AsmPciAddr *out,
                             GError **error);
ASM_AVAILABLE_IN_0_1
char *asm_pci_addr_format (const AsmPciAddr *addr);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_addr_equal (const AsmPciAddr *a, const AsmPciAddr *b);
ASM_AVAILABLE_IN_0_1
int asm_pci_addr_compare (const AsmPciAddr *a, const AsmPciAddr *b);

ASM_AVAILABLE_IN_0_1
char *asm_pci_connect_flags_to_string (AsmPciConnectFlags flags);

ASM_AVAILABLE_IN_0_1
const char *asm_pci_controller_model_to_string (AsmPciControllerModel model);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_controller_model_from_string (const char *name,
                                               AsmPciControllerModel *out,
                                               GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_controller_model_is_root (AsmPciControllerModel model);
ASM_AVAILABLE_IN_0_1
AsmPciConnectFlags
asm_pci_controller_model_get_connect_flags (AsmPciControllerModel model);
ASM_AVAILABLE_IN_0_1
AsmPciConnectFlags
asm_pci_controller_model_get_bus_flags (AsmPciControllerModel model,
                                        gboolean hotplug, guint8 *out_min_slot,
                                        guint8 *out_max_slot);

ASM_AVAILABLE_IN_0_1
AsmPciBusSet *asm_pci_bus_set_new (void);
ASM_AVAILABLE_IN_0_1
AsmPciBusSet *asm_pci_bus_set_ref (AsmPciBusSet *set);
ASM_AVAILABLE_IN_0_1
void asm_pci_bus_set_unref (AsmPciBusSet *set);
ASM_AVAILABLE_IN_0_1
AsmPciBusSet *asm_pci_bus_set_clone (AsmPciBusSet *set);

ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_bus_set_add_controller (AsmPciBusSet *set, guint32 index,
                                         AsmPciControllerModel model,
                                         const AsmPciAddr *plugged_at,
                                         GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_bus_set_add_controller_next (AsmPciBusSet *set,
                                              guint32 index,
                                              AsmPciControllerModel model,
                                              guint32 domain,
                                              AsmPciAddr *out_plugged_at,
                                              GError **error);
ASM_AVAILABLE_IN_0_1
guint asm_pci_bus_set_get_n_controllers (AsmPciBusSet *set);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_bus_set_get_controller (AsmPciBusSet *set, guint32 index,
                                         AsmPciControllerInfo *out_info);
ASM_AVAILABLE_IN_0_1
char *asm_pci_bus_set_get_controller_name (AsmPciBusSet *set, guint32 index);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_bus_set_find_controller (AsmPciBusSet *set, guint32 domain,
                                          guint32 bus, guint32 *out_index);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_bus_set_set_hotplug (AsmPciBusSet *set, guint32 index,
                                      gboolean hotplug, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_bus_set_set_isolation_group (AsmPciBusSet *set,
                                              guint32 index, guint32 group,
                                              gboolean locked,
                                              GError **error);

ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_bus_set_reserve_addr (AsmPciBusSet *set,
                                       const AsmPciAddr *addr,
                                       AsmPciConnectFlags flags,
                                       gboolean from_config, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_bus_set_reserve_addr_full (AsmPciBusSet *set,
                                            const AsmPciAddr *addr,
                                            AsmPciConnectFlags flags,
                                            guint32 isolation_group,
                                            gboolean from_config,
                                            GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_bus_set_reserve_slot (AsmPciBusSet *set,
                                       const AsmPciAddr *addr,
                                       AsmPciConnectFlags flags,
                                       gboolean from_config, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_bus_set_reserve_next (AsmPciBusSet *set,
                                       AsmPciConnectFlags flags,
                                       AsmPciAddr *out_addr, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_bus_set_reserve_next_full (AsmPciBusSet *set,
                                            AsmPciConnectFlags flags,
                                            guint32 isolation_group,
                                            AsmPciAddr *out_addr,
                                            GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_bus_set_release_addr (AsmPciBusSet *set,
                                       const AsmPciAddr *addr,
                                       GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_bus_set_is_reserved (AsmPciBusSet *set,
                                      const AsmPciAddr *addr);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_bus_set_is_aggregate_slot (AsmPciBusSet *set,
                                            const AsmPciAddr *addr);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_bus_set_is_multifunction (AsmPciBusSet *set,
                                           const AsmPciAddr *addr);
ASM_AVAILABLE_IN_0_1
guint64 asm_pci_bus_set_get_n_reserved (AsmPciBusSet *set);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_bus_set_foreach_reserved (AsmPciBusSet *set,
                                           AsmPciForeachFunc func,
                                           gpointer user_data);
ASM_AVAILABLE_IN_0_1
void asm_pci_bus_set_set_grow_func (AsmPciBusSet *set, AsmPciGrowFunc func,
                                    gpointer user_data,
                                    GDestroyNotify destroy);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_bus_set_check (AsmPciBusSet *set, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AsmPciBusSet, asm_pci_bus_set_unref)

G_END_DECLS
