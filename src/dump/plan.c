/* Builds the dump plan from information_schema; the only queries here are
 * cheap metadata reads and one bounded MIN/MAX per chunked table. */
#include "dump/plan.h"

#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"

static const char *const system_schemas[] = { "mysql", "information_schema", "performance_schema", "sys" };

bool dump_filter_excludes(const struct dump_filter *f, const char *schema, const char *table)
{
	char full[2 * DB_NAME_MAX + 2];

	snprintf(full, sizeof(full), "%s.%s", schema, table);
	for (size_t i = 0; i < f->n_exclude; i++)
		if (fnmatch(f->exclude[i], full, 0) == 0)
			return true;
	return false;
}

bool dump_filter_selects(const struct dump_filter *f, const char *schema, const char *table)
{
	char full[2 * DB_NAME_MAX + 2];

	if (f->n_dbs == 0 && f->n_tables == 0) {
		for (size_t i = 0; i < sizeof(system_schemas) / sizeof(system_schemas[0]); i++)
			if (!strcasecmp(schema, system_schemas[i]))
				return false;
		return true;
	}
	for (size_t i = 0; i < f->n_dbs; i++)
		if (!strcmp(f->dbs[i], schema))
			return true;
	snprintf(full, sizeof(full), "%s.%s", schema, table);
	for (size_t i = 0; i < f->n_tables; i++)
		if (!strcmp(f->tables[i], full))
			return true;
	return false;
}

char *dump_path_name(const char *name)
{
	struct buf b = BUF_INIT;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		    *p == '$' || *p == '-' || *p >= 0x80)
			buf_addch(&b, (char)*p);
		else
			buf_addf(&b, "@%02x", *p);
	}
	if (b.failed) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}

static void strlist_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void dump_filter_release(struct dump_filter *f)
{
	strlist_free(f->dbs, f->n_dbs);
	strlist_free(f->tables, f->n_tables);
	strlist_free(f->exclude, f->n_exclude);
	memset(f, 0, sizeof(*f));
}

static int strlist_add(char ***v, size_t *n, const char *s)
{
	char **grown;

	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i], s))
			return 0;
	grown = realloc(*v, (*n + 1) * sizeof(char *));
	if (!grown)
		return -1;
	*v = grown;
	if (!(grown[*n] = strdup(s)))
		return -1;
	(*n)++;
	return 0;
}

static bool engine_is_transactional(const char *engine)
{
	return engine && !strcasecmp(engine, "InnoDB");
}

static const char *const int_types[] = { "tinyint", "smallint", "mediumint", "int", "bigint" };

/* The single integer primary-key column, or NULL. */
static char *single_int_pk(struct db *db, const char *schema, const char *table, struct ms_err *e)
{
	char *qs = db_quote_string(db, schema), *qt = db_quote_string(db, table), *col = NULL;
	struct buf sql = BUF_INIT;
	MYSQL_RES *r = NULL;
	MYSQL_ROW row;

	buf_addf(&sql,
		 "SELECT k.COLUMN_NAME, c.DATA_TYPE FROM information_schema.KEY_COLUMN_USAGE k "
		 "JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = k.TABLE_SCHEMA "
		 "AND c.TABLE_NAME = k.TABLE_NAME AND c.COLUMN_NAME = k.COLUMN_NAME "
		 "WHERE k.CONSTRAINT_NAME = 'PRIMARY' AND k.TABLE_SCHEMA = %s AND k.TABLE_NAME = %s",
		 qs ? qs : "''", qt ? qt : "''");
	if (!qs || !qt || sql.failed || db_query(db, buf_str(&sql), &r, e))
		goto out;
	if (r && mysql_num_rows(r) == 1 && (row = mysql_fetch_row(r)) && row[0] && row[1]) {
		for (size_t i = 0; i < sizeof(int_types) / sizeof(int_types[0]); i++)
			if (!strcasecmp(row[1], int_types[i]))
				col = strdup(row[0]);
	}
out:
	if (r)
		mysql_free_result(r);
	buf_release(&sql);
	free(qs);
	free(qt);
	return col;
}

