/* asm-ftxn-private.h: the fabric object and its transactions
 *
 * Not installed.  See the theory comments in asm-fabric.c (how the
 * modules fit) and asm-ftxn.c (steps, apply, undo, journal).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdio.h>

#include "asm-backend-private.h"
#include "asm-fjournal-private.h"
#include "asm-fmodel-private.h"
#include "asm-fop-private.h"

G_BEGIN_DECLS

/* The hardware steps a transaction is made of, each with its inverse
 * (asm_ftxn_undo_step). */
typedef enum {
  ST_SWITCH_ADD,
  ST_WINDOWS,
  ST_XLAT_SET,
  ST_XLAT_REMOVE,
  ST_BIND,
  ST_UNBIND,
  ST_HOLD,
  ST_RELEASE,
  ST_VF_CREATE,
  ST_VF_DESTROY,
  ST_FLUSH,
  ST_ROOT,
  ST_SWITCH_REMOVE,
} StepKind;
#define ST_N_KINDS (ST_SWITCH_REMOVE + 1)

/* indexed by StepKind; the "kind" of a journal step record */
extern const char *const asm_step_names[ST_N_KINDS];

typedef struct {
  StepKind kind;
  AsmId sw;
  AsmId device;
  AsmId pf;
  AsmId partition;  /* HOLD: the partition marked held */
  guint32 port;
  guint32 vf_index;
  guint32 n_ports;
  guint32 capacity;
  char *name;       /* switch or device name */
  AsmXlatEntry entry;
  AsmXlatEntry old_entry;
  gboolean has_old;
  GArray *windows;     /* WINDOWS, ROOT: new (read from a journal: the
                          windows added) */
  GArray *old_windows; /* WINDOWS, ROOT: previous (from a journal: the
                          windows removed) */
  gboolean delta;      /* read from a journal: windows/old_windows hold the
                          change until recovery rebuilds the lists */
  AsmRange range;      /* FLUSH */
} Step;

/* a driver to tell, after the publish, where a device's BAR now is */
typedef struct {
  AsmId device;
  AsmId sw;
  guint64 physical;
  AsmId old_device;  /* a VF transfer: the VF device replaced */
} MovedNote;

struct _Txn {
  FOpKind op;
  const void *args;     /* the operation's FOp... struct */
  char *desc;
  GArray *steps;        /* Step */
  GArray *events;       /* AsmFabricEvent; messages in `strings` */
  GPtrArray *strings;
  GArray *moved;        /* MovedNote */
  GArray *resumed;      /* AsmId devices to resume after publishing */
  AsmId out_id;         /* the object an operation created */
  guint64 out_u64;
};

typedef struct {
  guint id;
  AsmFabricEventFunc func;
  gpointer user_data;
} Observer;

struct _AsmFabric {
  gint ref;
  char *name;
  AsmBackend *backend;       /* NULL: model only */
  const AsmBackendOps *ops;  /* NULL: model only */
  gpointer self;

  GMutex write_lock;         /* serialises changes */
  GMutex current_lock;       /* guards the pointer `current` only */
  gsize generation;          /* atomic; bumped with every publish */
  guint64 serial;            /* unique among fabrics of this process */
  FModel *current;           /* the published model */
  gboolean broken;           /* an undo failed: asm_fabric_recover() */
  gboolean fenced;           /* the journal store was taken over: the
                                fabric changes nothing any more */

  AsmDriverFuncs drivers;
  gpointer drivers_data;

  GMutex obs_lock;
  GArray *observers;
  guint next_observer;

  FJournal *journal;         /* NULL: none */
  guint64 journal_seq;       /* last sequence number written */
  guint64 journal_closed;    /* last "commit" or "undone": a save taken
                                while a transaction is unfinished (the
                                fabric broken) records this, so recovery
                                still sees that transaction */
};

/* a fabric over model m (taken over) and backend (a new reference) */
AsmFabric *asm_fabric_alloc (const char *name, FModel *m,
                             AsmBackend *backend);
/* the published model, with a reference */
FModel *asm_fabric_model_get (AsmFabric *f);
gboolean asm_fabric_has_cap (AsmFabric *f, guint32 cap);

void asm_txn_init (Txn *t, FOpKind op, const void *args);
void asm_txn_clear (Txn *t);
Step *asm_txn_step (Txn *t, StepKind kind);
G_GNUC_PRINTF (3, 4)
void asm_txn_event (Txn *t, const AsmFabricEvent *proto, const char *fmt,
                    ...);
void asm_step_clear (Step *s);

/* Plans operation op on a clone of the published model, applies its steps
 * through the backend (undoing them all on a failure), publishes. */
gboolean asm_ftxn_run (AsmFabric *f, FOpKind op, const void *args,
                       AsmId *out_id, guint64 *out_u64, GError **error);
/* makes next the published model (the transaction's holds end) */
void asm_ftxn_publish (AsmFabric *f, FModel *next, Txn *t);
/* the inverse of a step; idempotent, so recovery may call it for steps
 * that never ran */
gboolean asm_ftxn_undo_step (AsmFabric *f, const Step *s, GError **error);
/* frames a journal record {seq, type, data} (payload taken) into out,
 * using the next sequence number */
void asm_ftxn_journal_record (AsmFabric *f, GString *out, const char *type,
                              JsonNode *payload);
/* appends one record to the journal, if there is one, and syncs it */
gboolean asm_ftxn_journal_write (AsmFabric *f, const char *type,
                                 JsonNode *payload, GError **error);
JsonNode *asm_step_to_json (const Step *s);
gboolean asm_step_from_json (JsonObject *o, Step *s);

/* asm_fop_run_NAME (fabric, &args, out_id, out_u64, error): runs one
 * operation with its typed arguments (the compiler checks the struct) */
#define FOP_DECLARE_RUNNER(name, Name, fields)                                \
  static inline gboolean asm_fop_run_##name (                                 \
      AsmFabric *f, const FOp##Name *a, AsmId *out_id, guint64 *out_u64,     \
      GError **error)                                                         \
  {                                                                           \
    return asm_ftxn_run (f, FOP_##name, a, out_id, out_u64, error);           \
  }
ASM_FABRIC_OPS (FOP_DECLARE_RUNNER, FOP_NO_FIELD)

G_END_DECLS
