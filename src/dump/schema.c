/* Definitions to SQL text: SHOW CREATE output of each object wrapped with the
 * session settings it was created under, in an order that restores. */
#include "dump/schema.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"

/* Every block saves these and puts them back, so blocks can be concatenated
 * into one file after rowfmt_file_header. */
static const char SAVE_SESSION[] =
	"SET @MDLSAFE_SAVED_SQL_MODE=@@SESSION.sql_mode, "
	"@MDLSAFE_SAVED_COLLATION_CONNECTION=@@SESSION.collation_connection, "
	"@MDLSAFE_SAVED_TIME_ZONE=@@SESSION.time_zone;\n";
static const char RESTORE_SESSION[] =
	"SET SESSION sql_mode=@MDLSAFE_SAVED_SQL_MODE, "
	"SESSION collation_connection=@MDLSAFE_SAVED_COLLATION_CONNECTION, "
	"SESSION time_zone=@MDLSAFE_SAVED_TIME_ZONE;\n";

/* The plain client strips comments before sending a statement (checked
 * with the 10.11 client): the objects still work, their text loses them. */
static const char BODY_NOTE[] =
	"-- Load with mariadb --comments to keep the comments inside these bodies.\n";

/* "-- kind name [on table]\n" above an object. A name may hold a newline,
 * which would end the comment and make the rest of the name SQL that a
 * restore runs: control bytes are written as \xNN. */
static void add_comment(struct buf *b, const char *kind, const char *name, const char *table)
{
	buf_addf(b, "-- %s ", kind);
	for (int part = 0; part < 2; part++) {
		const char *p = part ? table : name;

		if (!p)
			break;
		if (part)
			buf_adds(b, " on ");
		for (; *p; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				buf_addf(b, "\\x%02x", (unsigned char)*p);
			else
				buf_addch(b, *p);
		}
	}
	buf_addch(b, '\n');
}

static int oom(struct ms_err *e)
{
	return ms_oom(e);
}

