/* Unit tests for the backup directory writer: what lands on disk, when DIR
 * appears, who may write it, and what happens when the disk fills up. */

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
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "store/store.h"

/* ---- fixture: a private temporary directory per test -------------------- */

struct fx {
	char base[64]; /* mkdtemp result, removed afterwards */
	char dir[128]; /* the backup target: base/bk */
	char partial[160];
	char mnt[128]; /* non-empty while a tmpfs is mounted there */
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	strcpy(fx->base, "/tmp/test_store.XXXXXX");
	if (!mkdtemp(fx->base)) {
		free(fx);
		return -1;
	}
	snprintf(fx->dir, sizeof(fx->dir), "%s/bk", fx->base);
	snprintf(fx->partial, sizeof(fx->partial), "%s.partial", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	if (fx->mnt[0])
		umount2(fx->mnt, MNT_DETACH);
	rm_rf(fx->base);
	free(fx);
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static char *path_join(const char *a, const char *b)
{
	char *p = malloc(strlen(a) + strlen(b) + 2);

	assert_non_null(p);
	sprintf(p, "%s/%s", a, b);
	return p;
}

static bool exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

static mode_t mode_of(const char *path)
{
	struct stat sb;

	assert_int_equal(lstat(path, &sb), 0);
	return sb.st_mode & 07777;
}

/* Whole file into memory (small test files only). */
static unsigned char *file_read(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *data;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return data;
}

static void hex64(char out[17], XXH64_hash_t h)
{
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* Writes content to relpath in pieces of `piece` bytes and closes it. */
static void file_put(struct store *st, const char *relpath, enum store_compress c,
		     const char *content, size_t len, size_t piece, bool rows,
		     struct store_file_info *info)
{
	struct store_file *f = NULL;
	struct ms_err e;

	if (store_file_create(st, relpath, c, 0, &f, &e) != 0)
		fail_msg("create %s: %s", relpath, e.msg);
	if (rows)
		store_file_count_rows(f);
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;
		if (store_file_write(f, content + off, n, &e) != 0)
			fail_msg("write %s: %s", relpath, e.msg);
	}
	if (store_file_close(f, info, &e) != 0)
		fail_msg("close %s: %s", relpath, e.msg);
}

static struct store *open_ok(const char *dir, bool *removed)
{
	struct store *st = NULL;
	struct ms_err e;

	if (store_open(dir, &st, removed, &e) != 0)
		fail_msg("store_open %s: %s", dir, e.msg);
	return st;
}

static void finalize_ok(struct store *st, const char *manifest)
{
	struct ms_err e;

	if (store_finalize(st, manifest, &e) != 0)
		fail_msg("store_finalize: %s", e.msg);
}

static void make_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static const char SQL[] =
	"INSERT INTO `users` VALUES\n"
	"(1,'alice','alice@example.com'),\n"
	"(2,'bob (the builder)','bob@example.com'),\n"
	"(3,'carol','(not a row start)'),\n"
	"(4,'dave','dave@example.com');\n"
	"INSERT INTO `users` VALUES\n"
	"(5,'eve','eve@example.com');\n";

/* ---- content round trips ------------------------------------------------ */

static void test_zstd_file_round_trips_with_xxh3_of_content(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_ok(fx->dir, NULL);
	struct store_file_info info;
	char want[17];
	size_t len, sql_len = strlen(SQL);
	unsigned char *stored;
	char *path, *plain = malloc(sql_len + 64);

	file_put(st, "shop/users.00000.sql.zst", STORE_COMPRESS_ZSTD, SQL, sql_len, 7, true, &info);
	path = path_join(store_partial_path(st), info.path);
	stored = file_read(path, &len);

	assert_string_equal(info.path, "shop/users.00000.sql.zst");
	assert_int_equal(info.compress, STORE_COMPRESS_ZSTD);
	assert_int_equal(info.bytes, sql_len);
	assert_int_equal(info.stored_bytes, len);
	hex64(want, XXH3_64bits(SQL, sql_len));
	assert_string_equal(info.xxh3, want);
	/* Independent decoder: any zstd reader gets the content back. */
	size_t n = ZSTD_decompress(plain, sql_len + 64, stored, len);
	assert_false(ZSTD_isError(n));
	assert_int_equal(n, sql_len);
	assert_memory_equal(plain, SQL, sql_len);

	free(plain);
	free(stored);
	free(path);
	store_file_info_release(&info);
	store_close(st);
}

static void test_uncompressed_file_is_stored_byte_for_byte(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_ok(fx->dir, NULL);
	struct store_file_info info;
	char want[17];
	size_t len, sql_len = strlen(SQL);
	unsigned char *stored;
	char *path;

	file_put(st, "shop/users.schema.sql", STORE_COMPRESS_NONE, SQL, sql_len, 1, false, &info);
	path = path_join(store_partial_path(st), info.path);
	stored = file_read(path, &len);

	assert_int_equal(info.compress, STORE_COMPRESS_NONE);
	assert_int_equal(len, sql_len);
	assert_memory_equal(stored, SQL, sql_len);
	assert_int_equal(info.bytes, sql_len);
	assert_int_equal(info.stored_bytes, sql_len);
	assert_int_equal(info.rows, -1);
	hex64(want, XXH3_64bits(SQL, sql_len));
	assert_string_equal(info.xxh3, want);

	free(stored);
	free(path);
	store_file_info_release(&info);
	store_close(st);
}

static void test_empty_zstd_file_is_a_complete_frame(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_ok(fx->dir, NULL);
	struct store_file_info info;
	char want[17];
	size_t len;
	unsigned char *stored;
	char *path, out[8];

	file_put(st, "shop/empty.00000.sql.zst", STORE_COMPRESS_ZSTD, "", 0, 1, true, &info);
	path = path_join(store_partial_path(st), info.path);
	stored = file_read(path, &len);
	assert_true(len > 0);
	assert_int_equal(ZSTD_decompress(out, sizeof(out), stored, len), 0);
	assert_int_equal(info.bytes, 0);
	assert_int_equal(info.rows, 0);
	hex64(want, XXH3_64bits("", 0));
	assert_string_equal(info.xxh3, want);

	free(stored);
	free(path);
	store_file_info_release(&info);
	store_close(st);
}

/* ---- rows --------------------------------------------------------------- */

static void test_rows_are_lines_starting_with_paren_whatever_the_write_sizes(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_ok(fx->dir, NULL);
	size_t sql_len = strlen(SQL);
	const size_t pieces[] = { 1, 2, 3, 5, 31, 4096 };

	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		struct store_file_info info;
		char rel[64];

		snprintf(rel, sizeof(rel), "shop/users.%05zu.sql.zst", i);
		file_put(st, rel, STORE_COMPRESS_ZSTD, SQL, sql_len, pieces[i], true, &info);
		if (info.rows != 5)
			fail_msg("pieces of %zu bytes: %lld rows, expected 5", pieces[i], info.rows);
		store_file_info_release(&info);
	}
	store_close(st);
}

/* ---- finalize ----------------------------------------------------------- */

static void test_finalize_renames_partial_to_dir_with_private_modes(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_ok(fx->dir, NULL);
	struct store_file_info info;
	const char *manifest = "{\"format\":\"mdlsafe-backup\"}\n";
	char *p;
	unsigned char *m;
	size_t len;

	assert_true(exists(fx->partial));
	assert_false(exists(fx->dir));
	file_put(st, "shop/users.00000.sql.zst", STORE_COMPRESS_ZSTD, SQL, strlen(SQL), 64, true, &info);
	finalize_ok(st, manifest);

	assert_false(exists(fx->partial));
	assert_true(exists(fx->dir));
	assert_string_equal(store_final_path(st), fx->dir);
	assert_int_equal(mode_of(fx->dir), 0700);
	p = path_join(fx->dir, "shop");
	assert_int_equal(mode_of(p), 0700);
	free(p);
	p = path_join(fx->dir, info.path);
	assert_int_equal(mode_of(p), 0600);
	free(p);
	p = path_join(fx->dir, "manifest.json");
	assert_int_equal(mode_of(p), 0600);
	m = file_read(p, &len);
	assert_int_equal(len, strlen(manifest));
	assert_memory_equal(m, manifest, len);
	free(m);
	free(p);
	/* The marker only ever marks unfinished directories. */
	p = path_join(fx->dir, STORE_PARTIAL_MARKER);
	assert_false(exists(p));
	free(p);

	store_file_info_release(&info);
	store_close(st);
	assert_true(exists(fx->dir));
}

static void test_finalize_refuses_while_a_file_is_still_open(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_ok(fx->dir, NULL);
	struct store_file *f = NULL;
	struct ms_err e;

	assert_int_equal(store_file_create(st, "a.sql", STORE_COMPRESS_NONE, 0, &f, &e), 0);
	assert_int_equal(store_finalize(st, "{}", &e), -1);
	assert_int_equal(e.status, MS_INTERNAL);
	assert_false(exists(fx->dir));
	store_file_abort(f);
	store_close(st);
}

static void test_finalize_never_replaces_a_dir_created_meanwhile(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_ok(fx->dir, NULL);
	struct ms_err e;

	assert_int_equal(mkdir(fx->dir, 0755), 0);
	assert_int_equal(store_finalize(st, "{}", &e), -1);
	assert_int_equal(e.status, MS_USAGE);
	assert_non_null(strstr(e.msg, "already exists"));
	/* Our work is still there, never a backup but not lost either. */
	assert_true(exists(fx->partial));
	store_close(st);
}

static void test_unfinalized_close_leaves_partial_without_manifest(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_ok(fx->dir, NULL);
	struct store_file_info info;
	char *p;

	file_put(st, "shop/users.00000.sql.zst", STORE_COMPRESS_ZSTD, SQL, strlen(SQL), 64, true, &info);
	store_close(st);
	assert_false(exists(fx->dir));
	assert_true(exists(fx->partial));
	p = path_join(fx->partial, "manifest.json");
	assert_false(exists(p));
	free(p);
	store_file_info_release(&info);
}

static void test_abort_removes_the_file(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_ok(fx->dir, NULL);
	struct store_file *f = NULL;
	struct ms_err e;
	char *p = path_join(fx->partial, "shop/t.00000.sql.zst");

	assert_int_equal(store_file_create(st, "shop/t.00000.sql.zst", STORE_COMPRESS_ZSTD, 3, &f, &e), 0);
	assert_int_equal(store_file_write(f, SQL, strlen(SQL), &e), 0);
	assert_true(exists(p));
	store_file_abort(f);
	assert_false(exists(p));
	/* The path may be written afresh, e.g. when a table is dumped again. */
	assert_int_equal(store_file_create(st, "shop/t.00000.sql.zst", STORE_COMPRESS_ZSTD, 0, &f, &e), 0);
	store_file_abort(f);
	free(p);
	store_close(st);
}

/* ---- one at a time ------------------------------------------------------ */

static void test_open_refuses_existing_dir(void **state)
{
	struct fx *fx = *state;
	struct store *st = NULL;
	struct ms_err e;

	assert_int_equal(mkdir(fx->dir, 0700), 0);
	assert_int_equal(store_open(fx->dir, &st, NULL, &e), -1);
	assert_null(st);
	assert_int_equal(e.status, MS_USAGE);
	assert_non_null(strstr(e.msg, "already exists; choose a new directory or remove it"));
	assert_false(exists(fx->partial));
}

static void test_open_ignores_trailing_slashes(void **state)
{
	struct fx *fx = *state;
	char withslash[200];
	struct store *st;

	snprintf(withslash, sizeof(withslash), "%s//", fx->dir);
	st = open_ok(withslash, NULL);
	assert_string_equal(store_final_path(st), fx->dir);
	assert_string_equal(store_partial_path(st), fx->partial);
	store_close(st);
}

static void test_second_open_while_first_holds_the_dir_is_busy(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_ok(fx->dir, NULL), *st2 = NULL;
	struct store_file_info info;
	bool removed = true;
	struct ms_err e;
	char *p;

	file_put(st, "shop/users.00000.sql.zst", STORE_COMPRESS_ZSTD, SQL, strlen(SQL), 64, true, &info);
	/* flock belongs to the open file description: a second open in the
	 * same process conflicts just as another process would. */
	assert_int_equal(store_open(fx->dir, &st2, &removed, &e), -1);
	assert_null(st2);
	assert_false(removed);
	assert_int_equal(e.status, MS_BUSY);
	assert_non_null(strstr(e.msg, "another mdlsafe backup is writing"));
	assert_non_null(strstr(e.msg, "is locked"));
	/* The running backup's files are untouched. */
	p = path_join(fx->partial, info.path);
	assert_true(exists(p));
	free(p);
	store_file_info_release(&info);
	store_close(st);
}

static void test_other_process_is_busy_while_the_dir_is_held(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_ok(fx->dir, NULL);
	int status = -1;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st2 = NULL;
		struct ms_err e;
		int rc = store_open(fx->dir, &st2, NULL, &e);
		_exit(rc == -1 && e.status == MS_BUSY ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	store_close(st);
}

static void test_stale_partial_with_marker_is_removed_and_reported(void **state)
{
	struct fx *fx = *state;
	struct store *st;
	struct store_file_info info;
	bool removed = false;
	char *old;

	/* A run killed mid-way: files, no manifest, nobody holding the lock. */
	st = open_ok(fx->dir, &removed);
	assert_false(removed);
	file_put(st, "shop/users.00000.sql.zst", STORE_COMPRESS_ZSTD, SQL, strlen(SQL), 64, true, &info);
	store_close(st);
	old = path_join(fx->partial, info.path);
	assert_true(exists(old));

	st = open_ok(fx->dir, &removed);
	assert_true(removed);
	assert_false(exists(old));
	assert_true(exists(fx->partial));
	free(old);
	old = path_join(fx->partial, STORE_PARTIAL_MARKER);
	assert_true(exists(old));
	free(old);
	store_file_info_release(&info);
	store_close(st);
}

static void test_stale_partial_removal_does_not_follow_symlinks(void **state)
{
	struct fx *fx = *state;
	char outside[128], *p;
	struct store *st;
	bool removed = false;

	/* A stale .partial holding a link to a directory of someone else's. */
	snprintf(outside, sizeof(outside), "%s/precious", fx->base);
	assert_int_equal(mkdir(outside, 0700), 0);
	p = path_join(outside, "keep.txt");
	make_file(p, "keep me");
	assert_int_equal(mkdir(fx->partial, 0700), 0);
	free(p);
	p = path_join(fx->partial, STORE_PARTIAL_MARKER);
	make_file(p, "");
	free(p);
	p = path_join(fx->partial, "link");
	assert_int_equal(symlink(outside, p), 0);
	free(p);

	st = open_ok(fx->dir, &removed);
	assert_true(removed);
	p = path_join(outside, "keep.txt");
	assert_true(exists(p));
	free(p);
	store_close(st);
}

static void test_partial_without_marker_is_not_removed(void **state)
{
	struct fx *fx = *state;
	struct store *st = NULL;
	bool removed = true;
	struct ms_err e;
	char *p;

	assert_int_equal(mkdir(fx->partial, 0755), 0);
	p = path_join(fx->partial, "important.txt");
	make_file(p, "not ours");

	assert_int_equal(store_open(fx->dir, &st, &removed, &e), -1);
	assert_null(st);
	assert_false(removed);
	assert_int_equal(e.status, MS_USAGE);
	assert_non_null(strstr(e.msg, "not made by mdlsafe"));
	assert_true(exists(p));
	free(p);
}

static void test_empty_partial_without_marker_is_reused(void **state)
{
	struct fx *fx = *state;
	struct store *st;

	/* A run killed between mkdir and writing the marker: nothing to lose. */
	assert_int_equal(mkdir(fx->partial, 0755), 0);
	st = open_ok(fx->dir, NULL);
	assert_int_equal(mode_of(fx->partial), 0700);
	store_close(st);
}

/* Refused, and left exactly as found: no marker, no lock taken over. */
static void adoption_refused(const struct fx *fx, const char *words)
{
	struct store *st = NULL;
	struct ms_err e;
	char *marker = path_join(fx->partial, STORE_PARTIAL_MARKER);

	assert_int_equal(store_open(fx->dir, &st, NULL, &e), -1);
	assert_null(st);
	assert_int_equal(e.status, MS_USAGE);
	if (!strstr(e.msg, words) || !strstr(e.msg, "remove it or choose another directory"))
		fail_msg("message lacks \"%s\" or the fix: %s", words, e.msg);
	assert_false(exists(marker));
	free(marker);
}

static void test_partial_that_others_can_write_is_not_adopted(void **state)
{
	struct fx *fx = *state;

	/* Made beforehand in a shared parent: whoever can write it could swap
	 * the manifest of the finished backup. */
	assert_int_equal(mkdir(fx->partial, 0700), 0);
	assert_int_equal(chmod(fx->partial, 0777), 0);
	adoption_refused(fx, "can be written by other users (mode 0777)");
	assert_int_equal(mode_of(fx->partial), 0777);

	assert_int_equal(chmod(fx->partial, 0720), 0);
	adoption_refused(fx, "can be written by other users (mode 0720)");
}

static void test_partial_of_another_user_is_not_adopted(void **state)
{
	struct fx *fx = *state;
	struct stat sb;
	char words[64];

	if (geteuid() != 0)
		skip(); /* only root can give a directory away */
	assert_int_equal(mkdir(fx->partial, 0700), 0);
	assert_int_equal(chown(fx->partial, 65534, 65534), 0);
	snprintf(words, sizeof(words), "belongs to uid 65534, not to this user (uid %u)", (unsigned)geteuid());
	adoption_refused(fx, words);
	assert_int_equal(stat(fx->partial, &sb), 0);
	assert_int_equal(sb.st_uid, 65534);
}

/* Replaces DIR.partial/sub with a link to base/outside, which holds the
 * file name of what was written there. */
static char *swap_for_link(const struct fx *fx, const char *sub, const char *name)
{
	char *d = path_join(fx->partial, sub), *aside = path_join(fx->base, "aside"),
	     *outside = path_join(fx->base, "outside"), *theirs;

	mkdir(outside, 0700);
	theirs = path_join(outside, name);
	make_file(theirs, "theirs");
	assert_int_equal(rename(d, aside), 0);
	assert_int_equal(symlink(outside, d), 0);
	free(d);
	free(aside);
	free(outside);
	return theirs;
}

static void test_files_are_never_reached_through_a_linked_directory(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_ok(fx->dir, NULL);
	struct store_file *f = NULL;
	struct store_file_info info;
	struct ms_err e;
	char *theirs, *other, *p;

	assert_int_equal(store_file_create(st, "shop/a.sql", STORE_COMPRESS_NONE, 0, &f, &e), 0);
	assert_int_equal(store_file_close(f, &info, &e), 0);
	store_file_info_release(&info);
	theirs = swap_for_link(fx, "shop", "a.sql");

	/* A table re-read after a DDL discards its old files. */
	store_file_discard(st, "shop/a.sql");
	assert_true(exists(theirs));
	/* Physical backups hash the files they copied in. */
	assert_int_equal(store_file_hash(st, "shop/a.sql", &info, &e), -1);
	store_file_info_release(&info);
	assert_int_equal(store_file_create(st, "shop/b.sql", STORE_COMPRESS_NONE, 0, &f, &e), -1);
	assert_null(f);
	other = path_join(fx->base, "outside/b.sql");
	assert_false(exists(other));
	free(other);
	free(theirs);

	/* Given up on after the swap: the file out there stays. */
	assert_int_equal(store_file_create(st, "web/x.sql", STORE_COMPRESS_NONE, 0, &f, &e), 0);
	p = path_join(fx->base, "aside");
	rm_rf(p);
	free(p);
	theirs = swap_for_link(fx, "web", "x.sql");
	store_file_abort(f);
	assert_true(exists(theirs));
	free(theirs);
	store_close(st);
}

static void test_dir_named_like_an_unfinished_backup_is_refused(void **state)
{
	struct fx *fx = *state;
	struct store *st = NULL;
	struct ms_err e;

	/* verify would call the finished backup unfinished. */
	assert_int_equal(store_open(fx->partial, &st, NULL, &e), -1);
	assert_int_equal(e.status, MS_USAGE);
	assert_non_null(strstr(e.msg, "ends in .partial"));
}

static void test_open_needs_an_existing_parent(void **state)
{
	struct fx *fx = *state;
	char dir[200];
	struct store *st = NULL;
	struct ms_err e;

	snprintf(dir, sizeof(dir), "%s/no/such/bk", fx->base);
	assert_int_equal(store_open(dir, &st, NULL, &e), -1);
	assert_int_equal(e.status, MS_IO);
	assert_non_null(strstr(e.msg, "does not exist; create it first"));
}

/* ---- paths -------------------------------------------------------------- */

static void test_unsafe_relpaths_are_rejected(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_ok(fx->dir, NULL);
	const char *bad[] = { "", "/etc/passwd", "../escape.sql", "shop/../../escape.sql",
			      "shop/..", "..", "shop//t.sql", "shop/", "./t.sql", "shop/./t.sql",
			      "a\nb.sql", "bad\xff.sql", "manifest.json", STORE_PARTIAL_MARKER };
	char *escaped = path_join(fx->base, "escape.sql");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct store_file *f = NULL;
		struct ms_err e;

		if (store_file_create(st, bad[i], STORE_COMPRESS_NONE, 0, &f, &e) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_null(f);
		assert_int_equal(e.status, MS_INTERNAL);
		assert_non_null(strstr(e.msg, "invalid backup file path"));
	}
	assert_false(exists(escaped));
	assert_non_null(store_relpath_problem("a/../b"));
	assert_null(store_relpath_problem("shop/users.00000.sql.zst"));
	assert_null(store_relpath_problem("caf\xc3\xa9/t.sql"));
	free(escaped);
	store_close(st);
}

static void test_a_path_is_written_only_once(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_ok(fx->dir, NULL);
	struct store_file_info info;
	struct store_file *f = NULL;
	struct ms_err e;

	file_put(st, "shop/t.sql", STORE_COMPRESS_NONE, "x", 1, 1, false, &info);
	assert_int_equal(store_file_create(st, "shop/t.sql", STORE_COMPRESS_NONE, 0, &f, &e), -1);
	assert_non_null(strstr(e.msg, "already written"));
	store_file_info_release(&info);
	store_close(st);
}

/* Files past several writeback steps (8 MiB), written at a fast level with
 * literals coded and uncompressed, come back byte for byte. */
static void test_large_files_at_a_fast_level_and_uncompressed_round_trip(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_ok(fx->dir, NULL);
	size_t len = (size_t)21 << 20, piece = (size_t)1 << 20;
	char *content = malloc(len), *plain = malloc(len);
	unsigned long long x = 88172645463325252ULL;

	assert_non_null(content);
	assert_non_null(plain);
	/* Row-like: digit groups from xorshift, a newline every 100 bytes. */
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		content[i] = i % 100 == 99 ? '\n' : (char)('0' + (x >> 33) % 10);
	}
	for (int k = 0; k < 2; k++) {
		enum store_compress c = k ? STORE_COMPRESS_NONE : STORE_COMPRESS_ZSTD;
		const char *rel = k ? "big.sql" : "big.sql.zst";
		struct store_file *f = NULL;
		struct store_file_info info;
		struct ms_err e;
		unsigned char *stored;
		size_t stored_len;
		char *path;

		assert_int_equal(store_file_create(st, rel, c, -10, &f, &e), 0);
		for (size_t off = 0; off < len; off += piece)
			assert_int_equal(store_file_write(f, content + off, piece, &e), 0);
		assert_int_equal(store_file_close(f, &info, &e), 0);
		path = path_join(store_partial_path(st), info.path);
		stored = file_read(path, &stored_len);
		assert_int_equal(info.stored_bytes, stored_len);
		if (c == STORE_COMPRESS_ZSTD) {
			size_t n = ZSTD_decompress(plain, len, stored, stored_len);
			assert_false(ZSTD_isError(n));
			assert_int_equal(n, len);
			assert_true(stored_len < len / 2); /* literals were coded */
		} else {
			assert_int_equal(stored_len, len);
			memcpy(plain, stored, len);
		}
		assert_memory_equal(plain, content, len);
		free(stored);
		free(path);
		store_file_info_release(&info);
	}
	free(content);
	free(plain);
	store_close(st);
}

static void test_compression_level_out_of_range_is_a_usage_error(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_ok(fx->dir, NULL);
	struct store_file *f = NULL;
	struct ms_err e;

	assert_int_equal(store_file_create(st, "t.sql.zst", STORE_COMPRESS_ZSTD, 99, &f, &e), -1);
	assert_int_equal(e.status, MS_USAGE);
	assert_int_equal(store_file_create(st, "t.sql.zst", STORE_COMPRESS_ZSTD, 19, &f, &e), 0);
	store_file_abort(f);
	store_close(st);
}

/* ---- manifest entries --------------------------------------------------- */

static void test_file_info_json_has_the_manifest_fields(void **state)
{
	struct store_file_info info = { .path = (char *)"shop/t.00000.sql.zst",
					.bytes = 5000000000ULL,
					.stored_bytes = 123,
					.xxh3 = "0123456789abcdef",
					.rows = 42,
					.compress = STORE_COMPRESS_ZSTD };
	json_t *j = store_file_info_to_json(&info);

	(void)state;
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "path")), "shop/t.00000.sql.zst");
	assert_int_equal(json_integer_value(json_object_get(j, "bytes")), 5000000000LL);
	assert_int_equal(json_integer_value(json_object_get(j, "stored_bytes")), 123);
	assert_string_equal(json_string_value(json_object_get(j, "xxh3")), "0123456789abcdef");
	assert_int_equal(json_integer_value(json_object_get(j, "rows")), 42);
	assert_string_equal(json_string_value(json_object_get(j, "compression")), "zstd");
	json_decref(j);

	info.rows = -1;
	info.compress = STORE_COMPRESS_NONE;
	j = store_file_info_to_json(&info);
	assert_non_null(j);
	assert_true(json_is_null(json_object_get(j, "rows")));
	assert_string_equal(json_string_value(json_object_get(j, "compression")), "none");
	json_decref(j);
}

