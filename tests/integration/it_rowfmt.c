/* Dump files restored with the plain mariadb client against the sandbox:
 * every column type comes back bit-identical, definitions come back working. */
#include "harness.h"

#include "db/db.h"
#include "dump/rowfmt.h"
#include "dump/schema.h"
#include "util/buf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SRC "it_rowfmt_src"
#define DST "it_rowfmt_dst"
#define DST_SMALL "it_rowfmt_dst_small"
#define OBJ "it_rowfmt_obj"
#define OBJ2 "it_rowfmt_obj2"

/* ---- helpers ------------------------------------------------------------ */

/* A dump session as mdlsafe backup opens it. */
static void dump_open(struct db *db)
{
	struct db_params p = { 0 };
	struct ms_err e;

	p.defaults_file = strdup(it_cnf());
	if (db_open(db, &p, "it-rowfmt", NULL, &e))
		fail_msg("db_open: %s", e.msg);
	db_params_release(&p);
	if (rowfmt_session_prepare(db, &e))
		fail_msg("rowfmt_session_prepare: %s", e.msg);
}

static int sink_file(void *ctx, const void *data, size_t len, struct ms_err *e)
{
	if (fwrite(data, 1, len, ctx) != len)
		return ms_fail(e, MS_IO, "short write");
	return 0;
}

static void put(FILE *f, const char *s)
{
	if (s)
		assert_int_equal(fwrite(s, 1, strlen(s), f), strlen(s));
}

/* Writes CREATE TABLE (from schema_show_create_table) and the rows of
 * schema.table into f, as INSERTs of at most max_stmt bytes. */
static unsigned long long dump_table(struct db *db, FILE *f, const char *schema, const char *table,
				     size_t max_stmt)
{
	struct rowfmt_table t;
	struct rowfmt_writer *w;
	struct ms_err e;
	unsigned long long rows = 0;
	MYSQL_RES *res;
	MYSQL_ROW row;
	char *sql, *create;

	if (schema_show_create_table(db, schema, table, &create, &e))
		fail_msg("schema_show_create_table: %s", e.msg);
	put(f, create);
	put(f, ";\n");
	free(create);
	if (rowfmt_table_load(db, schema, table, &t, &e))
		fail_msg("rowfmt_table_load: %s", e.msg);
	sql = rowfmt_select_sql(&t, NULL);
	assert_non_null(sql);
	if (mysql_real_query(db->mysql, sql, (unsigned long)strlen(sql)))
		fail_msg("%s: %s", sql, mysql_error(db->mysql));
	res = mysql_use_result(db->mysql);
	assert_non_null(res);
	assert_int_equal(mysql_num_fields(res), t.n_dumped);
	assert_int_equal(rowfmt_writer_begin(&w, &t, max_stmt, sink_file, f, &e), 0);
	while ((row = mysql_fetch_row(res)))
		if (rowfmt_writer_row(w, row, mysql_fetch_lengths(res), &e))
			fail_msg("rowfmt_writer_row: %s", e.msg);
	if (mysql_errno(db->mysql))
		fail_msg("reading rows: %s", mysql_error(db->mysql));
	mysql_free_result(res);
	if (rowfmt_writer_end(w, &rows, &e))
		fail_msg("rowfmt_writer_end: %s", e.msg);
	free(sql);
	rowfmt_table_release(&t);
	return rows;
}

