/* Unit tests for the metadata-lock wait graph: hand-built snapshots in, heads,
 * blockers, queues, root blockers, KILL advice, verdict text and JSON out. */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdl/graph.h"
#include "mdl/graph_json.h"
#include "mdl/snapshot.h"

#define TAKEN_AT 1700000000.0 /* 2023-11-14T22:13:20Z */
#define WAIT_STATE "Waiting for table metadata lock"

/* ---- fixture: everything a test allocates, freed even when it fails ------ */

struct fx {
	struct mdl_snapshot s;
	struct mdl_graph g;
	char *verdict;
	json_t *json;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	json_decref(f->json);
	free(f->verdict);
	mdl_graph_release(&f->g);
	mdl_snapshot_release(&f->s);
	free(f);
	return 0;
}

static void snap_init(struct fx *f, enum mdl_source source)
{
	f->s.source = source;
	f->s.holders_exact = source != MDL_SOURCE_PROCESSLIST;
	f->s.taken_at = TAKEN_AT;
	f->s.server_version = strdup("10.11.6-MariaDB");
	assert_non_null(f->s.server_version);
}

/* Adds a session; user and host default so verdicts are predictable. */
static size_t sess(struct fx *f, struct mdl_session t)
{
	long i;

	if (!t.user)
		t.user = "app";
	if (!t.host)
		t.host = "10.0.0.1";
	if (t.waiting_mdl && !t.state)
		t.state = WAIT_STATE;
	i = mdl_snapshot_add_session(&f->s, &t);
	assert_true(i >= 0);
	return (size_t)i;
}

static void lock(struct fx *f, size_t session, const char *schema, const char *name,
		 const char *type, bool granted)
{
	assert_int_equal(mdl_snapshot_add_lock(&f->s, session, "TABLE", schema, name, type, granted, false), 0);
}

static void build(struct fx *f)
{
	struct ms_err e;

	memset(&e, 0, sizeof(e));
	if (mdl_graph_build(&f->s, &f->g, &e) != 0)
		fail_msg("mdl_graph_build failed: %s", e.msg);
	assert_ptr_equal(f->g.snap, &f->s);
	f->verdict = mdl_graph_verdict(&f->g);
	assert_non_null(f->verdict);
	f->json = mdl_graph_to_json(&f->g);
	assert_non_null(f->json);
}

/* ---- graph accessors ------------------------------------------------------ */

static unsigned long long sid(const struct fx *f, size_t session)
{
	assert_true(session < f->s.n_sessions);
	return f->s.sessions[session].id;
}

static const struct mdl_object_wait *object(const struct fx *f, const char *schema, const char *name)
{
	for (size_t i = 0; i < f->g.n_objects; i++) {
		const struct mdl_lock *l = f->g.objects[i].object;
		if (l->schema && l->name && !strcmp(l->schema, schema) && !strcmp(l->name, name))
			return &f->g.objects[i];
	}
	fail_msg("no object `%s`.`%s` in the graph", schema, name);
	return NULL;
}

/* Asserts the session ids of a request list, in order. */
static void assert_refs(const struct fx *f, const struct mdl_request_ref *r, size_t n,
			const unsigned long long *ids, size_t n_ids)
{
	assert_int_equal(n, n_ids);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(sid(f, r[i].session), ids[i]);
		assert_true(r[i].lock < f->s.n_locks);
		assert_int_equal(f->s.locks[r[i].lock].session, r[i].session);
		assert_false(f->s.locks[r[i].lock].granted);
	}
}

static const struct mdl_blocker *blocker(const struct fx *f, const struct mdl_object_wait *o,
					 unsigned long long id)
{
	for (size_t i = 0; i < o->n_blockers; i++)
		if (sid(f, o->blockers[i].session) == id)
			return &o->blockers[i];
	return NULL;
}

static const struct mdl_root *root(const struct fx *f, unsigned long long id)
{
	for (size_t i = 0; i < f->g.n_roots; i++)
		if (sid(f, f->g.roots[i].session) == id)
			return &f->g.roots[i];
	return NULL;
}

static void assert_prefix(const char *s, const char *prefix)
{
	if (strncmp(s, prefix, strlen(prefix)) != 0)
		fail_msg("\"%s\" does not start with \"%s\"", s, prefix);
}

static void assert_contains(const char *s, const char *needle)
{
	if (!strstr(s, needle))
		fail_msg("\"%s\" does not contain \"%s\"", s, needle);
}

/* ---- JSON accessors ------------------------------------------------------- */

static json_t *jget(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		fail_msg("JSON has no \"%s\"", key);
	return v;
}

static long long jint(json_t *o, const char *key)
{
	json_t *v = jget(o, key);

	assert_true(json_is_integer(v));
	return (long long)json_integer_value(v);
}

static double jreal(json_t *o, const char *key)
{
	json_t *v = jget(o, key);

	assert_true(json_is_number(v));
	return json_number_value(v);
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = jget(o, key);

	if (!json_is_string(v))
		fail_msg("JSON \"%s\" is not a string", key);
	return json_string_value(v);
}

static bool jbool(json_t *o, const char *key)
{
	json_t *v = jget(o, key);

	assert_true(json_is_boolean(v));
	return json_is_true(v);
}

static json_t *jarr(json_t *o, const char *key, size_t n)
{
	json_t *v = jget(o, key);

	assert_true(json_is_array(v));
	assert_int_equal(json_array_size(v), n);
	return v;
}

/* ---- seed 004: one ALTER behind an idle transaction freezes the readers ---- */

