/* Unit tests for mdl_type: parsing and naming lock types, and the server's
 * granted and pending conflict matrices as verified on MariaDB 10.11. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "mdl/mdl_type.h"

/* ---- the 9 table-scope types MariaDB has (no SWLP) ------------------------ */

#define N_MARIA 9

static const enum mdl_type maria_types[N_MARIA] = {
	MDL_TYPE_SHARED,
	MDL_TYPE_SHARED_HIGH_PRIO,
	MDL_TYPE_SHARED_READ,
	MDL_TYPE_SHARED_WRITE,
	MDL_TYPE_SHARED_UPGRADABLE,
	MDL_TYPE_SHARED_READ_ONLY,
	MDL_TYPE_SHARED_NO_WRITE,
	MDL_TYPE_SHARED_NO_READ_WRITE,
	MDL_TYPE_EXCLUSIVE,
};

static const char *const maria_abbrev[N_MARIA] = {
	"S", "SH", "SR", "SW", "SU", "SRO", "SNW", "SNRW", "X",
};

/*
 * Rows: the request; columns: the lock another session already HOLDS, in
 * the order S SH SR SW SU SRO SNW SNRW X. 'x' means the request must wait.
 * Written from the MariaDB 10.11 server's MDL_object_lock granted matrix.
 */
static const char *const expect_granted[N_MARIA] = {
	/*          S  SH SR SW SU RO NW NR X */
	/* S    */ ".  .  .  .  .  .  .  .  x",
	/* SH   */ ".  .  .  .  .  .  .  .  x",
	/* SR   */ ".  .  .  .  .  .  .  x  x",
	/* SW   */ ".  .  .  .  .  x  x  x  x",
	/* SU   */ ".  .  .  .  x  .  x  x  x",
	/* SRO  */ ".  .  .  x  .  .  .  x  x",
	/* SNW  */ ".  .  .  x  x  .  x  x  x",
	/* SNRW */ ".  .  x  x  x  x  x  x  x",
	/* X    */ "x  x  x  x  x  x  x  x  x",
};

/* Same layout; columns: an earlier request still PENDING on the object. */
static const char *const expect_pending[N_MARIA] = {
	/*          S  SH SR SW SU RO NW NR X */
	/* S    */ ".  .  .  .  .  .  .  .  x",
	/* SH   */ ".  .  .  .  .  .  .  .  .",
	/* SR   */ ".  .  .  .  .  .  .  x  x",
	/* SW   */ ".  .  .  .  .  .  x  x  x",
	/* SU   */ ".  .  .  .  .  .  .  .  x",
	/* SRO  */ ".  .  .  x  .  .  .  x  x",
	/* SNW  */ ".  .  .  .  .  .  .  .  x",
	/* SNRW */ ".  .  .  .  .  .  .  .  x",
	/* X    */ ".  .  .  .  .  .  .  .  .",
};

/* The j-th '.' or 'x' of a row (spaces are only for the eye). */
static bool expected_cell(const char *row, int j)
{
	for (const char *c = row; *c; c++) {
		if (*c != '.' && *c != 'x')
			continue;
		if (j-- == 0)
			return *c == 'x';
	}
	fail_msg("expected-table row too short: \"%s\"", row);
	return false;
}

static void check_matrix(const char *what, const char *const expect[N_MARIA],
			 bool (*conflicts)(enum mdl_type, enum mdl_type))
{
	int wrong = 0;

	for (int i = 0; i < N_MARIA; i++) {
		for (int j = 0; j < N_MARIA; j++) {
			bool want = expected_cell(expect[i], j);
			bool got = conflicts(maria_types[i], maria_types[j]);

			if (want != got) {
				print_error("%s: request %s vs %s: got %s, expected %s\n", what,
					    maria_abbrev[i], maria_abbrev[j],
					    got ? "conflict" : "compatible",
					    want ? "conflict" : "compatible");
				wrong++;
			}
		}
	}
	if (wrong)
		fail_msg("%d of %d %s pairs wrong", wrong, N_MARIA * N_MARIA, what);
}

/* ---- parsing and naming -------------------------------------------------- */

static void test_parse_accepts_both_spellings_case_insensitively(void **state)
{
	(void)state;
	assert_int_equal(mdl_type_parse("SHARED_READ"), MDL_TYPE_SHARED_READ);
	assert_int_equal(mdl_type_parse("MDL_SHARED_READ"), MDL_TYPE_SHARED_READ);
	assert_int_equal(mdl_type_parse("shared_read"), MDL_TYPE_SHARED_READ);
	assert_int_equal(mdl_type_parse("mdl_Shared_Read"), MDL_TYPE_SHARED_READ);
	assert_int_equal(mdl_type_parse("EXCLUSIVE"), MDL_TYPE_EXCLUSIVE);
	assert_int_equal(mdl_type_parse("MDL_EXCLUSIVE"), MDL_TYPE_EXCLUSIVE);
	assert_int_equal(mdl_type_parse("MDL_INTENTION_EXCLUSIVE"), MDL_TYPE_INTENTION_EXCLUSIVE);
	assert_int_equal(mdl_type_parse("shared_no_read_write"), MDL_TYPE_SHARED_NO_READ_WRITE);
	assert_int_equal(mdl_type_parse("MDL_SHARED_HIGH_PRIO"), MDL_TYPE_SHARED_HIGH_PRIO);
}

