/* asmctl-svg.c: pictures and snapshots of a fabric
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * asmctl_write_svg() draws the fabric by hand, so the picture is the same
 * on every machine: one row per switch, its windows as bars to scale on
 * the global physical axis, the partitions inside them coloured by
 * workload, redirected VF BARs in orange, and the devices on its ports.
 * asmctl_write_dot_svg() draws the topology (workloads -> partitions ->
 * switches <- devices) with graphviz `dot` when it is installed.
 */
#include "asmctl.h"

#include <gio/gio.h>
#include <string.h>

#define SVG_WIDTH 1000
#define AXIS_X 170
#define AXIS_W 780
#define ROW_H 86

char *
asmctl_format_size (guint64 units)
{
  static const char *suffix[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB",
                                  "EiB" };
  guint i = 0;
  double v = (double) units;

  if (units == G_MAXUINT64)
    return g_strdup ("16 EiB");
  while (i + 1 < G_N_ELEMENTS (suffix) && v >= 1024.0)
    {
      v /= 1024.0;
      i++;
    }
  if (v == (double) (guint64) v)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " %s", (guint64) v,
                            suffix[i]);
  return g_strdup_printf ("%.1f %s", v, suffix[i]);
}

static const char *const palette[] = { "#4e79a7", "#59a14f", "#b07aa1",
                                       "#76b7b2", "#edc948", "#9c755f",
                                       "#e15759", "#bab0ac" };

typedef struct {
  guint64 lo, hi; /* the axis: [lo, hi) */
} Axis;

static double
axis_x (const Axis *a, guint64 addr)
{
  double span = (double) (a->hi - a->lo);
  return AXIS_X + (span > 0 ? (double) (addr - a->lo) / span * AXIS_W : 0);
}

static void
rect (GString *svg, double x, double y, double w, double h, const char *fill,
      const char *title)
{
  g_autofree char *t = g_markup_escape_text (title, -1);
  g_string_append_printf (svg,
                          "  <rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                          "height=\"%.1f\" fill=\"%s\" stroke=\"#333\" "
                          "stroke-width=\"0.5\"><title>%s</title></rect>\n",
                          x, y, MAX (w, 1.0), h, fill, t);
}

static void
text (GString *svg, double x, double y, const char *size, const char *s)
{
  g_autofree char *t = g_markup_escape_text (s, -1);
  g_string_append_printf (svg,
                          "  <text x=\"%.1f\" y=\"%.1f\" font-family="
                          "\"monospace\" font-size=\"%s\">%s</text>\n",
                          x, y, size, t);
}

