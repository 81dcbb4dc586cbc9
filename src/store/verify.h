/* verify: proves a backup directory is complete and undamaged by re-reading
 * every file listed in its manifest.json against sizes, XXH3 checksums and rows. */
#ifndef MDLSAFE_VERIFY_H
#define MDLSAFE_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "util/error.h"

struct verify_result {
	size_t files_checked;         /* files found good, in manifest order */
	unsigned long long bytes;     /* uncompressed bytes of those files */
	unsigned long long rows;      /* rows of those files (entries with "rows": null add none) */
	char *first_bad_file;         /* NULL when all good; else relative to DIR, or "manifest.json" */
};

/*
 * Checks dir: manifest.json exists as a regular file and parses, "format" is "mdlsafe-backup",
 * "format_version" is 1, "complete" is true; every file listed in "files"
 * has a safe relative path, exists as a regular file of "stored_bytes" bytes
 * reached from dir without a symbolic link in any component,
 * decompresses cleanly (complete zstd frames, nothing after them), and its
 * uncompressed length, XXH3-64 and (when "rows" is not null) row count match.
 * Files in dir that the manifest does not list are ignored.
 *
 * Stops at the first problem: returns -1 with MS_INCOMPLETE (damage or an
 * unfinished backup, the message names the file and what is wrong), MS_USAGE
 * (dir missing or not a directory) or MS_IO (a file cannot be read), and sets
 * r->first_bad_file when a file is to blame. Returns 0 when all is good.
 *
 * progress (may be NULL) is called as files are read, with the file being
 * read and the stored (on-disk) bytes read so far over the whole backup, so
 * the caller can compare it with the sum of "stored_bytes".
 * *r is filled in either case; release it with verify_result_release().
 */
int verify_backup(const char *dir, void (*progress)(void *, const char *, unsigned long long),
		  void *ctx, struct verify_result *r, struct ms_err *e);

void verify_result_release(struct verify_result *r);

/* What restore needs from a backup verify_backup_keep() found good. */
struct verified_backup {
	int dir_fd;             /* the directory that was verified (-1: none); owned */
	json_t *manifest;       /* parsed from exactly the bytes that were verified; owned */
	char manifest_xxh3[17]; /* XXH3-64 of those bytes, 16 lowercase hex */
};

/*
 * verify_backup(), and on success hands over the directory descriptor and
 * the manifest it checked, so a restore reads exactly what was verified:
 * nothing is opened again by path, and there is no size limit on the
 * manifest. manifest.json and every listed file are opened beneath the
 * directory without following symbolic links, and only as regular files
 * (a FIFO cannot block the check). On failure *vb is empty; release it with
 * verified_backup_release() in either case.
 */
int verify_backup_keep(const char *dir, void (*progress)(void *, const char *, unsigned long long),
		       void *ctx, struct verify_result *r, struct verified_backup *vb, struct ms_err *e);

void verified_backup_release(struct verified_backup *vb);

/* Reads dir's manifest.json the way verify does (a regular file directly in
 * dir, no size cap) without checking the backup, for a look before verify
 * runs. NULL with e filled when it cannot be read or parsed. New reference. */
json_t *backup_manifest_peek(const char *dir, struct ms_err *e);

/* ---- reading a backup's files, shared with restore ---------------------- */

/* One "files" entry of a manifest (strings borrowed from the JSON). */
struct backup_file {
	const char *path;              /* relative to the backup directory */
	unsigned long long bytes, stored_bytes;
	const char *xxh3;              /* 16 hex digits, of the uncompressed content */
	long long rows;                /* -1: null (not a data file) */
	bool zstd;
};

/* Fills *f from a manifest "files" entry; NULL when good, else what is
 * wrong with it (a static string). */
const char *backup_file_parse(json_t *j, struct backup_file *f);

/* Opens a finished backup directory (O_DIRECTORY fd), or explains why dir
 * is not one: missing (MS_USAGE), unfinished .partial (MS_INCOMPLETE). */
int backup_dir_open(const char *dir, struct ms_err *e);

/* Fixed buffers and contexts for reading files one after another. progress
 * (may be NULL) is called as in verify_backup. */
struct backup_reader;
int backup_reader_new(struct backup_reader **out, void (*progress)(void *, const char *, unsigned long long),
		      void *ctx, struct ms_err *e);
void backup_reader_free(struct backup_reader *rd);

/*
 * Streams f's uncompressed content to sink (may be NULL) in pieces, while
 * checking it exactly as verify_backup does: size on disk, zstd frames,
 * length, XXH3, rows. A problem with the file fails with MS_INCOMPLETE or
 * MS_IO and a message that starts with the file's path; by then sink may
 * have seen part of the content, so a caller that acts on it must be able
 * to undo it (restore loads each file in one transaction). When sink fails,
 * its error is returned as it left it.
 */
int backup_reader_read(struct backup_reader *rd, int dir_fd, const struct backup_file *f,
		       int (*sink)(void *ctx, const void *data, size_t len, struct ms_err *e), void *ctx,
		       struct ms_err *e);

#endif
