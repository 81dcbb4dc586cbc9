/* copy_fd(): the three ways to copy a file, best first, each falling back
 * to the next only when the filesystem cannot (not when the disk fails). */
#include "store/copy.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

/* Pieces between cancel checks: small enough that --max-freeze is kept to
 * within a fraction of a second on any disk, large enough to cost nothing. */
#define PIECE (64ULL << 20)
#define RW_BUF (1U << 20)

const char *copy_used_name(enum copy_used u)
{
	switch (u) {
	case COPY_USED_REFLINK: return "reflink";
	case COPY_USED_KERNEL: return "copy_file_range";
	case COPY_USED_READWRITE: return "read/write";
	case COPY_USED_NONE: break;
	}
	return "none";
}

int copy_mode_parse(const char *s)
{
	if (!strcmp(s, "auto"))
		return COPY_AUTO;
	if (!strcmp(s, "reflink"))
		return COPY_REFLINK;
	if (!strcmp(s, "copy"))
		return COPY_DATA;
	return -1;
}

static int io_fail(struct ms_err *e, int err, const char *op, const char *what)
{
	return ms_fail(e, MS_IO, "%s %s: %s%s", op, what, strerror(err),
		       err == ENOSPC || err == EDQUOT ? " (free space on the target filesystem, then run again)" : "");
}

/* Errors that mean "this filesystem pair cannot do it", not "the disk failed". */
static bool unsupported(int err)
{
	return err == EOPNOTSUPP || err == ENOTSUP || err == EXDEV || err == EINVAL || err == ENOSYS ||
	       err == ETXTBSY || err == EBADF || err == EPERM;
}

static int copy_kernel(int in, int out, unsigned long long size, bool (*cancel)(void *), void *ctx,
		       const char *what, bool *fallback, struct ms_err *e)
{
	loff_t off_in = 0, off_out = 0;

	*fallback = false;
	while ((unsigned long long)off_in < size) {
		unsigned long long left = size - (unsigned long long)off_in;
		ssize_t n;

		if (cancel && cancel(ctx))
			return ms_fail(e, MS_TIMEOUT, "copying %s: stopped", what);
		n = copy_file_range(in, &off_in, out, &off_out, left < PIECE ? left : PIECE, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (off_in == 0 && unsupported(errno)) {
				*fallback = true;
				return -1;
			}
			return io_fail(e, errno, "copying", what);
		}
		if (n == 0) /* the source shrank: copy what is there */
			break;
	}
	return 0;
}

static int copy_readwrite(int in, int out, bool (*cancel)(void *), void *ctx, const char *what,
			  struct ms_err *e)
{
	char *buf = malloc(RW_BUF);
	unsigned long long since_check = 0;
	int rc = 0;

	if (!buf)
		return ms_oom(e);
	if (lseek(in, 0, SEEK_SET) < 0 || lseek(out, 0, SEEK_SET) < 0 || ftruncate(out, 0) != 0) {
		free(buf);
		return io_fail(e, errno, "copying", what);
	}
	for (;;) {
		ssize_t n = read(in, buf, RW_BUF), done = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = io_fail(e, errno, "reading", what);
			break;
		}
		if (n == 0)
			break;
		while (done < n) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rc = io_fail(e, w < 0 ? errno : EIO, "writing the copy of", what);
				break;
			}
			done += w;
		}
		if (rc)
			break;
		since_check += (unsigned long long)n;
		if (since_check >= PIECE) {
			since_check = 0;
			if (cancel && cancel(ctx)) {
				rc = ms_fail(e, MS_TIMEOUT, "copying %s: stopped", what);
				break;
			}
		}
	}
	free(buf);
	return rc;
}

int copy_fd(int in, int out, enum copy_mode mode, enum copy_used *hint, enum copy_used *used,
	    bool (*cancel)(void *), void *ctx, const char *what, struct ms_err *e)
{
	struct stat sb;
	bool fallback;

	*used = COPY_USED_NONE;
	if (fstat(in, &sb) != 0)
		return io_fail(e, errno, "reading", what);
	if (mode != COPY_DATA && (*hint == COPY_USED_NONE || *hint == COPY_USED_REFLINK)) {
		if (ioctl(out, FICLONE, in) == 0) {
			*used = *hint = COPY_USED_REFLINK;
			return 0;
		}
		if (!unsupported(errno) && errno != ENOTTY)
			return io_fail(e, errno, "cloning", what);
		if (mode == COPY_REFLINK)
			return ms_fail(e, MS_USAGE,
				       "--copy reflink: the filesystem cannot share extents between the data directory "
				       "and the backup (%s); use --copy auto, or put the backup on the same btrfs/XFS filesystem",
				       what);
		*hint = COPY_USED_KERNEL;
	}
	if (*hint != COPY_USED_READWRITE) {
		if (copy_kernel(in, out, (unsigned long long)sb.st_size, cancel, ctx, what, &fallback, e) == 0) {
			*used = COPY_USED_KERNEL;
			if (*hint == COPY_USED_NONE)
				*hint = COPY_USED_KERNEL;
			return 0;
		}
		if (!fallback)
			return -1;
		*hint = COPY_USED_READWRITE;
	}
	if (copy_readwrite(in, out, cancel, ctx, what, e))
		return -1;
	*used = COPY_USED_READWRITE;
	return 0;
}

int copy_hash_fd(int fd, char xxh3[17], unsigned long long *bytes, const char *what, struct ms_err *e)
{
	XXH3_state_t *st = XXH3_createState();
	char *buf = malloc(RW_BUF);
	unsigned long long total = 0;
	int rc = 0;

	if (!st || !buf || XXH3_64bits_reset(st) != XXH_OK) {
		XXH3_freeState(st);
		free(buf);
		return ms_oom(e);
	}
	for (off_t off = 0;;) {
		ssize_t n = pread(fd, buf, RW_BUF, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = io_fail(e, errno, "reading", what);
			break;
		}
		if (n == 0)
			break;
		XXH3_64bits_update(st, buf, (size_t)n);
		off += n;
		total += (unsigned long long)n;
	}
	if (rc == 0) {
		snprintf(xxh3, 17, "%016llx", (unsigned long long)XXH3_64bits_digest(st));
		*bytes = total;
	}
	XXH3_freeState(st);
	free(buf);
	return rc;
}

int copy_fsync_dir(const char *path, struct ms_err *e)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return io_fail(e, errno, "opening directory", path);
	if (fsync(fd) != 0) {
		int err = errno;
		close(fd);
		return io_fail(e, err, "fsync of directory", path);
	}
	close(fd);
	return 0;
}