static int field_index(MYSQL_RES *r, const char *name)
{
	unsigned n = mysql_num_fields(r);
	MYSQL_FIELD *f = mysql_fetch_fields(r);

	for (unsigned i = 0; i < n; i++)
		if (strcasecmp(f[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* The column of a SHOW CREATE result that holds the statement: "Create
 * Table", "Create Procedure", "SQL Original Statement"... */
static int create_index(MYSQL_RES *r)
{
	unsigned n = mysql_num_fields(r);
	MYSQL_FIELD *f = mysql_fetch_fields(r);

	for (unsigned i = 0; i < n; i++)
		if (strncasecmp(f[i].name, "Create ", 7) == 0 || strcasecmp(f[i].name, "SQL Original Statement") == 0)
			return (int)i;
	return -1;
}

static const char *field_value(MYSQL_RES *r, MYSQL_ROW row, const char *name)
{
	int i = field_index(r, name);
	return i < 0 ? NULL : row[i];
}

/*
 * Runs SHOW CREATE <kind> <schema>.<name> (name NULL: SHOW CREATE <kind>
 * <schema>) and returns its row; *res is the caller's to free. A NULL
 * statement means the server hid it for lack of a privilege.
 */
static int show_create(struct db *db, const char *kind, const char *schema, const char *name,
		       MYSQL_RES **res, MYSQL_ROW *row, const char **create, struct ms_err *e)
{
	char *qs = db_quote_ident(schema), *qn = name ? db_quote_ident(name) : NULL;
	struct buf sql = BUF_INIT;
	int rc = -1, ci;

	*res = NULL;
	if (!qs || (name && !qn)) {
		oom(e);
		goto out;
	}
	buf_addf(&sql, "SHOW CREATE %s %s%s%s", kind, qs, qn ? "." : "", qn ? qn : "");
	if (sql.failed) {
		oom(e);
		goto out;
	}
	if (db_query(db, sql.data, res, e))
		goto out;
	if (!*res || !(*row = mysql_fetch_row(*res))) {
		ms_fail(e, MS_SERVER, "%s returned nothing: the object was dropped meanwhile", sql.data);
		goto out;
	}
	ci = create_index(*res);
	if (ci < 0 || !(*row)[ci]) {
		ms_fail(e, MS_PRIVILEGE, "%s returned no definition: this user may not read it; "
			"grant SELECT on mysql.proc (routines), SHOW VIEW, TRIGGER or EVENT on the database", sql.data);
		goto out;
	}
	*create = (*row)[ci];
	rc = 0;
out:
	if (rc && *res) {
		mysql_free_result(*res);
		*res = NULL;
	}
	buf_release(&sql);
	free(qs);
	free(qn);
	return rc;
}

/* Lists objects with "<head> <schema literal> [AND <table_col> = <table
 * literal>] <tail>": names only reach the SQL as escaped literals. */
static int list_objects(struct db *db, const char *head, const char *schema, const char *table_col,
			const char *table, const char *tail, MYSQL_RES **res, struct ms_err *e)
{
	char *qs = db_quote_string(db, schema), *qt = table ? db_quote_string(db, table) : NULL;
	struct buf sql = BUF_INIT;
	int rc;

	*res = NULL;
	if (!qs || (table && !qt)) {
		free(qs);
		free(qt);
		return oom(e);
	}
	buf_addf(&sql, "%s %s", head, qs);
	if (table)
		buf_addf(&sql, " AND %s = %s", table_col, qt);
	buf_addf(&sql, " %s", tail);
	rc = sql.failed ? oom(e) : db_query(db, sql.data, res, e);
	buf_release(&sql);
	free(qs);
	free(qt);
	return rc;
}

static char *dup_or_oom(const char *s, struct ms_err *e)
{
	char *d = strdup(s);
	if (!d)
		oom(e);
	return d;
}

int schema_create_database(struct db *db, const char *schema, char **sql, struct ms_err *e)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	const char *create;

	*sql = NULL;
	if (show_create(db, "DATABASE", schema, NULL, &res, &row, &create, e))
		return -1;
	*sql = dup_or_oom(create, e);
	mysql_free_result(res);
	return *sql ? 0 : -1;
}

/* Moves *p past the '...', "..." or `...` that starts there. A backslash
 * escapes in strings (the dump session has no NO_BACKSLASH_ESCAPES), not in
 * a quoted name. */
static void skip_quoted(const char **p)
{
	char quote = **p;
	const char *s = *p + 1;

	while (*s) {
		if (*s == '\\' && s[1] && quote != '`') {
			s += 2;
		} else if (*s == quote) {
			if (s[1] != quote) {
				s++;
				break;
			}
			s += 2;
		} else {
			s++;
		}
	}
	*p = s;
}

/*
 * SHOW CREATE TABLE names the sequence a DEFAULT uses with its database,
 * its own included, whatever the session's default database (DEFAULT
 * nextval(`db`.`s`), checked on 10.11): restored under another name, the
 * table would use the original's sequence, or fail where that database does
 * not exist. Drops the qualifier when it is `schema`, so the sequence is the
 * one restored beside the table. Outside quotes these names can only be the
 * functions: every identifier is quoted. NULL when out of memory.
 */
static char *unqualify_own_sequences(const char *create, const char *schema)
{
	static const char *const funcs[] = { "nextval(", "lastval(", "setval(" };
	char *qs = db_quote_ident(schema);
	struct buf b = BUF_INIT;
	const char *p = create;
	size_t nq;

	if (!qs)
		return NULL;
	nq = strlen(qs);
	while (*p) {
		const char *from = p;
		bool dropped = false;

		if (*p == '\'' || *p == '"' || *p == '`') {
			skip_quoted(&p);
			buf_add(&b, from, (size_t)(p - from));
			continue;
		}
		for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]) && !dropped; i++) {
			size_t n = strlen(funcs[i]);

			if (strncasecmp(p, funcs[i], n) || (p > create && (isalnum((unsigned char)p[-1]) || p[-1] == '_')) ||
			    strncmp(p + n, qs, nq) || p[n + nq] != '.')
				continue;
			buf_add(&b, p, n);
			p += n + nq + 1;
			dropped = true;
		}
		if (!dropped)
			buf_addch(&b, *p++);
	}
	free(qs);
	if (b.failed) {
		buf_release(&b);
		return NULL;
	}
	return b.data ? buf_detach(&b) : strdup("");
}

