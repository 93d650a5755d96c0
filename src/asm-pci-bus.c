/* asm-pci-bus.c: sets of PCI buses (layer 2)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * This module owns the bus set #AsmPciBusSet: its controllers and the bus
 * each provides, the addresses reserved on them, the search for the next
 * free address, growth, the class index behind that search, and
 * asm_pci_bus_set_check() (in asm-pci-bus-check.c, over the types of
 * asm-pci-bus-private.h).  What an address or a controller model means
 * on its own (parsing, the model table, names) is asm-pci-addr.c.
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
 * Encoding
 * --------
 * Tuples are {domain 16 bits, bus 32, slot 5, function 3} = 56 bits.
 * Each bus owns one #AsmAddrSpace of these dimensions whose single pool is
 * the bus, {D, B, min..max, 0..7}; a tuple is reserved there iff it is in
 * use.  That space is the truth; the bus also keeps a bitmap copy
 * (`funcs`, plus `agg_mask` and `held`) for O(1) slot questions, and
 * asm_pci_bus_set_check() compares the two.
 *
 * One space per bus (rather than one space for every bus) keeps each
 * space's arena at most 256 segments, so a reservation on a machine of
 * 64 domains x 256 buses works on spaces of the same size as on a one-bus
 * machine, and a bus changing class moves no tuple.  What differs at scale
 * is memory traffic (the bus touched may be cold) and, when a full bus
 * gains room or a bus loses its last room, an update of the class index
 * below; tests/bench/bench-pci.c measures both.
 *
 * Where to look for the next address is a two-level index per class (a
 * class is a distinct (accepted flags, isolation group)).  A bus has
 * "empty room" when it has a wholly free slot and "aggregate room" when an
 * aggregate slot of it has a free function.  For each kind of room:
 *
 *   class.room[r]        1 dimension {domain}: a domain is free iff some
 *                        member bus in it has room r;
 *   domain_room.room[r]  per (class, domain), 1 dimension {bus}: a bus is
 *                        free iff it is a member with room r.
 *
 * A bus enters them when it joins the class and flips only when its room
 * appears or goes (its last empty slot is taken, ...), O(log n).  A bus
 * that leaves a class (its group or hotplug changes) is "parked": its
 * entries stay pooled and reserved, since pools are never removed.  Pass
 * two of the search uses, per distinct accepted flags, a {domain, bus}
 * space whose free buses are the empty, unlocked ones.
 *
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
 * Costs: reserve/release O(log n); a class change O(log n); add_controller
 * O(log n); asm_pci_bus_set_clone() O(buses + classes x domains), each
 * space cloned copy-on-write; check O(tuples log n + buses x classes).
 * Memory: one small space per bus (about 3.5 KiB with a device in every
 * slot, about 10 KiB with every function in use).
 *
 * Growth: when reserve_next finds nothing and a grow callback is set, the
 * whole state is copied (O(buses)), the callback runs once, and the search
 * is retried once.  If that fails too, the copy is put back: whatever the
 * callback added is rolled back and the call fails with NO_SPACE, so a
 * failed call changes nothing.
 *
 * Locking: none; a container like GHashTable.  A copy may be read from
 * another thread.
 */
#include <asm/asm-pci.h>

#include <string.h>

#include "asm-pci-bus-private.h"
#include "asm-bug-private.h"
#include "asm-pci-private.h"
#include "asm-boxed-private.h"

ASM_DEFINE_VALUE_TYPE (AsmPciControllerInfo, asm_pci_controller_info)
G_DEFINE_BOXED_TYPE (AsmPciBusSet, asm_pci_bus_set, asm_pci_bus_set_ref,
                     asm_pci_bus_set_unref)

static const guint8 tuple_dims[N_DIMS] = { 16, 32, 5, 3 };
static const guint8 idle_dims[2] = { 16, 32 };

/* Whether the bus of a @model controller can support hotplug at all. */
static gboolean
model_has_hotplug (AsmPciControllerModel model)
{
  return (asm_pci_controller_model_get_bus_flags (model, TRUE, NULL, NULL) &
          ASM_PCI_CONNECT_HOTPLUGGABLE) != 0;
}

static const guint8 domain_dims[1] = { 16 };
static const guint8 busid_dims[1] = { 32 };

