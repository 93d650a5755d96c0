/* test-fabric-threads.c: asm_fabric_translate() against a migrating writer
 *
 * Four reader threads call asm_fabric_translate() without pause on a fixed
 * set of probes (workload, virtual address) while the test's own thread,
 * the only writer, migrates partition P1 back and forth between switches A
 * and B 10,000 times with explicit targets (and, every third time,
 * partition P3 between the pinned switches C and D).
 *
 * The fabric is built so that every probe has exactly two possible
 * answers.  P1 (8 MiB, workload W1) holds an endpoint, a larger endpoint,
 * an SR-IOV PF and one of its VFs, then 2 MiB without a device; A and B
 * are not pinned, so every migration also grows a window on the target
 * and gives the emptied one back, and since nothing else touches the
 * global space the placements alternate between exactly two physical
 * addresses.  P2 (workload W2) stays on A.  P3 (workload W3, with a
 * device) moves between C and D, whose windows are pinned (fixed before
 * the run, outside A's and B's reach).  A warm-up round trip before the
 * readers start measures both placements: for a probe at offset `off`,
 * the answer is (A, physA + off) or (B, physB + off), with the same
 * device and device offset in both.  The writer checks after every
 * migration that the placement is the expected one, so the precomputed
 * answers stay true for the whole run.
 *
 * Each reader checks every answer:
 *   - it is one of the two precomputed mappings, never a mix (switch A
 *     with physB, or the other device);
 *   - it agrees with its generation: each migration bumps the generation
 *     by one, so (generation - gen0) even means side A and odd side B;
 *   - generations never go backwards, per reader and partition;
 *   - an address outside every partition is NOT_FOUND, always.
 * Readers count their answers (and the held ones).  The writer makes sure
 * the readers really run during the migrations without measuring any time:
 * it starts only when every reader has answered, and halfway through it
 * waits until every reader has answered again.  Assertions in threads
 * would longjmp across threads, so a thread records the first violation
 * (one atomic pointer) and everyone stops; the main thread then fails.
 *
 * The driver callbacks (hold, moved) run in the writer during each
 * migration and check the documented view: while P1's devices are held,
 * translate gives the old mapping with `held` set; once moved, the new
 * one, not held, at the physical address the callback names.
 *
 * Variants: the sim backend (then asm_sim_verify() after the run), the
 * model-only fabric (NULL backend), and the sim backend with readers that
 * also call the getters (partition and switch info, the translation table,
 * asm_fabric_check()) on the published model while it is replaced.
 *
 * Only atomics and GThread create/join synchronise the test itself, so a
 * ThreadSanitizer build sees every happens-before edge it relies on.
 *
 * ThreadSanitizer and GLib's GMutex.  On Linux, GMutex and GCond are futex
 * words driven by atomics inside libglib, which is not instrumented: TSan
 * does not see them as locks, and reports every pair of accesses that a
 * GMutex orders (the fabric's current_lock, write_lock, the sim's lock) as
 * a race.  In a TSan build this file therefore interposes g_mutex_lock,
 * g_mutex_trylock, g_mutex_unlock, g_cond_wait and g_cond_wait_until (the
 * executable's definitions win over libglib's for every caller in it,
 * asm included): each calls the real function (dlsym RTLD_NEXT) and tells
 * TSan what the lock did with __tsan_acquire()/__tsan_release() on the
 * mutex's address.  That adds exactly the edges the mutex provides, so
 * nothing is suppressed: an access not ordered by a lock is still a race.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <asm/asm.h>

#include "asm-test.h"

/* ---------------------------------------------------------------------- */
/* ThreadSanitizer: make GLib's futex-based GMutex visible (see above)    */

#if defined(__SANITIZE_THREAD__)
#define TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_TSAN 1
#endif
#endif

#ifdef TEST_TSAN
#include <dlfcn.h>
#include <stdlib.h>

void __tsan_acquire (void *addr);
void __tsan_release (void *addr);

static void (*real_mutex_lock) (GMutex *mutex);
static gboolean (*real_mutex_trylock) (GMutex *mutex);
static void (*real_mutex_unlock) (GMutex *mutex);
static void (*real_cond_wait) (GCond *cond, GMutex *mutex);
static gboolean (*real_cond_wait_until) (GCond *cond, GMutex *mutex,
                                         gint64 end_time);

static void *
real_symbol (const char *name)
{
  void *sym = dlsym (RTLD_NEXT, name);
  if (sym == NULL)
    {
      fprintf (stderr, "tsan interposer: %s not found\n", name);
      abort ();
    }
  return sym;
}

/* Resolved by the first call, which may come from a constructor in GLib,
 * and at the latest before main, so before any thread exists. */
static void
tsan_interpose_init (void)
{
  if (real_mutex_lock != NULL)
    return;
  real_mutex_lock = real_symbol ("g_mutex_lock");
  real_mutex_trylock = real_symbol ("g_mutex_trylock");
  real_mutex_unlock = real_symbol ("g_mutex_unlock");
  real_cond_wait = real_symbol ("g_cond_wait");
  real_cond_wait_until = real_symbol ("g_cond_wait_until");
}

__attribute__ ((constructor)) static void
tsan_interpose_constructor (void)
{
  tsan_interpose_init ();
}

void
g_mutex_lock (GMutex *mutex)
{
  tsan_interpose_init ();
  real_mutex_lock (mutex);
  __tsan_acquire (mutex);
}

gboolean
g_mutex_trylock (GMutex *mutex)
{
  gboolean ok;

  tsan_interpose_init ();
  ok = real_mutex_trylock (mutex);
  if (ok)
    __tsan_acquire (mutex);
  return ok;
}