/* ---- big and concurrent ------------------------------------------------- */

/* Deterministic SQL-like rows, produced a piece at a time. */
struct rowgen {
	unsigned long long n; /* rows begun; the stream starts with an INSERT head */
	bool head_done;
	uint32_t rnd;
	char line[160];
	size_t len, pos;
};

static uint32_t rnd_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Next `want` bytes of the stream into out (returns how many, < want only
 * never: the stream is endless). */
static void rowgen_fill(struct rowgen *g, char *out, size_t want)
{
	while (want) {
		size_t n;

		if (!g->head_done) {
			g->head_done = true;
			g->len = (size_t)snprintf(g->line, sizeof(g->line), "INSERT INTO `t` VALUES\n");
			g->pos = 0;
		} else if (g->pos == g->len) {
			g->n++;
			g->len = (size_t)snprintf(g->line, sizeof(g->line),
						  "(%llu,'user%u','u%08x@example.com','2024-%02u-%02u',%u.%02u),\n",
						  g->n, rnd_next(&g->rnd) % 1000000, rnd_next(&g->rnd),
						  rnd_next(&g->rnd) % 12 + 1, rnd_next(&g->rnd) % 28 + 1,
						  rnd_next(&g->rnd) % 10000, rnd_next(&g->rnd) % 100);
			g->pos = 0;
		}
		n = g->len - g->pos;
		if (n > want)
			n = want;
		memcpy(out, g->line + g->pos, n);
		g->pos += n;
		out += n;
		want -= n;
	}
}

