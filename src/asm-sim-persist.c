/* asm-sim-persist.c: the sim's registers in a file (layer 4)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory of operation
 * ===================
 *
 * The registers, their validation and the fault controls are described in
 * the theory comment of asm-sim.c; this module keeps them in a file.
 *
 * Persistence (asm_sim_backend_new_persistent()).  The registers can
 * live in a file too, so that they outlive a process that is killed: every
 * register above is saved (the switches with their windows, tables, open
 * updates and bindings, pending ones included; the root routes; the VFs;
 * the held devices; the usage counters), and nothing else: the fault
 * controls, the undo flag, the call count and the pending-binds mode
 * belong to the process, so a sim opened again has no faults and counts
 * from 0.  An update left open by a killed process stays open in the file
 * until someone aborts it, as in hardware.
 *   write-through  each member of the ops table runs the operation, then,
 *             if it succeeded, serialises all the registers and, if the
 *             bytes differ from what the file holds, writes them to
 *             path.tmp, fsyncs it and renames it over path (the directory
 *             is fsynced when the file is created).  rename is atomic, so
 *             a SIGKILL at any moment leaves the file with the state
 *             before the call or after it.  Both steps happen under one
 *             hold of the lock (a recursive one: the wrapper holds it
 *             around the operation, which takes it again), so no other
 *             call comes between a change and its write.  Refused calls
 *             change nothing and write nothing;
 *   write error  the registers are loaded back from the bytes of the last
 *             write (the state before the call) and the call fails with
 *             ASM_ERROR_BACKEND, so memory and file agree.  xlat_abort,
 *             which cannot fail, then leaves the update open, as an abort
 *             lost in a crash does;
 *   format     JSON, {"format": "asm-sim", "version": 1, "switches": [...],
 *             "routes": [...], "vfs": [...], "held": [...], "usage":
 *             [...]}; ids are integers, every u64 (addresses, sizes,
 *             offsets, flush and read counts) a "0x..." string; an open
 *             update is its change list in call order ({"set": entry} or
 *             {"remove": key}), no update is null; bindings are listed
 *             under their switch by port.  Everything is written in the
 *             dump's order, so the same registers give the same bytes;
 *   loading    a file that is not JSON, has another format or version,
 *             misses a member or has one of the wrong type, or whose
 *             registers break S1-S8 is refused with ASM_ERROR_PARSE naming
 *             the member or the invariant.
 * Cost: O(state) per call that succeeds (the serialisation and the
 * comparison), plus a write, an fsync and a rename when the registers
 * changed: milliseconds on a disk.  It is for crash tests and small
 * fabrics (tens of switches, hundreds of entries), not for 10^5
 * partitions; an in-memory sim pays only a test of the path per call.
 */
#include <asm/asm-sim.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "asm-backend-private.h"
#include "asm-sim-private.h"

#define X "0x%" G_GINT64_MODIFIER "x"

#define SIM_FILE_FORMAT "asm-sim"
#define SIM_FILE_VERSION 1


static void
put_u64 (JsonBuilder *b, const char *member, guint64 v)
{
  char text[24];

  g_snprintf (text, sizeof text, X, v);
  json_builder_set_member_name (b, member);
  json_builder_add_string_value (b, text);
}

static void
put_id (JsonBuilder *b, const char *member, guint32 v)
{
  json_builder_set_member_name (b, member);
  json_builder_add_int_value (b, v);
}

static void
put_string (JsonBuilder *b, const char *member, const char *v)
{
  json_builder_set_member_name (b, member);
  json_builder_add_string_value (b, v);
}

static void
put_entry (JsonBuilder *b, const AsmXlatEntry *e)
{
  json_builder_begin_object (b);
  put_id (b, "key", e->key);
  put_id (b, "partition", e->partition);
  put_id (b, "workload", e->workload);
  put_u64 (b, "virt_first", e->virt_first);
  put_u64 (b, "size", e->size);
  put_u64 (b, "offset", e->offset);
  json_builder_end_object (b);
}

static const char *const pending_names[] = { "none", "bind", "unbind" };

