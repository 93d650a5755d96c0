/* asm-qemu.c: a backend that drives a QEMU machine's PCIe topology (layer 4)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * What QEMU can do (QEMU 7.2 without a guest, as measured).  A
 * machine's bridges are fixed when it starts: root ports, switch
 * upstream and downstream ports and expander buses are command-line
 * devices.  At run time only endpoints come and go: `device_add` puts one
 * into a downstream port (the port's qdev id is the bus, its one slot is
 * addr 0x0) and either succeeds or fails at once leaving nothing behind;
 * `device_del` only starts a removal, which ends with a `DEVICE_DELETED`
 * event.  Without a guest the event follows at once only under native
 * PCIe hotplug (ACPI hotplug of bridges off) and for a hot-added device,
 * so the machine is started with that setting and every bound device is
 * hot-added, never put on the command line.  QMP cannot program bridge
 * windows or routing, so this backend applies %ASM_BACKEND_CAP_DEVICES
 * only: the fabric keeps windows, translation tables, holds, flushes and
 * VFs in its model, and the capability flags say so.
 *
 * The machine.  asm_qemu_backend_new() starts
 *
 *     qemu-system-x86_64 -machine q35 -nodefaults -nographic -display none
 *       -S -qmp unix:DIR/qmp.sock,server=on,wait=off
 *       -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off
 *
 * (stopped before its first instruction, no firmware ever runs) with, for
 * the switch numbered N at position i (chassis i + 1):
 *
 *     [-device pxb-pcie,id=asm-pxbN,bus_nr=B,bus=pcie.0]     (expander)
 *     -device pcie-root-port,id=asm-rpN,bus=pcie.0|asm-pxbN,chassis=0,slot=i+1
 *     -device x3130-upstream,id=asm-usN,bus=asm-rpN
 *     -device xio3130-downstream,id=asm-dsN-P,bus=asm-usN,chassis=i+1,slot=P,addr=P.0
 *
 * so every hot-pluggable slot has its own (chassis, slot) pair, as PCIe
 * requires.  DIR is a private directory; QEMU's output goes to DIR/qemu.log
 * and is quoted when QEMU fails to start.  The child gets SIGKILL if the
 * thread that started it dies (Linux), so a crashed test leaves no QEMU
 * behind.  asm_qemu_backend_attach() reaches a machine someone else
 * started with the same ids (asm_qemu_build_argv() prints them).
 *
 * Switches.  The topology must exist before the fabric that uses it, so
 * the backend is given the list of switches (or takes it from a fabric:
 * asm_qemu_backend_new_for_fabric()), and switch_add matches the fabric's
 * switch to it by name: an unknown name, or more ports than the machine
 * has, is refused, and the ports are checked to exist with `qom-list
 * /machine/peripheral` (which is what catches a machine attached to with
 * another topology).  A call that names a switch the fabric never
 * announced resolves it by number (the id a fabric restored from a save
 * still uses).
 *
 * Devices.  The device with fabric id D has the qdev id `asm-dev-D`.
 *   bind    `device_add {driver, id, bus: port, addr: "0x0"}`; DONE.  QEMU's
 *           refusal ("in use by ...", "Bus ... not found") becomes
 *           ASM_ERROR_BACKEND with QEMU's own text.  If the id exists
 *           ("Duplicate device ID"), `qom-get parent_bus` says where: at
 *           this port, the bind is already done (DONE: idempotent); at a
 *           port where this backend bound it, the bind is refused (the
 *           fabric must unbind first); anywhere else it is a leftover (a
 *           command that timed out and completed late, or a process that
 *           died): it is deleted, and the bind retried once.
 *   unbind  `qom-get parent_bus` first: a device that is absent, or at
 *           another port, is not bound here: DONE, nothing done (so undo
 *           and recovery may repeat it).  Otherwise `device_del`, and
 *           PENDING: device_wait then waits for DEVICE_DELETED, up to the
 *           fabric's timeout (ASM_ERROR_TIMEOUT; QEMU goes on unplugging,
 *           and a later unbind waits again).  The event may come before
 *           the reply, so the id is marked as unplugging before the
 *           command is sent, and the I/O thread's event hook marks it
 *           deleted.
 *   wait    for an id not being unplugged: TRUE at once.
 *
 * Switches leaving.  A switch is taken out of the fabric (switch_remove,
 * after asm_fabric_drain_switch() moved its partitions and
 * asm_fabric_remove_device() unbound what stayed) but not out of the
 * machine: measured on QEMU 7.2 without a guest, `device_del` of a
 * downstream port is refused at once ("Bus 'asm-usN' does not support
 * hotplugging") and `device_del` of an upstream port is accepted but never
 * completes (no DEVICE_DELETED; the port stays in QOM).  So switch_remove
 * checks that no device of this backend is bound at any of the switch's
 * ports, forgets the switch's fabric id, and leaves its bridges in place;
 * a later switch_add of the same name takes it again.  Removing a switch
 * the fabric never announced (or already removed) succeeds and does
 * nothing, as an inverse must.
 *
 * Transactions need no hook here: each bind or unbind is applied (or
 * refused, leaving nothing) when it is called, and the fabric undoes a
 * failed transaction by calling the inverses, which the rules above make
 * idempotent.
 *
 * Faults.  When QEMU dies, the QMP client closes (asm-qmp.c): the call in
 * flight and every later one fail at once with ASM_ERROR_BACKEND "QEMU
 * exited ...", device_wait too (the close hook wakes it).  A command with
 * no reply in time fails with ASM_ERROR_TIMEOUT; its late reply is
 * dropped, and what it did is found and repaired by the next bind (the
 * leftover rule above) or unbind (the parent_bus check).
 *
 * Locking.  `lock` guards what calls and the I/O thread's hooks share:
 * the switches' fabric ids and announced ports, the bound, names and
 * unplugging tables, the dead flag and the test hook's counter; no QMP
 * command is sent with it held.  device_wait sleeps on `cond`, which the
 * hooks signal.
 */
#include <asm/asm-qemu.h>

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "asm-backend-private.h"
#include "asm-qmp-private.h"
#include "asm-boxed-private.h"

ASM_DEFINE_VALUE_TYPE (AsmQemuSwitch, asm_qemu_switch)
ASM_DEFINE_VALUE_TYPE (AsmQemuConfig, asm_qemu_config)

#define QEMU_MAGIC 0x51454d55u /* "QEMU" */
#define QEMU_DEAD 0xdeadbeefu
#define DEFAULT_COMMAND_MS 5000
#define DEFAULT_LAUNCH_MS 10000
#define OWNER_FILE "owner.pid" /* in the temporary directory: its maker */
#define MAX_PORTS 32
#define MAX_SWITCHES 255

typedef struct {
  char *name;
  guint32 number;
  guint32 n_ports;
  guint32 chassis;     /* position + 1 */
  gboolean expander;
  guint32 bus_nr;      /* expander only */
  AsmId fabric_id;     /* from switch_add; ASM_ID_NONE before */
  guint32 fabric_ports; /* the ports the fabric announced (<= n_ports) */
  gboolean retired;    /* switch_remove: no call resolves it by number */
} QSwitch;

typedef enum {
  UNPLUG_PENDING = 1,
  UNPLUG_DONE = 2,
} UnplugState;

typedef struct {
  guint32 magic;
  GMutex lock;
  GCond cond;

  AsmQmp *qmp;
  GSubprocess *proc;    /* NULL when attached */
  GPid pid;
  char *dir;            /* private directory, NULL when attached */
  char *socket_path;
  char *log_path;
  char **argv;
  char *driver;
  guint timeout_ms;
  GPtrArray *switches;  /* QSwitch *, in the order given */

  /* under lock */
  GHashTable *bound;      /* AsmId -> char * bus: what this backend bound */
  GHashTable *names;      /* AsmId -> char * the fabric's name of a device */
  GHashTable *unplugging; /* char * qdev id -> UnplugState */
  gboolean dead;
  char *dead_reason;
  guint kill_before;
} Qemu;

static const AsmBackendOps qemu_ops;

/* ------------------------------------------------------------------ */
/* names                                                                */

static char *
dev_id (AsmId device)
{
  return g_strdup_printf ("asm-dev-%u", device);
}

static gboolean
parse_dev_id (const char *id, AsmId *out)
{
  guint64 v;

  if (id == NULL || !g_str_has_prefix (id, "asm-dev-") ||
      !g_ascii_string_to_unsigned (id + 8, 10, 1, G_MAXUINT32, &v, NULL))
    return FALSE;
  *out = (AsmId) v;
  return TRUE;
}

static char *
port_id (const QSwitch *s, guint32 port)
{
  return g_strdup_printf ("asm-ds%u-%u", s->number, port);
}

/* the last component of a QOM path */
static char *
path_tail (const char *path)
{
  const char *slash = strrchr (path, '/');
  return g_strdup (slash ? slash + 1 : path);
}

/* ------------------------------------------------------------------ */
/* the topology                                                         */

static void
qswitch_free (gpointer p)
{
  QSwitch *s = p;

  g_free (s->name);
  g_free (s);
}

