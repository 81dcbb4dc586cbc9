/* ddl_run(): plan each statement (targets, algorithm, who holds the tables),
 * then run it in attempts that wait at most the budget for a metadata lock. */
#include "ddl/ddl.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "mdl/graph.h"
#include "mdl/holders.h"
#include "mdl/inspect.h"
#include "mdl/lockreq.h"
#include "mdl/sql_targets.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/note.h"

#define POLL_S 0.1

struct ddl {
	const struct ddl_opts *o;
	struct db exec, watch;
	double started, deadline;
};

/* ---- reading statement heads ------------------------------------------- */

static const char *skip_space(const char *p)
{
	for (;;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (p[0] == '/' && p[1] == '*' && p[2] != '!') {
			const char *end = strstr(p + 2, "*/");
			p = end ? end + 2 : p + strlen(p);
		} else if ((p[0] == '-' && p[1] == '-' && (isspace((unsigned char)p[2]) || !p[2])) || p[0] == '#') {
			while (*p && *p != '\n')
				p++;
		} else {
			return p;
		}
	}
}

/* One identifier (bare or `quoted`); returns its end, or NULL. */
static const char *ident_end(const char *p)
{
	if (*p == '`') {
		for (p++; *p; p++)
			if (*p == '`') {
				if (p[1] != '`')
					return p + 1;
				p++;
			}
		return NULL;
	}
	if (!isalnum((unsigned char)*p) && *p != '_' && *p != '$' && !((unsigned char)*p & 0x80))
		return NULL;
	while (isalnum((unsigned char)*p) || *p == '_' || *p == '$' || ((unsigned char)*p & 0x80))
		p++;
	return p;
}

static bool keyword(const char **p, const char *kw)
{
	size_t n = strlen(kw);
	const char *q = skip_space(*p);

	if (strncasecmp(q, kw, n) || isalnum((unsigned char)q[n]) || q[n] == '_')
		return false;
	*p = q + n;
	return true;
}

/* A table name ([schema.]name): its span [*a, *b). */
static bool name_span(const char *p, const char **a, const char **b)
{
	const char *e;

	p = skip_space(p);
	if (!(e = ident_end(p)))
		return false;
	*a = p;
	if (*e == '.' && (e = ident_end(e + 1)) == NULL)
		return false;
	*b = e;
	return true;
}

/* Where the table of an ALTER TABLE / CREATE INDEX / DROP INDEX is named. */
bool ddl_table_span(const char *sql, enum sql_stmt_kind kind, const char **a, const char **b)
{
	const char *p = sql, *e;

	if (kind == SQL_STMT_ALTER_TABLE) {
		if (!keyword(&p, "ALTER"))
			return false;
		keyword(&p, "ONLINE");
		keyword(&p, "IGNORE");
		if (!keyword(&p, "TABLE"))
			return false;
		if (keyword(&p, "IF"))
			keyword(&p, "EXISTS");
		return name_span(p, a, b);
	}
	/* ... INDEX [IF [NOT] EXISTS] name ON table */
	for (;;) {
		p = skip_space(p);
		if (!*p)
			return false;
		if (keyword(&p, "ON"))
			return name_span(p, a, b);
		if (!(e = ident_end(p)))
			return false;
		p = e;
	}
}

static bool mentions(const char *sql, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = sql; (p = strcasestr(p, word)); p += n)
		if ((p == sql || !isalnum((unsigned char)p[-1])) && !isalnum((unsigned char)p[n]) && p[n] != '_')
			return true;
	return false;
}

/* ---- the plan ----------------------------------------------------------- */

struct stmt {
	const char *sql;
	struct sql_targets tg;
	char schema[DB_NAME_MAX + 1], table[DB_NAME_MAX + 1]; /* first target, schema filled from -D or the session */
	char algorithm[16];             /* INSTANT, NOCOPY, INPLACE, COPY, "as written", "n/a" */
	bool copy_route;                /* with --online: made on a shadow copy, not run here */
	char *run_sql;
	json_t *j;
};

