/* SPDX-License-Identifier: ISC */
/*
 * test_confsrc.c: unit tests of confsrc.c, the @include expander, over a
 * fake file tree (struct conf_fs), and of the real file layer over a
 * temporary directory.  Every expansion that succeeds is held to the
 * invariants of confsrc.h (check_src): no @include left that libconfig
 * would follow, each line of the text a tail of the line of the file it
 * is mapped to.  Where @include is honoured is checked against libconfig
 * 1.5 itself: told to look for includes under /dev/null, it fails with
 * "cannot open include file" exactly where it would have followed one.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libconfig.h>

#include "conf.h"
#include "confsrc.h"
#include "fakefs.h"

#define MAIN   "/c/main.conf"
#define INCDIR "/c"

/* ---------------------------------------------------------- the fake tree */

/*
 * The tree is tests/fakefs.h's, failing with fail_msg(); what only these
 * tests count (calls to stat, open and read, failed ones too) is counted
 * here, around its callbacks.
 */
struct fake_fs {
	struct fakefs tree;
	char  *big[FAKEFS_MAX]; /* the generated texts */
	int    stats, opens, reads;   /* calls; opens that failed too */
};

static struct fake_fs fs;

static void fake_fail(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
fake_fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fail_msg("%s", msg);
}

static void
fake_reset(void)
{
	size_t i;

	for (i = 0; i < FAKEFS_MAX; i++)
		free(fs.big[i]);
	memset(&fs, 0, sizeof(fs));
	fs.tree.on_fail = fake_fail;
}

static struct fakefs_file *
fake_add(const char *path, const char *text)
{
	struct fakefs_file *f;

	assert_true(fs.tree.n < FAKEFS_MAX);
	f = &fs.tree.f[fs.tree.n++];
	memset(f, 0, sizeof(*f));
	f->path = path;
	f->text = text;
	f->mode = S_IFREG | 0644;
	return f;
}

/* A regular file of size bytes of comment lines. */
static struct fakefs_file *
fake_add_big(const char *path, size_t size)
{
	struct fakefs_file *f = fake_add(path, NULL);
	char *t = malloc(size + 1);
	size_t i;

	assert_non_null(t);
	for (i = 0; i < size; i++)
		t[i] = i % 64 == 63 ? '\n' : i % 64 == 0 ? '#' : 'x';
	t[size] = '\0';
	fs.big[fs.tree.n - 1] = t;
	f->text = t;
	f->len = size;
	return f;
}

static int
fake_stat(void *arg, const char *path, mode_t *mode)
{
	fs.stats++;
	return fakefs_stat(arg, path, mode);
}

static int
fake_open(void *arg, const char *path)
{
	fs.opens++;
	return fakefs_open(arg, path);
}

static ssize_t
fake_read(void *arg, int fd, void *buf, size_t len)
{
	fs.reads++;
	return fakefs_read(arg, fd, buf, len);
}

static const struct conf_fs fake = {
	fake_stat, fake_open, fakefs_fstat, fake_read, fakefs_close, fakefs_list,
	&fs.tree
};

/* ------------------------------------------------------------- checking */

/*
 * Line n (from 1) of text, without its line break, into buf; NULL past
 * the end.  The line starts of the last text asked about are kept, so
 * that going through a text line by line is not quadratic.
 */
static const char *
line_of(const char *text, int n, char *buf, size_t len)
{
	static const char *cached, **starts;
	static int nstarts;
	const char *p;
	size_t k;

	if (text == NULL) {	/* forget: the texts may be freed */
		cached = NULL;
		return NULL;
	}
	if (text != cached) {
		free(starts);
		nstarts = 1;
		for (p = text; (p = strchr(p, '\n')) != NULL; p++)
			nstarts++;
		assert_non_null(starts = malloc(nstarts * sizeof(*starts)));
		starts[0] = text;
		for (nstarts = 1, p = text; (p = strchr(p, '\n')) != NULL; p++)
			starts[nstarts++] = p + 1;
		cached = text;
	}
	if (n < 1 || n > nstarts || (n == nstarts && *starts[n - 1] == '\0'))
		return NULL;
	p = starts[n - 1];
	k = strcspn(p, "\n");
	assert_true(k < len);
	memcpy(buf, p, k);
	buf[k] = '\0';
	return buf;
}

/*
 * Line n of the text libconfig would stop at to open an include, or 0:
 * it is told to look under /dev/null, where nothing can be opened.
 */
static int
libconfig_include_line(const char *text)
{
	config_t cfg;
	int line = 0;

	config_init(&cfg);
	config_set_include_dir(&cfg, "/dev/null");
	if (!config_read_string(&cfg, text) &&
	    strcmp(config_error_text(&cfg), "cannot open include file") == 0)
		line = config_error_line(&cfg);
	config_destroy(&cfg);
	return line;
}

/*
 * Where confsrc_live_include() finds the first @include of text is where
 * libconfig 1.5 would open one: the same line, or none in both (if
 * libconfig stops at a syntax error before, only that the line is later).
 */
static void
check_live_like_libconfig(const char *text)
{
	const char *p = confsrc_live_include(text);
	int ours = p != NULL ? fakefs_line_at(text, p) : 0;
	int theirs = libconfig_include_line(text);

	if (theirs != 0 && ours != theirs)
		fail_msg("libconfig opens an @include on line %d, we found %d in: %s",
		    theirs, ours, text);
	if (ours == 0 && theirs != 0)
		fail_msg("missed libconfig's @include in: %s", text);
}

/* The text of the file a name in src's files stands for. */
static const char *
source_text(const char *name, const char *main_text)
{
	struct fakefs_file *f;

	if (main_text != NULL && strcmp(name, MAIN) == 0)
		return main_text;
	assert_non_null(f = fakefs_find(&fs.tree, name));
	return f->text;
}

/*
 * The invariants of a successful expansion: a NUL-terminated text ending
 * with a line break, within the budget, with no live @include; each line
 * mapped to a line of a file read, of which it is a tail ("/ * * /" put
 * before a second directive aside); opens and closes balanced.
 */
static void
check_src(const struct confsrc *s, const char *main_text, size_t budget)
{
	char cl[4096], fl[4096];
	const char *file, *t, *p;
	size_t n;
	int i, line;

	line_of(NULL, 0, NULL, 0);

	assert_non_null(s->text);
	assert_int_equal(strlen(s->text), s->len);
	assert_true(s->len == 0 || s->text[s->len - 1] == '\n');
	assert_true(s->bytes <= budget);
	assert_true(s->len <= s->bytes + 1);
	assert_null(confsrc_live_include(s->text));
	assert_int_equal(libconfig_include_line(s->text), 0);
	assert_true(s->nfiles >= 1);
	assert_string_equal(s->files[0], main_text != NULL ? MAIN : fs.tree.f[0].path);
	assert_int_equal(fs.tree.opened, fs.tree.closed);
	for (i = 1, p = s->text; i <= s->lines; i++, p += n + 1) {
		confsrc_where(s, i, &file, &line);
		t = source_text(file, main_text);
		n = strcspn(p, "\n");
		assert_true(p[n] == '\n' && n < sizeof(cl));
		memcpy(cl, p, n);
		cl[n] = '\0';
		if (line_of(t, line, fl, sizeof(fl)) == NULL)
			fail_msg("line %d maps to %s:%d, past its end", i, file, line);
		t = strncmp(cl, "/**/", 4) == 0 ? cl + 4 : cl;
		n = strlen(t);
		if (n > strlen(fl) || strcmp(fl + strlen(fl) - n, t) != 0)
			fail_msg("line %d \"%s\" is not a tail of %s:%d \"%s\"",
			    i, cl, file, line, fl);
		n = strlen(cl);
	}
	assert_int_equal(p - s->text, s->len);
}

