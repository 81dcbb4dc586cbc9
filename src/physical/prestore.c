/* prestore_run(): checks everything that can refuse before the server is
 * touched, then lets the logical restore drive (checks of the target,
 * CREATE DATABASE, views, triggers ...) and imports the table files from
 * its import_tables hook, before the logical part's own tables. */
#include "physical/prestore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdl/lockreq.h"
#include "physical/physical.h"
#include "restore/rename.h"
#include "store/copy.h"
#include "store/verify.h"
#include "util/beneath.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/note.h"

struct itable {
	const char *name, *engine;     /* borrowed from the manifest */
	enum phys_kind kind;
	const char *definition_path;
	bool fulltext;
	const char *paths[2];          /* in the backup (NULL: in the snapshot) */
	const char *snap_paths[2];     /* relative to --snapshot-dir */
	unsigned long long bytes[2];
	char *fs;
	const char *state;             /* "not started", "imported", "failed" */
	double seconds;
};

struct prestore {
	const struct prestore_opts *o;
	json_t *manifest;              /* as verified */
	int dir_fd;                    /* the backup directory verified */
	const char *src_db, *db;       /* backup name, target name */
	char *fs_db, *datadir, *db_dir;
	struct itable *tables;
	size_t n_tables;
	char **external;
	enum copy_used hint;
	unsigned long long bytes;
	double deadline;
	json_t *rewrites;              /* --rename: names changed in the table definitions */
};

static char *join3(const char *a, const char *b, const char *c)
{
	return ms_asprintf("%s/%s%s", a, b, c);
}

/* ---- before the server is touched ---------------------------------------- */

static json_t *file_entry(json_t *files, const char *path)
{
	for (size_t i = 0; i < json_array_size(files); i++)
		if (!strcmp(json_string_value(json_object_get(json_array_get(files, i), "path")) ?: "", path))
			return json_array_get(files, i);
	return NULL;
}

static int table_plan(struct prestore *ps, json_t *jt, json_t *files, struct itable *t, struct ms_err *e)
{
	json_t *tf = json_object_get(jt, "files");
	const char *const *suffixes = phys_suffixes(t->kind, &(size_t){ 0 });

	t->engine = json_string_value(json_object_get(jt, "engine"));
	t->definition_path = json_string_value(json_object_get(jt, "definition_file"));
	t->fulltext = json_is_true(json_object_get(jt, "fulltext"));
	t->state = "not started";
	t->fs = phys_fs_name(t->name);
	if (!t->definition_path || !json_is_object(tf) || !t->fs)
		return ms_fail(e, MS_INCOMPLETE, "manifest.json: table %s has no definition_file or files", t->name);
	for (size_t f = 0; f < 2; f++) {
		json_t *v = json_object_get(tf, suffixes[f] + 1), *entry;
		bool cfg = !strcmp(suffixes[f], ".cfg");

		if (json_is_string(v)) {
			t->paths[f] = json_string_value(v);
			entry = file_entry(files, t->paths[f]);
			t->bytes[f] = entry ? (unsigned long long)json_integer_value(json_object_get(entry, "bytes")) : 0;
			if (!entry)
				return ms_fail(e, MS_INCOMPLETE, "manifest.json: %s is not listed in \"files\"", t->paths[f]);
		} else if (json_is_object(v) && json_is_string(json_object_get(v, "snapshot_path"))) {
			t->snap_paths[f] = json_string_value(json_object_get(v, "snapshot_path"));
			t->bytes[f] = (unsigned long long)json_integer_value(json_object_get(v, "bytes"));
		} else {
			return ms_fail(e, MS_INCOMPLETE, "manifest.json: table %s has no %s file", t->name, suffixes[f]);
		}
		/* Seed 001: a .cfg caught empty makes IMPORT fail after the
		 * DISCARD; refuse while nothing has been done. */
		if (cfg && t->bytes[f] == 0)
			return ms_fail(e, MS_INCOMPLETE,
				       "%s is empty: the export metadata of %s.%s is missing, it cannot be imported; nothing "
				       "was sent to the server", t->paths[f] ? t->paths[f] : t->snap_paths[f], ps->src_db, t->name);
	}
	return 0;
}

