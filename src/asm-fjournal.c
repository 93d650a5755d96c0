/* asm-fjournal.c: the fabric's journal file: framed, checksummed, synced
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Theory
 * ======
 *
 * The journal is a write-ahead log, as SQLite's and etcd's are: a record
 * is durable before the hardware step it describes runs, and an operation
 * is reported committed only once its "commit" record is durable.  The
 * file is a sequence of frames, one per line so that it stays readable:
 *
 *     LLLLLLLL CCCCCCCC {json}\n
 *
 * L is the byte length of the JSON text, C its CRC-32 (zlib's), both as 8
 * lower-case hex digits.  The first frame is the header
 * {"journal": "asm-fabric", "version": 2}; the others are records
 * {"seq": N, "type": "begin" | "step" | "commit" | "undone", "data": ...}
 * (asm-ftxn.c writes them, asm-fsave.c reads them back).
 *
 * Writing.  asm_fjournal_append() writes a batch of frames with one
 * write() (repeated only for a short write) and then fdatasync()s it; the
 * file's directory is fsync()ed once when the file is created.  A write or
 * sync error fails the append: the file is cut back to its length before
 * it (so no torn frame stays behind for the next append to follow) and the
 * caller fails its operation.  If even that cut fails, the journal is
 * marked failed and refuses every append until it is opened again.
 * ASM_FABRIC_JOURNAL_NO_SYNC=1 in the environment skips the syncs: for
 * tests that measure or hammer the journal only, never for real use.
 *
 * Reading.  asm_fjournal_read() checks every frame.  A frame that is cut
 * short, or whose checksum or JSON is wrong, is a torn tail when it reaches
 * the end of the file (what a crash in the middle of a write, or a full
 * disk, leaves); it is dropped and reported.  A bad frame followed by more
 * bytes is damage, and an error.  Opening for appending
 * (asm_fjournal_open) cuts a torn tail off the file, so new records never
 * follow garbage, and reports the last sequence number, so they never
 * reuse one.  A file without the header is refused (version 1 journals
 * were bare JSON lines).
 *
 * Stores.  A journal may live elsewhere than in a file
 * (asm_fabric_set_journal_store): the same frames go to an AsmJournalStore,
 * which keeps bytes (read, append at its end, truncate, all durable).  The
 * framing, checks, torn-tail handling and sequence numbers are the same;
 * a store's append either takes all its bytes or none.
 *
 * Costs: an append is one write and one fdatasync (the sync dominates: it
 * waits for the disk); reading is O(file).  Compaction
 * (asm_fjournal_reset) cuts the file back to its header after a
 * checkpoint.
 */
#include "asm-fjournal-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define FRAME_PREFIX 18 /* "LLLLLLLL CCCCCCCC " */
#define MAX_RECORD (G_GUINT64_CONSTANT (64) << 20)

struct _FJournal {
  int fd;          /* the file, or -1 when a store holds the journal */
  char *path;      /* the file's path, or a name for messages */
  AsmJournalStore store; /* a store's functions (read is NULL for a file) */
  gpointer store_data;
  GDestroyNotify store_destroy;
  guint64 size;    /* bytes of whole frames */
  gboolean sync;
  gboolean failed; /* a failed append could not be cut back */
};

#define IS_STORE(j) ((j)->fd < 0)

/* A store's error as the journal reports it: asm's codes pass (FENCED
 * above all, which the transaction must see), anything else is FAILED. */
static gboolean
store_failed (FJournal *j, GError *err, const char *what, GError **error)
{
  if (err != NULL && err->domain == ASM_ERROR)
    g_propagate_prefixed_error (error, err, "journal store: %s: ", what);
  else
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                   "journal store: %s: %s", what,
                   err ? err->message : "failed without a reason");
      g_clear_error (&err);
    }
  return FALSE;
}

static gboolean
want_sync (void)
{
  return g_strcmp0 (g_getenv ("ASM_FABRIC_JOURNAL_NO_SYNC"), "1") != 0;
}

