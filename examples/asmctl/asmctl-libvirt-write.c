/* asmctl-libvirt-write.c: writing libvirt domain XML for asmctl
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Writing changes only what the policy decided: <address type='pci'>
 * elements, multifunction='on', default model names and targets of PCI
 * controllers, default models, and the implicit and added controllers;
 * and the devices libvirt 9.0 adds without a PCI address (write_implicit_io:
 * the PS/2 mouse and keyboard, the default <audio>).
 * Every other byte of the document is left as it was (libxml2 keeps the
 * whitespace; new elements copy the indentation of their siblings).
 *
 * Also here: attaching and detaching a device, as `virsh attach-device
 * --config` and `detach-device --config` do.  Reading a domain XML is in
 * asmctl-libvirt-read.c.
 */
#include "asmctl-libvirt.h"

#include <libxml/xmlsave.h>

#include <errno.h>
#include <string.h>

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

static gboolean
attr_absent (xmlNodePtr n, const char *name)
{
  return xmlHasProp (n, (const xmlChar *) name) == NULL;
}

static void
set_prop (xmlNodePtr n, const char *name, const char *value)
{
  xmlSetProp (n, (const xmlChar *) name, (const xmlChar *) value);
}

static void
write_address (LvDevice *dev)
{
  xmlNodePtr a = asmctl_xml_child (dev->node, "address");
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
  xmlNodePtr target = asmctl_xml_child (dev->node, "target");
  static const char *const names[] = { "chassisNr", "chassis", "port",
                                       "busNr" };
  gint64 vals[] = { dev->chassis_nr, dev->chassis, dev->port, dev->bus_nr };
  gboolean any = FALSE;

  if (mname != NULL && !dev->has_model_name)
    {
      xmlNodePtr m = xmlNewNode (NULL, (const xmlChar *) "model");

      set_prop (m, "name", mname);
      if (dev->node->children != NULL &&
          asmctl_xml_child (dev->node, NULL) != NULL)
        {
          g_autofree char *ind = indent_of_children (dev->node);

          xmlAddPrevSibling (asmctl_xml_child (dev->node, NULL), m);
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
      xmlNodePtr after = asmctl_xml_child (dev->node, "model");

      target = xmlNewNode (NULL, (const xmlChar *) "target");
      if (after != NULL)
        insert_after (after, target);
      else
        append_indented (dev->node, target);
    }
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (vals[i] >= 0)
      {
        g_autofree char *have = asmctl_xml_attr (target, names[i]);
        char buf[32];

        if (have != NULL)
          continue;
        if (strcmp (names[i], "port") == 0)
          g_snprintf (buf, sizeof buf, "0x%" G_GINT64_MODIFIER "x", vals[i]);
        else
          g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, vals[i]);
        set_prop (target, names[i], buf);
      }
  if (dev->target_node >= 0 && asmctl_xml_child (target, "node") == NULL)
    {
      char buf[32];

      g_snprintf (buf, sizeof buf, "%d", dev->target_node);
      append_indented (target, xmlNewNode (NULL, (const xmlChar *) "node"));
      xmlNodeSetContent (asmctl_xml_child (target, "node"),
                         (const xmlChar *) buf);
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

/* libvirt keeps its controllers in one list and inserts each one, those of
 * the input as it parses them and those it adds, by one rule
 * (virDomainControllerInsertPreAlloced): after the last controller of the
 * same type with a lower or equal index, else before the first of that
 * type, else at the end; but a controller without a <master> goes before
 * the companions (with one) of its type and index that end that run, so
 * an ICH9 EHCI precedes its UHCI companions.  It writes them in that
 * order.  The list of the
 * input's controllers (in document order) then of the added ones (in the
 * order they were added) is put in that order here. */
static guint64
controller_index (xmlNodePtr c)
{
  g_autofree char *i = asmctl_xml_attr (c, "index");
  guint64 idx = 0;

  if (i == NULL || !asmctl_xml_parse_uint (i, G_MAXUINT32, &idx))
    return 0;
  return idx;
}

static void
libvirt_insert (GPtrArray *list, xmlNodePtr c)
{
  g_autofree char *type = asmctl_xml_attr (c, "type");
  guint64 idx = controller_index (c);
  gboolean master = asmctl_xml_child (c, "master") != NULL;
  gint at = -1;

  for (guint i = list->len; i-- > 0;)
    {
      xmlNodePtr cur = g_ptr_array_index (list, i);
      g_autofree char *t = asmctl_xml_attr (cur, "type");
      if (g_strcmp0 (t, type) != 0)
        continue;
      if (controller_index (cur) > idx ||
          (!master && controller_index (cur) == idx &&
           asmctl_xml_child (cur, "master") != NULL))
        at = (gint) i;
      else
        {
          if (at < 0)
            at = (gint) i + 1;
          break;
        }
    }
  g_ptr_array_insert (list, at < 0 ? -1 : at, c);
}

/* Moves @n (with the indentation before it) to right after @ref. */
static void
move_after (xmlNodePtr ref, xmlNodePtr n)
{
  xmlNodePtr prev = n->prev;

  if (ref->next == n ||
      (ref->next != NULL && ref->next->type == XML_TEXT_NODE &&
       ref->next->next == n))
    return; /* in place already */
  if (prev != NULL && prev->type == XML_TEXT_NODE &&
      xmlIsBlankNode (prev))
    {
      xmlUnlinkNode (prev);
      xmlFreeNode (prev);
    }
  xmlUnlinkNode (n);
  insert_after (ref, n);
}

/* libvirt puts the primary video first in its list of videos and writes
 * it so: @primary's element moves (with the indentation before it) to
 * right before the first <video> of the document */
static void
video_primary_first (LvDomain *dom, LvDevice *primary)
{
  xmlNodePtr first = NULL, prev;

  for (xmlNodePtr c = dom->devices->children; c != NULL && first == NULL;
       c = c->next)
    if (asmctl_xml_is_element (c, "video"))
      first = c;
  if (primary == NULL || primary->node == NULL || first == NULL ||
      first == primary->node)
    return;
  prev = primary->node->prev;
  if (prev != NULL && prev->type == XML_TEXT_NODE && xmlIsBlankNode (prev))
    {
      xmlUnlinkNode (prev);
      xmlFreeNode (prev);
    }
  xmlUnlinkNode (primary->node);
  {
    g_autofree char *ind = indent_of_children (dom->devices);

    xmlAddPrevSibling (first, primary->node);
    xmlAddNextSibling (primary->node, xmlNewText ((const xmlChar *) ind));
  }
}

static void
order_controllers (GPtrArray *input, GPtrArray *added)
{
  g_autoptr (GPtrArray) list = g_ptr_array_new ();

  for (guint i = 0; i < input->len; i++)
    libvirt_insert (list, g_ptr_array_index (input, i));
  for (guint i = 0; i < added->len; i++)
    libvirt_insert (list, g_ptr_array_index (added, i));
  for (guint i = 1; i < list->len; i++)
    move_after (g_ptr_array_index (list, i - 1),
                g_ptr_array_index (list, i));
}

/* where a new controller goes, as libvirt inserts it into its list: after
 * the last controller of the same type with a lower index; else before
 * the first of that type (they all have higher indexes); else after the
 * last controller, else after the disks, else first */
static void
insert_controller (LvDomain *dom, xmlNodePtr n, LvDevice *dev, WriteCtx *w)
{
  xmlNodePtr after = NULL, last_ctl = NULL, last_disk = NULL, emu = NULL;
  xmlNodePtr before = NULL;
  WriteMark *mark = g_hash_table_lookup (w->last, dev->ctype);

  if (mark != NULL && mark->index <= dev->index)
    {
      /* controllers are written in increasing index order per type; the
       * input's own controllers of the type with indexes between stay
       * before the new one */
      xmlNodePtr at = mark->node;
      for (xmlNodePtr c = at->next; c != NULL; c = c->next)
        {
          g_autofree char *t = NULL, *i = NULL;
          guint64 idx = 0;
          if (c->type != XML_ELEMENT_NODE)
            continue;
          if (!asmctl_xml_is_element (c, "controller"))
            break;
          t = asmctl_xml_attr (c, "type");
          i = asmctl_xml_attr (c, "index");
          if (g_strcmp0 (t, dev->ctype) != 0 || i == NULL ||
              !asmctl_xml_parse_uint (i, G_MAXUINT32, &idx) ||
              idx > dev->index)
            break;
          at = c;
        }
      insert_after (at, n);
      mark->node = n;
      mark->index = dev->index;
      return;
    }

  for (xmlNodePtr c = dom->devices->children; c != NULL; c = c->next)
    {
      if (asmctl_xml_is_element (c, "controller"))
        {
          g_autofree char *t = asmctl_xml_attr (c, "type");
          g_autofree char *i = asmctl_xml_attr (c, "index");
          guint64 idx = 0;

          last_ctl = c;
          if (g_strcmp0 (t, dev->ctype) == 0 &&
              (i == NULL || (asmctl_xml_parse_uint (i, G_MAXUINT32, &idx) &&
                             idx <= dev->index)))
            after = c;
          else if (g_strcmp0 (t, dev->ctype) == 0 && before == NULL)
            before = c;
        }
      else if (asmctl_xml_is_element (c, "disk"))
        last_disk = c;
      else if (asmctl_xml_is_element (c, "emulator"))
        emu = c;
    }
  if (after == NULL && before == NULL)
    after = last_ctl != NULL ? last_ctl : last_disk != NULL ? last_disk : emu;
  mark = g_new (WriteMark, 1);
  mark->node = n;
  mark->index = dev->index;
  g_hash_table_replace (w->last, g_strdup (dev->ctype), mark);
  if (after == NULL && before != NULL)
    {
      g_autofree char *ind = indent_of_children (dom->devices);
      xmlAddPrevSibling (before, n);
      xmlAddNextSibling (n, xmlNewText ((const xmlChar *) ind));
    }
  else if (after != NULL)
    insert_after (after, n);
  else if (asmctl_xml_child (dom->devices, NULL) != NULL)
    {
      xmlNodePtr first = asmctl_xml_child (dom->devices, NULL);
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
/* the bus libvirt gives an <input> without one (x86) */
static const char *
input_bus (xmlNodePtr n)
{
  g_autofree char *type = asmctl_xml_attr (n, "type");

  if (type != NULL && strcmp (type, "tablet") == 0)
    return "usb";
  if (type != NULL &&
      (strcmp (type, "mouse") == 0 || strcmp (type, "keyboard") == 0))
    return "ps2";
  return NULL;
}

/* what libvirt 9.0's qemu driver adds to every x86 domain that needs no
 * PCI address: the bus of an <input> without one; a PS/2 mouse and a
 * PS/2 keyboard unless there are (after the last <input>, mouse first);
 * and, when there is no <audio>, the default audio backend of the last
 * <graphics> (vnc: type='none', spice: type='spice', none at all:
 * type='none'; sdl and the others take the host's, which libvirt does
 * not write without QEMU_AUDIO_DRV, so nothing is added) */
static void
write_implicit_io (LvDomain *dom)
{
  xmlNodePtr last_input = NULL;
  gboolean mouse = FALSE, keyboard = FALSE, audio = FALSE;
  const char *backend = "none";

  for (xmlNodePtr c = dom->devices->children; c != NULL; c = c->next)
    {
      if (asmctl_xml_is_element (c, "input"))
        {
          g_autofree char *type = asmctl_xml_attr (c, "type");
          g_autofree char *bus = asmctl_xml_attr (c, "bus");
          const char *b = bus;

          if (b == NULL && (b = input_bus (c)) != NULL)
            set_prop (c, "bus", b);
          if (type != NULL && b != NULL && strcmp (b, "ps2") == 0)
            {
              mouse |= strcmp (type, "mouse") == 0;
              keyboard |= strcmp (type, "keyboard") == 0;
            }
          last_input = c;
        }
      else if (asmctl_xml_is_element (c, "audio"))
        audio = TRUE;
      else if (asmctl_xml_is_element (c, "graphics"))
        {
          g_autofree char *type = asmctl_xml_attr (c, "type");

          if (type != NULL && strcmp (type, "vnc") == 0)
            backend = "none";
          else if (type != NULL && strcmp (type, "spice") == 0)
            backend = "spice";
          else
            backend = NULL;
        }
    }
  for (guint i = 0; i < 2; i++)
    {
      const char *type = i == 0 ? "mouse" : "keyboard";
      xmlNodePtr n;

      if (i == 0 ? mouse : keyboard)
        continue;
      n = xmlNewNode (NULL, (const xmlChar *) "input");
      set_prop (n, "type", type);
      set_prop (n, "bus", "ps2");
      if (last_input != NULL)
        insert_after (last_input, n);
      else
        append_indented (dom->devices, n);
      last_input = n;
    }
  if (!audio && backend != NULL)
    {
      xmlNodePtr n = xmlNewNode (NULL, (const xmlChar *) "audio");

      set_prop (n, "id", "1");
      set_prop (n, "type", backend);
      append_indented (dom->devices, n);
    }
}

gboolean
lv_domain_write (LvDomain *dom, const char *path, GError **error)
{
  WriteCtx w;
  gboolean ok;
  g_autoptr (GPtrArray) input = g_ptr_array_new ();
  g_autoptr (GPtrArray) added = g_ptr_array_new ();

  w.last = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (xmlNodePtr c = dom->devices->children; c != NULL; c = c->next)
    if (asmctl_xml_is_element (c, "controller"))
      g_ptr_array_add (input, c);
  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);

      if (d->implicit && d->node == NULL)
        {
          /* implicit devices that need no PCI address stay implicit, as
           * libvirt would add them again; every controller is written, as
           * libvirt writes the controllers it adds */
          if (!(d->assigned || d->cat == LV_CAT_PCI_CONTROLLER ||
                d->ctype != NULL))
            continue;
          materialize (dom, d, &w);
          if (d->ctype != NULL)
            g_ptr_array_add (added, d->node);
        }
      if (d->node == NULL)
        continue;
      if (d->cmodel_defaulted)
        {
          if (strcmp (d->tag, "video") == 0)
            {
              xmlNodePtr m = asmctl_xml_child (d->node, "model");

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
      if (d->ctype != NULL && attr_absent (d->node, "index"))
        {
          /* libvirt writes the index it gave a controller without one */
          char buf[32];
          g_snprintf (buf, sizeof buf, "%u", d->index);
          set_prop (d->node, "index", buf);
        }
      if (d->cat == LV_CAT_PCI_CONTROLLER)
        write_pci_controller (d);
      /* libvirt writes every PCI address in full, a partial one of the
       * input too (its missing parts are 0) */
      if (d->assigned || d->fixed)
        write_address (d);
    }

  g_hash_table_unref (w.last);
  order_controllers (input, added);
  write_implicit_io (dom);
  for (guint i = 0; i < dom->devs->len; i++)
    {
      LvDevice *d = g_ptr_array_index (dom->devs, i);

      if (d->cat == LV_CAT_VIDEO && d->primary_video)
        video_primary_first (dom, d);
    }
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
  g_autofree char *x = cname != NULL ? asmctl_xml_child_attr (a, cname, aname)
                                     : asmctl_xml_attr (a, aname);
  g_autofree char *y = cname != NULL ? asmctl_xml_child_attr (b, cname, aname)
                                     : asmctl_xml_attr (b, aname);

  return x != NULL && y != NULL && strcmp (x, y) == 0;
}

static gboolean
pci_address_of (xmlNodePtr n, AsmPciAddr *out)
{
  xmlNodePtr a = asmctl_xml_child (n, "address");
  g_autofree char *type = asmctl_xml_attr (a, "type");
  static const char *const parts[] = { "domain", "bus", "slot", "function" };
  guint64 v[4] = { 0, 0, 0, 0 };

  if (g_strcmp0 (type, "pci") != 0)
    return FALSE;
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *s = asmctl_xml_attr (a, parts[i]);

      if (s != NULL && !asmctl_xml_parse_uint (s, G_MAXUINT32, &v[i]))
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
  xmlNodePtr sa = asmctl_xml_child (asmctl_xml_child (a, "source"), "address");
  xmlNodePtr sb = asmctl_xml_child (asmctl_xml_child (b, "source"), "address");
  static const char *const parts[] = { "domain", "bus", "slot", "function" };

  if (sa == NULL || sb == NULL)
    return FALSE;
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *x = asmctl_xml_attr (sa, parts[i]);
      g_autofree char *y = asmctl_xml_attr (sb, parts[i]);
      guint64 vx = 0, vy = 0;

      if ((x != NULL && !asmctl_xml_parse_uint (x, G_MAXUINT32, &vx)) ||
          (y != NULL && !asmctl_xml_parse_uint (y, G_MAXUINT32, &vy)) ||
          vx != vy)
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

  if (!asmctl_xml_is_element (d, tag))
    return FALSE;
  if (strcmp (tag, "disk") == 0)
    return same_attr (d, want, "target", "dev");
  if (strcmp (tag, "controller") == 0)
    {
      g_autofree char *wi = asmctl_xml_attr (want, "index");
      g_autofree char *di = asmctl_xml_attr (d, "index");
      guint64 a = 0, b = 0;

      return same_attr (d, want, NULL, "type") &&
             (wi == NULL || asmctl_xml_parse_uint (wi, G_MAXUINT32, &a)) &&
             (di == NULL || asmctl_xml_parse_uint (di, G_MAXUINT32, &b)) &&
             a == b;
    }
  if (strcmp (tag, "hostdev") == 0)
    return same_host_source (d, want);
  if (strcmp (tag, "interface") == 0)
    {
      g_autofree char *mac = asmctl_xml_child_attr (want, "mac", "address");

      if (mac != NULL)
        {
          g_autofree char *dm = asmctl_xml_child_attr (d, "mac", "address");
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
  xmlNodePtr devices = asmctl_xml_child (xmlDocGetRootElement (doc), "devices");
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
                   (const char *) device->name, asmctl_xml_line_of (device));
      return FALSE;
    }
  if (n > 1)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "<%s> (line %ld): %u devices match; give a target, a MAC "
                   "or a PCI address that tells them apart",
                   (const char *) device->name, asmctl_xml_line_of (device), n);
      return FALSE;
    }
  if (asmctl_xml_is_element (found, "controller"))
    {
      g_autofree char *t = asmctl_xml_attr (found, "type");
      g_autofree char *i = asmctl_xml_attr (found, "index");

      if (g_strcmp0 (t, "pci") == 0 && (i == NULL || strcmp (i, "0") == 0))
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "<controller type='pci' index='0'> (line %ld): the "
                       "root controller cannot be detached",
                       asmctl_xml_line_of (found));
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
  xmlNodePtr devices = asmctl_xml_child (root, "devices");
  xmlNodePtr last_same = NULL, copy;
  const char *tag = (const char *) device->name;

  if (devices == NULL)
    devices = xmlNewChild (root, NULL, (const xmlChar *) "devices", NULL);
  for (xmlNodePtr c = devices->children; c != NULL; c = c->next)
    {
      if (!asmctl_xml_is_element (c, tag))
        continue;
      last_same = c;
      if ((strcmp (tag, "disk") == 0 || strcmp (tag, "controller") == 0) &&
          device_matches (c, device))
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_IN_USE,
                       "<%s> (line %ld): the domain already has this device "
                       "(line %ld)",
                       tag, asmctl_xml_line_of (device),
                       asmctl_xml_line_of (c));
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
