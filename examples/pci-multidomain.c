/* pci-multidomain.c: PCI addresses over several PCI domains
 *
 * Seeds/002: libvirt-style PCI controllers spread over several PCI domains
 * (a pSeries machine with more than one PHB, or a host with several
 * segments).  Controller indexes map to domain:bus pairs this way:
 *
 *   - a root controller (pci-root, pcie-root) with index N establishes
 *     domain N and provides bus 0 of it;
 *   - a non-root controller with index N, plugged into a bus of domain D,
 *     provides bus N of domain D, and its index must exceed the index of
 *     the controller it plugs into, so index 0 is always a root.
 *
 * So `0000:00` is the bus of root 0, and `000f:1b` is the bus of the
 * non-root controller 27 (0x1b) plugged into domain 15 (0xf).  Bus ids are
 * not limited to 8 bits in configuration.
 *
 * The example builds such a machine with an AsmPciBusSet, maps domain:bus
 * pairs back to controllers, assigns addresses automatically and from
 * configuration, shows the errors for controllers that break the rules,
 * and checks every answer: it exits with status 1 on a wrong one.
 *
 * Build: cc pci-multidomain.c $(pkg-config --cflags --libs asm-1)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <asm/asm.h>

#include <stdio.h>
#include <stdlib.h>

/* A hot-pluggable conventional PCI endpoint whose address is chosen
 * automatically (a virtio NIC on a pc machine, say). */
#define PCI_DEVICE                                                             \
  (ASM_PCI_CONNECT_AUTOASSIGN | ASM_PCI_CONNECT_HOTPLUGGABLE |                 \
   ASM_PCI_CONNECT_TYPE_PCI_DEVICE)

static void
check (gboolean ok, const char *what)
{
  if (!ok)
    {
      fprintf (stderr, "pci-multidomain: wrong answer: %s\n", what);
      exit (1);
    }
}

static void
die (const char *what, GError *error)
{
  fprintf (stderr, "pci-multidomain: %s: %s\n", what, error->message);
  exit (1);
}

static void
add_root (AsmPciBusSet *set, guint32 index)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name = NULL;

  if (!asm_pci_bus_set_add_controller (set, index,
                                       ASM_PCI_CONTROLLER_MODEL_PCI_ROOT, NULL,
                                       &error))
    die ("add a root controller", error);
  name = asm_pci_bus_set_get_controller_name (set, index);
  printf ("  controller %-3u pci-root    %-7s establishes domain %04x\n", index,
          name, index);
}

static void
add_bridge (AsmPciBusSet *set, guint32 index, const char *plugged_at)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name = NULL;
  AsmPciControllerInfo info;
  AsmPciAddr at;

  if (!asm_pci_addr_parse (plugged_at, &at, &error) ||
      !asm_pci_bus_set_add_controller (set, index,
                                       ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE, &at,
                                       &error))
    die ("add a pci-bridge", error);
  name = asm_pci_bus_set_get_controller_name (set, index);
  if (!asm_pci_bus_set_get_controller (set, index, &info))
    check (FALSE, "a controller just added exists");
  printf ("  controller %-3u pci-bridge  %-7s at %s provides bus %04x:%02x\n",
          index, name, plugged_at, info.domain, info.bus);
  check (info.domain == at.domain && info.bus == index,
         "a non-root controller N in domain D provides bus D:N");
}

/* Tries to add a controller that breaks a rule, and shows the refusal. */
static void
refuse_bridge (AsmPciBusSet *set, guint32 index, const char *plugged_at,
               AsmError expected)
{
  g_autoptr (GError) error = NULL;
  AsmPciAddr at;

  if (!asm_pci_addr_parse (plugged_at, &at, &error))
    die ("parse", error);
  check (!asm_pci_bus_set_add_controller (set, index,
                                          ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE,
                                          &at, &error),
         "a controller that breaks the index rules");
  check (g_error_matches (error, ASM_ERROR, expected), "the error code");
  printf ("  pci-bridge %u at %s: refused: %s\n", index, plugged_at,
          error->message);
}

static void
expect_controller (AsmPciBusSet *set, guint32 domain, guint32 bus,
                   guint32 expected)
{
  guint32 index = G_MAXUINT32;

  check (asm_pci_bus_set_find_controller (set, domain, bus, &index),
         "a bus that exists");
  printf ("  %04x:%02x is the bus of controller %u\n", domain, bus, index);
  check (index == expected, "domain:bus maps to the right controller");
}

static AsmPciAddr
reserve_next (AsmPciBusSet *set)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  AsmPciAddr addr;

  if (!asm_pci_bus_set_reserve_next (set, PCI_DEVICE, &addr, &error))
    die ("reserve_next", error);
  text = asm_pci_addr_format (&addr);
  printf ("  next free address for a PCI device: %s\n", text);
  return addr;
}

