/* test-pci.c: unit tests of PCI addresses and AsmPciBusSet (layer 2)
 *
 * The address tests parse and format every shape and name every part that
 * can be out of range.  The bus-set tests take the multi-domain examples
 * literally (0000:00 is root 0; 000f:1b is the non-root controller 27
 * plugged into domain 15), break each of its rules once, and check that
 * every refused call fails with the documented code, a message naming the
 * bad value, and leaves the set exactly as it was: the same controllers,
 * the same reserved addresses and the same next free address (probed on a
 * copy).  Then the libvirt behaviour observed in libvirt 9.0: 31 devices on
 * pc bus 0, 240 root ports on q35 and the 241st refused, the pc bridge
 * added by growth with the 30th disk at 01:01.0, reuse of the lowest freed
 * slot, aggregate slots, the looser rules for addresses from
 * configuration, and isolation groups.  asm_pci_bus_set_check() runs after
 * every change.  Last, random operation sequences (controllers, exact and
 * next reservations, releases, isolation groups, hotplug) are checked step
 * by step against a naive copy of libvirt's scan over per-bus bitmaps;
 * ASM_TEST_SEED=N replays one seed for longer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <asm/asm.h>

#include "asm-pci-private.h" /* floating controllers, for the PCI policy */
#include "asm-test.h"

/* Short names for the flags of common devices. */
#define PCI_DEV (ASM_PCI_CONNECT_TYPE_PCI_DEVICE | ASM_PCI_CONNECT_AUTOASSIGN)
#define PCIE_DEV (ASM_PCI_CONNECT_TYPE_PCIE_DEVICE | ASM_PCI_CONNECT_AUTOASSIGN)
#define ROOT_PORT \
  (ASM_PCI_CONNECT_TYPE_PCIE_ROOT_PORT | ASM_PCI_CONNECT_AGGREGATE_SLOT)

#define M(x) ASM_PCI_CONTROLLER_MODEL_##x

static void
check_at (AsmPciBusSet *set, const char *file, int line)
{
  g_autoptr(GError) error = NULL;

  if (!asm_pci_bus_set_check (set, &error))
    FAIL_AT (file, line, "asm_pci_bus_set_check: %s",
             error ? error->message : "(no error)");
}
#define CHECK(set) check_at ((set), __FILE__, __LINE__)

static AsmPciAddr
addr_at (const char *text, const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  AsmPciAddr a = { 0 };

  if (!asm_pci_addr_parse (text, &a, &error))
    FAIL_AT (file, line, "cannot parse '%s': %s", text, error->message);
  return a;
}
#define A(text) addr_at ((text), __FILE__, __LINE__)
/* a pointer to a parsed address, for calls */
#define PA(text) (&(AsmPciAddr[1]) { A (text) }[0])

static void
addr_is_at (const AsmPciAddr *a, const char *want, const char *file,
            int line)
{
  g_autofree char *got = asm_pci_addr_format (a);

  if (strcmp (got, want) != 0)
    FAIL_AT (file, line, "address %s, expected %s", got, want);
}
#define ADDR_IS(a, want) addr_is_at (&(a), (want), __FILE__, __LINE__)

static void
next_is_at (AsmPciBusSet *set, AsmPciConnectFlags flags, guint32 group,
            const char *want, const char *file, int line)
{
  g_autoptr(GError) error = NULL;
  AsmPciAddr a;

  if (!asm_pci_bus_set_reserve_next_full (set, flags, group, &a, &error))
    FAIL_AT (file, line, "reserve_next: %s, expected %s", error->message,
             want);
  addr_is_at (&a, want, file, line);
  check_at (set, file, line);
}
#define NEXT_IS(set, flags, want) \
  next_is_at ((set), (flags), 0, (want), __FILE__, __LINE__)
#define NEXT_IN_GROUP_IS(set, flags, group, want) \
  next_is_at ((set), (flags), (group), (want), __FILE__, __LINE__)

static gboolean
append_addr (const AsmPciAddr *a, gpointer user_data)
{
  g_autofree char *s = asm_pci_addr_format (a);
  g_string_append_printf (user_data, " %s", s);
  return TRUE;
}

/* Everything observable: controllers 0..max_index, reserved addresses, and
 * the next free address for a few kinds of device (found on a copy). */
static char *
fingerprint (AsmPciBusSet *set, guint32 max_index)
{
  static const AsmPciConnectFlags probes[] = {
    PCI_DEV, PCIE_DEV, ROOT_PORT, ASM_PCI_CONNECT_TYPE_PCI_BRIDGE,
    ASM_PCI_CONNECT_TYPE_PCIE_DEVICE,
  };
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "controllers %u:",
                          asm_pci_bus_set_get_n_controllers (set));
  for (guint32 i = 0; i <= max_index; i++)
    {
      AsmPciControllerInfo info;
      if (asm_pci_bus_set_get_controller (set, i, &info))
        g_string_append_printf (s, " %u=%d@%x:%x/%x:%x:%x.%x/%x/%u%c/%u",
                                i, info.model, info.domain, info.bus,
                                info.plugged_at.domain, info.plugged_at.bus,
                                info.plugged_at.slot,
                                info.plugged_at.function, info.accepts,
                                info.isolation_group,
                                info.isolation_locked ? 'L' : 'u',
                                info.n_reserved);
    }
  g_string_append_printf (s, "\nreserved %" G_GUINT64_FORMAT ":",
                          asm_pci_bus_set_get_n_reserved (set));
  assert_true (asm_pci_bus_set_foreach_reserved (set, append_addr, s));
  g_string_append (s, "\nnext:");
  for (guint i = 0; i < G_N_ELEMENTS (probes); i++)
    for (guint32 g = 0; g < 2; g++)
      {
        g_autoptr(AsmPciBusSet) copy = asm_pci_bus_set_clone (set);
        AsmPciAddr a;
        if (asm_pci_bus_set_reserve_next_full (copy, probes[i], g, &a, NULL))
          {
            g_autofree char *t = asm_pci_addr_format (&a);
            g_string_append_printf (s, " %s", t);
          }
        else
          g_string_append (s, " none");
      }
  return g_string_free (s, FALSE);
}

static void
unchanged_at (AsmPciBusSet *set, const char *before, guint32 max_index,
              const char *file, int line)
{
  g_autofree char *after = fingerprint (set, max_index);

  if (strcmp (before, after) != 0)
    FAIL_AT (file, line, "the set changed:\nbefore: %s\nafter:  %s", before,
             after);
  check_at (set, file, line);
}
#define UNCHANGED(set, before, max) \
  unchanged_at ((set), (before), (max), __FILE__, __LINE__)

/* A set with one root of @model at @index. */
static AsmPciBusSet *
set_with_root (AsmPciControllerModel model, guint32 index)
{
  AsmPciBusSet *set = asm_pci_bus_set_new ();
  OK (asm_pci_bus_set_add_controller (set, index, model, NULL, &error));
  CHECK (set);
  return set;
}

/* ---------------------------------------------------------------------- */
/* Addresses                                                              */
/* ---------------------------------------------------------------------- */

static void
test_addr_parse_format (void **state)
{
  static const struct {
    const char *text;
    const char *formatted;
  } good[] = {
    { "0000:00:00.0", "0000:00:00.0" },
    { "0000:00:1f.7", "0000:00:1f.7" },
    { "000f:1b:00.0", "000f:1b:00.0" },
    { "ffff:ff:1f.7", "ffff:ff:1f.7" },
    { "00:03.0", "0000:00:03.0" },
    { "1:2.3", "0000:01:02.3" },
    { "0:0:0.0", "0000:00:00.0" },
    { "ABCD:EF:1F.7", "abcd:ef:1f.7" },
    { "0001:100:01.0", "0001:100:01.0" },          /* bus beyond 8 bits */
    { "0000:ffffffff:00.0", "0000:ffffffff:00.0" },
    { "00000000000000000001:02:03.4", "0001:02:03.4" }, /* leading zeros */
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      AsmPciAddr a, b;
      g_autofree char *f = NULL;

      OK (asm_pci_addr_parse (good[i].text, &a, &error));
      f = asm_pci_addr_format (&a);
      assert_string_equal (f, good[i].formatted);
      OK (asm_pci_addr_parse (f, &b, &error));
      assert_true (asm_pci_addr_equal (&a, &b));
      assert_int_equal (asm_pci_addr_compare (&a, &b), 0);
    }
  {
    AsmPciAddr a = A ("000f:1b:02.3");
    assert_int_equal (a.domain, 15);
    assert_int_equal (a.bus, 27);
    assert_int_equal (a.slot, 2);
    assert_int_equal (a.function, 3);
  }
}

static void
test_addr_parse_errors (void **state)
{
  static const char *const malformed[] = {
    "", "0", "00:00", "00:00:00", "0000:00:00:0", "0000.00:00.0",
    "0000:00.00.0", "00.00.0", ":00.0", "00:.0", "00:00.", "0000:00:1f.",
    "g0:00.0", " 00:00.0", "00:00.0 ", "+0:00.0", "-1:00.0", "0x0:00.0",
    "0000:00:00.0.0", "0000:00:00.0:", "0000:0 0:00.0", "00:00.0\n",
  };
  AsmPciAddr a = { 9, 9, 9, 9 }, keep = a;

  for (guint i = 0; i < G_N_ELEMENTS (malformed); i++)
    FAILS (asm_pci_addr_parse (malformed[i], &a, &error), PARSE,
           "is not a PCI address");
  assert_true (asm_pci_addr_equal (&a, &keep));

  FAILS (asm_pci_addr_parse ("0000:00:20.0", &a, &error), INVALID,
         "slot 0x20 is out of range 0..0x1f");
  FAILS (asm_pci_addr_parse ("00:ff.0", &a, &error), INVALID,
         "slot 0xff is out of range 0..0x1f");
  FAILS (asm_pci_addr_parse ("0000:00:00.8", &a, &error), INVALID,
         "function 8 is out of range 0..7");
  FAILS (asm_pci_addr_parse ("00:00.f", &a, &error), INVALID,
         "function 15 is out of range 0..7");
  FAILS (asm_pci_addr_parse ("10000:00:00.0", &a, &error), INVALID,
         "domain 0x10000 is out of range 0..0xffff");
  FAILS (asm_pci_addr_parse ("0000:100000000:00.0", &a, &error), INVALID,
         "bus 0x100000000 is out of range 0..0xffffffff");
  FAILS (asm_pci_addr_parse ("0000:ffffffffffffffffffff:00.0", &a, &error),
         INVALID, "bus 0xffffffffffffffff is out of range");
  /* the message quotes the text */
  FAILS (asm_pci_addr_parse ("0000:00:00.9", &a, &error), INVALID,
         "'0000:00:00.9'");
  assert_true (asm_pci_addr_equal (&a, &keep));
}

static void
test_addr_compare (void **state)
{
  static const char *const sorted[] = {
    "0000:00:00.0", "0000:00:00.1", "0000:00:01.0", "0000:00:1f.7",
    "0000:01:00.0", "0000:ff:00.0", "0000:100:00.0", "0001:00:00.0",
    "ffff:00:00.0",
  };

  for (guint i = 0; i < G_N_ELEMENTS (sorted); i++)
    for (guint j = 0; j < G_N_ELEMENTS (sorted); j++)
      {
        AsmPciAddr a = A (sorted[i]), b = A (sorted[j]);
        int c = asm_pci_addr_compare (&a, &b);
        assert_int_equal (c < 0 ? -1 : c > 0, i < j ? -1 : i > j);
        assert_int_equal (asm_pci_addr_equal (&a, &b), i == j);
      }
}

/* ---------------------------------------------------------------------- */
/* Models and flags                                                       */
/* ---------------------------------------------------------------------- */

