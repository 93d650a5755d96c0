/* linux-shim.h: just enough of the kernel's environment, in user space, to
 * compile Linux's drivers/iommu/iova.c and lib/rbtree.c unchanged
 *
 * This file is the project's own code, written from the documented
 * behaviour of the kernel interfaces that those two files call; it contains
 * no kernel code.  The kernel sources themselves are never in this
 * repository: the build extracts them from Debian's linux-source-6.12
 * package into the build directory (see tests/bench/meson.build).  Every
 * <linux/...> header that iova.c and rbtree.c include, other than iova.h and
 * the rbtree headers (which come from the package), is a stub in
 * linux-shim/linux/ that includes this one.
 *
 * What each kernel facility becomes:
 *   spinlock_t        a test-and-test-and-set lock on one int (acquire on
 *                     lock, release on unlock), as cheap as the kernel's
 *                     uncontended qspinlock; the _irqsave variants ignore
 *                     flags (there are no interrupts here)
 *   struct mutex      a pthread mutex
 *   per-CPU data      linux_shim_ncpus() slots of SHIM_PERCPU_STRIDE bytes;
 *                     "the current CPU" is the calling thread's slot, set
 *                     with linux_shim_set_cpu() (0 unless set).  Two
 *                     threads may share a slot: the per-CPU locks of iova.c
 *                     keep that correct, only slower
 *   kmem_cache, kmalloc  malloc/calloc/free (glibc's per-thread tcache plays
 *                     the part of the slab's per-CPU freelists)
 *   BUG_ON            print and abort()
 *   WARN_ON           print, count (linux_shim_warnings(), which the bench
 *                     treats as a wrong answer) and go on
 *   delayed work      never runs: schedule_delayed_work() only counts.  In
 *                     the kernel, iova.c's depot worker returns magazines
 *                     beyond one per CPU to the tree 100 ms later; a
 *                     benchmark's balanced churn keeps the depot small, and
 *                     the count is printed so that a reader can tell
 *   CPU hotplug       registration succeeds and nothing is ever called
 *   kmemleak, modules, symbol exports  nothing
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LINUX_SHIM_H
#define LINUX_SHIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------ types, compiler */

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;
typedef int64_t s64;
typedef u64 dma_addr_t;
typedef u64 phys_addr_t;
typedef unsigned int gfp_t;

#define ULLONG_MAX (~0ULL)
#define ENOMEM 12
#define ENOTSUPP 524

#define likely(x) __builtin_expect (!!(x), 1)
#define unlikely(x) __builtin_expect (!!(x), 0)
#ifndef __always_inline
#define __always_inline inline __attribute__ ((__always_inline__))
#endif
#define __percpu
#define __must_check __attribute__ ((__warn_unused_result__))

/* one access, not torn, not elided or repeated by the compiler */
#define READ_ONCE(x) (*(const volatile __typeof__ (x) *) &(x))
#define WRITE_ONCE(x, val)                                                    \
  do                                                                          \
    {                                                                         \
      *(volatile __typeof__ (x) *) &(x) = (val);                              \
    }                                                                         \
  while (0)

/* RCU publication: a release store; readers here never run concurrently
 * with writers outside the tree lock, so a plain acquire load serves */
#define rcu_assign_pointer(p, v) __atomic_store_n (&(p), (v), __ATOMIC_RELEASE)
#define rcu_dereference_raw(p) __atomic_load_n (&(p), __ATOMIC_ACQUIRE)

#define container_of(ptr, type, member)                                       \
  ((type *) (void *) ((char *) (ptr) - offsetof (type, member)))

#define SHIM_SA_(e, m, ...) _Static_assert (e, m)
#define static_assert(...) SHIM_SA_ (__VA_ARGS__, #__VA_ARGS__)

/* ----------------------------------------------------------- arithmetic */

#define min(a, b)                                                             \
  ({                                                                          \
    __typeof__ (a) shim_a_ = (a);                                             \
    __typeof__ (b) shim_b_ = (b);                                             \
    shim_a_ < shim_b_ ? shim_a_ : shim_b_;                                    \
  })
#define max(a, b)                                                             \
  ({                                                                          \
    __typeof__ (a) shim_a_ = (a);                                             \
    __typeof__ (b) shim_b_ = (b);                                             \
    shim_a_ > shim_b_ ? shim_a_ : shim_b_;                                    \
  })
#define swap(a, b)                                                            \
  do                                                                          \
    {                                                                         \
      __typeof__ (a) shim_t_ = (a);                                           \
      (a) = (b);                                                              \
      (b) = shim_t_;                                                          \
    }                                                                         \
  while (0)

