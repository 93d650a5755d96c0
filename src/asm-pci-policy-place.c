/* asm-pci-policy-place.c: libvirt's PCI policy, placing controllers and
 * devices in slots
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The steps of a pass that take slots on the bus set: the given addresses
 * (step 2), the chipset (step 3), parking the dry run's buses, growth
 * (the bus set's grow callback), and the next free address of each
 * controller and device (steps 5 and 6).  The theory, and the passes that
 * call these steps in order, are at the top of asm-pci-policy.c.
 */
#include "asm-pci-policy-private.h"
#include "asm-pci-private.h"

/* isolation groups of the dry run's parking roots and of the root port
 * that libvirt reserves for a pcie-to-pci-bridge */
#define PARK_GROUP G_MAXUINT32
#define SPECIAL_GROUP (G_MAXUINT32 - 1)

static void
own (Policy *p, const AsmPciAddr *a, const char *desc)
{
  g_hash_table_insert (p->owner, pol_addr_format (a), (gpointer) desc);
}

/* what a device of @flags needs of a bus, in libvirt's words
 * (virDomainPCIAddressFlagsCompatible) */
static const char *
connect_name (AsmPciConnectFlags flags)
{
  static const struct {
    AsmPciConnectFlags flag;
    const char *name;
  } names[] = {
    { ASM_PCI_CONNECT_TYPE_PCI_DEVICE, "standard PCI device" },
    { ASM_PCI_CONNECT_TYPE_PCIE_DEVICE, "PCI Express device" },
    { ASM_PCI_CONNECT_TYPE_PCIE_ROOT_PORT, "pcie-root-port" },
    { ASM_PCI_CONNECT_TYPE_PCIE_SWITCH_UPSTREAM_PORT,
      "pcie-switch-upstream-port" },
    { ASM_PCI_CONNECT_TYPE_PCIE_SWITCH_DOWNSTREAM_PORT,
      "pcie-switch-downstream-port" },
    { ASM_PCI_CONNECT_TYPE_DMI_TO_PCI_BRIDGE, "dmi-to-pci-bridge" },
    { ASM_PCI_CONNECT_TYPE_PCIE_TO_PCI_BRIDGE, "pcie-to-pci-bridge" },
    { ASM_PCI_CONNECT_TYPE_PCI_EXPANDER_BUS, "pci-expander-bus" },
    { ASM_PCI_CONNECT_TYPE_PCIE_EXPANDER_BUS, "pcie-expander-bus" },
    { ASM_PCI_CONNECT_TYPE_PCI_BRIDGE, "pci-bridge" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (flags & names[i].flag)
      return names[i].name;
  return NULL;
}

/* libvirt's reason for refusing the address @a of the input for @dev, when
 * it is the bus that does not fit (the type of connection, the slot
 * range), or NULL.  libvirt checks every given address against the
 * model of its bus's controller, plugged in or not yet; so does this,
 * and the message names the real address even when the dry run keeps
 * that bus parked. */
static char *
libvirt_bus_reason (Policy *p, PolDevice *dev, const AsmPciAddr *a)
{
  PolDevice *bus;
  AsmPciConnectFlags bf, df = dev->flags;
  guint8 min_slot = 0, max_slot = 0;
  g_autofree char *s = pol_addr_format (a);
  const char *need;

  if (p->roots->len != 1 || a->domain != 0 ||
      (bus = pol_find_pci_controller (p->dom, a->bus)) == NULL)
    return NULL;
  bf = asm_pci_controller_model_get_bus_flags (bus->pmodel, !bus->hotplug_off,
                                               &min_slot, &max_slot);
  /* an given address: a PCI endpoint may sit where a PCIe one may,
   * and the other way round; a pci-bridge where a PCI endpoint may */
  if (bf & ASM_PCI_CONNECT_TYPES_ENDPOINT)
    bf |= ASM_PCI_CONNECT_TYPES_ENDPOINT;
  if (df & ASM_PCI_CONNECT_TYPE_PCI_BRIDGE)
    df |= ASM_PCI_CONNECT_TYPE_PCI_DEVICE;
  need = connect_name (dev->flags);
  if (!(df & bf & ASM_PCI_CONNECT_TYPES_MASK) && need != NULL)
    return g_strdup_printf ("The device at PCI address %s cannot be plugged "
                            "into the PCI controller with index='%u'. It "
                            "requires a controller that accepts a %s.",
                            s, a->bus, need);
  if (a->slot < min_slot)
    return g_strdup_printf ("Invalid PCI address %s. slot must be >= %u", s,
                            min_slot);
  if (a->slot > max_slot)
    return g_strdup_printf ("Invalid PCI address %s. slot must be <= %u", s,
                            max_slot);
  return NULL;
}

/* libvirt checks every given address against the model of its bus
 * before it places anything (qemuDomainCollectPCIAddress), the bus of
 * every controller index existing from the start; the bus set sees an
 * address only once its bus is plugged in, after other errors may have
 * come up.  So the reasons libvirt_bus_reason() knows are checked here
 * first, in document order, for the buses a controller of the domain
 * (or one filling a gap) provides. */
gboolean
pol_check_fixed (Policy *p, GError **error)
{
  PolDomain *dom = p->dom;

  for (guint i = 0; i < dom->devs->len; i++)
    {
      PolDevice *d = g_ptr_array_index (dom->devs, i);
      g_autofree char *reason = NULL;

      if (!d->fixed || d->flags == 0 || d->role != ASM_PCI_DEVICE_ROLE_NONE ||
          (d->klass == ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER &&
           asm_pci_controller_model_is_root (d->pmodel)))
        continue;
      reason = libvirt_bus_reason (p, d, &d->addr);
      if (reason != NULL)
        return pol_fail (error, d, "%s", reason);
    }
  return TRUE;
}

/* the error of a failed reservation at @a (named by its real address
 * @shown), naming the device that holds it when it is in use */
static gboolean
reserve_error (Policy *p, PolDevice *dev, const char *what,
               const AsmPciAddr *shown, GError *err, GError **error)
{
  g_autofree char *s = pol_addr_format (shown);
  const char *other = g_hash_table_lookup (p->owner, s);
  g_autofree char *reason = NULL;
  gboolean r;

  if (g_error_matches (err, ASM_ERROR, ASM_ERROR_IN_USE) && other != NULL)
    /* libvirt's words, and the two devices */
    r = pol_fail (error, NULL, "Attempted double use of PCI Address %s (%s "
                  "and %s)",
                  s, other, dev != NULL ? dev->name : what);
  else if (dev != NULL && dev->fixed &&
           (reason = libvirt_bus_reason (p, dev, shown)) != NULL)
    r = pol_fail (error, dev, "%s", reason);
  else if (dev != NULL)
    r = pol_fail (error, dev, "PCI address %s: %s", s, err->message);
  else
    r = pol_fail (error, NULL, "%s at %s: %s", what, s, err->message);
  g_error_free (err);
  return r;
}

static int
compare_parked (gconstpointer a, gconstpointer b)
{
  const Parked *x = *(Parked *const *) a;
  const Parked *y = *(Parked *const *) b;

  return x->c->index < y->c->index ? -1 : x->c->index > y->c->index;
}

/* an given address as the dry run's set knows it (a parked bus lives
 * in its parking domain) */
static AsmPciAddr
translate (Policy *p, const AsmPciAddr *a)
{
  AsmPciAddr t = *a;
  guint64 key = pol_bus_key (a->domain, a->bus);
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
/* Step 2: the given addresses                                    */

static gboolean
after_controller_added (Policy *p, PolDevice *c, GError **error)
{
  AsmPciControllerInfo info;

  POL_MUST (asm_pci_bus_set_get_controller (p->set, c->index, &info));
  if (!info.is_root)
    own (p, &info.plugged_at, c->name);
  if (c->hotplug_off && (info.accepts & ASM_PCI_CONNECT_HOTPLUGGABLE) &&
      !asm_pci_bus_set_set_hotplug (p->set, c->index, FALSE, error))
    return FALSE;
  return pol_reserve_fixed_on_bus (p, info.domain, info.bus, error);
}

/* adds the fixed controllers whose parent bus now exists, and what sits
 * on their buses, until nothing changes */
gboolean
pol_settle (Policy *p, GError **error)
{
  gboolean progress = TRUE;

  while (progress)
    {
      progress = FALSE;
      for (guint i = 0; i < p->pending_ctrls->len; i++)
        {
          PolDevice *c = g_ptr_array_index (p->pending_ctrls, i);
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
              own (p, &c->addr, c->name);
              if (!pol_park (p, c, FALSE, error))
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

/* the controller whose bus pending controller @c waits for, when that one
 * waits too (so is no root, and in the same domain), else NULL */
static PolDevice *
waits_for (Policy *p, PolDevice *c)
{
  PolDevice *parent;

  if (c->addr.bus == 0 ||
      (parent = pol_find_pci_controller (p->dom, c->addr.bus)) == NULL ||
      parent->addr.domain != c->addr.domain ||
      !g_ptr_array_find (p->pending_ctrls, parent, NULL))
    return NULL;
  return parent;
}

/* a controller of a cycle of pending controllers without a pci-bridge:
 * the one of the lowest index, or NULL.  Each controller waits for at
 * most one other, so the walks from every pending controller, each
 * stopping where an earlier one went, find every cycle in O(n) steps, each
 * an O(n) test of waiting: O(n^2) for n <= 256 pending controllers. */
static PolDevice *
find_cycle (Policy *p)
{
  g_autoptr (GHashTable) walk = g_hash_table_new (NULL, NULL);

  for (guint i = 0; i < p->pending_ctrls->len; i++)
    g_hash_table_insert (walk, g_ptr_array_index (p->pending_ctrls, i),
                         GUINT_TO_POINTER (0));
  for (guint i = 0; i < p->pending_ctrls->len; i++)
    {
      PolDevice *cur = g_ptr_array_index (p->pending_ctrls, i);
      PolDevice *low, *m;
      gboolean bridge = FALSE;
      guint id = i + 1;

      /* Loop invariant: every controller from the i-th up to @cur is
       * marked @id; a controller marked by an earlier walk leads nowhere
       * new */
      while (cur != NULL &&
             GPOINTER_TO_UINT (g_hash_table_lookup (walk, cur)) == 0)
        {
          g_hash_table_insert (walk, cur, GUINT_TO_POINTER (id));
          cur = waits_for (p, cur);
        }
      if (cur == NULL ||
          GPOINTER_TO_UINT (g_hash_table_lookup (walk, cur)) != id)
        continue;
      /* @cur is on a cycle met first by this walk */
      low = m = cur;
      do
        {
          bridge |= m->pmodel == ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE;
          if (m->index < low->index)
            low = m;
          m = waits_for (p, m);
        }
      while (m != cur);
      if (!bridge)
        return low;
    }
  return NULL;
}

/* Cycles.  libvirt's address set has the bus of every controller index from
 * the start, so two controllers without an address may each take the first
 * free slot on the other's bus (a pcie-switch-downstream-port in the
 * upstream port of a higher index, that upstream port in the downstream
 * port), and libvirt writes that cycle out as it is (QEMU refuses to start
 * it).  Here each waits for the other's bus, forever.  At the end of step
 * 5, before anything is placed by the set's own search, each such cycle is
 * closed: its controller of the lowest index is added floating (its bus in
 * its domain at its index, plugged in nowhere: the set stays a forest),
 * which lets the others and what waits behind them settle; then the slot
 * it takes on the bus of the controller it plugs into is reserved as a
 * plain address, and keeps the address libvirt gave it.  A cycle with a
 * pci-bridge is left alone: libvirt refuses a pci-bridge plugged into a
 * bus of its own index or above, and one of a cycle is (a pci-bridge's
 * bus takes no other controller, so such a cycle is all pci-bridges, and
 * the one of the lowest index plugs into a higher one).  With several
 * domains (ASM_PCI_POLICY_MULTI_DOMAIN) only given addresses can form a
 * cycle, closed in their domain the same way. */
gboolean
pol_close_cycles (Policy *p, GError **error)
{
  PolDevice *f;

  while ((f = find_cycle (p)) != NULL)
    {
      AsmPciControllerInfo info;
      GError *err = NULL;

      g_ptr_array_remove (p->pending_ctrls, f);
      if (!asm_pci_bus_set_add_floating_controller (
              p->set, f->index, f->pmodel, f->addr.domain, &err))
        {
          pol_fail (error, f, "%s", err->message);
          g_error_free (err);
          return FALSE;
        }
      POL_MUST (asm_pci_bus_set_get_controller (p->set, f->index, &info));
      if (f->hotplug_off && (info.accepts & ASM_PCI_CONNECT_HOTPLUGGABLE) &&
          !asm_pci_bus_set_set_hotplug (p->set, f->index, FALSE, error))
        return FALSE;
      if (!pol_reserve_fixed_on_bus (p, f->addr.domain, f->index, error) ||
          !pol_settle (p, error))
        return FALSE;
      /* the rest of the cycle is plugged in: so is the bus @f plugs into */
      if (!asm_pci_bus_set_reserve_addr (p->set, &f->addr, f->flags, TRUE,
                                         &err))
        return reserve_error (p, f, NULL, &f->addr, err, error);
      own (p, &f->addr, f->name);
      if (!pol_settle (p, error))
        return FALSE;
    }
  return TRUE;
}

/* the error for pending controller @c, which no bus ever takes: on a
 * cycle that pol_close_cycles() left (of pci-bridges), libvirt's reason,
 * or (which should not happen) the cycle's members; else the bus that is
 * missing */
gboolean
pol_pending_error (Policy *p, PolDevice *c, GError **error)
{
  g_autoptr (GString) list = g_string_new (NULL);
  PolDevice *cur = c, *bridge = NULL;
  guint steps;

  for (steps = 0; steps <= p->pending_ctrls->len; steps++)
    {
      if (cur->pmodel == ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE &&
          cur->index <= cur->addr.bus &&
          (bridge == NULL || cur->index < bridge->index))
        bridge = cur;
      g_string_append_printf (list, "%s%u", list->len > 0 ? ", " : "",
                              cur->index);
      cur = waits_for (p, cur);
      if (cur == NULL || cur == c)
        break;
    }
  if (cur != c)
    return pol_fail (error, c,
                     "it is plugged into bus %04x:%02x, which no controller "
                     "provides",
                     c->addr.domain, c->addr.bus);
  if (bridge != NULL)
    return pol_fail (error, bridge,
                     "PCI controller at index %u (0x%02x) has bus='0x%02x', "
                     "but index must be larger than bus",
                     bridge->index, bridge->index, bridge->addr.bus);
  return pol_fail (error, c,
                   "the PCI controllers of indexes %s are plugged into each "
                   "other's buses (a cycle, which QEMU refuses to start), "
                   "and asm cannot write this one out",
                   list->str);
}

/* reserves the fixed devices on the real bus (@domain, @bus), wherever
 * the set keeps it */
static gboolean
reserve_fixed_on_real_bus (Policy *p, guint32 domain, guint32 bus,
                           GError **error)
{
  guint64 key = pol_bus_key (domain, bus);
  GPtrArray *list = g_hash_table_lookup (p->pending_devs, &key);

  if (list == NULL)
    return TRUE;
  for (guint i = 0; i < list->len; i++)
    {
      PolDevice *d = g_ptr_array_index (list, i);
      AsmPciAddr t = translate (p, &d->addr);
      GError *err = NULL;

      if (!asm_pci_bus_set_reserve_addr (p->set, &t, d->flags, TRUE, &err))
        return reserve_error (p, d, NULL, &d->addr, err, error);
      own (p, &d->addr, d->name);
    }
  g_hash_table_remove (p->pending_devs, &key);
  return TRUE;
}

gboolean
pol_reserve_fixed_on_bus (Policy *p, guint32 domain, guint32 bus,
                                    GError **error)
{
  return reserve_fixed_on_real_bus (p, domain, bus, error);
}

void
pol_collect_fixed (Policy *p)
{
  PolDomain *dom = p->dom;

  for (guint i = 0; i < dom->devs->len; i++)
    {
      PolDevice *d = g_ptr_array_index (dom->devs, i);

      if (!d->fixed)
        continue;
      if (d->klass == ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER)
        g_ptr_array_add (p->pending_ctrls, d);
      else if (d->role == ASM_PCI_DEVICE_ROLE_PIIX3_IDE || d->role == ASM_PCI_DEVICE_ROLE_PIIX3_USB ||
               d->role == ASM_PCI_DEVICE_ROLE_Q35_SATA)
        continue; /* checked by the chipset step */
      else
        {
          guint64 key = pol_bus_key (d->addr.domain, d->addr.bus);
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
put_at (Policy *p, PolDevice *d, guint8 slot, guint8 function,
        AsmPciConnectFlags flags, GError **error)
{
  AsmPciAddr a = { 0, 0, slot, function };
  GError *err = NULL;

  if (!asm_pci_bus_set_reserve_addr (p->set, &a, flags, TRUE, &err))
    return reserve_error (p, d, NULL, &a, err, error);
  own (p, &a, d->name);
  d->addr = a;
  d->assigned = TRUE;
  return TRUE;
}

typedef enum {
  CHOICE_NONE,     /* no bus has room: the caller's search says so */
  CHOICE_PLUGGED,  /* on a bus the set has: the caller's search finds it */
  CHOICE_WAITING,  /* on a bus whose controller is not plugged in yet */
} Choice;

static Choice libvirt_choice (Policy *p, AsmPciConnectFlags flags,
                              AsmPciAddr *out);

/* device @d takes address @a of libvirt_choice() (CHOICE_WAITING): on a
 * parked bus at once, else when its bus is plugged in, as an address of
 * the input */
static gboolean
wait_for_bus (Policy *p, PolDevice *d, const AsmPciAddr *a, GError **error)
{
  guint64 key = pol_bus_key (a->domain, a->bus);
  GPtrArray *list;

  d->addr = *a;
  d->assigned = TRUE;
  if (g_hash_table_contains (p->parked, &key))
    {
      AsmPciAddr t = translate (p, a);
      GError *err = NULL;

      if (!asm_pci_bus_set_reserve_addr (p->set, &t, d->flags, TRUE, &err))
        return reserve_error (p, d, NULL, a, err, error);
      own (p, a, d->name);
      return TRUE;
    }
  list = g_hash_table_lookup (p->pending_devs, &key);
  if (list == NULL)
    {
      guint64 *k = g_new (guint64, 1);

      *k = key;
      list = g_ptr_array_new ();
      g_hash_table_insert (p->pending_devs, k, list);
    }
  g_ptr_array_add (list, d);
  return TRUE;
}

static gboolean
place_primary_video (Policy *p, guint8 slot, AsmPciConnectFlags flags,
                     GError **error)
{
  PolDomain *dom = p->dom;

  for (guint i = 0; i < dom->devs->len; i++)
    {
      PolDevice *v = g_ptr_array_index (dom->devs, i);

      if (v->klass != ASM_PCI_DEVICE_CLASS_VIDEO || !v->primary_video)
        continue;
      if (v->flags == 0 || v->fixed)
        return TRUE;
      if (!slot_in_use (p, 0, 0, slot))
        return put_at (p, v, slot, 0, flags, error);
      /* the next free address, now (qemuDomainValidateDevicePCISlots*):
       * libvirt sees the buses of every controller index, plugged in or
       * not, so the video may go onto one that is not plugged in yet */
      if (p->counting)
        p->pushed_video = v;
      if (p->roots->len == 1 && !p->numa_aware)
        {
          AsmPciAddr a;

          if (libvirt_choice (p, v->flags, &a) == CHOICE_WAITING)
            return wait_for_bus (p, v, &a, error);
        }
      /* otherwise the set's own search; in the real pass, when no
       * plugged bus has room, after the controllers */
      if (p->counting)
        return pol_place_next (p, v, error);
      if (asm_pci_bus_set_reserve_next (p->set, v->flags, &v->addr, NULL))
        {
          own (p, &v->addr, v->name);
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
  const PolDevice *x = *(PolDevice *const *) a;
  const PolDevice *y = *(PolDevice *const *) b;

  for (guint i = 0; i < 3; i++)
    if (x->ord[i] != y->ord[i])
      return x->ord[i] < y->ord[i] ? -1 : 1;
  return 0;
}

/* every controller, in libvirt's list order (def->controllers) */
static GPtrArray *
controllers_in_order (PolDomain *dom)
{
  GPtrArray *list = g_ptr_array_new ();

  for (guint i = 0; i < dom->devs->len; i++)
    {
      PolDevice *c = g_ptr_array_index (dom->devs, i);

      if (c->is_controller)
        g_ptr_array_add (list, c);
    }
  g_ptr_array_sort (list, compare_list_order);
  return list;
}

gboolean
pol_chipset_pc (Policy *p, GError **error)
{
  g_autoptr (GPtrArray) ctrls = controllers_in_order (p->dom);

  for (guint i = 0; i < ctrls->len; i++)
    {
      PolDevice *c = g_ptr_array_index (ctrls, i);
      guint8 fn;

      if (c->role == ASM_PCI_DEVICE_ROLE_PIIX3_IDE)
        fn = 1;
      else if (c->role == ASM_PCI_DEVICE_ROLE_PIIX3_USB)
        fn = 2;
      else
        continue;
      if (c->fixed && !(c->addr.domain == 0 && c->addr.bus == 0 &&
                        c->addr.slot == 1 && c->addr.function == fn))
        return pol_fail (error, c,
                                   "the %s controller must have PCI address "
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

gboolean
pol_chipset_q35 (Policy *p, GError **error)
{
  PolDomain *dom = p->dom;
  const AsmPciConnectFlags pcie = ASM_PCI_CONNECT_TYPE_PCIE_DEVICE;
  g_autoptr (GPtrArray) ctrls = controllers_in_order (dom);

  for (guint i = 0; i < ctrls->len; i++)
    {
      PolDevice *c = g_ptr_array_index (ctrls, i);

      if (c->role == ASM_PCI_DEVICE_ROLE_Q35_SATA)
        {
          if (c->fixed && !(c->addr.domain == 0 && c->addr.bus == 0 &&
                            c->addr.slot == 0x1f && c->addr.function == 2))
            return pol_fail (error, c,
                                       "the primary SATA controller must have "
                                       "PCI address 0000:00:1f.2");
          if (!put_at (p, c, 0x1f, 2, c->flags, error))
            return FALSE;
          if (c->fixed)
            c->assigned = FALSE;
        }
      else if (c->role == ASM_PCI_DEVICE_ROLE_Q35_USB_UHCI1 && !c->fixed)
        {
          guint8 slot = 0x1d;

          if (slot_in_use (p, 0, 0, slot))
            slot = 0x1a;
          if (slot_in_use (p, 0, 0, slot))
            continue;
          if (!put_at (p, c, slot, 0, pcie, error))
            return FALSE;
          c->multi = ASM_PCI_MULTIFUNCTION_ON;
        }
      else if (c->klass == ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER &&
               !c->addr_given &&
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
        PolDevice *s = g_ptr_array_index (dom->devs, i);

        if (s->role == ASM_PCI_DEVICE_ROLE_Q35_ICH9_SOUND && !s->fixed)
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

gboolean
pol_lock_group (Policy *p, guint32 index, guint32 group,
                          GError **error)
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

  /* FALSE itself on every failure, not pol_fail()'s value: the callers
   * read *out only on success, and the compiler sees so (a release build
   * otherwise warns that *out may be used uninitialized) */
  if (q + 3 > ASM_PCI_DOMAIN_LAST)
    {
      pol_fail (error, NULL, "too many PCI controllers to add (the dry run "
                "ran out of PCI domains)");
      return FALSE;
    }
  p->park_next += 4;
  if (!asm_pci_bus_set_add_controller (p->set, q, root_model, NULL, error) ||
      !pol_lock_group (p, q, PARK_GROUP, error))
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

  POL_MUST (asm_pci_bus_set_get_controller (p->set, bus == 0 ? q : bus, &info));
  a.domain = q;
  a.bus = bus;
  a.slot = info.min_slot;
  a.function = 0;
  if (!asm_pci_bus_set_add_controller (p->set, index, model, &a, error))
    return FALSE;
  /* a reservation from configuration resets a locked group: lock again */
  return pol_lock_group (p, bus == 0 ? q : bus, PARK_GROUP, error);
}

/* parks a bus of @model: a new parking domain with the controller in it.
 * @c: its controller, or NULL for a speculative bus (it gets one when a
 * device first uses it).  @plug: plug it in at the end of the dry run. */
static Parked *
park_bus (Policy *p, AsmPciControllerModel model, PolDevice *c, gboolean plug,
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
      model == ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_UPSTREAM_PORT ||
      model == ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_DOWNSTREAM_PORT)
    {
      /* needs a port to sit in (a downstream port: an upstream port in a
       * root port), each locked; at most 2 holders, so the controller
       * takes index q + 3 at most, within the 4 of a parking domain */
      static const AsmPciControllerModel holders[] = {
        ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT,
        ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_UPSTREAM_PORT,
      };
      guint n = model == ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_DOWNSTREAM_PORT
                  ? 2
                  : 1;
      guint32 at;

      if (!park_domain (p, ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT, &q, error))
        return NULL;
      at = q;
      for (guint i = 0; i < n; i++, at++)
        if (!park_plug (p, q, at == q ? 0 : at, at + 1, holders[i], error) ||
            !pol_lock_group (p, at + 1, PARK_GROUP, error))
          return NULL;
      if (!park_plug (p, q, at, at + 1, model, error))
        return NULL;
      pk->index = at + 1;
    }
  else
    {
      if (!park_root_model (model, &rm))
        {
          pol_fail (error, c, "cannot plan a bus for a %s",
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
  if (p->numa_aware && !pol_lock_group (p, pk->index, 0, error))
    return NULL;
  return pk;
}

/* registers the real bus of a parked controller; reserves what the input
 * puts on it */
static gboolean
park_register (Policy *p, Parked *pk, GError **error)
{
  PolDevice *c = pk->c;
  guint64 *key = g_new (guint64, 1);
  guint32 real_domain =
    c->fixed ? c->addr.domain : pol_domain_of (p, c);

  *key = pol_bus_key (real_domain, c->index);
  g_hash_table_insert (p->parked, key, pk);
  if (c->hotplug_off &&
      !asm_pci_bus_set_set_hotplug (p->set, pk->index, FALSE, error))
    return FALSE;
  return reserve_fixed_on_real_bus (p, real_domain, c->index, error) &&
         pol_settle (p, error);
}

/* parks the bus of @c */
gboolean
pol_park (Policy *p, PolDevice *c, gboolean plug, GError **error)
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
  pk->c = pol_add_pci_controller (p->dom, p->next_index++, pk->model);
  pk->c->grow_domain = 0;
  pk->plug = TRUE;
  park_register (p, pk, NULL);
}

/* at the end of the dry run: every parked controller without an address
 * takes the next free slot for its connect flags, in index order; there
 * is no growth for a controller */
gboolean
pol_plug_parked (Policy *p, GError **error)
{
  g_autoptr (GPtrArray) list = g_ptr_array_sized_new (p->parked_list->len);

  for (guint i = 0; i < p->parked_list->len; i++)
    {
      Parked *pk = g_ptr_array_index (p->parked_list, i);

      if (pk->c != NULL)
        g_ptr_array_add (list, pk);
      else if (!pol_lock_group (p, pk->index, PARK_GROUP, error))
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
        return pol_fail (
            error, pk->c,
            "a PCI slot is needed to connect a PCI controller model='%s', but "
            "none is available, and it cannot be automatically added",
            asm_pci_controller_model_to_string (pk->c->pmodel));
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

/* whether a device of @flags may take an address of its choosing on a
 * bus that accepts @accepts (libvirt's virDomainPCIAddressFlagsCompatible
 * for an address it assigns) */
static gboolean
flags_fit (AsmPciConnectFlags accepts, gboolean bus_zero,
           AsmPciConnectFlags flags)
{
  if (flags & ASM_PCI_CONNECT_INTEGRATED)
    {
      if (!bus_zero)
        return FALSE;
      accepts |= ASM_PCI_CONNECT_AUTOASSIGN;
    }
  if ((flags & ASM_PCI_CONNECT_AUTOASSIGN) &&
      !(accepts & ASM_PCI_CONNECT_AUTOASSIGN))
    return FALSE;
  if ((flags & ASM_PCI_CONNECT_HOTPLUGGABLE) &&
      !(accepts & ASM_PCI_CONNECT_HOTPLUGGABLE))
    return FALSE;
  return (flags & accepts & ASM_PCI_CONNECT_TYPES_MASK) != 0;
}

/* the slots of bus @bus (domain 0) that what waits for that bus takes: the
 * given addresses on it and the controllers already bound for it */
static guint32
waiting_slots (Policy *p, guint32 bus)
{
  guint64 key = pol_bus_key (0, bus);
  GPtrArray *list = g_hash_table_lookup (p->pending_devs, &key);
  guint32 used = 0;

  for (guint i = 0; list != NULL && i < list->len; i++)
    used |= 1u << ((PolDevice *) g_ptr_array_index (list, i))->addr.slot;
  for (guint i = 0; i < p->pending_ctrls->len; i++)
    {
      PolDevice *o = g_ptr_array_index (p->pending_ctrls, i);

      if (o->addr.domain == 0 && o->addr.bus == bus)
        used |= 1u << o->addr.slot;
    }
  for (guint i = 0; i < p->held->len; i++)
    {
      AsmPciAddr *h = &g_array_index (p->held, AsmPciAddr, i);

      if (h->domain == 0 && h->bus == bus)
        used |= 1u << h->slot;
    }
  return used;
}

/* libvirt's choice of an address for a controller or device of @flags.
 * libvirt's address set has every bus, one per controller index, from the
 * start, whether its controller has an address yet or not, and a
 * controller takes the first free slot that fits on the buses in index
 * order (virDomainPCIAddressGetNextAddr).  The bus set knows only the
 * buses of controllers plugged in (and, in the dry run, the parked ones);
 * so this looks at all of them in index order, and when the first that
 * fits is not plugged in, returns that address (CHOICE_WAITING, @out):
 * the controller or device waits for that bus, as the addresses of the
 * input on it do.  With an index gap the controllers libvirt adds come last
 * in its list, so a bridge of the input goes behind one of them
 * (q35-index-gap: behind root port 1, not 3); a primary video pushed off
 * its slot goes onto bus 01 before any controller is placed.  For one
 * domain without a NUMA plan only (the callers check): their own search
 * otherwise. */
static Choice
libvirt_choice (Policy *p, AsmPciConnectFlags flags, AsmPciAddr *out)
{
  for (guint32 b = 0; b < p->next_index; b++)
    {
      PolDevice *bc = pol_find_pci_controller (p->dom, b);
      AsmPciControllerInfo info;
      AsmPciConnectFlags accepts;
      guint8 min_slot, max_slot;
      guint32 used;

      guint64 key = pol_bus_key (0, b);
      Parked *pk = p->parked != NULL ? g_hash_table_lookup (p->parked, &key)
                                     : NULL;

      if (bc == NULL)
        continue;
      if (pk != NULL)
        {
          /* the dry run keeps this bus parked: its slots are there */
          POL_MUST (asm_pci_bus_set_get_controller (p->set, pk->index,
                                                       &info));
          if (!flags_fit (info.accepts, FALSE, flags))
            continue;
          for (guint s = info.min_slot; s <= info.max_slot; s++)
            if (!slot_in_use (p, pk->root, pk->index, (guint8) s))
              {
                *out = (AsmPciAddr) { 0, b, (guint8) s, 0 };
                return CHOICE_WAITING;
              }
          continue;
        }
      if (asm_pci_bus_set_get_controller (p->set, b, &info))
        {
          /* the set's own search decides on it, aggregate slots and all */
          AsmPciAddr a = { 0, b, 0, 0 };

          if (!flags_fit (info.accepts, b == 0, flags))
            continue;
          for (guint s = info.min_slot; s <= info.max_slot; s++)
            {
              a.slot = (guint8) s;
              if (!slot_in_use (p, 0, b, (guint8) s))
                return CHOICE_PLUGGED;
              if ((flags & ASM_PCI_CONNECT_AGGREGATE_SLOT) &&
                  asm_pci_bus_set_is_aggregate_slot (p->set, &a))
                for (guint8 f = 0; f <= ASM_PCI_FUNCTION_LAST; f++)
                  {
                    a.function = f;
                    if (!asm_pci_bus_set_is_reserved (p->set, &a))
                      return CHOICE_PLUGGED;
                  }
              a.function = 0;
            }
          continue;
        }
      accepts = asm_pci_controller_model_get_bus_flags (
          bc->pmodel, !bc->hotplug_off, &min_slot, &max_slot);
      if (!flags_fit (accepts, b == 0, flags))
        continue;
      used = waiting_slots (p, b);
      for (guint s = min_slot; s <= max_slot; s++)
        if (!(used & (1u << s)))
          {
            *out = (AsmPciAddr) { 0, b, (guint8) s, 0 };
            return CHOICE_WAITING;
          }
    }
  return CHOICE_NONE;
}

static guint grow_models (Policy *p, AsmPciConnectFlags flags,
                          AsmPciControllerModel models[2], GError **error);
static gboolean grow_park (Policy *p, const AsmPciControllerModel *models,
                           guint n, GError **error);

/* dry run: controller @c, left out for an error that waits (late_error),
 * still takes the slot @a libvirt gives it, so that what comes after
 * finds it taken as in libvirt (a later bridge then finds no root port
 * and fails with libvirt's error) */
static gboolean
hold_slot (Policy *p, PolDevice *c, const AsmPciAddr *a, GError **error)
{
  guint64 key = pol_bus_key (a->domain, a->bus);

  if (g_hash_table_contains (p->parked, &key))
    {
      AsmPciAddr t = translate (p, a);
      GError *err = NULL;

      if (!asm_pci_bus_set_reserve_addr (p->set, &t, c->flags, TRUE, &err))
        return reserve_error (p, c, NULL, a, err, error);
      return TRUE;
    }
  g_array_append_val (p->held, *a);
  return TRUE;
}

/* plugs a controller without an address in: behind its given parent, in
 * its domain, or in any domain (ascending) */
gboolean
pol_plug_controller (Policy *p, PolDevice *c, GError **error)
{
  GError *err = NULL;
  guint32 first;

  if (p->roots->len == 1 && !p->numa_aware && c->parent_index < 0)
    {
      AsmPciAddr a;

      if (libvirt_choice (p, c->flags, &a) == CHOICE_WAITING)
        {
          if (a.bus >= c->index &&
              c->pmodel == ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE)
            {
              /* libvirt plugs it in there and refuses it only at the end
               * of its real pass: in the dry run, an error of a later
               * step comes first, so this one waits (the bridge and its
               * bus stay out of the dry run) */
              if (!p->counting)
                return pol_fail (
                    error, c,
                    "PCI controller at index %u (0x%02x) has bus='0x%02x', "
                    "but index must be larger than bus",
                    c->index, c->index, a.bus);
              if (p->late_error == NULL)
                pol_fail (
                    &p->late_error, c,
                    "PCI controller at index %u (0x%02x) has bus='0x%02x', "
                    "but index must be larger than bus",
                    c->index, c->index, a.bus);
              return hold_slot (p, c, &a, error);
            }
          c->addr = a;
          g_ptr_array_add (p->pending_ctrls, c);
          return TRUE;
        }
    }
  if (c->parent_index >= 0)
    {
      AsmPciAddr a;

      if (!next_on_bus (p, (guint32) c->parent_index, c->pmodel, &a))
        return pol_fail (error, c,
                                   "no free slot behind controller "
                                   "%" G_GINT64_FORMAT " for it",
                                   c->parent_index);
      if (!asm_pci_bus_set_add_controller (p->set, c->index, c->pmodel, &a,
                                           &err))
        return reserve_error (p, c, NULL, &a, err, error);
      return after_controller_added (p, c, error);
    }
  first = pol_domain_of (p, c);
  if (asm_pci_bus_set_add_controller_next (p->set, c->index, c->pmodel, first,
                                           NULL, &err))
    return after_controller_added (p, c, error);
  if (!g_error_matches (err, ASM_ERROR, ASM_ERROR_NO_SPACE))
    {
      pol_fail (error, c, "%s", err->message);
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
  if (p->counting)
    {
      /* libvirt's dry run grows for a controller as for a device; what it
       * cannot grow for is its error */
      AsmPciControllerModel models[2];
      guint n = grow_models (p, c->flags, models, &err);

      if (n == 0)
        {
          pol_fail (error, c, "%s", err->message);
          g_error_free (err);
          return FALSE;
        }
      if (p->roots->len == 1 && !p->numa_aware &&
          p->next_index + 1 <= ASM_PCI_POLICY_INDEX_MAX)
        {
          AsmPciAddr a;

          /* libvirt grows the bus and plugs the controller into it, an
           * index above its own; the real pass finds that bus in the
           * list of controllers and the controller waits for it there
           * (libvirt_choice) */
          if (!grow_park (p, models, n, error))
            return FALSE;
          if (libvirt_choice (p, c->flags, &a) == CHOICE_WAITING)
            {
              c->addr = a;
              g_ptr_array_add (p->pending_ctrls, c);
              return TRUE;
            }
        }
      /* the new bus has a higher index than the controller */
      return pol_fail (
          error, c,
          "libvirt adds a %s (index %u) for it, but a controller without an "
          "address plugs into a bus of a lower index only",
          asm_pci_controller_model_to_string (models[0]), p->next_index);
    }
  {
    /* libvirt would also look at the buses of higher indexes */
    AsmPciConnectFlags type = c->flags & ASM_PCI_CONNECT_TYPES_MASK;
    gboolean higher = FALSE;

    for (guint i = 0; i < p->dom->devs->len && !higher; i++)
      {
        PolDevice *o = g_ptr_array_index (p->dom->devs, i);

        higher = o->klass == ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER && o->index > c->index &&
                 (asm_pci_controller_model_get_bus_flags (o->pmodel, TRUE,
                                                          NULL, NULL) &
                  type) != 0;
      }
    return pol_fail (error, c,
                               "a PCI slot is needed to connect a PCI "
                               "controller model='%s', but none is available, "
                               "and it cannot be automatically added%s",
                               asm_pci_controller_model_to_string (c->pmodel),
                               higher
                                   ? " (a controller without an address plugs "
                                     "into a bus of a lower index only)"
                                   : "");
  }
}

/* a controller the policy adds, with the next index */
PolDevice *
pol_new_controller (Policy *p, AsmPciControllerModel model,
                              guint32 domain)
{
  PolDevice *c = pol_add_pci_controller (p->dom, p->next_index++, model);

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
  PolDomain *dom = p->dom;
  gboolean q35 = dom->machine == ASM_PCI_MACHINE_Q35;
  AsmPciControllerModel model = q35 ? ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT
                                    : ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE;
  PolDevice *pxb = NULL, *c;
  AsmPciAddr a;
  GError *err = NULL;

  for (guint i = 0; i < dom->devs->len; i++)
    {
      PolDevice *d = g_ptr_array_index (dom->devs, i);

      if (d->klass == ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER && d->target_node == node &&
          (d->pmodel == ASM_PCI_CONTROLLER_MODEL_PCI_EXPANDER_BUS ||
           d->pmodel == ASM_PCI_CONTROLLER_MODEL_PCIE_EXPANDER_BUS))
        {
          pxb = d;
          break;
        }
    }
  if (pxb == NULL ||
      !asm_pci_bus_set_get_controller (p->set, pxb->index, NULL))
    return pol_fail (error, p->current,
                               "NUMA node %d has no expander bus", node);
  if (!next_on_bus (p, pxb->index, model, &a))
    return pol_fail (error, p->current,
                               "the expander bus of NUMA node %d "
                               "(controller %u) is full",
                               node, pxb->index);
  c = pol_new_controller (p, model, a.domain);
  c->parent_index = pxb->index;
  if (!asm_pci_bus_set_add_controller (p->set, c->index, model, &a, &err))
    return reserve_error (p, c, NULL, &a, err, error);
  own (p, &a, c->name);
  return pol_lock_group (p, c->index, NUMA_GROUP (node), error) &&
         pol_lock_group (p, pxb->index, NUMA_GROUP (node), error);
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
    { ASM_PCI_CONNECT_TYPE_PCI_BRIDGE, "pci-bridge" },
  };

  /* (libvirt names no model for a pcie-to-pci-bridge here:
   * virDomainPCIControllerConnectTypeToModel knows none) */
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
      PolDevice *c = pol_new_controller (p, models[i], 0);

      if (!pol_park (p, c, TRUE, error))
        return FALSE;
      if (n == 2 && i == 0)
        {
          Parked *pk = g_ptr_array_index (p->parked_list,
                                          p->parked_list->len - 1);

          pk->special = TRUE;
          if (!pol_lock_group (p, pk->index, SPECIAL_GROUP, error))
            return FALSE;
        }
    }
  return TRUE;
}

/* The bus set's grow callback: libvirt's virDomainPCIAddressSetGrow, in
 * the dry run only. */
gboolean
pol_grow (AsmPciBusSet *set, AsmPciConnectFlags flags,
                    gpointer user_data, GError **error)
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
  if (p->next_index > ASM_PCI_POLICY_INDEX_MAX)
    {
      /* every bus libvirt can have is there: no growth, and no dry run
       * that parks bus after bus for a device that can never fit */
      g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                   "no PCI slot is left and a new bus would need PCI "
                   "controller index %u, above the maximum of %u",
                   p->next_index, ASM_PCI_POLICY_INDEX_MAX);
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

/* libvirt grows the buses up to one that an given address names */
gboolean
pol_grow_for_fixed (Policy *p, GError **error)
{
  PolDomain *dom = p->dom;

  for (guint i = 0; i < dom->devs->len; i++)
    {
      PolDevice *d = g_ptr_array_index (dom->devs, i);
      guint64 key;

      if (!d->fixed || d->klass == ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER)
        continue;
      key = pol_bus_key (d->addr.domain, d->addr.bus);
      if (!g_hash_table_contains (p->pending_devs, &key))
        continue;
      while (p->next_index <= d->addr.bus &&
             pol_domain_for (p, d->addr.bus) == d->addr.domain)
        {
          AsmPciControllerModel models[2];
          g_autoptr (GError) err = NULL;
          guint n = grow_models (p, d->flags, models, &err);

          if (n == 0)
            return pol_fail (error, d,
                                       "its address is on bus %04x:%02x: %s",
                                       d->addr.domain, d->addr.bus,
                                       err->message);
          if (!grow_park (p, models, n, error))
            return FALSE;
        }
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Steps 5 and 6                                                        */

gboolean
pol_place_next (Policy *p, PolDevice *d, GError **error)
{
  AsmPciAddr a;
  GError *err = NULL;
  guint32 group = 0;

  p->current = d;
  if (p->numa_aware && d->numa_node >= 0)
    group = NUMA_GROUP (d->numa_node);
  if (!asm_pci_bus_set_reserve_next_full (p->set, d->flags, group, &a, &err))
    {
      pol_fail (error, d, "no PCI address for it: %s", err->message);
      g_error_free (err);
      return FALSE;
    }
  own (p, &a, d->name);
  note_use (p, &a);
  d->addr = a;
  d->assigned = TRUE;
  return TRUE;
}

/* USB2 companions (ich9-ehci1 and ich9-uhci1..3 of one index) share a
 * slot: functions 7, 0, 1, 2 */
gboolean
pol_place_usb2 (Policy *p, PolDevice *d, GPtrArray *ctrls,
                          GError **error)
{
  PolDevice *found = NULL;
  AsmPciAddr a;
  GError *err = NULL;

  /* the first companion with an address, in libvirt's list order (the
   * dry run does not record the addresses it finds) */
  for (guint i = 0; i < ctrls->len && found == NULL; i++)
    {
      PolDevice *c = g_ptr_array_index (ctrls, i);

      if (c->usb2_function >= 0 && c->index == d->index && c != d &&
          (c->fixed || (c->assigned && (!p->counting ||
                                        c->role == ASM_PCI_DEVICE_ROLE_Q35_USB_UHCI1))))
        found = c;
    }
  if (d->usb2_function == 0)
    d->multi = ASM_PCI_MULTIFUNCTION_ON;
  if (found != NULL)
    {
      AsmPciAddr t;

      a = found->addr;
      a.function = (guint8) d->usb2_function;
      t = translate (p, &a);
      if (!asm_pci_bus_set_reserve_addr (p->set, &t, d->flags, TRUE, &err))
        return reserve_error (p, d, NULL, &a, err, error);
      own (p, &a, d->name);
      d->addr = a;
      d->assigned = TRUE;
      return TRUE;
    }
  if (!pol_place_next (p, d, error))
    return FALSE;
  if (d->usb2_function == 0)
    return TRUE;
  a = d->addr;
  if (!asm_pci_bus_set_release_addr (p->set, &a, error))
    return FALSE;
  a.function = (guint8) d->usb2_function;
  if (!asm_pci_bus_set_reserve_addr (p->set, &a, d->flags, FALSE, &err))
    return reserve_error (p, d, NULL, &a, err, error);
  own (p, &a, d->name);
  d->addr = a;
  return TRUE;
}

/* libvirt's test before the spare slot of pc: is every slot of every bus
 * (parked ones too) in use? */
gboolean
pol_all_buses_full (Policy *p)
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

gboolean
pol_reserve_spare (Policy *p, AsmPciConnectFlags flags, guint n,
                             GError **error)
{
  for (guint i = 0; i < n; i++)
    {
      AsmPciAddr a;
      GError *err = NULL;

      p->current = NULL;
      if (!asm_pci_bus_set_reserve_next (p->set, flags, &a, &err))
        {
          pol_fail (error, NULL,
                              "no room for a spare hotplug slot: %s",
                              err->message);
          g_error_free (err);
          return FALSE;
        }
      own (p, &a, "a spare hotplug slot");
      note_use (p, &a);
    }
  return TRUE;
}

