/* asmctl-libvirt-read.c: reading libvirt domain XML for asmctl
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Reads a domain XML with libxml2 into an LvDomain (asmctl-libvirt.h):
 * each element under <devices> becomes an LvDevice with the connect flags
 * libvirt's qemu driver gives it on x86_64 (qemuDomainDeviceCalculate-
 * PCIConnectFlags, QEMU 7.2 capabilities: virtio devices are PCI Express
 * on q35 unless transitional; e1000e, xhci, bochs and host devices are
 * PCI Express; everything else is conventional PCI), its category in
 * libvirt's assignment order and its place in libvirt's device lists
 * (controllers: grouped by type, each group sorted by index; the primary
 * video first).  The implicit devices libvirt adds to a pc or q35 domain
 * are added too: pci-root/pcie-root, usb controller 0 (piix3-uhci on pc,
 * qemu-xhci on q35), sata controller 0 on q35, a virtio memballoon, a
 * cirrus video when there are graphics, the disk controllers the disks
 * need (SCSI, IDE at 00:01.1 on pc, SATA: every index up to the highest
 * one a disk's drive address or name puts it on, as libvirt adds them),
 * the SCSI controllers of SCSI host devices (those come first in
 * libvirt's list, added as it parses them) and a virtio-serial controller
 * for virtio channels.  A disk whose name
 * libvirt cannot read an index from, a second IDE or floppy controller,
 * and IDE on q35 are refused with libvirt's reason.
 *
 * Errors name the element and its line: "<disk> 'vda' (line 12): ...".
 *
 * Hostile input.  A domain XML may come from someone who wants asmctl to
 * spin or to swell, so every size that drives work is bounded before the
 * work starts, and refused (exit 3) with the value, where it is and the
 * allowed range (the limits are in asmctl-libvirt.h):
 *   - the document: at most LV_DOC_MAX (16 MiB) bytes, read no further;
 *     attribute values at most LV_ATTR_MAX (4 KiB: a path of PATH_MAX),
 *     text nodes at most LV_TEXT_MAX (64 KiB), checked by one walk of the
 *     tree.  libxml2 parses with its default limits (no XML_PARSE_HUGE),
 *     XML_PARSE_NONET and without XML_PARSE_NOENT or XML_PARSE_DTDLOAD;
 *     Debian 12's libxml2 2.9 has no xmlCtxtSetMaxAmplification, and
 *     reading a value (xmlNodeGetContent) expands entity references
 *     whatever the options, so any entity declaration stops the parser
 *     (a domain XML needs none; libvirt writes none);
 *   - numbers: decimal or 0x hex digits only, no sign, no space, no
 *     leading zero (libvirt reads "010" in an address as octal 8), no
 *     value beyond the attribute's range: nothing wraps or clamps;
 *   - a PCI controller's index, and the bus of a PCI address:
 *     0..LV_PCI_INDEX_MAX (255).  libvirt 9.0
 *     refuses a higher one ("PCI controller index N too high, maximum is
 *     255", virDomainControllerDefValidate: a PCI domain has 256 bus
 *     numbers, and a controller's index is its bus number).  Gaps below
 *     the highest index are filled, so this also bounds the controllers
 *     that filling adds;
 *   - the index of another controller and the controller of a drive
 *     address: 0..LV_CONTROLLER_INDEX_MAX (255).  libvirt adds every SCSI
 *     controller up to the highest one a disk names, each taking a PCI
 *     slot; 256 of them is already more than anyone plugs in, and it
 *     keeps what an input can make asmctl add to a few hundred devices;
 *   - a disk name's index: 0..LV_DISK_INDEX_MAX (vda..vdzzz, 18,278
 *     disks), and a SCSI disk named sdX must fall on a controller of that
 *     range (7 units a controller: sda..sdbpx).
 * Beyond those, the cost of every step is linear or n log n in the
 * devices: controllers are found by a hash of (type, index), not by a
 * scan.
 *
 * Writing the document back, and attaching and detaching devices, are in
 * asmctl-libvirt-write.c; the small XML helpers below serve both.
 */
#include "asmctl-libvirt.h"

#include <libxml/parser.h>

#include <errno.h>
#include <string.h>

/* the namespace of asm's own device annotations (<asm:numa node='1'/>) */
#define LV_ASM_NS "urn:x-asm:libvirt"

void
lv_device_free (LvDevice *dev)
{
  if (dev == NULL)
    return;
  g_free (dev->tag);
  g_free (dev->desc);
  g_free (dev->ctype);
  g_free (dev->cmodel);
  g_clear_pointer (&dev->pd, asm_pci_policy_device_unref);
  g_free (dev);
}

void
lv_domain_free (LvDomain *dom)
{
  if (dom == NULL)
    return;
  if (dom->ctrls != NULL)
    g_hash_table_unref (dom->ctrls);
  if (dom->devs != NULL)
    g_ptr_array_unref (dom->devs);
  if (dom->doc != NULL)
    xmlFreeDoc (dom->doc);
  g_free (dom->name);
  g_free (dom->source);
  g_free (dom);
}

char *
lv_addr_format (const AsmPciAddr *addr)
{
  return g_strdup_printf ("%04x:%02x:%02x.%x", addr->domain, addr->bus,
                          addr->slot, addr->function);
}

/* ------------------------------------------------------------------ */
/* Small XML helpers (asmctl-libvirt-write.c uses them too)             */

gboolean
asmctl_xml_is_element (xmlNodePtr n, const char *name)
{
  return n != NULL && n->type == XML_ELEMENT_NODE &&
         (name == NULL || strcmp ((const char *) n->name, name) == 0) &&
         (n->ns == NULL || n->ns->href == NULL ||
          strcmp ((const char *) n->ns->href, LV_ASM_NS) != 0);
}

xmlNodePtr
asmctl_xml_child (xmlNodePtr parent, const char *name)
{
  for (xmlNodePtr c = parent != NULL ? parent->children : NULL; c != NULL;
       c = c->next)
    if (asmctl_xml_is_element (c, name))
      return c;
  return NULL;
}

/* an attribute's value, or NULL (owned by the caller) */
char *
asmctl_xml_attr (xmlNodePtr n, const char *name)
{
  xmlChar *v;
  char *s;

  if (n == NULL)
    return NULL;
  v = xmlGetNoNsProp (n, (const xmlChar *) name);
  if (v == NULL)
    return NULL;
  s = g_strdup ((const char *) v);
  xmlFree (v);
  return s;
}

char *
asmctl_xml_child_attr (xmlNodePtr parent, const char *cname, const char *aname)
{
  return asmctl_xml_attr (asmctl_xml_child (parent, cname), aname);
}

static char *
text_of (xmlNodePtr n)
{
  xmlChar *v;
  char *s;

  if (n == NULL)
    return NULL;
  v = xmlNodeGetContent (n);
  s = g_strstrip (g_strdup (v != NULL ? (const char *) v : ""));
  xmlFree (v);
  return s;
}

long
asmctl_xml_line_of (xmlNodePtr n)
{
  return n != NULL ? xmlGetLineNo (n) : -1;
}

/* parses an unsigned number, strictly: decimal digits without a leading
 * zero, or 0x and hex digits; no sign, no space; nothing above @max */
gboolean
asmctl_xml_parse_uint (const char *text, guint64 max, guint64 *out)
{
  const char *p = text;
  guint base = 10;
  guint64 v = 0;

  if (text == NULL || *text == '\0')
    return FALSE;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
    {
      base = 16;
      p += 2;
      if (*p == '\0')
        return FALSE;
    }
  else if (p[0] == '0' && p[1] != '\0')
    return FALSE; /* octal to libvirt, decimal to a reader: neither */
  for (; *p != '\0'; p++)
    {
      int d = base == 16 ? g_ascii_xdigit_value (*p)
                         : g_ascii_digit_value (*p);

      if (d < 0 || (guint64) d > max || v > (max - (guint64) d) / base)
        return FALSE;
      v = v * base + (guint64) d;
    }
  *out = v;
  return TRUE;
}

static gboolean
input_error (GError **error, LvDevice *dev, const char *fmt, ...)
  G_GNUC_PRINTF (3, 4);

static gboolean
input_error (GError **error, LvDevice *dev, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID, "%s: %s", dev->desc, msg);
  return FALSE;
}

static LvDevice *
device_new (xmlNodePtr node, const char *tag)
{
  LvDevice *dev = g_new0 (LvDevice, 1);

  dev->node = node;
  dev->tag = g_strdup (tag);
  dev->cat = LV_CAT_NONE;
  dev->usb2_function = -1;
  dev->numa_node = -1;
  dev->target_node = -1;
  dev->chassis_nr = dev->chassis = dev->port = dev->bus_nr = -1;
  dev->parent_index = -1;
  return dev;
}

