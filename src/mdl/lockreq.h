/* Lock requests that cannot freeze anyone: a DDL (RENAME, DROP, CREATE TRIGGER,
 * BACKUP STAGE ...) waits at most the stall budget per attempt, then backs off. */
#ifndef MDLSAFE_LOCKREQ_H
#define MDLSAFE_LOCKREQ_H

#include <pthread.h>
#include <stdbool.h>

#include "db/db.h"
#include "util/error.h"

/*
 * While a statement of ours waits for a lock, every session that needs a
 * conflicting lock on the same object queues behind it (DESIGN.md). So a
 * request waits at most the budget; if it was not granted by then it is
 * withdrawn, the queue behind it drains, and it is tried again after a
 * backoff with jitter. Statements doing real work past the budget (a DROP of
 * a huge file) would be interrupted too: use this for requests that are
 * quick once granted.
 */
struct lockreq_opts {
	double budget_s;     /* --max-stall: the longest one attempt may wait */
	double deadline;     /* ms_now() time to give up at; 0: never */
	struct db *probe;    /* a second session, to read the wait graph while we wait (may be NULL;
	                      * with nowait_schema it is used only between tries: db itself will do) */
	const char *what;    /* for messages: "swap shop.users in" */
	/*
	 * Never queue: each try is lock_wait_timeout = 0, repeated every
	 * 50 ms for budget_s, and who holds tables of this schema is named.
	 * For RENAME TABLE: on 10.11 a RENAME that max_statement_time cuts off
	 * while it renames a table with triggers empties the trigger file
	 * (error 1064, table unusable), so it must not be interrupted.
	 */
	const char *nowait_schema;
	/* Told when an attempt timed out, with who was in the way (may be NULL). */
	void (*note)(void *ctx, const char *line);
	/* Called (may be NULL) after each attempt that gave way, before the
	 * backoff: where a caller acts on who was in the way (--kill-blockers). */
	void (*gave_way)(void *ctx, unsigned attempt);
	void *ctx;
};

/*
 * Which server errors a retry loop tries again after: each loop names its
 * set below, so what is retried where is read in one place.
 */
enum lockreq_retry_cause {
	LOCKREQ_WAIT_TIMEOUT = 1u << 0,  /* ER_LOCK_WAIT_TIMEOUT: lock_wait_timeout, the backstop */
	LOCKREQ_STMT_TIMEOUT = 1u << 1,  /* ER_STATEMENT_TIMEOUT: our max_statement_time budget */
	LOCKREQ_INTERRUPTED = 1u << 2,   /* ER_QUERY_INTERRUPTED: a KILL QUERY (the watchdog's or ours) */
	LOCKREQ_CONN_KILLED = 1u << 3,   /* ER_CONNECTION_KILLED: our own KILL of the session */
	LOCKREQ_DEADLOCK = 1u << 4,      /* ER_LOCK_DEADLOCK: row-lock deadlock, transaction rolled back */
	LOCKREQ_COMMIT_KILLED = 1u << 5, /* ER_ERROR_DURING_COMMIT: a KILL QUERY landing on a COMMIT,
	                                  * which the server rolls back before reporting */
	LOCKREQ_DEF_CHANGED = 1u << 6,   /* ER_TABLE_DEF_CHANGED: the definition changed after our snapshot */
	LOCKREQ_GAVE_UP = 1u << 7,       /* MS_TIMEOUT: a lockreq_exec() whose deadline passed
	                                  * (no server error: only lockreq_retry_next() sees it) */
};

/* A lock request that gave up waiting: lockreq_exec() and lockreq_timed_out(). */
#define LOCKREQ_RETRY_LOCK (LOCKREQ_WAIT_TIMEOUT | LOCKREQ_STMT_TIMEOUT)
/* A backup worker lets go of a table and comes back to it later. */
#define LOCKREQ_RETRY_YIELD (LOCKREQ_RETRY_LOCK | LOCKREQ_INTERRUPTED | LOCKREQ_DEF_CHANGED)
/* A restore chunk (or key build) is loaded again. */
#define LOCKREQ_RETRY_CHUNK (LOCKREQ_RETRY_LOCK | LOCKREQ_DEADLOCK | LOCKREQ_INTERRUPTED | LOCKREQ_COMMIT_KILLED)
/* A copy chunk that met an application's row lock. */
#define LOCKREQ_RETRY_ROW_LOCK (LOCKREQ_WAIT_TIMEOUT | LOCKREQ_DEADLOCK)
/* A blocking DDL attempt: the lock_wait_timeout backstop always; our own
 * KILL (query or connection) only when the attempt was cancelled by us. */
