/* Rows to SQL text: which form each column's values take so that a data file
 * restores bit-identically with the plain mariadb client, and the INSERT writer. */
#ifndef MDLSAFE_ROWFMT_H
#define MDLSAFE_ROWFMT_H

#include <stdbool.h>
#include <stddef.h>

#include "db/db.h"
#include "util/error.h"

/*
 * How a column's value is selected and written. Every rule was checked
 * against MariaDB 10.11 by tests/integration/it_rowfmt.c (CHECKSUM TABLE of
 * the original and the restored copy are equal).
 */
enum rowfmt_kind {
	/* Integers, DECIMAL, DOUBLE: the server's text, unquoted. DOUBLE text is
	 * the shortest form that reads back as the same double. */
	ROWFMT_NUMBER,
	/* FLOAT: the server prints only 6 significant digits (16777217 comes
	 * out as 16777200), so it is selected as CAST(f AS DOUBLE), which is
	 * exact, and written unquoted. -0 (which a FLOAT can hold and prints as
	 * "0") is selected as -1e-60, which stores back as -0. */
	ROWFMT_FLOAT,
	/* Text in a character set utf8mb4 holds losslessly (utf8mb4, utf8mb3,
	 * ascii, latin1), and types without one: dates and times, YEAR,
	 * ENUM/SET, JSON, INET6, UUID. Quoted, backslash-escaped. */
	ROWFMT_STRING,
	/* Text in any other character set: converting sjis, cp932, big5... to
	 * utf8mb4 and back does not always give the same bytes, so it is
	 * selected as CAST(c AS BINARY) and written as _charset 0x... */
	ROWFMT_CHARSET_HEX,
	/* BINARY/VARBINARY/BLOB and the geometry types: 0x hex, '' when empty. */
	ROWFMT_BINARY,
	/* BIT(n): the server sends (n+7)/8 raw bytes; written as 0x hex. */
	ROWFMT_BIT,
	/* Generated column (VIRTUAL/STORED/PERSISTENT): not dumped, the server
	 * computes it again on restore. */
	ROWFMT_SKIP,
};

struct rowfmt_column {
	char *name;
	enum rowfmt_kind kind;
	char *charset; /* ROWFMT_CHARSET_HEX: the column's character set; else NULL */
};

struct rowfmt_table {
	char *schema, *name;
	struct rowfmt_column *cols; /* in ORDINAL_POSITION order, skipped ones included */
	size_t n_cols;
	size_t n_dumped;            /* columns not ROWFMT_SKIP: the values of each row */
};

/*
 * Sets on the dump session what this module's output relies on:
 * time_zone '+00:00' (TIMESTAMP values are read in UTC, and the data file
 * header loads them in UTC), utf8mb4 results, sql_mode '' (no ANSI_QUOTES or
 * NO_*_OPTIONS changing SHOW CREATE output) and sql_quote_show_create=1.
 * Call it once on every session that selects rows or reads definitions.
 */
int rowfmt_session_prepare(struct db *db, struct ms_err *e);

/* Reads the column list from information_schema.COLUMNS (ORDINAL_POSITION
 * order) and classifies each column. Fails when the table does not exist or
 * has no column to dump. On success release *t with rowfmt_table_release. */
int rowfmt_table_load(struct db *db, const char *schema, const char *table,
		      struct rowfmt_table *t, struct ms_err *e);
void rowfmt_table_release(struct rowfmt_table *t);

/* Classifies one column from its DATA_TYPE and CHARACTER_SET_NAME (NULL when
 * it has none); exposed for tests. Generated columns are decided by the caller. */
enum rowfmt_kind rowfmt_classify(const char *data_type, const char *charset);

/* "SELECT `a`, `b` FROM `s`.`t`" plus " WHERE <where>" when where is not NULL
 * (built by the caller). Only dumped columns, with the expressions the kinds
 * above need. Returns NULL when out of memory; caller frees. */
char *rowfmt_select_sql(const struct rowfmt_table *t, const char *where);

/* Escapes len bytes of src as the inside of a single-quoted string literal
 * the way mysql_real_escape_string does (\0 \n \r \\ \' \" \Z), so the result
 * has no raw newline. dst must hold 2*len bytes; returns the bytes written
 * (no NUL added). Exact for utf8mb4 text with NO_BACKSLASH_ESCAPES off. */
size_t rowfmt_escape(char *dst, const char *src, size_t len);

/*
 * The streaming INSERT writer. Feed it the rows of rowfmt_select_sql's query
 * (MYSQL_ROW and mysql_fetch_lengths, typically from mysql_use_result); it
 * writes
 *	INSERT INTO `t` (`a`,`b`) VALUES
 *	(1,'x'),
 *	(2,'y');
 * The table is not qualified, so `mariadb OTHERDB < file` loads into OTHERDB.
 * Every row is one line that starts with '(' (verifiers count rows by that),
 * and nothing else in the file starts with '(': values never contain a raw
 * newline. A statement is at most max_statement_bytes (0: 1 MiB) unless a
 * single row is bigger. Each sink call carries whole statements, except a
 * statement over max_statement_bytes, which arrives in pieces.
 *
 * The table is borrowed and must outlive the writer. After a failure, call
 * rowfmt_writer_end anyway: it always frees.
 */
typedef int (*rowfmt_sink_fn)(void *ctx, const void *data, size_t len, struct ms_err *e);

struct rowfmt_writer;

int rowfmt_writer_begin(struct rowfmt_writer **w, const struct rowfmt_table *t,
			size_t max_statement_bytes, rowfmt_sink_fn sink, void *ctx,
			struct ms_err *e);
/* row has t->n_dumped values; NULL entries are SQL NULL. */
int rowfmt_writer_row(struct rowfmt_writer *w, char **row, const unsigned long *lengths,
		      struct ms_err *e);
/* Ends the open statement, flushes, frees w, and stores the row count in
 * *rows (when not NULL). Returns -1 when flushing fails or a row failed. */
int rowfmt_writer_end(struct rowfmt_writer *w, unsigned long long *rows, struct ms_err *e);

/*
 * A whole data file's content for the rows of t matching where (NULL: all):
 * rowfmt_file_header(), the INSERTs at the default statement size, and
 * rowfmt_file_footer(), all through sink. The same rows in the same order
 * always give the same bytes: backup writes files with it and restore
 * --verify compares a restored table with them. cancelled (may be NULL) is
 * asked every 4096 rows. *rows gets the row count.
 */
int rowfmt_dump(struct db *db, const struct rowfmt_table *t, const char *where, rowfmt_sink_fn sink, void *ctx,
		bool (*cancelled)(void *), void *cancel_ctx, unsigned long long *rows, struct ms_err *e);

/*
 * What every data file starts and ends with: session settings that make a
 * by-hand restore exact and fast (utf8mb4, time_zone '+00:00' to match the
 * dump session, sql_mode 'NO_AUTO_VALUE_ON_ZERO' so zero dates and
 * AUTO_INCREMENT 0 load, unique/foreign key/CHECK constraint checks off),
 * and the statements that put the previous settings back. Schema files can
 * use them too (CREATE TABLE with zero-date defaults or foreign keys to
 * tables not created yet needs the same settings). Borrowed constants.
 */
const char *rowfmt_file_header(void);
const char *rowfmt_file_footer(void);

#endif
