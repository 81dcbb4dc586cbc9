/* Definitions to SQL text: databases, sequences, tables, triggers, views,
 * routines and events as statements the plain mariadb client restores. */
#ifndef MDLSAFE_SCHEMA_H
#define MDLSAFE_SCHEMA_H

#include "db/db.h"
#include "dump/plan.h"
#include "util/error.h"

/*
 * The session must have been prepared with rowfmt_session_prepare (sql_mode
 * '' and sql_quote_show_create=1: other modes change what SHOW CREATE prints).
 *
 * Restore order, each part with the rowfmt_file_header settings in effect:
 *	database, sequences, tables, data, triggers, routines, views, events.
 * Sequences come before tables because a column DEFAULT may use one (NEXT
 * VALUE FOR s): CREATE TABLE fails when it does not exist. Routines come
 * before views because CREATE VIEW fails when a stored
 * function it calls does not exist yet (checked on 10.11); routines do not
 * check the tables or views they use. Triggers come after the data so they
 * do not fire on the rows being restored.
 *
 * Names of the dumped database inside bodies stay as the user wrote them: a
 * trigger or routine that says `db`.`t` still does after a restore into
 * another database. Sequences, tables, data and views are unqualified, and
 * so is a table's DEFAULT that uses a sequence of its own database.
 *
 * Each object is recreated with the DEFINER and SQL SECURITY it had. A
 * definer account that does not exist at restore does not stop the CREATE
 * (the server only warns, for a user with SET USER/SUPER); using the object
 * then fails with error 1449 until the account is created.
 */

/* CREATE DATABASE statement (SHOW CREATE DATABASE), without a terminator;
 * caller frees. */
int schema_create_database(struct db *db, const char *schema, char **sql, struct ms_err *e);

/* SHOW CREATE TABLE text (AUTO_INCREMENT kept, table unqualified, and
 * sequences of `schema` unqualified in DEFAULTs), without a terminator;
 * caller frees. Fails for a view. */
int schema_show_create_table(struct db *db, const char *schema, const char *table, char **sql,
			     struct ms_err *e);

/*
 * The blocks below are complete SQL (terminated statements, DELIMITER
 * blocks), or *sql = NULL when there is no such object. Each object is
 * created under the sql_mode, collation_connection (and, for events,
 * time_zone) it was created with; the block saves and restores the session's.
 * Caller frees.
 */

/* Triggers of one table, in ACTION_ORDER within each timing and event. */
int schema_table_triggers(struct db *db, const char *schema, const char *table, char **sql,
			  struct ms_err *e);

/* Views of a database, a view after the views it uses. Makes `schema` the
 * session's default database: SHOW CREATE VIEW leaves names of the view's
 * own database unqualified only then, so the views restore into any name. */
int schema_views(struct db *db, const char *schema, char **sql, struct ms_err *e);

/* Stored functions, procedures, packages and package bodies (in that order). */
int schema_routines(struct db *db, const char *schema, char **sql, struct ms_err *e);

/* Events. */
int schema_events(struct db *db, const char *schema, char **sql, struct ms_err *e);

/* The sequences of a database that f selects (as tables are, on
 * "schema.sequence"), each as its CREATE SEQUENCE and the statements that
 * make its next NEXTVAL return what the original's would (cached values
 * are skipped, as after a server restart). */
int schema_sequences(struct db *db, const char *schema, const struct dump_filter *f, char **sql,
		     struct ms_err *e);

#endif
