/* asm-pci-policy-models.c: the device models libvirt knows, and the bus
 * each needs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory.  libvirt's qemu driver gives each device connect flags from its
 * model (qemuDomainDeviceCalculatePCIConnectFlags, with QEMU 7.2's
 * capabilities on x86_64): virtio devices are PCI Express on q35 unless
 * transitional, e1000e, igb, xhci, bochs and host devices are PCI
 * Express, a virtio IOMMU must be integrated on the root bus, everything
 * else that is on PCI is conventional PCI, and some models are not on PCI
 * at all (USB, ISA, ...).  This file is that knowledge as tables: one row
 * per (class, model) with its #AsmPciDeviceBus, and the controllers'
 * defaults (a USB controller without a model is piix3-uhci on pc,
 * qemu-xhci on q35; SCSI "auto" is lsilogic), their fixed places
 * (#AsmPciDeviceRole) and the ICH9 USB2 companions' functions.  The bus
 * kind becomes connect flags only when the machine is known
 * (asm_pci_policy_assign()), so a device described once fits either
 * machine.
 *
 * A model that is not in the table is refused with libvirt's words
 * ("unknown sound model 'x'") for the classes whose models libvirt
 * checks; libvirt takes any shmem model (conventional PCI) and any network
 * model string it has no name for (ne2k_pci, pcnet, ...: PCI Express on
 * q35).  Two models libvirt wants on PCI without giving them connect
 * flags (usb-net, ich7 sound) are marked so: without a given address
 * placing them fails, as in libvirt.  The device keeps its model, for
 * libvirt's checks of the whole domain (one vsock, one panic device of a
 * model, USB buses, USB disabled).  Lookups are linear in a table of a
 * few dozen rows.
 */
#include "asm-pci-policy-private.h"

#include <string.h>

typedef struct {
  AsmPciDeviceClass klass;
  const char *model;      /* NULL: the row for a device without a model */
  AsmPciDeviceBus bus;
  gboolean no_flags;      /* libvirt wants a PCI address for it, yet gives
                             it no connect flags: placing it fails */
} ModelRow;

#define BUS_NONE ASM_PCI_DEVICE_BUS_NONE
#define BUS_PCI ASM_PCI_DEVICE_BUS_PCI
#define BUS_PCIE ASM_PCI_DEVICE_BUS_PCIE

