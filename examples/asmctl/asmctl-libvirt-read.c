/* asmctl-libvirt-xml.c: reading and writing libvirt domain XML for asmctl
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
 * cirrus video when there are graphics, scsi and virtio-serial controllers
 * for the disks and channels that need them.
 *
 * Writing changes only what the policy decided: <address type='pci'>
 * elements, multifunction='on', default model names and targets of PCI
 * controllers, default models, and the implicit and added controllers.
 * Every other byte of the document is left as it was (libxml2 keeps the
 * whitespace; new elements copy the indentation of their siblings).
 *
 * Errors name the element and its line: "<disk> 'vda' (line 12): ...".
 */
#include "asmctl-libvirt.h"

#include <libxml/parser.h>
#include <libxml/xmlsave.h>

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
  g_free (dev);
}

void
lv_domain_free (LvDomain *dom)
{
  if (dom == NULL)
    return;
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
/* Small XML helpers                                                    */

static gboolean
is_element (xmlNodePtr n, const char *name)
{
  return n != NULL && n->type == XML_ELEMENT_NODE &&
         (name == NULL || strcmp ((const char *) n->name, name) == 0) &&
         (n->ns == NULL || n->ns->href == NULL ||
          strcmp ((const char *) n->ns->href, LV_ASM_NS) != 0);
}

static xmlNodePtr
child (xmlNodePtr parent, const char *name)
{
  for (xmlNodePtr c = parent != NULL ? parent->children : NULL; c != NULL;
       c = c->next)
    if (is_element (c, name))
      return c;
  return NULL;
}

/* an attribute's value, or NULL (owned by the caller) */
static char *
attr (xmlNodePtr n, const char *name)
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

static char *
child_attr (xmlNodePtr parent, const char *cname, const char *aname)
{
  return attr (child (parent, cname), aname);
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

static long
line_of (xmlNodePtr n)
{
  return n != NULL ? xmlGetLineNo (n) : -1;
}

/* parses an unsigned number as libvirt does (base 0: 0x.., 0.., decimal) */
static gboolean
parse_uint (const char *text, guint64 max, guint64 *out)
{
  char *end = NULL;
  guint64 v;

  if (text == NULL || *text == '\0' || *text == '-' || *text == '+')
    return FALSE;
  errno = 0;
  v = g_ascii_strtoull (text, &end, 0);
  if (errno != 0 || end == text || *end != '\0' || v > max)
    return FALSE;
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

/* ------------------------------------------------------------------ */
/* Reading                                                              */

static void
silent_errors (void *ctx, const char *msg, ...)
{
}

/* keeps the first error of a parse: later ones only follow from it */
static void
first_error (void *data, const xmlError *e)
{
  xmlError *first = data;

  if (first->code == 0 && e != NULL)
    {
      first->code = e->code == 0 ? 1 : e->code;
      first->line = e->line;
      first->message = (char *) g_strdup (e->message);
    }
}

/**
 * lv_doc_read:
 * @path: a file, or "-" for standard input
 *
 * Parses an XML file; errors carry the line ("in.xml:7: Opening and ending
 * tag mismatch").
 */
xmlDocPtr
lv_doc_read (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr (GError) local = NULL;
  xmlParserCtxtPtr ctxt;
  xmlDocPtr doc;
  xmlError first;

  if (strcmp (path, "-") == 0)
    {
      GString *s = g_string_new (NULL);
      char buf[65536];
      size_t n;

      while ((n = fread (buf, 1, sizeof buf, stdin)) > 0)
        g_string_append_len (s, buf, (gssize) n);
      len = s->len;
      text = g_string_free (s, FALSE);
    }
  else if (!g_file_get_contents (path, &text, &len, &local))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND, "%s",
                   local->message);
      return NULL;
    }

  xmlSetGenericErrorFunc (NULL, silent_errors);
  memset (&first, 0, sizeof first);
  xmlSetStructuredErrorFunc (&first, (xmlStructuredErrorFunc) first_error);
  ctxt = xmlNewParserCtxt ();
  doc = xmlCtxtReadMemory (ctxt, text, (int) len, path, NULL,
                           XML_PARSE_NONET | XML_PARSE_NOERROR |
                             XML_PARSE_NOWARNING);
  xmlSetStructuredErrorFunc (NULL, NULL);
  if (doc == NULL || !ctxt->wellFormed)
    {
      g_autofree char *msg =
        g_strstrip (g_strdup (first.message != NULL ? first.message
                                                    : "not XML"));

      g_free (first.message);
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE, "%s:%d: %s", path,
                   first.line, msg);
      if (doc != NULL)
        xmlFreeDoc (doc);
      xmlFreeParserCtxt (ctxt);
      return NULL;
    }
  g_free (first.message);
  xmlFreeParserCtxt (ctxt);
  /* remember whether the input had a declaration, to write it back alike */
  {
    /* remember whether the input had a declaration and whether it quotes
     * attributes with single quotes, to write it back alike */
    guint singles = 0, doubles = 0;
    const char *t = g_strchug (text);

    for (const char *q = t; *q != '\0'; q++)
      if (q[0] == '=' && q[1] == '\'')
        singles++;
      else if (q[0] == '=' && q[1] == '"')
        doubles++;
    doc->_private = GINT_TO_POINTER ((g_str_has_prefix (t, "<?xml") ? 1 : 0) |
                                     (singles > doubles ? 2 : 0));
  }
  return doc;
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
    where = g_strdup_printf ("line %ld", line_of (dev->node));
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
  xmlNodePtr a = child (dev->node, "address");
  g_autofree char *type = NULL;
  static const char *const parts[] = { "domain", "bus", "slot", "function" };
  static const guint64 max[] = { ASM_PCI_DOMAIN_LAST, G_MAXUINT32,
                                 ASM_PCI_SLOT_LAST, ASM_PCI_FUNCTION_LAST };
  guint64 v[4] = { 0, 0, 0, 0 };
  g_autofree char *multi = NULL;

  *out_other_type = FALSE;
  if (a == NULL)
    return TRUE;
  type = attr (a, "type");
  if (type == NULL || strcmp (type, "pci") != 0)
    {
      *out_other_type = TRUE;
      return TRUE;
    }
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *s = attr (a, parts[i]);

      if (s != NULL && !parse_uint (s, max[i], &v[i]))
        return input_error (error, dev,
                            "<address> at line %ld: %s='%s' is not a number "
                            "in 0..%#" G_GINT64_MODIFIER "x",
                            line_of (a), parts[i], s, max[i]);
    }
  multi = attr (a, "multifunction");
  if (multi != NULL && strcmp (multi, "on") == 0)
    dev->multi = LV_MULTI_ON;
  else if (multi != NULL && strcmp (multi, "off") == 0)
    dev->multi = LV_MULTI_OFF;
  else if (multi != NULL)
    return input_error (error, dev,
                        "<address> at line %ld: multifunction='%s' is "
                        "neither 'on' nor 'off'",
                        line_of (a), multi);
  dev->addr.domain = (guint32) v[0];
  dev->addr.bus = (guint32) v[1];
  dev->addr.slot = (guint8) v[2];
  dev->addr.function = (guint8) v[3];
  dev->fixed = (v[0] | v[1] | v[2] | v[3]) != 0;
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
        g_autofree char *s = attr (c, "node");
        guint64 v;

        if (s == NULL || !parse_uint (s, G_MAXINT, &v))
          return input_error (error, dev,
                              "<numa> at line %ld: node='%s' is not a NUMA "
                              "node number",
                              line_of (c), s != NULL ? s : "");
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
  AsmPciConnectFlags pci, pcie, virtio;
} Flags;

