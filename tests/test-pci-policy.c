/* test-pci-policy.c: libvirt's PCI policy through the public API
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One test per rule of the policy (the root added when missing, index
 * gaps filled, root ports added on q35, bridges added on pc, the video
 * slot, given full and partial addresses, multifunction, NUMA expander
 * buses, hotplug off, libvirt's refusals and their messages), the bounds
 * of every input (a GError naming the value, nothing changed), and a
 * property test: random machines, each assignment checked against a table
 * of which bus takes which kind of device that this file keeps itself
 * (not the policy's nor the bus set's own check), and for duplicates.
 *
 *   ASM_PROP_SEED=N    run only seed N of the property test
 *   ASM_PROP_SEEDS=N   number of seeds (default 3000)
 *
 * The conformance of the whole policy with the real libvirt is checked by
 * `meson test --suite libvirt` through asmctl.
 */
#include "asm-test.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                              */

static guint
add (AsmPciPolicy *p, AsmPciPolicyDevice *dev)
{
  guint id = G_MAXUINT;

  OK (asm_pci_policy_add_device (p, dev, &id, &error));
  asm_pci_policy_device_unref (dev);
  return id;
}

static AsmPciPolicyDevice *
model (AsmPciMachine m, AsmPciDeviceClass klass, const char *name,
       const char *modelname)
{
  GError *error = NULL;
  AsmPciPolicyDevice *d =
    asm_pci_policy_device_new_for_model (m, klass, modelname, name, &error);

  if (d == NULL)
    FAIL_AT (__FILE__, __LINE__, "%s: %s", name != NULL ? name : modelname,
             error != NULL ? error->message : "(no error set)");
  return d;
}

static guint
add_model (AsmPciPolicy *p, AsmPciDeviceClass klass, const char *name,
           const char *modelname)
{
  return add (p, model (asm_pci_policy_get_machine (p), klass, name,
                        modelname));
}

static guint
add_ctrl (AsmPciPolicy *p, AsmPciControllerModel m, guint32 index)
{
  g_autofree char *name = g_strdup_printf ("pci.%u", index);

  return add (p, asm_pci_policy_device_new_pci_controller (m, index, name));
}

static AsmPciAssignment *
assign (AsmPciPolicy *p)
{
  g_autoptr (GError) error = NULL;
  AsmPciAssignment *a = asm_pci_policy_assign (p, &error);

  if (a == NULL)
    fail_msg ("assign: %s", error->message);
  return a;
}

/* device @id's address as "dddd:bb:ss.f", or "" */
static char *
addr_of (AsmPciAssignment *a, guint id)
{
  AsmPciAddr addr;

  if (!asm_pci_policy_device_get_address (
        asm_pci_assignment_get_device (a, id), &addr))
    return g_strdup ("");
  return asm_pci_addr_format (&addr);
}

#define ASSERT_ADDR(a, id, text)                                               \
  G_STMT_START                                                                 \
  {                                                                            \
    g_autofree char *got_ = addr_of ((a), (id));                               \
    if (strcmp (got_, (text)) != 0)                                            \
      FAIL_AT (__FILE__, __LINE__, "device %u at '%s', expected '%s'",         \
               (guint) (id), got_, (text));                                    \
  }                                                                            \
  G_STMT_END

/* the number of added controllers of @m */
static guint
n_added_of (AsmPciAssignment *a, AsmPciControllerModel m)
{
  guint n = 0;

  for (guint i = 0; i < asm_pci_assignment_get_n_devices (a); i++)
    {
      const AsmPciPolicyDevice *d = asm_pci_assignment_get_device (a, i);
      AsmPciControllerModel dm;

      if (asm_pci_policy_device_is_added (d) &&
          asm_pci_policy_device_get_controller_model (d, &dm) && dm == m)
        n++;
    }
  return n;
}

/* ------------------------------------------------------------------ */
/* Rules                                                                */

static void
test_implicit_root (void **state)
{
  g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_PC);
  g_autoptr (AsmPciAssignment) a = NULL;
  guint nic = add_model (p, ASM_PCI_DEVICE_CLASS_NET, "nic", "e1000");
  const AsmPciPolicyDevice *root;
  AsmPciControllerModel m;

  (void) state;
  a = assign (p);
  assert_int_equal (asm_pci_assignment_get_n_devices (a), 2);
  assert_int_equal (asm_pci_assignment_get_n_added (a), 1);
  root = asm_pci_assignment_get_device (a, 1);
  assert_true (asm_pci_policy_device_get_controller_model (root, &m));
  assert_int_equal (m, ASM_PCI_CONTROLLER_MODEL_PCI_ROOT);
  assert_int_equal (asm_pci_policy_device_get_index (root), 0);
  assert_false (asm_pci_policy_device_get_address (root, NULL));
  /* 00:01.x is the PIIX3; 00:02.0 is the video's only when there is a
   * video */
  ASSERT_ADDR (a, nic, "0000:00:02.0");
  assert_true (asm_pci_policy_device_is_assigned (
    asm_pci_assignment_get_device (a, nic)));
  assert_null (asm_pci_assignment_get_device (a, 2));
}

static void
test_index_filling (void **state)
{
  g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_PC);
  g_autoptr (AsmPciAssignment) a = NULL;
  guint b3;

  (void) state;
  add_ctrl (p, ASM_PCI_CONTROLLER_MODEL_PCI_ROOT, 0);
  b3 = add_ctrl (p, ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE, 3);
  a = assign (p);
  /* indexes 1 and 2 are filled with pci-bridges, after the input's */
  assert_int_equal (asm_pci_assignment_get_n_added (a), 2);
  assert_int_equal (n_added_of (a, ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE), 2);
  assert_int_equal (
    asm_pci_policy_device_get_index (asm_pci_assignment_get_device (a, 2)), 1);
  assert_int_equal (
    asm_pci_policy_device_get_index (asm_pci_assignment_get_device (a, 3)), 2);
  /* chassisNr defaults to the index */
  assert_int_equal (asm_pci_policy_device_get_target (
                      asm_pci_assignment_get_device (a, b3),
                      ASM_PCI_CONTROLLER_TARGET_CHASSIS_NR),
                    3);
  /* each bridge plugs into a bus of a lower index */
  for (guint i = 1; i < 4; i++)
    {
      AsmPciAddr at;

      assert_true (asm_pci_policy_device_get_address (
        asm_pci_assignment_get_device (a, i), &at));
      assert_true (at.bus <
                   asm_pci_policy_device_get_index (
                     asm_pci_assignment_get_device (a, i)));
    }
}

