/* The rows of an online schema change: copied from the original table into
 * the shadow in chunks of the copy key, verified chunk by chunk, with the
 * position kept in a checkpoint table so a crashed run can resume. */
#include "ddl/online_internal.h"
#include "util/clock.h"
#include "util/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CHUNK_MIN 50.0
#define CHUNK_MAX 200000.0
#define PAUSE_S 0.25
/* Chunks aim at half of --chunk-time: on a busy server their time varies
 * (twice the aim was seen), and an application write to a row of the chunk
 * waits for all of it. */
#define CHUNK_AIM 0.5
#define CRC32C_VERSION 100800

void online_free_key(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* A copy of key k (n_key values; a NULL value becomes ""), or NULL when
 * out of memory. */
static char **dup_key(const struct online *s, char **k)
{
	char **v = calloc(s->n_key, sizeof(*v));

	for (size_t i = 0; v && i < s->n_key; i++)
		if (!(v[i] = strdup(k[i] ? k[i] : "")))
			online_free_key(v, s->n_key), v = NULL;
	return v;
}

static void add_col(struct buf *b, const char *alias, const char *name)
{
	if (alias)
		buf_addf(b, "%s.", alias);
	online_add_ident(b, name);
}

/* (k1, ..., kn) compared with vals, spelled out so the range optimizer
 * uses the index: k1 OP1 v1 OR (k1 = v1 AND k2 OP1 v2) ... where the last
 * column compares with op_last (">" for after, "<=" for up to). */
static void add_key_cmp(struct online *s, struct db *db, struct buf *b, const char *alias, char **vals, const char *op,
			const char *op_last)
{
	buf_adds(b, "(");
	for (size_t i = 0; i < s->n_key; i++) {
		buf_adds(b, i ? " OR (" : "(");
		for (size_t j = 0; j < i; j++) {
			add_col(b, alias, s->key[j]);
			buf_adds(b, " = ");
			online_add_value(db, b, vals[j]);
			buf_adds(b, " AND ");
		}
		add_col(b, alias, s->key[i]);
		buf_addf(b, " %s ", i + 1 == s->n_key ? op_last : op);
		online_add_value(db, b, vals[i]);
		buf_adds(b, ")");
	}
	buf_adds(b, ")");
}

/* The chunk (lower, upper]: either bound may be NULL (open). */
static void add_range(struct online *s, struct db *db, struct buf *b, const char *alias, char **lower, char **upper)
{
	if (!lower && !upper) {
		buf_adds(b, "TRUE");
		return;
	}
	if (lower)
		add_key_cmp(s, db, b, alias, lower, ">", ">");
	if (lower && upper)
		buf_adds(b, " AND ");
	if (upper)
		add_key_cmp(s, db, b, alias, upper, "<", "<=");
}

static void add_cols(struct online *s, struct buf *b, const char *alias)
{
	for (size_t i = 0; i < s->n_cols; i++) {
		if (i)
			buf_adds(b, ", ");
		add_col(b, alias, s->cols[i].name);
	}
}

static void add_key_cols(struct online *s, struct buf *b, const char *alias)
{
	for (size_t i = 0; i < s->n_key; i++) {
		if (i)
			buf_adds(b, ", ");
		add_col(b, alias, s->key[i]);
	}
}

static void add_source(struct online *s, struct buf *b, const char *alias)
{
	online_add_table(b, s->schema, s->table);
	if (alias)
		buf_addf(b, " %s", alias);
	buf_adds(b, " FORCE INDEX (");
	online_add_ident(b, s->key_name);
	buf_adds(b, ")");
}

static int sql_done(struct buf *b, struct ms_err *e)
{
	return b->failed ? ms_fail(e, MS_INTERNAL, "out of memory building a statement") : 0;
}

/* The key of the n-th row after lower, or *upper = NULL when there are
 * fewer rows than that left (the chunk is the last one). With lock, the
 * read also takes shared locks on the chunk: InnoDB locks every record a
 * locking read scans, those LIMIT's offset skips included, with next-key
 * locks under REPEATABLE READ (the level the session runs at), so no row
 * enters, changes or leaves (lower, upper] until the transaction ends; when
 * fewer than n rows are left, everything after lower is locked. */
static int next_bound(struct online *s, struct db *db, char **lower, unsigned long n, bool lock, char ***upper,
		      struct ms_err *e)
{
	struct buf b = BUF_INIT;
	MYSQL_RES *r = NULL;
	MYSQL_ROW row;
	int rc;

	*upper = NULL;
	buf_adds(&b, "SELECT ");
	add_key_cols(s, &b, NULL);
	buf_adds(&b, " FROM ");
	add_source(s, &b, NULL);
	buf_adds(&b, " WHERE ");
	add_range(s, db, &b, NULL, lower, NULL);
	buf_adds(&b, " ORDER BY ");
	add_key_cols(s, &b, NULL);
	buf_addf(&b, " LIMIT 1 OFFSET %lu", n - 1);
	if (lock)
		buf_adds(&b, " LOCK IN SHARE MODE");
	if ((rc = sql_done(&b, e)) == 0)
		rc = db_query(db, buf_str(&b), &r, e);
	if (rc == 0 && r && (row = mysql_fetch_row(r)) && !(*upper = dup_key(s, row)))
		rc = ms_fail(e, MS_INTERNAL, "out of memory");
	if (r)
		mysql_free_result(r);
	buf_release(&b);
	return rc;
}

static bool file_exists(const char *path)
{
	return path && access(path, F_OK) == 0;
}

static unsigned long threads_running(struct online *s)
{
	char *v = NULL;
	struct ms_err e;
	unsigned long n = 0;

	if (db_query_value(&s->watch,
			   "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE "
			   "VARIABLE_NAME = 'THREADS_RUNNING'",
			   &v, &e) == 0 &&
	    v)
		n = strtoul(v, NULL, 10);
	free(v);
	return n;
}

static void progress(struct online *s, const char *phase, unsigned long long done, double t0, bool paused)
{
	struct online_progress p = {phase, done, s->rows_estimated, 0, ms_now() - t0, paused};

	if (!s->o->progress)
		return;
	if (p.elapsed_s > 0)
		p.rows_per_s = (double)done / p.elapsed_s;
	pthread_mutex_lock(&s->out_mu);
	s->o->progress(s->o->ctx, &p);
	pthread_mutex_unlock(&s->out_mu);
}

/* Seconds_Behind_Master of a replica: -1 when NULL (replication not
 * running), -2 when it is not a replica or cannot be asked. */
static double replica_lag(struct db *db)
{
	MYSQL_RES *r = NULL;
	MYSQL_ROW row;
	struct ms_err e;
	double lag = -2;

	if (db_query(db, "SHOW SLAVE STATUS", &r, &e) == 0 && r && (row = mysql_fetch_row(r))) {
		MYSQL_FIELD *f = mysql_fetch_fields(r);
		for (unsigned i = 0; i < mysql_num_fields(r); i++)
			if (!strcasecmp(f[i].name, "Seconds_Behind_Master"))
				lag = row[i] ? atof(row[i]) : -1;
	}
	if (r)
		mysql_free_result(r);
	return lag;
}

int online_replicas_open(struct online *s, struct ms_err *e)
{
	if (!s->o->n_replicas)
		return 0;
	if (!(s->replicas = calloc(s->o->n_replicas, sizeof(*s->replicas))))
		return ms_fail(e, MS_INTERNAL, "out of memory");
	for (size_t i = 0; i < s->o->n_replicas; i++) {
		struct db_params p = *s->o->conn;
		char host[256];
		const char *colon = strrchr(s->o->replicas[i], ':');

		snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - s->o->replicas[i]) : 255, s->o->replicas[i]);
		/* Same credentials and options, another server, over TCP. */
		p.host = host;
		p.port = colon ? (unsigned)strtoul(colon + 1, NULL, 10) : 3306;
		p.socket = NULL;
		p.database = NULL;
		if (db_open(&s->replicas[i], &p, "ddl-lag", NULL, e))
			return ms_fail_context(e, "--replica %s", s->o->replicas[i]);
		if (replica_lag(&s->replicas[i]) == -2)
			return ms_fail(e, MS_USAGE, "--replica %s: SHOW SLAVE STATUS shows no replication there",
				       s->o->replicas[i]);
	}
	return 0;
}

