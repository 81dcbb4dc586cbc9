/* Serialises the wait graph; the field list here is the documented schema
 * (docs/formats.md, "locks"). */
#include "mdl/graph_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STATEMENT_MAX 512

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static double round_ms(double s)
{
	return round(s * 1000.0) / 1000.0;
}

static bool idle_in_trx(const struct mdl_session *s)
{
	return s->has_trx && s->command && !strcmp(s->command, "Sleep");
}

json_t *mdl_session_to_json(const struct mdl_session *s)
{
	json_t *o = json_object();
	char stmt[STATEMENT_MAX + 4];

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer((json_int_t)s->id));
	json_object_set_new(o, "user", str_or_null(s->user));
	json_object_set_new(o, "host", str_or_null(s->host));
	json_object_set_new(o, "db", str_or_null(s->db));
	json_object_set_new(o, "command", str_or_null(s->command));
	json_object_set_new(o, "state", str_or_null(s->state));
	json_object_set_new(o, "seconds", json_real(round_ms(s->time_s)));
	if (s->info) {
		int cut = STATEMENT_MAX;
		/* Never cut inside a UTF-8 sequence: back up over continuation bytes. */
		if (strlen(s->info) > STATEMENT_MAX)
			while (cut > 0 && ((unsigned char)s->info[cut] & 0xC0) == 0x80)
				cut--;
		snprintf(stmt, sizeof(stmt), "%.*s%s", cut, s->info, strlen(s->info) > STATEMENT_MAX ? "..." : "");
		/* Invalid UTF-8 (binary literals) must not break the document. */
		json_t *j = json_string(stmt);
		json_object_set_new(o, "statement", j ? j : json_string("(not valid UTF-8)"));
	} else {
		json_object_set_new(o, "statement", json_null());
	}
	json_object_set_new(o, "in_transaction", json_boolean(s->has_trx));
	json_object_set_new(o, "transaction_age_seconds",
			    s->has_trx ? json_real(round_ms(s->trx_age_s)) : json_null());
	json_object_set_new(o, "idle_in_transaction", json_boolean(idle_in_trx(s)));
	json_object_set_new(o, "rows_modified", json_integer((json_int_t)s->trx_rows_modified));
	json_object_set_new(o, "mdlsafe", json_boolean(s->is_mdlsafe));
	json_object_set_new(o, "system", json_boolean(s->is_system));
	return o;
}

static json_t *request_json(const struct mdl_graph *g, const struct mdl_request_ref *r)
{
	const struct mdl_lock *l = &g->snap->locks[r->lock];
	json_t *o = mdl_session_to_json(&g->snap->sessions[r->session]);

	if (!o)
		return NULL;
	json_object_set_new(o, "lock_type", json_string(l->type_name));
	json_object_set_new(o, "inferred", json_boolean(l->inferred));
	return o;
}

static json_t *object_json(const struct mdl_graph *g, const struct mdl_object_wait *w)
{
	json_t *o = json_object(), *heads = json_array(), *blockers = json_array(), *queued = json_array();

	json_object_set_new(o, "object_type", json_string(w->object->object_type));
	json_object_set_new(o, "schema", str_or_null(w->object->schema));
	json_object_set_new(o, "name", str_or_null(w->object->name));
	json_object_set_new(o, "oldest_wait_seconds", json_real(round_ms(w->oldest_wait_s)));
	for (size_t i = 0; i < w->n_heads; i++)
		json_array_append_new(heads, request_json(g, &w->heads[i]));
	for (size_t i = 0; i < w->n_blockers; i++) {
		const struct mdl_blocker *b = &w->blockers[i];
		json_t *s = mdl_session_to_json(&g->snap->sessions[b->session]);
		json_object_set_new(s, "lock_type",
				    b->lock >= 0 ? json_string(g->snap->locks[b->lock].type_name) : json_null());
		json_object_set_new(s, "candidate", json_boolean(b->candidate));
		json_object_set_new(s, "reason", json_string(b->reason));
		json_array_append_new(blockers, s);
	}
	for (size_t i = 0; i < w->n_queued; i++)
		json_array_append_new(queued, request_json(g, &w->queued[i]));
	json_object_set_new(o, "heads", heads);
	json_object_set_new(o, "blockers", blockers);
	json_object_set_new(o, "queued", queued);
	return o;
}

json_t *mdl_graph_to_json(const struct mdl_graph *g)
{
	const struct mdl_snapshot *s = g->snap;
	json_t *root = json_object(), *roots = json_array(), *objects = json_array();
	char when[32], *verdict = mdl_graph_verdict(g);
	time_t t = (time_t)s->taken_at;
	struct tm tm;

	if (!root || !roots || !objects || !verdict) {
		json_decref(root);
		json_decref(roots);
		json_decref(objects);
		free(verdict);
		return NULL;
	}
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(root, "schema_version", json_integer(1));
	json_object_set_new(root, "server_version", str_or_null(s->server_version));
	json_object_set_new(root, "taken_at", json_string(when));
	json_object_set_new(root, "source", json_string(mdl_source_name(s->source)));
	json_object_set_new(root, "holders_exact", json_boolean(s->holders_exact));
	json_object_set_new(root, "verdict", json_string(verdict));
	json_object_set_new(root, "waiting_sessions", json_integer((json_int_t)g->n_waiting));
	json_object_set_new(root, "objects_with_waits", json_integer((json_int_t)g->n_objects));
	json_object_set_new(root, "oldest_wait_seconds", json_real(round_ms(g->oldest_wait_s)));
	for (size_t i = 0; i < g->n_roots; i++) {
		const struct mdl_root *r = &g->roots[i];
		json_t *o = mdl_session_to_json(&s->sessions[r->session]);
		json_object_set_new(o, "candidate", json_boolean(r->candidate));
		json_object_set_new(o, "frozen_sessions", json_integer((json_int_t)r->n_frozen));
		json_object_set_new(o, "kill", json_string(r->kill));
		json_object_set_new(o, "kill_effect", json_string(r->why));
		json_array_append_new(roots, o);
	}
	for (size_t i = 0; i < g->n_objects; i++)
		json_array_append_new(objects, object_json(g, &g->objects[i]));
	json_object_set_new(root, "root_blockers", roots);
	json_object_set_new(root, "objects", objects);
	if (s->row_waits_loaded) {
		json_t *rw = json_array();
		for (size_t i = 0; i < s->n_row_waits; i++) {
			json_t *o = json_object();
			json_object_set_new(o, "waiting_id", json_integer((json_int_t)s->row_waits[i].waiting_id));
			json_object_set_new(o, "blocking_id", json_integer((json_int_t)s->row_waits[i].blocking_id));
			json_object_set_new(o, "table", json_string(s->row_waits[i].table));
			json_object_set_new(o, "wait_seconds", json_real(round_ms(s->row_waits[i].wait_s)));
			json_array_append_new(rw, o);
		}
		json_object_set_new(root, "row_lock_waits", rw);
	}
	free(verdict);
	return root;
}
