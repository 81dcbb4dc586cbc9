/* `mdlsafe locks` against a real server: the seed incidents reproduced, in
 * every lock source, plus the errors a DBA meets first. */
#include "harness.h"

#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB "it_locks"

struct seed004 {
	MYSQL *holder;          /* A: idle in a transaction that read t1 */
	struct it_bg *ddl;      /* B: ALTER pending behind A */
	struct it_bg *reader;   /* C: SELECT queued behind B */
	MYSQL *obs;
};

/* Session A: BEGIN; SELECT ... FROM t1 (then idle); B: ALTER TABLE t1
 * (pending); C: SELECT FROM t1 (queued behind B). */
static void seed004_start(struct seed004 *s)
{
	s->obs = it_connect();
	it_fresh_db(s->obs, DB);
	s->holder = it_connect();
	it_exec(s->holder, "BEGIN");
	it_exec(s->holder, "SELECT * FROM " DB ".t1 LIMIT 1");
	s->ddl = it_bg_start("ALTER TABLE " DB ".t1 ADD COLUMN c INT");
	it_wait_state(s->obs, s->ddl->id, "metadata lock", 10);
	s->reader = it_bg_start("SELECT COUNT(*) FROM " DB ".t1");
	it_wait_state(s->obs, s->reader->id, "metadata lock", 10);
	it_settle();
}

static void seed004_stop(struct seed004 *s)
{
	it_exec(s->holder, "ROLLBACK");
	assert_int_equal(it_bg_join(s->ddl), 0);
	assert_int_equal(it_bg_join(s->reader), 0);
	mysql_close(s->holder);
	mysql_close(s->obs);
}

/* The graph must name B pending on t1, A as the root blocker (idle in a
 * transaction, with its age), and C queued behind B. */
static void assert_seed004_graph(json_t *j, struct seed004 *s, const char *source, bool exact)
{
	json_t *objs = json_object_get(j, "objects"), *obj, *head, *blk, *q, *root;

	assert_string_equal(json_string_value(json_object_get(j, "source")), source);
	assert_int_equal(json_is_true(json_object_get(j, "holders_exact")), exact);
	assert_int_equal(json_integer_value(json_object_get(j, "waiting_sessions")), 2);
	assert_int_equal(json_array_size(objs), 1);
	obj = json_array_get(objs, 0);
	assert_string_equal(json_string_value(json_object_get(obj, "schema")), DB);
	assert_string_equal(json_string_value(json_object_get(obj, "name")), "t1");

	head = json_array_get(json_object_get(obj, "heads"), 0);
	assert_non_null(head);
	assert_int_equal(json_integer_value(json_object_get(head, "id")), s->ddl->id);
	assert_string_equal(json_string_value(json_object_get(head, "lock_type")), "EXCLUSIVE");

	blk = it_find_id(json_object_get(obj, "blockers"), it_id(s->holder));
	assert_non_null(blk);
	assert_int_equal(json_is_true(json_object_get(blk, "candidate")), !exact);
	assert_true(json_is_true(json_object_get(blk, "idle_in_transaction")));

	q = it_find_id(json_object_get(obj, "queued"), s->reader->id);
	assert_non_null(q);
	assert_string_equal(json_string_value(json_object_get(q, "lock_type")), "SHARED_READ");

	assert_int_equal(json_array_size(json_object_get(j, "root_blockers")), 1);
	root = json_array_get(json_object_get(j, "root_blockers"), 0);
	assert_int_equal(json_integer_value(json_object_get(root, "id")), it_id(s->holder));
	assert_true(json_is_true(json_object_get(root, "idle_in_transaction")));
	assert_true(json_is_number(json_object_get(root, "transaction_age_seconds")));
	assert_int_equal(json_integer_value(json_object_get(root, "frozen_sessions")), 2);
	{
		char kill[64];
		snprintf(kill, sizeof(kill), "KILL %lu", it_id(s->holder));
		assert_string_equal(json_string_value(json_object_get(root, "kill")), kill);
	}
}

static void run_seed004(const char *source, bool pfs, bool plugin, bool exact)
{
	struct seed004 s;
	struct it_run r;
	MYSQL *admin = it_connect();
	json_t *j;

	it_set_sources(admin, pfs, plugin);
	seed004_start(&s);
	it_mdlsafe(&r, true, "locks", "--json", "--source", source, NULL);
	assert_int_equal(r.status, 0);
	j = it_json(&r);
	if (getenv("IT_DEBUG"))
		fprintf(stderr, "%s\n", r.out);
	assert_seed004_graph(j, &s, source, exact);
	json_decref(j);
	it_run_release(&r);
	seed004_stop(&s);
	it_set_sources(admin, false, false);
	mysql_close(admin);
}