void online_replicas_close(struct online *s)
{
	for (size_t i = 0; s->replicas && i < s->o->n_replicas; i++)
		db_close(&s->replicas[i]);
	free(s->replicas);
	s->replicas = NULL;
}

/* The first replica lagging more than --max-lag (or not applying), with
 * its lag in *lag (-1: NULL); NULL when none. */
static const char *lagging_replica(struct online *s, double *lag)
{
	for (size_t i = 0; s->replicas && i < s->o->n_replicas; i++) {
		*lag = replica_lag(&s->replicas[i]);
		if (*lag < 0 || *lag > s->o->max_lag_s)
			return s->o->replicas[i];
	}
	return NULL;
}

/* Waits while --pause-file exists, the server is busier than --max-load
 * or a replica lags more than --max-lag; gives up at --deadline. */
static int throttle(struct online *s, const char *phase, unsigned long long done, double t0, struct ms_err *e)
{
	bool told_pause = false, told_load = false, told_lag = false;

	for (;;) {
		bool paused = file_exists(s->o->pause_file);
		unsigned long running = s->o->max_load && !paused ? threads_running(s) : 0;
		double lag = 0;
		const char *lagging = !paused ? lagging_replica(s, &lag) : NULL;

		if (ms_now() >= s->deadline)
			return ms_fail(e, MS_TIMEOUT,
				       "--deadline reached during the %s after %llu rows; the "
				       "original table is unchanged",
				       phase, done);
		if (online_stopped(s, e))
			return -1;
		if (lagging && !told_lag) {
			if (lag < 0)
				online_note(
				    s, "%s paused: replica %s is not applying changes (Seconds_Behind_Master is NULL)",
				    phase, lagging);
			else
				online_note(s, "%s paused: replica %s lags %.0f s > --max-lag %.0f s", phase, lagging,
					    lag, s->o->max_lag_s);
		}
		told_lag |= lagging != NULL;
		if (lagging) {
			progress(s, phase, done, t0, true);
			ms_sleep(PAUSE_S);
			continue;
		}
		if (!paused && running <= s->o->max_load)
			return 0;
		if (paused && !told_pause)
			online_note(s, "%s paused: %s exists", phase, s->o->pause_file);
		if (!paused && !told_load)
			online_note(s, "%s paused: Threads_running %lu > --max-load %u", phase, running,
				    s->o->max_load);
		told_pause |= paused;
		told_load |= !paused;
		progress(s, phase, done, t0, true);
		ms_sleep(PAUSE_S);
	}
}

