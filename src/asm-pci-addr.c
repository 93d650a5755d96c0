/* asm-pci-addr.c: PCI addresses and PCI controller models (layer 2)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * This module owns what a PCI address and a PCI controller model mean on
 * their own, before any bus set exists: the value #AsmPciAddr, the
 * connect flags (their names and when a device fits a bus), and libvirt's
 * table of controller models.  The bus set (asm-pci-bus.c) is built on it
 * and reaches the table only through the public queries below and the
 * helpers declared in asm-pci-private.h.
 *
 * Addresses
 * ---------
 * An #AsmPciAddr is a plain value, domain:bus:slot.function.  Its text is
 * `DDDD:BB:SS.F` in hex, or `BB:SS.F` for domain 0; asm_pci_addr_format()
 * writes `%04x:%02x:%02x.%x`, which asm_pci_addr_parse() reads back to the
 * same value.  Parsing checks each part against its range (domain 16 bits,
 * bus 32 bits since bus ids in configuration may exceed 8 bits, slot
 * 0..0x1f, function 0..7) and names the part that is out of range.
 * Addresses order by domain, then bus, slot and function: the order in
 * which the bus set prefers free addresses.
 *
 * Controller models (libvirt `domain_addr`, 9.0)
 * ----------------------------------------------
 * A machine's PCI topology is a set of controllers; each provides one bus.
 * A bus accepts some connect types (PCI device, PCIe device, root port,
 * switch ports, bridges, expander buses), may allow hotplug and
 * auto-assignment, and has a slot range (pci-root 1..31, a root port 0..0,
 * ...); the table `models` below holds libvirt's
 * virDomainPCIAddressBusSetModel() for each model, and the connect flags a
 * controller needs to be plugged in (virDomainPCIControllerModelToConnectType:
 * a pcie-root-port is PCIE_ROOT_PORT | AGGREGATE_SLOT, other models their
 * own type bit, roots nothing).
 *
 * Controller names are libvirt's aliases: "pcie.N" for a pcie-root, "pci.N"
 * for every other model, N being the controller index.  Messages name a
 * device by the first of its type bits in libvirt's order (`type_names`).
 *
 * Connect flags
 * -------------
 * A device fits a bus (virDomainPCIAddressFlagsCompatible) when:
 *   - INTEGRATED devices sit on bus 0 only, where auto-assignment is then
 *     allowed;
 *   - for an address from configuration, PCI and PCIe endpoints are
 *     interchangeable (a bus taking either takes both) and a pci-bridge may
 *     go wherever a PCI device may; otherwise an AUTOASSIGN device needs an
 *     AUTOASSIGN bus (pcie-root has none: only root ports, bridges and
 *     integrated devices are placed on it automatically);
 *   - a HOTPLUGGABLE device needs a hotplug bus (from configuration too);
 *   - the device and the bus share a type bit.
 *
 * Invariants: `models` has one entry per #AsmPciControllerModel, indexed
 * by it (checked at compile time); each entry's slots satisfy
 * min_slot <= max_slot <= ASM_PCI_SLOT_LAST; a root needs no connect
 * flags; `type_names` names each of the 10 type bits once, and every
 * connect flag lies in the low 14 bits (checked at compile time).
 *
 * Costs: every query is O(1), except asm_pci_addr_parse() (O(length of
 * the text)) and asm_pci_controller_model_from_string() (O(models)).
 * Nothing allocates but the strings returned.
 *
 * Locking: none needed; the tables are constant and no function keeps
 * state.
 */
#include <asm/asm-pci.h>

#include <string.h>

#include "asm-pci-private.h"
#include "asm-boxed-private.h"

ASM_DEFINE_VALUE_TYPE (AsmPciAddr, asm_pci_addr)

/* ------------------------------------------------------------------ */
/* Models                                                               */

