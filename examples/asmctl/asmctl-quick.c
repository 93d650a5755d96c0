/* asmctl-quick.c: `asmctl iova` and `asmctl pci`, answers on the spot
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   asmctl iova show   an IOVA arena (by default the x86 template: 48 bits,
 *                      4 KiB pages, the interrupt window carved out) and
 *                      its segments
 *   asmctl iova alloc  constrained allocations in that arena
 *   asmctl pci parse   PCI addresses, checked and normalised
 *   asmctl pci format  a PCI address from its four parts
 *
 * Every subcommand has --help and --json (one JSON document on stdout;
 * 64-bit quantities as "0x..." strings, as asm_fabric_save() writes them).
 * Exit codes: 0 success, 1 the operation failed (no room, a hole outside
 * the span), 2 a bad command line, 3 a bad address given to pci parse or
 * pci format.
 */
#include "asmctl.h"

#include <json-glib/json-glib.h>

#include <string.h>

#define HEX "0x%" G_GINT64_MODIFIER "x"

/* the x86 interrupt window, which no IOVA may cover */
#define X86_MSI_FIRST G_GUINT64_CONSTANT (0xfee00000)
#define X86_MSI_LAST G_GUINT64_CONSTANT (0xfeefffff)

static char *
hex (guint64 v)
{
  return g_strdup_printf (HEX, v);
}

static void
json_add_hex (JsonBuilder *b, const char *key, guint64 v)
{
  g_autofree char *s = hex (v);

  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, s);
}

static void
json_print (JsonBuilder *b)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = NULL;

  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
}

/* ------------------------------------------------------------------ */
/* asmctl iova                                                          */

typedef struct {
  char *span;
  char *quantum;
  char **holes;
  gboolean no_default_holes;
  gboolean json;
} IovaOptions;

typedef struct {
  AsmRange range;
  const char *label;
} Hole;

/* FIRST-LAST (inclusive) or FIRST+SIZE */
static gboolean
parse_range (const char *what, const char *text, AsmRange *out,
             GError **error)
{
  const char *sep = strpbrk (text, "-+");
  g_autofree char *a = NULL;
  guint64 first, second;
  GError *local = NULL;

  if (sep == NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "%s '%s' is not FIRST-LAST or FIRST+SIZE", what, text);
      return FALSE;
    }
  a = g_strndup (text, (gsize) (sep - text));
  if (!asmctl_parse_u64 (a, &first, &local) ||
      !asmctl_parse_u64 (sep + 1, &second, &local))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE, "%s: %s", what,
                   local->message);
      g_error_free (local);
      return FALSE;
    }
  if (*sep == '+')
    {
      if (second == 0 || second - 1 > G_MAXUINT64 - first)
        {
          g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                       "%s '%s': the size is 0 or runs past 2^64", what, text);
          return FALSE;
        }
      second = first + (second - 1);
    }
  if (second < first)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "%s '%s': the last address is below the first", what,
                   text);
      return FALSE;
    }
  *out = ASM_RANGE (first, second);
  return TRUE;
}

static gboolean
parse_option_u64 (const char *what, const char *text, guint64 *out,
                  GError **error)
{
  GError *local = NULL;

  if (text == NULL)
    return TRUE;
  if (!asmctl_parse_u64 (text, out, &local))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE, "%s: %s", what,
                   local->message);
      g_error_free (local);
      return FALSE;
    }
  return TRUE;
}

