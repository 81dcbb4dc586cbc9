/* --verify: reads every restored table back the way backup writes it and
 * compares each chunk's XXH3 and row count with the backup's manifest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "dump/rowfmt.h"
#include "restore/restore_internal.h"
#include "util/pool.h"

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

/* The checking sessions: each takes tables off the shared list until none
 * is left, and reports into its own array. */
struct checkers {
	struct restore *rs;
	size_t next;
	json_t **reports;
};

static int checker_main(void *ctx, unsigned index, struct ms_err *e)
{
	struct checkers *cs = ctx;
	struct restore *rs = cs->rs;
	XXH3_state_t *st = XXH3_createState();
	struct db db;
	int rc = -1;

	if (!st)
		return ms_oom(e);
	if (db_open(&db, rs->o->conn, "restore-verify", NULL, e) == 0) {
		rc = rowfmt_session_prepare(&db, e);
		while (rc == 0 && !restore_cancelled(rs)) {
			size_t i;
			pthread_mutex_lock(&rs->mu);
			i = cs->next++;
			pthread_mutex_unlock(&rs->mu);
			if (i >= rs->n_tables)
				break;
			if (!rs->tables[i].skip)
				rc = check_table(rs, &db, &rs->tables[i], st, cs->reports[index], e);
		}
		db_close(&db);
	}
	XXH3_freeState(st);
	if (rc)
		restore_fail(rs, e);
	return rc;
}

static void checkers_stop(void *ctx, const struct ms_err *why)
{
	struct checkers *cs = ctx;

	restore_fail(cs->rs, why);
}

int restore_check(struct restore *rs, json_t **report, struct ms_err *e)
{
	unsigned n = rs->o->jobs ? rs->o->jobs : 1;
	struct checkers cs = { .rs = rs, .next = 0 };
	struct pool pool = { .what = "checking", .fn = checker_main, .stop = checkers_stop, .ctx = &cs };
	int rc = 0;

	if (n > rs->n_tables)
		n = rs->n_tables ? (unsigned)rs->n_tables : 1;
	*report = json_array();
	cs.reports = calloc(n, sizeof(*cs.reports));
	for (unsigned i = 0; cs.reports && i < n && rc == 0; i++)
		if (!(cs.reports[i] = json_array()))
			rc = -1;
	if (!*report || !cs.reports || rc)
		rc = ms_oom(e);
	else if (pool_start(&pool, n, e) == 0)
		rc = pool_join(&pool, e);
	else
		rc = -1;
	for (unsigned i = 0; cs.reports && i < n; i++) {
		json_array_extend(*report, cs.reports[i]);
		json_decref(cs.reports[i]);
	}
	free(cs.reports);
	return rc;
}
