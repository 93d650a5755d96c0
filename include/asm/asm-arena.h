/* asm-arena.h: vmem-style allocator over u64 spans (layer 1)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ASM_INSIDE) && !defined(ASM_COMPILATION)
#error "Only <asm/asm.h> can be included directly."
#endif

#include <asm/asm-range.h>

G_BEGIN_DECLS

/**
 * AsmFit:
 * @ASM_FIT_LOWEST: the lowest address that satisfies every constraint.
 * @ASM_FIT_HIGHEST: the highest such address (top-down allocation).
 * @ASM_FIT_BEST: the smallest free segment (a maximal free run inside one
 *   span, not clipped to min/max) that contains a satisfying address; ties go
 *   to the lowest segment; inside it, its lowest satisfying address.
 * @ASM_FIT_NEXT: the lowest satisfying address after the end of this arena's
 *   previous successful %ASM_FIT_NEXT allocation (with none yet, as
 *   %ASM_FIT_LOWEST); when there is none after it, wrap around and act as
 *   %ASM_FIT_LOWEST.  A clone inherits the cursor.
 * @ASM_FIT_INSTANT: any satisfying address, the one that is fastest to
 *   find: on an arena with a cache (asm_arena_enable_cache()), a recently
 *   freed range of the same size taken from the calling thread's
 *   magazine, else the lowest satisfying address.  The IOVA hot path.
 *
 * The placement policy of an allocation.  Every policy is exact: it returns
 * the address its definition names, and fails only when no address at all
 * satisfies the request.
 *
 * Since: 0.1
 */
typedef enum {
  ASM_FIT_LOWEST,
  ASM_FIT_HIGHEST,
  ASM_FIT_BEST,
  ASM_FIT_NEXT,
  ASM_FIT_INSTANT,
} AsmFit;

/**
 * ASM_TYPE_FIT:
 *
 * The #GType of #AsmFit, an enumeration type registered by
 * asm_fit_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_FIT (asm_fit_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_fit_get_type (void) G_GNUC_CONST;

/**
 * AsmRequest:
 * @size: number of address units, >= 1 and a multiple of the quantum
 * @align: 0 (the quantum) or a power of two >= the quantum
 * @phase: the address satisfies `addr % align == phase`; a multiple of the
 *   quantum below the alignment
 * @nocross: 0 (no constraint) or a power of two >= @size: the range
 *   `[addr, addr + size - 1]` contains no boundary between two multiples of it
 * @min: the address is >= @min
 * @max: the last unit, `addr + size - 1`, is <= @max
 * @fit: the placement policy
 *
 * A constrained allocation request, vmem_xalloc() style.  All constraints
 * apply to absolute addresses (not offsets from a span's start); @min and
 * @max need not be multiples of the quantum.  Initialise with
 * ASM_REQUEST_INIT() and set what you need.
 *
 * Since: 0.1
 */
typedef struct {
  guint64 size;
  guint64 align;
  guint64 phase;
  guint64 nocross;
  guint64 min;
  guint64 max;
  AsmFit fit;
} AsmRequest;

/**
 * ASM_TYPE_REQUEST:
 *
 * The #GType of #AsmRequest, a boxed type registered by
 * asm_request_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_REQUEST (asm_request_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_request_get_type (void) G_GNUC_CONST;

/**
 * ASM_REQUEST_INIT:
 * @sz: the size in address units
 *
 * An #AsmRequest compound literal for @sz units with no other constraint
 * (`max` = %G_MAXUINT64, lowest fit).
 *
 * Since: 0.1
 */
#define ASM_REQUEST_INIT(sz) ((AsmRequest){ .size = (sz), .max = G_MAXUINT64 })

/**
 * AsmSegmentKind:
 * @ASM_SEGMENT_FREE: free space inside a span
 * @ASM_SEGMENT_ALLOCATED: an allocation made by asm_arena_alloc_full()
 * @ASM_SEGMENT_RESERVED: a range claimed by asm_arena_reserve() (a hole)
 *
 * What a segment of an arena holds.
 *
 * Since: 0.1
 */
typedef enum {
  ASM_SEGMENT_FREE,
  ASM_SEGMENT_ALLOCATED,
  ASM_SEGMENT_RESERVED,
} AsmSegmentKind;

