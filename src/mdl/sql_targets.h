/* Reads one SQL statement (as PROCESSLIST.INFO shows it) and tells which
 * tables it targets and which metadata lock it requests on each of them. */
#ifndef MDLSAFE_SQL_TARGETS_H
#define MDLSAFE_SQL_TARGETS_H

#include <stdbool.h>
#include <stddef.h>

#include "mdl/mdl_type.h"

enum sql_stmt_kind {
	SQL_STMT_UNKNOWN = 0,
	SQL_STMT_SELECT,
	SQL_STMT_INSERT,
	SQL_STMT_UPDATE,
	SQL_STMT_DELETE,
	SQL_STMT_REPLACE,
	SQL_STMT_ALTER_TABLE,
	SQL_STMT_CREATE_INDEX,
	SQL_STMT_DROP_INDEX,
	SQL_STMT_CREATE_TRIGGER,
	SQL_STMT_DROP_TRIGGER,
	SQL_STMT_RENAME_TABLE,
	SQL_STMT_TRUNCATE,
	SQL_STMT_OPTIMIZE,
	SQL_STMT_DROP_TABLE,
	SQL_STMT_CREATE_TABLE,
	SQL_STMT_LOCK_TABLES,
	SQL_STMT_FLUSH_TABLES,
	SQL_STMT_OTHER_DDL,
};

/* One table the statement locks. Names are unquoted ("a`b" for `a``b`).
 * `lock` is MDL_TYPE_UNKNOWN only where the server waits on something that
 * is not a metadata lock (plain FLUSH TABLES t1: table-cache flush) or the
 * text was cut before the lock mode (LOCK TABLES t1 <truncated>). */
struct sql_table_ref {
	char *schema; /* NULL when unqualified */
	char *name;
	enum mdl_type lock;
};

/* Every string and the `tables` array are heap-allocated and owned by the
 * struct; sql_targets_release() frees them all. Tables appear in statement
 * order, each (schema, name) once with the strongest lock requested. */
struct sql_targets {
	enum sql_stmt_kind kind;
	bool is_ddl;
	struct sql_table_ref *tables;
	size_t n_tables;
	char *trigger_schema, *trigger_name; /* DROP TRIGGER only: table must be looked up */
};

/* Parses `sql`; fills *out (caller calls sql_targets_release). Returns 0 when
 * the statement kind was recognised (tables may still be empty), -1 when not
 * understood (out->kind = SQL_STMT_UNKNOWN, nothing allocated) or on
 * allocation failure. Never prints, never exits. */
int sql_targets_parse(const char *sql, struct sql_targets *out);

/* Frees everything *t owns and zeroes it; safe on a zeroed struct and on
 * NULL, and safe to call twice. */
void sql_targets_release(struct sql_targets *t);

/* "ALTER TABLE", "SELECT", ...; "UNKNOWN" for out-of-range values. Never NULL. */
const char *sql_stmt_kind_name(enum sql_stmt_kind kind);

#endif