static gboolean
classify_controller (LvDomain *dom, LvDevice *dev, const Flags *f,
                     GError **error)
{
  static const char *const usb_pci[] = {
    "piix3-uhci", "piix4-uhci", "ehci", "ich9-ehci1", "ich9-uhci1",
    "ich9-uhci2", "ich9-uhci3", "vt82c686b-uhci", "pci-ohci", NULL
  };
  static const char *const usb_pcie[] = { "nec-xhci", "qemu-xhci", NULL };
  static const char *const usb_none[] = { "none", "qusb1", "qusb2", NULL };
  static const char *const usb_other[] = { "usb-ehci", "usb-uhci", NULL };
  static const char *const scsi_pci[] = {
    "virtio-transitional", "auto", "buslogic", "lsilogic", "lsisas1068",
    "vmpvscsi", "ibmvscsi", "lsisas1078", "dc390", "am53c974", NULL
  };
  static const char *const scsi_virtio[] = {
    "virtio-scsi", "virtio-non-transitional", NULL
  };
  g_autofree char *idx = attr (dev->node, "index");
  guint64 v = 0;
  const char *m;

  dev->ctype = attr (dev->node, "type");
  dev->cmodel = attr (dev->node, "model");
  if (dev->ctype == NULL)
    {
      device_describe (dev, NULL);
      return input_error (error, dev, "a controller needs a type");
    }
  if (idx != NULL && !parse_uint (idx, G_MAXUINT32, &v))
    {
      device_describe (dev, NULL);
      return input_error (error, dev, "index='%s' is not a number", idx);
    }
  dev->index = (guint32) v;
  device_describe (dev, NULL);
  m = dev->cmodel;
  dev->cat = LV_CAT_CONTROLLER;

  if (strcmp (dev->ctype, "pci") == 0)
    {
      xmlNodePtr target = child (dev->node, "target");
      g_autofree char *hotplug = attr (target, "hotplug");
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
      dev->flags = asm_pci_controller_model_get_connect_flags (dev->pmodel);
      dev->hotplug_off = g_strcmp0 (hotplug, "off") == 0;
      for (guint i = 0; i < G_N_ELEMENTS (targets); i++)
        {
          g_autofree char *s = attr (target, targets[i]);
          guint64 t;

          if (s == NULL)
            continue;
          if (!parse_uint (s, G_MAXINT32, &t))
            return input_error (error, dev, "<target %s='%s'> is not a number",
                                targets[i], s);
          *slots[i] = (gint64) t;
        }
      if (target != NULL && child (target, "node") != NULL)
        {
          g_autofree char *s = text_of (child (target, "node"));
          guint64 t;

          if (!parse_uint (s, G_MAXINT, &t))
            return input_error (error, dev, "<node>%s</node> is not a NUMA "
                                "node number", s);
          dev->target_node = (int) t;
        }
      {
        g_autofree char *mname = child_attr (dev->node, "model", "name");
        dev->has_model_name = mname != NULL;
      }
      if (dev->index > dom->max_pci_index)
        dom->max_pci_index = dev->index;
      return TRUE;
    }
  if (strcmp (dev->ctype, "usb") == 0)
    {
      if (m == NULL)
        {
          dev->cmodel = g_strdup (f->machine == LV_MACHINE_Q35 ? "qemu-xhci"
                                                               : "piix3-uhci");
          dev->cmodel_defaulted = TRUE;
          m = dev->cmodel;
        }
      if (str_in (m, usb_pci))
        dev->flags = f->pci;
      else if (str_in (m, usb_pcie))
        dev->flags = f->pcie;
      else if (str_in (m, usb_none) || str_in (m, usb_other))
        dev->flags = 0;
      else
        return input_error (error, dev, "unknown USB controller model '%s'",
                            m);
      if (strcmp (m, "ich9-ehci1") == 0)
        dev->usb2_function = 7;
      else if (strcmp (m, "ich9-uhci1") == 0)
        dev->usb2_function = 0;
      else if (strcmp (m, "ich9-uhci2") == 0)
        dev->usb2_function = 1;
      else if (strcmp (m, "ich9-uhci3") == 0)
        dev->usb2_function = 2;
      if (dev->index == 0 && f->machine == LV_MACHINE_PC &&
          strcmp (m, "piix3-uhci") == 0)
        dev->role = LV_ROLE_PIIX3_USB;
      if (f->machine == LV_MACHINE_Q35 && strcmp (m, "ich9-uhci1") == 0)
        dev->role = LV_ROLE_Q35_USB_UHCI1;
      return TRUE;
    }
  if (strcmp (dev->ctype, "scsi") == 0)
    {
      if (m == NULL)
        {
          dev->cmodel = g_strdup ("lsilogic");
          dev->cmodel_defaulted = TRUE;
          m = dev->cmodel;
        }
      if (str_in (m, scsi_virtio))
        dev->flags = f->virtio;
      else if (str_in (m, scsi_pci))
        dev->flags = f->pci;
      else if (strcmp (m, "ncr53c90") == 0)
        dev->flags = 0;
      else
        return input_error (error, dev, "unknown SCSI controller model '%s'",
                            m);
      return TRUE;
    }
  if (strcmp (dev->ctype, "virtio-serial") == 0)
    {
      if (g_strcmp0 (m, "virtio-transitional") == 0)
        dev->flags = f->pci;
      else if (m == NULL || strcmp (m, "virtio") == 0 ||
               strcmp (m, "virtio-non-transitional") == 0)
        dev->flags = f->virtio;
      else
        return input_error (error, dev,
                            "unknown virtio-serial controller model '%s'", m);
      return TRUE;
    }
  if (strcmp (dev->ctype, "sata") == 0)
    {
      dev->flags = f->pci;
      if (dev->index == 0 && f->machine == LV_MACHINE_Q35)
        dev->role = LV_ROLE_Q35_SATA;
      return TRUE;
    }
  if (strcmp (dev->ctype, "ide") == 0)
    {
      if (f->machine == LV_MACHINE_Q35)
        return input_error (error, dev,
                            "IDE controllers are unsupported for the q35 "
                            "machine type");
      if (dev->index != 0)
        return input_error (error, dev,
                            "only one IDE controller is supported for the pc "
                            "machine type");
      dev->flags = f->pci;
      dev->role = LV_ROLE_PIIX3_IDE;
      return TRUE;
    }
  if (str_in (dev->ctype,
              (const char *const[]) { "fdc", "ccid", "xenbus", "isa", NULL }))
    {
      dev->cat = LV_CAT_NONE;
      return TRUE;
    }
  return input_error (error, dev, "unknown controller type '%s'", dev->ctype);
}