static GPtrArray *
topology_new (const AsmQemuSwitch *switches, guint n, GError **error)
{
  g_autoptr (GPtrArray) t = g_ptr_array_new_with_free_func (qswitch_free);
  guint32 bus_nr = 64;

  if (n > MAX_SWITCHES)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "a QEMU machine takes at most %u switches, not %u",
                   MAX_SWITCHES, n);
      return NULL;
    }
  for (guint i = 0; i < n; i++)
    {
      const AsmQemuSwitch *in = &switches[i];
      QSwitch *s;

      if (in->name == NULL || in->name[0] == '\0')
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "switch %u of the QEMU topology has no name", i);
          return NULL;
        }
      if (in->n_ports == 0 || in->n_ports > MAX_PORTS)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                       "switch '%s': %u ports; a QEMU switch has 1 to %u",
                       in->name, in->n_ports, MAX_PORTS);
          return NULL;
        }
      s = g_new0 (QSwitch, 1);
      s->name = g_strdup (in->name);
      s->n_ports = in->n_ports;
      s->number = in->number ? in->number : i + 1;
      s->chassis = i + 1;
      s->expander = in->expander;
      for (guint j = 0; j < t->len; j++)
        {
          QSwitch *o = t->pdata[j];
          if (o->number == s->number || strcmp (o->name, s->name) == 0)
            {
              g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                           "switches '%s' and '%s' of the QEMU topology "
                           "share a name or the number %u", o->name,
                           s->name, s->number);
              qswitch_free (s);
              return NULL;
            }
        }
      if (s->expander)
        {
          /* the expander's bus, the root port's, the switch's internal
           * bus and one per downstream port */
          if (bus_nr + 3 + s->n_ports > 255)
            {
              g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                           "switch '%s': no PCI bus numbers left for "
                           "another expander bus", s->name);
              qswitch_free (s);
              return NULL;
            }
          s->bus_nr = bus_nr;
          bus_nr += 3 + s->n_ports;
        }
      g_ptr_array_add (t, s);
    }
  return g_steal_pointer (&t);
}

/* commas in an option value are doubled on QEMU's command line */
static char *
qemu_escape (const char *s)
{
  GString *g = g_string_new (NULL);

  for (; *s; s++)
    {
      if (*s == ',')
        g_string_append_c (g, ',');
      g_string_append_c (g, *s);
    }
  return g_string_free (g, FALSE);
}

static char **
build_argv (const AsmQemuConfig *config, GPtrArray *topo,
            const char *socket_path)
{
  GPtrArray *a = g_ptr_array_new ();
  g_autofree char *sock = qemu_escape (socket_path);

  g_ptr_array_add (a, g_strdup (config && config->binary
                                    ? config->binary
                                    : "qemu-system-x86_64"));
  {
    const char *fixed[] = {
      "-machine", "q35", "-nodefaults", "-nographic", "-display", "none",
      "-S",
    };
    for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
      g_ptr_array_add (a, g_strdup (fixed[i]));
  }
  g_ptr_array_add (a, g_strdup ("-qmp"));
  g_ptr_array_add (a, g_strdup_printf ("unix:%s,server=on,wait=off", sock));
  g_ptr_array_add (a, g_strdup ("-global"));
  g_ptr_array_add (a,
                   g_strdup ("ICH9-LPC.acpi-pci-hotplug-with-bridge-support="
                             "off"));
  for (guint i = 0; i < topo->len; i++)
    {
      QSwitch *s = topo->pdata[i];
      g_autofree char *rp_bus = NULL;

      if (s->expander)
        {
          g_ptr_array_add (a, g_strdup ("-device"));
          g_ptr_array_add (a, g_strdup_printf ("pxb-pcie,id=asm-pxb%u,"
                                               "bus_nr=%u,bus=pcie.0",
                                               s->number, s->bus_nr));
          rp_bus = g_strdup_printf ("asm-pxb%u", s->number);
        }
      else
        rp_bus = g_strdup ("pcie.0");
      g_ptr_array_add (a, g_strdup ("-device"));
      g_ptr_array_add (a, g_strdup_printf ("pcie-root-port,id=asm-rp%u,"
                                           "bus=%s,chassis=0,slot=%u",
                                           s->number, rp_bus, s->chassis));
      g_ptr_array_add (a, g_strdup ("-device"));
      g_ptr_array_add (a, g_strdup_printf ("x3130-upstream,id=asm-us%u,"
                                           "bus=asm-rp%u", s->number,
                                           s->number));
      for (guint32 p = 0; p < s->n_ports; p++)
        {
          g_ptr_array_add (a, g_strdup ("-device"));
          g_ptr_array_add (a, g_strdup_printf ("xio3130-downstream,"
                                               "id=asm-ds%u-%u,bus=asm-us%u,"
                                               "chassis=%u,slot=%u,addr=%x.0",
                                               s->number, p, s->number,
                                               s->chassis, p, p));
        }
    }
  if (config != NULL && config->extra_args != NULL)
    for (guint i = 0; config->extra_args[i] != NULL; i++)
      g_ptr_array_add (a, g_strdup (config->extra_args[i]));
  g_ptr_array_add (a, NULL);
  return (char **) g_ptr_array_free (a, FALSE);
}

static gboolean
is_topology_id (Qemu *q, const char *id)
{
  for (guint i = 0; i < q->switches->len; i++)
    {
      QSwitch *s = q->switches->pdata[i];
      char buf[64];

      g_snprintf (buf, sizeof buf, "asm-rp%u", s->number);
      if (strcmp (id, buf) == 0)
        return TRUE;
      g_snprintf (buf, sizeof buf, "asm-us%u", s->number);
      if (strcmp (id, buf) == 0)
        return TRUE;
      g_snprintf (buf, sizeof buf, "asm-pxb%u", s->number);
      if (s->expander && strcmp (id, buf) == 0)
        return TRUE;
      g_snprintf (buf, sizeof buf, "asm-ds%u-", s->number);
      if (g_str_has_prefix (id, buf))
        {
          guint64 p;
          if (g_ascii_string_to_unsigned (id + strlen (buf), 10, 0,
                                          s->n_ports - 1, &p, NULL))
            return TRUE;
        }
    }
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* state                                                                */

static Qemu *
qemu_alloc (void)
{
  Qemu *q = g_new0 (Qemu, 1);

  q->magic = QEMU_MAGIC;
  g_mutex_init (&q->lock);
  g_cond_init (&q->cond);
  q->bound = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  q->names = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  q->unplugging = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         NULL);
  q->timeout_ms = DEFAULT_COMMAND_MS;
  return q;
}

static void
hook_event (AsmQmp *qmp, const AsmQmpMessage *ev, gpointer data)
{
  Qemu *q = data;
  const char *id;
  AsmId d;

  if (strcmp (ev->event, "DEVICE_DELETED") != 0 || ev->data == NULL ||
      !json_object_has_member (ev->data, "device"))
    return;
  id = json_object_get_string_member_with_default (ev->data, "device", NULL);
  if (id == NULL)
    return;
  g_mutex_lock (&q->lock);
  if (g_hash_table_contains (q->unplugging, id))
    g_hash_table_insert (q->unplugging, g_strdup (id),
                         GINT_TO_POINTER (UNPLUG_DONE));
  if (parse_dev_id (id, &d))
    g_hash_table_remove (q->bound, GUINT_TO_POINTER (d));
  g_cond_broadcast (&q->cond);
  g_mutex_unlock (&q->lock);
}

static void
hook_closed (AsmQmp *qmp, const char *reason, gpointer data)
{
  Qemu *q = data;

  g_mutex_lock (&q->lock);
  q->dead = TRUE;
  g_free (q->dead_reason);
  q->dead_reason = g_strdup (reason);
  g_cond_broadcast (&q->cond);
  g_mutex_unlock (&q->lock);
}

static const AsmQmpHooks qemu_hooks = { hook_event, hook_closed };

static gboolean
proc_alive (Qemu *q)
{
  return q->proc != NULL && g_subprocess_get_identifier (q->proc) != NULL;
}

static void
proc_reap (Qemu *q, guint grace_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) grace_ms * 1000;

  if (q->proc == NULL)
    return;
  while (proc_alive (q) && g_get_monotonic_time () < end)
    g_usleep (2000);
  if (proc_alive (q))
    g_subprocess_force_exit (q->proc);
  g_subprocess_wait (q->proc, NULL, NULL);
}

static void
qemu_free (Qemu *q)
{
  if (q->qmp != NULL && q->proc != NULL && proc_alive (q) &&
      !asm_qmp_is_closed (q->qmp, NULL))
    {
      g_autoptr (JsonNode) r = asm_qmp_command (q->qmp, "quit", NULL, 1000,
                                                NULL, NULL);
    }
  g_clear_pointer (&q->qmp, asm_qmp_unref);
  proc_reap (q, 3000);
  g_clear_object (&q->proc);
  if (q->dir != NULL)
    {
      g_autofree char *owner = g_build_filename (q->dir, OWNER_FILE, NULL);
      g_unlink (q->socket_path);
      g_unlink (q->log_path);
      g_unlink (owner);
      g_rmdir (q->dir);
    }
  g_free (q->dir);
  g_free (q->socket_path);
  g_free (q->log_path);
  g_strfreev (q->argv);
  g_free (q->driver);
  if (q->switches != NULL)
    g_ptr_array_unref (q->switches);
  g_hash_table_unref (q->bound);
  g_hash_table_unref (q->names);
  g_hash_table_unref (q->unplugging);
  g_free (q->dead_reason);
  g_mutex_clear (&q->lock);
  g_cond_clear (&q->cond);
  q->magic = QEMU_DEAD;
  g_free (q);
}

