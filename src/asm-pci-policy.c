/* asm-pci-policy.c: libvirt's PCI address policy on top of an AsmPciBusSet
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What it is for.  A hypervisor or a management stack describes a machine
 * (pc or q35) and its devices, each by what decides its placement: its
 * class (#AsmPciDeviceClass: libvirt's order of assignment), the bus it
 * needs (#AsmPciDeviceBus, or raw connect flags), an address it asks for,
 * multifunction, a NUMA node, hotplug; PCI controllers by model and index
 * with their target attributes.  asm_pci_policy_assign() answers with the
 * address of every device and the controllers to add, exactly as libvirt
 * 9.0's qemu driver would, or refuses with libvirt's reason.  No XML here:
 * `asmctl pci assign` (examples/asmctl) reads and writes libvirt's domain
 * XML around this API.  The table of device models (which model needs
 * which bus, which has a fixed place) is in asm-pci-policy-models.c.
 *
 * Objects.  An #AsmPciPolicyDevice is a small reference-counted record;
 * asm_pci_policy_add_device() copies it into the #AsmPciPolicy after
 * checking every value (an address's parts, a controller index, the
 * number of devices), so a device that was accepted cannot make a pass
 * read out of range.  asm_pci_policy_assign() copies the devices again
 * into a private PolDomain, runs the passes on the copies and, on success,
 * hands them out as an immutable #AsmPciAssignment: the policy itself is
 * never changed by an assignment, so a failed one leaves everything as it
 * was and the same policy assigned twice gives the same answer.
 *
 * Theory
 * ======
 *
 * libvirt's qemu driver (qemu_domain_address.c, 9.0) assigns PCI addresses
 * in two passes over a `domain_addr` set: a dry run that finds out which
 * controllers are missing, then the real pass.  This module is that policy,
 * one layer above the bus set; the bus set itself knows nothing of
 * libvirt.  A pass (pass_run) is:
 *
 *   1. the root controllers (pci-root, pcie-root; index N is domain N);
 *   2. every given address, controllers first as their parent bus
 *      appears; two devices at one address is libvirt's error
 *      ("Attempted double use of PCI Address"), naming both;
 *   3. the chipset: PIIX3 at 00:01.0-3 and the primary video at 00:02.0 on
 *      pc; on q35 the ICH9 functions 00:1f.0/2/3, USB2 at 00:1d/00:1a, a
 *      dmi-to-pci-bridge at 00:1e, the primary video at 00:01.0, ICH9 sound
 *      at 00:1b.  A primary video whose slot is taken gets the next free
 *      address right here; libvirt's dry run does not record it, so it
 *      reserves one more for the video with the other videos in step 6
 *      (on q35 an empty root port more);
 *   4. (dry run, pc) one spare slot so that a pci-bridge can always be
 *      added later;
 *   5. the PCI controllers without an address, in libvirt's list order:
 *      those of the input by index, then those the policy added.  Each
 *      takes the first free slot that fits on the buses in index order,
 *      and libvirt's address set has the bus of every controller index
 *      from the start, plugged in or not: so a controller may go onto a
 *      bus whose controller comes later in the list (an index gap's root
 *      port, a parked bus in the dry run).  It then waits for that bus as
 *      a given address does (asm-pci-policy-place.c,
 *      libvirt_choice); a pci-bridge that would go onto its own bus or a
 *      later one is libvirt's error "index must be larger than bus".
 *      Two controllers may so go onto each other's buses (a switch's
 *      downstream port into the upstream port that goes into it): a
 *      cycle, which libvirt writes out as it is.  At the end of the step
 *      each such cycle is closed (pol_close_cycles): one of its
 *      controllers is a floating one of the bus set, in its domain and
 *      index order, and the others, and what comes later, plug into its
 *      bus and theirs;
 *   6. the other devices by libvirt's categories (filesystems, nets,
 *      sounds, other controllers, disks, host devices, memballoon, rngs,
 *      watchdogs, videos, shmem, inputs, serials, iommu, vsock, memory,
 *      panic), each the next free address for its connect flags; within a
 *      class by the caller's list position (libvirt's list order: its
 *      controllers grouped by type and sorted by index, disks by name),
 *      then by the order of addition;
 *   7. (dry run, q35) one spare hotplug root port on a new domain;
 *   8. (real pass) libvirt's defaults: multifunction='on' on function 0 of
 *      a slot with several functions, chassis/port of root ports,
 *      chassisNr of pci-bridges, busNr of expander buses.
 *
 * Growth.  libvirt's dry run appends buses that are plugged in nowhere
 * (for the gaps below the highest controller index, for given addresses
 * on buses beyond it, and when a device finds no room) and plugs their
 * controllers in only at its end, after every device; a controller that
 * then finds no slot is an error (libvirt cannot grow for a controller).
 * The dry run here does exactly that on the bus set: the grow callback
 * (pol_grow) makes libvirt's decision
 * (virDomainPCIAddressSetGrow: a conventional PCI device gets a
 * pci-bridge, or on a pure PCIe topology a pcie-root-port with a
 * pcie-to-pci-bridge; a PCIe device gets a pcie-root-port; anything else
 * cannot grow) and "parks" each new bus: a
 * private parking domain whose root, in a locked isolation group, holds
 * just that controller.  Parking domains are numbered above every real
 * domain, so the bus set searches parked buses after the real ones and in
 * the order they were made, as libvirt searches its appended buses, and no
 * real slot is spent on them until the end, where each parked controller
 * takes the next free slot for its connect flags, in index order.  The
 * special root port libvirt makes for a pcie-to-pci-bridge accepts only
 * that bridge during the dry run: its own locked group does it.  The real
 * pass then knows every controller and places them before any device.
 *
 * The bus set snapshots its whole state before each grow callback (for
 * rollback), O(buses); one callback per device would make the dry run
 * quadratic.  So a growth for a single model parks a batch of buses,
 * doubling from one growth to the next (1, 2, 4, ... 64); a parked bus
 * becomes a controller, with the next index, only when a device first
 * takes a slot on it (note_use), which is exactly when libvirt would have
 * grown it, and the unused ones are dropped before the end.
 *
 * Beyond libvirt, each behind its #AsmPciPolicyFlags (without them the
 * answer is libvirt's, and what libvirt refuses is refused):
 *   - ASM_PCI_POLICY_MULTI_DOMAIN, several PCI domains: a root controller with index
 *     N > 0 establishes domain N (the bus set's mapping); a controller
 *     without an address goes to the domain of the highest root index
 *     below its own.  libvirt refuses such a root ("pci-root and
 *     pcie-root controllers should have index 0");
 *   - ASM_PCI_POLICY_NUMA_AWARE: a device naming a NUMA node
 *     (asm_pci_policy_device_set_numa_node()) is
 *     placed behind an expander bus of that node (added when missing), in
 *     its own isolation group, locked, with root ports (q35) or
 *     pci-bridges (pc) grown behind that expander bus;
 *   - asm_pci_policy_set_spare_ports (N): N empty hotplug root ports on q35 (N spare slots on
 *     pc) instead of libvirt's one, on every domain, not only new ones.
 *
 * Limits.  A PCI controller index is at most ASM_PCI_POLICY_INDEX_MAX (255):
 * libvirt 9.0 refuses a higher one (256 bus numbers a domain; an index is
 * a bus number), asm_pci_policy_add_device() refuses one, the dry run refuses to grow once index 255
 * is taken (without that it parked a bus for every device that could
 * never fit: 10^4 NICs took 25 s), and a pass that still ends with a
 * higher index is refused.  So gap filling adds at most 254 controllers.  Every
 * other input is bounded when it is added: at most
 * ASM_PCI_POLICY_MAX_DEVICES devices, address parts within their PCI
 * ranges (a bus at most ASM_PCI_POLICY_INDEX_MAX), NUMA nodes and list
 * positions within their types.
 *
 * A controller without an address may plug into a bus of a higher index
 * than its own, as in libvirt (an upstream port into the root port that
 * fills a later index gap): it waits for that bus like a given address
 * does; only a pci-bridge is refused there ("index must be larger than
 * bus").  When no bus takes it at all, the dry run grows one for it as
 * for a device (pol_plug_controller: an upstream port gets a new root
 * port, an index above its own) and it waits for that bus.
 *
 * Cost: two passes, each O(d log n) for d devices on the bus set, plus
 * O(b) per growth for b <= 256 buses (libvirt's decision looks at every
 * bus); controllers are found by a hash (pol_find_pci_controller).
 *
 * Files: this one is the policy's core, the passes (pass_run: the steps
 * above, in order), libvirt's defaults (step 8), the NUMA plan and the
 * public objects.  asm-pci-policy-place.c places controllers and devices
 * in slots: the given addresses (step 2), the chipset (step 3),
 * parking, growth, and the next free address (steps 5 and 6).  What the
 * two share is in asm-pci-policy-private.h.
 */
#include "asm-pci-policy-private.h"
#include "asm-pci-private.h"

#include <string.h>

gboolean
pol_fail (GError **error, PolDevice *dev, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (dev != NULL)
    g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID, "%s: %s", dev->name,
                 msg);
  else
    g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID, "%s", msg);
  return FALSE;
}

guint64
pol_bus_key (guint32 domain, guint32 bus)
{
  return (guint64) domain << 32 | bus;
}

