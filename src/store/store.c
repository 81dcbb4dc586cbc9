/* The backup directory writer: DIR.partial/ held under flock, files streamed
 * through zstd and XXH3 with fixed buffers, and the fsyncs and rename that make DIR. */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>
/* For ZSTD_c_literalCompressionMode, an advanced parameter the shared
 * library accepts; the header and library come from one Debian package. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "store/rowscan.h"
#include "util/beneath.h"
#include "util/buf.h"
#include "util/file.h"

#define MANIFEST_NAME "manifest.json"
/* A backup tree is two levels deep; anything deeper in a stale .partial is
 * not ours to recurse into without limit. */
#define REMOVE_MAX_DEPTH 32
/* mkdir/flock races with another starting run are retried this often. */
#define OPEN_ATTEMPTS 5

struct store {
	char *final_path;   /* DIR, without trailing slashes */
	char *partial_path; /* DIR.partial */
	char *parent_path;  /* where DIR lives: named when the disk is full, fsynced at the end */
	int dir_fd;         /* DIR.partial (DIR once renamed); holds the flock */

	pthread_mutex_t mu; /* guards the fields below */
	char **dirs;        /* subdirectories we created, relative, to fsync at finalize */
	size_t n_dirs, alloc_dirs;
	size_t open_files;  /* finalize refuses while a file is half-written */
	bool finalized;
};

/* How much is written between two requests to start writeback. */
#define STORE_WRITEBACK_STEP ((unsigned long long)8 << 20)

struct store_file {
	struct store *st;
	char *path; /* relative to DIR */
	int fd;
	enum store_compress compress;
	ZSTD_CCtx *cctx;    /* NULL for STORE_COMPRESS_NONE */
	XXH3_state_t *xxh;
	unsigned char *obuf; /* output collected here so the disk sees large writes */
	size_t ocap, opos;
	unsigned long long bytes, stored, rows;
	unsigned long long writeback; /* bytes already handed to writeback */
	bool count_rows;
	struct rowscan scan; /* count_rows: where in the data file's layout */
	bool failed; /* sticky: the file is incomplete, only close/abort remain */
};

/* ---- small helpers ------------------------------------------------------ */

static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *str_printf(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (b.failed) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}

/* A full disk is the failure users meet most; tell them where space is needed. */
static int fail_errno(const struct store *st, struct ms_err *e, int err,
		      const char *what, const char *path, const char *sub)
{
	const char *sep = sub ? "/" : "";

	if (!sub)
		sub = "";
	if (err == ENOSPC || err == EDQUOT)
		return ms_fail(e, MS_IO, "cannot %s %s%s%s: %s: free space under %s or choose another -o",
			       what, path, sep, sub, strerror(err), st->parent_path);
	return ms_fail(e, MS_IO, "cannot %s %s%s%s: %s", what, path, sep, sub, strerror(err));
}

