/* test-qemu.c: the qemu backend against a real qemu-system-x86_64 (layer 4)
 *
 * Every test starts its own QEMU (q35, stopped, no guest) with a small
 * switch topology and checks what QEMU itself reports through QOM:
 *
 *   commands     greeting, QMP commands, QEMU's error text passed on,
 *                asynchronous commands in flight together, events;
 *   launch       a missing program, QEMU refusing its command line and a
 *                bad topology are reported, not hung on;
 *   bind         device_add / device_del through the ops table: present
 *                then gone in qom-list, idempotent inverses, refusals;
 *   migration    a fabric on the backend moves a partition's devices to
 *                another switch: QOM shows them behind the new ports;
 *   refused      QEMU refuses one step of a migration ("in use", a device
 *                added behind the fabric's back): the fabric rolls back and
 *                the QOM tree and the saved model are as before;
 *   killed       QEMU killed in the middle of a migration: ASM_ERROR_BACKEND,
 *                the model unchanged, and every later call fails at once;
 *   timeout      QEMU stopped (SIGSTOP): commands time out, late replies are
 *                dropped, a device left behind by a timed-out bind is
 *                repaired; an unplug that never completes times out, and
 *                QEMU's death wakes a waiter at once;
 *   attach       a QEMU started by hand from asm_qemu_build_argv();
 *   for-fabric   a backend built from a fabric's model.
 *
 * Without qemu-system-x86_64 in PATH the program prints a loud SKIP line
 * and a TAP plan that skips everything.  CI installs QEMU
 * (.ci/install-deps), so there the tests run for real.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <glib/gstdio.h>

#include <asm/asm.h>

#include "asm-test.h"

#include "asm-qmp-private.h"

#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define GRAN (2 * MIB)
#define BASE (G_GUINT64_CONSTANT (1) << 32)

#define CHECK_OK(call, error) \
  G_STMT_START { \
    if (!(call)) \
      FAIL_AT (__FILE__, __LINE__, "%s: %s", #call, \
               (error) ? (error)->message : "no error set"); \
  } G_STMT_END

#define ASSERT_ERROR(err, code_, substr) \
  G_STMT_START { \
    if ((err) == NULL) \
      FAIL_AT (__FILE__, __LINE__, "expected an error"); \
    if (!g_error_matches ((err), ASM_ERROR, (code_))) \
      FAIL_AT (__FILE__, __LINE__, "error %s, expected %s: %s", \
               test_code_name ((err)->code), test_code_name (code_), \
               (err)->message); \
    if (!error_has ((err), (substr))) \
      FAIL_AT (__FILE__, __LINE__, "'%s' not in the error: %s", \
               (const char *) (substr), (err)->message); \
  } G_STMT_END

static gboolean
error_has (const GError *err, const char *substr)
{
  return substr == NULL || strstr (err->message, substr) != NULL;
}

static double
now_s (void)
{
  return g_get_monotonic_time () / 1e6;
}

/* ---------------------------------------------------------------------- */
/* helpers                                                                */
/* ---------------------------------------------------------------------- */

static const AsmQemuSwitch two_switches[] = {
  { "sw1", 4, 0, FALSE },
  { "sw2", 4, 0, FALSE },
};

static AsmBackend *
start_at (const AsmQemuConfig *cfg, const AsmQemuSwitch *sws, guint n,
          const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  AsmBackend *b = asm_qemu_backend_new (cfg, sws, n, &error);

  if (b == NULL)
    FAIL_AT (file, line, "asm_qemu_backend_new: %s", error->message);
  return b;
}
#define START(cfg, sws, n) start_at ((cfg), (sws), (n), __FILE__, __LINE__)

static gboolean
strv_has (char **v, const char *s)
{
  return v != NULL && g_strv_contains ((const char *const *) v, s);
}

static char *
bus_of (AsmBackend *b, AsmId device)
{
  g_autofree char *id = asm_qemu_get_device_id (device);
  return asm_qemu_get_device_bus (b, id, NULL);
}

/* asserts that QEMU has the device behind the port the fabric says */
static void
check_placement_at (AsmBackend *b, AsmFabric *f, AsmId device,
                    const char *file, int line)
{
  AsmDeviceInfo di;
  g_autofree char *want = NULL, *got = NULL;

  if (!asm_fabric_get_device_info (f, device, &di))
    FAIL_AT (file, line, "no device %u", device);
  want = asm_qemu_get_port_id (b, di.switch_id, di.port);
  got = bus_of (b, device);
  if (want == NULL || g_strcmp0 (want, got) != 0)
    FAIL_AT (file, line, "device %u: the fabric says %s, QEMU says %s",
             device, want ? want : "(no port)", got ? got : "(absent)");
}
#define CHECK_PLACEMENT(b, f, d) \
  check_placement_at ((b), (f), (d), __FILE__, __LINE__)

typedef struct {
  AsmBackend *b;
  AsmFabric *f;
  AsmId sw1, sw2;
  AsmId dev[4];
  guint n_dev;
  AsmId w, p;
} Scene;

/* Two switches of four ports; n devices on sw1 ports 0..n-1, mapped into
 * one partition on sw1. */
