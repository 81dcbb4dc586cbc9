/* Unit tests for the backoff jitter of lock requests: every process draws
 * its own, so clients that start together do not retry in step. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mdl/lockreq.h"

#define DRAWS 8

/* A child process's first DRAWS jitter factors, read through a pipe. */
static void draws_of_a_child(double *out)
{
	int fd[2];
	pid_t pid;
	size_t got = 0;
	ssize_t n;
	int st;

	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		double v[DRAWS];

		close(fd[0]);
		for (int i = 0; i < DRAWS; i++)
			v[i] = lockreq_jitter();
		_exit(write(fd[1], v, sizeof(v)) == (ssize_t)sizeof(v) ? 0 : 1);
	}
	close(fd[1]);
	while (got < DRAWS * sizeof(double) && (n = read(fd[0], (char *)out + got, DRAWS * sizeof(double) - got)) > 0)
		got += (size_t)n;
	close(fd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(got, DRAWS * sizeof(double));
}

static void test_two_processes_draw_different_jitter(void **state)
{
	double a[DRAWS], b[DRAWS];

	(void)state;
	draws_of_a_child(a);
	draws_of_a_child(b);
	for (int i = 0; i < DRAWS; i++) {
		assert_true(a[i] >= 0.5 && a[i] < 1.5);
		assert_true(b[i] >= 0.5 && b[i] < 1.5);
	}
	if (!memcmp(a, b, sizeof(a)))
		fail_msg("two processes drew the same %d backoff jitter factors (%.6f, %.6f, ...)", DRAWS, a[0], a[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_processes_draw_different_jitter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