static int
compare_devices (gconstpointer a, gconstpointer b)
{
  const PolDevice *x = *(PolDevice *const *) a;
  const PolDevice *y = *(PolDevice *const *) b;

  if (x->klass != y->klass)
    return x->klass < y->klass ? -1 : 1;
  for (guint i = 0; i < 3; i++)
    if (x->ord[i] != y->ord[i])
      return x->ord[i] < y->ord[i] ? -1 : 1;
  return 0;
}

/* the domain an unaddressed controller of @index joins: that of the
 * highest root index below it */
guint32
pol_domain_for (Policy *p, guint32 index)
{
  guint32 d = 0;

  for (guint i = 0; i < p->roots->len; i++)
    {
      guint32 r = g_array_index (p->roots, guint32, i);

      if (r < index)
        d = r;
    }
  return d;
}

/* the real domain of a non-root controller without an address */
guint32
pol_domain_of (Policy *p, PolDevice *c)
{
  return c->implicit ? c->grow_domain : pol_domain_for (p, c->index);
}

static gboolean
is_placed (Policy *p, PolDevice *c)
{
  if (p->counting && c->klass == ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER && !c->fixed &&
      g_hash_table_contains (p->parked,
                             &(guint64) { pol_bus_key (
                                 pol_domain_of (p, c), c->index) }))
    return TRUE;
  return asm_pci_bus_set_get_controller (p->set, c->index, NULL);
}

/* ------------------------------------------------------------------ */
/* Step 8: libvirt's defaults                                          */

static gboolean
apply_defaults (Policy *p, GError **error)
{
  PolDomain *dom = p->dom;
  g_autoptr (GHashTable) f0 =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) ctrls = g_ptr_array_new ();
  gint64 lowest = 256;

  for (guint i = 0; i < dom->devs->len; i++)
    {
      PolDevice *d = g_ptr_array_index (dom->devs, i);

      if (d->klass == ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER && is_placed (p, d))
        {
          AsmPciControllerInfo info;

          POL_MUST (asm_pci_bus_set_get_controller (p->set, d->index, &info));
          if (!info.is_root)
            {
              if (!d->fixed)
                d->assigned = TRUE;
              /* a floating controller (pol_close_cycles) keeps the
               * address the policy gave it */
              if (!asm_pci_bus_set_is_floating (p->set, d->index))
                d->addr = info.plugged_at;
            }
          g_ptr_array_add (ctrls, d);
        }
      if ((d->fixed || d->assigned) && d->addr.function == 0)
        {
          AsmPciAddr a = d->addr;
          g_hash_table_insert (f0, pol_addr_format (&a), d);
        }
    }
  /* multifunction='on' on function 0 of a slot with several functions */
  for (guint i = 0; i < dom->devs->len; i++)
    {
      PolDevice *d = g_ptr_array_index (dom->devs, i);
      AsmPciAddr a = d->addr;
      g_autofree char *key = NULL;
      PolDevice *first;

      if (!(d->fixed || d->assigned) || a.function == 0)
        continue;
      a.function = 0;
      key = pol_addr_format (&a);
      first = g_hash_table_lookup (f0, key);
      if (first != NULL && first->multi == ASM_PCI_MULTIFUNCTION_DEFAULT)
        first->multi = ASM_PCI_MULTIFUNCTION_ON;
    }

  /* controller options, in libvirt's list order */
  g_ptr_array_sort (ctrls, compare_devices);
  for (guint i = 0; i < ctrls->len; i++)
    {
      PolDevice *c = g_ptr_array_index (ctrls, i);

      if (c->bus_nr >= 0 && c->bus_nr < lowest)
        lowest = c->bus_nr;
    }
  for (guint i = 0; i < ctrls->len; i++)
    {
      PolDevice *c = g_ptr_array_index (ctrls, i);

      switch (c->pmodel)
        {
        case ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE:
          if (c->chassis_nr < 0)
            c->chassis_nr = c->index;
          if (c->index <= c->addr.bus)
            return pol_fail (error, c,
                                       "PCI controller at index %u (0x%02x) "
                                       "has bus='0x%02x', but index must be "
                                       "larger than bus",
                                       c->index, c->index, c->addr.bus);
          break;
        case ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT:
          if (c->chassis < 0)
            c->chassis = c->index;
          if (c->port < 0)
            c->port = (c->addr.slot << 3) + c->addr.function;
          break;
        case ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_DOWNSTREAM_PORT:
          if (c->chassis < 0)
            c->chassis = c->index;
          if (c->port < 0)
            c->port = c->addr.slot;
          break;
        case ASM_PCI_CONTROLLER_MODEL_PCI_EXPANDER_BUS:
        case ASM_PCI_CONTROLLER_MODEL_PCIE_EXPANDER_BUS:
          if (c->bus_nr < 0)
            {
              if (lowest <= 2)
                return pol_fail (
                    error, c,
                    "no free busNr lower than the current lowest busNr is "
                    "available to auto-assign; give <target busNr='...'/>");
              c->bus_nr = lowest - 2;
              lowest = c->bus_nr;
            }
          break;
        default:
          break;
        }
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* A pass                                                               */

static void
pass_clear (Policy *p)
{
  g_clear_pointer (&p->set, asm_pci_bus_set_unref);
  g_clear_pointer (&p->owner, g_hash_table_unref);
  g_clear_pointer (&p->pending_devs, g_hash_table_unref);
  g_clear_pointer (&p->pending_ctrls, g_ptr_array_unref);
  g_clear_pointer (&p->order, g_ptr_array_unref);
  g_clear_pointer (&p->parked, g_hash_table_unref);
  g_clear_pointer (&p->parked_list, g_ptr_array_unref);
  g_clear_pointer (&p->park_domains, g_hash_table_unref);
  g_clear_error (&p->late_error);
  g_clear_pointer (&p->held, g_array_unref);
}

static void
pass_reset (Policy *p)
{
  PolDomain *dom = p->dom;
  guint32 top = 0;

  pass_clear (p);
  p->fatal = FALSE;
  p->current = NULL;
  p->deferred_video = NULL;
  p->pushed_video = NULL;
  for (guint i = 0; i < dom->devs->len; i++)
    {
      PolDevice *d = g_ptr_array_index (dom->devs, i);

      d->assigned = FALSE;
      if (!d->fixed)
        {
          memset (&d->addr, 0, sizeof d->addr);
          d->multi = ASM_PCI_MULTIFUNCTION_DEFAULT;
        }
      if (d->klass == ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER)
        top = MAX (top, d->index);
    }
  /* parking domains above every real index */
  p->park_next = p->park_base = MAX (top + 0x200, 0x1000);
  p->spec_batch = 1;
}

static gboolean
pass_run (Policy *p, gboolean counting, GError **error)
{
  PolDomain *dom = p->dom;
  g_autoptr (GPtrArray) ctrls = NULL;
  g_autoptr (GPtrArray) all_ctrls = NULL;

  pass_reset (p);
  p->counting = counting;
  p->set = asm_pci_bus_set_new ();
  p->owner = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  p->pending_devs = g_hash_table_new_full (g_int64_hash, g_int64_equal,
                                           g_free,
                                           (GDestroyNotify) g_ptr_array_unref);
  p->pending_ctrls = g_ptr_array_new ();
  p->parked = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                     NULL);
  p->parked_list = g_ptr_array_new_with_free_func (g_free);
  p->held = g_array_new (FALSE, FALSE, sizeof (AsmPciAddr));
  p->park_domains = g_hash_table_new (NULL, NULL);

  /* 1. roots */
  for (guint i = 0; i < p->roots->len; i++)
    {
      guint32 r = g_array_index (p->roots, guint32, i);
      PolDevice *c = pol_find_pci_controller (dom, r);
      GError *err = NULL;

      if (!asm_pci_bus_set_add_controller (p->set, r, c->pmodel, NULL, &err))
        {
          pol_fail (error, c, "%s", err->message);
          g_error_free (err);
          return FALSE;
        }
    }

  /* 2. the given addresses; in the dry run, the buses that libvirt
   * adds before placing anything (the gaps below the highest index, the
   * buses beyond it that addresses name) are parked */
  if (counting && !pol_check_fixed (p, error))
    return FALSE;
  pol_collect_fixed (p);
  for (guint i = 0; i < p->roots->len; i++)
    if (!pol_reserve_fixed_on_bus (
            p, g_array_index (p->roots, guint32, i), 0, error))
      return FALSE;
  if (!pol_settle (p, error))
    return FALSE;
  if (counting)
    {
      for (guint i = 0; i < dom->devs->len; i++)
        {
          PolDevice *c = g_ptr_array_index (dom->devs, i);

          if (c->klass == ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER && c->implicit &&
              !asm_pci_controller_model_is_root (c->pmodel) &&
              c->parent_index < 0 && c->target_node < 0 &&
              !pol_park (p, c, TRUE, error))
            return FALSE;
        }
      if (!pol_grow_for_fixed (p, error))
        return FALSE;
    }

  asm_pci_bus_set_set_grow_func (p->set, pol_grow, p, NULL);

  /* 3. the chipset */
  if (!(dom->machine == ASM_PCI_MACHINE_PC ? pol_chipset_pc (p, error)
                                      : pol_chipset_q35 (p, error)))
    return FALSE;
  /* the chipset step may have plugged the dmi-to-pci-bridge in: the
   * given controllers behind it (libvirt checks every given address
   * against the model of its bus before it places anything) */
  if (!pol_settle (p, error))
    return FALSE;

  /* 4. the spare slot of pc */
  if (counting && pol_find_pci_controller (dom, 0)->pmodel ==
                    ASM_PCI_CONTROLLER_MODEL_PCI_ROOT)
    {
      guint n = p->spare >= 0 ? (guint) p->spare : 1;

      if (n > 0 && !pol_all_buses_full (p) &&
          !pol_reserve_spare (p, PCI_AUTO, n, error))
        return FALSE;
    }

  /* 5. PCI controllers without an address */
  ctrls = g_ptr_array_new ();
  all_ctrls = g_ptr_array_new ();
  for (guint i = 0; i < dom->devs->len; i++)
    {
      PolDevice *c = g_ptr_array_index (dom->devs, i);

      if (c->klass == ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER && !c->fixed &&
          !asm_pci_controller_model_is_root (c->pmodel))
        g_ptr_array_add (ctrls, c);
      if (c->klass == ASM_PCI_DEVICE_CLASS_CONTROLLER)
        g_ptr_array_add (all_ctrls, c);
    }
  g_ptr_array_sort (ctrls, compare_devices);
  g_ptr_array_sort (all_ctrls, compare_devices);
  for (guint i = 0; i < ctrls->len; i++)
    {
      PolDevice *c = g_ptr_array_index (ctrls, i);

      if (is_placed (p, c))
        continue;
      if (!pol_plug_controller (p, c, error) ||
          !pol_settle (p, error))
        return FALSE;
    }
  /* controllers plugged into each other's buses */
  if (!pol_close_cycles (p, error))
    return FALSE;
  if (p->late_error != NULL &&
      (p->pending_ctrls->len > 0 || g_hash_table_size (p->pending_devs) > 0))
    {
      /* what waits may wait for the controller that error left out */
      g_propagate_error (error, g_steal_pointer (&p->late_error));
      return FALSE;
    }
  if (p->pending_ctrls->len > 0)
    {
      return pol_pending_error (
          p, g_ptr_array_index (p->pending_ctrls, 0), error);
    }
  if (g_hash_table_size (p->pending_devs) > 0)
    {
      GHashTableIter it;
      gpointer value;
      PolDevice *first = NULL;

      g_hash_table_iter_init (&it, p->pending_devs);
      while (g_hash_table_iter_next (&it, NULL, &value))
        {
          PolDevice *d = g_ptr_array_index ((GPtrArray *) value, 0);

          if (first == NULL || d->ord[2] < first->ord[2])
            first = d;
        }
      return pol_fail (error, first,
                                 "its address is on bus %04x:%02x, which no "
                                 "controller provides",
                                 first->addr.domain, first->addr.bus);
    }

  if (p->deferred_video != NULL &&
      !pol_place_next (p, p->deferred_video, error))
    return FALSE;

  /* NUMA: the buses of each node in their own locked group, every other
   * bus locked in group 0 */
  if (p->numa_aware)
    {
      for (guint32 i = 0; i < p->next_index; i++)
        {
          PolDevice *c = pol_find_pci_controller (dom, i);
          guint32 group = 0;

          if (c == NULL ||
              !asm_pci_bus_set_get_controller (p->set, c->index, NULL))
            continue;
          if (c->target_node >= 0)
            group = NUMA_GROUP (c->target_node);
          else if (c->parent_index >= 0)
            {
              PolDevice *par =
                pol_find_pci_controller (dom, (guint32) c->parent_index);
              if (par != NULL && par->target_node >= 0)
                group = NUMA_GROUP (par->target_node);
            }
          if (!pol_lock_group (p, i, group, error))
            return FALSE;
        }
    }

  /* 6. the devices */
  p->order = g_ptr_array_new ();
  for (guint i = 0; i < dom->devs->len; i++)
    {
      PolDevice *d = g_ptr_array_index (dom->devs, i);

      if (d->klass >= ASM_PCI_DEVICE_CLASS_FILESYSTEM && d->klass < ASM_PCI_DEVICE_CLASS_OTHER &&
          (d->flags != 0 || d->no_flags) && !d->fixed &&
          (!d->assigned || d == p->pushed_video))
        g_ptr_array_add (p->order, d);
    }
  g_ptr_array_sort (p->order, compare_devices);
  for (p->pos = 0; p->pos < p->order->len; p->pos++)
    {
      PolDevice *d = g_ptr_array_index (p->order, p->pos);
      gboolean ok;

      if (d->assigned && d != p->pushed_video)
        continue;
      if (d->flags == 0)
        /* libvirt looks for a bus that takes no kind of device, then
         * for one to add */
        return pol_fail (error, d,
                         "Cannot automatically add a new PCI bus for a "
                         "device with connect flags 00");
      ok = d->usb2_function >= 0
               ? pol_place_usb2 (p, d, all_ctrls, error)
               : pol_place_next (p, d, error);
      if (!ok)
        return FALSE;
    }
  p->current = NULL;

  if (counting)
    {
      /* 7. the spare root port of q35 */
      if (pol_find_pci_controller (dom, 0)->pmodel ==
          ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT)
        {
          guint n = 0;

          if (p->spare >= 0)
            n = (guint) p->spare;
          else if (dom->max_pci_index == 0)
            for (guint i = 0; i < p->parked_list->len && n == 0; i++)
              /* libvirt: a new domain to which buses were added */
              n = ((Parked *) g_ptr_array_index (p->parked_list, i))->c != NULL;
          if (n > 0 && !pol_reserve_spare (p, PCIE_AUTO, n, error))
            return FALSE;
        }
      /* the parked controllers take their slots */
      if (!pol_plug_parked (p, error))
        return FALSE;
      if (p->late_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&p->late_error));
          return FALSE;
        }
      return TRUE;
    }
  return apply_defaults (p, error);
}

