/* Unit tests for rowscan: on data files the row writer produced, with names
 * and values chosen to break line-based reading, it cuts the statements
 * sqlsplit cuts and counts the rows the writer wrote, whatever the pieces
 * the file arrives in. No server. */

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
#include "sql/sqlsplit.h"
#include "store/rowscan.h"
#include "util/buf.h"

static int sink_collect(void *ctx, const void *data, size_t len, struct ms_err *e)
{
	(void)e;
	buf_add(ctx, data, len);
	return 0;
}

/* Names that end a line-based statement or count as a row when read line by
 * line, and a generated column the writer leaves out. */
static struct rowfmt_column hostile_cols[] = {
	{ "id", ROWFMT_NUMBER, NULL },
	{ "semi;\ncolon", ROWFMT_STRING, NULL },
	{ "gen;\n", ROWFMT_SKIP, NULL },
	{ "paren\n(1,2);\n", ROWFMT_STRING, NULL },
	{ "back`tick\n", ROWFMT_BINARY, NULL },
};
static const struct rowfmt_table hostile = { "db", "t;\n(x`\n", hostile_cols, 5, 4 };

/* A whole data file as backup writes it: header, rows of hostile's shape in
 * statements of at most max bytes, footer. *rows gets the writer's count. */
static char *data_file(size_t n_rows, size_t max, unsigned long long *rows)
{
	static const char *const strings[] = {
		"plain", "semi;\nnext", "(", "\n(", "'quote'", "`tick`", "back\\slash", ";", "",
	};
	struct buf out = BUF_INIT;
	struct rowfmt_writer *w;
	struct ms_err e;

	buf_adds(&out, rowfmt_file_header());
	assert_int_equal(rowfmt_writer_begin(&w, &hostile, max, sink_collect, &out, &e), 0);
	for (size_t i = 0; i < n_rows; i++) {
		char id[24];
		const char *s1 = strings[i % 9], *s2 = strings[(i * 7 + 3) % 9];
		char *row[4] = { id, (char *)s1, (char *)s2, (char *)s1 };
		unsigned long lens[4];

		snprintf(id, sizeof(id), "%zu", i);
		lens[0] = strlen(id);
		lens[1] = strlen(s1);
		lens[2] = strlen(s2);
		lens[3] = strlen(s1);
		if (i % 5 == 4)
			row[2] = NULL; /* NULL */
		assert_int_equal(rowfmt_writer_row(w, row, lens, &e), 0);
	}
	assert_int_equal(rowfmt_writer_end(w, rows, &e), 0);
	buf_adds(&out, rowfmt_file_footer());
	assert_false(out.failed);
	return buf_detach(&out);
}

/* A statement as sqlsplit hands it out: without the ';' that ends it and
 * the whitespace around. */
static void add_trimmed(struct buf *list, const char *p, size_t n)
{
	while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' '))
		n--;
	if (n && p[n - 1] == ';')
		n--;
	while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' '))
		n--;
	buf_add(list, p, n);
	buf_addch(list, '\0');
}

static int collect_split(void *ctx, const char *stmt, size_t len, unsigned line)
{
	(void)line;
	add_trimmed(ctx, stmt, len);
	return 0;
}

/* Feeds text to rowscan in pieces of `piece` bytes, as zstd hands them out,
 * keeping the bytes of the open statement as the loader does. */
static unsigned long long scan_in_pieces(const char *text, size_t len, size_t piece, struct buf *list)
{
	struct rowscan s;
	struct buf open = BUF_INIT;

	rowscan_init(&s);
	for (size_t at = 0; at < len; at += piece) {
		size_t n = len - at < piece ? len - at : piece, used;
		const char *p = text + at;

		while (n) {
			enum rowscan_event ev = rowscan_next(&s, p, n, &used);

			assert_true(used > 0 && used <= n);
			buf_add(&open, p, used);
			p += used;
			n -= used;
			if (ev == ROWSCAN_STATEMENT)
				add_trimmed(list, open.data, open.len);
			if (ev != ROWSCAN_MORE)
				buf_reset(&open);
		}
	}
	/* Nothing is left over: the last statement ended with its newline. */
	assert_int_equal(open.len, 0);
	buf_release(&open);
	return s.rows;
}