/* The next chunk's size (*size) from how long the last one held its locks:
 * smaller at once after a chunk that took too long, larger only by halves. */
static void adapt(const struct online *s, double *size, unsigned long rows, double took)
{
	double want;

	if (took <= 0.001 || rows == 0)
		want = *size * 2;
	else
		want = (double)rows / took * s->o->chunk_time_s * CHUNK_AIM;
	*size = want < *size ? want : *size * 0.5 + want * 0.5;
	if (*size < CHUNK_MIN)
		*size = CHUNK_MIN;
	if (*size > CHUNK_MAX)
		*size = CHUNK_MAX;
}

/* A chunk that met an application's row lock (lock wait timeout, or chosen
 * as a deadlock victim) is tried again after a backoff, until --deadline. */
static struct lockreq_retry row_lock_retry(const struct online *s)
{
	return (struct lockreq_retry){ .set = LOCKREQ_RETRY_ROW_LOCK, .deadline = s->deadline, .base_s = 0.05, .cap = 4 };
}

static bool row_lock_conflict(struct online *s, const struct ms_err *e, struct lockreq_retry *r)
{
	if (!lockreq_retry_next(r, e))
		return false;
	if (r->attempt % 10 == 1)
		online_note(s, "a chunk met an application's row lock (%s); trying it again", e->msg);
	lockreq_retry_wait(r);
	return true;
}

static int copy_range(struct online *s, struct db *db, char **lower, char **upper, bool ignore, struct ms_err *e)
{
	struct buf b = BUF_INIT;
	int rc;

	buf_addf(&b, "INSERT %sINTO ", ignore ? "IGNORE " : "");
	online_add_table(&b, s->schema, s->shadow);
	buf_adds(&b, " (");
	add_cols(s, &b, NULL);
	buf_adds(&b, ") SELECT ");
	add_cols(s, &b, NULL);
	buf_adds(&b, " FROM ");
	add_source(s, &b, NULL);
	buf_adds(&b, " WHERE ");
	add_range(s, db, &b, NULL, lower, upper);
	buf_adds(&b, " LOCK IN SHARE MODE");
	if ((rc = sql_done(&b, e)) == 0)
		rc = db_exec(db, buf_str(&b), e);
	buf_release(&b);
	return rc;
}

/* Commits the chunk's transaction when rc is 0, else rolls it back. */
static int end_locked(struct db *db, int rc, struct ms_err *e)
{
	if (rc == 0)
		rc = db_exec(db, "COMMIT", e);
	else
		db_exec(db, "ROLLBACK", &(struct ms_err){ 0 });
	return rc;
}

/*
 * One chunk of up to n rows after s->last, in one transaction: its range of
 * the original locked and its upper bound found by one locking read, then
 * copied (*inserted rows), then the checkpoint advanced to *upper, then
 * committed. Every lock on the original is taken before the shadow is
 * touched, the order the triggers use (original, then shadow): an
 * application write then waits for the chunk instead of deadlocking with it.
 * The checkpoint commits with the rows it counts.
 */
static int copy_chunk(struct online *s, unsigned long n, char ***upper, unsigned long long *inserted, struct ms_err *e)
{
	double t0 = ms_now(), t1, t2, t3;
	char *v = NULL;
	int rc = db_exec(&s->exec, "START TRANSACTION", e);

	if (rc == 0)
		rc = next_bound(s, &s->exec, s->last, n, true, upper, e);
	t1 = ms_now();
	if (rc == 0)
		rc = copy_range(s, &s->exec, s->last, *upper, true, e);
	if (rc == 0 && (rc = db_query_value(&s->exec, "SELECT ROW_COUNT()", &v, e)) == 0)
		*inserted = v && v[0] != '-' ? strtoull(v, NULL, 10) : 0;
	free(v);
	t2 = ms_now();
	if (rc == 0 && *upper)
		rc = online_checkpoint_save(s, *upper, s->rows_copied + n, e);
	t3 = ms_now();
	rc = end_locked(&s->exec, rc, e);
	if (rc == 0) {
		s->t.lock += t1 - t0;
		s->t.insert += t2 - t1;
		s->t.checkpoint += t3 - t2;
		s->t.commit += ms_now() - t3;
		s->t.held = ms_now() - t0;
		if (s->t.held > s->t.chunk_max)
			s->t.chunk_max = s->t.held;
	}
	return rc;
}

/* Where a phase's time went, in its JSON object: the original's locking
 * reads, the shadow's writes (copy) or reads (verify), ... */
static void add_timings(json_t *o, const struct online_timings *t)
{
	json_object_set_new(o, "seconds_original", json_real(t->lock));
	json_object_set_new(o, "seconds_shadow", json_real(t->insert));
	json_object_set_new(o, "seconds_checkpoint", json_real(t->checkpoint));
	json_object_set_new(o, "seconds_commits", json_real(t->commit));
	json_object_set_new(o, "longest_chunk_seconds", json_real(t->chunk_max));
}

