/* test-fabric-undo.c: failed and interrupted operations (layer 3)
 *
 * A table of multi-step operations on one deterministic scene, each with
 * the exact sequence of backend steps its planner records, run with every
 * backend call failing in turn, with every kind of step failing, and with
 * the process "dying" after every number of calls: a failed operation
 * must name its step and leave the fabric, the global arena, every switch,
 * the simulated hardware, the observers and the drivers as they were; an
 * interrupted one must be undone (or, when all its calls ran, replayed)
 * by a fabric restored from the last save and recovered from the journal;
 * and a journal that cannot take a record fails the operation and leaves
 * the fabric as it was.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "fabric-test-common.h"

/* ---------------------------------------------------------------------- */
/* Log: the warnings a crashed fabric prints are expected                  */
/* ---------------------------------------------------------------------- */

static gboolean quiet_undo_warnings;
static guint n_quieted;

static void
log_handler (const char *domain, GLogLevelFlags level, const char *message,
             gpointer user_data)
{
  if (quiet_undo_warnings && (level & G_LOG_LEVEL_WARNING) &&
      (strstr (message, "undo of step") != NULL ||
       strstr (message, "cannot write a record") != NULL))
    {
      n_quieted++;
      return;
    }
  g_log_default_handler (domain, level, message, user_data);
}


/* ---------------------------------------------------------------------- */
/* The operations of the fault matrix                                     */
/* ---------------------------------------------------------------------- */

/* One deterministic "scene" (three switches, one pinned; endpoints, PFs
 * with VFs, two workloads, three partitions) and a table of multi-step
 * operations on it, each with the exact sequence of backend steps its
 * planner records (the order migration and function transfer need).  For
 * each operation the test runs it once to count its backend calls N,
 * checks N against the expected steps, then on a second identical scene
 * makes every call k = 1..N fail in turn (asm_sim_fail_call()) and checks
 * that the operation fails with ASM_ERROR_BACKEND naming "step i of n
 * (<the step that call k belongs to>", that the fabric, the global arena,
 * every switch and the simulated hardware are as before, that observers
 * heard exactly one ROLLED_BACK and that every held driver was resumed;
 * finally the operation runs without a fault on that same, many times
 * rolled back, fabric and must give the very bytes of the first run.  The
 * same again with asm_sim_fail_kind() for every AsmSimOp: the first step of
 * that kind fails, or, when the operation has none, it succeeds with the
 * same bytes. */

static gboolean
op_add_switch (Scene *s, GError **error)
{
  AsmSwitchSpec spec = { "D", 1000, 10, 4, 4, FALSE };
  return asm_fabric_add_switch (s->f, &spec, &s->out_id, error);
}

static gboolean
op_add_window (Scene *s, GError **error)
{
  return asm_fabric_add_window (s->f, s->b, BASE + 64 * MIB,
                                BASE + 72 * MIB - 1, error);
}

static gboolean
op_add_device (Scene *s, GError **error)
{
  return asm_fabric_add_device (s->f, "e3", ASM_DEVICE_ENDPOINT, MIB, s->a, 3,
                                &s->out_id, error);
}

static gboolean
op_create_vf (Scene *s, GError **error)
{
  return asm_fabric_create_vf (s->f, s->pf2, &s->out_id, error);
}

static gboolean
op_request (Scene *s, GError **error)
{
  AsmPartitionRequest req = { .size = 2 * MIB, .preferred_switch = s->a };
  return asm_fabric_request_partition (s->f, s->w2, &req, &s->out_id, NULL,
                                       error);
}

static gboolean
op_request_grow (Scene *s, GError **error)
{
  AsmPartitionRequest req = { .size = 2 * MIB, .preferred_switch = s->b,
                              .bandwidth_demand = 100 };
  return asm_fabric_request_partition (s->f, s->w2, &req, &s->out_id, NULL,
                                       error);
}

static gboolean
op_map_move (Scene *s, GError **error)
{
  return asm_fabric_map_device (s->f, s->p1, s->e2, NULL, error);
}

