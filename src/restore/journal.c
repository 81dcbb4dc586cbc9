/* The restore journal: JSON Lines appended under flock, each entry fdatasync'ed,
 * read back at --resume into a hash set of the work already finished. */
#include "restore/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/beneath.h"
#include "util/file.h"

/* open+flock races with a run that removes the journal (a restore finishing)
 * are retried this often. */
#define OPEN_ATTEMPTS 5
#define SET_MIN_SLOTS 64
#define RESUME_AGAIN "run the restore again with --resume"

/* One entry, stored as kind, NUL, key, NUL; len excludes the final NUL. */
struct slot {
	uint64_t hash;
	char *item; /* NULL: free */
	size_t len;
};

/* Open addressing with linear probing, at most half full; never shrinks. */
struct entry_set {
	struct slot *slots;
	size_t n_slots; /* 0 or a power of two */
	size_t count;
};

struct journal {
	char *path;
	char *dir; /* where path lives: fsynced after creating and removing it */
	int fd;    /* O_APPEND; holds the flock */

	pthread_mutex_t write_mu; /* one append at a time; guards the fields below */
	off_t end;                /* file length up to its last complete line */
	bool broken;              /* the file may end in a partial line: append no more */
	bool finished;

	/* Guards set. Never held across I/O, so journal_has() does not wait
	 * for a record's fdatasync. Taken after write_mu when both are held. */
	pthread_mutex_t set_mu;
	struct entry_set set;
};

/* ---- the entry set ------------------------------------------------------- */

/* FNV-1a over kind, NUL, key, then a final mix: linear probing indexes by
 * the low bits, which plain FNV spreads poorly. */
static uint64_t entry_hash(const char *kind, size_t klen, const char *key, size_t vlen)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < klen; i++)
		h = (h ^ (unsigned char)kind[i]) * 0x100000001b3ULL;
	h *= 0x100000001b3ULL; /* the NUL separator */
	for (size_t i = 0; i < vlen; i++)
		h = (h ^ (unsigned char)key[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

/* Index of the slot holding (kind, key), or of the free slot where it would go.
 * The set must have slots. */
static size_t set_probe(const struct entry_set *s, uint64_t h, const char *kind, size_t klen,
			const char *key, size_t vlen)
{
	size_t mask = s->n_slots - 1;

	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		const struct slot *sl = &s->slots[i];

		if (!sl->item)
			return i;
		if (sl->hash == h && sl->len == klen + 1 + vlen && !memcmp(sl->item, kind, klen + 1) &&
		    !memcmp(sl->item + klen + 1, key, vlen))
			return i;
	}
}

static bool set_contains(const struct entry_set *s, uint64_t h, const char *kind, size_t klen,
			 const char *key, size_t vlen)
{
	return s->n_slots && s->slots[set_probe(s, h, kind, klen, key, vlen)].item;
}

/* Makes room for one more entry, so the insert that follows cannot fail. */
static int set_reserve(struct entry_set *s)
{
	size_t n, mask;
	struct slot *slots;

	if ((s->count + 1) * 2 <= s->n_slots)
		return 0;
	n = s->n_slots ? s->n_slots * 2 : SET_MIN_SLOTS;
	mask = n - 1;
	slots = calloc(n, sizeof(*slots));
	if (!slots)
		return -1;
	for (size_t i = 0; i < s->n_slots; i++) {
		size_t k;

		if (!s->slots[i].item)
			continue;
		for (k = (size_t)s->slots[i].hash & mask; slots[k].item; k = (k + 1) & mask)
			;
		slots[k] = s->slots[i];
	}
	free(s->slots);
	s->slots = slots;
	s->n_slots = n;
	return 0;
}

/* kind, NUL, key, NUL in one allocation: the form the set stores. */
static char *item_new(const char *kind, size_t klen, const char *key, size_t vlen)
{
	char *item = malloc(klen + vlen + 2);

	if (item) {
		memcpy(item, kind, klen + 1);
		memcpy(item + klen + 1, key, vlen + 1);
	}
	return item;
}

/* Adds an item from item_new() after set_reserve(), so it cannot fail. Takes
 * ownership; a duplicate is freed. */
static void set_put(struct entry_set *s, uint64_t h, char *item, size_t klen, size_t vlen)
{
	size_t i = set_probe(s, h, item, klen, item + klen + 1, vlen);

	if (s->slots[i].item) {
		free(item);
		return;
	}
	s->slots[i] = (struct slot){ .hash = h, .item = item, .len = klen + 1 + vlen };
	s->count++;
}

static void set_release(struct entry_set *s)
{
	for (size_t i = 0; i < s->n_slots; i++)
		free(s->slots[i].item);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

/* ---- files -------------------------------------------------------------- */

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fsync(fd) != 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return close(fd);
}

/* "a/b/j" -> "a/b", "j" -> ".", "/j" -> "/". */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash)
		return strdup(".");
	n = (size_t)(slash - path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	return n ? strndup(path, n) : strdup("/");
}