static void test_seed004_graph_from_performance_schema(void **state)
{
	(void)state;
	run_seed004("performance_schema", true, false, true);
}

static void test_seed004_graph_from_metadata_lock_info_plugin(void **state)
{
	(void)state;
	/* The plugin's holders are exact; the verdict on A is not a guess. */
	run_seed004("metadata_lock_info", false, true, true);
}

static void test_seed004_graph_from_processlist_marks_holder_candidate(void **state)
{
	(void)state;
	run_seed004("processlist", false, false, false);
}

static void test_auto_source_picks_performance_schema_when_instrumented(void **state)
{
	MYSQL *admin = it_connect();
	struct it_run r;
	json_t *j;

	(void)state;
	it_set_sources(admin, true, false);
	it_mdlsafe(&r, true, "locks", "--json", NULL);
	assert_int_equal(r.status, 0);
	j = it_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "source")), "performance_schema");
	json_decref(j);
	it_run_release(&r);
	it_set_sources(admin, false, false);
	it_mdlsafe(&r, true, "locks", "--json", NULL);
	j = it_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "source")), "processlist");
	json_decref(j);
	it_run_release(&r);
	mysql_close(admin);
}

static void test_text_output_names_root_blocker_and_kill(void **state)
{
	MYSQL *admin = it_connect();
	struct seed004 s;
	struct it_run r;
	char kill[64];

	(void)state;
	it_set_sources(admin, true, false);
	seed004_start(&s);
	it_mdlsafe(&r, true, "locks", NULL);
	assert_int_equal(r.status, 0);
	snprintf(kill, sizeof(kill), "KILL %lu;", it_id(s.holder));
	assert_non_null(strstr(r.out, "2 sessions frozen on 1 object"));
	assert_non_null(strstr(r.out, kill));
	assert_non_null(strstr(r.out, "IDLE in transaction"));
	it_run_release(&r);
	seed004_stop(&s);
	it_set_sources(admin, false, false);
	mysql_close(admin);
}

/* A statement is text its author chose: on a terminal its escape sequences
 * and line breaks are shown as text and cannot rewrite the suggested KILL
 * line; --json keeps the statement exact. */
static void test_escape_sequences_in_statements_are_shown_not_sent(void **state)
{
	static const char sql[] = "ALTER TABLE " DB ".t1 ADD COLUMN c INT COMMENT 'x\x1b[2K\x1b[1A\rKILL 1;'";
	MYSQL *admin = it_connect(), *holder;
	struct it_bg *ddl;
	struct it_run r;
	json_t *j, *head;

	(void)state;
	it_set_sources(admin, true, false);
	it_fresh_db(admin, DB);
	holder = it_connect();
	it_exec(holder, "BEGIN");
	it_exec(holder, "SELECT * FROM " DB ".t1 LIMIT 1");
	ddl = it_bg_start(sql);
	it_wait_state(admin, ddl->id, "metadata lock", 10);
	it_settle();

	it_mdlsafe(&r, true, "locks", NULL);
	assert_int_equal(r.status, 0);
	if (getenv("IT_DEBUG"))
		fprintf(stderr, "%s\n", r.out);
	assert_null(strchr(r.out, '\x1b'));
	assert_null(strchr(r.out, '\r'));
	assert_non_null(strstr(r.out, "COMMENT 'x\\x1b[2K\\x1b[1A KILL 1;'"));
	it_run_release(&r);

	it_mdlsafe(&r, true, "locks", "--json", NULL);
	assert_int_equal(r.status, 0);
	j = it_json(&r);
	head = json_array_get(json_object_get(json_array_get(json_object_get(j, "objects"), 0), "heads"), 0);
	assert_int_equal(json_integer_value(json_object_get(head, "id")), ddl->id);
	assert_string_equal(json_string_value(json_object_get(head, "statement")), sql);
	json_decref(j);
	it_run_release(&r);

	it_exec(holder, "ROLLBACK");
	assert_int_equal(it_bg_join(ddl), 0);
	mysql_close(holder);
	it_set_sources(admin, false, false);
	mysql_close(admin);
}

