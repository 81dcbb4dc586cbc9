/* restore --rename on the backup's SQL: database names in qualifier
 * position follow the rename, nothing else does, and the safety net stops a
 * statement that still names a renamed database. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restore/rename.h"
#include "sql/sqlsplit.h"

static struct restore_rename renames[] = { { "sbtest", "sbtest_k" }, { "shop", "shop copy" } };
static const struct restore_opts opts = { .renames = renames, .n_renames = 2 };

/* The statement as a renamed restore into `target` runs it. */
static char *renamed(const char *target, const char *stmt, bool nbe)
{
	struct ms_err e;
	char *out = NULL;

	ms_err_clear(&e);
	if (restore_rename_sql(&opts, target, stmt, strlen(stmt), nbe, NULL, 0, NULL, &out, &e))
		fail_msg("%s: %s", stmt, e.msg);
	return out;
}

static void assert_renamed(const char *stmt, const char *want)
{
	char *got = renamed("sbtest_k", stmt, false);

	assert_string_equal(got, want);
	free(got);
}

static void test_every_spelling_of_a_qualifier_follows_the_rename(void **state)
{
	(void)state;
	assert_renamed("SELECT * FROM sbtest.t", "SELECT * FROM `sbtest_k`.t");
	assert_renamed("SELECT * FROM `sbtest`.`t`", "SELECT * FROM `sbtest_k`.`t`");
	assert_renamed("SELECT * FROM `sbtest` . `t`", "SELECT * FROM `sbtest_k` . `t`");
	assert_renamed("SELECT * FROM sbtest /* here */ .\n -- there\n t",
		       "SELECT * FROM `sbtest_k` /* here */ .\n -- there\n t");
	assert_renamed("SELECT sbtest.t.c, sbtest.f(1) FROM sbtest.t",
		       "SELECT `sbtest_k`.t.c, `sbtest_k`.f(1) FROM `sbtest_k`.t");
	assert_renamed("GRANT SELECT ON sbtest.* TO x", "GRANT SELECT ON `sbtest_k`.* TO x");
	assert_renamed("SELECT * FROM \"sbtest\".\"t\"", "SELECT * FROM `sbtest_k`.\"t\"");
	assert_renamed("SELECT * FROM SBTest.t", "SELECT * FROM `sbtest_k`.t");
	/* A name that needs quoting gets it. */
	assert_renamed("SELECT * FROM shop.orders", "SELECT * FROM `shop copy`.orders");
}

/* A rename that changes only the case: the new name is the copy's. */
static void test_rename_to_another_case_leaves_the_new_name_alone(void **state)
{
	struct restore_rename r[] = { { "app", "App" } };
	const struct restore_opts o = { .renames = r, .n_renames = 1 };
	static const char stmt[] = "SELECT * FROM app.t JOIN App.u";
	struct ms_err e;
	char *out = NULL;

	(void)state;
	assert_int_equal(restore_rename_sql(&o, "App", stmt, strlen(stmt), false, NULL, 0, NULL, &out, &e), 0);
	assert_string_equal(out, "SELECT * FROM `App`.t JOIN App.u");
	free(out);
}

static void test_strings_comments_columns_and_other_databases_are_untouched(void **state)
{
	static const char *const same[] = {
		"SELECT 'sbtest.t', \"sbtest\", 'it''s sbtest.t', 'a\\'sbtest.t' FROM t",
		"SELECT 1 -- sbtest.t\n# sbtest.t\n/* sbtest.t */ FROM t",
		"SELECT t.sbtest, sbtest FROM t AS sbtest_x WHERE x.sbtest.c = 1",
		"SELECT @sbtest.x, @@session.sbtest, @`sbtest`.y",
		"SELECT * FROM other.t JOIN sbtest_2.t JOIN `sbtest x`.t",
		"SELECT 1.5, 2 .5, sbtest FROM t",
		"SELECT DATABASE(), SCHEMA() FROM t",
		"INSERT INTO t VALUES ('sbtest.t', 0x73627465)",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		assert_renamed(same[i], same[i]);
		assert_int_equal(restore_rename_check(&opts, same[i], strlen(same[i]), false, NULL, 0, NULL), 0);
	}
}

static void test_executable_comments_are_sql_and_are_rewritten(void **state)
{
	(void)state;
	assert_renamed("/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER sbtest.trg "
		       "BEFORE INSERT ON sbtest.t FOR EACH ROW SET NEW.c = (SELECT MAX(c) FROM sbtest.t2) */",
		       "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER `sbtest_k`.trg "
		       "BEFORE INSERT ON `sbtest_k`.t FOR EACH ROW SET NEW.c = (SELECT MAX(c) FROM `sbtest_k`.t2) */");
}