static char *
format_tuple (const guint64 *t, guint n_dims, gpointer user_data)
{
  if (n_dims == 1)
    return g_strdup_printf ("%02x", (guint) t[0]);
  if (n_dims == 2)
    return g_strdup_printf ("%04x:%02x", (guint) t[0], (guint) t[1]);
  return g_strdup_printf ("%04x:%02x:%02x.%x", (guint) t[0], (guint) t[1],
                          (guint) t[2], (guint) t[3]);
}

static AsmAddrSpace *
space_new (const char *name, guint n_dims, const guint8 *dims)
{
  GError *err = NULL;
  AsmAddrSpace *s = asm_addr_space_new (name, n_dims, dims, &err);

  if (s == NULL)
    ASM_BUG ("index space %s cannot be made from its fixed widths: %s",
             name, err->message);
  asm_addr_space_set_formatter (s, format_tuple, NULL, NULL, NULL);
  return s;
}

static AsmAddrSpace *
space_clone (AsmAddrSpace *s)
{
  AsmAddrSpace *c = asm_addr_space_clone (s, asm_addr_space_get_name (s));

  asm_addr_space_set_formatter (c, format_tuple, NULL, NULL, NULL);
  return c;
}

static void
take (AsmAddrSpace *s, const guint64 *t)
{
  GError *err = NULL;
  if (!asm_addr_space_reserve (s, t, &err))
    broken (s, err);
}

static void
give (AsmAddrSpace *s, const guint64 *t)
{
  GError *err = NULL;
  if (!asm_addr_space_release (s, t, &err))
    broken (s, err);
}

static void
pool (AsmAddrSpace *s, const AsmRange *box)
{
  GError *err = NULL;
  if (!asm_addr_space_add_pool (s, box, &err))
    broken (s, err);
}

/* Adds the one-value pool {v} to a 1-dimension space, reserved. */
static void
pool_one_taken (AsmAddrSpace *s, guint64 v)
{
  AsmRange box[1] = { ASM_VALUE (v) };
  guint64 t[1] = { v };

  pool (s, box);
  take (s, t);
}

static void
bus_free (gpointer data)
{
  Bus *b = data;

  asm_addr_space_unref (b->space);
  g_free (b);
}

static void
domain_room_free (gpointer data)
{
  DomainRoom *dr = data;

  for (guint r = 0; r < N_ROOMS; r++)
    asm_addr_space_unref (dr->room[r]);
  g_free (dr);
}

static Class *
class_new (AsmPciConnectFlags accepts, guint32 group)
{
  Class *c = g_new0 (Class, 1);

  c->accepts = accepts;
  c->group = group;
  for (guint r = 0; r < N_ROOMS; r++)
    c->room[r] = space_new ("pci-room-domains", 1, domain_dims);
  c->domains = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                      domain_room_free);
  return c;
}

static void
class_free (gpointer data)
{
  Class *c = data;

  for (guint r = 0; r < N_ROOMS; r++)
    asm_addr_space_unref (c->room[r]);
  g_hash_table_unref (c->domains);
  g_free (c);
}

static void
empties_free (gpointer data)
{
  Empties *e = data;

  asm_addr_space_unref (e->idle);
  g_free (e);
}

static State *
state_alloc (void)
{
  State *st = g_new0 (State, 1);

  st->by_index = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                        bus_free);
  st->by_bus = g_hash_table_new (g_int64_hash, g_int64_equal);
  st->classes = g_ptr_array_new_with_free_func (class_free);
  st->empties = g_ptr_array_new_with_free_func (empties_free);
  st->groups = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                      (GDestroyNotify) g_array_unref);
  return st;
}

static void
state_free (State *st)
{
  if (st == NULL)
    return;
  g_ptr_array_unref (st->classes);
  g_ptr_array_unref (st->empties);
  g_hash_table_unref (st->groups);
  g_hash_table_unref (st->by_bus);
  g_hash_table_unref (st->by_index);
  g_free (st);
}

/* An independent copy: every space cloned copy-on-write (O(1) each plus
 * its pool set), buses copied.  O(buses + classes x domains). */
