/* asmd: one asm fabric as a D-Bus service
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * asmd serves one fabric as org.asm.Fabric1 (the interface is
 * org.asm.Fabric1.xml, next to this file) on the session bus, the system
 * bus or a bus at a given address.  Its state lives in a directory:
 *
 *   DIR/snapshot   the fabric as of the last checkpoint (asm_fabric_save)
 *   DIR/journal    every operation committed since, synced before the
 *                  reply (asm_fabric_set_journal)
 *   DIR/sim        the simulator's registers, standing in for the
 *                  switches' hardware (--backend sim, the default)
 *   DIR/backend    the backend the state was made with
 *   DIR/lock       held (flock) while a daemon serves the directory
 *
 * First start: the fabric file (a scenario file without steps, as
 * `asmctl run` reads) builds the fabric, and a checkpoint is written
 * before the name is taken.  Every later start, after a clean stop or a
 * SIGKILL alike, restores the snapshot and recovers with the journal
 * (asm_fabric_recover: committed operations replayed, an interrupted one
 * undone on the hardware), checks the model and, on the simulator, that
 * the hardware equals it, and only then takes the bus name.  So a client
 * that saw a reply finds its operation after any restart.
 *
 * The qemu backend starts a QEMU of the fabric's switches; that machine
 * dies with the daemon, so a state directory made with it is served once:
 * a restart is refused with an error that says so.
 *
 * SIGTERM and SIGINT stop the daemon cleanly: a last checkpoint, the name
 * released, exit status 0.
 */
#include "asmd.h"

#include "asmctl.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define DEFAULT_CHECKPOINT_EVERY 1000
#define DEFAULT_SYSTEM_GROUP "asm"

static void
on_event (AsmFabric *fabric, const AsmFabricEvent *event, gpointer data)
{
  asmd_emit_event (data, event);
}

static char *
state_file (Asmd *d, const char *name)
{
  return g_build_filename (d->state_dir, name, NULL);
}

/* Holds DIR/lock for the daemon's life: a second daemon on the same
 * directory would interleave two journals. */
static gboolean
lock_state_dir (Asmd *d, GError **error)
{
  g_autofree char *path = state_file (d, "lock");
  int fd;

  if (g_mkdir_with_parents (d->state_dir, 0750) != 0)
    {
      int e = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e),
                   "cannot create state directory %s: %s", d->state_dir,
                   g_strerror (e));
      return FALSE;
    }
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0 || flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      int e = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e),
                   "%s: %s", path,
                   e == EWOULDBLOCK ? "another asmd serves this state "
                                      "directory"
                                    : g_strerror (e));
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  /* kept open (and locked) until the process exits */
  return TRUE;
}

/* The backend a state directory was made with is the only one it can be
 * served with: the journal's steps were done on that hardware. */
static gboolean
check_backend_record (Asmd *d, gboolean fresh, GError **error)
{
  g_autofree char *path = state_file (d, "backend");
  g_autofree char *recorded = NULL;

  if (fresh)
    return g_file_set_contents_full (path, d->backend_name, -1,
                                     G_FILE_SET_CONTENTS_CONSISTENT |
                                         G_FILE_SET_CONTENTS_DURABLE,
                                     0640, error);
  if (!g_file_get_contents (path, &recorded, NULL, error))
    return FALSE;
  g_strchomp (recorded);
  if (strcmp (recorded, d->backend_name) != 0)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s was made with the %s backend, not %s", d->state_dir,
                   recorded, d->backend_name);
      return FALSE;
    }
  if (strcmp (recorded, "qemu") == 0)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_UNSUPPORTED,
                   "%s was served with the qemu backend, whose machine died "
                   "with that daemon: its state cannot be restored onto a "
                   "new QEMU; start with an empty state directory",
                   d->state_dir);
      return FALSE;
    }
  return TRUE;
}