static int fsync_dir_at(int dfd, const char *rel)
{
	int fd = beneath_open(dfd, rel, O_RDONLY | O_DIRECTORY, 0);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	if (rc != 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return close(fd);
}

/* ---- paths -------------------------------------------------------------- */

static bool utf8_valid(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s, cp, min;
		int n;

		if (c < 0x80) {
			s++;
			continue;
		}
		if ((c & 0xE0) == 0xC0) {
			n = 1, cp = c & 0x1F, min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			n = 2, cp = c & 0x0F, min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			n = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		for (int i = 1; i <= n; i++) {
			if ((s[i] & 0xC0) != 0x80)
				return false; /* also stops at the terminating NUL */
			cp = cp << 6 | (s[i] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		s += n + 1;
	}
	return true;
}

const char *store_relpath_problem(const char *relpath)
{
	const char *p, *comp;

	if (!relpath || !*relpath)
		return "is empty";
	if (*relpath == '/')
		return "is absolute";
	if (strlen(relpath) > 4000)
		return "is too long";
	for (p = relpath; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "contains a control character";
	/* The manifest is JSON, which only carries UTF-8. */
	if (!utf8_valid((const unsigned char *)relpath))
		return "is not valid UTF-8";
	for (comp = relpath;; comp = p + 1) {
		size_t n;

		p = strchr(comp, '/');
		n = p ? (size_t)(p - comp) : strlen(comp);
		if (n == 0)
			return "has an empty component";
		if (n == 1 && comp[0] == '.')
			return "has a \".\" component";
		if (n == 2 && comp[0] == '.' && comp[1] == '.')
			return "has a \"..\" component";
		if (n > 255)
			return "has a component longer than 255 bytes";
		if (!p)
			return NULL;
	}
}

/* DIR -> DIR without trailing slashes, DIR.partial and DIR's parent. */
static int paths_split(struct store *st, const char *dir, struct ms_err *e)
{
	size_t len = dir ? strlen(dir) : 0;
	const char *base, *slash;

	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (len == 0)
		return ms_fail(e, MS_USAGE, "the backup directory name is empty");
	if (len == 1 && dir[0] == '/')
		return ms_fail(e, MS_USAGE, "cannot write a backup as /; name a new directory");
	st->final_path = strndup(dir, len);
	if (!st->final_path)
		return ms_oom(e);
	slash = strrchr(st->final_path, '/');
	base = slash ? slash + 1 : st->final_path;
	if (!strcmp(base, ".") || !strcmp(base, ".."))
		return ms_fail(e, MS_USAGE,
			       "%s is not a new directory name; name the directory the backup should become",
			       st->final_path);
	/* verify takes any *.partial for an unfinished backup. */
	if (len >= 8 && !strcmp(st->final_path + len - 8, ".partial"))
		return ms_fail(e, MS_USAGE,
			       "%s ends in .partial, which marks unfinished backups; choose another name",
			       st->final_path);
	if (!slash) {
		st->parent_path = strdup(".");
	} else {
		size_t plen = (size_t)(slash - st->final_path);
		while (plen > 1 && st->final_path[plen - 1] == '/')
			plen--;
		st->parent_path = plen ? strndup(st->final_path, plen) : strdup("/");
	}
	st->partial_path = str_printf("%s.partial", st->final_path);
	if (!st->parent_path || !st->partial_path)
		return ms_oom(e);
	return 0;
}

/* ---- opening: lock, and clear what a killed run left --------------------- */

enum partial_kind { PARTIAL_EMPTY, PARTIAL_OURS, PARTIAL_FOREIGN, PARTIAL_ERROR };

/* What is in a locked DIR.partial: nothing, our marker, or someone else's files. */
static enum partial_kind partial_classify(int dfd)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool marker = false, other = false;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return PARTIAL_ERROR;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return PARTIAL_ERROR;
	}
	errno = 0;
	while ((de = readdir(d))) {
		struct stat sb;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!strcmp(de->d_name, STORE_PARTIAL_MARKER) &&
		    fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode))
			marker = true;
		else
			other = true;
	}
	closedir(d);
	if (marker)
		return PARTIAL_OURS;
	return other ? PARTIAL_FOREIGN : PARTIAL_EMPTY;
}

static int remove_contents(int dfd, int depth);

/* Removes one entry of the directory open as dfd; directories recursively. */
static int remove_entry(int dfd, const char *name, int depth)
{
	struct stat sb;
	int sub, rc;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return -1;
	if (!S_ISDIR(sb.st_mode))
		return unlinkat(dfd, name, 0);
	sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return -1;
	rc = remove_contents(sub, depth + 1);
	close(sub);
	return rc ? rc : unlinkat(dfd, name, AT_REMOVEDIR);
}

/* Empties the directory open as dfd without following symlinks (a link in
 * a stale backup is removed, never what it points to). */
static int remove_contents(int dfd, int depth)
{
	bool removed_any;

	if (depth > REMOVE_MAX_DEPTH) {
		errno = ELOOP;
		return -1;
	}
	/* Repeat passes: removing entries while reading a directory may make
	 * readdir skip some. */
	do {
		int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct dirent *de;
		DIR *d;

		removed_any = false;
		if (fd < 0)
			return -1;
		d = fdopendir(fd);
		if (!d) {
			close(fd);
			return -1;
		}
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (remove_entry(dfd, de->d_name, depth) != 0) {
				int err = errno;
				closedir(d);
				errno = err;
				return -1;
			}
			removed_any = true;
		}
		closedir(d);
	} while (removed_any);
	return 0;
}