static Scene *
scene_new_at (AsmBackend *b, guint n, const char *file, int line)
{
  g_autoptr (GError) error = NULL;
  Scene *s = g_new0 (Scene, 1);
  AsmSwitchSpec spec = { NULL, 64000, 300, 16, 4, FALSE };
  AsmPartitionRequest req = { 0 };

  s->b = b;
  s->f = asm_fabric_new ("qemu-test", BASE, BASE + 1024 * MIB - 1, GRAN, b,
                         &error);
  if (s->f == NULL)
    FAIL_AT (file, line, "asm_fabric_new: %s", error->message);
  g_assert_true (asm_fabric_set_window_granule (s->f, 64 * MIB, NULL));
  spec.name = "sw1";
  if (!asm_fabric_add_switch (s->f, &spec, &s->sw1, &error))
    FAIL_AT (file, line, "add_switch sw1: %s", error->message);
  spec.name = "sw2";
  if (!asm_fabric_add_switch (s->f, &spec, &s->sw2, &error))
    FAIL_AT (file, line, "add_switch sw2: %s", error->message);
  if (!asm_fabric_add_workload (s->f, "vm", &s->w, &error))
    FAIL_AT (file, line, "add_workload: %s", error->message);
  req.size = 16 * MIB;
  req.preferred_switch = s->sw1;
  req.bandwidth_demand = 1000;
  if (!asm_fabric_request_partition (s->f, s->w, &req, &s->p, NULL, &error))
    FAIL_AT (file, line, "request_partition: %s", error->message);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("edu%u", i);
      if (!asm_fabric_add_device (s->f, name, ASM_DEVICE_ENDPOINT, 1 * MIB,
                                  s->sw1, i, &s->dev[i], &error))
        FAIL_AT (file, line, "add_device %s: %s", name, error->message);
      if (!asm_fabric_map_device (s->f, s->p, s->dev[i], NULL, &error))
        FAIL_AT (file, line, "map_device %s: %s", name, error->message);
    }
  s->n_dev = n;
  for (guint i = 0; i < n; i++)
    check_placement_at (b, s->f, s->dev[i], file, line);
  return s;
}
#define SCENE(b, n) scene_new_at ((b), (n), __FILE__, __LINE__)

static void
scene_free (Scene *s)
{
  asm_fabric_unref (s->f);
  asm_backend_unref (s->b);
  g_free (s);
}

static char *
tree (AsmBackend *b)
{
  g_autoptr (GError) error = NULL;
  char *t = asm_qemu_get_qom_tree (b, &error);

  if (t == NULL)
    fail_msg ("asm_qemu_get_qom_tree: %s", error->message);
  return t;
}

/* ---------------------------------------------------------------------- */
/* commands                                                               */
/* ---------------------------------------------------------------------- */

static void
test_commands (void **state)
{
  g_autoptr (AsmBackend) b = START (NULL, two_switches, 2);
  g_autoptr (GError) error = NULL;
  g_autofree char *status = NULL, *t = NULL;
  g_auto (GStrv) devs = NULL;
  char **argv;

  assert_true (asm_qemu_is_qemu (b));
  assert_string_equal (asm_backend_get_name (b), "qemu");
  assert_int_equal (asm_backend_get_caps (b), ASM_BACKEND_CAP_DEVICES);
  assert_true (asm_qemu_get_pid (b) > 0);
  assert_true (asm_qemu_is_alive (b));
  assert_true (g_str_has_prefix (asm_qemu_get_version (b), "7.") ||
               g_str_has_prefix (asm_qemu_get_version (b), "8.") ||
               g_str_has_prefix (asm_qemu_get_version (b), "9."));
  print_message ("# QEMU %s, pid %d, QMP at %s\n", asm_qemu_get_version (b),
                 (int) asm_qemu_get_pid (b), asm_qemu_get_socket_path (b));

  argv = asm_qemu_get_argv (b);
  assert_non_null (argv);
  assert_true (strv_has (argv, "-S"));
  assert_true (strv_has (argv, "-nodefaults"));
  assert_true (strv_has (argv, "ICH9-LPC.acpi-pci-hotplug-with-bridge-"
                               "support=off"));
  assert_true (strv_has (argv, "xio3130-downstream,id=asm-ds2-3,bus=asm-us2,"
                               "chassis=2,slot=3,addr=3.0"));

  status = asm_qemu_command (b, "query-status", NULL, 0, &error);
  CHECK_OK (status != NULL, error);
  assert_non_null (strstr (status, "prelaunch"));

  /* QEMU's own words come back */
  assert_null (asm_qemu_command (b, "device_add",
                                 "{\"driver\": \"edu\", \"id\": \"x\", "
                                 "\"bus\": \"nope\"}",
                                 0, &error));
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "Bus 'nope' not found");
  g_clear_error (&error);
  assert_null (asm_qemu_command (b, "no-such-command", NULL, 0, &error));
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "no-such-command");
  g_clear_error (&error);
  assert_null (asm_qemu_command (b, "query-status", "[1, 2]", 0, &error));
  ASSERT_ERROR (error, ASM_ERROR_INVALID, "JSON object");
  g_clear_error (&error);
  assert_null (asm_qemu_command (b, "query-status", "{oops", 0, &error));
  ASSERT_ERROR (error, ASM_ERROR_PARSE, "arguments");
  g_clear_error (&error);

  devs = asm_qemu_list_devices (b, &error);
  CHECK_OK (devs != NULL, error);
  assert_int_equal (g_strv_length (devs), 0);
  t = tree (b);
  assert_non_null (strstr (t, "switch 'sw1' (asm-rp1 > asm-us1)"));
  assert_non_null (strstr (t, "port 3 asm-ds2-3: -\n"));
  assert_null (strstr (t, "elsewhere"));
}

typedef struct {
  GMainLoop *loop;
  guint n_replies;
  guint n_errors;
  guint n_deleted;
  GPtrArray *events;
} AsyncState;

