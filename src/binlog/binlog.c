/* The binary log as files: event headers, scanning, and the archive's index
 * (see binlog.h). */
#include "binlog/binlog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/copy.h"
#include "util/buf.h"
#include "util/textfile.h"

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

void binlog_header_parse(const unsigned char *p, struct binlog_header *h)
{
	h->when = le32(p);
	h->type = p[4];
	h->server_id = le32(p + 5);
	h->len = le32(p + 9);
	h->log_pos = le32(p + 13);
	h->flags = (uint16_t)(p[17] | p[18] << 8);
}

void binlog_gtid_parse(const unsigned char *ev, const struct binlog_header *h, struct binlog_gtid *g)
{
	memset(g, 0, sizeof(*g));
	if (h->len < BINLOG_HEADER_LEN + 12)
		return;
	g->seq = le64(ev + BINLOG_HEADER_LEN);
	g->domain = le32(ev + BINLOG_HEADER_LEN + 8);
	g->server = h->server_id;
}

int binlog_gtid_from_string(const char *s, struct binlog_gtid *g)
{
	unsigned long d, sv;
	unsigned long long q;
	int n = 0;

	if (!s || sscanf(s, "%lu-%lu-%llu%n", &d, &sv, &q, &n) != 3 || s[n] || d > UINT32_MAX || sv > UINT32_MAX ||
	    !strchr("0123456789", s[0]))
		return -1;
	g->domain = (uint32_t)d;
	g->server = (uint32_t)sv;
	g->seq = q;
	return 0;
}

struct binlog_gtid *binlog_gtid_state_find(struct binlog_gtid_state *st, uint32_t domain)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->v[i].domain == domain)
			return &st->v[i];
	return NULL;
}

int binlog_gtid_state_set(struct binlog_gtid_state *st, const struct binlog_gtid *g)
{
	struct binlog_gtid *have = binlog_gtid_state_find(st, g->domain);

	if (!have && st->n == BINLOG_GTID_DOMAINS)
		return -1;
	*(have ? have : &st->v[st->n++]) = *g;
	return 0;
}

char *binlog_gtid_state_str(const struct binlog_gtid_state *st)
{
	struct buf b = BUF_INIT;
	char *s;

	buf_adds(&b, "");
	for (size_t i = 0; i < st->n; i++)
		buf_addf(&b, "%s%" PRIu32 "-%" PRIu32 "-%" PRIu64, i ? "," : "", st->v[i].domain, st->v[i].server,
			 st->v[i].seq);
	s = b.failed ? NULL : strdup(buf_str(&b));
	buf_release(&b);
	return s;
}

int binlog_gtid_state_parse(const char *s, struct binlog_gtid_state *st)
{
	char *copy = s ? strdup(s) : NULL, *save = NULL;
	int rc = copy ? 0 : -1;

	memset(st, 0, sizeof(*st));
	for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; rc == 0 && tok; tok = strtok_r(NULL, ",", &save)) {
		struct binlog_gtid g;
		rc = binlog_gtid_from_string(tok, &g) || binlog_gtid_state_set(st, &g) ? -1 : 0;
	}
	free(copy);
	return rc;
}

bool binlog_fde_has_checksum(const unsigned char *ev, const struct binlog_header *h)
{
	/* The checksum algorithm byte comes right before the 4 checksum bytes,
	 * which a format description carries even when checksums are off. */
	return h->len > BINLOG_HEADER_LEN + 57 + 5 && ev[h->len - 5] == 1;
}

char *binlog_rotate_target(const unsigned char *ev, const struct binlog_header *h, bool checksum)
{
	size_t body = BINLOG_HEADER_LEN + 8, tail = checksum ? 4 : 0;

	if (h->len <= body + tail)
		return NULL;
	return strndup((const char *)ev + body, h->len - body - tail);
}

void binlog_info_release(struct binlog_info *f)
{
	free(f->name);
	free(f->source);
	free(f->next);
	memset(f, 0, sizeof(*f));
}

/* Whether the QUERY event ev is a COMMIT, the end of a transaction of
 * non-XA engines. */
static bool query_is_commit(const unsigned char *ev, const struct binlog_header *h, bool checksum)
{
	size_t at = BINLOG_HEADER_LEN + 13, end = h->len - (checksum ? 4 : 0);

	if (end < at)
		return false;
	at += (size_t)(ev[BINLOG_HEADER_LEN + 11] | ev[BINLOG_HEADER_LEN + 12] << 8) + ev[BINLOG_HEADER_LEN + 8] + 1;
	return end >= at + 6 && !memcmp(ev + at, "COMMIT", 6);
}

