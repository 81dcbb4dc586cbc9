/* Rows to SQL text that restores bit-identically: column classification,
 * the SELECT that reads them exactly, and the streaming INSERT writer. */
#include "dump/rowfmt.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define ROWFMT_DEFAULT_STATEMENT ((size_t)1 << 20)
/* Input bytes of one value encoded between checks of the output size, so a
 * 1 GiB BLOB never needs a 2 GiB buffer. */
#define ROWFMT_CHUNK ((size_t)32 << 10)

int rowfmt_session_prepare(struct db *db, struct ms_err *e)
{
	/* sql_mode '': ANSI_QUOTES, ORACLE and the NO_*_OPTIONS modes change
	 * what SHOW CREATE prints, and the data file header does not set them. */
	if (db_exec(db, "SET NAMES utf8mb4, SESSION time_zone = '+00:00', SESSION sql_mode = '', "
			"SESSION sql_quote_show_create = 1", e))
		return ms_fail_context(e, "preparing the dump session");
	return 0;
}

/* ---- classification ----------------------------------------------------- */

static bool name_in(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcasecmp(s, *list) == 0)
			return true;
	return false;
}

enum rowfmt_kind rowfmt_classify(const char *data_type, const char *charset)
{
	static const char *const numbers[] = {
		"tinyint", "smallint", "mediumint", "int", "integer", "bigint",
		"decimal", "numeric", "double", "double precision", "real", NULL,
	};
	/* vector (MariaDB 11.7) is stored as bytes; not tested here. */
	static const char *const binaries[] = {
		"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
		"geometry", "point", "linestring", "polygon", "multipoint",
		"multilinestring", "multipolygon", "geometrycollection", "geomcollection",
		"vector", NULL,
	};
	/* Character sets whose every valid string survives the trip to utf8mb4
	 * and back (latin1: all 256 bytes, checked on 10.11). */
	static const char *const lossless[] = {
		"utf8mb4", "utf8mb3", "utf8", "ascii", "latin1", NULL,
	};

	if (name_in(data_type, numbers))
		return ROWFMT_NUMBER;
	if (strcasecmp(data_type, "float") == 0)
		return ROWFMT_FLOAT;
	if (strcasecmp(data_type, "bit") == 0)
		return ROWFMT_BIT;
	if (name_in(data_type, binaries))
		return ROWFMT_BINARY;
	if (!charset || name_in(charset, lossless))
		return ROWFMT_STRING;
	/* ENUM/SET/CHAR ... CHARACTER SET binary hold bytes. */
	if (strcasecmp(charset, "binary") == 0)
		return ROWFMT_BINARY;
	return ROWFMT_CHARSET_HEX;
}

static bool charset_name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* MariaDB leaves GENERATION_EXPRESSION NULL and MySQL '' for plain columns;
 * EXTRA also catches old servers. MySQL's DEFAULT_GENERATED (an expression
 * default) is a plain column and must be dumped. */
static bool column_is_generated(const char *expr, const char *extra)
{
	if (expr && *expr)
		return true;
	return extra && (strcasestr(extra, "VIRTUAL") || strcasestr(extra, "STORED GENERATED") ||
			 strcasestr(extra, "PERSISTENT"));
}

void rowfmt_table_release(struct rowfmt_table *t)
{
	for (size_t i = 0; i < t->n_cols; i++) {
		free(t->cols[i].name);
		free(t->cols[i].charset);
	}
	free(t->cols);
	free(t->schema);
	free(t->name);
	memset(t, 0, sizeof(*t));
}

