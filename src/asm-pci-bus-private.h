/* asm-pci-bus-private.h: the PCI bus set's types, shared by its files
 *
 * The types of the bus set (its buses, the class room index, the idle
 * index, the set itself), the small accessors every part of it uses, and
 * the functions one file of the set calls in another.  asm-pci-bus.c holds
 * the theory of the set and its controllers, asm-pci-bus-state.c the
 * bookkeeping, asm-pci-bus-reserve.c the addresses, asm-pci-bus-check.c
 * the invariant check.  Not installed, not exported.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <asm/asm-pci.h>

#include "asm-bug-private.h"

G_BEGIN_DECLS

#define N_DIMS 4

/* ------------------------------------------------------------------ */
/* Models, through asm-pci-addr.c                                       */

static inline gboolean
model_valid (AsmPciControllerModel model)
{
  return asm_pci_controller_model_to_string (model) != NULL;
}

/* libvirt's name of @model, which is valid. */
static inline const char *
model_name (AsmPciControllerModel model)
{
  return asm_pci_controller_model_to_string (model);
}

/* ------------------------------------------------------------------ */
/* State                                                                */

typedef struct {
  guint64 key;                 /* domain << 32 | bus, the by_bus key */
  guint32 index;               /* controller index */
  AsmPciControllerModel model;
  gboolean is_root;
  gboolean floating;           /* non-root, provides its bus, plugged in
                                  nowhere (plugged_at zero, no held
                                  tuple); only through
                                  asm_pci_bus_set_add_floating_controller() */
  guint32 domain;              /* 0..0xffff */
  guint32 bus;                 /* 0 for a root, else index */
  AsmPciAddr plugged_at;       /* non-root: a reserved tuple of the parent */
  AsmPciConnectFlags accepts;  /* the model's bus flags, hotplug on/off */
  guint8 min_slot, max_slot;   /* inclusive */
  guint32 group;               /* isolation group */
  gboolean locked;             /* the group only changes when told to */
  guint n_domain_buses;        /* roots: buses in the domain, <= 256 */
  guint cls;                   /* index of its Class in State.classes */
  guint eidx;                  /* index of its Empties in State.empties */
  AsmAddrSpace *space;         /* the bus's tuples, one pool: the truth */
  guint n_used;                /* reserved functions, popcount of funcs */
  guint n_empty;               /* wholly free slots */
  guint n_agg_free;            /* free functions of aggregate slots */
  guint32 agg_mask;            /* bit s: slot s is an aggregate slot */
  guint8 funcs[ASM_PCI_SLOT_LAST + 1]; /* bit f of [s]: s.f reserved (a
                                          copy of space, for O(1) slot
                                          questions) */
  guint8 held[ASM_PCI_SLOT_LAST + 1];  /* bit f of [s]: a controller is
                                          plugged at s.f (within funcs) */
} Bus;

/* The two kinds of room a bus can have for reserve_next. */
enum {
  ROOM_EMPTY, /* a wholly free slot (n_empty > 0) */
  ROOM_AGG,   /* a free function in an aggregate slot (n_agg_free > 0) */
  N_ROOMS
};

/* Where the member buses of one class in one domain have room. */
typedef struct {
  AsmAddrSpace *room[N_ROOMS]; /* {bus}: free iff a member bus with room */
  guint n[N_ROOMS];            /* free entries */
} DomainRoom;

/* A class: the buses of one (accepted flags, isolation group). */
typedef struct {
  AsmPciConnectFlags accepts;
  guint32 group;
  AsmAddrSpace *room[N_ROOMS]; /* {domain}: free iff its DomainRoom.n > 0 */
  guint n[N_ROOMS];            /* free entries */
  GHashTable *domains;         /* GUINT_TO_POINTER (domain) -> DomainRoom */
} Class;

/* The buses of one accepted-flags value that are empty and unlocked. */
typedef struct {
  AsmPciConnectFlags accepts;
  AsmAddrSpace *idle;  /* {domain, bus}: free iff empty and unlocked */
  guint64 n_idle;      /* free entries */
} Empties;

