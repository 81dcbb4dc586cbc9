/* Reads the SQL files a backup wrote: splits them into the statements the
 * server runs, and finds the names and DEFINER clauses restore rewrites. */
#ifndef MDLSAFE_SQLSPLIT_H
#define MDLSAFE_SQLSPLIT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Splitting follows the mariadb command-line client (with --comments):
 *
 * - The current delimiter (";" at first) ends a statement, except inside
 *   '...' and "..." strings (doubled quote or backslash escapes the quote),
 *   `...` identifiers (doubled backtick; a backslash is an ordinary byte),
 *   "-- " comments ("--" then whitespace or the end of text; "--x" is not a
 *   comment), "#" comments and slash-star comments.
 * - Executable comments (slash-star followed by ! or M!) are SQL text: they
 *   can begin a statement, and their content is split like any other SQL.
 * - "DELIMITER x" (any case, then a space or tab) is a client command where
 *   a statement would begin: x is the next word, up to whitespace, at most
 *   SQLSPLIT_DELIM_MAX bytes, without a backslash; the rest of its line is
 *   ignored and nothing is sent to the server. Inside a statement the word
 *   is left alone: a routine body may declare a variable called delimiter.
 *   No other client command (\G, source, ...) is understood.
 * - Whitespace and comments between statements are dropped. A statement is
 *   the text from its first token to its delimiter, trimmed of whitespace:
 *   comments inside it are kept verbatim (routine bodies keep theirs).
 *   Empty statements (";;" alone) are skipped. The last statement needs no
 *   delimiter.
 * - Line numbers are 1-based and count '\n', so CRLF text works too.
 *
 * Statements point into the caller's text: nothing is copied or allocated.
 */

/* Errors; distinct from -1, which callbacks return by project convention. */
enum {
	SQLSPLIT_UNTERMINATED = -2, /* a quote or comment is still open at the end */
	SQLSPLIT_BAD_DELIMITER = -3, /* DELIMITER without a usable word after it */
};

#define SQLSPLIT_DELIM_MAX 15

struct sqlsplit_stmt {
	const char *text; /* borrowed from the split text, not NUL-terminated */
	size_t len;
	unsigned line; /* where its first token is */
};

/*
 * An iterator over one text. Two fields are the caller's, the rest private:
 * - no_backslash_escapes: set it between calls to follow the server, as the
 *   client does from SERVER_STATUS_NO_BACKSLASH_ESCAPES after each statement;
 *   then a backslash in '...' or "..." is an ordinary byte, as it is under
 *   sql_mode NO_BACKSLASH_ESCAPES.
 * - error_line: after an error, the line where the open quote or comment
 *   starts, or of the bad DELIMITER command.
 */
struct sqlsplit {
	const char *text;
	size_t len;
	size_t pos;
	char delim[SQLSPLIT_DELIM_MAX + 1];
	size_t delim_len;
	bool no_backslash_escapes;
	int error;
	unsigned error_line;
	size_t counted; /* '\n' before this offset are in `line` */
	unsigned line;
};

/* Starts splitting text[0..len) with ";" as the delimiter. The text must
 * outlive the iterator and the statements it hands out. */
void sqlsplit_init(struct sqlsplit *s, const char *text, size_t len);

/* Fills *out with the next statement and returns 1; returns 0 at the end of
 * the text, or SQLSPLIT_UNTERMINATED / SQLSPLIT_BAD_DELIMITER (and keeps
 * returning it). Statements before the error were handed out as usual. */
int sqlsplit_next(struct sqlsplit *s, struct sqlsplit_stmt *out);

/* Calls fn for each statement of text, in order. Stops at the first non-zero
 * return of fn and returns that value; returns 0 when every statement went
 * through, or a SQLSPLIT_* error (statements before it were passed to fn).
 * Use the iterator to follow NO_BACKSLASH_ESCAPES or to get error_line. */
int sqlsplit_each(const char *text, size_t len,
		  int (*fn)(void *ctx, const char *stmt, size_t stmt_len, unsigned line), void *ctx);

/*
 * Statement heads. The functions below read the head of one statement (as
 * sqlsplit_next hands it out, or any text): keywords in any case, comments
 * anywhere, and the opening and closing marks of executable comments read
 * as whitespace, so a DEFINER that mysqldump wraps in a versioned comment is
 * found too. They read only as far as the part they look for, never the
 * whole statement: bodies and INSERT values can be many MiB.
 *
 * Names are bare words or `quoted` (`` inside stands for one backtick);
 * they are handed back unquoted, and longer than SQLSPLIT_NAME_MAX bytes is
 * not a name (the server allows 64 characters).
 */
#define SQLSPLIT_NAME_MAX 256

/* One object name; start/end (end exclusive) span the whole name in the
 * statement, both parts and the dot when qualified, quotes included, so
 * replacing that span renames (or requalifies) the object. */
struct sqlsplit_name {
	char schema[SQLSPLIT_NAME_MAX + 1]; /* "" when unqualified */
	char name[SQLSPLIT_NAME_MAX + 1];
	size_t start, end;
};

