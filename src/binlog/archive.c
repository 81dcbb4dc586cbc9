/* binlog_archive_run(): one replica connection (COM_BINLOG_DUMP through
 * Connector/C's mariadb_rpl), events appended to NAME.partial as they come. */
#include "binlog/archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <mariadb/mariadb_rpl.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "binlog/binlog.h"
#include "mdl/lockreq.h"
#include "store/copy.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/file.h"
#include "util/textfile.h"

/* Pending bytes are written out at this size even between syncs. */
#define ARCH_FLUSH_BYTES (4u << 20)

struct arch {
	const struct binlog_archive_opts *o;
	int lock_fd;
	json_t *index;		/* DIR/index.json as it will be written */
	struct binlog_info cur; /* the .partial being written (cur.name NULL: none) */
	int cur_fd;
	struct buf pending; /* events not yet written to cur_fd */
	char *want;         /* where to ask the server to start: its file name (NULL: find it by GTID) */
	unsigned long long want_pos;
	uint32_t sid;                   /* the server being archived (the index's server_id) */
	struct binlog_gtid_state gtids; /* the last whole transaction archived, per domain */
	unsigned long long next_from;   /* the `from` of the next file opened (0: 4) */
	bool checksum; /* the server sends CRC32s (binlog_checksum) */
	double last_sync, caught_up_at;
	unsigned long long copied, reconnects;
	bool connected;
	struct db status; /* for the lag metrics; opened lazily */
	bool status_open;
};

unsigned binlog_default_server_id(const char *dir)
{
	char host[256] = "", *abs = realpath(dir, NULL);
	struct buf b = BUF_INIT;
	unsigned id;

	gethostname(host, sizeof(host) - 1);
	buf_addf(&b, "%s:%s", host, abs ? abs : dir);
	id = 2000000000u + (unsigned)(XXH3_64bits(buf_str(&b), b.len) % 100000000u);
	buf_release(&b);
	free(abs);
	return id;
}

static char *arch_path(const struct arch *a, const char *name, const char *suffix)
{
	return ms_asprintf("%s/%s%s", a->o->dir, name, suffix ? suffix : "");
}

static bool valid_name(const char *name)
{
	return name && *name && name[0] != '.' && !strchr(name, '/') && strlen(name) < 256;
}

/* ---- the directory and its index ---------------------------------------- */

static int arch_lock(struct arch *a, struct ms_err *e)
{
	char *path;

	if (mkdir(a->o->dir, 0750) != 0 && errno != EEXIST)
		return ms_fail(e, MS_IO, "cannot create the archive directory %s: %s", a->o->dir, strerror(errno));
	if (!(path = arch_path(a, ".lock", NULL)))
		return ms_oom(e);
	a->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(path);
	if (a->lock_fd < 0)
		return ms_fail(e, MS_IO, "cannot open %s/.lock: %s", a->o->dir, strerror(errno));
	if (flock(a->lock_fd, LOCK_EX | LOCK_NB) != 0)
		return ms_fail(e, MS_BUSY,
			       "another mdlsafe binlog is archiving into %s; stop it "
			       "first, or archive "
			       "into another directory",
			       a->o->dir);
	return 0;
}

static json_t *files_of(struct arch *a)
{
	return json_object_get(a->index, "files");
}

static int arch_save_index(struct arch *a, struct ms_err *e)
{
	char t[21];
	json_t *first;

	/* Files `prune` removed from the start of the archive leave the index
	 * with it; a file missing further on is a gap and stays listed. */
	while ((first = json_array_get(files_of(a), 0))) {
		char *path = arch_path(a, json_string_value(json_object_get(first, "name")), NULL);
		bool gone = path && access(path, F_OK) != 0 && errno == ENOENT;

		free(path);
		if (!gone)
			break;
		json_array_remove(files_of(a), 0);
	}

	json_object_set_new(a->index, "partial", a->cur.name ? binlog_info_json(&a->cur) : json_null());
	{
		char *st = binlog_gtid_state_str(&a->gtids);
		if (!st)
			return ms_oom(e);
		json_object_set_new(a->index, "gtid_state", json_string(st));
		free(st);
	}
	if (a->caught_up_at > 0) {
		binlog_format_time((uint32_t)a->caught_up_at, t);
		json_object_set_new(a->index, "caught_up_at", json_string(t));
	}
	return binlog_index_save(a->o->dir, a->index, e);
}

/* Adds the complete file DIR/name, scanned from disk, to the index: for a
 * file renamed into place just before a crash that kept the index from
 * being written. */