/* Hands a committed chunk's upper bound to the verify behind the copy;
 * fails when that verify has failed (the copy then stops). */
static int behind_push(struct online *s, char **upper, struct ms_err *e)
{
	struct online_behind *b = &s->behind;
	char **k = dup_key(s, upper);
	bool failed, kept = false;

	pthread_mutex_lock(&b->mu);
	if (b->head == b->n)
		b->head = b->n = 0;
	if (k && b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		char ***grown = realloc(b->bounds, cap * sizeof(*grown));

		if (grown) {
			b->bounds = grown;
			b->cap = cap;
		}
	}
	if (k && b->n < b->cap) {
		b->bounds[b->n++] = k;
		kept = true;
		pthread_cond_signal(&b->moved);
	}
	failed = b->failed;
	pthread_mutex_unlock(&b->mu);
	if (!kept) {
		online_free_key(k, s->n_key);
		return ms_oom(e);
	}
	/* The verify's own error replaces this one when its thread is joined. */
	return failed ? ms_fail(e, MS_SERVER, "the verify behind the copy failed") : 0;
}

static int online_copy(struct online *s, bool behind, struct ms_err *e)
{
	double t0 = ms_now();
	unsigned long long at_start = s->rows_copied;

	for (;;) {
		unsigned long n = (unsigned long)s->chunk_rows;
		unsigned long long inserted = 0;
		char **upper = NULL;

		if (throttle(s, "copy", s->rows_copied, t0, e))
			return -1;
		for (struct lockreq_retry r = row_lock_retry(s);;) {
			if (copy_chunk(s, n, &upper, &inserted, e) == 0)
				break;
			online_free_key(upper, s->n_key);
			upper = NULL;
			if (!row_lock_conflict(s, e, &r))
				return ms_fail_context(e, "copying rows into %s.%s", s->schema, s->shadow);
		}
		s->chunks++;
		if (!upper) {
			/* The last chunk is open-ended: count what it inserted. */
			s->rows_copied += inserted;
			break;
		}
		s->rows_copied += n;
		adapt(s, &s->chunk_rows, n, s->t.held);
		online_free_key(s->last, s->n_key);
		s->last = upper;
		if (behind && behind_push(s, upper, e))
			return -1;
		progress(s, "copy", s->rows_copied, t0, false);
	}
	json_object_set_new(s->copy, "rows", json_integer((json_int_t)s->rows_copied));
	json_object_set_new(s->copy, "chunks", json_integer((json_int_t)s->chunks));
	json_object_set_new(s->copy, "seconds", json_real(ms_now() - t0));
	add_timings(s->copy, &s->t);
	json_object_set_new(s->copy, "rows_per_second",
			    json_real((double)(s->rows_copied - at_start) / (ms_now() - t0 + 1e-9)));
	online_note(s, "copy: %llu rows in %llu chunk%s, %.1f s", s->rows_copied, s->chunks, s->chunks == 1 ? "" : "s",
		    ms_now() - t0);
	return 0;
}

/* ---- verify ------------------------------------------------------------- */

/* Starts a transaction holding shared row locks on the original's chunk
 * (lower, upper], taken before anything of the shadow is read or written. */
static int begin_locked(struct online *s, struct db *db, char **lower, char **upper, struct ms_err *e)
{
	struct buf b = BUF_INIT;
	char *n = NULL;
	int rc;

	buf_adds(&b, "SELECT COUNT(*) FROM ");
	add_source(s, &b, NULL);
	buf_adds(&b, " WHERE ");
	add_range(s, db, &b, NULL, lower, upper);
	buf_adds(&b, " LOCK IN SHARE MODE");
	rc = sql_done(&b, e);
	if (rc == 0)
		rc = db_exec(db, "START TRANSACTION", e);
	if (rc == 0)
		rc = db_query_value(db, buf_str(&b), &n, e);
	free(n);
	buf_release(&b);
	return rc;
}

/* A common column as both tables' rows are compared: text as utf8mb4,
 * anything else as the server spells it. For a digest (exact), text that
 * keeps its character set is hashed as it is stored. */
static void add_compared(struct online *s, struct buf *b, const char *alias, size_t i, bool digest)
{
	if (!s->cols[i].text || (digest && !s->cols[i].convert)) {
		add_col(b, alias, s->cols[i].name);
		return;
	}
	buf_adds(b, "CONVERT(");
	add_col(b, alias, s->cols[i].name);
	buf_adds(b, digest ? " USING utf8mb4)" : " USING utf8mb4) COLLATE utf8mb4_bin");
}

/* Each row's common columns as one string, NULL marked apart from empty. */
static void add_row_text(struct online *s, struct buf *b)
{
	buf_adds(b, "CONCAT_WS('#'");
	for (size_t i = 0; i < s->n_cols; i++) {
		buf_adds(b, ", ");
		add_compared(s, b, NULL, i, true);
	}
	buf_adds(b, ", CONCAT(''");
	for (size_t i = 0; i < s->n_cols; i++) {
		buf_adds(b, ", ISNULL(");
		add_col(b, NULL, s->cols[i].name);
		buf_adds(b, ")");
	}
	buf_adds(b, "))");
}