void
g_mutex_unlock (GMutex *mutex)
{
  tsan_interpose_init ();
  __tsan_release (mutex);
  real_mutex_unlock (mutex);
}

void
g_cond_wait (GCond *cond, GMutex *mutex)
{
  tsan_interpose_init ();
  __tsan_release (mutex);
  real_cond_wait (cond, mutex);
  __tsan_acquire (mutex);
}

gboolean
g_cond_wait_until (GCond *cond, GMutex *mutex, gint64 end_time)
{
  gboolean ok;
  tsan_interpose_init ();
  __tsan_release (mutex);
  ok = real_cond_wait_until (cond, mutex, end_time);
  __tsan_acquire (mutex);
  return ok;
}
#endif

#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define N_READERS 4
#define N_MIGRATIONS 10000
#define P3_EVERY 3
#define MAX_PROBES 16

typedef enum {
  SIDE_A = 0,
  SIDE_B = 1,
} Side;

/* One thing a reader asks, and the two answers it may get. */
typedef struct {
  const char *what;
  AsmId workload;
  guint64 virt;
  gboolean not_found;    /* must fail with NOT_FOUND */
  gint part;             /* index in Ctx.parts, -1 for not_found */
  AsmId partition;
  AsmId sw[2];           /* by side */
  guint64 phys[2];
  AsmId device;
  guint64 device_offset;
} Probe;

/* A partition the readers watch. */
typedef struct {
  AsmId id;
  AsmId workload;
  AsmId sw[2];
  guint64 phys[2];       /* phys_first by side */
  guint64 virt_first;
  guint64 size;
  guint32 gen0;          /* its generation on side A after the warm-up */
  gboolean moves;
  gint side;             /* writer only: where it is now */
  guint32 gen;           /* writer only: its generation now */
} Part;

typedef struct {
  AsmFabric *fabric;
  AsmBackend *backend;   /* NULL: model only */
  gboolean getters;      /* readers also use the getters */

  AsmId sw_a, sw_b, sw_c, sw_d;
  AsmId w1, w2, w3;
  AsmId ep1, ep2, pf, vf, ep3, ep4;

  Part parts[3];         /* P1, P2, P3 */
  Probe probes[MAX_PROBES];
  guint n_probes;

  /* shared with the readers: atomics only */
  gint started;          /* readers that have begun */
  gint stop;
  gpointer failure;      /* char *: the first violation */
  guint64 answers[N_READERS];     /* __atomic: published every 64 */
  gint64 held_answers[N_READERS]; /* the rest: written before join */
  gint64 side_answers[N_READERS][2];
  gint64 getter_calls[N_READERS];

  /* writer only */
  gboolean migrating;    /* P1 is being migrated by the writer */
  guint n_hold_checks, n_moved_checks;
} Ctx;

typedef struct {
  Ctx *ctx;
  guint index;
} Reader;

/* ---------------------------------------------------------------------- */
/* failures from any thread                                               */

G_GNUC_PRINTF (2, 3)
static void
fail_async (Ctx *c, const char *fmt, ...)
{
  va_list ap;
  char *msg;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (!g_atomic_pointer_compare_and_exchange (&c->failure, NULL, msg))
    g_free (msg);
  g_atomic_int_set (&c->stop, 1);
}

static gboolean
failed (Ctx *c)
{
  return g_atomic_pointer_get (&c->failure) != NULL;
}

static void
assert_no_failure (Ctx *c)
{
  char *msg = g_atomic_pointer_get (&c->failure);
  if (msg != NULL)
    fail_msg ("%s", msg);
}

/* ---------------------------------------------------------------------- */
/* checking one answer                                                    */

static const char *
side_name (gint side)
{
  return side == SIDE_A ? "A" : "B";
}

/* Checks an answer for probe p; *last_gen is the reader's last generation
 * of p's partition.  Returns the side (or -1 after a failure). */
static gint
check_answer (Ctx *c, const Probe *p, const AsmTranslation *t,
              guint32 *last_gen, const char *who)
{
  const Part *part = &c->parts[p->part];
  gint side = -1, gside;

  if (t->partition != p->partition)
    {
      fail_async (c, "%s: %s: partition %u, expected %u", who, p->what,
                  t->partition, p->partition);
      return -1;
    }
  for (gint s = 0; s < 2; s++)
    if (t->switch_id == p->sw[s] && t->physical == p->phys[s])
      side = s;
  if (side < 0)
    {
      fail_async (c, "%s: %s: switch %u physical 0x%" G_GINT64_MODIFIER "x "
                  "(generation %u) is neither (%u, 0x%" G_GINT64_MODIFIER
                  "x) nor (%u, 0x%" G_GINT64_MODIFIER "x)", who, p->what,
                  t->switch_id, t->physical, t->generation, p->sw[0],
                  p->phys[0], p->sw[1], p->phys[1]);
      return -1;
    }
  if (t->device != p->device || t->device_offset != p->device_offset)
    {
      fail_async (c, "%s: %s: device %u offset 0x%" G_GINT64_MODIFIER "x, "
                  "expected device %u offset 0x%" G_GINT64_MODIFIER "x", who,
                  p->what, t->device, t->device_offset, p->device,
                  p->device_offset);
      return -1;
    }
  if (t->generation < *last_gen)
    {
      fail_async (c, "%s: %s: generation went back from %u to %u", who,
                  p->what, *last_gen, t->generation);
      return -1;
    }
  *last_gen = t->generation;
  if (t->generation < part->gen0)
    {
      fail_async (c, "%s: %s: generation %u below the start %u", who,
                  p->what, t->generation, part->gen0);
      return -1;
    }
  gside = part->moves ? (gint) ((t->generation - part->gen0) & 1) : SIDE_A;
  if (part->moves && gside != side)
    {
      fail_async (c, "%s: %s: generation %u (start %u) means side %s, but "
                  "the answer (%u, 0x%" G_GINT64_MODIFIER "x) is side %s",
                  who, p->what, t->generation, part->gen0, side_name (gside),
                  t->switch_id, t->physical, side_name (side));
      return -1;
    }
  if (!part->moves && t->generation != part->gen0)
    {
      fail_async (c, "%s: %s: the static partition's generation changed "
                  "from %u to %u", who, p->what, part->gen0, t->generation);
      return -1;
    }
  return side;
}