typedef struct {
  const char *name;
  AsmPciConnectFlags connect;  /* what plugging the controller in needs */
  AsmPciConnectFlags accepts;  /* what its bus accepts, hotplug aside */
  gboolean hotplug;            /* the bus can support hotplug */
  guint8 min_slot;
  guint8 max_slot;
} ModelInfo;

#define C(x) ASM_PCI_CONNECT_##x
#define T(x) ASM_PCI_CONNECT_TYPE_##x

static const ModelInfo models[] = {
  [ASM_PCI_CONTROLLER_MODEL_PCI_ROOT] =
    { "pci-root", 0,
      C (AUTOASSIGN) | T (PCI_DEVICE) | T (PCI_BRIDGE) | T (PCI_EXPANDER_BUS),
      TRUE, 1, ASM_PCI_SLOT_LAST },
  [ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT] =
    { "pcie-root", 0,
      T (PCIE_DEVICE) | T (PCIE_ROOT_PORT) | T (DMI_TO_PCI_BRIDGE) |
        T (PCIE_EXPANDER_BUS),
      FALSE, 1, ASM_PCI_SLOT_LAST },
  [ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE] =
    { "pci-bridge", T (PCI_BRIDGE),
      C (AUTOASSIGN) | T (PCI_DEVICE) | T (PCI_BRIDGE),
      TRUE, 1, ASM_PCI_SLOT_LAST },
  [ASM_PCI_CONTROLLER_MODEL_DMI_TO_PCI_BRIDGE] =
    { "dmi-to-pci-bridge", T (DMI_TO_PCI_BRIDGE),
      T (PCI_DEVICE) | T (PCI_BRIDGE),
      FALSE, 0, ASM_PCI_SLOT_LAST },
  [ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT] =
    { "pcie-root-port", T (PCIE_ROOT_PORT) | C (AGGREGATE_SLOT),
      C (AUTOASSIGN) | T (PCIE_DEVICE) | T (PCIE_SWITCH_UPSTREAM_PORT) |
        T (PCIE_TO_PCI_BRIDGE),
      TRUE, 0, 0 },
  [ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_UPSTREAM_PORT] =
    { "pcie-switch-upstream-port", T (PCIE_SWITCH_UPSTREAM_PORT),
      T (PCIE_SWITCH_DOWNSTREAM_PORT),
      FALSE, 0, ASM_PCI_SLOT_LAST },
  [ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_DOWNSTREAM_PORT] =
    { "pcie-switch-downstream-port", T (PCIE_SWITCH_DOWNSTREAM_PORT),
      C (AUTOASSIGN) | T (PCIE_DEVICE) | T (PCIE_SWITCH_UPSTREAM_PORT) |
        T (PCIE_TO_PCI_BRIDGE),
      TRUE, 0, 0 },
  [ASM_PCI_CONTROLLER_MODEL_PCI_EXPANDER_BUS] =
    { "pci-expander-bus", T (PCI_EXPANDER_BUS),
      C (AUTOASSIGN) | T (PCI_DEVICE) | T (PCI_BRIDGE),
      TRUE, 0, ASM_PCI_SLOT_LAST },
  [ASM_PCI_CONTROLLER_MODEL_PCIE_EXPANDER_BUS] =
    { "pcie-expander-bus", T (PCIE_EXPANDER_BUS),
      T (PCIE_ROOT_PORT) | T (DMI_TO_PCI_BRIDGE),
      FALSE, 0, ASM_PCI_SLOT_LAST },
  [ASM_PCI_CONTROLLER_MODEL_PCIE_TO_PCI_BRIDGE] =
    { "pcie-to-pci-bridge", T (PCIE_TO_PCI_BRIDGE),
      C (AUTOASSIGN) | T (PCI_DEVICE) | T (PCI_BRIDGE),
      TRUE, 1, ASM_PCI_SLOT_LAST },
};

