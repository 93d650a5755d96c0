/* asm-pci-bus.c: sets of PCI buses (layer 2): the set and its controllers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * This module owns the bus set #AsmPciBusSet: its controllers and the bus
 * each provides, the addresses reserved on them, the search for the next
 * free address, growth, the class index behind that search, and
 * asm_pci_bus_set_check().  What an address or a controller model means on
 * its own (parsing, the model table, names) is asm-pci-addr.c.
 *
 * The set is four files over one private header, asm-pci-bus-private.h
 * (the types, the small accessors, and what one file calls in another):
 *
 *   asm-pci-bus.c          this theory; the set's life (new, ref, clone)
 *                          and its controllers: adding one (plugged in at
 *                          a given address, at the next free one, or
 *                          floating), describing it, its bus's hotplug
 *                          and isolation group;
 *   asm-pci-bus-reserve.c  addresses on the buses: validation, the search
 *                          for the next free one, reserve, release, the
 *                          questions about one address, growth;
 *   asm-pci-bus-state.c    the bookkeeping beneath both: each bus's tuples
 *                          and bitmaps, the room and idle indexes, the
 *                          copy of the whole state;
 *   asm-pci-bus-check.c    asm_pci_bus_set_check(), the invariants of all
 *                          three as code.
 *
 * Each opens with the theory of its part.
 *
 * Meaning (libvirt `domain_addr`, 9.0)
 * ------------------------------------
 * A machine's PCI topology is a set of controllers; each provides one bus,
 * whose accepted connect flags, hotplug support and slot range come from
 * its model (asm_pci_controller_model_get_bus_flags()).
 *
 * Multiple domains (the mapping proposed for libvirt, which itself knows
 * only domain 0): a root controller (pci-root, pcie-root) with index N
 * establishes domain N and provides its bus 0; a non-root controller with
 * index N plugged into domain D provides bus N of D; a non-root
 * controller's index exceeds its root's (D), so index 0 is a root.  It
 * may plug into a bus of a higher index than its own, as libvirt plugs a
 * switch's upstream port into a root port that fills a later index gap,
 * except a pci-bridge (libvirt: "index must be larger than bus").  The
 * controllers still form a tree rooted at D: a controller is only ever
 * added, plugged into a bus that exists, and its own bus is new, so no
 * controller is plugged, directly or not, into its own bus
 * (asm_pci_bus_set_check() walks each path up to the root).
 *
 * Floating controllers (private, for libvirt's policy only): libvirt's
 * address set has the bus of every controller index from the start, so it
 * may plug two controllers into each other's buses (a switch's downstream
 * port into an upstream port that is itself plugged into that downstream
 * port), a cycle it writes out as it is.  The policy cannot plug such a
 * cycle into a tree; asm_pci_bus_set_add_floating_controller() adds one
 * controller of it that provides its bus, in its domain and at its bus id
 * (so searched in (domain, bus) order like any other), but is plugged in
 * nowhere: no held tuple, plugged_at zero.  The set stays a forest: every
 * path up from a controller ends at the root of its domain or at a
 * floating controller, and no controller is plugged, directly or not, into
 * its own bus.  What the floating controller's slot is, the caller
 * reserves as a plain address (the set does not know it holds a
 * controller).
 * Bus ids are not limited to 8 bits, but a domain holds at most 256 buses.
 * Domains are 16-bit PCI segments, so a root's index is at most 0xffff.
 *
 * Invariants (asm_pci_bus_set_check()): a root has domain == index
 * (<= 0xffff) and bus 0; a non-root has bus == index, above its root's
 * index (a pci-bridge: above its parent's); a floating controller is
 * neither a root nor a pci-bridge; a controller that is neither a root nor
 * floating is plugged at an address of a bus of its own domain, reserved
 * and marked held there, and the held marks are exactly those addresses;
 * every path up ends at the root or at a floating controller of the
 * domain; a root counts the buses of its domain, at most 256; a bus
 * accepts its model's flags (hotplug on or off) over its model's slots.
 *
 * Costs: add_controller O(log n); add_controller_next as reserve_next,
 * O(k log n) (asm-pci-bus-reserve.c); hotplug and isolation group changes
 * O(log n); the questions about a controller O(1);
 * asm_pci_bus_set_clone() O(buses + classes x domains), each space cloned
 * copy-on-write.
 *
 * Locking: none; a container like GHashTable.  A copy may be read from
 * another thread.
 */