static void
test_q35_root_ports (void **state)
{
  g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_Q35);
  g_autoptr (AsmPciAssignment) a = NULL;
  guint n1, n2, n3;
  const AsmPciPolicyDevice *port;

  (void) state;
  n1 = add_model (p, ASM_PCI_DEVICE_CLASS_NET, "net0", "virtio");
  n2 = add_model (p, ASM_PCI_DEVICE_CLASS_DISK, "vda", "virtio");
  n3 = add_model (p, ASM_PCI_DEVICE_CLASS_NET, "net1", "e1000");
  a = assign (p);
  /* each PCIe device gets a root port of its own; the conventional PCI
   * NIC gets a root port with a pcie-to-pci-bridge behind it; one spare
   * hotplug root port more on a machine to which ports were added.  The
   * NICs come first (libvirt's class order), and the real pass plugs the
   * controllers in by index: the bridge takes the first root port */
  assert_int_equal (n_added_of (a, ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT), 1);
  assert_int_equal (
    n_added_of (a, ASM_PCI_CONTROLLER_MODEL_PCIE_TO_PCI_BRIDGE), 1);
  assert_int_equal (n_added_of (a, ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT),
                    4);
  ASSERT_ADDR (a, n1, "0000:02:00.0");
  ASSERT_ADDR (a, n2, "0000:04:00.0");
  ASSERT_ADDR (a, n3, "0000:03:01.0");
  ASSERT_ADDR (a, 6, "0000:01:00.0"); /* the pcie-to-pci-bridge */
  /* the first root port: index 1, at 00:01.0 (no video), chassis 1,
   * port 0x8 (slot << 3 | function) */
  port = asm_pci_assignment_get_device (a, 4);
  assert_int_equal (asm_pci_policy_device_get_index (port), 1);
  ASSERT_ADDR (a, 4, "0000:00:01.0");
  assert_int_equal (
    asm_pci_policy_device_get_target (port, ASM_PCI_CONTROLLER_TARGET_CHASSIS),
    1);
  assert_int_equal (
    asm_pci_policy_device_get_target (port, ASM_PCI_CONTROLLER_TARGET_PORT),
    0x8);
}

static void
test_pc_bridge_added (void **state)
{
  g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_PC);
  g_autoptr (AsmPciAssignment) a = NULL;
  guint last = 0;

  (void) state;
  /* bus 0 has 29 free slots (0 is the host bridge, 1 the PIIX3, 2 the
   * video's): the 30th disk goes behind a pci-bridge */
  for (guint i = 0; i < 30; i++)
    {
      g_autofree char *name = g_strdup_printf ("disk%u", i);

      last = add_model (p, ASM_PCI_DEVICE_CLASS_DISK, name, "virtio");
    }
  a = assign (p);
  assert_int_equal (n_added_of (a, ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE), 1);
  ASSERT_ADDR (a, last - 1, "0000:00:1f.0");
  ASSERT_ADDR (a, last, "0000:01:01.0");
}

static void
test_video_slot (void **state)
{
  (void) state;
  for (guint m = ASM_PCI_MACHINE_PC; m <= ASM_PCI_MACHINE_Q35; m++)
    {
      g_autoptr (AsmPciPolicy) p = asm_pci_policy_new ((AsmPciMachine) m);
      g_autoptr (AsmPciAssignment) a = NULL;
      guint nic, v1, v2;

      /* the nic comes first in the list, the video still gets its slot */
      nic = add_model (p, ASM_PCI_DEVICE_CLASS_NET, "nic", "e1000");
      v1 = add_model (p, ASM_PCI_DEVICE_CLASS_VIDEO, "v1", "qxl");
      v2 = add_model (p, ASM_PCI_DEVICE_CLASS_VIDEO, "v2", "vga");
      {
        /* the second video is the primary one */
        g_autoptr (AsmPciPolicyDevice) d = NULL;
        (void) d;
      }
      a = assign (p);
      (void) nic;
      (void) v2;
      ASSERT_ADDR (a, v1, m == ASM_PCI_MACHINE_PC ? "0000:00:02.0"
                                                  : "0000:00:01.0");
    }
  {
    /* asm_pci_policy_device_set_primary_video() picks another one */
    g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_PC);
    g_autoptr (AsmPciAssignment) a = NULL;
    AsmPciPolicyDevice *v =
      model (ASM_PCI_MACHINE_PC, ASM_PCI_DEVICE_CLASS_VIDEO, "v2", "vga");
    guint v1 = add_model (p, ASM_PCI_DEVICE_CLASS_VIDEO, "v1", "qxl");
    guint v2;

    asm_pci_policy_device_set_primary_video (v, TRUE);
    asm_pci_policy_device_set_list_position (v, 0, 0);
    v2 = add (p, v);
    a = assign (p);
    ASSERT_ADDR (a, v2, "0000:00:02.0");
    ASSERT_ADDR (a, v1, "0000:00:03.0");
  }
}

static void
test_fixed_and_partial_addresses (void **state)
{
  g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_PC);
  g_autoptr (AsmPciAssignment) a = NULL;
  AsmPciPolicyDevice *d;
  AsmPciAddr full = { 0, 0, 0x07, 0 }, partial = { 0, 0, 0x03, 0 };
  guint fixed, part, free1;

  (void) state;
  d = model (ASM_PCI_MACHINE_PC, ASM_PCI_DEVICE_CLASS_NET, "fixed", "e1000");
  asm_pci_policy_device_set_address (d, &full);
  fixed = add (p, d);
  /* only the slot given: function 0 of domain 0, bus 0 */
  d = model (ASM_PCI_MACHINE_PC, ASM_PCI_DEVICE_CLASS_NET, "partial",
             "e1000");
  asm_pci_policy_device_set_address (d, &partial);
  part = add (p, d);
  free1 = add_model (p, ASM_PCI_DEVICE_CLASS_NET, "free", "e1000");
  a = assign (p);
  ASSERT_ADDR (a, fixed, "0000:00:07.0");
  ASSERT_ADDR (a, part, "0000:00:03.0");
  ASSERT_ADDR (a, free1, "0000:00:02.0");
  assert_false (asm_pci_policy_device_is_assigned (
    asm_pci_assignment_get_device (a, fixed)));
  assert_true (asm_pci_policy_device_is_assigned (
    asm_pci_assignment_get_device (a, free1)));
  {
    /* an all-zero address asks for none */
    AsmPciAddr zero = { 0 };

    d = asm_pci_policy_device_new (ASM_PCI_DEVICE_CLASS_NET, "zero");
    asm_pci_policy_device_set_address (d, &zero);
    assert_false (asm_pci_policy_device_get_address (d, NULL));
    asm_pci_policy_device_unref (d);
  }
}

static void
test_multifunction (void **state)
{
  g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_PC);
  g_autoptr (AsmPciAssignment) a = NULL;
  AsmPciAddr f0 = { 0, 0, 5, 0 }, f1 = { 0, 0, 5, 1 }, g0 = { 0, 0, 6, 0 };
  AsmPciPolicyDevice *d;
  guint x, y, z;

  (void) state;
  d = model (ASM_PCI_MACHINE_PC, ASM_PCI_DEVICE_CLASS_NET, "f0", "e1000");
  asm_pci_policy_device_set_address (d, &f0);
  x = add (p, d);
  d = model (ASM_PCI_MACHINE_PC, ASM_PCI_DEVICE_CLASS_NET, "f1", "e1000");
  asm_pci_policy_device_set_address (d, &f1);
  y = add (p, d);
  d = model (ASM_PCI_MACHINE_PC, ASM_PCI_DEVICE_CLASS_NET, "g0", "e1000");
  asm_pci_policy_device_set_address (d, &g0);
  z = add (p, d);
  a = assign (p);
  /* function 0 of a slot with other functions used gets multifunction on;
   * the other functions and a lone function 0 keep the default */
  assert_int_equal (asm_pci_policy_device_get_multifunction (
                      asm_pci_assignment_get_device (a, x)),
                    ASM_PCI_MULTIFUNCTION_ON);
  assert_int_equal (asm_pci_policy_device_get_multifunction (
                      asm_pci_assignment_get_device (a, y)),
                    ASM_PCI_MULTIFUNCTION_DEFAULT);
  assert_int_equal (asm_pci_policy_device_get_multifunction (
                      asm_pci_assignment_get_device (a, z)),
                    ASM_PCI_MULTIFUNCTION_DEFAULT);
}