int schema_show_create_table(struct db *db, const char *schema, const char *table, char **sql,
			     struct ms_err *e)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	const char *create;

	*sql = NULL;
	if (show_create(db, "TABLE", schema, table, &res, &row, &create, e))
		return -1;
	if (field_index(res, "Create View") >= 0) {
		mysql_free_result(res);
		return ms_fail(e, MS_USAGE, "%s.%s is a view, not a table", schema, table);
	}
	*sql = unqualify_own_sequences(create, schema);
	mysql_free_result(res);
	return *sql ? 0 : oom(e);
}

/* ---- object blocks ------------------------------------------------------ */

/* A delimiter that does not occur in the statement, so the client cannot
 * cut a body containing it (even inside a string). */
static const char *pick_delimiter(const char *create)
{
	static const char *const candidates[] = { ";;", "$$", "//", "@@", "%%", "!!", "~~", NULL };

	for (const char *const *d = candidates; *d; d++)
		if (!strstr(create, *d))
			return *d;
	return NULL;
}

/* Appends "SET SESSION k='v', ..." for the settings that are given. */
static int add_settings(struct buf *b, struct db *db, const char *sql_mode, const char *collation,
			const char *time_zone, struct ms_err *e)
{
	const char *names[3] = { "sql_mode", "collation_connection", "time_zone" };
	const char *values[3] = { sql_mode, collation, time_zone };
	bool first = true;

	for (int i = 0; i < 3; i++) {
		char *q;
		if (!values[i])
			continue;
		q = db_quote_string(db, values[i]);
		if (!q)
			return oom(e);
		buf_addf(b, "%s SESSION %s=%s", first ? "SET" : ",", names[i], q);
		free(q);
		first = false;
	}
	if (!first)
		buf_adds(b, ";\n");
	return 0;
}

/*
 * Appends one CREATE under its own settings. Bodies of triggers, routines
 * and events contain ';', so they go in a DELIMITER block; a view is one
 * statement.
 */
static int add_object(struct buf *b, struct db *db, const char *what, const char *sql_mode,
		      const char *collation, const char *time_zone, const char *create, bool body,
		      struct ms_err *e)
{
	const char *delim = body ? pick_delimiter(create) : ";";

	if (!delim)
		return ms_fail(e, MS_INTERNAL, "%s: its text contains every delimiter mdlsafe can use", what);
	if (add_settings(b, db, sql_mode, collation, time_zone, e))
		return -1;
	/* The delimiter gets a line of its own: a body can end in a -- comment
	 * (the server keeps it when the client sent it). */
	if (body)
		buf_addf(b, "DELIMITER %s\n%s\n%s\nDELIMITER ;\n", delim, create, delim);
	else
		buf_addf(b, "%s;\n", create);
	return b->failed ? oom(e) : 0;
}

/* Hands the block to the caller, or NULL when it has no object. */
static int finish_block(struct buf *b, size_t objects, char **sql, struct ms_err *e)
{
	if (!objects) {
		buf_release(b);
		return 0;
	}
	buf_adds(b, RESTORE_SESSION);
	if (b->failed) {
		buf_release(b);
		return oom(e);
	}
	*sql = buf_detach(b);
	return 0;
}

static bool name_seen(const struct buf *seen, const char *name)
{
	for (size_t at = 0; at < seen->len; at += strlen(seen->data + at) + 1)
		if (!strcmp(seen->data + at, name))
			return true;
	return false;
}

int schema_table_triggers(struct db *db, const char *schema, const char *table, char **sql,
			  struct ms_err *e)
{
	/* Created one by one in this order, each lands last among the triggers
	 * of its timing and event: the same ACTION_ORDER as the original (SHOW
	 * CREATE TRIGGER drops FOLLOWS/PRECEDES). */
	struct buf b = BUF_INIT, seen = BUF_INIT;
	MYSQL_RES *list;
	MYSQL_ROW name;
	size_t n = 0;

