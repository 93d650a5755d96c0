/* asm-pci-bus-reserve.c: sets of PCI buses (layer 2): addresses on the buses
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * This file places devices on the buses of an #AsmPciBusSet: it checks that
 * an address may hold a device (libvirt's virDomainPCIAddressValidate),
 * finds the next free address, reserves and releases addresses, answers the
 * questions about one address, visits the reserved ones, and grows the set
 * when the search finds nothing.  The controllers, the buses they provide
 * and the meaning of domains are in asm-pci-bus.c; every reservation and
 * release goes through the bookkeeping of asm-pci-bus-state.c
 * (pci_bus_take(), pci_bus_give(), pci_bus_apply_group()), and the search
 * reads the indexes kept there.
 *
 * Meaning (libvirt `domain_addr`, 9.0)
 * ------------------------------------
 * A device fits a bus when their connect flags are compatible
 * (libvirt's virDomainPCIAddressFlagsCompatible; the rules are in
 * asm-pci-addr.c, asm_pci_connect_fits()).
 *
 * A slot is 8 functions plus an "aggregate" mark.  Reserving the first
 * function of an empty slot with AGGREGATE_SLOT marks the slot aggregate;
 * the mark goes when the slot's last function is released (libvirt keeps a
 * stale mark; clearing it keeps the meaning "this slot holds aggregating
 * devices").  An exact reservation may take any free function of any slot.
 *
 * Next free address (virDomainPCIAddressGetNextAddr and
 * FindUnusedFunctionOnBus, function "any"): buses in (domain, bus) order,
 * slots in order; a slot qualifies when it is empty (function 0), or, for an
 * AGGREGATE_SLOT device, when it is an aggregate slot with a free function
 * (its lowest one).  So the answer is the lexicographically lowest of
 * "function 0 of a wholly free slot" and, for aggregating devices, "a free
 * function of an aggregate slot", over the buses that fit.  No cursor.
 *
 * Isolation groups (all of libvirt's rules): a bus has a group and a
 * "locked" flag.  The search first considers only buses of the device's
 * group; failing that, the lowest empty, unlocked bus that fits (which then
 * adopts the group).  Any reservation on an empty unlocked bus sets the
 * bus's group to the device's; a reservation from configuration whose group
 * differs from a non-empty (or locked) bus's resets the bus to group 0.
 *
 * Search
 * ------
 * reserve_next asks, for each class of the device's group that fits the
 * flags, the lowest domain with empty room, then its lowest bus, then
 * that bus's lowest wholly free slot (asm_addr_space_find_free() with
 * n_whole_dims 1); for an aggregating device likewise the lowest bus with
 * aggregate room, then its lowest free function in an aggregate slot (from
 * the bitmap); the lowest answer wins; failing all that, the lowest idle
 * bus.  The cost is O(k log n) with k the number of classes (a handful of
 * models x hotplug, per group) and n at most 65536 domains or 256 buses or
 * 256 tuples: never a walk over buses or slots (libvirt scans
 * O(buses x 32 x 8) per device).
 *
 * All or nothing: every check comes first (pci_bus_validate_addr(), the
 * address free), and pci_bus_commit_reserve() cannot fail on a validated
 * free address; an address that holds a controller is never released.
 *
 * Costs: reserve/release O(log n); is_reserved, is_aggregate_slot and
 * is_multifunction O(1) from the bitmaps; foreach_reserved sorts the buses
 * and walks the bitmaps of those in use, O(buses log buses + 256 x buses
 * in use).
 *
 * Growth: when reserve_next finds nothing and a grow callback is set, the
 * whole state is copied (O(buses)), the callback runs once, and the search
 * is retried once.  If that fails too, the copy is put back: whatever the
 * callback added is rolled back and the call fails with NO_SPACE, so a
 * failed call changes nothing.
 */
#include "asm-pci-bus-private.h"

#include "asm-bug-private.h"
#include "asm-pci-private.h"

/* ------------------------------------------------------------------ */
/* Validation                                                           */

char *
pci_bus_describe (const Bus *b)
{
  g_autofree char *name = asm_pci_controller_name (b->model, b->index);
  return g_strdup_printf ("bus %04x:%02x (%s %s)", b->domain, b->bus,
                          model_name (b->model), name);
}

static Bus *resolve_addr_error (const AsmPciAddr *a, GError **error);