static gboolean
op_grow_in_place (Scene *s, GError **error)
{
  return asm_fabric_grow_partition (s->f, s->p3, 4 * MIB, error);
}

static gboolean
op_grow_relocate (Scene *s, GError **error)
{
  return asm_fabric_grow_partition (s->f, s->p2, 8 * MIB, error);
}

static gboolean
op_migrate (Scene *s, GError **error)
{
  return asm_fabric_migrate_partition (s->f, s->p2, s->b, error);
}

static gboolean
op_migrate_shrink (Scene *s, GError **error)
{
  return asm_fabric_migrate_partition (s->f, s->p3, s->b, error);
}

static gboolean
op_release (Scene *s, GError **error)
{
  return asm_fabric_release_partition (s->f, s->p3, error);
}

static gboolean
op_release_redirected (Scene *s, GError **error)
{
  return asm_fabric_release_partition (s->f, s->p1, error);
}

static gboolean
op_transfer (Scene *s, GError **error)
{
  return asm_fabric_transfer_vf (s->f, s->vf1, s->pf2, &s->out_id, error);
}

static gboolean
op_transfer_again (Scene *s, GError **error)
{
  return asm_fabric_transfer_vf (s->f, s->nvf, s->pf1, &s->out_id, error);
}

static gboolean
op_unmap_redirected (Scene *s, GError **error)
{
  return asm_fabric_unmap_device (s->f, s->p1, s->nvf, error);
}

static gboolean
op_shrink (Scene *s, GError **error)
{
  return asm_fabric_shrink_partition (s->f, s->p1, 2 * MIB, error);
}

static void
prep_vf2 (Scene *s)
{
  OK (asm_fabric_create_vf (s->f, s->pf2, &s->nvf, &error));
}

static gboolean
op_destroy_vf (Scene *s, GError **error)
{
  return asm_fabric_destroy_vf (s->f, s->nvf, error);
}

static gboolean
op_remove_device (Scene *s, GError **error)
{
  return asm_fabric_remove_device (s->f, s->e2, error);
}

/* P3 (no device) on B, in a window B grew for it */
static void
prep_p3_on_b (Scene *s)
{
  OK (asm_fabric_migrate_partition (s->f, s->p3, s->b, &error));
}

static gboolean
op_drain_b (Scene *s, GError **error)
{
  return asm_fabric_drain_switch (s->f, s->b, error);
}

static void
prep_drain_c (Scene *s)
{
  OK (asm_fabric_drain_switch (s->f, s->c, &error));
}

static gboolean
op_remove_c (Scene *s, GError **error)
{
  return asm_fabric_remove_switch (s->f, s->c, error);
}

static gboolean
op_remove_w2 (Scene *s, GError **error)
{
  return asm_fabric_remove_workload (s->f, s->w2, error);
}

static gboolean
op_migrate_w2 (Scene *s, GError **error)
{
  return asm_fabric_migrate_workload (s->f, s->w2, s->b, error);
}

#define MAX_STEPS 16

typedef struct {
  const char *name;
  void (*prep) (Scene *s);
  gboolean (*run) (Scene *s, GError **error);
  const char *steps[MAX_STEPS]; /* the backend steps, in order */
} OpCase;

