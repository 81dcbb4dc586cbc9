/* `mdlsafe guard` against the sandbox: seeds 004 and 000 replayed and ended
 * by policy, idle blockers killed, dry run and protected users respected,
 * and a server restart survived. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DB "it_guard"

static char log_path[256];

static void fresh_tables(MYSQL *m)
{
	it_exec(m, "DROP DATABASE IF EXISTS " DB);
	it_exec(m, "CREATE DATABASE " DB);
	it_exec(m, "CREATE TABLE " DB ".t1 (id INT PRIMARY KEY, v INT) ENGINE=InnoDB");
	it_exec(m, "CREATE TABLE " DB ".t2 (id INT PRIMARY KEY, v INT) ENGINE=InnoDB");
	it_exec(m, "INSERT INTO " DB ".t1 VALUES (1, 1), (2, 2)");
	it_exec(m, "INSERT INTO " DB ".t2 VALUES (1, 1), (2, 2)");
	it_exec(m, "GRANT SELECT, INSERT, UPDATE ON " DB ".* TO 'noproc'@'localhost'");
}

/* Starts the guard with its log in log_path, plus the given options. */
static void start_guard(struct it_child *c, const char *a1, const char *a2, const char *a3, const char *a4,
			const char *a5)
{
	static char cnf[300], logopt[300];
	const char *args[] = { "guard", cnf, "--interval", "100", logopt, a1, a2, a3, a4, a5, NULL };

	snprintf(cnf, sizeof(cnf), "--defaults-file=%s", it_cnf());
	snprintf(log_path, sizeof(log_path), "/tmp/mdlsafe-it-guard-%d.jsonl", (int)getpid());
	unlink(log_path);
	snprintf(logopt, sizeof(logopt), "--log=%s", log_path);
	it_mdlsafe_start(c, args, NULL);
}

static void stop_guard(struct it_child *c)
{
	struct it_run r;

	it_mdlsafe_finish(c, SIGTERM, 20, &r);
	if (r.status != 0)
		fail_msg("guard: exit %d: %s", r.status, r.err);
	it_run_release(&r);
}

/* The log's events of one kind, in order. */
static json_t *events(const char *kind)
{
	json_t *out = json_array();
	FILE *f = fopen(log_path, "r");
	char *line = NULL;
	size_t cap = 0;

	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		json_error_t err;
		json_t *j = json_loads(line, 0, &err);
		if (!j)
			fail_msg("guard log line is not JSON: %s", line);
		if (!strcmp(json_string_value(json_object_get(j, "event")) ?: "", kind))
			json_array_append(out, j);
		json_decref(j);
	}
	free(line);
	fclose(f);
	return out;
}

static bool has_session(json_t *list, unsigned long id)
{
	size_t i;
	json_t *s;

	json_array_foreach(list, i, s)
		if ((unsigned long)json_integer_value(json_object_get(s, "id")) == id)
			return true;
	return false;
}

static MYSQL *idle_reader(void)
{
	MYSQL *m = it_connect();

	it_exec(m, "START TRANSACTION");
	it_exec(m, "SELECT COUNT(*) FROM " DB ".t1");
	return m;
}

static void test_seed004_waiting_alter_is_cancelled_and_readers_proceed(void **state)
{
	MYSQL *m = it_connect(), *idle;
	struct it_child c;
	struct it_bg *alter, *readers[3];
	double t0;
	json_t *opened, *actions;
	unsigned long idle_id, alter_id;
	char metrics[300], *prom;
	FILE *pf;
	size_t got;

	(void)state;
	fresh_tables(m);
	snprintf(metrics, sizeof(metrics), "--metrics-file=/tmp/mdlsafe-it-guard-%d.prom", (int)getpid());
	start_guard(&c, "--kill-waiting-ddl", "--max-stall", "1000", metrics, NULL);
	idle = idle_reader();
	idle_id = it_id(idle);
	t0 = it_now();
	alter = it_bg_start("ALTER TABLE " DB ".t1 ADD COLUMN x INT");
	alter_id = alter->id;
	it_wait_state(m, alter->id, "metadata lock", 10);
	for (int i = 0; i < 3; i++)
		readers[i] = it_bg_start("SELECT COUNT(*) FROM " DB ".t1");
	/* Cancelled (the ALTER fails, its session stays), about a second
	 * after it began to freeze the table; the readers then run. */
	assert_int_equal(it_bg_join(alter), 1317);
	it_assert_within_budget(it_now() - t0, 1.0, "the waiting ALTER until guard cancelled it (--max-stall 1000)");
	for (int i = 0; i < 3; i++)
		assert_int_equal(it_bg_join(readers[i]), 0);
	it_exec(idle, "COMMIT");
	mysql_close(idle);
	it_sleep_ms(500);
	stop_guard(&c);
	opened = events("pileup_open");
	assert_int_equal(json_array_size(opened), 1);
	assert_true(has_session(json_object_get(json_array_get(opened, 0), "root_blockers"), idle_id));
	actions = events("action");
	assert_int_equal(json_array_size(actions), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(actions, 0), "action")), "kill_query");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_array_get(actions, 0), "session"), "id")),
			 alter_id);
	json_decref(opened);
	json_decref(actions);
	opened = events("pileup_close");
	assert_int_equal(json_array_size(opened), 1);
	json_decref(opened);
	/* The metrics file counts it. */
	pf = fopen(strchr(metrics, '=') + 1, "r");
	assert_non_null(pf);
	prom = calloc(1, 8192);
	got = fread(prom, 1, 8191, pf);
	fclose(pf);
	assert_true(got > 0);
	assert_non_null(strstr(prom, "mdlsafe_guard_pileups_total 1\n"));
	assert_non_null(strstr(prom, "mdlsafe_guard_kills_total{reason=\"waiting_ddl\"} 1\n"));
	assert_non_null(strstr(prom, "mdlsafe_guard_up 0\n"));
	free(prom);
	unlink(strchr(metrics, '=') + 1);
	mysql_close(m);
}