static void seed_004(struct fx *f)
{
	size_t a, b, c, d;

	snap_init(f, MDL_SOURCE_PFS);
	a = sess(f, (struct mdl_session){ .id = 5, .db = "shop", .command = "Sleep", .time_s = 70,
					   .has_trx = true, .trx_age_s = 70 });
	b = sess(f, (struct mdl_session){ .id = 6, .db = "shop", .command = "Query", .time_s = 12,
					   .waiting_mdl = true,
					   .info = "ALTER TABLE users ADD COLUMN nickname VARCHAR(40)" });
	c = sess(f, (struct mdl_session){ .id = 7, .db = "shop", .command = "Query", .time_s = 9,
					   .waiting_mdl = true, .info = "SELECT * FROM users WHERE id = 1" });
	d = sess(f, (struct mdl_session){ .id = 8, .db = "shop", .command = "Query", .time_s = 3,
					   .waiting_mdl = true, .info = "SELECT * FROM users WHERE id = 2" });
	lock(f, a, "shop", "users", "SHARED_READ", true);
	lock(f, b, "shop", "users", "SHARED_UPGRADABLE", true);
	lock(f, b, "shop", "users", "EXCLUSIVE", false);
	lock(f, c, "shop", "users", "SHARED_READ", false);
	lock(f, d, "shop", "users", "SHARED_READ", false);
}

static void test_alter_behind_idle_transaction_freezes_readers_and_names_the_transaction(void **state)
{
	struct fx *f = *state;
	static const unsigned long long heads[] = { 6 }, queued[] = { 7, 8 };
	const struct mdl_object_wait *o;
	const struct mdl_blocker *bl;

	seed_004(f);
	build(f);

	assert_int_equal(f->g.n_objects, 1);
	o = object(f, "shop", "users");
	assert_refs(f, o->heads, o->n_heads, heads, 1);
	assert_string_equal(f->s.locks[o->heads[0].lock].type_name, "EXCLUSIVE");
	assert_int_equal(o->n_blockers, 1);
	bl = blocker(f, o, 5);
	assert_non_null(bl);
	assert_false(bl->candidate);
	assert_true(bl->lock >= 0);
	assert_int_equal(f->s.locks[bl->lock].type, MDL_TYPE_SHARED_READ);
	assert_true(f->s.locks[bl->lock].granted);
	assert_refs(f, o->queued, o->n_queued, queued, 2);
	assert_true(o->oldest_wait_s == 12.0);

	assert_int_equal(f->g.n_roots, 1);
	assert_int_equal(sid(f, f->g.roots[0].session), 5);
	assert_false(f->g.roots[0].candidate);
	assert_string_equal(f->g.roots[0].kill, "KILL 5");
	assert_non_null(f->g.roots[0].why);
	assert_int_equal(f->g.roots[0].n_frozen, 3);
	assert_int_equal(f->g.n_waiting, 3);
	assert_true(f->g.oldest_wait_s == 12.0);

	assert_prefix(f->verdict, "3 sessions frozen on 1 object, oldest 12 s, root blocker: 5");
	assert_contains(f->verdict, "idle in transaction 70 s");
	assert_null(strstr(f->verdict, "candidate"));
}

static void test_json_of_frozen_readers_carries_heads_blockers_queue_and_kill(void **state)
{
	struct fx *f = *state;
	json_t *j, *r, *o, *h, *b, *q;

	seed_004(f);
	build(f);
	j = f->json;

	assert_int_equal(jint(j, "schema_version"), 1);
	assert_string_equal(jstr(j, "server_version"), "10.11.6-MariaDB");
	assert_string_equal(jstr(j, "taken_at"), "2023-11-14T22:13:20Z");
	assert_string_equal(jstr(j, "source"), "performance_schema");
	assert_true(jbool(j, "holders_exact"));
	assert_string_equal(jstr(j, "verdict"), f->verdict);
	assert_int_equal(jint(j, "waiting_sessions"), 3);
	assert_int_equal(jint(j, "objects_with_waits"), 1);
	assert_true(jreal(j, "oldest_wait_seconds") == 12.0);
	assert_null(json_object_get(j, "row_lock_waits"));

	r = json_array_get(jarr(j, "root_blockers", 1), 0);
	assert_int_equal(jint(r, "id"), 5);
	assert_string_equal(jstr(r, "kill"), "KILL 5");
	assert_string_equal(jstr(r, "kill_effect"), f->g.roots[0].why);
	assert_int_equal(jint(r, "frozen_sessions"), 3);
	assert_false(jbool(r, "candidate"));
	assert_true(jbool(r, "in_transaction"));
	assert_true(jbool(r, "idle_in_transaction"));
	assert_true(jreal(r, "transaction_age_seconds") == 70.0);
	assert_string_equal(jstr(r, "user"), "app");
	assert_string_equal(jstr(r, "command"), "Sleep");
	assert_true(json_is_null(jget(r, "statement")));

	o = json_array_get(jarr(j, "objects", 1), 0);
	assert_string_equal(jstr(o, "object_type"), "TABLE");
	assert_string_equal(jstr(o, "schema"), "shop");
	assert_string_equal(jstr(o, "name"), "users");
	assert_true(jreal(o, "oldest_wait_seconds") == 12.0);
	h = json_array_get(jarr(o, "heads", 1), 0);
	assert_int_equal(jint(h, "id"), 6);
	assert_string_equal(jstr(h, "lock_type"), "EXCLUSIVE");
	assert_false(jbool(h, "inferred"));
	assert_string_equal(jstr(h, "state"), WAIT_STATE);
	assert_string_equal(jstr(h, "statement"), "ALTER TABLE users ADD COLUMN nickname VARCHAR(40)");
	b = json_array_get(jarr(o, "blockers", 1), 0);
	assert_int_equal(jint(b, "id"), 5);
	assert_string_equal(jstr(b, "lock_type"), "SHARED_READ");
	assert_false(jbool(b, "candidate"));
	assert_string_equal(jstr(b, "reason"), "holds a conflicting lock");
	q = jarr(o, "queued", 2);
	assert_int_equal(jint(json_array_get(q, 0), "id"), 7);
	assert_int_equal(jint(json_array_get(q, 1), "id"), 8);
	assert_string_equal(jstr(json_array_get(q, 0), "lock_type"), "SHARED_READ");
}

