/* `mdlsafe backup` and `verify` against a real server with binary logging on:
 * the seed incidents reproduced, a restore by hand compared table by table,
 * and every way a backup can fail without leaving a false success behind. */
#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DB "it_backup"
#define BIG_ROWS 1000000

static char workdir[256];

/* A table big enough that reading it takes a while, for tests that act while
 * the backup is reading it; and two small ones. Built once per run. */
static int group_setup(void **state)
{
	MYSQL *m = it_connect();

	(void)state;
	snprintf(workdir, sizeof(workdir), "/tmp/mdlsafe-it-backup-XXXXXX");
	if (!mkdtemp(workdir))
		return -1;
	it_fresh_db(m, DB);
	it_exec(m, "CREATE TABLE " DB ".big (id INT PRIMARY KEY, pad VARCHAR(200)) ENGINE=InnoDB");
	it_exec(m, "INSERT INTO " DB ".big SELECT seq, REPEAT(CHAR(65 + seq %% 26), 100) FROM " DB ".seq_1_to_%d",
		BIG_ROWS);
	mysql_close(m);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void out_dir(char *buf, size_t n, const char *name)
{
	char cmd[600];

	snprintf(buf, n, "%s/%s", workdir, name);
	if ((size_t)snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s.partial'", buf, buf) >= sizeof(cmd))
		fail_msg("path too long: %s", buf);
	if (system(cmd) != 0)
		fail_msg("cannot clean %s", buf);
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static bool child_running(pid_t pid)
{
	siginfo_t info;

	memset(&info, 0, sizeof(info));
	if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0)
		return false;
	return info.si_pid == 0;
}

/* The id of the backup worker streaming `table` right now, or 0. */
static unsigned long worker_reading(MYSQL *m, const char *table)
{
	char *id = it_value(m,
			    "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '/* mdlsafe backup-worker-%%' "
			    "AND INFO LIKE '%%SELECT %%FROM `" DB "`.`%s`%%' AND INFO NOT LIKE '%%LIMIT 0%%'",
			    table);
	unsigned long v = id ? strtoul(id, NULL, 10) : 0;

	free(id);
	return v;
}

/* Waits until a backup worker is streaming `table` (its SELECT is running). */
static unsigned long wait_for_worker_reading(MYSQL *m, const char *table, double timeout_s)
{
	for (double t = 0; t < timeout_s; t += 0.02) {
		unsigned long id = worker_reading(m, table);
		if (id)
			return id;
		it_sleep_ms(20);
	}
	fail_msg("no backup worker started reading %s within %.0f s", table, timeout_s);
	return 0;
}

static json_t *load_manifest(const char *dir)
{
	char path[600];
	json_error_t je;
	json_t *j;

	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	j = json_load_file(path, 0, &je);
	if (!j)
		fail_msg("cannot read %s: %s", path, je.text);
	return j;
}

static json_t *manifest_table(json_t *m, const char *db, const char *table)
{
	size_t i, k;
	json_t *d, *t;

	json_array_foreach(json_object_get(m, "databases"), i, d) {
		if (strcmp(json_string_value(json_object_get(d, "name")), db))
			continue;
		json_array_foreach(json_object_get(d, "tables"), k, t)
			if (!strcmp(json_string_value(json_object_get(t, "name")), table))
				return t;
	}
	return NULL;
}

/* The whole of a small file; caller frees. */
static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = calloc(1, 65536);
	size_t n;

	if (!f || !text)
		fail_msg("cannot read %s", path);
	n = fread(text, 1, 65535, f);
	fclose(f);
	text[n] = '\0';
	return text;
}

/* DB's sequences file, which the manifest must list for DB, the backup's
 * only database; caller frees. */
static char *sequences_file(const char *dir)
{
	json_t *man = load_manifest(dir), *db = json_array_get(json_object_get(man, "databases"), 0);
	char path[700];

	assert_string_equal(json_string_value(json_object_get(db, "name")), DB);
	assert_string_equal(json_string_value(json_object_get(db, "sequences_file")), DB "/sequences.sql");
	json_decref(man);
	snprintf(path, sizeof(path), "%s/" DB "/sequences.sql", dir);
	return read_file(path);
}

/* Starts a backup of DB in the background. */
static void start_backup(struct it_child *c, const char *dir, const char *extra1, const char *extra2)
{
	char cnf[600];
	const char *args[16];
	int n = 0;

	snprintf(cnf, sizeof(cnf), "--defaults-file=%s", it_cnf());
	args[n++] = "backup";
	args[n++] = "-o";
	args[n++] = dir;
	args[n++] = "-B";
	args[n++] = DB;
	args[n++] = cnf;
	/* Tests act while the backup reads the big table: a slow compression
	 * level keeps that read well over the stall budget (1.3 s here) however
	 * fast the machine streams rows. */
	args[n++] = "--compress-level=12";
	if (extra1)
		args[n++] = extra1;
	if (extra2)
		args[n++] = extra2;
	args[n] = NULL;
	it_mdlsafe_start(c, args, NULL);
}

/* Restores a backup's database by hand, the emergency way docs/formats.md gives,
 * into `target`, and compares every table with CHECKSUM TABLE. `check`, if
 * not NULL, is a query on the copy that must return `want`. */
static void restore_by_hand_and_compare(const char *dir, const char *target, const char *const *tables,
					const char *check, const char *want)
{
	MYSQL *m = it_connect();
	char cmd[2048];

	it_exec(m, "DROP DATABASE IF EXISTS `%s`", target);
	it_exec(m, "CREATE DATABASE `%s`", target);
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd '%s/" DB "'; "
		 "{ [ ! -f sequences.sql ] || cat sequences.sql; "
		 "for f in *.schema.sql; do [ \"$f\" = schema.sql ] || cat \"$f\"; done; } | mariadb --defaults-file='%s' '%s'; "
		 "for f in *.sql.zst; do zstdcat \"$f\"; done | mariadb --defaults-file='%s' '%s'; "
		 "for f in *.triggers.sql routines.sql views.sql; do [ -f \"$f\" ] && cat \"$f\"; done | "
		 "mariadb --defaults-file='%s' '%s'",
		 dir, it_cnf(), target, it_cnf(), target, it_cnf(), target);
	if (system(cmd) != 0)
		fail_msg("restoring %s by hand failed", dir);
	for (size_t i = 0; tables[i]; i++) {
		MYSQL_RES *r = NULL;
		MYSQL_ROW row;
		char *a, *b;

		/* CHECKSUM TABLE returns (name, checksum), one row per table. */
		snprintf(cmd, sizeof(cmd), "CHECKSUM TABLE " DB ".`%s`, `%s`.`%s`", tables[i], target, tables[i]);
		if (mysql_query(m, cmd) || !(r = mysql_store_result(m)))
			fail_msg("%s: %s", cmd, mysql_error(m));
		row = mysql_fetch_row(r);
		a = row && row[1] ? strdup(row[1]) : NULL;
		row = mysql_fetch_row(r);
		b = row && row[1] ? strdup(row[1]) : NULL;
		mysql_free_result(r);
		assert_non_null(a);
		assert_non_null(b);
		if (strcmp(a, b))
			fail_msg("table %s differs after restore: checksum %s vs %s", tables[i], a, b);
		free(a);
		free(b);
	}
	if (check) {
		char *got = it_value(m, "%s", check);
		if (!got || strcmp(got, want))
			fail_msg("%s: got %s, want %s", check, got ? got : "NULL", want);
		free(got);
	}
	it_exec(m, "DROP DATABASE `%s`", target);
	mysql_close(m);
}