static struct confsrc src;
static char err[1024];

/* Expand the tree whose main file is fs.tree.f[0] (or text as MAIN); must succeed. */
static const struct confsrc *
expand_ok(const char *text, size_t budget)
{
	confsrc_free(&src);
	if (confsrc_expand(&fake, text != NULL ? MAIN : fs.tree.f[0].path, text,
	    INCDIR, budget, &src, err, sizeof(err)) == -1)
		fail_msg("refused: %s", err);
	check_src(&src, text, budget);
	return &src;
}

/* Expand; must fail, with want as the message. */
static void
expand_err(const char *text, size_t budget, const char *want)
{
	confsrc_free(&src);
	memset(err, 'x', sizeof(err));
	if (confsrc_expand(&fake, text != NULL ? MAIN : fs.tree.f[0].path, text,
	    INCDIR, budget, &src, err, sizeof(err)) == 0)
		fail_msg("accepted, giving: %s", src.text);
	assert_string_equal(err, want);
	assert_null(src.text);
	assert_int_equal(src.nfiles, 0);
	assert_int_equal(fs.tree.opened, fs.tree.closed);
}

static void
assert_where(int cline, const char *file, int line)
{
	const char *f;
	int l;

	confsrc_where(&src, cline, &f, &l);
	assert_string_equal(f, file);
	assert_int_equal(l, line);
}

#define BIG (1024 * 1024)

/* ----------------------------------------------------------------- tests */

static void
test_no_include(void **state)
{
	(void)state;
	fake_reset();
	expand_ok("a = 1;\nb = 2;", BIG);
	assert_string_equal(src.text, "a = 1;\nb = 2;\n");
	assert_int_equal(src.lines, 2);
	assert_int_equal(src.bytes, 13);
	assert_int_equal(src.nfiles, 1);
	assert_where(1, MAIN, 1);
	assert_where(2, MAIN, 2);
	/* Outside the text: the nearest line. */
	assert_where(0, MAIN, 1);
	assert_where(9, MAIN, 2);
	expand_ok("", BIG);
	assert_string_equal(src.text, "");
	assert_int_equal(src.lines, 0);
	assert_where(1, MAIN, 0);
	assert_int_equal(fs.stats, 0);
	confsrc_free(&src);
}

static void
test_nesting(void **state)
{
	(void)state;
	fake_reset();
	fake_add("/c/a.conf", "a1 = 1;\n@include \"sub/b.conf\"\na3 = 3;\n");
	fake_add("/c/sub/b.conf", "b1 = 1;\n  \t@include \"/etc/x.conf\"\nb3 = 3;");
	fake_add("/etc/x.conf", "x1 = 1;\n");
	expand_ok("m1 = 1;\n@include \"a.conf\"\nm3 = 3;\n", BIG);
	assert_string_equal(src.text,
	    "m1 = 1;\n"
	    "a1 = 1;\n"
	    "b1 = 1;\n"
	    "x1 = 1;\n"
	    "\n"          /* the rest of b.conf's line 2 */
	    "b3 = 3;\n"   /* a line break added at the end of b.conf */
	    "\n"          /* the rest of a.conf's line 2 */
	    "a3 = 3;\n"
	    "\n"          /* the rest of main's line 2 */
	    "m3 = 3;\n");
	assert_int_equal(src.nfiles, 4);
	/* Relative to the include directory, not to the including file; absolute as it is. */
	assert_string_equal(src.files[1], "/c/a.conf");
	assert_string_equal(src.files[2], "/c/sub/b.conf");
	assert_string_equal(src.files[3], "/etc/x.conf");
	assert_where(1, MAIN, 1);
	assert_where(2, "/c/a.conf", 1);
	assert_where(3, "/c/sub/b.conf", 1);
	assert_where(4, "/etc/x.conf", 1);
	assert_where(5, "/c/sub/b.conf", 2);
	assert_where(6, "/c/sub/b.conf", 3);
	assert_where(7, "/c/a.conf", 2);
	assert_where(8, "/c/a.conf", 3);
	assert_where(9, MAIN, 2);
	assert_where(10, MAIN, 3);
	assert_int_equal(src.bytes, strlen("m1 = 1;\n@include \"a.conf\"\nm3 = 3;\n") +
	    strlen(fs.tree.f[0].text) + strlen(fs.tree.f[1].text) + strlen(fs.tree.f[2].text));
	/* The main file read through the layer too, and incdir NULL: paths as written. */
	fake_reset();
	fake_add("/c/main.conf", "@include \"rel.conf\"\n");
	fake_add("rel.conf", "r = 1;\n");
	confsrc_free(&src);
	assert_int_equal(confsrc_expand(&fake, MAIN, NULL, NULL, BIG, &src, err,
	    sizeof(err)), 0);
	check_src(&src, NULL, BIG);
	assert_string_equal(src.text, "r = 1;\n\n");
	assert_string_equal(src.files[1], "rel.conf");
	/* An include directory ending with '/' gets no second one. */
	fake_add("/c/a.conf", "a = 1;\n");
	confsrc_free(&src);
	assert_int_equal(confsrc_expand(&fake, MAIN, "@include \"a.conf\"", "/c/",
	    BIG, &src, err, sizeof(err)), 0);
	assert_string_equal(src.files[1], "/c/a.conf");
	confsrc_free(&src);
}

static void
test_rest_of_line(void **state)
{
	(void)state;
	fake_reset();
	fake_add("/c/a.conf", "a = 1;");
	fake_add("/c/empty.conf", "");
	/* After the closing quote the line goes on, after the included text. */
	expand_ok("@include \"a.conf\" b = 2; # c\nd = 4;\n", BIG);
	assert_string_equal(src.text, "a = 1;\n b = 2; # c\nd = 4;\n");
	assert_where(1, "/c/a.conf", 1);
	assert_where(2, MAIN, 1);
	assert_where(3, MAIN, 2);
	/* An empty file adds no line: the rest stays on the directive's. */
	expand_ok("x = 0;\n@include \"empty.conf\" b = 2;\nd = 4;\n", BIG);
	assert_string_equal(src.text, "x = 0;\n b = 2;\nd = 4;\n");
	assert_where(2, MAIN, 2);
	assert_where(3, MAIN, 3);
	/*
	 * A second directive on the line is not at the beginning of a line:
	 * libconfig reads '@' as garbage.  It now starts a line of the text,
	 * so a comment goes before it, and libconfig still says so, on the
	 * directive's line.
	 */
	expand_ok("\n@include \"a.conf\"  @include \"a.conf\"\n", BIG);
	assert_string_equal(src.text, "\na = 1;\n/**/  @include \"a.conf\"\n");
	assert_where(3, MAIN, 2);
	expand_ok("@include \"empty.conf\" @include \"a.conf\"\n", BIG);
	assert_string_equal(src.text, "/**/ @include \"a.conf\"\n");
	assert_int_equal(src.nfiles, 2);
	assert_null(conf_load_src(&src, err, sizeof(err)));
	assert_string_equal(err, MAIN ":1: syntax error");
	/* The rest of the line may open a comment that runs on. */
	expand_ok("@include \"a.conf\" /* a\n@include \"x\" */ b = 2;\n", BIG);
	assert_string_equal(src.text, "a = 1;\n /* a\n@include \"x\" */ b = 2;\n");
	assert_int_equal(src.nfiles, 2);
	/* Tokens of the included file and of the rest do not run together. */
	expand_ok("@include \"a.conf\"2;\n", BIG);
	assert_string_equal(src.text, "a = 1;\n2;\n");
	confsrc_free(&src);
}

