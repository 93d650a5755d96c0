/* asmctl-pci-assign.c: `asmctl pci assign|attach|detach`, libvirt's PCI
 * address policy on top of an AsmPciBusSet
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
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
 *   2. every address the XML gives, controllers first as their parent bus
 *      appears; two devices at one address is an error naming both;
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
 *      an address of the XML does (asmctl-pci-assign-place.c,
 *      libvirt_choice); a pci-bridge that would go onto its own bus or a
 *      later one is libvirt's error "index must be larger than bus";
 *   6. the other devices by libvirt's categories (filesystems, nets,
 *      sounds, other controllers, disks, host devices, memballoon, rngs,
 *      watchdogs, videos, shmem, inputs, serials, iommu, vsock, memory,
 *      panic), each the next free address for its connect flags (libvirt
 *      9.0 knows no <crypto> device: the reader leaves it out);
 *   7. (dry run, q35) one spare hotplug root port on a new domain;
 *   8. (real pass) libvirt's defaults: multifunction='on' on function 0 of
 *      a slot with several functions, chassis/port of root ports,
 *      chassisNr of pci-bridges, busNr of expander buses.
 *
 * Growth.  libvirt's dry run appends buses that are plugged in nowhere
 * (for the gaps below the highest controller index, for addresses of the
 * XML on buses beyond it, and when a device finds no room) and plugs their
 * controllers in only at its end, after every device; a controller that
 * then finds no slot is an error (libvirt cannot grow for a controller).
 * The dry run here does exactly that on the bus set: the grow callback
 * (asmctl_policy_grow) makes libvirt's decision
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
 * Beyond libvirt, each behind its option (without them the output is
 * libvirt's, and what libvirt refuses is refused):
 *   - --multi-domain, several PCI domains: a root controller with index
 *     N > 0 establishes domain N (the bus set's mapping); a controller
 *     without an address goes to the domain of the highest root index
 *     below its own.  libvirt refuses such a root ("pci-root and
 *     pcie-root controllers should have index 0");
 *   - --numa-aware: a device naming a NUMA node (<asm:numa node='N'/> in
 *     the namespace urn:x-asm:libvirt, or a virtio-mem/pmem target node) is
 *     placed behind an expander bus of that node (added when missing), in
 *     its own isolation group, locked, with root ports (q35) or
 *     pci-bridges (pc) grown behind that expander bus;
 *   - --spare-ports N: N empty hotplug root ports on q35 (N spare slots on
 *     pc) instead of libvirt's one, on every domain, not only new ones.
 *
 * Limits.  A PCI controller index is at most LV_PCI_INDEX_MAX (255):
 * libvirt 9.0 refuses a higher one (256 bus numbers a domain; an index is
 * a bus number), the reader refuses one in the input (see "Hostile input"
 * in asmctl-libvirt-read.c), the dry run refuses to grow once index 255
 * is taken (without that it parked a bus for every device that could
 * never fit: 10^4 NICs took 25 s), and a pass that still ends with a
 * higher index is refused.  So gap filling adds at most 254 controllers.
 *
 * One difference is left on purpose: libvirt plugs a controller without
 * an address into the first bus that fits in index order, which may have
 * a higher index than the controller (an upstream port into a root port
 * filling a later gap, or one libvirt adds for it); the bus set plugs a
 * controller only into a bus of a lower index, so such an input is
 * refused, naming libvirt's choice (18 of 500 random domains with index
 * gaps; tests/libvirt/beyond/q35-higher-index-parent).
 *
 * Cost: two passes, each O(d log n) for d devices on the bus set, plus
 * O(b) per growth for b <= 256 buses (libvirt's decision looks at every
 * bus); controllers are found by a hash (lv_domain_find_pci_controller).
 *
 * Files: this one is the policy's core, the passes (pass_run: the steps
 * above, in order), libvirt's defaults (step 8), the --numa-aware plan and
 * the commands.  asmctl-pci-assign-place.c places controllers and devices
 * in slots: the addresses of the XML (step 2), the chipset (step 3),
 * parking, growth, and the next free address (steps 5 and 6).  What the
 * two share is in asmctl-pci-assign.h.
 */
