/* SPDX-License-Identifier: ISC */
/*
 * test_conf_doc.c: the settings table of conf.c (conf_settings()) against
 * its documentation, both ways.  A row added without documentation, a
 * documented setting the parser does not know, or a default or reload
 * class that differs, fails here with what to fix.
 *
 * man/upcased.conf.5, section SETTINGS: every setting is an item
 * ".It Ic NAME ..." of a tag list; a member of a group or of the listen
 * list is an item of a list nested in the group's item, so its path is
 * the names of the enclosing items and its own, joined by dots
 * ("tcp.threads", "listen.port").  An item's text (up to the next item of
 * its list, without the nested lists) has, for a setting, one line
 *     Default: VALUE.
 * or the line "Default:" followed by ".Ql VALUE ." or ".Pa VALUE .";
 * "empty" stands for "".  A list's VALUE is spelt as in the file and as
 * in the table, "( )" or "( "a", "b" )" (quotes as they are, on a text
 * line).  It has a line starting "Reload: applied" or
 * "Reload: restart", or else the nearest enclosing item has (the listen
 * list's one line covers its members).
 *
 * etc/upcased.conf: every setting is present with its default (a listen
 * member in the first listener; a list of strings in the list form, ( ),
 * not an array, [ ]), and the comment block right above it,
 * or else above its group or list, has a line "# Reload: ...": exactly
 * "# Reload: restart needed." for a setting that needs a restart.
 *
 * A list row's default is spelt in the one way these compare with: as
 * conf_default() reads it, written back as "( )" or "( "a", "b" )".
 *
 * TOP_SRCDIR (set by make check) says where the source tree is.
 */
#include "config.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libconfig.h>

#include "conf.h"

#define MAN "man/upcased.conf.5"
#define ETC "etc/upcased.conf"

/*
 * A row's default as the source tree's documents spell it: the control
 * socket is /run/upcased/... there, whatever --runstatedir the build has
 * (make install writes that into the copies it installs).
 */
static const char *
doc_def(const struct conf_setting *r)
{
	return strcmp(r->def, UPCASE_DEFAULT_CONTROL_SOCKET) == 0 ?
	    UPCASE_DOCS_CONTROL_SOCKET : r->def;
}

/* Problems are collected, so that one run shows all of them. */
static int problems;