/* ---- KILL advice for roots ------------------------------------------------ */

/* One holder of SHARED_READ on db.t, one ALTER waiting for EXCLUSIVE. */
static const struct mdl_root *one_holder_one_alter(struct fx *f, struct mdl_session holder)
{
	size_t h, w;

	snap_init(f, MDL_SOURCE_PFS);
	h = sess(f, holder);
	w = sess(f, (struct mdl_session){ .id = 99, .command = "Query", .time_s = 15, .waiting_mdl = true,
					   .info = "ALTER TABLE db.t ADD c INT" });
	lock(f, h, "db", "t", "SHARED_READ", true);
	lock(f, w, "db", "t", "EXCLUSIVE", false);
	build(f);
	assert_int_equal(f->g.n_roots, 1);
	assert_int_equal(f->g.roots[0].n_frozen, 1);
	assert_false(f->g.roots[0].candidate);
	assert_int_equal(sid(f, f->g.roots[0].session), holder.id);
	assert_non_null(f->g.roots[0].why);
	return &f->g.roots[0];
}

static void test_root_running_statement_outside_transaction_gets_kill_query(void **state)
{
	struct fx *f = *state;
	const struct mdl_root *r = one_holder_one_alter(f, (struct mdl_session){
		.id = 20, .command = "Query", .state = "Sending data", .time_s = 50,
		.info = "SELECT SLEEP(100) FROM db.t" });

	assert_string_equal(r->kill, "KILL QUERY 20");
	assert_contains(r->why, "statement");
	assert_string_equal(jstr(json_array_get(jget(f->json, "root_blockers"), 0), "kill"), "KILL QUERY 20");
}

static void test_root_idle_in_transaction_gets_kill_connection(void **state)
{
	struct fx *f = *state;
	const struct mdl_root *r = one_holder_one_alter(f, (struct mdl_session){
		.id = 21, .command = "Sleep", .time_s = 300, .has_trx = true, .trx_age_s = 300 });

	assert_string_equal(r->kill, "KILL 21");
	assert_contains(r->why, "transaction rolls back");
	assert_contains(f->verdict, "21 (app@10.0.0.1, idle in transaction 300 s)");
}

/* KILL QUERY would leave the transaction, and its locks, in place. */
static void test_root_running_statement_inside_transaction_gets_kill_connection(void **state)
{
	struct fx *f = *state;
	const struct mdl_root *r = one_holder_one_alter(f, (struct mdl_session){
		.id = 22, .command = "Query", .time_s = 40, .has_trx = true, .trx_age_s = 90,
		.info = "SELECT SLEEP(100) FROM db.t" });

	assert_string_equal(r->kill, "KILL 22");
	assert_contains(r->why, "transaction rolls back");
	assert_contains(f->verdict, "22 (app@10.0.0.1, transaction open 90 s)");
}

/* LOCK TABLES ... READ then idle: no InnoDB transaction, locks kept until the
 * connection releases them. */
static void test_root_idle_without_transaction_gets_kill_connection(void **state)
{
	struct fx *f = *state;
	const struct mdl_root *r = one_holder_one_alter(f, (struct mdl_session){
		.id = 23, .command = "Sleep", .time_s = 600 });

	assert_string_equal(r->kill, "KILL 23");
	assert_contains(r->why, "releasing the locks");
}

static void test_root_with_unknown_command_gets_kill_connection(void **state)
{
	struct fx *f = *state;
	const struct mdl_root *r = one_holder_one_alter(f, (struct mdl_session){ .id = 24, .time_s = 600 });

	assert_string_equal(r->kill, "KILL 24");
}

/* ---- chains --------------------------------------------------------------- */

/* Seed 000: LOCK TABLES t1 READ, t2 READ waits on t2 behind an open writer,
 * while holding t1 against an application INSERT. */
static void test_chain_through_waiting_lock_tables_leads_to_the_open_writer(void **state)
{
	struct fx *f = *state;
	static const unsigned long long head_l[] = { 11 }, head_p[] = { 12 };
	const struct mdl_object_wait *t1, *t2;
	const struct mdl_blocker *bl;
	size_t w, l, p;

	snap_init(f, MDL_SOURCE_PFS);
	w = sess(f, (struct mdl_session){ .id = 10, .db = "db", .command = "Sleep", .time_s = 40,
					   .has_trx = true, .trx_age_s = 40, .trx_rows_modified = 1 });
	l = sess(f, (struct mdl_session){ .id = 11, .db = "db", .command = "Query", .time_s = 20,
					   .waiting_mdl = true, .info = "LOCK TABLES t1 READ, t2 READ" });
	p = sess(f, (struct mdl_session){ .id = 12, .db = "db", .command = "Query", .time_s = 15,
					   .waiting_mdl = true, .info = "INSERT INTO t1 VALUES (1)" });
	lock(f, w, "db", "t2", "SHARED_WRITE", true);
	lock(f, l, "db", "t1", "SHARED_READ_ONLY", true);
	lock(f, l, "db", "t2", "SHARED_READ_ONLY", false);
	lock(f, p, "db", "t1", "SHARED_WRITE", false);
	build(f);

	assert_int_equal(f->g.n_objects, 2);
	/* oldest wait first */
	assert_string_equal(f->g.objects[0].object->name, "t2");
	assert_string_equal(f->g.objects[1].object->name, "t1");
	t2 = object(f, "db", "t2");
	t1 = object(f, "db", "t1");
	assert_refs(f, t2->heads, t2->n_heads, head_l, 1);
	assert_refs(f, t1->heads, t1->n_heads, head_p, 1);
	assert_int_equal(t2->n_queued, 0);
	assert_int_equal(t1->n_queued, 0);
	assert_int_equal(t2->n_blockers, 1);
	bl = blocker(f, t2, 10);
	assert_non_null(bl);
	assert_false(bl->candidate);
	assert_int_equal(f->s.locks[bl->lock].type, MDL_TYPE_SHARED_WRITE);
	assert_int_equal(t1->n_blockers, 1);
	bl = blocker(f, t1, 11);
	assert_non_null(bl);
	assert_false(bl->candidate);
	assert_int_equal(f->s.locks[bl->lock].type, MDL_TYPE_SHARED_READ_ONLY);

	/* L blocks P but waits itself: only W is a root */
	assert_int_equal(f->g.n_roots, 1);
	assert_null(root(f, 11));
	assert_int_equal(sid(f, f->g.roots[0].session), 10);
	assert_int_equal(f->g.roots[0].n_frozen, 2);
	assert_string_equal(f->g.roots[0].kill, "KILL 10");
	assert_int_equal(f->g.n_waiting, 2);
	assert_true(f->g.oldest_wait_s == 20.0);
	assert_prefix(f->verdict, "2 sessions frozen on 2 objects, oldest 20 s, root blocker: 10 (");
	assert_int_equal(jint(json_array_get(jget(f->json, "root_blockers"), 0), "rows_modified"), 1);
}

