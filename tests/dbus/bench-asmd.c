/* bench-asmd.c: asmd under load, and proof that it lost nothing
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The acceptance test of issue #15: N clients (--clients, default 4), each
 * a thread with a GDBusConnection of its own, make --ops calls in all
 * (default 10,000, shared out evenly) to an asmd that is already serving
 * org.asm.Fabric1 on the session bus (run-bench-asmd.sh starts it on
 * load-fabric.json).  The program starts nothing itself.
 *
 * Ownership, which makes the end state predictable
 * ------------------------------------------------
 * Client K owns the workload "wK" and the devices whose names start with
 * "cK-" (load-fabric.json: the endpoints cK-gpu and cK-ssd, the PFs
 * cK-nic-a and cK-nic-b) and every VF of those PFs.  A client touches only
 * what it owns, and nothing a client does moves what another owns: the
 * others can only make its calls fail (a switch full, no free port, a full
 * translation table).  So each client keeps a record of its own objects,
 * updated by its calls that succeeded and by nothing else:
 *
 *   partition   id, size, switch, first virtual address (the one
 *               RequestPartition answered, stable for the partition's life)
 *   endpoint    switch, partition, offset: an endpoint mapped into a
 *               partition is bound to the partition's switch and moves with
 *               it; unmapped, it stays on the last switch it was on
 *   VF          its PF, index, name (PF name "-vf" index), partition,
 *               offset; it lives on its PF's switch.  The PFs are never
 *               mapped, so they never move
 *   workload    its partitions; the usage samples it recorded
 *
 * Two calls answer something the client cannot know beforehand: where
 * RequestPartition placed a partition and where GrowPartition put it (in
 * place or moved).  After each that succeeds the client reads GetPartition
 * once (a follow-up read, counted and timed like any call) to learn the
 * switch.
 *
 * The mix, per call (weights in `kinds[]`): RequestPartition, Release,
 * Grow, Shrink, Migrate, MigrateWorkload, MapDevice (endpoints and VFs),
 * UnmapDevice, CreateVf, DestroyVf, TransferVf (to the client's other PF),
 * RecordUsage; and the readers Translate, GetPartition, GetWorkload,
 * GetDevice, GetSwitch, List, Predict.  An action that has nothing to act
 * on (no partition to release) is drawn again.  Readers check what they
 * read against the record at once (a translation reaches the partition
 * and the device the record says; GetWorkload lists exactly the
 * record's partitions).
 *
 * Accounting: a call that returns success is applied to the record; one
 * refused with org.asm.Fabric1.Error.<Code> is counted under its code and
 * changes nothing.  NotFound on an object the client owns is a mismatch
 * (the daemon lost it); any other D-Bus error (a timeout, the daemon gone)
 * is fatal.
 *
 * The end check ("none lost")
 * ---------------------------
 * The daemon's state is described as one line per object, from its own
 * readers (List, GetSwitch, GetDevice, GetPartition, GetWorkload) and
 * Save (for each workload's sample count):
 *
 *   switch ID name=…
 *   device ID name=… kind=… switch=… pf=… partition=… offset=…
 *   partition ID workload=… switch=… virt=… size=… devices=…
 *   workload ID name=… partitions=ID,… samples=N
 *
 * The expected description is the objects no client owns, as they were
 * before the run, plus every client's record; the two must be equal, line
 * for line.  Also: the Operations property grew by exactly the number of
 * changing calls that succeeded, and Check (asm_fabric_check and the
 * simulator's hardware verify) succeeds.  With --record FILE the expected
 * description is written to FILE and Save's JSON (less journal_seq, which
 * a restart moves on) to FILE.save; `--verify-only --record FILE` checks a
 * daemon (restarted after kill -9 on the same state directory) against
 * both, and runs Check.
 *
 * Figures: total calls, wall time, calls per second, latency (one call,
 * request to reply, all clients) median and 99th percentile, per kind
 * counts and medians, refusals by code.  Timing never fails the run; a
 * mismatch, an unexpected error or a failed Check exits 1 (2: bad
 * options).
 *
 * Usage: bench-asmd [--clients N] [--ops N] [--seed S] [--record FILE]
 *        bench-asmd --verify-only --record FILE
 */
#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUS_NAME "org.asm.Fabric1"
#define OBJECT_PATH "/org/asm/Fabric1"
#define IFACE "org.asm.Fabric1"
#define ERROR_PREFIX "org.asm.Fabric1.Error."
#define CALL_TIMEOUT_MS 120000
#define MAX_CLIENTS 8
/* partitions a client keeps at most, VFs it creates at most: enough to
 * fill the switches' translation tables now and then, not for good */
#define MAX_PARTS 10
#define MAX_VFS 10
/* mismatch messages printed per client; the rest are only counted */
#define MAX_REPORTED 20

typedef enum {
  K_REQUEST,
  K_RELEASE,
  K_GROW,
  K_SHRINK,
  K_MIGRATE,
  K_MIGRATE_WORKLOAD,
  K_MAP,
  K_UNMAP,
  K_CREATE_VF,
  K_DESTROY_VF,
  K_TRANSFER_VF,
  K_RECORD_USAGE,
  K_TRANSLATE,
  K_GET_PARTITION,
  K_GET_WORKLOAD,
  K_GET_DEVICE,
  K_GET_SWITCH,
  K_LIST,
  K_PREDICT,
  N_KINDS
} Kind;

static const struct {
  const char *method;
  gboolean changes;
  guint weight; /* of 1000 draws; the follow-up reads come on top */
} kinds[N_KINDS] = {
  [K_REQUEST] = { "RequestPartition", TRUE, 110 },
  [K_RELEASE] = { "ReleasePartition", TRUE, 50 },
  [K_GROW] = { "GrowPartition", TRUE, 70 },
  [K_SHRINK] = { "ShrinkPartition", TRUE, 50 },
  [K_MIGRATE] = { "MigratePartition", TRUE, 70 },
  [K_MIGRATE_WORKLOAD] = { "MigrateWorkload", TRUE, 10 },
  [K_MAP] = { "MapDevice", TRUE, 90 },
  [K_UNMAP] = { "UnmapDevice", TRUE, 50 },
  [K_CREATE_VF] = { "CreateVf", TRUE, 40 },
  [K_DESTROY_VF] = { "DestroyVf", TRUE, 20 },
  [K_TRANSFER_VF] = { "TransferVf", TRUE, 40 },
  [K_RECORD_USAGE] = { "RecordUsage", TRUE, 30 },
  [K_TRANSLATE] = { "Translate", FALSE, 90 },
  [K_GET_PARTITION] = { "GetPartition", FALSE, 60 },
  [K_GET_WORKLOAD] = { "GetWorkload", FALSE, 50 },
  [K_GET_DEVICE] = { "GetDevice", FALSE, 50 },
  [K_GET_SWITCH] = { "GetSwitch", FALSE, 30 },
  [K_LIST] = { "List", FALSE, 30 },
  [K_PREDICT] = { "Predict", FALSE, 10 },
};

/* ------------------------------------------------------------------ */
/* A client's record of what it owns                                    */

typedef struct {
  guint64 id;
  guint64 size; /* bytes */
  guint64 sw;   /* the switch it is placed on */
  guint64 virt; /* first virtual address */
} Part;

typedef struct {
  guint64 id;
  char *name;
  gboolean is_vf;
  guint pf;          /* VF: index into Client.pfs */
  guint vf_index;    /* VF: its index under the PF */
  guint64 bar;       /* bytes */
  guint64 sw;        /* endpoint: where it is bound; VF: its PF's switch */
  guint64 partition; /* 0 when unmapped */
  guint64 offset;    /* inside the partition, when mapped */
} Dev;

typedef struct {
  guint64 id;
  char *name;
  guint64 sw;
  guint64 bar;
  guint max_vfs;
  guint64 vf_bar;
} Pf;

typedef struct {
  guint32 kind;
  guint64 ns;
} Sample;

