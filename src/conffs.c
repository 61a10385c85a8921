/* SPDX-License-Identifier: ISC */
/*
 * conffs.c: the real file layer of confsrc (struct conf_fs): the system
 * calls, and nothing else; the checks between them are in
 * confsrc_read_file(), where a fake layer tests them.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "confsrc.h"

static int
conffs_stat(void *arg, const char *path, mode_t *mode)
{
	struct stat st;

	(void)arg;
	if (stat(path, &st) == -1)
		return -1;
	*mode = st.st_mode;
	return 0;
}

/*
 * O_NONBLOCK: should a FIFO take the place of the file between the stat()
 * and here, the open() does not wait for a writer (fstat() then refuses
 * it).  O_NOCTTY: nor does a terminal become ours.
 */
static int
conffs_open(void *arg, const char *path)
{
	(void)arg;
	return open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
}

static int
conffs_fstat(void *arg, int fd, mode_t *mode)
{
	struct stat st;

	(void)arg;
	if (fstat(fd, &st) == -1)
		return -1;
	*mode = st.st_mode;
	return 0;
}

static ssize_t
conffs_read(void *arg, int fd, void *buf, size_t len)
{
	(void)arg;
	return read(fd, buf, len);
}

static void
conffs_close(void *arg, int fd)
{
	int saved = errno;

	(void)arg;
	close(fd);
	errno = saved;
}

/*
 * O_DIRECTORY: what is not a directory is refused by open() itself
 * (ENOTDIR), so a FIFO or a device in its place is never opened as one;
 * O_NONBLOCK all the same.  A symbolic link to a directory is followed,
 * as stat() follows one to a file.
 */
static int
conffs_list(void *arg, const char *dir, int (*each)(void *, const char *),
    void *ctx)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0, saved;

	(void)arg;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			rc = errno != 0 ? -1 : 0;
			break;
		}
		if ((rc = each(ctx, de->d_name)) != 0)
			break;
	}
	saved = errno;
	closedir(d);
	errno = saved;
	return rc;
}

const struct conf_fs conf_fs_real = {
	conffs_stat, conffs_open, conffs_fstat, conffs_read, conffs_close,
	conffs_list, NULL
};