static const OpCase op_cases[] = {
  { "add_switch", NULL, op_add_switch, { "switch_add" } },
  { "add_window", NULL, op_add_window, { "windows_commit", "root_routes" } },
  { "add_device", NULL, op_add_device, { "device_bind" } },
  { "create_vf", NULL, op_create_vf, { "vf_create" } },
  { "request_partition", NULL, op_request, { "xlat_set" } },
  { "request_partition with window growth", NULL, op_request_grow,
    { "windows_commit", "root_routes", "xlat_set" } },
  { "map_device moving an endpoint", NULL, op_map_move,
    { "device_unbind", "device_bind" } },
  { "grow in place", NULL, op_grow_in_place, { "xlat_set" } },
  { "grow by relocation", NULL, op_grow_relocate,
    { "device_hold", "device_hold", "xlat_set", "device_unbind",
      "device_bind", "xlat_remove", "cache_flush", "device_release",
      "device_release" } },
  { "migrate with devices", NULL, op_migrate,
    { "device_hold", "device_hold", "windows_commit", "root_routes",
      "xlat_set", "device_unbind", "device_bind", "xlat_remove",
      "cache_flush", "device_release", "device_release" } },
  { "migrate giving a window back", NULL, op_migrate_shrink,
    { "windows_commit", "root_routes", "xlat_set", "xlat_remove",
      "cache_flush", "root_routes", "windows_commit" } },
  { "release", NULL, op_release,
    { "xlat_remove", "cache_flush", "root_routes", "windows_commit" } },
  { "release with a redirected VF", prep_transfer, op_release_redirected,
    { "xlat_remove", "xlat_remove", "root_routes", "windows_commit",
      "cache_flush" } },
  { "transfer_vf", NULL, op_transfer,
    { "vf_create", "windows_commit", "root_routes", "device_hold",
      "xlat_set", "device_release", "vf_destroy" } },
  { "transfer_vf of a redirected VF", prep_transfer, op_transfer_again,
    { "vf_create", "device_hold", "xlat_set", "xlat_remove",
      "root_routes", "windows_commit", "device_release", "vf_destroy" } },
  { "unmap_device of a redirected VF", prep_transfer, op_unmap_redirected,
    { "xlat_remove", "root_routes", "windows_commit" } },
  { "shrink_partition", NULL, op_shrink, { "xlat_set", "cache_flush" } },
  { "destroy_vf", prep_vf2, op_destroy_vf, { "vf_destroy" } },
  { "remove_device", NULL, op_remove_device, { "device_unbind" } },
  { "drain_switch", prep_p3_on_b, op_drain_b,
    { "xlat_set", "xlat_remove", "cache_flush", "root_routes",
      "windows_commit" } },
  { "remove_switch", prep_drain_c, op_remove_c, { "switch_remove" } },
  { "remove_workload", NULL, op_remove_w2,
    { "xlat_remove", "cache_flush" } },
  { "migrate_workload", NULL, op_migrate_w2,
    { "device_hold", "device_hold", "windows_commit", "root_routes",
      "xlat_set", "device_unbind", "device_bind", "xlat_remove",
      "cache_flush", "device_release", "device_release" } },
};

/* backend calls a step makes on the sim (no pending binds) */
static guint
step_calls (const char *step)
{
  return g_str_has_prefix (step, "xlat_") ? 3 : 1;
}

static AsmSimOp
step_kind (const char *step)
{
  static const struct {
    const char *step;
    AsmSimOp kind;
  } kinds[] = {
    { "switch_add", ASM_SIM_OP_ANY },
    { "switch_remove", ASM_SIM_OP_ANY },
    { "root_routes", ASM_SIM_OP_ROOT },
    { "windows_commit", ASM_SIM_OP_WINDOWS },
    { "xlat_set", ASM_SIM_OP_XLAT },
    { "xlat_remove", ASM_SIM_OP_XLAT },
    { "device_bind", ASM_SIM_OP_BIND },
    { "device_unbind", ASM_SIM_OP_UNBIND },
    { "device_hold", ASM_SIM_OP_HOLD },
    { "device_release", ASM_SIM_OP_HOLD },
    { "vf_create", ASM_SIM_OP_VF },
    { "vf_destroy", ASM_SIM_OP_VF },
    { "cache_flush", ASM_SIM_OP_FLUSH },
  };
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    if (strcmp (kinds[i].step, step) == 0)
      return kinds[i].kind;
  g_assert_not_reached ();
}

static guint
case_n_steps (const OpCase *c)
{
  guint n = 0;
  while (n < MAX_STEPS && c->steps[n] != NULL)
    n++;
  return n;
}

static guint
case_n_calls (const OpCase *c)
{
  guint n = 0;
  for (guint i = 0; i < case_n_steps (c); i++)
    n += step_calls (c->steps[i]);
  return n;
}

/* the index of the step that call k (1-based) belongs to */
static guint
step_of_call (const OpCase *c, guint k)
{
  guint n = 0;
  for (guint i = 0; i < case_n_steps (c); i++)
    {
      n += step_calls (c->steps[i]);
      if (k <= n)
        return i;
    }
  g_assert_not_reached ();
}

