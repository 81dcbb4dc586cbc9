/* Replacing a small file whole (metrics, indexes): written beside it under an
 * unguessable name and renamed over it, so a reader never sees half of one. */
#ifndef MDLSAFE_TEXTFILE_H
#define MDLSAFE_TEXTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

/*
 * Writes len bytes of data to path through PATH.tmp.XXXXXX (made with
 * O_EXCL, so nothing planted beside the target is followed or overwritten),
 * with the given mode, and renames it over path. With durable, the file is
 * fsynced before the rename and its directory after, so after a crash path
 * holds either the old or the new content. On failure the temporary file is
 * removed, path is untouched and e says why.
 */
int ms_replace_file(const char *path, const void *data, size_t len, mode_t mode, bool durable, struct ms_err *e);

#endif
