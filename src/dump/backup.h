/* `mdlsafe backup`, the library side: one consistent logical backup of a live
 * server that never holds a lock someone has queued behind past the budget. */
#ifndef MDLSAFE_BACKUP_H
#define MDLSAFE_BACKUP_H

#include <jansson.h>
#include <stdbool.h>

#include "db/db.h"
#include "dump/plan.h"
#include "store/store.h"
#include "util/error.h"

struct backup_progress {
	size_t tables_total, tables_done;
	unsigned long long rows, bytes_raw, bytes_stored;
	unsigned long long est_bytes_total, est_bytes_done;
	unsigned yields;
	double elapsed_s;
};

struct backup_opts {
	const struct db_params *conn;
	const char *dir;
	struct dump_filter filter;
	unsigned jobs;                 /* worker connections */
	enum store_compress compress;
	int compress_level;            /* 0: fast default */
	double max_stall_s;            /* the budget */
	bool on_ddl_abort;             /* fail instead of yielding to DDL */
	double timeout_s;              /* whole run; 0: none */
	unsigned long long chunk_rows; /* split tables bigger than this (0: no limit) */
	unsigned long long chunk_bytes;
	bool no_data, no_routines;
	/* Tables ("DB.T") whose definition and triggers are read, not their
	 * rows: backup --physical copies those rows as files. */
	char **schema_only;
	size_t n_schema_only;
	/* The caller holds the one-backup-per-server lock already (backup_server_lock). */
	bool server_lock_held;
	/* Called about once a second from the coordinating thread. */
	void (*progress)(void *ctx, const struct backup_progress *p);
	/* Notes worth a log line: yields, fallbacks, warnings. */
	void (*note)(void *ctx, const char *line);
	void *ctx;
};

/* Only one backup per server at a time: takes the named lock
 * 'mdlsafe.backup' on db's session (held until it closes), or fails with
 * MS_BUSY naming the session that holds it. */
int backup_server_lock(struct db *db, struct ms_err *e);

/* Runs the backup into o->dir. On success *summary (caller decrefs) holds
 * what --json prints: duration, bytes, rows, tables, yields, consistency
 * point. On failure nothing is presented as a backup: o->dir does not exist. */
int backup_run(const struct backup_opts *o, json_t **summary, struct ms_err *e);

#endif