gboolean
asmctl_write_svg (AsmFabric *fabric, const char *path, GError **error)
{
  g_autoptr (GArray) switches = asm_fabric_list (fabric, ASM_FABRIC_SWITCHES);
  g_autoptr (GArray) parts = asm_fabric_list (fabric, ASM_FABRIC_PARTITIONS);
  g_autoptr (GArray) devices = asm_fabric_list (fabric, ASM_FABRIC_DEVICES);
  GString *svg = g_string_new (NULL);
  Axis axis = { G_MAXUINT64, 0 };
  guint height = 70 + ROW_H * MAX (switches->len, 1) + 40;
  gboolean ok;

  /* the axis spans every window, rounded out a little */
  for (guint i = 0; i < switches->len; i++)
    {
      g_autoptr (GArray) w = asm_fabric_get_switch_windows (
          fabric, g_array_index (switches, AsmId, i));
      for (guint j = 0; j < w->len; j++)
        {
          AsmRange r = g_array_index (w, AsmRange, j);
          axis.lo = MIN (axis.lo, r.first);
          axis.hi = MAX (axis.hi, r.last == G_MAXUINT64 ? r.last : r.last + 1);
        }
    }
  if (axis.lo > axis.hi)
    axis.lo = 0, axis.hi = 1;

  g_string_append_printf (svg,
                          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                          "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                          "width=\"%d\" height=\"%u\" viewBox=\"0 0 %d %u\">\n"
                          "  <rect width=\"100%%\" height=\"100%%\" "
                          "fill=\"white\"/>\n",
                          SVG_WIDTH, height, SVG_WIDTH, height);
  {
    g_autofree char *title = g_strdup_printf (
        "fabric '%s': %u switches, %u partitions, %u devices; physical "
        "0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER "x",
        asm_fabric_get_name (fabric), switches->len, parts->len,
        devices->len, axis.lo, axis.hi - 1);
    text (svg, 10, 24, "14", title);
  }

  for (guint i = 0; i < switches->len; i++)
    {
      AsmSwitchInfo si;
      g_autoptr (GArray) w = NULL;
      double y = 50 + i * ROW_H;
      g_autofree char *label = NULL, *wb = NULL;
      GString *devline = g_string_new ("ports:");

      ASMCTL_MUST (asm_fabric_get_switch_info (fabric, g_array_index (switches, AsmId, i),
                                  &si));
      w = asm_fabric_get_switch_windows (fabric, si.id);
      wb = asmctl_format_size (si.window_bytes);
      text (svg, 10, y + 16, "13", si.name);
      label = g_strdup_printf ("%u ns, %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
                               " MB/s", si.latency_ns, si.bandwidth_used,
                               si.bandwidth);
      text (svg, 10, y + 30, "10", label);
      g_free (label);
      label = g_strdup_printf ("%s, table %u/%u", wb, si.table_used,
                               si.table_capacity);
      text (svg, 10, y + 43, "10", label);
      rect (svg, AXIS_X, y + 4, AXIS_W, 40, "#f2f2f2", "global space");
      for (guint j = 0; j < w->len; j++)
        {
          AsmRange r = g_array_index (w, AsmRange, j);
          g_autofree char *t = g_strdup_printf (
              "window 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER "x",
              r.first, r.last);
          rect (svg, axis_x (&axis, r.first), y + 4,
                axis_x (&axis, r.last) - axis_x (&axis, r.first), 40,
                "#dbe8f5", t);
        }
      for (guint j = 0; j < parts->len; j++)
        {
          AsmPartitionInfo pi;
          g_autofree char *t = NULL;
          double x0, x1;

          ASMCTL_MUST (asm_fabric_get_partition_info (fabric,
                                         g_array_index (parts, AsmId, j), &pi));
          if (pi.switch_id != si.id)
            continue;
          t = g_strdup_printf ("partition %u of workload %u: physical 0x%"
                               G_GINT64_MODIFIER "x, virtual 0x%"
                               G_GINT64_MODIFIER "x, 0x%" G_GINT64_MODIFIER
                               "x bytes", pi.id, pi.workload, pi.phys_first,
                               pi.virt_first, pi.size);
          x0 = axis_x (&axis, pi.phys_first);
          x1 = axis_x (&axis, pi.phys_first + pi.size - 1);
          rect (svg, x0, y + 10, x1 - x0, 28,
                palette[pi.workload % G_N_ELEMENTS (palette)], t);
          if (x1 - x0 > 40)
            {
              g_autofree char *l = g_strdup_printf ("p%u", pi.id);
              text (svg, x0 + 3, y + 28, "10", l);
            }
        }
      for (guint j = 0; j < devices->len; j++)
        {
          AsmDeviceInfo di;
          ASMCTL_MUST (asm_fabric_get_device_info (fabric,
                                      g_array_index (devices, AsmId, j), &di));
          if (di.switch_id == si.id && di.kind != ASM_DEVICE_VF)
            g_string_append_printf (devline, " %u:%s", di.port, di.name);
        }
      text (svg, AXIS_X, y + 60, "10", devline->str);
      g_string_free (devline, TRUE);
    }
  /* redirected VF BARs: find them through the switches' tables */
  for (guint i = 0; i < switches->len; i++)
    {
      AsmId sw = g_array_index (switches, AsmId, i);
      g_autoptr (GArray) table = asm_fabric_get_xlat_table (fabric, sw);
      double y = 50 + i * ROW_H;
      for (guint j = 0; j < table->len; j++)
        {
          AsmXlatEntry *e = &g_array_index (table, AsmXlatEntry, j);
          guint64 phys = e->virt_first + e->offset;
          g_autofree char *t = NULL;
          if (e->key == e->partition)
            continue;
          t = g_strdup_printf ("device %u (redirected VF BAR) at 0x%"
                               G_GINT64_MODIFIER "x", e->key, phys);
          rect (svg, axis_x (&axis, phys), y + 10,
                MAX (axis_x (&axis, phys + e->size - 1) - axis_x (&axis, phys),
                     3.0), 28, "#f28e2b", t);
        }
    }
  g_string_append_printf (svg, "  <text x=\"10\" y=\"%u\" font-family="
                          "\"monospace\" font-size=\"10\">bars to scale on the "
                          "physical axis; colour = workload; orange = VF BAR "
                          "routed by its own table entry</text>\n",
                          height - 14);
  g_string_append (svg, "</svg>\n");
  ok = g_file_set_contents (path, svg->str, (gssize) svg->len, error);
  g_string_free (svg, TRUE);
  return ok;
}