/* The type names, in the order libvirt picks one to name a device. */
static const struct {
  AsmPciConnectFlags bit;
  const char *name;
} type_names[] = {
  { T (PCI_DEVICE), "PCI device" },
  { T (PCIE_DEVICE), "PCIe device" },
  { T (PCIE_ROOT_PORT), "pcie-root-port" },
  { T (PCIE_SWITCH_UPSTREAM_PORT), "pcie-switch-upstream-port" },
  { T (PCIE_SWITCH_DOWNSTREAM_PORT), "pcie-switch-downstream-port" },
  { T (DMI_TO_PCI_BRIDGE), "dmi-to-pci-bridge" },
  { T (PCIE_TO_PCI_BRIDGE), "pcie-to-pci-bridge" },
  { T (PCI_EXPANDER_BUS), "pci-expander-bus" },
  { T (PCIE_EXPANDER_BUS), "pcie-expander-bus" },
  { T (PCI_BRIDGE), "pci-bridge" },
};

static const struct {
  AsmPciConnectFlags bit;
  const char *name;
} modifier_names[] = {
  { C (AUTOASSIGN), "auto-assign" },
  { C (HOTPLUGGABLE), "hotpluggable" },
  { C (INTEGRATED), "integrated" },
  { C (AGGREGATE_SLOT), "aggregate-slot" },
};

G_STATIC_ASSERT (G_N_ELEMENTS (models) ==
                 ASM_PCI_CONTROLLER_MODEL_PCIE_TO_PCI_BRIDGE + 1);
G_STATIC_ASSERT (G_N_ELEMENTS (type_names) == 10);
G_STATIC_ASSERT ((ASM_PCI_CONNECT_ALL & ~(guint) ((1 << 14) - 1)) == 0);

static gboolean
model_valid (AsmPciControllerModel model)
{
  return (guint) model < G_N_ELEMENTS (models);
}

/* The name of the first type bit of @flags, in libvirt's order. */
const char *
asm_pci_connect_type_name (AsmPciConnectFlags flags)
{
  for (guint i = 0; i < G_N_ELEMENTS (type_names); i++)
    if (flags & type_names[i].bit)
      return type_names[i].name;
  return "device of no known type";
}

/* ------------------------------------------------------------------ */
/* Addresses                                                            */

static gboolean
parse_fail (const char *text, GError **error)
{
  g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
               "'%s' is not a PCI address (DDDD:BB:SS.F or BB:SS.F, in hex)",
               text);
  return FALSE;
}

/**
 * asm_pci_addr_parse:
 * @text: `DDDD:BB:SS.F` or `BB:SS.F`, each part hexadecimal (1 or more
 *   digits, no `0x`)
 * @out: (out caller-allocates): the address
 * @error: return location for a #GError
 *
 * Parses a PCI address; the domain is 0 when absent.  The bus may exceed 8
 * bits (up to 0xffffffff), as bus ids in configuration may.
 *
 * Errors: %ASM_ERROR_PARSE for text of another shape; %ASM_ERROR_INVALID
 * naming the part out of range ("slot 0x20 is out of range 0..0x1f",
 * "function 8 is out of range 0..7", domain above 0xffff, bus above
 * 0xffffffff).  @out is not changed on error.
 *
 * Returns: %TRUE on success
 *
 * Since: 0.1
 */