/* Runs the case on a fresh scene; returns the saved state after it. */
static char *
case_reference (const OpCase *c, guint *out_calls)
{
  Scene s;
  g_autoptr (GError) error = NULL;
  guint64 n0;
  char *after;

  scene_build (&s, NULL);
  if (c->prep)
    c->prep (&s);
  n0 = asm_sim_get_n_calls (s.sim);
  if (!c->run (&s, &error))
    fail_msg ("%s: %s", c->name, error->message);
  *out_calls = (guint) (asm_sim_get_n_calls (s.sim) - n0);
  CONSISTENT (s.f, s.sim);
  after = asm_fabric_save (s.f, NULL);
  scene_clear (&s);
  return after;
}


/* One failure checked: code, message, state, events, drivers. */
static void
check_failure (const OpCase *c, Scene *s, const Snap *before, GError *error,
               gboolean ok, guint step, const char *how, EvLog *ev,
               DrvLog *drv, GString *problems)
{
  g_autofree char *want = NULL;
  g_autofree char *why = NULL;
  g_autoptr (GError) verr = NULL;
  guint n = case_n_steps (c);

  if (ok)
    {
      g_string_append_printf (problems, "%s (%s): succeeded\n", c->name, how);
      return;
    }
  if (error->domain != ASM_ERROR || error->code != ASM_ERROR_BACKEND)
    g_string_append_printf (problems, "%s (%s): code %s: %s\n", c->name, how,
                            test_code_name (error->code), error->message);
  want = g_strdup_printf ("step %u of %u (%s", step + 1, n, c->steps[step]);
  if (strstr (error->message, want) == NULL ||
      strstr (error->message, "injected fault") == NULL ||
      strstr (error->message, "the fabric is as it was") == NULL)
    g_string_append_printf (problems, "%s (%s): message '%s' lacks '%s'\n",
                            c->name, how, error->message, want);
  why = snap_diff (s->f, before);
  if (why != NULL)
    g_string_append_printf (problems, "%s (%s): %s\n", c->name, how, why);
  if (!asm_fabric_check (s->f, &verr) || !asm_sim_verify (s->sim, s->f, &verr))
    g_string_append_printf (problems, "%s (%s): %s\n", c->name, how,
                            verr->message);
  if (ev->events->len != 1 ||
      g_array_index (ev->events, Ev, 0).kind != ASM_EVENT_ROLLED_BACK ||
      ev->problems->len > 0)
    g_string_append_printf (problems, "%s (%s): %u events (%s), expected one "
                            "ROLLED_BACK\n", c->name, how, ev->events->len,
                            ev->problems->str);
  if (drv->holds != drv->resumes || strstr (drv->log->str, "m") != NULL)
    g_string_append_printf (problems, "%s (%s): drivers '%s': every hold "
                            "must be resumed, nothing moved\n", c->name, how,
                            drv->log->str);
}