/* ---- processlist: no lock tables, holders are candidates ------------------ */

static void processlist_scenario(struct fx *f)
{
	snap_init(f, MDL_SOURCE_PROCESSLIST);
	/* waiting, from oldest */
	sess(f, (struct mdl_session){ .id = 100, .command = "Query", .time_s = 30, .waiting_mdl = true,
				      .info = "ALTER TABLE shop.users ADD c INT" });
	sess(f, (struct mdl_session){ .id = 101, .db = "shop", .command = "Query", .time_s = 10,
				      .waiting_mdl = true, .info = "SELECT * FROM shop.users" });
	sess(f, (struct mdl_session){ .id = 107, .db = "shop", .command = "Query", .time_s = 5,
				      .waiting_mdl = true, .info = "UPDATE users SET name = 'x' WHERE id = 3" });
	/* idle in a transaction older than the wait: candidate */
	sess(f, (struct mdl_session){ .id = 102, .command = "Sleep", .time_s = 100, .has_trx = true,
				      .trx_age_s = 100 });
	/* idle in a transaction younger than the wait: cannot hold what the ALTER waits for */
	sess(f, (struct mdl_session){ .id = 103, .command = "Sleep", .time_s = 5, .has_trx = true,
				      .trx_age_s = 5 });
	/* idle, no transaction */
	sess(f, (struct mdl_session){ .id = 104, .command = "Sleep", .time_s = 500 });
	/* a long SELECT on the same table, outside a transaction: candidate */
	sess(f, (struct mdl_session){ .id = 105, .db = "test", .command = "Query", .state = "Sending data",
				      .time_s = 40, .info = "SELECT name FROM shop.users ORDER BY name" });
	/* system threads are never candidates, whatever they look like */
	sess(f, (struct mdl_session){ .id = 106, .user = "system user", .host = "", .command = "Slave_SQL",
				      .time_s = 1000, .has_trx = true, .trx_age_s = 1000, .is_system = true,
				      .info = "UPDATE shop.users SET name = 'y'" });
	sess(f, (struct mdl_session){ .id = 110, .user = "system user", .host = "", .command = "Query",
				      .time_s = 1000, .is_system = true, .info = "SELECT * FROM shop.users" });
	/* long statement on another table, and a short one on this table */
	sess(f, (struct mdl_session){ .id = 108, .command = "Query", .time_s = 100,
				      .info = "SELECT * FROM shop.orders" });
	sess(f, (struct mdl_session){ .id = 109, .command = "Query", .time_s = 10,
				      .info = "SELECT * FROM shop.users" });
	assert_int_equal(mdl_snapshot_infer_waits(&f->s), 0);
	build(f);
}

static void test_processlist_infers_pending_requests_from_statement_text(void **state)
{
	struct fx *f = *state;
	static const unsigned long long heads[] = { 100 }, queued[] = { 101, 107 };
	const struct mdl_object_wait *o;

	processlist_scenario(f);
	assert_int_equal(f->s.n_locks, 3);
	for (size_t k = 0; k < f->s.n_locks; k++) {
		assert_true(f->s.locks[k].inferred);
		assert_false(f->s.locks[k].granted);
		assert_string_equal(f->s.locks[k].object_type, "TABLE");
		assert_string_equal(f->s.locks[k].schema, "shop");
		assert_string_equal(f->s.locks[k].name, "users");
	}
	/* the unqualified UPDATE resolved through its session's db */
	assert_int_equal(f->s.locks[2].type, MDL_TYPE_SHARED_WRITE);

	assert_int_equal(f->g.n_objects, 1);
	o = object(f, "shop", "users");
	assert_refs(f, o->heads, o->n_heads, heads, 1);
	assert_int_equal(f->s.locks[o->heads[0].lock].type, MDL_TYPE_EXCLUSIVE);
	assert_refs(f, o->queued, o->n_queued, queued, 2);
	assert_int_equal(f->g.n_waiting, 3);
	assert_true(f->g.oldest_wait_s == 30.0);

	/* inference is idempotent: sessions with a pending request are skipped */
	assert_int_equal(mdl_snapshot_infer_waits(&f->s), 0);
	assert_int_equal(f->s.n_locks, 3);

	assert_string_equal(jstr(f->json, "source"), "processlist");
	assert_false(jbool(f->json, "holders_exact"));
	assert_true(jbool(json_array_get(jget(json_array_get(jget(f->json, "objects"), 0), "heads"), 0),
			  "inferred"));
}