/*
 * The rows of one side's chunk and a 64-bit digest of them (the XOR of a
 * 64-bit hash of each row's text), read with shared locks when `locked`,
 * else from the transaction's snapshot. Each row's text
 * holds its key, so two chunks with the same rows have the same digest
 * whatever their order. The hash is CRC32 and CRC32C side by side where
 * the server has CRC32C (10.8), else the first half of an MD5 (slower).
 */
static int digest_side(struct online *s, struct db *db, bool original, bool locked, char **lower, char **upper,
		       char **count, char **digest, struct ms_err *e)
{
	struct buf b = BUF_INIT;
	MYSQL_RES *r = NULL;
	MYSQL_ROW row;
	int rc;

	buf_adds(&b, "SELECT COUNT(*), COALESCE(BIT_XOR(");
	if (db->server_version >= CRC32C_VERSION) {
		buf_adds(&b, "(CRC32(");
		add_row_text(s, &b);
		buf_adds(&b, ") << 32) | CRC32C(");
		add_row_text(s, &b);
		buf_adds(&b, ")");
	} else {
		buf_adds(&b, "CAST(CONV(LEFT(MD5(");
		add_row_text(s, &b);
		buf_adds(&b, "), 16), 16, 10) AS UNSIGNED)");
	}
	buf_adds(&b, "), 0) FROM ");
	if (original)
		add_source(s, &b, NULL);
	else
		online_add_table(&b, s->schema, s->shadow);
	buf_adds(&b, " WHERE ");
	add_range(s, db, &b, NULL, lower, upper);
	if (locked)
		buf_adds(&b, " LOCK IN SHARE MODE");
	if ((rc = sql_done(&b, e)) == 0 && (rc = db_query(db, buf_str(&b), &r, e)) == 0 && r &&
	    (row = mysql_fetch_row(r))) {
		*count = strdup(row[0] ? row[0] : "0");
		*digest = strdup(row[1] ? row[1] : "0");
	}
	if (rc == 0 && (!*count || !*digest))
		rc = ms_fail(e, MS_INTERNAL, "out of memory or no row reading a chunk digest");
	if (r)
		mysql_free_result(r);
	buf_release(&b);
	return rc;
}

/* Rows of the original chunk that are missing from the shadow or differ in
 * any common column (compared as values, <=>), then the rows of the
 * shadow's chunk; in the caller's transaction, whose locks already cover
 * both ranges. */
static int compare_rows(struct online *s, struct db *db, char **lower, char **upper, bool *same,
			unsigned long long *rows, struct ms_err *e)
{
	struct buf b = BUF_INIT;
	char *orig = NULL, *shadow_rows = NULL;
	MYSQL_RES *r = NULL;
	MYSQL_ROW row;
	int rc;

	buf_adds(&b, "SELECT COUNT(*), COALESCE(SUM(NOT (TRUE");
	for (size_t i = 0; i < s->n_cols; i++) {
		buf_adds(&b, " AND ");
		add_compared(s, &b, "o", i, false);
		buf_adds(&b, " <=> ");
		add_compared(s, &b, "n", i, false);
	}
	buf_adds(&b, ")), 0) FROM ");
	add_source(s, &b, "o");
	buf_adds(&b, " LEFT JOIN ");
	online_add_table(&b, s->schema, s->shadow);
	buf_adds(&b, " n ON ");
	for (size_t i = 0; i < s->n_key; i++) {
		buf_adds(&b, i ? " AND " : "");
		add_col(&b, "n", s->key[i]);
		buf_adds(&b, " = ");
		add_col(&b, "o", s->key[i]);
	}
	buf_adds(&b, " WHERE ");
	add_range(s, db, &b, "o", lower, upper);
	buf_adds(&b, " LOCK IN SHARE MODE");
	if ((rc = sql_done(&b, e)) == 0 && (rc = db_query(db, buf_str(&b), &r, e)) == 0 && r &&
	    (row = mysql_fetch_row(r))) {
		*rows = strtoull(row[0] ? row[0] : "0", NULL, 10);
		orig = strdup(row[1] ? row[1] : "0");
	}
	if (r)
		mysql_free_result(r);
	buf_reset(&b);
	buf_adds(&b, "SELECT COUNT(*) FROM ");
	online_add_table(&b, s->schema, s->shadow);
	buf_adds(&b, " WHERE ");
	add_range(s, db, &b, NULL, lower, upper);
	buf_adds(&b, " LOCK IN SHARE MODE");
	if (rc == 0 && (rc = sql_done(&b, e)) == 0)
		rc = db_query_value(db, buf_str(&b), &shadow_rows, e);
	*same = rc == 0 && orig && shadow_rows && !strcmp(orig, "0") && strtoull(shadow_rows, NULL, 10) == *rows;
	free(orig);
	free(shadow_rows);
	buf_release(&b);
	return rc;
}

