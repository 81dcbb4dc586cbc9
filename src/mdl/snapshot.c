/* Snapshot construction helpers that do not talk to the server: adding rows
 * and inferring pending requests from statement text. */
#include "mdl/snapshot.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mdl/sql_targets.h"

const char *mdl_source_name(enum mdl_source s)
{
	switch (s) {
	case MDL_SOURCE_PFS: return "performance_schema";
	case MDL_SOURCE_PLUGIN: return "metadata_lock_info";
	case MDL_SOURCE_PROCESSLIST: return "processlist";
	case MDL_SOURCE_AUTO: break;
	}
	return "auto";
}

int mdl_source_parse(const char *s, enum mdl_source *out)
{
	if (!strcmp(s, "auto"))
		*out = MDL_SOURCE_AUTO;
	else if (!strcmp(s, "performance_schema") || !strcmp(s, "pfs"))
		*out = MDL_SOURCE_PFS;
	else if (!strcmp(s, "metadata_lock_info") || !strcmp(s, "plugin"))
		*out = MDL_SOURCE_PLUGIN;
	else if (!strcmp(s, "processlist"))
		*out = MDL_SOURCE_PROCESSLIST;
	else
		return -1;
	return 0;
}

bool mdl_state_is_mdl_wait(const char *state)
{
	if (!state)
		return false;
	return strstr(state, "metadata lock") != NULL ||
	       !strcasecmp(state, "Waiting for backup lock") ||
	       !strcasecmp(state, "Waiting for global read lock") ||
	       !strcasecmp(state, "Waiting for commit lock");
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static bool dup_failed(const char *src, const char *copy)
{
	return src && !copy;
}

int mdl_snapshot_add_lock(struct mdl_snapshot *s, size_t session, const char *object_type,
			  const char *schema, const char *name, const char *type_name,
			  bool granted, bool inferred)
{
	struct mdl_lock *l, *grown = realloc(s->locks, (s->n_locks + 1) * sizeof(*s->locks));

	if (!grown)
		return -1;
	s->locks = grown;
	l = &s->locks[s->n_locks];
	memset(l, 0, sizeof(*l));
	l->session = session;
	l->object_type = dup_or_null(object_type ? object_type : "TABLE");
	l->schema = dup_or_null(schema);
	l->name = dup_or_null(name);
	l->type_name = dup_or_null(type_name ? type_name : "UNKNOWN");
	l->type = mdl_type_parse(type_name);
	l->granted = granted;
	l->inferred = inferred;
	s->n_locks++;
	if (!l->object_type || !l->type_name || dup_failed(schema, l->schema) || dup_failed(name, l->name))
		return -1;
	return 0;
}

long mdl_snapshot_add_session(struct mdl_snapshot *s, const struct mdl_session *t)
{
	struct mdl_session *x, *grown = realloc(s->sessions, (s->n_sessions + 1) * sizeof(*s->sessions));

	if (!grown)
		return -1;
	s->sessions = grown;
	x = &s->sessions[s->n_sessions++];
	*x = *t;
	x->user = dup_or_null(t->user);
	x->host = dup_or_null(t->host);
	x->db = dup_or_null(t->db);
	x->command = dup_or_null(t->command);
	x->state = dup_or_null(t->state);
	x->info = dup_or_null(t->info);
	if (dup_failed(t->user, x->user) || dup_failed(t->host, x->host) || dup_failed(t->db, x->db) ||
	    dup_failed(t->command, x->command) || dup_failed(t->state, x->state) ||
	    dup_failed(t->info, x->info))
		return -1;
	return (long)(s->n_sessions - 1);
}

static bool session_has_pending(const struct mdl_snapshot *s, size_t session)
{
	for (size_t i = 0; i < s->n_locks; i++)
		if (s->locks[i].session == session && !s->locks[i].granted)
			return true;
	return false;
}

/* What lock a waiting statement asks for on each table it names. */
static int infer_one(struct mdl_snapshot *s, size_t i)
{
	const struct mdl_session *ss = &s->sessions[i];
	struct sql_targets t;
	int rc = 0;

	if (ss->state && strcasestr(ss->state, "backup lock"))
		return mdl_snapshot_add_lock(s, i, "BACKUP", NULL, NULL, "UNKNOWN", false, true);
	if (sql_targets_parse(ss->info, &t) != 0 || t.n_tables == 0) {
		sql_targets_release(&t); /* parse zeroes t; a parse with no tables may own trigger names */
		/* We know it waits but not on what: keep it visible. */
		return mdl_snapshot_add_lock(s, i, "UNKNOWN", NULL, NULL, "UNKNOWN", false, true);
	}
	for (size_t k = 0; k < t.n_tables && rc == 0; k++) {
		const char *schema = t.tables[k].schema ? t.tables[k].schema : s->sessions[i].db;
		rc = mdl_snapshot_add_lock(s, i, "TABLE", schema, t.tables[k].name,
					   mdl_type_name(t.tables[k].lock), false, true);
	}
	sql_targets_release(&t);
	return rc;
}

int mdl_snapshot_infer_waits(struct mdl_snapshot *s)
{
	size_t n = s->n_sessions;

	for (size_t i = 0; i < n; i++) {
		if (!s->sessions[i].waiting_mdl || session_has_pending(s, i))
			continue;
		if (infer_one(s, i))
			return -1;
	}
	return 0;
}

void mdl_snapshot_release(struct mdl_snapshot *s)
{
	for (size_t i = 0; i < s->n_sessions; i++) {
		struct mdl_session *x = &s->sessions[i];
		free(x->user);
		free(x->host);
		free(x->db);
		free(x->command);
		free(x->state);
		free(x->info);
	}
	for (size_t i = 0; i < s->n_locks; i++) {
		free(s->locks[i].object_type);
		free(s->locks[i].schema);
		free(s->locks[i].name);
		free(s->locks[i].type_name);
	}
	for (size_t i = 0; i < s->n_row_waits; i++)
		free(s->row_waits[i].table);
	free(s->sessions);
	free(s->locks);
	free(s->row_waits);
	free(s->server_version);
	memset(s, 0, sizeof(*s));
}