static void
test_fault_matrix (void **state)
{
  g_autoptr (GString) problems = g_string_new (NULL);
  guint total_calls = 0, total_faults = 0;

  for (guint ci = 0; ci < G_N_ELEMENTS (op_cases); ci++)
    {
      const OpCase *c = &op_cases[ci];
      g_autofree char *after = NULL;
      g_autofree char *again = NULL;
      guint n_calls;
      Scene s;
      Snap before = { 0 };
      EvLog ev;
      DrvLog drv;
      g_autoptr (GError) error = NULL;

      after = case_reference (c, &n_calls);
      if (n_calls != case_n_calls (c))
        {
          g_string_append_printf (problems, "%s: %u backend calls, expected "
                                  "%u for steps", c->name, n_calls,
                                  case_n_calls (c));
          for (guint i = 0; i < case_n_steps (c); i++)
            g_string_append_printf (problems, " %s", c->steps[i]);
          g_string_append_c (problems, '\n');
          continue;
        }

      scene_build (&s, NULL);
      if (c->prep)
        c->prep (&s);
      evlog_init (&ev);
      drvlog_init (&drv);
      asm_fabric_add_observer (s.f, record_event, &ev);
      asm_fabric_set_driver_funcs (s.f, &drv_funcs, &drv);
      snap_take (s.f, &before);
      for (guint k = 1; k <= n_calls; k++)
        {
          g_autofree char *how = g_strdup_printf ("call %u of %u failed", k,
                                                  n_calls);
          GError *err = NULL;
          gboolean ok;

          evlog_reset (&ev);
          drvlog_reset (&drv);
          asm_sim_fail_call (s.sim, k);
          ok = c->run (&s, &err);
          check_failure (c, &s, &before, err, ok, step_of_call (c, k), how,
                         &ev, &drv, problems);
          g_clear_error (&err);
          total_faults++;
        }
      asm_sim_fail_call (s.sim, 0);
      /* after n failures, the same operation gives the same bytes */
      evlog_reset (&ev);
      drvlog_reset (&drv);
      if (!c->run (&s, &error))
        g_string_append_printf (problems, "%s: fails after the faults: %s\n",
                                c->name, error->message);
      else
        {
          again = asm_fabric_save (s.f, NULL);
          if (strcmp (again, after) != 0)
            g_string_append_printf (problems, "%s: the state after the "
                                    "faults differs from a clean run\n",
                                    c->name);
          if (drv.holds != drv.resumes || ev.problems->len > 0 ||
              evlog_count (&ev, ASM_EVENT_ROLLED_BACK) != 0)
            g_string_append_printf (problems, "%s: drivers '%s', events "
                                    "'%s'\n", c->name, drv.log->str,
                                    ev.problems->str);
        }
      print_message ("# %-40s %2u steps, %2u calls, each failed once\n",
                     c->name, case_n_steps (c), n_calls);
      total_calls += n_calls;
      snap_clear (&before);
      scene_clear (&s);
      evlog_clear (&ev);
      drvlog_clear (&drv);
    }
  print_message ("# fault matrix: %u operations, %u injected faults\n",
                 (guint) G_N_ELEMENTS (op_cases), total_faults);
  REPORT (problems);
}

static void
test_fault_kinds (void **state)
{
  static const AsmSimOp kinds[] = {
    ASM_SIM_OP_ANY, ASM_SIM_OP_WINDOWS, ASM_SIM_OP_XLAT, ASM_SIM_OP_BIND,
    ASM_SIM_OP_UNBIND, ASM_SIM_OP_HOLD, ASM_SIM_OP_VF, ASM_SIM_OP_FLUSH,
  };
  g_autoptr (GString) problems = g_string_new (NULL);
  guint n_failed = 0, n_passed = 0;

  for (guint ci = 0; ci < G_N_ELEMENTS (op_cases); ci++)
    {
      const OpCase *c = &op_cases[ci];
      guint n_calls;
      g_autofree char *after = case_reference (c, &n_calls);

      for (guint ki = 0; ki < G_N_ELEMENTS (kinds); ki++)
        {
          Scene s;
          Snap before = { 0 };
          EvLog ev;
          DrvLog drv;
          GError *err = NULL;
          gboolean ok;
          guint step = G_MAXUINT;
          g_autofree char *how = g_strdup_printf ("kind %d failing",
                                                  kinds[ki]);

          for (guint i = 0; i < case_n_steps (c) && step == G_MAXUINT; i++)
            if (kinds[ki] == ASM_SIM_OP_ANY ||
                step_kind (c->steps[i]) == kinds[ki])
              step = i;
          scene_build (&s, NULL);
          if (c->prep)
            c->prep (&s);
          evlog_init (&ev);
          drvlog_init (&drv);
          asm_fabric_add_observer (s.f, record_event, &ev);
          asm_fabric_set_driver_funcs (s.f, &drv_funcs, &drv);
          snap_take (s.f, &before);
          asm_sim_fail_kind (s.sim, kinds[ki], TRUE);
          ok = c->run (&s, &err);
          asm_sim_fail_kind (s.sim, kinds[ki], FALSE);
          if (step != G_MAXUINT)
            {
              check_failure (c, &s, &before, err, ok, step, how, &ev, &drv,
                             problems);
              n_failed++;
            }
          else if (!ok)
            g_string_append_printf (problems, "%s (%s): no step of that kind, "
                                    "yet it failed: %s\n", c->name, how,
                                    err->message);
          else
            {
              g_autofree char *now = asm_fabric_save (s.f, NULL);
              if (strcmp (now, after) != 0)
                g_string_append_printf (problems, "%s (%s): differs from a "
                                        "clean run\n", c->name, how);
              n_passed++;
            }
          g_clear_error (&err);
          snap_clear (&before);
          scene_clear (&s);
          evlog_clear (&ev);
          drvlog_clear (&drv);
        }
    }
  print_message ("# fail_kind: %u operation x kind pairs failed as expected, "
                 "%u had no step of the kind and succeeded\n", n_failed,
                 n_passed);
  REPORT (problems);
}