#include "asmctl-pci-assign.h"

#include <json-glib/json-glib.h>
#include <string.h>

gboolean
asmctl_policy_fail (GError **error, LvDevice *dev, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (dev != NULL)
    g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID, "%s: %s", dev->desc,
                 msg);
  else
    g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID, "%s", msg);
  return FALSE;
}

guint64
asmctl_policy_bus_key (guint32 domain, guint32 bus)
{
  return (guint64) domain << 32 | bus;
}

static int
compare_devices (gconstpointer a, gconstpointer b)
{
  const LvDevice *x = *(LvDevice *const *) a;
  const LvDevice *y = *(LvDevice *const *) b;

  if (x->cat != y->cat)
    return x->cat < y->cat ? -1 : 1;
  for (guint i = 0; i < 3; i++)
    if (x->ord[i] != y->ord[i])
      return x->ord[i] < y->ord[i] ? -1 : 1;
  return 0;
}

/* the domain an unaddressed controller of @index joins: that of the
 * highest root index below it */
guint32
asmctl_policy_domain_for (Policy *p, guint32 index)
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
asmctl_policy_domain_of (Policy *p, LvDevice *c)
{
  return c->implicit ? c->grow_domain : asmctl_policy_domain_for (p, c->index);
}

static gboolean
is_placed (Policy *p, LvDevice *c)
{
  if (p->counting && c->cat == LV_CAT_PCI_CONTROLLER && !c->fixed &&
      g_hash_table_contains (p->parked,
                             &(guint64) { asmctl_policy_bus_key (
                                 asmctl_policy_domain_of (p, c), c->index) }))
    return TRUE;
  return asm_pci_bus_set_get_controller (p->set, c->index, NULL);
}

/* ------------------------------------------------------------------ */
/* Step 8: libvirt's defaults                                          */