static State *
state_copy (State *st)
{
  State *n = state_alloc ();
  GHashTableIter it;
  gpointer key, value;

  n->n_reserved = st->n_reserved;
  for (guint i = 0; i < st->classes->len; i++)
    {
      Class *c = g_ptr_array_index (st->classes, i);
      Class *d = g_new0 (Class, 1);

      d->accepts = c->accepts;
      d->group = c->group;
      for (guint r = 0; r < N_ROOMS; r++)
        {
          d->room[r] = space_clone (c->room[r]);
          d->n[r] = c->n[r];
        }
      d->domains = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                          domain_room_free);
      g_hash_table_iter_init (&it, c->domains);
      while (g_hash_table_iter_next (&it, &key, &value))
        {
          DomainRoom *dr = value;
          DomainRoom *dd = g_new0 (DomainRoom, 1);
          for (guint r = 0; r < N_ROOMS; r++)
            {
              dd->room[r] = space_clone (dr->room[r]);
              dd->n[r] = dr->n[r];
            }
          g_hash_table_insert (d->domains, key, dd);
        }
      g_ptr_array_add (n->classes, d);
    }
  for (guint i = 0; i < st->empties->len; i++)
    {
      Empties *e = g_ptr_array_index (st->empties, i);
      Empties *d = g_new0 (Empties, 1);

      d->accepts = e->accepts;
      d->n_idle = e->n_idle;
      d->idle = space_clone (e->idle);
      g_ptr_array_add (n->empties, d);
    }
  g_hash_table_iter_init (&it, st->groups);
  while (g_hash_table_iter_next (&it, &key, &value))
    g_hash_table_insert (n->groups, key, g_array_copy (value));
  g_hash_table_iter_init (&it, st->by_index);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      Bus *b = g_memdup2 (value, sizeof (Bus));

      b->space = space_clone (b->space);
      g_hash_table_insert (n->by_index, key, b);
      g_hash_table_insert (n->by_bus, &b->key, b);
    }
  return n;
}

/* The class of (accepts, group), made when missing. */
static guint
class_get (State *st, AsmPciConnectFlags accepts, guint32 group)
{
  GArray *ids = g_hash_table_lookup (st->groups, GUINT_TO_POINTER (group));
  guint id;

  if (ids != NULL)
    for (guint i = 0; i < ids->len; i++)
      {
        id = g_array_index (ids, guint, i);
        if (class_at (st, id)->accepts == accepts)
          return id;
      }
  else
    {
      ids = g_array_new (FALSE, FALSE, sizeof (guint));
      g_hash_table_insert (st->groups, GUINT_TO_POINTER (group), ids);
    }
  id = st->classes->len;
  g_ptr_array_add (st->classes, class_new (accepts, group));
  g_array_append_val (ids, id);
  return id;
}

static guint
empties_get (State *st, AsmPciConnectFlags accepts)
{
  Empties *e;

  for (guint i = 0; i < st->empties->len; i++)
    if (empties_at (st, i)->accepts == accepts)
      return i;
  e = g_new0 (Empties, 1);
  e->accepts = accepts;
  e->idle = space_new ("pci-idle-buses", 2, idle_dims);
  g_ptr_array_add (st->empties, e);
  return st->empties->len - 1;
}

/* Marks @b as having room @r in its class @c, or as not having it. */
static void
room_set (Class *c, const Bus *b, guint r, gboolean on)
{
  DomainRoom *dr = g_hash_table_lookup (c->domains,
                                        GUINT_TO_POINTER (b->domain));
  guint64 tb[1] = { b->bus };
  guint64 td[1] = { b->domain };

  if (on)
    {
      give (dr->room[r], tb);
      if (dr->n[r]++ == 0)
        {
          give (c->room[r], td);
          c->n[r]++;
        }
    }
  else
    {
      take (dr->room[r], tb);
      if (--dr->n[r] == 0)
        {
          take (c->room[r], td);
          c->n[r]--;
        }
    }
}

/* Brings @c's room indexes up to date after @b changed; @had is what it
 * had before. */
static void
room_sync (Class *c, const Bus *b, const gboolean *had)
{
  for (guint r = 0; r < N_ROOMS; r++)
    if (bus_has_room (b, r) != had[r])
      room_set (c, b, r, !had[r]);
}

