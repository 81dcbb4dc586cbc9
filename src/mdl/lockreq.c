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

static void sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

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

void lockreq_backoff(double base_s, unsigned attempt, unsigned cap)
{
	double s = base_s * (double)(1u << (attempt < cap ? attempt : cap));

	sleep_s(s * lockreq_jitter());
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
	default: return false;
	}
	return (set & cause) != 0;
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
		sleep_s(0.05);
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
	struct buf stmt = BUF_INIT;
	char *last_verdict = NULL;
	unsigned attempt;
	int rc = -1;

	if (o->nowait_schema)
		buf_addf(&stmt, "SET STATEMENT lock_wait_timeout = 0 FOR %s", sql);
	else
		buf_addf(&stmt, "SET STATEMENT max_statement_time = %.3f FOR %s", o->budget_s, sql);
	if (stmt.failed)
		return ms_oom(e);
	for (attempt = 0;; attempt++) {
		struct lockreq_probe probe;

		if (o->nowait_schema) {
			char *verdict = NULL;
			rc = nowait_window(db, buf_str(&stmt), o, &verdict, e);
			if (rc == 0 || !lockreq_timed_out(e)) {
				free(verdict);
				break;
			}
			if (verdict) {
				free(last_verdict);
				last_verdict = verdict;
			}
			goto gave_way;
		}
		/* Look at the wait graph while we are queued, past the point
		 * where a quick grant would have come. */
		lockreq_probe_start(&probe, o->probe, o->budget_s * 0.6);
		rc = db_exec(db, buf_str(&stmt), e);
		/* Granted or failed before the probe looked: it has nothing to say. */
		lockreq_probe_cancel(&probe);
		if (rc == 0 || !lockreq_timed_out(e)) {
			free(probe.verdict);
			break;
		}
		if (probe.verdict) {
			free(last_verdict);
			last_verdict = probe.verdict;
		}
gave_way:
		if (o->deadline > 0 && ms_now() >= o->deadline) {
			ms_fail(e, MS_TIMEOUT,
				"could not %s before --timeout: %u attempts each waited --max-stall %.0f ms for a lock "
				"and gave way; in the way: %s",
				o->what, attempt + 1, o->budget_s * 1000,
				last_verdict ? last_verdict : "(no wait visible; run 'mdlsafe locks')");
			break;
		}
		if (attempt == 0 || attempt % 10 == 0)
			ms_note(o->note, o->ctx,
				"%s: waited %.0f ms for a lock and gave way (attempt %u), retrying; in the way: %s", o->what,
				o->budget_s * 1000, attempt + 1,
				last_verdict ? last_verdict : "(no wait visible; run 'mdlsafe locks')");
		if (o->gave_way)
			o->gave_way(o->ctx, attempt + 1);
		lockreq_backoff(0.2, attempt, 4);
	}
	if (attempts)
		*attempts = attempt + 1;
	free(last_verdict);
	buf_release(&stmt);
	return rc;
}
