/* Connections to the server: how the user asked to connect (db_params), how
 * every mdlsafe session is set up, and query helpers that fill struct ms_err. */
#ifndef MDLSAFE_DB_H
#define MDLSAFE_DB_H

#include <mysql.h>
#include <stdbool.h>

#include "util/error.h"

/* What the user gave on the command line; NULL / 0 / false means "not given"
 * so option files and the environment can supply it, as in the mariadb client.
 * Strings are owned by whoever filled the struct (db_params_release frees). */
struct db_params {
	char *host, *user, *password, *socket, *database;
	unsigned port;
	bool password_set;         /* password given (possibly empty) */
	char *defaults_file;       /* read only this option file */
	char *defaults_extra_file; /* read this one after the usual files */
	bool no_defaults;          /* read no option file at all */
	bool ssl;
	bool ssl_verify_server_cert;
	char *ssl_ca, *ssl_cert, *ssl_key;
	unsigned connect_timeout;  /* seconds; 0: 10 */
};

void db_params_release(struct db_params *p);

/* How a session of ours must behave on the server. Zero fields take the
 * defaults below, which keep a dead or stuck mdlsafe from holding locks. */
struct db_session_opts {
	double lock_wait_timeout;      /* s, default 1: no request of ours waits long */
	unsigned wait_timeout;         /* s, default 300: idle connections are dropped */
	unsigned idle_trx_timeout;     /* s, default 300: idle open transactions die */
	double max_statement_time;     /* s, default 0 (none) */
	unsigned read_timeout;         /* s the client waits for a reply; default 0 (none) */
};

#define DB_ROLE_MAX 48

struct db {
	MYSQL *mysql;
	unsigned long thread_id;       /* our connection id on the server */
	unsigned long server_version;  /* e.g. 101119 for 10.11.19 */
	bool is_mariadb;
	bool marked;                   /* holds its DB_SESSION_LOCK (see below) */
	char role[DB_ROLE_MAX];        /* e.g. "locks", "watchdog", "worker-2" */
	char target[320];              /* "socket /run/mysqld/mysqld.sock as root" */
};

/* Opens a session for `role`, applies db_session_opts, marks it as
 * mdlsafe's (DB_SESSION_LOCK), and records in db->target what was tried,
 * for error messages. On failure *db is closed and e says what was tried,
 * the server's words, and the likely fix. */
int db_open(struct db *db, const struct db_params *p, const char *role,
	    const struct db_session_opts *opts, struct ms_err *e);
void db_close(struct db *db);

/* Runs a statement that returns no rows. Every statement is sent with a
 * leading comment naming mdlsafe and the role, so a DBA reading the
 * processlist knows whose it is. */
int db_exec(struct db *db, const char *sql, struct ms_err *e);

/* For statements too big to copy (restore's multi-row INSERTs): the caller
 * writes the marker db_exec would add (db_statement_mark, which returns its
 * length as snprintf does) at the start of its own buffer and sends len
 * bytes as they are. */
int db_statement_mark(const struct db *db, char *out, size_t n);
int db_exec_marked(struct db *db, const char *sql, size_t len, struct ms_err *e);

/* Runs a query and stores its whole result in *res (caller frees with
 * mysql_free_result). */
int db_query(struct db *db, const char *sql, MYSQL_RES **res, struct ms_err *e);

/* Sends a query whose rows are read one at a time (mysql_use_result), for
 * results too big to hold: *res is the caller's to drain and free. */
int db_stream(struct db *db, const char *sql, MYSQL_RES **res, struct ms_err *e);

/* Runs a query expected to return one value; *out is the caller's to free,
 * NULL for SQL NULL or no row. */
int db_query_value(struct db *db, const char *sql, char **out, struct ms_err *e);

/* Turns the connection's last error into *e, with `what` as context and a
 * fix suggestion for the common cases (privileges, lost connection). */
int db_fail(struct db *db, struct ms_err *e, const char *what);

/* Bytes of the longest database, table or column name: 64 characters of
 * up to 4 bytes in utf8mb4. Every buffer that holds a name holds this many
 * (plus its NUL); a longer string is not a name, never a name cut short. */
#define DB_NAME_MAX 256

/* Appends `ident` quoted with backticks (doubling embedded backticks) to a
 * freshly allocated string the caller frees. The only way mdlsafe builds
 * identifiers into SQL. */
char *db_quote_ident(const char *ident);

/* The same quoting appended to a buf being built: on out of memory b->failed
 * is set (never an empty `` name sent to the server), so a caller checks
 * b->failed once before running the statement. */
struct buf;
void buf_add_ident(struct buf *b, const char *ident);

/* `schema`.`name`, each part through buf_add_ident(). */
void buf_add_qualified(struct buf *b, const char *schema, const char *name);

/* Escapes `s` as a single-quoted SQL string literal for this connection's
 * character set; caller frees. */
char *db_quote_string(struct db *db, const char *s);

/* The comment every mdlsafe statement starts with, so a DBA reading the
 * processlist knows whose it is. Any client can write it: it proves nothing. */
#define DB_STATEMENT_MARK "/* mdlsafe"

/*
 * What does prove a session is mdlsafe's: from connect to close, each one
 * holds the user-level lock DB_SESSION_LOCK followed by its own connection
 * id, so IS_USED_LOCK(CONCAT(DB_SESSION_LOCK, ID)) = ID holds for mdlsafe's
 * sessions, busy or idle, with or without performance_schema. A user lock
 * lives as long as the connection: transactions, ROLLBACK TO SAVEPOINT,
 * BACKUP STAGE and LOCK TABLES leave it alone, and it conflicts with
 * nothing but a GET_LOCK of the same name. A session can only take it for
 * its own id, so the mark cannot be put on another session (a client that
 * takes it for itself on purpose is treated as mdlsafe's, as a comment was).
 *
 * A server that refuses GET_LOCK (Galera with wsrep_on, in some versions)
 * leaves db->marked false: no session there can be told to be mdlsafe's,
 * and the kill policies then kill nothing (MDL_SESSION_OWNER_UNKNOWN).
 */
#define DB_SESSION_LOCK "mdlsafe.session."

#endif
