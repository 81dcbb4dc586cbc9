/* Point-in-time recovery across a failover: the archiver follows A, B (a
 * GTID replica of A with log_slave_updates) becomes the primary, and the
 * same archive goes on from B by GTID; restore rolls a backup of A forward
 * across the change of server, and a server without the next GTID is refused. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DB "it_pitr_fo"

static char workdir[256];
static char archive[320];
static char backup_dir[320];
static char cnf_b[320];      /* --defaults-file= of B */
static char b_server_id[32]; /* B's own, put back in teardown */
static char *b_slave_pos;    /* B's gtid_slave_pos before the test */
static char a_file[256];     /* A's binlog file when the archive starts, also B's at the failover */
static char known_gtid[64];  /* written on B after the failover */
static char until[32];       /* local time: B's rows before it, the late rows after */
static char last_gtid[64];   /* the archive's last transaction (on B) */

static unsigned long long seq_of(MYSQL *m)
{
	char *pos = it_value(m, "SELECT @@gtid_binlog_pos");
	unsigned long long seq = 0;

	if (pos && *pos)
		sscanf(strrchr(pos, '-') + 1, "%llu", &seq);
	free(pos);
	return seq;
}

/* SHOW SLAVE STATUS's states and last errors, for a failure message. */
static void slave_status(MYSQL *m, char *out, size_t n)
{
	static const char *const want[] = { "Slave_IO_State", "Slave_SQL_Running_State", "Last_IO_Error",
					    "Last_SQL_Error" };
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	size_t len = 0;

	out[0] = 0;
	if (mysql_query(m, "SHOW SLAVE STATUS") || !(res = mysql_store_result(m)) || !(row = mysql_fetch_row(res))) {
		snprintf(out, n, "no slave status: %s", mysql_error(m));
		if (res)
			mysql_free_result(res);
		return;
	}
	for (unsigned i = 0; i < mysql_num_fields(res); i++)
		for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
			if (!strcmp(mysql_fetch_field_direct(res, i)->name, want[k]) && len < n)
				len += (size_t)snprintf(out + len, n - len, "%s%s='%s'", len ? ", " : "", want[k],
							row[i] ? row[i] : "");
	mysql_free_result(res);
}

/* Waits until B has applied everything A has written. */
static void wait_replica(MYSQL *a, MYSQL *b)
{
	char *want = it_value(a, "SELECT @@gtid_binlog_pos"), status[2048];
	double t0 = it_now();

	while (it_now() - t0 < 30) {
		char *have = it_value(b, "SELECT @@gtid_slave_pos");
		bool done = have && want && !strcmp(have, want);

		free(have);
		if (done) {
			free(want);
			return;
		}
		it_sleep_ms(100);
	}
	slave_status(b, status, sizeof(status));
	fail_msg("B did not catch up with A (GTID %s) within 30 s: %s", want, status);
}

static void archive_once(struct it_run *r, const char *dir, const char *cnf, const char *start)
{
	char arch[400], st[300];

	snprintf(arch, sizeof(arch), "--archive=%s", dir);
	snprintf(st, sizeof(st), "--start-file=%s", start ? start : "");
	it_mdlsafe(r, false, "binlog", cnf, arch, "--once", start ? st : NULL, NULL);
}

static void must_archive(const char *dir, const char *cnf, const char *start)
{
	struct it_run r;

	archive_once(&r, dir, cnf, start);
	if (r.status != 0)
		fail_msg("binlog --archive %s --once (%s): exit %d: %s", dir, cnf, r.status, r.err);
	it_run_release(&r);
}

static int count(MYSQL *m, const char *where)
{
	char *v = it_value(m, "SELECT COUNT(*) FROM " DB ".t WHERE %s", where);
	int n = v ? atoi(v) : -1;

	free(v);
	return n;
}

/* Both servers write the same file name, so archived names that did not
 * say whose file it is would collide. */
static void same_file_name(MYSQL *a, MYSQL *b)
{
	for (int i = 0; i < 200; i++) {
		char *fa = it_binlog_file(a), *fb = it_binlog_file(b);
		int cmp = strcmp(fa, fb);

		free(fa);
		free(fb);
		if (!cmp)
			return;
		it_exec(cmp < 0 ? a : b, "FLUSH BINARY LOGS");
	}
	fail_msg("A and B do not reach the same binlog file name");
}