int binlog_info_add(struct binlog_info *f, const unsigned char *ev, const struct binlog_header *h, struct ms_err *e)
{
	bool ends = false;

	f->size += h->len;
	if (h->when && h->type != BINLOG_FORMAT_DESCRIPTION) {
		if (!f->first_time)
			f->first_time = h->when;
		f->last_time = h->when;
	}
	switch (h->type) {
	case BINLOG_FORMAT_DESCRIPTION:
		f->checksum = binlog_fde_has_checksum(ev, h);
		break;
	case BINLOG_GTID:
		binlog_gtid_parse(ev, h, &f->last_gtid);
		if (!f->has_gtid)
			f->first_gtid = f->last_gtid;
		f->has_gtid = true;
		f->in_group = true;
		/* FL_STANDALONE: one statement, no COMMIT or XID after it. */
		f->standalone = h->len > BINLOG_HEADER_LEN + 12 && (ev[BINLOG_HEADER_LEN + 12] & 1);
		break;
	case BINLOG_XID:
		ends = f->in_group;
		break;
	case BINLOG_QUERY:
		ends = f->in_group && (f->standalone || query_is_commit(ev, h, f->checksum));
		break;
	case BINLOG_ROTATE:
		free(f->next);
		if (!(f->next = binlog_rotate_target(ev, h, f->checksum)))
			return ms_oom(e);
		break;
	case BINLOG_STOP:
		f->stopped = true;
		break;
	}
	if (ends) {
		f->in_group = false;
		f->done_gtid = f->last_gtid;
		f->has_done = true;
	}
	if (!f->in_group)
		f->group_end = f->size;
	return 0;
}

int binlog_scan_file(const char *path, unsigned long long *good_end, struct binlog_info *info, binlog_event_fn fn,
		     void *ctx, struct ms_err *e)
{
	unsigned char magic[BINLOG_MAGIC_LEN], head[BINLOG_HEADER_LEN];
	unsigned char *ev = NULL;
	size_t cap = 0;
	unsigned long long off = BINLOG_MAGIC_LEN;
	FILE *f = fopen(path, "rbe");
	int rc = 0;

	*good_end = 0;
	if (!f)
		return ms_fail(e, MS_IO, "cannot read %s: %s", path, strerror(errno));
	if (fread(magic, 1, sizeof(magic), f) != sizeof(magic) || memcmp(magic, BINLOG_MAGIC, sizeof(magic))) {
		fclose(f);
		return ms_fail(e, MS_INCOMPLETE, "%s is not a binary log file (no binlog magic at its start)", path);
	}
	if (info)
		info->size = BINLOG_MAGIC_LEN;
	for (;;) {
		struct binlog_header h;

		if (fread(head, 1, sizeof(head), f) != sizeof(head))
			break;
		binlog_header_parse(head, &h);
		if (h.len < BINLOG_HEADER_LEN || h.len > (1u << 30) || h.log_pos != off + h.len)
			break;
		if (h.len > cap) {
			unsigned char *grown = realloc(ev, h.len);
			if (!grown) {
				rc = ms_oom(e);
				break;
			}
			ev = grown;
			cap = h.len;
		}
		memcpy(ev, head, sizeof(head));
		if (fread(ev + sizeof(head), 1, h.len - sizeof(head), f) != h.len - sizeof(head))
			break;
		if ((info && binlog_info_add(info, ev, &h, e)) || (fn && fn(ctx, ev, &h, off, e))) {
			rc = -1;
			break;
		}
		off += h.len;
	}
	if (rc == 0 && ferror(f))
		rc = ms_fail(e, MS_IO, "cannot read %s: %s", path, strerror(errno));
	fclose(f);
	free(ev);
	*good_end = off;
	return rc;
}

/* ---- the index ---------------------------------------------------------- */

void binlog_format_time(uint32_t t, char out[21])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int binlog_parse_time(const char *s, uint32_t *t)
{
	struct tm tm;
	const char *end;
	time_t v;

	memset(&tm, 0, sizeof(tm));
	if (!s || !(end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) || *end)
		return -1;
	v = timegm(&tm);
	if (v < 0 || v > (time_t)UINT32_MAX)
		return -1;
	*t = (uint32_t)v;
	return 0;
}

