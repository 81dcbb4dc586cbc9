/* backup --physical and restore --physical against two sandbox servers:
 * A (MDLSAFE_TEST_CNF) is backed up while a client writes, B
 * (MDLSAFE_TEST_CNF_B) receives the restore. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DB "phys_it"

static void tmpdir(char *out, size_t n, const char *what)
{
	snprintf(out, n, "/tmp/mdlsafe-it-phys-%d-%s", (int)getpid(), what);
	char cmd[600];
	if ((size_t)snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s.partial'", out, out) >= sizeof(cmd))
		fail_msg("path too long: %s", out);
	assert_int_equal(system(cmd), 0);
}

/* Every kind the physical backup handles, and every kind it hands to SQL. */
static void make_schema(MYSQL *a)
{
	it_exec(a, "DROP DATABASE IF EXISTS " DB);
	it_exec(a, "CREATE DATABASE " DB);
	it_exec(a, "CREATE TABLE " DB ".parent (id INT PRIMARY KEY, name VARCHAR(40), body TEXT, KEY (name), "
		   "FULLTEXT KEY ft (body)) ENGINE=InnoDB");
	it_exec(a, "CREATE TABLE " DB ".child (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES parent (id)) "
		   "ENGINE=InnoDB");
	it_exec(a, "CREATE TABLE " DB ".busy (id INT AUTO_INCREMENT PRIMARY KEY, v INT, KEY (v)) ENGINE=InnoDB");
	it_exec(a, "CREATE TABLE " DB ".my (id INT PRIMARY KEY, a VARCHAR(20)) ENGINE=MyISAM");
	it_exec(a, "CREATE TABLE " DB ".ar (id INT PRIMARY KEY, a VARCHAR(20)) ENGINE=Aria");
	it_exec(a, "CREATE TABLE " DB ".mem (id INT) ENGINE=MEMORY");
	it_exec(a, "CREATE SEQUENCE " DB ".seq NOCACHE");
	it_exec(a, "CREATE VIEW " DB ".v AS SELECT id, name FROM " DB ".parent");
	it_exec(a, "CREATE FUNCTION " DB ".twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2");
	/* Qualified, as people write them: restore --rename puts it in the copy. */
	it_exec(a, "USE " DB);
	it_exec(a, "CREATE TRIGGER " DB ".up BEFORE INSERT ON " DB ".my FOR EACH ROW SET NEW.a = UPPER(NEW.a)");
	it_exec(a, "INSERT INTO " DB ".parent VALUES (1, 'one', 'the quick brown fox'), (2, 'two', 'lazy dogs sleep')");
	it_exec(a, "INSERT INTO " DB ".child VALUES (10, 1), (20, 2)");
	it_exec(a, "INSERT INTO " DB ".my VALUES (1, 'x'), (2, 'y')");
	it_exec(a, "INSERT INTO " DB ".ar VALUES (1, 'b'), (2, 'c'), (3, 'd')");
	it_exec(a, "INSERT INTO " DB ".mem VALUES (7)");
	it_exec(a, "DO NEXTVAL(" DB ".seq)");
	it_exec(a, "DO NEXTVAL(" DB ".seq)");
	/* Another database of the server, which must not be touched. */
	it_exec(a, "CREATE DATABASE IF NOT EXISTS phys_it_other");
	it_exec(a, "CREATE TABLE IF NOT EXISTS phys_it_other.t (id INT) ENGINE=InnoDB");
	it_exec(a, "DROP PROCEDURE IF EXISTS " DB ".writer");
	it_exec(a, "CREATE PROCEDURE " DB ".writer(n INT) BEGIN DECLARE i INT DEFAULT 0; WHILE i < n DO "
		   "INSERT INTO busy (v) VALUES (i); DO SLEEP(0.002); SET i = i + 1; END WHILE; END");
}

