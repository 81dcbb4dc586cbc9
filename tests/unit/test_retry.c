/* Unit tests for lockreq_retryable: each retry loop's named set holds exactly
 * the server errors that loop has always tried again after. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>

#include "mdl/lockreq.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_lock_request_retries_its_two_timeouts),
		cmocka_unit_test(test_a_backup_worker_yields_on_timeouts_kills_and_changed_definitions),
		cmocka_unit_test(test_a_restore_chunk_is_retried_after_deadlocks_and_a_killed_commit),
		cmocka_unit_test(test_a_ddl_attempt_retries_the_backstop_and_only_our_own_kills),
		cmocka_unit_test(test_a_copy_chunk_retries_row_lock_waits_and_deadlocks),
		cmocka_unit_test(test_timed_out_is_the_lock_request_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