static void
test_models (void **state)
{
  static const char *const names[] = {
    "pci-root", "pcie-root", "pci-bridge", "dmi-to-pci-bridge",
    "pcie-root-port", "pcie-switch-upstream-port",
    "pcie-switch-downstream-port", "pci-expander-bus", "pcie-expander-bus",
    "pcie-to-pci-bridge",
  };
  AsmPciControllerModel m;
  guint8 lo = 99, hi = 99;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      assert_string_equal (asm_pci_controller_model_to_string (i), names[i]);
      OK (asm_pci_controller_model_from_string (names[i], &m, &error));
      assert_int_equal (m, i);
      assert_int_equal (asm_pci_controller_model_is_root (i), i < 2);
    }
  assert_null (asm_pci_controller_model_to_string (G_N_ELEMENTS (names)));
  FAILS (asm_pci_controller_model_from_string ("pci-brigde", &m, &error),
         PARSE, "'pci-brigde' is not a PCI controller model");
  FAILS (asm_pci_controller_model_from_string ("", &m, &error), PARSE,
         "is not a PCI controller model");

  /* what plugging each in needs (virDomainPCIControllerModelToConnectType) */
  assert_int_equal (asm_pci_controller_model_get_connect_flags (M (PCI_ROOT)),
                    0);
  assert_int_equal (asm_pci_controller_model_get_connect_flags (M (PCIE_ROOT)),
                    0);
  assert_int_equal (
      asm_pci_controller_model_get_connect_flags (M (PCIE_ROOT_PORT)),
      ASM_PCI_CONNECT_TYPE_PCIE_ROOT_PORT | ASM_PCI_CONNECT_AGGREGATE_SLOT);
  assert_int_equal (asm_pci_controller_model_get_connect_flags (M (PCI_BRIDGE)),
                    ASM_PCI_CONNECT_TYPE_PCI_BRIDGE);
  assert_int_equal (
      asm_pci_controller_model_get_connect_flags (M (PCIE_TO_PCI_BRIDGE)),
      ASM_PCI_CONNECT_TYPE_PCIE_TO_PCI_BRIDGE);
  m = M (PCIE_SWITCH_DOWNSTREAM_PORT);
  assert_int_equal (asm_pci_controller_model_get_connect_flags (m),
                    ASM_PCI_CONNECT_TYPE_PCIE_SWITCH_DOWNSTREAM_PORT);

  /* what each bus accepts (virDomainPCIAddressBusSetModel) */
  assert_int_equal (asm_pci_controller_model_get_bus_flags (M (PCI_ROOT), TRUE,
                                                            &lo, &hi),
                    ASM_PCI_CONNECT_AUTOASSIGN | ASM_PCI_CONNECT_HOTPLUGGABLE |
                        ASM_PCI_CONNECT_TYPE_PCI_DEVICE |
                        ASM_PCI_CONNECT_TYPE_PCI_BRIDGE |
                        ASM_PCI_CONNECT_TYPE_PCI_EXPANDER_BUS);
  assert_int_equal (lo, 1);
  assert_int_equal (hi, 31);
  assert_int_equal (asm_pci_controller_model_get_bus_flags (M (PCIE_ROOT), TRUE,
                                                            &lo, &hi),
                    ASM_PCI_CONNECT_TYPE_PCIE_DEVICE |
                        ASM_PCI_CONNECT_TYPE_PCIE_ROOT_PORT |
                        ASM_PCI_CONNECT_TYPE_DMI_TO_PCI_BRIDGE |
                        ASM_PCI_CONNECT_TYPE_PCIE_EXPANDER_BUS);
  assert_int_equal (lo, 1);
  assert_int_equal (hi, 31);
  assert_int_equal (asm_pci_controller_model_get_bus_flags (M (PCIE_ROOT_PORT),
                                                            FALSE, &lo, &hi),
                    ASM_PCI_CONNECT_AUTOASSIGN |
                        ASM_PCI_CONNECT_TYPE_PCIE_DEVICE |
                        ASM_PCI_CONNECT_TYPE_PCIE_SWITCH_UPSTREAM_PORT |
                        ASM_PCI_CONNECT_TYPE_PCIE_TO_PCI_BRIDGE);
  assert_int_equal (lo, 0);
  assert_int_equal (hi, 0);
  assert_int_equal (asm_pci_controller_model_get_bus_flags (
                        M (PCIE_SWITCH_UPSTREAM_PORT), TRUE, &lo, &hi),
                    ASM_PCI_CONNECT_TYPE_PCIE_SWITCH_DOWNSTREAM_PORT);
  assert_int_equal (lo, 0);
  assert_int_equal (hi, 31);
  assert_int_equal (asm_pci_controller_model_get_bus_flags (
                        M (DMI_TO_PCI_BRIDGE), TRUE, &lo, &hi),
                    ASM_PCI_CONNECT_TYPE_PCI_DEVICE |
                        ASM_PCI_CONNECT_TYPE_PCI_BRIDGE);
  assert_int_equal (lo, 0);
  assert_int_equal (asm_pci_controller_model_get_bus_flags (
                        M (PCIE_EXPANDER_BUS), TRUE, &lo, &hi),
                    ASM_PCI_CONNECT_TYPE_PCIE_ROOT_PORT |
                        ASM_PCI_CONNECT_TYPE_DMI_TO_PCI_BRIDGE);
  assert_int_equal (asm_pci_controller_model_get_bus_flags (M (PCI_BRIDGE),
                                                            TRUE, &lo, &hi) &
                        ASM_PCI_CONNECT_HOTPLUGGABLE,
                    ASM_PCI_CONNECT_HOTPLUGGABLE);
  assert_int_equal (lo, 1);
}

static void
test_flags_to_string (void **state)
{
  g_autofree char *a = asm_pci_connect_flags_to_string (
      ASM_PCI_CONNECT_TYPE_PCI_DEVICE | ASM_PCI_CONNECT_AUTOASSIGN |
      ASM_PCI_CONNECT_HOTPLUGGABLE);
  g_autofree char *b = asm_pci_connect_flags_to_string (ROOT_PORT);
  g_autofree char *c = asm_pci_connect_flags_to_string (
      ASM_PCI_CONNECT_TYPES_ENDPOINT);
  g_autofree char *d = asm_pci_connect_flags_to_string (0);
  g_autofree char *e = asm_pci_connect_flags_to_string (1 << 20);

  assert_string_equal (a, "PCI device (auto-assign, hotpluggable)");
  assert_string_equal (b, "pcie-root-port (aggregate-slot)");
  assert_string_equal (c, "PCI device or PCIe device");
  assert_string_equal (d, "no device type");
  assert_string_equal (e, "no device type (unknown bits 0x100000)");
}

/* ---------------------------------------------------------------------- */
/* Seed 002: multiple PCI domains                                         */
/* ---------------------------------------------------------------------- */

static void
test_seed002_examples (void **state)
{
  g_autoptr(AsmPciBusSet) set = asm_pci_bus_set_new ();
  AsmPciControllerInfo info;
  guint32 index = 99;
  g_autofree char *n0 = NULL, *n15 = NULL, *n27 = NULL, *n1 = NULL;

  /* pc-style domain 0 and a q35-style domain 15 */
  OK (asm_pci_bus_set_add_controller (set, 0, M (PCI_ROOT), NULL, &error));
  OK (asm_pci_bus_set_add_controller (set, 15, M (PCIE_ROOT), NULL, &error));
  CHECK (set);
  /* a root port with index 27 plugged into domain 15 provides 000f:1b */
  OK (asm_pci_bus_set_add_controller (set, 27, M (PCIE_ROOT_PORT),
                                      PA ("000f:00:01.0"), &error));
  /* a bridge with index 1 in domain 0 provides 0000:01 */
  OK (asm_pci_bus_set_add_controller (set, 1, M (PCI_BRIDGE),
                                      PA ("0000:00:01.0"), &error));
  CHECK (set);
  assert_int_equal (asm_pci_bus_set_get_n_controllers (set), 4);

  /* "0000:00 would identify the bus provided by the root controller with
   * index 0" */
  assert_true (asm_pci_bus_set_find_controller (set, 0, 0, &index));
  assert_int_equal (index, 0);
  /* "000f:1b would identify the bus provided by the non-root controller
   * with index 27 (0x1b), plugged into domain 15 (0xf)" */
  assert_true (asm_pci_bus_set_find_controller (set, 0xf, 0x1b, &index));
  assert_int_equal (index, 27);
  assert_true (asm_pci_bus_set_get_controller (set, 27, &info));
  assert_int_equal (info.domain, 15);
  assert_int_equal (info.bus, 27);
  assert_false (info.is_root);
  ADDR_IS (info.plugged_at, "000f:00:01.0");
  assert_int_equal (info.min_slot, 0);
  assert_int_equal (info.max_slot, 0);
  /* bus 0 appears in every domain; other bus ids in one domain only */
  assert_true (asm_pci_bus_set_find_controller (set, 15, 0, &index));
  assert_int_equal (index, 15);
  assert_false (asm_pci_bus_set_find_controller (set, 0, 0x1b, NULL));
  assert_false (asm_pci_bus_set_find_controller (set, 15, 1, NULL));
  assert_false (asm_pci_bus_set_find_controller (set, 1, 0, NULL));
  assert_true (asm_pci_bus_set_get_controller (set, 15, &info));
  assert_true (info.is_root);
  assert_int_equal (info.domain, 15);
  assert_int_equal (info.bus, 0);

  /* names: pcie.N for a pcie-root, pci.N otherwise */
  n0 = asm_pci_bus_set_get_controller_name (set, 0);
  n15 = asm_pci_bus_set_get_controller_name (set, 15);
  n27 = asm_pci_bus_set_get_controller_name (set, 27);
  n1 = asm_pci_bus_set_get_controller_name (set, 1);
  assert_string_equal (n0, "pci.0");
  assert_string_equal (n15, "pcie.15");
  assert_string_equal (n27, "pci.27");
  assert_string_equal (n1, "pci.1");
  assert_null (asm_pci_bus_set_get_controller_name (set, 2));
  assert_false (asm_pci_bus_set_get_controller (set, 2, NULL));

  /* the controllers' own addresses are reserved */
  assert_true (asm_pci_bus_set_is_reserved (set, PA ("000f:00:01.0")));
  assert_true (asm_pci_bus_set_is_reserved (set, PA ("0000:00:01.0")));
  assert_true (asm_pci_bus_set_is_aggregate_slot (set, PA ("000f:00:01.0")));
  assert_false (asm_pci_bus_set_is_aggregate_slot (set, PA ("0000:00:01.0")));
  assert_int_equal (asm_pci_bus_set_get_n_reserved (set), 2);

  /* devices land in either domain, by (domain, bus) order */
  OK (asm_pci_bus_set_reserve_addr (set, PA ("000f:1b:00.0"), PCIE_DEV, TRUE,
                                    &error));
  NEXT_IS (set, PCI_DEV, "0000:00:02.0");
  NEXT_IS (set, ROOT_PORT, "000f:00:01.1");
  /* a port has one slot, of 8 functions */
  OK (asm_pci_bus_set_reserve_addr (set, PA ("000f:1b:00.1"), PCIE_DEV, TRUE,
                                    &error));
  FAILS (asm_pci_bus_set_reserve_addr (set, PA ("000f:1b:01.0"), PCIE_DEV,
                                       TRUE, &error),
         INVALID, "000f:1b:01.0: slot 0x1 is out of range 0..0 of bus 000f:1b "
                  "(pcie-root-port pci.27)");
  CHECK (set);
}

