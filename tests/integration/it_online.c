/* `mdlsafe ddl --online` against the sandbox: a COPY-only change made while
 * an application writes, compared row by row with what it wrote; triggers
 * and the swap behind an idle transaction within the budget; the kill
 * policy; refusals; the dry-run plan; kill -9 and --resume. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DB "it_online"
#define ROWS 50000
#define MAXID 200000

/* ---- the application: writes with a model of what the table must hold ---- */

struct model {
	bool present[MAXID];
	long long k[MAXID];
	unsigned c[MAXID]; /* c is CONCAT('é', c[id]) */
};

struct writer {
	pthread_t thread;
	volatile bool stop;
	struct model *m;
	unsigned ops, failed;
	unsigned seed;
	unsigned next_id;
};

static unsigned pick_present(struct writer *w)
{
	for (;;) {
		unsigned id = 1 + (unsigned)rand_r(&w->seed) % (w->next_id - 1);
		if (w->m->present[id])
			return id;
	}
}

/* Inserts, updates, deletes and key moves, each autocommitted; the model
 * changes only when the server said yes. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	MYSQL *m = it_connect();

	while (!w->stop) {
		unsigned op = (unsigned)rand_r(&w->seed) % 10, id, to;
		long long k = 2000000000LL - (long long)(rand_r(&w->seed) % 1000);
		unsigned c = (unsigned)rand_r(&w->seed);
		char sql[256];

		if (op < 3) {
			id = w->next_id++;
			snprintf(sql, sizeof(sql),
				 "INSERT INTO " DB ".t (id, k, c) VALUES (%u, %lld, CONCAT(_utf8mb4'é', %u))", id, k,
				 c);
			if (mysql_query(m, sql) == 0) {
				w->m->present[id] = true;
				w->m->k[id] = k;
				w->m->c[id] = c;
			} else {
				w->failed++;
			}
		} else if (op < 7) {
			id = pick_present(w);
			snprintf(sql, sizeof(sql),
				 "UPDATE " DB ".t SET k = %lld, c = CONCAT(_utf8mb4'é', %u) WHERE id = %u", k, c, id);
			if (mysql_query(m, sql) == 0) {
				w->m->k[id] = k;
				w->m->c[id] = c;
			} else {
				w->failed++;
			}
		} else if (op < 9) {
			id = pick_present(w);
			snprintf(sql, sizeof(sql), "DELETE FROM " DB ".t WHERE id = %u", id);
			if (mysql_query(m, sql) == 0)
				w->m->present[id] = false;
			else
				w->failed++;
		} else {
			/* The key itself changes: the row moves. */
			id = pick_present(w);
			to = w->next_id++;
			snprintf(sql, sizeof(sql), "UPDATE " DB ".t SET id = %u WHERE id = %u", to, id);
			if (mysql_query(m, sql) == 0) {
				w->m->present[to] = true;
				w->m->k[to] = w->m->k[id];
				w->m->c[to] = w->m->c[id];
				w->m->present[id] = false;
			} else {
				w->failed++;
			}
		}
		w->ops++;
		it_sleep_ms(2);
	}
	mysql_close(m);
	return NULL;
}

/* Clients reading and writing the table every 20 ms, timing each query. */
struct client {
	pthread_t thread;
	volatile bool stop;
	double worst_s;
	unsigned queries, errors;
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	MYSQL *m = it_connect();
	unsigned i = 0;

	while (!c->stop) {
		double t0 = it_now(), dt;
		MYSQL_RES *r;
		char sql[200];

		if (i++ % 2)
			snprintf(sql, sizeof(sql), "UPDATE " DB ".t SET k = k + 1 WHERE id = %u", 1 + i % 100);
		else
			snprintf(sql, sizeof(sql), "SELECT k FROM " DB ".t WHERE id = %u", 1 + i % 100);
		if (mysql_query(m, sql))
			c->errors++;
		else if ((r = mysql_store_result(m)))
			mysql_free_result(r);
		dt = it_now() - t0;
		if (dt > c->worst_s)
			c->worst_s = dt;
		c->queries++;
		it_sleep_ms(20);
	}
	mysql_close(m);
	return NULL;
}

static void fresh_table(MYSQL *m, unsigned rows, struct model *md)
{
	it_exec(m, "DROP DATABASE IF EXISTS " DB);
	it_exec(m, "CREATE DATABASE " DB);
	it_exec(m, "CREATE TABLE " DB ".t (id INT NOT NULL PRIMARY KEY, k INT NOT "
		   "NULL, c VARCHAR(30) CHARACTER SET latin1 "
		   "NOT NULL, KEY (k)) ENGINE=InnoDB");
	it_exec(m, "INSERT INTO " DB ".t SELECT seq, seq * 2, CONCAT(_utf8mb4'é', seq) FROM " DB ".seq_1_to_%u", rows);
	if (md) {
		memset(md, 0, sizeof(*md));
		for (unsigned i = 1; i <= rows; i++) {
			md->present[i] = true;
			md->k[i] = i * 2;
			md->c[i] = i;
		}
	}
}

/* Every row the model holds is in the table with its values, and nothing
 * else is. */
