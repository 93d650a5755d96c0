/* fabric-test-common.h: what the fabric test programs share
 *
 * test-fabric-{topology,placement,migrate,undo,persist}.c test AsmFabric
 * over the sim backend, one part each; what more than one of them uses is
 * here and in fabric-test-common.c: builders that fail at the caller's
 * line (FABRIC_NEW, SWITCH, DEVICE, WORKLOAD, REQUEST, MAP, VF), the info
 * and translation lookups (PINFO, DINFO, SINFO, XLATE, XLATE_IS, ROUTED,
 * XLAT_ENTRY_IS, PREDICT), the checks run after every change (CONSISTENT)
 * and after every refusal (Snap, UNCHANGED), an observer and driver
 * callbacks that record what they hear (EvLog, DrvLog), and the scene
 * most tests start from (Scene, scene_build()).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "asm-test.h"

#include <asm/asm-sim.h>

G_BEGIN_DECLS

#define X "0x%" G_GINT64_MODIFIER "x"
#define KIB (G_GUINT64_CONSTANT (1) << 10)
#define MIB (G_GUINT64_CONSTANT (1) << 20)
#define GRAN (2 * MIB)
#define BASE (G_GUINT64_CONSTANT (1) << 32)
#define GLOBAL_SIZE (256 * MIB)
/* where a workload's first partition starts in its virtual space; the
 * next one starts a VIRT0 further */
#define VIRT0 (G_GUINT64_CONSTANT (1) << 40)

/* Fails with every line of `problems`, when there is any. */
void report_at (GString *problems, const char *file, int line);
#define REPORT(problems) report_at ((problems), __FILE__, __LINE__)

/* ---------------------------------------------------------------------- */
/* Consistency and snapshots                                              */
/* ---------------------------------------------------------------------- */

/* asm_fabric_check(), and asm_sim_verify() when sim is not NULL */
void consistent_at (AsmFabric *f, AsmBackend *sim, const char *file,
                    int line);
#define CONSISTENT(f, sim) consistent_at ((f), (sim), __FILE__, __LINE__)

/* Everything a failed operation must leave as it was. */
typedef struct {
  char *json;
  AsmArenaStats global;
  GArray *switches; /* AsmSwitchInfo */
} Snap;

void snap_take (AsmFabric *f, Snap *s);
void snap_clear (Snap *s);
char *snap_diff (AsmFabric *f, const Snap *s);
void unchanged_at (AsmFabric *f, const Snap *s, const char *file, int line);
#define UNCHANGED(f, snap) unchanged_at ((f), (snap), __FILE__, __LINE__)

/* Two saved states that differ at most in their journal position. */
gboolean same_but_seq (const char *a, const char *b);

/* ---------------------------------------------------------------------- */
/* Building, and looking at what was built                                */
/* ---------------------------------------------------------------------- */

/* [BASE, BASE + size), granule GRAN, named "test" */
AsmFabric *fabric_new_at (AsmBackend *sim, guint64 size, const char *file,
                          int line);
#define FABRIC_NEW(sim, size) fabric_new_at ((sim), (size), __FILE__, __LINE__)

AsmId switch_at (AsmFabric *f, const char *name, guint64 bw, guint32 lat,
                 guint32 cap, guint32 ports, gboolean pinned,
                 const char *file, int line);
#define SWITCH(f, name, bw, lat, cap, ports, pinned) \
  switch_at ((f), (name), (bw), (lat), (cap), (ports), (pinned), __FILE__, \
             __LINE__)

AsmId device_at (AsmFabric *f, const char *name, AsmDeviceKind kind,
                 guint64 bar, AsmId sw, guint32 port, const char *file,
                 int line);
#define DEVICE(f, name, kind, bar, sw, port) \
  device_at ((f), (name), (kind), (bar), (sw), (port), __FILE__, __LINE__)

AsmId workload_at (AsmFabric *f, const char *name, const char *file,
                   int line);
#define WORKLOAD(f, name) workload_at ((f), (name), __FILE__, __LINE__)

AsmId request_at (AsmFabric *f, AsmId w, guint64 size, AsmId pref,
                  guint64 demand, guint64 *out_virt, const char *file,
                  int line);
#define REQUEST(f, w, size, pref, demand, out_virt) \
  request_at ((f), (w), (size), (pref), (demand), (out_virt), __FILE__, \
              __LINE__)

/* the device's offset in the partition */
guint64 map_at (AsmFabric *f, AsmId p, AsmId d, const char *file, int line);
#define MAP(f, p, d) map_at ((f), (p), (d), __FILE__, __LINE__)

AsmId vf_at (AsmFabric *f, AsmId pf, const char *file, int line);
#define VF(f, pf) vf_at ((f), (pf), __FILE__, __LINE__)

AsmPartitionInfo pinfo_at (AsmFabric *f, AsmId p, const char *file, int line);
#define PINFO(f, p) pinfo_at ((f), (p), __FILE__, __LINE__)

AsmDeviceInfo dinfo_at (AsmFabric *f, AsmId d, const char *file, int line);
#define DINFO(f, d) dinfo_at ((f), (d), __FILE__, __LINE__)

AsmSwitchInfo sinfo_at (AsmFabric *f, AsmId s, const char *file, int line);
#define SINFO(f, s) sinfo_at ((f), (s), __FILE__, __LINE__)