static void
apply_config (Qemu *q, const AsmQemuConfig *config)
{
  q->driver = g_strdup (config && config->device_driver
                            ? config->device_driver
                            : "edu");
  if (config != NULL && config->command_timeout_ms != 0)
    q->timeout_ms = config->command_timeout_ms;
}

/* ------------------------------------------------------------------ */
/* QMP helpers                                                          */

static JsonObject *
args_new (const char *first, ...) G_GNUC_NULL_TERMINATED;

static JsonObject *
args_new (const char *first, ...)
{
  JsonObject *o = json_object_new ();
  va_list ap;
  const char *k;

  va_start (ap, first);
  for (k = first; k != NULL; k = va_arg (ap, const char *))
    json_object_set_string_member (o, k, va_arg (ap, const char *));
  va_end (ap);
  return o;
}

/* QEMU did not answer: stopped (SIGSTOP), hung or swamped.  The message
 * says so with the time waited, and nothing about hotplug settings. */
static void
set_unresponsive (GError **error, guint waited_ms, const char *what)
{
  g_set_error (error, ASM_ERROR, ASM_ERROR_TIMEOUT,
               "QEMU does not answer after %u ms (%s)", waited_ms, what);
}

/* Runs a command with the backend's timeout; takes @args. */
static JsonNode *
qcmd (Qemu *q, const char *command, JsonObject *args, char **out_class,
      GError **error)
{
  GError *err = NULL;
  JsonNode *r = asm_qmp_command (q->qmp, command, args, q->timeout_ms,
                                 out_class, &err);
  if (args != NULL)
    json_object_unref (args);
  if (g_error_matches (err, ASM_ERROR, ASM_ERROR_TIMEOUT))
    {
      /* keeps QMP's own words ("QMP device_add: no reply from QEMU
       * within N ms") inside */
      GError *old = err;
      err = NULL;
      set_unresponsive (&err, q->timeout_ms, old->message);
      g_error_free (old);
    }
  if (err != NULL)
    g_propagate_error (error, err);
  return r;
}

/* Where a device is: its bus's id, or NULL with ASM_ERROR_NOT_FOUND when
 * the id does not exist. */
static char *
device_bus (Qemu *q, const char *id, GError **error)
{
  g_autofree char *path = g_strdup_printf ("/machine/peripheral/%s", id);
  g_autofree char *cls = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (JsonNode) r = NULL;
  const char *bus;

  r = qcmd (q, "qom-get", args_new ("path", path, "property", "parent_bus",
                                    NULL),
            &cls, &err);
  if (r == NULL)
    {
      if (g_strcmp0 (cls, "DeviceNotFound") == 0)
        g_set_error (error, ASM_ERROR, ASM_ERROR_NOT_FOUND,
                     "QEMU has no device '%s'", id);
      else
        g_propagate_prefixed_error (error, g_steal_pointer (&err),
                                    "qom-get %s parent_bus: ", path);
      return NULL;
    }
  bus = JSON_NODE_HOLDS_VALUE (r) &&
                json_node_get_value_type (r) == G_TYPE_STRING
            ? json_node_get_string (r)
            : NULL;
  if (bus == NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                   "qom-get %s parent_bus: not a path", path);
      return NULL;
    }
  return path_tail (bus);
}

typedef struct {
  char *name;
  char *type;  /* "edu" from "child<edu>" */
} QomChild;

static void
qom_child_free (gpointer p)
{
  QomChild *c = p;

  g_free (c->name);
  g_free (c->type);
  g_free (c);
}

/* The device children of a QOM path (QomChild *). */
static GPtrArray *
qom_children (Qemu *q, const char *path, GError **error)
{
  g_autoptr (JsonNode) r = NULL;
  GPtrArray *out;
  JsonArray *a;

  r = qcmd (q, "qom-list", args_new ("path", path, NULL), NULL, error);
  if (r == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (r))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                   "qom-list %s: not a list", path);
      return NULL;
    }
  out = g_ptr_array_new_with_free_func (qom_child_free);
  a = json_node_get_array (r);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      JsonObject *o = JSON_NODE_HOLDS_OBJECT (e) ? json_node_get_object (e)
                                                 : NULL;
      const char *name, *type;
      QomChild *c;

      if (o == NULL)
        continue;
      name = json_object_get_string_member_with_default (o, "name", NULL);
      type = json_object_get_string_member_with_default (o, "type", NULL);
      if (name == NULL || type == NULL || !g_str_has_prefix (type, "child<"))
        continue;
      c = g_new0 (QomChild, 1);
      c->name = g_strdup (name);
      c->type = g_strndup (type + 6, strlen (type + 6) - (g_str_has_suffix (
                                                            type, ">")
                                                              ? 1
                                                              : 0));
      g_ptr_array_add (out, c);
    }
  return out;
}

static gint
cmp_child (gconstpointer a, gconstpointer b)
{
  const QomChild *x = *(QomChild *const *) a, *y = *(QomChild *const *) b;
  return strcmp (x->name, y->name);
}

/* ------------------------------------------------------------------ */
/* the ops                                                              */

static gboolean
check_alive (Qemu *q, const char *what, GError **error)
{
  g_autofree char *why = NULL;

  if (asm_qmp_is_closed (q->qmp, &why))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND, "%s: %s", what, why);
      return FALSE;
    }
  return TRUE;
}

static QSwitch *
switch_for (Qemu *q, AsmId sw, GError **error)
{
  QSwitch *found = NULL;

  g_mutex_lock (&q->lock);
  for (guint i = 0; i < q->switches->len && found == NULL; i++)
    if (((QSwitch *) q->switches->pdata[i])->fabric_id == sw)
      found = q->switches->pdata[i];
  for (guint i = 0; i < q->switches->len && found == NULL; i++)
    {
      QSwitch *s = q->switches->pdata[i];
      if (s->fabric_id == ASM_ID_NONE && !s->retired && s->number == sw)
        found = s;
    }
  g_mutex_unlock (&q->lock);
  if (found == NULL)
    g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                 "switch %u is not in the QEMU machine (never announced "
                 "with switch_add, and no switch of the machine is numbered "
                 "%u)", sw, sw);
  return found;
}

/* the ports the fabric may use: those it announced, else the machine's */
static guint32
switch_ports (Qemu *q, QSwitch *s)
{
  guint32 n;

  g_mutex_lock (&q->lock);
  n = s->fabric_ports ? s->fabric_ports : s->n_ports;
  g_mutex_unlock (&q->lock);
  return n;
}

static void
maybe_kill (Qemu *q)
{
  gboolean now = FALSE;

  g_mutex_lock (&q->lock);
  if (q->kill_before > 0 && --q->kill_before == 0)
    now = TRUE;
  g_mutex_unlock (&q->lock);
  if (now && q->proc != NULL)
    {
      g_subprocess_force_exit (q->proc);
      g_subprocess_wait (q->proc, NULL, NULL);
    }
}

static gboolean
q_switch_add (gpointer self, AsmId sw, const char *name, guint32 n_ports,
              guint32 table_capacity, GError **error)
{
  Qemu *q = self;
  QSwitch *s = NULL;
  g_autoptr (GPtrArray) kids = NULL;
  g_autoptr (GHashTable) present = NULL;
  g_autoptr (GString) known = g_string_new (NULL);

  for (guint i = 0; i < q->switches->len; i++)
    {
      QSwitch *t = q->switches->pdata[i];
      if (g_strcmp0 (t->name, name) == 0)
        s = t;
      g_string_append_printf (known, "%s'%s' (%u ports)", i ? ", " : "",
                              t->name, t->n_ports);
    }
  if (s == NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                   "switch_add '%s': the QEMU machine has no such switch "
                   "(its topology is fixed at launch: %s)", name,
                   known->len ? known->str : "no switches");
      return FALSE;
    }
  if (n_ports > s->n_ports)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                   "switch_add '%s': %u ports asked, the QEMU machine has %u",
                   name, n_ports, s->n_ports);
      return FALSE;
    }
  g_mutex_lock (&q->lock);
  if (s->fabric_id != ASM_ID_NONE && s->fabric_id != sw)
    {
      AsmId other = s->fabric_id;
      g_mutex_unlock (&q->lock);
      g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                   "switch_add '%s' as switch %u: it joined as switch %u",
                   name, sw, other);
      return FALSE;
    }
  g_mutex_unlock (&q->lock);

  kids = qom_children (q, "/machine/peripheral", error);
  if (kids == NULL)
    {
      g_prefix_error (error, "switch_add '%s': ", name);
      return FALSE;
    }
  present = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < kids->len; i++)
    g_hash_table_add (present, ((QomChild *) kids->pdata[i])->name);
  for (guint32 p = 0; p < n_ports; p++)
    {
      g_autofree char *ds = port_id (s, p);
      if (!g_hash_table_contains (present, ds))
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                       "switch_add '%s': the QEMU machine has no port '%s' "
                       "(started with another topology?)", name, ds);
          return FALSE;
        }
    }
  g_mutex_lock (&q->lock);
  s->fabric_id = sw;
  s->fabric_ports = n_ports;
  s->retired = FALSE;
  g_mutex_unlock (&q->lock);
  return TRUE;
}