static const ModelRow models[] = {
  { ASM_PCI_DEVICE_CLASS_FILESYSTEM, NULL, BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_FILESYSTEM, "virtio", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_FILESYSTEM, "virtio-non-transitional", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_FILESYSTEM, "virtio-transitional", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_FILESYSTEM, "virtiofs", BUS_PCIE },

  { ASM_PCI_DEVICE_CLASS_NET, NULL, BUS_PCI }, /* rtl8139 */
  { ASM_PCI_DEVICE_CLASS_NET, "virtio", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_NET, "virtio-non-transitional", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_NET, "e1000e", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_NET, "igb", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_NET, "usb-net", BUS_NONE, TRUE },
  /* the other models libvirt 9.0 has a name for are conventional PCI;
   * a model it has no name for is kept as a string and is PCI Express
   * (any_model_is_pcie) */
  { ASM_PCI_DEVICE_CLASS_NET, "rtl8139", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_NET, "e1000", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_NET, "virtio-transitional", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_NET, "netfront", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_NET, "spapr-vlan", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_NET, "lan9118", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_NET, "smc91c111", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_NET, "vlance", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_NET, "vmxnet", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_NET, "vmxnet2", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_NET, "vmxnet3", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_NET, "Am79C970A", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_NET, "Am79C973", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_NET, "82540EM", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_NET, "82545EM", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_NET, "82543GC", BUS_PCI },

  { ASM_PCI_DEVICE_CLASS_SOUND, "es1370", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_SOUND, "ac97", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_SOUND, "ich6", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_SOUND, "ich9", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_SOUND, "sb16", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_SOUND, "pcspk", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_SOUND, "usb", BUS_NONE },
  /* known to libvirt, not to QEMU 7.2 */
  { ASM_PCI_DEVICE_CLASS_SOUND, "ich7", BUS_NONE, TRUE },

  /* disks: the model is the disk's bus */
  { ASM_PCI_DEVICE_CLASS_DISK, "virtio", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_DISK, "virtio-non-transitional", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_DISK, "virtio-transitional", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_DISK, "ide", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_DISK, "sata", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_DISK, "scsi", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_DISK, "usb", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_DISK, "fdc", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_DISK, "sd", BUS_NONE },

  /* host devices: the model is the host device's type */
  { ASM_PCI_DEVICE_CLASS_HOSTDEV, "pci", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_HOSTDEV, "mdev", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_HOSTDEV, "scsi_host", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_HOSTDEV, "scsi_host-transitional", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_HOSTDEV, "usb", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_HOSTDEV, "scsi", BUS_NONE },

  { ASM_PCI_DEVICE_CLASS_MEMBALLOON, "virtio", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_MEMBALLOON, "virtio-non-transitional", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_MEMBALLOON, "virtio-transitional", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_MEMBALLOON, "none", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_MEMBALLOON, "xen", BUS_NONE },

  { ASM_PCI_DEVICE_CLASS_RNG, "virtio", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_RNG, "virtio-non-transitional", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_RNG, "virtio-transitional", BUS_PCI },

  { ASM_PCI_DEVICE_CLASS_WATCHDOG, "i6300esb", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_WATCHDOG, "ib700", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_WATCHDOG, "diag288", BUS_NONE },

  { ASM_PCI_DEVICE_CLASS_VIDEO, NULL, BUS_PCI }, /* cirrus */
  { ASM_PCI_DEVICE_CLASS_VIDEO, "default", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_VIDEO, "cirrus", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_VIDEO, "vga", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_VIDEO, "vmvga", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_VIDEO, "xen", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_VIDEO, "vbox", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_VIDEO, "qxl", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_VIDEO, "parallels", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_VIDEO, "virtio", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_VIDEO, "bochs", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_VIDEO, "none", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_VIDEO, "ramfb", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_VIDEO, "gop", BUS_NONE },

  { ASM_PCI_DEVICE_CLASS_SHMEM, NULL, BUS_PCI }, /* ivshmem */

  /* inputs: the model is the input's bus */
  { ASM_PCI_DEVICE_CLASS_INPUT, NULL, BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_INPUT, "virtio", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_INPUT, "ps2", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_INPUT, "usb", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_INPUT, "xen", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_INPUT, "parallels", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_INPUT, "none", BUS_NONE },

  /* serial ports: the model is the target type */
  { ASM_PCI_DEVICE_CLASS_SERIAL, NULL, BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_SERIAL, "pci-serial", BUS_PCI },
  { ASM_PCI_DEVICE_CLASS_SERIAL, "isa-serial", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_SERIAL, "usb-serial", BUS_NONE },

  { ASM_PCI_DEVICE_CLASS_IOMMU, "virtio", ASM_PCI_DEVICE_BUS_PCIE_INTEGRATED },
  { ASM_PCI_DEVICE_CLASS_IOMMU, "intel", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_IOMMU, "smmuv3", BUS_NONE },

  { ASM_PCI_DEVICE_CLASS_VSOCK, NULL, BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_VSOCK, "virtio", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_VSOCK, "virtio-non-transitional", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_VSOCK, "virtio-transitional", BUS_PCI },

  { ASM_PCI_DEVICE_CLASS_MEMORY, "virtio-pmem", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_MEMORY, "virtio-mem", BUS_PCIE },
  { ASM_PCI_DEVICE_CLASS_MEMORY, "dimm", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_MEMORY, "nvdimm", BUS_NONE },

  { ASM_PCI_DEVICE_CLASS_PANIC, NULL, BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_PANIC, "isa", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_PANIC, "pseries", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_PANIC, "hyperv", BUS_NONE },
  { ASM_PCI_DEVICE_CLASS_PANIC, "s390", BUS_NONE },

  { ASM_PCI_DEVICE_CLASS_OTHER, NULL, BUS_NONE },
  /* a device on a USB bus (redirdev, hub, smartcard, ...) */
  { ASM_PCI_DEVICE_CLASS_OTHER, "usb", BUS_NONE },
};

