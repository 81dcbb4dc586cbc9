/* Point-in-time recovery against the sandbox: `binlog --archive` keeps the
 * server's binary logs while writes run, `restore --until` and
 * `--until-gtid` roll a backup forward to exactly the recorded point, a gap
 * in the archive is named before anything is restored, and an archiver
 * killed with -9 (its last write torn) resumes without losing or repeating
 * an event. */
#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "binlog/binlog.h"

#define DB "it_pitr"

static char workdir[256];
static char archive[320];    /* the archiver's directory, running through the writes */
static char backup_dir[320]; /* DB before the writes */
static char start_file[256]; /* the server's binlog file when the test began */
static char until[32];       /* local time: the known row is before it, phase B from it on */
static char known_gtid[64];  /* the transaction that wrote the known row */
static int rows_a;

static void archiver_start(struct it_child *c, const char *dir, const char *first)
{
	static char cnf[300], arch[340], start[300];
	const char *args[] = { "binlog", cnf, arch, start, "--heartbeat", "0.2", NULL };

	snprintf(cnf, sizeof(cnf), "--defaults-file=%s", it_cnf());
	snprintf(arch, sizeof(arch), "--archive=%s", dir);
	snprintf(start, sizeof(start), "--start-file=%s", first);
	it_mdlsafe_start(c, args, NULL);
}

static void archiver_stop(struct it_child *c)
{
	struct it_run r;

	it_mdlsafe_finish(c, SIGTERM, 20, &r);
	if (r.status != 0)
		fail_msg("binlog --archive: exit %d: %s", r.status, r.err);
	it_run_release(&r);
}

/* Waits until the archive (index.json, rewritten every second) holds
 * everything the server has written. */
static void wait_caught_up(MYSQL *m, const char *dir)
{
	char path[400];
	MYSQL_RES *res;
	MYSQL_ROW row;
	double t0 = it_now();

	snprintf(path, sizeof(path), "%s/index.json", dir);
	while (it_now() - t0 < 20) {
		json_t *idx = json_load_file(path, 0, NULL), *partial = json_object_get(idx, "partial");
		bool done = false;

		if (mysql_query(m, "SHOW MASTER STATUS") == 0 && (res = mysql_store_result(m))) {
			row = mysql_fetch_row(res);
			const char *name = json_string_value(json_object_get(partial, "source_name"));
			done = row && name && !strcmp(name, row[0]) &&
			       json_integer_value(json_object_get(partial, "size")) == atoll(row[1]);
			mysql_free_result(res);
		}
		json_decref(idx);
		if (done)
			return;
		it_sleep_ms(100);
	}
	fail_msg("the archive %s did not catch up with the server within 20 s", dir);
}

/* Sleeps until the wall clock enters a new second; returns that second. */
static time_t next_second(void)
{
	time_t t = time(NULL);

	while (time(NULL) == t)
		it_sleep_ms(20);
	return time(NULL);
}

static int count(MYSQL *m, const char *db, const char *where)
{
	char *v = it_value(m, "SELECT COUNT(*) FROM %s.t WHERE %s", db, where);
	int n = v ? atoi(v) : -1;

	free(v);
	return n;
}