#include <asm/asm-pci.h>

#include <string.h>

#include "asm-pci-bus-private.h"
#include "asm-pci-private.h"
#include "asm-boxed-private.h"

ASM_DEFINE_VALUE_TYPE (AsmPciControllerInfo, asm_pci_controller_info)
G_DEFINE_BOXED_TYPE (AsmPciBusSet, asm_pci_bus_set, asm_pci_bus_set_ref,
                     asm_pci_bus_set_unref)

/* Whether the bus of a @model controller can support hotplug at all. */
static gboolean
model_has_hotplug (AsmPciControllerModel model)
{
  return (asm_pci_controller_model_get_bus_flags (model, TRUE, NULL, NULL) &
          ASM_PCI_CONNECT_HOTPLUGGABLE) != 0;
}

/* ------------------------------------------------------------------ */
/* The set                                                              */

/**
 * asm_pci_bus_set_new:
 *
 * Creates an empty set: no controller, no bus.  Add a root controller
 * (index 0) first.
 *
 * Returns: (transfer full): the set
 *
 * Since: 0.1
 */
AsmPciBusSet *
asm_pci_bus_set_new (void)
{
  AsmPciBusSet *set = g_new0 (AsmPciBusSet, 1);

  set->ref = 1;
  set->st = pci_bus_state_alloc ();
  return set;
}

/**
 * asm_pci_bus_set_ref:
 * @set: a set
 *
 * Takes a reference on a bus set.
 *
 * Returns: (transfer full): @set, with one more reference
 *
 * Since: 0.1
 */
AsmPciBusSet *
asm_pci_bus_set_ref (AsmPciBusSet *set)
{
  g_return_val_if_fail (set != NULL, NULL);
  g_atomic_int_inc (&set->ref);
  return set;
}

/**
 * asm_pci_bus_set_unref:
 * @set: (nullable) (transfer full): a set
 *
 * Drops a reference; the last one frees the set (and calls the grow
 * callback's destroy notify).
 *
 * Since: 0.1
 */
void
asm_pci_bus_set_unref (AsmPciBusSet *set)
{
  if (set == NULL || !g_atomic_int_dec_and_test (&set->ref))
    return;
  if (set->grow_destroy != NULL)
    set->grow_destroy (set->grow_data);
  pci_bus_state_free (set->st);
  g_free (set);
}

/**
 * asm_pci_bus_set_clone:
 * @set: a set
 *
 * An independent copy of @set's controllers, buses and reservations (for a
 * dry run: place every device on the copy, then on the real set).  The
 * grow callback is not copied.  O(buses); the address spaces beneath are
 * cloned copy-on-write.
 *
 * Returns: (transfer full): the copy
 *
 * Since: 0.1
 */
AsmPciBusSet *
asm_pci_bus_set_clone (AsmPciBusSet *set)
{
  AsmPciBusSet *c;

  g_return_val_if_fail (set != NULL, NULL);
  c = g_new0 (AsmPciBusSet, 1);
  c->ref = 1;
  c->st = pci_bus_state_copy (set->st);
  return c;
}

/* The checks common to both ways of adding a controller. */
static gboolean
validate_new_controller (State *st, guint32 index,
                         AsmPciControllerModel model, GError **error)
{
  Bus *old;

  if (!model_valid (model))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "controller %u: model %d is not a PCI controller model",
                   index, (int) model);
      return FALSE;
    }
  if (index == 0 && !asm_pci_controller_model_is_root (model))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "controller index 0 must be a root controller (pci-root or "
                   "pcie-root), not %s", model_name (model));
      return FALSE;
    }
  old = lookup_index (st, index);
  if (old != NULL)
    {
      g_autofree char *name = asm_pci_controller_name (old->model,
                                                       old->index);
      g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                   "controller index %u is already used (%s %s)", index,
                   model_name (old->model), name);
      return FALSE;
    }
  return TRUE;
}

