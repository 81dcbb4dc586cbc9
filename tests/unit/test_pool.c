/* Unit tests for the worker pool: every worker runs, a failing worker's
 * error is what the pool returns, the coordinator wakes when the last one
 * ends, and a thread that cannot be started stops and joins the others. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "util/pool.h"
#include "util/timespec.h"

/* The test links with -Wl,--wrap=pthread_create: the call numbered
 * fail_create_at (from 1) fails with EAGAIN, as at a thread limit. */
int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
static unsigned creates, fail_create_at;

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
	if (++creates == fail_create_at)
		return EAGAIN;
	return __real_pthread_create(t, a, fn, arg);
}

/* What the workers share: they may be held until released or stopped. */
struct shared {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool hold, released, stopped;
	unsigned ran[16], returned, stops, fail_index;
};

static struct shared s;
static struct pool p;
static struct ms_err e;

static void shared_set(bool *flag)
{
	pthread_mutex_lock(&s.mu);
	*flag = true;
	pthread_cond_broadcast(&s.cond);
	pthread_mutex_unlock(&s.mu);
}

static int worker(void *ctx, unsigned index, struct ms_err *err)
{
	struct timespec give_up;

	(void)ctx;
	/* A bound on the wait so a broken pool fails the test, not hangs it. */
	clock_gettime(CLOCK_REALTIME, &give_up);
	timespec_add(&give_up, 30);
	pthread_mutex_lock(&s.mu);
	s.ran[index]++;
	while (s.hold && !s.released && !s.stopped && pthread_cond_timedwait(&s.cond, &s.mu, &give_up) == 0)
		;
	s.returned++;
	pthread_mutex_unlock(&s.mu);
	if (index == s.fail_index)
		return ms_fail(err, MS_SERVER, "worker %u failed", index);
	return 0;
}

static void stop(void *ctx, const struct ms_err *why)
{
	(void)ctx;
	(void)why;
	s.stops++;
	shared_set(&s.stopped);
}

/* Before each test: workers that run straight through, no failures. */
static int reset(void **state)
{
	(void)state;
	memset(&s, 0, sizeof(s));
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.cond, NULL);
	s.fail_index = ~0u;
	creates = 0;
	fail_create_at = 0;
	p = (struct pool){ .what = "test worker", .fn = worker, .stop = stop };
	ms_err_clear(&e);
	return 0;
}

static void test_every_worker_runs_once_with_its_own_index(void **state)
{
	(void)state;
	assert_int_equal(pool_start(&p, 8, &e), 0);
	assert_int_equal(pool_join(&p, &e), 0);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(s.ran[i], 1);
	assert_int_equal(s.returned, 8);
	assert_int_equal(s.stops, 0);
}

static void test_a_failing_workers_error_is_the_pools(void **state)
{
	(void)state;
	s.fail_index = 2;
	assert_int_equal(pool_start(&p, 4, &e), 0);
	assert_int_equal(pool_join(&p, &e), -1);
	assert_int_equal(e.status, MS_SERVER);
	assert_string_equal(e.msg, "worker 2 failed");
	/* The others still ran to their end. */
	assert_int_equal(s.returned, 4);
}

static void test_the_wait_ends_when_the_last_worker_does(void **state)
{
	(void)state;
	s.hold = true;
	assert_int_equal(pool_start(&p, 3, &e), 0);
	assert_false(pool_wait(&p, 0.01));
	shared_set(&s.released);
	/* The bound only keeps a broken pool from hanging the test. */
	assert_true(pool_wait(&p, 30));
	assert_int_equal(s.returned, 3);
	assert_int_equal(pool_join(&p, &e), 0);
}

static void test_a_thread_that_cannot_start_stops_and_joins_the_others(void **state)
{
	(void)state;
	s.hold = true;
	fail_create_at = 3;
	assert_int_equal(pool_start(&p, 5, &e), -1);
	assert_int_equal(e.status, MS_INTERNAL);
	assert_non_null(strstr(e.msg, "cannot start a test worker thread"));
	assert_non_null(strstr(e.msg, "--jobs"));
	/* The two started were told to stop, and had returned by then. */
	assert_int_equal(s.stops, 1);
	assert_int_equal(s.ran[0] + s.ran[1], 2);
	assert_int_equal(s.returned, 2);
	assert_int_equal(s.ran[2] + s.ran[3] + s.ran[4], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_every_worker_runs_once_with_its_own_index, reset),
		cmocka_unit_test_setup(test_a_failing_workers_error_is_the_pools, reset),
		cmocka_unit_test_setup(test_the_wait_ends_when_the_last_worker_does, reset),
		cmocka_unit_test_setup(test_a_thread_that_cannot_start_stops_and_joins_the_others, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