/* CHECKSUM TABLE's second column. */
static char *table_sum(MYSQL *m, const char *db, const char *table)
{
	char sql[300];
	MYSQL_RES *r;
	MYSQL_ROW row;
	char *out = NULL;

	snprintf(sql, sizeof(sql), "CHECKSUM TABLE %s.%s", db, table);
	assert_int_equal(mysql_query(m, sql), 0);
	r = mysql_store_result(m);
	assert_non_null(r);
	row = mysql_fetch_row(r);
	if (row && row[1])
		out = strdup(row[1]);
	mysql_free_result(r);
	assert_non_null(out);
	return out;
}

static void assert_same_table(MYSQL *a, MYSQL *b, const char *table)
{
	char *x = table_sum(a, DB, table), *y = table_sum(b, "phys_copy", table);

	if (strcmp(x, y))
		fail_msg("%s: checksum on A %s, on B %s", table, x, y);
	free(x);
	free(y);
}

/* The restored objects work: FULLTEXT rebuilt, FK kept, trigger, view,
 * function and sequence restored. */
static void assert_objects(MYSQL *b)
{
	char *v;

	v = it_value(b, "SELECT id FROM phys_copy.parent WHERE MATCH(body) AGAINST ('lazy')");
	assert_string_equal(v, "2");
	free(v);
	v = it_value(b, "SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE "
			"CONSTRAINT_SCHEMA = 'phys_copy' AND TABLE_NAME = 'child'");
	assert_string_equal(v, "1");
	free(v);
	it_exec(b, "INSERT INTO phys_copy.my VALUES (9, 'low')");
	v = it_value(b, "SELECT a FROM phys_copy.my WHERE id = 9");
	assert_string_equal(v, "LOW");
	free(v);
	v = it_value(b, "SELECT CONCAT(COUNT(*), ':', phys_copy.twice(21)) FROM phys_copy.v");
	assert_string_equal(v, "2:42");
	free(v);
	v = it_value(b, "SELECT NEXTVAL(phys_copy.seq)");
	assert_string_equal(v, "3");
	free(v);
	v = it_value(b, "SELECT COUNT(*) FROM phys_copy.mem");
	assert_string_equal(v, "1");
	free(v);
}

static void restore_to_b(const char *dir, const char *snapshot_dir)
{
	MYSQL *b = it_connect_b();
	char cnf[600];
	struct it_run r;

	it_exec(b, "DROP DATABASE IF EXISTS phys_copy");
	mysql_close(b);
	snprintf(cnf, sizeof(cnf), "--defaults-file=%s", it_cnf_b());
	if (snapshot_dir)
		it_mdlsafe(&r, false, "restore", "--physical", dir, "--rename", DB ":phys_copy", "--snapshot-dir", snapshot_dir,
			   cnf, NULL);
	else
		it_mdlsafe(&r, false, "restore", "--physical", dir, "--rename", DB ":phys_copy", cnf, NULL);
	if (r.status != 0)
		fail_msg("restore --physical exited %d: %s", r.status, r.err);
	it_run_release(&r);
}

/* Copy mode while a client writes: the static tables are identical on B,
 * and `busy` holds exactly the rows committed before the freeze (no gap). */