typedef struct {
  guint index;
  GDBusConnection *bus;
  GRand *rand;
  guint64 granule;
  const guint64 *switches;
  guint n_switches;

  guint64 workload;
  char *workload_name;
  guint64 samples; /* usage samples the workload holds */
  double time;     /* the next usage sample's time */
  GArray *parts;   /* Part */
  GPtrArray *devs; /* Dev: the endpoints and the VFs */
  Pf pfs[2];
  guint n_pfs;

  guint quota; /* calls to make */
  guint done;  /* calls made */
  GArray *lat; /* Sample */
  guint64 calls[N_KINDS], ok[N_KINDS], refused[N_KINDS];
  guint64 changes_ok;
  GHashTable *codes; /* code → count */
  guint mismatches;
  gboolean fatal;
} Client;

/* --verbose: print every refusal */
static gboolean verbose;

static void
dev_free (gpointer p)
{
  Dev *d = p;
  g_free (d->name);
  g_free (d);
}

static void mismatch (Client *c, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
mismatch (Client *c, const char *fmt, ...)
{
  va_list ap;

  if (c->mismatches++ >= MAX_REPORTED)
    return;
  va_start (ap, fmt);
  fprintf (stderr, "MISMATCH client %u (call %u): ", c->index, c->done);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
}

static guint64
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) +
         (guint64) ts.tv_nsec;
}

/* The code of an org.asm.Fabric1.Error.<Code>, or NULL for any other
 * error. */
static char *
asm_code (const GError *error)
{
  g_autofree char *remote = NULL;

  if (!g_dbus_error_is_remote_error (error))
    return NULL;
  remote = g_dbus_error_get_remote_error (error);
  if (remote == NULL || !g_str_has_prefix (remote, ERROR_PREFIX))
    return NULL;
  return g_strdup (remote + strlen (ERROR_PREFIX));
}

/* One timed call.  Success: the reply.  A refusal: NULL, counted under its
 * code (NotFound is a mismatch: every id a client sends is its own and
 * alive by its record).  Anything else: NULL and fatal. */
static GVariant *
call (Client *c, Kind kind, GVariant *args, const char *reply_type)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *code = NULL;
  GVariant *reply;
  Sample s = { kind, 0 };
  guint64 t0;

  t0 = now_ns ();
  reply = g_dbus_connection_call_sync (c->bus, BUS_NAME, OBJECT_PATH, IFACE,
                                       kinds[kind].method, args,
                                       reply_type ? G_VARIANT_TYPE (reply_type)
                                                  : NULL,
                                       G_DBUS_CALL_FLAGS_NO_AUTO_START,
                                       CALL_TIMEOUT_MS, NULL, &error);
  s.ns = now_ns () - t0;
  g_array_append_val (c->lat, s);
  c->done++;
  c->calls[kind]++;
  if (reply != NULL)
    {
      c->ok[kind]++;
      if (kinds[kind].changes)
        c->changes_ok++;
      return reply;
    }
  code = asm_code (error);
  if (code == NULL)
    {
      fprintf (stderr, "FATAL client %u: %s: %s\n", c->index,
               kinds[kind].method, error->message);
      c->fatal = TRUE;
      return NULL;
    }
  c->refused[kind]++;
  if (verbose)
    fprintf (stderr, "client %u: %s refused: %s\n", c->index,
             kinds[kind].method, error->message);
  if (strcmp (code, "NotFound") == 0)
    mismatch (c, "%s refused: %s", kinds[kind].method, error->message);
  {
    gpointer n = g_hash_table_lookup (c->codes, code);
    g_hash_table_insert (c->codes, g_steal_pointer (&code),
                         GSIZE_TO_POINTER (GPOINTER_TO_SIZE (n) + 1));
  }
  return NULL;
}

static guint64
dict_t (GVariant *dict, const char *key)
{
  guint64 v = 0;
  if (!g_variant_lookup (dict, key, "t", &v))
    g_error ("reply has no \"%s\" (t)", key);
  return v;
}

static guint32
dict_u (GVariant *dict, const char *key)
{
  guint32 v = 0;
  if (!g_variant_lookup (dict, key, "u", &v))
    g_error ("reply has no \"%s\" (u)", key);
  return v;
}

static Part *
find_part (Client *c, guint64 id, guint *index)
{
  for (guint i = 0; i < c->parts->len; i++)
    if (g_array_index (c->parts, Part, i).id == id)
      {
        if (index)
          *index = i;
        return &g_array_index (c->parts, Part, i);
      }
  return NULL;
}

static guint
devices_in (Client *c, guint64 partition)
{
  guint n = 0;
  for (guint i = 0; i < c->devs->len; i++)
    n += ((Dev *) c->devs->pdata[i])->partition == partition;
  return n;
}

/* A partition has moved to @sw: its endpoints go with it (a VF stays on
 * its PF's switch, routed by its partition's entry or its own). */
static void
part_moved (Client *c, Part *p, guint64 sw)
{
  p->sw = sw;
  for (guint i = 0; i < c->devs->len; i++)
    {
      Dev *d = c->devs->pdata[i];
      if (!d->is_vf && d->partition == p->id)
        d->sw = sw;
    }
}

static Part *
random_part (Client *c)
{
  if (c->parts->len == 0)
    return NULL;
  return &g_array_index (c->parts, Part,
                         g_rand_int_range (c->rand, 0, (gint32) c->parts->len));
}

/* A random device of the record for which @want (NULL: any) holds. */
static Dev *
random_dev (Client *c, gboolean (*want) (Client *, Dev *))
{
  g_autofree Dev **pick = g_new (Dev *, c->devs->len + 1);
  guint n = 0;

  for (guint i = 0; i < c->devs->len; i++)
    if (want == NULL || want (c, c->devs->pdata[i]))
      pick[n++] = c->devs->pdata[i];
  return n ? pick[g_rand_int_range (c->rand, 0, (gint32) n)] : NULL;
}

static gboolean
is_mapped (Client *c, Dev *d)
{
  return d->partition != 0;
}

static gboolean
is_unmapped (Client *c, Dev *d)
{
  return d->partition == 0;
}

static gboolean
is_mapped_vf (Client *c, Dev *d)
{
  return d->is_vf && d->partition != 0;
}

static gboolean
is_unmapped_vf (Client *c, Dev *d)
{
  return d->is_vf && d->partition == 0;
}

static guint64
random_switch (Client *c, guint64 not_this)
{
  guint64 sw;
  do
    sw = c->switches[g_rand_int_range (c->rand, 0, (gint32) c->n_switches)];
  while (sw == not_this && c->n_switches > 1);
  return sw;
}

/* The lowest VF index of PF @pf no VF of the record has: what CreateVf and
 * TransferVf give. */
static guint
lowest_free_vf (Client *c, guint pf)
{
  for (guint idx = 0;; idx++)
    {
      gboolean used = FALSE;
      for (guint i = 0; i < c->devs->len && !used; i++)
        {
          Dev *d = c->devs->pdata[i];
          used = d->is_vf && d->pf == pf && d->vf_index == idx;
        }
      if (!used)
        return idx;
    }
}

static Dev *
add_vf (Client *c, guint64 id, guint pf, guint idx)
{
  Dev *d = g_new0 (Dev, 1);
  d->id = id;
  d->is_vf = TRUE;
  d->pf = pf;
  d->vf_index = idx;
  d->name = g_strdup_printf ("%s-vf%u", c->pfs[pf].name, idx);
  d->bar = c->pfs[pf].vf_bar;
  d->sw = c->pfs[pf].sw;
  g_ptr_array_add (c->devs, d);
  return d;
}

/* The follow-up read after a RequestPartition or GrowPartition: where
 * the daemon put the partition; the rest must be as recorded. */
static void
follow_up (Client *c, Part *p)
{
  g_autoptr (GVariant) r = NULL;
  g_autoptr (GVariant) info = NULL;

  r = call (c, K_GET_PARTITION, g_variant_new ("(t)", p->id), "(a{sv})");
  if (r == NULL)
    return;
  info = g_variant_get_child_value (r, 0);
  if (dict_t (info, "size") != p->size ||
      dict_t (info, "virt_first") != p->virt ||
      dict_t (info, "workload") != c->workload)
    mismatch (c, "partition %" G_GUINT64_FORMAT " is not as recorded", p->id);
  part_moved (c, p, dict_t (info, "switch"));
}

