/* asm-fmodel-private.h: the fabric's model, shared by its modules
 *
 * Not installed.  See the theory comment in asm-fmodel.c for the
 * invariants (F1-F9) and asm-fabric.c for how the modules fit together.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <asm/asm-fabric.h>

#include "asm-bug-private.h"
#include "asm-pmap-private.h"

G_BEGIN_DECLS

/* Where workloads' virtual ranges live, and their spacing: each partition
 * starts on a VIRT_ALIGN boundary so that it can grow in place up to that
 * much without its virtual addresses moving. */
#define ASM_FABRIC_VIRT_FIRST (G_GUINT64_CONSTANT (1) << 40)
#define ASM_FABRIC_VIRT_LAST ((G_GUINT64_CONSTANT (1) << 56) - 1)
#define ASM_FABRIC_VIRT_ALIGN (G_GUINT64_CONSTANT (1) << 40)

/* Every object starts with an AsmPObj header and is copied on write
 * (asm_pmap_get_writable()); strings and arrays are owned by the object
 * and copied with it, arenas are cloned (O(1)). */

typedef struct {
  AsmPObj obj;
  AsmId id;
  char *name;
  guint64 bandwidth;      /* MB/s */
  guint64 bandwidth_used; /* sum of its partitions' demands */
  guint32 latency_ns;
  guint32 table_capacity;
  guint32 table_used;     /* entries: partitions placed here + redirects */
  guint32 n_ports;
  gboolean pinned;
  gboolean draining;      /* asm_fabric_drain_switch(): placement skips it */
  GArray *windows;        /* AsmRange, sorted; also the spans of `space` */
  AsmArena *space;        /* quantum = granule; partitions and redirect
                             bases are its allocations */
  AsmId *ports;           /* n_ports device ids, 0 = free */
  guint n_partitions;
} FSwitch;

typedef struct {
  AsmPObj obj;
  AsmId id;
  char *name;
  AsmDeviceKind kind;
  AsmId sw;               /* switch (for a VF: its PF's) */
  guint32 port;           /* port (for a VF: its PF's) */
  guint64 bar_size;
  AsmId pf;               /* VF: its PF */
  guint32 vf_index;       /* VF: its index */
  guint32 max_vfs;        /* PF */
  guint64 vf_bar_size;    /* PF */
  guint64 vf_used;        /* PF: bitmap of VF indexes in use (max 64) */
  AsmId partition;        /* mapped into, 0 = none */
  guint64 partition_offset;
  AsmId redirect_sw;      /* VF transferred: the switch whose table routes
                             its BAR, 0 = none */
  guint64 redirect_base;  /* physical base of its BAR there */
} FDevice;

typedef struct {
  AsmPObj obj;
  AsmId id;
  char *name;
  AsmArena *virt;         /* its virtual space; partitions are allocations */
  GArray *partitions;     /* AsmId, sorted by virtual address */
  /* the profiler: Holt's double exponential smoothing of usage */
  guint64 n_samples;
  gdouble level;          /* bytes */
  gdouble trend;          /* bytes per time unit */
  gdouble last_time;
} FWorkload;

typedef struct {
  AsmPObj obj;
  AsmId id;
  AsmId workload;
  AsmId sw;
  guint64 virt_first;
  guint64 phys_first;
  guint64 size;
  guint64 align;
  guint64 bandwidth_demand;
  guint64 min_bandwidth;
  guint32 max_latency_ns;
  guint32 generation;
  guint64 dev_next;       /* first offset not yet given to a device */
  GArray *devices;        /* AsmId, in mapping order */
  gint held;              /* atomic: holds of a transaction in flight on
                             this copy (see hold_mark); not saved */
} FPartition;

/* The switch name index: switches whose names hash alike share a bucket
 * (F8).  Buckets are keyed by FNAME_BITS bits of the name's hash
 * (asm_fmodel_name_key), so the index is a persistent map of bounded
 * height, like the object maps. */
#define FNAME_BITS 15

typedef struct {
  AsmPObj obj;
  GArray *ids;            /* AsmId of the switches, in id order */
} FNameBucket;

typedef struct {
  gint ref;
  guint64 granule;
  guint64 window_granule;
  AsmId next_id;
  AsmArena *global;       /* windows are allocations, holes reservations */
  AsmRange global_span;
  AsmPMap *switches, *devices, *workloads, *partitions;
  AsmPMap *switch_names;  /* FNameBucket, see FNAME_BITS */
} FModel;