gboolean
asm_pci_addr_parse (const char *text, AsmPciAddr *out, GError **error)
{
  guint64 part[4];
  char sep[3];
  guint n = 0;
  const char *p = text;
  guint64 domain, bus, slot, function;

  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (;;)
    {
      guint64 v = 0;
      guint digits = 0;
      gboolean big = FALSE;

      while (g_ascii_isxdigit (*p))
        {
          if (v > (G_MAXUINT64 >> 4))
            big = TRUE;
          else
            v = v << 4 | (guint64) g_ascii_xdigit_value (*p);
          digits++;
          p++;
        }
      if (digits == 0)
        return parse_fail (text, error);
      part[n++] = big ? G_MAXUINT64 : v;
      if (*p == '\0')
        break;
      if (n == 4 || (*p != ':' && *p != '.'))
        return parse_fail (text, error);
      sep[n - 1] = *p++;
    }

  if (n == 4 && sep[0] == ':' && sep[1] == ':' && sep[2] == '.')
    {
      domain = part[0];
      bus = part[1];
      slot = part[2];
      function = part[3];
    }
  else if (n == 3 && sep[0] == ':' && sep[1] == '.')
    {
      domain = 0;
      bus = part[0];
      slot = part[1];
      function = part[2];
    }
  else
    return parse_fail (text, error);

  if (domain > ASM_PCI_DOMAIN_LAST)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "'%s': domain %#" G_GINT64_MODIFIER "x is out of range "
                   "0..%#x", text, domain, ASM_PCI_DOMAIN_LAST);
      return FALSE;
    }
  if (bus > G_MAXUINT32)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "'%s': bus %#" G_GINT64_MODIFIER "x is out of range "
                   "0..%#x", text, bus, G_MAXUINT32);
      return FALSE;
    }
  if (slot > ASM_PCI_SLOT_LAST)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "'%s': slot %#" G_GINT64_MODIFIER "x is out of range "
                   "0..%#x", text, slot, ASM_PCI_SLOT_LAST);
      return FALSE;
    }
  if (function > ASM_PCI_FUNCTION_LAST)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "'%s': function %" G_GUINT64_FORMAT " is out of range "
                   "0..%u", text, function, ASM_PCI_FUNCTION_LAST);
      return FALSE;
    }
  out->domain = (guint32) domain;
  out->bus = (guint32) bus;
  out->slot = (guint8) slot;
  out->function = (guint8) function;
  return TRUE;
}

/**
 * asm_pci_addr_format:
 * @addr: an address
 *
 * Formats @addr as `%04x:%02x:%02x.%x` (`0000:00:1f.2`), the form
 * asm_pci_addr_parse() reads back.
 *
 * Returns: (transfer full): the text
 *
 * Since: 0.1
 */
char *
asm_pci_addr_format (const AsmPciAddr *addr)
{
  g_return_val_if_fail (addr != NULL, NULL);
  return g_strdup_printf ("%04x:%02x:%02x.%x", addr->domain, addr->bus,
                          addr->slot, addr->function);
}

/**
 * asm_pci_addr_equal:
 * @a: an address
 * @b: another address
 *
 * Compares two PCI addresses for equality.
 *
 * Returns: %TRUE when every part of @a and @b is equal
 *
 * Since: 0.1
 */
gboolean
asm_pci_addr_equal (const AsmPciAddr *a, const AsmPciAddr *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, FALSE);
  return a->domain == b->domain && a->bus == b->bus && a->slot == b->slot &&
         a->function == b->function;
}

/**
 * asm_pci_addr_compare:
 * @a: an address
 * @b: another address
 *
 * Orders addresses by domain, then bus, slot and function: the order in
 * which asm_pci_bus_set_reserve_next() prefers them.
 *
 * Returns: negative, 0 or positive as @a sorts before, with or after @b
 *
 * Since: 0.1
 */
int
asm_pci_addr_compare (const AsmPciAddr *a, const AsmPciAddr *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, 0);
  if (a->domain != b->domain)
    return a->domain < b->domain ? -1 : 1;
  if (a->bus != b->bus)
    return a->bus < b->bus ? -1 : 1;
  if (a->slot != b->slot)
    return a->slot < b->slot ? -1 : 1;
  if (a->function != b->function)
    return a->function < b->function ? -1 : 1;
  return 0;
}

/* ------------------------------------------------------------------ */
/* Connect flags                                                        */

/**
 * asm_pci_connect_flags_to_string:
 * @flags: connect flags
 *
 * Describes @flags for messages: the type names joined by " or ", then the
 * other bits in parentheses, e.g. "PCI device (auto-assign, hotpluggable)"
 * or "pcie-root-port (aggregate-slot)".
 *
 * Returns: (transfer full): the text
 *
 * Since: 0.1
 */