/* Makes @b a member of @c: pools its entries (reserved) the first time,
 * then frees those it has room for.  A bus that leaves a class is
 * "parked": its entries stay pooled and reserved (pools are never
 * removed). */
static void
class_enroll (Class *c, const Bus *b)
{
  DomainRoom *dr = g_hash_table_lookup (c->domains,
                                        GUINT_TO_POINTER (b->domain));
  guint64 tb[1] = { b->bus };

  if (dr == NULL)
    {
      dr = g_new0 (DomainRoom, 1);
      for (guint r = 0; r < N_ROOMS; r++)
        {
          dr->room[r] = space_new ("pci-room-buses", 1, busid_dims);
          pool_one_taken (c->room[r], b->domain);
        }
      g_hash_table_insert (c->domains, GUINT_TO_POINTER (b->domain), dr);
    }
  if (!asm_addr_space_is_pooled (dr->room[ROOM_EMPTY], tb))
    for (guint r = 0; r < N_ROOMS; r++)
      pool_one_taken (dr->room[r], b->bus);
  for (guint r = 0; r < N_ROOMS; r++)
    if (bus_has_room (b, r))
      room_set (c, b, r, TRUE);
}

static void
class_park (Class *c, const Bus *b)
{
  for (guint r = 0; r < N_ROOMS; r++)
    if (bus_has_room (b, r))
      room_set (c, b, r, FALSE);
}

static void
empties_enroll (Empties *e, const Bus *b)
{
  guint64 t[2] = { b->domain, b->bus };

  if (!asm_addr_space_is_pooled (e->idle, t))
    {
      AsmRange box[2] = { ASM_VALUE (b->domain), ASM_VALUE (b->bus) };
      pool (e->idle, box);
      take (e->idle, t);
    }
  if (bus_is_idle (b))
    {
      give (e->idle, t);
      e->n_idle++;
    }
}

static void
empties_park (Empties *e, const Bus *b)
{
  guint64 t[2] = { b->domain, b->bus };

  if (bus_is_idle (b))
    {
      take (e->idle, t);
      e->n_idle--;
    }
}

/* Moves @b to the class of (accepts, group).  O(log n). */
static void
bus_move (State *st, Bus *b, AsmPciConnectFlags accepts, guint32 group)
{
  guint cls;

  if (accepts == b->accepts && group == b->group)
    return;
  class_park (class_at (st, b->cls), b);
  cls = class_get (st, accepts, group);
  if (accepts != b->accepts)
    {
      empties_park (empties_at (st, b->eidx), b);
      b->eidx = empties_get (st, accepts);
      empties_enroll (empties_at (st, b->eidx), b);
    }
  b->accepts = accepts;
  b->group = group;
  b->cls = cls;
  class_enroll (class_at (st, cls), b);
}

static void
bus_set_locked (State *st, Bus *b, gboolean locked)
{
  gboolean was_idle = bus_is_idle (b);
  guint64 t[2] = { b->domain, b->bus };
  Empties *e = empties_at (st, b->eidx);

  b->locked = locked;
  if (was_idle && !bus_is_idle (b))
    {
      take (e->idle, t);
      e->n_idle--;
    }
  else if (!was_idle && bus_is_idle (b))
    {
      give (e->idle, t);
      e->n_idle++;
    }
}

/* Marks s.f used.  The function must be free. */
static void
bus_take (State *st, Bus *b, guint s, guint f, gboolean aggregating)
{
  gboolean had[N_ROOMS] = { bus_has_room (b, ROOM_EMPTY),
                            bus_has_room (b, ROOM_AGG) };
  gboolean slot_was_empty = b->funcs[s] == 0;
  gboolean was_idle = bus_is_idle (b);
  guint64 t[N_DIMS];

  tuple (t, b, s, f);
  take (b->space, t);
  b->funcs[s] |= (guint8) (1u << f);
  b->n_used++;
  st->n_reserved++;
  if (slot_was_empty)
    b->n_empty--;
  if (slot_was_empty && aggregating)
    {
      b->agg_mask |= 1u << s;
      b->n_agg_free += ASM_PCI_FUNCTION_LAST;
    }
  else if (slot_is_aggregate (b, s))
    b->n_agg_free--;
  if (was_idle)
    {
      Empties *e = empties_at (st, b->eidx);
      guint64 u[2] = { b->domain, b->bus };
      take (e->idle, u);
      e->n_idle--;
    }
  room_sync (class_at (st, b->cls), b, had);
}

