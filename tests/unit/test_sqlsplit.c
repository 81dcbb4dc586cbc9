/* How restore reads backup SQL files: statements split as the mariadb client
 * splits them, and the names and DEFINER clauses it rewrites in them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sql/sqlsplit.h"

#define MAX_STMTS 32

struct collected {
	char *stmt[MAX_STMTS];
	unsigned line[MAX_STMTS];
	size_t n;
	size_t stop_at; /* 1-based statement whose callback returns stop_rc; 0: never */
	int stop_rc;
};

static int collect(void *ctx, const char *stmt, size_t len, unsigned line)
{
	struct collected *c = ctx;

	assert_true(c->n < MAX_STMTS);
	c->stmt[c->n] = strndup(stmt, len);
	assert_non_null(c->stmt[c->n]);
	c->line[c->n] = line;
	c->n++;
	return c->n == c->stop_at ? c->stop_rc : 0;
}

static void collected_release(struct collected *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->stmt[i]);
	memset(c, 0, sizeof(*c));
}

/* Splits text and checks the statements against want (NULL-terminated). */
static void assert_statements(const char *text, const char *const *want)
{
	struct collected c = { 0 };
	size_t n = 0;

	assert_int_equal(sqlsplit_each(text, strlen(text), collect, &c), 0);
	while (want[n])
		n++;
	for (size_t i = 0; i < c.n && i < n; i++)
		assert_string_equal(c.stmt[i], want[i]);
	assert_int_equal(c.n, n);
	collected_release(&c);
}

#define STMTS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_statements_end_at_semicolons_and_blank_or_comment_lines_vanish(void **state)
{
	(void)state;
	assert_statements("SELECT 1;\n\n-- a note; with a semicolon\n  SELECT 2 ;  SELECT 3;\n",
			  STMTS("SELECT 1", "SELECT 2", "SELECT 3"));
	assert_statements(";;;\n ; SELECT 1;;", STMTS("SELECT 1"));
	assert_statements("# hash note\n/* block note; */ SELECT 1; -- trailing note\n",
			  STMTS("SELECT 1"));
}

static void test_empty_text_has_no_statements(void **state)
{
	static const char blank[] = " \n-- only a comment\n\t\n";
	struct collected c = { 0 };

	(void)state;
	assert_int_equal(sqlsplit_each("", 0, collect, &c), 0);
	assert_int_equal(sqlsplit_each(blank, strlen(blank), collect, &c), 0);
	assert_int_equal(c.n, 0);
}

static void test_delimiter_command_switches_the_terminator_and_is_not_sent(void **state)
{
	(void)state;
	assert_statements("SELECT 0;\n"
			  "DELIMITER ;;\n"
			  "CREATE PROCEDURE p()\nBEGIN SELECT 1; SELECT 2; END\n"
			  ";;\n"
			  "delimiter //\n"
			  "SELECT 3; SELECT 4//\n"
			  "DeLiMiTeR ;\n"
			  "SELECT 5;\n",
			  STMTS("SELECT 0", "CREATE PROCEDURE p()\nBEGIN SELECT 1; SELECT 2; END",
				"SELECT 3; SELECT 4", "SELECT 5"));
	/* After another statement on the same line, and with words after it. */
	assert_statements("SELECT 1; DELIMITER $$ ignored\nSELECT 2; $$DELIMITER ;\nSELECT 3;",
			  STMTS("SELECT 1", "SELECT 2;", "SELECT 3"));
}

static void test_delimiter_word_inside_a_body_is_not_a_command(void **state)
{
	(void)state;
	assert_statements("DELIMITER ;;\n"
			  "CREATE PROCEDURE p()\nBEGIN\n  DECLARE\ndelimiter INT;\nSET delimiter = 1;\nEND\n;;\n"
			  "DELIMITER ;\n",
			  STMTS("CREATE PROCEDURE p()\nBEGIN\n  DECLARE\ndelimiter INT;\nSET delimiter = 1;\nEND"));
}

static void test_delimiter_inside_any_quote_does_not_end_the_statement(void **state)
{
	(void)state;
	assert_statements("SELECT ';' AS a;\nSELECT \";\" AS b;\nSELECT 1 AS `;`;\n",
			  STMTS("SELECT ';' AS a", "SELECT \";\" AS b", "SELECT 1 AS `;`"));
	assert_statements("DELIMITER ;;\nSELECT ';;', \";;\", `;;` ;;\n",
			  STMTS("SELECT ';;', \";;\", `;;`"));
}

static void test_escaped_and_doubled_quotes_stay_inside_their_string(void **state)
{
	(void)state;
	assert_statements("SELECT 'it''s; fine';\n"
			  "SELECT 'a\\';b';\n"
			  "SELECT \"say \\\"hi;\\\"\";\n"
			  "SELECT \"x\"\";y\";\n"
			  "SELECT 1 AS `a``;b`;\n",
			  STMTS("SELECT 'it''s; fine'", "SELECT 'a\\';b'", "SELECT \"say \\\"hi;\\\"\"",
				"SELECT \"x\"\";y\"", "SELECT 1 AS `a``;b`"));
	/* Between backticks a backslash is an ordinary byte. */
	assert_statements("SELECT `a\\`; SELECT 2;", STMTS("SELECT `a\\`", "SELECT 2"));
}

