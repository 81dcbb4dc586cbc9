/* Small file-descriptor helpers shared by the backup store and the restore
 * journal. */
#ifndef MDLSAFE_FILE_H
#define MDLSAFE_FILE_H

#include <stdbool.h>
#include <stddef.h>

/* Writes all len bytes, retrying short writes and EINTR. Returns 0, or -1
 * with errno set. */
int ms_write_all(int fd, const void *data, size_t len);

/* True when path still names the file fd is open on: a lock on a file or
 * directory someone removed (and perhaps recreated) meanwhile protects
 * nothing. With follow_link false a symbolic link at path is compared itself
 * (lstat), so a link put in the directory's place never matches. */
bool ms_same_inode(int fd, const char *path, bool follow_link);

#endif