/* An OS error on the journal: what failed, why, and what to do next (then). */
static int fail_os(struct ms_err *e, int err, const char *verb, const char *path, const char *then)
{
	if (err == ENOMEM)
		return ms_fail(e, MS_INTERNAL, "cannot %s the restore journal %s: out of memory", verb, path);
	if (err == EACCES || err == EPERM || err == EROFS)
		return ms_fail(e, MS_USAGE,
			       "cannot %s the restore journal %s: %s; fix the permissions or choose another journal path, then %s",
			       verb, path, strerror(err), then);
	if (err == ENOSPC || err == EDQUOT)
		return ms_fail(e, MS_IO,
			       "cannot %s the restore journal %s: %s; free space on its filesystem, then %s",
			       verb, path, strerror(err), then);
	if (err == EIO)
		return ms_fail(e, MS_IO, "cannot %s the restore journal %s: %s; check the disk (dmesg), then %s",
			       verb, path, strerror(err), then);
	return ms_fail(e, MS_IO, "cannot %s the restore journal %s: %s; once that is fixed, %s", verb,
		       path, strerror(err), then);
}

/* ---- lines -------------------------------------------------------------- */

/* Dumps o compactly (no raw newline: jansson escapes control characters)
 * with a '\n' appended. NULL when o cannot be encoded or memory ran out. */
static char *json_line(const json_t *o, size_t *len)
{
	char *s = json_dumps(o, JSON_COMPACT), *line;
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s);
	line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	*len = n + 1;
	return line;
}

/* The header line: "journal" and "version" first, then the caller's keys. */
static char *header_line(json_t *header, size_t *len)
{
	json_t *o = json_object(), *v;
	const char *k;
	char *line = NULL;
	int rc;

	if (!o)
		return NULL;
	rc = json_object_set_new(o, "journal", json_string(JOURNAL_MAGIC)) |
	     json_object_set_new(o, "version", json_integer(JOURNAL_VERSION));
	json_object_foreach(header, k, v) {
		if (strcmp(k, "journal") && strcmp(k, "version"))
			rc |= json_object_set(o, k, v);
	}
	if (rc == 0)
		line = json_line(o, len);
	json_decref(o);
	return line;
}

static char *entry_line(const char *kind, const char *key, size_t *len)
{
	json_t *o = json_object();
	char *line = NULL;

	if (!o)
		return NULL;
	/* json_string() refuses invalid UTF-8, which JSON cannot carry. */
	if (json_object_set_new(o, "k", json_string(kind)) == 0 &&
	    json_object_set_new(o, "v", json_string(key)) == 0)
		line = json_line(o, len);
	json_decref(o);
	return line;
}

/* ---- opening ------------------------------------------------------------ */

static int journal_alloc(const char *path, struct journal **out, struct ms_err *e)
{
	struct journal *j;

	*out = NULL;
	if (!path || !*path)
		return ms_fail(e, MS_USAGE, "the restore journal path is empty");
	j = calloc(1, sizeof(*j));
	if (!j)
		return ms_oom(e);
	j->fd = -1;
	if (pthread_mutex_init(&j->write_mu, NULL) != 0) {
		free(j);
		return ms_fail(e, MS_INTERNAL, "cannot create a mutex");
	}
	if (pthread_mutex_init(&j->set_mu, NULL) != 0) {
		pthread_mutex_destroy(&j->write_mu);
		free(j);
		return ms_fail(e, MS_INTERNAL, "cannot create a mutex");
	}
	*out = j;
	j->path = strdup(path);
	j->dir = dir_of(path);
	if (!j->path || !j->dir)
		return ms_oom(e);
	return 0;
}

static int busy(struct ms_err *e, const char *path)
{
	return ms_fail(e, MS_BUSY,
		       "another restore is using the journal %s (it is locked); wait for it to end or stop it",
		       path);
}

static int create_refused(struct ms_err *e, int err, const char *path, const char *dir)
{
	struct stat sb;

	if (err == EEXIST) {
		if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
			return ms_fail(e, MS_USAGE,
				       "%s exists and is not a restore journal; choose another journal path", path);
		return ms_fail(e, MS_USAGE,
			       "a previous restore was interrupted: its journal %s exists; rerun with --resume to continue it, or delete the journal to start over",
			       path);
	}
	if (err == ENOENT || err == ENOTDIR)
		return ms_fail(e, MS_USAGE,
			       "cannot create the restore journal %s: the directory %s does not exist; create it or choose another journal path",
			       path, dir);
	return fail_os(e, err, "create", path, "start the restore again");
}