int
main (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AsmPciBusSet) set = asm_pci_bus_set_new ();
  AsmPciAddr addr, expected;
  g_autofree char *text = NULL;

  /* Two PHBs: domains 0 and 15.  Bridges: controller 3 on domain 0, and
   * controllers 27 and 300 on domain 15 (bus 0x1b, and bus 0x12c, which
   * needs more than 8 bits). */
  printf ("controllers:\n");
  add_root (set, 0);
  add_root (set, 15);
  add_bridge (set, 3, "0000:00:01.0");
  add_bridge (set, 27, "000f:00:01.0");
  add_bridge (set, 300, "000f:1b:01.0");
  check (asm_pci_bus_set_get_n_controllers (set) == 5, "five controllers");

  /* The rules, enforced. */
  printf ("\nrules:\n");
  refuse_bridge (set, 0, "0000:00:02.0", ASM_ERROR_INVALID);
  refuse_bridge (set, 10, "000f:00:02.0", ASM_ERROR_INVALID);
  refuse_bridge (set, 27, "000f:00:03.0", ASM_ERROR_IN_USE);
  refuse_bridge (set, 40, "0007:00:01.0", ASM_ERROR_NOT_FOUND);

  /* domain:bus pairs back to controllers.  Bus 0 is in every domain; other
   * bus ids are in one domain only, and never equal a domain id. */
  printf ("\nbuses:\n");
  expect_controller (set, 0, 0, 0);
  expect_controller (set, 0, 3, 3);
  expect_controller (set, 15, 0, 15);
  expect_controller (set, 15, 0x1b, 27);
  expect_controller (set, 15, 0x12c, 300);
  check (!asm_pci_bus_set_find_controller (set, 0, 0x1b, NULL),
         "bus 0x1b is in domain 15 only");

  /* Automatic assignment: the lowest (domain, bus, slot) that accepts a
   * hot-pluggable PCI device.  Slot 0 of a pci-root is not usable, and
   * 0000:00:01.0 holds the bridge. */
  printf ("\nassignment:\n");
  addr = reserve_next (set);
  expected = (AsmPciAddr){ 0, 0, 2, 0 };
  check (asm_pci_addr_equal (&addr, &expected),
         "the first free is 0000:00:02.0");
  addr = reserve_next (set);
  expected.slot = 3;
  check (asm_pci_addr_equal (&addr, &expected), "then 0000:00:03.0");

  /* An address from configuration, on the wide bus of domain 15. */
  if (!asm_pci_addr_parse ("000f:12c:05.0", &addr, &error))
    die ("parse", error);
  check (addr.domain == 0xf && addr.bus == 0x12c && addr.slot == 5,
         "000f:12c:05.0 parses");
  if (!asm_pci_bus_set_reserve_addr (set, &addr, PCI_DEVICE, TRUE, &error))
    die ("reserve_addr", error);
  text = asm_pci_addr_format (&addr);
  printf ("  from configuration: %s\n", text);
  check (g_str_equal (text, "000f:12c:05.0"), "it formats back");
  check (asm_pci_bus_set_is_reserved (set, &addr), "it is reserved");

  /* The same address twice is a collision. */
  check (!asm_pci_bus_set_reserve_addr (set, &addr, PCI_DEVICE, TRUE, &error),
         "a second device at 000f:12c:05.0");
  check (g_error_matches (error, ASM_ERROR, ASM_ERROR_IN_USE), "IN_USE");
  printf ("  %s again: refused: %s\n", text, error->message);
  g_clear_error (&error);

  /* A slot out of range is named in the error. */
  check (!asm_pci_addr_parse ("0000:00:20.0", &addr, &error),
         "slot 0x20 does not parse");
  check (g_error_matches (error, ASM_ERROR, ASM_ERROR_INVALID), "INVALID");
  printf ("  0000:00:20.0: refused: %s\n", error->message);
  g_clear_error (&error);

  /* Unplug the device at 0000:00:02.0: it is the next address again. */
  expected = (AsmPciAddr){ 0, 0, 2, 0 };
  if (!asm_pci_bus_set_release_addr (set, &expected, &error))
    die ("release_addr", error);
  printf ("  release 0000:00:02.0\n");
  addr = reserve_next (set);
  check (asm_pci_addr_equal (&addr, &expected),
         "a released address is the lowest free again");

  /* Three bridges and three devices. */
  printf ("\nreserved: %" G_GUINT64_FORMAT " functions\n",
          asm_pci_bus_set_get_n_reserved (set));
  check (asm_pci_bus_set_get_n_reserved (set) == 6,
         "three bridges and three devices");
  if (!asm_pci_bus_set_check (set, &error))
    die ("check", error);

  printf ("\nall answers are right\n");
  return 0;
}
