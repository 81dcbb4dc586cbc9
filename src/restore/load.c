/* Loading: the worker threads that stream data chunks into the server, one
 * transaction per chunk, and the runner for the small SQL files. */
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "restore/rename.h"
#include "restore/restore_internal.h"
#include "sql/sqlsplit.h"
#include "store/rowscan.h"
#include "util/buf.h"

/* Largest statement a data file can hold is one row; MariaDB's own limit. */
#define STATEMENT_CAP (1ULL << 30)
/* A chunk interrupted by a lock wait, a deadlock or the watchdog is tried
 * again; with backoff capped at ~3 s this keeps at it for about an hour
 * (a long ALTER someone runs on the table), or until --timeout. */
#define CHUNK_ATTEMPTS 1000
#define CHUNK_RETRY { .set = LOCKREQ_RETRY_CHUNK, .max_attempts = CHUNK_ATTEMPTS, .base_s = 0.2, .cap = 4 }

/* A data file being cut into statements as it streams out of zstd, where
 * rowscan (store/rowscan.h) says each one ends: a ';' before a newline
 * inside a quoted name does not end one, and rows are the VALUES tuples. */
struct stmt_stream {
	struct restore *rs;
	struct db *db;
	const struct rtable *t;
	struct buf stmt;               /* starts with our statement marker */
	size_t mark_len;
	size_t scan;                   /* bytes up to here were read by scanner */
	struct rowscan scanner;
	unsigned long long bytes;
	char *target_ident;            /* `shadow` when rows go to another name, else NULL */
	/* Commits inside a chunk (InnoDB): an interrupted load then rolls back
	 * at most COMMIT_BYTES, so it lets go of the table quickly, and a retry
	 * skips the INSERTs already committed. */
	bool transactional;
	unsigned long long index;      /* statements seen in this attempt */
	unsigned long long *committed; /* statements committed, across attempts */
	size_t since_commit;
};

/* A rollback of this much takes tens of milliseconds: well inside the budget. */
#define COMMIT_BYTES (2u << 20)

/* Swap mode: the file says INSERT INTO `t`, the rows go to the shadow. */
static int retarget(struct stmt_stream *s, struct ms_err *e)
{
	char *p = s->stmt.data + s->mark_len;
	size_t len = s->stmt.len - s->mark_len, a, b, n;
	struct sqlsplit_name target;

	if (!s->target_ident || !sqlsplit_insert_target(p, len, &target))
		return 0;
	a = target.start;
	b = target.end;
	n = strlen(s->target_ident);
	if (n > b - a) {
		size_t grow = n - (b - a);
		char pad[64] = { 0 };
		while (grow) {
			size_t step = grow < sizeof(pad) ? grow : sizeof(pad);
			buf_add(&s->stmt, pad, step);
			grow -= step;
		}
		if (s->stmt.failed)
			return ms_oom(e);
		p = s->stmt.data + s->mark_len;
	}
	memmove(p + a + n, p + b, len - b);
	memcpy(p + a, s->target_ident, n);
	s->stmt.len = s->mark_len + len - (b - a) + n;
	s->stmt.data[s->stmt.len] = '\0';
	return 0;
}

/* --rename: a data file's statement must not reach a renamed database
 * either. An INSERT is checked up to its table name (its values are
 * literals, many MiB of them); any other statement whole. */
static int rename_guard(struct stmt_stream *s, struct ms_err *e)
{
	const char *p = s->stmt.data + s->mark_len;
	size_t len = s->stmt.len - s->mark_len;
	struct sqlsplit_name target;

	if (sqlsplit_insert_target(p, len, &target))
		len = target.end;
	return restore_rename_check(s->rs->o, p, len, restore_no_backslash_escapes(s->db), NULL, 0, e);
}

/* Runs the statement in s->stmt (whatever follows it was taken out), without
 * its trailing ";" and newline. */
