/* pbackup_run(): plan the database's tables, freeze them within the budget,
 * copy their files (or run the snapshot command), unfreeze, then checksum
 * the copies and add a logical backup of everything that is not a file. */
#include "physical/pbackup.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dump/backup.h"
#include "dump/manifest.h"
#include "dump/rowfmt.h"
#include "dump/schema.h"
#include "mdl/holders.h"
#include "mdl/lockreq.h"
#include "physical/physical.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/note.h"

/* How often the freeze watcher looks at the clock. */
#define WATCH_POLL_S 0.02

struct ptable {
	char *name, *engine, *row_format, *create_options;
	enum phys_kind kind;
	char *reason;                  /* PHYS_LOGICAL: why */
	char *fs;                      /* file-name form of the name */
	char *definition;              /* SHOW CREATE TABLE, read while frozen */
	bool fulltext;
	struct store_file_info def_file;
	struct store_file_info files[2];   /* by phys_suffixes order; path NULL: not in DIR */
	unsigned long long snap_bytes[2];  /* --snapshot-cmd: sizes in the data directory */
};

struct pbackup {
	const struct pbackup_opts *o;
	struct store *store;
	struct db coord, fzx, fzr;     /* planning; FOR EXPORT (InnoDB); WITH READ LOCK (MyISAM/Aria) */
	char *datadir, *fs_db, *db_dir, *version;
	long page_size;
	struct ptable *tables;
	size_t n_tables, n_innodb, n_nontrans;
	json_t *warnings, *excluded, *logical_files, *snapshot;
	double started_at, deadline, frozen_at, unfrozen_at, freeze_requested_at;
	unsigned attempts;
	atomic_bool expired;           /* the freeze passed --max-freeze */
	atomic_bool watching;
	pthread_t watcher;
	atomic_int child;              /* --snapshot-cmd process group, 0 when none */
	enum copy_used hint, used;
	unsigned long long bytes_copied;
	size_t files_copied;
};

static char *path_join(const char *a, const char *b, const char *suffix)
{
	return ms_asprintf("%s%s%s%s", a, a[0] && a[strlen(a) - 1] == '/' ? "" : "/", b, suffix);
}

/* "px/i.ibd": where a table's file goes inside the backup. */
static char *backup_relpath(const char *db, const char *table, const char *suffix)
{
	char *d = dump_path_name(db), *t = dump_path_name(table), *p = NULL;

	if (d && t)
		p = ms_asprintf("%s/%s%s", d, t, suffix);
	free(d);
	free(t);
	return p;
}

/* ---- what the server is and has ----------------------------------------- */

static int load_server(struct pbackup *pb, struct ms_err *e)
{
	MYSQL_RES *r = NULL;
	MYSQL_ROW row;
	char *enc = NULL;
	int rc;

	rc = db_query(&pb->coord, "SELECT @@datadir, @@innodb_page_size, VERSION()", &r, e);
	if (rc == 0 && (row = mysql_fetch_row(r)) && row[0] && row[1] && row[2]) {
		pb->datadir = strdup(row[0]);
		pb->page_size = atol(row[1]);
		pb->version = strdup(row[2]);
	} else if (rc == 0) {
		rc = ms_fail(e, MS_SERVER, "the server did not say where its data directory is (@@datadir)");
	}
	if (r)
		mysql_free_result(r);
	if (rc)
		return rc;
	/* Tables encrypted by default cannot be imported without the same keys. */
	if (db_query_value(&pb->coord, "SELECT @@innodb_encrypt_tables", &enc, NULL) == 0 && enc &&
	    strcasecmp(enc, "OFF") && strcmp(enc, "0"))
		json_array_append_new(pb->warnings, json_string("innodb_encrypt_tables is on: InnoDB tables are "
								 "dumped as SQL (an encrypted tablespace needs its keys to be imported)"));
	free(enc);
	pb->fs_db = phys_fs_name(pb->o->database);
	if (!pb->fs_db)
		return ms_fail(e, MS_USAGE,
			       "database `%s`: its name has non-ASCII characters, whose file names mdlsafe does not derive; "
			       "use the logical backup (mdlsafe backup -B ...)", pb->o->database);
	pb->db_dir = path_join(pb->datadir, pb->fs_db, "");
	return pb->db_dir ? 0 : ms_oom(e);
}

static bool file_exists(const char *dir, const char *fs, const char *suffix)
{
	char *p = path_join(dir, fs, suffix);
	struct stat sb;
	bool ok = p && stat(p, &sb) == 0 && S_ISREG(sb.st_mode);

	free(p);
	return ok;
}