static int marker_write(struct store *st, struct ms_err *e)
{
	static const char text[] =
		"This directory is an unfinished mdlsafe backup. It is never a backup;\n"
		"the next mdlsafe run on the same target removes it.\n";
	int fd = openat(st->dir_fd, STORE_PARTIAL_MARKER,
			O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return fail_errno(st, e, errno, "create", st->partial_path, STORE_PARTIAL_MARKER);
	if (ms_write_all(fd, text, sizeof(text) - 1) != 0 || fsync(fd) != 0) {
		int err = errno;
		close(fd);
		return fail_errno(st, e, err, "write", st->partial_path, STORE_PARTIAL_MARKER);
	}
	if (close(fd) != 0)
		return fail_errno(st, e, errno, "write", st->partial_path, STORE_PARTIAL_MARKER);
	return 0;
}

static int final_absent(const struct store *st, struct ms_err *e)
{
	struct stat sb;

	if (lstat(st->final_path, &sb) == 0)
		return ms_fail(e, MS_USAGE, "%s already exists; choose a new directory or remove it",
			       st->final_path);
	if (errno != ENOENT)
		return ms_fail(e, MS_IO, "cannot check %s: %s", st->final_path, strerror(errno));
	return 0;
}

/*
 * Whoever can write DIR.partial can replace the manifest and the data files
 * of the finished backup, and a restore runs what they hold. So a
 * DIR.partial found in place (made by someone else in a shared parent such
 * as /tmp, or left open to others) is used only when it is the effective
 * user's alone.
 */
static int partial_private(const struct store *st, int fd, struct ms_err *e)
{
	struct stat sb;

	if (fstat(fd, &sb) != 0)
		return ms_fail(e, MS_IO, "cannot check %s: %s", st->partial_path, strerror(errno));
	if (sb.st_uid != geteuid())
		return ms_fail(e, MS_USAGE,
			       "%s exists and belongs to uid %u, not to this user (uid %u): its owner could change the backup; remove it or choose another directory",
			       st->partial_path, (unsigned)sb.st_uid, (unsigned)geteuid());
	if (sb.st_mode & (S_IWGRP | S_IWOTH))
		return ms_fail(e, MS_USAGE,
			       "%s exists and can be written by other users (mode %04o): they could change the backup; remove it or choose another directory",
			       st->partial_path, (unsigned)(sb.st_mode & 07777));
	return 0;
}

/*
 * One attempt at taking DIR.partial. Returns 0 with st->dir_fd set and locked,
 * 1 when the caller should try again (a race, or a stale directory removed),
 * -1 on error.
 */
static int partial_take(struct store *st, bool *removed, struct ms_err *e)
{
	int fd;

	if (final_absent(st, e))
		return -1;
	if (mkdir(st->partial_path, 0700) != 0 && errno != EEXIST) {
		if (errno == ENOENT)
			return ms_fail(e, MS_IO, "cannot create %s: the directory %s does not exist; create it first",
				       st->partial_path, st->parent_path);
		return fail_errno(st, e, errno, "create", st->partial_path, NULL);
	}
	fd = open(st->partial_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1; /* removed by a run that found it stale; retry */
		if (errno == ENOTDIR || errno == ELOOP)
			return ms_fail(e, MS_USAGE, "%s exists and is not a directory; remove it or choose another directory",
				       st->partial_path);
		return ms_fail(e, MS_IO, "cannot open %s: %s", st->partial_path, strerror(errno));
	}
	if (partial_private(st, fd, e) != 0) {
		close(fd);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;
		close(fd);
		if (err == EWOULDBLOCK)
			return ms_fail(e, MS_BUSY,
				       "another mdlsafe backup is writing %s (%s is locked)",
				       st->final_path, st->partial_path);
		return ms_fail(e, MS_IO, "cannot lock %s: %s", st->partial_path, strerror(err));
	}
	if (!ms_same_inode(fd, st->partial_path, false)) {
		close(fd);
		return 1;
	}
	switch (partial_classify(fd)) {
	case PARTIAL_EMPTY:
		/* Ours now: either just created, or empty and unlocked, which
		 * holds nothing anyone could lose. */
		st->dir_fd = fd;
		if (fchmod(fd, 0700) != 0)
			return ms_fail(e, MS_IO, "cannot chmod %s: %s", st->partial_path, strerror(errno));
		/* A run may have finalized DIR between our check and the lock. */
		if (final_absent(st, e) == 0 && marker_write(st, e) == 0)
			return 0;
		/* Still empty or only our marker, and locked by us: leave nothing. */
		unlinkat(fd, STORE_PARTIAL_MARKER, 0);
		rmdir(st->partial_path);
		return -1;
	case PARTIAL_OURS:
		/* Left by a killed run (we hold its lock, so nobody writes it). */
		if (remove_contents(fd, 0) != 0 || rmdir(st->partial_path) != 0) {
			int err = errno;
			close(fd);
			return ms_fail(e, MS_IO, "cannot remove %s, left by an interrupted run: %s; remove it by hand",
				       st->partial_path, strerror(err));
		}
		close(fd);
		*removed = true;
		return 1;
	case PARTIAL_FOREIGN:
		close(fd);
		return ms_fail(e, MS_USAGE,
			       "%s exists but was not made by mdlsafe (it has no %s marker); remove it or choose another directory",
			       st->partial_path, STORE_PARTIAL_MARKER);
	case PARTIAL_ERROR:
		break;
	}
	{
		int err = errno;
		close(fd);
		return ms_fail(e, MS_IO, "cannot read %s: %s", st->partial_path, strerror(err));
	}
}

int store_open(const char *dir, struct store **out, bool *removed_stale_partial,
	       struct ms_err *e)
{
	struct store *st = calloc(1, sizeof(*st));
	bool removed = false;
	int rc = 1;

	*out = NULL;
	if (removed_stale_partial)
		*removed_stale_partial = false;
	if (!st)
		return ms_oom(e);
	st->dir_fd = -1;
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		free(st);
		return ms_fail(e, MS_INTERNAL, "cannot create a mutex");
	}
	if (paths_split(st, dir, e) == 0) {
		for (int i = 0; i < OPEN_ATTEMPTS && rc == 1; i++)
			rc = partial_take(st, &removed, e);
		if (rc == 1)
			rc = ms_fail(e, MS_BUSY,
				     "another mdlsafe backup keeps taking %s; is one starting on the same directory?",
				     st->partial_path);
	} else {
		rc = -1;
	}
	if (removed_stale_partial)
		*removed_stale_partial = removed;
	if (rc != 0) {
		store_close(st);
		return -1;
	}
	*out = st;
	return 0;
}