static void
put_switch (JsonBuilder *b, Sim *sim, const SimSwitch *s)
{
  json_builder_begin_object (b);
  put_id (b, "id", s->id);
  put_string (b, "name", s->name);
  put_id (b, "n_ports", s->n_ports);
  put_id (b, "table_capacity", s->table_capacity);
  put_u64 (b, "flushes", s->n_flushes);

  json_builder_set_member_name (b, "windows");
  json_builder_begin_array (b);
  for (guint j = 0; j < s->windows->len; j++)
    {
      const AsmRange *w = &g_array_index (s->windows, AsmRange, j);

      json_builder_begin_object (b);
      put_u64 (b, "first", w->first);
      put_u64 (b, "last", w->last);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "table");
  json_builder_begin_array (b);
  for (guint j = 0; j < s->table->len; j++)
    put_entry (b, &g_array_index (s->table, AsmXlatEntry, j));
  json_builder_end_array (b);

  /* the open update as the change list it is, in call order */
  json_builder_set_member_name (b, "update");
  if (s->staging == NULL)
    json_builder_add_null_value (b);
  else
    {
      json_builder_begin_array (b);
      for (guint j = 0; j < s->staging->len; j++)
        {
          const SimXlatChange *c =
              &g_array_index (s->staging, SimXlatChange, j);

          json_builder_begin_object (b);
          if (c->remove)
            put_id (b, "remove", c->entry.key);
          else
            {
              json_builder_set_member_name (b, "set");
              put_entry (b, &c->entry);
            }
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }

  /* the bindings, by port (S4 makes this every binding, once) */
  json_builder_set_member_name (b, "bindings");
  json_builder_begin_array (b);
  for (guint p = 0; p < s->n_ports; p++)
    {
      SimBinding *bd;

      if (s->ports[p] == ASM_ID_NONE)
        continue;
      bd = asm_sim_find_binding (sim, s->ports[p]);
      json_builder_begin_object (b);
      put_id (b, "port", p);
      put_id (b, "device", bd->device);
      put_string (b, "name", bd->name);
      put_string (b, "pending", pending_names[bd->pending]);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
}

/* The registers of @sim as the state file holds them: a new string, the
 * same for the same registers.  O(state). */
static char *
sim_to_json (Sim *sim, gsize *out_len)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;
  char *with_newline;
  gsize len;

  json_builder_begin_object (b);
  put_string (b, "format", SIM_FILE_FORMAT);
  put_id (b, "version", SIM_FILE_VERSION);

  json_builder_set_member_name (b, "switches");
  json_builder_begin_array (b);
  for (guint i = 0; i < sim->switches->len; i++)
    put_switch (b, sim, g_ptr_array_index (sim->switches, i));
  json_builder_end_array (b);

  json_builder_set_member_name (b, "routes");
  json_builder_begin_array (b);
  for (guint i = 0; i < sim->routes->len; i++)
    {
      const SimRoute *r = &g_array_index (sim->routes, SimRoute, i);

      json_builder_begin_object (b);
      put_u64 (b, "first", r->first);
      put_u64 (b, "last", r->last);
      put_id (b, "switch", r->sw);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "vfs");
  json_builder_begin_array (b);
  for (guint i = 0; i < sim->vfs->len; i++)
    {
      const SimVf *v = &g_array_index (sim->vfs, SimVf, i);

      json_builder_begin_object (b);
      put_id (b, "pf", v->pf);
      put_id (b, "index", v->index);
      put_id (b, "vf", v->vf);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "held");
  json_builder_begin_array (b);
  for (guint i = 0; i < sim->held->len; i++)
    json_builder_add_int_value (b, g_array_index (sim->held, AsmId, i));
  json_builder_end_array (b);

  json_builder_set_member_name (b, "usage");
  json_builder_begin_array (b);
  for (guint i = 0; i < sim->usage->len; i++)
    {
      const SimUsage *u = &g_array_index (sim->usage, SimUsage, i);

      json_builder_begin_object (b);
      put_id (b, "partition", u->partition);
      put_u64 (b, "reads", u->reads);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 2);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, &len);
  with_newline = g_malloc (len + 2);
  memcpy (with_newline, text, len);
  with_newline[len] = '\n';
  with_newline[len + 1] = '\0';
  *out_len = len + 1;
  return with_newline;
}