static void test_processlist_transaction_older_than_wait_is_candidate_root(void **state)
{
	struct fx *f = *state;
	const struct mdl_object_wait *o;
	const struct mdl_blocker *b;
	const struct mdl_root *r;

	processlist_scenario(f);
	o = object(f, "shop", "users");
	b = blocker(f, o, 102);
	assert_non_null(b);
	assert_true(b->candidate);
	assert_int_equal(b->lock, -1);
	assert_contains(b->reason, "transaction");
	r = root(f, 102);
	assert_non_null(r);
	assert_true(r->candidate);
	assert_int_equal(r->n_frozen, 3);
	assert_string_equal(r->kill, "KILL 102");
	/* equal n_frozen: the older transaction goes first */
	assert_int_equal(sid(f, f->g.roots[0].session), 102);
	assert_string_equal(f->verdict,
			    "3 sessions frozen on 1 object, oldest 30 s, root blockers: "
			    "102 (app@10.0.0.1, idle in transaction 100 s, candidate), "
			    "105 (app@10.0.0.1, candidate)");
}

static void test_processlist_transaction_younger_than_wait_is_not_candidate(void **state)
{
	struct fx *f = *state;

	processlist_scenario(f);
	assert_null(blocker(f, object(f, "shop", "users"), 103));
	assert_null(root(f, 103));
}

static void test_processlist_session_without_transaction_is_not_candidate(void **state)
{
	struct fx *f = *state;

	processlist_scenario(f);
	assert_null(blocker(f, object(f, "shop", "users"), 104));
	assert_null(root(f, 104));
}

static void test_processlist_statement_on_table_running_since_before_wait_is_candidate(void **state)
{
	struct fx *f = *state;
	const struct mdl_object_wait *o;
	const struct mdl_blocker *b;
	const struct mdl_root *r;
	json_t *jb;

	processlist_scenario(f);
	o = object(f, "shop", "users");
	b = blocker(f, o, 105);
	assert_non_null(b);
	assert_true(b->candidate);
	assert_contains(b->reason, "statement on this table");
	r = root(f, 105);
	assert_non_null(r);
	assert_true(r->candidate);
	assert_string_equal(r->kill, "KILL QUERY 105");
	/* another table, or started after the wait began: not a candidate */
	assert_null(blocker(f, o, 108));
	assert_null(blocker(f, o, 109));
	assert_int_equal(o->n_blockers, 2);
	assert_int_equal(f->g.n_roots, 2);

	jb = jarr(json_array_get(jget(f->json, "objects"), 0), "blockers", 2);
	for (size_t i = 0; i < 2; i++) {
		assert_true(json_is_null(jget(json_array_get(jb, i), "lock_type")));
		assert_true(jbool(json_array_get(jb, i), "candidate"));
	}
}

static void test_processlist_system_sessions_are_never_candidates(void **state)
{
	struct fx *f = *state;

	processlist_scenario(f);
	assert_null(blocker(f, object(f, "shop", "users"), 106));
	assert_null(blocker(f, object(f, "shop", "users"), 110));
	assert_null(root(f, 106));
	assert_null(root(f, 110));
}

/* A waiter whose statement cannot be read stays visible on an unidentified
 * object; a backup-lock wait goes on the BACKUP object. */
static void test_processlist_waits_on_unreadable_statements_stay_visible(void **state)
{
	struct fx *f = *state;
	char *label;
	size_t n_unknown = 0, n_backup = 0;

	snap_init(f, MDL_SOURCE_PROCESSLIST);
	sess(f, (struct mdl_session){ .id = 1, .command = "Query", .time_s = 20, .waiting_mdl = true,
				      .info = "DROP TRIGGER shop.users_bi" });
	sess(f, (struct mdl_session){ .id = 2, .command = "Query", .time_s = 19, .waiting_mdl = true });
	sess(f, (struct mdl_session){ .id = 3, .command = "Query", .time_s = 18, .waiting_mdl = true,
				      .info = "CALL do_things()" });
	sess(f, (struct mdl_session){ .id = 4, .command = "Query", .time_s = 17, .waiting_mdl = true,
				      .state = "Waiting for backup lock", .info = "ALTER TABLE shop.users ADD d INT" });
	sess(f, (struct mdl_session){ .id = 5, .command = "Sleep", .time_s = 60, .has_trx = true,
				      .trx_age_s = 60 });
	assert_int_equal(mdl_snapshot_infer_waits(&f->s), 0);
	assert_int_equal(f->s.n_locks, 4);
	for (size_t k = 0; k < f->s.n_locks; k++) {
		const struct mdl_lock *l = &f->s.locks[k];

		assert_true(l->inferred);
		assert_null(l->schema);
		assert_null(l->name);
		assert_int_equal(l->type, MDL_TYPE_UNKNOWN);
		n_unknown += !strcmp(l->object_type, "UNKNOWN");
		n_backup += !strcmp(l->object_type, "BACKUP");
	}
	assert_int_equal(n_unknown, 3);
	assert_int_equal(n_backup, 1);
	build(f);

	assert_int_equal(f->g.n_objects, 2);
	label = mdl_object_label(f->g.objects[0].object);
	assert_non_null(label);
	assert_string_equal(label, "(object not identified)");
	free(label);
	label = mdl_object_label(f->g.objects[1].object);
	assert_non_null(label);
	assert_string_equal(label, "BACKUP lock");
	free(label);
	/* unknown types conflict: 2 and 3 queue behind 1 */
	assert_int_equal(f->g.objects[0].n_heads, 1);
	assert_int_equal(f->g.objects[0].n_queued, 2);
	assert_int_equal(f->g.n_roots, 1);
	assert_int_equal(sid(f, f->g.roots[0].session), 5);
	assert_int_equal(f->g.roots[0].n_frozen, 4);
	assert_int_equal(f->g.n_waiting, 4);
}

/* ---- exact mode corner cases ---------------------------------------------- */

/* performance_schema keeps showing SHARED_READ for a LOCK TABLES READ after
 * its upgrade: the holder must still be named, as a candidate. */