static json_t *gtid_json(const struct binlog_info *f, const struct binlog_gtid *g)
{
	char s[64];

	if (!f->has_gtid)
		return json_null();
	snprintf(s, sizeof(s), "%" PRIu32 "-%" PRIu32 "-%" PRIu64, g->domain, g->server, g->seq);
	return json_string(s);
}

static json_t *time_json(uint32_t t)
{
	char s[21];

	if (!t)
		return json_null();
	binlog_format_time(t, s);
	return json_string(s);
}

json_t *binlog_info_json(const struct binlog_info *f)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:b}", "name", f->name, "source_name",
			 f->source ? f->source : f->name, "server_id", (json_int_t)f->server_id, "from",
			 (json_int_t)(f->from ? f->from : BINLOG_MAGIC_LEN), "size", (json_int_t)f->size, "xxh3",
			 f->complete ? json_string(f->xxh3) : json_null(), "first_gtid", gtid_json(f, &f->first_gtid),
			 "last_gtid", gtid_json(f, &f->last_gtid), "first_event_time", time_json(f->first_time),
			 "last_event_time", time_json(f->last_time), "next",
			 f->next ? json_string(f->next) : json_null(), "complete", f->complete);
}

int binlog_info_from_json(json_t *j, struct binlog_info *f, struct ms_err *e)
{
	const char *name = json_string_value(json_object_get(j, "name"));
	const char *next = json_string_value(json_object_get(j, "next"));
	const char *xxh = json_string_value(json_object_get(j, "xxh3"));
	const char *source = json_string_value(json_object_get(j, "source_name"));
	json_t *size = json_object_get(j, "size"), *v, *from = json_object_get(j, "from");

	memset(f, 0, sizeof(*f));
	if (!name || !json_is_integer(size) || json_integer_value(size) < BINLOG_MAGIC_LEN || strchr(name, '/') ||
	    name[0] == '.')
		return ms_fail(e, MS_INCOMPLETE,
			       "the archive index has a malformed file entry; it was not written by "
			       "mdlsafe binlog, or is damaged");
	f->name = strdup(name);
	f->source = strdup(source ? source : name);
	f->next = next ? strdup(next) : NULL;
	if (!f->name || !f->source || (next && !f->next))
		return ms_oom(e);
	f->server_id = (uint32_t)json_integer_value(json_object_get(j, "server_id"));
	f->from = json_is_integer(from) && json_integer_value(from) > BINLOG_MAGIC_LEN
			  ? (unsigned long long)json_integer_value(from)
			  : BINLOG_MAGIC_LEN;
	f->size = (unsigned long long)json_integer_value(size);
	snprintf(f->xxh3, sizeof(f->xxh3), "%s", xxh ? xxh : "");
	f->complete = json_is_true(json_object_get(j, "complete"));
	if ((v = json_object_get(j, "first_gtid")) && json_is_string(v) &&
	    binlog_gtid_from_string(json_string_value(v), &f->first_gtid) == 0 &&
	    binlog_gtid_from_string(json_string_value(json_object_get(j, "last_gtid")), &f->last_gtid) == 0)
		f->has_gtid = true;
	binlog_parse_time(json_string_value(json_object_get(j, "first_event_time")), &f->first_time);
	binlog_parse_time(json_string_value(json_object_get(j, "last_event_time")), &f->last_time);
	return 0;
}

char *binlog_archive_name(uint32_t server_id, const char *source)
{
	return ms_asprintf("s%" PRIu32 "-%s", server_id, source);
}

void binlog_entries_release(struct binlog_entries *en)
{
	for (size_t i = 0; i < en->n; i++)
		binlog_info_release(&en->v[i]);
	free(en->v);
	memset(en, 0, sizeof(*en));
}

int binlog_entries_load(json_t *index, struct binlog_entries *en, struct ms_err *e)
{
	json_t *files = json_object_get(index, "files"), *partial = json_object_get(index, "partial");
	size_t n = json_array_size(files) + (json_is_object(partial) ? 1 : 0);
	/* Format 1 knew one server: its id is the index's. */
	uint32_t sid = (uint32_t)json_integer_value(json_object_get(index, "server_id"));

	en->n = 0;
	if (!(en->v = calloc(n ? n : 1, sizeof(*en->v))))
		return ms_oom(e);
	for (size_t i = 0; i < n; i++) {
		json_t *j = i < json_array_size(files) ? json_array_get(files, i) : partial;
		if (binlog_info_from_json(j, &en->v[i], e))
			return -1;
		en->n++;
		en->v[i].complete = j != partial;
		if (!en->v[i].server_id)
			en->v[i].server_id = sid;
	}
	return 0;
}