/**
 * ASM_TYPE_SEGMENT_KIND:
 *
 * The #GType of #AsmSegmentKind, an enumeration type registered by
 * asm_segment_kind_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_SEGMENT_KIND (asm_segment_kind_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_segment_kind_get_type (void) G_GNUC_CONST;

/**
 * AsmArenaStats:
 * @span_units: address units inside spans
 * @allocated_units: units held by allocations
 * @reserved_units: units held by reservations
 * @free_units: free units (ranges held by a cache included: they are free
 *   to every caller)
 * @n_spans: number of spans
 * @n_allocated: number of live allocations
 * @n_reserved: number of live reservations
 * @n_free_segments: number of free segments (maximal free runs in one span;
 *   on an arena with a cache, not counting the cached ranges)
 * @largest_free: the largest free segment's size in units (0 when none;
 *   likewise)
 *
 * A snapshot of an arena's accounting.  Unit counts that would be 2^64 (one
 * span covering the whole space) saturate at %G_MAXUINT64.
 *
 * Since: 0.1
 */
typedef struct {
  guint64 span_units;
  guint64 allocated_units;
  guint64 reserved_units;
  guint64 free_units;
  guint64 n_spans;
  guint64 n_allocated;
  guint64 n_reserved;
  guint64 n_free_segments;
  guint64 largest_free;
} AsmArenaStats;

/**
 * ASM_TYPE_ARENA_STATS:
 *
 * The #GType of #AsmArenaStats, a boxed type registered by
 * asm_arena_stats_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_ARENA_STATS (asm_arena_stats_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_arena_stats_get_type (void) G_GNUC_CONST;

/**
 * AsmArenaCacheStats:
 * @max_size: the largest size the cache serves, in address units
 * @capacity: the most ranges the cache may hold at once (its hard cap)
 * @cached_ranges: freed ranges the cache holds now, in the threads'
 *   magazines and in the shared depot
 * @cached_units: the address units of those ranges
 * @hits: %ASM_FIT_INSTANT allocations served from a magazine
 * @misses: cacheable %ASM_FIT_INSTANT allocations that went to the tree
 * @flushes: times every cached range was given back to the tree (before a
 *   refusal, an exact fit, or a call that needs the exact free space)
 *
 * What the cache of an arena holds and how it has served.  Cached ranges
 * are free to every caller: asm_arena_get_stats() counts them in
 * @free_units and not in @allocated_units or @n_allocated.
 *
 * Since: 0.1
 */
typedef struct {
  guint64 max_size;
  guint64 capacity;
  guint64 cached_ranges;
  guint64 cached_units;
  guint64 hits;
  guint64 misses;
  guint64 flushes;
} AsmArenaCacheStats;

/**
 * ASM_TYPE_ARENA_CACHE_STATS:
 *
 * The #GType of #AsmArenaCacheStats, a boxed type registered by
 * asm_arena_cache_stats_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_ARENA_CACHE_STATS (asm_arena_cache_stats_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_arena_cache_stats_get_type (void) G_GNUC_CONST;

/**
 * AsmArena:
 *
 * An allocator of u64 address ranges: spans of managed space, holes carved
 * out of them, constrained allocations, and O(1) copy-on-write clones.  A
 * reference-counted object; layers above share it with asm_arena_ref().
 *
 * Since: 0.1
 */
typedef struct _AsmArena AsmArena;

/**
 * ASM_TYPE_ARENA:
 *
 * The #GType of #AsmArena, a boxed type registered by
 * asm_arena_get_type().
 *
 * Since: 0.1
 */
#define ASM_TYPE_ARENA (asm_arena_get_type ())
ASM_AVAILABLE_IN_0_1
GType asm_arena_get_type (void) G_GNUC_CONST;

/**
 * AsmArenaWalkFunc:
 * @segment: the segment's inclusive range
 * @kind: what the segment holds
 * @user_data: the data given to asm_arena_walk()
 *
 * Called for each segment by asm_arena_walk(), in address order.
 *
 * Returns: %TRUE to go on, %FALSE to stop the walk
 *
 * Since: 0.1
 */
typedef gboolean (*AsmArenaWalkFunc) (const AsmRange *segment,
                                      AsmSegmentKind kind, gpointer user_data);