/* Marks s.f free.  The function must be used. */
static void
bus_give (State *st, Bus *b, guint s, guint f)
{
  gboolean had[N_ROOMS] = { bus_has_room (b, ROOM_EMPTY),
                            bus_has_room (b, ROOM_AGG) };
  guint64 t[N_DIMS];

  tuple (t, b, s, f);
  give (b->space, t);
  b->funcs[s] &= (guint8) ~(1u << f);
  b->n_used--;
  st->n_reserved--;
  if (b->funcs[s] == 0)
    b->n_empty++;
  if (slot_is_aggregate (b, s))
    {
      if (b->funcs[s] == 0)
        {
          /* the slot loses its mark, and its 7 other free functions */
          b->agg_mask &= ~(1u << s);
          b->n_agg_free -= ASM_PCI_FUNCTION_LAST;
        }
      else
        b->n_agg_free++;
    }
  if (bus_is_idle (b))
    {
      Empties *e = empties_at (st, b->eidx);
      guint64 u[2] = { b->domain, b->bus };
      give (e->idle, u);
      e->n_idle++;
    }
  room_sync (class_at (st, b->cls), b, had);
}

/* libvirt's isolation rules, after a reservation on a bus that was empty
 * (@was_empty) or not. */
static void
bus_apply_group (State *st, Bus *b, gboolean was_empty, guint32 group,
                 gboolean from_config)
{
  if (was_empty && !b->locked)
    bus_move (st, b, b->accepts, group);
  else if (b->group != group && from_config)
    bus_move (st, b, b->accepts, 0);
}

/* ------------------------------------------------------------------ */
/* Validation                                                           */