static void parse_fail (GError **error, const char *where, const char *format,
                        ...) G_GNUC_PRINTF (3, 4);

/* Sets "WHERE: MESSAGE" as an ASM_ERROR_PARSE error. */
static void
parse_fail (GError **error, const char *where, const char *format, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE, "%s: %s", where, msg);
}

/* Member @member of @o, of node type @type, or NULL with the error set. */
static JsonNode *
get_member (JsonObject *o, const char *member, JsonNodeType type,
            const char *where, GError **error)
{
  static const char *const type_names[] = { "an object", "an array",
                                            "a value", "null" };
  JsonNode *n = json_object_get_member (o, member);

  if (n == NULL)
    {
      parse_fail (error, where, "\"%s\" is missing", member);
      return NULL;
    }
  if (JSON_NODE_TYPE (n) != type)
    {
      parse_fail (error, where, "\"%s\" is not %s", member,
                  type_names[type]);
      return NULL;
    }
  return n;
}

/* An id (an integer 0..2^32-1) from the value node @n. */
static gboolean
node_id (JsonNode *n, const char *member, const char *where, guint32 *out,
         GError **error)
{
  gint64 v;

  if (n == NULL || JSON_NODE_TYPE (n) != JSON_NODE_VALUE ||
      json_node_get_value_type (n) != G_TYPE_INT64 ||
      (v = json_node_get_int (n)) < 0 || v > G_MAXUINT32)
    {
      parse_fail (error, where, "\"%s\" is not an integer 0..%u", member,
                  G_MAXUINT32);
      return FALSE;
    }
  *out = (guint32) v;
  return TRUE;
}

static gboolean
get_id (JsonObject *o, const char *member, const char *where, guint32 *out,
        GError **error)
{
  JsonNode *n = get_member (o, member, JSON_NODE_VALUE, where, error);

  return n != NULL && node_id (n, member, where, out, error);
}

static const char *
get_string (JsonObject *o, const char *member, const char *where,
            GError **error)
{
  JsonNode *n = get_member (o, member, JSON_NODE_VALUE, where, error);

  if (n == NULL)
    return NULL;
  if (json_node_get_value_type (n) != G_TYPE_STRING)
    {
      parse_fail (error, where, "\"%s\" is not a string", member);
      return NULL;
    }
  return json_node_get_string (n);
}

/* A u64: "0x" and 1 to 16 hexadecimal digits. */
static gboolean
get_u64 (JsonObject *o, const char *member, const char *where, guint64 *out,
         GError **error)
{
  const char *text = get_string (o, member, where, error);
  guint64 v = 0;
  gsize n;

  if (text == NULL)
    return FALSE;
  n = strlen (text);
  if (n < 3 || n > 18 || text[0] != '0' || text[1] != 'x')
    goto bad;
  for (gsize i = 2; i < n; i++)
    {
      int d = g_ascii_xdigit_value (text[i]);

      if (d < 0)
        goto bad;
      v = (v << 4) | (guint64) d;
    }
  *out = v;
  return TRUE;

bad:
  parse_fail (error, where, "\"%s\" is \"%s\", not \"0x\" and 1 to 16 hex "
              "digits", member, text);
  return FALSE;
}

static JsonArray *
get_array (JsonObject *o, const char *member, const char *where,
           GError **error)
{
  JsonNode *n = get_member (o, member, JSON_NODE_ARRAY, where, error);

  return n != NULL ? json_node_get_array (n) : NULL;
}

/* Element @i of @a, an object, or NULL with the error set; *where_i names
 * it ("WHERE[I]", to free). */