static void
policy_clear (Policy *p)
{
  pass_clear (p);
  g_clear_pointer (&p->roots, g_array_unref);
}

/* the expander bus of NUMA node @node, or NULL */
static PolDevice *
numa_expander (PolDomain *dom, int node)
{
  for (guint j = 0; j < dom->devs->len; j++)
    {
      PolDevice *c = g_ptr_array_index (dom->devs, j);

      if (c->klass == ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER && c->target_node == node &&
          (c->pmodel == ASM_PCI_CONTROLLER_MODEL_PCI_EXPANDER_BUS ||
           c->pmodel == ASM_PCI_CONTROLLER_MODEL_PCIE_EXPANDER_BUS))
        return c;
    }
  return NULL;
}

/* ASM_PCI_POLICY_NUMA_AWARE: an expander bus for every node that devices name; on pc
 * also the pci-bridges behind it that its devices need beyond its 32
 * slots (a bridge takes one of them and gives 31), decided up front since
 * a full expander bus has no slot left for a bridge */
static void
plan_numa (Policy *p)
{
  PolDomain *dom = p->dom;
  gboolean q35 = dom->machine == ASM_PCI_MACHINE_Q35;
  g_autoptr (GHashTable) counts = g_hash_table_new (NULL, NULL);
  guint n = dom->devs->len;

  for (guint i = 0; i < n; i++)
    {
      PolDevice *d = g_ptr_array_index (dom->devs, i);
      PolDevice *pxb;

      if (d->numa_node < 0 || d->flags == 0 || d->fixed)
        continue;
      g_hash_table_insert (
        counts, GINT_TO_POINTER (d->numa_node + 1),
        GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (
                            counts, GINT_TO_POINTER (d->numa_node + 1))) +
                          1));
      if (numa_expander (dom, d->numa_node) != NULL)
        continue;
      pxb = pol_new_controller (
          p,
          q35 ? ASM_PCI_CONTROLLER_MODEL_PCIE_EXPANDER_BUS
              : ASM_PCI_CONTROLLER_MODEL_PCI_EXPANDER_BUS,
          0);
      pxb->target_node = d->numa_node;
    }
  if (q35)
    return;
  for (int node = 0; node < G_MAXINT; node++)
    {
      guint k = GPOINTER_TO_UINT (
        g_hash_table_lookup (counts, GINT_TO_POINTER (node + 1)));
      PolDevice *pxb;
      guint used = 0, free_slots;

      if (g_hash_table_size (counts) == 0)
        break;
      if (k == 0)
        continue;
      g_hash_table_remove (counts, GINT_TO_POINTER (node + 1));
      pxb = numa_expander (dom, node);
      for (guint i = 0; i < dom->devs->len; i++)
        {
          PolDevice *d = g_ptr_array_index (dom->devs, i);

          if (d->fixed && d->addr.bus == pxb->index && d->addr.bus != 0)
            used++;
        }
      free_slots = used < 32 ? 32 - used : 0;
      if (k > free_slots)
        for (guint b = 0; b < (k - free_slots + 29) / 30; b++)
          pol_new_controller (
              p, ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE, 0)
            ->parent_index = pxb->index;
    }
}