static char *
bus_describe (const Bus *b)
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
static Bus *
validate_addr (State *st, const AsmPciAddr *a, AsmPciConnectFlags flags,
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
  bd = bus_describe (b);
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

typedef struct {
  guint32 domain_first, domain_last;
  guint32 bus_first, bus_last;
} Scope;

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
static gboolean
find_next (State *st, AsmPciConnectFlags flags, guint32 group,
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
static void
commit_reserve (State *st, Bus *b, const AsmPciAddr *a,
                AsmPciConnectFlags flags, guint32 group, gboolean from_config)
{
  gboolean was_empty = b->n_used == 0;

  bus_take (st, b, a->slot, a->function,
            (flags & ASM_PCI_CONNECT_AGGREGATE_SLOT) != 0);
  bus_apply_group (st, b, was_empty, group, from_config);
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
  set->st = state_alloc ();
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
  state_free (set->st);
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
  c->st = state_copy (set->st);
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

static Bus *
bus_add (State *st, guint32 index, AsmPciControllerModel model,
         guint32 domain, const AsmPciAddr *plugged_at)
{
  Bus *b = g_new0 (Bus, 1);
  AsmRange box[N_DIMS];

  b->index = index;
  b->model = model;
  b->is_root = asm_pci_controller_model_is_root (model);
  b->domain = domain;
  b->bus = b->is_root ? 0 : index;
  b->key = bus_key (b->domain, b->bus);
  if (plugged_at != NULL)
    b->plugged_at = *plugged_at;
  b->accepts = asm_pci_controller_model_get_bus_flags (model, TRUE,
                                                       &b->min_slot,
                                                       &b->max_slot);
  b->n_empty = b->max_slot - b->min_slot + 1u;
  b->space = space_new ("pci-bus", N_DIMS, tuple_dims);
  bus_box (box, b);
  pool (b->space, box);
  g_hash_table_insert (st->by_index, GUINT_TO_POINTER (index), b);
  g_hash_table_insert (st->by_bus, &b->key, b);
  b->cls = class_get (st, b->accepts, 0);
  class_enroll (class_at (st, b->cls), b);
  b->eidx = empties_get (st, b->accepts);
  empties_enroll (empties_at (st, b->eidx), b);
  if (b->is_root)
    b->n_domain_buses = 1;
  else
    lookup_index (st, domain)->n_domain_buses++;
  return b;
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
      bus_add (st, index, model, index, NULL);
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
  if (validate_addr (st, plugged_at, flags, TRUE, error) == NULL)
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
  commit_reserve (st, parent, plugged_at, flags, 0, TRUE);
  parent->held[plugged_at->slot] |= (guint8) (1u << plugged_at->function);
  bus_add (st, index, model, plugged_at->domain, plugged_at);
  return TRUE;
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

  if (!validate_new_controller (st, index, model, error))
    return FALSE;
  if (asm_pci_controller_model_is_root (model))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s controller %u is a root: it is plugged into no bus",
                   model_name (model), index);
      return FALSE;
    }
  /* bus 0 checks the domain, the index order against the root, and the
   * domain's bus count */
  if (validate_parent (st, index, model, domain, 0, error) == NULL)
    return FALSE;
  scope.domain_first = scope.domain_last = domain;
  scope.bus_first = 0;
  scope.bus_last = index - 1;
  connect = asm_pci_controller_model_get_connect_flags (model);
  if (!find_next (st, connect, 0, &scope, &a))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NO_SPACE,
                   "%s controller %u: no free address in domain %04x on a bus "
                   "below index %u accepts a %s",
                   model_name (model), index, domain, index,
                   asm_pci_connect_type_name (connect));
      return FALSE;
    }
  parent = lookup_bus (st, a.domain, a.bus);
  commit_reserve (st, parent, &a, connect, 0, FALSE);
  parent->held[a.slot] |= (guint8) (1u << a.function);
  bus_add (st, index, model, domain, &a);
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

  if (!validate_new_controller (st, index, model, error))
    return FALSE;
  if (asm_pci_controller_model_is_root (model) ||
      model == ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s controller %u cannot float (plugged in nowhere)",
                   model_name (model), index);
      return FALSE;
    }
  /* bus 0 checks the domain, the index order against the root, and the
   * domain's bus count */
  if (validate_parent (st, index, model, domain, 0, error) == NULL)
    return FALSE;
  b = bus_add (st, index, model, domain, NULL);
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
      g_autofree char *bd = bus_describe (b);
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s never supports hotplug", bd);
      return FALSE;
    }
  bus_move (st, b,
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
  bus_move (st, b, b->accepts, group);
  bus_set_locked (st, b, locked);
  return TRUE;
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

  if ((b = validate_addr (st, addr, flags, from_config, error)) == NULL)
    return FALSE;
  if ((b->funcs[addr->slot] >> addr->function) & 1)
    {
      g_autofree char *s = asm_pci_addr_format (addr);
      g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE, "%s is already in use",
                   s);
      return FALSE;
    }
  commit_reserve (st, b, addr, flags, isolation_group, from_config);
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

  if ((b = validate_addr (st, addr, flags, from_config, error)) == NULL)
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
    bus_take (st, b, addr->slot, f,
              (flags & ASM_PCI_CONNECT_AGGREGATE_SLOT) != 0);
  bus_apply_group (st, b, was_empty, 0, from_config);
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
  if (find_next (set->st, flags, isolation_group, &scope_all, &a))
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

  saved = state_copy (set->st);
  asm_pci_bus_set_ref (set);
  set->growing = TRUE;
  grown = set->grow (set, flags, set->grow_data, &grow_error);
  set->growing = FALSE;
  if (grown && find_next (set->st, flags, isolation_group, &scope_all, &a))
    {
      if (saved != NULL)
        state_free (saved);
      asm_pci_bus_set_unref (set);
      goto found;
    }
  if (saved != NULL)
    {
      state_free (set->st);
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
  commit_reserve (set->st, lookup_bus (set->st, a.domain, a.bus), &a, flags,
                  isolation_group, FALSE);
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
  bus_give (st, b, addr->slot, addr->function);
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

/* The buses in a deterministic order. */
GPtrArray *
sorted_buses (State *st, GCompareFunc compare)
{
  GPtrArray *buses = g_ptr_array_sized_new (g_hash_table_size (st->by_index));
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, st->by_index);
  while (g_hash_table_iter_next (&it, NULL, &value))
    g_ptr_array_add (buses, value);
  g_ptr_array_sort (buses, compare);
  return buses;
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
  buses = sorted_buses (set->st, compare_bus_key);
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
