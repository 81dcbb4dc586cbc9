/* guard_run(): one connection polls the wait graph; a pile-up is an object
 * with a wait older than the threshold, opened once, closed when it thaws. */
#include "guard/guard.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <strings.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mdl/graph.h"
#include "mdl/inspect.h"
#include "mdl/killpolicy.h"
#include "mdl/lockreq.h"
#include "mdl/sql_targets.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/note.h"
#include "util/textfile.h"

struct pile {
	char *object;              /* `db`.`t`, the event's key */
	double started;            /* when its oldest wait began */
	double opened;             /* when it passed the threshold */
	unsigned max_waiting;
	json_t *roots, *heads, *actions;
	bool seen;                 /* still there in this poll */
	unsigned long long acted[32];  /* sessions already acted on: once each */
	size_t n_acted;
};

struct guard {
	const struct guard_opts *o;
	struct db db;
	bool connected;
	struct mdl_capabilities caps;  /* probed at connect, again every minute */
	double probed_at;
	struct kill_policies safety;  /* "any": only the hard safety rules */
	struct pile *piles;
	size_t n_piles;
	/* metrics */
	unsigned long long pileups_total, reconnects, polls;
	double pileup_seconds;         /* closed pile-ups */
	unsigned waiting_now;
	double longest_now;
	unsigned long long kills_ddl, kills_idle, would_kill;
	bool seen_any;
};

/* One JSON line per event; flushed so a tail -f sees it at once. */
static void log_event(struct guard *g, const char *event, json_t *fields)
{
	char ts[40];
	time_t t = time(NULL);
	struct tm tm;

	if (!g->o->log) {
		json_decref(fields);
		return;
	}
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!fields)
		fields = json_object();
	json_object_set_new(fields, "ts", json_string(ts));
	json_object_set_new(fields, "event", json_string(event));
	json_dumpf(fields, g->o->log, JSON_COMPACT | JSON_SORT_KEYS);
	fputc('\n', g->o->log);
	fflush(g->o->log);
	json_decref(fields);
}

static json_t *session_json(const struct mdl_session *s)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:f, s:b, s:f, s:s}", "id", (json_int_t)s->id, "user", s->user ? s->user : "",
			 "host", s->host ? s->host : "", "command", s->command ? s->command : "", "seconds", s->time_s,
			 "in_transaction", s->has_trx, "transaction_age_seconds", s->has_trx ? s->trx_age_s : 0.0,
			 "statement", s->info ? s->info : "");
}