static gboolean
q_switch_remove (gpointer self, AsmId sw, GError **error)
{
  Qemu *q = self;
  QSwitch *s = NULL;
  GHashTableIter it;
  gpointer key, value;
  AsmId blocker = ASM_ID_NONE;
  g_autofree char *blocker_bus = NULL;

  g_mutex_lock (&q->lock);
  for (guint i = 0; i < q->switches->len && s == NULL; i++)
    if (((QSwitch *) q->switches->pdata[i])->fabric_id == sw)
      s = q->switches->pdata[i];
  if (s != NULL)
    {
      g_autofree char *prefix = g_strdup_printf ("asm-ds%u-", s->number);
      g_hash_table_iter_init (&it, q->bound);
      while (blocker == ASM_ID_NONE &&
             g_hash_table_iter_next (&it, &key, &value))
        if (g_str_has_prefix (value, prefix))
          {
            blocker = GPOINTER_TO_UINT (key);
            blocker_bus = g_strdup (value);
          }
    }
  g_mutex_unlock (&q->lock);
  if (s == NULL)
    return TRUE; /* never announced, or removed already */
  if (!check_alive (q, "switch_remove", error))
    return FALSE;
  if (blocker != ASM_ID_NONE)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                   "switch_remove '%s': device %u is still bound at %s",
                   s->name, blocker, blocker_bus);
      return FALSE;
    }
  g_mutex_lock (&q->lock);
  s->fabric_id = ASM_ID_NONE;
  s->fabric_ports = 0;
  s->retired = TRUE;
  g_mutex_unlock (&q->lock);
  return TRUE;
}

static gboolean
unplug_wait (Qemu *q, const char *id, guint timeout_ms, GError **error);

/* device_del, marking the id as unplugging first. */
static AsmBackendStatus
unplug_start (Qemu *q, const char *id, GError **error)
{
  g_autofree char *cls = NULL;
  g_autoptr (GError) err = NULL;
  g_autoptr (JsonNode) r = NULL;

  g_mutex_lock (&q->lock);
  g_hash_table_insert (q->unplugging, g_strdup (id),
                       GINT_TO_POINTER (UNPLUG_PENDING));
  g_mutex_unlock (&q->lock);
  maybe_kill (q);
  r = qcmd (q, "device_del", args_new ("id", id, NULL), &cls, &err);
  if (r != NULL)
    return ASM_BACKEND_PENDING;
  if (cls != NULL && strstr (err->message, "in the process of unplug"))
    return ASM_BACKEND_PENDING;
  g_mutex_lock (&q->lock);
  g_hash_table_remove (q->unplugging, id);
  g_mutex_unlock (&q->lock);
  if (g_strcmp0 (cls, "DeviceNotFound") == 0)
    return ASM_BACKEND_DONE;
  g_propagate_prefixed_error (error, g_steal_pointer (&err),
                              "device_del of %s: ", id);
  return ASM_BACKEND_FAILED;
}

static AsmBackendStatus
q_device_bind (gpointer self, AsmId device, const char *device_name,
               AsmId sw, guint32 port, GError **error)
{
  Qemu *q = self;
  QSwitch *s;
  guint32 n_ports;
  g_autofree char *bus = NULL, *id = dev_id (device);

  s = switch_for (q, sw, error);
  if (s == NULL)
    return ASM_BACKEND_FAILED;
  n_ports = switch_ports (q, s);
  if (port >= n_ports)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                   "device_bind of %s: switch '%s' has ports 0 to %u, not %u",
                   id, s->name, n_ports - 1, port);
      return ASM_BACKEND_FAILED;
    }
  bus = port_id (s, port);
  for (guint attempt = 0;; attempt++)
    {
      g_autofree char *cls = NULL, *cur = NULL;
      g_autoptr (GError) err = NULL;
      g_autoptr (JsonNode) r = NULL;
      const char *mine;

      maybe_kill (q);
      r = qcmd (q, "device_add",
                args_new ("driver", q->driver, "id", id, "bus", bus, "addr",
                          "0x0", NULL),
                &cls, &err);
      if (r != NULL)
        break;
      if (cls == NULL || strstr (err->message, "Duplicate") == NULL ||
          attempt > 0)
        {
          g_set_error (error, ASM_ERROR, err->domain == ASM_ERROR
                                             ? err->code
                                             : ASM_ERROR_BACKEND,
                       "device_add of %s (device '%s') at switch '%s' port %u "
                       "(bus %s): %s", id, device_name ? device_name : "",
                       s->name, port, bus, err->message);
          return ASM_BACKEND_FAILED;
        }
      /* the id exists: where? */
      cur = device_bus (q, id, &err);
      if (cur == NULL && g_error_matches (err, ASM_ERROR, ASM_ERROR_NOT_FOUND))
        continue; /* gone meanwhile: try again */
      if (cur == NULL)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&err),
                                      "device_bind of %s: ", id);
          return ASM_BACKEND_FAILED;
        }
      if (strcmp (cur, bus) == 0)
        break; /* already bound here */
      g_mutex_lock (&q->lock);
      mine = g_hash_table_lookup (q->bound, GUINT_TO_POINTER (device));
      mine = mine && strcmp (mine, cur) == 0 ? cur : NULL;
      g_mutex_unlock (&q->lock);
      if (mine != NULL)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                       "device_bind of %s at switch '%s' port %u: it is bound "
                       "at %s; unbind it first", id, s->name, port, cur);
          return ASM_BACKEND_FAILED;
        }
      /* a leftover: take it away, then bind */
      switch (unplug_start (q, id, error))
        {
        case ASM_BACKEND_FAILED:
          g_prefix_error (error, "device_bind of %s: removing it from %s: ",
                          id, cur);
          return ASM_BACKEND_FAILED;
        case ASM_BACKEND_PENDING:
          if (!unplug_wait (q, id, q->timeout_ms, error))
            {
              g_prefix_error (error, "device_bind of %s: removing it from "
                              "%s: ", id, cur);
              return ASM_BACKEND_FAILED;
            }
          break;
        case ASM_BACKEND_DONE:
          break;
        }
    }
  g_mutex_lock (&q->lock);
  g_hash_table_insert (q->bound, GUINT_TO_POINTER (device),
                       g_strdup (bus));
  if (device_name != NULL && device_name[0] != '\0')
    g_hash_table_insert (q->names, GUINT_TO_POINTER (device),
                         g_strdup (device_name));
  g_mutex_unlock (&q->lock);
  return ASM_BACKEND_DONE;
}

static AsmBackendStatus
q_device_unbind (gpointer self, AsmId device, AsmId sw, guint32 port,
                 GError **error)
{
  Qemu *q = self;
  QSwitch *s;
  g_autofree char *bus = NULL, *cur = NULL, *id = dev_id (device);
  g_autoptr (GError) err = NULL;
  AsmBackendStatus st;

  s = switch_for (q, sw, error);
  if (s == NULL)
    return ASM_BACKEND_FAILED;
  bus = port_id (s, port);
  cur = device_bus (q, id, &err);
  if (cur == NULL && g_error_matches (err, ASM_ERROR, ASM_ERROR_NOT_FOUND))
    {
      g_mutex_lock (&q->lock);
      g_hash_table_remove (q->bound, GUINT_TO_POINTER (device));
      g_hash_table_remove (q->unplugging, id);
      g_mutex_unlock (&q->lock);
      return ASM_BACKEND_DONE;
    }
  if (cur == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&err),
                                  "device_unbind of %s: ", id);
      return ASM_BACKEND_FAILED;
    }
  if (strcmp (cur, bus) != 0)
    return ASM_BACKEND_DONE; /* not bound at this port: nothing to do */
  st = unplug_start (q, id, error);
  if (st == ASM_BACKEND_DONE)
    {
      g_mutex_lock (&q->lock);
      g_hash_table_remove (q->bound, GUINT_TO_POINTER (device));
      g_mutex_unlock (&q->lock);
    }
  return st;
}

