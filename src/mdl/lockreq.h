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
 * Runs sql with max_statement_time = budget, retrying lock timeouts (1969,
 * 1205) until it is granted or the deadline passes (MS_TIMEOUT, naming the
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