static void problem(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
problem(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "  ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	problems++;
}

static void
done(const char *what)
{
	if (problems > 0)
		fail_msg("%d problem(s) between the settings table (src/conf.c) "
		    "and %s, listed above", problems, what);
}

static const char *
src_path(const char *rel, char *buf, size_t len)
{
	const char *top = getenv("TOP_SRCDIR");

	if (top == NULL || *top == '\0')
		return NULL;
	snprintf(buf, len, "%s/%s", top, rel);
	return buf;
}

/* The file's lines (NUL-terminated, in place), and how many. */
static char **
read_lines(const char *path, size_t *nlines)
{
	char *text, **lines, *p;
	size_t n = 0, cap = 64;
	long size;
	FILE *f;

	assert_non_null(f = fopen(path, "r"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	assert_true((size = ftell(f)) >= 0);
	rewind(f);
	assert_non_null(text = calloc(1, (size_t)size + 1));
	assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	assert_non_null(lines = malloc(cap * sizeof(*lines)));
	lines[0] = text;	/* also for an empty file: free_lines() frees it */
	for (p = text; *p != '\0'; n++) {
		if (n == cap)
			assert_non_null(lines = realloc(lines, (cap *= 2) * sizeof(*lines)));
		lines[n] = p;
		p += strcspn(p, "\n");
		if (*p == '\n')
			*p++ = '\0';
	}
	*nlines = n;
	return lines;
}

static void
free_lines(char **lines)
{
	free(lines[0]);
	free(lines);
}

static const struct conf_setting *
find_row(const char *name)
{
	const struct conf_setting *t;
	size_t n, i;

	t = conf_settings(&n);
	for (i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return &t[i];
	return NULL;
}

/* Whether some row is in group (a row's name starts with "group."). */
static bool
is_group(const char *group)
{
	const struct conf_setting *t;
	size_t n, i, len = strlen(group);

	t = conf_settings(&n);
	for (i = 0; i < n; i++)
		if (strncmp(t[i].name, group, len) == 0 && t[i].name[len] == '.')
			return true;
	return false;
}

/*
 * Strings as a list is spelt in the table's defaults: "( )",
 * "( "a", "b" )" (or with [ ] for an array).  False if it does not fit.
 */
static bool
format_strings(bool array, const char *const *v, size_t n, char *buf,
    size_t len)
{
	size_t at = 0, i;
	const char *p;

#define PUT(ch) do { if (at + 1 >= len) return false; buf[at++] = (ch); } while (0)
	PUT(array ? '[' : '(');
	PUT(' ');
	for (i = 0; i < n; i++) {
		if (i > 0) {
			PUT(',');
			PUT(' ');
		}
		PUT('"');
		for (p = v[i]; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				PUT('\\');
			PUT(*p);
		}
		PUT('"');
	}
	if (n > 0)
		PUT(' ');
	PUT(array ? ']' : ')');
#undef PUT
	buf[at] = '\0';
	return true;
}

/* A libconfig list or array of strings, spelt so; false if an item is not a string. */
static bool
format_setting_list(const config_setting_t *s, char *buf, size_t len)
{
	const char *v[1024];
	int n = config_setting_length(s), i;

	if (n > (int)(sizeof(v) / sizeof(v[0])))
		return false;
	for (i = 0; i < n; i++)
		if ((v[i] = config_setting_get_string_elem(s, i)) == NULL)
			return false;
	return format_strings(config_setting_is_array(s), v, (size_t)n, buf, len);
}

/* ------------------------------------------------------------ the table */

/* Each list row's default, as conf_default() reads it, spelt back as the row spells it. */
static void
test_list_defaults_canonical(void **state)
{
	const struct conf_setting *t, *r;
	const struct conf_list *l;
	char buf[1024];
	struct conf *c;
	size_t n, i;

	(void)state;
	problems = 0;
	assert_non_null(c = conf_default());
	t = conf_settings(&n);
	for (i = 0; i < n; i++) {
		if ((r = &t[i])->type != CONF_T_LIST)
			continue;
		assert_false(r->listener);
		l = (const struct conf_list *)(const void *)((const char *)c + r->offset);
		if (!format_strings(false, (const char *const *)l->v, l->n, buf,
		    sizeof(buf)))
			problem("%s: its default is too long for this test", r->name);
		else if (strcmp(buf, r->def) != 0)
			problem("%s: the table spells its default \"%s\"; "
			    "write it \"%s\"", r->name, r->def, buf);
	}
	conf_free(c);
	done("the way lists are spelt");
}

/* ------------------------------------------------------------ the man page */

struct item {
	char   path[64];
	int    line;        /* of its .It, for messages */
	int    parent;      /* index of the enclosing item, or -1 */
	bool   group;       /* has items nested in it */
	char **text;        /* its own lines */
	size_t ntext;
};

struct man {
	struct item v[128];
	size_t n;
};

static void
item_add_line(struct item *it, char *line)
{
	it->text = realloc(it->text, (it->ntext + 1) * sizeof(*it->text));
	assert_non_null(it->text);
	it->text[it->ntext++] = line;
}

/* ".It Ic NAME ..." at list depth depth (1: the SETTINGS list). */
static int
man_item(struct man *m, const char *line, int lineno, int depth,
    const int *cur)
{
	char name[32], path[64];
	struct item *it;
	int parent = depth > 1 ? cur[depth - 1] : -1;

	if (sscanf(line, ".It Ic %31[^ ]", name) != 1 || (depth > 1 && parent == -1))
		return -1;	/* not a setting, or in an item that is not one */
	assert_true(m->n < sizeof(m->v) / sizeof(m->v[0]));
	snprintf(path, sizeof(path), "%s%s%s", parent >= 0 ? m->v[parent].path : "",
	    parent >= 0 ? "." : "", name);
	it = &m->v[m->n];
	memset(it, 0, sizeof(*it));
	memcpy(it->path, path, sizeof(it->path));
	it->line = lineno;
	it->parent = parent;
	if (parent >= 0)
		m->v[parent].group = true;
	return (int)m->n++;
}

/* The SETTINGS section's items, with their own text (see the top). */
static void
man_parse(char **lines, size_t nlines, struct man *m)
{
	int depth = 0, cur[16], d;
	bool in = false;
	size_t i;

	m->n = 0;
	for (i = 0; i < nlines; i++) {
		char *l = lines[i];

		if (strncmp(l, ".Sh ", 4) == 0) {
			in = strcmp(l, ".Sh SETTINGS") == 0;
			continue;
		}
		if (!in)
			continue;
		if (strncmp(l, ".Bl", 3) == 0) {
			assert_true(depth + 1 < (int)(sizeof(cur) / sizeof(cur[0])));
			cur[++depth] = -1;
		} else if (strncmp(l, ".El", 3) == 0) {
			assert_true(depth > 0);
			depth--;
		} else if (strncmp(l, ".It", 3) == 0 && depth > 0) {
			cur[depth] = man_item(m, l, (int)i + 1, depth, cur);
		} else {
			/* Text goes to the innermost setting it is inside. */
			for (d = depth; d > 0 && cur[d] == -1; d--)
				continue;
			if (d > 0)
				item_add_line(&m->v[cur[d]], l);
		}
	}
}

static void
man_free(struct man *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].text);
}

static const struct item *
man_find(const struct man *m, const char *path)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i].path, path) == 0)
			return &m->v[i];
	return NULL;
}

