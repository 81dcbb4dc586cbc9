/* `mdlsafe binlog --archive`: copies the server's binary logs into a
 * directory as they are written, connected as a replica. */
#ifndef MDLSAFE_BINLOG_ARCHIVE_H
#define MDLSAFE_BINLOG_ARCHIVE_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>

#include "db/db.h"
#include "util/error.h"
#include "util/note.h"

struct binlog_archive_opts {
	const struct db_params *conn;
	const char *dir;
	const char *start_file;	     /* where an empty archive starts; NULL: the oldest the
					server has */
	unsigned server_id;	     /* ours as a replica; 0: derived from the host and directory */
	double heartbeat_s;	     /* the server sends a heartbeat after this long without
					events */
	double sync_s;		     /* fsync and index at most this often while events flow */
	bool once;		     /* copy up to the server's current position, then return */
	const char *metrics_file;    /* Prometheus text file, or NULL */
	volatile sig_atomic_t *stop; /* set by a signal: finish the event, sync, return 0 */
	ms_note_fn *say;
	void *ctx;
	/* When set, filled at the end with what the archive holds and what
	 * this run copied: archive, server_id, files, partial, bytes_copied,
	 * reconnects, gtid_state. */
	json_t *report;
};

/*
 * Runs until *o->stop (or, with once, until the archive holds everything the
 * server has). Each file is written as NAME.partial, fsynced and renamed to
 * NAME when the server rotates; DIR/index.json lists the files. A restart
 * continues from the last whole event of the .partial (a torn tail is cut
 * off), so nothing is lost or written twice. A lost connection is retried
 * with backoff (except with once). Returns 0, or -1 with e.
 */
int binlog_archive_run(const struct binlog_archive_opts *o, struct ms_err *e);

/* The replica server_id used when none is given: stable for one host and
 * directory, in a range real servers rarely use. */
unsigned binlog_default_server_id(const char *dir);

#endif