static void
test_seed002_rules (void **state)
{
  g_autoptr(AsmPciBusSet) set = asm_pci_bus_set_new ();
  g_autofree char *before = NULL;
  g_autofree char *empty = fingerprint (set, 64);

  /* index 0 must be a root */
  FAILS (asm_pci_bus_set_add_controller (set, 0, M (PCI_BRIDGE),
                                         PA ("0000:00:01.0"), &error),
         INVALID, "controller index 0 must be a root controller");
  FAILS (asm_pci_bus_set_add_controller (set, 0, M (PCIE_ROOT_PORT), NULL,
                                         &error),
         INVALID, "not pcie-root-port");
  UNCHANGED (set, empty, 64);
  /* a root's index is its 16-bit domain */
  FAILS (asm_pci_bus_set_add_controller (set, 0x10000, M (PCI_ROOT), NULL,
                                         &error),
         INVALID, "index 0x10000 is out of range 0..0xffff");
  FAILS (asm_pci_bus_set_add_controller (set, G_MAXUINT32, M (PCIE_ROOT),
                                         NULL, &error),
         INVALID, "index 0xffffffff is out of range");
  /* a root is plugged nowhere */
  FAILS (asm_pci_bus_set_add_controller (set, 0, M (PCI_ROOT),
                                         PA ("0000:00:01.0"), &error),
         INVALID, "is a root");
  FAILS (asm_pci_bus_set_add_controller (set, 1, (AsmPciControllerModel) 42,
                                         NULL, &error),
         INVALID, "model 42 is not a PCI controller model");
  /* no domain yet */
  FAILS (asm_pci_bus_set_add_controller (set, 1, M (PCI_BRIDGE),
                                         PA ("0000:00:01.0"), &error),
         NOT_FOUND, "domain 0000 does not exist");
  UNCHANGED (set, empty, 64);

  OK (asm_pci_bus_set_add_controller (set, 0, M (PCI_ROOT), NULL, &error));
  OK (asm_pci_bus_set_add_controller (set, 0xffff, M (PCI_ROOT), NULL,
                                      &error));
  OK (asm_pci_bus_set_add_controller (set, 5, M (PCI_BRIDGE),
                                      PA ("0000:00:03.0"), &error));
  CHECK (set);
  before = fingerprint (set, 64);

  /* an index already used, by a root or a non-root */
  FAILS (asm_pci_bus_set_add_controller (set, 5, M (PCI_BRIDGE),
                                         PA ("0000:00:04.0"), &error),
         IN_USE, "controller index 5 is already used (pci-bridge pci.5)");
  FAILS (asm_pci_bus_set_add_controller (set, 0, M (PCIE_ROOT), NULL, &error),
         IN_USE, "controller index 0 is already used (pci-root pci.0)");
  /* the non-root's index must be above its parent's: bus 0000:05 is
   * provided by controller 5 */
  FAILS (asm_pci_bus_set_add_controller (set, 3, M (PCI_BRIDGE),
                                         PA ("0000:05:01.0"), &error),
         INVALID, "its index must be above 5");
  /* bus 0 of domain 0xffff is provided by root 0xffff */
  FAILS (asm_pci_bus_set_add_controller (set, 7, M (PCI_BRIDGE),
                                         PA ("ffff:00:01.0"), &error),
         INVALID, "its index must be above 65535");
  /* unknown parent bus and domain */
  FAILS (asm_pci_bus_set_add_controller (set, 9, M (PCI_BRIDGE),
                                         PA ("0000:06:01.0"), &error),
         NOT_FOUND, "bus 0000:06 does not exist");
  FAILS (asm_pci_bus_set_add_controller (set, 9, M (PCI_BRIDGE),
                                         PA ("0003:00:01.0"), &error),
         NOT_FOUND, "domain 0003 does not exist");
  /* index 5 exists but is no root: domain 5 does not exist */
  FAILS (asm_pci_bus_set_add_controller (set, 9, M (PCI_BRIDGE),
                                         PA ("0005:00:01.0"), &error),
         NOT_FOUND, "domain 0005 does not exist");
  {
    AsmPciAddr far = { 0x10000, 0, 1, 0 };
    FAILS (asm_pci_bus_set_add_controller (set, 9, M (PCI_BRIDGE), &far,
                                           &error),
           INVALID, "domain 0x10000 is out of range 0..0xffff");
  }
  /* a non-root needs its address */
  FAILS (asm_pci_bus_set_add_controller (set, 9, M (PCI_BRIDGE), NULL,
                                         &error),
         INVALID, "needs the address it is plugged in at");
  /* the address follows the placement rules of the parent bus */
  FAILS (asm_pci_bus_set_add_controller (set, 9, M (PCIE_ROOT_PORT),
                                         PA ("0000:00:04.0"), &error),
         INVALID, "bus 0000:00 (pci-root pci.0) does not accept a "
                  "pcie-root-port");
  FAILS (asm_pci_bus_set_add_controller (set, 9, M (PCI_BRIDGE),
                                         PA ("0000:00:00.0"), &error),
         INVALID, "slot 0 is out of range 0x1..0x1f");
  FAILS (asm_pci_bus_set_add_controller (set, 9, M (PCI_BRIDGE),
                                         PA ("0000:00:03.0"), &error),
         IN_USE, "0000:00:03.0 is already in use");
  UNCHANGED (set, before, 64);

  /* gaps are fine; bus ids beyond 8 bits are fine */
  OK (asm_pci_bus_set_add_controller (set, 300, M (PCI_BRIDGE),
                                      PA ("0000:05:01.0"), &error));
  OK (asm_pci_bus_set_add_controller (set, 0x10001, M (PCI_BRIDGE),
                                      PA ("ffff:00:01.0"), &error));
  CHECK (set);
  assert_true (asm_pci_bus_set_find_controller (set, 0, 300, NULL));
  assert_true (asm_pci_bus_set_find_controller (set, 0xffff, 0x10001, NULL));
  OK (asm_pci_bus_set_reserve_addr (set, PA ("0000:12c:1f.0"), PCI_DEV, FALSE,
                                    &error));
  OK (asm_pci_bus_set_reserve_addr (set, PA ("ffff:10001:01.0"), PCI_DEV,
                                    FALSE, &error));
  CHECK (set);
}

static void
test_seed002_256_buses (void **state)
{
  g_autoptr(AsmPciBusSet) set = set_with_root (M (PCI_ROOT), 0);
  g_autofree char *before = NULL;
  AsmPciAddr at;

  /* 255 pci-bridges fill domain 0 to 256 buses, each placed by
   * add_controller_next at the lowest free slot of a lower-index bus */
  for (guint32 i = 1; i <= 255; i++)
    OK (asm_pci_bus_set_add_controller_next (set, i, M (PCI_BRIDGE), 0, &at,
                                             &error));
  CHECK (set);
  /* bridges 1..31 on the root, bridge 32 on bus 1 */
  assert_true (asm_pci_bus_set_get_controller (set, 31, NULL));
  {
    AsmPciControllerInfo info;
    assert_true (asm_pci_bus_set_get_controller (set, 31, &info));
    ADDR_IS (info.plugged_at, "0000:00:1f.0");
    assert_true (asm_pci_bus_set_get_controller (set, 32, &info));
    ADDR_IS (info.plugged_at, "0000:01:01.0");
  }
  assert_int_equal (asm_pci_bus_set_get_n_controllers (set), 256);
  before = fingerprint (set, 300);

  /* the 257th bus of domain 0 is refused, whichever way it comes */
  FAILS (asm_pci_bus_set_add_controller_next (set, 256, M (PCI_BRIDGE), 0,
                                              &at, &error),
         NO_SPACE, "domain 0000 already holds 256 buses");
  FAILS (asm_pci_bus_set_add_controller (set, 1000, M (PCI_BRIDGE),
                                         PA ("0000:ff:05.0"), &error),
         NO_SPACE, "already holds 256 buses");
  UNCHANGED (set, before, 300);

  /* another domain has its own 256 */
  OK (asm_pci_bus_set_add_controller (set, 300, M (PCIE_ROOT), NULL, &error));
  OK (asm_pci_bus_set_add_controller (set, 1000, M (DMI_TO_PCI_BRIDGE),
                                      PA ("012c:00:01.0"), &error));
  OK (asm_pci_bus_set_add_controller (set, 1001, M (PCI_BRIDGE),
                                      PA ("012c:3e8:00.0"), &error));
  CHECK (set);
}

/* libvirt plugs a controller without an address into the first bus that
 * fits in index order, which may have a higher index than its own (a
 * switch's upstream port into the root port that fills a later index
 * gap): the bus set allows it, except for a pci-bridge (libvirt: "index
 * must be larger than bus"), and stays a tree */
static void
test_add_controller_higher_parent (void **state)
{
  g_autoptr(AsmPciBusSet) set = set_with_root (M (PCIE_ROOT), 0);
  g_autofree char *before = NULL;
  guint32 index;

  OK (asm_pci_bus_set_add_controller (set, 5, M (PCIE_ROOT_PORT),
                                      PA ("0000:00:02.0"), &error));
  /* upstream port 2 behind root port 5, downstream port 3 behind it */
  OK (asm_pci_bus_set_add_controller (set, 2, M (PCIE_SWITCH_UPSTREAM_PORT),
                                      PA ("0000:05:00.0"), &error));
  OK (asm_pci_bus_set_add_controller (set, 3,
                                      M (PCIE_SWITCH_DOWNSTREAM_PORT),
                                      PA ("0000:02:00.0"), &error));
  CHECK (set);
  assert_true (asm_pci_bus_set_find_controller (set, 0, 2, &index));
  assert_int_equal (index, 2);
  assert_true (asm_pci_bus_set_is_reserved (set, PA ("0000:05:00.0")));
  /* a device behind the downstream port: bus 3, reached through 2 and 5 */
  OK (asm_pci_bus_set_reserve_addr (set, PA ("0000:03:00.0"),
                                    ASM_PCI_CONNECT_TYPE_PCIE_DEVICE, TRUE,
                                    &error));
  CHECK (set);

  /* a pci-bridge only behind a bus of a lower index */
  OK (asm_pci_bus_set_add_controller (set, 6, M (PCIE_ROOT_PORT),
                                      PA ("0000:00:03.0"), &error));
  OK (asm_pci_bus_set_add_controller (set, 9, M (PCIE_TO_PCI_BRIDGE),
                                      PA ("0000:06:00.0"), &error));
  CHECK (set);
  before = fingerprint (set, 64);
  FAILS (asm_pci_bus_set_add_controller (set, 7, M (PCI_BRIDGE),
                                         PA ("0000:09:01.0"), &error),
         INVALID, "its index must be above 9");
  FAILS (asm_pci_bus_set_add_controller (set, 9, M (PCI_BRIDGE),
                                         PA ("0000:09:01.0"), &error),
         IN_USE, "index 9 is already used");
  {
    g_autofree char *after = fingerprint (set, 64);
    assert_string_equal (before, after);
  }
  OK (asm_pci_bus_set_add_controller (set, 10, M (PCI_BRIDGE),
                                      PA ("0000:09:01.0"), &error));
  /* a pcie-to-pci-bridge may plug into a later root port */
  OK (asm_pci_bus_set_add_controller (set, 12, M (PCIE_ROOT_PORT),
                                      PA ("0000:00:04.0"), &error));
  OK (asm_pci_bus_set_add_controller (set, 11, M (PCIE_TO_PCI_BRIDGE),
                                      PA ("0000:0c:00.0"), &error));
  CHECK (set);
  /* a clone keeps the shape and passes the check */
  {
    g_autoptr(AsmPciBusSet) copy = asm_pci_bus_set_clone (set);
    CHECK (copy);
  }
}

static void
test_floating_controller (void **state)
{
  /* a cycle as libvirt makes it: downstream port 1 in upstream port 2 at
   * 02:00.0, upstream port 2 in downstream port 1 at 01:00.0.  Port 1
   * floats (its bus 1 exists, plugged in nowhere), port 2 plugs into it,
   * and port 1's slot is a plain reservation: the set stays a forest */
  g_autoptr(AsmPciBusSet) set = set_with_root (M (PCIE_ROOT), 0);
  AsmPciConnectFlags ds = asm_pci_controller_model_get_connect_flags (
    M (PCIE_SWITCH_DOWNSTREAM_PORT));
  AsmPciControllerInfo info;
  g_autofree char *before = NULL;
  guint32 index;
  AsmPciAddr a;

  OK (asm_pci_bus_set_add_floating_controller (
        set, 1, M (PCIE_SWITCH_DOWNSTREAM_PORT), 0, &error));
  CHECK (set);
  assert_true (asm_pci_bus_set_is_floating (set, 1));
  assert_false (asm_pci_bus_set_is_floating (set, 0));
  assert_true (asm_pci_bus_set_find_controller (set, 0, 1, &index));
  assert_int_equal (index, 1);
  assert_true (asm_pci_bus_set_get_controller (set, 1, &info));
  assert_false (info.is_root);
  assert_int_equal (info.plugged_at.bus, 0);
  assert_int_equal (info.n_reserved, 0);
  OK (asm_pci_bus_set_add_controller (set, 2, M (PCIE_SWITCH_UPSTREAM_PORT),
                                      PA ("0000:01:00.0"), &error));
  OK (asm_pci_bus_set_reserve_addr (set, PA ("0000:02:00.0"), ds, TRUE,
                                    &error));
  CHECK (set);
  assert_false (asm_pci_bus_set_is_floating (set, 2));
  /* what comes later uses the cycle's buses in (domain, bus) order: a
   * downstream port on bus 2, a PCIe device behind it */
  OK (asm_pci_bus_set_add_controller (set, 3,
                                      M (PCIE_SWITCH_DOWNSTREAM_PORT),
                                      PA ("0000:02:01.0"), &error));
  OK (asm_pci_bus_set_reserve_next (set, PCIE_DEV, &a, &error));
  {
    g_autofree char *t = asm_pci_addr_format (&a);
    assert_string_equal (t, "0000:03:00.0");
  }
  CHECK (set);
  {
    g_autoptr(AsmPciBusSet) copy = asm_pci_bus_set_clone (set);
    CHECK (copy);
    assert_true (asm_pci_bus_set_is_floating (copy, 1));
  }

  /* refusals name the value and change nothing */
  before = fingerprint (set, 16);
  FAILS (asm_pci_bus_set_add_floating_controller (set, 4, M (PCIE_ROOT), 0,
                                                  &error),
         INVALID, "pcie-root controller 4 cannot float");
  FAILS (asm_pci_bus_set_add_floating_controller (set, 4, M (PCI_BRIDGE), 0,
                                                  &error),
         INVALID, "pci-bridge controller 4 cannot float");
  FAILS (asm_pci_bus_set_add_floating_controller (
           set, 2, M (PCIE_SWITCH_UPSTREAM_PORT), 0, &error),
         IN_USE, "index 2 is already used");
  FAILS (asm_pci_bus_set_add_floating_controller (
           set, 4, M (PCIE_SWITCH_UPSTREAM_PORT), 7, &error),
         NOT_FOUND, "domain 0007 does not exist");
  UNCHANGED (set, before, 16);
}