static void assert_table_matches(MYSQL *m, const struct model *md)
{
	MYSQL_RES *r;
	MYSQL_ROW row;
	unsigned rows = 0, want = 0;

	for (unsigned i = 0; i < MAXID; i++)
		want += md->present[i];
	if (mysql_query(m, "SELECT id, k, c FROM " DB ".t ORDER BY id"))
		fail_msg("reading the table: %s", mysql_error(m));
	r = mysql_store_result(m);
	while ((row = mysql_fetch_row(r))) {
		unsigned id = (unsigned)atol(row[0]);
		char c[40];

		rows++;
		if (id >= MAXID || !md->present[id])
			fail_msg("row %u is in the table but was deleted or never written", id);
		snprintf(c, sizeof(c), "é%u", md->c[id]);
		if (atoll(row[1]) != md->k[id] || strcmp(row[2], c))
			fail_msg("row %u holds (%s, %s), the application wrote (%lld, %s)", id, row[1], row[2],
				 md->k[id], c);
	}
	mysql_free_result(r);
	if (rows != want)
		fail_msg("the table has %u rows, the application left %u", rows, want);
}

static char *column_type(MYSQL *m, const char *col)
{
	return it_value(m,
			"SELECT CONCAT(COLUMN_TYPE, ' ', IFNULL(CHARACTER_SET_NAME, "
			"'')) FROM information_schema.COLUMNS "
			"WHERE TABLE_SCHEMA = '" DB "' AND TABLE_NAME = 't' AND COLUMN_NAME = '%s'",
			col);
}

static char *tables_of_db(MYSQL *m)
{
	return it_value(m, "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY BINARY "
			   "TABLE_NAME) FROM information_schema.TABLES "
			   "WHERE TABLE_SCHEMA = '" DB "'");
}

static char *triggers_of_db(MYSQL *m)
{
	return it_value(m, "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE "
			   "TRIGGER_SCHEMA = '" DB "'");
}

/* The database holds the table and nothing else: no shadow, no old table,
 * no trigger, no checkpoint. */
static void assert_only_t_left(MYSQL *m)
{
	char *v = tables_of_db(m);

	assert_string_equal(v, "t");
	free(v);
	v = triggers_of_db(m);
	assert_string_equal(v, "0");
	free(v);
}

/* Creates the flag file /tmp/it_online_NAME.PID (a --pause-file or
 * --postpone-cutover) and puts its path in path. */
static void flag_file(char *path, size_t cap, const char *name)
{
	FILE *f;

	snprintf(path, cap, "/tmp/it_online_%s.%d", name, (int)getpid());
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
}

static void start_online(struct it_child *c, const char *sql, const char *const *extra)
{
	static char cnf[300];
	const char *args[24] = {"ddl", cnf, "--online", "--json", "--max-stall", "500"};
	size_t n = 6;

	snprintf(cnf, sizeof(cnf), "--defaults-file=%s", it_cnf());
	for (size_t i = 0; extra && extra[i] && n < 22; i++)
		args[n++] = extra[i];
	args[n++] = sql;
	args[n] = NULL;
	it_mdlsafe_start(c, args, NULL);
}

static void assert_ok(const struct it_run *r, const char *what)
{
	if (r->status != 0)
		fail_msg("%s: exit %d: %s", what, r->status, r->err);
}

/* ---- tests ------------------------------------------------------------------ */

/* INT -> BIGINT and latin1 -> utf8mb4 while the application inserts,
 * updates, deletes and moves rows all along: afterwards the table holds
 * exactly what the application wrote, in the new types. */
static void test_change_under_concurrent_writes_loses_nothing(void **state)
{
	MYSQL *m = it_connect();
	struct model *md = calloc(1, sizeof(*md));
	struct writer w = {.m = md, .seed = 42, .next_id = ROWS + 1};
	const char *extra[] = {"--chunk-time", "0.02", NULL};
	struct it_child c;
	struct it_run r;
	char *v;
	json_t *j;

	(void)state;
	fresh_table(m, ROWS, md);
	pthread_create(&w.thread, NULL, writer_main, &w);
	it_sleep_ms(300);
	start_online(&c, "ALTER TABLE " DB ".t MODIFY k BIGINT NOT NULL, CONVERT TO CHARACTER SET utf8mb4", extra);
	it_mdlsafe_finish(&c, 0, 120, &r);
	/* Writes go on after the swap, into the new table. */
	it_sleep_ms(300);
	w.stop = true;
	pthread_join(w.thread, NULL);
	assert_ok(&r, "ddl --online");
	j = it_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "outcome")), "done");
	if (json_integer_value(json_object_get(json_object_get(j, "copy"), "chunks")) < 5)
		fail_msg("only %lld chunks: the copy did not overlap the writes",
			 (long long)json_integer_value(json_object_get(json_object_get(j, "copy"), "chunks")));
	/* The triggers alone kept the copy current: nothing to repair. */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "verify"), "chunks_repaired")), 0);
	json_decref(j);
	it_run_release(&r);
	if (w.ops < 200)
		fail_msg("only %u writes during the change", w.ops);
	assert_table_matches(m, md);
	v = column_type(m, "k");
	assert_string_equal(v, "bigint(20) ");
	free(v);
	v = column_type(m, "c");
	assert_string_equal(v, "varchar(30) utf8mb4");
	free(v);
	/* Nothing left behind: no shadow, no old table, no trigger, no checkpoint. */
	assert_only_t_left(m);
	free(md);
	mysql_close(m);
}

