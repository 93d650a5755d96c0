/* bench-report.h: how the bench programs report
 *
 * The figures go to one stream (stdout, or stderr when the program prints
 * JSON on stdout); errors and wrong answers go to stderr, prefixed with
 * the program's name.  A wrong answer does not stop the run but makes the
 * exit status 1; timing never does.  Also the statistics every program
 * prints (the median of a sample, the machine's load average) and the
 * count of one function's instructions under callgrind.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <stdio.h>

G_BEGIN_DECLS

/* Before anything else: the name errors are prefixed with, and where the
 * figures go. */
void bench_report_init (const char *program, FILE *figures);

/* A figure, a table row, a heading: to the figures' stream, flushed. */
void say (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
/* An error that ends the run (exit status 1). */
void bench_die (const char *fmt, ...) G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN;
/* A wrong answer: reported, the run goes on, the exit status becomes 1. */
void bench_fail (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
/* 0, or 1 after bench_fail() */
int bench_exit_status (void);

/* The median of v[0..n-1] (-1 when n is 0). */
double bench_median (const double *v, guint n);
/* The first field of /proc/loadavg, or -1: timings on a shared machine
 * are read with it in mind. */
double bench_load_average (void);

/* What two back-to-back now_ns() calls cost, subtracted from per-op
 * timings (the smallest mean of a few batches; measured once). */
double bench_timer_overhead_ns (void);

/* Runs this program again under callgrind with args (a --callgrind mode
 * that prints "ops=N"), counting only the function fn as
 * run-callgrind.sh does, and stores the instructions per op; FALSE when
 * valgrind is missing or the run fails. */
gboolean bench_callgrind_ir_per_op (const char *fn, const char *const *args,
                                    double *out_ir);

G_END_DECLS
