/* `mdlsafe restore --physical`: table files back into a live server, each
 * InnoDB table through DISCARD / IMPORT TABLESPACE, each MyISAM/Aria table
 * under its own write lock, every DDL a bounded lock request. */
#ifndef MDLSAFE_PRESTORE_H
#define MDLSAFE_PRESTORE_H

#include <jansson.h>
#include <stdbool.h>

#include "restore/restore.h"

struct prestore_opts {
	struct restore_opts r;         /* conn, dir, filter, renames, if_exists (fail|replace), jobs, budget,
					  timeout, no_binlog, note/ctx: as for a logical restore */
	const char *snapshot_dir;      /* data directory of a mounted --snapshot-cmd snapshot */
};

/* Verifies DIR, checks the target server (version, page size, data
 * directory), imports the tables and restores DIR/logical around them. On
 * failure the message lists which tables were imported and which were not. */
int prestore_run(const struct prestore_opts *o, json_t **summary, struct ms_err *e);

#endif