/* "<disk> 'vda' (line 12)" */
static void
device_describe (LvDevice *dev, const char *name)
{
  g_autofree char *where = NULL;

  if (dev->node != NULL)
    where = g_strdup_printf ("line %ld", asmctl_xml_line_of (dev->node));
  else
    where = g_strdup ("implicit");
  if (dev->ctype != NULL)
    dev->desc = g_strdup_printf ("<controller type='%s' index='%u'> (%s)",
                                 dev->ctype, dev->index, where);
  else if (name != NULL)
    dev->desc = g_strdup_printf ("<%s> '%s' (%s)", dev->tag, name, where);
  else
    dev->desc = g_strdup_printf ("<%s> (%s)", dev->tag, where);
}

/* Reads the <address> of a device: a non-zero PCI address is fixed; an
 * all-zero one (or none) is wanted; another type means no PCI address. */
static gboolean
read_address (LvDevice *dev, gboolean *out_other_type, GError **error)
{
  xmlNodePtr a = asmctl_xml_child (dev->node, "address");
  g_autofree char *type = NULL;
  static const char *const parts[] = { "domain", "bus", "slot", "function" };
  static const guint64 max[] = { ASM_PCI_DOMAIN_LAST, LV_PCI_INDEX_MAX,
                                 ASM_PCI_SLOT_LAST, ASM_PCI_FUNCTION_LAST };
  guint64 v[4] = { 0, 0, 0, 0 };
  g_autofree char *multi = NULL;

  *out_other_type = FALSE;
  if (a == NULL)
    return TRUE;
  type = asmctl_xml_attr (a, "type");
  if (g_strcmp0 (type, "drive") == 0)
    {
      g_autofree char *ctl = asmctl_xml_attr (a, "controller");

      if (ctl != NULL &&
          !asmctl_xml_parse_uint (ctl, LV_CONTROLLER_INDEX_MAX, &v[0]))
        return input_error (error, dev,
                            "<address type='drive'> at line %ld: "
                            "controller='%s' is not a number in 0..%u",
                            asmctl_xml_line_of (a), ctl,
                            LV_CONTROLLER_INDEX_MAX);
    }
  if (type == NULL || strcmp (type, "pci") != 0)
    {
      *out_other_type = TRUE;
      return TRUE;
    }
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *s = asmctl_xml_attr (a, parts[i]);

      if (s != NULL && !asmctl_xml_parse_uint (s, max[i], &v[i]))
        return input_error (error, dev,
                            "<address> at line %ld: %s='%s' is not a number "
                            "in 0..%#" G_GINT64_MODIFIER "x",
                            asmctl_xml_line_of (a), parts[i], s, max[i]);
    }
  multi = asmctl_xml_attr (a, "multifunction");
  if (multi != NULL && strcmp (multi, "on") == 0)
    dev->multi = LV_MULTI_ON;
  else if (multi != NULL && strcmp (multi, "off") == 0)
    dev->multi = LV_MULTI_OFF;
  else if (multi != NULL)
    return input_error (error, dev,
                        "<address> at line %ld: multifunction='%s' is "
                        "neither 'on' nor 'off'",
                        asmctl_xml_line_of (a), multi);
  dev->addr.domain = (guint32) v[0];
  dev->addr.bus = (guint32) v[1];
  dev->addr.slot = (guint8) v[2];
  dev->addr.function = (guint8) v[3];
  dev->fixed = (v[0] | v[1] | v[2] | v[3]) != 0;
  dev->addr_element = TRUE;
  return TRUE;
}

/* a NUMA node named by the device: <asm:numa node='N'/>, or the target node
 * of a virtio-mem / virtio-pmem memory device */
static gboolean
read_numa (LvDevice *dev, GError **error)
{
  for (xmlNodePtr c = dev->node->children; c != NULL; c = c->next)
    if (c->type == XML_ELEMENT_NODE && c->ns != NULL &&
        c->ns->href != NULL &&
        strcmp ((const char *) c->ns->href, LV_ASM_NS) == 0 &&
        strcmp ((const char *) c->name, "numa") == 0)
      {
        g_autofree char *s = asmctl_xml_attr (c, "node");
        guint64 v;

        if (s == NULL || !asmctl_xml_parse_uint (s, G_MAXINT, &v))
          return input_error (error, dev,
                              "<numa> at line %ld: node='%s' is not a NUMA "
                              "node number",
                              asmctl_xml_line_of (c), s != NULL ? s : "");
        dev->numa_node = (int) v;
      }
  return TRUE;
}

static gboolean
str_in (const char *s, const char *const *list)
{
  for (guint i = 0; list[i] != NULL; i++)
    if (g_strcmp0 (s, list[i]) == 0)
      return TRUE;
  return FALSE;
}

typedef struct {
  LvMachine machine;
} Flags;

static AsmPciMachine
machine_of (LvMachine m)
{
  return m == LV_MACHINE_Q35 ? ASM_PCI_MACHINE_Q35 : ASM_PCI_MACHINE_PC;
}

/* describes @dev from the library's model table: @model of @klass (for
 * disks and inputs the bus, for host devices the type, for serial ports
 * the target type); the table refuses a model libvirt does not know */
static gboolean
from_table (LvDevice *dev, const Flags *f, AsmPciDeviceClass klass,
            const char *model, GError **error)
{
  GError *err = NULL;

  g_clear_pointer (&dev->pd, asm_pci_policy_device_unref);
  dev->pd = asm_pci_policy_device_new_for_model (machine_of (f->machine),
                                                 klass, model, dev->desc,
                                                 &err);
  if (dev->pd == NULL)
    {
      input_error (error, dev, "%s", err->message);
      g_error_free (err);
      return FALSE;
    }
  return TRUE;
}

/* describes @dev as a device that is not on PCI (unless an address puts
 * it there) */
static gboolean
not_on_pci (LvDevice *dev, AsmPciDeviceClass klass)
{
  g_clear_pointer (&dev->pd, asm_pci_policy_device_unref);
  dev->pd = asm_pci_policy_device_new (klass, dev->desc);
  return TRUE;
}

/* describes controller @dev (not a PCI one) from the library's table */
static gboolean
controller_from_table (LvDevice *dev, const Flags *f, GError **error)
{
  GError *err = NULL;

  g_clear_pointer (&dev->pd, asm_pci_policy_device_unref);
  dev->pd = asm_pci_policy_device_new_controller (
    machine_of (f->machine), dev->ctype, dev->cmodel, dev->index, dev->desc,
    &err);
  if (dev->pd == NULL)
    {
      input_error (error, dev, "%s", err->message);
      g_error_free (err);
      return FALSE;
    }
  return TRUE;
}

static gboolean
classify_controller (LvDomain *dom, LvDevice *dev, const Flags *f,
                     GError **error)
{
  g_autofree char *idx = asmctl_xml_attr (dev->node, "index");
  guint64 v = 0;
  const char *m;

  dev->ctype = asmctl_xml_attr (dev->node, "type");
  dev->cmodel = asmctl_xml_attr (dev->node, "model");
  if (dev->ctype == NULL)
    {
      device_describe (dev, NULL);
      return input_error (error, dev, "a controller needs a type");
    }
  if (idx != NULL)
    {
      gboolean pci = g_strcmp0 (dev->ctype, "pci") == 0;
      guint max = pci ? LV_PCI_INDEX_MAX : LV_CONTROLLER_INDEX_MAX;

      if (!asmctl_xml_parse_uint (idx, max, &v))
        {
          g_autofree char *where = g_strdup_printf (
            "<controller type='%s'> (line %ld)",
            dev->ctype != NULL ? dev->ctype : "",
            asmctl_xml_line_of (dev->node));

          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "%s: index='%s' is not a number in 0..%u%s", where,
                       idx, max,
                       pci ? " (libvirt allows 256 PCI buses: index 255 at "
                             "most)"
                           : "");
          return FALSE;
        }
    }
  dev->index = (guint32) v;
  device_describe (dev, NULL);
  m = dev->cmodel;
  dev->cat = LV_CAT_CONTROLLER;

  if (strcmp (dev->ctype, "pci") == 0)
    {
      xmlNodePtr target = asmctl_xml_child (dev->node, "target");
      g_autofree char *hotplug = asmctl_xml_attr (target, "hotplug");
      static const char *const targets[] = { "chassisNr", "chassis", "port",
                                             "busNr" };
      gint64 *slots[] = { &dev->chassis_nr, &dev->chassis, &dev->port,
                          &dev->bus_nr };

      dev->cat = LV_CAT_PCI_CONTROLLER;
      if (m == NULL)
        return input_error (error, dev,
                            "a PCI controller needs a model (pci-root, "
                            "pcie-root, pci-bridge, pcie-root-port, ...)");
      if (!asm_pci_controller_model_from_string (m, &dev->pmodel, NULL))
        return input_error (error, dev, "unknown PCI controller model '%s'",
                            m);
      dev->hotplug_off = g_strcmp0 (hotplug, "off") == 0;
      for (guint i = 0; i < G_N_ELEMENTS (targets); i++)
        {
          g_autofree char *s = asmctl_xml_attr (target, targets[i]);
          guint64 t;

          if (s == NULL)
            continue;
          if (!asmctl_xml_parse_uint (s, G_MAXINT32, &t))
            return input_error (error, dev,
                                "<target %s='%s'> is not a number in 0..%d",
                                targets[i], s, G_MAXINT32);
          *slots[i] = (gint64) t;
        }
      if (target != NULL && asmctl_xml_child (target, "node") != NULL)
        {
          g_autofree char *s = text_of (asmctl_xml_child (target, "node"));
          guint64 t;

          if (!asmctl_xml_parse_uint (s, G_MAXINT, &t))
            return input_error (error, dev, "<node>%s</node> is not a NUMA "
                                "node number in 0..%d", s, G_MAXINT);
          dev->target_node = (int) t;
        }
      {
        g_autofree char *mname =
          asmctl_xml_child_attr (dev->node, "model", "name");
        dev->has_model_name = mname != NULL;
      }
      if (dev->index > dom->max_pci_index)
        dom->max_pci_index = dev->index;
      return TRUE;
    }
  if (strcmp (dev->ctype, "usb") == 0 && m == NULL)
    {
      dev->cmodel = g_strdup (f->machine == LV_MACHINE_Q35 ? "qemu-xhci"
                                                           : "piix3-uhci");
      dev->cmodel_defaulted = TRUE;
    }
  else if (strcmp (dev->ctype, "scsi") == 0 &&
           (m == NULL || strcmp (m, "auto") == 0))
    {
      /* model='auto' is libvirt's default, resolved as a missing model */
      g_free (dev->cmodel);
      dev->cmodel = g_strdup ("lsilogic");
      dev->cmodel_defaulted = TRUE;
    }
  if (!controller_from_table (dev, f, error))
    return FALSE;
  m = dev->cmodel;
  /* the ICH9 USB2 companions share their index (the check of duplicate
   * controllers below) */
  if (strcmp (dev->ctype, "usb") == 0 && g_str_has_prefix (m, "ich9-"))
    dev->usb2_function = strcmp (m, "ich9-ehci1") == 0 ? 7 : m[9] - '1';
  if (asm_pci_policy_device_get_class (dev->pd) == ASM_PCI_DEVICE_CLASS_OTHER)
    dev->cat = LV_CAT_NONE;
  return TRUE;
}