static void
add_template_entries (GOptionContext *ctx, IovaOptions *opts)
{
  GOptionEntry entries[] = {
    { "span", 0, 0, G_OPTION_ARG_STRING, &opts->span,
      "The managed space (default 0x0-0xffffffffffff, 48 bits)",
      "FIRST-LAST" },
    { "quantum", 0, 0, G_OPTION_ARG_STRING, &opts->quantum,
      "The page size, a power of two (default 4K)", "Q" },
    { "hole", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opts->holes,
      "Carve out a range (repeatable; FIRST-LAST or FIRST+SIZE)",
      "FIRST-LAST" },
    { "no-default-holes", 0, 0, G_OPTION_ARG_NONE, &opts->no_default_holes,
      "Leave out the x86 interrupt window 0xfee00000-0xfeefffff", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &opts->json,
      "Print one JSON document", NULL },
    { NULL }
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
}

static void
iova_options_clear (IovaOptions *opts)
{
  g_free (opts->span);
  g_free (opts->quantum);
  g_strfreev (opts->holes);
}

/* Builds the arena the options describe.  Returns an exit code; on
 * success *out_arena and *out_holes are set. */
static int
build_arena (const char *cmd, IovaOptions *opts, AsmArena **out_arena,
             GArray **out_holes, AsmRange *out_span)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AsmArena) arena = NULL;
  g_autoptr (GArray) holes = g_array_new (FALSE, FALSE, sizeof (Hole));
  AsmRange span = ASM_RANGE (0, (G_GUINT64_CONSTANT (1) << 48) - 1);
  guint64 quantum = 4096;

  if ((opts->span != NULL && !parse_range ("--span", opts->span, &span,
                                           &error)) ||
      !parse_option_u64 ("--quantum", opts->quantum, &quantum, &error))
    {
      fprintf (stderr, "asmctl iova %s: %s\n", cmd, error->message);
      return ASMCTL_EXIT_USAGE;
    }
  if (quantum == 0 || (quantum & (quantum - 1)) != 0)
    {
      fprintf (stderr, "asmctl iova %s: --quantum " HEX " is not a power of "
               "two\n", cmd, quantum);
      return ASMCTL_EXIT_USAGE;
    }
  if (!opts->no_default_holes &&
      span.first <= X86_MSI_LAST && span.last >= X86_MSI_FIRST)
    {
      /* the part of the window inside the span */
      Hole h = { ASM_RANGE (MAX (span.first, X86_MSI_FIRST),
                            MIN (span.last, X86_MSI_LAST)),
                 "x86 interrupt window" };
      g_array_append_val (holes, h);
    }
  for (guint i = 0; opts->holes != NULL && opts->holes[i] != NULL; i++)
    {
      Hole h = { ASM_RANGE (0, 0), "--hole" };
      if (!parse_range ("--hole", opts->holes[i], &h.range, &error))
        {
          fprintf (stderr, "asmctl iova %s: %s\n", cmd, error->message);
          return ASMCTL_EXIT_USAGE;
        }
      g_array_append_val (holes, h);
    }

  arena = asm_arena_new ("iova", quantum);
  if (!asm_arena_add_span (arena, span.first, span.last, &error))
    {
      fprintf (stderr, "asmctl iova %s: --span: %s\n", cmd, error->message);
      return ASMCTL_EXIT_FAILED;
    }
  for (guint i = 0; i < holes->len; i++)
    {
      Hole *h = &g_array_index (holes, Hole, i);
      if (!asm_arena_reserve (arena, h->range.first, h->range.last, &error))
        {
          fprintf (stderr, "asmctl iova %s: hole " HEX "-" HEX ": %s\n", cmd,
                   h->range.first, h->range.last, error->message);
          return ASMCTL_EXIT_FAILED;
        }
    }
  *out_arena = g_steal_pointer (&arena);
  *out_holes = g_steal_pointer (&holes);
  if (out_span != NULL)
    *out_span = span;
  return ASMCTL_EXIT_OK;
}

static const char *
hole_label (GArray *holes, const AsmRange *seg)
{
  for (guint i = 0; i < holes->len; i++)
    {
      Hole *h = &g_array_index (holes, Hole, i);
      if (h->range.first == seg->first && h->range.last == seg->last)
        return h->label;
    }
  return NULL;
}

typedef struct {
  GArray *holes;
  JsonBuilder *b;   /* --json */
} ShowData;

static gboolean
show_segment (const AsmRange *seg, AsmSegmentKind kind, gpointer user_data)
{
  ShowData *d = user_data;
  guint64 size = seg->last - seg->first + 1; /* 0: the whole 2^64 */
  const char *label = kind == ASM_SEGMENT_RESERVED
                          ? hole_label (d->holes, seg) : NULL;

  if (d->b != NULL)
    {
      json_builder_begin_object (d->b);
      json_add_hex (d->b, "first", seg->first);
      json_add_hex (d->b, "last", seg->last);
      json_builder_set_member_name (d->b, "kind");
      json_builder_add_string_value (d->b, asmctl_segment_kind_name (kind));
      json_add_hex (d->b, "size", size == 0 ? G_MAXUINT64 : size);
      if (label != NULL)
        {
          json_builder_set_member_name (d->b, "label");
          json_builder_add_string_value (d->b, label);
        }
      json_builder_end_object (d->b);
    }
  else
    {
      g_autofree char *human = asmctl_format_size (size == 0 ? G_MAXUINT64
                                                             : size);
      printf ("  0x%016" G_GINT64_MODIFIER "x  0x%016" G_GINT64_MODIFIER
              "x  %-9s  %10s%s%s\n",
              seg->first, seg->last, asmctl_segment_kind_name (kind), human,
              label ? "  " : "", label ? label : "");
    }
  return TRUE;
}

