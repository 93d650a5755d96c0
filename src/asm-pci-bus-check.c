/* asm-pci-bus-check.c: sets of PCI buses (layer 2): the invariant check
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * asm_pci_bus_set_check() restates as code the invariants that the theory
 * comments of asm-pci-bus.c (the controllers, their domains, their paths
 * up to a root) and asm-pci-bus-state.c (each bus's bitmaps against its
 * space, the room and idle indexes) write down.  The tests and the fuzzer
 * call it after every step, the benchmark, an example and asmctl's
 * scripts when they want the set checked.  It changes nothing: it
 * recounts everything from the buses and compares what it counts with the
 * counts and indexes the state keeps, then runs each address space's own
 * check.  The buses are visited in controller index order, so that the
 * invariant reported broken is the same on every run.
 *
 * It is a file of its own because it reads every part of the state and
 * changes none: the code that keeps the books (asm-pci-bus-state.c) stays
 * short, and the whole of what must hold is in one place.
 *
 * Costs: O(tuples log n + buses x (classes + depth)), the depth of a bus
 * below its root at most 256.
 */
#include <stdarg.h>

#include "asm-pci-bus-private.h"

/* ------------------------------------------------------------------ */
/* Invariants                                                           */

static gboolean
fail (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static gboolean
fail (GError **error, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
               "PCI bus set invariant broken: %s", msg);
  return FALSE;
}

static gboolean
check_bus_tuples (State *st, const Bus *b, GError **error)
{
  Empties *own_e = empties_at (st, b->eidx);
  guint64 t[N_DIMS], u[2] = { b->domain, b->bus }, tb[1] = { b->bus };
  guint n_used = 0, n_empty = 0, n_agg_free = 0;

  for (guint s = 0; s <= ASM_PCI_SLOT_LAST; s++)
    {
      if ((s < b->min_slot || s > b->max_slot) &&
          (b->funcs[s] != 0 || slot_is_aggregate (b, s)))
        return fail (error, "bus %u uses slot %u, outside its range",
                     b->index, s);
      if ((b->held[s] & ~b->funcs[s]) != 0)
        return fail (error, "bus %u slot %u holds a controller at a free "
                     "function", b->index, s);
      if (slot_is_aggregate (b, s) && b->funcs[s] == 0)
        return fail (error, "bus %u slot %u is aggregate and empty", b->index,
                     s);
    }
  for (guint s = b->min_slot; s <= b->max_slot; s++)
    {
      n_empty += b->funcs[s] == 0;
      for (guint f = 0; f <= ASM_PCI_FUNCTION_LAST; f++)
        {
          gboolean used = (b->funcs[s] >> f) & 1;

          n_used += used;
          n_agg_free += !used && slot_is_aggregate (b, s);
          tuple (t, b, s, f);
          if (!asm_addr_space_is_pooled (b->space, t) ||
              asm_addr_space_is_free (b->space, t) == used)
            return fail (error, "bus %u: %04x:%02x:%02x.%x is %s in the "
                         "bitmap but not in the bus's space", b->index,
                         b->domain, b->bus, s, f, used ? "used" : "free");
        }
    }
  if (n_used != b->n_used || n_empty != b->n_empty ||
      n_agg_free != b->n_agg_free)
    return fail (error, "bus %u counts %u/%u/%u used/empty/aggregate, holds "
                 "%u/%u/%u", b->index, b->n_used, b->n_empty, b->n_agg_free,
                 n_used, n_empty, n_agg_free);
  if (asm_addr_space_get_n_reserved (b->space) != b->n_used)
    return fail (error, "bus %u: its space holds %" G_GUINT64_FORMAT
                 " tuples", b->index,
                 asm_addr_space_get_n_reserved (b->space));
  if (!asm_addr_space_check (b->space, error))
    return FALSE;
  if (asm_addr_space_is_free (own_e->idle, u) != bus_is_idle (b))
    return fail (error, "bus %u: idle index disagrees", b->index);

  /* a member of its class, parked in every other one */
  for (guint i = 0; i < st->classes->len; i++)
    {
      Class *c = class_at (st, i);
      DomainRoom *dr = g_hash_table_lookup (c->domains,
                                            GUINT_TO_POINTER (b->domain));

      if (i == b->cls && (dr == NULL ||
                          !asm_addr_space_is_pooled (dr->room[0], tb)))
        return fail (error, "bus %u is not in its class", b->index);
      if (dr == NULL || !asm_addr_space_is_pooled (dr->room[0], tb))
        continue;
      for (guint r = 0; r < N_ROOMS; r++)
        if (asm_addr_space_is_free (dr->room[r], tb) !=
            (i == b->cls && bus_has_room (b, r)))
          return fail (error, "bus %u: room index %u of class %u disagrees",
                       b->index, r, i);
    }
  for (guint i = 0; i < st->empties->len; i++)
    if (i != b->eidx && asm_addr_space_is_free (empties_at (st, i)->idle, u))
      return fail (error, "bus %u is idle in an index it left", b->index);
  return TRUE;
}