int journal_create(const char *path, json_t *header, struct journal **out, struct ms_err *e)
{
	struct journal *j;
	char *line;
	size_t len;
	int fd;

	*out = NULL;
	if (!json_is_object(header))
		return ms_fail(e, MS_INTERNAL, "the restore journal header is not a JSON object");
	/* Encoded before the file exists, so this failure leaves nothing behind. */
	line = header_line(header, &len);
	if (!line)
		return ms_fail(e, MS_INTERNAL, "cannot encode the restore journal header (invalid UTF-8 or out of memory)");
	if (journal_alloc(path, &j, e) != 0)
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		create_refused(e, errno, path, j->dir);
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;

		close(fd);
		/* A --resume run took the file we just made; it is theirs now. */
		if (err == EWOULDBLOCK) {
			busy(e, path);
			goto out;
		}
		unlink(path);
		fail_os(e, err, "lock", path, "start the restore again");
		goto out;
	}
	j->fd = fd;
	if (ms_write_all(fd, line, len) != 0 || fsync(fd) != 0 || fsync_dir(j->dir) != 0) {
		int err = errno;

		/* Still locked by us: nobody else can be using it. Without its
		 * header it would only stop the next run. */
		unlink(path);
		fail_os(e, err, "write", path, "start the restore again");
		goto out;
	}
	j->end = (off_t)len;
	free(line);
	*out = j;
	return 0;

out:
	free(line);
	journal_close(j);
	return -1;
}

/* Opens and locks the journal, making sure the lock is on the file path names. */
static int resume_lock(struct journal *j, struct ms_err *e)
{
	for (int i = 0; i < OPEN_ATTEMPTS; i++) {
		int fd = open(j->path, O_RDWR | O_APPEND | O_CLOEXEC);
		struct stat sb;

		if (fd < 0) {
			int err = errno;

			if (err == ENOENT)
				return ms_fail(e, MS_USAGE,
					       "there is nothing to resume: no restore journal at %s; run the restore without --resume",
					       j->path);
			if (err == EISDIR || err == ENOTDIR)
				return ms_fail(e, MS_USAGE, "%s is not a restore journal; check the journal path", j->path);
			return fail_os(e, err, "open", j->path, RESUME_AGAIN);
		}
		if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
			close(fd);
			return ms_fail(e, MS_USAGE, "%s is not a restore journal (not a regular file); check the journal path",
				       j->path);
		}
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			int err = errno;

			close(fd);
			if (err == EWOULDBLOCK)
				return busy(e, j->path);
			return fail_os(e, err, "lock", j->path, RESUME_AGAIN);
		}
		if (ms_same_inode(fd, j->path, true)) {
			j->fd = fd;
			return 0;
		}
		/* Removed (by a restore that just finished) or replaced: look again. */
		close(fd);
	}
	return ms_fail(e, MS_BUSY, "the restore journal %s keeps being replaced; is another restore starting with it?",
		       j->path);
}

static int damaged(struct ms_err *e, const char *path, unsigned long lineno, const char *why)
{
	return ms_fail(e, MS_INCOMPLETE,
		       "the restore journal %s is damaged at line %lu (%s); it cannot tell what the interrupted restore finished: drop what it restored and start over without --resume",
		       path, lineno, why);
}

/* Line 1: ours, and a version this code reads. */
static int header_check(const struct journal *j, json_t *h, struct ms_err *e)
{
	const char *magic = json_string_value(json_object_get(h, "journal"));
	json_t *version = json_object_get(h, "version");

	if (!magic || strcmp(magic, JOURNAL_MAGIC) || !json_is_integer(version) ||
	    json_integer_value(version) < 1)
		return ms_fail(e, MS_USAGE,
			       "%s is not an mdlsafe restore journal (its first line lacks \"journal\": \"%s\" and a version); check the journal path",
			       j->path, JOURNAL_MAGIC);
	if (json_integer_value(version) > JOURNAL_VERSION)
		return ms_fail(e, MS_USAGE,
			       "the restore journal %s has version %lld, newer than this mdlsafe reads (%d); resume with the mdlsafe that started the restore",
			       j->path, (long long)json_integer_value(version), JOURNAL_VERSION);
	return 0;
}