static void test_holder_with_compatible_looking_type_is_still_named_as_candidate(void **state)
{
	struct fx *f = *state;
	const struct mdl_object_wait *o;
	const struct mdl_blocker *b;
	size_t h, w;

	snap_init(f, MDL_SOURCE_PFS);
	h = sess(f, (struct mdl_session){ .id = 30, .command = "Sleep", .time_s = 200 });
	w = sess(f, (struct mdl_session){ .id = 31, .command = "Query", .time_s = 25, .waiting_mdl = true,
					   .info = "INSERT INTO db.t VALUES (1)" });
	/* an old idle transaction that holds nothing on db.t: not to be named */
	sess(f, (struct mdl_session){ .id = 32, .command = "Sleep", .time_s = 900, .has_trx = true,
				      .trx_age_s = 900 });
	lock(f, h, "db", "t", "SHARED_READ", true);
	lock(f, w, "db", "t", "SHARED_WRITE", false);
	build(f);

	assert_int_equal(f->g.n_objects, 1);
	o = &f->g.objects[0];
	assert_int_equal(o->n_blockers, 1);
	b = blocker(f, o, 30);
	assert_non_null(b);
	assert_true(b->candidate);
	assert_true(b->lock >= 0);
	assert_string_equal(f->s.locks[b->lock].type_name, "SHARED_READ");
	assert_contains(b->reason, "looks compatible");
	assert_null(blocker(f, o, 32));
	assert_int_equal(f->g.n_roots, 1);
	assert_int_equal(sid(f, f->g.roots[0].session), 30);
	assert_true(f->g.roots[0].candidate);
	assert_string_equal(f->g.roots[0].kill, "KILL 30");
	assert_contains(f->verdict, "30 (app@10.0.0.1, candidate)");
}

/* Nobody visible holds the object: killing the stuck head lets its queue run. */
static void test_head_without_visible_holder_is_root_so_its_queue_can_proceed(void **state)
{
	struct fx *f = *state;
	static const unsigned long long heads[] = { 40 }, queued[] = { 41 };
	const struct mdl_object_wait *o;
	size_t h, q;

	snap_init(f, MDL_SOURCE_PFS);
	h = sess(f, (struct mdl_session){ .id = 40, .command = "Query", .time_s = 20, .waiting_mdl = true,
					   .info = "ALTER TABLE db.t ADD c INT" });
	q = sess(f, (struct mdl_session){ .id = 41, .command = "Query", .time_s = 5, .waiting_mdl = true,
					   .info = "SELECT * FROM db.t" });
	/* not candidates: no transaction, no statement on db.t */
	sess(f, (struct mdl_session){ .id = 42, .command = "Sleep", .time_s = 800 });
	sess(f, (struct mdl_session){ .id = 43, .command = "Query", .time_s = 800, .info = "SELECT * FROM db.u" });
	lock(f, h, "db", "t", "EXCLUSIVE", false);
	lock(f, q, "db", "t", "SHARED_READ", false);
	build(f);

	assert_int_equal(f->g.n_objects, 1);
	o = &f->g.objects[0];
	assert_refs(f, o->heads, o->n_heads, heads, 1);
	assert_refs(f, o->queued, o->n_queued, queued, 1);
	assert_int_equal(o->n_blockers, 0);
	assert_true(o->oldest_wait_s == 20.0);
	assert_int_equal(f->g.n_roots, 1);
	assert_int_equal(sid(f, f->g.roots[0].session), 40);
	assert_string_equal(f->g.roots[0].kill, "KILL QUERY 40");
	assert_contains(f->g.roots[0].why, "queued");
	assert_int_equal(f->g.roots[0].n_frozen, 1);
	assert_string_equal(jstr(json_array_get(jget(f->json, "root_blockers"), 0), "kill"), "KILL QUERY 40");
}

static void test_independent_tables_give_separate_roots_sorted_by_frozen_count(void **state)
{
	struct fx *f = *state;
	static const unsigned long long queued_b[] = { 44, 45 };
	size_t b1, h1, b2, h2, q2, q3;

	snap_init(f, MDL_SOURCE_PFS);
	/* db.a: one waiter behind an old transaction */
	b1 = sess(f, (struct mdl_session){ .id = 40, .command = "Sleep", .time_s = 500, .has_trx = true,
					    .trx_age_s = 500 });
	h1 = sess(f, (struct mdl_session){ .id = 41, .command = "Query", .time_s = 10, .waiting_mdl = true });
	/* db.b: three waiters behind a younger one */
	b2 = sess(f, (struct mdl_session){ .id = 42, .command = "Sleep", .time_s = 50, .has_trx = true,
					    .trx_age_s = 50 });
	h2 = sess(f, (struct mdl_session){ .id = 43, .command = "Query", .time_s = 8, .waiting_mdl = true });
	q2 = sess(f, (struct mdl_session){ .id = 44, .command = "Query", .time_s = 6, .waiting_mdl = true });
	q3 = sess(f, (struct mdl_session){ .id = 45, .command = "Query", .time_s = 4, .waiting_mdl = true });
	lock(f, b1, "db", "a", "SHARED_READ", true);
	lock(f, h1, "db", "a", "EXCLUSIVE", false);
	lock(f, b2, "db", "b", "SHARED_WRITE", true);
	lock(f, q3, "db", "b", "SHARED_WRITE", false); /* listed first, but youngest */
	lock(f, h2, "db", "b", "EXCLUSIVE", false);
	lock(f, q2, "db", "b", "SHARED_READ", false);
	build(f);

	assert_int_equal(f->g.n_objects, 2);
	assert_string_equal(f->g.objects[0].object->name, "a"); /* oldest wait first */
	assert_refs(f, object(f, "db", "b")->queued, object(f, "db", "b")->n_queued, queued_b, 2);
	assert_non_null(blocker(f, object(f, "db", "a"), 40));
	assert_non_null(blocker(f, object(f, "db", "b"), 42));
	assert_null(blocker(f, object(f, "db", "b"), 40));

	assert_int_equal(f->g.n_roots, 2);
	assert_int_equal(sid(f, f->g.roots[0].session), 42);
	assert_int_equal(f->g.roots[0].n_frozen, 3);
	assert_int_equal(sid(f, f->g.roots[1].session), 40);
	assert_int_equal(f->g.roots[1].n_frozen, 1);
	assert_int_equal(f->g.n_waiting, 4);
	assert_prefix(f->verdict, "4 sessions frozen on 2 objects, oldest 10 s, root blockers: 42 (");
	assert_contains(f->verdict, "), 40 (");
	assert_int_equal(jint(json_array_get(jarr(f->json, "root_blockers", 2), 0), "id"), 42);
}