/* The parts of @a are in range and its bus exists. */
static Bus *
resolve_addr (State *st, const AsmPciAddr *a, GError **error)
{
  Bus *b;

  if (a->domain <= ASM_PCI_DOMAIN_LAST && a->slot <= ASM_PCI_SLOT_LAST &&
      a->function <= ASM_PCI_FUNCTION_LAST &&
      (b = lookup_bus (st, a->domain, a->bus)) != NULL)
    return b;
  return resolve_addr_error (a, error);
}

/* The error of resolve_addr(), formatted only when there is one. */
static Bus *
resolve_addr_error (const AsmPciAddr *a, GError **error)
{
  g_autofree char *s = asm_pci_addr_format (a);

  if (a->domain > ASM_PCI_DOMAIN_LAST)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: domain %#x is out of range 0..%#x", s, a->domain,
                   ASM_PCI_DOMAIN_LAST);
      return NULL;
    }
  if (a->slot > ASM_PCI_SLOT_LAST)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: slot %#x is out of range 0..%#x", s, a->slot,
                   ASM_PCI_SLOT_LAST);
      return NULL;
    }
  if (a->function > ASM_PCI_FUNCTION_LAST)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: function %u is out of range 0..%u", s, a->function,
                   ASM_PCI_FUNCTION_LAST);
      return NULL;
    }
  g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
               "%s: bus %04x:%02x does not exist (no controller provides it)",
               s, a->domain, a->bus);
  return NULL;
}

/* libvirt's virDomainPCIAddressValidate: the bus exists, takes @flags, and
 * the slot is in its range. */
Bus *
pci_bus_validate_addr (State *st, const AsmPciAddr *a, AsmPciConnectFlags flags,
                       gboolean from_config, GError **error)
{
  g_autofree char *s = NULL;
  g_autofree char *bd = NULL;
  Bus *b;
  AsmPciFit fit;

  if (!asm_pci_connect_flags_check (flags, error) ||
      (b = resolve_addr (st, a, error)) == NULL)
    return NULL;
  fit = asm_pci_connect_fits (b->accepts, b->bus == 0, flags, from_config);
  if (fit == ASM_PCI_FIT_OK && a->slot >= b->min_slot &&
      a->slot <= b->max_slot)
    return b;
  s = asm_pci_addr_format (a);
  bd = pci_bus_describe (b);
  switch (fit)
    {
    case ASM_PCI_FIT_OK:
      break;
    case ASM_PCI_FIT_NOT_INTEGRATED:
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: an integrated device must be on bus 0 of its domain, "
                   "not on %s", s, bd);
      return NULL;
    case ASM_PCI_FIT_NO_AUTOASSIGN:
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: %s does not take auto-assigned devices", s, bd);
      return NULL;
    case ASM_PCI_FIT_NO_HOTPLUG:
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: %s does not support hotplug, which the device needs",
                   s, bd);
      return NULL;
    case ASM_PCI_FIT_NO_TYPE:
    default:
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: %s does not accept a %s", s, bd,
                   asm_pci_connect_type_name (flags));
      return NULL;
    }
  if (a->slot < b->min_slot || a->slot > b->max_slot)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: slot %#x is out of range %#x..%#x of %s", s, a->slot,
                   b->min_slot, b->max_slot, bd);
      return NULL;
    }
  return b;
}

/* ------------------------------------------------------------------ */
/* Search                                                               */

static const Scope scope_all = { 0, ASM_PCI_DOMAIN_LAST, 0, G_MAXUINT32 };

/* The lowest bus of @c inside @scope with room @r, or NULL.  One lookup
 * in the domain index and one in that domain's bus index; when @scope
 * narrows the buses, domains with room only outside it are skipped one by
 * one (only for integrated devices, which look at bus 0 of each domain). */
static Bus *
class_lowest_bus (State *st, Class *c, guint r, const Scope *scope)
{
  AsmRange dwithin[1] = { ASM_RANGE (scope->domain_first,
                                     scope->domain_last) };
  AsmRange bwithin[1] = { ASM_RANGE (scope->bus_first, scope->bus_last) };

  if (c->n[r] == 0)
    return NULL;
  for (;;)
    {
      guint64 d, bus;
      DomainRoom *dr;

      if (!asm_addr_space_find_free (c->room[r], dwithin, 0, &d, NULL))
        return NULL;
      dr = g_hash_table_lookup (c->domains, GUINT_TO_POINTER ((guint) d));
      if (asm_addr_space_find_free (dr->room[r], bwithin, 0, &bus, NULL))
        return lookup_bus (st, (guint32) d, (guint32) bus);
      if (d >= dwithin[0].last)
        return NULL;
      dwithin[0].first = d + 1;
    }
}