/* "Default: VALUE." or "Default:" + ".Ql VALUE ." / ".Pa VALUE ."; "empty" is "". */
static bool
man_default(const struct item *it, char *value, size_t len)
{
	int found = 0;

	for (size_t i = 0; i < it->ntext; i++) {
		const char *l = it->text[i], *next = i + 1 < it->ntext ? it->text[i + 1] : "";
		size_t n;

		if (strncmp(l, "Default:", 8) != 0)
			continue;
		found++;
		if (strcmp(l, "Default:") == 0 && (strncmp(next, ".Ql ", 4) == 0 ||
		    strncmp(next, ".Pa ", 4) == 0) && (n = strlen(next)) > 6 &&
		    strcmp(next + n - 2, " .") == 0)
			snprintf(value, len, "%.*s", (int)(n - 6), next + 4);
		else if (strncmp(l, "Default: ", 9) == 0 && (n = strlen(l)) > 10 &&
		    l[n - 1] == '.')
			snprintf(value, len, "%.*s", (int)(n - 10), l + 9);
		else
			return false;
	}
	if (found == 1 && strcmp(value, "empty") == 0)
		value[0] = '\0';
	return found == 1;
}

/* The reload class stated in the item or else the nearest enclosing one; -1: none. */
static int
man_reload(const struct man *m, const struct item *it)
{
	for (; it != NULL; it = it->parent >= 0 ? &m->v[it->parent] : NULL)
		for (size_t i = 0; i < it->ntext; i++) {
			if (strncmp(it->text[i], "Reload: restart", 15) == 0)
				return CONF_RESTART;
			if (strncmp(it->text[i], "Reload: applied", 15) == 0)
				return CONF_APPLIED;
		}
	return -1;
}

static const char *
reload_name(int r)
{
	return r == CONF_RESTART ? "restart" : "applied";
}

static void
check_man_row(const struct man *m, const struct conf_setting *r)
{
	const struct item *it = man_find(m, r->name);
	char def[256] = "";
	int reload;

	if (it == NULL) {
		problem("%s: not documented in " MAN " (an item \".It Ic %s\" in "
		    "SETTINGS%s)", r->name, strrchr(r->name, '.') != NULL ?
		    strrchr(r->name, '.') + 1 : r->name, strchr(r->name, '.') != NULL ?
		    ", in a list inside its group's item" : "");
		return;
	}
	if (it->group)
		problem("%s: " MAN ":%d documents it as a group", r->name, it->line);
	if (!man_default(it, def, sizeof(def)))
		problem("%s: " MAN ":%d: no single \"Default: %s.\" line (or \"Default:\" "
		    "and \".Ql %s .\")", r->name, it->line, r->def[0] ? r->def : "empty",
		    r->def);
	else if (strcmp(def, doc_def(r)) != 0)
		problem("%s: " MAN ":%d says the default is \"%s\", the table \"%s\"",
		    r->name, it->line, def, doc_def(r));
	if ((reload = man_reload(m, it)) == -1)
		problem("%s: " MAN ":%d: no \"Reload: %s\" line, in it or its group",
		    r->name, it->line, reload_name((int)r->reload));
	else if (reload != (int)r->reload)
		problem("%s: " MAN ":%d says \"Reload: %s\", the table says %s",
		    r->name, it->line, reload_name(reload), reload_name((int)r->reload));
}