/*
 * Compares the chunk (lower, upper] of both tables in one transaction.
 * Unlocked, both sides are read from one snapshot (the session runs at
 * REPEATABLE READ): a trigger changes the shadow in the transaction that
 * changes the original, so every committed state holds both changes or
 * neither, and equal row counts and digests there mean the chunk is the
 * same. No row is locked, so no application write waits for it. Locked,
 * the original's range is read (and locked) whole before the shadow's, the
 * order the triggers use, so no application write deadlocks with it, and
 * where the digests differ (a difference, or a column whose spelling the
 * ALTER changes, as DECIMAL scale does) the rows are compared value by
 * value, which decides. Only a chunk that differed unlocked is read locked.
 */
static int compare_chunk(struct online *s, struct db *db, bool locked, char **lower, char **upper, bool *same,
			 unsigned long long *rows, struct ms_err *e)
{
	char *oc = NULL, *od = NULL, *nc = NULL, *nd = NULL;
	double t0 = ms_now(), t1;
	int rc = db_exec(db, "START TRANSACTION", e);

	if (rc == 0)
		rc = digest_side(s, db, true, locked, lower, upper, &oc, &od, e);
	t1 = ms_now();
	if (rc == 0)
		rc = digest_side(s, db, false, locked, lower, upper, &nc, &nd, e);
	*same = rc == 0 && !strcmp(oc, nc) && !strcmp(od, nd);
	if (rc == 0)
		*rows = strtoull(oc, NULL, 10);
	if (rc == 0 && !*same && locked)
		rc = compare_rows(s, db, lower, upper, same, rows, e);
	s->tv.lock += t1 - t0;
	s->tv.insert += ms_now() - t1;
	t1 = ms_now();
	rc = end_locked(db, rc, e);
	s->tv.commit += ms_now() - t1;
	s->tv.held = ms_now() - t0;
	if (s->tv.held > s->tv.chunk_max)
		s->tv.chunk_max = s->tv.held;
	free(oc);
	free(od);
	free(nc);
	free(nd);
	return rc;
}

/* Copies the chunk again: its rows in the shadow are replaced by the
 * original's, in one transaction holding the original's range. */
static int repair_chunk(struct online *s, struct db *db, char **lower, char **upper, struct ms_err *e)
{
	struct buf b = BUF_INIT;
	int rc;

	rc = begin_locked(s, db, lower, upper, e);
	buf_adds(&b, "DELETE FROM ");
	online_add_table(&b, s->schema, s->shadow);
	buf_adds(&b, " WHERE ");
	add_range(s, db, &b, NULL, lower, upper);
	if (rc == 0 && (rc = sql_done(&b, e)) == 0)
		rc = db_exec(db, buf_str(&b), e);
	if (rc == 0)
		rc = copy_range(s, db, lower, upper, false, e);
	rc = end_locked(db, rc, e);
	buf_release(&b);
	return rc;
}

/*
 * Verifies the chunk (s->vd.lower, upper] on db: compared from a snapshot,
 * then locked where that differed, then copied again and compared once more
 * where that differed too. On success s->vd advances past it. Takes upper.
 */
static int verify_chunk(struct online *s, struct db *db, char **upper, struct ms_err *e)
{
	struct online_verified *v = &s->vd;
	unsigned long long in_chunk = 0;
	bool same = false;

	for (struct lockreq_retry r = row_lock_retry(s);;) {
		if (compare_chunk(s, db, false, v->lower, upper, &same, &in_chunk, e) == 0 &&
		    (same || compare_chunk(s, db, true, v->lower, upper, &same, &in_chunk, e) == 0))
			break;
		if (!row_lock_conflict(s, e, &r))
			goto failed;
	}
	if (!same) {
		online_note(s, "verify: chunk %llu differs between %s and %s; copying it again", v->chunks + 1,
			    s->table, s->shadow);
		v->repaired++;
		if (repair_chunk(s, db, v->lower, upper, e) ||
		    compare_chunk(s, db, true, v->lower, upper, &same, &in_chunk, e))
			goto failed;
		if (!same) {
			online_free_key(upper, s->n_key);
			return ms_fail(e, MS_SERVER,
				       "verify: chunk %llu of %s.%s still differs from %s after copying it again: "
				       "the ALTER changes values (truncation, rounding, a charset that cannot hold "
				       "them?); the original table is unchanged (--no-verify skips this check)",
				       v->chunks + 1, s->schema, s->table, s->shadow);
		}
	}
	v->chunks++;
	v->rows += in_chunk;
	online_free_key(v->lower, s->n_key);
	v->lower = upper;
	return 0;
failed:
	online_free_key(upper, s->n_key);
	return ms_fail_context(e, "verifying %s.%s against %s", s->schema, s->table, s->shadow);
}

/* Verifies from s->vd.lower to the end of the table on the copy's session,
 * in chunks sized like the copy's. */
static int verify_rest(struct online *s, struct ms_err *e)
{
	struct online_verified *v = &s->vd;

	for (;;) {
		unsigned long n = (unsigned long)v->chunk_rows;
		char **upper = NULL;
		bool last;

		if (throttle(s, "verify", v->rows, v->started, e))
			return -1;
		if (next_bound(s, &s->exec, v->lower, n, false, &upper, e))
			return ms_fail_context(e, "verifying %s.%s against %s", s->schema, s->table, s->shadow);
		last = !upper;
		if (verify_chunk(s, &s->exec, upper, e))
			return -1;
		adapt(s, &v->chunk_rows, n, s->tv.held);
		progress(s, "verify", v->rows, v->started, false);
		if (last)
			return 0;
	}
}