static void
test_numa_expander (void **state)
{
  (void) state;
  for (guint m = ASM_PCI_MACHINE_PC; m <= ASM_PCI_MACHINE_Q35; m++)
    {
      g_autoptr (AsmPciPolicy) p = asm_pci_policy_new ((AsmPciMachine) m);
      g_autoptr (AsmPciAssignment) a = NULL;
      AsmPciPolicyDevice *d = model ((AsmPciMachine) m,
                                     ASM_PCI_DEVICE_CLASS_NET, "n1", "virtio");
      AsmPciControllerModel pxb =
        m == ASM_PCI_MACHINE_Q35 ? ASM_PCI_CONTROLLER_MODEL_PCIE_EXPANDER_BUS
                                 : ASM_PCI_CONTROLLER_MODEL_PCI_EXPANDER_BUS;
      const AsmPciPolicyDevice *ex = NULL;
      guint nic, plain;
      AsmPciAddr at;

      asm_pci_policy_device_set_numa_node (d, 1);
      nic = add (p, d);
      plain = add_model (p, ASM_PCI_DEVICE_CLASS_NET, "n0", "virtio");
      asm_pci_policy_set_flags (p, ASM_PCI_POLICY_NUMA_AWARE);
      a = assign (p);
      assert_int_equal (n_added_of (a, pxb), 1);
      for (guint i = 0; i < asm_pci_assignment_get_n_devices (a); i++)
        {
          AsmPciControllerModel dm;

          if (asm_pci_policy_device_get_controller_model (
                asm_pci_assignment_get_device (a, i), &dm) &&
              dm == pxb)
            ex = asm_pci_assignment_get_device (a, i);
        }
      assert_non_null (ex);
      assert_int_equal (asm_pci_policy_device_get_target_node (ex), 1);
      /* libvirt's busNr for the first expander: 256 - 2 */
      assert_int_equal (
        asm_pci_policy_device_get_target (ex, ASM_PCI_CONTROLLER_TARGET_BUS_NR),
        254);
      /* the NUMA device is behind the expander (directly on pc, behind a
       * root port on it on q35), the other one is not */
      assert_true (asm_pci_policy_device_get_address (
        asm_pci_assignment_get_device (a, nic), &at));
      if (m == ASM_PCI_MACHINE_PC)
        assert_int_equal (at.bus, asm_pci_policy_device_get_index (ex));
      else
        assert_true (at.bus > asm_pci_policy_device_get_index (ex));
      assert_true (asm_pci_policy_device_get_address (
        asm_pci_assignment_get_device (a, plain), &at));
      assert_true (m == ASM_PCI_MACHINE_PC ? at.bus == 0 : at.bus != 0);
    }
}

static void
test_hotplug_off (void **state)
{
  g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_PC);
  g_autoptr (AsmPciAssignment) a = NULL;
  AsmPciPolicyDevice *b;
  guint first = 0;

  (void) state;
  add_ctrl (p, ASM_PCI_CONTROLLER_MODEL_PCI_ROOT, 0);
  b = asm_pci_policy_device_new_pci_controller (
    ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE, 1, "cold bridge");
  asm_pci_policy_device_set_hotplug (b, FALSE);
  add (p, b);
  /* hotpluggable devices fill bus 0, then skip the cold bridge's bus */
  for (guint i = 0; i < 30; i++)
    {
      AsmPciPolicyDevice *d =
        asm_pci_policy_device_new (ASM_PCI_DEVICE_CLASS_NET, NULL);
      guint id;

      asm_pci_policy_device_set_connect_flags (
        d, ASM_PCI_CONNECT_TYPE_PCI_DEVICE | ASM_PCI_CONNECT_AUTOASSIGN |
             ASM_PCI_CONNECT_HOTPLUGGABLE);
      id = add (p, d);
      if (i == 0)
        first = id;
    }
  a = assign (p);
  assert_int_equal (n_added_of (a, ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE), 1);
  for (guint i = first; i < first + 30; i++)
    {
      AsmPciAddr at;

      assert_true (asm_pci_policy_device_get_address (
        asm_pci_assignment_get_device (a, i), &at));
      assert_int_not_equal (at.bus, 1);
    }
}

static void
test_refusals (void **state)
{
  (void) state;
  {
    /* two devices at one address: libvirt's message names both */
    g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_PC);
    AsmPciAddr at = { 0, 0, 5, 0 };
    AsmPciPolicyDevice *d;

    d = model (ASM_PCI_MACHINE_PC, ASM_PCI_DEVICE_CLASS_NET, "a", "e1000");
    asm_pci_policy_device_set_address (d, &at);
    add (p, d);
    d = model (ASM_PCI_MACHINE_PC, ASM_PCI_DEVICE_CLASS_DISK, "b", "virtio");
    asm_pci_policy_device_set_address (d, &at);
    add (p, d);
    FAILS (asm_pci_policy_assign (p, &error) != NULL, INVALID,
           "Attempted double use of PCI Address 0000:00:05.0 (a and b)");
  }
  {
    /* slot 0 of a pci-bridge's bus is not for devices */
    g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_PC);
    AsmPciAddr at = { 0, 1, 0, 0 };
    AsmPciPolicyDevice *d;

    add_ctrl (p, ASM_PCI_CONTROLLER_MODEL_PCI_ROOT, 0);
    add_ctrl (p, ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE, 1);
    d = model (ASM_PCI_MACHINE_PC, ASM_PCI_DEVICE_CLASS_SOUND, "snd", "ac97");
    asm_pci_policy_device_set_address (d, &at);
    add (p, d);
    FAILS (asm_pci_policy_assign (p, &error) != NULL, INVALID,
           "snd: Invalid PCI address 0000:01:00.0. slot must be >= 1");
  }
  {
    /* a root port on a pci-root bus */
    g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_PC);
    AsmPciAddr at = { 0, 0, 5, 0 };
    AsmPciPolicyDevice *d;

    add_ctrl (p, ASM_PCI_CONTROLLER_MODEL_PCI_ROOT, 0);
    d = asm_pci_policy_device_new_pci_controller (
      ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT, 1, "rp");
    asm_pci_policy_device_set_address (d, &at);
    add (p, d);
    FAILS (asm_pci_policy_assign (p, &error) != NULL, INVALID,
           "rp: The device at PCI address 0000:00:05.0 cannot be plugged "
           "into the PCI controller with index='0'. It requires a "
           "controller that accepts a pcie-root-port.");
  }
  {
    /* a root controller of index 1 needs the multi-domain option */
    g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_PC);
    g_autoptr (AsmPciAssignment) a = NULL;

    add_ctrl (p, ASM_PCI_CONTROLLER_MODEL_PCI_ROOT, 0);
    add_ctrl (p, ASM_PCI_CONTROLLER_MODEL_PCI_ROOT, 1);
    FAILS (asm_pci_policy_assign (p, &error) != NULL, INVALID,
           "pci.1: pci-root and pcie-root controllers should have index 0");
    asm_pci_policy_set_flags (p, ASM_PCI_POLICY_MULTI_DOMAIN);
    a = assign (p);
    assert_int_equal (asm_pci_assignment_get_n_devices (a), 2);
  }
  {
    /* index 0 must be a root */
    g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_PC);

    add_ctrl (p, ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE, 0);
    FAILS (asm_pci_policy_assign (p, &error) != NULL, INVALID,
           "PCI controller index 0 must be a root");
  }
  {
    /* 256 buses at most: 8,000 PCIe devices cannot all get a root port */
    g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_Q35);

    for (guint i = 0; i < 8000; i++)
      add_model (p, ASM_PCI_DEVICE_CLASS_NET, NULL, "virtio");
    FAILS (asm_pci_policy_assign (p, &error) != NULL, INVALID, "");
  }
}