static gboolean
classify (LvDomain *dom, LvDevice *dev, const Flags *f, GError **error)
{
  const char *tag = dev->tag;
  g_autofree char *type = attr (dev->node, "type");
  g_autofree char *model = attr (dev->node, "model");
  g_autofree char *name = NULL;

  if (strcmp (tag, "controller") == 0)
    return classify_controller (dom, dev, f, error);

  if (strcmp (tag, "disk") == 0)
    {
      g_autofree char *bus = child_attr (dev->node, "target", "bus");
      name = child_attr (dev->node, "target", "dev");
      device_describe (dev, name);
      dev->cat = LV_CAT_DISK;
      if (g_strcmp0 (bus, "virtio") == 0)
        dev->flags = g_strcmp0 (model, "virtio-transitional") == 0 ? f->pci
                                                                   : f->virtio;
      return TRUE;
    }
  if (strcmp (tag, "interface") == 0)
    {
      g_autofree char *mac = child_attr (dev->node, "mac", "address");
      g_autofree char *m = child_attr (dev->node, "model", "type");

      device_describe (dev, mac);
      if (g_strcmp0 (type, "hostdev") == 0)
        {
          dev->cat = LV_CAT_HOSTDEV;
          dev->flags = f->pcie;
          dev->ord[0] = 0;
          return TRUE;
        }
      dev->cat = LV_CAT_NET;
      if (g_strcmp0 (m, "usb-net") == 0)
        dev->flags = 0;
      else if (g_strcmp0 (m, "virtio") == 0 ||
               g_strcmp0 (m, "virtio-non-transitional") == 0)
        dev->flags = f->virtio;
      else if (g_strcmp0 (m, "e1000e") == 0 || g_strcmp0 (m, "igb") == 0)
        dev->flags = f->pcie;
      else
        dev->flags = f->pci; /* rtl8139 (the default), e1000, ... */
      return TRUE;
    }
  if (strcmp (tag, "hostdev") == 0)
    {
      g_autofree char *mode = attr (dev->node, "mode");
      g_autofree char *m = attr (dev->node, "model");

      device_describe (dev, NULL);
      dev->cat = LV_CAT_HOSTDEV;
      dev->ord[0] = 1;
      if (mode != NULL && strcmp (mode, "subsystem") != 0)
        return TRUE;
      if (g_strcmp0 (type, "pci") == 0)
        dev->flags = f->pcie;
      else if (g_strcmp0 (type, "scsi_host") == 0)
        dev->flags = g_strcmp0 (m, "virtio-transitional") == 0 ? f->pci
                                                               : f->virtio;
      else if (g_strcmp0 (type, "mdev") == 0 && g_strcmp0 (m, "vfio-pci") == 0)
        dev->flags = f->pcie;
      return TRUE;
    }
  if (strcmp (tag, "filesystem") == 0)
    {
      g_autofree char *drv = child_attr (dev->node, "driver", "type");

      name = child_attr (dev->node, "target", "dir");
      device_describe (dev, name);
      dev->cat = LV_CAT_FILESYSTEM;
      if (drv == NULL || str_in (drv, (const char *const[]) {
                                          "path", "handle", "virtiofs",
                                          NULL }))
        dev->flags = g_strcmp0 (model, "virtio-transitional") == 0 &&
                         g_strcmp0 (drv, "virtiofs") != 0
                       ? f->pci
                       : f->virtio;
      return TRUE;
    }
  device_describe (dev, NULL);
  if (strcmp (tag, "sound") == 0)
    {
      dev->cat = LV_CAT_SOUND;
      if (str_in (model, (const char *const[]) { "es1370", "ac97", "ich6",
                                                 "ich9", NULL }))
        dev->flags = f->pci;
      else if (str_in (model, (const char *const[]) { "sb16", "pcspk", "usb",
                                                      "ich7", NULL }))
        dev->flags = 0;
      else
        return input_error (error, dev, "unknown sound model '%s'",
                            model != NULL ? model : "");
      if (g_strcmp0 (model, "ich9") == 0 && f->machine == LV_MACHINE_Q35)
        dev->role = LV_ROLE_Q35_ICH9_SOUND;
      return TRUE;
    }
  if (strcmp (tag, "memballoon") == 0)
    {
      dev->cat = LV_CAT_MEMBALLOON;
      if (g_strcmp0 (model, "virtio-transitional") == 0)
        dev->flags = f->pci;
      else if (g_strcmp0 (model, "virtio") == 0 ||
               g_strcmp0 (model, "virtio-non-transitional") == 0)
        dev->flags = f->virtio;
      else if (g_strcmp0 (model, "none") == 0 || g_strcmp0 (model, "xen") == 0)
        dev->flags = 0;
      else
        return input_error (error, dev, "unknown memballoon model '%s'",
                            model != NULL ? model : "");
      return TRUE;
    }
  if (strcmp (tag, "rng") == 0)
    {
      dev->cat = LV_CAT_RNG;
      if (g_strcmp0 (model, "virtio-transitional") == 0)
        dev->flags = f->pci;
      else if (g_strcmp0 (model, "virtio") == 0 ||
               g_strcmp0 (model, "virtio-non-transitional") == 0)
        dev->flags = f->virtio;
      else
        return input_error (error, dev, "unknown rng model '%s'",
                            model != NULL ? model : "");
      return TRUE;
    }
  if (strcmp (tag, "watchdog") == 0)
    {
      dev->cat = LV_CAT_WATCHDOG;
      if (g_strcmp0 (model, "i6300esb") == 0)
        dev->flags = f->pci;
      else if (str_in (model, (const char *const[]) { "ib700", "diag288",
                                                      "itco", NULL }))
        dev->flags = 0;
      else
        return input_error (error, dev, "unknown watchdog model '%s'",
                            model != NULL ? model : "");
      return TRUE;
    }
  if (strcmp (tag, "video") == 0)
    {
      xmlNodePtr mn = child (dev->node, "model");
      g_autofree char *vt = attr (mn, "type");
      g_autofree char *primary = attr (mn, "primary");

      dev->cat = LV_CAT_VIDEO;
      dev->primary_video = g_strcmp0 (primary, "yes") == 0;
      if (vt == NULL || strcmp (vt, "default") == 0)
        {
          dev->cmodel = g_strdup ("cirrus");
          dev->cmodel_defaulted = TRUE;
          dev->flags = f->pci;
        }
      else if (strcmp (vt, "virtio") == 0)
        dev->flags = f->virtio;
      else if (str_in (vt, (const char *const[]) { "vga", "cirrus", "vmvga",
                                                   "xen", "vbox", "qxl",
                                                   "parallels", NULL }))
        dev->flags = f->pci;
      else if (strcmp (vt, "bochs") == 0)
        dev->flags = f->pcie;
      else if (str_in (vt, (const char *const[]) { "none", "ramfb", "gop",
                                                   NULL }))
        dev->flags = 0;
      else
        return input_error (error, dev, "unknown video model '%s'", vt);
      return TRUE;
    }
  if (strcmp (tag, "shmem") == 0)
    {
      dev->cat = LV_CAT_SHMEM;
      dev->flags = f->pci;
      return TRUE;
    }
  if (strcmp (tag, "input") == 0)
    {
      g_autofree char *bus = attr (dev->node, "bus");

      dev->cat = LV_CAT_INPUT;
      if (g_strcmp0 (bus, "virtio") == 0)
        dev->flags = g_strcmp0 (model, "virtio-transitional") == 0 ? f->pci
                                                                   : f->virtio;
      return TRUE;
    }
  if (strcmp (tag, "serial") == 0)
    {
      g_autofree char *tt = child_attr (dev->node, "target", "type");

      dev->cat = LV_CAT_SERIAL;
      if (g_strcmp0 (tt, "pci-serial") == 0)
        dev->flags = f->pci;
      return TRUE;
    }
  if (strcmp (tag, "iommu") == 0)
    {
      dev->cat = LV_CAT_IOMMU;
      if (g_strcmp0 (model, "virtio") == 0)
        dev->flags = f->virtio | ASM_PCI_CONNECT_INTEGRATED;
      return TRUE;
    }
  if (strcmp (tag, "vsock") == 0)
    {
      dev->cat = LV_CAT_VSOCK;
      dev->flags = g_strcmp0 (model, "virtio-transitional") == 0 ? f->pci
                                                                 : f->virtio;
      return TRUE;
    }
  if (strcmp (tag, "memory") == 0)
    {
      dev->cat = LV_CAT_MEMORY;
      if (g_strcmp0 (model, "virtio-pmem") == 0 ||
          g_strcmp0 (model, "virtio-mem") == 0)
        {
          g_autofree char *node =
            text_of (child (child (dev->node, "target"), "node"));
          guint64 v;

          dev->flags = f->virtio;
          if (node != NULL && parse_uint (node, G_MAXINT, &v))
            dev->numa_node = (int) v;
        }
      return TRUE;
    }
  if (strcmp (tag, "crypto") == 0)
    {
      dev->cat = LV_CAT_CRYPTO;
      dev->flags = f->pci;
      return TRUE;
    }
  if (strcmp (tag, "panic") == 0)
    {
      /* libvirt 9.0 knows no PCI panic device (pvpanic-pci came later) */
      dev->cat = LV_CAT_PANIC;
      if (model != NULL &&
          !str_in (model, (const char *const[]) { "isa", "pseries", "hyperv",
                                                  "s390", NULL }))
        return input_error (error, dev, "unknown panic model '%s'", model);
      return TRUE;
    }
  /* graphics, channels, consoles, tpm, ...: never on PCI here */
  return TRUE;
}