static void test_delimiter_inside_comments_does_not_end_the_statement(void **state)
{
	(void)state;
	assert_statements("SELECT 1 /* ; */ + 1;\n"
			  "SELECT 2 -- ;\n + 2;\n"
			  "SELECT 3 # ;\n + 3;\n",
			  STMTS("SELECT 1 /* ; */ + 1", "SELECT 2 -- ;\n + 2", "SELECT 3 # ;\n + 3"));
	/* The opening star cannot close a comment. */
	assert_statements("SELECT 1 /*/ ; */;", STMTS("SELECT 1 /*/ ; */"));
}

static void test_double_dash_is_a_comment_only_before_whitespace(void **state)
{
	(void)state;
	assert_statements("SELECT 5--1;", STMTS("SELECT 5--1"));
	assert_statements("SELECT 1 --x; SELECT 2;", STMTS("SELECT 1 --x", "SELECT 2"));
	assert_statements("SELECT 1 --\tnote;\n;", STMTS("SELECT 1 --\tnote;"));
	assert_statements("SELECT 1 --\r\n;", STMTS("SELECT 1 --"));
	assert_statements("SELECT 1 --", STMTS("SELECT 1 --"));
}

static void test_executable_comments_are_sql_and_reach_the_server(void **state)
{
	(void)state;
	assert_statements("/*!40101 SET NAMES utf8mb4 */;\n"
			  "/*M!100500 SET @x=1 */;\n"
			  "/*!100201 SET CHECK_CONSTRAINT_CHECKS=0 */;\n"
			  "/* dropped */ SELECT 1 /*+ kept */;\n",
			  STMTS("/*!40101 SET NAMES utf8mb4 */", "/*M!100500 SET @x=1 */",
				"/*!100201 SET CHECK_CONSTRAINT_CHECKS=0 */", "SELECT 1 /*+ kept */"));
	/* Their content is SQL: a string in it may hold the closing mark... */
	assert_statements("SELECT 1 /*!50000 + LENGTH('*/;') */;",
			  STMTS("SELECT 1 /*!50000 + LENGTH('*/;') */"));
	/* ...and the delimiter ends the statement there too, as in the client
	 * (which is why dumps put such bodies in a DELIMITER ;; block). */
	assert_statements("SELECT 1 /*!99999 ; SELECT 2 */;", STMTS("SELECT 1 /*!99999", "SELECT 2 */"));
}

static void test_comments_inside_a_body_are_kept_verbatim(void **state)
{
	(void)state;
	assert_statements("DELIMITER $$\n"
			  "-- PROCEDURE p\n"
			  "CREATE PROCEDURE p()\n"
			  "BEGIN\n"
			  "  -- count the rows; all of them\n"
			  "  SELECT COUNT(*) FROM t; /* not ; here $$ either */\n"
			  "  # hash $$\n"
			  "END -- last words $$\n"
			  "$$\n"
			  "DELIMITER ;\n",
			  STMTS("CREATE PROCEDURE p()\n"
				"BEGIN\n"
				"  -- count the rows; all of them\n"
				"  SELECT COUNT(*) FROM t; /* not ; here $$ either */\n"
				"  # hash $$\n"
				"END -- last words $$"));
}

static void test_statements_report_the_line_they_start_on(void **state)
{
	static const char text[] = "\n\nSELECT 1;\n-- c\n\nSELECT\n'a\nb';SELECT 3;\n/* x\ny */ SELECT 4;";
	struct collected c = { 0 };

	(void)state;
	assert_int_equal(sqlsplit_each(text, strlen(text), collect, &c), 0);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.line[0], 3);
	assert_int_equal(c.line[1], 6);
	assert_string_equal(c.stmt[1], "SELECT\n'a\nb'");
	assert_int_equal(c.line[2], 8);
	assert_int_equal(c.line[3], 10);
	collected_release(&c);
}

static void test_last_statement_needs_no_delimiter(void **state)
{
	(void)state;
	assert_statements("CREATE DATABASE `shop` /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE "
			  "utf8mb4_general_ci */",
			  STMTS("CREATE DATABASE `shop` /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE "
				"utf8mb4_general_ci */"));
	assert_statements("SELECT 1;\nSELECT 2\n\n", STMTS("SELECT 1", "SELECT 2"));
	assert_statements("DELIMITER ;;\nCREATE PROCEDURE p() BEGIN SELECT 1; END\n",
			  STMTS("CREATE PROCEDURE p() BEGIN SELECT 1; END"));
}