/* assigns every missing address of @dom, libvirt's way */
static gboolean
run_assign (PolDomain *dom, AsmPciPolicyFlags flags, gint spare,
            GError **error)
{
  Policy p = { 0 };
  gboolean ok;

  p.dom = dom;
  p.numa_aware = (flags & ASM_PCI_POLICY_NUMA_AWARE) != 0;
  p.spare = spare;
  p.roots = g_array_new (FALSE, FALSE, sizeof (guint32));

  for (guint i = 0; i < dom->devs->len; i++)
    {
      PolDevice *c = g_ptr_array_index (dom->devs, i);

      if (c->klass != ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER)
        continue;
      p.next_index = MAX (p.next_index, c->index + 1);
      if (!asm_pci_controller_model_is_root (c->pmodel))
        continue;
      if (c->index != 0 && !(flags & ASM_PCI_POLICY_MULTI_DOMAIN))
        {
          g_array_unref (p.roots);
          return pol_fail (
            error, c,
            "pci-root and pcie-root controllers should have index 0 "
            "(a root controller with index N > 0 as PCI domain N needs "
            "ASM_PCI_POLICY_MULTI_DOMAIN)");
        }
      g_array_append_val (p.roots, c->index);
    }
  {
    /* ascending */
    guint32 *v = (guint32 *) (void *) p.roots->data;

    for (guint i = 1; i < p.roots->len; i++)
      for (guint j = i; j > 0 && v[j - 1] > v[j]; j--)
        {
          guint32 t = v[j];
          v[j] = v[j - 1];
          v[j - 1] = t;
        }
  }

  /* libvirt fills the gaps below the highest index with default
   * controllers: pcie-root-port under pcie-root, pci-bridge otherwise.
   * With several domains bus ids may have gaps (seed 002): no filling. */
  for (guint32 i = 1; p.roots->len == 1 && i < p.next_index; i++)
    if (pol_find_pci_controller (dom, i) == NULL)
      {
        guint32 d = pol_domain_for (&p, i);
        PolDevice *root = pol_find_pci_controller (dom, d);
        PolDevice *c = pol_add_pci_controller (
          dom, i,
          root->pmodel == ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT
            ? ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT
            : ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE);

        c->grow_domain = d;
      }
  if (p.numa_aware)
    plan_numa (&p);

  /* libvirt's dry run, then the real pass */
  ok = pass_run (&p, TRUE, error) && pass_run (&p, FALSE, error);
  /* a growth batch may have run past libvirt's last index */
  for (guint i = 0; ok && i < dom->devs->len; i++)
    {
      PolDevice *c = g_ptr_array_index (dom->devs, i);

      if (c->klass == ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER && c->index > ASM_PCI_POLICY_INDEX_MAX)
        ok = pol_fail (error, c,
                                 "no PCI slot is left: this controller "
                                 "would need index %u, above the maximum of "
                                 "%u",
                                 c->index, ASM_PCI_POLICY_INDEX_MAX);
    }
  policy_clear (&p);
  return ok;
}


/* ------------------------------------------------------------------ */
/* The devices of a pass                                                */

char *
pol_addr_format (const AsmPciAddr *addr)
{
  return g_strdup_printf ("%04x:%02x:%02x.%x", addr->domain, addr->bus,
                          addr->slot, addr->function);
}

PolDevice *
pol_find_pci_controller (PolDomain *dom, guint32 index)
{
  return g_hash_table_lookup (dom->pci, GUINT_TO_POINTER (index));
}

static void
dom_index (PolDomain *dom, PolDevice *dev)
{
  if (dev->klass == ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER &&
      !g_hash_table_contains (dom->pci, GUINT_TO_POINTER (dev->index)))
    g_hash_table_insert (dom->pci, GUINT_TO_POINTER (dev->index), dev);
}

/* a PCI controller the policy decided on (libvirt's auto-added
 * controllers), after every other controller in libvirt's list */
PolDevice *
pol_add_pci_controller (PolDomain *dom, guint32 index,
                        AsmPciControllerModel model)
{
  g_autofree char *name = g_strdup_printf (
    "<controller type='pci' index='%u' model='%s'> (added)", index,
    asm_pci_controller_model_to_string (model));
  PolDevice *dev = asm_pci_policy_device_new_pci_controller (model, index,
                                                             name);

  dev->flags = asm_pci_controller_model_get_connect_flags (model);
  dev->implicit = TRUE;
  dev->ord[0] = G_MAXUINT64;
  dev->ord[1] = index;
  dev->ord[2] = 0;
  g_ptr_array_add (dom->devs, dev);
  dom_index (dom, dev);
  return dev;
}

static PolDevice *
device_copy (const PolDevice *src)
{
  PolDevice *d = g_memdup2 (src, sizeof *src);

  d->ref_count = 1;
  d->name = g_strdup (src->name);
  d->ctype = g_strdup (src->ctype);
  d->model = g_strdup (src->model);
  return d;
}

/* the connect flags of @d on @machine */
static AsmPciConnectFlags
resolve_flags (const PolDevice *d, AsmPciMachine machine)
{
  AsmPciConnectFlags pcie =
    (machine == ASM_PCI_MACHINE_Q35 ? ASM_PCI_CONNECT_TYPE_PCIE_DEVICE
                                    : ASM_PCI_CONNECT_TYPE_PCI_DEVICE) |
    ASM_PCI_CONNECT_AUTOASSIGN;

  if (d->flags_given)
    return d->flags;
  if (d->klass == ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER)
    return asm_pci_controller_model_get_connect_flags (d->pmodel);
  switch (d->bus)
    {
    case ASM_PCI_DEVICE_BUS_PCI:
      return PCI_AUTO;
    case ASM_PCI_DEVICE_BUS_PCIE:
      return pcie;
    case ASM_PCI_DEVICE_BUS_PCIE_INTEGRATED:
      return pcie | ASM_PCI_CONNECT_INTEGRATED;
    case ASM_PCI_DEVICE_BUS_NONE:
    default:
      /* a given address puts even such a device on PCI, as libvirt does */
      return d->fixed ? ASM_PCI_CONNECT_TYPE_PCI_DEVICE : 0;
    }
}

static void
dom_free (PolDomain *dom)
{
  if (dom == NULL)
    return;
  g_clear_pointer (&dom->pci, g_hash_table_unref);
  g_clear_pointer (&dom->devs, g_ptr_array_unref);
  g_free (dom);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PolDomain, dom_free)

/* ------------------------------------------------------------------ */
/* AsmPciPolicyDevice                                                   */

G_DEFINE_BOXED_TYPE (AsmPciPolicyDevice, asm_pci_policy_device,
                     asm_pci_policy_device_ref, asm_pci_policy_device_unref)

PolDevice *
pol_device_alloc (AsmPciDeviceClass klass, const char *name)
{
  PolDevice *dev = g_new0 (PolDevice, 1);

  dev->ref_count = 1;
  dev->klass = klass;
  dev->name = g_strdup (name);
  dev->usb2_function = -1;
  dev->numa_node = -1;
  dev->target_node = -1;
  dev->chassis_nr = dev->chassis = dev->port = dev->bus_nr = -1;
  dev->parent_index = -1;
  return dev;
}

/**
 * asm_pci_policy_device_new:
 * @klass: what the device is
 * @name: (nullable): its name in messages ("net0", "<disk> 'vda' (line
 *   12)"); %NULL: the class and the order of addition name it
 *
 * Creates a device of @klass that needs no bus yet (set one with
 * asm_pci_policy_device_set_bus() or asm_pci_policy_device_new_for_model()
 * for a known model) and asks for no address.  A @klass out of range is
 * refused by asm_pci_policy_add_device().
 *
 * Returns: (transfer full): the new device
 *
 * Since: 0.1
 */
AsmPciPolicyDevice *
asm_pci_policy_device_new (AsmPciDeviceClass klass, const char *name)
{
  return pol_device_alloc (klass, name);
}

/**
 * asm_pci_policy_device_new_pci_controller:
 * @model: the controller's model
 * @index: its index: the domain of a root, the bus number of any other
 * @name: (nullable): its name in messages
 *
 * Creates a PCI controller.  Its connect flags are its model's
 * (asm_pci_controller_model_get_connect_flags()); an index above
 * %ASM_PCI_POLICY_INDEX_MAX is refused by asm_pci_policy_add_device().
 *
 * Returns: (transfer full): the new device
 *
 * Since: 0.1
 */
AsmPciPolicyDevice *
asm_pci_policy_device_new_pci_controller (AsmPciControllerModel model,
                                          guint32 index, const char *name)
{
  PolDevice *dev = pol_device_alloc (ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER,
                                     name);

  dev->is_controller = TRUE;
  dev->ctype = g_strdup ("pci");
  dev->index = index;
  dev->pmodel = model;
  dev->ord[1] = index;
  return dev;
}

/**
 * asm_pci_policy_device_ref:
 * @dev: a device
 *
 * Takes a reference.
 *
 * Returns: (transfer full): @dev
 *
 * Since: 0.1
 */
AsmPciPolicyDevice *
asm_pci_policy_device_ref (AsmPciPolicyDevice *dev)
{
  g_return_val_if_fail (dev != NULL, NULL);
  g_atomic_int_inc (&dev->ref_count);
  return dev;
}

/**
 * asm_pci_policy_device_unref:
 * @dev: (nullable) (transfer full): a device
 *
 * Drops a reference; the last one frees the device.  %NULL is ignored.
 *
 * Since: 0.1
 */
void
asm_pci_policy_device_unref (AsmPciPolicyDevice *dev)
{
  if (dev == NULL || !g_atomic_int_dec_and_test (&dev->ref_count))
    return;
  g_free (dev->name);
  g_free (dev->ctype);
  g_free (dev->model);
  g_free (dev);
}

/**
 * asm_pci_policy_device_set_bus:
 * @dev: a device
 * @bus: the kind of bus it needs
 *
 * Sets the kind of bus the device needs; the policy makes the connect
 * flags from it and the machine (hotpluggable, auto-assigned).  Undoes
 * asm_pci_policy_device_set_connect_flags().  Ignored for PCI controllers,
 * whose model decides.
 *
 * Since: 0.1
 */