static int add_chunk(struct dump_table *t, const char *where)
{
	struct dump_chunk *grown = realloc(t->chunks, (t->n_chunks + 1) * sizeof(*grown));

	if (!grown)
		return -1;
	t->chunks = grown;
	grown[t->n_chunks].index = (unsigned)t->n_chunks;
	grown[t->n_chunks].where = where ? strdup(where) : NULL;
	if (where && !grown[t->n_chunks].where)
		return -1;
	t->n_chunks++;
	return 0;
}

/* A key value on a line that keeps its order in unsigned 64-bit
 * arithmetic: negative bounds shift the whole signed range up by 2^63, so
 * no difference or step between two keys can overflow. */
#define KEY_BIAS (1ULL << 63)

static void key_print(struct buf *b, const char *qk, const char *op, unsigned long long u, bool biased)
{
	if (!biased)
		buf_addf(b, "%s %s %llu", qk, op, u);
	else if (u >= KEY_BIAS)
		buf_addf(b, "%s %s %lld", qk, op, (long long)(u - KEY_BIAS));
	else
		buf_addf(b, "%s %s %lld", qk, op, (long long)u - LLONG_MAX - 1);
}

int dump_plan_split_range(struct dump_table *t, const char *qk, const char *min, const char *max,
			  unsigned long long n)
{
	bool biased = min[0] == '-' || max[0] == '-';
	unsigned long long lo, hi, step, u;
	struct buf where = BUF_INIT;
	int rc = 0;

	if (biased) {
		lo = (unsigned long long)strtoll(min, NULL, 10) + KEY_BIAS;
		hi = (unsigned long long)strtoll(max, NULL, 10) + KEY_BIAS;
	} else {
		lo = strtoull(min, NULL, 10);
		hi = strtoull(max, NULL, 10);
	}
	if (n < 2 || hi <= lo)
		return 0;
	step = (hi - lo) / n + 1;
	u = lo;
	for (unsigned long long i = 0; i < n && rc == 0; i++) {
		/* u <= hi throughout, so u + step cannot wrap unless it is the last */
		bool last = i == n - 1 || hi - u < step;

		buf_reset(&where);
		if (i == 0 && !last)
			key_print(&where, qk, "<", u + step, biased);
		else if (i > 0 && last)
			key_print(&where, qk, ">=", u, biased);
		else if (i > 0) {
			key_print(&where, qk, ">=", u, biased);
			buf_adds(&where, " AND ");
			key_print(&where, qk, "<", u + step, biased);
		}
		if (where.failed || add_chunk(t, where.len ? buf_str(&where) : NULL))
			rc = -1;
		if (last)
			break;
		u += step;
	}
	buf_release(&where);
	return rc;
}

/* Splits [min, max] of the key into n ranges; the first and last are open
 * so that nothing is missed whatever happened since MIN/MAX were read. */
static int chunk_by_range(struct db *db, struct dump_table *t, unsigned long long n, struct ms_err *e)
{
	char *qs = db_quote_ident(t->schema), *qt = db_quote_ident(t->name), *qk = db_quote_ident(t->pk);
	struct buf sql = BUF_INIT;
	MYSQL_RES *r = NULL;
	MYSQL_ROW row;
	struct ms_err ignored;
	int rc = 0;

	if (!qs || !qt || !qk) {
		rc = ms_oom(e);
		goto out;
	}
	/* Bounded: behind a pending DDL this gives up after lock_wait_timeout
	 * and the table is simply read in one piece. */
	buf_addf(&sql, "SELECT MIN(%s), MAX(%s) FROM %s.%s", qk, qk, qs, qt);
	if (sql.failed || db_query(db, buf_str(&sql), &r, &ignored) || !r || !(row = mysql_fetch_row(r)) ||
	    !row[0] || !row[1])
		goto out;
	if (dump_plan_split_range(t, qk, row[0], row[1], n))
		rc = ms_oom(e);
out:
	if (r)
		mysql_free_result(r);
	buf_release(&sql);
	free(qs);
	free(qt);
	free(qk);
	return rc;
}

/* How many pieces a table should be read in. */
static unsigned long long chunks_wanted(const struct dump_table *t, unsigned long long chunk_rows,
					unsigned long long chunk_bytes)
{
	unsigned long long n = 1, m;

	if (chunk_rows && (m = (t->est_rows + chunk_rows - 1) / chunk_rows) > n)
		n = m;
	if (chunk_bytes && (m = (t->est_bytes + chunk_bytes - 1) / chunk_bytes) > n)
		n = m;
	return n;
}

