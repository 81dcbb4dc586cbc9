/* restore_run(): checks the backup, then the target, then loads: tables,
 * data in parallel, swaps, triggers, routines, views, events, and --verify. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "restore/keys.h"
#include "restore/rename.h"
#include "restore/restore_internal.h"
#include "sql/sqlsplit.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/pool.h"

/* ---- shared helpers ----------------------------------------------------- */

void restore_note(struct restore *rs, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&rs->mu);
	json_array_append_new(rs->warnings, json_string(line));
	pthread_mutex_unlock(&rs->mu);
	if (rs->o->note)
		rs->o->note(rs->o->ctx, line);
}

static void note_cb(void *ctx, const char *line)
{
	restore_note(ctx, "%s", line);
}

void restore_fail(struct restore *rs, const struct ms_err *e)
{
	pthread_mutex_lock(&rs->mu);
	if (!rs->failed) {
		rs->failed = true;
		rs->err = *e;
	}
	pthread_mutex_unlock(&rs->mu);
}

bool restore_cancelled(struct restore *rs)
{
	bool f;

	pthread_mutex_lock(&rs->mu);
	f = rs->failed;
	pthread_mutex_unlock(&rs->mu);
	return f;
}

struct lockreq_opts restore_lockreq_opts(struct restore *rs, const char *what)
{
	struct lockreq_opts lo = {
		.budget_s = rs->o->max_stall_s,
		.deadline = rs->deadline,
		.probe = rs->probe_open ? &rs->probe : NULL,
		.what = what,
		.note = note_cb,
		.ctx = rs,
	};
	return lo;
}

bool restore_no_backslash_escapes(const struct db *db)
{
	return (db->mysql->server_status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0;
}

char *restore_default_journal(const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return ms_asprintf("%.*s.restore-journal", (int)n, dir);
}

static void report(struct restore *rs, const char *phase)
{
	struct restore_progress p = { .phase = phase };

	if (!rs->o->progress)
		return;
	pthread_mutex_lock(&rs->mu);
	p.tables_total = rs->n_tables;
	p.tables_done = rs->tables_done;
	p.rows = rs->rows;
	p.bytes = rs->bytes;
	p.bytes_total = rs->bytes_total;
	pthread_mutex_unlock(&rs->mu);
	p.elapsed_s = ms_now() - rs->started_at;
	rs->o->progress(rs->o->ctx, &p);
}

static bool past_deadline(const struct restore *rs)
{
	return rs->deadline > 0 && ms_now() >= rs->deadline;
}

/* ---- before anything is sent -------------------------------------------- */

static void verify_progress(void *ctx, const char *file, unsigned long long stored)
{
	struct restore *rs = ctx;
	double now = ms_now();

	if (now - rs->verify_reported_at >= 1.0 && rs->o->progress) {
		struct restore_progress p = { .phase = "verify", .elapsed_s = now - rs->started_at,
					      .verify_file = file, .verified_bytes = stored };
		rs->verify_reported_at = now;
		rs->o->progress(rs->o->ctx, &p);
	}
}

/* The backup is checked whole before the first statement goes out, and
 * restored from the directory and manifest that were checked. */
static int check_backup(struct restore *rs, struct ms_err *e)
{
	struct verify_result vr;
	struct verified_backup vb;
	int rc = verify_backup_keep(rs->o->dir, verify_progress, rs, &vr, &vb, e);

	verify_result_release(&vr);
	if (rc) {
		verified_backup_release(&vb);
		return ms_fail_context(e, "refusing to restore %s, nothing was sent to the server", rs->o->dir);
	}
	rs->dir_fd = vb.dir_fd;
	rs->manifest = vb.manifest;
	memcpy(rs->backup_id, vb.manifest_xxh3, sizeof(rs->backup_id));
	if (!rs->o->import_tables && json_is_string(json_object_get(rs->manifest, "kind")) &&
	    !strcmp(json_string_value(json_object_get(rs->manifest, "kind")), "physical"))
		return ms_fail(e, MS_USAGE, "%s is a physical backup: restore it with mdlsafe restore --physical", rs->o->dir);
	return 0;
}

static int connect_all(struct restore *rs, struct ms_err *e)
{
	char *v = NULL;
	struct ms_err ignored;

	if (db_open(&rs->coord, rs->o->conn, "restore", NULL, e))
		return -1;
	/* The probe only reads the wait graph for messages; without it,
	 * messages just say less. */
	rs->probe_open = db_open(&rs->probe, rs->o->conn, "restore-probe", NULL, &ignored) == 0;
	if (rs->o->no_binlog && db_exec(&rs->coord, "SET SESSION sql_log_bin = 0", e))
		return ms_fail_context(e, "--no-binlog needs SUPER or BINLOG ADMIN");
	if (db_exec(&rs->coord, "SET SESSION unique_checks = 0, SESSION foreign_key_checks = 0", e))
		return -1;
	if (db_query_value(&rs->coord, "SELECT @@max_allowed_packet", &v, e))
		return -1;
	rs->max_packet = v ? strtoul(v, NULL, 10) : 16UL << 20;
	free(v);
	return 0;
}

/* A JSON header that ties a journal to one backup, server and option set. */
static json_t *journal_header(struct restore *rs)
{
	json_t *h = json_object(), *ren = json_object(), *f = json_array();
	static const char *const modes[] = { "fail", "skip", "replace", "swap" };

	for (size_t i = 0; i < rs->o->n_renames; i++)
		json_object_set_new(ren, rs->o->renames[i].from, json_string(rs->o->renames[i].to));
	for (size_t i = 0; i < rs->n_tables; i++) {
		char *key = restore_table_key(rs->tables[i].src_db, rs->tables[i].name);
		if (!key || json_array_append_new(f, json_string(key))) {
			free(key);
			json_decref(h);
			json_decref(ren);
			json_decref(f);
			return NULL;
		}
		free(key);
	}
	json_object_set_new(h, "backup", json_string(rs->backup_id));
	json_object_set_new(h, "target", json_string(rs->coord.target));
	json_object_set_new(h, "if_exists", json_string(modes[rs->o->if_exists]));
	json_object_set_new(h, "renames", ren);
	json_object_set_new(h, "tables", f);
	return h;
}

static int journal_start(struct restore *rs, struct ms_err *e)
{
	char *path = rs->o->journal ? strdup(rs->o->journal) : restore_default_journal(rs->o->dir);
	json_t *want = journal_header(rs), *have = NULL;
	int rc;

	if (!path || !want) {
		free(path);
		json_decref(want);
		return ms_oom(e);
	}
	if (!rs->o->resume) {
		rc = journal_create(path, want, &rs->journal, e);
	} else if ((rc = journal_open_resume(path, &rs->journal, &have, e)) == 0) {
		static const char *const keys[] = { "backup", "target", "if_exists", "renames", "tables" };
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && rc == 0; i++)
			if (!json_equal(json_object_get(want, keys[i]), json_object_get(have, keys[i])))
				rc = ms_fail(e, MS_USAGE,
					     "%s belongs to a restore with another %s (%s differs): resume it with the same "
					     "backup, server and options, or delete it to start over",
					     path, keys[i], keys[i]);
	}
	json_decref(want);
	json_decref(have);
	free(path);
	return rc;
}