/* ------------------------------------------------------------------ */
/* The actions: each returns FALSE, having called nothing, when the record
 * has nothing for it to act on.  @room: calls left in the quota. */

static gboolean
act_request (Client *c, guint room)
{
  g_autoptr (GVariant) r = NULL;
  GVariantBuilder opts;
  Part p = { 0 };

  if (room < 2 || c->parts->len >= MAX_PARTS)
    return FALSE;
  p.size = c->granule * (guint64) g_rand_int_range (c->rand, 1, 9);
  g_variant_builder_init (&opts, G_VARIANT_TYPE ("a{sv}"));
  if (g_rand_int_range (c->rand, 0, 3) == 0)
    g_variant_builder_add (&opts, "{sv}", "preferred_switch",
                           g_variant_new_uint64 (random_switch (c, 0)));
  if (g_rand_int_range (c->rand, 0, 8) == 0)
    g_variant_builder_add (&opts, "{sv}", "min_bandwidth",
                           g_variant_new_uint64 (
                               (guint64) g_rand_int_range (c->rand, 100,
                                                           20000)));
  r = call (c, K_REQUEST,
            g_variant_new ("(tt@a{sv})", c->workload, p.size,
                           g_variant_builder_end (&opts)),
            "(tt)");
  if (r == NULL)
    return TRUE;
  g_variant_get (r, "(tt)", &p.id, &p.virt);
  g_array_append_val (c->parts, p);
  follow_up (c, &g_array_index (c->parts, Part, c->parts->len - 1));
  return TRUE;
}

static gboolean
act_release (Client *c, guint room)
{
  g_autoptr (GVariant) r = NULL;
  Part *p = random_part (c);

  if (p == NULL || c->parts->len < 2)
    return FALSE;
  r = call (c, K_RELEASE, g_variant_new ("(t)", p->id), "()");
  if (r == NULL)
    return TRUE;
  /* its devices are unmapped and stay bound where they are */
  for (guint i = 0; i < c->devs->len; i++)
    {
      Dev *d = c->devs->pdata[i];
      if (d->partition == p->id)
        d->partition = d->offset = 0;
    }
  g_array_remove_index (c->parts, (guint) (p - (Part *) c->parts->data));
  return TRUE;
}

static gboolean
act_grow (Client *c, guint room)
{
  g_autoptr (GVariant) r = NULL;
  Part *p = random_part (c);
  guint64 size;

  if (p == NULL || room < 2 || p->size >= 32 * c->granule)
    return FALSE;
  size = p->size + c->granule * (guint64) g_rand_int_range (c->rand, 1, 5);
  r = call (c, K_GROW, g_variant_new ("(tt)", p->id, size), "()");
  if (r == NULL)
    return TRUE;
  p->size = size;
  follow_up (c, p);
  return TRUE;
}

static gboolean
act_shrink (Client *c, guint room)
{
  g_autoptr (GVariant) r = NULL;
  Part *p = random_part (c);
  guint64 size;

  if (p == NULL || p->size <= c->granule)
    return FALSE;
  size =
      c->granule *
      (guint64) g_rand_int_range (c->rand, 1, (gint32) (p->size / c->granule));
  r = call (c, K_SHRINK, g_variant_new ("(tt)", p->id, size), "()");
  if (r != NULL)
    p->size = size;
  return TRUE;
}

static gboolean
act_migrate (Client *c, guint room)
{
  g_autoptr (GVariant) r = NULL;
  Part *p = random_part (c);
  guint64 sw;

  if (p == NULL)
    return FALSE;
  sw = random_switch (c, p->sw);
  r = call (c, K_MIGRATE, g_variant_new ("(tt)", p->id, sw), "()");
  if (r != NULL)
    part_moved (c, p, sw);
  return TRUE;
}

static gboolean
act_migrate_workload (Client *c, guint room)
{
  g_autoptr (GVariant) r = NULL;
  guint64 sw;

  if (c->parts->len == 0)
    return FALSE;
  sw = random_switch (c, 0);
  r = call (c, K_MIGRATE_WORKLOAD, g_variant_new ("(tt)", c->workload, sw),
            "()");
  if (r != NULL)
    for (guint i = 0; i < c->parts->len; i++)
      part_moved (c, &g_array_index (c->parts, Part, i), sw);
  return TRUE;
}

static gboolean
act_map (Client *c, guint room)
{
  g_autoptr (GVariant) r = NULL;
  Dev *d = random_dev (c, is_unmapped);
  Part *p = NULL;

  if (d == NULL || c->parts->len == 0)
    return FALSE;
  if (d->is_vf)
    {
      /* a VF maps only into a partition on its PF's switch: pick one
       * when there is one (else the refusal is counted) */
      for (guint i = 0; i < c->parts->len && p == NULL; i++)
        if (g_array_index (c->parts, Part, i).sw == d->sw)
          p = &g_array_index (c->parts, Part, i);
    }
  if (p == NULL)
    p = random_part (c);
  r = call (c, K_MAP, g_variant_new ("(tt)", p->id, d->id), "(t)");
  if (r == NULL)
    return TRUE;
  g_variant_get (r, "(t)", &d->offset);
  d->partition = p->id;
  if (!d->is_vf)
    d->sw = p->sw;
  return TRUE;
}

static gboolean
act_unmap (Client *c, guint room)
{
  g_autoptr (GVariant) r = NULL;
  Dev *d = random_dev (c, is_mapped);

  if (d == NULL)
    return FALSE;
  r = call (c, K_UNMAP, g_variant_new ("(tt)", d->partition, d->id), "()");
  if (r != NULL)
    d->partition = d->offset = 0;
  return TRUE;
}

static gboolean
act_create_vf (Client *c, guint room)
{
  g_autoptr (GVariant) r = NULL;
  guint pf, nvf = 0;
  guint64 id;

  if (c->n_pfs == 0)
    return FALSE;
  pf = (guint) g_rand_int_range (c->rand, 0, (gint32) c->n_pfs);
  for (guint i = 0; i < c->devs->len; i++)
    nvf += ((Dev *) c->devs->pdata[i])->is_vf;
  if (nvf >= MAX_VFS)
    return FALSE;
  r = call (c, K_CREATE_VF, g_variant_new ("(t)", c->pfs[pf].id), "(t)");
  if (r == NULL)
    return TRUE;
  g_variant_get (r, "(t)", &id);
  add_vf (c, id, pf, lowest_free_vf (c, pf));
  return TRUE;
}

static gboolean
act_destroy_vf (Client *c, guint room)
{
  g_autoptr (GVariant) r = NULL;
  Dev *d = random_dev (c, is_unmapped_vf);

  if (d == NULL)
    return FALSE;
  r = call (c, K_DESTROY_VF, g_variant_new ("(t)", d->id), "()");
  if (r != NULL)
    g_ptr_array_remove (c->devs, d);
  return TRUE;
}

static gboolean
act_transfer_vf (Client *c, guint room)
{
  g_autoptr (GVariant) r = NULL;
  Dev *d = random_dev (c, is_mapped_vf);
  guint target;
  guint64 id;
  Dev *n;

  if (d == NULL || c->n_pfs < 2)
    return FALSE;
  target = 1 - d->pf;
  r = call (c, K_TRANSFER_VF, g_variant_new ("(tt)", d->id, c->pfs[target].id),
            "(t)");
  if (r == NULL)
    return TRUE;
  g_variant_get (r, "(t)", &id);
  /* the new VF takes the old one's place in the partition */
  n = add_vf (c, id, target, lowest_free_vf (c, target));
  n->partition = d->partition;
  n->offset = d->offset;
  g_ptr_array_remove (c->devs, d);
  return TRUE;
}