/* The lowest wholly free slot of @b, from its space. */
static guint
bus_lowest_empty_slot (const Bus *b)
{
  AsmRange box[N_DIMS];
  guint64 t[N_DIMS];
  GError *err = NULL;

  bus_box (box, b);
  if (!asm_addr_space_find_free (b->space, box, 1, t, &err))
    broken (b->space, err); /* n_empty > 0 */
  return (guint) t[2];
}

/* The lowest free function of an aggregate slot of @b: libvirt's
 * FindUnusedFunctionOnBus order (slots, then functions). */
static void
bus_lowest_agg_function (const Bus *b, guint *out_slot, guint *out_function)
{
  for (guint s = b->min_slot; s <= b->max_slot; s++)
    if (slot_is_aggregate (b, s) && b->funcs[s] != 0xff)
      for (guint f = 0; f <= ASM_PCI_FUNCTION_LAST; f++)
        if (!((b->funcs[s] >> f) & 1))
          {
            *out_slot = s;
            *out_function = f;
            return;
          }
  ASM_BUG ("bus %04x:%02x: aggregate room count broken (%u free functions "
           "counted, none found)", b->domain, b->bus, b->n_agg_free);
}

static void
consider (gboolean *found, AsmPciAddr *best, const AsmPciAddr *a)
{
  if (!*found || asm_pci_addr_compare (a, best) < 0)
    *best = *a;
  *found = TRUE;
}

/* The next free address for @flags in @group inside @scope (libvirt's
 * GetNextAddr with function "any"); FALSE when there is none. */
gboolean
pci_bus_find_next (State *st, AsmPciConnectFlags flags, guint32 group,
                   const Scope *scope_in, AsmPciAddr *out)
{
  Scope scope = *scope_in;
  AsmPciAddr best = { 0 }, a;
  gboolean found = FALSE;
  GArray *ids;

  if (flags & ASM_PCI_CONNECT_INTEGRATED)
    {
      if (scope.bus_first > 0)
        return FALSE;
      scope.bus_last = 0;
    }

  /* pass 1: the buses of the device's isolation group */
  ids = g_hash_table_lookup (st->groups, GUINT_TO_POINTER (group));
  for (guint i = 0; ids != NULL && i < ids->len; i++)
    {
      Class *c = class_at (st, g_array_index (ids, guint, i));
      Bus *b;

      if (asm_pci_connect_fits (c->accepts, TRUE, flags, FALSE) !=
          ASM_PCI_FIT_OK)
        continue;
      if ((b = class_lowest_bus (st, c, ROOM_EMPTY, &scope)) != NULL)
        {
          a = (AsmPciAddr) { b->domain, b->bus,
                             (guint8) bus_lowest_empty_slot (b), 0 };
          consider (&found, &best, &a);
        }
      if ((flags & ASM_PCI_CONNECT_AGGREGATE_SLOT) &&
          (b = class_lowest_bus (st, c, ROOM_AGG, &scope)) != NULL)
        {
          guint s, f;
          bus_lowest_agg_function (b, &s, &f);
          a = (AsmPciAddr) { b->domain, b->bus, (guint8) s, (guint8) f };
          consider (&found, &best, &a);
        }
    }

  /* pass 2: the lowest empty, unlocked bus, which will adopt the group */
  if (!found)
    {
      AsmRange within[2] = { ASM_RANGE (scope.domain_first,
                                        scope.domain_last),
                             ASM_RANGE (scope.bus_first, scope.bus_last) };
      for (guint i = 0; i < st->empties->len; i++)
        {
          Empties *e = empties_at (st, i);
          guint64 t[2];
          Bus *b;

          if (e->n_idle == 0 ||
              asm_pci_connect_fits (e->accepts, TRUE, flags, FALSE) !=
                  ASM_PCI_FIT_OK)
            continue;
          if (!asm_addr_space_find_free (e->idle, within, 0, t, NULL))
            continue;
          b = lookup_bus (st, (guint32) t[0], (guint32) t[1]);
          ASM_BUG_UNLESS (b != NULL && b->n_used == 0); /* idle index */
          a = (AsmPciAddr) { b->domain, b->bus, b->min_slot, 0 };
          consider (&found, &best, &a);
        }
    }
  if (found)
    *out = best;
  return found;
}