/* Builds the fabric from @fabric_file into an empty state directory. */
static gboolean
open_fresh (Asmd *d, const char *fabric_file, GError **error)
{
  g_autofree char *sim_path = state_file (d, "sim");

  if (fabric_file == NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "%s holds no fabric yet: give the fabric file with "
                   "--fabric FILE", d->state_dir);
      return FALSE;
    }
  /* registers left by a first start that died before its checkpoint
   * belong to no committed state */
  if (g_unlink (sim_path) != 0 && errno != ENOENT)
    {
      int e = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e),
                   "%s: %s", sim_path, g_strerror (e));
      return FALSE;
    }
  g_unlink (d->journal_path);
  d->fabric = asmctl_scenario_open (
      fabric_file, d->backend_name,
      strcmp (d->backend_name, "sim") == 0 ? sim_path : NULL, &d->backend,
      error);
  return d->fabric != NULL && check_backend_record (d, TRUE, error) &&
         asm_fabric_set_journal (d->fabric, d->journal_path, error) &&
         asmd_checkpoint (d, error);
}

/* Restores the fabric a state directory holds, after any stop. */
static gboolean
open_existing (Asmd *d, GError **error)
{
  g_autofree char *sim_path = state_file (d, "sim");
  g_autofree char *text = NULL;
  gsize len;

  if (!check_backend_record (d, FALSE, error) ||
      !g_file_get_contents (d->snapshot_path, &text, &len, error))
    return FALSE;
  if (strcmp (d->backend_name, "sim") == 0)
    {
      d->backend = asm_sim_backend_new_persistent (sim_path, error);
      if (d->backend == NULL)
        return FALSE;
    }
  d->fabric = asm_fabric_restore (text, (gssize) len, d->backend, error);
  if (d->fabric == NULL ||
      !asm_fabric_recover (d->fabric, d->journal_path, error) ||
      !asm_fabric_set_journal (d->fabric, d->journal_path, error))
    return FALSE;
  if (!asm_fabric_check (d->fabric, error) ||
      (d->backend != NULL && !asm_sim_verify (d->backend, d->fabric, error)))
    return FALSE;
  /* the recovered state becomes the snapshot: the journal starts afresh */
  return asmd_checkpoint (d, error);
}

static void etcd_follow (Asmd *d);

void
asmd_step_down (Asmd *d, const GError *why)
{
  if (d->etcd != NULL)
    {
      /* a member that lost the lead keeps serving, as a follower */
      if (d->leading)
        {
          g_printerr ("asmd: member %s steps down: %s\n", d->member_id,
                      why->message);
          etcd_follow (d);
        }
      return;
    }
  if (d->exit_status != 0)
    return;
  g_printerr ("asmd: stepping down: %s\n", why->message);
  d->exit_status = 1;
  if (d->loop != NULL)
    g_main_loop_quit (d->loop);
}

/* --etcd: the leader's state, from the snapshot and journal in etcd (or,
 * the first time, from the fabric file), on the shared hardware. */
static gboolean
etcd_open (Asmd *d, const char *fabric_file, const char *sim_file,
           GError **error)
{
  g_autofree char *text = NULL;
  gboolean sim = strcmp (d->backend_name, "sim") == 0;

  if (!asmd_etcd_get_snapshot (d->etcd, &text, error))
    return FALSE;
  if (text == NULL)
    {
      if (fabric_file == NULL)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "etcd holds no fabric of this name yet: give the "
                       "fabric file with --fabric FILE");
          return FALSE;
        }
      /* hardware left by a first start that died before its snapshot
       * belongs to no committed state */
      if (sim && g_unlink (sim_file) != 0 && errno != ENOENT)
        {
          int e = errno;
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e),
                       "%s: %s", sim_file, g_strerror (e));
          return FALSE;
        }
      d->fabric = asmctl_scenario_open (fabric_file, d->backend_name,
                                        sim ? sim_file : NULL, &d->backend,
                                        error);
      return d->fabric != NULL &&
             asm_fabric_set_journal_store (d->fabric, &asmd_etcd_store,
                                           d->etcd, NULL, error) &&
             asmd_checkpoint (d, error);
    }
  if (sim)
    {
      d->backend = asm_sim_backend_new_persistent (sim_file, error);
      if (d->backend == NULL)
        return FALSE;
    }
  d->fabric = asm_fabric_restore (text, -1, d->backend, error);
  return d->fabric != NULL &&
         asm_fabric_recover_store (d->fabric, &asmd_etcd_store, d->etcd,
                                   NULL, error) &&
         asm_fabric_check (d->fabric, error) &&
         (d->backend == NULL ||
          asm_sim_verify (d->backend, d->fabric, error)) &&
         asmd_checkpoint (d, error);
}