static void
test_add_controller_next (void **state)
{
  g_autoptr(AsmPciBusSet) set = set_with_root (M (PCIE_ROOT), 3);
  g_autofree char *before = NULL;
  AsmPciAddr at;

  /* an index not above the domain's root has no possible parent */
  FAILS (asm_pci_bus_set_add_controller_next (set, 2, M (PCIE_ROOT_PORT), 3,
                                              &at, &error),
         INVALID, "its index must be above 3");
  FAILS (asm_pci_bus_set_add_controller_next (set, 4, M (PCIE_ROOT), 3, &at,
                                              &error),
         INVALID, "is a root");
  FAILS (asm_pci_bus_set_add_controller_next (set, 4, M (PCIE_ROOT_PORT), 0,
                                              &at, &error),
         NOT_FOUND, "domain 0000 does not exist");
  /* root ports aggregate */
  OK (asm_pci_bus_set_add_controller_next (set, 4, M (PCIE_ROOT_PORT), 3, &at,
                                           &error));
  ADDR_IS (at, "0003:00:01.0");
  OK (asm_pci_bus_set_add_controller_next (set, 5, M (PCIE_ROOT_PORT), 3, &at,
                                           &error));
  ADDR_IS (at, "0003:00:01.1");
  /* a switch: upstream port in root port 4, downstream ports below it */
  OK (asm_pci_bus_set_add_controller_next (set, 6,
                                           M (PCIE_SWITCH_UPSTREAM_PORT), 3,
                                           &at, &error));
  ADDR_IS (at, "0003:04:00.0");
  OK (asm_pci_bus_set_add_controller_next (set, 7,
                                           M (PCIE_SWITCH_DOWNSTREAM_PORT), 3,
                                           &at, &error));
  ADDR_IS (at, "0003:06:00.0");
  OK (asm_pci_bus_set_add_controller_next (set, 8,
                                           M (PCIE_SWITCH_DOWNSTREAM_PORT), 3,
                                           &at, &error));
  ADDR_IS (at, "0003:06:01.0");
  /* a pcie-to-pci-bridge goes into the next free root or downstream port */
  OK (asm_pci_bus_set_add_controller_next (set, 9, M (PCIE_TO_PCI_BRIDGE), 3,
                                           &at, &error));
  ADDR_IS (at, "0003:05:00.0");
  CHECK (set);
  /* a pci-bridge cannot be auto-placed on this PCIe-only tree but in the
   * pcie-to-pci-bridge */
  OK (asm_pci_bus_set_add_controller_next (set, 10, M (PCI_BRIDGE), 3, &at,
                                           &error));
  ADDR_IS (at, "0003:09:01.0");
  /* a PCIe device goes to the first free port, a PCI device to a bridge */
  NEXT_IS (set, PCIE_DEV, "0003:07:00.0");
  NEXT_IS (set, PCI_DEV, "0003:09:02.0");
  /* only buses below the new index are candidates: with index 6's
   * downstream ports full, index 7's bus is below 8 but 8 is not below 8 */
  NEXT_IS (set, PCIE_DEV, "0003:08:00.0");
  before = fingerprint (set, 20);
  FAILS (asm_pci_bus_set_add_controller_next (set, 11,
                                              M (PCIE_SWITCH_UPSTREAM_PORT), 3,
                                              &at, &error),
         NO_SPACE, "no free address in domain 0003");
  UNCHANGED (set, before, 20);
}

/* ---------------------------------------------------------------------- */
/* regressions of peer allocators and observed libvirt behaviour          */
/* ---------------------------------------------------------------------- */

/* 32 devices on bus 0 with 00:00.0 reserved (pci-root keeps
 * slot 0 for the host bridge: its slots are 1..31). */
static void
check_pc_32_devices (guint32 domain)
{
  g_autoptr(AsmPciBusSet) set = set_with_root (M (PCI_ROOT), domain);
  g_autofree char *before = NULL;
  AsmPciAddr host = { domain, 0, 0, 0 };

  FAILS (asm_pci_bus_set_reserve_addr (set, &host, PCI_DEV, TRUE, &error),
         INVALID, "slot 0 is out of range 0x1..0x1f of bus");
  for (guint i = 1; i <= 31; i++)
    {
      g_autofree char *want = g_strdup_printf ("%04x:00:%02x.0", domain, i);
      NEXT_IS (set, PCI_DEV, want);
    }
  assert_int_equal (asm_pci_bus_set_get_n_reserved (set), 31);
  before = fingerprint (set, domain);
  FAILS (asm_pci_bus_set_reserve_next (set, PCI_DEV, NULL, &error), NO_SPACE,
         "no room for flags PCI device (auto-assign)");
  UNCHANGED (set, before, domain);
}

static void
test_anchor10_pc_bus0 (void **state)
{
  check_pc_32_devices (0);
  /* segment != 0 */
  check_pc_32_devices (5);
  check_pc_32_devices (0xffff);
}

static void
test_anchor10_two_segments (void **state)
{
  g_autoptr(AsmPciBusSet) set = set_with_root (M (PCI_ROOT), 0);

  OK (asm_pci_bus_set_add_controller (set, 5, M (PCI_ROOT), NULL, &error));
  for (guint i = 1; i <= 31; i++)
    {
      g_autofree char *want = g_strdup_printf ("0000:00:%02x.0", i);
      NEXT_IS (set, PCI_DEV, want);
    }
  NEXT_IS (set, PCI_DEV, "0005:00:01.0");
  OK (asm_pci_bus_set_release_addr (set, PA ("0000:00:11.0"), &error));
  NEXT_IS (set, PCI_DEV, "0000:00:11.0");
  NEXT_IS (set, PCI_DEV, "0005:00:02.0");
}

/* libvirt 9.0: q35 with no controllers fits 240 root ports at
 * 00:01.0-00:1e.7 and refuses the 241st (00:1f holds the ICH9 LPC, SATA
 * and SMBus functions, reserved by the machine setup). */
static void
test_q35_240_root_ports (void **state)
{
  g_autoptr(AsmPciBusSet) set = set_with_root (M (PCIE_ROOT), 0);
  g_autofree char *before = NULL;
  AsmPciAddr at;

  OK (asm_pci_bus_set_reserve_addr (set, PA ("00:1f.0"),
                                    ASM_PCI_CONNECT_TYPE_PCIE_DEVICE, FALSE,
                                    &error));
  OK (asm_pci_bus_set_reserve_addr (set, PA ("00:1f.2"),
                                    ASM_PCI_CONNECT_TYPE_PCIE_DEVICE, FALSE,
                                    &error));
  OK (asm_pci_bus_set_reserve_addr (set, PA ("00:1f.3"),
                                    ASM_PCI_CONNECT_TYPE_PCIE_DEVICE, FALSE,
                                    &error));
  /* pcie-root takes no auto-assigned endpoint */
  FAILS (asm_pci_bus_set_reserve_next (set, PCIE_DEV, NULL, &error), NO_SPACE,
         "no room for flags PCIe device (auto-assign)");

  for (guint32 i = 1; i <= 240; i++)
    {
      g_autofree char *want = g_strdup_printf ("0000:00:%02x.%x",
                                               1 + (i - 1) / 8, (i - 1) % 8);
      OK (asm_pci_bus_set_add_controller_next (set, i, M (PCIE_ROOT_PORT), 0,
                                               &at, &error));
      ADDR_IS (at, want);
    }
  CHECK (set);
  assert_int_equal (asm_pci_bus_set_get_n_controllers (set), 241);
  for (guint s = 1; s <= 0x1e; s++)
    {
      AsmPciAddr slot = { 0, 0, s, 0 };
      assert_true (asm_pci_bus_set_is_aggregate_slot (set, &slot));
      assert_true (asm_pci_bus_set_is_multifunction (set, &slot));
    }
  /* 00:1f is no aggregate slot, but multifunction (1f.2, 1f.3 in use) */
  assert_false (asm_pci_bus_set_is_aggregate_slot (set, PA ("00:1f.0")));
  assert_true (asm_pci_bus_set_is_multifunction (set, PA ("00:1f.0")));
  assert_false (asm_pci_bus_set_is_reserved (set, PA ("00:1f.1")));

  before = fingerprint (set, 245);
  FAILS (asm_pci_bus_set_add_controller_next (set, 241, M (PCIE_ROOT_PORT), 0,
                                              &at, &error),
         NO_SPACE, "accepts a pcie-root-port");
  FAILS (asm_pci_bus_set_reserve_next (set, ROOT_PORT, &at, &error), NO_SPACE,
         "no room for flags pcie-root-port (aggregate-slot)");
  UNCHANGED (set, before, 245);

  /* the ports take PCIe devices, in index order */
  NEXT_IS (set, PCIE_DEV, "0000:01:00.0");
  NEXT_IS (set, PCIE_DEV, "0000:02:00.0");
  NEXT_IS (set, PCIE_DEV | ASM_PCI_CONNECT_HOTPLUGGABLE, "0000:03:00.0");
}

/* libvirt 9.0 on pc: 29 virtio disks fit on bus 0 (00:01 is the PIIX3, one
 * slot is kept for a bridge); the 30th adds a pci-bridge at 00:02.0 and
 * goes to 01:01.0. */
typedef struct {
  guint calls;
  AsmPciConnectFlags flags;
  int mode;
} Grow;

enum {
  GROW_BRIDGE_IN_KEPT_SLOT,
  GROW_NEXT_BRIDGE,
  GROW_WRONG_KIND,
  GROW_REFUSE,
  GROW_REENTER,
};

static gboolean
grow_cb (AsmPciBusSet *set, AsmPciConnectFlags flags, gpointer user_data,
         GError **error)
{
  Grow *g = user_data;
  AsmPciAddr at;
  guint32 index = asm_pci_bus_set_get_n_controllers (set);

  g->calls++;
  g->flags = flags;
  switch (g->mode)
    {
    case GROW_BRIDGE_IN_KEPT_SLOT:
      return asm_pci_bus_set_release_addr (set, PA ("00:02.0"), error) &&
             asm_pci_bus_set_add_controller (set, index, M (PCI_BRIDGE),
                                             PA ("00:02.0"), error);
    case GROW_NEXT_BRIDGE:
      return asm_pci_bus_set_add_controller_next (set, index, M (PCI_BRIDGE),
                                                  0, &at, error);
    case GROW_WRONG_KIND:
      /* adds room, but not for the device that asked */
      return asm_pci_bus_set_add_controller_next (set, index,
                                                  M (PCIE_ROOT_PORT), 0, &at,
                                                  error);
    case GROW_REFUSE:
      /* changes something, then gives up */
      if (!asm_pci_bus_set_release_addr (set, PA ("00:02.0"), error))
        return FALSE;
      g_set_error (error, ASM_ERROR, ASM_ERROR_UNSUPPORTED,
                   "policy forbids more buses");
      return FALSE;
    case GROW_REENTER:
      /* the callback is not called again from inside itself */
      return asm_pci_bus_set_reserve_next (set, flags, &at, error);
    default:
      return FALSE;
    }
}