static void
load_man(struct man *m, char ***lines)
{
	char path[PATH_MAX];
	size_t nlines;

	if (src_path(MAN, path, sizeof(path)) == NULL)
		skip();
	*lines = read_lines(path, &nlines);
	man_parse(*lines, nlines, m);
	if (m->n == 0)
		fail_msg(MAN ": no \".It Ic\" items in SETTINGS");
}

static struct man man;

static void
test_man_documents_every_row(void **state)
{
	const struct conf_setting *t;
	char **lines;
	size_t n, i;

	(void)state;
	load_man(&man, &lines);
	problems = 0;
	t = conf_settings(&n);
	for (i = 0; i < n; i++)
		check_man_row(&man, &t[i]);
	man_free(&man);
	free_lines(lines);
	done(MAN);
}

static void
test_man_documents_only_rows(void **state)
{
	char **lines;
	size_t i;

	(void)state;
	load_man(&man, &lines);
	problems = 0;
	for (i = 0; i < man.n; i++) {
		const struct item *it = &man.v[i];

		if (it->group ? !is_group(it->path) : find_row(it->path) == NULL)
			problem("%s: " MAN ":%d documents a %s the table does not have",
			    it->path, it->line, it->group ? "group" : "setting");
	}
	man_free(&man);
	free_lines(lines);
	done(MAN);
}

/* ------------------------------------------------------------ etc/upcased.conf */

/* Where a row is in the sample: listen members in the first listener. */
static config_setting_t *
etc_lookup(config_t *cfg, const struct conf_setting *r)
{
	config_setting_t *list;

	if (!r->listener)
		return config_lookup(cfg, r->name);
	if ((list = config_lookup(cfg, "listen")) == NULL || !config_setting_is_list(list) ||
	    config_setting_get_elem(list, 0) == NULL)
		return NULL;
	return config_setting_get_member(config_setting_get_elem(list, 0),
	    strchr(r->name, '.') + 1);
}

/* The value as the table spells a default; false if of another type than the row's. */
static bool
etc_value(const config_setting_t *s, const struct conf_setting *r, char *buf,
    size_t len)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		snprintf(buf, len, "%lld", config_setting_get_int64(s));
		return r->type == CONF_T_INT;
	case CONFIG_TYPE_BOOL:
		snprintf(buf, len, "%s", config_setting_get_bool(s) ? "true" : "false");
		return r->type == CONF_T_BOOL;
	case CONFIG_TYPE_STRING:
		snprintf(buf, len, "%s", config_setting_get_string(s));
		return r->type != CONF_T_INT && r->type != CONF_T_BOOL &&
		    r->type != CONF_T_LIST;
	case CONFIG_TYPE_LIST:
	case CONFIG_TYPE_ARRAY:
		return format_setting_list(s, buf, len) && r->type == CONF_T_LIST;
	default:
		return false;
	}
}

/*
 * The "# Reload:" line of the comment block right above line (1-based),
 * without its indent (a setting in a group has its comment indented as it
 * is), or NULL.
 */
static const char *
etc_reload_comment(char **lines, unsigned int line)
{
	for (unsigned int i = line - 1; i > 0; i--) {
		const char *l = lines[i - 1] + strspn(lines[i - 1], " \t");

		if (l[0] != '#')
			break;
		if (strncmp(l, "# Reload:", 9) == 0)
			return l;
	}
	return NULL;
}

