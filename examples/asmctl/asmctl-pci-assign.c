/* asmctl-pci-assign.c: `asmctl pci assign|attach|detach`, libvirt domain
 * XML in and out of the library's PCI policy
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The policy itself (libvirt 9.0's placement: the dry run and the real
 * pass, implicit controllers, index filling, root ports and bridges added,
 * the chipset's fixed slots, libvirt's refusals) is the library's
 * asm_pci_policy_* API; its theory is at the top of src/asm-pci-policy.c.
 * This file is the XML around it: asmctl-libvirt-read.c reads the domain
 * into an LvDomain, policy_assign() describes every LvDevice to an
 * #AsmPciPolicy (its class, connect flags, the address the XML gives,
 * libvirt's list order, the controllers' targets), asks for the
 * assignment, and copies the addresses, the defaults and the controllers
 * the policy added back into the LvDomain, which asmctl-libvirt-write.c
 * writes into the document.  Errors name the element and its line, as the
 * reader gives each device that name.
 *
 * Options map onto the policy: --multi-domain and --numa-aware are
 * #AsmPciPolicyFlags, --spare-ports N is asm_pci_policy_set_spare_ports().
 */
#include "asmctl-libvirt.h"

#include <json-glib/json-glib.h>
#include <string.h>

typedef struct {
  gboolean numa_aware;
  gboolean multi_domain;
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

/* libvirt's categories are the policy's classes, in the same order */
G_STATIC_ASSERT ((int) LV_CAT_PCI_CONTROLLER ==
                 (int) ASM_PCI_DEVICE_CLASS_PCI_CONTROLLER);
G_STATIC_ASSERT ((int) LV_CAT_DISK == (int) ASM_PCI_DEVICE_CLASS_DISK);
G_STATIC_ASSERT ((int) LV_CAT_VIDEO == (int) ASM_PCI_DEVICE_CLASS_VIDEO);
G_STATIC_ASSERT ((int) LV_CAT_PANIC == (int) ASM_PCI_DEVICE_CLASS_PANIC);
G_STATIC_ASSERT ((int) LV_CAT_NONE == (int) ASM_PCI_DEVICE_CLASS_OTHER);

/* the policy's description of @d */
static AsmPciPolicyDevice *
describe (LvDevice *d)
{
  static const AsmPciControllerTarget targets[] = {
    ASM_PCI_CONTROLLER_TARGET_CHASSIS_NR, ASM_PCI_CONTROLLER_TARGET_CHASSIS,
    ASM_PCI_CONTROLLER_TARGET_PORT, ASM_PCI_CONTROLLER_TARGET_BUS_NR,
  };
  AsmPciPolicyDevice *pd;

  if (d->cat == LV_CAT_PCI_CONTROLLER)
    {
      const gint64 values[] = { d->chassis_nr, d->chassis, d->port,
                                d->bus_nr };

      pd = asm_pci_policy_device_new_pci_controller (d->pmodel, d->index,
                                                     d->desc);
      asm_pci_policy_device_set_hotplug (pd, !d->hotplug_off);
      for (guint i = 0; i < G_N_ELEMENTS (targets); i++)
        asm_pci_policy_device_set_target (pd, targets[i], values[i]);
      asm_pci_policy_device_set_target_node (pd, d->target_node);
    }
  else
    {
      /* the reader described it from the library's model table */
      g_assert (d->pd != NULL);
      pd = asm_pci_policy_device_ref (d->pd);
    }
  /* an all-zero address is an empty one: libvirt assigns it, but its
   * chipset's fixed places are for devices without any */
  asm_pci_policy_device_set_address (pd, d->fixed || d->addr_element
                                           ? &d->addr
                                           : NULL);
  asm_pci_policy_device_set_multifunction (
    pd, d->multi == LV_MULTI_ON    ? ASM_PCI_MULTIFUNCTION_ON
        : d->multi == LV_MULTI_OFF ? ASM_PCI_MULTIFUNCTION_OFF
                                   : ASM_PCI_MULTIFUNCTION_DEFAULT);
  asm_pci_policy_device_set_primary_video (pd, d->primary_video);
  asm_pci_policy_device_set_numa_node (pd, d->numa_node);
  asm_pci_policy_device_set_list_position (pd, (guint32) d->ord[0],
                                           d->ord[1]);
  return pd;
}

/* what the policy decided for @d */
static void
take_result (LvDevice *d, const AsmPciPolicyDevice *pd)
{
  AsmPciAddr a;

  d->flags = asm_pci_policy_device_get_connect_flags (pd);
  if (!d->fixed)
    {
      d->assigned = asm_pci_policy_device_get_address (pd, &a);
      if (d->assigned)
        d->addr = a;
    }
  switch (asm_pci_policy_device_get_multifunction (pd))
    {
    case ASM_PCI_MULTIFUNCTION_ON:
      d->multi = LV_MULTI_ON;
      break;
    case ASM_PCI_MULTIFUNCTION_OFF:
      d->multi = LV_MULTI_OFF;
      break;
    default:
      d->multi = LV_MULTI_ABSENT;
      break;
    }
  if (d->cat == LV_CAT_PCI_CONTROLLER)
    {
      d->chassis_nr = asm_pci_policy_device_get_target (
        pd, ASM_PCI_CONTROLLER_TARGET_CHASSIS_NR);
      d->chassis = asm_pci_policy_device_get_target (
        pd, ASM_PCI_CONTROLLER_TARGET_CHASSIS);
      d->port =
        asm_pci_policy_device_get_target (pd, ASM_PCI_CONTROLLER_TARGET_PORT);
      d->bus_nr = asm_pci_policy_device_get_target (
        pd, ASM_PCI_CONTROLLER_TARGET_BUS_NR);
      d->target_node = asm_pci_policy_device_get_target_node (pd);
    }
}

/* assigns every missing address of @dom, libvirt's way */
static gboolean
policy_assign (LvDomain *dom, const AssignOptions *opts, GError **error)
{
  g_autoptr (AsmPciPolicy) policy = asm_pci_policy_new (
    dom->machine == LV_MACHINE_Q35 ? ASM_PCI_MACHINE_Q35 : ASM_PCI_MACHINE_PC);
  g_autoptr (AsmPciAssignment) result = NULL;
  guint n = dom->devs->len;

  for (guint i = 0; i < n; i++)
    {
      LvDevice *c = g_ptr_array_index (dom->devs, i);

      if (c->cat == LV_CAT_PCI_CONTROLLER && c->index != 0 &&
          asm_pci_controller_model_is_root (c->pmodel) && !opts->multi_domain)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "%s: pci-root and pcie-root controllers should have "
                       "index 0 (a root controller with index N > 0 as PCI "
                       "domain N needs --multi-domain)",
                       c->desc);
          return FALSE;
        }
    }
  asm_pci_policy_set_flags (
    policy, (opts->multi_domain ? ASM_PCI_POLICY_MULTI_DOMAIN : 0) |
              (opts->numa_aware ? ASM_PCI_POLICY_NUMA_AWARE : 0));
  if (!asm_pci_policy_set_spare_ports (policy, opts->spare_ports, error))
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (AsmPciPolicyDevice) pd =
        describe (g_ptr_array_index (dom->devs, i));

      if (!asm_pci_policy_add_device (policy, pd, NULL, error))
        return FALSE;
    }
  result = asm_pci_policy_assign (policy, error);
  if (result == NULL)
    return FALSE;
  for (guint i = 0; i < n; i++)
    take_result (g_ptr_array_index (dom->devs, i),
                 asm_pci_assignment_get_device (result, i));
  for (guint i = n; i < asm_pci_assignment_get_n_devices (result); i++)
    {
      const AsmPciPolicyDevice *pd = asm_pci_assignment_get_device (result, i);
      AsmPciControllerModel model;
      LvDevice *c;

      if (!asm_pci_policy_device_get_controller_model (pd, &model))
        g_error ("asmctl bug: the policy added a device that is no PCI "
                 "controller");
      c = lv_domain_add_pci_controller (
        dom, asm_pci_policy_device_get_index (pd), model);
      take_result (c, pd);
    }
  return TRUE;
}