static AsmPciBusSet *
pc_with_kept_slot (void)
{
  AsmPciBusSet *set = set_with_root (M (PCI_ROOT), 0);

  /* PIIX3: ISA, IDE, USB, PM at 00:01.0-.3 */
  for (guint f = 0; f < 4; f++)
    {
      AsmPciAddr a = { 0, 0, 1, f };
      OK (asm_pci_bus_set_reserve_addr (set, &a,
                                        ASM_PCI_CONNECT_TYPE_PCI_DEVICE,
                                        FALSE, &error));
    }
  /* the slot kept for a pci-bridge */
  OK (asm_pci_bus_set_reserve_addr (set, PA ("00:02.0"),
                                    ASM_PCI_CONNECT_TYPE_PCI_BRIDGE, FALSE,
                                    &error));
  for (guint s = 3; s <= 31; s++)
    {
      g_autofree char *want = g_strdup_printf ("0000:00:%02x.0", s);
      NEXT_IS (set, PCI_DEV, want);
    }
  return set;
}

static void
test_grow_pc_30th_disk (void **state)
{
  g_autoptr(AsmPciBusSet) set = pc_with_kept_slot ();
  Grow g = { 0, 0, GROW_BRIDGE_IN_KEPT_SLOT };
  AsmPciControllerInfo info;

  asm_pci_bus_set_set_grow_func (set, grow_cb, &g, NULL);
  NEXT_IS (set, PCI_DEV, "0000:01:01.0");
  assert_int_equal (g.calls, 1);
  assert_int_equal (g.flags, PCI_DEV);
  assert_true (asm_pci_bus_set_get_controller (set, 1, &info));
  assert_int_equal (info.model, M (PCI_BRIDGE));
  ADDR_IS (info.plugged_at, "0000:00:02.0");
  /* the bridge has room: no more growth for 30 more disks */
  for (guint s = 2; s <= 31; s++)
    {
      g_autofree char *want = g_strdup_printf ("0000:01:%02x.0", s);
      NEXT_IS (set, PCI_DEV, want);
    }
  assert_int_equal (g.calls, 1);
  /* the kept slot now holds the bridge: the callback cannot take it back */
  {
    g_autofree char *before = fingerprint (set, 4);
    FAILS (asm_pci_bus_set_reserve_next (set, PCI_DEV, NULL, &error),
           NO_SPACE, "0000:00:02.0 holds controller 1 (pci-bridge pci.1), "
                     "which cannot be released");
    assert_int_equal (g.calls, 2);
    UNCHANGED (set, before, 4);
  }
}

static void
test_grow_next_bridge (void **state)
{
  g_autoptr(AsmPciBusSet) set = pc_with_kept_slot ();
  Grow g = { 0, 0, GROW_NEXT_BRIDGE };

  OK (asm_pci_bus_set_release_addr (set, PA ("00:02.0"), &error));
  OK (asm_pci_bus_set_reserve_addr (set, PA ("00:02.0"), PCI_DEV, FALSE,
                                    &error));
  /* bus 0 is full: the bridge cannot be added; set unchanged */
  asm_pci_bus_set_set_grow_func (set, grow_cb, &g, NULL);
  {
    g_autofree char *before = fingerprint (set, 4);
    FAILS (asm_pci_bus_set_reserve_next (set, PCI_DEV, NULL, &error),
           NO_SPACE, "growing the set failed: pci-bridge controller 1: no "
                     "free address");
    UNCHANGED (set, before, 4);
  }
  /* free one slot, but for a hotpluggable device bus 0 is no use with
   * hotplug off: the bridge goes into the slot, the device behind it */
  OK (asm_pci_bus_set_release_addr (set, PA ("00:1f.0"), &error));
  OK (asm_pci_bus_set_set_hotplug (set, 0, FALSE, &error));
  NEXT_IS (set, PCI_DEV | ASM_PCI_CONNECT_HOTPLUGGABLE, "0000:01:01.0");
  assert_int_equal (g.calls, 2);
  assert_true (asm_pci_bus_set_is_reserved (set, PA ("00:1f.0")));
  assert_true (asm_pci_bus_set_find_controller (set, 0, 1, NULL));
  FAILS (asm_pci_bus_set_release_addr (set, PA ("00:1f.0"), &error), IN_USE,
         "holds controller 1 (pci-bridge pci.1)");
  OK (asm_pci_bus_set_release_addr (set, PA ("00:03.0"), &error));
  NEXT_IS (set, PCI_DEV, "0000:00:03.0");
}

static void
test_grow_rollback (void **state)
{
  g_autoptr(AsmPciBusSet) set = pc_with_kept_slot ();
  g_autofree char *before = NULL;
  Grow g = { 0, 0, GROW_WRONG_KIND };

  /* a root port cannot go on pci-root: the callback fails, nothing added */
  asm_pci_bus_set_set_grow_func (set, grow_cb, &g, NULL);
  before = fingerprint (set, 4);
  FAILS (asm_pci_bus_set_reserve_next (set, PCI_DEV, NULL, &error), NO_SPACE,
         "accepts a pcie-root-port");
  UNCHANGED (set, before, 4);

  /* a q35 set where the callback adds a root port, useless to a PCI
   * device: the retry fails and the port is rolled back */
  {
    g_autoptr(AsmPciBusSet) q35 = set_with_root (M (PCIE_ROOT), 0);
    g_autofree char *b = NULL;
    Grow h = { 0, 0, GROW_WRONG_KIND };

    asm_pci_bus_set_set_grow_func (q35, grow_cb, &h, NULL);
    b = fingerprint (q35, 4);
    FAILS (asm_pci_bus_set_reserve_next (q35, PCI_DEV, NULL, &error),
           NO_SPACE, "even after the grow callback added some (rolled back)");
    assert_int_equal (h.calls, 1);
    UNCHANGED (q35, b, 4);
    assert_int_equal (asm_pci_bus_set_get_n_controllers (q35), 1);
    /* the same callback is the right one for a PCIe device */
    NEXT_IS (q35, PCIE_DEV, "0000:01:00.0");
    assert_int_equal (h.calls, 2);
    NEXT_IS (q35, PCIE_DEV, "0000:02:00.0");
    assert_int_equal (asm_pci_bus_set_get_n_controllers (q35), 3);
    {
      AsmPciControllerInfo info;
      assert_true (asm_pci_bus_set_get_controller (q35, 2, &info));
      ADDR_IS (info.plugged_at, "0000:00:01.1");
    }
  }

  /* the callback changes something and then refuses */
  g.mode = GROW_REFUSE;
  FAILS (asm_pci_bus_set_reserve_next (set, PCI_DEV, NULL, &error), NO_SPACE,
         "growing the set failed: policy forbids more buses");
  UNCHANGED (set, before, 4);

  /* the callback is not re-entered */
  g.mode = GROW_REENTER;
  g.calls = 0;
  FAILS (asm_pci_bus_set_reserve_next (set, PCI_DEV, NULL, &error), NO_SPACE,
         "growing the set failed: no room for flags PCI device");
  assert_int_equal (g.calls, 1);
  UNCHANGED (set, before, 4);

  /* no callback: plain NO_SPACE */
  asm_pci_bus_set_set_grow_func (set, NULL, NULL, NULL);
  FAILS (asm_pci_bus_set_reserve_next (set, PCI_DEV, NULL, &error), NO_SPACE,
         "no room for flags PCI device (auto-assign)");
  UNCHANGED (set, before, 4);
}

static void
grow_destroy (gpointer data)
{
  (*(int *) data)++;
}

static void
test_grow_destroy_notify (void **state)
{
  int destroyed = 0;
  AsmPciBusSet *set = set_with_root (M (PCI_ROOT), 0);

  asm_pci_bus_set_set_grow_func (set, grow_cb, &destroyed, grow_destroy);
  asm_pci_bus_set_set_grow_func (set, grow_cb, &destroyed, grow_destroy);
  assert_int_equal (destroyed, 1);
  asm_pci_bus_set_ref (set);
  asm_pci_bus_set_unref (set);
  assert_int_equal (destroyed, 1);
  asm_pci_bus_set_unref (set);
  assert_int_equal (destroyed, 2);
}

/* libvirt 9.0: detaching a device and attaching another reuses the lowest
 * freed slot. */
static void
test_release_reuse (void **state)
{
  g_autoptr(AsmPciBusSet) set = set_with_root (M (PCI_ROOT), 0);
  g_autofree char *before = NULL;

  for (guint s = 1; s <= 7; s++)
    {
      g_autofree char *want = g_strdup_printf ("0000:00:%02x.0", s);
      NEXT_IS (set, PCI_DEV, want);
    }
  OK (asm_pci_bus_set_release_addr (set, PA ("00:05.0"), &error));
  CHECK (set);
  OK (asm_pci_bus_set_release_addr (set, PA ("00:03.0"), &error));
  CHECK (set);
  NEXT_IS (set, PCI_DEV, "0000:00:03.0");
  NEXT_IS (set, PCI_DEV, "0000:00:05.0");
  NEXT_IS (set, PCI_DEV, "0000:00:08.0");

  before = fingerprint (set, 2);
  FAILS (asm_pci_bus_set_release_addr (set, PA ("00:09.0"), &error),
         NOT_FOUND, "0000:00:09.0 is not reserved");
  FAILS (asm_pci_bus_set_release_addr (set, PA ("00:03.1"), &error),
         NOT_FOUND, "0000:00:03.1 is not reserved");
  FAILS (asm_pci_bus_set_release_addr (set, PA ("01:03.0"), &error),
         NOT_FOUND, "bus 0000:01 does not exist");
  {
    AsmPciAddr bad = { 0, 0, 3, 8 };
    FAILS (asm_pci_bus_set_release_addr (set, &bad, &error), INVALID,
           "function 8 is out of range 0..7");
    bad.function = 0;
    bad.slot = 0x20;
    FAILS (asm_pci_bus_set_release_addr (set, &bad, &error), INVALID,
           "slot 0x20 is out of range 0..0x1f");
    bad.slot = 3;
    bad.domain = 0x10000;
    FAILS (asm_pci_bus_set_release_addr (set, &bad, &error), INVALID,
           "domain 0x10000 is out of range 0..0xffff");
  }
  UNCHANGED (set, before, 2);

  /* exact reservations: IN_USE, and the released address is free again */
  FAILS (asm_pci_bus_set_reserve_addr (set, PA ("00:03.0"), PCI_DEV, FALSE,
                                       &error),
         IN_USE, "0000:00:03.0 is already in use");
  UNCHANGED (set, before, 2);
  OK (asm_pci_bus_set_release_addr (set, PA ("00:03.0"), &error));
  OK (asm_pci_bus_set_reserve_addr (set, PA ("00:03.0"), PCI_DEV, FALSE,
                                    &error));
  UNCHANGED (set, before, 2);
}