static void test_parse_unknown_and_null_are_unknown(void **state)
{
	static const char *const bad[] = {
		"", "MDL_", "MDL", "UNKNOWN", "SHARED_READ ", " SHARED_READ", "SHARED-READ",
		"MDL_MDL_SHARED_READ", "SR", "BACKUP_DDL", "MDL_BACKUP_FTWRL1", "SHARED_READX",
		"SHARED_REA",
	};

	(void)state;
	assert_int_equal(mdl_type_parse(NULL), MDL_TYPE_UNKNOWN);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		if (mdl_type_parse(bad[k]) != MDL_TYPE_UNKNOWN)
			fail_msg("\"%s\" parsed as %s", bad[k], mdl_type_name(mdl_type_parse(bad[k])));
}

static void test_names_round_trip_for_every_type(void **state)
{
	char prefixed[64];

	(void)state;
	for (int t = MDL_TYPE_INTENTION_EXCLUSIVE; t <= MDL_TYPE_EXCLUSIVE; t++) {
		const char *name = mdl_type_name((enum mdl_type)t);

		assert_non_null(name);
		assert_string_not_equal(name, "UNKNOWN");
		assert_true(strncmp(name, "MDL_", 4) != 0);
		assert_int_equal(mdl_type_parse(name), t);
		snprintf(prefixed, sizeof(prefixed), "MDL_%s", name);
		assert_int_equal(mdl_type_parse(prefixed), t);
		/* distinct names */
		for (int u = MDL_TYPE_INTENTION_EXCLUSIVE; u < t; u++)
			assert_string_not_equal(name, mdl_type_name((enum mdl_type)u));
	}
	assert_string_equal(mdl_type_name(MDL_TYPE_SHARED_READ), "SHARED_READ");
	assert_string_equal(mdl_type_name(MDL_TYPE_SHARED_NO_WRITE), "SHARED_NO_WRITE");
	assert_string_equal(mdl_type_name(MDL_TYPE_UNKNOWN), "UNKNOWN");
	assert_string_equal(mdl_type_name((enum mdl_type)999), "UNKNOWN");
	assert_string_equal(mdl_type_name((enum mdl_type)-1), "UNKNOWN");
}

/* ---- full matrices ------------------------------------------------------- */

static void test_granted_matrix_matches_server(void **state)
{
	(void)state;
	check_matrix("granted", expect_granted, mdl_conflicts_with_granted);
}

static void test_pending_matrix_matches_server(void **state)
{
	(void)state;
	check_matrix("pending", expect_pending, mdl_conflicts_with_pending);
}

/* Every pending conflict is also a granted conflict: a request never queues
 * behind a waiter it could coexist with once that waiter is granted. */
static void test_pending_conflicts_are_a_subset_of_granted_ones(void **state)
{
	(void)state;
	for (int i = 0; i < N_MARIA; i++)
		for (int j = 0; j < N_MARIA; j++)
			if (mdl_conflicts_with_pending(maria_types[i], maria_types[j]) &&
			    !mdl_conflicts_with_granted(maria_types[i], maria_types[j]))
				fail_msg("%s queues behind pending %s but coexists with it granted",
					 maria_abbrev[i], maria_abbrev[j]);
}

/* ---- named behaviour ----------------------------------------------------- */

/* The classic outage: one ALTER waiting for X freezes every later SELECT. */
static void test_new_read_queues_behind_pending_exclusive(void **state)
{
	(void)state;
	assert_true(mdl_conflicts_with_pending(MDL_TYPE_SHARED_READ, MDL_TYPE_EXCLUSIVE));
	assert_true(mdl_conflicts_with_pending(MDL_TYPE_SHARED_WRITE, MDL_TYPE_EXCLUSIVE));
	assert_true(mdl_conflicts_with_pending(MDL_TYPE_SHARED, MDL_TYPE_EXCLUSIVE));
	/* while the reads themselves do not block each other */
	assert_false(mdl_conflicts_with_granted(MDL_TYPE_SHARED_READ, MDL_TYPE_SHARED_READ));
	assert_false(mdl_conflicts_with_pending(MDL_TYPE_SHARED_READ, MDL_TYPE_SHARED_READ));
}

/* A writer must wait for a GRANTED LOCK TABLES ... READ, but MariaDB does not
 * make it queue behind a PENDING one. */