static gboolean
apply_defaults (Policy *p, GError **error)
{
  LvDomain *dom = p->dom;
  g_autoptr (GHashTable) f0 =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) ctrls = g_ptr_array_new ();
  gint64 lowest = 256;

  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);

      if (d->cat == LV_CAT_PCI_CONTROLLER && is_placed (p, d))
        {
          AsmPciControllerInfo info;

          ASMCTL_MUST (asm_pci_bus_set_get_controller (p->set, d->index, &info));
          if (!info.is_root)
            {
              if (!d->fixed)
                d->assigned = TRUE;
              d->addr = info.plugged_at;
            }
          g_ptr_array_add (ctrls, d);
        }
      if ((d->fixed || d->assigned) && d->addr.function == 0)
        {
          AsmPciAddr a = d->addr;
          g_hash_table_insert (f0, lv_addr_format (&a), d);
        }
    }
  /* multifunction='on' on function 0 of a slot with several functions */
  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);
      AsmPciAddr a = d->addr;
      g_autofree char *key = NULL;
      LvDevice *first;

      if (!(d->fixed || d->assigned) || a.function == 0)
        continue;
      a.function = 0;
      key = lv_addr_format (&a);
      first = g_hash_table_lookup (f0, key);
      if (first != NULL && first->multi == LV_MULTI_ABSENT)
        first->multi = LV_MULTI_ON;
    }

  /* controller options, in libvirt's list order */
  g_ptr_array_sort (ctrls, compare_devices);
  for (guint i = 0; i < ctrls->len; i++)
    {
      LvDevice *c = g_ptr_array_index (ctrls, i);

      if (c->bus_nr >= 0 && c->bus_nr < lowest)
        lowest = c->bus_nr;
    }
  for (guint i = 0; i < ctrls->len; i++)
    {
      LvDevice *c = g_ptr_array_index (ctrls, i);

      switch (c->pmodel)
        {
        case ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE:
          if (c->chassis_nr < 0)
            c->chassis_nr = c->index;
          if (c->index <= c->addr.bus)
            return asmctl_policy_fail (error, c,
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
                return asmctl_policy_fail (
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
  LvDomain *dom = p->dom;
  guint32 top = 0;

  pass_clear (p);
  p->fatal = FALSE;
  p->current = NULL;
  p->deferred_video = NULL;
  p->pushed_video = NULL;
  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);

      d->assigned = FALSE;
      if (!d->fixed)
        {
          memset (&d->addr, 0, sizeof d->addr);
          d->multi = LV_MULTI_ABSENT;
        }
      if (d->cat == LV_CAT_PCI_CONTROLLER)
        top = MAX (top, d->index);
    }
  /* parking domains above every real index */
  p->park_next = p->park_base = MAX (top + 0x200, 0x1000);
  p->spec_batch = 1;
}

static gboolean
pass_run (Policy *p, gboolean counting, GError **error)
{
  LvDomain *dom = p->dom;
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
      LvDevice *c = lv_domain_find_pci_controller (dom, r);
      GError *err = NULL;

      if (!asm_pci_bus_set_add_controller (p->set, r, c->pmodel, NULL, &err))
        {
          asmctl_policy_fail (error, c, "%s", err->message);
          g_error_free (err);
          return FALSE;
        }
    }

  /* 2. the addresses of the XML; in the dry run, the buses that libvirt
   * adds before placing anything (the gaps below the highest index, the
   * buses beyond it that addresses name) are parked */
  if (counting && !asmctl_policy_check_fixed (p, error))
    return FALSE;
  asmctl_policy_collect_fixed (p);
  for (guint i = 0; i < p->roots->len; i++)
    if (!asmctl_policy_reserve_fixed_on_bus (
            p, g_array_index (p->roots, guint32, i), 0, error))
      return FALSE;
  if (!asmctl_policy_settle (p, error))
    return FALSE;
  if (counting)
    {
      for (guint i = 0; i < dom->devs->len; i++)
        {
          LvDevice *c = g_ptr_array_index (dom->devs, i);

          if (c->cat == LV_CAT_PCI_CONTROLLER && c->implicit &&
              !asm_pci_controller_model_is_root (c->pmodel) &&
              c->parent_index < 0 && c->target_node < 0 &&
              !asmctl_policy_park (p, c, TRUE, error))
            return FALSE;
        }
      if (!asmctl_policy_grow_for_fixed (p, error))
        return FALSE;
    }

  asm_pci_bus_set_set_grow_func (p->set, asmctl_policy_grow, p, NULL);

  /* 3. the chipset */
  if (!(dom->machine == LV_MACHINE_PC ? asmctl_policy_chipset_pc (p, error)
                                      : asmctl_policy_chipset_q35 (p, error)))
    return FALSE;
  /* the chipset step may have plugged the dmi-to-pci-bridge in: the
   * controllers of the XML behind it (libvirt checks every address of
   * the XML against the model of its bus before it places anything) */
  if (!asmctl_policy_settle (p, error))
    return FALSE;

  /* 4. the spare slot of pc */
  if (counting && lv_domain_find_pci_controller (dom, 0)->pmodel ==
                    ASM_PCI_CONTROLLER_MODEL_PCI_ROOT)
    {
      guint n = p->spare >= 0 ? (guint) p->spare : 1;

      if (n > 0 && !asmctl_policy_all_buses_full (p) &&
          !asmctl_policy_reserve_spare (p, PCI_AUTO, n, error))
        return FALSE;
    }

  /* 5. PCI controllers without an address */
  ctrls = g_ptr_array_new ();
  all_ctrls = g_ptr_array_new ();
  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *c = g_ptr_array_index (dom->devs, i);

      if (c->cat == LV_CAT_PCI_CONTROLLER && !c->fixed &&
          !asm_pci_controller_model_is_root (c->pmodel))
        g_ptr_array_add (ctrls, c);
      if (c->cat == LV_CAT_CONTROLLER)
        g_ptr_array_add (all_ctrls, c);
    }
  g_ptr_array_sort (ctrls, compare_devices);
  g_ptr_array_sort (all_ctrls, compare_devices);
  for (guint i = 0; i < ctrls->len; i++)
    {
      LvDevice *c = g_ptr_array_index (ctrls, i);

      if (is_placed (p, c))
        continue;
      if (!asmctl_policy_plug_controller (p, c, error) ||
          !asmctl_policy_settle (p, error))
        return FALSE;
    }
  if (p->late_error != NULL &&
      (p->pending_ctrls->len > 0 || g_hash_table_size (p->pending_devs) > 0))
    {
      /* what waits may wait for the controller that error left out */
      g_propagate_error (error, g_steal_pointer (&p->late_error));
      return FALSE;
    }
  if (p->pending_ctrls->len > 0)
    {
      LvDevice *c = g_ptr_array_index (p->pending_ctrls, 0);

      return asmctl_policy_fail (error, c,
                                 "it is plugged into bus %04x:%02x, which no "
                                 "controller provides",
                                 c->addr.domain, c->addr.bus);
    }
  if (g_hash_table_size (p->pending_devs) > 0)
    {
      GHashTableIter it;
      gpointer value;
      LvDevice *first = NULL;

      g_hash_table_iter_init (&it, p->pending_devs);
      while (g_hash_table_iter_next (&it, NULL, &value))
        {
          LvDevice *d = g_ptr_array_index ((GPtrArray *) value, 0);

          if (first == NULL || d->ord[2] < first->ord[2])
            first = d;
        }
      return asmctl_policy_fail (error, first,
                                 "its address is on bus %04x:%02x, which no "
                                 "controller provides",
                                 first->addr.domain, first->addr.bus);
    }

  if (p->deferred_video != NULL &&
      !asmctl_policy_place_next (p, p->deferred_video, error))
    return FALSE;

  /* NUMA: the buses of each node in their own locked group, every other
   * bus locked in group 0 */
  if (p->numa_aware)
    {
      for (guint32 i = 0; i < p->next_index; i++)
        {
          LvDevice *c = lv_domain_find_pci_controller (dom, i);
          guint32 group = 0;

          if (c == NULL ||
              !asm_pci_bus_set_get_controller (p->set, c->index, NULL))
            continue;
          if (c->target_node >= 0)
            group = NUMA_GROUP (c->target_node);
          else if (c->parent_index >= 0)
            {
              LvDevice *par =
                lv_domain_find_pci_controller (dom, (guint32) c->parent_index);
              if (par != NULL && par->target_node >= 0)
                group = NUMA_GROUP (par->target_node);
            }
          if (!asmctl_policy_lock_group (p, i, group, error))
            return FALSE;
        }
    }

  /* 6. the devices */
  p->order = g_ptr_array_new ();
  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);

      if (d->cat >= LV_CAT_FILESYSTEM && d->cat < LV_CAT_NONE &&
          d->flags != 0 && !d->fixed &&
          (!d->assigned || d == p->pushed_video))
        g_ptr_array_add (p->order, d);
    }
  g_ptr_array_sort (p->order, compare_devices);
  for (p->pos = 0; p->pos < p->order->len; p->pos++)
    {
      LvDevice *d = g_ptr_array_index (p->order, p->pos);
      gboolean ok;

      if (d->assigned && d != p->pushed_video)
        continue;
      ok = d->usb2_function >= 0
               ? asmctl_policy_place_usb2 (p, d, all_ctrls, error)
               : asmctl_policy_place_next (p, d, error);
      if (!ok)
        return FALSE;
    }
  p->current = NULL;

  if (counting)
    {
      /* 7. the spare root port of q35 */
      if (lv_domain_find_pci_controller (dom, 0)->pmodel ==
          ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT)
        {
          guint n = 0;

          if (p->spare >= 0)
            n = (guint) p->spare;
          else if (dom->max_pci_index == 0)
            for (guint i = 0; i < p->parked_list->len && n == 0; i++)
              /* libvirt: a new domain to which buses were added */
              n = ((Parked *) g_ptr_array_index (p->parked_list, i))->c != NULL;
          if (n > 0 && !asmctl_policy_reserve_spare (p, PCIE_AUTO, n, error))
            return FALSE;
        }
      /* the parked controllers take their slots */
      if (!asmctl_policy_plug_parked (p, error))
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
static LvDevice *
numa_expander (LvDomain *dom, int node)
{
  for (guint j = 0; j < dom->devs->len; j++)
    {
      LvDevice *c = g_ptr_array_index (dom->devs, j);

      if (c->cat == LV_CAT_PCI_CONTROLLER && c->target_node == node &&
          (c->pmodel == ASM_PCI_CONTROLLER_MODEL_PCI_EXPANDER_BUS ||
           c->pmodel == ASM_PCI_CONTROLLER_MODEL_PCIE_EXPANDER_BUS))
        return c;
    }
  return NULL;
}

/* --numa-aware: an expander bus for every node that devices name; on pc
 * also the pci-bridges behind it that its devices need beyond its 32
 * slots (a bridge takes one of them and gives 31), decided up front since
 * a full expander bus has no slot left for a bridge */
static void
plan_numa (Policy *p)
{
  LvDomain *dom = p->dom;
  gboolean q35 = dom->machine == LV_MACHINE_Q35;
  g_autoptr (GHashTable) counts = g_hash_table_new (NULL, NULL);
  guint n = dom->devs->len;

  for (guint i = 0; i < n; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);
      LvDevice *pxb;

      if (d->numa_node < 0 || d->flags == 0 || d->fixed)
        continue;
      g_hash_table_insert (
        counts, GINT_TO_POINTER (d->numa_node + 1),
        GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (
                            counts, GINT_TO_POINTER (d->numa_node + 1))) +
                          1));
      if (numa_expander (dom, d->numa_node) != NULL)
        continue;
      pxb = asmctl_policy_new_controller (
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
      LvDevice *pxb;
      guint used = 0, free_slots;

      if (g_hash_table_size (counts) == 0)
        break;
      if (k == 0)
        continue;
      g_hash_table_remove (counts, GINT_TO_POINTER (node + 1));
      pxb = numa_expander (dom, node);
      for (guint i = 0; i < dom->devs->len; i++)
        {
          LvDevice *d = g_ptr_array_index (dom->devs, i);

          if (d->fixed && d->addr.bus == pxb->index && d->addr.bus != 0)
            used++;
        }
      free_slots = used < 32 ? 32 - used : 0;
      if (k > free_slots)
        for (guint b = 0; b < (k - free_slots + 29) / 30; b++)
          asmctl_policy_new_controller (
              p, ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE, 0)
            ->parent_index = pxb->index;
    }
}

