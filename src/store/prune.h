/* `mdlsafe prune`: which backups of a directory of backups, and which files
 * of a binlog archive, a retention rule keeps; and removing the others. */
#ifndef MDLSAFE_PRUNE_H
#define MDLSAFE_PRUNE_H

#include <jansson.h>
#include <stdbool.h>

#include "util/error.h"
#include "util/note.h"

struct prune_opts {
	const char *root;	    /* holds one backup per subdirectory */
	const char *binlog_archive; /* may be NULL */
	unsigned keep_hourly;	    /* the newest backup of each of the last N hours that have one */
	unsigned keep_daily;	    /* the same per day (UTC) */
	bool dry_run;
	ms_note_fn *note; /* one line per decision */
	void *ctx;
	/* When set, the decisions are added to it as well: backups[] (newest
	 * first: name, kept, why) and, with binlog_archive,
	 * binlog_files_removed[] (names). */
	json_t *report;
};

/*
 * Keeps, whatever the rule says, the newest backup that passes verify; keeps
 * every archived binlog file from the one holding the oldest kept backup's
 * consistency point on. Removes the rest unless dry_run. Directories that
 * are not finished backups (no manifest.json, or NAME.partial) are left
 * alone. *removed counts what was (or would be) removed.
 */
int prune_run(const struct prune_opts *o, unsigned *removed, struct ms_err *e);

#endif