static gboolean
unplug_wait (Qemu *q, const char *id, guint timeout_ms, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gpointer v;
  gboolean ok = FALSE;

  g_mutex_lock (&q->lock);
  while (TRUE)
    {
      v = g_hash_table_lookup (q->unplugging, id);
      if (v == NULL || GPOINTER_TO_INT (v) == UNPLUG_DONE || q->dead)
        break;
      if (!g_cond_wait_until (&q->cond, &q->lock, deadline))
        {
          v = g_hash_table_lookup (q->unplugging, id);
          break;
        }
    }
  if (v == NULL || GPOINTER_TO_INT (v) == UNPLUG_DONE)
    {
      g_hash_table_remove (q->unplugging, id);
      ok = TRUE;
    }
  else if (q->dead)
    g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                 "waiting for the unplug of %s: %s", id,
                 q->dead_reason ? q->dead_reason : "QEMU exited");
  g_mutex_unlock (&q->lock);
  if (!ok && !q->dead)
    {
      /* No DEVICE_DELETED: either QEMU does not answer at all (stopped,
       * hung), or it answers and keeps the device (no guest to agree to
       * the unplug).  A query tells which, so a stopped QEMU is not
       * blamed on hotplug settings. */
      guint ping_ms = MIN (MAX (timeout_ms, 100u), 1000u);
      g_autoptr (GError) perr = NULL;
      g_autoptr (JsonNode) r = asm_qmp_command (q->qmp, "query-status", NULL,
                                                ping_ms, NULL, &perr);
      g_autofree char *what = g_strdup_printf (
          "device_del of %s waited for DEVICE_DELETED", id);
      if (r == NULL && g_error_matches (perr, ASM_ERROR, ASM_ERROR_TIMEOUT))
        set_unresponsive (error, timeout_ms + ping_ms, what);
      else
        g_set_error (error, ASM_ERROR, ASM_ERROR_TIMEOUT,
                     "device_del of %s: no DEVICE_DELETED within %u ms "
                     "(without a guest QEMU unplugs at once only a hot-added "
                     "device under native PCIe hotplug)", id, timeout_ms);
    }
  return ok;
}

static gboolean
q_device_wait (gpointer self, AsmId device, guint timeout_ms, GError **error)
{
  Qemu *q = self;
  g_autofree char *id = dev_id (device);

  return unplug_wait (q, id, timeout_ms, error);
}

static void
q_destroy (gpointer self)
{
  qemu_free (self);
}

static const AsmBackendOps qemu_ops = {
  .name = "qemu",
  .caps = ASM_BACKEND_CAP_DEVICES,
  .switch_add = q_switch_add,
  .switch_remove = q_switch_remove,
  .device_bind = q_device_bind,
  .device_unbind = q_device_unbind,
  .device_wait = q_device_wait,
  .destroy = q_destroy,
};

const AsmBackendOps *
asm_qemu_get_ops (void)
{
  return &qemu_ops;
}

/* ------------------------------------------------------------------ */
/* starting and attaching                                               */

#ifdef __linux__
static void
child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}
#endif

static char *
read_log (const char *path)
{
  g_autofree char *text = NULL;
  gsize len = 0;

  if (path == NULL || !g_file_get_contents (path, &text, &len, NULL) ||
      len == 0)
    return g_strdup ("(no output)");
  g_strstrip (text);
  if (strlen (text) > 2000)
    return g_strdup_printf ("...%s", text + strlen (text) - 2000);
  return g_steal_pointer (&text);
}

/* The temporary directory: $TMPDIR/asm-qemu-XXXXXX/ holds QMP's socket,
 * QEMU's log and OWNER_FILE, the pid of the process that made it.  It is
 * removed when the backend is freed (asmctl removes it on SIGINT and
 * SIGTERM too); one left by a process that was killed is removed by the
 * next launch: a directory of ours whose owner pid is gone. */
static gboolean
owner_gone (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, OWNER_FILE, NULL);
  g_autofree char *text = NULL;
  gint64 pid;
  char *end;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return FALSE; /* not made by this code: leave it */
  pid = g_ascii_strtoll (text, &end, 10);
  if (end == text || (*end != '\n' && *end != '\0') || pid <= 0 ||
      pid > G_MAXINT || pid == (gint64) getpid ())
    return FALSE;
  return kill ((pid_t) pid, 0) != 0 && errno == ESRCH;
}

static void
sweep_stale_dirs (void)
{
  const char *tmp = g_get_tmp_dir ();
  g_autoptr (GDir) d = g_dir_open (tmp, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *dir = NULL;
      struct stat st;

      if (!g_str_has_prefix (name, "asm-qemu-") ||
          strlen (name) != strlen ("asm-qemu-XXXXXX"))
        continue;
      dir = g_build_filename (tmp, name, NULL);
      if (lstat (dir, &st) != 0 || !S_ISDIR (st.st_mode) ||
          st.st_uid != getuid () || !owner_gone (dir))
        continue;
      for (const char *const *f = (const char *const[]){ "qmp.sock",
                                                         "qemu.log",
                                                         OWNER_FILE, NULL };
           *f != NULL; f++)
        {
          g_autofree char *path = g_build_filename (dir, *f, NULL);
          g_unlink (path);
        }
      g_rmdir (dir);
    }
}

static gboolean
qemu_launch (Qemu *q, const AsmQemuConfig *config, GError **error)
{
  g_autoptr (GSubprocessLauncher) l = NULL;
  g_autoptr (GError) err = NULL;
  guint launch_ms = config && config->launch_timeout_ms
                        ? config->launch_timeout_ms
                        : DEFAULT_LAUNCH_MS;
  gint64 deadline;
  const char *ident;

  sweep_stale_dirs ();
  q->dir = g_dir_make_tmp ("asm-qemu-XXXXXX", error);
  if (q->dir == NULL)
    return FALSE;
  {
    g_autofree char *owner = g_build_filename (q->dir, OWNER_FILE, NULL);
    g_autofree char *pid = g_strdup_printf ("%d\n", (int) getpid ());
    if (!g_file_set_contents (owner, pid, -1, error))
      return FALSE;
  }
  q->socket_path = g_build_filename (q->dir, "qmp.sock", NULL);
  q->log_path = g_build_filename (q->dir, "qemu.log", NULL);
  q->argv = build_argv (config, q->switches, q->socket_path);

  l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_stdout_file_path (l, q->log_path);
#ifdef __linux__
  g_subprocess_launcher_set_child_setup (l, child_setup, NULL, NULL);
#endif
  q->proc = g_subprocess_launcher_spawnv (l, (const char *const *) q->argv,
                                          &err);
  if (q->proc == NULL)
    {
      g_set_error (error, ASM_ERROR,
                   g_error_matches (err, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT)
                       ? ASM_ERROR_NOT_FOUND
                       : ASM_ERROR_BACKEND,
                   "cannot start %s: %s", q->argv[0], err->message);
      return FALSE;
    }
  ident = g_subprocess_get_identifier (q->proc);
  q->pid = ident ? (GPid) g_ascii_strtoll (ident, NULL, 10) : 0;

  deadline = g_get_monotonic_time () + (gint64) launch_ms * 1000;
  while (TRUE)
    {
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;

      g_clear_error (&err);
      if (!proc_alive (q))
        {
          g_autofree char *log = NULL;
          g_autofree char *how = NULL;
          g_subprocess_wait (q->proc, NULL, NULL);
          log = read_log (q->log_path);
          if (g_subprocess_get_if_exited (q->proc))
            how = g_strdup_printf ("with status %d",
                                   g_subprocess_get_exit_status (q->proc));
          else
            how = g_strdup_printf ("on signal %d",
                                   g_subprocess_get_term_sig (q->proc));
          g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                       "QEMU exited at launch %s: %s", how, log);
          return FALSE;
        }
      if (left <= 0)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_TIMEOUT,
                       "QEMU did not open its QMP socket within %u ms",
                       launch_ms);
          proc_reap (q, 0);
          return FALSE;
        }
      q->qmp = asm_qmp_connect (q->socket_path, (guint) left, &qemu_hooks, q,
                                &err);
      if (q->qmp != NULL)
        break;
      if (!g_error_matches (err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) &&
          !g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
        {
          /* QEMU opens its QMP socket before it checks the rest of its
           * command line: a connection lost now is QEMU refusing it */
          gint64 end = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
          while (proc_alive (q) && g_get_monotonic_time () < end)
            g_usleep (2000);
          if (!proc_alive (q))
            continue; /* reported above, with QEMU's output */
          if (g_error_matches (err, ASM_ERROR, ASM_ERROR_TIMEOUT))
            set_unresponsive (error, launch_ms, "no QMP greeting");
          else
            g_propagate_error (error, g_steal_pointer (&err));
          proc_reap (q, 0);
          return FALSE;
        }
      g_usleep (5000);
    }
  asm_qmp_set_default_timeout (q->qmp, q->timeout_ms);
  return TRUE;
}

/**
 * asm_qemu_backend_new:
 * @config: (nullable): how to start QEMU; %NULL for the defaults
 * @switches: (array length=n_switches): the machine's switches
 * @n_switches: how many
 * @error: return location for a #GError
 *
 * Starts `qemu-system-x86_64` with a q35 machine stopped before its first
 * instruction (`-S`), no default devices, native PCIe hotplug, QMP on a
 * unix socket in a private directory, and one PCIe switch per element of
 * @switches (a `pcie-root-port`, an `x3130-upstream` port and
 * `xio3130-downstream` ports; see asm_qemu_build_argv()), and connects to
 * it.  The backend applies %ASM_BACKEND_CAP_DEVICES only: a bind is a
 * `device_add` of @config's driver into the switch port, an unbind a
 * `device_del` completed by `DEVICE_DELETED`; QMP cannot program windows
 * or translation tables, so a fabric keeps those in its model.
 *
 * The fabric then announces its switches by name (asm_fabric_add_switch()
 * with the names given here).  The last reference quits QEMU and removes
 * the directory.  On Linux QEMU is killed when the thread that called
 * this function exits, so call it from a thread that lives as long as the
 * backend (the main thread).
 *
 * Returns: (transfer full) (nullable): a backend named "qemu", or %NULL
 *   with @error set: %ASM_ERROR_INVALID for a bad topology,
 *   %ASM_ERROR_NOT_FOUND when the program is not installed,
 *   %ASM_ERROR_BACKEND with QEMU's output when it exits at launch,
 *   %ASM_ERROR_TIMEOUT when it does not answer in time
 *
 * Since: 0.1
 */