/* The getters: a partition snapshot must be one of the two placements and
 * agree with its generation; A's table holds P1's entry exactly when the
 * snapshot of A's table is from a model that has P1 on A. */
static void
check_getters (Ctx *c, guint index, guint64 iter, guint32 *last_gen)
{
  const Part *p1 = &c->parts[0];
  AsmPartitionInfo info;
  gint side = -1;
  char who[32];

  g_snprintf (who, sizeof who, "reader %u (getters)", index);
  if (!asm_fabric_get_partition_info (c->fabric, p1->id, &info))
    {
      fail_async (c, "%s: partition %u is gone", who, p1->id);
      return;
    }
  for (gint s = 0; s < 2; s++)
    if (info.switch_id == p1->sw[s] && info.phys_first == p1->phys[s])
      side = s;
  if (side < 0 || info.virt_first != p1->virt_first || info.size != p1->size
      || info.generation < *last_gen
      || (gint) ((info.generation - p1->gen0) & 1) != side)
    {
      fail_async (c, "%s: partition info: switch %u phys 0x%"
                  G_GINT64_MODIFIER "x virt 0x%" G_GINT64_MODIFIER "x size 0x%"
                  G_GINT64_MODIFIER "x generation %u (last seen %u)", who,
                  info.switch_id, info.phys_first, info.virt_first, info.size,
                  info.generation, *last_gen);
      return;
    }
  *last_gen = info.generation;

  if (iter % 8 == 0)
    {
      AsmSwitchInfo si;
      if (!asm_fabric_get_switch_info (c->fabric, c->sw_a, &si) ||
          si.id != c->sw_a || si.n_partitions < 1 || si.n_partitions > 2 ||
          si.table_used != si.n_partitions)
        {
          fail_async (c, "%s: switch A info: %u partitions, %u entries", who,
                      si.n_partitions, si.table_used);
          return;
        }
    }
  if (iter % 16 == 0)
    {
      g_autoptr(GArray) table = asm_fabric_get_xlat_table (c->fabric,
                                                           c->sw_a);
      guint n_p1 = 0, n_p2 = 0;

      for (guint i = 0; table != NULL && i < table->len; i++)
        {
          const AsmXlatEntry *e = &g_array_index (table, AsmXlatEntry, i);
          if (e->key == p1->id)
            {
              n_p1++;
              if (e->offset != p1->phys[SIDE_A] - p1->virt_first)
                fail_async (c, "%s: A's entry for P1 has offset 0x%"
                            G_GINT64_MODIFIER "x", who, e->offset);
            }
          else if (e->key == c->parts[1].id)
            n_p2++;
          else
            fail_async (c, "%s: A's table has an entry for key %u", who,
                        e->key);
        }
      if (table == NULL || n_p2 != 1 || n_p1 > 1)
        fail_async (c, "%s: A's table: %u entries for P1, %u for P2", who,
                    n_p1, n_p2);
    }
  if (iter % 256 == 0)
    {
      g_autoptr(GError) error = NULL;
      if (!asm_fabric_check (c->fabric, &error))
        fail_async (c, "%s: asm_fabric_check: %s", who, error->message);
    }
}

static gpointer
reader_main (gpointer data)
{
  Reader *r = data;
  Ctx *c = r->ctx;
  guint32 last_gen[MAX_PROBES] = { 0 };
  guint32 getter_gen = 0;
  gint64 n = 0, n_held = 0, n_side[2] = { 0, 0 };
  char who[32];
  guint64 iter = 0, n_getters = 0;

  g_snprintf (who, sizeof who, "reader %u", r->index);
  g_atomic_int_inc (&c->started);
  while (!g_atomic_int_get (&c->stop))
    {
      for (guint k = 0; k < c->n_probes && !g_atomic_int_get (&c->stop); k++)
        {
          const Probe *p = &c->probes[k];
          AsmTranslation t;
          GError *error = NULL;
          gboolean ok;

          memset (&t, 0xa5, sizeof t);
          ok = asm_fabric_translate (c->fabric, p->workload, p->virt, &t,
                                     &error);
          if (p->not_found)
            {
              if (ok || !g_error_matches (error, ASM_ERROR,
                                          ASM_ERROR_NOT_FOUND))
                fail_async (c, "%s: %s: expected NOT_FOUND, got %s", who,
                            p->what, ok ? "an answer" : error->message);
              g_clear_error (&error);
            }
          else if (!ok)
            {
              fail_async (c, "%s: %s: %s", who, p->what, error->message);
              g_clear_error (&error);
            }
          else
            {
              gint side = check_answer (c, p, &t, &last_gen[k], who);
              if (side >= 0 && c->parts[p->part].moves && p->part == 0)
                n_side[side]++;
              if (t.held)
                n_held++;
            }
          n++;
          /* publish the count often: the writer waits on it */
          if ((n & 63) == 0)
            __atomic_store_n (&c->answers[r->index], (guint64) n,
                              __ATOMIC_RELAXED);
        }
      if (c->getters && r->index % 2 == 0)
        {
          check_getters (c, r->index, iter, &getter_gen);
          n_getters++;
        }
      iter++;
    }
  __atomic_store_n (&c->answers[r->index], (guint64) n, __ATOMIC_RELAXED);
  c->getter_calls[r->index] = (gint64) n_getters;
  c->held_answers[r->index] = n_held;        /* read after join */
  c->side_answers[r->index][0] = n_side[0];
  c->side_answers[r->index][1] = n_side[1];
  return NULL;
}