#define NAME_ALONE 4    /* DBUS_NAME_FLAG_DO_NOT_QUEUE */
#define NAME_TAKEOVER 3 /* ALLOW_REPLACEMENT | REPLACE_EXISTING: the leader
                           of a term takes the leader name from a deposed
                           one that has not noticed yet */

/* Takes the bus name, or says exactly why not: the bus policy refuses
 * it (org.freedesktop.DBus.Error.AccessDenied, with the bus's reason), or
 * another process owns it.  Done synchronously, after the state is
 * recovered and the object registered, so that the name appears only
 * when every call can be served. */
static gboolean
own_name (Asmd *d, const char *name, guint32 flags, GError **error)
{
  g_autoptr (GVariant) reply = NULL;
  guint32 result;

  reply = g_dbus_connection_call_sync (
      d->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
      "org.freedesktop.DBus", "RequestName",
      g_variant_new ("(su)", name, flags),
      G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
  if (reply == NULL)
    {
      g_prefix_error (error, "cannot own %s: ", name);
      return FALSE;
    }
  g_variant_get (reply, "(u)", &result);
  if (result != 1 /* DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER */)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   "cannot own %s: another process owns it", name);
      return FALSE;
    }
  return TRUE;
}

static void etcd_lead (Asmd *d);

/* --etcd, a follower: the model rebuilt from etcd after every change the
 * watch reports (coalesced: one rebuild for a burst of changes). */
static gboolean
etcd_rebuild (gpointer data)
{
  Asmd *d = data;
  g_autofree char *snapshot = NULL, *leader = NULL;
  g_autoptr (GBytes) journal = NULL;
  g_autoptr (GError) error = NULL;
  gint64 revision = 0;
  AsmFabric *f;

  d->rebuild_id = 0;
  if (d->leading)
    return G_SOURCE_REMOVE;
  if (!asmd_etcd_read_state (d->etcd, &snapshot, &journal, &leader,
                             &revision, &error))
    {
      g_printerr ("asmd: follower: %s\n", error->message);
      return G_SOURCE_REMOVE;
    }
  g_free (d->leader_id);
  d->leader_id = g_steal_pointer (&leader);
  if (d->leader_id == NULL)
    {
      /* the leader's key is gone (its lease expired): campaign now rather
       * than at the next tick */
      gboolean won = FALSE;
      g_clear_error (&error);
      if (asmd_etcd_campaign (d->etcd, &won, NULL, &error) && won)
        {
          etcd_lead (d);
          return G_SOURCE_REMOVE;
        }
      g_clear_error (&error);
    }
  if (snapshot == NULL)
    return G_SOURCE_REMOVE; /* no fabric yet */
  f = asmd_etcd_replay (snapshot, journal, &error);
  if (f == NULL)
    {
      g_printerr ("asmd: follower: the state in etcd does not replay: %s\n",
                  error->message);
      return G_SOURCE_REMOVE;
    }
  g_clear_pointer (&d->fabric, asm_fabric_unref);
  d->fabric = f;
  d->revision = revision;
  return G_SOURCE_REMOVE;
}

static void
on_etcd_changed (gpointer data)
{
  Asmd *d = data;
  if (d->rebuild_id == 0)
    d->rebuild_id = g_idle_add (etcd_rebuild, d);
}

/* Becomes a follower: no hardware, no journal, the leader name released;
 * a model from etcd kept current by the watch. */