static int adopt_complete(struct arch *a, const char *name, uint32_t sid, const char *source, struct ms_err *e)
{
	struct binlog_info f;
	unsigned long long end, bytes;
	char *path = arch_path(a, name, NULL);
	int fd, rc;

	memset(&f, 0, sizeof(f));
	if (!path)
		return ms_oom(e);
	f.server_id = sid;
	f.from = BINLOG_MAGIC_LEN;
	rc = binlog_scan_file(path, &end, &f, NULL, NULL, e);
	if (rc == 0 && (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		rc = copy_hash_fd(fd, f.xxh3, &bytes, path, e);
		close(fd);
	}
	if (rc == 0 && (!f.next || bytes != end))
		rc = ms_fail(e, MS_INCOMPLETE,
			     "%s has no ROTATE at its end or bytes after it: it is not a complete "
			     "binlog file; move it out of the archive",
			     path);
	if (rc == 0) {
		f.name = strdup(name);
		f.source = strdup(source);
		f.complete = true;
		if (!f.name || !f.source || json_array_append_new(files_of(a), binlog_info_json(&f)))
			rc = ms_oom(e);
	}
	if (rc == 0 && f.has_done && binlog_gtid_state_set(&a->gtids, &f.done_gtid))
		rc = ms_fail(e, MS_INCOMPLETE, "%s: more than %d GTID domains", path, BINLOG_GTID_DOMAINS);
	free(path);
	binlog_info_release(&f);
	return rc;
}

static int finish_file(struct arch *a, const char *next, struct ms_err *e);

/* The per-domain GTID state follows each whole transaction. */
static int track_gtids(struct arch *a, struct ms_err *e)
{
	if (a->cur.has_done && !a->cur.in_group && binlog_gtid_state_set(&a->gtids, &a->cur.done_gtid))
		return ms_fail(e, MS_INCOMPLETE,
			       "the binary log has more than %d GTID domains, more than mdlsafe follows",
			       BINLOG_GTID_DOMAINS);
	return 0;
}

static int track_scanned(void *ctx, const unsigned char *ev, const struct binlog_header *h, unsigned long long off,
			 struct ms_err *e)
{
	(void)ev;
	(void)h;
	(void)off;
	return track_gtids(ctx, e);
}

/* A format-1 index (one server, files under the server's own names) is
 * read as format 2: its entries get the index's server_id and their name as
 * source. The files keep their names; files archived from now on get the
 * s<server_id>- prefix. Written as format 2 at the next save. */
static int upgrade_index(struct arch *a, struct ms_err *e)
{
	json_t *j;
	size_t i;

	a->sid = (uint32_t)json_integer_value(json_object_get(a->index, "server_id"));
	json_array_foreach(files_of(a), i, j) {
		struct binlog_gtid g;

		if (!json_object_get(j, "server_id"))
			json_object_set_new(j, "server_id", json_integer(a->sid));
		if (!json_object_get(j, "source_name"))
			json_object_set(j, "source_name", json_object_get(j, "name"));
		if (!json_object_get(j, "from"))
			json_object_set_new(j, "from", json_integer(BINLOG_MAGIC_LEN));
		/* Format 1 kept no GTID state: each file's last GTID stands for
		 * its domain (exact with one domain). */
		if (!json_is_string(json_object_get(a->index, "gtid_state")) &&
		    binlog_gtid_from_string(json_string_value(json_object_get(j, "last_gtid")), &g) == 0 &&
		    binlog_gtid_state_set(&a->gtids, &g))
			return ms_fail(e, MS_INCOMPLETE, "%s/%s: more than %d GTID domains", a->o->dir, BINLOG_INDEX,
				       BINLOG_GTID_DOMAINS);
	}
	if (json_is_string(json_object_get(a->index, "gtid_state")) &&
	    binlog_gtid_state_parse(json_string_value(json_object_get(a->index, "gtid_state")), &a->gtids))
		return ms_fail(e, MS_INCOMPLETE, "%s/%s has a malformed gtid_state: the archive index is damaged",
			       a->o->dir, BINLOG_INDEX);
	json_object_set_new(a->index, "format", json_integer(2));
	return 0;
}

/* Who wrote the .partial `name`: the index says, or (a crash before the
 * index named it) its s<server_id>- prefix. */
static int partial_origin(struct arch *a, const char *name, struct ms_err *e)
{
	json_t *pj = json_object_get(a->index, "partial");
	const char *listed = json_string_value(json_object_get(pj, "name"));
	unsigned sid = 0;
	int n = 0;

	a->cur.from = BINLOG_MAGIC_LEN;
	a->cur.server_id = a->sid;
	if (listed && !strcmp(listed, name)) {
		json_t *from = json_object_get(pj, "from"), *id = json_object_get(pj, "server_id");
		const char *src = json_string_value(json_object_get(pj, "source_name"));
		if (json_is_integer(from) && json_integer_value(from) > BINLOG_MAGIC_LEN)
			a->cur.from = (unsigned long long)json_integer_value(from);
		if (json_is_integer(id))
			a->cur.server_id = (uint32_t)json_integer_value(id);
		a->cur.source = strdup(src ? src : name);
	} else if (sscanf(name, "s%u-%n", &sid, &n) == 1 && n > 0 && name[n]) {
		a->cur.server_id = sid;
		a->cur.source = strdup(name + n);
	} else {
		a->cur.source = strdup(name);
	}
	return a->cur.source ? 0 : ms_oom(e);
}

/* Finds where to continue: the .partial cut back to its last whole event,
 * or the file after the last complete one; a->want stays NULL when that is
 * to be found by GTID (the last file ended with a change of server). */
static int arch_recover(struct arch *a, struct ms_err *e)
{
	DIR *d = opendir(a->o->dir);
	struct dirent *de;
	char *partial = NULL;
	json_t *last;
	size_t sl = strlen(BINLOG_PARTIAL_SUFFIX);
	int rc = 0;

	if (binlog_index_load(a->o->dir, &a->index, e)) {
		if (d)
			closedir(d);
		return -1;
	}
	if (!a->index)
		a->index = json_pack("{s:i, s:[]}", "format", 2, "files");
	if (!d)
		return ms_fail(e, MS_IO, "cannot list %s: %s", a->o->dir, strerror(errno));
	if (upgrade_index(a, e)) {
		closedir(d);
		return -1;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n <= sl || strcmp(de->d_name + n - sl, BINLOG_PARTIAL_SUFFIX) || de->d_name[0] == '.')
			continue;
		if (partial) {
			rc = ms_fail(e, MS_INCOMPLETE,
				     "%s holds two files being written (%s and %s): only one archiver "
				     "writes a directory; remove the one that is not the newest",
				     a->o->dir, partial, de->d_name);
			break;
		}
		partial = strndup(de->d_name, n - sl);
	}
	closedir(d);
	if (rc == 0 && partial) {
		char *path = arch_path(a, partial, BINLOG_PARTIAL_SUFFIX);
		unsigned long long end = 0;

		rc = path ? partial_origin(a, partial, e) : ms_oom(e);
		if (rc == 0)
			rc = binlog_scan_file(path, &end, &a->cur, track_scanned, a, e);
		if (rc == 0 && (a->cur_fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0)
			rc = ms_fail(e, MS_IO, "cannot open %s: %s", path, strerror(errno));
		if (rc == 0) {
			struct stat sb;
			if (fstat(a->cur_fd, &sb) == 0 && (unsigned long long)sb.st_size > end)
				ms_note(a->o->say, a->o->ctx, "%s: cut %llu bytes of a torn event off its end", path,
					(unsigned long long)sb.st_size - end);
			if (ftruncate(a->cur_fd, (off_t)end) != 0 || lseek(a->cur_fd, 0, SEEK_END) < 0 ||
			    fsync(a->cur_fd) != 0)
				rc = ms_fail(e, MS_IO, "cannot cut %s back to its last whole event: %s", path,
					     strerror(errno));
		}
		free(path);
		a->cur.name = partial;
		partial = NULL;
		if (rc)
			return rc;
		/* Stopped after its ROTATE was written but before the rename. */
		if (a->cur.next && finish_file(a, a->cur.next, e))
			return -1;
		if (a->cur.name) {
			a->want = strdup(a->cur.source);
			a->want_pos = a->cur.size;
			return a->want ? 0 : ms_oom(e);
		}
	}
	free(partial);
	if (rc)
		return rc;
	/* No .partial: after the last complete file, adopting any that a crash
	 * left renamed but not yet indexed. */
	while ((last = json_array_get(files_of(a), json_array_size(files_of(a)) - 1))) {
		const char *next = json_string_value(json_object_get(last, "next"));
		uint32_t sid = (uint32_t)json_integer_value(json_object_get(last, "server_id"));
		char *name, *path;
		bool there;

		if (!next && a->gtids.n)
			return 0; /* it ended with a change of server: continue by GTID */
		if (!valid_name(next))
			return ms_fail(e, MS_INCOMPLETE,
				       "the last file of %s/%s names no next file: the index is damaged", a->o->dir,
				       BINLOG_INDEX);
		if (!(name = binlog_archive_name(sid, next)) || !(path = arch_path(a, name, NULL))) {
			free(name);
			return ms_oom(e);
		}
		there = access(path, F_OK) == 0;
		free(path);
		if (!there) {
			free(name);
			a->want = strdup(next);
			a->want_pos = BINLOG_MAGIC_LEN;
			return a->want ? 0 : ms_oom(e);
		}
		rc = adopt_complete(a, name, sid, next, e) || arch_save_index(a, e) ? -1 : 0;
		free(name);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- the file being written --------------------------------------------- */

static int flush_pending(struct arch *a, struct ms_err *e)
{
	if (a->pending.len && ms_write_all(a->cur_fd, a->pending.data, a->pending.len) != 0)
		return ms_fail(e, MS_IO, "cannot write %s/%s%s: %s", a->o->dir, a->cur.name, BINLOG_PARTIAL_SUFFIX,
			       strerror(errno));
	buf_reset(&a->pending);
	return 0;
}

/* Starts DIR/s<server_id>-<source>.partial for the server's file source. */
static int open_new(struct arch *a, const char *source, struct ms_err *e)
{
	char *path;

	if (!valid_name(source))
		return ms_fail(e, MS_SERVER,
			       "the server names its next binlog file '%s', which cannot "
			       "be a file name "
			       "in the archive",
			       source);
	memset(&a->cur, 0, sizeof(a->cur));
	a->cur.source = strdup(source);
	a->cur.name = binlog_archive_name(a->sid, source);
	if (!a->cur.name || !a->cur.source || !(path = arch_path(a, a->cur.name, BINLOG_PARTIAL_SUFFIX)))
		return ms_oom(e);
	a->cur.server_id = a->sid;
	a->cur.size = BINLOG_MAGIC_LEN;
	a->cur.from = a->next_from > BINLOG_MAGIC_LEN ? a->next_from : BINLOG_MAGIC_LEN;
	a->next_from = 0;
	/* The first file from a new server: the index says where its new events
	 * start before the file exists, so a crash never leaves its older
	 * events counted as new. */
	if (a->cur.from > BINLOG_MAGIC_LEN && arch_save_index(a, e)) {
		free(path);
		return -1;
	}
	a->cur_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (a->cur_fd < 0 || ms_write_all(a->cur_fd, BINLOG_MAGIC, BINLOG_MAGIC_LEN) != 0) {
		ms_fail(e, MS_IO, "cannot create %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

/* The server has moved on to `next` (NULL: the archive moves on to another
 * server): cur is complete. Made durable, renamed
 * to its own name, and listed in the index, in that order, so a crash at
 * any point is recovered by arch_recover(). */
static int finish_file(struct arch *a, const char *next, struct ms_err *e)
{
	char *from = arch_path(a, a->cur.name, BINLOG_PARTIAL_SUFFIX), *to = arch_path(a, a->cur.name, NULL);
	unsigned long long bytes;
	int rc = -1;

	if (!from || !to) {
		rc = ms_oom(e);
		goto out;
	}
	if (flush_pending(a, e))
		goto out;
	if (fsync(a->cur_fd) != 0) {
		ms_fail(e, MS_IO, "fsync of %s: %s", from, strerror(errno));
		goto out;
	}
	if (copy_hash_fd(a->cur_fd, a->cur.xxh3, &bytes, from, e))
		goto out;
	close(a->cur_fd);
	a->cur_fd = -1;
	if (rename(from, to) != 0) {
		ms_fail(e, MS_IO, "cannot rename %s to %s: %s", from, to, strerror(errno));
		goto out;
	}
	if (copy_fsync_dir(a->o->dir, e))
		goto out;
	if (next && !a->cur.next && !(a->cur.next = strdup(next))) {
		rc = ms_oom(e);
		goto out;
	}
	a->cur.complete = true;
	json_array_append_new(files_of(a), binlog_info_json(&a->cur));
	ms_note(a->o->say, a->o->ctx, "%s complete: %llu bytes%s", a->cur.name, a->cur.size,
		!next            ? " (the archive goes on from another server)"
		: a->cur.stopped ? " (the server stopped)"
				 : "");
	binlog_info_release(&a->cur);
	rc = arch_save_index(a, e);
out:
	free(from);
	free(to);
	return rc;
}

/* ---- metrics ------------------------------------------------------------ */

/* Bytes the server has written that the archive does not have yet, from
 * SHOW BINARY LOGS on a second session; -1 when unknown. */
static double lag_bytes(struct arch *a)
{
	const char *ours = a->cur.name ? a->cur.source : a->want;
	unsigned long long have = a->cur.name ? a->cur.size : 0;
	struct ms_err ignored;
	MYSQL_RES *res;
	MYSQL_ROW row;
	double lag = 0;
	bool seen = false;

	if (!ours)
		return -1;
	if (!a->status_open) {
		if (db_open(&a->status, a->o->conn, "binlog-status", NULL, &ignored))
			return -1;
		a->status_open = true;
	}
	if (db_query(&a->status, "SHOW BINARY LOGS", &res, &ignored)) {
		db_close(&a->status);
		a->status_open = false;
		return -1;
	}
	while ((row = mysql_fetch_row(res))) {
		unsigned long long size = row[1] ? strtoull(row[1], NULL, 10) : 0;
		if (row[0] && !strcmp(row[0], ours)) {
			seen = true;
			lag += size > have ? (double)(size - have) : 0;
		} else if (seen) {
			lag += (double)size;
		}
	}
	mysql_free_result(res);
	return seen ? lag : -1;
}

static void write_metrics(struct arch *a)
{
	struct buf b = BUF_INIT;
	struct ms_err ignored;
	double lag, lag_s = 0;

	if (!a->o->metrics_file)
		return;
	lag = lag_bytes(a);
	if (lag > 0 && a->cur.last_time)
		lag_s = ms_now() - a->cur.last_time;
	buf_addf(&b,
		 "# HELP mdlsafe_binlog_up 1 when the archiver is connected to the "
		 "server.\n"
		 "# TYPE mdlsafe_binlog_up gauge\nmdlsafe_binlog_up %d\n"
		 "# HELP mdlsafe_binlog_lag_bytes Binary log bytes the server has written "
		 "that the archive has not (-1: unknown).\n"
		 "# TYPE mdlsafe_binlog_lag_bytes gauge\nmdlsafe_binlog_lag_bytes %.0f\n"
		 "# HELP mdlsafe_binlog_lag_seconds Age of the newest archived event "
		 "while the archive is behind, else 0.\n"
		 "# TYPE mdlsafe_binlog_lag_seconds gauge\nmdlsafe_binlog_lag_seconds "
		 "%.3f\n"
		 "# HELP mdlsafe_binlog_archived_bytes_total Bytes of events archived "
		 "since the archiver started.\n"
		 "# TYPE mdlsafe_binlog_archived_bytes_total "
		 "counter\nmdlsafe_binlog_archived_bytes_total %llu\n"
		 "# HELP mdlsafe_binlog_files Complete binlog files in the archive.\n"
		 "# TYPE mdlsafe_binlog_files gauge\nmdlsafe_binlog_files %zu\n"
		 "# HELP mdlsafe_binlog_reconnects_total Times the connection was lost "
		 "and made again.\n"
		 "# TYPE mdlsafe_binlog_reconnects_total "
		 "counter\nmdlsafe_binlog_reconnects_total %llu\n",
		 a->connected ? 1 : 0, lag, lag_s, a->copied, json_array_size(files_of(a)), a->reconnects);
	if (!b.failed)
		ms_replace_file(a->o->metrics_file, b.data, b.len, 0644, false, &ignored);
	buf_release(&b);
}

/* Writes out, fsyncs the .partial and rewrites the index and metrics. */
static int arch_sync(struct arch *a, struct ms_err *e)
{
	if (a->cur.name && (flush_pending(a, e) || fsync(a->cur_fd) != 0))
		return e->status ? -1
				 : ms_fail(e, MS_IO, "fsync of %s/%s: %s", a->o->dir, a->cur.name, strerror(errno));
	a->last_sync = ms_now();
	if (arch_save_index(a, e))
		return -1;
	write_metrics(a);
	return 0;
}

/* ---- the replica connection --------------------------------------------- */

/* A replica session's settings for the dump: checksums as the server
 * writes them, MariaDB's GTID events, heartbeats. */
static int dump_session(struct arch *a, struct db *db, struct ms_err *e)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "SET @master_heartbeat_period = %llu",
		 (unsigned long long)(a->o->heartbeat_s * 1e9));
	return db_exec(db, "SET @master_binlog_checksum = @@global.binlog_checksum", e) ||
			       db_exec(db, "SET @mariadb_slave_capability = 4", e) || db_exec(db, sql, e)
		       ? -1
		       : 0;
}

/* A GTID dump from the archive's state, on a connection of its own, that
 * reads only up to the first transaction the archive lacks: its file and
 * offset (*file NULL when the server has nothing newer). With strict mode
 * the server refuses a state its binary log does not hold (purged, or never
 * written there) instead of skipping ahead. */
static int gtid_probe(struct arch *a, const char *state, char **file, unsigned long long *pos, struct ms_err *e)
{
	struct db db;
	MARIADB_RPL *rpl = NULL;
	MARIADB_RPL_EVENT *ev = NULL;
	char *name = NULL, *set = NULL, *quoted;
	int rc = -1;

	*file = NULL;
	if (db_open(&db, a->o->conn, "binlog-gtid", NULL, e))
		return -1;
	quoted = db_quote_string(&db, state);
	set = quoted ? ms_asprintf("SET @slave_connect_state = %s", quoted) : NULL;
	free(quoted);
	if (!set) {
		rc = ms_oom(e);
		goto out;
	}
	if (dump_session(a, &db, e) || db_exec(&db, set, e) || db_exec(&db, "SET @slave_gtid_strict_mode = 1", e) ||
	    db_exec(&db, "SET @slave_gtid_ignore_duplicates = 0", e))
		goto out;
	if (!(rpl = mariadb_rpl_init(db.mysql))) {
		rc = ms_oom(e);
		goto out;
	}
	/* No file name: the server starts from @slave_connect_state. */
	mariadb_rpl_optionsv(rpl, MARIADB_RPL_SERVER_ID, a->o->server_id);
	mariadb_rpl_optionsv(rpl, MARIADB_RPL_FILENAME, "", (size_t)0);
	mariadb_rpl_optionsv(rpl, MARIADB_RPL_START, (unsigned long)BINLOG_MAGIC_LEN);
	mariadb_rpl_optionsv(rpl, MARIADB_RPL_FLAGS, (unsigned)MARIADB_RPL_BINLOG_DUMP_NON_BLOCK);
	if (mariadb_rpl_open(rpl))
		goto refused;
	while ((ev = mariadb_rpl_fetch(rpl, ev))) {
		struct binlog_header h;
		const unsigned char *raw = ev->raw_data + ev->raw_data_ofs;

		if (ev->raw_data_size < ev->raw_data_ofs + BINLOG_HEADER_LEN)
			continue;
		binlog_header_parse(raw, &h);
		if (h.type == BINLOG_ROTATE && h.len == ev->raw_data_size - ev->raw_data_ofs) {
			free(name);
			if (!(name = binlog_rotate_target(raw, &h, a->checksum))) {
				rc = ms_oom(e);
				goto out;
			}
		} else if (h.type == BINLOG_GTID && h.log_pos >= h.len && name) {
			*file = name;
			name = NULL;
			*pos = h.log_pos - h.len;
			break;
		}
	}
	if (!ev && mysql_errno(db.mysql))
		goto refused;
	rc = 0;
	goto out;
refused:
	rc = ms_fail(e, MS_INCOMPLETE,
		     "%s cannot send the transactions after GTID %s: %s (error %u); its binary log no longer has them "
		     "(purged) or never had them: archive into a new directory and take a new backup",
		     db.target, state, mysql_error(db.mysql), mysql_errno(db.mysql));
out:
	mariadb_free_rpl_event(ev);
	if (rpl)
		mariadb_rpl_close(rpl);
	db_close(&db);
	free(name);
	free(set);
	return rc;
}

/* The archive came from another server (a failover), or the server lost
 * the file it would go on with: where the server's binary log holds the
 * first transaction after the archive's GTID state. The file the archive
 * was writing is closed there (a transaction cut off by a stop is dropped:
 * the new server sends it whole), the server's file is archived from its
 * start (its bytes stay the server's), and `from` in the index marks where
 * its new events begin. */
static int continue_by_gtid(struct arch *a, struct db *db, uint32_t sid, struct ms_err *e)
{
	struct binlog_gtid_state theirs;
	char *state = binlog_gtid_state_str(&a->gtids), *pos_str = NULL, *file = NULL, *file0 = NULL;
	unsigned long long pos = 0, pos0 = 0;
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc = -1;

	if (!state)
		return ms_oom(e);
	if (!*state) {
		rc = ms_fail(e, MS_INCOMPLETE,
			     "%s holds no transaction with a GTID, so it cannot be continued on %s (server_id %" PRIu32
			     "), which does not have its next file: archive into a new directory and take a new backup",
			     a->o->dir, db->target, sid);
		goto out;
	}
	/* A server that is behind is named with what it lacks, before the dump. */
	if (db_query_value(db, "SELECT @@gtid_binlog_pos", &pos_str, e))
		goto out;
	if (binlog_gtid_state_parse(pos_str ? pos_str : "", &theirs))
		memset(&theirs, 0, sizeof(theirs));
	for (size_t i = 0; i < a->gtids.n; i++) {
		const struct binlog_gtid *g = &a->gtids.v[i], *t = binlog_gtid_state_find(&theirs, g->domain);
		if (!t || t->seq < g->seq) {
			rc = ms_fail(e, MS_INCOMPLETE,
				     "%s (server_id %" PRIu32 ") lacks the transaction after GTID %" PRIu32 "-%" PRIu32
				     "-%" PRIu64 " that %s continues with (its binary log ends at %s): point the "
				     "archiver at the new primary (log_slave_updates=ON), or wait until this server "
				     "has caught up",
				     db->target, sid, g->domain, g->server, g->seq, a->o->dir,
				     pos_str && *pos_str ? pos_str : "no GTID");
			goto out;
		}
	}
	if (db_query(db, "SHOW MASTER STATUS", &res, e))
		goto out;
	if ((row = mysql_fetch_row(res)) && row[0] && row[1]) {
		file0 = strdup(row[0]);
		pos0 = strtoull(row[1], NULL, 10);
	}
	mysql_free_result(res);
	if (!file0) {
		rc = ms_fail(e, MS_USAGE, "%s shows no binary log position (SHOW MASTER STATUS is empty)", db->target);
		goto out;
	}
	if (gtid_probe(a, state, &file, &pos, e))
		goto out;
	if (!file) {
		/* Nothing after the state yet: whatever comes next comes after
		 * the position taken before the probe. */
		file = file0;
		file0 = NULL;
		pos = pos0;
	}
	if (a->cur.name) {
		char *path = arch_path(a, a->cur.name, BINLOG_PARTIAL_SUFFIX);
		unsigned long long end = a->cur.group_end;

		if (!path || flush_pending(a, e)) {
			free(path);
			rc = path ? -1 : ms_oom(e);
			goto out;
		}
		if (end < a->cur.size) {
			struct binlog_info f;

			/* The events of a cut-off transaction go; the file is read
			 * again to describe what stays. */
			memset(&f, 0, sizeof(f));
			if (ftruncate(a->cur_fd, (off_t)end) != 0 || lseek(a->cur_fd, 0, SEEK_END) < 0) {
				rc = ms_fail(e, MS_IO, "cannot cut %s back to its last whole transaction: %s", path,
					     strerror(errno));
				free(path);
				goto out;
			}
			rc = binlog_scan_file(path, &end, &f, NULL, NULL, e);
			f.name = a->cur.name;
			f.source = a->cur.source;
			f.server_id = a->cur.server_id;
			f.from = a->cur.from;
			a->cur.name = a->cur.source = NULL;
			binlog_info_release(&a->cur);
			a->cur = f;
			if (rc) {
				free(path);
				goto out;
			}
			rc = -1;
		}
		free(path);
		if (finish_file(a, NULL, e))
			goto out;
	}
	ms_note(a->o->say, a->o->ctx,
		"%s is server_id %" PRIu32 ", the archive was server_id %" PRIu32
		"'s: continuing after GTID %s, at %s:%llu",
		db->target, sid, a->sid, state, file, pos);
	free(a->want);
	a->want = file;
	file = NULL;
	a->want_pos = BINLOG_MAGIC_LEN;
	a->next_from = pos;
	a->sid = sid;
	json_object_set_new(a->index, "server_id", json_integer((json_int_t)sid));
	rc = arch_save_index(a, e);
out:
	free(state);
	free(pos_str);
	free(file);
	free(file0);
	return rc;
}

static int check_server(struct arch *a, struct db *db, struct ms_err *e)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	unsigned long long sid;
	bool found = false, first = true;
	/* An archive that holds events goes on from them, whatever server. */
	bool has_events = a->cur.name || json_array_size(files_of(a));

	if (db_query(db, "SELECT @@log_bin, @@server_id, @@binlog_checksum", &res, e))
		return -1;
	row = mysql_fetch_row(res);
	if (!row || !row[0] || strcmp(row[0], "1")) {
		mysql_free_result(res);
		return ms_fail(e, MS_USAGE,
			       "the server at %s writes no binary log (log_bin is OFF): start it with "
			       "--log-bin to archive its changes",
			       db->target);
	}
	sid = strtoull(row[1] ? row[1] : "0", NULL, 10);
	a->checksum = row[2] && strcasecmp(row[2], "NONE");
	mysql_free_result(res);
	if (sid == a->o->server_id)
		return ms_fail(e, MS_USAGE,
			       "the server's own server_id is %llu, the one this archiver "
			       "would use: give "
			       "another with --server-id",
			       sid);
	if (db_query(db, "SHOW BINARY LOGS", &res, e))
		return -1;
	while ((row = mysql_fetch_row(res))) {
		if (first && !has_events && !a->want && !a->o->start_file)
			a->want = row[0] ? strdup(row[0]) : NULL, a->want_pos = BINLOG_MAGIC_LEN;
		first = false;
		if (row[0] &&
		    (a->want ? !strcmp(row[0], a->want) : a->o->start_file && !strcmp(row[0], a->o->start_file)))
			found = true;
	}
	mysql_free_result(res);
	/* Another server, or a file the server no longer has: the position by
	 * file name means nothing there; the GTIDs do. */
	if (has_events && (!a->want || !found || (a->sid && sid != a->sid)))
		return continue_by_gtid(a, db, (uint32_t)sid, e);
	if (!a->want && a->o->start_file) {
		a->want = strdup(a->o->start_file);
		a->want_pos = BINLOG_MAGIC_LEN;
	}
	if (!a->want)
		return ms_oom(e);
	if (!found)
		return ms_fail(e, MS_INCOMPLETE, "the server has no binlog file %s, where the archive %s would start",
			       a->want, a->o->dir);
	a->sid = (uint32_t)sid;
	json_object_set_new(a->index, "server_id", json_integer((json_int_t)sid));
	return 0;
}

static int on_event(struct arch *a, const unsigned char *ev, size_t n, struct ms_err *e)
{
	struct binlog_header h;

	if (n < BINLOG_HEADER_LEN)
		return ms_fail(e, MS_SERVER, "the server sent a binlog event of %zu bytes, shorter than a header", n);
	binlog_header_parse(ev, &h);
	if (h.len != n)
		return ms_fail(e, MS_SERVER,
			       "the server sent a binlog event whose header says %u bytes in a packet "
			       "of %zu",
			       h.len, n);
	if (h.type == BINLOG_HEARTBEAT) {
		if (a->cur.name && h.log_pos == a->cur.size)
			a->caught_up_at = ms_now();
		return arch_sync(a, e);
	}
	if (h.type == BINLOG_ROTATE && ((h.flags & BINLOG_FLAG_ARTIFICIAL) || h.log_pos == 0)) {
		char *name = binlog_rotate_target(ev, &h, a->checksum);
		int rc = 0;

		if (!name)
			return ms_fail(e, MS_SERVER, "the server sent a malformed ROTATE event");
		if (a->cur.name && strcmp(a->cur.source, name))
			rc = finish_file(a, name, e);
		if (rc == 0 && !a->cur.name)
			rc = open_new(a, name, e);
		free(name);
		return rc;
	}
	if (!a->cur.name)
		return ms_fail(e, MS_SERVER, "the server sent an event before naming its binlog file");
	/* On a resumed dump the server sends the format description again. */
	if (h.type == BINLOG_FORMAT_DESCRIPTION && a->cur.size > BINLOG_MAGIC_LEN)
		return 0;
	if (h.log_pos != a->cur.size + h.len)
		return ms_fail(e, MS_INCOMPLETE,
			       "the server sent an event ending at %s:%u, and the archive has %llu "
			       "bytes of that file: they are out of step (was the file changed?); "
			       "archive into a new "
			       "directory",
			       a->cur.name, h.log_pos, a->cur.size);
	buf_add(&a->pending, ev, n);
	if (a->pending.failed)
		return ms_oom(e);
	if (binlog_info_add(&a->cur, ev, &h, e) || track_gtids(a, e))
		return -1;
	a->copied += n;
	if (h.type == BINLOG_ROTATE)
		return finish_file(a, a->cur.next, e);
	if (a->pending.len >= ARCH_FLUSH_BYTES && flush_pending(a, e))
		return -1;
	if (ms_now() - a->last_sync >= a->o->sync_s)
		return arch_sync(a, e);
	return 0;
}

/* One connection: dumps from a->want until the connection ends. Returns 0
 * when the server had no more (once) or the stop flag was set, 1 when the
 * connection was lost (retry), -1 on an error retrying cannot fix. */
static int dump_once(struct arch *a, bool *dumped, struct ms_err *e)
{
	struct db_session_opts so = { .read_timeout = (unsigned)(a->o->heartbeat_s * 3) + 5 };
	struct db db;
	MARIADB_RPL *rpl = NULL;
	MARIADB_RPL_EVENT *ev = NULL;
	int rc = 1;

	if (db_open(&db, a->o->conn, "binlog", &so, e))
		return e->status == MS_CONNECT ? 1 : -1;
	if (check_server(a, &db, e) || dump_session(a, &db, e)) {
		db_close(&db);
		return -1;
	}
	if (!(rpl = mariadb_rpl_init(db.mysql))) {
		db_close(&db);
		return ms_oom(e);
	}
	mariadb_rpl_optionsv(rpl, MARIADB_RPL_SERVER_ID, a->o->server_id);
	mariadb_rpl_optionsv(rpl, MARIADB_RPL_FILENAME, a->want, strlen(a->want));
	mariadb_rpl_optionsv(rpl, MARIADB_RPL_START, (unsigned long)a->want_pos);
	mariadb_rpl_optionsv(rpl, MARIADB_RPL_FLAGS,
			     (unsigned)(MARIADB_RPL_BINLOG_SEND_ANNOTATE_ROWS |
					(a->o->once ? MARIADB_RPL_BINLOG_DUMP_NON_BLOCK : 0)));
	if (mariadb_rpl_open(rpl)) {
		rc = db_fail(&db, e, "starting the binlog dump (COM_BINLOG_DUMP; needs REPLICATION SLAVE)");
		goto out;
	}
	a->connected = true;
	*dumped = true;
	ms_note(a->o->say, a->o->ctx, "archiving from %s:%llu as replica server_id %u", a->want, a->want_pos,
		a->o->server_id);
	for (;;) {
		if (*a->o->stop) {
			rc = 0;
			break;
		}
		ev = mariadb_rpl_fetch(rpl, ev);
		if (!ev) {
			unsigned err = mysql_errno(db.mysql);
			if (!err && a->o->once) {
				a->caught_up_at = ms_now();
				rc = 0;
			} else {
				ms_fail(e, MS_CONNECT, "the binlog dump from %s ended: %s (error %u)", db.target,
					err ? mysql_error(db.mysql) : mariadb_rpl_error(rpl), err);
				e->sql_errno = err;
				rc = err == ER_MASTER_FATAL_ERROR_READING_BINLOG ? -1 : 1;
			}
			break;
		}
		if (ev->raw_data_size < ev->raw_data_ofs ||
		    on_event(a, ev->raw_data + ev->raw_data_ofs, ev->raw_data_size - ev->raw_data_ofs, e)) {
			rc = -1;
			break;
		}
		/* Where a new connection would continue. */
		if (a->cur.name && (!a->want || strcmp(a->want, a->cur.source))) {
			free(a->want);
			a->want = strdup(a->cur.source);
		}
		a->want_pos = a->cur.name ? a->cur.size : BINLOG_MAGIC_LEN;
	}
out:
	a->connected = false;
	mariadb_free_rpl_event(ev);
	mariadb_rpl_close(rpl);
	db_close(&db);
	return rc;
}

/* The reconnect backoff, waited in naps a stop signal ends. */
static void reconnect_wait(void *ctx, double s)
{
	const struct binlog_archive_opts *o = ctx;

	ms_nap(s * lockreq_jitter(), o->stop);
}

/* What the archive holds at the end of a run, and what the run copied. */
static void report_fill(struct arch *a, json_t *r)
{
	char *st = binlog_gtid_state_str(&a->gtids);

	json_object_set_new(r, "archive", json_string(a->o->dir));
	json_object_set_new(r, "server_id", json_integer(a->sid));
	json_object_set_new(r, "files", json_integer((json_int_t)json_array_size(files_of(a))));
	json_object_set_new(r, "partial", a->cur.name ? json_string(a->cur.name) : json_null());
	json_object_set_new(r, "bytes_copied", json_integer((json_int_t)a->copied));
	json_object_set_new(r, "reconnects", json_integer((json_int_t)a->reconnects));
	json_object_set_new(r, "gtid_state", st ? json_string(st) : json_null());
	free(st);
}

int binlog_archive_run(const struct binlog_archive_opts *o, struct ms_err *e)
{
	struct arch a;
	/* Any failure is tried again, without limit: the archiver is a service. */
	struct lockreq_retry reconnect = {
		.set = LOCKREQ_RETRY_ANY, .base_s = 0.5, .cap = 4, .wait = reconnect_wait, .ctx = (void *)o
	};
	int rc;

	memset(&a, 0, sizeof(a));
	a.o = o;
	a.lock_fd = -1;
	a.cur_fd = -1;
	rc = arch_lock(&a, e);
	if (rc == 0)
		rc = arch_recover(&a, e);
	while (rc == 0) {
		bool dumped = false;

		rc = dump_once(&a, &dumped, e);
		if (rc != 1)
			break;
		if (o->once) {
			rc = -1;
			break;
		}
		/* Everything received so far is kept before waiting. */
		if (arch_sync(&a, e)) {
			rc = -1;
			break;
		}
		if (dumped)
			reconnect.attempt = 0; /* events flowed: the next failure starts the backoff anew */
		if (reconnect.attempt == 0)
			ms_note(o->say, o->ctx, "%s; retrying, continuing from %s:%llu", e->msg, a.want, a.want_pos);
		(void)lockreq_retry_again(&reconnect, e);
		ms_err_clear(e);
		rc = 0;
		if (*o->stop)
			break;
		a.reconnects++;
	}
	if (a.index && a.lock_fd >= 0) {
		struct ms_err se;
		if (arch_sync(&a, rc == 0 ? e : &se) && rc == 0)
			rc = -1;
	}
	if (o->report && a.index)
		report_fill(&a, o->report);
	if (a.cur_fd >= 0)
		close(a.cur_fd);
	if (a.status_open)
		db_close(&a.status);
	binlog_info_release(&a.cur);
	buf_release(&a.pending);
	free(a.want);
	json_decref(a.index);
	if (a.lock_fd >= 0)
		close(a.lock_fd);
	return rc;
}