static int
iova_show (int argc, char **argv)
{
  IovaOptions opts = { 0 };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (AsmArena) arena = NULL;
  g_autoptr (GArray) holes = NULL;
  AsmArenaStats st;
  AsmRange span;
  ShowData d = { 0 };
  int rc;

  ctx = g_option_context_new ("- show an IOVA arena and its holes");
  g_option_context_set_summary (
      ctx, "Builds an IOVA arena (by default the x86 template: 48 bits, 4 KiB "
           "pages,\nthe interrupt window 0xfee00000-0xfeefffff carved out) "
           "and prints its\nsegments: free space and holes, in address "
           "order.");
  add_template_entries (ctx, &opts);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "asmctl iova show: %s\n", error->message);
      iova_options_clear (&opts);
      return ASMCTL_EXIT_USAGE;
    }
  if (argc > 1)
    {
      fprintf (stderr, "asmctl iova show: unexpected argument '%s'\n",
               argv[1]);
      iova_options_clear (&opts);
      return ASMCTL_EXIT_USAGE;
    }
  rc = build_arena ("show", &opts, &arena, &holes, &span);
  if (rc != ASMCTL_EXIT_OK)
    {
      iova_options_clear (&opts);
      return rc;
    }

  asm_arena_get_stats (arena, &st);
  d.holes = holes;
  if (opts.json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();

      d.b = b;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "span");
      json_builder_begin_object (b);
      json_add_hex (b, "first", span.first);
      json_add_hex (b, "last", span.last);
      json_builder_end_object (b);
      json_add_hex (b, "quantum", asm_arena_get_quantum (arena));
      json_builder_set_member_name (b, "segments");
      json_builder_begin_array (b);
      ASMCTL_MUST (asm_arena_walk (arena, show_segment, &d));
      json_builder_end_array (b);
      json_builder_set_member_name (b, "holes");
      json_builder_begin_array (b);
      for (guint i = 0; i < holes->len; i++)
        {
          Hole *h = &g_array_index (holes, Hole, i);
          json_builder_begin_object (b);
          json_add_hex (b, "first", h->range.first);
          json_add_hex (b, "last", h->range.last);
          json_builder_set_member_name (b, "label");
          json_builder_add_string_value (b, h->label);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_set_member_name (b, "stats");
      json_builder_begin_object (b);
      json_add_hex (b, "span_units", st.span_units);
      json_add_hex (b, "reserved_units", st.reserved_units);
      json_add_hex (b, "free_units", st.free_units);
      json_builder_set_member_name (b, "free_segments");
      json_builder_add_int_value (b, (gint64) st.n_free_segments);
      json_add_hex (b, "largest_free", st.largest_free);
      json_builder_end_object (b);
      json_builder_end_object (b);
      json_print (b);
    }
  else
    {
      g_autofree char *q = asmctl_format_size (asm_arena_get_quantum (arena));
      g_autofree char *free_h = asmctl_format_size (st.free_units);
      g_autofree char *largest = asmctl_format_size (st.largest_free);

      printf ("IOVA arena: span " HEX "-" HEX ", quantum %s, %u hole%s\n",
              span.first, span.last, q, holes->len,
              holes->len == 1 ? "" : "s");
      printf ("  %-18s  %-18s  %-9s  %10s\n", "first", "last", "kind",
              "size");
      ASMCTL_MUST (asm_arena_walk (arena, show_segment, &d));
      printf ("free: %s in %" G_GUINT64_FORMAT " segment%s, the largest %s\n",
              free_h, st.n_free_segments,
              st.n_free_segments == 1 ? "" : "s", largest);
    }
  iova_options_clear (&opts);
  return ASMCTL_EXIT_OK;
}