/* Texts in which no @include is live, some of them close to one. */
static const char *const not_live[] = {
	"/* @include \"x\" */\n",
	"/*\n@include \"x\"\n*/\n",
	"/* a */ @include \"x\"\n",
	"/* a **/\n/**/@include \"x\"\n",
	"s = \"\n@include \\\"x\\\"\n\";\n",
	"s = \"a\\\"\n@include \"x\"\n",
	"# @include \"x\"\n",
	"// @include \"x\"\n",
	"a = 1; @include \"x\"\n",
	"@INCLUDE \"x\"\n",
	"@include\"x\"\n",
	"@include x\n",
	"\r@include \"x\"\n",
	"@ include \"x\"\n",
};

/* Texts with a live @include, and its line. */
static const struct { const char *text; int line; } live[] = {
	{ "@include \"x\"\n", 1 },
	{ "\n  \t @include \t \"x\"\n", 2 },
	{ "# a comment\n@include \"x\"\n", 2 },
	{ "// @include \"y\"\n@include \"x\"\n", 2 },
	{ "/* a\n */\n@include \"x\"\n", 3 },
	{ "s = \"a\\\\\";\n@include \"x\"\n", 2 },
	{ "s = \"a\\\\\"\n@include \"x\"\n", 2 },
	{ "/* a */\n@include \"x\"\n", 2 },
	{ "\r\n@include \"x\"\n", 2 },
	{ "a = 1;\n@include \"x\" @include \"y\"\n", 2 },
	{ "s = \"a\n\\\\\"\n\n@include \"x\"\n", 4 },
	{ "# a backslash ends no line \\\n@include \"x\"\n", 2 },
};

static void
test_where_honoured(void **state)
{
	char text[256];
	size_t i;

	(void)state;
	fake_reset();
	fake_add("/c/x", "x = 1;\n");
	for (i = 0; i < sizeof(not_live) / sizeof(not_live[0]); i++) {
		check_live_like_libconfig(not_live[i]);
		assert_null(confsrc_live_include(not_live[i]));
		/* Nothing is read; the text is as it was. */
		fs.stats = 0;
		expand_ok(not_live[i], BIG);
		assert_int_equal(fs.stats, 0);
		assert_int_equal(src.nfiles, 1);
		snprintf(text, sizeof(text), "%s", not_live[i]);
		assert_string_equal(src.text, text);
	}
	for (i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		const char *p = confsrc_live_include(live[i].text);

		check_live_like_libconfig(live[i].text);
		assert_non_null(p);
		assert_int_equal(fakefs_line_at(live[i].text, p), live[i].line);
		assert_int_equal(libconfig_include_line(live[i].text), live[i].line);
		expand_ok(live[i].text, BIG);
		assert_true(src.nfiles >= 2);
		assert_string_equal(src.files[1], "/c/x");
	}
	/* And in an included file, at its start as at any line's. */
	fake_add("/c/y", "@include \"x\"\n/* @include \"z\" */\n");
	expand_ok("@include \"y\"\n", BIG);
	assert_string_equal(src.text, "x = 1;\n\n/* @include \"z\" */\n\n");
	assert_int_equal(src.nfiles, 3);
	confsrc_free(&src);
}

static void
test_escapes(void **state)
{
	(void)state;
	fake_reset();
	fake_add("/c/a\"b", "q = 1;\n");
	fake_add("/c/a\\b", "b = 1;\n");
	expand_ok("@include \"a\\\"b\"\n@include \"a\\\\b\"\n", BIG);
	assert_string_equal(src.text, "q = 1;\n\nb = 1;\n\n");
	assert_string_equal(src.files[1], "/c/a\"b");
	assert_string_equal(src.files[2], "/c/a\\b");
	/* libconfig has no rule for another backslash (flex would print it). */
	expand_err("\n@include \"a\\nb\"\n", BIG, MAIN ":2: @include path with a "
	    "backslash before something else than \\ or \"");
	expand_err("@include \"a.conf\n\"\n", BIG, MAIN ":1: @include path with "
	    "no closing quote on its line");
	expand_err("a = 1;\n@include \"a.conf", BIG, MAIN ":2: @include path "
	    "with no closing quote on its line");
	expand_err("@include \"\"\n", BIG, MAIN ":1: @include path is empty");
	assert_int_equal(fs.stats, 2);
	confsrc_free(&src);
}

static void
test_depth(void **state)
{
	static char names[12][16], texts[12][64], many[CONFSRC_MAX_FILES * 13 + 1];
	char want[256];
	int i;

	(void)state;
	fake_reset();
	/* /c/f1 includes f2 ... f10 includes f11: ten deep is the most. */
	for (i = 1; i <= 11; i++) {
		snprintf(names[i], sizeof(names[i]), "/c/f%d", i);
		snprintf(texts[i], sizeof(texts[i]), "v%d = %d;\n@include \"f%d\"\n",
		    i, i, i + 1);
		fake_add(names[i], texts[i]);
	}
	fs.tree.f[9].text = "v10 = 10;\n";
	expand_ok("@include \"f1\"\n", BIG);
	assert_int_equal(src.nfiles, 11);
	assert_where(10, "/c/f10", 1);
	fs.tree.f[9].text = texts[10];
	expand_err("@include \"f1\"\n", BIG, "/c/f10:2: @include \"f11\": nested "
	    "more than 10 deep (does a file include itself?)");
	/* A file including itself, found the same way. */
	fake_reset();
	fake_add("/c/self", "# me\n@include \"self\"\n");
	expand_err("@include \"self\"\n", BIG, "/c/self:2: @include \"self\": "
	    "nested more than 10 deep (does a file include itself?)");
	/* Twice in itself: the first path down is ten deep already. */
	fake_reset();
	fake_add("/c/two", "@include \"two\"\n@include \"two\"\n");
	expand_err("@include \"two\"\n", BIG, "/c/two:1: @include \"two\": "
	    "nested more than 10 deep (does a file include itself?)");
	assert_int_equal(fs.opens, 10);
	/* Files read in all, the main one with them, are bounded too. */
	fake_reset();
	fake_add("/c/e", "");
	for (i = 0, many[0] = '\0'; i < CONFSRC_MAX_FILES; i++)
		strcat(many, "@include \"e\"\n");
	snprintf(want, sizeof(want), MAIN ":%d: @include \"e\": more than %d "
	    "files to read", CONFSRC_MAX_FILES, CONFSRC_MAX_FILES);
	expand_err(many, BIG, want);
	assert_int_equal(fs.opens, CONFSRC_MAX_FILES - 1);
	many[strlen(many) - 13] = '\0';
	expand_ok(many, BIG);
	assert_int_equal(src.nfiles, CONFSRC_MAX_FILES);
	assert_int_equal(src.lines, CONFSRC_MAX_FILES - 1);  /* the rests of the lines */
	confsrc_free(&src);
}

static void
test_budget(void **state)
{
	(void)state;
	fake_reset();
	fake_add_big("/c/a", 300);
	fake_add_big("/c/b", 300);
	fake_add_big("/c/c", 300);
	/* Main 39 bytes + 3 x 300: 939 fits 939 ... */
	expand_ok("@include \"a\"\n@include \"b\"\n@include \"c\"\n", 939);
	assert_int_equal(src.bytes, 939);
	/* ... not 938; the file that goes over is named, at its directive. */
	expand_err("@include \"a\"\n@include \"b\"\n@include \"c\"\n", 938,
	    MAIN ":3: @include \"c\" (/c/c): the configuration with its includes "
	    "would be larger than 938 bytes");
	/* What is read is bounded by what is left, whatever the file's size. */
	fake_reset();
	fake_add_big("/c/huge", 8 * 1024 * 1024);
	fs.stats = fs.reads = 0;
	expand_err("@include \"huge\"\n", BIG, MAIN ":1: @include \"huge\" "
	    "(/c/huge): the configuration with its includes would be larger "
	    "than 1048576 bytes");
	assert_true(fs.tree.f[0].off <= BIG + 1);
	/* The main file alone, as text or read. */
	expand_err("a = 1;\n", 6, MAIN ": larger than 6 bytes");
	fake_reset();
	fake_add_big(MAIN, BIG + 1);
	expand_err(NULL, BIG, MAIN ": larger than 1048576 bytes");
	fake_reset();
	fake_add_big(MAIN, BIG);
	expand_ok(NULL, BIG);
	assert_int_equal(src.bytes, BIG);
	assert_int_equal(src.len, BIG);
	confsrc_free(&src);
}

