/* asm-pci-policy.h: libvirt's PCI address policy over a bus set (layer 2)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ASM_INSIDE) && !defined(ASM_COMPILATION)
#error "Only <asm/asm.h> can be included directly."
#endif

#include <asm/asm-pci.h>

G_BEGIN_DECLS

/**
 * ASM_PCI_POLICY_INDEX_MAX:
 *
 * The highest PCI controller index the policy accepts or adds: a PCI
 * domain has 256 bus numbers and a controller's index is its bus number
 * (libvirt refuses a higher one too).
 *
 * Since: 0.1
 */
#define ASM_PCI_POLICY_INDEX_MAX 255

/**
 * ASM_PCI_POLICY_MAX_DEVICES:
 *
 * The most devices one #AsmPciPolicy describes (a machine holds at most
 * 256 buses of 32 slots of 8 functions, 65,536 functions: more devices
 * than that can never all be placed).
 *
 * Since: 0.1
 */
#define ASM_PCI_POLICY_MAX_DEVICES 65536

/**
 * AsmPciMachine:
 * @ASM_PCI_MACHINE_PC: the i440fx `pc` machine: a pci-root, conventional
 *   PCI only
 * @ASM_PCI_MACHINE_Q35: the `q35` machine: a pcie-root, PCI Express
 *
 * The x86 machine types whose placement rules the policy knows.
 *
 * Since: 0.1
 */
typedef enum {
  ASM_PCI_MACHINE_PC,
  ASM_PCI_MACHINE_Q35,
} AsmPciMachine;

/**
 * ASM_TYPE_PCI_MACHINE:
 *
 * The #GType of #AsmPciMachine.
 *
 * Since: 0.1
 */
#define ASM_TYPE_PCI_MACHINE (asm_pci_machine_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_pci_machine_get_type (void) G_GNUC_CONST;

/**
 * AsmPciDeviceClass:
 * @ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER: a PCI controller (pci-root,
 *   pcie-root-port, pci-bridge, ...)
 * @ASM_PCI_DEVICE_CLASS_FILESYSTEM: a shared filesystem (virtio-9p,
 *   virtiofs)
 * @ASM_PCI_DEVICE_CLASS_NET: a network interface
 * @ASM_PCI_DEVICE_CLASS_SOUND: a sound card
 * @ASM_PCI_DEVICE_CLASS_CONTROLLER: another controller (USB, SCSI, SATA,
 *   IDE, virtio-serial)
 * @ASM_PCI_DEVICE_CLASS_DISK: a disk
 * @ASM_PCI_DEVICE_CLASS_HOSTDEV: a host device (VFIO, SCSI host)
 * @ASM_PCI_DEVICE_CLASS_MEMBALLOON: a memory balloon
 * @ASM_PCI_DEVICE_CLASS_RNG: a random number generator
 * @ASM_PCI_DEVICE_CLASS_WATCHDOG: a watchdog
 * @ASM_PCI_DEVICE_CLASS_VIDEO: a video adapter (the first one, or the one
 *   marked with asm_pci_policy_device_set_primary_video(), is primary)
 * @ASM_PCI_DEVICE_CLASS_SHMEM: a shared memory device
 * @ASM_PCI_DEVICE_CLASS_INPUT: an input device
 * @ASM_PCI_DEVICE_CLASS_SERIAL: a serial port
 * @ASM_PCI_DEVICE_CLASS_IOMMU: an IOMMU
 * @ASM_PCI_DEVICE_CLASS_VSOCK: a vsock device
 * @ASM_PCI_DEVICE_CLASS_MEMORY: a memory device (virtio-mem, virtio-pmem)
 * @ASM_PCI_DEVICE_CLASS_PANIC: a panic device
 * @ASM_PCI_DEVICE_CLASS_OTHER: anything else: never given an address, but
 *   the address it has is kept and reserved
 *
 * What a device is, as far as placement goes.  The order is libvirt's
 * order of assignment: devices without an address are placed class by
 * class in this order.
 *
 * Since: 0.1
 */
