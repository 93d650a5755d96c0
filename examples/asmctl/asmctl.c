/* asmctl: the command-line front of asm
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One program, one subcommand per job; each subcommand lives in its own
 * asmctl-*.c file and parses its own options.  Exit codes: 0 success, 1 an
 * operation failed, 2 a bad command line, 3 a bad input file.
 */
#include "asmctl.h"

#include <stdlib.h>
#include <string.h>

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
  if (strcmp (argv[1], "demo") == 0)
    return asmctl_cmd_demo (argc - 1, argv + 1);
  if (strcmp (argv[1], "run") == 0)
    return asmctl_cmd_run (argc - 1, argv + 1);
  if (strcmp (argv[1], "script") == 0)
    return asmctl_cmd_script (argc - 1, argv + 1);
  if (strcmp (argv[1], "iova") == 0)
    return asmctl_cmd_iova (argc - 1, argv + 1);
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