static guint32 disk_controller_of (LvDevice *dev, guint units);

static guint disk_bus_units (const char *bus);

static gboolean
child_attr_absent (xmlNodePtr parent, const char *cname,
                                 const char *aname)
{
  g_autofree char *v = asmctl_xml_child_attr (parent, cname, aname);

  return v == NULL;
}
static guint64 disk_name_index (const char *dev);
static gboolean disk_name_valid (const char *dev);
static guint64 disk_letters (const char *p);

static gboolean
classify (LvDomain *dom, LvDevice *dev, const Flags *f, GError **error)
{
  const char *tag = dev->tag;
  g_autofree char *type = asmctl_xml_attr (dev->node, "type");
  g_autofree char *model = asmctl_xml_attr (dev->node, "model");
  g_autofree char *name = NULL;

  if (strcmp (tag, "controller") == 0)
    return classify_controller (dom, dev, f, error);

  if (strcmp (tag, "disk") == 0)
    {
      g_autofree char *bus = asmctl_xml_child_attr (dev->node, "target", "bus");
      name = asmctl_xml_child_attr (dev->node, "target", "dev");
      device_describe (dev, name);
      dev->cat = LV_CAT_DISK;
      if (disk_name_index (name) != G_MAXUINT32 &&
          disk_name_index (name) > LV_DISK_INDEX_MAX)
        return input_error (error, dev,
                            "<target dev='%s'>: the disk index is not in "
                            "0..%u (vda..vdzzz)",
                            name, LV_DISK_INDEX_MAX);
      /* libvirt gives a disk without an address one from its name
       * (virDomainDiskDefAssignAddress) */
      if (name != NULL && !disk_name_valid (name))
        return asmctl_xml_child (dev->node, "address") == NULL
                 ? input_error (error, dev,
                                "Unknown disk name '%s' and no address "
                                "specified",
                                name)
                 : input_error (error, dev,
                                "Invalid harddisk device name: %s", name);
      if (disk_bus_units (bus) > 0 &&
          child_attr_absent (dev->node, "address", "controller") &&
          disk_controller_of (dev, disk_bus_units (bus)) >
            LV_CONTROLLER_INDEX_MAX)
        return input_error (error, dev,
                            "<target dev='%s'> is on %s controller %u, "
                            "not in 0..%u (%u disks a controller)",
                            name,
                            strcmp (bus, "fdc") == 0 ? "floppy"
                            : strcmp (bus, "scsi") == 0 ? "SCSI"
                            : strcmp (bus, "ide") == 0  ? "IDE"
                                                         : "SATA",
                            disk_controller_of (dev, disk_bus_units (bus)),
                            LV_CONTROLLER_INDEX_MAX, disk_bus_units (bus));
      /* the table's model of a disk is its bus; virtio's own model
       * tells the transitional device apart */
      if (g_strcmp0 (bus, "virtio") == 0)
        return from_table (dev, f, ASM_PCI_DEVICE_CLASS_DISK,
                           g_strcmp0 (model, "virtio-transitional") == 0 ||
                               g_strcmp0 (model, "virtio-non-transitional") == 0
                             ? model
                             : bus,
                           error);
      if (str_in (bus, (const char *const[]) { "ide", "sata", "scsi", "usb",
                                               "fdc", "sd", NULL }))
        return from_table (dev, f, ASM_PCI_DEVICE_CLASS_DISK, bus, error);
      return not_on_pci (dev, ASM_PCI_DEVICE_CLASS_DISK);
    }
  if (strcmp (tag, "interface") == 0)
    {
      g_autofree char *mac =
        asmctl_xml_child_attr (dev->node, "mac", "address");
      g_autofree char *m = asmctl_xml_child_attr (dev->node, "model", "type");

      device_describe (dev, mac);
      if (g_strcmp0 (type, "hostdev") == 0)
        {
          dev->cat = LV_CAT_HOSTDEV;
          dev->ord[0] = 0;
          return from_table (dev, f, ASM_PCI_DEVICE_CLASS_HOSTDEV, "pci",
                             error);
        }
      dev->cat = LV_CAT_NET;
      return from_table (dev, f, ASM_PCI_DEVICE_CLASS_NET, m, error);
    }
  if (strcmp (tag, "hostdev") == 0)
    {
      g_autofree char *mode = asmctl_xml_attr (dev->node, "mode");
      g_autofree char *m = asmctl_xml_attr (dev->node, "model");

      device_describe (dev, NULL);
      dev->cat = LV_CAT_HOSTDEV;
      dev->ord[0] = 1;
      if (mode != NULL && strcmp (mode, "subsystem") != 0)
        return not_on_pci (dev, ASM_PCI_DEVICE_CLASS_HOSTDEV);
      if (g_strcmp0 (type, "scsi_host") == 0 &&
          g_strcmp0 (m, "virtio-transitional") == 0)
        return from_table (dev, f, ASM_PCI_DEVICE_CLASS_HOSTDEV,
                           "scsi_host-transitional", error);
      if (str_in (type, (const char *const[]) { "pci", "scsi_host", "usb",
                                                "scsi", NULL }) ||
          (g_strcmp0 (type, "mdev") == 0 && g_strcmp0 (m, "vfio-pci") == 0))
        return from_table (dev, f, ASM_PCI_DEVICE_CLASS_HOSTDEV, type, error);
      return not_on_pci (dev, ASM_PCI_DEVICE_CLASS_HOSTDEV);
    }
  if (strcmp (tag, "filesystem") == 0)
    {
      g_autofree char *drv =
        asmctl_xml_child_attr (dev->node, "driver", "type");

      name = asmctl_xml_child_attr (dev->node, "target", "dir");
      device_describe (dev, name);
      dev->cat = LV_CAT_FILESYSTEM;
      if (g_strcmp0 (drv, "virtiofs") == 0)
        return from_table (dev, f, ASM_PCI_DEVICE_CLASS_FILESYSTEM, drv,
                           error);
      if (drv == NULL ||
          str_in (drv, (const char *const[]) { "path", "handle", NULL }))
        return from_table (dev, f, ASM_PCI_DEVICE_CLASS_FILESYSTEM,
                           g_strcmp0 (model, "virtio-transitional") == 0
                             ? model
                             : NULL,
                           error);
      return not_on_pci (dev, ASM_PCI_DEVICE_CLASS_FILESYSTEM);
    }
  device_describe (dev, NULL);
  if (strcmp (tag, "sound") == 0)
    {
      dev->cat = LV_CAT_SOUND;
      return from_table (dev, f, ASM_PCI_DEVICE_CLASS_SOUND, model, error);
    }
  if (strcmp (tag, "memballoon") == 0)
    {
      dev->cat = LV_CAT_MEMBALLOON;
      return from_table (dev, f, ASM_PCI_DEVICE_CLASS_MEMBALLOON, model,
                         error);
    }
  if (strcmp (tag, "rng") == 0)
    {
      dev->cat = LV_CAT_RNG;
      return from_table (dev, f, ASM_PCI_DEVICE_CLASS_RNG, model, error);
    }
  if (strcmp (tag, "watchdog") == 0)
    {
      dev->cat = LV_CAT_WATCHDOG;
      return from_table (dev, f, ASM_PCI_DEVICE_CLASS_WATCHDOG, model,
                         error);
    }
  if (strcmp (tag, "video") == 0)
    {
      xmlNodePtr mn = asmctl_xml_child (dev->node, "model");
      g_autofree char *vt = asmctl_xml_attr (mn, "type");
      g_autofree char *primary = asmctl_xml_attr (mn, "primary");

      dev->cat = LV_CAT_VIDEO;
      dev->primary_video = g_strcmp0 (primary, "yes") == 0;
      if (vt == NULL || strcmp (vt, "default") == 0)
        {
          dev->cmodel = g_strdup ("cirrus");
          dev->cmodel_defaulted = TRUE;
        }
      return from_table (dev, f, ASM_PCI_DEVICE_CLASS_VIDEO, vt, error);
    }
  if (strcmp (tag, "shmem") == 0)
    {
      dev->cat = LV_CAT_SHMEM;
      return from_table (dev, f, ASM_PCI_DEVICE_CLASS_SHMEM, NULL, error);
    }
  if (strcmp (tag, "input") == 0)
    {
      g_autofree char *bus = asmctl_xml_attr (dev->node, "bus");

      dev->cat = LV_CAT_INPUT;
      /* libvirt 9.0's checks of the model (qemuValidateDomainInputDef):
       * a virtio model only on bus virtio, and there only model='virtio'
       * (QEMU has no transitional virtio-input device) */
      if (bus != NULL &&
          !str_in (bus, (const char *const[]) { "ps2", "usb", "xen",
                                                "parallels", "virtio",
                                                "none", NULL }))
        return input_error (error, dev, "unknown input bus type '%s'", bus);
      if (model != NULL &&
          !str_in (model, (const char *const[]) { "virtio",
                                                  "virtio-transitional",
                                                  "virtio-non-transitional",
                                                  NULL }))
        return input_error (error, dev, "unknown input model '%s'", model);
      if (model != NULL && g_strcmp0 (bus, "virtio") != 0)
        return input_error (error, dev,
                            "only bus 'virtio' is supported for input model "
                            "'%s'",
                            model);
      if (model != NULL && strcmp (model, "virtio") != 0)
        return input_error (error, dev,
                            "model='%s': virtio (non-)transitional models "
                            "are not supported for input type=%s",
                            model, type != NULL ? type : "");
      return from_table (dev, f, ASM_PCI_DEVICE_CLASS_INPUT, bus, error);
    }
  if (strcmp (tag, "serial") == 0)
    {
      g_autofree char *tt = asmctl_xml_child_attr (dev->node, "target", "type");

      dev->cat = LV_CAT_SERIAL;
      if (str_in (tt, (const char *const[]) { "pci-serial", "usb-serial",
                                              NULL }))
        return from_table (dev, f, ASM_PCI_DEVICE_CLASS_SERIAL, tt, error);
      return not_on_pci (dev, ASM_PCI_DEVICE_CLASS_SERIAL);
    }
  if (strcmp (tag, "iommu") == 0)
    {
      dev->cat = LV_CAT_IOMMU;
      if (g_strcmp0 (model, "virtio") == 0)
        return from_table (dev, f, ASM_PCI_DEVICE_CLASS_IOMMU, model, error);
      return not_on_pci (dev, ASM_PCI_DEVICE_CLASS_IOMMU);
    }
  if (strcmp (tag, "vsock") == 0)
    {
      dev->cat = LV_CAT_VSOCK;
      return from_table (dev, f, ASM_PCI_DEVICE_CLASS_VSOCK,
                         g_strcmp0 (model, "virtio-transitional") == 0
                           ? model
                           : NULL,
                         error);
    }
  if (strcmp (tag, "memory") == 0)
    {
      dev->cat = LV_CAT_MEMORY;
      if (g_strcmp0 (model, "virtio-pmem") == 0 ||
          g_strcmp0 (model, "virtio-mem") == 0)
        {
          g_autofree char *node =
            text_of (asmctl_xml_child (asmctl_xml_child (dev->node, "target"),
                                       "node"));
          guint64 v;

          if (node != NULL && asmctl_xml_parse_uint (node, G_MAXINT, &v))
            dev->numa_node = (int) v;
          return from_table (dev, f, ASM_PCI_DEVICE_CLASS_MEMORY, model,
                             error);
        }
      return not_on_pci (dev, ASM_PCI_DEVICE_CLASS_MEMORY);
    }
  if (strcmp (tag, "crypto") == 0)
    {
      /* unknown to libvirt 9.0, which drops the
       * element without a word, so nothing of it is read, its address
       * neither */
      dev->unknown = TRUE;
      return not_on_pci (dev, ASM_PCI_DEVICE_CLASS_OTHER);
    }
  if (strcmp (tag, "panic") == 0)
    {
      /* libvirt 9.0 knows no PCI panic device (pvpanic-pci came later) */
      dev->cat = LV_CAT_PANIC;
      return from_table (dev, f, ASM_PCI_DEVICE_CLASS_PANIC, model, error);
    }
  /* USB devices of other kinds: on no PCI bus, but USB must be there */
  if (strcmp (tag, "redirdev") == 0 || strcmp (tag, "hub") == 0)
    {
      g_autofree char *bus = asmctl_xml_attr (dev->node, "bus");

      if (g_strcmp0 (strcmp (tag, "hub") == 0 ? type : bus, "usb") == 0)
        return from_table (dev, f, ASM_PCI_DEVICE_CLASS_OTHER, "usb", error);
    }
  /* graphics, channels, consoles, tpm, ...: never on PCI here */
  return not_on_pci (dev, ASM_PCI_DEVICE_CLASS_OTHER);
}