static int group_setup(void **state)
{
	MYSQL *m = it_connect();
	struct it_child arch;
	struct it_run r;
	char *v;
	time_t t;
	struct tm tm;

	(void)state;
	snprintf(workdir, sizeof(workdir), "/tmp/mdlsafe-it-pitr-XXXXXX");
	if (!mkdtemp(workdir))
		return -1;
	snprintf(archive, sizeof(archive), "%s/archive", workdir);
	snprintf(backup_dir, sizeof(backup_dir), "%s/backup", workdir);
	it_exec(m, "FLUSH BINARY LOGS");
	{
		MYSQL_RES *res = NULL;
		MYSQL_ROW row;
		if (mysql_query(m, "SHOW MASTER STATUS") || !(res = mysql_store_result(m)) || !(row = mysql_fetch_row(res)))
			return -1;
		snprintf(start_file, sizeof(start_file), "%s", row[0]);
		mysql_free_result(res);
	}
	it_exec(m, "DROP DATABASE IF EXISTS " DB);
	it_exec(m, "DROP DATABASE IF EXISTS " DB "_gtid");
	it_exec(m, "DROP DATABASE IF EXISTS " DB "_gap");
	it_exec(m, "CREATE DATABASE " DB);
	it_exec(m, "CREATE TABLE " DB ".t (id INT AUTO_INCREMENT PRIMARY KEY, phase CHAR(5), at DATETIME(6)) ENGINE=InnoDB");
	it_exec(m, "INSERT INTO " DB ".t (phase, at) VALUES ('base', NOW(6)), ('base', NOW(6))");

	archiver_start(&arch, archive, start_file);
	it_mdlsafe(&r, true, "backup", "-o", backup_dir, "-B", DB, NULL);
	if (r.status != 0)
		fail_msg("backup: exit %d: %s", r.status, r.err);
	it_run_release(&r);

	/* Phase A, a rotation, the known row, then phase B from the next
	 * second on, with another rotation. */
	for (int i = 0; i < 10; i++, rows_a++) {
		it_exec(m, "INSERT INTO " DB ".t (phase, at) VALUES ('a', NOW(6))");
		it_sleep_ms(50);
	}
	it_exec(m, "FLUSH BINARY LOGS");
	it_exec(m, "INSERT INTO " DB ".t (phase, at) VALUES ('known', NOW(6))");
	v = it_value(m, "SELECT @@last_gtid");
	snprintf(known_gtid, sizeof(known_gtid), "%s", v ? v : "");
	free(v);
	t = next_second();
	localtime_r(&t, &tm);
	strftime(until, sizeof(until), "%Y-%m-%d %H:%M:%S", &tm);
	for (int i = 0; i < 10; i++) {
		it_exec(m, "INSERT INTO " DB ".t (phase, at) VALUES ('b', NOW(6))");
		if (i == 4)
			it_exec(m, "FLUSH BINARY LOGS");
		it_sleep_ms(50);
	}
	wait_caught_up(m, archive);
	archiver_stop(&arch);
	it_exec(m, "DROP DATABASE " DB);
	mysql_close(m);
	return 0;
}

