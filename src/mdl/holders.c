/* mdl_holders(): one wait-graph snapshot, filtered to the holders of some tables. */
#include "mdl/holders.h"

#include <stdio.h>
#include <string.h>

#include "mdl/inspect.h"

static bool ignored(unsigned long id, const unsigned long *ignore, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ignore[i] == id)
			return true;
	return false;
}

int mdl_holders_each(struct db *db, const char *schema, json_t *tables, double min_trx_age_s,
		     const unsigned long *ignore, size_t n_ignore, mdl_holder_fn fn, void *ctx, struct ms_err *e)
{
	struct mdl_inspect_opts io = { MDL_SOURCE_AUTO, false, NULL };
	struct mdl_snapshot snap;

	if (mdl_inspect_load(db, &io, &snap, e))
		return -1;
	for (size_t i = 0; i < snap.n_sessions; i++) {
		const struct mdl_session *ss = &snap.sessions[i];
		const char *held = NULL;

		if (ss->is_mdlsafe || ss->is_system || ss->id == db->thread_id || ignored(ss->id, ignore, n_ignore))
			continue;
		for (size_t l = 0; l < snap.n_locks && !held; l++) {
			const struct mdl_lock *k = &snap.locks[l];
			if (k->session == i && k->granted && k->schema && k->name && !strcmp(k->schema, schema) &&
			    (!tables || json_object_get(tables, k->name)))
				held = k->name;
		}
		if (held || (ss->has_trx && ss->trx_age_s >= min_trx_age_s))
			fn(ctx, db, ss, held);
	}
	mdl_snapshot_release(&snap);
	return 0;
}

static void add_holder(void *ctx, struct db *db, const struct mdl_session *ss, const char *held)
{
	(void)db;
	json_array_append_new(ctx, json_pack("{s:I, s:s, s:s, s:s, s:f, s:b, s:s?, s:s}", "id", (json_int_t)ss->id,
					     "user", ss->user ? ss->user : "", "host", ss->host ? ss->host : "",
					     "command", ss->command ? ss->command : "", "transaction_age_seconds",
					     ss->has_trx ? ss->trx_age_s : 0.0, "holds_table", held != NULL, "table",
					     held, "statement", ss->info ? ss->info : ""));
}

json_t *mdl_holders(struct db *db, const char *schema, json_t *tables, double min_trx_age_s,
		    const unsigned long *ignore, size_t n_ignore)
{
	json_t *a = json_array();
	struct ms_err e;

	mdl_holders_each(db, schema, tables, min_trx_age_s, ignore, n_ignore, add_holder, a, &e);
	return a;
}

void mdl_holder_line(json_t *h, const char *schema, char *out, size_t n)
{
	const char *table = json_string_value(json_object_get(h, "table"));
	double age = json_real_value(json_object_get(h, "transaction_age_seconds"));
	char trx[64] = "";

	if (age > 0)
		snprintf(trx, sizeof(trx), "transaction open %.0f s, ", age);
	if (table)
		snprintf(out, n, "session %lld (%s@%s, %s%s) holds `%s`.`%s`",
			 (long long)json_integer_value(json_object_get(h, "id")),
			 json_string_value(json_object_get(h, "user")), json_string_value(json_object_get(h, "host")), trx,
			 json_string_value(json_object_get(h, "command")), schema, table);
	else
		snprintf(out, n, "session %lld (%s@%s, %s%s) may hold tables of `%s`",
			 (long long)json_integer_value(json_object_get(h, "id")),
			 json_string_value(json_object_get(h, "user")), json_string_value(json_object_get(h, "host")), trx,
			 json_string_value(json_object_get(h, "command")), schema);
}