static int
iova_alloc (int argc, char **argv)
{
  IovaOptions opts = { 0 };
  g_autofree char *align = NULL, *phase = NULL, *nocross = NULL;
  g_autofree char *min = NULL, *max = NULL, *fit = NULL;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (AsmArena) arena = NULL;
  g_autoptr (GArray) holes = NULL;
  g_autoptr (GArray) sizes = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_autoptr (GArray) addrs = g_array_new (FALSE, FALSE, sizeof (guint64));
  AsmRequest req = ASM_REQUEST_INIT (0);
  int rc = ASMCTL_EXIT_OK;
  GOptionEntry entries[] = {
    { "align", 0, 0, G_OPTION_ARG_STRING, &align,
      "Start at a multiple of A (a power of two)", "A" },
    { "phase", 0, 0, G_OPTION_ARG_STRING, &phase,
      "Start at P modulo the alignment", "P" },
    { "nocross", 0, 0, G_OPTION_ARG_STRING, &nocross,
      "Cross no multiple of N (a power of two)", "N" },
    { "min", 0, 0, G_OPTION_ARG_STRING, &min,
      "Start at or above M", "M" },
    { "max", 0, 0, G_OPTION_ARG_STRING, &max,
      "End at or below X (the last byte)", "X" },
    { "fit", 0, 0, G_OPTION_ARG_STRING, &fit,
      "lowest (default), highest, best, next or instant", "FIT" },
    { NULL }
  };

  ctx = g_option_context_new ("SIZE... - allocate from an IOVA arena");
  g_option_context_set_summary (
      ctx, "Allocates each SIZE in turn, with the same constraints, from the "
           "arena that\n'asmctl iova show' prints (same template options), "
           "and prints the\naddresses.  Numbers are decimal or 0x-hex with an "
           "optional K, M, G or T\nsuffix.  Exit code 1 when a request does "
           "not fit.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  add_template_entries (ctx, &opts);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "asmctl iova alloc: %s\n", error->message);
      rc = ASMCTL_EXIT_USAGE;
      goto out;
    }
  if (argc < 2)
    {
      fprintf (stderr, "asmctl iova alloc: which SIZE? (asmctl iova alloc "
               "--help)\n");
      rc = ASMCTL_EXIT_USAGE;
      goto out;
    }
  for (int i = 1; i < argc; i++)
    {
      guint64 size;
      if (!parse_option_u64 ("SIZE", argv[i], &size, &error))
        break;
      g_array_append_val (sizes, size);
    }
  if (error != NULL ||
      !parse_option_u64 ("--align", align, &req.align, &error) ||
      !parse_option_u64 ("--phase", phase, &req.phase, &error) ||
      !parse_option_u64 ("--nocross", nocross, &req.nocross, &error) ||
      !parse_option_u64 ("--min", min, &req.min, &error) ||
      !parse_option_u64 ("--max", max, &req.max, &error) ||
      (fit != NULL && !asmctl_parse_fit (fit, &req.fit, &error)))
    {
      fprintf (stderr, "asmctl iova alloc: %s\n", error->message);
      rc = ASMCTL_EXIT_USAGE;
      goto out;
    }
  rc = build_arena ("alloc", &opts, &arena, &holes, NULL);
  if (rc != ASMCTL_EXIT_OK)
    goto out;

  for (guint i = 0; i < sizes->len; i++)
    {
      guint64 addr;
      req.size = g_array_index (sizes, guint64, i);
      if (!asm_arena_alloc_full (arena, &req, &addr, &error))
        {
          fprintf (stderr, "asmctl iova alloc: size " HEX ": %s\n", req.size,
                   error->message);
          rc = ASMCTL_EXIT_FAILED;
          goto out;
        }
      g_array_append_val (addrs, addr);
    }

  if (opts.json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "request");
      json_builder_begin_object (b);
      json_add_hex (b, "align", req.align);
      json_add_hex (b, "phase", req.phase);
      json_add_hex (b, "nocross", req.nocross);
      json_add_hex (b, "min", req.min);
      json_add_hex (b, "max", req.max);
      json_builder_set_member_name (b, "fit");
      json_builder_add_string_value (b, asmctl_fit_name (req.fit));
      json_builder_end_object (b);
      json_builder_set_member_name (b, "allocations");
      json_builder_begin_array (b);
      for (guint i = 0; i < addrs->len; i++)
        {
          guint64 size = g_array_index (sizes, guint64, i);
          guint64 addr = g_array_index (addrs, guint64, i);
          json_builder_begin_object (b);
          json_add_hex (b, "size", size);
          json_add_hex (b, "first", addr);
          json_add_hex (b, "last", addr + size - 1);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      json_print (b);
    }
  else
    for (guint i = 0; i < addrs->len; i++)
      {
        guint64 size = g_array_index (sizes, guint64, i);
        guint64 addr = g_array_index (addrs, guint64, i);
        printf (HEX "-" HEX "  (size " HEX ")\n", addr, addr + size - 1,
                size);
      }

out:
  iova_options_clear (&opts);
  return rc;
}