static guint32
crc_of (const char *text, gsize len)
{
  return (guint32) crc32 (crc32 (0L, Z_NULL, 0), (const Bytef *) text,
                          (uInt) len);
}

void
asm_fjournal_frame (GString *out, JsonNode *record)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;
  gsize len;

  json_generator_set_root (gen, record);
  text = json_generator_to_data (gen, &len);
  json_node_unref (record);
  g_string_append_printf (out, "%08x %08x ", (guint) len, crc_of (text, len));
  g_string_append_len (out, text, (gssize) len);
  g_string_append_c (out, '\n');
}

static JsonNode *
header_record (void)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "journal");
  json_builder_add_string_value (b, "asm-fabric");
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, ASM_FJOURNAL_VERSION);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static gboolean
fail_errno (GError **error, int e, const char *what, const char *path)
{
  g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED, "journal '%s': %s: %s",
               path, what, g_strerror (e));
  return FALSE;
}

/* one frame at text[*pos]: its record, or NULL when it is bad (*why says
 * how, *reaches_end whether it runs to the end of the text) */
static JsonNode *
frame_at (const char *text, gsize size, gsize *pos, const char **why,
          gboolean *reaches_end, GError **error)
{
  const char *p = text + *pos;
  gsize left = size - *pos;
  guint64 len, crc;
  char *end;
  g_autoptr (JsonParser) parser = NULL;
  char hex[9];

  *reaches_end = TRUE;
  if (left < FRAME_PREFIX)
    {
      *why = "a frame cut short";
      return NULL;
    }
  memcpy (hex, p, 8);
  hex[8] = '\0';
  len = g_ascii_strtoull (hex, &end, 16);
  if (*end != '\0' || p[8] != ' ' || p[17] != ' ' || len > MAX_RECORD)
    {
      *why = "a frame without a valid length";
      *reaches_end = FALSE;
      return NULL;
    }
  memcpy (hex, p + 9, 8);
  crc = g_ascii_strtoull (hex, &end, 16);
  if (*end != '\0')
    {
      *why = "a frame without a valid checksum";
      *reaches_end = FALSE;
      return NULL;
    }
  if (left < FRAME_PREFIX + len + 1)
    {
      *why = "a frame cut short";
      return NULL;
    }
  *reaches_end = left == FRAME_PREFIX + len + 1;
  if (p[FRAME_PREFIX + len] != '\n' ||
      crc_of (p + FRAME_PREFIX, (gsize) len) != (guint32) crc)
    {
      *why = "a frame whose checksum does not match";
      return NULL;
    }
  if (!asm_fjson_check_depth (p + FRAME_PREFIX, (gsize) len,
                              ASM_FJSON_MAX_DEPTH, error))
    return NULL;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, p + FRAME_PREFIX, (gssize) len,
                                   NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      *why = "a frame that is not a JSON object";
      return NULL;
    }
  *pos += FRAME_PREFIX + len + 1;
  return json_node_copy (json_parser_get_root (parser));
}

static gboolean
is_header (JsonNode *n)
{
  JsonObject *o = json_node_get_object (n);
  return g_strcmp0 (json_object_get_string_member_with_default (o, "journal",
                                                                NULL),
                    "asm-fabric") == 0 &&
         json_object_get_int_member_with_default (o, "version", 0) ==
             ASM_FJOURNAL_VERSION;
}

