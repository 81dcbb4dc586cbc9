/* What a backup will read: the tables chosen by the user's filters, their
 * engines, and how each is split into chunks by primary key. */
#ifndef MDLSAFE_PLAN_H
#define MDLSAFE_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "db/db.h"
#include "util/error.h"

struct dump_filter {
	char **dbs;          /* -B: whole databases (empty: all user databases) */
	size_t n_dbs;
	char **tables;       /* --tables DB.T */
	size_t n_tables;
	char **exclude;      /* --exclude glob on "DB.T" */
	size_t n_exclude;
};

struct dump_chunk {
	unsigned index;
	char *where;         /* predicate on the primary key; NULL: the whole table */
};

struct dump_table {
	char *schema, *name, *engine;
	bool transactional;  /* InnoDB: read inside the shared snapshot */
	bool no_data;        /* definition and triggers only (--no-data, backup_opts.schema_only) */
	unsigned long long est_rows, est_bytes;
	char *pk;            /* single integer primary-key column, or NULL */
	struct dump_chunk *chunks;
	size_t n_chunks;
};

struct dump_plan {
	struct dump_table *tables;   /* biggest first, so workers finish together */
	size_t n_tables;
	char **databases;            /* databases with at least one table or object chosen */
	size_t n_databases;
	char **excluded;             /* "DB.T" left out by --exclude */
	size_t n_excluded;
};

/* True when --exclude matches "schema.table" (fnmatch glob). Pure. */
bool dump_filter_excludes(const struct dump_filter *f, const char *schema, const char *table);
/* True when -B / --tables select it (nothing given: every user database). Pure. */
bool dump_filter_selects(const struct dump_filter *f, const char *schema, const char *table);
void dump_filter_release(struct dump_filter *f);

/* A database or table name as a file-name component: letters, digits, '_',
 * '$', '-' and non-ASCII UTF-8 stay; every other byte becomes @xx (so '@'
 * itself too, which keeps the mapping one-to-one). "a.b" -> "a@2eb",
 * ".." -> "@2e@2e". The manifest maps names to files. Caller frees. */
char *dump_path_name(const char *name);

/* Reads the table list and splits tables bigger than chunk_rows or
 * chunk_bytes (estimated; 0 = no limit) that have a single integer primary
 * key into ranges. Ranges are open at both ends, so rows inserted outside
 * the range read here still belong to a chunk. */
int dump_plan_load(struct db *db, const struct dump_filter *f, unsigned long long chunk_rows,
		   unsigned long long chunk_bytes, struct dump_plan *p, struct ms_err *e);
void dump_plan_release(struct dump_plan *p);

/* Appends chunks of t splitting the key qk (quoted) from min to max (the
 * server's MIN and MAX as text; signed or UNSIGNED BIGINT, any span) into
 * at most n ranges, the first and last open-ended. Adds nothing when n < 2
 * or max <= min. Pure; -1 when out of memory. */
int dump_plan_split_range(struct dump_table *t, const char *qk, const char *min, const char *max,
			  unsigned long long n);

#endif