typedef struct {
  GHashTable *by_index;  /* GUINT_TO_POINTER (index) -> Bus, owns */
  GHashTable *by_bus;    /* &Bus.key -> Bus */
  guint64 n_reserved;    /* functions in use, all buses */
  GPtrArray *classes;    /* Class */
  GPtrArray *empties;    /* Empties */
  GHashTable *groups;    /* GUINT_TO_POINTER (group) -> GArray of guint */
} State;

struct _AsmPciBusSet {
  gint ref;
  State *st;
  AsmPciGrowFunc grow;
  gpointer grow_data;
  GDestroyNotify grow_destroy;
  gboolean growing;  /* inside the grow callback: do not call it again */
};

/* Where the search looks: domains and buses, inclusive. */
typedef struct {
  guint32 domain_first, domain_last;
  guint32 bus_first, bus_last;
} Scope;

/* Operations that cannot fail on a consistent state. */
G_GNUC_NORETURN static inline void
broken (AsmAddrSpace *s, GError *err)
{
  ASM_BUG ("%s: PCI bus set bookkeeping broken: %s",
           asm_addr_space_get_name (s), err ? err->message : "(no error)");
}

static inline void
tuple (guint64 *t, const Bus *b, guint slot, guint function)
{
  t[0] = b->domain;
  t[1] = b->bus;
  t[2] = slot;
  t[3] = function;
}

static inline void
bus_box (AsmRange *box, const Bus *b)
{
  box[0] = ASM_VALUE (b->domain);
  box[1] = ASM_VALUE (b->bus);
  box[2] = ASM_RANGE (b->min_slot, b->max_slot);
  box[3] = ASM_RANGE (0, ASM_PCI_FUNCTION_LAST);
}

static inline guint64
bus_key (guint32 domain, guint32 bus)
{
  return (guint64) domain << 32 | bus;
}

static inline Bus *
lookup_bus (State *st, guint32 domain, guint32 bus)
{
  guint64 key = bus_key (domain, bus);
  return g_hash_table_lookup (st->by_bus, &key);
}

static inline Bus *
lookup_index (State *st, guint32 index)
{
  return g_hash_table_lookup (st->by_index, GUINT_TO_POINTER (index));
}

static inline Class *
class_at (State *st, guint i)
{
  return g_ptr_array_index (st->classes, i);
}

static inline Empties *
empties_at (State *st, guint i)
{
  return g_ptr_array_index (st->empties, i);
}

static inline gboolean
bus_is_idle (const Bus *b)
{
  return b->n_used == 0 && !b->locked;
}

static inline gboolean
slot_is_aggregate (const Bus *b, guint slot)
{
  return (b->agg_mask >> slot) & 1;
}

static inline gboolean
bus_has_room (const Bus *b, guint r)
{
  return r == ROOM_EMPTY ? b->n_empty > 0 : b->n_agg_free > 0;
}

/* asm-pci-bus-state.c: the bookkeeping */
State *pci_bus_state_alloc (void);
void pci_bus_state_free (State *st);
State *pci_bus_state_copy (State *st);
Bus *pci_bus_add (State *st, guint32 index, AsmPciControllerModel model,
                  guint32 domain, const AsmPciAddr *plugged_at);
void pci_bus_move (State *st, Bus *b, AsmPciConnectFlags accepts,
                   guint32 group);
void pci_bus_set_locked (State *st, Bus *b, gboolean locked);
void pci_bus_take (State *st, Bus *b, guint s, guint f, gboolean aggregating);
void pci_bus_give (State *st, Bus *b, guint s, guint f);
void pci_bus_apply_group (State *st, Bus *b, gboolean was_empty, guint32 group,
                          gboolean from_config);
GPtrArray *pci_bus_sorted (State *st, GCompareFunc compare);

/* asm-pci-bus-reserve.c: validation and search */
char *pci_bus_describe (const Bus *b);
Bus *pci_bus_validate_addr (State *st, const AsmPciAddr *a,
                            AsmPciConnectFlags flags, gboolean from_config,
                            GError **error);
gboolean pci_bus_find_next (State *st, AsmPciConnectFlags flags, guint32 group,
                            const Scope *scope_in, AsmPciAddr *out);
void pci_bus_commit_reserve (State *st, Bus *b, const AsmPciAddr *a,
                             AsmPciConnectFlags flags, guint32 group,
                             gboolean from_config);

G_END_DECLS
