/* online_run(): plan an online schema change and refuse what it cannot do
 * safely, build the shadow table and its change-capture triggers, then (after
 * online_copy.c has copied and verified the rows) swap the tables in. */
#include "ddl/online_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ddl/ddl.h"
#include "mdl/holders.h"
#include "mdl/sql_targets.h"
#include "util/clock.h"
#include "util/note.h"

/* MariaDB allows several triggers per event and FOLLOWS from 10.2.3 on. */
#define MULTI_TRIGGER_VERSION 100203

static const char *const EVENTS[3] = {"INSERT", "UPDATE", "DELETE"};
static const char *const TRG_SUFFIX[3] = {"_ins", "_upd", "_del"};

struct user_trigger {
	char *name, *event, *timing;
	char *create_sql, *sql_mode; /* read just before the cut-over */
};

struct run {
	struct online s;
	struct user_trigger *ut;
	size_t n_ut;
	char *follows[3]; /* the last user AFTER trigger of each event */
	json_t *kills;
	bool shadow_created, triggers_created, swapped, checkpoint_made;
};

void online_note(struct online *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pthread_mutex_lock(&s->out_mu);
	ms_vnote(s->o->note, s->o->ctx, fmt, ap);
	pthread_mutex_unlock(&s->out_mu);
	va_end(ap);
}

void online_add_ident(struct buf *b, const char *name)
{
	char *q = db_quote_ident(name);

	if (!q) {
		b->failed = 1;
		return;
	}
	buf_adds(b, q);
	free(q);
}

void online_add_table(struct buf *b, const char *schema, const char *name)
{
	online_add_ident(b, schema);
	buf_addch(b, '.');
	online_add_ident(b, name);
}

void online_add_value(struct db *db, struct buf *b, const char *v)
{
	char *q = db_quote_string(db, v);

	if (!q) {
		b->failed = 1;
		return;
	}
	buf_adds(b, q);
	free(q);
}

int online_stopped(struct online *s, struct ms_err *e)
{
	if (!s->o->stop || !*s->o->stop)
		return 0;
	return ms_fail(e, MS_TIMEOUT, "stopped by a signal before the swap; %s.%s is unchanged", s->schema, s->table);
}

/* ---- lock requests and the kill policy ---------------------------------- */

static void forward_note(void *ctx, const char *line)
{
	online_note(ctx, "%s", line);
}

static void kill_holder(void *ctx, struct db *db, const struct mdl_session *ss, const char *held)
{
	struct run *r = ctx;
	unsigned long long protect[2] = {r->s.exec.thread_id, r->s.watch.thread_id};
	char sql[64];
	struct ms_err ke;

	if (!kill_policies_match(r->s.o->kill, ss, protect, 2))
		return;
	snprintf(sql, sizeof(sql), "KILL %llu", ss->id);
	if (db_exec(db, sql, &ke))
		return;
	json_array_append_new(r->kills, json_pack("{s:I, s:s, s:s, s:f, s:s}", "id", (json_int_t)ss->id, "user",
						  ss->user ? ss->user : "", "host", ss->host ? ss->host : "",
						  "transaction_age_seconds", ss->trx_age_s, "last_statement",
						  ss->info ? ss->info : ""));
	online_note(&r->s,
		    "killed session %llu (%s@%s, %s %.0f s in a transaction, last "
		    "statement: %.80s): it %s %s.%s and "
		    "matches --kill-blockers",
		    ss->id, ss->user ? ss->user : "", ss->host ? ss->host : "", ss->command ? ss->command : "",
		    ss->trx_age_s, ss->info ? ss->info : "(none)", held ? "held" : "may have held", r->s.schema,
		    held ? held : r->s.table);
}

/* After a lock request gave way: the holders of our tables that the
 * --kill-blockers policy names are killed, so the next attempt gets through. */
static void gave_way(void *ctx, unsigned attempt)
{
	struct run *r = ctx;
	const unsigned long ours[2] = {r->s.exec.thread_id, r->s.watch.thread_id};
	json_t *tables;
	struct ms_err e;

	(void)attempt;
	if (!r->s.o->kill || !r->s.o->kill->n)
		return;
	tables = json_pack("{s:b, s:b}", r->s.table, true, r->s.shadow, true);
	mdl_holders_each(&r->s.watch, r->s.schema, tables, r->s.o->max_stall_s, ours, 2, kill_holder, r, &e);
	json_decref(tables);
}

struct lockreq_opts online_lockreq(struct online *s, const char *what, bool nowait)
{
	struct lockreq_opts lo = {.budget_s = s->o->max_stall_s,
				  .deadline = s->deadline,
				  .probe = &s->watch,
				  .what = what,
				  .nowait_schema = nowait ? s->schema : NULL,
				  .note = forward_note,
				  .gave_way = gave_way,
				  .ctx = s};
	return lo;
}

/* lockreq's ctx is the struct online, first member of struct run. */
static int bounded(struct run *r, const char *sql, const char *what, bool nowait, unsigned *attempts, struct ms_err *e)
{
	struct lockreq_opts lo = online_lockreq(&r->s, what, nowait);

	return lockreq_exec(&r->s.exec, sql, &lo, attempts, e);
}

/* ---- reading the tables ----------------------------------------------------- */

static int query(struct online *s, struct buf *b, MYSQL_RES **res, struct ms_err *e)
{
	*res = NULL;
	if (b->failed)
		return ms_fail(e, MS_INTERNAL, "out of memory building a statement");
	return db_query(&s->watch, buf_str(b), res, e);
}

/* WHERE TABLE_SCHEMA = s AND <col> = t, for information_schema. */
static void where_table(struct online *s, struct buf *b, const char *schema_col, const char *table_col,
			const char *table)
{
	buf_addf(b, " WHERE %s = ", schema_col);
	online_add_value(&s->exec, b, s->schema);
	buf_addf(b, " AND %s = ", table_col);
	online_add_value(&s->exec, b, table);
}

struct colinfo {
	char *name, *type, *charset; /* charset: NULL for a column without one */
	bool generated;
};

static void colinfo_free(struct colinfo *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		free(c[i].name);
		free(c[i].type);
		free(c[i].charset);
	}
	free(c);
}