/* Streams a zstd file through a decoder; returns the XXH3 of its content. */
static XXH64_hash_t zstd_file_digest(const char *path, unsigned long long *bytes)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	XXH3_state_t *x = XXH3_createState();
	size_t in_cap = ZSTD_DStreamInSize(), out_cap = ZSTD_DStreamOutSize(), last = 1, n;
	char *in = malloc(in_cap), *out = malloc(out_cap);
	FILE *fp = fopen(path, "rb");
	XXH64_hash_t h;

	assert_non_null(fp);
	XXH3_64bits_reset(x);
	*bytes = 0;
	while ((n = fread(in, 1, in_cap, fp)) > 0) {
		ZSTD_inBuffer ib = { in, n, 0 };
		bool full = false;
		/* Go on while output filled up: zstd may still hold some. */
		while (ib.pos < ib.size || full) {
			ZSTD_outBuffer ob = { out, out_cap, 0 };
			size_t was = ib.pos, r = ZSTD_decompressStream(d, &ob, &ib);
			assert_false(ZSTD_isError(r));
			if (ib.pos != was || ob.pos)
				last = r;
			full = ob.pos == ob.size;
			XXH3_64bits_update(x, out, ob.pos);
			*bytes += ob.pos;
		}
	}
	assert_int_equal(last, 0);
	h = XXH3_64bits_digest(x);
	fclose(fp);
	free(in);
	free(out);
	XXH3_freeState(x);
	ZSTD_freeDCtx(d);
	return h;
}

