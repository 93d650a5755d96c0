/* asm-sim-verify.c: the sim's dump, its check against a fabric's model and
 * its invariants (layer 4)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory of operation
 * ===================
 *
 * The registers are described in the theory comment of asm-sim.c; this
 * module reads them and never changes them.
 *
 * Dump.  asm_sim_dump() prints every register: switches by id, their
 * windows by address, entries by key, ports by number, root routes by
 * address, VFs by (pf, index), held devices by id, usage counters by
 * partition id.  Nothing depends on hash order or pointers, so the same
 * calls give the same text.
 *
 * Verify.  asm_sim_verify() reads the fabric's model through the public
 * fabric API only, then compares, stopping at the first difference, in
 * this order: the set of switches (by id); devices the model binds where
 * no hardware could hold them; then per switch by id: name, ports and
 * capacity, windows by address, an update left open, table entries by key
 * (every field), ports by number (and binds still pending); then the root
 * routes by address with asm_fabric_get_root_map() (range and switch);
 * then VFs by (pf, index); then held devices (none may be held between
 * transactions).  Usage counters have no counterpart in the model and are
 * not compared.
 *
 * Invariants (asm_sim_check(), private, verifies every one):
 *   S1  switches are sorted by id, ids unique and non-zero;
 *   S2  windows sorted, each first <= last, pairwise disjoint;
 *   S3  table and staging sorted by key, keys unique and non-zero, sizes
 *       >= 1; the table holds at most table_capacity entries;
 *   S4  ports[p] == d != 0 iff the binding of d is (switch, p); every
 *       binding's switch exists and its port is in range;
 *   S5  VFs sorted by (pf, index), (pf, index) and vf ids unique, non-zero,
 *       a VF is never bound;
 *   S6  held ids sorted, unique and non-zero;
 *   S7  routes sorted by first, each first <= last, pairwise disjoint
 *       (one ends before the next begins), each to a switch that exists;
 *   S8  usage counters sorted by partition id, ids unique and non-zero.
 *
 * Cost: dump, check and verify are linear in the registers (and verify in
 * the model).  Locking as in asm-sim.c: each holds the sim's lock while it
 * reads the registers; verify reads the fabric first, then locks the sim
 * and compares, so the sim never calls out while it holds its lock.
 */
#include <asm/asm-sim.h>

#include <string.h>

#include "asm-backend-private.h"
#include "asm-sim-private.h"

#define X "0x%" G_GINT64_MODIFIER "x"

static void
dump_entry (GString *out, const char *indent, const AsmXlatEntry *e)
{
  g_string_append_printf (out,
                          "%sentry key %u: partition %u, workload %u, "
                          "virt " X ", size " X ", offset " X "\n",
                          indent, e->key, e->partition, e->workload,
                          e->virt_first, e->size, e->offset);
}

/**
 * asm_sim_dump:
 * @backend: a sim backend
 *
 * Prints every simulated register, one per line, in a fixed order:
 * switches by id (their windows by address, translation entries by key, an
 * open update and its staged entries, bound ports by number), then the
 * root complex's routes by address, then VFs by PF and index, then held
 * devices by id, then the partitions' usage counters by partition id.  The same calls always give the
 * same text, so dumps can be compared with expected output.
 *
 * Returns: (transfer full): the dump; free with g_free()
 *
 * Since: 0.1
 */