static int stmt_run(struct stmt_stream *s, struct ms_err *e)
{
	size_t stop = s->stmt.len;

	while (stop > s->mark_len && strchr("\r\n \t", s->stmt.data[stop - 1]))
		stop--;
	if (stop > s->mark_len && s->stmt.data[stop - 1] == ';')
		stop--;
	if (stop == s->mark_len)
		return 0;
	s->stmt.len = stop;
	s->stmt.data[stop] = '\0';
	if (s->rs->o->n_renames && rename_guard(s, e))
		return -1;
	if (retarget(s, e))
		return -1;
	if (s->index++ < *s->committed && !strncmp(s->stmt.data + s->mark_len, "INSERT", 6))
		return 0;
	if (s->stmt.len - s->mark_len > s->rs->max_packet)
		return ms_fail(e, MS_SERVER,
			       "a statement of %zu bytes is bigger than the server's max_allowed_packet (%lu): "
			       "raise it (SET GLOBAL max_allowed_packet = 1073741824) and rerun with --resume",
			       s->stmt.len - s->mark_len, s->rs->max_packet);
	if (db_exec_marked(s->db, s->stmt.data, s->stmt.len, e))
		return -1;
	s->since_commit += s->stmt.len;
	if (s->transactional && s->since_commit >= COMMIT_BYTES) {
		if (db_exec(s->db, "COMMIT", e) || db_exec(s->db, "START TRANSACTION", e))
			return -1;
		*s->committed = s->index;
		s->since_commit = 0;
	}
	return 0;
}

/* Appends a piece; runs every statement completed by it. */
static int stream_sink(void *ctx, const void *data, size_t len, struct ms_err *e)
{
	struct stmt_stream *s = ctx;

	buf_add(&s->stmt, data, len);
	if (s->stmt.failed)
		return ms_fail(e, MS_INTERNAL, "a statement is bigger than %llu bytes", STATEMENT_CAP);
	s->bytes += len;
	while (s->scan < s->stmt.len) {
		size_t used, next, rest_len;
		enum rowscan_event ev = rowscan_next(&s->scanner, s->stmt.data + s->scan, s->stmt.len - s->scan, &used);
		char *rest = NULL;

		next = s->scan + used;
		if (ev == ROWSCAN_MORE) {
			s->scan = next;
			break;
		}
		/* Cut the stream after the newline: run the statement (a comment
		 * or blank line between statements is dropped), keep the rest. */
		rest_len = s->stmt.len - next;
		if (rest_len && !(rest = malloc(rest_len)))
			return ms_oom(e);
		if (rest)
			memcpy(rest, s->stmt.data + next, rest_len);
		s->stmt.len = next;
		if (ev == ROWSCAN_STATEMENT && stmt_run(s, e)) {
			free(rest);
			return -1;
		}
		s->stmt.len = s->mark_len;
		s->stmt.data[s->mark_len] = '\0';
		if (rest)
			buf_add(&s->stmt, rest, rest_len);
		free(rest);
		s->scan = s->mark_len;
	}
	return 0;
}

static int stream_flush(struct stmt_stream *s, struct ms_err *e)
{
	/* A last statement without a newline after it. */
	return stmt_run(s, e);
}

static int stream_init(struct stmt_stream *s, struct restore *rs, struct db *db, const struct rtable *t,
		       struct ms_err *e)
{
	char mark[DB_ROLE_MAX + 32];

	memset(s, 0, sizeof(*s));
	s->rs = rs;
	s->db = db;
	s->t = t;
	buf_init(&s->stmt, STATEMENT_CAP);
	s->mark_len = (size_t)db_statement_mark(db, mark, sizeof(mark));
	buf_add(&s->stmt, mark, s->mark_len);
	if (t && strcmp(t->load_name, t->name))
		s->target_ident = db_quote_ident(t->load_name);
	if (s->stmt.failed || (t && strcmp(t->load_name, t->name) && !s->target_ident))
		return ms_oom(e);
	s->scan = s->mark_len;
	rowscan_init(&s->scanner);
	return 0;
}

static void stream_release(struct stmt_stream *s)
{
	buf_release(&s->stmt);
	free(s->target_ident);
}

/* ---- chunks ------------------------------------------------------------- */

static int use_db(struct db *db, const char *name, struct ms_err *e)
{
	if (mysql_select_db(db->mysql, name))
		return db_fail(db, e, "selecting the target database");
	return 0;
}

/* A resumed chunk may have left rows behind: a MyISAM table keeps what it
 * got, and a commit can land just before the journal line. Its primary-key
 * range (or the whole table, when it is one chunk) is emptied first. */
static int clear_chunk(struct db *db, const struct rtable *t, const struct rchunk *ch, struct ms_err *e)
{
	struct buf sql = BUF_INIT;
	int rc;

	buf_adds(&sql, "DELETE FROM ");
	buf_add_ident(&sql, t->load_name);
	buf_addf(&sql, "%s%s", ch->where ? " WHERE " : "", ch->where ? ch->where : "");
	rc = sql.failed ? ms_oom(e) : db_exec(db, buf_str(&sql), e);
	buf_release(&sql);
	return rc;
}

static int load_chunk_once(struct rworker *w, struct rchunk *ch, bool clear, unsigned long long *committed,
			   struct ms_err *e)
{
	struct restore *rs = w->rs;
	struct rtable *t = &rs->tables[ch->table];
	struct stmt_stream s;
	int rc;

