/* SPDX-License-Identifier: ISC */
/*
 * fakefs.h: a fake file tree behind confsrc.c's file layer (struct
 * conf_fs), shared by tests/test_confsrc.c (cmocka) and
 * fuzz/fuzz_confsrc.c (libFuzzer, and fuzz/replay_confsrc under make
 * check).  Header-only, so that fuzz/run.sh, which compiles a target's
 * one file against the library, needs nothing more.
 *
 * Each file has a path, a text, what stat() says (or the errno it fails
 * with), the errnos open() and read() fail with, what fstat() says when
 * the file was swapped after the stat(), and a most read() gives at a
 * time.  A directory is a file whose mode says so, or implied by a path
 * below it (stat() says S_IFDIR 0755 then); listing it gives ".", ".."
 * and the first component of each path below it once, in the tree's
 * order (not sorted: confsrc must sort), or fails with its list_errno,
 * its stat_errno, ENOTDIR for a file, ENOENT for nothing.  What must never happen (open() of what stat() said is not a
 * regular file, a file opened twice at once, a bad handle) goes to the
 * user's failure hook, which must not return: cmocka's fail_msg() or
 * fuzz_fail().  Counts of what the users need beyond opened and closed
 * (calls to stat, to read) are theirs: they wrap the callbacks.
 */
#ifndef UPCASE_FAKEFS_H
#define UPCASE_FAKEFS_H

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "confsrc.h"

#define FAKEFS_MAX 40
/* Handles are the index of the file plus this: never 0, 1, 2. */
#define FAKEFS_FD0 3

struct fakefs_file {
	const char *path;
	const char *text;
	size_t      len;        /* bytes of text (0: up to its NUL) */
	mode_t      mode;       /* what stat() says */
	int         stat_errno; /* stat() fails so */
	int         open_errno; /* open() fails so (it vanished, it is 0000) */
	mode_t      fmode;      /* what fstat() says, if not mode (it was swapped) */
	int         read_errno; /* read() fails so */
	int         list_errno; /* listing it, a directory, fails so */
	size_t      chunk;      /* read() returns at most this much (0: all) */
	bool        open;       /* a handle is open */
	size_t      off;        /* where the next read() starts */
};

struct fakefs {
	struct fakefs_file f[FAKEFS_MAX];
	size_t n;
	int    opened, closed;  /* handles given, handles closed */
	int    listed;          /* directories listed to the end or stopped */
	/* What must not happen; must not return. */
	void (*on_fail)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
};

static inline size_t
fakefs_len(const struct fakefs_file *f)
{
	return f->len ? f->len : strlen(f->text);
}

static inline struct fakefs_file *
fakefs_find(struct fakefs *fs, const char *path)
{
	size_t i;

	for (i = 0; i < fs->n; i++)
		if (strcmp(fs->f[i].path, path) == 0)
			return &fs->f[i];
	return NULL;
}

static inline struct fakefs_file *
fakefs_handle(struct fakefs *fs, int fd)
{
	if (fd < FAKEFS_FD0 || (size_t)(fd - FAKEFS_FD0) >= fs->n ||
	    !fs->f[fd - FAKEFS_FD0].open) {
		fs->on_fail("bad handle %d", fd);
		abort();
	}
	return &fs->f[fd - FAKEFS_FD0];
}

/*
 * Where the names below directory dir start in a path of the tree, or
 * NULL if it is not below dir ("." holds the relative paths).
 */
static inline const char *
fakefs_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, ".") == 0)
		return path[0] != '/' && path[0] != '\0' ? path : NULL;
	if (strncmp(path, dir, n) != 0)
		return NULL;
	if (n > 0 && dir[n - 1] == '/')
		return path[n] != '\0' ? path + n : NULL;
	return path[n] == '/' && path[n + 1] != '\0' ? path + n + 1 : NULL;
}

/* A directory only because a path of the tree is below it. */
static inline bool
fakefs_implied_dir(struct fakefs *fs, const char *path)
{
	size_t i;

	if (fakefs_find(fs, path) != NULL)
		return false;
	for (i = 0; i < fs->n; i++)
		if (fakefs_below(fs->f[i].path, path) != NULL)
			return true;
	return false;
}