static void
async_reply (GObject *source, GAsyncResult *res, gpointer user_data)
{
  AsyncState *st = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *r = NULL;

  r = asm_qemu_command_finish (NULL, res, &error);
  if (r == NULL)
    st->n_errors++;
  else
    st->n_replies++;
}

static void
async_event (AsmBackend *b, const char *event, const char *data,
             gpointer user_data)
{
  AsyncState *st = user_data;

  g_ptr_array_add (st->events, g_strdup_printf ("%s %s", event, data));
  if (strcmp (event, "DEVICE_DELETED") == 0 && strstr (data, "async-edu"))
    st->n_deleted++;
}

static gboolean
give_up (gpointer p)
{
  fail_msg ("the main loop test did not finish in 20 s");
  return G_SOURCE_REMOVE;
}

static void
test_async (void **state)
{
  g_autoptr (AsmBackend) b = START (NULL, two_switches, 2);
  AsyncState st = { 0 };
  GMainContext *ctx = g_main_context_new ();
  GSource *guard;
  guint watch;

  g_main_context_push_thread_default (ctx);
  st.events = g_ptr_array_new_with_free_func (g_free);
  watch = asm_qemu_add_event_watch (b, async_event, &st, NULL);
  assert_true (watch != 0);
  guard = g_timeout_source_new_seconds (20);
  g_source_set_callback (guard, give_up, NULL, NULL);
  g_source_attach (guard, ctx);

  /* five commands in flight at once, one refused */
  asm_qemu_command_async (b, "query-status", NULL, NULL, async_reply, &st);
  asm_qemu_command_async (b, "qom-list", "{\"path\": \"/machine/peripheral\"}",
                          NULL, async_reply, &st);
  asm_qemu_command_async (b, "device_add",
                          "{\"driver\": \"edu\", \"id\": \"async-edu\", "
                          "\"bus\": \"asm-ds1-1\", \"addr\": \"0x0\"}",
                          NULL, async_reply, &st);
  asm_qemu_command_async (b, "device_add",
                          "{\"driver\": \"edu\", \"id\": \"async-edu2\", "
                          "\"bus\": \"asm-ds1-1\", \"addr\": \"0x0\"}",
                          NULL, async_reply, &st);
  asm_qemu_command_async (b, "device_del", "{\"id\": \"async-edu\"}", NULL,
                          async_reply, &st);
  while (st.n_replies + st.n_errors < 5 || st.n_deleted < 1)
    g_main_context_iteration (ctx, TRUE);
  assert_int_equal (st.n_replies, 4);
  assert_int_equal (st.n_errors, 1);
  assert_int_equal (st.n_deleted, 1);
  print_message ("# events: %s\n", (char *) st.events->pdata[0]);

  /* a cancelled command fails with G_IO_ERROR_CANCELLED */
  {
    GCancellable *c = g_cancellable_new ();
    g_cancellable_cancel (c);
    asm_qemu_command_async (b, "query-status", NULL, c, async_reply, &st);
    while (st.n_replies + st.n_errors < 6)
      g_main_context_iteration (ctx, TRUE);
    assert_int_equal (st.n_errors, 2);
    g_object_unref (c);
  }

  asm_qemu_remove_event_watch (b, watch);
  g_source_destroy (guard);
  g_source_unref (guard);
  g_main_context_pop_thread_default (ctx);
  while (g_main_context_iteration (ctx, FALSE))
    ;
  g_main_context_unref (ctx);
  g_ptr_array_unref (st.events);
}

/* ---------------------------------------------------------------------- */
/* launch                                                                 */
/* ---------------------------------------------------------------------- */

static void
test_launch_errors (void **state)
{
  g_autoptr (GError) error = NULL;
  AsmQemuConfig cfg = { 0 };
  const char *bad_args[] = { "-device", "no-such-device-model", NULL };
  AsmQemuSwitch zero[] = { { "z", 0 } };
  AsmQemuSwitch dup[] = { { "a", 1 }, { "a", 2 } };
  double t0;

  cfg.binary = "/nonexistent/qemu-system-x86_64";
  assert_null (asm_qemu_backend_new (&cfg, two_switches, 2, &error));
  ASSERT_ERROR (error, ASM_ERROR_NOT_FOUND, "/nonexistent/");
  g_clear_error (&error);

  cfg.binary = NULL;
  cfg.extra_args = bad_args;
  t0 = now_s ();
  assert_null (asm_qemu_backend_new (&cfg, two_switches, 2, &error));
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "no-such-device-model");
  print_message ("# refused launch reported in %.0f ms: %s\n",
                 (now_s () - t0) * 1e3, error->message);
  g_clear_error (&error);

  assert_null (asm_qemu_backend_new (NULL, zero, 1, &error));
  ASSERT_ERROR (error, ASM_ERROR_INVALID, "ports");
  g_clear_error (&error);
  assert_null (asm_qemu_backend_new (NULL, dup, 2, &error));
  ASSERT_ERROR (error, ASM_ERROR_INVALID, "share");
  g_clear_error (&error);
}

/* ---------------------------------------------------------------------- */
/* bind and unbind through the ops table                                  */
/* ---------------------------------------------------------------------- */