	*sql = NULL;
	if (list_objects(db, "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA =",
			 schema, "EVENT_OBJECT_TABLE", table,
			 "ORDER BY EVENT_MANIPULATION, ACTION_TIMING, ACTION_ORDER, TRIGGER_NAME", &list, e))
		return -1;
	buf_adds(&b, SAVE_SESSION);
	buf_adds(&b, BODY_NOTE);
	while (list && (name = mysql_fetch_row(list))) {
		MYSQL_RES *res;
		MYSQL_ROW row;
		const char *create;
		char what[2 * DB_NAME_MAX + 32];

		/* A trigger on several events is listed once per event. seen
		 * holds the names so far, each ending in a NUL: a name may hold
		 * any other byte. */
		if (!name[0] || name_seen(&seen, name[0]))
			continue;
		buf_add(&seen, name[0], strlen(name[0]) + 1);
		snprintf(what, sizeof(what), "trigger %s.%s", schema, name[0]);
		if (show_create(db, "TRIGGER", schema, name[0], &res, &row, &create, e))
			goto out;
		add_comment(&b, "trigger", name[0], table);
		if (add_object(&b, db, what, field_value(res, row, "sql_mode"),
			       field_value(res, row, "collation_connection"), NULL, create, true, e)) {
			mysql_free_result(res);
			goto out;
		}
		mysql_free_result(res);
		n++;
	}
	if (list)
		mysql_free_result(list);
	buf_release(&seen);
	return finish_block(&b, n, sql, e);
out:
	if (list)
		mysql_free_result(list);
	buf_release(&seen);
	buf_release(&b);
	return -1;
}

int schema_routines(struct db *db, const char *schema, char **sql, struct ms_err *e)
{
	static const char *const kinds[] = { "FUNCTION", "PROCEDURE", "PACKAGE", "PACKAGE BODY", NULL };
	struct buf b = BUF_INIT;
	MYSQL_RES *list;
	MYSQL_ROW name;
	size_t n = 0;

	*sql = NULL;
	/* A package body needs its package; functions first for readers. */
	if (list_objects(db, "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA =",
			 schema, NULL, NULL,
			 "ORDER BY FIELD(ROUTINE_TYPE, 'FUNCTION', 'PROCEDURE', 'PACKAGE', 'PACKAGE BODY'), ROUTINE_NAME",
			 &list, e))
		return -1;
	buf_adds(&b, SAVE_SESSION);
	buf_adds(&b, BODY_NOTE);
	while (list && (name = mysql_fetch_row(list))) {
		MYSQL_RES *res;
		MYSQL_ROW row;
		const char *create, *kind = NULL;
		char what[2 * DB_NAME_MAX + 32];

		/* The type goes into SQL text: only known words. */
		for (const char *const *k = kinds; *k; k++)
			if (name[0] && strcmp(name[0], *k) == 0)
				kind = *k;
		if (!kind) {
			ms_fail(e, MS_INTERNAL, "routine %s.%s has an unknown type '%s'", schema, name[1],
				name[0] ? name[0] : "NULL");
			goto out;
		}
		snprintf(what, sizeof(what), "%s %s.%s", kind, schema, name[1]);
		if (show_create(db, kind, schema, name[1], &res, &row, &create, e))
			goto out;
		add_comment(&b, kind, name[1], NULL);
		if (add_object(&b, db, what, field_value(res, row, "sql_mode"),
			       field_value(res, row, "collation_connection"), NULL, create, true, e)) {
			mysql_free_result(res);
			goto out;
		}
		mysql_free_result(res);
		n++;
	}
	if (list)
		mysql_free_result(list);
	return finish_block(&b, n, sql, e);
out:
	if (list)
		mysql_free_result(list);
	buf_release(&b);
	return -1;
}

