/* Kill safety on server B, where performance_schema is OFF as MariaDB ships
 * it: mdlsafe's own sessions are spared even when idle (a backup worker
 * holding its snapshot), and a foreign session is not spared because its
 * statement starts with mdlsafe's comment. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DB "own_it"       /* what the backup reads */
#define OTHER "own_other" /* what the foreign DDL changes */

static char cnf_opt[300], log_path[256], backup_dir[256];

/* Server B as these tests need it: performance_schema off, no
 * metadata_lock_info, so holders come from the processlist (candidates). */
static int setup(void **state)
{
	MYSQL *b = it_connect_b();
	char *v = it_value(b, "SELECT @@performance_schema");

	(void)state;
	if (!v || strcmp(v, "0"))
		fail_msg("server B (%s) runs with performance_schema=%s; these tests need it OFF "
			 "(scripts/run-tests.sh starts it with SANDBOX_PERFORMANCE_SCHEMA=OFF)",
			 it_cnf_b(), v ? v : "?");
	free(v);
	it_exec(b, "UNINSTALL SONAME IF EXISTS 'metadata_lock_info'");
	it_exec(b, "DROP DATABASE IF EXISTS " DB);
	it_exec(b, "CREATE DATABASE " DB);
	/* big keeps one worker reading for a while; small lets the other
	 * finish at once and sit idle in its snapshot. */
	it_exec(b, "CREATE TABLE " DB ".big (id INT PRIMARY KEY, pad VARCHAR(200)) ENGINE=InnoDB");
	it_exec(b, "INSERT INTO " DB ".big SELECT seq, REPEAT('x', 200) FROM " DB ".seq_1_to_300000");
	it_exec(b, "CREATE TABLE " DB ".small (id INT PRIMARY KEY) ENGINE=InnoDB");
	it_exec(b, "INSERT INTO " DB ".small VALUES (1)");
	mysql_close(b);
	snprintf(cnf_opt, sizeof(cnf_opt), "--defaults-file=%s", it_cnf_b());
	snprintf(log_path, sizeof(log_path), "/tmp/mdlsafe-it-own-%d.jsonl", (int)getpid());
	snprintf(backup_dir, sizeof(backup_dir), "/tmp/mdlsafe-it-own-%d-backup", (int)getpid());
	return 0;
}

static int teardown(void **state)
{
	MYSQL *b = it_connect_b();

	(void)state;
	it_exec(b, "DROP DATABASE IF EXISTS " DB);
	it_exec(b, "DROP DATABASE IF EXISTS " OTHER);
	mysql_close(b);
	unlink(log_path);
	return 0;
}

static void fresh_other(MYSQL *b)
{
	it_exec(b, "DROP DATABASE IF EXISTS " OTHER);
	it_exec(b, "CREATE DATABASE " OTHER);
	it_exec(b, "CREATE TABLE " OTHER ".t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB");
	it_exec(b, "INSERT INTO " OTHER ".t VALUES (1, 1), (2, 2)");
}

static void remove_backup(void)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s.partial'", backup_dir, backup_dir);
	assert_int_equal(system(cmd), 0);
}

/* A backup stopped (SIGSTOP) inside its snapshot: every one of its sessions
 * is idle as far as the server can tell. idle_worker is a worker that shows
 * as Sleep with its snapshot transaction open, and no statement. */
struct paused_backup {
	struct it_child c;
	unsigned long idle_worker;
};

/* The paused backup and the guard (static: a failed test longjmps out of
 * its frame), and whether each still runs, for end_children. */
static struct paused_backup the_backup;
static struct it_child the_guard;
static bool paused, guarding;

static int end_children(void **state)
{
	struct it_run r;

	(void)state;
	if (paused) {
		it_mdlsafe_finish(&the_backup.c, SIGKILL, 20, &r);
		it_run_release(&r);
		paused = false;
	}
	if (guarding) {
		it_mdlsafe_finish(&the_guard, SIGKILL, 20, &r);
		it_run_release(&r);
		guarding = false;
	}
	return 0;
}

