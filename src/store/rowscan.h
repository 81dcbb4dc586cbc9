/* Reads the layout of a data file as the row writer (dump/rowfmt) lays it
 * out: where each statement ends and how many rows it holds. */
#ifndef MDLSAFE_ROWSCAN_H
#define MDLSAFE_ROWSCAN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * What the backup writes, and so what this reads, line by line:
 *
 *	-- comment lines, blank lines         between statements
 *	SET ...;                              statements of one or more lines
 *	INSERT INTO `t` (`a`,`b`) VALUES      the head of an INSERT
 *	(1,'x'),                              one row per line
 *	(2,'y');                              the last row ends the statement
 *
 * Identifiers are the only place a raw newline can stand inside quotes: a
 * table or column name may hold "\n", ";\n" or "\n(", and only the head of
 * an INSERT and the other statements name anything. So those are read
 * quote by quote ('...', "..." with backslash escapes, `...` with doubled
 * backticks), and a statement ends at a newline outside quotes that follows
 * a ';' (or ";\r"). The head ends at its first newline outside quotes.
 * After it every newline ends a row: values never hold a raw newline (the
 * writer escapes it), so each row line is exactly "(...)," or "(...);" and
 * a row line is read with one memchr, as fast as before names were read.
 *
 * For such files the statements are exactly those sqlsplit hands out (the
 * unit tests check it on written files with hostile names and values). It
 * is not a general SQL splitter: a file edited by hand with a multi-row
 * INSERT laid out another way can be cut or counted wrong.
 */

enum rowscan_event {
	ROWSCAN_MORE,      /* every byte given was read; nothing ended */
	ROWSCAN_STATEMENT, /* a statement ended with the newline at *used - 1 */
	ROWSCAN_FILLER,    /* a comment or blank line between statements ended there */
};

/* The reader's state between pieces; zero it with rowscan_init. */
struct rowscan {
	unsigned char state;  /* private */
	unsigned char match;  /* private: bytes of a line's keyword matched */
	char quote;           /* private: the open quote, or 0 */
	bool escaped;         /* private: the previous byte was a backslash in a string */
	char tail[2];         /* private: the last two bytes of the line so far */
	unsigned long long rows; /* rows seen so far (tuples of INSERT ... VALUES) */
};

void rowscan_init(struct rowscan *s);

/* Reads data[0..len) (any piece of the file, in order) up to the end of
 * the next statement or filler line: *used bytes were read, including that
 * newline. Returns ROWSCAN_MORE when all len bytes were read first. */
enum rowscan_event rowscan_next(struct rowscan *s, const char *data, size_t len, size_t *used);

/* Reads a whole piece, counting rows only; returns the rows in it. */
unsigned long long rowscan_count(struct rowscan *s, const char *data, size_t len);

#endif