/* ---------------------------------------------------------------------- */
/* Crashes and the journal                                                */
/* ---------------------------------------------------------------------- */

/* For the operations of the fault matrix and every k = 0..N, the process
 * "dies" after k calls (asm_sim_crash_after()); a new fabric restored from
 * the last save on the same simulated hardware recovers from the journal
 * and must equal the state before the operation (or after it, when all N
 * calls ran and the operation committed), match the hardware, and carry
 * on.  Committed operations after the save are replayed, an undone one is
 * skipped. */

/* Restores `json` on the sim of the crashed fabric and recovers it; checks
 * the result against `want`.  Returns the recovered fabric or NULL. */
static AsmFabric *
recover_and_compare (AsmBackend *sim, const char *json, const char *journal,
                     const char *want, const char *what, GString *problems)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *got = NULL;
  AsmFabric *f2;

  f2 = asm_fabric_restore (json, -1, sim, &error);
  if (f2 == NULL)
    {
      g_string_append_printf (problems, "%s: restore: %s\n", what,
                              error->message);
      return NULL;
    }
  if (!asm_fabric_recover (f2, journal, &error))
    {
      g_string_append_printf (problems, "%s: recover: %s\n", what,
                              error->message);
      asm_fabric_unref (f2);
      return NULL;
    }
  if (!asm_sim_verify (sim, f2, &error) || !asm_fabric_check (f2, &error))
    {
      g_string_append_printf (problems, "%s: after recovery: %s\n", what,
                              error->message);
      asm_fabric_unref (f2);
      return NULL;
    }
  got = asm_fabric_save (f2, NULL);
  if (!same_but_seq (got, want))
    {
      g_string_append_printf (problems, "%s: recovered state differs:\n"
                              "want:\n%s\ngot:\n%s\n", what, want, got);
      asm_fabric_unref (f2);
      return NULL;
    }
  return f2;
}