	if (stream_init(&s, rs, &w->db, t, e))
		return -1;
	s.transactional = t->engine && !strcasecmp(t->engine, "InnoDB");
	s.committed = committed;
	rc = use_db(&w->db, t->db, e);
	if (rc == 0 && clear)
		rc = clear_chunk(&w->db, t, ch, e);
	if (rc == 0)
		rc = db_exec(&w->db, "START TRANSACTION", e);
	/* While loading, our transaction holds a metadata lock on the table:
	 * someone's ALTER queued behind it would freeze the table. The
	 * watchdog interrupts the load then; the uncommitted part rolls back
	 * and the chunk continues after the ALTER. */
	if (rc == 0 && rs->watchdog)
		watchdog_hold(rs->watchdog, w->db.thread_id, t->db, t->load_name);
	if (rc == 0)
		rc = backup_reader_read(w->reader, rs->dir_fd, &ch->f, stream_sink, &s, e);
	if (rc == 0)
		rc = stream_flush(&s, e);
	if (rc == 0)
		rc = db_exec(&w->db, "COMMIT", e);
	if (rc) {
		struct ms_err ignored;
		db_exec(&w->db, "ROLLBACK", &ignored);
	}
	if (rs->watchdog)
		watchdog_release(rs->watchdog, w->db.thread_id);
	if (rc == 0) {
		pthread_mutex_lock(&rs->mu);
		rs->rows += s.scanner.rows;
		rs->bytes += s.bytes;
		ch->done = true;
		if (++t->chunks_done == t->n_chunks)
			rs->tables_done++;
		pthread_mutex_unlock(&rs->mu);
	}
	stream_release(&s);
	return rc;
}

static int load_chunk(struct rworker *w, struct rchunk *ch, struct ms_err *e)
{
	struct restore *rs = w->rs;
	struct rtable *t = &rs->tables[ch->table];
	bool clear = rs->o->resume && t->created && !rs->tables[ch->table].skip;
	bool transactional = t->engine && !strcasecmp(t->engine, "InnoDB");
	unsigned long long committed = 0;
	struct lockreq_retry r = CHUNK_RETRY;
	int rc;

	for (;;) {
		rc = load_chunk_once(w, ch, clear, &committed, e);
		if (rc == 0 || restore_cancelled(rs) || !lockreq_retry_next(&r, e))
			break;
		/* InnoDB rolled back what was not committed; the retry skips
		 * the committed INSERTs. A non-transactional engine keeps part
		 * of an interrupted statement: clear the chunk, start over. */
		if (transactional) {
			/* What was committed stays; clearing it now would lose
			 * the rows the retry skips. */
			clear = false;
		} else {
			clear = true;
			committed = 0;
		}
		if (r.attempt % 10 == 1)
			restore_note(rs, "%s.%s chunk %u: %s; retrying", t->db, t->name, ch->index, e->msg);
		lockreq_retry_wait(&r);
	}
	if (rc == 0)
		return journal_record(rs->journal, JOURNAL_CHUNK_DONE, ch->f.path, e)
			       ? -1
			       : restore_add_keys(rs, &w->db, t, e);
	return ms_fail_context(e, "restoring %s.%s chunk %u (%s%s%s)", t->db, t->name, ch->index, ch->f.path,
			       ch->where ? ", rows " : "", ch->where ? ch->where : "");
}

int restore_add_keys(struct restore *rs, struct db *db, struct rtable *t, struct ms_err *e)
{
	char *key;
	struct buf sql = BUF_INIT;
	struct lockreq_retry r = CHUNK_RETRY;
	bool mine;
	int rc = 0;

	/* The worker that loads the last chunk builds them, once. */
	pthread_mutex_lock(&rs->mu);
	mine = t->deferred_keys && t->chunks_done == t->n_chunks && !t->keys_taken;
	if (mine)
		t->keys_taken = true;
	pthread_mutex_unlock(&rs->mu);
	if (!mine)
		return 0;
	if (!(key = restore_table_key(t->db, t->load_name)))
		return ms_oom(e);
	if (journal_has(rs->journal, JOURNAL_KEYS_ADDED, key)) {
		free(key);
		return 0;
	}
	/* NOWAIT: a session that holds the new table makes the ALTER fail at
	 * once instead of queueing everyone behind it; retried with backoff. */
	buf_adds(&sql, "ALTER TABLE ");
	buf_add_ident(&sql, t->load_name);
	buf_addf(&sql, " NOWAIT %s", t->deferred_keys);
	if (sql.failed)
		rc = ms_oom(e);
	else if (mysql_select_db(db->mysql, t->db))
		rc = db_fail(db, e, "selecting the target database");
	while (rc == 0) {
		rc = db_exec(db, buf_str(&sql), e);
		if (rc && e->sql_errno == ER_DUP_KEYNAME) /* the run we resume added them before its journal line */
			rc = 0;
		if (rc == 0 || restore_cancelled(rs) || !lockreq_retry_next(&r, e))
			break;
		if (r.attempt % 10 == 1)
			restore_note(rs, "%s.%s: adding its indexes: %s; retrying", t->db, t->name, e->msg);
		lockreq_retry_wait(&r);
		rc = 0;
	}
	buf_release(&sql);
	if (rc)
		ms_fail_context(e, "adding the secondary indexes of %s.%s", t->db, t->load_name);
	else
		rc = journal_record(rs->journal, JOURNAL_KEYS_ADDED, key, e);
	free(key);
	return rc;
}

