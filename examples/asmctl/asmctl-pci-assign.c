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
 *      at 00:1b;
 *   4. (dry run, pc) one spare slot so that a pci-bridge can always be
 *      added later;
 *   5. the PCI controllers without an address, in libvirt's list order:
 *      those of the input by index, then those the policy added;
 *   6. the other devices by libvirt's categories (filesystems, nets,
 *      sounds, other controllers, disks, host devices, memballoon, rngs,
 *      watchdogs, videos, shmem, inputs, serials, iommu, vsock, memory,
 *      crypto, panic), each the next free address for its connect flags;
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
 * (policy_grow) makes libvirt's decision (virDomainPCIAddressSetGrow: a
 * conventional PCI device gets a pci-bridge, or on a pure PCIe topology a
 * pcie-root-port with a pcie-to-pci-bridge; a PCIe device gets a
 * pcie-root-port; anything else cannot grow) and "parks" each new bus: a
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
 * Beyond libvirt:
 *   - several PCI domains: a root controller with index N > 0 establishes
 *     domain N (the bus set's mapping); a controller without an address
 *     goes to the domain of the highest root index below its own;
 *   - --numa-aware: a device naming a NUMA node (<asm:numa node='N'/> in
 *     the namespace urn:x-asm:libvirt, or a virtio-mem/pmem target node) is
 *     placed behind an expander bus of that node (added when missing), in
 *     its own isolation group, locked, with root ports (q35) or
 *     pci-bridges (pc) grown behind that expander bus;
 *   - --spare-ports N: N empty hotplug root ports on q35 (N spare slots on
 *     pc) instead of libvirt's one, on every domain, not only new ones.
 *
 * Cost: two passes, each O(d log n) for d devices on the bus set, plus
 * O(b) per growth for b buses (libvirt's decision looks at every bus).
 */
#include "asmctl-libvirt.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define PCI_AUTO (ASM_PCI_CONNECT_TYPE_PCI_DEVICE | ASM_PCI_CONNECT_AUTOASSIGN)
#define PCIE_AUTO                                                              \
  (ASM_PCI_CONNECT_TYPE_PCIE_DEVICE | ASM_PCI_CONNECT_AUTOASSIGN)
#define NUMA_GROUP(node) ((guint32) (node) + 1)
/* isolation groups of the dry run's parking roots and of the root port
 * that libvirt reserves for a pcie-to-pci-bridge */
#define PARK_GROUP G_MAXUINT32
#define SPECIAL_GROUP (G_MAXUINT32 - 1)

/* a bus of the dry run that is plugged in nowhere yet */
typedef struct {
  LvDevice *c;           /* its controller (real index); NULL while a
                            speculative bus is unused */
  AsmPciControllerModel model;
  guint32 root;          /* its parking domain (= root index) */
  guint32 index;         /* its index in the dry run */
  gboolean plug;         /* plug it in at the end (no address of its own) */
  gboolean special;      /* accepts only a pcie-to-pci-bridge */
} Parked;

typedef struct {
  LvDomain *dom;
  gboolean numa_aware;
  gint spare;               /* -1: libvirt's rule; else that many */

  /* per pass */
  gboolean counting;        /* libvirt's dry run */
  AsmPciBusSet *set;
  GHashTable *owner;        /* "dddd:bb:ss.f" -> description */
  GHashTable *pending_devs; /* real bus key -> GPtrArray of fixed devices */
  GPtrArray *pending_ctrls; /* fixed non-root PCI controllers */
  GPtrArray *order;         /* devices to place, libvirt's order */
  guint pos;
  LvDevice *current;        /* the device being placed */
  GHashTable *parked;       /* real bus key -> Parked (dry run) */
  GPtrArray *parked_list;   /* Parked*, in the order they were made */
  guint32 park_next;        /* the next parking domain */
  guint32 park_base;        /* the first one */
  GHashTable *park_domains; /* parking domain -> Parked */
  guint spec_batch;         /* buses to grow at the next growth */
  gboolean fatal;           /* growth is impossible: its error stands */
  LvDevice *deferred_video; /* the primary video, placed after step 5 */

  guint32 next_index;       /* the next free controller index */
  GArray *roots;            /* guint32 root indexes, ascending */
} Policy;

static gboolean
fail (GError **error, LvDevice *dev, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
fail (GError **error, LvDevice *dev, const char *fmt, ...)
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

static guint64
bus_key (guint32 domain, guint32 bus)
{
  return (guint64) domain << 32 | bus;
}

static void
own (Policy *p, const AsmPciAddr *a, const char *desc)
{
  g_hash_table_insert (p->owner, lv_addr_format (a), (gpointer) desc);
}

/* the error of a failed reservation at @a (named by its real address
 * @shown), naming the device that holds it when it is in use */
static gboolean
reserve_error (Policy *p, LvDevice *dev, const char *what,
               const AsmPciAddr *shown, GError *err, GError **error)
{
  g_autofree char *s = lv_addr_format (shown);
  const char *other = g_hash_table_lookup (p->owner, s);
  gboolean r;

  if (g_error_matches (err, ASM_ERROR, ASM_ERROR_IN_USE) && other != NULL)
    r = fail (error, NULL, "two devices at one PCI address %s: %s and %s", s,
              other, dev != NULL ? dev->desc : what);
  else if (dev != NULL)
    r = fail (error, dev, "PCI address %s: %s", s, err->message);
  else
    r = fail (error, NULL, "%s at %s: %s", what, s, err->message);
  g_error_free (err);
  return r;
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

static int
compare_parked (gconstpointer a, gconstpointer b)
{
  const Parked *x = *(Parked *const *) a;
  const Parked *y = *(Parked *const *) b;

  return x->c->index < y->c->index ? -1 : x->c->index > y->c->index;
}

/* the domain an unaddressed controller of @index joins: that of the
 * highest root index below it */
static guint32
domain_for (Policy *p, guint32 index)
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
static guint32
domain_of (Policy *p, LvDevice *c)
{
  return c->implicit ? c->grow_domain : domain_for (p, c->index);
}

static gboolean
is_placed (Policy *p, LvDevice *c)
{
  if (p->counting && c->cat == LV_CAT_PCI_CONTROLLER && !c->fixed &&
      g_hash_table_contains (p->parked, &(guint64) { bus_key (
                                          domain_of (p, c), c->index) }))
    return TRUE;
  return asm_pci_bus_set_get_controller (p->set, c->index, NULL);
}

/* an address of the XML as the dry run's set knows it (a parked bus lives
 * in its parking domain) */
static AsmPciAddr
translate (Policy *p, const AsmPciAddr *a)
{
  AsmPciAddr t = *a;
  guint64 key = bus_key (a->domain, a->bus);
  Parked *pk;

  if (p->parked != NULL &&
      (pk = g_hash_table_lookup (p->parked, &key)) != NULL)
    {
      t.domain = pk->root;
      t.bus = pk->index;
    }
  return t;
}

static gboolean
slot_in_use (Policy *p, guint32 domain, guint32 bus, guint8 slot)
{
  for (guint8 f = 0; f <= ASM_PCI_FUNCTION_LAST; f++)
    {
      AsmPciAddr a = { domain, bus, slot, f };

      if (asm_pci_bus_set_is_reserved (p->set, &a))
        return TRUE;
    }
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* Step 2: the addresses of the XML                                    */

static gboolean reserve_fixed_on_bus (Policy *p, guint32 domain, guint32 bus,
                                      GError **error);
static gboolean park (Policy *p, LvDevice *c, gboolean plug,
                      GError **error);

static gboolean
after_controller_added (Policy *p, LvDevice *c, GError **error)
{
  AsmPciControllerInfo info;

  ASMCTL_MUST (asm_pci_bus_set_get_controller (p->set, c->index, &info));
  if (!info.is_root)
    own (p, &info.plugged_at, c->desc);
  if (c->hotplug_off && (info.accepts & ASM_PCI_CONNECT_HOTPLUGGABLE) &&
      !asm_pci_bus_set_set_hotplug (p->set, c->index, FALSE, error))
    return FALSE;
  return reserve_fixed_on_bus (p, info.domain, info.bus, error);
}

/* adds the fixed controllers whose parent bus now exists, and what sits
 * on their buses, until nothing changes */
static gboolean
settle (Policy *p, GError **error)
{
  gboolean progress = TRUE;

  while (progress)
    {
      progress = FALSE;
      for (guint i = 0; i < p->pending_ctrls->len; i++)
        {
          LvDevice *c = g_ptr_array_index (p->pending_ctrls, i);
          AsmPciAddr t = translate (p, &c->addr);
          GError *err = NULL;

          if (!asm_pci_bus_set_find_controller (p->set, t.domain, t.bus, NULL))
            continue;
          g_ptr_array_remove_index (p->pending_ctrls, i);
          if (t.domain != c->addr.domain || t.bus != c->addr.bus)
            {
              /* behind a parked bus (dry run): its slot is taken there, its
               * own bus is parked too */
              if (!asm_pci_bus_set_reserve_addr (p->set, &t, c->flags, TRUE,
                                                 &err))
                return reserve_error (p, c, NULL, &c->addr, err, error);
              own (p, &c->addr, c->desc);
              if (!park (p, c, FALSE, error))
                return FALSE;
            }
          else
            {
              if (!asm_pci_bus_set_add_controller (p->set, c->index,
                                                   c->pmodel, &c->addr, &err))
                return reserve_error (p, c, NULL, &c->addr, err, error);
              if (!after_controller_added (p, c, error))
                return FALSE;
            }
          progress = TRUE;
          break;
        }
    }
  return TRUE;
}

/* reserves the fixed devices on the real bus (@domain, @bus), wherever
 * the set keeps it */
static gboolean
reserve_fixed_on_real_bus (Policy *p, guint32 domain, guint32 bus,
                           GError **error)
{
  guint64 key = bus_key (domain, bus);
  GPtrArray *list = g_hash_table_lookup (p->pending_devs, &key);

  if (list == NULL)
    return TRUE;
  for (guint i = 0; i < list->len; i++)
    {
      LvDevice *d = g_ptr_array_index (list, i);
      AsmPciAddr t = translate (p, &d->addr);
      GError *err = NULL;

      if (!asm_pci_bus_set_reserve_addr (p->set, &t, d->flags, TRUE, &err))
        return reserve_error (p, d, NULL, &d->addr, err, error);
      own (p, &d->addr, d->desc);
    }
  g_hash_table_remove (p->pending_devs, &key);
  return TRUE;
}

static gboolean
reserve_fixed_on_bus (Policy *p, guint32 domain, guint32 bus, GError **error)
{
  return reserve_fixed_on_real_bus (p, domain, bus, error);
}

static void
collect_fixed (Policy *p)
{
  LvDomain *dom = p->dom;

  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);

      if (!d->fixed)
        continue;
      if (d->cat == LV_CAT_PCI_CONTROLLER)
        g_ptr_array_add (p->pending_ctrls, d);
      else if (d->role == LV_ROLE_PIIX3_IDE || d->role == LV_ROLE_PIIX3_USB ||
               d->role == LV_ROLE_Q35_SATA)
        continue; /* checked by the chipset step */
      else
        {
          guint64 key = bus_key (d->addr.domain, d->addr.bus);
          GPtrArray *list = g_hash_table_lookup (p->pending_devs, &key);

          if (list == NULL)
            {
              guint64 *k = g_new (guint64, 1);

              *k = key;
              list = g_ptr_array_new ();
              g_hash_table_insert (p->pending_devs, k, list);
            }
          g_ptr_array_add (list, d);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Step 3: the chipset                                                  */

static gboolean
reserve_builtin (Policy *p, guint8 slot, guint8 function,
                 AsmPciConnectFlags flags, const char *what, GError **error)
{
  AsmPciAddr a = { 0, 0, slot, function };
  GError *err = NULL;

  if (!asm_pci_bus_set_reserve_addr (p->set, &a, flags, TRUE, &err))
    return reserve_error (p, NULL, what, &a, err, error);
  own (p, &a, what);
  return TRUE;
}

/* a device at a place the chipset step chose */
static gboolean
put_at (Policy *p, LvDevice *d, guint8 slot, guint8 function,
        AsmPciConnectFlags flags, GError **error)
{
  AsmPciAddr a = { 0, 0, slot, function };
  GError *err = NULL;

  if (!asm_pci_bus_set_reserve_addr (p->set, &a, flags, TRUE, &err))
    return reserve_error (p, d, NULL, &a, err, error);
  own (p, &a, d->desc);
  d->addr = a;
  d->assigned = TRUE;
  return TRUE;
}

static gboolean place_next (Policy *p, LvDevice *d, GError **error);

static gboolean
place_primary_video (Policy *p, guint8 slot, AsmPciConnectFlags flags,
                     GError **error)
{
  LvDomain *dom = p->dom;

  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *v = g_ptr_array_index (dom->devs, i);

      if (v->cat != LV_CAT_VIDEO || !v->primary_video)
        continue;
      if (v->flags == 0 || v->fixed)
        return TRUE;
      if (!slot_in_use (p, 0, 0, slot))
        return put_at (p, v, slot, 0, flags, error);
      /* the next free address; in the real pass libvirt also sees the
       * buses of the controllers it has yet to plug in: when no plugged
       * bus has room, wait for them */
      if (p->counting)
        return place_next (p, v, error);
      if (asm_pci_bus_set_reserve_next (p->set, v->flags, &v->addr, NULL))
        {
          own (p, &v->addr, v->desc);
          v->assigned = TRUE;
        }
      else
        p->deferred_video = v;
      return TRUE;
    }
  return TRUE;
}

static int
compare_list_order (gconstpointer a, gconstpointer b)
{
  const LvDevice *x = *(LvDevice *const *) a;
  const LvDevice *y = *(LvDevice *const *) b;

  for (guint i = 0; i < 3; i++)
    if (x->ord[i] != y->ord[i])
      return x->ord[i] < y->ord[i] ? -1 : 1;
  return 0;
}

/* every controller, in libvirt's list order (def->controllers) */
static GPtrArray *
controllers_in_order (LvDomain *dom)
{
  GPtrArray *list = g_ptr_array_new ();

  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *c = g_ptr_array_index (dom->devs, i);

      if (c->ctype != NULL)
        g_ptr_array_add (list, c);
    }
  g_ptr_array_sort (list, compare_list_order);
  return list;
}

static gboolean
chipset_pc (Policy *p, GError **error)
{
  g_autoptr (GPtrArray) ctrls = controllers_in_order (p->dom);

  for (guint i = 0; i < ctrls->len; i++)
    {
      LvDevice *c = g_ptr_array_index (ctrls, i);
      guint8 fn;

      if (c->role == LV_ROLE_PIIX3_IDE)
        fn = 1;
      else if (c->role == LV_ROLE_PIIX3_USB)
        fn = 2;
      else
        continue;
      if (c->fixed && !(c->addr.domain == 0 && c->addr.bus == 0 &&
                        c->addr.slot == 1 && c->addr.function == fn))
        return fail (error, c, "the %s controller must have PCI address "
                     "0000:00:01.%u",
                     fn == 1 ? "primary IDE" : "PIIX3 USB", fn);
      if (!put_at (p, c, 1, fn, PCI_AUTO, error))
        return FALSE;
      if (c->fixed)
        c->assigned = FALSE;
    }
  if (!reserve_builtin (p, 1, 0, PCI_AUTO, "the PIIX3 ISA bridge (built in)",
                        error) ||
      !reserve_builtin (p, 1, 3, PCI_AUTO,
                        "the PIIX3 power management function (built in)",
                        error))
    return FALSE;
  return place_primary_video (p, 2, PCI_AUTO, error);
}

static gboolean
chipset_q35 (Policy *p, GError **error)
{
  LvDomain *dom = p->dom;
  const AsmPciConnectFlags pcie = ASM_PCI_CONNECT_TYPE_PCIE_DEVICE;
  g_autoptr (GPtrArray) ctrls = controllers_in_order (dom);

  for (guint i = 0; i < ctrls->len; i++)
    {
      LvDevice *c = g_ptr_array_index (ctrls, i);

      if (c->role == LV_ROLE_Q35_SATA)
        {
          if (c->fixed && !(c->addr.domain == 0 && c->addr.bus == 0 &&
                            c->addr.slot == 0x1f && c->addr.function == 2))
            return fail (error, c, "the primary SATA controller must have "
                         "PCI address 0000:00:1f.2");
          if (!put_at (p, c, 0x1f, 2, c->flags, error))
            return FALSE;
          if (c->fixed)
            c->assigned = FALSE;
        }
      else if (c->role == LV_ROLE_Q35_USB_UHCI1 && !c->fixed)
        {
          guint8 slot = 0x1d;

          if (slot_in_use (p, 0, 0, slot))
            slot = 0x1a;
          if (slot_in_use (p, 0, 0, slot))
            continue;
          if (!put_at (p, c, slot, 0, pcie, error))
            return FALSE;
          c->multi = LV_MULTI_ON;
        }
      else if (c->cat == LV_CAT_PCI_CONTROLLER && !c->fixed &&
               c->pmodel == ASM_PCI_CONTROLLER_MODEL_DMI_TO_PCI_BRIDGE &&
               !slot_in_use (p, 0, 0, 0x1e))
        {
          AsmPciAddr a = { 0, 0, 0x1e, 0 };
          GError *err = NULL;

          if (!asm_pci_bus_set_add_controller (p->set, c->index, c->pmodel, &a,
                                               &err))
            return reserve_error (p, c, NULL, &a, err, error);
          if (!after_controller_added (p, c, error))
            return FALSE;
        }
    }
  if (!reserve_builtin (p, 0x1f, 0, pcie,
                        "the ICH9 LPC/ISA bridge (built in)", error) ||
      !reserve_builtin (p, 0x1f, 3, pcie, "the ICH9 SMBus (built in)", error))
    return FALSE;
  if (!place_primary_video (p, 1, pcie, error))
    return FALSE;
  if (!slot_in_use (p, 0, 0, 0x1b))
    for (guint i = 0; i < dom->devs->len; i++)
      {
        LvDevice *s = g_ptr_array_index (dom->devs, i);

        if (s->role == LV_ROLE_Q35_ICH9_SOUND && !s->fixed)
          {
            if (!put_at (p, s, 0x1b, 0, pcie, error))
              return FALSE;
            break;
          }
      }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Parking (the dry run's buses that are plugged in nowhere yet)        */

/* the model of a parking root that takes a controller of @model */
static gboolean
park_root_model (AsmPciControllerModel model, AsmPciControllerModel *out)
{
  AsmPciConnectFlags f = asm_pci_controller_model_get_connect_flags (model);

  if (f & asm_pci_controller_model_get_bus_flags (
             ASM_PCI_CONTROLLER_MODEL_PCI_ROOT, TRUE, NULL, NULL) &
      ASM_PCI_CONNECT_TYPES_MASK)
    *out = ASM_PCI_CONTROLLER_MODEL_PCI_ROOT;
  else if (f & asm_pci_controller_model_get_bus_flags (
                  ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT, TRUE, NULL, NULL) &
           ASM_PCI_CONNECT_TYPES_MASK)
    *out = ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT;
  else
    return FALSE;
  return TRUE;
}

static gboolean
lock_group (Policy *p, guint32 index, guint32 group, GError **error)
{
  return asm_pci_bus_set_set_isolation_group (p->set, index, group, TRUE,
                                              error);
}

/* a parking domain: its root, locked away from every device */
static gboolean
park_domain (Policy *p, AsmPciControllerModel root_model, guint32 *out,
             GError **error)
{
  guint32 q = p->park_next;

  if (q + 3 > ASM_PCI_DOMAIN_LAST)
    return fail (error, NULL, "too many PCI controllers to add (the dry run "
                 "ran out of PCI domains)");
  p->park_next += 4;
  if (!asm_pci_bus_set_add_controller (p->set, q, root_model, NULL, error) ||
      !lock_group (p, q, PARK_GROUP, error))
    return FALSE;
  *out = q;
  return TRUE;
}

/* plugs controller @index of @model in at (@q, @bus, 0 or 1) */
static gboolean
park_plug (Policy *p, guint32 q, guint32 bus, guint32 index,
           AsmPciControllerModel model, GError **error)
{
  AsmPciControllerInfo info;
  AsmPciAddr a;

  ASMCTL_MUST (asm_pci_bus_set_get_controller (p->set, bus == 0 ? q : bus, &info));
  a.domain = q;
  a.bus = bus;
  a.slot = info.min_slot;
  a.function = 0;
  if (!asm_pci_bus_set_add_controller (p->set, index, model, &a, error))
    return FALSE;
  /* a reservation from configuration resets a locked group: lock again */
  return lock_group (p, bus == 0 ? q : bus, PARK_GROUP, error);
}

/* parks a bus of @model: a new parking domain with the controller in it.
 * @c: its controller, or NULL for a speculative bus (it gets one when a
 * device first uses it).  @plug: plug it in at the end of the dry run. */
static Parked *
park_bus (Policy *p, AsmPciControllerModel model, LvDevice *c, gboolean plug,
          GError **error)
{
  Parked *pk = g_new0 (Parked, 1);
  AsmPciControllerModel rm;
  guint32 q;

  pk->c = c;
  pk->model = model;
  pk->plug = plug;
  g_ptr_array_add (p->parked_list, pk);
  if (model == ASM_PCI_CONTROLLER_MODEL_PCIE_TO_PCI_BRIDGE ||
      model == ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_DOWNSTREAM_PORT)
    {
      /* needs a port (or an upstream port) to sit in: a locked one */
      AsmPciControllerModel holder =
        model == ASM_PCI_CONTROLLER_MODEL_PCIE_TO_PCI_BRIDGE
          ? ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT
          : ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_UPSTREAM_PORT;

      if (!park_domain (p, ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT, &q, error) ||
          !park_plug (p, q, 0, q + 1, holder, error) ||
          !lock_group (p, q + 1, PARK_GROUP, error) ||
          !park_plug (p, q, q + 1, q + 2, model, error))
        return NULL;
      pk->index = q + 2;
    }
  else
    {
      if (!park_root_model (model, &rm))
        {
          fail (error, c, "cannot plan a bus for a %s",
                asm_pci_controller_model_to_string (model));
          return NULL;
        }
      if (!park_domain (p, rm, &q, error) ||
          !park_plug (p, q, 0, q + 1, model, error))
        return NULL;
      pk->index = q + 1;
    }
  pk->root = q;
  g_hash_table_insert (p->park_domains, GUINT_TO_POINTER (q), pk);
  /* with --numa-aware every bus but a node's is locked in group 0 */
  if (p->numa_aware && !lock_group (p, pk->index, 0, error))
    return NULL;
  return pk;
}

/* registers the real bus of a parked controller; reserves what the XML
 * puts on it */
static gboolean
park_register (Policy *p, Parked *pk, GError **error)
{
  LvDevice *c = pk->c;
  guint64 *key = g_new (guint64, 1);
  guint32 real_domain = c->fixed ? c->addr.domain : domain_of (p, c);

  *key = bus_key (real_domain, c->index);
  g_hash_table_insert (p->parked, key, pk);
  if (c->hotplug_off &&
      !asm_pci_bus_set_set_hotplug (p->set, pk->index, FALSE, error))
    return FALSE;
  return reserve_fixed_on_real_bus (p, real_domain, c->index, error) &&
         settle (p, error);
}

/* parks the bus of @c */
static gboolean
park (Policy *p, LvDevice *c, gboolean plug, GError **error)
{
  Parked *pk = park_bus (p, c->pmodel, c, plug, error);

  return pk != NULL && park_register (p, pk, error);
}

/* a device was placed at @a: if that is the first use of a speculative
 * bus, the bus becomes a controller (libvirt would have grown it now) */
static void
note_use (Policy *p, const AsmPciAddr *a)
{
  Parked *pk;

  if (!p->counting || a->domain < p->park_base)
    return;
  pk = g_hash_table_lookup (p->park_domains, GUINT_TO_POINTER (a->domain));
  if (pk == NULL || pk->c != NULL)
    return;
  pk->c = lv_domain_add_pci_controller (p->dom, p->next_index++, pk->model);
  pk->c->grow_domain = 0;
  pk->plug = TRUE;
  park_register (p, pk, NULL);
}

/* at the end of the dry run: every parked controller without an address
 * takes the next free slot for its connect flags, in index order; there
 * is no growth for a controller */
static gboolean
plug_parked (Policy *p, GError **error)
{
  g_autoptr (GPtrArray) list = g_ptr_array_sized_new (p->parked_list->len);

  for (guint i = 0; i < p->parked_list->len; i++)
    {
      Parked *pk = g_ptr_array_index (p->parked_list, i);

      if (pk->c != NULL)
        g_ptr_array_add (list, pk);
      else if (!lock_group (p, pk->index, PARK_GROUP, error))
        return FALSE; /* an unused speculative bus: it takes nothing */
    }

  asm_pci_bus_set_set_grow_func (p->set, NULL, NULL, NULL);
  for (guint i = 0; i < list->len; i++)
    {
      Parked *pk = g_ptr_array_index (list, i);

      if (pk->special &&
          !asm_pci_bus_set_set_isolation_group (p->set, pk->index, 0, FALSE,
                                                error))
        return FALSE;
    }
  g_ptr_array_sort (list, compare_parked);
  for (guint i = 0; i < list->len; i++)
    {
      Parked *pk = g_ptr_array_index (list, i);

      if (!pk->plug)
        continue;
      if (!asm_pci_bus_set_reserve_next (p->set, pk->c->flags, NULL, NULL))
        return fail (error, pk->c,
                     "a PCI slot is needed to connect a PCI controller "
                     "model='%s', but none is available, and it cannot be "
                     "automatically added",
                     pk->c->cmodel);
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Growth                                                               */

/* the lowest place on the bus of controller @parent for a controller of
 * @model, by the bus set's rule: an empty slot's function 0, or for
 * aggregating models the lowest free function of an aggregate slot */
static gboolean
next_on_bus (Policy *p, guint32 parent, AsmPciControllerModel model,
             AsmPciAddr *out)
{
  AsmPciControllerInfo info;
  gboolean agg = (asm_pci_controller_model_get_connect_flags (model) &
                  ASM_PCI_CONNECT_AGGREGATE_SLOT) != 0;

  if (!asm_pci_bus_set_get_controller (p->set, parent, &info))
    return FALSE;
  for (guint s = info.min_slot; s <= info.max_slot; s++)
    {
      AsmPciAddr a = { info.domain, info.bus, (guint8) s, 0 };

      if (!slot_in_use (p, info.domain, info.bus, (guint8) s))
        {
          *out = a;
          return TRUE;
        }
      if (agg && asm_pci_bus_set_is_aggregate_slot (p->set, &a))
        for (guint8 f = 0; f <= ASM_PCI_FUNCTION_LAST; f++)
          {
            a.function = f;
            if (!asm_pci_bus_set_is_reserved (p->set, &a))
              {
                *out = a;
                return TRUE;
              }
          }
    }
  return FALSE;
}

/* plugs a controller without an address in: behind its given parent, in
 * its domain, or in any domain (ascending) */
static gboolean
plug_controller (Policy *p, LvDevice *c, GError **error)
{
  GError *err = NULL;
  guint32 first;

  if (c->parent_index >= 0)
    {
      AsmPciAddr a;

      if (!next_on_bus (p, (guint32) c->parent_index, c->pmodel, &a))
        return fail (error, c, "no free slot behind controller %"
                     G_GINT64_FORMAT " for it", c->parent_index);
      if (!asm_pci_bus_set_add_controller (p->set, c->index, c->pmodel, &a,
                                           &err))
        return reserve_error (p, c, NULL, &a, err, error);
      return after_controller_added (p, c, error);
    }
  first = domain_of (p, c);
  if (asm_pci_bus_set_add_controller_next (p->set, c->index, c->pmodel, first,
                                           NULL, &err))
    return after_controller_added (p, c, error);
  if (!g_error_matches (err, ASM_ERROR, ASM_ERROR_NO_SPACE))
    {
      fail (error, c, "%s", err->message);
      g_error_free (err);
      return FALSE;
    }
  g_clear_error (&err);
  for (guint i = 0; i < p->roots->len; i++)
    {
      guint32 d = g_array_index (p->roots, guint32, i);

      if (d == first || d >= c->index)
        continue;
      if (asm_pci_bus_set_add_controller_next (p->set, c->index, c->pmodel, d,
                                               NULL, NULL))
        {
          c->grow_domain = d;
          return after_controller_added (p, c, error);
        }
    }
  {
    /* libvirt would also look at the buses of higher indexes */
    AsmPciConnectFlags type = c->flags & ASM_PCI_CONNECT_TYPES_MASK;
    gboolean higher = FALSE;

    for (guint i = 0; i < p->dom->devs->len && !higher; i++)
      {
        LvDevice *o = g_ptr_array_index (p->dom->devs, i);

        higher = o->cat == LV_CAT_PCI_CONTROLLER && o->index > c->index &&
                 (asm_pci_controller_model_get_bus_flags (o->pmodel, TRUE,
                                                          NULL, NULL) &
                  type) != 0;
      }
    return fail (error, c,
                 "a PCI slot is needed to connect a PCI controller "
                 "model='%s', but none is available, and it cannot be "
                 "automatically added%s",
                 c->cmodel,
                 higher ? " (a controller without an address plugs into a "
                          "bus of a lower index only)"
                        : "");
  }
}

/* a controller the policy adds, with the next index */
static LvDevice *
new_controller (Policy *p, AsmPciControllerModel model, guint32 domain)
{
  LvDevice *c = lv_domain_add_pci_controller (p->dom, p->next_index++, model);

  c->grow_domain = domain;
  return c;
}

/* does any bus (real or parked, not a parking root) accept @type? */
static gboolean
any_bus_accepts (Policy *p, AsmPciConnectFlags type)
{
  AsmPciControllerInfo info;

  for (guint32 i = 0; i < p->next_index; i++)
    if (asm_pci_bus_set_get_controller (p->set, i, &info) &&
        (info.accepts & type))
      return TRUE;
  for (guint i = 0; i < p->parked_list->len; i++)
    {
      Parked *pk = g_ptr_array_index (p->parked_list, i);

      if (pk->c != NULL &&
          asm_pci_bus_set_get_controller (p->set, pk->index, &info) &&
          (info.accepts & type))
        return TRUE;
    }
  return FALSE;
}

static gboolean
grow_numa (Policy *p, int node, GError **error)
{
  LvDomain *dom = p->dom;
  gboolean q35 = dom->machine == LV_MACHINE_Q35;
  AsmPciControllerModel model = q35 ? ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT
                                    : ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE;
  LvDevice *pxb = NULL, *c;
  AsmPciAddr a;
  GError *err = NULL;

  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);

      if (d->cat == LV_CAT_PCI_CONTROLLER && d->target_node == node &&
          (d->pmodel == ASM_PCI_CONTROLLER_MODEL_PCI_EXPANDER_BUS ||
           d->pmodel == ASM_PCI_CONTROLLER_MODEL_PCIE_EXPANDER_BUS))
        {
          pxb = d;
          break;
        }
    }
  if (pxb == NULL ||
      !asm_pci_bus_set_get_controller (p->set, pxb->index, NULL))
    return fail (error, p->current, "NUMA node %d has no expander bus", node);
  if (!next_on_bus (p, pxb->index, model, &a))
    return fail (error, p->current,
                 "the expander bus of NUMA node %d (controller %u) is full",
                 node, pxb->index);
  c = new_controller (p, model, a.domain);
  c->parent_index = pxb->index;
  if (!asm_pci_bus_set_add_controller (p->set, c->index, model, &a, &err))
    return reserve_error (p, c, NULL, &a, err, error);
  own (p, &a, c->desc);
  return lock_group (p, c->index, NUMA_GROUP (node), error) &&
         lock_group (p, pxb->index, NUMA_GROUP (node), error);
}

/* libvirt's choice of controllers for a device of @flags that found no
 * room; 0 models when it cannot grow (the error is set) */
static guint
grow_models (Policy *p, AsmPciConnectFlags flags,
             AsmPciControllerModel models[2], GError **error)
{
  static const struct {
    AsmPciConnectFlags type;
    const char *model;
  } names[] = {
    { ASM_PCI_CONNECT_TYPE_PCIE_ROOT_PORT, "pcie-root-port" },
    { ASM_PCI_CONNECT_TYPE_PCIE_SWITCH_DOWNSTREAM_PORT,
      "pcie-switch-downstream-port" },
    { ASM_PCI_CONNECT_TYPE_DMI_TO_PCI_BRIDGE, "dmi-to-pci-bridge" },
    { ASM_PCI_CONNECT_TYPE_PCI_EXPANDER_BUS, "pci-expander-bus" },
    { ASM_PCI_CONNECT_TYPE_PCIE_EXPANDER_BUS, "pcie-expander-bus" },
    { ASM_PCI_CONNECT_TYPE_PCIE_TO_PCI_BRIDGE, "pcie-to-pci-bridge" },
    { ASM_PCI_CONNECT_TYPE_PCI_BRIDGE, "pci-bridge" },
  };

  if (flags & ASM_PCI_CONNECT_TYPE_PCI_DEVICE)
    {
      if (any_bus_accepts (p, ASM_PCI_CONNECT_TYPE_PCI_BRIDGE))
        {
          models[0] = ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE;
          return 1;
        }
      models[0] = ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT;
      models[1] = ASM_PCI_CONTROLLER_MODEL_PCIE_TO_PCI_BRIDGE;
      return 2;
    }
  if (flags & (ASM_PCI_CONNECT_TYPE_PCIE_DEVICE |
               ASM_PCI_CONNECT_TYPE_PCIE_SWITCH_UPSTREAM_PORT))
    {
      models[0] = ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT;
      return 1;
    }
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (flags & names[i].type)
      {
        g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                     "a PCI slot is needed to connect a PCI controller "
                     "model='%s', but none is available, and it cannot be "
                     "automatically added",
                     names[i].model);
        return 0;
      }
  g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
               "Cannot automatically add a new PCI bus for a device with "
               "connect flags %02x",
               (guint) flags);
  return 0;
}

/* adds (parks) the controllers of @models; the first of a pair is the root
 * port that takes only the pcie-to-pci-bridge */
static gboolean
grow_park (Policy *p, const AsmPciControllerModel *models, guint n,
           GError **error)
{
  for (guint i = 0; i < n; i++)
    {
      LvDevice *c = new_controller (p, models[i], 0);

      if (!park (p, c, TRUE, error))
        return FALSE;
      if (n == 2 && i == 0)
        {
          Parked *pk = g_ptr_array_index (p->parked_list,
                                          p->parked_list->len - 1);

          pk->special = TRUE;
          if (!lock_group (p, pk->index, SPECIAL_GROUP, error))
            return FALSE;
        }
    }
  return TRUE;
}

/* The bus set's grow callback: libvirt's virDomainPCIAddressSetGrow, in
 * the dry run only. */
static gboolean
policy_grow (AsmPciBusSet *set, AsmPciConnectFlags flags, gpointer user_data,
             GError **error)
{
  Policy *p = user_data;
  AsmPciControllerModel models[2];
  guint n;

  if (!p->counting)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                   "No more available PCI slots");
      return FALSE;
    }
  if (p->numa_aware && p->current != NULL && p->current->numa_node >= 0)
    {
      if (grow_numa (p, p->current->numa_node, error))
        return TRUE;
      p->fatal = TRUE;
      return FALSE;
    }
  n = grow_models (p, flags, models, error);
  if (n == 0)
    {
      p->fatal = TRUE;
      return FALSE;
    }
  if (n == 1)
    {
      /* a batch of buses, doubling from one growth to the next: each
       * callback costs the bus set a snapshot of everything, so fewer
       * callbacks; a bus becomes a controller only when a device uses it,
       * the others are dropped (see note_use) */
      for (guint i = 0; i < p->spec_batch; i++)
        if (park_bus (p, models[0], NULL, FALSE, error) == NULL)
          {
            p->fatal = TRUE;
            return FALSE;
          }
      p->spec_batch = MIN (p->spec_batch * 2, 64u);
      return TRUE;
    }
  if (!grow_park (p, models, n, error))
    {
      p->fatal = TRUE;
      return FALSE;
    }
  return TRUE;
}

/* libvirt grows the buses up to one that an address of the XML names */
static gboolean
grow_for_fixed (Policy *p, GError **error)
{
  LvDomain *dom = p->dom;

  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);
      guint64 key;

      if (!d->fixed || d->cat == LV_CAT_PCI_CONTROLLER)
        continue;
      key = bus_key (d->addr.domain, d->addr.bus);
      if (!g_hash_table_contains (p->pending_devs, &key))
        continue;
      while (p->next_index <= d->addr.bus &&
             domain_for (p, d->addr.bus) == d->addr.domain)
        {
          AsmPciControllerModel models[2];
          g_autoptr (GError) err = NULL;
          guint n = grow_models (p, d->flags, models, &err);

          if (n == 0)
            return fail (error, d, "its address is on bus %04x:%02x: %s",
                         d->addr.domain, d->addr.bus, err->message);
          if (!grow_park (p, models, n, error))
            return FALSE;
        }
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Steps 5 and 6                                                        */

static gboolean
place_next (Policy *p, LvDevice *d, GError **error)
{
  AsmPciAddr a;
  GError *err = NULL;
  guint32 group = 0;

  p->current = d;
  if (p->numa_aware && d->numa_node >= 0)
    group = NUMA_GROUP (d->numa_node);
  if (!asm_pci_bus_set_reserve_next_full (p->set, d->flags, group, &a, &err))
    {
      fail (error, d, "no PCI address for it: %s", err->message);
      g_error_free (err);
      return FALSE;
    }
  own (p, &a, d->desc);
  note_use (p, &a);
  d->addr = a;
  d->assigned = TRUE;
  return TRUE;
}

/* USB2 companions (ich9-ehci1 and ich9-uhci1..3 of one index) share a
 * slot: functions 7, 0, 1, 2 */
static gboolean
place_usb2 (Policy *p, LvDevice *d, GPtrArray *ctrls, GError **error)
{
  LvDevice *found = NULL;
  AsmPciAddr a;
  GError *err = NULL;

  /* the first companion with an address, in libvirt's list order (the
   * dry run does not record the addresses it finds) */
  for (guint i = 0; i < ctrls->len && found == NULL; i++)
    {
      LvDevice *c = g_ptr_array_index (ctrls, i);

      if (c->usb2_function >= 0 && c->index == d->index && c != d &&
          (c->fixed || (c->assigned && (!p->counting ||
                                        c->role == LV_ROLE_Q35_USB_UHCI1))))
        found = c;
    }
  if (d->usb2_function == 0)
    d->multi = LV_MULTI_ON;
  if (found != NULL)
    {
      AsmPciAddr t;

      a = found->addr;
      a.function = (guint8) d->usb2_function;
      t = translate (p, &a);
      if (!asm_pci_bus_set_reserve_addr (p->set, &t, d->flags, TRUE, &err))
        return reserve_error (p, d, NULL, &a, err, error);
      own (p, &a, d->desc);
      d->addr = a;
      d->assigned = TRUE;
      return TRUE;
    }
  if (!place_next (p, d, error))
    return FALSE;
  if (d->usb2_function == 0)
    return TRUE;
  a = d->addr;
  if (!asm_pci_bus_set_release_addr (p->set, &a, error))
    return FALSE;
  a.function = (guint8) d->usb2_function;
  if (!asm_pci_bus_set_reserve_addr (p->set, &a, d->flags, FALSE, &err))
    return reserve_error (p, d, NULL, &a, err, error);
  own (p, &a, d->desc);
  d->addr = a;
  return TRUE;
}

/* libvirt's test before the spare slot of pc: is every slot of every bus
 * (parked ones too) in use? */
static gboolean
all_buses_full (Policy *p)
{
  for (guint32 i = 0; i < p->park_next; i++)
    {
      AsmPciControllerInfo info;

      if (!asm_pci_bus_set_get_controller (p->set, i, &info) ||
          info.isolation_group == PARK_GROUP)
        continue;
      for (guint s = info.min_slot; s <= info.max_slot; s++)
        if (!slot_in_use (p, info.domain, info.bus, (guint8) s))
          return FALSE;
    }
  return TRUE;
}

static gboolean
reserve_spare (Policy *p, AsmPciConnectFlags flags, guint n, GError **error)
{
  for (guint i = 0; i < n; i++)
    {
      AsmPciAddr a;
      GError *err = NULL;

      p->current = NULL;
      if (!asm_pci_bus_set_reserve_next (p->set, flags, &a, &err))
        {
          fail (error, NULL, "no room for a spare hotplug slot: %s",
                err->message);
          g_error_free (err);
          return FALSE;
        }
      own (p, &a, "a spare hotplug slot");
      note_use (p, &a);
    }
  return TRUE;
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
            return fail (error, c, "PCI controller at index %u (0x%02x) has "
                         "bus='0x%02x', but index must be larger than bus",
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
                return fail (error, c, "no free busNr lower than the current "
                             "lowest busNr is available to auto-assign; give "
                             "<target busNr='...'/>");
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
  p->park_domains = g_hash_table_new (NULL, NULL);

  /* 1. roots */
  for (guint i = 0; i < p->roots->len; i++)
    {
      guint32 r = g_array_index (p->roots, guint32, i);
      LvDevice *c = lv_domain_find_pci_controller (dom, r);
      GError *err = NULL;

      if (!asm_pci_bus_set_add_controller (p->set, r, c->pmodel, NULL, &err))
        {
          fail (error, c, "%s", err->message);
          g_error_free (err);
          return FALSE;
        }
    }

  /* 2. the addresses of the XML; in the dry run, the buses that libvirt
   * adds before placing anything (the gaps below the highest index, the
   * buses beyond it that addresses name) are parked */
  collect_fixed (p);
  for (guint i = 0; i < p->roots->len; i++)
    if (!reserve_fixed_on_bus (p, g_array_index (p->roots, guint32, i), 0,
                               error))
      return FALSE;
  if (!settle (p, error))
    return FALSE;
  if (counting)
    {
      for (guint i = 0; i < dom->devs->len; i++)
        {
          LvDevice *c = g_ptr_array_index (dom->devs, i);

          if (c->cat == LV_CAT_PCI_CONTROLLER && c->implicit &&
              !asm_pci_controller_model_is_root (c->pmodel) &&
              c->parent_index < 0 && c->target_node < 0 &&
              !park (p, c, TRUE, error))
            return FALSE;
        }
      if (!grow_for_fixed (p, error))
        return FALSE;
    }

  asm_pci_bus_set_set_grow_func (p->set, policy_grow, p, NULL);

  /* 3. the chipset */
  if (!(dom->machine == LV_MACHINE_PC ? chipset_pc (p, error)
                                      : chipset_q35 (p, error)))
    return FALSE;

  /* 4. the spare slot of pc */
  if (counting && lv_domain_find_pci_controller (dom, 0)->pmodel ==
                    ASM_PCI_CONTROLLER_MODEL_PCI_ROOT)
    {
      guint n = p->spare >= 0 ? (guint) p->spare : 1;

      if (n > 0 && !all_buses_full (p) &&
          !reserve_spare (p, PCI_AUTO, n, error))
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
      if (!plug_controller (p, c, error) || !settle (p, error))
        return FALSE;
    }
  if (p->pending_ctrls->len > 0)
    {
      LvDevice *c = g_ptr_array_index (p->pending_ctrls, 0);

      return fail (error, c, "it is plugged into bus %04x:%02x, which no "
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
      return fail (error, first, "its address is on bus %04x:%02x, which no "
                   "controller provides",
                   first->addr.domain, first->addr.bus);
    }

  if (p->deferred_video != NULL && !place_next (p, p->deferred_video, error))
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
          if (!lock_group (p, i, group, error))
            return FALSE;
        }
    }

  /* 6. the devices */
  p->order = g_ptr_array_new ();
  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);

      if (d->cat >= LV_CAT_FILESYSTEM && d->cat < LV_CAT_NONE &&
          d->flags != 0 && !d->fixed && !d->assigned)
        g_ptr_array_add (p->order, d);
    }
  g_ptr_array_sort (p->order, compare_devices);
  for (p->pos = 0; p->pos < p->order->len; p->pos++)
    {
      LvDevice *d = g_ptr_array_index (p->order, p->pos);
      gboolean ok;

      if (d->assigned)
        continue;
      ok = d->usb2_function >= 0 ? place_usb2 (p, d, all_ctrls, error)
                                 : place_next (p, d, error);
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
          if (n > 0 && !reserve_spare (p, PCIE_AUTO, n, error))
            return FALSE;
        }
      /* the parked controllers take their slots */
      return plug_parked (p, error);
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
      pxb = new_controller (p, q35 ? ASM_PCI_CONTROLLER_MODEL_PCIE_EXPANDER_BUS
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
          new_controller (p, ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE, 0)
            ->parent_index = pxb->index;
    }
}

typedef struct {
  gboolean numa_aware;
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
      if (asm_pci_controller_model_is_root (c->pmodel))
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
        guint32 d = domain_for (&p, i);
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
  gboolean numa = FALSE, json = FALSE;
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