/* ---- verify behind the copy ---------------------------------------------- */

/*
 * The verify's thread while the copy runs: it takes each committed chunk of
 * the copy in order and verifies it on s->vexec. A chunk behind the copy's
 * committed position can be compared at any time: the copy never writes
 * there again and the triggers keep both tables equal in every committed
 * state. Returns when the copy has ended and every chunk handed over is
 * verified, or at once when the copy failed (abandon).
 */
static int behind_main(void *ctx, unsigned index, struct ms_err *e)
{
	struct online *s = ctx;
	struct online_behind *b = &s->behind;

	(void)index;
	for (;;) {
		char **upper;

		pthread_mutex_lock(&b->mu);
		while (b->head == b->n && !b->copy_ended && !b->abandon)
			pthread_cond_wait(&b->moved, &b->mu);
		if (b->abandon || b->head == b->n) {
			pthread_mutex_unlock(&b->mu);
			return 0;
		}
		upper = b->bounds[b->head];
		b->bounds[b->head++] = NULL;
		pthread_mutex_unlock(&b->mu);
		if (verify_chunk(s, &s->vexec, upper, e)) {
			pthread_mutex_lock(&b->mu);
			b->failed = true;
			pthread_mutex_unlock(&b->mu);
			return -1;
		}
	}
}

/* Ends the verify's thread: after the chunks handed over (the copy ended)
 * or at once (abandon). */
static void behind_end(struct online *s, bool abandon)
{
	struct online_behind *b = &s->behind;

	pthread_mutex_lock(&b->mu);
	b->copy_ended = true;
	b->abandon |= abandon;
	pthread_cond_broadcast(&b->moved);
	pthread_mutex_unlock(&b->mu);
}

static void behind_stop(void *ctx, const struct ms_err *why)
{
	(void)why;
	behind_end(ctx, true);
}

static void behind_free(struct online *s)
{
	struct online_behind *b = &s->behind;

	for (size_t i = b->head; i < b->n; i++)
		online_free_key(b->bounds[i], s->n_key);
	free(b->bounds);
	b->bounds = NULL;
	b->head = b->n = b->cap = 0;
}

static void verify_report(struct online *s, bool behind, double copy_ended)
{
	struct online_verified *v = &s->vd;
	double now = ms_now();

	json_object_set_new(s->verify, "rows", json_integer((json_int_t)v->rows));
	json_object_set_new(s->verify, "chunks", json_integer((json_int_t)v->chunks));
	json_object_set_new(s->verify, "chunks_repaired", json_integer((json_int_t)v->repaired));
	json_object_set_new(s->verify, "seconds", json_real(now - v->started));
	json_object_set_new(s->verify, "behind_copy", json_boolean(behind));
	json_object_set_new(s->verify, "seconds_after_copy", json_real(now - copy_ended));
	add_timings(s->verify, &s->tv);
	online_note(s,
		    "verify: %llu rows in %llu chunk%s identical in both tables (%llu chunk%s copied again), "
		    "%.1f s after the copy",
		    v->rows, v->chunks, v->chunks == 1 ? "" : "s", v->repaired, v->repaired == 1 ? "" : "s",
		    now - copy_ended);
}

int online_copy_and_verify(struct online *s, struct ms_err *e)
{
	struct pool p = { .what = "verify", .fn = behind_main, .stop = behind_stop, .ctx = s };
	/* After --resume the copied part has no chunk bounds to hand over: it
	 * is verified after the copy, from the start. */
	bool verify = !s->o->no_verify, behind = verify && !s->last;
	double copy_ended;
	int rc;

	s->vd.started = ms_now();
	s->vd.chunk_rows = s->chunk_rows;
	if (behind && pool_start(&p, 1, e))
		return ms_fail_context(e, "starting the verify");
	rc = online_copy(s, behind, e);
	copy_ended = ms_now();
	if (behind) {
		struct ms_err ve;

		behind_end(s, rc != 0);
		if (pool_join(&p, &ve)) {
			*e = ve;
			rc = -1;
		}
		behind_free(s);
	}
	if (rc == 0 && verify && verify_rest(s, e) == 0)
		verify_report(s, behind, copy_ended);
	else if (rc == 0 && verify)
		rc = -1;
	online_free_key(s->vd.lower, s->n_key);
	s->vd.lower = NULL;
	return rc;
}

/* ---- checkpoint --------------------------------------------------------- */

static void add_checkpoint(struct online *s, struct buf *b)
{
	online_add_table(b, s->schema, ONLINE_CHECKPOINT);
}