const char *store_partial_path(const struct store *st)
{
	return st->partial_path;
}

const char *store_final_path(const struct store *st)
{
	return st->final_path;
}

/* ---- files ------------------------------------------------------------- */

static int dirs_remember(struct store *st, const char *rel)
{
	char *copy;

	if (st->n_dirs == st->alloc_dirs) {
		size_t n = st->alloc_dirs ? st->alloc_dirs * 2 : 16;
		char **d = realloc(st->dirs, n * sizeof(*d));
		if (!d)
			return -1;
		st->dirs = d;
		st->alloc_dirs = n;
	}
	copy = strdup(rel);
	if (!copy)
		return -1;
	st->dirs[st->n_dirs++] = copy;
	return 0;
}

static int dir_created(void *ctx, const char *reldir)
{
	return dirs_remember(ctx, reldir);
}

/*
 * Creates relpath inside DIR.partial exclusively (0600), with its missing
 * parent directories (0700, remembered for the fsyncs at finalize), and
 * returns its descriptor. Nothing is resolved through a symbolic link: a
 * directory swapped for one after it was made fails the write instead of
 * sending it elsewhere. Caller holds st->mu.
 */
static int create_beneath(struct store *st, const char *relpath, struct ms_err *e)
{
	const char *base;
	int pfd = beneath_open_parent(st->dir_fd, relpath, true, 0700, dir_created, st, &base), fd, err;

	if (pfd < 0) {
		err = errno;
		if (err == ENOMEM)
			return ms_oom(e);
		if (err == ENOTDIR)
			return ms_fail(e, MS_INTERNAL, "cannot create %s/%s: a file has the name of one of its directories",
				       st->partial_path, relpath);
		if (err == ELOOP || err == EXDEV)
			return ms_fail(e, MS_IO, "cannot create %s/%s: a directory on its path was replaced by a symbolic link; something else is writing into the backup directory",
				       st->partial_path, relpath);
		return fail_errno(st, e, err, "create directories for", st->partial_path, relpath);
	}
	fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	err = errno;
	close(pfd);
	if (fd >= 0)
		return fd;
	if (err == EEXIST)
		return ms_fail(e, MS_INTERNAL, "cannot create %s/%s: it was already written", st->partial_path,
			       relpath);
	return fail_errno(st, e, err, "create", st->partial_path, relpath);
}