/* remembers controller @dev for find_controller: the first of a type and
 * index wins, as a scan of devs in order would find it */
static void
index_controller (LvDomain *dom, LvDevice *dev)
{
  char *key = g_strdup_printf ("%s:%u", dev->ctype, dev->index);

  if (g_hash_table_contains (dom->ctrls, key))
    g_free (key);
  else
    g_hash_table_insert (dom->ctrls, key, dev);
}

static LvDevice *
implicit_controller (LvDomain *dom, const Flags *f, const char *type,
                     guint32 index, const char *model)
{
  LvDevice *dev = device_new (NULL, "controller");

  dev->implicit = TRUE;
  dev->ctype = g_strdup (type);
  dev->index = index;
  dev->cmodel = g_strdup (model);
  dev->cat = LV_CAT_CONTROLLER;
  device_describe (dev, NULL);
  /* libvirt's own defaults: the table takes them */
  if (strcmp (type, "pci") != 0 && !controller_from_table (dev, f, NULL))
    g_error ("asmctl bug: the model table refuses the implicit %s", dev->desc);
  g_ptr_array_add (dom->devs, dev);
  index_controller (dom, dev);
  return dev;
}

static LvDevice *
find_controller (LvDomain *dom, const char *type, guint32 index)
{
  g_autofree char *key = g_strdup_printf ("%s:%u", type, index);

  return g_hash_table_lookup (dom->ctrls, key);
}

LvDevice *
lv_domain_find_pci_controller (LvDomain *dom, guint32 index)
{
  return find_controller (dom, "pci", index);
}

/**
 * lv_domain_add_pci_controller:
 *
 * Adds a PCI controller the policy decided on (libvirt's auto-added
 * controllers), after every other controller in libvirt's list.
 */
LvDevice *
lv_domain_add_pci_controller (LvDomain *dom, guint32 index,
                              AsmPciControllerModel model)
{
  LvDevice *dev = device_new (NULL, "controller");

  dev->implicit = TRUE;
  dev->ctype = g_strdup ("pci");
  dev->index = index;
  dev->cmodel = g_strdup (asm_pci_controller_model_to_string (model));
  dev->pmodel = model;
  dev->flags = asm_pci_controller_model_get_connect_flags (model);
  dev->cat = LV_CAT_PCI_CONTROLLER;
  dev->ord[0] = 3000;
  dev->ord[1] = index;
  dev->desc = g_strdup_printf ("<controller type='pci' index='%u' "
                               "model='%s'> (added)",
                               index, dev->cmodel);
  g_ptr_array_add (dom->devs, dev);
  index_controller (dom, dev);
  return dev;
}

/* the disks a controller of a disk bus takes when libvirt numbers them
 * from their names (virDomainDiskDefAssignAddress): 7 units of a SCSI
 * controller, 2 buses of 2 units of an IDE one, 6 ports of a SATA one,
 * 2 drives of a floppy controller; 0 for a bus without controllers */
static guint
disk_bus_units (const char *bus)
{
  if (g_strcmp0 (bus, "scsi") == 0)
    return 7;
  if (g_strcmp0 (bus, "ide") == 0)
    return 4;
  if (g_strcmp0 (bus, "sata") == 0)
    return 6;
  if (g_strcmp0 (bus, "fdc") == 0)
    return 2;
  return 0;
}

/* the controller index a disk of a bus of @units disks a controller uses:
 * that of its drive address, else its name's index / @units (sda: 0) */
