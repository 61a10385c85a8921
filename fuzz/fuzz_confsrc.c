/* SPDX-License-Identifier: ISC */
/*
 * fuzz_confsrc.c: fuzz target for the config reader over file trees:
 * confsrc_expand() (src/confsrc.c) with the fake file layer of
 * tests/fakefs.h, then conf_load_src() (src/conf.c) on what it gives.
 *
 * The input is a small tree of files.  A line starting with "%%" starts
 * a file: "%%NAME WORD...", its text on the lines up to the next such
 * line.  NAME is a path, relative ones under the include directory /c.
 * The WORDs make it odd: dir fifo chr blk sock lnk (what stat() says),
 * loop noent (stat() fails with ELOOP, ENOENT), acces vanish (open()
 * fails with EACCES, ENOENT: it went away after the stat()), swapfifo
 * swapdir (fstat() says so: it was swapped), eio (read() fails),
 * nolist (listing it, a directory, fails with EACCES),
 * chunkN (read() gives N bytes at most), bigN (comment lines are added
 * up to N bytes); and budgetN, in any header, sets the byte budget
 * (default 1 MiB).  The main file is /c/main.conf: if the input starts
 * with a header, that one is the main file's (its NAME is not looked at)
 * and it is read through the layer, as conf_load() does; otherwise the
 * text before the first header is the main file's text, passed as
 * conf_load_string() does.  Directories are fakefs.h's: a "dir" file
 * or any path with files below it, so that "@include \"d/ *.conf\""
 * patterns (written without the blank) list them.
 *
 * Whatever the tree, nothing may crash or leak, no open() may be of what
 * stat() did not call a regular file, every open handle is closed, and:
 *  - the expansion, when it succeeds, is a NUL-terminated text ending
 *    with a line break, within the budget (one byte more for the line
 *    break added at the end), holding no @include that libconfig 1.5
 *    would follow: confsrc_live_include() finds none, and libconfig,
 *    told to look for includes under /dev/null, never says "cannot open
 *    include file"; each of its lines maps to a line of a file of the
 *    tree, of which it is a tail;
 *  - where @include is honoured in each file of the tree agrees with
 *    libconfig 1.5 itself (the line it would open one on);
 *  - every error message, of the expansion or of the parse, is
 *    "FILE: reason" or "FILE:LINE: reason" with FILE the main file or a
 *    file of the tree and LINE inside that file, and a short buffer gets
 *    a prefix of it.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "conf.h"
#include "confsrc.h"
#include "fuzz.h"
#include "../tests/fakefs.h"

#define MAIN     "/c/main.conf"
#define INCDIR   "/c"
#define MAXFILES 32
#define MAXBIG   (2 * 1024 * 1024)

struct ftree {
	struct fakefs fs;
	size_t budget;
	bool   main_read;   /* the main file is read through the layer */
};

static struct ftree tree;

/* The layer: tests/fakefs.h over tree.fs, failing with fuzz_fail(). */
static const struct conf_fs fake = {
	fakefs_stat, fakefs_open, fakefs_fstat, fakefs_read, fakefs_close,
	fakefs_list, &tree.fs
};

/* ------------------------------------------------------------ the input */

static size_t
word_num(const char *w, size_t len, const char *prefix, size_t max)
{
	size_t plen = strlen(prefix), v = 0, i;

	for (i = plen; i < len && isdigit((unsigned char)w[i]); i++)
		if ((v = v * 10 + (size_t)(w[i] - '0')) > max)
			v = max;
	return v;
}

