/* The backup directory as an attacker or a careless operator leaves it: a
 * DIR.partial made by someone else, a directory swapped for a link, a FIFO
 * for a manifest, a manifest larger than any fixed buffer. mdlsafe backs up,
 * verifies and restores through each, or refuses with a one-line reason. */
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define SRC "it_bdir_src"
#define DST "it_bdir_dst"

/* A restore that waits on a FIFO is killed after this long, failing the test. */
#define HANG_LIMIT_S 60.0

static char workdir[256];
static char backup_dir[320];

static void must_run(const char *cmd)
{
	if (system(cmd) != 0)
		fail_msg("%s failed", cmd);
}

/* A private copy of the backup to damage. */
static void copy_backup(const char *name, char *out, size_t cap)
{
	char cmd[1200];

	snprintf(out, cap, "%s/%s", workdir, name);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", out, backup_dir, out);
	must_run(cmd);
}

static void assert_not_restored(MYSQL *m)
{
	char *n = it_value(m, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '" DST "'");

	assert_string_equal(n, "0");
	free(n);
}

static int group_setup(void **state)
{
	MYSQL *m = it_connect();
	struct it_run r;

	(void)state;
	snprintf(workdir, sizeof(workdir), "/tmp/mdlsafe-it-bdir-XXXXXX");
	if (!mkdtemp(workdir))
		return -1;
	snprintf(backup_dir, sizeof(backup_dir), "%s/good", workdir);
	it_fresh_db(m, SRC);
	it_exec(m, "CREATE TABLE " SRC ".t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB");
	it_exec(m, "INSERT INTO " SRC ".t VALUES (1, 'one'), (2, 'two'), (3, 'three')");
	it_exec(m, "DROP DATABASE IF EXISTS " DST);
	mysql_close(m);
	it_mdlsafe(&r, true, "backup", "-o", backup_dir, "-B", SRC, NULL);
	if (r.status != 0)
		fail_msg("backup: exit %d: %s", r.status, r.err);
	it_run_release(&r);
	return 0;
}

static int group_teardown(void **state)
{
	MYSQL *m = it_connect();
	char cmd[300];

	(void)state;
	it_exec(m, "DROP DATABASE IF EXISTS " SRC);
	it_exec(m, "DROP DATABASE IF EXISTS " DST);
	mysql_close(m);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A backup into a DIR.partial that another user made (or could write)
 * would be theirs to change before a restore runs it. */
static void test_backup_refuses_a_partial_directory_it_did_not_make_private(void **state)
{
	char dir[400], partial[420];
	struct it_run r;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/adopted", workdir);
	snprintf(partial, sizeof(partial), "%s.partial", dir);
	assert_int_equal(mkdir(partial, 0700), 0);
	assert_int_equal(chmod(partial, 0777), 0);
	it_mdlsafe(&r, true, "backup", "-o", dir, "-B", SRC, NULL);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "can be written by other users"));
	assert_non_null(strstr(r.err, "remove it or choose another directory"));
	it_run_release(&r);

	if (geteuid() == 0) {
		assert_int_equal(chmod(partial, 0700), 0);
		assert_int_equal(chown(partial, 65534, 65534), 0);
		it_mdlsafe(&r, true, "backup", "-o", dir, "-B", SRC, NULL);
		assert_int_equal(r.status, 2);
		assert_non_null(strstr(r.err, "belongs to uid 65534"));
		it_run_release(&r);
	}
	assert_false(access(dir, F_OK) == 0);

	/* Removed, as the message says: the backup goes through. */
	assert_int_equal(rmdir(partial), 0);
	it_mdlsafe(&r, true, "backup", "-o", dir, "-B", SRC, NULL);
	if (r.status != 0)
		fail_msg("backup after removing the directory: exit %d: %s", r.status, r.err);
	it_run_release(&r);
}