/* The snapshot's files exist with the sizes they had while frozen. */
static int check_snapshot(struct prestore *ps, struct itable *t, struct ms_err *e)
{
	for (size_t f = 0; f < 2; f++) {
		char *p;
		struct stat sb;

		if (!t->snap_paths[f])
			continue;
		if (!ps->o->snapshot_dir)
			return ms_fail(e, MS_USAGE,
				       "%s.%s's data is in the snapshot taken by --snapshot-cmd, not in the backup directory: mount "
				       "the snapshot and give its data directory with --snapshot-dir", ps->src_db, t->name);
		p = join3(ps->o->snapshot_dir, t->snap_paths[f], "");
		if (!p)
			return ms_oom(e);
		if (stat(p, &sb) != 0 || (unsigned long long)sb.st_size != t->bytes[f]) {
			ms_fail(e, MS_INCOMPLETE, "%s: %s (the snapshot had %llu bytes while frozen); nothing was sent to the server",
				p, stat(p, &sb) != 0 ? strerror(errno) : "size differs", t->bytes[f]);
			free(p);
			return -1;
		}
		free(p);
	}
	return 0;
}

static int load_manifest(struct prestore *ps, struct ms_err *e)
{
	json_t *tables, *files;
	const char *kind;

	kind = json_string_value(json_object_get(ps->manifest, "kind"));
	if (!kind || strcmp(kind, "physical"))
		return ms_fail(e, MS_USAGE, "%s is a logical backup: restore it without --physical", ps->o->r.dir);
	ps->src_db = json_string_value(json_object_get(ps->manifest, "database"));
	tables = json_object_get(ps->manifest, "tables");
	files = json_object_get(ps->manifest, "files");
	if (!ps->src_db || !json_is_array(tables))
		return ms_fail(e, MS_INCOMPLETE, "%s/manifest.json: no database or table list", ps->o->r.dir);
	for (size_t i = 0; i < ps->o->r.filter.n_dbs; i++)
		if (strcmp(ps->o->r.filter.dbs[i], ps->src_db))
			return ms_fail(e, MS_USAGE, "-B %s: this backup holds database %s only", ps->o->r.filter.dbs[i], ps->src_db);
	ps->db = restore_target_db(&ps->o->r, ps->src_db);
	ps->fs_db = phys_fs_name(ps->db);
	if (!ps->fs_db)
		return ms_fail(e, MS_USAGE, "--rename: the database name %s has non-ASCII characters, whose file names mdlsafe "
					    "does not derive; choose an ASCII name", ps->db);
	ps->tables = calloc(json_array_size(tables) + 1, sizeof(*ps->tables));
	ps->external = calloc(json_array_size(tables) + 1, sizeof(*ps->external));
	if (!ps->tables || !ps->external)
		return ms_oom(e);
	for (size_t i = 0; i < json_array_size(tables); i++) {
		json_t *jt = json_array_get(tables, i);
		struct itable *t = &ps->tables[ps->n_tables];
		int k = phys_kind_parse(json_string_value(json_object_get(jt, "kind")));

		t->name = json_string_value(json_object_get(jt, "name"));
		if (!t->name || k < 0)
			return ms_fail(e, MS_INCOMPLETE, "%s/manifest.json: tables[%zu] has no name or kind", ps->o->r.dir, i);
		if (k == PHYS_LOGICAL || !dump_filter_selects(&ps->o->r.filter, ps->src_db, t->name) ||
		    dump_filter_excludes(&ps->o->r.filter, ps->src_db, t->name))
			continue;
		t->kind = (enum phys_kind)k;
		if (table_plan(ps, jt, files, t, e) || check_snapshot(ps, t, e))
			return -1;
		ps->external[ps->n_tables] = join3(ps->src_db, t->name, "");
		if (!ps->external[ps->n_tables])
			return ms_oom(e);
		ps->external[ps->n_tables][strlen(ps->src_db)] = '.';
		ps->n_tables++;
	}
	return 0;
}

/* "10.11.19-MariaDB-0+deb12u1-log" -> 1011: tablespaces move between servers
 * of one major version. */
static long major_version(const char *v)
{
	long a = 0, b = 0;

	return v && sscanf(v, "%ld.%ld", &a, &b) == 2 ? a * 100 + b : -1;
}