/* The words of a header (after its name) onto f. */
static void
header_words(struct fakefs_file *f, const char *p, const char *end)
{
	const char *w;
	size_t n;

	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		for (w = p; p < end && *p != ' ' && *p != '\t'; p++)
			;
		n = (size_t)(p - w);
#define IS(s) (n == strlen(s) && memcmp(w, s, n) == 0)
#define HAS(s) (n > strlen(s) && memcmp(w, s, strlen(s)) == 0)
		if (IS("dir"))
			f->mode = S_IFDIR | 0755;
		else if (IS("fifo"))
			f->mode = S_IFIFO | 0644;
		else if (IS("chr"))
			f->mode = S_IFCHR | 0666;
		else if (IS("blk"))
			f->mode = S_IFBLK | 0660;
		else if (IS("sock"))
			f->mode = S_IFSOCK | 0755;
		else if (IS("lnk"))
			f->mode = S_IFLNK | 0777;
		else if (IS("loop"))
			f->stat_errno = ELOOP;
		else if (IS("noent"))
			f->stat_errno = ENOENT;
		else if (IS("acces"))
			f->open_errno = EACCES;
		else if (IS("vanish"))
			f->open_errno = ENOENT;
		else if (IS("swapfifo"))
			f->fmode = S_IFIFO | 0644;
		else if (IS("swapdir"))
			f->fmode = S_IFDIR | 0755;
		else if (IS("eio"))
			f->read_errno = EIO;
		else if (IS("nolist"))
			f->list_errno = EACCES;
		else if (HAS("chunk"))
			f->chunk = word_num(w, n, "chunk", 1 << 20);
		else if (HAS("big"))
			f->len = word_num(w, n, "big", MAXBIG);	/* filled in below */
		else if (HAS("budget"))
			tree.budget = word_num(w, n, "budget", CONF_MAX_FILE_SIZE);
#undef IS
#undef HAS
	}
}

/*
 * A file of the tree, named name (nlen bytes), with the words of its
 * header (hdr to hend), and text; a "big" one is padded with comment lines.
 */
static void
add_file(const char *name, size_t nlen, const char *hdr, const char *hend,
    const char *text, size_t tlen)
{
	struct fakefs_file *f;
	size_t i, size, pre;
	char *path, *t;

	if (tree.fs.n == MAXFILES)
		return;
	f = &tree.fs.f[tree.fs.n++];
	memset(f, 0, sizeof(*f));
	f->mode = S_IFREG | 0644;
	pre = nlen > 0 && name[0] == '/' ? 0 : strlen(INCDIR "/");
	path = xmalloc(pre + nlen + 1);
	memcpy(path, INCDIR "/", pre);
	memcpy(path + pre, name, nlen);
	path[pre + nlen] = '\0';
	f->path = path;
	header_words(f, hdr, hend);
	size = f->len > tlen ? f->len : tlen;
	t = xmalloc(size + 1);
	memcpy(t, text, tlen);
	for (i = tlen; i < size; i++)
		t[i] = (i - tlen) % 64 == 0 ? '\n' :
		    (i - tlen) % 64 == 1 ? '#' : 'x';
	t[size] = '\0';
	f->text = t;
	f->len = size;
}

/* Split data into the tree; the main file first, at MAIN. */
static void
parse_input(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *line, *eol;
	const char *name = MAIN, *hdr = "", *hend = hdr, *body = p;
	size_t nlen = strlen(MAIN);

	memset(&tree, 0, sizeof(tree));
	tree.fs.on_fail = fuzz_fail;
	tree.budget = CONF_MAX_FILE_SIZE;
	for (line = p; line < end; line = eol + 1) {
		if ((eol = memchr(line, '\n', (size_t)(end - line))) == NULL)
			eol = end;
		if (eol - line < 2 || line[0] != '%' || line[1] != '%')
			continue;
		/* A header: the text before it is the file before's. */
		if (line == p)
			tree.main_read = true;
		else
			add_file(name, nlen, hdr, hend, body, (size_t)(line - body));
		/* The name runs to a blank or the line's end (data has no NUL at the end). */
		for (hdr = line + 2; hdr < eol && *hdr != ' ' && *hdr != '\t'; hdr++)
			;
		hend = eol;
		if (line != p) {
			name = line + 2;
			nlen = (size_t)(hdr - name);
		}
		body = eol < end ? eol + 1 : end;
	}
	add_file(name, nlen, hdr, hend, body, (size_t)(end - body));
}

static void
free_tree(void)
{
	size_t i;

	for (i = 0; i < tree.fs.n; i++) {
		if (tree.fs.f[i].open)
			fuzz_fail("%s left open", tree.fs.f[i].path);
		free((char *)tree.fs.f[i].path);	/* add_file's */
		free((char *)tree.fs.f[i].text);
	}
	if (tree.fs.opened != tree.fs.closed)
		fuzz_fail("%d opened, %d closed", tree.fs.opened, tree.fs.closed);
}

/* ------------------------------------------------------------ checking */

/* Lines of a text as an editor counts them. */
static int
count_lines(const char *text, size_t len)
{
	int n = 0;
	size_t i;

	for (i = 0; i < len; i++)
		n += text[i] == '\n';
	return n + (len > 0 && text[len - 1] != '\n');
}