static int load_columns(struct online *s, const char *table, struct colinfo **out, size_t *n, struct ms_err *e)
{
	struct buf b = BUF_INIT;
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc;

	*out = NULL;
	*n = 0;
	buf_adds(&b, "SELECT COLUMN_NAME, DATA_TYPE, IS_GENERATED, CHARACTER_SET_NAME FROM "
		     "information_schema.COLUMNS");
	where_table(s, &b, "TABLE_SCHEMA", "TABLE_NAME", table);
	buf_adds(&b, " ORDER BY ORDINAL_POSITION");
	rc = query(s, &b, &res, e);
	buf_release(&b);
	if (rc)
		return -1;
	*out = calloc(mysql_num_rows(res) + 1, sizeof(**out));
	while (*out && (row = mysql_fetch_row(res))) {
		struct colinfo *c = &(*out)[(*n)++];
		c->name = strdup(row[0]);
		c->type = strdup(row[1] ? row[1] : "");
		c->generated = row[2] && !strcasecmp(row[2], "ALWAYS");
		c->charset = row[3] ? strdup(row[3]) : NULL;
	}
	mysql_free_result(res);
	return *out ? 0 : ms_fail(e, MS_INTERNAL, "out of memory");
}

static bool is_text_type(const char *t)
{
	return strcasestr(t, "char") || strcasestr(t, "text") || !strcasecmp(t, "enum") || !strcasecmp(t, "set");
}

struct keyinfo {
	char name[ONLINE_NAME_MAX];
	char **cols;
	size_t n;
	bool usable; /* unique, every column NOT NULL, no prefix */
};

static void keys_free(struct keyinfo *k, size_t n)
{
	for (size_t i = 0; k && i < n; i++)
		online_free_key(k[i].cols, k[i].n);
	free(k);
}

/* Every index of the table, PRIMARY first. */
static int load_keys(struct online *s, const char *table, struct keyinfo **out, size_t *n, struct ms_err *e)
{
	struct buf b = BUF_INIT;
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc;

	*out = NULL;
	*n = 0;
	buf_adds(&b, "SELECT INDEX_NAME, COLUMN_NAME, NON_UNIQUE, NULLABLE, SUB_PART "
		     "FROM information_schema.STATISTICS");
	where_table(s, &b, "TABLE_SCHEMA", "TABLE_NAME", table);
	buf_adds(&b, " ORDER BY INDEX_NAME <> 'PRIMARY', INDEX_NAME, SEQ_IN_INDEX");
	rc = query(s, &b, &res, e);
	buf_release(&b);
	if (rc)
		return -1;
	*out = calloc(mysql_num_rows(res) + 1, sizeof(**out));
	while (*out && (row = mysql_fetch_row(res))) {
		struct keyinfo *k = *n ? &(*out)[*n - 1] : NULL;
		char **grown;

		if (!k || strcmp(k->name, row[0])) {
			k = &(*out)[(*n)++];
			snprintf(k->name, sizeof(k->name), "%s", row[0]);
			k->usable = true;
		}
		if ((grown = realloc(k->cols, (k->n + 1) * sizeof(char *)))) {
			k->cols = grown;
			k->cols[k->n++] = strdup(row[1] ? row[1] : "");
		}
		if (!row[2] || strcmp(row[2], "0") || (row[3] && !strcasecmp(row[3], "YES")) || row[4])
			k->usable = false;
	}
	mysql_free_result(res);
	return *out ? 0 : ms_fail(e, MS_INTERNAL, "out of memory");
}

static bool same_columns(const struct keyinfo *k, char **cols, size_t n)
{
	if (k->n != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t j = 0; j < k->n && !found; j++)
			found = !strcmp(k->cols[j], cols[i]);
		if (!found)
			return false;
	}
	return true;
}

/* Foreign keys of, or pointing to, the table: refused (the shadow would
 * not have them, and RENAME would leave children pointing at _t_old). */
static int refuse_foreign_keys(struct online *s, struct ms_err *e)
{
	struct buf b = BUF_INIT;
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc;

	buf_adds(&b, "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, TABLE_NAME = ");
	online_add_value(&s->exec, &b, s->table);
	buf_adds(&b, " AND CONSTRAINT_SCHEMA = ");
	online_add_value(&s->exec, &b, s->schema);
	buf_adds(&b, " FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE "
		     "(UNIQUE_CONSTRAINT_SCHEMA = ");
	online_add_value(&s->exec, &b, s->schema);
	buf_adds(&b, " AND REFERENCED_TABLE_NAME = ");
	online_add_value(&s->exec, &b, s->table);
	buf_adds(&b, ") OR (CONSTRAINT_SCHEMA = ");
	online_add_value(&s->exec, &b, s->schema);
	buf_adds(&b, " AND TABLE_NAME = ");
	online_add_value(&s->exec, &b, s->table);
	buf_adds(&b, ") LIMIT 1");
	rc = query(s, &b, &res, e);
	buf_release(&b);
	if (rc)
		return -1;
	if ((row = mysql_fetch_row(res))) {
		if (row[3] && !strcmp(row[3], "1") && strcmp(row[1], s->table) == 0)
			rc = ms_fail(e, MS_USAGE,
				     "%s.%s has a foreign key (%s): the shadow copy made with "
				     "CREATE TABLE LIKE would not have "
				     "it; refused. Drop the constraint first, or change the "
				     "table with plain 'mdlsafe ddl'",
				     s->schema, s->table, row[2]);
		else
			rc = ms_fail(e, MS_USAGE,
				     "foreign key %s of %s.%s points to %s.%s: after the swap it "
				     "would point to the old copy; "
				     "refused. Drop that constraint first, or change the table "
				     "with plain 'mdlsafe ddl'",
				     row[2], row[0], row[1], s->schema, s->table);
	}
	mysql_free_result(res);
	return rc;
}

/* The user's triggers on the table: kept (several per event coexist on
 * MariaDB 10.2.3+), ours follow the last AFTER trigger of each event, and
 * they move to the new table at the cut-over. */
