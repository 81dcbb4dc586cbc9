/* The restore plan: which databases, tables and chunks of the backup to put
 * back, under which names, read from a manifest that verify has accepted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <xxhash.h>

#include "restore/restore_internal.h"
#include "util/buf.h"

const char *restore_target_db(const struct restore_opts *o, const char *src)
{
	for (size_t i = 0; i < o->n_renames; i++)
		if (!strcmp(o->renames[i].from, src))
			return o->renames[i].to;
	return src;
}

bool restore_chosen(const struct restore *rs, const char *src, const char *name)
{
	return dump_filter_selects(&rs->o->filter, src, name) && !dump_filter_excludes(&rs->o->filter, src, name);
}

/* Looks a path up in the manifest's "files" (already checked by verify). */
static int file_of(json_t *files, const char *path, struct backup_file *f, struct ms_err *e)
{
	json_t *entry = json_object_get(files, path);

	if (!entry || backup_file_parse(entry, f))
		return ms_fail(e, MS_INCOMPLETE, "manifest.json names %s but does not list it in \"files\"", path);
	return 0;
}

static int optional_file(json_t *files, json_t *obj, const char *key, struct backup_file *f, bool *has,
			 struct ms_err *e)
{
	json_t *p = json_object_get(obj, key);

	*has = json_is_string(p);
	return *has ? file_of(files, json_string_value(p), f, e) : 0;
}

char *restore_table_key(const char *db, const char *name)
{
	struct buf b = BUF_INIT;

	buf_add_qualified(&b, db, name);
	if (b.failed) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}

