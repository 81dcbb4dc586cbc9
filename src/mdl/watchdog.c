/* Watchdog thread: polls the processlist for metadata-lock waits on tables our
 * sessions hold, and sends KILL QUERY to the holder before the wait reaches
 * the budget. One cheap query per poll; nothing when nobody waits. */
#include "mdl/watchdog.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mdl/sql_targets.h"
#include "util/timespec.h"

#define WATCH_MAX 256
/* Time allowed from the KILL QUERY to the lock being released: the worker
 * drains the rows already sent, then rolls back to its savepoint, on a
 * machine the backup keeps busy. With 50 ms, bench/run.sh on 2 cores saw an
 * ALTER wait 520 ms against a 500 ms budget. */
#define WATCH_RELEASE_S 0.1
#define WATCH_SQL(time_expr)                                                         \
	"SELECT ID, " time_expr ", LEFT(INFO, 4096), DB FROM information_schema.PROCESSLIST " \
	"WHERE STATE LIKE 'Waiting for table metadata lock%' AND ID <> CONNECTION_ID()"

struct watch_entry {
	unsigned long id;
	bool holding;
	char schema[DB_NAME_MAX + 1], table[DB_NAME_MAX + 1];
};

struct watchdog {
	struct db db;
	struct watchdog_opts o;
	watchdog_yield_fn on_yield;
	void *ctx;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t wake;   /* watchdog_stop need not wait out a poll interval */
	bool stop;
	struct watch_entry entries[WATCH_MAX];
	size_t n_entries;
	unsigned yields;
	unsigned poll_errors;
	const struct db_params *params;  /* borrowed: for reconnecting */
	int failed;
	struct ms_err err;
};

static struct watch_entry *entry_for(struct watchdog *w, unsigned long id)
{
	for (size_t i = 0; i < w->n_entries; i++)
		if (w->entries[i].id == id)
			return &w->entries[i];
	if (w->n_entries == WATCH_MAX)
		return NULL;
	memset(&w->entries[w->n_entries], 0, sizeof(w->entries[0]));
	w->entries[w->n_entries].id = id;
	return &w->entries[w->n_entries++];
}

void watchdog_hold(struct watchdog *w, unsigned long id, const char *schema, const char *table)
{
	struct watch_entry *x;

	pthread_mutex_lock(&w->mu);
	if ((x = entry_for(w, id))) {
		snprintf(x->schema, sizeof(x->schema), "%s", schema);
		snprintf(x->table, sizeof(x->table), "%s", table);
		x->holding = true;
	}
	pthread_mutex_unlock(&w->mu);
}

void watchdog_release(struct watchdog *w, unsigned long id)
{
	struct watch_entry *x;

	pthread_mutex_lock(&w->mu);
	if ((x = entry_for(w, id)))
		x->holding = false;
	pthread_mutex_unlock(&w->mu);
}

void watchdog_ignore(struct watchdog *w, unsigned long id)
{
	pthread_mutex_lock(&w->mu);
	entry_for(w, id);
	pthread_mutex_unlock(&w->mu);
}

unsigned watchdog_poll_errors(struct watchdog *w)
{
	unsigned n;

	pthread_mutex_lock(&w->mu);
	n = w->poll_errors;
	pthread_mutex_unlock(&w->mu);
	return n;
}

unsigned watchdog_yields(struct watchdog *w)
{
	unsigned n;

	pthread_mutex_lock(&w->mu);
	n = w->yields;
	pthread_mutex_unlock(&w->mu);
	return n;
}

static bool is_ours(struct watchdog *w, unsigned long long id)
{
	for (size_t i = 0; i < w->n_entries; i++)
		if (w->entries[i].id == id)
			return true;
	return id == w->db.thread_id;
}

/* Marks in `hit` every one of our sessions holding a table the waiting
 * statement names (several workers may read chunks of one table: all must
 * let go in the same poll, or the budget is spent one poll per holder). The
 * waiter may be the DDL itself or a query queued behind it: both are freed
 * when we let go. Returns how many were marked. */
static size_t holders_for(struct watchdog *w, const char *info, const char *waiter_db, bool *hit)
{
	struct sql_targets t;
	size_t n = 0;

	if (!info || sql_targets_parse(info, &t) != 0)
		return 0;
	for (size_t k = 0; k < t.n_tables; k++) {
		const char *schema = t.tables[k].schema ? t.tables[k].schema : waiter_db;
		for (size_t i = 0; i < w->n_entries; i++) {
			const struct watch_entry *x = &w->entries[i];
			if (!hit[i] && x->holding && schema && !strcmp(x->schema, schema) &&
			    !strcmp(x->table, t.tables[k].name)) {
				hit[i] = true;
				n++;
			}
		}
	}
	sql_targets_release(&t);
	return n;
}

/* Sleeps until the next poll is due, or less if watchdog_stop wakes it.
 * Polls are due every poll interval from the last one's start, not its
 * end: on a busy server the processlist query itself takes a while, and
 * that time must not stretch the detection delay the trigger allows for. */
static void watchdog_wait(struct watchdog *w, struct timespec *due)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	timespec_add(due, w->o.poll_s);
	if (timespec_before(due, &now)) {
		/* Late already: poll now, and count the next interval from here. */
		*due = now;
		return;
	}
	pthread_mutex_lock(&w->mu);
	if (!w->stop)
		pthread_cond_timedwait(&w->wake, &w->mu, due);
	pthread_mutex_unlock(&w->mu);
}