/* A table a resumed restore created itself: its own, whatever exists. */
static bool created_before(struct restore *rs, const struct rtable *t)
{
	char *key;
	bool has;

	if (!rs->journal)
		return false;
	key = restore_table_key(t->db, t->load_name);
	/* Out of memory: not known as ours, so it is left alone. */
	has = key && journal_has(rs->journal, JOURNAL_TABLE_CREATED, key);
	free(key);
	return has;
}

/* Which targets exist; with --if-exists fail, refuses before any change. */
static int check_targets(struct restore *rs, struct ms_err *e)
{
	struct buf clash = BUF_INIT;
	unsigned n_clash = 0;
	int rc = 0;

	/* One query per target database, not one per table. */
	for (size_t d = 0; d < rs->n_dbs && rc == 0; d++) {
		char *sch = db_quote_string(&rs->coord, rs->dbs[d].name);
		struct buf q = BUF_INIT;
		MYSQL_RES *r = NULL;
		MYSQL_ROW row;

		buf_addf(&q, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", sch ? sch : "''");
		json_t *names = json_object();

		rc = db_query(&rs->coord, buf_str(&q), &r, e);
		while (rc == 0 && r && (row = mysql_fetch_row(r)))
			if (row[0])
				json_object_set_new(names, row[0], json_true());
		for (size_t i = 0; rc == 0 && i < rs->n_tables; i++)
			if (!strcmp(rs->tables[i].db, rs->dbs[d].name) && json_object_get(names, rs->tables[i].name))
				rs->tables[i].exists = true;
		json_decref(names);
		if (r)
			mysql_free_result(r);
		free(sch);
		buf_release(&q);
	}
	for (size_t i = 0; i < rs->n_tables && rc == 0; i++) {
		struct rtable *t = &rs->tables[i];

		if (!t->exists)
			continue;
		if (created_before(rs, t))
			continue;
		if (rs->o->if_exists == RESTORE_SKIP)
			t->skip = true;
		if (rs->o->if_exists == RESTORE_FAIL) {
			if (n_clash < 5)
				buf_addf(&clash, "%s%s.%s", n_clash ? ", " : "", t->db, t->name);
			n_clash++;
		}
	}
	if (rc == 0 && n_clash)
		rc = ms_fail(e, MS_USAGE,
			     "%u table%s of the backup already exist%s on the server (%s%s): nothing was changed; "
			     "restore under another name with --rename DB:NEWDB, or choose --if-exists skip|replace|swap",
			     n_clash, n_clash == 1 ? "" : "s", n_clash == 1 ? "s" : "", buf_str(&clash), n_clash > 5 ? ", ..." : "");
	buf_release(&clash);
	return rc;
}

/* Objects (sequences, views, routines, events, triggers) of the backup
 * that exist already; counted into *clash for --if-exists fail. */
struct object_scan {
	struct restore *rs;
	const struct rdb *d;
	struct buf *list;
	unsigned n;
};

static int scan_object(struct restore *rs, struct db *db, const char *stmt, size_t len, void *ctx, struct ms_err *e)
{
	struct object_scan *sc = ctx;
	struct sqlsplit_object ob;
	const char *sql = NULL;
	char *sch, *nm, *v = NULL;
	struct buf q = BUF_INIT;
	int rc;

	if (!sqlsplit_create_object(stmt, len, &ob) ||
	    (ob.kind == SQLSPLIT_SEQUENCE && !restore_chosen(rs, sc->d->src, ob.name.name)))
		return 0;
	switch (ob.kind) {
	case SQLSPLIT_SEQUENCE: /* a table or view of that name is in its way too */
	case SQLSPLIT_VIEW: sql = "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"; break;
	case SQLSPLIT_FUNCTION:
	case SQLSPLIT_PROCEDURE:
	case SQLSPLIT_PACKAGE:
	case SQLSPLIT_PACKAGE_BODY:
		sql = "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s AND ROUTINE_NAME = %s"; break;
	case SQLSPLIT_EVENT: sql = "SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s AND EVENT_NAME = %s"; break;
	case SQLSPLIT_TRIGGER: sql = "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s AND TRIGGER_NAME = %s"; break;
	default: return 0;
	}
	sch = db_quote_string(db, sc->d->name);
	nm = db_quote_string(db, ob.name.name);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	buf_addf(&q, sql, sch ? sch : "''", nm ? nm : "''");
#pragma GCC diagnostic pop
	rc = db_query_value(db, buf_str(&q), &v, e);
	if (rc == 0 && v && strcmp(v, "0")) {
		if (sc->n < 5)
			buf_addf(sc->list, "%s%s %s.%s", sc->list->len ? ", " : "", sqlsplit_kind_name(ob.kind), sc->d->name,
				 ob.name.name);
		sc->n++;
	}
	free(v);
	free(sch);
	free(nm);
	buf_release(&q);
	return rc;
}

static int check_objects(struct restore *rs, struct backup_reader *rd, struct ms_err *e)
{
	struct buf list = BUF_INIT;
	unsigned n = 0;
	int rc = 0;

	for (size_t d = 0; d < rs->n_dbs && rc == 0; d++) {
		const struct rdb *db = &rs->dbs[d];
		const struct backup_file *files[] = { db->has_sequences ? &db->sequences : NULL,
						      db->has_views ? &db->views : NULL,
						      db->has_routines ? &db->routines : NULL,
						      db->has_events ? &db->events : NULL };
		struct object_scan sc = { rs, db, &list, 0 };

		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && rc == 0; i++)
			if (files[i])
				rc = restore_run_file(rs, &rs->coord, rd, files[i], scan_object, &sc, e);
		n += sc.n;
	}
	if (rc == 0 && n)
		rc = ms_fail(e, MS_USAGE,
			     "%u sequence%s, view%s, routine%s or event%s of the backup already exist (%s%s): nothing was "
			     "changed; use --rename DB:NEWDB, or --if-exists skip|replace|swap",
			     n, n == 1 ? "" : "s", n == 1 ? "" : "s", n == 1 ? "" : "s", n == 1 ? "" : "s", buf_str(&list),
			     n > 5 ? ", ..." : "");
	buf_release(&list);
	return rc;
}