typedef enum {
  ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER,
  ASM_PCI_DEVICE_CLASS_FILESYSTEM,
  ASM_PCI_DEVICE_CLASS_NET,
  ASM_PCI_DEVICE_CLASS_SOUND,
  ASM_PCI_DEVICE_CLASS_CONTROLLER,
  ASM_PCI_DEVICE_CLASS_DISK,
  ASM_PCI_DEVICE_CLASS_HOSTDEV,
  ASM_PCI_DEVICE_CLASS_MEMBALLOON,
  ASM_PCI_DEVICE_CLASS_RNG,
  ASM_PCI_DEVICE_CLASS_WATCHDOG,
  ASM_PCI_DEVICE_CLASS_VIDEO,
  ASM_PCI_DEVICE_CLASS_SHMEM,
  ASM_PCI_DEVICE_CLASS_INPUT,
  ASM_PCI_DEVICE_CLASS_SERIAL,
  ASM_PCI_DEVICE_CLASS_IOMMU,
  ASM_PCI_DEVICE_CLASS_VSOCK,
  ASM_PCI_DEVICE_CLASS_MEMORY,
  ASM_PCI_DEVICE_CLASS_PANIC,
  ASM_PCI_DEVICE_CLASS_OTHER,
} AsmPciDeviceClass;

/**
 * ASM_TYPE_PCI_DEVICE_CLASS:
 *
 * The #GType of #AsmPciDeviceClass.
 *
 * Since: 0.1
 */
#define ASM_TYPE_PCI_DEVICE_CLASS (asm_pci_device_class_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_pci_device_class_get_type (void) G_GNUC_CONST;

/**
 * AsmPciDeviceBus:
 * @ASM_PCI_DEVICE_BUS_NONE: not a PCI device (USB, ISA, ...): it gets no
 *   address
 * @ASM_PCI_DEVICE_BUS_PCI: a conventional PCI device
 * @ASM_PCI_DEVICE_BUS_PCIE: a PCI Express device (virtio, e1000e, xhci,
 *   host devices): on a machine without PCI Express (`pc`) a conventional
 *   one
 * @ASM_PCI_DEVICE_BUS_PCIE_INTEGRATED: a PCI Express device that must sit
 *   on the root bus (a virtio IOMMU)
 *
 * The kind of bus a device needs.  The policy turns it into
 * #AsmPciConnectFlags for the machine (hotpluggable, auto-assigned);
 * asm_pci_policy_device_set_connect_flags() gives the flags directly.
 *
 * Since: 0.1
 */
typedef enum {
  ASM_PCI_DEVICE_BUS_NONE,
  ASM_PCI_DEVICE_BUS_PCI,
  ASM_PCI_DEVICE_BUS_PCIE,
  ASM_PCI_DEVICE_BUS_PCIE_INTEGRATED,
} AsmPciDeviceBus;

/**
 * ASM_TYPE_PCI_DEVICE_BUS:
 *
 * The #GType of #AsmPciDeviceBus.
 *
 * Since: 0.1
 */
#define ASM_TYPE_PCI_DEVICE_BUS (asm_pci_device_bus_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_pci_device_bus_get_type (void) G_GNUC_CONST;

/**
 * AsmPciDeviceRole:
 * @ASM_PCI_DEVICE_ROLE_NONE: no fixed place
 * @ASM_PCI_DEVICE_ROLE_PIIX3_IDE: pc: the PIIX3 IDE controller, 00:01.1
 * @ASM_PCI_DEVICE_ROLE_PIIX3_USB: pc: the PIIX3 UHCI USB controller 0,
 *   00:01.2
 * @ASM_PCI_DEVICE_ROLE_Q35_SATA: q35: the ICH9 SATA controller 0, 00:1f.2
 * @ASM_PCI_DEVICE_ROLE_Q35_USB_UHCI1: q35: an ich9-uhci1 USB controller,
 *   preferably 00:1d.0, else 00:1a.0
 * @ASM_PCI_DEVICE_ROLE_Q35_ICH9_SOUND: q35: ICH9 sound, preferably 00:1b.0
 *
 * The chipset functions that have a place of their own.
 * asm_pci_policy_device_new_for_model() sets the role from the model.
 *
 * Since: 0.1
 */
typedef enum {
  ASM_PCI_DEVICE_ROLE_NONE,
  ASM_PCI_DEVICE_ROLE_PIIX3_IDE,
  ASM_PCI_DEVICE_ROLE_PIIX3_USB,
  ASM_PCI_DEVICE_ROLE_Q35_SATA,
  ASM_PCI_DEVICE_ROLE_Q35_USB_UHCI1,
  ASM_PCI_DEVICE_ROLE_Q35_ICH9_SOUND,
} AsmPciDeviceRole;

