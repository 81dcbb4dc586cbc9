/* What online.c (plan, triggers, cut-over) and online_copy.c (chunked copy,
 * verification, checkpoint) share about one online schema change. */
#ifndef MDLSAFE_ONLINE_INTERNAL_H
#define MDLSAFE_ONLINE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "ddl/online.h"
#include "mdl/lockreq.h"
#include "util/buf.h"

#define ONLINE_NAME_MAX 65
#define ONLINE_CHECKPOINT "_mdlsafe_online"

struct online_col {
	char *name;
	bool text; /* compared as utf8mb4 text in the verify step */
	bool convert; /* text in another character set in the shadow */
};

/* Where a copy or verify phase spends its time (seconds), and how long
 * its last and longest chunk held their row locks. */
struct online_timings {
	double lock, insert, checkpoint, commit, held, chunk_max;
};

/* The verify that follows the copy on a session of its own: the copy hands
 * over each chunk's upper bound once the chunk has committed, and the
 * verify compares the chunks behind it while it copies the next ones. */
struct online_behind {
	pthread_mutex_t mu;
	pthread_cond_t moved;
	char ***bounds; /* committed upper bounds not verified yet, oldest at head */
	size_t head, n, cap;
	bool copy_ended, abandon, failed;
};

/* How far the verify has got: (NULL, lower] is identical in both tables. */
struct online_verified {
	char **lower;
	unsigned long long rows, chunks, repaired;
	double started, chunk_rows;
};

struct online {
	const struct online_opts *o;
	struct db exec, watch;
	struct db vexec; /* the verify's, while it runs behind the copy */
	double started, deadline;
	char schema[ONLINE_NAME_MAX], table[ONLINE_NAME_MAX];
	char shadow[ONLINE_NAME_MAX], old[ONLINE_NAME_MAX];
	char trg[3][ONLINE_NAME_MAX]; /* our insert, update, delete triggers */
	char key_name[ONLINE_NAME_MAX]; /* the index the copy walks */
	char **key; /* its columns, in order */
	size_t n_key;
	struct online_col *cols; /* columns of both tables, copied and compared */
	size_t n_cols;
	unsigned long long rows_estimated;
	char **last; /* key of the last copied row (NULL: none yet) */
	unsigned long long rows_copied, chunks;
	double chunk_rows; /* adapted to --chunk-time */
	struct online_timings t, tv; /* of the copy, of the verify */
	json_t *plan, *copy, *verify;
	struct db *replicas; /* one session per --replica */
	struct online_behind behind;
	struct online_verified vd;
	pthread_mutex_t out_mu; /* one note or progress line at a time */
};

/* A note line through the caller's callback. */
void online_note(struct online *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends `schema`.`name` / `name` quoted by the one quoting function. */
void online_add_table(struct buf *b, const char *schema, const char *name);
void online_add_ident(struct buf *b, const char *name);
/* Appends v as a string literal escaped by the connector of db. */
void online_add_value(struct db *db, struct buf *b, const char *v);

/* MS_TIMEOUT when SIGINT/SIGTERM asked to stop (the caller then undoes
 * everything before the swap), else 0. */
int online_stopped(struct online *s, struct ms_err *e);

/* Opens a session on each --replica and checks it replicates. */
int online_replicas_open(struct online *s, struct ms_err *e);
void online_replicas_close(struct online *s);

/* The lock-request settings of this run for a statement on `table`. */
struct lockreq_opts online_lockreq(struct online *s, const char *what, bool nowait);

/* Copies every row not copied yet (from s->last on), chunk by chunk, each
 * committed with its checkpoint, and (unless --no-verify) compares the two
 * tables chunk by chunk; a chunk that differs is copied again and compared
 * again. A copy from the start is verified behind it, on s->vexec; after
 * --resume, the verify runs once the copy has ended. */
int online_copy_and_verify(struct online *s, struct ms_err *e);

/* The checkpoint row of this table: created, advanced, read, deleted. */
int online_checkpoint_create(struct online *s, const char *alter_sql, struct ms_err *e);
int online_checkpoint_save(struct online *s, char **last, unsigned long long rows, struct ms_err *e);
/* 1 when a row exists (names and position loaded into s), 0 when none. */
int online_checkpoint_load(struct online *s, char **alter_sql, struct ms_err *e);
void online_checkpoint_delete(struct online *s);

void online_free_key(char **v, size_t n);

#endif