static void
test_higher_index_parent (void **state)
{
  /* a controller without an address takes the first bus that fits in
   * index order, even one of a higher index: the pcie-to-pci-bridge 2
   * goes into root port 3 (libvirt 9.0 does so) */
  g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_Q35);
  g_autoptr (AsmPciAssignment) a = NULL;
  guint dmi, bridge, port;

  (void) state;
  dmi = add_ctrl (p, ASM_PCI_CONTROLLER_MODEL_DMI_TO_PCI_BRIDGE, 1);
  bridge = add_ctrl (p, ASM_PCI_CONTROLLER_MODEL_PCIE_TO_PCI_BRIDGE, 2);
  port = add_ctrl (p, ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT, 3);
  a = assign (p);
  ASSERT_ADDR (a, dmi, "0000:00:1e.0");
  ASSERT_ADDR (a, bridge, "0000:03:00.0");
  ASSERT_ADDR (a, port, "0000:00:01.0");
}

static void
test_controller_grown_bus (void **state)
{
  /* a controller without an address that no bus takes: libvirt's dry run
   * grows a bus for it as for a device (a root port, index 2, above the
   * upstream port's own index 1) and the real pass plugs the upstream
   * port into that root port; the NIC takes the next root port (libvirt
   * 9.0 does so) */
  g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_Q35);
  g_autoptr (AsmPciAssignment) a = NULL;
  guint up, nic;

  (void) state;
  up = add_ctrl (p, ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_UPSTREAM_PORT, 1);
  nic = add_model (p, ASM_PCI_DEVICE_CLASS_NET, "net0", "e1000e");
  a = assign (p);
  ASSERT_ADDR (a, up, "0000:02:00.0");
  ASSERT_ADDR (a, nic, "0000:03:00.0");
  assert_int_equal (n_added_of (a, ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT),
                    2);
}

static void
test_switch_ports_cycle (void **state)
{
  /* libvirt's address set has the bus of every index from the start: the
   * downstream port 1 takes the first bus that takes it, upstream port
   * 2's (02:00.0), and the upstream port the first that takes it, the
   * downstream port's (01:00.0), a cycle libvirt 9.0 writes out as it is.
   * Downstream port 3 still goes onto bus 2 (02:01.0), the NIC behind it
   * (tests/libvirt/q35-switch-ports-cycle.xml) */
  g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_Q35);
  g_autoptr (AsmPciAssignment) a = NULL;
  guint ds1, up2, ds3, nic;

  (void) state;
  ds1 = add_ctrl (p, ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_DOWNSTREAM_PORT, 1);
  up2 = add_ctrl (p, ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_UPSTREAM_PORT, 2);
  ds3 = add_ctrl (p, ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_DOWNSTREAM_PORT, 3);
  nic = add_model (p, ASM_PCI_DEVICE_CLASS_NET, "net0", "e1000e");
  a = assign (p);
  ASSERT_ADDR (a, ds1, "0000:02:00.0");
  ASSERT_ADDR (a, up2, "0000:01:00.0");
  ASSERT_ADDR (a, ds3, "0000:02:01.0");
  ASSERT_ADDR (a, nic, "0000:03:00.0");
  /* the downstream ports' port is their slot, as for any other */
  assert_int_equal (
    asm_pci_policy_device_get_target (asm_pci_assignment_get_device (a, ds1),
                                      ASM_PCI_CONTROLLER_TARGET_PORT),
    0);
  assert_int_equal (
    asm_pci_policy_device_get_target (asm_pci_assignment_get_device (a, ds3),
                                      ASM_PCI_CONTROLLER_TARGET_PORT),
    1);
  assert_int_equal (n_added_of (a, ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT),
                    0);
}

static void
test_given_cycle (void **state)
{
  /* the same cycle from given addresses is written out as given (libvirt
   * 9.0 does so); one of pci-bridges is libvirt's error, since one of
   * them plugs into a bus of its own index or above */
  g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_Q35);
  g_autoptr (AsmPciPolicy) pc = asm_pci_policy_new (ASM_PCI_MACHINE_PC);
  g_autoptr (AsmPciAssignment) a = NULL;
  g_autoptr (AsmPciPolicyDevice) d = NULL;
  guint ds1, up2, nic;

  (void) state;
  d = asm_pci_policy_device_new_pci_controller (
    ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_DOWNSTREAM_PORT, 1, "pci.1");
  asm_pci_policy_device_set_address (d,
                                     &(AsmPciAddr) { 0, 0x02, 0x00, 0 });
  ds1 = add (p, g_steal_pointer (&d));
  d = asm_pci_policy_device_new_pci_controller (
    ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_UPSTREAM_PORT, 2, "pci.2");
  asm_pci_policy_device_set_address (d,
                                     &(AsmPciAddr) { 0, 0x01, 0x00, 0 });
  up2 = add (p, g_steal_pointer (&d));
  nic = add_model (p, ASM_PCI_DEVICE_CLASS_NET, "net0", "e1000e");
  a = assign (p);
  ASSERT_ADDR (a, ds1, "0000:02:00.0");
  ASSERT_ADDR (a, up2, "0000:01:00.0");
  ASSERT_ADDR (a, nic, "0000:03:00.0");

  d = asm_pci_policy_device_new_pci_controller (
    ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE, 1, "pci.1");
  asm_pci_policy_device_set_address (d,
                                     &(AsmPciAddr) { 0, 0x02, 0x01, 0 });
  add (pc, g_steal_pointer (&d));
  d = asm_pci_policy_device_new_pci_controller (
    ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE, 2, "pci.2");
  asm_pci_policy_device_set_address (d,
                                     &(AsmPciAddr) { 0, 0x01, 0x01, 0 });
  add (pc, g_steal_pointer (&d));
  FAILS (asm_pci_policy_assign (pc, &error) != NULL, INVALID,
         "PCI controller at index 1 (0x01) has bus='0x02', but index must "
         "be larger than bus");
}

/* a policy of @machine with the devices @n (class, model) pairs name */
static AsmPciPolicy *
machine_of_models (AsmPciMachine machine, const AsmPciDeviceClass *klass,
                   const char *const *models, guint n)
{
  AsmPciPolicy *p = asm_pci_policy_new (machine);

  for (guint i = 0; i < n; i++)
    add_model (p, klass[i], models[i], models[i]);
  return p;
}

static AsmPciPolicy *
usb_machine (const char *m1, guint32 i1, const char *m2, guint32 i2)
{
  AsmPciPolicy *p = asm_pci_policy_new (ASM_PCI_MACHINE_PC);
  GError *error = NULL;

  add (p, asm_pci_policy_device_new_controller (ASM_PCI_MACHINE_PC, "usb", m1,
                                                i1, m1, &error));
  add (p, asm_pci_policy_device_new_controller (ASM_PCI_MACHINE_PC, "usb", m2,
                                                i2, m2, &error));
  return p;
}

