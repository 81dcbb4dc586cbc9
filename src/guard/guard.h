/* `mdlsafe guard`, the library side: notices metadata-lock pile-ups that other
 * clients cause, records one event per pile-up, and ends them by policy. */
#ifndef MDLSAFE_GUARD_H
#define MDLSAFE_GUARD_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "db/db.h"
#include "util/error.h"

struct guard_opts {
	const struct db_params *conn;
	double interval_s;             /* poll period */
	double max_stall_s;            /* a pile-up: a wait at least this old */
	bool kill_waiting_ddl;         /* KILL QUERY the DDL / LOCK TABLES / FLUSH others queue behind */
	double kill_idle_s;            /* > 0: KILL root blockers idle in a transaction this long */
	char **ignore_users;           /* their waits are not pile-ups */
	size_t n_ignore;
	char **protect_users;          /* never killed */
	size_t n_protect;
	bool dry_run;
	bool once;
	FILE *log;                     /* JSON lines, one per event (may be NULL) */
	const char *metrics_file;      /* Prometheus text, rewritten atomically (may be NULL) */
	volatile sig_atomic_t *stop;   /* set by SIGTERM/SIGINT */
	void (*say)(void *ctx, const char *line);  /* a human line per event */
	void *ctx;
};

/* Runs until *o->stop (or one pass with o->once). Transient errors (lost
 * connection, server restart) are logged and retried with backoff, never
 * fatal; only bad options and a missing privilege at the first connect are.
 * With once, returns 1 when a pile-up was seen, 0 when none. */
int guard_run(const struct guard_opts *o, struct ms_err *e);

#endif