static int check_server(struct prestore *ps, struct db *db, struct ms_err *e)
{
	json_t *server = json_object_get(ps->manifest, "server");
	const char *bver = json_string_value(json_object_get(server, "version"));
	long bpage = (long)json_integer_value(json_object_get(server, "innodb_page_size"));
	MYSQL_RES *r = NULL;
	MYSQL_ROW row;
	int rc = db_query(db, "SELECT VERSION(), @@innodb_page_size, @@datadir", &r, e);

	if (rc == 0 && (row = mysql_fetch_row(r)) && row[0] && row[1] && row[2]) {
		if (major_version(row[0]) != major_version(bver))
			rc = ms_fail(e, MS_USAGE,
				     "the backup comes from server %s and this one is %s: tablespaces can only be imported into the "
				     "same major version; nothing was changed (restore the logical part, or use a logical backup)",
				     bver ? bver : "?", row[0]);
		else if (atol(row[1]) != bpage)
			rc = ms_fail(e, MS_USAGE,
				     "the backup's innodb_page_size is %ld and this server's is %s: its tablespaces cannot be "
				     "imported here; nothing was changed", bpage, row[1]);
		else if (!(ps->datadir = strdup(row[2])))
			rc = ms_oom(e);
	} else if (rc == 0) {
		rc = ms_fail(e, MS_SERVER, "the server did not say its version and data directory");
	}
	if (r)
		mysql_free_result(r);
	if (rc == 0 && access(ps->datadir, W_OK | X_OK) != 0)
		rc = ms_fail(e, errno == ENOENT ? MS_USAGE : MS_PRIVILEGE,
			     "cannot write to the server's data directory %s (%s): restore --physical runs on the database "
			     "host, as root or the server's user (mysql); nothing was changed", ps->datadir, strerror(errno));
	return rc;
}

/* ---- the import --------------------------------------------------------- */

static int exec_fmt(struct prestore *ps, struct db *db, bool nowait, struct ms_err *e, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int exec_fmt(struct prestore *ps, struct db *db, bool nowait, struct ms_err *e, const char *fmt, ...)
{
	struct buf sql = BUF_INIT;
	/* nowait: statements that do real work once granted (DISCARD, IMPORT,
	 * a rebuild, a DROP) never queue and are never cut off (lockreq.h). */
	struct lockreq_opts lo = { .budget_s = ps->o->r.max_stall_s, .deadline = ps->deadline, .what = "restore a table",
				   .nowait_schema = nowait ? ps->db : NULL,
				   .note = ps->o->r.note, .ctx = ps->o->r.ctx };
	va_list ap;
	int rc;

	va_start(ap, fmt);
	buf_vaddf(&sql, fmt, ap);
	va_end(ap);
	/* A no-queue try names holders after it returns, so it can use its
	 * own session; a waiting one would need a second. */
	lo.probe = nowait ? db : NULL;
	rc = sql.failed ? ms_oom(e) : lockreq_exec(db, buf_str(&sql), &lo, NULL, e);
	buf_release(&sql);
	return rc;
}

/* A file of the verified backup directory, read beneath it. */
static char *read_small(const struct prestore *ps, const char *rel, struct ms_err *e)
{
	int fd = beneath_open_regular(ps->dir_fd, rel, NULL);
	char *text = NULL;
	size_t len = 0;

	if (fd < 0 || fd_read_all(fd, &text, &len) != 0) {
		ms_fail(e, MS_IO, "cannot read %s/%s: %s", ps->o->r.dir, rel, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	close(fd);
	/* Written as one statement with ";\n" after it. */
	while (len && (text[len - 1] == '\n' || text[len - 1] == ';'))
		text[--len] = '\0';
	return text;
}

/* Places one file in the target database's directory with the owner and
 * mode the server gives its own files, durable before the server reads it. */
static int place(struct prestore *ps, const struct itable *t, size_t f, const char *dst_name, bool overwrite,
		 const struct stat *dirst, struct ms_err *e)
{
	char *src = t->paths[f] ? join3(ps->o->r.dir, t->paths[f], "") : join3(ps->o->snapshot_dir, t->snap_paths[f], "");
	char *dst = join3(ps->db_dir, dst_name, "");
	enum copy_used used;
	int in = -1, out = -1, rc = -1;

	if (!src || !dst) {
		ms_oom(e);
		goto out;
	}
	in = t->paths[f] ? beneath_open_regular(ps->dir_fd, t->paths[f], NULL) : open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		ms_fail(e, MS_IO, "cannot open %s: %s", src, strerror(errno));
		goto out;
	}
	if (!overwrite)
		unlink(dst); /* a leftover of an interrupted run: the server does not know it */
	out = open(dst, O_WRONLY | O_CREAT | (overwrite ? O_TRUNC : O_EXCL) | O_CLOEXEC, 0660);
	if (out < 0) {
		ms_fail(e, MS_IO, "cannot create %s: %s", dst, strerror(errno));
		goto out;
	}
	if (fchown(out, dirst->st_uid, dirst->st_gid) != 0 || fchmod(out, 0660) != 0) {
		ms_fail(e, MS_PRIVILEGE, "cannot give %s to the server's user (uid %u): %s; run as root or as that user", dst,
			(unsigned)dirst->st_uid, strerror(errno));
		goto out;
	}
	if (copy_fd(in, out, COPY_AUTO, &ps->hint, &used, NULL, NULL, src, e) || fsync(out) != 0) {
		if (e->status == MS_OK)
			ms_fail(e, MS_IO, "fsync of %s: %s", dst, strerror(errno));
		goto out;
	}
	ps->bytes += t->bytes[f];
	rc = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) != 0 && rc == 0)
		rc = ms_fail(e, MS_IO, "writing %s: %s", dst, strerror(errno));
	if (rc && dst && !overwrite)
		unlink(dst);
	free(src);
	free(dst);
	return rc;
}