#define ALIGN(x, a) (((x) + ((a) - 1)) & ~((__typeof__ (x)) (a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__ (x)) (a) - 1))

/* the number of the most significant set bit, counting from 1; 0 for 0 */
static inline unsigned int
fls_long (unsigned long x)
{
  return x ? (unsigned int) (8 * sizeof x - __builtin_clzl (x)) : 0;
}

/* the index of the least significant set bit (x != 0) */
static inline unsigned long
__ffs (unsigned long x)
{
  return (unsigned long) __builtin_ctzl (x);
}

static inline bool
is_power_of_2 (unsigned long n)
{
  return n != 0 && (n & (n - 1)) == 0;
}

/* the smallest power of two >= n (n >= 1) */
static inline unsigned long
roundup_pow_of_two (unsigned long n)
{
  return 1UL << fls_long (n - 1);
}

/* ceil (log2 (n)); 0 for n <= 1 */
#define order_base_2(n) ((n) > 1 ? fls_long ((unsigned long) (n) - 1) : 0)

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)

#define IS_ENABLED(option) 1
#define IS_REACHABLE(option) 1 /* all of it is linked into the benchmark */

/* ------------------------------------------------------ BUG, WARN, print */

extern unsigned long linux_shim_warn_count;

#define BUG_ON(cond)                                                          \
  do                                                                          \
    {                                                                         \
      if (unlikely (cond))                                                    \
        {                                                                     \
          fprintf (stderr, "linux-shim: BUG_ON (%s) at %s:%d\n", #cond,       \
                   __FILE__, __LINE__);                                       \
          abort ();                                                           \
        }                                                                     \
    }                                                                         \
  while (0)
#define BUG() BUG_ON (1)

#define WARN_ON(cond)                                                         \
  ({                                                                          \
    bool shim_w_ = !!(cond);                                                  \
    if (unlikely (shim_w_))                                                   \
      {                                                                       \
        __atomic_add_fetch (&linux_shim_warn_count, 1, __ATOMIC_RELAXED);     \
        fprintf (stderr, "linux-shim: WARN_ON (%s) at %s:%d\n", #cond,        \
                 __FILE__, __LINE__);                                         \
      }                                                                       \
    shim_w_;                                                                  \
  })

#define pr_err(...) fprintf (stderr, __VA_ARGS__)
#define pr_warn(...) fprintf (stderr, __VA_ARGS__)
#define ERR_PTR(err) ((void *) (long) (err))

/* ------------------------------------------------ modules, exports, leaks */

#define EXPORT_SYMBOL(sym) extern __typeof__ (sym) sym
#define EXPORT_SYMBOL_GPL(sym) extern __typeof__ (sym) sym
#define MODULE_AUTHOR(s) extern int linux_shim_module_info_
#define MODULE_DESCRIPTION(s) extern int linux_shim_module_info_
#define MODULE_LICENSE(s) extern int linux_shim_module_info_
#define kmemleak_transient_leak(ptr) ((void) (ptr))

/* ---------------------------------------------------------------- locks */

typedef struct {
  int locked; /* 0 free, 1 held */
} spinlock_t;

static inline void
spin_lock_init (spinlock_t *l)
{
  __atomic_store_n (&l->locked, 0, __ATOMIC_RELAXED);
}

static inline void
spin_lock (spinlock_t *l)
{
  while (__atomic_exchange_n (&l->locked, 1, __ATOMIC_ACQUIRE))
    while (__atomic_load_n (&l->locked, __ATOMIC_RELAXED))
      {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause ();
#endif
      }
}

static inline void
spin_unlock (spinlock_t *l)
{
  __atomic_store_n (&l->locked, 0, __ATOMIC_RELEASE);
}

#define spin_lock_irqsave(l, flags)                                           \
  do                                                                          \
    {                                                                         \
      (flags) = 0;                                                            \
      spin_lock (l);                                                          \
    }                                                                         \
  while (0)
#define spin_unlock_irqrestore(l, flags)                                      \
  do                                                                          \
    {                                                                         \
      (void) (flags);                                                         \
      spin_unlock (l);                                                        \
    }                                                                         \
  while (0)
/* what a kernel without lockdep does too: check that someone holds it */
#define assert_spin_locked(l)                                                 \
  BUG_ON (!__atomic_load_n (&(l)->locked, __ATOMIC_RELAXED))

struct mutex {
  pthread_mutex_t m;
};
#define DEFINE_MUTEX(name) struct mutex name = { PTHREAD_MUTEX_INITIALIZER }
#define mutex_lock(x) pthread_mutex_lock (&(x)->m)
#define mutex_unlock(x) pthread_mutex_unlock (&(x)->m)

/* ---------------------------------------------------------------- CPUs */

