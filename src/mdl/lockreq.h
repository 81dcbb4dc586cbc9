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

/* True when the server error sql_errno is one of the causes in set. */
bool lockreq_retryable(unsigned sql_errno, unsigned set);

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

/* Sleeps base * 2^min(attempt, cap), times a random 0.5-1.5, so retries
 * neither hammer the server nor align with the application's own rhythm. */
void lockreq_backoff(double base_s, unsigned attempt, unsigned cap);

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