static void
check_etc_row(config_t *cfg, char **lines, const struct conf_setting *r)
{
	config_setting_t *s = etc_lookup(cfg, r), *top;
	const char *reload;
	char value[256];
	bool restart;

	if (s == NULL) {
		problem("%s: missing from " ETC "%s", r->name, r->listener ?
		    " (in its first listen entry)" : "");
		return;
	}
	if (!etc_value(s, r, value, sizeof(value)))
		problem("%s: " ETC ":%u: a value of another type than the table's",
		    r->name, config_setting_source_line(s));
	else if (strcmp(value, doc_def(r)) != 0)
		problem("%s: " ETC ":%u shows \"%s\", the table's default is \"%s\"",
		    r->name, config_setting_source_line(s), value, doc_def(r));
	/* The comment above the setting, else above its group or list. */
	for (top = s; config_setting_parent(top) != NULL &&
	    !config_setting_is_root(config_setting_parent(top));)
		top = config_setting_parent(top);
	if ((reload = etc_reload_comment(lines, config_setting_source_line(s))) == NULL)
		reload = etc_reload_comment(lines, config_setting_source_line(top));
	restart = reload != NULL && strcmp(reload, "# Reload: restart needed.") == 0;
	if (reload == NULL)
		problem("%s: " ETC ":%u: no \"# Reload:\" line in the comment above it",
		    r->name, config_setting_source_line(top));
	else if (restart != (r->reload == CONF_RESTART))
		problem("%s: " ETC ":%u: \"%s\", but the table says %s", r->name,
		    config_setting_source_line(top), reload, reload_name((int)r->reload));
}

static void
load_etc(config_t *cfg, char ***lines)
{
	char path[PATH_MAX];
	size_t nlines;

	if (src_path(ETC, path, sizeof(path)) == NULL)
		skip();
	config_init(cfg);
	if (!config_read_file(cfg, path))
		fail_msg("%s:%d: %s", path, config_error_line(cfg), config_error_text(cfg));
	*lines = read_lines(path, &nlines);
}

static void
test_etc_shows_every_row(void **state)
{
	const struct conf_setting *t;
	char **lines;
	config_t cfg;
	size_t n, i;

	(void)state;
	load_etc(&cfg, &lines);
	problems = 0;
	t = conf_settings(&n);
	for (i = 0; i < n; i++)
		check_etc_row(&cfg, lines, &t[i]);
	config_destroy(&cfg);
	free_lines(lines);
	done(ETC);
}

/* A setting of the sample (prefix "" or "tcp."), and what is inside it. */
static void
etc_walk(const config_setting_t *s, const char *prefix)
{
	const config_setting_t *e = config_setting_get_elem(s, 0);
	char name[128];
	int i;

	snprintf(name, sizeof(name), "%s%s", prefix, config_setting_name(s));
	/* A group, or a list of groups (listen): their members are the settings. */
	if (config_setting_is_group(s) || (config_setting_is_list(s) && e != NULL &&
	    config_setting_is_group(e))) {
		snprintf(name + strlen(name), sizeof(name) - strlen(name), ".");
		for (i = 0; (e = config_setting_get_elem(s, i)) != NULL; i++)
			if (config_setting_is_group(s))
				etc_walk(e, name);
			else
				for (int j = 0; config_setting_get_elem(e, j) != NULL; j++)
					etc_walk(config_setting_get_elem(e, j), name);
		return;
	}
	if (find_row(name) == NULL)
		problem("%s: " ETC ":%u shows a setting the table does not have",
		    name, config_setting_source_line(s));
}

static void
test_etc_shows_only_rows(void **state)
{
	const config_setting_t *s;
	char **lines;
	config_t cfg;
	int i;

	(void)state;
	load_etc(&cfg, &lines);
	problems = 0;
	for (i = 0; (s = config_setting_get_elem(config_root_setting(&cfg), i)) != NULL; i++)
		etc_walk(s, "");
	config_destroy(&cfg);
	free_lines(lines);
	done(ETC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_defaults_canonical),
		cmocka_unit_test(test_man_documents_every_row),
		cmocka_unit_test(test_man_documents_only_rows),
		cmocka_unit_test(test_etc_shows_every_row),
		cmocka_unit_test(test_etc_shows_only_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