void
asm_pci_policy_device_set_bus (AsmPciPolicyDevice *dev, AsmPciDeviceBus bus)
{
  g_return_if_fail (dev != NULL);
  dev->bus = bus;
  dev->flags_given = FALSE;
}

/**
 * asm_pci_policy_device_set_connect_flags:
 * @dev: a device
 * @flags: libvirt's connect flags for the device; 0: not on PCI
 *
 * Gives the connect flags directly, for a device the bus kinds do not
 * describe.  asm_pci_policy_add_device() refuses flags with unknown bits,
 * or without a type bit when not 0.
 *
 * Since: 0.1
 */
void
asm_pci_policy_device_set_connect_flags (AsmPciPolicyDevice *dev,
                                         AsmPciConnectFlags flags)
{
  g_return_if_fail (dev != NULL);
  dev->flags = flags;
  dev->flags_given = TRUE;
}

/**
 * asm_pci_policy_device_set_address:
 * @dev: a device
 * @addr: (nullable): the address it asks for; %NULL or all zero: none
 *
 * Asks for an address.  As in libvirt, an all-zero address asks for
 * none: the policy chooses; but unlike %NULL it is an (empty) address, so
 * the fixed place libvirt gives a dmi-to-pci-bridge without any address
 * (00:1e.0 on q35) does not apply: it takes the first free slot.  A
 * partial address (only some parts given,
 * the others 0) is taken as it is.  Parts out of range (a bus above
 * %ASM_PCI_POLICY_INDEX_MAX, a slot above 0x1f, a function above 7) are
 * refused by asm_pci_policy_add_device().
 *
 * Since: 0.1
 */
void
asm_pci_policy_device_set_address (AsmPciPolicyDevice *dev,
                                   const AsmPciAddr *addr)
{
  g_return_if_fail (dev != NULL);
  if (addr == NULL)
    memset (&dev->addr, 0, sizeof dev->addr);
  else
    dev->addr = *addr;
  dev->fixed = (dev->addr.domain | dev->addr.bus | dev->addr.slot |
                dev->addr.function) != 0;
  dev->addr_given = addr != NULL;
}

/**
 * asm_pci_policy_device_set_multifunction:
 * @dev: a device
 * @multi: its address's multifunction attribute
 *
 * Sets the multifunction attribute.
 *
 * Since: 0.1
 */
void
asm_pci_policy_device_set_multifunction (AsmPciPolicyDevice *dev,
                                         AsmPciMultifunction multi)
{
  g_return_if_fail (dev != NULL);
  dev->multi = multi;
}

/**
 * asm_pci_policy_device_set_numa_node:
 * @dev: a device
 * @node: the NUMA node it belongs to, or -1 for none
 *
 * Names the device's NUMA node; with %ASM_PCI_POLICY_NUMA_AWARE the
 * device is placed behind an expander bus of that node.
 *
 * Since: 0.1
 */
void
asm_pci_policy_device_set_numa_node (AsmPciPolicyDevice *dev, gint node)
{
  g_return_if_fail (dev != NULL);
  dev->numa_node = node;
}

/**
 * asm_pci_policy_device_set_role:
 * @dev: a device
 * @role: its fixed place in the chipset
 *
 * Gives a chipset function its place (see #AsmPciDeviceRole).
 *
 * Since: 0.1
 */
void
asm_pci_policy_device_set_role (AsmPciPolicyDevice *dev,
                                AsmPciDeviceRole role)
{
  g_return_if_fail (dev != NULL);
  dev->role = role;
}

/**
 * asm_pci_policy_device_set_primary_video:
 * @dev: a video device
 * @primary: whether it is the primary video
 *
 * Marks the primary video, which has a slot of its own (00:02.0 on pc,
 * 00:01.0 on q35).  Only the first video marked counts; with none marked,
 * the first video is primary.
 *
 * Since: 0.1
 */
void
asm_pci_policy_device_set_primary_video (AsmPciPolicyDevice *dev,
                                         gboolean primary)
{
  g_return_if_fail (dev != NULL);
  dev->primary_video = primary;
}

/**
 * asm_pci_policy_device_set_usb2_function:
 * @dev: a USB controller
 * @function: its function in an ICH9 USB2 group (ich9-ehci1: 7,
 *   ich9-uhci1..3: 0..2), or -1
 *
 * Makes the controller one function of a USB2 group: the controllers of
 * one index share a slot.
 *
 * Since: 0.1
 */
void
asm_pci_policy_device_set_usb2_function (AsmPciPolicyDevice *dev,
                                         gint function)
{
  g_return_if_fail (dev != NULL);
  dev->usb2_function = function;
}

/**
 * asm_pci_policy_device_set_controller:
 * @dev: a device of class %ASM_PCI_DEVICE_CLASS_CONTROLLER
 * @type: the controller type ("usb", "scsi", "sata", ...)
 * @index: its index among the controllers of @type
 *
 * Makes the device a (non-PCI) controller: controllers are placed in
 * libvirt's list order, and the USB2 companions of one index share a
 * slot.
 *
 * Since: 0.1
 */
void
asm_pci_policy_device_set_controller (AsmPciPolicyDevice *dev,
                                      const char *type, guint32 index)
{
  g_return_if_fail (dev != NULL);
  g_return_if_fail (type != NULL);
  dev->is_controller = TRUE;
  g_free (dev->ctype);
  dev->ctype = g_strdup (type);
  dev->index = index;
}

/**
 * asm_pci_policy_device_set_list_position:
 * @dev: a device
 * @group: its group in the list of its class
 * @position: its position in the group
 *
 * Places the device in libvirt's list of its class, which decides the
 * order of assignment: ascending (@group, @position), ties in the order
 * of addition.  By default both are 0 (the order of addition), except for
 * PCI controllers, whose position is their index.  libvirt groups
 * controllers by type (in the order the types first appear) and sorts
 * each group by index, sorts disks by the index of their name (vda, vdb,
 * ...), and lists the primary video first.
 *
 * Since: 0.1
 */
void
asm_pci_policy_device_set_list_position (AsmPciPolicyDevice *dev,
                                         guint32 group, guint64 position)
{
  g_return_if_fail (dev != NULL);
  dev->ord[0] = group;
  dev->ord[1] = position;
}

/**
 * asm_pci_policy_device_set_hotplug:
 * @dev: a PCI controller
 * @hotplug: whether its bus accepts hotplugged devices (`<target
 *   hotplug='off'/>` is %FALSE)
 *
 * Turns hotplug of the controller's bus off or on (on by default).
 *
 * Since: 0.1
 */
void
asm_pci_policy_device_set_hotplug (AsmPciPolicyDevice *dev, gboolean hotplug)
{
  g_return_if_fail (dev != NULL);
  dev->hotplug_off = !hotplug;
}

/**
 * asm_pci_policy_device_set_target:
 * @dev: a PCI controller
 * @target: which target attribute
 * @value: its value, 0..G_MAXINT32, or -1: not given (the policy fills it
 *   in)
 *
 * Gives a target attribute of a PCI controller.  A value out of range is
 * refused by asm_pci_policy_add_device().
 *
 * Since: 0.1
 */
void
asm_pci_policy_device_set_target (AsmPciPolicyDevice *dev,
                                  AsmPciControllerTarget target, gint64 value)
{
  g_return_if_fail (dev != NULL);
  switch (target)
    {
    case ASM_PCI_CONTROLLER_TARGET_CHASSIS_NR:
      dev->chassis_nr = value;
      break;
    case ASM_PCI_CONTROLLER_TARGET_CHASSIS:
      dev->chassis = value;
      break;
    case ASM_PCI_CONTROLLER_TARGET_PORT:
      dev->port = value;
      break;
    case ASM_PCI_CONTROLLER_TARGET_BUS_NR:
      dev->bus_nr = value;
      break;
    default:
      g_return_if_reached ();
    }
}

/**
 * asm_pci_policy_device_set_target_node:
 * @dev: an expander bus (pci-expander-bus, pcie-expander-bus)
 * @node: its NUMA node, or -1
 *
 * Sets the NUMA node of an expander bus.
 *
 * Since: 0.1
 */
void
asm_pci_policy_device_set_target_node (AsmPciPolicyDevice *dev, gint node)
{
  g_return_if_fail (dev != NULL);
  dev->target_node = node;
}

/**
 * asm_pci_policy_device_get_name:
 * @dev: a device
 *
 * Gets the name of the device in messages.
 *
 * Returns: (nullable): the name given at creation (for a controller the
 *   policy added: "<controller type='pci' index='N' model='M'> (added)")
 *
 * Since: 0.1
 */
const char *
asm_pci_policy_device_get_name (const AsmPciPolicyDevice *dev)
{
  g_return_val_if_fail (dev != NULL, NULL);
  return dev->name;
}

/**
 * asm_pci_policy_device_get_class:
 * @dev: a device
 *
 * Gets the class of the device.
 *
 * Returns: what the device is
 *
 * Since: 0.1
 */
AsmPciDeviceClass
asm_pci_policy_device_get_class (const AsmPciPolicyDevice *dev)
{
  g_return_val_if_fail (dev != NULL, ASM_PCI_DEVICE_CLASS_OTHER);
  return dev->klass;
}

/**
 * asm_pci_policy_device_get_connect_flags:
 * @dev: a device
 *
 * The connect flags: those given, or, for a device of an
 * #AsmPciAssignment, those the policy made from its bus kind.
 *
 * Returns: the connect flags; 0: not on PCI (or not known yet)
 *
 * Since: 0.1
 */