static void
test_crash_recovery (void **state)
{
  g_autoptr (GString) problems = g_string_new (NULL);
  g_autofree char *journal = journal_path ("crash");
  guint n_runs = 0;

  quiet_undo_warnings = TRUE;
  for (guint ci = 0; ci < G_N_ELEMENTS (op_cases); ci++)
    {
      const OpCase *c = &op_cases[ci];
      guint n_calls;
      g_autofree char *after = case_reference (c, &n_calls);

      for (guint k = 0; k <= n_calls; k++)
        {
          g_autofree char *what = g_strdup_printf ("%s, crash after %u of %u "
                                                   "calls", c->name, k,
                                                   n_calls);
          g_autofree char *before = NULL;
          Scene s;
          GError *err = NULL;
          gboolean ok;
          AsmFabric *f2;

          scene_build (&s, journal);
          if (c->prep)
            c->prep (&s);
          before = asm_fabric_save (s.f, NULL);
          asm_sim_crash_after (s.sim, k);
          ok = c->run (&s, &err);
          if (ok != (k == n_calls))
            g_string_append_printf (problems, "%s: %s\n", what,
                                    ok ? "succeeded" : err->message);
          else if (!ok && (err->code != ASM_ERROR_BACKEND ||
                           strstr (err->message, "simulated crash") == NULL))
            g_string_append_printf (problems, "%s: %s\n", what, err->message);
          g_clear_error (&err);
          asm_sim_clear_faults (s.sim);
          /* the process is gone; the hardware stays */
          g_clear_pointer (&s.f, asm_fabric_unref);
          f2 = recover_and_compare (s.sim, before, journal,
                                    ok ? after : before, what, problems);
          if (f2 != NULL)
            {
              /* and the recovered fabric carries on */
              s.f = f2;
              if (!ok)
                {
                  if (!c->run (&s, &err))
                    g_string_append_printf (problems, "%s: after recovery "
                                            "the operation fails: %s\n",
                                            what, err->message);
                  else
                    {
                      g_autofree char *now = asm_fabric_save (s.f, NULL);
                      if (!same_but_seq (now, after))
                        g_string_append_printf (problems, "%s: after "
                                                "recovery the operation "
                                                "gives another state\n",
                                                what);
                      if (!asm_sim_verify (s.sim, s.f, &err))
                        g_string_append_printf (problems, "%s: %s\n", what,
                                                err->message);
                    }
                  g_clear_error (&err);
                }
            }
          scene_clear (&s);
          n_runs++;
        }
      print_message ("# crash: %-40s k = 0..%u\n", c->name, n_calls);
    }
  quiet_undo_warnings = FALSE;
  unlink (journal);
  print_message ("# crash recovery: %u crashes\n", n_runs);
  REPORT (problems);
}

/* Committed operations after the save are replayed; an undone one is not;
 * the one interrupted by the crash is undone. */
static void
test_journal_replay (void **state)
{
  g_autoptr (GString) problems = g_string_new (NULL);
  g_autofree char *journal = journal_path ("replay");
  gboolean done = FALSE;
  guint k;

  quiet_undo_warnings = TRUE;
  for (k = 0; !done && k < 100; k++)
    {
      g_autofree char *what = g_strdup_printf ("replay, then crash after %u "
                                               "calls of transfer_vf", k);
      g_autofree char *saved = NULL;
      g_autofree char *mid = NULL;
      g_autofree char *after = NULL;
      g_autoptr (GError) err = NULL;
      Scene s;
      AsmId p4;
      AsmFabric *f2;
      AsmPartitionRequest req = { .size = 2 * MIB, .preferred_switch = 0 };

      scene_build (&s, journal);
      saved = asm_fabric_save (s.f, NULL);
      /* committed 1: a request that grows a window on B */
      p4 = REQUEST (s.f, s.w2, 2 * MIB, s.b, 10, NULL);
      /* undone: a migration that fails at its third call */
      asm_sim_fail_call (s.sim, 3);
      FAILS (asm_fabric_migrate_partition (s.f, s.p2, s.b, &error), BACKEND,
             "injected fault");
      /* committed 2: the same migration; then 3: a policy request */
      OK (asm_fabric_migrate_partition (s.f, s.p2, s.b, &error));
      OK (asm_fabric_request_partition (s.f, s.w1, &req, NULL, NULL, &error));
      assert_int_equal (PINFO (s.f, p4).switch_id, s.b);
      assert_int_equal (PINFO (s.f, s.p2).switch_id, s.b);
      mid = asm_fabric_save (s.f, NULL);
      asm_sim_crash_after (s.sim, k);
      if (op_transfer (&s, &err))
        {
          /* all its calls ran: recovery replays it too */
          done = TRUE;
          after = asm_fabric_save (s.f, NULL);
        }
      g_clear_error (&err);
      asm_sim_clear_faults (s.sim);
      g_clear_pointer (&s.f, asm_fabric_unref);
      f2 = recover_and_compare (s.sim, saved, journal, done ? after : mid,
                                what, problems);
      if (f2 != NULL && !done)
        {
          s.f = f2;
          if (!op_transfer (&s, &err))
            g_string_append_printf (problems, "%s: then: %s\n", what,
                                    err->message);
          else if (!asm_sim_verify (s.sim, s.f, &err))
            g_string_append_printf (problems, "%s: then: %s\n", what,
                                    err->message);
        }
      else if (f2 != NULL)
        asm_fabric_unref (f2);
      scene_clear (&s);
    }
  quiet_undo_warnings = FALSE;
  unlink (journal);
  assert_true (done);
  print_message ("# journal replay: 3 committed and 1 undone operations "
                 "replayed, then transfer_vf crashed after k = 0..%u "
                 "calls\n", k - 1);
  REPORT (problems);
}