/* --once: one pass, exit 0 when nobody waits. */
static void test_once_without_a_pileup_exits_zero(void **state)
{
	struct it_run r;

	(void)state;
	it_mdlsafe(&r, true, "guard", "--once", NULL);
	if (r.status != 0)
		fail_msg("guard --once: exit %d: %s", r.status, r.err);
	it_run_release(&r);
}

/* --once: one pass, exit 1 when it sees a pile-up (a wait older than
 * --max-stall), for cron and monitoring; without a policy it ends nothing. */
static void test_once_with_a_pileup_exits_one_and_kills_nothing(void **state)
{
	MYSQL *m = it_connect(), *idle;
	struct it_bg *alter, *reader;
	struct it_run r;

	(void)state;
	fresh_tables(m);
	idle = idle_reader();
	alter = it_bg_start("ALTER TABLE " DB ".t1 ADD COLUMN once_x INT");
	it_wait_state(m, alter->id, "metadata lock", 10);
	reader = it_bg_start("SELECT COUNT(*) FROM " DB ".t1");
	it_wait_state(m, reader->id, "metadata lock", 10);
	it_sleep_ms(300); /* the ALTER now waits longer than --max-stall 100 */
	it_mdlsafe(&r, true, "guard", "--once", "--max-stall", "100", NULL);
	if (r.status != 1)
		fail_msg("guard --once with a pile-up: exit %d, want 1: %s", r.status, r.err);
	it_run_release(&r);
	it_exec(idle, "COMMIT");
	assert_int_equal(it_bg_join(alter), 0);
	assert_int_equal(it_bg_join(reader), 0);
	mysql_close(idle);
	mysql_close(m);
}

/* Seed 000: LOCK TABLES t1 READ, t2 READ waits for t2 behind an open write
 * transaction while holding t1; writers on t1 queue behind it. */
static void test_seed000_lock_tables_behind_a_writer_is_cancelled_and_writers_proceed(void **state)
{
	MYSQL *m = it_connect(), *writer;
	struct it_child c;
	struct it_bg *lock, *writers[2];
	json_t *actions;

	(void)state;
	fresh_tables(m);
	start_guard(&c, "--kill-waiting-ddl", "--max-stall", "1000", NULL, NULL);
	writer = it_connect();
	it_exec(writer, "START TRANSACTION");
	it_exec(writer, "UPDATE " DB ".t2 SET v = v + 1 WHERE id = 1");
	lock = it_bg_start("LOCK TABLES " DB ".t1 READ, " DB ".t2 READ");
	it_wait_state(m, lock->id, "metadata lock", 10);
	writers[0] = it_bg_start("UPDATE " DB ".t1 SET v = v + 1 WHERE id = 1");
	writers[1] = it_bg_start("INSERT INTO " DB ".t1 VALUES (3, 3)");
	assert_int_equal(it_bg_join(lock), 1317);
	assert_int_equal(it_bg_join(writers[0]), 0);
	assert_int_equal(it_bg_join(writers[1]), 0);
	it_exec(writer, "COMMIT");
	mysql_close(writer);
	it_sleep_ms(300);
	stop_guard(&c);
	actions = events("action");
	assert_true(json_array_size(actions) >= 1);
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(json_array_get(actions, 0), "session"),
								"statement")), "LOCK TABLES"));
	json_decref(actions);
	mysql_close(m);
}