static gint64
answers_of (Ctx *c, guint i)
{
  return (gint64) __atomic_load_n (&c->answers[i], __ATOMIC_RELAXED);
}

/* Waits until every reader has answered more than since[i] (no time limit:
 * no timing assertion; a failure or a dead reader stops the wait). */
static void
wait_for_readers (Ctx *c, const gint64 *since)
{
  for (;;)
    {
      guint ready = 0;
      for (guint i = 0; i < N_READERS; i++)
        ready += answers_of (c, i) > since[i];
      if (ready == N_READERS || failed (c))
        return;
      g_usleep (100);
    }
}

/* ---------------------------------------------------------------------- */
/* driver callbacks: they run in the writer, inside the transaction       */

static gboolean
is_p1_device (Ctx *c, AsmId device)
{
  return device == c->ep1 || device == c->ep2 || device == c->pf ||
         device == c->vf;
}

static void
on_hold (AsmFabric *fabric, AsmId device, gpointer user_data)
{
  Ctx *c = user_data;
  const Part *p1 = &c->parts[0];
  AsmTranslation t;
  g_autoptr(GError) error = NULL;

  if (!c->migrating || !is_p1_device (c, device))
    return;
  /* held: the answer is still the committed (old) mapping */
  if (!asm_fabric_translate (fabric, p1->workload, p1->virt_first, &t,
                             &error))
    {
      fail_async (c, "hold callback: translate: %s", error->message);
      return;
    }
  if (!t.held || t.switch_id != p1->sw[p1->side] ||
      t.physical != p1->phys[p1->side] || t.generation != p1->gen)
    fail_async (c, "hold callback for device %u: held %d switch %u phys 0x%"
                G_GINT64_MODIFIER "x generation %u; expected the old mapping "
                "(%u, 0x%" G_GINT64_MODIFIER "x, generation %u), held",
                device, t.held, t.switch_id, t.physical, t.generation,
                p1->sw[p1->side], p1->phys[p1->side], p1->gen);
  c->n_hold_checks++;
}

static void
on_moved (AsmFabric *fabric, AsmId device, AsmId switch_id, guint64 physical,
          gpointer user_data)
{
  Ctx *c = user_data;
  const Part *p1 = &c->parts[0];
  gint to = 1 - p1->side;
  AsmDeviceInfo di;
  AsmTranslation t;
  g_autoptr(GError) error = NULL;

  if (!c->migrating || !is_p1_device (c, device))
    return;
  if (!asm_fabric_get_device_info (fabric, device, &di))
    {
      fail_async (c, "moved callback: device %u is gone", device);
      return;
    }
  if (switch_id != p1->sw[to] ||
      physical != p1->phys[to] + di.partition_offset)
    {
      fail_async (c, "moved callback for device %u: (%u, 0x%"
                  G_GINT64_MODIFIER "x), expected (%u, 0x%" G_GINT64_MODIFIER
                  "x)", device, switch_id, physical, p1->sw[to],
                  p1->phys[to] + di.partition_offset);
      return;
    }
  if (!asm_fabric_translate (fabric, p1->workload,
                             p1->virt_first + di.partition_offset, &t,
                             &error))
    {
      fail_async (c, "moved callback: translate: %s", error->message);
      return;
    }
  if (t.held || t.switch_id != switch_id || t.physical != physical ||
      t.device != device || t.device_offset != 0 ||
      t.generation != p1->gen + 1)
    fail_async (c, "moved callback for device %u: translate gives held %d "
                "(%u, 0x%" G_GINT64_MODIFIER "x) device %u+0x%"
                G_GINT64_MODIFIER "x generation %u; expected the new "
                "mapping, not held, generation %u", device, t.held,
                t.switch_id, t.physical, t.device, t.device_offset,
                t.generation, p1->gen + 1);
  c->n_moved_checks++;
}

/* ---------------------------------------------------------------------- */
/* building                                                               */

static AsmId
add_switch (Ctx *c, const char *name, gboolean pinned)
{
  AsmSwitchSpec spec = {
    .name = name,
    .bandwidth = 100000,
    .latency_ns = 100,
    .table_capacity = 16,
    .n_ports = 8,
    .pinned = pinned,
  };
  AsmId id = ASM_ID_NONE;

  OK (asm_fabric_add_switch (c->fabric, &spec, &id, &error));
  return id;
}

static void
part_info (Ctx *c, AsmId id, AsmPartitionInfo *info)
{
  assert_true (asm_fabric_get_partition_info (c->fabric, id, info));
}

static void
sim_verify (Ctx *c)
{
  g_autoptr(GError) error = NULL;

  if (!asm_fabric_check (c->fabric, &error))
    fail_msg ("asm_fabric_check: %s", error->message);
  if (c->backend != NULL && !asm_sim_verify (c->backend, c->fabric, &error))
    {
      g_autofree char *dump = asm_sim_dump (c->backend);
      fail_msg ("asm_sim_verify: %s\n%s", error->message, dump);
    }
}

/* Migrates partition k to the other side (writer), checks the placement
 * is the precomputed one. */
