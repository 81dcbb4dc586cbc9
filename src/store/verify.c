/* verify_backup(): re-reads a backup the way a restore would, streaming each
 * file through zstd and XXH3 with fixed buffers, and names the first bad file. */
#include "store/verify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <xxhash.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "store/rowscan.h"
#include "store/store.h"
#include "util/beneath.h"
#include "util/buf.h"

#define MANIFEST_NAME "manifest.json"
#define FORMAT_NAME "mdlsafe-backup"
#define FORMAT_VERSION 1
#define UNTRUSTED "this backup cannot be trusted"

/* Buffers and contexts for reading files, allocated once, reused per file. */
struct backup_reader {
	ZSTD_DCtx *dctx;
	XXH3_state_t *xxh;
	unsigned char *in, *out;
	size_t in_cap, out_cap;
	void (*progress)(void *, const char *, unsigned long long);
	void *ctx;
	unsigned long long stored_done; /* for progress, over every file read */
};

/* State for one run of verify_backup. */
struct verifier {
	int dir_fd;
	const char *dir;
	struct backup_reader *rd;
	struct verify_result *r;
	struct ms_err *e;
	char manifest_xxh3[17]; /* of the manifest bytes parsed */
};

static int vfile_bad(struct ms_err *e, enum ms_status status, const char *file, const char *fmt, va_list ap);

/* Reports a problem with one file: "FILE: what is wrong". */
static int bad(struct verifier *v, enum ms_status status, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int bad(struct verifier *v, enum ms_status status, const char *file, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfile_bad(v->e, status, file, fmt, ap);
	va_end(ap);
	free(v->r->first_bad_file);
	v->r->first_bad_file = strdup(file);
	return -1;
}

/* ---- the manifest ------------------------------------------------------- */

static bool is_hex16(const char *s)
{
	size_t i;

	for (i = 0; i < 16; i++)
		if (!s[i] || !strchr("0123456789abcdefABCDEF", s[i]))
			return false;
	return s[16] == '\0';
}

/* Reads files[i] into *en, or says what is wrong with it. */
const char *backup_file_parse(json_t *j, struct backup_file *en)
{
	json_t *path = json_object_get(j, "path"), *bytes = json_object_get(j, "bytes"),
	       *stored = json_object_get(j, "stored_bytes"), *xxh3 = json_object_get(j, "xxh3"),
	       *rows = json_object_get(j, "rows"), *comp = json_object_get(j, "compression");
	if (!json_is_object(j))
		return "is not an object";
	if (!json_is_string(path))
		return "has no \"path\" string";
	en->path = json_string_value(path);
	if (strlen(en->path) != json_string_length(path))
		return "has a \"path\" with a NUL character";
	if (store_relpath_problem(en->path))
		return "has a \"path\" that is not a plain relative path (absolute, \"..\", empty component)";
	if (!json_is_integer(bytes) || json_integer_value(bytes) < 0 || !json_is_integer(stored) ||
	    json_integer_value(stored) < 0)
		return "has no valid \"bytes\" or \"stored_bytes\"";
	en->bytes = (unsigned long long)json_integer_value(bytes);
	en->stored_bytes = (unsigned long long)json_integer_value(stored);
	if (!json_is_string(xxh3) || !is_hex16(json_string_value(xxh3)))
		return "has no valid \"xxh3\" (16 hex digits)";
	en->xxh3 = json_string_value(xxh3);
	if (!rows || json_is_null(rows))
		en->rows = -1;
	else if (json_is_integer(rows) && json_integer_value(rows) >= 0)
		en->rows = (long long)json_integer_value(rows);
	else
		return "has a \"rows\" that is neither a count nor null";
	if (json_is_string(comp) && !strcmp(json_string_value(comp), "zstd"))
		en->zstd = true;
	else if (json_is_string(comp) && !strcmp(json_string_value(comp), "none"))
		en->zstd = false;
	else
		return "has a \"compression\" that is neither \"zstd\" nor \"none\"";
	return NULL;
}

/* Reads manifest.json whole into *text (the caller frees it): a regular
 * file directly in the directory, without a size cap (a server with many
 * tables has a large manifest). -1 with errno set when it cannot. */
static int manifest_read(int dir_fd, char **text, size_t *len)
{
	int fd = beneath_open_regular(dir_fd, MANIFEST_NAME, NULL), rc, err;

	*text = NULL;
	if (fd < 0)
		return -1;
	rc = fd_read_all(fd, text, len);
	err = errno;
	close(fd);
	errno = err;
	return rc;
}

json_t *backup_manifest_peek(const char *dir, struct ms_err *e)
{
	int fd = backup_dir_open(dir, e);
	json_error_t jerr;
	json_t *m = NULL;
	char *text;
	size_t len;

	if (fd < 0)
		return NULL;
	if (manifest_read(fd, &text, &len) != 0)
		ms_fail(e, MS_INCOMPLETE, "%s/" MANIFEST_NAME ": %s", dir,
			errno == BENEATH_NOT_REGULAR ? "not a regular file" : strerror(errno));
	else if (!(m = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)))
		ms_fail(e, MS_INCOMPLETE, "%s/" MANIFEST_NAME ": not valid JSON: %s", dir, jerr.text);
	free(text);
	close(fd);
	return m;
}