/* An idle transaction holds the table while the triggers are created:
 * each CREATE TRIGGER gives way within the budget, clients are never held
 * longer than the budget plus polling, and the change completes once the
 * transaction ends. */
static void test_triggers_behind_an_idle_transaction_stay_within_the_budget(void **state)
{
	MYSQL *m = it_connect(), *idle = it_connect();
	struct client cl = {0};
	struct it_child c;
	struct it_run r;
	char id[32];

	(void)state;
	fresh_table(m, 2000, NULL);
	it_exec(idle, "START TRANSACTION");
	it_exec(idle, "SELECT COUNT(*) FROM " DB ".t");
	snprintf(id, sizeof(id), "%lu", it_id(idle));
	pthread_create(&cl.thread, NULL, client_main, &cl);
	start_online(&c, "ALTER TABLE " DB ".t MODIFY k BIGINT NOT NULL", NULL);
	it_sleep_ms(3000);
	it_exec(idle, "COMMIT");
	it_mdlsafe_finish(&c, 0, 60, &r);
	cl.stop = true;
	pthread_join(cl.thread, NULL);
	assert_ok(&r, "ddl --online");
	assert_non_null(strstr(r.err, "gave way"));
	assert_non_null(strstr(r.err, id));
	it_run_release(&r);
	/* The 0.5 s budget, not the 3 s the transaction stayed open. */
	it_assert_within_budget(cl.worst_s, 0.5, "a client query behind the change");
	assert_true(cl.queries > 50);
	assert_int_equal(cl.errors, 0);
	char *v = column_type(m, "k");
	assert_string_equal(v, "bigint(20) ");
	free(v);
	mysql_close(idle);
	mysql_close(m);
}

/* The swap behind an idle transaction: with the cut-over postponed until
 * the transaction is there, the RENAME never makes clients wait past the
 * budget, and it happens once the transaction ends. The copy is paused by
 * --pause-file first. */
static void test_cutover_behind_an_idle_transaction_and_pause_files(void **state)
{
	MYSQL *m = it_connect(), *idle = it_connect();
	struct client cl = {0};
	char pause[256], postpone[256], buf[65536], *v;
	const char *extra[] = {"--pause-file", pause, "--postpone-cutover", postpone, NULL};
	struct it_child c;
	struct it_run r;
	size_t len = 0;
	char id[32];

	(void)state;
	fresh_table(m, 5000, NULL);
	flag_file(pause, sizeof(pause), "pause");
	flag_file(postpone, sizeof(postpone), "postpone");
	pthread_create(&cl.thread, NULL, client_main, &cl);
	start_online(&c, "ALTER TABLE " DB ".t MODIFY k BIGINT NOT NULL", extra);
	/* Paused: nothing is copied while the file exists. */
	assert_true(it_read_until(c.err_fd, buf, sizeof(buf), &len, "paused", 30));
	it_sleep_ms(1000);
	v = it_value(m, "SELECT rows_copied FROM " DB "._mdlsafe_online");
	assert_string_equal(v, "0");
	free(v);
	unlink(pause);
	assert_true(it_read_until(c.err_fd, buf, sizeof(buf), &len, "cut-over postponed", 60));
	v = it_value(m, "SELECT COUNT(*) FROM " DB "._t_new");
	assert_string_equal(v, "5000");
	free(v);
	it_exec(idle, "START TRANSACTION");
	it_exec(idle, "SELECT COUNT(*) FROM " DB ".t");
	snprintf(id, sizeof(id), "%lu", it_id(idle));
	unlink(postpone);
	it_sleep_ms(3000);
	/* Still the old table: the swap gave way to the transaction. */
	v = column_type(m, "k");
	assert_string_equal(v, "int(11) ");
	free(v);
	it_exec(idle, "COMMIT");
	it_mdlsafe_finish(&c, 0, 60, &r);
	cl.stop = true;
	pthread_join(cl.thread, NULL);
	assert_ok(&r, "ddl --online");
	assert_true(strstr(buf, "gave way") || strstr(r.err, "gave way"));
	assert_true(strstr(buf, id) || strstr(r.err, id));
	it_run_release(&r);
	assert_int_equal(cl.errors, 0);
	it_assert_within_budget(cl.worst_s, 0.5, "a client query behind the swap");
	v = column_type(m, "k");
	assert_string_equal(v, "bigint(20) ");
	free(v);
	mysql_close(idle);
	mysql_close(m);
}

/* Rows of the shadow that differ from the original's (a wrong value the
 * copy's INSERT IGNORE then keeps, a row the original does not have) are
 * found by the verify step, copied again, and the table ends as it was. */
