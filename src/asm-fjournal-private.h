/* asm-fjournal-private.h: the fabric's journal file
 *
 * Not installed.  See the theory comment in asm-fjournal.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "asm-fjson-private.h"

G_BEGIN_DECLS

/* the journal format this asm writes and reads */
#define ASM_FJOURNAL_VERSION 2

typedef struct _FJournal FJournal;

/* Opens the journal at path for appending, creating it (with its header,
 * its directory synced) when it does not exist; checks every frame, cuts a
 * torn last record off, and sets *out_last_seq to the highest sequence
 * number in it (0 for none).  NULL with an error for a damaged or foreign
 * file. */
FJournal *asm_fjournal_open (const char *path, guint64 *out_last_seq,
                             GError **error);
/* The same over an AsmJournalStore; the journal calls @destroy on
 * store_data when closed, once asm_fjournal_set_destroy() has given it
 * (so a failed open leaves the data to its owner). */
FJournal *asm_fjournal_open_store (const AsmJournalStore *store,
                                   gpointer store_data,
                                   guint64 *out_last_seq, GError **error);
void asm_fjournal_set_destroy (FJournal *j, GDestroyNotify destroy);
/* The records of a store's journal, as asm_fjournal_read() gives them. */
GPtrArray *asm_fjournal_read_store (const AsmJournalStore *store,
                                    gpointer store_data, GError **error);
/* A store's snapshot (asm_fabric_checkpoint without a file). */
gboolean asm_fjournal_write_snapshot (FJournal *j, const char *text,
                                      gsize len, GError **error);
void asm_fjournal_close (FJournal *j);
const char *asm_fjournal_get_path (FJournal *j);
/* Appends one frame holding record (taken) to out. */
void asm_fjournal_frame (GString *out, JsonNode *record);
/* Writes frames with one write and syncs them; on error the file is as it
 * was before (or the journal refuses every later append). */
gboolean asm_fjournal_append (FJournal *j, const GString *frames,
                              GError **error);
/* The bytes of whole frames in the journal: where the next record goes. */
guint64 asm_fjournal_get_size (FJournal *j);
/* Cuts the journal back to `size` bytes (a value asm_fjournal_get_size()
 * gave, or a record's "offset" from the reader) and syncs: the records
 * after it are gone.  Cutting needs no space, so it works on a full disk. */
gboolean asm_fjournal_cut (FJournal *j, guint64 size, GError **error);
/* Cuts the journal back to its header (compaction after a checkpoint). */
gboolean asm_fjournal_reset (FJournal *j, GError **error);
/* The records (JsonNode objects, header excepted) of the journal at path,
 * each with an added member "offset", the byte where its frame starts;
 * a torn last record is dropped and reported with g_info(). */
GPtrArray *asm_fjournal_read (const char *path, GError **error);
/* The same over text in memory; *out_good: the bytes of whole frames. */
GPtrArray *asm_fjournal_parse (const char *text, gsize size,
                               const char *path, gsize *out_good,
                               GError **error);

G_END_DECLS
