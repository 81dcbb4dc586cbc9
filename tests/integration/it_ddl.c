/* `mdlsafe ddl` against the sandbox: the seed 004 and 002 incidents replayed
 * with clients reading and writing the table, the kill policy, the deadline,
 * the dry run and the COPY refusal. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DB "it_ddl"

/* The application: reads and writes the table every 20 ms, timing each. */
struct client {
	pthread_t thread;
	volatile bool stop;
	double worst_s;
	unsigned queries;
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
			snprintf(sql, sizeof(sql), "UPDATE " DB ".t SET v = v + 1 WHERE id = %u", 1 + i % 10);
		else
			snprintf(sql, sizeof(sql), "SELECT v FROM " DB ".t WHERE id = %u", 1 + i % 10);
		if (mysql_query(m, sql))
			break;
		if ((r = mysql_store_result(m)))
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

static void fresh_table(MYSQL *m)
{
	it_exec(m, "DROP DATABASE IF EXISTS " DB);
	it_exec(m, "CREATE DATABASE " DB);
	it_exec(m, "CREATE TABLE " DB ".t (id INT PRIMARY KEY, v INT NOT NULL, c VARCHAR(20)) ENGINE=InnoDB");
	it_exec(m, "INSERT INTO " DB ".t SELECT seq, seq, 'x' FROM " DB ".seq_1_to_1000");
}

/* An idle transaction that has read t: it holds a shared metadata lock. */
static MYSQL *idle_reader(char *id, size_t n)
{
	MYSQL *m = it_connect();

	it_exec(m, "START TRANSACTION");
	it_exec(m, "SELECT COUNT(*) FROM " DB ".t");
	snprintf(id, n, "%lu", it_id(m));
	return m;
}

static void start_ddl(struct it_child *c, const char *sql, const char *extra1, const char *extra2)
{
	static char cnf[300];
	const char *args[] = { "ddl", cnf, "-D", DB, "--max-stall", "500", "--json", sql, extra1, extra2, NULL };

	snprintf(cnf, sizeof(cnf), "--defaults-file=%s", it_cnf());
	it_mdlsafe_start(c, args, NULL);
}

static bool has_index(MYSQL *m, const char *name)
{
	char *v = it_value(m, "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '" DB "' "
			      "AND TABLE_NAME = 't' AND INDEX_NAME = '%s'", name);
	bool yes = v && strcmp(v, "0");

	free(v);
	return yes;
}

/* Seed 004 (or 002 with a trigger): the DDL waits behind an idle
 * transaction; clients keep working; it completes after the commit. */
static void replay_behind_idle_transaction(const char *sql)
{
	MYSQL *m = it_connect(), *idle;
	struct client cl = { 0 };
	struct it_child c;
	struct it_run r;
	char id[32];
	json_t *j;

	fresh_table(m);
	idle = idle_reader(id, sizeof(id));
	pthread_create(&cl.thread, NULL, client_main, &cl);
	start_ddl(&c, sql, NULL, NULL);
	it_sleep_ms(3000);
	it_exec(idle, "COMMIT");
	mysql_close(idle);
	it_mdlsafe_finish(&c, 0, 60, &r);
	cl.stop = true;
	pthread_join(cl.thread, NULL);
	if (r.status != 0)
		fail_msg("ddl: exit %d: %s", r.status, r.err);
	/* It gave way while the transaction was open, and named it. */
	assert_non_null(strstr(r.err, "gave way"));
	assert_non_null(strstr(r.err, id));
	j = it_json(&r);
	assert_true(json_integer_value(json_object_get(json_array_get(json_object_get(j, "statements"), 0), "attempts")) > 1);
	json_decref(j);
	it_run_release(&r);
	assert_true(cl.queries > 50);
	/* The 500 ms budget, not the 3 s the transaction stayed open. */
	it_assert_within_budget(cl.worst_s, 0.5, "a client query behind the DDL");
	mysql_close(m);
}

static void test_seed004_add_index_behind_an_idle_transaction(void **state)
{
	MYSQL *m;

	(void)state;
	replay_behind_idle_transaction("ALTER TABLE t ADD INDEX idx_v (v)");
	m = it_connect();
	assert_true(has_index(m, "idx_v"));
	mysql_close(m);
}

static void test_seed002_create_trigger_behind_a_transaction(void **state)
{
	MYSQL *m;
	char *n;

	(void)state;
	replay_behind_idle_transaction("CREATE TRIGGER t_bu BEFORE UPDATE ON t FOR EACH ROW SET NEW.c = 'trg'");
	m = it_connect();
	n = it_value(m, "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '" DB "'");
	assert_string_equal(n, "1");
	free(n);
	mysql_close(m);
}

static void test_kill_policy_kills_the_idle_blocker_and_logs_it(void **state)
{
	MYSQL *m = it_connect(), *idle;
	struct it_child c;
	struct it_run r;
	char id[32];
	json_t *j, *kills;

	(void)state;
	fresh_table(m);
	idle = idle_reader(id, sizeof(id));
	start_ddl(&c, "ALTER TABLE t ADD INDEX idx_c (c)", "--kill-blockers", "idle>2s");
	it_mdlsafe_finish(&c, 0, 60, &r);
	if (r.status != 0)
		fail_msg("ddl: exit %d: %s", r.status, r.err);
	assert_non_null(strstr(r.err, "killed session"));
	assert_non_null(strstr(r.err, id));
	j = it_json(&r);
	kills = json_object_get(json_array_get(json_object_get(j, "statements"), 0), "kills");
	assert_int_equal(json_array_size(kills), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(kills, 0), "id")), atol(id));
	json_decref(j);
	it_run_release(&r);
	assert_true(has_index(m, "idx_c"));
	/* The idle session is gone. */
	assert_int_not_equal(mysql_query(idle, "SELECT 1"), 0);
	mysql_close(idle);
	mysql_close(m);
}

