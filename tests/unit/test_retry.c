/* Unit tests for lockreq_retryable: each retry loop's named set holds exactly
 * the server errors that loop has always tried again after; and for the one
 * retry decision, lockreq_retry_next/again, that every loop goes through. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>

#include "mdl/lockreq.h"
#include "util/clock.h"

/* Every error number any set mentions, and one none does (no such table). */
static const unsigned known[] = { 1180, 1205, 1213, 1317, 1412, 1927, 1969, 1146 };

/* The set retries exactly the numbers in want (0-terminated). */
static void assert_set_is(unsigned set, const unsigned *want)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		bool in = false;

		for (const unsigned *w = want; *w; w++)
			in = in || *w == known[i];
		if (lockreq_retryable(known[i], set) != in)
			fail_msg("error %u: retryable is %d, want %d", known[i], !in, in);
	}
}

static void test_a_lock_request_retries_its_two_timeouts(void **state)
{
	(void)state;
	assert_set_is(LOCKREQ_RETRY_LOCK, (const unsigned[]){ 1205, 1969, 0 });
}

static void test_a_backup_worker_yields_on_timeouts_kills_and_changed_definitions(void **state)
{
	(void)state;
	assert_set_is(LOCKREQ_RETRY_YIELD, (const unsigned[]){ 1205, 1969, 1317, 1412, 0 });
}

static void test_a_restore_chunk_is_retried_after_deadlocks_and_a_killed_commit(void **state)
{
	(void)state;
	assert_set_is(LOCKREQ_RETRY_CHUNK, (const unsigned[]){ 1205, 1969, 1213, 1317, 1180, 0 });
}

static void test_a_ddl_attempt_retries_the_backstop_and_only_our_own_kills(void **state)
{
	(void)state;
	assert_set_is(LOCKREQ_RETRY_DDL, (const unsigned[]){ 1205, 0 });
	assert_set_is(LOCKREQ_RETRY_DDL_CANCELLED, (const unsigned[]){ 1317, 1927, 0 });
}

static void test_a_copy_chunk_retries_row_lock_waits_and_deadlocks(void **state)
{
	(void)state;
	assert_set_is(LOCKREQ_RETRY_ROW_LOCK, (const unsigned[]){ 1205, 1213, 0 });
}

static void test_timed_out_is_the_lock_request_set(void **state)
{
	struct ms_err e = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		e.sql_errno = known[i];
		assert_int_equal(lockreq_timed_out(&e), lockreq_retryable(known[i], LOCKREQ_RETRY_LOCK));
	}
	e.sql_errno = 0;
	assert_false(lockreq_timed_out(&e));
}

static struct ms_err server_error(unsigned sql_errno)
{
	struct ms_err e = { .status = MS_SERVER, .sql_errno = sql_errno };

	return e;
}

/* Records each backoff instead of sleeping it. */
struct waits {
	double s[16];
	unsigned n;
};

static void record_wait(void *ctx, double s)
{
	struct waits *w = ctx;

	if (w->n < 16)
		w->s[w->n] = s;
	w->n++;
}

/* The retry under test, its recorded backoffs, and the error each attempt
 * ends with. */
static struct waits w;
static struct lockreq_retry r;
static struct ms_err e;

/* A retry of set (backoff base 0.2 s, cap 4) whose attempts fail with
 * sql_errno. */
static void given(unsigned set, unsigned sql_errno)
{
	w.n = 0;
	r = (struct lockreq_retry){ .set = set, .base_s = 0.2, .cap = 4, .wait = record_wait, .ctx = &w };
	e = server_error(sql_errno);
}

/* Where the retry stands: why it stopped (or LOCKREQ_GO_ON), after how many
 * failed attempts, and how many backoffs were waited. */
static void assert_retry(enum lockreq_stop stop, unsigned attempts, unsigned waited)
{
	assert_int_equal(r.stop, stop);
	assert_int_equal(r.attempt, attempts);
	assert_int_equal(w.n, waited);
}

static void test_an_error_in_the_set_is_tried_again_after_a_backoff(void **state)
{
	(void)state;
	given(LOCKREQ_RETRY_CHUNK, 1213);
	assert_true(lockreq_retry_again(&r, &e));
	assert_retry(LOCKREQ_GO_ON, 1, 1);
}

static void test_the_backoff_doubles_from_its_base_up_to_the_cap(void **state)
{
	const double want[] = { 0.2, 0.4, 0.8, 1.6, 3.2, 3.2, 3.2 };

	(void)state;
	given(LOCKREQ_RETRY_LOCK, 1969);
	for (unsigned i = 0; i < 7; i++)
		assert_true(lockreq_retry_again(&r, &e));
	assert_retry(LOCKREQ_GO_ON, 7, 7);
	for (unsigned i = 0; i < 7; i++)
		assert_float_equal(w.s[i], want[i], 1e-9);
}