/* Letters, digits and _: the names whose file names are the name itself. */
static bool plain_name(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* The shadow and old names: the prefix plus the name, or plus a hash of it.
 * The server takes 64 characters, and its file names spell other characters
 * in up to 5 bytes each: a name it took can pass the file system's 255
 * bytes with the prefix in front (50 CJK characters do). */
static void side_name(char out[DB_NAME_MAX + 1], const char *prefix, const char *name)
{
	size_t p = strlen(prefix), n = strlen(name);

	if (p + n <= 64 && plain_name(name)) {
		memcpy(out, prefix, p);
		memcpy(out + p, name, n + 1);
	} else {
		snprintf(out, DB_NAME_MAX + 1, "%.40s%016llx", prefix, (unsigned long long)XXH3_64bits(name, n));
	}
}

static int table_load(struct restore *rs, json_t *files, json_t *jt, const char *src_db, const char *db,
		      struct ms_err *e)
{
	struct rtable *t = &rs->tables[rs->n_tables];
	json_t *chunks = json_object_get(jt, "chunks");
	size_t i;

	memset(t, 0, sizeof(*t));
	t->src_db = src_db;
	t->db = db;
	t->name = json_string_value(json_object_get(jt, "name"));
	t->engine = json_string_value(json_object_get(jt, "engine"));
	if (!t->name || !json_is_array(chunks))
		return ms_fail(e, MS_INCOMPLETE, "manifest.json: a table of %s has no name or chunk list", src_db);
	if (strlen(t->name) > DB_NAME_MAX)
		return ms_fail(e, MS_INCOMPLETE, "manifest.json: a table of %s has a name of %zu bytes, longer than any "
			       "MariaDB name (%d); the manifest is damaged", src_db, strlen(t->name), DB_NAME_MAX);
	if (optional_file(files, jt, "schema_file", &t->schema, &t->has_schema, e) ||
	    optional_file(files, jt, "triggers_file", &t->triggers, &t->has_triggers, e))
		return -1;
	if (!t->has_schema)
		return ms_fail(e, MS_INCOMPLETE, "manifest.json: %s.%s has no schema_file", src_db, t->name);
	for (i = 0; i < rs->o->n_external && !t->external; i++)
		t->external = !strncmp(rs->o->external[i], src_db, strlen(src_db)) &&
			      rs->o->external[i][strlen(src_db)] == '.' &&
			      !strcmp(rs->o->external[i] + strlen(src_db) + 1, t->name);
	t->chunks = calloc(json_array_size(chunks) + 1, sizeof(*t->chunks));
	if (!t->chunks)
		return ms_oom(e);
	for (i = 0; i < json_array_size(chunks); i++) {
		json_t *c = json_array_get(chunks, i), *file = json_object_get(c, "file");
		struct rchunk *ch = &t->chunks[i];

		if (!json_is_string(file) || file_of(files, json_string_value(file), &ch->f, e)) {
			/* Not counted in rs->n_tables yet: its chunks are ours to free. */
			free(t->chunks);
			t->chunks = NULL;
			if (!json_is_string(file))
				return ms_fail(e, MS_INCOMPLETE, "manifest.json: chunk %zu of %s.%s has no file", i,
					       src_db, t->name);
			return -1;
		}
		ch->table = rs->n_tables;
		ch->index = (unsigned)i;
		ch->where = json_string_value(json_object_get(c, "where"));
		t->bytes += ch->f.bytes;
		t->rows += ch->f.rows > 0 ? (unsigned long long)ch->f.rows : 0;
	}
	t->n_chunks = i;
	if (rs->o->if_exists == RESTORE_SWAP)
		side_name(t->load_name, RESTORE_SHADOW_PREFIX, t->name);
	else
		memcpy(t->load_name, t->name, strlen(t->name) + 1);
	side_name(t->old_name, RESTORE_OLD_PREFIX, t->name);
	rs->n_tables++;
	return 0;
}

static int cmp_chunk_size(const void *a, const void *b)
{
	const struct rchunk *x = *(struct rchunk *const *)a, *y = *(struct rchunk *const *)b;

	return x->f.bytes < y->f.bytes ? 1 : x->f.bytes > y->f.bytes ? -1 : 0;
}

/* Every -B, --tables and --rename names something in the backup: a typo
 * must not silently restore nothing. */
static int check_names_exist(struct restore *rs, json_t *dbs, struct ms_err *e)
{
	const struct restore_opts *o = rs->o;

	for (size_t i = 0; i < o->filter.n_dbs + o->n_renames; i++) {
		const char *want = i < o->filter.n_dbs ? o->filter.dbs[i] : o->renames[i - o->filter.n_dbs].from;
		bool found = false;

		for (size_t d = 0; d < json_array_size(dbs) && !found; d++)
			found = !strcmp(json_string_value(json_object_get(json_array_get(dbs, d), "name")) ?: "", want);
		if (!found)
			return ms_fail(e, MS_USAGE, "%s %s: the backup has no database of that name",
				       i < o->filter.n_dbs ? "-B" : "--rename", want);
	}
	/* A database both renamed and written to under the same restore: its
	 * name in a statement could mean either, and the live one is written. */
	for (size_t i = 0; i < o->n_renames; i++)
		for (size_t j = 0; j < o->n_renames; j++)
			if (i != j && !strcasecmp(o->renames[i].to, o->renames[j].from))
				return ms_fail(e, MS_USAGE, "--rename %s:%s and --rename %s:%s: %s is both renamed and a "
							    "target; restore under names the backup does not use",
					       o->renames[i].from, o->renames[i].to, o->renames[j].from,
					       o->renames[j].to, o->renames[j].from);
	return 0;
}

int restore_plan_load(struct restore *rs, struct ms_err *e)
{
	json_t *dbs = json_object_get(rs->manifest, "databases"), *list = json_object_get(rs->manifest, "files");
	json_t *files = json_object();
	size_t n_tables = 0, d, i;
	int rc = -1;

	if (!files)
		return ms_oom(e);
	for (i = 0; i < json_array_size(list); i++) {
		json_t *f = json_array_get(list, i);
		json_object_set(files, json_string_value(json_object_get(f, "path")), f);
	}
	if (check_names_exist(rs, dbs, e))
		goto out;
	for (d = 0; d < json_array_size(dbs); d++)
		n_tables += json_array_size(json_object_get(json_array_get(dbs, d), "tables"));
	rs->dbs = calloc(json_array_size(dbs) + 1, sizeof(*rs->dbs));
	rs->tables = calloc(n_tables + 1, sizeof(*rs->tables));
	if (!rs->dbs || !rs->tables) {
		ms_oom(e);
		goto out;
	}
	for (d = 0; d < json_array_size(dbs); d++) {
		json_t *jd = json_array_get(dbs, d), *tables = json_object_get(jd, "tables");
		struct rdb *db = &rs->dbs[rs->n_dbs];
		const char *src = json_string_value(json_object_get(jd, "name"));
		size_t before = rs->n_tables;
		bool whole_db;

		if (!src) {
			ms_fail(e, MS_INCOMPLETE, "manifest.json: databases[%zu] has no name", d);
			goto out;
		}
		/* "-B shop" or no filter: the database's objects come too; only
		 * --tables picks tables alone. */
		whole_db = restore_chosen(rs, src, "");
		for (i = 0; i < json_array_size(tables); i++) {
			json_t *jt = json_array_get(tables, i);
			const char *name = json_string_value(json_object_get(jt, "name"));

			if (!name || !restore_chosen(rs, src, name))
				continue;
			if (table_load(rs, files, jt, src, restore_target_db(rs->o, src), e))
				goto out;
		}
		if (rs->n_tables == before && !whole_db)
			continue;
		db->src = src;
		db->name = restore_target_db(rs->o, src);
		/* Sequences are chosen one by one as tables are: a table's
		 * DEFAULT may need one. */
		if (optional_file(files, jd, "schema_file", &db->schema, &db->has_schema, e) ||
		    optional_file(files, jd, "sequences_file", &db->sequences, &db->has_sequences, e))
			goto out;
		if (whole_db && (optional_file(files, jd, "views_file", &db->views, &db->has_views, e) ||
				 optional_file(files, jd, "routines_file", &db->routines, &db->has_routines, e) ||
				 optional_file(files, jd, "events_file", &db->events, &db->has_events, e)))
			goto out;
		rs->n_dbs++;
	}
	if (rs->n_dbs == 0) {
		ms_fail(e, MS_USAGE, "nothing to restore: no database or table of the backup matches -B/--tables/--exclude");
		goto out;
	}
	for (i = 0; i < rs->n_tables; i++)
		rs->bytes_total += rs->tables[i].bytes;
	rc = 0;
out:
	json_decref(files);
	return rc;
}

int restore_plan_queue(struct restore *rs, struct ms_err *e)
{
	size_t n = 0;

	for (size_t i = 0; i < rs->n_tables; i++)
		n += rs->tables[i].n_chunks;
	rs->queue = calloc(n + 1, sizeof(*rs->queue));
	if (!rs->queue)
		return ms_oom(e);
	for (size_t i = 0; i < rs->n_tables; i++)
		for (size_t c = 0; c < rs->tables[i].n_chunks; c++)
			if (!rs->tables[i].skip && !rs->tables[i].chunks[c].done)
				rs->queue[rs->n_queue++] = &rs->tables[i].chunks[c];
	qsort(rs->queue, rs->n_queue, sizeof(*rs->queue), cmp_chunk_size);
	return 0;
}

void restore_plan_release(struct restore *rs)
{
	for (size_t i = 0; i < rs->n_tables; i++) {
		free(rs->tables[i].chunks);
		free(rs->tables[i].deferred_keys);
	}
	free(rs->tables);
	free(rs->dbs);
	free(rs->queue);
	rs->tables = NULL;
	rs->dbs = NULL;
	rs->queue = NULL;
}
