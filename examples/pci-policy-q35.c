/* pci-policy-q35.c: placing a q35 machine's devices with libvirt's policy
 *
 * A hypervisor that builds its own machine description, without libvirt
 * and without XML, still wants the PCI addresses libvirt would give: the
 * guest sees the same topology whichever stack started it.  The PCI
 * policy (asm_pci_policy_*) takes the machine type and the devices, each
 * described by what decides its place (its class and model, an address
 * when the user gave one), and answers with every address and the
 * controllers to add: root ports for PCI Express devices, the slots of
 * the chipset, libvirt's defaults for chassis and port numbers.
 *
 * This example describes a q35 machine with three virtio NICs, two virtio
 * disks, a GPU-like host device, a video adapter, a root port the user
 * asked for, a pcie-to-pci-bridge and a legacy e1000 NIC the user put
 * behind that bridge, prints the assignment, and checks it: exit status 1
 * on a wrong answer.
 *
 * Build: cc pci-policy-q35.c $(pkg-config --cflags --libs asm-1)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <asm/asm.h>

#include <stdio.h>
#include <stdlib.h>

static int failures;

static void
check (gboolean ok, const char *what)
{
  if (!ok)
    {
      fprintf (stderr, "WRONG: %s\n", what);
      failures++;
    }
}

/* adds a device of a known model; stops on an error (none is expected) */
static guint
add_model (AsmPciPolicy *policy, AsmPciDeviceClass klass, const char *model,
           const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AsmPciPolicyDevice) dev = asm_pci_policy_device_new_for_model (
    ASM_PCI_MACHINE_Q35, klass, model, name, &error);
  guint id = 0;

  if (dev == NULL || !asm_pci_policy_add_device (policy, dev, &id, &error))
    {
      fprintf (stderr, "%s: %s\n", name, error->message);
      exit (1);
    }
  return id;
}

static guint
add_controller (AsmPciPolicy *policy, AsmPciControllerModel model,
                guint32 index, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AsmPciPolicyDevice) dev =
    asm_pci_policy_device_new_pci_controller (model, index, name);
  guint id = 0;

  if (!asm_pci_policy_add_device (policy, dev, &id, &error))
    {
      fprintf (stderr, "%s: %s\n", name, error->message);
      exit (1);
    }
  return id;
}