static void test_verify_finds_and_repairs_wrong_shadow_rows(void **state)
{
	MYSQL *m = it_connect();
	struct model *md = calloc(1, sizeof(*md));
	char pause[256], buf[65536];
	const char *extra[] = {"--pause-file", pause, NULL};
	struct it_child c;
	struct it_run r;
	size_t len = 0;
	json_t *j;

	(void)state;
	fresh_table(m, 5000, md);
	flag_file(pause, sizeof(pause), "verify_pause");
	start_online(&c, "ALTER TABLE " DB ".t MODIFY k BIGINT NOT NULL", extra);
	assert_true(it_read_until(c.err_fd, buf, sizeof(buf), &len, "paused", 30));
	/* Written behind the triggers' back, before the first chunk. */
	it_exec(m, "INSERT INTO " DB "._t_new (id, k, c) VALUES (1, 7, 'wrong'), (100000, 8, 'extra')");
	unlink(pause);
	it_mdlsafe_finish(&c, 0, 120, &r);
	assert_ok(&r, "ddl --online");
	j = it_json(&r);
	if (json_integer_value(json_object_get(json_object_get(j, "verify"), "chunks_repaired")) < 1)
		fail_msg("verify repaired no chunk: %s", r.err);
	json_decref(j);
	it_run_release(&r);
	assert_table_matches(m, md);
	free(md);
	mysql_close(m);
}

/* The verify runs behind the copy: a wrong row in the part already copied
 * is found and copied again while the copy itself still waits for an
 * application's row lock in the middle of the table (a verify that ran
 * only after the copy would find it only once the application commits). */
static void test_verify_runs_behind_the_copy(void **state)
{
	MYSQL *m = it_connect(), *app = it_connect();
	struct model *md = calloc(1, sizeof(*md));
	char pause[256], buf[65536];
	const char *extra[] = {"--pause-file", pause, NULL};
	struct it_child c;
	struct it_run r;
	size_t len = 0;
	bool repaired_during_copy;

	(void)state;
	fresh_table(m, 20000, md);
	flag_file(pause, sizeof(pause), "behind_pause");
	start_online(&c, "ALTER TABLE " DB ".t MODIFY k BIGINT NOT NULL", extra);
	assert_true(it_read_until(c.err_fd, buf, sizeof(buf), &len, "paused", 30));
	/* Written behind the triggers' back: the copy's INSERT IGNORE keeps it. */
	it_exec(m, "INSERT INTO " DB "._t_new (id, k, c) VALUES (1, 7, 'wrong')");
	it_exec(app, "START TRANSACTION");
	it_exec(app, "SELECT id FROM " DB ".t WHERE id = 15000 FOR UPDATE");
	unlink(pause);
	repaired_during_copy = it_read_until(c.err_fd, buf, sizeof(buf), &len, "differs between", 30);
	it_exec(app, "COMMIT");
	it_mdlsafe_finish(&c, 0, 120, &r);
	if (!repaired_during_copy)
		fail_msg("the wrong row was not found while the copy waited: %s", buf);
	if (strstr(buf, "copy: ") && strstr(buf, "copy: ") < strstr(buf, "differs between"))
		fail_msg("the copy ended before the verify found the wrong row: %s", buf);
	assert_ok(&r, "ddl --online");
	it_run_release(&r);
	assert_table_matches(m, md);
	free(md);
	mysql_close(app);
	mysql_close(m);
}

/* Verify reads both tables from one snapshot and locks no row: while an
 * application's transaction holds a row of the original, a resumed run
 * still verifies the whole table; only the swap waits for the transaction.
 * The change the transaction made reaches the new table. */
static void test_verify_does_not_wait_for_an_application_row_lock(void **state)
{
	MYSQL *m = it_connect(), *app = it_connect();
	char postpone[256], buf[65536], *v;
	const char *extra[] = {"--postpone-cutover", postpone, NULL};
	const char *resume[] = {"--resume", NULL};
	const char *sql = "ALTER TABLE " DB ".t MODIFY k BIGINT NOT NULL";
	struct it_child c;
	struct it_run r;
	size_t len = 0;
	bool verified;

	(void)state;
	fresh_table(m, 20000, NULL);
	flag_file(postpone, sizeof(postpone), "postpone_verify");
	/* A first run copies and verifies, waits before the swap, and is killed:
	 * its shadow, triggers and checkpoint stay for --resume. */
	start_online(&c, sql, extra);
	assert_true(it_read_until(c.err_fd, buf, sizeof(buf), &len, "cut-over postponed", 60));
	it_mdlsafe_finish(&c, SIGKILL, 10, &r);
	it_run_release(&r);
	unlink(postpone);
	it_exec(app, "START TRANSACTION");
	it_exec(app, "UPDATE " DB ".t SET k = 7 WHERE id = 1");
	len = 0;
	start_online(&c, sql, resume);
	verified = it_read_until(c.err_fd, buf, sizeof(buf), &len, "identical in both tables", 30);
	it_exec(app, "COMMIT");
	it_mdlsafe_finish(&c, 0, 60, &r);
	if (!verified)
		fail_msg("the verify did not get past a row an application holds: %s", buf);
	assert_ok(&r, "ddl --online --resume");
	it_run_release(&r);
	v = it_value(m, "SELECT k FROM " DB ".t WHERE id = 1");
	assert_string_equal(v, "7");
	free(v);
	v = column_type(m, "k");
	assert_string_equal(v, "bigint(20) ");
	free(v);
	assert_only_t_left(m);
	mysql_close(app);
	mysql_close(m);
}

