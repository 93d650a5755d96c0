/* bench-pci.c: speed figures for AsmPciBusSet reserve_next at scale
 *
 * The program prints figures; it never passes or fails on timing.  It exits
 * with status 1 only on a wrong answer: a reserve_next that fails, or whose
 * address is not the one a naive first-fit scan (libvirt's order: lowest
 * bus, slot, function) gives; a release that fails; a reserved count that
 * is off; a failed asm_pci_bus_set_check().  Status 2 is a setup error.
 *
 * Topology ("64 x 256"): 64 PCI domains, each 256 buses.  Root controllers
 * (pci-root) have indexes 0..63: root D establishes domain D and provides
 * bus D:00.  Each domain then gets 255 pci-bridges, indexes
 * 64 + 255 * D + k (k = 0..254, so an index always exceeds its parent's):
 * bridge k < 31 sits in slot k+1 of the root bus, bridge k >= 31 in slot
 * (k-31) % 31 + 1 of bridge (k-31) / 31; it provides bus D:(its index), so
 * bus ids go up to 0x3fff (bus ids beyond 8 bits are allowed in
 * configuration; each domain holds exactly 256 buses, the most it may).
 * 16,384 buses of 31 slots (1..31), 16,320 of those slots hold a bridge,
 * which leaves 491,584 slots (3,932,672 functions) for devices.  The
 * reference is a 1-bus set: one pci-root, 31 slots.
 *
 * Two device shapes:
 *   slot      a single-function PCI device (PCI_DEVICE | AUTOASSIGN): it
 *             takes function 0 of a wholly free slot, so devices fill slots;
 *   function  an aggregating one (the same | AGGREGATE_SLOT): it takes the
 *             lowest free function of an aggregate slot or function 0 of an
 *             empty slot, so slots fill all 8 functions.
 *
 * Per run (each from a fresh set, its own seed = base seed + run):
 *   fill   reserve_next until floor(capacity * 99 %) devices are placed
 *          (timed: ns per reserve_next); the free room is then the top 1 %
 *          (the last buses of domain 63), F is its lowest address.
 *   (a)    steps of reserve_next then release of that same address (it must
 *          be F every time); ns/op is one reserve_next + one release.
 *   (b)    steps of: release a random reserved device address X, then
 *          reserve_next (it must be X: X is the lowest free address, since
 *          everything below F is reserved).  Cold: X is on any of the 16,384
 *          buses, so the bus's structures are rarely in cache.
 *   (b-hot) (b) with X drawn only from the devices on the last 8 buses that
 *          hold any: the same operations with a working set that stays in
 *          cache; (b) / (b-hot) is mostly the price of cache misses (the
 *          rest: a cold X's bus is full, so it enters the room indexes and
 *          leaves them again; see tests/bench/README.md).
 *   baseline  the same (a) and (b) on a libvirt-style model compiled into
 *          this program only (below), fewer steps (printed).
 * Each figure is the median (min, max) of --runs runs (default 5); the
 * ratios 64x256 / 1-bus (target <= 3x) and baseline / asm (target >= 100x)
 * use the medians.
 *
 * Baseline (libvirt's virDomainPCIAddressGetNextAddr and
 * virDomainPCIAddressFindUnusedFunctionOnBus, libvirt 9.0): an array of
 * buses x 32 slots of 8-bit function masks plus a per-bus aggregate-slot
 * mask; the next free address is a scan from bus 0: for each bus whose
 * accepted flags fit the device, slots min..max, the first slot that is
 * wholly free (function 0) or, for an aggregating device, an aggregate slot
 * with a free function (its lowest).  O(buses x 32) per device, no cursor.
 * It is kinder than libvirt (no function call per slot, no hash lookups).
 * The same model, kept in step with the set, checks every answer: in
 * --smoke every reserve_next answer is compared with a scan from bus 0;
 * otherwise the fill is replayed in the model afterwards (a scan from the
 * previous answer, which is exact because the fill only moves up) and the
 * steady-state answers are compared with F and X as above.
 *
 * Times are thread CPU time (CLOCK_THREAD_CPUTIME_ID), so that a busy
 * machine does not add the time spent waiting for a CPU; --wall uses
 * CLOCK_MONOTONIC.  A fill that takes longer than 120 s stops early and says
 * so (the figures are then for a lower fill).
 *
 * Usage: bench-pci [--smoke] [--wall] [--runs N] [--steps N]
 *                  [--shape slot|function|all] [--size big|one|all]
 *                  [--domains N] [--buses N] [--fill PCT]
 *                  [--baseline-ops N] [--hot-buses N] [--no-check]
 *                  [--no-baseline] [--seed S]
 *   --size   the 64x256 set (big), the 1-bus set (one) or both; ratios
 *            need both
 *   --smoke  2 domains x 4 buses and the 1-bus set, one run, few steps,
 *            every answer compared with a scan from bus 0 and
 *            asm_pci_bus_set_check() after every phase (< 1 s); registered
 *            as the test bench-pci-smoke so the benchmark cannot rot.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <asm/asm.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define MAX_RUNS 64
#define NS_PER_S G_GUINT64_CONSTANT (1000000000)
#define FILL_LIMIT_NS (120 * NS_PER_S)
#define BASELINE_LIMIT_NS (10 * NS_PER_S)

/* both pci-root and pci-bridge buses: checked at start-up */
#define SLOT_MIN 1
#define SLOT_MAX 31
#define N_SLOTS (SLOT_MAX - SLOT_MIN + 1)

#define DEV_SLOT                                                               \
  (ASM_PCI_CONNECT_TYPE_PCI_DEVICE | ASM_PCI_CONNECT_AUTOASSIGN)
#define DEV_FUNCTION (DEV_SLOT | ASM_PCI_CONNECT_AGGREGATE_SLOT)