/* Frees f and its resources; the file itself was closed or is closed here. */
static void file_free(struct store_file *f)
{
	struct store *st = f->st;

	if (f->fd >= 0)
		close(f->fd);
	ZSTD_freeCCtx(f->cctx);
	XXH3_freeState(f->xxh);
	free(f->obuf);
	free(f->path);
	free(f);
	pthread_mutex_lock(&st->mu);
	st->open_files--;
	pthread_mutex_unlock(&st->mu);
}

static int file_setup(struct store_file *f, int level, struct ms_err *e)
{
	size_t r;

	f->xxh = XXH3_createState();
	f->ocap = ZSTD_CStreamOutSize();
	f->obuf = malloc(f->ocap);
	if (!f->xxh || !f->obuf || XXH3_64bits_reset(f->xxh) != XXH_OK)
		return ms_oom(e);
	if (f->compress != STORE_COMPRESS_ZSTD)
		return 0;
	f->cctx = ZSTD_createCCtx();
	if (!f->cctx)
		return ms_oom(e);
	r = ZSTD_CCtx_setParameter(f->cctx, ZSTD_c_compressionLevel, level);
	/* See STORE_ZSTD_DEFAULT_LEVEL: fast levels keep their ratio on row
	 * data only with literal coding on. */
	if (!ZSTD_isError(r) && level < 0)
		r = ZSTD_CCtx_setParameter(f->cctx, ZSTD_c_literalCompressionMode, ZSTD_ps_enable);
	/* zstd's own frame checksum lets `zstd -t` or `zstdcat` alone notice
	 * damage, without the manifest. */
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(f->cctx, ZSTD_c_checksumFlag, 1);
	/* We parallelise by table; workers inside zstd would oversubscribe. */
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(f->cctx, ZSTD_c_nbWorkers, 0);
	if (ZSTD_isError(r))
		return ms_fail(e, MS_INTERNAL, "zstd: %s", ZSTD_getErrorName(r));
	return 0;
}

int store_file_create(struct store *st, const char *relpath, enum store_compress c,
		      int level, struct store_file **out, struct ms_err *e)
{
	const char *why = store_relpath_problem(relpath);
	struct store_file *f;
	int fd;

	*out = NULL;
	if (why)
		return ms_fail(e, MS_INTERNAL, "invalid backup file path \"%s\": it %s",
			       relpath ? relpath : "(null)", why);
	if (!strcmp(relpath, MANIFEST_NAME) || !strcmp(relpath, STORE_PARTIAL_MARKER))
		return ms_fail(e, MS_INTERNAL, "invalid backup file path \"%s\": the name is reserved",
			       relpath);
	if (c == STORE_COMPRESS_ZSTD) {
		if (level == 0)
			level = STORE_ZSTD_DEFAULT_LEVEL;
		if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
			return ms_fail(e, MS_USAGE, "zstd compression level %d is out of range (%d..%d)",
				       level, ZSTD_minCLevel(), ZSTD_maxCLevel());
	} else if (c != STORE_COMPRESS_NONE) {
		return ms_fail(e, MS_INTERNAL, "unknown compression %d", (int)c);
	}

	pthread_mutex_lock(&st->mu);
	if (st->finalized) {
		pthread_mutex_unlock(&st->mu);
		return ms_fail(e, MS_INTERNAL, "cannot add %s: the backup is already finalized", relpath);
	}
	fd = create_beneath(st, relpath, e);
	if (fd < 0) {
		pthread_mutex_unlock(&st->mu);
		return -1;
	}
	st->open_files++;
	pthread_mutex_unlock(&st->mu);

	f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		beneath_unlink(st->dir_fd, relpath, 0);
		pthread_mutex_lock(&st->mu);
		st->open_files--;
		pthread_mutex_unlock(&st->mu);
		return ms_oom(e);
	}
	f->st = st;
	f->fd = fd;
	f->compress = c;
	rowscan_init(&f->scan);
	f->path = strdup(relpath);
	if (!f->path) {
		beneath_unlink(st->dir_fd, relpath, 0);
		file_free(f);
		return ms_oom(e);
	}
	if (file_setup(f, level, e) != 0) {
		store_file_abort(f);
		return -1;
	}
	*out = f;
	return 0;
}