/* ---- no waits and hostile input ------------------------------------------- */

static void test_no_waits_gives_empty_graph_and_calm_verdict(void **state)
{
	struct fx *f = *state;
	size_t a, b;

	snap_init(f, MDL_SOURCE_PFS);
	a = sess(f, (struct mdl_session){ .id = 1, .command = "Sleep", .time_s = 900, .has_trx = true,
					   .trx_age_s = 900 });
	b = sess(f, (struct mdl_session){ .id = 2, .command = "Query", .time_s = 1, .info = "SELECT 1" });
	lock(f, a, "db", "t", "SHARED_READ", true);
	lock(f, b, "db", "t", "SHARED_WRITE", true);
	build(f);

	assert_int_equal(f->g.n_objects, 0);
	assert_int_equal(f->g.n_roots, 0);
	assert_int_equal(f->g.n_waiting, 0);
	assert_true(f->g.oldest_wait_s == 0.0);
	assert_string_equal(f->verdict, "no metadata-lock waits");
	assert_int_equal(jint(f->json, "schema_version"), 1);
	assert_string_equal(jstr(f->json, "verdict"), "no metadata-lock waits");
	assert_int_equal(jint(f->json, "waiting_sessions"), 0);
	assert_int_equal(jint(f->json, "objects_with_waits"), 0);
	jarr(f->json, "root_blockers", 0);
	jarr(f->json, "objects", 0);
}

static void test_empty_snapshot_builds_empty_graph(void **state)
{
	struct fx *f = *state;

	/* nothing set at all: not even a source or a server version */
	build(f);
	assert_int_equal(f->g.n_objects, 0);
	assert_int_equal(f->g.n_roots, 0);
	assert_int_equal(f->g.n_waiting, 0);
	assert_string_equal(f->verdict, "no metadata-lock waits");
	assert_int_equal(jint(f->json, "schema_version"), 1);
	assert_true(json_is_null(jget(f->json, "server_version")));
	assert_string_equal(jstr(f->json, "source"), "auto");
	assert_string_equal(jstr(f->json, "taken_at"), "1970-01-01T00:00:00Z");
	jarr(f->json, "root_blockers", 0);
	jarr(f->json, "objects", 0);
}

/* FLUSH TABLES WITH READ LOCK / BACKUP STAGE: global objects without schema or
 * name, with lock types the matrices do not model. */
static void test_backup_lock_with_null_names_and_unknown_types_is_reported(void **state)
{
	struct fx *f = *state;
	size_t h, w1, w2;
	json_t *o;
	char *label;

	snap_init(f, MDL_SOURCE_PFS);
	h = sess(f, (struct mdl_session){ .id = 50, .command = "Sleep", .time_s = 120 });
	/* a server thread-less row: no user or host known */
	free(f->s.sessions[h].user);
	free(f->s.sessions[h].host);
	f->s.sessions[h].user = f->s.sessions[h].host = NULL;
	w1 = sess(f, (struct mdl_session){ .id = 51, .command = "Query", .time_s = 30, .waiting_mdl = true,
					    .state = "Waiting for backup lock" });
	w2 = sess(f, (struct mdl_session){ .id = 52, .command = "Query", .time_s = 20, .waiting_mdl = true,
					    .state = "Waiting for backup lock" });
	assert_int_equal(mdl_snapshot_add_lock(&f->s, h, "BACKUP", NULL, NULL, "BACKUP_FTWRL1", true, false), 0);
	assert_int_equal(mdl_snapshot_add_lock(&f->s, w1, "BACKUP", NULL, NULL, "BACKUP_DDL", false, false), 0);
	assert_int_equal(mdl_snapshot_add_lock(&f->s, w2, "BACKUP", NULL, NULL, NULL, false, false), 0);
	assert_string_equal(f->s.locks[2].type_name, "UNKNOWN");
	assert_int_equal(f->s.locks[1].type, MDL_TYPE_UNKNOWN);
	build(f);

	assert_int_equal(f->g.n_objects, 1);
	label = mdl_object_label(f->g.objects[0].object);
	assert_non_null(label);
	assert_string_equal(label, "BACKUP lock");
	free(label);
	assert_int_equal(f->g.objects[0].n_heads, 1);
	assert_int_equal(sid(f, f->g.objects[0].heads[0].session), 51);
	assert_int_equal(f->g.objects[0].n_queued, 1);
	assert_non_null(blocker(f, &f->g.objects[0], 50));
	assert_int_equal(f->g.n_roots, 1);
	assert_string_equal(f->g.roots[0].kill, "KILL 50");
	assert_int_equal(f->g.roots[0].n_frozen, 2);
	assert_prefix(f->verdict, "2 sessions frozen on 1 object, oldest 30 s, root blocker: 50 (?@?)");

	o = json_array_get(jarr(f->json, "objects", 1), 0);
	assert_string_equal(jstr(o, "object_type"), "BACKUP");
	assert_true(json_is_null(jget(o, "schema")));
	assert_true(json_is_null(jget(o, "name")));
	assert_string_equal(jstr(json_array_get(jget(o, "blockers"), 0), "lock_type"), "BACKUP_FTWRL1");
	assert_string_equal(jstr(json_array_get(jget(o, "heads"), 0), "lock_type"), "BACKUP_DDL");
	assert_true(json_is_null(jget(json_array_get(jget(o, "blockers"), 0), "user")));
}

