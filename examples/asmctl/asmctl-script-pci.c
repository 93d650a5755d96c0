/* asmctl-script-pci.c: the `asmctl script` commands on PCI bus sets
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The handlers of pci, controller, hotplug, group, reserve, reserve-slot,
 * reserve-next, autogrow, release, list and probe, with their part of the
 * command table.  The interpreter that runs them is asmctl-script.c; the
 * rules every handler follows are written there.
 */
#include "asmctl-script.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* PCI bus sets                                                         */

static const struct {
  const char *name;
  const char *alias;
  AsmPciConnectFlags bit;
} pci_flag_names[] = {
  { "pci-device", NULL, ASM_PCI_CONNECT_TYPE_PCI_DEVICE },
  { "pcie-device", NULL, ASM_PCI_CONNECT_TYPE_PCIE_DEVICE },
  { "pcie-root-port", NULL, ASM_PCI_CONNECT_TYPE_PCIE_ROOT_PORT },
  { "pcie-switch-upstream-port", NULL,
    ASM_PCI_CONNECT_TYPE_PCIE_SWITCH_UPSTREAM_PORT },
  { "pcie-switch-downstream-port", NULL,
    ASM_PCI_CONNECT_TYPE_PCIE_SWITCH_DOWNSTREAM_PORT },
  { "dmi-to-pci-bridge", NULL, ASM_PCI_CONNECT_TYPE_DMI_TO_PCI_BRIDGE },
  { "pci-expander-bus", NULL, ASM_PCI_CONNECT_TYPE_PCI_EXPANDER_BUS },
  { "pcie-expander-bus", NULL, ASM_PCI_CONNECT_TYPE_PCIE_EXPANDER_BUS },
  { "pci-bridge", NULL, ASM_PCI_CONNECT_TYPE_PCI_BRIDGE },
  { "pcie-to-pci-bridge", NULL, ASM_PCI_CONNECT_TYPE_PCIE_TO_PCI_BRIDGE },
  { "auto", "autoassign", ASM_PCI_CONNECT_AUTOASSIGN },
  { "hotplug", "hotpluggable", ASM_PCI_CONNECT_HOTPLUGGABLE },
  { "integrated", NULL, ASM_PCI_CONNECT_INTEGRATED },
  { "aggregate", "aggregate-slot", ASM_PCI_CONNECT_AGGREGATE_SLOT },
};

/* FLAGS: names joined by ',' ("pcie-device,auto,hotplug") */
static gboolean
parse_pci_flags (const char *text, AsmPciConnectFlags *out, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  AsmPciConnectFlags flags = 0;

  for (guint i = 0; parts[i] != NULL; i++)
    {
      guint k;
      for (k = 0; k < G_N_ELEMENTS (pci_flag_names); k++)
        if (strcmp (parts[i], pci_flag_names[k].name) == 0 ||
            (pci_flag_names[k].alias != NULL &&
             strcmp (parts[i], pci_flag_names[k].alias) == 0))
          break;
      if (k == G_N_ELEMENTS (pci_flag_names))
        return asmctl_script_syntax (
            error,
            "FLAGS: '%s' is not a PCI connect flag (a device type such as "
            "pci-device, pcie-device, pcie-root-port, pci-bridge, ..., or "
            "auto, hotplug, integrated, aggregate)",
            parts[i]);
      flags |= pci_flag_names[k].bit;
    }
  *out = flags;
  return TRUE;
}