static void
test_bind_unbind (void **state)
{
  g_autoptr (AsmBackend) b = START (NULL, two_switches, 2);
  const AsmBackendOps *ops = asm_qemu_get_ops ();
  gpointer self = asm_backend_get_self (b);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) devs = NULL;
  g_autofree char *bus = NULL;
  double t0, t_bind, t_unbind;

  /* switches are matched by name, against the launched topology */
  assert_false (ops->switch_add (self, 10, "sw9", 4, 8, &error));
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "no such switch");
  g_clear_error (&error);
  assert_false (ops->switch_add (self, 10, "sw1", 5, 8, &error));
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "5 ports asked");
  g_clear_error (&error);
  CHECK_OK (ops->switch_add (self, 10, "sw1", 4, 8, &error), error);
  CHECK_OK (ops->switch_add (self, 10, "sw1", 4, 8, &error), error);
  CHECK_OK (ops->switch_add (self, 11, "sw2", 2, 8, &error), error);
  assert_false (ops->switch_add (self, 12, "sw2", 2, 8, &error));
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "joined as switch 11");
  g_clear_error (&error);

  /* bind: present, behind the port */
  t0 = now_s ();
  assert_int_equal (ops->device_bind (self, 7, "nic", 10, 2, &error),
                    ASM_BACKEND_DONE);
  t_bind = now_s () - t0;
  devs = asm_qemu_list_devices (b, &error);
  CHECK_OK (devs != NULL, error);
  assert_int_equal (g_strv_length (devs), 1);
  assert_string_equal (devs[0], "asm-dev-7");
  g_clear_pointer (&devs, g_strfreev);
  bus = bus_of (b, 7);
  assert_string_equal (bus, "asm-ds1-2");
  g_clear_pointer (&bus, g_free);

  /* binding it again at its port changes nothing */
  assert_int_equal (ops->device_bind (self, 7, "nic", 10, 2, &error),
                    ASM_BACKEND_DONE);
  /* it is bound: binding it elsewhere is refused */
  assert_int_equal (ops->device_bind (self, 7, "nic", 11, 0, &error),
                    ASM_BACKEND_FAILED);
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "unbind it first");
  g_clear_error (&error);
  /* the port is taken: QEMU says so */
  assert_int_equal (ops->device_bind (self, 8, "gpu", 10, 2, &error),
                    ASM_BACKEND_FAILED);
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "in use by edu,id=asm-dev-7");
  g_clear_error (&error);
  assert_null (bus_of (b, 8));
  /* no such port, no such switch */
  assert_int_equal (ops->device_bind (self, 8, "gpu", 11, 2, &error),
                    ASM_BACKEND_FAILED);
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "ports 0 to 1");
  g_clear_error (&error);
  assert_int_equal (ops->device_bind (self, 8, "gpu", 99, 0, &error),
                    ASM_BACKEND_FAILED);
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "switch 99");
  g_clear_error (&error);

  /* unbinding at another port leaves it alone */
  assert_int_equal (ops->device_unbind (self, 7, 10, 1, &error),
                    ASM_BACKEND_DONE);
  bus = bus_of (b, 7);
  assert_string_equal (bus, "asm-ds1-2");
  g_clear_pointer (&bus, g_free);

  /* unbind: pending until DEVICE_DELETED, then gone */
  t0 = now_s ();
  assert_int_equal (ops->device_unbind (self, 7, 10, 2, &error),
                    ASM_BACKEND_PENDING);
  CHECK_OK (ops->device_wait (self, 7, 5000, &error), error);
  t_unbind = now_s () - t0;
  devs = asm_qemu_list_devices (b, &error);
  CHECK_OK (devs != NULL, error);
  assert_int_equal (g_strv_length (devs), 0);
  assert_null (bus_of (b, 7));
  print_message ("# bind %.1f ms, unbind + DEVICE_DELETED %.1f ms\n",
                 t_bind * 1e3, t_unbind * 1e3);

  /* idempotent inverses: an absent device unbinds; nothing to wait for */
  assert_int_equal (ops->device_unbind (self, 7, 10, 2, &error),
                    ASM_BACKEND_DONE);
  CHECK_OK (ops->device_wait (self, 7, 10, &error), error);
  CHECK_OK (ops->device_wait (self, 1234, 10, &error), error);

  /* the port is free again */
  assert_int_equal (ops->device_bind (self, 8, "gpu", 10, 2, &error),
                    ASM_BACKEND_DONE);
  bus = bus_of (b, 8);
  assert_string_equal (bus, "asm-ds1-2");
}

/* ---------------------------------------------------------------------- */
/* the fabric on QEMU                                                     */
/* ---------------------------------------------------------------------- */

static void
test_migration (void **state)
{
  Scene *s = SCENE (START (NULL, two_switches, 2), 3);
  g_autoptr (GError) error = NULL;
  g_autofree char *before = NULL, *after = NULL, *back = NULL;
  AsmPartitionInfo pi;
  double t0;

  before = tree (s->b);
  t0 = now_s ();
  CHECK_OK (asm_fabric_migrate_partition (s->f, s->p, s->sw2, &error), error);
  print_message ("# migration of 3 devices: %.0f ms\n", (now_s () - t0) * 1e3);
  assert_true (asm_fabric_get_partition_info (s->f, s->p, &pi));
  assert_int_equal (pi.switch_id, s->sw2);
  for (guint i = 0; i < s->n_dev; i++)
    {
      AsmDeviceInfo di;
      assert_true (asm_fabric_get_device_info (s->f, s->dev[i], &di));
      assert_int_equal (di.switch_id, s->sw2);
      CHECK_PLACEMENT (s->b, s->f, s->dev[i]);
    }
  after = tree (s->b);
  print_message ("# QOM before:\n%s# QOM after:\n%s", before, after);
  assert_non_null (strstr (after, "port 0 asm-ds2-0: asm-dev-"));
  assert_string_not_equal (before, after);
  CHECK_OK (asm_fabric_check (s->f, &error), error);

  /* and back: the same QOM tree as at first */
  CHECK_OK (asm_fabric_migrate_partition (s->f, s->p, s->sw1, &error), error);
  for (guint i = 0; i < s->n_dev; i++)
    CHECK_PLACEMENT (s->b, s->f, s->dev[i]);
  back = tree (s->b);
  assert_string_equal (before, back);
  scene_free (s);
}

