/* State shared by the restore coordinator, its loader threads and the
 * post-load steps. Mutable fields are guarded by restore.mu unless noted. */
#ifndef MDLSAFE_RESTORE_INTERNAL_H
#define MDLSAFE_RESTORE_INTERNAL_H

#include <pthread.h>

#include "mdl/lockreq.h"
#include "mdl/watchdog.h"
#include "restore/journal.h"
#include "restore/restore.h"
#include "store/verify.h"

#define RESTORE_SHADOW_PREFIX "_mdlsafe_new_"
#define RESTORE_OLD_PREFIX "_mdlsafe_old_"

struct rchunk {
	size_t table;
	unsigned index;
	struct backup_file f;          /* strings borrowed from the manifest */
	const char *where;             /* the chunk's primary-key range; NULL: whole table */
	bool done;
};

struct rtable {
	const char *src_db, *name, *engine;  /* borrowed from the manifest */
	const char *db;                /* target database */
	struct backup_file schema, triggers;
	bool has_schema, has_triggers;
	struct rchunk *chunks;
	size_t n_chunks, chunks_done;
	unsigned long long bytes, rows;
	bool exists;                   /* a table or view of this name existed at the start */
	bool skip;                     /* --if-exists skip: left alone */
	bool created;                  /* created by this restore (or the run it resumes) */
	char load_name[DB_NAME_MAX + 1]; /* where rows go: the name, or the shadow in swap mode */
	char old_name[DB_NAME_MAX + 1];  /* swap/replace: the name the existing table moves to */
	char *deferred_keys;           /* "ADD KEY ..., ..." built after the data; NULL: none */
	bool parse_only;               /* create_table: read the schema file, create nothing */
	bool keys_taken;               /* a session is adding the deferred indexes */
	bool external;                 /* restore_opts.external: created and filled by import_tables() */
};

struct rdb {
	const char *src, *name;        /* backup name, target name */
	struct backup_file schema, sequences, views, routines, events;
	bool has_schema, has_sequences, has_views, has_routines, has_events;
};

struct restore;

struct rworker {
	struct restore *rs;
	unsigned index;
	struct db db;
	struct backup_reader *reader;
};

struct restore {
	const struct restore_opts *o;
	json_t *manifest;
	int dir_fd;
	struct rdb *dbs;
	size_t n_dbs;
	struct rtable *tables;
	size_t n_tables;
	struct rchunk **queue;         /* chunks to load, biggest first */
	size_t n_queue, next;
	struct journal *journal;
	struct db coord, probe;
	bool probe_open;
	struct rworker *workers;
	unsigned n_workers;
	struct watchdog *watchdog;     /* makes a loader let go when someone queues behind it; may be NULL */
	unsigned long max_packet;      /* the server's max_allowed_packet */
	char backup_id[17];            /* XXH3 of manifest.json */

	pthread_mutex_t mu;
	bool failed;
	struct ms_err err;             /* first error */
	unsigned long long rows, bytes, bytes_total;
	size_t tables_done;
	unsigned definer_fallbacks, lock_retries, yields;
	json_t *warnings;              /* strings */
	json_t *rewrites;              /* --rename: names changed in the backup's SQL (rename.h) */
	double started_at, deadline;
	double verify_reported_at;     /* last progress report while verifying */
};

/* plan.c: the manifest as databases, tables and chunks, filtered and renamed. */
int restore_plan_load(struct restore *rs, struct ms_err *e);
void restore_plan_release(struct restore *rs);
/* The load queue: every chunk not skipped or done, biggest first, so the
 * workers finish together. */
int restore_plan_queue(struct restore *rs, struct ms_err *e);
/* Whether -B, --tables and --exclude choose table or sequence `name` of
 * the backup's database `src`. */
bool restore_chosen(const struct restore *rs, const char *src, const char *name);
/* The journal's key for table `name` of database `db`: both quoted, so two
 * tables never share one ("a.b"."c" and "a"."b.c"). NULL when out of
 * memory; caller frees. */
char *restore_table_key(const char *db, const char *name);

/* load.c */
int restore_worker_open(struct restore *rs, struct rworker *w, const char *role, struct ms_err *e);
/* A loader thread of the pool (util/pool.h): ctx is the restore, index its worker. */
int restore_worker_main(void *ctx, unsigned index, struct ms_err *e);
/* Runs a whole (small) SQL file: schema, triggers, routines, views, events.
 * Each statement goes through fn when not NULL (to rewrite or skip it). */
typedef int (*restore_stmt_fn)(struct restore *rs, struct db *db, const char *stmt, size_t len, void *ctx,
			       struct ms_err *e);
int restore_run_file(struct restore *rs, struct db *db, struct backup_reader *rd, const struct backup_file *f,
		     restore_stmt_fn fn, void *ctx, struct ms_err *e);

/* Adds t's deferred indexes once all its chunks are in (journaled, so
 * once); the ALTER never waits for a lock: NOWAIT, retried with backoff. */
int restore_add_keys(struct restore *rs, struct db *db, struct rtable *t, struct ms_err *e);

/* objects.c: CREATE of sequences, views, triggers, routines and events,
 * with the definer policy and --if-exists applied. A sequence is created
 * only when the filters select it, as a table would be, with the
 * statements that set its state; it is journaled once they ran. */
int restore_objects_file(struct restore *rs, struct db *db, struct backup_reader *rd, const struct rdb *d,
			 const struct backup_file *f, const char *what, struct ms_err *e);

/* check.c: --verify, re-reads each restored table as backup writes it and
 * compares XXH3 per chunk. Fills *report (caller decrefs): one entry per
 * table that differs. */
int restore_check(struct restore *rs, json_t **report, struct ms_err *e);

/* restore.c */
void restore_note(struct restore *rs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void restore_fail(struct restore *rs, const struct ms_err *e);
bool restore_cancelled(struct restore *rs);
struct lockreq_opts restore_lockreq_opts(struct restore *rs, const char *what);
/* Whether the session reads backslashes as ordinary bytes (sql_mode
 * NO_BACKSLASH_ESCAPES), as the server said after the last statement. */
bool restore_no_backslash_escapes(const struct db *db);

#endif