static void test_backup_restores_by_hand_identical_and_verifies(void **state)
{
	MYSQL *m = it_connect();
	struct it_run r;
	char dir[512], file[700], *text;
	const char *tables[] = { "t1", "t2", "types", "tickets", NULL };
	json_t *j, *cp;

	(void)state;
	it_exec(m, "DROP TABLE IF EXISTS " DB ".types");
	it_exec(m, "CREATE TABLE " DB ".types (id INT PRIMARY KEY, s VARCHAR(50) CHARACTER SET utf8mb4, "
		   "b VARBINARY(20), bl BLOB, j JSON, d DATETIME(6), bt BIT(9), dec1 DECIMAL(20,6), "
		   "g POINT, gen INT AS (id * 2) VIRTUAL)");
	it_exec(m, "INSERT INTO " DB ".types (id, s, b, bl, j, d, bt, dec1, g) VALUES "
		   "(1, 'tab\\there ''quote'' \\\\ \\n 😀', 0x00FF0A0D1A27, REPEAT(0x00, 10), '{\"a\": [1, 2]}', "
		   "'2026-11-21 10:11:12.123456', b'101010101', -12345.678901, POINT(1.5, -2)), "
		   "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)");
	/* Applications create their objects from inside their database. */
	it_exec(m, "USE " DB);
	it_exec(m, "CREATE OR REPLACE TRIGGER t1_bi BEFORE INSERT ON t1 FOR EACH ROW SET NEW.v = NEW.v + 1000");
	it_exec(m, "CREATE OR REPLACE VIEW v1 AS SELECT id FROM t1 WHERE id < 5");
	/* A sequence in use, NOCACHE so its next value (25) is exact, and a
	 * table whose DEFAULT draws from it. */
	it_exec(m, "CREATE OR REPLACE SEQUENCE ticket_ids START WITH 10 INCREMENT BY 3 NOCACHE");
	it_exec(m, "CREATE OR REPLACE TABLE tickets (id BIGINT NOT NULL DEFAULT NEXT VALUE FOR ticket_ids PRIMARY KEY, "
		   "what VARCHAR(10))");
	it_exec(m, "DO NEXTVAL(ticket_ids), NEXTVAL(ticket_ids)");
	it_exec(m, "INSERT INTO tickets (what) VALUES ('a'), ('b'), ('c')");

	out_dir(dir, sizeof(dir), "roundtrip");
	it_mdlsafe(&r, true, "backup", "-o", dir, "-B", DB, "--exclude", DB ".big", "--json", NULL);
	if (r.status != 0)
		fail_msg("backup failed (%d): %s", r.status, r.err);
	j = it_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
	cp = json_object_get(j, "consistency_point");
	/* Binary logging is on in the sandbox: the point is recorded. */
	assert_non_null(json_string_value(json_object_get(cp, "binlog_file")));
	assert_non_null(json_string_value(json_object_get(cp, "gtid")));
	{
		/* Nothing was written since: the recorded point is the binlog's end. */
		char *gtid = it_value(m, "SELECT @@gtid_binlog_pos");
		assert_non_null(gtid);
		assert_string_equal(json_string_value(json_object_get(cp, "gtid")), gtid);
		free(gtid);
	}
	json_decref(j);
	it_run_release(&r);

	it_mdlsafe(&r, false, "verify", dir, NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "OK"));
	it_run_release(&r);

	text = sequences_file(dir);
	assert_non_null(strstr(text, "CREATE SEQUENCE `ticket_ids` start with 10 "));
	assert_non_null(strstr(text, "DO SETVAL(`ticket_ids`, 25, 0, 0);"));
	free(text);
	/* The table names its sequence unqualified: the copy's own. */
	snprintf(file, sizeof(file), "%s/" DB "/tickets.schema.sql", dir);
	text = read_file(file);
	assert_non_null(strstr(text, "DEFAULT nextval(`ticket_ids`)"));
	free(text);

	restore_by_hand_and_compare(dir, DB "_restored", tables, "SELECT NEXTVAL(" DB "_restored.ticket_ids)", "25");
	it_exec(m, "DROP TABLE " DB ".tickets");
	it_exec(m, "DROP SEQUENCE " DB ".ticket_ids");
	it_exec(m, "DROP TABLE " DB ".types");
	it_exec(m, "DROP VIEW " DB ".v1");
	it_exec(m, "DROP TRIGGER " DB ".t1_bi");
	mysql_close(m);
}