static JsonObject *
get_element (JsonArray *a, guint i, const char *where, char **where_i,
             GError **error)
{
  JsonNode *n = json_array_get_element (a, i);

  *where_i = g_strdup_printf ("%s[%u]", where, i);
  if (JSON_NODE_TYPE (n) != JSON_NODE_OBJECT)
    {
      parse_fail (error, *where_i, "not an object");
      return NULL;
    }
  return json_node_get_object (n);
}

static gboolean
get_entry (JsonObject *o, const char *where, AsmXlatEntry *e, GError **error)
{
  return get_id (o, "key", where, &e->key, error) &&
         get_id (o, "partition", where, &e->partition, error) &&
         get_id (o, "workload", where, &e->workload, error) &&
         get_u64 (o, "virt_first", where, &e->virt_first, error) &&
         get_u64 (o, "size", where, &e->size, error) &&
         get_u64 (o, "offset", where, &e->offset, error);
}

/* The bindings of switch @s (ports and the global map). */
static gboolean
load_bindings (Sim *sim, SimSwitch *s, JsonArray *a, const char *where,
               GError **error)
{
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      g_autofree char *w = NULL;
      JsonObject *o = get_element (a, i, where, &w, error);
      const char *name, *pending;
      guint32 port, device;
      SimBinding *b;
      guint k;

      if (o == NULL || !get_id (o, "port", w, &port, error) ||
          !get_id (o, "device", w, &device, error) ||
          (name = get_string (o, "name", w, error)) == NULL ||
          (pending = get_string (o, "pending", w, error)) == NULL)
        return FALSE;
      for (k = 0; k < G_N_ELEMENTS (pending_names); k++)
        if (strcmp (pending, pending_names[k]) == 0)
          break;
      if (k == G_N_ELEMENTS (pending_names))
        {
          parse_fail (error, w, "\"pending\" is \"%s\", not none, bind or "
                      "unbind", pending);
          return FALSE;
        }
      /* what would write out of bounds or lose a binding is refused here;
       * the rest of S4 is left to asm_sim_check_state() */
      if (port >= s->n_ports)
        {
          parse_fail (error, w, "port %u is out of range (the switch has "
                      "%u)", port, s->n_ports);
          return FALSE;
        }
      if (device == ASM_ID_NONE || s->ports[port] != ASM_ID_NONE ||
          asm_sim_find_binding (sim, device) != NULL)
        {
          parse_fail (error, w, "device %u at port %u: id 0, a port bound "
                      "twice or a device bound twice", device, port);
          return FALSE;
        }
      b = g_new0 (SimBinding, 1);
      b->device = device;
      b->name = g_strdup (name);
      b->sw = s->id;
      b->port = port;
      b->pending = (SimPending) k;
      g_hash_table_insert (sim->bindings, GUINT_TO_POINTER (device), b);
      s->ports[port] = device;
    }
  return TRUE;
}