static int table_add_row(struct rowfmt_table *t, MYSQL_ROW row, struct ms_err *e)
{
	struct rowfmt_column *c = &t->cols[t->n_cols];

	memset(c, 0, sizeof(*c));
	if (!row[0] || !row[1])
		return ms_fail(e, MS_SERVER, "information_schema.COLUMNS of %s.%s has a column without name or type",
			       t->schema, t->name);
	c->name = strdup(row[0]);
	if (!c->name)
		return ms_oom(e);
	t->n_cols++;
	if (column_is_generated(row[3], row[4])) {
		c->kind = ROWFMT_SKIP;
		return 0;
	}
	c->kind = rowfmt_classify(row[1], row[2]);
	if (c->kind == ROWFMT_CHARSET_HEX) {
		/* The name is written into the data file as an introducer. */
		if (!charset_name_ok(row[2]))
			return ms_fail(e, MS_INTERNAL, "column %s.%s.%s has an unexpected character set name '%s'",
				       t->schema, t->name, c->name, row[2]);
		c->charset = strdup(row[2]);
		if (!c->charset)
			return ms_oom(e);
	}
	t->n_dumped++;
	return 0;
}

int rowfmt_table_load(struct db *db, const char *schema, const char *table,
		      struct rowfmt_table *t, struct ms_err *e)
{
	struct buf sql = BUF_INIT;
	char *qs = NULL, *qt = NULL;
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	t->schema = strdup(schema);
	t->name = strdup(table);
	qs = db_quote_string(db, schema);
	qt = db_quote_string(db, table);
	if (!t->schema || !t->name || !qs || !qt) {
		ms_oom(e);
		goto out;
	}
	buf_addf(&sql, "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_SET_NAME, GENERATION_EXPRESSION, EXTRA "
		       "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
		       "ORDER BY ORDINAL_POSITION", qs, qt);
	if (sql.failed) {
		ms_oom(e);
		goto out;
	}
	if (db_query(db, sql.data, &res, e))
		goto out;
	if (!res || mysql_num_rows(res) == 0) {
		ms_fail(e, MS_USAGE, "table %s.%s not found (or this user has no privilege on it)", schema, table);
		goto out;
	}
	t->cols = calloc((size_t)mysql_num_rows(res), sizeof(*t->cols));
	if (!t->cols) {
		ms_oom(e);
		goto out;
	}
	while ((row = mysql_fetch_row(res)))
		if (table_add_row(t, row, e))
			goto out;
	if (t->n_dumped == 0) {
		ms_fail(e, MS_INTERNAL, "table %s.%s has no column to dump", schema, table);
		goto out;
	}
	rc = 0;
out:
	if (res)
		mysql_free_result(res);
	if (rc)
		rowfmt_table_release(t);
	buf_release(&sql);
	free(qs);
	free(qt);
	return rc;
}

/* ---- the SELECT --------------------------------------------------------- */

char *rowfmt_select_sql(const struct rowfmt_table *t, const char *where)
{
	struct buf b = BUF_INIT;
	char *qs = db_quote_ident(t->schema), *qt = db_quote_ident(t->name);
	bool first = true;

	buf_adds(&b, "SELECT ");
	for (size_t i = 0; i < t->n_cols && qs && qt; i++) {
		const struct rowfmt_column *c = &t->cols[i];
		char *q;

		if (c->kind == ROWFMT_SKIP)
			continue;
		q = db_quote_ident(c->name);
		if (!q) {
			b.failed = 1;
			break;
		}
		if (!first)
			buf_adds(&b, ", ");
		first = false;
		switch (c->kind) {
		case ROWFMT_FLOAT:
			/* Every FLOAT is exactly a DOUBLE, and the DOUBLE text reads
			 * back as the same value, which rounds to the same FLOAT. -0
			 * prints as 0; -1e-60 underflows back to -0 on restore. */
			buf_addf(&b, "CASE WHEN %s = 0 AND ATAN2(%s, -1) < 0 THEN -1e-60 ELSE CAST(%s AS DOUBLE) END AS %s",
				 q, q, q, q);
			break;
		case ROWFMT_CHARSET_HEX:
			buf_addf(&b, "CAST(%s AS BINARY) AS %s", q, q);
			break;
		default:
			buf_adds(&b, q);
			break;
		}
		free(q);
	}
	if (qs && qt)
		buf_addf(&b, " FROM %s.%s", qs, qt);
	if (where)
		buf_addf(&b, " WHERE %s", where);
	if (!qs || !qt)
		b.failed = 1;
	free(qs);
	free(qt);
	if (b.failed) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}

