/* asmctl-pci-assign.h: what the two halves of `asmctl pci assign` share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Private to asmctl-pci-assign.c (the policy's core: the passes, libvirt's
 * defaults, the commands) and asmctl-pci-assign-place.c (placing
 * controllers and devices in slots).  The theory of the policy is at the
 * top of asmctl-pci-assign.c.
 */
#pragma once

#include "asmctl-libvirt.h"

G_BEGIN_DECLS

#define PCI_AUTO (ASM_PCI_CONNECT_TYPE_PCI_DEVICE | ASM_PCI_CONNECT_AUTOASSIGN)
#define PCIE_AUTO                                                              \
  (ASM_PCI_CONNECT_TYPE_PCIE_DEVICE | ASM_PCI_CONNECT_AUTOASSIGN)
#define NUMA_GROUP(node) ((guint32) (node) + 1)

/* a bus of the dry run that is plugged in nowhere yet */
typedef struct {
  LvDevice *c;           /* its controller (real index); NULL while a
                            speculative bus is unused */
  AsmPciControllerModel model;
  guint32 root;          /* its parking domain (= root index) */
  guint32 index;         /* its index in the dry run */
  gboolean plug;         /* plug it in at the end (no address of its own) */
  gboolean special;      /* accepts only a pcie-to-pci-bridge */
} Parked;

typedef struct {
  LvDomain *dom;
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
  LvDevice *current;        /* the device being placed */
  GHashTable *parked;       /* real bus key -> Parked (dry run) */
  GPtrArray *parked_list;   /* Parked*, in the order they were made */
  guint32 park_next;        /* the next parking domain */
  guint32 park_base;        /* the first one */
  GHashTable *park_domains; /* parking domain -> Parked */
  guint spec_batch;         /* buses to grow at the next growth */
  gboolean fatal;           /* growth is impossible: its error stands */
  LvDevice *deferred_video; /* the primary video, placed after step 5 */
  LvDevice *pushed_video;   /* dry run: the primary video placed off its
                               slot in step 3, placed again in step 6 */
  GError *late_error;       /* dry run: an error libvirt reports only at
                               the end of its real pass */
  GArray *held;             /* dry run: AsmPciAddr slots on buses not
                               plugged in that controllers left out for
                               late_error hold */

  guint32 next_index;       /* the next free controller index */
  GArray *roots;            /* guint32 root indexes, ascending */
} Policy;

/* asmctl-pci-assign.c */
gboolean asmctl_policy_fail (GError **error, LvDevice *dev, const char *fmt,
                             ...) G_GNUC_PRINTF (3, 4);
guint64 asmctl_policy_bus_key (guint32 domain, guint32 bus);
guint32 asmctl_policy_domain_for (Policy *p, guint32 index);
guint32 asmctl_policy_domain_of (Policy *p, LvDevice *c);

/* asmctl-pci-assign-place.c: step 2, the addresses of the XML */
gboolean asmctl_policy_settle (Policy *p, GError **error);
gboolean asmctl_policy_reserve_fixed_on_bus (Policy *p, guint32 domain,
                                             guint32 bus, GError **error);
void asmctl_policy_collect_fixed (Policy *p);
gboolean asmctl_policy_check_fixed (Policy *p, GError **error);

/* step 3, the chipset */
gboolean asmctl_policy_chipset_pc (Policy *p, GError **error);
gboolean asmctl_policy_chipset_q35 (Policy *p, GError **error);

/* parking */
gboolean asmctl_policy_lock_group (Policy *p, guint32 index, guint32 group,
                                   GError **error);
gboolean asmctl_policy_park (Policy *p, LvDevice *c, gboolean plug,
                             GError **error);
gboolean asmctl_policy_plug_parked (Policy *p, GError **error);

/* growth */
gboolean asmctl_policy_plug_controller (Policy *p, LvDevice *c,
                                        GError **error);
LvDevice *asmctl_policy_new_controller (Policy *p,
                                        AsmPciControllerModel model,
                                        guint32 domain);
gboolean asmctl_policy_grow (AsmPciBusSet *set, AsmPciConnectFlags flags,
                             gpointer user_data, GError **error);
gboolean asmctl_policy_grow_for_fixed (Policy *p, GError **error);

/* steps 5 and 6 */
gboolean asmctl_policy_place_next (Policy *p, LvDevice *d, GError **error);
gboolean asmctl_policy_place_usb2 (Policy *p, LvDevice *d, GPtrArray *ctrls,
                                   GError **error);
gboolean asmctl_policy_all_buses_full (Policy *p);
gboolean asmctl_policy_reserve_spare (Policy *p, AsmPciConnectFlags flags,
                                      guint n, GError **error);

G_END_DECLS