static gboolean
parse_pci_addr (const char *text, AsmPciAddr *out, GError **error)
{
  GError *local = NULL;

  if (!asm_pci_addr_parse (text, out, &local))
    {
      asmctl_script_syntax (error, "%s", local->message);
      g_error_free (local);
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_pci_model (const char *text, AsmPciControllerModel *out, GError **error)
{
  GError *local = NULL;

  if (!asm_pci_controller_model_from_string (text, out, &local))
    {
      asmctl_script_syntax (error,
                            "MODEL: %s (pci-root, pcie-root, pci-bridge, "
                            "dmi-to-pci-bridge, pcie-root-port, "
                            "pcie-switch-upstream-port, "
                            "pcie-switch-downstream-port, pci-expander-bus, "
                            "pcie-expander-bus or pcie-to-pci-bridge)",
                            local->message);
      g_error_free (local);
      return FALSE;
    }
  return TRUE;
}

static void
pci_track (Obj *o, guint32 index)
{
  guint i = 0;

  while (i < o->pci_indexes->len &&
         g_array_index (o->pci_indexes, guint32, i) < index)
    i++;
  if (i < o->pci_indexes->len &&
      g_array_index (o->pci_indexes, guint32, i) == index)
    return;
  g_array_insert_val (o->pci_indexes, i, index);
}

/* forget the controllers that a rolled-back growth added */
static void
pci_untrack_missing (Obj *o)
{
  for (guint i = o->pci_indexes->len; i-- > 0;)
    if (!asm_pci_bus_set_get_controller (
            o->pci, g_array_index (o->pci_indexes, guint32, i), NULL))
      g_array_remove_index (o->pci_indexes, i);
}

static char *
format_pci (const AsmPciAddr *addr)
{
  return asm_pci_addr_format (addr);
}

/* "pci.1, bus 0000:01" */
static char *
describe_bus (Obj *o, guint32 index)
{
  AsmPciControllerInfo info;
  g_autofree char *name = asm_pci_bus_set_get_controller_name (o->pci, index);

  ASMCTL_MUST (asm_pci_bus_set_get_controller (o->pci, index, &info));
  return g_strdup_printf ("%s, bus %04x:%02x", name, info.domain, info.bus);
}

static gboolean
pci_grow_cb (AsmPciBusSet *set, AsmPciConnectFlags flags, gpointer user_data,
             GError **error)
{
  Obj *o = user_data;
  guint32 index = 0;
  AsmPciAddr at;
  g_autofree char *where = NULL;

  if (o->pci_indexes->len > 0)
    index = g_array_index (o->pci_indexes, guint32, o->pci_indexes->len - 1);
  if (index == G_MAXUINT32)
    return asmctl_script_fail (error, ASM_ERROR_NO_SPACE,
                               "no controller index is left");
  index++;
  if (!asm_pci_bus_set_add_controller_next (set, index, o->pci_grow_model,
                                            o->pci_grow_domain, &at, error))
    return FALSE;
  pci_track (o, index);
  where = format_pci (&at);
  g_string_append_printf (
      o->pci_grown, ", added controller %u %s at %s", index,
      asm_pci_controller_model_to_string (o->pci_grow_model), where);
  return TRUE;
}

Obj *
asmctl_script_pci_obj_new (Script *s, const char *name)
{
  Obj *o = asmctl_script_obj_add (s, name, OBJ_PCI);

  o->pci_indexes = g_array_new (FALSE, FALSE, sizeof (guint32));
  o->pci_grown = g_string_new (NULL);
  return o;
}

void
asmctl_script_pci_set_autogrow (Obj *o, gboolean on,
                                AsmPciControllerModel model, guint32 domain)
{
  o->pci_grow = on;
  o->pci_grow_model = model;
  o->pci_grow_domain = domain;
  asm_pci_bus_set_set_grow_func (o->pci, on ? pci_grow_cb : NULL,
                                 on ? o : NULL, NULL);
}

gboolean
asmctl_script_cmd_pci (Script *s, Args *a, Obj *unused, GError **error)
{
  Obj *o;

  if (!asmctl_script_check_new_name (s, a->pos[0], error))
    return FALSE;
  o = asmctl_script_pci_obj_new (s, a->pos[0]);
  o->pci = asm_pci_bus_set_new ();
  return TRUE;
}

/* controller PCS INDEX MODEL [ADDR | next [domain=D]] */
static gboolean
cmd_controller (Script *s, Args *a, Obj *o, GError **error)
{
  guint32 index, domain = 0;
  AsmPciControllerModel model;
  AsmPciAddr at;
  gboolean next = a->n_pos > 3 && strcmp (a->pos[3], "next") == 0;
  g_autofree char *bus = NULL;

  if (!asmctl_script_num32 ("INDEX", a->pos[1], &index, error) ||
      !parse_pci_model (a->pos[2], &model, error))
    return FALSE;
  if (asmctl_script_opt (a, "domain") != NULL && !next)
    return asmctl_script_syntax (error, "domain= goes with 'next' (controller "
                                        "PCS INDEX MODEL next domain=D)");
  if (!asmctl_script_opt_num32 (a, "domain", &domain, error))
    return FALSE;
  if (a->n_pos > 3 && !next && !parse_pci_addr (a->pos[3], &at, error))
    return FALSE;

  if (next)
    {
      if (!asm_pci_bus_set_add_controller_next (o->pci, index, model, domain,
                                                &at, error))
        return FALSE;
    }
  else if (!asm_pci_bus_set_add_controller (o->pci, index, model,
                                            a->n_pos > 3 ? &at : NULL, error))
    return FALSE;
  pci_track (o, index);
  bus = describe_bus (o, index);
  if (a->n_pos > 3)
    {
      g_autofree char *where = format_pci (&at);
      asmctl_script_emit (s, "%s: controller %u %s at %s -> %s", o->name, index,
                          asm_pci_controller_model_to_string (model), where,
                          bus);
    }
  else
    asmctl_script_emit (s, "%s: controller %u %s -> %s", o->name, index,
                        asm_pci_controller_model_to_string (model), bus);
  return TRUE;
}

static gboolean
cmd_hotplug (Script *s, Args *a, Obj *o, GError **error)
{
  guint32 index;
  gboolean on;

  if (!asmctl_script_num32 ("INDEX", a->pos[1], &index, error))
    return FALSE;
  if (strcmp (a->pos[2], "on") == 0)
    on = TRUE;
  else if (strcmp (a->pos[2], "off") == 0)
    on = FALSE;
  else
    return asmctl_script_syntax (error,
                                 "hotplug: '%s' is neither 'on' nor 'off'",
                                 a->pos[2]);
  return asm_pci_bus_set_set_hotplug (o->pci, index, on, error);
}

static gboolean
cmd_group (Script *s, Args *a, Obj *o, GError **error)
{
  guint32 index, group;

  return asmctl_script_num32 ("INDEX", a->pos[1], &index, error) &&
         asmctl_script_num32 ("GROUP", a->pos[2], &group, error) &&
         asm_pci_bus_set_set_isolation_group (o->pci, index, group,
                                              asmctl_script_has_flag (a,
                                                                      "locked"),
                                              error);
}

static gboolean
cmd_pci_reserve (Script *s, Args *a, Obj *o, GError **error)
{
  AsmPciAddr addr;
  AsmPciConnectFlags flags;
  guint32 group = 0;
  gboolean slot = strcmp (a->verb, "reserve-slot") == 0;

  if (!parse_pci_addr (a->pos[1], &addr, error) ||
      !parse_pci_flags (a->pos[2], &flags, error) ||
      !asmctl_script_opt_num32 (a, "group", &group, error))
    return FALSE;
  if (slot)
    return asm_pci_bus_set_reserve_slot (o->pci, &addr, flags,
                                         asmctl_script_has_flag (a, "config"),
                                         error);
  return asm_pci_bus_set_reserve_addr_full (o->pci, &addr, flags, group,
                                            asmctl_script_has_flag (a,
                                                                    "config"),
                                            error);
}

static gboolean
cmd_reserve_next (Script *s, Args *a, Obj *o, GError **error)
{
  AsmPciAddr addr;
  AsmPciConnectFlags flags;
  guint32 group = 0;
  g_autofree char *text = NULL;
  gboolean ok;

  if (!parse_pci_flags (a->pos[1], &flags, error) ||
      !asmctl_script_opt_num32 (a, "group", &group, error))
    return FALSE;
  g_string_truncate (o->pci_grown, 0);
  ok = asm_pci_bus_set_reserve_next_full (o->pci, flags, group, &addr, error);
  pci_untrack_missing (o);
  if (!ok)
    return FALSE;
  text = format_pci (&addr);
  if (asmctl_script_opt (a, "group") != NULL)
    asmctl_script_emit (s, "%s: reserve-next %s group=%u -> %s%s", o->name,
                        a->pos[1], group, text, o->pci_grown->str);
  else
    asmctl_script_emit (s, "%s: reserve-next %s -> %s%s", o->name, a->pos[1],
                        text, o->pci_grown->str);
  return TRUE;
}

/* autogrow PCS MODEL [domain=D] | autogrow PCS off */
static gboolean
cmd_autogrow (Script *s, Args *a, Obj *o, GError **error)
{
  AsmPciControllerModel model;
  guint32 domain = 0;

  if (strcmp (a->pos[1], "off") == 0)
    {
      if (asmctl_script_opt (a, "domain") != NULL)
        return asmctl_script_syntax (error, "domain= goes with a MODEL, not "
                                            "with 'off'");
      asmctl_script_pci_set_autogrow (o, FALSE, 0, 0);
      return TRUE;
    }
  if (!parse_pci_model (a->pos[1], &model, error) ||
      !asmctl_script_opt_num32 (a, "domain", &domain, error))
    return FALSE;
  if (asm_pci_controller_model_is_root (model))
    return asmctl_script_fail (error, ASM_ERROR_INVALID,
                               "%s: autogrow needs a model that plugs into a "
                               "bus, not the root %s",
                               o->name, a->pos[1]);
  asmctl_script_pci_set_autogrow (o, TRUE, model, domain);
  return TRUE;
}

static gboolean
cmd_pci_release (Script *s, Args *a, Obj *o, GError **error)
{
  AsmPciAddr addr;

  return parse_pci_addr (a->pos[1], &addr, error) &&
         asm_pci_bus_set_release_addr (o->pci, &addr, error);
}

static gboolean
collect_pci (const AsmPciAddr *addr, gpointer user_data)
{
  g_autofree char *text = format_pci (addr);

  g_ptr_array_add (user_data, g_strdup_printf ("  %s", text));
  return TRUE;
}

static gboolean
cmd_pci_list (Script *s, Args *a, Obj *o, GError **error)
{
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);

  ASMCTL_MUST (asm_pci_bus_set_foreach_reserved (o->pci, collect_pci, lines));
  asmctl_script_emit (s, "%s: list -> %" G_GUINT64_FORMAT " reserved", o->name,
                      asm_pci_bus_set_get_n_reserved (o->pci));
  asmctl_script_emit_lines (s, lines);
  return TRUE;
}

static gboolean
cmd_pci_probe (Script *s, Args *a, Obj *o, GError **error)
{
  AsmPciAddr addr;
  g_autofree char *text = NULL;
  GString *state;

  if (!parse_pci_addr (a->pos[1], &addr, error))
    return FALSE;
  text = format_pci (&addr);
  if (!asm_pci_bus_set_find_controller (o->pci, addr.domain, addr.bus, NULL))
    {
      asmctl_script_emit (s, "%s: probe %s -> no such bus", o->name, text);
      return TRUE;
    }
  state = g_string_new (asm_pci_bus_set_is_reserved (o->pci, &addr)
                            ? "reserved" : "free");
  if (asm_pci_bus_set_is_aggregate_slot (o->pci, &addr))
    g_string_append (state, ", aggregate slot");
  if (asm_pci_bus_set_is_multifunction (o->pci, &addr))
    g_string_append (state, ", multifunction");
  asmctl_script_emit (s, "%s: probe %s -> %s", o->name, text, state->str);
  g_string_free (state, TRUE);
  return TRUE;
}

void
asmctl_script_show_pci (Script *s, Obj *o)
{
  asmctl_script_emit (s,
                      "%s: show -> %u controller%s, %" G_GUINT64_FORMAT
                      " reserved",
                      o->name, o->pci_indexes->len,
                      o->pci_indexes->len == 1 ? "" : "s",
                      asm_pci_bus_set_get_n_reserved (o->pci));
  for (guint i = 0; i < o->pci_indexes->len; i++)
    {
      guint32 index = g_array_index (o->pci_indexes, guint32, i);
      AsmPciControllerInfo info;
      g_autofree char *name = asm_pci_bus_set_get_controller_name (o->pci,
                                                                   index);
      g_autofree char *at = NULL;

      ASMCTL_MUST (asm_pci_bus_set_get_controller (o->pci, index, &info));
      if (!info.is_root)
        at = format_pci (&info.plugged_at);
      asmctl_script_emit (s,
                          "  %u %s %s%s%s: bus %04x:%02x, slots "
                          "0x%02x-0x%02x%s, group %u%s, %u reserved",
                          index,
                          asm_pci_controller_model_to_string (info.model), name,
                          at ? " at " : "", at ? at : "", info.domain, info.bus,
                          info.min_slot, info.max_slot,
                          (info.accepts & ASM_PCI_CONNECT_HOTPLUGGABLE)
                              ? ", hotplug"
                              : "",
                          info.isolation_group,
                          info.isolation_locked ? " (locked)" : "",
                          info.n_reserved);
    }
}

/* ------------------------------------------------------------------ */
/* Their part of the command table                                      */

const Command asmctl_script_pci_commands[] = {
  { "pci", K_NONE, 1, 1, NULL, NULL, "pci NAME", asmctl_script_cmd_pci },
  { "controller", OBJ_PCI, 3, 4, NULL, "domain",
    "controller PCI INDEX MODEL [ADDR | next [domain=D]]", cmd_controller },
  { "hotplug", OBJ_PCI, 3, 3, NULL, NULL, "hotplug PCI INDEX on|off",
    cmd_hotplug },
  { "group", OBJ_PCI, 3, 3, "locked", NULL, "group PCI INDEX GROUP [locked]",
    cmd_group },
  { "reserve", OBJ_PCI, 3, 3, "config", "group",
    "reserve PCI ADDR FLAGS [config] [group=G]", cmd_pci_reserve },
  { "reserve-slot", OBJ_PCI, 3, 3, "config", NULL,
    "reserve-slot PCI ADDR FLAGS [config]", cmd_pci_reserve },
  { "reserve-next", OBJ_PCI, 2, 2, NULL, "group",
    "reserve-next PCI FLAGS [group=G]", cmd_reserve_next },
  { "autogrow", OBJ_PCI, 2, 2, NULL, "domain",
    "autogrow PCI MODEL [domain=D] | autogrow PCI off", cmd_autogrow },
  { "release", OBJ_PCI, 2, 2, NULL, NULL, "release PCI ADDR",
    cmd_pci_release },
  { "list", OBJ_PCI, 1, 1, NULL, NULL, "list PCI", cmd_pci_list },
  { "probe", OBJ_PCI, 2, 2, NULL, NULL, "probe PCI ADDR", cmd_pci_probe },
};

const guint asmctl_script_pci_n_commands =
  G_N_ELEMENTS (asmctl_script_pci_commands);
