/* The backup directory: files streamed through zstd and XXH3 into DIR.partial/,
 * one writer at a time (flock), renamed to DIR only once everything is durable. */
#ifndef MDLSAFE_STORE_H
#define MDLSAFE_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "store/copy.h"
#include "util/error.h"

/*
 * Contract (docs/formats.md, "The logical backup directory"):
 *   - Everything is written into DIR.partial/ (directories 0700, files 0600).
 *     DIR appears only through store_finalize(), after every file and
 *     manifest.json are written and fsynced and every directory is fsynced.
 *     A directory without a complete manifest is never a backup.
 *   - store_open() holds an exclusive flock on DIR.partial until store_close(),
 *     so two runs never write the same target.
 *   - DIR.partial/.mdlsafe-partial marks a directory as ours: only such a
 *     directory (or an empty one) is ever removed when a killed run left it.
 *
 * Threads: store_file_create() may be called from several threads at once, and
 * different store_files may be written concurrently. One store_file belongs to
 * one thread at a time. store_open/finalize/close are for the owning thread,
 * after every store_file is closed or aborted.
 */

enum store_compress { STORE_COMPRESS_NONE, STORE_COMPRESS_ZSTD };

/*
 * Level used when store_file_create() is given level 0: zstd's fast level -5
 * with Huffman coding of literals forced on. Plain fast levels skip literal
 * coding, and on typical row data (digits, text) that is where the ratio
 * comes from: on sysbench rows level -5 compresses only x1.04, level 1 x2.24
 * at 373 MB/s, this x2.19 at 582 MB/s. Compression is most of the backup's
 * CPU, which it shares with the server it backs up.
 */
#define STORE_ZSTD_DEFAULT_LEVEL (-5)

/* The marker store_open() writes first into DIR.partial. */
#define STORE_PARTIAL_MARKER ".mdlsafe-partial"

struct store;      /* opaque: one backup directory being written */
struct store_file; /* opaque: one output file being written */

struct store_file_info {
	char *path;                      /* relative to DIR, e.g. "shop/users.00000.sql.zst" */
	unsigned long long bytes;        /* uncompressed content length */
	unsigned long long stored_bytes; /* length on disk */
	char xxh3[17];                   /* XXH3-64 of the uncompressed content, 16 lowercase hex */
	long long rows;                  /* -1 when not a data file; see store_file_count_rows */
	enum store_compress compress;
};

/*
 * Starts a backup into dir (its parent must exist): creates and locks
 * dir.partial. Fails with MS_USAGE when dir exists, MS_BUSY when another
 * process holds dir.partial. A dir.partial nobody holds was left by a killed
 * run: it is removed and recreated, and *removed_stale_partial (may be NULL)
 * is set so the caller can say so. One without the marker is not touched
 * (MS_USAGE). On success *out is the caller's (store_close).
 */
int store_open(const char *dir, struct store **out, bool *removed_stale_partial,
	       struct ms_err *e);

/* Borrowed paths: "DIR.partial" and "DIR", without trailing slashes. */
const char *store_partial_path(const struct store *st);
const char *store_final_path(const struct store *st);

/*
 * Creates relpath (relative to DIR: no leading '/', no "." or ".." or empty
 * components, no control characters, valid UTF-8, not manifest.json) inside
 * DIR.partial, with its parent directories, exclusively: a path is written
 * once. level 0 means STORE_ZSTD_DEFAULT_LEVEL and is ignored for
 * STORE_COMPRESS_NONE. On success *out must be closed or aborted.
 */
int store_file_create(struct store *st, const char *relpath, enum store_compress c,
		      int level, struct store_file **out, struct ms_err *e);

/* Appends uncompressed content. Memory stays bounded by fixed buffers
 * whatever the file size. After a failure every later call fails too. */
int store_file_write(struct store_file *f, const void *data, size_t len,
		     struct ms_err *e);

/* Data files: count the rows of the uncompressed content as rowscan reads
 * them (store/rowscan.h; verify counts the same way). Call before writing. */
void store_file_count_rows(struct store_file *f);

/* Flushes the compressor, fsyncs and closes the file, and fills *info (the
 * caller releases it). Frees f whether it succeeds or not; on failure the
 * incomplete file is removed. */
int store_file_close(struct store_file *f, struct store_file_info *info,
		     struct ms_err *e);

/* Gives up on a file: closes and unlinks it, frees f. NULL is a no-op. */
void store_file_abort(struct store_file *f);

/* Removes a file an earlier attempt finished (a table re-read after a DDL
 * replaces its files), so relpath can be created again. A file that does
 * not exist is fine; an unsafe relpath is ignored (store_file_create will
 * report it). Must not be called for a file that is open. */
void store_file_discard(struct store *st, const char *relpath);

void store_file_info_release(struct store_file_info *i);

/*
 * Physical backups: copies src_fd whole into relpath (created exclusively,
 * 0600, with its parents; same path rules as store_file_create) with
 * copy_fd(). Neither a checksum nor an fsync is done here, so a copy made
 * while tables are frozen costs only the copy (the page cache already holds
 * a consistent copy; waiting for the disk halved the copy rate, measured):
 * store_file_hash() reads it back and makes it durable once they are not.
 * On failure the partial copy is removed.
 */
int store_copy_in(struct store *st, const char *relpath, int src_fd, enum copy_mode mode,
		  enum copy_used *hint, enum copy_used *used, bool (*cancel)(void *), void *ctx,
		  struct ms_err *e);

/* Fills *info (caller releases) for a file already in DIR.partial, as an
 * uncompressed, non-data file: its size and the XXH3 of its content; and
 * fsyncs it. */
int store_file_hash(struct store *st, const char *relpath, struct store_file_info *info, struct ms_err *e);

/* Opens a file already in DIR.partial for reading, beneath it with no
 * symbolic link and only as a regular file. Returns the descriptor (the
 * caller closes it), or -1 with e filled. */
int store_file_open_read(struct store *st, const char *relpath, struct ms_err *e);

/* The manifest entry for a file, as verify reads it:
 * {"path", "bytes", "stored_bytes", "xxh3", "rows" (integer or null),
 *  "compression": "zstd"|"none"}. NULL when out of memory. New reference. */
json_t *store_file_info_to_json(const struct store_file_info *i);

/*
 * Writes manifest.json (manifest_json, as given) and fsyncs it, fsyncs every
 * directory, renames DIR.partial to DIR (never over an existing DIR), and
 * fsyncs the parent. Every store_file must be closed or aborted first.
 */
int store_finalize(struct store *st, const char *manifest_json, struct ms_err *e);

/* Releases the lock and frees st. If not finalized, DIR.partial stays: it is
 * never a backup, and the next run on DIR removes it. NULL is a no-op. */
void store_close(struct store *st);

/* ---- shared with verify, so writer and checker agree ------------------- */

/* NULL when relpath is acceptable as a file path inside a backup, else why
 * not (a static string, e.g. "contains a \"..\" component"). */
const char *store_relpath_problem(const char *relpath);

#endif