/* the classes libvirt takes any model of: an unknown shmem model is
 * conventional PCI, an unknown network model (a string libvirt has no
 * name for: ne2k_pci, pcnet, i82551, ...) PCI Express */
static gboolean
any_model_is_pci (AsmPciDeviceClass klass)
{
  return klass == ASM_PCI_DEVICE_CLASS_SHMEM;
}

static gboolean
any_model_is_pcie (AsmPciDeviceClass klass)
{
  return klass == ASM_PCI_DEVICE_CLASS_NET;
}

static const char *
class_word (AsmPciDeviceClass klass)
{
  static const char *const words[] = {
    "PCI controller", "filesystem", "network", "sound", "controller",
    "disk bus", "host device type", "memballoon", "rng", "watchdog",
    "video", "shmem", "input bus", "serial target type", "iommu", "vsock",
    "memory", "panic", "device",
  };

  G_STATIC_ASSERT (G_N_ELEMENTS (words) == ASM_PCI_DEVICE_CLASS_OTHER + 1);
  return words[klass];
}

/**
 * asm_pci_policy_device_new_for_model:
 * @machine: the machine the device is for (it decides fixed places)
 * @klass: what the device is; not %ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER nor
 *   %ASM_PCI_DEVICE_CLASS_CONTROLLER (see
 *   asm_pci_policy_device_new_controller())
 * @model: (nullable): its model as libvirt names it ("virtio", "e1000e",
 *   "qxl", "i6300esb", ...; for disks and inputs the bus, for host devices
 *   the type), or %NULL for libvirt's default model
 * @name: (nullable): its name in messages
 * @error: return location for a #GError
 *
 * Creates a device with the bus its model needs, from libvirt's table of
 * models (see the theory comment of src/asm-pci-policy-models.c): for
 * example a "virtio" net is PCI Express, an "e1000" one conventional PCI,
 * a "usb" sound card is not on PCI, "ich9" sound on q35 has its place at
 * 00:1b.0.
 *
 * Returns: (transfer full): the new device, or %NULL with
 *   %ASM_ERROR_INVALID for a class out of range or a model libvirt does
 *   not know ("unknown sound model 'x'")
 *
 * Since: 0.1
 */
AsmPciPolicyDevice *
asm_pci_policy_device_new_for_model (AsmPciMachine machine,
                                     AsmPciDeviceClass klass,
                                     const char *model, const char *name,
                                     GError **error)
{
  PolDevice *dev;

  if ((guint) klass > ASM_PCI_DEVICE_CLASS_OTHER ||
      klass == ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER ||
      klass == ASM_PCI_DEVICE_CLASS_CONTROLLER)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "device class %u has no model table here (controllers: "
                   "asm_pci_policy_device_new_controller)",
                   (guint) klass);
      return NULL;
    }
  if ((guint) machine > ASM_PCI_MACHINE_Q35)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "machine %u is out of range 0..%u", (guint) machine,
                   (guint) ASM_PCI_MACHINE_Q35);
      return NULL;
    }
  for (guint i = 0; i < G_N_ELEMENTS (models); i++)
    if (models[i].klass == klass && g_strcmp0 (models[i].model, model) == 0)
      {
        dev = pol_device_alloc (klass, name);
        dev->bus = models[i].bus;
        dev->no_flags = models[i].no_flags;
        dev->model = g_strdup (model);
        if (klass == ASM_PCI_DEVICE_CLASS_SOUND &&
            machine == ASM_PCI_MACHINE_Q35 && strcmp (model, "ich9") == 0)
          dev->role = ASM_PCI_DEVICE_ROLE_Q35_ICH9_SOUND;
        return dev;
      }
  if (model != NULL && (any_model_is_pci (klass) || any_model_is_pcie (klass)))
    {
      dev = pol_device_alloc (klass, name);
      dev->bus = any_model_is_pci (klass) ? ASM_PCI_DEVICE_BUS_PCI
                                          : ASM_PCI_DEVICE_BUS_PCIE;
      dev->model = g_strdup (model);
      return dev;
    }
  g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID, "unknown %s model '%s'",
               class_word (klass), model != NULL ? model : "");
  return NULL;
}