int online_checkpoint_create(struct online *s, const char *alter_sql, struct ms_err *e)
{
	struct buf b = BUF_INIT;
	int rc;

	buf_adds(&b, "CREATE TABLE IF NOT EXISTS ");
	add_checkpoint(s, &b);
	buf_adds(&b, " (table_name VARCHAR(64) NOT NULL PRIMARY KEY, shadow_name "
		     "VARCHAR(64) NOT NULL, "
		     "old_name VARCHAR(64) NOT NULL, alter_sql MEDIUMTEXT NOT NULL, "
		     "last_key MEDIUMTEXT NULL, "
		     "rows_copied BIGINT UNSIGNED NOT NULL DEFAULT 0, "
		     "updated TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE "
		     "CURRENT_TIMESTAMP) ENGINE=InnoDB "
		     "COMMENT='mdlsafe ddl --online: where each change is, for --resume'");
	rc = sql_done(&b, e) || db_exec(&s->exec, buf_str(&b), e) ? -1 : 0;
	buf_reset(&b);
	buf_adds(&b, "INSERT INTO ");
	add_checkpoint(s, &b);
	buf_adds(&b, " (table_name, shadow_name, old_name, alter_sql) VALUES (");
	online_add_value(&s->exec, &b, s->table);
	buf_adds(&b, ", ");
	online_add_value(&s->exec, &b, s->shadow);
	buf_adds(&b, ", ");
	online_add_value(&s->exec, &b, s->old);
	buf_adds(&b, ", ");
	online_add_value(&s->exec, &b, alter_sql);
	buf_adds(&b, ")");
	if (rc == 0 && (rc = sql_done(&b, e)) == 0)
		rc = db_exec(&s->exec, buf_str(&b), e);
	buf_release(&b);
	return rc ? ms_fail_context(e, "creating the checkpoint in %s.%s", s->schema, ONLINE_CHECKPOINT) : 0;
}

int online_checkpoint_save(struct online *s, char **last, unsigned long long rows, struct ms_err *e)
{
	struct buf b = BUF_INIT;
	json_t *k = json_array();
	char *text;
	int rc;

	for (size_t i = 0; last && i < s->n_key; i++)
		json_array_append_new(k, json_string(last[i]));
	text = json_dumps(k, JSON_COMPACT);
	json_decref(k);
	buf_adds(&b, "UPDATE ");
	add_checkpoint(s, &b);
	buf_adds(&b, " SET last_key = ");
	online_add_value(&s->exec, &b, text ? text : "[]");
	buf_addf(&b, ", rows_copied = %llu WHERE table_name = ", rows);
	online_add_value(&s->exec, &b, s->table);
	free(text);
	if ((rc = sql_done(&b, e)) == 0)
		rc = db_exec(&s->exec, buf_str(&b), e);
	buf_release(&b);
	return rc ? ms_fail_context(e, "saving the checkpoint") : 0;
}

int online_checkpoint_load(struct online *s, char **alter_sql, struct ms_err *e)
{
	struct buf b = BUF_INIT;
	MYSQL_RES *r = NULL;
	MYSQL_ROW row;
	int rc, found = 0;

	*alter_sql = NULL;
	buf_adds(&b, "SELECT shadow_name, old_name, alter_sql, last_key, rows_copied FROM ");
	add_checkpoint(s, &b);
	buf_adds(&b, " WHERE table_name = ");
	online_add_value(&s->exec, &b, s->table);
	if ((rc = sql_done(&b, e)) == 0)
		rc = db_query(&s->exec, buf_str(&b), &r, e);
	buf_release(&b);
	if (rc && e->sql_errno == 1146)
		return 0;
	if (rc)
		return -1;
	if (r && (row = mysql_fetch_row(r))) {
		json_t *k = row[3] ? json_loads(row[3], 0, NULL) : NULL;

		found = 1;
		snprintf(s->shadow, sizeof(s->shadow), "%s", row[0]);
		snprintf(s->old, sizeof(s->old), "%s", row[1]);
		*alter_sql = strdup(row[2]);
		s->rows_copied = strtoull(row[4] ? row[4] : "0", NULL, 10);
		if (json_array_size(k) > 0) {
			s->last = calloc(json_array_size(k), sizeof(char *));
			for (size_t i = 0; s->last && i < json_array_size(k); i++)
				s->last[i] = strdup(json_string_value(json_array_get(k, i)));
		}
		json_decref(k);
	}
	if (r)
		mysql_free_result(r);
	return found;
}

void online_checkpoint_delete(struct online *s)
{
	struct buf b = BUF_INIT;
	struct ms_err ignored;
	char *left = NULL;

	buf_adds(&b, "DELETE FROM ");
	add_checkpoint(s, &b);
	buf_adds(&b, " WHERE table_name = ");
	online_add_value(&s->exec, &b, s->table);
	if (!b.failed)
		db_exec(&s->exec, buf_str(&b), &ignored);
	buf_reset(&b);
	buf_adds(&b, "SELECT COUNT(*) FROM ");
	add_checkpoint(s, &b);
	/* The last change of this schema takes its checkpoint table along;
	 * nobody else uses it, so the DROP never waits. */
	if (!b.failed && db_query_value(&s->exec, buf_str(&b), &left, &ignored) == 0 && left && !strcmp(left, "0")) {
		buf_reset(&b);
		buf_adds(&b, "DROP TABLE IF EXISTS ");
		add_checkpoint(s, &b);
		struct lockreq_opts lo = online_lockreq(s, "drop the checkpoint table", true);
		if (!b.failed)
			lockreq_exec(&s->exec, buf_str(&b), &lo, NULL, &ignored);
	}
	free(left);
	buf_release(&b);
}