int schema_events(struct db *db, const char *schema, char **sql, struct ms_err *e)
{
	struct buf b = BUF_INIT;
	MYSQL_RES *list;
	MYSQL_ROW name;
	size_t n = 0;

	*sql = NULL;
	if (list_objects(db, "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA =", schema,
			 NULL, NULL, "ORDER BY EVENT_NAME", &list, e))
		return -1;
	buf_adds(&b, SAVE_SESSION);
	buf_adds(&b, BODY_NOTE);
	while (list && (name = mysql_fetch_row(list))) {
		MYSQL_RES *res;
		MYSQL_ROW row;
		const char *create;
		char what[2 * DB_NAME_MAX + 32];

		snprintf(what, sizeof(what), "event %s.%s", schema, name[0]);
		if (show_create(db, "EVENT", schema, name[0], &res, &row, &create, e))
			goto out;
		add_comment(&b, "event", name[0], NULL);
		/* The schedule is read in the event's own time zone. */
		if (add_object(&b, db, what, field_value(res, row, "sql_mode"),
			       field_value(res, row, "collation_connection"), field_value(res, row, "time_zone"),
			       create, true, e)) {
			mysql_free_result(res);
			goto out;
		}
		mysql_free_result(res);
		n++;
	}
	if (list)
		mysql_free_result(list);
	return finish_block(&b, n, sql, e);
out:
	if (list)
		mysql_free_result(list);
	buf_release(&b);
	return -1;
}

/* ---- sequences ---------------------------------------------------------- */

/* One integer column of a row the server returned, checked before it goes
 * into SQL text. */
static int integer_value(const char *v, const char *what, long long *out, struct ms_err *e)
{
	char *end;

	*out = 0; /* defined on every path, also when the value is refused */
	if (!v || !*v)
		return ms_fail(e, MS_SERVER, "%s: the server returned no value", what);
	*out = strtoll(v, &end, 10);
	return *end ? ms_fail(e, MS_SERVER, "%s: '%s' is not an integer", what, v) : 0;
}

/*
 * Appends the statements that put a freshly created sequence where `name`
 * is now. next_not_cached_value is what NEXTVAL hands out next once the
 * server's cache is gone, as after a restart (exact with CACHE 1 or
 * NOCACHE). SETVAL(s, n, 0, round) makes the next NEXTVAL return exactly n
 * and sets the cycle count, but it never moves a sequence back: after
 * ALTER SEQUENCE RESTART below START it is ignored (checked on 10.11), so
 * RESTART WITH n comes first. Both accept n past MAXVALUE, so a used-up
 * sequence stays used up.
 */
static int add_sequence_state(struct buf *b, struct db *db, const char *schema, const char *name,
			      struct ms_err *e)
{
	char *qs = db_quote_ident(schema), *qn = db_quote_ident(name), what[2 * DB_NAME_MAX + 32];
	struct buf sql = BUF_INIT;
	MYSQL_RES *r = NULL;
	MYSQL_ROW row;
	long long next, round;
	int rc = -1;

	snprintf(what, sizeof(what), "the state of sequence %s.%s", schema, name);
	if (!qs || !qn) {
		oom(e);
		goto out;
	}
	buf_addf(&sql, "SELECT next_not_cached_value, cycle_count FROM %s.%s", qs, qn);
	if (sql.failed) {
		oom(e);
		goto out;
	}
	if (db_query(db, sql.data, &r, e))
		goto out;
	if (!r || !(row = mysql_fetch_row(r))) {
		ms_fail(e, MS_SERVER, "%s: the sequence returned no row", what);
		goto out;
	}
	if (integer_value(row[0], what, &next, e) || integer_value(row[1], what, &round, e))
		goto out;
	buf_addf(b, "ALTER SEQUENCE %s RESTART WITH %lld;\nDO SETVAL(%s, %lld, 0, %lld);\n", qn, next, qn, next, round);
	rc = b->failed ? oom(e) : 0;
out:
	if (r)
		mysql_free_result(r);
	buf_release(&sql);
	free(qs);
	free(qn);
	return rc;
}