static int entry_load(struct journal *j, json_t *o, unsigned long lineno, struct ms_err *e)
{
	const char *kind = json_string_value(json_object_get(o, "k"));
	const char *key = json_string_value(json_object_get(o, "v"));

	if (!kind || !*kind || !key)
		return damaged(e, j->path, lineno, "not an entry with string \"k\" and \"v\"");
	size_t klen = strlen(kind), vlen = strlen(key);
	char *item = item_new(kind, klen, key, vlen);

	if (!item || set_reserve(&j->set) != 0) {
		free(item);
		return ms_fail(e, MS_INTERNAL, "out of memory reading the restore journal %s", j->path);
	}
	set_put(&j->set, entry_hash(kind, klen, key, vlen), item, klen, vlen);
	return 0;
}

/*
 * Parses data (the whole file): the header into *header, entries into the set.
 * A torn last line is dropped: *keep is the length of what precedes it.
 */
static int journal_parse(struct journal *j, const char *data, size_t len, json_t **header,
			 size_t *keep, struct ms_err *e)
{
	const char *p = data, *end = data + len;
	unsigned long lineno = 0;

	*header = NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		json_error_t jerr;
		json_t *o;
		int rc;

		lineno++;
		/* Without its newline a line was never acknowledged, even if
		 * everything else of it reached the disk. */
		if (!nl)
			break;
		o = json_loadb(p, (size_t)(nl - p), 0, &jerr);
		if (!o) {
			if (nl + 1 == end)
				break;
			return damaged(e, j->path, lineno, jerr.text);
		}
		if (lineno == 1) {
			rc = json_is_object(o) ? header_check(j, o, e)
					       : ms_fail(e, MS_USAGE,
							 "%s is not an mdlsafe restore journal (its first line is not a JSON object); check the journal path",
							 j->path);
			if (rc == 0)
				*header = json_incref(o);
		} else {
			rc = entry_load(j, o, lineno, e);
		}
		json_decref(o);
		if (rc != 0)
			return -1;
		p = nl + 1;
	}
	if (!*header)
		/* create syncs the header before it returns, so no work was done. */
		return ms_fail(e, MS_INCOMPLETE,
			       "the restore journal %s has no complete header: the restore that made it was stopped before restoring anything; delete it and start the restore without --resume",
			       j->path);
	*keep = (size_t)(p - data);
	return 0;
}

int journal_open_resume(const char *path, struct journal **out, json_t **header_out,
			struct ms_err *e)
{
	struct journal *j;
	json_t *header = NULL;
	char *data = NULL;
	size_t len = 0, keep = 0;

	*out = NULL;
	*header_out = NULL;
	if (journal_alloc(path, &j, e) != 0 || resume_lock(j, e) != 0)
		goto out;
	if (fd_read_all(j->fd, &data, &len) != 0) {
		fail_os(e, errno, "read", path, RESUME_AGAIN);
		goto out;
	}
	if (journal_parse(j, data, len, &header, &keep, e) != 0)
		goto out;
	if (keep < len) {
		/* Later appends must start on a line of their own. */
		if (ftruncate(j->fd, (off_t)keep) != 0 || fsync(j->fd) != 0) {
			fail_os(e, errno, "truncate the torn last line of", path, RESUME_AGAIN);
			goto out;
		}
	}
	j->end = (off_t)keep;
	free(data);
	*out = j;
	*header_out = header;
	return 0;

out:
	free(data);
	json_decref(header);
	journal_close(j);
	return -1;
}

/* ---- recording ---------------------------------------------------------- */

/* Appends one complete line; caller holds write_mu. */
static int journal_append(struct journal *j, const char *line, size_t len, struct ms_err *e)
{
	if (ms_write_all(j->fd, line, len) != 0) {
		int err = errno;

		/* Take back a partial line, or the next one would be glued to it. */
		if (ftruncate(j->fd, j->end) != 0)
			j->broken = true;
		return fail_os(e, err, "write", j->path, RESUME_AGAIN);
	}
	if (fdatasync(j->fd) != 0) {
		int err = errno;

		/* After a failed sync the kernel may have dropped the pages it
		 * could not write: what the file holds is unknown. */
		j->broken = true;
		return fail_os(e, err, "sync", j->path, RESUME_AGAIN);
	}
	j->end += (off_t)len;
	return 0;
}

static const char *const KIND_NAMES[JOURNAL_KIND_COUNT] = {
	[JOURNAL_TABLE_CREATED] = "table_created",
	[JOURNAL_CHUNK_DONE] = "chunk_done",
	[JOURNAL_KEYS_ADDED] = "keys_added",
	[JOURNAL_OBJECT_DONE] = "object_done",
	[JOURNAL_SWAPPED] = "swapped",
};

