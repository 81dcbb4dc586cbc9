/* A fixed set of worker threads run to the end: started together, waited for
 * on a condition variable (never polled), joined together, first error kept. */
#ifndef MDLSAFE_POOL_H
#define MDLSAFE_POOL_H

#include <pthread.h>
#include <stdbool.h>

#include "util/error.h"

struct pool_thread;

/*
 * The caller fills what, fn, stop and ctx, then:
 *
 *	if (pool_start(&p, n, e))
 *		return -1;                  (nothing runs any more)
 *	while (!pool_wait(&p, 0.25))
 *		report progress, enforce a timeout ...
 *	return pool_join(&p, e);
 */
struct pool {
	const char *what; /* for messages: "backup worker" */
	/* One worker's whole work; index is 0..n-1. A failure (non-zero,
	 * with e filled) is kept if it is the pool's first. */
	int (*fn)(void *ctx, unsigned index, struct ms_err *e);
	/* Asks the workers that run to return soon (may be NULL): called when
	 * one could not be started, before the others are joined. */
	void (*stop)(void *ctx, const struct ms_err *why);
	void *ctx;

	/* The pool's own. */
	pthread_mutex_t mu;
	pthread_cond_t ended;
	struct pool_thread *threads;
	unsigned n, started, running;
	bool failed;
	struct ms_err err;
};

/* Starts n threads running fn. When one cannot be started (a thread limit,
 * memory), stop() is called, the ones started are joined, and the failure
 * is returned: the pool then needs no pool_join(). */
int pool_start(struct pool *p, unsigned n, struct ms_err *e);

/* Waits until every worker has returned (true) or timeout_s has passed. */
bool pool_wait(struct pool *p, double timeout_s);

/* Waits for every worker and releases the pool. Returns the first error a
 * worker returned, or 0. */
int pool_join(struct pool *p, struct ms_err *e);

#endif