static gboolean
migrate (Ctx *c, guint k, guint64 iteration)
{
  Part *p = &c->parts[k];
  gint to = 1 - p->side;
  g_autoptr(GError) error = NULL;
  AsmPartitionInfo info;

  c->migrating = k == 0;
  if (!asm_fabric_migrate_partition (c->fabric, p->id, p->sw[to], &error))
    {
      c->migrating = FALSE;
      fail_async (c, "migration %" G_GUINT64_FORMAT " of partition %u to %u: "
                  "%s", iteration, p->id, p->sw[to], error->message);
      return FALSE;
    }
  c->migrating = FALSE;
  p->side = to;
  p->gen++;
  if (!asm_fabric_get_partition_info (c->fabric, p->id, &info) ||
      info.switch_id != p->sw[to] || info.phys_first != p->phys[to] ||
      info.generation != p->gen)
    {
      fail_async (c, "migration %" G_GUINT64_FORMAT " of partition %u: now "
                  "(%u, 0x%" G_GINT64_MODIFIER "x) generation %u, expected "
                  "(%u, 0x%" G_GINT64_MODIFIER "x) generation %u: the two "
                  "placements are not stable", iteration, p->id,
                  info.switch_id, info.phys_first, info.generation,
                  p->sw[to], p->phys[to], p->gen);
      return FALSE;
    }
  return TRUE;
}

static void
add_probe (Ctx *c, const char *what, gint part, guint64 off)
{
  Probe *p = &c->probes[c->n_probes++];
  const Part *pt = &c->parts[part];
  AsmTranslation t;
  g_autoptr(GError) error = NULL;

  assert_true (c->n_probes <= MAX_PROBES);
  p->what = what;
  p->part = part;
  p->workload = pt->workload;
  p->virt = pt->virt_first + off;
  p->partition = pt->id;
  for (gint s = 0; s < 2; s++)
    {
      p->sw[s] = pt->sw[s];
      p->phys[s] = pt->phys[s] + off;
    }
  /* device and offset from the fabric, now (side A) */
  if (!asm_fabric_translate (c->fabric, p->workload, p->virt, &t, &error))
    fail_msg ("probe %s: %s", what, error->message);
  assert_int_equal (t.switch_id, p->sw[SIDE_A]);
  assert_true (t.physical == p->phys[SIDE_A]);
  p->device = t.device;
  p->device_offset = t.device_offset;
}

static void
add_probe_not_found (Ctx *c, const char *what, AsmId workload, guint64 virt)
{
  Probe *p = &c->probes[c->n_probes++];
  AsmTranslation t;
  g_autoptr(GError) error = NULL;

  p->what = what;
  p->workload = workload;
  p->virt = virt;
  p->not_found = TRUE;
  p->part = -1;
  /* This also makes GLib initialise, in this thread and before the readers
   * exist, the static GRWLock of its error domains that g_set_error()
   * takes: its lazy initialisation uses atomics inside the uninstrumented
   * libglib, which ThreadSanitizer would report as a race between the
   * first two readers that fail a translation. */
  assert_false (asm_fabric_translate (c->fabric, workload, virt, &t, &error));
  assert_true (g_error_matches (error, ASM_ERROR, ASM_ERROR_NOT_FOUND));
}

