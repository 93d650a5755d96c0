/* asmctl-libvirt-doc.c: reading a domain XML document, within bounds
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * lv_doc_read() reads a domain XML file with libxml2 as a hostile input:
 * at most LV_DOC_MAX bytes, attribute values and text nodes within
 * LV_ATTR_MAX and LV_TEXT_MAX, no network, no external DTD, and no entity
 * declarations at all (reading a value would expand them).  Why these
 * limits, and the others asmctl puts on a domain, is told at the top of
 * asmctl-libvirt-read.c, which turns the document into an LvDomain.
 */
#include "asmctl-libvirt.h"
#include <libxml/parser.h>
#include <errno.h>
#include <string.h>

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

/* an entity declaration stops the parse (see "Hostile input" above) */
static void
refuse_entity (void *ctx, const xmlChar *name, int type,
               const xmlChar *public_id, const xmlChar *system_id,
               xmlChar *content)
{
  xmlParserCtxtPtr ctxt = ctx;

  if (ctxt->_private == NULL)
    ctxt->_private = g_strdup ((const char *) name);
  xmlStopParser (ctxt);
}

/* reads at most LV_DOC_MAX bytes of @f */
static char *
read_bounded (FILE *f, const char *path, gsize *len, GError **error)
{
  GString *s = g_string_new (NULL);
  char buf[65536];
  size_t n;

  while ((n = fread (buf, 1, sizeof buf, f)) > 0)
    {
      g_string_append_len (s, buf, (gssize) n);
      if (s->len > LV_DOC_MAX)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "%s: the document is larger than %u bytes, the "
                       "limit for a domain XML",
                       path, LV_DOC_MAX);
          g_string_free (s, TRUE);
          return NULL;
        }
    }
  if (ferror (f))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND, "%s: %s", path,
                   g_strerror (errno));
      g_string_free (s, TRUE);
      return NULL;
    }
  *len = s->len;
  return g_string_free (s, FALSE);
}

/* every attribute value and text node within its limit: one walk */
static gboolean
check_sizes (xmlDocPtr doc, const char *path, GError **error)
{
  xmlNodePtr n = xmlDocGetRootElement (doc);

  while (n != NULL)
    {
      if (n->type == XML_ELEMENT_NODE)
        for (xmlAttrPtr a = n->properties; a != NULL; a = a->next)
          {
            gsize len = 0;

            for (xmlNodePtr t = a->children; t != NULL; t = t->next)
              len += t->content != NULL ? strlen ((const char *) t->content)
                                        : 0;
            if (len > LV_ATTR_MAX)
              {
                g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                             "%s:%ld: <%s %s='...'>: the value has %"
                             G_GSIZE_FORMAT " bytes, above the limit of %u",
                             path, asmctl_xml_line_of (n), n->name, a->name,
                             len, LV_ATTR_MAX);
                return FALSE;
              }
          }
      else if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE ||
                n->type == XML_COMMENT_NODE) &&
               n->content != NULL &&
               strlen ((const char *) n->content) > LV_TEXT_MAX)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "%s:%ld: <%s>: a text of %" G_GSIZE_FORMAT " bytes, "
                       "above the limit of %u",
                       path, asmctl_xml_line_of (n),
                       n->parent != NULL ? (const char *) n->parent->name : "",
                       strlen ((const char *) n->content), LV_TEXT_MAX);
          return FALSE;
        }
      /* next in document order */
      if (n->type == XML_ELEMENT_NODE && n->children != NULL)
        n = n->children;
      else
        {
          while (n != NULL && n->next == NULL)
            n = n->parent != NULL && n->parent->type == XML_ELEMENT_NODE
                  ? n->parent
                  : NULL;
          if (n != NULL)
            n = n->next;
        }
    }
  return TRUE;
}

/**
 * lv_doc_read:
 * @path: a file, or "-" for standard input
 *
 * Parses an XML file; errors carry the line ("in.xml:7: Opening and ending
 * tag mismatch").  Refuses a document above LV_DOC_MAX bytes, any entity
 * declaration, and attribute values and texts above their limits.
 */
xmlDocPtr
lv_doc_read (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  xmlParserCtxtPtr ctxt;
  xmlDocPtr doc;
  xmlError first;

  if (strcmp (path, "-") == 0)
    text = read_bounded (stdin, "standard input", &len, error);
  else
    {
      FILE *f = fopen (path, "rb");

      if (f == NULL)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                       "Failed to open file \u201c%s\u201d: %s", path,
                       g_strerror (errno));
          return NULL;
        }
      text = read_bounded (f, path, &len, error);
      fclose (f);
    }
  if (text == NULL)
    return NULL;

  xmlSetGenericErrorFunc (NULL, silent_errors);
  memset (&first, 0, sizeof first);
  xmlSetStructuredErrorFunc (&first, (xmlStructuredErrorFunc) first_error);
  ctxt = xmlNewParserCtxt ();
  ctxt->sax->entityDecl = refuse_entity;
  ctxt->_private = NULL;
  doc = xmlCtxtReadMemory (ctxt, text, (int) len, path, NULL,
                           XML_PARSE_NONET | XML_PARSE_NOERROR |
                             XML_PARSE_NOWARNING);
  xmlSetStructuredErrorFunc (NULL, NULL);
  if (ctxt->_private != NULL)
    {
      g_autofree char *name = ctxt->_private;

      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "%s:%d: <!ENTITY %s>: entity declarations are not "
                   "accepted (a domain XML needs none)",
                   path, first.line > 0 ? first.line : ctxt->input != NULL
                                                         ? ctxt->input->line
                                                         : 0,
                   name);
      g_free (first.message);
      if (doc != NULL)
        xmlFreeDoc (doc);
      xmlFreeParserCtxt (ctxt);
      return NULL;
    }
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
  if (!check_sizes (doc, path, error))
    {
      xmlFreeDoc (doc);
      return NULL;
    }
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