/*
 * Seed 003: a table the backup has already read must not stay locked until
 * the backup ends. With the watchdog out of the way (a budget of minutes),
 * only ROLLBACK TO SAVEPOINT with sql_log_bin=0 can release t1: the ALTER on
 * it must finish while the backup is still reading the big table.
 */
static void test_seed003_alter_on_already_dumped_table_does_not_wait_for_backup(void **state)
{
	MYSQL *m = it_connect();
	struct it_child c;
	struct it_run r;
	char dir[512];

	(void)state;
	out_dir(dir, sizeof(dir), "seed003");
	start_backup(&c, dir, "-j2", "--max-stall=600000");
	wait_for_worker_reading(m, "big", 30);
	it_sleep_ms(300); /* the other worker has long finished t1 and t2 */
	it_exec(m, "SET STATEMENT max_statement_time = 20 FOR ALTER TABLE " DB ".t1 ADD COLUMN seed003 INT");
	/* The proof: t1 was released while the snapshot is still open and in
	 * use. Were it held to the end, the ALTER would only have returned
	 * after the big table was read. */
	if (!worker_reading(m, "big"))
		fail_msg("the ALTER on t1 returned only after the backup stopped reading the big table: t1 stayed locked (seed 003)");
	it_mdlsafe_finish(&c, 0, 120, &r);
	if (r.status != 0)
		fail_msg("backup failed (%d): %s", r.status, r.err);
	it_run_release(&r);
	it_exec(m, "ALTER TABLE " DB ".t1 DROP COLUMN seed003");
	mysql_close(m);
}