static void test_64mib_written_in_small_pieces_round_trips(void **state)
{
	struct fx *fx = *state;
	const unsigned long long total = 64ULL << 20;
	struct store *st = open_ok(fx->dir, NULL);
	struct rowgen g = { .rnd = 12345 };
	XXH3_state_t *x = XXH3_createState();
	struct store_file *f = NULL;
	struct store_file_info info;
	unsigned long long done = 0, got_bytes;
	uint32_t sizes = 99;
	char piece[4096], want[17], got[17], *p;
	struct ms_err e;

	XXH3_64bits_reset(x);
	assert_int_equal(store_file_create(st, "big/t.00000.sql.zst", STORE_COMPRESS_ZSTD, 0, &f, &e), 0);
	store_file_count_rows(f);
	while (done < total) {
		size_t n = rnd_next(&sizes) % sizeof(piece) + 1;
		if (n > total - done)
			n = (size_t)(total - done);
		rowgen_fill(&g, piece, n);
		XXH3_64bits_update(x, piece, n);
		if (store_file_write(f, piece, n, &e) != 0)
			fail_msg("write: %s", e.msg);
		done += n;
	}
	assert_int_equal(store_file_close(f, &info, &e), 0);
	hex64(want, XXH3_64bits_digest(x));
	assert_string_equal(info.xxh3, want);
	assert_int_equal(info.bytes, total);
	/* Every generated line started a row; the last may be cut short. */
	assert_int_equal(info.rows, (long long)g.n);
	assert_true(info.stored_bytes < total / 2);

	p = path_join(fx->partial, info.path);
	hex64(got, zstd_file_digest(p, &got_bytes));
	assert_string_equal(got, want);
	assert_int_equal(got_bytes, total);
	free(p);
	XXH3_freeState(x);
	store_file_info_release(&info);
	store_close(st);
}