/* --kill-blockers ends the idle transaction in the way, names it, and the
 * change completes. */
static void test_kill_policy_ends_the_blocker(void **state)
{
	MYSQL *m = it_connect(), *idle = it_connect();
	const char *extra[] = {"--kill-blockers", "idle>1s", NULL};
	struct it_child c;
	struct it_run r;
	char id[32];
	json_t *j, *kills;

	(void)state;
	fresh_table(m, 2000, NULL);
	it_exec(idle, "START TRANSACTION");
	it_exec(idle, "SELECT COUNT(*) FROM " DB ".t");
	snprintf(id, sizeof(id), "%lu", it_id(idle));
	it_sleep_ms(1200);
	start_online(&c, "ALTER TABLE " DB ".t MODIFY k BIGINT NOT NULL", extra);
	it_mdlsafe_finish(&c, 0, 60, &r);
	assert_ok(&r, "ddl --online --kill-blockers");
	assert_non_null(strstr(r.err, "killed session"));
	assert_non_null(strstr(r.err, id));
	j = it_json(&r);
	kills = json_object_get(j, "kills");
	assert_int_equal(json_array_size(kills), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(kills, 0), "id")), atol(id));
	json_decref(j);
	it_run_release(&r);
	assert_int_not_equal(mysql_query(idle, "SELECT 1"), 0);
	mysql_close(idle);
	mysql_close(m);
}

/* force_copy: the refusal is the shadow copy's, for a change that would
 * otherwise take the bounded ALTER (an INSTANT rename). */
static void expect_refusal(MYSQL *m, const char *sql, const char *reason, bool force_copy)
{
	struct it_run r;
	char *v;

	it_mdlsafe(&r, true, "ddl", force_copy ? "--online=copy" : "--online", sql, NULL);
	if (r.status != 2 || !strstr(r.err, reason))
		fail_msg("%s: exit %d, want 2 with \"%s\": %s", sql, r.status, reason, r.err);
	it_run_release(&r);
	v = triggers_of_db(m);
	assert_string_equal(v, "0");
	free(v);
}

static void test_refusals_exit_2_with_the_reason(void **state)
{
	MYSQL *m = it_connect();
	char *before, *after;

	(void)state;
	fresh_table(m, 100, NULL);
	it_exec(m, "CREATE TABLE " DB ".nokey (a INT, b INT) ENGINE=InnoDB");
	it_exec(m,
		"CREATE TABLE " DB ".child (id INT PRIMARY KEY, t_id INT, FOREIGN KEY (t_id) REFERENCES " DB ".t (id)) "
		"ENGINE=InnoDB");
	it_exec(m, "CREATE TABLE " DB ".my (id INT PRIMARY KEY, v INT) ENGINE=MyISAM");
	before = tables_of_db(m);
	expect_refusal(m, "ALTER TABLE " DB ".nokey MODIFY a BIGINT", "no PRIMARY KEY", false);
	expect_refusal(m, "ALTER TABLE " DB ".t MODIFY k BIGINT NOT NULL", "foreign key", false);
	expect_refusal(m, "ALTER TABLE " DB ".child MODIFY t_id BIGINT", "foreign key", false);
	expect_refusal(m, "ALTER TABLE " DB ".my MODIFY v BIGINT", "not InnoDB", false);
	it_exec(m, "DROP TABLE " DB ".child");
	expect_refusal(m, "ALTER TABLE " DB ".t DROP PRIMARY KEY", "no longer a unique key", false);
	expect_refusal(m, "ALTER TABLE " DB ".t CHANGE c c2 VARCHAR(30)", "CHANGE renames", true);
	expect_refusal(m, "DROP TABLE " DB ".t", "one ALTER TABLE", false);
	expect_refusal(m, "ALTER TABLE " DB ".t RENAME TO " DB ".t2", "RENAME would apply", false);
	expect_refusal(m, "ALTER TABLE " DB ".t RENAME COLUMN c TO c2", "RENAME would apply", true);
	/* Nothing was created or left behind. */
	after = tables_of_db(m);
	assert_string_equal(after, "my,nokey,t");
	free(after);
	free(before);
	mysql_close(m);
}

/* The text of every binary log event from file:pos on, one a line. */
static char *binlog_since(MYSQL *m, const char *file, const char *pos)
{
	char sql[256], *text = calloc(1, 1);
	size_t len = 0;
	MYSQL_RES *r;
	MYSQL_ROW row;

	snprintf(sql, sizeof(sql), "SHOW BINLOG EVENTS IN '%s' FROM %s", file, pos);
	if (mysql_query(m, sql))
		fail_msg("%s: %s", sql, mysql_error(m));
	r = mysql_store_result(m);
	while ((row = mysql_fetch_row(r))) {
		const char *info = row[5] ? row[5] : "";
		size_t n = strlen(info);

		text = realloc(text, len + n + 2);
		memcpy(text + len, info, n);
		len += n;
		text[len++] = '\n';
		text[len] = 0;
	}
	mysql_free_result(r);
	return text;
}