static void
test_libvirt_checks (void **state)
{
  (void) state;
  {
    /* one vsock at most (libvirt reads no second) */
    const AsmPciDeviceClass k[] = { ASM_PCI_DEVICE_CLASS_VSOCK,
                                    ASM_PCI_DEVICE_CLASS_VSOCK };
    const char *const m[] = { "virtio", "virtio-transitional" };
    g_autoptr (AsmPciPolicy) p =
      machine_of_models (ASM_PCI_MACHINE_PC, k, m, 2);

    FAILS (asm_pci_policy_assign (p, &error) != NULL, INVALID,
           "virtio-transitional: only a single vsock device is supported");
  }
  {
    /* one panic device of a model; none given is isa */
    const AsmPciDeviceClass k[] = { ASM_PCI_DEVICE_CLASS_PANIC,
                                    ASM_PCI_DEVICE_CLASS_PANIC,
                                    ASM_PCI_DEVICE_CLASS_PANIC };
    const char *const m[] = { "hyperv", "isa", NULL };
    g_autoptr (AsmPciPolicy) p =
      machine_of_models (ASM_PCI_MACHINE_PC, k, m, 2);
    g_autoptr (AsmPciAssignment) a = assign (p);

    add (p, model (ASM_PCI_MACHINE_PC, k[2], "panic", m[2]));
    FAILS (asm_pci_policy_assign (p, &error) != NULL, INVALID,
           "panic: Multiple panic devices with model 'isa'");
  }
  {
    /* libvirt wants a PCI slot for usb-net and ich7 sound, yet gives
     * them no connect flags: no bus takes them, none can be added */
    const AsmPciDeviceClass k[] = { ASM_PCI_DEVICE_CLASS_NET };
    const char *const m[] = { "usb-net" };
    g_autoptr (AsmPciPolicy) p =
      machine_of_models (ASM_PCI_MACHINE_Q35, k, m, 1);
    g_autoptr (AsmPciPolicy) q = asm_pci_policy_new (ASM_PCI_MACHINE_PC);
    g_autoptr (AsmPciAssignment) a = NULL;
    AsmPciAddr at = { 0, 0, 5, 0 };
    AsmPciPolicyDevice *d;
    guint id;

    FAILS (asm_pci_policy_assign (p, &error) != NULL, INVALID,
           "usb-net: Cannot automatically add a new PCI bus for a device "
           "with connect flags 00");
    /* at a given address it stays there */
    d = model (ASM_PCI_MACHINE_PC, k[0], "net", "usb-net");
    asm_pci_policy_device_set_address (d, &at);
    id = add (q, d);
    a = assign (q);
    ASSERT_ADDR (a, id, "0000:00:05.0");
    /* ich7: so on pc; at a given address, QEMU 7.2 lacks it */
    add_model (q, ASM_PCI_DEVICE_CLASS_SOUND, "ich7", "ich7");
    FAILS (asm_pci_policy_assign (q, &error) != NULL, INVALID,
           "ich7: Cannot automatically add a new PCI bus for a device with "
           "connect flags 00");
  }
  {
    g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_PC);
    AsmPciAddr at = { 0, 0, 5, 0 };
    AsmPciPolicyDevice *d =
      model (ASM_PCI_MACHINE_PC, ASM_PCI_DEVICE_CLASS_SOUND, "snd", "ich7");

    asm_pci_policy_device_set_address (d, &at);
    add (p, d);
    FAILS (asm_pci_policy_assign (p, &error) != NULL, INVALID,
           "snd: sound card model 'ich7' is not supported by qemu");
  }
  {
    /* the iTCO watchdog came after libvirt 9.0 */
    FAILS (asm_pci_policy_device_new_for_model (
             ASM_PCI_MACHINE_Q35, ASM_PCI_DEVICE_CLASS_WATCHDOG, "itco",
             NULL, &error) != NULL,
           INVALID, "unknown watchdog model 'itco'");
  }
  {
    /* two USB buses of one index; an ICH9 UHCI companion is none */
    g_autoptr (AsmPciPolicy) p = usb_machine ("qemu-xhci", 0, "ich9-ehci1", 0);
    g_autoptr (AsmPciPolicy) q = usb_machine ("piix3-uhci", 0, "ich9-uhci1", 0);
    g_autoptr (AsmPciAssignment) a = NULL;

    FAILS (asm_pci_policy_assign (p, &error) != NULL, INVALID,
           "ich9-ehci1: Duplicate USB controllers with index 0");
    a = assign (q);
  }
  {
    /* USB model none disables USB: another USB controller, a USB input
     * or host device, any USB device */
    g_autoptr (AsmPciPolicy) p = usb_machine ("none", 0, "qemu-xhci", 1);
    g_autoptr (AsmPciPolicy) q = usb_machine ("none", 1, "ich9-uhci1", 1);

    FAILS (asm_pci_policy_assign (p, &error) != NULL, INVALID,
           "qemu-xhci: Can't add another USB controller: USB is disabled "
           "for this domain");
    g_clear_pointer (&p, asm_pci_policy_unref);
    p = asm_pci_policy_new (ASM_PCI_MACHINE_PC);
    add (p, asm_pci_policy_device_new_controller (ASM_PCI_MACHINE_PC, "usb",
                                                  "none", 0, "none", NULL));
    add_model (p, ASM_PCI_DEVICE_CLASS_DISK, "sda", "usb");
    FAILS (asm_pci_policy_assign (p, &error) != NULL, INVALID,
           "sda: USB is disabled for this domain, but USB devices are "
           "present in the domain XML");
    add_model (p, ASM_PCI_DEVICE_CLASS_INPUT, "tablet", "usb");
    FAILS (asm_pci_policy_assign (p, &error) != NULL, INVALID,
           "tablet: Can't add USB input device. USB bus is disabled");
    FAILS (asm_pci_policy_assign (q, &error) != NULL, INVALID,
           "Can't add another USB controller");
  }
}

static void
test_unknown_nic_model (void **state)
{
  /* a NIC model libvirt 9.0 has no name for is PCI Express on q35: a root
   * port, no pcie-to-pci-bridge; a named one (e1000) conventional PCI */
  g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_Q35);
  g_autoptr (AsmPciAssignment) a = NULL;

  (void) state;
  add_model (p, ASM_PCI_DEVICE_CLASS_NET, "ne2k", "ne2k_pci");
  a = assign (p);
  assert_int_equal (n_added_of (a, ASM_PCI_CONTROLLER_MODEL_PCIE_TO_PCI_BRIDGE),
                    0);
  g_clear_pointer (&a, asm_pci_assignment_unref);
  add_model (p, ASM_PCI_DEVICE_CLASS_NET, "e1000", "e1000");
  a = assign (p);
  assert_int_equal (n_added_of (a, ASM_PCI_CONTROLLER_MODEL_PCIE_TO_PCI_BRIDGE),
                    1);
}

static void
test_dmi_bridge_empty_address (void **state)
{
  /* a dmi-to-pci-bridge without an address goes to 00:1e.0; with an
   * empty one (bus='0x00' only) to the first free slot */
  g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_Q35);
  g_autoptr (AsmPciAssignment) a = NULL;
  AsmPciAddr zero = { 0, 0, 0, 0 };
  AsmPciPolicyDevice *d;
  guint id;

  (void) state;
  d = asm_pci_policy_device_new_pci_controller (
    ASM_PCI_CONTROLLER_MODEL_DMI_TO_PCI_BRIDGE, 1, "dmi");
  asm_pci_policy_device_set_address (d, &zero);
  id = add (p, d);
  a = assign (p);
  ASSERT_ADDR (a, id, "0000:00:01.0");
}

