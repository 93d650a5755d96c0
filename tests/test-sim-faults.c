/* test-sim-faults.c: the sim backend's fault injection (layer 4)
 *
 * Every fault mode, through the AsmBackendOps table: one call failing
 * (asm_sim_fail_call(): counted from now, one-shot, before validation),
 * every call of a kind failing (asm_sim_fail_kind()), a simulated crash
 * after some calls and the restart that follows (asm_sim_crash_after()),
 * faults suppressed while a transaction is undone, the same for the root
 * routes, switch removal and usage counters, and each step of the script
 * of every operation failing in turn: the failed step changes nothing,
 * and retried, the script ends where it would have.  Every refused call
 * is checked to leave the dump unchanged and to report ASM_ERROR_BACKEND
 * naming the call; every test ends with asm_sim_check().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "sim-test-common.h"

/* ---------------------------------------------------------------------- */
/* Fault injection                                                        */
/* ---------------------------------------------------------------------- */

static void
test_sim_fail_call (void **state)
{
  Fx *fx = *state;

  two_switches (fx);
  assert_int_equal (asm_sim_get_n_calls (fx->b), 2);
  /* markers and xlat_abort are not counted; refused calls are */
  fx->ops->transaction_begin (fx->self, "t");
  fx->ops->undo_begin (fx->self);
  fx->ops->transaction_end (fx->self, FALSE);
  hw_abort (fx, 1);
  assert_int_equal (asm_sim_get_n_calls (fx->b), 2);
  HW_FAILS (hw_commit (fx, 1, &error), "no table update");
  assert_int_equal (asm_sim_get_n_calls (fx->b), 3);

  /* the next call */
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_begin (fx, 1, &error), "xlat_begin switch 1: injected fault "
                                      "(call 4)");
  /* one-shot: the call after it succeeds */
  OK (hw_begin (fx, 1, &error));
  assert_int_equal (asm_sim_get_n_calls (fx->b), 5);

  /* the third call from now, whatever it is */
  asm_sim_fail_call (fx->b, 3);
  OK (hw_set (fx, 1, 1, 0, &error));
  OK (hw_set (fx, 1, 2, 0, &error));
  HW_FAILS (hw_commit (fx, 1, &error), "xlat_commit switch 1: injected fault "
                                       "(call 8)");
  /* the failed commit left the update open */
  assert_dump_has (fx, "update open: 2 entries staged");
  OK (hw_commit (fx, 1, &error));
  OK (DONE (hw_bind (fx, 5, 1, 0, &error)));

  /* each kind of call can be hit; messages name the call */
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (NOT_FAILED (hw_bind (fx, 6, 1, 1, &error)),
            "device_bind device 6 to switch 1 port 1: injected fault (call "
            "11)");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (NOT_FAILED (hw_unbind (fx, 5, 1, 0, &error)),
            "device_unbind device 5 from switch 1 port 0: injected fault");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_hold (fx, 5, &error), "device_hold device 5: injected fault");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_release (fx, 5, &error), "device_release device 5: injected");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_vf_create (fx, 5, 0, 7, &error),
            "vf_create VF 7 at PF 5 index 0: "
            "injected fault");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_vf_destroy (fx, 5, 0, 7, &error),
            "vf_destroy VF 7 at PF 5 index "
            "0: injected fault");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_flush (fx, 1, 0, 1, &error),
            "cache_flush switch 1 range 0x0-0x1: "
            "injected fault");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_windows (fx, 1, &error, ASM_RANGE (0, 1)),
            "windows_commit switch 1: injected fault");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_switch (fx, 3, "sw3", 1, 1, &error), "switch_add switch 3: "
                                                    "injected fault");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_wait (fx, 5, &error), "device_wait device 5: injected fault");
  /* the injected fault comes before validation */
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_begin (fx, 9, &error), "xlat_begin switch 9: injected fault");

  /* a new request replaces the pending one; 0 cancels */
  asm_sim_fail_call (fx->b, 1);
  asm_sim_fail_call (fx->b, 2);
  OK (hw_flush (fx, 1, 0, 1, &error));
  HW_FAILS (hw_flush (fx, 1, 0, 1, &error), "injected fault");
  asm_sim_fail_call (fx->b, 1);
  asm_sim_fail_call (fx->b, 0);
  OK (hw_flush (fx, 1, 0, 1, &error));
  /* markers between the request and the call do not move it */
  asm_sim_fail_call (fx->b, 2);
  fx->ops->transaction_begin (fx->self, "t");
  OK (hw_begin (fx, 2, &error));
  hw_abort (fx, 2);
  HW_FAILS (hw_begin (fx, 2, &error), "injected fault");
  fx->ops->transaction_end (fx->self, TRUE);
  OK (hw_begin (fx, 2, &error));
  hw_abort (fx, 2);
  assert_false (asm_sim_is_crashed (fx->b));
  assert_check (fx);
}

