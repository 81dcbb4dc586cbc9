/* Unit tests for sql_targets: which tables a PROCESSLIST statement targets
 * and which metadata lock it requests, including hostile and cut-off text. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "mdl/sql_targets.h"

/* ---- helpers ------------------------------------------------------------ */

static bool same_or_null(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Asserts the table at position idx. schema NULL means unqualified. */
static void assert_table(const struct sql_targets *t, size_t idx,
			 const char *schema, const char *name,
			 enum mdl_type lock)
{
	assert_true(idx < t->n_tables);
	if (!same_or_null(t->tables[idx].schema, schema))
		fail_msg("table %zu: schema '%s', expected '%s'", idx,
			 t->tables[idx].schema ? t->tables[idx].schema : "(null)",
			 schema ? schema : "(null)");
	assert_string_equal(t->tables[idx].name, name);
	assert_int_equal(t->tables[idx].lock, lock);
}

/* Parses sql, which must be understood, and checks kind and table count. */
static void parse_ok(const char *sql, struct sql_targets *t,
		     enum sql_stmt_kind kind, size_t n_tables)
{
	int rc = sql_targets_parse(sql, t);
	enum sql_stmt_kind got_kind = t->kind;
	size_t got_tables = t->n_tables;

	/* release first so a failing test does not also report leaks */
	if (rc != 0 || got_kind != kind || got_tables != n_tables)
		sql_targets_release(t);
	if (rc != 0)
		fail_msg("not understood: %s", sql);
	if (got_kind != kind)
		fail_msg("kind %s, expected %s: %s", sql_stmt_kind_name(got_kind),
			 sql_stmt_kind_name(kind), sql);
	if (got_tables != n_tables)
		fail_msg("%zu tables, expected %zu: %s", got_tables, n_tables,
			 sql);
}

/* One-table statements are the common case. */
static void assert_single(const char *sql, enum sql_stmt_kind kind,
			  const char *schema, const char *name,
			  enum mdl_type lock)
{
	struct sql_targets t;

	parse_ok(sql, &t, kind, 1);
	assert_table(&t, 0, schema, name, lock);
	sql_targets_release(&t);
}

static void assert_not_understood(const char *sql)
{
	struct sql_targets t;

	if (sql_targets_parse(sql, &t) != -1)
		fail_msg("unexpectedly understood: %s", sql ? sql : "(null)");
	assert_int_equal(t.kind, SQL_STMT_UNKNOWN);
	assert_null(t.tables);
	assert_int_equal(t.n_tables, 0);
	assert_null(t.trigger_name);
	assert_null(t.trigger_schema);
}

/* ---- API contract ------------------------------------------------------- */

static void test_null_and_empty_input_is_not_understood(void **state)
{
	(void)state;
	assert_not_understood(NULL);
	assert_not_understood("");
	assert_not_understood("   \n\t ");
	assert_not_understood("/* only a comment */");
	assert_not_understood("-- line comment\n# another\n");
	assert_int_equal(sql_targets_parse("SELECT 1", NULL), -1);
}

static void test_other_statements_are_not_understood(void **state)
{
	static const char *const stmts[] = {
		"SHOW PROCESSLIST", "SET autocommit=0", "BEGIN", "COMMIT",
		"CALL p(1)", "START TRANSACTION", "UNLOCK TABLES",
		"RENAME USER a TO b", "DROP PREPARE stmt", "FLUSH LOGS",
		"FLUSH PRIVILEGES", "LOCK INSTANCE FOR BACKUP", "KILL 12",
		"USE shop", "hello world", "SET STATEMENT x=1 ALTER TABLE t",
		"(1)", "WITH ROLLUP",
	};

	(void)state;
	for (size_t k = 0; k < sizeof(stmts) / sizeof(stmts[0]); k++)
		assert_not_understood(stmts[k]);
}

static void test_release_is_safe_on_zeroed_struct_and_twice(void **state)
{
	struct sql_targets t;

	(void)state;
	memset(&t, 0, sizeof(t));
	sql_targets_release(&t);
	sql_targets_release(NULL);
	assert_int_equal(sql_targets_parse("DROP TABLE a, b", &t), 0);
	sql_targets_release(&t);
	assert_null(t.tables);
	assert_int_equal(t.n_tables, 0);
	sql_targets_release(&t);
}

static void test_kind_names_are_human_readable(void **state)
{
	(void)state;
	assert_string_equal(sql_stmt_kind_name(SQL_STMT_ALTER_TABLE), "ALTER TABLE");
	assert_string_equal(sql_stmt_kind_name(SQL_STMT_SELECT), "SELECT");
	assert_string_equal(sql_stmt_kind_name(SQL_STMT_CREATE_INDEX), "CREATE INDEX");
	assert_string_equal(sql_stmt_kind_name(SQL_STMT_LOCK_TABLES), "LOCK TABLES");
	assert_string_equal(sql_stmt_kind_name(SQL_STMT_OTHER_DDL), "OTHER DDL");
	assert_string_equal(sql_stmt_kind_name(SQL_STMT_UNKNOWN), "UNKNOWN");
	assert_string_equal(sql_stmt_kind_name((enum sql_stmt_kind)999), "UNKNOWN");
	for (int k = SQL_STMT_UNKNOWN; k <= SQL_STMT_OTHER_DDL; k++)
		assert_non_null(sql_stmt_kind_name((enum sql_stmt_kind)k));
}

/* ---- tokenizer ---------------------------------------------------------- */

static void test_line_comments_are_skipped(void **state)
{
	(void)state;
	assert_single("-- who\n# what\nSELECT * -- no FROM x here\nFROM t",
		      SQL_STMT_SELECT, NULL, "t", MDL_TYPE_SHARED_READ);
	assert_single("SELECT a--1 FROM t", SQL_STMT_SELECT, NULL, "t",
		      MDL_TYPE_SHARED_READ);
}

static void test_block_comments_and_mdlsafe_prefix_are_skipped(void **state)
{
	(void)state;
	assert_single("/* mdlsafe */ ALTER /* x FROM y */ TABLE t ADD c INT",
		      SQL_STMT_ALTER_TABLE, NULL, "t", MDL_TYPE_EXCLUSIVE);
	assert_single("/*M mariadb-looking but plain */ TRUNCATE t",
		      SQL_STMT_TRUNCATE, NULL, "t", MDL_TYPE_EXCLUSIVE);
}

static void test_executable_comment_contents_are_read_as_sql(void **state)
{
	(void)state;
	assert_single("/*!40000 ALTER TABLE `t1` DISABLE KEYS */",
		      SQL_STMT_ALTER_TABLE, NULL, "t1", MDL_TYPE_EXCLUSIVE);
	assert_single("/*M!100100 DROP TABLE IF EXISTS */ t2",
		      SQL_STMT_DROP_TABLE, NULL, "t2", MDL_TYPE_EXCLUSIVE);
	assert_single("DROP TABLE /*!32312 IF EXISTS*/ `t3`",
		      SQL_STMT_DROP_TABLE, NULL, "t3", MDL_TYPE_EXCLUSIVE);
}

static void test_strings_with_escapes_neither_hide_nor_invent_tables(void **state)
{
	(void)state;
	assert_single("SELECT 'FROM a', 'it\\'s FROM b', 'x''FROM c', "
		      "\"d\\\" FROM e\" FROM real_t",
		      SQL_STMT_SELECT, NULL, "real_t", MDL_TYPE_SHARED_READ);
	assert_single("SELECT ';' FROM t", SQL_STMT_SELECT, NULL, "t",
		      MDL_TYPE_SHARED_READ);
}

static void test_backticked_names_keep_dots_and_doubled_backticks(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("SELECT * FROM `my.db`.`a``b` JOIN `x.y` JOIN `s`.t2", &t,
		 SQL_STMT_SELECT, 3);
	assert_table(&t, 0, "my.db", "a`b", MDL_TYPE_SHARED_READ);
	assert_table(&t, 1, NULL, "x.y", MDL_TYPE_SHARED_READ);
	assert_table(&t, 2, "s", "t2", MDL_TYPE_SHARED_READ);
	sql_targets_release(&t);
	assert_single("ALTER TABLE `shop`.`we``ird.name` ENGINE=InnoDB",
		      SQL_STMT_ALTER_TABLE, "shop", "we`ird.name",
		      MDL_TYPE_EXCLUSIVE);
}

static void test_keywords_are_case_insensitive_and_quoted_ones_are_names(void **state)
{
	(void)state;
	assert_single("sElEcT * fRoM Users", SQL_STMT_SELECT, NULL, "Users",
		      MDL_TYPE_SHARED_READ);
	assert_single("SELECT * FROM `select`", SQL_STMT_SELECT, NULL,
		      "select", MDL_TYPE_SHARED_READ);
	assert_not_understood("`SELECT` * FROM t");
}

static void test_ansi_quoted_identifier_is_a_name(void **state)
{
	(void)state;
	assert_single("ALTER TABLE \"s\".\"t\" ADD c INT", SQL_STMT_ALTER_TABLE,
		      "s", "t", MDL_TYPE_EXCLUSIVE);
}

static void test_statement_ends_at_first_semicolon(void **state)
{
	(void)state;
	assert_single("DROP TABLE a; DROP TABLE b", SQL_STMT_DROP_TABLE, NULL,
		      "a", MDL_TYPE_EXCLUSIVE);
}

static void test_set_statement_prefix_is_skipped(void **state)
{
	(void)state;
	assert_single("SET STATEMENT max_statement_time=0.5 FOR ALTER TABLE "
		      "shop.users ADD COLUMN x INT",
		      SQL_STMT_ALTER_TABLE, "shop", "users", MDL_TYPE_EXCLUSIVE);
	assert_single("/* mdlsafe */ set statement lock_wait_timeout=5, "
		      "sql_mode='STRICT_ALL_TABLES,FOR' for "
		      "CREATE INDEX i ON t (c)",
		      SQL_STMT_CREATE_INDEX, NULL, "t", MDL_TYPE_EXCLUSIVE);
}

/* ---- SELECT ------------------------------------------------------------- */

static void test_select_targets_from_and_join_tables_with_shared_read(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("SELECT u.id, o.total FROM shop.users u "
		 "INNER JOIN orders AS o ON o.uid = u.id "
		 "LEFT OUTER JOIN `items` i USING (id) STRAIGHT_JOIN x "
		 "NATURAL JOIN y CROSS JOIN z WHERE u.id = 1 ORDER BY a, b",
		 &t, SQL_STMT_SELECT, 6);
	assert_false(t.is_ddl);
	assert_table(&t, 0, "shop", "users", MDL_TYPE_SHARED_READ);
	assert_table(&t, 1, NULL, "orders", MDL_TYPE_SHARED_READ);
	assert_table(&t, 2, NULL, "items", MDL_TYPE_SHARED_READ);
	assert_table(&t, 3, NULL, "x", MDL_TYPE_SHARED_READ);
	assert_table(&t, 4, NULL, "y", MDL_TYPE_SHARED_READ);
	assert_table(&t, 5, NULL, "z", MDL_TYPE_SHARED_READ);
	sql_targets_release(&t);
}

static void test_select_comma_list_with_aliases(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("SELECT a, b FROM t1, t2 AS x, s.t3 y, t4 JOIN t5 ON a=b, t6 "
		 "GROUP BY a, b HAVING c LIMIT 1, 2",
		 &t, SQL_STMT_SELECT, 6);
	assert_table(&t, 0, NULL, "t1", MDL_TYPE_SHARED_READ);
	assert_table(&t, 1, NULL, "t2", MDL_TYPE_SHARED_READ);
	assert_table(&t, 2, "s", "t3", MDL_TYPE_SHARED_READ);
	assert_table(&t, 5, NULL, "t6", MDL_TYPE_SHARED_READ);
	sql_targets_release(&t);
}

static void test_select_collects_tables_inside_subqueries(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("SELECT (SELECT MAX(v) FROM s1), a FROM "
		 "(SELECT * FROM s2 JOIN s3) AS d, t1 "
		 "WHERE a IN (SELECT b FROM s4) AND EXISTS (SELECT 1 FROM s5)",
		 &t, SQL_STMT_SELECT, 6);
	assert_table(&t, 0, NULL, "s1", MDL_TYPE_SHARED_READ);
	assert_table(&t, 1, NULL, "s2", MDL_TYPE_SHARED_READ);
	assert_table(&t, 2, NULL, "s3", MDL_TYPE_SHARED_READ);
	assert_table(&t, 3, NULL, "t1", MDL_TYPE_SHARED_READ);
	assert_table(&t, 4, NULL, "s4", MDL_TYPE_SHARED_READ);
	assert_table(&t, 5, NULL, "s5", MDL_TYPE_SHARED_READ);
	sql_targets_release(&t);
}

static void test_select_parenthesised_join_and_union(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("(SELECT a FROM t1) UNION ALL (SELECT b FROM t2 LEFT JOIN "
		 "(t3, t4) ON 1) UNION SELECT c FROM t5",
		 &t, SQL_STMT_SELECT, 5);
	assert_table(&t, 0, NULL, "t1", MDL_TYPE_SHARED_READ);
	assert_table(&t, 2, NULL, "t3", MDL_TYPE_SHARED_READ);
	assert_table(&t, 3, NULL, "t4", MDL_TYPE_SHARED_READ);
	assert_table(&t, 4, NULL, "t5", MDL_TYPE_SHARED_READ);
	sql_targets_release(&t);
}

static void test_select_with_cte_reads_base_tables_only(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("WITH RECURSIVE c1 (n) AS (SELECT id FROM base1), "
		 "c2 AS (SELECT * FROM c1 JOIN base2) "
		 "SELECT * FROM c2, c1, other.c1",
		 &t, SQL_STMT_SELECT, 3);
	assert_table(&t, 0, NULL, "base1", MDL_TYPE_SHARED_READ);
	assert_table(&t, 1, NULL, "base2", MDL_TYPE_SHARED_READ);
	assert_table(&t, 2, "other", "c1", MDL_TYPE_SHARED_READ);
	sql_targets_release(&t);
}

static void test_select_for_update_takes_shared_write(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("SELECT * FROM t1 JOIN t2 WHERE a IN (SELECT b FROM t3) "
		 "FOR UPDATE SKIP LOCKED", &t, SQL_STMT_SELECT, 3);
	assert_table(&t, 0, NULL, "t1", MDL_TYPE_SHARED_WRITE);
	assert_table(&t, 1, NULL, "t2", MDL_TYPE_SHARED_WRITE);
	/* the subquery's own tables are only read */
	assert_table(&t, 2, NULL, "t3", MDL_TYPE_SHARED_READ);
	sql_targets_release(&t);
	assert_single("SELECT * FROM t LOCK IN SHARE MODE", SQL_STMT_SELECT,
		      NULL, "t", MDL_TYPE_SHARED_READ);
	assert_single("SELECT * FROM t WHERE x = (SELECT 1 FROM DUAL FOR UPDATE)",
		      SQL_STMT_SELECT, NULL, "t", MDL_TYPE_SHARED_READ);
}

static void test_select_ignores_from_inside_functions_and_dual(void **state)
{
	(void)state;
	assert_single("SELECT EXTRACT(YEAR FROM d), TRIM(LEADING 'x' FROM s), "
		      "SUBSTRING(s FROM 2) FROM real_t",
		      SQL_STMT_SELECT, NULL, "real_t", MDL_TYPE_SHARED_READ);
	assert_single("SELECT * FROM JSON_TABLE('[]', '$[*]' COLUMNS (a INT "
		      "PATH '$')) AS jt, t", SQL_STMT_SELECT, NULL, "t",
		      MDL_TYPE_SHARED_READ);

	struct sql_targets t;

	parse_ok("SELECT 1 FROM DUAL", &t, SQL_STMT_SELECT, 0);
	sql_targets_release(&t);
	parse_ok("SELECT NOW(), @@version", &t, SQL_STMT_SELECT, 0);
	sql_targets_release(&t);
}

static void test_select_index_hints_partitions_and_history_keep_lists(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("SELECT * FROM t1 PARTITION (p0, p1) USE INDEX (i1, i2), "
		 "t2 FORCE INDEX FOR JOIN (i3), t3 FOR SYSTEM_TIME ALL, t4",
		 &t, SQL_STMT_SELECT, 4);
	assert_table(&t, 3, NULL, "t4", MDL_TYPE_SHARED_READ);
	sql_targets_release(&t);
}

/* ---- INSERT / REPLACE --------------------------------------------------- */

static void test_insert_targets_table_with_shared_write(void **state)
{
	(void)state;
	assert_single("INSERT INTO shop.users (a, b) VALUES (1, 2), (3, 4)",
		      SQL_STMT_INSERT, "shop", "users", MDL_TYPE_SHARED_WRITE);
	assert_single("insert ignore t SET a = 1", SQL_STMT_INSERT, NULL, "t",
		      MDL_TYPE_SHARED_WRITE);
	assert_single("INSERT DELAYED INTO t VALUES (1)", SQL_STMT_INSERT, NULL,
		      "t", MDL_TYPE_SHARED_WRITE);
	assert_single("INSERT HIGH_PRIORITY IGNORE INTO t(a) VALUE (1)",
		      SQL_STMT_INSERT, NULL, "t", MDL_TYPE_SHARED_WRITE);
}

static void test_insert_low_priority_takes_low_prio_write(void **state)
{
	(void)state;
	assert_single("INSERT LOW_PRIORITY IGNORE INTO t VALUES (1)",
		      SQL_STMT_INSERT, NULL, "t",
		      MDL_TYPE_SHARED_WRITE_LOW_PRIO);
}

static void test_insert_select_reads_sources_with_shared_read(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("INSERT INTO dst (a) SELECT x FROM src1 JOIN s.src2 "
		 "WHERE y IN (SELECT z FROM src3) "
		 "ON DUPLICATE KEY UPDATE a = VALUES(a), b = 2",
		 &t, SQL_STMT_INSERT, 4);
	assert_false(t.is_ddl);
	assert_table(&t, 0, NULL, "dst", MDL_TYPE_SHARED_WRITE);
	assert_table(&t, 1, NULL, "src1", MDL_TYPE_SHARED_READ);
	assert_table(&t, 2, "s", "src2", MDL_TYPE_SHARED_READ);
	assert_table(&t, 3, NULL, "src3", MDL_TYPE_SHARED_READ);
	sql_targets_release(&t);
	parse_ok("INSERT INTO dst WITH c AS (SELECT * FROM src) SELECT * FROM c",
		 &t, SQL_STMT_INSERT, 2);
	assert_table(&t, 1, NULL, "src", MDL_TYPE_SHARED_READ);
	sql_targets_release(&t);
}

static void test_replace_targets_table_with_shared_write(void **state)
{
	struct sql_targets t;

	(void)state;
	assert_single("REPLACE INTO t VALUES (1)", SQL_STMT_REPLACE, NULL, "t",
		      MDL_TYPE_SHARED_WRITE);
	assert_single("REPLACE LOW_PRIORITY t SET a=1", SQL_STMT_REPLACE, NULL,
		      "t", MDL_TYPE_SHARED_WRITE_LOW_PRIO);
	parse_ok("REPLACE INTO t SELECT * FROM s", &t, SQL_STMT_REPLACE, 2);
	assert_table(&t, 1, NULL, "s", MDL_TYPE_SHARED_READ);
	sql_targets_release(&t);
}

/* ---- UPDATE / DELETE ---------------------------------------------------- */

static void test_update_targets_tables_before_set_with_shared_write(void **state)
{
	struct sql_targets t;

	(void)state;
	assert_single("UPDATE users SET a = 1, b = 2 WHERE id = 3",
		      SQL_STMT_UPDATE, NULL, "users", MDL_TYPE_SHARED_WRITE);
	parse_ok("UPDATE IGNORE t1 AS a, s.t2 b JOIN t3 ON a.x = t3.x "
		 "SET a.v = (SELECT MAX(w) FROM t4) WHERE b.y IN (SELECT y FROM t5)",
		 &t, SQL_STMT_UPDATE, 5);
	assert_table(&t, 0, NULL, "t1", MDL_TYPE_SHARED_WRITE);
	assert_table(&t, 1, "s", "t2", MDL_TYPE_SHARED_WRITE);
	assert_table(&t, 2, NULL, "t3", MDL_TYPE_SHARED_WRITE);
	assert_table(&t, 3, NULL, "t4", MDL_TYPE_SHARED_READ);
	assert_table(&t, 4, NULL, "t5", MDL_TYPE_SHARED_READ);
	sql_targets_release(&t);
}

static void test_update_low_priority_takes_low_prio_write(void **state)
{
	(void)state;
	assert_single("UPDATE LOW_PRIORITY t SET a = 1", SQL_STMT_UPDATE, NULL,
		      "t", MDL_TYPE_SHARED_WRITE_LOW_PRIO);
}

static void test_delete_targets_table_with_shared_write(void **state)
{
	(void)state;
	assert_single("DELETE QUICK IGNORE FROM shop.t WHERE a = 1 "
		      "ORDER BY id LIMIT 10", SQL_STMT_DELETE, "shop", "t",
		      MDL_TYPE_SHARED_WRITE);
	assert_single("DELETE LOW_PRIORITY FROM t", SQL_STMT_DELETE, NULL, "t",
		      MDL_TYPE_SHARED_WRITE_LOW_PRIO);
	assert_single("DELETE FROM t WHERE a = 1 RETURNING a, b",
		      SQL_STMT_DELETE, NULL, "t", MDL_TYPE_SHARED_WRITE);
}

static void test_multi_table_delete_targets_all_joined_tables(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("DELETE t1, t2 FROM t1 JOIN t2 ON t1.a = t2.a "
		 "WHERE t1.b IN (SELECT b FROM t3)", &t, SQL_STMT_DELETE, 3);
	assert_table(&t, 0, NULL, "t1", MDL_TYPE_SHARED_WRITE);
	assert_table(&t, 1, NULL, "t2", MDL_TYPE_SHARED_WRITE);
	assert_table(&t, 2, NULL, "t3", MDL_TYPE_SHARED_READ);
	sql_targets_release(&t);
	/* a1, a2 are aliases of the USING join, not tables */
	parse_ok("DELETE FROM a1, a2 USING t1 AS a1 JOIN t2 AS a2 USING (id)",
		 &t, SQL_STMT_DELETE, 2);
	assert_table(&t, 0, NULL, "t1", MDL_TYPE_SHARED_WRITE);
	assert_table(&t, 1, NULL, "t2", MDL_TYPE_SHARED_WRITE);
	sql_targets_release(&t);
}

/* ---- ALTER -------------------------------------------------------------- */

static void test_alter_targets_table_with_exclusive_lock(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("ALTER TABLE users ADD COLUMN x INT, ALGORITHM=INPLACE, LOCK=NONE",
		 &t, SQL_STMT_ALTER_TABLE, 1);
	assert_true(t.is_ddl);
	assert_table(&t, 0, NULL, "users", MDL_TYPE_EXCLUSIVE);
	sql_targets_release(&t);
	assert_single("ALTER ONLINE IGNORE TABLE IF EXISTS s.t ADD INDEX (a)",
		      SQL_STMT_ALTER_TABLE, "s", "t", MDL_TYPE_EXCLUSIVE);
}

static void test_alter_rename_to_adds_new_name(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("ALTER TABLE old_t ADD c INT, RENAME TO s2.new_t", &t,
		 SQL_STMT_ALTER_TABLE, 2);
	assert_table(&t, 0, NULL, "old_t", MDL_TYPE_EXCLUSIVE);
	assert_table(&t, 1, "s2", "new_t", MDL_TYPE_EXCLUSIVE);
	sql_targets_release(&t);
	parse_ok("ALTER TABLE a RENAME b", &t, SQL_STMT_ALTER_TABLE, 2);
	assert_table(&t, 1, NULL, "b", MDL_TYPE_EXCLUSIVE);
	sql_targets_release(&t);
	parse_ok("ALTER TABLE a RENAME AS b", &t, SQL_STMT_ALTER_TABLE, 2);
	sql_targets_release(&t);
}

static void test_alter_rename_column_or_index_adds_no_table(void **state)
{
	(void)state;
	assert_single("ALTER TABLE t RENAME COLUMN a TO b, RENAME INDEX i TO j, "
		      "RENAME KEY k TO l", SQL_STMT_ALTER_TABLE, NULL, "t",
		      MDL_TYPE_EXCLUSIVE);
}

static void test_alter_exchange_partition_adds_other_table(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("ALTER TABLE p EXCHANGE PARTITION p0 WITH TABLE s.swap", &t,
		 SQL_STMT_ALTER_TABLE, 2);
	assert_table(&t, 1, "s", "swap", MDL_TYPE_EXCLUSIVE);
	sql_targets_release(&t);
}

static void test_alter_of_other_objects_is_other_ddl(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("ALTER DATABASE shop CHARACTER SET utf8mb4", &t,
		 SQL_STMT_OTHER_DDL, 0);
	assert_true(t.is_ddl);
	sql_targets_release(&t);
	parse_ok("ALTER DEFINER=`a`@`%` VIEW v AS SELECT * FROM t", &t,
		 SQL_STMT_OTHER_DDL, 0);
	sql_targets_release(&t);
}

/* ---- indexes and triggers ----------------------------------------------- */

static void test_create_index_targets_table_with_exclusive_lock(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("CREATE INDEX IDX__users__email on users (email) "
		 "ALGORITHM=INPLACE, LOCK=NONE", &t, SQL_STMT_CREATE_INDEX, 1);
	assert_true(t.is_ddl);
	assert_table(&t, 0, NULL, "users", MDL_TYPE_EXCLUSIVE);
	sql_targets_release(&t);
	assert_single("CREATE UNIQUE INDEX IF NOT EXISTS u ON s.t (a, b)",
		      SQL_STMT_CREATE_INDEX, "s", "t", MDL_TYPE_EXCLUSIVE);
	assert_single("CREATE OR REPLACE FULLTEXT INDEX f USING BTREE ON `t` (c)",
		      SQL_STMT_CREATE_INDEX, NULL, "t", MDL_TYPE_EXCLUSIVE);
	assert_single("CREATE SPATIAL INDEX g ON t (geo)", SQL_STMT_CREATE_INDEX,
		      NULL, "t", MDL_TYPE_EXCLUSIVE);
}

static void test_drop_index_targets_table_with_exclusive_lock(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("DROP INDEX IF EXISTS i ON s.t", &t, SQL_STMT_DROP_INDEX, 1);
	assert_true(t.is_ddl);
	assert_table(&t, 0, "s", "t", MDL_TYPE_EXCLUSIVE);
	sql_targets_release(&t);
	assert_single("DROP INDEX `PRIMARY` ON t ALGORITHM=INPLACE",
		      SQL_STMT_DROP_INDEX, NULL, "t", MDL_TYPE_EXCLUSIVE);
}

static void test_create_trigger_targets_table_with_exclusive_lock(void **state)
{
	static const char *const stmts[] = {
		"CREATE TRIGGER trg BEFORE INSERT ON orders FOR EACH ROW SET NEW.a = 1",
		"CREATE OR REPLACE DEFINER=`root`@`localhost` TRIGGER IF NOT EXISTS "
		"s.trg AFTER UPDATE ON orders FOR EACH ROW BEGIN UPDATE x SET a=1; END",
		"CREATE DEFINER='u'@'%' TRIGGER trg AFTER DELETE ON orders "
		"FOR EACH ROW DELETE FROM y",
		"CREATE DEFINER=CURRENT_USER TRIGGER trg BEFORE UPDATE ON orders "
		"FOR EACH ROW FOLLOWS other SET NEW.b = 2",
		"CREATE DEFINER = CURRENT_USER() TRIGGER trg BEFORE DELETE ON "
		"`orders` FOR EACH ROW SET @x = 1",
		"CREATE DEFINER=root@localhost TRIGGER trg BEFORE INSERT ON orders "
		"FOR EACH ROW SET @x = 1",
	};
	struct sql_targets t;

	(void)state;
	for (size_t k = 0; k < sizeof(stmts) / sizeof(stmts[0]); k++) {
		parse_ok(stmts[k], &t, SQL_STMT_CREATE_TRIGGER, 1);
		assert_true(t.is_ddl);
		assert_table(&t, 0, NULL, "orders", MDL_TYPE_EXCLUSIVE);
		sql_targets_release(&t);
	}
}

static void test_drop_trigger_reports_trigger_name_without_tables(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("DROP TRIGGER IF EXISTS `shop`.`trg``1`", &t,
		 SQL_STMT_DROP_TRIGGER, 0);
	assert_true(t.is_ddl);
	assert_string_equal(t.trigger_schema, "shop");
	assert_string_equal(t.trigger_name, "trg`1");
	sql_targets_release(&t);
	parse_ok("DROP TRIGGER trg", &t, SQL_STMT_DROP_TRIGGER, 0);
	assert_null(t.trigger_schema);
	assert_string_equal(t.trigger_name, "trg");
	sql_targets_release(&t);
}

/* ---- other table DDL ---------------------------------------------------- */

static void test_rename_table_locks_every_name_exclusively(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("RENAME TABLE a TO a_old, s.b WAIT 5 TO s.a, `c` TO d", &t,
		 SQL_STMT_RENAME_TABLE, 6);
	assert_true(t.is_ddl);
	assert_table(&t, 0, NULL, "a", MDL_TYPE_EXCLUSIVE);
	assert_table(&t, 1, NULL, "a_old", MDL_TYPE_EXCLUSIVE);
	assert_table(&t, 2, "s", "b", MDL_TYPE_EXCLUSIVE);
	assert_table(&t, 3, "s", "a", MDL_TYPE_EXCLUSIVE);
	assert_table(&t, 4, NULL, "c", MDL_TYPE_EXCLUSIVE);
	assert_table(&t, 5, NULL, "d", MDL_TYPE_EXCLUSIVE);
	sql_targets_release(&t);
	parse_ok("RENAME TABLES IF EXISTS x TO y", &t, SQL_STMT_RENAME_TABLE, 2);
	sql_targets_release(&t);
}

static void test_truncate_targets_table_with_exclusive_lock(void **state)
{
	(void)state;
	assert_single("TRUNCATE TABLE s.t", SQL_STMT_TRUNCATE, "s", "t",
		      MDL_TYPE_EXCLUSIVE);
	assert_single("truncate t WAIT 3", SQL_STMT_TRUNCATE, NULL, "t",
		      MDL_TYPE_EXCLUSIVE);
}

static void test_optimize_targets_tables_with_exclusive_lock(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("OPTIMIZE NO_WRITE_TO_BINLOG TABLE t1, s.t2", &t,
		 SQL_STMT_OPTIMIZE, 2);
	assert_true(t.is_ddl);
	assert_table(&t, 0, NULL, "t1", MDL_TYPE_EXCLUSIVE);
	assert_table(&t, 1, "s", "t2", MDL_TYPE_EXCLUSIVE);
	sql_targets_release(&t);
	assert_single("OPTIMIZE LOCAL TABLE t", SQL_STMT_OPTIMIZE, NULL, "t",
		      MDL_TYPE_EXCLUSIVE);
	assert_not_understood("OPTIMIZE");
}

static void test_drop_table_targets_every_table_with_exclusive_lock(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("DROP TEMPORARY TABLE IF EXISTS t1, s.t2, `t3` RESTRICT", &t,
		 SQL_STMT_DROP_TABLE, 3);
	assert_true(t.is_ddl);
	assert_table(&t, 0, NULL, "t1", MDL_TYPE_EXCLUSIVE);
	assert_table(&t, 1, "s", "t2", MDL_TYPE_EXCLUSIVE);
	assert_table(&t, 2, NULL, "t3", MDL_TYPE_EXCLUSIVE);
	sql_targets_release(&t);
}

static void test_create_table_targets_table_and_reads_sources(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("CREATE TABLE IF NOT EXISTS s.t (id INT PRIMARY KEY, "
		 "b INT REFERENCES p (id), CHECK (id > 0)) ENGINE=InnoDB",
		 &t, SQL_STMT_CREATE_TABLE, 1);
	assert_true(t.is_ddl);
	assert_table(&t, 0, "s", "t", MDL_TYPE_EXCLUSIVE);
	sql_targets_release(&t);

	parse_ok("CREATE OR REPLACE TABLE t2 LIKE s.t1", &t,
		 SQL_STMT_CREATE_TABLE, 2);
	assert_table(&t, 0, NULL, "t2", MDL_TYPE_EXCLUSIVE);
	assert_table(&t, 1, "s", "t1", MDL_TYPE_SHARED_READ);
	sql_targets_release(&t);

	parse_ok("CREATE TEMPORARY TABLE t2 (LIKE t1)", &t,
		 SQL_STMT_CREATE_TABLE, 2);
	assert_table(&t, 1, NULL, "t1", MDL_TYPE_SHARED_READ);
	sql_targets_release(&t);

	parse_ok("CREATE TABLE t3 (a INT) ENGINE=InnoDB AS SELECT a FROM src "
		 "JOIN src2 WHERE b IN (SELECT b FROM src3)", &t,
		 SQL_STMT_CREATE_TABLE, 4);
	assert_table(&t, 0, NULL, "t3", MDL_TYPE_EXCLUSIVE);
	assert_table(&t, 1, NULL, "src", MDL_TYPE_SHARED_READ);
	assert_table(&t, 2, NULL, "src2", MDL_TYPE_SHARED_READ);
	assert_table(&t, 3, NULL, "src3", MDL_TYPE_SHARED_READ);
	sql_targets_release(&t);
}

static void test_other_create_and_drop_are_other_ddl(void **state)
{
	static const char *const stmts[] = {
		"CREATE VIEW v AS SELECT * FROM t",
		"CREATE OR REPLACE ALGORITHM=MERGE DEFINER=`u`@`h` SQL SECURITY "
		"INVOKER VIEW v AS SELECT 1",
		"CREATE DATABASE IF NOT EXISTS shop",
		"CREATE DEFINER=CURRENT_USER() PROCEDURE p() BEGIN CREATE TABLE x "
		"(a INT); END",
		"CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO TRUNCATE t",
		"CREATE USER bob", "DROP VIEW v", "DROP DATABASE shop",
		"DROP PROCEDURE IF EXISTS p", "DROP EVENT e", "CREATE",
		"/*!50001 CREATE ALGORITHM=UNDEFINED */ /*!50013 DEFINER=`r`@`l` "
		"SQL SECURITY DEFINER */ /*!50001 VIEW `v` AS select 1 */",
	};
	struct sql_targets t;

	(void)state;
	for (size_t k = 0; k < sizeof(stmts) / sizeof(stmts[0]); k++) {
		parse_ok(stmts[k], &t, SQL_STMT_OTHER_DDL, 0);
		assert_true(t.is_ddl);
		sql_targets_release(&t);
	}
}

/* ---- LOCK TABLES / FLUSH TABLES ----------------------------------------- */

static void test_lock_tables_maps_modes_to_lock_types(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("LOCK TABLES t1 READ, t2 AS a READ LOCAL, s.t3 b WRITE, "
		 "t4 LOW_PRIORITY WRITE, t5 WRITE CONCURRENT WAIT 10", &t,
		 SQL_STMT_LOCK_TABLES, 5);
	assert_false(t.is_ddl);
	assert_table(&t, 0, NULL, "t1", MDL_TYPE_SHARED_READ_ONLY);
	assert_table(&t, 1, NULL, "t2", MDL_TYPE_SHARED_READ);
	assert_table(&t, 2, "s", "t3", MDL_TYPE_SHARED_NO_READ_WRITE);
	assert_table(&t, 3, NULL, "t4", MDL_TYPE_SHARED_NO_READ_WRITE);
	assert_table(&t, 4, NULL, "t5", MDL_TYPE_SHARED_WRITE);
	sql_targets_release(&t);
	assert_single("lock table t write", SQL_STMT_LOCK_TABLES, NULL, "t",
		      MDL_TYPE_SHARED_NO_READ_WRITE);
}

static void test_lock_tables_mysqldump_read_local_is_shared_read(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("LOCK TABLES `_1_audit` READ /*!32311 LOCAL */, "
		 "`_2_audit` READ /*!32311 LOCAL */", &t,
		 SQL_STMT_LOCK_TABLES, 2);
	assert_table(&t, 0, NULL, "_1_audit", MDL_TYPE_SHARED_READ);
	assert_table(&t, 1, NULL, "_2_audit", MDL_TYPE_SHARED_READ);
	sql_targets_release(&t);
}

static void test_flush_tables_for_export_takes_shared_no_write(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("FLUSH TABLES t1, s.t2 FOR EXPORT", &t, SQL_STMT_FLUSH_TABLES, 2);
	assert_false(t.is_ddl);
	assert_table(&t, 0, NULL, "t1", MDL_TYPE_SHARED_NO_WRITE);
	assert_table(&t, 1, "s", "t2", MDL_TYPE_SHARED_NO_WRITE);
	sql_targets_release(&t);
	assert_single("FLUSH NO_WRITE_TO_BINLOG TABLE t WITH READ LOCK",
		      SQL_STMT_FLUSH_TABLES, NULL, "t", MDL_TYPE_SHARED_NO_WRITE);
}

static void test_flush_tables_without_list_has_no_tables(void **state)
{
	static const char *const stmts[] = {
		"FLUSH TABLES", "FLUSH TABLES WITH READ LOCK",
		"FLUSH LOCAL TABLES WITH READ LOCK AND DISABLE CHECKPOINT",
	};
	struct sql_targets t;

	(void)state;
	for (size_t k = 0; k < sizeof(stmts) / sizeof(stmts[0]); k++) {
		parse_ok(stmts[k], &t, SQL_STMT_FLUSH_TABLES, 0);
		assert_false(t.is_ddl);
		sql_targets_release(&t);
	}
	/* a plain list flush waits on the table cache, not on an MDL */
	assert_single("FLUSH TABLES t", SQL_STMT_FLUSH_TABLES, NULL, "t",
		      MDL_TYPE_UNKNOWN);
}

/* ---- duplicates --------------------------------------------------------- */

static void test_duplicate_tables_are_kept_once_with_strongest_lock(void **state)
{
	struct sql_targets t;

	(void)state;
	parse_ok("INSERT INTO t SELECT * FROM t JOIN u JOIN t", &t,
		 SQL_STMT_INSERT, 2);
	assert_table(&t, 0, NULL, "t", MDL_TYPE_SHARED_WRITE);
	assert_table(&t, 1, NULL, "u", MDL_TYPE_SHARED_READ);
	sql_targets_release(&t);
	parse_ok("LOCK TABLES t READ, t AS a WRITE, s.t READ", &t,
		 SQL_STMT_LOCK_TABLES, 2);
	assert_table(&t, 0, NULL, "t", MDL_TYPE_SHARED_NO_READ_WRITE);
	assert_table(&t, 1, "s", "t", MDL_TYPE_SHARED_READ_ONLY);
	sql_targets_release(&t);
}

/* ---- hostile and truncated input ---------------------------------------- */

static void test_truncated_text_is_tolerated(void **state)
{
	struct sql_targets t;

	(void)state;
	/* PROCESSLIST.INFO cut inside a string, a comment, a quoted name */
	assert_single("SELECT * FROM t WHERE a = 'unterminat", SQL_STMT_SELECT,
		      NULL, "t", MDL_TYPE_SHARED_READ);
	assert_single("ALTER TABLE t ADD c INT /* never closed", SQL_STMT_ALTER_TABLE,
		      NULL, "t", MDL_TYPE_EXCLUSIVE);
	assert_single("DROP TABLE a, `b", SQL_STMT_DROP_TABLE, NULL, "a",
		      MDL_TYPE_EXCLUSIVE);
	assert_single("SELECT * FROM t WHERE a = 'x\\", SQL_STMT_SELECT, NULL,
		      "t", MDL_TYPE_SHARED_READ);
	assert_single("LOCK TABLES t", SQL_STMT_LOCK_TABLES, NULL, "t",
		      MDL_TYPE_UNKNOWN);
	parse_ok("ALTER TABLE", &t, SQL_STMT_ALTER_TABLE, 0);
	sql_targets_release(&t);
	parse_ok("CREATE INDEX i ON", &t, SQL_STMT_CREATE_INDEX, 0);
	sql_targets_release(&t);
	parse_ok("DROP TABLE IF", &t, SQL_STMT_DROP_TABLE, 0);
	sql_targets_release(&t);
	parse_ok("CREATE TABLE IF NOT", &t, SQL_STMT_CREATE_TABLE, 0);
	sql_targets_release(&t);
	parse_ok("SELECT * FROM s.", &t, SQL_STMT_SELECT, 1);
	sql_targets_release(&t);
	parse_ok("/*!40000 ALTER TABLE t", &t, SQL_STMT_ALTER_TABLE, 1);
	sql_targets_release(&t);
	assert_not_understood("/* SELECT * FROM t");
	assert_not_understood("'SELECT");
}

/* Every prefix of every statement must parse or fail cleanly: that is what
 * a cut-off INFO column looks like. ASan/UBSan catch the rest. */
static void test_every_prefix_of_real_statements_is_safe(void **state)
{
	static const char *const stmts[] = {
		"SET STATEMENT max_statement_time=0.5 FOR ALTER TABLE shop.users ADD COLUMN x INT",
		"LOCK TABLES `_1_audit` READ /*!32311 LOCAL */, `_2_audit` READ /*!32311 LOCAL */",
		"CREATE INDEX IDX__users__email on users (email) ALGORITHM=INPLACE, LOCK=NONE",
		"WITH c AS (SELECT * FROM `a``b`.`c.d`) SELECT * FROM c JOIN (SELECT 1 FROM x) y FOR UPDATE",
		"CREATE DEFINER='u'@'%' TRIGGER s.t BEFORE INSERT ON o FOR EACH ROW SET @a='x\\'y'",
		"INSERT LOW_PRIORITY INTO t SELECT * FROM u ON DUPLICATE KEY UPDATE a=VALUES(a) -- c",
		"/*M!100100 DROP TABLE IF EXISTS */ t # x",
		"FLUSH TABLES t1, t2 FOR EXPORT",
		"RENAME TABLE a TO b, c TO d",
		"DELETE t1 FROM t1 JOIN t2 USING (id) WHERE \"x\"\"y\" = 1",
	};
	char buf[256];

	(void)state;
	for (size_t k = 0; k < sizeof(stmts) / sizeof(stmts[0]); k++) {
		size_t len = strlen(stmts[k]);

		assert_true(len < sizeof(buf));
		for (size_t cut = 0; cut <= len; cut++) {
			struct sql_targets t;
			int rc;

			memcpy(buf, stmts[k], cut);
			buf[cut] = '\0';
			rc = sql_targets_parse(buf, &t);
			assert_true(rc == 0 || rc == -1);
			if (rc == -1)
				assert_int_equal(t.kind, SQL_STMT_UNKNOWN);
			for (size_t i = 0; i < t.n_tables; i++)
				assert_non_null(t.tables[i].name);
			sql_targets_release(&t);
		}
	}
}

/* Tiny deterministic generator so the test is repeatable. */
static uint32_t rng_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void test_large_garbage_does_not_crash(void **state)
{
	static const char alphabet[] = "SELECT FROM JOIN ( ) , . ` ' \" \\ /*!*/ -- # ;\n"
				       "abcXYZ019_$@=";
	const size_t size = 100 * 1024;
	char *buf = malloc(size + 1);
	uint32_t seed = 0x2545F491u;
	struct sql_targets t;

	(void)state;
	assert_non_null(buf);
	/* random bytes, including high ones; NUL ends the text early */
	for (size_t i = 0; i < size; i++)
		buf[i] = (char)(rng_next(&seed) % 255 + 1);
	buf[size] = '\0';
	if (sql_targets_parse(buf, &t) == 0)
		sql_targets_release(&t);

	/* SQL-ish garbage reaches the parser instead of stopping early */
	for (int round = 0; round < 20; round++) {
		memcpy(buf, "SELECT * FROM ", 14);
		for (size_t i = 14; i < size; i++)
			buf[i] = alphabet[rng_next(&seed) % (sizeof(alphabet) - 1)];
		buf[size] = '\0';
		if (sql_targets_parse(buf, &t) == 0)
			sql_targets_release(&t);
	}

	/* deep nesting and long lists */
	memcpy(buf, "SELECT * FROM ", 14);
	memset(buf + 14, '(', size - 14);
	buf[size] = '\0';
	parse_ok(buf, &t, SQL_STMT_SELECT, 0);
	sql_targets_release(&t);

	memcpy(buf, "DROP TABLE ", 11);
	for (size_t i = 11; i + 2 < size; i += 2)
		memcpy(buf + i, "a,", 2);
	buf[size - 1] = '\0';
	parse_ok(buf, &t, SQL_STMT_DROP_TABLE, 1);
	sql_targets_release(&t);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null_and_empty_input_is_not_understood),
		cmocka_unit_test(test_other_statements_are_not_understood),
		cmocka_unit_test(test_release_is_safe_on_zeroed_struct_and_twice),
		cmocka_unit_test(test_kind_names_are_human_readable),
		cmocka_unit_test(test_line_comments_are_skipped),
		cmocka_unit_test(test_block_comments_and_mdlsafe_prefix_are_skipped),
		cmocka_unit_test(test_executable_comment_contents_are_read_as_sql),
		cmocka_unit_test(test_strings_with_escapes_neither_hide_nor_invent_tables),
		cmocka_unit_test(test_backticked_names_keep_dots_and_doubled_backticks),
		cmocka_unit_test(test_keywords_are_case_insensitive_and_quoted_ones_are_names),
		cmocka_unit_test(test_ansi_quoted_identifier_is_a_name),
		cmocka_unit_test(test_statement_ends_at_first_semicolon),
		cmocka_unit_test(test_set_statement_prefix_is_skipped),
		cmocka_unit_test(test_select_targets_from_and_join_tables_with_shared_read),
		cmocka_unit_test(test_select_comma_list_with_aliases),
		cmocka_unit_test(test_select_collects_tables_inside_subqueries),
		cmocka_unit_test(test_select_parenthesised_join_and_union),
		cmocka_unit_test(test_select_with_cte_reads_base_tables_only),
		cmocka_unit_test(test_select_for_update_takes_shared_write),
		cmocka_unit_test(test_select_ignores_from_inside_functions_and_dual),
		cmocka_unit_test(test_select_index_hints_partitions_and_history_keep_lists),
		cmocka_unit_test(test_insert_targets_table_with_shared_write),
		cmocka_unit_test(test_insert_low_priority_takes_low_prio_write),
		cmocka_unit_test(test_insert_select_reads_sources_with_shared_read),
		cmocka_unit_test(test_replace_targets_table_with_shared_write),
		cmocka_unit_test(test_update_targets_tables_before_set_with_shared_write),
		cmocka_unit_test(test_update_low_priority_takes_low_prio_write),
		cmocka_unit_test(test_delete_targets_table_with_shared_write),
		cmocka_unit_test(test_multi_table_delete_targets_all_joined_tables),
		cmocka_unit_test(test_alter_targets_table_with_exclusive_lock),
		cmocka_unit_test(test_alter_rename_to_adds_new_name),
		cmocka_unit_test(test_alter_rename_column_or_index_adds_no_table),
		cmocka_unit_test(test_alter_exchange_partition_adds_other_table),
		cmocka_unit_test(test_alter_of_other_objects_is_other_ddl),
		cmocka_unit_test(test_create_index_targets_table_with_exclusive_lock),
		cmocka_unit_test(test_drop_index_targets_table_with_exclusive_lock),
		cmocka_unit_test(test_create_trigger_targets_table_with_exclusive_lock),
		cmocka_unit_test(test_drop_trigger_reports_trigger_name_without_tables),
		cmocka_unit_test(test_rename_table_locks_every_name_exclusively),
		cmocka_unit_test(test_truncate_targets_table_with_exclusive_lock),
		cmocka_unit_test(test_optimize_targets_tables_with_exclusive_lock),
		cmocka_unit_test(test_drop_table_targets_every_table_with_exclusive_lock),
		cmocka_unit_test(test_create_table_targets_table_and_reads_sources),
		cmocka_unit_test(test_other_create_and_drop_are_other_ddl),
		cmocka_unit_test(test_lock_tables_maps_modes_to_lock_types),
		cmocka_unit_test(test_lock_tables_mysqldump_read_local_is_shared_read),
		cmocka_unit_test(test_flush_tables_for_export_takes_shared_no_write),
		cmocka_unit_test(test_flush_tables_without_list_has_no_tables),
		cmocka_unit_test(test_duplicate_tables_are_kept_once_with_strongest_lock),
		cmocka_unit_test(test_truncated_text_is_tolerated),
		cmocka_unit_test(test_every_prefix_of_real_statements_is_safe),
		cmocka_unit_test(test_large_garbage_does_not_crash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