static void
test_models (void **state)
{
  g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_Q35);
  g_autoptr (AsmPciAssignment) a = NULL;
  guint sata, usb, snd, iommu, balloon;

  (void) state;
  FAILS (asm_pci_policy_device_new_for_model (ASM_PCI_MACHINE_PC,
                                              ASM_PCI_DEVICE_CLASS_SOUND,
                                              "foo", "s", &error) != NULL,
         INVALID, "unknown sound model 'foo'");
  FAILS (asm_pci_policy_device_new_controller (ASM_PCI_MACHINE_Q35, "ide",
                                               NULL, 0, "ide", &error) != NULL,
         INVALID,
         "IDE controllers are unsupported for the q35 machine type");
  FAILS (asm_pci_policy_device_new_controller (ASM_PCI_MACHINE_PC, "pci",
                                               "pci-bridge", 256, "b",
                                               &error) != NULL,
         INVALID, "PCI controller index 256 is out of range 0..255");
  FAILS (asm_pci_policy_device_new_controller (ASM_PCI_MACHINE_PC, "pci",
                                               "pci-brdge", 1, "b",
                                               &error) != NULL,
         INVALID, "unknown PCI controller model 'pci-brdge'");
  {
    /* any network model is conventional PCI, as in libvirt */
    g_autoptr (AsmPciPolicyDevice) d = model (
      ASM_PCI_MACHINE_PC, ASM_PCI_DEVICE_CLASS_NET, "n", "ne2k_pci");
    (void) d;
  }
  {
    g_autoptr (GError) error = NULL;
    AsmPciPolicyDevice *d = asm_pci_policy_device_new_controller (
      ASM_PCI_MACHINE_Q35, "sata", NULL, 0, "sata0", &error);

    assert_non_null (d);
    sata = add (p, d);
    d = asm_pci_policy_device_new_controller (ASM_PCI_MACHINE_Q35, "usb", NULL,
                                              0, "usb0", &error);
    assert_non_null (d);
    usb = add (p, d);
  }
  snd = add_model (p, ASM_PCI_DEVICE_CLASS_SOUND, "snd", "ich9");
  iommu = add_model (p, ASM_PCI_DEVICE_CLASS_IOMMU, "iommu", "virtio");
  balloon = add_model (p, ASM_PCI_DEVICE_CLASS_MEMBALLOON, "b", "none");
  a = assign (p);
  ASSERT_ADDR (a, sata, "0000:00:1f.2");   /* the ICH9 SATA function */
  ASSERT_ADDR (a, snd, "0000:00:1b.0");    /* ICH9 sound's place */
  ASSERT_ADDR (a, balloon, "");            /* not on PCI */
  {
    /* qemu-xhci (q35's default) is PCI Express: on a root port's bus */
    AsmPciAddr at;

    assert_true (asm_pci_policy_device_get_address (
      asm_pci_assignment_get_device (a, usb), &at));
    assert_int_not_equal (at.bus, 0);
    assert_true (asm_pci_policy_device_get_connect_flags (
                   asm_pci_assignment_get_device (a, usb)) &
                 ASM_PCI_CONNECT_TYPE_PCIE_DEVICE);
    /* a virtio IOMMU is integrated: on the root bus */
    assert_true (asm_pci_policy_device_get_address (
      asm_pci_assignment_get_device (a, iommu), &at));
    assert_int_equal (at.bus, 0);
  }
}

/* ------------------------------------------------------------------ */
/* Bad input                                                            */

static void
test_bad_input (void **state)
{
  g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_PC);
  AsmPciPolicyDevice *d;
  AsmPciAddr bad;

  (void) state;
  add_model (p, ASM_PCI_DEVICE_CLASS_NET, "ok", "e1000");

  d = asm_pci_policy_device_new (ASM_PCI_DEVICE_CLASS_NET, "n");
  bad = (AsmPciAddr) { 0, 0, 0x20, 0 };
  asm_pci_policy_device_set_address (d, &bad);
  FAILS (asm_pci_policy_add_device (p, d, NULL, &error), INVALID,
         "n: slot 0x20 is out of range 0..0x1f");
  bad = (AsmPciAddr) { 0, 0, 1, 8 };
  asm_pci_policy_device_set_address (d, &bad);
  FAILS (asm_pci_policy_add_device (p, d, NULL, &error), INVALID,
         "function 8 is out of range 0..7");
  bad = (AsmPciAddr) { 0, 0x100, 1, 0 };
  asm_pci_policy_device_set_address (d, &bad);
  FAILS (asm_pci_policy_add_device (p, d, NULL, &error), INVALID,
         "bus 0x100 is out of range 0..0xff");
  bad = (AsmPciAddr) { 0x10000, 0, 1, 0 };
  asm_pci_policy_device_set_address (d, &bad);
  FAILS (asm_pci_policy_add_device (p, d, NULL, &error), INVALID,
         "domain 0x10000 is out of range 0..0xffff");
  asm_pci_policy_device_set_address (d, NULL);
  asm_pci_policy_device_set_numa_node (d, -5);
  FAILS (asm_pci_policy_add_device (p, d, NULL, &error), INVALID,
         "NUMA node -5 is out of range");
  asm_pci_policy_device_set_numa_node (d, -1);
  asm_pci_policy_device_set_connect_flags (d, 1u << 30);
  FAILS (asm_pci_policy_add_device (p, d, NULL, &error), INVALID, "n: ");
  asm_pci_policy_device_set_bus (d, (AsmPciDeviceBus) 9);
  FAILS (asm_pci_policy_add_device (p, d, NULL, &error), INVALID,
         "bus kind 9 is out of range 0..3");
  asm_pci_policy_device_unref (d);

  d = asm_pci_policy_device_new ((AsmPciDeviceClass) 99, "x");
  FAILS (asm_pci_policy_add_device (p, d, NULL, &error), INVALID,
         "device class 99 is out of range 0..18");
  asm_pci_policy_device_unref (d);

  d = asm_pci_policy_device_new_pci_controller (
    ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE, 256, "big");
  FAILS (asm_pci_policy_add_device (p, d, NULL, &error), INVALID,
         "big: PCI controller index 256 is out of range 0..255");
  asm_pci_policy_device_set_target (d, ASM_PCI_CONTROLLER_TARGET_PORT,
                                    (gint64) G_MAXINT32 + 1);
  asm_pci_policy_device_unref (d);
  d = asm_pci_policy_device_new_pci_controller (
    ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT, 1, "rp");
  asm_pci_policy_device_set_target (d, ASM_PCI_CONTROLLER_TARGET_PORT,
                                    (gint64) G_MAXINT32 + 1);
  FAILS (asm_pci_policy_add_device (p, d, NULL, &error), INVALID,
         "rp: target port 2147483648 is out of range -1..2147483647");
  asm_pci_policy_device_unref (d);
  d = asm_pci_policy_device_new_pci_controller (
    ASM_PCI_CONTROLLER_MODEL_PCI_ROOT, 0, "root");
  bad = (AsmPciAddr) { 0, 0, 3, 0 };
  asm_pci_policy_device_set_address (d, &bad);
  FAILS (asm_pci_policy_add_device (p, d, NULL, &error), INVALID,
         "root: a pci-root controller is plugged into no bus");
  asm_pci_policy_device_unref (d);

  FAILS (asm_pci_policy_set_spare_ports (p, -2, &error), INVALID,
         "spare ports -2 is out of range -1..255");
  FAILS (asm_pci_policy_set_spare_ports (p, 256, &error), INVALID,
         "spare ports 256 is out of range");
  /* nothing of it was taken */
  assert_int_equal (asm_pci_policy_get_n_devices (p), 1);
  asm_pci_policy_set_flags (p, (AsmPciPolicyFlags) 0x100);
  FAILS (asm_pci_policy_assign (p, &error) != NULL, INVALID,
         "policy flags 0x100 hold unknown bits");
  asm_pci_policy_set_flags (p, ASM_PCI_POLICY_NONE);
  {
    g_autoptr (AsmPciPolicy) q = asm_pci_policy_new ((AsmPciMachine) 7);

    FAILS (asm_pci_policy_assign (q, &error) != NULL, INVALID,
           "machine 7 is out of range 0..1");
  }
}