/* INPLACE and NOCOPY run with LOCK=NONE; INSTANT takes no LOCK clause. */
static char *with_clause(const char *sql, enum sql_stmt_kind kind, const char *algorithm)
{
	struct buf b = BUF_INIT;
	size_t n = strlen(sql);

	while (n && (isspace((unsigned char)sql[n - 1]) || sql[n - 1] == ';'))
		n--;
	if (kind == SQL_STMT_ALTER_TABLE)
		buf_addf(&b, "%.*s, ALGORITHM=%s%s", (int)n, sql, algorithm, strcmp(algorithm, "INSTANT") ? ", LOCK=NONE" : "");
	else
		buf_addf(&b, "%.*s ALGORITHM=%s%s", (int)n, sql, algorithm, strcmp(algorithm, "INSTANT") ? " LOCK=NONE" : "");
	return b.failed ? (buf_release(&b), NULL) : buf_detach(&b);
}

/* Learns which algorithm the server will use from an empty copy of the
 * table: the statement runs there with ALGORITHM=INSTANT, then INPLACE with
 * LOCK=NONE; what is refused there is refused on the real table. With
 * --online, NOCOPY is tried between them (MariaDB 10.3.2 and later): it
 * refuses exactly the in-place changes that rebuild the table. */
static int probe_algorithm(struct ddl *d, struct stmt *s, struct ms_err *e)
{
	const char *tries[3] = { "INSTANT" };
	size_t n_tries = 1;
	const char *a, *b;
	char probe[64], *src = NULL, *pq = NULL;
	struct buf sql = BUF_INIT;
	struct ms_err ignored;
	int rc = 0;

	if (!ddl_table_span(s->sql, s->tg.kind, &a, &b)) {
		snprintf(s->algorithm, sizeof(s->algorithm), "as written");
		return 0;
	}
	if (d->o->online && d->exec.server_version >= 100302)
		tries[n_tries++] = "NOCOPY";
	tries[n_tries++] = "INPLACE";
	snprintf(probe, sizeof(probe), "_mdlsafe_probe_%lu", d->exec.thread_id);
	/* The scratch copy is not replicated, when this user may say so. */
	bool unlogged = db_exec(&d->exec, "SET SESSION sql_log_bin = 0", &ignored) == 0;
	pq = db_quote_ident(s->schema);
	src = db_quote_ident(s->table);
	buf_addf(&sql, "CREATE TABLE %s.`%s` LIKE %s.%s", pq, probe, pq, src);
	struct lockreq_opts lo = { .budget_s = d->o->max_stall_s, .deadline = d->deadline, .probe = &d->watch,
				   .what = "copy the table's definition for the plan" };
	rc = lockreq_exec(&d->exec, buf_str(&sql), &lo, NULL, e);
	buf_reset(&sql);
	snprintf(s->algorithm, sizeof(s->algorithm), "COPY");
	for (size_t i = 0; rc == 0 && i < n_tries; i++) {
		char *try;
		buf_reset(&sql);
		buf_addf(&sql, "%.*s%s.`%s`%s", (int)(a - s->sql), s->sql, pq, probe, b);
		try = with_clause(buf_str(&sql), s->tg.kind, tries[i]);
		if (try && db_exec(&d->exec, try, &ignored) == 0) {
			snprintf(s->algorithm, sizeof(s->algorithm), "%s", tries[i]);
			free(try);
			break;
		}
		free(try);
		/* The probe table may have been changed by a half-applied try:
		 * start again from a fresh copy. */
		buf_reset(&sql);
		buf_addf(&sql, "DROP TABLE IF EXISTS %s.`%s`", pq, probe);
		db_exec(&d->exec, buf_str(&sql), &ignored);
		buf_reset(&sql);
		buf_addf(&sql, "CREATE TABLE %s.`%s` LIKE %s.%s", pq, probe, pq, src);
		rc = lockreq_exec(&d->exec, buf_str(&sql), &lo, NULL, e);
	}
	buf_reset(&sql);
	buf_addf(&sql, "DROP TABLE IF EXISTS %s.`%s`", pq, probe);
	db_exec(&d->exec, buf_str(&sql), &ignored);
	if (unlogged && db_exec(&d->exec, "SET SESSION sql_log_bin = 1", e))
		rc = -1;
	buf_release(&sql);
	free(pq);
	free(src);
	return rc;
}