int schema_sequences(struct db *db, const char *schema, const struct dump_filter *f, char **sql,
		     struct ms_err *e)
{
	struct buf b = BUF_INIT;
	MYSQL_RES *list;
	MYSQL_ROW name;
	size_t n = 0;
	int rc = 0;

	*sql = NULL;
	if (list_objects(db, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'SEQUENCE' "
			 "AND TABLE_SCHEMA =", schema, NULL, NULL, "ORDER BY TABLE_NAME", &list, e))
		return -1;
	while (rc == 0 && list && (name = mysql_fetch_row(list))) {
		MYSQL_RES *res;
		MYSQL_ROW row;
		const char *create;

		if (!dump_filter_selects(f, schema, name[0]) || dump_filter_excludes(f, schema, name[0]))
			continue;
		rc = show_create(db, "SEQUENCE", schema, name[0], &res, &row, &create, e);
		if (rc)
			break;
		buf_addf(&b, "%s;\n", create);
		mysql_free_result(res);
		rc = add_sequence_state(&b, db, schema, name[0], e);
		n++;
	}
	if (list)
		mysql_free_result(list);
	if (rc == 0 && b.failed)
		rc = oom(e);
	if (rc == 0 && n)
		*sql = buf_detach(&b);
	buf_release(&b);
	return rc;
}

/* ---- views, in dependency order ----------------------------------------- */

struct view_def {
	char *name, *create, *collation;
	size_t *deps; /* indexes of views this one uses */
	size_t n_deps;
	bool done;
};

static void view_defs_release(struct view_def *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].create);
		free(v[i].collation);
		free(v[i].deps);
	}
	free(v);
}

/* Reads a backquoted identifier at *p (on the opening '`'); NULL when out
 * of memory. */
static char *read_ident(const char **p)
{
	struct buf b = BUF_INIT;
	const char *s = *p + 1;

	for (; *s; s++) {
		if (*s == '`') {
			if (s[1] != '`')
				break;
			s++;
		}
		buf_addch(&b, *s);
	}
	*p = *s ? s + 1 : s;
	if (b.failed) {
		buf_release(&b);
		return NULL;
	}
	return b.data ? buf_detach(&b) : strdup("");
}

static bool preceded_by_alias_context(const char *start, const char *at)
{
	const char *q = at;

	while (q > start && q[-1] == ' ')
		q--;
	/* `t` `alias`: a name right after a name is an alias. */
	if (q > start && q[-1] == '`')
		return true;
	/* ... AS `alias` */
	return q - start >= 3 && strncasecmp(q - 2, "AS", 2) == 0 && (q[-3] == ' ' || q[-3] == ')');
}

static int view_add_dep(struct view_def *v, size_t dep)
{
	size_t *d;

	for (size_t i = 0; i < v->n_deps; i++)
		if (v->deps[i] == dep)
			return 0;
	d = realloc(v->deps, (v->n_deps + 1) * sizeof(*d));
	if (!d)
		return -1;
	v->deps = d;
	v->deps[v->n_deps++] = dep;
	return 0;
}

/*
 * Finds the views that view `self` uses. With the schema as default database
 * SHOW CREATE VIEW prints a table or view of the same database as `v` and
 * of another as `db`.`v`, columns as `t`.`c` or `db`.`t`.`c`, and quotes
 * every name. So a one-part name, or a two-part name whose first part is the
 * schema, not followed by '(' (a function) and not an alias, is a reference.
 * A false match only adds an ordering constraint.
 */
