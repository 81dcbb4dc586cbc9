/* `mdlsafe restore`, the library side: puts a verified backup back on a live
 * server, in parallel, resumably, and without any lock request of ours
 * making an application query wait longer than the stall budget. */
#ifndef MDLSAFE_RESTORE_H
#define MDLSAFE_RESTORE_H

#include <jansson.h>
#include <stdbool.h>

#include "db/db.h"
#include "dump/plan.h"
#include "util/error.h"

/* What to do with a table, view, routine or event that already exists. */
enum restore_if_exists {
	RESTORE_FAIL,     /* refuse before changing anything (default) */
	RESTORE_SKIP,     /* leave it as it is, restore the rest */
	RESTORE_REPLACE,  /* drop it, then load (the table is empty meanwhile) */
	RESTORE_SWAP,     /* load a shadow copy, then one atomic RENAME per database */
};

/* Whose name objects with a DEFINER (views, triggers, routines, events) run under. */
enum restore_definer {
	RESTORE_DEFINER_AUTO,     /* keep it when the account exists, else the current user */
	RESTORE_DEFINER_KEEP,     /* keep it always (the object fails until the account exists) */
	RESTORE_DEFINER_CURRENT,  /* always the current user */
};

struct restore_rename {
	char *from, *to;
};

struct restore_progress {
	const char *phase;                 /* "verify", "load", "finish", "check" */
	size_t tables_total, tables_done;
	unsigned long long rows, bytes, bytes_total;  /* uncompressed data */
	double elapsed_s;
	/* "verify" only (the tables are not known yet): the backup's file being
	 * checked and the bytes of its files (as stored) checked so far. */
	const char *verify_file;
	unsigned long long verified_bytes;
};

struct restore_opts {
	const struct db_params *conn;
	const char *dir;
	struct dump_filter filter;         /* names as in the backup */
	struct restore_rename *renames;
	size_t n_renames;
	unsigned jobs;
	enum restore_if_exists if_exists;
	enum restore_definer definer;
	bool no_binlog;                    /* sql_log_bin=0 on every session */
	bool resume;                       /* continue from the journal */
	bool verify;                       /* re-read every table and compare with the backup */
	bool keys_after_data;              /* build plain secondary indexes after the rows (InnoDB) */
	const char *journal;               /* NULL: "<DIR>.restore-journal" */
	/*
	 * Tables ("DB.T", names as in the backup) whose rows come from
	 * elsewhere: restore --physical imports their files. They are checked
	 * against --if-exists like the others, then created and filled by
	 * import_tables(), which runs after the checks and CREATE DATABASE and
	 * before any other table is created; their triggers are restored here.
	 */
	char **external;
	size_t n_external;
	int (*import_tables)(void *ctx, struct db *coord, struct ms_err *e);
	void *import_ctx;
	double max_stall_s;
	double timeout_s;                  /* 0: none */
	void (*progress)(void *ctx, const struct restore_progress *p);
	void (*note)(void *ctx, const char *line);
	void *ctx;
};

/* Restores o->dir. On success *summary (caller decrefs) holds what --json
 * prints. On failure e names the table and file that failed and why, and
 * the journal is kept for --resume. */
int restore_run(const struct restore_opts *o, json_t **summary, struct ms_err *e);

/* The target name of backup database src (--rename applied). */
const char *restore_target_db(const struct restore_opts *o, const char *src);

/* "DIR.restore-journal" for a backup directory (trailing slashes ignored);
 * caller frees. */
char *restore_default_journal(const char *dir);

#endif
