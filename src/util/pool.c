/* pool_start/wait/join: worker threads that signal the coordinator when they
 * end, so it sleeps until then instead of polling. */
#include "util/pool.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/timespec.h"

struct pool_thread {
	struct pool *p;
	unsigned index;
	pthread_t thread;
};

/* Keeps e as the pool's error unless one came first. Called with mu held. */
static void keep_first(struct pool *p, const struct ms_err *e)
{
	if (!p->failed) {
		p->failed = true;
		p->err = *e;
	}
}

static void *pool_main(void *arg)
{
	struct pool_thread *t = arg;
	struct pool *p = t->p;
	struct ms_err e;
	int rc;

	ms_err_clear(&e);
	rc = p->fn(p->ctx, t->index, &e);
	pthread_mutex_lock(&p->mu);
	if (rc)
		keep_first(p, &e);
	p->running--;
	pthread_cond_broadcast(&p->ended);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void release(struct pool *p)
{
	pthread_cond_destroy(&p->ended);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	p->threads = NULL;
}

int pool_start(struct pool *p, unsigned n, struct ms_err *e)
{
	p->n = n;
	p->started = 0;
	p->running = 0;
	p->failed = false;
	ms_err_clear(&p->err);
	p->threads = calloc(n ? n : 1, sizeof(*p->threads));
	if (!p->threads)
		return ms_oom(e);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->ended, NULL);
	for (unsigned i = 0; i < n; i++) {
		struct pool_thread *t = &p->threads[i];
		int err;

		t->p = p;
		t->index = i;
		pthread_mutex_lock(&p->mu);
		p->running++;
		pthread_mutex_unlock(&p->mu);
		err = pthread_create(&t->thread, NULL, pool_main, t);
		if (err == 0) {
			p->started++;
			continue;
		}
		ms_fail(e, MS_INTERNAL, "cannot start a %s thread: %s; lower --jobs or raise the process limit", p->what,
			strerror(err));
		pthread_mutex_lock(&p->mu);
		p->running--;
		keep_first(p, e);
		pthread_mutex_unlock(&p->mu);
		/* The workers already running must not outlive the pool. */
		if (p->stop)
			p->stop(p->ctx, e);
		pool_join(p, e);
		return -1;
	}
	return 0;
}

bool pool_wait(struct pool *p, double timeout_s)
{
	struct timespec until;
	bool all;

	clock_gettime(CLOCK_REALTIME, &until);
	timespec_add(&until, timeout_s > 0 ? timeout_s : 0);
	pthread_mutex_lock(&p->mu);
	while (p->running > 0 && pthread_cond_timedwait(&p->ended, &p->mu, &until) == 0)
		;
	all = p->running == 0;
	pthread_mutex_unlock(&p->mu);
	return all;
}

int pool_join(struct pool *p, struct ms_err *e)
{
	int rc = 0;

	for (unsigned i = 0; i < p->started; i++)
		pthread_join(p->threads[i].thread, NULL);
	if (p->failed) {
		*e = p->err;
		rc = -1;
	}
	release(p);
	return rc;
}
