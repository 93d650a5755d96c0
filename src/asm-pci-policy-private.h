/* asm-pci-policy-private.h: what the files of the PCI policy share
 *
 * Not installed.  asm-pci-policy.c is the policy's core (the passes,
 * libvirt's defaults, the NUMA plan, the public objects);
 * asm-pci-policy-place.c places controllers and devices in slots;
 * asm-pci-policy-models.c holds the table of device models.  The theory
 * of the policy is at the top of asm-pci-policy.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <asm/asm-error.h>
#include <asm/asm-pci-policy.h>

G_BEGIN_DECLS

typedef struct _AsmPciPolicyDevice PolDevice;

/* One device.  Every field is an input of the policy except those marked
 * "result", which a pass fills in on its own copy of the device. */
struct _AsmPciPolicyDevice {
  gint ref_count;
  char *name;               /* for messages */
  AsmPciDeviceClass klass;
  AsmPciDeviceBus bus;      /* resolved into flags when flags_given is
                               FALSE */
  gboolean flags_given;
  AsmPciConnectFlags flags; /* libvirt's connect flags; 0: not on PCI */
  guint64 ord[3];           /* sort key: list group, position, the order
                               of addition; libvirt's list order among the
                               devices of its class */

  gboolean fixed;           /* an address (not all zero) is given */
  AsmPciAddr addr;          /* that address, or (result) the one assigned */
  gboolean assigned;        /* result: addr holds an assigned address */
  AsmPciMultifunction multi;/* given, or (result) defaulted */
  AsmPciDeviceRole role;
  int usb2_function;        /* ich9 usb companions: their function; else -1 */
  gboolean primary_video;
  int numa_node;            /* a NUMA node the device names, or -1 */
  gboolean implicit;        /* added by the policy, not in the input */
  gboolean addr_given;      /* an address was set, all zero or not: an
                               empty PCI address is still assigned, but
                               takes no fixed place of the chipset */
  char *model;              /* the model of the model table
                               (asm_pci_policy_device_new_for_model(),
                               asm_pci_policy_device_new_controller(): a
                               controller's default resolved), or NULL */
  gboolean no_flags;        /* libvirt wants a PCI address for it but gives
                               it no connect flags (usb-net, ich7 sound):
                               without a given address it cannot be
                               placed */

  /* controllers */
  gboolean is_controller;
  char *ctype;              /* controller type ("pci", "usb", ...) */
  guint32 index;

  /* PCI controllers */
  AsmPciControllerModel pmodel;
  gboolean hotplug_off;
  gint64 chassis_nr, chassis, port, bus_nr; /* -1: absent; result: filled */
  int target_node;          /* expander buses: their NUMA node, or -1 */
  gint64 parent_index;      /* controllers the policy adds behind a given
                               bus (NUMA): that bus's index, else -1 */
  guint32 grow_domain;      /* controllers the policy adds: their domain */
};

/* the devices of one assignment: the policy's copies, then the
 * controllers it adds */
typedef struct {
  AsmPciMachine machine;
  GPtrArray *devs;          /* PolDevice*, owned */
  GHashTable *pci;          /* PCI controller index -> the first PolDevice
                               of devs with it */
  guint32 max_pci_index;    /* the highest PCI controller index of the
                               input (libvirt's max_idx), 0 with roots
                               only */
} PolDomain;

#define PCI_AUTO (ASM_PCI_CONNECT_TYPE_PCI_DEVICE | ASM_PCI_CONNECT_AUTOASSIGN)
#define PCIE_AUTO                                                              \
  (ASM_PCI_CONNECT_TYPE_PCIE_DEVICE | ASM_PCI_CONNECT_AUTOASSIGN)
#define NUMA_GROUP(node) ((guint32) (node) + 1)

/* POL_MUST (lookup): a lookup of an object the policy just listed or
 * made; if it fails the policy has a bug */