void store_file_count_rows(struct store_file *f)
{
	f->count_rows = true;
}

static int file_flush(struct store_file *f, struct ms_err *e)
{
	if (f->opos == 0)
		return 0;
	if (ms_write_all(f->fd, f->obuf, f->opos) != 0) {
		f->failed = true;
		return fail_errno(f->st, e, errno, "write", f->st->partial_path, f->path);
	}
	f->stored += f->opos;
	f->opos = 0;
#ifdef SYNC_FILE_RANGE_WRITE
	/* Start writing back what is on its way out, without waiting for it, so
	 * the fsync when the file is closed finds little left to do and the
	 * worker does not stall on one big flush per table. Advice only: the
	 * fsync at close is what makes the file durable. */
	if (f->stored - f->writeback >= STORE_WRITEBACK_STEP) {
		(void)sync_file_range(f->fd, (off_t)f->writeback, (off_t)(f->stored - f->writeback),
				      SYNC_FILE_RANGE_WRITE);
		f->writeback = f->stored;
	}
#endif
	return 0;
}

int store_file_write(struct store_file *f, const void *data, size_t len, struct ms_err *e)
{
	if (f->failed)
		return ms_fail(e, MS_IO, "cannot write %s/%s: an earlier write failed",
			       f->st->partial_path, f->path);
	if (len == 0)
		return 0;
	XXH3_64bits_update(f->xxh, data, len);
	if (f->count_rows)
		f->rows += rowscan_count(&f->scan, data, len);
	f->bytes += len;

	if (f->compress == STORE_COMPRESS_NONE) {
		const char *p = data;
		while (len) {
			size_t n = f->ocap - f->opos;
			if (n > len)
				n = len;
			memcpy(f->obuf + f->opos, p, n);
			f->opos += n;
			p += n;
			len -= n;
			if (f->opos == f->ocap && file_flush(f, e) != 0)
				return -1;
		}
		return 0;
	}

	ZSTD_inBuffer in = { data, len, 0 };
	while (in.pos < in.size) {
		ZSTD_outBuffer out = { f->obuf, f->ocap, f->opos };
		size_t r = ZSTD_compressStream2(f->cctx, &out, &in, ZSTD_e_continue);

		if (ZSTD_isError(r)) {
			f->failed = true;
			return ms_fail(e, MS_INTERNAL, "zstd cannot compress %s: %s", f->path,
				       ZSTD_getErrorName(r));
		}
		f->opos = out.pos;
		if (f->opos == f->ocap && file_flush(f, e) != 0)
			return -1;
	}
	return 0;
}

/* Ends the zstd frame, writes what is buffered and makes it durable. */
static int file_finish(struct store_file *f, struct ms_err *e)
{
	if (f->failed)
		return ms_fail(e, MS_IO, "cannot write %s/%s: an earlier write failed",
			       f->st->partial_path, f->path);
	if (f->compress == STORE_COMPRESS_ZSTD) {
		size_t left;
		do {
			ZSTD_inBuffer in = { NULL, 0, 0 };
			ZSTD_outBuffer out = { f->obuf, f->ocap, f->opos };

			left = ZSTD_compressStream2(f->cctx, &out, &in, ZSTD_e_end);
			if (ZSTD_isError(left))
				return ms_fail(e, MS_INTERNAL, "zstd cannot compress %s: %s", f->path,
					       ZSTD_getErrorName(left));
			f->opos = out.pos;
			if ((left || f->opos == f->ocap) && file_flush(f, e) != 0)
				return -1;
		} while (left);
	}
	if (file_flush(f, e) != 0)
		return -1;
	if (fsync(f->fd) != 0)
		return fail_errno(f->st, e, errno, "fsync", f->st->partial_path, f->path);
	/* close() can report a deferred write error (NFS), so it is checked. */
	int rc = close(f->fd);
	f->fd = -1;
	if (rc != 0)
		return fail_errno(f->st, e, errno, "write", f->st->partial_path, f->path);
	return 0;
}