static int import_innodb(struct prestore *ps, struct db *db, struct itable *t, const char *qt, const struct stat *dirst,
			 struct ms_err *e)
{
	char *cfg = NULL;
	int rc;

	if (exec_fmt(ps, db, true, e, "ALTER TABLE %s DISCARD TABLESPACE", qt))
		return -1;
	{
		char ibd[300], cfgname[300];
		snprintf(ibd, sizeof(ibd), "%s.ibd", t->fs);
		snprintf(cfgname, sizeof(cfgname), "%s.cfg", t->fs);
		rc = place(ps, t, 0, ibd, false, dirst, e) || place(ps, t, 1, cfgname, false, dirst, e) ? -1 : 0;
		if (rc == 0)
			rc = copy_fsync_dir(ps->db_dir, e);
		if (rc == 0)
			rc = exec_fmt(ps, db, true, e, "ALTER TABLE %s IMPORT TABLESPACE", qt);
		cfg = join3(ps->db_dir, cfgname, "");
		if (cfg)
			unlink(cfg); /* read by the IMPORT, useless after */
		free(cfg);
	}
	/* A FULLTEXT index is not in the export: rebuild the table, the only
	 * way the server accepts (ADD after DROP crashes 10.11 here). */
	if (rc == 0 && t->fulltext)
		rc = exec_fmt(ps, db, true, e, "ALTER TABLE %s ENGINE=InnoDB, ALGORITHM=COPY", qt);
	return rc;
}

/* CHECK TABLE / REPAIR TABLE: *ok when its last "status" row says OK. */
static int table_ok(struct db *db, const char *op, const char *qt, bool *ok, struct ms_err *e)
{
	char sql[400];
	MYSQL_RES *r = NULL;
	MYSQL_ROW row;

	*ok = false;
	snprintf(sql, sizeof(sql), "%s TABLE %s", op, qt);
	if (db_query(db, sql, &r, e))
		return -1;
	while ((row = mysql_fetch_row(r)))
		if (row[2] && !strcmp(row[2], "status"))
			*ok = row[3] && !strcmp(row[3], "OK");
	mysql_free_result(r);
	return 0;
}

/* MyISAM/Aria: the files are overwritten in place under the table's write
 * lock (the server keeps them open: a rename would leave it on the old
 * ones), closed with FLUSH once unlocked, then checked and repaired if
 * needed (seed 001: record counts off after a file copy). */