static void test_unterminated_quote_or_comment_is_an_error_after_what_came_before(void **state)
{
	static const char text[] = "SELECT 1;\nSELECT 'abc;\nSELECT 2;\n";
	struct collected c = { 0 };
	struct sqlsplit s;
	struct sqlsplit_stmt st;

	(void)state;
	assert_int_equal(sqlsplit_each(text, strlen(text), collect, &c), SQLSPLIT_UNTERMINATED);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.stmt[0], "SELECT 1");
	collected_release(&c);

	sqlsplit_init(&s, text, strlen(text));
	assert_int_equal(sqlsplit_next(&s, &st), 1);
	assert_int_equal(sqlsplit_next(&s, &st), SQLSPLIT_UNTERMINATED);
	assert_int_equal(s.error_line, 2);
	/* It stays failed rather than resyncing somewhere in the middle. */
	assert_int_equal(sqlsplit_next(&s, &st), SQLSPLIT_UNTERMINATED);

	assert_int_equal(sqlsplit_each("SELECT \"x;", 10, collect, &c), SQLSPLIT_UNTERMINATED);
	assert_int_equal(sqlsplit_each("SELECT `x;", 10, collect, &c), SQLSPLIT_UNTERMINATED);
	assert_int_equal(sqlsplit_each("SELECT 'x\\'", 11, collect, &c), SQLSPLIT_UNTERMINATED);
	assert_int_equal(sqlsplit_each("SELECT 1 /* x;", 14, collect, &c), SQLSPLIT_UNTERMINATED);
	assert_int_equal(sqlsplit_each("SELECT 1; /* x", 14, collect, &c), SQLSPLIT_UNTERMINATED);
	assert_int_equal(c.n, 1);
	collected_release(&c);
}

static void test_delimiter_command_without_a_usable_word_is_an_error(void **state)
{
	static const char text[] = "SELECT 1;\nDELIMITER   \nSELECT 2;";
	struct sqlsplit s;
	struct sqlsplit_stmt st;
	struct collected c = { 0 };

	(void)state;
	sqlsplit_init(&s, text, strlen(text));
	assert_int_equal(sqlsplit_next(&s, &st), 1);
	assert_int_equal(sqlsplit_next(&s, &st), SQLSPLIT_BAD_DELIMITER);
	assert_int_equal(s.error_line, 2);
	assert_int_equal(sqlsplit_each("DELIMITER a\\b\nSELECT 1;", 23, collect, &c),
			 SQLSPLIT_BAD_DELIMITER);
	assert_int_equal(sqlsplit_each("DELIMITER 0123456789abcdef\n", 27, collect, &c),
			 SQLSPLIT_BAD_DELIMITER);
	assert_int_equal(c.n, 0);
}

static void test_callback_stop_value_is_returned_and_splitting_stops(void **state)
{
	struct collected c = { 0 };

	(void)state;
	c.stop_at = 2;
	c.stop_rc = -1;
	assert_int_equal(sqlsplit_each("SELECT 1; SELECT 2; SELECT 3;", 29, collect, &c), -1);
	assert_int_equal(c.n, 2);
	collected_release(&c);
	c.stop_at = 1;
	c.stop_rc = 7;
	assert_int_equal(sqlsplit_each("SELECT 1; SELECT 'unterminated", 30, collect, &c), 7);
	assert_int_equal(c.n, 1);
	collected_release(&c);
}

static void test_crlf_line_endings_are_tolerated(void **state)
{
	static const char text[] = "SELECT 1;\r\n"
				   "DELIMITER ;;\r\n"
				   "CREATE PROCEDURE p()\r\nBEGIN SELECT 1; END\r\n"
				   ";;\r\n"
				   "DELIMITER ;\r\n"
				   "-- note\r\n"
				   "SELECT 2;\r\n";
	struct collected c = { 0 };

	(void)state;
	assert_int_equal(sqlsplit_each(text, strlen(text), collect, &c), 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.stmt[0], "SELECT 1");
	assert_string_equal(c.stmt[1], "CREATE PROCEDURE p()\r\nBEGIN SELECT 1; END");
	assert_int_equal(c.line[1], 3);
	assert_string_equal(c.stmt[2], "SELECT 2");
	assert_int_equal(c.line[2], 8);
	collected_release(&c);
}

static int count_only(void *ctx, const char *stmt, size_t len, unsigned line)
{
	(void)stmt;
	(void)len;
	(void)line;
	(*(int *)ctx)++;
	return 0;
}

static void test_backslash_is_plain_once_the_server_turns_escapes_off(void **state)
{
	static const char text[] = "SET sql_mode='NO_BACKSLASH_ESCAPES';\nSELECT 'C:\\';\nSELECT 2;\n";
	struct sqlsplit s;
	struct sqlsplit_stmt st;
	int n = 0;

	(void)state;
	sqlsplit_init(&s, text, strlen(text));
	assert_int_equal(sqlsplit_next(&s, &st), 1);
	/* As the client does after each statement from the server status. */
	s.no_backslash_escapes = true;
	assert_int_equal(sqlsplit_next(&s, &st), 1);
	assert_int_equal(st.len, strlen("SELECT 'C:\\'"));
	assert_memory_equal(st.text, "SELECT 'C:\\'", st.len);
	assert_int_equal(sqlsplit_next(&s, &st), 1);
	assert_memory_equal(st.text, "SELECT 2", st.len);
	assert_int_equal(st.line, 3);
	assert_int_equal(sqlsplit_next(&s, &st), 0);

	/* With escapes on, the same quote stays open to the end. */
	assert_int_equal(sqlsplit_each(text, strlen(text), count_only, &n), SQLSPLIT_UNTERMINATED);
	assert_int_equal(n, 1);
}