/* Loads and checks the top level; on success *files is the "files" array
 * (borrowed from *root, which the caller releases). */
static int manifest_load(struct verifier *v, json_t **root, json_t **files)
{
	json_t *m, *fmt, *ver, *complete;
	json_error_t jerr;
	struct stat sb;
	char *text;
	size_t len;

	*root = NULL;
	if (manifest_read(v->dir_fd, &text, &len) != 0) {
		if (errno == ENOMEM)
			return ms_fail(v->e, MS_INTERNAL, "out of memory reading %s/" MANIFEST_NAME, v->dir);
		if (errno == ELOOP)
			return bad(v, MS_INCOMPLETE, MANIFEST_NAME, "is a symbolic link, not a backup manifest; " UNTRUSTED);
		if (errno == BENEATH_NOT_REGULAR)
			return bad(v, MS_INCOMPLETE, MANIFEST_NAME,
				   "is not a regular file (a FIFO, device or directory); " UNTRUSTED);
		if (errno != ENOENT)
			return bad(v, MS_IO, MANIFEST_NAME, "cannot open: %s", strerror(errno));
		/* A finished backup has a manifest; a .partial marker says which
		 * kind of unfinished this is. */
		if (fstatat(v->dir_fd, STORE_PARTIAL_MARKER, &sb, AT_SYMLINK_NOFOLLOW) == 0)
			return bad(v, MS_INCOMPLETE, MANIFEST_NAME,
				   "missing: %s is an unfinished backup (interrupted or still running)",
				   v->dir);
		return bad(v, MS_INCOMPLETE, MANIFEST_NAME,
			   "missing: %s is not a complete mdlsafe backup; " UNTRUSTED, v->dir);
	}
	/* The bytes parsed are the bytes hashed, and the ones restore uses. */
	snprintf(v->manifest_xxh3, sizeof(v->manifest_xxh3), "%016llx", (unsigned long long)XXH3_64bits(text, len));
	m = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!m)
		return bad(v, MS_INCOMPLETE, MANIFEST_NAME,
			   "not valid JSON (line %d: %s): the manifest is damaged; " UNTRUSTED,
			   jerr.line, jerr.text);
	*root = m;
	fmt = json_object_get(m, "format");
	ver = json_object_get(m, "format_version");
	complete = json_object_get(m, "complete");
	*files = json_object_get(m, "files");
	if (!json_is_string(fmt) || strcmp(json_string_value(fmt), FORMAT_NAME))
		return bad(v, MS_INCOMPLETE, MANIFEST_NAME,
			   "not an mdlsafe backup manifest (\"format\" is not \"" FORMAT_NAME "\")");
	if (!json_is_integer(ver))
		return bad(v, MS_INCOMPLETE, MANIFEST_NAME, "has no \"format_version\"");
	if (json_integer_value(ver) > FORMAT_VERSION)
		return bad(v, MS_INCOMPLETE, MANIFEST_NAME,
			   "format_version %lld is newer than this mdlsafe understands (%d); verify it with a newer mdlsafe",
			   (long long)json_integer_value(ver), FORMAT_VERSION);
	if (json_integer_value(ver) != FORMAT_VERSION)
		return bad(v, MS_INCOMPLETE, MANIFEST_NAME, "unknown format_version %lld",
			   (long long)json_integer_value(ver));
	if (!json_is_true(complete))
		return bad(v, MS_INCOMPLETE, MANIFEST_NAME,
			   "the backup is not marked complete (\"complete\" is not true); " UNTRUSTED);
	if (!json_is_array(*files))
		return bad(v, MS_INCOMPLETE, MANIFEST_NAME, "\"files\" is missing or not a list");
	return 0;
}

