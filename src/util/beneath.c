/* Path resolution confined to a directory descriptor with no symbolic links:
 * openat2() where the kernel has it, a per-component O_NOFOLLOW walk elsewhere.
 */
#include "util/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(SYS_openat2) && __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define HAVE_OPENAT2 1
#endif

/* Keeps errno across a close() on an error path. */
static void close_keep_errno(int fd)
{
	int err = errno;

	close(fd);
	errno = err;
}

/* Opens one directory component below cur. A symbolic link there is ELOOP,
 * whatever the kernel says for O_DIRECTORY on a link, so both resolvers
 * answer alike. */
static int dir_component(int cur, const char *comp)
{
	int fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOTDIR) {
		struct stat sb;

		if (fstatat(cur, comp, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode))
			errno = ELOOP;
		else
			errno = ENOTDIR;
	}
	return fd;
}

/* A component the walk must not take: ".." could leave dir_fd. */
static bool component_escapes(const char *comp)
{
	return comp[0] == '.' && comp[1] == '.' && comp[2] == '\0';
}

/*
 * Walks the directories of path (modified in place: '/' become NULs while
 * walking) below dir_fd, creating missing ones when create is set. Returns a
 * new descriptor of the last directory and sets *last to the final component.
 */
static int walk_dirs(int dir_fd, char *path, bool create, mode_t dir_mode,
		     int (*on_created)(void *, const char *), void *ctx, char **last)
{
	char *comp = path;
	int cur;

	if (*path == '/') {
		errno = EXDEV;
		return -1;
	}
	cur = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
	if (cur < 0)
		return -1;
	for (;;) {
		char *slash = strchr(comp, '/');
		int next;

		if (!slash)
			break;
		*slash = '\0';
		if (component_escapes(comp)) {
			close(cur);
			errno = EXDEV;
			return -1;
		}
		next = dir_component(cur, comp);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(cur, comp, dir_mode) == 0) {
				/* The path so far, for the caller's records. */
				if (on_created && on_created(ctx, path) != 0) {
					close(cur);
					errno = ENOMEM;
					return -1;
				}
			} else if (errno != EEXIST) {
				close_keep_errno(cur);
				return -1;
			}
			next = dir_component(cur, comp);
		}
		if (next < 0) {
			close_keep_errno(cur);
			return -1;
		}
		close(cur);
		cur = next;
		*slash = '/';
		comp = slash + 1;
	}
	if (component_escapes(comp)) {
		close(cur);
		errno = EXDEV;
		return -1;
	}
	*last = comp;
	return cur;
}

int beneath_open_walk(int dir_fd, const char *relpath, int flags, mode_t mode)
{
	char *copy = strdup(relpath), *last;
	int parent, fd;

	if (!copy)
		return -1;
	parent = walk_dirs(dir_fd, copy, false, 0, NULL, NULL, &last);
	if (parent < 0) {
		free(copy);
		return -1;
	}
	fd = openat(parent, last, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0 && errno == ENOTDIR && (flags & O_DIRECTORY))
		fd = dir_component(parent, last); /* says ELOOP for a link */
	close_keep_errno(parent);
	free(copy);
	return fd;
}

int beneath_open(int dir_fd, const char *relpath, int flags, mode_t mode)
{
#ifdef HAVE_OPENAT2
	struct open_how how = {
		/* RESOLVE_NO_SYMLINKS covers the last component too, and says
		 * ELOOP where O_NOFOLLOW | O_DIRECTORY would say ENOTDIR. */
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
	};
	long fd = syscall(SYS_openat2, dir_fd, relpath, &how, sizeof(how));

	if (fd >= 0)
		return (int)fd;
	/* ENOSYS: an old kernel; EPERM: a seccomp filter that does not know
	 * openat2. Anything else is the answer. */
	if (errno != ENOSYS && errno != EPERM)
		return -1;
#endif
	return beneath_open_walk(dir_fd, relpath, flags, mode);
}

int beneath_open_parent(int dir_fd, const char *relpath, bool create, mode_t dir_mode,
			int (*on_created)(void *ctx, const char *reldir), void *ctx,
			const char **base)
{
	char *copy = strdup(relpath), *last;
	int fd;

	if (!copy)
		return -1;
	fd = walk_dirs(dir_fd, copy, create, dir_mode, on_created, ctx, &last);
	if (fd >= 0)
		*base = relpath + (last - copy);
	free(copy);
	return fd;
}

int beneath_open_regular(int dir_fd, const char *relpath, struct stat *sb)
{
	struct stat local;
	int fd, fl;

	if (!sb)
		sb = &local;
	/* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	 * writer that never comes. */
	fd = beneath_open(dir_fd, relpath, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
	if (fd < 0)
		return -1;
	if (fstat(fd, sb) != 0) {
		close_keep_errno(fd);
		return -1;
	}
	if (!S_ISREG(sb->st_mode)) {
		close(fd);
		errno = BENEATH_NOT_REGULAR;
		return -1;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
		close_keep_errno(fd);
		return -1;
	}
	return fd;
}

int beneath_unlink(int dir_fd, const char *relpath, int flags)
{
	const char *base;
	int pfd = beneath_open_parent(dir_fd, relpath, false, 0, NULL, NULL, &base), rc;

	if (pfd < 0)
		return -1;
	rc = unlinkat(pfd, base, flags);
	close_keep_errno(pfd);
	return rc;
}

int fd_read_all(int fd, char **data, size_t *len)
{
	struct stat sb;
	size_t cap = 65536, n = 0;
	char *p;

	*data = NULL;
	*len = 0;
	/* Start at the file's size so a large file is read without copies. */
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
	    (unsigned long long)sb.st_size < SIZE_MAX - 2)
		cap = (size_t)sb.st_size + 2; /* + the NUL, + room to see the end */
	p = malloc(cap);
	if (!p)
		return -1;
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			char *q;

			if (cap > SIZE_MAX / 2) {
				free(p);
				errno = EFBIG;
				return -1;
			}
			q = realloc(p, cap * 2);
			if (!q) {
				free(p);
				errno = ENOMEM;
				return -1;
			}
			p = q;
			cap *= 2;
		}
		r = read(fd, p + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = errno;
			free(p);
			errno = err;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	p[n] = '\0';
	*data = p;
	*len = n;
	return 0;
}