static void
test_file_types(void **state)
{
	static const struct {
		mode_t mode;
		int stat_errno, open_errno;
		mode_t fmode;
		int read_errno;
		const char *why;
	} t[] = {
		{ S_IFDIR | 0755, 0, 0, 0, 0, "is a directory" },
		{ S_IFIFO | 0644, 0, 0, 0, 0, "is a FIFO" },
		{ S_IFCHR | 0666, 0, 0, 0, 0, "is a character device" },
		{ S_IFBLK | 0660, 0, 0, 0, 0, "is a block device" },
		{ S_IFSOCK | 0755, 0, 0, 0, 0, "is a socket" },
		{ S_IFLNK | 0777, 0, 0, 0, 0, "is a symbolic link" },
		{ 0, ELOOP, 0, 0, 0, NULL },
		{ 0, ENOENT, 0, 0, 0, NULL },
		{ 0, ENAMETOOLONG, 0, 0, 0, NULL },
		/* stat() said a file, and then: */
		{ S_IFREG, 0, ENOENT, 0, 0, NULL },          /* it vanished */
		{ S_IFREG, 0, EACCES, 0, 0, NULL },          /* mode 0000 */
		{ S_IFREG, 0, 0, S_IFIFO | 0644, 0, "is a FIFO" },  /* swapped */
		{ S_IFREG, 0, 0, S_IFDIR | 0755, 0, "is a directory" },
		{ S_IFREG, 0, 0, 0, EIO, NULL },
		{ S_IFREG, 0, 0, 0, EISDIR, NULL },
	};
	struct fakefs_file *f;
	char want[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int e = t[i].stat_errno | t[i].open_errno | t[i].read_errno;

		fake_reset();
		f = fake_add("/etc/odd", "x = 1;\n");
		f->mode = t[i].mode ? t[i].mode : S_IFREG;
		f->stat_errno = t[i].stat_errno;
		f->open_errno = t[i].open_errno;
		f->fmode = t[i].fmode;
		f->read_errno = t[i].read_errno;
		snprintf(want, sizeof(want), MAIN ":2: @include \"/etc/odd\": %s",
		    t[i].why != NULL ? t[i].why : strerror(e));
		expand_err("a = 1;\n@include \"/etc/odd\"\n", BIG, want);
		/* Only what stat() calls a file is opened (fake_open checks). */
		assert_int_equal(fs.opens, S_ISREG(f->mode) && !f->stat_errno);
		/* The main file, likewise. */
		fake_reset();
		f = fake_add(MAIN, "x = 1;\n");
		f->mode = t[i].mode ? t[i].mode : S_IFREG;
		f->stat_errno = t[i].stat_errno;
		f->open_errno = t[i].open_errno;
		f->fmode = t[i].fmode;
		f->read_errno = t[i].read_errno;
		snprintf(want, sizeof(want), MAIN ": %s",
		    t[i].why != NULL ? t[i].why : strerror(e));
		expand_err(NULL, BIG, want);
	}
	/* Short reads are read on; a relative path's message says where it looked. */
	fake_reset();
	f = fake_add("/c/slow", "s = 1;\nt = 2;\n");
	f->chunk = 1;
	expand_ok("@include \"slow\"\n", BIG);
	assert_string_equal(src.text, "s = 1;\nt = 2;\n\n");
	expand_err("@include \"nope\"\n", BIG, MAIN ":1: @include \"nope\" "
	    "(/c/nope): No such file or directory");
	confsrc_free(&src);
}

static void
test_content(void **state)
{
	struct fakefs_file *f;

	(void)state;
	fake_reset();
	f = fake_add("/c/nul", "a = 1;\0b = 2;\n");
	f->len = 14;
	expand_err("\n\n@include \"nul\"\n", BIG, MAIN ":3: @include \"nul\" "
	    "(/c/nul): contains a NUL byte");
	fake_reset();
	f = fake_add(MAIN, "a = 1;\0b = 2;\n");
	f->len = 14;
	expand_err(NULL, BIG, MAIN ": contains a NUL byte");
	/* An included file must close its comments and strings ... */
	fake_reset();
	fake_add("/c/c", "a = 1;\n/* open\n\n");
	fake_add("/c/s", "a = 1;\ns = \"open\n\n");
	fake_add("/c/ok", "a = 1; # no line break at the end");
	expand_err("@include \"c\"\nb = 2; /* */\n", BIG, "/c/c:2: comment not "
	    "closed at the end of the file (an included file must close its "
	    "comments and strings)");
	expand_err("@include \"s\"\nb = \"\";\n", BIG, "/c/s:2: string not "
	    "closed at the end of the file (an included file must close its "
	    "comments and strings)");
	/* ... which libconfig reads on into the including file; the main one may. */
	expand_ok("a = 1;\n/* to the end", BIG);
	assert_string_equal(src.text, "a = 1;\n/* to the end\n");
	/* A last line's comment gets its line break, as the main file's. */
	expand_ok("@include \"ok\"\n", BIG);
	assert_string_equal(src.text, "a = 1; # no line break at the end\n\n");
	confsrc_free(&src);
}