static void test_restore_refuses_files_reached_through_a_linked_directory(void **state)
{
	MYSQL *m = it_connect();
	char copy[400], db_dir[500], elsewhere[500], cmd[2600];
	struct it_run r;

	(void)state;
	copy_backup("linked", copy, sizeof(copy));
	snprintf(db_dir, sizeof(db_dir), "%.399s/" SRC, copy);
	snprintf(elsewhere, sizeof(elsewhere), "%.255s/elsewhere", workdir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mv '%s' '%s' && ln -s '%s' '%s'", elsewhere, db_dir,
		 elsewhere, elsewhere, db_dir);
	must_run(cmd);

	it_mdlsafe(&r, false, "verify", copy, NULL);
	assert_int_equal(r.status, 10);
	assert_non_null(strstr(r.err, SRC "/"));
	assert_non_null(strstr(r.err, "symbolic link"));
	it_run_release(&r);

	it_mdlsafe(&r, true, "restore", copy, "--rename", SRC ":" DST, NULL);
	assert_int_equal(r.status, 10);
	assert_non_null(strstr(r.err, "symbolic link"));
	assert_non_null(strstr(r.err, "nothing was sent"));
	it_run_release(&r);
	assert_not_restored(m);
	mysql_close(m);
}

/* Runs mdlsafe, failing the test if it is still running after HANG_LIMIT_S. */
static void run_bounded(struct it_run *r, const char *const *args)
{
	struct it_child c;

	it_mdlsafe_start(&c, args, NULL);
	it_mdlsafe_finish(&c, 0, HANG_LIMIT_S, r);
}

static void test_a_fifo_for_a_manifest_fails_verify_and_restore_instead_of_hanging(void **state)
{
	MYSQL *m = it_connect();
	char copy[400], manifest[500], cnf[600];
	struct it_run r;

	(void)state;
	copy_backup("fifo", copy, sizeof(copy));
	snprintf(manifest, sizeof(manifest), "%s/manifest.json", copy);
	snprintf(cnf, sizeof(cnf), "--defaults-file=%s", it_cnf());
	assert_int_equal(unlink(manifest), 0);
	assert_int_equal(mkfifo(manifest, 0600), 0);
	{
		const char *args[] = { "verify", copy, NULL };

		run_bounded(&r, args);
		assert_int_equal(r.status, 10);
		assert_non_null(strstr(r.err, "manifest.json: is not a regular file"));
		it_run_release(&r);
	}
	{
		const char *args[] = { "restore", copy, "--rename", SRC ":" DST, cnf, NULL };

		run_bounded(&r, args);
		assert_int_equal(r.status, 10);
		assert_non_null(strstr(r.err, "not a regular file"));
		it_run_release(&r);
	}
	{
		/* --physical reads the database name before anything else. */
		const char *args[] = { "restore", copy, "--physical", "--tables", "t", cnf, NULL };

		run_bounded(&r, args);
		assert_int_equal(r.status, 2);
		assert_non_null(strstr(r.err, "cannot read the backup's database"));
		it_run_release(&r);
	}
	assert_not_restored(m);
	mysql_close(m);
}

/* Restore used to stop reading a manifest at 64 MiB; a server with about
 * 72k tables has one that large. */
static void test_restore_reads_a_manifest_larger_than_64_mib(void **state)
{
	MYSQL *m = it_connect();
	size_t pad_len = (size_t)70 << 20;
	char copy[400], manifest[500], *pad = malloc(pad_len + 1), *n;
	json_t *j;
	struct it_run r;

	(void)state;
	assert_non_null(pad);
	copy_backup("large", copy, sizeof(copy));
	snprintf(manifest, sizeof(manifest), "%s/manifest.json", copy);
	j = json_load_file(manifest, 0, NULL);
	assert_non_null(j);
	memset(pad, 'x', pad_len);
	pad[pad_len] = '\0';
	/* An unknown key: ignored by verify and restore, counted in the size. */
	json_object_set_new(j, "padding", json_string(pad));
	free(pad);
	assert_int_equal(json_dump_file(j, manifest, JSON_INDENT(2)), 0);
	json_decref(j);

	it_mdlsafe(&r, true, "restore", copy, "--rename", SRC ":" DST, NULL);
	if (r.status != 0)
		fail_msg("restore: exit %d: %s", r.status, r.err);
	it_run_release(&r);
	n = it_value(m, "SELECT COUNT(*) FROM " DST ".t");
	assert_string_equal(n, "3");
	free(n);
	it_exec(m, "DROP DATABASE " DST);
	mysql_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backup_refuses_a_partial_directory_it_did_not_make_private),
		cmocka_unit_test(test_restore_refuses_files_reached_through_a_linked_directory),
		cmocka_unit_test(test_a_fifo_for_a_manifest_fails_verify_and_restore_instead_of_hanging),
		cmocka_unit_test(test_restore_reads_a_manifest_larger_than_64_mib),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