/* ---- values ------------------------------------------------------------- */

/* The escape letter for each byte that needs one (the same set as
 * mysql_real_escape_string), 0 for bytes written as they are. A table, not
 * a switch: this runs for every byte of every string the backup writes. */
static const char escape_letter[256] = {
	['\0'] = '0', ['\n'] = 'n', ['\r'] = 'r', ['\\'] = '\\',
	['\''] = '\'', ['"'] = '"', ['\032'] = 'Z', /* Ctrl-Z ends files on Windows */
};

#if defined(__SSE2__)
/* Sixteen bytes at a time: a mask of the bytes that need an escape. */
static inline unsigned escape_mask16(__m128i v)
{
	__m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\0')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));

	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\r')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\'')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\032')));
	return (unsigned)_mm_movemask_epi8(m);
}
#endif

size_t rowfmt_escape(char *dst, const char *src, size_t len)
{
	size_t n = 0, i = 0;

#if defined(__SSE2__)
	/* Each step stores 16 bytes whatever they hold and keeps those before
	 * the first that needs an escape. It stays inside dst's 2*len bytes:
	 * n <= 2*i and i + 16 <= len, so n + 16 <= 2*len - 16. */
	while (i + 16 <= len) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
		unsigned mask = escape_mask16(v);

		_mm_storeu_si128((__m128i *)(void *)(dst + n), v);
		if (!mask) {
			i += 16;
			n += 16;
			continue;
		}
		unsigned k = (unsigned)__builtin_ctz(mask);
		i += k;
		n += k;
		dst[n++] = '\\';
		dst[n++] = escape_letter[(unsigned char)src[i++]];
	}
#endif
	for (; i < len; i++) {
		char letter = escape_letter[(unsigned char)src[i]];
		if (letter) {
			dst[n++] = '\\';
			dst[n++] = letter;
		} else {
			dst[n++] = src[i];
		}
	}
	return n;
}

static size_t escaped_size(const char *s, size_t len)
{
	size_t n = len;

	for (size_t i = 0; i < len; i++)
		n += escape_letter[(unsigned char)s[i]] != 0;
	return n;
}

/* Server text for a number is digits, sign, point and exponent. Anything else
 * would be a server surprise; it is then written quoted (the server converts
 * it) rather than risk a raw newline or quote in the file. */
static const bool numeric_char[256] = {
	['0'] = true, ['1'] = true, ['2'] = true, ['3'] = true, ['4'] = true, ['5'] = true, ['6'] = true,
	['7'] = true, ['8'] = true, ['9'] = true, ['+'] = true, ['-'] = true, ['.'] = true, ['e'] = true,
	['E'] = true,
};

static bool numeric_text(const char *v, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!numeric_char[(unsigned char)v[i]])
			return false;
	return true;
}

static enum rowfmt_kind value_kind(const struct rowfmt_column *c, const char *v, size_t len)
{
	if ((c->kind == ROWFMT_NUMBER || c->kind == ROWFMT_FLOAT) && !numeric_text(v, len))
		return ROWFMT_STRING;
	/* Without a character set name the bytes can still go as bytes. */
	if (c->kind == ROWFMT_CHARSET_HEX && !c->charset)
		return ROWFMT_BINARY;
	return c->kind;
}

/* Exact size of what value_write produces, so statements can be cut before
 * they are written. */