/* Starts the guard on B with --log in log_path and the given options. */
static void start_guard(const char *kill_opt, const char *kill_arg)
{
	static char logopt[300];
	const char *args[] = { "guard", cnf_opt, "--interval", "100", "--max-stall", "500", logopt, kill_opt, kill_arg,
			       NULL };

	snprintf(logopt, sizeof(logopt), "--log=%s", log_path);
	unlink(log_path);
	it_mdlsafe_start(&the_guard, args, NULL);
	guarding = true;
}

static void stop_guard(void)
{
	struct it_run r;

	guarding = false;
	it_mdlsafe_finish(&the_guard, SIGTERM, 20, &r);
	if (r.status != 0)
		fail_msg("guard: exit %d: %s", r.status, r.err);
	it_run_release(&r);
}

static void pause_backup_in_snapshot(MYSQL *b, struct paused_backup *pb)
{
	const char *args[] = { "backup", cnf_opt, "-o", backup_dir, "-B", DB, "-j", "2", "--compress", "none", NULL };
	char *v = NULL;

	remove_backup();
	it_mdlsafe_start(&pb->c, args, NULL);
	/* The processlist is live (INNODB_TRX lags up to 100 ms): stop it as
	 * soon as a worker reads the rows of big, inside the snapshot. That
	 * read then stalls on its full socket; the other worker is between
	 * statements, before or after small. */
	for (double t0 = it_now(); !v && it_now() - t0 < 30;) {
		v = it_value(b, "SELECT ID FROM information_schema.PROCESSLIST "
				"WHERE INFO LIKE '/* mdlsafe backup-worker-%% */ SELECT %%' "
				"AND INFO LIKE '%%FROM `" DB "`.`big`%%' AND INFO NOT LIKE '%%LIMIT 0' LIMIT 1");
		if (!v)
			it_sleep_ms(1);
	}
	if (!v) {
		struct it_run r;
		it_mdlsafe_finish(&pb->c, 0, 60, &r);
		fail_msg("the backup showed no snapshot within 30 s (exit %d): %s", r.status, r.err);
	}
	assert_int_equal(kill(pb->c.pid, SIGSTOP), 0);
	paused = true;
	free(v);
	it_settle();
	it_sleep_ms(100); /* a statement in flight when it stopped has ended */
	v = it_value(b, "SELECT p.ID FROM information_schema.PROCESSLIST p JOIN information_schema.INNODB_TRX t "
			"ON t.trx_mysql_thread_id = p.ID WHERE p.COMMAND = 'Sleep' AND p.INFO IS NULL LIMIT 1");
	if (!v && getenv("IT_DEBUG"))
		system("mariadb --defaults-file=$MDLSAFE_TEST_CNF_B -e 'SELECT p.ID, p.COMMAND, p.STATE, LEFT(p.INFO, 60), t.trx_id FROM information_schema.PROCESSLIST p LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID' >&2");
	if (!v)
		fail_msg("the backup left its snapshot before it could be paused; make " DB ".big bigger");
	pb->idle_worker = strtoul(v, NULL, 10);
	free(v);
}

/* Lets the backup go on; it must finish as if nothing happened. */
static void resume_backup(struct paused_backup *pb)
{
	struct it_run r;

	assert_int_equal(kill(pb->c.pid, SIGCONT), 0);
	paused = false;
	it_mdlsafe_finish(&pb->c, 0, 120, &r);
	if (r.status != 0)
		fail_msg("the paused backup failed after resuming (exit %d): %s", r.status, r.err);
	it_run_release(&r);
	remove_backup();
}