static int view_find_deps(struct view_def *v, size_t n, size_t self, const char *schema)
{
	const char *text = v[self].create, *p;
	char *qname = db_quote_ident(v[self].name);
	struct buf head = BUF_INIT;

	if (!qname)
		return -1;
	buf_addf(&head, "VIEW %s AS ", qname);
	free(qname);
	if (head.failed) {
		buf_release(&head);
		return -1;
	}
	/* Skip "CREATE ... DEFINER=`u`@`h` ... VIEW `v` AS". */
	p = strstr(text, head.data);
	p = p ? p + head.len : text;
	buf_release(&head);
	while (*p) {
		char *parts[3] = { NULL, NULL, NULL };
		const char *at = p, *ref = NULL, *q;
		int np = 0, rc = 0;

		if (*p == '\'' || *p == '"') {
			skip_quoted(&p);
			continue;
		}
		if (*p != '`') {
			p++;
			continue;
		}
		for (;;) {
			char *id = read_ident(&p);
			if (!id)
				rc = -1;
			if (np < 3)
				parts[np++] = id;
			else
				free(id);
			if (p[0] != '.' || p[1] != '`')
				break;
			p++;
		}
		for (q = p; *q == ' '; q++)
			;
		if (rc == 0 && *q != '(' && !preceded_by_alias_context(text, at)) {
			if (np == 1)
				ref = parts[0];
			else if (np == 2 && strcmp(parts[0], schema) == 0)
				ref = parts[1];
		}
		for (size_t i = 0; ref && i < n; i++)
			if (i != self && strcmp(v[i].name, ref) == 0 && view_add_dep(&v[self], i))
				rc = -1;
		for (int i = 0; i < np; i++)
			free(parts[i]);
		if (rc)
			return -1;
	}
	return 0;
}

static bool view_ready(const struct view_def *v, const struct view_def *all)
{
	for (size_t i = 0; i < v->n_deps; i++)
		if (!all[v->deps[i]].done)
			return false;
	return true;
}

int schema_views(struct db *db, const char *schema, char **sql, struct ms_err *e)
{
	struct buf b = BUF_INIT;
	struct view_def *v = NULL;
	MYSQL_RES *list = NULL;
	MYSQL_ROW name;
	size_t n = 0;
	int rc = -1;

	*sql = NULL;
	if (mysql_select_db(db->mysql, schema)) {
		db_fail(db, e, "selecting the database of the views");
		goto out;
	}
	if (list_objects(db, "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA =", schema,
			 NULL, NULL, "ORDER BY TABLE_NAME", &list, e))
		goto out;
	if (!list || mysql_num_rows(list) == 0) {
		rc = 0;
		goto out;
	}
	v = calloc((size_t)mysql_num_rows(list), sizeof(*v));
	if (!v) {
		oom(e);
		goto out;
	}
	while ((name = mysql_fetch_row(list))) {
		MYSQL_RES *res;
		MYSQL_ROW row;
		const char *create, *coll;

		if (show_create(db, "VIEW", schema, name[0], &res, &row, &create, e))
			goto out;
		coll = field_value(res, row, "collation_connection");
		v[n].name = strdup(name[0]);
		v[n].create = strdup(create);
		v[n].collation = coll ? strdup(coll) : NULL;
		mysql_free_result(res);
		if (!v[n].name || !v[n].create || (coll && !v[n].collation)) {
			n++;
			oom(e);
			goto out;
		}
		n++;
	}
	for (size_t i = 0; i < n; i++)
		if (view_find_deps(v, n, i, schema)) {
			oom(e);
			goto out;
		}
	buf_adds(&b, SAVE_SESSION);
	for (size_t emitted = 0; emitted < n; emitted++) {
		size_t pick = n;
		char what[2 * DB_NAME_MAX + 32];

		for (size_t i = 0; i < n && pick == n; i++)
			if (!v[i].done && view_ready(&v[i], v))
				pick = i;
		/* A cycle can only come from a false match: fall back to name order. */
		for (size_t i = 0; i < n && pick == n; i++)
			if (!v[i].done)
				pick = i;
		v[pick].done = true;
		snprintf(what, sizeof(what), "view %s.%s", schema, v[pick].name);
		add_comment(&b, "view", v[pick].name, NULL);
		if (add_object(&b, db, what, NULL, v[pick].collation, NULL, v[pick].create, false, e))
			goto out;
	}
	rc = finish_block(&b, n, sql, e);
out:
	if (rc)
		buf_release(&b);
	if (list)
		mysql_free_result(list);
	if (v)
		view_defs_release(v, n);
	return rc;
}