/* Slots per per-CPU allocation: the number of online processors (at most
 * SHIM_MAX_CPUS), read once. */
#define SHIM_MAX_CPUS 64
#define SHIM_PERCPU_STRIDE 128 /* no two slots share a cache line pair */

unsigned int linux_shim_ncpus (void);
extern __thread unsigned int linux_shim_this_cpu;

#define num_online_cpus() linux_shim_ncpus ()
#define for_each_possible_cpu(cpu)                                            \
  for ((cpu) = 0; (cpu) < linux_shim_ncpus (); (cpu)++)
#define for_each_online_cpu(cpu) for_each_possible_cpu (cpu)
#define cache_line_size() 64

void *__alloc_percpu (size_t size, size_t align);
void free_percpu (void *ptr);
#define per_cpu_ptr(ptr, cpu)                                                 \
  ((__typeof__ (ptr)) (void *) ((char *) (ptr)                                \
                                + (size_t) (cpu) * SHIM_PERCPU_STRIDE))
#define raw_cpu_ptr(ptr) per_cpu_ptr (ptr, linux_shim_this_cpu)

/* CPU hotplug: registration succeeds; no CPU ever goes away */
struct hlist_node {
  struct hlist_node *next, **pprev;
};
#define hlist_entry_safe(ptr, type, member)                                   \
  ({                                                                          \
    __typeof__ (ptr) shim_p_ = (ptr);                                         \
    shim_p_ ? container_of (shim_p_, type, member) : NULL;                    \
  })
enum cpuhp_state {
  CPUHP_IOMMU_IOVA_DEAD = 1,
};
static inline int
cpuhp_setup_state_multi (enum cpuhp_state state, const char *name,
                         int (*startup) (unsigned int, struct hlist_node *),
                         int (*teardown) (unsigned int, struct hlist_node *))
{
  (void) state, (void) name, (void) startup, (void) teardown;
  return 0;
}

static inline void
cpuhp_remove_multi_state (enum cpuhp_state state)
{
  (void) state;
}

static inline int
cpuhp_state_add_instance_nocalls (enum cpuhp_state state,
                                  struct hlist_node *node)
{
  (void) state, (void) node;
  return 0;
}

static inline int
cpuhp_state_remove_instance_nocalls (enum cpuhp_state state,
                                     struct hlist_node *node)
{
  (void) state, (void) node;
  return 0;
}

/* -------------------------------------------------------------- memory */

#define GFP_KERNEL 0u
#define GFP_ATOMIC 1u
#define __GFP_NOWARN 2u
#define SLAB_HWCACHE_ALIGN 1u

struct kmem_cache {
  size_t size;
};

static inline struct kmem_cache *
kmem_cache_create (const char *name, unsigned int size, unsigned int align,
                   unsigned int flags, void (*ctor) (void *))
{
  struct kmem_cache *c = malloc (sizeof *c);

  (void) name, (void) align, (void) flags, (void) ctor;
  if (c)
    c->size = size;
  return c;
}

static inline void
kmem_cache_destroy (struct kmem_cache *c)
{
  free (c);
}

static inline void *
kmem_cache_alloc (struct kmem_cache *c, gfp_t flags)
{
  (void) flags;
  return malloc (c->size);
}

static inline void *
kmem_cache_zalloc (struct kmem_cache *c, gfp_t flags)
{
  (void) flags;
  return calloc (1, c->size);
}

static inline void
kmem_cache_free (struct kmem_cache *c, void *p)
{
  (void) c;
  free (p);
}

#define kmalloc(size, flags) ((void) (flags), malloc (size))
#define kzalloc(size, flags) ((void) (flags), calloc (1, (size)))
#define kcalloc(n, size, flags) ((void) (flags), calloc ((n), (size)))
#define kfree(p) free (p)

/* ------------------------------------------------------ delayed work */

struct work_struct;
typedef void (*work_func_t) (struct work_struct *work);
struct work_struct {
  work_func_t func;
};
struct delayed_work {
  struct work_struct work;
};

extern unsigned long linux_shim_work_scheduled;

#define msecs_to_jiffies(ms) ((unsigned long) (ms))
#define INIT_DELAYED_WORK(dw, fn) ((dw)->work.func = (fn))
/* counted, never run (see the top of this file) */
static inline bool
schedule_delayed_work (struct delayed_work *dw, unsigned long delay)
{
  (void) dw, (void) delay;
  __atomic_add_fetch (&linux_shim_work_scheduled, 1, __ATOMIC_RELAXED);
  return true;
}

static inline bool
cancel_delayed_work_sync (struct delayed_work *dw)
{
  (void) dw;
  return false;
}

#endif /* LINUX_SHIM_H */