gboolean
asmctl_write_dot_svg (AsmFabric *fabric, const char *path, GError **error)
{
  g_autoptr (GArray) switches = asm_fabric_list (fabric, ASM_FABRIC_SWITCHES);
  g_autoptr (GArray) parts = asm_fabric_list (fabric, ASM_FABRIC_PARTITIONS);
  g_autoptr (GArray) devices = asm_fabric_list (fabric, ASM_FABRIC_DEVICES);
  g_autoptr (GArray) workloads = asm_fabric_list (fabric, ASM_FABRIC_WORKLOADS);
  g_autofree char *dot = g_find_program_in_path ("dot");
  GString *g = g_string_new ("digraph fabric {\n  rankdir=LR;\n"
                             "  node [fontname=\"monospace\"];\n");
  const char *argv[] = { NULL, "-Tsvg", "-o", path, NULL };
  g_autoptr (GSubprocess) proc = NULL;
  gboolean ok;

  if (dot == NULL)
    {
      g_string_free (g, TRUE);
      g_set_error (error, ASM_ERROR, ASM_ERROR_UNSUPPORTED,
                   "graphviz 'dot' is not installed");
      return FALSE;
    }
  for (guint i = 0; i < workloads->len; i++)
    g_string_append_printf (g, "  w%u [shape=diamond,label=\"workload %u\"];\n",
                            g_array_index (workloads, AsmId, i),
                            g_array_index (workloads, AsmId, i));
  for (guint i = 0; i < switches->len; i++)
    {
      AsmSwitchInfo si;
      g_autofree char *n = NULL;
      ASMCTL_MUST (asm_fabric_get_switch_info (fabric, g_array_index (switches, AsmId, i),
                                  &si));
      n = g_strescape (si.name, NULL);
      g_string_append_printf (g, "  s%u [shape=box,style=filled,fillcolor="
                              "\"#dbe8f5\",label=\"%s\"];\n", si.id, n);
    }
  for (guint i = 0; i < parts->len; i++)
    {
      AsmPartitionInfo pi;
      ASMCTL_MUST (asm_fabric_get_partition_info (fabric, g_array_index (parts, AsmId, i),
                                     &pi));
      g_string_append_printf (g, "  p%u [shape=ellipse,label=\"p%u\"];\n"
                              "  w%u -> p%u;\n  p%u -> s%u;\n", pi.id, pi.id,
                              pi.workload, pi.id, pi.id, pi.switch_id);
    }
  for (guint i = 0; i < devices->len; i++)
    {
      AsmDeviceInfo di;
      g_autofree char *n = NULL;
      ASMCTL_MUST (asm_fabric_get_device_info (fabric, g_array_index (devices, AsmId, i),
                                  &di));
      n = g_strescape (di.name, NULL);
      g_string_append_printf (g, "  d%u [shape=note,label=\"%s\"];\n", di.id,
                              n);
      if (di.kind == ASM_DEVICE_VF)
        g_string_append_printf (g, "  d%u -> d%u [style=dashed];\n", di.id,
                                di.pf);
      else
        g_string_append_printf (g, "  d%u -> s%u [label=\"port %u\"];\n",
                                di.id, di.switch_id, di.port);
      if (di.partition != ASM_ID_NONE)
        g_string_append_printf (g, "  p%u -> d%u [style=dotted];\n",
                                di.partition, di.id);
    }
  g_string_append (g, "}\n");
  argv[0] = dot;
  proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDIN_PIPE, error);
  if (proc == NULL)
    {
      g_string_free (g, TRUE);
      return FALSE;
    }
  {
    g_autoptr (GBytes) in = g_bytes_new_take (g->str, g->len);
    g_string_free (g, FALSE);
    ok = g_subprocess_communicate (proc, in, NULL, NULL, NULL, error) &&
         g_subprocess_wait_check (proc, NULL, error);
  }
  return ok;
}

gboolean
asmctl_write_json (AsmFabric *fabric, const char *path, GError **error)
{
  gsize len;
  g_autofree char *json = asm_fabric_save (fabric, &len);
  return g_file_set_contents (path, json, (gssize) len, error);
}

void
asmctl_print_switches (AsmFabric *fabric, FILE *out)
{
  g_autoptr (GArray) ids = asm_fabric_list (fabric, ASM_FABRIC_SWITCHES);

  fprintf (out, "   %-6s %7s %8s %8s %9s %8s %5s  %s\n", "switch", "latency",
           "bw used", "of MB/s", "windows", "free", "table", "window ranges");
  for (guint i = 0; i < ids->len; i++)
    {
      AsmSwitchInfo si;
      g_autoptr (GArray) w = NULL;
      g_autofree char *wb = NULL, *fb = NULL;
      GString *ranges = g_string_new (NULL);

      ASMCTL_MUST (asm_fabric_get_switch_info (fabric, g_array_index (ids, AsmId, i), &si));
      w = asm_fabric_get_switch_windows (fabric, si.id);
      for (guint j = 0; j < w->len; j++)
        g_string_append_printf (ranges, "%s0x%" G_GINT64_MODIFIER "x-0x%"
                                G_GINT64_MODIFIER "x", j ? ", " : "",
                                g_array_index (w, AsmRange, j).first,
                                g_array_index (w, AsmRange, j).last);
      wb = asmctl_format_size (si.window_bytes);
      fb = asmctl_format_size (si.free_bytes);
      fprintf (out, "   %-6s %5uns %8" G_GUINT64_FORMAT " %8" G_GUINT64_FORMAT
               " %9s %8s %2u/%-2u  %s%s\n",
               si.name, si.latency_ns, si.bandwidth_used, si.bandwidth, wb, fb,
               si.table_used, si.table_capacity,
               ranges->len ? ranges->str : "-",
               si.draining ? " (draining)" : "");
      g_string_free (ranges, TRUE);
    }
}