static void test_object_and_trigger_table_are_put_in_the_target_database(void **state)
{
	char *got;

	(void)state;
	assert_renamed("CREATE DEFINER=`u`@`%` PROCEDURE `sbtest`.`p`()\nBEGIN\n  SELECT COUNT(*) FROM sbtest.t;\nEND",
		       "CREATE DEFINER=`u`@`%` PROCEDURE `sbtest_k`.`p`()\nBEGIN\n  SELECT COUNT(*) FROM `sbtest_k`.t;\nEND");
	/* The own qualifier becomes the target even when nothing renames it. */
	got = renamed("copy", "CREATE TRIGGER app.trg BEFORE UPDATE ON app.t FOR EACH ROW SET NEW.c = 1", false);
	assert_string_equal(got, "CREATE TRIGGER `copy`.`trg` BEFORE UPDATE ON `copy`.`t` FOR EACH ROW SET NEW.c = 1");
	free(got);
	/* An unqualified object stays so: the session is in the target. */
	got = renamed("copy", "CREATE VIEW v AS SELECT 1", false);
	assert_string_equal(got, "CREATE VIEW v AS SELECT 1");
	free(got);
}

static void test_table_definitions_follow_the_rename(void **state)
{
	(void)state;
	assert_renamed("CREATE TABLE `sbtest`.`t` (\n  `id` int NOT NULL DEFAULT nextval(`sbtest`.`s`),\n"
		       "  `p` int,\n  CONSTRAINT `fk` FOREIGN KEY (`p`) REFERENCES `sbtest`.`t` (`id`),\n"
		       "  CONSTRAINT `c` CHECK (`p` <> 'sbtest.t')\n)",
		       "CREATE TABLE `sbtest_k`.`t` (\n  `id` int NOT NULL DEFAULT nextval(`sbtest_k`.`s`),\n"
		       "  `p` int,\n  CONSTRAINT `fk` FOREIGN KEY (`p`) REFERENCES `sbtest_k`.`t` (`id`),\n"
		       "  CONSTRAINT `c` CHECK (`p` <> 'sbtest.t')\n)");
}

static void test_database_statements_follow_the_rename(void **state)
{
	(void)state;
	assert_renamed("USE sbtest", "USE `sbtest_k`");
	assert_renamed("ALTER DATABASE `sbtest` CHARACTER SET latin1", "ALTER DATABASE `sbtest_k` CHARACTER SET latin1");
	assert_renamed("CREATE DATABASE IF NOT EXISTS sbtest", "CREATE DATABASE IF NOT EXISTS `sbtest_k`");
	assert_renamed("SELECT 1 FROM t USE INDEX (sbtest)", "SELECT 1 FROM t USE INDEX (sbtest)");
}

static void test_backslashes_follow_the_sql_mode(void **state)
{
	/* Escapes on: one string from 'x to y'. Off: 'x\' and 'y' are strings
	 * and sbtest.t between them is SQL. */
	static const char stmt[] = "SELECT 'x\\' , sbtest.t, \\'y'";
	char *got;

	(void)state;
	got = renamed("sbtest_k", stmt, false);
	assert_string_equal(got, stmt);
	free(got);
	got = renamed("sbtest_k", stmt, true);
	assert_string_equal(got, "SELECT 'x\\' , `sbtest_k`.t, \\'y'");
	free(got);
	assert_true(restore_rename_follow_mode("SET SESSION sql_mode='NO_BACKSLASH_ESCAPES'", 42, false));
	assert_false(restore_rename_follow_mode("SET SESSION sql_mode=''", 23, true));
	assert_true(restore_rename_follow_mode("SELECT 1", 8, true));
}