static int load_user_triggers(struct run *r, struct ms_err *e)
{
	struct online *s = &r->s;
	struct buf b = BUF_INIT;
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc;

	buf_adds(&b, "SELECT TRIGGER_NAME, EVENT_MANIPULATION, ACTION_TIMING FROM "
		     "information_schema.TRIGGERS");
	where_table(s, &b, "EVENT_OBJECT_SCHEMA", "EVENT_OBJECT_TABLE", s->table);
	buf_adds(&b, " ORDER BY EVENT_MANIPULATION, ACTION_TIMING, ACTION_ORDER");
	rc = query(s, &b, &res, e);
	buf_release(&b);
	if (rc)
		return -1;
	r->ut = calloc(mysql_num_rows(res) + 1, sizeof(*r->ut));
	while (r->ut && (row = mysql_fetch_row(res))) {
		bool ours = false;
		for (int i = 0; i < 3; i++)
			ours |= !strcmp(row[0], s->trg[i]);
		if (ours)
			continue;
		struct user_trigger *t = &r->ut[r->n_ut++];
		t->name = strdup(row[0]);
		t->event = strdup(row[1]);
		t->timing = strdup(row[2]);
		for (int i = 0; i < 3; i++)
			if (!strcasecmp(row[1], EVENTS[i]) && !strcasecmp(row[2], "AFTER")) {
				free(r->follows[i]);
				r->follows[i] = strdup(row[0]);
			}
	}
	mysql_free_result(res);
	if (!r->ut)
		return ms_fail(e, MS_INTERNAL, "out of memory");
	if (r->n_ut && s->watch.server_version < MULTI_TRIGGER_VERSION)
		return ms_fail(e, MS_USAGE,
			       "%s.%s has triggers (%s ...) and this server allows only "
			       "one trigger per event (MariaDB "
			       "10.2.3 and later allow several); refused",
			       s->schema, s->table, r->ut[0].name);
	return 0;
}

/* Names in the schema that start with '_' (tables) and trigger names, for
 * choosing shadow names nobody uses and reporting leftovers. */
static int taken_names(struct online *s, json_t **names, struct ms_err *e)
{
	struct buf b = BUF_INIT;
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc;

	*names = json_object();
	buf_adds(&b, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ");
	online_add_value(&s->exec, &b, s->schema);
	buf_adds(&b, " AND TABLE_NAME LIKE '\\_%' UNION ALL SELECT TRIGGER_NAME FROM "
		     "information_schema.TRIGGERS "
		     "WHERE TRIGGER_SCHEMA = ");
	online_add_value(&s->exec, &b, s->schema);
	rc = query(s, &b, &res, e);
	buf_release(&b);
	if (rc)
		return -1;
	while ((row = mysql_fetch_row(res)))
		json_object_set_new(*names, row[0], json_true());
	mysql_free_result(res);
	return 0;
}

static void set_trigger_names(struct online *s)
{
	for (int i = 0; i < 3; i++)
		snprintf(s->trg[i], sizeof(s->trg[i]), "%.*s%s", (int)(ONLINE_NAME_MAX - 5), s->shadow, TRG_SUFFIX[i]);
}

/* _t_new/_t_old, or _t_new2/_t_old2 ... when an earlier run left some of
 * those behind (each leftover is reported). */
static int choose_names(struct online *s, json_t *taken, json_t *leftovers, struct ms_err *e)
{
	char base[56];
	size_t len = strlen(s->table);

	if (len > 54) /* room for "_" + "_new9" + "_ins" */
		for (len = 54; len > 0 && ((unsigned char)s->table[len] & 0xC0) == 0x80; len--)
			;
	snprintf(base, sizeof(base), "_%.*s", (int)(len > 54 ? 54 : len), s->table);
	for (int i = 1; i <= 9; i++) {
		char nw[ONLINE_NAME_MAX], od[ONLINE_NAME_MAX], sfx[4] = "";
		bool free_ = true;

		if (i > 1)
			snprintf(sfx, sizeof(sfx), "%d", i);
		snprintf(nw, sizeof(nw), "%.55s_new%s", base, sfx);
		snprintf(od, sizeof(od), "%.55s_old%s", base, sfx);
		snprintf(s->shadow, sizeof(s->shadow), "%s", nw);
		set_trigger_names(s);
		const char *names[5] = {nw, od, s->trg[0], s->trg[1], s->trg[2]};
		for (int k = 0; k < 5; k++)
			if (json_object_get(taken, names[k])) {
				json_array_append_new(leftovers, json_string(names[k]));
				free_ = false;
			}
		if (free_) {
			snprintf(s->old, sizeof(s->old), "%s", od);
			return 0;
		}
	}
	return ms_fail(e, MS_USAGE,
		       "%s.%s: %s_new .. %s_new9 or their _old/trigger names are all "
		       "taken by leftovers of "
		       "earlier runs; drop them",
		       s->schema, s->table, base, base);
}

/* ---- the plan --------------------------------------------------------------- */

/* RENAME [TO|AS] name or RENAME COLUMN in the ALTER (RENAME INDEX/KEY is
 * harmless): the copy goes by table and column names. */
static bool renames(const char *tail)
{
	for (const char *p = tail; (p = strcasestr(p, "RENAME")); p += 6) {
		const char *q = p + 6;
		if ((p > tail && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '`')) ||
		    isalnum((unsigned char)*q) || *q == '_')
			continue;
		while (isspace((unsigned char)*q))
			q++;
		if (strncasecmp(q, "INDEX", 5) && strncasecmp(q, "KEY", 3))
			return true;
	}
	return false;
}