static LvDevice *
implicit_controller (LvDomain *dom, const char *type, guint32 index,
                     const char *model, AsmPciConnectFlags flags)
{
  LvDevice *dev = device_new (NULL, "controller");

  dev->implicit = TRUE;
  dev->ctype = g_strdup (type);
  dev->index = index;
  dev->cmodel = g_strdup (model);
  dev->flags = flags;
  dev->cat = LV_CAT_CONTROLLER;
  device_describe (dev, NULL);
  g_ptr_array_add (dom->devs, dev);
  return dev;
}

static LvDevice *
find_controller (LvDomain *dom, const char *type, guint32 index)
{
  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);

      if (d->ctype != NULL && strcmp (d->ctype, type) == 0 &&
          d->index == index)
        return d;
    }
  return NULL;
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
  return dev;
}

/* the scsi controller index a scsi disk or hostdev uses */
static guint32
scsi_controller_of (LvDevice *dev)
{
  xmlNodePtr a = child (dev->node, "address");
  g_autofree char *type = attr (a, "type");
  g_autofree char *ctl = attr (a, "controller");
  g_autofree char *tdev = child_attr (dev->node, "target", "dev");
  guint64 v;

  if (g_strcmp0 (type, "drive") == 0 && ctl != NULL &&
      parse_uint (ctl, G_MAXUINT32, &v))
    return (guint32) v;
  if (tdev != NULL && g_str_has_prefix (tdev, "sd"))
    {
      /* sda..sdz, sdaa..: the disk index, 7 units per controller */
      guint64 idx = 0;

      for (const char *p = tdev + 2; *p >= 'a' && *p <= 'z'; p++)
        idx = idx * 26 + (guint64) (*p - 'a' + 1);
      return idx > 0 ? (guint32) ((idx - 1) / 7) : 0;
    }
  return 0;
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
  GArray *scsi = g_array_new (FALSE, FALSE, sizeof (guint32));
  guint n = dom->devs->len;

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
          g_autofree char *tt = child_attr (d->node, "target", "type");
          want_vserial |= g_strcmp0 (tt, "virtio") == 0;
        }
      else if (strcmp (d->tag, "disk") == 0)
        {
          g_autofree char *bus = child_attr (d->node, "target", "bus");
          if (g_strcmp0 (bus, "scsi") == 0)
            {
              guint32 c = scsi_controller_of (d);
              g_array_append_val (scsi, c);
            }
        }
    }

  if (find_controller (dom, "usb", 0) == NULL)
    implicit_controller (dom, "usb", 0,
                         f->machine == LV_MACHINE_Q35 ? "qemu-xhci"
                                                      : "piix3-uhci",
                         f->machine == LV_MACHINE_Q35 ? f->pcie : f->pci)
      ->role = f->machine == LV_MACHINE_PC ? LV_ROLE_PIIX3_USB : LV_ROLE_NONE;
  if (f->machine == LV_MACHINE_Q35 && find_controller (dom, "sata", 0) == NULL)
    implicit_controller (dom, "sata", 0, NULL, f->pci)->role =
      LV_ROLE_Q35_SATA;
  root = find_controller (dom, "pci", 0);
  if (root == NULL)
    {
      root = implicit_controller (dom, "pci", 0,
                                  asm_pci_controller_model_to_string (
                                    root_model),
                                  0);
      root->pmodel = root_model;
      root->cat = LV_CAT_PCI_CONTROLLER;
    }
  else if (root->pmodel != root_model)
    {
      g_array_unref (scsi);
      return input_error (error, root,
                          "the PCI controller with index='0' must be "
                          "model='%s' for machine type %s, not model='%s'",
                          asm_pci_controller_model_to_string (root_model),
                          f->machine == LV_MACHINE_Q35 ? "q35" : "pc",
                          root->cmodel);
    }
  {
    /* every index up to the highest one a disk uses
     * (virDomainDefAddDiskControllersForType) */
    gint64 top = -1;

    for (guint i = 0; i < scsi->len; i++)
      top = MAX (top, (gint64) g_array_index (scsi, guint32, i));
    for (gint64 c = 0; c <= top; c++)
      if (find_controller (dom, "scsi", (guint32) c) == NULL)
        implicit_controller (dom, "scsi", (guint32) c, "lsilogic", f->pci);
  }
  g_array_unref (scsi);
  if (want_vserial && find_controller (dom, "virtio-serial", 0) == NULL)
    implicit_controller (dom, "virtio-serial", 0, NULL, f->virtio);
  if (has_graphics && !has_video)
    {
      LvDevice *v = device_new (NULL, "video");

      v->implicit = TRUE;
      v->cat = LV_CAT_VIDEO;
      v->flags = f->pci;
      v->cmodel = g_strdup ("cirrus");
      v->primary_video = TRUE;
      device_describe (v, NULL);
      g_ptr_array_add (dom->devs, v);
    }
  if (!has_balloon)
    {
      LvDevice *b = device_new (NULL, "memballoon");

      b->implicit = TRUE;
      b->cat = LV_CAT_MEMBALLOON;
      b->flags = f->virtio;
      b->cmodel = g_strdup ("virtio");
      device_describe (b, NULL);
      g_ptr_array_add (dom->devs, b);
    }
  return TRUE;
}