/* A switch drained for service and removed: its partition's devices move
 * to the other switch in QEMU, the device that stayed is unplugged by
 * remove_device, and the switch leaves the fabric (its bridges stay in the
 * machine: QEMU cannot unplug them without a guest). */
static void
test_drain_remove (void **state)
{
  Scene *s = SCENE (START (NULL, two_switches, 2), 3);
  g_autoptr (GError) error = NULL;
  g_autofree char *qom = NULL;
  AsmId stay, again;
  AsmSwitchSpec spec = { "sw1", 64000, 300, 16, 4, FALSE };

  CHECK_OK (asm_fabric_add_device (s->f, "stay", ASM_DEVICE_ENDPOINT, MIB,
                                   s->sw1, 3, &stay, &error), error);
  CHECK_PLACEMENT (s->b, s->f, stay);
  CHECK_OK (asm_fabric_drain_switch (s->f, s->sw1, &error), error);
  for (guint i = 0; i < s->n_dev; i++)
    CHECK_PLACEMENT (s->b, s->f, s->dev[i]);
  CHECK_PLACEMENT (s->b, s->f, stay); /* unmapped: stays bound */
  assert_false (asm_fabric_remove_switch (s->f, s->sw1, &error));
  assert_int_equal (error->code, ASM_ERROR_IN_USE);
  g_clear_error (&error);
  CHECK_OK (asm_fabric_remove_device (s->f, stay, &error), error);
  {
    g_autofree char *bus = bus_of (s->b, stay);
    assert_null (bus); /* device_del completed */
  }
  CHECK_OK (asm_fabric_remove_switch (s->f, s->sw1, &error), error);
  CHECK_OK (asm_fabric_check (s->f, &error), error);
  qom = tree (s->b);
  print_message ("# QOM after the drain and removal:\n%s", qom);
  assert_null (strstr (qom, "asm-ds1-0: asm-dev-"));
  /* the machine's switch can join again under a new id */
  CHECK_OK (asm_fabric_add_switch (s->f, &spec, &again, &error), error);
  assert_true (again != s->sw1);
  {
    AsmId d;
    CHECK_OK (asm_fabric_add_device (s->f, "back", ASM_DEVICE_ENDPOINT, MIB,
                                     again, 0, &d, &error), error);
    CHECK_PLACEMENT (s->b, s->f, d);
  }
  scene_free (s);
}

static void
test_refused_step (void **state)
{
  Scene *s = SCENE (START (NULL, two_switches, 2), 3);
  g_autoptr (GError) error = NULL;
  g_autofree char *t_before = NULL, *t_after = NULL, *m_before = NULL,
                  *m_after = NULL, *port = NULL, *args = NULL, *r = NULL;
  guint n_rolled = 0;

  /* a device QEMU has and the fabric does not know, where the fabric will
   * put the second device */
  port = asm_qemu_get_port_id (s->b, s->sw2, 1);
  args = g_strdup_printf ("{\"driver\": \"edu\", \"id\": \"intruder\", "
                          "\"bus\": \"%s\", \"addr\": \"0x0\"}", port);
  r = asm_qemu_command (s->b, "device_add", args, 0, &error);
  CHECK_OK (r != NULL, error);

  t_before = tree (s->b);
  m_before = asm_fabric_save (s->f, NULL);
  assert_false (asm_fabric_migrate_partition (s->f, s->p, s->sw2, &error));
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "in use by edu,id=intruder");
  assert_non_null (strstr (error->message, "undone"));
  print_message ("# refused: %s\n", error->message);
  g_clear_error (&error);
  t_after = tree (s->b);
  m_after = asm_fabric_save (s->f, NULL);
  assert_string_equal (t_before, t_after);
  assert_string_equal (m_before, m_after);
  for (guint i = 0; i < s->n_dev; i++)
    CHECK_PLACEMENT (s->b, s->f, s->dev[i]);
  CHECK_OK (asm_fabric_check (s->f, &error), error);
  (void) n_rolled;

  /* without the intruder the same migration goes through */
  g_free (r);
  r = asm_qemu_command (s->b, "device_del", "{\"id\": \"intruder\"}", 0,
                        &error);
  CHECK_OK (r != NULL, error);
  for (guint i = 0; i < 500; i++)
    {
      g_auto (GStrv) devs = asm_qemu_list_devices (s->b, NULL);
      if (!strv_has (devs, "intruder"))
        break;
      g_usleep (10000);
    }
  CHECK_OK (asm_fabric_migrate_partition (s->f, s->p, s->sw2, &error), error);
  for (guint i = 0; i < s->n_dev; i++)
    CHECK_PLACEMENT (s->b, s->f, s->dev[i]);
  scene_free (s);
}

