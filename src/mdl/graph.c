/* Turns a snapshot into the wait graph. The server's conflict matrices decide
 * who blocks whom when the source lists locks; otherwise open transactions and
 * running statements older than the wait become candidates. */
#include "mdl/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdl/sql_targets.h"
#include "util/buf.h"

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool same_object(const struct mdl_lock *a, const struct mdl_lock *b)
{
	return str_eq(a->object_type, b->object_type) && str_eq(a->schema, b->schema) &&
	       str_eq(a->name, b->name);
}

static double wait_of(const struct mdl_snapshot *s, const struct mdl_lock *l)
{
	return s->sessions[l->session].time_s;
}

/* Grow-by-one append for the small arrays of the graph. */
static int push(void **arr, size_t *n, size_t size, const void *item)
{
	void *grown = realloc(*arr, (*n + 1) * size);

	if (!grown)
		return -1;
	memcpy((char *)grown + *n * size, item, size);
	*arr = grown;
	(*n)++;
	return 0;
}

static bool has_blocker(const struct mdl_object_wait *o, size_t session)
{
	for (size_t i = 0; i < o->n_blockers; i++)
		if (o->blockers[i].session == session)
			return true;
	return false;
}

static bool is_waiter_here(const struct mdl_object_wait *o, size_t session)
{
	for (size_t i = 0; i < o->n_heads; i++)
		if (o->heads[i].session == session)
			return true;
	for (size_t i = 0; i < o->n_queued; i++)
		if (o->queued[i].session == session)
			return true;
	return false;
}

/* Does the running statement of session `ss` name the table of `obj`? */
static bool statement_touches(const struct mdl_session *ss, const struct mdl_lock *obj)
{
	struct sql_targets t;
	bool hit = false;

	if (!ss->info || !obj->name || sql_targets_parse(ss->info, &t) != 0)
		return false;
	for (size_t i = 0; i < t.n_tables && !hit; i++) {
		const char *schema = t.tables[i].schema ? t.tables[i].schema : ss->db;
		hit = str_eq(t.tables[i].name, obj->name) && str_eq(schema, obj->schema);
	}
	sql_targets_release(&t);
	return hit;
}

/*
 * Without lock tables we cannot see holders. A session that has had a
 * transaction open since before the head started waiting, or has been running
 * a statement on this table since then, may hold the lock: list it as a
 * candidate rather than say nothing.
 */
static int add_candidates(const struct mdl_snapshot *s, struct mdl_object_wait *o, double head_wait)
{
	for (size_t i = 0; i < s->n_sessions; i++) {
		const struct mdl_session *ss = &s->sessions[i];
		struct mdl_blocker b = { i, -1, true, NULL };

		if (ss->waiting_mdl || is_waiter_here(o, i) || has_blocker(o, i) || ss->is_system)
			continue;
		if (ss->has_trx && ss->trx_age_s + 1.0 >= head_wait)
			b.reason = "transaction open since before the wait began";
		else if (ss->command && !strcmp(ss->command, "Query") && ss->time_s + 1.0 >= head_wait &&
			 statement_touches(ss, o->object))
			b.reason = "statement on this table running since before the wait began";
		else
			continue;
		if (push((void **)&o->blockers, &o->n_blockers, sizeof(b), &b))
			return -1;
	}
	return 0;
}

static int add_granted_blockers(const struct mdl_snapshot *s, struct mdl_object_wait *o,
				const struct mdl_lock *req)
{
	bool found = false;

	for (size_t k = 0; k < s->n_locks; k++) {
		const struct mdl_lock *g = &s->locks[k];
		struct mdl_blocker b = { g->session, (long)k, false, "holds a conflicting lock" };

		if (!g->granted || g->session == req->session || !same_object(g, req))
			continue;
		if (!mdl_conflicts_with_granted(req->type, g->type))
			continue;
		found = true;
		if (!has_blocker(o, g->session) && push((void **)&o->blockers, &o->n_blockers, sizeof(b), &b))
			return -1;
	}
	/* An inferred request type may be wrong, and performance_schema keeps
	 * showing a lock's type from before an upgrade (a LOCK TABLES READ
	 * still reads SHARED_READ once granted): when no holder conflicts on
	 * paper, any other holder of the object is worth naming, as a candidate. */
	if (!found) {
		for (size_t k = 0; k < s->n_locks; k++) {
			const struct mdl_lock *g = &s->locks[k];
			struct mdl_blocker b = { g->session, (long)k, true,
					 "holds a lock on this object (its reported type looks compatible)" };

			if (!g->granted || g->session == req->session || !same_object(g, req) ||
			    has_blocker(o, g->session))
				continue;
			if (push((void **)&o->blockers, &o->n_blockers, sizeof(b), &b))
				return -1;
		}
	}
	return 0;
}