static size_t value_size(const struct rowfmt_column *c, const char *v, size_t len)
{
	if (!v)
		return 4; /* NULL */
	switch (value_kind(c, v, len)) {
	case ROWFMT_NUMBER:
	case ROWFMT_FLOAT:
		return len;
	case ROWFMT_CHARSET_HEX:
		return len ? 1 + strlen(c->charset) + 1 + 2 + 2 * len : 2;
	case ROWFMT_BINARY:
	case ROWFMT_BIT:
		return len ? 2 + 2 * len : 2;
	case ROWFMT_STRING:
	case ROWFMT_SKIP:
		break;
	}
	return 2 + escaped_size(v, len);
}

/* ---- the writer --------------------------------------------------------- */

struct rowfmt_writer {
	const struct rowfmt_table *t;
	const struct rowfmt_column **dumped; /* n_dumped, in SELECT order */
	unsigned char *kinds;                /* n_dumped: the current row's value kinds */
	size_t max_stmt;
	rowfmt_sink_fn sink;
	void *ctx;
	struct buf prefix; /* "INSERT INTO `t` (`a`,`b`) VALUES\n" */
	struct buf out;    /* not yet given to the sink */
	size_t stmt_bytes; /* size of the open statement; 0 when none is open */
	unsigned long long rows;
	bool failed;
};

static int writer_flush(struct rowfmt_writer *w, struct ms_err *e)
{
	if (!w->out.len)
		return 0;
	if (w->sink(w->ctx, w->out.data, w->out.len, e)) {
		w->failed = true;
		return -1;
	}
	buf_reset(&w->out);
	return 0;
}

/* Appends to the pending output. Only a statement over max_stmt (one huge
 * row) makes it grow past that; it is then handed over in pieces. */
static int writer_emit(struct rowfmt_writer *w, const void *data, size_t len, struct ms_err *e)
{
	/* Fast path: room in the buffer (the common case, many times a row). */
	if (w->out.len + len < w->out.alloc && !w->out.failed) {
		memcpy(w->out.data + w->out.len, data, len);
		w->out.len += len;
		w->out.data[w->out.len] = '\0';
		return w->out.len > w->max_stmt ? writer_flush(w, e) : 0;
	}
	buf_add(&w->out, data, len);
	if (w->out.failed) {
		w->failed = true;
		return ms_fail(e, MS_INTERNAL, "out of memory formatting rows of %s.%s", w->t->schema, w->t->name);
	}
	if (w->out.len > w->max_stmt)
		return writer_flush(w, e);
	return 0;
}

static int writer_emits(struct rowfmt_writer *w, const char *s, struct ms_err *e)
{
	return writer_emit(w, s, strlen(s), e);
}

static char *hex_encode(char *p, const char *v, size_t len)
{
	static const char digits[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		*p++ = digits[c >> 4];
		*p++ = digits[c & 15];
	}
	return p;
}

static int writer_hex(struct rowfmt_writer *w, const char *v, size_t len, struct ms_err *e)
{
	char tmp[2 * ROWFMT_CHUNK];

	for (size_t off = 0; off < len; off += ROWFMT_CHUNK) {
		size_t n = len - off < ROWFMT_CHUNK ? len - off : ROWFMT_CHUNK;
		if (writer_emit(w, tmp, (size_t)(hex_encode(tmp, v + off, n) - tmp), e))
			return -1;
	}
	return 0;
}

static int writer_escaped(struct rowfmt_writer *w, const char *v, size_t len, struct ms_err *e)
{
	char tmp[2 * ROWFMT_CHUNK];

	for (size_t off = 0; off < len; off += ROWFMT_CHUNK) {
		size_t n = len - off < ROWFMT_CHUNK ? len - off : ROWFMT_CHUNK;
		if (writer_emit(w, tmp, rowfmt_escape(tmp, v + off, n), e))
			return -1;
	}
	return 0;
}