/* The text of a file name a message or the map may use. */
static const struct fakefs_file *
known(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < tree.fs.n; i++)
		if (strlen(tree.fs.f[i].path) == len && memcmp(tree.fs.f[i].path, name, len) == 0)
			return &tree.fs.f[i];
	return NULL;
}

/*
 * The closing quote of a directive's path from p, as libconfig's INCLUDE
 * state finds it: "\\" and "\"" are escapes, another backslash is
 * skipped (flex's default rule); NULL if there is none.
 */
static const char *
include_close(const char *p)
{
	for (; *p != '\0'; p++) {
		if (*p == '"')
			return p;
		if (*p == '\\' && (p[1] == '\\' || p[1] == '"'))
			p++;
	}
	return NULL;
}

/* The line libconfig stops at to open an include (under /dev/null: it cannot), or 0. */
static int
libconfig_include_line(const char *text, bool *failed)
{
	config_t cfg;
	int line = 0;

	config_init(&cfg);
	config_set_include_dir(&cfg, "/dev/null");
	*failed = !config_read_string(&cfg, text);
	if (*failed && config_error_text(&cfg) != NULL &&
	    strcmp(config_error_text(&cfg), "cannot open include file") == 0)
		line = config_error_line(&cfg);
	config_destroy(&cfg);
	return line;
}

/* Where the first live @include is, by us and by libconfig. */
static void
check_live(const struct fakefs_file *f)
{
	const char *p;
	bool failed;
	int ours, theirs;

	if (memchr(f->text, '\0', f->len) != NULL)
		return;
	/*
	 * libconfig names the line of the closing quote (its path may run
	 * across lines), and does nothing with a directive that has none.
	 */
	ours = 0;
	if ((p = confsrc_live_include(f->text)) != NULL &&
	    (p = include_close(p + strcspn(p, "\"") + 1)) != NULL)
		ours = fakefs_line_at(f->text, p);
	theirs = libconfig_include_line(f->text, &failed);
	if (theirs != 0 && ours != theirs)
		fuzz_fail("%s: libconfig opens an @include on line %d, "
		    "confsrc_live_include() says %d", f->path, theirs, ours);
	if (ours != 0 && !failed)
		fuzz_fail("%s: an @include on line %d, which libconfig did not "
		    "follow", f->path, ours);
}

/* "FILE: reason" or "FILE:LINE: reason", FILE in the tree, LINE in it. */
static void
check_message(const char *err, size_t errlen, const char *what)
{
	const struct fakefs_file *f = NULL;
	const char *p, *colon;
	unsigned long line;
	char *end;

	if (memchr(err, '\0', errlen) == NULL)
		fuzz_fail("%s: message not NUL-terminated", what);
	/* The longest known name followed by ':'. */
	for (p = err; (colon = strchr(p, ':')) != NULL; p = colon + 1)
		if (known(err, (size_t)(colon - err)) != NULL)
			f = known(err, (size_t)(colon - err)), p = colon;
	if (f == NULL)
		fuzz_fail("%s: \"%s\" names no file of the tree", what, err);
	p = err + strlen(f->path);
	if (p[1] != ' ') {
		line = strtoul(p + 1, &end, 10);
		if (!isdigit((unsigned char)p[1]) || *end != ':' || line < 1 ||
		    line > (unsigned long)count_lines(f->text, f->len))
			fuzz_fail("%s: \"%s\": bad line (%s has %d)", what, err,
			    f->path, count_lines(f->text, f->len));
		p = end;
	}
	if (p[1] != ' ' || p[2] == '\0')
		fuzz_fail("%s: \"%s\": no reason", what, err);
}

