/* lockreq_exec(): a lock request bounded by the stall budget, retried with
 * backoff and jitter, that names its blocker when it cannot get through. */
#include "mdl/lockreq.h"

#include <limits.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "mdl/holders.h"
#include "mdl/inspect.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/note.h"

double lockreq_jitter(void)
{
	unsigned v;

	/* The kernel's generator: no seed to forget, nothing shared with a
	 * forked child or another thread. Without it, the clock's nanoseconds
	 * still differ between processes. */
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		v = (unsigned)ts.tv_nsec ^ ((unsigned)getpid() << 16);
	}
	return 0.5 + (double)v / ((double)UINT_MAX + 1.0);
}

bool lockreq_retryable(unsigned sql_errno, unsigned set)
{
	unsigned cause;

	switch (sql_errno) {
	case ER_LOCK_WAIT_TIMEOUT: cause = LOCKREQ_WAIT_TIMEOUT; break;
	case ER_STATEMENT_TIMEOUT: cause = LOCKREQ_STMT_TIMEOUT; break;
	case ER_QUERY_INTERRUPTED: cause = LOCKREQ_INTERRUPTED; break;
	case ER_CONNECTION_KILLED: cause = LOCKREQ_CONN_KILLED; break;
	case ER_LOCK_DEADLOCK: cause = LOCKREQ_DEADLOCK; break;
	case ER_ERROR_DURING_COMMIT: cause = LOCKREQ_COMMIT_KILLED; break;
	case ER_TABLE_DEF_CHANGED: cause = LOCKREQ_DEF_CHANGED; break;
	default: return set == LOCKREQ_RETRY_ANY;
	}
	return (set & cause) != 0;
}

bool lockreq_retry_next(struct lockreq_retry *r, const struct ms_err *e)
{
	bool gave_up = (r->set & LOCKREQ_GAVE_UP) && e->status == MS_TIMEOUT;

	r->attempt++;
	if (!gave_up && !lockreq_retryable(e->sql_errno, r->set))
		r->stop = LOCKREQ_NOT_RETRYABLE;
	else if (r->max_attempts && r->attempt >= r->max_attempts)
		r->stop = LOCKREQ_OUT_OF_ATTEMPTS;
	else if (r->deadline > 0 && ms_now() >= r->deadline)
		r->stop = LOCKREQ_PAST_DEADLINE;
	else
		r->stop = LOCKREQ_GO_ON;
	return r->stop == LOCKREQ_GO_ON;
}

void lockreq_retry_wait(const struct lockreq_retry *r)
{
	unsigned n = r->attempt ? r->attempt - 1 : 0;
	double s = r->base_s * (double)(1u << (n < r->cap ? n : r->cap));

	/* The jitter: retries neither hammer the server nor align with the
	 * application's own rhythm. */
	if (r->wait)
		r->wait(r->ctx, s);
	else
		ms_sleep(s * lockreq_jitter());
}

bool lockreq_retry_again(struct lockreq_retry *r, const struct ms_err *e)
{
	if (!lockreq_retry_next(r, e))
		return false;
	lockreq_retry_wait(r);
	return true;
}

bool lockreq_retry_last(const struct lockreq_retry *r)
{
	return (r->max_attempts && r->attempt + 1 >= r->max_attempts) || (r->deadline > 0 && ms_now() >= r->deadline);
}

bool lockreq_timed_out(const struct ms_err *e)
{
	return lockreq_retryable(e->sql_errno, LOCKREQ_RETRY_LOCK);
}

static void *probe_main(void *arg)
{
	struct lockreq_probe *p = arg;
	struct timespec until;
	double t = ms_now() + p->delay_s;
	bool cancelled;

	until.tv_sec = (time_t)t;
	until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
	pthread_mutex_lock(&p->mu);
	while (!p->cancelled && pthread_cond_timedwait(&p->cond, &p->mu, &until) == 0)
		;
	cancelled = p->cancelled;
	pthread_mutex_unlock(&p->mu);
	if (!cancelled)
		p->verdict = mdl_verdict_now(p->db);
	return NULL;
}

void lockreq_probe_start(struct lockreq_probe *p, struct db *db, double delay_s)
{
	p->db = db;
	p->delay_s = delay_s;
	p->verdict = NULL;
	p->cancelled = false;
	p->started = false;
	if (!db || !db->mysql)
		return;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->started = pthread_create(&p->thread, NULL, probe_main, p) == 0;
	if (!p->started) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->mu);
	}
}

