/* `mdlsafe ddl --online`: a schema change the server can only make by copying
 * the table, made on a shadow copy kept current by triggers, then swapped in
 * by one RENAME; every metadata-lock request on the way is bounded. */
#ifndef MDLSAFE_ONLINE_H
#define MDLSAFE_ONLINE_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>

#include "db/db.h"
#include "mdl/killpolicy.h"
#include "util/error.h"

/* Where the change is, for a progress line. */
struct online_progress {
	const char *phase; /* "copy", "verify" */
	unsigned long long rows_done;
	unsigned long long rows_estimated; /* the table's statistics: may be off */
	double rows_per_s;
	double elapsed_s;
	bool paused; /* --pause-file exists or --max-load is exceeded */
};

struct online_opts {
	const struct db_params *conn;
	const char *database; /* -D: for an unqualified table name */
	const char *statement; /* one ALTER TABLE */
	double max_stall_s; /* the budget for one lock wait */
	double deadline_s; /* the whole run */
	const struct kill_policies *kill; /* who may be killed when in the way (borrowed) */
	double chunk_time_s; /* target time of one copy chunk */
	unsigned max_load; /* pause while Threads_running exceeds it; 0: never */
	const char *pause_file; /* pause while it exists (may be NULL) */
	const char *const *replicas; /* "host:port" of replicas to watch (same credentials) */
	size_t n_replicas;
	double max_lag_s; /* pause while a replica lags more (or does not apply) */
	const char *postpone_file; /* do not cut over while it exists (may be NULL) */
	bool dry_run, keep_old, resume, no_verify;
	volatile sig_atomic_t *stop; /* set by SIGINT/SIGTERM: stop before the swap, undo (may be NULL) */
	void (*note)(void *ctx, const char *line);
	void (*progress)(void *ctx, const struct online_progress *p); /* after each chunk (may be NULL) */
	void *ctx;
};

/*
 * Plans the change (refusing, with MS_USAGE and the reason, what it cannot
 * do safely), then unless dry_run: creates the shadow table and applies the
 * ALTER to it, creates the change-capture triggers, copies the rows in
 * chunks, verifies them, swaps the tables with one RENAME and drops the
 * triggers and the old table. On failure before the swap the original table
 * is as it was: the triggers and the shadow are dropped (a checkpoint lets
 * --resume continue after a crash instead). *report (caller decrefs) is the
 * --json document, also on failure.
 */
int online_run(const struct online_opts *o, json_t **report, struct ms_err *e);

#endif