/* The budget of a backup started without --max-stall. */
#define DEFAULT_STALL_S 0.5

/* A DDL run from its own connection, and how long it took to return. */
struct timed_ddl {
	pthread_t th;
	const char *sql;
	unsigned err;
	double seconds;
};

static void *timed_ddl_main(void *arg)
{
	struct timed_ddl *d = arg;
	MYSQL *m = it_connect();
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	if (mysql_query(m, d->sql))
		d->err = mysql_errno(m);
	clock_gettime(CLOCK_MONOTONIC, &b);
	d->seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	mysql_close(m);
	return NULL;
}

/* A DDL on the table being read: the worker steps aside, the ALTER goes
 * through while the backup runs, and the table is read again afterwards. */
static void test_ddl_on_table_being_dumped_goes_through_and_table_is_reread(void **state)
{
	MYSQL *m = it_connect();
	struct timed_ddl d = { .sql = "SET STATEMENT max_statement_time = 20 FOR ALTER TABLE " DB ".big ADD COLUMN ddl_test INT" };
	struct it_child c;
	struct it_run r;
	char dir[512], path[700];
	json_t *man, *t;
	FILE *f;
	char schema[4096];
	size_t n;

	(void)state;
	out_dir(dir, sizeof(dir), "ddl-yield");
	start_backup(&c, dir, "-j1", NULL);
	wait_for_worker_reading(m, "big", 30);
	pthread_create(&d.th, NULL, timed_ddl_main, &d);
	pthread_join(d.th, NULL);
	assert_int_equal(d.err, 0);
	it_assert_within_budget(d.seconds, DEFAULT_STALL_S, "the ALTER on the table being read");
	if (!child_running(c.pid))
		fail_msg("the backup ended before the ALTER returned: nothing proves the ALTER did not wait for it");
	it_mdlsafe_finish(&c, 0, 180, &r);
	if (r.status != 0)
		fail_msg("backup failed (%d): %s", r.status, r.err);
	if (!strstr(r.err, "stepped aside"))
		fail_msg("the worker reading big did not step aside for the ALTER; stderr: %s", r.err);
	it_run_release(&r);

	man = load_manifest(dir);
	t = manifest_table(man, DB, "big");
	assert_non_null(t);
	assert_string_equal(json_string_value(json_object_get(t, "consistency")), "own_snapshot_after_ddl");
	assert_true(json_integer_value(json_object_get(t, "yields")) >= 1);
	assert_int_equal(json_integer_value(json_object_get(t, "rows")), BIG_ROWS);
	json_decref(man);
	/* The definition was read again with the rows: it has the new column. */
	snprintf(path, sizeof(path), "%s/" DB "/big.schema.sql", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(schema, 1, sizeof(schema) - 1, f);
	schema[n] = '\0';
	fclose(f);
	assert_non_null(strstr(schema, "ddl_test"));

	it_mdlsafe(&r, false, "verify", dir, NULL);
	assert_int_equal(r.status, 0);
	it_run_release(&r);
	it_exec(m, "ALTER TABLE " DB ".big DROP COLUMN ddl_test");
	mysql_close(m);
}

static void test_on_ddl_abort_fails_cleanly_and_lets_ddl_through(void **state)
{
	MYSQL *m = it_connect();
	struct timed_ddl d = { .sql = "SET STATEMENT max_statement_time = 20 FOR ALTER TABLE " DB ".big ADD COLUMN ddl_abort INT" };
	struct it_child c;
	struct it_run r;
	char dir[512], partial[600];

	(void)state;
	out_dir(dir, sizeof(dir), "ddl-abort");
	start_backup(&c, dir, "-j1", "--on-ddl=abort");
	wait_for_worker_reading(m, "big", 30);
	pthread_create(&d.th, NULL, timed_ddl_main, &d);
	pthread_join(d.th, NULL);
	assert_int_equal(d.err, 0);
	it_assert_within_budget(d.seconds, DEFAULT_STALL_S, "the ALTER on the table being read (--on-ddl=abort)");
	it_mdlsafe_finish(&c, 0, 60, &r);
	assert_int_equal(r.status, 6);
	assert_non_null(strstr(r.err, "--on-ddl abort"));
	assert_false(exists(dir));
	it_run_release(&r);
	snprintf(partial, sizeof(partial), "%s.partial", dir);
	it_mdlsafe(&r, false, "verify", dir, NULL);
	assert_int_equal(r.status, 10);
	it_run_release(&r);
	it_exec(m, "ALTER TABLE " DB ".big DROP COLUMN ddl_abort");
	mysql_close(m);
}

/* Seed 000: an application transaction holds a write open while the backup
 * runs. Writers elsewhere are never blocked, and the backup completes,
 * without the uncommitted row. */
static void test_seed000_open_write_transaction_blocks_nothing(void **state)
{
	MYSQL *app = it_connect(), *other = it_connect();
	struct it_child c;
	struct it_run r;
	char dir[512];
	json_t *man;

	(void)state;
	it_exec(app, "BEGIN");
	it_exec(app, "INSERT INTO " DB ".t1 VALUES (9999, 9999)");
	out_dir(dir, sizeof(dir), "seed000");
	start_backup(&c, dir, "-j2", NULL);
	wait_for_worker_reading(other, "big", 30);
	for (int i = 0; i < 20; i++)
		it_exec(other, "SET STATEMENT max_statement_time = 2 FOR INSERT INTO " DB ".t2 VALUES (%d, 0)", 100 + i);
	it_mdlsafe_finish(&c, 0, 120, &r);
	if (r.status != 0)
		fail_msg("backup failed (%d): %s", r.status, r.err);
	it_run_release(&r);
	man = load_manifest(dir);
	assert_int_equal(json_integer_value(json_object_get(manifest_table(man, DB, "t1"), "rows")), 10);
	json_decref(man);
	it_exec(app, "ROLLBACK");
	it_exec(other, "DELETE FROM " DB ".t2 WHERE id >= 100");
	mysql_close(app);
	mysql_close(other);
}

/* Seed 000 also had six overlapping runs and called a broken one a success. */
static void test_second_backup_refuses_and_killed_backup_leaves_no_directory(void **state)
{
	MYSQL *m = it_connect();
	struct it_child c;
	struct it_run r;
	char dir[512], dir2[512];

	(void)state;
	out_dir(dir, sizeof(dir), "first");
	out_dir(dir2, sizeof(dir2), "second");
	start_backup(&c, dir, "-j1", NULL);
	wait_for_worker_reading(m, "big", 30);

	it_mdlsafe(&r, true, "backup", "-o", dir2, "-B", DB, NULL);
	assert_int_equal(r.status, 9);
	assert_non_null(strstr(r.err, "another mdlsafe backup is running"));
	it_run_release(&r);
	it_mdlsafe(&r, true, "backup", "-o", dir, "-B", DB, NULL);
	assert_int_equal(r.status, 9);
	it_run_release(&r);

	it_mdlsafe_finish(&c, SIGKILL, 30, &r);
	assert_int_equal(r.status, 128 + SIGKILL);
	it_run_release(&r);
	assert_false(exists(dir));
	it_mdlsafe(&r, false, "verify", dir, NULL);
	assert_int_equal(r.status, 10);
	assert_non_null(strstr(r.err, "unfinished"));
	it_run_release(&r);
	/* The next run clears the remains and succeeds. */
	it_mdlsafe(&r, true, "backup", "-o", dir, "-B", DB, "--exclude", DB ".big", NULL);
	assert_int_equal(r.status, 0);
	it_run_release(&r);
	mysql_close(m);
}

static void test_verify_names_a_corrupted_chunk(void **state)
{
	struct it_run r;
	char dir[512], file[700];
	int fd;
	char byte;

	(void)state;
	out_dir(dir, sizeof(dir), "corrupt");
	it_mdlsafe(&r, true, "backup", "-o", dir, "-B", DB, "--exclude", DB ".big", NULL);
	assert_int_equal(r.status, 0);
	it_run_release(&r);
	snprintf(file, sizeof(file), "%s/" DB "/t2.00000.sql.zst", dir);
	fd = open(file, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &byte, 1, 40), 1);
	byte ^= 0x55;
	assert_int_equal(pwrite(fd, &byte, 1, 40), 1);
	close(fd);
	it_mdlsafe(&r, false, "verify", dir, NULL);
	assert_int_equal(r.status, 10);
	assert_non_null(strstr(r.err, "t2.00000.sql.zst"));
	it_run_release(&r);
}