/* a disk's index from its target name (vda 0, vdz 25, vdaa 26), as
 * libvirt's virDiskNameToIndex: the letters after the prefix in bijective
 * base 26 */
static guint64
disk_index (xmlNodePtr disk)
{
  g_autofree char *dev = child_attr (disk, "target", "dev");
  const char *p;
  guint64 idx = 0;

  if (dev == NULL)
    return G_MAXUINT32;
  for (p = dev; *p != '\0'; p++)
    if (g_str_has_prefix (p, "vd") || g_str_has_prefix (p, "sd") ||
        g_str_has_prefix (p, "hd") || g_str_has_prefix (p, "xvd") ||
        g_str_has_prefix (p, "ubd"))
      break;
  if (*p == '\0')
    return G_MAXUINT32;
  p += g_str_has_prefix (p, "xvd") || g_str_has_prefix (p, "ubd") ? 3 : 2;
  for (; *p >= 'a' && *p <= 'z'; p++)
    idx = idx * 26 + (guint64) (*p - 'a' + 1);
  return idx > 0 ? idx - 1 : G_MAXUINT32;
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
               * sorted by index (virDomainControllerInsertPreAlloced) */
              for (rank = 0; rank < types->len; rank++)
                if (strcmp (g_ptr_array_index (types, rank), d->ctype) == 0)
                  break;
              if (rank == types->len)
                g_ptr_array_add (types, d->ctype);
              d->ord[0] = rank;
              d->ord[1] = d->index;
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

  if (!is_element (root, "domain"))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s:%ld: the root element is <%s>, not <domain>", source,
                   line_of (root), root != NULL ? (const char *) root->name
                                                : "");
      return NULL;
    }
  dom->name = text_of (child (root, "name"));
  os = child (root, "os");
  type = child (os, "type");
  arch = attr (type, "arch");
  machine = attr (type, "machine");
  if (type == NULL || machine == NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s:%ld: <os><type machine='...'> is missing: give "
                   "machine='pc' or machine='q35'",
                   source, line_of (os != NULL ? os : root));
      return NULL;
    }
  if (arch != NULL && strcmp (arch, "x86_64") != 0 &&
      strcmp (arch, "i686") != 0)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_UNSUPPORTED,
                   "%s:%ld: <type arch='%s'>: only x86_64 and i686 are "
                   "supported",
                   source, line_of (type), arch);
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
                   source, line_of (type), machine);
      return NULL;
    }
  f.machine = dom->machine;
  f.pci = ASM_PCI_CONNECT_TYPE_PCI_DEVICE | ASM_PCI_CONNECT_AUTOASSIGN;
  f.pcie = (dom->machine == LV_MACHINE_Q35 ? ASM_PCI_CONNECT_TYPE_PCIE_DEVICE
                                           : ASM_PCI_CONNECT_TYPE_PCI_DEVICE) |
           ASM_PCI_CONNECT_AUTOASSIGN;
  f.virtio = f.pcie;

  dom->devices = child (root, "devices");
  if (dom->devices == NULL)
    {
      dom->devices = xmlNewChild (root, NULL, (const xmlChar *) "devices",
                                  NULL);
    }
  for (xmlNodePtr n = dom->devices->children; n != NULL; n = n->next)
    {
      LvDevice *dev;
      gboolean other = FALSE;

      if (!is_element (n, NULL))
        continue;
      dev = device_new (n, (const char *) n->name);
      g_ptr_array_add (dom->devs, dev);
      if (!classify (dom, dev, &f, error))
        return NULL;
      if (dev->desc == NULL)
        device_describe (dev, NULL);
      if (!read_address (dev, &other, error) || !read_numa (dev, error))
        return NULL;
      if (other)
        dev->flags = 0; /* placed on another kind of bus */
      if (dev->fixed && dev->flags == 0 && dev->cat != LV_CAT_PCI_CONTROLLER)
        dev->flags = ASM_PCI_CONNECT_TYPE_PCI_DEVICE; /* as libvirt does */
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
  /* duplicate controllers */
  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *a = g_ptr_array_index (dom->devs, i);

      if (a->ctype == NULL)
        continue;
      for (guint j = i + 1; j < dom->devs->len; j++)
        {
          LvDevice *b = g_ptr_array_index (dom->devs, j);

          if (b->ctype != NULL && strcmp (a->ctype, b->ctype) == 0 &&
              a->index == b->index && a->usb2_function < 0 &&
              b->usb2_function < 0)
            {
              input_error (error, b, "controller index %u is already used by "
                           "%s",
                           b->index, a->desc);
              return NULL;
            }
        }
    }
  /* libvirt: an expander bus names a NUMA node of <cpu><numa> */
  {
    guint cells = 0;
    xmlNodePtr numa = child (child (root, "cpu"), "numa");

    for (xmlNodePtr c = numa != NULL ? numa->children : NULL; c != NULL;
         c = c->next)
      cells += is_element (c, "cell");
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
      vt = child_attr (d->node, "model", "type");
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

/* ------------------------------------------------------------------ */
/* Writing                                                              */

/* the whitespace before @n's element siblings ("\n    "), or a guess */
static char *
indent_of_children (xmlNodePtr parent)
{
  for (xmlNodePtr c = parent->children; c != NULL; c = c->next)
    if (c->type == XML_ELEMENT_NODE && c->prev != NULL &&
        c->prev->type == XML_TEXT_NODE)
      {
        xmlChar *t = xmlNodeGetContent (c->prev);
        const char *nl = strrchr ((const char *) t, '\n');
        char *s = g_strdup (nl != NULL ? nl : "");

        xmlFree (t);
        if (*s != '\0')
          return s;
        g_free (s);
      }
  /* none: one level deeper than the parent */
  {
    long depth = 0;

    for (xmlNodePtr p = parent; p != NULL && p->type == XML_ELEMENT_NODE;
         p = p->parent)
      depth++;
    {
      GString *s = g_string_new ("\n");

      for (long i = 0; i < depth; i++)
        g_string_append (s, "  ");
      return g_string_free (s, FALSE);
    }
  }
}

/* the indentation that closes @parent: its children's, two spaces less */
static char *
closing_indent (const char *child_indent)
{
  size_t len = strlen (child_indent);

  return g_strndup (child_indent, len >= 3 ? len - 2 : len);
}

/* appends @n as the last element child of @parent, indented like its
 * siblings */
static void
append_indented (xmlNodePtr parent, xmlNodePtr n)
{
  g_autofree char *ind = indent_of_children (parent);
  xmlNodePtr last = parent->last;

  if (last != NULL && last->type == XML_TEXT_NODE &&
      xmlIsBlankNode (last))
    {
      /* "...<x/>\n  </parent>": insert before the closing whitespace (the
       * element first: libxml2 merges adjacent text nodes) */
      xmlAddPrevSibling (last, n);
      xmlAddPrevSibling (n, xmlNewText ((const xmlChar *) ind));
    }
  else
    {
      g_autofree char *close = closing_indent (ind);

      xmlAddChild (parent, xmlNewText ((const xmlChar *) ind));
      xmlAddChild (parent, n);
      xmlAddChild (parent, xmlNewText ((const xmlChar *) close));
    }
}

/* inserts @n right after the element @ref, indented like it */
static void
insert_after (xmlNodePtr ref, xmlNodePtr n)
{
  g_autofree char *ind = indent_of_children (ref->parent);

  xmlAddNextSibling (ref, n);
  xmlAddPrevSibling (n, xmlNewText ((const xmlChar *) ind));
}

static void
set_prop (xmlNodePtr n, const char *name, const char *value)
{
  xmlSetProp (n, (const xmlChar *) name, (const xmlChar *) value);
}

static void
write_address (LvDevice *dev)
{
  xmlNodePtr a = child (dev->node, "address");
  char buf[32];

  if (a == NULL)
    {
      a = xmlNewNode (NULL, (const xmlChar *) "address");
      append_indented (dev->node, a);
    }
  set_prop (a, "type", "pci");
  g_snprintf (buf, sizeof buf, "0x%04x", dev->addr.domain);
  set_prop (a, "domain", buf);
  g_snprintf (buf, sizeof buf, "0x%02x", dev->addr.bus);
  set_prop (a, "bus", buf);
  g_snprintf (buf, sizeof buf, "0x%02x", dev->addr.slot);
  set_prop (a, "slot", buf);
  g_snprintf (buf, sizeof buf, "0x%x", dev->addr.function);
  set_prop (a, "function", buf);
  if (dev->multi == LV_MULTI_ON)
    set_prop (a, "multifunction", "on");
}

static const char *
model_name_of (AsmPciControllerModel m)
{
  switch (m)
    {
    case ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE:
      return "pci-bridge";
    case ASM_PCI_CONTROLLER_MODEL_DMI_TO_PCI_BRIDGE:
      return "i82801b11-bridge";
    case ASM_PCI_CONTROLLER_MODEL_PCIE_TO_PCI_BRIDGE:
      return "pcie-pci-bridge";
    case ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT_PORT:
      return "pcie-root-port";
    case ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_UPSTREAM_PORT:
      return "x3130-upstream";
    case ASM_PCI_CONTROLLER_MODEL_PCIE_SWITCH_DOWNSTREAM_PORT:
      return "xio3130-downstream";
    case ASM_PCI_CONTROLLER_MODEL_PCI_EXPANDER_BUS:
      return "pxb";
    case ASM_PCI_CONTROLLER_MODEL_PCIE_EXPANDER_BUS:
      return "pxb-pcie";
    case ASM_PCI_CONTROLLER_MODEL_PCI_ROOT:
    case ASM_PCI_CONTROLLER_MODEL_PCIE_ROOT:
    default:
      return NULL;
    }
}

/* <model name=.../> and <target .../> defaults of a PCI controller */
static void
write_pci_controller (LvDevice *dev)
{
  const char *mname = model_name_of (dev->pmodel);
  xmlNodePtr target = child (dev->node, "target");
  static const char *const names[] = { "chassisNr", "chassis", "port",
                                       "busNr" };
  gint64 vals[] = { dev->chassis_nr, dev->chassis, dev->port, dev->bus_nr };
  gboolean any = FALSE;

  if (mname != NULL && !dev->has_model_name)
    {
      xmlNodePtr m = xmlNewNode (NULL, (const xmlChar *) "model");

      set_prop (m, "name", mname);
      if (dev->node->children != NULL && child (dev->node, NULL) != NULL)
        {
          g_autofree char *ind = indent_of_children (dev->node);

          xmlAddPrevSibling (child (dev->node, NULL), m);
          xmlAddNextSibling (m, xmlNewText ((const xmlChar *) ind));
        }
      else
        append_indented (dev->node, m);
    }
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    any |= vals[i] >= 0;
  if (!any && dev->target_node < 0)
    return;
  if (target == NULL)
    {
      xmlNodePtr after = child (dev->node, "model");

      target = xmlNewNode (NULL, (const xmlChar *) "target");
      if (after != NULL)
        insert_after (after, target);
      else
        append_indented (dev->node, target);
    }
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (vals[i] >= 0)
      {
        g_autofree char *have = attr (target, names[i]);
        char buf[32];

        if (have != NULL)
          continue;
        if (strcmp (names[i], "port") == 0)
          g_snprintf (buf, sizeof buf, "0x%" G_GINT64_MODIFIER "x", vals[i]);
        else
          g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, vals[i]);
        set_prop (target, names[i], buf);
      }
  if (dev->target_node >= 0 && child (target, "node") == NULL)
    {
      char buf[32];

      g_snprintf (buf, sizeof buf, "%d", dev->target_node);
      append_indented (target, xmlNewNode (NULL, (const xmlChar *) "node"));
      xmlNodeSetContent (child (target, "node"), (const xmlChar *) buf);
    }
}