static gboolean
str_in (const char *s, const char *const *list)
{
  for (guint i = 0; list[i] != NULL; i++)
    if (g_strcmp0 (s, list[i]) == 0)
      return TRUE;
  return FALSE;
}

/**
 * asm_pci_policy_device_new_controller:
 * @machine: the machine the controller is for
 * @type: the controller type: "pci", "usb", "scsi", "virtio-serial",
 *   "sata", "ide", or one never on PCI ("fdc", "ccid", "xenbus", "isa")
 * @model: (nullable): its model, or %NULL for libvirt's default (a PCI
 *   controller needs one)
 * @index: its index among the controllers of @type
 * @name: (nullable): its name in messages
 * @error: return location for a #GError
 *
 * Creates a controller from libvirt's table of controller models: the bus
 * it needs, its fixed place (the PIIX3 IDE and USB functions on pc, the
 * ICH9 SATA and USB on q35), the function of an ICH9 USB2 companion.  Its
 * list position is (0, @index); libvirt groups controllers by type, see
 * asm_pci_policy_device_set_list_position().
 *
 * Returns: (transfer full): the new device, or %NULL with
 *   %ASM_ERROR_INVALID for an unknown type or model, a PCI controller
 *   without a model or with an index above %ASM_PCI_POLICY_INDEX_MAX, an
 *   IDE controller on q35 or a second one on pc (libvirt's reasons)
 *
 * Since: 0.1
 */
