/* asm-pmap.c: a persistent map from AsmId to shared objects
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * The fabric plans every change on a copy of its model and publishes the
 * copy when the change is applied, so the model must copy in O(1) and a
 * change must cost O(what it touches).  Its object tables (switches,
 * devices, workloads, partitions) are therefore persistent maps: 32-way
 * radix tries over the 32-bit id with path copying.
 *
 *   - A trie of height h holds keys below 32^h; the root grows a level when
 *     a larger key arrives (ids are dense and grow from 1, so h is
 *     ceil(log32(largest id)): 4 levels for a million objects).
 *   - Trie nodes are reference counted.  asm_pmap_clone() takes a
 *     reference on the root: O(1).  A write copies each shared node on its
 *     path (taking references on the children of the copy): O(32 h).
 *   - Values are reference-counted objects (AsmPObj header).  A node copy
 *     takes a reference on each value it holds, so a value reachable from
 *     two map versions has a count above 1.  asm_pmap_get_writable() makes
 *     the path exclusive and then copies the value if it is still shared:
 *     the caller may change the returned object without the other version
 *     seeing it.  Objects are copied only on write, one at a time.
 *   - Iteration is in key order, so everything built on it (JSON, dumps,
 *     placement ties) is deterministic.
 *
 * Locking: none.  A map version that nobody writes may be read from any
 * number of threads; versions may be written concurrently by different
 * threads (reference counts are atomic).
 */
#include "asm-pmap-private.h"

#include <string.h>

#define FANOUT 32
#define BITS 5

typedef struct PNode {
  gint ref;
  gpointer slot[FANOUT]; /* child nodes, or values at the last level */
} PNode;

struct _AsmPMap {
  PNode *root;   /* NULL when height == 0 */
  guint height;  /* levels; keys below 32^height */
  guint size;
  AsmPObjCopyFunc copy;
  AsmPObjFreeFunc free_func;
};

AsmPObj *
asm_pobj_ref (AsmPObj *obj)
{
  g_atomic_int_inc (&obj->ref);
  return obj;
}

void
asm_pobj_unref (AsmPObj *obj, AsmPObjFreeFunc free_func)
{
  if (obj != NULL && g_atomic_int_dec_and_test (&obj->ref))
    free_func (obj);
}

static void
pnode_unref (PNode *n, guint level, AsmPObjFreeFunc free_func)
{
  if (n == NULL || !g_atomic_int_dec_and_test (&n->ref))
    return;
  for (guint i = 0; i < FANOUT; i++)
    {
      if (n->slot[i] == NULL)
        continue;
      if (level == 1)
        asm_pobj_unref (n->slot[i], free_func);
      else
        pnode_unref (n->slot[i], level - 1, free_func);
    }
  g_free (n);
}

static PNode *
pnode_new (void)
{
  PNode *n = g_new0 (PNode, 1);
  n->ref = 1;
  return n;
}

/* an exclusive version of *slot (a node at `level`), stored back */
static PNode *
pnode_writable (AsmPMap *map, PNode **slot, guint level)
{
  PNode *n = *slot, *copy;

  if (n == NULL)
    return *slot = pnode_new ();
  if (g_atomic_int_get (&n->ref) == 1)
    return n;
  copy = g_new (PNode, 1);
  copy->ref = 1;
  memcpy (copy->slot, n->slot, sizeof copy->slot);
  for (guint i = 0; i < FANOUT; i++)
    if (copy->slot[i] != NULL)
      {
        if (level == 1)
          asm_pobj_ref (copy->slot[i]);
        else
          g_atomic_int_inc (&((PNode *) copy->slot[i])->ref);
      }
  /* usually just a decrement; frees the node if its other owners let go
   * meanwhile (the copy holds its own references on the children) */
  pnode_unref (n, level, map->free_func);
  return *slot = copy;
}

static inline guint
slot_index (guint32 key, guint level)
{
  return (key >> (BITS * (level - 1))) & (FANOUT - 1);
}

AsmPMap *
asm_pmap_new (AsmPObjCopyFunc copy, AsmPObjFreeFunc free_func)
{
  AsmPMap *m = g_new0 (AsmPMap, 1);
  m->copy = copy;
  m->free_func = free_func;
  return m;
}