/* Decides how table t travels; t->reason says why when not as files. */
static void classify(struct pbackup *pb, struct ptable *t, bool encrypt_default)
{
	static const char *const missing[] = {
		[PHYS_INNODB] = "no tablespace file of its own in the data directory (created with innodb_file_per_table "
				"off, or with DATA DIRECTORY)",
		[PHYS_MYISAM] = "its .MYD/.MYI files are not in the data directory (DATA/INDEX DIRECTORY)",
		[PHYS_ARIA] = "its .MAD/.MAI files are not in the data directory",
	};
	const char *const *suffixes;
	size_t n;
	char reason[256] = "";

	t->kind = PHYS_LOGICAL;
	t->fs = phys_fs_name(t->name);
	if (!strcasecmp(t->engine, "InnoDB"))
		t->kind = PHYS_INNODB;
	else if (!strcasecmp(t->engine, "MyISAM"))
		t->kind = PHYS_MYISAM;
	else if (!strcasecmp(t->engine, "Aria"))
		t->kind = PHYS_ARIA;
	else
		snprintf(reason, sizeof(reason), "engine %s has no files to copy", t->engine);

	if (t->kind != PHYS_LOGICAL) {
		if (strcasestr(t->create_options, "partitioned"))
			snprintf(reason, sizeof(reason), "partitioned");
		else if (strcasestr(t->create_options, "encrypted`=yes") || strcasestr(t->create_options, "encrypted=yes") ||
			 (t->kind == PHYS_INNODB && encrypt_default))
			snprintf(reason, sizeof(reason), "encrypted");
		else if (!t->fs)
			snprintf(reason, sizeof(reason), "its name has non-ASCII characters, whose file names mdlsafe does not derive");
		else {
			suffixes = phys_suffixes(t->kind, &n);
			/* The .cfg appears only while frozen: look for the data files. */
			if (!file_exists(pb->db_dir, t->fs, suffixes[0]) ||
			    (t->kind != PHYS_INNODB && !file_exists(pb->db_dir, t->fs, suffixes[1])))
				snprintf(reason, sizeof(reason), "%s", missing[t->kind]);
		}
		if (reason[0])
			t->kind = PHYS_LOGICAL;
	}
	if (t->kind == PHYS_LOGICAL)
		t->reason = strdup(reason);
}

static int load_tables(struct pbackup *pb, struct ms_err *e)
{
	char *sch = db_quote_string(&pb->coord, pb->o->database);
	bool encrypt_default = json_array_size(pb->warnings) > 0;
	struct buf q = BUF_INIT;
	MYSQL_RES *r = NULL;
	MYSQL_ROW row;
	size_t unsupported = 0;
	struct buf refused = BUF_INIT;
	int rc;

	buf_addf(&q,
		 "SELECT TABLE_NAME, TABLE_TYPE, IFNULL(ENGINE, ''), IFNULL(ROW_FORMAT, ''), IFNULL(CREATE_OPTIONS, '') "
		 "FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_TYPE IN ('BASE TABLE', 'SEQUENCE') "
		 "ORDER BY TABLE_NAME",
		 sch ? sch : "''");
	free(sch);
	rc = q.failed ? ms_oom(e) : db_query(&pb->coord, buf_str(&q), &r, e);
	buf_release(&q);
	if (rc)
		return rc;
	pb->tables = calloc(mysql_num_rows(r) + 1, sizeof(*pb->tables));
	if (!pb->tables) {
		mysql_free_result(r);
		return ms_oom(e);
	}
	while ((row = mysql_fetch_row(r))) {
		struct ptable *t = &pb->tables[pb->n_tables];
		char full[2 * DB_NAME_MAX + 2];

		snprintf(full, sizeof(full), "%s.%s", pb->o->database, row[0]);
		if (!dump_filter_selects(&pb->o->filter, pb->o->database, row[0]))
			continue;
		if (dump_filter_excludes(&pb->o->filter, pb->o->database, row[0])) {
			json_array_append_new(pb->excluded, json_string(full));
			continue;
		}
		t->name = strdup(row[0]);
		t->engine = strdup(row[2]);
		t->row_format = strdup(row[3]);
		t->create_options = strdup(row[4]);
		pb->n_tables++;
		if (!t->name || !t->engine || !t->row_format || !t->create_options) {
			mysql_free_result(r);
			return ms_oom(e);
		}
		if (!strcmp(row[1], "SEQUENCE")) {
			t->kind = PHYS_LOGICAL;
			t->reason = strdup("sequence: restored from SQL with its current value");
			continue;
		}
		classify(pb, t, encrypt_default);
		if (t->kind == PHYS_INNODB)
			pb->n_innodb++;
		else if (t->kind != PHYS_LOGICAL)
			pb->n_nontrans++;
		else if (strncmp(t->reason, "sequence", 8)) {
			if (unsupported < 5)
				buf_addf(&refused, "%s%s (%s)", unsupported ? ", " : "", t->name, t->reason);
			unsupported++;
		}
	}
	mysql_free_result(r);
	if (unsupported && pb->o->refuse_unsupported)
		rc = ms_fail(e, MS_USAGE,
			     "%zu table%s of `%s` cannot be copied as files: %s%s; nothing was copied. Leave them out with "
			     "--exclude, or let mdlsafe dump them as SQL with --unsupported logical",
			     unsupported, unsupported == 1 ? "" : "s", pb->o->database, buf_str(&refused),
			     unsupported > 5 ? ", ..." : "");
	else if (pb->n_innodb + pb->n_nontrans == 0)
		rc = ms_fail(e, MS_USAGE,
			     "no table of `%s` can be copied as files (%zu table%s chosen): use the logical backup, "
			     "mdlsafe backup -B %s", pb->o->database, pb->n_tables, pb->n_tables == 1 ? "" : "s",
			     pb->o->database);
	buf_release(&refused);
	return rc;
}