static guint32
disk_controller_of (LvDevice *dev, guint units)
{
  xmlNodePtr a = asmctl_xml_child (dev->node, "address");
  g_autofree char *type = asmctl_xml_attr (a, "type");
  g_autofree char *ctl = asmctl_xml_attr (a, "controller");
  g_autofree char *tdev = asmctl_xml_child_attr (dev->node, "target", "dev");
  guint64 v;

  if (g_strcmp0 (type, "drive") == 0)
    return ctl != NULL && asmctl_xml_parse_uint (ctl, G_MAXUINT32, &v)
             ? (guint32) v
             : 0;
  v = disk_name_index (tdev);
  return v != G_MAXUINT32 ? (guint32) (v / units) : 0;
}

/* the controllers the disks of @bus need, each with the first disk that
 * needs it: libvirt adds every index up to the highest one a disk uses
 * (virDomainDefAddDiskControllersForType).  Returns the highest, or -1. */
static gint64
disk_controllers_top (LvDomain *dom, const char *bus, guint n,
                      LvDevice **out_disk)
{
  gint64 top = -1;

  *out_disk = NULL;
  for (guint i = 0; i < n; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);
      g_autofree char *b = NULL;
      guint32 c;

      if (strcmp (d->tag, "disk") != 0 || d->node == NULL)
        continue;
      b = asmctl_xml_child_attr (d->node, "target", "bus");
      if (g_strcmp0 (b, bus) != 0)
        continue;
      c = disk_controller_of (d, disk_bus_units (bus));
      if ((gint64) c > top)
        {
          top = c;
          *out_disk = d;
        }
    }
  return top;
}

/* the drive address (controller, bus, target, unit) of <address
 * type='drive'> under @node, or FALSE */
static gboolean
drive_address (xmlNodePtr node, guint64 v[4])
{
  static const char *const parts[] = { "controller", "bus", "target",
                                       "unit" };
  xmlNodePtr a = asmctl_xml_child (node, "address");
  g_autofree char *type = asmctl_xml_attr (a, "type");

  if (g_strcmp0 (type, "drive") != 0)
    return FALSE;
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *s = asmctl_xml_attr (a, parts[i]);

      v[i] = 0;
      if (s != NULL && !asmctl_xml_parse_uint (s, G_MAXUINT32, &v[i]))
        v[i] = G_MAXUINT32;
    }
  return TRUE;
}

static gboolean
is_scsi_hostdev (LvDevice *d)
{
  g_autofree char *mode = NULL, *type = NULL;

  if (strcmp (d->tag, "hostdev") != 0 || d->node == NULL)
    return FALSE;
  mode = asmctl_xml_attr (d->node, "mode");
  type = asmctl_xml_attr (d->node, "type");
  return (mode == NULL || strcmp (mode, "subsystem") == 0) &&
         g_strcmp0 (type, "scsi") == 0;
}

/* libvirt's checks of the SCSI drive addresses of SCSI host devices: a
 * disk whose name puts it where a host device's address is
 * (virDomainDiskDefAssignAddress), then a host device's address that a
 * SCSI disk's address or an earlier host device's holds */
static gboolean
check_scsi_hostdev_addresses (LvDomain *dom, guint n, GError **error)
{
  g_autoptr (GHashTable) hostdevs =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) disks =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < n; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);
      guint64 v[4];

      if (is_scsi_hostdev (d) && drive_address (d->node, v))
        g_hash_table_insert (hostdevs,
                             g_strdup_printf ("%" G_GUINT64_FORMAT ":%"
                                              G_GUINT64_FORMAT ":%"
                                              G_GUINT64_FORMAT ":%"
                                              G_GUINT64_FORMAT,
                                              v[0], v[1], v[2], v[3]),
                             d);
    }
  if (g_hash_table_size (hostdevs) == 0)
    return TRUE;
  for (guint i = 0; i < n; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);
      g_autofree char *bus = NULL, *dst = NULL, *key = NULL;
      guint64 v[4], idx;
      gboolean has;

      if (strcmp (d->tag, "disk") != 0 || d->node == NULL)
        continue;
      bus = asmctl_xml_child_attr (d->node, "target", "bus");
      if (g_strcmp0 (bus, "scsi") != 0)
        continue;
      dst = asmctl_xml_child_attr (d->node, "target", "dev");
      has = drive_address (d->node, v);
      idx = disk_name_index (dst);
      if (!has && idx == G_MAXUINT32)
        continue;
      if (!has)
        {
          v[0] = idx / 7;
          v[1] = v[2] = 0;
          v[3] = idx % 7;
        }
      key = g_strdup_printf ("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT
                             ":%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT,
                             v[0], v[1], v[2], v[3]);
      if (!has && g_hash_table_contains (hostdevs, key))
        return input_error (error, d,
                            "using disk target name '%s' conflicts with SCSI "
                            "host device address controller='%"
                            G_GUINT64_FORMAT "' bus='%" G_GUINT64_FORMAT
                            "' target='%" G_GUINT64_FORMAT "' unit='%"
                            G_GUINT64_FORMAT "'",
                            dst, v[0], v[1], v[2], v[3]);
      g_hash_table_insert (disks, g_steal_pointer (&key), d);
    }
  g_hash_table_remove_all (hostdevs);
  for (guint i = 0; i < n; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);
      g_autofree char *key = NULL;
      guint64 v[4];

      if (!is_scsi_hostdev (d) || !drive_address (d->node, v))
        continue;
      key = g_strdup_printf ("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT
                             ":%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT,
                             v[0], v[1], v[2], v[3]);
      if (g_hash_table_contains (disks, key))
        return input_error (error, d,
                            "SCSI host address controller='%" G_GUINT64_FORMAT
                            "' bus='%" G_GUINT64_FORMAT "' target='%"
                            G_GUINT64_FORMAT "' unit='%" G_GUINT64_FORMAT
                            "' in use by a SCSI disk",
                            v[0], v[1], v[2], v[3]);
      /* libvirt 9.0 prints the bus as the controller and the controller
       * as the bus here (seen: controller='1' bus='0' reported as
       * controller='0' bus='1'); the same words, so that they compare */
      if (g_hash_table_contains (hostdevs, key))
        return input_error (error, d,
                            "SCSI host address controller='%" G_GUINT64_FORMAT
                            "' bus='%" G_GUINT64_FORMAT "' target='%"
                            G_GUINT64_FORMAT "' unit='%" G_GUINT64_FORMAT
                            "' in use by another SCSI host device (its drive "
                            "address: controller %" G_GUINT64_FORMAT
                            ", bus %" G_GUINT64_FORMAT ")",
                            v[1], v[0], v[2], v[3], v[0], v[1]);
      g_hash_table_insert (hostdevs, g_steal_pointer (&key), d);
    }
  return TRUE;
}

/* The SCSI controller of every SCSI host device, in document order, into
 * @ctls (guint32); returns FALSE with @out_dev the device when one would
 * be on a controller above LV_CONTROLLER_INDEX_MAX.  A host device without
 * a drive address gets libvirt's (virDomainHostdevAssignAddress): the
 * lowest free unit of bus 0, target 0 of the lowest controller with one,
 * 7 units a controller (0..6), the units of the SCSI disks (their drive
 * address, or their name's) and of the host devices with an address taken
 * first.  One pass over the devices and the controllers. */
static gboolean
scsi_hostdev_controllers (LvDomain *dom, guint n, GArray *ctls,
                          LvDevice **out_dev)
{
  const guint ncontrollers = LV_CONTROLLER_INDEX_MAX + 1;
  g_autofree guint8 *used = g_new0 (guint8, ncontrollers);
  guint cursor = 0;

  *out_dev = NULL;
  for (guint pass = 0; pass < 2; pass++)
    for (guint i = 0; i < n; i++)
      {
        LvDevice *d = g_ptr_array_index (dom->devs, i);
        guint64 v[4];
        gboolean has = d->node != NULL && drive_address (d->node, v);

        if (pass == 0 && strcmp (d->tag, "disk") == 0 && d->node != NULL)
          {
            g_autofree char *bus =
              asmctl_xml_child_attr (d->node, "target", "bus");
            g_autofree char *dst =
              asmctl_xml_child_attr (d->node, "target", "dev");
            guint64 idx = disk_name_index (dst);

            if (g_strcmp0 (bus, "scsi") != 0)
              continue;
            if (!has && idx != G_MAXUINT32)
              {
                v[0] = idx / 7;
                v[1] = v[2] = 0;
                v[3] = idx % 7;
                has = TRUE;
              }
          }
        else if (!is_scsi_hostdev (d))
          continue;
        if (pass == 1 && is_scsi_hostdev (d))
          {
            if (!has)
              {
                /* the lowest controller with a free unit, and that unit */
                while (cursor < ncontrollers && used[cursor] == 0x7f)
                  cursor++;
                if (cursor == ncontrollers)
                  {
                    *out_dev = d;
                    return FALSE;
                  }
                v[0] = cursor;
                v[1] = v[2] = 0;
                for (v[3] = 0; used[cursor] & (1u << v[3]); v[3]++)
                  ;
                used[cursor] |= (guint8) (1u << v[3]);
              }
            g_array_append_val (ctls, (guint32) { (guint32) MIN (v[0],
                                                               G_MAXUINT32) });
            continue;
          }
        if (has && v[0] < ncontrollers && v[1] == 0 && v[2] == 0 && v[3] < 7)
          used[v[0]] |= (guint8) (1u << v[3]);
      }
  return TRUE;
}