/* Pending requests on one object, oldest first: the server's queue order
 * as far as it can be seen from outside. */
static size_t collect_pending(const struct mdl_snapshot *s, const struct mdl_lock *obj, size_t *out)
{
	size_t n = 0;

	for (size_t k = 0; k < s->n_locks; k++)
		if (!s->locks[k].granted && same_object(&s->locks[k], obj))
			out[n++] = k;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && wait_of(s, &s->locks[out[j]]) > wait_of(s, &s->locks[out[j - 1]]); j--) {
			size_t t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

static int build_object(const struct mdl_snapshot *s, const struct mdl_lock *obj, size_t *scratch,
			struct mdl_object_wait *o)
{
	size_t n = collect_pending(s, obj, scratch);

	memset(o, 0, sizeof(*o));
	o->object = obj;
	for (size_t i = 0; i < n; i++) {
		const struct mdl_lock *p = &s->locks[scratch[i]];
		struct mdl_request_ref r = { p->session, scratch[i] };
		bool behind = false;

		if (wait_of(s, p) > o->oldest_wait_s)
			o->oldest_wait_s = wait_of(s, p);
		for (size_t j = 0; j < i && !behind; j++) {
			const struct mdl_lock *q = &s->locks[scratch[j]];
			behind = q->session != p->session && mdl_conflicts_with_pending(p->type, q->type);
		}
		if (behind) {
			if (push((void **)&o->queued, &o->n_queued, sizeof(r), &r))
				return -1;
			continue;
		}
		if (push((void **)&o->heads, &o->n_heads, sizeof(r), &r))
			return -1;
		if (s->holders_exact && add_granted_blockers(s, o, p))
			return -1;
	}
	/* Nothing visible holds the object (a MyISAM read outside InnoDB, a
	 * source without holders): fall back to the sessions that could. */
	if (o->n_heads && o->n_blockers == 0)
		return add_candidates(s, o, wait_of(s, &s->locks[o->heads[0].lock]));
	return 0;
}

static size_t add_unique(size_t *out, size_t n, size_t cap, size_t v)
{
	for (size_t i = 0; i < n; i++)
		if (out[i] == v)
			return n;
	if (n < cap)
		out[n++] = v;
	return n;
}

/* Distinct sessions that session `i` waits for, via any object. */
static size_t waits_for(const struct mdl_graph *g, size_t i, size_t *out, size_t cap)
{
	size_t n = 0;

	for (size_t k = 0; k < g->n_objects; k++) {
		const struct mdl_object_wait *o = &g->objects[k];
		for (size_t h = 0; h < o->n_heads; h++) {
			if (o->heads[h].session != i)
				continue;
			for (size_t b = 0; b < o->n_blockers; b++)
				if (o->blockers[b].session != i)
					n = add_unique(out, n, cap, o->blockers[b].session);
		}
		for (size_t q = 0; q < o->n_queued; q++) {
			if (o->queued[q].session != i)
				continue;
			for (size_t h = 0; h < o->n_heads; h++)
				if (o->heads[h].session != i)
					n = add_unique(out, n, cap, o->heads[h].session);
		}
	}
	return n;
}

/* Is session `i` a head or queued request of any object? */
static bool is_waiting(const struct mdl_graph *g, size_t i)
{
	for (size_t k = 0; k < g->n_objects; k++)
		if (is_waiter_here(&g->objects[k], i))
			return true;
	return false;
}

static bool is_candidate_blocker(const struct mdl_graph *g, size_t session)
{
	for (size_t k = 0; k < g->n_objects; k++)
		for (size_t b = 0; b < g->objects[k].n_blockers; b++)
			if (g->objects[k].blockers[b].session == session && !g->objects[k].blockers[b].candidate)
				return false;
	return true;
}

static void root_kill_advice(const struct mdl_session *ss, struct mdl_root *r)
{
	/* An idle session keeps its locks until its transaction ends, and only
	 * ending the connection ends it; a statement outside a transaction
	 * releases its locks when the statement stops. */
	if (ss->waiting_mdl) {
		/* Its holder is out of sight, but the queue is behind it. */
		snprintf(r->kill, sizeof(r->kill), "KILL QUERY %llu", ss->id);
		r->why = "cancels its stuck lock request; the sessions queued behind it proceed";
	} else if (ss->has_trx || !ss->command || strcmp(ss->command, "Query") != 0) {
		snprintf(r->kill, sizeof(r->kill), "KILL %llu", ss->id);
		r->why = ss->has_trx ? "ends the connection; its open transaction rolls back"
				     : "ends the connection, releasing the locks it holds";
	} else {
		snprintf(r->kill, sizeof(r->kill), "KILL QUERY %llu", ss->id);
		r->why = "cancels the running statement; the connection survives";
	}
}

/* Walks waits-for edges from every waiting session; the sessions reached that
 * wait for nothing are the roots. */
static int find_roots(struct mdl_graph *g)
{
	const struct mdl_snapshot *s = g->snap;
	size_t n = s->n_sessions;
	size_t *stack = malloc((n + 1) * sizeof(size_t));
	size_t *edges = malloc((n + 1) * sizeof(size_t));
	char *seen = malloc(n + 1);
	int rc = 0;

	if (!stack || !edges || !seen) {
		rc = -1;
		goto out;
	}
	for (size_t w = 0; w < n; w++) {
		size_t top = 0;

		if (!is_waiting(g, w))
			continue;
		/* Every waiter counts, including a head whose holder is out of
		 * sight: --check must not pass while an ALTER is stuck. */
		g->n_waiting++;
		if (s->sessions[w].time_s > g->oldest_wait_s)
			g->oldest_wait_s = s->sessions[w].time_s;
		memset(seen, 0, n);
		stack[top++] = w;
		seen[w] = 1;
		while (top) {
			size_t cur = stack[--top];
			size_t ne = waits_for(g, cur, edges, n);

			if (ne == 0) {
				size_t r;
				for (r = 0; r < g->n_roots && g->roots[r].session != cur; r++)
					;
				if (r == g->n_roots) {
					struct mdl_root root;
					memset(&root, 0, sizeof(root));
					root.session = cur;
					/* A stuck head is a sure way out (KILL QUERY frees
					 * its queue), not a guess. */
					root.candidate = !s->sessions[cur].waiting_mdl && is_candidate_blocker(g, cur);
					root_kill_advice(&s->sessions[cur], &root);
					if (push((void **)&g->roots, &g->n_roots, sizeof(root), &root)) {
						rc = -1;
						goto out;
					}
				}
				/* A stuck head is its own root, not frozen behind itself. */
				if (cur != w)
					g->roots[r].n_frozen++;
				continue;
			}
			for (size_t k = 0; k < ne; k++)
				if (!seen[edges[k]]) {
					seen[edges[k]] = 1;
					stack[top++] = edges[k];
				}
		}
	}
out:
	free(stack);
	free(edges);
	free(seen);
	return rc;
}

static const struct mdl_graph *sort_graph;

static int cmp_roots(const void *a, const void *b)
{
	const struct mdl_root *x = a, *y = b;
	const struct mdl_session *sx = &sort_graph->snap->sessions[x->session];
	const struct mdl_session *sy = &sort_graph->snap->sessions[y->session];

	if (x->candidate != y->candidate)
		return x->candidate ? 1 : -1;
	if (x->n_frozen != y->n_frozen)
		return x->n_frozen > y->n_frozen ? -1 : 1;
	if (sx->trx_age_s != sy->trx_age_s)
		return sx->trx_age_s > sy->trx_age_s ? -1 : 1;
	return sx->id < sy->id ? -1 : sx->id > sy->id;
}

static int cmp_objects(const void *a, const void *b)
{
	const struct mdl_object_wait *x = a, *y = b;

	if (x->oldest_wait_s != y->oldest_wait_s)
		return x->oldest_wait_s > y->oldest_wait_s ? -1 : 1;
	return 0;
}

int mdl_graph_build(const struct mdl_snapshot *s, struct mdl_graph *g, struct ms_err *e)
{
	size_t *scratch = malloc((s->n_locks + 1) * sizeof(size_t));

	memset(g, 0, sizeof(*g));
	g->snap = s;
	if (!scratch)
		return ms_fail(e, MS_INTERNAL, "out of memory building the wait graph");
	for (size_t k = 0; k < s->n_locks; k++) {
		const struct mdl_lock *l = &s->locks[k];
		struct mdl_object_wait o;
		bool known = false;

		if (l->granted)
			continue;
		for (size_t j = 0; j < g->n_objects && !known; j++)
			known = same_object(g->objects[j].object, l);
		if (known)
			continue;
		if (build_object(s, l, scratch, &o) ||
		    push((void **)&g->objects, &g->n_objects, sizeof(o), &o)) {
			free(scratch);
			mdl_graph_release(g);
			return ms_fail(e, MS_INTERNAL, "out of memory building the wait graph");
		}
	}
	free(scratch);
	if (find_roots(g)) {
		mdl_graph_release(g);
		return ms_fail(e, MS_INTERNAL, "out of memory building the wait graph");
	}
	/* qsort has no context argument in C11; the graph is built on one thread. */
	sort_graph = g;
	if (g->n_roots > 1)
		qsort(g->roots, g->n_roots, sizeof(*g->roots), cmp_roots);
	if (g->n_objects > 1)
		qsort(g->objects, g->n_objects, sizeof(*g->objects), cmp_objects);
	sort_graph = NULL;
	return 0;
}

void mdl_graph_release(struct mdl_graph *g)
{
	for (size_t i = 0; i < g->n_objects; i++) {
		free(g->objects[i].heads);
		free(g->objects[i].blockers);
		free(g->objects[i].queued);
	}
	free(g->objects);
	free(g->roots);
	memset(g, 0, sizeof(*g));
}

char *mdl_object_label(const struct mdl_lock *l)
{
	struct buf b = BUF_INIT;

	if (l->name) {
		if (l->schema)
			buf_addf(&b, "`%s`.", l->schema);
		buf_addf(&b, "`%s`", l->name);
	} else if (l->schema) {
		buf_addf(&b, "schema `%s`", l->schema);
	} else if (!strcmp(l->object_type, "UNKNOWN")) {
		buf_adds(&b, "(object not identified)");
	} else {
		buf_addf(&b, "%s lock", l->object_type);
	}
	return b.failed ? (buf_release(&b), NULL) : buf_detach(&b);
}

char *mdl_graph_verdict(const struct mdl_graph *g)
{
	struct buf b = BUF_INIT;

	if (g->n_waiting == 0)
		return strdup("no metadata-lock waits");
	buf_addf(&b, "%zu session%s frozen on %zu object%s, oldest %.0f s", g->n_waiting,
		 g->n_waiting == 1 ? "" : "s", g->n_objects, g->n_objects == 1 ? "" : "s",
		 g->oldest_wait_s);
	if (g->n_roots == 0) {
		buf_adds(&b, ", root blocker not visible");
	} else {
		buf_addf(&b, ", root blocker%s: ", g->n_roots == 1 ? "" : "s");
		for (size_t i = 0; i < g->n_roots; i++) {
			const struct mdl_session *ss = &g->snap->sessions[g->roots[i].session];
			buf_addf(&b, "%s%llu (%s@%s", i ? ", " : "", ss->id, ss->user ? ss->user : "?",
				 ss->host ? ss->host : "?");
			if (ss->has_trx)
				buf_addf(&b, ", %s %.0f s",
					 ss->command && !strcmp(ss->command, "Sleep") ? "idle in transaction"
										     : "transaction open",
					 ss->trx_age_s);
			if (ss->waiting_mdl)
				buf_adds(&b, ", its own request is stuck and others queue behind it");
			if (g->roots[i].candidate)
				buf_adds(&b, ", candidate");
			buf_adds(&b, ")");
		}
	}
	return b.failed ? (buf_release(&b), NULL) : buf_detach(&b);
}
