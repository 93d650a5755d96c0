/* standalone.c: run a fuzz target on given inputs, without a fuzzing engine
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each argument is a file, run once through LLVMFuzzerTestOneInput(), or a
 * directory, whose regular files are run in name order (so the test suite
 * picks up new corpus files without reconfiguring).  This is how the corpus
 * runs as an ordinary test, and how a crash found by libFuzzer is replayed
 * in a build without it.  A target reports failure by aborting.
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static guint n_inputs;

static void
run_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &contents, &len, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      exit (EXIT_FAILURE);
    }
  LLVMFuzzerTestOneInput ((const uint8_t *) contents, len);
  n_inputs++;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

static void
run_dir (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = g_dir_open (path, 0, &error);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  guint k;

  if (dir == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      exit (EXIT_FAILURE);
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      char *full = g_build_filename (path, name, NULL);

      if (g_file_test (full, G_FILE_TEST_IS_REGULAR) && name[0] != '.')
        g_ptr_array_add (names, full);
      else
        g_free (full);
    }
  g_ptr_array_sort (names, compare_names);
  for (k = 0; k < names->len; k++)
    run_file (names->pdata[k]);
}

int
main (int argc, char **argv)
{
  int i;

  if (argc < 2)
    {
      fprintf (stderr, "usage: %s FILE|DIRECTORY...\n", argv[0]);
      return EXIT_FAILURE;
    }
  for (i = 1; i < argc; i++)
    {
      if (g_file_test (argv[i], G_FILE_TEST_IS_DIR))
        run_dir (argv[i]);
      else
        run_file (argv[i]);
    }
  printf ("ran %u inputs\n", n_inputs);
  return n_inputs > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
