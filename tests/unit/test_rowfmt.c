/* Unit tests for rowfmt: how values are escaped and encoded, how INSERT
 * statements are cut, and what the data file header sets. No server. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump/rowfmt.h"
#include "util/buf.h"

/* ---- helpers ------------------------------------------------------------ */

struct sink {
	struct buf out;
	int calls;
	int fail_at; /* call number that fails; 0: never */
};

static int sink_collect(void *ctx, const void *data, size_t len, struct ms_err *e)
{
	struct sink *s = ctx;

	s->calls++;
	if (s->fail_at && s->calls >= s->fail_at)
		return ms_fail(e, MS_IO, "disk full");
	buf_add(&s->out, data, len);
	return 0;
}

/* A table as rowfmt_table_load would build it, without a server. */
static struct rowfmt_column demo_cols[] = {
	{ "id", ROWFMT_NUMBER, NULL },
	{ "s", ROWFMT_STRING, NULL },
	{ "b", ROWFMT_BINARY, NULL },
	{ "g", ROWFMT_SKIP, NULL },
	{ "flag", ROWFMT_BIT, NULL },
	{ "f", ROWFMT_FLOAT, NULL },
	{ "jp", ROWFMT_CHARSET_HEX, "cp932" },
};
static const struct rowfmt_table demo = { "shop", "or`ders", demo_cols, 7, 6 };

/* Writes rows of (id, s) into a two-column table. */
static struct rowfmt_column pair_cols[] = {
	{ "id", ROWFMT_NUMBER, NULL },
	{ "s", ROWFMT_STRING, NULL },
};
static const struct rowfmt_table pair = { "db", "t", pair_cols, 2, 2 };