/* Two sessions each waiting for the other (a snapshot read in pieces can show
 * that): the walk must end, and no one is named a root. */
static void test_wait_cycle_terminates_without_root(void **state)
{
	struct fx *f = *state;
	size_t a, b;

	snap_init(f, MDL_SOURCE_PFS);
	a = sess(f, (struct mdl_session){ .id = 60, .command = "Query", .time_s = 9, .waiting_mdl = true });
	b = sess(f, (struct mdl_session){ .id = 61, .command = "Query", .time_s = 8, .waiting_mdl = true });
	lock(f, a, "db", "x", "SHARED_WRITE", true);
	lock(f, b, "db", "y", "SHARED_WRITE", true);
	lock(f, a, "db", "y", "EXCLUSIVE", false);
	lock(f, b, "db", "x", "EXCLUSIVE", false);
	build(f);

	assert_int_equal(f->g.n_objects, 2);
	assert_int_equal(f->g.n_roots, 0);
	assert_int_equal(f->g.n_waiting, 2);
	assert_string_equal(f->verdict, "2 sessions frozen on 2 objects, oldest 9 s, root blocker not visible");
	jarr(f->json, "root_blockers", 0);
}

/* 2000 sessions, 1000 of them queued behind one ALTER. */
static void test_thousand_waiters_behind_one_ddl(void **state)
{
	struct fx *f = *state;
	enum { N_WAITERS = 1000, N_IDLE = 998 };
	const struct mdl_object_wait *o;
	size_t blk, ddl;

	snap_init(f, MDL_SOURCE_PFS);
	blk = sess(f, (struct mdl_session){ .id = 1, .command = "Sleep", .time_s = 600, .has_trx = true,
					     .trx_age_s = 600 });
	ddl = sess(f, (struct mdl_session){ .id = 2, .command = "Query", .time_s = 500, .waiting_mdl = true,
					     .info = "ALTER TABLE big.t ADD c INT" });
	lock(f, blk, "big", "t", "SHARED_READ", true);
	lock(f, ddl, "big", "t", "SHARED_UPGRADABLE", true);
	lock(f, ddl, "big", "t", "EXCLUSIVE", false);
	for (int k = 0; k < N_WAITERS; k++) {
		/* distinct wait times in scrambled order, all younger than the ALTER */
		double t = (double)((k * 7919) % N_WAITERS) * 0.3 + 1.0;
		size_t w = sess(f, (struct mdl_session){ .id = 3 + (unsigned long long)k, .command = "Query",
							  .time_s = t, .waiting_mdl = true,
							  .info = "SELECT * FROM big.t" });

		lock(f, w, "big", "t", k % 2 ? "SHARED_READ" : "SHARED_WRITE", false);
	}
	for (int k = 0; k < N_IDLE; k++) {
		size_t i = sess(f, (struct mdl_session){ .id = 5000 + (unsigned long long)k, .command = "Sleep",
							  .time_s = 1000 });

		if (k % 2)
			lock(f, i, "big", "other", "SHARED_READ", true);
	}
	assert_int_equal(f->s.n_sessions, 2000);
	build(f);

	assert_int_equal(f->g.n_objects, 1);
	o = &f->g.objects[0];
	assert_int_equal(o->n_heads, 1);
	assert_int_equal(sid(f, o->heads[0].session), 2);
	assert_int_equal(o->n_blockers, 1);
	assert_int_equal(sid(f, o->blockers[0].session), 1);
	assert_int_equal(o->n_queued, N_WAITERS);
	for (size_t i = 1; i < o->n_queued; i++)
		assert_true(f->s.sessions[o->queued[i - 1].session].time_s >=
			    f->s.sessions[o->queued[i].session].time_s);
	assert_int_equal(f->g.n_roots, 1);
	assert_int_equal(sid(f, f->g.roots[0].session), 1);
	assert_int_equal(f->g.roots[0].n_frozen, N_WAITERS + 1);
	assert_int_equal(f->g.n_waiting, N_WAITERS + 1);
	assert_prefix(f->verdict, "1001 sessions frozen on 1 object, oldest 500 s, root blocker: 1 (");
	jarr(json_array_get(jget(f->json, "objects"), 0), "queued", N_WAITERS);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_alter_behind_idle_transaction_freezes_readers_and_names_the_transaction),
		T(test_json_of_frozen_readers_carries_heads_blockers_queue_and_kill),
		T(test_root_running_statement_outside_transaction_gets_kill_query),
		T(test_root_idle_in_transaction_gets_kill_connection),
		T(test_root_running_statement_inside_transaction_gets_kill_connection),
		T(test_root_idle_without_transaction_gets_kill_connection),
		T(test_root_with_unknown_command_gets_kill_connection),
		T(test_chain_through_waiting_lock_tables_leads_to_the_open_writer),
		T(test_processlist_infers_pending_requests_from_statement_text),
		T(test_processlist_transaction_older_than_wait_is_candidate_root),
		T(test_processlist_transaction_younger_than_wait_is_not_candidate),
		T(test_processlist_session_without_transaction_is_not_candidate),
		T(test_processlist_statement_on_table_running_since_before_wait_is_candidate),
		T(test_processlist_system_sessions_are_never_candidates),
		T(test_processlist_waits_on_unreadable_statements_stay_visible),
		T(test_holder_with_compatible_looking_type_is_still_named_as_candidate),
		T(test_head_without_visible_holder_is_root_so_its_queue_can_proceed),
		T(test_independent_tables_give_separate_roots_sorted_by_frozen_count),
		T(test_no_waits_gives_empty_graph_and_calm_verdict),
		T(test_empty_snapshot_builds_empty_graph),
		T(test_backup_lock_with_null_names_and_unknown_types_is_reported),
		T(test_wait_cycle_terminates_without_root),
		T(test_thousand_waiters_behind_one_ddl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