static void test_statements_are_the_ones_sqlsplit_cuts_in_any_pieces(void **state)
{
	static const size_t pieces[] = { 1, 2, 3, 7, 64, 4096, (size_t)-1 };
	unsigned long long written;
	char *text = data_file(200, 600, &written);
	size_t len = strlen(text);
	struct buf want = BUF_INIT;

	(void)state;
	assert_int_equal(written, 200);
	assert_int_equal(sqlsplit_each(text, len, collect_split, &want), 0);
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		struct buf got = BUF_INIT;
		unsigned long long rows = scan_in_pieces(text, len, pieces[i] < len ? pieces[i] : len, &got);

		if (got.len != want.len || memcmp(got.data, want.data, want.len))
			fail_msg("pieces of %zu bytes: the statements differ from sqlsplit's", pieces[i]);
		if (rows != written)
			fail_msg("pieces of %zu bytes: %llu rows, the writer wrote %llu", pieces[i], rows, written);
		buf_release(&got);
	}
	/* The names were there to break it: the heads hold ";\n" and "\n(". */
	assert_non_null(strstr(text, "INSERT INTO `t;\n(x``\n` (`id`,`semi;\ncolon`,`paren\n(1,2);\n`"));
	buf_release(&want);
	free(text);
}

static void test_count_is_the_same_in_one_piece_or_many(void **state)
{
	unsigned long long written;
	char *text = data_file(1000, 1 << 20, &written);
	size_t len = strlen(text);
	struct rowscan s;
	unsigned long long total = 0;

	(void)state;
	rowscan_init(&s);
	assert_int_equal(rowscan_count(&s, text, len), written);
	rowscan_init(&s);
	for (size_t at = 0; at < len; at += 5)
		total += rowscan_count(&s, text + at, len - at < 5 ? len - at : 5);
	assert_int_equal(total, written);
	assert_int_equal(s.rows, written);
	free(text);
}

/* Lines that start with '(' but are not VALUES tuples: in a name, in a
 * comment, in a statement that is not an INSERT. */
static void test_only_tuples_are_rows(void **state)
{
	static const char text[] = "-- (a comment\n"
				   "\n"
				   "SET @x = '\n(';\n"
				   "INSERT INTO `a\n(b;\n` (`c\n(`) VALUES\n"
				   "(1),\n"
				   "(2);\n"
				   "SET @y = 1;\n";
	struct rowscan s;

	(void)state;
	rowscan_init(&s);
	assert_int_equal(rowscan_count(&s, text, strlen(text)), 2);
}

/* CRLF line ends, and a short last line without a newline: never a
 * statement end of its own (the loader runs what is left). */
static void test_crlf_and_unfinished_last_line(void **state)
{
	static const char text[] = "SET @a = 1;\r\n"
				   "INSERT INTO `t` VALUES\r\n"
				   "(1),\r\n"
				   "(2);\r\n"
				   "SET @b = 2;";
	struct rowscan s;
	size_t used, at = 0;

	(void)state;
	rowscan_init(&s);
	assert_int_equal(rowscan_next(&s, text, strlen(text), &used), ROWSCAN_STATEMENT);
	at += used;
	assert_int_equal(at, strlen("SET @a = 1;\r\n"));
	assert_int_equal(rowscan_next(&s, text + at, strlen(text) - at, &used), ROWSCAN_STATEMENT);
	at += used;
	assert_memory_equal(text + at, "SET @b", 6);
	assert_int_equal(s.rows, 2);
	assert_int_equal(rowscan_next(&s, text + at, strlen(text) - at, &used), ROWSCAN_MORE);
	assert_int_equal(used, strlen(text) - at);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statements_are_the_ones_sqlsplit_cuts_in_any_pieces),
		cmocka_unit_test(test_count_is_the_same_in_one_piece_or_many),
		cmocka_unit_test(test_only_tuples_are_rows),
		cmocka_unit_test(test_crlf_and_unfinished_last_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
