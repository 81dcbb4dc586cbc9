/* The binlog archive's index as restore, verify and prune read it: which
 * file holds a backup's position (the .partial too), which file follows
 * which across a failover, format-1 entries, and the GTID state. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "binlog/binlog.h"

/* A failover archive: A's file, then B's file of the same name (its new
 * events from 2226 on), then B's .partial. */
static json_t *failover_index(void)
{
	return json_pack("{s:i, s:i, s:[{s:s, s:s, s:i, s:i, s:i, s:s, s:o, s:b},"
			 "{s:s, s:s, s:i, s:i, s:i, s:s, s:s, s:b}],"
			 " s:{s:s, s:s, s:i, s:i, s:i, s:o, s:b}}",
			 "format", 2, "server_id", 2, "files",
			 /* A's */
			 "name", "s1-mariadb-bin.000001", "source_name", "mariadb-bin.000001", "server_id", 1, "from",
			 4, "size", 2226, "xxh3", "e4ef32799d2eaf86", "next", json_null(), "complete", 1,
			 /* B's */
			 "name", "s2-mariadb-bin.000001", "source_name", "mariadb-bin.000001", "server_id", 2, "from",
			 2226, "size", 2505, "xxh3", "02a4b97dc5ede555", "next", "mariadb-bin.000002", "complete", 1,
			 "partial", "name", "s2-mariadb-bin.000002", "source_name", "mariadb-bin.000002", "server_id",
			 2, "from", 4, "size", 1337, "next", json_null(), "complete", 0);
}

static void test_a_position_in_the_partial_is_found_there(void **state)
{
	json_t *idx = failover_index();
	struct binlog_entries en;
	struct ms_err e;

	(void)state;
	assert_non_null(idx);
	assert_int_equal(binlog_entries_load(idx, &en, &e), 0);
	assert_int_equal(en.n, 3);
	assert_false(en.v[2].complete);
	/* A backup in the file being written: the .partial, after every complete file. */
	assert_int_equal(binlog_entries_find_source(&en, "mariadb-bin.000002", 900), 2);
	assert_int_equal(binlog_entries_find_source(&en, "mariadb-bin.000003", 4), -1);
	binlog_entries_release(&en);
	json_decref(idx);
}

static void test_the_same_file_name_on_two_servers_is_found_in_the_index_order(void **state)
{
	json_t *idx = failover_index();
	struct binlog_entries en;
	struct ms_err e;

	(void)state;
	assert_int_equal(binlog_entries_load(idx, &en, &e), 0);
	assert_int_equal(binlog_entries_find_source(&en, "mariadb-bin.000001", 1000), 0);
	/* Beyond A's file: only B's holds that position. */
	assert_int_equal(binlog_entries_find_source(&en, "mariadb-bin.000001", 2400), 1);
	assert_int_equal(en.v[1].from, 2226);
	binlog_entries_release(&en);
	json_decref(idx);
}

static void test_a_file_follows_its_rotate_or_another_servers_file(void **state)
{
	json_t *idx = failover_index();
	struct binlog_entries en;
	struct ms_err e;

	(void)state;
	assert_int_equal(binlog_entries_load(idx, &en, &e), 0);
	assert_true(binlog_info_follows(&en.v[0], &en.v[1])); /* the failover */
	assert_true(binlog_info_follows(&en.v[1], &en.v[2])); /* B's rotation */
	/* The same server, and not the file its ROTATE names: a gap. */
	en.v[2].source[strlen(en.v[2].source) - 1] = '3';
	assert_false(binlog_info_follows(&en.v[1], &en.v[2]));
	binlog_entries_release(&en);
	json_decref(idx);
}

static void test_a_format_1_entry_is_the_index_servers_under_its_own_name(void **state)
{
	json_t *idx =
		json_pack("{s:i, s:i, s:[{s:s, s:i, s:s, s:b}], s:n}", "format", 1, "server_id", 7, "files", "name",
			  "mariadb-bin.000004", "size", 500, "next", "mariadb-bin.000005", "complete", 1, "partial");
	struct binlog_entries en;
	struct ms_err e;

	(void)state;
	assert_int_equal(binlog_entries_load(idx, &en, &e), 0);
	assert_int_equal(en.n, 1);
	assert_int_equal(en.v[0].server_id, 7);
	assert_string_equal(en.v[0].source, "mariadb-bin.000004");
	assert_int_equal(en.v[0].from, 4);
	assert_int_equal(binlog_entries_find_source(&en, "mariadb-bin.000004", 300), 0);
	binlog_entries_release(&en);
	json_decref(idx);
}

static void test_the_gtid_state_keeps_the_last_of_each_domain(void **state)
{
	struct binlog_gtid_state st;
	struct binlog_gtid g = { 0, 2, 1015 };
	char *s;

	(void)state;
	assert_int_equal(binlog_gtid_state_parse("0-1-1009,1-1-7", &st), 0);
	assert_int_equal(binlog_gtid_state_set(&st, &g), 0);
	assert_non_null(s = binlog_gtid_state_str(&st));
	assert_string_equal(s, "0-2-1015,1-1-7");
	free(s);
	assert_int_equal(binlog_gtid_state_parse("0-1-x", &st), -1);
	assert_int_equal(binlog_gtid_state_parse("", &st), 0);
	assert_int_equal(st.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_position_in_the_partial_is_found_there),
		cmocka_unit_test(test_the_same_file_name_on_two_servers_is_found_in_the_index_order),
		cmocka_unit_test(test_a_file_follows_its_rotate_or_another_servers_file),
		cmocka_unit_test(test_a_format_1_entry_is_the_index_servers_under_its_own_name),
		cmocka_unit_test(test_the_gtid_state_keeps_the_last_of_each_domain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