static FILE *open_dump(char *path, size_t n, const char *name)
{
	FILE *f;

	snprintf(path, n, "%s/it_rowfmt_%s_%d.sql", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name,
		 (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	put(f, rowfmt_file_header());
	return f;
}

/* Loads a file with the plain client, as a DBA would in an emergency. */
static void restore_with_client(const char *path, const char *database)
{
	char cmd[2048], err[1024] = "";
	FILE *ef;
	int rc;

	snprintf(cmd, sizeof(cmd), "mariadb --defaults-file='%s' %s < '%s' > '%s.out' 2> '%s.err'", it_cnf(),
		 database, path, path, path);
	rc = system(cmd);
	snprintf(cmd, sizeof(cmd), "%s.err", path);
	if ((ef = fopen(cmd, "r"))) {
		size_t got = fread(err, 1, sizeof(err) - 1, ef);
		err[got] = '\0';
		fclose(ef);
	}
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s.out", path);
	unlink(cmd);
	if (rc != 0)
		fail_msg("mariadb %s < %s failed (%d): %s", database, path, rc, err);
}

static char *checksum(MYSQL *m, const char *schema, const char *table)
{
	MYSQL_RES *r = NULL;
	MYSQL_ROW row;
	char sql[512], *out;

	snprintf(sql, sizeof(sql), "CHECKSUM TABLE `%s`.`%s` EXTENDED", schema, table);
	if (mysql_query(m, sql) || !(r = mysql_store_result(m)))
		fail_msg("%s: %s", sql, mysql_error(m));
	row = mysql_fetch_row(r);
	assert_non_null(row);
	assert_non_null(row[1]);
	out = strdup(row[1]);
	mysql_free_result(r);
	return out;
}

/* Fails with the columns whose values differ, to say what broke. */
static void assert_same_table(MYSQL *m, const char *a, const char *b, const char *table)
{
	char *ca = checksum(m, a, table), *cb = checksum(m, b, table);
	MYSQL_RES *cols = NULL;
	MYSQL_ROW col;
	struct buf diff = BUF_INIT;
	char sql[1024], *missing;

	if (strcmp(ca, cb) == 0) {
		free(ca);
		free(cb);
		return;
	}
	snprintf(sql, sizeof(sql),
		 "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '%s' AND TABLE_NAME = '%s' "
		 "ORDER BY ORDINAL_POSITION", a, table);
	if (mysql_query(m, sql) || !(cols = mysql_store_result(m)))
		fail_msg("%s", mysql_error(m));
	while ((col = mysql_fetch_row(cols))) {
		char *q = db_quote_ident(col[0]);
		/* BINARY catches collation-equal strings, the plain compare FLOATs
		 * whose 6-digit text is equal. */
		char *n = it_value(m, "SELECT COUNT(*) FROM `%s`.`%s` x JOIN `%s`.`%s` y USING (id) "
				      "WHERE NOT (BINARY x.%s <=> BINARY y.%s) OR NOT (x.%s <=> y.%s)",
				   a, table, b, table, q, q, q, q);
		if (n && strcmp(n, "0"))
			buf_addf(&diff, " %s(%s rows)", col[0], n);
		free(n);
		free(q);
	}
	mysql_free_result(cols);
	missing = it_value(m, "SELECT (SELECT COUNT(*) FROM `%s`.`%s` x WHERE id NOT IN (SELECT id FROM `%s`.`%s`)) + "
			      "(SELECT COUNT(*) FROM `%s`.`%s` y WHERE id NOT IN (SELECT id FROM `%s`.`%s`))",
			   a, table, b, table, b, table, a, table);
	if (missing && strcmp(missing, "0"))
		buf_addf(&diff, " ids in one table only (%s rows)", missing);
	free(missing);
	fail_msg("CHECKSUM TABLE %s: %s in %s, %s in %s; differing columns:%s", table, ca, a, cb, b,
		 diff.data ? diff.data : " none by value (the difference is in bits: float -0?)");
}

static size_t count_lines_starting_with_paren(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n = 0, cap = 0;
	char *line = NULL;

	assert_non_null(f);
	while (getline(&line, &cap, f) > 0)
		if (line[0] == '(')
			n++;
	free(line);
	fclose(f);
	return n;
}

/* ---- every column type -------------------------------------------------- */

static const struct rowfmt_column *find_col(const struct rowfmt_table *t, const char *name)
{
	for (size_t i = 0; i < t->n_cols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return &t->cols[i];
	fail_msg("no column %s", name);
	return NULL;
}

static void test_columns_are_classified_from_information_schema(void **state)
{
	MYSQL *m = it_connect();
	struct rowfmt_table t;
	struct ms_err e;
	struct db db;

	(void)state;
	it_fill_all_types(m, SRC);
	dump_open(&db);
	if (rowfmt_table_load(&db, SRC, "all types", &t, &e))
		fail_msg("rowfmt_table_load: %s", e.msg);
	assert_string_equal(t.cols[0].name, "id");
	assert_string_equal(t.cols[t.n_cols - 1].name, "inv"); /* INVISIBLE columns are dumped */
	assert_int_equal(t.n_dumped, t.n_cols - 2);
	assert_int_equal(find_col(&t, "vgen")->kind, ROWFMT_SKIP);
	assert_int_equal(find_col(&t, "sgen")->kind, ROWFMT_SKIP);
	assert_int_equal(find_col(&t, "biu")->kind, ROWFMT_NUMBER);
	assert_int_equal(find_col(&t, "d")->kind, ROWFMT_NUMBER);
	assert_int_equal(find_col(&t, "f72")->kind, ROWFMT_FLOAT);
	assert_int_equal(find_col(&t, "b64")->kind, ROWFMT_BIT);
	assert_int_equal(find_col(&t, "pg")->kind, ROWFMT_BINARY);
	assert_int_equal(find_col(&t, "bn")->kind, ROWFMT_BINARY);
	assert_int_equal(find_col(&t, "vl")->kind, ROWFMT_STRING);
	assert_int_equal(find_col(&t, "js")->kind, ROWFMT_STRING);
	assert_int_equal(find_col(&t, "ip")->kind, ROWFMT_STRING);
	assert_int_equal(find_col(&t, "ts")->kind, ROWFMT_STRING);
	assert_int_equal(find_col(&t, "vj")->kind, ROWFMT_CHARSET_HEX);
	assert_string_equal(find_col(&t, "vj")->charset, "cp932");
	assert_string_equal(find_col(&t, "vu")->charset, "ucs2");
	rowfmt_table_release(&t);
	assert_int_equal(rowfmt_table_load(&db, SRC, "no such table", &t, &e), -1);
	assert_int_equal(e.status, MS_USAGE);
	db_close(&db);
	it_exec(m, "DROP DATABASE " SRC);
	mysql_close(m);
}

/* One dump, restored twice: with the default 1 MiB statements (the 3 MiB
 * row exceeds it) and with 600-byte statements (one row each). */
static void test_every_type_restores_bit_identically_with_the_mariadb_client(void **state)
{
	MYSQL *m = it_connect();
	struct db db;
	char path[512], small[512];
	FILE *f, *fs;
	unsigned long long rows, rows_small;
	char *neg0;

	(void)state;
	it_fill_all_types(m, SRC);
	neg0 = it_value(m, "SELECT COUNT(*) FROM " SRC ".`all types` WHERE f = 0 AND ATAN2(f, -1) < 0");
	assert_string_equal(neg0, "1");
	free(neg0);

	dump_open(&db);
	f = open_dump(path, sizeof(path), "all");
	fs = open_dump(small, sizeof(small), "all_small");
	rows = dump_table(&db, f, SRC, "all types", 0);
	rows_small = dump_table(&db, fs, SRC, "all types", 600);
	put(f, rowfmt_file_footer());
	put(fs, rowfmt_file_footer());
	assert_int_equal(fclose(f), 0);
	assert_int_equal(fclose(fs), 0);
	db_close(&db);
	assert_int_equal(rows, 5);
	assert_int_equal(rows_small, 5);
	assert_int_equal(count_lines_starting_with_paren(path), 5);
	assert_int_equal(count_lines_starting_with_paren(small), 5);

	it_exec(m, "DROP DATABASE IF EXISTS " DST);
	it_exec(m, "CREATE DATABASE " DST);
	it_exec(m, "DROP DATABASE IF EXISTS " DST_SMALL);
	it_exec(m, "CREATE DATABASE " DST_SMALL);
	restore_with_client(path, DST);
	restore_with_client(small, DST_SMALL);
	assert_same_table(m, SRC, DST, "all types");
	assert_same_table(m, SRC, DST_SMALL, "all types");
	neg0 = it_value(m, "SELECT COUNT(*) FROM " DST ".`all types` WHERE f = 0 AND ATAN2(f, -1) < 0");
	assert_string_equal(neg0, "1");
	free(neg0);

	unlink(path);
	unlink(small);
	it_exec(m, "DROP DATABASE " DST);
	it_exec(m, "DROP DATABASE " DST_SMALL);
	it_exec(m, "DROP DATABASE " SRC);
	mysql_close(m);
}

/* ---- FLOAT and DOUBLE --------------------------------------------------- */

static double random_double(unsigned long long *s)
{
	for (;;) {
		unsigned long long x;
		double d;
		*s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
		x = *s;
		memcpy(&d, &x, sizeof(d));
		if (isfinite(d))
			return d;
	}
}

static float random_float(unsigned long long *s)
{
	for (;;) {
		unsigned x;
		float f;
		*s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
		x = (unsigned)(*s >> 17);
		memcpy(&f, &x, sizeof(f));
		if (isfinite(f))
			return f;
	}
}

/* Random bit patterns, subnormals included: the text the dump reads must
 * give back the very same bits. */
static void test_random_float_and_double_bits_survive_the_text_form(void **state)
{
	MYSQL *m = it_connect();
	unsigned long long seed = 0x9e3779b97f4a7c15ULL;
	struct db db;
	char path[512];
	FILE *f;

	(void)state;
	it_exec(m, "DROP DATABASE IF EXISTS " SRC);
	it_exec(m, "CREATE DATABASE " SRC);
	it_exec(m, "CREATE TABLE " SRC ".fl (id INT PRIMARY KEY, f FLOAT, d DOUBLE, fz FLOAT ZEROFILL)");
	for (int chunk = 0; chunk < 40; chunk++) {
		struct buf sql = BUF_INIT;
		buf_adds(&sql, "INSERT INTO " SRC ".fl VALUES ");
		for (int i = 0; i < 100; i++) {
			float fv = random_float(&seed);
			double dv = random_double(&seed);
			/* -0 can only get into a FLOAT by underflow */
			if (fv == 0)
				buf_addf(&sql, "%s(%d, -1e-60, %.17g, NULL)", i ? "," : "", chunk * 100 + i, dv);
			else
				buf_addf(&sql, "%s(%d, %.9g, %.17g, %.9g)", i ? "," : "", chunk * 100 + i, (double)fv, dv,
					 fabs((double)fv));
		}
		assert_false(sql.failed);
		if (mysql_query(m, sql.data))
			fail_msg("%s", mysql_error(m));
		buf_release(&sql);
	}
	it_exec(m, "INSERT INTO " SRC ".fl VALUES (100000, -1e-60, 0, 0), (100001, 16777217, 0.1, 0.1)");

	dump_open(&db);
	f = open_dump(path, sizeof(path), "fl");
	assert_int_equal(dump_table(&db, f, SRC, "fl", 0), 4002);
	put(f, rowfmt_file_footer());
	assert_int_equal(fclose(f), 0);
	db_close(&db);

	it_exec(m, "DROP DATABASE IF EXISTS " DST);
	it_exec(m, "CREATE DATABASE " DST);
	restore_with_client(path, DST);
	assert_same_table(m, SRC, DST, "fl");
	unlink(path);
	it_exec(m, "DROP DATABASE " DST);
	it_exec(m, "DROP DATABASE " SRC);
	mysql_close(m);
}

/* The writer uses 0x for BIT; b'...' would do as well. */
static void test_bit_values_restore_the_same_from_hex_and_binary_literals(void **state)
{
	MYSQL *m = it_connect();
	static const char *const rows[][2] = {
		{ "0x00", "b'0'" },
		{ "0x01", "b'1'" },
	};
	static const char *const rows64[][2] = {
		{ "0x0000000000000000", "b'0'" },
		{ "0x0000000000000001", "b'1'" },
		{ "0x8000000000000000", "b'1000000000000000000000000000000000000000000000000000000000000000'" },
		{ "0xFFFFFFFFFFFFFFFF", "b'1111111111111111111111111111111111111111111111111111111111111111'" },
		{ "0x0123456789ABCDEF", "b'0000000100100011010001010110011110001001101010111100110111101111'" },
	};
	char *a, *b;

	(void)state;
	it_exec(m, "DROP DATABASE IF EXISTS " SRC);
	it_exec(m, "CREATE DATABASE " SRC);
	it_exec(m, "CREATE TABLE " SRC ".hex (id INT PRIMARY KEY, b1 BIT(1), b64 BIT(64))");
	it_exec(m, "CREATE TABLE " SRC ".bin LIKE " SRC ".hex");
	for (int i = 0; i < 5; i++) {
		it_exec(m, "INSERT INTO " SRC ".hex VALUES (%d, %s, %s)", i, rows[i % 2][0], rows64[i][0]);
		it_exec(m, "INSERT INTO " SRC ".bin VALUES (%d, %s, %s)", i, rows[i % 2][1], rows64[i][1]);
	}
	a = checksum(m, SRC, "hex");
	b = checksum(m, SRC, "bin");
	assert_string_equal(a, b);
	free(a);
	free(b);
	a = it_value(m, "SELECT GROUP_CONCAT(HEX(b64) ORDER BY id) FROM " SRC ".hex");
	assert_string_equal(a, "0,1,8000000000000000,FFFFFFFFFFFFFFFF,123456789ABCDEF");
	free(a);
	it_exec(m, "DROP DATABASE " SRC);
	mysql_close(m);
}

/* ---- definitions -------------------------------------------------------- */

static void create_objects(MYSQL *m)
{
	it_exec(m, "DROP DATABASE IF EXISTS " OBJ);
	it_exec(m, "CREATE DATABASE " OBJ " CHARACTER SET latin1 COLLATE latin1_german1_ci");
	it_exec(m, "USE " OBJ);
	it_exec(m, "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v INT, note VARCHAR(60),"
		   " d DATE NOT NULL DEFAULT '0000-00-00')");
	it_exec(m, "CREATE TABLE log (id INT AUTO_INCREMENT PRIMARY KEY, msg VARCHAR(60))");
	it_exec(m, "CREATE TABLE child (id INT PRIMARY KEY, t_id INT, FOREIGN KEY (t_id) REFERENCES t (id))");
	it_exec(m, "INSERT INTO t (v) VALUES (1), (2), (-3)");
	it_exec(m, "INSERT INTO child VALUES (1, 1)");
	/* Two triggers on one event; the second is placed first. */
	it_exec(m, "CREATE TRIGGER t_note BEFORE INSERT ON t FOR EACH ROW "
		   "SET NEW.note = CONCAT(IFNULL(NEW.note, ''), 'note:', NEW.v)");
	it_exec(m, "CREATE TRIGGER t_first BEFORE INSERT ON t FOR EACH ROW PRECEDES t_note "
		   "SET NEW.note = 'first;;'");
	it_exec(m, "CREATE TRIGGER t_log AFTER INSERT ON t FOR EACH ROW "
		   "BEGIN INSERT INTO log (msg) VALUES (CONCAT('inserted ', NEW.id)); END");
	/* Created under PIPES_AS_CONCAT: || must stay concatenation. */
	it_exec(m, "SET SESSION sql_mode = 'PIPES_AS_CONCAT'");
	it_exec(m, "CREATE FUNCTION f_tag(x INT) RETURNS VARCHAR(20) DETERMINISTIC RETURN 'tag' || x");
	it_exec(m, "SET SESSION sql_mode = DEFAULT");
	it_exec(m, "CREATE FUNCTION f_double(x INT) RETURNS INT DETERMINISTIC RETURN x * 2");
	/* ;; and $$ in the body: the delimiter must be something else. */
	it_exec(m, "CREATE PROCEDURE p_add(IN x INT) BEGIN\n"
		   "  -- a comment in the body\n"
		   "  SET @marker = ';;$$';\n"
		   "  INSERT INTO t (v) VALUES (x);\n"
		   "END");
	/* Sent by a client that keeps comments, a trailing one is stored. */
	it_exec(m, "CREATE PROCEDURE p_tail() SELECT COUNT(*) FROM log -- counts the log");
	/* a_top uses z_mid uses m_base: name order is the wrong order. */
	it_exec(m, "CREATE VIEW m_base AS SELECT id, v, f_double(v) AS v2 FROM t WHERE v > 0");
	it_exec(m, "CREATE VIEW z_mid AS SELECT b.id, b.v2 AS m_base FROM m_base b");
	it_exec(m, "CREATE VIEW a_top AS SELECT SUM(m_base) AS total, f_tag(COUNT(*)) AS tag FROM z_mid");
	it_exec(m, "CREATE EVENT e_tick ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE "
		   "DO BEGIN INSERT INTO log (msg) VALUES ('tick'); END");
}

static char *dump_objects(struct db *db, const char *schema, const char *const *tables)
{
	static char path[512];
	struct ms_err e;
	char *sql;
	FILE *f = open_dump(path, sizeof(path), "obj");

	for (const char *const *t = tables; *t; t++)
		dump_table(db, f, schema, *t, 0);
	for (const char *const *t = tables; *t; t++) {
		if (schema_table_triggers(db, schema, *t, &sql, &e))
			fail_msg("schema_table_triggers: %s", e.msg);
		put(f, sql);
		free(sql);
	}
	if (schema_routines(db, schema, &sql, &e))
		fail_msg("schema_routines: %s", e.msg);
	put(f, sql);
	free(sql);
	if (schema_views(db, schema, &sql, &e))
		fail_msg("schema_views: %s", e.msg);
	put(f, sql);
	free(sql);
	if (schema_events(db, schema, &sql, &e))
		fail_msg("schema_events: %s", e.msg);
	put(f, sql);
	free(sql);
	put(f, rowfmt_file_footer());
	assert_int_equal(fclose(f), 0);
	return path;
}

static void assert_value(MYSQL *m, const char *expected, const char *sql)
{
	char *v = it_value(m, "%s", sql);
	if (!v || strcmp(v, expected))
		fail_msg("%s: got '%s', expected '%s'", sql, v ? v : "NULL", expected);
	free(v);
}

/* Tables, data, triggers, routines, views and an event go into a database
 * of another name and work there, even once the original is gone. */
static void test_definitions_restore_into_another_database_and_work(void **state)
{
	static const char *const tables[] = { "child", "log", "t", NULL };
	MYSQL *m = it_connect();
	struct db db;
	struct ms_err e;
	char *path, *sql;

	(void)state;
	create_objects(m);
	dump_open(&db);

	if (schema_create_database(&db, OBJ, &sql, &e))
		fail_msg("schema_create_database: %s", e.msg);
	assert_string_equal(sql, "CREATE DATABASE `" OBJ "` /*!40100 DEFAULT CHARACTER SET latin1 COLLATE latin1_german1_ci */");
	free(sql);
	if (schema_show_create_table(&db, OBJ, "t", &sql, &e))
		fail_msg("schema_show_create_table: %s", e.msg);
	assert_non_null(strstr(sql, "AUTO_INCREMENT=4"));
	assert_true(strncmp(sql, "CREATE TABLE `t` (", 18) == 0);
	free(sql);
	assert_int_equal(schema_show_create_table(&db, OBJ, "a_top", &sql, &e), -1);
	assert_null(sql);
	assert_int_equal(schema_table_triggers(&db, OBJ, "log", &sql, &e), 0);
	assert_null(sql); /* no trigger: NULL */

	path = dump_objects(&db, OBJ, tables);
	db_close(&db);

	it_exec(m, "DROP DATABASE IF EXISTS " OBJ2);
	it_exec(m, "CREATE DATABASE " OBJ2 " CHARACTER SET latin1 COLLATE latin1_german1_ci");
	restore_with_client(path, OBJ2);
	assert_same_table(m, OBJ, OBJ2, "t");
	/* The copy must not lean on the original. */
	it_exec(m, "DROP DATABASE " OBJ);
	it_exec(m, "USE " OBJ2);

	/* Views in dependency order, reading this database's tables. */
	assert_value(m, "6", "SELECT total FROM a_top");
	assert_value(m, "tag2", "SELECT tag FROM a_top"); /* f_tag kept PIPES_AS_CONCAT */
	assert_value(m, "42", "SELECT f_double(21)");
	/* Procedure, and both triggers in their original order. */
	it_exec(m, "CALL p_add(5)");
	assert_value(m, "first;;note:5", "SELECT note FROM t WHERE v = 5");
	assert_value(m, "inserted 4", "SELECT msg FROM log ORDER BY id DESC LIMIT 1");
	assert_value(m, "t_first,t_note", "SELECT GROUP_CONCAT(TRIGGER_NAME ORDER BY ACTION_ORDER) "
					    "FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '" OBJ2 "' "
					    "AND ACTION_TIMING = 'BEFORE'");
	assert_value(m, "16", "SELECT total FROM a_top");
	assert_value(m, "2", "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '" OBJ2 "' "
			     "AND ROUTINE_TYPE = 'PROCEDURE'");
	/* The event, still disabled, on its schedule. */
	assert_value(m, "DISABLED 2030-01-01 00:00:00", "SELECT CONCAT(STATUS, ' ', STARTS) FROM "
							  "information_schema.EVENTS WHERE EVENT_SCHEMA = '" OBJ2 "'");
	assert_value(m, "PIPES_AS_CONCAT", "SELECT SQL_MODE FROM information_schema.ROUTINES "
					   "WHERE ROUTINE_SCHEMA = '" OBJ2 "' AND ROUTINE_NAME = 'f_tag'");
	it_exec(m, "DROP DATABASE " OBJ2);
	unlink(path);
	mysql_close(m);
}

/* The restore runs as root; the objects' definer no longer exists. Records
 * what the server does (see schema.h): the CREATEs succeed, using the
 * objects fails with error 1449 until the account is back. */
static void test_objects_of_a_definer_that_is_gone_restore_but_fail_when_used(void **state)
{
	static const char *const tables[] = { "t", NULL };
	MYSQL *m = it_connect();
	struct db db;
	char *path;

	(void)state;
	it_exec(m, "DROP DATABASE IF EXISTS " OBJ);
	it_exec(m, "CREATE DATABASE " OBJ);
	it_exec(m, "DROP USER IF EXISTS 'rf_gone'@'localhost'");
	it_exec(m, "CREATE USER 'rf_gone'@'localhost'");
	it_exec(m, "GRANT ALL ON " OBJ ".* TO 'rf_gone'@'localhost'");
	it_exec(m, "CREATE TABLE " OBJ ".t (id INT PRIMARY KEY, v INT)");
	it_exec(m, "INSERT INTO " OBJ ".t VALUES (1, 1)");
	it_exec(m, "USE " OBJ);
	it_exec(m, "CREATE DEFINER = 'rf_gone'@'localhost' VIEW v AS SELECT * FROM t");
	it_exec(m, "CREATE DEFINER = 'rf_gone'@'localhost' TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.v = 7");
	it_exec(m, "CREATE DEFINER = 'rf_gone'@'localhost' PROCEDURE p() SELECT 1");
	dump_open(&db);
	path = dump_objects(&db, OBJ, tables);
	db_close(&db);
	it_exec(m, "DROP USER 'rf_gone'@'localhost'");

	it_exec(m, "DROP DATABASE IF EXISTS " OBJ2);
	it_exec(m, "CREATE DATABASE " OBJ2);
	restore_with_client(path, OBJ2); /* succeeds */
	assert_value(m, "1", "SELECT COUNT(*) FROM " OBJ2 ".t");
	assert_value(m, "rf_gone@localhost", "SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = '" OBJ2 "'");
	assert_int_not_equal(mysql_query(m, "SELECT * FROM " OBJ2 ".v"), 0);
	assert_int_equal(mysql_errno(m), 1449); /* ER_NO_SUCH_USER */
	assert_int_not_equal(mysql_query(m, "INSERT INTO " OBJ2 ".t VALUES (2, 2)"), 0);
	assert_int_equal(mysql_errno(m), 1449);
	assert_int_not_equal(mysql_query(m, "CALL " OBJ2 ".p()"), 0);
	assert_int_equal(mysql_errno(m), 1449);
	it_exec(m, "DROP DATABASE " OBJ2);
	it_exec(m, "DROP DATABASE " OBJ);
	unlink(path);
	mysql_close(m);
}

/* A DEFAULT that uses a sequence of the table's own database is written
 * unqualified, so a copy under another name uses its own; one of another
 * database and text in quotes stay as they are. schema_sequences writes
 * the sequences the filter chooses, and nothing when it chooses none. */
static void test_sequences_of_the_own_database_are_unqualified_and_filtered(void **state)
{
	char *excl[] = { OBJ ".skipped" };
	struct dump_filter all = { 0 }, some = { NULL, 0, NULL, 0, excl, 1 };
	MYSQL *m = it_connect();
	struct db db;
	struct ms_err e;
	char *sql;

	(void)state;
	it_exec(m, "DROP DATABASE IF EXISTS " OBJ);
	it_exec(m, "DROP DATABASE IF EXISTS " OBJ2);
	it_exec(m, "CREATE DATABASE " OBJ);
	it_exec(m, "CREATE DATABASE " OBJ2);
	it_exec(m, "CREATE SEQUENCE " OBJ2 ".other");
	dump_open(&db);
	assert_int_equal(schema_sequences(&db, OBJ, &all, &sql, &e), 0);
	assert_null(sql);
	it_exec(m, "CREATE SEQUENCE " OBJ ".own");
	it_exec(m, "CREATE SEQUENCE " OBJ ".skipped");
	it_exec(m, "CREATE TABLE " OBJ ".t (a BIGINT DEFAULT NEXT VALUE FOR " OBJ ".own, "
		   "b BIGINT DEFAULT PREVIOUS VALUE FOR " OBJ ".own, c BIGINT DEFAULT NEXT VALUE FOR " OBJ2 ".other, "
		   "d VARCHAR(60) DEFAULT 'nextval(`" OBJ "`.x' COMMENT 'lastval(`" OBJ "`.`own`)')");
	if (schema_show_create_table(&db, OBJ, "t", &sql, &e))
		fail_msg("schema_show_create_table: %s", e.msg);
	assert_non_null(strstr(sql, "DEFAULT nextval(`own`),"));
	assert_non_null(strstr(sql, "DEFAULT lastval(`own`),"));
	assert_non_null(strstr(sql, "DEFAULT nextval(`" OBJ2 "`.`other`),"));
	assert_non_null(strstr(sql, "DEFAULT 'nextval(`" OBJ "`.x' COMMENT 'lastval(`" OBJ "`.`own`)'"));
	free(sql);
	if (schema_sequences(&db, OBJ, &some, &sql, &e))
		fail_msg("schema_sequences: %s", e.msg);
	assert_non_null(strstr(sql, "CREATE SEQUENCE `own` start with 1 "));
	assert_non_null(strstr(sql, "DO SETVAL(`own`, 1, 0, 0);"));
	assert_null(strstr(sql, "skipped"));
	free(sql);
	db_close(&db);
	it_exec(m, "DROP DATABASE " OBJ);
	it_exec(m, "DROP DATABASE " OBJ2);
	mysql_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_columns_are_classified_from_information_schema),
		cmocka_unit_test(test_every_type_restores_bit_identically_with_the_mariadb_client),
		cmocka_unit_test(test_random_float_and_double_bits_survive_the_text_form),
		cmocka_unit_test(test_bit_values_restore_the_same_from_hex_and_binary_literals),
		cmocka_unit_test(test_definitions_restore_into_another_database_and_work),
		cmocka_unit_test(test_objects_of_a_definer_that_is_gone_restore_but_fail_when_used),
		cmocka_unit_test(test_sequences_of_the_own_database_are_unqualified_and_filtered),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