struct worker {
	struct store *st;
	int id;
	int rc;
	struct store_file_info info;
	char msg[768];
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct store_file *f = NULL;
	struct rowgen g = { .rnd = (uint32_t)w->id + 1 };
	char rel[64], piece[1000];
	struct ms_err e;

	/* Two databases, so threads race to create the same directories. */
	snprintf(rel, sizeof(rel), "db%d/deep/t%d.00000.sql.zst", w->id % 2, w->id);
	w->rc = store_file_create(w->st, rel, STORE_COMPRESS_ZSTD, 0, &f, &e);
	if (w->rc == 0) {
		store_file_count_rows(f);
		for (int i = 0; i < 300 && w->rc == 0; i++) {
			rowgen_fill(&g, piece, sizeof(piece));
			w->rc = store_file_write(f, piece, sizeof(piece), &e);
		}
		if (w->rc == 0)
			w->rc = store_file_close(f, &w->info, &e);
		else
			store_file_abort(f);
	}
	if (w->rc)
		memcpy(w->msg, e.msg, sizeof(w->msg));
	return NULL;
}

static void test_files_are_written_concurrently_from_threads(void **state)
{
	struct fx *fx = *state;
	struct store *st = open_ok(fx->dir, NULL);
	struct worker w[8];
	pthread_t t[8];

	for (int i = 0; i < 8; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].st = st;
		w[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 8; i++) {
		char *p;
		unsigned long long bytes;
		char got[17];

		if (w[i].rc)
			fail_msg("worker %d: %s", i, w[i].msg);
		p = path_join(fx->partial, w[i].info.path);
		hex64(got, zstd_file_digest(p, &bytes));
		assert_string_equal(got, w[i].info.xxh3);
		assert_int_equal(bytes, 300000);
		free(p);
	}
	finalize_ok(st, "{}");
	for (int i = 0; i < 8; i++)
		store_file_info_release(&w[i].info);
	store_close(st);
	assert_true(exists(fx->dir));
}