/* ---------------------------------------------------------------------- */
/* A full journal                                                         */
/* ---------------------------------------------------------------------- */

/* A journal that cannot take a record fails the operation, before its
 * first hardware step when it is the first record, and the fabric stays as
 * it was; what was committed stays recoverable.  The file is kept from
 * growing with RLIMIT_FSIZE (writes past it fail with EFBIG), at every
 * size from the one it has up to the one the operation needs. */
static void
test_journal_write_errors (void **state)
{
  g_autofree char *journal = journal_path ("full");
  g_autofree char *saved = NULL;
  struct rlimit old_limit;
  guint n_failed = 0, n_before_hardware = 0;
  Scene s;

  scene_build (&s, journal);
  saved = asm_fabric_save (s.f, NULL);
  g_assert_true (getrlimit (RLIMIT_FSIZE, &old_limit) == 0);
  signal (SIGXFSZ, SIG_IGN);
  quiet_undo_warnings = TRUE; /* an "undone" record may not fit either */
  for (guint extra = 0;; extra += 16)
    {
      struct stat st;
      struct rlimit lim = old_limit;
      g_autofree char *before = asm_fabric_save (s.f, NULL);
      g_autofree char *now = NULL;
      guint64 calls0 = asm_sim_get_n_calls (s.sim);
      g_autoptr (GError) err = NULL;
      gboolean ok;

      g_assert_true (stat (journal, &st) == 0);
      lim.rlim_cur = (rlim_t) st.st_size + extra;
      g_assert_true (setrlimit (RLIMIT_FSIZE, &lim) == 0);
      ok = op_migrate (&s, &err);
      g_assert_true (setrlimit (RLIMIT_FSIZE, &old_limit) == 0);
      if (ok)
        break;
      n_failed++;
      assert_int_equal (err->code, ASM_ERROR_FAILED);
      assert_non_null (strstr (err->message, "journal"));
      if (asm_sim_get_n_calls (s.sim) == calls0)
        n_before_hardware++;
      /* the model is as it was (the journal position may have moved:
       * records were written before the one that failed) */
      now = asm_fabric_save (s.f, NULL);
      assert_true (same_but_seq (now, before));
      CONSISTENT (s.f, s.sim);
    }
  assert_true (n_failed > 2);
  assert_true (n_before_hardware > 0);
  /* nothing half-written stayed behind: recovery reads every record and
   * reaches the state after the migration */
  {
    g_autofree char *want = asm_fabric_save (s.f, NULL);
    g_autofree char *got = NULL;
    AsmFabric *f2 = asm_fabric_restore (saved, -1, NULL, NULL);
    OK (asm_fabric_recover (f2, journal, &error));
    got = asm_fabric_save (f2, NULL);
    assert_true (same_but_seq (got, want));
    asm_fabric_unref (f2);
  }
  print_message ("# a full journal: %u migrations refused (%u before any "
                 "hardware step), each leaving the fabric as it was\n",
                 n_failed, n_before_hardware);
  quiet_undo_warnings = FALSE;
  signal (SIGXFSZ, SIG_DFL);
  unlink (journal);
  scene_clear (&s);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_journal_write_errors),
    cmocka_unit_test (test_fault_matrix),
    cmocka_unit_test (test_fault_kinds),
    cmocka_unit_test (test_crash_recovery),
    cmocka_unit_test (test_journal_replay),
  };

  g_log_set_handler ("asm", G_LOG_LEVEL_WARNING | G_LOG_FLAG_FATAL |
                     G_LOG_FLAG_RECURSION, log_handler, NULL);
  return cmocka_run_group_tests_name ("fabric-undo", tests, NULL, NULL);
}