static void test_each_rewrite_is_listed_with_its_line(void **state)
{
	static const char stmt[] = "CREATE TRIGGER sbtest.trg\nBEFORE INSERT ON `sbtest`.t\nFOR EACH ROW\n"
				   "  INSERT INTO sbtest . log VALUES ('sbtest.t')";
	json_t *log = json_array();
	struct ms_err e;
	char *out = NULL;

	(void)state;
	assert_int_equal(restore_rename_sql(&opts, "sbtest_k", stmt, strlen(stmt), false, "sbtest/t.triggers.sql", 10,
					    log, &out, &e),
			 0);
	assert_int_equal(json_array_size(log), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(log, 0), "from")), "sbtest.trg");
	assert_string_equal(json_string_value(json_object_get(json_array_get(log, 0), "to")), "`sbtest_k`.trg");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(log, 0), "line")), 10);
	assert_string_equal(json_string_value(json_object_get(json_array_get(log, 1), "from")), "`sbtest`.t");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(log, 1), "line")), 11);
	assert_string_equal(json_string_value(json_object_get(json_array_get(log, 2), "from")), "sbtest . log");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(log, 2), "line")), 13);
	assert_string_equal(json_string_value(json_object_get(json_array_get(log, 2), "file")), "sbtest/t.triggers.sql");
	free(out);
	json_decref(log);
}

static void test_safety_net_stops_a_statement_naming_a_renamed_database(void **state)
{
	static const char *const bad[] = {
		"CREATE TRIGGER sbtest.trg BEFORE INSERT ON t FOR EACH ROW SET NEW.c = 1",
		"SELECT 1 FROM x JOIN\n /*!50003 `sbtest` . `t` */",
		"USE SBTEST",
		"DROP DATABASE IF EXISTS shop",
		"CALL shop.p()",
	};
	const struct restore_opts none = { 0 };
	struct ms_err e;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms_err_clear(&e);
		assert_int_equal(restore_rename_check(&opts, bad[i], strlen(bad[i]), false, "sbtest/views.sql", 7, &e), -1);
		assert_int_equal(e.status, MS_USAGE);
		assert_non_null(strstr(e.msg, "sbtest/views.sql line"));
		assert_non_null(strstr(e.msg, "--rename"));
	}
	/* The file, the line of the reference and the reference itself. */
	ms_err_clear(&e);
	assert_int_equal(restore_rename_check(&opts, bad[1], strlen(bad[1]), false, "sbtest/views.sql", 7, &e), -1);
	assert_non_null(strstr(e.msg, "sbtest/views.sql line 8: `sbtest` . `t` names database sbtest"));
	/* Without renames nothing is refused. */
	assert_int_equal(restore_rename_check(&none, bad[0], strlen(bad[0]), false, NULL, 0, &e), 0);
}

static void test_unreadable_statement_is_refused_not_guessed(void **state)
{
	static const char stmt[] = "SELECT 'sbtest.t FROM x";
	struct ms_err e;
	char *out = NULL;

	(void)state;
	assert_int_equal(restore_rename_check(&opts, stmt, strlen(stmt), false, "f.sql", 1, &e), -1);
	assert_int_equal(e.status, MS_INCOMPLETE);
	assert_int_equal(restore_rename_sql(&opts, "sbtest_k", stmt, strlen(stmt), false, "f.sql", 1, NULL, &out, &e),
			 -1);
	assert_null(out);
}

static int collect_ref(void *ctx, const struct sqlsplit_ref *ref)
{
	json_t *a = ctx;

	json_array_append_new(a, json_pack("{s:s, s:b}", "name", ref->name, "qualifier", ref->qualifier));
	return 0;
}

static void test_refs_report_quoted_names_unquoted(void **state)
{
	static const char stmt[] = "SELECT * FROM `a``b`.t, \"c\"\"d\".t, db.t.c; USE e";
	json_t *a = json_array();

	(void)state;
	assert_int_equal(sqlsplit_db_refs(stmt, strlen(stmt), false, collect_ref, a), 0);
	assert_int_equal(json_array_size(a), 3); /* USE names a database only at the start */
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "name")), "a`b");
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "name")), "c\"d");
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 2), "name")), "db");
	json_decref(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_spelling_of_a_qualifier_follows_the_rename),
		cmocka_unit_test(test_strings_comments_columns_and_other_databases_are_untouched),
		cmocka_unit_test(test_rename_to_another_case_leaves_the_new_name_alone),
		cmocka_unit_test(test_executable_comments_are_sql_and_are_rewritten),
		cmocka_unit_test(test_object_and_trigger_table_are_put_in_the_target_database),
		cmocka_unit_test(test_table_definitions_follow_the_rename),
		cmocka_unit_test(test_database_statements_follow_the_rename),
		cmocka_unit_test(test_backslashes_follow_the_sql_mode),
		cmocka_unit_test(test_each_rewrite_is_listed_with_its_line),
		cmocka_unit_test(test_safety_net_stops_a_statement_naming_a_renamed_database),
		cmocka_unit_test(test_unreadable_statement_is_refused_not_guessed),
		cmocka_unit_test(test_refs_report_quoted_names_unquoted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