static void
ctx_build (Ctx *c)
{
  AsmPartitionRequest req = { 0 };
  AsmPartitionInfo info;
  guint64 virt, off;
  const guint64 base_cd = G_GUINT64_CONSTANT (1) << 35; /* C's and D's */
  AsmDriverFuncs drivers = { 0 };

  c->fabric = asm_fabric_new ("threads", 0,
                              (G_GUINT64_CONSTANT (1) << 36) - 1, MIB,
                              c->backend, NULL);
  assert_non_null (c->fabric);
  c->sw_a = add_switch (c, "A", FALSE);
  c->sw_b = add_switch (c, "B", FALSE);
  c->sw_c = add_switch (c, "C", TRUE);
  c->sw_d = add_switch (c, "D", TRUE);
  OK (asm_fabric_add_window (c->fabric, c->sw_c, base_cd,
                             base_cd + 64 * MIB - 1, &error));
  OK (asm_fabric_add_window (c->fabric, c->sw_d, base_cd + 256 * MIB,
                             base_cd + 320 * MIB - 1, &error));

  OK (asm_fabric_add_device (c->fabric, "ep1", ASM_DEVICE_ENDPOINT, MIB,
                             c->sw_a, 0, &c->ep1, &error));
  OK (asm_fabric_add_device (c->fabric, "ep2", ASM_DEVICE_ENDPOINT, 2 * MIB,
                             c->sw_a, 1, &c->ep2, &error));
  OK (asm_fabric_add_device (c->fabric, "pf", ASM_DEVICE_PF, MIB, c->sw_a, 2,
                             &c->pf, &error));
  OK (asm_fabric_set_sriov (c->fabric, c->pf, 4, MIB, &error));
  OK (asm_fabric_create_vf (c->fabric, c->pf, &c->vf, &error));
  OK (asm_fabric_add_device (c->fabric, "ep3", ASM_DEVICE_ENDPOINT, MIB,
                             c->sw_a, 3, &c->ep3, &error));
  OK (asm_fabric_add_device (c->fabric, "ep4", ASM_DEVICE_ENDPOINT, MIB,
                             c->sw_c, 0, &c->ep4, &error));
  OK (asm_fabric_add_workload (c->fabric, "w1", &c->w1, &error));
  OK (asm_fabric_add_workload (c->fabric, "w2", &c->w2, &error));
  OK (asm_fabric_add_workload (c->fabric, "w3", &c->w3, &error));

  /* P2 first, so that P1's window on A is a window of its own */
  req.size = 4 * MIB;
  req.preferred_switch = c->sw_a;
  OK (asm_fabric_request_partition (c->fabric, c->w2, &req, &c->parts[1].id,
                                    &virt, &error));
  OK (asm_fabric_map_device (c->fabric, c->parts[1].id, c->ep3, &off, &error));
  req.size = 8 * MIB;
  OK (asm_fabric_request_partition (c->fabric, c->w1, &req, &c->parts[0].id,
                                    &virt, &error));
  OK (asm_fabric_map_device (c->fabric, c->parts[0].id, c->ep1, &off, &error));
  assert_true (off == 0);
  OK (asm_fabric_map_device (c->fabric, c->parts[0].id, c->ep2, &off, &error));
  assert_true (off == 2 * MIB);
  OK (asm_fabric_map_device (c->fabric, c->parts[0].id, c->pf, &off, &error));
  assert_true (off == 4 * MIB);
  OK (asm_fabric_map_device (c->fabric, c->parts[0].id, c->vf, &off, &error));
  assert_true (off == 5 * MIB);
  req.size = 4 * MIB;
  req.preferred_switch = c->sw_c;
  OK (asm_fabric_request_partition (c->fabric, c->w3, &req, &c->parts[2].id,
                                    &virt, &error));
  OK (asm_fabric_map_device (c->fabric, c->parts[2].id, c->ep4, &off, &error));

  /* the warm-up round trip measures both placements */
  for (guint k = 0; k < 3; k++)
    {
      Part *p = &c->parts[k];
      part_info (c, p->id, &info);
      p->workload = info.workload;
      p->virt_first = info.virt_first;
      p->size = info.size;
      p->sw[SIDE_A] = info.switch_id;
      p->phys[SIDE_A] = info.phys_first;
      p->moves = k != 1;
    }
  assert_int_equal (c->parts[0].sw[SIDE_A], c->sw_a);
  assert_int_equal (c->parts[1].sw[SIDE_A], c->sw_a);
  assert_int_equal (c->parts[2].sw[SIDE_A], c->sw_c);
  c->parts[0].sw[SIDE_B] = c->sw_b;
  c->parts[1].sw[SIDE_B] = c->sw_a;
  c->parts[1].phys[SIDE_B] = c->parts[1].phys[SIDE_A];
  c->parts[2].sw[SIDE_B] = c->sw_d;
  for (guint k = 0; k < 3; k += 2)
    {
      Part *p = &c->parts[k];
      OK (asm_fabric_migrate_partition (c->fabric, p->id, p->sw[SIDE_B],
                                        &error));
      part_info (c, p->id, &info);
      assert_int_equal (info.switch_id, p->sw[SIDE_B]);
      p->phys[SIDE_B] = info.phys_first;
      OK (asm_fabric_migrate_partition (c->fabric, p->id, p->sw[SIDE_A],
                                        &error));
      part_info (c, p->id, &info);
      assert_int_equal (info.switch_id, p->sw[SIDE_A]);
      assert_true (info.phys_first == p->phys[SIDE_A]);
    }
  for (guint k = 0; k < 3; k++)
    {
      part_info (c, c->parts[k].id, &info);
      c->parts[k].gen0 = c->parts[k].gen = info.generation;
      c->parts[k].side = SIDE_A;
    }
  sim_verify (c);

  /* the probes: every device of P1 (start, middle, end), the bytes after
   * the devices, P2, P3, and addresses in no partition */
  add_probe (c, "P1 ep1 start", 0, 0);
  add_probe (c, "P1 ep1 end", 0, MIB - 1);
  add_probe (c, "P1 ep2 middle", 0, 2 * MIB + 12345);
  add_probe (c, "P1 pf", 0, 4 * MIB + 64);
  add_probe (c, "P1 vf", 0, 5 * MIB + 4096);
  add_probe (c, "P1 no device", 0, 6 * MIB);
  add_probe (c, "P1 last byte", 0, 8 * MIB - 1);
  add_probe (c, "P2 ep3", 1, 100);
  add_probe (c, "P2 no device", 1, 3 * MIB);
  add_probe (c, "P3 ep4", 2, 4096);
  add_probe (c, "P3 no device", 2, 4 * MIB - 8);
  add_probe_not_found (c, "W1 after P1", c->w1,
                       c->parts[0].virt_first + c->parts[0].size);
  add_probe_not_found (c, "W2 before P2", c->w2,
                       c->parts[1].virt_first - 1);
  assert_int_equal (c->probes[0].device, c->ep1);
  assert_int_equal (c->probes[2].device, c->ep2);
  assert_true (c->probes[2].device_offset == 12345);
  assert_int_equal (c->probes[3].device, c->pf);
  assert_int_equal (c->probes[4].device, c->vf);
  assert_int_equal (c->probes[5].device, ASM_ID_NONE);
  assert_int_equal (c->probes[9].device, c->ep4);

  drivers.hold = on_hold;
  drivers.moved = on_moved;
  asm_fabric_set_driver_funcs (c->fabric, &drivers, c);
}

/* ---------------------------------------------------------------------- */
/* the run                                                                */