static void
test_failed_assign_changes_nothing (void **state)
{
  g_autoptr (AsmPciPolicy) p = asm_pci_policy_new (ASM_PCI_MACHINE_PC);
  g_autoptr (AsmPciAssignment) a1 = NULL, a2 = NULL;
  AsmPciPolicyDevice *d;
  AsmPciAddr at = { 0, 0, 5, 0 };
  guint n;

  (void) state;
  for (guint i = 0; i < 40; i++)
    add_model (p, ASM_PCI_DEVICE_CLASS_DISK, NULL, "virtio");
  a1 = assign (p);
  n = asm_pci_policy_get_n_devices (p);
  /* a device that collides makes the next assignment fail ... */
  d = model (ASM_PCI_MACHINE_PC, ASM_PCI_DEVICE_CLASS_NET, "x", "e1000");
  asm_pci_policy_device_set_address (d, &at);
  add (p, d);
  d = model (ASM_PCI_MACHINE_PC, ASM_PCI_DEVICE_CLASS_NET, "y", "e1000");
  asm_pci_policy_device_set_address (d, &at);
  add (p, d);
  FAILS (asm_pci_policy_assign (p, &error) != NULL, INVALID,
         "Attempted double use of PCI Address");
  assert_int_equal (asm_pci_policy_get_n_devices (p), n + 2);
  /* ... and the devices the policy holds are as they were given: a new
   * policy with the same first devices assigns them the same way */
  {
    g_autoptr (AsmPciPolicy) q = asm_pci_policy_new (ASM_PCI_MACHINE_PC);

    for (guint i = 0; i < 40; i++)
      add_model (q, ASM_PCI_DEVICE_CLASS_DISK, NULL, "virtio");
    a2 = assign (q);
  }
  assert_int_equal (asm_pci_assignment_get_n_devices (a1),
                    asm_pci_assignment_get_n_devices (a2));
  for (guint i = 0; i < asm_pci_assignment_get_n_devices (a1); i++)
    {
      g_autofree char *x = addr_of (a1, i);
      g_autofree char *y = addr_of (a2, i);

      assert_string_equal (x, y);
    }
  /* a device changed after it was added changes nothing in the policy */
  d = model (ASM_PCI_MACHINE_PC, ASM_PCI_DEVICE_CLASS_NET, "z", "e1000");
  {
    guint id;

    OK (asm_pci_policy_add_device (p, d, &id, &error));
    asm_pci_policy_device_set_address (d, &at);
    asm_pci_policy_device_unref (d);
  }
}

/* ------------------------------------------------------------------ */
/* Property: random machines                                            */

/* what a bus of each controller model takes, kept here apart from the
 * library (libvirt's virDomainPCIAddressBusSetModel) */
typedef enum {
  K_PCI = 1 << 0,        /* conventional PCI endpoint */
  K_PCIE = 1 << 1,       /* PCI Express endpoint */
  K_ROOT_PORT = 1 << 2,
  K_PCI_BRIDGE = 1 << 3,
  K_PCIE_TO_PCI = 1 << 4,
  K_DMI = 1 << 5,
  K_PXB = 1 << 6,
  K_PCIE_PXB = 1 << 7,
  K_VIDEO = 1 << 8,      /* the primary video's own slot */
} Kind;

static guint
bus_takes (AsmPciControllerModel m, guint8 slot)
{
  switch (m)
    {
    case ASM_PCI_CONTROLLER_MODEL_PCI_ROOT:
      return K_PCI | K_PCI_BRIDGE | K_PXB | (slot == 2 ? K_VIDEO : 0);
    case ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT:
      return K_ROOT_PORT | K_DMI | K_PCIE_PXB | (slot == 1 ? K_VIDEO : 0);
    case ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE:
    case ASM_PCI_CONTROLLER_MODEL_PCIE_TO_PCI_BRIDGE:
    case ASM_PCI_CONTROLLER_MODEL_DMI_TO_PCI_BRIDGE:
    case ASM_PCI_CONTROLLER_MODEL_PCI_EXPANDER_BUS:
      return slot == 0 && m != ASM_PCI_CONTROLLER_MODEL_DMI_TO_PCI_BRIDGE
               ? 0
               : K_PCI | K_PCI_BRIDGE;
    case ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT:
      return slot == 0 ? K_PCIE | K_PCIE_TO_PCI : 0;
    case ASM_PCI_CONTROLLER_MODEL_PCIE_EXPANDER_BUS:
      return K_ROOT_PORT;
    default:
      return 0;
    }
}

static guint
kind_of_controller (AsmPciControllerModel m)
{
  switch (m)
    {
    case ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT:
      return K_ROOT_PORT;
    case ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE:
      return K_PCI_BRIDGE;
    case ASM_PCI_CONTROLLER_MODEL_PCIE_TO_PCI_BRIDGE:
      return K_PCIE_TO_PCI;
    case ASM_PCI_CONTROLLER_MODEL_DMI_TO_PCI_BRIDGE:
      return K_DMI;
    case ASM_PCI_CONTROLLER_MODEL_PCI_EXPANDER_BUS:
      return K_PXB;
    case ASM_PCI_CONTROLLER_MODEL_PCIE_EXPANDER_BUS:
      return K_PCIE_PXB;
    default:
      return 0;
    }
}

typedef struct {
  guint n_ok, n_refused, n_devices, n_added;
} PropStats;