static gboolean
act_record_usage (Client *c, guint room)
{
  g_autoptr (GVariant) r = NULL;
  guint64 bytes = 0;

  for (guint i = 0; i < c->parts->len; i++)
    bytes += g_array_index (c->parts, Part, i).size;
  bytes = bytes / 4 * (guint64) g_rand_int_range (c->rand, 1, 5);
  r = call (c, K_RECORD_USAGE,
            g_variant_new ("(tdt)", c->workload, c->time, bytes), "()");
  c->time += 1.0;
  if (r != NULL)
    c->samples++;
  return TRUE;
}

static gboolean
act_translate (Client *c, guint room)
{
  g_autoptr (GVariant) r = NULL;
  g_autoptr (GVariant) info = NULL;
  Part *p = random_part (c);
  Dev *at = NULL;
  guint64 off;

  if (p == NULL)
    return FALSE;
  /* half the time inside a mapped device's BAR */
  for (guint i = 0; i < c->devs->len && at == NULL; i++)
    {
      Dev *d = c->devs->pdata[i];
      if (d->partition == p->id && g_rand_boolean (c->rand))
        at = d;
    }
  off = at ? at->offset +
                 (guint64) g_rand_int_range (c->rand, 0, (gint32) at->bar)
           : (guint64) g_rand_double_range (c->rand, 0, (double) p->size);
  off &= ~G_GUINT64_CONSTANT (7);
  if (at == NULL)
    for (guint i = 0; i < c->devs->len && at == NULL; i++)
      {
        Dev *d = c->devs->pdata[i];
        if (d->partition == p->id && off >= d->offset &&
            off - d->offset < d->bar)
          at = d;
      }
  r = call (c, K_TRANSLATE, g_variant_new ("(tt)", c->workload, p->virt + off),
            "(a{sv})");
  if (r == NULL)
    return TRUE;
  info = g_variant_get_child_value (r, 0);
  if (dict_t (info, "partition") != p->id ||
      dict_t (info, "device") != (at ? at->id : 0) ||
      /* a VF is reached through its own switch */
      ((at == NULL || !at->is_vf) && dict_t (info, "switch") != p->sw))
    mismatch (c,
              "Translate virt 0x%" G_GINT64_MODIFIER
              "x (partition %" G_GUINT64_FORMAT " + 0x%" G_GINT64_MODIFIER
              "x): partition %" G_GUINT64_FORMAT " device %" G_GUINT64_FORMAT
              " switch %" G_GUINT64_FORMAT
              ", recorded device %" G_GUINT64_FORMAT
              " switch %" G_GUINT64_FORMAT,
              p->virt + off, p->id, off, dict_t (info, "partition"),
              dict_t (info, "device"), dict_t (info, "switch"), at ? at->id : 0,
              p->sw);
  return TRUE;
}

static gboolean
act_get_partition (Client *c, guint room)
{
  g_autoptr (GVariant) r = NULL;
  g_autoptr (GVariant) info = NULL;
  Part *p = random_part (c);

  if (p == NULL)
    return FALSE;
  r = call (c, K_GET_PARTITION, g_variant_new ("(t)", p->id), "(a{sv})");
  if (r == NULL)
    return TRUE;
  info = g_variant_get_child_value (r, 0);
  if (dict_t (info, "size") != p->size || dict_t (info, "switch") != p->sw ||
      dict_t (info, "virt_first") != p->virt ||
      dict_u (info, "devices") != devices_in (c, p->id))
    mismatch (c, "GetPartition %" G_GUINT64_FORMAT ": not as recorded", p->id);
  return TRUE;
}

static gboolean
act_get_workload (Client *c, guint room)
{
  g_autoptr (GVariant) r = NULL;
  g_autoptr (GVariant) info = NULL;
  g_autoptr (GVariant) ids = NULL;
  gsize n;
  const guint64 *v;
  guint found = 0;

  r = call (c, K_GET_WORKLOAD, g_variant_new ("(t)", c->workload), "(a{sv})");
  if (r == NULL)
    return TRUE;
  info = g_variant_get_child_value (r, 0);
  ids = g_variant_lookup_value (info, "partitions", G_VARIANT_TYPE ("at"));
  v = g_variant_get_fixed_array (ids, &n, sizeof (guint64));
  for (gsize i = 0; i < n; i++)
    found += find_part (c, v[i], NULL) != NULL;
  if (found != n || n != c->parts->len)
    mismatch (c, "GetWorkload: %" G_GSIZE_FORMAT " partitions, %u recorded", n,
              c->parts->len);
  return TRUE;
}

static gboolean
act_get_device (Client *c, guint room)
{
  g_autoptr (GVariant) r = NULL;
  g_autoptr (GVariant) info = NULL;
  Dev *d = random_dev (c, NULL);

  if (d == NULL)
    return FALSE;
  r = call (c, K_GET_DEVICE, g_variant_new ("(t)", d->id), "(a{sv})");
  if (r == NULL)
    return TRUE;
  info = g_variant_get_child_value (r, 0);
  if (dict_t (info, "partition") != d->partition ||
      dict_t (info, "partition_offset") != d->offset ||
      dict_t (info, "switch") != d->sw)
    mismatch (c, "GetDevice %" G_GUINT64_FORMAT " (%s): not as recorded", d->id,
              d->name);
  return TRUE;
}

static gboolean
act_get_switch (Client *c, guint room)
{
  g_autoptr (GVariant) r = NULL;

  r = call (c, K_GET_SWITCH, g_variant_new ("(t)", random_switch (c, 0)),
            "(a{sv})");
  return TRUE;
}

static gboolean
act_list (Client *c, guint room)
{
  static const char *const what[] = { "partitions", "devices", "switches",
                                      "workloads" };
  g_autoptr (GVariant) r = NULL;
  g_autoptr (GVariant) ids = NULL;
  guint w = (guint) g_rand_int_range (c->rand, 0, G_N_ELEMENTS (what));
  const guint64 *v;
  gsize n;
  guint found = 0;

  r = call (c, K_LIST, g_variant_new ("(s)", what[w]), "(at)");
  if (r == NULL || w != 0)
    return TRUE;
  /* every partition of the record is listed */
  ids = g_variant_get_child_value (r, 0);
  v = g_variant_get_fixed_array (ids, &n, sizeof (guint64));
  for (gsize i = 0; i < n; i++)
    found += find_part (c, v[i], NULL) != NULL;
  if (found != c->parts->len)
    mismatch (c, "List partitions: %u of %u recorded listed", found,
              c->parts->len);
  return TRUE;
}

static gboolean
act_predict (Client *c, guint room)
{
  g_autoptr (GVariant) r = NULL;

  r = call (c, K_PREDICT, g_variant_new ("(td)", c->workload, c->time + 4),
            "(t)");
  return TRUE;
}

static gboolean (*const actions[N_KINDS]) (Client *, guint) = {
  [K_REQUEST] = act_request,
  [K_RELEASE] = act_release,
  [K_GROW] = act_grow,
  [K_SHRINK] = act_shrink,
  [K_MIGRATE] = act_migrate,
  [K_MIGRATE_WORKLOAD] = act_migrate_workload,
  [K_MAP] = act_map,
  [K_UNMAP] = act_unmap,
  [K_CREATE_VF] = act_create_vf,
  [K_DESTROY_VF] = act_destroy_vf,
  [K_TRANSFER_VF] = act_transfer_vf,
  [K_RECORD_USAGE] = act_record_usage,
  [K_TRANSLATE] = act_translate,
  [K_GET_PARTITION] = act_get_partition,
  [K_GET_WORKLOAD] = act_get_workload,
  [K_GET_DEVICE] = act_get_device,
  [K_GET_SWITCH] = act_get_switch,
  [K_LIST] = act_list,
  [K_PREDICT] = act_predict,
};

static guint total_weight;

static GMutex start_lock;
static GCond start_cond;
static gboolean started;

static gpointer
client_run (gpointer data)
{
  Client *c = data;

  g_mutex_lock (&start_lock);
  while (!started)
    g_cond_wait (&start_cond, &start_lock);
  g_mutex_unlock (&start_lock);

  while (c->done < c->quota && !c->fatal)
    {
      guint draw = (guint) g_rand_int_range (c->rand, 0, (gint32) total_weight);
      Kind k = 0;

      while (draw >= kinds[k].weight)
        draw -= kinds[k++].weight;
      actions[k](c, c->quota - c->done);
    }
  return NULL;
}