/* Reserves @a (validated, free) for a device. */
void
pci_bus_commit_reserve (State *st, Bus *b, const AsmPciAddr *a,
                        AsmPciConnectFlags flags, guint32 group,
                        gboolean from_config)
{
  gboolean was_empty = b->n_used == 0;

  pci_bus_take (st, b, a->slot, a->function,
                (flags & ASM_PCI_CONNECT_AGGREGATE_SLOT) != 0);
  pci_bus_apply_group (st, b, was_empty, group, from_config);
}

/**
 * asm_pci_bus_set_reserve_addr_full:
 * @set: a set
 * @addr: the address to reserve
 * @flags: the device's connect flags
 * @isolation_group: the device's isolation group
 * @from_config: %TRUE when @addr was given in configuration (looser rules,
 *   and a group mismatch resets the bus's group to 0)
 * @error: return location for a #GError
 *
 * Reserves exactly @addr (libvirt's virDomainPCIAddressReserveAddr).  The
 * bus must exist and accept @flags: they share a type bit; an
 * %ASM_PCI_CONNECT_INTEGRATED device is on bus 0; a
 * %ASM_PCI_CONNECT_HOTPLUGGABLE device needs a hotplug bus; unless
 * @from_config, an %ASM_PCI_CONNECT_AUTOASSIGN device needs a bus that
 * takes auto-assigned devices.  With @from_config, PCI and PCIe endpoints
 * are interchangeable and a pci-bridge may go where a PCI device may.  The
 * slot must be in the bus's range.  Any free function of any slot may be
 * taken; the first function of an empty slot taken with
 * %ASM_PCI_CONNECT_AGGREGATE_SLOT makes it an aggregate slot.  On an empty
 * unlocked bus the bus adopts @isolation_group.
 *
 * Errors: %ASM_ERROR_INVALID for bad flags, a part out of range, a bus that
 * does not accept @flags, or a slot outside the bus's range;
 * %ASM_ERROR_NOT_FOUND when the bus does not exist; %ASM_ERROR_IN_USE when
 * @addr is reserved.  Nothing changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_pci_bus_set_reserve_addr_full (AsmPciBusSet *set, const AsmPciAddr *addr,
                                   AsmPciConnectFlags flags,
                                   guint32 isolation_group,
                                   gboolean from_config, GError **error)
{
  State *st;
  Bus *b;

  g_return_val_if_fail (set != NULL && addr != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  st = set->st;

  if ((b = pci_bus_validate_addr (st, addr, flags, from_config, error)) == NULL)
    return FALSE;
  if ((b->funcs[addr->slot] >> addr->function) & 1)
    {
      g_autofree char *s = asm_pci_addr_format (addr);
      g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE, "%s is already in use",
                   s);
      return FALSE;
    }
  pci_bus_commit_reserve (st, b, addr, flags, isolation_group, from_config);
  return TRUE;
}

/**
 * asm_pci_bus_set_reserve_addr:
 * @set: a set
 * @addr: the address to reserve
 * @flags: the device's connect flags
 * @from_config: %TRUE when @addr was given in configuration
 * @error: return location for a #GError
 *
 * asm_pci_bus_set_reserve_addr_full() with isolation group 0.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_pci_bus_set_reserve_addr (AsmPciBusSet *set, const AsmPciAddr *addr,
                              AsmPciConnectFlags flags, gboolean from_config,
                              GError **error)
{
  return asm_pci_bus_set_reserve_addr_full (set, addr, flags, 0, from_config,
                                            error);
}

/**
 * asm_pci_bus_set_reserve_slot:
 * @set: a set
 * @addr: function 0 of the slot to reserve
 * @flags: the device's connect flags
 * @from_config: %TRUE when @addr was given in configuration
 * @error: return location for a #GError
 *
 * Reserves all 8 functions of a slot, all or nothing (for a device that
 * must own its slot, or to keep a slot free of other devices), checked as
 * asm_pci_bus_set_reserve_addr() checks one function; isolation group 0.
 *
 * Errors: as asm_pci_bus_set_reserve_addr(); %ASM_ERROR_INVALID also when
 * @addr is not function 0; %ASM_ERROR_IN_USE when any function of the slot
 * is reserved.  Nothing changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_pci_bus_set_reserve_slot (AsmPciBusSet *set, const AsmPciAddr *addr,
                              AsmPciConnectFlags flags, gboolean from_config,
                              GError **error)
{
  State *st;
  Bus *b;
  gboolean was_empty;

  g_return_val_if_fail (set != NULL && addr != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  st = set->st;

  if ((b = pci_bus_validate_addr (st, addr, flags, from_config, error)) == NULL)
    return FALSE;
  if (addr->function != 0)
    {
      g_autofree char *s = asm_pci_addr_format (addr);
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s: a slot is named by its function 0", s);
      return FALSE;
    }
  if (b->funcs[addr->slot] != 0)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                   "slot %04x:%02x:%02x has functions in use (mask %#x)",
                   addr->domain, addr->bus, addr->slot, b->funcs[addr->slot]);
      return FALSE;
    }
  was_empty = b->n_used == 0;
  for (guint f = 0; f <= ASM_PCI_FUNCTION_LAST; f++)
    pci_bus_take (st, b, addr->slot, f,
                  (flags & ASM_PCI_CONNECT_AGGREGATE_SLOT) != 0);
  pci_bus_apply_group (st, b, was_empty, 0, from_config);
  return TRUE;
}

/**
 * asm_pci_bus_set_reserve_next_full:
 * @set: a set
 * @flags: the device's connect flags (usually with
 *   %ASM_PCI_CONNECT_AUTOASSIGN for endpoints)
 * @isolation_group: the device's isolation group
 * @out_addr: (out) (optional): the address reserved
 * @error: return location for a #GError
 *
 * Reserves the next free address for a device, libvirt's policy: buses in
 * (domain, bus) order, then slots, then functions; only buses that accept
 * @flags (as asm_pci_bus_set_reserve_addr() with @from_config %FALSE); a
 * slot qualifies when it is empty (the device gets function 0) or, for an
 * %ASM_PCI_CONNECT_AGGREGATE_SLOT device, when it is an aggregate slot with
 * a free function (the device gets the lowest).  So 8 root ports fill one
 * slot before the next slot is taken.
 *
 * Isolation: buses of @isolation_group are tried first; failing that, the
 * lowest empty unlocked bus that fits, which adopts @isolation_group.
 *
 * When nothing fits and a grow callback is set (and not running), it is
 * called once; if it returns %TRUE the search is retried once.  If the call
 * still fails, everything the callback did is rolled back.
 *
 * Errors: %ASM_ERROR_INVALID for bad flags; %ASM_ERROR_NO_SPACE when no
 * address fits ("no room"), with the callback's message if it failed.
 * Nothing changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_pci_bus_set_reserve_next_full (AsmPciBusSet *set, AsmPciConnectFlags flags,
                                   guint32 isolation_group,
                                   AsmPciAddr *out_addr, GError **error)
{
  AsmPciAddr a;
  State *saved;
  gboolean grown;
  GError *grow_error = NULL;
  g_autofree char *what = NULL;

  g_return_val_if_fail (set != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!asm_pci_connect_flags_check (flags, error))
    return FALSE;
  if (pci_bus_find_next (set->st, flags, isolation_group, &scope_all, &a))
    goto found;

  what = asm_pci_connect_flags_to_string (flags);
  if (set->grow == NULL || set->growing)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                   "no room for flags %s: no free PCI address accepts them "
                   "(isolation group %u)",
                   what, isolation_group);
      return FALSE;
    }

  saved = pci_bus_state_copy (set->st);
  asm_pci_bus_set_ref (set);
  set->growing = TRUE;
  grown = set->grow (set, flags, set->grow_data, &grow_error);
  set->growing = FALSE;
  if (grown &&
      pci_bus_find_next (set->st, flags, isolation_group, &scope_all, &a))
    {
      if (saved != NULL)
        pci_bus_state_free (saved);
      asm_pci_bus_set_unref (set);
      goto found;
    }
  if (saved != NULL)
    {
      pci_bus_state_free (set->st);
      set->st = saved;
    }
  if (!grown)
    g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                 "no room for flags %s (isolation group %u), and growing the "
                 "set failed: %s",
                 what, isolation_group,
                 grow_error ? grow_error->message : "no room was added");
  else
    g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                 "no room for flags %s (isolation group %u), even after the "
                 "grow callback added some (%s)",
                 what, isolation_group,
                 saved != NULL ? "rolled back" : "kept, as asked");
  g_clear_error (&grow_error);
  asm_pci_bus_set_unref (set);
  return FALSE;

found:
  pci_bus_commit_reserve (set->st, lookup_bus (set->st, a.domain, a.bus), &a,
                          flags, isolation_group, FALSE);
  if (out_addr != NULL)
    *out_addr = a;
  return TRUE;
}

/**
 * asm_pci_bus_set_reserve_next:
 * @set: a set
 * @flags: the device's connect flags
 * @out_addr: (out) (optional): the address reserved
 * @error: return location for a #GError
 *
 * asm_pci_bus_set_reserve_next_full() with isolation group 0.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_pci_bus_set_reserve_next (AsmPciBusSet *set, AsmPciConnectFlags flags,
                              AsmPciAddr *out_addr, GError **error)
{
  return asm_pci_bus_set_reserve_next_full (set, flags, 0, out_addr, error);
}

/* The non-root controller plugged at @a (which must hold one); O(n). */
static Bus *
controller_at (State *st, const AsmPciAddr *a)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, st->by_index);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      Bus *c = value;
      if (!c->is_root && !c->floating &&
          asm_pci_addr_equal (&c->plugged_at, a))
        return c;
    }
  ASM_BUG ("%04x:%02x:%02x.%x is marked as holding a controller, but no "
           "controller is plugged there", a->domain, a->bus, a->slot,
           a->function);
}