#define LOCKREQ_RETRY_DDL LOCKREQ_WAIT_TIMEOUT
#define LOCKREQ_RETRY_DDL_CANCELLED (LOCKREQ_INTERRUPTED | LOCKREQ_CONN_KILLED)
/* A freeze made of lock requests: one that timed out, or a lockreq_exec()
 * that gave up (MS_TIMEOUT, which carries no server error). */
#define LOCKREQ_RETRY_FREEZE (LOCKREQ_RETRY_LOCK | LOCKREQ_GAVE_UP)
/* Any failure at all: a reconnect loop, which retries until told to stop. */
#define LOCKREQ_RETRY_ANY (~0u)

/* True when the server error sql_errno is one of the causes in set. */
bool lockreq_retryable(unsigned sql_errno, unsigned set);

/*
 * The one retry decision: after a failed attempt, is there another, and how
 * long to back off before it. A loop fills the limits, then per failure:
 *
 *	struct lockreq_retry r = { .set = LOCKREQ_RETRY_CHUNK, .max_attempts = 1000, .base_s = 0.2, .cap = 4 };
 *	while (try(e))
 *		if (!lockreq_retry_again(&r, e))
 *			return -1;    (r.stop says why)
 *
 * A loop that acts between the decision and the backoff (a note, killing
 * who was in the way) calls lockreq_retry_next(), acts, then lockreq_retry_wait().
 */
enum lockreq_stop {
	LOCKREQ_GO_ON = 0,      /* another attempt follows */
	LOCKREQ_NOT_RETRYABLE,  /* the error is not in the set */
	LOCKREQ_OUT_OF_ATTEMPTS,/* max_attempts were made */
	LOCKREQ_PAST_DEADLINE,  /* the deadline has passed */
};

struct lockreq_retry {
	unsigned set;          /* the errors tried again: a LOCKREQ_RETRY_* set */
	unsigned max_attempts; /* attempts in all, the first included; 0: no limit */
	double deadline;       /* ms_now() time past which nothing is tried again; 0: none */
	double base_s;         /* the backoff after the n-th failure (n from 0) is */
	unsigned cap;          /* base_s * 2^min(n, cap), times lockreq_jitter() */
	/* Waits the backoff instead of sleeping it (may be NULL): given the
	 * delay before jitter, e.g. to sleep in steps that a stop signal ends. */
	void (*wait)(void *ctx, double s);
	void *ctx;
	unsigned attempt;      /* failed attempts so far, counted by lockreq_retry_next() */
	enum lockreq_stop stop;/* why lockreq_retry_next() last said no */
};

/* Counts the failed attempt that ended with e and says whether to make
 * another: e is in the set, fewer than max_attempts were made, and the
 * deadline has not passed. Does not wait. */
bool lockreq_retry_next(struct lockreq_retry *r, const struct ms_err *e);

/* Backs off after the attempt lockreq_retry_next() just counted. */
void lockreq_retry_wait(const struct lockreq_retry *r);

/* lockreq_retry_next(), then, when it says yes, lockreq_retry_wait(). */
bool lockreq_retry_again(struct lockreq_retry *r, const struct ms_err *e);

/* True when the attempt about to be made is the last one max_attempts or
 * the deadline allow, should it fail: worth watching more closely. */
bool lockreq_retry_last(const struct lockreq_retry *r);

/*
 * Runs sql with max_statement_time = budget, retrying lock timeouts
 * (LOCKREQ_RETRY_LOCK) until it is granted or the deadline passes (MS_TIMEOUT, naming the
 * root blocker from the `locks` wait graph). Other errors return at once.
 * *attempts (may be NULL) gets the number of attempts made.
 */
int lockreq_exec(struct db *db, const char *sql, const struct lockreq_opts *o, unsigned *attempts,
		 struct ms_err *e);

/* True when e is a lock request that gave up waiting (max_statement_time
 * or lock_wait_timeout). */
bool lockreq_timed_out(const struct ms_err *e);

/* The random factor of the backoff, in [0.5, 1.5): different in every
 * process and thread, so clients started together do not retry together. */
double lockreq_jitter(void);

/* Reads the `locks` verdict from a second session after delay_s, while the
 * first one waits, so a give-up message can name who was in the way. */
struct lockreq_probe {
	pthread_t thread;
	bool started;
	struct db *db;
	double delay_s;
	char *verdict;       /* after lockreq_probe_join: NULL when none could be had */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool cancelled;
};

void lockreq_probe_start(struct lockreq_probe *p, struct db *db, double delay_s);
/* Waits for the probe; p->verdict is then the caller's to free. */
void lockreq_probe_join(struct lockreq_probe *p);
/* Stops a probe that has not looked yet (the wait is over); one that is
 * reading the wait graph is waited for. */
void lockreq_probe_cancel(struct lockreq_probe *p);

#endif