GPtrArray *
asm_fjournal_parse (const char *text, gsize size, const char *path,
                    gsize *out_good, GError **error)
{
  g_autoptr (GPtrArray) records = g_ptr_array_new_with_free_func (
      (GDestroyNotify) json_node_unref);
  gsize pos = 0;
  guint n = 0;

  while (pos < size)
    {
      const char *why = NULL;
      gboolean reaches_end = FALSE;
      GError *err = NULL;
      gsize at = pos;
      JsonNode *rec = frame_at (text, size, &pos, &why, &reaches_end, &err);

      if (err != NULL)
        {
          g_propagate_prefixed_error (error, err, "journal '%s', record %u: ",
                                      path, n + 1);
          return NULL;
        }
      if (rec == NULL)
        {
          if (reaches_end && n == 0 && text[0] != '{')
            {
              /* a header cut short: the file was being created */
              pos = 0;
              break;
            }
          if (reaches_end && n > 0)
            {
              g_info ("journal '%s': %" G_GSIZE_FORMAT " bytes of a torn "
                      "last record (%s) dropped", path, size - at, why);
              pos = at;
              break;
            }
          if (n == 0 && at == 0 && size > 0 && text[0] == '{')
            g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                         "journal '%s' is a version 1 journal (bare JSON "
                         "lines), which is no longer read: finish it with the "
                         "asm that wrote it, then save", path);
          else
            g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                         "journal '%s' is damaged at byte %" G_GSIZE_FORMAT
                         " (record %u): %s", path, at, n + 1, why);
          return NULL;
        }
      if (n == 0)
        {
          if (!is_header (rec))
            {
              json_node_unref (rec);
              g_set_error (error, ASM_ERROR, ASM_ERROR_PARSE,
                           "journal '%s' does not start with the header of an "
                           "asm-fabric journal of version %d", path,
                           ASM_FJOURNAL_VERSION);
              return NULL;
            }
          json_node_unref (rec);
        }
      else
        {
          json_object_set_int_member (json_node_get_object (rec), "offset",
                                      (gint64) at);
          g_ptr_array_add (records, rec);
        }
      n++;
    }
  if (out_good != NULL)
    *out_good = pos;
  return g_steal_pointer (&records);
}

GPtrArray *
asm_fjournal_read (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) err = NULL;
  gsize size;

  if (!g_file_get_contents (path, &text, &size, &err))
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                   "cannot read journal: %s", err->message);
      return NULL;
    }
  return asm_fjournal_parse (text, size, path, NULL, error);
}

static gboolean
sync_dir_of (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int e;

  if (fd < 0)
    return fail_errno (error, errno, "cannot open its directory", path);
  if (fsync (fd) != 0)
    {
      e = errno;
      close (fd);
      return fail_errno (error, e, "cannot sync its directory", path);
    }
  close (fd);
  return TRUE;
}

static gboolean
write_all (int fd, const char *data, gsize len, int *out_errno)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          *out_errno = n < 0 ? errno : ENOSPC;
          return FALSE;
        }
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

/* The highest "seq" among the parsed records of a journal, 0 when none
 * has one: where a reopened journal, file or store, goes on counting. */
static guint64
records_last_seq (GPtrArray *recs)
{
  guint64 last = 0;

  for (guint i = 0; i < recs->len; i++)
    {
      JsonObject *o = json_node_get_object (recs->pdata[i]);
      gint64 seq = json_object_get_int_member_with_default (o, "seq", 0);
      if (seq > 0 && (guint64) seq > last)
        last = (guint64) seq;
    }
  return last;
}