static bool session_alive(MYSQL *b, unsigned long id)
{
	char *v = it_value(b, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %lu", id);
	bool alive = v && !strcmp(v, "1");

	free(v);
	return alive;
}

/* A foreign session idle in a transaction that read OTHER.t. */
static MYSQL *idle_reader(void)
{
	MYSQL *m = it_connect_b();

	/* One a failed test leaves open ends soon all the same. */
	it_exec(m, "SET SESSION idle_transaction_timeout = 20");
	it_exec(m, "START TRANSACTION");
	it_exec(m, "SELECT COUNT(*) FROM " OTHER ".t");
	return m;
}

/* The guard's log actions on one session, as "result" strings joined. */
static void guard_results(unsigned long id, char *out, size_t n)
{
	FILE *f = fopen(log_path, "r");
	char *line = NULL;
	size_t cap = 0, len = 0;

	assert_non_null(f);
	out[0] = '\0';
	while (getline(&line, &cap, f) > 0) {
		json_error_t err;
		json_t *j = json_loads(line, 0, &err), *s;

		if (!j)
			fail_msg("guard log line is not JSON: %s", line);
		s = json_object_get(j, "session");
		if (!strcmp(json_string_value(json_object_get(j, "event")) ?: "", "action") &&
		    (unsigned long)json_integer_value(json_object_get(s, "id")) == id)
			len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s;",
						json_string_value(json_object_get(j, "result")));
		json_decref(j);
	}
	free(line);
	fclose(f);
}

/* The incident of the first two tests: a backup paused in its snapshot and
 * a foreign reader of OTHER.t, both idle in a transaction for longer than
 * the kill policies' 1 s. Returns the reader. */
static MYSQL *incident(MYSQL *b, struct paused_backup *pb)
{
	MYSQL *idle;

	fresh_other(b);
	pause_backup_in_snapshot(b, pb);
	idle = idle_reader();
	it_sleep_ms(1500);
	return idle;
}

static void test_idle_backup_worker_is_not_killed_by_guard(void **state)
{
	MYSQL *b = it_connect_b(), *idle;
	struct paused_backup *pb = &the_backup;
	struct it_bg *alter;
	char results[512];
	unsigned long idle_id;

	(void)state;
	idle = incident(b, pb);
	idle_id = it_id(idle);
	start_guard("--kill-idle-blockers", "1");
	/* The schema change waits for the foreign reader; the paused worker,
	 * whose snapshot is older than the wait, is a candidate blocker too. */
	alter = it_bg_start_on(it_connect_b(), "SET STATEMENT lock_wait_timeout = 60 FOR "
					       "ALTER TABLE " OTHER ".t ADD COLUMN y INT");
	assert_int_equal(it_bg_join(alter), 0);
	it_sleep_ms(500);
	stop_guard();

	guard_results(idle_id, results, sizeof(results));
	assert_non_null(strstr(results, "killed"));
	assert_int_not_equal(mysql_query(idle, "SELECT 1"), 0);
	mysql_close(idle);
	assert_true(session_alive(b, pb->idle_worker));
	guard_results(pb->idle_worker, results, sizeof(results));
	assert_null(strstr(results, "killed"));
	resume_backup(pb);
	mysql_close(b);
}

/* `mdlsafe ddl --kill-blockers POLICY` adds a column to OTHER.t; it must
 * succeed. Returns its JSON report (caller frees) and, in *kills, the
 * sessions it killed. */
static json_t *ddl_with_policy(const char *policy, json_t **kills)
{
	struct it_run r;
	json_t *j;

	it_mdlsafe(&r, false, "ddl", cnf_opt, "-D", OTHER, "--max-stall", "500", "--deadline", "20", "--json",
		   "--kill-blockers", policy, "ALTER TABLE t ADD COLUMN y INT", NULL);
	if (r.status != 0)
		fail_msg("ddl: exit %d: %s", r.status, r.err);
	j = it_json(&r);
	it_run_release(&r);
	*kills = json_object_get(json_array_get(json_object_get(j, "statements"), 0), "kills");
	return j;
}

