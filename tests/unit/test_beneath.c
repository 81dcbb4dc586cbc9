/* Unit tests for util/beneath: paths resolve strictly below a directory
 * descriptor and never through a symbolic link, by openat2 and by the walk. */

/* cmocka needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/beneath.h"

/* Seconds a test may take before SIGALRM ends it: an open that blocks on a
 * FIFO must fail the test, not hang the suite. */
#define HANG_GUARD_S 10

struct fx {
	char base[64]; /* holds dir/ and outside/ */
	int dir_fd; /* base/dir */
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void at(const struct fx *fx, char *out, size_t cap, const char *rel)
{
	snprintf(out, cap, "%s/%s", fx->base, rel);
}

static void write_file(const struct fx *fx, const char *rel, const char *text)
{
	char p[256];
	FILE *f;

	at(fx, p, sizeof(p), rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void make_dir(const struct fx *fx, const char *rel)
{
	char p[256];

	at(fx, p, sizeof(p), rel);
	assert_int_equal(mkdir(p, 0700), 0);
}

static void make_link(const struct fx *fx, const char *target, const char *rel)
{
	char p[256];

	at(fx, p, sizeof(p), rel);
	assert_int_equal(symlink(target, p), 0);
}

static bool exists(const struct fx *fx, const char *rel)
{
	char p[256];
	struct stat sb;

	at(fx, p, sizeof(p), rel);
	return lstat(p, &sb) == 0;
}

/*
 * base/dir/ok/file.txt         a file to reach
 * base/dir/sub -> ../outside   a directory link leading out
 * base/dir/inner -> ok         a directory link staying inside
 * base/dir/last -> ok/file.txt a link as the last component
 * base/dir/plain               a file where a directory is expected
 * base/outside/secret.txt      what a link must never reach
 */
static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char p[256];

	strcpy(fx->base, "/tmp/test_beneath.XXXXXX");
	if (!mkdtemp(fx->base))
		return -1;
	make_dir(fx, "dir");
	make_dir(fx, "dir/ok");
	make_dir(fx, "outside");
	write_file(fx, "dir/ok/file.txt", "inside\n");
	write_file(fx, "dir/plain", "x");
	write_file(fx, "outside/secret.txt", "secret\n");
	make_link(fx, "../outside", "dir/sub");
	make_link(fx, "ok", "dir/inner");
	make_link(fx, "ok/file.txt", "dir/last");
	at(fx, p, sizeof(p), "dir");
	fx->dir_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fx->dir_fd < 0)
		return -1;
	alarm(HANG_GUARD_S);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	alarm(0);
	close(fx->dir_fd);
	nftw(fx->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

typedef int (*open_fn)(int, const char *, int, mode_t);

/* Opening rel fails with errno want. */
static void refused(open_fn fn, int dir_fd, const char *rel, int flags, int want)
{
	int fd = fn(dir_fd, rel, flags, 0600);

	if (fd >= 0) {
		close(fd);
		fail_msg("%s was opened; expected errno %d", rel, want);
	}
	if (errno != want)
		fail_msg("%s: errno %d (%s), expected %d (%s)", rel, errno, strerror(errno), want,
			 strerror(want));
}

static void check_resolver(open_fn fn, const struct fx *fx)
{
	char buf[16] = { 0 };
	int fd = fn(fx->dir_fd, "ok/file.txt", O_RDONLY, 0);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 7);
	assert_string_equal(buf, "inside\n");
	close(fd);

	/* A link in any component, leading out or staying in, is refused. */
	refused(fn, fx->dir_fd, "sub/secret.txt", O_RDONLY, ELOOP);
	refused(fn, fx->dir_fd, "inner/file.txt", O_RDONLY, ELOOP);
	refused(fn, fx->dir_fd, "last", O_RDONLY, ELOOP);
	refused(fn, fx->dir_fd, "sub", O_RDONLY | O_DIRECTORY, ELOOP);
	/* Creating through a linked directory creates nothing out there. */
	refused(fn, fx->dir_fd, "sub/new.txt", O_WRONLY | O_CREAT | O_EXCL, ELOOP);
	assert_false(exists(fx, "outside/new.txt"));
	/* Nothing leaves the directory by name either. */
	refused(fn, fx->dir_fd, "../outside/secret.txt", O_RDONLY, EXDEV);
	refused(fn, fx->dir_fd, "/etc/passwd", O_RDONLY, EXDEV);
	refused(fn, fx->dir_fd, "plain/x", O_RDONLY, ENOTDIR);
	refused(fn, fx->dir_fd, "ok/none", O_RDONLY, ENOENT);
}

static void test_openat2_refuses_links_in_every_component(void **state)
{
	check_resolver(beneath_open, *state);
}

static void test_walk_refuses_what_openat2_refuses(void **state)
{
	check_resolver(beneath_open_walk, *state);
}

struct created {
	char names[4][64];
	int n;
};

static int note_created(void *ctx, const char *reldir)
{
	struct created *c = ctx;

	assert_true(c->n < 4);
	snprintf(c->names[c->n++], sizeof(c->names[0]), "%s", reldir);
	return 0;
}

static void test_parent_is_created_one_component_at_a_time(void **state)
{
	struct fx *fx = *state;
	struct created c = { 0 };
	const char *base = NULL;
	int pfd = beneath_open_parent(fx->dir_fd, "a/b/c.sql", true, 0700, note_created, &c, &base);
	int fd;

	assert_true(pfd >= 0);
	assert_string_equal(base, "c.sql");
	fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	close(pfd);
	assert_true(exists(fx, "dir/a/b/c.sql"));
	assert_int_equal(c.n, 2);
	assert_string_equal(c.names[0], "a");
	assert_string_equal(c.names[1], "a/b");

	/* Existing directories are taken as they are, and not reported. */
	c.n = 0;
	pfd = beneath_open_parent(fx->dir_fd, "a/b/d.sql", true, 0700, note_created, &c, &base);
	assert_true(pfd >= 0);
	close(pfd);
	assert_int_equal(c.n, 0);

	/* No '/': the directory itself. */
	pfd = beneath_open_parent(fx->dir_fd, "top.sql", false, 0, NULL, NULL, &base);
	assert_true(pfd >= 0);
	assert_string_equal(base, "top.sql");
	close(pfd);
}

static void test_parent_through_a_link_or_a_file_is_refused(void **state)
{
	struct fx *fx = *state;
	const char *base = NULL;

	assert_int_equal(
		beneath_open_parent(fx->dir_fd, "sub/x.sql", true, 0700, NULL, NULL, &base), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(
		beneath_open_parent(fx->dir_fd, "sub/deeper/x.sql", true, 0700, NULL, NULL, &base),
		-1);
	assert_int_equal(errno, ELOOP);
	assert_false(exists(fx, "outside/deeper"));
	assert_int_equal(
		beneath_open_parent(fx->dir_fd, "plain/x.sql", true, 0700, NULL, NULL, &base), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(
		beneath_open_parent(fx->dir_fd, "../outside/x.sql", true, 0700, NULL, NULL, &base),
		-1);
	assert_int_equal(errno, EXDEV);
}

static void test_unlink_through_a_linked_directory_removes_nothing(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(beneath_unlink(fx->dir_fd, "sub/secret.txt", 0), -1);
	assert_int_equal(errno, ELOOP);
	assert_true(exists(fx, "outside/secret.txt"));
	assert_int_equal(beneath_unlink(fx->dir_fd, "ok/file.txt", 0), 0);
	assert_false(exists(fx, "dir/ok/file.txt"));
}

static void test_fifo_is_not_a_regular_file_and_does_not_block(void **state)
{
	struct fx *fx = *state;
	char p[256];

	at(fx, p, sizeof(p), "dir/ok/pipe");
	assert_int_equal(mkfifo(p, 0600), 0);
	/* Without O_NONBLOCK this open waits for a writer; HANG_GUARD_S ends it. */
	assert_int_equal(beneath_open_regular(fx->dir_fd, "ok/pipe", NULL), -1);
	assert_int_equal(errno, BENEATH_NOT_REGULAR);
	assert_int_equal(beneath_open_regular(fx->dir_fd, "ok", NULL), -1);
	assert_int_equal(errno, BENEATH_NOT_REGULAR);
	assert_int_equal(beneath_open_regular(fx->dir_fd, "sub/secret.txt", NULL), -1);
	assert_int_equal(errno, ELOOP);
}

static void test_regular_file_is_returned_blocking(void **state)
{
	struct fx *fx = *state;
	struct stat sb;
	int fd = beneath_open_regular(fx->dir_fd, "ok/file.txt", &sb);

	assert_true(fd >= 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_size, 7);
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	close(fd);
}

static void test_read_all_reads_whole_files_and_pipes(void **state)
{
	struct fx *fx = *state;
	size_t big = 300000, len = 0;
	char *text = malloc(big + 1), *got = NULL;
	int fd;

	assert_non_null(text);
	for (size_t i = 0; i < big; i++)
		text[i] = (char)('a' + i % 26);
	text[big] = '\0';
	write_file(fx, "dir/big.txt", text);
	fd = beneath_open_regular(fx->dir_fd, "big.txt", NULL);
	assert_true(fd >= 0);
	assert_int_equal(fd_read_all(fd, &got, &len), 0);
	assert_int_equal(len, big);
	assert_memory_equal(got, text, big);
	assert_int_equal(got[len], '\0');
	free(got);
	close(fd);

	/* A pipe: no size known at all. */
	{
		int p[2];

		assert_int_equal(pipe(p), 0);
		assert_int_equal(write(p[1], text, 60000), 60000);
		close(p[1]);
		assert_int_equal(fd_read_all(p[0], &got, &len), 0);
		assert_int_equal(len, 60000);
		assert_memory_equal(got, text, 60000);
		free(got);
		close(p[0]);
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_openat2_refuses_links_in_every_component),
		T(test_walk_refuses_what_openat2_refuses),
		T(test_parent_is_created_one_component_at_a_time),
		T(test_parent_through_a_link_or_a_file_is_refused),
		T(test_unlink_through_a_linked_directory_removes_nothing),
		T(test_fifo_is_not_a_regular_file_and_does_not_block),
		T(test_regular_file_is_returned_blocking),
		T(test_read_all_reads_whole_files_and_pipes),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