static void
run (AsmBackend *backend, gboolean getters)
{
  Ctx *c = g_new0 (Ctx, 1);
  Reader readers[N_READERS];
  GThread *threads[N_READERS];
  gint64 before[N_READERS], at_start[N_READERS], halfway[N_READERS];
  gint64 total = 0, during = 0, held = 0, sides[2] = { 0, 0 };
  gint64 getter_calls = 0;
  guint n_p3 = 0;
  AsmPartitionInfo info;

  c->backend = backend;
  c->getters = getters;
  ctx_build (c);

  for (guint i = 0; i < N_READERS; i++)
    {
      readers[i].ctx = c;
      readers[i].index = i;
      before[i] = 0;
      threads[i] = g_thread_new ("reader", reader_main, &readers[i]);
    }
  /* every reader is running before the first migration */
  wait_for_readers (c, before);
  for (guint i = 0; i < N_READERS; i++)
    at_start[i] = answers_of (c, i);

  for (guint64 i = 0; i < N_MIGRATIONS && !failed (c); i++)
    {
      if (!migrate (c, 0, i))
        break;
      if (i % P3_EVERY == 0)
        {
          if (!migrate (c, 2, i))
            break;
          n_p3++;
        }
      if (i == N_MIGRATIONS / 2)
        {
          /* every reader answers during the migrations */
          for (guint k = 0; k < N_READERS; k++)
            halfway[k] = answers_of (c, k);
          wait_for_readers (c, halfway);
        }
      if (c->backend != NULL && i % 1000 == 999)
        {
          g_autoptr(GError) error = NULL;
          if (!asm_sim_verify (c->backend, c->fabric, &error))
            fail_async (c, "asm_sim_verify after %" G_GUINT64_FORMAT
                        " migrations: %s", i + 1, error->message);
        }
    }
  for (guint i = 0; i < N_READERS; i++)
    during += answers_of (c, i) - at_start[i];
  g_atomic_int_set (&c->stop, 1);
  for (guint i = 0; i < N_READERS; i++)
    g_thread_join (threads[i]);
  assert_no_failure (c);

  for (guint i = 0; i < N_READERS; i++)
    {
      gint64 n = answers_of (c, i);
      assert_true (n > 0);
      assert_true (n > at_start[i]);
      total += n;
      held += c->held_answers[i];
      sides[0] += c->side_answers[i][0];
      sides[1] += c->side_answers[i][1];
      getter_calls += c->getter_calls[i];
    }
  assert_true (during > 0);
  print_message ("# %s%s: %u migrations of P1, %u of P3; %u readers answered "
                 "%" G_GINT64_FORMAT " probes (%" G_GINT64_FORMAT " during "
                 "the migrations, %" G_GINT64_FORMAT " held); P1 answers on "
                 "A %" G_GINT64_FORMAT ", on B %" G_GINT64_FORMAT "; %"
                 G_GINT64_FORMAT " getter rounds; %u hold and %u moved "
                 "callbacks checked\n",
                 backend ? "sim" : "model only", getters ? " + getters" : "",
                 N_MIGRATIONS, n_p3, N_READERS, total, during, held,
                 sides[0], sides[1], getter_calls, c->n_hold_checks,
                 c->n_moved_checks);
  /* 4 P1 devices held and moved per migration */
  assert_int_equal (c->n_hold_checks, 4 * N_MIGRATIONS);
  assert_int_equal (c->n_moved_checks, 4 * N_MIGRATIONS);

  /* an even number of migrations: P1 is back where it started */
  part_info (c, c->parts[0].id, &info);
  assert_int_equal (info.switch_id, c->sw_a);
  assert_true (info.phys_first == c->parts[0].phys[SIDE_A]);
  assert_int_equal (info.generation, c->parts[0].gen0 + N_MIGRATIONS);
  part_info (c, c->parts[2].id, &info);
  assert_int_equal (info.switch_id, c->parts[2].sw[n_p3 % 2]);
  assert_int_equal (info.generation, c->parts[2].gen0 + n_p3);
  part_info (c, c->parts[1].id, &info);
  assert_int_equal (info.generation, c->parts[1].gen0);
  sim_verify (c);

  asm_fabric_set_driver_funcs (c->fabric, NULL, NULL);
  asm_fabric_unref (c->fabric);
  g_free (g_atomic_pointer_get (&c->failure));
  g_free (c);
}

static void
test_translate_sim (void **state)
{
  g_autoptr(AsmBackend) backend = asm_sim_backend_new ();
  run (backend, FALSE);
}

static void
test_translate_model_only (void **state)
{
  run (NULL, FALSE);
}

static void
test_translate_and_getters_sim (void **state)
{
  g_autoptr(AsmBackend) backend = asm_sim_backend_new ();
  run (backend, TRUE);
}

/* ---------------------------------------------------------------------- */
/* drains under readers                                                   */

/* Eight partitions on four switches; the writer drains a switch (every
 * partition on it migrates in one transaction), removes it and adds a
 * fresh one, DRAIN_ROUNDS times, recording after each drain, for every
 * partition, the placement its generation stands for.  Readers translate
 * without pause and check each answer against the record of the
 * generation it reports (waiting, boundedly, for the writer to record a
 * generation just published): an answer is always one whole published
 * placement, never a mix, and translations never stop answering. */
#define DRAIN_PARTS 8
#define DRAIN_ROUNDS 48
#define DRAIN_GENS (DRAIN_ROUNDS + 4)

typedef struct {
  AsmFabric *fabric;
  AsmBackend *backend;
  AsmId workload;
  AsmId parts[DRAIN_PARTS];
  guint64 virt[DRAIN_PARTS];
  /* rec[p][g]: (switch << 48 | phys_first >> 16) + 1 of partition p at
   * generation g, 0 until recorded; atomics only */
  gsize rec[DRAIN_PARTS][DRAIN_GENS];
  gint stop;
  gint started;
  gpointer failure;
  gint64 answers;
} DrainCtx;

static void
drain_fail (DrainCtx *c, char *msg)
{
  if (!g_atomic_pointer_compare_and_exchange (&c->failure, NULL, msg))
    g_free (msg);
  g_atomic_int_set (&c->stop, 1);
}