/* The copy needs the data directory: refuse early, with the fix, when this
 * is not the database host or the user cannot read it. */
static int check_datadir(struct pbackup *pb, struct ms_err *e)
{
	struct stat sb;

	if (access(pb->db_dir, R_OK | X_OK) == 0 && stat(pb->db_dir, &sb) == 0 && S_ISDIR(sb.st_mode))
		return 0;
	return ms_fail(e, errno == ENOENT ? MS_USAGE : MS_PRIVILEGE,
		       "cannot read the database's directory %s (%s): backup --physical runs on the database host, as "
		       "root or the server's user (mysql)", pb->db_dir, strerror(errno));
}

/* ---- the freeze ---------------------------------------------------------- */

static char *table_list(struct pbackup *pb, bool innodb)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < pb->n_tables; i++) {
		const struct ptable *t = &pb->tables[i];

		if (t->kind == PHYS_LOGICAL || (t->kind == PHYS_INNODB) != innodb)
			continue;
		if (b.len)
			buf_adds(&b, ", ");
		buf_add_qualified(&b, pb->o->database, t->name);
	}
	if (b.failed) {
		buf_release(&b);
		return NULL;
	}
	return b.data ? b.data : strdup("");
}

/* The wait-graph verdict inside a lockreq give-up message, or the message. */
static const char *in_the_way(const struct ms_err *e)
{
	const char *p = strstr(e->msg, "in the way: ");

	return p ? p + strlen("in the way: ") : e->msg;
}

/* One attempt: each FLUSH waits at most the budget, so writers queue behind
 * a pending request for no longer than that. When the second cannot be had,
 * the first is let go too: a half freeze would only lengthen the whole. */
static int freeze_try(struct pbackup *pb, const char *innodb, const char *nontrans, struct ms_err *e)
{
	struct lockreq_opts lo = { .budget_s = pb->o->max_stall_s, .probe = &pb->coord };
	struct buf sql = BUF_INIT;
	struct ms_err ignored;
	int rc = 0;

	if (innodb[0]) {
		buf_addf(&sql, "FLUSH TABLES %s FOR EXPORT", innodb);
		lo.what = "freeze the InnoDB tables";
		lo.deadline = ms_now();
		rc = sql.failed ? ms_oom(e) : lockreq_exec(&pb->fzx, buf_str(&sql), &lo, NULL, e);
		if (rc == 0)
			pb->frozen_at = ms_now();
	}
	if (rc == 0 && nontrans[0]) {
		buf_reset(&sql);
		buf_addf(&sql, "FLUSH TABLES %s WITH READ LOCK", nontrans);
		lo.what = "freeze the MyISAM/Aria tables";
		lo.deadline = ms_now();
		rc = sql.failed ? ms_oom(e) : lockreq_exec(&pb->fzr, buf_str(&sql), &lo, NULL, e);
		if (rc == 0 && !innodb[0])
			pb->frozen_at = ms_now();
		if (rc && innodb[0])
			db_exec(&pb->fzx, "UNLOCK TABLES", &ignored);
	}
	buf_release(&sql);
	return rc;
}

/* Warnings of the FOR EXPORT (FULLTEXT indexes are not flushed with it,
 * for one) go to the manifest and the output. */
static void export_warnings(struct pbackup *pb)
{
	MYSQL_RES *r = NULL;
	MYSQL_ROW row;
	struct ms_err ignored;

	if (db_query(&pb->fzx, "SHOW WARNINGS", &r, &ignored))
		return;
	while ((row = mysql_fetch_row(r))) {
		char line[600];
		bool seen = false;

		if (!row[2])
			continue;
		snprintf(line, sizeof(line), "FLUSH TABLES ... FOR EXPORT: %s (%s)", row[2], row[1] ? row[1] : "");
		/* The server repeats a warning once per table it applies to. */
		for (size_t i = 0; i < json_array_size(pb->warnings) && !seen; i++)
			seen = !strcmp(json_string_value(json_array_get(pb->warnings, i)), line);
		if (seen)
			continue;
		json_array_append_new(pb->warnings, json_string(line));
		ms_note(pb->o->note, pb->o->ctx, "%s", line);
	}
	mysql_free_result(r);
}

