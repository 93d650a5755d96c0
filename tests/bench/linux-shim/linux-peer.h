/* linux-peer.h: Linux 6.12's IOVA allocator (drivers/iommu/iova.c, built
 * from Debian's linux-source-6.12 with linux-shim.h) behind plain C types,
 * so that a benchmark can call it without seeing any kernel header
 *
 * Units are page frame numbers (pfn) of the domain's granule; ranges are
 * inclusive, as in iova.c.  0 is never a valid pfn (a domain starts at
 * start_pfn >= 1), so the allocation calls return 0 on failure.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef LINUX_PEER_H
#define LINUX_PEER_H

#include <stdbool.h>

typedef struct LinuxPeer LinuxPeer;

/* init_iova_domain (granule, start_pfn), and iova_domain_init_rcaches()
 * when rcache (needed by the _fast calls); NULL if out of memory */
LinuxPeer *linux_peer_new (unsigned long granule, unsigned long start_pfn,
                           bool rcache);
/* put_iova_domain (); NULL-safe */
void linux_peer_destroy (LinuxPeer *p);

/* alloc_iova (size, limit_pfn, size_aligned): the lowest pfn of the new
 * range, or 0 */
unsigned long linux_peer_alloc (LinuxPeer *p, unsigned long pages,
                                unsigned long limit_pfn, bool size_aligned);
/* free_iova (pfn): find the range that holds pfn and free it */
void linux_peer_free (LinuxPeer *p, unsigned long pfn);
/* alloc_iova_fast (size, limit_pfn, flush_rcache), or 0 */
unsigned long linux_peer_alloc_fast (LinuxPeer *p, unsigned long pages,
                                     unsigned long limit_pfn,
                                     bool flush_rcache);
/* free_iova_fast (pfn, size) */
void linux_peer_free_fast (LinuxPeer *p, unsigned long pfn,
                           unsigned long pages);
/* reserve_iova (lo, hi); false if out of memory */
bool linux_peer_reserve (LinuxPeer *p, unsigned long pfn_lo,
                         unsigned long pfn_hi);
/* find_iova (pfn): true and the range's bounds if a range holds pfn */
bool linux_peer_find (LinuxPeer *p, unsigned long pfn, unsigned long *lo,
                      unsigned long *hi);

/* the calling thread's CPU slot for the per-CPU rcaches (< ncpus) */
void linux_peer_set_cpu (unsigned int cpu);
unsigned int linux_peer_ncpus (void);
/* WARN_ON()s that fired (a wrong answer), delayed works requested */
unsigned long linux_peer_warnings (void);
unsigned long linux_peer_work_scheduled (void);
/* "6.12.118": the version of the tarball the build extracted */
const char *linux_peer_version (void);

#endif /* LINUX_PEER_H */