/* Each class's counts and domain index against the member buses. */
static gboolean
check_classes (State *st, GPtrArray *buses, GError **error)
{
  for (guint i = 0; i < st->classes->len; i++)
    {
      Class *c = class_at (st, i);
      GArray *ids = g_hash_table_lookup (st->groups,
                                         GUINT_TO_POINTER (c->group));
      g_autoptr(GHashTable) counts = g_hash_table_new_full (g_direct_hash,
                                                            g_direct_equal,
                                                            NULL, g_free);
      gboolean listed = FALSE;
      guint n_domains[N_ROOMS] = { 0 };
      GHashTableIter it;
      gpointer key, value;

      for (guint j = 0; ids != NULL && j < ids->len; j++)
        listed |= g_array_index (ids, guint, j) == i;
      if (!listed)
        return fail (error, "class %u is not listed under its group", i);
      for (guint j = 0; j < buses->len; j++)
        {
          Bus *b = g_ptr_array_index (buses, j);
          guint *n;
          if (b->cls != i)
            continue;
          n = g_hash_table_lookup (counts, GUINT_TO_POINTER (b->domain));
          if (n == NULL)
            {
              n = g_new0 (guint, N_ROOMS);
              g_hash_table_insert (counts, GUINT_TO_POINTER (b->domain), n);
            }
          for (guint r = 0; r < N_ROOMS; r++)
            n[r] += bus_has_room (b, r);
        }
      g_hash_table_iter_init (&it, c->domains);
      while (g_hash_table_iter_next (&it, &key, &value))
        {
          DomainRoom *dr = value;
          guint *n = g_hash_table_lookup (counts, key);
          guint64 td[1] = { GPOINTER_TO_UINT (key) };

          for (guint r = 0; r < N_ROOMS; r++)
            {
              guint want = n != NULL ? n[r] : 0;
              if (dr->n[r] != want ||
                  asm_addr_space_is_free (c->room[r], td) != (want > 0))
                return fail (error, "class %u domain %04x counts %u buses "
                             "with room %u, holds %u", i,
                             GPOINTER_TO_UINT (key), dr->n[r], r, want);
              n_domains[r] += want > 0;
            }
          if (!asm_addr_space_check (dr->room[ROOM_EMPTY], error) ||
              !asm_addr_space_check (dr->room[ROOM_AGG], error))
            return FALSE;
        }
      for (guint r = 0; r < N_ROOMS; r++)
        if (c->n[r] != n_domains[r])
          return fail (error, "class %u counts %u domains with room %u, "
                       "holds %u", i, c->n[r], r, n_domains[r]);
      if (g_hash_table_size (counts) > g_hash_table_size (c->domains))
        return fail (error, "class %u lacks a domain index", i);
      if (!asm_addr_space_check (c->room[ROOM_EMPTY], error) ||
          !asm_addr_space_check (c->room[ROOM_AGG], error))
        return FALSE;
    }
  return TRUE;
}