static char *write_rows(const struct rowfmt_table *t, size_t max, char ***rows, unsigned long **lens,
			size_t n, struct sink *s, unsigned long long *count)
{
	struct rowfmt_writer *w;
	struct ms_err e;

	assert_int_equal(rowfmt_writer_begin(&w, t, max, sink_collect, s, &e), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(rowfmt_writer_row(w, rows[i], lens[i], &e), 0);
	assert_int_equal(rowfmt_writer_end(w, count, &e), 0);
	return s->out.data ? s->out.data : "";
}

static size_t count_row_lines(const char *text)
{
	size_t n = 0;

	for (const char *p = text; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
		if (*p == '(')
			n++;
	return n;
}

/* ---- escaping ----------------------------------------------------------- */

static void test_escape_every_special_byte_like_the_connector(void **state)
{
	const char in[] = { '\0', '\n', '\r', '\\', '\'', '"', '\032', 'a' };
	char out[2 * sizeof(in)];
	size_t n;

	(void)state;
	n = rowfmt_escape(out, in, sizeof(in));
	assert_int_equal(n, 15);
	assert_memory_equal(out, "\\0\\n\\r\\\\\\'\\\"\\Za", 15);
}

/* The 16-bytes-at-a-time path against the connector's own escaping, on
 * every length up to 80 with special bytes dense and sparse, each into a
 * buffer of exactly 2*len (ASan catches a store past it). */
static void test_escape_matches_the_connector_at_every_length_and_position(void **state)
{
	static const char specials[] = { '\0', '\n', '\r', '\\', '\'', '"', '\032' };
	unsigned seed = 12345;
	MYSQL *m = mysql_init(NULL); /* no connection: its default character set */

	(void)state;
	assert_non_null(m);
	for (size_t len = 0; len <= 80; len++) {
		for (int density = 0; density < 3; density++) {
			char *in = malloc(len + 1), *out = malloc(2 * len + 1), *want = malloc(2 * len + 1);
			size_t n;
			unsigned long w;

			for (size_t i = 0; i < len; i++) {
				seed = seed * 1103515245u + 12345u;
				unsigned r = (seed >> 16) & 0xff;
				/* density 0: none, 1: about 1 in 16, 2: about 1 in 2 */
				bool special = density == 2 ? (r & 1) : density == 1 ? (r % 16 == 0) : false;
				in[i] = special ? specials[r % sizeof(specials)] : (char)('a' + r % 26);
			}
			n = rowfmt_escape(out, in, len);
			w = mysql_real_escape_string(m, want, in, (unsigned long)len);
			assert_int_equal(n, (size_t)w);
			assert_memory_equal(out, want, n);
			free(in);
			free(out);
			free(want);
		}
	}
	mysql_close(m);
}

static void test_escape_passes_every_other_byte_through(void **state)
{
	char in[256], out[512];
	size_t n, j = 0;

	(void)state;
	for (int i = 0; i < 256; i++)
		in[i] = (char)i;
	n = rowfmt_escape(out, in, sizeof(in));
	assert_int_equal(n, 256 + 7);
	for (int i = 0; i < 256; i++) {
		if (strchr("\n\r\\'\"\032", i) && i != 0) {
			assert_int_equal(out[j], '\\');
			j += 2;
		} else if (i == 0) {
			assert_memory_equal(out + j, "\\0", 2);
			j += 2;
		} else {
			assert_int_equal((unsigned char)out[j], i);
			j++;
		}
	}
	assert_null(memchr(out, '\n', n));
	assert_null(memchr(out, '\r', n));
}

/* ---- values ------------------------------------------------------------- */

static void test_each_kind_is_written_in_its_restorable_form(void **state)
{
	static char blob[] = { 0x00, (char)0xff, 0x00, 0x0a };
	static char bit64[] = { (char)0x80, 0, 0, 0, 0, 0, 0, 1 };
	static char jp[] = { (char)0xed, 0x40 };
	char *row[] = { "-42", "it's\n\"ok\"\\\032", blob, bit64, "1.1754943508222875e-38", jp };
	unsigned long len[] = { 3, 11, 4, 8, 22, 2 };
	char **rows[] = { row };
	unsigned long *lens[] = { len };
	struct sink s = { BUF_INIT, 0, 0 };
	unsigned long long n = 0;
	const char *out;

	(void)state;
	out = write_rows(&demo, 0, rows, lens, 1, &s, &n);
	assert_string_equal(out,
			    "INSERT INTO `or``ders` (`id`,`s`,`b`,`flag`,`f`,`jp`) VALUES\n"
			    "(-42,'it\\'s\\n\\\"ok\\\"\\\\\\Z',0x00FF000A,0x8000000000000001,"
			    "1.1754943508222875e-38,_cp932 0xED40);\n");
	assert_int_equal(n, 1);
	buf_release(&s.out);
}

static void test_null_in_every_column_is_written_as_null(void **state)
{
	char *row[] = { NULL, NULL, NULL, NULL, NULL, NULL };
	unsigned long len[] = { 0, 0, 0, 0, 0, 0 };
	char **rows[] = { row };
	unsigned long *lens[] = { len };
	struct sink s = { BUF_INIT, 0, 0 };

	(void)state;
	assert_non_null(strstr(write_rows(&demo, 0, rows, lens, 1, &s, NULL),
			       "\n(NULL,NULL,NULL,NULL,NULL,NULL);\n"));
	buf_release(&s.out);
}

static void test_empty_values_are_empty_strings_not_bare_0x(void **state)
{
	/* An empty BLOB, and an empty string in a cp932 column: "0x" alone and
	 * "_cp932 0x" are not valid SQL. */
	char *row[] = { "1", "", "", "\x01", "0", "" };
	unsigned long len[] = { 1, 0, 0, 1, 1, 0 };
	char **rows[] = { row };
	unsigned long *lens[] = { len };
	struct sink s = { BUF_INIT, 0, 0 };

	(void)state;
	assert_non_null(strstr(write_rows(&demo, 0, rows, lens, 1, &s, NULL), "\n(1,'','',0x01,0,'');\n"));
	buf_release(&s.out);
}

static void test_number_text_that_is_not_a_number_is_quoted(void **state)
{
	/* A server surprise must not put a raw newline or quote in the file. */
	char *row[] = { "1\n2'", "x" };
	unsigned long len[] = { 4, 1 };
	char **rows[] = { row };
	unsigned long *lens[] = { len };
	struct sink s = { BUF_INIT, 0, 0 };

	(void)state;
	assert_non_null(strstr(write_rows(&pair, 0, rows, lens, 1, &s, NULL), "\n('1\\n2\\'','x');\n"));
	buf_release(&s.out);
}

/* ---- statements --------------------------------------------------------- */

static void test_statements_are_cut_at_max_bytes_one_row_per_line(void **state)
{
	enum { N = 500 };
	char ***rows = calloc(N, sizeof(*rows));
	unsigned long **lens = calloc(N, sizeof(*lens));
	char ids[N][16], texts[N][40];
	struct sink s = { BUF_INIT, 0, 0 };
	unsigned long long n = 0;
	size_t max = 300, statements = 0, row_lines = 0;
	const char *out, *p;

	(void)state;
	for (size_t i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%zu", i);
		/* newlines in values must not make extra lines */
		snprintf(texts[i], sizeof(texts[i]), "row\n%zu\r(x", i * 7919);
		rows[i] = calloc(2, sizeof(char *));
		lens[i] = calloc(2, sizeof(unsigned long));
		rows[i][0] = ids[i];
		rows[i][1] = texts[i];
		lens[i][0] = strlen(ids[i]);
		lens[i][1] = strlen(texts[i]);
	}
	out = write_rows(&pair, max, rows, lens, N, &s, &n);
	assert_int_equal(n, N);
	/* Every statement: prefix, rows joined by ",\n", ";\n", within max. */
	for (p = out; *p;) {
		const char *end = strstr(p, ";\n");
		assert_non_null(end);
		end += 2;
		assert_true((size_t)(end - p) <= max);
		assert_memory_equal(p, "INSERT INTO `t` (`id`,`s`) VALUES\n", 34);
		statements++;
		p = end;
	}
	assert_true(statements > 10);
	/* One sink call per statement when no statement is oversized. */
	assert_int_equal((size_t)s.calls, statements);
	row_lines = count_row_lines(out);
	assert_int_equal(row_lines, N);
	for (p = out; (p = strchr(p, '\n')); p++)
		assert_true(p[1] == '\0' || p[1] == '(' || p[1] == 'I');
	for (size_t i = 0; i < N; i++) {
		free(rows[i]);
		free(lens[i]);
	}
	free(rows);
	free(lens);
	buf_release(&s.out);
}

/* Statements are cut exactly where the next row would not fit: the size
 * the writer predicts for each kind of value is the size it writes. */
static void test_statements_are_cut_exactly_where_the_next_row_would_not_fit(void **state)
{
	static char bin[] = { 0x00, 0x0a, (char)0xff };
	static char jp[] = { (char)0x83, 0x41 };
	char *r1[] = { "7", "a'b\n\0", bin, "\x01", "-1e-60", jp };
	char *r2[] = { NULL, "", "", "\xff", "3.5", "" };
	char *r3[] = { "-12345678901234567890", "\"\032\r", bin, "\x00", NULL, jp };
	unsigned long l1[] = { 1, 6, 3, 1, 6, 2 }, l2[] = { 0, 0, 0, 1, 3, 0 }, l3[] = { 21, 3, 3, 1, 0, 2 };
	char **rows[30];
	unsigned long *lens[30];

	(void)state;
	for (int i = 0; i < 30; i++) {
		rows[i] = i % 3 == 0 ? r1 : i % 3 == 1 ? r2 : r3;
		lens[i] = i % 3 == 0 ? l1 : i % 3 == 1 ? l2 : l3;
	}
	for (size_t max = 60; max < 400; max += 7) {
		struct sink s = { BUF_INIT, 0, 0 };
		unsigned long long n;
		const char *out = write_rows(&demo, max, rows, lens, 30, &s, &n), *p = out;

		assert_int_equal(n, 30);
		assert_int_equal(count_row_lines(out), 30);
		while (*p) {
			const char *end = strstr(p, ");\n") + 3, *next_row, *next_end;
			size_t len = (size_t)(end - p);
			bool one_row = strstr(p, "),\n(") == NULL || strstr(p, "),\n(") > end;

			assert_true(len <= max || one_row);
			if (*end) {
				/* The next statement's first row did not fit here: this
				 * statement without ";\n", ",\n", the row (its line less
				 * the "," or ";" after it), ";\n". */
				next_row = strchr(end, '\n') + 1;
				next_end = strchr(next_row, '\n');
				assert_true(len - 2 + 2 + (size_t)(next_end - next_row - 1) + 2 > max);
			}
			p = end;
		}
		buf_release(&s.out);
	}
}

static void test_a_row_bigger_than_max_gets_its_own_statement_in_pieces(void **state)
{
	size_t big = 300000;
	char *blob = malloc(big);
	static struct rowfmt_column cols[] = { { "id", ROWFMT_NUMBER, NULL }, { "b", ROWFMT_BINARY, NULL } };
	static const struct rowfmt_table t = { "db", "t", cols, 2, 2 };
	char *r1[] = { "1", "x" }, *r2[] = { "2", blob }, *r3[] = { "3", "y" };
	unsigned long l1[] = { 1, 1 }, l2[] = { 1, (unsigned long)big }, l3[] = { 1, 1 };
	char **rows[] = { r1, r2, r3 };
	unsigned long *lens[] = { l1, l2, l3 };
	struct sink s = { BUF_INIT, 0, 0 };
	unsigned long long n = 0;
	const char *out, *second;

	(void)state;
	memset(blob, 0xab, big);
	out = write_rows(&t, 4096, rows, lens, 3, &s, &n);
	assert_int_equal(n, 3);
	assert_true(s.calls > 3); /* the big statement came in pieces */
	assert_true(strncmp(out, "INSERT INTO `t` (`id`,`b`) VALUES\n(1,0x78);\n", 44) == 0);
	second = out + 44;
	assert_true(strncmp(second, "INSERT INTO `t` (`id`,`b`) VALUES\n(2,0xABAB", 43) == 0);
	assert_int_equal(strlen(second), 34 + 3 + 2 + 2 * big + 3 + 44);
	assert_string_equal(second + 34 + 3 + 2 + 2 * big, ");\nINSERT INTO `t` (`id`,`b`) VALUES\n(3,0x79);\n");
	assert_int_equal(count_row_lines(out), 3);
	free(blob);
	buf_release(&s.out);
}

static void test_no_rows_write_nothing(void **state)
{
	struct sink s = { BUF_INIT, 0, 0 };
	unsigned long long n = 99;

	(void)state;
	assert_string_equal(write_rows(&pair, 0, NULL, NULL, 0, &s, &n), "");
	assert_int_equal(n, 0);
	assert_int_equal(s.calls, 0);
	buf_release(&s.out);
}

static void test_sink_failure_is_reported_and_end_still_frees(void **state)
{
	char *row[] = { "1", "x" };
	unsigned long len[] = { 1, 1 };
	struct sink s = { BUF_INIT, 0, 1 };
	struct rowfmt_writer *w;
	struct ms_err e;
	int rc = 0;

	(void)state;
	assert_int_equal(rowfmt_writer_begin(&w, &pair, 40, sink_collect, &s, &e), 0);
	for (int i = 0; i < 10 && rc == 0; i++)
		rc = rowfmt_writer_row(w, row, len, &e);
	assert_int_equal(rc, -1);
	assert_int_equal(e.status, MS_IO);
	assert_string_equal(e.msg, "disk full");
	assert_int_equal(rowfmt_writer_end(w, NULL, &e), -1); /* ASan: no leak */
	buf_release(&s.out);
}

/* ---- columns and SELECT ------------------------------------------------- */

static void test_generated_columns_are_neither_selected_nor_inserted(void **state)
{
	char *sql = rowfmt_select_sql(&demo, "`id` >= 10 AND `id` < 20");
	struct sink s = { BUF_INIT, 0, 0 };
	char *row[] = { "1", "a", "b", "\x01", "0", "c" };
	unsigned long len[] = { 1, 1, 1, 1, 1, 1 };
	char **rows[] = { row };
	unsigned long *lens[] = { len };

	(void)state;
	assert_string_equal(sql,
			    "SELECT `id`, `s`, `b`, `flag`, "
			    "CASE WHEN `f` = 0 AND ATAN2(`f`, -1) < 0 THEN -1e-60 ELSE CAST(`f` AS DOUBLE) END AS `f`, "
			    "CAST(`jp` AS BINARY) AS `jp` FROM `shop`.`or``ders` WHERE `id` >= 10 AND `id` < 20");
	assert_null(strstr(sql, "`g`"));
	assert_null(strstr(write_rows(&demo, 0, rows, lens, 1, &s, NULL), "`g`"));
	free(sql);
	buf_release(&s.out);

	sql = rowfmt_select_sql(&pair, NULL);
	assert_string_equal(sql, "SELECT `id`, `s` FROM `db`.`t`");
	free(sql);
}

static void test_types_are_classified_for_exact_restore(void **state)
{
	(void)state;
	assert_int_equal(rowfmt_classify("bigint", NULL), ROWFMT_NUMBER);
	assert_int_equal(rowfmt_classify("decimal", NULL), ROWFMT_NUMBER);
	assert_int_equal(rowfmt_classify("double", NULL), ROWFMT_NUMBER);
	assert_int_equal(rowfmt_classify("float", NULL), ROWFMT_FLOAT);
	assert_int_equal(rowfmt_classify("bit", NULL), ROWFMT_BIT);
	assert_int_equal(rowfmt_classify("varbinary", NULL), ROWFMT_BINARY);
	assert_int_equal(rowfmt_classify("longblob", NULL), ROWFMT_BINARY);
	assert_int_equal(rowfmt_classify("POINT", NULL), ROWFMT_BINARY);
	assert_int_equal(rowfmt_classify("geometry", NULL), ROWFMT_BINARY);
	assert_int_equal(rowfmt_classify("varchar", "utf8mb4"), ROWFMT_STRING);
	assert_int_equal(rowfmt_classify("char", "latin1"), ROWFMT_STRING);
	assert_int_equal(rowfmt_classify("text", "utf8mb3"), ROWFMT_STRING);
	assert_int_equal(rowfmt_classify("longtext", "utf8mb4"), ROWFMT_STRING); /* JSON */
	assert_int_equal(rowfmt_classify("enum", "ascii"), ROWFMT_STRING);
	assert_int_equal(rowfmt_classify("datetime", NULL), ROWFMT_STRING);
	assert_int_equal(rowfmt_classify("year", NULL), ROWFMT_STRING);
	assert_int_equal(rowfmt_classify("inet6", NULL), ROWFMT_STRING);
	assert_int_equal(rowfmt_classify("uuid", NULL), ROWFMT_STRING);
	assert_int_equal(rowfmt_classify("varchar", "cp932"), ROWFMT_CHARSET_HEX);
	assert_int_equal(rowfmt_classify("set", "big5"), ROWFMT_CHARSET_HEX);
	assert_int_equal(rowfmt_classify("enum", "binary"), ROWFMT_BINARY);
}

/* ---- file header and footer --------------------------------------------- */

static void test_header_sets_what_an_exact_restore_needs_and_footer_undoes_it(void **state)
{
	const char *h = rowfmt_file_header(), *f = rowfmt_file_footer();

	(void)state;
	assert_non_null(strstr(h, "SET NAMES utf8mb4;"));
	assert_non_null(strstr(h, "TIME_ZONE='+00:00'"));
	assert_non_null(strstr(h, "SQL_MODE='NO_AUTO_VALUE_ON_ZERO'"));
	assert_non_null(strstr(h, "UNIQUE_CHECKS=0"));
	assert_non_null(strstr(h, "FOREIGN_KEY_CHECKS=0"));
	assert_non_null(strstr(h, "CHECK_CONSTRAINT_CHECKS=0"));
	assert_non_null(strstr(h, "UTC"));
	assert_non_null(strstr(f, "SQL_MODE=@MDLSAFE_OLD_SQL_MODE"));
	assert_non_null(strstr(f, "TIME_ZONE=@MDLSAFE_OLD_TIME_ZONE"));
	assert_non_null(strstr(f, "FOREIGN_KEY_CHECKS=@MDLSAFE_OLD_FOREIGN_KEY_CHECKS"));
	assert_non_null(strstr(f, "UNIQUE_CHECKS=@MDLSAFE_OLD_UNIQUE_CHECKS"));
	assert_non_null(strstr(f, "CHARACTER_SET_CLIENT=@MDLSAFE_OLD_CHARACTER_SET_CLIENT"));
	/* Row counting must see only rows. */
	assert_int_equal(count_row_lines(h), 0);
	assert_int_equal(count_row_lines(f), 0);
	assert_int_equal(h[strlen(h) - 1], '\n');
	assert_int_equal(f[strlen(f) - 1], '\n');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_every_special_byte_like_the_connector),
		cmocka_unit_test(test_escape_passes_every_other_byte_through),
		cmocka_unit_test(test_escape_matches_the_connector_at_every_length_and_position),
		cmocka_unit_test(test_each_kind_is_written_in_its_restorable_form),
		cmocka_unit_test(test_null_in_every_column_is_written_as_null),
		cmocka_unit_test(test_empty_values_are_empty_strings_not_bare_0x),
		cmocka_unit_test(test_number_text_that_is_not_a_number_is_quoted),
		cmocka_unit_test(test_statements_are_cut_at_max_bytes_one_row_per_line),
		cmocka_unit_test(test_statements_are_cut_exactly_where_the_next_row_would_not_fit),
		cmocka_unit_test(test_a_row_bigger_than_max_gets_its_own_statement_in_pieces),
		cmocka_unit_test(test_no_rows_write_nothing),
		cmocka_unit_test(test_sink_failure_is_reported_and_end_still_frees),
		cmocka_unit_test(test_generated_columns_are_neither_selected_nor_inserted),
		cmocka_unit_test(test_types_are_classified_for_exact_restore),
		cmocka_unit_test(test_header_sets_what_an_exact_restore_needs_and_footer_undoes_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
