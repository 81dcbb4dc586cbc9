/* Rolling restored databases forward with archived binlog events (see
 * replay.h): the plan reads only the archive; the apply pipes mariadb-binlog
 * through us into a mariadb client. */
#include "binlog/replay.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/file.h"

int binlog_parse_until(const char *s, uint32_t *t, struct ms_err *e)
{
	struct tm tm;
	const char *end;
	time_t v;

	memset(&tm, 0, sizeof(tm));
	if (!s || !(end = strptime(s, "%Y-%m-%d %H:%M:%S", &tm)) || *end)
		return ms_fail(e, MS_USAGE, "--until '%s': give a local time as 'YYYY-MM-DD HH:MM:SS'", s ? s : "");
	tm.tm_isdst = -1;
	v = mktime(&tm);
	if (v < 0 || v > (time_t)UINT32_MAX)
		return ms_fail(e, MS_USAGE, "--until '%s' is out of range", s);
	*t = (uint32_t)v;
	return 0;
}

void binlog_replay_plan_release(struct binlog_replay_plan *p)
{
	for (size_t k = 0; k < p->n_segs; k++) {
		for (size_t i = 0; i < p->segs[k].n_paths; i++)
			free(p->segs[k].paths[i]);
		free(p->segs[k].paths);
	}
	free(p->segs);
	memset(p, 0, sizeof(*p));
}

static void gtid_str(const struct binlog_gtid *g, char out[64])
{
	snprintf(out, 64, "%" PRIu32 "-%" PRIu32 "-%" PRIu64, g->domain, g->server, g->seq);
}

static void time_str(uint32_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
}

/* ---- the plan ----------------------------------------------------------- */

struct scan {
	const struct binlog_target *t;
	unsigned long long from; /* events before this offset are the backup's already */
	bool found;		 /* by_gtid: the target transaction was seen */
	bool stop;
	unsigned long long stop_off;
	bool have_last;
	struct binlog_gtid last;
	uint32_t last_when;
	unsigned long long txns, bytes;
};

static int scan_event(void *ctx, const unsigned char *ev, const struct binlog_header *h, unsigned long long off,
		      struct ms_err *e)
{
	struct scan *s = ctx;
	struct binlog_gtid g;

	if (s->stop || off < s->from)
		return 0;
	if (h->type != BINLOG_GTID) {
		if (s->txns)
			s->bytes += h->len;
		return 0;
	}
	binlog_gtid_parse(ev, h, &g);
	if (s->t->by_gtid) {
		if (s->found) {
			s->stop = true;
			s->stop_off = off;
			return 0;
		}
		if (g.domain == s->t->gtid.domain && g.seq >= s->t->gtid.seq) {
			char want[64], got[64];
			if (g.seq == s->t->gtid.seq && g.server == s->t->gtid.server) {
				s->found = true;
			} else {
				gtid_str(&s->t->gtid, want);
				gtid_str(&g, got);
				return ms_fail(e, MS_INCOMPLETE,
					       "--until-gtid %s is not in the archive: its domain %" PRIu32
					       " goes on with %s without it; give a GTID the server wrote",
					       want, g.domain, got);
			}
		}
	} else if (h->when >= s->t->until) {
		s->stop = true;
		s->stop_off = off;
		return 0;
	}
	s->txns++;
	s->bytes += h->len;
	s->last = g;
	s->have_last = true;
	s->last_when = h->when;
	return 0;
}

/* Adds path to the last segment, or to a new one starting at start_pos. */
static int plan_add(struct binlog_replay_plan *p, bool new_seg, unsigned long long start_pos, char *path,
		    struct ms_err *e)
{
	struct binlog_replay_seg *seg;
	char **grown;

	if (new_seg || !p->n_segs) {
		struct binlog_replay_seg *segs = realloc(p->segs, (p->n_segs + 1) * sizeof(*segs));
		if (!segs) {
			free(path);
			return ms_oom(e);
		}
		p->segs = segs;
		memset(&segs[p->n_segs], 0, sizeof(*segs));
		segs[p->n_segs++].start_pos = start_pos;
	}
	seg = &p->segs[p->n_segs - 1];
	if (!(grown = realloc(seg->paths, (seg->n_paths + 1) * sizeof(*grown)))) {
		free(path);
		return ms_oom(e);
	}
	seg->paths = grown;
	seg->paths[seg->n_paths++] = path;
	return 0;
}