static void test_deadline_gives_up_names_the_blocker_and_changes_nothing(void **state)
{
	MYSQL *m = it_connect(), *idle;
	struct it_run r;
	char id[32];

	(void)state;
	fresh_table(m);
	idle = idle_reader(id, sizeof(id));
	it_mdlsafe(&r, true, "ddl", "-D", DB, "--deadline", "3", "ALTER TABLE t ADD INDEX idx_v (v)", NULL);
	assert_int_equal(r.status, 11);
	assert_non_null(strstr(r.err, "--deadline"));
	assert_non_null(strstr(r.err, id));
	it_run_release(&r);
	assert_false(has_index(m, "idx_v"));
	it_exec(idle, "COMMIT");
	mysql_close(idle);
	mysql_close(m);
}

static void test_dry_run_changes_nothing_and_copy_is_refused(void **state)
{
	MYSQL *m = it_connect();
	struct it_run r;
	char *before, *after;
	json_t *j, *st;

	(void)state;
	fresh_table(m);
	before = it_value(m, "SELECT GROUP_CONCAT(COLUMN_NAME, COLUMN_TYPE) FROM information_schema.COLUMNS "
			     "WHERE TABLE_SCHEMA = '" DB "' AND TABLE_NAME = 't'");
	it_mdlsafe(&r, true, "ddl", "-D", DB, "--dry-run", "--json", "ALTER TABLE t ADD INDEX idx_v (v)",
		   "ALTER TABLE t ADD COLUMN n INT", NULL);
	if (r.status != 0)
		fail_msg("dry run: exit %d: %s", r.status, r.err);
	j = it_json(&r);
	st = json_object_get(j, "statements");
	assert_string_equal(json_string_value(json_object_get(json_array_get(st, 0), "algorithm")), "INPLACE");
	assert_string_equal(json_string_value(json_object_get(json_array_get(st, 1), "algorithm")), "INSTANT");
	assert_string_equal(json_string_value(json_object_get(json_array_get(st, 0), "outcome")), "dry_run");
	json_decref(j);
	it_run_release(&r);
	assert_false(has_index(m, "idx_v"));
	after = it_value(m, "SELECT GROUP_CONCAT(COLUMN_NAME, COLUMN_TYPE) FROM information_schema.COLUMNS "
			    "WHERE TABLE_SCHEMA = '" DB "' AND TABLE_NAME = 't'");
	assert_string_equal(before, after);
	free(after);
	/* No scratch table is left behind. */
	after = it_value(m, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '" DB "'");
	assert_string_equal(after, "1");
	free(after);

	/* Changing a column's type needs a copy of the table. */
	it_mdlsafe(&r, true, "ddl", "-D", DB, "ALTER TABLE t MODIFY c BIGINT", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "ALGORITHM=COPY"));
	assert_non_null(strstr(r.err, "--allow-copy"));
	it_run_release(&r);
	after = it_value(m, "SELECT GROUP_CONCAT(COLUMN_NAME, COLUMN_TYPE) FROM information_schema.COLUMNS "
			    "WHERE TABLE_SCHEMA = '" DB "' AND TABLE_NAME = 't'");
	assert_string_equal(before, after);
	free(after);
	free(before);
	mysql_close(m);
}