AsmPMap *
asm_pmap_clone (const AsmPMap *map)
{
  AsmPMap *c = g_new (AsmPMap, 1);
  *c = *map;
  if (c->root != NULL)
    g_atomic_int_inc (&c->root->ref);
  return c;
}

void
asm_pmap_free (AsmPMap *map)
{
  if (map == NULL)
    return;
  pnode_unref (map->root, map->height, map->free_func);
  g_free (map);
}

guint
asm_pmap_size (const AsmPMap *map)
{
  return map->size;
}

static inline gboolean
key_fits (const AsmPMap *map, guint32 key)
{
  return map->height >= 7 || (key >> (BITS * map->height)) == 0;
}

AsmPObj *
asm_pmap_get (const AsmPMap *map, guint32 key)
{
  const PNode *n = map->root;

  if (n == NULL || !key_fits (map, key))
    return NULL;
  for (guint level = map->height; level > 1; level--)
    {
      n = n->slot[slot_index (key, level)];
      if (n == NULL)
        return NULL;
    }
  return n->slot[slot_index (key, 1)];
}

/* makes the path to key exclusive, growing the trie as needed; returns the
 * slot of the value */
static gpointer *
path_writable (AsmPMap *map, guint32 key)
{
  PNode *n;

  while (map->root == NULL || !key_fits (map, key))
    {
      PNode *root = pnode_new ();
      root->slot[0] = map->root;
      map->root = root;
      map->height++;
      if (root->slot[0] == NULL)
        {
          /* an empty map: start with one level */
          map->height = 1;
        }
    }
  n = pnode_writable (map, &map->root, map->height);
  for (guint level = map->height; level > 1; level--)
    n = pnode_writable (map, (PNode **) &n->slot[slot_index (key, level)],
                        level - 1);
  return &n->slot[slot_index (key, 1)];
}

AsmPObj *
asm_pmap_get_writable (AsmPMap *map, guint32 key)
{
  gpointer *slot;
  AsmPObj *v;

  if (asm_pmap_get (map, key) == NULL)
    return NULL;
  slot = path_writable (map, key);
  v = *slot;
  if (g_atomic_int_get (&v->ref) != 1)
    {
      AsmPObj *copy = map->copy (v);
      copy->ref = 1;
      asm_pobj_unref (v, map->free_func);
      *slot = v = copy;
    }
  return v;
}

void
asm_pmap_insert (AsmPMap *map, guint32 key, AsmPObj *value)
{
  gpointer *slot = path_writable (map, key);

  if (*slot == NULL)
    map->size++;
  else
    asm_pobj_unref (*slot, map->free_func);
  *slot = value;
}

void
asm_pmap_remove (AsmPMap *map, guint32 key)
{
  gpointer *slot;

  if (asm_pmap_get (map, key) == NULL)
    return;
  slot = path_writable (map, key);
  asm_pobj_unref (*slot, map->free_func);
  *slot = NULL;
  map->size--;
}

static gboolean
foreach_node (const PNode *n, guint level, guint32 prefix,
              AsmPMapForeachFunc func, gpointer user_data)
{
  for (guint i = 0; i < FANOUT; i++)
    {
      guint32 key = prefix | ((guint32) i << (BITS * (level - 1)));
      if (n->slot[i] == NULL)
        continue;
      if (level == 1)
        {
          if (!func (key, n->slot[i], user_data))
            return FALSE;
        }
      else if (!foreach_node (n->slot[i], level - 1, key, func, user_data))
        return FALSE;
    }
  return TRUE;
}

gboolean
asm_pmap_foreach (const AsmPMap *map, AsmPMapForeachFunc func,
                  gpointer user_data)
{
  if (map->root == NULL)
    return TRUE;
  return foreach_node (map->root, map->height, 0, func, user_data);
}

static gboolean
collect_key (guint32 key, AsmPObj *value, gpointer user_data)
{
  g_array_append_val ((GArray *) user_data, key);
  return TRUE;
}

GArray *
asm_pmap_keys (const AsmPMap *map)
{
  GArray *keys = g_array_sized_new (FALSE, FALSE, sizeof (guint32), map->size);
  asm_pmap_foreach (map, collect_key, keys);
  return keys;
}