static int freeze(struct pbackup *pb, struct ms_err *e)
{
	char *innodb = table_list(pb, true), *nontrans = table_list(pb, false);
	json_t *names = json_object(), *holders;
	struct lockreq_retry retry = { .set = LOCKREQ_RETRY_FREEZE, .deadline = pb->deadline, .base_s = 0.2, .cap = 4 };
	int rc = -1;

	if (!innodb || !nontrans || !names) {
		rc = ms_oom(e);
		goto out;
	}
	/* Name who the freeze will wait for before asking for it. */
	for (size_t i = 0; i < pb->n_tables; i++)
		if (pb->tables[i].kind != PHYS_LOGICAL)
			json_object_set_new(names, pb->tables[i].name, json_true());
	holders = mdl_holders(&pb->coord, pb->o->database, names, pb->o->max_stall_s, NULL, 0);
	for (size_t i = 0; i < json_array_size(holders); i++) {
		char line[600];
		mdl_holder_line(json_array_get(holders, i), pb->o->database, line, sizeof(line));
		ms_note(pb->o->note, pb->o->ctx, "before the freeze: %s; the freeze waits for it (at most %.0f ms per attempt)", line,
		     pb->o->max_stall_s * 1000);
	}
	json_decref(holders);
	pb->freeze_requested_at = ms_now();
	for (;;) {
		pb->attempts = retry.attempt + 1;
		if (freeze_try(pb, innodb, nontrans, e) == 0) {
			rc = 0;
			break;
		}
		if (!lockreq_retry_next(&retry, e)) {
			char way[sizeof(e->msg)];

			if (retry.stop != LOCKREQ_PAST_DEADLINE)
				break;
			snprintf(way, sizeof(way), "%s", in_the_way(e));
			rc = ms_fail(e, MS_TIMEOUT,
				     "could not freeze the tables of `%s` before --timeout: %u attempts each waited --max-stall "
				     "%.0f ms and gave way; in the way: %.400s; nothing was copied",
				     pb->o->database, pb->attempts, pb->o->max_stall_s * 1000, way);
			break;
		}
		if (pb->attempts == 1 || pb->attempts % 10 == 0)
			ms_note(pb->o->note, pb->o->ctx, "freezing `%s`: waited %.0f ms and gave way (attempt %u), retrying; in the way: %s",
			     pb->o->database, pb->o->max_stall_s * 1000, pb->attempts, in_the_way(e));
		lockreq_retry_wait(&retry);
	}
	if (rc == 0 && innodb[0])
		export_warnings(pb);
out:
	json_decref(names);
	free(innodb);
	free(nontrans);
	return rc;
}

static void unfreeze(struct pbackup *pb)
{
	struct ms_err ignored;

	if (pb->fzx.mysql)
		db_exec(&pb->fzx, "UNLOCK TABLES", &ignored);
	if (pb->fzr.mysql)
		db_exec(&pb->fzr, "UNLOCK TABLES", &ignored);
	if (pb->frozen_at > 0 && pb->unfrozen_at == 0)
		pb->unfrozen_at = ms_now();
}

static void *watch_main(void *arg)
{
	struct pbackup *pb = arg;

	while (atomic_load(&pb->watching)) {
		if (ms_now() - pb->frozen_at > pb->o->max_freeze_s) {
			int child = atomic_load(&pb->child);
			atomic_store(&pb->expired, true);
			if (child > 0)
				kill(-child, SIGKILL);
			break;
		}
		ms_sleep(WATCH_POLL_S);
	}
	return NULL;
}

static bool freeze_over(void *ctx)
{
	struct pbackup *pb = ctx;

	return atomic_load(&pb->expired) || (pb->deadline > 0 && ms_now() >= pb->deadline);
}

/* ---- while frozen ---------------------------------------------------------- */

static int read_definitions(struct pbackup *pb, struct ms_err *e)
{
	for (size_t i = 0; i < pb->n_tables; i++) {
		struct ptable *t = &pb->tables[i];

		if (t->kind == PHYS_LOGICAL)
			continue;
		if (schema_show_create_table(&pb->coord, pb->o->database, t->name, &t->definition, e))
			return ms_fail_context(e, "reading the definition of `%s`.`%s` while frozen", pb->o->database,
					       t->name);
		t->fulltext = strstr(t->definition, "FULLTEXT KEY") != NULL;
		if (t->fulltext)
			ms_note(pb->o->note, pb->o->ctx, "`%s`.`%s` has a FULLTEXT index: the export does not carry it, restore --physical rebuilds "
				 "the table after the import", pb->o->database, t->name);
	}
	return 0;
}

/* FOR EXPORT writes each .cfg with write() and no fsync (seed 001: snapshots
 * caught them empty). They must be there and non-empty; with a snapshot,
 * every file and the directory are made durable before the command runs. */
static int check_and_sync(struct pbackup *pb, bool sync, struct ms_err *e)
{
	for (size_t i = 0; i < pb->n_tables; i++) {
		struct ptable *t = &pb->tables[i];
		const char *const *suffixes;
		size_t n;

		if (t->kind == PHYS_LOGICAL)
			continue;
		suffixes = phys_suffixes(t->kind, &n);
		for (size_t f = 0; f < n; f++) {
			char *p = path_join(pb->db_dir, t->fs, suffixes[f]);
			struct stat sb;
			int fd = p ? open(p, O_RDONLY | O_CLOEXEC) : -1;

			if (fd < 0 || fstat(fd, &sb) != 0) {
				int err = errno;
				if (fd >= 0)
					close(fd);
				ms_fail(e, MS_IO, "%s is missing while frozen (%s)%s", p ? p : suffixes[f], strerror(err),
					!strcmp(suffixes[f], ".cfg")
						? ": FLUSH TABLES FOR EXPORT writes it on the server's host; is mdlsafe running on "
						  "another machine than the server?"
						: "");
				free(p);
				return -1;
			}
			if (!strcmp(suffixes[f], ".cfg") && sb.st_size == 0) {
				close(fd);
				ms_fail(e, MS_IO, "%s is empty while frozen: the export metadata is missing; nothing was kept", p);
				free(p);
				return -1;
			}
			t->snap_bytes[f] = (unsigned long long)sb.st_size;
			if (sync && fsync(fd) != 0) {
				int err = errno;
				close(fd);
				ms_fail(e, MS_IO, "fsync of %s: %s", p, strerror(err));
				free(p);
				return -1;
			}
			close(fd);
			free(p);
		}
	}
	return sync ? copy_fsync_dir(pb->db_dir, e) : 0;
}