/* The bus of a non-root controller plugging into (domain, parent_bus). */
static Bus *
validate_parent (State *st, guint32 index, AsmPciControllerModel model,
                 guint32 domain, guint32 parent_bus, GError **error)
{
  Bus *root, *parent;

  if (domain > ASM_PCI_DOMAIN_LAST)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s controller %u: domain %#x is out of range 0..%#x",
                   model_name (model), index, domain, ASM_PCI_DOMAIN_LAST);
      return NULL;
    }
  root = lookup_index (st, domain);
  if (root == NULL || !root->is_root)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                   "%s controller %u: domain %04x does not exist (no root "
                   "controller has index %u)",
                   model_name (model), index, domain, domain);
      return NULL;
    }
  parent = lookup_bus (st, domain, parent_bus);
  if (parent == NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                   "%s controller %u: bus %04x:%02x does not exist (no "
                   "controller provides it)",
                   model_name (model), index, domain, parent_bus);
      return NULL;
    }
  /* the domain's root is every bus's ancestor: a non-root index above
   * it keeps index 0 a root and the domain of an index unambiguous */
  if (index <= root->index ||
      (model == ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE && index <= parent->index))
    {
      Bus *above = index <= root->index ? root : parent;
      g_autofree char *name = asm_pci_controller_name (above->model,
                                                       above->index);
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s controller %u: its index must be above %u, the index "
                   "of %s (%s)%s",
                   model_name (model), index, above->index, name,
                   model_name (above->model),
                   above == root ? ", the root of its domain"
                                 : ", whose bus a pci-bridge plugs into");
      return NULL;
    }
  if (root->n_domain_buses >= ASM_PCI_MAX_BUSES_PER_DOMAIN)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                   "%s controller %u: domain %04x already holds %u buses, "
                   "the most one PCI domain can hold",
                   model_name (model), index, domain,
                   ASM_PCI_MAX_BUSES_PER_DOMAIN);
      return NULL;
    }
  return parent;
}