typedef struct {
  gboolean numa_aware;
  gboolean multi_domain;
  gint spare_ports;
  gboolean json;
} AssignOptions;

/* --json: every device on PCI with its address, for machines */
static void
print_json (LvDomain *dom)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "domain");
  json_builder_add_string_value (b, dom->name ? dom->name : "");
  json_builder_set_member_name (b, "devices");
  json_builder_begin_array (b);
  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);
      g_autofree char *addr = NULL;
      if (d->flags == 0 || !(d->fixed || d->assigned))
        continue;
      addr = asm_pci_addr_format (&d->addr);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "element");
      json_builder_add_string_value (b, d->tag);
      json_builder_set_member_name (b, "description");
      json_builder_add_string_value (b, d->desc);
      json_builder_set_member_name (b, "address");
      json_builder_add_string_value (b, addr);
      json_builder_set_member_name (b, "assigned");
      json_builder_add_boolean_value (b, d->assigned && !d->fixed);
      json_builder_set_member_name (b, "implicit");
      json_builder_add_boolean_value (b, d->implicit);
      if (d->ctype != NULL && strcmp (d->ctype, "pci") == 0)
        {
          json_builder_set_member_name (b, "controller_index");
          json_builder_add_int_value (b, d->index);
          json_builder_set_member_name (b, "model");
          json_builder_add_string_value (b, d->cmodel ? d->cmodel : "");
        }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
}