static int group_setup(void **state)
{
	MYSQL *a = it_connect(), *b = it_connect_b();
	char *v, *port_a;
	unsigned long long seq_a, seq_b;
	struct it_run r;
	time_t t;
	struct tm tm;

	(void)state;
	snprintf(workdir, sizeof(workdir), "/tmp/mdlsafe-it-pitr-fo-XXXXXX");
	if (!mkdtemp(workdir))
		return -1;
	snprintf(archive, sizeof(archive), "%s/archive", workdir);
	snprintf(backup_dir, sizeof(backup_dir), "%s/backup", workdir);
	snprintf(cnf_b, sizeof(cnf_b), "--defaults-file=%s", it_cnf_b());

	/* B as a GTID replica of A, with a server_id of its own. */
	v = it_value(b, "SELECT @@server_id");
	snprintf(b_server_id, sizeof(b_server_id), "%s", v);
	free(v);
	b_slave_pos = it_value(b, "SELECT @@gtid_slave_pos");
	it_exec(b, "STOP SLAVE");
	it_exec(b, "RESET SLAVE ALL");
	v = it_value(a, "SELECT @@server_id + 1");
	it_exec(b, "SET GLOBAL server_id = %s", v);
	free(v);
	it_exec(b, "DROP DATABASE IF EXISTS " DB);
	/* A write of B's own: positions in B's file differ from A's, so a
	 * position carried over by file name would land amid an event. */
	it_exec(b, "DROP DATABASE IF EXISTS " DB "_b_own");
	/* The two sandboxes started alike and wrote the same GTIDs of their
	 * own: A jumps past B's, so B's binlog holds A's transactions after
	 * its own ones. */
	seq_a = seq_of(a);
	seq_b = seq_of(b);
	it_exec(a, "SET SESSION gtid_seq_no = %llu", (seq_a > seq_b ? seq_a : seq_b) + 1000);
	it_exec(a, "DROP DATABASE IF EXISTS " DB);
	/* The jump stays out of the archive, which checks that sequence
	 * numbers go up by one. */
	it_exec(a, "FLUSH BINARY LOGS");
	same_file_name(a, b);
	v = it_binlog_file(a);
	snprintf(a_file, sizeof(a_file), "%s", v);
	free(v);
	v = it_value(a, "SELECT @@gtid_binlog_pos");
	it_exec(b, "SET GLOBAL gtid_slave_pos = '%s'", v);
	free(v);
	port_a = it_value(a, "SELECT @@port");
	it_exec(b,
		"CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = %s, MASTER_USER = 'root', "
		"MASTER_PASSWORD = '%s', MASTER_USE_GTID = slave_pos",
		port_a, getenv("MDLSAFE_TEST_ROOT_PASSWORD"));
	free(port_a);
	it_exec(b, "START SLAVE");

	it_exec(a, "CREATE DATABASE " DB);
	it_exec(a, "CREATE TABLE " DB ".t (id INT PRIMARY KEY, phase CHAR(8)) ENGINE=InnoDB");
	it_exec(a, "INSERT INTO " DB ".t VALUES (1, 'base'), (2, 'base')");
	it_mdlsafe(&r, true, "backup", "-o", backup_dir, "-B", DB, NULL);
	if (r.status != 0)
		fail_msg("backup: exit %d: %s", r.status, r.err);
	it_run_release(&r);
	{
		char cnf_a[320];
		snprintf(cnf_a, sizeof(cnf_a), "--defaults-file=%s", it_cnf());
		must_archive(archive, cnf_a, a_file);
		for (int i = 0; i < 5; i++)
			it_exec(a, "INSERT INTO " DB ".t VALUES (%d, 'a')", 10 + i);
		must_archive(archive, cnf_a, NULL);
	}
	wait_replica(a, b);

	/* The failover: B stops replicating and takes the writes. */
	it_exec(b, "STOP SLAVE");
	it_exec(b, "RESET SLAVE ALL");
	for (int i = 0; i < 3; i++) {
		it_exec(b, "INSERT INTO " DB ".t VALUES (%d, 'b')", 20 + i);
		if (i == 0)
			it_exec(b, "FLUSH BINARY LOGS");
	}
	v = it_value(b, "SELECT @@last_gtid");
	snprintf(known_gtid, sizeof(known_gtid), "%s", v ? v : "");
	free(v);
	t = time(NULL);
	while (time(NULL) == t)
		it_sleep_ms(20);
	t = time(NULL);
	localtime_r(&t, &tm);
	strftime(until, sizeof(until), "%Y-%m-%d %H:%M:%S", &tm);
	for (int i = 0; i < 2; i++)
		it_exec(b, "INSERT INTO " DB ".t VALUES (%d, 'late')", 30 + i);
	v = it_value(b, "SELECT @@last_gtid");
	snprintf(last_gtid, sizeof(last_gtid), "%s", v ? v : "");
	free(v);
	must_archive(archive, cnf_b, NULL);
	it_exec(a, "DROP DATABASE " DB);
	mysql_close(a);
	mysql_close(b);
	return 0;
}