FJournal *
asm_fjournal_open (const char *path, guint64 *out_last_seq, GError **error)
{
  FJournal *j;
  struct stat st;
  gboolean created = FALSE;
  int fd;

  fd = open (path, O_RDWR | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    {
      /* not O_EXCL: path may be a symbolic link to a file to create */
      fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      created = TRUE;
    }
  if (fd < 0)
    {
      fail_errno (error, errno, "cannot open", path);
      return NULL;
    }
  j = g_new0 (FJournal, 1);
  j->fd = fd;
  j->path = g_strdup (path);
  j->sync = want_sync ();
  *out_last_seq = 0;
  if (fstat (fd, &st) != 0)
    {
      fail_errno (error, errno, "cannot stat", path);
      asm_fjournal_close (j);
      return NULL;
    }
  if (st.st_size > 0)
    {
      g_autofree char *text = g_malloc ((gsize) st.st_size);
      g_autoptr (GPtrArray) recs = NULL;
      gsize good = 0;
      ssize_t n = pread (fd, text, (gsize) st.st_size, 0);

      if (n != st.st_size)
        {
          fail_errno (error, n < 0 ? errno : EIO, "cannot read", path);
          asm_fjournal_close (j);
          return NULL;
        }
      recs = asm_fjournal_parse (text, (gsize) st.st_size, path, &good,
                                 error);
      if (recs == NULL)
        {
          asm_fjournal_close (j);
          return NULL;
        }
      *out_last_seq = records_last_seq (recs);
      if (good < (gsize) st.st_size &&
          (ftruncate (fd, (off_t) good) != 0 ||
           (j->sync && fdatasync (fd) != 0)))
        {
          fail_errno (error, errno, "cannot cut off its torn last record",
                      path);
          asm_fjournal_close (j);
          return NULL;
        }
      j->size = good;
    }
  if (j->size == 0)
    {
      g_autoptr (GString) head = g_string_new (NULL);
      int e = 0;
      asm_fjournal_frame (head, header_record ());
      if (!write_all (fd, head->str, head->len, &e) ||
          (j->sync && fdatasync (fd) != 0 && (e = errno)) ||
          (created && j->sync && !sync_dir_of (path, error)))
        {
          if (e != 0)
            fail_errno (error, e, "cannot write its header", path);
          if (created)
            unlink (path);
          asm_fjournal_close (j);
          return NULL;
        }
      j->size = head->len;
    }
  return j;
}

void
asm_fjournal_close (FJournal *j)
{
  if (j == NULL)
    return;
  if (j->fd >= 0)
    close (j->fd);
  if (IS_STORE (j) && j->store_destroy != NULL)
    j->store_destroy (j->store_data);
  g_free (j->path);
  g_free (j);
}

FJournal *
asm_fjournal_open_store (const AsmJournalStore *store, gpointer store_data,
                         guint64 *out_last_seq, GError **error)
{
  g_autoptr (GBytes) contents = NULL;
  g_autoptr (GPtrArray) recs = NULL;
  GError *err = NULL;
  FJournal *j;
  gsize len = 0, good = 0;
  const char *text;

  j = g_new0 (FJournal, 1);
  j->fd = -1;
  j->path = g_strdup ("(store)");
  j->store = *store;
  j->store_data = store_data;
  *out_last_seq = 0;
  if (!store->read (store_data, &contents, &err))
    {
      store_failed (j, err, "cannot read it", error);
      asm_fjournal_close (j);
      return NULL;
    }
  text = contents ? g_bytes_get_data (contents, &len) : NULL;
  if (len > 0)
    {
      recs = asm_fjournal_parse (text, len, j->path, &good, error);
      if (recs == NULL)
        {
          asm_fjournal_close (j);
          return NULL;
        }
      *out_last_seq = records_last_seq (recs);
      if (good < len && !store->truncate (store_data, good, &err))
        {
          store_failed (j, err, "cannot cut off its torn last record", error);
          asm_fjournal_close (j);
          return NULL;
        }
      j->size = good;
    }
  if (j->size == 0)
    {
      g_autoptr (GString) head = g_string_new (NULL);
      asm_fjournal_frame (head, header_record ());
      if (!store->append (store_data, 0, head->str, head->len, &err))
        {
          store_failed (j, err, "cannot write its header", error);
          asm_fjournal_close (j);
          return NULL;
        }
      j->size = head->len;
    }
  return j;
}

void
asm_fjournal_set_destroy (FJournal *j, GDestroyNotify destroy)
{
  j->store_destroy = destroy;
}

GPtrArray *
asm_fjournal_read_store (const AsmJournalStore *store, gpointer store_data,
                         GError **error)
{
  g_autoptr (GBytes) contents = NULL;
  GError *err = NULL;
  gsize len = 0;
  const char *text;

  if (!store->read (store_data, &contents, &err))
    {
      FJournal dummy = { .fd = -1 };
      store_failed (&dummy, err, "cannot read it", error);
      return NULL;
    }
  text = contents ? g_bytes_get_data (contents, &len) : "";
  return asm_fjournal_parse (text, len, "(store)", NULL, error);
}

const char *
asm_fjournal_get_path (FJournal *j)
{
  return j->path;
}

gboolean
asm_fjournal_write_snapshot (FJournal *j, const char *text, gsize len,
                             GError **error)
{
  GError *err = NULL;

  if (!IS_STORE (j) || j->store.write_snapshot == NULL)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                   "checkpoint: no snapshot file was given and the journal "
                   "%s", IS_STORE (j) ? "store cannot keep a snapshot"
                                      : "is a file");
      return FALSE;
    }
  if (!j->store.write_snapshot (j->store_data, text, len, &err))
    return store_failed (j, err, "cannot write the snapshot", error);
  return TRUE;
}