static void test_backup_routine_file_splits_into_what_the_server_runs(void **state)
{
	static const char text[] =
		"SET @MDLSAFE_SAVED_SQL_MODE=@@SESSION.sql_mode, "
		"@MDLSAFE_SAVED_COLLATION_CONNECTION=@@SESSION.collation_connection;\n"
		"-- Load with mariadb --comments to keep the comments inside these bodies.\n"
		"-- FUNCTION f1\n"
		"SET SESSION sql_mode='STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION', "
		"SESSION collation_connection='utf8mb3_general_ci';\n"
		"DELIMITER ;;\n"
		"CREATE DEFINER=`root`@`localhost` FUNCTION `f1`(x INT) RETURNS int(11)\n"
		"    DETERMINISTIC\n"
		"RETURN x*2\n"
		";;\n"
		"DELIMITER ;\n"
		"-- PROCEDURE p1\n"
		"DELIMITER ;;\n"
		"CREATE DEFINER=`root`@`localhost` PROCEDURE `p1`()\n"
		"BEGIN SELECT 1; SELECT 2; END\n"
		";;\n"
		"DELIMITER ;\n"
		"CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v1` "
		"AS select `users`.`id` AS `id` from `users`;\n"
		"/*!100201 SET CHECK_CONSTRAINT_CHECKS=0 */;\n";
	struct collected c = { 0 };

	(void)state;
	assert_int_equal(sqlsplit_each(text, strlen(text), collect, &c), 0);
	assert_int_equal(c.n, 6);
	assert_int_equal(c.line[0], 1);
	assert_string_equal(c.stmt[1], "SET SESSION sql_mode='STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION', "
				       "SESSION collation_connection='utf8mb3_general_ci'");
	assert_int_equal(c.line[1], 4);
	assert_string_equal(c.stmt[2], "CREATE DEFINER=`root`@`localhost` FUNCTION `f1`(x INT) "
				       "RETURNS int(11)\n    DETERMINISTIC\nRETURN x*2");
	assert_int_equal(c.line[2], 6);
	assert_string_equal(c.stmt[3], "CREATE DEFINER=`root`@`localhost` PROCEDURE `p1`()\n"
				       "BEGIN SELECT 1; SELECT 2; END");
	assert_int_equal(c.line[3], 13);
	assert_string_equal(c.stmt[4], "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL "
				       "SECURITY DEFINER VIEW `v1` AS select `users`.`id` AS `id` from `users`");
	assert_int_equal(c.line[4], 17);
	assert_string_equal(c.stmt[5], "/*!100201 SET CHECK_CONSTRAINT_CHECKS=0 */");
	assert_int_equal(c.line[5], 18);
	collected_release(&c);
}

/* Definers. */

static char *span(const char *s, size_t start, size_t end)
{
	char *r;

	assert_true(start <= end);
	r = strndup(s + start, end - start);
	assert_non_null(r);
	return r;
}

static void assert_definer(const char *stmt, const char *clause, const char *account)
{
	struct sqlsplit_definer d;
	char *got;

	assert_true(sqlsplit_find_definer(stmt, strlen(stmt), &d));
	got = span(stmt, d.start, d.end);
	assert_string_equal(got, clause);
	free(got);
	got = span(stmt, d.account_start, d.account_end);
	assert_string_equal(got, account);
	free(got);
}

static void assert_no_definer(const char *stmt)
{
	struct sqlsplit_definer d;

	assert_false(sqlsplit_find_definer(stmt, strlen(stmt), &d));
	assert_int_equal(d.start, 0);
	assert_int_equal(d.end, 0);
}

static void test_definer_clause_is_found_for_every_object_kind(void **state)
{
	(void)state;
	assert_definer("CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER "
		       "VIEW `v1` AS select 1",
		       "DEFINER=`root`@`localhost`", "`root`@`localhost`");
	assert_definer("CREATE DEFINER=`root`@`localhost` TRIGGER trg_ins BEFORE INSERT ON orders "
		       "FOR EACH ROW SET NEW.amount = NEW.amount + 0",
		       "DEFINER=`root`@`localhost`", "`root`@`localhost`");
	assert_definer("CREATE DEFINER=`root`@`localhost` FUNCTION `f1`(x INT) RETURNS int(11)\n"
		       "    DETERMINISTIC\nRETURN x*2",
		       "DEFINER=`root`@`localhost`", "`root`@`localhost`");
	assert_definer("CREATE DEFINER=`app`@`%` PROCEDURE `p1`()\nBEGIN SELECT 1; END",
		       "DEFINER=`app`@`%`", "`app`@`%`");
	assert_definer("CREATE DEFINER=`root`@`localhost` EVENT `ev1` ON SCHEDULE EVERY 1 DAY STARTS "
		       "'2026-11-21 20:04:45' ON COMPLETION NOT PRESERVE ENABLE DO DELETE FROM "
		       "audit_log WHERE id < 0",
		       "DEFINER=`root`@`localhost`", "`root`@`localhost`");
	assert_definer("CREATE DEFINER=`a`@`b` PACKAGE `pkg` AS FUNCTION f() RETURN INT; END",
		       "DEFINER=`a`@`b`", "`a`@`b`");
	assert_definer("CREATE OR REPLACE DEFINER=`a`@`b` PACKAGE BODY `pkg` AS END",
		       "DEFINER=`a`@`b`", "`a`@`b`");
	assert_definer("CREATE DEFINER=`a`@`b` AGGREGATE FUNCTION agg(x INT) RETURNS INT BEGIN END",
		       "DEFINER=`a`@`b`", "`a`@`b`");
	/* mysqldump wraps parts of the head in versioned comments. */
	assert_definer("/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER t1 "
		       "BEFORE INSERT ON t FOR EACH ROW SET @x=1 */",
		       "DEFINER=`root`@`localhost`", "`root`@`localhost`");
}