static void
etcd_follow (Asmd *d)
{
  if (d->leading && d->leader_name != NULL)
    {
      g_autoptr (GVariant) r = g_dbus_connection_call_sync (
          d->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
          "org.freedesktop.DBus", "ReleaseName",
          g_variant_new ("(s)", d->leader_name), NULL,
          G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
    }
  d->leading = FALSE;
  g_clear_pointer (&d->leader_id, g_free); /* until etcd says who leads */
  asmd_etcd_forget_lease (d->etcd);
  g_clear_pointer (&d->fabric, asm_fabric_unref);
  g_clear_pointer (&d->backend, asm_backend_unref);
  asmd_etcd_watch (d->etcd, on_etcd_changed, d);
}

/* Becomes the leader it just won the lease of: the state from etcd on the
 * shared hardware, the leader name taken. */
static void
etcd_lead (Asmd *d)
{
  g_autoptr (GError) error = NULL;

  asmd_etcd_unwatch (d->etcd);
  if (d->rebuild_id != 0)
    g_source_remove (d->rebuild_id);
  d->rebuild_id = 0;
  g_clear_pointer (&d->fabric, asm_fabric_unref);
  d->leading = TRUE;
  if (!etcd_open (d, d->fabric_file, d->sim_file, &error))
    {
      g_printerr ("asmd: member %s cannot lead: %s\n", d->member_id,
                  error->message);
      g_clear_pointer (&d->fabric, asm_fabric_unref);
      g_clear_pointer (&d->backend, asm_backend_unref);
      asmd_etcd_resign (d->etcd);
      d->leading = FALSE;
      asmd_etcd_watch (d->etcd, on_etcd_changed, d);
      return;
    }
  asm_fabric_add_observer (d->fabric, on_event, d);
  g_free (d->leader_id);
  d->leader_id = g_strdup (d->member_id);
  if (d->leader_name != NULL &&
      !own_name (d, d->leader_name, NAME_TAKEOVER, &error))
    g_printerr ("asmd: member %s leads but %s\n", d->member_id,
                error->message);
  g_printerr ("asmd: member %s leads fabric '%s'\n", d->member_id,
              asm_fabric_get_name (d->fabric));
}

/* Every third of a lease: the leader renews its lease (and steps down
 * when it cannot); a follower campaigns, and leads when it wins. */
static gboolean
on_etcd_tick (gpointer data)
{
  Asmd *d = data;
  g_autoptr (GError) error = NULL;

  if (d->leading)
    {
      if (!asmd_etcd_keepalive (d->etcd, &error))
        asmd_step_down (d, error);
    }
  else
    {
      gboolean won = FALSE;
      if (asmd_etcd_campaign (d->etcd, &won, NULL, &error) && won)
        etcd_lead (d);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_stop_signal (gpointer data)
{
  Asmd *d = data;
  g_main_loop_quit (d->loop);
  return G_SOURCE_CONTINUE;
}

/* The bus took the name away (a replacement with more rights) or the
 * connection closed: the daemon stops, its state safe in DIR. */
static void
on_name_lost (GDBusConnection *bus, const char *sender, const char *path,
              const char *iface, const char *signal, GVariant *params,
              gpointer data)
{
  Asmd *d = data;
  g_printerr ("asmd: lost the bus name; stopping\n");
  d->exit_status = 1;
  g_main_loop_quit (d->loop);
}

static void
on_closed (GDBusConnection *bus, gboolean remote_peer_vanished,
           GError *error, gpointer data)
{
  Asmd *d = data;
  g_printerr ("asmd: the bus connection closed%s%s; stopping\n",
              error ? ": " : "", error ? error->message : "");
  d->exit_status = 1;
  g_main_loop_quit (d->loop);
}

int
main (int argc, char **argv)
{
  gboolean session = FALSE, system_bus = FALSE, show_version = FALSE;
  gboolean testing = FALSE;
  g_autofree char *address = NULL, *state_dir = NULL, *fabric_file = NULL;
  g_autofree char *backend = NULL, *group = NULL, *bus_name = NULL;
  g_autofree char *etcd = NULL, *fabric_name = NULL, *member_id = NULL;
  g_autofree char *sim_file = NULL, *leader_bus_name = NULL;
  gint lease_ttl = 5;
  gint64 checkpoint_every = DEFAULT_CHECKPOINT_EVERY;
  GOptionEntry entries[] = {
    { "session", 0, 0, G_OPTION_ARG_NONE, &session,
      "Serve on the session bus", NULL },
    { "system", 0, 0, G_OPTION_ARG_NONE, &system_bus,
      "Serve on the system bus (writers: root and --group)", NULL },
    { "address", 0, 0, G_OPTION_ARG_STRING, &address,
      "Serve on the message bus at ADDRESS", "ADDRESS" },
    { "state-dir", 'd', 0, G_OPTION_ARG_FILENAME, &state_dir,
      "Keep the fabric's snapshot and journal in DIR (required)", "DIR" },
    { "fabric", 'f', 0, G_OPTION_ARG_FILENAME, &fabric_file,
      "Build the fabric from FILE (a scenario without steps) when DIR holds "
      "none yet", "FILE" },
    { "backend", 'b', 0, G_OPTION_ARG_STRING, &backend,
      "sim (default: a simulator whose registers live in DIR), qemu or none",
      "NAME" },
    { "group", 'g', 0, G_OPTION_ARG_STRING, &group,
      "Only root and members of GROUP may change the fabric (default on the "
      "system bus: " DEFAULT_SYSTEM_GROUP "; elsewhere anyone may, unless "
      "given)", "GROUP" },
    { "bus-name", 0, 0, G_OPTION_ARG_STRING, &bus_name,
      "Own NAME instead of " ASMD_BUS_NAME, "NAME" },
    { "checkpoint-every", 0, 0, G_OPTION_ARG_INT64, &checkpoint_every,
      "Write a snapshot every N committed operations (default 1000)", "N" },
    { "etcd", 0, 0, G_OPTION_ARG_STRING, &etcd,
      "Keep the state in the etcd cluster at URL[,URL...] instead of DIR; "
      "members of one fabric elect a leader", "URLS" },
    { "fabric-name", 0, 0, G_OPTION_ARG_STRING, &fabric_name,
      "With --etcd: the fabric's name (its keys are /asm/NAME/)", "NAME" },
    { "member-id", 0, 0, G_OPTION_ARG_STRING, &member_id,
      "With --etcd: this member's id (default HOSTNAME-PID)", "ID" },
    { "lease-ttl", 0, 0, G_OPTION_ARG_INT, &lease_ttl,
      "With --etcd: the leader's lease in seconds (default 5): a dead "
      "leader is replaced within it", "S" },
    { "leader-bus-name", 0, 0, G_OPTION_ARG_STRING, &leader_bus_name,
      "With --etcd: also own NAME while this member leads (for members on "
      "one bus, each with its own --bus-name)", "NAME" },
    { "sim-file", 0, 0, G_OPTION_ARG_FILENAME, &sim_file,
      "With --etcd and the sim backend: the simulator's registers, shared "
      "by the members as switch hardware is", "FILE" },
    { "testing", 0, 0, G_OPTION_ARG_NONE, &testing,
      "Also serve org.asm.Fabric1.Testing, the simulator's fault injection "
      "(for tests; sim backend only)", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &show_version,
      "Print the version and exit", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  Asmd d = { .exit_status = 0 };
  const char *name;

  ctx = g_option_context_new ("- serve an asm fabric over D-Bus");
  g_option_context_set_summary (
      ctx,
      "Serves one fabric as org.asm.Fabric1 at /org/asm/Fabric1.  Every\n"
      "method that returns has its operation committed in DIR; a daemon\n"
      "stopped or killed at any moment comes back with all of them.");
  g_option_context_set_description (
      ctx,
      "Examples:\n"
      "  asmd --session --state-dir /tmp/fab --fabric fabric.json\n"
      "  gdbus call --session --dest org.asm.Fabric1 --object-path "
      "/org/asm/Fabric1 \\\n"
      "    --method org.asm.Fabric1.Resolve switch sw-a\n"
      "  asmctl --bus session fabric status\n"
      "\n"
      "Exit status: 0 stopped by SIGTERM or SIGINT, 1 the fabric could not\n"
      "be served (a clear message), 2 a bad command line.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("asmd: %s\n", error->message);
      return 2;
    }
  if (show_version)
    {
      printf ("asmd (asm) %d.%d.%d\n", ASM_MAJOR_VERSION, ASM_MINOR_VERSION,
              ASM_MICRO_VERSION);
      return 0;
    }
  if (argc != 1)
    {
      g_printerr ("asmd: unexpected argument '%s' (see asmd --help)\n",
                  argv[1]);
      return 2;
    }
  if ((session ? 1 : 0) + (system_bus ? 1 : 0) + (address ? 1 : 0) != 1)
    {
      g_printerr ("asmd: give exactly one of --session, --system and "
                  "--address\n");
      return 2;
    }
  if (etcd == NULL && state_dir == NULL)
    {
      g_printerr ("asmd: --state-dir DIR (or --etcd URLS) is required\n");
      return 2;
    }
  if (etcd != NULL &&
      (state_dir != NULL || fabric_name == NULL || lease_ttl < 1 ||
       lease_ttl > 3600))
    {
      g_printerr ("asmd: --etcd needs --fabric-name NAME and a --lease-ttl "
                  "of 1..3600 s (%d given), and keeps no --state-dir\n",
                  lease_ttl);
      return 2;
    }
  if (etcd == NULL && (fabric_name || member_id || sim_file))
    {
      g_printerr ("asmd: --fabric-name, --member-id and --sim-file go with "
                  "--etcd\n");
      return 2;
    }
  if (backend == NULL)
    backend = g_strdup ("sim");
  if (strcmp (backend, "sim") && strcmp (backend, "qemu") &&
      strcmp (backend, "none"))
    {
      g_printerr ("asmd: unknown backend '%s' (sim, qemu or none)\n",
                  backend);
      return 2;
    }
  if (checkpoint_every < 1)
    {
      g_printerr ("asmd: --checkpoint-every %" G_GINT64_FORMAT " is out of "
                  "range 1..%" G_GINT64_FORMAT "\n", checkpoint_every,
                  G_MAXINT64);
      return 2;
    }
  if (testing && strcmp (backend, "sim") != 0)
    {
      g_printerr ("asmd: --testing injects faults into the simulator: it "
                  "needs --backend sim, not %s\n", backend);
      return 2;
    }
  if (bus_name != NULL && !g_dbus_is_name (bus_name))
    {
      g_printerr ("asmd: '%s' is not a valid bus name\n", bus_name);
      return 2;
    }
  d.backend_name = backend;
  if (etcd != NULL)
    {
      char host[256] = "";
      if (backend != NULL && strcmp (backend, "qemu") == 0)
        {
          g_printerr ("asmd: --etcd serves the sim or no backend (a QEMU "
                      "dies with the member that started it)\n");
          return 2;
        }
      if (strcmp (backend, "sim") == 0 && sim_file == NULL)
        {
          g_printerr ("asmd: --etcd with the sim backend needs --sim-file "
                      "FILE, the switches' registers all members share\n");
          return 2;
        }
      gethostname (host, sizeof host - 1);
      d.member_id = member_id ? g_strdup (member_id)
                              : g_strdup_printf ("%s-%d", host,
                                                 (int) getpid ());
      d.etcd = asmd_etcd_new (etcd, fabric_name, d.member_id,
                              (guint) lease_ttl, &error);
      if (d.etcd == NULL)
        {
          g_printerr ("asmd: %s\n", error->message);
          return 2;
        }
      d.state_dir = g_strdup_printf ("etcd %s /asm/%s/", etcd, fabric_name);
    }
  else
    {
      d.state_dir = g_steal_pointer (&state_dir);
      d.snapshot_path = state_file (&d, "snapshot");
      d.journal_path = state_file (&d, "journal");
    }
  d.checkpoint_every = (guint64) checkpoint_every;
  d.testing = testing;
  d.authorize = system_bus || group != NULL;
  d.writer_group = group ? g_strdup (group)
                         : system_bus ? g_strdup (DEFAULT_SYSTEM_GROUP)
                                      : NULL;

  if (d.etcd != NULL)
    {
      /* every member serves: a follower reads, the leader also writes */
      d.fabric_file = fabric_file;
      d.sim_file = sim_file;
      d.leader_name = g_strdup (leader_bus_name);
      d.bus = address != NULL
                  ? g_dbus_connection_new_for_address_sync (
                        address,
                        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                            G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                        NULL, NULL, &error)
                  : g_bus_get_sync (system_bus ? G_BUS_TYPE_SYSTEM
                                               : G_BUS_TYPE_SESSION,
                                    NULL, &error);
      name = bus_name ? bus_name : ASMD_BUS_NAME;
      if (d.bus == NULL || !asmd_service_register (&d, &error) ||
          !own_name (&d, name, NAME_ALONE, &error))
        {
          g_printerr ("asmd: %s\n", error->message);
          d.exit_status = 1;
          goto out;
        }
      g_dbus_connection_set_exit_on_close (d.bus, FALSE);
      d.loop = g_main_loop_new (NULL, FALSE);
      g_unix_signal_add (SIGTERM, on_stop_signal, &d);
      g_unix_signal_add (SIGINT, on_stop_signal, &d);
      g_signal_connect (d.bus, "closed", G_CALLBACK (on_closed), &d);
      g_printerr ("asmd: member %s of fabric %s serving as %s%s%s\n",
                  d.member_id, fabric_name, name,
                  d.leader_name ? ", and as " : "",
                  d.leader_name ? d.leader_name : "");
      etcd_follow (&d);
      on_etcd_tick (&d);
      g_timeout_add ((guint) lease_ttl * 1000 / 3, on_etcd_tick, &d);
      g_main_loop_run (d.loop);
      if (d.leading && d.exit_status == 0 && !asmd_checkpoint (&d, &error))
        {
          g_printerr ("asmd: last checkpoint: %s (the journal still holds "
                      "every operation)\n", error->message);
          g_clear_error (&error);
        }
      goto out;
    }
  else if (fabric_file != NULL && g_file_test (d.snapshot_path,
                                               G_FILE_TEST_EXISTS))
    g_printerr ("asmd: %s holds a fabric already: serving it, not %s\n",
                d.state_dir, fabric_file);
  if (d.etcd == NULL &&
      (!lock_state_dir (&d, &error) ||
       !(g_file_test (d.snapshot_path, G_FILE_TEST_EXISTS)
             ? open_existing (&d, &error)
             : open_fresh (&d, fabric_file, &error))))
    {
      g_printerr ("asmd: %s\n", error->message);
      d.exit_status = 1;
      goto out;
    }
  if (address != NULL)
    d.bus = g_dbus_connection_new_for_address_sync (
        address,
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
            G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
        NULL, NULL, &error);
  else
    d.bus = g_bus_get_sync (system_bus ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION,
                            NULL, &error);
  if (d.bus == NULL || !asmd_service_register (&d, &error))
    {
      g_printerr ("asmd: %s\n", error->message);
      d.exit_status = 1;
      goto out;
    }
  g_dbus_connection_set_exit_on_close (d.bus, FALSE);
  asm_fabric_add_observer (d.fabric, on_event, &d);
  d.loop = g_main_loop_new (NULL, FALSE);
  name = bus_name ? bus_name : ASMD_BUS_NAME;
  g_unix_signal_add (SIGTERM, on_stop_signal, &d);
  g_unix_signal_add (SIGINT, on_stop_signal, &d);
  g_signal_connect (d.bus, "closed", G_CALLBACK (on_closed), &d);
  g_dbus_connection_signal_subscribe (
      d.bus, "org.freedesktop.DBus", "org.freedesktop.DBus", "NameLost",
      "/org/freedesktop/DBus", name, G_DBUS_SIGNAL_FLAGS_NONE, on_name_lost,
      &d, NULL);
  if (!own_name (&d, name, NAME_ALONE, &error))
    {
      g_printerr ("asmd: %s\n", error->message);
      d.exit_status = 1;
      goto out;
    }
  g_printerr ("asmd: serving fabric '%s' as %s (backend %s, state in %s, "
              "writers: %s%s)\n",
              asm_fabric_get_name (d.fabric), name, d.backend_name,
              d.state_dir,
              d.authorize ? "root and group " : "anyone on the bus",
              d.authorize ? (d.writer_group ? d.writer_group : "(none)")
                          : "");
  g_main_loop_run (d.loop);
  if (d.exit_status == 0 && !asmd_checkpoint (&d, &error))
    {
      g_printerr ("asmd: last checkpoint: %s (the journal still holds every "
                  "operation)\n", error->message);
      d.exit_status = 1;
    }

out:
  asmd_service_unregister (&d);
  if (d.etcd != NULL && d.leading && d.exit_status == 0)
    asmd_etcd_resign (d.etcd); /* a clean stop: the next member leads now */
  if (d.bus != NULL)
    g_dbus_connection_flush_sync (d.bus, NULL, NULL);
  g_clear_object (&d.bus);
  g_clear_pointer (&d.loop, g_main_loop_unref);
  g_clear_pointer (&d.fabric, asm_fabric_unref);
  g_clear_pointer (&d.backend, asm_backend_unref);
  g_free (d.state_dir);
  g_free (d.snapshot_path);
  g_free (d.journal_path);
  g_free (d.writer_group);
  g_free (d.member_id);
  g_free (d.leader_id);
  g_free (d.leader_name);
  if (d.rebuild_id != 0)
    g_source_remove (d.rebuild_id);
  asmd_etcd_free (d.etcd);
  return d.exit_status;
}