static void
test_killed (void **state)
{
  Scene *s = SCENE (START (NULL, two_switches, 2), 2);
  g_autoptr (GError) error = NULL;
  g_autofree char *m_before = NULL, *m_after = NULL;
  g_auto (GStrv) devs = NULL;
  double t0, t;

  m_before = asm_fabric_save (s->f, NULL);
  /* commands: device_del edu0, device_add edu0, device_del edu1 <- dies */
  asm_qemu_kill_before_command (s->b, 3);
  t0 = now_s ();
  assert_false (asm_fabric_migrate_partition (s->f, s->p, s->sw2, &error));
  t = now_s () - t0;
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "QEMU exited");
  print_message ("# killed mid-migration, reported in %.0f ms: %s\n", t * 1e3,
                 error->message);
  g_clear_error (&error);
  assert_true (t < 5.0);
  assert_false (asm_qemu_is_alive (s->b));
  m_after = asm_fabric_save (s->f, NULL);
  assert_string_equal (m_before, m_after);

  /* every later call fails at once */
  t0 = now_s ();
  devs = asm_qemu_list_devices (s->b, &error);
  assert_null (devs);
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "QEMU exited");
  g_clear_error (&error);
  assert_null (asm_qemu_command (s->b, "query-status", NULL, 0, &error));
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "QEMU exited");
  g_clear_error (&error);
  assert_false (asm_fabric_migrate_partition (s->f, s->p, s->sw2, &error));
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, NULL);
  g_clear_error (&error);
  {
    const AsmBackendOps *ops = asm_qemu_get_ops ();
    gpointer self = asm_backend_get_self (s->b);
    assert_int_equal (ops->device_bind (self, 50, "x", s->sw1, 3, &error),
                      ASM_BACKEND_FAILED);
    ASSERT_ERROR (error, ASM_ERROR_BACKEND, "QEMU exited");
    g_clear_error (&error);
    assert_int_equal (ops->device_unbind (self, s->dev[0], s->sw1, 0, &error),
                      ASM_BACKEND_FAILED);
    ASSERT_ERROR (error, ASM_ERROR_BACKEND, "QEMU exited");
    g_clear_error (&error);
  }
  t = now_s () - t0;
  print_message ("# five calls after the death failed in %.1f ms in all\n",
                 t * 1e3);
  assert_true (t < 5.0);
  g_free (m_after);
  m_after = asm_fabric_save (s->f, NULL);
  assert_string_equal (m_before, m_after);
  scene_free (s);
}

static void
test_killed_idle (void **state)
{
  Scene *s = SCENE (START (NULL, two_switches, 2), 1);
  g_autoptr (GError) error = NULL;
  g_autofree char *m_before = asm_fabric_save (s->f, NULL), *m_after = NULL;
  double t0;

  assert_true (asm_qemu_kill (s->b));
  t0 = now_s ();
  assert_false (asm_fabric_migrate_partition (s->f, s->p, s->sw2, &error));
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "QEMU exited");
  g_clear_error (&error);
  assert_false (asm_fabric_add_device (s->f, "late", ASM_DEVICE_ENDPOINT, MIB,
                                       s->sw2, 3, NULL, &error));
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "QEMU exited");
  assert_true (now_s () - t0 < 5.0);
  m_after = asm_fabric_save (s->f, NULL);
  assert_string_equal (m_before, m_after);
  scene_free (s);
}

/* ---------------------------------------------------------------------- */
/* timeouts                                                               */
/* ---------------------------------------------------------------------- */

static void
test_timeout (void **state)
{
  AsmQemuConfig cfg = { 0 };
  g_autoptr (AsmBackend) b = NULL;
  const AsmBackendOps *ops = asm_qemu_get_ops ();
  gpointer self;
  g_autoptr (GError) error = NULL;
  g_autofree char *bus = NULL, *r = NULL;
  GPid pid;
  double t0, t;

  cfg.command_timeout_ms = 300;
  b = START (&cfg, two_switches, 2);
  self = asm_backend_get_self (b);
  pid = asm_qemu_get_pid (b);
  CHECK_OK (ops->switch_add (self, 1, "sw1", 4, 8, &error), error);
  CHECK_OK (ops->switch_add (self, 2, "sw2", 4, 8, &error), error);

  assert_int_equal (kill (pid, SIGSTOP), 0);
  t0 = now_s ();
  assert_null (asm_qemu_command (b, "query-status", NULL, 200, &error));
  t = now_s () - t0;
  ASSERT_ERROR (error, ASM_ERROR_TIMEOUT, "within 200 ms");
  g_clear_error (&error);
  print_message ("# a 200 ms timeout fired after %.0f ms\n", t * 1e3);
  assert_true (t >= 0.19 && t < 5.0);

  /* a bind that times out; QEMU carries it out once it runs again */
  assert_int_equal (ops->device_bind (self, 42, "slow", 1, 3, &error),
                    ASM_BACKEND_FAILED);
  ASSERT_ERROR (error, ASM_ERROR_TIMEOUT, "no reply from QEMU");
  g_clear_error (&error);
  assert_int_equal (kill (pid, SIGCONT), 0);
  r = asm_qemu_command (b, "query-status", NULL, 0, &error);
  CHECK_OK (r != NULL, error);
  assert_true (asm_qmp_get_n_late_replies (asm_qemu_get_qmp (b)) >= 2);
  bus = bus_of (b, 42);
  assert_string_equal (bus, "asm-ds1-3"); /* the late device_add */
  g_clear_pointer (&bus, g_free);
  /* the next bind of that device repairs the leftover */
  assert_int_equal (ops->device_bind (self, 42, "slow", 2, 0, &error),
                    ASM_BACKEND_DONE);
  bus = bus_of (b, 42);
  assert_string_equal (bus, "asm-ds2-0");
  g_clear_pointer (&bus, g_free);
  {
    g_auto (GStrv) devs = asm_qemu_list_devices (b, &error);
    CHECK_OK (devs != NULL, error);
    assert_int_equal (g_strv_length (devs), 1);
  }

  /* a fabric whose first QEMU call times out: nothing changes */
  {
    Scene *s = SCENE (asm_backend_ref (b), 0);
    g_autofree char *m_before = asm_fabric_save (s->f, NULL), *m_after = NULL;

    assert_int_equal (kill (pid, SIGSTOP), 0);
    assert_false (asm_fabric_add_device (s->f, "d", ASM_DEVICE_ENDPOINT, MIB,
                                         s->sw1, 1, NULL, &error));
    ASSERT_ERROR (error, ASM_ERROR_BACKEND, "no reply from QEMU within");
    g_clear_error (&error);
    m_after = asm_fabric_save (s->f, NULL);
    assert_string_equal (m_before, m_after);
    assert_int_equal (kill (pid, SIGCONT), 0);
    scene_free (s);
  }
}