static void
test_sim_fail_kind (void **state)
{
  Fx *fx = *state;

  two_switches (fx);
  OK (DONE (hw_bind (fx, 5, 1, 0, &error)));

  asm_sim_fail_kind (fx->b, ASM_SIM_OP_XLAT, TRUE);
  HW_FAILS (hw_begin (fx, 1, &error), "xlat_begin switch 1: injected fault");
  HW_FAILS (hw_begin (fx, 1, &error), "injected fault"); /* persistent */
  OK (hw_windows (fx, 1, &error, ASM_RANGE (0, 0xfff)));
  OK (hw_flush (fx, 1, 0, 1, &error));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_XLAT, FALSE);
  OK (hw_begin (fx, 1, &error));
  OK (hw_set (fx, 1, 1, 0, &error));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_XLAT, TRUE);
  HW_FAILS (hw_set (fx, 1, 2, 0, &error), "xlat_set switch 1 key 2: injected");
  HW_FAILS (hw_remove (fx, 1, 1, &error),
            "xlat_remove switch 1 key 1: injected");
  HW_FAILS (hw_commit (fx, 1, &error), "xlat_commit switch 1: injected");
  hw_abort (fx, 1); /* abort cannot fail */
  assert_dump_lacks (fx, "update open");
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_XLAT, FALSE);

  asm_sim_fail_kind (fx->b, ASM_SIM_OP_WINDOWS, TRUE);
  HW_FAILS (hw_windows (fx, 1, &error, ASM_RANGE (0, 1)), "injected fault");
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_WINDOWS, FALSE);

  asm_sim_fail_kind (fx->b, ASM_SIM_OP_BIND, TRUE);
  HW_FAILS (NOT_FAILED (hw_bind (fx, 6, 1, 1, &error)), "injected fault");
  OK (DONE (hw_unbind (fx, 5, 1, 0, &error)));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_BIND, FALSE);
  OK (DONE (hw_bind (fx, 5, 1, 0, &error)));

  asm_sim_fail_kind (fx->b, ASM_SIM_OP_UNBIND, TRUE);
  HW_FAILS (NOT_FAILED (hw_unbind (fx, 5, 1, 0, &error)), "injected fault");
  OK (DONE (hw_bind (fx, 6, 1, 1, &error)));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_UNBIND, FALSE);

  asm_sim_fail_kind (fx->b, ASM_SIM_OP_HOLD, TRUE);
  HW_FAILS (hw_hold (fx, 5, &error), "injected fault");
  HW_FAILS (hw_release (fx, 5, &error), "injected fault");
  OK (hw_vf_create (fx, 5, 0, 7, &error));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_HOLD, FALSE);

  asm_sim_fail_kind (fx->b, ASM_SIM_OP_VF, TRUE);
  HW_FAILS (hw_vf_create (fx, 5, 1, 8, &error), "injected fault");
  HW_FAILS (hw_vf_destroy (fx, 5, 0, 7, &error), "injected fault");
  OK (hw_hold (fx, 7, &error));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_VF, FALSE);

  asm_sim_fail_kind (fx->b, ASM_SIM_OP_FLUSH, TRUE);
  HW_FAILS (hw_flush (fx, 1, 0, 1, &error), "injected fault");
  OK (hw_release (fx, 7, &error));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_FLUSH, FALSE);

  /* ANY: every call, switch_add and device_wait included */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ANY, TRUE);
  HW_FAILS (hw_switch (fx, 3, "sw3", 1, 1, &error), "injected fault");
  HW_FAILS (hw_wait (fx, 5, &error), "injected fault");
  HW_FAILS (hw_flush (fx, 1, 0, 1, &error), "injected fault");
  HW_FAILS (hw_release (fx, 7, &error), "injected fault");
  /* kinds are independent: clearing one leaves the others */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_FLUSH, TRUE);
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ANY, FALSE);
  OK (hw_switch (fx, 3, "sw3", 1, 1, &error));
  HW_FAILS (hw_flush (fx, 1, 0, 1, &error), "injected fault");
  asm_sim_clear_faults (fx->b);
  OK (hw_flush (fx, 1, 0, 1, &error));
  assert_check (fx);
}

