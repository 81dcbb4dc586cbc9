/* restore_keys_defer(): which indexes of a CREATE TABLE can wait until the
 * rows are loaded, and the statement without them. */
#include "restore/keys.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

static bool starts(const char *p, const char *end, const char *prefix)
{
	size_t n = strlen(prefix);

	return (size_t)(end - p) >= n && !memcmp(p, prefix, n);
}

static bool contains(const char *p, const char *end, const char *needle)
{
	size_t n = strlen(needle);

	for (; (size_t)(end - p) >= n; p++)
		if (!memcmp(p, needle, n))
			return true;
	return false;
}

/*
 * SHOW CREATE TABLE escapes newlines in strings and comments, but a `name`
 * keeps its bytes: "`a\n  KEY x`" is one column, and "`k(`" has no column
 * list. So lines and parentheses are found outside quotes only.
 */

/* The first c in [p, end) outside `...`, '...' and "..." (backslash escapes
 * in the last two), or NULL. */
static const char *find_unquoted(const char *p, const char *end, char c)
{
	char quote = 0;

	for (; p < end; p++) {
		if (quote) {
			if (*p == '\\' && quote != '`' && p + 1 < end)
				p++;
			else if (*p == quote)
				quote = 0;
		} else if (*p == c) {
			return p;
		} else if (*p == '`' || *p == '\'' || *p == '"') {
			quote = *p;
		}
	}
	return NULL;
}

/* The first column of an index line "  PRIMARY KEY (`id`,...": "`id`". */
static bool first_column_is(const char *line, const char *end, const char *col, size_t col_len)
{
	const char *open = find_unquoted(line, end, '(');

	return open && (size_t)(end - open - 1) >= col_len && !memcmp(open + 1, col, col_len) &&
	       (open[1 + col_len] == ',' || open[1 + col_len] == ')' || open[1 + col_len] == '(');
}

char *restore_keys_defer(const char *stmt, size_t len, char **adds)
{
	const char *end = stmt + len, *body, *close, *p;
	const char *auto_col = NULL;
	size_t auto_len = 0;
	bool auto_covered = false, any = false;
	struct buf out = BUF_INIT, keys = BUF_INIT;
	size_t kept = 0;

	*adds = NULL;
	/* The definitions sit between the first "(\n" and the line that
	 * starts with ")", the table options after it. */
	body = find_unquoted(stmt, end, '\n');
	for (close = body; close && close + 1 < end && close[1] != ')';)
		close = find_unquoted(close + 1, end, '\n');
	if (!body || !close || close + 1 >= end || !starts(close + 1, end, ") ENGINE=InnoDB") ||
	    contains(body, close, "FOREIGN KEY"))
		return NULL;
	body++;
	close++;
	/* Pass 1: an AUTO_INCREMENT column must stay indexed by a kept index. */
	for (p = body; p < close;) {
		const char *eol = find_unquoted(p, close, '\n');
		const char *line_end = eol ? eol : close;

		if (starts(p, line_end, "  `")) {
			const char *q = p + 3;
			while (q < line_end && !(q[0] == '`' && (q + 1 >= line_end || q[1] != '`')))
				q += q[0] == '`' ? 2 : 1;
			if (q < line_end && contains(q, line_end, " AUTO_INCREMENT")) {
				auto_col = p + 2;
				auto_len = (size_t)(q + 1 - auto_col);
			}
		}
		if ((starts(p, line_end, "  PRIMARY KEY ") || starts(p, line_end, "  UNIQUE KEY ")) && auto_col &&
		    first_column_is(p, line_end, auto_col, auto_len))
			auto_covered = true;
		if (starts(p, line_end, "  KEY "))
			any = true;
		p = eol ? eol + 1 : close;
	}
	if (!any || (auto_col && !auto_covered))
		return NULL;
	/* Pass 2: copy every line but the plain KEYs, fixing the commas. */
	buf_add(&out, stmt, (size_t)(body - stmt));
	for (p = body; p < close;) {
		const char *eol = find_unquoted(p, close, '\n');
		const char *line_end = eol ? eol : close;
		size_t n = (size_t)(line_end - p);

		if (n && p[n - 1] == ',')
			n--;
		if (starts(p, line_end, "  KEY ")) {
			buf_addf(&keys, "%sADD %.*s", keys.len ? ", " : "", (int)(n - 2), p + 2);
		} else {
			if (kept++)
				buf_adds(&out, ",\n");
			buf_add(&out, p, n);
		}
		p = eol ? eol + 1 : close;
	}
	buf_addch(&out, '\n');
	buf_add(&out, close, (size_t)(end - close));
	if (out.failed || keys.failed) {
		buf_release(&out);
		buf_release(&keys);
		return NULL;
	}
	*adds = buf_detach(&keys);
	return buf_detach(&out);
}