static void
test_aggregate_slots (void **state)
{
  g_autoptr(AsmPciBusSet) set = set_with_root (M (PCIE_ROOT), 0);
  const AsmPciConnectFlags pcie = ASM_PCI_CONNECT_TYPE_PCIE_DEVICE;

  NEXT_IS (set, ROOT_PORT, "0000:00:01.0");
  assert_true (asm_pci_bus_set_is_aggregate_slot (set, PA ("00:01.5")));
  assert_false (asm_pci_bus_set_is_multifunction (set, PA ("00:01.0")));
  NEXT_IS (set, ROOT_PORT, "0000:00:01.1");
  assert_true (asm_pci_bus_set_is_multifunction (set, PA ("00:01.0")));
  NEXT_IS (set, ROOT_PORT, "0000:00:01.2");
  /* a non-aggregating device takes only an empty slot */
  NEXT_IS (set, pcie, "0000:00:02.0");
  assert_false (asm_pci_bus_set_is_aggregate_slot (set, PA ("00:02.0")));
  NEXT_IS (set, ROOT_PORT, "0000:00:01.3");
  /* a root port does not join a non-aggregate slot either */
  for (guint f = 4; f < 8; f++)
    {
      g_autofree char *want = g_strdup_printf ("0000:00:01.%u", f);
      NEXT_IS (set, ROOT_PORT, want);
    }
  NEXT_IS (set, ROOT_PORT, "0000:00:03.0");

  /* an exact reservation may take any free function of any slot; the
   * slot keeps its mark */
  OK (asm_pci_bus_set_reserve_addr (set, PA ("00:03.5"), pcie, FALSE,
                                    &error));
  assert_true (asm_pci_bus_set_is_aggregate_slot (set, PA ("00:03.0")));
  OK (asm_pci_bus_set_reserve_addr (set, PA ("00:02.3"), pcie, FALSE,
                                    &error));
  assert_true (asm_pci_bus_set_is_multifunction (set, PA ("00:02.0")));
  CHECK (set);
  NEXT_IS (set, ROOT_PORT, "0000:00:03.1");

  /* releasing every function of slot 1 clears its mark: a PCIe device may
   * then take it, and a root port no longer fills it */
  for (guint f = 0; f < 8; f++)
    {
      AsmPciAddr a = { 0, 0, 1, f };
      assert_true (asm_pci_bus_set_is_aggregate_slot (set, &a));
      OK (asm_pci_bus_set_release_addr (set, &a, &error));
      CHECK (set);
    }
  assert_false (asm_pci_bus_set_is_aggregate_slot (set, PA ("00:01.0")));
  NEXT_IS (set, pcie, "0000:00:01.0");
  NEXT_IS (set, ROOT_PORT, "0000:00:03.2");
  /* a slot whose first function went to a non-aggregating device exactly
   * (function 4 here) is not aggregate either */
  OK (asm_pci_bus_set_reserve_addr (set, PA ("00:04.4"), pcie, FALSE,
                                    &error));
  assert_false (asm_pci_bus_set_is_aggregate_slot (set, PA ("00:04.0")));
  NEXT_IS (set, ROOT_PORT, "0000:00:03.3");
  NEXT_IS (set, ROOT_PORT, "0000:00:03.4");
  NEXT_IS (set, ROOT_PORT, "0000:00:03.6");
  NEXT_IS (set, ROOT_PORT, "0000:00:03.7");
  NEXT_IS (set, ROOT_PORT, "0000:00:05.0");
  /* an exact root port at function 2 of an empty slot marks it aggregate */
  OK (asm_pci_bus_set_reserve_addr (set, PA ("00:07.2"), ROOT_PORT, FALSE,
                                    &error));
  NEXT_IS (set, ROOT_PORT, "0000:00:05.1");
  for (guint f = 2; f < 8; f++)
    {
      g_autofree char *want = g_strdup_printf ("0000:00:05.%u", f);
      NEXT_IS (set, ROOT_PORT, want);
    }
  NEXT_IS (set, ROOT_PORT, "0000:00:06.0");
  for (guint f = 1; f < 8; f++)
    {
      g_autofree char *want = g_strdup_printf ("0000:00:06.%u", f);
      NEXT_IS (set, ROOT_PORT, want);
    }
  NEXT_IS (set, ROOT_PORT, "0000:00:07.0");
  NEXT_IS (set, ROOT_PORT, "0000:00:07.1");
  NEXT_IS (set, ROOT_PORT, "0000:00:07.3");
}

static void
test_reserve_slot (void **state)
{
  g_autoptr(AsmPciBusSet) set = set_with_root (M (PCI_ROOT), 0);
  g_autofree char *before = NULL;

  OK (asm_pci_bus_set_reserve_slot (set, PA ("00:01.0"),
                                    ASM_PCI_CONNECT_TYPE_PCI_DEVICE, FALSE,
                                    &error));
  CHECK (set);
  for (guint f = 0; f < 8; f++)
    {
      AsmPciAddr a = { 0, 0, 1, f };
      assert_true (asm_pci_bus_set_is_reserved (set, &a));
    }
  assert_true (asm_pci_bus_set_is_multifunction (set, PA ("00:01.0")));
  NEXT_IS (set, PCI_DEV, "0000:00:02.0");
  before = fingerprint (set, 2);
  FAILS (asm_pci_bus_set_reserve_slot (set, PA ("00:02.0"), PCI_DEV, FALSE,
                                       &error),
         IN_USE, "slot 0000:00:02 has functions in use");
  FAILS (asm_pci_bus_set_reserve_slot (set, PA ("00:03.1"), PCI_DEV, FALSE,
                                       &error),
         INVALID, "a slot is named by its function 0");
  FAILS (asm_pci_bus_set_reserve_slot (set, PA ("00:00.0"), PCI_DEV, FALSE,
                                       &error),
         INVALID, "slot 0 is out of range 0x1..0x1f");
  FAILS (asm_pci_bus_set_reserve_slot (set, PA ("00:03.0"), PCIE_DEV, FALSE,
                                       &error),
         INVALID, "does not accept a PCIe device");
  FAILS (asm_pci_bus_set_reserve_slot (set, PA ("02:03.0"), PCI_DEV, FALSE,
                                       &error),
         NOT_FOUND, "bus 0000:02 does not exist");
  UNCHANGED (set, before, 2);
  /* each function of a slot is released on its own */
  OK (asm_pci_bus_set_release_addr (set, PA ("00:01.0"), &error));
  CHECK (set);
  NEXT_IS (set, PCI_DEV, "0000:00:03.0");
  for (guint f = 1; f < 8; f++)
    {
      AsmPciAddr a = { 0, 0, 1, f };
      OK (asm_pci_bus_set_release_addr (set, &a, &error));
    }
  NEXT_IS (set, PCI_DEV, "0000:00:01.0");
}

/* virDomainPCIAddressFlagsCompatible, with and without from_config */
static void
test_flags_and_from_config (void **state)
{
  g_autoptr(AsmPciBusSet) pc = set_with_root (M (PCI_ROOT), 0);
  g_autoptr(AsmPciBusSet) q35 = set_with_root (M (PCIE_ROOT), 0);
  g_autofree char *pc_before = NULL, *q35_before = NULL;
  const AsmPciConnectFlags pcie = ASM_PCI_CONNECT_TYPE_PCIE_DEVICE;
  const AsmPciConnectFlags pci = ASM_PCI_CONNECT_TYPE_PCI_DEVICE;
  const AsmPciConnectFlags hot = ASM_PCI_CONNECT_HOTPLUGGABLE;

  pc_before = fingerprint (pc, 4);
  q35_before = fingerprint (q35, 4);

  /* bad flags */
  FAILS (asm_pci_bus_set_reserve_addr (pc, PA ("00:05.0"), 0, FALSE, &error),
         INVALID, "connect flags 0 name no device type");
  FAILS (asm_pci_bus_set_reserve_addr (pc, PA ("00:05.0"),
                                       ASM_PCI_CONNECT_HOTPLUGGABLE, FALSE,
                                       &error),
         INVALID, "name no device type");
  FAILS (asm_pci_bus_set_reserve_addr (pc, PA ("00:05.0"), pci | (1 << 20),
                                       FALSE, &error),
         INVALID, "unknown bits 0x100000");
  FAILS (asm_pci_bus_set_reserve_next (pc, 0, NULL, &error), INVALID,
         "name no device type");

  /* PCIe endpoint on pci-root: only from configuration */
  FAILS (asm_pci_bus_set_reserve_addr (pc, PA ("00:05.0"), pcie, FALSE,
                                       &error),
         INVALID, "0000:00:05.0: bus 0000:00 (pci-root pci.0) does not "
                  "accept a PCIe device");
  FAILS (asm_pci_bus_set_reserve_next (pc, pcie, NULL, &error), NO_SPACE,
         "no room for flags PCIe device");
  /* PCI endpoint on pcie-root: only from configuration */
  FAILS (asm_pci_bus_set_reserve_addr (q35, PA ("00:05.0"), pci, FALSE,
                                       &error),
         INVALID, "bus 0000:00 (pcie-root pcie.0) does not accept a PCI "
                  "device");
  /* auto-assignment on pcie-root is refused, unless from configuration */
  FAILS (asm_pci_bus_set_reserve_addr (q35, PA ("00:05.0"), PCIE_DEV, FALSE,
                                       &error),
         INVALID, "does not take auto-assigned devices");
  /* hotplug is required even from configuration */
  FAILS (asm_pci_bus_set_reserve_addr (q35, PA ("00:05.0"), pcie | hot, TRUE,
                                       &error),
         INVALID, "bus 0000:00 (pcie-root pcie.0) does not support hotplug");
  /* a root port is never a PCI device, even from configuration */
  FAILS (asm_pci_bus_set_reserve_addr (pc, PA ("00:05.0"), ROOT_PORT, TRUE,
                                       &error),
         INVALID, "does not accept a pcie-root-port");
  /* an integrated device belongs on bus 0 */
  FAILS (asm_pci_bus_set_reserve_next (q35, pci | ASM_PCI_CONNECT_INTEGRATED,
                                       NULL, &error),
         NO_SPACE, "no room for flags PCI device (integrated)");
  UNCHANGED (pc, pc_before, 4);
  UNCHANGED (q35, q35_before, 4);

  OK (asm_pci_bus_set_reserve_addr (pc, PA ("00:05.0"), pcie, TRUE, &error));
  OK (asm_pci_bus_set_reserve_addr (pc, PA ("00:06.0"), PCIE_DEV | hot, TRUE,
                                    &error));
  OK (asm_pci_bus_set_reserve_addr (q35, PA ("00:05.0"), pci, TRUE, &error));
  OK (asm_pci_bus_set_reserve_addr (q35, PA ("00:06.0"), PCIE_DEV, TRUE,
                                    &error));
  CHECK (pc);
  CHECK (q35);

  /* a pci-bridge is not auto-placed on pcie-root... */
  {
    AsmPciAddr at;
    FAILS (asm_pci_bus_set_add_controller_next (q35, 1, M (PCI_BRIDGE), 0,
                                                &at, &error),
           NO_SPACE, "accepts a pci-bridge");
    /* ...but from configuration it may go where a PCI device may: on
     * pcie-root, since it takes endpoints */
    OK (asm_pci_bus_set_add_controller (q35, 1, M (PCI_BRIDGE),
                                        PA ("00:07.0"), &error));
    CHECK (q35);
    /* a dmi-to-pci-bridge is, and takes a pci-bridge (but no auto-assigned
     * PCI device) */
    OK (asm_pci_bus_set_add_controller_next (q35, 2, M (DMI_TO_PCI_BRIDGE),
                                             0, &at, &error));
    ADDR_IS (at, "0000:00:01.0");
    OK (asm_pci_bus_set_add_controller_next (q35, 3, M (PCI_BRIDGE), 0, &at,
                                             &error));
    ADDR_IS (at, "0000:01:01.0");
  }
  NEXT_IS (q35, PCI_DEV, "0000:01:02.0");
  NEXT_IS (q35, pci, "0000:01:03.0");
  /* integrated devices are auto-placed on bus 0 of pcie-root */
  NEXT_IS (q35, pcie | ASM_PCI_CONNECT_INTEGRATED | ASM_PCI_CONNECT_AUTOASSIGN,
           "0000:00:02.0");
  FAILS (asm_pci_bus_set_reserve_addr (q35, PA ("01:04.0"),
                                       pci | ASM_PCI_CONNECT_INTEGRATED, TRUE,
                                       &error),
         INVALID, "an integrated device must be on bus 0");
}