static gint
compare_bus_index (gconstpointer a, gconstpointer b)
{
  const Bus *x = *(Bus *const *) a;
  const Bus *y = *(Bus *const *) b;
  return x->index < y->index ? -1 : x->index > y->index;
}

/**
 * asm_pci_bus_set_check:
 * @set: a set
 * @error: return location for a #GError
 *
 * Verifies the invariants (see the theory comments in asm-pci-bus.c and
 * asm-pci-bus-state.c): the multi-domain controller rules (roots establish
 * their domain, non-roots provide bus == index above their root's index (a
 * pci-bridge: above its parent's), each plugged at a reserved address of
 * its parent bus, each reaching its root through its parents without a
 * cycle, at most 256 buses per domain), each bus's bitmaps and counts
 * against its address space, the room and idle indexes of every class
 * (members and parked buses), and each space's own check.
 * O(tuples log n + buses x (classes + depth)), the depth of a bus below
 * its root at most 256.
 *
 * Returns: %TRUE when consistent, else %FALSE with %ASM_ERROR_FAILED
 *
 * Since: 0.1
 */
gboolean
asm_pci_bus_set_check (AsmPciBusSet *set, GError **error)
{
  State *st;
  g_autoptr(GPtrArray) buses = NULL;
  g_autoptr(GHashTable) counts = NULL;
  g_autofree guint64 *n_idle = NULL;
  guint64 total = 0;
  guint n_held = 0, n_nonroot = 0;

  g_return_val_if_fail (set != NULL, FALSE);
  st = set->st;

  if (g_hash_table_size (st->by_bus) != g_hash_table_size (st->by_index))
    return fail (error, "%u buses for %u controllers",
                 g_hash_table_size (st->by_bus),
                 g_hash_table_size (st->by_index));
  buses = pci_bus_sorted (st, compare_bus_index);
  counts = g_hash_table_new (g_direct_hash, g_direct_equal);
  n_idle = g_new0 (guint64, st->empties->len);

  for (guint i = 0; i < buses->len; i++)
    {
      Bus *b = g_ptr_array_index (buses, i);
      Bus *root;
      Class *c;
      guint n;
      guint8 min_slot, max_slot;

      if (!model_valid (b->model) ||
          b->is_root != asm_pci_controller_model_is_root (b->model))
        return fail (error, "controller %u has a bad model", b->index);
      if (b->key != bus_key (b->domain, b->bus) ||
          lookup_bus (st, b->domain, b->bus) != b)
        return fail (error, "controller %u is not found by its bus",
                     b->index);
      if (b->is_root ? (b->domain != b->index || b->bus != 0 ||
                        b->index > ASM_PCI_DOMAIN_LAST)
                     : (b->bus != b->index || b->index == 0))
        return fail (error, "controller %u provides bus %04x:%02x", b->index,
                     b->domain, b->bus);
      root = lookup_index (st, b->domain);
      if (root == NULL || !root->is_root)
        return fail (error, "controller %u is in domain %04x, which has no "
                     "root", b->index, b->domain);
      if (b->floating &&
          (b->is_root || b->model == ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE ||
           root->index >= b->index))
        return fail (error, "controller %u floats, but it may not",
                     b->index);
      if (!b->is_root && !b->floating)
        {
          Bus *parent = lookup_bus (st, b->plugged_at.domain,
                                    b->plugged_at.bus);
          guint depth = 0;

          if (parent == NULL || b->plugged_at.domain != b->domain ||
              root->index >= b->index ||
              (b->model == ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE &&
               parent->index >= b->index) ||
              !((parent->held[b->plugged_at.slot] >>
                 b->plugged_at.function) & 1))
            return fail (error, "controller %u is not plugged at a reserved "
                         "address of a bus of its domain that it may plug "
                         "into", b->index);
          /* Loop invariant: @parent is an ancestor of @b, @depth steps up;
           * a domain of at most 256 buses has no path longer than that.
           * The path ends at the root or at a floating controller. */
          while (!parent->is_root && !parent->floating &&
                 depth <= ASM_PCI_MAX_BUSES_PER_DOMAIN)
            {
              parent = lookup_bus (st, parent->plugged_at.domain,
                                   parent->plugged_at.bus);
              if (parent == NULL)
                return fail (error, "controller %u: an ancestor's bus is "
                             "missing", b->index);
              depth++;
            }
          if (parent->floating ? parent->domain != b->domain
                               : parent != root)
            return fail (error, "controller %u does not reach the root of "
                         "domain %04x or a floating controller through its "
                         "parents (a cycle)",
                         b->index, b->domain);
        }
      if (b->accepts != asm_pci_controller_model_get_bus_flags (b->model,
                                                                TRUE, NULL,
                                                                NULL) &&
          b->accepts != asm_pci_controller_model_get_bus_flags (b->model,
                                                                FALSE, NULL,
                                                                NULL))
        return fail (error, "controller %u accepts %#x", b->index,
                     (guint) b->accepts);
      asm_pci_controller_model_get_bus_flags (b->model, FALSE, &min_slot,
                                              &max_slot);
      if (b->min_slot != min_slot || b->max_slot != max_slot)
        return fail (error, "controller %u has slots %u..%u", b->index,
                     b->min_slot, b->max_slot);
      if (b->cls >= st->classes->len || b->eidx >= st->empties->len)
        return fail (error, "controller %u has no class", b->index);
      c = class_at (st, b->cls);
      if (c->accepts != b->accepts || c->group != b->group ||
          empties_at (st, b->eidx)->accepts != b->accepts)
        return fail (error, "controller %u is in the wrong class", b->index);
      if (!check_bus_tuples (st, b, error))
        return FALSE;
      n = GPOINTER_TO_UINT (g_hash_table_lookup (counts,
                                                 GUINT_TO_POINTER (b->domain)));
      g_hash_table_insert (counts, GUINT_TO_POINTER (b->domain),
                           GUINT_TO_POINTER (n + 1));
      total += b->n_used;
      if (!b->is_root && !b->floating)
        n_nonroot++;
      n_idle[b->eidx] += bus_is_idle (b);
      for (guint s = 0; s <= ASM_PCI_SLOT_LAST; s++)
        for (guint f = 0; f <= ASM_PCI_FUNCTION_LAST; f++)
          n_held += (b->held[s] >> f) & 1;
    }
  if (n_held != n_nonroot)
    return fail (error, "%u addresses hold controllers, %u non-root "
                 "controllers plugged in", n_held, n_nonroot);
  for (guint i = 0; i < buses->len; i++)
    {
      Bus *b = g_ptr_array_index (buses, i);
      guint n;
      if (!b->is_root)
        continue;
      n = GPOINTER_TO_UINT (g_hash_table_lookup (counts,
                                                 GUINT_TO_POINTER (b->domain)));
      if (n != b->n_domain_buses || n > ASM_PCI_MAX_BUSES_PER_DOMAIN)
        return fail (error, "domain %04x holds %u buses, counts %u",
                     b->domain, n, b->n_domain_buses);
    }
  if (st->n_reserved != total)
    return fail (error, "%" G_GUINT64_FORMAT " functions reserved, buses "
                 "count %" G_GUINT64_FORMAT, st->n_reserved, total);
  if (!check_classes (st, buses, error))
    return FALSE;
  for (guint i = 0; i < st->empties->len; i++)
    {
      Empties *e = empties_at (st, i);
      if (e->n_idle != n_idle[i])
        return fail (error, "idle index %u counts %" G_GUINT64_FORMAT
                     " buses, holds %" G_GUINT64_FORMAT, i, e->n_idle,
                     n_idle[i]);
      if (!asm_addr_space_check (e->idle, error))
        return FALSE;
    }
  return TRUE;
}