/**
 * asm_pci_bus_set_add_controller:
 * @set: a set
 * @index: the controller index
 * @model: the controller model
 * @plugged_at: (nullable): where a non-root controller is plugged in;
 *   %NULL for a root
 * @error: return location for a #GError
 *
 * Adds a controller and the bus it provides, with the multi-domain
 * mapping proposed for libvirt: a root (pci-root, pcie-root) with index N
 * establishes domain N and provides bus N:0; a non-root controller with
 * index N plugged into a bus of domain D provides bus D:N.  A non-root
 * controller's index must exceed its root's (D), so index 0 is a root; it
 * may plug into a bus of a higher index, except a pci-bridge, whose index
 * must exceed that of the bus it plugs into (libvirt's rule).  @plugged_at
 * is reserved on that bus with the model's connect flags
 * (asm_pci_controller_model_get_connect_flags()), as an address from
 * configuration, isolation group 0.  Gaps between indexes are allowed.
 * The new bus has hotplug on where the model allows it, isolation group 0,
 * unlocked.
 *
 * Errors: %ASM_ERROR_INVALID for an unknown model, a non-root index 0, a
 * root given @plugged_at or a non-root not given one, a root index above
 * 0xffff, an index not above the root's (or, for a pci-bridge, the
 * parent's), or a @plugged_at that the
 * parent bus does not accept (see asm_pci_bus_set_reserve_addr());
 * %ASM_ERROR_IN_USE for an index already used or a @plugged_at in use;
 * %ASM_ERROR_NOT_FOUND when the domain or the parent bus does not exist;
 * %ASM_ERROR_NO_SPACE when the domain already holds 256 buses.  Nothing
 * changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_pci_bus_set_add_controller (AsmPciBusSet *set, guint32 index,
                                AsmPciControllerModel model,
                                const AsmPciAddr *plugged_at, GError **error)
{
  State *st;
  Bus *parent;
  AsmPciConnectFlags flags;

  g_return_val_if_fail (set != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  st = set->st;

  if (!validate_new_controller (st, index, model, error))
    return FALSE;
  if (asm_pci_controller_model_is_root (model))
    {
      if (plugged_at != NULL)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "%s controller %u is a root: it is plugged into no "
                       "bus", model_name (model), index);
          return FALSE;
        }
      if (index > ASM_PCI_DOMAIN_LAST)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "%s controller index %#x is out of range 0..%#x (a "
                       "root's index is its 16-bit PCI domain)",
                       model_name (model), index, ASM_PCI_DOMAIN_LAST);
          return FALSE;
        }
      pci_bus_add (st, index, model, index, NULL);
      return TRUE;
    }

  if (plugged_at == NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s controller %u needs the address it is plugged in at",
                   model_name (model), index);
      return FALSE;
    }
  parent = validate_parent (st, index, model, plugged_at->domain,
                            plugged_at->bus, error);
  if (parent == NULL)
    return FALSE;
  flags = asm_pci_controller_model_get_connect_flags (model);
  if (pci_bus_validate_addr (st, plugged_at, flags, TRUE, error) == NULL)
    {
      g_prefix_error (error, "%s controller %u: ", model_name (model), index);
      return FALSE;
    }
  if ((parent->funcs[plugged_at->slot] >> plugged_at->function) & 1)
    {
      g_autofree char *s = asm_pci_addr_format (plugged_at);
      g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                   "%s controller %u: %s is already in use",
                   model_name (model), index, s);
      return FALSE;
    }
  pci_bus_commit_reserve (st, parent, plugged_at, flags, 0, TRUE);
  parent->held[plugged_at->slot] |= (guint8) (1u << plugged_at->function);
  pci_bus_add (st, index, model, plugged_at->domain, plugged_at);
  return TRUE;
}

/* The checks of a controller not yet plugged in, before the set places it
 * (@floating FALSE) or leaves it floating: a new index, a model that is
 * not a root (nor, floating, a pci-bridge), and bus 0 of @domain as a
 * parent, which checks the domain, the index order against the root and
 * the domain's bus count. */
static gboolean
validate_unplugged (State *st, guint32 index, AsmPciControllerModel model,
                    guint32 domain, gboolean floating, GError **error)
{
  if (!validate_new_controller (st, index, model, error))
    return FALSE;
  if (!floating && asm_pci_controller_model_is_root (model))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s controller %u is a root: it is plugged into no bus",
                   model_name (model), index);
      return FALSE;
    }
  if (floating && (asm_pci_controller_model_is_root (model) ||
                   model == ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s controller %u cannot float (plugged in nowhere)",
                   model_name (model), index);
      return FALSE;
    }
  return validate_parent (st, index, model, domain, 0, error) != NULL;
}