/* conf_load_src: settings, and libconfig's errors, named by their own file and line. */
static void
test_conf_lines(void **state)
{
	struct conf *c;

	(void)state;
	fake_reset();
	fake_add("/c/limits.conf", "\n\nlimits = { min_rate = 7; };\n");
	fake_add("/c/bad.conf", "# x\n\nidle_timeout = 0;\n");
	fake_add("/c/syntax.conf", "backlog = ;\n");
	fake_add("/c/eof.conf", "backlog =");
	fake_add("/c/big.conf", "\nbacklog = 0x100000005;\n");
	fake_add("/c/listen.conf", "listen = (\n  { port = 5; },\n"
	    "  { port = 5; udp = false; }\n);\n");
	fake_add("/c/l1.conf", "\n{ address = \"127.0.0.1\"; port = 5; }\n");

	expand_ok("backlog = 9;\n@include \"limits.conf\"\nidle_timeout = 8;\n", BIG);
	assert_non_null(c = conf_load_src(&src, err, sizeof(err)));
	assert_int_equal(c->backlog, 9);
	assert_int_equal(c->limits.min_rate, 7);
	assert_int_equal(c->idle_timeout, 8);
	assert_string_equal(c->path, MAIN);
	conf_free(c);

	expand_ok("backlog = 9;\n@include \"bad.conf\"\n", BIG);
	assert_null(conf_load_src(&src, err, sizeof(err)));
	assert_string_equal(err, "/c/bad.conf:3: idle_timeout must be between 1 and 86400");
	expand_ok("\n@include \"bad.conf\"\nidle_timeout = 0;\n", BIG);
	assert_null(conf_load_src(&src, err, sizeof(err)));
	assert_string_equal(err, MAIN ":3: duplicate setting name");
	expand_ok("#\n@include \"syntax.conf\"\n", BIG);
	assert_null(conf_load_src(&src, err, sizeof(err)));
	assert_string_equal(err, "/c/syntax.conf:1: syntax error");
	expand_ok("@include \"eof.conf\"", BIG);
	assert_null(conf_load_src(&src, err, sizeof(err)));
	assert_string_equal(err, "/c/eof.conf:1: syntax error (unexpected end of file)");
	/* Out-of-range literals are caught in an included file too. */
	expand_ok("@include \"big.conf\"\n", BIG);
	assert_null(conf_load_src(&src, err, sizeof(err)));
	assert_string_equal(err, "/c/big.conf:2: backlog must be between 1 and 65535");
	/* Listeners: their file and line; "first on" names the other file. */
	expand_ok("\n@include \"listen.conf\"\n", BIG);
	assert_null(conf_load_src(&src, err, sizeof(err)));
	assert_string_equal(err, "/c/listen.conf:3: duplicate listener * port 5 "
	    "tcp (first on line 2)");
	expand_ok("listen = (\n{ port = 5; },\n@include \"l1.conf\"\n);\n", BIG);
	assert_null(conf_load_src(&src, err, sizeof(err)));
	assert_string_equal(err, "/c/l1.conf:2: listener 127.0.0.1 port 5 tcp "
	    "overlaps * on " MAIN ":2 (a wildcard address covers the other)");
	fake_add("/c/l2.conf", "\n{ address = \"127.0.0.1\"; port = 6; }\n");
	expand_ok("listen = (\n{ port = 5; },\n@include \"l2.conf\"\n);\n", BIG);
	assert_non_null(c = conf_load_src(&src, err, sizeof(err)));
	assert_int_equal(c->nlisteners, 2);
	assert_string_equal(c->listeners[0].file, MAIN);
	assert_int_equal(c->listeners[0].line, 2);
	assert_string_equal(c->listeners[1].file, "/c/l2.conf");
	assert_int_equal(c->listeners[1].line, 2);
	conf_free(c);
	confsrc_free(&src);
}

/* ------------------------------------------------------------- patterns */

/* Drop-ins: strcmp() order, whatever the tree's; no dotfile, no backup. */
static void
test_glob_order(void **state)
{
	struct fakefs_file *d;

	(void)state;
	fake_reset();
	fake_add("/c/conf.d/20-a.conf", "a = 20;\n");
	fake_add("/c/conf.d/x.conf~", "backup = 1;\n");
	fake_add("/c/conf.d/10-b.conf", "b = 10;");
	fake_add("/c/conf.d/.10-c.conf.swp", "swap = 1;\n");
	fake_add("/c/conf.d/.hidden.conf", "hidden = 1;\n");
	fake_add("/c/conf.d/a.conf", "lower = 1;\n");
	fake_add("/c/conf.d/Z.conf", "upper = 1;\n");
	fake_add("/c/conf.d/README", "not = 1;\n");
	fake_add("/c/other.conf", "other = 1;\n");
	expand_ok("m = 1;\n@include \"conf.d/*.conf\" # drop-ins\nn = 2;\n", BIG);
	/* Bytes, not a locale's collation: 'Z' (0x5a) before 'a' (0x61). */
	assert_string_equal(src.text,
	    "m = 1;\n"
	    "b = 10;\n"      /* a line break added at the end of 10-b.conf */
	    "a = 20;\n"
	    "upper = 1;\n"
	    "lower = 1;\n"
	    " # drop-ins\n"
	    "n = 2;\n");
	assert_int_equal(src.nfiles, 5);
	assert_string_equal(src.files[1], "/c/conf.d/10-b.conf");
	assert_string_equal(src.files[2], "/c/conf.d/20-a.conf");
	assert_string_equal(src.files[3], "/c/conf.d/Z.conf");
	assert_string_equal(src.files[4], "/c/conf.d/a.conf");
	assert_where(2, "/c/conf.d/10-b.conf", 1);
	assert_where(3, "/c/conf.d/20-a.conf", 1);
	assert_where(6, MAIN, 2);
	assert_where(7, MAIN, 3);
	assert_int_equal(fs.tree.listed, 1);
	/* Absolute, as it is; '?' and '[...]' too. */
	expand_ok("@include \"/c/conf.d/[12]?-*.conf\"\n", BIG);
	assert_string_equal(src.text, "b = 10;\na = 20;\n\n");
	/* A dotfile only by a pattern that starts with a dot itself. */
	expand_ok("@include \"conf.d/.*.conf\"\n", BIG);
	assert_string_equal(src.text, "hidden = 1;\n\n");
	/* "*" at the top of the include directory: files, and the directory. */
	expand_err("@include \"*\"\n", BIG, MAIN ":1: @include \"*\" "
	    "(/c/conf.d): is a directory");
	expand_ok("@include \"*.conf\"\n", BIG);
	assert_string_equal(src.text, "other = 1;\n\n");
	/* An escaped '[' is the character: a name with one can still be included. */
	fake_add("/c/conf.d/x[1].conf", "bracket = 1;\n");
	fake_add("/c/conf.d/x1.conf", "one = 1;\n");
	expand_ok("@include \"conf.d/x\\\\[1].conf\"\n", BIG);
	assert_string_equal(src.text, "bracket = 1;\n\n");
	expand_ok("@include \"conf.d/x[1].conf\"\n", BIG);
	assert_string_equal(src.text, "one = 1;\n\n");
	/* An explicit directory, empty or with nothing that matches: nothing, no error. */
	d = fake_add("/c/empty.d", NULL);
	d->mode = S_IFDIR | 0755;
	expand_ok("a = 1;\n@include \"empty.d/*.conf\"\nb = 2;\n", BIG);
	assert_string_equal(src.text, "a = 1;\n\nb = 2;\n");
	assert_int_equal(src.nfiles, 1);
	expand_ok("@include \"conf.d/*.cnf\"\n", BIG);
	assert_int_equal(src.nfiles, 1);
	/* With no include directory: "." holds it, paths as written. */
	fake_reset();
	fake_add("/c/main.conf", "@include \"*.conf\"\n");
	fake_add("b.conf", "b = 1;\n");
	fake_add("a.conf", "a = 1;\n");
	confsrc_free(&src);
	assert_int_equal(confsrc_expand(&fake, MAIN, NULL, NULL, BIG, &src, err,
	    sizeof(err)), 0);
	check_src(&src, NULL, BIG);
	assert_string_equal(src.text, "a = 1;\nb = 1;\n\n");
	assert_string_equal(src.files[1], "a.conf");
	/* At the root. */
	fake_reset();
	fake_add("/r.conf", "r = 1;\n");
	expand_ok("@include \"/*.conf\"\n", BIG);
	assert_string_equal(src.files[1], "/r.conf");
	confsrc_free(&src);
}

