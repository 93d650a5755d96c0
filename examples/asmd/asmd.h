/* asmd.h: what the parts of asmd share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "asmctl-dbus.h"

#include <asm/asm.h>
#include <gio/gio.h>

#include "asmd-etcd.h"

G_BEGIN_DECLS

/* The daemon: one fabric, its state directory, one bus connection. */
typedef struct {
  AsmFabric *fabric;
  AsmBackend *backend;
  const char *backend_name;    /* "sim", "qemu" or "none" */
  char *state_dir;
  char *snapshot_path;         /* state_dir/snapshot */
  char *journal_path;          /* state_dir/journal */
  GDBusConnection *bus;
  guint registration_id;
  gboolean testing;            /* serve org.asm.Fabric1.Testing */
  guint testing_registration_id;
  gboolean authorize;          /* refuse writers outside writer_group */
  char *writer_group;          /* NULL: root only */
  GHashTable *sender_rights;   /* unique bus name -> GINT_TO_POINTER
                                  (1 allowed, 2 refused) */
  guint64 n_operations;        /* committed since start */
  guint64 checkpoint_every;    /* operations between checkpoints */
  guint64 since_checkpoint;
  GMainLoop *loop;
  int exit_status;
  AsmdEtcd *etcd;              /* --etcd: the store of record, or NULL */
  char *member_id;             /* --etcd: this member's id */
  gboolean leading;            /* --etcd: this member leads (else follows) */
  char *leader_id;             /* --etcd: who leads, as last seen */
  gint64 revision;             /* --etcd: the etcd revision the model
                                  reflects (a follower's last rebuild) */
  guint rebuild_id;            /* --etcd: a follower's pending rebuild */
  char *leader_name;           /* --etcd: the bus name the leader owns */
  const char *fabric_file;     /* --etcd: for the first leader */
  const char *sim_file;        /* --etcd: the shared registers */
} Asmd;

/* asmd-service.c */
gboolean asmd_service_register (Asmd *d, GError **error);
void asmd_service_unregister (Asmd *d);
void asmd_emit_event (Asmd *d, const AsmFabricEvent *event);
gboolean asmd_checkpoint (Asmd *d, GError **error);
/* The journal's store was taken over by another member (FENCED): stop
 * serving at once; the daemon exits with status 1. */
void asmd_step_down (Asmd *d, const GError *why);

G_END_DECLS