/**
 * ASM_TYPE_PCI_DEVICE_ROLE:
 *
 * The #GType of #AsmPciDeviceRole.
 *
 * Since: 0.1
 */
#define ASM_TYPE_PCI_DEVICE_ROLE (asm_pci_device_role_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_pci_device_role_get_type (void) G_GNUC_CONST;

/**
 * AsmPciMultifunction:
 * @ASM_PCI_MULTIFUNCTION_DEFAULT: not given: the policy sets it on function
 *   0 of a slot whose other functions are used
 * @ASM_PCI_MULTIFUNCTION_ON: multifunction on
 * @ASM_PCI_MULTIFUNCTION_OFF: multifunction off
 *
 * The multifunction attribute of a device's address.
 *
 * Since: 0.1
 */
typedef enum {
  ASM_PCI_MULTIFUNCTION_DEFAULT,
  ASM_PCI_MULTIFUNCTION_ON,
  ASM_PCI_MULTIFUNCTION_OFF,
} AsmPciMultifunction;

/**
 * ASM_TYPE_PCI_MULTIFUNCTION:
 *
 * The #GType of #AsmPciMultifunction.
 *
 * Since: 0.1
 */
#define ASM_TYPE_PCI_MULTIFUNCTION (asm_pci_multifunction_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_pci_multifunction_get_type (void) G_GNUC_CONST;

/**
 * AsmPciControllerTarget:
 * @ASM_PCI_CONTROLLER_TARGET_CHASSIS_NR: a pci-bridge's chassisNr
 * @ASM_PCI_CONTROLLER_TARGET_CHASSIS: a root or downstream port's chassis
 * @ASM_PCI_CONTROLLER_TARGET_PORT: a root or downstream port's port
 * @ASM_PCI_CONTROLLER_TARGET_BUS_NR: an expander bus's busNr
 *
 * The numeric target attributes of a PCI controller, which the policy
 * fills in when they are not given.
 *
 * Since: 0.1
 */
typedef enum {
  ASM_PCI_CONTROLLER_TARGET_CHASSIS_NR,
  ASM_PCI_CONTROLLER_TARGET_CHASSIS,
  ASM_PCI_CONTROLLER_TARGET_PORT,
  ASM_PCI_CONTROLLER_TARGET_BUS_NR,
} AsmPciControllerTarget;

/**
 * ASM_TYPE_PCI_CONTROLLER_TARGET:
 *
 * The #GType of #AsmPciControllerTarget.
 *
 * Since: 0.1
 */
#define ASM_TYPE_PCI_CONTROLLER_TARGET (asm_pci_controller_target_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_pci_controller_target_get_type (void) G_GNUC_CONST;

/**
 * AsmPciPolicyFlags:
 * @ASM_PCI_POLICY_NONE: libvirt's policy, nothing more
 * @ASM_PCI_POLICY_MULTI_DOMAIN: accept root controllers with an index
 *   N > 0, each PCI domain N (libvirt refuses them)
 * @ASM_PCI_POLICY_NUMA_AWARE: place a device that names a NUMA node
 *   behind an expander bus of that node, added when missing
 *
 * What the policy may do beyond libvirt.
 *
 * Since: 0.1
 */
typedef enum /*< flags >*/ {
  ASM_PCI_POLICY_NONE = 0,
  ASM_PCI_POLICY_MULTI_DOMAIN = 1 << 0,
  ASM_PCI_POLICY_NUMA_AWARE = 1 << 1,
} AsmPciPolicyFlags;

/**
 * ASM_TYPE_PCI_POLICY_FLAGS:
 *
 * The #GType of #AsmPciPolicyFlags.
 *
 * Since: 0.1
 */
#define ASM_TYPE_PCI_POLICY_FLAGS (asm_pci_policy_flags_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_pci_policy_flags_get_type (void) G_GNUC_CONST;

/**
 * AsmPciPolicyDevice:
 *
 * One device as the policy sees it: its class, the bus it needs, the
 * address it asks for, and, in an #AsmPciAssignment, the address it got.
 * Reference counted; a device added to an #AsmPciPolicy is copied, so
 * changing it afterwards changes nothing there.
 *
 * Since: 0.1
 */
typedef struct _AsmPciPolicyDevice AsmPciPolicyDevice;

/**
 * ASM_TYPE_PCI_POLICY_DEVICE:
 *
 * The #GType of #AsmPciPolicyDevice, a boxed type.
 *
 * Since: 0.1
 */
