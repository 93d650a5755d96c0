/* asmd-etcd.h: asmd's state in etcd (the etcd v3 JSON gateway)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <asm/asm.h>
#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _AsmdEtcd AsmdEtcd;

/* A client of the cluster at @endpoints ("http://h:p,http://h:p"), for
 * the fabric @name (its keys are under /asm/NAME/), as member @member_id
 * with a lease of @ttl seconds.  No request is made yet. */
AsmdEtcd *asmd_etcd_new (const char *endpoints, const char *name,
                         const char *member_id, guint ttl, GError **error);
void asmd_etcd_free (AsmdEtcd *e);

/* Grants the lease and tries once to become the leader: TRUE with
 * *out_leader set when this member leads now, TRUE with *out_leader FALSE
 * and *out_holder (transfer full) naming the leader when another member
 * does, FALSE when the cluster cannot be reached. */
gboolean asmd_etcd_campaign (AsmdEtcd *e, gboolean *out_leader,
                             char **out_holder, GError **error);
/* Renews the lease: FALSE when it has expired (the leader must step
 * down) or the cluster has not answered for a whole lease. */
gboolean asmd_etcd_keepalive (AsmdEtcd *e, GError **error);
/* Forgets the lease (expired or fenced) without a request: the next
 * campaign grants a new one. */
void asmd_etcd_forget_lease (AsmdEtcd *e);
/* Gives the lease back (a clean stop): another member may lead at once. */
void asmd_etcd_resign (AsmdEtcd *e);

/* The snapshot, or NULL (and no error) when the fabric has none yet. */
gboolean asmd_etcd_get_snapshot (AsmdEtcd *e, char **out_text,
                                 GError **error);

/* The store revision the last read or write of this member saw. */
gint64 asmd_etcd_get_revision (AsmdEtcd *e);

/* The fabric's snapshot (NULL when there is none yet), its journal bytes
 * and its leader (NULL: none), as of one revision. */
gboolean asmd_etcd_read_state (AsmdEtcd *e, char **out_snapshot,
                               GBytes **out_journal, char **out_leader,
                               gint64 *out_revision, GError **error);

/* Calls @func on the main context whenever a key of the fabric changes
 * (and once when the watch starts); one watch at a time. */
typedef void (*AsmdEtcdChanged) (gpointer data);
void asmd_etcd_watch (AsmdEtcd *e, AsmdEtcdChanged func, gpointer data);
void asmd_etcd_unwatch (AsmdEtcd *e);

/* A model-only fabric from a snapshot and journal bytes (a follower's
 * view): the committed operations replayed, one in flight left out. */
AsmFabric *asmd_etcd_replay (const char *snapshot, GBytes *journal,
                             GError **error);

/* The journal store over etcd; store data is @e (not owned). */
extern const AsmJournalStore asmd_etcd_store;

G_END_DECLS
