/* floor-peer.h: the least a thread-safe exact free by address costs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See floor-peer.c.  Not an allocator: a measuring stick for bench-peers.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _FloorPeer FloorPeer;

/* pages of 1 .. FLOOR_PEER_MAX_PAGES, handed out from first_pfn up */
#define FLOOR_PEER_MAX_PAGES 64

FloorPeer *floor_peer_new (guint64 first_pfn);
void floor_peer_destroy (FloorPeer *f);

/* a size-aligned run of pages (1 .. FLOOR_PEER_MAX_PAGES) */
guint64 floor_peer_alloc (FloorPeer *f, guint64 pages);

/* FALSE when no run starts at pfn or it was freed already */
gboolean floor_peer_free (FloorPeer *f, guint64 pfn);

G_END_DECLS