/* ---- disk full ---------------------------------------------------------- */

static void test_full_disk_fails_with_io_error_naming_file_and_where_to_free_space(void **state)
{
	struct fx *fx = *state;
	char dir[200], *p;
	struct store *st;
	struct store_file *f = NULL;
	struct store_file_info info;
	uint32_t s = 7;
	char piece[8192];
	struct ms_err e;
	int rc = 0;

	snprintf(fx->mnt, sizeof(fx->mnt), "%s/fs", fx->base);
	assert_int_equal(mkdir(fx->mnt, 0700), 0);
	if (mount("tmpfs", fx->mnt, "tmpfs", 0, "size=1m") != 0) {
		/* Needs root (CAP_SYS_ADMIN); elsewhere nothing to test with. */
		fx->mnt[0] = '\0';
		skip();
	}
	snprintf(dir, sizeof(dir), "%s/bk", fx->mnt);
	st = open_ok(dir, NULL);
	assert_int_equal(store_file_create(st, "shop/t.00000.sql", STORE_COMPRESS_NONE, 0, &f, &e), 0);
	/* Incompressible and larger than the filesystem. */
	for (int i = 0; i < 512 && rc == 0; i++) {
		for (size_t j = 0; j < sizeof(piece); j += 4) {
			uint32_t r = rnd_next(&s);
			memcpy(piece + j, &r, 4);
		}
		rc = store_file_write(f, piece, sizeof(piece), &e);
	}
	if (rc == 0)
		rc = store_file_close(f, &info, &e);
	else
		store_file_abort(f);
	assert_int_equal(rc, -1);
	assert_int_equal(e.status, MS_IO);
	assert_non_null(strstr(e.msg, "shop/t.00000.sql"));
	assert_non_null(strstr(e.msg, "No space left on device: free space under"));
	assert_non_null(strstr(e.msg, "or choose another -o"));
	/* The partial file was removed; no backup appeared. */
	p = path_join(store_partial_path(st), "shop/t.00000.sql");
	assert_false(exists(p));
	free(p);
	store_close(st);
	assert_false(exists(dir));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_zstd_file_round_trips_with_xxh3_of_content),
		T(test_uncompressed_file_is_stored_byte_for_byte),
		T(test_empty_zstd_file_is_a_complete_frame),
		T(test_rows_are_lines_starting_with_paren_whatever_the_write_sizes),
		T(test_finalize_renames_partial_to_dir_with_private_modes),
		T(test_finalize_refuses_while_a_file_is_still_open),
		T(test_finalize_never_replaces_a_dir_created_meanwhile),
		T(test_unfinalized_close_leaves_partial_without_manifest),
		T(test_abort_removes_the_file),
		T(test_open_refuses_existing_dir),
		T(test_open_ignores_trailing_slashes),
		T(test_second_open_while_first_holds_the_dir_is_busy),
		T(test_other_process_is_busy_while_the_dir_is_held),
		T(test_stale_partial_with_marker_is_removed_and_reported),
		T(test_stale_partial_removal_does_not_follow_symlinks),
		T(test_partial_without_marker_is_not_removed),
		T(test_empty_partial_without_marker_is_reused),
		T(test_partial_that_others_can_write_is_not_adopted),
		T(test_partial_of_another_user_is_not_adopted),
		T(test_files_are_never_reached_through_a_linked_directory),
		T(test_dir_named_like_an_unfinished_backup_is_refused),
		T(test_open_needs_an_existing_parent),
		T(test_unsafe_relpaths_are_rejected),
		T(test_a_path_is_written_only_once),
		T(test_large_files_at_a_fast_level_and_uncompressed_round_trip),
		T(test_compression_level_out_of_range_is_a_usage_error),
		T(test_file_info_json_has_the_manifest_fields),
		T(test_64mib_written_in_small_pieces_round_trips),
		T(test_files_are_written_concurrently_from_threads),
		T(test_full_disk_fails_with_io_error_naming_file_and_where_to_free_space),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