static void test_exclude_leaves_tables_out_and_manifest_says_so(void **state)
{
	struct it_run r;
	char dir[512], file[700];
	json_t *man, *ex;

	(void)state;
	out_dir(dir, sizeof(dir), "exclude");
	it_mdlsafe(&r, true, "backup", "-o", dir, "-B", DB, "--exclude", DB ".b*", "--exclude", "*.t2", NULL);
	assert_int_equal(r.status, 0);
	it_run_release(&r);
	man = load_manifest(dir);
	ex = json_object_get(man, "excluded");
	assert_int_equal(json_array_size(ex), 2);
	assert_null(manifest_table(man, DB, "big"));
	assert_null(manifest_table(man, DB, "t2"));
	assert_non_null(manifest_table(man, DB, "t1"));
	json_decref(man);
	snprintf(file, sizeof(file), "%s/" DB "/t2.00000.sql.zst", dir);
	assert_false(exists(file));
}

static bool has_string(json_t *array, const char *want)
{
	size_t i;
	json_t *v;

	json_array_foreach(array, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), want))
			return true;
	return false;
}

/* Sequences are chosen as tables are: --exclude leaves one out and the
 * manifest says so; --tables picks one, and brings its database along
 * even when none of its tables is chosen. */
static void test_sequences_are_chosen_like_tables(void **state)
{
	static const char *const args[2][6] = {
		{ "-B", DB, "--exclude", DB ".big", "--exclude", DB ".skip_ids" },
		{ "--tables", DB ".keep_ids" },
	};
	MYSQL *m = it_connect();
	struct it_run r;
	char dir[512], *text;
	json_t *man;

	(void)state;
	it_exec(m, "CREATE OR REPLACE SEQUENCE " DB ".keep_ids");
	it_exec(m, "CREATE OR REPLACE SEQUENCE " DB ".skip_ids");
	for (int i = 0; i < 2; i++) {
		const char *const *a = args[i];

		out_dir(dir, sizeof(dir), i ? "seqonly" : "seqfilter");
		it_mdlsafe(&r, true, "backup", "-o", dir, a[0], a[1], a[2], a[3], a[4], a[5], NULL);
		if (r.status != 0)
			fail_msg("backup %s %s failed (%d): %s", a[0], a[1], r.status, r.err);
		it_run_release(&r);
		text = sequences_file(dir);
		assert_non_null(strstr(text, "CREATE SEQUENCE `keep_ids`"));
		assert_null(strstr(text, "skip_ids"));
		free(text);
		man = load_manifest(dir);
		if (i == 0)
			assert_true(has_string(json_object_get(man, "excluded"), DB ".skip_ids"));
		else
			assert_int_equal(json_array_size(json_object_get(json_array_get(json_object_get(man, "databases"), 0),
									 "tables")),
					 0);
		json_decref(man);
	}
	it_exec(m, "DROP SEQUENCE " DB ".keep_ids, " DB ".skip_ids");
	mysql_close(m);
}