/* A directory that cannot be listed is an error; so is a pattern in a directory part. */
static void
test_glob_dirs(void **state)
{
	struct fakefs_file *f;

	(void)state;
	fake_reset();
	fake_add("/c/conf.d/a.conf", "a = 1;\n");
	f = fake_add("/c/file", "x = 1;\n");
	f = fake_add("/c/locked.d", NULL);
	f->mode = S_IFDIR | 0700;
	f->list_errno = EACCES;
	f = fake_add("/c/loop.d", NULL);
	f->stat_errno = ELOOP;
	/* A typo must not silently include nothing. */
	expand_err("a = 1;\n@include \"conf.f/*.conf\"\n", BIG, MAIN ":2: "
	    "@include \"conf.f/*.conf\": cannot list directory /c/conf.f: "
	    "No such file or directory");
	expand_err("@include \"/etc/upcased.d/*.conf\"\n", BIG, MAIN ":1: "
	    "@include \"/etc/upcased.d/*.conf\": cannot list directory "
	    "/etc/upcased.d: No such file or directory");
	expand_err("@include \"locked.d/*.conf\"\n", BIG, MAIN ":1: "
	    "@include \"locked.d/*.conf\": cannot list directory /c/locked.d: "
	    "Permission denied");
	expand_err("@include \"file/*.conf\"\n", BIG, MAIN ":1: "
	    "@include \"file/*.conf\": cannot list directory /c/file: "
	    "Not a directory");
	expand_err("@include \"loop.d/*\"\n", BIG, MAIN ":1: "
	    "@include \"loop.d/*\": cannot list directory /c/loop.d: "
	    "Too many levels of symbolic links");
	/* Only the last component may hold a pattern: nothing is listed. */
	fs.tree.listed = 0;
	fs.stats = 0;
	expand_err("\n\n@include \"conf*/a.conf\"\n", BIG, MAIN ":3: @include "
	    "\"conf*/a.conf\": a pattern ('*', '?' or '[') only in the last "
	    "component of the path");
	expand_err("@include \"/c/[c]onf.d/*.conf\"\n", BIG, MAIN ":1: @include "
	    "\"/c/[c]onf.d/*.conf\": a pattern ('*', '?' or '[') only in the "
	    "last component of the path");
	expand_err("@include \"c?nf.d/\"\n", BIG, MAIN ":1: @include "
	    "\"c?nf.d/\": a pattern ('*', '?' or '[') only in the last "
	    "component of the path");
	assert_int_equal(fs.tree.listed, 0);
	assert_int_equal(fs.stats, 0);
	/* A trailing slash names the directory itself, as before. */
	expand_err("@include \"conf.d/\"\n", BIG, MAIN ":1: @include "
	    "\"conf.d/\" (/c/conf.d/): is a directory");
	confsrc_free(&src);
}

/* A match that is not a regular file: its real path and why, as a plain @include's. */
static void
test_glob_file_types(void **state)
{
	static const struct {
		mode_t mode;
		int stat_errno, open_errno;
		mode_t fmode;
		const char *why;
	} t[] = {
		{ S_IFDIR | 0755, 0, 0, 0, "is a directory" },
		{ S_IFIFO | 0644, 0, 0, 0, "is a FIFO" },
		{ S_IFCHR | 0666, 0, 0, 0, "is a character device" },
		{ S_IFSOCK | 0755, 0, 0, 0, "is a socket" },
		{ 0, ELOOP, 0, 0, NULL },       /* a dangling or looping link */
		{ 0, ENOENT, 0, 0, NULL },      /* gone after the listing */
		{ S_IFREG, 0, EACCES, 0, NULL },
		{ S_IFREG, 0, 0, S_IFIFO | 0644, "is a FIFO" },  /* swapped */
	};
	struct fakefs_file *f;
	char want[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		fake_reset();
		fake_add("/c/conf.d/05-ok.conf", "ok = 1;\n");
		f = fake_add("/c/conf.d/10-x.conf", "x = 1;\n");
		f->mode = t[i].mode ? t[i].mode : S_IFREG;
		f->stat_errno = t[i].stat_errno;
		f->open_errno = t[i].open_errno;
		f->fmode = t[i].fmode;
		fake_add("/c/conf.d/20-after.conf", "after = 1;\n");
		snprintf(want, sizeof(want), MAIN ":3: @include \"conf.d/*.conf\" "
		    "(/c/conf.d/10-x.conf): %s", t[i].why != NULL ? t[i].why :
		    strerror(t[i].stat_errno | t[i].open_errno));
		fs.opens = 0;
		expand_err("a = 1;\n\n@include \"conf.d/*.conf\"\n", BIG, want);
		/* 05-ok.conf read; 10-x.conf opened only if stat() said a file; 20 not reached. */
		assert_int_equal(fs.opens, 1 + (S_ISREG(f->mode) && !f->stat_errno));
	}
	/* A directory implied by what is below it, matched. */
	fake_reset();
	fake_add("/c/conf.d/sub.conf/x", "x = 1;\n");
	expand_err("@include \"conf.d/*.conf\"\n", BIG, MAIN ":1: @include "
	    "\"conf.d/*.conf\" (/c/conf.d/sub.conf): is a directory");
	assert_int_equal(fs.opens, 0);
	confsrc_free(&src);
}

/* Globs in included files; errors inside a drop-in name its own FILE:LINE. */
static void
test_glob_nested(void **state)
{
	struct conf *c;

	(void)state;
	fake_reset();
	fake_add("/c/sub.conf", "# sub\n@include \"conf.d/*.conf\"\n");
	fake_add("/c/conf.d/20-limits.conf", "\nlimits = { min_rate = 7; };\n");
	fake_add("/c/conf.d/10-backlog.conf", "backlog = 9;\n");
	expand_ok("@include \"sub.conf\"\nidle_timeout = 8;\n", BIG);
	assert_int_equal(src.nfiles, 4);
	assert_string_equal(src.files[2], "/c/conf.d/10-backlog.conf");
	assert_string_equal(src.files[3], "/c/conf.d/20-limits.conf");
	assert_non_null(c = conf_load_src(&src, err, sizeof(err)));
	assert_int_equal(c->backlog, 9);
	assert_int_equal(c->limits.min_rate, 7);
	assert_int_equal(c->idle_timeout, 8);
	conf_free(c);
	/* An error in the second drop-in: that file, its line. */
	fs.tree.f[1].text = "\nlimits = { min_rate = -1; };\n";
	expand_ok("@include \"sub.conf\"\n", BIG);
	assert_null(conf_load_src(&src, err, sizeof(err)));
	assert_true(strncmp(err, "/c/conf.d/20-limits.conf:2: ", 28) == 0);
	fs.tree.f[1].text = "\nlimits = ;\n";
	expand_ok("@include \"sub.conf\"\n", BIG);
	assert_null(conf_load_src(&src, err, sizeof(err)));
	assert_string_equal(err, "/c/conf.d/20-limits.conf:2: syntax error");
	/* A setting in two drop-ins: libconfig's duplicate, at the later one. */
	fs.tree.f[1].text = "\n\nbacklog = 10;\n";
	expand_ok("@include \"sub.conf\"\n", BIG);
	assert_null(conf_load_src(&src, err, sizeof(err)));
	assert_string_equal(err, "/c/conf.d/20-limits.conf:3: duplicate setting name");
	/* An @include in a drop-in, its error at the drop-in's line. */
	fs.tree.f[1].text = "a = 1;\n@include \"nope.conf\"\n";
	expand_err("@include \"sub.conf\"\n", BIG, "/c/conf.d/20-limits.conf:2: "
	    "@include \"nope.conf\" (/c/nope.conf): No such file or directory");
	/* A drop-in that includes its own directory: the depth, with the file. */
	fs.tree.f[1].text = "@include \"conf.d/*.conf\"\n";
	expand_err("@include \"sub.conf\"\n", BIG, "/c/conf.d/20-limits.conf:1: "
	    "@include \"conf.d/*.conf\" (/c/conf.d/10-backlog.conf): nested "
	    "more than 10 deep (does a file include itself?)");
	confsrc_free(&src);
}

