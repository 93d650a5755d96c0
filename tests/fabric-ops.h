/* fabric-ops.h: fabric operations decoded from a source of choices
 *
 * Shared by the property test (tests/test-fabric-prop.c) and the fuzz target
 * (tests/fuzz/fuzz-fabric-ops.c).  See fabric-ops.c for the theory and the
 * table of operations.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "asm-test.h"

G_BEGIN_DECLS

typedef struct _FabricOps FabricOps;

typedef struct {
  /* the fabric's global space: where windows and reservations are tried */
  guint64 global_first;
  guint64 global_last;
  /* an operation that would add one more object of a kind than this is
   * not chosen (indexed by AsmFabricObjects) */
  guint max_objects[4];
  /* the backend is a sim: operations that inject faults into it */
  gboolean faults;
  /* ... crashes too (the harness must then recover the fabric) */
  gboolean crashes;
  /* a fabric that replaces the current one (save/restore round trip) is
   * given this journal; NULL: none */
  const char *journal;
} FabricOpsConfig;

/* What a successful operation did, for a harness that keeps a shadow
 * model.  The fields of FabricOpResult it names are set. */
typedef enum {
  FABRIC_EFFECT_NONE,          /* nothing a shadow follows */
  FABRIC_EFFECT_NOTHING,       /* nothing at all: asm_fabric_save() is as
                                  it was (queries, fault injection, round
                                  trips) */
  FABRIC_EFFECT_CREATED,       /* a switch, device, VF or workload: created */
  FABRIC_EFFECT_PARTITION_NEW, /* partition created, of workload, at virt,
                                  of size bytes */
  FABRIC_EFFECT_DEVICE_MAPPED, /* device mapped into partition at offset */
  FABRIC_EFFECT_PARTITION_SIZE, /* partition is now size bytes */
  FABRIC_EFFECT_PARTITION_GONE, /* partition released, its devices unmapped */
  FABRIC_EFFECT_VF_REPLACED,   /* the VF device is gone; created took its
                                  place and its mapping */
  FABRIC_EFFECT_SIZES,         /* any partition may have a new size (none
                                  is released) */
  FABRIC_EFFECT_DEVICE_UNMAPPED, /* device is mapped nowhere now */
  FABRIC_EFFECT_DEVICE_GONE,   /* device (unmapped) no longer exists */
  FABRIC_EFFECT_WORKLOAD_GONE, /* workload and all its partitions released,
                                  their devices unmapped */
} FabricEffect;

typedef enum {
  FABRIC_OP_OK,      /* the call succeeded */
  FABRIC_OP_REFUSED, /* it failed with an ASM_ERROR, nothing else wrong */
  FABRIC_OP_WRONG,   /* it broke its documented contract: result->wrong */
} FabricOpOutcome;

typedef struct {
  guint op;             /* the row of the operation table */
  GString *call;        /* the call and its arguments, C-like */
  FabricEffect effect;  /* what a success did */
  gboolean fault_pending; /* an injected fault could fire during the call */
  AsmId created;        /* what a success created, or ASM_ID_NONE */
  AsmId workload;
  AsmId partition;
  AsmId device;
  guint64 virt;
  guint64 size;
  guint64 offset;
  GString *wrong;       /* FABRIC_OP_WRONG: what was wrong */
} FabricOpResult;

/* @fabric: the fabric to change; a reference is taken.  Its backend, when
 * it is a sim, is the one faults are injected into. */
FabricOps *fabric_ops_new (AsmFabric *fabric, const FabricOpsConfig *cfg);
void fabric_ops_free (FabricOps *ops);

/* The fabric now changed: a round trip may replace it. */
AsmFabric *fabric_ops_get_fabric (FabricOps *ops);
/* Replaces the fabric (after a harness recovered it, say); takes a
 * reference. */
void fabric_ops_set_fabric (FabricOps *ops, AsmFabric *fabric);

/* Chooses one operation and its arguments from @src, runs it and checks its
 * own contract (the error, the values it returns).  @result is overwritten
 * (it is initialised with fabric_op_result_init()); @error receives the
 * ASM_ERROR of a refused call. */
FabricOpOutcome fabric_ops_step (FabricOps *ops, ChoiceSource *src,
                                 FabricOpResult *result, GError **error);

void fabric_op_result_init (FabricOpResult *result);
void fabric_op_result_clear (FabricOpResult *result);

/* A crash was injected since the last fabric_ops_clear_faults(): the
 * fabric may be broken (an undo may fail, and warn). */
gboolean fabric_ops_crash_injected (FabricOps *ops);
/* Clears every fault of the sim and forgets them (a harness recovering
 * from a crash). */
void fabric_ops_clear_faults (FabricOps *ops);

/* The operations of the table: how many, and their names. */
guint fabric_ops_n_ops (void);
const char *fabric_ops_name (guint op);

G_END_DECLS
