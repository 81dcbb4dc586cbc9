/* The consistency point: N workers share one instant without FTWRL or LOCK
 * TABLES. BACKUP STAGE BLOCK_COMMIT stops commits for the few milliseconds it
 * takes each worker to open its snapshot; every stage statement is bounded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dump/backup_internal.h"
#include "mdl/inspect.h"
#include "mdl/lockreq.h"
#include "util/clock.h"

#define STAGE_ATTEMPTS 8

static int stage(struct backup *bk, const char *name, struct ms_err *e)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SET STATEMENT max_statement_time = %.3f FOR BACKUP STAGE %s",
		 bk->o->max_stall_s, name);
	return db_exec(&bk->coord, sql, e);
}

static int read_binlog_position(struct backup *bk, struct worker *w, struct ms_err *e)
{
	MYSQL_RES *r;
	MYSQL_ROW row;
	char *gtid = NULL;

	/* Inside the snapshot these describe the snapshot's own instant. */
	if (db_query(&w->db, "SHOW STATUS LIKE 'binlog_snapshot_%'", &r, e))
		return -1;
	while (r && (row = mysql_fetch_row(r))) {
		if (!strcmp(row[0], "Binlog_snapshot_file") && row[1])
			snprintf(bk->binlog_file, sizeof(bk->binlog_file), "%s", row[1]);
		else if (!strcmp(row[0], "Binlog_snapshot_position") && row[1])
			bk->binlog_pos = strtoull(row[1], NULL, 10);
	}
	if (r)
		mysql_free_result(r);
	if (bk->binlog_file[0]) {
		char *f = db_quote_string(&w->db, bk->binlog_file), sql[512];
		snprintf(sql, sizeof(sql), "SELECT BINLOG_GTID_POS(%s, %llu)", f ? f : "''", bk->binlog_pos);
		free(f);
		if (db_query_value(&w->db, sql, &gtid, e))
			return -1;
		snprintf(bk->gtid, sizeof(bk->gtid), "%s", gtid ? gtid : "");
		free(gtid);
	}
	return 0;
}