/* The byte budget is one over all the files, the directory's included. */
static void
test_glob_budget(void **state)
{
	(void)state;
	fake_reset();
	fake_add_big("/c/conf.d/c", 300);
	fake_add_big("/c/conf.d/a", 300);
	fake_add_big("/c/conf.d/b", 300);
	/* Main 22 bytes + 3 x 300 fits 922 ... */
	expand_ok("@include \"conf.d/*\"\n\n\n", 922);
	assert_int_equal(src.bytes, 922);
	/* ... not 921: the third in order, c, is named. */
	expand_err("@include \"conf.d/*\"\n\n\n", 921, MAIN ":1: @include "
	    "\"conf.d/*\" (/c/conf.d/c): the configuration with its includes "
	    "would be larger than 921 bytes");
	/* Nor 621: b is. */
	expand_err("@include \"conf.d/*\"\n\n\n", 621, MAIN ":1: @include "
	    "\"conf.d/*\" (/c/conf.d/b): the configuration with its includes "
	    "would be larger than 621 bytes");
	confsrc_free(&src);
}

/*
 * A generated tree for the counts: directory /g holds gen_n names
 * "fNNNNN" (then matched by "f*", or not by "x*"), each an empty regular
 * file.
 */
static size_t gen_n;
static int gen_open;

static int
gen_stat(void *arg, const char *path, mode_t *mode)
{
	(void)arg;
	if (strncmp(path, "/g/f", 4) != 0) {
		errno = ENOENT;
		return -1;
	}
	*mode = S_IFREG | 0644;
	return 0;
}

static int
gen_openf(void *arg, const char *path)
{
	(void)arg;
	(void)path;
	gen_open++;
	return 3;
}

static int
gen_fstat(void *arg, int fd, mode_t *mode)
{
	(void)arg;
	(void)fd;
	*mode = S_IFREG | 0644;
	return 0;
}

static ssize_t
gen_read(void *arg, int fd, void *buf, size_t len)
{
	(void)arg;
	(void)fd;
	(void)buf;
	(void)len;
	return 0;
}

static void
gen_close(void *arg, int fd)
{
	(void)arg;
	(void)fd;
	gen_open--;
}

static int
gen_list(void *arg, const char *dir, int (*each)(void *, const char *),
    void *ctx)
{
	char name[32];
	size_t i;
	int rc;

	(void)arg;
	if (strcmp(dir, "/g") != 0) {
		errno = ENOENT;
		return -1;
	}
	if ((rc = each(ctx, ".")) != 0 || (rc = each(ctx, "..")) != 0)
		return rc;
	/* Backwards: the order is confsrc's to make. */
	for (i = gen_n; i > 0; i--) {
		snprintf(name, sizeof(name), "f%05zu", i - 1);
		if ((rc = each(ctx, name)) != 0)
			return rc;
	}
	return 0;
}

static const struct conf_fs gen = {
	gen_stat, gen_openf, gen_fstat, gen_read, gen_close, gen_list, NULL
};