char *
asm_sim_dump (AsmBackend *backend)
{
  Sim *sim = asm_sim_from_backend (backend);
  GString *out;

  g_return_val_if_fail (sim != NULL, NULL);

  out = g_string_new (NULL);
  {
    SIM_LOCK (sim);

    g_string_append_printf (out,
                            "sim: %u switches, %u devices bound, %u VFs, "
                            "%u held\n",
                            sim->switches->len,
                            g_hash_table_size (sim->bindings),
                            sim->vfs->len, sim->held->len);
    for (guint i = 0; i < sim->switches->len; i++)
      {
        SimSwitch *s = g_ptr_array_index (sim->switches, i);

        g_string_append_printf (out,
                                "switch %u \"%s\": %u ports, table %u/%u, "
                                "%" G_GUINT64_FORMAT " flushes\n",
                                s->id, s->name, s->n_ports, s->table->len,
                                s->table_capacity, s->n_flushes);
        for (guint j = 0; j < s->windows->len; j++)
          {
            const AsmRange *w = &g_array_index (s->windows, AsmRange, j);

            g_string_append_printf (out, "  window " X "-" X "\n", w->first,
                                    w->last);
          }
        for (guint j = 0; j < s->table->len; j++)
          dump_entry (out, "  ", &g_array_index (s->table, AsmXlatEntry, j));
        if (s->staging != NULL)
          {
            g_autoptr (GArray) staged = asm_sim_staged_table (s);
            g_string_append_printf (out, "  update open: %u entries staged\n",
                                    staged->len);
            for (guint j = 0; j < staged->len; j++)
              dump_entry (out, "    ",
                          &g_array_index (staged, AsmXlatEntry, j));
          }
        for (guint p = 0; p < s->n_ports; p++)
          {
            SimBinding *b;

            if (s->ports[p] == ASM_ID_NONE)
              continue;
            b = asm_sim_find_binding (sim, s->ports[p]);
            g_string_append_printf (out, "  port %u: device %u \"%s\"%s\n", p,
                                    b->device, b->name,
                                    b->pending == PENDING_BIND
                                        ? ", bind pending"
                                        : b->pending == PENDING_UNBIND
                                              ? ", unbind pending"
                                              : "");
          }
      }
    for (guint i = 0; i < sim->routes->len; i++)
      {
        const SimRoute *r = &g_array_index (sim->routes, SimRoute, i);

        g_string_append_printf (out, "root " X "-" X ": switch %u\n",
                                r->first, r->last, r->sw);
      }
    for (guint i = 0; i < sim->vfs->len; i++)
      {
        const SimVf *v = &g_array_index (sim->vfs, SimVf, i);

        g_string_append_printf (out, "vf %u: PF %u index %u\n", v->vf, v->pf,
                                v->index);
      }
    for (guint i = 0; i < sim->held->len; i++)
      g_string_append_printf (out, "held: device %u\n",
                              g_array_index (sim->held, AsmId, i));
    for (guint i = 0; i < sim->usage->len; i++)
      {
        const SimUsage *u = &g_array_index (sim->usage, SimUsage, i);

        g_string_append_printf (out,
                                "usage: partition %u, %" G_GUINT64_FORMAT
                                " reads\n",
                                u->partition, u->reads);
      }
  }
  return g_string_free (out, FALSE);
}

/* ------------------------------------------------------------------ */
/* verify                                                               */

/* One switch of the fabric's model, as read through the public API. */
typedef struct {
  AsmSwitchInfo info; /* info.name belongs to the fabric */
  GArray *windows;    /* AsmRange, sorted by first */
  GArray *table;      /* AsmXlatEntry, sorted by key */
  AsmId *ports;       /* info.n_ports device ids, ASM_ID_NONE = free */
} ModelSwitch;

typedef struct {
  GArray *switch_ids;   /* AsmId, sorted */
  GPtrArray *switches;  /* ModelSwitch *, parallel to switch_ids */
  GArray *vfs;          /* SimVf, sorted by (pf, index) */
  GArray *routes;       /* AsmRootRoute, sorted by first */
  char *impossible;     /* the first thing no hardware could hold, or NULL */
} Model;

static void
model_switch_free (gpointer data)
{
  ModelSwitch *m = data;

  if (m->windows != NULL)
    g_array_unref (m->windows);
  if (m->table != NULL)
    g_array_unref (m->table);
  g_free (m->ports);
  g_free (m);
}

static void
model_clear (Model *m)
{
  g_clear_pointer (&m->switch_ids, g_array_unref);
  g_clear_pointer (&m->switches, g_ptr_array_unref);
  g_clear_pointer (&m->vfs, g_array_unref);
  g_clear_pointer (&m->routes, g_array_unref);
  g_clear_pointer (&m->impossible, g_free);
}

static gint
id_cmp (gconstpointer a, gconstpointer b)
{
  AsmId x = *(const AsmId *) a, y = *(const AsmId *) b;

  return x < y ? -1 : x > y;
}

static gint
entry_cmp (gconstpointer a, gconstpointer b)
{
  return id_cmp (&((const AsmXlatEntry *) a)->key,
                 &((const AsmXlatEntry *) b)->key);
}