static void
test_sim_crash (void **state)
{
  Fx *fx = *state;
  g_autofree char *before = NULL, *after = NULL;
  guint64 n;

  two_switches (fx);
  OK (hw_begin (fx, 1, &error));
  asm_sim_crash_after (fx->b, 2);
  assert_false (asm_sim_is_crashed (fx->b));
  OK (hw_set (fx, 1, 1, 0x100, &error));
  assert_false (asm_sim_is_crashed (fx->b));
  OK (hw_set (fx, 1, 2, 0x200, &error));
  assert_true (asm_sim_is_crashed (fx->b));
  before = asm_sim_dump (fx->b);
  HW_FAILS (hw_commit (fx, 1, &error), "xlat_commit switch 1: simulated crash "
                                       "(call 6)");
  HW_FAILS (hw_flush (fx, 2, 0, 0, &error), "simulated crash");
  HW_FAILS (hw_switch (fx, 3, "sw3", 1, 1, &error), "simulated crash");
  /* the crash applies during undo too; abort does nothing */
  fx->ops->transaction_begin (fx->self, "t");
  fx->ops->undo_begin (fx->self);
  HW_FAILS (hw_remove (fx, 1, 2, &error), "simulated crash");
  hw_abort (fx, 1);
  fx->ops->transaction_end (fx->self, FALSE);
  HW_FAILS (NOT_FAILED (hw_bind (fx, 4, 1, 0, &error)), "simulated crash");
  assert_true (asm_sim_is_crashed (fx->b));
  after = asm_sim_dump (fx->b);
  assert_string_equal (before, after);
  assert_dump_has (fx, "update open: 2 entries staged");

  /* the restart: faults cleared, registers and the call count kept */
  n = asm_sim_get_n_calls (fx->b);
  asm_sim_clear_faults (fx->b);
  assert_false (asm_sim_is_crashed (fx->b));
  assert_int_equal (asm_sim_get_n_calls (fx->b), n);
  g_free (after);
  after = asm_sim_dump (fx->b);
  assert_string_equal (before, after);
  /* the recovering process finds the open update and aborts it */
  HW_FAILS (hw_begin (fx, 1, &error), "already open");
  hw_abort (fx, 1);
  OK (hw_begin (fx, 1, &error));
  OK (hw_commit (fx, 1, &error));
  assert_dump_has (fx, "table 0/4");

  /* crash_after (0): the very next call fails */
  asm_sim_crash_after (fx->b, 0);
  assert_true (asm_sim_is_crashed (fx->b));
  HW_FAILS (hw_flush (fx, 1, 0, 0, &error), "simulated crash");
  asm_sim_clear_faults (fx->b);
  OK (hw_flush (fx, 1, 0, 0, &error));
  assert_check (fx);
}

static void
test_sim_undo_suppresses_faults (void **state)
{
  Fx *fx = *state;

  two_switches (fx);
  OK (DONE (hw_bind (fx, 5, 1, 0, &error)));

  /* fail_kind: the forward step fails, the undo goes through */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ANY, TRUE);
  fx->ops->transaction_begin (fx->self, "move");
  HW_FAILS (hw_begin (fx, 1, &error), "injected fault");
  fx->ops->undo_begin (fx->self);
  OK (DONE (hw_unbind (fx, 5, 1, 0, &error)));
  OK (hw_begin (fx, 1, &error));
  OK (hw_set (fx, 1, 1, 0, &error));
  OK (hw_commit (fx, 1, &error));
  OK (hw_windows (fx, 1, &error, ASM_RANGE (0, 0xfff)));
  fx->ops->transaction_end (fx->self, FALSE);
  /* after the transaction the kind fails again */
  HW_FAILS (hw_flush (fx, 1, 0, 0, &error), "injected fault");
  /* and a new transaction starts outside any undo */
  fx->ops->transaction_begin (fx->self, "again");
  HW_FAILS (hw_flush (fx, 1, 0, 0, &error), "injected fault");
  fx->ops->transaction_end (fx->self, FALSE);
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ANY, FALSE);

  /* fail_call: a fault that falls inside the undo is spent */
  fx->ops->transaction_begin (fx->self, "t");
  asm_sim_fail_call (fx->b, 2);
  OK (DONE (hw_bind (fx, 5, 1, 0, &error)));
  fx->ops->undo_begin (fx->self);
  OK (DONE (hw_unbind (fx, 5, 1, 0, &error))); /* the targeted call */
  fx->ops->transaction_end (fx->self, FALSE);
  OK (DONE (hw_bind (fx, 5, 1, 0, &error)));
  OK (hw_flush (fx, 1, 0, 0, &error));

  /* the crash is not suppressed */
  fx->ops->transaction_begin (fx->self, "t");
  asm_sim_crash_after (fx->b, 0);
  fx->ops->undo_begin (fx->self);
  HW_FAILS (NOT_FAILED (hw_unbind (fx, 5, 1, 0, &error)), "simulated crash");
  fx->ops->transaction_end (fx->self, FALSE);
  asm_sim_clear_faults (fx->b);

  /* clear_faults forgets an undo in progress */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_FLUSH, TRUE);
  fx->ops->undo_begin (fx->self);
  OK (hw_flush (fx, 1, 0, 0, &error));
  asm_sim_clear_faults (fx->b);
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_FLUSH, TRUE);
  HW_FAILS (hw_flush (fx, 1, 0, 0, &error), "injected fault");
  asm_sim_clear_faults (fx->b);
  assert_check (fx);
}