static struct {
  gboolean smoke;
  guint runs;
  guint64 steps;
  guint domains;
  guint buses;
  double fill_pct;
  guint64 baseline_ops;
  guint hot_buses;
  gboolean no_check;
  gboolean no_baseline;
  guint shapes; /* 1 slot, 2 function */
  guint sizes;  /* 1 the big set, 2 the 1-bus set */
  guint64 seed;
} opt = { FALSE, 5, 200000, 64, 256, 99.0, 1000, 8, FALSE, FALSE, 3, 3,
          20230301 };

static gboolean failed;
static guint n_wrong_printed;

#define WRONG(...)                                                             \
  G_STMT_START                                                                 \
  {                                                                            \
    failed = TRUE;                                                             \
    if (n_wrong_printed++ < 20)                                                \
      {                                                                        \
        fprintf (stderr, "WRONG: " __VA_ARGS__);                               \
        fprintf (stderr, "\n");                                                \
      }                                                                        \
  }                                                                            \
  G_STMT_END

static clockid_t bench_clock = CLOCK_THREAD_CPUTIME_ID;

static guint64
now_ns (void)
{
  struct timespec ts;
  clock_gettime (bench_clock, &ts);
  return (guint64) ts.tv_sec * NS_PER_S + (guint64) ts.tv_nsec;
}

static guint64
wall_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * NS_PER_S + (guint64) ts.tv_nsec;
}