#define ASM_TYPE_PCI_POLICY_DEVICE (asm_pci_policy_device_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_pci_policy_device_get_type (void) G_GNUC_CONST;

/**
 * AsmPciPolicy:
 *
 * A machine described for placement: its type, its devices (PCI
 * controllers included) and options.  Reference counted; see the theory
 * comment in src/asm-pci-policy.c.
 *
 * Since: 0.1
 */
typedef struct _AsmPciPolicy AsmPciPolicy;

/**
 * ASM_TYPE_PCI_POLICY:
 *
 * The #GType of #AsmPciPolicy, a boxed type.
 *
 * Since: 0.1
 */
#define ASM_TYPE_PCI_POLICY (asm_pci_policy_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_pci_policy_get_type (void) G_GNUC_CONST;

/**
 * AsmPciAssignment:
 *
 * The result of asm_pci_policy_assign(): every device of the policy with
 * its address, then the PCI controllers the policy added.  Reference
 * counted, immutable.
 *
 * Since: 0.1
 */
typedef struct _AsmPciAssignment AsmPciAssignment;

/**
 * ASM_TYPE_PCI_ASSIGNMENT:
 *
 * The #GType of #AsmPciAssignment, a boxed type.
 *
 * Since: 0.1
 */
#define ASM_TYPE_PCI_ASSIGNMENT (asm_pci_assignment_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_pci_assignment_get_type (void) G_GNUC_CONST;

/* devices */
ASM_AVAILABLE_IN_0_1
AsmPciPolicyDevice *asm_pci_policy_device_new (AsmPciDeviceClass klass,
                                               const char *name);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