/* the PCI controller whose bus @c is plugged into, when that is no root:
 * the one whose index is the bus id, in the same domain */
static LvDevice *
plugged_into (LvDomain *dom, LvDevice *c)
{
  LvDevice *p;

  if (c->cat != LV_CAT_PCI_CONTROLLER ||
      asm_pci_controller_model_is_root (c->pmodel) ||
      !(c->fixed || c->assigned) || c->addr.bus == 0 ||
      (p = lv_domain_find_pci_controller (dom, c->addr.bus)) == NULL ||
      asm_pci_controller_model_is_root (p->pmodel) ||
      !(p->fixed || p->assigned) || p->addr.domain != c->addr.domain)
    return NULL;
  return p;
}

/* libvirt may plug controllers without an address into each other's
 * buses (its address set has the bus of every index from the start); it
 * writes that cycle out as it is, and so does `pci assign`, but QEMU
 * refuses to start such a domain: a warning on standard error names each
 * cycle once, from its controller of the lowest index.  The output and
 * the exit status stay those of a success. */
static void
warn_cycles (LvDomain *dom, const char *cmd)
{
  guint n = 0;

  /* a walk has at most as many links as there are PCI controllers */
  for (guint i = 0; i < dom->devs->len; i++)
    n += ((LvDevice *) g_ptr_array_index (dom->devs, i))->cat ==
         LV_CAT_PCI_CONTROLLER;
  for (guint i = 0; i < dom->devs->len && n > 1; i++)
    {
      LvDevice *c = g_ptr_array_index (dom->devs, i);
      LvDevice *cur = c;
      gboolean lowest = TRUE;
      guint steps;
      g_autoptr (GString) list = NULL;

      /* Loop invariant: @cur is @steps links up from @c; a cycle through
       * @c has at most n links */
      for (steps = 0; steps <= n; steps++)
        {
          cur = plugged_into (dom, cur);
          if (cur == NULL || cur == c)
            break;
          lowest &= c->index < cur->index;
        }
      if (cur != c || !lowest)
        continue;
      list = g_string_new (NULL);
      do
        {
          g_autofree char *at = lv_addr_format (&cur->addr);

          g_string_append_printf (list, "%s%s index %u at %s",
                                  list->len > 0 ? ", " : "",
                                  asm_pci_controller_model_to_string (
                                    cur->pmodel),
                                  cur->index, at);
          cur = plugged_into (dom, cur);
        }
      while (cur != c);
      fprintf (stderr,
               "asmctl pci %s: warning: PCI controllers plugged into each "
               "other's buses, as libvirt plugs them (a cycle, which QEMU "
               "refuses to start): %s\n",
               cmd, list->str);
    }
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
  warn_cycles (dom, cmd);
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
  gboolean numa = FALSE, json = FALSE, multi = FALSE;
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
    { "multi-domain", 0, 0, G_OPTION_ARG_NONE, &multi,
      "Accept root controllers (pci-root, pcie-root) with an index N > 0, "
      "each PCI domain N (libvirt refuses them)",
      NULL },
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
           "addresses, impossible placements).\nWhere libvirt plugs "
           "controllers into each other's buses (a cycle QEMU refuses\nto "
           "start), the "
           "output is still libvirt's, with a warning on standard error.");
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
  opts.multi_domain = multi;
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
