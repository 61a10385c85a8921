/* SPDX-License-Identifier: ISC */
/*
 * confsrc.h: the text of a configuration, its @include directives
 * followed here, as one string with a map back to the files and lines it
 * came from.  libconfig (conf.c) is then handed that string only: it never
 * opens a file, so nothing it reads can make it exit() (its scanner does
 * on a read error, a directory say) or block (in open() of a FIFO).
 *
 * Where libconfig 1.5 honours "@include" is matched exactly (see
 * confsrc.c); the files are read through a file layer, struct conf_fs,
 * so that tests and the fuzzer can give a fake tree.  What is read must be
 * a regular file, and all the files together at most a budget of bytes.
 *
 * A path whose last component holds a pattern ('*', '?' or '[', as
 * fnmatch(3) with FNM_PERIOD) includes the names of that directory that
 * match it, in strcmp() order, each as if by an @include of its own:
 * "*.conf" in /etc/upcased.d is a drop-in directory.
 */
#ifndef UPCASE_CONFSRC_H
#define UPCASE_CONFSRC_H

#include <sys/types.h>

#include <stddef.h>

/* libconfig 1.5's MAX_INCLUDE_DEPTH: a file 10 includes deep includes no more. */
#define CONFSRC_MAX_DEPTH   10
/* Files read in all, the main one included (one included twice counts twice). */
#define CONFSRC_MAX_FILES   1024
/* The longest path an @include may name, after the include directory. */
#define CONFSRC_MAX_PATH    4096
/* Names read from the directory of a pattern, at most (".", ".." aside). */
#define CONFSRC_MAX_DIRENTS 1024
/*
 * Names read from directories in all, "." and ".." too: a file of many
 * patterns lists a directory for each, and the files and bytes read do
 * not count that.
 */
#define CONFSRC_MAX_LISTED  (64 * CONFSRC_MAX_DIRENTS)

/*
 * The file layer: the few system calls reading a file takes, so that the
 * checks between them (confsrc_read_file) can be tested against a fake
 * tree.  Each returns -1 with errno set on failure, as the call it stands
 * for.  conf_fs_real (conffs.c) is the real one.
 */
struct conf_fs {
	/* stat(2), following symbolic links: the file's type and mode. */
	int     (*stat)(void *arg, const char *path, mode_t *mode);
	/* open(2) read-only, never blocking and never a controlling tty: a handle. */
	int     (*open)(void *arg, const char *path);
	/* fstat(2) of an open handle. */
	int     (*fstat)(void *arg, int fd, mode_t *mode);
	/* read(2): at most len bytes, 0 at the end. */
	ssize_t (*read)(void *arg, int fd, void *buf, size_t len);
	void    (*close)(void *arg, int fd);
	/*
	 * The names of directory dir, "." and ".." too, in the directory's
	 * order, each given to each(ctx, name) until it returns non-zero,
	 * which list() then returns: 0 at the end of the directory, -1 with
	 * errno set if it cannot be opened (a missing one, a file: ENOTDIR)
	 * or read.  Nothing that is not a directory is opened as one.
	 */
	int     (*list)(void *arg, const char *dir,
	    int (*each)(void *ctx, const char *name), void *ctx);
	void     *arg;
};

extern const struct conf_fs conf_fs_real;

/*
 * Read the file at path through fs, if it is a regular file: it is
 * stat()ed first, and anything else refused without being opened; then
 * opened and fstat()ed again (it may have been swapped meanwhile), and at
 * most max + 1 bytes are read, so *len > max means that it is larger than
 * max.  Returns 0 with *text (malloc'd, NUL-terminated after *len bytes),
 * or -1 with why not in why: "is a directory", "is a FIFO", strerror()
 * ("No such file or directory", "Permission denied", ...).
 */
int confsrc_read_file(const struct conf_fs *fs, const char *path, size_t max,
    char **text, size_t *len, char *why, size_t whylen);

/* What a file of this type is, for a message: "is a directory", ...; NULL for a regular file. */
const char *confsrc_type_reason(mode_t mode);

/* From line cline of the text on, lines come from files[file] from line fline on. */
struct confsrc_seg {
	int     cline;
	int     fline;
	size_t  file;
};

/* An expanded configuration.  confsrc_free() frees what it holds. */
struct confsrc {
	char   *text;       /* NUL-terminated; ends with '\n' unless empty */
	size_t  len;        /* strlen(text) */
	size_t  bytes;      /* read from the files (and the main text), at most the budget */
	int     lines;      /* lines of text */
	char  **files;      /* one per file read, in order; files[0] is the main one's name */
	size_t  nfiles;
	struct confsrc_seg *segs;   /* in order of cline, the first at line 1 */
	size_t  nsegs;
};

/*
 * Expand the configuration whose main file is path: read through fs, or,
 * if text is not NULL, that text with path standing in for its name.
 * Relative @include paths are looked up in incdir (NULL: as written,
 * relative to the working directory).  The main file and everything it
 * includes may be at most budget bytes together.
 *
 * The text in out holds no @include that libconfig would act on: each one
 * is replaced by the text of its file, the rest of the directive's line
 * coming after it on a line of its own.  Every file's text ends with a
 * line break there (libconfig 1.5 refuses a comment on a last line
 * without one).  Returns 0, or -1 with "FILE:LINE: reason" (or
 * "FILE: reason" for the main file) in err, out then empty.
 */
int confsrc_expand(const struct conf_fs *fs, const char *path,
    const char *text, const char *incdir, size_t budget,
    struct confsrc *out, char *err, size_t errlen);

void confsrc_free(struct confsrc *s);

/*
 * Which file and line line cline of the expanded text came from.  A line
 * outside the text (0, or past the end) is the nearest one in it; an
 * empty text is files[0], line 0.
 */
void confsrc_where(const struct confsrc *s, int cline, const char **file,
    int *fline);

/*
 * The first "@include" in text that libconfig 1.5 would follow, or NULL:
 * its lexer's states followed over the text, independently of the
 * expansion, as the last check before libconfig gets the text.
 */
const char *confsrc_live_include(const char *text);

#endif
