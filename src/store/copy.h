/* Copying whole files fast: a reflink when the filesystem shares extents,
 * else the kernel's copy_file_range, else read/write. Used by the physical
 * backup (datadir -> backup) and the physical restore (backup -> datadir). */
#ifndef MDLSAFE_COPY_H
#define MDLSAFE_COPY_H

#include <stdbool.h>

#include "util/error.h"

enum copy_mode {
	COPY_AUTO,      /* --copy auto: reflink, else kernel copy, else read/write */
	COPY_REFLINK,   /* --copy reflink: a reflink or an error */
	COPY_DATA,      /* --copy copy: never share extents (kernel copy, else read/write) */
};

/* How a file was actually copied. */
enum copy_used { COPY_USED_NONE, COPY_USED_REFLINK, COPY_USED_KERNEL, COPY_USED_READWRITE };

const char *copy_used_name(enum copy_used u);

/* Parses "auto", "reflink", "copy"; -1 when none. */
int copy_mode_parse(const char *s);

/*
 * Copies in (from offset 0 to its end) into out, which must be empty; the
 * caller fsyncs out. *used says how (the best method that worked: one that
 * the filesystem refuses is not tried again for later files, see *hint).
 * cancel (may be NULL) is asked between pieces of 64 MiB: when it returns
 * true the copy stops with MS_TIMEOUT. *hint carries what earlier copies
 * learned between calls; start it as COPY_USED_NONE. what names the file
 * for messages.
 */
int copy_fd(int in, int out, enum copy_mode mode, enum copy_used *hint, enum copy_used *used,
	    bool (*cancel)(void *), void *ctx, const char *what, struct ms_err *e);

/* XXH3-64 of fd's content from offset 0, as 16 lowercase hex digits, and
 * its length. */
int copy_hash_fd(int fd, char xxh3[17], unsigned long long *bytes, const char *what, struct ms_err *e);

/* fsync of a directory, by path. */
int copy_fsync_dir(const char *path, struct ms_err *e);

#endif