static void test_chunked_table_round_trips(void **state)
{
	struct it_run r;
	char dir[512];
	json_t *man, *t;
	const char *tables[] = { "big", NULL };

	(void)state;
	out_dir(dir, sizeof(dir), "chunks");
	/* At a fast level too: the files must still load with zstdcat. */
	it_mdlsafe(&r, true, "backup", "-o", dir, "-B", DB, "--chunk-rows", "300000", "-j", "2",
		   "--compress-level", "-10", NULL);
	if (r.status != 0)
		fail_msg("backup failed (%d): %s", r.status, r.err);
	it_run_release(&r);
	man = load_manifest(dir);
	t = manifest_table(man, DB, "big");
	assert_true(json_array_size(json_object_get(t, "chunks")) >= 3);
	assert_int_equal(json_integer_value(json_object_get(t, "rows")), BIG_ROWS);
	json_decref(man);
	restore_by_hand_and_compare(dir, DB "_chunks", tables, NULL, NULL);
}

/* A backup that cannot proceed says who blocks it and stops at --timeout,
 * keeping nothing. Here a session sits in LOCK TABLES ... WRITE, which
 * BACKUP STAGE must wait for. */
static void test_blocked_backup_names_the_blocker_and_stops_at_timeout(void **state)
{
	MYSQL *admin = it_connect(), *locker = it_connect();
	struct it_run r;
	char dir[512], want[64];

	(void)state;
	it_set_sources(admin, true, false);
	it_exec(locker, "LOCK TABLES " DB ".t1 WRITE");
	out_dir(dir, sizeof(dir), "blocked");
	it_mdlsafe(&r, true, "backup", "-o", dir, "-B", DB, "--exclude", DB ".big", "--timeout", "2", NULL);
	assert_int_equal(r.status, 11);
	snprintf(want, sizeof(want), "root blocker: %lu", it_id(locker));
	if (!strstr(r.err, want))
		fail_msg("expected '%s' in: %s", want, r.err);
	assert_false(exists(dir));
	it_run_release(&r);
	it_exec(locker, "UNLOCK TABLES");
	it_set_sources(admin, false, false);
	mysql_close(locker);
	mysql_close(admin);
}