/**
 * asm_pci_bus_set_release_addr:
 * @set: a set
 * @addr: a reserved address
 * @error: return location for a #GError
 *
 * Releases one function, however it was reserved.  A slot left with no
 * function in use loses its aggregate mark.  The bus keeps its isolation
 * group; once empty (and unlocked) it may adopt another.  The address of a
 * controller stays reserved as long as the controller (there is no removal
 * of controllers).
 *
 * Errors: %ASM_ERROR_INVALID for a part out of range;
 * %ASM_ERROR_NOT_FOUND when the bus does not exist or @addr is not
 * reserved; %ASM_ERROR_IN_USE when a controller is plugged at @addr.
 * Nothing changes on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_pci_bus_set_release_addr (AsmPciBusSet *set, const AsmPciAddr *addr,
                              GError **error)
{
  State *st;
  Bus *b;

  g_return_val_if_fail (set != NULL && addr != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  st = set->st;

  if ((b = resolve_addr (st, addr, error)) == NULL)
    return FALSE;
  if (!((b->funcs[addr->slot] >> addr->function) & 1))
    {
      g_autofree char *s = asm_pci_addr_format (addr);
      g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND, "%s is not reserved",
                   s);
      return FALSE;
    }
  if ((b->held[addr->slot] >> addr->function) & 1)
    {
      g_autofree char *s = asm_pci_addr_format (addr);
      Bus *c = controller_at (st, addr);
      g_autofree char *name = asm_pci_controller_name (c->model,
                                                       c->index);
      g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                   "%s holds controller %u (%s %s), which cannot be released",
                   s, c->index, model_name (c->model), name);
      return FALSE;
    }
  pci_bus_give (st, b, addr->slot, addr->function);
  return TRUE;
}

static Bus *
quiet_bus (AsmPciBusSet *set, const AsmPciAddr *addr)
{
  if (addr->slot > ASM_PCI_SLOT_LAST || addr->function > ASM_PCI_FUNCTION_LAST)
    return NULL;
  return lookup_bus (set->st, addr->domain, addr->bus);
}

/**
 * asm_pci_bus_set_is_reserved:
 * @set: a set
 * @addr: an address
 *
 * Tells whether a PCI address is reserved.
 *
 * Returns: %TRUE when @addr is reserved (%FALSE for an unknown bus)
 *
 * Since: 0.1
 */