static void
test_hotplug (void **state)
{
  g_autoptr(AsmPciBusSet) set = set_with_root (M (PCI_ROOT), 0);
  const AsmPciConnectFlags hot = PCI_DEV | ASM_PCI_CONNECT_HOTPLUGGABLE;
  AsmPciControllerInfo info;

  OK (asm_pci_bus_set_add_controller (set, 1, M (PCI_BRIDGE), PA ("00:01.0"),
                                      &error));
  NEXT_IS (set, hot, "0000:00:02.0");
  OK (asm_pci_bus_set_set_hotplug (set, 0, FALSE, &error));
  CHECK (set);
  assert_true (asm_pci_bus_set_get_controller (set, 0, &info));
  assert_int_equal (info.accepts & ASM_PCI_CONNECT_HOTPLUGGABLE, 0);
  NEXT_IS (set, hot, "0000:01:01.0");
  NEXT_IS (set, PCI_DEV, "0000:00:03.0");
  FAILS (asm_pci_bus_set_reserve_addr (set, PA ("00:09.0"), hot, FALSE,
                                       &error),
         INVALID, "does not support hotplug");
  OK (asm_pci_bus_set_set_hotplug (set, 0, TRUE, &error));
  CHECK (set);
  NEXT_IS (set, hot, "0000:00:04.0");
  OK (asm_pci_bus_set_set_hotplug (set, 0, FALSE, &error));
  OK (asm_pci_bus_set_set_hotplug (set, 0, TRUE, &error));
  CHECK (set);
  NEXT_IS (set, hot, "0000:00:05.0");

  {
    g_autoptr(AsmPciBusSet) q35 = set_with_root (M (PCIE_ROOT), 0);
    FAILS (asm_pci_bus_set_set_hotplug (q35, 0, TRUE, &error), INVALID,
           "bus 0000:00 (pcie-root pcie.0) never supports hotplug");
    OK (asm_pci_bus_set_set_hotplug (q35, 0, FALSE, &error));
    FAILS (asm_pci_bus_set_set_hotplug (q35, 1, FALSE, &error), NOT_FOUND,
           "no controller has index 1");
    CHECK (q35);
  }
}

/* virDomainPCIAddressGetNextAddr's two passes and
 * virDomainPCIAddressReserveAddrInternal's group updates */
static void
test_isolation_groups (void **state)
{
  g_autoptr(AsmPciBusSet) set = set_with_root (M (PCI_ROOT), 0);
  AsmPciControllerInfo info;

  for (guint32 i = 1; i <= 3; i++)
    {
      AsmPciAddr at;
      OK (asm_pci_bus_set_add_controller_next (set, i, M (PCI_BRIDGE), 0, &at,
                                               &error));
    }
  /* the root holds the bridges, group 0; bridges 1..3 are empty */
  NEXT_IN_GROUP_IS (set, PCI_DEV, 0, "0000:00:04.0");
  /* group 7 has no bus: the lowest empty bus adopts it */
  NEXT_IN_GROUP_IS (set, PCI_DEV, 7, "0000:01:01.0");
  assert_true (asm_pci_bus_set_get_controller (set, 1, &info));
  assert_int_equal (info.isolation_group, 7);
  NEXT_IN_GROUP_IS (set, PCI_DEV, 7, "0000:01:02.0");
  /* group 0 devices stay off group 7's bus */
  NEXT_IN_GROUP_IS (set, PCI_DEV, 0, "0000:00:05.0");
  NEXT_IN_GROUP_IS (set, PCI_DEV, 8, "0000:02:01.0");
  /* bus 3 is locked to group 9: group 10 finds no empty unlocked bus */
  OK (asm_pci_bus_set_set_isolation_group (set, 3, 9, TRUE, &error));
  CHECK (set);
  {
    g_autofree char *before = fingerprint (set, 4);
    FAILS (asm_pci_bus_set_reserve_next_full (set, PCI_DEV, 10, NULL, &error),
           NO_SPACE, "isolation group 10");
    UNCHANGED (set, before, 4);
  }
  NEXT_IN_GROUP_IS (set, PCI_DEV, 9, "0000:03:01.0");
  /* a locked bus keeps its group when empty */
  OK (asm_pci_bus_set_release_addr (set, PA ("03:01.0"), &error));
  CHECK (set);
  NEXT_IN_GROUP_IS (set, PCI_DEV, 9, "0000:03:01.0");
  /* an unlocked bus that empties may adopt another group */
  OK (asm_pci_bus_set_release_addr (set, PA ("02:01.0"), &error));
  CHECK (set);
  NEXT_IN_GROUP_IS (set, PCI_DEV, 10, "0000:02:01.0");
  assert_true (asm_pci_bus_set_get_controller (set, 2, &info));
  assert_int_equal (info.isolation_group, 10);
  /* an address from configuration with another group resets the bus to
   * group 0; an internal one leaves it */
  OK (asm_pci_bus_set_reserve_addr_full (set, PA ("01:05.0"), PCI_DEV, 3,
                                         FALSE, &error));
  assert_true (asm_pci_bus_set_get_controller (set, 1, &info));
  assert_int_equal (info.isolation_group, 7);
  OK (asm_pci_bus_set_reserve_addr_full (set, PA ("01:06.0"), PCI_DEV, 3,
                                         TRUE, &error));
  CHECK (set);
  assert_true (asm_pci_bus_set_get_controller (set, 1, &info));
  assert_int_equal (info.isolation_group, 0);
  /* group 0 devices still go to bus 0 first */
  NEXT_IN_GROUP_IS (set, PCI_DEV, 0, "0000:00:06.0");
  /* group 7 lost its bus, and no empty unlocked bus is left */
  FAILS (asm_pci_bus_set_reserve_next_full (set, PCI_DEV, 7, NULL, &error),
         NO_SPACE, "isolation group 7");
  /* an exact reservation on an empty unlocked bus sets its group too */
  OK (asm_pci_bus_set_set_isolation_group (set, 3, 9, FALSE, &error));
  OK (asm_pci_bus_set_release_addr (set, PA ("03:01.0"), &error));
  CHECK (set);
  OK (asm_pci_bus_set_reserve_addr_full (set, PA ("03:07.0"), PCI_DEV, 12,
                                         FALSE, &error));
  CHECK (set);
  assert_true (asm_pci_bus_set_get_controller (set, 3, &info));
  assert_int_equal (info.isolation_group, 12);
  assert_false (info.isolation_locked);
  NEXT_IN_GROUP_IS (set, PCI_DEV, 12, "0000:03:01.0");
  /* a from-config mismatch resets even a locked bus (as libvirt does) */
  OK (asm_pci_bus_set_set_isolation_group (set, 3, 12, TRUE, &error));
  OK (asm_pci_bus_set_reserve_addr_full (set, PA ("03:08.0"), PCI_DEV, 5,
                                         TRUE, &error));
  assert_true (asm_pci_bus_set_get_controller (set, 3, &info));
  assert_int_equal (info.isolation_group, 0);
  assert_true (info.isolation_locked);
  CHECK (set);
  FAILS (asm_pci_bus_set_set_isolation_group (set, 99, 1, FALSE, &error),
         NOT_FOUND, "no controller has index 99");
}

static void
test_copy_independent (void **state)
{
  g_autoptr(AsmPciBusSet) set = set_with_root (M (PCIE_ROOT), 0);
  g_autoptr(AsmPciBusSet) copy = NULL;
  g_autofree char *before = NULL;
  AsmPciAddr at;

  OK (asm_pci_bus_set_add_controller_next (set, 1, M (PCIE_ROOT_PORT), 0, &at,
                                           &error));
  NEXT_IS (set, PCIE_DEV, "0000:01:00.0");
  before = fingerprint (set, 4);
  copy = asm_pci_bus_set_clone (set);
  CHECK (copy);
  {
    g_autofree char *c = fingerprint (copy, 4);
    assert_string_equal (c, before);
  }
  OK (asm_pci_bus_set_add_controller_next (copy, 2, M (PCIE_ROOT_PORT), 0,
                                           &at, &error));
  NEXT_IS (copy, PCIE_DEV, "0000:02:00.0");
  OK (asm_pci_bus_set_release_addr (copy, PA ("01:00.0"), &error));
  OK (asm_pci_bus_set_set_isolation_group (copy, 1, 4, TRUE, &error));
  CHECK (copy);
  UNCHANGED (set, before, 4);
  OK (asm_pci_bus_set_release_addr (set, PA ("01:00.0"), &error));
  NEXT_IS (set, PCIE_DEV, "0000:01:00.0");
  CHECK (copy);
}

static gboolean
stop_after_two (const AsmPciAddr *a, gpointer user_data)
{
  return ++*(guint *) user_data < 2;
}

static void
test_foreach_reserved (void **state)
{
  g_autoptr(AsmPciBusSet) set = set_with_root (M (PCI_ROOT), 0);
  g_autoptr(GString) s = g_string_new (NULL);
  guint n = 0;

  OK (asm_pci_bus_set_add_controller (set, 2, M (PCI_ROOT), NULL, &error));
  OK (asm_pci_bus_set_reserve_addr (set, PA ("0002:00:1f.7"), PCI_DEV, TRUE,
                                    &error));
  OK (asm_pci_bus_set_reserve_addr (set, PA ("0000:00:03.4"), PCI_DEV, TRUE,
                                    &error));
  OK (asm_pci_bus_set_add_controller (set, 4, M (PCI_BRIDGE),
                                      PA ("0002:00:01.0"), &error));
  OK (asm_pci_bus_set_reserve_addr (set, PA ("0002:04:01.0"), PCI_DEV, TRUE,
                                    &error));
  assert_true (asm_pci_bus_set_foreach_reserved (set, append_addr, s));
  assert_string_equal (s->str, " 0000:00:03.4 0002:00:01.0 0002:00:1f.7 "
                               "0002:04:01.0");
  assert_int_equal (asm_pci_bus_set_get_n_reserved (set), 4);
  assert_false (asm_pci_bus_set_foreach_reserved (set, stop_after_two, &n));
  assert_int_equal (n, 2);
  CHECK (set);
}

/* ---------------------------------------------------------------------- */
/* Model-based test: random operations against libvirt's scan             */
/* ---------------------------------------------------------------------- */

/* A naive copy of libvirt's address set: one bitmap per bus, buses in
 * (domain, bus) order, every search a scan. */
typedef struct {
  guint32 index, domain, bus;
  AsmPciControllerModel model;
  AsmPciConnectFlags accepts;
  guint8 min_slot, max_slot;
  guint32 group;
  gboolean locked;
  guint32 agg;
  guint8 funcs[32];
  guint8 held[32];
} MBus;

typedef struct {
  GArray *buses; /* MBus, sorted by (domain, bus) */
} Model;

static MBus *
model_bus (Model *m, guint32 domain, guint32 bus)
{
  for (guint i = 0; i < m->buses->len; i++)
    {
      MBus *b = &g_array_index (m->buses, MBus, i);
      if (b->domain == domain && b->bus == bus)
        return b;
    }
  return NULL;
}

static void
model_add (Model *m, guint32 index, AsmPciControllerModel model,
           guint32 domain)
{
  MBus nb = { 0 };
  guint i;

  nb.index = index;
  nb.domain = domain;
  nb.bus = asm_pci_controller_model_is_root (model) ? 0 : index;
  nb.model = model;
  nb.accepts = asm_pci_controller_model_get_bus_flags (model, TRUE,
                                                       &nb.min_slot,
                                                       &nb.max_slot);
  for (i = 0; i < m->buses->len; i++)
    {
      MBus *b = &g_array_index (m->buses, MBus, i);
      if (b->domain > domain || (b->domain == domain && b->bus > nb.bus))
        break;
    }
  g_array_insert_val (m->buses, i, nb);
}

/* libvirt's virDomainPCIAddressFlagsCompatible, written out again */
static gboolean
model_fits (const MBus *b, AsmPciConnectFlags dev, gboolean from_config)
{
  AsmPciConnectFlags bus = b->accepts;

  if (dev & ASM_PCI_CONNECT_INTEGRATED)
    {
      if (b->bus != 0)
        return FALSE;
      bus |= ASM_PCI_CONNECT_AUTOASSIGN;
    }
  if (from_config)
    {
      if (bus & ASM_PCI_CONNECT_TYPES_ENDPOINT)
        bus |= ASM_PCI_CONNECT_TYPES_ENDPOINT;
      if (dev & ASM_PCI_CONNECT_TYPE_PCI_BRIDGE)
        dev |= ASM_PCI_CONNECT_TYPE_PCI_DEVICE;
    }
  else if ((dev & ASM_PCI_CONNECT_AUTOASSIGN) &&
           !(bus & ASM_PCI_CONNECT_AUTOASSIGN))
    return FALSE;
  if ((dev & ASM_PCI_CONNECT_HOTPLUGGABLE) &&
      !(bus & ASM_PCI_CONNECT_HOTPLUGGABLE))
    return FALSE;
  return (dev & bus & ASM_PCI_CONNECT_TYPES_MASK) != 0;
}

static gboolean
model_empty (const MBus *b)
{
  for (guint s = 0; s < 32; s++)
    if (b->funcs[s])
      return FALSE;
  return TRUE;
}

/* virDomainPCIAddressGetNextAddr with function -1, restricted to domain
 * @dom (G_MAXUINT32: any) and buses below @below */