/* ---- --rename: every statement checked before the first runs ------------ */

static int collect_text(void *ctx, const void *data, size_t len, struct ms_err *e)
{
	struct buf *b = ctx;

	buf_add(b, data, len);
	return b->failed ? ms_oom(e) : 0;
}

/* Reads one SQL file as the restore will run it, without running it:
 * rewrites each statement for --rename into rs->rewrites, and fails on the
 * first that would still reach a renamed database. */
static int rename_scan_file(struct restore *rs, struct backup_reader *rd, const struct backup_file *f,
			    const char *target, struct ms_err *e)
{
	struct buf text = BUF_INIT;
	struct sqlsplit sp;
	struct sqlsplit_stmt st;
	int rc = backup_reader_read(rd, rs->dir_fd, f, collect_text, &text, e);

	if (rc == 0) {
		sqlsplit_init(&sp, text.data ? text.data : "", text.len);
		while ((rc = sqlsplit_next(&sp, &st)) == 1) {
			char *sql = NULL;

			if (restore_rename_sql(rs->o, target, st.text, st.len, sp.no_backslash_escapes, f->path, st.line,
					       rs->rewrites, &sql, e)) {
				rc = -1;
				break;
			}
			free(sql);
			sp.no_backslash_escapes = restore_rename_follow_mode(st.text, st.len, sp.no_backslash_escapes);
		}
		if (rc < -1)
			rc = ms_fail(e, MS_INCOMPLETE, "%s line %u: a quote or comment is not closed, or a DELIMITER line is "
				     "bad; the file is damaged", f->path, sp.error_line);
	}
	buf_release(&text);
	return rc ? -1 : 0;
}