#define POL_MUST(lookup)                                                       \
  G_STMT_START                                                                 \
  {                                                                            \
    if (!(lookup))                                                             \
      g_error ("asm pci policy bug: %s failed", #lookup);                      \
  }                                                                            \
  G_STMT_END

/* a bus of the dry run that is plugged in nowhere yet */
typedef struct {
  PolDevice *c;          /* its controller (real index); NULL while a
                            speculative bus is unused */
  AsmPciControllerModel model;
  guint32 root;          /* its parking domain (= root index) */
  guint32 index;         /* its index in the dry run */
  gboolean plug;         /* plug it in at the end (no address of its own) */
  gboolean special;      /* accepts only a pcie-to-pci-bridge */
} Parked;

typedef struct {
  PolDomain *dom;
  gboolean numa_aware;
  gint spare;               /* -1: libvirt's rule; else that many */

  /* per pass */
  gboolean counting;        /* libvirt's dry run */
  AsmPciBusSet *set;
  GHashTable *owner;        /* "dddd:bb:ss.f" -> description */
  GHashTable *pending_devs; /* real bus key -> GPtrArray of fixed devices */
  GPtrArray *pending_ctrls; /* fixed non-root PCI controllers */
  GPtrArray *order;         /* devices to place, libvirt's order */
  guint pos;
  PolDevice *current;       /* the device being placed */
  GHashTable *parked;       /* real bus key -> Parked (dry run) */
  GPtrArray *parked_list;   /* Parked*, in the order they were made */
  guint32 park_next;        /* the next parking domain */
  guint32 park_base;        /* the first one */
  GHashTable *park_domains; /* parking domain -> Parked */
  guint spec_batch;         /* buses to grow at the next growth */
  gboolean fatal;           /* growth is impossible: its error stands */
  PolDevice *deferred_video; /* the primary video, placed after step 5 */
  PolDevice *pushed_video;  /* dry run: the primary video placed off its
                               slot in step 3, placed again in step 6 */
  GError *late_error;       /* dry run: an error libvirt reports only at
                               the end of its real pass */
  GArray *held;             /* dry run: AsmPciAddr slots on buses not
                               plugged in that controllers left out for
                               late_error hold */

  guint32 next_index;       /* the next free controller index */
  GArray *roots;            /* guint32 root indexes, ascending */
} Policy;

/* asm-pci-policy.c */
gboolean pol_fail (GError **error, PolDevice *dev, const char *fmt, ...)
  G_GNUC_PRINTF (3, 4);
guint64 pol_bus_key (guint32 domain, guint32 bus);
guint32 pol_domain_for (Policy *p, guint32 index);
guint32 pol_domain_of (Policy *p, PolDevice *c);
char *pol_addr_format (const AsmPciAddr *addr);
PolDevice *pol_find_pci_controller (PolDomain *dom, guint32 index);
PolDevice *pol_add_pci_controller (PolDomain *dom, guint32 index,
                                   AsmPciControllerModel model);

/* asm-pci-policy-place.c: step 2, the given addresses */
gboolean pol_settle (Policy *p, GError **error);
gboolean pol_reserve_fixed_on_bus (Policy *p, guint32 domain, guint32 bus,
                                   GError **error);
void pol_collect_fixed (Policy *p);
gboolean pol_check_fixed (Policy *p, GError **error);
gboolean pol_close_cycles (Policy *p, GError **error);
gboolean pol_pending_error (Policy *p, PolDevice *c, GError **error);

/* step 3, the chipset */
gboolean pol_chipset_pc (Policy *p, GError **error);
gboolean pol_chipset_q35 (Policy *p, GError **error);

/* parking */
gboolean pol_lock_group (Policy *p, guint32 index, guint32 group,
                         GError **error);
gboolean pol_park (Policy *p, PolDevice *c, gboolean plug, GError **error);
gboolean pol_plug_parked (Policy *p, GError **error);

/* growth */
gboolean pol_plug_controller (Policy *p, PolDevice *c, GError **error);
PolDevice *pol_new_controller (Policy *p, AsmPciControllerModel model,
                               guint32 domain);
gboolean pol_grow (AsmPciBusSet *set, AsmPciConnectFlags flags,
                   gpointer user_data, GError **error);
gboolean pol_grow_for_fixed (Policy *p, GError **error);

/* steps 5 and 6 */
gboolean pol_place_next (Policy *p, PolDevice *d, GError **error);
gboolean pol_place_usb2 (Policy *p, PolDevice *d, GPtrArray *ctrls,
                         GError **error);
gboolean pol_all_buses_full (Policy *p);
gboolean pol_reserve_spare (Policy *p, AsmPciConnectFlags flags, guint n,
                            GError **error);

/* asm-pci-policy-models.c */
PolDevice *pol_device_alloc (AsmPciDeviceClass klass, const char *name);

G_END_DECLS