static void test_idle_blocker_is_killed_and_the_ddl_completes(void **state)
{
	MYSQL *m = it_connect(), *idle;
	struct it_child c;
	struct it_bg *alter;
	json_t *actions;
	unsigned long idle_id;
	char *n;

	(void)state;
	fresh_tables(m);
	start_guard(&c, "--kill-idle-blockers", "2", "--max-stall", "500", NULL);
	idle = idle_reader();
	idle_id = it_id(idle);
	alter = it_bg_start("ALTER TABLE " DB ".t1 ADD COLUMN y INT");
	assert_int_equal(it_bg_join(alter), 0);
	n = it_value(m, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '" DB "' AND "
			"TABLE_NAME = 't1' AND COLUMN_NAME = 'y'");
	assert_string_equal(n, "1");
	free(n);
	assert_int_not_equal(mysql_query(idle, "SELECT 1"), 0); /* killed */
	mysql_close(idle);
	stop_guard(&c);
	actions = events("action");
	assert_int_equal(json_array_size(actions), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(actions, 0), "action")), "kill");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_array_get(actions, 0), "session"), "id")),
			 idle_id);
	json_decref(actions);
	mysql_close(m);
}

/* Dry run: says what it would do, kills nothing. A protected user's
 * session is never killed either. */
static void test_dry_run_and_protected_users_kill_nothing(void **state)
{
	MYSQL *m = it_connect(), *idle, *prot;
	struct it_child c;
	struct it_bg *alter;
	json_t *actions;

	(void)state;
	fresh_tables(m);
	start_guard(&c, "--kill-idle-blockers", "1", "--dry-run", "--max-stall=500", NULL);
	idle = idle_reader();
	alter = it_bg_start("ALTER TABLE " DB ".t1 ADD COLUMN z INT");
	it_sleep_ms(2500);
	assert_int_equal(mysql_query(idle, "SELECT 1"), 0); /* alive */
	mysql_free_result(mysql_store_result(idle));
	stop_guard(&c);
	actions = events("action");
	assert_true(json_array_size(actions) >= 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(actions, 0), "result")), "dry run: not killed");
	json_decref(actions);
	it_exec(idle, "COMMIT");
	mysql_close(idle);
	assert_int_equal(it_bg_join(alter), 0);

	/* The blocker belongs to a protected user. */
	prot = mysql_init(NULL);
	mysql_options(prot, MYSQL_READ_DEFAULT_FILE, it_noproc_cnf());
	if (!mysql_real_connect(prot, NULL, NULL, NULL, NULL, 0, NULL, 0))
		fail_msg("connect as noproc: %s", mysql_error(prot));
	it_exec(prot, "START TRANSACTION");
	it_exec(prot, "SELECT COUNT(*) FROM " DB ".t2");
	start_guard(&c, "--kill-idle-blockers", "1", "--protect-user", "noproc", "--max-stall=500");
	alter = it_bg_start("ALTER TABLE " DB ".t2 ADD COLUMN z INT");
	it_sleep_ms(2500);
	assert_int_equal(mysql_query(prot, "SELECT 1"), 0); /* alive */
	mysql_free_result(mysql_store_result(prot));
	stop_guard(&c);
	actions = events("action");
	assert_true(json_array_size(actions) >= 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(actions, 0), "result")), "protected user");
	json_decref(actions);
	it_exec(prot, "COMMIT");
	mysql_close(prot);
	assert_int_equal(it_bg_join(alter), 0);
	mysql_close(m);
}

static void test_server_restart_is_survived(void **state)
{
	const char *restart = getenv("MDLSAFE_TEST_SANDBOX_RESTART");
	struct it_child c;
	json_t *back;
	MYSQL *m;

	(void)state;
	if (!restart || !*restart)
		skip();
	start_guard(&c, NULL, NULL, NULL, NULL, NULL);
	it_sleep_ms(500);
	if (system(restart) != 0)
		fail_msg("restarting the sandbox failed: %s", restart);
	/* Reconnect backoff starts at 0.5 s and doubles. */
	for (int i = 0; i < 100; i++) {
		json_t *r = events("reconnected");
		size_t n = json_array_size(r);
		json_decref(r);
		if (n)
			break;
		it_sleep_ms(200);
	}
	stop_guard(&c);
	back = events("disconnected");
	assert_int_equal(json_array_size(back), 1);
	json_decref(back);
	back = events("reconnected");
	assert_int_equal(json_array_size(back), 1);
	json_decref(back);
	m = it_connect();
	mysql_close(m);
}