/* Sessions that hold the target table now, or have had a transaction open
 * longer than the budget (they may hold it without the source showing). */
static json_t *holders(struct ddl *d, const struct stmt *s)
{
	const unsigned long ours[] = { d->exec.thread_id, d->watch.thread_id };
	json_t *names = json_pack("{s:b}", s->table, true), *a;

	a = mdl_holders(&d->watch, s->schema, names, d->o->max_stall_s, ours, 2);
	json_decref(names);
	return a;
}

/* DROP TRIGGER names the trigger, not its table: look the table up. */
static int trigger_table(struct ddl *d, struct stmt *s, struct ms_err *e)
{
	const char *schema = s->tg.trigger_schema ? s->tg.trigger_schema : d->o->database;
	char *qs, *qn, sql[512];
	MYSQL_RES *r;
	MYSQL_ROW row;
	int rc;

	if (!schema)
		return ms_fail(e, MS_USAGE, "%.200s: the trigger is not qualified; give the database with -D DB", s->sql);
	qs = db_quote_string(&d->watch, schema);
	qn = db_quote_string(&d->watch, s->tg.trigger_name);
	snprintf(sql, sizeof(sql), "SELECT EVENT_OBJECT_SCHEMA, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS "
				   "WHERE TRIGGER_SCHEMA = %s AND TRIGGER_NAME = %s", qs ? qs : "''", qn ? qn : "''");
	free(qs);
	free(qn);
	rc = db_query(&d->watch, sql, &r, e);
	if (rc == 0 && r && (row = mysql_fetch_row(r)) && row[0] && row[1]) {
		s->tg.tables = calloc(1, sizeof(*s->tg.tables));
		if (s->tg.tables && (s->tg.tables[0].schema = strdup(row[0])) && (s->tg.tables[0].name = strdup(row[1])))
			s->tg.n_tables = 1;
	}
	if (r)
		mysql_free_result(r);
	return rc;
}

/* With --online: which way the change goes, and why. A change the server
 * makes without copying the table (INSTANT, or in place without a rebuild)
 * runs here as one bounded ALTER; a copy or a rebuild, which every replica
 * would replay for as long, goes to the shadow copy. */
static void choose_route(struct ddl *d, struct stmt *s, const char *why_not_probed)
{
	const char *reason;

	s->copy_route = true;
	if (why_not_probed) {
		reason = why_not_probed;
	} else if (!strcmp(s->algorithm, "INSTANT")) {
		s->copy_route = false;
		reason = "the server makes it INSTANT: only the table's definition changes";
	} else if (!strcmp(s->algorithm, "NOCOPY")) {
		s->copy_route = false;
		reason = "the server makes it in place without rebuilding the table (ALGORITHM=NOCOPY accepted)";
	} else if (!strcmp(s->algorithm, "INPLACE")) {
		reason = d->exec.server_version >= 100302
				 ? "in place it would rebuild the table (ALGORITHM=NOCOPY refused), which every replica "
				   "replays for as long before applying anything else"
				 : "in place it may rebuild the table, and this server (before MariaDB 10.3.2, no "
				   "ALGORITHM=NOCOPY) cannot tell";
	} else {
		reason = "the server can only make it with ALGORITHM=COPY";
	}
	json_object_set_new(s->j, "route", json_string(s->copy_route ? "copy" : "alter"));
	json_object_set_new(s->j, "route_reason", json_string(reason));
}