static gpointer
kill_later (gpointer pid)
{
  g_usleep (300000);
  kill (GPOINTER_TO_INT (pid), SIGKILL);
  return NULL;
}

static void
test_unplug_timeout (void **state)
{
  /* a device on the command line: without a guest, its unplug never
   * completes (as measured on QEMU 7.2) */
  const char *extra[] = { "-device", "edu,id=asm-dev-77,bus=asm-ds1-3,addr=0x0",
                          NULL };
  AsmQemuConfig cfg = { 0 };
  g_autoptr (AsmBackend) b = NULL;
  const AsmBackendOps *ops = asm_qemu_get_ops ();
  gpointer self;
  g_autoptr (GError) error = NULL;
  double t0, t;

  cfg.extra_args = extra;
  b = START (&cfg, two_switches, 2);
  self = asm_backend_get_self (b);
  CHECK_OK (ops->switch_add (self, 1, "sw1", 4, 8, &error), error);
  assert_int_equal (ops->device_unbind (self, 77, 1, 3, &error),
                    ASM_BACKEND_PENDING);
  t0 = now_s ();
  assert_false (ops->device_wait (self, 77, 300, &error));
  t = now_s () - t0;
  ASSERT_ERROR (error, ASM_ERROR_TIMEOUT, "DEVICE_DELETED");
  g_clear_error (&error);
  assert_true (t >= 0.29 && t < 5.0);
  /* still unplugging: a second unbind waits again */
  assert_int_equal (ops->device_unbind (self, 77, 1, 3, &error),
                    ASM_BACKEND_PENDING);

  /* QEMU dying wakes a long wait at once */
  {
    GThread *killer = g_thread_new ("killer", kill_later,
                                    GINT_TO_POINTER (asm_qemu_get_pid (b)));
    t0 = now_s ();
    assert_false (ops->device_wait (self, 77, 60000, &error));
    t = now_s () - t0;
    g_thread_join (killer);
  }
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "QEMU exited");
  print_message ("# a 60 s wait ended %.0f ms after QEMU started to die\n",
                 t * 1e3);
  assert_true (t < 5.0);
}

/* ---------------------------------------------------------------------- */
/* attach and for-fabric                                                  */
/* ---------------------------------------------------------------------- */

static void
test_attach (void **state)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("asm-qemu-test-XXXXXX", NULL);
  g_autofree char *sock = g_build_filename (dir, "qmp.sock", NULL);
  g_auto (GStrv) argv = NULL;
  const AsmQemuSwitch wrong[] = { { "sw1", 8 } };
  AsmBackend *b = NULL;
  const AsmBackendOps *ops = asm_qemu_get_ops ();
  GPid pid;
  g_autofree char *bus = NULL;

  argv = asm_qemu_build_argv (NULL, two_switches, 2, sock, &error);
  CHECK_OK (argv != NULL, error);
  CHECK_OK (g_spawn_async (NULL, argv, NULL,
                           G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                               G_SPAWN_STDOUT_TO_DEV_NULL,
                           NULL, NULL, &pid, &error),
            error);
  for (guint i = 0; i < 1000 && b == NULL; i++)
    {
      g_clear_error (&error);
      b = asm_qemu_backend_attach (sock, NULL, two_switches, 2, &error);
      if (b == NULL)
        g_usleep (10000);
    }
  CHECK_OK (b != NULL, error);
  assert_int_equal (asm_qemu_get_pid (b), 0);
  assert_null (asm_qemu_get_argv (b));
  assert_false (asm_qemu_kill (b));
  CHECK_OK (ops->switch_add (asm_backend_get_self (b), 1, "sw2", 4, 4,
                             &error),
            error);
  assert_int_equal (ops->device_bind (asm_backend_get_self (b), 3, "d", 1, 1,
                                      &error),
                    ASM_BACKEND_DONE);
  asm_backend_unref (b);
  assert_int_equal (kill (pid, 0), 0); /* still running */

  /* attach again with a topology the machine does not have */
  b = asm_qemu_backend_attach (sock, NULL, wrong, 1, &error);
  CHECK_OK (b != NULL, error);
  bus = bus_of (b, 3);
  assert_string_equal (bus, "asm-ds2-1"); /* the device is still there */
  assert_false (ops->switch_add (asm_backend_get_self (b), 1, "sw1", 8, 4,
                                 &error));
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "no port 'asm-ds1-4'");
  g_clear_error (&error);
  asm_backend_unref (b);

  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
  g_spawn_close_pid (pid);
  g_unlink (sock);
  g_rmdir (dir);
}