/*
 * Seed 000, as it froze the API: a backup's LOCK TABLES t1 READ, t2 READ takes
 * t1, then waits for t2 behind an application transaction that wrote t2 and
 * stays open; meanwhile it holds t1, so writers to t1 freeze. The chain is
 * app writer -> LOCK TABLES -> open transaction: the transaction is the root.
 */
static void run_seed000(const char *source, bool pfs, bool plugin)
{
	MYSQL *admin = it_connect(), *writer;
	struct it_bg *locker, *app;
	struct it_run r;
	json_t *j, *root;

	it_set_sources(admin, pfs, plugin);
	it_fresh_db(admin, DB);
	writer = it_connect();
	it_exec(writer, "BEGIN");
	it_exec(writer, "UPDATE " DB ".t2 SET v = v + 1 WHERE id = 1");
	locker = it_bg_start("LOCK TABLES " DB ".t1 READ, " DB ".t2 READ");
	it_wait_state(admin, locker->id, "metadata lock", 10);
	app = it_bg_start("INSERT INTO " DB ".t1 VALUES (100, 100)");
	it_wait_state(admin, app->id, "metadata lock", 10);
	it_settle();

	it_mdlsafe(&r, true, "locks", "--json", "--source", source, NULL);
	assert_int_equal(r.status, 0);
	j = it_json(&r);
	if (getenv("IT_DEBUG"))
		fprintf(stderr, "%s\n", r.out);
	assert_int_equal(json_integer_value(json_object_get(j, "waiting_sessions")), 2);
	assert_int_equal(json_array_size(json_object_get(j, "root_blockers")), 1);
	root = json_array_get(json_object_get(j, "root_blockers"), 0);
	assert_int_equal(json_integer_value(json_object_get(root, "id")), it_id(writer));
	assert_int_equal(json_integer_value(json_object_get(root, "rows_modified")), 1);
	assert_int_equal(json_integer_value(json_object_get(root, "frozen_sessions")), 2);
	json_decref(j);
	it_run_release(&r);

	it_exec(writer, "ROLLBACK");
	assert_int_equal(it_bg_join(locker), 0); /* its connection closes: UNLOCK */
	assert_int_equal(it_bg_join(app), 0);
	mysql_close(writer);
	it_set_sources(admin, false, false);
	mysql_close(admin);
}

static void test_seed000_lock_tables_root_is_writer_transaction_pfs(void **state)
{
	(void)state;
	run_seed000("performance_schema", true, false);
}

static void test_seed000_lock_tables_root_is_writer_transaction_processlist(void **state)
{
	(void)state;
	run_seed000("processlist", false, false);
}

static void test_no_waits_says_so_and_check_passes(void **state)
{
	struct it_run r;
	json_t *j;

	(void)state;
	it_mdlsafe(&r, true, "locks", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "no metadata-lock waits"));
	it_run_release(&r);

	it_mdlsafe(&r, true, "locks", "--json", NULL);
	j = it_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "verdict")), "no metadata-lock waits");
	assert_int_equal(json_array_size(json_object_get(j, "objects")), 0);
	json_decref(j);
	it_run_release(&r);

	it_mdlsafe(&r, true, "locks", "--check", "--max-wait", "0", NULL);
	assert_int_equal(r.status, 0);
	it_run_release(&r);
}

static void test_check_fails_when_a_wait_is_older_than_max_wait(void **state)
{
	MYSQL *admin = it_connect();
	struct seed004 s;
	struct it_run r;

	(void)state;
	it_set_sources(admin, false, false);
	seed004_start(&s);
	it_mdlsafe(&r, true, "locks", "--check", "--max-wait", "0", NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "CRITICAL"));
	it_run_release(&r);
	it_mdlsafe(&r, true, "locks", "--check", "--max-wait", "3600", NULL);
	assert_int_equal(r.status, 0);
	it_run_release(&r);
	seed004_stop(&s);
	mysql_close(admin);
}

/* --all adds InnoDB row-lock waits: not metadata locks, but the other way a
 * session freezes another. */