static gboolean
load_switch (Sim *sim, JsonObject *o, const char *where, GError **error)
{
  g_autofree char *w = NULL;
  SimSwitch *s = g_new0 (SimSwitch, 1);
  const char *name;
  JsonArray *a;
  JsonNode *update;

  /* owned by sim from here, so every error path frees it */
  s->windows = g_array_new (FALSE, FALSE, sizeof (AsmRange));
  s->table = g_array_new (FALSE, FALSE, sizeof (AsmXlatEntry));
  s->name = g_strdup ("");
  g_ptr_array_add (sim->switches, s);

  if (!get_id (o, "id", where, &s->id, error) ||
      (name = get_string (o, "name", where, error)) == NULL ||
      !get_id (o, "n_ports", where, &s->n_ports, error) ||
      !get_id (o, "table_capacity", where, &s->table_capacity, error) ||
      !get_u64 (o, "flushes", where, &s->n_flushes, error))
    return FALSE;
  g_free (s->name);
  s->name = g_strdup (name);
  s->ports = g_try_new0 (AsmId, MAX (s->n_ports, 1));
  if (s->ports == NULL)
    {
      parse_fail (error, where, "cannot allocate %u ports", s->n_ports);
      return FALSE;
    }

  if ((a = get_array (o, "windows", where, error)) == NULL)
    return FALSE;
  w = g_strdup_printf ("%s.windows", where);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      g_autofree char *wi = NULL;
      JsonObject *e = get_element (a, i, w, &wi, error);
      AsmRange r;

      if (e == NULL || !get_u64 (e, "first", wi, &r.first, error) ||
          !get_u64 (e, "last", wi, &r.last, error))
        return FALSE;
      g_array_append_val (s->windows, r);
    }

  if ((a = get_array (o, "table", where, error)) == NULL)
    return FALSE;
  g_free (w);
  w = g_strdup_printf ("%s.table", where);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      g_autofree char *wi = NULL;
      JsonObject *e = get_element (a, i, w, &wi, error);
      AsmXlatEntry x;

      if (e == NULL || !get_entry (e, wi, &x, error))
        return FALSE;
      g_array_append_val (s->table, x);
    }

  if ((update = json_object_get_member (o, "update")) == NULL)
    {
      parse_fail (error, where, "\"update\" is missing");
      return FALSE;
    }
  if (JSON_NODE_TYPE (update) == JSON_NODE_ARRAY)
    {
      a = json_node_get_array (update);
      g_free (w);
      w = g_strdup_printf ("%s.update", where);
      s->staging = g_array_new (FALSE, FALSE, sizeof (SimXlatChange));
      for (guint i = 0; i < json_array_get_length (a); i++)
        {
          g_autofree char *wi = NULL;
          JsonObject *e = get_element (a, i, w, &wi, error);
          SimXlatChange c = { { 0 }, FALSE };
          JsonNode *set;

          if (e == NULL)
            return FALSE;
          if (json_object_has_member (e, "remove"))
            {
              c.remove = TRUE;
              if (!get_id (e, "remove", wi, &c.entry.key, error))
                return FALSE;
            }
          else if ((set = get_member (e, "set", JSON_NODE_OBJECT, wi,
                                      error)) == NULL ||
                   !get_entry (json_node_get_object (set), wi, &c.entry,
                               error))
            return FALSE;
          g_array_append_val (s->staging, c);
        }
    }
  else if (JSON_NODE_TYPE (update) != JSON_NODE_NULL)
    {
      parse_fail (error, where, "\"update\" is neither null nor an array");
      return FALSE;
    }

  if ((a = get_array (o, "bindings", where, error)) == NULL)
    return FALSE;
  g_free (w);
  w = g_strdup_printf ("%s.bindings", where);
  return load_bindings (sim, s, a, w, error);
}

/* A new Sim with the registers of the state file text @text, checked with
 * S1-S8; NULL with an ASM_ERROR_PARSE error naming the problem.  O(state). */