static void
test_glob_counts(void **state)
{
	char want[256];

	(void)state;
	/* CONFSRC_MAX_DIRENTS names are read, not one more: a huge directory is refused. */
	gen_n = CONFSRC_MAX_DIRENTS;
	confsrc_free(&src);
	assert_int_equal(confsrc_expand(&gen, MAIN, "@include \"/g/x*\"\n", INCDIR,
	    BIG, &src, err, sizeof(err)), 0);
	assert_int_equal(src.nfiles, 1);
	confsrc_free(&src);
	gen_n = CONFSRC_MAX_DIRENTS + 1;
	snprintf(want, sizeof(want), MAIN ":1: @include \"/g/x*\": directory /g "
	    "has more than %d entries", CONFSRC_MAX_DIRENTS);
	assert_int_equal(confsrc_expand(&gen, MAIN, "@include \"/g/x*\"\n", INCDIR,
	    BIG, &src, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	/* Files: the main one and 1023 matches are CONFSRC_MAX_FILES ... */
	gen_n = CONFSRC_MAX_FILES - 1;
	assert_int_equal(confsrc_expand(&gen, MAIN, "@include \"/g/f*\"\n", INCDIR,
	    BIG, &src, err, sizeof(err)), 0);
	assert_int_equal(src.nfiles, CONFSRC_MAX_FILES);
	assert_string_equal(src.files[1], "/g/f00000");
	assert_string_equal(src.files[CONFSRC_MAX_FILES - 1], "/g/f01022");
	confsrc_free(&src);
	/* ... one more is refused, the match named. */
	gen_n = CONFSRC_MAX_FILES;
	snprintf(want, sizeof(want), MAIN ":1: @include \"/g/f*\" (/g/f%05d): "
	    "more than %d files to read", CONFSRC_MAX_FILES - 1, CONFSRC_MAX_FILES);
	assert_int_equal(confsrc_expand(&gen, MAIN, "@include \"/g/f*\"\n", INCDIR,
	    BIG, &src, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	assert_int_equal(gen_open, 0);
}

/*
 * Many patterns list a directory each: CONFSRC_MAX_LISTED names are read
 * in all, not one more, though no file is read and nothing matches (the
 * files' and bytes' budgets never see it).
 */
static void
test_glob_listed(void **state)
{
	static const char line[] = "@include \"/g/x*\"\n";
	size_t n = CONFSRC_MAX_LISTED / 2, len = sizeof(line) - 1;
	char *text, want[256];

	(void)state;
	gen_n = 0;		/* ".", "..": two names a listing */
	assert_non_null(text = malloc((n + 1) * len + 1));
	for (size_t i = 0; i < n; i++)
		memcpy(text + i * len, line, len);
	text[n * len] = '\0';
	confsrc_free(&src);
	assert_int_equal(confsrc_expand(&gen, MAIN, text, INCDIR, BIG, &src, err,
	    sizeof(err)), 0);
	assert_int_equal(src.nfiles, 1);
	confsrc_free(&src);
	memcpy(text + n * len, line, len);
	text[(n + 1) * len] = '\0';
	snprintf(want, sizeof(want), MAIN ":%zu: @include \"/g/x*\": more than %d "
	    "directory entries to list in all", n + 1, CONFSRC_MAX_LISTED);
	assert_int_equal(confsrc_expand(&gen, MAIN, text, INCDIR, BIG, &src, err,
	    sizeof(err)), -1);
	assert_string_equal(err, want);
	assert_int_equal(gen_open, 0);
	free(text);
}

static void cut(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* A message cut to fit size bytes, as the expander's is. */
static void
cut(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* Paths of CONFSRC_MAX_PATH - 1 bytes are taken, not one more. */
static void
test_glob_path_max(void **state)
{
	static char dir[CONFSRC_MAX_PATH], name[CONFSRC_MAX_PATH];
	static char path[2 * CONFSRC_MAX_PATH + 2], text[CONFSRC_MAX_PATH + 32];
	char want[1024];
	size_t k;

	(void)state;
	/* dir is "/c/ddd...", 4000 bytes; a match's path is dir/name. */
	k = 4000;
	memset(dir, 'd', k);
	memcpy(dir, "/c/", 3);
	dir[k] = '\0';
	/* The longest match: 4000 + 1 + 94 = 4095 bytes. */
	memset(name, 'n', 94);
	name[94] = '\0';
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(strlen(path), CONFSRC_MAX_PATH - 1);
	fake_reset();
	fake_add(path, "long = 1;\n");
	/* As written, relative: "ddd.../ *" is 4001 - 3 + 1 bytes. */
	snprintf(text, sizeof(text), "@include \"%s/*\"\n", dir + 3);
	expand_ok(text, BIG);
	assert_int_equal(src.nfiles, 2);
	assert_string_equal(src.files[1], path);
	/* One byte more: refused, the name and the directory said (a short buffer cuts it). */
	name[94] = 'n';
	name[95] = '\0';
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fs.tree.f[0].path = path;
	cut(want, sizeof(want), MAIN ":1: @include \"%s/*\": %s in %s: path "
	    "too long", dir + 3, name, dir);
	expand_err(text, BIG, want);
	/* The pattern's own path at the most, "/c/" before it: listed ... */
	memset(dir, 'd', sizeof(dir));
	dir[CONFSRC_MAX_PATH - 1 - 5] = '\0';
	snprintf(text, sizeof(text), "@include \"%s/*\"\n", dir);
	fake_reset();
	cut(want, sizeof(want), MAIN ":1: @include \"%s/*\": cannot list "
	    "directory /c/%s: No such file or directory", dir, dir);
	expand_err(text, BIG, want);
	assert_true(strlen(err) == sizeof(err) - 1);	/* cut, as want */
	/* ... one byte more is not. */
	dir[CONFSRC_MAX_PATH - 1 - 5] = 'd';
	dir[CONFSRC_MAX_PATH - 5] = '\0';
	snprintf(text, sizeof(text), "@include \"%s/*\"\n", dir);
	cut(want, sizeof(want), MAIN ":1: @include \"%s/*\": path too long",
	    dir);
	expand_err(text, BIG, want);
	confsrc_free(&src);
}

/* The real listing: every name, a FIFO or a file refused without blocking. */
struct names {
	char   got[16][32];
	size_t n;
	size_t stop;    /* each() returns 7 at this many */
};

static int
collect(void *ctx, const char *name)
{
	struct names *nm = ctx;

	assert_true(nm->n < 16);
	snprintf(nm->got[nm->n++], sizeof(nm->got[0]), "%s", name);
	return nm->stop != 0 && nm->n == nm->stop ? 7 : 0;
}

static bool
has_name(const struct names *nm, const char *name)
{
	size_t i;

	for (i = 0; i < nm->n; i++)
		if (strcmp(nm->got[i], name) == 0)
			return true;
	return false;
}

static void
test_real_list(void **state)
{
	static const char *const files[] = { "20-a.conf", "10-b.conf", ".h.conf" };
	char dir[64], path[256], link[80];
	struct names nm;
	size_t i;
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_confsrc.XXXXXX");
	assert_non_null(mkdtemp(dir));
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		assert_non_null(f = fopen(path, "w"));
		fprintf(f, "v%zu = %zu;\n", i, i);
		assert_int_equal(fclose(f), 0);
	}
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0644), 0);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(conf_fs_real.list(NULL, dir, collect, &nm), 0);
	assert_int_equal(nm.n, 6);
	assert_true(has_name(&nm, ".") && has_name(&nm, "..") &&
	    has_name(&nm, "fifo") && has_name(&nm, ".h.conf"));
	/* each() stops it, its value returned. */
	memset(&nm, 0, sizeof(nm));
	nm.stop = 2;
	assert_int_equal(conf_fs_real.list(NULL, dir, collect, &nm), 7);
	assert_int_equal(nm.n, 2);
	/* What is not a directory: ENOTDIR, the FIFO not waited on. */
	errno = 0;
	assert_int_equal(conf_fs_real.list(NULL, path, collect, &nm), -1);
	assert_int_equal(errno, ENOTDIR);
	snprintf(path, sizeof(path), "%s/20-a.conf", dir);
	assert_int_equal(conf_fs_real.list(NULL, path, collect, &nm), -1);
	assert_int_equal(errno, ENOTDIR);
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(conf_fs_real.list(NULL, path, collect, &nm), -1);
	assert_int_equal(errno, ENOENT);
	/* A link to the directory is followed; the expansion, in order, dotfile aside. */
	snprintf(link, sizeof(link), "%s.d", dir);
	assert_int_equal(symlink(dir, link), 0);
	snprintf(path, sizeof(path), "@include \"%s/*.conf\"\n", link);
	confsrc_free(&src);
	assert_int_equal(confsrc_expand(&conf_fs_real, MAIN, path, NULL, BIG, &src,
	    err, sizeof(err)), 0);
	assert_string_equal(src.text, "v1 = 1;\nv0 = 0;\n\n");
	confsrc_free(&src);
	/* A FIFO matched: refused, not opened. */
	snprintf(path, sizeof(path), "@include \"%s/fi*\"\n", link);
	assert_int_equal(confsrc_expand(&conf_fs_real, MAIN, path, NULL, BIG, &src,
	    err, sizeof(err)), -1);
	snprintf(path, sizeof(path), MAIN ":1: @include \"%s/fi*\" (%s/fifo): "
	    "is a FIFO", link, link);
	assert_string_equal(err, path);
	assert_int_equal(unlink(link), 0);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		assert_int_equal(unlink(path), 0);
	}
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* ------------------------------------------------------ the real layer */

static char tmpdir[64];

static void
real_expect(const char *name, const char *want_why)
{
	char path[256], *text;
	char why[256];
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	why[0] = '\0';
	if (confsrc_read_file(&conf_fs_real, path, BIG, &text, &len, why,
	    sizeof(why)) == 0) {
		free(text);
		fail_msg("%s: read, not refused", path);
	}
	assert_string_equal(why, want_why);
}

static void
test_real_layer(void **state)
{
	static const char *const rest[] = { "fifo", "sock", "loop", "null" };
	struct sockaddr_un sun;
	char path[256], path2[256], *text, why[256];
	size_t len, i;
	FILE *f;
	int s;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_confsrc.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	assert_non_null(f = fopen(path, "w"));
	fputs("a = 1;\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(confsrc_read_file(&conf_fs_real, path, BIG, &text, &len,
	    why, sizeof(why)), 0);
	assert_string_equal(text, "a = 1;\n");
	assert_int_equal(len, 7);
	free(text);
	/* max + 1 bytes at the most: enough to know it is larger. */
	assert_int_equal(confsrc_read_file(&conf_fs_real, path, 3, &text, &len,
	    why, sizeof(why)), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(text, "a = ", 4);
	free(text);

	snprintf(path, sizeof(path), "%s/dir", tmpdir);
	assert_int_equal(mkdir(path, 0755), 0);
	real_expect("dir", "is a directory");
	/* A FIFO with no writer: refused, and not waited on. */
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(path, 0644), 0);
	real_expect("fifo", "is a FIFO");
	snprintf(path, sizeof(path), "%s/sock", tmpdir);
	assert_true((s = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
	real_expect("sock", "is a socket");
	close(s);
	snprintf(path, sizeof(path), "%s/loop", tmpdir);
	assert_int_equal(symlink("loop", path), 0);
	real_expect("loop", strerror(ELOOP));
	snprintf(path2, sizeof(path2), "%s/null", tmpdir);
	assert_int_equal(symlink("/dev/null", path2), 0);
	real_expect("null", "is a character device");
	real_expect("missing", strerror(ENOENT));
	real_expect("file/below", strerror(ENOTDIR));
	if (geteuid() != 0) {
		snprintf(path, sizeof(path), "%s/file", tmpdir);
		assert_int_equal(chmod(path, 0), 0);
		real_expect("file", strerror(EACCES));
	}

	snprintf(path, sizeof(path), "%s/file", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/dir", tmpdir);
	rmdir(path);
	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, rest[i]);
		assert_int_equal(unlink(path), 0);
	}
	assert_int_equal(rmdir(tmpdir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_include),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_rest_of_line),
		cmocka_unit_test(test_where_honoured),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_file_types),
		cmocka_unit_test(test_content),
		cmocka_unit_test(test_conf_lines),
		cmocka_unit_test(test_glob_order),
		cmocka_unit_test(test_glob_dirs),
		cmocka_unit_test(test_glob_file_types),
		cmocka_unit_test(test_glob_nested),
		cmocka_unit_test(test_glob_budget),
		cmocka_unit_test(test_glob_counts),
		cmocka_unit_test(test_glob_listed),
		cmocka_unit_test(test_glob_path_max),
		cmocka_unit_test(test_real_layer),
		cmocka_unit_test(test_real_list),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	fake_reset();
	return rc;
}