static int plan(struct ddl *d, struct stmt *s, struct ms_err *e)
{
	const char *db = d->o->database;

	bool parsed = sql_targets_parse(s->sql, &s->tg) == 0 && s->tg.is_ddl;

	if (d->o->online && (!parsed || s->tg.kind != SQL_STMT_ALTER_TABLE || s->tg.n_tables != 1 ||
			     mentions(s->sql, "ALGORITHM") || mentions(s->sql, "LOCK"))) {
		/* The shadow copy takes it, or refuses it with its reason. */
		choose_route(d, s, !parsed || s->tg.kind != SQL_STMT_ALTER_TABLE || s->tg.n_tables != 1
					   ? "it is not an ALTER TABLE of one table, which only the shadow copy judges"
					   : "the statement names its ALGORITHM or LOCK, so it is not probed");
		return 0;
	}
	if (!parsed) {
		if (!d->o->allow_unparsed)
			return ms_fail(e, MS_USAGE, "cannot tell which tables this statement locks: %.200s; "
						    "--allow-unparsed runs it anyway, bounded the same way", s->sql);
		s->tg.kind = SQL_STMT_OTHER_DDL;
	}
	if (s->tg.kind == SQL_STMT_DROP_TRIGGER && !s->tg.n_tables && s->tg.trigger_name && trigger_table(d, s, e))
		return -1;
	if (s->tg.n_tables) {
		if (!s->tg.tables[0].schema && !db)
			return ms_fail(e, MS_USAGE, "%.200s: the table is not qualified; give the database with -D DB", s->sql);
		snprintf(s->schema, sizeof(s->schema), "%s", s->tg.tables[0].schema ? s->tg.tables[0].schema : db);
		snprintf(s->table, sizeof(s->table), "%s", s->tg.tables[0].name);
	}
	snprintf(s->algorithm, sizeof(s->algorithm), "n/a");
	if (s->tg.kind == SQL_STMT_ALTER_TABLE || s->tg.kind == SQL_STMT_CREATE_INDEX || s->tg.kind == SQL_STMT_DROP_INDEX) {
		if (mentions(s->sql, "ALGORITHM") || mentions(s->sql, "LOCK"))
			snprintf(s->algorithm, sizeof(s->algorithm), mentions(s->sql, "COPY") ? "COPY" : "as written");
		else if (s->tg.n_tables > 1)
			/* The probe runs the statement on an empty copy of the
			 * table; a clause naming another table (RENAME TO,
			 * EXCHANGE PARTITION ... WITH TABLE, CONVERT ... TABLE)
			 * would act on that table for real. */
			return ms_fail(e, MS_USAGE,
				       "%.200s: names another table (%s) besides %s.%s, which the algorithm probe "
				       "on a scratch copy would change for real; refused (run that clause as a "
				       "statement of its own, or give ALGORITHM= to run it as written without "
				       "the probe)",
				       s->sql, s->tg.tables[1].name, s->schema, s->table);
		else if (s->tg.n_tables && probe_algorithm(d, s, e))
			return -1;
	}
	if (d->o->online)
		choose_route(d, s, NULL);
	if (!strcmp(s->algorithm, "INSTANT") || !strcmp(s->algorithm, "NOCOPY") || !strcmp(s->algorithm, "INPLACE"))
		s->run_sql = with_clause(s->sql, s->tg.kind, s->algorithm);
	else
		s->run_sql = strdup(s->sql);
	json_object_set_new(s->j, "kind", json_string(sql_stmt_kind_name(s->tg.kind)));
	json_object_set_new(s->j, "table", s->tg.n_tables ? json_sprintf("%s.%s", s->schema, s->table) : json_null());
	json_object_set_new(s->j, "algorithm", json_string(s->algorithm));
	json_object_set_new(s->j, "runs", json_string(s->run_sql ? s->run_sql : ""));
	json_object_set_new(s->j, "holders_at_start", s->tg.n_tables ? holders(d, s) : json_array());
	if (!strcmp(s->algorithm, "COPY") && !d->o->allow_copy && !d->o->online)
		return ms_fail(e, MS_USAGE,
			       "%.200s: the server can only do this with ALGORITHM=COPY, which blocks every write to %s.%s "
			       "for the whole copy of the table; refused (--online makes it on a copy of the table "
			       "without blocking writes; --allow-copy runs it anyway)",
			       s->sql, s->schema, s->table);
	return 0;
}

/* ---- running: attempts and the watcher ---------------------------------- */

struct watcher {
	struct ddl *d;
	struct stmt *s;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;
	bool cancelled;        /* we sent KILL QUERY to our own statement */
	bool saw_work;         /* the statement got past its first lock: a wait now is the final one */
	double worst_wait_s;
	char *verdict;         /* who was in the way when we gave way */
	json_t *kills;
};

static bool work_state(const char *st)
{
	return st && (strcasestr(st, "altering table") || strcasestr(st, "copy to tmp table") ||
		      strcasestr(st, "creating index") || strcasestr(st, "manage keys"));
}

