/* verify: proves a backup directory is complete and undamaged by re-reading
 * every file listed in its manifest.json against sizes, XXH3 checksums and rows. */
#ifndef MDLSAFE_VERIFY_H
#define MDLSAFE_VERIFY_H

#include <stddef.h>

#include "util/error.h"

struct verify_result {
	size_t files_checked;         /* files found good, in manifest order */
	unsigned long long bytes;     /* uncompressed bytes of those files */
	unsigned long long rows;      /* rows of those files (entries with "rows": null add none) */
	char *first_bad_file;         /* NULL when all good; else relative to DIR, or "manifest.json" */
};

/*
 * Checks dir: manifest.json exists and parses, "format" is "mdlsafe-backup",
 * "format_version" is 1, "complete" is true; every file listed in "files"
 * has a safe relative path, exists as a regular file of "stored_bytes" bytes,
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

#endif
