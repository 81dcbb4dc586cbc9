/* --verify: reads every restored table back the way backup writes it and
 * compares each chunk's XXH3 and row count with the backup's manifest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "dump/rowfmt.h"
#include "restore/restore_internal.h"

struct hash_sink {
	XXH3_state_t *st;
};

static int hash_sink(void *ctx, const void *data, size_t len, struct ms_err *e)
{
	struct hash_sink *h = ctx;

	(void)e;
	XXH3_64bits_update(h->st, data, len);
	return 0;
}

static bool cancelled(void *rs)
{
	return restore_cancelled(rs);
}

/* Compares one table; appends a report entry per chunk that differs. */
static int check_table(struct restore *rs, struct db *db, const struct rtable *t, XXH3_state_t *st, json_t *report,
		       struct ms_err *e)
{
	struct rowfmt_table rt;
	int rc = 0;

	if (rowfmt_table_load(db, t->db, t->name, &rt, e))
		return -1;
	for (size_t c = 0; c < t->n_chunks && rc == 0; c++) {
		const struct rchunk *ch = &t->chunks[c];
		struct hash_sink h = { st };
		unsigned long long rows = 0;
		char got[17];

		XXH3_64bits_reset(st);
		rc = rowfmt_dump(db, &rt, ch->where, hash_sink, &h, cancelled, rs, &rows, e);
		if (rc)
			break;
		snprintf(got, sizeof(got), "%016llx", (unsigned long long)XXH3_64bits_digest(st));
		if (strcmp(got, ch->f.xxh3) || (ch->f.rows >= 0 && rows != (unsigned long long)ch->f.rows))
			json_array_append_new(report,
					      json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "database", t->db, "table",
							t->name, "file", ch->f.path, "rows_expected", (json_int_t)ch->f.rows,
							"rows_found", (json_int_t)rows, "xxh3_expected", ch->f.xxh3,
							"xxh3_found", got));
	}
	rowfmt_table_release(&rt);
	return rc;
}

/* One checking session: takes tables off the shared list until none is left. */
struct checker {
	struct restore *rs;
	pthread_t thread;
	bool started;
	size_t *next;
	json_t *report;
	int rc;
	struct ms_err err;
};

static void *checker_main(void *arg)
{
	struct checker *c = arg;
	struct restore *rs = c->rs;
	XXH3_state_t *st = XXH3_createState();
	struct db db;

	c->rc = -1;
	if (!st) {
		ms_oom(&c->err);
		return NULL;
	}
	if (db_open(&db, rs->o->conn, "restore-verify", NULL, &c->err) == 0) {
		c->rc = rowfmt_session_prepare(&db, &c->err);
		while (c->rc == 0 && !restore_cancelled(rs)) {
			size_t i;
			pthread_mutex_lock(&rs->mu);
			i = (*c->next)++;
			pthread_mutex_unlock(&rs->mu);
			if (i >= rs->n_tables)
				break;
			if (!rs->tables[i].skip)
				c->rc = check_table(rs, &db, &rs->tables[i], st, c->report, &c->err);
		}
		db_close(&db);
	}
	XXH3_freeState(st);
	if (c->rc)
		restore_fail(rs, &c->err);
	return NULL;
}

int restore_check(struct restore *rs, json_t **report, struct ms_err *e)
{
	unsigned n = rs->o->jobs ? rs->o->jobs : 1;
	struct checker *cs;
	size_t next = 0;
	int rc = 0;

	if (n > rs->n_tables)
		n = rs->n_tables ? (unsigned)rs->n_tables : 1;
	*report = json_array();
	cs = calloc(n, sizeof(*cs));
	if (!*report || !cs) {
		free(cs);
		return ms_oom(e);
	}
	for (unsigned i = 0; i < n; i++) {
		cs[i].rs = rs;
		cs[i].next = &next;
		cs[i].report = json_array();
		cs[i].started = cs[i].report && pthread_create(&cs[i].thread, NULL, checker_main, &cs[i]) == 0;
		if (!cs[i].started)
			rc = ms_fail(e, MS_INTERNAL, "cannot start a checking thread");
	}
	for (unsigned i = 0; i < n; i++) {
		if (cs[i].started) {
			pthread_join(cs[i].thread, NULL);
			if (cs[i].rc && rc == 0) {
				*e = cs[i].err;
				rc = -1;
			}
		}
		json_array_extend(*report, cs[i].report);
		json_decref(cs[i].report);
	}
	free(cs);
	return rc;
}