int store_file_close(struct store_file *f, struct store_file_info *info, struct ms_err *e)
{
	memset(info, 0, sizeof(*info));
	info->rows = -1;
	if (file_finish(f, e) != 0) {
		store_file_abort(f);
		return -1;
	}
	info->path = f->path;
	f->path = NULL;
	info->bytes = f->bytes;
	info->stored_bytes = f->stored;
	snprintf(info->xxh3, sizeof(info->xxh3), "%016llx",
		 (unsigned long long)XXH3_64bits_digest(f->xxh));
	info->rows = f->count_rows ? (long long)f->rows : -1;
	info->compress = f->compress;
	file_free(f);
	return 0;
}

/* Creates relpath for writing like store_file_create, without a store_file. */
static int raw_create(struct store *st, const char *relpath, struct ms_err *e)
{
	const char *why = store_relpath_problem(relpath);
	int fd;

	if (why)
		return ms_fail(e, MS_INTERNAL, "invalid backup file path \"%s\": it %s", relpath, why);
	if (!strcmp(relpath, MANIFEST_NAME) || !strcmp(relpath, STORE_PARTIAL_MARKER))
		return ms_fail(e, MS_INTERNAL, "invalid backup file path \"%s\": the name is reserved", relpath);
	pthread_mutex_lock(&st->mu);
	fd = create_beneath(st, relpath, e);
	pthread_mutex_unlock(&st->mu);
	return fd;
}

int store_copy_in(struct store *st, const char *relpath, int src_fd, enum copy_mode mode,
		  enum copy_used *hint, enum copy_used *used, bool (*cancel)(void *), void *ctx,
		  struct ms_err *e)
{
	int fd = raw_create(st, relpath, e), rc;

	if (fd < 0)
		return -1;
	rc = copy_fd(src_fd, fd, mode, hint, used, cancel, ctx, relpath, e);
	if (close(fd) != 0 && rc == 0)
		rc = fail_errno(st, e, errno, "write", st->partial_path, relpath);
	if (rc)
		beneath_unlink(st->dir_fd, relpath, 0);
	return rc;
}

int store_file_hash(struct store *st, const char *relpath, struct store_file_info *info, struct ms_err *e)
{
	int fd = store_file_open_read(st, relpath, e), rc;

	memset(info, 0, sizeof(*info));
	info->rows = -1;
	info->compress = STORE_COMPRESS_NONE;
	if (fd < 0)
		return -1;
	rc = copy_hash_fd(fd, info->xxh3, &info->bytes, relpath, e);
	if (rc == 0 && fsync(fd) != 0)
		rc = fail_errno(st, e, errno, "fsync", st->partial_path, relpath);
	close(fd);
	if (rc)
		return -1;
	info->stored_bytes = info->bytes;
	info->path = strdup(relpath);
	return info->path ? 0 : ms_oom(e);
}

int store_file_open_read(struct store *st, const char *relpath, struct ms_err *e)
{
	int fd = beneath_open_regular(st->dir_fd, relpath, NULL);

	if (fd < 0 && errno == BENEATH_NOT_REGULAR)
		return ms_fail(e, MS_IO, "cannot read %s/%s: not a regular file", st->partial_path, relpath);
	if (fd < 0)
		return fail_errno(st, e, errno, "read", st->partial_path, relpath);
	return fd;
}

void store_file_discard(struct store *st, const char *relpath)
{
	if (store_relpath_problem(relpath))
		return;
	/* Relative to the locked DIR.partial descriptor: never elsewhere. */
	beneath_unlink(st->dir_fd, relpath, 0);
}

void store_file_abort(struct store_file *f)
{
	if (!f)
		return;
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
	}
	if (f->path)
		beneath_unlink(f->st->dir_fd, f->path, 0);
	file_free(f);
}

void store_file_info_release(struct store_file_info *i)
{
	if (!i)
		return;
	free(i->path);
	memset(i, 0, sizeof(*i));
	i->rows = -1;
}

json_t *store_file_info_to_json(const struct store_file_info *i)
{
	json_t *rows = i->rows >= 0 ? json_integer((json_int_t)i->rows) : json_null();

	if (!rows || !i->path)
		return NULL;
	/* "o" steals rows, also when packing fails. */
	return json_pack("{s:s, s:I, s:I, s:s, s:o, s:s}", "path", i->path, "bytes",
			 (json_int_t)i->bytes, "stored_bytes", (json_int_t)i->stored_bytes, "xxh3",
			 i->xxh3, "rows", rows, "compression",
			 i->compress == STORE_COMPRESS_ZSTD ? "zstd" : "none");
}