static void test_copy_restored_on_another_server_holds_exactly_the_rows_committed_before_the_freeze(void **state)
{
	MYSQL *a = it_connect(), *b;
	char dir[300];
	struct it_run r;
	struct it_bg *writer;
	json_t *j;
	char *n, *sum_a, *sum_b;
	static const char *const same[] = { "parent", "child", "my", "ar" };

	(void)state;
	make_schema(a);
	tmpdir(dir, sizeof(dir), "copy");
	writer = it_bg_start("CALL " DB ".writer(1500)");
	usleep(300000);
	it_mdlsafe(&r, true, "backup", "--physical", "-B", DB, "-o", dir, "--json", NULL);
	it_bg_join(writer);
	if (r.status != 0)
		fail_msg("backup --physical exited %d: %s", r.status, r.err);
	j = it_json(&r);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "tables"), "innodb")), 3);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "tables"), "myisam")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "tables"), "aria")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "tables"), "logical")), 2);
	assert_true(json_real_value(json_object_get(j, "freeze_ms")) > 0);
	json_decref(j);
	it_run_release(&r);

	it_mdlsafe(&r, false, "verify", dir, NULL);
	assert_int_equal(r.status, 0);
	it_run_release(&r);

	restore_to_b(dir, NULL);
	b = it_connect_b();
	for (size_t i = 0; i < sizeof(same) / sizeof(*same); i++)
		assert_same_table(a, b, same[i]);
	/* A prefix of A's rows, without a hole: the copy is of one instant. */
	n = it_value(b, "SELECT CONCAT(COUNT(*), '/', IFNULL(MAX(id), 0)) FROM phys_copy.busy");
	assert_non_null(n);
	{
		long cnt = atol(n), max = atol(strchr(n, '/') + 1);
		assert_true(cnt > 0);
		assert_int_equal(cnt, max);
		sum_a = it_value(a, "SELECT SUM(CRC32(CONCAT(id, ':', v))) FROM " DB ".busy WHERE id <= %ld", max);
		sum_b = it_value(b, "SELECT SUM(CRC32(CONCAT(id, ':', v))) FROM phys_copy.busy");
		assert_string_equal(sum_a, sum_b);
		free(sum_a);
		free(sum_b);
	}
	free(n);
	assert_objects(b);
	/* Restoring again refuses: the tables exist (--if-exists fail). */
	{
		char cnf[600];
		snprintf(cnf, sizeof(cnf), "--defaults-file=%s", it_cnf_b());
		it_mdlsafe(&r, false, "restore", "--physical", dir, "--rename", DB ":phys_copy", cnf, NULL);
		assert_int_equal(r.status, 2);
		assert_non_null(strstr(r.err, "already exist"));
		it_run_release(&r);
		/* A reader of B's copy holds it: the replace neither queues
		 * behind it nor gives up; it names it and goes on once it ends. */
		{
			MYSQL *holder = it_connect_b();
			char id[32];
			const char *args[] = { "restore", "--physical", dir, "--rename", DB ":phys_copy", "--if-exists", "replace",
					       "--max-stall", "200", cnf, NULL };
			struct it_child c;

			it_exec(holder, "START TRANSACTION");
			it_exec(holder, "SELECT COUNT(*) FROM phys_copy.parent");
			snprintf(id, sizeof(id), "session %lu", it_id(holder));
			it_mdlsafe_start(&c, args, NULL);
			it_sleep_ms(2000);
			it_exec(holder, "COMMIT");
			mysql_close(holder);
			it_mdlsafe_finish(&c, 0, 60, &r);
			if (r.status != 0)
				fail_msg("restore --if-exists replace exited %d: %s", r.status, r.err);
			if (!strstr(r.err, id))
				fail_msg("the restore did not name %s: %s", id, r.err);
			it_run_release(&r);
		}
	}
	assert_same_table(a, b, "ar");
	mysql_close(b);
	mysql_close(a);
}

/* --snapshot-cmd runs while frozen: the command itself records the
 * checksums and that a write could not get through, and copies the
 * database directory as a filesystem snapshot would. Restored from that
 * copy, B holds exactly what the command saw. */