/* whether SCSI controller @c names its model, as libvirt's model of a
 * controller parsed with one or added with one (not the default, which
 * the qemu driver resolves to lsilogic later) */
static gboolean
scsi_model_named (LvDevice *c, GHashTable *named)
{
  if (c->implicit)
    return g_hash_table_contains (named, c);
  return c->cmodel != NULL && !c->cmodel_defaulted &&
         strcmp (c->cmodel, "auto") != 0;
}

/* adds the missing SCSI controllers @from..@to for host devices, of @model
 * (NULL: the default, lsilogic) */
static void
add_hostdev_scsi_controllers (LvDomain *dom, const Flags *f, gint64 from,
                              gint64 to, const char *model, GHashTable *named)
{
  for (gint64 c = MAX (from, 0); c <= to; c++)
    if (find_controller (dom, "scsi", (guint32) c) == NULL)
      {
        LvDevice *nc =
          implicit_controller (dom, f, "scsi", (guint32) c,
                               model != NULL ? model : "lsilogic");

        if (model != NULL)
          g_hash_table_add (named, nc);
      }
}

/* libvirt's virDomainDefMaybeAddHostdevSCSIcontroller over the host
 * devices whose controllers are @ctls: every controller up to the
 * highest, of the model of the controller of the last host device that
 * raised the highest, when that controller names one */
static void
maybe_add_hostdev_scsi_controllers (LvDomain *dom, const Flags *f,
                                    GArray *ctls, GHashTable *named)
{
  gint64 top = -1;
  const char *model = NULL;

  for (guint k = 0; k < ctls->len; k++)
    {
      guint32 c = g_array_index (ctls, guint32, k);
      LvDevice *cont;

      if ((gint64) c <= top)
        continue;
      top = c;
      cont = find_controller (dom, "scsi", c);
      if (cont != NULL && scsi_model_named (cont, named))
        model = cont->cmodel;
    }
  add_hostdev_scsi_controllers (dom, f, 0, top, model, named);
}

/* libvirt's implicit devices (qemuDomainDefAddDefaultDevices and
 * virDomainDefAddImplicitDevices, x86_64 pc and q35) */
static gboolean
add_implicit (LvDomain *dom, const Flags *f, GError **error)
{
  gboolean has_graphics = FALSE, has_video = FALSE, has_balloon = FALSE;
  gboolean want_vserial = FALSE;
  LvDevice *root;
  AsmPciControllerModel root_model =
    f->machine == LV_MACHINE_Q35 ? ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT
                                 : ASM_PCI_CONTROLLER_MODEL_PCI_ROOT;
  guint n = dom->devs->len;
  /* the implicit SCSI controllers added with a model named */
  g_autoptr (GHashTable) named = g_hash_table_new (NULL, NULL);

  for (guint i = 0; i < n; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);

      if (strcmp (d->tag, "graphics") == 0)
        has_graphics = TRUE;
      else if (strcmp (d->tag, "video") == 0)
        has_video = TRUE;
      else if (strcmp (d->tag, "memballoon") == 0)
        has_balloon = TRUE;
      else if ((strcmp (d->tag, "channel") == 0 ||
                strcmp (d->tag, "console") == 0) && d->node != NULL)
        {
          g_autofree char *tt =
            asmctl_xml_child_attr (d->node, "target", "type");
          want_vserial |= g_strcmp0 (tt, "virtio") == 0;
        }
    }

  /* the SCSI controllers of SCSI host devices, first: libvirt adds them
   * as it parses each host device, before the defaults of the qemu driver
   * and the controllers of the disks (on q35 they take their slots before
   * the implicit usb controller).  A host device without a drive address
   * has none yet then: it counts as on controller 0.  The model: that of
   * the controller of the last host device raising the highest index, when
   * that controller names one (virDomainDefMaybeAddHostdevSCSIcontroller,
   * called after each host device). */
  {
    gint64 top = -1;
    const char *model = NULL;

    for (guint i = 0; i < n; i++)
      {
        LvDevice *d = g_ptr_array_index (dom->devs, i);
        guint64 v[4];
        gint64 c;
        LvDevice *cont;

        if (!is_scsi_hostdev (d))
          continue;
        c = drive_address (d->node, v) ? (gint64) MIN (v[0], G_MAXUINT32)
                                       : 0;
        if (c <= top)
          continue;
        cont = find_controller (dom, "scsi", (guint32) c);
        if (cont != NULL && scsi_model_named (cont, named))
          model = cont->cmodel;
        add_hostdev_scsi_controllers (dom, f, top + 1, c, model, named);
        top = c;
      }
  }
  if (find_controller (dom, "usb", 0) == NULL)
    implicit_controller (dom, f, "usb", 0,
                         f->machine == LV_MACHINE_Q35 ? "qemu-xhci"
                                                      : "piix3-uhci");
  if (f->machine == LV_MACHINE_Q35 && find_controller (dom, "sata", 0) == NULL)
    implicit_controller (dom, f, "sata", 0, NULL);
  root = find_controller (dom, "pci", 0);
  if (root == NULL)
    {
      root = implicit_controller (dom, f, "pci", 0,
                                  asm_pci_controller_model_to_string (
                                    root_model));
      root->pmodel = root_model;
      root->cat = LV_CAT_PCI_CONTROLLER;
    }
  else if (root->pmodel != root_model)
    {
      return input_error (error, root,
                          "the PCI controller with index='0' must be "
                          "model='%s' for machine type %s, not model='%s'",
                          asm_pci_controller_model_to_string (root_model),
                          f->machine == LV_MACHINE_Q35 ? "q35" : "pc",
                          root->cmodel);
    }
  /* the controllers of the disks, in libvirt's order of buses: SCSI,
   * floppy, IDE, SATA (virDomainDefAddImplicitControllers) */
  {
    LvDevice *disk;
    gint64 top = disk_controllers_top (dom, "scsi", n, &disk);

    for (gint64 c = 0; c <= top; c++)
      if (find_controller (dom, "scsi", (guint32) c) == NULL)
        implicit_controller (dom, f, "scsi", (guint32) c, "lsilogic");

    /* the floppy controller is no PCI device: its limit, and libvirt
     * writes it */
    top = disk_controllers_top (dom, "fdc", n, &disk);
    if (top > 0)
      return input_error (error, disk,
                          "it needs floppy controller %u: Only 1 fdc "
                          "controller is supported",
                          disk_controller_of (disk, disk_bus_units ("fdc")));
    if (top == 0 && find_controller (dom, "fdc", 0) == NULL)
      implicit_controller (dom, f, "fdc", 0, NULL);

    top = disk_controllers_top (dom, "ide", n, &disk);
    if (top >= 0 && f->machine == LV_MACHINE_Q35)
      return input_error (error, disk,
                          "it needs an IDE controller: IDE controllers are "
                          "unsupported for this QEMU binary or machine type "
                          "(q35)");
    if (top > 0)
      return input_error (error, disk,
                          "it needs IDE controller %" G_GINT64_FORMAT
                          ": Only 1 IDE controller is supported",
                          top);
    if (top == 0 && find_controller (dom, "ide", 0) == NULL)
      implicit_controller (dom, f, "ide", 0, NULL);

    top = disk_controllers_top (dom, "sata", n, &disk);
    for (gint64 c = 0; c <= top; c++)
      if (find_controller (dom, "sata", (guint32) c) == NULL)
        implicit_controller (dom, f, "sata", (guint32) c, NULL);
  }
  if (want_vserial && find_controller (dom, "virtio-serial", 0) == NULL)
    implicit_controller (dom, f, "virtio-serial", 0, NULL);
  {
    /* and again, last, once the host devices have their drive addresses
     * (virDomainDefAddImplicitControllers) */
    g_autoptr (GArray) ctls = g_array_new (FALSE, FALSE, sizeof (guint32));
    LvDevice *hostdev;

    if (!check_scsi_hostdev_addresses (dom, n, error))
      return FALSE;
    if (!scsi_hostdev_controllers (dom, n, ctls, &hostdev))
      return input_error (error, hostdev,
                          "it would be on SCSI controller %u, not in 0..%u "
                          "(7 units a controller)",
                          LV_CONTROLLER_INDEX_MAX + 1,
                          LV_CONTROLLER_INDEX_MAX);
    maybe_add_hostdev_scsi_controllers (dom, f, ctls, named);
  }
  if (has_graphics && !has_video)
    {
      LvDevice *v = device_new (NULL, "video");

      v->implicit = TRUE;
      v->cat = LV_CAT_VIDEO;
      v->cmodel = g_strdup ("cirrus");
      v->primary_video = TRUE;
      device_describe (v, NULL);
      from_table (v, f, ASM_PCI_DEVICE_CLASS_VIDEO, v->cmodel, NULL);
      g_ptr_array_add (dom->devs, v);
    }
  if (!has_balloon)
    {
      LvDevice *b = device_new (NULL, "memballoon");

      b->implicit = TRUE;
      b->cat = LV_CAT_MEMBALLOON;
      b->cmodel = g_strdup ("virtio");
      device_describe (b, NULL);
      from_table (b, f, ASM_PCI_DEVICE_CLASS_MEMBALLOON, b->cmodel, NULL);
      g_ptr_array_add (dom->devs, b);
    }
  return TRUE;
}