/* With --rename, the SQL files of the restore are read whole before the
 * server sees anything: a statement naming a renamed database stops the
 * restore while nothing is changed yet. */
static int rename_scan(struct restore *rs, struct backup_reader *rd, struct ms_err *e)
{
	if (!rs->o->n_renames)
		return 0;
	for (size_t d = 0; d < rs->n_dbs; d++) {
		const struct rdb *db = &rs->dbs[d];
		const struct backup_file *files[] = { db->has_schema ? &db->schema : NULL,
						      db->has_sequences ? &db->sequences : NULL,
						      db->has_routines ? &db->routines : NULL,
						      db->has_views ? &db->views : NULL,
						      db->has_events ? &db->events : NULL };

		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
			if (files[i] && rename_scan_file(rs, rd, files[i], db->name, e))
				goto refused;
		for (size_t i = 0; i < rs->n_tables; i++) {
			const struct rtable *t = &rs->tables[i];

			if (strcmp(t->db, db->name))
				continue;
			if ((t->has_schema && rename_scan_file(rs, rd, &t->schema, t->db, e)) ||
			    (t->has_triggers && rename_scan_file(rs, rd, &t->triggers, t->db, e)))
				goto refused;
		}
	}
	return 0;
refused:
	return e->status == MS_USAGE ? ms_fail_context(e, "refusing to restore with --rename, nothing was changed") : -1;
}

/* ---- definitions -------------------------------------------------------- */

/* CREATE DATABASE IF NOT EXISTS under the target name, with the backup's
 * character set and collation (what follows the name in schema.sql). */
static int database_stmt(struct restore *rs, struct db *db, const char *stmt, size_t len, void *ctx, struct ms_err *e)
{
	const struct rdb *d = ctx;
	struct sqlsplit_object ob;
	struct buf sql = BUF_INIT;
	int rc;

	if (!sqlsplit_create_object(stmt, len, &ob) || ob.kind != SQLSPLIT_DATABASE)
		return 0;
	buf_adds(&sql, "CREATE DATABASE IF NOT EXISTS ");
	buf_add_ident(&sql, d->name);
	buf_addf(&sql, " %.*s", (int)(len - ob.name.end), stmt + ob.name.end);
	if (sql.failed)
		rc = ms_oom(e);
	else if ((rc = restore_rename_check(rs->o, buf_str(&sql), sql.len, restore_no_backslash_escapes(db), NULL, 0,
					    e)) == 0)
		rc = db_exec(db, buf_str(&sql), e);
	buf_release(&sql);
	return rc;
}

/* The database, then its sequences: a table's DEFAULT may use one. */
static int create_database(struct restore *rs, struct backup_reader *rd, const struct rdb *d, struct ms_err *e)
{
	struct buf sql = BUF_INIT;
	int rc;

	if (d->has_schema) {
		rc = restore_run_file(rs, &rs->coord, rd, &d->schema, database_stmt, (void *)d, e);
	} else {
		buf_adds(&sql, "CREATE DATABASE IF NOT EXISTS ");
		buf_add_ident(&sql, d->name);
		rc = sql.failed ? ms_oom(e) : db_exec(&rs->coord, buf_str(&sql), e);
		buf_release(&sql);
	}
	if (rc == 0 && d->has_sequences)
		rc = restore_objects_file(rs, &rs->coord, rd, d, &d->sequences, "sequences", e);
	return rc;
}

/* The table's CREATE TABLE, under its load name, without the indexes that
 * are built after the data. With t->parse_only it only works out those. */
static int table_run(struct restore *rs, struct db *db, const char *stmt, size_t len, struct rtable *t,
		     struct ms_err *e)
{
	struct sqlsplit_object ob;
	struct buf sql = BUF_INIT;
	char *deferred = NULL;
	int rc;

	if (!sqlsplit_create_object(stmt, len, &ob) || ob.kind != SQLSPLIT_TABLE) {
		if (t->parse_only)
			return 0;
		buf_add(&sql, stmt, len);
	} else {
		if (rs->o->keys_after_data) {
			free(t->deferred_keys);
			t->deferred_keys = NULL;
			if ((deferred = restore_keys_defer(stmt, len, &t->deferred_keys))) {
				stmt = deferred;
				len = strlen(deferred);
				sqlsplit_create_object(stmt, len, &ob);
			}
		}
		if (t->parse_only) {
			free(deferred);
			return 0;
		}
		buf_add(&sql, stmt, ob.name.start);
		buf_add_ident(&sql, t->load_name);
		buf_add(&sql, stmt + ob.name.end, len - ob.name.end);
	}
	rc = sql.failed ? ms_oom(e) : db_exec(db, buf_str(&sql), e);
	buf_release(&sql);
	free(deferred);
	return rc;
}

