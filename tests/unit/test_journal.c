/* Unit tests for the restore journal: what a line on disk looks like, what a
 * resumed restore gets back after a crash, and who may hold the journal. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "restore/journal.h"

/* ---- fixture: a private temporary directory per test -------------------- */

struct fx {
	char base[200];  /* mkdtemp result, removed afterwards */
	char path[260];  /* base/bk.restore-journal */
	char mnt[220];   /* non-empty while a tmpfs is mounted there */
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");

	if (!fx)
		return -1;
	if (!tmp || !*tmp || strlen(tmp) > 150)
		tmp = "/tmp";
	snprintf(fx->base, sizeof(fx->base), "%s/test_journal.XXXXXX", tmp);
	if (!mkdtemp(fx->base)) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof(fx->path), "%s/bk.restore-journal", fx->base);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	if (fx->mnt[0])
		umount2(fx->mnt, MNT_DETACH);
	nftw(fx->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static json_t *header_new(void)
{
	json_t *h = json_pack("{s:s,s:s,s:{s:i,s:b}}", "backup", "0123456789abcdef", "target",
			      "db1.example.com:3306", "options", "threads", 4, "drop_tables", 0);

	assert_non_null(h);
	return h;
}

static struct journal *create_ok(const char *path)
{
	json_t *h = header_new();
	struct journal *j = NULL;
	struct ms_err e;

	if (journal_create(path, h, &j, &e) != 0)
		fail_msg("create %s: %s", path, e.msg);
	json_decref(h);
	assert_non_null(j);
	return j;
}

static struct journal *resume_ok(const char *path, json_t **header)
{
	struct journal *j = NULL;
	json_t *h = NULL;
	struct ms_err e;

	if (journal_open_resume(path, &j, &h, &e) != 0)
		fail_msg("resume %s: %s", path, e.msg);
	assert_non_null(j);
	assert_non_null(h);
	if (header)
		*header = h;
	else
		json_decref(h);
	return j;
}

/* Expects resume to fail with status; returns nothing, checks nothing leaked out. */
static void resume_fails(const char *path, enum ms_status status, struct ms_err *e)
{
	struct journal *j = (struct journal *)1;
	json_t *h = (json_t *)1;

	assert_int_equal(journal_open_resume(path, &j, &h, e), -1);
	assert_null(j);
	assert_null(h);
	if (e->status != status)
		fail_msg("expected %s, got %s: %s", ms_status_name(status), ms_status_name(e->status), e->msg);
}

static void record_ok(struct journal *j, enum journal_kind kind, const char *key)
{
	struct ms_err e;

	if (journal_record(j, kind, key, &e) != 0)
		fail_msg("record %s %s: %s", journal_kind_name(kind), key, e.msg);
}

static bool exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

static off_t size_of(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_size;
}

/* Whole file, NUL-terminated (small test files only). */
static char *file_read(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *data;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, fp), (size_t)n);
	data[n] = '\0';
	fclose(fp);
	return data;
}