AsmBackend *
asm_qemu_backend_new (const AsmQemuConfig *config,
                      const AsmQemuSwitch *switches, guint n_switches,
                      GError **error)
{
  Qemu *q;

  g_return_val_if_fail (switches != NULL || n_switches == 0, NULL);
  q = qemu_alloc ();
  apply_config (q, config);
  q->switches = topology_new (switches, n_switches, error);
  if (q->switches == NULL || !qemu_launch (q, config, error))
    {
      qemu_free (q);
      return NULL;
    }
  return asm_backend_new (&qemu_ops, q);
}

/**
 * asm_qemu_backend_new_for_fabric:
 * @fabric: a fabric whose switches (and bound devices) QEMU should have
 * @config: (nullable): how to start QEMU; %NULL for the defaults
 * @error: return location for a #GError
 *
 * Like asm_qemu_backend_new() with the switches of @fabric (each numbered
 * with its fabric id, with its name and ports), then hot-adds every
 * device @fabric binds (VFs excepted: they live in their PF) at its port,
 * so that the machine matches the model.  To drive the machine with that
 * model, restore it onto the backend:
 * `asm_fabric_restore (asm_fabric_save (fabric, NULL), -1, backend, &error)`.
 *
 * Returns: (transfer full) (nullable): a backend named "qemu", or %NULL
 *   with @error set
 *
 * Since: 0.1
 */
AsmBackend *
asm_qemu_backend_new_for_fabric (AsmFabric *fabric,
                                 const AsmQemuConfig *config, GError **error)
{
  g_autoptr (GArray) ids = NULL;
  g_autoptr (GArray) devs = NULL;
  g_autoptr (GArray) sws = g_array_new (FALSE, TRUE, sizeof (AsmQemuSwitch));
  AsmBackend *b;
  Qemu *q;

  g_return_val_if_fail (fabric != NULL, NULL);
  ids = asm_fabric_list (fabric, ASM_FABRIC_SWITCHES);
  for (guint i = 0; i < ids->len; i++)
    {
      AsmSwitchInfo si;
      AsmQemuSwitch s = { 0 };
      if (!asm_fabric_get_switch_info (fabric, g_array_index (ids, AsmId, i),
                                       &si))
        continue;
      s.name = si.name;
      s.n_ports = si.n_ports;
      s.number = si.id;
      g_array_append_val (sws, s);
    }
  b = asm_qemu_backend_new (config, (const AsmQemuSwitch *) (gpointer)
                                        sws->data,
                            sws->len, error);
  if (b == NULL)
    return NULL;
  q = asm_backend_get_self (b);
  for (guint i = 0; i < q->switches->len; i++)
    {
      QSwitch *s = q->switches->pdata[i];
      s->fabric_id = s->number;
    }
  devs = asm_fabric_list (fabric, ASM_FABRIC_DEVICES);
  for (guint i = 0; i < devs->len; i++)
    {
      AsmDeviceInfo di;
      if (!asm_fabric_get_device_info (fabric, g_array_index (devs, AsmId, i),
                                       &di) ||
          di.kind == ASM_DEVICE_VF)
        continue;
      if (q_device_bind (q, di.id, di.name, di.switch_id, di.port, error) !=
          ASM_BACKEND_DONE)
        {
          g_prefix_error (error, "bringing device '%s' into QEMU: ", di.name);
          asm_backend_unref (b);
          return NULL;
        }
    }
  return b;
}

/**
 * asm_qemu_backend_attach:
 * @socket_path: the QMP unix socket of a running QEMU
 * @config: (nullable): the driver and timeouts to use; its @binary,
 *   @extra_args and @launch_timeout_ms are ignored
 * @switches: (array length=n_switches): the machine's switches, which it
 *   must have been started with (asm_qemu_build_argv())
 * @n_switches: how many
 * @error: return location for a #GError
 *
 * Drives a QEMU started by someone else.  The machine should run with
 * `-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off` (or have a
 * guest that answers hotplug), else unbinds time out.  QEMU serves one
 * QMP client at a time.  The last reference disconnects and leaves QEMU
 * running; asm_qemu_kill() cannot stop it.
 *
 * Returns: (transfer full) (nullable): a backend named "qemu", or %NULL
 *   with @error set
 *
 * Since: 0.1
 */
AsmBackend *
asm_qemu_backend_attach (const char *socket_path, const AsmQemuConfig *config,
                         const AsmQemuSwitch *switches, guint n_switches,
                         GError **error)
{
  g_autoptr (GError) err = NULL;
  Qemu *q;

  g_return_val_if_fail (socket_path != NULL, NULL);
  g_return_val_if_fail (switches != NULL || n_switches == 0, NULL);
  q = qemu_alloc ();
  apply_config (q, config);
  q->switches = topology_new (switches, n_switches, error);
  if (q->switches == NULL)
    {
      qemu_free (q);
      return NULL;
    }
  q->socket_path = g_strdup (socket_path);
  q->qmp = asm_qmp_connect (socket_path,
                            config && config->launch_timeout_ms
                                ? config->launch_timeout_ms
                                : DEFAULT_LAUNCH_MS,
                            &qemu_hooks, q, &err);
  if (q->qmp == NULL)
    {
      g_set_error (error, ASM_ERROR,
                   err->domain == ASM_ERROR ? err->code : ASM_ERROR_BACKEND,
                   "attaching to QEMU at %s: %s", socket_path, err->message);
      qemu_free (q);
      return NULL;
    }
  asm_qmp_set_default_timeout (q->qmp, q->timeout_ms);
  return asm_backend_new (&qemu_ops, q);
}

/**
 * asm_qemu_build_argv:
 * @config: (nullable): the program and extra arguments; %NULL for the
 *   defaults
 * @switches: (array length=n_switches): the machine's switches
 * @n_switches: how many
 * @socket_path: where QEMU should listen for QMP
 * @error: return location for a #GError
 *
 * The command line asm_qemu_backend_new() runs, for starting QEMU by hand
 * and attaching with asm_qemu_backend_attach().
 *
 * Returns: (transfer full) (array zero-terminated=1) (nullable): the
 *   arguments, program first; %NULL with %ASM_ERROR_INVALID for a bad
 *   topology
 *
 * Since: 0.1
 */
char **
asm_qemu_build_argv (const AsmQemuConfig *config,
                     const AsmQemuSwitch *switches, guint n_switches,
                     const char *socket_path, GError **error)
{
  g_autoptr (GPtrArray) topo = NULL;

  g_return_val_if_fail (socket_path != NULL, NULL);
  g_return_val_if_fail (switches != NULL || n_switches == 0, NULL);
  topo = topology_new (switches, n_switches, error);
  if (topo == NULL)
    return NULL;
  return build_argv (config, topo, socket_path);
}

/* ------------------------------------------------------------------ */
/* public API                                                           */

/**
 * asm_qemu_is_qemu:
 * @backend: a backend
 *
 * Tells a backend made by this module from any other.
 *
 * Returns: %TRUE when @backend is a qemu backend
 *
 * Since: 0.1
 */
gboolean
asm_qemu_is_qemu (AsmBackend *backend)
{
  Qemu *q;

  g_return_val_if_fail (backend != NULL, FALSE);
  if (asm_backend_get_ops (backend) != &qemu_ops)
    return FALSE;
  q = asm_backend_get_self (backend);
  return q != NULL && q->magic == QEMU_MAGIC;
}

static Qemu *
get_qemu (AsmBackend *backend)
{
  if (backend == NULL || !asm_qemu_is_qemu (backend))
    return NULL;
  return asm_backend_get_self (backend);
}

/**
 * asm_qemu_get_pid:
 * @backend: a qemu backend
 *
 * Gets the process id of the QEMU the backend started.
 *
 * Returns: the process id of the QEMU this backend started, or 0 when it
 *   attached to one
 *
 * Since: 0.1
 */
GPid
asm_qemu_get_pid (AsmBackend *backend)
{
  Qemu *q = get_qemu (backend);

  g_return_val_if_fail (q != NULL, 0);
  return q->pid;
}

/**
 * asm_qemu_get_socket_path:
 * @backend: a qemu backend
 *
 * Gets the path of the QMP socket the backend talks to.
 *
 * Returns: (transfer none): the QMP socket's path
 *
 * Since: 0.1
 */
const char *
asm_qemu_get_socket_path (AsmBackend *backend)
{
  Qemu *q = get_qemu (backend);

  g_return_val_if_fail (q != NULL, NULL);
  return q->socket_path;
}

/**
 * asm_qemu_get_version:
 * @backend: a qemu backend
 *
 * Gets the version of QEMU the backend talks to.
 *
 * Returns: (transfer none): the version QEMU announced ("7.2.22")
 *
 * Since: 0.1
 */
const char *
asm_qemu_get_version (AsmBackend *backend)
{
  Qemu *q = get_qemu (backend);

  g_return_val_if_fail (q != NULL, NULL);
  return asm_qmp_get_version (q->qmp);
}

