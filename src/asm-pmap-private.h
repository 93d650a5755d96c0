/* asm-pmap-private.h: a persistent map from AsmId to shared objects
 *
 * Not installed.  See the theory comment in asm-pmap.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _AsmPMap AsmPMap;

/* A value stored in the map: any struct that starts with this header. */
typedef struct {
  gint ref;
} AsmPObj;

typedef AsmPObj *(*AsmPObjCopyFunc) (const AsmPObj *obj);
typedef void (*AsmPObjFreeFunc) (AsmPObj *obj);
typedef gboolean (*AsmPMapForeachFunc) (guint32 key, AsmPObj *value,
                                        gpointer user_data);

AsmPMap *asm_pmap_new (AsmPObjCopyFunc copy, AsmPObjFreeFunc free_func);
AsmPMap *asm_pmap_clone (const AsmPMap *map);
void asm_pmap_free (AsmPMap *map);
guint asm_pmap_size (const AsmPMap *map);
AsmPObj *asm_pmap_get (const AsmPMap *map, guint32 key);
AsmPObj *asm_pmap_get_writable (AsmPMap *map, guint32 key);
void asm_pmap_insert (AsmPMap *map, guint32 key, AsmPObj *value);
void asm_pmap_remove (AsmPMap *map, guint32 key);
gboolean asm_pmap_foreach (const AsmPMap *map, AsmPMapForeachFunc func,
                           gpointer user_data);
GArray *asm_pmap_keys (const AsmPMap *map);

AsmPObj *asm_pobj_ref (AsmPObj *obj);
void asm_pobj_unref (AsmPObj *obj, AsmPObjFreeFunc free_func);

G_END_DECLS
