/* The backup coordinator: takes the one-at-a-time lock, plans, opens the
 * workers and the watchdog, sets the consistency point, runs the two phases,
 * writes the per-database objects and the manifest, and only then renames
 * DIR.partial to DIR. Any failure leaves no DIR behind. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dump/backup_internal.h"
#include "dump/manifest.h"
#include "dump/rowfmt.h"
#include "dump/schema.h"
#include "mdl/inspect.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/note.h"
#include "util/pool.h"

json_t *backup_consistency_json(const struct backup *bk)
{
	json_t *cp = json_object();

	json_object_set_new(cp, "method", json_string(bk->method));
	json_object_set_new(cp, "binlog_file", bk->binlog_file[0] ? json_string(bk->binlog_file) : json_null());
	json_object_set_new(cp, "binlog_position", bk->binlog_file[0] ? json_integer((json_int_t)bk->binlog_pos) : json_null());
	json_object_set_new(cp, "gtid", bk->gtid[0] ? json_string(bk->gtid) : json_null());
	json_object_set_new(cp, "commit_block_ms", json_real(bk->commit_block_ms));
	json_object_set_new(cp, "block_commit_wait_ms", json_real(bk->block_commit_wait_ms));
	return cp;
}

static void on_yield(void *ctx, const struct watchdog_yield *y)
{
	struct backup *bk = ctx;

	pthread_mutex_lock(&bk->mu);
	bk->yields++;
	pthread_mutex_unlock(&bk->mu);
	ms_note(bk->o->note, bk->o->ctx, "%s.%s: session %llu waited %.2f s for it (%.80s): making worker session %lu let go",
		y->schema, y->table, y->waiter_id, y->waited_s, y->waiter_statement, y->victim_id);
}

/* Only one backup per server at a time (seed 000 had six overlapping runs). */
int backup_server_lock(struct db *db, struct ms_err *e)
{
	char *got = NULL, *holder = NULL;
	int rc = 0;

	if (db_query_value(db, "SELECT GET_LOCK('mdlsafe.backup', 0)", &got, e))
		return ms_fail_context(e, "taking the one-backup-at-a-time lock");
	if (!got || strcmp(got, "1")) {
		db_query_value(db, "SELECT IS_USED_LOCK('mdlsafe.backup')", &holder, NULL);
		rc = ms_fail(e, MS_BUSY,
			     "another mdlsafe backup is running against this server (session %s holds the lock 'mdlsafe.backup'); wait for it to finish",
			     holder ? holder : "?");
	}
	free(got);
	free(holder);
	return rc;
}

static int mark_schema_only(struct backup *bk, struct ms_err *e)
{
	for (size_t i = 0; i < bk->plan.n_tables; i++) {
		struct dump_table *t = &bk->plan.tables[i];
		char *name = ms_asprintf("%s.%s", t->schema, t->name);

		if (!name)
			return ms_oom(e);
		t->no_data = bk->o->no_data;
		for (size_t k = 0; k < bk->o->n_schema_only && !t->no_data; k++)
			t->no_data = !strcmp(bk->o->schema_only[k], name);
		free(name);
	}
	return 0;
}

static int add_item(struct work_item **v, size_t *n, size_t table, size_t chunk)
{
	struct work_item *grown = realloc(*v, (*n + 1) * sizeof(*grown));

	if (!grown)
		return -1;
	grown[*n].table = table;
	grown[*n].chunk = chunk;
	*v = grown;
	(*n)++;
	return 0;
}

static int build_queues(struct backup *bk, struct ms_err *e)
{
	bk->tables = calloc(bk->plan.n_tables + 1, sizeof(*bk->tables));
	if (!bk->tables)
		return ms_oom(e);
	for (size_t i = 0; i < bk->plan.n_tables; i++) {
		struct table_state *ts = &bk->tables[i];
		struct dump_table *t = &bk->plan.tables[i];
		size_t n = t->no_data ? 1 : t->n_chunks;

		ts->t = t;
		ts->chunk_files = calloc(t->n_chunks, sizeof(*ts->chunk_files));
		ts->chunk_done = calloc(t->n_chunks, sizeof(*ts->chunk_done));
		if (!ts->chunk_files || !ts->chunk_done)
			return ms_oom(e);
		if (!t->transactional) {
			ts->consistency = TABLE_OWN_LOCK;
			if (add_item(&bk->after, &bk->n_after, i, SIZE_MAX))
				return ms_oom(e);
			continue;
		}
		for (size_t c = 0; c < n; c++)
			if (add_item(&bk->items, &bk->n_items, i, c))
				return ms_oom(e);
	}
	return 0;
}

