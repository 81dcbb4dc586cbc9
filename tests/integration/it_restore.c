/* `mdlsafe restore` against the sandbox: every type comes back with the same
 * CHECKSUM TABLE, objects and sequences work afterwards, live tables are
 * replaced without a lock request outliving the budget, and a killed
 * restore resumes. */
#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SRC "it_restore_src"
#define DST "it_restore_dst"
#define BIG "it_restore_big"

static char workdir[256];
static char backup_dir[320];      /* SRC, chunked */
static char big_dir[320];         /* BIG: enough chunks to kill a restore between two */
static char big1_dir[320];        /* BIG in one chunk: a load transaction that lasts seconds */

static void must_run(const char *cmd)
{
	if (system(cmd) != 0)
		fail_msg("%s failed", cmd);
}

static void backup(const char *dir, const char *db, const char *chunk_rows)
{
	struct it_run r;

	it_mdlsafe(&r, true, "backup", "-o", dir, "-B", db, "--chunk-rows", chunk_rows, NULL);
	if (r.status != 0)
		fail_msg("backup of %s: exit %d: %s", db, r.status, r.err);
	it_run_release(&r);
}

/* The all-types table, a chunked table with a secondary index, a
 * MyISAM table, a sequence a table's DEFAULT uses, and every kind of
 * object, one with a definer that will not exist at restore time. */
static void build_source(MYSQL *m)
{
	it_fill_all_types(m, SRC);
	it_exec(m, "CREATE TABLE orders (id INT PRIMARY KEY, user_id INT NOT NULL, amount DECIMAL(10,2), "
		   "note VARCHAR(40), KEY k_user (user_id)) ENGINE=InnoDB");
	it_exec(m, "INSERT INTO orders SELECT seq, seq %% 97, seq / 7, CONCAT('n', seq) FROM seq_1_to_5000");
	it_exec(m, "CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(20)) ENGINE=MyISAM");
	it_exec(m, "INSERT INTO audit (what) VALUES ('a'), ('b')");
	it_exec(m, "CREATE TRIGGER orders_ai AFTER INSERT ON orders FOR EACH ROW INSERT INTO audit (what) VALUES ('ins')");
	it_exec(m, "CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2");
	it_exec(m, "CREATE PROCEDURE count_orders(OUT n INT) BEGIN SELECT COUNT(*) INTO n FROM orders; END");
	it_exec(m, "CREATE VIEW big_orders AS SELECT id, twice(user_id) AS u2 FROM orders WHERE amount > 100");
	it_exec(m, "CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DO DELETE FROM audit WHERE id < 0");
	it_exec(m, "CREATE USER IF NOT EXISTS 'it_gone'@'localhost'");
	it_exec(m, "CREATE DEFINER = 'it_gone'@'localhost' SQL SECURITY DEFINER VIEW gone_view AS SELECT 1 AS one");
	/* NOCACHE: what the backup reads is exactly the next value, 1035. */
	it_exec(m, "CREATE SEQUENCE ticket_ids START WITH 1000 INCREMENT BY 7 NOCACHE");
	it_exec(m, "CREATE TABLE tickets (id BIGINT NOT NULL DEFAULT NEXT VALUE FOR ticket_ids PRIMARY KEY, "
		   "what VARCHAR(20)) ENGINE=InnoDB");
	it_exec(m, "DO NEXTVAL(ticket_ids), NEXTVAL(ticket_ids)");
	it_exec(m, "INSERT INTO tickets (what) VALUES ('a'), ('b'), ('c')");
}

static int group_setup(void **state)
{
	MYSQL *m = it_connect();
	char cmd[400];

	(void)state;
	snprintf(workdir, sizeof(workdir), "/tmp/mdlsafe-it-restore-XXXXXX");
	if (!mkdtemp(workdir))
		return -1;
	snprintf(backup_dir, sizeof(backup_dir), "%s/src", workdir);
	snprintf(big_dir, sizeof(big_dir), "%s/big", workdir);
	snprintf(big1_dir, sizeof(big1_dir), "%s/big1", workdir);
	build_source(m);
	it_exec(m, "DROP DATABASE IF EXISTS " BIG);
	it_exec(m, "CREATE DATABASE " BIG);
	it_exec(m, "CREATE TABLE " BIG ".t (id INT PRIMARY KEY, pad VARCHAR(200), KEY k_pad (pad(8))) ENGINE=InnoDB");
	it_exec(m, "INSERT INTO " BIG ".t SELECT seq, REPEAT(CHAR(65 + seq %% 26), 150) FROM " SRC ".seq_1_to_300000");
	it_exec(m, "CREATE SEQUENCE " BIG ".ids NOCACHE");
	mysql_close(m);
	backup(backup_dir, SRC, "1000");
	backup(big_dir, BIG, "10000");
	backup(big1_dir, BIG, "100000000");
	/* The definer is gone by the time anyone restores. */
	m = it_connect();
	it_exec(m, "DROP USER 'it_gone'@'localhost'");
	mysql_close(m);
	snprintf(cmd, sizeof(cmd), "test -f '%s/manifest.json'", backup_dir);
	must_run(cmd);
	return 0;
}