static void
iova_usage (FILE *out)
{
  fprintf (out,
           "Usage: asmctl iova COMMAND [OPTIONS...]\n"
           "\n"
           "Commands:\n"
           "  show      print an IOVA arena and its holes (segments table)\n"
           "  alloc     allocate SIZE... with constraints, print the "
           "addresses\n"
           "\n"
           "The arena is the x86 IOVA template unless options say otherwise:"
           "\n48 bits, 4 KiB pages, the interrupt window 0xfee00000-"
           "0xfeefffff carved out.\n"
           "'asmctl iova COMMAND --help' describes each command.\n");
}

int
asmctl_cmd_iova (int argc, char **argv)
{
  if (argc < 2)
    {
      iova_usage (stderr);
      return ASMCTL_EXIT_USAGE;
    }
  if (strcmp (argv[1], "show") == 0)
    return iova_show (argc - 1, argv + 1);
  if (strcmp (argv[1], "alloc") == 0)
    return iova_alloc (argc - 1, argv + 1);
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 ||
      strcmp (argv[1], "help") == 0)
    {
      iova_usage (stdout);
      return ASMCTL_EXIT_OK;
    }
  fprintf (stderr, "asmctl iova: unknown command '%s'\n\n", argv[1]);
  iova_usage (stderr);
  return ASMCTL_EXIT_USAGE;
}

/* ------------------------------------------------------------------ */
/* asmctl pci                                                           */

static void
pci_json_addr (JsonBuilder *b, const char *input, const AsmPciAddr *addr)
{
  g_autofree char *text = asm_pci_addr_format (addr);

  json_builder_begin_object (b);
  if (input != NULL)
    {
      json_builder_set_member_name (b, "input");
      json_builder_add_string_value (b, input);
    }
  json_builder_set_member_name (b, "address");
  json_builder_add_string_value (b, text);
  json_builder_set_member_name (b, "domain");
  json_builder_add_int_value (b, addr->domain);
  json_builder_set_member_name (b, "bus");
  json_builder_add_int_value (b, addr->bus);
  json_builder_set_member_name (b, "slot");
  json_builder_add_int_value (b, addr->slot);
  json_builder_set_member_name (b, "function");
  json_builder_add_int_value (b, addr->function);
  json_builder_end_object (b);
}

static void
pci_print_addr (const AsmPciAddr *addr)
{
  g_autofree char *text = asm_pci_addr_format (addr);

  printf ("%s  domain 0x%04x, bus 0x%02x, slot 0x%02x, function %u\n", text,
          addr->domain, addr->bus, addr->slot, addr->function);
}

static int
pci_parse (int argc, char **argv)
{
  gboolean json = FALSE;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) addrs = g_array_new (FALSE, FALSE, sizeof (AsmPciAddr));
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      "Print a JSON array, one object per address", NULL },
    { NULL }
  };

  ctx = g_option_context_new ("ADDR... - check and normalise PCI addresses");
  g_option_context_set_summary (
      ctx, "Parses each ADDR, DDDD:BB:SS.F or BB:SS.F with hexadecimal parts "
           "(the domain\nis 0 when absent), and prints it in the normal "
           "form with its parts.  A bad\naddress is reported with the part "
           "at fault, and the exit code is 3.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "asmctl pci parse: %s\n", error->message);
      return ASMCTL_EXIT_USAGE;
    }
  if (argc < 2)
    {
      fprintf (stderr, "asmctl pci parse: which ADDR? (asmctl pci parse "
               "--help)\n");
      return ASMCTL_EXIT_USAGE;
    }
  for (int i = 1; i < argc; i++)
    {
      AsmPciAddr addr;
      if (!asm_pci_addr_parse (argv[i], &addr, &error))
        {
          fprintf (stderr, "asmctl pci parse: %s\n", error->message);
          return ASMCTL_EXIT_INPUT;
        }
      g_array_append_val (addrs, addr);
    }
  if (json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();

      json_builder_begin_array (b);
      for (guint i = 0; i < addrs->len; i++)
        pci_json_addr (b, argv[i + 1], &g_array_index (addrs, AsmPciAddr, i));
      json_builder_end_array (b);
      json_print (b);
    }
  else
    for (guint i = 0; i < addrs->len; i++)
      pci_print_addr (&g_array_index (addrs, AsmPciAddr, i));
  return ASMCTL_EXIT_OK;
}

