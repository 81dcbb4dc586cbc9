/* Sequences, views, triggers, routines and events: created under the
 * definer policy, with --if-exists applied, each CREATE bounded as a lock
 * request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restore/rename.h"
#include "restore/restore_internal.h"
#include "sql/sqlsplit.h"
#include "util/buf.h"

#define ER_SPECIFIC_ACCESS_DENIED 1227
#define ER_NO_SUCH_USER 1449

/* A journal key: the kind, then database and name quoted, each name up to
 * DB_NAME_MAX bytes that quoting can double. */
#define OBJECT_KEY_MAX (16 + 2 * (2 * DB_NAME_MAX + 3))

struct objects_ctx {
	const struct rdb *d;
	const char *what;
	unsigned created, skipped;
	/* The statements after a CREATE SEQUENCE set its state: the sequence
	 * is journaled once they ran (at the next CREATE or the file's end),
	 * and left alone with it when the CREATE is. */
	char pending_key[OBJECT_KEY_MAX], pending_label[600];
	bool skip_state;
};

/* "DROP TRIGGER IF EXISTS `x`", for replacing an object or undoing one
 * created with a missing definer. */
static char *drop_sql(const struct sqlsplit_object *ob)
{
	struct buf b = BUF_INIT;

	buf_addf(&b, "DROP %s IF EXISTS ", sqlsplit_kind_name(ob->kind));
	buf_add_ident(&b, ob->name.name);
	return b.failed ? (buf_release(&b), NULL) : buf_detach(&b);
}

static bool already_exists(const struct ms_err *e)
{
	/* table/view, routine, trigger, event, package */
	return e->sql_errno == 1050 || e->sql_errno == 1304 || e->sql_errno == 1359 || e->sql_errno == 1537;
}

/* True when the last statement left note 1449: its definer account does
 * not exist on this server. */
static bool definer_missing(struct db *db)
{
	MYSQL_RES *r = NULL;
	MYSQL_ROW row;
	struct ms_err e;
	bool missing = false;

	if (mysql_warning_count(db->mysql) == 0 || db_query(db, "SHOW WARNINGS", &r, &e) || !r)
		return false;
	while ((row = mysql_fetch_row(r)))
		if (row[1] && atoi(row[1]) == ER_NO_SUCH_USER)
			missing = true;
	mysql_free_result(r);
	return missing;
}

static int exec_bounded(struct restore *rs, struct db *db, const char *sql, const char *what, struct ms_err *e)
{
	struct lockreq_opts lo = restore_lockreq_opts(rs, what);
	unsigned attempts = 0;
	int rc = lockreq_exec(db, sql, &lo, &attempts, e);

	if (attempts > 1) {
		pthread_mutex_lock(&rs->mu);
		rs->lock_retries += attempts - 1;
		pthread_mutex_unlock(&rs->mu);
	}
	return rc;
}

/* Creates one object as the policy says; *fell_back tells the caller the
 * definer was replaced. */
static int create_object(struct restore *rs, struct db *db, const char *stmt, size_t len,
			 const struct sqlsplit_object *ob, const char *label, struct ms_err *e)
{
	struct sqlsplit_definer def;
	bool has_definer = sqlsplit_find_definer(stmt, len, &def);
	char account[300] = "";
	char *as_is = strndup(stmt, len), *as_current = NULL, *drop = NULL;
	int rc;

	if (!as_is)
		return ms_oom(e);
	if (has_definer)
		snprintf(account, sizeof(account), "%.*s", (int)(def.account_end - def.account_start),
			 stmt + def.account_start);
	if (has_definer && rs->o->definer == RESTORE_DEFINER_CURRENT) {
		as_current = sqlsplit_replace_definer(stmt, len, "DEFINER=CURRENT_USER");
		rc = as_current ? exec_bounded(rs, db, as_current, label, e) : ms_oom(e);
		goto out;
	}
	rc = exec_bounded(rs, db, as_is, label, e);
	if (!has_definer || rs->o->definer == RESTORE_DEFINER_KEEP) {
		if (rc && e->sql_errno == ER_SPECIFIC_ACCESS_DENIED && has_definer)
			ms_fail_context(e, "creating %s with DEFINER=%s needs SET USER (or SUPER); "
					   "use --definer current to create it as yourself", label, account);
		goto out;
	}
	if (rc && e->sql_errno == ER_SPECIFIC_ACCESS_DENIED) {
		restore_note(rs, "%s: this user may not create objects for %s (needs SET USER): created with DEFINER=CURRENT_USER",
			     label, account);
	} else if (rc == 0 && definer_missing(db)) {
		restore_note(rs, "%s: definer %s does not exist on this server: created with DEFINER=CURRENT_USER "
				 "(--definer keep keeps it)", label, account);
		if (!(drop = drop_sql(ob)) || exec_bounded(rs, db, drop, label, e)) {
			rc = drop ? -1 : ms_oom(e);
			goto out;
		}
	} else {
		goto out;
	}
	pthread_mutex_lock(&rs->mu);
	rs->definer_fallbacks++;
	pthread_mutex_unlock(&rs->mu);
	as_current = sqlsplit_replace_definer(stmt, len, "DEFINER=CURRENT_USER");
	rc = as_current ? exec_bounded(rs, db, as_current, label, e) : ms_oom(e);
out:
	free(as_is);
	free(as_current);
	free(drop);
	return rc;
}

