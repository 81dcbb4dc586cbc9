/* `restore --binlog-archive --until`: rolls restored databases forward from
 * the backup's binlog position to a point in time or a GTID, with the events
 * of a `binlog --archive` directory. */
#ifndef MDLSAFE_BINLOG_REPLAY_H
#define MDLSAFE_BINLOG_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "binlog/binlog.h"
#include "db/db.h"
#include "util/error.h"
#include "util/note.h"

/* Where to stop: before the first transaction that began at or after
 * `until`, or right after the transaction `gtid`. */
struct binlog_target {
	bool by_gtid;
	uint32_t until; /* seconds since the epoch */
	struct binlog_gtid gtid;
};

/* 'YYYY-MM-DD HH:MM:SS' in the local time zone (as mariadb-binlog reads
 * --stop-datetime) into *t; -1 with e (MS_USAGE) when malformed. */
int binlog_parse_until(const char *s, uint32_t *t, struct ms_err *e);

/* Files of one server, read in one pass: whole files from the first, cut at
 * start_pos in the first and stop_pos in the last. */
struct binlog_replay_seg {
	char **paths;
	size_t n_paths;
	unsigned long long start_pos, stop_pos;
};

/* What to replay: one segment per server the archive followed (a failover
 * starts a new one at the first event the archive did not have yet). */
struct binlog_replay_plan {
	struct binlog_replay_seg *segs;
	size_t n_segs;
	unsigned long long bytes; /* of events replayed */
	unsigned long long transactions;
	char stop_at[320]; /* for messages: where and why it stops */
};

void binlog_replay_plan_release(struct binlog_replay_plan *p);

/*
 * Plans a replay from start_file:start_pos (the backup's consistency point)
 * to t through the archive dir. Fails with MS_INCOMPLETE, naming the missing
 * range, when the archive has a gap, lacks the start, or does not reach the
 * target (naming where it ends). Reads the index and scans the files it
 * needs; changes nothing.
 */
int binlog_replay_plan(const char *dir, const char *start_file, unsigned long long start_pos,
		       const struct binlog_target *t, struct binlog_replay_plan *p, struct ms_err *e);

struct binlog_replay_db {
	const char *from, *to; /* name in the binlog, name restored as */
};

/*
 * Replays the plan for each database (one pass per database, since the
 * filter takes one): mariadb-binlog piped into a mariadb client that
 * connects as db is connected (user, password, host, socket, port through
 * an option file in a private directory, never argv). GTID sequence
 * numbers are left to the server, so a strict-mode server accepts them and
 * no GTID appears twice in its binlog. no_binlog: the replay is not written
 * to the binary log.
 */
int binlog_replay_apply(const struct binlog_replay_plan *p, struct db *db, const struct db_params *conn,
			const struct binlog_replay_db *dbs, size_t n_dbs, bool no_binlog, ms_note_fn *note, void *ctx,
			struct ms_err *e);

#endif