static int plan_table(struct run *r, const char *sql, char **tail, struct ms_err *e)
{
	struct online *s = &r->s;
	struct sql_targets tg = {0};
	const char *a, *b;
	int rc = 0;

	if (sql_targets_parse(sql, &tg) == 0 && tg.kind == SQL_STMT_ALTER_TABLE &&
	    ddl_table_span(sql, tg.kind, &a, &b) && renames(b)) {
		sql_targets_release(&tg);
		return ms_fail(e, MS_USAGE,
			       "%.200s: RENAME would apply to the shadow copy (a renamed table or column is not copied "
			       "over); refused: rename in a separate 'mdlsafe ddl' statement",
			       sql);
	}
	if (tg.kind != SQL_STMT_ALTER_TABLE || tg.n_tables != 1 || !ddl_table_span(sql, tg.kind, &a, &b)) {
		sql_targets_release(&tg);
		return ms_fail(e, MS_USAGE, "--online takes one ALTER TABLE statement, got: %.200s", sql);
	}
	if (!tg.tables[0].schema && !s->o->database)
		rc = ms_fail(e, MS_USAGE, "%.200s: the table is not qualified; give the database with -D DB", sql);
	snprintf(s->schema, sizeof(s->schema), "%s",
		 tg.tables[0].schema ? tg.tables[0].schema
		 : s->o->database    ? s->o->database
				     : "");
	snprintf(s->table, sizeof(s->table), "%s", tg.tables[0].name);
	sql_targets_release(&tg);
	if (rc)
		return rc;
	size_t n = strlen(b);
	while (n && (b[n - 1] == ';' || b[n - 1] == ' ' || b[n - 1] == '\n' || b[n - 1] == '\t' || b[n - 1] == '\r'))
		n--;
	if (!(*tail = strndup(b, n)))
		return ms_fail(e, MS_INTERNAL, "out of memory");
	if (strspn(*tail, " \t\r\n") == n)
		return ms_fail(e, MS_USAGE, "%.200s: the ALTER TABLE changes nothing", sql);
	return 0;
}

/* Rows and size from the table's statistics; InnoDB only. */
static int plan_size(struct online *s, unsigned long long *bytes, struct ms_err *e)
{
	struct buf b = BUF_INIT;
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc;

	buf_adds(&b, "SELECT ENGINE, TABLE_ROWS, DATA_LENGTH + INDEX_LENGTH, "
		     "TABLE_TYPE FROM information_schema.TABLES");
	where_table(s, &b, "TABLE_SCHEMA", "TABLE_NAME", s->table);
	rc = query(s, &b, &res, e);
	buf_release(&b);
	if (rc)
		return -1;
	if (!(row = mysql_fetch_row(res)))
		rc = ms_fail(e, MS_USAGE, "%s.%s: no such table", s->schema, s->table);
	else if (!row[0] || strcasecmp(row[0], "InnoDB"))
		rc = ms_fail(e, MS_USAGE,
			     "%s.%s is %s, not InnoDB: the online copy relies on InnoDB's "
			     "row locks and transactions; refused",
			     s->schema, s->table,
			     row[0]   ? row[0]
			     : row[3] ? row[3]
				      : "not a table");
	else {
		s->rows_estimated = strtoull(row[1] ? row[1] : "0", NULL, 10);
		*bytes = strtoull(row[2] ? row[2] : "0", NULL, 10);
	}
	mysql_free_result(res);
	return rc;
}

/* The copy key: PRIMARY, else the first unique key of NOT NULL columns. */
static int plan_key(struct online *s, struct ms_err *e)
{
	struct keyinfo *k;
	size_t n;

	if (load_keys(s, s->table, &k, &n, e))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (k[i].usable) {
			snprintf(s->key_name, sizeof(s->key_name), "%s", k[i].name);
			s->key = k[i].cols;
			s->n_key = k[i].n;
			k[i].cols = NULL;
			k[i].n = 0;
			break;
		}
	keys_free(k, n);
	if (!s->n_key)
		return ms_fail(e, MS_USAGE,
			       "%s.%s has no PRIMARY KEY and no UNIQUE key on NOT NULL "
			       "columns: the copy and the triggers "
			       "need one to find each row; refused (add one first)",
			       s->schema, s->table);
	return 0;
}

/* After the ALTER ran on the shadow: the copy key must still be unique
 * there, and the copied columns are those both tables have (generated
 * columns are computed, not copied). */
static int plan_shadow(struct online *s, const char *sql, json_t *dropped, struct ms_err *e)
{
	struct colinfo *oc = NULL, *nc = NULL;
	struct keyinfo *k = NULL;
	size_t no = 0, nn = 0, nk = 0;
	bool key_kept = false;
	int rc = 0;

	if (load_columns(s, s->table, &oc, &no, e) || load_columns(s, s->shadow, &nc, &nn, e) ||
	    load_keys(s, s->shadow, &k, &nk, e)) {
		rc = -1;
		goto out;
	}
	s->cols = calloc(no + 1, sizeof(*s->cols));
	for (size_t i = 0; s->cols && i < no; i++) {
		const struct colinfo *match = NULL;
		for (size_t j = 0; j < nn && !match; j++)
			if (!strcmp(oc[i].name, nc[j].name))
				match = &nc[j];
		if (!match) {
			json_array_append_new(dropped, json_string(oc[i].name));
			continue;
		}
		if (oc[i].generated || match->generated)
			continue;
		struct online_col *c = &s->cols[s->n_cols++];
		c->name = strdup(oc[i].name);
		c->text = is_text_type(oc[i].type) || is_text_type(match->type);
		c->convert = c->text && (!oc[i].charset || !match->charset || strcmp(oc[i].charset, match->charset));
	}
	for (size_t i = 0; i < nk && !key_kept; i++)
		key_kept = k[i].usable && same_columns(&k[i], s->key, s->n_key);
	if (!key_kept) {
		rc = ms_fail(e, MS_USAGE,
			     "%.200s: after this ALTER, the key the copy goes by (%s) is no longer "
			     "a unique key of NOT NULL "
			     "columns; refused (keep that key, or add another unique key first)",
			     sql, s->key_name);
		goto out;
	}
	if (json_array_size(dropped) && strcasestr(sql, "CHANGE"))
		rc = ms_fail(e, MS_USAGE,
			     "%.200s: column %s is not in the new table; if CHANGE renames "
			     "it, its values would be lost "
			     "(the copy goes by column name); refused: rename it in a "
			     "separate change",
			     sql, json_string_value(json_array_get(dropped, 0)));
out:
	colinfo_free(oc, no);
	colinfo_free(nc, nn);
	keys_free(k, nk);
	return rc;
}

/* ---- the triggers ----------------------------------------------------------- */

static void add_new_values(struct online *s, struct buf *b, const char *row)
{
	buf_adds(b, "REPLACE INTO ");
	online_add_table(b, s->schema, s->shadow);
	buf_adds(b, " (");
	for (size_t i = 0; i < s->n_cols; i++) {
		buf_adds(b, i ? ", " : "");
		online_add_ident(b, s->cols[i].name);
	}
	buf_adds(b, ") VALUES (");
	for (size_t i = 0; i < s->n_cols; i++) {
		buf_addf(b, "%s%s.", i ? ", " : "", row);
		online_add_ident(b, s->cols[i].name);
	}
	buf_adds(b, ")");
}