/* what writing remembers so that adding n controllers is O(n), not O(n^2):
 * the last controller written of each type (with its index) */
typedef struct {
  GHashTable *last; /* type -> WriteMark */
} WriteCtx;

typedef struct {
  xmlNodePtr node;
  guint32 index;
} WriteMark;

/* where a new controller goes: after the last controller of the same type
 * with a lower index, else after the last controller, else after the
 * disks, else first */
static void
insert_controller (LvDomain *dom, xmlNodePtr n, LvDevice *dev, WriteCtx *w)
{
  xmlNodePtr after = NULL, last_ctl = NULL, last_disk = NULL, emu = NULL;
  WriteMark *mark = g_hash_table_lookup (w->last, dev->ctype);

  if (mark != NULL && mark->index <= dev->index)
    {
      /* controllers are written in increasing index order per type */
      insert_after (mark->node, n);
      mark->node = n;
      mark->index = dev->index;
      return;
    }

  for (xmlNodePtr c = dom->devices->children; c != NULL; c = c->next)
    {
      if (is_element (c, "controller"))
        {
          g_autofree char *t = attr (c, "type");
          g_autofree char *i = attr (c, "index");
          guint64 idx = 0;

          last_ctl = c;
          if (g_strcmp0 (t, dev->ctype) == 0 &&
              (i == NULL || (parse_uint (i, G_MAXUINT32, &idx) &&
                             idx <= dev->index)))
            after = c;
        }
      else if (is_element (c, "disk"))
        last_disk = c;
      else if (is_element (c, "emulator"))
        emu = c;
    }
  if (after == NULL)
    after = last_ctl != NULL ? last_ctl : last_disk != NULL ? last_disk : emu;
  mark = g_new (WriteMark, 1);
  mark->node = n;
  mark->index = dev->index;
  g_hash_table_replace (w->last, g_strdup (dev->ctype), mark);
  if (after != NULL)
    insert_after (after, n);
  else if (child (dom->devices, NULL) != NULL)
    {
      xmlNodePtr first = child (dom->devices, NULL);
      g_autofree char *ind = indent_of_children (dom->devices);

      xmlAddPrevSibling (first, n);
      xmlAddNextSibling (n, xmlNewText ((const xmlChar *) ind));
    }
  else
    append_indented (dom->devices, n);
}