static void test_all_lists_row_lock_waits(void **state)
{
	MYSQL *admin = it_connect(), *holder;
	struct it_bg *waiter;
	struct it_run r;
	json_t *j, *rw, *w;

	(void)state;
	it_fresh_db(admin, DB);
	holder = it_connect();
	it_exec(holder, "BEGIN");
	it_exec(holder, "UPDATE " DB ".t1 SET v = v + 1 WHERE id = 1");
	waiter = it_bg_start("UPDATE " DB ".t1 SET v = v + 2 WHERE id = 1");
	it_wait_state(admin, waiter->id, "Updating", 10);
	it_settle();
	it_mdlsafe(&r, true, "locks", "--all", "--json", NULL);
	assert_int_equal(r.status, 0);
	j = it_json(&r);
	/* A row-lock wait is not a metadata-lock wait. */
	assert_int_equal(json_integer_value(json_object_get(j, "waiting_sessions")), 0);
	rw = json_object_get(j, "row_lock_waits");
	assert_int_equal(json_array_size(rw), 1);
	w = json_array_get(rw, 0);
	assert_int_equal(json_integer_value(json_object_get(w, "waiting_id")), waiter->id);
	assert_int_equal(json_integer_value(json_object_get(w, "blocking_id")), it_id(holder));
	assert_non_null(strstr(json_string_value(json_object_get(w, "table")), "t1"));
	json_decref(j);
	it_run_release(&r);
	/* Without --all the section is absent. */
	it_mdlsafe(&r, true, "locks", "--json", NULL);
	j = it_json(&r);
	assert_null(json_object_get(j, "row_lock_waits"));
	json_decref(j);
	it_run_release(&r);
	it_exec(holder, "ROLLBACK");
	assert_int_equal(it_bg_join(waiter), 0);
	mysql_close(holder);
	mysql_close(admin);
}

static void test_unknown_option_is_usage_error(void **state)
{
	struct it_run r;

	(void)state;
	it_mdlsafe(&r, false, "locks", "--frobnicate", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "unknown option --frobnicate"));
	assert_non_null(strstr(r.err, "--help"));
	it_run_release(&r);
}

static void test_wrong_password_is_access_denied(void **state)
{
	struct it_run r;

	(void)state;
	/* -p on the command line beats the option file's password. */
	it_mdlsafe(&r, true, "locks", "-pnot-the-password", NULL);
	assert_int_equal(r.status, 4);
	assert_non_null(strstr(r.err, "access denied"));
	assert_non_null(strstr(r.err, "as root"));
	it_run_release(&r);
}

static void test_unreachable_socket_says_what_was_tried(void **state)
{
	struct it_run r;

	(void)state;
	it_mdlsafe(&r, false, "locks", "--no-defaults", "-S", "/nonexistent/mdlsafe.sock", "-u", "root", NULL);
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "socket /nonexistent/mdlsafe.sock as root"));
	assert_non_null(strstr(r.err, "is the server running?"));
	it_run_release(&r);
}

static void test_user_without_process_privilege_is_told_the_grant(void **state)
{
	struct it_run r;
	char arg[1024];

	(void)state;
	snprintf(arg, sizeof(arg), "--defaults-file=%s", it_noproc_cnf());
	it_mdlsafe(&r, false, "locks", arg, NULL);
	assert_int_equal(r.status, 5);
	assert_non_null(strstr(r.err, "PROCESS"));
	assert_non_null(strstr(r.err, "GRANT"));
	it_run_release(&r);
}

/* The environment is the client's weakest source, but it works alone. */
static void test_environment_variables_connect_without_option_files(void **state)
{
	MYSQL *m = it_connect();
	char *sock = it_value(m, "SELECT @@socket"), *port = it_value(m, "SELECT @@port");
	struct it_run r;

	(void)state;
	setenv("MYSQL_UNIX_PORT", sock, 1);
	setenv("MYSQL_PWD", getenv("MDLSAFE_TEST_ROOT_PASSWORD"), 1);
	it_mdlsafe(&r, false, "locks", "--no-defaults", "-u", "root", NULL);
	assert_int_equal(r.status, 0);
	it_run_release(&r);
	/* TCP through MYSQL_HOST / MYSQL_TCP_PORT. */
	setenv("MYSQL_HOST", "127.0.0.1", 1);
	setenv("MYSQL_TCP_PORT", port, 1);
	unsetenv("MYSQL_UNIX_PORT");
	it_mdlsafe(&r, false, "locks", "--no-defaults", "-u", "root", NULL);
	assert_int_equal(r.status, 0);
	it_run_release(&r);
	/* Without MYSQL_PWD the server refuses, and we say how to give one. */
	unsetenv("MYSQL_PWD");
	it_mdlsafe(&r, false, "locks", "--no-defaults", "-u", "root", NULL);
	assert_int_equal(r.status, 4);
	assert_non_null(strstr(r.err, "127.0.0.1:"));
	assert_non_null(strstr(r.err, "use -p"));
	it_run_release(&r);
	unsetenv("MYSQL_HOST");
	unsetenv("MYSQL_TCP_PORT");
	free(sock);
	free(port);
	mysql_close(m);
}