static gsize
drain_code (AsmId sw, guint64 phys_first)
{
  return ((gsize) sw << 48 | (gsize) (phys_first >> 16)) + 1;
}

static void
drain_record (DrainCtx *c)
{
  for (guint i = 0; i < DRAIN_PARTS; i++)
    {
      AsmPartitionInfo pi;
      g_assert_true (asm_fabric_get_partition_info (c->fabric, c->parts[i],
                                                    &pi));
      g_assert_cmpuint (pi.generation, <, DRAIN_GENS);
      g_atomic_pointer_set (&c->rec[i][pi.generation],
                            drain_code (pi.switch_id, pi.phys_first));
    }
}

static gpointer
drain_reader (gpointer data)
{
  DrainCtx *c = data;
  gint64 n = 0;

  g_atomic_int_inc (&c->started);
  while (!g_atomic_int_get (&c->stop))
    {
      guint i = (guint) (n % DRAIN_PARTS);
      guint64 off = (n * 4096) % (2 * MIB);
      AsmTranslation t;
      g_autoptr (GError) error = NULL;
      gsize want = 0;

      if (!asm_fabric_translate (c->fabric, c->workload, c->virt[i] + off,
                                 &t, &error))
        {
          drain_fail (c, g_strdup_printf ("translate of partition %u: %s",
                                          c->parts[i], error->message));
          break;
        }
      if (t.generation >= DRAIN_GENS)
        {
          drain_fail (c, g_strdup_printf ("generation %u", t.generation));
          break;
        }
      for (guint spin = 0; spin < 100000000 && want == 0; spin++)
        {
          want = (gsize) g_atomic_pointer_get (&c->rec[i][t.generation]);
          if (want == 0 && g_atomic_int_get (&c->stop))
            break;
          if (want == 0)
            g_thread_yield ();
        }
      if (want == 0)
        break; /* stopped while waiting */
      if (drain_code (t.switch_id, t.physical - off) != want ||
          t.partition != c->parts[i])
        {
          drain_fail (c, g_strdup_printf ("partition %u generation %u: "
                                          "switch %u physical 0x%"
                                          G_GINT64_MODIFIER "x is not its "
                                          "placement at that generation",
                                          c->parts[i], t.generation,
                                          t.switch_id, t.physical - off));
          break;
        }
      n++;
    }
  g_atomic_pointer_add (&c->answers, n);
  return NULL;
}

static void
test_translate_during_drains (void **state)
{
  g_autoptr (GError) error = NULL;
  DrainCtx *c = g_new0 (DrainCtx, 1);
  GThread *readers[N_READERS];
  AsmId sw[4];
  guint next_name = 0;

  c->backend = asm_sim_backend_new ();
  c->fabric = asm_fabric_new ("drains", 0, (G_GUINT64_CONSTANT (1) << 40) - 1,
                              2 * MIB, c->backend, &error);
  g_assert_no_error (error);
  g_assert_true (asm_fabric_set_window_granule (c->fabric, 64 * MIB, NULL));
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *name = g_strdup_printf ("s%u", next_name++);
      AsmSwitchSpec spec = { name, 100000, 100, 64, 8, FALSE };
      g_assert_true (asm_fabric_add_switch (c->fabric, &spec, &sw[i], NULL));
    }
  g_assert_true (asm_fabric_add_workload (c->fabric, "w", &c->workload,
                                          NULL));
  for (guint i = 0; i < DRAIN_PARTS; i++)
    {
      AsmPartitionRequest req = { .size = 2 * MIB,
                                  .preferred_switch = sw[i % 4] };
      g_assert_true (asm_fabric_request_partition (c->fabric, c->workload,
                                                   &req, &c->parts[i],
                                                   &c->virt[i], NULL));
    }
  drain_record (c);
  for (guint r = 0; r < N_READERS; r++)
    readers[r] = g_thread_new ("drain-reader", drain_reader, c);
  while (g_atomic_int_get (&c->started) < N_READERS)
    g_thread_yield ();
  for (guint round = 0; round < DRAIN_ROUNDS && !g_atomic_int_get (&c->stop);
       round++)
    {
      guint k = round % 4;
      g_autofree char *name = g_strdup_printf ("s%u", next_name++);
      AsmSwitchSpec spec = { name, 100000, 100, 64, 8, FALSE };

      if (!asm_fabric_drain_switch (c->fabric, sw[k], &error))
        {
          drain_fail (c, g_strdup_printf ("drain: %s", error->message));
          break;
        }
      drain_record (c);
      g_assert_true (asm_fabric_remove_switch (c->fabric, sw[k], NULL));
      g_assert_true (asm_fabric_add_switch (c->fabric, &spec, &sw[k], NULL));
    }
  g_atomic_int_set (&c->stop, 1);
  for (guint r = 0; r < N_READERS; r++)
    g_thread_join (readers[r]);
  if (g_atomic_pointer_get (&c->failure) != NULL)
    fail_msg ("%s", (char *) g_atomic_pointer_get (&c->failure));
  print_message ("# %d drains of a switch under %d readers: %" G_GINT64_FORMAT
                 " translations, each one whole published placement\n",
                 DRAIN_ROUNDS, N_READERS, c->answers);
  assert_true (c->answers > 0);
  g_assert_true (asm_fabric_check (c->fabric, NULL));
  g_assert_true (asm_sim_verify (c->backend, c->fabric, NULL));
  asm_fabric_unref (c->fabric);
  asm_backend_unref (c->backend);
  g_free (c);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_translate_sim),
    cmocka_unit_test (test_translate_model_only),
    cmocka_unit_test (test_translate_and_getters_sim),
    cmocka_unit_test (test_translate_during_drains),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