static void
materialize (LvDomain *dom, LvDevice *dev, WriteCtx *w)
{
  xmlNodePtr n = xmlNewNode (NULL, (const xmlChar *) dev->tag);
  char buf[32];

  if (dev->ctype != NULL)
    {
      set_prop (n, "type", dev->ctype);
      g_snprintf (buf, sizeof buf, "%u", dev->index);
      set_prop (n, "index", buf);
      if (dev->cmodel != NULL)
        set_prop (n, "model", dev->cmodel);
      insert_controller (dom, n, dev, w);
      dev->cmodel_defaulted = FALSE;
    }
  else if (strcmp (dev->tag, "video") == 0)
    {
      xmlNodePtr m = xmlNewNode (NULL, (const xmlChar *) "model");

      set_prop (m, "type", dev->cmodel);
      append_indented (dom->devices, n);
      append_indented (n, m);
      dev->cmodel_defaulted = FALSE;
    }
  else
    {
      if (dev->cmodel != NULL)
        set_prop (n, "model", dev->cmodel);
      append_indented (dom->devices, n);
    }
  dev->node = n;
}

/**
 * lv_domain_write:
 * @path: a file, or NULL for standard output
 *
 * Writes the addresses, defaults and new devices into the document and
 * saves it.
 */
gboolean
lv_domain_write (LvDomain *dom, const char *path, GError **error)
{
  WriteCtx w;
  gboolean ok;

  w.last = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);

      if (d->implicit && d->node == NULL)
        {
          /* implicit devices that need no PCI address stay implicit, as
           * libvirt would add them again; the root is written */
          if (!(d->assigned || d->cat == LV_CAT_PCI_CONTROLLER ||
                (d->ctype != NULL && d->role != LV_ROLE_NONE)))
            continue;
          materialize (dom, d, &w);
        }
      if (d->node == NULL)
        continue;
      if (d->cmodel_defaulted)
        {
          if (strcmp (d->tag, "video") == 0)
            {
              xmlNodePtr m = child (d->node, "model");

              if (m == NULL)
                {
                  m = xmlNewNode (NULL, (const xmlChar *) "model");
                  append_indented (d->node, m);
                }
              set_prop (m, "type", d->cmodel);
            }
          else
            set_prop (d->node, "model", d->cmodel);
        }
      if (d->cat == LV_CAT_PCI_CONTROLLER)
        write_pci_controller (d);
      if (d->assigned && !d->fixed)
        write_address (d);
      else if (d->fixed && d->multi == LV_MULTI_ON)
        {
          xmlNodePtr a = child (d->node, "address");
          g_autofree char *m = attr (a, "multifunction");

          if (a != NULL && m == NULL)
            set_prop (a, "multifunction", "on");
        }
    }

  g_hash_table_unref (w.last);
  ok = lv_doc_write (dom->doc, dom->had_decl, path, error);
  return ok;
}

/* libxml2 writes attribute values between double quotes; libvirt's XML
 * (and most hand-written domain XML) uses single quotes.  Requotes the
 * attributes of @text in place, in tags only, when the value holds no
 * single quote. */
static void
requote_single (char *text, gsize len)
{
  gsize i = 0;

  while (i < len)
    {
      if (text[i] != '<')
        {
          i++;
          continue;
        }
      if (len - i >= 4 && strncmp (text + i, "<!--", 4) == 0)
        {
          const char *end = g_strstr_len (text + i + 4, (gssize) (len - i - 4),
                                          "-->");
          i = end != NULL ? (gsize) (end - text) + 3 : len;
          continue;
        }
      if (len - i >= 9 && strncmp (text + i, "<![CDATA[", 9) == 0)
        {
          const char *end = g_strstr_len (text + i + 9, (gssize) (len - i - 9),
                                          "]]>");
          i = end != NULL ? (gsize) (end - text) + 3 : len;
          continue;
        }
      if (len - i >= 2 && (text[i + 1] == '?' || text[i + 1] == '!'))
        {
          const char *end = memchr (text + i, '>', len - i);
          i = end != NULL ? (gsize) (end - text) + 1 : len;
          continue;
        }
      /* an element tag: values are quoted, '>' never appears unquoted */
      for (i++; i < len && text[i] != '>'; i++)
        if (text[i] == '"')
          {
            gsize open = i, close;

            for (close = open + 1; close < len && text[close] != '"'; close++)
              ;
            if (close >= len)
              return;
            if (memchr (text + open + 1, '\'', close - open - 1) == NULL)
              text[open] = text[close] = '\'';
            i = close;
          }
    }
}

/**
 * lv_doc_write:
 * @had_decl: write an XML declaration (the input had one)
 * @path: a file, or NULL or "-" for standard output
 *
 * Saves @doc without reformatting it.
 */
gboolean
lv_doc_write (xmlDocPtr doc, gboolean had_decl, const char *path,
              GError **error)
{
  xmlSaveCtxtPtr save;
  xmlBufferPtr buf = xmlBufferCreate ();
  const char *text;
  gsize len;
  g_autoptr (GError) local = NULL;
  gboolean ok = TRUE;

  save = xmlSaveToBuffer (buf, NULL, had_decl ? 0 : XML_SAVE_NO_DECL);
  xmlSaveDoc (save, doc);
  xmlSaveClose (save);
  text = (const char *) xmlBufferContent (buf);
  len = (gsize) xmlBufferLength (buf);
  if (GPOINTER_TO_INT (doc->_private) & 2)
    requote_single ((char *) text, len);
  if (path == NULL || strcmp (path, "-") == 0)
    {
      if (fwrite (text, 1, len, stdout) != len || fflush (stdout) != 0)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                       "writing to standard output failed");
          ok = FALSE;
        }
    }
  else if (g_file_test (path, G_FILE_TEST_EXISTS) &&
           !g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      /* a device or a pipe (/dev/null, /dev/stdout): written in place, never
       * replaced */
      FILE *f = fopen (path, "w");

      if (f == NULL || fwrite (text, 1, len, f) != len || fclose (f) != 0)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                       "cannot write %s: %s", path, g_strerror (errno));
          ok = FALSE;
        }
    }
  else if (!g_file_set_contents (path, text, (gssize) len, &local))
    {
      /* a regular file is replaced whole, never left half written */
      g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED, "%s", local->message);
      ok = FALSE;
    }
  xmlBufferFree (buf);
  return ok;
}