/**
 * asm_qemu_get_argv:
 * @backend: a qemu backend
 *
 * Gets the command line of the QEMU the backend started.
 *
 * Returns: (transfer none) (array zero-terminated=1) (nullable): the
 *   command line QEMU was started with, or %NULL when the backend
 *   attached to a running QEMU
 *
 * Since: 0.1
 */
char **
asm_qemu_get_argv (AsmBackend *backend)
{
  Qemu *q = get_qemu (backend);

  g_return_val_if_fail (q != NULL, NULL);
  return q->argv;
}

/**
 * asm_qemu_is_alive:
 * @backend: a qemu backend
 *
 * Tells whether QEMU is still running.
 *
 * Returns: %TRUE while the QMP connection is open (QEMU has not exited)
 *
 * Since: 0.1
 */
gboolean
asm_qemu_is_alive (AsmBackend *backend)
{
  Qemu *q = get_qemu (backend);

  g_return_val_if_fail (q != NULL, FALSE);
  return !asm_qmp_is_closed (q->qmp, NULL);
}

/**
 * asm_qemu_kill:
 * @backend: a qemu backend
 *
 * Kills the QEMU this backend started (SIGKILL) and waits until it is
 * gone.  Every call of the backend in flight, and every later one, then
 * fails at once with %ASM_ERROR_BACKEND ("QEMU exited").  For tests of
 * that path.
 *
 * Returns: %FALSE when the backend attached to a QEMU it did not start
 *
 * Since: 0.1
 */
gboolean
asm_qemu_kill (AsmBackend *backend)
{
  Qemu *q = get_qemu (backend);

  g_return_val_if_fail (q != NULL, FALSE);
  if (q->proc == NULL)
    return FALSE;
  g_subprocess_force_exit (q->proc);
  g_subprocess_wait (q->proc, NULL, NULL);
  return TRUE;
}

/**
 * asm_qemu_get_port_id:
 * @backend: a qemu backend
 * @sw: a fabric switch id (or a switch number)
 * @port: a port of that switch
 *
 * The qdev id of a switch port's `xio3130-downstream` device, which is
 * also the name of the bus behind it (`asm-ds<number>-<port>`).
 *
 * Returns: (transfer full) (nullable): the id, or %NULL when the machine
 *   has no such port
 *
 * Since: 0.1
 */
char *
asm_qemu_get_port_id (AsmBackend *backend, AsmId sw, guint32 port)
{
  Qemu *q = get_qemu (backend);
  QSwitch *s;

  g_return_val_if_fail (q != NULL, NULL);
  s = switch_for (q, sw, NULL);
  if (s == NULL || port >= s->n_ports)
    return NULL;
  return port_id (s, port);
}

/**
 * asm_qemu_get_device_id:
 * @device: a fabric device id
 *
 * Gets the qdev id under which a qemu backend adds a fabric device to QEMU.
 *
 * Returns: (transfer full): the qdev id a qemu backend gives the device:
 *   `asm-dev-<device>`
 *
 * Since: 0.1
 */
char *
asm_qemu_get_device_id (AsmId device)
{
  return dev_id (device);
}

/**
 * asm_qemu_get_device_bus:
 * @backend: a qemu backend
 * @qdev_id: a device's qdev id
 * @error: return location for a #GError
 *
 * Asks QEMU where a device is (`qom-get /machine/peripheral/<id>
 * parent_bus`).
 *
 * Returns: (transfer full) (nullable): the id of its bus (for a switch
 *   port, asm_qemu_get_port_id()), or %NULL with %ASM_ERROR_NOT_FOUND
 *   when QEMU has no such device, %ASM_ERROR_BACKEND or
 *   %ASM_ERROR_TIMEOUT when QMP failed
 *
 * Since: 0.1
 */
char *
asm_qemu_get_device_bus (AsmBackend *backend, const char *qdev_id,
                         GError **error)
{
  Qemu *q = get_qemu (backend);

  g_return_val_if_fail (q != NULL && qdev_id != NULL, NULL);
  if (!check_alive (q, "qom-get", error))
    return NULL;
  return device_bus (q, qdev_id, error);
}

typedef struct {
  char *id;
  char *type;
  char *bus;
  char *name;  /* the fabric's name, when this backend bound it */
} DevLoc;

static void
devloc_free (gpointer p)
{
  DevLoc *d = p;

  g_free (d->id);
  g_free (d->type);
  g_free (d->bus);
  g_free (d->name);
  g_free (d);
}

static gint
cmp_devloc (gconstpointer a, gconstpointer b)
{
  const DevLoc *x = *(DevLoc *const *) a, *y = *(DevLoc *const *) b;
  return strcmp (x->id, y->id);
}

/* The devices that are not part of the topology, with their buses when
 * @with_bus, sorted by id. */
static GPtrArray *
list_endpoints (Qemu *q, gboolean with_bus, GError **error)
{
  const char *roots[] = { "/machine/peripheral", "/machine/peripheral-anon" };
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (devloc_free);

  if (!check_alive (q, "qom-list", error))
    return NULL;
  for (guint r = 0; r < G_N_ELEMENTS (roots); r++)
    {
      g_autoptr (GPtrArray) kids = qom_children (q, roots[r], error);
      if (kids == NULL)
        return NULL;
      g_ptr_array_sort (kids, cmp_child);
      for (guint i = 0; i < kids->len; i++)
        {
          QomChild *c = kids->pdata[i];
          DevLoc *d;

          if (r == 0 && is_topology_id (q, c->name))
            continue;
          d = g_new0 (DevLoc, 1);
          d->id = r == 0 ? g_strdup (c->name)
                         : g_strdup_printf ("peripheral-anon/%s", c->name);
          d->type = g_strdup (c->type);
          {
            AsmId dev;
            if (r == 0 && parse_dev_id (c->name, &dev))
              {
                g_mutex_lock (&q->lock);
                d->name = g_strdup (g_hash_table_lookup (
                    q->names, GUINT_TO_POINTER (dev)));
                g_mutex_unlock (&q->lock);
              }
          }
          g_ptr_array_add (out, d);
          if (with_bus)
            {
              g_autofree char *path = g_strdup_printf ("%s/%s", roots[r],
                                                       c->name);
              g_autoptr (JsonNode) b = NULL;
              b = qcmd (q, "qom-get",
                        args_new ("path", path, "property", "parent_bus",
                                  NULL),
                        NULL, error);
              if (b == NULL)
                return NULL;
              d->bus = JSON_NODE_HOLDS_VALUE (b) &&
                               json_node_get_value_type (b) == G_TYPE_STRING
                           ? path_tail (json_node_get_string (b))
                           : g_strdup ("?");
            }
        }
    }
  g_ptr_array_sort (out, cmp_devloc);
  return g_steal_pointer (&out);
}

/**
 * asm_qemu_list_devices:
 * @backend: a qemu backend
 * @error: return location for a #GError
 *
 * Lists the devices present in QEMU other than the switch topology (with
 * `qom-list` of `/machine/peripheral`; anonymous devices of
 * `/machine/peripheral-anon` appear as `peripheral-anon/<name>`).  Devices
 * bound by the backend are named as asm_qemu_get_device_id() says.
 *
 * Returns: (transfer full) (array zero-terminated=1) (nullable): their
 *   ids, sorted; %NULL with @error set when QMP failed
 *
 * Since: 0.1
 */
char **
asm_qemu_list_devices (AsmBackend *backend, GError **error)
{
  Qemu *q = get_qemu (backend);
  g_autoptr (GPtrArray) devs = NULL;
  GPtrArray *ids;

  g_return_val_if_fail (q != NULL, NULL);
  devs = list_endpoints (q, FALSE, error);
  if (devs == NULL)
    return NULL;
  ids = g_ptr_array_new ();
  for (guint i = 0; i < devs->len; i++)
    g_ptr_array_add (ids, g_strdup (((DevLoc *) devs->pdata[i])->id));
  g_ptr_array_add (ids, NULL);
  return (char **) g_ptr_array_free (ids, FALSE);
}

/**
 * asm_qemu_get_qom_tree:
 * @backend: a qemu backend
 * @error: return location for a #GError
 *
 * Describes what QEMU has in each switch port, read from QOM (`qom-list`
 * and `qom-get parent_bus`): a line per switch (its root and upstream
 * ports and the fabric id it joined as), a line per port with the
 * devices behind it (`id (driver)`, with the fabric's name of the device
 * when this backend bound it: `asm-dev-6 (edu, 'gpu0')`; or `-`), then
 * the devices elsewhere.
 * Two calls give the same text exactly when QEMU has the same devices on
 * the same buses, so it can be compared before and after an operation.
 *
 * Returns: (transfer full) (nullable): the text, or %NULL with @error set
 *   when QMP failed
 *
 * Since: 0.1
 */