ssize_t binlog_entries_find_source(const struct binlog_entries *en, const char *source, unsigned long long pos)
{
	for (size_t i = 0; source && i < en->n; i++)
		if (!strcmp(en->v[i].source, source) && (!en->v[i].complete || pos <= en->v[i].size))
			return (ssize_t)i;
	return -1;
}

bool binlog_info_continues_by_gtid(const struct binlog_info *prev, const struct binlog_info *f)
{
	return prev->server_id != f->server_id || f->from > BINLOG_MAGIC_LEN;
}

bool binlog_info_follows(const struct binlog_info *prev, const struct binlog_info *f)
{
	return binlog_info_continues_by_gtid(prev, f) || (prev->next && !strcmp(prev->next, f->source));
}

int binlog_index_load(const char *dir, json_t **out, struct ms_err *e)
{
	char *path = ms_asprintf("%s/%s", dir, BINLOG_INDEX);
	json_error_t jerr;

	*out = NULL;
	if (!path)
		return ms_oom(e);
	*out = json_load_file(path, 0, &jerr);
	if (!*out && access(path, F_OK) == 0) {
		ms_fail(e, MS_INCOMPLETE, "%s is not valid JSON (%s, line %d): the archive index is damaged", path,
			jerr.text, jerr.line);
		free(path);
		return -1;
	}
	free(path);
	if (*out && !json_is_array(json_object_get(*out, "files"))) {
		json_decref(*out);
		*out = NULL;
		return ms_fail(e, MS_INCOMPLETE,
			       "%s/%s has no list of files: it is not an mdlsafe binlog archive index", dir,
			       BINLOG_INDEX);
	}
	return 0;
}

int binlog_index_save(const char *dir, json_t *index, struct ms_err *e)
{
	char *path = ms_asprintf("%s/%s", dir, BINLOG_INDEX);
	char *text = json_dumps(index, JSON_INDENT(1) | JSON_SORT_KEYS);
	int rc;

	if (!path || !text)
		rc = ms_oom(e);
	else
		rc = ms_replace_file(path, text, strlen(text), 0644, true, e);
	free(path);
	free(text);
	return rc;
}

/* ---- checking an archive ------------------------------------------------ */

void binlog_verify_result_release(struct binlog_verify_result *r)
{
	free(r->first_bad_file);
	memset(r, 0, sizeof(*r));
}

bool binlog_is_archive(const char *dir)
{
	char *a = ms_asprintf("%s/%s", dir, BINLOG_INDEX), *b = ms_asprintf("%s/manifest.json", dir);
	bool yes = a && b && access(a, F_OK) == 0 && access(b, F_OK) != 0;

	free(a);
	free(b);
	return yes;
}

/* The last sequence number seen per GTID domain, across the whole archive. */
struct domains {
	struct binlog_gtid_state st;
	const char *file;
	unsigned long long from; /* of the file: events before it were archived from the server before */
	unsigned long long transactions;
};

static int check_gtid(void *ctx, const unsigned char *ev, const struct binlog_header *h, unsigned long long off,
		      struct ms_err *e)
{
	struct domains *d = ctx;
	struct binlog_gtid g, *last;

	if (h->type != BINLOG_GTID || off < d->from)
		return 0;
	binlog_gtid_parse(ev, h, &g);
	d->transactions++;
	if (!(last = binlog_gtid_state_find(&d->st, g.domain)))
		return binlog_gtid_state_set(&d->st, &g) == 0
			       ? 0
			       : ms_fail(e, MS_INCOMPLETE, "%s: more than %d GTID domains; not checked", d->file,
					 BINLOG_GTID_DOMAINS);
	if (g.seq != last->seq + 1) {
		unsigned long long from = (unsigned long long)last->seq;
		ms_fail(e, MS_INCOMPLETE,
			"%s at %llu: GTID domain %" PRIu32 " goes from %" PRIu32 "-%" PRIu32 "-%llu to %" PRIu32
			"-%" PRIu32 "-%llu: %s",
			d->file, off, g.domain, g.domain, last->server, from, g.domain, g.server,
			(unsigned long long)g.seq,
			g.seq > last->seq ? "the transactions between are missing from the archive"
					  : "the sequence goes back (gtid_seq_no set by hand, or another server)");
		return -1;
	}
	*last = g;
	return 0;
}