/* ------------------------------------------------------------------ */
/* attach and detach                                                    */

static gboolean
same_attr (xmlNodePtr a, xmlNodePtr b, const char *cname, const char *aname)
{
  g_autofree char *x = cname != NULL ? child_attr (a, cname, aname)
                                     : attr (a, aname);
  g_autofree char *y = cname != NULL ? child_attr (b, cname, aname)
                                     : attr (b, aname);

  return x != NULL && y != NULL && strcmp (x, y) == 0;
}

static gboolean
pci_address_of (xmlNodePtr n, AsmPciAddr *out)
{
  xmlNodePtr a = child (n, "address");
  g_autofree char *type = attr (a, "type");
  static const char *const parts[] = { "domain", "bus", "slot", "function" };
  guint64 v[4] = { 0, 0, 0, 0 };

  if (g_strcmp0 (type, "pci") != 0)
    return FALSE;
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *s = attr (a, parts[i]);

      if (s != NULL && !parse_uint (s, G_MAXUINT32, &v[i]))
        return FALSE;
    }
  out->domain = (guint32) v[0];
  out->bus = (guint32) v[1];
  out->slot = (guint8) v[2];
  out->function = (guint8) v[3];
  return (v[0] | v[1] | v[2] | v[3]) != 0;
}

static gboolean
same_host_source (xmlNodePtr a, xmlNodePtr b)
{
  xmlNodePtr sa = child (child (a, "source"), "address");
  xmlNodePtr sb = child (child (b, "source"), "address");
  static const char *const parts[] = { "domain", "bus", "slot", "function" };

  if (sa == NULL || sb == NULL)
    return FALSE;
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *x = attr (sa, parts[i]);
      g_autofree char *y = attr (sb, parts[i]);
      guint64 vx = 0, vy = 0;

      if ((x != NULL && !parse_uint (x, G_MAXUINT32, &vx)) ||
          (y != NULL && !parse_uint (y, G_MAXUINT32, &vy)) || vx != vy)
        return FALSE;
    }
  return TRUE;
}

/* does the domain's device @d match the detach request @want?  libvirt's
 * rules: disks by target dev, interfaces by MAC or PCI address, host
 * devices by source address, controllers by type and index, anything else
 * by its PCI address when one is given, else by its element alone */
static gboolean
device_matches (xmlNodePtr d, xmlNodePtr want)
{
  AsmPciAddr x, y;
  const char *tag = (const char *) want->name;

  if (!is_element (d, tag))
    return FALSE;
  if (strcmp (tag, "disk") == 0)
    return same_attr (d, want, "target", "dev");
  if (strcmp (tag, "controller") == 0)
    {
      g_autofree char *wi = attr (want, "index");
      g_autofree char *di = attr (d, "index");
      guint64 a = 0, b = 0;

      return same_attr (d, want, NULL, "type") &&
             (wi == NULL || parse_uint (wi, G_MAXUINT32, &a)) &&
             (di == NULL || parse_uint (di, G_MAXUINT32, &b)) && a == b;
    }
  if (strcmp (tag, "hostdev") == 0)
    return same_host_source (d, want);
  if (strcmp (tag, "interface") == 0)
    {
      g_autofree char *mac = child_attr (want, "mac", "address");

      if (mac != NULL)
        {
          g_autofree char *dm = child_attr (d, "mac", "address");
          return dm != NULL && g_ascii_strcasecmp (dm, mac) == 0;
        }
    }
  if (pci_address_of (want, &y))
    return pci_address_of (d, &x) && asm_pci_addr_equal (&x, &y);
  return TRUE;
}

/* removes the element @n and the whitespace before it */
static void
remove_element (xmlNodePtr n)
{
  xmlNodePtr prev = n->prev;

  if (prev != NULL && prev->type == XML_TEXT_NODE && xmlIsBlankNode (prev))
    {
      xmlUnlinkNode (prev);
      xmlFreeNode (prev);
    }
  xmlUnlinkNode (n);
  xmlFreeNode (n);
}

/**
 * lv_doc_detach:
 *
 * Removes from @doc the device matching @device, as
 * `virsh detach-device --config` does; the addresses of the other devices
 * do not change.
 */
gboolean
lv_doc_detach (xmlDocPtr doc, xmlNodePtr device, GError **error)
{
  xmlNodePtr devices = child (xmlDocGetRootElement (doc), "devices");
  xmlNodePtr found = NULL;
  guint n = 0;

  for (xmlNodePtr c = devices != NULL ? devices->children : NULL; c != NULL;
       c = c->next)
    if (device_matches (c, device))
      {
        if (found == NULL)
          found = c;
        n++;
      }
  if (found == NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                   "<%s> (line %ld): no matching device in the domain",
                   (const char *) device->name, line_of (device));
      return FALSE;
    }
  if (n > 1)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "<%s> (line %ld): %u devices match; give a target, a MAC "
                   "or a PCI address that tells them apart",
                   (const char *) device->name, line_of (device), n);
      return FALSE;
    }
  if (is_element (found, "controller"))
    {
      g_autofree char *t = attr (found, "type");
      g_autofree char *i = attr (found, "index");

      if (g_strcmp0 (t, "pci") == 0 && (i == NULL || strcmp (i, "0") == 0))
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "<controller type='pci' index='0'> (line %ld): the "
                       "root controller cannot be detached",
                       line_of (found));
          return FALSE;
        }
    }
  remove_element (found);
  return TRUE;
}

/**
 * lv_doc_attach:
 *
 * Adds a copy of @device to @doc after the last device of its kind, as
 * `virsh attach-device --config` does; addresses are assigned afterwards.
 * A disk whose target or a controller whose type and index is already
 * used is refused.
 */
gboolean
lv_doc_attach (xmlDocPtr doc, xmlNodePtr device, GError **error)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr devices = child (root, "devices");
  xmlNodePtr last_same = NULL, copy;
  const char *tag = (const char *) device->name;

  if (devices == NULL)
    devices = xmlNewChild (root, NULL, (const xmlChar *) "devices", NULL);
  for (xmlNodePtr c = devices->children; c != NULL; c = c->next)
    {
      if (!is_element (c, tag))
        continue;
      last_same = c;
      if ((strcmp (tag, "disk") == 0 || strcmp (tag, "controller") == 0) &&
          device_matches (c, device))
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                       "<%s> (line %ld): the domain already has this device "
                       "(line %ld)",
                       tag, line_of (device), line_of (c));
          return FALSE;
        }
    }
  copy = xmlDocCopyNode (device, doc, 1);
  if (last_same != NULL)
    insert_after (last_same, copy);
  else
    append_indented (devices, copy);
  return TRUE;
}