static int copy_one(struct pbackup *pb, struct ptable *t, size_t f, const char *suffix, struct ms_err *e)
{
	char *src = path_join(pb->db_dir, t->fs, suffix), *rel = backup_relpath(pb->o->database, t->name, suffix);
	enum copy_used used;
	int fd, rc = -1;

	if (!src || !rel) {
		ms_oom(e);
		goto out;
	}
	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ms_fail(e, MS_IO, "cannot open %s while frozen: %s", src, strerror(errno));
		goto out;
	}
	rc = store_copy_in(pb->store, rel, fd, pb->o->copy, &pb->hint, &used, freeze_over, pb, e);
	close(fd);
	if (rc == 0) {
		t->files[f].path = rel;
		rel = NULL;
		pb->used = used > pb->used ? used : pb->used;
		pb->bytes_copied += t->snap_bytes[f];
		pb->files_copied++;
	} else if (e->status == MS_TIMEOUT && atomic_load(&pb->expired)) {
		ms_fail(e, MS_TIMEOUT,
			"the freeze reached --max-freeze %.0f s while copying %s (%llu bytes copied): the tables are "
			"unfrozen and nothing was kept; raise --max-freeze, or use --snapshot-cmd",
			pb->o->max_freeze_s, src, pb->bytes_copied);
	} else if (e->status == MS_TIMEOUT) {
		ms_fail(e, MS_TIMEOUT,
			"--timeout reached while copying %s (%llu bytes copied); the tables are unfrozen and nothing was kept",
			src, pb->bytes_copied);
	}
out:
	free(src);
	free(rel);
	return rc;
}

static int copy_files(struct pbackup *pb, bool only_cfg, struct ms_err *e)
{
	for (size_t i = 0; i < pb->n_tables; i++) {
		struct ptable *t = &pb->tables[i];
		const char *const *suffixes;
		size_t n;

		if (t->kind == PHYS_LOGICAL)
			continue;
		suffixes = phys_suffixes(t->kind, &n);
		for (size_t f = 0; f < n; f++)
			if ((!only_cfg || !strcmp(suffixes[f], ".cfg")) && copy_one(pb, t, f, suffixes[f], e))
				return -1;
	}
	return 0;
}

/* --snapshot-cmd: runs the command in its own process group (so
 * --max-freeze can stop all of it), its output on our stderr. */
