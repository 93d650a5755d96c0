/* asmctl-libvirt.h: a libvirt domain XML as asmctl's PCI policy sees it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private to asmctl.  asmctl-libvirt-read.c reads a domain XML (libxml2)
 * into an LvDomain: the machine, every device that may take a PCI address
 * (with its libvirt connect flags, its category in libvirt's assignment
 * order and the address the XML gives), the PCI controllers, and the
 * implicit devices libvirt adds (usb, sata, memballoon, ...).
 * asmctl-libvirt-write.c writes addresses and new controllers back into
 * the document, touching nothing else.  asmctl-pci-assign.c hands the devices
 * to the library's PCI policy (asm_pci_policy_*) and takes its answer
 * back.
 */
#pragma once

#include "asmctl.h"

#include <libxml/tree.h>

G_BEGIN_DECLS

/* Limits on the input, checked before any placement work (the theory
 * comment of asmctl-libvirt-read.c says why each is what it is).  Every
 * input beyond one is refused with exit status 3, naming the value. */
#define LV_DOC_MAX (16u << 20)       /* bytes of one XML document */
#define LV_ATTR_MAX 4096u            /* bytes of one attribute value */
#define LV_TEXT_MAX 65536u           /* bytes of one text node */
#define LV_PCI_INDEX_MAX 255u        /* a PCI controller's index */
#define LV_CONTROLLER_INDEX_MAX 255u /* other controllers' index, and the
                                        controller of a drive address */
#define LV_DISK_INDEX_MAX 18277u     /* a disk name's index: vda..vdzzz */

typedef enum {
  LV_MACHINE_PC,   /* i440fx: pci-root */
  LV_MACHINE_Q35,  /* q35: pcie-root */
} LvMachine;

/* libvirt's order of device categories when it assigns PCI addresses
 * (qemuDomainAssignDevicePCISlots); LV_CAT_NONE is no PCI device. */
typedef enum {
  LV_CAT_PCI_CONTROLLER,
  LV_CAT_FILESYSTEM,
  LV_CAT_NET,
  LV_CAT_SOUND,
  LV_CAT_CONTROLLER,
  LV_CAT_DISK,
  LV_CAT_HOSTDEV,
  LV_CAT_MEMBALLOON,
  LV_CAT_RNG,
  LV_CAT_WATCHDOG,
  LV_CAT_VIDEO,
  LV_CAT_SHMEM,
  LV_CAT_INPUT,
  LV_CAT_SERIAL,
  LV_CAT_IOMMU,
  LV_CAT_VSOCK,
  LV_CAT_MEMORY,
  LV_CAT_PANIC,
  LV_CAT_NONE,
} LvCategory;

/* the multifunction attribute of an address */
typedef enum {
  LV_MULTI_ABSENT,
  LV_MULTI_ON,
  LV_MULTI_OFF,
} LvMulti;

typedef struct _LvDevice LvDevice;

struct _LvDevice {
  xmlNodePtr node;          /* the element; NULL for an implicit device not
                               yet written */
  char *tag;                /* element name: disk, interface, ... */
  char *desc;               /* for messages: "<disk> 'vda' (line 12)" */
  LvCategory cat;
  AsmPciPolicyDevice *pd;   /* the library's description from its model
                               table (asm_pci_policy_device_new_for_model,
                               _new_controller); NULL for PCI controllers,
                               described from pmodel */
  AsmPciConnectFlags flags; /* the connect flags the policy resolved (after
                               the assignment); 0: not on PCI */
  guint64 ord[3];           /* sort key: libvirt's list order among the
                               devices of its category */

  gboolean fixed;           /* the XML gives a (non-zero) PCI address */
  gboolean addr_element;    /* the XML has an <address type='pci'>, maybe
                               an empty one (all zero) */
  AsmPciAddr addr;          /* that address, or the one assigned */
  gboolean assigned;        /* addr holds an assigned address */
  LvMulti multi;            /* multifunction attribute */
  int usb2_function;        /* ich9 usb companions: their function; else -1 */
  gboolean primary_video;
  int numa_node;            /* a NUMA node the device names, or -1 */
  gboolean implicit;        /* added by the policy, not in the input */
  gboolean unknown;         /* an element libvirt 9.0 does not know
                               (<crypto>): it drops it; asmctl leaves it as
                               it is, address included, and places nothing
                               for it */

  /* controllers */
  char *ctype;              /* controller type, NULL for other devices */
  guint32 index;
  char *cmodel;             /* its model attribute (default filled in) */
  gboolean cmodel_defaulted;/* the model was absent: write it */

  /* PCI controllers (ctype "pci") */
  AsmPciControllerModel pmodel;
  gboolean hotplug_off;     /* <target hotplug='off'/> */
  gint64 chassis_nr, chassis, port, bus_nr; /* -1 when absent */
  gboolean has_model_name;  /* <model name=.../> given */
  int target_node;          /* expander buses: <target><node>, or -1 */
  gint64 parent_index;      /* controllers the policy adds behind a given
                               bus (NUMA): that bus's index, else -1 */
  guint32 grow_domain;      /* controllers the policy adds: their domain */
};

typedef struct {
  xmlDocPtr doc;
  xmlNodePtr devices;       /* the <devices> element */
  char *name;               /* <name> */
  LvMachine machine;
  GPtrArray *devs;          /* LvDevice*, owned, in document order */
  GHashTable *ctrls;        /* "type:index" -> the first LvDevice of devs
                               with that controller type and index */
  guint32 max_pci_index;    /* the highest PCI controller index in the input
                               (libvirt's max_idx), 0 with roots only */
  gboolean had_decl;        /* the input began with an XML declaration */
  char *source;             /* the file name, for messages */
} LvDomain;

void lv_device_free (LvDevice *dev);
void lv_domain_free (LvDomain *dom);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LvDomain, lv_domain_free)

xmlDocPtr lv_doc_read (const char *path, GError **error);
LvDomain *lv_domain_new (xmlDocPtr doc, const char *source, GError **error);
LvDevice *lv_domain_add_pci_controller (LvDomain *dom, guint32 index,
                                        AsmPciControllerModel model);
LvDevice *lv_domain_find_pci_controller (LvDomain *dom, guint32 index);
char *lv_addr_format (const AsmPciAddr *addr);
gboolean lv_domain_write (LvDomain *dom, const char *path, GError **error);
gboolean lv_doc_write (xmlDocPtr doc, gboolean had_decl, const char *path,
                       GError **error);
gboolean lv_doc_detach (xmlDocPtr doc, xmlNodePtr device, GError **error);
gboolean lv_doc_attach (xmlDocPtr doc, xmlNodePtr device, GError **error);

/* asmctl-libvirt-read.c: small XML helpers, for the reader and the writer.
 * An element is one of libvirt's, not of asm's own annotations
 * (<asm:numa/>); attributes are returned as new strings, or NULL. */
gboolean asmctl_xml_is_element (xmlNodePtr n, const char *name);
xmlNodePtr asmctl_xml_child (xmlNodePtr parent, const char *name);
char *asmctl_xml_attr (xmlNodePtr n, const char *name);
char *asmctl_xml_child_attr (xmlNodePtr parent, const char *cname,
                             const char *aname);
long asmctl_xml_line_of (xmlNodePtr n);
gboolean asmctl_xml_parse_uint (const char *text, guint64 max, guint64 *out);

G_END_DECLS
