/* SPDX-License-Identifier: ISC */
/*
 * confsrc.c: follow the @include directives of a configuration ourselves
 * and hand libconfig one text (see confsrc.h).  Pure: files are read
 * through a struct conf_fs only.
 *
 * Where @include is honoured is libconfig 1.5's lexer (lib/scanner.l of
 * v1.5), whose states are followed here:
 *
 *   - INITIAL, at the beginning of a line only, "^[ \t]*@include[ \t]+\""
 *     opens the directive; "^" is flex's: the text just before is a
 *     line break ("\n", not "\r"), or it is the start of a file.  "/ *"
 *     opens a comment, '"' a string; "#" and "//" comment out the rest of
 *     the line.  No other token of the grammar holds '"', "#" or "/".
 *   - a comment ends at the first "* /", line breaks and all;
 *   - a string ends at a '"' not escaped: "\\" and "\"" are escapes, a
 *     backslash before anything else is a character of its own;
 *   - the directive's path runs to the closing '"', with the escapes
 *     "\\" and "\""; another backslash is not a token of that state
 *     (flex would copy it to stdout), and is refused here.  After the
 *     closing quote lexing goes on in INITIAL, on the same line but not
 *     at its beginning: a second @include on that line is a syntax error.
 *   - an included file starts at the beginning of a line, and its
 *     directives are honoured 10 deep (MAX_INCLUDE_DEPTH).
 *
 * Where this differs from libconfig, it is on purpose: an absolute path
 * is used as it is (libconfig 1.5 puts the include directory before it
 * too); a path with no closing quote on its line is an error (libconfig
 * reads on across lines, or ignores the directive at the end of the
 * file); an included file must end outside comments and strings (in
 * libconfig the including file would go on in the comment); every file
 * ends with a line break; and the budget and file count are ours.
 *
 * The expanded text is the files' text with each directive (and the
 * blanks before it) replaced by the text of its file.  The rest of the
 * directive's line comes after that text, which ends with a line break,
 * so every line of the expanded text is (a tail of) one line of one
 * file, which the segments map back.  That rest now starts a line: if it
 * is itself a directive, "/ * * /" (a comment) goes before it, so that
 * libconfig sees the syntax error it would have seen.
 *
 * A path whose last component holds '*', '?' or '[' is a pattern, the
 * syntax of libconfig 1.7's include functions (its example4.c): the
 * names of that directory that match it (fnmatch(3), FNM_PERIOD: "*"
 * takes no dotfile), in strcmp() order, are included one after the
 * other, each as if by an @include of its own, in the directive's place.
 * libconfig 1.5 knows no patterns; it would look for a file of that name.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confsrc.h"

/* --------------------------------------------------------- reading a file */

const char *
confsrc_type_reason(mode_t mode)
{
	if (S_ISREG(mode))
		return NULL;
	if (S_ISDIR(mode))
		return "is a directory";
	if (S_ISFIFO(mode))
		return "is a FIFO";
	if (S_ISCHR(mode))
		return "is a character device";
	if (S_ISBLK(mode))
		return "is a block device";
	if (S_ISSOCK(mode))
		return "is a socket";
	if (S_ISLNK(mode))
		return "is a symbolic link";
	return "is not a regular file";
}