static int group_teardown(void **state)
{
	MYSQL *m = it_connect();
	char cmd[300];

	(void)state;
	it_exec(m, "DROP DATABASE IF EXISTS " SRC);
	it_exec(m, "DROP DATABASE IF EXISTS " DST);
	it_exec(m, "DROP DATABASE IF EXISTS " BIG);
	it_exec(m, "DROP DATABASE IF EXISTS " BIG "_r");
	mysql_close(m);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* `name` with its backticks doubled, for SQL built by the test. */
static char *q(const char *name)
{
	char *out = malloc(2 * strlen(name) + 3), *o = out;

	*o++ = '`';
	for (; *name; name++) {
		if (*name == '`')
			*o++ = '`';
		*o++ = *name;
	}
	*o++ = '`';
	*o = '\0';
	return out;
}

/* CHECKSUM TABLE db.table EXTENDED (names as they are); caller frees. */
static char *checksum(MYSQL *m, const char *db, const char *table)
{
	char *qd = q(db), *qt = q(table), *sql = malloc(strlen(qd) + strlen(qt) + 64), *out;
	MYSQL_RES *r;
	MYSQL_ROW row;

	sprintf(sql, "CHECKSUM TABLE %s.%s EXTENDED", qd, qt);
	if (mysql_query(m, sql) || !(r = mysql_store_result(m)))
		fail_msg("%s: %s", sql, mysql_error(m));
	row = mysql_fetch_row(r);
	if (!row || !row[1])
		fail_msg("%s: no checksum (table missing?)", sql);
	out = strdup(row[1]);
	mysql_free_result(r);
	free(sql);
	free(qd);
	free(qt);
	return out;
}

static void assert_same(MYSQL *m, const char *a, const char *b, const char *table)
{
	char *x = checksum(m, a, table), *y = checksum(m, b, table);

	if (strcmp(x, y))
		fail_msg("CHECKSUM TABLE %s: %s in %s, %s in %s", table, x, a, y, b);
	free(x);
	free(y);
}

static void assert_value(MYSQL *m, const char *want, const char *sql)
{
	char *v = it_value(m, "%s", sql);

	if (!v || strcmp(v, want))
		fail_msg("%s: got %s, want %s", sql, v ? v : "NULL", want);
	free(v);
}

/* Checksums of every table and the objects at work in the copy. */
static void assert_restored(MYSQL *m, const char *db)
{
	char sql[300];

	assert_same(m, SRC, db, "all types");
	assert_same(m, SRC, db, "orders");
	assert_same(m, SRC, db, "audit");
	/* The secondary index, built after the rows, is there. */
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '%s' "
				   "AND TABLE_NAME = 'orders' AND INDEX_NAME = 'k_user'", db);
	assert_value(m, "1", sql);
	snprintf(sql, sizeof(sql), "SELECT `%s`.twice(21)", db);
	assert_value(m, "42", sql);
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM `%s`.big_orders", db);
	assert_value(m, "4300", sql);
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '%s'", db);
	assert_value(m, "1", sql);
	/* The trigger fires in the copy. */
	it_exec(m, "INSERT INTO `%s`.orders VALUES (999999, 1, 1, 'x')", db);
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM `%s`.audit WHERE what = 'ins'", db);
	assert_value(m, "1", sql);
	it_exec(m, "DELETE FROM `%s`.orders WHERE id = 999999", db);
	it_exec(m, "DELETE FROM `%s`.audit WHERE what = 'ins'", db);
	/* The view whose definer is gone works: it was created as root. */
	snprintf(sql, sizeof(sql), "SELECT one FROM `%s`.gone_view", db);
	assert_value(m, "1", sql);
	it_exec(m, "CALL `%s`.count_orders(@n)", db);
	assert_value(m, "5000", "SELECT @n");
	/* The sequence hands out what the original would have next, and the
	 * table's DEFAULT draws from the copy's sequence, not the original's. */
	assert_same(m, SRC, db, "tickets");
	snprintf(sql, sizeof(sql), "SELECT NEXTVAL(`%s`.ticket_ids)", db);
	assert_value(m, "1035", sql);
	it_exec(m, "INSERT INTO `%s`.tickets (what) VALUES ('d')", db);
	snprintf(sql, sizeof(sql), "SELECT id FROM `%s`.tickets WHERE what = 'd'", db);
	assert_value(m, "1042", sql);
	assert_value(m, "1035", "SELECT next_not_cached_value FROM " SRC ".ticket_ids");
	it_exec(m, "DELETE FROM `%s`.tickets WHERE what = 'd'", db);
}

/* The manifest lists the sequences file, which creates the sequence and
 * sets its next value. */
static void test_backup_writes_sequences_with_their_next_value(void **state)
{
	char path[400], text[4096];
	json_error_t je;
	json_t *man, *db;
	const char *file;
	FILE *f;
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/manifest.json", backup_dir);
	man = json_load_file(path, 0, &je);
	if (!man)
		fail_msg("%s: %s", path, je.text);
	db = json_array_get(json_object_get(man, "databases"), 0);
	assert_string_equal(json_string_value(json_object_get(db, "name")), SRC);
	file = json_string_value(json_object_get(db, "sequences_file"));
	assert_non_null(file);
	assert_string_equal(file, SRC "/sequences.sql");
	snprintf(path, sizeof(path), "%s/%s", backup_dir, file);
	json_decref(man);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_non_null(strstr(text, "CREATE SEQUENCE `ticket_ids` start with 1000"));
	assert_non_null(strstr(text, "DO SETVAL(`ticket_ids`, 1035, 0, 0);"));
}