static void test_non_transactional_tables_are_read_under_own_lock_and_said_so(void **state)
{
	MYSQL *m = it_connect();
	struct it_run r;
	char dir[512];
	json_t *man, *t;

	(void)state;
	it_exec(m, "CREATE OR REPLACE TABLE " DB ".legacy (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=MyISAM");
	it_exec(m, "INSERT INTO " DB ".legacy VALUES (1, 'a'), (2, 'b'), (3, NULL)");
	out_dir(dir, sizeof(dir), "myisam");
	it_mdlsafe(&r, true, "backup", "-o", dir, "-B", DB, "--exclude", DB ".big", NULL);
	if (r.status != 0)
		fail_msg("backup failed (%d): %s", r.status, r.err);
	assert_non_null(strstr(r.err, "non-transactional"));
	assert_non_null(strstr(r.err, DB ".legacy (MyISAM)"));
	it_run_release(&r);
	man = load_manifest(dir);
	t = manifest_table(man, DB, "legacy");
	assert_string_equal(json_string_value(json_object_get(t, "consistency")), "own_lock");
	assert_int_equal(json_integer_value(json_object_get(t, "rows")), 3);
	assert_string_equal(json_string_value(json_object_get(manifest_table(man, DB, "t1"), "consistency")), "snapshot");
	json_decref(man);
	/* The table lock was released: writes go on. */
	it_exec(m, "SET STATEMENT max_statement_time = 2 FOR INSERT INTO " DB ".legacy VALUES (4, 'd')");
	it_exec(m, "DROP TABLE " DB ".legacy");
	mysql_close(m);
}