AsmTranslation xlate_at (AsmFabric *f, AsmId w, guint64 virt,
                         const char *file, int line);
#define XLATE(f, w, virt) xlate_at ((f), (w), (virt), __FILE__, __LINE__)

/* entry `key` of switch sw's table maps [virt, virt + size) of partition p
 * of workload w to phys */
void xlat_entry_is_at (AsmFabric *f, AsmId sw, AsmId key, AsmId partition,
                       AsmId workload, guint64 virt, guint64 size,
                       guint64 phys, const char *file, int line);
#define XLAT_ENTRY_IS(f, sw, key, p, w, virt, size, phys) \
  xlat_entry_is_at ((f), (sw), (key), (p), (w), (virt), (size), (phys), \
                    __FILE__, __LINE__)

gboolean xlat_has (AsmFabric *f, AsmId sw, AsmId key);

void routed_at (AsmFabric *f, AsmId w, guint64 virt, const AsmTranslation *t,
                const char *file, int line);
#define ROUTED(f, w, virt, t) routed_at ((f), (w), (virt), (t), __FILE__, \
                                         __LINE__)

/* virt of workload w translates to exactly this, not held, and the
 * hardware table routes it there */
void xlate_is_at (AsmFabric *f, AsmId w, guint64 virt, AsmId partition,
                  AsmId sw, guint64 phys, AsmId device, guint64 dev_off,
                  const char *file, int line);
#define XLATE_IS(f, w, virt, p, sw, phys, dev, off) \
  xlate_is_at ((f), (w), (virt), (p), (sw), (phys), (dev), (off), __FILE__, \
               __LINE__)

guint64 predict_at (AsmFabric *f, AsmId w, gdouble h, const char *file,
                    int line);
#define PREDICT(f, w, h) predict_at ((f), (w), (h), __FILE__, __LINE__)

/* ---------------------------------------------------------------------- */
/* Observers and drivers                                                  */
/* ---------------------------------------------------------------------- */

typedef struct {
  AsmFabricEventKind kind;
  AsmId sw, old_sw, partition, device;
  AsmRange range;
} Ev;

typedef struct {
  GArray *events;     /* Ev */
  GString *problems;  /* what the observer found wrong */
} EvLog;

/* an AsmFabricEventFunc; data is an EvLog */
void record_event (AsmFabric *f, const AsmFabricEvent *e, gpointer data);
void evlog_init (EvLog *log);
void evlog_clear (EvLog *log);
void evlog_reset (EvLog *log);
guint evlog_count (EvLog *log, AsmFabricEventKind kind);

/* Driver notifications, as "h3 m3@2:0x... r3 " */
typedef struct {
  GString *log;
  gint holds, resumes;
  GString *problems;
  /* a probe translated inside the callbacks */
  AsmId probe_workload;
  guint64 probe_virt;
  AsmTranslation probe_before;  /* the mapping before the operation */
  gboolean probe_on;
  guint n_probed_hold, n_probed_moved;
} DrvLog;

/* the driver callbacks; their data is a DrvLog */
extern const AsmDriverFuncs drv_funcs;
void drvlog_init (DrvLog *d);
void drvlog_reset (DrvLog *d);
void drvlog_clear (DrvLog *d);

/* ---------------------------------------------------------------------- */
/* The scene                                                              */
/* ---------------------------------------------------------------------- */

/* Global [BASE, BASE + 256 MiB), granule 2 MiB, windows of 8 MiB.
 *
 *   A  bandwidth 10000, 100 ns, 8 entries, 8 ports
 *   B  bandwidth 10000, 300 ns, 8 entries, 8 ports
 *   C  bandwidth 4000, 50 ns, 4 entries, 4 ports, pinned, window
 *      [BASE + 192 MiB, BASE + 256 MiB)
 *   e1 endpoint 1 MiB at A:0         e2 endpoint 1 MiB at B:0
 *   pf1 PF 1 MiB at A:1, 4 VFs of 256 KiB, vf1 created
 *   pf2 PF 1 MiB at B:1, 4 VFs of 256 KiB
 *   pf3 PF 512 KiB at A:2, 2 VFs of 256 KiB, vf3 created
 *   P1 (w1, 4 MiB, demand 1000) on A at BASE: e1 at 0, vf1 at 1 MiB
 *   P2 (w2, 4 MiB, demand 1000) on A at BASE + 4 MiB: pf3 at 0, vf3 at
 *      512 KiB
 *   P3 (w1, 2 MiB, demand 500) on A at BASE + 8 MiB, in A's second window
 *      [BASE + 8 MiB, BASE + 16 MiB)
 */
typedef struct {
  AsmBackend *sim;
  AsmFabric *f;
  AsmId a, b, c;
  AsmId e1, e2, pf1, pf2, pf3, vf1, vf3;
  AsmId w1, w2;
  AsmId p1, p2, p3;
  guint64 v1, v2, v3;
  AsmId nvf;    /* a VF made by a transfer in prep */
  AsmId out_id; /* what the operation under test made */
} Scene;

/* Builds the scene on a new sim, journaled to `journal` (a new file) when
 * it is not NULL. */
void scene_build (Scene *s, const char *journal);
void scene_clear (Scene *s);
/* vf1 of P1 goes to pf2: s->nvf, routed by its own entry on B */
void prep_transfer (Scene *s);

/* A journal file name of this process in the temporary directory. */
char *journal_path (const char *tag);

G_END_DECLS