static void test_round_trip_of_every_type_and_object_under_another_name(void **state)
{
	MYSQL *m = it_connect();
	struct it_run r;
	json_t *j;

	(void)state;
	it_exec(m, "DROP DATABASE IF EXISTS " DST);
	it_mdlsafe(&r, true, "restore", backup_dir, "--rename", SRC ":" DST, "-j", "3", "--verify", "--json", NULL);
	if (r.status != 0)
		fail_msg("restore: exit %d: %s", r.status, r.err);
	j = it_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
	assert_true(json_is_true(json_object_get(json_object_get(j, "verify"), "identical")));
	assert_int_equal(json_integer_value(json_object_get(j, "definer_fallbacks")), 1);
	assert_non_null(strstr(r.err, "it_gone"));
	assert_non_null(strstr(r.err, "does not exist on this server"));
	json_decref(j);
	it_run_release(&r);
	assert_restored(m, DST);
	/* The journal is gone after a success. */
	{
		char path[400];
		struct stat sb;
		snprintf(path, sizeof(path), "%s.restore-journal", backup_dir);
		assert_int_not_equal(stat(path, &sb), 0);
	}
	it_exec(m, "DROP DATABASE " DST);
	mysql_close(m);
}

static void test_round_trip_with_one_job(void **state)
{
	MYSQL *m = it_connect();
	struct it_run r;

	(void)state;
	it_exec(m, "DROP DATABASE IF EXISTS " DST);
	it_mdlsafe(&r, true, "restore", backup_dir, "--rename", SRC ":" DST, "-j", "1", NULL);
	if (r.status != 0)
		fail_msg("restore -j 1: exit %d: %s", r.status, r.err);
	it_run_release(&r);
	assert_restored(m, DST);
	it_exec(m, "DROP DATABASE " DST);
	mysql_close(m);
}

/* A restore into DST that must refuse before any change, naming `what`. */
static void assert_refused(const char *what)
{
	struct it_run r;

	it_mdlsafe(&r, true, "restore", backup_dir, "--rename", SRC ":" DST, NULL);
	assert_int_equal(r.status, 2);
	if (!strstr(r.err, what) || !strstr(r.err, "nothing was changed"))
		fail_msg("the refusal does not name %s and say nothing was changed: %s", what, r.err);
	it_run_release(&r);
}

static void test_if_exists_fail_refuses_and_changes_nothing(void **state)
{
	MYSQL *m = it_connect();

	(void)state;
	it_exec(m, "DROP DATABASE IF EXISTS " DST);
	it_exec(m, "CREATE DATABASE " DST);
	it_exec(m, "CREATE TABLE " DST ".orders (id INT PRIMARY KEY)");
	it_exec(m, "INSERT INTO " DST ".orders VALUES (7)");
	assert_refused(DST ".orders");
	assert_value(m, "7", "SELECT GROUP_CONCAT(id) FROM " DST ".orders");
	assert_value(m, "1", "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '" DST "'");
	/* A sequence of the same name is in the way too, and keeps its state. */
	it_exec(m, "DROP TABLE " DST ".orders");
	it_exec(m, "CREATE SEQUENCE " DST ".ticket_ids START WITH 5 NOCACHE");
	assert_refused("SEQUENCE " DST ".ticket_ids");
	assert_value(m, "5", "SELECT NEXTVAL(" DST ".ticket_ids)");
	assert_value(m, "1", "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '" DST "'");
	it_exec(m, "DROP DATABASE " DST);
	mysql_close(m);
}

/* skip leaves an existing sequence as it is: the restored table's DEFAULT
 * then uses it. */
static void test_if_exists_skip_leaves_an_existing_sequence_alone(void **state)
{
	MYSQL *m = it_connect();
	struct it_run r;

	(void)state;
	it_exec(m, "DROP DATABASE IF EXISTS " DST);
	it_exec(m, "CREATE DATABASE " DST);
	it_exec(m, "CREATE SEQUENCE " DST ".ticket_ids START WITH 5000 NOCACHE");
	it_mdlsafe(&r, true, "restore", backup_dir, "--rename", SRC ":" DST, "--if-exists", "skip", NULL);
	if (r.status != 0)
		fail_msg("--if-exists skip: exit %d: %s", r.status, r.err);
	assert_non_null(strstr(r.err, "SEQUENCE " DST ".ticket_ids exists: left as it is"));
	it_run_release(&r);
	assert_same(m, SRC, DST, "tickets");
	it_exec(m, "INSERT INTO " DST ".tickets (what) VALUES ('d')");
	assert_value(m, "5000", "SELECT id FROM " DST ".tickets WHERE what = 'd'");
	it_exec(m, "DROP DATABASE " DST);
	mysql_close(m);
}

/* replace and swap both end with the backup's content in place of what
 * was there, objects included. */