/* Runs `sql` with --online and checks that it took the bounded ALTER with
 * the algorithm given: no shadow table and no trigger was ever created (the
 * binary log holds the ALTER and nothing of a copy), and nothing is left. */
static void expect_alter_route(MYSQL *m, const char *sql, const char *algorithm)
{
	struct it_run r;
	MYSQL_RES *res;
	MYSQL_ROW row;
	json_t *j;
	char *file, *pos, *log;

	if (mysql_query(m, "SHOW MASTER STATUS") || !(res = mysql_store_result(m)) || !(row = mysql_fetch_row(res)))
		fail_msg("SHOW MASTER STATUS: %s (the sandbox writes a binary log)", mysql_error(m));
	file = strdup(row[0]);
	pos = strdup(row[1]);
	mysql_free_result(res);
	it_mdlsafe(&r, true, "ddl", "--online", "--json", sql, NULL);
	assert_ok(&r, sql);
	j = it_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "route")), "alter");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(json_object_get(j, "statements"), 0), "algorithm")),
	    algorithm);
	assert_non_null(strstr(r.err, "route: one bounded ALTER"));
	json_decref(j);
	it_run_release(&r);
	log = binlog_since(m, file, pos);
	if (!strstr(log, sql) || strstr(log, "_new") || strstr(log, "TRIGGER") || strstr(log, "CREATE TABLE"))
		fail_msg("%s: want only the ALTER in the binary log, got:\n%s", sql, log);
	free(log);
	free(file);
	free(pos);
	assert_only_t_left(m);
}

/* --online goes by what the server would do: an INSTANT change, and an
 * index added in place without a rebuild, run as one bounded ALTER with no
 * shadow copy; a change the server can only copy (INT -> BIGINT), or an
 * in-place rebuild (FORCE), goes through the shadow copy. */
static void test_online_routes_changes_made_without_a_copy_to_one_alter(void **state)
{
	MYSQL *m = it_connect();
	struct it_run r;
	json_t *j;
	char *v;

	(void)state;
	fresh_table(m, 2000, NULL);
	expect_alter_route(m, "ALTER TABLE " DB ".t ADD COLUMN z INT", "INSTANT");
	v = column_type(m, "z");
	assert_string_equal(v, "int(11) ");
	free(v);
	expect_alter_route(m, "ALTER TABLE " DB ".t ADD INDEX iz (z)", "NOCOPY");
	v = it_value(m, "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '" DB
			"' AND TABLE_NAME = 't' AND INDEX_NAME = 'iz'");
	assert_string_equal(v, "1");
	free(v);

	it_mdlsafe(&r, true, "ddl", "--online", "--dry-run", "--json", "ALTER TABLE " DB ".t FORCE", NULL);
	assert_ok(&r, "FORCE");
	j = it_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "route")), "copy");
	assert_non_null(strstr(json_string_value(json_object_get(j, "route_reason")), "rebuild"));
	json_decref(j);
	it_run_release(&r);

	it_mdlsafe(&r, true, "ddl", "--online", "--json", "ALTER TABLE " DB ".t MODIFY k BIGINT NOT NULL", NULL);
	assert_ok(&r, "MODIFY k BIGINT");
	j = it_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "route")), "copy");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "plan"), "shadow_table")), "_t_new");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "copy"), "rows")), 2000);
	json_decref(j);
	it_run_release(&r);
	v = column_type(m, "k");
	assert_string_equal(v, "bigint(20) ");
	free(v);
	mysql_close(m);
}

/* The dry run shows the plan (shadow, triggers, key, rows, who holds the
 * table), reports leftovers and picks other names, and changes nothing. */
static void test_dry_run_shows_the_plan_and_changes_nothing(void **state)
{
	MYSQL *m = it_connect(), *idle = it_connect();
	struct it_run r;
	json_t *j, *plan;
	char id[32], *v;

	(void)state;
	fresh_table(m, 1000, NULL);
	it_exec(m, "CREATE TABLE " DB "._t_new (x INT) ENGINE=InnoDB");
	it_exec(m, "CREATE TRIGGER " DB ".mine AFTER INSERT ON " DB ".t FOR EACH ROW SET @n = NEW.id");
	it_exec(idle, "START TRANSACTION");
	it_exec(idle, "SELECT COUNT(*) FROM " DB ".t");
	snprintf(id, sizeof(id), "%lu", it_id(idle));
	/* Older than the budget: listed as a holder whatever the lock source. */
	it_sleep_ms(800);
	it_mdlsafe(&r, true, "ddl", "--online", "--dry-run", "--json", "ALTER TABLE " DB ".t MODIFY k BIGINT NOT NULL",
		   NULL);
	/* Ended before anything is asserted, so a failure leaves no lock behind. */
	it_exec(idle, "COMMIT");
	assert_ok(&r, "dry run");
	j = it_json(&r);
	plan = json_object_get(j, "plan");
	assert_string_equal(json_string_value(json_object_get(j, "outcome")), "dry_run");
	assert_string_equal(json_string_value(json_object_get(plan, "shadow_table")), "_t_new2");
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "leftovers"), 0)), "_t_new");
	assert_string_equal(json_string_value(json_object_get(json_object_get(plan, "chunk_key"), "index")), "PRIMARY");
	assert_int_equal(json_array_size(json_object_get(plan, "triggers")), 3);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(json_object_get(plan, "triggers"), 0), "follows")),
	    "mine");
	assert_true(json_integer_value(json_object_get(plan, "estimated_rows")) > 0);
	assert_non_null(json_object_get(plan, "disk_needed_bytes"));
	assert_non_null(it_find_id(json_object_get(plan, "holders_at_start"), (unsigned long)atol(id)));
	assert_non_null(strstr(r.err, "coexist"));
	json_decref(j);
	it_run_release(&r);
	v = tables_of_db(m);
	assert_string_equal(v, "_t_new,t");
	free(v);
	v = column_type(m, "k");
	assert_string_equal(v, "int(11) ");
	free(v);
	mysql_close(idle);
	mysql_close(m);
}