static void add_delete_old(struct online *s, struct buf *b)
{
	buf_adds(b, "DELETE IGNORE FROM ");
	online_add_table(b, s->schema, s->shadow);
	buf_adds(b, " WHERE ");
	for (size_t i = 0; i < s->n_key; i++) {
		buf_adds(b, i ? " AND " : "");
		online_add_ident(b, s->key[i]);
		buf_adds(b, " <=> OLD.");
		online_add_ident(b, s->key[i]);
	}
}

/* CREATE TRIGGER for event i: every change to the original is applied to
 * the shadow in the same transaction. */
static char *trigger_sql(struct run *r, int i)
{
	struct online *s = &r->s;
	struct buf b = BUF_INIT;

	buf_adds(&b, "CREATE TRIGGER ");
	online_add_table(&b, s->schema, s->trg[i]);
	buf_addf(&b, " AFTER %s ON ", EVENTS[i]);
	online_add_table(&b, s->schema, s->table);
	buf_adds(&b, " FOR EACH ROW ");
	if (r->follows[i]) {
		buf_adds(&b, "FOLLOWS ");
		online_add_ident(&b, r->follows[i]);
		buf_adds(&b, " ");
	}
	if (i == 0) {
		add_new_values(s, &b, "NEW");
	} else if (i == 2) {
		add_delete_old(s, &b);
	} else {
		/* A changed key moves the row: the old one goes first. */
		buf_adds(&b, "BEGIN IF NOT (TRUE");
		for (size_t k = 0; k < s->n_key; k++) {
			buf_adds(&b, " AND OLD.");
			online_add_ident(&b, s->key[k]);
			buf_adds(&b, " <=> NEW.");
			online_add_ident(&b, s->key[k]);
		}
		buf_adds(&b, ") THEN ");
		add_delete_old(s, &b);
		buf_adds(&b, "; END IF; ");
		add_new_values(s, &b, "NEW");
		buf_adds(&b, "; END");
	}
	return b.failed ? (buf_release(&b), NULL) : buf_detach(&b);
}

static int create_triggers(struct run *r, struct ms_err *e)
{
	struct online *s = &r->s;

	for (int i = 0; i < 3; i++) {
		char *sql = trigger_sql(r, i), what[320];
		unsigned attempts = 0;
		int rc;

		if (!sql)
			return ms_fail(e, MS_INTERNAL, "out of memory");
		if (online_stopped(s, e)) {
			free(sql);
			return -1;
		}
		snprintf(what, sizeof(what), "create trigger %s on %s.%s", s->trg[i], s->schema, s->table);
		rc = bounded(r, sql, what, false, &attempts, e);
		free(sql);
		if (rc)
			return ms_fail_context(e, "creating the %s trigger on %s.%s", EVENTS[i], s->schema, s->table);
		r->triggers_created = true;
		online_note(s, "trigger %s created on %s.%s (%u attempt%s)%s%s", s->trg[i], s->schema, s->table,
			    attempts, attempts == 1 ? "" : "s", r->follows[i] ? "; it follows your trigger " : "",
			    r->follows[i] ? r->follows[i] : "");
	}
	return 0;
}

/* Our triggers, wherever they are now (on the original, or on _t_old
 * after the swap); missing ones are fine. */
static int drop_triggers(struct run *r, bool nowait, struct ms_err *e)
{
	struct online *s = &r->s;
	int rc = 0;

	for (int i = 0; i < 3; i++) {
		struct buf b = BUF_INIT;
		char what[320];

		buf_adds(&b, "DROP TRIGGER IF EXISTS ");
		online_add_table(&b, s->schema, s->trg[i]);
		snprintf(what, sizeof(what), "drop trigger %s", s->trg[i]);
		if (!b.failed && bounded(r, buf_str(&b), what, nowait, NULL, e))
			rc = -1;
		buf_release(&b);
	}
	return rc;
}

static int drop_table(struct run *r, const char *name, struct ms_err *e)
{
	struct buf b = BUF_INIT;
	char what[320];
	int rc;

	buf_adds(&b, "DROP TABLE IF EXISTS ");
	online_add_table(&b, r->s.schema, name);
	snprintf(what, sizeof(what), "drop %s.%s", r->s.schema, name);
	rc = b.failed ? ms_fail(e, MS_INTERNAL, "out of memory") : bounded(r, buf_str(&b), what, true, NULL, e);
	buf_release(&b);
	return rc;
}

/* ---- the cut-over ----------------------------------------------------------- */

/* The user's triggers as SHOW CREATE TRIGGER gives them, to re-create on
 * the new table after the swap (the old ones go with the old table). */
static int read_user_triggers(struct run *r, struct ms_err *e)
{
	for (size_t i = 0; i < r->n_ut; i++) {
		struct buf b = BUF_INIT;
		MYSQL_RES *res;
		MYSQL_ROW row;

		buf_adds(&b, "SHOW CREATE TRIGGER ");
		online_add_table(&b, r->s.schema, r->ut[i].name);
		if (query(&r->s, &b, &res, e)) {
			buf_release(&b);
			return -1;
		}
		buf_release(&b);
		if ((row = mysql_fetch_row(res)) && row[2]) {
			r->ut[i].sql_mode = strdup(row[1] ? row[1] : "");
			r->ut[i].create_sql = strdup(row[2]);
		}
		mysql_free_result(res);
		if (!r->ut[i].create_sql)
			return ms_fail(e, MS_SERVER, "cannot read trigger %s.%s", r->s.schema, r->ut[i].name);
	}
	return 0;
}