AsmPciPolicyDevice *asm_pci_policy_device_new_for_model (
  AsmPciMachine machine, AsmPciDeviceClass klass, const char *model,
  const char *name, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
AsmPciPolicyDevice *asm_pci_policy_device_new_controller (
  AsmPciMachine machine, const char *type, const char *model, guint32 index,
  const char *name, GError **error);
ASM_AVAILABLE_IN_0_1
AsmPciPolicyDevice *asm_pci_policy_device_new_pci_controller (
  AsmPciControllerModel model, guint32 index, const char *name);
ASM_AVAILABLE_IN_0_1
AsmPciPolicyDevice *asm_pci_policy_device_ref (AsmPciPolicyDevice *dev);
ASM_AVAILABLE_IN_0_1
void asm_pci_policy_device_unref (AsmPciPolicyDevice *dev);

ASM_AVAILABLE_IN_0_1
void asm_pci_policy_device_set_bus (AsmPciPolicyDevice *dev,
                                    AsmPciDeviceBus bus);
ASM_AVAILABLE_IN_0_1
void asm_pci_policy_device_set_connect_flags (AsmPciPolicyDevice *dev,
                                              AsmPciConnectFlags flags);
ASM_AVAILABLE_IN_0_1
void asm_pci_policy_device_set_address (AsmPciPolicyDevice *dev,
                                        const AsmPciAddr *addr);
ASM_AVAILABLE_IN_0_1
void asm_pci_policy_device_set_multifunction (AsmPciPolicyDevice *dev,
                                              AsmPciMultifunction multi);
ASM_AVAILABLE_IN_0_1
void asm_pci_policy_device_set_numa_node (AsmPciPolicyDevice *dev,
                                          gint node);
ASM_AVAILABLE_IN_0_1
void asm_pci_policy_device_set_role (AsmPciPolicyDevice *dev,
                                     AsmPciDeviceRole role);
ASM_AVAILABLE_IN_0_1
void asm_pci_policy_device_set_primary_video (AsmPciPolicyDevice *dev,
                                              gboolean primary);
ASM_AVAILABLE_IN_0_1
void asm_pci_policy_device_set_usb2_function (AsmPciPolicyDevice *dev,
                                              gint function);
ASM_AVAILABLE_IN_0_1
void asm_pci_policy_device_set_controller (AsmPciPolicyDevice *dev,
                                           const char *type, guint32 index);
ASM_AVAILABLE_IN_0_1
void asm_pci_policy_device_set_list_position (AsmPciPolicyDevice *dev,
                                              guint32 group,
                                              guint64 position);
ASM_AVAILABLE_IN_0_1
void asm_pci_policy_device_set_hotplug (AsmPciPolicyDevice *dev,
                                        gboolean hotplug);
ASM_AVAILABLE_IN_0_1
void asm_pci_policy_device_set_target (AsmPciPolicyDevice *dev,
                                       AsmPciControllerTarget target,
                                       gint64 value);
ASM_AVAILABLE_IN_0_1
void asm_pci_policy_device_set_target_node (AsmPciPolicyDevice *dev,
                                            gint node);

ASM_AVAILABLE_IN_0_1
const char *asm_pci_policy_device_get_name (const AsmPciPolicyDevice *dev);
ASM_AVAILABLE_IN_0_1
AsmPciDeviceClass asm_pci_policy_device_get_class (
  const AsmPciPolicyDevice *dev);
ASM_AVAILABLE_IN_0_1
AsmPciConnectFlags asm_pci_policy_device_get_connect_flags (
  const AsmPciPolicyDevice *dev);
ASM_AVAILABLE_IN_0_1
gboolean asm_pci_policy_device_get_address (const AsmPciPolicyDevice *dev,
                                            AsmPciAddr *out_addr);
ASM_AVAILABLE_IN_0_1
gboolean asm_pci_policy_device_is_assigned (const AsmPciPolicyDevice *dev);
ASM_AVAILABLE_IN_0_1
gboolean asm_pci_policy_device_is_added (const AsmPciPolicyDevice *dev);
ASM_AVAILABLE_IN_0_1
AsmPciMultifunction asm_pci_policy_device_get_multifunction (
  const AsmPciPolicyDevice *dev);
ASM_AVAILABLE_IN_0_1
gint asm_pci_policy_device_get_numa_node (const AsmPciPolicyDevice *dev);
ASM_AVAILABLE_IN_0_1
gboolean asm_pci_policy_device_get_controller_model (
  const AsmPciPolicyDevice *dev, AsmPciControllerModel *out_model);
ASM_AVAILABLE_IN_0_1
guint32 asm_pci_policy_device_get_index (const AsmPciPolicyDevice *dev);
ASM_AVAILABLE_IN_0_1
gint64 asm_pci_policy_device_get_target (const AsmPciPolicyDevice *dev,
                                         AsmPciControllerTarget target);
ASM_AVAILABLE_IN_0_1
gint asm_pci_policy_device_get_target_node (const AsmPciPolicyDevice *dev);

/* the policy */
ASM_AVAILABLE_IN_0_1
AsmPciPolicy *asm_pci_policy_new (AsmPciMachine machine);
ASM_AVAILABLE_IN_0_1
AsmPciPolicy *asm_pci_policy_ref (AsmPciPolicy *policy);
ASM_AVAILABLE_IN_0_1
void asm_pci_policy_unref (AsmPciPolicy *policy);
ASM_AVAILABLE_IN_0_1
AsmPciMachine asm_pci_policy_get_machine (AsmPciPolicy *policy);
ASM_AVAILABLE_IN_0_1
void asm_pci_policy_set_flags (AsmPciPolicy *policy, AsmPciPolicyFlags flags);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_policy_set_spare_ports (AsmPciPolicy *policy, gint n,
                                         GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_pci_policy_add_device (AsmPciPolicy *policy,
                                    AsmPciPolicyDevice *dev,
                                    guint *out_id, GError **error);
ASM_AVAILABLE_IN_0_1
guint asm_pci_policy_get_n_devices (AsmPciPolicy *policy);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
AsmPciAssignment *asm_pci_policy_assign (AsmPciPolicy *policy,
                                         GError **error);

/* the result */
ASM_AVAILABLE_IN_0_1
AsmPciAssignment *asm_pci_assignment_ref (AsmPciAssignment *assignment);
ASM_AVAILABLE_IN_0_1
void asm_pci_assignment_unref (AsmPciAssignment *assignment);
ASM_AVAILABLE_IN_0_1
guint asm_pci_assignment_get_n_devices (AsmPciAssignment *assignment);
ASM_AVAILABLE_IN_0_1
guint asm_pci_assignment_get_n_added (AsmPciAssignment *assignment);
ASM_AVAILABLE_IN_0_1
const AsmPciPolicyDevice *asm_pci_assignment_get_device (
  AsmPciAssignment *assignment, guint id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AsmPciPolicyDevice, asm_pci_policy_device_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AsmPciPolicy, asm_pci_policy_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AsmPciAssignment, asm_pci_assignment_unref)

G_END_DECLS