char *
asm_qemu_get_qom_tree (AsmBackend *backend, GError **error)
{
  Qemu *q = get_qemu (backend);
  g_autoptr (GPtrArray) devs = NULL;
  g_autoptr (GString) out = g_string_new (NULL);
  g_autofree gboolean *placed = NULL;
  gboolean any_else = FALSE;

  g_return_val_if_fail (q != NULL, NULL);
  devs = list_endpoints (q, TRUE, error);
  if (devs == NULL)
    return NULL;
  placed = g_new0 (gboolean, devs->len + 1);
  for (guint i = 0; i < q->switches->len; i++)
    {
      QSwitch *s = q->switches->pdata[i];
      AsmId fid;

      g_mutex_lock (&q->lock);
      fid = s->fabric_id;
      g_mutex_unlock (&q->lock);
      g_string_append_printf (out, "switch '%s' (asm-rp%u > asm-us%u%s)",
                              s->name, s->number, s->number,
                              s->expander ? ", expander bus" : "");
      if (fid != ASM_ID_NONE)
        g_string_append_printf (out, " = fabric switch %u", fid);
      g_string_append_c (out, '\n');
      for (guint32 p = 0; p < s->n_ports; p++)
        {
          g_autofree char *ds = port_id (s, p);
          guint n = 0;

          g_string_append_printf (out, "  port %u %s:", p, ds);
          for (guint j = 0; j < devs->len; j++)
            {
              DevLoc *d = devs->pdata[j];
              if (g_strcmp0 (d->bus, ds) != 0)
                continue;
              g_string_append_printf (out, "%s%s (%s", n++ ? ", " : " ",
                                      d->id, d->type);
              if (d->name != NULL)
                g_string_append_printf (out, ", '%s'", d->name);
              g_string_append_c (out, ')');
              placed[j] = TRUE;
            }
          g_string_append (out, n ? "\n" : " -\n");
        }
    }
  for (guint j = 0; j < devs->len; j++)
    {
      DevLoc *d = devs->pdata[j];
      if (placed[j])
        continue;
      if (!any_else)
        g_string_append (out, "elsewhere\n");
      any_else = TRUE;
      g_string_append_printf (out, "  %s (%s%s%s%s) on %s\n", d->id,
                              d->type, d->name ? ", '" : "",
                              d->name ? d->name : "", d->name ? "'" : "",
                              d->bus);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static JsonObject *
parse_arguments (const char *json, GError **error)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  JsonNode *root;

  if (json == NULL)
    return NULL;
  if (!json_parser_load_from_data (p, json, -1, error))
    return NULL;
  root = json_parser_get_root (p);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_INVALID,
                   "QMP arguments must be a JSON object");
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

static char *
node_to_text (JsonNode *n)
{
  return n ? json_to_string (n, FALSE) : g_strdup ("null");
}

/**
 * asm_qemu_command:
 * @backend: a qemu backend
 * @command: a QMP command ("query-status", "device_add", ...)
 * @arguments_json: (nullable): its arguments, a JSON object as text
 * @timeout_ms: how long to wait for the reply (0: the backend's command
 *   timeout)
 * @error: return location for a #GError
 *
 * Sends any QMP command and waits for its reply, running a private main
 * context meanwhile (it may be called from any thread, inside or outside
 * a main loop).
 *
 * Returns: (transfer full) (nullable): the reply's "return" value as JSON
 *   text, or %NULL with @error set: %ASM_ERROR_BACKEND with QEMU's "desc"
 *   for an error reply, or "QEMU exited ..." once QEMU is gone (at once,
 *   without waiting); %ASM_ERROR_TIMEOUT; %ASM_ERROR_INVALID or
 *   %ASM_ERROR_PARSE for bad arguments
 *
 * Since: 0.1
 */
char *
asm_qemu_command (AsmBackend *backend, const char *command,
                  const char *arguments_json, guint timeout_ms,
                  GError **error)
{
  Qemu *q = get_qemu (backend);
  g_autoptr (JsonNode) r = NULL;
  g_autoptr (GError) err = NULL;
  JsonObject *args;

  g_return_val_if_fail (q != NULL && command != NULL, NULL);
  args = parse_arguments (arguments_json, &err);
  if (err != NULL)
    {
      g_set_error (error, ASM_ERROR,
                   err->domain == ASM_ERROR ? err->code : ASM_ERROR_PARSE,
                   "QMP %s: arguments: %s", command, err->message);
      return NULL;
    }
  r = asm_qmp_command (q->qmp, command, args,
                       timeout_ms ? timeout_ms : q->timeout_ms, NULL, error);
  if (args != NULL)
    json_object_unref (args);
  return r ? node_to_text (r) : NULL;
}

static void
command_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  Qemu *q = g_task_get_task_data (task);
  GError *err = NULL;
  g_autoptr (JsonNode) r = asm_qmp_command_finish (q->qmp, res, NULL, &err);

  if (r == NULL)
    g_task_return_error (task, err);
  else
    g_task_return_pointer (task, node_to_text (r), g_free);
  g_object_unref (task);
}

/**
 * asm_qemu_command_async:
 * @backend: a qemu backend
 * @command: a QMP command
 * @arguments_json: (nullable): its arguments, a JSON object as text
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the reply, in the thread-default main context
 *   of the caller
 * @user_data: data for @callback
 *
 * Sends any QMP command without waiting; several may be in flight.  The
 * backend's command timeout applies.  Finish with
 * asm_qemu_command_finish().
 *
 * Since: 0.1
 */
void
asm_qemu_command_async (AsmBackend *backend, const char *command,
                        const char *arguments_json,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  Qemu *q = get_qemu (backend);
  GTask *task;
  GError *err = NULL;
  JsonObject *args;

  g_return_if_fail (q != NULL && command != NULL);
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, asm_qemu_command_async);
  g_task_set_task_data (task, q, NULL);
  args = parse_arguments (arguments_json, &err);
  if (err != NULL)
    {
      g_task_return_new_error (task, ASM_ERROR,
                               err->domain == ASM_ERROR ? err->code
                                                        : ASM_ERROR_PARSE,
                               "QMP %s: arguments: %s", command,
                               err->message);
      g_error_free (err);
      g_object_unref (task);
      return;
    }
  asm_qmp_command_async (q->qmp, command, args, q->timeout_ms, cancellable,
                         command_done, task);
  if (args != NULL)
    json_object_unref (args);
}

/**
 * asm_qemu_command_finish:
 * @backend: a qemu backend
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes a command started with asm_qemu_command_async().
 *
 * Returns: (transfer full) (nullable): the reply's "return" value as JSON
 *   text, or %NULL with @error set as asm_qemu_command() would (and
 *   %G_IO_ERROR_CANCELLED when cancelled)
 *
 * Since: 0.1
 */
char *
asm_qemu_command_finish (AsmBackend *backend, GAsyncResult *result,
                         GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct {
  AsmBackend *backend;
  AsmQemuEventFunc func;
  gpointer data;
  GDestroyNotify notify;
} Watch;

static void
watch_event (AsmQmp *qmp, const AsmQmpMessage *ev, gpointer p)
{
  Watch *w = p;
  g_autofree char *data = NULL;

  if (ev->data != NULL)
    {
      JsonNode *n = json_node_new (JSON_NODE_OBJECT);
      json_node_set_object (n, ev->data);
      data = json_to_string (n, FALSE);
      json_node_unref (n);
    }
  w->func (w->backend, ev->event, data ? data : "{}", w->data);
}

static void
watch_free (gpointer p)
{
  Watch *w = p;

  if (w->notify != NULL)
    w->notify (w->data);
  g_free (w);
}

/**
 * asm_qemu_add_event_watch:
 * @backend: a qemu backend
 * @func: called for each QMP event
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data when the watch ends
 *
 * Watches QMP events (DEVICE_DELETED, ...).  @func runs in the main
 * context that is the thread default of the caller now, so that context
 * must be iterated (a running #GMainLoop).  The watch ends with
 * asm_qemu_remove_event_watch() or with the backend.
 *
 * Returns: the watch's id, never 0
 *
 * Since: 0.1
 */
guint
asm_qemu_add_event_watch (AsmBackend *backend, AsmQemuEventFunc func,
                          gpointer user_data, GDestroyNotify notify)
{
  Qemu *q = get_qemu (backend);
  Watch *w;

  g_return_val_if_fail (q != NULL && func != NULL, 0);
  w = g_new0 (Watch, 1);
  w->backend = backend;
  w->func = func;
  w->data = user_data;
  w->notify = notify;
  return asm_qmp_add_event_handler (q->qmp, watch_event, w, watch_free);
}

/**
 * asm_qemu_remove_event_watch:
 * @backend: a qemu backend
 * @watch_id: an id from asm_qemu_add_event_watch()
 *
 * Ends a watch; its function is not called again.
 *
 * Since: 0.1
 */
void
asm_qemu_remove_event_watch (AsmBackend *backend, guint watch_id)
{
  Qemu *q = get_qemu (backend);

  g_return_if_fail (q != NULL);
  asm_qmp_remove_event_handler (q->qmp, watch_id);
}

/* ------------------------------------------------------------------ */
/* private                                                              */

void
asm_qemu_kill_before_command (AsmBackend *backend, guint n)
{
  Qemu *q = get_qemu (backend);

  g_return_if_fail (q != NULL);
  g_mutex_lock (&q->lock);
  q->kill_before = n;
  g_mutex_unlock (&q->lock);
}

AsmQmp *
asm_qemu_get_qmp (AsmBackend *backend)
{
  Qemu *q = get_qemu (backend);

  g_return_val_if_fail (q != NULL, NULL);
  return q->qmp;
}