/**
 * asm_pci_bus_set_add_controller_next:
 * @set: a set
 * @index: the controller index
 * @model: a non-root controller model
 * @domain: the domain to add it to
 * @out_plugged_at: (out) (optional): where it was plugged in
 * @error: return location for a #GError
 *
 * Adds a non-root controller at the next free address of @domain that
 * accepts its connect flags, as asm_pci_bus_set_reserve_next() would choose
 * it (isolation group 0), among the buses whose controller index is below
 * @index.  Meant for growth policies (#AsmPciGrowFunc); never calls the
 * grow callback.
 *
 * Errors: as asm_pci_bus_set_add_controller(); %ASM_ERROR_INVALID also for
 * a root @model or when @domain's root index is not below @index;
 * %ASM_ERROR_NO_SPACE when no address fits.  Nothing changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_pci_bus_set_add_controller_next (AsmPciBusSet *set, guint32 index,
                                     AsmPciControllerModel model,
                                     guint32 domain,
                                     AsmPciAddr *out_plugged_at,
                                     GError **error)
{
  State *st;
  Bus *parent;
  AsmPciAddr a;
  Scope scope;
  AsmPciConnectFlags connect;

  g_return_val_if_fail (set != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  st = set->st;

  if (!validate_unplugged (st, index, model, domain, FALSE, error))
    return FALSE;
  scope.domain_first = scope.domain_last = domain;
  scope.bus_first = 0;
  scope.bus_last = index - 1;
  connect = asm_pci_controller_model_get_connect_flags (model);
  if (!pci_bus_find_next (st, connect, 0, &scope, &a))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                   "%s controller %u: no free address in domain %04x on a bus "
                   "below index %u accepts a %s",
                   model_name (model), index, domain, index,
                   asm_pci_connect_type_name (connect));
      return FALSE;
    }
  parent = lookup_bus (st, a.domain, a.bus);
  pci_bus_commit_reserve (st, parent, &a, connect, 0, FALSE);
  parent->held[a.slot] |= (guint8) (1u << a.function);
  pci_bus_add (st, index, model, domain, &a);
  if (out_plugged_at != NULL)
    *out_plugged_at = a;
  return TRUE;
}

/* Adds controller @index of the non-root @model to @domain, providing its
 * bus (@domain, @index) but plugged in nowhere: a floating controller (see
 * the theory above).  For the PCI policy's cycles of controllers only; not
 * public.  Errors as asm_pci_bus_set_add_controller() for the index, the
 * model, the domain and its bus count; %ASM_ERROR_INVALID for a root
 * model or a pci-bridge (whose index must exceed that of a bus it plugs
 * into, which a floating one has not).  Nothing changes on error. */
gboolean
asm_pci_bus_set_add_floating_controller (AsmPciBusSet *set, guint32 index,
                                         AsmPciControllerModel model,
                                         guint32 domain, GError **error)
{
  State *st;
  Bus *b;

  g_return_val_if_fail (set != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  st = set->st;

  if (!validate_unplugged (st, index, model, domain, TRUE, error))
    return FALSE;
  b = pci_bus_add (st, index, model, domain, NULL);
  b->floating = TRUE;
  return TRUE;
}

/* Whether controller @index is floating. */
gboolean
asm_pci_bus_set_is_floating (AsmPciBusSet *set, guint32 index)
{
  Bus *b;

  g_return_val_if_fail (set != NULL, FALSE);
  b = lookup_index (set->st, index);
  return b != NULL && b->floating;
}

/**
 * asm_pci_bus_set_get_n_controllers:
 * @set: a set
 *
 * Counts the controllers of the set.
 *
 * Returns: the number of controllers (and buses)
 *
 * Since: 0.1
 */
guint
asm_pci_bus_set_get_n_controllers (AsmPciBusSet *set)
{
  g_return_val_if_fail (set != NULL, 0);
  return g_hash_table_size (set->st->by_index);
}

/**
 * asm_pci_bus_set_get_controller:
 * @set: a set
 * @index: a controller index
 * @out_info: (out caller-allocates) (optional): the controller and its bus
 *
 * Describes the controller with index @index and the bus it provides.
 *
 * Returns: %TRUE when a controller has @index
 *
 * Since: 0.1
 */
gboolean
asm_pci_bus_set_get_controller (AsmPciBusSet *set, guint32 index,
                                AsmPciControllerInfo *out_info)
{
  Bus *b;

  g_return_val_if_fail (set != NULL, FALSE);
  b = lookup_index (set->st, index);
  if (b == NULL)
    return FALSE;
  if (out_info != NULL)
    {
      memset (out_info, 0, sizeof (*out_info));
      out_info->index = b->index;
      out_info->model = b->model;
      out_info->is_root = b->is_root;
      out_info->domain = b->domain;
      out_info->bus = b->bus;
      out_info->plugged_at = b->plugged_at;
      out_info->accepts = b->accepts;
      out_info->min_slot = b->min_slot;
      out_info->max_slot = b->max_slot;
      out_info->isolation_group = b->group;
      out_info->isolation_locked = b->locked;
      out_info->n_reserved = b->n_used;
    }
  return TRUE;
}

/**
 * asm_pci_bus_set_get_controller_name:
 * @set: a set
 * @index: a controller index
 *
 * The name of the controller's bus as libvirt gives it to QEMU: `pcie.N`
 * for a pcie-root, `pci.N` for every other model (pci-root included), N
 * being the index.
 *
 * Returns: (transfer full) (nullable): the name, or %NULL when no
 *   controller has @index
 *
 * Since: 0.1
 */
char *
asm_pci_bus_set_get_controller_name (AsmPciBusSet *set, guint32 index)
{
  Bus *b;

  g_return_val_if_fail (set != NULL, NULL);
  b = lookup_index (set->st, index);
  return b != NULL ? asm_pci_controller_name (b->model, b->index) : NULL;
}

/**
 * asm_pci_bus_set_find_controller:
 * @set: a set
 * @domain: a domain
 * @bus: a bus id in @domain
 * @out_index: (out) (optional): the index of the controller providing it
 *
 * Maps a `domain:bus` pair to a controller index (`0000:00` is root 0,
 * `000f:1b` is the non-root controller 27 plugged into domain 15).
 *
 * Returns: %TRUE when the bus exists
 *
 * Since: 0.1
 */
gboolean
asm_pci_bus_set_find_controller (AsmPciBusSet *set, guint32 domain,
                                 guint32 bus, guint32 *out_index)
{
  Bus *b;

  g_return_val_if_fail (set != NULL, FALSE);
  b = lookup_bus (set->st, domain, bus);
  if (b == NULL)
    return FALSE;
  if (out_index != NULL)
    *out_index = b->index;
  return TRUE;
}

static Bus *
controller_or_error (State *st, guint32 index, GError **error)
{
  Bus *b = lookup_index (st, index);

  if (b == NULL)
    g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                 "no controller has index %u", index);
  return b;
}

