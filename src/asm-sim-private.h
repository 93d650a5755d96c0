/* asm-sim-private.h: the simulated backend's internals
 *
 * Not installed.  Reached through the static internal library only, so
 * nothing here is exported from libasm-1.so.
 *
 * The first part is for tests; the rest is what the sim's modules
 * (asm-sim.c, asm-sim-persist.c, asm-sim-verify.c) share: the structures
 * of the registers, whose meaning is in the theory comment of asm-sim.c,
 * and the helpers more than one module calls.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <asm/asm-sim.h>

G_BEGIN_DECLS

/* The ops table of every sim backend (the `self` to pass to its members is
 * asm_backend_get_self() of a backend from asm_sim_backend_new()). */
const AsmBackendOps *asm_sim_get_ops (void);

/* Checks every invariant of the simulated hardware state (the list is in
 * the theory comment of asm-sim-verify.c); reports the first broken one. */
gboolean asm_sim_check (AsmBackend *backend, GError **error);

/* With @pending TRUE, device_bind and device_unbind that change something
 * return ASM_BACKEND_PENDING, and the change takes effect at device_wait.
 * Off by default. */
void asm_sim_set_pending_binds (AsmBackend *backend, gboolean pending);

/* ------------------------------------------------------------------ */
/* shared by the sim's modules                                          */

#define SIM_MAGIC 0x5353494du /* "MISS": a live sim state */
#define SIM_DEAD 0xdeadd1e5u  /* written by destroy */

typedef enum {
  PENDING_NONE,
  PENDING_BIND,
  PENDING_UNBIND,
} SimPending;

typedef struct {
  AsmId device;       /* never ASM_ID_NONE */
  char *name;         /* as given to device_bind; "" when none was */
  AsmId sw;           /* the switch it is bound to */
  guint32 port;       /* the port, < that switch's n_ports */
  SimPending pending; /* a bind or unbind that waits for device_wait */
} SimBinding;

typedef struct {
  AsmId id;
  char *name;
  guint32 n_ports;
  guint32 table_capacity;
  GArray *windows;  /* AsmRange, sorted by first, disjoint (S2) */
  GArray *table;    /* AsmXlatEntry, sorted by key (S3) */
  GArray *staging;  /* SimXlatChange, in call order; NULL: no update open */
  AsmId *ports;     /* n_ports device ids, ASM_ID_NONE = free (S4) */
  guint64 n_flushes;
} SimSwitch;

typedef struct {
  AsmId pf;
  guint32 index;
  AsmId vf;
} SimVf;

/* One register of the root complex: the window first..last (inclusive) of
 * the global space is routed to switch sw. */
typedef struct {
  guint64 first;
  guint64 last; /* >= first */
  AsmId sw;     /* a switch that exists (S7) */
} SimRoute;

/* The usage counter of one partition: how many times usage_read has
 * answered for it. */
typedef struct {
  AsmId partition; /* never ASM_ID_NONE */
  guint64 reads;   /* successful reads so far */
} SimUsage;

typedef struct {
  guint32 magic;      /* SIM_MAGIC while alive */
  GRecMutex lock;     /* held by every call; recursive, so the write-through
                       * wrappers hold it across the call they wrap */

  GPtrArray *switches;  /* SimSwitch *, sorted by id (S1) */
  GHashTable *bindings; /* device id -> SimBinding * (owned) */
  GArray *vfs;          /* SimVf, sorted by (pf, index) (S5) */
  GArray *held;         /* AsmId, sorted (S6) */
  GArray *routes;       /* SimRoute, sorted by first, disjoint (S7) */
  GArray *usage;        /* SimUsage, sorted by partition (S8) */
  gboolean pending_binds;

  /* fault injection; call numbers start at 1 */
  guint64 n_calls;      /* calls counted so far */
  guint64 fail_at;      /* the call that fails once; 0: none */
  guint32 fail_kinds;   /* bit k set: calls of AsmSimOp k fail */
  gboolean crash_armed;
  guint64 crash_at;     /* with crash_armed: calls after this one fail */
  gboolean in_undo;     /* between undo_begin and transaction_end */

  /* persistence (asm_sim_backend_new_persistent()); all NULL in memory */
  char *path;           /* the state file */
  char *tmp_path;       /* path + ".tmp": written, synced, renamed */
  char *saved;          /* the bytes the state file holds now */
  gsize saved_len;
} Sim;

/* one change of an open table update */
typedef struct {
  AsmXlatEntry entry; /* set: the entry; remove: entry.key */
  gboolean remove;
} SimXlatChange;

/* the key of an element of a sorted GArray, for asm_sim_sorted_find() */
typedef guint64 (*AsmSimKeyFunc) (gconstpointer element);

#define SIM_LOCK(sim) \
  g_autoptr (GRecMutexLocker) G_PASTE (locker_, __LINE__) = \
      g_rec_mutex_locker_new (&(sim)->lock)

/* asm-sim.c: the state */

/* A new empty Sim (no switches, no faults, in memory); free with
 * asm_sim_destroy(), which is also the ops table's destroy. */
Sim *asm_sim_new (void);
void asm_sim_destroy (gpointer self);

/* The Sim of a sim backend, or NULL when @backend is not one. */
Sim *asm_sim_from_backend (AsmBackend *backend);

/* Binary search in the switches, sorted by id; *out_pos (may be NULL) is
 * where @id is or would be inserted. */
SimSwitch *asm_sim_find_switch (Sim *sim, AsmId id, guint *out_pos);

/* Binary search in a GArray sorted by key_of(); *out_pos is where @key is
 * or would be inserted. */
gboolean asm_sim_sorted_find (GArray *array, guint64 key,
                              AsmSimKeyFunc key_of, guint *out_pos);

/* key functions: an AsmId element; a SimVf's (pf, index) */
guint64 asm_sim_id_key (gconstpointer e);
guint64 asm_sim_vf_key (gconstpointer e);

/* The staged table of @s (the table with its open update applied): a new
 * array, for the dump and the checks. */
GArray *asm_sim_staged_table (const SimSwitch *s);

/* the position of VF @vf in sim->vfs, or -1 */
gint asm_sim_find_vf_id (Sim *sim, AsmId vf);

/* the binding of @device, or NULL */
SimBinding *asm_sim_find_binding (Sim *sim, AsmId device);

/* orders AsmRange by first address, then last */
gint asm_sim_range_cmp (gconstpointer a, gconstpointer b);

/* Sets "CTX: MESSAGE" as an ASM_ERROR_BACKEND error. */
void asm_sim_fail (GError **error, const char *ctx, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

/* asm-sim-persist.c: the state file */

/* Writes the registers through to the state file after a call @ctx that
 * succeeded, with the lock held; nothing to do in memory or when they did
 * not change.  When the file cannot be written the registers go back to
 * what it holds (the state before the call) and the call fails. */
gboolean asm_sim_write_through (Sim *sim, const char *ctx, GError **error);

/* asm-sim-verify.c: the invariants */

/* S1-S8 on @sim, whose lock the caller holds (or which no one else sees
 * yet, as a state being loaded from a file). */
gboolean asm_sim_check_state (Sim *sim, GError **error);

G_END_DECLS
