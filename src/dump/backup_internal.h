/* State shared by the backup coordinator and its worker threads. Everything
 * mutable here is guarded by backup.mu unless marked otherwise. */
#ifndef MDLSAFE_BACKUP_INTERNAL_H
#define MDLSAFE_BACKUP_INTERNAL_H

#include <pthread.h>

#include "dump/backup.h"
#include "mdl/lockreq.h"
#include "mdl/watchdog.h"

enum table_consistency {
	TABLE_SNAPSHOT,      /* read in the shared snapshot */
	TABLE_AFTER_DDL,     /* yielded to DDL, re-read later in its own snapshot */
	TABLE_OWN_LOCK,      /* non-transactional: read under its own short lock */
};

struct table_state {
	struct dump_table *t;          /* borrowed from the plan */
	struct store_file_info schema_file, triggers_file;
	bool has_schema, has_triggers;
	struct store_file_info *chunk_files;  /* n_chunks */
	bool *chunk_done;
	size_t chunks_done;
	unsigned long long rows;
	enum table_consistency consistency;
	bool redo;                     /* yielded: read again after the snapshot phase */
	bool queued_redo;
	unsigned yields;
	unsigned attempts;             /* redo attempts */
	char note[256];
};

/* One unit of work: a chunk of a table. */
struct work_item {
	size_t table;
	size_t chunk;                  /* SIZE_MAX: every chunk (redo, non-transactional) */
};

enum phase { PHASE_SNAPSHOT, PHASE_AFTER };

struct worker {
	struct backup *bk;
	unsigned index;
	struct db db;
	bool binlog_off;               /* sql_log_bin=0: ROLLBACK TO SAVEPOINT releases locks */
};

struct backup {
	const struct backup_opts *o;
	struct store *store;
	struct dump_plan plan;
	struct table_state *tables;
	struct worker *workers;
	unsigned n_workers;
	struct db coord;
	struct watchdog *watchdog;

	pthread_mutex_t mu;
	struct work_item *items;       /* snapshot phase queue */
	size_t n_items, next_item;
	struct work_item *after;       /* redo + non-transactional queue */
	size_t n_after, next_after;
	bool cancel;
	bool failed;
	struct ms_err err;             /* first error */
	unsigned yields;
	unsigned long long rows, bytes_raw, bytes_stored, est_done;
	size_t tables_done;

	/* Consistency point, read once before the workers start. */
	char binlog_file[256];
	unsigned long long binlog_pos;
	char gtid[512];
	char method[48];
	double commit_block_ms;        /* BLOCK_COMMIT sent .. END returned */
	double block_commit_wait_ms;   /* BLOCK_COMMIT sent .. granted */
	double started_at, finished_at;
	bool sql_log_bin_denied;
};

/* consistency.c: gives every worker a snapshot of the same instant. */
int backup_consistent_point(struct backup *bk, struct ms_err *e);

/* worker.c */
int backup_worker_open(struct backup *bk, struct worker *w, struct ms_err *e);
void *backup_worker_main(void *arg);        /* snapshot phase */
void *backup_worker_after_main(void *arg);  /* redo and non-transactional tables */
void backup_fail(struct backup *bk, const struct ms_err *e);

/* manifest.c */
json_t *backup_manifest(struct backup *bk, json_t *db_files);

/* The consistency point as JSON, for the manifest and the --json summary. */
json_t *backup_consistency_json(const struct backup *bk);

#endif