/* Every statement of a schema file runs as --rename makes it: a foreign
 * key, CHECK or DEFAULT naming the backup's database names the target. */
static int table_stmt(struct restore *rs, struct db *db, const char *stmt, size_t len, void *ctx, struct ms_err *e)
{
	struct rtable *t = ctx;
	char *sql;
	int rc;

	if (restore_rename_sql(rs->o, t->db, stmt, len, restore_no_backslash_escapes(db), NULL, 0, NULL, &sql, e))
		return -1;
	rc = table_run(rs, db, sql, strlen(sql), t, e);
	free(sql);
	return rc;
}

/* DROP TABLE of a name nobody queues on (a shadow, or a table already
 * renamed aside): plain, retried on lock timeouts until the deadline. */
static int drop_aside(struct restore *rs, const char *db, const char *name, struct ms_err *e)
{
	struct lockreq_retry r = { .set = LOCKREQ_RETRY_LOCK, .deadline = rs->deadline, .base_s = 0.2, .cap = 4 };
	struct buf sql = BUF_INIT;
	int rc;

	buf_adds(&sql, "DROP TABLE IF EXISTS ");
	buf_add_qualified(&sql, db, name);
	if (sql.failed) {
		buf_release(&sql);
		return ms_oom(e);
	}
	do
		rc = db_exec(&rs->coord, buf_str(&sql), e);
	while (rc && lockreq_retry_again(&r, e));
	buf_release(&sql);
	return rc;
}

/* Moves the live table aside with one bounded RENAME, then drops it. */
static int replace_existing(struct restore *rs, const struct rtable *t, struct ms_err *e)
{
	char what[2 * DB_NAME_MAX + 32];
	struct buf sql = BUF_INIT;
	struct lockreq_opts lo;
	int rc;

	snprintf(what, sizeof(what), "replace %s.%s", t->db, t->name);
	lo = restore_lockreq_opts(rs, what);
	lo.nowait_schema = t->db; /* a RENAME must not be cut off: see lockreq.h */
	buf_adds(&sql, "RENAME TABLE ");
	buf_add_qualified(&sql, t->db, t->name);
	buf_adds(&sql, " TO ");
	buf_add_qualified(&sql, t->db, t->old_name);
	rc = sql.failed ? ms_oom(e) : drop_aside(rs, t->db, t->old_name, e);
	if (rc == 0)
		rc = lockreq_exec(&rs->coord, buf_str(&sql), &lo, NULL, e);
	if (rc == 0)
		rc = drop_aside(rs, t->db, t->old_name, e);
	buf_release(&sql);
	return rc;
}

static int create_table(struct restore *rs, struct backup_reader *rd, struct rtable *t, struct ms_err *e)
{
	char *key = restore_table_key(t->db, t->load_name);
	int rc;

	if (!key)
		return ms_oom(e);
	if (journal_has(rs->journal, JOURNAL_TABLE_CREATED, key)) {
		/* Created by the run we resume: only learn its deferred indexes. */
		t->created = true;
		t->parse_only = true;
		rc = restore_run_file(rs, &rs->coord, rd, &t->schema, table_stmt, t, e);
		t->parse_only = false;
	} else if (mysql_select_db(rs->coord.mysql, t->db)) {
		rc = db_fail(&rs->coord, e, "selecting the target database");
	} else if (t->exists && rs->o->if_exists == RESTORE_REPLACE && replace_existing(rs, t, e)) {
		rc = -1;
	} else if (rs->o->if_exists == RESTORE_SWAP && drop_aside(rs, t->db, t->load_name, e)) {
		/* (a shadow left by a run that had no journal: ours by its name) */
		rc = -1;
	} else if (restore_run_file(rs, &rs->coord, rd, &t->schema, table_stmt, t, e)) {
		rc = ms_fail_context(e, "creating %s.%s", t->db, t->load_name);
	} else {
		rc = journal_record(rs->journal, JOURNAL_TABLE_CREATED, key, e);
	}
	free(key);
	return rc;
}

/* ---- after the data ----------------------------------------------------- */

/* One atomic RENAME for every swapped table of a database, so readers see
 * the old set or the new set, never a mix; then the old tables go. */