static int run_snapshot(struct pbackup *pb, struct ms_err *e)
{
	double t0 = ms_now();
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return ms_fail(e, MS_IO, "cannot start --snapshot-cmd: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		dup2(STDERR_FILENO, STDOUT_FILENO);
		setenv("MDLSAFE_DATADIR", pb->datadir, 1);
		setenv("MDLSAFE_DB", pb->o->database, 1);
		setenv("MDLSAFE_DB_DIR", pb->db_dir, 1);
		setenv("MDLSAFE_BACKUP_DIR", store_partial_path(pb->store), 1);
		execl("/bin/sh", "sh", "-c", pb->o->snapshot_cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	atomic_store(&pb->child, (int)pid);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	atomic_store(&pb->child, 0);
	pb->snapshot = json_pack("{s:s, s:i, s:f}", "command", pb->o->snapshot_cmd, "exit_status",
				 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), "duration_ms",
				 (ms_now() - t0) * 1000);
	if (atomic_load(&pb->expired))
		return ms_fail(e, MS_TIMEOUT,
			       "--snapshot-cmd was still running when the freeze reached --max-freeze %.0f s: it was killed, "
			       "the tables are unfrozen and the backup failed", pb->o->max_freeze_s);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return ms_fail(e, MS_IO, "--snapshot-cmd failed (%s %d): the tables are unfrozen and the backup failed",
			       WIFEXITED(status) ? "exit status" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return 0;
}

/* A KILL of a freezing session ends its locks with it: the files copied
 * since may be torn, so the backup fails. */
static int freeze_still_held(struct pbackup *pb, struct ms_err *e)
{
	struct ms_err why;

	if ((pb->n_innodb && db_exec(&pb->fzx, "DO 1", &why)) || (pb->n_nontrans && db_exec(&pb->fzr, "DO 1", &why)))
		return ms_fail(e, MS_SERVER,
			       "the session holding the freeze was lost during the copy (%s): the copied files may not be "
			       "consistent; nothing was kept", why.msg);
	return 0;
}

static int frozen_work(struct pbackup *pb, struct ms_err *e)
{
	int rc;

	atomic_store(&pb->watching, true);
	if (pthread_create(&pb->watcher, NULL, watch_main, pb) != 0) {
		atomic_store(&pb->watching, false);
		return ms_fail(e, MS_INTERNAL, "cannot start the freeze watcher");
	}
	rc = read_definitions(pb, e);
	if (rc == 0)
		rc = check_and_sync(pb, pb->o->snapshot_cmd != NULL, e);
	if (rc == 0)
		rc = copy_files(pb, pb->o->snapshot_cmd != NULL, e);
	if (rc == 0 && pb->o->snapshot_cmd)
		rc = run_snapshot(pb, e);
	atomic_store(&pb->watching, false);
	pthread_join(pb->watcher, NULL);
	if (rc == 0 && atomic_load(&pb->expired))
		rc = ms_fail(e, MS_TIMEOUT, "the freeze reached --max-freeze %.0f s: the tables are unfrozen and nothing was kept",
			     pb->o->max_freeze_s);
	if (rc == 0)
		rc = freeze_still_held(pb, e);
	unfreeze(pb);
	return rc;
}

/* ---- after the freeze ------------------------------------------------------ */

static int write_definitions(struct pbackup *pb, struct ms_err *e)
{
	for (size_t i = 0; i < pb->n_tables; i++) {
		struct ptable *t = &pb->tables[i];
		char *rel;
		struct store_file *f;
		int rc;

		if (t->kind == PHYS_LOGICAL)
			continue;
		rel = backup_relpath(pb->o->database, t->name, PHYS_DEFINITION_SUFFIX);
		if (!rel)
			return ms_oom(e);
		rc = store_file_create(pb->store, rel, STORE_COMPRESS_NONE, 0, &f, e);
		free(rel);
		if (rc)
			return -1;
		if (store_file_write(f, t->definition, strlen(t->definition), e) || store_file_write(f, ";\n", 2, e)) {
			store_file_abort(f);
			return -1;
		}
		if (store_file_close(f, &t->def_file, e))
			return -1;
	}
	return 0;
}

/* Checksums of the copies, read back now that nothing waits on us. */
static int hash_copies(struct pbackup *pb, struct ms_err *e)
{
	for (size_t i = 0; i < pb->n_tables; i++) {
		struct ptable *t = &pb->tables[i];

		for (size_t f = 0; f < 2; f++) {
			char *rel = t->files[f].path;

			if (!rel)
				continue;
			t->files[f].path = NULL;
			if (store_file_hash(pb->store, rel, &t->files[f], e)) {
				free(rel);
				return -1;
			}
			free(rel);
			if (t->files[f].bytes != t->snap_bytes[f])
				return ms_fail(e, MS_IO, "%s: copied %llu bytes, the file had %llu while frozen; nothing was kept",
					       t->files[f].path, t->files[f].bytes, t->snap_bytes[f]);
		}
	}
	return 0;
}

/* Everything that is not a table file goes into logical/, a complete
 * logical backup of the database made by the logical backup itself: the
 * definitions and triggers of every table, the rows of those that travel as
 * SQL, sequences, routines, views and events. Its files are listed in our
 * manifest under logical/, so verify checks them like ours. */
static int logical_part(struct pbackup *pb, struct ms_err *e)
{
	struct backup_opts bo = { 0 };
	char *dir = path_join(store_partial_path(pb->store), PHYS_LOGICAL_DIR, "");
	char *dbs[1] = { (char *)pb->o->database };
	char **schema_only = calloc(pb->n_tables + 1, sizeof(*schema_only));
	json_t *summary = NULL, *m = NULL;
	json_error_t jerr;
	size_t n = 0;
	int rc = -1, fd;

	if (!dir || !schema_only) {
		ms_oom(e);
		goto out;
	}
	for (size_t i = 0; i < pb->n_tables; i++)
		if (pb->tables[i].kind != PHYS_LOGICAL) {
			schema_only[n] = ms_asprintf("%s.%s", pb->o->database, pb->tables[i].name);
			if (!schema_only[n++]) {
				ms_oom(e);
				goto out;
			}
		}
	bo.conn = pb->o->conn;
	bo.dir = dir;
	bo.filter = pb->o->filter;
	bo.filter.dbs = dbs;
	bo.filter.n_dbs = 1;
	bo.jobs = pb->o->jobs;
	bo.compress = STORE_COMPRESS_ZSTD;
	bo.max_stall_s = pb->o->max_stall_s;
	bo.timeout_s = pb->deadline > 0 ? pb->deadline - ms_now() : 0;
	if (pb->deadline > 0 && bo.timeout_s <= 0)
		bo.timeout_s = 0.001;
	bo.chunk_bytes = 256ULL << 20;
	bo.schema_only = schema_only;
	bo.n_schema_only = n;
	bo.server_lock_held = true;
	bo.note = pb->o->note;
	bo.ctx = pb->o->ctx;
	if (backup_run(&bo, &summary, e)) {
		ms_fail_context(e, "the logical part of the backup (views, routines, triggers, tables that are not files)");
		goto out;
	}
	/* Read back beneath our own directory descriptor, never by path. */
	fd = store_file_open_read(pb->store, PHYS_LOGICAL_DIR "/manifest.json", e);
	if (fd < 0)
		goto out;
	m = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
	close(fd);
	if (!m) {
		ms_fail(e, MS_IO, "cannot read back %s/" PHYS_LOGICAL_DIR "/manifest.json: %s",
			store_partial_path(pb->store), jerr.text);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(json_object_get(m, "files")); i++) {
		json_t *f = json_deep_copy(json_array_get(json_object_get(m, "files"), i));
		const char *p = json_string_value(json_object_get(f, "path"));
		char *prefixed = p ? path_join(PHYS_LOGICAL_DIR, p, "") : NULL;

		if (!prefixed) {
			json_decref(f);
			ms_oom(e);
			goto out;
		}
		json_object_set_new(f, "path", json_string(prefixed));
		json_array_append_new(pb->logical_files, f);
		free(prefixed);
	}
	{
		struct store_file_info mi;
		if (store_file_hash(pb->store, PHYS_LOGICAL_DIR "/manifest.json", &mi, e))
			goto out;
		json_array_append_new(pb->logical_files, store_file_info_to_json(&mi));
		store_file_info_release(&mi);
	}
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		free(schema_only[i]);
	free(schema_only);
	free(dir);
	json_decref(summary);
	json_decref(m);
	return rc;
}

static double freeze_ms(const struct pbackup *pb)
{
	return pb->frozen_at > 0 ? (pb->unfrozen_at - pb->frozen_at) * 1000 : 0;
}

static json_t *freeze_json(const struct pbackup *pb)
{
	return json_pack("{s:f, s:f, s:i, s:s, s:s, s:O}", "duration_ms", freeze_ms(pb), "request_wait_ms",
			 pb->frozen_at > 0 ? (pb->frozen_at - pb->freeze_requested_at) * 1000 : 0.0, "attempts",
			 (int)pb->attempts, "method", pb->o->snapshot_cmd ? "snapshot" : "copy", "copy",
			 copy_used_name(pb->used), "warnings", pb->warnings);
}

static json_t *table_json(const struct pbackup *pb, const struct ptable *t, json_t *files)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "name", t->name, "engine", t->engine, "row_format",
			      t->row_format, "kind", phys_kind_name(t->kind));
	const char *const *suffixes;
	size_t n;
	json_t *tf = json_object();

	if (t->kind == PHYS_LOGICAL) {
		json_object_set_new(o, "reason", json_string(t->reason ? t->reason : ""));
		json_decref(tf);
		return o;
	}
	suffixes = phys_suffixes(t->kind, &n);
	json_object_set_new(o, "definition_file", json_string(t->def_file.path));
	json_array_append_new(files, store_file_info_to_json(&t->def_file));
	json_object_set_new(o, "fulltext", json_boolean(t->fulltext));
	for (size_t f = 0; f < n; f++) {
		if (t->files[f].path) {
			json_object_set_new(tf, suffixes[f] + 1, json_string(t->files[f].path));
			json_array_append_new(files, store_file_info_to_json(&t->files[f]));
		} else {
			/* In the snapshot only: where, and how big it was while frozen. */
			char *rel = path_join(pb->fs_db, t->fs, suffixes[f]);
			json_object_set_new(tf, suffixes[f] + 1,
					    json_pack("{s:s, s:I}", "snapshot_path", rel ? rel : "", "bytes",
						      (json_int_t)t->snap_bytes[f]));
			free(rel);
		}
	}
	json_object_set_new(o, "files", tf);
	return o;
}