static int import_nontrans(struct prestore *ps, struct db *db, struct itable *t, const char *qt,
			   const struct stat *dirst, struct ms_err *e)
{
	const char *const *suffixes = phys_suffixes(t->kind, &(size_t){ 0 });
	struct ms_err ignored;
	bool ok = false;
	int rc;

	if (exec_fmt(ps, db, false, e, "LOCK TABLES %s WRITE", qt))
		return -1;
	rc = exec_fmt(ps, db, false, e, "FLUSH TABLES %s", qt);
	for (size_t f = 0; f < 2 && rc == 0; f++) {
		char name[300];
		snprintf(name, sizeof(name), "%s%s", t->fs, suffixes[f]);
		rc = place(ps, t, f, name, true, dirst, e);
	}
	db_exec(db, "UNLOCK TABLES", &ignored);
	if (rc == 0)
		rc = exec_fmt(ps, db, false, e, "FLUSH TABLES %s", qt);
	/* Aria resets the row count of a table copied from another server
	 * when it first opens it, and CHECK still says OK (seen on 10.11):
	 * open it, then always repair it, which recounts. */
	if (rc == 0)
		rc = exec_fmt(ps, db, false, e, "DO (SELECT COUNT(*) FROM %s)", qt);
	if (rc == 0 && t->kind == PHYS_MYISAM)
		rc = table_ok(db, "CHECK", qt, &ok, e);
	if (rc == 0 && !ok) {
		if (t->kind == PHYS_MYISAM)
			ms_note(ps->o->r.note, ps->o->r.ctx, "%s.%s: CHECK TABLE after the copy did not say OK; repairing it", ps->db, t->name);
		rc = table_ok(db, "REPAIR", qt, &ok, e);
		if (rc == 0 && !ok)
			rc = ms_fail(e, MS_SERVER, "%s.%s: REPAIR TABLE after the copy failed; the files may be damaged", ps->db,
				     t->name);
	}
	return rc;
}

/* A table's CREATE TABLE as it runs: with --rename, in the target database
 * (a foreign key or DEFAULT naming the backup's database follows it), and
 * never naming the renamed one. NULL with *e filled on failure. */
static char *definition(struct prestore *ps, const struct itable *t, json_t *log, struct ms_err *e)
{
	char *def = read_small(ps, t->definition_path, e), *sql = NULL;

	if (def && restore_rename_sql(&ps->o->r, ps->db, def, strlen(def), false, t->definition_path, 1, log, &sql, e))
		sql = NULL;
	free(def);
	return sql;
}

/* Every definition read and checked before the server is touched. */
static int check_definitions(struct prestore *ps, struct ms_err *e)
{
	for (size_t i = 0; i < ps->n_tables; i++) {
		char *sql = definition(ps, &ps->tables[i], ps->rewrites, e);

		if (!sql)
			return e->status == MS_USAGE
				       ? ms_fail_context(e, "refusing to restore with --rename, nothing was changed")
				       : -1;
		free(sql);
	}
	return 0;
}

static int import_one(struct prestore *ps, struct db *db, struct itable *t, const struct stat *dirst, struct ms_err *e)
{
	char *qt = db_quote_ident(t->name), *def = NULL;
	double t0 = ms_now();
	int rc = -1;

	if (!qt)
		return ms_oom(e);
	def = definition(ps, t, NULL, e);
	if (!def)
		goto out;
	if (ps->o->r.if_exists == RESTORE_REPLACE && exec_fmt(ps, db, true, e, "DROP TABLE IF EXISTS %s", qt))
		goto out;
	if (exec_fmt(ps, db, false, e, "%s", def))
		goto out;
	rc = t->kind == PHYS_INNODB ? import_innodb(ps, db, t, qt, dirst, e) : import_nontrans(ps, db, t, qt, dirst, e);
	if (rc) {
		/* Never leave a table without its data behind: it is ours, and
		 * the report says it was not imported. */
		struct ms_err ignored;
		char sql[300];
		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", qt);
		db_exec(db, sql, &ignored);
	}
out:
	t->seconds = ms_now() - t0;
	t->state = rc ? "failed" : "imported";
	free(def);
	free(qt);
	return rc;
}

static void report_states(struct prestore *ps, struct ms_err *e)
{
	struct buf done = BUF_INIT, not = BUF_INIT;

	for (size_t i = 0; i < ps->n_tables; i++) {
		struct buf *b = !strcmp(ps->tables[i].state, "imported") ? &done : &not;
		buf_addf(b, "%s%s", b->len ? ", " : "", ps->tables[i].name);
	}
	ms_fail_context(e, "imported: %s; not imported: %s", done.len ? buf_str(&done) : "none",
			not.len ? buf_str(&not) : "none");
	buf_release(&done);
	buf_release(&not);
}

