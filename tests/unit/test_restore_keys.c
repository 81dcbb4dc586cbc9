/* Which secondary indexes restore may build after the data, and the CREATE
 * TABLE it runs without them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "restore/keys.h"

static void expect(const char *in, const char *want_stmt, const char *want_adds)
{
	char *adds = NULL, *out = restore_keys_defer(in, strlen(in), &adds);

	if (!want_stmt) {
		assert_null(out);
		assert_null(adds);
		return;
	}
	assert_non_null(out);
	assert_string_equal(out, want_stmt);
	assert_string_equal(adds, want_adds);
	free(out);
	free(adds);
}

static void test_plain_keys_move_to_an_alter_and_commas_stay_right(void **state)
{
	(void)state;
	expect("CREATE TABLE `sbtest1` (\n"
	       "  `id` int(11) NOT NULL AUTO_INCREMENT,\n"
	       "  `k` int(11) NOT NULL DEFAULT 0,\n"
	       "  `c` char(120) NOT NULL DEFAULT '',\n"
	       "  PRIMARY KEY (`id`),\n"
	       "  KEY `k_1` (`k`),\n"
	       "  KEY `kc` (`k`,`c`(10)) COMMENT 'two, parts'\n"
	       ") ENGINE=InnoDB AUTO_INCREMENT=250001 DEFAULT CHARSET=utf8mb4",
	       "CREATE TABLE `sbtest1` (\n"
	       "  `id` int(11) NOT NULL AUTO_INCREMENT,\n"
	       "  `k` int(11) NOT NULL DEFAULT 0,\n"
	       "  `c` char(120) NOT NULL DEFAULT '',\n"
	       "  PRIMARY KEY (`id`)\n"
	       ") ENGINE=InnoDB AUTO_INCREMENT=250001 DEFAULT CHARSET=utf8mb4",
	       "ADD KEY `k_1` (`k`), ADD KEY `kc` (`k`,`c`(10)) COMMENT 'two, parts'");
}

static void test_unique_fulltext_and_primary_keys_stay(void **state)
{
	(void)state;
	expect("CREATE TABLE `t` (\n"
	       "  `a` int(11) NOT NULL,\n"
	       "  `b` text,\n"
	       "  KEY `k` (`a`),\n"
	       "  UNIQUE KEY `u` (`a`),\n"
	       "  FULLTEXT KEY `f` (`b`)\n"
	       ") ENGINE=InnoDB",
	       "CREATE TABLE `t` (\n"
	       "  `a` int(11) NOT NULL,\n"
	       "  `b` text,\n"
	       "  UNIQUE KEY `u` (`a`),\n"
	       "  FULLTEXT KEY `f` (`b`)\n"
	       ") ENGINE=InnoDB",
	       "ADD KEY `k` (`a`)");
}

static void test_tables_that_need_their_keys_while_loading_keep_them(void **state)
{
	(void)state;
	/* no plain key */
	expect("CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  PRIMARY KEY (`a`)\n) ENGINE=InnoDB", NULL, NULL);
	/* MyISAM */
	expect("CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  KEY `k` (`a`)\n) ENGINE=MyISAM", NULL, NULL);
	/* a foreign key needs an index as rows arrive */
	expect("CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  KEY `k` (`a`),\n"
	       "  CONSTRAINT `fk` FOREIGN KEY (`a`) REFERENCES `p` (`id`)\n) ENGINE=InnoDB",
	       NULL, NULL);
	/* the AUTO_INCREMENT column is indexed only by the plain key */
	expect("CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  `n` int(11) NOT NULL AUTO_INCREMENT,\n"
	       "  PRIMARY KEY (`a`),\n  KEY `n` (`n`)\n) ENGINE=InnoDB",
	       NULL, NULL);
	/* ... but a unique key on it is enough */
	expect("CREATE TABLE `t` (\n  `n` int(11) NOT NULL AUTO_INCREMENT,\n  `a` int(11),\n"
	       "  UNIQUE KEY `u` (`n`),\n  KEY `k` (`a`)\n) ENGINE=InnoDB",
	       "CREATE TABLE `t` (\n  `n` int(11) NOT NULL AUTO_INCREMENT,\n  `a` int(11),\n"
	       "  UNIQUE KEY `u` (`n`)\n) ENGINE=InnoDB",
	       "ADD KEY `k` (`a`)");
}

/* A name keeps its raw newlines and parentheses in SHOW CREATE TABLE: a
 * column whose name looks like an index line is a column, an index whose
 * name holds "(" is read from its real column list, and a table name with
 * "\n)" does not end the definitions. */
static void test_names_that_look_like_lines_are_names(void **state)
{
	(void)state;
	expect("CREATE TABLE `t\n) ENGINE=MyISAM` (\n"
	       "  `id` int(11) NOT NULL AUTO_INCREMENT,\n"
	       "  `a\n  KEY ``x`` (``id``)` int(11) DEFAULT NULL,\n"
	       "  UNIQUE KEY `u(` (`id`),\n"
	       "  KEY `k\n(` (`a\n  KEY ``x`` (``id``)`)\n"
	       ") ENGINE=InnoDB",
	       "CREATE TABLE `t\n) ENGINE=MyISAM` (\n"
	       "  `id` int(11) NOT NULL AUTO_INCREMENT,\n"
	       "  `a\n  KEY ``x`` (``id``)` int(11) DEFAULT NULL,\n"
	       "  UNIQUE KEY `u(` (`id`)\n"
	       ") ENGINE=InnoDB",
	       "ADD KEY `k\n(` (`a\n  KEY ``x`` (``id``)`)");
	/* The AUTO_INCREMENT column is only in a plain KEY: nothing moves,
	 * whatever the column names say. */
	expect("CREATE TABLE `t` (\n"
	       "  `id AUTO_INCREMENT` int(11) NOT NULL,\n"
	       "  `n` int(11) NOT NULL AUTO_INCREMENT,\n"
	       "  PRIMARY KEY (`id AUTO_INCREMENT`),\n"
	       "  KEY `k` (`n`)\n"
	       ") ENGINE=InnoDB",
	       NULL, NULL);
	/* A MyISAM table whose comment names InnoDB keeps its keys. */
	expect("CREATE TABLE `t` (\n"
	       "  `a` int(11) NOT NULL,\n"
	       "  KEY `k` (`a`)\n"
	       ") ENGINE=MyISAM COMMENT='ENGINE=InnoDB'",
	       NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_keys_move_to_an_alter_and_commas_stay_right),
		cmocka_unit_test(test_unique_fulltext_and_primary_keys_stay),
		cmocka_unit_test(test_tables_that_need_their_keys_while_loading_keep_them),
		cmocka_unit_test(test_names_that_look_like_lines_are_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