static int move_user_triggers(struct run *r, struct ms_err *e)
{
	struct online *s = &r->s;

	for (size_t i = 0; i < r->n_ut; i++) {
		struct buf b = BUF_INIT;
		char what[320];
		int rc;

		buf_adds(&b, "DROP TRIGGER ");
		online_add_table(&b, s->schema, r->ut[i].name);
		snprintf(what, sizeof(what), "move trigger %s to the new %s", r->ut[i].name, s->table);
		rc = bounded(r, buf_str(&b), what, true, NULL, e);
		buf_reset(&b);
		buf_adds(&b, "SET SESSION sql_mode = ");
		online_add_value(&s->exec, &b, r->ut[i].sql_mode);
		if (rc == 0)
			rc = db_exec(&s->exec, buf_str(&b), e);
		if (rc == 0)
			rc = bounded(r, r->ut[i].create_sql, what, false, NULL, e);
		db_exec(&s->exec, "SET SESSION sql_mode = DEFAULT", &(struct ms_err){0});
		buf_release(&b);
		if (rc)
			return ms_fail_context(e,
					       "re-creating your trigger %s on the new %s.%s "
					       "(its statement: %.200s)",
					       r->ut[i].name, s->schema, s->table, r->ut[i].create_sql);
		online_note(s, "your trigger %s now fires on the new %s.%s", r->ut[i].name, s->schema, s->table);
	}
	return 0;
}

static bool wait_postpone(struct online *s, struct ms_err *e)
{
	bool told = false;

	while (s->o->postpone_file && access(s->o->postpone_file, F_OK) == 0) {
		if (!told)
			online_note(s, "cut-over postponed while %s exists (the triggers keep %s current)",
				    s->o->postpone_file, s->shadow);
		told = true;
		if (ms_now() >= s->deadline) {
			ms_fail(e, MS_TIMEOUT, "--deadline reached while %s postponed the cut-over",
				s->o->postpone_file);
			return false;
		}
		if (online_stopped(s, e))
			return false;
		ms_sleep(0.25);
	}
	return true;
}

static int cut_over(struct run *r, json_t *cut, struct ms_err *e)
{
	struct online *s = &r->s;
	struct buf b = BUF_INIT;
	unsigned attempts = 0;
	double t0;
	char what[320];
	int rc;

	if (!wait_postpone(s, e) || online_stopped(s, e) || read_user_triggers(r, e))
		return -1;
	buf_adds(&b, "RENAME TABLE ");
	online_add_table(&b, s->schema, s->table);
	buf_adds(&b, " TO ");
	online_add_table(&b, s->schema, s->old);
	buf_adds(&b, ", ");
	online_add_table(&b, s->schema, s->shadow);
	buf_adds(&b, " TO ");
	online_add_table(&b, s->schema, s->table);
	snprintf(what, sizeof(what), "swap %s.%s with %s", s->schema, s->table, s->shadow);
	t0 = ms_now();
	rc = b.failed ? ms_fail(e, MS_INTERNAL, "out of memory") : bounded(r, buf_str(&b), what, true, &attempts, e);
	buf_release(&b);
	json_object_set_new(cut, "attempts", json_integer(attempts));
	json_object_set_new(cut, "seconds", json_real(ms_now() - t0));
	if (rc)
		return ms_fail_context(e, "cut-over");
	r->swapped = true;
	online_note(s,
		    "cut-over: %s.%s is the new table (%u attempt%s, %.2f s); the "
		    "old one is %s",
		    s->schema, s->table, attempts, attempts == 1 ? "" : "s", ms_now() - t0, s->old);
	return move_user_triggers(r, e);
}

/* ---- the run ---------------------------------------------------------------- */

static json_t *holders_now(struct online *s)
{
	const unsigned long ours[] = {s->exec.thread_id, s->watch.thread_id};
	json_t *names = json_pack("{s:b}", s->table, true), *a;

	a = mdl_holders(&s->watch, s->schema, names, s->o->max_stall_s, ours, 2);
	json_decref(names);
	return a;
}

static int create_shadow(struct run *r, const char *tail, struct ms_err *e)
{
	struct online *s = &r->s;
	struct buf b = BUF_INIT;
	char what[320];
	int rc;

	buf_adds(&b, "CREATE TABLE ");
	online_add_table(&b, s->schema, s->shadow);
	buf_adds(&b, " LIKE ");
	online_add_table(&b, s->schema, s->table);
	snprintf(what, sizeof(what), "copy the definition of %s.%s", s->schema, s->table);
	rc = b.failed ? ms_fail(e, MS_INTERNAL, "out of memory") : bounded(r, buf_str(&b), what, false, NULL, e);
	if (rc == 0)
		r->shadow_created = true;
	buf_reset(&b);
	buf_adds(&b, "ALTER TABLE ");
	online_add_table(&b, s->schema, s->shadow);
	buf_addf(&b, " %s", tail);
	if (rc == 0 && (rc = b.failed ? ms_fail(e, MS_INTERNAL, "out of memory") : db_exec(&s->exec, buf_str(&b), e)))
		ms_fail_context(e, "applying the ALTER to the shadow table %s", s->shadow);
	buf_release(&b);
	return rc;
}

/* Resuming: the checkpoint names the shadow, and our three triggers must
 * still be there (without them changes since the crash are lost). */
static int resume_check(struct run *r, const char *stored_alter, const char *sql, json_t *taken, struct ms_err *e)
{
	struct online *s = &r->s;

	if (strcmp(stored_alter, sql))
		return ms_fail(e, MS_USAGE,
			       "--resume: the interrupted change of %s.%s was \"%.200s\", "
			       "not this one; resume it with the "
			       "same statement",
			       s->schema, s->table, stored_alter);
	set_trigger_names(s);
	if (!json_object_get(taken, s->shadow))
		return ms_fail(e, MS_USAGE,
			       "--resume: the shadow table %s.%s is gone; drop the "
			       "checkpoint row (DELETE FROM "
			       "%s.%s WHERE table_name = '%s') and start again",
			       s->schema, s->shadow, s->schema, ONLINE_CHECKPOINT, s->table);
	for (int i = 0; i < 3; i++)
		if (!json_object_get(taken, s->trg[i]))
			return ms_fail(e, MS_USAGE,
				       "--resume: trigger %s is gone, so changes since the interruption "
				       "were not "
				       "captured; drop %s.%s and the checkpoint row and start again",
				       s->trg[i], s->schema, s->shadow);
	return 0;
}

