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
 * time.  What must never happen (open() of what stat() said is not a
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
	size_t      chunk;      /* read() returns at most this much (0: all) */
	bool        open;       /* a handle is open */
	size_t      off;        /* where the next read() starts */
};

struct fakefs {
	struct fakefs_file f[FAKEFS_MAX];
	size_t n;
	int    opened, closed;  /* handles given, handles closed */
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

/* The callbacks; arg is the struct fakefs. */
static inline int
fakefs_stat(void *arg, const char *path, mode_t *mode)
{
	struct fakefs_file *f = fakefs_find(arg, path);

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