gboolean
asm_pci_bus_set_is_reserved (AsmPciBusSet *set, const AsmPciAddr *addr)
{
  Bus *b;

  g_return_val_if_fail (set != NULL && addr != NULL, FALSE);
  b = quiet_bus (set, addr);
  return b != NULL && ((b->funcs[addr->slot] >> addr->function) & 1);
}

/**
 * asm_pci_bus_set_is_aggregate_slot:
 * @set: a set
 * @addr: an address in the slot (the function is ignored)
 *
 * Tells whether the slot of @addr is an aggregate slot.
 *
 * Returns: %TRUE when the slot is marked aggregate: its first function was
 *   reserved with %ASM_PCI_CONNECT_AGGREGATE_SLOT and it is not empty
 *
 * Since: 0.1
 */
gboolean
asm_pci_bus_set_is_aggregate_slot (AsmPciBusSet *set, const AsmPciAddr *addr)
{
  Bus *b;

  g_return_val_if_fail (set != NULL && addr != NULL, FALSE);
  b = quiet_bus (set, addr);
  return b != NULL && slot_is_aggregate (b, addr->slot);
}

/**
 * asm_pci_bus_set_is_multifunction:
 * @set: a set
 * @addr: an address in the slot (the function is ignored)
 *
 * Whether the device at function 0 of the slot needs `multifunction='on'`:
 * libvirt sets it when any function other than 0 of the slot is in use
 * (an aggregate slot of root ports, or a multifunction device).
 *
 * Returns: %TRUE when a function other than 0 of the slot is reserved
 *
 * Since: 0.1
 */