static int run_change(struct run *r, json_t *report, struct ms_err *e)
{
	struct online *s = &r->s;
	const struct online_opts *o = s->o;
	json_t *taken = NULL, *leftovers = json_array(), *dropped = json_array(), *cut = json_object(), *trgs;
	char *tail = NULL, *stored_alter = NULL;
	unsigned long long bytes = 0;
	int rc = -1, found;

	json_object_set_new(report, "leftovers", leftovers);
	json_object_set_new(report, "cutover", cut);
	if (plan_table(r, o->statement, &tail, e))
		goto out;
	json_object_set_new(report, "table", json_sprintf("%s.%s", s->schema, s->table));
	if (mysql_select_db(s->exec.mysql, s->schema)) {
		db_fail(&s->exec, e, "selecting the table's database");
		goto out;
	}
	if (plan_size(s, &bytes, e) || plan_key(s, e) || refuse_foreign_keys(s, e) || taken_names(s, &taken, e))
		goto out;
	if ((found = online_checkpoint_load(s, &stored_alter, e)) < 0)
		goto out;
	if (found && !o->resume && !o->dry_run) {
		ms_fail(e, MS_USAGE,
			"an earlier run of 'ddl --online' on %s.%s stopped after copying "
			"%llu rows (shadow %s, triggers "
			"%s_ins/_upd/_del); --resume continues it with the same statement. "
			"To start again instead drop "
			"them and the checkpoint row: DELETE FROM %s.%s WHERE table_name = "
			"'%s'",
			s->schema, s->table, s->rows_copied, s->shadow, s->shadow, s->schema, ONLINE_CHECKPOINT,
			s->table);
		goto out;
	}
	if (!found && o->resume) {
		ms_fail(e, MS_USAGE, "--resume: no interrupted change of %s.%s is recorded in %s.%s", s->schema,
			s->table, s->schema, ONLINE_CHECKPOINT);
		goto out;
	}
	if (found && o->resume ? resume_check(r, stored_alter, o->statement, taken, e)
			       : choose_names(s, taken, leftovers, e))
		goto out;
	if (!found || !o->resume) {
		online_free_key(s->last, s->n_key);
		s->last = NULL;
		s->rows_copied = 0;
	}
	for (size_t i = 0; i < json_array_size(leftovers); i++)
		online_note(s,
			    "found %s.%s, left by an earlier run? not touched; this run "
			    "uses other names",
			    s->schema, json_string_value(json_array_get(leftovers, i)));
	if (load_user_triggers(r, e))
		goto out;
	if (o->dry_run && db_exec(&s->exec, "SET SESSION sql_log_bin = 0", &(struct ms_err){0}) == 0)
		online_note(s, "dry run: the scratch shadow table is not written to the binary log");
	if (!(found && o->resume) && create_shadow(r, tail, e))
		goto out;
	if (plan_shadow(s, o->statement, dropped, e))
		goto out;

	/* The plan, complete. */
	trgs = json_array();
	for (int i = 0; i < 3; i++)
		json_array_append_new(trgs, json_pack("{s:s, s:s, s:s?}", "name", s->trg[i], "event", EVENTS[i],
						      "follows", r->follows[i]));
	json_t *key = json_array(), *ut = json_array();
	for (size_t i = 0; i < s->n_key; i++)
		json_array_append_new(key, json_string(s->key[i]));
	for (size_t i = 0; i < r->n_ut; i++)
		json_array_append_new(ut, json_pack("{s:s, s:s, s:s}", "name", r->ut[i].name, "event", r->ut[i].event,
						    "timing", r->ut[i].timing));
	json_object_set_new(s->plan, "shadow_table", json_string(s->shadow));
	json_object_set_new(s->plan, "old_table", json_string(s->old));
	json_object_set_new(s->plan, "triggers", trgs);
	json_object_set_new(s->plan, "your_triggers", ut);
	json_object_set_new(s->plan, "chunk_key", json_pack("{s:s, s:o}", "index", s->key_name, "columns", key));
	json_object_set_new(s->plan, "estimated_rows", json_integer((json_int_t)s->rows_estimated));
	json_object_set_new(s->plan, "disk_needed_bytes", json_integer((json_int_t)bytes));
	json_object_set_new(s->plan, "columns_copied", json_integer((json_int_t)s->n_cols));
	json_object_set_new(s->plan, "columns_dropped", json_incref(dropped));
	json_object_set_new(s->plan, "holders_at_start", holders_now(s));
	json_object_set_new(s->plan, "resumed_after_rows",
			    json_integer(found && o->resume ? (json_int_t)s->rows_copied : 0));
	{
		char keys[300] = "";
		for (size_t i = 0; i < s->n_key; i++)
			snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys), "%s%s", i ? "," : "", s->key[i]);
		online_note(s,
			    "plan: %s.%s -> shadow %s (old table kept as %s until dropped), "
			    "triggers %s/%s/%s, chunks by %s (%s), "
			    "~%llu rows, ~%.1f MiB more disk; %zu session%s hold%s the table now",
			    s->schema, s->table, s->shadow, s->old, s->trg[0], s->trg[1], s->trg[2], s->key_name, keys,
			    s->rows_estimated, (double)bytes / 1048576.0,
			    json_array_size(json_object_get(s->plan, "holders_at_start")),
			    json_array_size(json_object_get(s->plan, "holders_at_start")) == 1 ? "" : "s",
			    json_array_size(json_object_get(s->plan, "holders_at_start")) == 1 ? "s" : "");
	}
	if (r->n_ut)
		online_note(s,
			    "%s.%s has %zu trigger%s of its own: ours coexist with them "
			    "(each follows the last AFTER "
			    "trigger of its event), and they are re-created on the new "
			    "table right after the swap",
			    s->schema, s->table, r->n_ut, r->n_ut == 1 ? "" : "s");
	if (o->chunk_time_s > o->max_stall_s)
		online_note(
		    s,
		    "--chunk-time %.2f s is above --max-stall: a write to a row being copied, or someone's DDL on "
		    "%s.%s, may wait up to a chunk's time",
		    o->chunk_time_s, s->schema, s->table);
	if (o->dry_run) {
		rc = drop_table(r, s->shadow, e);
		r->shadow_created = rc != 0;
		goto out;
	}

	if (!(found && o->resume)) {
		if (online_checkpoint_create(s, o->statement, e))
			goto out;
		r->checkpoint_made = true;
		if (create_triggers(r, e))
			goto out;
	} else {
		r->checkpoint_made = r->shadow_created = r->triggers_created = true;
		online_note(s, "resuming after %llu rows copied", s->rows_copied);
	}
	if (online_copy_and_verify(s, e))
		goto out;
	if (cut_over(r, cut, e))
		goto out;
	/* Swapped: from here on the change is done, whatever the clean-up says. */
	rc = 0;
	{
		struct ms_err ce;
		if (drop_triggers(r, true, &ce))
			online_note(s, "could not drop our triggers from %s.%s: %s", s->schema, s->old, ce.msg);
		if (!o->keep_old) {
			double t0 = ms_now();
			if (drop_table(r, s->old, &ce))
				online_note(s, "could not drop %s.%s: %s; drop it yourself", s->schema, s->old, ce.msg);
			else
				online_note(s, "dropped %s.%s in %.2f s", s->schema, s->old, ms_now() - t0);
			json_object_set_new(cut, "drop_old_seconds", json_real(ms_now() - t0));
		} else {
			online_note(s, "kept the old table as %s.%s (--keep-old)", s->schema, s->old);
		}
		online_checkpoint_delete(s);
	}
