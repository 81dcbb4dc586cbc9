/* Reads a wait-graph snapshot from a live server, choosing the most exact
 * source it offers, and optionally switches that source on. */
#ifndef MDLSAFE_INSPECT_H
#define MDLSAFE_INSPECT_H

#include "db/db.h"
#include "mdl/snapshot.h"

struct mdl_capabilities;

struct mdl_inspect_opts {
	enum mdl_source source;   /* AUTO: best available */
	bool row_locks;           /* also read InnoDB row-lock waits */
	/* What mdl_inspect_probe found earlier on this connection (already
	 * checked with mdl_inspect_require), so a poller need not ask five
	 * questions per poll; NULL: probe now. */
	const struct mdl_capabilities *caps;
};

/* What the server can tell us; filled by mdl_inspect_probe. */
struct mdl_capabilities {
	bool pfs_on;              /* performance_schema=ON at startup */
	bool pfs_mdl_instrument;  /* wait/lock/metadata/sql/mdl enabled */
	bool plugin_active;       /* metadata_lock_info installed */
	bool has_process_priv;
	bool has_innodb_trx;
};

int mdl_inspect_probe(struct db *db, struct mdl_capabilities *caps, struct ms_err *e);

/* Checks the privileges the inspector needs; MS_PRIVILEGE with the GRANT
 * to run when PROCESS is missing (without it the processlist silently shows
 * only the user's own sessions, which would make every answer wrong). */
int mdl_inspect_require(struct db *db, const struct mdl_capabilities *caps, struct ms_err *e);

/* Picks the source: the requested one if available (else MS_USAGE saying how
 * to enable it), or the most exact available for AUTO. */
int mdl_inspect_choose(const struct mdl_capabilities *caps, enum mdl_source want,
		       enum mdl_source *out, struct ms_err *e);

int mdl_inspect_load(struct db *db, const struct mdl_inspect_opts *o, struct mdl_snapshot *s,
		     struct ms_err *e);

/* The one-line verdict of `mdlsafe locks` right now (e.g. "2 sessions
 * frozen on 1 object, oldest 12 s, root blocker: 5 (...)"), for error
 * messages of commands that cannot proceed. NULL when it cannot be had
 * (no PROCESS privilege, connection gone). Caller frees. */
char *mdl_verdict_now(struct db *db);

/* Enables the performance_schema MDL instrument (when performance_schema is
 * ON) or installs the metadata_lock_info plugin. *what says which. */
int mdl_inspect_enable(struct db *db, const struct mdl_capabilities *caps, const char **what,
		       struct ms_err *e);

#endif