/**
 * asm_pci_bus_set_set_hotplug:
 * @set: a set
 * @index: a controller index
 * @hotplug: whether its bus supports hotplug
 * @error: return location for a #GError
 *
 * Turns hotplug on or off for one bus (libvirt's `hotplug='off'` on a
 * controller).  Addresses already reserved stay.  O(log n).
 *
 * Errors: %ASM_ERROR_NOT_FOUND for an unknown index; %ASM_ERROR_INVALID
 * when turning it on for a model whose bus never supports hotplug
 * (pcie-root, dmi-to-pci-bridge, switch upstream port, pcie-expander-bus).
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_pci_bus_set_set_hotplug (AsmPciBusSet *set, guint32 index,
                             gboolean hotplug, GError **error)
{
  State *st;
  Bus *b;

  g_return_val_if_fail (set != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  st = set->st;
  if ((b = controller_or_error (st, index, error)) == NULL)
    return FALSE;
  if (hotplug && !model_has_hotplug (b->model))
    {
      g_autofree char *bd = pci_bus_describe (b);
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s never supports hotplug", bd);
      return FALSE;
    }
  pci_bus_move (st, b,
                asm_pci_controller_model_get_bus_flags (b->model, hotplug, NULL,
                                                        NULL),
                b->group);
  return TRUE;
}

/**
 * asm_pci_bus_set_set_isolation_group:
 * @set: a set
 * @index: a controller index
 * @group: the isolation group of its bus
 * @locked: %TRUE to keep @group when the bus is empty (libvirt's
 *   `isolationGroupLocked`), %FALSE to let the first device on the empty
 *   bus choose
 * @error: return location for a #GError
 *
 * Sets a bus's isolation group.  asm_pci_bus_set_reserve_next_full() puts a
 * device on a bus of its own group first, else on the lowest empty unlocked
 * bus, which adopts the device's group.  O(log n).
 *
 * Errors: %ASM_ERROR_NOT_FOUND for an unknown index.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_pci_bus_set_set_isolation_group (AsmPciBusSet *set, guint32 index,
                                     guint32 group, gboolean locked,
                                     GError **error)
{
  State *st;
  Bus *b;

  g_return_val_if_fail (set != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  st = set->st;
  if ((b = controller_or_error (st, index, error)) == NULL)
    return FALSE;
  pci_bus_move (st, b, b->accepts, group);
  pci_bus_set_locked (st, b, locked);
  return TRUE;
}