static gboolean
model_next (Model *m, AsmPciConnectFlags flags, guint32 group, guint32 dom,
            guint32 below, AsmPciAddr *out)
{
  for (int pass = 1; pass <= 2; pass++)
    for (guint i = 0; i < m->buses->len; i++)
      {
        MBus *b = &g_array_index (m->buses, MBus, i);

        if ((dom != G_MAXUINT32 && b->domain != dom) || b->bus >= below ||
            !model_fits (b, flags, FALSE))
          continue;
        if (pass == 1 ? b->group != group : (!model_empty (b) || b->locked))
          continue;
        for (guint s = b->min_slot; s <= b->max_slot; s++)
          {
            gint f = -1;
            if (b->funcs[s] == 0)
              f = 0;
            else if ((flags & ASM_PCI_CONNECT_AGGREGATE_SLOT) &&
                     ((b->agg >> s) & 1))
              for (guint g = 0; g < 8 && f < 0; g++)
                if (!((b->funcs[s] >> g) & 1))
                  f = (gint) g;
            if (f >= 0)
              {
                *out = (AsmPciAddr) { b->domain, b->bus, (guint8) s,
                                      (guint8) f };
                return TRUE;
              }
          }
      }
  return FALSE;
}

/* virDomainPCIAddressReserveAddrInternal, after validation */
static void
model_take (MBus *b, guint s, guint f, AsmPciConnectFlags flags,
            guint32 group, gboolean from_config)
{
  gboolean was_empty = model_empty (b);

  if (b->funcs[s] == 0)
    b->agg = (flags & ASM_PCI_CONNECT_AGGREGATE_SLOT) ? b->agg | 1u << s
                                                      : b->agg & ~(1u << s);
  if (was_empty && !b->locked)
    b->group = group;
  else if (b->group != group && from_config)
    b->group = 0;
  b->funcs[s] |= (guint8) (1u << f);
}

static gboolean
model_listing (const AsmPciAddr *a, gpointer user_data)
{
  GString *s = user_data;
  g_string_append_printf (s, " %x:%x:%x.%x", a->domain, a->bus, a->slot,
                          a->function);
  return TRUE;
}

static char *
model_list (Model *m)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < m->buses->len; i++)
    {
      MBus *b = &g_array_index (m->buses, MBus, i);
      for (guint sl = 0; sl < 32; sl++)
        for (guint f = 0; f < 8; f++)
          if ((b->funcs[sl] >> f) & 1)
            g_string_append_printf (s, " %x:%x:%x.%x", b->domain, b->bus, sl,
                                    f);
    }
  return g_string_free (s, FALSE);
}

static void
compare_listing (AsmPciBusSet *set, Model *m, guint32 seed, guint step)
{
  g_autoptr(GString) got = g_string_new (NULL);
  g_autofree char *want = model_list (m);

  assert_true (asm_pci_bus_set_foreach_reserved (set, model_listing, got));
  if (strcmp (got->str, want) != 0)
    fail_msg ("seed %u step %u: reserved addresses differ\n got: %s\nwant: %s",
              seed, step, got->str, want);
}

static const AsmPciConnectFlags model_flags[] = {
  PCI_DEV,
  PCI_DEV | ASM_PCI_CONNECT_HOTPLUGGABLE,
  PCIE_DEV,
  PCIE_DEV | ASM_PCI_CONNECT_HOTPLUGGABLE,
  ASM_PCI_CONNECT_TYPE_PCIE_DEVICE,
  ROOT_PORT,
  ASM_PCI_CONNECT_TYPE_PCI_BRIDGE,
  ASM_PCI_CONNECT_TYPE_PCIE_DEVICE | ASM_PCI_CONNECT_INTEGRATED |
      ASM_PCI_CONNECT_AUTOASSIGN,
  PCI_DEV | ASM_PCI_CONNECT_AGGREGATE_SLOT,
  ASM_PCI_CONNECT_TYPE_PCIE_SWITCH_DOWNSTREAM_PORT,
};

static void
run_model (guint32 seed, guint n_steps)
{
  g_autoptr(AsmPciBusSet) set = asm_pci_bus_set_new ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  Model m = { g_array_new (FALSE, TRUE, sizeof (MBus)) };
  guint32 next_index = 0x10;
  static const guint32 domains[] = { 0, 3, 9 };

  for (guint i = 0; i < G_N_ELEMENTS (domains); i++)
    {
      AsmPciControllerModel root = g_rand_boolean (rand) ? M (PCI_ROOT)
                                                         : M (PCIE_ROOT);
      OK (asm_pci_bus_set_add_controller (set, domains[i], root, NULL,
                                          &error));
      model_add (&m, domains[i], root, domains[i]);
    }

  for (guint step = 0; step < n_steps; step++)
    {
      guint op = g_rand_int_range (rand, 0, 100);
      AsmPciConnectFlags flags =
          model_flags[g_rand_int_range (rand, 0, G_N_ELEMENTS (model_flags))];
      guint32 group = g_rand_int_range (rand, 0, 3);
      AsmPciAddr got = { 0 }, want = { 0 };
      gboolean ok, want_ok;

      if (op < 8)
        {
          /* a controller at the next free place of a domain */
          AsmPciControllerModel model = g_rand_int_range (rand, 2, 10);
          AsmPciConnectFlags cflags =
              asm_pci_controller_model_get_connect_flags (model);
          guint32 dom = domains[g_rand_int_range (rand, 0, 3)];
          guint32 index = next_index;

          if (m.buses->len >= 60)
            continue;
          want_ok = model_next (&m, cflags, 0, dom, index, &want);
          ok = asm_pci_bus_set_add_controller_next (set, index, model, dom,
                                                    &got, NULL);
          if (ok != want_ok)
            fail_msg ("seed %u step %u: add_controller_next %d", seed, step,
                      ok);
          if (!ok)
            continue;
          if (!asm_pci_addr_equal (&got, &want))
            fail_msg ("seed %u step %u: controller placed differently",
                      seed, step);
          {
            MBus *p = model_bus (&m, got.domain, got.bus);
            model_take (p, got.slot, got.function, cflags, 0, FALSE);
            p->held[got.slot] |= (guint8) (1u << got.function);
          }
          model_add (&m, index, model, dom);
          next_index++;
        }
      else if (op < 50)
        {
          /* reserve_next */
          want_ok = model_next (&m, flags, group, G_MAXUINT32, G_MAXUINT32,
                                &want);
          ok = asm_pci_bus_set_reserve_next_full (set, flags, group, &got,
                                                  NULL);
          if (ok != want_ok ||
              (ok && !asm_pci_addr_equal (&got, &want)))
            {
              g_autofree char *g = asm_pci_addr_format (&got);
              g_autofree char *w = asm_pci_addr_format (&want);
              fail_msg ("seed %u step %u: reserve_next %#x group %u: got %s, "
                        "want %s", seed, step, flags, group,
                        ok ? g : "nothing", want_ok ? w : "nothing");
            }
          if (ok)
            model_take (model_bus (&m, got.domain, got.bus), got.slot,
                        got.function, flags, group, FALSE);
        }
      else if (op < 65)
        {
          /* an exact address */
          MBus *b = &g_array_index (m.buses, MBus,
                                    g_rand_int_range (rand, 0, m.buses->len));
          gboolean from_config = g_rand_boolean (rand);
          AsmPciAddr a = { b->domain, b->bus,
                           (guint8) g_rand_int_range (rand, 0, 32),
                           (guint8) g_rand_int_range (rand, 0, 8) };
          want_ok = model_fits (b, flags, from_config) &&
                    a.slot >= b->min_slot && a.slot <= b->max_slot &&
                    !((b->funcs[a.slot] >> a.function) & 1);
          ok = asm_pci_bus_set_reserve_addr_full (set, &a, flags, group,
                                                  from_config, NULL);
          if (ok != want_ok)
            fail_msg ("seed %u step %u: reserve_addr %x:%x:%x.%x flags %#x "
                      "config %d: %d", seed, step, a.domain, a.bus, a.slot,
                      a.function, flags, from_config, ok);
          if (ok)
            model_take (b, a.slot, a.function, flags, group, from_config);
        }
      else if (op < 92)
        {
          /* release a random reserved function */
          MBus *b = &g_array_index (m.buses, MBus,
                                    g_rand_int_range (rand, 0, m.buses->len));
          guint s = g_rand_int_range (rand, 0, 32);
          guint f = g_rand_int_range (rand, 0, 8);
          AsmPciAddr a = { b->domain, b->bus, (guint8) s, (guint8) f };
          want_ok = ((b->funcs[s] >> f) & 1) && !((b->held[s] >> f) & 1);
          ok = asm_pci_bus_set_release_addr (set, &a, NULL);
          if (ok != want_ok)
            fail_msg ("seed %u step %u: release %x:%x:%x.%x: %d", seed, step,
                      a.domain, a.bus, s, f, ok);
          if (ok)
            {
              b->funcs[s] &= (guint8) ~(1u << f);
              if (b->funcs[s] == 0)
                b->agg &= ~(1u << s);
            }
        }
      else if (op < 97)
        {
          MBus *b = &g_array_index (m.buses, MBus,
                                    g_rand_int_range (rand, 0, m.buses->len));
          gboolean locked = g_rand_int_range (rand, 0, 4) == 0;
          OK (asm_pci_bus_set_set_isolation_group (set, b->index, group,
                                                   locked, &error));
          b->group = group;
          b->locked = locked;
        }
      else
        {
          MBus *b = &g_array_index (m.buses, MBus,
                                    g_rand_int_range (rand, 0, m.buses->len));
          gboolean hot = g_rand_boolean (rand);
          AsmPciConnectFlags accepts =
              asm_pci_controller_model_get_bus_flags (b->model, hot, NULL,
                                                      NULL);
          ok = asm_pci_bus_set_set_hotplug (set, b->index, hot, NULL);
          if (ok != (!hot || (accepts & ASM_PCI_CONNECT_HOTPLUGGABLE)))
            fail_msg ("seed %u step %u: set_hotplug", seed, step);
          if (ok)
            b->accepts = accepts;
        }
      if (step % 64 == 0 || step == n_steps - 1)
        {
          g_autoptr(GError) error = NULL;
          if (!asm_pci_bus_set_check (set, &error))
            fail_msg ("seed %u step %u: %s", seed, step, error->message);
          compare_listing (set, &m, seed, step);
        }
    }
  g_array_unref (m.buses);
}

static void
test_model_random (void **state)
{
  const char *env = g_getenv ("ASM_TEST_SEED");

  if (env != NULL)
    {
      run_model ((guint32) g_ascii_strtoull (env, NULL, 10), 4000);
      return;
    }
  for (guint32 seed = 1; seed <= 40; seed++)
    run_model (seed, 1500);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_addr_parse_format),
    cmocka_unit_test (test_addr_parse_errors),
    cmocka_unit_test (test_addr_compare),
    cmocka_unit_test (test_models),
    cmocka_unit_test (test_flags_to_string),
    cmocka_unit_test (test_seed002_examples),
    cmocka_unit_test (test_seed002_rules),
    cmocka_unit_test (test_seed002_256_buses),
    cmocka_unit_test (test_add_controller_higher_parent),
    cmocka_unit_test (test_floating_controller),
    cmocka_unit_test (test_add_controller_next),
    cmocka_unit_test (test_anchor10_pc_bus0),
    cmocka_unit_test (test_anchor10_two_segments),
    cmocka_unit_test (test_q35_240_root_ports),
    cmocka_unit_test (test_grow_pc_30th_disk),
    cmocka_unit_test (test_grow_next_bridge),
    cmocka_unit_test (test_grow_rollback),
    cmocka_unit_test (test_grow_destroy_notify),
    cmocka_unit_test (test_release_reuse),
    cmocka_unit_test (test_aggregate_slots),
    cmocka_unit_test (test_reserve_slot),
    cmocka_unit_test (test_flags_and_from_config),
    cmocka_unit_test (test_hotplug),
    cmocka_unit_test (test_isolation_groups),
    cmocka_unit_test (test_copy_independent),
    cmocka_unit_test (test_foreach_reserved),
    cmocka_unit_test (test_model_random),
  };

  return cmocka_run_group_tests_name ("pci", tests, NULL, NULL);
}