/* switched: the next file is another server's, so f may end without a
 * ROTATE (the archiver moved on to the new primary). */
static int verify_one(const char *dir, const struct binlog_info *f, bool switched, struct domains *d,
		      struct binlog_verify_result *r, struct ms_err *e)
{
	char *path = ms_asprintf("%s/%s%s", dir, f->name, f->complete ? "" : BINLOG_PARTIAL_SUFFIX);
	struct binlog_info seen;
	unsigned long long end = 0, bytes = 0;
	char xxh3[17];
	int fd, rc;

	memset(&seen, 0, sizeof(seen));
	if (!path)
		return ms_oom(e);
	d->file = path;
	d->from = f->from;
	rc = binlog_scan_file(path, &end, &seen, check_gtid, d, e);
	if (rc == 0 && f->complete) {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			rc = ms_fail(e, MS_INCOMPLETE, "%s: %s", path, strerror(errno));
		else {
			rc = copy_hash_fd(fd, xxh3, &bytes, path, e);
			close(fd);
		}
		if (rc == 0 && bytes != f->size)
			rc = ms_fail(e, MS_INCOMPLETE, "%s has %llu bytes, the index says %llu", path, bytes, f->size);
		else if (rc == 0 && strcmp(xxh3, f->xxh3))
			rc = ms_fail(e, MS_INCOMPLETE, "%s: XXH3 %s, the index says %s: the file is damaged", path,
				     xxh3, f->xxh3);
		else if (rc == 0 && end != bytes)
			rc = ms_fail(e, MS_INCOMPLETE, "%s: %llu bytes after its last whole event at %llu", path,
				     bytes - end, end);
		/* A server that stopped ends its file with STOP; the next file's
		 * name came from the server when it was back. */
		else if (rc == 0 && !switched &&
			 (!f->next || (seen.next ? strcmp(seen.next, f->next) != 0 : !seen.stopped)))
			rc = ms_fail(e, MS_INCOMPLETE, "%s does not end with a ROTATE to %s (nor a STOP), as the index says",
				     path, f->next ? f->next : "a next file");
	}
	if (rc == 0) {
		r->bytes += end;
		r->files += f->complete;
	} else if (e->status == MS_IO) {
		e->status = MS_INCOMPLETE;
	}
	if (rc && !r->first_bad_file)
		r->first_bad_file = ms_asprintf("%s%s", f->name, f->complete ? "" : BINLOG_PARTIAL_SUFFIX);
	binlog_info_release(&seen);
	free(path);
	return rc;
}

int binlog_verify_archive(const char *dir, struct binlog_verify_result *r, struct ms_err *e)
{
	json_t *index = NULL;
	struct binlog_entries en = { NULL, 0 };
	struct domains d;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	memset(&d, 0, sizeof(d));
	if (binlog_index_load(dir, &index, e))
		return -1;
	if (!index)
		return ms_fail(e, MS_INCOMPLETE, "%s has no %s: it is not a binlog archive", dir, BINLOG_INDEX);
	rc = binlog_entries_load(index, &en, e);
	for (size_t i = 0; rc == 0 && i < en.n; i++) {
		const struct binlog_info *prev = i ? &en.v[i - 1] : NULL, *f = &en.v[i];
		bool switched = i + 1 < en.n && binlog_info_continues_by_gtid(f, &en.v[i + 1]);

		if (prev && !binlog_info_follows(prev, f)) {
			char *missing = prev->next ? binlog_archive_name(prev->server_id, prev->next) : NULL;
			rc = ms_fail(e, MS_INCOMPLETE,
				     "the archive has a gap: %s names %s as its next file (%s in the archive), and the "
				     "next one archived is %s",
				     prev->name, prev->next ? prev->next : "none", missing ? missing : "none", f->name);
			free(missing);
		}
		if (rc == 0)
			rc = verify_one(dir, f, switched, &d, r, e);
	}
	r->transactions = d.transactions;
	binlog_entries_release(&en);
	json_decref(index);
	return rc;
}