int
confsrc_read_file(const struct conf_fs *fs, const char *path, size_t max,
    char **text, size_t *len, char *why, size_t whylen)
{
	const char *type;
	char *buf = NULL, *nbuf;
	size_t n = 0, cap = 0, limit;
	ssize_t r;
	mode_t mode;
	int fd = -1, saved;

	*text = NULL;
	*len = 0;
	/* Read one byte more than allowed, to tell "larger" from "exactly max". */
	limit = max < SIZE_MAX - 1 ? max + 1 : SIZE_MAX - 1;
	/* A FIFO's open() blocks, a device's may do anything: look first. */
	if (fs->stat(fs->arg, path, &mode) == -1)
		goto syserr;
	if ((type = confsrc_type_reason(mode)) != NULL) {
		snprintf(why, whylen, "%s", type);
		return -1;
	}
	if ((fd = fs->open(fs->arg, path)) == -1)
		goto syserr;
	/* What was looked at may have been replaced before the open(). */
	if (fs->fstat(fs->arg, fd, &mode) == -1)
		goto syserr;
	if ((type = confsrc_type_reason(mode)) != NULL) {
		fs->close(fs->arg, fd);
		snprintf(why, whylen, "%s", type);
		return -1;
	}
	while (n < limit) {
		if (n == cap) {
			cap = cap < 4096 ? 8192 : cap * 2;
			if (cap > limit)
				cap = limit;
			if ((nbuf = realloc(buf, cap + 1)) == NULL)
				goto syserr;
			buf = nbuf;
		}
		r = fs->read(fs->arg, fd, buf + n, cap - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			goto syserr;
		if (r == 0)
			break;
		if ((size_t)r > cap - n) {
			errno = EIO;
			goto syserr;
		}
		n += (size_t)r;
	}
	fs->close(fs->arg, fd);
	if (buf == NULL && (buf = malloc(1)) == NULL) {
		snprintf(why, whylen, "%s", strerror(ENOMEM));
		return -1;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
syserr:
	saved = errno;
	if (fd != -1)
		fs->close(fs->arg, fd);
	free(buf);
	snprintf(why, whylen, "%s", strerror(saved));
	return -1;
}

/* ------------------------------------------------------------- the lexer */

enum lex_state { LEX_INITIAL, LEX_COMMENT, LEX_STRING };

/* Where libconfig's lexer is in a file's text. */
struct lex {
	enum lex_state st;
	bool bol;          /* at the beginning of a line, in INITIAL */
	int  line;         /* of p */
	int  opened;       /* line the comment or string began on */
};

/*
 * The length of "[ \t]*@include[ \t]+\"" at p, or 0: the opening of a
 * directive, which libconfig honours at the beginning of a line in
 * INITIAL.
 */
static size_t
include_open(const char *p)
{
	const char *q = p + strspn(p, " \t");
	size_t n;

	if (strncmp(q, "@include", 8) != 0)
		return 0;
	q += 8;
	if ((n = strspn(q, " \t")) == 0 || q[n] != '"')
		return 0;
	return (size_t)(q + n + 1 - p);
}

/*
 * One step of libconfig's lexer at p, not at a directive: the text after
 * the step.  A step is a character, but for the two-character tokens that
 * change the state and a line comment, which is skipped to its line break.
 */
static const char *
lex_step(struct lex *lx, const char *p)
{
	switch (lx->st) {
	case LEX_INITIAL:
		lx->bol = false;
		if (*p == '\n') {
			lx->bol = true;
			lx->line++;
		} else if (*p == '"') {
			lx->st = LEX_STRING;
			lx->opened = lx->line;
		} else if (p[0] == '/' && p[1] == '*') {
			lx->st = LEX_COMMENT;
			lx->opened = lx->line;
			return p + 2;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/'))
			return p + strcspn(p, "\n");
		return p + 1;
	case LEX_COMMENT:
		if (p[0] == '*' && p[1] == '/') {
			lx->st = LEX_INITIAL;
			return p + 2;
		}
		break;
	case LEX_STRING:
		if (p[0] == '\\' && (p[1] == '\\' || p[1] == '"'))
			return p + 2;
		if (*p == '"')
			lx->st = LEX_INITIAL;
		break;
	}
	if (*p == '\n')
		lx->line++;
	return p + 1;
}

const char *
confsrc_live_include(const char *text)
{
	struct lex lx = { LEX_INITIAL, true, 1, 0 };
	const char *p = text;

	while (*p != '\0') {
		if (lx.st == LEX_INITIAL && lx.bol && include_open(p) > 0)
			return p;
		p = lex_step(&lx, p);
	}
	return NULL;
}

/* --------------------------------------------------------- the expansion */

struct expander {
	const struct conf_fs *fs;
	const char *incdir;
	size_t      budget;
	struct confsrc *s;     /* text (out, cap), files, segments */
	size_t      cap, segcap, filecap;
	int         cline;     /* the line being written: 1 + line breaks so far */
	char       *err;
	size_t      errlen;
	size_t      listed;    /* names read from directories, of CONFSRC_MAX_LISTED */
};

static void ex_err(struct expander *, size_t, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));

/* "FILE:LINE: message" ("FILE: message" for line 0), FILE being files[file]. */
static void
ex_err(struct expander *ex, size_t file, int line, const char *fmt, ...)
{
	const char *name = ex->s->files[file];
	va_list ap;
	int n;

	if (ex->errlen == 0)
		return;
	if (line > 0)
		n = snprintf(ex->err, ex->errlen, "%s:%d: ", name, line);
	else
		n = snprintf(ex->err, ex->errlen, "%s: ", name);
	if (n < 0 || (size_t)n >= ex->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(ex->err + n, ex->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static int
ex_oom(struct expander *ex, size_t file, int line)
{
	ex_err(ex, file, line, "out of memory");
	return -1;
}

/* Append n bytes to the text. */
static int
ex_put(struct expander *ex, size_t file, int line, const char *p, size_t n)
{
	struct confsrc *s = ex->s;
	const char *q, *end = p + n;
	size_t cap;
	char *t;

	if (n == 0)
		return 0;
	if (s->len + n + 1 > ex->cap) {
		for (cap = ex->cap ? ex->cap : 4096; cap < s->len + n + 1; cap *= 2)
			;
		if ((t = realloc(s->text, cap)) == NULL)
			return ex_oom(ex, file, line);
		s->text = t;
		ex->cap = cap;
	}
	memcpy(s->text + s->len, p, n);
	s->len += n;
	s->text[s->len] = '\0';
	for (q = p; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++)
		ex->cline++;
	return 0;
}

/* From the line being written on, lines are file's from fline on. */
static int
ex_seg(struct expander *ex, size_t file, int fline)
{
	struct confsrc *s = ex->s;
	struct confsrc_seg *last = s->nsegs > 0 ? &s->segs[s->nsegs - 1] : NULL, *v;

	/* Already so: the one before goes on. */
	if (last != NULL && last->file == file &&
	    last->fline + (ex->cline - last->cline) == fline)
		return 0;
	/* Nothing written since the one before: it had no line. */
	if (last != NULL && last->cline == ex->cline) {
		last->file = file;
		last->fline = fline;
		return 0;
	}
	if (s->nsegs == ex->segcap) {
		ex->segcap = ex->segcap ? ex->segcap * 2 : 16;
		if ((v = realloc(s->segs, ex->segcap * sizeof(*v))) == NULL)
			return -1;
		s->segs = v;
	}
	s->segs[s->nsegs++] = (struct confsrc_seg){ ex->cline, fline, file };
	return 0;
}

/* A new entry of files: its index, or -1. */
static int
ex_add_file(struct expander *ex, const char *name, size_t *index)
{
	struct confsrc *s = ex->s;
	char **v;

	if (s->nfiles == ex->filecap) {
		ex->filecap = ex->filecap ? ex->filecap * 2 : 8;
		if ((v = realloc(s->files, ex->filecap * sizeof(*v))) == NULL)
			return -1;
		s->files = v;
	}
	if ((s->files[s->nfiles] = strdup(name)) == NULL)
		return -1;
	*index = s->nfiles++;
	return 0;
}

/*
 * The path of a directive, from p (after its opening quote) to the
 * closing one, unescaped into path; *end gets the text after the quote.
 * NULL, or why the path is refused.
 */
static const char *
include_path(const char *p, char *path, size_t size, const char **end)
{
	size_t n = 0;

	for (;; p++) {
		if (*p == '"')
			break;
		if (*p == '\n' || *p == '\0')
			return "@include path with no closing quote on its line";
		if (*p == '\\') {
			if (p[1] != '\\' && p[1] != '"')
				return "@include path with a backslash before "
				    "something else than \\ or \"";
			p++;
		}
		if (n + 1 >= size)
			return "@include path too long";
		path[n++] = *p;
	}
	path[n] = '\0';
	*end = p + 1;
	return n == 0 ? "@include path is empty" : NULL;
}

static int ex_file(struct expander *, size_t, const char *, int);

/*
 * Whether an @include of path (as written) at depth may read one more
 * file: 10 deep, as libconfig, and CONFSRC_MAX_FILES in all.  where is
 * " (the file)" for a pattern's match, "" otherwise.
 */
static int
ex_limits(struct expander *ex, size_t file, int line, const char *path,
    const char *where, int depth)
{
	/* As libconfig: a file 10 deep includes nothing more. */
	if (depth >= CONFSRC_MAX_DEPTH) {
		ex_err(ex, file, line, "@include \"%s\"%s: nested more than %d "
		    "deep (does a file include itself?)", path, where,
		    CONFSRC_MAX_DEPTH);
		return -1;
	}
	if (ex->s->nfiles >= CONFSRC_MAX_FILES) {
		ex_err(ex, file, line, "@include \"%s\"%s: more than %d files "
		    "to read", path, where, CONFSRC_MAX_FILES);
		return -1;
	}
	return 0;
}

/*
 * The file full, which the @include of path at line of files[file]
 * names, in the directive's place: read within what is left of the
 * budget, then expanded, depth + 1 deep.  where is " (full)" when that is
 * not path, for the messages.
 */
static int
ex_read(struct expander *ex, size_t file, int line, const char *path,
    const char *full, const char *where, int depth)
{
	char why[256], *text;
	size_t len, max, index;
	int rc;

	max = ex->budget - ex->s->bytes;
	if (confsrc_read_file(ex->fs, full, max, &text, &len, why,
	    sizeof(why)) == -1) {
		ex_err(ex, file, line, "@include \"%s\"%s: %s", path, where, why);
		return -1;
	}
	if (len > max || memchr(text, '\0', len) != NULL) {
		if (len > max)
			ex_err(ex, file, line, "@include \"%s\"%s: the "
			    "configuration with its includes would be larger "
			    "than %zu bytes", path, where, ex->budget);
		else
			ex_err(ex, file, line, "@include \"%s\"%s: contains a "
			    "NUL byte", path, where);
		free(text);
		return -1;
	}
	ex->s->bytes += len;
	if (ex_add_file(ex, full, &index) == -1) {
		free(text);
		return ex_oom(ex, file, line);
	}
	rc = ex_file(ex, index, text, depth + 1);
	free(text);
	return rc;
}

/* The names of a pattern's directory that match it (dir_each). */
struct dirlist {
	const char *pattern;    /* the last component */
	char      **names;
	size_t      n, cap;
	size_t      seen;       /* names read, "." and ".." aside */
	size_t      left;       /* of CONFSRC_MAX_LISTED, names this listing may read */
	bool        full;       /* more than CONFSRC_MAX_DIRENTS */
	bool        spent;      /* more than CONFSRC_MAX_LISTED in all */
	bool        oom;
};

static int
dir_each(void *ctx, const char *name)
{
	struct dirlist *dl = ctx;
	char **v;

	if (dl->left == 0) {
		dl->spent = true;
		return 1;
	}
	dl->left--;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	if (++dl->seen > CONFSRC_MAX_DIRENTS) {
		dl->full = true;
		return 1;
	}
	/* A layer's name is one component; FNM_PERIOD: no dotfiles for "*". */
	if (name[0] == '\0' || strchr(name, '/') != NULL ||
	    fnmatch(dl->pattern, name, FNM_PERIOD) != 0)
		return 0;
	if (dl->n == dl->cap) {
		dl->cap = dl->cap ? dl->cap * 2 : 16;
		if ((v = realloc(dl->names, dl->cap * sizeof(*v))) == NULL) {
			dl->oom = true;
			return 1;
		}
		dl->names = v;
	}
	if ((dl->names[dl->n] = strdup(name)) == NULL) {
		dl->oom = true;
		return 1;
	}
	dl->n++;
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The @include of path at line of files[file] holds a pattern in its
 * last component, and full is where it is looked for: each name of the
 * directory that matches, in strcmp() order (bytes, whatever the
 * locale), as if by an @include of its own.  The directory is listed,
 * and closed, before any of them is read.  A directory that cannot be
 * listed is an error (a typo must not include nothing); one where
 * nothing matches includes nothing (an empty conf.d is the usual).
 */
static int
ex_glob(struct expander *ex, size_t file, int line, const char *path,
    const char *full, int depth)
{
	char dir[CONFSRC_MAX_PATH], match[CONFSRC_MAX_PATH];
	char where[CONFSRC_MAX_PATH + 4];
	struct dirlist dl;
	const char *slash = strrchr(full, '/');
	size_t i, pre;
	int rc = -1, n;

	memset(&dl, 0, sizeof(dl));
	/* "conf.d/ *.conf" in dir "conf.d", a match "conf.d/NAME"; "/ *" in "/". */
	if (slash == NULL) {
		snprintf(dir, sizeof(dir), ".");
		pre = 0;
	} else {
		pre = (size_t)(slash - full) + 1;
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash == full ? 1 :
		    pre - 1), full);
	}
	dl.pattern = full + pre;
	dl.left = CONFSRC_MAX_LISTED - ex->listed;
	rc = ex->fs->list(ex->fs->arg, dir, dir_each, &dl);
	ex->listed = CONFSRC_MAX_LISTED - dl.left;
	if (rc == -1) {
		ex_err(ex, file, line, "@include \"%s\": cannot list "
		    "directory %s: %s", path, dir, strerror(errno));
		goto out;
	}
	rc = -1;
	if (dl.spent) {
		ex_err(ex, file, line, "@include \"%s\": more than %d directory "
		    "entries to list in all", path, CONFSRC_MAX_LISTED);
		goto out;
	}
	if (dl.oom) {
		ex_oom(ex, file, line);
		goto out;
	}
	if (dl.full) {
		ex_err(ex, file, line, "@include \"%s\": directory %s has more "
		    "than %d entries", path, dir, CONFSRC_MAX_DIRENTS);
		goto out;
	}
	if (dl.n > 1)
		qsort(dl.names, dl.n, sizeof(*dl.names), name_cmp);
	for (i = 0; i < dl.n; i++) {
		n = snprintf(match, sizeof(match), "%.*s%s", (int)pre, full,
		    dl.names[i]);
		if (n < 0 || (size_t)n >= sizeof(match)) {
			ex_err(ex, file, line, "@include \"%s\": %s in %s: path "
			    "too long", path, dl.names[i], dir);
			goto out;
		}
		snprintf(where, sizeof(where), " (%s)", match);
		if (ex_limits(ex, file, line, path, where, depth) == -1 ||
		    ex_read(ex, file, line, path, match, where, depth) == -1)
			goto out;
	}
	rc = 0;
out:
	for (i = 0; i < dl.n; i++)
		free(dl.names[i]);
	free(dl.names);
	return rc;
}

/*
 * The directive of files[file] at line, whose path starts at p: the text
 * of the file it names, or of those its pattern matches, goes in its
 * place; *end gets the text after it.
 */
static int
ex_include(struct expander *ex, size_t file, int line, const char *p,
    int depth, const char **end)
{
	char path[CONFSRC_MAX_PATH], full[CONFSRC_MAX_PATH];
	char where[CONFSRC_MAX_PATH + 4];
	const char *bad, *sep, *slash;
	bool pattern;
	size_t len;
	int rc;

	if ((bad = include_path(p, path, sizeof(path), end)) != NULL) {
		ex_err(ex, file, line, "%s", bad);
		return -1;
	}
	/* A pattern is matched against the names of one directory, not a tree. */
	slash = strrchr(path, '/');
	if (slash != NULL && strcspn(path, "*?[") < (size_t)(slash - path)) {
		ex_err(ex, file, line, "@include \"%s\": a pattern ('*', '?' or "
		    "'[') only in the last component of the path", path);
		return -1;
	}
	pattern = strpbrk(slash != NULL ? slash + 1 : path, "*?[") != NULL;
	if (!pattern && ex_limits(ex, file, line, path, "", depth) == -1)
		return -1;
	if (path[0] == '/' || ex->incdir == NULL)
		rc = snprintf(full, sizeof(full), "%s", path);
	else {
		len = strlen(ex->incdir);
		sep = len > 0 && ex->incdir[len - 1] == '/' ? "" : "/";
		rc = snprintf(full, sizeof(full), "%s%s%s", ex->incdir, sep, path);
	}
	if (rc < 0 || (size_t)rc >= sizeof(full)) {
		ex_err(ex, file, line, "@include \"%s\": path too long", path);
		return -1;
	}
	if (pattern)
		return ex_glob(ex, file, line, path, full, depth);
	/* "(/etc/upcased/inc.conf)" after a relative path: where it was looked for. */
	if (strcmp(path, full) != 0)
		snprintf(where, sizeof(where), " (%s)", full);
	else
		where[0] = '\0';
	return ex_read(ex, file, line, path, full, where, depth);
}

/*
 * The text of files[file], depth includes deep, into the expanded text,
 * its directives followed.
 */
static int
ex_file(struct expander *ex, size_t file, const char *text, int depth)
{
	struct lex lx = { LEX_INITIAL, true, 1, 0 };
	const char *p = text, *from = text;
	struct confsrc *s = ex->s;

	if (ex_seg(ex, file, 1) == -1)
		return ex_oom(ex, file, 0);
	while (*p != '\0') {
		if (!(lx.st == LEX_INITIAL && lx.bol && include_open(p) > 0)) {
			p = lex_step(&lx, p);
			continue;
		}
		/* The text before, but for the directive's blanks. */
		if (ex_put(ex, file, lx.line, from, (size_t)(p - from)) == -1 ||
		    ex_include(ex, file, lx.line, p + include_open(p), depth,
		    &p) == -1)
			return -1;
		/* The rest of the line, where the included text ended. */
		from = p;
		lx.bol = false;
		if (ex_seg(ex, file, lx.line) == -1)
			return ex_oom(ex, file, lx.line);
		if (include_open(p) > 0 &&
		    ex_put(ex, file, lx.line, "/**/", 4) == -1)
			return -1;
	}
	if (depth > 0 && lx.st != LEX_INITIAL) {
		ex_err(ex, file, lx.opened, "%s not closed at the end of the "
		    "file (an included file must close its comments and "
		    "strings)", lx.st == LEX_COMMENT ? "comment" : "string");
		return -1;
	}
	if (ex_put(ex, file, lx.line, from, (size_t)(p - from)) == -1)
		return -1;
	if (s->len > 0 && s->text[s->len - 1] != '\n')
		return ex_put(ex, file, lx.line, "\n", 1);
	return 0;
}

int
confsrc_expand(const struct conf_fs *fs, const char *path, const char *text,
    const char *incdir, size_t budget, struct confsrc *out, char *err,
    size_t errlen)
{
	struct expander ex = { fs, incdir, budget, out, 0, 0, 0, 1, err, errlen, 0 };
	char why[256], *buf = NULL;
	size_t len, index;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (errlen > 0)
		err[0] = '\0';
	if (ex_add_file(&ex, path, &index) == -1) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	if (text == NULL) {
		if (confsrc_read_file(fs, path, budget, &buf, &len, why,
		    sizeof(why)) == -1) {
			ex_err(&ex, 0, 0, "%s", why);
			goto out;
		}
		if (len <= budget && memchr(buf, '\0', len) != NULL) {
			/* It would hide the rest of the file from libconfig. */
			ex_err(&ex, 0, 0, "contains a NUL byte");
			goto out;
		}
		text = buf;
	} else
		len = strlen(text);
	if (len > budget) {
		ex_err(&ex, 0, 0, "larger than %zu bytes", budget);
		goto out;
	}
	out->bytes = len;
	if (ex_file(&ex, 0, text, 0) == -1)
		goto out;
	if (out->text == NULL && (out->text = calloc(1, 1)) == NULL) {
		ex_oom(&ex, 0, 0);
		goto out;
	}
	out->lines = ex.cline - 1;
	rc = 0;
out:
	free(buf);
	if (rc == -1)
		confsrc_free(out);
	return rc;
}

void
confsrc_free(struct confsrc *s)
{
	size_t i;

	for (i = 0; i < s->nfiles; i++)
		free(s->files[i]);
	free(s->files);
	free(s->segs);
	free(s->text);
	memset(s, 0, sizeof(*s));
}

void
confsrc_where(const struct confsrc *s, int cline, const char **file,
    int *fline)
{
	size_t lo = 0, hi = s->nsegs, mid;
	const struct confsrc_seg *g;

	*file = s->nfiles > 0 ? s->files[0] : "";
	*fline = 0;
	if (s->nsegs == 0 || s->lines == 0)
		return;
	if (cline > s->lines)
		cline = s->lines;
	if (cline < 1)
		cline = 1;
	/* The last segment starting at or before cline. */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (s->segs[mid].cline <= cline)
			lo = mid;
		else
			hi = mid;
	}
	g = &s->segs[lo];
	*file = s->files[g->file];
	*fline = g->fline + (cline - g->cline);
}