static int swap_in(struct restore *rs, const struct rdb *d, struct ms_err *e)
{
	struct buf sql = BUF_INIT;
	char what[2 * DB_NAME_MAX + 32];
	struct lockreq_opts lo;
	int rc = 0;

	if (journal_has(rs->journal, JOURNAL_SWAPPED, d->name))
		goto drop_old;
	buf_adds(&sql, "RENAME TABLE ");
	for (size_t i = 0; i < rs->n_tables; i++) {
		const struct rtable *t = &rs->tables[i];
		char *live, *old, *shadow;

		if (t->skip || strcmp(t->db, d->name))
			continue;
		live = restore_table_key(t->db, t->name);
		old = restore_table_key(t->db, t->old_name);
		shadow = restore_table_key(t->db, t->load_name);
		if (t->exists)
			buf_addf(&sql, "%s%s TO %s, ", sql.len > 13 ? "" : "", live, old);
		buf_addf(&sql, "%s TO %s, ", shadow, live);
		free(live);
		free(old);
		free(shadow);
	}
	if (sql.len == strlen("RENAME TABLE ")) {
		buf_release(&sql);
		return 0;
	}
	sql.len -= 2;
	sql.data[sql.len] = '\0';
	snprintf(what, sizeof(what), "swap the tables of %s in", d->name);
	lo = restore_lockreq_opts(rs, what);
	lo.nowait_schema = d->name; /* a RENAME must not be cut off: see lockreq.h */
	if (sql.failed)
		rc = ms_oom(e);
	else if ((rc = restore_rename_check(rs->o, buf_str(&sql), sql.len, false, NULL, 0, e)) == 0)
		rc = lockreq_exec(&rs->coord, buf_str(&sql), &lo, NULL, e);
	buf_release(&sql);
	if (rc == 0)
		rc = journal_record(rs->journal, JOURNAL_SWAPPED, d->name, e);
drop_old:
	for (size_t i = 0; i < rs->n_tables && rc == 0; i++) {
		const struct rtable *t = &rs->tables[i];
		if (!t->skip && !strcmp(t->db, d->name) && t->exists)
			rc = drop_aside(rs, t->db, t->old_name, e);
	}
	return rc;
}

static int finish_database(struct restore *rs, struct backup_reader *rd, const struct rdb *d, struct ms_err *e)
{
	if (rs->o->if_exists == RESTORE_SWAP && swap_in(rs, d, e))
		return -1;
	for (size_t i = 0; i < rs->n_tables; i++) {
		const struct rtable *t = &rs->tables[i];
		if (!t->skip && t->has_triggers && !strcmp(t->db, d->name) &&
		    restore_objects_file(rs, &rs->coord, rd, d, &t->triggers, "triggers", e))
			return -1;
	}
	if (d->has_routines && restore_objects_file(rs, &rs->coord, rd, d, &d->routines, "routines", e))
		return -1;
	if (d->has_views && restore_objects_file(rs, &rs->coord, rd, d, &d->views, "views", e))
		return -1;
	if (d->has_events && restore_objects_file(rs, &rs->coord, rd, d, &d->events, "events", e))
		return -1;
	return 0;
}

/* ---- the data ----------------------------------------------------------- */

static void on_yield(void *ctx, const struct watchdog_yield *y)
{
	struct restore *rs = ctx;

	pthread_mutex_lock(&rs->mu);
	rs->yields++;
	pthread_mutex_unlock(&rs->mu);
	restore_note(rs, "%s.%s: session %llu waited %.2f s behind our load (%.80s): loader session %lu lets go, "
			 "the chunk is loaded again after",
		     y->schema, y->table, y->waiter_id, y->waited_s, y->waiter_statement, y->victim_id);
}

/* Without PROCESS the watchdog cannot see who waits: the load goes on
 * without it, and says so. */
static int start_watchdog(struct restore *rs, struct ms_err *e)
{
	struct watchdog_opts wo = { .max_stall_s = rs->o->max_stall_s, .poll_s = 0.1 };
	struct ms_err werr;

	if (watchdog_start(&rs->watchdog, rs->o->conn, &wo, on_yield, rs, &werr)) {
		if (werr.status != MS_PRIVILEGE) {
			*e = werr;
			return -1;
		}
		rs->watchdog = NULL;
		restore_note(rs, "no PROCESS privilege: a DDL someone runs on a table being loaded waits until its "
				 "chunk commits (%s)", werr.msg);
		return 0;
	}
	watchdog_ignore(rs->watchdog, rs->coord.thread_id);
	if (rs->probe_open)
		watchdog_ignore(rs->watchdog, rs->probe.thread_id);
	for (unsigned i = 0; i < rs->n_workers; i++)
		watchdog_ignore(rs->watchdog, rs->workers[i].db.thread_id);
	return 0;
}

/* A loader thread could not be started: the others stop at the failure. */
static void load_stop(void *ctx, const struct ms_err *why)
{
	restore_fail(ctx, why);
}

/* True while chunks wait in the queue: --timeout is enforced until the
 * last one is handed out. */
static bool queue_left(struct restore *rs)
{
	bool left;

	pthread_mutex_lock(&rs->mu);
	left = !rs->failed && rs->next < rs->n_queue;
	pthread_mutex_unlock(&rs->mu);
	return left;
}