/* What the pool runs in a phase: fn on the index-th worker. Failures go
 * through backup_fail(), which keeps the first and cancels the others. */
struct phase_run {
	struct backup *bk;
	void *(*fn)(void *);
};

static int phase_worker(void *ctx, unsigned index, struct ms_err *e)
{
	struct phase_run *pr = ctx;

	(void)e;
	pr->fn(&pr->bk->workers[index]);
	return 0;
}

static void report_progress(struct backup *bk)
{
	struct backup_progress p;

	if (!bk->o->progress)
		return;
	memset(&p, 0, sizeof(p));
	pthread_mutex_lock(&bk->mu);
	p.tables_total = bk->plan.n_tables;
	p.tables_done = bk->tables_done;
	p.rows = bk->rows;
	p.bytes_raw = bk->bytes_raw;
	p.bytes_stored = bk->bytes_stored;
	p.est_bytes_done = bk->est_done;
	p.yields = bk->yields;
	pthread_mutex_unlock(&bk->mu);
	for (size_t i = 0; i < bk->plan.n_tables; i++)
		p.est_bytes_total += bk->plan.tables[i].est_bytes;
	p.elapsed_s = ms_now() - bk->started_at;
	bk->o->progress(bk->o->ctx, &p);
}

/* Interrupts every worker's statement so threads notice the cancel flag. */
static void interrupt_workers(struct backup *bk)
{
	for (unsigned i = 0; i < bk->n_workers; i++) {
		char sql[64];
		snprintf(sql, sizeof(sql), "KILL QUERY %lu", bk->workers[i].db.thread_id);
		db_exec(&bk->coord, sql, NULL);
	}
}

/* A worker thread could not be started: the others stop at the cancel. */
static void phase_stop(void *ctx, const struct ms_err *why)
{
	struct phase_run *pr = ctx;

	backup_fail(pr->bk, why);
	interrupt_workers(pr->bk);
}

/* Runs one phase on every worker and waits, reporting progress and
 * enforcing --timeout. */
static int run_phase(struct backup *bk, void *(*fn)(void *), struct ms_err *e)
{
	struct phase_run run = { .bk = bk, .fn = fn };
	struct pool pool = { .what = "backup worker", .fn = phase_worker, .stop = phase_stop, .ctx = &run };
	double last_report = 0;
	bool timed_out = false;
	int rc = pool_start(&pool, bk->n_workers, e);

	/* Wake when the last worker finishes, or every 250 ms for progress
	 * and --timeout: no polling delay at the end of a phase. */
	while (rc == 0 && !pool_wait(&pool, 0.25)) {
		if (!timed_out && bk->o->timeout_s > 0 && ms_now() - bk->started_at > bk->o->timeout_s) {
			struct ms_err te;
			/* Say who is in the way before giving up. */
			char *now = mdl_verdict_now(&bk->coord);
			ms_fail(&te, MS_TIMEOUT, "the backup did not finish within --timeout %.0f s; nothing was kept; right now: %s",
				bk->o->timeout_s, now ? now : "(no lock waits visible)");
			free(now);
			backup_fail(bk, &te);
			interrupt_workers(bk);
			timed_out = true;
		}
		if (ms_now() - last_report >= 1.0) {
			report_progress(bk);
			last_report = ms_now();
		}
	}
	if (rc == 0)
		rc = pool_join(&pool, e);
	/* The first failure, whichever thread met it. */
	if (bk->failed) {
		*e = bk->err;
		return -1;
	}
	return rc;
}

static int write_db_file(struct backup *bk, const char *db, const char *name, const char *text, json_t *files,
			 struct ms_err *e)
{
	char rel[600], key[64], *dir;
	struct store_file *f;
	struct store_file_info info;

	if (!text)
		return 0;
	if (!(dir = dump_path_name(db)))
		return ms_oom(e);
	snprintf(rel, sizeof(rel), "%s/%s.sql", dir, name);
	free(dir);
	if (store_file_create(bk->store, rel, STORE_COMPRESS_NONE, 0, &f, e))
		return -1;
	if (store_file_write(f, text, strlen(text), e)) {
		store_file_abort(f);
		return -1;
	}
	if (store_file_close(f, &info, e))
		return -1;
	snprintf(key, sizeof(key), "%s_file", name);
	json_object_set_new(files, key, store_file_info_to_json(&info));
	store_file_info_release(&info);
	return 0;
}

/* CREATE DATABASE, sequences, views, routines and events of each database.
 * Sequences are read after the rows: the restored ones never hand out a
 * value the restored rows hold. */