static void test_definer_accounts_in_every_written_form(void **state)
{
	(void)state;
	assert_definer("CREATE DEFINER='app'@'10.0.%' PROCEDURE p() SELECT 1",
		       "DEFINER='app'@'10.0.%'", "'app'@'10.0.%'");
	assert_definer("CREATE DEFINER=\"app\"@\"localhost\" PROCEDURE p() SELECT 1",
		       "DEFINER=\"app\"@\"localhost\"", "\"app\"@\"localhost\"");
	assert_definer("CREATE DEFINER = app@localhost PROCEDURE p() SELECT 1",
		       "DEFINER = app@localhost", "app@localhost");
	assert_definer("CREATE definer=CURRENT_USER PROCEDURE p() SELECT 1",
		       "definer=CURRENT_USER", "CURRENT_USER");
	assert_definer("CREATE DEFINER=current_user ( ) VIEW v AS SELECT 1",
		       "DEFINER=current_user ( )", "current_user ( )");
	assert_definer("CREATE DEFINER=CURRENT_ROLE VIEW v AS SELECT 1",
		       "DEFINER=CURRENT_ROLE", "CURRENT_ROLE");
	assert_definer("CREATE DEFINER=`admin_role` SQL SECURITY DEFINER VIEW v AS SELECT 1",
		       "DEFINER=`admin_role`", "`admin_role`");
	assert_definer("CREATE DEFINER='o''neil'@'h' PROCEDURE p() SELECT 1",
		       "DEFINER='o''neil'@'h'", "'o''neil'@'h'");
	assert_definer("CREATE DEFINER=`we``ird`@`h` PROCEDURE p() SELECT 1",
		       "DEFINER=`we``ird`@`h`", "`we``ird`@`h`");
}

static void test_no_definer_clause_is_reported_as_absent(void **state)
{
	(void)state;
	assert_no_definer("CREATE TABLE `t` (id INT)");
	assert_no_definer("CREATE PROCEDURE p() SELECT 1");
	assert_no_definer("CREATE ALGORITHM=MERGE SQL SECURITY DEFINER VIEW v AS SELECT 1");
	assert_no_definer("CREATE VIEW v AS SELECT 'DEFINER=`x`@`y`' AS d");
	assert_no_definer("ALTER DEFINER=`a`@`b` VIEW v AS SELECT 1");
	assert_no_definer("CREATE DEFINER=`a`@`b` USER u");
	assert_no_definer("CREATE DEFINER VIEW v AS SELECT 1");
	assert_no_definer("SELECT 1");
	assert_no_definer("");
}