AsmPciConnectFlags
asm_pci_policy_device_get_connect_flags (const AsmPciPolicyDevice *dev)
{
  g_return_val_if_fail (dev != NULL, 0);
  return dev->flags;
}

/**
 * asm_pci_policy_device_get_address:
 * @dev: a device
 * @out_addr: (out) (optional): its address
 *
 * The address asked for, or in an #AsmPciAssignment the address the
 * device has (asked for or assigned).
 *
 * Returns: %TRUE when the device has an address
 *
 * Since: 0.1
 */
gboolean
asm_pci_policy_device_get_address (const AsmPciPolicyDevice *dev,
                                   AsmPciAddr *out_addr)
{
  g_return_val_if_fail (dev != NULL, FALSE);
  if (!dev->fixed && !dev->assigned)
    return FALSE;
  if (out_addr != NULL)
    *out_addr = dev->addr;
  return TRUE;
}

/**
 * asm_pci_policy_device_is_assigned:
 * @dev: a device
 *
 * Tells whether the policy chose the address.
 *
 * Returns: %TRUE when the policy chose the device's address (it asked for
 *   none)
 *
 * Since: 0.1
 */
gboolean
asm_pci_policy_device_is_assigned (const AsmPciPolicyDevice *dev)
{
  g_return_val_if_fail (dev != NULL, FALSE);
  return dev->assigned && !dev->fixed;
}

/**
 * asm_pci_policy_device_is_added:
 * @dev: a device
 *
 * Tells whether the policy added the controller.
 *
 * Returns: %TRUE for a PCI controller the policy added (gaps below the
 *   highest index, buses that devices needed, expander buses of NUMA
 *   nodes)
 *
 * Since: 0.1
 */
gboolean
asm_pci_policy_device_is_added (const AsmPciPolicyDevice *dev)
{
  g_return_val_if_fail (dev != NULL, FALSE);
  return dev->implicit;
}

/**
 * asm_pci_policy_device_get_multifunction:
 * @dev: a device
 *
 * Gets the multifunction attribute.
 *
 * Returns: the multifunction attribute (in an #AsmPciAssignment: on for
 *   function 0 of a slot whose other functions are used, unless given)
 *
 * Since: 0.1
 */
AsmPciMultifunction
asm_pci_policy_device_get_multifunction (const AsmPciPolicyDevice *dev)
{
  g_return_val_if_fail (dev != NULL, ASM_PCI_MULTIFUNCTION_DEFAULT);
  return dev->multi;
}

/**
 * asm_pci_policy_device_get_numa_node:
 * @dev: a device
 *
 * Gets the NUMA node the device names.
 *
 * Returns: the NUMA node the device names, or -1
 *
 * Since: 0.1
 */
gint
asm_pci_policy_device_get_numa_node (const AsmPciPolicyDevice *dev)
{
  g_return_val_if_fail (dev != NULL, -1);
  return dev->numa_node;
}

/**
 * asm_pci_policy_device_get_controller_model:
 * @dev: a device
 * @out_model: (out) (optional): its model
 *
 * Gets the model of a PCI controller.
 *
 * Returns: %TRUE when @dev is a PCI controller
 *
 * Since: 0.1
 */
gboolean
asm_pci_policy_device_get_controller_model (const AsmPciPolicyDevice *dev,
                                            AsmPciControllerModel *out_model)
{
  g_return_val_if_fail (dev != NULL, FALSE);
  if (dev->klass != ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER)
    return FALSE;
  if (out_model != NULL)
    *out_model = dev->pmodel;
  return TRUE;
}

/**
 * asm_pci_policy_device_get_index:
 * @dev: a device
 *
 * Gets the index of a controller.
 *
 * Returns: a controller's index; 0 for other devices
 *
 * Since: 0.1
 */
guint32
asm_pci_policy_device_get_index (const AsmPciPolicyDevice *dev)
{
  g_return_val_if_fail (dev != NULL, 0);
  return dev->is_controller ? dev->index : 0;
}

/**
 * asm_pci_policy_device_get_target:
 * @dev: a PCI controller
 * @target: which target attribute
 *
 * Gets a target attribute of a PCI controller.
 *
 * Returns: the attribute's value (in an #AsmPciAssignment filled in as
 *   libvirt does: chassisNr of a pci-bridge, chassis and port of root and
 *   downstream ports, busNr of expander buses), or -1 when it has none
 *
 * Since: 0.1
 */
gint64
asm_pci_policy_device_get_target (const AsmPciPolicyDevice *dev,
                                  AsmPciControllerTarget target)
{
  g_return_val_if_fail (dev != NULL, -1);
  switch (target)
    {
    case ASM_PCI_CONTROLLER_TARGET_CHASSIS_NR:
      return dev->chassis_nr;
    case ASM_PCI_CONTROLLER_TARGET_CHASSIS:
      return dev->chassis;
    case ASM_PCI_CONTROLLER_TARGET_PORT:
      return dev->port;
    case ASM_PCI_CONTROLLER_TARGET_BUS_NR:
      return dev->bus_nr;
    default:
      g_return_val_if_reached (-1);
    }
}

/**
 * asm_pci_policy_device_get_target_node:
 * @dev: a PCI controller
 *
 * Gets the NUMA node of an expander bus.
 *
 * Returns: the NUMA node of an expander bus (given, or for one the policy
 *   added, the node it serves), or -1
 *
 * Since: 0.1
 */
gint
asm_pci_policy_device_get_target_node (const AsmPciPolicyDevice *dev)
{
  g_return_val_if_fail (dev != NULL, -1);
  return dev->target_node;
}

/* ------------------------------------------------------------------ */
/* AsmPciPolicy                                                         */

struct _AsmPciPolicy {
  gint ref_count;
  AsmPciMachine machine;
  AsmPciPolicyFlags flags;
  gint spare;
  GPtrArray *devs;       /* PolDevice*, owned copies, in order of addition */
};

G_DEFINE_BOXED_TYPE (AsmPciPolicy, asm_pci_policy, asm_pci_policy_ref,
                     asm_pci_policy_unref)

/**
 * asm_pci_policy_new:
 * @machine: the machine type
 *
 * Creates an empty machine description with libvirt's policy (no
 * #AsmPciPolicyFlags, one spare port).  Without a PCI controller of index
 * 0, asm_pci_policy_assign() adds the machine's root (pci-root on pc,
 * pcie-root on q35).  A @machine out of range is refused by
 * asm_pci_policy_assign().
 *
 * Returns: (transfer full): the new policy
 *
 * Since: 0.1
 */
AsmPciPolicy *
asm_pci_policy_new (AsmPciMachine machine)
{
  AsmPciPolicy *p = g_new0 (AsmPciPolicy, 1);

  p->ref_count = 1;
  p->machine = machine;
  p->spare = -1;
  p->devs = g_ptr_array_new_with_free_func (
    (GDestroyNotify) asm_pci_policy_device_unref);
  return p;
}

/**
 * asm_pci_policy_ref:
 * @policy: a policy
 *
 * Takes a reference.
 *
 * Returns: (transfer full): @policy
 *
 * Since: 0.1
 */
AsmPciPolicy *
asm_pci_policy_ref (AsmPciPolicy *policy)
{
  g_return_val_if_fail (policy != NULL, NULL);
  g_atomic_int_inc (&policy->ref_count);
  return policy;
}

/**
 * asm_pci_policy_unref:
 * @policy: (nullable) (transfer full): a policy
 *
 * Drops a reference; the last one frees the policy.  %NULL is ignored.
 *
 * Since: 0.1
 */
void
asm_pci_policy_unref (AsmPciPolicy *policy)
{
  if (policy == NULL || !g_atomic_int_dec_and_test (&policy->ref_count))
    return;
  g_ptr_array_unref (policy->devs);
  g_free (policy);
}

/**
 * asm_pci_policy_get_machine:
 * @policy: a policy
 *
 * Gets the machine type.
 *
 * Returns: the machine type
 *
 * Since: 0.1
 */
AsmPciMachine
asm_pci_policy_get_machine (AsmPciPolicy *policy)
{
  g_return_val_if_fail (policy != NULL, ASM_PCI_MACHINE_PC);
  return policy->machine;
}

/**
 * asm_pci_policy_set_flags:
 * @policy: a policy
 * @flags: what the policy may do beyond libvirt
 *
 * Sets the options beyond libvirt (unknown bits are refused by
 * asm_pci_policy_assign()).
 *
 * Since: 0.1
 */
void
asm_pci_policy_set_flags (AsmPciPolicy *policy, AsmPciPolicyFlags flags)
{
  g_return_if_fail (policy != NULL);
  policy->flags = flags;
}

/**
 * asm_pci_policy_set_spare_ports:
 * @policy: a policy
 * @n: how many empty hotplug root ports (q35) or free slots (pc) to keep,
 *   0..%ASM_PCI_POLICY_INDEX_MAX, or -1 for libvirt's rule (one spare slot
 *   on pc, one root port on a q35 machine to which ports are added)
 * @error: return location for a #GError
 *
 * Sets the spare ports; with @n >= 0 on every domain.
 *
 * Returns: %TRUE, or %FALSE with %ASM_ERROR_INVALID when @n is out of
 *   range (nothing changes)
 *
 * Since: 0.1
 */