static gint
vf_cmp (gconstpointer a, gconstpointer b)
{
  guint64 x = asm_sim_vf_key (a), y = asm_sim_vf_key (b);

  return x < y ? -1 : x > y;
}

static gint
root_route_cmp (gconstpointer a, gconstpointer b)
{
  const AsmRootRoute *x = a, *y = b;

  if (x->first != y->first)
    return x->first < y->first ? -1 : 1;
  return x->switch_id < y->switch_id ? -1 : x->switch_id > y->switch_id;
}

/* a sorted copy of an id list from asm_fabric_list(); never NULL */
static GArray *
model_list (AsmFabric *fabric, AsmFabricObjects what)
{
  GArray *ids = asm_fabric_list (fabric, what);
  GArray *copy = g_array_new (FALSE, FALSE, sizeof (AsmId));

  if (ids != NULL)
    {
      if (ids->len > 0)
        g_array_append_vals (copy, ids->data, ids->len);
      g_array_unref (ids);
    }
  g_array_sort (copy, id_cmp);
  return copy;
}

static GArray *
sorted_copy (GArray *array, gsize element_size, GCompareFunc cmp)
{
  GArray *copy = g_array_new (FALSE, FALSE, element_size);

  if (array != NULL)
    {
      if (array->len > 0)
        g_array_append_vals (copy, array->data, array->len);
      g_array_unref (array);
    }
  g_array_sort (copy, cmp);
  return copy;
}