int
main (void)
{
  g_autoptr (AsmPciPolicy) policy = asm_pci_policy_new (ASM_PCI_MACHINE_Q35);
  g_autoptr (AsmPciAssignment) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) seen =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint nic[3], disk[2], gpu, video, legacy, port, bridge;
  AsmPciAddr a;

  /* the controllers the user gave: the root (index 0), a root port for
   * hotplug, and a pcie-to-pci-bridge for legacy PCI devices */
  add_controller (policy, ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT, 0, "pcie.0");
  port = add_controller (policy, ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT, 1,
                         "user root port");
  bridge = add_controller (policy,
                           ASM_PCI_CONTROLLER_MODEL_PCIE_TO_PCI_BRIDGE, 2,
                           "pcie-to-pci-bridge");

  nic[0] = add_model (policy, ASM_PCI_DEVICE_CLASS_NET, "virtio", "net0");
  nic[1] = add_model (policy, ASM_PCI_DEVICE_CLASS_NET, "virtio", "net1");
  nic[2] = add_model (policy, ASM_PCI_DEVICE_CLASS_NET, "virtio", "net2");
  disk[0] = add_model (policy, ASM_PCI_DEVICE_CLASS_DISK, "virtio", "vda");
  disk[1] = add_model (policy, ASM_PCI_DEVICE_CLASS_DISK, "virtio", "vdb");
  /* a GPU passed through from the host: a PCI Express host device */
  gpu = add_model (policy, ASM_PCI_DEVICE_CLASS_HOSTDEV, "pci", "gpu");
  video = add_model (policy, ASM_PCI_DEVICE_CLASS_VIDEO, "vga", "video0");

  /* a legacy e1000 NIC that the user put on the bridge's bus, slot 1 */
  {
    g_autoptr (AsmPciPolicyDevice) dev = asm_pci_policy_device_new_for_model (
      ASM_PCI_MACHINE_Q35, ASM_PCI_DEVICE_CLASS_NET, "e1000", "legacy-nic",
      &error);
    AsmPciAddr want = { .domain = 0, .bus = 2, .slot = 1, .function = 0 };

    asm_pci_policy_device_set_address (dev, &want);
    if (!asm_pci_policy_add_device (policy, dev, &legacy, &error))
      {
        fprintf (stderr, "legacy-nic: %s\n", error->message);
        return 1;
      }
  }

  result = asm_pci_policy_assign (policy, &error);
  if (result == NULL)
    {
      fprintf (stderr, "assign: %s\n", error->message);
      return 1;
    }

  printf ("%-44s %-12s %s\n", "device", "address", "");
  for (guint i = 0; i < asm_pci_assignment_get_n_devices (result); i++)
    {
      const AsmPciPolicyDevice *dev = asm_pci_assignment_get_device (result, i);
      AsmPciControllerModel model;
      g_autofree char *addr = NULL;
      GString *extra = g_string_new (NULL);

      if (asm_pci_policy_device_get_controller_model (dev, &model))
        {
          g_string_append_printf (extra, "%s index %u",
                                  asm_pci_controller_model_to_string (model),
                                  asm_pci_policy_device_get_index (dev));
          if (asm_pci_policy_device_get_target (
                dev, ASM_PCI_CONTROLLER_TARGET_CHASSIS) >= 0)
            g_string_append_printf (
              extra, " chassis %" G_GINT64_FORMAT " port 0x%" G_GINT64_MODIFIER "x",
              asm_pci_policy_device_get_target (
                dev, ASM_PCI_CONTROLLER_TARGET_CHASSIS),
              asm_pci_policy_device_get_target (
                dev, ASM_PCI_CONTROLLER_TARGET_PORT));
        }
      if (asm_pci_policy_device_is_added (dev))
        g_string_append (extra, " (added)");
      if (asm_pci_policy_device_get_address (dev, &a))
        {
          addr = asm_pci_addr_format (&a);
          check (g_hash_table_insert (seen, g_strdup (addr), NULL),
                 "two devices at one address");
        }
      printf ("%-44s %-12s %s\n", asm_pci_policy_device_get_name (dev),
              addr != NULL ? addr : "(root)", extra->str);
      g_string_free (extra, TRUE);
    }

  /* the answers libvirt gives for this machine */
  check (asm_pci_policy_device_get_address (
           asm_pci_assignment_get_device (result, video), &a) &&
           a.bus == 0 && a.slot == 1 && a.function == 0,
         "the primary video is at 0000:00:01.0");
  check (asm_pci_policy_device_get_address (
           asm_pci_assignment_get_device (result, legacy), &a) &&
           a.bus == 2 && a.slot == 1,
         "the legacy NIC keeps the user's address 0000:02:01.0");
  check (asm_pci_policy_device_get_address (
           asm_pci_assignment_get_device (result, port), &a) && a.bus == 0,
         "the user's root port is on the root bus");
  check (asm_pci_policy_device_get_address (
           asm_pci_assignment_get_device (result, bridge), &a) && a.bus != 0,
         "the pcie-to-pci-bridge sits behind a root port, not on the root bus");
  {
    /* every PCI Express device sits alone on the bus of a root port */
    guint pcie[] = { nic[0], nic[1], nic[2], disk[0], disk[1], gpu };

    for (guint i = 0; i < G_N_ELEMENTS (pcie); i++)
      check (asm_pci_policy_device_get_address (
               asm_pci_assignment_get_device (result, pcie[i]), &a) &&
               a.bus != 0 && a.slot == 0,
             "a PCIe device is in slot 0 of a root port's bus");
  }
  check (asm_pci_assignment_get_n_added (result) >= 6,
         "root ports are added for the PCIe devices and the bridge");
  printf ("%u controllers added\n", asm_pci_assignment_get_n_added (result));
  return failures == 0 ? 0 : 1;
}