/* Root blockers of our statement: the non-waiting holders our request
 * waits for. */
static void kill_by_policy(struct watcher *w)
{
	struct ddl *d = w->d;
	struct mdl_inspect_opts io = { MDL_SOURCE_AUTO, false, NULL };
	struct mdl_snapshot snap;
	struct mdl_graph g;
	struct ms_err e;
	unsigned long long protect[2] = { d->exec.thread_id, d->watch.thread_id };

	if (mdl_inspect_load(&d->watch, &io, &snap, &e))
		return;
	if (mdl_graph_build(&snap, &g, &e) == 0) {
		for (size_t o = 0; o < g.n_objects; o++) {
			const struct mdl_object_wait *ow = &g.objects[o];
			bool ours = false;

			for (size_t h = 0; h < ow->n_heads; h++)
				ours |= snap.sessions[ow->heads[h].session].id == d->exec.thread_id;
			for (size_t b = 0; ours && b < ow->n_blockers; b++) {
				const struct mdl_session *bs = &snap.sessions[ow->blockers[b].session];
				char sql[64];
				struct ms_err ke;

				if (bs->waiting_mdl || !kill_policies_match(&d->o->kill, bs, protect, 2))
					continue;
				snprintf(sql, sizeof(sql), "KILL %llu", bs->id);
				if (db_exec(&d->watch, sql, &ke) == 0) {
					json_array_append_new(w->kills, json_pack("{s:I, s:s, s:s, s:f, s:s}", "id", (json_int_t)bs->id,
										  "user", bs->user ? bs->user : "", "host",
										  bs->host ? bs->host : "", "transaction_age_seconds",
										  bs->trx_age_s, "last_statement", bs->info ? bs->info : ""));
					ms_note(d->o->note, d->o->ctx, "killed session %llu (%s@%s, %s %.0f s in a transaction, last statement: %.80s): "
						"it blocked %s.%s and matches --kill-blockers",
					     bs->id, bs->user ? bs->user : "", bs->host ? bs->host : "",
					     bs->command ? bs->command : "", bs->trx_age_s, bs->info ? bs->info : "(none)",
					     w->s->schema, w->s->table);
				}
			}
		}
		mdl_graph_release(&g);
	}
	mdl_snapshot_release(&snap);
}

/* Waiters queued behind us on the table (any MDL wait naming it). */
static unsigned queued_behind(struct watcher *w)
{
	struct ddl *d = w->d;
	char *name = NULL, *v = NULL, sql[512];
	struct ms_err e;
	unsigned n = 0;

	/* LOCATE, not LIKE: a table name's `_` and `%` are no wildcards. */
	name = db_quote_string(&d->watch, w->s->table);
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID NOT IN (%lu, %lu) "
				   "AND STATE = 'Waiting for table metadata lock' AND LOCATE(%s, INFO) > 0",
		 d->exec.thread_id, d->watch.thread_id, name ? name : "NULL");
	if (db_query_value(&d->watch, sql, &v, &e) == 0 && v)
		n = (unsigned)strtoul(v, NULL, 10);
	free(v);
	free(name);
	return n;
}

static void *watcher_main(void *arg)
{
	struct watcher *w = arg;
	struct ddl *d = w->d;
	double budget = d->o->max_stall_s, policy_at = budget * 0.4;
	bool tried_kill = false;
	char sql[160];

	snprintf(sql, sizeof(sql), "SELECT STATE, TIME_MS FROM information_schema.PROCESSLIST WHERE ID = %lu",
		 d->exec.thread_id);
	for (;;) {
		MYSQL_RES *r = NULL;
		MYSQL_ROW row;
		struct ms_err e;
		double wait = -1;
		struct timespec until;
		double t = ms_now() + POLL_S;
		bool stop;

		if (db_query(&d->watch, sql, &r, &e) == 0 && r && (row = mysql_fetch_row(r))) {
			if (mdl_state_is_mdl_wait(row[0]))
				wait = row[1] ? atof(row[1]) / 1000.0 : 0;
			else if (work_state(row[0]))
				w->saw_work = true;
		}
		if (r)
			mysql_free_result(r);
		if (wait > w->worst_wait_s)
			w->worst_wait_s = wait;
		if (wait < 0)
			tried_kill = false;
		if (wait >= policy_at && !tried_kill && d->o->kill.n) {
			tried_kill = true;
			kill_by_policy(w);
		}
		/* Give way one poll early, so nobody queued behind us waits
		 * past the budget; or earlier when the queue grows long. */
		if (wait >= 0 && (wait >= budget - POLL_S - 0.05 || queued_behind(w) >= d->o->max_queue)) {
			free(w->verdict);
			w->verdict = mdl_verdict_now(&d->watch);
			snprintf(sql, sizeof(sql), "KILL QUERY %lu", d->exec.thread_id);
			if (db_exec(&d->watch, sql, &e) == 0)
				w->cancelled = true;
			return NULL;
		}
		until.tv_sec = (time_t)t;
		until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
		pthread_mutex_lock(&w->mu);
		if (!w->stop)
			pthread_cond_timedwait(&w->cond, &w->mu, &until);
		stop = w->stop;
		pthread_mutex_unlock(&w->mu);
		if (stop)
			return NULL;
	}
}