/* The algorithm probe runs the ALTER on an empty copy of the table: a
 * clause naming another table would rename or swap that table for real, so
 * it is refused before anything runs, also under --dry-run. */
static void test_clauses_naming_another_table_are_refused_before_the_probe(void **state)
{
	static const char *const refused[] = {
		"ALTER TABLE t RENAME TO t_renamed",
		"ALTER TABLE pt EXCHANGE PARTITION p0 WITH TABLE x",
		"ALTER TABLE pt CONVERT PARTITION p1 TO TABLE x_conv",
		"ALTER TABLE pt CONVERT TABLE x TO PARTITION p2 VALUES LESS THAN (300)",
	};
	MYSQL *m = it_connect();
	struct it_run r;
	char *v;

	(void)state;
	fresh_table(m);
	it_exec(m, "CREATE TABLE " DB ".pt (id INT PRIMARY KEY) ENGINE=InnoDB PARTITION BY RANGE (id) "
		   "(PARTITION p0 VALUES LESS THAN (100), PARTITION p1 VALUES LESS THAN (200))");
	it_exec(m, "CREATE TABLE " DB ".x (id INT PRIMARY KEY) ENGINE=InnoDB");
	it_exec(m, "INSERT INTO " DB ".x VALUES (1), (2), (3)");
	it_exec(m, "INSERT INTO " DB ".pt VALUES (150)");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		it_mdlsafe(&r, true, "ddl", "-D", DB, "--dry-run", refused[i], NULL);
		if (r.status != 2 || !strstr(r.err, "names another table") || !strstr(r.err, "ALGORITHM="))
			fail_msg("ddl --dry-run %s: exit %d: %s", refused[i], r.status, r.err);
		it_run_release(&r);
	}
	/* Nothing was renamed, swapped or moved. */
	v = it_value(m, "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES "
			"WHERE TABLE_SCHEMA = '" DB "' AND TABLE_NAME NOT LIKE 'seq%%'");
	assert_string_equal(v, "pt,t,x");
	free(v);
	v = it_value(m, "SELECT COUNT(*) FROM " DB ".x");
	assert_string_equal(v, "3");
	free(v);
	v = it_value(m, "SELECT COUNT(*) FROM " DB ".pt");
	assert_string_equal(v, "1");
	free(v);
	mysql_close(m);
}

/* A long INPLACE ALTER doing its work is not a wait: with a budget far
 * shorter than the build, it still runs once, to the end. */
static void test_work_longer_than_the_budget_is_not_interrupted(void **state)
{
	MYSQL *m = it_connect();
	struct it_run r;
	json_t *j, *st;

	(void)state;
	fresh_table(m);
	it_exec(m, "INSERT INTO " DB ".t SELECT seq, seq, LEFT(MD5(seq), 20) FROM " DB ".seq_1001_to_600000");
	it_mdlsafe(&r, true, "ddl", "-D", DB, "--max-stall", "200", "--json", "ALTER TABLE t ADD INDEX idx_c (c, v)", NULL);
	if (r.status != 0)
		fail_msg("ddl: exit %d: %s", r.status, r.err);
	j = it_json(&r);
	st = json_array_get(json_object_get(j, "statements"), 0);
	assert_int_equal(json_integer_value(json_object_get(st, "attempts")), 1);
	if (json_real_value(json_object_get(st, "duration_seconds")) < 0.4)
		fail_msg("the index build took %.2f s: too short to show anything against a 0.2 s budget",
			 json_real_value(json_object_get(st, "duration_seconds")));
	json_decref(j);
	it_run_release(&r);
	assert_true(has_index(m, "idx_c"));
	mysql_close(m);
}

/* Many sessions piling up behind a waiting DDL: it gives way before the
 * budget is spent. */