static void
model_note (Model *m, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* Records the first impossibility found in the model. */
static void
model_note (Model *m, const char *format, ...)
{
  va_list ap;

  if (m->impossible != NULL)
    return;
  va_start (ap, format);
  m->impossible = g_strdup_vprintf (format, ap);
  va_end (ap);
}

static ModelSwitch *
model_find_switch (Model *m, AsmId id)
{
  guint pos;

  if (!asm_sim_sorted_find (m->switch_ids, id, asm_sim_id_key, &pos))
    return NULL;
  return g_ptr_array_index (m->switches, pos);
}

/* Reads the fabric's model through the public API. */
static void
model_load (Model *m, AsmFabric *fabric)
{
  g_autoptr (GArray) devices = NULL;

  m->switch_ids = model_list (fabric, ASM_FABRIC_SWITCHES);
  m->switches = g_ptr_array_new_with_free_func (model_switch_free);
  m->vfs = g_array_new (FALSE, FALSE, sizeof (SimVf));
  m->routes = sorted_copy (asm_fabric_get_root_map (fabric),
                           sizeof (AsmRootRoute), root_route_cmp);

  for (guint i = 0; i < m->switch_ids->len; i++)
    {
      AsmId id = g_array_index (m->switch_ids, AsmId, i);
      ModelSwitch *ms = g_new0 (ModelSwitch, 1);

      if (!asm_fabric_get_switch_info (fabric, id, &ms->info))
        {
          model_note (m, "switch %u: listed by the model, but it has no "
                      "information on it", id);
          ms->info.id = id;
        }
      ms->windows = sorted_copy (asm_fabric_get_switch_windows (fabric, id),
                                 sizeof (AsmRange), asm_sim_range_cmp);
      ms->table = sorted_copy (asm_fabric_get_xlat_table (fabric, id),
                               sizeof (AsmXlatEntry), entry_cmp);
      ms->ports = g_new0 (AsmId, MAX (ms->info.n_ports, 1));
      g_ptr_array_add (m->switches, ms);
    }

  devices = model_list (fabric, ASM_FABRIC_DEVICES);
  for (guint i = 0; i < devices->len; i++)
    {
      AsmId id = g_array_index (devices, AsmId, i);
      AsmDeviceInfo info;
      ModelSwitch *ms;

      if (!asm_fabric_get_device_info (fabric, id, &info))
        {
          model_note (m, "device %u: listed by the model, but it has no "
                      "information on it", id);
          continue;
        }
      if (info.kind == ASM_DEVICE_VF)
        {
          SimVf v = { info.pf, info.vf_index, id };

          g_array_append_val (m->vfs, v);
          continue;
        }
      if (info.switch_id == ASM_ID_NONE)
        continue;
      if ((ms = model_find_switch (m, info.switch_id)) == NULL)
        model_note (m, "device %u: bound to switch %u in the model, which "
                    "the model does not list", id, info.switch_id);
      else if (info.port >= ms->info.n_ports)
        model_note (m, "device %u: bound to port %u of switch %u in the "
                    "model, which has %u ports", id, info.port,
                    info.switch_id, ms->info.n_ports);
      else if (ms->ports[info.port] != ASM_ID_NONE)
        model_note (m, "switch %u port %u: devices %u and %u are both bound "
                    "there in the model", info.switch_id, info.port,
                    ms->ports[info.port], id);
      else
        ms->ports[info.port] = id;
    }
  g_array_sort (m->vfs, vf_cmp);
}

/* The first field in which two entries with the same key differ, or NULL. */
static char *
entry_diff (const AsmXlatEntry *hw, const AsmXlatEntry *mo)
{
#define ID_FIELD(f) \
  if (hw->f != mo->f) \
    return g_strdup_printf (#f " %u in hardware, %u in the model", hw->f, \
                            mo->f)
#define ADDR_FIELD(f) \
  if (hw->f != mo->f) \
    return g_strdup_printf (#f " " X " in hardware, " X " in the model", \
                            hw->f, mo->f)
  ID_FIELD (partition);
  ID_FIELD (workload);
  ADDR_FIELD (virt_first);
  ADDR_FIELD (size);
  ADDR_FIELD (offset);
  return NULL;
#undef ID_FIELD
#undef ADDR_FIELD
}

static char *
verify_switch (Sim *sim, SimSwitch *s, ModelSwitch *ms)
{
  guint i, j;

  if (g_strcmp0 (s->name, ms->info.name) != 0)
    return g_strdup_printf ("switch %u: name \"%s\" in hardware, \"%s\" in "
                            "the model", s->id, s->name,
                            ms->info.name ? ms->info.name : "(none)");
  if (s->n_ports != ms->info.n_ports)
    return g_strdup_printf ("switch %u: %u ports in hardware, %u in the "
                            "model", s->id, s->n_ports, ms->info.n_ports);
  if (s->table_capacity != ms->info.table_capacity)
    return g_strdup_printf ("switch %u: table capacity %u in hardware, %u "
                            "in the model", s->id, s->table_capacity,
                            ms->info.table_capacity);

  /* windows, merged by address */
  for (i = 0, j = 0; i < s->windows->len || j < ms->windows->len;)
    {
      const AsmRange *hw = i < s->windows->len
                               ? &g_array_index (s->windows, AsmRange, i)
                               : NULL;
      const AsmRange *mo = j < ms->windows->len
                               ? &g_array_index (ms->windows, AsmRange, j)
                               : NULL;

      if (hw != NULL && mo != NULL && hw->first == mo->first)
        {
          if (hw->last != mo->last)
            return g_strdup_printf ("switch %u: window " X "-" X " in "
                                    "hardware, " X "-" X " in the model",
                                    s->id, hw->first, hw->last, mo->first,
                                    mo->last);
          i++, j++;
        }
      else if (mo == NULL || (hw != NULL && hw->first < mo->first))
        return g_strdup_printf ("switch %u: window " X "-" X " is in "
                                "hardware but not in the model", s->id,
                                hw->first, hw->last);
      else
        return g_strdup_printf ("switch %u: window " X "-" X " is in the "
                                "model but not in hardware", s->id,
                                mo->first, mo->last);
    }

  if (s->staging != NULL)
    {
      g_autoptr (GArray) staged = asm_sim_staged_table (s);
      return g_strdup_printf ("switch %u: a table update is open in hardware "
                              "(%u entries staged, neither committed nor "
                              "aborted)", s->id, staged->len);
    }

  /* table entries, merged by key */
  for (i = 0, j = 0; i < s->table->len || j < ms->table->len;)
    {
      const AsmXlatEntry *hw =
          i < s->table->len ? &g_array_index (s->table, AsmXlatEntry, i)
                            : NULL;
      const AsmXlatEntry *mo =
          j < ms->table->len ? &g_array_index (ms->table, AsmXlatEntry, j)
                             : NULL;

      if (hw != NULL && mo != NULL && hw->key == mo->key)
        {
          g_autofree char *diff = entry_diff (hw, mo);

          if (diff != NULL)
            return g_strdup_printf ("switch %u: table entry key %u: %s",
                                    s->id, hw->key, diff);
          i++, j++;
        }
      else if (mo == NULL || (hw != NULL && hw->key < mo->key))
        return g_strdup_printf ("switch %u: table entry key %u is in "
                                "hardware but not in the model", s->id,
                                hw->key);
      else
        return g_strdup_printf ("switch %u: table entry key %u is in the "
                                "model but not in hardware", s->id,
                                mo->key);
    }

  /* ports */
  for (guint p = 0; p < s->n_ports; p++)
    {
      AsmId hw = s->ports[p], mo = ms->ports[p];
      SimBinding *b = hw != ASM_ID_NONE ? asm_sim_find_binding (sim, hw) : NULL;

      if (b != NULL && b->pending != PENDING_NONE)
        return g_strdup_printf ("switch %u port %u: device %u has %s pending "
                                "in hardware", s->id, p, hw,
                                b->pending == PENDING_BIND ? "a bind"
                                                           : "an unbind");
      if (hw == mo)
        continue;
      if (hw == ASM_ID_NONE)
        return g_strdup_printf ("switch %u port %u: free in hardware, device "
                                "%u in the model", s->id, p, mo);
      if (mo == ASM_ID_NONE)
        return g_strdup_printf ("switch %u port %u: device %u in hardware, "
                                "free in the model", s->id, p, hw);
      return g_strdup_printf ("switch %u port %u: device %u in hardware, "
                              "device %u in the model", s->id, p, hw, mo);
    }
  return NULL;
}

/* The first difference between the hardware and the model, or NULL. */
static char *
verify_diff (Sim *sim, Model *m)
{
  guint i, j;

  /* the set of switches */
  for (i = 0, j = 0; i < sim->switches->len || j < m->switch_ids->len;)
    {
      SimSwitch *s = i < sim->switches->len
                         ? g_ptr_array_index (sim->switches, i)
                         : NULL;
      AsmId mo = j < m->switch_ids->len
                     ? g_array_index (m->switch_ids, AsmId, j)
                     : ASM_ID_NONE;

      if (s != NULL && mo != ASM_ID_NONE && s->id == mo)
        i++, j++;
      else if (mo == ASM_ID_NONE || (s != NULL && s->id < mo))
        return g_strdup_printf ("switch %u is in hardware but not in the "
                                "model", s->id);
      else
        return g_strdup_printf ("switch %u is in the model but not in "
                                "hardware", mo);
    }

  if (m->impossible != NULL)
    return g_strdup (m->impossible);

  for (i = 0; i < sim->switches->len; i++)
    {
      char *diff = verify_switch (sim, g_ptr_array_index (sim->switches, i),
                                  g_ptr_array_index (m->switches, i));

      if (diff != NULL)
        return diff;
    }

  /* the root complex's routes, merged by address */
  for (i = 0, j = 0; i < sim->routes->len || j < m->routes->len;)
    {
      const SimRoute *hw = i < sim->routes->len
                               ? &g_array_index (sim->routes, SimRoute, i)
                               : NULL;
      const AsmRootRoute *mo =
          j < m->routes->len ? &g_array_index (m->routes, AsmRootRoute, j)
                             : NULL;

      if (hw != NULL && mo != NULL && hw->first == mo->first)
        {
          if (hw->last != mo->last || hw->sw != mo->switch_id)
            return g_strdup_printf ("root route " X "-" X " to switch %u in "
                                    "hardware, " X "-" X " to switch %u in "
                                    "the model", hw->first, hw->last, hw->sw,
                                    mo->first, mo->last, mo->switch_id);
          i++, j++;
        }
      else if (mo == NULL || (hw != NULL && hw->first < mo->first))
        return g_strdup_printf ("root route " X "-" X " to switch %u is in "
                                "hardware but not in the model", hw->first,
                                hw->last, hw->sw);
      else
        return g_strdup_printf ("root route " X "-" X " to switch %u is in "
                                "the model but not in hardware", mo->first,
                                mo->last, mo->switch_id);
    }

  /* VFs, merged by (pf, index) */
  for (i = 0, j = 0; i < sim->vfs->len || j < m->vfs->len;)
    {
      const SimVf *hw =
          i < sim->vfs->len ? &g_array_index (sim->vfs, SimVf, i) : NULL;
      const SimVf *mo =
          j < m->vfs->len ? &g_array_index (m->vfs, SimVf, j) : NULL;

      if (hw != NULL && mo != NULL &&
          asm_sim_vf_key (hw) == asm_sim_vf_key (mo))
        {
          if (hw->vf != mo->vf)
            return g_strdup_printf ("PF %u VF index %u: VF %u in hardware, "
                                    "VF %u in the model", hw->pf, hw->index,
                                    hw->vf, mo->vf);
          i++, j++;
        }
      else if (mo == NULL ||
               (hw != NULL && asm_sim_vf_key (hw) < asm_sim_vf_key (mo)))
        return g_strdup_printf ("PF %u VF index %u: VF %u in hardware, none "
                                "in the model", hw->pf, hw->index, hw->vf);
      else
        return g_strdup_printf ("PF %u VF index %u: none in hardware, VF %u "
                                "in the model", mo->pf, mo->index, mo->vf);
    }

  if (sim->held->len > 0)
    return g_strdup_printf ("device %u is held in hardware",
                            g_array_index (sim->held, AsmId, 0));
  return NULL;
}

/**
 * asm_sim_verify:
 * @backend: a sim backend
 * @fabric: the fabric that drives it
 * @error: return location for a #GError
 *
 * Compares the simulated hardware with @fabric's model, read through the
 * public fabric API: the same switches (name, ports, table capacity), and
 * per switch the same windows, the same committed translation table (every
 * field of every entry) with no update left open, and the same device at
 * every port; the same root complex routes as asm_fabric_get_root_map();
 * the same VFs under every PF; and no device held.  The usage counters
 * are the hardware's own and are not compared.  Call it
 * when no operation is running on @fabric.
 *
 * The first difference is reported as %ASM_ERROR_FAILED, naming the
 * object and both values ("switch 3: table entry key 7: offset 0x1000 in
 * hardware, 0x2000 in the model").  The comparison order, and so which
 * difference comes first, is fixed (see the theory comment of
 * asm-sim-verify.c).
 *
 * Returns: %TRUE when the hardware matches the model
 *
 * Since: 0.1
 */
gboolean
asm_sim_verify (AsmBackend *backend, AsmFabric *fabric, GError **error)
{
  Sim *sim = asm_sim_from_backend (backend);
  Model m = { 0 };
  g_autofree char *diff = NULL;

  g_return_val_if_fail (sim != NULL, FALSE);
  g_return_val_if_fail (fabric != NULL, FALSE);

  /* read the fabric first: the sim's lock is never held while calling out */
  model_load (&m, fabric);
  {
    SIM_LOCK (sim);

    diff = verify_diff (sim, &m);
  }
  model_clear (&m);
  if (diff != NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                   "hardware differs from the model: %s", diff);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* private                                                              */

#define CHECK(cond, ...) \
  G_STMT_START \
  { \
    if (!(cond)) \
      { \
        g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED, __VA_ARGS__); \
        return FALSE; \
      } \
  } \
  G_STMT_END

static gboolean
check_table (SimSwitch *s, GArray *t, const char *what, GError **error)
{
  for (guint i = 0; i < t->len; i++)
    {
      const AsmXlatEntry *e = &g_array_index (t, AsmXlatEntry, i);

      CHECK (e->key != ASM_ID_NONE, "switch %u: %s entry %u has key 0",
             s->id, what, i);
      CHECK (i == 0 || g_array_index (t, AsmXlatEntry, i - 1).key < e->key,
             "switch %u: %s keys out of order at entry %u", s->id, what, i);
      CHECK (e->size >= 1 && e->size - 1 <= G_MAXUINT64 - e->virt_first,
             "switch %u: %s entry key %u has a bad size", s->id, what,
             e->key);
    }
  return TRUE;
}

gboolean
asm_sim_check (AsmBackend *backend, GError **error)
{
  Sim *sim = asm_sim_from_backend (backend);

  g_return_val_if_fail (sim != NULL, FALSE);
  {
    SIM_LOCK (sim);

    return asm_sim_check_state (sim, error);
  }
}

/* S1-S8 on @sim, whose lock the caller holds (or which no one else sees
 * yet, as a state being loaded from a file). */
gboolean
asm_sim_check_state (Sim *sim, GError **error)
{
  guint n_bound = 0;

  for (guint i = 0; i < sim->switches->len; i++)
    {
      SimSwitch *s = g_ptr_array_index (sim->switches, i);

      /* S1 */
      CHECK (s->id != ASM_ID_NONE, "switch at %u has id 0", i);
      CHECK (i == 0 ||
                 ((SimSwitch *) g_ptr_array_index (sim->switches, i - 1))->id <
                     s->id,
             "switches out of order at %u", i);
      /* S2 */
      for (guint j = 0; j < s->windows->len; j++)
        {
          const AsmRange *w = &g_array_index (s->windows, AsmRange, j);

          CHECK (w->first <= w->last, "switch %u: window %u is empty", s->id,
                 j);
          CHECK (j == 0 ||
                     g_array_index (s->windows, AsmRange, j - 1).last <
                         w->first,
                 "switch %u: windows %u and %u overlap or are out of order",
                 s->id, j - 1, j);
        }
      /* S3 */
      if (!check_table (s, s->table, "table", error))
        return FALSE;
      CHECK (s->table->len <= s->table_capacity,
             "switch %u: %u entries committed, capacity %u", s->id,
             s->table->len, s->table_capacity);
      if (s->staging != NULL)
        {
          g_autoptr (GArray) staged = asm_sim_staged_table (s);
          if (!check_table (s, staged, "staged", error))
            return FALSE;
        }
      /* S4, from the ports' side */
      for (guint p = 0; p < s->n_ports; p++)
        {
          SimBinding *b;

          if (s->ports[p] == ASM_ID_NONE)
            continue;
          n_bound++;
          b = asm_sim_find_binding (sim, s->ports[p]);
          CHECK (b != NULL && b->device == s->ports[p] && b->sw == s->id &&
                     b->port == p,
                 "switch %u port %u: device %u has no matching binding",
                 s->id, p, s->ports[p]);
        }
    }
  /* S4, from the bindings' side: each binding is at a distinct port that
   * names it, so equal counts make the map a bijection */
  CHECK (n_bound == g_hash_table_size (sim->bindings),
         "%u ports bound but %u bindings", n_bound,
         g_hash_table_size (sim->bindings));
  /* S5 */
  for (guint i = 0; i < sim->vfs->len; i++)
    {
      const SimVf *v = &g_array_index (sim->vfs, SimVf, i);

      CHECK (v->pf != ASM_ID_NONE && v->vf != ASM_ID_NONE && v->pf != v->vf,
             "VF entry %u has a bad id", i);
      CHECK (i == 0 ||
                 asm_sim_vf_key (&g_array_index (sim->vfs, SimVf, i - 1)) <
                     asm_sim_vf_key (v),
             "VFs out of order at %u", i);
      CHECK (asm_sim_find_vf_id (sim, v->vf) == (gint) i, "VF %u appears twice",
             v->vf);
      CHECK (asm_sim_find_binding (sim, v->vf) == NULL, "VF %u is bound",
             v->vf);
    }
  /* S6 */
  for (guint i = 0; i < sim->held->len; i++)
    {
      AsmId d = g_array_index (sim->held, AsmId, i);

      CHECK (d != ASM_ID_NONE, "held device %u has id 0", i);
      CHECK (i == 0 || g_array_index (sim->held, AsmId, i - 1) < d,
             "held devices out of order at %u", i);
    }
  /* S7 */
  for (guint i = 0; i < sim->routes->len; i++)
    {
      const SimRoute *r = &g_array_index (sim->routes, SimRoute, i);

      CHECK (r->first <= r->last, "root route %u is empty", i);
      CHECK (i == 0 ||
                 g_array_index (sim->routes, SimRoute, i - 1).last < r->first,
             "root routes %u and %u overlap or are out of order", i - 1, i);
      CHECK (asm_sim_find_switch (sim, r->sw, NULL) != NULL,
             "root route " X "-" X " goes to switch %u, which does not "
             "exist", r->first, r->last, r->sw);
    }
  /* S8 */
  for (guint i = 0; i < sim->usage->len; i++)
    {
      AsmId p = g_array_index (sim->usage, SimUsage, i).partition;

      CHECK (p != ASM_ID_NONE, "usage counter %u has partition id 0", i);
      CHECK (i == 0 ||
                 g_array_index (sim->usage, SimUsage, i - 1).partition < p,
             "usage counters out of order at %u", i);
    }
  return TRUE;
}

#undef CHECK