static int group_teardown(void **state)
{
	MYSQL *m = it_connect();
	char cmd[400];

	(void)state;
	it_exec(m, "DROP DATABASE IF EXISTS " DB);
	it_exec(m, "DROP DATABASE IF EXISTS " DB "_gtid");
	it_exec(m, "DROP DATABASE IF EXISTS " DB "_gap");
	mysql_close(m);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_restore_until_a_time_brings_back_the_rows_before_it_and_none_after(void **state)
{
	MYSQL *m = it_connect();
	struct it_run r;

	(void)state;
	it_mdlsafe(&r, true, "restore", backup_dir, "--binlog-archive", archive, "--until", until, NULL);
	if (r.status != 0)
		fail_msg("restore --until '%s': exit %d: %s", until, r.status, r.err);
	it_run_release(&r);
	assert_int_equal(count(m, DB, "phase = 'base'"), 2);
	assert_int_equal(count(m, DB, "phase = 'a'"), rows_a);
	assert_int_equal(count(m, DB, "phase = 'known'"), 1);
	assert_int_equal(count(m, DB, "phase = 'b'"), 0);
	mysql_close(m);
}

static void test_restore_until_a_gtid_under_another_name_stops_after_that_transaction(void **state)
{
	MYSQL *m = it_connect();
	struct it_run r;

	(void)state;
	it_mdlsafe(&r, true, "restore", backup_dir, "--rename", DB ":" DB "_gtid", "--binlog-archive", archive,
		   "--until-gtid", known_gtid, NULL);
	if (r.status != 0)
		fail_msg("restore --until-gtid %s: exit %d: %s", known_gtid, r.status, r.err);
	it_run_release(&r);
	assert_int_equal(count(m, DB "_gtid", "phase = 'a'"), rows_a);
	assert_int_equal(count(m, DB "_gtid", "phase = 'known'"), 1);
	assert_int_equal(count(m, DB "_gtid", "phase = 'b'"), 0);
	mysql_close(m);
}

/* The complete archived files, in the index's order. */
static json_t *archived_files(const char *dir)
{
	char path[400];
	json_t *idx, *files;

	snprintf(path, sizeof(path), "%s/index.json", dir);
	idx = json_load_file(path, 0, NULL);
	assert_non_null(idx);
	files = json_incref(json_object_get(idx, "files"));
	json_decref(idx);
	return files;
}

static void test_a_gap_in_the_archive_is_named_before_anything_is_restored(void **state)
{
	MYSQL *m = it_connect();
	json_t *files = archived_files(archive);
	char gap[400], cmd[1600], *missing = NULL, *exists;
	struct it_run r;
	size_t i;

	(void)state;
	/* The file after the backup's own: restoring past it needs it. */
	for (i = 0; i < json_array_size(files); i++)
		if (!strcmp(json_string_value(json_object_get(json_array_get(files, i), "source_name")), start_file))
			break;
	assert_true(i + 1 < json_array_size(files));
	missing = strdup(json_string_value(json_object_get(json_array_get(files, i + 1), "name")));
	snprintf(gap, sizeof(gap), "%s/gap", workdir);
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s' && rm '%s/%s'", archive, gap, gap, missing);
	assert_int_equal(system(cmd), 0);
	it_mdlsafe(&r, true, "restore", backup_dir, "--rename", DB ":" DB "_gap", "--binlog-archive", gap, "--until",
		   until, NULL);
	assert_int_equal(r.status, 10);
	if (!strstr(r.err, missing) || !strstr(r.err, "gap"))
		fail_msg("the error does not name the missing file %s as a gap: %s", missing, r.err);
	it_run_release(&r);
	exists = it_value(m, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '" DB "_gap'");
	assert_string_equal(exists, "0");
	free(exists);

	/* A target past the archive's end is refused the same way. */
	it_mdlsafe(&r, true, "restore", backup_dir, "--rename", DB ":" DB "_gap", "--binlog-archive", archive,
		   "--until-gtid", "0-1-999999999", NULL);
	assert_int_equal(r.status, 10);
	if (!strstr(r.err, "does not reach"))
		fail_msg("an unreachable target is not reported as such: %s", r.err);
	it_run_release(&r);
	free(missing);
	json_decref(files);
	mysql_close(m);
}

/* ---- killed archiver ---------------------------------------------------- */

struct gtids {
	char v[4096][32];
	size_t n;
};

static int collect_gtid(void *ctx, const unsigned char *ev, const struct binlog_header *h, unsigned long long off,
			struct ms_err *e)
{
	struct gtids *g = ctx;
	struct binlog_gtid id;

	(void)off;
	(void)e;
	if (h->type != BINLOG_GTID || g->n >= 4096)
		return 0;
	binlog_gtid_parse(ev, h, &id);
	snprintf(g->v[g->n++], sizeof(g->v[0]), "%u-%u-%llu", id.domain, id.server, (unsigned long long)id.seq);
	return 0;
}

/* The GTIDs of the archive's files, in order, and the same from the
 * server's SHOW BINLOG EVENTS for each of those files up to the size archived. */
static void compare_with_server(MYSQL *m, const char *dir)
{
	static struct gtids ours, theirs;
	DIR *d;
	struct dirent *de;
	char names[64][300];
	size_t n = 0;

	ours.n = theirs.n = 0;
	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)))
		if (strstr(de->d_name, "mariadb-bin.") && n < 64)
			snprintf(names[n++], sizeof(names[0]), "%s", de->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), (int (*)(const void *, const void *))strcmp);
	assert_true(n >= 2);
	for (size_t i = 0; i < n; i++) {
		char path[700], name[300], sql[400];
		unsigned long long end;
		struct ms_err e;
		MYSQL_RES *res = NULL;
		MYSQL_ROW row;
		size_t len = strlen(names[i]);

		snprintf(path, sizeof(path), "%s/%.299s", dir, names[i]);
		/* Archived as s<server_id>-NAME: the server knows it as NAME. */
		snprintf(name, sizeof(name), "%s", strstr(names[i], "mariadb-bin."));
		len = strlen(name);
		if (len > 8 && !strcmp(name + len - 8, ".partial"))
			name[len - 8] = 0;
		if (binlog_scan_file(path, &end, NULL, collect_gtid, &ours, &e))
			fail_msg("%s: %s", path, e.msg);
		{
			struct stat sb;
			assert_int_equal(stat(path, &sb), 0);
			if ((unsigned long long)sb.st_size != end)
				fail_msg("%s has %llu bytes after its last whole event", path,
					 (unsigned long long)sb.st_size - end);
		}
		snprintf(sql, sizeof(sql), "SHOW BINLOG EVENTS IN '%s'", name);
		if (mysql_query(m, sql) || !(res = mysql_store_result(m)))
			fail_msg("%s: %s", sql, mysql_error(m));
		while ((row = mysql_fetch_row(res))) {
			const char *g;
			if (strtoull(row[4], NULL, 10) > end || strcmp(row[2], "Gtid") || !(g = strstr(row[5], "GTID ")))
				continue;
			if (theirs.n < 4096)
				snprintf(theirs.v[theirs.n++], sizeof(theirs.v[0]), "%s", g + 5);
		}
		mysql_free_result(res);
	}
	assert_true(ours.n > 100);
	if (ours.n != theirs.n)
		fail_msg("the archive holds %zu transactions, the server %zu in the same range", ours.n, theirs.n);
	for (size_t i = 0; i < ours.n; i++)
		if (strcmp(ours.v[i], theirs.v[i]))
			fail_msg("transaction %zu: the archive has GTID %s, the server %s", i, ours.v[i], theirs.v[i]);
}

