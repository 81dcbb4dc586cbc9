/* A point-in-time picture of the server's sessions, transactions and metadata
 * locks, read from the best source the server offers. Input of the graph. */
#ifndef MDLSAFE_SNAPSHOT_H
#define MDLSAFE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>

#include "mdl/mdl_type.h"

enum mdl_source {
	MDL_SOURCE_AUTO = 0,
	MDL_SOURCE_PFS,         /* performance_schema.metadata_locks: exact */
	MDL_SOURCE_PLUGIN,      /* metadata_lock_info: exact holders, inferred waits */
	MDL_SOURCE_PROCESSLIST, /* processlist + INNODB_TRX: holders are candidates */
};

struct mdl_session {
	unsigned long long id;
	char *user, *host, *db, *command, *state, *info;
	double time_s;        /* seconds in the current command/state */
	bool waiting_mdl;     /* the state is a metadata-lock wait */
	bool has_trx;         /* an InnoDB transaction is open */
	double trx_age_s;
	unsigned long long trx_rows_modified;
	bool is_mdlsafe;      /* one of ours: holds its DB_SESSION_LOCK (db/db.h) */
	bool owner_unknown;   /* the server cannot mark sessions (no GET_LOCK):
				 it may be ours, so nothing may kill it */
	bool is_system;       /* replication, event scheduler, server threads */
};

struct mdl_lock {
	size_t session;       /* index into mdl_snapshot.sessions */
	char *object_type;    /* "TABLE", "SCHEMA", "BACKUP", ... */
	char *schema, *name;  /* NULL for global objects */
	enum mdl_type type;
	char *type_name;      /* as the server spelled it (types we do not model) */
	bool granted;
	bool inferred;        /* guessed from the statement text, not read from the server */
};

struct mdl_row_wait {        /* InnoDB row-lock wait (--all) */
	unsigned long long waiting_id, blocking_id;
	char *table;             /* `db`.`t` as InnoDB names it */
	double wait_s;
};

struct mdl_snapshot {
	enum mdl_source source;
	bool holders_exact;
	char *server_version;
	double taken_at;         /* unix time, seconds */
	unsigned long long self_id; /* the session that took the snapshot */
	struct mdl_session *sessions;
	size_t n_sessions;
	struct mdl_lock *locks;
	size_t n_locks;
	struct mdl_row_wait *row_waits;
	size_t n_row_waits;
	bool row_waits_loaded;
};

const char *mdl_source_name(enum mdl_source s);
/* Accepts "auto", "performance_schema"/"pfs", "metadata_lock_info"/"plugin",
 * "processlist"; returns -1 for anything else. */
int mdl_source_parse(const char *s, enum mdl_source *out);

/* Adds inferred pending requests for waiting sessions, from their statement
 * text, when the source does not list pending requests. Pure; exposed so the
 * graph tests can build snapshots like the loader does. */
int mdl_snapshot_infer_waits(struct mdl_snapshot *s);

/* Appends a lock row (copies the strings). Returns -1 on allocation failure. */
int mdl_snapshot_add_lock(struct mdl_snapshot *s, size_t session, const char *object_type,
			  const char *schema, const char *name, const char *type_name,
			  bool granted, bool inferred);

/* Appends a session (copies the strings); returns its index or -1. */
long mdl_snapshot_add_session(struct mdl_snapshot *s, const struct mdl_session *tmpl);

void mdl_snapshot_release(struct mdl_snapshot *s);

/* True for processlist states that mean "waiting for a metadata lock". */
bool mdl_state_is_mdl_wait(const char *state);

#endif