out:
	json_decref(taken);
	json_decref(dropped);
	free(tail);
	free(stored_alter);
	return rc;
}

/* Before the swap, a failure leaves the original as it was: our triggers
 * go first (writes then stop feeding the shadow), then the shadow. */
static void undo(struct run *r)
{
	struct online *s = &r->s;
	struct ms_err ce;

	if (r->swapped)
		return;
	if (r->triggers_created && drop_triggers(r, false, &ce)) {
		online_note(s,
			    "could not drop our triggers %s/%s/%s from %s.%s: %s; run "
			    "again with --resume, or drop "
			    "them yourself",
			    s->trg[0], s->trg[1], s->trg[2], s->schema, s->table, ce.msg);
		return;
	}
	if (r->shadow_created && drop_table(r, s->shadow, &ce)) {
		online_note(s, "could not drop the shadow table %s.%s: %s", s->schema, s->shadow, ce.msg);
		return;
	}
	if (r->checkpoint_made)
		online_checkpoint_delete(s);
	if (r->triggers_created || r->shadow_created)
		online_note(s, "%s.%s is unchanged: our triggers and the shadow table were dropped", s->schema,
			    s->table);
}

/* A session that reads and writes rows of both tables: the copy's, and the
 * verify's when it runs behind the copy. */
static int open_rows_session(struct online *s, struct db *db, const char *role, const struct db_session_opts *so,
			     struct ms_err *e)
{
	return db_open(db, s->o->conn, role, so, e) ||
			       /* A chunk waiting for an application's row lock holds the rows
			 * it has read: it gives way after a second and is tried again. */
			       db_exec(db, "SET SESSION innodb_lock_wait_timeout = 1", e) ||
			       /* A chunk's locking read locks its whole key range, gaps
			 * included, only at this level (see online_copy.c). */
			       db_exec(db, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", e)
		       ? -1
		       : 0;
}

int online_run(const struct online_opts *o, json_t **report, struct ms_err *e)
{
	struct run r;
	struct online *s = &r.s;
	struct db_session_opts so = {0};
	int rc = -1;

	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&s->out_mu, NULL);
	pthread_mutex_init(&s->behind.mu, NULL);
	pthread_cond_init(&s->behind.moved, NULL);
	s->o = o;
	s->plan = json_object();
	s->copy = json_object();
	s->verify = json_object();
	s->chunk_rows = 1000;
	r.kills = json_array();
	*report = json_object();
	s->started = ms_now();
	s->deadline = s->started + o->deadline_s;
	/* Every lock request of ours is bounded by lockreq; this only backs it up. */
	so.lock_wait_timeout = (double)(int)o->max_stall_s + 2;
	if (open_rows_session(s, &s->exec, "ddl-online", &so, e) == 0 &&
	    db_open(&s->watch, o->conn, "ddl-watch", NULL, e) == 0 &&
	    (o->no_verify || o->dry_run || open_rows_session(s, &s->vexec, "ddl-verify", &so, e) == 0) &&
	    online_replicas_open(s, e) == 0) {
		rc = run_change(&r, *report, e);
		if (rc)
			undo(&r);
	}
	json_object_set_new(*report, "status", json_string(rc == 0 ? "ok" : "failed"));
	json_object_set_new(*report, "online", json_true());
	json_object_set_new(*report, "dry_run", json_boolean(o->dry_run));
	json_object_set_new(*report, "max_stall_ms", json_real(o->max_stall_s * 1000));
	json_object_set_new(*report, "plan", s->plan);
	json_object_set_new(*report, "copy", s->copy);
	json_object_set_new(*report, "verify", s->verify);
	json_object_set_new(*report, "kills", r.kills);
	json_object_set_new(*report, "seconds", json_real(ms_now() - s->started));
	json_object_set_new(*report, "outcome",
			    json_string(rc == 0                   ? (o->dry_run ? "dry_run" : "done")
					: e->status == MS_USAGE   ? "refused"
					: e->status == MS_TIMEOUT ? "deadline"
								  : "error"));
	if (rc) {
		json_object_set_new(*report, "error", json_string(e->msg));
		json_object_set_new(*report, "exit_code", json_integer(e->status));
	}
	for (size_t i = 0; i < s->n_cols; i++)
		free(s->cols[i].name);
	free(s->cols);
	online_free_key(s->key, s->n_key);
	online_free_key(s->last, s->n_key);
	for (size_t i = 0; i < r.n_ut; i++) {
		free(r.ut[i].name);
		free(r.ut[i].event);
		free(r.ut[i].timing);
		free(r.ut[i].create_sql);
		free(r.ut[i].sql_mode);
	}
	free(r.ut);
	for (int i = 0; i < 3; i++)
		free(r.follows[i]);
	online_replicas_close(s);
	db_close(&s->exec);
	db_close(&s->watch);
	db_close(&s->vexec);
	pthread_cond_destroy(&s->behind.moved);
	pthread_mutex_destroy(&s->behind.mu);
	pthread_mutex_destroy(&s->out_mu);
	return rc;
}