int binlog_replay_plan(const char *dir, const char *start_file, unsigned long long start_pos,
		       const struct binlog_target *t, struct binlog_replay_plan *p, struct ms_err *e)
{
	struct binlog_entries en = { NULL, 0 };
	struct scan s;
	json_t *index = NULL;
	ssize_t i;
	bool new_seg = true;
	uint32_t caught_up = 0, end_when = 0;
	char a[64], b[64];
	int rc = -1;

	memset(p, 0, sizeof(*p));
	memset(&s, 0, sizeof(s));
	s.t = t;
	s.from = start_pos;
	if (binlog_index_load(dir, &index, e))
		return -1;
	if (!index)
		return ms_fail(e, MS_USAGE,
			       "%s has no %s: it is not a binlog archive (mdlsafe binlog --archive DIR "
			       "makes one)",
			       dir, BINLOG_INDEX);
	binlog_parse_time(json_string_value(json_object_get(index, "caught_up_at")), &caught_up);
	if (binlog_entries_load(index, &en, e))
		goto out;
	if ((i = binlog_entries_find_source(&en, start_file, start_pos)) < 0) {
		const char *before = NULL, *after = NULL;

		for (size_t k = 0; k < en.n; k++) {
			if (strcmp(en.v[k].source, start_file) < 0)
				before = en.v[k].name;
			else if (!after)
				after = en.v[k].name;
		}
		if (before && after)
			ms_fail(e, MS_INCOMPLETE,
				"the archive %s has a gap: it holds %s and then %s, and lacks %s where the backup's "
				"consistency "
				"point is (%s:%llu); the events from there up to %s are missing",
				dir, before, after, start_file, start_file, start_pos, after);
		else if (after)
			ms_fail(e, MS_INCOMPLETE,
				"the archive %s starts at %s, after %s where the backup's consistency point is "
				"(%s:%llu): "
				"the events from %s:%llu up to %s are missing; restore a newer backup",
				dir, after, start_file, start_file, start_pos, start_file, start_pos, after);
		else
			ms_fail(e, MS_INCOMPLETE,
				"the archive %s has no %s, where the backup's consistency point is (%s:%llu)%s%s: is "
				"the "
				"archiver (mdlsafe binlog) running against this server?",
				dir, start_file, start_file, start_pos, before ? "; it ends at " : "",
				before ? before : "");
		goto out;
	}
	for (;;) {
		struct binlog_info *f = &en.v[i];
		char *path = ms_asprintf("%s/%s%s", dir, f->name, f->complete ? "" : BINLOG_PARTIAL_SUFFIX);
		unsigned long long end = 0;
		struct stat sb;
		ssize_t j;

		if (!path) {
			ms_oom(e);
			goto out;
		}
		if (stat(path, &sb) != 0 || (f->complete && (unsigned long long)sb.st_size != f->size)) {
			ms_fail(e, MS_INCOMPLETE,
				"the archive lacks %s (listed in its index%s): the events from %s:4 on are missing, a "
				"gap "
				"the replay cannot cross; restore without --until, or to a point before it",
				path, stat(path, &sb) == 0 ? ", with another size" : "", f->name);
			free(path);
			goto out;
		}
		if (binlog_scan_file(path, &end, NULL, scan_event, &s, e) || plan_add(p, new_seg, s.from, path, e))
			goto out;
		if (s.stop) {
			p->segs[p->n_segs - 1].stop_pos = s.stop_off;
			break;
		}
		p->segs[p->n_segs - 1].stop_pos = end;
		end_when = s.last_when ? s.last_when : f->last_time;
		j = f->complete && (size_t)i + 1 < en.n && binlog_info_follows(f, &en.v[i + 1]) ? i + 1 : -1;
		if (j < 0 && f->complete && (size_t)i + 1 < en.n) {
			char *missing = f->next ? binlog_archive_name(f->server_id, f->next) : NULL;
			ms_fail(e, MS_INCOMPLETE,
				"the archive has a gap: %s follows %s but is missing (the files from %s up to %s are "
				"not in %s); the replay cannot cross it: restore to a point before %s",
				missing ? missing : "?", f->name, missing ? missing : "?", en.v[i + 1].name, dir,
				missing ? missing : "?");
			free(missing);
			goto out;
		}
		if (j < 0) {
			/* The end of the archive. */
			if (t->by_gtid && !s.found) {
				gtid_str(&t->gtid, a);
				if (s.have_last)
					gtid_str(&s.last, b);
				ms_fail(e, MS_INCOMPLETE,
					"the archive does not reach --until-gtid %s: it ends at %s:%llu%s%s; wait for "
					"the "
					"archiver (mdlsafe binlog) to catch up, or give an earlier GTID",
					a, f->name, end, s.have_last ? " after GTID " : "", s.have_last ? b : "");
				goto out;
			}
			if (!t->by_gtid && t->until > end_when && t->until > caught_up) {
				time_str(t->until, a);
				time_str(end_when > caught_up ? end_when : caught_up, b);
				ms_fail(e, MS_INCOMPLETE,
					"the archive does not reach --until '%s': it holds events up to %s (%s:%llu); "
					"wait for "
					"the archiver (mdlsafe binlog) to catch up, or give an earlier time",
					a, b, f->name, end);
				goto out;
			}
			break;
		}
		/* Continued by GTID: the archive goes on at the first event it did
		 * not have before, in a pass of its own. */
		new_seg = binlog_info_continues_by_gtid(f, &en.v[j]);
		s.from = new_seg ? en.v[j].from : 0;
		i = j;
	}
	p->transactions = s.txns;
	p->bytes = s.bytes;
	if (s.have_last) {
		gtid_str(&s.last, a);
		time_str(s.last_when, b);
		snprintf(p->stop_at, sizeof(p->stop_at), "%llu transactions, the last GTID %s at %s", s.txns, a, b);
	} else {
		snprintf(p->stop_at, sizeof(p->stop_at), "no transaction between the backup and the target");
	}
	rc = 0;
out:
	if (rc)
		binlog_replay_plan_release(p);
	binlog_entries_release(&en);
	json_decref(index);
	return rc;
}