static int write_manifest(struct pbackup *pb, struct ms_err *e)
{
	json_t *server = json_pack("{s:s, s:I, s:s, s:s}", "version", pb->version, "innodb_page_size",
				   (json_int_t)pb->page_size, "host", pb->coord.target, "datadir", pb->datadir);
	json_t *m = manifest_new("physical", server, pb->started_at, ms_now()), *tables = json_array(),
	       *files = json_array();

	if (m) {
		json_object_set_new(m, "database", json_string(pb->o->database));
		json_object_set_new(m, "freeze", freeze_json(pb));
		json_object_set_new(m, "snapshot", pb->snapshot ? json_incref(pb->snapshot) : json_null());
		for (size_t i = 0; i < pb->n_tables; i++)
			json_array_append_new(tables, table_json(pb, &pb->tables[i], files));
		json_object_set_new(m, "tables", tables);
		json_object_set_new(m, "logical", json_string(PHYS_LOGICAL_DIR "/manifest.json"));
		json_object_set_new(m, "excluded", json_incref(pb->excluded));
		json_array_extend(files, pb->logical_files);
		json_object_set_new(m, "files", files);
	} else {
		json_decref(tables);
		json_decref(files);
	}
	return manifest_write(pb->store, m, e);
}

static json_t *summary_json(const struct pbackup *pb)
{
	size_t kinds[PHYS_KIND_COUNT] = { 0 };

	for (size_t i = 0; i < pb->n_tables; i++)
		kinds[pb->tables[i].kind]++;
	double took = ms_now() - pb->started_at;

	/* duration_s: the name of duration_seconds in the first releases. */
	return json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:i, s:s, s:I, s:I, s:{s:I, s:I, s:I, s:I}, s:O, s:O}",
			 "kind", "physical", "directory", store_final_path(pb->store), "database", pb->o->database,
			 "duration_seconds", took, "duration_s", took, "freeze_ms", freeze_ms(pb),
			 "freeze_request_wait_ms",
			 pb->frozen_at > 0 ? (pb->frozen_at - pb->freeze_requested_at) * 1000 : 0.0, "freeze_attempts",
			 (int)pb->attempts, "copy", pb->o->snapshot_cmd ? "snapshot" : copy_used_name(pb->used),
			 "bytes_copied", (json_int_t)pb->bytes_copied, "files_copied", (json_int_t)pb->files_copied,
			 "tables", "innodb", (json_int_t)kinds[PHYS_INNODB], "myisam", (json_int_t)kinds[PHYS_MYISAM],
			 "aria", (json_int_t)kinds[PHYS_ARIA], "logical", (json_int_t)kinds[PHYS_LOGICAL], "warnings",
			 pb->warnings, "snapshot", pb->snapshot ? pb->snapshot : json_null());
}

