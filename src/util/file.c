/* Small file-descriptor helpers (see file.h). */
#include "util/file.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

int ms_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

bool ms_same_inode(int fd, const char *path, bool follow_link)
{
	struct stat a, b;

	if (fstat(fd, &a) != 0)
		return false;
	if ((follow_link ? stat(path, &b) : lstat(path, &b)) != 0)
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}