/* ---- the apply ---------------------------------------------------------- */

/* A value for an option file line: quoted, backslashes doubled. */
static int cnf_add(struct buf *b, const char *key, const char *v, struct ms_err *e)
{
	if (!v || !*v)
		return 0;
	if (strchr(v, '\n') || (strchr(v, '"') && strchr(v, '\'')))
		return ms_fail(e, MS_USAGE,
			       "the %s holds a newline or both quote characters, which a mariadb option "
			       "file cannot carry to the replay's client",
			       key);
	buf_addf(b, "%s=%c", key, strchr(v, '"') ? '\'' : '"');
	for (const char *c = v; *c; c++) {
		if (*c == '\\')
			buf_addch(b, '\\');
		buf_addch(b, *c);
	}
	buf_addf(b, "%c\n", strchr(v, '"') ? '\'' : '"');
	return 0;
}

/* Writes DIR/client.cnf (0600, DIR being our private 0700 directory) with
 * how db is connected. */
static int write_cnf(const char *path, struct db *db, const struct db_params *conn, bool no_binlog, struct ms_err *e)
{
	MYSQL *m = db->mysql;
	struct buf b = BUF_INIT;
	char port[16];
	int fd, rc;

	snprintf(port, sizeof(port), "%u", m->port);
	buf_adds(&b, "[client]\n");
	rc = cnf_add(&b, "user", m->user, e) || cnf_add(&b, "password", m->passwd, e);
	if (rc == 0 && m->unix_socket && *m->unix_socket)
		rc = cnf_add(&b, "socket", m->unix_socket, e) || cnf_add(&b, "protocol", "socket", e);
	else if (rc == 0)
		rc = cnf_add(&b, "host", m->host, e) || cnf_add(&b, "port", port, e) ||
		     cnf_add(&b, "protocol", "tcp", e);
	if (rc == 0 && conn->ssl)
		buf_adds(&b, "ssl\n");
	if (rc == 0)
		rc = cnf_add(&b, "ssl-ca", conn->ssl_ca, e) || cnf_add(&b, "ssl-cert", conn->ssl_cert, e) ||
		     cnf_add(&b, "ssl-key", conn->ssl_key, e);
	if (rc == 0 && conn->ssl_verify_server_cert)
		buf_adds(&b, "ssl-verify-server-cert\n");
	if (rc == 0 && no_binlog)
		buf_adds(&b, "[mysql]\ninit-command=\"SET SESSION sql_log_bin=0\"\n");
	if (rc == 0 && b.failed)
		rc = ms_oom(e);
	if (rc == 0) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 || ms_write_all(fd, b.data, b.len) != 0)
			rc = ms_fail(e, MS_IO, "cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	/* The password is not left in our memory longer than needed. */
	if (b.data)
		memset(b.data, 0, b.alloc);
	buf_release(&b);
	return rc;
}

