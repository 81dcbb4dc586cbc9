/* `mdlsafe backup --physical`: one database's table files, copied (or
 * snapshotted) during a freeze that is requested within the stall budget,
 * watched, and as short as the copy. */
#ifndef MDLSAFE_PBACKUP_H
#define MDLSAFE_PBACKUP_H

#include <jansson.h>
#include <stdbool.h>

#include "db/db.h"
#include "dump/plan.h"
#include "store/copy.h"
#include "util/error.h"

struct pbackup_opts {
	const struct db_params *conn;
	const char *dir;
	const char *database;
	struct dump_filter filter;     /* --tables / --exclude, names "DB.T" */
	enum copy_mode copy;
	const char *snapshot_cmd;      /* run while frozen instead of copying data files */
	double max_freeze_s;           /* unfreeze and fail past this */
	bool refuse_unsupported;       /* --unsupported refuse: no logical fallback */
	double max_stall_s;
	double timeout_s;              /* whole run; 0: none */
	unsigned jobs;                 /* workers of the logical part */
	void (*note)(void *ctx, const char *line);
	void *ctx;
};

/* Runs the backup into o->dir (built in o->dir.partial like any backup).
 * On success *summary (caller decrefs) is the --json object. */
int pbackup_run(const struct pbackup_opts *o, json_t **summary, struct ms_err *e);

#endif