static int open_sessions(struct pbackup *pb, struct ms_err *e)
{
	return db_open(&pb->coord, pb->o->conn, "physical", NULL, e) || rowfmt_session_prepare(&pb->coord, e) ||
	       backup_server_lock(&pb->coord, e) ? -1 : 0;
}

/* A freezing session idles while we copy: it must outlive the longest
 * freeze, which nothing else bounds. */
static int open_freezers(struct pbackup *pb, struct ms_err *e)
{
	struct db_session_opts so = { .wait_timeout = (unsigned)pb->o->max_freeze_s + 60 };

	if (pb->n_innodb && db_open(&pb->fzx, pb->o->conn, "freeze", &so, e))
		return -1;
	if (pb->n_nontrans && db_open(&pb->fzr, pb->o->conn, "freeze", &so, e))
		return -1;
	return 0;
}

static void pbackup_release(struct pbackup *pb)
{
	unfreeze(pb);
	for (size_t i = 0; i < pb->n_tables; i++) {
		struct ptable *t = &pb->tables[i];
		free(t->name);
		free(t->engine);
		free(t->row_format);
		free(t->create_options);
		free(t->reason);
		free(t->fs);
		free(t->definition);
		store_file_info_release(&t->def_file);
		store_file_info_release(&t->files[0]);
		store_file_info_release(&t->files[1]);
	}
	free(pb->tables);
	if (pb->coord.mysql) {
		db_exec(&pb->coord, "DO RELEASE_LOCK('mdlsafe.backup')", NULL);
		db_close(&pb->coord);
	}
	if (pb->fzx.mysql)
		db_close(&pb->fzx);
	if (pb->fzr.mysql)
		db_close(&pb->fzr);
	store_close(pb->store);
	free(pb->datadir);
	free(pb->fs_db);
	free(pb->db_dir);
	free(pb->version);
	json_decref(pb->warnings);
	json_decref(pb->excluded);
	json_decref(pb->logical_files);
	json_decref(pb->snapshot);
}

int pbackup_run(const struct pbackup_opts *o, json_t **summary, struct ms_err *e)
{
	struct pbackup pb;
	bool stale = false;
	int rc = -1;

	memset(&pb, 0, sizeof(pb));
	*summary = NULL;
	pb.o = o;
	pb.started_at = ms_now();
	pb.deadline = o->timeout_s > 0 ? pb.started_at + o->timeout_s : 0;
	pb.warnings = json_array();
	pb.excluded = json_array();
	pb.logical_files = json_array();
	if (store_open(o->dir, &pb.store, &stale, e))
		goto out;
	if (stale)
		ms_note(pb.o->note, pb.o->ctx, "removed an unfinished backup directory left by an interrupted run");
	if (open_sessions(&pb, e) || load_server(&pb, e) || check_datadir(&pb, e) || load_tables(&pb, e))
		goto out;
	for (size_t i = 0; i < pb.n_tables; i++)
		if (pb.tables[i].kind == PHYS_LOGICAL)
			ms_note(pb.o->note, pb.o->ctx, "`%s`.`%s` is dumped as SQL in " PHYS_LOGICAL_DIR "/: %s", o->database, pb.tables[i].name,
			     pb.tables[i].reason);
	if (open_freezers(&pb, e) || freeze(&pb, e) || frozen_work(&pb, e))
		goto out;
	ms_note(pb.o->note, pb.o->ctx, "`%s` was frozen %.0f ms (%zu files, %llu bytes, %s)", o->database, freeze_ms(&pb), pb.files_copied,
	     pb.bytes_copied, o->snapshot_cmd ? "snapshot" : copy_used_name(pb.used));
	if (write_definitions(&pb, e) || hash_copies(&pb, e) || logical_part(&pb, e) || write_manifest(&pb, e))
		goto out;
	*summary = summary_json(&pb);
	rc = 0;
out:
	pbackup_release(&pb);
	return rc;
}