static int value_write(struct rowfmt_writer *w, const struct rowfmt_column *c, const char *v, size_t len,
		       struct ms_err *e)
{
	if (!v)
		return writer_emits(w, "NULL", e);
	switch (value_kind(c, v, len)) {
	case ROWFMT_NUMBER:
	case ROWFMT_FLOAT:
		return writer_emit(w, v, len, e);
	case ROWFMT_CHARSET_HEX:
		if (!len)
			return writer_emits(w, "''", e);
		if (writer_emits(w, "_", e) || writer_emits(w, c->charset, e) || writer_emits(w, " 0x", e))
			return -1;
		return writer_hex(w, v, len, e);
	case ROWFMT_BINARY:
	case ROWFMT_BIT:
		/* 0x with no digits is not valid SQL. */
		if (!len)
			return writer_emits(w, "''", e);
		if (writer_emits(w, "0x", e))
			return -1;
		return writer_hex(w, v, len, e);
	case ROWFMT_STRING:
	case ROWFMT_SKIP:
		break;
	}
	if (writer_emits(w, "'", e) || writer_escaped(w, v, len, e))
		return -1;
	return writer_emits(w, "'", e);
}

int rowfmt_writer_begin(struct rowfmt_writer **wp, const struct rowfmt_table *t,
			size_t max_statement_bytes, rowfmt_sink_fn sink, void *ctx,
			struct ms_err *e)
{
	struct rowfmt_writer *w;
	bool oom = false;
	size_t k = 0;
	char *q;

	*wp = NULL;
	if (t->n_dumped == 0)
		return ms_fail(e, MS_INTERNAL, "table %s.%s has no column to dump", t->schema, t->name);
	w = calloc(1, sizeof(*w));
	if (!w || !(w->dumped = calloc(t->n_dumped, sizeof(*w->dumped))) ||
	    !(w->kinds = calloc(t->n_dumped, sizeof(*w->kinds)))) {
		if (w)
			free(w->dumped);
		free(w);
		return ms_oom(e);
	}
	w->t = t;
	w->max_stmt = max_statement_bytes ? max_statement_bytes : ROWFMT_DEFAULT_STATEMENT;
	w->sink = sink;
	w->ctx = ctx;
	buf_init(&w->prefix, 0);
	q = db_quote_ident(t->name);
	oom |= !q;
	buf_addf(&w->prefix, "INSERT INTO %s (", q ? q : "");
	free(q);
	for (size_t i = 0; i < t->n_cols && k < t->n_dumped; i++) {
		if (t->cols[i].kind == ROWFMT_SKIP)
			continue;
		w->dumped[k] = &t->cols[i];
		q = db_quote_ident(t->cols[i].name);
		oom |= !q;
		buf_addf(&w->prefix, "%s%s", k ? "," : "", q ? q : "");
		free(q);
		k++;
	}
	buf_adds(&w->prefix, ") VALUES\n");
	oom |= w->prefix.failed != 0;
	/* Room for a whole statement, its prefix and one encoded chunk. */
	buf_init(&w->out, w->max_stmt + w->prefix.len + 4 * ROWFMT_CHUNK + 4096);
	if (oom || k != t->n_dumped) {
		buf_release(&w->prefix);
		free(w->dumped);
		free(w->kinds);
		free(w);
		return oom ? ms_oom(e)
			   : ms_fail(e, MS_INTERNAL, "table %s.%s: n_dumped does not match its columns",
				     t->schema, t->name);
	}
	*wp = w;
	return 0;
}

/* ---- one pass for ordinary rows ----------------------------------------- */

/* A row whose encoding could be bigger than this goes value by value through
 * writer_emit, big values in ROWFMT_CHUNK pieces, so a 1 GiB BLOB never needs
 * a buffer its size. Every other row (nearly all) is encoded in one pass
 * straight into the statement buffer, and its exact size is known once it
 * is written. */
#define ROWFMT_FAST_ROW ((size_t)64 << 10)
#define KIND_NULL 0xff