AsmPciPolicyDevice *
asm_pci_policy_device_new_controller (AsmPciMachine machine,
                                      const char *type, const char *model,
                                      guint32 index, const char *name,
                                      GError **error)
{
  static const char *const usb_pci[] = {
    "piix3-uhci", "piix4-uhci", "ehci", "ich9-ehci1", "ich9-uhci1",
    "ich9-uhci2", "ich9-uhci3", "vt82c686b-uhci", "pci-ohci", NULL
  };
  static const char *const usb_pcie[] = { "nec-xhci", "qemu-xhci", NULL };
  static const char *const usb_none[] = { "none", "qusb1", "qusb2",
                                          "usb-ehci", "usb-uhci", NULL };
  static const char *const scsi_pci[] = {
    "virtio-transitional", "lsilogic", "buslogic", "lsisas1068",
    "vmpvscsi", "ibmvscsi", "lsisas1078", "dc390", "am53c974", NULL
  };
  static const char *const scsi_virtio[] = {
    "virtio-scsi", "virtio-non-transitional", NULL
  };
  static const char *const no_pci[] = { "fdc", "ccid", "xenbus", "isa",
                                        NULL };
  gboolean q35 = machine == ASM_PCI_MACHINE_Q35;
  g_autoptr (AsmPciPolicyDevice) dev = NULL;
  AsmPciDeviceBus bus = ASM_PCI_DEVICE_BUS_NONE;

  g_return_val_if_fail (type != NULL, NULL);
  if ((guint) machine > ASM_PCI_MACHINE_Q35)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "machine %u is out of range 0..%u", (guint) machine,
                   (guint) ASM_PCI_MACHINE_Q35);
      return NULL;
    }
  if (strcmp (type, "pci") == 0)
    {
      AsmPciControllerModel pm;

      if (model == NULL)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "a PCI controller needs a model (pci-root, "
                       "pcie-root, pci-bridge, pcie-root-port, ...)");
          return NULL;
        }
      if (!asm_pci_controller_model_from_string (model, &pm, NULL))
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "unknown PCI controller model '%s'", model);
          return NULL;
        }
      if (index > ASM_PCI_POLICY_INDEX_MAX)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "PCI controller index %u is out of range 0..%u",
                       index, ASM_PCI_POLICY_INDEX_MAX);
          return NULL;
        }
      return asm_pci_policy_device_new_pci_controller (pm, index, name);
    }
  dev = pol_device_alloc (ASM_PCI_DEVICE_CLASS_CONTROLLER, name);
  dev->is_controller = TRUE;
  dev->ctype = g_strdup (type);
  dev->index = index;
  dev->ord[1] = index;
  if (strcmp (type, "usb") == 0)
    {
      const char *m = model != NULL ? model : q35 ? "qemu-xhci" : "piix3-uhci";

      if (str_in (m, usb_pci))
        bus = ASM_PCI_DEVICE_BUS_PCI;
      else if (str_in (m, usb_pcie))
        bus = ASM_PCI_DEVICE_BUS_PCIE;
      else if (!str_in (m, usb_none))
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "unknown USB controller model '%s'", m);
          return NULL;
        }
      dev->model = g_strdup (m);
      if (strcmp (m, "ich9-ehci1") == 0)
        dev->usb2_function = 7;
      else if (g_str_has_prefix (m, "ich9-uhci"))
        dev->usb2_function = m[9] - '1';
      if (index == 0 && !q35 && strcmp (m, "piix3-uhci") == 0)
        dev->role = ASM_PCI_DEVICE_ROLE_PIIX3_USB;
      if (q35 && strcmp (m, "ich9-uhci1") == 0)
        dev->role = ASM_PCI_DEVICE_ROLE_Q35_USB_UHCI1;
    }
  else if (strcmp (type, "scsi") == 0)
    {
      const char *m = model == NULL || strcmp (model, "auto") == 0
                        ? "lsilogic"
                        : model;

      dev->model = g_strdup (m);
      if (str_in (m, scsi_virtio))
        bus = ASM_PCI_DEVICE_BUS_PCIE;
      else if (str_in (m, scsi_pci))
        bus = ASM_PCI_DEVICE_BUS_PCI;
      else if (strcmp (m, "ncr53c90") != 0)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "unknown SCSI controller model '%s'", m);
          return NULL;
        }
    }
  else if (strcmp (type, "virtio-serial") == 0)
    {
      if (g_strcmp0 (model, "virtio-transitional") == 0)
        bus = ASM_PCI_DEVICE_BUS_PCI;
      else if (model == NULL || strcmp (model, "virtio") == 0 ||
               strcmp (model, "virtio-non-transitional") == 0)
        bus = ASM_PCI_DEVICE_BUS_PCIE;
      else
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "unknown virtio-serial controller model '%s'", model);
          return NULL;
        }
    }
  else if (strcmp (type, "sata") == 0)
    {
      bus = ASM_PCI_DEVICE_BUS_PCI;
      if (index == 0 && q35)
        dev->role = ASM_PCI_DEVICE_ROLE_Q35_SATA;
    }
  else if (strcmp (type, "ide") == 0)
    {
      if (q35)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "IDE controllers are unsupported for the q35 "
                       "machine type");
          return NULL;
        }
      if (index != 0)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "only one IDE controller is supported for the pc "
                       "machine type");
          return NULL;
        }
      bus = ASM_PCI_DEVICE_BUS_PCI;
      dev->role = ASM_PCI_DEVICE_ROLE_PIIX3_IDE;
    }
  else if (str_in (type, no_pci))
    dev->klass = ASM_PCI_DEVICE_CLASS_OTHER;
  else
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "unknown controller type '%s'", type);
      return NULL;
    }
  dev->bus = bus;
  return g_steal_pointer (&dev);
}