/* root_routes, switch_remove and usage_read under every fault mode */
static void
test_sim_fault_new_calls (void **state)
{
  Fx *fx = *state;
  guint64 bytes = 12345;

  two_switches (fx);
  OK (hw_switch (fx, 3, "sw3", 1, 1, &error));
  OK (hw_begin (fx, 1, &error));
  OK (hw_set (fx, 1, 1, 0, &error));
  OK (hw_commit (fx, 1, &error));
  assert_int_equal (asm_sim_get_n_calls (fx->b), 6);

  /* one-shot, before validation; the messages name the call */
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_root (fx, 1, &error, ASM_RANGE (0, 0xfff)),
            "root_routes switch 1: injected fault (call 7)");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_root (fx, 9, &error, ASM_RANGE (1, 0)),
            "root_routes switch 9: injected fault (call 8)");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_switch_remove (fx, 3, &error),
            "switch_remove switch 3: injected fault (call 9)");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_switch_remove (fx, 99, &error),
            "switch_remove switch 99: injected fault");
  asm_sim_fail_call (fx->b, 1);
  HW_FAILS (hw_usage (fx, 1, 1, &bytes, &error),
            "usage_read switch 1 partition 1: injected fault (call 11)");
  /* the failed read answered nothing and did not count */
  assert_int_equal (bytes, 12345);
  assert_dump_lacks (fx, "usage:");
  assert_usage (fx, 1, 1, MIB / 4);
  assert_int_equal (asm_sim_get_n_calls (fx->b), 12);

  /* kinds: ROOT fails root_routes only */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ROOT, TRUE);
  HW_FAILS (hw_root (fx, 1, &error, ASM_RANGE (0, 0xfff)),
            "root_routes switch 1: injected fault");
  HW_FAILS (hw_root_v (fx, 1, NULL, 0, &error), "injected fault");
  OK (hw_windows (fx, 1, &error, ASM_RANGE (0, 0xfff)));
  OK (hw_flush (fx, 1, 0, 0xfff, &error));
  assert_usage (fx, 1, 1, MIB / 4 + MIB / 8);
  OK (hw_switch_remove (fx, 3, &error));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ROOT, FALSE);
  OK (hw_root (fx, 1, &error, ASM_RANGE (0, 0xfff)));
  /* nor does WINDOWS, which is windows_commit's */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_WINDOWS, TRUE);
  OK (hw_root (fx, 2, &error, ASM_RANGE (0x1000, 0x1fff)));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_WINDOWS, FALSE);

  /* USAGE fails usage_read only */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_USAGE, TRUE);
  HW_FAILS (hw_usage (fx, 1, 1, &bytes, &error),
            "usage_read switch 1 partition 1: injected fault");
  OK (hw_root (fx, 2, &error, ASM_RANGE (0x2000, 0x2fff)));
  OK (hw_switch (fx, 3, "sw3", 1, 1, &error));
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_USAGE, FALSE);
  assert_usage (fx, 1, 1, MIB / 4 + MIB / 8 * 2);

  /* ANY fails them all, switch_remove included */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ANY, TRUE);
  HW_FAILS (hw_root (fx, 2, &error, ASM_RANGE (0x3000, 0x3fff)),
            "injected fault");
  HW_FAILS (hw_switch_remove (fx, 3, &error), "switch_remove switch 3: "
                                              "injected fault");
  HW_FAILS (hw_usage (fx, 1, 1, &bytes, &error), "injected fault");
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ANY, FALSE);

  /* undo suppresses them: a failed root change and the undo of a
   * switch_add go through */
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ANY, TRUE);
  asm_sim_fail_kind (fx->b, ASM_SIM_OP_ROOT, TRUE);
  fx->ops->transaction_begin (fx->self, "grow");
  HW_FAILS (hw_root (fx, 2, &error, ASM_RANGE (0x2000, 0x3fff)),
            "injected fault");
  fx->ops->undo_begin (fx->self);
  OK (hw_root (fx, 2, &error, ASM_RANGE (0x2000, 0x2fff))); /* the old */
  OK (hw_switch_remove (fx, 3, &error));
  OK (hw_switch_remove (fx, 3, &error));
  fx->ops->transaction_end (fx->self, FALSE);
  HW_FAILS (hw_root (fx, 2, &error, ASM_RANGE (0x2000, 0x2fff)),
            "injected fault");
  asm_sim_clear_faults (fx->b);
  assert_dump_lacks (fx, "switch 3 ");
  /* a one-shot that falls on an undo call is spent */
  fx->ops->transaction_begin (fx->self, "t");
  asm_sim_fail_call (fx->b, 2);
  OK (hw_root (fx, 2, &error, ASM_RANGE (0x2000, 0x3fff)));
  fx->ops->undo_begin (fx->self);
  OK (hw_root (fx, 2, &error, ASM_RANGE (0x2000, 0x2fff)));
  fx->ops->transaction_end (fx->self, FALSE);
  OK (hw_root (fx, 2, &error, ASM_RANGE (0x2000, 0x2fff)));

  /* the crash stops them all, undo or not */
  asm_sim_crash_after (fx->b, 0);
  HW_FAILS (hw_root (fx, 1, &error, ASM_RANGE (0, 0xfff)),
            "root_routes switch 1: simulated crash");
  HW_FAILS (hw_switch_remove (fx, 2, &error),
            "switch_remove switch 2: simulated crash");
  HW_FAILS (hw_usage (fx, 1, 1, &bytes, &error),
            "usage_read switch 1 partition 1: simulated crash");
  fx->ops->transaction_begin (fx->self, "t");
  fx->ops->undo_begin (fx->self);
  HW_FAILS (hw_root_v (fx, 2, NULL, 0, &error), "simulated crash");
  HW_FAILS (hw_switch_remove (fx, 77, &error), "simulated crash");
  fx->ops->transaction_end (fx->self, FALSE);
  asm_sim_clear_faults (fx->b);
  assert_usage (fx, 1, 1, MIB / 4 + MIB / 8 * 3);
  assert_dump_has (fx, "root 0x0-0xfff: switch 1\n"
                       "root 0x2000-0x2fff: switch 2\n");
  assert_check (fx);
}