static int plan_add_table(struct db *db, struct dump_plan *p, MYSQL_ROW row, unsigned long long chunk_rows,
			  unsigned long long chunk_bytes, struct ms_err *e)
{
	struct dump_table *grown = realloc(p->tables, (p->n_tables + 1) * sizeof(*grown)), *t;

	if (!grown)
		return ms_oom(e);
	p->tables = grown;
	t = &grown[p->n_tables++];
	memset(t, 0, sizeof(*t));
	t->schema = strdup(row[0]);
	t->name = strdup(row[1]);
	t->engine = strdup(row[2] ? row[2] : "");
	t->transactional = engine_is_transactional(row[2]);
	t->est_rows = row[3] ? strtoull(row[3], NULL, 10) : 0;
	t->est_bytes = row[4] ? strtoull(row[4], NULL, 10) : 0;
	if (!t->schema || !t->name || !t->engine)
		return ms_oom(e);
	if (t->transactional && chunks_wanted(t, chunk_rows, chunk_bytes) > 1) {
		t->pk = single_int_pk(db, t->schema, t->name, e);
		if (t->pk && chunk_by_range(db, t, chunks_wanted(t, chunk_rows, chunk_bytes), e))
			return -1;
	}
	if (t->n_chunks == 0 && add_chunk(t, NULL))
		return ms_oom(e);
	return 0;
}

int dump_plan_load(struct db *db, const struct dump_filter *f, unsigned long long chunk_rows,
		   unsigned long long chunk_bytes, struct dump_plan *p, struct ms_err *e)
{
	MYSQL_RES *r;
	MYSQL_ROW row;
	int rc = 0;

	memset(p, 0, sizeof(*p));
	if (db_query(db,
		     "SELECT TABLE_SCHEMA, TABLE_NAME, ENGINE, IFNULL(TABLE_ROWS, 0), "
		     "IFNULL(DATA_LENGTH, 0) + IFNULL(INDEX_LENGTH, 0), TABLE_TYPE FROM information_schema.TABLES "
		     "WHERE TABLE_TYPE IN ('BASE TABLE', 'SEQUENCE') ORDER BY DATA_LENGTH DESC, TABLE_SCHEMA, TABLE_NAME",
		     &r, e))
		return ms_fail_context(e, "listing tables");
	while (rc == 0 && r && (row = mysql_fetch_row(r))) {
		if (!dump_filter_selects(f, row[0], row[1]))
			continue;
		if (strlist_add(&p->databases, &p->n_databases, row[0])) {
			rc = ms_oom(e);
			break;
		}
		if (dump_filter_excludes(f, row[0], row[1])) {
			char full[2 * DB_NAME_MAX + 2];
			snprintf(full, sizeof(full), "%s.%s", row[0], row[1]);
			if (strlist_add(&p->excluded, &p->n_excluded, full))
				rc = ms_oom(e);
			continue;
		}
		/* A sequence is written with its database's objects; it only
		 * brings its database into the backup. */
		if (row[5] && !strcmp(row[5], "SEQUENCE"))
			continue;
		rc = plan_add_table(db, p, row, chunk_rows, chunk_bytes, e);
	}
	if (r)
		mysql_free_result(r);
	/* Databases named with -B but holding no table still get their schema. */
	for (size_t i = 0; rc == 0 && i < f->n_dbs; i++)
		if (strlist_add(&p->databases, &p->n_databases, f->dbs[i]))
			rc = ms_oom(e);
	if (rc)
		dump_plan_release(p);
	return rc;
}

void dump_plan_release(struct dump_plan *p)
{
	for (size_t i = 0; i < p->n_tables; i++) {
		struct dump_table *t = &p->tables[i];
		for (size_t c = 0; c < t->n_chunks; c++)
			free(t->chunks[c].where);
		free(t->chunks);
		free(t->schema);
		free(t->name);
		free(t->engine);
		free(t->pk);
	}
	free(p->tables);
	strlist_free(p->databases, p->n_databases);
	strlist_free(p->excluded, p->n_excluded);
	memset(p, 0, sizeof(*p));
}
