/* bench-report.c: how the bench programs report (see bench-report.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench-report.h"

#include "bench-common.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#ifdef HAVE_VALGRIND_CALLGRIND_H
#define BENCH_HAVE_CALLGRIND TRUE
#else
#define BENCH_HAVE_CALLGRIND FALSE
#endif

static const char *program = "bench";
static FILE *figures;
static int exit_status;

void
bench_report_init (const char *name, FILE *out)
{
  program = name;
  figures = out;
}

static FILE *
figures_stream (void)
{
  return figures != NULL ? figures : stdout;
}

void
say (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vfprintf (figures_stream (), fmt, ap);
  va_end (ap);
  fflush (figures_stream ());
}

static void
report_to_stderr (const char *what, const char *fmt, va_list ap)
{
  fflush (figures_stream ());
  fprintf (stderr, "%s: %s: ", program, what);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
}

void
bench_die (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  report_to_stderr ("error", fmt, ap);
  va_end (ap);
  exit (1);
}

void
bench_fail (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  report_to_stderr ("FAIL", fmt, ap);
  va_end (ap);
  exit_status = 1;
}

int
bench_exit_status (void)
{
  return exit_status;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

double
bench_median (const double *v, guint n)
{
  double *c, m;

  if (n == 0)
    return -1;
  c = g_memdup2 (v, n * sizeof *v);
  qsort (c, n, sizeof *c, cmp_double);
  m = (n & 1) ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
  g_free (c);
  return m;
}

double
bench_load_average (void)
{
  g_autofree gchar *text = NULL;

  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return -1;
  return g_ascii_strtod (text, NULL);
}

double
bench_timer_overhead_ns (void)
{
  static double cached = -1;

  if (cached >= 0)
    return cached;
  for (guint r = 0; r < 5; r++)
    {
      guint64 total = 0;

      for (guint i = 0; i < 20000; i++)
        {
          guint64 t0 = now_ns ();

          total += now_ns () - t0;
        }
      if (cached < 0 || (double) total / 20000 < cached)
        cached = (double) total / 20000;
    }
  return cached;
}

gboolean
bench_callgrind_ir_per_op (const char *fn, const char *const *args,
                           double *out_ir)
{
  g_autofree gchar *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree gchar *valgrind = g_find_program_in_path ("valgrind");
  g_autofree gchar *out_path = NULL, *toggle = NULL, *file_arg = NULL;
  g_autofree gchar *child_out = NULL, *text = NULL, *tmpl = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  const char *p;
  double ops = -1, ir = -1;
  gint status = 0, fd;

  if (self == NULL || valgrind == NULL)
    return FALSE;
  tmpl = g_strdup_printf ("%s-XXXXXX.callgrind", program);
  fd = g_file_open_tmp (tmpl, &out_path, &error);
  if (fd < 0)
    return FALSE;
  close (fd);
  toggle = g_strdup_printf ("--toggle-collect=%s*", fn);
  file_arg = g_strdup_printf ("--callgrind-out-file=%s", out_path);
  g_ptr_array_add (argv, valgrind);
  g_ptr_array_add (argv, "--tool=callgrind");
  if (BENCH_HAVE_CALLGRIND)
    g_ptr_array_add (argv, "--instr-atstart=no");
  g_ptr_array_add (argv, toggle);
  g_ptr_array_add (argv, file_arg);
  g_ptr_array_add (argv, self);
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_sync (NULL, (gchar **) argv->pdata, NULL,
                     G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &child_out, NULL,
                     &status, &error)
      || !g_spawn_check_wait_status (status, &error)
      || !g_file_get_contents (out_path, &text, NULL, &error))
    {
      say ("  (callgrind run failed: %s)\n", error ? error->message : "?");
      g_unlink (out_path);
      return FALSE;
    }
  g_unlink (out_path);
  if ((p = strstr (child_out, " ops=")) != NULL)
    ops = g_ascii_strtod (p + 5, NULL);
  if ((p = strstr (text, "\ntotals:")) != NULL)
    ir = g_ascii_strtod (p + 8, NULL);
  else if ((p = strstr (text, "\nsummary:")) != NULL)
    ir = g_ascii_strtod (p + 9, NULL);
  if (ops <= 0 || ir < 0)
    return FALSE;
  *out_ir = ir / ops;
  return TRUE;
}