gboolean
asm_pci_policy_set_spare_ports (AsmPciPolicy *policy, gint n, GError **error)
{
  g_return_val_if_fail (policy != NULL, FALSE);
  if (n < -1 || n > ASM_PCI_POLICY_INDEX_MAX)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "spare ports %d is out of range -1..%d", n,
                   ASM_PCI_POLICY_INDEX_MAX);
      return FALSE;
    }
  policy->spare = n;
  return TRUE;
}

static gboolean
invalid (GError **error, const PolDevice *dev, const char *fmt, ...)
  G_GNUC_PRINTF (3, 4);

static gboolean
invalid (GError **error, const PolDevice *dev, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID, "%s: %s",
               dev->name != NULL ? dev->name : "device", msg);
  return FALSE;
}

/* every value of @dev within its range */
static gboolean
device_check (const PolDevice *d, GError **error)
{
  static const char *const targets[] = { "chassisNr", "chassis", "port",
                                         "busNr" };
  const gint64 tv[] = { d->chassis_nr, d->chassis, d->port, d->bus_nr };

  if ((guint) d->klass > ASM_PCI_DEVICE_CLASS_OTHER)
    return invalid (error, d, "device class %u is out of range 0..%u",
                    (guint) d->klass, (guint) ASM_PCI_DEVICE_CLASS_OTHER);
  if ((guint) d->bus > ASM_PCI_DEVICE_BUS_PCIE_INTEGRATED)
    return invalid (error, d, "bus kind %u is out of range 0..%u",
                    (guint) d->bus, (guint) ASM_PCI_DEVICE_BUS_PCIE_INTEGRATED);
  if ((guint) d->role > ASM_PCI_DEVICE_ROLE_Q35_ICH9_SOUND)
    return invalid (error, d, "role %u is out of range 0..%u", (guint) d->role,
                    (guint) ASM_PCI_DEVICE_ROLE_Q35_ICH9_SOUND);
  if ((guint) d->multi > ASM_PCI_MULTIFUNCTION_OFF)
    return invalid (error, d, "multifunction %u is out of range 0..%u",
                    (guint) d->multi, (guint) ASM_PCI_MULTIFUNCTION_OFF);
  if (d->flags_given && d->flags != 0)
    {
      GError *err = NULL;

      if (!asm_pci_connect_flags_check (d->flags, &err))
        {
          invalid (error, d, "%s", err->message);
          g_error_free (err);
          return FALSE;
        }
    }
  if (d->addr.domain > ASM_PCI_DOMAIN_LAST)
    return invalid (error, d, "domain 0x%x is out of range 0..0x%x",
                    d->addr.domain, ASM_PCI_DOMAIN_LAST);
  if (d->addr.bus > ASM_PCI_POLICY_INDEX_MAX)
    return invalid (error, d, "bus 0x%x is out of range 0..0x%x",
                    d->addr.bus, ASM_PCI_POLICY_INDEX_MAX);
  if (d->addr.slot > ASM_PCI_SLOT_LAST)
    return invalid (error, d, "slot 0x%x is out of range 0..0x%x",
                    d->addr.slot, ASM_PCI_SLOT_LAST);
  if (d->addr.function > ASM_PCI_FUNCTION_LAST)
    return invalid (error, d, "function %u is out of range 0..%u",
                    d->addr.function, ASM_PCI_FUNCTION_LAST);
  if (d->usb2_function < -1 || d->usb2_function > ASM_PCI_FUNCTION_LAST)
    return invalid (error, d, "USB2 function %d is out of range -1..%u",
                    d->usb2_function, ASM_PCI_FUNCTION_LAST);
  if (d->numa_node < -1)
    return invalid (error, d, "NUMA node %d is out of range -1..%d",
                    d->numa_node, G_MAXINT);
  if (d->target_node < -1)
    return invalid (error, d, "target NUMA node %d is out of range -1..%d",
                    d->target_node, G_MAXINT);
  for (guint i = 0; i < G_N_ELEMENTS (tv); i++)
    if (tv[i] < -1 || tv[i] > G_MAXINT32)
      return invalid (error, d,
                      "target %s %" G_GINT64_FORMAT
                      " is out of range -1..%d",
                      targets[i], tv[i], G_MAXINT32);
  if (d->klass == ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER)
    {
      if (asm_pci_controller_model_to_string (d->pmodel) == NULL)
        return invalid (error, d, "PCI controller model %u is unknown",
                        (guint) d->pmodel);
      if (d->index > ASM_PCI_POLICY_INDEX_MAX)
        return invalid (error, d,
                        "PCI controller index %u is out of range 0..%u",
                        d->index, ASM_PCI_POLICY_INDEX_MAX);
      if (d->fixed && asm_pci_controller_model_is_root (d->pmodel))
        return invalid (error, d,
                        "a %s controller is plugged into no bus: it cannot "
                        "have a PCI address",
                        asm_pci_controller_model_to_string (d->pmodel));
    }
  if (d->ord[0] > G_MAXUINT32)
    return invalid (error, d, "list group %" G_GUINT64_FORMAT
                    " is out of range 0..%u", d->ord[0], G_MAXUINT32);
  return TRUE;
}

/**
 * asm_pci_policy_add_device:
 * @policy: a policy
 * @dev: a device
 * @out_id: (out) (optional): its id: its place in an #AsmPciAssignment
 *   (ids count from 0 in the order of addition)
 * @error: return location for a #GError
 *
 * Adds a copy of @dev to the machine, after checking every value of it.
 *
 * Returns: %TRUE, or %FALSE with %ASM_ERROR_INVALID naming the value out
 *   of range (a class, an address part, a controller index or model, a
 *   target attribute, ...) or %ASM_ERROR_NO_SPACE when the policy holds
 *   %ASM_PCI_POLICY_MAX_DEVICES devices already; nothing changes then
 *
 * Since: 0.1
 */
gboolean
asm_pci_policy_add_device (AsmPciPolicy *policy, AsmPciPolicyDevice *dev,
                           guint *out_id, GError **error)
{
  PolDevice *copy;

  g_return_val_if_fail (policy != NULL, FALSE);
  g_return_val_if_fail (dev != NULL, FALSE);
  if (policy->devs->len >= ASM_PCI_POLICY_MAX_DEVICES)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                   "%s: the policy holds %u devices already, the most it "
                   "takes",
                   dev->name != NULL ? dev->name : "device",
                   ASM_PCI_POLICY_MAX_DEVICES);
      return FALSE;
    }
  if (!device_check (dev, error))
    return FALSE;
  copy = device_copy (dev);
  copy->assigned = FALSE;
  copy->implicit = FALSE;
  copy->ord[2] = policy->devs->len;
  if (copy->name == NULL)
    copy->name = g_strdup_printf ("device %u", policy->devs->len);
  if (out_id != NULL)
    *out_id = policy->devs->len;
  g_ptr_array_add (policy->devs, copy);
  return TRUE;
}

/**
 * asm_pci_policy_get_n_devices:
 * @policy: a policy
 *
 * Counts the devices added so far.
 *
 * Returns: the number of devices added
 *
 * Since: 0.1
 */
guint
asm_pci_policy_get_n_devices (AsmPciPolicy *policy)
{
  g_return_val_if_fail (policy != NULL, 0);
  return policy->devs->len;
}

/* ------------------------------------------------------------------ */
/* libvirt's checks of the whole domain                                 */

static gboolean
is_model (const PolDevice *d, AsmPciDeviceClass klass, const char *model)
{
  return d->klass == klass && g_strcmp0 (d->model, model) == 0;
}

static gboolean
is_usb_controller (const PolDevice *d)
{
  return d->is_controller && g_strcmp0 (d->ctype, "usb") == 0;
}

/* what libvirt refuses while it reads the domain, before any address:
 * a second vsock; any USB controller, USB input or USB host device
 * beside a USB controller of model none (USB disabled) */
static gboolean
check_before (PolDomain *dom, GError **error)
{
  const PolDevice *vsock = NULL, *none = NULL;

  for (guint i = 0; i < dom->devs->len; i++)
    {
      const PolDevice *d = g_ptr_array_index (dom->devs, i);

      if (d->klass == ASM_PCI_DEVICE_CLASS_VSOCK)
        {
          if (vsock != NULL)
            return pol_fail (error, (PolDevice *) d,
                             "only a single vsock device is supported");
          vsock = d;
        }
      if (is_usb_controller (d) && g_strcmp0 (d->model, "none") == 0 &&
          none == NULL)
        none = d;
    }
  for (guint i = 0; none != NULL && i < dom->devs->len; i++)
    {
      const PolDevice *d = g_ptr_array_index (dom->devs, i);

      if (is_usb_controller (d) && d != none)
        return pol_fail (error, (PolDevice *) d,
                         "Can't add another USB controller: USB is disabled "
                         "for this domain");
      if (is_model (d, ASM_PCI_DEVICE_CLASS_INPUT, "usb"))
        return pol_fail (error, (PolDevice *) d,
                         "Can't add USB input device. USB bus is disabled");
      if (is_model (d, ASM_PCI_DEVICE_CLASS_HOSTDEV, "usb"))
        return pol_fail (error, (PolDevice *) d,
                         "Can't add host USB device: USB is disabled in this "
                         "host");
    }
  return TRUE;
}

/* a device on a USB bus (USB disabled refuses it) */
static gboolean
is_usb_device (const PolDevice *d)
{
  return is_model (d, ASM_PCI_DEVICE_CLASS_DISK, "usb") ||
         is_model (d, ASM_PCI_DEVICE_CLASS_SOUND, "usb") ||
         is_model (d, ASM_PCI_DEVICE_CLASS_NET, "usb-net") ||
         is_model (d, ASM_PCI_DEVICE_CLASS_SERIAL, "usb-serial") ||
         is_model (d, ASM_PCI_DEVICE_CLASS_OTHER, "usb");
}