/* ---- finalize ---------------------------------------------------------- */

static int manifest_write(struct store *st, const char *text, struct ms_err *e)
{
	int fd = openat(st->dir_fd, MANIFEST_NAME,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int err;

	if (fd < 0)
		return fail_errno(st, e, errno, "create", st->partial_path, MANIFEST_NAME);
	if (ms_write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0) {
		err = errno;
		close(fd);
		goto out;
	}
	if (close(fd) != 0) {
		err = errno;
		goto out;
	}
	return 0;
out:
	/* A half-written manifest must not look like one. */
	unlinkat(st->dir_fd, MANIFEST_NAME, 0);
	return fail_errno(st, e, err, "write", st->partial_path, MANIFEST_NAME);
}

/* rename() that never replaces: an empty DIR created meanwhile would
 * otherwise be silently replaced. */
static int rename_noreplace(const char *from, const char *to)
{
	struct stat sb;

	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* Filesystems without RENAME_NOREPLACE: check, then rename. */
	if (lstat(to, &sb) == 0) {
		errno = EEXIST;
		return -1;
	}
	return rename(from, to);
}

int store_finalize(struct store *st, const char *manifest_json, struct ms_err *e)
{
	int pfd;

	pthread_mutex_lock(&st->mu);
	if (st->finalized || st->open_files) {
		size_t n = st->open_files;
		bool done = st->finalized;
		pthread_mutex_unlock(&st->mu);
		if (done)
			return ms_fail(e, MS_INTERNAL, "%s is already finalized", st->final_path);
		return ms_fail(e, MS_INTERNAL, "cannot finalize %s: %zu file(s) still being written",
			       st->final_path, n);
	}
	/* From here on no file can be added. */
	st->finalized = true;
	pthread_mutex_unlock(&st->mu);

	if (manifest_write(st, manifest_json, e) != 0)
		goto out;
	for (size_t i = 0; i < st->n_dirs; i++)
		if (fsync_dir_at(st->dir_fd, st->dirs[i]) != 0) {
			fail_errno(st, e, errno, "fsync", st->partial_path, st->dirs[i]);
			goto out;
		}
	if (fsync(st->dir_fd) != 0) {
		fail_errno(st, e, errno, "fsync", st->partial_path, NULL);
		goto out;
	}
	if (!ms_same_inode(st->dir_fd, st->partial_path, false)) {
		ms_fail(e, MS_IO, "%s was moved or replaced while the backup was written; the backup is not usable",
			st->partial_path);
		goto out;
	}
	if (rename_noreplace(st->partial_path, st->final_path) != 0) {
		if (errno == EEXIST || errno == ENOTEMPTY)
			ms_fail(e, MS_USAGE, "%s already exists; choose a new directory or remove it (the backup stays in %s)",
				st->final_path, st->partial_path);
		else
			ms_fail(e, MS_IO, "cannot rename %s to %s: %s", st->partial_path,
				st->final_path, strerror(errno));
		goto out;
	}
	/* The marker goes after the rename: a crash in between leaves a complete
	 * backup with a harmless extra file, never a .partial without a marker
	 * that the next run would refuse to clear. */
	if (unlinkat(st->dir_fd, STORE_PARTIAL_MARKER, 0) != 0 && errno != ENOENT)
		return fail_errno(st, e, errno, "remove", st->final_path, STORE_PARTIAL_MARKER);
	if (fsync(st->dir_fd) != 0)
		return fail_errno(st, e, errno, "fsync", st->final_path, NULL);
	pfd = open(st->parent_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0 || fsync(pfd) != 0) {
		int err = errno;
		if (pfd >= 0)
			close(pfd);
		return fail_errno(st, e, err, "fsync", st->parent_path, NULL);
	}
	close(pfd);
	return 0;

out:
	/* DIR.partial stays as it is; allow no more files all the same, since
	 * manifest.json may exist now. */
	return -1;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	if (st->dir_fd >= 0)
		close(st->dir_fd); /* releases the flock */
	for (size_t i = 0; i < st->n_dirs; i++)
		free(st->dirs[i]);
	free(st->dirs);
	free(st->final_path);
	free(st->partial_path);
	free(st->parent_path);
	pthread_mutex_destroy(&st->mu);
	free(st);
}