void lockreq_probe_join(struct lockreq_probe *p)
{
	if (!p->started)
		return;
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mu);
	p->started = false;
}

void lockreq_probe_cancel(struct lockreq_probe *p)
{
	if (!p->started)
		return;
	pthread_mutex_lock(&p->mu);
	p->cancelled = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
	lockreq_probe_join(p);
}

/* One budget's worth of tries that never wait; the verdict names the
 * sessions holding tables of the schema. */
static int nowait_window(struct db *db, const char *stmt, const struct lockreq_opts *o, char **verdict,
			 struct ms_err *e)
{
	double until = ms_now() + o->budget_s;
	int rc;

	for (;;) {
		rc = db_exec(db, stmt, e);
		if (rc == 0 || !lockreq_timed_out(e) || ms_now() >= until)
			break;
		ms_sleep(0.05);
	}
	if (rc && lockreq_timed_out(e) && o->probe && o->probe->mysql) {
		json_t *h = mdl_holders(o->probe, o->nowait_schema, NULL, o->budget_s, &db->thread_id, 1);
		struct buf b = BUF_INIT;

		for (size_t i = 0; i < json_array_size(h) && i < 5; i++) {
			char line[600];
			mdl_holder_line(json_array_get(h, i), o->nowait_schema, line, sizeof(line));
			buf_addf(&b, "%s%s", i ? "; " : "", line);
		}
		json_decref(h);
		*verdict = b.len && !b.failed ? buf_detach(&b) : NULL;
		buf_release(&b);
	}
	return rc;
}

int lockreq_exec(struct db *db, const char *sql, const struct lockreq_opts *o, unsigned *attempts,
		 struct ms_err *e)
{
	struct lockreq_retry r = { .set = LOCKREQ_RETRY_LOCK, .deadline = o->deadline, .base_s = 0.2, .cap = 4 };
	struct buf stmt = BUF_INIT;
	char *last_verdict = NULL;
	int rc = -1;

	if (o->nowait_schema)
		buf_addf(&stmt, "SET STATEMENT lock_wait_timeout = 0 FOR %s", sql);
	else
		buf_addf(&stmt, "SET STATEMENT max_statement_time = %.3f FOR %s", o->budget_s, sql);
	if (stmt.failed)
		return ms_oom(e);
	for (;;) {
		struct lockreq_probe probe;
		char *verdict = NULL;

		if (o->nowait_schema) {
			rc = nowait_window(db, buf_str(&stmt), o, &verdict, e);
		} else {
			/* Look at the wait graph while we are queued, past the
			 * point where a quick grant would have come. */
			lockreq_probe_start(&probe, o->probe, o->budget_s * 0.6);
			rc = db_exec(db, buf_str(&stmt), e);
			/* Granted or failed before the probe looked: it has nothing to say. */
			lockreq_probe_cancel(&probe);
			verdict = probe.verdict;
		}
		if (rc == 0 || !lockreq_timed_out(e)) {
			free(verdict);
			break;
		}
		if (verdict) {
			free(last_verdict);
			last_verdict = verdict;
		}
		if (!lockreq_retry_next(&r, e)) {
			ms_fail(e, MS_TIMEOUT,
				"could not %s before --timeout: %u attempts each waited --max-stall %.0f ms for a lock "
				"and gave way; in the way: %s",
				o->what, r.attempt, o->budget_s * 1000,
				last_verdict ? last_verdict : "(no wait visible; run 'mdlsafe locks')");
			break;
		}
		if (r.attempt % 10 == 1)
			ms_note(o->note, o->ctx,
				"%s: waited %.0f ms for a lock and gave way (attempt %u), retrying; in the way: %s", o->what,
				o->budget_s * 1000, r.attempt,
				last_verdict ? last_verdict : "(no wait visible; run 'mdlsafe locks')");
		if (o->gave_way)
			o->gave_way(o->ctx, r.attempt);
		lockreq_retry_wait(&r);
	}
	if (attempts)
		/* The attempt that ended the loop was counted only when it was a retry's to judge. */
		*attempts = r.stop == LOCKREQ_GO_ON ? r.attempt + 1 : r.attempt;
	free(last_verdict);
	buf_release(&stmt);
	return rc;
}
