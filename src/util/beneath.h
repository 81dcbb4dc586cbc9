/* Opening and creating paths strictly beneath a directory descriptor, never
 * through a symbolic link: the one way backup directories are written and read. */
#ifndef MDLSAFE_BENEATH_H
#define MDLSAFE_BENEATH_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/*
 * Every function here takes a relative path ("db/t.sql") below the directory
 * open as dir_fd and resolves it without following a symbolic link in any
 * component and without leaving dir_fd (no absolute paths, no ".."). A
 * symbolic link anywhere on the way fails with errno ELOOP (EXDEV for a path
 * that would leave dir_fd), so a directory swapped for a link between a check
 * and a use redirects nothing.
 *
 * The kernel's openat2() with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS does the
 * resolution where it exists; elsewhere (old kernels, seccomp filters that
 * refuse it) each component is opened in turn with O_NOFOLLOW | O_DIRECTORY.
 * Both give the same answers, except that the walk refuses every ".." (EXDEV)
 * where openat2() allows one that stays inside; backup paths have none.
 * Functions return -1 with errno set on failure.
 */

/* openat(dir_fd, relpath, flags, mode) resolved as above; O_CLOEXEC is
 * always added, and the last component is never followed either. */
int beneath_open(int dir_fd, const char *relpath, int flags, mode_t mode);

/* The same, always by the per-component walk: for tests, which prove that
 * the fallback refuses what openat2() refuses. */
int beneath_open_walk(int dir_fd, const char *relpath, int flags, mode_t mode);

/*
 * Opens the directory that holds relpath's last component (dir_fd itself,
 * duplicated, when relpath has no '/') and sets *base to that component
 * (pointing into relpath). With create, missing directories on the way are
 * made with mode dir_mode, and on_created (may be NULL) is called with each
 * one's path relative to dir_fd (a NUL-terminated copy valid for the call);
 * when it returns non-zero the walk stops with errno ENOMEM. An existing
 * component that is not a directory fails with ENOTDIR.
 */
int beneath_open_parent(int dir_fd, const char *relpath, bool create, mode_t dir_mode,
			int (*on_created)(void *ctx, const char *reldir), void *ctx,
			const char **base);

/*
 * Opens relpath for reading only when it is a regular file: it is opened
 * with O_NONBLOCK, so a FIFO or a device cannot block the open, checked with
 * fstat(), and O_NONBLOCK is cleared again before it is returned. Fails with
 * errno BENEATH_NOT_REGULAR for anything that is not a regular file; *sb
 * (may be NULL) holds the file's status on success.
 */
#define BENEATH_NOT_REGULAR EINVAL
int beneath_open_regular(int dir_fd, const char *relpath, struct stat *sb);

/* unlinkat() of relpath beneath dir_fd (AT_REMOVEDIR in flags for a
 * directory); the parent is resolved as above. */
int beneath_unlink(int dir_fd, const char *relpath, int flags);

/*
 * Reads the whole of fd from its current offset into a new buffer (the
 * caller frees it) with a terminating NUL that *len does not count. There
 * is no size cap: the caller has already decided the file is its to read
 * (opened with beneath_open_regular(), or its own journal).
 */
int fd_read_all(int fd, char **data, size_t *len);

#endif