/* The most bytes value_encode can write for v; its kind goes to *kind. */
static size_t value_bound(const struct rowfmt_column *c, const char *v, size_t len, unsigned char *kind)
{
	enum rowfmt_kind k;

	if (!v) {
		*kind = KIND_NULL;
		return 4;
	}
	k = value_kind(c, v, len);
	*kind = (unsigned char)k;
	switch (k) {
	case ROWFMT_NUMBER:
	case ROWFMT_FLOAT:
		return len;
	case ROWFMT_CHARSET_HEX:
		return 1 + strlen(c->charset) + 1 + 2 + 2 * len;
	case ROWFMT_BINARY:
	case ROWFMT_BIT:
	case ROWFMT_STRING:
	case ROWFMT_SKIP:
		break;
	}
	return 2 + 2 * len;
}

/* Writes what value_write would, at p; returns the end. */
static char *value_encode(char *p, const struct rowfmt_column *c, unsigned char kind, const char *v, size_t len)
{
	switch (kind) {
	case KIND_NULL:
		memcpy(p, "NULL", 4);
		return p + 4;
	case ROWFMT_NUMBER:
	case ROWFMT_FLOAT:
		memcpy(p, v, len);
		return p + len;
	case ROWFMT_CHARSET_HEX:
	case ROWFMT_BINARY:
	case ROWFMT_BIT:
		if (!len) {
			*p++ = '\'';
			*p++ = '\'';
			return p;
		}
		if (kind == ROWFMT_CHARSET_HEX) {
			size_t cl = strlen(c->charset);
			*p++ = '_';
			memcpy(p, c->charset, cl);
			p += cl;
			*p++ = ' ';
		}
		*p++ = '0';
		*p++ = 'x';
		return hex_encode(p, v, len);
	default:
		*p++ = '\'';
		p += rowfmt_escape(p, v, len);
		*p++ = '\'';
		return p;
	}
}

/* Room left before a row for what goes in front of it: ",\n" when a
 * statement is open, else the INSERT prefix. */
static size_t writer_gap(const struct rowfmt_writer *w)
{
	return w->stmt_bytes ? 2 : w->prefix.len;
}

/* The row of size bytes sits in the buffer after writer_gap(w) bytes. Fills
 * the gap, first ending and handing over the open statement when the row
 * does not fit in it (then the row moves to the start of the next one): the
 * same cuts as the piecewise path. */
static int writer_place_row(struct rowfmt_writer *w, size_t size, struct ms_err *e)
{
	char *at = w->out.data + w->out.len;

	if (w->stmt_bytes && w->stmt_bytes + 2 + size + 2 > w->max_stmt) {
		at[0] = ';';
		at[1] = '\n';
		if (w->sink(w->ctx, w->out.data, w->out.len + 2, e)) {
			w->failed = true;
			return -1;
		}
		memmove(w->out.data + w->prefix.len, at + 2, size);
		w->out.len = 0;
		w->stmt_bytes = 0;
		at = w->out.data;
	}
	if (w->stmt_bytes) {
		at[0] = ',';
		at[1] = '\n';
		w->out.len += 2 + size;
		w->stmt_bytes += 2 + size;
	} else {
		memcpy(at, w->prefix.data, w->prefix.len);
		w->out.len += w->prefix.len + size;
		w->stmt_bytes = w->prefix.len + size;
	}
	w->out.data[w->out.len] = '\0';
	w->rows++;
	/* A row bigger than a statement: handed over now, as a piece. */
	return w->out.len > w->max_stmt ? writer_flush(w, e) : 0;
}

static int writer_row_fast(struct rowfmt_writer *w, char **row, const unsigned long *lengths, size_t bound,
			   struct ms_err *e)
{
	char *start, *p;