static void test_replace_and_swap_put_the_backup_in_place(void **state)
{
	static const char *const modes[] = { "replace", "swap" };
	MYSQL *m = it_connect();

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct it_run r;

		it_exec(m, "DROP DATABASE IF EXISTS " DST);
		it_mdlsafe(&r, true, "restore", backup_dir, "--rename", SRC ":" DST, NULL);
		assert_int_equal(r.status, 0);
		it_run_release(&r);
		it_exec(m, "DELETE FROM " DST ".orders WHERE id > 10");
		it_exec(m, "UPDATE " DST ".`all types` SET vc = 'changed'");
		it_exec(m, "DO NEXTVAL(" DST ".ticket_ids), NEXTVAL(" DST ".ticket_ids)");
		it_mdlsafe(&r, true, "restore", backup_dir, "--rename", SRC ":" DST, "--if-exists", modes[i], "--verify", NULL);
		if (r.status != 0)
			fail_msg("--if-exists %s: exit %d: %s", modes[i], r.status, r.err);
		it_run_release(&r);
		assert_restored(m, DST);
		/* No shadow or set-aside table is left behind. */
		assert_value(m, "0", "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '" DST "' "
				     "AND TABLE_NAME LIKE '\\_mdlsafe\\_%'");
	}
	it_exec(m, "DROP DATABASE " DST);
	mysql_close(m);
}

/* The seed-004 shape: an idle transaction holds the live table. The swap's
 * RENAME must not sit in front of the application's queries for longer
 * than the budget; it gives way, names the idle session, and goes through
 * once the transaction ends. */
struct reader {
	pthread_t thread;
	volatile bool stop;
	double worst_s;
	unsigned queries;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	MYSQL *m = it_connect();

	while (!rd->stop) {
		double t0 = it_now(), dt;
		MYSQL_RES *res;

		if (mysql_query(m, "SELECT COUNT(*) FROM " DST ".orders WHERE id < 100"))
			break;
		if ((res = mysql_store_result(m)))
			mysql_free_result(res);
		dt = it_now() - t0;
		if (dt > rd->worst_s)
			rd->worst_s = dt;
		rd->queries++;
		it_sleep_ms(20);
	}
	mysql_close(m);
	return NULL;
}

static void test_swap_under_an_idle_transaction_stays_within_the_budget_and_names_it(void **state)
{
	MYSQL *m = it_connect(), *idle;
	struct it_child c;
	struct it_run r;
	struct reader rd = { 0 };
	char cnf[300], idle_id[32];
	const char *args[] = { "restore", backup_dir, "--rename", SRC ":" DST, "--if-exists", "swap", "--max-stall", "300",
			       "--timeout", "60", cnf, NULL };

	(void)state;
	snprintf(cnf, sizeof(cnf), "--defaults-file=%s", it_cnf());
	it_exec(m, "DROP DATABASE IF EXISTS " DST);
	it_mdlsafe(&r, true, "restore", backup_dir, "--rename", SRC ":" DST, NULL);
	assert_int_equal(r.status, 0);
	it_run_release(&r);

	idle = it_connect();
	it_exec(idle, "START TRANSACTION");
	it_exec(idle, "SELECT COUNT(*) FROM " DST ".orders");
	snprintf(idle_id, sizeof(idle_id), "%lu", it_id(idle));
	pthread_create(&rd.thread, NULL, reader_main, &rd);
	it_mdlsafe_start(&c, args, NULL);
	/* Long enough for several bounded attempts. */
	it_sleep_ms(3000);
	it_exec(idle, "COMMIT");
	mysql_close(idle);
	it_mdlsafe_finish(&c, 0, 60, &r);
	rd.stop = true;
	pthread_join(rd.thread, NULL);
	if (r.status != 0)
		fail_msg("swap: exit %d: %s", r.status, r.err);
	/* It gave way and said who was in the way. */
	assert_non_null(strstr(r.err, "gave way"));
	assert_non_null(strstr(r.err, idle_id));
	/* Readers went on while it waited: the worst wait is the 300 ms budget
	 * plus scheduling slack; not the 3 s the transaction stayed open, nor
	 * the 1 s lock_wait_timeout that backs the budget up. */
	assert_true(rd.queries > 20);
	it_assert_within_budget(rd.worst_s, 0.3, "a reader behind the swap");
	it_run_release(&r);
	assert_restored(m, DST);
	it_exec(m, "DROP DATABASE " DST);
	mysql_close(m);
}

static int journal_has_chunk(const char *path)
{
	char buf[1 << 16];
	int fd = open(path, O_RDONLY), n;

	if (fd < 0)
		return 0;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, "chunk_done") != NULL;
}

/* Starts a -j 1 restore of BIG into BIG_r and SIGKILLs it as soon as its
 * journal records a finished chunk: some rows are in, not all. */
static void kill_restore_after_a_chunk(MYSQL *m)
{
	struct it_child c;
	struct it_run r;
	char cnf[300], journal[400];
	const char *args[] = { "restore", big_dir, "--rename", BIG ":" BIG "_r", "-j", "1", cnf, NULL };
	double t0;

	snprintf(cnf, sizeof(cnf), "--defaults-file=%s", it_cnf());
	snprintf(journal, sizeof(journal), "%s.restore-journal", big_dir);
	it_exec(m, "DROP DATABASE IF EXISTS " BIG "_r");
	it_mdlsafe_start(&c, args, NULL);
	t0 = it_now();
	while (!journal_has_chunk(journal) && it_now() - t0 < 60)
		it_sleep_ms(5);
	it_mdlsafe_finish(&c, SIGKILL, 30, &r);
	assert_int_equal(r.status, 128 + SIGKILL);
	it_run_release(&r);
}