struct sleeper {
	struct db *db;
	int rc;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *sl = arg;
	struct ms_err e;

	sl->rc = db_exec(sl->db, "SELECT SLEEP(2)", &e);
	return NULL;
}

/* Every session mdlsafe opens is bounded (short lock_wait_timeout, idle
 * timeouts) and recognisable in the processlist and connect attributes. */
static void test_sessions_are_bounded_and_recognisable(void **state)
{
	struct db_params p;
	struct ms_err e;
	struct db db;
	MYSQL *obs = it_connect();
	struct sleeper sl = { &db, -1 };
	pthread_t th;
	char *v, sql[256];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.defaults_file = strdup(it_cnf());
	assert_int_equal(db_open(&db, &p, "it-check", NULL, &e), 0);

	assert_int_equal(db_query_value(&db, "SELECT @@session.lock_wait_timeout", &v, &e), 0);
	assert_true(atof(v) <= 1.0);
	free(v);
	assert_int_equal(db_query_value(&db, "SELECT @@session.idle_transaction_timeout", &v, &e), 0);
	assert_true(atoi(v) > 0);
	free(v);
	assert_int_equal(db_query_value(&db, "SELECT @@session.wait_timeout", &v, &e), 0);
	assert_true(atoi(v) <= 300);
	free(v);

	v = it_value(obs, "SELECT ATTR_VALUE FROM performance_schema.session_connect_attrs "
			  "WHERE PROCESSLIST_ID = %lu AND ATTR_NAME = 'program_name'", db.thread_id);
	assert_non_null(v);
	assert_string_equal(v, "mdlsafe");
	free(v);

	pthread_create(&th, NULL, sleeper_main, &sl);
	it_wait_state(obs, db.thread_id, "User sleep", 10);
	snprintf(sql, sizeof(sql), "SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = %lu", db.thread_id);
	v = it_value(obs, "%s", sql);
	assert_non_null(v);
	assert_non_null(strstr(v, "/* mdlsafe it-check */"));
	free(v);
	/* What marks it as mdlsafe's is the lock it holds, not the comment. */
	v = it_value(obs, "SELECT IS_USED_LOCK('mdlsafe.session.%lu')", db.thread_id);
	assert_non_null(v);
	assert_int_equal(strtoul(v, NULL, 10), db.thread_id);
	free(v);
	pthread_join(th, NULL);
	assert_int_equal(sl.rc, 0);
	db_close(&db);
	db_params_release(&p);
	mysql_close(obs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed004_graph_from_performance_schema),
		cmocka_unit_test(test_seed004_graph_from_metadata_lock_info_plugin),
		cmocka_unit_test(test_seed004_graph_from_processlist_marks_holder_candidate),
		cmocka_unit_test(test_auto_source_picks_performance_schema_when_instrumented),
		cmocka_unit_test(test_text_output_names_root_blocker_and_kill),
		cmocka_unit_test(test_escape_sequences_in_statements_are_shown_not_sent),
		cmocka_unit_test(test_seed000_lock_tables_root_is_writer_transaction_pfs),
		cmocka_unit_test(test_seed000_lock_tables_root_is_writer_transaction_processlist),
		cmocka_unit_test(test_no_waits_says_so_and_check_passes),
		cmocka_unit_test(test_check_fails_when_a_wait_is_older_than_max_wait),
		cmocka_unit_test(test_all_lists_row_lock_waits),
		cmocka_unit_test(test_unknown_option_is_usage_error),
		cmocka_unit_test(test_wrong_password_is_access_denied),
		cmocka_unit_test(test_unreachable_socket_says_what_was_tried),
		cmocka_unit_test(test_user_without_process_privilege_is_told_the_grant),
		cmocka_unit_test(test_environment_variables_connect_without_option_files),
		cmocka_unit_test(test_sessions_are_bounded_and_recognisable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