/* a USB controller with ports of its own: a bus of that index (ICH9
 * UHCI companions share their EHCI master's; none has none) */
static gboolean
has_usb_ports (const PolDevice *d)
{
  return is_usb_controller (d) && g_strcmp0 (d->model, "none") != 0 &&
         (d->usb2_function < 0 || d->usb2_function == 7);
}

/* what libvirt refuses after the PCI addresses: two USB buses of one
 * index, USB devices with USB disabled, then (its validation) two panic
 * devices of one model and the sound model QEMU 7.2 lacks */
static gboolean
check_after (PolDomain *dom, GError **error)
{
  g_autoptr (GHashTable) usb = g_hash_table_new (NULL, NULL);
  g_autoptr (GHashTable) panic = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean disabled = FALSE;

  for (guint i = 0; i < dom->devs->len; i++)
    {
      const PolDevice *d = g_ptr_array_index (dom->devs, i);

      if (!has_usb_ports (d))
        {
          disabled |= is_usb_controller (d) && g_strcmp0 (d->model, "none") == 0;
          continue;
        }
      if (!g_hash_table_add (usb, GUINT_TO_POINTER (d->index + 1)))
        return pol_fail (error, (PolDevice *) d,
                         "Duplicate USB controllers with index %u", d->index);
    }
  for (guint i = 0; disabled && i < dom->devs->len; i++)
    if (is_usb_device (g_ptr_array_index (dom->devs, i)))
      return pol_fail (error, g_ptr_array_index (dom->devs, i),
                       "USB is disabled for this domain, but USB devices are "
                       "present in the domain XML");
  for (guint i = 0; i < dom->devs->len; i++)
    {
      PolDevice *d = g_ptr_array_index (dom->devs, i);
      /* a panic device without a model is isa on x86 */
      const char *m = d->model != NULL ? d->model : "isa";

      if (d->klass != ASM_PCI_DEVICE_CLASS_PANIC)
        continue;
      if (!g_hash_table_add (panic, (gpointer) m))
        return pol_fail (error, d, "Multiple panic devices with model '%s'",
                         m);
    }
  for (guint i = 0; i < dom->devs->len; i++)
    {
      PolDevice *d = g_ptr_array_index (dom->devs, i);

      if (is_model (d, ASM_PCI_DEVICE_CLASS_SOUND, "ich7"))
        return pol_fail (error, d,
                         "sound card model 'ich7' is not supported by qemu");
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* AsmPciAssignment                                                     */

struct _AsmPciAssignment {
  gint ref_count;
  GPtrArray *devs;  /* PolDevice*: the policy's devices, then those added */
  guint n_input;
};

G_DEFINE_BOXED_TYPE (AsmPciAssignment, asm_pci_assignment,
                     asm_pci_assignment_ref, asm_pci_assignment_unref)

/* only the first primary video counts; with none, the first video */
static void
settle_primary_video (PolDomain *dom)
{
  gboolean seen = FALSE;

  for (guint i = 0; i < dom->devs->len; i++)
    {
      PolDevice *d = g_ptr_array_index (dom->devs, i);

      if (d->klass != ASM_PCI_DEVICE_CLASS_VIDEO)
        {
          d->primary_video = FALSE;
          continue;
        }
      if (d->primary_video && seen)
        d->primary_video = FALSE;
      seen |= d->primary_video;
    }
  for (guint i = 0; i < dom->devs->len && !seen; i++)
    {
      PolDevice *d = g_ptr_array_index (dom->devs, i);

      if (d->klass == ASM_PCI_DEVICE_CLASS_VIDEO)
        seen = d->primary_video = TRUE;
    }
}

/**
 * asm_pci_policy_assign:
 * @policy: a policy
 * @error: return location for a #GError
 *
 * Places every device that asks for no address and decides the
 * controllers to add, as libvirt 9.0 does: see the theory comment of
 * src/asm-pci-policy.c for the steps.  @policy does not change, so the
 * same policy may be assigned again (with the same answer) or extended
 * and assigned again (a device attached).
 *
 * Returns: (transfer full): the assignment, or %NULL with
 *   %ASM_ERROR_INVALID and libvirt's reason (two devices at one address,
 *   a bus that cannot take a device, no slot left, ...), the message
 *   naming the device
 *
 * Since: 0.1
 */
AsmPciAssignment *
asm_pci_policy_assign (AsmPciPolicy *policy, GError **error)
{
  g_autoptr (PolDomain) dom = NULL;
  AsmPciAssignment *a;
  PolDevice *root;

  g_return_val_if_fail (policy != NULL, NULL);
  if ((guint) policy->machine > ASM_PCI_MACHINE_Q35)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "machine %u is out of range 0..%u",
                   (guint) policy->machine, (guint) ASM_PCI_MACHINE_Q35);
      return NULL;
    }
  if (policy->flags & ~(ASM_PCI_POLICY_MULTI_DOMAIN |
                        ASM_PCI_POLICY_NUMA_AWARE))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "policy flags 0x%x hold unknown bits",
                   (guint) policy->flags);
      return NULL;
    }

  dom = g_new0 (PolDomain, 1);
  dom->machine = policy->machine;
  dom->devs = g_ptr_array_new_full (
    policy->devs->len + 8, (GDestroyNotify) asm_pci_policy_device_unref);
  dom->pci = g_hash_table_new (NULL, NULL);
  for (guint i = 0; i < policy->devs->len; i++)
    {
      PolDevice *d = device_copy (g_ptr_array_index (policy->devs, i));

      d->flags = resolve_flags (d, policy->machine);
      g_ptr_array_add (dom->devs, d);
      dom_index (dom, d);
      if (d->klass == ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER)
        dom->max_pci_index = MAX (dom->max_pci_index, d->index);
    }
  settle_primary_video (dom);
  root = pol_find_pci_controller (dom, 0);
  if (root == NULL)
    {
      /* the implicit root of the machine */
      root = pol_add_pci_controller (
        dom, 0,
        policy->machine == ASM_PCI_MACHINE_Q35
          ? ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT
          : ASM_PCI_CONTROLLER_MODEL_PCI_ROOT);
      root->ord[0] = 0;
    }
  else if (!asm_pci_controller_model_is_root (root->pmodel))
    {
      pol_fail (error, root,
                "PCI controller index 0 must be a root (pci-root or "
                "pcie-root), not %s",
                asm_pci_controller_model_to_string (root->pmodel));
      return NULL;
    }
  if (!check_before (dom, error) ||
      !run_assign (dom, policy->flags, policy->spare, error) ||
      !check_after (dom, error))
    return NULL;

  a = g_new0 (AsmPciAssignment, 1);
  a->ref_count = 1;
  a->n_input = policy->devs->len;
  a->devs = g_steal_pointer (&dom->devs);
  return a;
}

/**
 * asm_pci_assignment_ref:
 * @assignment: an assignment
 *
 * Takes a reference.
 *
 * Returns: (transfer full): @assignment
 *
 * Since: 0.1
 */
AsmPciAssignment *
asm_pci_assignment_ref (AsmPciAssignment *assignment)
{
  g_return_val_if_fail (assignment != NULL, NULL);
  g_atomic_int_inc (&assignment->ref_count);
  return assignment;
}

/**
 * asm_pci_assignment_unref:
 * @assignment: (nullable) (transfer full): an assignment
 *
 * Drops a reference; the last one frees the assignment and its devices.
 * %NULL is ignored.
 *
 * Since: 0.1
 */
void
asm_pci_assignment_unref (AsmPciAssignment *assignment)
{
  if (assignment == NULL ||
      !g_atomic_int_dec_and_test (&assignment->ref_count))
    return;
  g_ptr_array_unref (assignment->devs);
  g_free (assignment);
}

/**
 * asm_pci_assignment_get_n_devices:
 * @assignment: an assignment
 *
 * Counts the devices of the assignment.
 *
 * Returns: the number of devices: those of the policy, then the
 *   controllers added
 *
 * Since: 0.1
 */
guint
asm_pci_assignment_get_n_devices (AsmPciAssignment *assignment)
{
  g_return_val_if_fail (assignment != NULL, 0);
  return assignment->devs->len;
}

/**
 * asm_pci_assignment_get_n_added:
 * @assignment: an assignment
 *
 * Counts the PCI controllers the policy added.
 *
 * Returns: the number of PCI controllers the policy added (the last ones
 *   of the assignment, in the order the policy decided on them)
 *
 * Since: 0.1
 */
guint
asm_pci_assignment_get_n_added (AsmPciAssignment *assignment)
{
  g_return_val_if_fail (assignment != NULL, 0);
  return assignment->devs->len - assignment->n_input;
}

/**
 * asm_pci_assignment_get_device:
 * @assignment: an assignment
 * @id: a device id: below asm_pci_assignment_get_n_devices()
 *
 * Looks up one device of the assignment.
 *
 * Returns: (transfer none) (nullable): device @id with its address, or
 *   %NULL when @id is out of range; do not change it
 *
 * Since: 0.1
 */
const AsmPciPolicyDevice *
asm_pci_assignment_get_device (AsmPciAssignment *assignment, guint id)
{
  g_return_val_if_fail (assignment != NULL, NULL);
  if (id >= assignment->devs->len)
    return NULL;
  return g_ptr_array_index (assignment->devs, id);
}