static void test_snapshot_cmd_runs_frozen_and_its_copy_restores_what_it_saw(void **state)
{
	MYSQL *a = it_connect(), *b;
	char dir[300], snap[300], cmd[4096], path[400];
	struct it_run r;
	struct it_bg *writer;
	FILE *f;
	char line[256], seen_busy[64] = "", blocked[32] = "";

	(void)state;
	make_schema(a);
	tmpdir(dir, sizeof(dir), "snap");
	tmpdir(snap, sizeof(snap), "snapdata");
	snprintf(cmd, sizeof(cmd),
		 "set -e; mkdir -p %s; "
		 "mariadb --defaults-file=%s -N -B -e \"CHECKSUM TABLE " DB ".busy\" | cut -f2 > %s/busy.sum; "
		 "if mariadb --defaults-file=%s -e \"SET STATEMENT max_statement_time=0.3 FOR INSERT INTO " DB ".busy (v) "
		 "VALUES (-1)\" 2>/dev/null; then echo written > %s/blocked; else echo blocked > %s/blocked; fi; "
		 "cp -a \"$MDLSAFE_DB_DIR\" %s/" DB,
		 snap, it_cnf(), snap, it_cnf(), snap, snap, snap);
	writer = it_bg_start("CALL " DB ".writer(1500)");
	usleep(300000);
	it_mdlsafe(&r, true, "backup", "--physical", "-B", DB, "-o", dir, "--snapshot-cmd", cmd, NULL);
	it_bg_join(writer);
	if (r.status != 0)
		fail_msg("backup --physical --snapshot-cmd exited %d: %s", r.status, r.err);
	it_run_release(&r);
	snprintf(path, sizeof(path), "%s/busy.sum", snap);
	f = fopen(path, "r");
	assert_non_null(f);
	if (fgets(line, sizeof(line), f))
		sscanf(line, "%63s", seen_busy);
	fclose(f);
	snprintf(path, sizeof(path), "%s/blocked", snap);
	f = fopen(path, "r");
	assert_non_null(f);
	if (fgets(line, sizeof(line), f))
		sscanf(line, "%31s", blocked);
	fclose(f);
	assert_string_equal(blocked, "blocked");

	/* Without the snapshot the data is not in the backup: said, not guessed. */
	{
		char cnf[600];
		snprintf(cnf, sizeof(cnf), "--defaults-file=%s", it_cnf_b());
		it_mdlsafe(&r, false, "restore", "--physical", dir, "--rename", DB ":phys_copy", cnf, NULL);
		assert_int_equal(r.status, 2);
		assert_non_null(strstr(r.err, "--snapshot-dir"));
		it_run_release(&r);
	}
	restore_to_b(dir, snap);
	b = it_connect_b();
	{
		char *got = table_sum(b, "phys_copy", "busy");
		assert_string_equal(got, seen_busy);
		free(got);
	}
	assert_same_table(a, b, "ar");
	assert_objects(b);
	mysql_close(b);
	mysql_close(a);
}

/* An open write transaction: each freeze attempt keeps writers waiting at
 * most the budget; the backup names the blocker and fails at --timeout,
 * and succeeds once the transaction commits. */
static void test_open_write_transaction_keeps_writers_within_budget_and_fails_at_timeout_naming_it(void **state)
{
	MYSQL *a = it_connect(), *holder = it_connect(), *w = it_connect();
	char dir[300], id[32];
	struct it_child c;
	struct it_run r;
	double worst = 0;

	(void)state;
	make_schema(a);
	tmpdir(dir, sizeof(dir), "writer");
	it_exec(holder, "BEGIN");
	it_exec(holder, "INSERT INTO " DB ".child VALUES (30, 1)");
	snprintf(id, sizeof(id), "%lu", it_id(holder));
	{
		char cnf[600];
		const char *args[] = { "backup", "--physical", "-B", DB, "-o", dir, "--max-stall", "200", "--timeout", "3", cnf, NULL };
		snprintf(cnf, sizeof(cnf), "--defaults-file=%s", it_cnf());
		it_mdlsafe_start(&c, args, NULL);
	}
	/* Writers on another table of the database keep going. */
	for (int i = 0; i < 40; i++) {
		double t0 = it_now();
		it_exec(w, "INSERT INTO " DB ".busy (v) VALUES (%d)", i);
		if (it_now() - t0 > worst)
			worst = it_now() - t0;
		it_sleep_ms(50);
	}
	it_mdlsafe_finish(&c, 0, 30, &r);
	assert_int_equal(r.status, 11);
	if (!strstr(r.err, id))
		fail_msg("the error does not name session %s: %s", id, r.err);
	it_run_release(&r);
	it_assert_within_budget(worst, 0.2, "a writer on another table");
	tmpdir(dir, sizeof(dir), "writer");
	it_exec(holder, "COMMIT");
	it_mdlsafe(&r, true, "backup", "--physical", "-B", DB, "-o", dir, "--max-stall", "200", "--timeout", "10", NULL);
	assert_int_equal(r.status, 0);
	it_run_release(&r);
	mysql_close(w);
	mysql_close(holder);
	mysql_close(a);
}