const char *journal_kind_name(enum journal_kind kind)
{
	return (unsigned)kind < JOURNAL_KIND_COUNT ? KIND_NAMES[kind] : NULL;
}

int journal_record(struct journal *j, enum journal_kind which, const char *key, struct ms_err *e)
{
	const char *kind = journal_kind_name(which);
	size_t klen, vlen, len;
	char *line, *item;
	bool known;
	uint64_t h;
	int rc = 0;

	if (!kind || !key)
		return ms_fail(e, MS_INTERNAL, "journal_record: kind %d is not a journal kind, or the key is NULL",
			       (int)which);
	line = entry_line(kind, key, &len);
	if (!line)
		return ms_fail(e, MS_INTERNAL,
			       "cannot record %s %s in the restore journal: not valid UTF-8, or out of memory",
			       kind, key);
	klen = strlen(kind);
	vlen = strlen(key);
	h = entry_hash(kind, klen, key, vlen);
	/* Allocated up front: once the line is durable, the entry must go in. */
	item = item_new(kind, klen, key, vlen);
	if (!item) {
		free(line);
		return ms_oom(e);
	}

	pthread_mutex_lock(&j->write_mu);
	if (j->finished) {
		rc = ms_fail(e, MS_INTERNAL, "journal_record after journal_finish on %s", j->path);
	} else if (j->broken) {
		rc = ms_fail(e, MS_IO,
			     "the restore journal %s failed earlier and may end in a partial line; " RESUME_AGAIN,
			     j->path);
	} else {
		pthread_mutex_lock(&j->set_mu);
		known = set_contains(&j->set, h, kind, klen, key, vlen);
		if (!known && set_reserve(&j->set) != 0)
			rc = ms_oom(e);
		pthread_mutex_unlock(&j->set_mu);
		/* A known entry is durable already: no second line, no sync. */
		if (!known && rc == 0 && (rc = journal_append(j, line, len, e)) == 0) {
			/* Only has() ran since the reserve, so the room is still there. */
			pthread_mutex_lock(&j->set_mu);
			set_put(&j->set, h, item, klen, vlen);
			item = NULL;
			pthread_mutex_unlock(&j->set_mu);
		}
	}
	pthread_mutex_unlock(&j->write_mu);
	free(line);
	free(item);
	return rc;
}

bool journal_has(const struct journal *j, enum journal_kind which, const char *key)
{
	const char *kind = journal_kind_name(which);
	/* The mutex changes, the journal does not: j was never defined const. */
	pthread_mutex_t *mu = (pthread_mutex_t *)&j->set_mu;
	size_t klen, vlen;
	uint64_t h;
	bool found;

	if (!kind || !key)
		return false;
	klen = strlen(kind);
	vlen = strlen(key);
	h = entry_hash(kind, klen, key, vlen);
	pthread_mutex_lock(mu);
	found = set_contains(&j->set, h, kind, klen, key, vlen);
	pthread_mutex_unlock(mu);
	return found;
}

unsigned long journal_count(const struct journal *j)
{
	pthread_mutex_t *mu = (pthread_mutex_t *)&j->set_mu;
	unsigned long n;

	pthread_mutex_lock(mu);
	n = (unsigned long)j->set.count;
	pthread_mutex_unlock(mu);
	return n;
}

const char *journal_path(const struct journal *j)
{
	return j->path;
}

/* ---- the end ------------------------------------------------------------ */

int journal_finish(struct journal *j, bool remove, struct ms_err *e)
{
	int rc = 0;

	pthread_mutex_lock(&j->write_mu);
	j->finished = true;
	if (remove) {
		/* While we still hold the lock: a --resume starting now finds
		 * either our lock or no journal, never a finished one. */
		if (unlink(j->path) != 0 && errno != ENOENT)
			rc = ms_fail(e, MS_IO,
				     "the restore is complete, but its journal %s cannot be removed: %s; delete it by hand",
				     j->path, strerror(errno));
		else if (fsync_dir(j->dir) != 0)
			rc = ms_fail(e, MS_IO,
				     "the restore is complete, but removing its journal %s is not durable (fsync %s: %s); if the journal is back after a crash, delete it by hand",
				     j->path, j->dir, strerror(errno));
	}
	pthread_mutex_unlock(&j->write_mu);
	return rc;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd); /* releases the flock */
	set_release(&j->set);
	pthread_mutex_destroy(&j->set_mu);
	pthread_mutex_destroy(&j->write_mu);
	free(j->path);
	free(j->dir);
	free(j);
}