static void tear_partial(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[600];
	int fd;

	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n > 8 && !strcmp(de->d_name + n - 8, ".partial"))
			break;
	}
	assert_non_null(de);
	snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
	closedir(d);
	/* Half an event: a header claiming more bytes than follow. */
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\x01\x02\x03\x04\xa2\x01\x00\x00\x00\x40\x00\x00\x00\x00\x00\x00\x00\x00\x00xx", 21),
			 21);
	close(fd);
}

/* binlog --once --json of an archive that already has every transaction:
 * the index's files and .partial, the server's GTID position. */
static void assert_once_report(struct it_run *r, MYSQL *m, const char *dir)
{
	char path[400], *pos = it_value(m, "SELECT @@gtid_binlog_pos");
	json_t *j = it_json(r), *index;
	const char *partial;

	snprintf(path, sizeof(path), "%s/index.json", dir);
	assert_non_null(index = json_load_file(path, 0, NULL));
	partial = json_string_value(json_object_get(json_object_get(index, "partial"), "name"));
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
	/* Not 0: the server may still add a binlog checkpoint event (no GTID). */
	assert_true(json_is_integer(json_object_get(j, "bytes_copied")));
	assert_int_equal(json_integer_value(json_object_get(j, "files")),
			 json_array_size(json_object_get(index, "files")));
	assert_non_null(partial);
	assert_string_equal(json_string_value(json_object_get(j, "partial")), partial);
	assert_string_equal(json_string_value(json_object_get(j, "gtid_state")), pos);
	free(pos);
	json_decref(index);
	json_decref(j);
}

static void test_archiver_killed_and_restarted_loses_and_repeats_no_event(void **state)
{
	MYSQL *m = it_connect();
	struct it_child c;
	struct it_run r;
	struct it_bg *writer;
	char dir[320], first[256];
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/killed", workdir);
	it_exec(m, "FLUSH BINARY LOGS");
	assert_int_equal(mysql_query(m, "SHOW MASTER STATUS"), 0);
	assert_non_null(res = mysql_store_result(m));
	assert_non_null(row = mysql_fetch_row(res));
	snprintf(first, sizeof(first), "%s", row[0]);
	mysql_free_result(res);
	it_exec(m, "CREATE DATABASE IF NOT EXISTS " DB "_k");
	it_exec(m, "CREATE TABLE IF NOT EXISTS " DB "_k.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)");
	writer = it_bg_start("BEGIN NOT ATOMIC FOR i IN 1..600 DO INSERT INTO " DB "_k.t (v) VALUES (i); "
			     "IF i % 200 = 0 THEN FLUSH BINARY LOGS; END IF; DO SLEEP(0.005); END FOR; END");
	archiver_start(&c, dir, first);
	it_sleep_ms(1200);
	it_mdlsafe_finish(&c, SIGKILL, 20, &r);
	it_run_release(&r);
	tear_partial(dir);
	archiver_start(&c, dir, first);
	assert_int_equal(it_bg_join(writer), 0);
	wait_caught_up(m, dir);
	archiver_stop(&c);
	/* And once more with --once: nothing new, nothing repeated; its --json
	 * matches the index and the server. */
	{
		char arch[340];
		snprintf(arch, sizeof(arch), "--archive=%s", dir);
		it_mdlsafe(&r, true, "binlog", arch, "--once", "--json", NULL);
		if (r.status != 0)
			fail_msg("binlog --once: exit %d: %s", r.status, r.err);
		assert_once_report(&r, m, dir);
		it_run_release(&r);
	}
	compare_with_server(m, dir);
	it_exec(m, "DROP DATABASE " DB "_k");
	mysql_close(m);
}

