/* --rename for the SQL a restore runs: database names in the backup's
 * statements follow the rename, and a statement that would still reach a
 * renamed source database is refused before it runs. */
#ifndef MDLSAFE_RESTORE_RENAME_H
#define MDLSAFE_RESTORE_RENAME_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "restore/restore.h"
#include "util/error.h"

/*
 * Rewrites one statement of the backup to run in database `target`:
 * - every database name sqlsplit_db_refs finds (a qualifier such as the
 *   sbtest of sbtest.t or `sbtest` . `t`, or the name after USE, DATABASE
 *   or SCHEMA) that a --rename moves (o->renames[i].from, compared without
 *   regard to ASCII case) becomes the quoted new name; strings, comments
 *   and other databases are left alone;
 * - the qualifier of the object a CREATE makes (and of a trigger's ON
 *   table), when it is not `target`, becomes `target`.
 * Then it runs restore_rename_check on the result.
 *
 * On success *out is a NUL-terminated copy, changed or not (caller frees).
 * When log is not NULL, one object per change is appended to it:
 * {"file", "line", "from", "to"}, line being `line` plus the lines before
 * the change within the statement (file may be NULL, line 0: not known).
 */
int restore_rename_sql(const struct restore_opts *o, const char *target, const char *stmt, size_t len,
		       bool no_backslash_escapes, const char *file, unsigned line, json_t *log, char **out,
		       struct ms_err *e);

/*
 * The safety net, independent of the rewriting: returns 0 when the
 * statement names none of the databases a --rename moves, else fails
 * (MS_USAGE) naming the file and line (when given), the reference and what
 * to do. A quote or comment that does not close fails too (MS_INCOMPLETE):
 * what the server would read cannot be known.
 */
int restore_rename_check(const struct restore_opts *o, const char *stmt, size_t len, bool no_backslash_escapes,
			 const char *file, unsigned line, struct ms_err *e);

/* For reading a file without running it: after statement stmt, whether
 * backslashes are plain bytes (sql_mode NO_BACKSLASH_ESCAPES) when they
 * were as `nbe` before. Only a SET of sql_mode changes it. */
bool restore_rename_follow_mode(const char *stmt, size_t len, bool nbe);

#endif