static int dump_databases(struct backup *bk, json_t *db_files, struct ms_err *e)
{
	for (size_t d = 0; d < bk->plan.n_databases; d++) {
		const char *db = bk->plan.databases[d];
		char *create = NULL, *sequences = NULL, *views = NULL, *routines = NULL, *events = NULL;
		json_t *files = json_object();
		int rc;

		rc = schema_create_database(&bk->coord, db, &create, e) ||
		     schema_sequences(&bk->coord, db, &bk->o->filter, &sequences, e) ||
		     schema_views(&bk->coord, db, &views, e) ||
		     (!bk->o->no_routines && (schema_routines(&bk->coord, db, &routines, e) ||
					      schema_events(&bk->coord, db, &events, e)));
		if (!rc)
			rc = write_db_file(bk, db, "schema", create, files, e) ||
			     write_db_file(bk, db, "sequences", sequences, files, e) ||
			     write_db_file(bk, db, "views", views, files, e) ||
			     write_db_file(bk, db, "routines", routines, files, e) ||
			     write_db_file(bk, db, "events", events, files, e);
		free(create);
		free(sequences);
		free(views);
		free(routines);
		free(events);
		json_object_set_new(db_files, db, files);
		if (rc)
			return ms_fail_context(e, "database %s", db);
	}
	return 0;
}

static json_t *summary_json(struct backup *bk)
{
	json_t *s = json_object();
	unsigned redone = 0, own_lock = 0;

	for (size_t i = 0; i < bk->plan.n_tables; i++) {
		redone += bk->tables[i].consistency == TABLE_AFTER_DDL;
		own_lock += bk->tables[i].consistency == TABLE_OWN_LOCK;
	}
	json_object_set_new(s, "status", json_string("ok"));
	json_object_set_new(s, "directory", json_string(store_final_path(bk->store)));
	json_object_set_new(s, "duration_seconds", json_real(bk->finished_at - bk->started_at));
	json_object_set_new(s, "tables", json_integer((json_int_t)bk->plan.n_tables));
	json_object_set_new(s, "rows", json_integer((json_int_t)bk->rows));
	json_object_set_new(s, "bytes", json_integer((json_int_t)bk->bytes_raw));
	json_object_set_new(s, "stored_bytes", json_integer((json_int_t)bk->bytes_stored));
	json_object_set_new(s, "yields", json_integer(bk->yields));
	json_object_set_new(s, "tables_reread_after_ddl", json_integer(redone));
	json_object_set_new(s, "tables_non_transactional", json_integer(own_lock));
	json_object_set_new(s, "excluded", json_integer((json_int_t)bk->plan.n_excluded));
	json_object_set_new(s, "consistency_point", backup_consistency_json(bk));
	return s;
}

static int finalize(struct backup *bk, struct ms_err *e)
{
	json_t *db_files = json_object(), *m;

	if (dump_databases(bk, db_files, e)) {
		json_decref(db_files);
		return -1;
	}
	bk->finished_at = ms_now();
	m = backup_manifest(bk, db_files);
	json_decref(db_files);
	return manifest_write(bk->store, m, e);
}

static int open_workers(struct backup *bk, struct ms_err *e)
{
	size_t work = bk->n_items + bk->n_after;
	unsigned n = bk->o->jobs ? bk->o->jobs : 1;

	if (work && n > work)
		n = (unsigned)work;
	bk->workers = calloc(n, sizeof(*bk->workers));
	if (!bk->workers)
		return ms_oom(e);
	for (unsigned i = 0; i < n; i++) {
		bk->workers[i].index = i;
		if (backup_worker_open(bk, &bk->workers[i], e))
			return ms_fail_context(e, "opening worker %u", i);
		bk->n_workers++;
		if (!bk->workers[i].binlog_off)
			bk->sql_log_bin_denied = true;
	}
	return 0;
}

static void backup_cleanup(struct backup *bk)
{
	struct ms_err ignored;

	watchdog_stop(bk->watchdog, &ignored);
	for (unsigned i = 0; i < bk->n_workers; i++)
		db_close(&bk->workers[i].db);
	if (bk->coord.mysql) {
		db_exec(&bk->coord, "DO RELEASE_LOCK('mdlsafe.backup')", NULL);
		db_close(&bk->coord);
	}
	for (size_t i = 0; bk->tables && i < bk->plan.n_tables; i++) {
		struct table_state *ts = &bk->tables[i];
		for (size_t c = 0; c < ts->t->n_chunks; c++)
			if (ts->chunk_done[c])
				store_file_info_release(&ts->chunk_files[c]);
		if (ts->has_schema)
			store_file_info_release(&ts->schema_file);
		if (ts->has_triggers)
			store_file_info_release(&ts->triggers_file);
		free(ts->chunk_files);
		free(ts->chunk_done);
	}
	free(bk->tables);
	free(bk->workers);
	free(bk->items);
	free(bk->after);
	dump_plan_release(&bk->plan);
	if (bk->store)
		store_close(bk->store);
	pthread_mutex_destroy(&bk->mu);
}