	/* prefix + 2: a cut moves the row behind a new prefix. */
	if (buf_reserve(&w->out, w->prefix.len + 2 + bound)) {
		w->failed = true;
		return ms_fail(e, MS_INTERNAL, "out of memory formatting rows of %s.%s", w->t->schema, w->t->name);
	}
	start = p = w->out.data + w->out.len + writer_gap(w);
	*p++ = '(';
	for (size_t i = 0; i < w->t->n_dumped; i++) {
		if (i)
			*p++ = ',';
		p = value_encode(p, w->dumped[i], w->kinds[i], row[i], lengths[i]);
	}
	*p++ = ')';
	return writer_place_row(w, (size_t)(p - start), e);
}

int rowfmt_writer_row(struct rowfmt_writer *w, char **row, const unsigned long *lengths, struct ms_err *e)
{
	size_t n = w->t->n_dumped, size = 2 + (n - 1), bound = size;

	if (w->failed)
		return ms_fail(e, MS_INTERNAL, "rows of %s.%s: an earlier write failed", w->t->schema, w->t->name);
	for (size_t i = 0; i < n && bound <= ROWFMT_FAST_ROW; i++)
		bound += value_bound(w->dumped[i], row[i], lengths[i], &w->kinds[i]);
	if (bound <= ROWFMT_FAST_ROW)
		return writer_row_fast(w, row, lengths, bound, e);
	for (size_t i = 0; i < n; i++)
		size += value_size(w->dumped[i], row[i], lengths[i]);
	/* ",\n" before the row and ";\n" after it must still fit. */
	if (w->stmt_bytes && w->stmt_bytes + 2 + size + 2 > w->max_stmt) {
		if (writer_emits(w, ";\n", e) || writer_flush(w, e))
			return -1;
		w->stmt_bytes = 0;
	}
	if (!w->stmt_bytes) {
		if (writer_emit(w, w->prefix.data, w->prefix.len, e))
			return -1;
		w->stmt_bytes = w->prefix.len;
	} else {
		if (writer_emits(w, ",\n", e))
			return -1;
		w->stmt_bytes += 2;
	}
	if (writer_emits(w, "(", e))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (i && writer_emits(w, ",", e))
			return -1;
		if (value_write(w, w->dumped[i], row[i], lengths[i], e))
			return -1;
	}
	if (writer_emits(w, ")", e))
		return -1;
	w->stmt_bytes += size;
	w->rows++;
	return 0;
}

int rowfmt_writer_end(struct rowfmt_writer *w, unsigned long long *rows, struct ms_err *e)
{
	int rc = 0;

	if (!w)
		return 0;
	if (w->failed)
		rc = ms_fail(e, MS_INTERNAL, "rows of %s.%s: an earlier write failed", w->t->schema, w->t->name);
	else if (w->stmt_bytes && writer_emits(w, ";\n", e))
		rc = -1;
	else if (writer_flush(w, e))
		rc = -1;
	if (rows)
		*rows = w->rows;
	buf_release(&w->prefix);
	buf_release(&w->out);
	free(w->dumped);
	free(w->kinds);
	free(w);
	return rc;
}

/* ---- file header and footer --------------------------------------------- */

const char *rowfmt_file_header(void)
{
	return "-- mdlsafe dump file. Restore by hand: zstdcat FILE.sql.zst | mariadb DATABASE\n"
	       "-- TIMESTAMP values are in UTC: they were read with time_zone '+00:00' and load with it.\n"
	       "-- A row over 16 MiB needs mariadb --max-allowed-packet=1G and a server max_allowed_packet as big.\n"
	       "SET @MDLSAFE_OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT, "
	       "@MDLSAFE_OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS, "
	       "@MDLSAFE_OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION;\n"
	       "SET NAMES utf8mb4;\n"
	       "SET @MDLSAFE_OLD_TIME_ZONE=@@TIME_ZONE, TIME_ZONE='+00:00';\n"
	       /* No STRICT, NO_ZERO_DATE or NO_ZERO_IN_DATE: zero dates load;
		* NO_AUTO_VALUE_ON_ZERO: an AUTO_INCREMENT 0 stays 0;
		* no NO_BACKSLASH_ESCAPES or ANSI_QUOTES: strings read as written. */
	       "SET @MDLSAFE_OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO';\n"
	       "SET @MDLSAFE_OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0;\n"
	       "SET @MDLSAFE_OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0;\n"
	       /* Rows the server accepted once (a CHECK added later, or loaded
		* with checks off) must load again. MariaDB only. */
	       "/*!100201 SET @MDLSAFE_OLD_CHECK_CONSTRAINT_CHECKS=@@CHECK_CONSTRAINT_CHECKS, "
	       "CHECK_CONSTRAINT_CHECKS=0 */;\n"
	       "SET @MDLSAFE_OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0;\n";
}