static void test_killed_restore_resumes_without_duplicate_rows(void **state)
{
	MYSQL *m = it_connect();
	struct it_run r;

	(void)state;
	kill_restore_after_a_chunk(m);
	/* Killed between chunks: some rows are in, not all. */
	{
		char *n = it_value(m, "SELECT COUNT(*) FROM " BIG "_r.t");
		assert_non_null(n);
		assert_true(atol(n) > 0 && atol(n) < 300000);
		free(n);
	}
	/* The sequence, created before the tables, is in use already: the
	 * resume must not set it back. */
	assert_value(m, "1", "SELECT NEXTVAL(" BIG "_r.ids)");
	/* Without --resume, it refuses to start over on top. */
	it_mdlsafe(&r, true, "restore", big_dir, "--rename", BIG ":" BIG "_r", NULL);
	if (r.status != 2 || !strstr(r.err, "--resume"))
		fail_msg("restore over an interrupted one: exit %d: %s", r.status, r.err);
	it_run_release(&r);
	it_mdlsafe(&r, true, "restore", big_dir, "--rename", BIG ":" BIG "_r", "--resume", "--verify", NULL);
	if (r.status != 0)
		fail_msg("--resume: exit %d: %s", r.status, r.err);
	it_run_release(&r);
	assert_value(m, "300000", "SELECT COUNT(*) FROM " BIG "_r.t");
	assert_same(m, BIG, BIG "_r", "t");
	assert_value(m, "1", "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '" BIG "_r' "
			     "AND INDEX_NAME = 'k_pad'");
	assert_value(m, "2", "SELECT NEXTVAL(" BIG "_r.ids)");
	it_exec(m, "DROP DATABASE " BIG "_r");
	mysql_close(m);
}

/* --verify reads the tables back: rows changed behind the restore's back
 * (here between a kill and the resume, in chunks already done) are found
 * and reported by table and chunk. */
static void test_verify_reports_rows_that_differ_from_the_backup(void **state)
{
	MYSQL *m = it_connect();
	struct it_run r;
	json_t *j, *diffs;

	(void)state;
	kill_restore_after_a_chunk(m);
	/* Every row in: those of finished chunks stay changed, the others are
	 * loaded again by the resume. */
	it_exec(m, "UPDATE " BIG "_r.t SET pad = CONCAT('changed ', pad)");
	it_mdlsafe(&r, true, "restore", big_dir, "--rename", BIG ":" BIG "_r", "--resume", "--verify", "--json", NULL);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "differ"));
	assert_non_null(strstr(r.err, BIG "_r.t"));
	j = it_json(&r);
	assert_false(json_is_true(json_object_get(json_object_get(j, "verify"), "identical")));
	diffs = json_object_get(json_object_get(j, "verify"), "differences");
	assert_true(json_array_size(diffs) >= 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(diffs, 0), "table")), "t");
	json_decref(j);
	it_run_release(&r);
	it_exec(m, "DROP DATABASE " BIG "_r");
	mysql_close(m);
}

/* Someone's DDL on a table being loaded: a loader's open transaction holds
 * the table, so the DDL waits, and every query queues behind the DDL. One
 * transaction for the whole 46 MiB chunk would make that seconds; loaders
 * commit every 2 MiB and the watchdog makes one let go within the budget,
 * then the chunk goes on after the DDL. */