static void
test_for_fabric (void **state)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AsmFabric) model = NULL, f = NULL;
  g_autoptr (AsmBackend) b = NULL;
  AsmSwitchSpec spec = { NULL, 64000, 300, 16, 4, FALSE };
  AsmPartitionRequest req = { 0 };
  AsmId a, c, d1, d2, d3, w, p;
  g_autofree char *json = NULL, *t = NULL;
  g_auto (GStrv) devs = NULL;

  model = asm_fabric_new ("model", BASE, BASE + 1024 * MIB - 1, GRAN, NULL,
                          &error);
  CHECK_OK (model != NULL, error);
  g_assert_true (asm_fabric_set_window_granule (model, 64 * MIB, NULL));
  spec.name = "a";
  CHECK_OK (asm_fabric_add_switch (model, &spec, &a, &error), error);
  spec.name = "c";
  spec.n_ports = 2;
  CHECK_OK (asm_fabric_add_switch (model, &spec, &c, &error), error);
  CHECK_OK (asm_fabric_add_device (model, "d1", ASM_DEVICE_ENDPOINT, MIB, a,
                                   0, &d1, &error),
            error);
  CHECK_OK (asm_fabric_add_device (model, "d2", ASM_DEVICE_ENDPOINT, MIB, a,
                                   3, &d2, &error),
            error);
  CHECK_OK (asm_fabric_add_device (model, "d3", ASM_DEVICE_PF, MIB, c, 1,
                                   &d3, &error),
            error);
  CHECK_OK (asm_fabric_add_workload (model, "vm", &w, &error), error);
  req.size = 16 * MIB;
  req.preferred_switch = a;
  CHECK_OK (asm_fabric_request_partition (model, w, &req, &p, NULL, &error),
            error);
  CHECK_OK (asm_fabric_map_device (model, p, d1, NULL, &error), error);
  CHECK_OK (asm_fabric_map_device (model, p, d2, NULL, &error), error);

  b = asm_qemu_backend_new_for_fabric (model, NULL, &error);
  CHECK_OK (b != NULL, error);
  devs = asm_qemu_list_devices (b, &error);
  CHECK_OK (devs != NULL, error);
  assert_int_equal (g_strv_length (devs), 3);
  CHECK_PLACEMENT (b, model, d1);
  CHECK_PLACEMENT (b, model, d2);
  CHECK_PLACEMENT (b, model, d3);
  t = tree (b);
  print_message ("# QOM of a machine built from a model:\n%s", t);

  json = asm_fabric_save (model, NULL);
  f = asm_fabric_restore (json, -1, b, &error);
  CHECK_OK (f != NULL, error);
  /* c has 2 ports, d3 on one: room for one of the two devices only */
  assert_false (asm_fabric_migrate_partition (f, p, c, &error));
  g_clear_error (&error);
  /* a switch the machine was not started with cannot join */
  spec.name = "x";
  assert_false (asm_fabric_add_switch (f, &spec, NULL, &error));
  ASSERT_ERROR (error, ASM_ERROR_BACKEND, "no such switch");
  g_clear_error (&error);
  {
    AsmId d4;
    CHECK_OK (asm_fabric_add_device (f, "d4", ASM_DEVICE_ENDPOINT, MIB, c, 0,
                                     &d4, &error),
              error);
    CHECK_PLACEMENT (b, f, d4);
  }
  CHECK_OK (asm_fabric_check (f, &error), error);
}

static void
test_expander (void **state)
{
  const AsmQemuSwitch sws[] = { { "plain", 2 }, { "far", 3, 40, TRUE } };
  g_autoptr (AsmBackend) b = START (NULL, sws, 2);
  const AsmBackendOps *ops = asm_qemu_get_ops ();
  gpointer self = asm_backend_get_self (b);
  g_autoptr (GError) error = NULL;
  g_autofree char *bus = NULL, *t = NULL;

  assert_true (strv_has (asm_qemu_get_argv (b),
                         "pxb-pcie,id=asm-pxb40,bus_nr=64,bus=pcie.0"));
  CHECK_OK (ops->switch_add (self, 5, "far", 3, 4, &error), error);
  assert_int_equal (ops->device_bind (self, 9, "d", 5, 2, &error),
                    ASM_BACKEND_DONE);
  bus = bus_of (b, 9);
  assert_string_equal (bus, "asm-ds40-2");
  t = tree (b);
  assert_non_null (strstr (t, "switch 'far' (asm-rp40 > asm-us40, expander "
                              "bus) = fabric switch 5"));
}

int
main (int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_commands),
    cmocka_unit_test (test_async),
    cmocka_unit_test (test_launch_errors),
    cmocka_unit_test (test_bind_unbind),
    cmocka_unit_test (test_migration),
    cmocka_unit_test (test_drain_remove),
    cmocka_unit_test (test_refused_step),
    cmocka_unit_test (test_killed),
    cmocka_unit_test (test_killed_idle),
    cmocka_unit_test (test_timeout),
    cmocka_unit_test (test_unplug_timeout),
    cmocka_unit_test (test_attach),
    cmocka_unit_test (test_for_fabric),
    cmocka_unit_test (test_expander),
  };
  g_autofree char *qemu = g_find_program_in_path ("qemu-system-x86_64");

  if (qemu == NULL)
    {
      fprintf (stderr, "\n*** SKIP: qemu-system-x86_64 not found in PATH; "
                       "the qemu backend is NOT tested.\n*** Install it "
                       "(Debian: apt-get install qemu-system-x86, or "
                       ".ci/install-deps).\n\n");
      printf ("1..0 # SKIP qemu-system-x86_64 not found\n");
      return 0;
    }
  return cmocka_run_group_tests_name ("qemu", tests, NULL, NULL);
}