/* The callbacks; arg is the struct fakefs. */
static inline int
fakefs_stat(void *arg, const char *path, mode_t *mode)
{
	struct fakefs_file *f = fakefs_find(arg, path);

	if (f == NULL && fakefs_implied_dir(arg, path)) {
		*mode = S_IFDIR | 0755;
		return 0;
	}
	if (f == NULL || f->stat_errno) {
		errno = f == NULL ? ENOENT : f->stat_errno;
		return -1;
	}
	*mode = f->mode;
	return 0;
}

static inline int
fakefs_open(void *arg, const char *path)
{
	struct fakefs *fs = arg;
	struct fakefs_file *f = fakefs_find(fs, path);

	/*
	 * Opening what stat() said is not a regular file is what must never
	 * happen; nor what is not one, stat() failing, if open() would work.
	 */
	if (f != NULL && !S_ISREG(f->mode) && (!f->stat_errno || !f->open_errno)) {
		fs->on_fail("open() of %s, which stat() said is not a file", path);
		abort();
	}
	if (f == NULL && fakefs_implied_dir(fs, path)) {
		fs->on_fail("open() of %s, which stat() said is a directory", path);
		abort();
	}
	if (f == NULL || f->open_errno) {
		errno = f == NULL ? ENOENT : f->open_errno;
		return -1;
	}
	if (f->open) {
		fs->on_fail("%s opened twice at once", path);
		abort();
	}
	f->open = true;
	f->off = 0;
	fs->opened++;
	return (int)(f - fs->f) + FAKEFS_FD0;
}

static inline int
fakefs_fstat(void *arg, int fd, mode_t *mode)
{
	struct fakefs_file *f = fakefs_handle(arg, fd);

	*mode = f->fmode ? f->fmode : f->mode;
	return 0;
}

static inline ssize_t
fakefs_read(void *arg, int fd, void *buf, size_t len)
{
	struct fakefs_file *f = fakefs_handle(arg, fd);
	size_t left = fakefs_len(f) - f->off;

	if (f->read_errno) {
		errno = f->read_errno;
		return -1;
	}
	if (len > left)
		len = left;
	if (f->chunk && len > f->chunk)
		len = f->chunk;
	memcpy(buf, f->text + f->off, len);
	f->off += len;
	return (ssize_t)len;
}

static inline void
fakefs_close(void *arg, int fd)
{
	struct fakefs *fs = arg;

	fakefs_handle(fs, fd)->open = false;
	fs->closed++;
}

static inline int
fakefs_list(void *arg, const char *dir, int (*each)(void *, const char *),
    void *ctx)
{
	struct fakefs *fs = arg;
	struct fakefs_file *d = fakefs_find(fs, dir);
	const char *rest, *other;
	char name[256];
	size_t i, j, k;
	int rc;

	if (d != NULL && (d->list_errno || d->stat_errno || !S_ISDIR(d->mode))) {
		errno = d->list_errno ? d->list_errno : d->stat_errno ?
		    d->stat_errno : ENOTDIR;
		return -1;
	}
	if (d == NULL && !fakefs_implied_dir(fs, dir) && strcmp(dir, ".") != 0) {
		errno = ENOENT;
		return -1;
	}
	fs->listed++;
	if ((rc = each(ctx, ".")) != 0 || (rc = each(ctx, "..")) != 0)
		return rc;
	for (i = 0; i < fs->n; i++) {
		if ((rest = fakefs_below(fs->f[i].path, dir)) == NULL)
			continue;
		k = strcspn(rest, "/");
		if (k == 0 || k >= sizeof(name))
			continue;
		/* Once: no path before starts with the same component. */
		for (j = 0; j < i; j++)
			if ((other = fakefs_below(fs->f[j].path, dir)) != NULL &&
			    strncmp(other, rest, k) == 0 &&
			    (other[k] == '/' || other[k] == '\0'))
				break;
		if (j < i)
			continue;
		memcpy(name, rest, k);
		name[k] = '\0';
		if ((rc = each(ctx, name)) != 0)
			return rc;
	}
	return 0;
}

/* For what both users check: the line (from 1) of text p is on. */
static inline int
fakefs_line_at(const char *text, const char *p)
{
	int n = 1;

	for (; text < p; text++)
		n += *text == '\n';
	return n;
}

#endif
