/* Builds manifest.json: what was read, from which instant, into which files.
 * `mdlsafe verify` and restore trust nothing that is not listed here. */
#include "dump/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dump/backup_internal.h"

json_t *manifest_iso_time(double t)
{
	time_t s = (time_t)t;
	struct tm tm;
	char buf[40];

	gmtime_r(&s, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static const char *consistency_name(const struct table_state *ts)
{
	switch (ts->consistency) {
	case TABLE_SNAPSHOT: return "snapshot";
	case TABLE_AFTER_DDL: return "own_snapshot_after_ddl";
	case TABLE_OWN_LOCK: return "own_lock";
	}
	return "unknown";
}

static json_t *table_json(const struct table_state *ts, json_t *files)
{
	json_t *o = json_object(), *chunks = json_array(), *notes = json_array();

	json_object_set_new(o, "name", json_string(ts->t->name));
	json_object_set_new(o, "engine", json_string(ts->t->engine));
	json_object_set_new(o, "consistency", json_string(consistency_name(ts)));
	json_object_set_new(o, "rows", json_integer((json_int_t)ts->rows));
	json_object_set_new(o, "yields", json_integer(ts->yields));
	if (ts->has_schema) {
		json_object_set_new(o, "schema_file", json_string(ts->schema_file.path));
		json_array_append_new(files, store_file_info_to_json(&ts->schema_file));
	}
	json_object_set_new(o, "triggers_file", ts->has_triggers ? json_string(ts->triggers_file.path) : json_null());
	if (ts->has_triggers)
		json_array_append_new(files, store_file_info_to_json(&ts->triggers_file));
	for (size_t c = 0; c < ts->t->n_chunks; c++) {
		json_t *ch;

		if (!ts->chunk_done[c]) /* --no-data */
			continue;
		ch = json_object();
		json_object_set_new(ch, "file", json_string(ts->chunk_files[c].path));
		json_object_set_new(ch, "rows", json_integer(ts->chunk_files[c].rows));
		json_object_set_new(ch, "where", ts->t->chunks[c].where ? json_string(ts->t->chunks[c].where) : json_null());
		json_array_append_new(chunks, ch);
		json_array_append_new(files, store_file_info_to_json(&ts->chunk_files[c]));
	}
	json_object_set_new(o, "chunks", chunks);
	if (ts->consistency == TABLE_AFTER_DDL)
		json_array_append_new(notes, json_string("a schema change needed this table during the backup: it was "
							 "re-read after the change, in its own snapshot, so it is not "
							 "consistent with the other tables' instant"));
	if (ts->consistency == TABLE_OWN_LOCK)
		json_array_append_new(notes, json_string("non-transactional engine: read under its own short lock, "
							 "consistent only with itself"));
	json_object_set_new(o, "notes", notes);
	return o;
}

json_t *manifest_new(const char *kind, json_t *server, double started_at, double finished_at)
{
	json_t *m = json_object();

	if (!m) {
		json_decref(server);
		return NULL;
	}
	json_object_set_new(m, "format", json_string("mdlsafe-backup"));
	json_object_set_new(m, "format_version", json_integer(1));
	if (kind)
		json_object_set_new(m, "kind", json_string(kind));
	json_object_set_new(m, "tool_version", json_string(MDLSAFE_VERSION));
	json_object_set_new(m, "server", server);
	json_object_set_new(m, "started_at", manifest_iso_time(started_at));
	json_object_set_new(m, "finished_at", manifest_iso_time(finished_at));
	return m;
}

int manifest_write(struct store *st, json_t *m, struct ms_err *e)
{
	char *text = NULL;
	int rc;

	if (m && !json_object_set_new(m, "complete", json_true()))
		text = json_dumps(m, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	json_decref(m);
	if (!text)
		return ms_fail(e, MS_INTERNAL, "out of memory writing the manifest");
	rc = store_finalize(st, text, e);
	free(text);
	return rc;
}

json_t *backup_manifest(struct backup *bk, json_t *db_files)
{
	json_t *server = json_object(), *m, *dbs, *files, *excluded;

	if (!server)
		return NULL;
	json_object_set_new(server, "version", json_string(mysql_get_server_info(bk->coord.mysql)));
	json_object_set_new(server, "host", json_string(bk->coord.target));
	m = manifest_new(NULL, server, bk->started_at, bk->finished_at);
	if (!m)
		return NULL;
	dbs = json_array();
	files = json_array();
	excluded = json_array();
	json_object_set_new(m, "consistency_point", backup_consistency_json(bk));
	json_object_set_new(m, "sql_log_bin_off", json_boolean(!bk->sql_log_bin_denied));

	for (size_t d = 0; d < bk->plan.n_databases; d++) {
		const char *name = bk->plan.databases[d];
		json_t *db = json_object(), *tables = json_array(), *dfiles = json_object_get(db_files, name);

		json_object_set_new(db, "name", json_string(name));
		for (size_t i = 0; i < bk->plan.n_tables; i++)
			if (!strcmp(bk->tables[i].t->schema, name))
				json_array_append_new(tables, table_json(&bk->tables[i], files));
		json_object_set_new(db, "tables", tables);
		if (dfiles) {
			const char *key;
			json_t *v;
			json_object_foreach(dfiles, key, v) {
				json_object_set(db, key, json_object_get(v, "path"));
				json_array_append(files, v);
			}
		}
		json_array_append_new(dbs, db);
	}
	for (size_t i = 0; i < bk->plan.n_excluded; i++)
		json_array_append_new(excluded, json_string(bk->plan.excluded[i]));
	json_object_set_new(m, "databases", dbs);
	json_object_set_new(m, "excluded", excluded);
	json_object_set_new(m, "files", files);
	return m;
}