/* assigns every missing address of @dom, libvirt's way */
static gboolean
policy_assign (LvDomain *dom, const AssignOptions *opts, GError **error)
{
  Policy p = { 0 };
  gboolean ok;

  p.dom = dom;
  p.numa_aware = opts->numa_aware;
  p.spare = opts->spare_ports;
  p.roots = g_array_new (FALSE, FALSE, sizeof (guint32));

  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *c = g_ptr_array_index (dom->devs, i);

      if (c->cat != LV_CAT_PCI_CONTROLLER)
        continue;
      p.next_index = MAX (p.next_index, c->index + 1);
      if (!asm_pci_controller_model_is_root (c->pmodel))
        continue;
      if (c->index != 0 && !opts->multi_domain)
        {
          g_array_unref (p.roots);
          return asmctl_policy_fail (
            error, c,
            "pci-root and pcie-root controllers should have index 0 "
            "(a root controller with index N > 0 as PCI domain N needs "
            "--multi-domain)");
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
    if (lv_domain_find_pci_controller (dom, i) == NULL)
      {
        guint32 d = asmctl_policy_domain_for (&p, i);
        LvDevice *root = lv_domain_find_pci_controller (dom, d);
        LvDevice *c = lv_domain_add_pci_controller (
          dom, i,
          root->pmodel == ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT
            ? ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT
            : ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE);

        c->grow_domain = d;
      }
  if (opts->numa_aware)
    plan_numa (&p);

  /* libvirt's dry run, then the real pass */
  ok = pass_run (&p, TRUE, error) && pass_run (&p, FALSE, error);
  /* a growth batch may have run past libvirt's last index */
  for (guint i = 0; ok && i < dom->devs->len; i++)
    {
      LvDevice *c = g_ptr_array_index (dom->devs, i);

      if (c->cat == LV_CAT_PCI_CONTROLLER && c->index > LV_PCI_INDEX_MAX)
        ok = asmctl_policy_fail (error, c,
                                 "no PCI slot is left: this controller "
                                 "would need index %u, above the maximum of "
                                 "%u",
                                 c->index, LV_PCI_INDEX_MAX);
    }
  policy_clear (&p);
  return ok;
}

/* ------------------------------------------------------------------ */
/* Commands                                                             */

static int
exit_for (const GError *error)
{
  return g_error_matches (error, ASM_ERROR, ASM_ERROR_FAILED)
           ? ASMCTL_EXIT_FAILED
           : ASMCTL_EXIT_INPUT;
}

static int
run (const char *cmd, const char *input, const char *device_file,
     const char *output, const AssignOptions *opts)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LvDomain) dom = NULL;
  xmlDocPtr doc;

  doc = lv_doc_read (input, &error);
  if (doc == NULL)
    {
      fprintf (stderr, "asmctl pci %s: %s\n", cmd, error->message);
      return ASMCTL_EXIT_INPUT;
    }
  if (device_file != NULL)
    {
      xmlDocPtr ddoc = lv_doc_read (device_file, &error);
      gboolean ok;

      if (ddoc == NULL)
        {
          xmlFreeDoc (doc);
          fprintf (stderr, "asmctl pci %s: %s\n", cmd, error->message);
          return ASMCTL_EXIT_INPUT;
        }
      ok = strcmp (cmd, "attach") == 0
             ? lv_doc_attach (doc, xmlDocGetRootElement (ddoc), &error)
             : lv_doc_detach (doc, xmlDocGetRootElement (ddoc), &error);
      xmlFreeDoc (ddoc);
      if (!ok)
        {
          xmlFreeDoc (doc);
          fprintf (stderr, "asmctl pci %s: %s: %s\n", cmd, device_file,
                   error->message);
          return ASMCTL_EXIT_INPUT;
        }
    }
  dom = lv_domain_new (doc, input, &error);
  if (dom == NULL)
    {
      fprintf (stderr, "asmctl pci %s: %s: %s\n", cmd, input, error->message);
      return ASMCTL_EXIT_INPUT;
    }
  if (strcmp (cmd, "detach") == 0)
    {
      /* the other devices keep their addresses: the document is written
       * as it is */
      if (!lv_doc_write (dom->doc, dom->had_decl, output, &error))
        {
          fprintf (stderr, "asmctl pci %s: %s\n", cmd, error->message);
          return ASMCTL_EXIT_FAILED;
        }
      return ASMCTL_EXIT_OK;
    }
  if (!policy_assign (dom, opts, &error))
    {
      fprintf (stderr, "asmctl pci %s: %s: %s\n", cmd, input, error->message);
      return exit_for (error);
    }
  if (opts->json && output == NULL)
    {
      print_json (dom);
      return ASMCTL_EXIT_OK;
    }
  if (!lv_domain_write (dom, output, &error))
    {
      fprintf (stderr, "asmctl pci %s: %s\n", cmd, error->message);
      return ASMCTL_EXIT_FAILED;
    }
  if (opts->json)
    print_json (dom);
  return ASMCTL_EXIT_OK;
}