/* --max-freeze stops a snapshot command that runs too long, unfreezes, and
 * leaves no backup: a write that arrives while the command runs waits at
 * most the --max-freeze budget. */
static void test_max_freeze_stops_a_long_snapshot_unfreezes_and_keeps_no_backup(void **state)
{
	MYSQL *a = it_connect();
	char dir[300], mark[320], cmd[400], cnf[600];
	const char *args[] = { "backup",         "--physical", "-B",           DB,  "-o", dir,
			       "--snapshot-cmd", cmd,          "--max-freeze", "1", cnf,  NULL };
	struct it_child c;
	struct it_run r;
	double t0;

	(void)state;
	make_schema(a);
	tmpdir(dir, sizeof(dir), "maxfreeze");
	snprintf(mark, sizeof(mark), "%s.frozen", dir);
	unlink(mark);
	snprintf(cmd, sizeof(cmd), "touch '%s'; sleep 20", mark);
	snprintf(cnf, sizeof(cnf), "--defaults-file=%s", it_cnf());
	it_mdlsafe_start(&c, args, NULL);
	for (t0 = it_now(); access(mark, F_OK) != 0; it_sleep_ms(10))
		if (it_now() - t0 > 30)
			fail_msg("the snapshot command did not start within 30 s");
	/* Frozen now: this write waits until the freeze is ended. */
	t0 = it_now();
	it_exec(a, "INSERT INTO " DB ".busy (v) VALUES (1)");
	it_assert_within_budget(it_now() - t0, 1.0, "a write while the snapshot command ran (--max-freeze 1)");
	it_mdlsafe_finish(&c, 0, 30, &r);
	assert_int_equal(r.status, 11);
	assert_non_null(strstr(r.err, "--max-freeze"));
	assert_int_equal(access(dir, F_OK), -1);
	it_run_release(&r);
	unlink(mark);
	mysql_close(a);
}

/* A truncated .ibd or an empty .cfg: refused before the server is touched. */
static void test_truncated_ibd_or_empty_cfg_is_refused_before_the_server_is_touched(void **state)
{
	MYSQL *a = it_connect(), *b = it_connect_b();
	char dir[300], cmd[800], cnf[600];
	struct it_run r;

	(void)state;
	make_schema(a);
	snprintf(cnf, sizeof(cnf), "--defaults-file=%s", it_cnf_b());
	for (size_t i = 0; i < 2; i++) {
		tmpdir(dir, sizeof(dir), "damaged");
		it_mdlsafe(&r, true, "backup", "--physical", "-B", DB, "-o", dir, NULL);
		if (r.status != 0)
			fail_msg("backup exited %d: %s", r.status, r.err);
		it_run_release(&r);
		snprintf(cmd, sizeof(cmd), i ? ": > '%s/" DB "/busy.cfg'" : "truncate -s 16384 '%s/" DB "/parent.ibd'", dir);
		assert_int_equal(system(cmd), 0);
		it_exec(b, "DROP DATABASE IF EXISTS phys_copy");
		it_mdlsafe(&r, false, "restore", "--physical", dir, "--rename", DB ":phys_copy", cnf, NULL);
		assert_int_equal(r.status, 10);
		assert_non_null(strstr(r.err, "nothing was sent to the server"));
		it_run_release(&r);
		{
			char *v = it_value(b, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'phys_copy'");
			assert_string_equal(v, "0");
			free(v);
		}
	}
	mysql_close(b);
	mysql_close(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_copy_restored_on_another_server_holds_exactly_the_rows_committed_before_the_freeze),
		cmocka_unit_test(test_snapshot_cmd_runs_frozen_and_its_copy_restores_what_it_saw),
		cmocka_unit_test(
			test_open_write_transaction_keeps_writers_within_budget_and_fails_at_timeout_naming_it),
		cmocka_unit_test(test_max_freeze_stops_a_long_snapshot_unfreezes_and_keeps_no_backup),
		cmocka_unit_test(test_truncated_ibd_or_empty_cfg_is_refused_before_the_server_is_touched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