ASM_AVAILABLE_IN_0_1
AsmArena *asm_arena_new (const char *name, guint64 quantum);
ASM_AVAILABLE_IN_0_1
AsmArena *asm_arena_ref (AsmArena *a);
ASM_AVAILABLE_IN_0_1
void asm_arena_unref (AsmArena *a);
ASM_AVAILABLE_IN_0_1
const char *asm_arena_get_name (AsmArena *a);
ASM_AVAILABLE_IN_0_1
guint64 asm_arena_get_quantum (AsmArena *a);

ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_arena_add_span (AsmArena *a, guint64 first, guint64 last,
                             GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_arena_remove_span (AsmArena *a, guint64 first, guint64 last,
                                GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_arena_reserve (AsmArena *a, guint64 first, guint64 last,
                            GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_arena_alloc (AsmArena *a, guint64 size, guint64 *out_addr,
                          GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_arena_alloc_full (AsmArena *a, const AsmRequest *req,
                               guint64 *out_addr, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_arena_alloc_instant (AsmArena *a, guint64 size, guint64 align,
                                  guint64 max, guint64 *out_addr,
                                  GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_arena_find_free (AsmArena *a, const AsmRequest *req,
                              guint64 *out_addr, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_arena_free (AsmArena *a, guint64 addr, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_arena_move (AsmArena *a, guint64 addr, const AsmRequest *req,
                         guint64 *out_addr, GError **error);
ASM_AVAILABLE_IN_0_1
AsmArena *asm_arena_clone (AsmArena *a, const char *name);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_arena_lookup (AsmArena *a, guint64 addr, AsmRange *out_segment);
/* Like asm_arena_lookup(), but reports any segment that contains @addr,
 * free ones included, with its kind; FALSE only when @addr is outside every
 * span.  Full documentation is on the definition in src/asm-arena.c. */
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_arena_lookup_full (AsmArena *a, guint64 addr,
                                AsmRange *out_segment,
                                AsmSegmentKind *out_kind);
ASM_AVAILABLE_IN_0_1
void asm_arena_get_stats (AsmArena *a, AsmArenaStats *out_stats);
ASM_AVAILABLE_IN_0_1
guint64 asm_arena_largest_free_within (AsmArena *a, guint64 min, guint64 max);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_arena_walk (AsmArena *a, AsmArenaWalkFunc func,
                         gpointer user_data);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_arena_check (AsmArena *a, GError **error);
ASM_AVAILABLE_IN_0_1
G_GNUC_WARN_UNUSED_RESULT
gboolean asm_arena_enable_cache (AsmArena *a, guint64 max_size,
                                 GError **error);
ASM_AVAILABLE_IN_0_1
gboolean asm_arena_get_cache_stats (AsmArena *a,
                                    AsmArenaCacheStats *out_stats);

/* A call of asm_arena_alloc_full() whose request the compiler knows to be
 * an ASM_FIT_INSTANT one with no phase, nocross or min goes to
 * asm_arena_alloc_instant(), which takes the same request in registers
 * (the same results and errors); any other call, one through a pointer,
 * or "(asm_arena_alloc_full) (...)" is the function itself.  Each
 * argument is evaluated once. */
#if defined(__GNUC__) && defined(__OPTIMIZE__) && !defined(__GI_SCANNER__) &&  \
    !defined(ASM_COMPILATION)
/* keeps the result's warn_unused_result through the macro */
G_GNUC_WARN_UNUSED_RESULT static inline gboolean
asm_arena_alloc_full_result_ (gboolean ok)
{
  return ok;
}
#define asm_arena_alloc_full(a, req, out_addr, error)                          \
  asm_arena_alloc_full_result_ (__extension__({                                \
    const AsmRequest *asm_req_ = (req);                                        \
    (asm_req_ != NULL && __builtin_constant_p (asm_req_->fit) &&               \
     asm_req_->fit == ASM_FIT_INSTANT &&                                       \
     __builtin_constant_p (asm_req_->phase | asm_req_->nocross |               \
                           asm_req_->min) &&                                   \
     (asm_req_->phase | asm_req_->nocross | asm_req_->min) == 0)               \
        ? asm_arena_alloc_instant ((a), asm_req_->size, asm_req_->align,       \
                                   asm_req_->max, (out_addr), (error))         \
        : (asm_arena_alloc_full) ((a), asm_req_, (out_addr), (error));         \
  }))
#endif

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AsmArena, asm_arena_unref)

G_END_DECLS