static void
run_machine (guint64 seed, PropStats *st)
{
  ChoiceSource src;
  gboolean q35;
  g_autoptr (AsmPciPolicy) p = NULL;
  g_autoptr (AsmPciAssignment) a = NULL;
  g_autoptr (GError) aerr = NULL;
  g_autoptr (GArray) kind = g_array_new (FALSE, TRUE, sizeof (guint));
  g_autoptr (GHashTable) used = g_hash_table_new_full (g_str_hash,
                                                       g_str_equal, g_free,
                                                       NULL);
  GHashTable *bus_model;
  guint n_ctrl, n_dev, video = G_MAXUINT;
  static const AsmPciDeviceClass classes[] = {
    ASM_PCI_DEVICE_CLASS_NET, ASM_PCI_DEVICE_CLASS_DISK,
    ASM_PCI_DEVICE_CLASS_SOUND, ASM_PCI_DEVICE_CLASS_HOSTDEV,
    ASM_PCI_DEVICE_CLASS_RNG, ASM_PCI_DEVICE_CLASS_FILESYSTEM,
    ASM_PCI_DEVICE_CLASS_SHMEM, ASM_PCI_DEVICE_CLASS_INPUT,
  };

  choice_source_init_seed (&src, seed);
  q35 = choice_chance (&src, 1, 2);
  p = asm_pci_policy_new (q35 ? ASM_PCI_MACHINE_Q35 : ASM_PCI_MACHINE_PC);
  /* user controllers without addresses, consecutive indexes */
  n_ctrl = (guint) choice_below (&src, 4);
  for (guint i = 1; i <= n_ctrl; i++)
    {
      static const AsmPciControllerModel pc_models[] = {
        ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE,
      };
      static const AsmPciControllerModel q35_models[] = {
        ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT,
        ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT,
        ASM_PCI_CONTROLLER_MODEL_PCIE_TO_PCI_BRIDGE,
        ASM_PCI_CONTROLLER_MODEL_DMI_TO_PCI_BRIDGE,
      };
      AsmPciControllerModel m =
        q35 ? q35_models[choice_below (&src, G_N_ELEMENTS (q35_models))]
            : pc_models[0];
      AsmPciPolicyDevice *c =
        asm_pci_policy_device_new_pci_controller (m, i, NULL);

      if (choice_chance (&src, 1, 4))
        asm_pci_policy_device_set_hotplug (c, FALSE);
      OK (asm_pci_policy_add_device (p, c, NULL, &error));
      asm_pci_policy_device_unref (c);
      g_array_append_val (kind, (guint) { kind_of_controller (m) });
    }
  /* devices: the bus each needs at random, some not on PCI */
  n_dev = (guint) choice_below (&src, choice_chance (&src, 1, 8) ? 120 : 40);
  if (choice_chance (&src, 2, 3))
    {
      AsmPciPolicyDevice *v = asm_pci_policy_device_new (
        ASM_PCI_DEVICE_CLASS_VIDEO, NULL);

      asm_pci_policy_device_set_bus (v, ASM_PCI_DEVICE_BUS_PCI);
      OK (asm_pci_policy_add_device (p, v, &video, &error));
      asm_pci_policy_device_unref (v);
      g_array_append_val (kind, (guint) { K_PCI | K_VIDEO });
    }
  for (guint i = 0; i < n_dev; i++)
    {
      AsmPciDeviceClass k = classes[choice_below (&src, G_N_ELEMENTS (classes))];
      AsmPciPolicyDevice *d = asm_pci_policy_device_new (k, NULL);
      AsmPciDeviceBus b = (AsmPciDeviceBus) choice_below (&src, 3);
      guint kd;

      asm_pci_policy_device_set_bus (d, b);
      asm_pci_policy_device_set_list_position (
        d, 0, choice_below (&src, 4));
      OK (asm_pci_policy_add_device (p, d, NULL, &error));
      asm_pci_policy_device_unref (d);
      kd = b == ASM_PCI_DEVICE_BUS_NONE ? 0
           : b == ASM_PCI_DEVICE_BUS_PCIE && q35 ? K_PCIE
                                                 : K_PCI;
      g_array_append_val (kind, kd);
    }

  a = asm_pci_policy_assign (p, &aerr);
  if (a == NULL)
    {
      /* refusals are libvirt's, with a message */
      if (aerr == NULL || aerr->message[0] == '\0')
        fail_msg ("seed %" G_GUINT64_FORMAT ": refused without a reason",
                  seed);
      st->n_refused++;
      return;
    }
  st->n_ok++;
  assert_int_equal (asm_pci_assignment_get_n_devices (a) -
                      asm_pci_assignment_get_n_added (a),
                    kind->len);
  bus_model = g_hash_table_new (NULL, NULL);
  for (guint i = 0; i < asm_pci_assignment_get_n_devices (a); i++)
    {
      const AsmPciPolicyDevice *d = asm_pci_assignment_get_device (a, i);
      AsmPciControllerModel m;

      if (asm_pci_policy_device_get_controller_model (d, &m))
        {
          guint32 idx = asm_pci_policy_device_get_index (d);

          if (g_hash_table_contains (bus_model, GUINT_TO_POINTER (idx)))
            fail_msg ("seed %" G_GUINT64_FORMAT ": two controllers of index "
                      "%u", seed, idx);
          g_hash_table_insert (bus_model, GUINT_TO_POINTER (idx),
                               GUINT_TO_POINTER (m + 1));
        }
    }
  for (guint i = 0; i < asm_pci_assignment_get_n_devices (a); i++)
    {
      const AsmPciPolicyDevice *d = asm_pci_assignment_get_device (a, i);
      AsmPciControllerModel m;
      guint k = 0, bm;
      AsmPciAddr at;
      char *key;

      if (i < kind->len)
        k = g_array_index (kind, guint, i);
      else if (asm_pci_policy_device_get_controller_model (d, &m))
        k = kind_of_controller (m);
      else
        fail_msg ("seed %" G_GUINT64_FORMAT ": added device %u is no "
                  "controller", seed, i);
      if (!asm_pci_policy_device_get_address (d, &at))
        {
          /* only roots and devices not on PCI have none */
          AsmPciControllerModel rm;

          if (k != 0 && !(asm_pci_policy_device_get_controller_model (d, &rm) &&
                          asm_pci_controller_model_is_root (rm)))
            fail_msg ("seed %" G_GUINT64_FORMAT ": device %u got no address",
                      seed, i);
          continue;
        }
      if (k == 0)
        fail_msg ("seed %" G_GUINT64_FORMAT ": device %u is not on PCI but "
                  "got an address", seed, i);
      key = asm_pci_addr_format (&at);
      if (!g_hash_table_insert (used, key, NULL))
        fail_msg ("seed %" G_GUINT64_FORMAT ": %s assigned twice", seed,
                  key);
      bm = GPOINTER_TO_UINT (
        g_hash_table_lookup (bus_model, GUINT_TO_POINTER (at.bus)));
      if (at.domain != 0 || bm == 0)
        fail_msg ("seed %" G_GUINT64_FORMAT ": device %u at %s, on a bus no "
                  "controller provides", seed, i, key);
      if ((bus_takes ((AsmPciControllerModel) (bm - 1), at.slot) & k) == 0)
        fail_msg ("seed %" G_GUINT64_FORMAT ": device %u (kind 0x%x) at %s, "
                  "on a %s bus that cannot take it", seed, i, k, key,
                  asm_pci_controller_model_to_string (
                    (AsmPciControllerModel) (bm - 1)));
      if (at.function != 0 && k != K_ROOT_PORT)
        fail_msg ("seed %" G_GUINT64_FORMAT ": device %u at %s: only "
                  "aggregated root ports take a function but 0", seed, i,
                  key);
    }
  st->n_devices += kind->len;
  st->n_added += asm_pci_assignment_get_n_added (a);
  g_hash_table_unref (bus_model);
}

static void
test_property_random_machines (void **state)
{
  guint64 only = test_env_u64 ("ASM_PROP_SEED", 0);
  guint64 n = test_env_u64 ("ASM_PROP_SEEDS", 3000);
  PropStats st = { 0 };

  (void) state;
  if (only != 0)
    {
      run_machine (only, &st);
      return;
    }
  for (guint64 seed = 1; seed <= n; seed++)
    run_machine (seed, &st);
  print_message ("# %u machines placed, %u refused; %u devices, %u controllers "
                 "added\n",
                 st.n_ok, st.n_refused, st.n_devices, st.n_added);
  /* the generator must mostly make machines the policy can place */
  assert_true (st.n_ok > st.n_refused * 4);
  assert_true (st.n_added > 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_implicit_root),
    cmocka_unit_test (test_index_filling),
    cmocka_unit_test (test_q35_root_ports),
    cmocka_unit_test (test_pc_bridge_added),
    cmocka_unit_test (test_video_slot),
    cmocka_unit_test (test_fixed_and_partial_addresses),
    cmocka_unit_test (test_multifunction),
    cmocka_unit_test (test_numa_expander),
    cmocka_unit_test (test_hotplug_off),
    cmocka_unit_test (test_refusals),
    cmocka_unit_test (test_higher_index_parent),
    cmocka_unit_test (test_controller_grown_bus),
    cmocka_unit_test (test_switch_ports_cycle),
    cmocka_unit_test (test_given_cycle),
    cmocka_unit_test (test_libvirt_checks),
    cmocka_unit_test (test_unknown_nic_model),
    cmocka_unit_test (test_dmi_bridge_empty_address),
    cmocka_unit_test (test_models),
    cmocka_unit_test (test_bad_input),
    cmocka_unit_test (test_failed_assign_changes_nothing),
    cmocka_unit_test (test_property_random_machines),
  };

  return cmocka_run_group_tests_name ("pci-policy", tests, NULL, NULL);
}