/* the letters of a disk name after its prefix in bijective base 26
 * (a 1, z 26, aa 27), 0 without a letter; anything above
 * LV_DISK_INDEX_MAX + 1 reads as LV_DISK_INDEX_MAX + 2, so no name
 * overflows */
static guint64
disk_letters (const char *p)
{
  guint64 idx = 0;

  for (; *p >= 'a' && *p <= 'z'; p++)
    {
      idx = idx * 26 + (guint64) (*p - 'a' + 1);
      if (idx > LV_DISK_INDEX_MAX + 1)
        return LV_DISK_INDEX_MAX + 2;
    }
  return idx;
}

/* a disk's index from its target name (vda 0, vdz 25, vdaa 26), as
 * libvirt's virDiskNameToIndex: the letters after the prefix in bijective
 * base 26; G_MAXUINT32 for a name without a known prefix or a letter */
static guint64
disk_name_index (const char *dev)
{
  const char *p;
  guint64 idx;

  if (dev == NULL)
    return G_MAXUINT32;
  for (p = dev; *p != '\0'; p++)
    if (g_str_has_prefix (p, "vd") || g_str_has_prefix (p, "sd") ||
        g_str_has_prefix (p, "hd") || g_str_has_prefix (p, "xvd") ||
        g_str_has_prefix (p, "ubd") || g_str_has_prefix (p, "fd"))
      break;
  if (*p == '\0')
    return G_MAXUINT32;
  p += g_str_has_prefix (p, "xvd") || g_str_has_prefix (p, "ubd") ? 3 : 2;
  idx = disk_letters (p);
  return idx > 0 ? idx - 1 : G_MAXUINT32;
}

/* a disk's source as libvirt names it in messages: the file, device,
 * directory or network name, or "<null>" */
static char *
disk_source (xmlNodePtr disk)
{
  static const char *const attrs[] = { "file", "dev", "dir", "name",
                                       "volume" };
  xmlNodePtr src = asmctl_xml_child (disk, "source");

  for (guint i = 0; i < G_N_ELEMENTS (attrs); i++)
    {
      char *v = asmctl_xml_attr (src, attrs[i]);

      if (v != NULL)
        return v;
    }
  return g_strdup ("<null>");
}

/* whether libvirt can read a disk's index from @dev (virDiskNameParse):
 * a known prefix, lower-case letters, and digits of a partition */
static gboolean
disk_name_valid (const char *dev)
{
  static const char *const prefixes[] = { "fd", "hd", "vd", "sd", "xvd",
                                          "ubd" };
  const char *p = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (prefixes) && p == NULL; i++)
    if (g_str_has_prefix (dev, prefixes[i]))
      p = dev + strlen (prefixes[i]);
  if (p == NULL)
    return FALSE;
  while (g_ascii_islower (*p))
    p++;
  while (g_ascii_isdigit (*p))
    p++;
  return *p == '\0';
}

static guint64
disk_index (xmlNodePtr disk)
{
  g_autofree char *dev = asmctl_xml_child_attr (disk, "target", "dev");

  return disk_name_index (dev);
}

/* sort keys: libvirt's list order within each category */
static void
set_orders (LvDomain *dom)
{
  GPtrArray *types = g_ptr_array_new ();
  guint implicit_seq = 0;

  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);

      if (d->ctype != NULL && d->ord[0] < 3000)
        {
          if (d->implicit)
            {
              /* appended after the controllers of the input */
              d->ord[0] = 2000 + implicit_seq++;
              d->ord[1] = 0;
            }
          else
            {
              guint rank;

              /* grouped by type in order of first appearance, each group
               * sorted by index, and within an index those without a
               * <master> (an ICH9 EHCI) before those with one, the
               * companions (virDomainControllerInsertPreAlloced) */
              for (rank = 0; rank < types->len; rank++)
                if (strcmp (g_ptr_array_index (types, rank), d->ctype) == 0)
                  break;
              if (rank == types->len)
                g_ptr_array_add (types, d->ctype);
              d->ord[0] = rank;
              d->ord[1] = (guint64) d->index * 2 +
                          (asmctl_xml_child (d->node, "master") != NULL);
            }
        }
      else if (d->cat == LV_CAT_VIDEO)
        d->ord[0] = d->primary_video ? 0 : 1;
      else if (d->cat == LV_CAT_DISK && d->node != NULL)
        d->ord[1] = disk_index (d->node); /* virDomainDiskInsert: sorted */
      d->ord[2] = i;
    }
  /* only the first primary video counts */
  {
    gboolean seen = FALSE;

    for (guint i = 0; i < dom->devs->len; i++)
      {
        LvDevice *d = g_ptr_array_index (dom->devs, i);

        if (d->cat != LV_CAT_VIDEO)
          continue;
        if (d->primary_video && seen)
          {
            d->primary_video = FALSE;
            d->ord[0] = 1;
          }
        seen |= d->primary_video;
      }
    if (!seen)
      for (guint i = 0; i < dom->devs->len; i++)
        {
          LvDevice *d = g_ptr_array_index (dom->devs, i);

          if (d->cat == LV_CAT_VIDEO)
            {
              d->primary_video = TRUE;
              d->ord[0] = 0;
              break;
            }
        }
  }
  g_ptr_array_unref (types);
}

typedef struct {
  LvDevice *disk;
  guint64 idx;          /* its name's index: libvirt's order of disks */
  guint pos;            /* its place in the document */
  guint64 v[4];         /* controller, bus, target, unit */
  char *key;            /* "bus:controller:bus:target:unit" */
} DriveAddr;

static int
compare_drive_addr (gconstpointer a, gconstpointer b)
{
  const DriveAddr *x = a, *y = b;

  if (x->idx != y->idx)
    return x->idx < y->idx ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* two disks of one bus at one drive address (given, or libvirt's from
 * the name: virDomainDiskDefAssignAddress): libvirt names the first of
 * its disk list (sorted by name) that another one collides with */
static gboolean
check_drive_addresses (LvDomain *dom, GError **error)
{
  g_autoptr (GArray) list = g_array_new (FALSE, FALSE, sizeof (DriveAddr));
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  LvDevice *bad = NULL;
  guint bad_at = G_MAXUINT;
  gboolean ok = TRUE;

  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);
      g_autofree char *bus = NULL, *dst = NULL;
      guint64 v[4], idx;
      guint units;
      DriveAddr e;

      if (strcmp (d->tag, "disk") != 0 || d->node == NULL)
        continue;
      bus = asmctl_xml_child_attr (d->node, "target", "bus");
      units = disk_bus_units (bus);
      dst = asmctl_xml_child_attr (d->node, "target", "dev");
      idx = disk_name_index (dst);
      if (units == 0)
        continue;
      if (!drive_address (d->node, v))
        {
          if (asmctl_xml_child (d->node, "address") != NULL ||
              idx == G_MAXUINT32)
            continue;
          v[0] = idx / units;
          v[1] = strcmp (bus, "ide") == 0 ? (idx % units) / 2 : 0;
          v[2] = 0;
          v[3] = strcmp (bus, "ide") == 0 ? idx % 2 : idx % units;
        }
      e.disk = d;
      e.idx = idx;
      e.pos = i;
      memcpy (e.v, v, sizeof e.v);
      e.key = g_strdup_printf ("%s:%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT
                               ":%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT,
                               bus, v[0], v[1], v[2], v[3]);
      g_array_append_val (list, e);
    }
  g_array_sort (list, compare_drive_addr);
  for (guint k = 0; k < list->len; k++)
    {
      DriveAddr *e = &g_array_index (list, DriveAddr, k);
      gpointer first = g_hash_table_lookup (seen, e->key);

      if (first == NULL)
        g_hash_table_insert (seen, e->key, GUINT_TO_POINTER (k + 1));
      else if (GPOINTER_TO_UINT (first) - 1 < bad_at)
        {
          bad_at = GPOINTER_TO_UINT (first) - 1;
          bad = g_array_index (list, DriveAddr, bad_at).disk;
        }
    }
  if (bad != NULL)
    {
      DriveAddr *e = &g_array_index (list, DriveAddr, bad_at);
      g_autofree char *dst =
        asmctl_xml_child_attr (bad->node, "target", "dev");

      ok = input_error (error, bad,
                        "Found duplicate drive address for disk with target "
                        "name '%s' controller='%" G_GUINT64_FORMAT "' bus='%"
                        G_GUINT64_FORMAT "' target='%" G_GUINT64_FORMAT
                        "' unit='%" G_GUINT64_FORMAT "'",
                        dst, e->v[0], e->v[1], e->v[2], e->v[3]);
    }
  for (guint k = 0; k < list->len; k++)
    g_free (g_array_index (list, DriveAddr, k).key);
  return ok;
}