/* The invariants of an expansion that succeeded. */
static void
check_src(const struct confsrc *s)
{
	const struct fakefs_file *f, *last_f = NULL;
	const char *file, *p, *q, *t, *last_q = NULL;
	size_t n, k, i;
	bool failed;
	int cl, fl, j, last_line = 0;

	if (s->text == NULL || strlen(s->text) != s->len)
		fuzz_fail("text length %zu", s->len);
	if (s->len > 0 && s->text[s->len - 1] != '\n')
		fuzz_fail("text does not end with a line break");
	if (s->bytes > tree.budget || s->len > s->bytes + 1)
		fuzz_fail("%zu bytes read, %zu of text, budget %zu", s->bytes,
		    s->len, tree.budget);
	if ((p = confsrc_live_include(s->text)) != NULL)
		fuzz_fail("a live @include left on line %d", fakefs_line_at(s->text, p));
	if (libconfig_include_line(s->text, &failed) != 0)
		fuzz_fail("libconfig would open an @include in the text");
	if (s->nfiles < 1 || s->nfiles > CONFSRC_MAX_FILES ||
	    strcmp(s->files[0], MAIN) != 0)
		fuzz_fail("files: %zu, the first %s", s->nfiles,
		    s->nfiles ? s->files[0] : "-");
	for (i = 0; i < s->nfiles; i++)
		if (known(s->files[i], strlen(s->files[i])) == NULL)
			fuzz_fail("file %s is not in the tree", s->files[i]);
	/* Each line a tail of the line it maps to. */
	for (cl = 1, p = s->text; cl <= s->lines; cl++, p += n + 1) {
		n = strcspn(p, "\n");
		if (p[n] != '\n')
			fuzz_fail("line %d past the end of the text", cl);
		confsrc_where(s, cl, &file, &fl);
		f = known(file, strlen(file));
		if (f == NULL || fl < 1)
			fuzz_fail("line %d maps to %s:%d", cl, file, fl);
		/* From the line found last, if it is before: lines mostly come in order. */
		if (f == last_f && fl >= last_line)
			j = last_line, q = last_q;
		else
			j = 1, q = f->text;
		for (; j < fl && q != NULL; j++)
			if ((q = memchr(q, '\n', (size_t)(f->text + f->len - q))) != NULL)
				q++;
		last_f = f;
		last_line = fl;
		last_q = q;
		if (q == NULL || q >= f->text + f->len)
			fuzz_fail("line %d maps to %s:%d, past its end", cl, file, fl);
		k = strcspn(q, "\n");
		t = n >= 4 && memcmp(p, "/**/", 4) == 0 ? p + 4 : p;
		if ((size_t)(p + n - t) > k ||
		    memcmp(q + k - (size_t)(p + n - t), t, (size_t)(p + n - t)) != 0)
			fuzz_fail("line %d is not a tail of %s:%d", cl, file, fl);
	}
	if ((size_t)(p - s->text) != s->len)
		fuzz_fail("%d lines do not cover the text", s->lines);
}

/* A short buffer: truncated, terminated, a prefix of the full message. */
static void
check_short(const struct confsrc *s, const char *full, size_t errlen)
{
	char *err = xmalloc(errlen);
	struct conf *c;

	memset(err, 'x', errlen);
	if ((c = conf_load_src(s, err, errlen)) != NULL)
		fuzz_fail("second load succeeded");
	if (memchr(err, '\0', errlen) == NULL || strncmp(err, full, errlen - 1) != 0)
		fuzz_fail("message in %zu bytes is not a prefix of \"%s\"",
		    errlen, full);
	free(err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct confsrc src;
	char err[1024];
	struct conf *c;
	size_t i;
	int rc;

	parse_input(data, size);
	for (i = 0; i < tree.fs.n; i++)
		check_live(&tree.fs.f[i]);
	memset(err, 'x', sizeof(err));
	if (tree.main_read)
		rc = confsrc_expand(&fake, MAIN, NULL, INCDIR, tree.budget, &src,
		    err, sizeof(err));
	else if (memchr(tree.fs.f[0].text, '\0', tree.fs.f[0].len) != NULL)
		rc = -2;	/* conf_load_string() takes a C string */
	else
		rc = confsrc_expand(&fake, MAIN, tree.fs.f[0].text, INCDIR,
		    tree.budget, &src, err, sizeof(err));
	if (rc == -1) {
		check_message(err, sizeof(err), "expand");
		if (src.text != NULL || src.files != NULL || src.segs != NULL)
			fuzz_fail("a failed expansion left something");
	} else if (rc == 0) {
		check_src(&src);
		memset(err, 'x', sizeof(err));
		if ((c = conf_load_src(&src, err, sizeof(err))) != NULL) {
			if (strcmp(c->path, MAIN) != 0)
				fuzz_fail("path %s", c->path);
			/* The default listener is in no file; the others in one of the tree. */
			for (i = 0; i < c->nlisteners; i++)
				if (c->listeners[i].file == NULL ?
				    c->listeners[i].line != 0 :
				    known(c->listeners[i].file,
				    strlen(c->listeners[i].file)) == NULL)
					fuzz_fail("listener %zu in no file", i);
			conf_free(c);
		} else {
			check_message(err, sizeof(err), "parse");
			check_short(&src, err, 1 + size % 24);
		}
		confsrc_free(&src);
	}
	free_tree();
	return 0;
}