/* The log holds other sessions' statements: a new one is owner-only, and a
 * symbolic link at its path is refused, not followed. */
static void test_log_is_private_and_a_symlink_is_refused(void **state)
{
	char path[256], victim[256], opt[300];
	struct stat sb;
	struct it_run r;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/mdlsafe-it-guard-%d-private.jsonl", (int)getpid());
	snprintf(victim, sizeof(victim), "/tmp/mdlsafe-it-guard-%d-victim", (int)getpid());
	snprintf(opt, sizeof(opt), "--log=%s", path);
	unlink(path);
	it_mdlsafe(&r, true, "guard", "--once", opt, NULL);
	if (r.status != 0)
		fail_msg("guard --once --log: exit %d: %s", r.status, r.err);
	it_run_release(&r);
	assert_int_equal(lstat(path, &sb), 0);
	if ((sb.st_mode & 0777) != 0600)
		fail_msg("the guard log was created with mode %03o, not 0600", (unsigned)(sb.st_mode & 0777));
	unlink(path);

	unlink(victim);
	assert_int_equal(symlink(victim, path), 0);
	it_mdlsafe(&r, true, "guard", "--once", opt, NULL);
	assert_int_equal(r.status, 7);
	if (!strstr(r.err, "symbolic link") || strchr(r.err, '\n') != strrchr(r.err, '\n'))
		fail_msg("expected one line naming the symbolic link, got: %s", r.err);
	it_run_release(&r);
	if (lstat(victim, &sb) == 0)
		fail_msg("the guard created the symbolic link's target %s", victim);
	unlink(path);
}

/* The metrics go to a temporary file beside the target first: a link
 * planted where a pid-named temporary would go is neither followed nor
 * written through. */
static void test_metrics_temp_file_does_not_follow_a_planted_link(void **state)
{
	char cnf[300], target[256], planted[300], victim[256], opt[300], got[64];
	const char *args[] = { "guard", cnf, "--once", opt, NULL };
	struct it_child c;
	struct it_run r;
	struct stat sb;
	FILE *f;

	(void)state;
	snprintf(cnf, sizeof(cnf), "--defaults-file=%s", it_cnf());
	snprintf(target, sizeof(target), "/tmp/mdlsafe-it-guard-%d-m.prom", (int)getpid());
	snprintf(victim, sizeof(victim), "/tmp/mdlsafe-it-guard-%d-m.victim", (int)getpid());
	snprintf(opt, sizeof(opt), "--metrics-file=%s", target);
	unlink(target);
	f = fopen(victim, "w");
	assert_non_null(f);
	fputs("untouched\n", f);
	fclose(f);
	it_mdlsafe_start(&c, args, NULL);
	/* The child still has to load and connect before its first write. */
	snprintf(planted, sizeof(planted), "%s.tmp.%d", target, (int)c.pid);
	assert_int_equal(symlink(victim, planted), 0);
	it_mdlsafe_finish(&c, 0, 20, &r);
	if (r.status != 0)
		fail_msg("guard --once --metrics-file: exit %d: %s", r.status, r.err);
	it_run_release(&r);
	f = fopen(victim, "r");
	assert_non_null(f);
	assert_non_null(fgets(got, sizeof(got), f));
	fclose(f);
	if (strcmp(got, "untouched\n"))
		fail_msg("the metrics were written through a link planted at %s", planted);
	assert_int_equal(lstat(target, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	unlink(planted);
	unlink(target);
	unlink(victim);
}

static int teardown(void **state)
{
	MYSQL *m = it_connect();

	(void)state;
	it_exec(m, "DROP DATABASE IF EXISTS " DB);
	mysql_close(m);
	unlink(log_path);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed004_waiting_alter_is_cancelled_and_readers_proceed),
		cmocka_unit_test(test_seed000_lock_tables_behind_a_writer_is_cancelled_and_writers_proceed),
		cmocka_unit_test(test_idle_blocker_is_killed_and_the_ddl_completes),
		cmocka_unit_test(test_dry_run_and_protected_users_kill_nothing),
		cmocka_unit_test(test_once_without_a_pileup_exits_zero),
		cmocka_unit_test(test_once_with_a_pileup_exits_one_and_kills_nothing),
		cmocka_unit_test(test_log_is_private_and_a_symlink_is_refused),
		cmocka_unit_test(test_metrics_temp_file_does_not_follow_a_planted_link),
		cmocka_unit_test(test_server_restart_is_survived),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
