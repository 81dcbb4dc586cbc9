/* The pure parts of the dump plan: which tables the user's filters select,
 * and how names become safe, one-to-one file names. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "dump/plan.h"

static void test_no_filter_selects_user_databases_only(void **state)
{
	struct dump_filter f = { 0 };

	(void)state;
	assert_true(dump_filter_selects(&f, "shop", "users"));
	assert_false(dump_filter_selects(&f, "mysql", "user"));
	assert_false(dump_filter_selects(&f, "performance_schema", "threads"));
	assert_false(dump_filter_selects(&f, "information_schema", "TABLES"));
	assert_false(dump_filter_selects(&f, "sys", "x"));
}

static void test_databases_and_tables_select_only_what_is_named(void **state)
{
	char *dbs[] = { "shop" }, *tables[] = { "crm.contacts" };
	struct dump_filter f = { dbs, 1, tables, 1, NULL, 0 };

	(void)state;
	assert_true(dump_filter_selects(&f, "shop", "users"));
	assert_true(dump_filter_selects(&f, "crm", "contacts"));
	assert_false(dump_filter_selects(&f, "crm", "leads"));
	assert_false(dump_filter_selects(&f, "shopping", "users"));
}

static void test_exclude_globs_match_db_dot_table(void **state)
{
	char *ex[] = { "appwrite._*_audit", "*.tmp_*" };
	struct dump_filter f = { NULL, 0, NULL, 0, ex, 2 };

	(void)state;
	/* Seed 000: leave the audit logs out. */
	assert_true(dump_filter_excludes(&f, "appwrite", "_1_audit"));
	assert_true(dump_filter_excludes(&f, "appwrite", "_console_audit"));
	assert_false(dump_filter_excludes(&f, "appwrite", "_1_users"));
	assert_true(dump_filter_excludes(&f, "shop", "tmp_import"));
	assert_false(dump_filter_excludes(&f, "shop", "orders"));
}

static void assert_path_name(const char *name, const char *want)
{
	char *got = dump_path_name(name);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_path_names_keep_plain_names(void **state)
{
	(void)state;
	assert_path_name("users", "users");
	assert_path_name("Order_Items$2-b", "Order_Items$2-b");
	assert_path_name("café", "café");
}

static void test_path_names_encode_what_a_file_system_cannot_hold(void **state)
{
	(void)state;
	assert_path_name("..", "@2e@2e");
	assert_path_name("a/b", "a@2fb");
	assert_path_name("a.b", "a@2eb");
	assert_path_name("with space", "with@20space");
	/* '@' is encoded too, so "a@2eb" and "a.b" cannot collide. */
	assert_path_name("a@2eb", "a@402eb");
	assert_path_name("", "");
}

/* Splits min..max into n ranges and checks them against the expected
 * predicates, NULL-terminated. */
static void expect_ranges(const char *min, const char *max, unsigned long long n, const char *const *want)
{
	struct dump_plan p = { 0 };
	size_t i;

	p.tables = calloc(1, sizeof(*p.tables));
	assert_non_null(p.tables);
	p.n_tables = 1;
	assert_int_equal(dump_plan_split_range(&p.tables[0], "`k`", min, max, n), 0);
	for (i = 0; want[i]; i++) {
		assert_true(i < p.tables[0].n_chunks);
		assert_string_equal(p.tables[0].chunks[i].where, want[i]);
	}
	assert_int_equal(p.tables[0].n_chunks, i);
	dump_plan_release(&p);
}

static void test_ranges_split_small_keys_as_before(void **state)
{
	(void)state;
	expect_ranges("1", "100", 4,
		      (const char *const[]){ "`k` < 26", "`k` >= 26 AND `k` < 51", "`k` >= 51 AND `k` < 76",
					     "`k` >= 76", NULL });
	expect_ranges("-10", "10", 2, (const char *const[]){ "`k` < 1", "`k` >= 1", NULL });
	expect_ranges("5", "5", 4, (const char *const[]){ NULL });
}

/* Keys spanning more than 2^63: the whole signed BIGINT range and UNSIGNED
 * BIGINT near its top split without overflow (the ASan/UBSan build traps
 * signed overflow), in order and covering every value. */
static void test_ranges_split_the_whole_bigint_range(void **state)
{
	(void)state;
	expect_ranges("-9223372036854775808", "9223372036854775807", 4,
		      (const char *const[]){ "`k` < -4611686018427387904",
					     "`k` >= -4611686018427387904 AND `k` < 0",
					     "`k` >= 0 AND `k` < 4611686018427387904", "`k` >= 4611686018427387904", NULL });
	expect_ranges("-9223372036854775808", "-9223372036854775806", 2,
		      (const char *const[]){ "`k` < -9223372036854775806", "`k` >= -9223372036854775806", NULL });
	expect_ranges("9223372036854775806", "9223372036854775807", 2,
		      (const char *const[]){ "`k` < 9223372036854775807", "`k` >= 9223372036854775807", NULL });
	expect_ranges("0", "18446744073709551615", 2,
		      (const char *const[]){ "`k` < 9223372036854775808", "`k` >= 9223372036854775808", NULL });
	expect_ranges("18446744073709551610", "18446744073709551615", 3,
		      (const char *const[]){ "`k` < 18446744073709551612",
					     "`k` >= 18446744073709551612 AND `k` < 18446744073709551614",
					     "`k` >= 18446744073709551614", NULL });
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_filter_selects_user_databases_only),
		cmocka_unit_test(test_databases_and_tables_select_only_what_is_named),
		cmocka_unit_test(test_exclude_globs_match_db_dot_table),
		cmocka_unit_test(test_path_names_keep_plain_names),
		cmocka_unit_test(test_path_names_encode_what_a_file_system_cannot_hold),
		cmocka_unit_test(test_ranges_split_small_keys_as_before),
		cmocka_unit_test(test_ranges_split_the_whole_bigint_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
