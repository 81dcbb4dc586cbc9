/* A backup worker: one connection, one thread. In the snapshot phase it reads
 * each table under SAVEPOINT / ROLLBACK TO SAVEPOINT so it holds a metadata
 * lock only on the table it is reading; when the watchdog interrupts it
 * because someone queued behind that lock, it lets go and the table is read
 * again later, in a fresh snapshot. */
#include <mysqld_error.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dump/backup_internal.h"
#include "dump/rowfmt.h"
#include "dump/schema.h"
#include "mdl/inspect.h"
#include "mdl/lockreq.h"
#include "util/buf.h"
#include "util/note.h"

#define REDO_ATTEMPTS 30

enum item_result { ITEM_DONE = 0, ITEM_FAILED = -1, ITEM_YIELDED = 1 };

void backup_fail(struct backup *bk, const struct ms_err *e)
{
	pthread_mutex_lock(&bk->mu);
	if (!bk->failed) {
		bk->failed = true;
		bk->err = *e;
	}
	bk->cancel = true;
	pthread_mutex_unlock(&bk->mu);
}

int backup_worker_open(struct backup *bk, struct worker *w, struct ms_err *e)
{
	/* A worker streams one table for as long as it takes, so no statement
	 * limit; its lock requests give up after 1 s and are retried later. */
	struct db_session_opts so = { .lock_wait_timeout = 1, .wait_timeout = 600, .idle_trx_timeout = 600 };
	char role[DB_ROLE_MAX];
	struct ms_err ignored;

	snprintf(role, sizeof(role), "backup-worker-%u", w->index);
	w->bk = bk;
	if (db_open(&w->db, bk->o->conn, role, &so, e))
		return -1;
	/* TIMESTAMP values are dumped and restored in UTC, so they survive a
	 * restore into a server in another time zone. */
	if (rowfmt_session_prepare(&w->db, e) ||
	    db_exec(&w->db, "SET SESSION net_write_timeout = 600", e) ||
	    db_exec(&w->db, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", e))
		return -1;
	/* Only without binary logging does ROLLBACK TO SAVEPOINT release the
	 * table's metadata lock (seed 003). Needs SUPER or BINLOG ADMIN. */
	w->binlog_off = db_exec(&w->db, "SET SESSION sql_log_bin = 0", &ignored) == 0;
	return 0;
}

static bool cancelled(struct backup *bk)
{
	bool c;

	pthread_mutex_lock(&bk->mu);
	c = bk->cancel;
	pthread_mutex_unlock(&bk->mu);
	return c;
}

static bool cancelled_ctx(void *bk)
{
	return cancelled(bk);
}

struct sink_ctx {
	struct store_file *f;
};

static int sink_to_store(void *ctx, const void *data, size_t len, struct ms_err *e)
{
	struct sink_ctx *s = ctx;
	return store_file_write(s->f, data, len, e);
}

static char *table_relpath(const struct dump_table *t, const char *suffix)
{
	char *db = dump_path_name(t->schema), *name = dump_path_name(t->name), *p = NULL;
	size_t n;

	if (db && name) {
		n = strlen(db) + strlen(name) + strlen(suffix) + 3;
		if ((p = malloc(n)))
			snprintf(p, n, "%s/%s%s", db, name, suffix);
	}
	free(db);
	free(name);
	return p;
}

/* Writes a whole small text file (schema, triggers) into the backup. */
static int write_text_file(struct backup *bk, const char *relpath, const char *text, struct store_file_info *info,
			   struct ms_err *e)
{
	struct store_file *f;

	/* A redo replaces what an earlier attempt wrote. */
	store_file_discard(bk->store, relpath);
	if (store_file_create(bk->store, relpath, STORE_COMPRESS_NONE, 0, &f, e))
		return -1;
	if (store_file_write(f, text, strlen(text), e)) {
		store_file_abort(f);
		return -1;
	}
	return store_file_close(f, info, e);
}

static int dump_definition(struct worker *w, struct table_state *ts, struct ms_err *e)
{
	struct backup *bk = w->bk;
	char *create = NULL, *triggers = NULL, *terminated = NULL, *wrapped = NULL, *path;
	struct store_file_info info, tinfo;
	int rc = -1;

	memset(&info, 0, sizeof(info));
	memset(&tinfo, 0, sizeof(tinfo));
	if (schema_show_create_table(&w->db, ts->t->schema, ts->t->name, &create, e) ||
	    schema_table_triggers(&w->db, ts->t->schema, ts->t->name, &triggers, e))
		goto out;
	path = table_relpath(ts->t, ".schema.sql");
	if (!path || !(terminated = ms_asprintf("%s;\n", create))) {
		free(path);
		ms_oom(e);
		goto out;
	}
	/* The same session settings as data files: zero-date defaults,
	 * foreign keys to tables not yet created, utf8mb4 names. */
	free(wrapped);
	wrapped = ms_asprintf("%s%s%s", rowfmt_file_header(), terminated, rowfmt_file_footer());
	if (!wrapped) {
		free(path);
		ms_oom(e);
		goto out;
	}
	if (write_text_file(bk, path, wrapped, &info, e)) {
		free(path);
		goto out;
	}
	free(path);
	if (triggers) {
		path = table_relpath(ts->t, ".triggers.sql");
		if (!path || write_text_file(bk, path, triggers, &tinfo, e)) {
			free(path);
			store_file_info_release(&info);
			goto out;
		}
		free(path);
	}
	pthread_mutex_lock(&bk->mu);
	if (ts->has_schema)
		store_file_info_release(&ts->schema_file);
	if (ts->has_triggers)
		store_file_info_release(&ts->triggers_file);
	ts->schema_file = info;
	ts->has_schema = true;
	ts->triggers_file = tinfo;
	ts->has_triggers = triggers != NULL;
	pthread_mutex_unlock(&bk->mu);
	rc = 0;
out:
	free(create);
	free(terminated);
	free(wrapped);
	free(triggers);
	return rc;
}

/* Streams one chunk's rows into its data file. */
static int dump_rows(struct worker *w, struct table_state *ts, size_t chunk, struct store_file_info *info,
		     struct ms_err *e)
{
	struct backup *bk = w->bk;
	const struct dump_table *t = ts->t;
	const char *ext = bk->o->compress == STORE_COMPRESS_ZSTD ? ".sql.zst" : ".sql";
	char suffix[48], *path = NULL;
	struct rowfmt_table rt;
	struct store_file *f = NULL;
	struct sink_ctx sink;
	unsigned long long rows = 0;
	int rc = -1;

	memset(&rt, 0, sizeof(rt));
	snprintf(suffix, sizeof(suffix), ".%05zu%s", chunk, ext);
	if (!(path = table_relpath(t, suffix))) {
		ms_oom(e);
		goto out;
	}
	if (rowfmt_table_load(&w->db, t->schema, t->name, &rt, e))
		goto out;
	store_file_discard(bk->store, path);
	if (store_file_create(bk->store, path, bk->o->compress, bk->o->compress_level, &f, e))
		goto out;
	store_file_count_rows(f);
	sink.f = f;
	if (rowfmt_dump(&w->db, &rt, t->chunks[chunk].where, sink_to_store, &sink, cancelled_ctx, bk, &rows, e))
		goto out;
	if (store_file_close(f, info, e)) {
		f = NULL;
		goto out;
	}
	f = NULL;
	/* verify and restore read the file with the counter that counted
	 * info->rows: had it read the rows otherwise than the writer wrote
	 * them, the backup would not restore as it claims. */
	if (info->rows != (long long)rows) {
		ms_fail(e, MS_INTERNAL, "%llu rows written to %s, but the file reads as %lld: please report this with "
			"the table's CREATE TABLE", rows, info->path, info->rows);
		store_file_info_release(info);
		goto out;
	}
	rc = 0;
out:
	if (f)
		store_file_abort(f);
	rowfmt_table_release(&rt);
	free(path);
	return rc;
}

static void record_chunk(struct backup *bk, struct table_state *ts, size_t chunk, struct store_file_info *info)
{
	pthread_mutex_lock(&bk->mu);
	if (ts->chunk_done[chunk]) {
		/* A redo replaces the chunk: count only what is kept. */
		unsigned long long old_rows = (unsigned long long)(ts->chunk_files[chunk].rows > 0 ? ts->chunk_files[chunk].rows : 0);
		ts->rows -= old_rows;
		bk->rows -= old_rows;
		bk->bytes_raw -= ts->chunk_files[chunk].bytes;
		bk->bytes_stored -= ts->chunk_files[chunk].stored_bytes;
		store_file_info_release(&ts->chunk_files[chunk]);
	} else {
		ts->chunks_done++;
	}
	ts->chunk_files[chunk] = *info;
	ts->chunk_done[chunk] = true;
	ts->rows += (unsigned long long)(info->rows > 0 ? info->rows : 0);
	bk->rows += (unsigned long long)(info->rows > 0 ? info->rows : 0);
	bk->bytes_raw += info->bytes;
	bk->bytes_stored += info->stored_bytes;
	if (ts->chunks_done == ts->t->n_chunks) {
		bk->tables_done++;
		bk->est_done += ts->t->est_bytes;
	}
	pthread_mutex_unlock(&bk->mu);
}

/*
 * Reads one chunk (or, with chunk == SIZE_MAX, every chunk) of a table while
 * holding its metadata lock, and lets go of it right after. The caller has
 * opened the transaction (snapshot or fresh) or taken the table lock.
 */
static enum item_result dump_under_hold(struct worker *w, struct table_state *ts, size_t chunk, struct ms_err *e)
{
	struct backup *bk = w->bk;
	size_t first = chunk == SIZE_MAX ? 0 : chunk, last = chunk == SIZE_MAX ? ts->t->n_chunks - 1 : chunk;
	enum item_result res = ITEM_DONE;
	char *qs = db_quote_ident(ts->t->schema), *qt = db_quote_ident(ts->t->name), sql[700];
	struct ms_err ignored;

	if (!qs || !qt) {
		free(qs);
		free(qt);
		ms_oom(e);
		return ITEM_FAILED;
	}
	watchdog_hold(bk->watchdog, w->db.thread_id, ts->t->schema, ts->t->name);
	if (ts->t->transactional && db_exec(&w->db, "SAVEPOINT mdlsafe_table", e)) {
		res = lockreq_retryable(e->sql_errno, LOCKREQ_RETRY_YIELD) ? ITEM_YIELDED : ITEM_FAILED;
		goto out;
	}
	/* Take the table's lock first and read the definition under it: the
	 * rows and the CREATE TABLE then describe the same table. */
	snprintf(sql, sizeof(sql), "SELECT 1 FROM %s.%s LIMIT 0", qs, qt);
	if (db_exec(&w->db, sql, e) || (first == 0 && dump_definition(w, ts, e))) {
		res = lockreq_retryable(e->sql_errno, LOCKREQ_RETRY_YIELD) ? ITEM_YIELDED : ITEM_FAILED;
		goto release;
	}
	for (size_t c = first; c <= last && res == ITEM_DONE && !ts->t->no_data; c++) {
		struct store_file_info info;
		memset(&info, 0, sizeof(info));
		if (dump_rows(w, ts, c, &info, e))
			res = lockreq_retryable(e->sql_errno, LOCKREQ_RETRY_YIELD) ? ITEM_YIELDED : ITEM_FAILED;
		else
			record_chunk(bk, ts, c, &info);
	}
	if (res == ITEM_DONE && ts->t->no_data) {
		pthread_mutex_lock(&bk->mu);
		bk->tables_done++;
		pthread_mutex_unlock(&bk->mu);
	}
release:
	if (ts->t->transactional) {
		/* A KILL QUERY aimed at the read may land on this statement
		 * instead; one retry is enough, the watchdog no longer aims at us. */
		if (db_exec(&w->db, "ROLLBACK TO SAVEPOINT mdlsafe_table", &ignored) &&
		    db_exec(&w->db, "ROLLBACK TO SAVEPOINT mdlsafe_table", &ignored) && res == ITEM_DONE) {
			*e = ignored;
			res = ITEM_FAILED;
		}
	}
out:
	watchdog_release(bk->watchdog, w->db.thread_id);
	free(qs);
	free(qt);
	return res;
}

static bool next_item(struct backup *bk, enum phase ph, struct work_item *it)
{
	bool got = false;

	pthread_mutex_lock(&bk->mu);
	while (!bk->cancel) {
		if (ph == PHASE_SNAPSHOT && bk->next_item < bk->n_items) {
			*it = bk->items[bk->next_item++];
			/* A table that already yielded is read whole, later. */
			if (bk->tables[it->table].redo)
				continue;
			got = true;
		} else if (ph == PHASE_AFTER && bk->next_after < bk->n_after) {
			*it = bk->after[bk->next_after++];
			got = true;
		}
		break;
	}
	pthread_mutex_unlock(&bk->mu);
	return got;
}

static int queue_after(struct backup *bk, size_t table)
{
	struct work_item *grown;
	int rc = 0;

	pthread_mutex_lock(&bk->mu);
	grown = realloc(bk->after, (bk->n_after + 1) * sizeof(*grown));
	if (grown) {
		bk->after = grown;
		grown[bk->n_after].table = table;
		grown[bk->n_after].chunk = SIZE_MAX;
		bk->n_after++;
	} else {
		rc = -1;
	}
	pthread_mutex_unlock(&bk->mu);
	return rc;
}

/* The snapshot read of this table was given up: read it whole, later. */
static int mark_redo(struct worker *w, struct table_state *ts, size_t idx, const struct ms_err *why, struct ms_err *e)
{
	struct backup *bk = w->bk;
	bool first;

	if (bk->o->on_ddl_abort)
		return ms_fail(e, MS_SERVER,
			       "%s.%s: a schema change needed this table while it was being read (%s); --on-ddl abort stops the backup: run without it to let the change through and re-read the table",
			       ts->t->schema, ts->t->name, why->msg);
	pthread_mutex_lock(&bk->mu);
	ts->yields++;
	first = !ts->redo;
	ts->redo = true;
	ts->consistency = TABLE_AFTER_DDL;
	pthread_mutex_unlock(&bk->mu);
	ms_note(bk->o->note, bk->o->ctx, "%s.%s: stepped aside for a session waiting on it (%s); it will be read again in a fresh snapshot",
	     ts->t->schema, ts->t->name, why->sql_errno == ER_TABLE_DEF_CHANGED ? "its definition changed" : "yielded");
	if (first && queue_after(bk, idx))
		return ms_oom(e);
	return 0;
}

/* After the snapshot phase: a yielded table in a fresh snapshot of its own,
 * or a non-transactional table under a short LOCK TABLES ... READ. */
static int dump_after(struct worker *w, size_t idx, struct ms_err *e)
{
	struct backup *bk = w->bk;
	struct table_state *ts = &bk->tables[idx];
	char *qs = db_quote_ident(ts->t->schema), *qt = db_quote_ident(ts->t->name), sql[700];
	struct ms_err ignored;
	/* A yield waits 0.2 s * 2^min(yields, 4): twice the base from the first. */
	struct lockreq_retry retry = { .set = LOCKREQ_RETRY_YIELD, .max_attempts = REDO_ATTEMPTS, .base_s = 0.4, .cap = 3 };
	int rc = -1;

	if (!qs || !qt) {
		ms_oom(e);
		goto out;
	}
	while (!cancelled(bk)) {
		enum item_result r;

		if (retry.attempt)
			lockreq_retry_wait(&retry);
		if (ts->t->transactional) {
			if (db_exec(&w->db, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", e))
				goto out;
		} else {
			/* The lock request is bounded by the budget; the held lock
			 * is watched like any other. */
			snprintf(sql, sizeof(sql), "SET STATEMENT max_statement_time = %.3f FOR LOCK TABLES %s.%s READ",
				 bk->o->max_stall_s, qs, qt);
			if (db_exec(&w->db, sql, e)) {
				if (!lockreq_retry_next(&retry, e))
					goto gave_up;
				continue;
			}
		}
		r = dump_under_hold(w, ts, SIZE_MAX, e);
		db_exec(&w->db, ts->t->transactional ? "COMMIT" : "UNLOCK TABLES", &ignored);
		if (r == ITEM_DONE) {
			pthread_mutex_lock(&bk->mu);
			ts->attempts = retry.attempt + 1;
			pthread_mutex_unlock(&bk->mu);
			rc = 0;
			goto out;
		}
		if (r == ITEM_FAILED)
			goto out;
		pthread_mutex_lock(&bk->mu);
		ts->yields++;
		pthread_mutex_unlock(&bk->mu);
		if (!lockreq_retry_next(&retry, e))
			goto gave_up;
	}
	if (cancelled(bk) && rc)
		ms_fail(e, MS_INTERNAL, "cancelled");
	goto out;
gave_up:
	if (retry.stop == LOCKREQ_OUT_OF_ATTEMPTS) {
		char *now = mdl_verdict_now(&w->db);
		ms_fail(e, MS_SERVER, "%s.%s: gave up after %u attempts to read it without making others wait; right now: %s",
			ts->t->schema, ts->t->name, REDO_ATTEMPTS, now ? now : "(run 'mdlsafe locks' to see who holds it)");
		free(now);
	}
out:
	free(qs);
	free(qt);
	return rc;
}

void *backup_worker_main(void *arg)
{
	struct worker *w = arg;
	struct backup *bk = w->bk;
	struct work_item it;
	struct ms_err e;

	ms_err_clear(&e);
	while (next_item(bk, PHASE_SNAPSHOT, &it)) {
		struct table_state *ts = &bk->tables[it.table];
		enum item_result r = dump_under_hold(w, ts, it.chunk, &e);

		if (r == ITEM_YIELDED && mark_redo(w, ts, it.table, &e, &e))
			r = ITEM_FAILED;
		if (r == ITEM_FAILED) {
			ms_fail_context(&e, "%s.%s", ts->t->schema, ts->t->name);
			backup_fail(bk, &e);
			return NULL;
		}
	}
	return NULL;
}

/* Entry for the second phase; the coordinator starts it after every worker
 * has left the snapshot. */
void *backup_worker_after_main(void *arg)
{
	struct worker *w = arg;
	struct backup *bk = w->bk;
	struct work_item it;
	struct ms_err e;

	ms_err_clear(&e);
	while (next_item(bk, PHASE_AFTER, &it)) {
		if (dump_after(w, it.table, &e)) {
			if (!cancelled(bk))
				ms_fail_context(&e, "%s.%s", bk->tables[it.table].t->schema, bk->tables[it.table].t->name);
			backup_fail(bk, &e);
			return NULL;
		}
	}
	return NULL;
}
