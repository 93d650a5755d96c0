/* asm-pci-private.h: what the PCI bus set takes from the PCI address module,
 * and the bus set's entry points for the PCI policy only
 *
 * Not installed.  asm-pci-addr.c owns the controller model table and the
 * connect flags' meaning; asm-pci-bus.c uses them through the public
 * queries of asm-pci.h and the few helpers below.  See the theory comments
 * of both files.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <asm/asm-pci.h>

G_BEGIN_DECLS

/* Why a device's connect flags do not fit a bus's accepted flags. */
typedef enum {
  ASM_PCI_FIT_OK,
  ASM_PCI_FIT_NOT_INTEGRATED, /* integrated, and the bus is not bus 0 */
  ASM_PCI_FIT_NO_AUTOASSIGN,  /* auto-assigned, the bus takes none */
  ASM_PCI_FIT_NO_HOTPLUG,     /* hotpluggable, the bus has no hotplug */
  ASM_PCI_FIT_NO_TYPE,        /* no type bit in common */
} AsmPciFit;

/* libvirt's virDomainPCIAddressFlagsCompatible: whether a device with
 * connect flags @dev fits a bus that accepts @accepts (@bus_zero: the bus
 * is bus 0 of its domain; @from_config: the address was given in
 * configuration). */
AsmPciFit asm_pci_connect_fits (AsmPciConnectFlags accepts, gboolean bus_zero,
                                AsmPciConnectFlags dev, gboolean from_config);

/* Fails with ASM_ERROR_INVALID when @flags hold unknown bits or no type
 * bit. */
gboolean asm_pci_connect_flags_check (AsmPciConnectFlags flags,
                                      GError **error);

/* The name of the first type bit of @flags in libvirt's order ("PCI
 * device", "pcie-root-port", ...), for messages. */
const char *asm_pci_connect_type_name (AsmPciConnectFlags flags);

/* libvirt's alias of controller @index of @model: "pcie.N" for a
 * pcie-root, "pci.N" for every other model. */
char *asm_pci_controller_name (AsmPciControllerModel model, guint32 index);

/* asm-pci-bus.c, for the PCI policy: a non-root controller that provides
 * its bus but is plugged in nowhere (a cycle of controllers that libvirt
 * plugs into each other's buses); see "Floating controllers" in the
 * theory of asm-pci-bus.c. */
gboolean asm_pci_bus_set_add_floating_controller (AsmPciBusSet *set,
                                                  guint32 index,
                                                  AsmPciControllerModel model,
                                                  guint32 domain,
                                                  GError **error);
gboolean asm_pci_bus_set_is_floating (AsmPciBusSet *set, guint32 index);

G_END_DECLS