gboolean
asm_fjournal_append (FJournal *j, const GString *frames, GError **error)
{
  int e = 0;

  if (j->failed)
    {
      g_set_error (error, ASM_ERROR, ASM_ERROR_FAILED,
                   "journal '%s': an earlier write failed and could not be "
                   "undone; set the journal again", j->path);
      return FALSE;
    }
  if (IS_STORE (j))
    {
      GError *err = NULL;
      if (!j->store.append (j->store_data, j->size, frames->str, frames->len,
                            &err))
        return store_failed (j, err, "cannot take a record", error);
      j->size += frames->len;
      return TRUE;
    }
  if (lseek (j->fd, (off_t) j->size, SEEK_SET) < 0)
    return fail_errno (error, errno, "cannot seek", j->path);
  if (write_all (j->fd, frames->str, frames->len, &e) &&
      (!j->sync || fdatasync (j->fd) == 0 || (e = errno, FALSE)))
    {
      j->size += frames->len;
      return TRUE;
    }
  if (e == 0)
    e = errno;
  /* cut the partial frames off: the next append must not follow them */
  if (ftruncate (j->fd, (off_t) j->size) != 0)
    j->failed = TRUE;
  return fail_errno (error, e, "cannot write a record", j->path);
}

guint64
asm_fjournal_get_size (FJournal *j)
{
  return j->size;
}

gboolean
asm_fjournal_cut (FJournal *j, guint64 size, GError **error)
{
  if (size > j->size)
    return TRUE;
  if (IS_STORE (j))
    {
      GError *err = NULL;
      if (!j->store.truncate (j->store_data, size, &err))
        {
          j->failed = TRUE;
          return store_failed (j, err, "cannot cut it back", error);
        }
      j->size = size;
      return TRUE;
    }
  if (ftruncate (j->fd, (off_t) size) != 0 ||
      (j->sync && fdatasync (j->fd) != 0))
    {
      j->failed = TRUE;
      return fail_errno (error, errno, "cannot cut it back", j->path);
    }
  j->size = size;
  return TRUE;
}

gboolean
asm_fjournal_reset (FJournal *j, GError **error)
{
  g_autoptr (GString) head = g_string_new (NULL);
  int e = 0;

  asm_fjournal_frame (head, header_record ());
  if (IS_STORE (j))
    {
      GError *err = NULL;
      /* the header stays: cut back to it (a store has no torn writes) */
      guint64 header_len = head->len;
      if (!j->store.truncate (j->store_data, header_len, &err))
        {
          j->failed = TRUE;
          return store_failed (j, err, "cannot cut it back to its header",
                               error);
        }
      j->size = header_len;
      j->failed = FALSE;
      return TRUE;
    }
  if (ftruncate (j->fd, 0) != 0)
    return fail_errno (error, errno, "cannot truncate", j->path);
  j->size = 0;
  if (lseek (j->fd, 0, SEEK_SET) < 0 ||
      !write_all (j->fd, head->str, head->len, &e) ||
      (j->sync && fdatasync (j->fd) != 0))
    {
      j->failed = TRUE;
      return fail_errno (error, e ? e : errno, "cannot rewrite its header",
                         j->path);
    }
  j->size = head->len;
  j->failed = FALSE;
  return TRUE;
}