static int
command (int argc, char **argv, const char *cmd, gboolean needs_device)
{
  g_autofree char *output = NULL;
  gboolean numa = FALSE, json = FALSE, multi = FALSE;
  gint spare = -1;
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) ctx = NULL;
  AssignOptions opts;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      "Write the domain XML to OUT (default: standard output)", "OUT" },
    { "numa-aware", 0, 0, G_OPTION_ARG_NONE, &numa,
      "Place devices that name a NUMA node behind an expander bus of that "
      "node", NULL },
    { "multi-domain", 0, 0, G_OPTION_ARG_NONE, &multi,
      "Accept root controllers (pci-root, pcie-root) with an index N > 0, "
      "each PCI domain N (libvirt refuses them)",
      NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      "Print every PCI device with its address as JSON (instead of the XML "
      "on standard output; with -o, in addition to writing OUT)", NULL },
    { "spare-ports", 0, 0, G_OPTION_ARG_INT, &spare,
      "Keep N empty hotplug root ports (q35) or slots (pc) instead of "
      "libvirt's one",
      "N" },
    { NULL }
  };
  g_autofree char *param = needs_device ? g_strdup ("DOMAIN.xml DEVICE.xml")
                                        : g_strdup ("DOMAIN.xml");
  g_autofree char *prog = g_strdup_printf ("pci %s", cmd);

  ctx = g_option_context_new (param);
  {
    g_autofree char *full = g_strdup_printf ("asmctl %s", prog);

    g_set_prgname (full);
  }
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (strcmp (cmd, "assign") == 0)
    g_option_context_set_summary (
      ctx, "Assigns every missing PCI address of a libvirt domain XML (x86_64 "
           "pc or q35)\nas libvirt 9.0 does, adding the controllers libvirt "
           "would add.\nExit codes: 0 done, 1 the output could not be "
           "written, 2 a bad command line,\n3 bad input (XML, models, "
           "addresses, impossible placements).");
  else if (strcmp (cmd, "attach") == 0)
    g_option_context_set_summary (
      ctx, "Adds the device of DEVICE.xml to the domain and assigns its "
           "address, as\n`virsh attach-device --config` does.");
  else
    g_option_context_set_summary (
      ctx, "Removes the device of DEVICE.xml from the domain, as\n"
           "`virsh detach-device --config` does; its address becomes free.");
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "asmctl %s: %s\n", prog, error->message);
      return ASMCTL_EXIT_USAGE;
    }
  if (argc != (needs_device ? 3 : 2) || spare < -1)
    {
      g_autofree char *help = g_option_context_get_help (ctx, TRUE, NULL);

      fprintf (stderr, "asmctl %s: %s\n\n%s", prog,
               spare < -1 ? "--spare-ports must be 0 or more"
                          : "wrong number of arguments",
               help);
      return ASMCTL_EXIT_USAGE;
    }
  opts.numa_aware = numa;
  opts.multi_domain = multi;
  opts.spare_ports = spare;
  opts.json = json;
  return run (cmd, argv[1], needs_device ? argv[2] : NULL, output, &opts);
}

int
asmctl_cmd_pci_assign (int argc, char **argv)
{
  return command (argc, argv, "assign", FALSE);
}

int
asmctl_cmd_pci_attach (int argc, char **argv)
{
  return command (argc, argv, "attach", TRUE);
}

int
asmctl_cmd_pci_detach (int argc, char **argv)
{
  return command (argc, argv, "detach", TRUE);
}