static int group_teardown(void **state)
{
	MYSQL *a = it_connect(), *b = it_connect_b();
	char cmd[400];

	(void)state;
	it_exec(b, "STOP SLAVE");
	it_exec(b, "RESET SLAVE ALL");
	if (*b_server_id)
		it_exec(b, "SET GLOBAL server_id = %s", b_server_id);
	if (b_slave_pos)
		it_exec(b, "SET GLOBAL gtid_slave_pos = '%s'", b_slave_pos);
	free(b_slave_pos);
	it_exec(b, "DROP DATABASE IF EXISTS " DB);
	it_exec(a, "DROP DATABASE IF EXISTS " DB);
	mysql_close(a);
	mysql_close(b);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Each server's files under its own name, one after the other in the index,
 * and verify follows the GTIDs across the change. */
static void test_the_archive_holds_both_servers_files_and_verifies(void **state)
{
	MYSQL *a = it_connect(), *b = it_connect_b();
	char path[400], want_a[700], want_b[700], *sid_a = it_value(a, "SELECT @@server_id"),
						  *sid_b = it_value(b, "SELECT @@server_id");
	json_t *idx;
	struct it_run r;

	(void)state;
	snprintf(want_a, sizeof(want_a), "%s/s%s-%s", archive, sid_a, a_file);
	snprintf(want_b, sizeof(want_b), "%s/s%s-%s", archive, sid_b, a_file);
	if (access(want_a, F_OK) != 0 || access(want_b, F_OK) != 0)
		fail_msg("the archive does not hold both servers' %s as %s and %s", a_file, want_a, want_b);
	snprintf(path, sizeof(path), "%s/index.json", archive);
	assert_non_null(idx = json_load_file(path, 0, NULL));
	assert_int_equal(json_integer_value(json_object_get(idx, "format")), 2);
	assert_string_equal(json_string_value(json_object_get(idx, "gtid_state")), last_gtid);
	json_decref(idx);
	it_mdlsafe(&r, false, "verify", archive, NULL);
	if (r.status != 0)
		fail_msg("verify of the archive across the failover: exit %d: %s%s", r.status, r.out, r.err);
	it_run_release(&r);
	free(sid_a);
	free(sid_b);
	mysql_close(a);
	mysql_close(b);
}

static void restore_to(const char *opt, const char *target)
{
	MYSQL *a = it_connect();
	struct it_run r;

	it_exec(a, "DROP DATABASE IF EXISTS " DB);
	it_mdlsafe(&r, true, "restore", backup_dir, "--binlog-archive", archive, opt, target, NULL);
	if (r.status != 0)
		fail_msg("restore %s %s: exit %d: %s", opt, target, r.status, r.err);
	it_run_release(&r);
	assert_int_equal(count(a, "phase = 'base'"), 2);
	assert_int_equal(count(a, "phase = 'a'"), 5);
	assert_int_equal(count(a, "phase = 'b'"), 3);
	assert_int_equal(count(a, "phase = 'late'"), 0);
	assert_int_equal(count(a, "1"), 10);
	it_exec(a, "DROP DATABASE " DB);
	mysql_close(a);
}

static void test_restore_until_a_gtid_of_the_new_primary_replays_across_the_failover(void **state)
{
	(void)state;
	restore_to("--until-gtid", known_gtid);
}

static void test_restore_until_a_time_after_the_failover_replays_across_it(void **state)
{
	(void)state;
	restore_to("--until", until);
}

/* A (the old primary) does not have what B wrote: an archive that went on
 * from B cannot go on from A. */
static void test_a_server_without_the_next_gtid_is_refused_naming_it(void **state)
{
	char copy[340], cmd[800], cnf_a[320];
	struct it_run r;

	(void)state;
	snprintf(copy, sizeof(copy), "%s/behind", workdir);
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", archive, copy);
	assert_int_equal(system(cmd), 0);
	snprintf(cnf_a, sizeof(cnf_a), "--defaults-file=%s", it_cnf());
	archive_once(&r, copy, cnf_a, NULL);
	if (r.status != 10 || !strstr(r.err, last_gtid) || !strstr(r.err, "lacks") ||
	    strchr(r.err, '\n') != strrchr(r.err, '\n'))
		fail_msg("the archiver pointed at a server without GTID %s's successor: exit %d: %s", last_gtid,
			 r.status, r.err);
	it_run_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_archive_holds_both_servers_files_and_verifies),
		cmocka_unit_test(test_a_server_without_the_next_gtid_is_refused_naming_it),
		cmocka_unit_test(test_restore_until_a_gtid_of_the_new_primary_replays_across_the_failover),
		cmocka_unit_test(test_restore_until_a_time_after_the_failover_replays_across_it),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