static void test_idle_backup_worker_is_not_killed_by_ddl_kill_blockers(void **state)
{
	MYSQL *b = it_connect_b(), *idle;
	struct paused_backup *pb = &the_backup;
	json_t *j, *kills;
	unsigned long idle_id;

	(void)state;
	idle = incident(b, pb);
	idle_id = it_id(idle);
	j = ddl_with_policy("idle>1s", &kills);
	assert_non_null(it_find_id(kills, idle_id));
	assert_null(it_find_id(kills, pb->idle_worker));
	assert_int_equal(json_array_size(kills), 1);
	json_decref(j);
	assert_int_not_equal(mysql_query(idle, "SELECT 1"), 0);
	mysql_close(idle);
	assert_true(session_alive(b, pb->idle_worker));
	resume_backup(pb);
	mysql_close(b);
}

/* A foreign session that runs a statement dressed as mdlsafe's, inside a
 * transaction that read OTHER.t: the policy treats it as anyone's. */
static struct it_bg *disguised_blocker(void)
{
	MYSQL *m = it_connect_b();

	/* If it is not killed, the server ends it soon after all the same. */
	it_exec(m, "SET SESSION idle_transaction_timeout = 5");
	it_exec(m, "START TRANSACTION");
	it_exec(m, "SELECT COUNT(*) FROM " OTHER ".t");
	return it_bg_start_on(m, "/* mdlsafe worker-1 */ SELECT SLEEP(30)");
}

static void test_foreign_statement_with_mdlsafe_comment_is_killed_by_ddl(void **state)
{
	MYSQL *b = it_connect_b();
	struct it_bg *fake;
	json_t *j, *kills;
	unsigned long fake_id;

	(void)state;
	fresh_other(b);
	fake = disguised_blocker();
	fake_id = fake->id;
	it_wait_state(b, fake_id, "User sleep", 10);
	it_settle();
	j = ddl_with_policy("trx>1s", &kills);
	assert_non_null(it_find_id(kills, fake_id));
	json_decref(j);
	assert_int_not_equal(it_bg_join(fake), 0); /* killed mid-statement */
	mysql_close(b);
}

/* A connection to B whose lock waits give up after 20 s, so a guard that
 * does nothing fails the test instead of hanging it. */
static MYSQL *bounded(void)
{
	MYSQL *m = it_connect_b();

	it_exec(m, "SET SESSION lock_wait_timeout = 20");
	return m;
}

static void test_foreign_waiting_ddl_with_mdlsafe_comment_is_cancelled_by_guard(void **state)
{
	MYSQL *b = it_connect_b(), *idle;
	struct it_bg *alter, *reader;
	char results[512];
	unsigned long alter_id;

	(void)state;
	fresh_other(b);
	idle = idle_reader();
	start_guard("--kill-waiting-ddl", NULL);
	alter = it_bg_start_on(bounded(), "/* mdlsafe ddl */ ALTER TABLE " OTHER ".t ADD COLUMN y INT");
	alter_id = alter->id;
	it_wait_state(b, alter_id, "metadata lock", 10);
	reader = it_bg_start_on(bounded(), "SELECT COUNT(*) FROM " OTHER ".t");
	/* The guard cancels the pending ALTER; the reader behind it proceeds. */
	assert_int_equal(it_bg_join(reader), 0);
	assert_int_not_equal(it_bg_join(alter), 0);
	stop_guard();
	guard_results(alter_id, results, sizeof(results));
	assert_non_null(strstr(results, "cancelled"));
	it_exec(idle, "ROLLBACK");
	mysql_close(idle);
	mysql_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_idle_backup_worker_is_not_killed_by_guard, end_children),
		cmocka_unit_test_teardown(test_idle_backup_worker_is_not_killed_by_ddl_kill_blockers, end_children),
		cmocka_unit_test(test_foreign_statement_with_mdlsafe_comment_is_killed_by_ddl),
		cmocka_unit_test_teardown(test_foreign_waiting_ddl_with_mdlsafe_comment_is_cancelled_by_guard, end_children),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