static void test_an_error_outside_the_set_ends_the_retries_without_waiting(void **state)
{
	(void)state;
	given(LOCKREQ_RETRY_ROW_LOCK, 1146);
	assert_false(lockreq_retry_again(&r, &e));
	assert_retry(LOCKREQ_NOT_RETRYABLE, 1, 0);
	/* A statement timeout is not a row lock: the copy does not retry it. */
	e = server_error(1969);
	assert_false(lockreq_retry_again(&r, &e));
	assert_retry(LOCKREQ_NOT_RETRYABLE, 2, 0);
}

static void test_the_attempts_run_out_at_max_attempts_counting_the_first(void **state)
{
	(void)state;
	given(LOCKREQ_RETRY_YIELD, 1317);
	r.max_attempts = 3;
	assert_false(lockreq_retry_last(&r));
	assert_true(lockreq_retry_again(&r, &e));
	assert_false(lockreq_retry_last(&r));
	assert_true(lockreq_retry_again(&r, &e));
	/* The third attempt is the last: it is the one worth watching. */
	assert_true(lockreq_retry_last(&r));
	assert_false(lockreq_retry_again(&r, &e));
	assert_retry(LOCKREQ_OUT_OF_ATTEMPTS, 3, 2);
}

static void test_nothing_is_tried_again_once_the_deadline_has_passed(void **state)
{
	(void)state;
	given(LOCKREQ_RETRY_LOCK, 1205);
	r.deadline = ms_now() + 3600;
	assert_true(lockreq_retry_again(&r, &e));
	assert_false(lockreq_retry_last(&r));
	r.deadline = ms_now() - 1;
	assert_true(lockreq_retry_last(&r));
	assert_false(lockreq_retry_again(&r, &e));
	assert_retry(LOCKREQ_PAST_DEADLINE, 2, 1);
}

static void test_a_freeze_retries_a_lock_request_that_gave_up_but_others_do_not(void **state)
{
	struct lockreq_retry freeze = { .set = LOCKREQ_RETRY_FREEZE, .base_s = 0.2, .cap = 4 };
	struct lockreq_retry lock = { .set = LOCKREQ_RETRY_LOCK, .base_s = 0.2, .cap = 4 };
	struct ms_err gave_up = { .status = MS_TIMEOUT, .sql_errno = 0 };

	(void)state;
	assert_true(lockreq_retry_next(&freeze, &gave_up));
	assert_false(lockreq_retry_next(&lock, &gave_up));
	gave_up.status = MS_SERVER;
	assert_false(lockreq_retry_next(&freeze, &gave_up));
}

static void test_a_reconnect_loop_retries_any_failure(void **state)
{
	(void)state;
	given(LOCKREQ_RETRY_ANY, 2002);
	e.status = MS_CONNECT;
	assert_true(lockreq_retry_next(&r, &e));
	e = server_error(0);
	assert_true(lockreq_retry_next(&r, &e));
	assert_true(lockreq_retryable(1146, LOCKREQ_RETRY_ANY));
	assert_false(lockreq_retryable(1146, LOCKREQ_RETRY_YIELD));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_lock_request_retries_its_two_timeouts),
		cmocka_unit_test(test_a_backup_worker_yields_on_timeouts_kills_and_changed_definitions),
		cmocka_unit_test(test_a_restore_chunk_is_retried_after_deadlocks_and_a_killed_commit),
		cmocka_unit_test(test_a_ddl_attempt_retries_the_backstop_and_only_our_own_kills),
		cmocka_unit_test(test_a_copy_chunk_retries_row_lock_waits_and_deadlocks),
		cmocka_unit_test(test_timed_out_is_the_lock_request_set),
		cmocka_unit_test(test_an_error_in_the_set_is_tried_again_after_a_backoff),
		cmocka_unit_test(test_the_backoff_doubles_from_its_base_up_to_the_cap),
		cmocka_unit_test(test_an_error_outside_the_set_ends_the_retries_without_waiting),
		cmocka_unit_test(test_the_attempts_run_out_at_max_attempts_counting_the_first),
		cmocka_unit_test(test_nothing_is_tried_again_once_the_deadline_has_passed),
		cmocka_unit_test(test_a_freeze_retries_a_lock_request_that_gave_up_but_others_do_not),
		cmocka_unit_test(test_a_reconnect_loop_retries_any_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