static void test_verify_checks_an_archive_and_names_a_damaged_file_and_a_gap(void **state)
{
	json_t *files = archived_files(archive);
	const char *second = json_string_value(json_object_get(json_array_get(files, 1), "name"));
	char copy[340], cmd[1600];
	struct it_run r;

	(void)state;
	it_mdlsafe(&r, false, "verify", archive, NULL);
	if (r.status != 0 || !strstr(r.out, "binlog archive"))
		fail_msg("verify of a good archive: exit %d: %s%s", r.status, r.out, r.err);
	it_run_release(&r);

	/* One byte changed in the middle of a complete file. */
	snprintf(copy, sizeof(copy), "%s/damaged", workdir);
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s' && printf X | dd of='%s/%s' bs=1 seek=300 conv=notrunc 2>/dev/null",
		 archive, copy, copy, second);
	assert_int_equal(system(cmd), 0);
	it_mdlsafe(&r, false, "verify", copy, NULL);
	assert_int_equal(r.status, 10);
	if (!strstr(r.err, second))
		fail_msg("verify does not name the damaged file %s: %s", second, r.err);
	it_run_release(&r);

	/* A file gone from the disk and the index: the chain of rotations breaks. */
	snprintf(copy, sizeof(copy), "%s/gapped", workdir);
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s' && rm '%s/%s'", archive, copy, copy, second);
	assert_int_equal(system(cmd), 0);
	{
		char path[500];
		json_t *idx, *list;
		snprintf(path, sizeof(path), "%s/index.json", copy);
		assert_non_null(idx = json_load_file(path, 0, NULL));
		list = json_object_get(idx, "files");
		assert_int_equal(json_array_remove(list, 1), 0);
		assert_int_equal(json_dump_file(idx, path, 0), 0);
		json_decref(idx);
	}
	it_mdlsafe(&r, false, "verify", copy, NULL);
	assert_int_equal(r.status, 10);
	if (!strstr(r.err, "gap") || !strstr(r.err, second))
		fail_msg("verify does not name the gap at %s: %s", second, r.err);
	it_run_release(&r);
	json_decref(files);
}

/* The server stops (its file ends with STOP, not ROTATE) and comes back:
 * the archiver reconnects and goes on in the new file, losing nothing. */
static void test_archiver_survives_a_server_restart(void **state)
{
	const char *restart = getenv("MDLSAFE_TEST_SANDBOX_RESTART");
	MYSQL *m = it_connect();
	struct it_child c;
	struct it_run r;
	char dir[320], first[256];

	(void)state;
	if (!restart || !*restart)
		skip();
	snprintf(dir, sizeof(dir), "%s/restarted", workdir);
	it_exec(m, "FLUSH BINARY LOGS");
	{
		MYSQL_RES *res = NULL;
		MYSQL_ROW row;
		assert_int_equal(mysql_query(m, "SHOW MASTER STATUS"), 0);
		assert_non_null(res = mysql_store_result(m));
		assert_non_null(row = mysql_fetch_row(res));
		snprintf(first, sizeof(first), "%s", row[0]);
		mysql_free_result(res);
	}
	it_exec(m, "CREATE DATABASE IF NOT EXISTS " DB "_r");
	it_exec(m, "CREATE TABLE IF NOT EXISTS " DB "_r.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)");
	for (int i = 0; i < 100; i++)
		it_exec(m, "INSERT INTO " DB "_r.t (v) VALUES (%d)", i);
	archiver_start(&c, dir, first);
	it_sleep_ms(500);
	mysql_close(m);
	if (system(restart) != 0)
		fail_msg("restarting the sandbox failed: %s", restart);
	m = it_connect();
	for (int i = 0; i < 100; i++)
		it_exec(m, "INSERT INTO " DB "_r.t (v) VALUES (%d)", i);
	wait_caught_up(m, dir);
	archiver_stop(&c);
	it_mdlsafe(&r, false, "verify", dir, NULL);
	if (r.status != 0)
		fail_msg("verify after a server restart: exit %d: %s", r.status, r.err);
	it_run_release(&r);
	compare_with_server(m, dir);
	it_exec(m, "DROP DATABASE " DB "_r");
	mysql_close(m);
}