static Sim *
sim_from_json (const char *text, gsize len, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  Sim *sim;
  JsonNode *root;
  JsonObject *o;
  JsonArray *a;
  const char *format;
  guint32 version;

  if (!json_parser_load_from_data (parser, text, (gssize) len, &local))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE, "not JSON: %s",
                   local->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || JSON_NODE_TYPE (root) != JSON_NODE_OBJECT)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "not an asm-sim state file (%s)",
                   root == NULL ? "empty" : "not a JSON object");
      return NULL;
    }
  o = json_node_get_object (root);
  if (!json_object_has_member (o, "format") ||
      (format = get_string (o, "format", "file", NULL)) == NULL ||
      strcmp (format, SIM_FILE_FORMAT) != 0)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "not an asm-sim state file (\"format\" is not \"%s\")",
                   SIM_FILE_FORMAT);
      return NULL;
    }
  if (!get_id (o, "version", "file", &version, error))
    return NULL;
  if (version != SIM_FILE_VERSION)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "asm-sim state version %u is not supported (only %u is)",
                   version, SIM_FILE_VERSION);
      return NULL;
    }

  sim = asm_sim_new ();
  if ((a = get_array (o, "switches", "file", error)) == NULL)
    goto fail;
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      g_autofree char *w = NULL;
      JsonObject *e = get_element (a, i, "switches", &w, error);

      if (e == NULL || !load_switch (sim, e, w, error))
        goto fail;
    }

  if ((a = get_array (o, "routes", "file", error)) == NULL)
    goto fail;
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      g_autofree char *w = NULL;
      JsonObject *e = get_element (a, i, "routes", &w, error);
      SimRoute r;

      if (e == NULL || !get_u64 (e, "first", w, &r.first, error) ||
          !get_u64 (e, "last", w, &r.last, error) ||
          !get_id (e, "switch", w, &r.sw, error))
        goto fail;
      g_array_append_val (sim->routes, r);
    }

  if ((a = get_array (o, "vfs", "file", error)) == NULL)
    goto fail;
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      g_autofree char *w = NULL;
      JsonObject *e = get_element (a, i, "vfs", &w, error);
      SimVf v;

      if (e == NULL || !get_id (e, "pf", w, &v.pf, error) ||
          !get_id (e, "index", w, &v.index, error) ||
          !get_id (e, "vf", w, &v.vf, error))
        goto fail;
      g_array_append_val (sim->vfs, v);
    }

  if ((a = get_array (o, "held", "file", error)) == NULL)
    goto fail;
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      g_autofree char *w = g_strdup_printf ("held[%u]", i);
      AsmId d;

      if (!node_id (json_array_get_element (a, i), "held", w, &d, error))
        goto fail;
      g_array_append_val (sim->held, d);
    }

  if ((a = get_array (o, "usage", "file", error)) == NULL)
    goto fail;
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      g_autofree char *w = NULL;
      JsonObject *e = get_element (a, i, "usage", &w, error);
      SimUsage u;

      if (e == NULL || !get_id (e, "partition", w, &u.partition, error) ||
          !get_u64 (e, "reads", w, &u.reads, error))
        goto fail;
      g_array_append_val (sim->usage, u);
    }

  if (!asm_sim_check_state (sim, &local))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                   "the registers break an invariant: %s", local->message);
      goto fail;
    }
  return sim;

fail:
  asm_sim_destroy (sim);
  return NULL;
}

/* Writes @len bytes of @data to @path so that a crash at any moment leaves
 * the old file or the new one: the bytes go to @tmp_path, which is synced
 * and renamed over @path; with @sync_dir the directory is synced too (the
 * file is new).  ASM_ERROR_BACKEND on failure, @path untouched. */
static gboolean
sim_write_file (const char *path, const char *tmp_path, const char *data,
                gsize len, gboolean sync_dir, GError **error)
{
  const char *step = "create";
  int fd, e;

  fd = open (tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    goto fail;
  step = "write";
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        goto fail;
      data += n;
      len -= (gsize) n;
    }
  step = "sync";
  if (fsync (fd) != 0)
    goto fail;
  step = "close";
  e = close (fd);
  fd = -1;
  if (e != 0)
    goto fail;
  step = "rename";
  if (rename (tmp_path, path) != 0)
    goto fail;
  if (sync_dir)
    {
      g_autofree char *dir = g_path_get_dirname (path);
      int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

      if (dfd < 0 || fsync (dfd) != 0)
        {
          e = errno;
          if (dfd >= 0)
            close (dfd);
          g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                       "cannot sync directory '%s': %s", dir, g_strerror (e));
          return FALSE;
        }
      close (dfd);
    }
  return TRUE;

fail:
  e = errno;
  if (fd >= 0)
    close (fd);
  if (strcmp (step, "create") != 0)
    unlink (tmp_path);
  g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND, "cannot %s '%s': %s",
               step, tmp_path, g_strerror (e));
  return FALSE;
}

/* The registers of @a and @b change places (faults, lock and file stay). */
static void
sim_swap_registers (Sim *a, Sim *b)
{
#define SWAP(f) \
  G_STMT_START \
  { \
    gpointer t_ = a->f; \
    a->f = b->f; \
    b->f = t_; \
  } \
  G_STMT_END
  SWAP (switches);
  SWAP (bindings);
  SWAP (vfs);
  SWAP (held);
  SWAP (routes);
  SWAP (usage);
#undef SWAP
}