static void test_writer_does_not_queue_behind_pending_lock_tables_read(void **state)
{
	(void)state;
	assert_true(mdl_conflicts_with_granted(MDL_TYPE_SHARED_WRITE, MDL_TYPE_SHARED_READ_ONLY));
	assert_false(mdl_conflicts_with_pending(MDL_TYPE_SHARED_WRITE, MDL_TYPE_SHARED_READ_ONLY));
	/* the other way round it does: a pending writer holds back LOCK TABLES READ */
	assert_true(mdl_conflicts_with_pending(MDL_TYPE_SHARED_READ_ONLY, MDL_TYPE_SHARED_WRITE));
}

static void test_writer_queues_behind_pending_flush_for_export(void **state)
{
	(void)state;
	assert_true(mdl_conflicts_with_pending(MDL_TYPE_SHARED_WRITE, MDL_TYPE_SHARED_NO_WRITE));
	assert_true(mdl_conflicts_with_granted(MDL_TYPE_SHARED_WRITE, MDL_TYPE_SHARED_NO_WRITE));
	/* readers are not held back by it */
	assert_false(mdl_conflicts_with_pending(MDL_TYPE_SHARED_READ, MDL_TYPE_SHARED_NO_WRITE));
}

/* SHOW / information_schema keep working behind any queue. */
static void test_show_never_waits_for_pending(void **state)
{
	(void)state;
	for (int j = 0; j < N_MARIA; j++)
		if (mdl_conflicts_with_pending(MDL_TYPE_SHARED_HIGH_PRIO, maria_types[j]))
			fail_msg("SH queues behind pending %s", maria_abbrev[j]);
	/* only a granted X stops it */
	for (int j = 0; j < N_MARIA; j++)
		assert_int_equal(mdl_conflicts_with_granted(MDL_TYPE_SHARED_HIGH_PRIO, maria_types[j]),
				 maria_types[j] == MDL_TYPE_EXCLUSIVE);
}

/* Backup, global and scope locks are not modelled: naming a possible blocker
 * beats hiding a real one. */
static void test_unknown_types_are_assumed_to_conflict(void **state)
{
	static const enum mdl_type odd[] = {
		MDL_TYPE_UNKNOWN, MDL_TYPE_INTENTION_EXCLUSIVE, (enum mdl_type)999, (enum mdl_type)-1,
	};

	(void)state;
	for (size_t k = 0; k < sizeof(odd) / sizeof(odd[0]); k++) {
		for (int j = 0; j < N_MARIA; j++) {
			assert_true(mdl_conflicts_with_granted(odd[k], maria_types[j]));
			assert_true(mdl_conflicts_with_granted(maria_types[j], odd[k]));
			assert_true(mdl_conflicts_with_pending(odd[k], maria_types[j]));
			assert_true(mdl_conflicts_with_pending(maria_types[j], odd[k]));
		}
	}
	assert_true(mdl_conflicts_with_granted(MDL_TYPE_UNKNOWN, MDL_TYPE_UNKNOWN));
	assert_true(mdl_conflicts_with_pending(MDL_TYPE_UNKNOWN, MDL_TYPE_UNKNOWN));
	assert_true(mdl_conflicts_with_granted(MDL_TYPE_INTENTION_EXCLUSIVE, MDL_TYPE_UNKNOWN));
	assert_true(mdl_conflicts_with_granted(MDL_TYPE_UNKNOWN, MDL_TYPE_INTENTION_EXCLUSIVE));
}

/* Scope locks: every DML takes IX on the schema; they never block each other. */
static void test_intention_exclusive_locks_are_compatible(void **state)
{
	(void)state;
	assert_false(mdl_conflicts_with_granted(MDL_TYPE_INTENTION_EXCLUSIVE, MDL_TYPE_INTENTION_EXCLUSIVE));
	assert_false(mdl_conflicts_with_pending(MDL_TYPE_INTENTION_EXCLUSIVE, MDL_TYPE_INTENTION_EXCLUSIVE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepts_both_spellings_case_insensitively),
		cmocka_unit_test(test_parse_unknown_and_null_are_unknown),
		cmocka_unit_test(test_names_round_trip_for_every_type),
		cmocka_unit_test(test_granted_matrix_matches_server),
		cmocka_unit_test(test_pending_matrix_matches_server),
		cmocka_unit_test(test_pending_conflicts_are_a_subset_of_granted_ones),
		cmocka_unit_test(test_new_read_queues_behind_pending_exclusive),
		cmocka_unit_test(test_writer_does_not_queue_behind_pending_lock_tables_read),
		cmocka_unit_test(test_writer_queues_behind_pending_flush_for_export),
		cmocka_unit_test(test_show_never_waits_for_pending),
		cmocka_unit_test(test_unknown_types_are_assumed_to_conflict),
		cmocka_unit_test(test_intention_exclusive_locks_are_compatible),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