/* Starts argv with stdin/stdout as given (-1: /dev/null) and stderr into
 * err_path. */
static pid_t spawn(char *const *argv, int in, int out, const char *err_path)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	int null = open("/dev/null", O_RDWR);
	int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(in >= 0 ? in : null, STDIN_FILENO);
	dup2(out >= 0 ? out : null, STDOUT_FILENO);
	dup2(err >= 0 ? err : null, STDERR_FILENO);
	execvp(argv[0], argv);
	_exit(127);
}

/* The first line of what a child wrote on stderr, for the error message. */
static void first_line(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "re");

	out[0] = 0;
	if (f) {
		if (fgets(out, (int)n, f))
			out[strcspn(out, "\n")] = 0;
		fclose(f);
	}
}

static int child_status(pid_t pid)
{
	int st = 0;

	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* mariadb-binlog sets each transaction's GTID sequence number before it:
 * dropped, so the server numbers the replayed transactions itself. */
static bool gtid_seq_line(const char *line)
{
	return !strncmp(line, "/*M!100001 SET @@session.gtid_seq_no=", 37);
}

static int replay_one(const struct binlog_replay_seg *p, const char *tmp, const struct binlog_replay_db *d,
		      unsigned long long *bytes, struct ms_err *e)
{
	char *cnf = ms_asprintf("%s/client.cnf", tmp), *err1 = ms_asprintf("%s/binlog.err", tmp);
	char *err2 = ms_asprintf("%s/client.err", tmp), *start = ms_asprintf("--start-position=%llu", p->start_pos);
	char *stop = ms_asprintf("--stop-position=%llu", p->stop_pos), *dbopt = ms_asprintf("--database=%s", d->from);
	char *rewrite = strcmp(d->from, d->to) ? ms_asprintf("--rewrite-db=%s->%s", d->from, d->to) : NULL;
	char *defaults = ms_asprintf("--defaults-file=%s", cnf);
	char **argv1 = calloc(p->n_paths + 8, sizeof(char *));
	char *argv2[] = { "mariadb", defaults, "--binary-mode", "--batch", NULL };
	int p1[2] = { -1, -1 }, p2[2] = { -1, -1 }, rc = -1, s1, s2;
	pid_t c1 = -1, c2 = -1;
	FILE *in = NULL, *out = NULL;
	char *line = NULL, msg[400];
	size_t cap = 0, k = 0;
	ssize_t n;
	bool write_failed = false;

	if (!cnf || !err1 || !err2 || !start || !stop || !dbopt || (strcmp(d->from, d->to) && !rewrite) || !defaults ||
	    !argv1) {
		ms_oom(e);
		goto out;
	}
	argv1[k++] = "mariadb-binlog";
	argv1[k++] = "--no-defaults";
	argv1[k++] = start;
	argv1[k++] = stop;
	argv1[k++] = dbopt;
	if (rewrite)
		argv1[k++] = rewrite;
	for (size_t i = 0; i < p->n_paths; i++)
		argv1[k++] = p->paths[i];
	if (pipe2(p1, O_CLOEXEC) || pipe2(p2, O_CLOEXEC)) {
		ms_fail(e, MS_IO, "cannot make a pipe: %s", strerror(errno));
		goto out;
	}
	c1 = spawn(argv1, -1, p1[1], err1);
	c2 = spawn(argv2, p2[0], -1, err2);
	close(p1[1]);
	close(p2[0]);
	p1[1] = p2[0] = -1;
	if (c1 < 0 || c2 < 0) {
		ms_fail(e, MS_IO, "cannot start mariadb-binlog and mariadb: %s", strerror(errno));
		goto reap;
	}
	in = fdopen(p1[0], "r");
	out = fdopen(p2[1], "w");
	if (!in || !out) {
		ms_oom(e);
		goto reap;
	}
	p1[0] = p2[1] = -1;
	while ((n = getline(&line, &cap, in)) > 0) {
		if (gtid_seq_line(line))
			continue;
		*bytes += (unsigned long long)n;
		if (!write_failed && fwrite(line, 1, (size_t)n, out) != (size_t)n)
			write_failed = true;
	}
	if (fclose(out) != 0)
		write_failed = true;
	out = NULL;
reap:
	s1 = c1 > 0 ? child_status(c1) : -1;
	s2 = c2 > 0 ? child_status(c2) : -1;
	if (e->status == MS_OK && s1 != 0) {
		first_line(err1, msg, sizeof(msg));
		ms_fail(e, MS_IO, "mariadb-binlog failed (%s %d)%s%s; is it installed (package mariadb-client)?",
			s1 == 127 ? "not found, status" : "exit status", s1, msg[0] ? ": " : "", msg);
	} else if (e->status == MS_OK && (s2 != 0 || write_failed)) {
		first_line(err2, msg, sizeof(msg));
		ms_fail(e, MS_SERVER,
			"replaying the binlog into %s failed (mariadb exit status %d)%s%s: the database is restored up "
			"to "
			"the backup and partly rolled forward; fix the cause and restore again",
			d->to, s2, msg[0] ? ": " : "", msg);
	} else if (e->status == MS_OK) {
		rc = 0;
	}
out:
	if (in)
		fclose(in);
	if (out)
		fclose(out);
	for (int i = 0; i < 2; i++) {
		if (p1[i] >= 0)
			close(p1[i]);
		if (p2[i] >= 0)
			close(p2[i]);
	}
	if (err1)
		unlink(err1);
	if (err2)
		unlink(err2);
	free(line);
	free(argv1);
	free(cnf);
	free(err1);
	free(err2);
	free(start);
	free(stop);
	free(dbopt);
	free(rewrite);
	free(defaults);
	return rc;
}

int binlog_replay_apply(const struct binlog_replay_plan *p, struct db *db, const struct db_params *conn,
			const struct binlog_replay_db *dbs, size_t n_dbs, bool no_binlog, ms_note_fn *note, void *ctx,
			struct ms_err *e)
{
	const char *base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char *tmp = ms_asprintf("%s/mdlsafe-replay-XXXXXX", base), *cnf = NULL;
	unsigned long long bytes = 0;
	double t0 = ms_now();
	int rc = -1;

	if (!tmp)
		return ms_oom(e);
	if (!mkdtemp(tmp)) {
		rc = ms_fail(e, MS_IO, "cannot make a private directory under %s: %s", base, strerror(errno));
		free(tmp);
		return rc;
	}
	if (!(cnf = ms_asprintf("%s/client.cnf", tmp)))
		ms_oom(e);
	else if (write_cnf(cnf, db, conn, no_binlog, e) == 0) {
		rc = 0;
		for (size_t i = 0; rc == 0 && i < n_dbs; i++) {
			ms_note(note, ctx, "rolling %s forward: %s", dbs[i].to, p->stop_at);
			for (size_t k = 0; rc == 0 && k < p->n_segs; k++)
				rc = replay_one(&p->segs[k], tmp, &dbs[i], &bytes, e);
		}
	}
	if (cnf)
		unlink(cnf);
	rmdir(tmp);
	free(cnf);
	free(tmp);
	if (rc == 0)
		ms_note(note, ctx,
			"replayed %llu transactions (%llu bytes of binlog events, %llu bytes of SQL) in %.2f s",
			p->transactions, p->bytes, bytes, ms_now() - t0);
	return rc;
}