/* Writes the registers through to the state file after a call @ctx that
 * succeeded, with the lock held; nothing to do in memory or when they did
 * not change.  When the file cannot be written the registers go back to
 * what it holds (the state before the call) and the call fails. */
gboolean
asm_sim_write_through (Sim *sim, const char *ctx, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *text = NULL;
  gsize len;

  if (sim->path == NULL)
    return TRUE;
  text = sim_to_json (sim, &len);
  if (len == sim->saved_len && memcmp (text, sim->saved, len) == 0)
    return TRUE;
  if (!sim_write_file (sim->path, sim->tmp_path, text, len, FALSE, &local))
    {
      Sim *before = sim_from_json (sim->saved, sim->saved_len, NULL);

      /* the saved bytes were loaded or written by this process */
      g_assert (before != NULL);
      sim_swap_registers (sim, before);
      asm_sim_destroy (before);
      asm_sim_fail (error, ctx,
                    "the registers were not saved, the call is "
                    "undone: %s",
                    local->message);
      return FALSE;
    }
  g_free (sim->saved);
  sim->saved = g_steal_pointer (&text);
  sim->saved_len = len;
  return TRUE;
}


/**
 * asm_sim_backend_new_persistent:
 * @path: (type filename): the state file of the simulated hardware
 * @error: return location for a #GError
 *
 * Creates a simulated switch fabric like asm_sim_backend_new() whose
 * registers outlive the process: a crash test can kill the process that
 * drives it (even with SIGKILL) and open the same @path again to find the
 * hardware as the process left it.
 *
 * When @path exists its registers are loaded, and a file that is not an
 * asm-sim state file, is damaged, or holds registers that break one of the
 * sim's invariants is refused with %ASM_ERROR_PARSE naming the problem.
 * Otherwise the sim starts empty and @path is created.
 *
 * After every call that changes a register, the whole state is written to
 * `@path.tmp`, synced and renamed over @path, so that at any moment the
 * file holds the registers before that call or after it, never a mix.  A
 * call whose state cannot be written fails with %ASM_ERROR_BACKEND and
 * leaves the registers as they were before it (as the file has them).
 * Each write costs time proportional to the whole state: this is for
 * crash tests and small fabrics.
 *
 * Fault injection (asm_sim_fail_call(), asm_sim_fail_kind(),
 * asm_sim_crash_after()) and the call count are the process's, not the
 * hardware's: they are not saved, and a sim opened again has no faults and
 * a call count of 0.  asm_sim_dump() and asm_sim_verify() work as on any
 * sim.  Two processes must not open the same @path at once.
 *
 * Returns: (transfer full) (nullable): a new backend named "sim"; free with
 *   asm_backend_unref(); %NULL with @error set when @path cannot be read,
 *   loaded or created
 *
 * Since: 0.1
 */
AsmBackend *
asm_sim_backend_new_persistent (const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *text = NULL;
  gsize len = 0;
  Sim *sim;

  g_return_val_if_fail (path != NULL && *path != '\0', NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_file_get_contents (path, &text, &len, &local))
    {
      sim = sim_from_json (text, len, error);
      if (sim == NULL)
        {
          g_prefix_error (error, "%s: ", path);
          return NULL;
        }
    }
  else if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      g_autofree char *tmp_path = g_strconcat (path, ".tmp", NULL);

      sim = asm_sim_new ();
      g_free (text);
      text = sim_to_json (sim, &len);
      if (!sim_write_file (path, tmp_path, text, len, TRUE, error))
        {
          g_prefix_error (error, "%s: cannot create the sim state: ", path);
          asm_sim_destroy (sim);
          return NULL;
        }
    }
  else
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_BACKEND,
                   "cannot read the sim state: %s", local->message);
      return NULL;
    }
  sim->path = g_strdup (path);
  sim->tmp_path = g_strconcat (path, ".tmp", NULL);
  sim->saved = g_steal_pointer (&text);
  sim->saved_len = len;
  return asm_backend_new (asm_sim_get_ops (), sim);
}