/* kill -9 in the middle of the copy, writes going on: --resume continues
 * from the checkpoint (not from the start) and the result holds exactly
 * what the application wrote. Without --resume a new run refuses. */
static void test_kill9_mid_copy_then_resume(void **state)
{
	MYSQL *m = it_connect();
	struct model *md = calloc(1, sizeof(*md));
	struct writer w = {.m = md, .seed = 7, .next_id = 120001};
	const char *extra[] = {"--chunk-time", "0.05", NULL};
	const char *sql = "ALTER TABLE " DB ".t MODIFY k BIGINT NOT NULL";
	struct it_child c;
	struct it_run r;
	double t0;
	char *v = NULL;
	json_t *j;

	(void)state;
	fresh_table(m, 120000, md);
	pthread_create(&w.thread, NULL, writer_main, &w);
	start_online(&c, sql, extra);
	for (t0 = it_now(); it_now() - t0 < 60; it_sleep_ms(20)) {
		free(v);
		v = it_value(m, "SELECT COUNT(*) FROM information_schema.TABLES WHERE "
				"TABLE_SCHEMA = '" DB "' "
				"AND TABLE_NAME = '_mdlsafe_online'");
		if (v && !strcmp(v, "1")) {
			free(v);
			v = it_value(m, "SELECT IFNULL(MAX(rows_copied), 0) FROM " DB "._mdlsafe_online");
		}
		if (v && atol(v) >= 10000)
			break;
	}
	assert_non_null(v);
	assert_true(atol(v) >= 10000);
	free(v);
	it_mdlsafe_finish(&c, SIGKILL, 10, &r);
	it_run_release(&r);
	it_sleep_ms(500);
	/* A new run without --resume refuses and says how to continue. */
	it_mdlsafe(&r, true, "ddl", "--online", sql, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--resume"));
	it_run_release(&r);
	it_mdlsafe(&r, true, "ddl", "--online", "--resume", "--json", sql, NULL);
	it_sleep_ms(300);
	w.stop = true;
	pthread_join(w.thread, NULL);
	assert_ok(&r, "ddl --online --resume");
	j = it_json(&r);
	if (json_integer_value(json_object_get(json_object_get(j, "plan"), "resumed_after_rows")) < 10000)
		fail_msg(
		    "resumed after %lld rows, want the checkpoint's (>= 10000)",
		    (long long)json_integer_value(json_object_get(json_object_get(j, "plan"), "resumed_after_rows")));
	json_decref(j);
	it_run_release(&r);
	assert_table_matches(m, md);
	v = column_type(m, "k");
	assert_string_equal(v, "bigint(20) ");
	free(v);
	v = tables_of_db(m);
	assert_string_equal(v, "t");
	free(v);
	free(md);
	mysql_close(m);
}

/* SIGTERM (or Ctrl-C) before the swap: the run stops, drops its triggers,
 * the shadow and the checkpoint, and says so (exit 11). */
static void test_a_signal_stops_the_change_and_undoes_it(void **state)
{
	MYSQL *m = it_connect();
	char pause[256], buf[65536], *v;
	const char *extra[] = {"--pause-file", pause, NULL};
	struct it_child c;
	struct it_run r;
	size_t len = 0;

	(void)state;
	fresh_table(m, 2000, NULL);
	flag_file(pause, sizeof(pause), "sig");
	start_online(&c, "ALTER TABLE " DB ".t MODIFY k BIGINT NOT NULL", extra);
	assert_true(it_read_until(c.err_fd, buf, sizeof(buf), &len, "paused", 30));
	v = triggers_of_db(m);
	assert_string_equal(v, "3");
	free(v);
	it_mdlsafe_finish(&c, SIGTERM, 30, &r);
	unlink(pause);
	if (r.status != 11 || !strstr(r.err, "stopped by a signal"))
		fail_msg("after SIGTERM: exit %d, want 11 and the reason: %s", r.status, r.err);
	it_run_release(&r);
	v = triggers_of_db(m);
	assert_string_equal(v, "0");
	free(v);
	v = tables_of_db(m);
	assert_string_equal(v, "t");
	free(v);
	v = column_type(m, "k");
	assert_string_equal(v, "int(11) ");
	free(v);
	mysql_close(m);
}

static char *b_server_id; /* B's own, while a test makes it a replica */

/* --max-lag: while the replica does not apply changes (its SQL thread is
 * stopped), nothing is copied; once it applies again the change completes,
 * and the replica gets it too. */
static void test_max_lag_pauses_while_the_replica_does_not_apply(void **state)
{
	MYSQL *m = it_connect(), *b = it_connect_b();
	char *file, *pos, *port_a, *port_b, *v, buf[65536], replica[64];
	const char *extra[] = {"--replica", replica, "--max-lag", "2", NULL};
	struct it_child c;
	struct it_run r;
	size_t len = 0;
	bool paused;

	(void)state;
	port_a = it_value(m, "SELECT @@port");
	port_b = it_value(b, "SELECT @@port");
	snprintf(replica, sizeof(replica), "127.0.0.1:%s", port_b);
	/* B replicates from here on; only its receiving thread runs. */
	{
		MYSQL_RES *res;
		MYSQL_ROW row;

		assert_int_equal(mysql_query(m, "SHOW MASTER STATUS"), 0);
		res = mysql_store_result(m);
		assert_non_null(row = mysql_fetch_row(res));
		file = strdup(row[0]);
		pos = strdup(row[1]);
		mysql_free_result(res);
	}
	it_exec(b, "DROP DATABASE IF EXISTS " DB);
	/* A replica needs its own server_id; B's is put back afterwards. */
	free(b_server_id);
	b_server_id = it_value(b, "SELECT @@server_id");
	v = it_value(m, "SELECT @@server_id + 1");
	it_exec(b, "SET GLOBAL server_id = %s", v);
	free(v);
	it_exec(b,
		"CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = %s, MASTER_USER = 'root', "
		"MASTER_PASSWORD = '%s', MASTER_LOG_FILE = '%s', MASTER_LOG_POS = %s",
		port_a, getenv("MDLSAFE_TEST_ROOT_PASSWORD"), file, pos);
	it_exec(b, "START SLAVE IO_THREAD");
	fresh_table(m, 2000, NULL);
	start_online(&c, "ALTER TABLE " DB ".t MODIFY k BIGINT NOT NULL", extra);
	paused = it_read_until(c.err_fd, buf, sizeof(buf), &len, "not applying changes", 30);
	it_sleep_ms(1000);
	v = it_value(m, "SELECT IFNULL(MAX(TABLE_ROWS) * 0, 'no checkpoint table') FROM information_schema.TABLES "
			"WHERE TABLE_SCHEMA = '" DB "' AND TABLE_NAME = '_mdlsafe_online'");
	if (v && !strcmp(v, "0")) {
		free(v);
		v = it_value(m, "SELECT rows_copied FROM " DB "._mdlsafe_online");
	}
	it_exec(b, "START SLAVE SQL_THREAD");
	it_mdlsafe_finish(&c, 0, 60, &r);
	assert_true(paused);
	assert_string_equal(v, "0");
	assert_ok(&r, "ddl --online --max-lag");
	it_run_release(&r);
	free(v);
	v = column_type(m, "k");
	assert_string_equal(v, "bigint(20) ");
	free(v);
	free(file);
	free(pos);
	free(port_a);
	free(port_b);
	mysql_close(b);
	mysql_close(m);
}

/* B back as it was, also after a failed test. */
static int stop_replica(void **state)
{
	MYSQL *b = it_connect_b();

	(void)state;
	it_exec(b, "STOP SLAVE");
	it_exec(b, "RESET SLAVE ALL");
	if (b_server_id)
		it_exec(b, "SET GLOBAL server_id = %s", b_server_id);
	free(b_server_id);
	b_server_id = NULL;
	it_exec(b, "DROP DATABASE IF EXISTS " DB);
	mysql_close(b);
	return 0;
}

static int drop_db(void **state)
{
	MYSQL *m = it_connect();

	(void)state;
	it_exec(m, "DROP DATABASE IF EXISTS " DB);
	mysql_close(m);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_change_under_concurrent_writes_loses_nothing),
	    cmocka_unit_test(test_triggers_behind_an_idle_transaction_stay_within_the_budget),
	    cmocka_unit_test(test_cutover_behind_an_idle_transaction_and_pause_files),
	    cmocka_unit_test(test_verify_finds_and_repairs_wrong_shadow_rows),
	    cmocka_unit_test(test_verify_runs_behind_the_copy),
	    cmocka_unit_test(test_verify_does_not_wait_for_an_application_row_lock),
	    cmocka_unit_test(test_kill_policy_ends_the_blocker),
	    cmocka_unit_test(test_refusals_exit_2_with_the_reason),
	    cmocka_unit_test(test_dry_run_shows_the_plan_and_changes_nothing),
	    cmocka_unit_test(test_online_routes_changes_made_without_a_copy_to_one_alter),
	    cmocka_unit_test(test_kill9_mid_copy_then_resume),
	    cmocka_unit_test(test_a_signal_stops_the_change_and_undoes_it),
	    cmocka_unit_test_teardown(test_max_lag_pauses_while_the_replica_does_not_apply, stop_replica),
	};
	if (getenv("IT_ONLINE_ONLY"))
		cmocka_set_test_filter(getenv("IT_ONLINE_ONLY"));
	return cmocka_run_group_tests(tests, NULL, drop_db);
}