static void test_a_growing_queue_makes_it_give_way_early(void **state)
{
	MYSQL *m = it_connect(), *idle;
	struct client cl[5];
	struct it_run r;
	char id[32];
	json_t *j, *st;

	(void)state;
	fresh_table(m);
	idle = idle_reader(id, sizeof(id));
	memset(cl, 0, sizeof(cl));
	for (int i = 0; i < 5; i++)
		pthread_create(&cl[i].thread, NULL, client_main, &cl[i]);
	it_mdlsafe(&r, true, "ddl", "-D", DB, "--max-stall", "5000", "--max-queue", "3", "--deadline", "2", "--json",
		   "ALTER TABLE t ADD INDEX idx_v (v)", NULL);
	for (int i = 0; i < 5; i++) {
		cl[i].stop = true;
		pthread_join(cl[i].thread, NULL);
	}
	it_exec(idle, "COMMIT");
	mysql_close(idle);
	/* The deadline ends it; every attempt gave way long before 5 s. */
	assert_int_equal(r.status, 11);
	j = it_json(&r);
	st = json_array_get(json_object_get(j, "statements"), 0);
	if (json_real_value(json_object_get(st, "worst_wait_ms")) > 2000)
		fail_msg("waited %.0f ms with 5 sessions queued (--max-queue 3)",
			 json_real_value(json_object_get(st, "worst_wait_ms")));
	json_decref(j);
	it_run_release(&r);
	mysql_close(m);
}

/* Only sessions waiting on the same table count as queued behind the DDL:
 * `_` in its name is no wildcard, so a wait on abc is not a wait on a_c. */
static void test_a_queue_on_a_similarly_named_table_is_not_ours(void **state)
{
	MYSQL *m = it_connect(), *hold_ac = it_connect(), *hold_abc = it_connect(), *waiter = it_connect();
	unsigned long waiter_id = it_id(waiter);
	struct it_bg *bg;
	struct it_run r;
	json_t *j, *st;
	double worst;

	(void)state;
	fresh_table(m);
	it_exec(m, "CREATE TABLE " DB ".a_c (id INT PRIMARY KEY) ENGINE=InnoDB");
	it_exec(m, "CREATE TABLE " DB ".abc (id INT PRIMARY KEY) ENGINE=InnoDB");
	it_exec(hold_ac, "START TRANSACTION");
	it_exec(hold_ac, "SELECT COUNT(*) FROM " DB ".a_c");
	it_exec(hold_abc, "START TRANSACTION");
	it_exec(hold_abc, "SELECT COUNT(*) FROM " DB ".abc");
	bg = it_bg_start_on(waiter, "ALTER TABLE " DB ".abc ADD COLUMN w INT");
	it_wait_state(m, waiter_id, "Waiting for table metadata lock", 10);
	/* One session queued on a_c would make it give way at once; the one
	 * on abc must not, so the first attempt waits out its budget. */
	it_mdlsafe(&r, true, "ddl", "-D", DB, "--max-stall", "3000", "--max-queue", "1", "--deadline", "1", "--json",
		   "ALTER TABLE a_c ADD COLUMN w INT", NULL);
	it_exec(hold_abc, "COMMIT");
	assert_int_equal(it_bg_join(bg), 0);
	it_exec(hold_ac, "COMMIT");
	mysql_close(hold_ac);
	mysql_close(hold_abc);
	assert_int_equal(r.status, 11);
	j = it_json(&r);
	st = json_array_get(json_object_get(j, "statements"), 0);
	worst = json_real_value(json_object_get(st, "worst_wait_ms"));
	if (worst < 1500)
		fail_msg("gave way after %.0f ms to a session waiting on another table (abc, not a_c)", worst);
	json_decref(j);
	it_run_release(&r);
	mysql_close(m);
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
		cmocka_unit_test(test_seed004_add_index_behind_an_idle_transaction),
		cmocka_unit_test(test_seed002_create_trigger_behind_a_transaction),
		cmocka_unit_test(test_kill_policy_kills_the_idle_blocker_and_logs_it),
		cmocka_unit_test(test_deadline_gives_up_names_the_blocker_and_changes_nothing),
		cmocka_unit_test(test_dry_run_changes_nothing_and_copy_is_refused),
		cmocka_unit_test(test_clauses_naming_another_table_are_refused_before_the_probe),
		cmocka_unit_test(test_work_longer_than_the_budget_is_not_interrupted),
		cmocka_unit_test(test_a_growing_queue_makes_it_give_way_early),
		cmocka_unit_test(test_a_queue_on_a_similarly_named_table_is_not_ours),
	};
	return cmocka_run_group_tests(tests, NULL, drop_db);
}