static int attempt(struct ddl *d, struct stmt *s, struct watcher *w, struct ms_err *e)
{
	int rc;

	memset(w, 0, sizeof(*w));
	w->d = d;
	w->s = s;
	w->kills = json_array();
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_create(&w->thread, NULL, watcher_main, w);
	rc = db_exec(&d->exec, s->run_sql, e);
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mu);
	return rc;
}

static int run_statement(struct ddl *d, struct stmt *s, struct ms_err *e)
{
	json_t *kills = json_array();
	double t0 = ms_now(), worst = 0;
	char *last_verdict = NULL;
	struct lockreq_retry r = { .deadline = d->deadline, .base_s = 0.2, .cap = 3 };
	unsigned n = 0;
	int rc = -1;

	for (;;) {
		struct watcher w;

		n = r.attempt + 1;
		rc = attempt(d, s, &w, e);
		json_array_extend(kills, w.kills);
		json_decref(w.kills);
		if (w.worst_wait_s > worst)
			worst = w.worst_wait_s;
		if (w.verdict) {
			free(last_verdict);
			last_verdict = w.verdict;
		}
		if (rc == 0)
			break;
		/* Our own KILL QUERY, or the lock_wait_timeout backstop. */
		r.set = LOCKREQ_RETRY_DDL | (w.cancelled ? LOCKREQ_RETRY_DDL_CANCELLED : 0);
		if (!lockreq_retryable(e->sql_errno, r.set)) {
			ms_fail_context(e, "%.200s", s->sql);
			break;
		}
		ms_note(d->o->note, d->o->ctx, "attempt %u: %s waited %.0f ms for the lock on %s.%s%s and gave way; in the way: %s", n,
		     sql_stmt_kind_name(s->tg.kind), (w.worst_wait_s > 0 ? w.worst_wait_s : d->o->max_stall_s) * 1000,
		     s->schema, s->table, w.saw_work ? " at its final step (its work is redone next attempt)" : "",
		     last_verdict ? last_verdict : "(not visible; run 'mdlsafe locks')");
		if (!lockreq_retry_again(&r, e)) {
			rc = ms_fail(e, MS_TIMEOUT, "%.200s: --deadline reached after %u attempts; blocked by: %s", s->sql, n,
				     last_verdict ? last_verdict : "(not visible; run 'mdlsafe locks')");
			break;
		}
	}
	json_object_set_new(s->j, "outcome", json_string(rc == 0 ? "done" : e->status == MS_TIMEOUT ? "deadline" : "error"));
	json_object_set_new(s->j, "attempts", json_integer(n));
	json_object_set_new(s->j, "worst_wait_ms", json_real(worst * 1000));
	json_object_set_new(s->j, "duration_seconds", json_real(ms_now() - t0));
	json_object_set_new(s->j, "blocked_by", last_verdict ? json_string(last_verdict) : json_null());
	json_object_set_new(s->j, "kills", kills);
	if (rc)
		json_object_set_new(s->j, "error", json_string(e->msg));
	free(last_verdict);
	return rc;
}