/* ------------------------------------------------------------------ */
/* The daemon's state as lines, one per object                          */

static GVariant *
sync_call (GDBusConnection *bus, const char *method, GVariant *args,
           const char *reply_type, GError **error)
{
  return g_dbus_connection_call_sync (bus, BUS_NAME, OBJECT_PATH, IFACE, method,
                                      args,
                                      reply_type ? G_VARIANT_TYPE (reply_type)
                                                 : NULL,
                                      G_DBUS_CALL_FLAGS_NO_AUTO_START,
                                      CALL_TIMEOUT_MS, NULL, error);
}

static GVariant *
get_info (GDBusConnection *bus, const char *method, guint64 id, GError **error)
{
  g_autoptr (GVariant) r =
      sync_call (bus, method, g_variant_new ("(t)", id), "(a{sv})", error);
  return r ? g_variant_get_child_value (r, 0) : NULL;
}

static GVariant *
list (GDBusConnection *bus, const char *what, GError **error)
{
  g_autoptr (GVariant) r =
      sync_call (bus, "List", g_variant_new ("(s)", what), "(at)", error);
  return r ? g_variant_get_child_value (r, 0) : NULL;
}

static char *
line_device (guint64 id, const char *name, const char *kind, guint64 sw,
             guint64 pf, guint64 partition, guint64 offset)
{
  return g_strdup_printf ("device %" G_GUINT64_FORMAT " name=%s kind=%s "
                          "switch=%" G_GUINT64_FORMAT " pf=%" G_GUINT64_FORMAT
                          " partition=%" G_GUINT64_FORMAT
                          " offset=0x%" G_GINT64_MODIFIER "x",
                          id, name, kind, sw, pf, partition, offset);
}

static char *
line_partition (guint64 id, guint64 workload, guint64 sw, guint64 virt,
                guint64 size, guint devices)
{
  return g_strdup_printf ("partition %" G_GUINT64_FORMAT
                          " workload=%" G_GUINT64_FORMAT
                          " switch=%" G_GUINT64_FORMAT
                          " virt=0x%" G_GINT64_MODIFIER
                          "x size=0x%" G_GINT64_MODIFIER "x devices=%u",
                          id, workload, sw, virt, size, devices);
}

static int
cmp_u64 (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;
  return x < y ? -1 : x > y;
}

static char *
line_workload (guint64 id, const char *name, GArray *parts, guint64 samples)
{
  GString *s = g_string_new (NULL);

  g_array_sort (parts, cmp_u64);
  g_string_printf (s, "workload %" G_GUINT64_FORMAT " name=%s partitions=", id,
                   name);
  for (guint i = 0; i < parts->len; i++)
    g_string_append_printf (s, "%s%" G_GUINT64_FORMAT, i ? "," : "",
                            g_array_index (parts, guint64, i));
  g_string_append_printf (s, " samples=%" G_GUINT64_FORMAT, samples);
  return g_string_free (s, FALSE);
}

/* Save's JSON as a tree, without journal_seq (the journal's position,
 * which a restart's checkpoint moves on without changing the state). */
static JsonNode *
save_tree (GDBusConnection *bus, GError **error)
{
  g_autoptr (GVariant) r = sync_call (bus, "Save", NULL, "(s)", error);
  g_autoptr (JsonParser) parser = json_parser_new ();
  const char *json;
  JsonNode *root;

  if (r == NULL)
    return NULL;
  g_variant_get (r, "(&s)", &json);
  if (!json_parser_load_from_data (parser, json, -1, error))
    return NULL;
  root = json_parser_steal_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      json_node_unref (root);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "Save did not answer a JSON object");
      return NULL;
    }
  json_object_remove_member (json_node_get_object (root), "journal_seq");
  return root;
}

static guint64
json_u64 (JsonObject *o, const char *member)
{
  JsonNode *n = json_object_get_member (o, member);
  if (n == NULL)
    return 0;
  if (json_node_get_value_type (n) == G_TYPE_STRING)
    return g_ascii_strtoull (json_node_get_string (n), NULL, 0);
  return (guint64) json_node_get_int (n);
}

/* The daemon's state: id → line, and id → the object's kind.  Also the
 * GetPartition and GetDevice answers, for the clients to adopt what they
 * own. */
typedef struct {
  GHashTable *lines;   /* guint64* → char* */
  GHashTable *infos;   /* guint64* → GVariant a{sv} (devices, partitions) */
  GHashTable *samples; /* workload guint64* → guint64* */
  char *save;          /* Save's JSON less journal_seq, pretty */
} State;

static void
state_free (State *s)
{
  if (s == NULL)
    return;
  g_hash_table_unref (s->lines);
  g_hash_table_unref (s->infos);
  g_hash_table_unref (s->samples);
  g_free (s->save);
  g_free (s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (State, state_free)

static guint64 *
u64_dup (guint64 v)
{
  return g_memdup2 (&v, sizeof v);
}

static State *
state_read (GDBusConnection *bus, GError **error)
{
  g_autoptr (State) s = g_new0 (State, 1);
  g_autoptr (JsonNode) save = NULL;
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (GVariant) ids = NULL;
  JsonArray *workloads;
  const guint64 *v;
  gsize n;

  s->lines =
      g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  s->infos = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                    (GDestroyNotify) g_variant_unref);
  s->samples =
      g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);

  save = save_tree (bus, error);
  if (save == NULL)
    return NULL;
  json_generator_set_root (gen, save);
  json_generator_set_pretty (gen, TRUE);
  s->save = json_generator_to_data (gen, NULL);
  workloads =
      json_object_get_array_member (json_node_get_object (save), "workloads");
  for (guint i = 0; workloads && i < json_array_get_length (workloads); i++)
    {
      JsonObject *w = json_array_get_object_element (workloads, i);
      g_hash_table_insert (s->samples, u64_dup (json_u64 (w, "id")),
                           u64_dup (json_u64 (w, "n_samples")));
    }

  if ((ids = list (bus, "switches", error)) == NULL)
    return NULL;
  v = g_variant_get_fixed_array (ids, &n, sizeof (guint64));
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) info = get_info (bus, "GetSwitch", v[i], error);
      const char *name;
      if (info == NULL)
        return NULL;
      g_variant_lookup (info, "name", "&s", &name);
      g_hash_table_insert (s->lines, u64_dup (v[i]),
                           g_strdup_printf ("switch %" G_GUINT64_FORMAT
                                            " name=%s",
                                            v[i], name));
    }
  g_clear_pointer (&ids, g_variant_unref);

  if ((ids = list (bus, "devices", error)) == NULL)
    return NULL;
  v = g_variant_get_fixed_array (ids, &n, sizeof (guint64));
  for (gsize i = 0; i < n; i++)
    {
      GVariant *info = get_info (bus, "GetDevice", v[i], error);
      const char *name, *kind;
      if (info == NULL)
        return NULL;
      g_variant_lookup (info, "name", "&s", &name);
      g_variant_lookup (info, "kind", "&s", &kind);
      g_hash_table_insert (s->lines, u64_dup (v[i]),
                           line_device (v[i], name, kind,
                                        dict_t (info, "switch"),
                                        dict_t (info, "pf"),
                                        dict_t (info, "partition"),
                                        dict_t (info, "partition_offset")));
      g_hash_table_insert (s->infos, u64_dup (v[i]), info);
    }
  g_clear_pointer (&ids, g_variant_unref);

  if ((ids = list (bus, "partitions", error)) == NULL)
    return NULL;
  v = g_variant_get_fixed_array (ids, &n, sizeof (guint64));
  for (gsize i = 0; i < n; i++)
    {
      GVariant *info = get_info (bus, "GetPartition", v[i], error);
      if (info == NULL)
        return NULL;
      g_hash_table_insert (s->lines, u64_dup (v[i]),
                           line_partition (v[i], dict_t (info, "workload"),
                                           dict_t (info, "switch"),
                                           dict_t (info, "virt_first"),
                                           dict_t (info, "size"),
                                           dict_u (info, "devices")));
      g_hash_table_insert (s->infos, u64_dup (v[i]), info);
    }
  g_clear_pointer (&ids, g_variant_unref);

  if ((ids = list (bus, "workloads", error)) == NULL)
    return NULL;
  v = g_variant_get_fixed_array (ids, &n, sizeof (guint64));
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) info = get_info (bus, "GetWorkload", v[i], error);
      g_autoptr (GVariant) parts = NULL;
      g_autoptr (GArray) a = g_array_new (FALSE, FALSE, sizeof (guint64));
      const guint64 *pv;
      const guint64 *samples;
      const char *name;
      gsize np;
      if (info == NULL)
        return NULL;
      g_variant_lookup (info, "name", "&s", &name);
      parts =
          g_variant_lookup_value (info, "partitions", G_VARIANT_TYPE ("at"));
      pv = g_variant_get_fixed_array (parts, &np, sizeof (guint64));
      g_array_append_vals (a, pv, (guint) np);
      samples = g_hash_table_lookup (s->samples, &v[i]);
      g_hash_table_insert (s->lines, u64_dup (v[i]),
                           line_workload (v[i], name, a,
                                          samples ? *samples : 0));
      g_hash_table_insert (s->infos, u64_dup (v[i]), g_steal_pointer (&info));
    }
  return g_steal_pointer (&s);
}