gboolean
asm_pci_bus_set_is_multifunction (AsmPciBusSet *set, const AsmPciAddr *addr)
{
  Bus *b;

  g_return_val_if_fail (set != NULL && addr != NULL, FALSE);
  b = quiet_bus (set, addr);
  return b != NULL && (b->funcs[addr->slot] & 0xfe) != 0;
}

/**
 * asm_pci_bus_set_get_n_reserved:
 * @set: a set
 *
 * Counts the reserved functions of the set.
 *
 * Returns: the number of reserved functions, controllers' own addresses
 *   included
 *
 * Since: 0.1
 */
guint64
asm_pci_bus_set_get_n_reserved (AsmPciBusSet *set)
{
  g_return_val_if_fail (set != NULL, 0);
  return set->st->n_reserved;
}

static gint
compare_bus_key (gconstpointer a, gconstpointer b)
{
  const Bus *x = *(Bus *const *) a;
  const Bus *y = *(Bus *const *) b;
  return x->key < y->key ? -1 : x->key > y->key;
}

/**
 * asm_pci_bus_set_foreach_reserved:
 * @set: a set
 * @func: (scope call): called with each reserved address in increasing
 *   order
 * @user_data: passed to @func
 *
 * Visits the reserved addresses until @func returns %FALSE.  The set must
 * not change during the visit.
 *
 * Returns: %TRUE when every address was visited
 *
 * Since: 0.1
 */
gboolean
asm_pci_bus_set_foreach_reserved (AsmPciBusSet *set, AsmPciForeachFunc func,
                                  gpointer user_data)
{
  g_autoptr(GPtrArray) buses = NULL;

  g_return_val_if_fail (set != NULL && func != NULL, FALSE);
  buses = pci_bus_sorted (set->st, compare_bus_key);
  for (guint i = 0; i < buses->len; i++)
    {
      const Bus *b = g_ptr_array_index (buses, i);
      for (guint s = b->min_slot; b->n_used > 0 && s <= b->max_slot; s++)
        for (guint f = 0; f <= ASM_PCI_FUNCTION_LAST; f++)
          if ((b->funcs[s] >> f) & 1)
            {
              AsmPciAddr a = { b->domain, b->bus, (guint8) s, (guint8) f };
              if (!func (&a, user_data))
                return FALSE;
            }
    }
  return TRUE;
}

/**
 * asm_pci_bus_set_set_grow_func:
 * @set: a set
 * @func: (nullable): the growth policy, or %NULL for none
 * @user_data: passed to @func
 * @destroy: (nullable): frees @user_data when replaced or when the set is
 *   freed
 *
 * Sets the callback asm_pci_bus_set_reserve_next() calls when no address
 * fits (see #AsmPciGrowFunc).
 *
 * Since: 0.1
 */
void
asm_pci_bus_set_set_grow_func (AsmPciBusSet *set, AsmPciGrowFunc func,
                               gpointer user_data, GDestroyNotify destroy)
{
  g_return_if_fail (set != NULL);
  if (set->grow_destroy != NULL)
    set->grow_destroy (set->grow_data);
  set->grow = func;
  set->grow_data = user_data;
  set->grow_destroy = destroy;
}
