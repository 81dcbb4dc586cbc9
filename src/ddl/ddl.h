/* `mdlsafe ddl`, the library side: schema changes whose metadata-lock waits
 * never make an application query queue longer than the stall budget. */
#ifndef MDLSAFE_DDL_H
#define MDLSAFE_DDL_H

#include <jansson.h>
#include <stdbool.h>

#include "db/db.h"
#include "mdl/killpolicy.h"
#include "mdl/sql_targets.h"
#include "util/error.h"

struct ddl_opts {
	const struct db_params *conn;
	const char *database;          /* -D: for unqualified table names */
	char **statements;
	size_t n_statements;
	double max_stall_s;            /* the budget for one wait */
	double deadline_s;             /* give up after this long (whole run) */
	unsigned max_queue;            /* cancel an attempt early when this many queue behind it */
	struct kill_policies kill;     /* who may be killed (none: nobody) */
	bool dry_run, allow_copy, allow_unparsed;
	bool online;                   /* --online: route the one ALTER (see DDL_ROUTED_TO_COPY) */
	void (*note)(void *ctx, const char *line);   /* progress and log lines */
	void *ctx;
};

/* ddl_run() with o->online when the one statement is a copy or a rebuild
 * (or not for this path to judge): nothing ran; make it with online_run().
 * The report's `route` and `route_reason` say why. */
#define DDL_ROUTED_TO_COPY 1

/* Plans and runs every statement in order, stopping at the first that
 * fails. *report (caller decrefs) is the --json document, also on failure.
 * With o->online, a change the server makes without copying the table runs
 * here (the report's `route` is "alter"); any other returns
 * DDL_ROUTED_TO_COPY. */
int ddl_run(const struct ddl_opts *o, json_t **report, struct ms_err *e);

/* Where the table of an ALTER TABLE / CREATE INDEX / DROP INDEX statement
 * is named: its span [*a, *b) in sql (the name as written, maybe schema.name). */
bool ddl_table_span(const char *sql, enum sql_stmt_kind kind, const char **a, const char **b);

#endif