static guint64
splitmix (guint64 *s)
{
  guint64 z = (*s += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* ------------------------------------------------------------- figures */

typedef struct {
  double v[MAX_RUNS];
  guint n;
} Figure;

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static void
figure_add (Figure *f, double v)
{
  if (f->n < MAX_RUNS)
    f->v[f->n++] = v;
}

static double
figure_median (Figure *f)
{
  if (f->n == 0)
    return 0;
  qsort (f->v, f->n, sizeof (double), cmp_double);
  return f->n % 2 ? f->v[f->n / 2] : (f->v[f->n / 2 - 1] + f->v[f->n / 2]) / 2;
}

static void
figure_print (const char *label, Figure *f, const char *unit)
{
  double med;

  if (f->n == 0)
    return;
  med = figure_median (f);
  printf ("    %-40s %10.1f %-6s (min %.1f, max %.1f, %u runs)\n", label, med,
          unit, f->v[0], f->v[f->n - 1], f->n);
}

/* ------------------------------------------------------------ topology */

/* A topology and its naive model.  Model buses are numbered in (domain,
 * bus) order: m = domain * per_domain + j, j = 0 the root's bus 0, j = k+1
 * bridge k's bus (bus id = its index, increasing with k).  An address is
 * coded m << 8 | slot << 3 | function, which orders codes as addresses. */
typedef struct {
  guint n_domains;
  guint per_domain;
  guint n_buses;
  guint n_bridges;
  guint64 capacity[2]; /* device places: slots, functions */
  guint8 *funcs;       /* n_buses x 32 function masks */
  guint32 *agg;        /* n_buses aggregate-slot masks */
  AsmPciConnectFlags *accepts;
} Topo;

#define CODE_NONE G_MAXUINT32

static guint32
bridge_base (const Topo *t, guint domain)
{
  return t->n_domains + domain * (t->per_domain - 1);
}

/* where bridge k of a domain is plugged: (bus j of the model, slot) */
static void
bridge_parent (guint k, guint *out_j, guint *out_slot)
{
  if (k < N_SLOTS)
    {
      *out_j = 0;
      *out_slot = SLOT_MIN + k;
    }
  else
    {
      *out_j = 1 + (k - N_SLOTS) / N_SLOTS;
      *out_slot = SLOT_MIN + (k - N_SLOTS) % N_SLOTS;
    }
}

static guint32
model_bus_id (const Topo *t, guint m)
{
  guint d = m / t->per_domain, j = m % t->per_domain;
  return j == 0 ? 0 : bridge_base (t, d) + j - 1;
}

static guint32
code_of (const Topo *t, const AsmPciAddr *a)
{
  guint32 j;

  if (a->domain >= t->n_domains || a->slot > 31 || a->function > 7)
    return CODE_NONE;
  if (a->bus == 0)
    j = 0;
  else if (a->bus >= bridge_base (t, a->domain) &&
           a->bus - bridge_base (t, a->domain) < t->per_domain - 1)
    j = a->bus - bridge_base (t, a->domain) + 1;
  else
    return CODE_NONE;
  return (a->domain * t->per_domain + j) << 8 | (guint32) a->slot << 3 |
         a->function;
}

static AsmPciAddr
addr_of (const Topo *t, guint32 code)
{
  guint m = code >> 8;
  AsmPciAddr a = { m / t->per_domain, model_bus_id (t, m),
                   (guint8) ((code >> 3) & 31), (guint8) (code & 7) };
  return a;
}

static char *
code_format (const Topo *t, guint32 code)
{
  AsmPciAddr a;

  if (code == CODE_NONE)
    return g_strdup ("(none)");
  a = addr_of (t, code);
  return asm_pci_addr_format (&a);
}

static void
topo_init (Topo *t, guint n_domains, guint per_domain)
{
  AsmPciConnectFlags root, bridge;

  memset (t, 0, sizeof *t);
  t->n_domains = n_domains;
  t->per_domain = per_domain;
  t->n_buses = n_domains * per_domain;
  t->n_bridges = n_domains * (per_domain - 1);
  t->capacity[0] = (guint64) t->n_buses * N_SLOTS - t->n_bridges;
  t->capacity[1] = t->capacity[0] * 8;
  t->funcs = g_new0 (guint8, (gsize) t->n_buses * 32);
  t->agg = g_new0 (guint32, t->n_buses);
  t->accepts = g_new0 (AsmPciConnectFlags, t->n_buses);
  root = asm_pci_controller_model_get_bus_flags (
    ASM_PCI_CONTROLLER_MODEL_PCI_ROOT, TRUE, NULL, NULL);
  bridge = asm_pci_controller_model_get_bus_flags (
    ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE, TRUE, NULL, NULL);
  for (guint m = 0; m < t->n_buses; m++)
    t->accepts[m] = m % per_domain == 0 ? root : bridge;
}

static void
topo_clear (Topo *t)
{
  g_free (t->funcs);
  g_free (t->agg);
  g_free (t->accepts);
}

static void
model_take (Topo *t, guint32 code, gboolean aggregating)
{
  guint8 *f = &t->funcs[(code >> 8) * 32 + ((code >> 3) & 31)];

  if (*f == 0 && aggregating)
    t->agg[code >> 8] |= 1u << ((code >> 3) & 31);
  *f |= (guint8) (1u << (code & 7));
}

static void
model_give (Topo *t, guint32 code)
{
  guint8 *f = &t->funcs[(code >> 8) * 32 + ((code >> 3) & 31)];

  *f &= (guint8) ~(1u << (code & 7));
  if (*f == 0)
    t->agg[code >> 8] &= ~(1u << ((code >> 3) & 31));
}

/* the model with only the bridges' slots in use */
static void
model_reset (Topo *t)
{
  memset (t->funcs, 0, (gsize) t->n_buses * 32);
  memset (t->agg, 0, (gsize) t->n_buses * sizeof (guint32));
  for (guint d = 0; d < t->n_domains; d++)
    for (guint k = 0; k + 1 < t->per_domain; k++)
      {
        guint j, s;
        bridge_parent (k, &j, &s);
        model_take (t, (d * t->per_domain + j) << 8 | s << 3, FALSE);
      }
}

static gboolean
naive_fits (AsmPciConnectFlags accepts, AsmPciConnectFlags dev)
{
  if ((dev & ASM_PCI_CONNECT_AUTOASSIGN) &&
      !(accepts & ASM_PCI_CONNECT_AUTOASSIGN))
    return FALSE;
  if ((dev & ASM_PCI_CONNECT_HOTPLUGGABLE) &&
      !(accepts & ASM_PCI_CONNECT_HOTPLUGGABLE))
    return FALSE;
  return (dev & accepts & ASM_PCI_CONNECT_TYPES_MASK) != 0;
}

/* The libvirt-style next-free scan, from (bus m0, slot s0) on; from 0 it is
 * the baseline.  Never inlined, so that the baseline is one real call. */
static G_GNUC_NO_INLINE guint32
naive_scan (const Topo *t, guint m0, guint s0, AsmPciConnectFlags dev)
{
  gboolean aggregating = (dev & ASM_PCI_CONNECT_AGGREGATE_SLOT) != 0;

  for (guint m = m0; m < t->n_buses; m++)
    {
      const guint8 *f = t->funcs + (gsize) m * 32;
      guint32 agg = t->agg[m];

      if (!naive_fits (t->accepts[m], dev))
        continue;
      for (guint s = m == m0 ? MAX (s0, SLOT_MIN) : SLOT_MIN; s <= SLOT_MAX;
           s++)
        {
          if (f[s] == 0)
            return m << 8 | s << 3;
          if (aggregating && ((agg >> s) & 1) && f[s] != 0xff)
            {
              guint fn = 0;
              while ((f[s] >> fn) & 1)
                fn++;
              return m << 8 | s << 3 | fn;
            }
        }
    }
  return CODE_NONE;
}

static AsmPciBusSet *
build_set (const Topo *t)
{
  AsmPciBusSet *set = asm_pci_bus_set_new ();
  g_autoptr(GError) error = NULL;

  for (guint d = 0; d < t->n_domains; d++)
    if (!asm_pci_bus_set_add_controller (set, d,
                                         ASM_PCI_CONTROLLER_MODEL_PCI_ROOT,
                                         NULL, &error))
      goto fail;
  for (guint d = 0; d < t->n_domains; d++)
    for (guint k = 0; k + 1 < t->per_domain; k++)
      {
        guint j, s;
        AsmPciAddr at;

        bridge_parent (k, &j, &s);
        at = (AsmPciAddr) { d, model_bus_id (t, d * t->per_domain + j),
                            (guint8) s, 0 };
        if (!asm_pci_bus_set_add_controller (set, bridge_base (t, d) + k,
                                             ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE,
                                             &at, &error))
          goto fail;
      }
  if (asm_pci_bus_set_get_n_controllers (set) != t->n_buses)
    {
      fprintf (stderr, "setup: %u controllers, expected %u\n",
               asm_pci_bus_set_get_n_controllers (set), t->n_buses);
      exit (2);
    }
  return set;

fail:
  fprintf (stderr, "setup: cannot add a controller: %s\n", error->message);
  exit (2);
}

static void
check_set (AsmPciBusSet *set, const char *where)
{
  g_autoptr(GError) error = NULL;

  if (!asm_pci_bus_set_check (set, &error))
    WRONG ("%s: asm_pci_bus_set_check: %s", where, error->message);
}

/* the first field of /proc/loadavg, or -1 */
static double
load_average (void)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return -1;
  return g_ascii_strtod (text, NULL);
}

/* Bytes of heap in use (glibc's mallinfo2(): small blocks plus mmapped
 * ones), which unlike RSS does not depend on what earlier phases freed;
 * 0 when unknown. */
static guint64
heap_in_use (void)
{
#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 33)
  struct mallinfo2 mi = mallinfo2 ();
  return (guint64) mi.uordblks + (guint64) mi.hblkhd;
#endif
#endif
  return 0;
}

/* ------------------------------------------------------------ one size */

typedef struct {
  Figure build, fill, a, b, bhot, base_a, base_b, check;
  guint64 n_fill;
  double fill_pct;
  guint32 first_free;
  guint64 hot_n;
  guint hot_buses;
  guint64 base_ops_a, base_ops_b;
  guint64 steps;
  gboolean fill_cut;
  double heap_per_bus;
  gboolean have_heap;
} Result;

/* fill: @n reserve_next calls, answers coded into @codes; returns how many
 * were placed (fewer when the time limit cut the fill) */
static guint64
fill_set (AsmPciBusSet *set, const Topo *t, AsmPciConnectFlags dev,
          guint64 n, guint32 *codes, guint64 *out_ns, gboolean *out_cut)
{
  guint64 t0 = now_ns (), w0 = wall_ns (), i;
  g_autoptr(GError) error = NULL;

  *out_cut = FALSE;
  for (i = 0; i < n; i++)
    {
      AsmPciAddr a;

      if (!asm_pci_bus_set_reserve_next (set, dev, &a, &error))
        {
          WRONG ("fill: reserve_next %" G_GUINT64_FORMAT " of %"
                 G_GUINT64_FORMAT " failed: %s", i + 1, n, error->message);
          break;
        }
      codes[i] = code_of (t, &a);
      if ((i & 0xffff) == 0xffff && wall_ns () - w0 > FILL_LIMIT_NS)
        {
          *out_cut = TRUE;
          i++;
          break;
        }
    }
  *out_ns = now_ns () - t0;
  return i;
}

/* The fill answers against the model (which ends filled).  In smoke mode a
 * scan from bus 0 for each; otherwise from the previous answer, which is
 * the same since the fill only moves up.  Returns the first free code. */
static guint32
verify_fill (Topo *t, AsmPciConnectFlags dev, const guint32 *codes,
             guint64 n)
{
  gboolean aggregating = (dev & ASM_PCI_CONNECT_AGGREGATE_SLOT) != 0;
  guint m = 0, s = 0;

  model_reset (t);
  for (guint64 i = 0; i < n; i++)
    {
      guint32 want = opt.smoke ? naive_scan (t, 0, 0, dev)
                               : naive_scan (t, m, s, dev);
      if (want != codes[i])
        {
          g_autofree char *g = code_format (t, codes[i]);
          g_autofree char *w = code_format (t, want);
          WRONG ("fill: reserve_next %" G_GUINT64_FORMAT " gave %s, the "
                 "lowest free address is %s", i + 1, g, w);
          return CODE_NONE;
        }
      model_take (t, want, aggregating);
      m = want >> 8;
      s = (want >> 3) & 31;
    }
  return opt.smoke ? naive_scan (t, 0, 0, dev) : naive_scan (t, m, s, dev);
}

/* (a): reserve_next, release that address; must be @first_free */
static inline guint64
steady_a (AsmPciBusSet *set, Topo *t, AsmPciConnectFlags dev,
          guint32 first_free, guint64 steps)
{
  gboolean aggregating = (dev & ASM_PCI_CONNECT_AGGREGATE_SLOT) != 0;
  guint64 t0 = now_ns (), bad = 0;

  for (guint64 i = 0; i < steps; i++)
    {
      AsmPciAddr a;
      guint32 c;

      if (!asm_pci_bus_set_reserve_next (set, dev, &a, NULL))
        {
          WRONG ("(a): reserve_next failed");
          break;
        }
      c = code_of (t, &a);
      if (G_UNLIKELY (opt.smoke))
        {
          guint32 want = naive_scan (t, 0, 0, dev);
          if (c != want)
            WRONG ("(a): reserve_next gave a wrong address");
          model_take (t, c, aggregating);
          model_give (t, c);
        }
      bad += c != first_free;
      if (!asm_pci_bus_set_release_addr (set, &a, NULL))
        {
          WRONG ("(a): release failed");
          break;
        }
    }
  t0 = now_ns () - t0;
  if (bad)
    {
      g_autofree char *w = code_format (t, first_free);
      WRONG ("(a): %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
             " reserve_next answers were not %s", bad, steps, w);
    }
  return t0;
}

/* (b): release codes[j] for a random j in [lo, hi), reserve_next; must be
 * the same address */
static inline guint64
steady_b (AsmPciBusSet *set, Topo *t, AsmPciConnectFlags dev,
          guint32 *codes, guint64 lo, guint64 hi, guint64 steps,
          guint64 *rng)
{
  gboolean aggregating = (dev & ASM_PCI_CONNECT_AGGREGATE_SLOT) != 0;
  guint64 t0 = now_ns (), bad = 0, span = hi - lo;

  for (guint64 i = 0; i < steps; i++)
    {
      guint64 j = lo + splitmix (rng) % span;
      AsmPciAddr x = addr_of (t, codes[j]), a;
      guint32 c;

      if (!asm_pci_bus_set_release_addr (set, &x, NULL))
        {
          WRONG ("(b): release failed");
          break;
        }
      if (!asm_pci_bus_set_reserve_next (set, dev, &a, NULL))
        {
          WRONG ("(b): reserve_next failed");
          break;
        }
      c = code_of (t, &a);
      if (G_UNLIKELY (opt.smoke))
        {
          guint32 want;
          model_give (t, codes[j]);
          want = naive_scan (t, 0, 0, dev);
          if (c != want)
            WRONG ("(b): reserve_next gave a wrong address");
          model_take (t, c, aggregating);
        }
      bad += c != codes[j];
      codes[j] = c;
    }
  t0 = now_ns () - t0;
  if (bad)
    WRONG ("(b): %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
           " reserve_next answers were not the address just released (the "
           "lowest free one)", bad, steps);
  return t0;
}

/* The timed phases and their warm-ups as separate functions that are
 * never inlined, so that `valgrind --tool=callgrind --cache-sim=yes`
 * reports instructions and simulated cache misses for each (see
 * tests/bench/README.md).  Each stores its own value in bench_phase so
 * that no two are identical (the compiler would fold them into one). */
static volatile int bench_phase;

static G_GNUC_NO_INLINE guint64
bench_pci_warm_a (AsmPciBusSet *set, Topo *t, AsmPciConnectFlags dev,
                  guint32 first_free, guint64 steps)
{
  bench_phase = 1;
  return steady_a (set, t, dev, first_free, steps);
}

static G_GNUC_NO_INLINE guint64
bench_pci_a (AsmPciBusSet *set, Topo *t, AsmPciConnectFlags dev,
             guint32 first_free, guint64 steps)
{
  bench_phase = 2;
  return steady_a (set, t, dev, first_free, steps);
}

static G_GNUC_NO_INLINE guint64
bench_pci_warm_b (AsmPciBusSet *set, Topo *t, AsmPciConnectFlags dev,
                  guint32 *codes, guint64 lo, guint64 hi, guint64 steps,
                  guint64 *rng)
{
  bench_phase = 3;
  return steady_b (set, t, dev, codes, lo, hi, steps, rng);
}

static G_GNUC_NO_INLINE guint64
bench_pci_b_cold (AsmPciBusSet *set, Topo *t, AsmPciConnectFlags dev,
                  guint32 *codes, guint64 lo, guint64 hi, guint64 steps,
                  guint64 *rng)
{
  bench_phase = 4;
  return steady_b (set, t, dev, codes, lo, hi, steps, rng);
}

static G_GNUC_NO_INLINE guint64
bench_pci_b_hot (AsmPciBusSet *set, Topo *t, AsmPciConnectFlags dev,
                 guint32 *codes, guint64 lo, guint64 hi, guint64 steps,
                 guint64 *rng)
{
  bench_phase = 5;
  return steady_b (set, t, dev, codes, lo, hi, steps, rng);
}

/* the baseline's (a) and (b), on the filled model; returns ns, sets the
 * number of operations done */
static guint64
baseline_a (Topo *t, AsmPciConnectFlags dev, guint32 first_free,
            guint64 ops, guint64 *done)
{
  gboolean aggregating = (dev & ASM_PCI_CONNECT_AGGREGATE_SLOT) != 0;
  guint64 t0 = now_ns (), w0 = wall_ns (), i;

  for (i = 0; i < ops; i++)
    {
      guint32 c = naive_scan (t, 0, 0, dev);
      if (c != first_free)
        {
          WRONG ("baseline (a): the scan gave a wrong address");
          break;
        }
      model_take (t, c, aggregating);
      model_give (t, c);
      if ((i & 15) == 15 && wall_ns () - w0 > BASELINE_LIMIT_NS)
        {
          i++;
          break;
        }
    }
  *done = i;
  return now_ns () - t0;
}

static guint64
baseline_b (Topo *t, AsmPciConnectFlags dev, const guint32 *codes,
            guint64 n, guint64 ops, guint64 *rng, guint64 *done)
{
  gboolean aggregating = (dev & ASM_PCI_CONNECT_AGGREGATE_SLOT) != 0;
  guint64 t0 = now_ns (), w0 = wall_ns (), i;

  for (i = 0; i < ops; i++)
    {
      guint32 x = codes[splitmix (rng) % n], c;

      model_give (t, x);
      c = naive_scan (t, 0, 0, dev);
      if (c != x)
        {
          WRONG ("baseline (b): the scan gave a wrong address");
          model_take (t, x, aggregating);
          break;
        }
      model_take (t, c, aggregating);
      if ((i & 15) == 15 && wall_ns () - w0 > BASELINE_LIMIT_NS)
        {
          i++;
          break;
        }
    }
  *done = i;
  return now_ns () - t0;
}

static void
bench_size (guint n_domains, guint per_domain, AsmPciConnectFlags dev,
            gboolean baseline, Result *r)
{
  Topo t;
  gboolean aggregating = (dev & ASM_PCI_CONNECT_AGGREGATE_SLOT) != 0;
  guint64 cap, n;
  g_autofree guint32 *codes = NULL;

  memset (r, 0, sizeof *r);
  topo_init (&t, n_domains, per_domain);
  cap = t.capacity[aggregating];
  n = (guint64) ((double) cap * opt.fill_pct / 100.0);
  if (n >= cap)
    n = cap - 1; /* (a) needs one free place */
  codes = g_new0 (guint32, n);
  r->steps = opt.steps;

  for (guint run = 0; run < opt.runs; run++)
    {
      AsmPciBusSet *set;
      guint64 rng = opt.seed + run, t0, ns, placed, heap0 = 0, j;
      guint64 warm = MIN (opt.steps / 10, 20000);
      guint32 first_free;
      guint last_m;

      if (run == 0)
        heap0 = heap_in_use ();
      t0 = now_ns ();
      set = build_set (&t);
      figure_add (&r->build, (double) (now_ns () - t0) / 1e6);

      placed = fill_set (set, &t, dev, n, codes, &ns, &r->fill_cut);
      figure_add (&r->fill, (double) ns / (double) MAX (placed, 1));
      if (run == 0 && heap0 != 0)
        {
          r->heap_per_bus = ((double) heap_in_use () - (double) heap0) /
                            t.n_buses;
          r->have_heap = TRUE;
        }
      r->n_fill = placed;
      r->fill_pct = 100.0 * (double) placed / (double) cap;
      if (asm_pci_bus_set_get_n_reserved (set) != placed + t.n_bridges)
        WRONG ("%" G_GUINT64_FORMAT " functions reserved after %"
               G_GUINT64_FORMAT " devices and %u bridges",
               asm_pci_bus_set_get_n_reserved (set), placed, t.n_bridges);
      first_free = verify_fill (&t, dev, codes, placed);
      r->first_free = first_free;
      if (placed == 0 || first_free == CODE_NONE)
        {
          if (placed != 0 && first_free == CODE_NONE && n_wrong_printed == 0)
            WRONG ("no free place left after the fill");
          asm_pci_bus_set_unref (set);
          break;
        }
      if (opt.smoke || (run == 0 && !opt.no_check))
        {
          t0 = now_ns ();
          check_set (set, "after the fill");
          figure_add (&r->check, (double) (now_ns () - t0) / 1e6);
        }

      /* (a) */
      bench_pci_warm_a (set, &t, dev, first_free, warm);
      ns = bench_pci_a (set, &t, dev, first_free, opt.steps);
      figure_add (&r->a, (double) ns / (double) opt.steps);

      /* (b), cold: any device */
      bench_pci_warm_b (set, &t, dev, codes, 0, placed, warm, &rng);
      ns = bench_pci_b_cold (set, &t, dev, codes, 0, placed, opt.steps, &rng);
      figure_add (&r->b, (double) ns / (double) opt.steps);

      /* (b-hot): the devices on the last hot_buses buses holding any */
      last_m = codes[placed - 1] >> 8;
      for (j = placed; j > 0 && last_m - (codes[j - 1] >> 8) <
                                  opt.hot_buses; j--)
        ;
      r->hot_n = placed - j;
      r->hot_buses = MIN (opt.hot_buses, last_m + 1);
      bench_pci_warm_b (set, &t, dev, codes, j, placed, warm, &rng);
      ns = bench_pci_b_hot (set, &t, dev, codes, j, placed, opt.steps, &rng);
      figure_add (&r->bhot, (double) ns / (double) opt.steps);

      if (opt.smoke)
        check_set (set, "after the steady state");
      if (asm_pci_bus_set_get_n_reserved (set) != placed + t.n_bridges)
        WRONG ("the steady state changed the reserved count");

      if (baseline)
        {
          guint64 done;

          ns = baseline_a (&t, dev, first_free, opt.baseline_ops, &done);
          figure_add (&r->base_a, (double) ns / (double) MAX (done, 1));
          r->base_ops_a = done;
          ns = baseline_b (&t, dev, codes, placed, opt.baseline_ops, &rng,
                           &done);
          figure_add (&r->base_b, (double) ns / (double) MAX (done, 1));
          r->base_ops_b = done;
        }
      asm_pci_bus_set_unref (set);
    }
  topo_clear (&t);
}

static void
print_size (const char *name, guint n_domains, guint per_domain,
            AsmPciConnectFlags dev, Result *r)
{
  Topo t;
  gboolean aggregating = (dev & ASM_PCI_CONNECT_AGGREGATE_SLOT) != 0;
  g_autofree char *ff = NULL;

  topo_init (&t, n_domains, per_domain);
  ff = code_format (&t, r->first_free);
  printf ("  %s: %u domain(s) x %u bus(es) = %u buses, %u bridges; "
          "capacity %" G_GUINT64_FORMAT " %s; filled %" G_GUINT64_FORMAT
          " (%.2f %%); lowest free %s\n",
          name, n_domains, per_domain, t.n_buses, t.n_bridges,
          t.capacity[aggregating], aggregating ? "functions" : "slots",
          r->n_fill, r->fill_pct, ff);
  if (r->fill_cut)
    printf ("    (the fill stopped at the %" G_GUINT64_FORMAT
            " s limit: figures are for this lower fill)\n",
            FILL_LIMIT_NS / NS_PER_S);
  figure_print ("build (add the controllers)", &r->build, "ms");
  figure_print ("fill: reserve_next", &r->fill, "ns/op");
  if (r->have_heap)
    printf ("    %-40s %10.0f bytes/bus (run 1, mallinfo2)\n",
            "heap in use after the fill", r->heap_per_bus);
  figure_print ("asm_pci_bus_set_check() after the fill", &r->check, "ms");
  printf ("    steady state: %" G_GUINT64_FORMAT " timed steps per figure "
          "(after %" G_GUINT64_FORMAT " untimed); ns/op = one reserve_next "
          "+ one release\n",
          r->steps, MIN (r->steps / 10, 20000));
  figure_print ("(a) reserve_next + release it", &r->a, "ns/op");
  figure_print ("(b) release random + reserve_next", &r->b, "ns/op");
  {
    g_autofree char *label = g_strdup_printf (
      "(b-hot) same, last %u bus(es), %" G_GUINT64_FORMAT " devs",
      r->hot_buses, r->hot_n);
    figure_print (label, &r->bhot, "ns/op");
  }
  if (r->base_a.n)
    {
      printf ("    baseline (libvirt-style scan from bus 0): %" G_GUINT64_FORMAT
              " ops for (a), %" G_GUINT64_FORMAT " for (b) per run%s\n",
              r->base_ops_a, r->base_ops_b,
              r->base_ops_a < opt.baseline_ops ||
                  r->base_ops_b < opt.baseline_ops
                ? " (cut by the time limit)"
                : "");
      figure_print ("baseline (a) scan + take + release", &r->base_a,
                    "ns/op");
      figure_print ("baseline (b) release random + scan", &r->base_b,
                    "ns/op");
    }
  topo_clear (&t);
}

static void
print_ratio (const char *label, double num, double den, double target,
             gboolean at_most)
{
  double ratio = den > 0 ? num / den : 0;
  gboolean met = at_most ? ratio <= target : ratio >= target;

  printf ("    %-52s %8.2fx  (target %s %.0fx: %s)\n", label, ratio,
          at_most ? "<=" : ">=", target, met ? "met" : "MISSED");
}

static void
bench_shape (AsmPciConnectFlags dev)
{
  gboolean aggregating = (dev & ASM_PCI_CONNECT_AGGREGATE_SLOT) != 0;
  g_autofree char *flags = asm_pci_connect_flags_to_string (dev);
  guint big_d = opt.smoke ? 2 : opt.domains;
  guint big_b = opt.smoke ? 4 : opt.buses;
  Result big, one;
  double a_big, b_big, bh_big, a_one, b_one;
  char name[80];

  memset (&big, 0, sizeof big);
  memset (&one, 0, sizeof one);
  printf ("\nshape \"%s\": %s devices, flags %s\n",
          aggregating ? "function" : "slot",
          aggregating ? "aggregating (8 per slot)"
                      : "single-function (one per slot)",
          flags);
  fflush (stdout);
  if (opt.sizes & 1)
    {
      bench_size (big_d, big_b, dev, !opt.no_baseline, &big);
      g_snprintf (name, sizeof name, "%ux%u", big_d, big_b);
      print_size (name, big_d, big_b, dev, &big);
      fflush (stdout);
    }
  if (opt.sizes & 2)
    {
      bench_size (1, 1, dev, !opt.no_baseline, &one);
      print_size ("1 bus", 1, 1, dev, &one);
    }
  if (opt.sizes != 3)
    return;

  a_big = figure_median (&big.a);
  b_big = figure_median (&big.b);
  bh_big = figure_median (&big.bhot);
  a_one = figure_median (&one.a);
  b_one = figure_median (&one.b);
  printf ("  ratios (medians)%s:\n",
          opt.smoke ? " (smoke sizes: not meaningful)" : "");
  g_snprintf (name, sizeof name, "(a) %ux%u / 1 bus", big_d, big_b);
  print_ratio (name, a_big, a_one, 3, TRUE);
  g_snprintf (name, sizeof name, "(b) %ux%u / 1 bus", big_d, big_b);
  print_ratio (name, b_big, b_one, 3, TRUE);
  g_snprintf (name, sizeof name, "(b-hot) %ux%u / (b) 1 bus", big_d, big_b);
  print_ratio (name, bh_big, b_one, 3, TRUE);
  printf ("    %-52s %8.2fx  (the cost of cold buses)\n",
          "(b) / (b-hot), same set", bh_big > 0 ? b_big / bh_big : 0);
  if (big.base_a.n)
    {
      guint32 f = big.first_free;
      double scanned = (double) ((f >> 8) * N_SLOTS + ((f >> 3) & 31) -
                                 SLOT_MIN + 1);

      g_snprintf (name, sizeof name, "baseline / asm (a), %ux%u", big_d,
                  big_b);
      print_ratio (name, figure_median (&big.base_a), a_big, 100, FALSE);
      g_snprintf (name, sizeof name, "baseline / asm (b), %ux%u", big_d,
                  big_b);
      print_ratio (name, figure_median (&big.base_b), b_big, 100, FALSE);
      g_snprintf (name, sizeof name, "baseline (b) / asm (b-hot), %ux%u",
                  big_d, big_b);
      printf ("    %-52s %8.2fx  (for reference)\n", name,
              bh_big > 0 ? figure_median (&big.base_b) / bh_big : 0);
      printf ("    %-52s %8.2fx  (for reference: a scan of 31 slots)\n",
              "baseline / asm (a), 1 bus",
              a_one > 0 ? figure_median (&one.base_a) / a_one : 0);
      printf ("    %-52s %8.3f ns  ((a) scans %.0f slots)\n",
              "baseline cost per slot scanned", figure_median (&big.base_a) /
                                                  scanned, scanned);
    }
  if (!aggregating && one.n_fill + 1 == N_SLOTS && a_one > a_big)
    printf ("  note: 1 bus has 31 slots, so \"99 %%\" is 30 of them (96.77 %%) "
            "and (a) takes its\n"
            "  last empty slot: every step takes the bus out of the room "
            "indexes and puts it\n"
            "  back.  On %ux%u the free tail spans many slots and (a) "
            "does not, which is why\n"
            "  (a) costs less there than on 1 bus.\n", big_d, big_b);
  if (!opt.smoke && b_one > 0 && b_big / b_one > 3)
    printf ("  note: (b) misses the 3x target.  Each step releases a device "
            "on a random one of\n"
            "  %u buses, whose hash entry, bitmap, space and room entries "
            "are then cold\n"
            "  (%.1f MB of heap after the fill, more than the caches); and "
            "a full bus (and\n"
            "  domain) enters the room indexes on the release and leaves "
            "them on the\n"
            "  reserve_next, which never happens on 1 bus, whose bus "
            "always has room.  Both\n"
            "  are O(log n) on indexes of <= 256 buses or <= 65536 "
            "domains, whatever the\n"
            "  number of buses: (b-hot), the same steps on the last %u "
            "buses, costs %.0f ns,\n"
            "  %.2fx the 1-bus (b).  Instruction and cache-miss counts: "
            "tests/bench/README.md.\n",
            big_d * big_b, big.heap_per_bus * big_d * big_b / 1e6,
            big.hot_buses, bh_big, b_one > 0 ? bh_big / b_one : 0);
  if (!opt.smoke && big.base_b.n && b_big > 0 &&
      figure_median (&big.base_b) / b_big < 100)
    printf ("  note: baseline / asm (b) misses 100x: the baseline's (b) "
            "scan stops at the\n"
            "  released address, on average half-way, and is a tight "
            "byte loop (see the cost per\n"
            "  slot; libvirt also formats a string per bus and calls its "
            "debug logger per\n"
            "  slot), while asm's (b) pays the cold-bus misses above.\n");
  fflush (stdout);
}

/* the value after option argv[*i], clamped to lo..hi (a function, not
 * CLAMP(), so that the argument is read once) */
static guint64
arg_u64 (int *i, int argc, char **argv, guint64 lo, guint64 hi)
{
  guint64 v;

  if (*i + 1 >= argc)
    {
      fprintf (stderr, "%s needs a value\n", argv[*i]);
      exit (2);
    }
  v = g_ascii_strtoull (argv[++*i], NULL, 0);
  return v < lo ? lo : v > hi ? hi : v;
}

int
main (int argc, char **argv)
{
  guint8 lo, hi;
  guint64 t0 = wall_ns ();

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--smoke") == 0)
        opt.smoke = TRUE;
      else if (strcmp (argv[i], "--wall") == 0)
        bench_clock = CLOCK_MONOTONIC;
      else if (strcmp (argv[i], "--runs") == 0)
        opt.runs = (guint) arg_u64 (&i, argc, argv, 1, MAX_RUNS);
      else if (strcmp (argv[i], "--steps") == 0)
        opt.steps = arg_u64 (&i, argc, argv, 1, G_MAXUINT32);
      else if (strcmp (argv[i], "--domains") == 0)
        opt.domains = (guint) arg_u64 (&i, argc, argv, 1, 4096);
      else if (strcmp (argv[i], "--buses") == 0)
        opt.buses = (guint) arg_u64 (&i, argc, argv, 1,
                                      ASM_PCI_MAX_BUSES_PER_DOMAIN);
      else if (strcmp (argv[i], "--fill") == 0)
        {
          if (i + 1 >= argc)
            {
              fprintf (stderr, "--fill needs a value\n");
              return 2;
            }
          double pct = g_ascii_strtod (argv[++i], NULL);
          opt.fill_pct = CLAMP (pct, 1, 100);
        }
      else if (strcmp (argv[i], "--baseline-ops") == 0)
        opt.baseline_ops = arg_u64 (&i, argc, argv, 1, G_MAXUINT32);
      else if (strcmp (argv[i], "--hot-buses") == 0)
        opt.hot_buses = (guint) arg_u64 (&i, argc, argv, 1, G_MAXUINT32);
      else if (strcmp (argv[i], "--no-check") == 0)
        opt.no_check = TRUE;
      else if (strcmp (argv[i], "--no-baseline") == 0)
        opt.no_baseline = TRUE;
      else if (strcmp (argv[i], "--shape") == 0 && i + 1 < argc)
        {
          const char *s = argv[++i];
          opt.shapes = strcmp (s, "slot") == 0       ? 1
                       : strcmp (s, "function") == 0 ? 2
                       : strcmp (s, "all") == 0      ? 3
                                                     : 0;
          if (opt.shapes == 0)
            {
              fprintf (stderr, "--shape: slot, function or all\n");
              return 2;
            }
        }
      else if (strcmp (argv[i], "--size") == 0 && i + 1 < argc)
        {
          const char *s = argv[++i];
          opt.sizes = strcmp (s, "big") == 0   ? 1
                      : strcmp (s, "one") == 0 ? 2
                      : strcmp (s, "all") == 0 ? 3
                                               : 0;
          if (opt.sizes == 0)
            {
              fprintf (stderr, "--size: big, one or all\n");
              return 2;
            }
        }
      else if (strcmp (argv[i], "--seed") == 0)
        opt.seed = arg_u64 (&i, argc, argv, 0, G_MAXUINT64);
      else
        {
          fprintf (stderr,
                   "usage: %s [--smoke] [--wall] [--runs N] [--steps N] "
                   "[--shape slot|function|all] [--size big|one|all] "
                   "[--domains N] [--buses N] [--fill PCT] [--baseline-ops N] [--hot-buses N] "
                   "[--no-check] [--no-baseline] [--seed S]\n",
                   argv[0]);
          return 2;
        }
    }
  if (opt.smoke)
    {
      opt.runs = 1;
      opt.steps = 300;
      opt.baseline_ops = 50;
      opt.hot_buses = 2;
    }

  /* the model assumes both bus models take slots SLOT_MIN..SLOT_MAX */
  asm_pci_controller_model_get_bus_flags (ASM_PCI_CONTROLLER_MODEL_PCI_ROOT,
                                          TRUE, &lo, &hi);
  if (lo != SLOT_MIN || hi != SLOT_MAX)
    {
      fprintf (stderr, "setup: pci-root slots %u..%u, expected %u..%u\n", lo,
               hi, SLOT_MIN, SLOT_MAX);
      return 2;
    }
  asm_pci_controller_model_get_bus_flags (ASM_PCI_CONTROLLER_MODEL_PCI_BRIDGE,
                                          TRUE, &lo, &hi);
  if (lo != SLOT_MIN || hi != SLOT_MAX)
    {
      fprintf (stderr, "setup: pci-bridge slots %u..%u, expected %u..%u\n", lo,
               hi, SLOT_MIN, SLOT_MAX);
      return 2;
    }

#ifndef __OPTIMIZE__
  printf ("warning: not an optimised build; figures are not representative\n");
#endif
  printf ("AsmPciBusSet reserve_next at %.0f %% fill; %s runs; median (min, "
          "max) of %u run(s), %s%s\n",
          opt.fill_pct, opt.smoke ? "smoke" : "full", opt.runs,
          bench_clock == CLOCK_MONOTONIC ? "wall-clock time"
                                         : "thread CPU time",
          opt.smoke ? "; every answer checked against a scan from bus 0"
                    : "");
  printf ("load average %.2f on %u CPU(s) at the start\n", load_average (),
          g_get_num_processors ());
  if (opt.shapes & 1)
    bench_shape (DEV_SLOT);
  if (opt.shapes & 2)
    bench_shape (DEV_FUNCTION);
  printf ("\ntotal %.1f s wall-clock; load average %.2f at the end\n",
          (double) (wall_ns () - t0) / 1e9, load_average ());
  if (failed)
    {
      fprintf (stderr, "bench-pci: WRONG ANSWERS (see above)\n");
      return 1;
    }
  return 0;
}