/* One look at the server. Sends at most one KILL QUERY per held table per poll. */
static int watchdog_poll(struct watchdog *w)
{
	/* Yield early enough that the waiter is free before the budget ends:
	 * one poll interval of detection delay, plus WATCH_RELEASE_S for the
	 * worker to see the KILL, roll back to its savepoint and let go. */
	double trigger = w->o.max_stall_s - w->o.poll_s - WATCH_RELEASE_S;
	MYSQL_RES *r;
	MYSQL_ROW row;
	struct ms_err e;

	if (trigger < 0)
		trigger = 0;
	/* TIME_MS (MariaDB) resolves sub-second waits; MySQL has whole seconds. */
	if (db_query(&w->db, w->db.is_mariadb ? WATCH_SQL("TIME_MS / 1000") : WATCH_SQL("TIME"), &r, &e)) {
		w->err = e;
		return -1;
	}
	while (r && (row = mysql_fetch_row(r))) {
		unsigned long long id = strtoull(row[0], NULL, 10);
		double waited = row[1] ? strtod(row[1], NULL) : 0;
		bool hit[WATCH_MAX] = { false };
		struct watchdog_yield ys[WATCH_MAX];
		size_t n = 0;

		if (waited < trigger)
			continue;
		pthread_mutex_lock(&w->mu);
		if (is_ours(w, id) || holders_for(w, row[2], row[3], hit) == 0) {
			pthread_mutex_unlock(&w->mu);
			continue;
		}
		for (size_t i = 0; i < w->n_entries; i++) {
			struct watchdog_yield *y = &ys[n];
			if (!hit[i])
				continue;
			memset(y, 0, sizeof(*y));
			y->victim_id = w->entries[i].id;
			snprintf(y->schema, sizeof(y->schema), "%s", w->entries[i].schema);
			snprintf(y->table, sizeof(y->table), "%s", w->entries[i].table);
			y->waiter_id = id;
			y->waited_s = waited;
			snprintf(y->waiter_statement, sizeof(y->waiter_statement), "%s", row[2] ? row[2] : "");
			/* It no longer holds the table as far as we are concerned:
			 * do not kill it twice while it rolls back. */
			w->entries[i].holding = false;
			w->yields++;
			n++;
		}
		pthread_mutex_unlock(&w->mu);

		for (size_t k = 0; k < n; k++) {
			char kill[64];
			snprintf(kill, sizeof(kill), "KILL QUERY %lu", ys[k].victim_id);
			if (db_exec(&w->db, kill, &e) && e.sql_errno != 1094 /* unknown thread: already gone */) {
				w->err = e;
				mysql_free_result(r);
				return -1;
			}
			if (w->on_yield)
				w->on_yield(w->ctx, &ys[k]);
		}
	}
	if (r)
		mysql_free_result(r);
	return 0;
}

/* A failed poll (lost connection, killed session) must not end the
 * watching: reconnect, and only give up after several failures in a row. */
static int watchdog_recover(struct watchdog *w)
{
	struct ms_err e;

	db_close(&w->db);
	if (db_open(&w->db, w->params, "watchdog", NULL, &e)) {
		w->err = e;
		return -1;
	}
	return 0;
}

static void *watchdog_main(void *arg)
{
	struct watchdog *w = arg;
	unsigned failures = 0;
	struct timespec due;

	clock_gettime(CLOCK_REALTIME, &due);
	for (;;) {
		bool stop;

		pthread_mutex_lock(&w->mu);
		stop = w->stop;
		pthread_mutex_unlock(&w->mu);
		if (stop)
			break;
		if (watchdog_poll(w) == 0) {
			failures = 0;
		} else {
			pthread_mutex_lock(&w->mu);
			w->poll_errors++;
			pthread_mutex_unlock(&w->mu);
			if (++failures == 5 || watchdog_recover(w)) {
				/* Without the watchdog the budget cannot be kept: the
				 * owner learns at watchdog_stop. */
				w->failed = 1;
				break;
			}
		}
		watchdog_wait(w, &due);
	}
	return NULL;
}

int watchdog_start(struct watchdog **out, const struct db_params *p, const struct watchdog_opts *o,
		   watchdog_yield_fn on_yield, void *ctx, struct ms_err *e)
{
	struct watchdog *w = calloc(1, sizeof(*w));

	if (!w)
		return ms_oom(e);
	w->o = *o;
	if (w->o.poll_s <= 0)
		w->o.poll_s = 0.1;
	w->on_yield = on_yield;
	w->ctx = ctx;
	w->params = p;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->wake, NULL);
	if (db_open(&w->db, p, "watchdog", NULL, e)) {
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return ms_fail_context(e, "opening the watchdog connection");
	}
	if (pthread_create(&w->thread, NULL, watchdog_main, w)) {
		db_close(&w->db);
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return ms_fail(e, MS_INTERNAL, "cannot start the watchdog thread");
	}
	*out = w;
	return 0;
}

int watchdog_stop(struct watchdog *w, struct ms_err *e)
{
	int rc = 0;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	if (w->failed) {
		if (e)
			*e = w->err;
		ms_fail_context(e, "the watchdog stopped watching");
		rc = -1;
	}
	db_close(&w->db);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->mu);
	free(w);
	return rc;
}