/* The lines of @lines in the order of their ids, one string. */
static char *
lines_text (GHashTable *lines)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (guint64));
  GHashTableIter it;
  gpointer key;
  GString *s = g_string_new (NULL);

  g_hash_table_iter_init (&it, lines);
  while (g_hash_table_iter_next (&it, &key, NULL))
    g_array_append_val (ids, *(guint64 *) key);
  g_array_sort (ids, cmp_u64);
  for (guint i = 0; i < ids->len; i++)
    {
      g_string_append (s,
                       g_hash_table_lookup (lines,
                                            &g_array_index (ids, guint64, i)));
      g_string_append_c (s, '\n');
    }
  return g_string_free (s, FALSE);
}

/* Compares two descriptions; prints what differs (at most 40 lines). */
static gboolean
compare_text (const char *what, const char *expected, const char *actual)
{
  g_auto (GStrv) e = NULL;
  g_auto (GStrv) a = NULL;
  g_autoptr (GHashTable) in_a = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) in_e = g_hash_table_new (g_str_hash, g_str_equal);
  guint shown = 0;

  if (strcmp (expected, actual) == 0)
    return TRUE;
  e = g_strsplit (expected, "\n", -1);
  a = g_strsplit (actual, "\n", -1);
  for (guint i = 0; a[i]; i++)
    g_hash_table_add (in_a, a[i]);
  for (guint i = 0; e[i]; i++)
    g_hash_table_add (in_e, e[i]);
  fprintf (stderr, "MISMATCH %s (- expected, + the daemon's):\n", what);
  for (guint i = 0; e[i] && shown < 40; i++)
    if (!g_hash_table_contains (in_a, e[i]))
      {
        fprintf (stderr, "  - %s\n", e[i]);
        shown++;
      }
  for (guint i = 0; a[i] && shown < 40; i++)
    if (!g_hash_table_contains (in_e, a[i]))
      {
        fprintf (stderr, "  + %s\n", a[i]);
        shown++;
      }
  if (shown == 0)
    fprintf (stderr, "  (the same lines, in another order)\n");
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* Setting up the clients                                               */

static guint64
resolve (GDBusConnection *bus, const char *kind, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) r =
      sync_call (bus, "Resolve", g_variant_new ("(ss)", kind, name), "(t)",
                 &error);
  guint64 id = 0;

  if (r != NULL)
    g_variant_get (r, "(t)", &id);
  return id;
}

/* Client @c adopts what it owns as @s describes it (a fresh fabric: its
 * workload, two endpoints and two PFs, nothing mapped). */
static gboolean
client_adopt (Client *c, State *s, GHashTable *owned)
{
  g_autofree char *prefix = g_strdup_printf ("c%u-", c->index);
  GHashTableIter it;
  gpointer key, value;
  const guint64 *samples;

  c->workload_name = g_strdup_printf ("w%u", c->index);
  c->workload = resolve (c->bus, "workload", c->workload_name);
  if (c->workload == 0)
    {
      fprintf (stderr,
               "the fabric has no workload '%s' for client %u (it "
               "needs w0..w%u: see load-fabric.json)\n",
               c->workload_name, c->index, c->index);
      return FALSE;
    }
  g_hash_table_add (owned, u64_dup (c->workload));
  samples = g_hash_table_lookup (s->samples, &c->workload);
  c->samples = samples ? *samples : 0;
  c->time = (double) c->samples + 1000.0;

  /* the PFs first, then endpoints and VFs */
  for (int pass = 0; pass < 2; pass++)
    {
      g_hash_table_iter_init (&it, s->infos);
      while (g_hash_table_iter_next (&it, &key, &value))
        {
          GVariant *info = value;
          guint64 id = *(guint64 *) key;
          const char *name, *kind;
          if (!g_variant_lookup (info, "kind", "&s", &kind))
            continue; /* not a device */
          g_variant_lookup (info, "name", "&s", &name);
          if (pass == 0 && strcmp (kind, "pf") == 0 &&
              g_str_has_prefix (name, prefix) && c->n_pfs < 2)
            {
              Pf *pf = &c->pfs[c->n_pfs++];
              pf->id = id;
              pf->name = g_strdup (name);
              pf->sw = dict_t (info, "switch");
              pf->bar = dict_t (info, "bar_size");
              pf->max_vfs = dict_u (info, "max_vfs");
              pf->vf_bar = dict_t (info, "vf_bar_size");
              if (dict_t (info, "partition") != 0)
                {
                  fprintf (stderr,
                           "PF %s is mapped: bench-asmd needs the "
                           "clients' PFs unmapped\n",
                           name);
                  return FALSE;
                }
              g_hash_table_add (owned, u64_dup (id));
            }
          else if (pass == 1 && strcmp (kind, "endpoint") == 0 &&
                   g_str_has_prefix (name, prefix))
            {
              Dev *d = g_new0 (Dev, 1);
              d->id = id;
              d->name = g_strdup (name);
              d->bar = dict_t (info, "bar_size");
              d->sw = dict_t (info, "switch");
              d->partition = dict_t (info, "partition");
              d->offset = dict_t (info, "partition_offset");
              g_ptr_array_add (c->devs, d);
              g_hash_table_add (owned, u64_dup (id));
            }
          else if (pass == 1 && strcmp (kind, "vf") == 0)
            {
              guint64 pf = dict_t (info, "pf");
              for (guint k = 0; k < c->n_pfs; k++)
                if (c->pfs[k].id == pf)
                  {
                    Dev *d = add_vf (c, id, k, dict_u (info, "vf_index"));
                    g_free (d->name);
                    d->name = g_strdup (name);
                    d->sw = dict_t (info, "switch");
                    d->partition = dict_t (info, "partition");
                    d->offset = dict_t (info, "partition_offset");
                    g_hash_table_add (owned, u64_dup (id));
                  }
            }
        }
    }
  g_hash_table_iter_init (&it, s->infos);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      GVariant *info = value;
      Part p;
      if (!g_variant_lookup (info, "virt_first", "t", &p.virt) ||
          dict_t (info, "workload") != c->workload)
        continue;
      p.id = *(guint64 *) key;
      p.size = dict_t (info, "size");
      p.sw = dict_t (info, "switch");
      g_array_append_val (c->parts, p);
      g_hash_table_add (owned, u64_dup (p.id));
    }
  return TRUE;
}