static void file_append(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void file_appends(const char *path, const char *text)
{
	file_append(path, text, strlen(text));
}

/* Every line ends in '\n' and is a JSON object; returns how many there are. */
static size_t lines_all_valid(const char *path)
{
	char *data = file_read(path), *p = data;
	size_t n = 0;

	while (*p) {
		char *nl = strchr(p, '\n');
		json_error_t jerr;
		json_t *o;

		if (!nl)
			fail_msg("%s: line %zu has no newline: \"%s\"", path, n + 1, p);
		o = json_loadb(p, (size_t)(nl - p), 0, &jerr);
		if (!json_is_object(o))
			fail_msg("%s: line %zu is not a JSON object: %s", path, n + 1, jerr.text);
		json_decref(o);
		n++;
		p = nl + 1;
	}
	free(data);
	return n;
}

/* ---- creating ----------------------------------------------------------- */

static void test_create_writes_the_header_as_the_first_line(void **state)
{
	struct fx *fx = *state;
	struct journal *j = create_ok(fx->path);
	json_t *want = header_new(), *got;
	struct stat sb;
	char *text;

	assert_string_equal(journal_path(j), fx->path);
	assert_int_equal(journal_count(j), 0);
	text = file_read(fx->path);
	/* Marked first, so `head -1` tells what the file is. */
	assert_true(!strncmp(text, "{\"journal\":\"mdlsafe-restore\",\"version\":1,", 41));
	assert_int_equal(lines_all_valid(fx->path), 1);
	got = json_loads(text, 0, NULL);
	json_object_set_new(want, "journal", json_string(JOURNAL_MAGIC));
	json_object_set_new(want, "version", json_integer(JOURNAL_VERSION));
	assert_true(json_equal(got, want));
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	free(text);
	json_decref(got);
	json_decref(want);
	journal_close(j);
}

static void test_create_sets_journal_and_version_whatever_the_caller_gave(void **state)
{
	struct fx *fx = *state;
	json_t *h = json_pack("{s:s,s:i,s:s}", "journal", "other", "version", 99, "backup", "x");
	struct journal *j = NULL;
	json_t *back = NULL;
	struct ms_err e;

	assert_int_equal(journal_create(fx->path, h, &j, &e), 0);
	journal_close(j);
	j = resume_ok(fx->path, &back);
	assert_string_equal(json_string_value(json_object_get(back, "journal")), "mdlsafe-restore");
	assert_int_equal(json_integer_value(json_object_get(back, "version")), 1);
	assert_string_equal(json_string_value(json_object_get(back, "backup")), "x");
	assert_int_equal(json_object_size(back), 3);
	json_decref(back);
	json_decref(h);
	journal_close(j);
}

static void test_create_over_an_existing_journal_says_to_resume_or_delete_it(void **state)
{
	struct fx *fx = *state;
	struct journal *j = create_ok(fx->path), *j2 = (struct journal *)1;
	json_t *h = header_new();
	char *before, *after;
	struct ms_err e;

	record_ok(j, JOURNAL_CHUNK_DONE, "shop/orders.00000.sql.zst");
	journal_close(j);
	before = file_read(fx->path);
	assert_int_equal(journal_create(fx->path, h, &j2, &e), -1);
	assert_null(j2);
	assert_int_equal(e.status, MS_USAGE);
	assert_non_null(strstr(e.msg, fx->path));
	assert_non_null(strstr(e.msg, "previous restore was interrupted"));
	assert_non_null(strstr(e.msg, "--resume"));
	assert_non_null(strstr(e.msg, "delete the journal"));
	after = file_read(fx->path);
	assert_string_equal(before, after);
	free(before);
	free(after);
	json_decref(h);
}

static void test_create_in_a_missing_directory_is_a_usage_error(void **state)
{
	struct fx *fx = *state;
	json_t *h = header_new();
	struct journal *j = NULL;
	char path[300];
	struct ms_err e;

	snprintf(path, sizeof(path), "%s/no/such/dir/j", fx->base);
	assert_int_equal(journal_create(path, h, &j, &e), -1);
	assert_null(j);
	assert_int_equal(e.status, MS_USAGE);
	assert_non_null(strstr(e.msg, "does not exist"));
	assert_non_null(strstr(e.msg, path));
	json_decref(h);
}

static void test_header_that_is_not_an_object_creates_nothing(void **state)
{
	struct fx *fx = *state;
	json_t *h = json_string("not an object");
	struct journal *j = NULL;
	struct ms_err e;

	assert_int_equal(journal_create(fx->path, h, &j, &e), -1);
	assert_int_equal(e.status, MS_INTERNAL);
	assert_false(exists(fx->path));
	json_decref(h);
}

/* ---- recording ---------------------------------------------------------- */

static void test_recorded_entries_are_found_and_unknown_kinds_or_keys_are_not(void **state)
{
	struct fx *fx = *state;
	struct journal *j = create_ok(fx->path);

	assert_false(journal_has(j, JOURNAL_CHUNK_DONE, "shop/orders.00003.sql.zst"));
	record_ok(j, JOURNAL_CHUNK_DONE, "shop/orders.00003.sql.zst");
	record_ok(j, JOURNAL_TABLE_CREATED, "shop.orders");
	record_ok(j, JOURNAL_SWAPPED, "c");
	assert_true(journal_has(j, JOURNAL_CHUNK_DONE, "shop/orders.00003.sql.zst"));
	assert_true(journal_has(j, JOURNAL_TABLE_CREATED, "shop.orders"));
	assert_true(journal_has(j, JOURNAL_SWAPPED, "c"));
	/* Same key, other kind; same kind, other key; prefixes; a kind outside the enum. */
	assert_false(journal_has(j, JOURNAL_TABLE_CREATED, "shop/orders.00003.sql.zst"));
	assert_false(journal_has(j, JOURNAL_CHUNK_DONE, "shop/orders.00004.sql.zst"));
	assert_false(journal_has(j, JOURNAL_CHUNK_DONE, "shop/orders.00003.sql"));
	assert_false(journal_has(j, JOURNAL_KEYS_ADDED, "shop/orders.00003.sql.zst"));
	assert_false(journal_has(j, JOURNAL_OBJECT_DONE, "c"));
	assert_false(journal_has(j, JOURNAL_KIND_COUNT, "shop.orders"));
	assert_false(journal_has(j, JOURNAL_CHUNK_DONE, ""));
	assert_int_equal(journal_count(j), 3);
	journal_close(j);
}

static void test_each_entry_is_one_json_line_with_k_and_v(void **state)
{
	struct fx *fx = *state;
	struct journal *j = create_ok(fx->path);
	char *text, *second;

	record_ok(j, JOURNAL_CHUNK_DONE, "shop/orders.00003.sql.zst");
	record_ok(j, JOURNAL_TABLE_CREATED, "caf\xc3\xa9.\"odd\nname\"");
	journal_close(j);
	text = file_read(fx->path);
	second = strchr(text, '\n') + 1;
	assert_string_equal(second,
			    "{\"k\":\"chunk_done\",\"v\":\"shop/orders.00003.sql.zst\"}\n"
			    "{\"k\":\"table_created\",\"v\":\"caf\xc3\xa9.\\\"odd\\nname\\\"\"}\n");
	free(text);
}

static void test_recording_an_entry_twice_writes_it_once(void **state)
{
	struct fx *fx = *state;
	struct journal *j = create_ok(fx->path);

	record_ok(j, JOURNAL_CHUNK_DONE, "a");
	record_ok(j, JOURNAL_CHUNK_DONE, "a");
	assert_int_equal(journal_count(j), 1);
	journal_close(j);
	assert_int_equal(lines_all_valid(fx->path), 2);

	/* Also when the first one came from the file. */
	j = resume_ok(fx->path, NULL);
	record_ok(j, JOURNAL_CHUNK_DONE, "a");
	journal_close(j);
	assert_int_equal(lines_all_valid(fx->path), 2);
}

static void test_invalid_utf8_is_refused_and_nothing_is_written(void **state)
{
	struct fx *fx = *state;
	struct journal *j = create_ok(fx->path);
	off_t size = size_of(fx->path);
	struct ms_err e;

	assert_int_equal(journal_record(j, JOURNAL_CHUNK_DONE, "bad\xff.sql", &e), -1);
	assert_int_equal(e.status, MS_INTERNAL);
	assert_int_equal(journal_record(j, JOURNAL_KIND_COUNT, "x", &e), -1);
	assert_false(journal_has(j, JOURNAL_CHUNK_DONE, "bad\xff.sql"));
	assert_int_equal(size_of(fx->path), size);
	/* The journal stays usable. */
	record_ok(j, JOURNAL_CHUNK_DONE, "good.sql");
	journal_close(j);
	assert_int_equal(lines_all_valid(fx->path), 2);
}

/* ---- resuming ----------------------------------------------------------- */

static void test_resume_returns_the_header_and_the_recorded_entries(void **state)
{
	struct fx *fx = *state;
	struct journal *j = create_ok(fx->path);
	json_t *want = header_new(), *got = NULL;

	record_ok(j, JOURNAL_TABLE_CREATED, "shop.orders");
	record_ok(j, JOURNAL_CHUNK_DONE, "shop/orders.00000.sql.zst");
	record_ok(j, JOURNAL_CHUNK_DONE, "shop/orders.00001.sql.zst");
	journal_close(j);

	j = resume_ok(fx->path, &got);
	json_object_set_new(want, "journal", json_string(JOURNAL_MAGIC));
	json_object_set_new(want, "version", json_integer(JOURNAL_VERSION));
	assert_true(json_equal(got, want));
	assert_int_equal(journal_count(j), 3);
	assert_true(journal_has(j, JOURNAL_TABLE_CREATED, "shop.orders"));
	assert_true(journal_has(j, JOURNAL_CHUNK_DONE, "shop/orders.00000.sql.zst"));
	assert_true(journal_has(j, JOURNAL_CHUNK_DONE, "shop/orders.00001.sql.zst"));
	assert_false(journal_has(j, JOURNAL_CHUNK_DONE, "shop/orders.00002.sql.zst"));

	/* The resumed run adds to the same file; the next resume sees both. */
	record_ok(j, JOURNAL_CHUNK_DONE, "shop/orders.00002.sql.zst");
	journal_close(j);
	j = resume_ok(fx->path, NULL);
	assert_int_equal(journal_count(j), 4);
	assert_true(journal_has(j, JOURNAL_CHUNK_DONE, "shop/orders.00002.sql.zst"));
	journal_close(j);
	assert_int_equal(lines_all_valid(fx->path), 5);
	json_decref(got);
	json_decref(want);
}

static void test_resume_without_a_journal_says_there_is_nothing_to_resume(void **state)
{
	struct fx *fx = *state;
	struct ms_err e;

	resume_fails(fx->path, MS_USAGE, &e);
	assert_non_null(strstr(e.msg, "nothing to resume"));
	assert_non_null(strstr(e.msg, fx->path));
	assert_false(exists(fx->path));
}

/*
 * The incident: a restore killed while appending. Its journal ends in tail.
 * Resume must see the two entries before it, cut tail off the file, and
 * append after that on a line of its own.
 */
static void torn_tail_is_dropped(const char *path, const void *tail, size_t tail_len)
{
	struct journal *j = create_ok(path);
	off_t good;

	record_ok(j, JOURNAL_CHUNK_DONE, "a");
	record_ok(j, JOURNAL_CHUNK_DONE, "b");
	journal_close(j);
	good = size_of(path);
	file_append(path, tail, tail_len);

	j = resume_ok(path, NULL);
	assert_int_equal(journal_count(j), 2);
	assert_true(journal_has(j, JOURNAL_CHUNK_DONE, "a"));
	assert_true(journal_has(j, JOURNAL_CHUNK_DONE, "b"));
	assert_int_equal(size_of(path), good);
	record_ok(j, JOURNAL_CHUNK_DONE, "c");
	journal_close(j);

	assert_int_equal(lines_all_valid(path), 4);
	j = resume_ok(path, NULL);
	assert_int_equal(journal_count(j), 3);
	assert_true(journal_has(j, JOURNAL_CHUNK_DONE, "c"));
	journal_close(j);
}

static void test_torn_last_line_of_garbage_is_dropped_and_appends_stay_valid(void **state)
{
	struct fx *fx = *state;
	char path[300];

	torn_tail_is_dropped(fx->path, "\x01garbage", 8);
	/* Some filesystems show a crash's unwritten tail as zeros. */
	snprintf(path, sizeof(path), "%s/zeros", fx->base);
	torn_tail_is_dropped(path, "\0\0\0\0\0\0\0\0\0\0\0\0", 12);
}

static void test_half_written_entry_is_dropped_and_appends_stay_valid(void **state)
{
	struct fx *fx = *state;
	const char *half = "{\"k\":\"chunk_done\",\"v\":\"shop/ord";

	torn_tail_is_dropped(fx->path, half, strlen(half));
}

static void test_invalid_json_last_line_with_its_newline_is_dropped(void **state)
{
	struct fx *fx = *state;
	const char *half = "{\"k\":\"chunk_done\",\"v\":\"sh\n";

	torn_tail_is_dropped(fx->path, half, strlen(half));
}

static void test_entry_missing_only_its_newline_was_never_recorded(void **state)
{
	struct fx *fx = *state;
	const char *whole = "{\"k\":\"chunk_done\",\"v\":\"z\"}";
	struct journal *j;

	torn_tail_is_dropped(fx->path, whole, strlen(whole));
	j = resume_ok(fx->path, NULL);
	assert_false(journal_has(j, JOURNAL_CHUNK_DONE, "z"));
	journal_close(j);
}

static void test_damaged_middle_line_fails_naming_the_line(void **state)
{
	struct fx *fx = *state;
	struct journal *j = create_ok(fx->path);
	off_t size;
	struct ms_err e;

	record_ok(j, JOURNAL_CHUNK_DONE, "a");
	journal_close(j);
	file_appends(fx->path, "{\"k\":\"chunk_done\",\"v\n{\"k\":\"chunk_done\",\"v\":\"c\"}\n");
	size = size_of(fx->path);
	resume_fails(fx->path, MS_INCOMPLETE, &e);
	assert_non_null(strstr(e.msg, "damaged at line 3"));
	assert_non_null(strstr(e.msg, fx->path));
	/* Nothing is cut from a journal that is damaged, not torn. */
	assert_int_equal(size_of(fx->path), size);
}

static void test_damage_followed_by_a_torn_line_is_still_damage(void **state)
{
	struct fx *fx = *state;
	struct journal *j = create_ok(fx->path);
	struct ms_err e;

	journal_close(j);
	file_appends(fx->path, "oops\n{\"k\":\"chunk_d");
	resume_fails(fx->path, MS_INCOMPLETE, &e);
	assert_non_null(strstr(e.msg, "damaged at line 2"));
}

static void test_line_that_is_not_an_entry_is_damage(void **state)
{
	struct fx *fx = *state;
	struct journal *j = create_ok(fx->path);
	struct ms_err e;

	journal_close(j);
	file_appends(fx->path, "{\"k\":\"chunk_done\",\"v\":\"a\"}\n{\"k\":1,\"v\":\"b\"}\n");
	resume_fails(fx->path, MS_INCOMPLETE, &e);
	assert_non_null(strstr(e.msg, "damaged at line 3"));
}

static void test_journal_without_a_complete_header_cannot_be_resumed(void **state)
{
	struct fx *fx = *state;
	char path[300];
	struct ms_err e;

	/* Killed between creating the file and writing the header. */
	file_appends(fx->path, "");
	resume_fails(fx->path, MS_INCOMPLETE, &e);
	assert_non_null(strstr(e.msg, "no complete header"));
	assert_non_null(strstr(e.msg, "delete it"));

	snprintf(path, sizeof(path), "%s/torn-header", fx->base);
	file_appends(path, "{\"journal\":\"mdlsafe-res");
	resume_fails(path, MS_INCOMPLETE, &e);
	assert_non_null(strstr(e.msg, "no complete header"));
}

static void test_file_that_is_not_a_journal_is_refused(void **state)
{
	struct fx *fx = *state;
	char path[300];
	struct ms_err e;

	file_appends(fx->path, "{\"hello\":1}\n");
	resume_fails(fx->path, MS_USAGE, &e);
	assert_non_null(strstr(e.msg, "not an mdlsafe restore journal"));

	snprintf(path, sizeof(path), "%s/array", fx->base);
	file_appends(path, "[1,2]\n");
	resume_fails(path, MS_USAGE, &e);
	assert_non_null(strstr(e.msg, "not an mdlsafe restore journal"));

	resume_fails(fx->base, MS_USAGE, &e);
	assert_non_null(strstr(e.msg, "not a restore journal"));
}

static void test_journal_from_a_newer_mdlsafe_is_refused(void **state)
{
	struct fx *fx = *state;
	struct ms_err e;

	file_appends(fx->path, "{\"journal\":\"mdlsafe-restore\",\"version\":2}\n");
	resume_fails(fx->path, MS_USAGE, &e);
	assert_non_null(strstr(e.msg, "version 2, newer"));
}

/* ---- locking ------------------------------------------------------------ */

static void test_flock_conflicts_between_two_opens_in_one_process(void **state)
{
	struct fx *fx = *state;
	int a, b;

	/* The premise of the next test: flock locks belong to an open file
	 * description, so two open()s of one path conflict even in one process. */
	file_appends(fx->path, "x");
	a = open(fx->path, O_RDONLY);
	b = open(fx->path, O_RDONLY);
	assert_true(a >= 0 && b >= 0);
	assert_int_equal(flock(a, LOCK_EX | LOCK_NB), 0);
	assert_int_equal(flock(b, LOCK_EX | LOCK_NB), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	close(a);
	assert_int_equal(flock(b, LOCK_EX | LOCK_NB), 0);
	close(b);
}

static void test_second_open_while_the_journal_is_held_is_busy(void **state)
{
	struct fx *fx = *state;
	struct journal *j = create_ok(fx->path);
	struct ms_err e;

	resume_fails(fx->path, MS_BUSY, &e);
	assert_non_null(strstr(e.msg, "another restore is using the journal"));
	assert_non_null(strstr(e.msg, fx->path));
	journal_close(j);

	/* Released by close; a resumed journal is held the same way. */
	j = resume_ok(fx->path, NULL);
	resume_fails(fx->path, MS_BUSY, &e);
	journal_close(j);
	j = resume_ok(fx->path, NULL);
	journal_close(j);
}

static void test_other_process_is_busy_while_the_journal_is_held(void **state)
{
	struct fx *fx = *state;
	struct journal *j = create_ok(fx->path);
	int status = -1;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct journal *j2 = NULL;
		json_t *h = NULL;
		struct ms_err e;
		int rc = journal_open_resume(fx->path, &j2, &h, &e);
		_exit(rc == -1 && e.status == MS_BUSY ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	journal_close(j);
}

/* ---- finishing ---------------------------------------------------------- */

static void test_finish_with_remove_deletes_the_journal(void **state)
{
	struct fx *fx = *state;
	struct journal *j = create_ok(fx->path);
	struct ms_err e;

	record_ok(j, JOURNAL_CHUNK_DONE, "a");
	assert_int_equal(journal_finish(j, true, &e), 0);
	assert_false(exists(fx->path));
	assert_int_equal(journal_record(j, JOURNAL_CHUNK_DONE, "b", &e), -1);
	journal_close(j);
	/* The next restore starts afresh. */
	j = create_ok(fx->path);
	journal_close(j);
}

static void test_finish_without_remove_keeps_it_for_resume(void **state)
{
	struct fx *fx = *state;
	struct journal *j = create_ok(fx->path);
	struct ms_err e;

	record_ok(j, JOURNAL_CHUNK_DONE, "a");
	assert_int_equal(journal_finish(j, false, &e), 0);
	assert_int_equal(journal_record(j, JOURNAL_CHUNK_DONE, "b", &e), -1);
	journal_close(j);
	j = resume_ok(fx->path, NULL);
	assert_true(journal_has(j, JOURNAL_CHUNK_DONE, "a"));
	assert_false(journal_has(j, JOURNAL_CHUNK_DONE, "b"));
	journal_close(j);
}

static void test_close_of_null_does_nothing(void **state)
{
	(void)state;
	journal_close(NULL);
}

/* ---- concurrency -------------------------------------------------------- */

#define THREADS 4
#define PER_THREAD 1000

struct worker {
	struct journal *j;
	int id;
	char msg[1024]; /* empty when all went well */
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	char key[64], prev[64] = "";

	for (int i = 0; i < PER_THREAD && !w->msg[0]; i++) {
		struct ms_err e;

		snprintf(key, sizeof(key), "db%d/t.%05d.sql.zst", w->id, i);
		if (journal_record(w->j, JOURNAL_CHUNK_DONE, key, &e) != 0)
			snprintf(w->msg, sizeof(w->msg), "record %s: %s", key, e.msg);
		else if (prev[0] && !journal_has(w->j, JOURNAL_CHUNK_DONE, prev))
			snprintf(w->msg, sizeof(w->msg), "lost %s", prev);
		memcpy(prev, key, sizeof(prev));
	}
	return NULL;
}

static void test_records_from_four_threads_are_all_resumed(void **state)
{
	struct fx *fx = *state;
	struct journal *j = create_ok(fx->path);
	struct worker w[THREADS];
	pthread_t t[THREADS];
	char key[64];

	for (int i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].j = j;
		w[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < THREADS; i++)
		if (w[i].msg[0])
			fail_msg("worker %d: %s", i, w[i].msg);
	assert_int_equal(journal_count(j), THREADS * PER_THREAD);
	journal_close(j);

	assert_int_equal(lines_all_valid(fx->path), THREADS * PER_THREAD + 1);
	j = resume_ok(fx->path, NULL);
	assert_int_equal(journal_count(j), THREADS * PER_THREAD);
	for (int i = 0; i < THREADS; i++) {
		for (int k = 0; k < PER_THREAD; k++) {
			snprintf(key, sizeof(key), "db%d/t.%05d.sql.zst", i, k);
			if (!journal_has(j, JOURNAL_CHUNK_DONE, key))
				fail_msg("resume lost %s", key);
		}
	}
	assert_false(journal_has(j, JOURNAL_CHUNK_DONE, "db4/t.00000.sql.zst"));
	journal_close(j);
}

/* ---- disk full ---------------------------------------------------------- */

static void test_full_disk_fails_naming_the_journal_and_leaves_it_resumable(void **state)
{
	struct fx *fx = *state;
	char path[300], key[3000];
	struct journal *j;
	unsigned long done = 0;
	struct ms_err e;
	int rc = 0;

	snprintf(fx->mnt, sizeof(fx->mnt), "%s/fs", fx->base);
	assert_int_equal(mkdir(fx->mnt, 0700), 0);
	if (mount("tmpfs", fx->mnt, "tmpfs", 0, "size=64k") != 0) {
		/* Needs root (CAP_SYS_ADMIN); elsewhere nothing to test with. */
		fx->mnt[0] = '\0';
		skip();
	}
	snprintf(path, sizeof(path), "%s/j", fx->mnt);
	j = create_ok(path);
	/* Lines that straddle pages, so the last write is cut short. */
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	while (rc == 0 && done < 1000) {
		snprintf(key, 16, "%08lu", done);
		key[8] = 'k';
		rc = journal_record(j, JOURNAL_CHUNK_DONE, key, &e);
		if (rc == 0)
			done++;
	}
	assert_int_equal(rc, -1);
	assert_int_equal(e.status, MS_IO);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "No space left on device"));
	assert_non_null(strstr(e.msg, "--resume"));
	journal_close(j);

	/* The cut-short line was taken back: every line is whole. */
	assert_int_equal(lines_all_valid(path), done + 1);
	j = resume_ok(path, NULL);
	assert_int_equal(journal_count(j), done);
	journal_close(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_create_writes_the_header_as_the_first_line),
		T(test_create_sets_journal_and_version_whatever_the_caller_gave),
		T(test_create_over_an_existing_journal_says_to_resume_or_delete_it),
		T(test_create_in_a_missing_directory_is_a_usage_error),
		T(test_header_that_is_not_an_object_creates_nothing),
		T(test_recorded_entries_are_found_and_unknown_kinds_or_keys_are_not),
		T(test_each_entry_is_one_json_line_with_k_and_v),
		T(test_recording_an_entry_twice_writes_it_once),
		T(test_invalid_utf8_is_refused_and_nothing_is_written),
		T(test_resume_returns_the_header_and_the_recorded_entries),
		T(test_resume_without_a_journal_says_there_is_nothing_to_resume),
		T(test_torn_last_line_of_garbage_is_dropped_and_appends_stay_valid),
		T(test_half_written_entry_is_dropped_and_appends_stay_valid),
		T(test_invalid_json_last_line_with_its_newline_is_dropped),
		T(test_entry_missing_only_its_newline_was_never_recorded),
		T(test_damaged_middle_line_fails_naming_the_line),
		T(test_damage_followed_by_a_torn_line_is_still_damage),
		T(test_line_that_is_not_an_entry_is_damage),
		T(test_journal_without_a_complete_header_cannot_be_resumed),
		T(test_file_that_is_not_a_journal_is_refused),
		T(test_journal_from_a_newer_mdlsafe_is_refused),
		T(test_flock_conflicts_between_two_opens_in_one_process),
		T(test_second_open_while_the_journal_is_held_is_busy),
		T(test_other_process_is_busy_while_the_journal_is_held),
		T(test_finish_with_remove_deletes_the_journal),
		T(test_finish_without_remove_keeps_it_for_resume),
		T(test_close_of_null_does_nothing),
		T(test_records_from_four_threads_are_all_resumed),
		T(test_full_disk_fails_naming_the_journal_and_leaves_it_resumable),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