static void test_ddl_on_a_table_being_loaded_waits_at_most_the_budget(void **state)
{
	MYSQL *m = it_connect();
	struct it_child c;
	struct it_run r;
	char cnf[300];
	const char *args[] = { "restore", big1_dir, "--rename", BIG ":" BIG "_r", "-j", "1", "--max-stall", "300", cnf, NULL };
	double t0, waited;
	char *n;

	(void)state;
	snprintf(cnf, sizeof(cnf), "--defaults-file=%s", it_cnf());
	it_exec(m, "DROP DATABASE IF EXISTS " BIG "_r");
	it_mdlsafe_start(&c, args, NULL);
	/* Wait until the one chunk is loading: the table exists and the
	 * loader is in its INSERTs. */
	t0 = it_now();
	for (;;) {
		n = it_value(m, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO LIKE '%%mdlsafe restore-1%%INSERT INTO%%'");
		if (n && strcmp(n, "0")) {
			free(n);
			break;
		}
		free(n);
		if (it_now() - t0 > 30)
			fail_msg("the restore never started loading");
		it_sleep_ms(10);
	}
	t0 = it_now();
	it_exec(m, "ALTER TABLE " BIG "_r.t COMMENT = 'changed during the restore'");
	waited = it_now() - t0;
	it_mdlsafe_finish(&c, 0, 120, &r);
	if (r.status != 0)
		fail_msg("restore: exit %d: %s", r.status, r.err);
	it_run_release(&r);
	it_assert_within_budget(waited, 0.3, "the ALTER behind the restore");
	assert_value(m, "300000", "SELECT COUNT(*) FROM " BIG "_r.t");
	assert_same(m, BIG, BIG "_r", "t");
	it_exec(m, "DROP DATABASE " BIG "_r");
	mysql_close(m);
}

static void test_corrupted_chunk_is_refused_before_anything_is_sent(void **state)
{
	MYSQL *m = it_connect();
	struct it_run r;
	char copy[400], cmd[1200], victim[600];
	int fd;

	(void)state;
	snprintf(copy, sizeof(copy), "%s/damaged", workdir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", copy, backup_dir, copy);
	must_run(cmd);
	snprintf(victim, sizeof(victim), "%s/" SRC "/orders.00002.sql.zst", copy);
	fd = open(victim, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\xff\xff\xff\xff", 4, 40), 4);
	close(fd);
	it_exec(m, "DROP DATABASE IF EXISTS " DST);
	it_mdlsafe(&r, true, "restore", copy, "--rename", SRC ":" DST, NULL);
	assert_int_equal(r.status, 10);
	assert_non_null(strstr(r.err, SRC "/orders.00002.sql.zst"));
	assert_non_null(strstr(r.err, "nothing was sent"));
	it_run_release(&r);
	assert_value(m, "0", "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '" DST "'");
	mysql_close(m);
}

/* A table whose manifest entry is damaged part-way through its chunk list
 * is refused with the reason, and nothing read for it is left behind (the
 * ASan build's leak check fails the run otherwise). */
static void test_damaged_chunk_list_is_refused_without_leaking(void **state)
{
	struct it_run r;
	char copy[400], cmd[1200], manifest[420];
	json_t *man, *dbs, *d, *t, *chunks;
	json_error_t je;
	size_t i, j;
	bool cut = false;

	(void)state;
	snprintf(copy, sizeof(copy), "%s/chunkless", workdir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", copy, backup_dir, copy);
	must_run(cmd);
	snprintf(manifest, sizeof(manifest), "%s/manifest.json", copy);
	man = json_load_file(manifest, 0, &je);
	if (!man)
		fail_msg("%s: %s", manifest, je.text);
	dbs = json_object_get(man, "databases");
	json_array_foreach(dbs, i, d) {
		json_array_foreach(json_object_get(d, "tables"), j, t) {
			chunks = json_object_get(t, "chunks");
			if (!cut && json_array_size(chunks) > 1) {
				json_object_del(json_array_get(chunks, json_array_size(chunks) - 1), "file");
				cut = true;
			}
		}
	}
	assert_true(cut);
	assert_int_equal(json_dump_file(man, manifest, JSON_INDENT(1)), 0);
	json_decref(man);
	it_mdlsafe(&r, true, "restore", copy, "--rename", SRC ":" DST, NULL);
	if (r.status != 10 || !strstr(r.err, "has no file") || strstr(r.err, "LeakSanitizer"))
		fail_msg("restore of a chunk without a file: exit %d: %s", r.status, r.err);
	it_run_release(&r);
}

static void test_usage_errors_say_what_to_do(void **state)
{
	struct it_run r;

	(void)state;
	it_mdlsafe(&r, true, "restore", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "mdlsafe restore DIR"));
	it_run_release(&r);
	it_mdlsafe(&r, true, "restore", backup_dir, "--rename", "nosuchdb:x", NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "no database of that name"));
	it_run_release(&r);
	it_mdlsafe(&r, true, "restore", backup_dir, "--if-exists", "overwrite", NULL);
	assert_int_equal(r.status, 2);
	it_run_release(&r);
	it_mdlsafe(&r, true, "restore", "/nonexistent/backup", NULL);
	assert_int_equal(r.status, 2);
	it_run_release(&r);
}

/* ---- names that break line-based reading ------------------------------- */

#define NAMES "it_restore_names"
#define NAMES_X NAMES ".x" /* its table y once had the journal key of NAMES's table x.y */
#define NAMES_R "it_restore_names_r"

/* `times` copies of the UTF-8 character c, then tail. */
static char *repeat(const char *c, int times, const char *tail)
{
	char *out = malloc(strlen(c) * (size_t)times + strlen(tail) + 1);

	out[0] = '\0';
	for (int i = 0; i < times; i++)
		strcat(out, c);
	strcat(out, tail);
	return out;
}

/* Every base table of src has the same CHECKSUM TABLE and row count in dst;
 * returns the rows of src. */
static long long assert_tables_same(MYSQL *m, const char *src, const char *dst, unsigned want_tables)
{
	MYSQL_RES *r;
	MYSQL_ROW row;
	char sql[300];
	long long total = 0;
	unsigned n = 0;

	snprintf(sql, sizeof(sql), "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '%s' "
				   "AND TABLE_TYPE = 'BASE TABLE'", src);
	if (mysql_query(m, sql) || !(r = mysql_store_result(m)))
		fail_msg("%s: %s", sql, mysql_error(m));
	while ((row = mysql_fetch_row(r))) {
		char *t = q(row[0]), *qs = q(src), *qd = q(dst);
		char *a = it_value(m, "SELECT COUNT(*) FROM %s.%s", qs, t), *b = it_value(m, "SELECT COUNT(*) FROM %s.%s", qd, t);
		char *x = checksum(m, src, row[0]), *y = checksum(m, dst, row[0]);

		if (!a || !b || strcmp(a, b))
			fail_msg("table %s: %s rows in %s, %s in %s", row[0], a ? a : "?", src, b ? b : "none", dst);
		if (strcmp(x, y))
			fail_msg("CHECKSUM TABLE of %s: %s in %s, %s in %s", row[0], x, src, y, dst);
		total += atoll(a);
		free(a), free(b), free(x), free(y), free(t), free(qs), free(qd);
		n++;
	}
	mysql_free_result(r);
	if (n != want_tables)
		fail_msg("%s has %u tables, expected %u", src, n, want_tables);
	return total;
}

/*
 * Names a line-based reader gets wrong, backed up and restored: ";\n" in a
 * table and a column name (a line ending in ';' is no statement end), "\n("
 * (a line starting with '(' is no row), backticks, names of 64 two-byte
 * characters and of 50 three-byte ones (the longest file name the server
 * takes) sharing all but their last character (cut to 64 bytes they were
 * one table), a 64-character column name of 192 bytes, a database and a
 * table whose dotted names are equal ("N.x"."y" and "N"."x.y"), and a view
 * and a trigger whose names would end the comment above them in the backup
 * and run the rest as SQL. Every table comes back identical, verify and the
 * manifest count the rows, and a swap (shadow tables under hashed names)
 * works too.
 */
static void test_round_trip_of_names_that_break_line_based_reading(void **state)
{
	MYSQL *m = it_connect();
	char *semi = q("semi;\ncolon"), *paren = q("a\n(b`c"), *dotted = q("x.y");
	char *e1 = repeat("é", 63, "a"), *e2 = repeat("é", 63, "b"), *c1 = repeat("中", 49, "a"),
	     *c2 = repeat("中", 49, "b"), *col = repeat("中", 64, ""), *emoji = repeat("😀", 64, "");
	char *qe1 = q(e1), *qe2 = q(e2), *qc1 = q(c1), *qc2 = q(c2), *qcol = q(col), *qemoji = q(emoji);
	char dir[400], manifest[420];
	unsigned tables = 7;
	long long rows, manifest_rows = 0;
	struct it_run r;
	json_t *j, *man;
	json_error_t je;

	(void)state;
	it_exec(m, "SET NAMES utf8mb4");
	it_exec(m, "DROP DATABASE IF EXISTS " NAMES);
	it_exec(m, "DROP DATABASE IF EXISTS `" NAMES_X "`");
	it_exec(m, "DROP DATABASE IF EXISTS " NAMES_R);
	it_exec(m, "DROP DATABASE IF EXISTS `" NAMES_R ".x`");
	it_exec(m, "CREATE DATABASE " NAMES);
	it_exec(m, "CREATE DATABASE `" NAMES_X "`");
	it_exec(m, "USE " NAMES);
	it_exec(m, "CREATE TABLE %s (id INT PRIMARY KEY, `c;\nx` VARCHAR(40), `p\n(q` INT, `b``t` INT, "
		   "KEY `k;\n(` (`p\n(q`)) ENGINE=InnoDB", semi);
	it_exec(m, "INSERT INTO %s SELECT seq, ELT(1 + seq %% 5, 'a;\nb', '(', '\n(1);\n', 'x`y', ';'), seq %% 3, seq "
		   "FROM seq_1_to_2500", semi);
	it_exec(m, "CREATE TABLE %s (id INT PRIMARY KEY, `v\n(1);` VARCHAR(20)) ENGINE=InnoDB", paren);
	it_exec(m, "INSERT INTO %s SELECT seq, CONCAT('(', seq, ');') FROM seq_1_to_7", paren);
	it_exec(m, "CREATE TABLE %s (id INT PRIMARY KEY, %s VARCHAR(10))", qe1, qcol);
	it_exec(m, "INSERT INTO %s VALUES (1, 'one'), (2, 'two'), (3, NULL)", qe1);
	it_exec(m, "CREATE TABLE %s (id INT PRIMARY KEY, v INT) ENGINE=MyISAM", qe2);
	it_exec(m, "INSERT INTO %s VALUES (1, 1), (2, 2), (3, 3), (4, 4)", qe2);
	it_exec(m, "CREATE TABLE %s (id INT PRIMARY KEY)", qc1);
	it_exec(m, "INSERT INTO %s VALUES (1), (2)", qc1);
	it_exec(m, "CREATE TABLE %s (id INT PRIMARY KEY, w VARCHAR(5))", qc2);
	it_exec(m, "INSERT INTO %s VALUES (1, 'w')", qc2);
	it_exec(m, "CREATE TABLE %s (id INT PRIMARY KEY)", dotted);
	it_exec(m, "INSERT INTO %s SELECT seq FROM seq_1_to_5", dotted);
	it_exec(m, "CREATE TABLE `" NAMES_X "`.y (id INT PRIMARY KEY)");
	it_exec(m, "INSERT INTO `" NAMES_X "`.y SELECT seq FROM seq_1_to_6");
	/* 4-byte characters: MariaDB 10.11 refuses them in names; a server
	 * that takes them gets such a table in the round trip too. */
	if (mysql_query(m, "CREATE TABLE t4 (id INT PRIMARY KEY)") == 0) {
		char sql[600];
		snprintf(sql, sizeof(sql), "RENAME TABLE t4 TO %s", qemoji);
		if (mysql_query(m, sql) == 0) {
			it_exec(m, "INSERT INTO %s VALUES (4)", qemoji);
			tables++;
		} else {
			it_exec(m, "DROP TABLE t4");
		}
	}
	it_exec(m, "CREATE VIEW `v\nCREATE TABLE injected (x INT);\n#` AS SELECT 1 AS one");
	it_exec(m, "CREATE TRIGGER `tr\nCREATE TABLE injected2 (x INT);\n#` BEFORE INSERT ON %s FOR EACH ROW "
		   "SET NEW.id = NEW.id", paren);

	snprintf(dir, sizeof(dir), "%s/names", workdir);
	it_mdlsafe(&r, true, "backup", "-o", dir, "-B", NAMES, "-B", NAMES_X, "--chunk-rows", "1000", NULL);
	if (r.status != 0)
		fail_msg("backup: exit %d: %s", r.status, r.err);
	it_run_release(&r);

	/* The manifest and verify count the rows that are there. */
	snprintf(manifest, sizeof(manifest), "%s/manifest.json", dir);
	man = json_load_file(manifest, 0, &je);
	if (!man)
		fail_msg("%s: %s", manifest, je.text);
	{
		size_t i;
		json_t *f;
		json_array_foreach(json_object_get(man, "files"), i, f)
			if (json_is_integer(json_object_get(f, "rows")))
				manifest_rows += json_integer_value(json_object_get(f, "rows"));
	}
	json_decref(man);
	it_mdlsafe(&r, false, "verify", dir, "--json", NULL);
	if (r.status != 0)
		fail_msg("verify: exit %d: %s", r.status, r.err);
	j = it_json(&r);
	it_run_release(&r);

	it_mdlsafe(&r, true, "restore", dir, "--rename", NAMES ":" NAMES_R, "--rename", NAMES_X ":" NAMES_R ".x", "-j",
		   "2", "--verify", NULL);
	if (r.status != 0)
		fail_msg("restore: exit %d: %s", r.status, r.err);
	it_run_release(&r);
	rows = assert_tables_same(m, NAMES, NAMES_R, tables);
	rows += assert_tables_same(m, NAMES_X, NAMES_R ".x", 1);
	assert_int_equal(rows, manifest_rows);
	assert_int_equal(json_integer_value(json_object_get(j, "rows")), rows);
	json_decref(j);
	/* The deferred index came back; the names in comments ran nothing. */
	assert_value(m, "1", "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '" NAMES_R "' "
			     "AND INDEX_NAME = 'k;\\n('");
	assert_value(m, "0", "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME LIKE 'injected%'");
	assert_value(m, "1", "SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '" NAMES_R "'");
	assert_value(m, "1", "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '" NAMES_R "'");

	/* Again over the restored copy: the rows go to shadow tables first. */
	it_exec(m, "DELETE FROM `" NAMES_R "`.%s WHERE id = 1", qe1);
	it_mdlsafe(&r, true, "restore", dir, "--rename", NAMES ":" NAMES_R, "--rename", NAMES_X ":" NAMES_R ".x",
		   "--if-exists", "swap", NULL);
	if (r.status != 0)
		fail_msg("restore --if-exists swap: exit %d: %s", r.status, r.err);
	it_run_release(&r);
	assert_int_equal(assert_tables_same(m, NAMES, NAMES_R, tables) + assert_tables_same(m, NAMES_X, NAMES_R ".x", 1),
			 rows);

	it_exec(m, "DROP DATABASE " NAMES);
	it_exec(m, "DROP DATABASE `" NAMES_X "`");
	it_exec(m, "DROP DATABASE " NAMES_R);
	it_exec(m, "DROP DATABASE `" NAMES_R ".x`");
	free(semi), free(paren), free(dotted), free(e1), free(e2), free(c1), free(c2), free(col), free(emoji);
	free(qe1), free(qe2), free(qc1), free(qc2), free(qcol), free(qemoji);
	mysql_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_of_every_type_and_object_under_another_name),
		cmocka_unit_test(test_round_trip_with_one_job),
		cmocka_unit_test(test_round_trip_of_names_that_break_line_based_reading),
		cmocka_unit_test(test_backup_writes_sequences_with_their_next_value),
		cmocka_unit_test(test_if_exists_fail_refuses_and_changes_nothing),
		cmocka_unit_test(test_if_exists_skip_leaves_an_existing_sequence_alone),
		cmocka_unit_test(test_replace_and_swap_put_the_backup_in_place),
		cmocka_unit_test(test_swap_under_an_idle_transaction_stays_within_the_budget_and_names_it),
		cmocka_unit_test(test_killed_restore_resumes_without_duplicate_rows),
		cmocka_unit_test(test_verify_reports_rows_that_differ_from_the_backup),
		cmocka_unit_test(test_ddl_on_a_table_being_loaded_waits_at_most_the_budget),
		cmocka_unit_test(test_corrupted_chunk_is_refused_before_anything_is_sent),
		cmocka_unit_test(test_damaged_chunk_list_is_refused_without_leaking),
		cmocka_unit_test(test_usage_errors_say_what_to_do),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