/* The client's record as lines (into @lines, id → line). */
static void
client_lines (Client *c, GHashTable *lines)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (guint64));

  for (guint i = 0; i < c->n_pfs; i++)
    g_hash_table_insert (lines, u64_dup (c->pfs[i].id),
                         line_device (c->pfs[i].id, c->pfs[i].name, "pf",
                                      c->pfs[i].sw, 0, 0, 0));
  for (guint i = 0; i < c->devs->len; i++)
    {
      Dev *d = c->devs->pdata[i];
      g_hash_table_insert (lines, u64_dup (d->id),
                           line_device (d->id, d->name,
                                        d->is_vf ? "vf" : "endpoint", d->sw,
                                        d->is_vf ? c->pfs[d->pf].id : 0,
                                        d->partition, d->offset));
    }
  for (guint i = 0; i < c->parts->len; i++)
    {
      Part *p = &g_array_index (c->parts, Part, i);
      g_hash_table_insert (lines, u64_dup (p->id),
                           line_partition (p->id, c->workload, p->sw, p->virt,
                                           p->size, devices_in (c, p->id)));
      g_array_append_val (ids, p->id);
    }
  g_hash_table_insert (lines, u64_dup (c->workload),
                       line_workload (c->workload, c->workload_name, ids,
                                      c->samples));
}

static GDBusConnection *
connect_bus (GError **error)
{
  g_autofree char *address =
      g_dbus_address_get_for_bus_sync (G_BUS_TYPE_SESSION, NULL, error);

  if (address == NULL)
    return NULL;
  return g_dbus_connection_new_for_address_sync (
      address,
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
          G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
      NULL, NULL, error);
}

static guint64
operations (GDBusConnection *bus, GError **error)
{
  g_autoptr (GVariant) r =
      g_dbus_connection_call_sync (bus, BUS_NAME, OBJECT_PATH,
                                   "org.freedesktop.DBus.Properties", "Get",
                                   g_variant_new ("(ss)", IFACE, "Operations"),
                                   G_VARIANT_TYPE ("(v)"),
                                   G_DBUS_CALL_FLAGS_NO_AUTO_START,
                                   CALL_TIMEOUT_MS, NULL, error);
  g_autoptr (GVariant) v = NULL;

  if (r == NULL)
    return G_MAXUINT64;
  g_variant_get (r, "(v)", &v);
  return g_variant_get_uint64 (v);
}

static gboolean
run_check (GDBusConnection *bus)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) r = sync_call (bus, "Check", NULL, "()", &error);

  if (r == NULL)
    {
      fprintf (stderr, "MISMATCH Check: %s\n", error->message);
      return FALSE;
    }
  printf ("Check: the model's invariants hold and the hardware equals the "
          "model\n");
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Figures                                                              */

static int
cmp_ns (gconstpointer a, gconstpointer b)
{
  guint64 x = ((const Sample *) a)->ns, y = ((const Sample *) b)->ns;
  return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) of @n sorted samples. */
static double
quantile_ms (const Sample *v, guint n, double q)
{
  guint rank;

  if (n == 0)
    return 0;
  rank = (guint) (q * n + 0.999999);
  rank = rank < 1 ? 1 : rank > n ? n : rank;
  return (double) v[rank - 1].ns / 1e6;
}

static void
print_figures (Client *clients, guint n, guint64 wall_ns)
{
  g_autoptr (GArray) all = g_array_new (FALSE, FALSE, sizeof (Sample));
  g_autoptr (GHashTable) codes = g_hash_table_new (g_str_hash, g_str_equal);
  guint64 calls[N_KINDS] = { 0 }, ok[N_KINDS] = { 0 }, ref[N_KINDS] = { 0 };
  guint64 total_ok = 0, total_ref = 0, changes = 0;
  double secs = (double) wall_ns / 1e9;
  GHashTableIter it;
  gpointer key, value;

  for (guint i = 0; i < n; i++)
    {
      Client *c = &clients[i];
      g_array_append_vals (all, c->lat->data, c->lat->len);
      for (guint k = 0; k < N_KINDS; k++)
        {
          calls[k] += c->calls[k];
          ok[k] += c->ok[k];
          ref[k] += c->refused[k];
          total_ok += c->ok[k];
          total_ref += c->refused[k];
        }
      changes += c->changes_ok;
      g_hash_table_iter_init (&it, c->codes);
      while (g_hash_table_iter_next (&it, &key, &value))
        g_hash_table_insert (codes, key,
                             GSIZE_TO_POINTER (
                                 GPOINTER_TO_SIZE (
                                     g_hash_table_lookup (codes, key)) +
                                 GPOINTER_TO_SIZE (value)));
    }
  g_array_sort (all, cmp_ns);
  printf ("\n%u clients, %u calls (%" G_GUINT64_FORMAT
          " succeeded, %" G_GUINT64_FORMAT " refused; %" G_GUINT64_FORMAT
          " changes committed)\n",
          n, all->len, total_ok, total_ref, changes);
  printf ("wall time   %.3f s\n", secs);
  printf ("throughput  %.0f calls/s (%.0f committed changes/s)\n",
          all->len / secs, changes / secs);
  printf ("latency     median %.3f ms, 99th percentile %.3f ms, max %.3f "
          "ms\n",
          quantile_ms ((Sample *) all->data, all->len, 0.5),
          quantile_ms ((Sample *) all->data, all->len, 0.99),
          quantile_ms ((Sample *) all->data, all->len, 1.0));
  printf ("\n%-18s %7s %7s %7s %10s %10s\n", "kind", "calls", "ok", "refused",
          "median ms", "p99 ms");
  for (guint k = 0; k < N_KINDS; k++)
    {
      g_autoptr (GArray) v = g_array_new (FALSE, FALSE, sizeof (Sample));
      for (guint i = 0; i < all->len; i++)
        if (g_array_index (all, Sample, i).kind == k)
          g_array_append_val (v, g_array_index (all, Sample, i));
      printf ("%-18s %7" G_GUINT64_FORMAT " %7" G_GUINT64_FORMAT
              " %7" G_GUINT64_FORMAT " %10.3f %10.3f\n",
              kinds[k].method, calls[k], ok[k], ref[k],
              quantile_ms ((Sample *) v->data, v->len, 0.5),
              quantile_ms ((Sample *) v->data, v->len, 0.99));
    }
  printf ("\nrefusals by code:");
  if (g_hash_table_size (codes) == 0)
    printf (" none");
  g_hash_table_iter_init (&it, codes);
  while (g_hash_table_iter_next (&it, &key, &value))
    printf (" %s %" G_GSIZE_FORMAT, (char *) key, GPOINTER_TO_SIZE (value));
  printf ("\n\n");
}

/* ------------------------------------------------------------------ */

static gboolean
write_record (const char *path, const char *expected, const char *save)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *save_path = g_strconcat (path, ".save", NULL);

  if (!g_file_set_contents (path, expected, -1, &error) ||
      !g_file_set_contents (save_path, save, -1, &error))
    {
      fprintf (stderr, "bench-asmd: %s\n", error->message);
      return FALSE;
    }
  return TRUE;
}

static int
verify_only (GDBusConnection *bus, const char *record)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *save_path = g_strconcat (record, ".save", NULL);
  g_autofree char *expected = NULL;
  g_autofree char *expected_save = NULL;
  g_autofree char *actual = NULL;
  g_autoptr (State) s = NULL;
  gboolean good;

  if (!g_file_get_contents (record, &expected, NULL, &error) ||
      !g_file_get_contents (save_path, &expected_save, NULL, &error))
    {
      fprintf (stderr, "bench-asmd: %s\n", error->message);
      return 1;
    }
  s = state_read (bus, &error);
  if (s == NULL)
    {
      fprintf (stderr, "bench-asmd: reading the daemon's state: %s\n",
               error->message);
      return 1;
    }
  actual = lines_text (s->lines);
  good = compare_text ("state after the restart", expected, actual);
  good =
      compare_text ("Save's JSON after the restart", expected_save, s->save) &&
      good;
  good = run_check (bus) && good;
  printf ("%s: %u objects, Save's JSON (%" G_GSIZE_FORMAT " bytes) %s\n",
          good ? "verified" : "NOT VERIFIED", g_hash_table_size (s->lines),
          strlen (s->save), good ? "identical" : "compared");
  return good ? 0 : 1;
}