static void backup_to(MYSQL *m, const char *dir)
{
	struct it_run r;

	it_exec(m, "FLUSH BINARY LOGS");
	it_exec(m, "INSERT INTO " DB ".t (phase, at) VALUES ('prune', NOW(6))");
	it_mdlsafe(&r, true, "backup", "-o", dir, "-B", DB, NULL);
	if (r.status != 0)
		fail_msg("backup %s: exit %d: %s", dir, r.status, r.err);
	it_run_release(&r);
}

static char *binlog_of(const char *backup)
{
	char path[500];
	json_t *m;
	char *f;

	snprintf(path, sizeof(path), "%s/manifest.json", backup);
	assert_non_null(m = json_load_file(path, 0, NULL));
	f = strdup(json_string_value(json_object_get(json_object_get(m, "consistency_point"), "binlog_file")));
	json_decref(m);
	return f;
}

static bool exists(const char *dir, const char *name)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* The server's binlog file `name` as the archive names it: s<server_id>-NAME. */
static void archive_name(char *full, size_t cap, const char *name)
{
	MYSQL *m = it_connect();
	char *sid = it_value(m, "SELECT @@server_id");

	snprintf(full, cap, "s%s-%s", sid ? sid : "?", name);
	free(sid);
	mysql_close(m);
}

static bool archived(const char *dir, const char *name)
{
	char full[400];

	archive_name(full, sizeof(full), name);
	return exists(dir, full);
}

/* The archive's name of the server's binlog file `name`, as the JSON of
 * prune lists it, is among `files`. */
static bool lists_binlog(json_t *files, const char *name)
{
	char full[400];
	size_t i;
	json_t *f;
	bool found = false;

	archive_name(full, sizeof(full), name);
	json_array_foreach(files, i, f)
		found |= !strcmp(json_string_value(f), full);
	return found;
}

/* prune --dry-run --json of the test below: b3 (the rule), b2 (the newest
 * good one) kept, b1 removed, newest first; the binlog file of b1's
 * position listed for removal and b2's not; `removed` counts both kinds. */
static void assert_dry_run_report(struct it_run *r, const char *old_file, const char *keep_file)
{
	json_t *j = it_json(r), *bk = json_object_get(j, "backups"),
	       *files = json_object_get(j, "binlog_files_removed");
	const char *names[] = {"b3", "b2", "b1"};
	const bool kept[] = {true, true, false};

	assert_true(json_is_true(json_object_get(j, "dry_run")));
	assert_int_equal(json_array_size(bk), 3);
	for (size_t i = 0; i < 3; i++) {
		json_t *b = json_array_get(bk, i);
		assert_string_equal(json_string_value(json_object_get(b, "name")), names[i]);
		if (json_is_true(json_object_get(b, "kept")) != kept[i])
			fail_msg("prune --json: %s kept=%d, expected %d: %s", names[i], !kept[i], kept[i], r->out);
	}
	assert_string_equal(json_string_value(json_object_get(json_array_get(bk, 1), "why")), "the newest good backup");
	assert_true(lists_binlog(files, old_file));
	assert_false(lists_binlog(files, keep_file));
	assert_int_equal(json_integer_value(json_object_get(j, "removed")), 1 + json_array_size(files));
	json_decref(j);
}

/* Three backups in one hour, the newest damaged: --keep-hourly 1 keeps the
 * newest (the rule) and the one before it (the newest good one), and the
 * archive keeps every binlog file from that one's position on. */