enum sqlsplit_kind {
	SQLSPLIT_NONE = 0,
	SQLSPLIT_TABLE,
	SQLSPLIT_VIEW,
	SQLSPLIT_TRIGGER,
	SQLSPLIT_FUNCTION,
	SQLSPLIT_PROCEDURE,
	SQLSPLIT_EVENT,
	SQLSPLIT_PACKAGE,
	SQLSPLIT_PACKAGE_BODY,
	SQLSPLIT_DATABASE, /* also CREATE SCHEMA */
	SQLSPLIT_SEQUENCE, /* SHOW CREATE TABLE gives this for a sequence */
};

struct sqlsplit_object {
	enum sqlsplit_kind kind;
	struct sqlsplit_name name;
	struct sqlsplit_name table; /* TRIGGER: the table after ON; zeroed otherwise */
};

/* Upper-case SQL name of a kind ("PACKAGE BODY"), "" for SQLSPLIT_NONE. */
const char *sqlsplit_kind_name(enum sqlsplit_kind kind);

/*
 * Recognises "CREATE [OR REPLACE] [ALGORITHM = x] [DEFINER = account]
 * [SQL SECURITY x] [TEMPORARY] [AGGREGATE] kind [IF NOT EXISTS] name", kind
 * being TABLE, VIEW, TRIGGER, FUNCTION, PROCEDURE, EVENT, PACKAGE [BODY],
 * DATABASE, SCHEMA or SEQUENCE, and for a trigger "{BEFORE|AFTER} event ON
 * table" after its name. DATABASE names cannot be qualified. Returns false,
 * with *out zeroed, for anything else.
 */
bool sqlsplit_create_object(const char *stmt, size_t len, struct sqlsplit_object *out);

/* Spans (end exclusive) in the statement. The account is as written, e.g.
 * "`root`@`localhost`", "'app'@'%'", "CURRENT_USER()", "`role`". */
struct sqlsplit_definer {
	size_t start, end; /* the whole clause, from DEFINER to the account's end */
	size_t account_start, account_end;
};

/*
 * Finds the DEFINER = account clause of a CREATE statement (a head as
 * sqlsplit_create_object reads it), the account being user@host (each part
 * `quoted`, 'quoted', "quoted" or a bare word), a role without a host,
 * CURRENT_USER, CURRENT_ROLE or either with (). Returns false, with *out
 * zeroed, when the statement has no such clause before its object keyword
 * (a "SQL SECURITY DEFINER" is not one) or is not such a CREATE.
 */
bool sqlsplit_find_definer(const char *stmt, size_t len, struct sqlsplit_definer *out);

/* Returns a NUL-terminated copy of the statement with its DEFINER clause
 * replaced by `replacement` (e.g. "DEFINER=CURRENT_USER"), or an unchanged
 * copy when it has none; NULL when out of memory. Caller frees. */
char *sqlsplit_replace_definer(const char *stmt, size_t len, const char *replacement);

/* For "INSERT [LOW_PRIORITY|DELAYED|HIGH_PRIORITY] [IGNORE] INTO name ...",
 * fills *out with the table and its span. Reads past the name only up to the
 * next token (to see that the name is not qualified). False, with *out
 * zeroed, for any other statement. */
bool sqlsplit_insert_target(const char *stmt, size_t len, struct sqlsplit_name *out);

/*
 * Database names in one statement, for restoring under another name. The
 * whole statement is read token by token, as the server reads it: '...'
 * strings and comments are skipped, the content of executable comments is
 * SQL. Two places hold a database name:
 * - a qualifier: a name (bare, `quoted`, or "quoted" for ANSI_QUOTES) that
 *   is followed by "." and a name or "*", and not itself preceded by "."
 *   (in db.t.c only db is one; in t.sbtest nothing is). Whitespace and
 *   comments may sit around the dot. @variables (@a.b, @@session.x) and
 *   numbers (1.5) are not names.
 * - the name after USE at the start of the statement, or after DATABASE or
 *   SCHEMA (and an optional IF [NOT] EXISTS) when no "(" follows.
 * A table or alias spelled like a database and used as a qualifier (s.c
 * where s is a table) reads as a database name: text alone cannot tell.
 */
struct sqlsplit_ref {
	char name[SQLSPLIT_NAME_MAX + 1]; /* unquoted */
	size_t start, end;                /* the database name, quotes included */
	size_t ref_end;                   /* end of the whole reference (db.t), for messages */
	bool qualifier;                   /* false: after USE, DATABASE or SCHEMA */
};

/* Calls fn for each database name in stmt[0..len), in order. Returns 0,
 * fn's first non-zero return, or SQLSPLIT_UNTERMINATED when a quote or
 * comment does not close. no_backslash_escapes as in struct sqlsplit. */
int sqlsplit_db_refs(const char *stmt, size_t len, bool no_backslash_escapes,
		     int (*fn)(void *ctx, const struct sqlsplit_ref *ref), void *ctx);

#endif