int
main (int argc, char **argv)
{
  gint n_clients = 4, n_ops = 10000;
  gint64 seed = -1;
  gboolean verify = FALSE;
  g_autofree char *record = NULL;
  const GOptionEntry entries[] = {
    { "clients", 'c', 0, G_OPTION_ARG_INT, &n_clients,
      "Client threads, each with its own connection (default 4, at most 8)",
      "N" },
    { "ops", 'n', 0, G_OPTION_ARG_INT, &n_ops,
      "Calls in all, shared out evenly (default 10000)", "N" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed,
      "Seed of the clients' choices (default: from the time)", "S" },
    { "record", 'r', 0, G_OPTION_ARG_FILENAME, &record,
      "Write the expected state to FILE and Save's JSON to FILE.save (or, "
      "with --verify-only, read them)",
      "FILE" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      "Print every refusal, with the daemon's message", NULL },
    { "verify-only", 0, 0, G_OPTION_ARG_NONE, &verify,
      "Only check the daemon against --record FILE, and run Check", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx =
      g_option_context_new ("- asmd under load, none lost");
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) bus = NULL;
  g_autoptr (State) before = NULL;
  g_autoptr (State) after = NULL;
  g_autoptr (GHashTable) owned = NULL;
  g_autoptr (GHashTable) expected_lines = NULL;
  g_autoptr (GVariant) sw_ids = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *actual = NULL;
  g_autofree Client *clients = NULL;
  g_autofree GThread **threads = NULL;
  const guint64 *switches;
  gsize n_switches;
  guint64 ops_before, ops_after, changes = 0, t0, wall;
  guint mismatches = 0;
  gboolean good = TRUE, fatal = FALSE;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (
      ctx, "Talks to an asmd already serving org.asm.Fabric1 on the session "
           "bus (run-bench-asmd.sh starts one on load-fabric.json).\nExit "
           "status: 0 none lost, 1 a mismatch or an error, 2 bad options.");
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "bench-asmd: %s\n", error->message);
      return 2;
    }
  if (n_clients < 1 || n_clients > MAX_CLIENTS || n_ops < n_clients ||
      (verify && record == NULL))
    {
      fprintf (stderr,
               "bench-asmd: --clients is 1..%d, --ops at least "
               "--clients; --verify-only needs --record\n",
               MAX_CLIENTS);
      return 2;
    }

  bus = connect_bus (&error);
  if (bus == NULL)
    {
      fprintf (stderr, "bench-asmd: the session bus: %s\n", error->message);
      return 1;
    }
  if (verify)
    return verify_only (bus, record);

  if (seed < 0)
    seed = g_get_real_time () % 1000000;
  printf ("bench-asmd: %d clients, %d calls, seed %" G_GINT64_FORMAT "\n",
          n_clients, n_ops, seed);

  before = state_read (bus, &error);
  ops_before = before ? operations (bus, &error) : G_MAXUINT64;
  if (before == NULL || ops_before == G_MAXUINT64 ||
      (sw_ids = list (bus, "switches", &error)) == NULL)
    {
      fprintf (stderr, "bench-asmd: reading the daemon's state: %s\n",
               error->message);
      return 1;
    }
  switches = g_variant_get_fixed_array (sw_ids, &n_switches, sizeof (guint64));

  {
    g_autoptr (GVariant) r =
        g_dbus_connection_call_sync (bus, BUS_NAME, OBJECT_PATH,
                                     "org.freedesktop.DBus.Properties", "Get",
                                     g_variant_new ("(ss)", IFACE, "Granule"),
                                     G_VARIANT_TYPE ("(v)"),
                                     G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS,
                                     NULL, &error);
    g_autoptr (GVariant) v = NULL;
    guint64 granule;
    if (r == NULL)
      {
        fprintf (stderr, "bench-asmd: Granule: %s\n", error->message);
        return 1;
      }
    g_variant_get (r, "(v)", &v);
    granule = g_variant_get_uint64 (v);

    owned = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
    clients = g_new0 (Client, (guint) n_clients);
    threads = g_new0 (GThread *, (guint) n_clients);
    for (gint i = 0; i < n_clients; i++)
      {
        Client *c = &clients[i];
        c->index = (guint) i;
        c->bus = connect_bus (&error);
        if (c->bus == NULL)
          {
            fprintf (stderr, "bench-asmd: client %d: %s\n", i, error->message);
            return 1;
          }
        c->rand = g_rand_new_with_seed ((guint32) (seed * 31 + i));
        c->granule = granule;
        c->switches = switches;
        c->n_switches = (guint) n_switches;
        c->parts = g_array_new (FALSE, FALSE, sizeof (Part));
        c->devs = g_ptr_array_new_with_free_func (dev_free);
        c->lat = g_array_new (FALSE, FALSE, sizeof (Sample));
        c->codes =
            g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
        c->quota = (guint) (n_ops / n_clients + (i < n_ops % n_clients));
        if (!client_adopt (c, before, owned))
          return 1;
      }
  }

  for (guint k = 0; k < N_KINDS; k++)
    total_weight += kinds[k].weight;
  for (gint i = 0; i < n_clients; i++)
    threads[i] = g_thread_new ("bench-client", client_run, &clients[i]);
  t0 = now_ns ();
  g_mutex_lock (&start_lock);
  started = TRUE;
  g_cond_broadcast (&start_cond);
  g_mutex_unlock (&start_lock);
  for (gint i = 0; i < n_clients; i++)
    g_thread_join (threads[i]);
  wall = now_ns () - t0;

  print_figures (clients, (guint) n_clients, wall);

  /* the expected state: what no client owns as it was, plus the records */
  expected_lines =
      g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  {
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init (&it, before->lines);
    while (g_hash_table_iter_next (&it, &key, &value))
      if (!g_hash_table_contains (owned, key))
        g_hash_table_insert (expected_lines, u64_dup (*(guint64 *) key),
                             g_strdup (value));
  }
  for (gint i = 0; i < n_clients; i++)
    {
      client_lines (&clients[i], expected_lines);
      changes += clients[i].changes_ok;
      mismatches += clients[i].mismatches;
      fatal |= clients[i].fatal;
    }
  if (fatal)
    {
      fprintf (stderr, "bench-asmd: a client met an error that is not a "
                       "refusal (above)\n");
      good = FALSE;
    }
  if (mismatches > 0)
    {
      fprintf (stderr, "bench-asmd: %u mismatches during the run\n",
               mismatches);
      good = FALSE;
    }

  after = state_read (bus, &error);
  ops_after = after ? operations (bus, &error) : G_MAXUINT64;
  if (after == NULL || ops_after == G_MAXUINT64)
    {
      fprintf (stderr, "bench-asmd: reading the daemon's state: %s\n",
               error->message);
      return 1;
    }
  expected = lines_text (expected_lines);
  actual = lines_text (after->lines);
  if (compare_text ("state after the run", expected, actual))
    printf ("state: the daemon's %u objects are exactly what the clients' "
            "successful calls imply\n",
            g_hash_table_size (after->lines));
  else
    good = FALSE;
  if (ops_after - ops_before != changes)
    {
      fprintf (stderr,
               "MISMATCH Operations grew by %" G_GUINT64_FORMAT
               ", the clients saw %" G_GUINT64_FORMAT " changes succeed\n",
               ops_after - ops_before, changes);
      good = FALSE;
    }
  else
    printf ("Operations: %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT
            ", the %" G_GUINT64_FORMAT " changes the clients saw succeed\n",
            ops_before, ops_after, changes);
  good = run_check (bus) && good;
  if (record != NULL && !write_record (record, expected, after->save))
    good = FALSE;

  for (gint i = 0; i < n_clients; i++)
    {
      Client *c = &clients[i];
      for (guint k = 0; k < c->n_pfs; k++)
        g_free (c->pfs[k].name);
      g_free (c->workload_name);
      g_array_unref (c->parts);
      g_ptr_array_unref (c->devs);
      g_array_unref (c->lat);
      g_hash_table_unref (c->codes);
      g_rand_free (c->rand);
      g_object_unref (c->bus);
    }
  printf ("%s\n", good ? "none lost" : "FAILED");
  return good ? 0 : 1;
}
