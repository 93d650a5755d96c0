/* fuzz-pci.c: PCI address text and bus-set operation sequences
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is split at its first NUL byte.  The text before it goes to
 * asm_pci_addr_parse(); whatever parses must format and parse back to the
 * same address, and whatever fails must say why.  The bytes after it are
 * decoded, three at a time, into bus-set operations (add a root or a
 * bridge, reserve an exact address or a slot, reserve the next free
 * address, release) on a small set.  After every operation
 * asm_pci_bus_set_check() must pass, and a refused operation must leave
 * the number of reserved functions and the controller count unchanged.
 * Any violation aborts.
 */
#include <asm/asm.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
fail (const char *what, GError *error)
{
  fprintf (stderr, "fuzz-pci: %s%s%s\n", what, error ? ": " : "",
           error ? error->message : "");
  abort ();
}

static void
check_text (const char *text)
{
  AsmPciAddr a, b;
  g_autoptr (GError) error = NULL;

  if (asm_pci_addr_parse (text, &a, &error))
    {
      g_autofree char *again = asm_pci_addr_format (&a);
      if (!asm_pci_addr_parse (again, &b, NULL) || !asm_pci_addr_equal (&a, &b))
        fail ("format(parse(x)) does not parse back to the same address",
              NULL);
    }
  else if (error == NULL || error->message[0] == '\0')
    fail ("a refused address has no message", NULL);
}

static const AsmPciConnectFlags device_flags[] = {
  ASM_PCI_CONNECT_TYPE_PCI_DEVICE | ASM_PCI_CONNECT_AUTOASSIGN |
      ASM_PCI_CONNECT_HOTPLUGGABLE,
  ASM_PCI_CONNECT_TYPE_PCI_DEVICE | ASM_PCI_CONNECT_AUTOASSIGN,
  ASM_PCI_CONNECT_TYPE_PCIE_DEVICE | ASM_PCI_CONNECT_AUTOASSIGN,
  ASM_PCI_CONNECT_TYPE_PCI_DEVICE | ASM_PCI_CONNECT_AUTOASSIGN |
      ASM_PCI_CONNECT_AGGREGATE_SLOT,
};

static void
run_ops (const uint8_t *p, size_t n)
{
  g_autoptr (AsmPciBusSet) set = asm_pci_bus_set_new ();
  guint32 next_index = 0;

  for (size_t i = 0; i + 3 <= n && i < 3 * 400; i += 3)
    {
      guint op = p[i] % 7;
      AsmPciAddr a = { p[i] >> 6, p[i + 1] % 6, p[i + 2] % 34,
                       (p[i + 2] >> 5) % 9 };
      AsmPciConnectFlags flags = device_flags[p[i + 1] >> 6];
      guint64 before = asm_pci_bus_set_get_n_reserved (set);
      guint before_ctl = asm_pci_bus_set_get_n_controllers (set);
      g_autoptr (GError) error = NULL;
      gboolean ok = TRUE;

      switch (op)
        {
        case 0: /* a root controller, index = domain */
          ok = asm_pci_bus_set_add_controller (
              set, a.domain, ASM_PCI_CONTROLLER_MODEL_PCI_ROOT, NULL, &error);
          break;
        case 1: /* a bridge plugged at an exact address */
          ok = asm_pci_bus_set_add_controller (
              set, MAX (next_index, 4) + (p[i + 1] & 3),
              ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE, &a, &error);
          if (ok)
            next_index = MAX (next_index, 4) + (p[i + 1] & 3) + 1;
          break;
        case 2:
          ok = asm_pci_bus_set_reserve_addr (set, &a, flags, p[i + 1] & 1,
                                             &error);
          break;
        case 3:
          ok = asm_pci_bus_set_reserve_slot (set, &a, flags, FALSE, &error);
          break;
        case 4:
        case 5:
          ok = asm_pci_bus_set_reserve_next (set, flags, &a, &error);
          if (ok && !asm_pci_bus_set_is_reserved (set, &a))
            fail ("reserve_next returned an address that is not reserved",
                  NULL);
          break;
        case 6:
          ok = asm_pci_bus_set_release_addr (set, &a, &error);
          break;
        }
      if (!ok)
        {
          if (error == NULL)
            fail ("a refused operation set no error", NULL);
          if (asm_pci_bus_set_get_n_reserved (set) != before ||
              asm_pci_bus_set_get_n_controllers (set) != before_ctl)
            fail ("a refused operation changed the set", error);
        }
      if (!asm_pci_bus_set_check (set, &error))
        fail ("asm_pci_bus_set_check", error);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const uint8_t *nul = memchr (data, 0, size);
  size_t text_len = nul ? (size_t) (nul - data) : size;
  g_autofree char *text = g_strndup ((const char *) data, MIN (text_len, 64));

  check_text (text);
  if (nul != NULL)
    run_ops (nul + 1, size - text_len - 1);
  return 0;
}
