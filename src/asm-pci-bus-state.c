/* asm-pci-bus-state.c: sets of PCI buses (layer 2): the bookkeeping beneath
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * The state of an #AsmPciBusSet (State, in asm-pci-bus-private.h): its
 * buses by controller index and by (domain, bus), each bus's tuples in its
 * own address space and their bitmap copy, the class room index and the
 * idle index that the search reads, and the copy of the whole state that
 * asm_pci_bus_set_clone() and growth take.  Every change of a bus goes
 * through here: pci_bus_add() when a controller brings its bus,
 * pci_bus_take() and pci_bus_give() for one function, pci_bus_move() and
 * pci_bus_set_locked() when the class of a bus changes,
 * pci_bus_apply_group() for libvirt's isolation rules.
 * What these mean is asm-pci-bus.c (controllers) and asm-pci-bus-reserve.c
 * (addresses); this file keeps the books, and nothing in it fails but a
 * bug (broken()): its callers check first.
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
 * Invariants (asm_pci_bus_set_check() tests each one):
 *   - a tuple is reserved in a bus's space iff its bit is set in `funcs`;
 *     `held` is within `funcs`; no bit lies outside the bus's slot range;
 *     an aggregate slot is never empty;
 *   - a bus's n_used, n_empty and n_agg_free count its bitmaps, and
 *     State.n_reserved is the sum of n_used;
 *   - a bus is free in room index r of its own class iff it has room r,
 *     and reserved in every other class it was ever in (parked); a domain
 *     is free in Class.room[r] iff its DomainRoom.n[r], the member buses
 *     with room r, is not 0, and Class.n[r] counts those domains;
 *   - a bus is free in the idle space of its Empties iff it is empty and
 *     unlocked, and in no other; Empties.n_idle counts them;
 *   - a bus is a member of the Class of its (accepts, group) and of the
 *     Empties of its accepts; every class is listed under its group in
 *     State.groups.
 *
 * Costs: pci_bus_take, pci_bus_give, a class change and pci_bus_add O(log n);
 * pci_bus_state_copy() O(buses + classes x domains), each space cloned
 * copy-on-write.
 * Memory: one small space per bus (about 3.5 KiB with a device in every
 * slot, about 10 KiB with every function in use).
 */
#include "asm-pci-bus-private.h"

#include "asm-bug-private.h"

static const guint8 tuple_dims[N_DIMS] = { 16, 32, 5, 3 };
static const guint8 idle_dims[2] = { 16, 32 };

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

State *
pci_bus_state_alloc (void)
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

void
pci_bus_state_free (State *st)
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
State *
pci_bus_state_copy (State *st)
{
  State *n = pci_bus_state_alloc ();
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
void
pci_bus_move (State *st, Bus *b, AsmPciConnectFlags accepts, guint32 group)
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

void
pci_bus_set_locked (State *st, Bus *b, gboolean locked)
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
void
pci_bus_take (State *st, Bus *b, guint s, guint f, gboolean aggregating)
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
void
pci_bus_give (State *st, Bus *b, guint s, guint f)
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
void
pci_bus_apply_group (State *st, Bus *b, gboolean was_empty, guint32 group,
                     gboolean from_config)
{
  if (was_empty && !b->locked)
    pci_bus_move (st, b, b->accepts, group);
  else if (b->group != group && from_config)
    pci_bus_move (st, b, b->accepts, 0);
}

/* Adds the bus of a new controller and enters it in the indexes (class 0 of
 * its flags, idle).  @plugged_at, reserved already, is %NULL for a root or
 * a floating controller. */
Bus *
pci_bus_add (State *st, guint32 index, AsmPciControllerModel model,
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

/* The buses in a deterministic order. */
GPtrArray *
pci_bus_sorted (State *st, GCompareFunc compare)
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