/* ---- one file ----------------------------------------------------------- */

/* "FILE: what is wrong", as every per-file problem is reported. */
static int vfile_bad(struct ms_err *e, enum ms_status status, const char *file, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;

	buf_addf(&b, "%s: ", file);
	buf_vaddf(&b, fmt, ap);
	ms_fail(e, status, "%s", b.failed ? "out of memory" : buf_str(&b));
	buf_release(&b);
	return -1;
}

static int file_bad(struct ms_err *e, enum ms_status status, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int file_bad(struct ms_err *e, enum ms_status status, const char *file, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfile_bad(e, status, file, fmt, ap);
	va_end(ap);
	return -1;
}

/* One file being read: what has come out of it so far. */
struct file_read {
	const struct backup_file *f;
	unsigned long long bytes, rows;
	struct rowscan scan;
	bool too_long;
	int (*sink)(void *, const void *, size_t, struct ms_err *);
	void *sink_ctx;
	bool sink_failed;
};

/* Feeds uncompressed content to the checks and the sink; false once it is
 * longer than the manifest says (already an answer, and it bounds a zstd
 * bomb) or the sink failed. */
static bool content_add(struct backup_reader *rd, struct file_read *fr, const void *p, size_t n,
			struct ms_err *e)
{
	fr->bytes += n;
	if (fr->bytes > fr->f->bytes) {
		fr->too_long = true;
		return false;
	}
	XXH3_64bits_update(rd->xxh, p, n);
	if (fr->f->rows >= 0)
		fr->rows += rowscan_count(&fr->scan, p, n);
	if (fr->sink && n && fr->sink(fr->sink_ctx, p, n, e)) {
		fr->sink_failed = true;
		return false;
	}
	return true;
}

/* Decompresses one read()'s worth; -1 on damage (e filled) or a stop. */
static int zstd_feed(struct backup_reader *rd, struct file_read *fr, size_t n, size_t *last, struct ms_err *e)
{
	ZSTD_inBuffer in = { rd->in, n, 0 };

	for (;;) {
		ZSTD_outBuffer out = { rd->out, rd->out_cap, 0 };
		size_t was = in.pos;
		size_t ret = ZSTD_decompressStream(rd->dctx, &out, &in);

		if (ZSTD_isError(ret) && ZSTD_getErrorCode(ret) == ZSTD_error_checksum_wrong)
			return file_bad(e, MS_INCOMPLETE, fr->f->path,
					"checksum mismatch (the zstd frame checksum does not match the data): the file is damaged; " UNTRUSTED);
		if (ZSTD_isError(ret))
			return file_bad(e, MS_INCOMPLETE, fr->f->path,
					"damaged: zstd cannot decompress it (%s); " UNTRUSTED, ZSTD_getErrorName(ret));
		/* A call that only checked for pending output, after a frame
		 * ended filling the buffer exactly, answers "send a header"
		 * (non-zero); that is no evidence of truncation. */
		if (in.pos != was || out.pos)
			*last = ret;
		if (!content_add(rd, fr, rd->out, out.pos, e))
			return -1;
		/* A full output buffer may leave data inside zstd. */
		if (in.pos == in.size && out.pos < out.size)
			return 0;
	}
}

static int stream_checked(struct backup_reader *rd, int fd, struct file_read *fr, struct ms_err *e)
{
	const struct backup_file *f = fr->f;
	size_t last = 1; /* zstd: 0 when the data read so far ends exactly at a frame end */
	char got[17];

	XXH3_64bits_reset(rd->xxh);
	ZSTD_DCtx_reset(rd->dctx, ZSTD_reset_session_only);
	if (rd->progress)
		rd->progress(rd->ctx, f->path, rd->stored_done);
	for (;;) {
		ssize_t n = read(fd, rd->in, rd->in_cap);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return file_bad(e, MS_IO, f->path, "cannot read: %s", strerror(errno));
		if (n == 0)
			break;
		rd->stored_done += (unsigned long long)n;
		if (f->zstd ? zstd_feed(rd, fr, (size_t)n, &last, e) != 0 : !content_add(rd, fr, rd->in, (size_t)n, e))
			break;
		if (rd->progress)
			rd->progress(rd->ctx, f->path, rd->stored_done);
	}
	if (fr->sink_failed)
		return -1;
	if (fr->too_long)
		return file_bad(e, MS_INCOMPLETE, f->path,
				"holds more than the %llu bytes " MANIFEST_NAME " lists: the file is damaged; " UNTRUSTED,
				f->bytes);
	if (e->status != MS_OK)
		return -1;
	if (f->zstd && last != 0)
		return file_bad(e, MS_INCOMPLETE, f->path,
				"truncated: the zstd data ends in the middle of a frame; " UNTRUSTED);
	if (fr->bytes != f->bytes)
		return file_bad(e, MS_INCOMPLETE, f->path,
				"holds %llu bytes, " MANIFEST_NAME " says %llu: the file is damaged; " UNTRUSTED,
				fr->bytes, f->bytes);
	snprintf(got, sizeof(got), "%016llx", (unsigned long long)XXH3_64bits_digest(rd->xxh));
	if (strcasecmp(got, f->xxh3))
		return file_bad(e, MS_INCOMPLETE, f->path,
				"checksum mismatch (expected %s, got %s): the file is damaged; " UNTRUSTED, f->xxh3, got);
	if (f->rows >= 0 && fr->rows != (unsigned long long)f->rows)
		return file_bad(e, MS_INCOMPLETE, f->path,
				"holds %llu rows, " MANIFEST_NAME " says %lld; " UNTRUSTED, fr->rows, f->rows);
	return 0;
}

int backup_reader_read(struct backup_reader *rd, int dir_fd, const struct backup_file *f,
		       int (*sink)(void *, const void *, size_t, struct ms_err *), void *ctx,
		       struct ms_err *e)
{
	struct file_read fr = { .f = f, .sink = sink, .sink_ctx = ctx };
	struct stat sb;
	int fd, rc;

	ms_err_clear(e);
	rowscan_init(&fr.scan);
	/* Beneath the backup directory only: a directory in it that is a
	 * symbolic link would make the manifest vouch for files elsewhere. */
	fd = beneath_open_regular(dir_fd, f->path, &sb);
	if (fd < 0) {
		if (errno == ENOENT)
			return file_bad(e, MS_INCOMPLETE, f->path, "missing (listed in " MANIFEST_NAME "); " UNTRUSTED);
		if (errno == ELOOP || errno == EXDEV)
			return file_bad(e, MS_INCOMPLETE, f->path,
					"is or lies under a symbolic link; backup files are read only inside the backup directory; " UNTRUSTED);
		if (errno == BENEATH_NOT_REGULAR)
			return file_bad(e, MS_INCOMPLETE, f->path,
					"is not a regular file (a FIFO, device or directory); " UNTRUSTED);
		if (errno == ENOTDIR)
			return file_bad(e, MS_INCOMPLETE, f->path, "a part of its path is not a directory; " UNTRUSTED);
		return file_bad(e, MS_IO, f->path, "cannot open: %s", strerror(errno));
	}
	if ((unsigned long long)sb.st_size != f->stored_bytes)
		rc = file_bad(e, MS_INCOMPLETE, f->path,
			      "%lld bytes on disk, " MANIFEST_NAME " says %llu: the file is %s; " UNTRUSTED,
			      (long long)sb.st_size, f->stored_bytes,
			      (unsigned long long)sb.st_size < f->stored_bytes ? "truncated" : "damaged");
	else
		rc = stream_checked(rd, fd, &fr, e);
	close(fd);
	return rc;
}

int backup_reader_new(struct backup_reader **out, void (*progress)(void *, const char *, unsigned long long),
		      void *ctx, struct ms_err *e)
{
	struct backup_reader *rd = calloc(1, sizeof(*rd));

	*out = NULL;
	if (!rd)
		return ms_oom(e);
	rd->progress = progress;
	rd->ctx = ctx;
	rd->dctx = ZSTD_createDCtx();
	rd->xxh = XXH3_createState();
	rd->in_cap = ZSTD_DStreamInSize();
	rd->out_cap = ZSTD_DStreamOutSize();
	rd->in = malloc(rd->in_cap);
	rd->out = malloc(rd->out_cap);
	if (!rd->dctx || !rd->xxh || !rd->in || !rd->out) {
		backup_reader_free(rd);
		return ms_oom(e);
	}
	*out = rd;
	return 0;
}

void backup_reader_free(struct backup_reader *rd)
{
	if (!rd)
		return;
	ZSTD_freeDCtx(rd->dctx);
	XXH3_freeState(rd->xxh);
	free(rd->in);
	free(rd->out);
	free(rd);
}

/* ---- the directory ------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* Opens dir, or explains why it is not a finished backup directory. */
int backup_dir_open(const char *dir, struct ms_err *e)
{
	struct stat sb;
	int fd;

	if (stat(dir, &sb) != 0) {
		int err = errno;
		char *partial;

		if (err != ENOENT)
			return ms_fail(e, MS_IO, "cannot open %s: %s", dir, strerror(err));
		partial = ms_asprintf("%s.partial", dir);
		if (partial) {
			if (stat(partial, &sb) == 0 && S_ISDIR(sb.st_mode)) {
				ms_fail(e, MS_INCOMPLETE,
					"%s is an unfinished backup: only %s exists (interrupted or still running)",
					dir, partial);
				free(partial);
				return -1;
			}
			free(partial);
		}
		return ms_fail(e, MS_USAGE, "%s does not exist", dir);
	}
	if (!S_ISDIR(sb.st_mode))
		return ms_fail(e, MS_USAGE, "%s is not a directory; give the backup directory", dir);
	if (ends_with(dir, ".partial"))
		return ms_fail(e, MS_INCOMPLETE,
			       "%s is an unfinished backup (interrupted or still running)", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ms_fail(e, MS_IO, "cannot open %s: %s", dir, strerror(errno));
	return fd;
}

int verify_backup(const char *dir, void (*progress)(void *, const char *, unsigned long long),
		  void *ctx, struct verify_result *r, struct ms_err *e)
{
	return verify_backup_keep(dir, progress, ctx, r, NULL, e);
}

int verify_backup_keep(const char *dir, void (*progress)(void *, const char *, unsigned long long),
		       void *ctx, struct verify_result *r, struct verified_backup *vb, struct ms_err *e)
{
	struct verifier v = { .dir_fd = -1, .r = r, .e = e };
	json_t *root = NULL, *files = NULL, *seen = NULL;
	char *path = NULL;
	size_t len, i;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (vb) {
		memset(vb, 0, sizeof(*vb));
		vb->dir_fd = -1;
	}
	len = dir ? strlen(dir) : 0;
	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (len == 0)
		return ms_fail(e, MS_USAGE, "the backup directory name is empty");
	path = strndup(dir, len);
	if (!path)
		return ms_oom(e);
	v.dir = path;
	v.dir_fd = backup_dir_open(path, e);
	if (v.dir_fd < 0)
		goto out;
	if (backup_reader_new(&v.rd, progress, ctx, e) != 0 || manifest_load(&v, &root, &files) != 0)
		goto out;
	/* A path listed twice would make one file stand for two. */
	seen = json_object();
	if (!seen) {
		ms_oom(e);
		goto out;
	}
	for (i = 0; i < json_array_size(files); i++) {
		struct backup_file en = { 0 };
		const char *why = backup_file_parse(json_array_get(files, i), &en);

		if (why) {
			bad(&v, MS_INCOMPLETE, MANIFEST_NAME, "files[%zu] %s; " UNTRUSTED, i, why);
			goto out;
		}
		if (json_object_get(seen, en.path)) {
			bad(&v, MS_INCOMPLETE, MANIFEST_NAME, "files[%zu]: %s is listed twice; " UNTRUSTED,
			    i, en.path);
			goto out;
		}
		json_object_set_new(seen, en.path, json_true());
		if (backup_reader_read(v.rd, v.dir_fd, &en, NULL, NULL, e) != 0) {
			free(r->first_bad_file);
			r->first_bad_file = strdup(en.path);
			goto out;
		}
		r->files_checked++;
		r->bytes += en.bytes;
		if (en.rows >= 0)
			r->rows += (unsigned long long)en.rows;
	}
	rc = 0;
	if (vb) {
		vb->dir_fd = v.dir_fd;
		v.dir_fd = -1;
		vb->manifest = root;
		root = NULL;
		memcpy(vb->manifest_xxh3, v.manifest_xxh3, sizeof(vb->manifest_xxh3));
	}
out:
	json_decref(seen);
	json_decref(root);
	if (v.dir_fd >= 0)
		close(v.dir_fd);
	backup_reader_free(v.rd);
	free(path);
	return rc;
}

void verify_result_release(struct verify_result *r)
{
	if (!r)
		return;
	free(r->first_bad_file);
	memset(r, 0, sizeof(*r));
}

void verified_backup_release(struct verified_backup *vb)
{
	if (!vb)
		return;
	if (vb->dir_fd >= 0)
		close(vb->dir_fd);
	json_decref(vb->manifest);
	memset(vb, 0, sizeof(*vb));
	vb->dir_fd = -1;
}