int ddl_run(const struct ddl_opts *o, json_t **report, struct ms_err *e)
{
	struct ddl d = { .o = o };
	struct db_session_opts so = { 0 };
	json_t *stmts = json_array();
	struct stmt *s = calloc(o->n_statements + 1, sizeof(*s));
	int rc = -1;

	*report = json_object();
	d.started = ms_now();
	d.deadline = d.started + o->deadline_s;
	/* The watcher gives way first; this only bounds a wait it missed. */
	so.lock_wait_timeout = (double)(int)o->max_stall_s + 2;
	if (!s) {
		ms_oom(e);
		goto out;
	}
	if (db_open(&d.exec, o->conn, "ddl", &so, e) || db_open(&d.watch, o->conn, "ddl-watch", NULL, e))
		goto out;
	if (o->database && mysql_select_db(d.exec.mysql, o->database)) {
		db_fail(&d.exec, e, "selecting the database given with -D");
		goto out;
	}
	for (size_t i = 0; i < o->n_statements; i++) {
		s[i].sql = o->statements[i];
		s[i].j = json_pack("{s:s}", "sql", o->statements[i]);
		json_array_append(stmts, s[i].j);
	}
	/* Every statement is planned before the first one runs: a refused
	 * COPY or an unreadable statement stops everything up front. */
	for (size_t i = 0; i < o->n_statements; i++) {
		if (plan(&d, &s[i], e)) {
			json_object_set_new(s[i].j, "outcome", json_string("refused"));
			goto out;
		}
		if (o->online && s[i].copy_route && !s[i].algorithm[0])
			continue; /* not probed: the shadow copy plans it */
		ms_note(d.o->note, d.o->ctx, "plan: %s on %s.%s, algorithm %s; %zu session%s hold%s it or ha%s a transaction older than %.0f ms",
		     sql_stmt_kind_name(s[i].tg.kind), s[i].schema[0] ? s[i].schema : "-", s[i].table[0] ? s[i].table : "-",
		     s[i].algorithm, json_array_size(json_object_get(s[i].j, "holders_at_start")),
		     json_array_size(json_object_get(s[i].j, "holders_at_start")) == 1 ? "" : "s",
		     json_array_size(json_object_get(s[i].j, "holders_at_start")) == 1 ? "s" : "",
		     json_array_size(json_object_get(s[i].j, "holders_at_start")) == 1 ? "s" : "ve", o->max_stall_s * 1000);
	}
	if (o->online && o->n_statements == 1) {
		ms_note(o->note, o->ctx, "route: %s, because %s",
			s[0].copy_route ? "a shadow copy of the table" : "one bounded ALTER, no shadow copy",
			json_string_value(json_object_get(s[0].j, "route_reason")));
		if (s[0].copy_route) {
			rc = DDL_ROUTED_TO_COPY;
			goto out;
		}
	}
	for (size_t i = 0; i < o->n_statements && !o->dry_run; i++)
		if (run_statement(&d, &s[i], e))
			goto out;
	for (size_t i = 0; i < o->n_statements && o->dry_run; i++)
		json_object_set_new(s[i].j, "outcome", json_string("dry_run"));
	rc = 0;
out:
	json_object_set_new(*report, "status", json_string(rc == 0 ? "ok" : rc == DDL_ROUTED_TO_COPY ? "routed" : "failed"));
	if (o->online && o->n_statements == 1 && s && json_object_get(s[0].j, "route")) {
		json_object_set(*report, "route", json_object_get(s[0].j, "route"));
		json_object_set(*report, "route_reason", json_object_get(s[0].j, "route_reason"));
	}
	json_object_set_new(*report, "dry_run", json_boolean(o->dry_run));
	json_object_set_new(*report, "max_stall_ms", json_real(o->max_stall_s * 1000));
	json_object_set_new(*report, "statements", stmts);
	if (rc && rc != DDL_ROUTED_TO_COPY) {
		json_object_set_new(*report, "error", json_string(e->msg));
		json_object_set_new(*report, "exit_code", json_integer(e->status));
	}
	for (size_t i = 0; s && i < o->n_statements; i++) {
		sql_targets_release(&s[i].tg);
		free(s[i].run_sql);
		json_decref(s[i].j);
	}
	free(s);
	db_close(&d.exec);
	db_close(&d.watch);
	return rc;
}