static int
pci_format (int argc, char **argv)
{
  static const struct {
    const char *name;
    guint64 last;
  } parts[4] = {
    { "domain", ASM_PCI_DOMAIN_LAST },
    { "bus", G_MAXUINT32 },
    { "slot", ASM_PCI_SLOT_LAST },
    { "function", ASM_PCI_FUNCTION_LAST },
  };
  gboolean json = FALSE;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  guint64 v[4];
  AsmPciAddr addr;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON object", NULL },
    { NULL }
  };

  ctx = g_option_context_new ("DOMAIN BUS SLOT FUNCTION - write a PCI "
                              "address");
  g_option_context_set_summary (
      ctx, "Formats a PCI address as DDDD:BB:SS.F.  Each part is decimal or "
           "0x-hex;\nthe domain is at most 0xffff, the bus 0xffffffff, the "
           "slot 0x1f and the\nfunction 7.  A part out of range is named, "
           "and the exit code is 3.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "asmctl pci format: %s\n", error->message);
      return ASMCTL_EXIT_USAGE;
    }
  if (argc != 5)
    {
      fprintf (stderr, "asmctl pci format: give DOMAIN BUS SLOT FUNCTION "
               "(asmctl pci format --help)\n");
      return ASMCTL_EXIT_USAGE;
    }
  for (guint i = 0; i < 4; i++)
    {
      if (!asmctl_parse_u64 (argv[i + 1], &v[i], &error))
        {
          fprintf (stderr, "asmctl pci format: %s: %s\n", parts[i].name,
                   error->message);
          return ASMCTL_EXIT_INPUT;
        }
      if (v[i] > parts[i].last && i == 3)
        {
          fprintf (stderr, "asmctl pci format: function %" G_GUINT64_FORMAT
                   " is out of range 0..%u\n", v[i], ASM_PCI_FUNCTION_LAST);
          return ASMCTL_EXIT_INPUT;
        }
      if (v[i] > parts[i].last)
        {
          fprintf (stderr, "asmctl pci format: %s " HEX " is out of range "
                   "0.." HEX "\n", parts[i].name, v[i], parts[i].last);
          return ASMCTL_EXIT_INPUT;
        }
    }
  addr.domain = (guint32) v[0];
  addr.bus = (guint32) v[1];
  addr.slot = (guint8) v[2];
  addr.function = (guint8) v[3];
  if (json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      pci_json_addr (b, NULL, &addr);
      json_print (b);
    }
  else
    {
      g_autofree char *text = asm_pci_addr_format (&addr);
      printf ("%s\n", text);
    }
  return ASMCTL_EXIT_OK;
}

static void
pci_usage (FILE *out)
{
  fprintf (out,
           "Usage: asmctl pci COMMAND [OPTIONS...]\n"
           "\n"
           "Commands:\n"
           "  parse     check and normalise PCI addresses (DDDD:BB:SS.F)\n"
           "  format    write a PCI address from DOMAIN BUS SLOT FUNCTION\n"
           "\n"
           "'asmctl pci COMMAND --help' describes each command.  To place "
           "devices on\nPCI buses, see 'asmctl script --help' (pci, "
           "controller, reserve-next).\n");
}

int
asmctl_cmd_pci (int argc, char **argv)
{
  if (argc < 2)
    {
      pci_usage (stderr);
      return ASMCTL_EXIT_USAGE;
    }
  if (strcmp (argv[1], "parse") == 0)
    return pci_parse (argc - 1, argv + 1);
  if (strcmp (argv[1], "format") == 0)
    return pci_format (argc - 1, argv + 1);
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 ||
      strcmp (argv[1], "help") == 0)
    {
      pci_usage (stdout);
      return ASMCTL_EXIT_OK;
    }
  fprintf (stderr, "asmctl pci: unknown command '%s'\n\n", argv[1]);
  pci_usage (stderr);
  return ASMCTL_EXIT_USAGE;
}