/* One statement of an objects file: settings run as they are; a CREATE
 * is journaled, and replaced or skipped as --if-exists says. */
static int object_run(struct restore *rs, struct db *db, const char *stmt, size_t len, struct objects_ctx *c,
		      struct ms_err *e)
{
	struct sqlsplit_object ob;
	char key[OBJECT_KEY_MAX], label[600], *name_key;
	int rc;

	if (!sqlsplit_create_object(stmt, len, &ob) || ob.kind == SQLSPLIT_TABLE || ob.kind == SQLSPLIT_DATABASE) {
		char *sql;

		if (c->skip_state)
			return 0;
		sql = strndup(stmt, len);
		/* A sequence's state: on a live server someone may use it already. */
		rc = !sql ? ms_oom(e)
		     : c->pending_key[0] ? exec_bounded(rs, db, sql, c->pending_label, e) : db_exec(db, sql, e);
		free(sql);
		return rc;
	}
	if (c->pending_key[0] && journal_record(rs->journal, JOURNAL_OBJECT_DONE, c->pending_key, e))
		return -1;
	c->pending_key[0] = '\0';
	c->skip_state = ob.kind == SQLSPLIT_SEQUENCE;
	if (ob.kind == SQLSPLIT_SEQUENCE && !restore_chosen(rs, c->d->src, ob.name.name))
		return 0;
	/* The kind, then database and name quoted: a '/' or '.' in a name
	 * cannot make two objects share a journal key. */
	name_key = restore_table_key(c->d->name, ob.name.name);
	if (!name_key)
		return ms_oom(e);
	snprintf(key, sizeof(key), "%s %s", sqlsplit_kind_name(ob.kind), name_key);
	free(name_key);
	snprintf(label, sizeof(label), "%s %s.%s", sqlsplit_kind_name(ob.kind), c->d->name, ob.name.name);
	if (journal_has(rs->journal, JOURNAL_OBJECT_DONE, key))
		return 0;
	if (rs->o->if_exists == RESTORE_REPLACE || rs->o->if_exists == RESTORE_SWAP) {
		char *drop = drop_sql(&ob);
		rc = drop ? exec_bounded(rs, db, drop, label, e) : ms_oom(e);
		free(drop);
		if (rc)
			return -1;
	}
	rc = create_object(rs, db, stmt, len, &ob, label, e);
	if (rc && already_exists(e) && rs->o->if_exists == RESTORE_SKIP) {
		restore_note(rs, "%s exists: left as it is (--if-exists skip)", label);
		c->skipped++;
		rc = 0;
	} else if (rc && already_exists(e)) {
		ms_fail_context(e, "%s already exists (created since the restore started?); "
				   "--if-exists replace or swap replaces it", label);
	} else if (rc == 0) {
		c->created++;
		if (ob.kind == SQLSPLIT_SEQUENCE) {
			c->skip_state = false;
			snprintf(c->pending_key, sizeof(c->pending_key), "%s", key);
			snprintf(c->pending_label, sizeof(c->pending_label), "%s", label);
			return 0;
		}
	}
	if (rc == 0)
		rc = journal_record(rs->journal, JOURNAL_OBJECT_DONE, key, e);
	return rc;
}

/* Every statement runs as --rename makes it: in the target database. */
static int object_stmt(struct restore *rs, struct db *db, const char *stmt, size_t len, void *vctx,
		       struct ms_err *e)
{
	struct objects_ctx *c = vctx;
	char *sql;
	int rc;

	if (restore_rename_sql(rs->o, c->d->name, stmt, len, restore_no_backslash_escapes(db), NULL, 0, NULL, &sql, e))
		return -1;
	rc = object_run(rs, db, sql, strlen(sql), c, e);
	free(sql);
	return rc;
}

int restore_objects_file(struct restore *rs, struct db *db, struct backup_reader *rd, const struct rdb *d,
			 const struct backup_file *f, const char *what, struct ms_err *e)
{
	struct objects_ctx c = { .d = d, .what = what };

	if (mysql_select_db(db->mysql, d->name))
		return db_fail(db, e, "selecting the target database");
	/* Note 1449 (missing definer) is only recorded with sql_notes on. */
	if (db_exec(db, "SET SESSION sql_notes = 1", e) || restore_run_file(rs, db, rd, f, object_stmt, &c, e))
		return -1;
	return c.pending_key[0] ? journal_record(rs->journal, JOURNAL_OBJECT_DONE, c.pending_key, e) : 0;
}