static int load_data(struct restore *rs, struct ms_err *e)
{
	unsigned n = rs->o->jobs ? rs->o->jobs : 1;
	struct pool pool = { .what = "restore worker", .fn = restore_worker_main, .stop = load_stop, .ctx = rs };
	double last = 0, last_ping = ms_now();
	struct ms_err ignored;
	int rc;

	if (restore_plan_queue(rs, e))
		return -1;
	if (n > rs->n_queue)
		n = rs->n_queue ? (unsigned)rs->n_queue : 0;
	rs->workers = calloc(n + 1, sizeof(*rs->workers));
	if (!rs->workers)
		return ms_oom(e);
	for (unsigned i = 0; i < n; i++) {
		char role[32];
		snprintf(role, sizeof(role), "restore-%u", i + 1);
		rs->workers[i].index = i;
		if (restore_worker_open(rs, &rs->workers[i], role, e))
			return -1;
		rs->n_workers++;
	}
	if (start_watchdog(rs, e))
		return -1;
	rc = pool_start(&pool, rs->n_workers, e);
	for (;;) {
		/* Sleep until the workers end, the next progress line, or the
		 * deadline, whichever comes first. */
		double wake = last + 1.0 - ms_now();
		bool deadline_counts = queue_left(rs);

		if (deadline_counts && rs->deadline > 0 && rs->deadline - ms_now() < wake)
			wake = rs->deadline - ms_now();
		if (rc || pool_wait(&pool, wake))
			break;
		if (deadline_counts && past_deadline(rs)) {
			struct ms_err te;
			ms_fail(&te, MS_TIMEOUT, "--timeout expired while loading data");
			restore_fail(rs, &te);
		}
		if (ms_now() - last >= 1.0) {
			last = ms_now();
			report(rs, "load");
		}
		/* Our sessions drop after wait_timeout (300 s) idle: keep the
		 * coordinator and the probe alive through a long load. */
		if (ms_now() - last_ping >= 60) {
			last_ping = ms_now();
			mysql_ping(rs->coord.mysql);
			if (rs->probe_open)
				mysql_ping(rs->probe.mysql);
		}
	}
	/* The workers' failures reach rs->err through restore_fail(). */
	if (rc == 0)
		pool_join(&pool, &ignored);
	if (rs->watchdog) {
		watchdog_stop(rs->watchdog, &ignored);
		rs->watchdog = NULL;
	}
	report(rs, "load");
	if (rs->failed) {
		*e = rs->err;
		return -1;
	}
	return rc;
}

static void workers_close(struct restore *rs)
{
	if (rs->watchdog) {
		struct ms_err ignored;
		watchdog_stop(rs->watchdog, &ignored);
		rs->watchdog = NULL;
	}
	for (unsigned i = 0; i < rs->n_workers; i++) {
		db_close(&rs->workers[i].db);
		backup_reader_free(rs->workers[i].reader);
	}
	free(rs->workers);
	rs->workers = NULL;
}

/* ---- the run ------------------------------------------------------------ */

static json_t *summary_json(struct restore *rs, json_t *check)
{
	json_t *s = json_object(), *dbs = json_array();
	size_t skipped = 0;

	for (size_t d = 0; d < rs->n_dbs; d++)
		json_array_append_new(dbs, json_pack("{s:s, s:s}", "from", rs->dbs[d].src, "to", rs->dbs[d].name));
	for (size_t i = 0; i < rs->n_tables; i++)
		skipped += rs->tables[i].skip;
	json_object_set_new(s, "status", json_string(check && json_array_size(check) ? "different" : "ok"));
	json_object_set_new(s, "directory", json_string(rs->o->dir));
	json_object_set_new(s, "databases", dbs);
	json_object_set_new(s, "tables", json_integer((json_int_t)(rs->n_tables - skipped)));
	json_object_set_new(s, "tables_skipped", json_integer((json_int_t)skipped));
	json_object_set_new(s, "rows", json_integer((json_int_t)rs->rows));
	json_object_set_new(s, "bytes", json_integer((json_int_t)rs->bytes));
	json_object_set_new(s, "duration_seconds", json_real(ms_now() - rs->started_at));
	json_object_set_new(s, "workers", json_integer(rs->n_workers));
	json_object_set_new(s, "resumed", json_boolean(rs->o->resume));
	json_object_set_new(s, "lock_retries", json_integer(rs->lock_retries));
	json_object_set_new(s, "yields", json_integer(rs->yields));
	json_object_set_new(s, "definer_fallbacks", json_integer(rs->definer_fallbacks));
	json_object_set_new(s, "warnings", json_incref(rs->warnings));
	json_object_set_new(s, "rewrites", json_incref(rs->rewrites));
	json_object_set_new(s, "verify", check ? json_pack("{s:b, s:O}", "identical", json_array_size(check) == 0,
							   "differences", check)
					       : json_null());
	return s;
}