char *
asm_pci_connect_flags_to_string (AsmPciConnectFlags flags)
{
  GString *str = g_string_new (NULL);
  gboolean first = TRUE;

  for (guint i = 0; i < G_N_ELEMENTS (type_names); i++)
    if (flags & type_names[i].bit)
      {
        g_string_append_printf (str, "%s%s", str->len ? " or " : "",
                                type_names[i].name);
      }
  if (str->len == 0)
    g_string_append (str, "no device type");
  for (guint i = 0; i < G_N_ELEMENTS (modifier_names); i++)
    if (flags & modifier_names[i].bit)
      {
        g_string_append_printf (str, "%s%s", first ? " (" : ", ",
                                modifier_names[i].name);
        first = FALSE;
      }
  if (flags & ~ASM_PCI_CONNECT_ALL)
    {
      g_string_append_printf (str, "%sunknown bits %#x", first ? " (" : ", ",
                              (guint) (flags & ~ASM_PCI_CONNECT_ALL));
      first = FALSE;
    }
  if (!first)
    g_string_append_c (str, ')');
  return g_string_free (str, FALSE);
}

/* libvirt's virDomainPCIAddressFlagsCompatible; see asm-pci-private.h. */
AsmPciFit
asm_pci_connect_fits (AsmPciConnectFlags accepts, gboolean bus_zero,
                      AsmPciConnectFlags dev, gboolean from_config)
{
  if (dev & ASM_PCI_CONNECT_INTEGRATED)
    {
      if (!bus_zero)
        return ASM_PCI_FIT_NOT_INTEGRATED;
      accepts |= ASM_PCI_CONNECT_AUTOASSIGN;
    }
  if (from_config)
    {
      if (accepts & ASM_PCI_CONNECT_TYPES_ENDPOINT)
        accepts |= ASM_PCI_CONNECT_TYPES_ENDPOINT;
      if (dev & ASM_PCI_CONNECT_TYPE_PCI_BRIDGE)
        dev |= ASM_PCI_CONNECT_TYPE_PCI_DEVICE;
    }
  else if ((dev & ASM_PCI_CONNECT_AUTOASSIGN) &&
           !(accepts & ASM_PCI_CONNECT_AUTOASSIGN))
    return ASM_PCI_FIT_NO_AUTOASSIGN;
  if ((dev & ASM_PCI_CONNECT_HOTPLUGGABLE) &&
      !(accepts & ASM_PCI_CONNECT_HOTPLUGGABLE))
    return ASM_PCI_FIT_NO_HOTPLUG;
  if (!(dev & accepts & ASM_PCI_CONNECT_TYPES_MASK))
    return ASM_PCI_FIT_NO_TYPE;
  return ASM_PCI_FIT_OK;
}

/* Unknown bits or no type bit: INVALID. */
gboolean
asm_pci_connect_flags_check (AsmPciConnectFlags flags, GError **error)
{
  if (flags & ~ASM_PCI_CONNECT_ALL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "connect flags %#x hold unknown bits %#x", (guint) flags,
                   (guint) (flags & ~ASM_PCI_CONNECT_ALL));
      return FALSE;
    }
  if (!(flags & ASM_PCI_CONNECT_TYPES_MASK))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "connect flags %#x name no device type", (guint) flags);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Controller models                                                    */

/**
 * asm_pci_controller_model_to_string:
 * @model: a controller model
 *
 * Gets the name libvirt gives a controller model.
 *
 * Returns: (nullable): libvirt's name of @model ("pci-root", "pcie-root",
 *   "pci-bridge", "dmi-to-pci-bridge", "pcie-root-port",
 *   "pcie-switch-upstream-port", "pcie-switch-downstream-port",
 *   "pci-expander-bus", "pcie-expander-bus", "pcie-to-pci-bridge"), or
 *   %NULL for a value that is no model
 *
 * Since: 0.1
 */
