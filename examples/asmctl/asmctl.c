/* asmctl: the command-line front of asm
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One program, one subcommand per job; each subcommand lives in its own
 * asmctl-*.c file and parses its own options.  Exit codes: 0 success, 1 an
 * operation failed, 2 a bad command line, 3 a bad input file.
 */
#include "asmctl.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Clean exits on SIGINT and SIGTERM                                    */

/* The QEMU backend keeps QMP's socket and QEMU's log in
 * $TMPDIR/asm-qemu-XXXXXX/, with owner.pid holding the pid of the process
 * that made it, and removes it when the backend is freed.  A signal would
 * end asmctl before that, so asmctl catches SIGINT and SIGTERM on a
 * thread of its own (the main thread may be waiting on QEMU), removes the
 * directories this process made and exits with 128 + the signal, as the
 * shell reports a process killed by it.  QEMU, started with
 * PR_SET_PDEATHSIG, dies with asmctl.  A directory left by a process
 * killed with SIGKILL is removed by the next QEMU launch. */
static void
remove_own_qemu_dirs (void)
{
  const char *tmp = g_get_tmp_dir ();
  g_autoptr (GDir) d = g_dir_open (tmp, 0, NULL);
  g_autofree char *me = g_strdup_printf ("%d\n", (int) getpid ());
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *dir = NULL, *owner = NULL, *text = NULL;
      struct stat st;

      if (!g_str_has_prefix (name, "asm-qemu-"))
        continue;
      dir = g_build_filename (tmp, name, NULL);
      owner = g_build_filename (dir, "owner.pid", NULL);
      if (lstat (dir, &st) != 0 || !S_ISDIR (st.st_mode) ||
          st.st_uid != getuid () ||
          !g_file_get_contents (owner, &text, NULL, NULL) ||
          strcmp (text, me) != 0)
        continue;
      for (const char *const *f = (const char *const[]){ "qmp.sock",
                                                         "qemu.log",
                                                         "owner.pid", NULL };
           *f != NULL; f++)
        {
          g_autofree char *path = g_build_filename (dir, *f, NULL);
          g_unlink (path);
        }
      g_rmdir (dir);
    }
}

static gboolean
on_signal (gpointer data)
{
  int signum = GPOINTER_TO_INT (data);

  remove_own_qemu_dirs ();
  fflush (stdout);
  _exit (128 + signum);
  return G_SOURCE_REMOVE;
}

static gpointer
signal_thread (gpointer data)
{
  GMainContext *ctx = data;

  for (;;)
    g_main_context_iteration (ctx, TRUE);
  return NULL;
}

static void
catch_signals (void)
{
  GMainContext *ctx = g_main_context_new ();
  const int signals[] = { SIGINT, SIGTERM };

  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    {
      GSource *src = g_unix_signal_source_new (signals[i]);
      g_source_set_callback (src, on_signal, GINT_TO_POINTER (signals[i]),
                             NULL);
      g_source_attach (src, ctx);
      g_source_unref (src);
    }
  /* runs until the process exits */
  g_thread_unref (g_thread_new ("asmctl-signals", signal_thread, ctx));
}


static void
usage (FILE *out)
{
  fprintf (out,
           "Usage: asmctl COMMAND [ARGS...]\n"
           "\n"
           "Commands:\n"
           "  demo      run the embedded default scenario and print the result\n"
           "  run       run a fabric scenario file (asmctl run --help)\n"
           "  script    run a script of arena, address, PCI and fabric operations\n"
           "  iova      show an IOVA arena with its holes; allocate with constraints\n"
           "  pci       parse and format PCI addresses\n"
           "  pci assign|attach|detach  libvirt domain XML: PCI addresses as\n"
           "            libvirt assigns them (asmctl pci assign --help)\n"
           "  --bus session|system|ADDRESS fabric COMMAND [ARGS...] [--json]\n"
           "            talk to a running asmd, the fabric's D-Bus daemon:\n"
           "            status, request, map, migrate, translate, watch and\n"
           "            every other operation (asmctl --bus session fabric\n"
           "            --help lists them; each has --help)\n"
           "  help      show this text (also --help; --version)\n"
           "\n"
           "Everything that joins a fabric can leave it: script commands (and\n"
           "run steps, which write '_' for '-') unmap, shrink, destroy-vf,\n"
           "remove-device, drain, remove-switch, end-workload and\n"
           "migrate-workload, with root-map and sample to watch it (asmctl\n"
           "script --help and asmctl run --help list every command and step).\n"
           "\n"
           "Every command has --help.  Exit status: 0 success, 1 an operation\n"
           "failed, 2 a bad command line, 3 a bad input file.\n"
           "\n"
           "asm %d.%d.%d, the Address Space Manager.\n",
           ASM_MAJOR_VERSION, ASM_MINOR_VERSION, ASM_MICRO_VERSION);
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      usage (stderr);
      return 2;
    }
  catch_signals ();
  if (strcmp (argv[1], "demo") == 0)
    return asmctl_cmd_demo (argc - 1, argv + 1);
  if (strcmp (argv[1], "run") == 0)
    return asmctl_cmd_run (argc - 1, argv + 1);
  if (strcmp (argv[1], "script") == 0)
    return asmctl_cmd_script (argc - 1, argv + 1);
  if (strcmp (argv[1], "iova") == 0)
    return asmctl_cmd_iova (argc - 1, argv + 1);
  if (g_str_has_prefix (argv[1], "--bus") ||
      g_str_has_prefix (argv[1], "--dest") || strcmp (argv[1], "fabric") == 0)
    return asmctl_cmd_bus (argc - 1, argv + 1);
  if (strcmp (argv[1], "pci") == 0 && argc >= 3 &&
      strcmp (argv[2], "assign") == 0)
    return asmctl_cmd_pci_assign (argc - 2, argv + 2);
  if (strcmp (argv[1], "pci") == 0 && argc >= 3 &&
      strcmp (argv[2], "attach") == 0)
    return asmctl_cmd_pci_attach (argc - 2, argv + 2);
  if (strcmp (argv[1], "pci") == 0 && argc >= 3 &&
      strcmp (argv[2], "detach") == 0)
    return asmctl_cmd_pci_detach (argc - 2, argv + 2);
  if (strcmp (argv[1], "pci") == 0)
    return asmctl_cmd_pci (argc - 1, argv + 1);
  if (strcmp (argv[1], "--version") == 0)
    {
      printf ("asmctl (asm) %d.%d.%d\n", ASM_MAJOR_VERSION, ASM_MINOR_VERSION,
              ASM_MICRO_VERSION);
      return 0;
    }
  if (strcmp (argv[1], "help") == 0 || strcmp (argv[1], "--help") == 0 ||
      strcmp (argv[1], "-h") == 0)
    {
      usage (stdout);
      return 0;
    }
  fprintf (stderr, "asmctl: unknown command '%s'\n\n", argv[1]);
  usage (stderr);
  return 2;
}