/* what libvirt 9.0's parser refuses twice (virDomainDefParseXML,
 * virDomainDefCheckDuplicateDiskInfo): a second <watchdog>, and two disks
 * with one target name, named by their sources in document order */
static gboolean
check_duplicates (LvDomain *dom, GError **error)
{
  g_autoptr (GHashTable) targets =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  LvDevice *watchdog = NULL;

  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);
      g_autofree char *dst = NULL;
      LvDevice *first;

      if (strcmp (d->tag, "watchdog") == 0)
        {
          if (watchdog != NULL)
            return input_error (error, d,
                                "only a single watchdog device is supported "
                                "(the first is at line %ld)",
                                asmctl_xml_line_of (watchdog->node));
          watchdog = d;
        }
      if (strcmp (d->tag, "disk") != 0 ||
          (dst = asmctl_xml_child_attr (d->node, "target", "dev")) == NULL)
        continue;
      first = g_hash_table_lookup (targets, dst);
      if (first != NULL)
        {
          g_autofree char *a = disk_source (first->node);
          g_autofree char *b = disk_source (d->node);

          return input_error (error, d,
                              "target '%s' duplicated for disk sources '%s' "
                              "and '%s'",
                              dst, a, b);
        }
      g_hash_table_insert (targets, g_steal_pointer (&dst), d);
    }
  return TRUE;
}

/**
 * lv_domain_new:
 * @doc: (transfer full): a parsed domain XML
 * @source: its file name, for messages
 *
 * Builds the model of @doc: its machine and every device, implicit ones
 * included.  Only x86_64 pc and q35 machines of type qemu or kvm.
 */
LvDomain *
lv_domain_new (xmlDocPtr doc, const char *source, GError **error)
{
  g_autoptr (LvDomain) dom = g_new0 (LvDomain, 1);
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr os, type;
  g_autofree char *arch = NULL, *machine = NULL;
  Flags f;

  dom->doc = doc;
  dom->source = g_strdup (source);
  dom->had_decl = (GPOINTER_TO_INT (doc->_private) & 1) != 0;
  dom->devs = g_ptr_array_new_with_free_func ((GDestroyNotify) lv_device_free);
  dom->ctrls = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  if (!asmctl_xml_is_element (root, "domain"))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s:%ld: the root element is <%s>, not <domain>", source,
                   asmctl_xml_line_of (root),
                   root != NULL ? (const char *) root->name : "");
      return NULL;
    }
  dom->name = text_of (asmctl_xml_child (root, "name"));
  os = asmctl_xml_child (root, "os");
  type = asmctl_xml_child (os, "type");
  arch = asmctl_xml_attr (type, "arch");
  machine = asmctl_xml_attr (type, "machine");
  if (type == NULL || machine == NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s:%ld: <os><type machine='...'> is missing: give "
                   "machine='pc' or machine='q35'",
                   source, asmctl_xml_line_of (os != NULL ? os : root));
      return NULL;
    }
  if (arch != NULL && strcmp (arch, "x86_64") != 0 &&
      strcmp (arch, "i686") != 0)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_UNSUPPORTED,
                   "%s:%ld: <type arch='%s'>: only x86_64 and i686 are "
                   "supported",
                   source, asmctl_xml_line_of (type), arch);
      return NULL;
    }
  if (strcmp (machine, "q35") == 0 || g_str_has_prefix (machine, "pc-q35"))
    dom->machine = LV_MACHINE_Q35;
  else if (strcmp (machine, "pc") == 0 ||
           g_str_has_prefix (machine, "pc-i440fx") ||
           g_str_has_prefix (machine, "pc-"))
    dom->machine = LV_MACHINE_PC;
  else
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_UNSUPPORTED,
                   "%s:%ld: <type machine='%s'>: only the pc (i440fx) and "
                   "q35 machine types are supported",
                   source, asmctl_xml_line_of (type), machine);
      return NULL;
    }
  f.machine = dom->machine;

  dom->devices = asmctl_xml_child (root, "devices");
  if (dom->devices == NULL)
    {
      dom->devices = xmlNewChild (root, NULL, (const xmlChar *) "devices",
                                  NULL);
    }
  for (xmlNodePtr n = dom->devices->children; n != NULL; n = n->next)
    {
      LvDevice *dev;
      gboolean other = FALSE;

      if (!asmctl_xml_is_element (n, NULL))
        continue;
      dev = device_new (n, (const char *) n->name);
      g_ptr_array_add (dom->devs, dev);
      if (!classify (dom, dev, &f, error))
        return NULL;
      if (dev->unknown)
        continue;
      if (dev->ctype != NULL)
        index_controller (dom, dev);
      if (dev->desc == NULL)
        device_describe (dev, NULL);
      if (!read_address (dev, &other, error) || !read_numa (dev, error))
        return NULL;
      if (other && dev->pd != NULL)
        /* placed on another kind of bus */
        asm_pci_policy_device_set_bus (dev->pd, ASM_PCI_DEVICE_BUS_NONE);
      /* (a device not on PCI with a given PCI address is on PCI: the
       * policy knows) */
      if (dev->fixed && dev->cat == LV_CAT_PCI_CONTROLLER &&
          asm_pci_controller_model_is_root (dev->pmodel))
        {
          input_error (error, dev,
                       "a %s controller is plugged into no bus: it cannot "
                       "have a PCI address",
                       dev->cmodel);
          return NULL;
        }
    }
  if (!check_duplicates (dom, error) || !check_drive_addresses (dom, error))
    return NULL;
  /* duplicate controllers (the ich9 USB2 companions share an index) */
  {
    g_autoptr (GHashTable) seen =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

    for (guint i = 0; i < dom->devs->len; i++)
      {
        LvDevice *b = g_ptr_array_index (dom->devs, i);
        LvDevice *a;
        char *key;

        if (b->ctype == NULL || b->usb2_function >= 0)
          continue;
        key = g_strdup_printf ("%s:%u", b->ctype, b->index);
        a = g_hash_table_lookup (seen, key);
        if (a != NULL)
          {
            g_free (key);
            input_error (error, b, "controller index %u is already used by "
                         "%s",
                         b->index, a->desc);
            return NULL;
          }
        g_hash_table_insert (seen, key, b);
      }
  }
  /* libvirt: ICH9 UHCI companions need a USB controller of another model
   * (an EHCI master, or any other) somewhere in the domain; without one
   * it refuses the domain before it adds its default USB controller */
  {
    LvDevice *companion = NULL;
    gboolean master = FALSE;

    for (guint i = 0; i < dom->devs->len; i++)
      {
        LvDevice *d = g_ptr_array_index (dom->devs, i);

        if (d->ctype == NULL || strcmp (d->ctype, "usb") != 0)
          continue;
        if (d->usb2_function >= 0 && d->usb2_function != 7)
          {
            if (companion == NULL)
              companion = d;
          }
        else
          master = TRUE;
      }
    if (companion != NULL && !master)
      {
        input_error (error, companion,
                     "No master USB controller specified (model='%s' is a "
                     "companion of an ich9-ehci1)",
                     companion->cmodel);
        return NULL;
      }
  }
  /* libvirt: an expander bus names a NUMA node of <cpu><numa> */
  {
    guint cells = 0;
    xmlNodePtr numa = asmctl_xml_child (asmctl_xml_child (root, "cpu"), "numa");

    for (xmlNodePtr c = numa != NULL ? numa->children : NULL; c != NULL;
         c = c->next)
      cells += asmctl_xml_is_element (c, "cell");
    for (guint i = 0; i < dom->devs->len; i++)
      {
        LvDevice *d = g_ptr_array_index (dom->devs, i);

        if (d->target_node >= 0 && (guint) d->target_node >= cells)
          {
            input_error (error, d,
                         "%s with index %u is configured for a NUMA node (%d) "
                         "not present in the domain's <cpu><numa> array (%u)",
                         d->cmodel, d->index, d->target_node, cells);
            return NULL;
          }
        if (d->numa_node >= 0 && cells > 0 && (guint) d->numa_node >= cells)
          {
            input_error (error, d,
                         "it names NUMA node %d, not present in the domain's "
                         "<cpu><numa> array (%u)",
                         d->numa_node, cells);
            return NULL;
          }
      }
  }
  if (!add_implicit (dom, &f, error))
    return NULL;
  set_orders (dom);
  /* libvirt: only qxl and virtio can be secondary video devices */
  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);
      g_autofree char *vt = NULL;

      if (d->cat != LV_CAT_VIDEO || d->primary_video || d->node == NULL)
        continue;
      vt = asmctl_xml_child_attr (d->node, "model", "type");
      if (vt != NULL && strcmp (vt, "qxl") != 0 && strcmp (vt, "virtio") != 0 &&
          strcmp (vt, "none") != 0)
        {
          input_error (error, d,
                       "video type '%s' is only valid as primary video device",
                       vt);
          return NULL;
        }
    }
  return g_steal_pointer (&dom);
}