/* MyISAM/Aria cannot join the snapshot: say so once, naming them. */
static void note_non_transactional(struct backup *bk)
{
	char line[512];
	size_t n = 0, len;

	if (!bk->o->note)
		return;
	len = (size_t)snprintf(line, sizeof(line), "non-transactional tables, each read under its own short lock and consistent only with itself:");
	for (size_t i = 0; i < bk->plan.n_tables && len < sizeof(line); i++) {
		if (bk->plan.tables[i].transactional || bk->plan.tables[i].no_data)
			continue;
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s %s.%s (%s)", n ? "," : "",
					bk->plan.tables[i].schema, bk->plan.tables[i].name, bk->plan.tables[i].engine);
		n++;
	}
	if (n)
		bk->o->note(bk->o->ctx, line);
}

int backup_run(const struct backup_opts *o, json_t **summary, struct ms_err *e)
{
	struct watchdog_opts wo = { o->max_stall_s, 0.1 };
	struct backup bk;
	bool stale = false;
	int rc = -1;

	memset(&bk, 0, sizeof(bk));
	bk.o = o;
	pthread_mutex_init(&bk.mu, NULL);
	bk.started_at = ms_now();
	*summary = NULL;
	if (store_open(o->dir, &bk.store, &stale, e))
		goto out;
	if (stale && o->note)
		o->note(o->ctx, "removed an unfinished backup directory left by an interrupted run");
	if (db_open(&bk.coord, o->conn, "backup", NULL, e) || rowfmt_session_prepare(&bk.coord, e) ||
	    (!o->server_lock_held && backup_server_lock(&bk.coord, e)))
		goto out;
	if (dump_plan_load(&bk.coord, &o->filter, o->no_data ? 0 : o->chunk_rows, o->no_data ? 0 : o->chunk_bytes,
			   &bk.plan, e) ||
	    mark_schema_only(&bk, e) || build_queues(&bk, e) || open_workers(&bk, e))
		goto out;
	note_non_transactional(&bk);
	if (bk.sql_log_bin_denied && o->note)
		o->note(o->ctx, "this user may not set sql_log_bin=0 (needs SUPER or BINLOG ADMIN): on a server with "
				"binary logging, read tables stay locked until the snapshot phase ends; the watchdog "
				"still makes workers let go when someone waits");
	if (watchdog_start(&bk.watchdog, o->conn, &wo, on_yield, &bk, e))
		goto out;
	watchdog_ignore(bk.watchdog, bk.coord.thread_id);
	for (unsigned i = 0; i < bk.n_workers; i++)
		watchdog_ignore(bk.watchdog, bk.workers[i].db.thread_id);

	if (bk.n_items) {
		if (backup_consistent_point(&bk, e) || run_phase(&bk, backup_worker_main, e))
			goto out;
		for (unsigned i = 0; i < bk.n_workers; i++)
			if (db_exec(&bk.workers[i].db, "COMMIT", e))
				goto out;
	}
	if (bk.n_after && run_phase(&bk, backup_worker_after_main, e))
		goto out;
	for (size_t i = 0; i < bk.plan.n_tables; i++) {
		struct table_state *ts = &bk.tables[i];
		if (!ts->t->no_data && ts->chunks_done != ts->t->n_chunks) {
			ms_fail(e, MS_INTERNAL, "%s.%s was not read completely (%zu of %zu chunks); nothing was kept",
				ts->t->schema, ts->t->name, ts->chunks_done, ts->t->n_chunks);
			goto out;
		}
	}
	/* The data is sound either way, but whoever relies on the budget must
	 * know if it was not watched. */
	if (bk.watchdog && watchdog_poll_errors(bk.watchdog))
		ms_note(o->note, o->ctx,
			"warning: the watchdog failed %u polls (it reconnected); the stall budget may not have been kept",
			watchdog_poll_errors(bk.watchdog));
	{
		struct watchdog *wd = bk.watchdog;
		struct ms_err we;
		bk.watchdog = NULL;
		if (watchdog_stop(wd, &we))
			ms_note(o->note, o->ctx,
				"warning: %s; the stall budget was not watched for part of the run (the data is complete)", we.msg);
	}
	if (finalize(&bk, e))
		goto out;
	report_progress(&bk);
	*summary = summary_json(&bk);
	rc = 0;
out:
	backup_cleanup(&bk);
	return rc;
}