const char *
asm_pci_controller_model_to_string (AsmPciControllerModel model)
{
  return model_valid (model) ? models[model].name : NULL;
}

/**
 * asm_pci_controller_model_from_string:
 * @name: a model name as asm_pci_controller_model_to_string() gives
 * @out: (out): the model
 * @error: return location for a #GError
 *
 * Errors: %ASM_ERROR_PARSE for an unknown name.
 *
 * Returns: %TRUE when @name is a model
 *
 * Since: 0.1
 */
gboolean
asm_pci_controller_model_from_string (const char *name,
                                      AsmPciControllerModel *out,
                                      GError **error)
{
  g_return_val_if_fail (name != NULL && out != NULL, FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (models); i++)
    if (strcmp (models[i].name, name) == 0)
      {
        *out = (AsmPciControllerModel) i;
        return TRUE;
      }
  g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
               "'%s' is not a PCI controller model", name);
  return FALSE;
}

/**
 * asm_pci_controller_model_is_root:
 * @model: a controller model
 *
 * Tells whether @model is a root controller.
 *
 * Returns: %TRUE for pci-root and pcie-root, the controllers that establish
 *   a domain and are plugged nowhere
 *
 * Since: 0.1
 */
gboolean
asm_pci_controller_model_is_root (AsmPciControllerModel model)
{
  return model == ASM_PCI_CONTROLLER_MODEL_PCI_ROOT ||
         model == ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT;
}

/**
 * asm_pci_controller_model_get_connect_flags:
 * @model: a controller model
 *
 * The flags with which a controller of @model is plugged into its parent
 * bus (libvirt's virDomainPCIControllerModelToConnectType): its own type
 * bit, plus %ASM_PCI_CONNECT_AGGREGATE_SLOT for a pcie-root-port (8 share a
 * slot).
 *
 * Returns: the flags; 0 for a root or an unknown model
 *
 * Since: 0.1
 */
AsmPciConnectFlags
asm_pci_controller_model_get_connect_flags (AsmPciControllerModel model)
{
  return model_valid (model) ? models[model].connect : 0;
}

/**
 * asm_pci_controller_model_get_bus_flags:
 * @model: a controller model
 * @hotplug: whether the bus has hotplug enabled (ignored for models whose
 *   bus never supports it)
 * @out_min_slot: (out) (optional): the lowest usable slot of the bus
 * @out_max_slot: (out) (optional): the highest usable slot
 *
 * What the bus of a controller of @model accepts (libvirt's
 * virDomainPCIAddressBusSetModel): e.g. pci-root takes PCI devices,
 * pci-bridges and pci-expander-buses in slots 1..31, auto-assignment and
 * hotplug; pcie-root takes PCIe devices, root ports, dmi-to-pci-bridges
 * and pcie-expander-buses in slots 1..31, without auto-assignment or
 * hotplug; a pcie-root-port has the single slot 0.
 *
 * Returns: the accepted flags; 0 for an unknown model
 *
 * Since: 0.1
 */
AsmPciConnectFlags
asm_pci_controller_model_get_bus_flags (AsmPciControllerModel model,
                                        gboolean hotplug, guint8 *out_min_slot,
                                        guint8 *out_max_slot)
{
  if (!model_valid (model))
    return 0;
  if (out_min_slot != NULL)
    *out_min_slot = models[model].min_slot;
  if (out_max_slot != NULL)
    *out_max_slot = models[model].max_slot;
  return models[model].accepts |
         (hotplug && models[model].hotplug ? ASM_PCI_CONNECT_HOTPLUGGABLE
                                           : 0);
}

/* libvirt's alias of a controller: "pcie.N" or "pci.N". */
char *
asm_pci_controller_name (AsmPciControllerModel model, guint32 index)
{
  return g_strdup_printf ("%s.%u",
                          model == ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT ? "pcie"
                                                                      : "pci",
                          index);
}