static void test_no_data_writes_definitions_only(void **state)
{
	struct it_run r;
	char dir[512], file[700];
	json_t *man;

	(void)state;
	out_dir(dir, sizeof(dir), "nodata");
	it_mdlsafe(&r, true, "backup", "-o", dir, "-B", DB, "--no-data", NULL);
	assert_int_equal(r.status, 0);
	it_run_release(&r);
	snprintf(file, sizeof(file), "%s/" DB "/big.schema.sql", dir);
	assert_true(exists(file));
	snprintf(file, sizeof(file), "%s/" DB "/big.00000.sql.zst", dir);
	assert_false(exists(file));
	man = load_manifest(dir);
	assert_int_equal(json_array_size(json_object_get(manifest_table(man, DB, "big"), "chunks")), 0);
	json_decref(man);
	it_mdlsafe(&r, false, "verify", dir, NULL);
	assert_int_equal(r.status, 0);
	it_run_release(&r);
}

static void test_usage_errors(void **state)
{
	struct it_run r;

	(void)state;
	it_mdlsafe(&r, true, "backup", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "-o DIR"));
	it_run_release(&r);
	it_mdlsafe(&r, true, "backup", "-o", "/tmp/x", "--on-ddl", "maybe", NULL);
	assert_int_equal(r.status, 2);
	it_run_release(&r);
	const char *bad_levels[] = { "-0", "20", "-1001", "-x", "--5" };
	for (size_t i = 0; i < sizeof(bad_levels) / sizeof(*bad_levels); i++) {
		it_mdlsafe(&r, true, "backup", "-o", "/tmp/x", "--compress-level", bad_levels[i], NULL);
		assert_int_equal(r.status, 2);
		assert_non_null(strstr(r.err, "-1000..-1 (fast) or 1..19"));
		it_run_release(&r);
	}
	it_mdlsafe(&r, false, "verify", "/nonexistent/backup", NULL);
	assert_int_equal(r.status, 2);
	it_run_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backup_restores_by_hand_identical_and_verifies),
		cmocka_unit_test(test_seed003_alter_on_already_dumped_table_does_not_wait_for_backup),
		cmocka_unit_test(test_ddl_on_table_being_dumped_goes_through_and_table_is_reread),
		cmocka_unit_test(test_on_ddl_abort_fails_cleanly_and_lets_ddl_through),
		cmocka_unit_test(test_seed000_open_write_transaction_blocks_nothing),
		cmocka_unit_test(test_second_backup_refuses_and_killed_backup_leaves_no_directory),
		cmocka_unit_test(test_verify_names_a_corrupted_chunk),
		cmocka_unit_test(test_exclude_leaves_tables_out_and_manifest_says_so),
		cmocka_unit_test(test_sequences_are_chosen_like_tables),
		cmocka_unit_test(test_chunked_table_round_trips),
		cmocka_unit_test(test_blocked_backup_names_the_blocker_and_stops_at_timeout),
		cmocka_unit_test(test_non_transactional_tables_are_read_under_own_lock_and_said_so),
		cmocka_unit_test(test_no_data_writes_definitions_only),
		cmocka_unit_test(test_usage_errors),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
