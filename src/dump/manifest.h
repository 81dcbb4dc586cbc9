/* The manifest.json every backup directory ends with, logical or physical:
 * the envelope both kinds share, and the one way it is written. */
#ifndef MDLSAFE_MANIFEST_H
#define MDLSAFE_MANIFEST_H

#include <jansson.h>

#include "store/store.h"
#include "util/error.h"

/* Seconds since the epoch as "2026-11-21T10:00:00Z", for manifests. */
json_t *manifest_iso_time(double t);

/* A new manifest holding the keys every backup has, in this order: format,
 * format_version, kind (left out when kind is NULL: a logical backup),
 * tool_version, server (stolen), started_at, finished_at. The caller adds
 * the keys of its kind, then hands it to manifest_write. NULL when out of
 * memory (server is released either way). */
json_t *manifest_new(const char *kind, json_t *server, double started_at, double finished_at);

/* Adds complete=true as the last key of m (which by now lists its "files":
 * every file of the directory with its size and hash), releases m (NULL is
 * taken as out of memory), and finalizes the store with the text: the
 * directory gets its final name only once the manifest is on disk. -1 with e
 * filled when out of memory or when finalizing fails. */
int manifest_write(struct store *st, json_t *m, struct ms_err *e);

#endif
