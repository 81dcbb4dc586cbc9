/* Replacing a small file whole (see textfile.h). */
#include "util/textfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/file.h"

static int fsync_parent(const char *path)
{
	char *copy = strdup(path);
	int fd, rc = -1;

	if (!copy)
		return -1;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

int ms_replace_file(const char *path, const void *data, size_t len, mode_t mode, bool durable, struct ms_err *e)
{
	char *tmp = ms_asprintf("%s.tmp.XXXXXX", path);
	int fd, err;

	if (!tmp)
		return ms_oom(e);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		free(tmp);
		return ms_fail(e, MS_IO, "cannot write %s: %s", path, strerror(err));
	}
	if (fchmod(fd, mode) != 0 || ms_write_all(fd, data, len) != 0 || (durable && fsync(fd) != 0)) {
		err = errno;
		close(fd);
		goto fail;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		err = errno;
		goto fail;
	}
	free(tmp);
	if (durable && fsync_parent(path) != 0)
		return ms_fail(e, MS_IO, "fsync of the directory of %s: %s", path, strerror(errno));
	return 0;
fail:
	unlink(tmp);
	free(tmp);
	return ms_fail(e, MS_IO, "cannot write %s: %s", path, strerror(err));
}