/* Fail each step of the script in turn: the failed step changes nothing,
 * and when it is retried the script ends where it would have. */
static void
test_sim_every_step_fails_cleanly (void **state)
{
  for (guint k = 0; k < N_STEPS; k++)
    {
      Fx *fx = fx_new ();
      g_autofree char *dump = NULL;

      for (guint i = 0; i < k; i++)
        OK (run_step (fx, i, &error));
      asm_sim_fail_call (fx->b, 1);
      HW_FAILS (run_step (fx, k, &error), "injected fault");
      assert_check (fx);
      for (guint i = k; i < N_STEPS; i++)
        OK (run_step (fx, i, &error));
      dump = asm_sim_dump (fx->b);
      assert_string_equal (dump, script_dump);
      assert_int_equal (asm_sim_get_n_calls (fx->b), N_STEPS + 1);
      fx_free (fx);
    }
}

int
main (void)
{
#define T(name) cmocka_unit_test_setup_teardown (name, setup, teardown)
  const struct CMUnitTest tests[] = {
    T (test_sim_fail_call),
    T (test_sim_fail_kind),
    T (test_sim_crash),
    T (test_sim_undo_suppresses_faults),
    T (test_sim_fault_new_calls),
    cmocka_unit_test (test_sim_every_step_fails_cleanly),
  };
#undef T

  return cmocka_run_group_tests_name ("sim-faults", tests, NULL, NULL);
}