static void test_prune_keeps_the_newest_good_backup_and_the_binlogs_it_needs(void **state)
{
	MYSQL *m = it_connect();
	char root[300], b[3][340], arch[340], cmd[1200], *keep_file, *old_file;
	struct it_run r;

	(void)state;
	snprintf(root, sizeof(root), "%s/root", workdir);
	snprintf(arch, sizeof(arch), "--archive=%s/killed", workdir);
	assert_int_equal(mkdir(root, 0700), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(b[i], sizeof(b[i]), "%s/b%d", root, i + 1);
		backup_to(m, b[i]);
	}
	it_mdlsafe(&r, true, "binlog", arch, "--once", NULL);
	if (r.status != 0)
		fail_msg("binlog --once: exit %d: %s", r.status, r.err);
	it_run_release(&r);
	snprintf(cmd, sizeof(cmd), "f=$(ls '%s'/" DB "/t.*.sql.zst | head -1) && printf X | dd of=\"$f\" bs=1 seek=20 "
		 "conv=notrunc 2>/dev/null", b[2]);
	assert_int_equal(system(cmd), 0);
	keep_file = binlog_of(b[1]);
	old_file = binlog_of(b[0]);
	snprintf(arch, sizeof(arch), "%s/killed", workdir);
	assert_true(archived(arch, old_file));

	it_mdlsafe(&r, false, "prune", root, "--keep-hourly", "1", "--binlog-archive", arch, "--dry-run", "--json",
		   NULL);
	assert_int_equal(r.status, 0);
	assert_dry_run_report(&r, old_file, keep_file);
	it_run_release(&r);
	assert_true(exists(root, "b1") && archived(arch, old_file));

	it_mdlsafe(&r, false, "prune", root, "--keep-hourly", "1", "--binlog-archive", arch, NULL);
	if (r.status != 0)
		fail_msg("prune: exit %d: %s", r.status, r.err);
	it_run_release(&r);
	assert_false(exists(root, "b1"));
	assert_true(exists(root, "b2"));
	assert_true(exists(root, "b3"));
	assert_false(archived(arch, old_file));
	assert_true(archived(arch, keep_file));
	it_mdlsafe(&r, false, "verify", arch, NULL);
	if (r.status != 0)
		fail_msg("verify of the pruned archive: exit %d: %s", r.status, r.err);
	it_run_release(&r);
	free(keep_file);
	free(old_file);
	mysql_close(m);
}

static void archive_once(const char *dir, const char *first)
{
	char arch[1024], start[300];
	struct it_run r;

	snprintf(arch, sizeof(arch), "--archive=%s", dir);
	snprintf(start, sizeof(start), "--start-file=%s", first);
	it_mdlsafe(&r, true, "binlog", arch, start, "--once", NULL);
	if (r.status != 0)
		fail_msg("binlog --once: exit %d: %s", r.status, r.err);
	it_run_release(&r);
}

/* The one kept backup's position is in the file the archiver is still
 * writing (the .partial): every complete file is older, so all of them go,
 * and no note names a file it does not have. */
static void test_prune_removes_every_complete_file_when_the_kept_backup_is_in_the_partial(void **state)
{
	MYSQL *m = it_connect();
	char root[300], b1[340], arch[340], *first;
	struct it_run r;
	json_t *files;

	(void)state;
	snprintf(root, sizeof(root), "%s/root-partial", workdir);
	snprintf(b1, sizeof(b1), "%s/b1", root);
	snprintf(arch, sizeof(arch), "%s/partial-arch", workdir);
	assert_int_equal(mkdir(root, 0700), 0);
	it_exec(m, "FLUSH BINARY LOGS");
	first = it_binlog_file(m);
	archive_once(arch, first);
	it_exec(m, "FLUSH BINARY LOGS");
	backup_to(m, b1);
	archive_once(arch, first);
	files = archived_files(arch);
	assert_true(json_array_size(files) >= 2);
	json_decref(files);

	it_mdlsafe(&r, false, "prune", root, "--keep-hourly", "1", "--binlog-archive", arch, NULL);
	if (r.status != 0 || strstr(r.out, "(null)") || strstr(r.err, "(null)"))
		fail_msg("prune: exit %d: %s%s", r.status, r.out, r.err);
	it_run_release(&r);
	files = archived_files(arch);
	if (json_array_size(files) != 0)
		fail_msg("prune kept %zu complete files that no kept backup needs", json_array_size(files));
	json_decref(files);
	assert_true(exists(root, "b1"));
	it_mdlsafe(&r, false, "verify", arch, NULL);
	if (r.status != 0)
		fail_msg("verify of the pruned archive: exit %d: %s", r.status, r.err);
	it_run_release(&r);
	free(first);
	mysql_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restore_until_a_time_brings_back_the_rows_before_it_and_none_after),
		cmocka_unit_test(test_restore_until_a_gtid_under_another_name_stops_after_that_transaction),
		cmocka_unit_test(test_a_gap_in_the_archive_is_named_before_anything_is_restored),
		cmocka_unit_test(test_archiver_killed_and_restarted_loses_and_repeats_no_event),
		cmocka_unit_test(test_verify_checks_an_archive_and_names_a_damaged_file_and_a_gap),
		cmocka_unit_test(test_prune_keeps_the_newest_good_backup_and_the_binlogs_it_needs),
		cmocka_unit_test(test_archiver_survives_a_server_restart),
		cmocka_unit_test(test_prune_removes_every_complete_file_when_the_kept_backup_is_in_the_partial),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