static int run(struct restore *rs, json_t **summary, struct ms_err *e)
{
	struct backup_reader *rd = NULL;
	json_t *check = NULL;
	int rc = -1;

	if (check_backup(rs, e) || restore_plan_load(rs, e) || backup_reader_new(&rd, NULL, NULL, e) ||
	    rename_scan(rs, rd, e) || connect_all(rs, e))
		goto out;
	/* The journal first: an interrupted restore must be resumed (or its
	 * journal deleted) before another starts, and a resumed run knows
	 * which tables are its own before it looks. */
	if (journal_start(rs, e))
		goto out;
	if (check_targets(rs, e) || (rs->o->if_exists == RESTORE_FAIL && !rs->o->resume && check_objects(rs, rd, e))) {
		struct ms_err ignored;
		/* Refused before any change: there is nothing to resume. */
		if (!rs->o->resume)
			journal_finish(rs->journal, true, &ignored);
		journal_close(rs->journal);
		rs->journal = NULL;
		goto out;
	}
	for (size_t d = 0; d < rs->n_dbs; d++)
		if (create_database(rs, rd, &rs->dbs[d], e))
			goto out;
	if (rs->o->import_tables && rs->o->import_tables(rs->o->import_ctx, &rs->coord, e))
		goto out;
	for (size_t i = 0; i < rs->n_tables; i++) {
		struct rtable *t = &rs->tables[i];
		if (t->skip || t->external)
			continue;
		if (create_table(rs, rd, t, e))
			goto out;
		for (size_t c = 0; c < t->n_chunks; c++)
			if (journal_has(rs->journal, JOURNAL_CHUNK_DONE, t->chunks[c].f.path)) {
				t->chunks[c].done = true;
				t->chunks_done++;
			}
	}
	for (size_t i = 0; i < rs->n_tables; i++)
		if (rs->tables[i].skip || rs->tables[i].chunks_done == rs->tables[i].n_chunks)
			rs->tables_done++;
	if (load_data(rs, e))
		goto out;
	/* Tables whose last chunk a resumed run found done already. */
	for (size_t i = 0; i < rs->n_tables; i++)
		if (!rs->tables[i].skip && restore_add_keys(rs, &rs->coord, &rs->tables[i], e))
			goto out;
	report(rs, "finish");
	for (size_t d = 0; d < rs->n_dbs; d++)
		if (finish_database(rs, rd, &rs->dbs[d], e))
			goto out;
	if (rs->o->verify) {
		report(rs, "check");
		if (restore_check(rs, &check, e))
			goto out;
	}
	if (journal_finish(rs->journal, true, e))
		goto out;
	*summary = summary_json(rs, check);
	if (check && json_array_size(check)) {
		json_t *first = json_array_get(check, 0);
		rc = ms_fail(e, MS_CHECK_FAILED,
			     "--verify: %zu chunk%s differ%s from the backup, first %s.%s (%s: %lld rows expected, %lld found)",
			     json_array_size(check), json_array_size(check) == 1 ? "" : "s",
			     json_array_size(check) == 1 ? "s" : "",
			     json_string_value(json_object_get(first, "database")),
			     json_string_value(json_object_get(first, "table")),
			     json_string_value(json_object_get(first, "file")),
			     (long long)json_integer_value(json_object_get(first, "rows_expected")),
			     (long long)json_integer_value(json_object_get(first, "rows_found")));
		goto out;
	}
	rc = 0;
out:
	if (rc && rs->journal && e->status != MS_CHECK_FAILED)
		ms_fail_context(e, "the journal %s keeps what is done: rerun with --resume to continue",
				journal_path(rs->journal));
	json_decref(check);
	backup_reader_free(rd);
	return rc;
}

int restore_run(const struct restore_opts *o, json_t **summary, struct ms_err *e)
{
	struct restore rs;
	int rc;

	memset(&rs, 0, sizeof(rs));
	*summary = NULL;
	rs.o = o;
	rs.dir_fd = -1;
	rs.started_at = ms_now();
	rs.deadline = o->timeout_s > 0 ? rs.started_at + o->timeout_s : 0;
	rs.warnings = json_array();
	rs.rewrites = json_array();
	pthread_mutex_init(&rs.mu, NULL);
	rc = run(&rs, summary, e);
	if (rc && *summary && e->status != MS_CHECK_FAILED) {
		json_decref(*summary);
		*summary = NULL;
	}
	workers_close(&rs);
	journal_close(rs.journal);
	db_close(&rs.coord);
	if (rs.probe_open)
		db_close(&rs.probe);
	if (rs.dir_fd >= 0)
		close(rs.dir_fd);
	restore_plan_release(&rs);
	json_decref(rs.manifest);
	json_decref(rs.warnings);
	json_decref(rs.rewrites);
	pthread_mutex_destroy(&rs.mu);
	return rc;
}