static void assert_replaced(const char *stmt, size_t len, const char *want)
{
	char *got = sqlsplit_replace_definer(stmt, len, "DEFINER=CURRENT_USER");

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_replacing_the_definer_rewrites_only_the_clause(void **state)
{
	static const char proc[] = "CREATE DEFINER=`a`@`b` PROCEDURE p() SELECT 'DEFINER=`a`@`b`';;junk";

	(void)state;
	assert_replaced("CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER "
			"VIEW `v1` AS select 1",
			strlen("CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER "
			       "VIEW `v1` AS select 1"),
			"CREATE ALGORITHM=UNDEFINED DEFINER=CURRENT_USER SQL SECURITY DEFINER VIEW `v1` "
			"AS select 1");
	/* The statement ends at len, not at a NUL. */
	assert_replaced(proc, strlen(proc) - strlen(";;junk"),
			"CREATE DEFINER=CURRENT_USER PROCEDURE p() SELECT 'DEFINER=`a`@`b`'");
	assert_replaced("CREATE TABLE t (a INT);junk", strlen("CREATE TABLE t (a INT)"),
			"CREATE TABLE t (a INT)");
	assert_replaced("", 0, "");
}

/* CREATE objects. */

static void assert_object(const char *stmt, enum sqlsplit_kind kind, const char *schema,
			  const char *name, const char *name_text)
{
	struct sqlsplit_object o;
	char *got;

	assert_true(sqlsplit_create_object(stmt, strlen(stmt), &o));
	assert_string_equal(sqlsplit_kind_name(o.kind), sqlsplit_kind_name(kind));
	assert_int_equal(o.kind, kind);
	assert_string_equal(o.name.schema, schema);
	assert_string_equal(o.name.name, name);
	got = span(stmt, o.name.start, o.name.end);
	assert_string_equal(got, name_text);
	free(got);
	if (kind != SQLSPLIT_TRIGGER)
		assert_string_equal(o.table.name, "");
}

static void assert_not_object(const char *stmt)
{
	struct sqlsplit_object o;

	assert_false(sqlsplit_create_object(stmt, strlen(stmt), &o));
	assert_int_equal(o.kind, SQLSPLIT_NONE);
	assert_string_equal(o.name.name, "");
}

static void test_create_statements_name_their_kind_and_object(void **state)
{
	(void)state;
	assert_object("CREATE TABLE `t` (\n  `id` int(11) NOT NULL\n) ENGINE=InnoDB", SQLSPLIT_TABLE, "",
		      "t", "`t`");
	assert_object("CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW "
		      "`v1` AS select `users`.`id` AS `id` from `users`",
		      SQLSPLIT_VIEW, "", "v1", "`v1`");
	assert_object("CREATE DEFINER=`root`@`localhost` TRIGGER trg_ins BEFORE INSERT ON orders FOR "
		      "EACH ROW SET NEW.amount = NEW.amount + 0",
		      SQLSPLIT_TRIGGER, "", "trg_ins", "trg_ins");
	assert_object("CREATE DEFINER=`root`@`localhost` FUNCTION `f1`(x INT) RETURNS int(11)\n"
		      "    DETERMINISTIC\nRETURN x*2",
		      SQLSPLIT_FUNCTION, "", "f1", "`f1`");
	assert_object("CREATE DEFINER=`root`@`localhost` PROCEDURE `p1`()\nBEGIN SELECT 1; END",
		      SQLSPLIT_PROCEDURE, "", "p1", "`p1`");
	assert_object("CREATE DEFINER=`root`@`localhost` EVENT `ev1` ON SCHEDULE EVERY 1 DAY DO "
		      "DELETE FROM audit_log WHERE id < 0",
		      SQLSPLIT_EVENT, "", "ev1", "`ev1`");
	assert_object("CREATE DEFINER=`a`@`b` PACKAGE `pkg` AS FUNCTION f() RETURN INT; END",
		      SQLSPLIT_PACKAGE, "", "pkg", "`pkg`");
	assert_object("CREATE DEFINER=`a`@`b` PACKAGE BODY `pkg` AS END", SQLSPLIT_PACKAGE_BODY, "",
		      "pkg", "`pkg`");
	assert_object("CREATE DATABASE `shop` /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE "
		      "utf8mb4_general_ci */",
		      SQLSPLIT_DATABASE, "", "shop", "`shop`");
	assert_object("create schema if not exists crm", SQLSPLIT_DATABASE, "", "crm", "crm");
	assert_object("CREATE SEQUENCE `s1` start with 1 minvalue 1 maxvalue 9223372036854775806 "
		      "increment by 1 cache 1000 nocycle ENGINE=InnoDB",
		      SQLSPLIT_SEQUENCE, "", "s1", "`s1`");
	assert_string_equal(sqlsplit_kind_name(SQLSPLIT_PACKAGE_BODY), "PACKAGE BODY");
	assert_string_equal(sqlsplit_kind_name(SQLSPLIT_NONE), "");
}

static void test_create_statements_with_qualified_names_give_both_parts(void **state)
{
	(void)state;
	assert_object("CREATE TABLE `shop`.`orders` (id INT)", SQLSPLIT_TABLE, "shop", "orders",
		      "`shop`.`orders`");
	assert_object("CREATE DEFINER=`root`@`localhost` PROCEDURE shop.p1() SELECT 1",
		      SQLSPLIT_PROCEDURE, "shop", "p1", "shop.p1");
	assert_object("CREATE VIEW `my db` . `v` AS SELECT 1", SQLSPLIT_VIEW, "my db", "v",
		      "`my db` . `v`");
	assert_not_object("CREATE DATABASE `a`.`b`");
	assert_not_object("CREATE TABLE `shop`. (id INT)");
}

static void test_create_statements_with_odd_names_are_unquoted_exactly(void **state)
{
	static const char stmt[] = "CREATE TABLE `t` (\n  `id` int(11)\n) ENGINE=InnoDB";
	struct sqlsplit_object o;
	char renamed[512];

	(void)state;
	assert_object("CREATE TABLE `we``ird name;` (a INT)", SQLSPLIT_TABLE, "", "we`ird name;",
		      "`we``ird name;`");
	assert_object("create table `t``` (a int)", SQLSPLIT_TABLE, "", "t`", "`t```");
	assert_object("CREATE TABLE café (a INT)", SQLSPLIT_TABLE, "", "café", "café");
	assert_object("CREATE TABLE `a.b` (a INT)", SQLSPLIT_TABLE, "", "a.b", "`a.b`");
	assert_object("CREATE /* c */ TABLE -- note\n `t` (a INT)", SQLSPLIT_TABLE, "", "t", "`t`");

	/* The span is what restore swaps for the shadow table's name. */
	assert_true(sqlsplit_create_object(stmt, strlen(stmt), &o));
	snprintf(renamed, sizeof(renamed), "%.*s`_mdlsafe_new_%s`%s", (int)o.name.start, stmt,
		 o.name.name, stmt + o.name.end);
	assert_string_equal(renamed, "CREATE TABLE `_mdlsafe_new_t` (\n  `id` int(11)\n) ENGINE=InnoDB");
}

static void test_create_head_options_are_skipped(void **state)
{
	(void)state;
	assert_object("CREATE OR REPLACE TABLE t (a INT)", SQLSPLIT_TABLE, "", "t", "t");
	assert_object("CREATE TABLE IF NOT EXISTS `t` (a INT)", SQLSPLIT_TABLE, "", "t", "`t`");
	assert_object("CREATE TEMPORARY TABLE tmp (a INT)", SQLSPLIT_TABLE, "", "tmp", "tmp");
	assert_object("CREATE OR REPLACE TEMPORARY TABLE tmp (a INT)", SQLSPLIT_TABLE, "", "tmp", "tmp");
	assert_object("CREATE DEFINER=`root`@`localhost` AGGREGATE FUNCTION agg(x INT) RETURNS INT "
		      "BEGIN END",
		      SQLSPLIT_FUNCTION, "", "agg", "agg");
	assert_object("create or replace algorithm = merge definer = current_user() sql security "
		      "invoker view v2 as select 1",
		      SQLSPLIT_VIEW, "", "v2", "v2");
	assert_object("CREATE DEFINER=`a`@`b` EVENT IF NOT EXISTS ev ON SCHEDULE EVERY 1 DAY DO "
		      "SELECT 1",
		      SQLSPLIT_EVENT, "", "ev", "ev");
	assert_object("CREATE OR REPLACE DEFINER=`a`@`b` PROCEDURE IF NOT EXISTS `p` () SELECT 1",
		      SQLSPLIT_PROCEDURE, "", "p", "`p`");
	assert_object("/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER t1 "
		      "BEFORE INSERT ON t FOR EACH ROW SET @x=1 */",
		      SQLSPLIT_TRIGGER, "", "t1", "t1");
}

static void test_statements_that_create_nothing_restore_knows_are_not_objects(void **state)
{
	(void)state;
	assert_not_object("CREATE INDEX i ON t (a)");
	assert_not_object("CREATE USER u");
	assert_not_object("CREATE TABLES t (a INT)");
	assert_not_object("CREATE OR TABLE t (a INT)");
	assert_not_object("CREATE TABLE IF EXISTS t (a INT)");
	assert_not_object("CREATE TABLE");
	assert_not_object("CREATE TABLE `` (a INT)");
	assert_not_object("CREATE TABLE `unterminated (a INT)");
	assert_not_object("CREATE TRIGGER t BEFORE INSERT t2 FOR EACH ROW SET @x=1");
	assert_not_object("CREATE TRIGGER t ON t2 FOR EACH ROW SET @x=1");
	assert_not_object("INSERT INTO t VALUES (1)");
	assert_not_object("SELECT 1");
	assert_not_object("");
}

static void test_long_names_are_refused_not_truncated(void **state)
{
	char stmt[SQLSPLIT_NAME_MAX + 64], name[SQLSPLIT_NAME_MAX + 2];
	struct sqlsplit_object o;

	(void)state;
	memset(name, 'x', sizeof(name) - 1);
	name[SQLSPLIT_NAME_MAX] = '\0';
	snprintf(stmt, sizeof(stmt), "CREATE TABLE `%s` (a INT)", name);
	assert_true(sqlsplit_create_object(stmt, strlen(stmt), &o));
	assert_string_equal(o.name.name, name);
	name[SQLSPLIT_NAME_MAX] = 'x';
	name[SQLSPLIT_NAME_MAX + 1] = '\0';
	snprintf(stmt, sizeof(stmt), "CREATE TABLE `%s` (a INT)", name);
	assert_false(sqlsplit_create_object(stmt, strlen(stmt), &o));
}

static void test_trigger_reports_the_table_it_fires_on(void **state)
{
	static const char trg[] = "CREATE DEFINER=`root`@`localhost` TRIGGER trg_ins BEFORE INSERT ON "
				  "orders FOR EACH ROW SET NEW.amount = NEW.amount + 0";
	static const char odd[] = "CREATE TRIGGER `on` after delete ON `shop`.`or``ders` FOR EACH ROW "
				  "FOLLOWS t1 SET @x=1";
	static const char multi[] = "CREATE TRIGGER t BEFORE INSERT OR UPDATE ON t2 FOR EACH ROW SET @x=1";
	struct sqlsplit_object o;
	char moved[512];
	char *got;

	(void)state;
	assert_true(sqlsplit_create_object(trg, strlen(trg), &o));
	assert_string_equal(o.table.schema, "");
	assert_string_equal(o.table.name, "orders");
	snprintf(moved, sizeof(moved), "%.*s`_mdlsafe_new_orders`%s", (int)o.table.start, trg,
		 trg + o.table.end);
	assert_string_equal(moved, "CREATE DEFINER=`root`@`localhost` TRIGGER trg_ins BEFORE INSERT ON "
				   "`_mdlsafe_new_orders` FOR EACH ROW SET NEW.amount = NEW.amount + 0");

	assert_true(sqlsplit_create_object(odd, strlen(odd), &o));
	assert_string_equal(o.name.name, "on");
	assert_string_equal(o.table.schema, "shop");
	assert_string_equal(o.table.name, "or`ders");

	assert_true(sqlsplit_create_object(multi, strlen(multi), &o));
	got = span(multi, o.table.start, o.table.end);
	assert_string_equal(got, "t2");
	free(got);
}

/* INSERT targets. */

static void assert_insert(const char *stmt, const char *schema, const char *name, const char *name_text)
{
	struct sqlsplit_name t;
	char *got;

	assert_true(sqlsplit_insert_target(stmt, strlen(stmt), &t));
	assert_string_equal(t.schema, schema);
	assert_string_equal(t.name, name);
	got = span(stmt, t.start, t.end);
	assert_string_equal(got, name_text);
	free(got);
}

static void assert_not_insert(const char *stmt)
{
	struct sqlsplit_name t;

	assert_false(sqlsplit_insert_target(stmt, strlen(stmt), &t));
	assert_string_equal(t.name, "");
}

static void test_insert_target_is_the_table_name_span(void **state)
{
	(void)state;
	assert_insert("INSERT INTO `t` VALUES (1),(2)", "", "t", "`t`");
	assert_insert("INSERT IGNORE INTO `order``s` (`a`) VALUES (1)", "", "order`s", "`order``s`");
	assert_insert("INSERT INTO ```` VALUES (1)", "", "`", "````");
	assert_insert("insert into t VALUES (1)", "", "t", "t");
	assert_insert("INSERT LOW_PRIORITY IGNORE INTO `shop`.`t` VALUES (1)", "shop", "t",
		      "`shop`.`t`");
	assert_not_insert("REPLACE INTO `t` VALUES (1)");
	assert_not_insert("INSERT `t` VALUES (1)");
	assert_not_insert("INSERT INTO `t");
	assert_not_insert("SELECT 1");
}

/* A statement whose head ends just before a page nothing may read: a parser
 * that looks past what it needs faults instead of merely being slow. */
struct guarded {
	char *map;
	size_t page;
	const char *stmt;
	size_t len; /* the head plus the unreadable page, as if the rows went on */
};

static void guarded_init(struct guarded *g, const char *head)
{
	size_t n = strlen(head);

	g->page = (size_t)sysconf(_SC_PAGESIZE);
	assert_true(n < g->page);
	g->map = mmap(NULL, 2 * g->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g->map != MAP_FAILED);
	memcpy(g->map + g->page - n, head, n);
	assert_int_equal(mprotect(g->map + g->page, g->page, PROT_NONE), 0);
	g->stmt = g->map + g->page - n;
	g->len = n + g->page;
}

static void guarded_release(struct guarded *g)
{
	munmap(g->map, 2 * g->page);
}

static void test_heads_are_read_without_touching_the_rest_of_the_statement(void **state)
{
	struct guarded g;
	struct sqlsplit_name t;
	struct sqlsplit_object o;
	struct sqlsplit_definer d;

	(void)state;
	guarded_init(&g, "INSERT INTO `big``t` VALUES");
	assert_true(sqlsplit_insert_target(g.stmt, g.len, &t));
	assert_string_equal(t.name, "big`t");
	guarded_release(&g);

	guarded_init(&g, "CREATE DEFINER=`root`@`localhost` TRIGGER trg BEFORE INSERT ON orders FOR");
	assert_true(sqlsplit_create_object(g.stmt, g.len, &o));
	assert_string_equal(o.table.name, "orders");
	assert_true(sqlsplit_find_definer(g.stmt, g.len, &d));
	guarded_release(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statements_end_at_semicolons_and_blank_or_comment_lines_vanish),
		cmocka_unit_test(test_empty_text_has_no_statements),
		cmocka_unit_test(test_delimiter_command_switches_the_terminator_and_is_not_sent),
		cmocka_unit_test(test_delimiter_word_inside_a_body_is_not_a_command),
		cmocka_unit_test(test_delimiter_inside_any_quote_does_not_end_the_statement),
		cmocka_unit_test(test_escaped_and_doubled_quotes_stay_inside_their_string),
		cmocka_unit_test(test_delimiter_inside_comments_does_not_end_the_statement),
		cmocka_unit_test(test_double_dash_is_a_comment_only_before_whitespace),
		cmocka_unit_test(test_executable_comments_are_sql_and_reach_the_server),
		cmocka_unit_test(test_comments_inside_a_body_are_kept_verbatim),
		cmocka_unit_test(test_statements_report_the_line_they_start_on),
		cmocka_unit_test(test_last_statement_needs_no_delimiter),
		cmocka_unit_test(test_unterminated_quote_or_comment_is_an_error_after_what_came_before),
		cmocka_unit_test(test_delimiter_command_without_a_usable_word_is_an_error),
		cmocka_unit_test(test_callback_stop_value_is_returned_and_splitting_stops),
		cmocka_unit_test(test_crlf_line_endings_are_tolerated),
		cmocka_unit_test(test_backslash_is_plain_once_the_server_turns_escapes_off),
		cmocka_unit_test(test_backup_routine_file_splits_into_what_the_server_runs),
		cmocka_unit_test(test_definer_clause_is_found_for_every_object_kind),
		cmocka_unit_test(test_definer_accounts_in_every_written_form),
		cmocka_unit_test(test_no_definer_clause_is_reported_as_absent),
		cmocka_unit_test(test_replacing_the_definer_rewrites_only_the_clause),
		cmocka_unit_test(test_create_statements_name_their_kind_and_object),
		cmocka_unit_test(test_create_statements_with_qualified_names_give_both_parts),
		cmocka_unit_test(test_create_statements_with_odd_names_are_unquoted_exactly),
		cmocka_unit_test(test_create_head_options_are_skipped),
		cmocka_unit_test(test_statements_that_create_nothing_restore_knows_are_not_objects),
		cmocka_unit_test(test_long_names_are_refused_not_truncated),
		cmocka_unit_test(test_trigger_reports_the_table_it_fires_on),
		cmocka_unit_test(test_insert_target_is_the_table_name_span),
		cmocka_unit_test(test_heads_are_read_without_touching_the_rest_of_the_statement),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