int restore_worker_main(void *ctx, unsigned index, struct ms_err *e)
{
	struct restore *rs = ctx;
	struct rworker *w = &rs->workers[index];

	for (;;) {
		struct rchunk *ch = NULL;

		pthread_mutex_lock(&rs->mu);
		if (!rs->failed && rs->next < rs->n_queue)
			ch = rs->queue[rs->next++];
		pthread_mutex_unlock(&rs->mu);
		if (!ch)
			return 0;
		if (load_chunk(w, ch, e)) {
			/* Stops the other workers too. */
			restore_fail(rs, e);
			return -1;
		}
	}
}

int restore_worker_open(struct restore *rs, struct rworker *w, const char *role, struct ms_err *e)
{
	w->rs = rs;
	if (db_open(&w->db, rs->o->conn, role, NULL, e))
		return -1;
	if (rs->o->no_binlog && db_exec(&w->db, "SET SESSION sql_log_bin = 0", e))
		return ms_fail_context(e, "--no-binlog (needs SUPER or BINLOG ADMIN)");
	if (db_exec(&w->db, "SET SESSION unique_checks = 0, SESSION foreign_key_checks = 0", e))
		return -1;
	return backup_reader_new(&w->reader, NULL, NULL, e);
}

/* ---- small files -------------------------------------------------------- */

struct file_ctx {
	struct restore *rs;
	struct db *db;
	restore_stmt_fn fn;
	void *ctx;
	const char *path;
	struct ms_err *e;
};

static int collect(void *ctx, const void *data, size_t len, struct ms_err *e)
{
	struct buf *b = ctx;

	buf_add(b, data, len);
	return b->failed ? ms_oom(e) : 0;
}

static int each_statement(struct file_ctx *fc, const char *stmt, size_t len, unsigned line)
{
	char *sql;
	int rc;

	if (fc->fn)
		rc = fc->fn(fc->rs, fc->db, stmt, len, fc->ctx, fc->e);
	else if (!(sql = strndup(stmt, len)))
		rc = ms_oom(fc->e);
	else {
		rc = db_exec(fc->db, sql, fc->e);
		free(sql);
	}
	if (rc)
		ms_fail_context(fc->e, "%s line %u", fc->path, line);
	return rc ? -1 : 0;
}

int restore_run_file(struct restore *rs, struct db *db, struct backup_reader *rd, const struct backup_file *f,
		     restore_stmt_fn fn, void *ctx, struct ms_err *e)
{
	struct buf text = BUF_INIT;
	struct file_ctx fc = { rs, db, fn, ctx, f->path, e };
	int rc;

	buf_init(&text, STATEMENT_CAP);
	rc = backup_reader_read(rd, rs->dir_fd, f, collect, &text, e);
	if (rc == 0) {
		struct sqlsplit sp;
		struct sqlsplit_stmt st;

		sqlsplit_init(&sp, text.data ? text.data : "", text.len);
		/* A body created under NO_BACKSLASH_ESCAPES (the file sets each
		 * object's sql_mode first) reads backslashes as the server does. */
		while ((rc = sqlsplit_next(&sp, &st)) == 1) {
			if (each_statement(&fc, st.text, st.len, st.line)) {
				rc = -1;
				break;
			}
			sp.no_backslash_escapes = (db->mysql->server_status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0;
		}
		if (rc < -1)
			rc = ms_fail(e, MS_INCOMPLETE, "%s line %u: a quote or comment is not closed, or a DELIMITER "
				     "line is bad; the file is damaged", f->path, sp.error_line);
	}
	buf_release(&text);
	return rc ? -1 : 0;
}