/* Only this runs while commits are blocked: keep it to N short statements. */
static int open_snapshots(struct backup *bk, struct ms_err *e)
{
	for (unsigned i = 0; i < bk->n_workers; i++)
		if (db_exec(&bk->workers[i].db, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", e))
			return -1;
	return 0;
}

static bool is_timeout(const struct ms_err *e)
{
	return lockreq_timed_out(e);
}

static void probe_discard(struct lockreq_probe *p)
{
	lockreq_probe_join(p);
	free(p->verdict);
	p->verdict = NULL;
}

static bool past_deadline(struct backup *bk)
{
	return bk->o->timeout_s > 0 && ms_now() - bk->started_at > bk->o->timeout_s;
}

/*
 * While commits are blocked, the binary log's end is exactly the snapshots'
 * instant: read it there, in two cheap statements. (BINLOG_GTID_POS() after
 * the fact scans the binlog file: 117 ms on a 734 MiB one, before any worker
 * could start.) Returns 1 when this user may not read it (no BINLOG MONITOR):
 * the snapshot's own status variables are read after END instead.
 */
static int read_binlog_end(struct backup *bk, struct ms_err *e)
{
	MYSQL_RES *r;
	MYSQL_ROW row;
	char *gtid = NULL;
	struct ms_err denied;

	if (db_query(&bk->coord, "SHOW MASTER STATUS", &r, &denied))
		return denied.status == MS_PRIVILEGE ? 1 : (*e = denied, -1);
	if (r && (row = mysql_fetch_row(r)) && row[0] && row[1]) {
		snprintf(bk->binlog_file, sizeof(bk->binlog_file), "%s", row[0]);
		bk->binlog_pos = strtoull(row[1], NULL, 10);
	}
	if (r)
		mysql_free_result(r);
	if (db_query_value(&bk->coord, "SELECT @@gtid_binlog_pos", &gtid, e))
		return -1;
	snprintf(bk->gtid, sizeof(bk->gtid), "%s", gtid ? gtid : "");
	free(gtid);
	return 0;
}

static bool is_denied(const struct ms_err *e)
{
	return e->status == MS_PRIVILEGE;
}

int backup_consistent_point(struct backup *bk, struct ms_err *e)
{
	struct lockreq_retry retry = { .set = LOCKREQ_RETRY_LOCK, .max_attempts = STAGE_ATTEMPTS, .base_s = 0.1, .cap = 5 };
	struct lockreq_probe probe = { .started = false };
	double t0;
	int end_read = 1;

	if (!bk->coord.is_mariadb || bk->coord.server_version < 100401) {
		snprintf(bk->method, sizeof(bk->method), "single_snapshot");
		if (bk->n_workers > 1)
			return ms_fail(e, MS_USAGE, "sharing one consistent instant between workers needs MariaDB 10.4.1 or later (BACKUP STAGE); use -j 1");
		return open_snapshots(bk, e) || read_binlog_position(bk, &bk->workers[0], e) ? -1 : 0;
	}
	snprintf(bk->method, sizeof(bk->method), "backup_stage_block_commit");
	for (;;) {
		/* The attempt that starts past --timeout is still made, watched,
		 * so that giving up names who was in the way: the deadline is
		 * checked here, not by the retry. */
		bool last = lockreq_retry_last(&retry) || past_deadline(bk);

		/* On the last try, look at the wait graph while we wait. */
		if (last) {
			lockreq_probe_start(&probe, &bk->workers[0].db, bk->o->max_stall_s / 2);
		}
		if (stage(bk, "START", e) == 0) {
			t0 = ms_now();
			if (stage(bk, "BLOCK_COMMIT", e) == 0) {
				int rc;
				/* Waiting for BLOCK_COMMIT already holds back new commits;
				 * both figures go in the manifest. */
				bk->block_commit_wait_ms = (ms_now() - t0) * 1000.0;
				rc = open_snapshots(bk, e);
				if (rc == 0 && (end_read = read_binlog_end(bk, e)) < 0)
					rc = -1;
				struct ms_err end_err;
				/* Always end the stage, even when a snapshot failed:
				 * commits must not stay blocked. */
				if (stage(bk, "END", &end_err) && rc == 0) {
					*e = end_err;
					rc = -1;
				}
				bk->commit_block_ms = (ms_now() - t0) * 1000.0;
				probe_discard(&probe);
				/* Without the privilege to read the binlog's end, the
				 * snapshot remembers its position: read it after commits
				 * flow again. */
				if (rc == 0 && end_read == 1)
					rc = read_binlog_position(bk, &bk->workers[0], e);
				return rc;
			}
			if (!is_timeout(e)) {
				probe_discard(&probe);
				return ms_fail_context(e, "BACKUP STAGE BLOCK_COMMIT (needs the RELOAD privilege)");
			}
			stage(bk, "END", NULL);
		} else if (is_denied(e) && bk->n_workers == 1) {
			/* One worker needs no shared instant: its own snapshot is it. */
			probe_discard(&probe);
			snprintf(bk->method, sizeof(bk->method), "single_snapshot");
			return open_snapshots(bk, e) || read_binlog_position(bk, &bk->workers[0], e) ? -1 : 0;
		} else if (!is_timeout(e)) {
			probe_discard(&probe);
			return ms_fail_context(e, is_denied(e) ? "BACKUP STAGE START needs the RELOAD privilege (or run with -j 1)"
							      : "BACKUP STAGE START");
		}
		if (last || !lockreq_retry_again(&retry, e)) {
			lockreq_probe_join(&probe);
			ms_fail(e, past_deadline(bk) ? MS_TIMEOUT : MS_SERVER,
				"could not take the consistency point: BACKUP STAGE waited longer than --max-stall %.0f ms %u times "
				"(another session holds a lock it needs, e.g. LOCK TABLES or a running DDL); while it waited: %s",
				bk->o->max_stall_s * 1000, retry.attempt + 1,
				probe.verdict ? probe.verdict : "(no wait visible; run 'mdlsafe locks')");
			free(probe.verdict);
			return -1;
		}
	}
}