static int import_tables(void *ctx, struct db *db, struct ms_err *e)
{
	struct prestore *ps = ctx;
	struct stat dirst;

	if (check_server(ps, db, e))
		return -1;
	if (mysql_select_db(db->mysql, ps->db))
		return db_fail(db, e, "selecting the target database");
	ps->db_dir = join3(ps->datadir, ps->fs_db, "");
	if (!ps->db_dir)
		return ms_oom(e);
	if (stat(ps->db_dir, &dirst) != 0)
		return ms_fail(e, MS_IO, "cannot find the database's directory %s: %s", ps->db_dir, strerror(errno));
	for (size_t i = 0; i < ps->n_tables; i++) {
		if (import_one(ps, db, &ps->tables[i], &dirst, e)) {
			ms_fail_context(e, "importing %s.%s", ps->db, ps->tables[i].name);
			report_states(ps, e);
			return -1;
		}
		ms_note(ps->o->r.note, ps->o->r.ctx, "%s.%s imported (%s, %.1f s)", ps->db, ps->tables[i].name, ps->tables[i].engine, ps->tables[i].seconds);
	}
	return 0;
}

int prestore_run(const struct prestore_opts *o, json_t **summary, struct ms_err *e)
{
	struct prestore ps;
	struct restore_opts ro = o->r;
	struct verify_result vr;
	struct verified_backup vb;
	json_t *logical = NULL, *imported = json_array();
	char *sub = NULL, *journal = NULL;
	double t0 = ms_now(), took;
	int rc = -1;

	memset(&ps, 0, sizeof(ps));
	*summary = NULL;
	ps.o = o;
	ps.dir_fd = -1;
	ps.deadline = o->r.timeout_s > 0 ? t0 + o->r.timeout_s : 0;
	rc = verify_backup_keep(o->r.dir, NULL, NULL, &vr, &vb, e);
	verify_result_release(&vr);
	/* What was verified is what is restored: no second read by path. */
	ps.dir_fd = vb.dir_fd;
	ps.manifest = vb.manifest;
	if (rc) {
		ms_fail_context(e, "refusing to restore %s, nothing was sent to the server", o->r.dir);
		goto out;
	}
	rc = -1;
	ps.rewrites = json_array();
	if (!ps.rewrites) {
		ms_oom(e);
		goto out;
	}
	if (load_manifest(&ps, e) || check_definitions(&ps, e))
		goto out;
	sub = join3(o->r.dir, PHYS_LOGICAL_DIR, "");
	if (!sub)
		goto oom;
	journal = ms_asprintf("%s.physical-restore-journal", o->r.dir);
	if (!journal)
		goto oom;
	ro.dir = sub;
	ro.journal = journal;
	ro.external = ps.external;
	ro.n_external = ps.n_tables;
	ro.import_tables = import_tables;
	ro.import_ctx = &ps;
	ro.resume = false;
	rc = restore_run(&ro, &logical, e);
	/* There is no --resume for a physical restore: rerun with
	 * --if-exists replace instead. */
	unlink(journal);
	if (rc) {
		/* The logical restore's advice to --resume does not apply. */
		const char *resume = strstr(e->msg, "rerun with --resume to continue: ");
		if (!strncmp(e->msg, "the journal ", 12) && resume)
			memmove(e->msg, resume + 33, strlen(resume + 33) + 1);
		goto out;
	}
	for (size_t i = 0; i < ps.n_tables; i++)
		json_array_append_new(imported, json_pack("{s:s, s:s, s:f}", "name", ps.tables[i].name, "engine",
							  ps.tables[i].engine, "seconds", ps.tables[i].seconds));
	/* duration_s: the name of duration_seconds in the first releases. */
	took = ms_now() - t0;
	*summary = json_pack("{s:s, s:s, s:s, s:f, s:f, s:I, s:O, s:O, s:O}", "kind", "physical", "backup", o->r.dir,
			     "database", ps.db, "duration_seconds", took, "duration_s", took, "bytes_imported",
			     (json_int_t)ps.bytes, "imported", imported, "rewrites", ps.rewrites, "logical", logical);
	rc = 0;
	goto out;
oom:
	ms_oom(e);
out:
	/* <= : a table being planned when a check failed has its name too. */
	for (size_t i = 0; ps.tables && ps.external && i <= ps.n_tables; i++) {
		free(ps.tables[i].fs);
		free(ps.external[i]);
	}
	free(ps.tables);
	free(ps.external);
	free(ps.fs_db);
	free(ps.datadir);
	free(ps.db_dir);
	json_decref(ps.manifest);
	if (ps.dir_fd >= 0)
		close(ps.dir_fd);
	json_decref(ps.rewrites);
	json_decref(logical);
	json_decref(imported);
	free(sub);
	free(journal);
	return rc;
}