const char *rowfmt_file_footer(void)
{
	return "SET SQL_NOTES=@MDLSAFE_OLD_SQL_NOTES;\n"
	       "/*!100201 SET CHECK_CONSTRAINT_CHECKS=@MDLSAFE_OLD_CHECK_CONSTRAINT_CHECKS */;\n"
	       "SET FOREIGN_KEY_CHECKS=@MDLSAFE_OLD_FOREIGN_KEY_CHECKS;\n"
	       "SET UNIQUE_CHECKS=@MDLSAFE_OLD_UNIQUE_CHECKS;\n"
	       "SET SQL_MODE=@MDLSAFE_OLD_SQL_MODE;\n"
	       "SET TIME_ZONE=@MDLSAFE_OLD_TIME_ZONE;\n"
	       "SET CHARACTER_SET_CLIENT=@MDLSAFE_OLD_CHARACTER_SET_CLIENT, "
	       "CHARACTER_SET_RESULTS=@MDLSAFE_OLD_CHARACTER_SET_RESULTS, "
	       "COLLATION_CONNECTION=@MDLSAFE_OLD_COLLATION_CONNECTION;\n";
}

int rowfmt_dump(struct db *db, const struct rowfmt_table *t, const char *where, rowfmt_sink_fn sink, void *ctx,
		bool (*cancelled)(void *), void *cancel_ctx, unsigned long long *rows, struct ms_err *e)
{
	struct rowfmt_writer *wr = NULL;
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	unsigned long long n = 0;
	char *sql = rowfmt_select_sql(t, where);
	int rc = -1;

	*rows = 0;
	if (!sql)
		return ms_oom(e);
	if (sink(ctx, rowfmt_file_header(), strlen(rowfmt_file_header()), e) ||
	    rowfmt_writer_begin(&wr, t, 0, sink, ctx, e) || db_stream(db, sql, &res, e))
		goto out;
	if (!res) {
		db_fail(db, e, "reading rows");
		goto out;
	}
	while ((row = mysql_fetch_row(res))) {
		if (rowfmt_writer_row(wr, row, mysql_fetch_lengths(res), e))
			goto out;
		if ((++n & 4095) == 0 && cancelled && cancelled(cancel_ctx)) {
			ms_fail(e, MS_INTERNAL, "cancelled");
			goto out;
		}
	}
	if (mysql_errno(db->mysql)) {
		db_fail(db, e, "reading rows");
		goto out;
	}
	mysql_free_result(res);
	res = NULL;
	rc = rowfmt_writer_end(wr, rows, e);
	wr = NULL;
	if (rc == 0)
		rc = sink(ctx, rowfmt_file_footer(), strlen(rowfmt_file_footer()), e);
out:
	if (res) {
		/* Drain what the server still sends so the connection stays usable. */
		while (mysql_fetch_row(res))
			;
		mysql_free_result(res);
	}
	if (wr) {
		unsigned long long ignored_rows;
		struct ms_err ignored;
		rowfmt_writer_end(wr, &ignored_rows, &ignored);
	}
	free(sql);
	return rc;
}