static bool in_list(char **list, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

/* ---- metrics ------------------------------------------------------------ */

static void write_metrics(struct guard *g)
{
	const char *path = g->o->metrics_file;
	struct buf b = BUF_INIT;
	double open_s = 0, t = ms_now();
	struct ms_err ignored;

	if (!path)
		return;
	for (size_t i = 0; i < g->n_piles; i++)
		open_s += t - g->piles[i].started;
	buf_addf(&b,
		 "# HELP mdlsafe_guard_up 1 when the guard is connected to the server.\n"
		 "# TYPE mdlsafe_guard_up gauge\nmdlsafe_guard_up %d\n"
		 "# HELP mdlsafe_guard_pileups_total Metadata-lock pile-ups seen (a wait older than --max-stall).\n"
		 "# TYPE mdlsafe_guard_pileups_total counter\nmdlsafe_guard_pileups_total %llu\n"
		 "# HELP mdlsafe_guard_pileup_seconds_total Seconds spent in pile-ups, from each one's first wait.\n"
		 "# TYPE mdlsafe_guard_pileup_seconds_total counter\nmdlsafe_guard_pileup_seconds_total %.3f\n"
		 "# HELP mdlsafe_guard_sessions_waiting Sessions waiting for a metadata lock now.\n"
		 "# TYPE mdlsafe_guard_sessions_waiting gauge\nmdlsafe_guard_sessions_waiting %u\n"
		 "# HELP mdlsafe_guard_longest_wait_seconds The oldest metadata-lock wait now.\n"
		 "# TYPE mdlsafe_guard_longest_wait_seconds gauge\nmdlsafe_guard_longest_wait_seconds %.3f\n"
		 "# HELP mdlsafe_guard_kills_total Sessions the guard killed, by reason.\n"
		 "# TYPE mdlsafe_guard_kills_total counter\n"
		 "mdlsafe_guard_kills_total{reason=\"waiting_ddl\"} %llu\n"
		 "mdlsafe_guard_kills_total{reason=\"idle_blocker\"} %llu\n"
		 "# HELP mdlsafe_guard_dry_run_kills_total Kills --dry-run would have made.\n"
		 "# TYPE mdlsafe_guard_dry_run_kills_total counter\nmdlsafe_guard_dry_run_kills_total %llu\n"
		 "# HELP mdlsafe_guard_reconnects_total Times the connection was lost and made again.\n"
		 "# TYPE mdlsafe_guard_reconnects_total counter\nmdlsafe_guard_reconnects_total %llu\n",
		 g->connected ? 1 : 0, g->pileups_total, g->pileup_seconds + open_s, g->waiting_now, g->longest_now,
		 g->kills_ddl, g->kills_idle, g->would_kill, g->reconnects);
	/* For any scraper to read, hence 0644; a lost write is redone next poll. */
	if (!b.failed)
		ms_replace_file(path, b.data, b.len, 0644, false, &ignored);
	buf_release(&b);
}

/* ---- pile-ups ----------------------------------------------------------- */

static struct pile *pile_find(struct guard *g, const char *object)
{
	for (size_t i = 0; i < g->n_piles; i++)
		if (!strcmp(g->piles[i].object, object))
			return &g->piles[i];
	return NULL;
}

static void pile_close(struct guard *g, size_t i, const char *why)
{
	struct pile *p = &g->piles[i];
	double dur = ms_now() - p->started;

	g->pileup_seconds += dur;
	ms_note(g->o->say, g->o->ctx, "pile-up on %s ended (%s) after %.1f s; up to %u sessions waited", p->object, why, dur, p->max_waiting);
	log_event(g, "pileup_close", json_pack("{s:s, s:s, s:f, s:I, s:O, s:O, s:O}", "object", p->object, "reason", why,
					       "duration_seconds", dur, "max_waiting", (json_int_t)p->max_waiting,
					       "root_blockers", p->roots, "heads", p->heads, "actions", p->actions));
	free(p->object);
	json_decref(p->roots);
	json_decref(p->heads);
	json_decref(p->actions);
	g->piles[i] = g->piles[--g->n_piles];
}

/* A session the guard may kill: the hard safety rules, our own session, and
 * --protect-user. why is for the log. */
static bool killable(struct guard *g, const struct mdl_session *s, const char **why)
{
	if (in_list(g->o->protect_users, g->o->n_protect, s->user)) {
		*why = "protected user";
		return false;
	}
	if (s->id == g->db.thread_id) {
		*why = "the guard's own session";
		return false;
	}
	/* "any": what is left are the hard safety rules, and their reason. */
	return kill_policy_matches(g->safety.v[0], s, why);
}

static void act(struct guard *g, struct pile *p, const struct mdl_session *s, bool query_only, const char *reason)
{
	const char *why = NULL;
	char sql[64];
	struct ms_err e;
	const char *result;

	for (size_t i = 0; i < p->n_acted; i++)
		if (p->acted[i] == s->id)
			return;
	if (p->n_acted < sizeof(p->acted) / sizeof(p->acted[0]))
		p->acted[p->n_acted++] = s->id;
	if (!killable(g, s, &why)) {
		result = why;
	} else if (g->o->dry_run) {
		result = "dry run: not killed";
		g->would_kill++;
	} else {
		snprintf(sql, sizeof(sql), "%s %llu", query_only ? "KILL QUERY" : "KILL", s->id);
		if (db_exec(&g->db, sql, &e) == 0) {
			result = query_only ? "cancelled (KILL QUERY: the session stays)" : "killed (KILL: its transaction rolls back)";
			if (query_only)
				g->kills_ddl++;
			else
				g->kills_idle++;
		} else {
			result = e.msg;
		}
	}
	ms_note(g->o->say, g->o->ctx, "pile-up on %s: %s session %llu (%s@%s, %.80s): %s", p->object, reason, s->id, s->user ? s->user : "",
	    s->host ? s->host : "", s->info ? s->info : (s->command ? s->command : ""), result);
	json_t *a = json_pack("{s:s, s:s, s:o, s:s}", "action", query_only ? "kill_query" : "kill", "reason", reason,
			      "session", session_json(s), "result", result);
	json_array_append(p->actions, a);
	json_object_set_new(a, "object", json_string(p->object));
	log_event(g, "action", a);
}

static bool is_lock_statement(const char *info)
{
	struct sql_targets t;
	bool yes;

	if (!info || sql_targets_parse(info, &t))
		return false;
	yes = t.is_ddl || t.kind == SQL_STMT_LOCK_TABLES || t.kind == SQL_STMT_FLUSH_TABLES;
	sql_targets_release(&t);
	return yes;
}

/* The policy, on one open pile-up: idle root blockers first (the waiting
 * DDL then completes), else the waiting DDL itself. */
static void act_on(struct guard *g, struct pile *p, const struct mdl_snapshot *snap, const struct mdl_graph *gr,
		   const struct mdl_object_wait *ow)
{
	bool killed_blocker = false;

	if (g->o->kill_idle_s > 0) {
		for (size_t i = 0; i < gr->n_roots; i++) {
			const struct mdl_session *s = &snap->sessions[gr->roots[i].session];
			bool blocks_here = false;

			for (size_t b = 0; b < ow->n_blockers; b++)
				blocks_here |= ow->blockers[b].session == gr->roots[i].session;
			if (!blocks_here || !s->has_trx || !s->command || strcasecmp(s->command, "Sleep") ||
			    s->time_s < g->o->kill_idle_s)
				continue;
			act(g, p, s, false, "idle root blocker");
			killed_blocker = true;
		}
	}
	if (!g->o->kill_waiting_ddl || killed_blocker)
		return;
	/* A pending DDL / LOCK TABLES / FLUSH with others waiting on the same
	 * table (seed 004). Sources that infer waits cannot always tell who
	 * queues behind whom, so any other waiter there counts... */
	for (size_t h = 0; ow->n_heads + ow->n_queued > 1 && h < ow->n_heads; h++) {
		const struct mdl_session *s = &snap->sessions[ow->heads[h].session];
		if (is_lock_statement(s->info))
			act(g, p, s, true, "waiting DDL others queue behind");
	}
	/* ... or one that, while it waits for another table, holds this one
	 * (seed 000: LOCK TABLES holds the tables it got while it waits). */
	for (size_t b = 0; b < ow->n_blockers; b++) {
		const struct mdl_session *s = &snap->sessions[ow->blockers[b].session];
		if (s->waiting_mdl && is_lock_statement(s->info))
			act(g, p, s, true, "waiting lock statement that holds what others wait for");
	}
}

static bool all_ignored(struct guard *g, const struct mdl_snapshot *snap, const struct mdl_object_wait *ow)
{
	for (size_t h = 0; h < ow->n_heads; h++)
		if (!in_list(g->o->ignore_users, g->o->n_ignore, snap->sessions[ow->heads[h].session].user))
			return false;
	for (size_t q = 0; q < ow->n_queued; q++)
		if (!in_list(g->o->ignore_users, g->o->n_ignore, snap->sessions[ow->queued[q].session].user))
			return false;
	return true;
}

static void open_pile(struct guard *g, const char *object, const struct mdl_snapshot *snap,
		      const struct mdl_graph *gr, const struct mdl_object_wait *ow)
{
	struct pile *grown = realloc(g->piles, (g->n_piles + 1) * sizeof(*grown)), *p;
	char *verdict = mdl_graph_verdict(gr);

	if (!grown) {
		free(verdict);
		return;
	}
	g->piles = grown;
	p = &g->piles[g->n_piles++];
	memset(p, 0, sizeof(*p));
	p->object = strdup(object);
	p->started = snap->taken_at - ow->oldest_wait_s;
	p->opened = ms_now();
	p->roots = json_array();
	p->heads = json_array();
	p->actions = json_array();
	for (size_t b = 0; b < ow->n_blockers; b++)
		json_array_append_new(p->roots, session_json(&snap->sessions[ow->blockers[b].session]));
	for (size_t i = 0; i < gr->n_roots; i++) {
		bool listed = false;
		for (size_t b = 0; b < ow->n_blockers; b++)
			listed |= ow->blockers[b].session == gr->roots[i].session;
		if (!listed && gr->n_objects == 1)
			json_array_append_new(p->roots, session_json(&snap->sessions[gr->roots[i].session]));
	}
	for (size_t h = 0; h < ow->n_heads; h++)
		json_array_append_new(p->heads, session_json(&snap->sessions[ow->heads[h].session]));
	g->pileups_total++;
	g->seen_any = true;
	ms_note(g->o->say, g->o->ctx, "pile-up on %s: %zu waiting, oldest %.1f s; %s", object, ow->n_heads + ow->n_queued, ow->oldest_wait_s,
	    verdict ? verdict : "");
	log_event(g, "pileup_open", json_pack("{s:s, s:f, s:I, s:O, s:O, s:s}", "object", object, "oldest_wait_seconds",
					      ow->oldest_wait_s, "waiting", (json_int_t)(ow->n_heads + ow->n_queued),
					      "root_blockers", p->roots, "heads", p->heads, "verdict", verdict ? verdict : ""));
	free(verdict);
}

/* One poll: the graph, the pile-ups it shows, the policy. -1 when the
 * connection failed (the caller reconnects). */
static int poll_once(struct guard *g, struct ms_err *e)
{
	struct mdl_inspect_opts io = { MDL_SOURCE_AUTO, false, &g->caps };
	struct mdl_snapshot snap;
	struct mdl_graph gr;

	/* What the server offers changes rarely (an instrument switched on):
	 * look again once a minute, not every poll. */
	if (ms_now() - g->probed_at >= 60) {
		if (mdl_inspect_probe(&g->db, &g->caps, e) || mdl_inspect_require(&g->db, &g->caps, e))
			return -1;
		g->probed_at = ms_now();
	}
	if (mdl_inspect_load(&g->db, &io, &snap, e))
		return -1;
	if (mdl_graph_build(&snap, &gr, e)) {
		mdl_snapshot_release(&snap);
		return -1;
	}
	g->polls++;
	g->waiting_now = (unsigned)gr.n_waiting;
	g->longest_now = gr.oldest_wait_s;
	for (size_t i = 0; i < g->n_piles; i++)
		g->piles[i].seen = false;
	for (size_t o = 0; o < gr.n_objects; o++) {
		const struct mdl_object_wait *ow = &gr.objects[o];
		char *object = mdl_object_label(ow->object);
		struct pile *p;

		if (!object)
			continue;
		p = pile_find(g, object);
		if (!p && ow->oldest_wait_s >= g->o->max_stall_s && !all_ignored(g, &snap, ow)) {
			open_pile(g, object, &snap, &gr, ow);
			p = pile_find(g, object);
		}
		if (p) {
			p->seen = true;
			if (ow->n_heads + ow->n_queued > p->max_waiting)
				p->max_waiting = (unsigned)(ow->n_heads + ow->n_queued);
			act_on(g, p, &snap, &gr, ow);
		}
		free(object);
	}
	for (size_t i = g->n_piles; i-- > 0;)
		if (!g->piles[i].seen)
			pile_close(g, i, "no one waits any more");
	mdl_graph_release(&gr);
	mdl_snapshot_release(&snap);
	return 0;
}

/* ---- the loop ----------------------------------------------------------- */

static void nap(struct guard *g, double s)
{
	ms_nap(s, g->o->stop);
}

/* The reconnect backoff: waited in naps a stop signal ends, at most 30 s. */
static void reconnect_wait(void *ctx, double s)
{
	nap(ctx, s < 30 ? s : 30);
}

static int connect_guard(struct guard *g, struct ms_err *e)
{
	if (db_open(&g->db, g->o->conn, "guard", NULL, e))
		return -1;
	g->connected = true;
	g->probed_at = 0; /* a restarted server may offer other sources */
	return 0;
}

int guard_run(const struct guard_opts *o, struct ms_err *e)
{
	struct guard g;
	double lost_at = 0;
	struct lockreq_retry reconnect = { .set = LOCKREQ_RETRY_ANY, .base_s = 0.5, .cap = 6, .wait = reconnect_wait };
	int rc = 0;

	memset(&g, 0, sizeof(g));
	g.o = o;
	reconnect.ctx = &g;
	if (kill_policies_add(&g.safety, "any", e))
		return -1;
	/* The first connection must work: a wrong password or a missing
	 * privilege is not transient. */
	if (connect_guard(&g, e)) {
		kill_policies_release(&g.safety);
		return -1;
	}
	if (mdl_inspect_probe(&g.db, &g.caps, e) || mdl_inspect_require(&g.db, &g.caps, e)) {
		db_close(&g.db);
		kill_policies_release(&g.safety);
		return -1;
	}
	g.probed_at = ms_now();
	log_event(&g, "start", json_pack("{s:f, s:f, s:b, s:f, s:b}", "interval_ms", o->interval_s * 1000, "max_stall_ms",
					 o->max_stall_s * 1000, "kill_waiting_ddl", o->kill_waiting_ddl,
					 "kill_idle_blockers_seconds", o->kill_idle_s, "dry_run", o->dry_run));
	while (!*o->stop) {
		double t0 = ms_now();
		struct ms_err pe;

		if (!g.connected) {
			if (connect_guard(&g, &pe) == 0) {
				g.reconnects++;
				ms_note(g.o->say, g.o->ctx, "reconnected after %.1f s without a connection", ms_now() - lost_at);
				log_event(&g, "reconnected", json_pack("{s:f}", "gap_seconds", ms_now() - lost_at));
				reconnect.attempt = 0;
			} else {
				write_metrics(&g);
				(void)lockreq_retry_again(&reconnect, &pe); /* any failure, no limit: always */
				continue;
			}
		}
		if (poll_once(&g, &pe)) {
			/* Lost connection, server restart: log the gap, keep going. */
			db_close(&g.db);
			g.connected = false;
			lost_at = ms_now();
			ms_note(g.o->say, g.o->ctx, "lost the connection (%s); reconnecting with backoff", pe.msg);
			log_event(&g, "disconnected", json_pack("{s:s}", "error", pe.msg));
			for (size_t i = g.n_piles; i-- > 0;)
				pile_close(&g, i, "connection lost");
			write_metrics(&g);
			if (o->once) {
				*e = pe;
				rc = -1;
				break;
			}
			continue;
		}
		write_metrics(&g);
		if (o->once)
			break;
		nap(&g, o->interval_s - (ms_now() - t0));
	}
	for (size_t i = g.n_piles; i-- > 0;)
		pile_close(&g, i, "guard stopped");
	g.connected = false;
	write_metrics(&g);
	log_event(&g, "stop", json_pack("{s:I, s:I}", "pileups_total", (json_int_t)g.pileups_total, "polls",
					(json_int_t)g.polls));
	free(g.piles);
	db_close(&g.db);
	kill_policies_release(&g.safety);
	if (rc == 0 && o->once)
		return g.seen_any ? 1 : 0;
	return rc;
}