FModel *asm_fmodel_new (guint64 first, guint64 last, guint64 granule);
FModel *asm_fmodel_clone (FModel *m);
FModel *asm_fmodel_ref (FModel *m);
void asm_fmodel_unref (FModel *m);

FSwitch *asm_fswitch_new (void);
FDevice *asm_fdevice_new (void);
FWorkload *asm_fworkload_new (guint64 granule);
FPartition *asm_fpartition_new (void);
/* frees an object nobody else holds (one that never entered a map) */
void asm_fswitch_free (AsmPObj *o);
void asm_fdevice_free (AsmPObj *o);
void asm_fworkload_free (AsmPObj *o);
void asm_fpartition_free (AsmPObj *o);

/* the AsmXlatEntry of partition p (key = p->id) */
void asm_fpartition_entry (const FPartition *p, AsmXlatEntry *out);
/* the AsmXlatEntry of a redirected device */
void asm_fdevice_entry (const FModel *m, const FDevice *d, AsmXlatEntry *out);
/* the end of the part of p its mapped devices' BARs take (F4): the
 * highest partition_offset + bar_size, 0 when none is mapped */
guint64 asm_fpartition_devices_end (const FModel *m, const FPartition *p);

/* the object with that id, or NULL with ASM_ERROR_NOT_FOUND naming it */
FSwitch *asm_fmodel_get_switch (FModel *m, AsmId id, GError **error);
FDevice *asm_fmodel_get_device (FModel *m, AsmId id, GError **error);
FWorkload *asm_fmodel_get_workload (FModel *m, AsmId id, GError **error);
FPartition *asm_fmodel_get_partition (FModel *m, AsmId id, GError **error);

static inline gboolean
asm_is_pow2 (guint64 v)
{
  return v != 0 && (v & (v - 1)) == 0;
}

/* v rounded up to a multiple of the power of two `to` (wraps past
 * G_MAXUINT64: callers compare the result with v) */
static inline guint64
asm_round_up (guint64 v, guint64 to)
{
  return (v + to - 1) & ~(to - 1);
}

/* the bucket of the name index that holds a name */
guint32 asm_fmodel_name_key (const char *name);
/* switches by name (F8): O(1) */
/* Names of fabrics, switches, devices and workloads: 1 to
 * ASM_FMODEL_NAME_MAX bytes of UTF-8 without control characters, so that
 * every message, journal record and save can carry them as they are.  A
 * VF's name is its PF's plus "-vfN", up to ASM_FMODEL_NAME_MAX + 16. */
#define ASM_FMODEL_NAME_MAX 255
gboolean asm_fmodel_check_name (const char *what, const char *name,
                                gsize max, GError **error);
FSwitch *asm_fmodel_find_switch (const FModel *m, const char *name);
/* inserts the new switch s (with its id and name set) into the switches
 * and the name index */
void asm_fmodel_insert_switch (FModel *m, FSwitch *s);
/* removes switch id from the switches and the name index */
void asm_fmodel_remove_switch (FModel *m, AsmId id);

/* Verifies every invariant F1-F9; the error names the invariant broken. */
gboolean asm_fmodel_check (FModel *m, GError **error);
/* Allocates exactly [first, first + size - 1] in a; FALSE (and no change)
 * when any of it is not free. */
gboolean asm_fmodel_alloc_exact (AsmArena *a, guint64 first, guint64 size);
/* the bytes a redirected BAR takes in its switch's space: whole granules */
guint64 asm_fmodel_redirect_bytes (const FModel *m, const FDevice *d);

#define FSW(m, id) ((FSwitch *) asm_pmap_get ((m)->switches, (id)))
#define FDEV(m, id) ((FDevice *) asm_pmap_get ((m)->devices, (id)))
#define FWL(m, id) ((FWorkload *) asm_pmap_get ((m)->workloads, (id)))
#define FPART(m, id) ((FPartition *) asm_pmap_get ((m)->partitions, (id)))
#define FSW_W(m, id) ((FSwitch *) asm_pmap_get_writable ((m)->switches, (id)))
#define FDEV_W(m, id) ((FDevice *) asm_pmap_get_writable ((m)->devices, (id)))
#define FWL_W(m, id) ((FWorkload *) asm_pmap_get_writable ((m)->workloads, (id)))
#define FPART_W(m, id)                                                        \
  ((FPartition *) asm_pmap_get_writable ((m)->partitions, (id)))

G_END_DECLS
