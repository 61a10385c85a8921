/* SPDX-License-Identifier: ISC */
/* cpus.c: the CPUs the process may use, from the texts the kernel gives (see cpus.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpus.h"

/* The next line of text (at *p), without its '\n', as [*line, *line + *len); false at the end. */
static bool
next_line(const char **p, const char **line, size_t *len)
{
	const char *s = *p, *nl;

	if (*s == '\0')
		return false;
	nl = strchr(s, '\n');
	*line = s;
	*len = nl != NULL ? (size_t)(nl - s) : strlen(s);
	*p = nl != NULL ? nl + 1 : s + *len;
	return true;
}

/* Copy [s, s + n) to out as a string if it fits. */
static bool
copy_out(const char *s, size_t n, char *out, size_t outlen)
{
	if (outlen == 0 || n >= outlen)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

/* Does the comma-separated list [s, s + n) hold the word w? */
static bool
list_has(const char *s, size_t n, const char *w)
{
	size_t wl = strlen(w);
	const char *end = s + n;

	while (s < end) {
		const char *c = memchr(s, ',', (size_t)(end - s));
		size_t l = (c != NULL ? c : end) - s;

		if (l == wl && memcmp(s, w, wl) == 0)
			return true;
		s += l + (c != NULL);
	}
	return false;
}

bool
cpus_cgroup_path(const char *text, enum cpus_cgroup v, char *out, size_t outlen)
{
	const char *p = text, *line;
	size_t len;

	while (next_line(&p, &line, &len)) {
		/* hierarchy-ID:controller-list:cgroup-path */
		const char *c1 = memchr(line, ':', len), *c2;

		if (c1 == NULL)
			continue;
		c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line));
		if (c2 == NULL)
			continue;
		if (v == CPUS_CGROUP_V2) {
			if (!(c1 - line == 1 && line[0] == '0' && c2 == c1 + 1))
				continue;
		} else if (!list_has(c1 + 1, (size_t)(c2 - c1 - 1), "cpu"))
			continue;
		if (c2 + 1 == line + len || c2[1] != '/')
			return false;
		return copy_out(c2 + 1, len - (size_t)(c2 + 1 - line), out, outlen);
	}
	return false;
}

/*
 * The space-separated field [s, s + n) decoded (mountinfo writes space,
 * tab, newline and backslash as \ooo) to out.
 */
static bool
unescape(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '\\' && i + 3 < n &&
		    s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' &&
		    s[i + 3] >= '0' && s[i + 3] <= '7') {
			ch = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
			if (ch == '\0')
				return false;
		}
		if (o + 1 >= outlen)
			return false;
		out[o++] = ch;
	}
	if (outlen == 0)
		return false;
	out[o] = '\0';
	return true;
}

/* The n-th (from 0) space-separated field of [s, end): its start and length; false if none. */
static bool
field(const char *s, const char *end, int n, const char **f, size_t *flen)
{
	for (;;) {
		const char *sp;

		while (s < end && *s == ' ')
			s++;
		if (s == end)
			return false;
		sp = memchr(s, ' ', (size_t)(end - s));
		if (sp == NULL)
			sp = end;
		if (n-- == 0) {
			*f = s;
			*flen = (size_t)(sp - s);
			return true;
		}
		s = sp;
	}
}

bool
cpus_cgroup_mount(const char *text, enum cpus_cgroup v, char *mnt, size_t mntlen,
    char *root, size_t rootlen)
{
	const char *p = text, *line;
	size_t len;

	while (next_line(&p, &line, &len)) {
		/*
		 * ID parent major:minor root mount-point options [optional...] -
		 * fstype source super-options
		 */
		const char *end = line + len, *dash = NULL, *s, *f;
		size_t flen;

		/* Paths are escaped, so " - " first appears before fstype. */
		for (s = line; s + 3 <= end; s++) {
			if (s[0] == ' ' && s[1] == '-' && s[2] == ' ') {
				dash = s + 2;
				break;
			}
		}
		if (dash == NULL || !field(dash, end, 0, &f, &flen))
			continue;
		if (v == CPUS_CGROUP_V2) {
			if (!(flen == 7 && memcmp(f, "cgroup2", 7) == 0))
				continue;
		} else {
			if (!(flen == 6 && memcmp(f, "cgroup", 6) == 0))
				continue;
			if (!field(dash, end, 2, &f, &flen) || !list_has(f, flen, "cpu"))
				continue;
		}
		if (!field(line, dash - 2, 3, &f, &flen) || !unescape(f, flen, root, rootlen))
			return false;
		if (!field(line, dash - 2, 4, &f, &flen) || !unescape(f, flen, mnt, mntlen))
			return false;
		return root[0] == '/' && mnt[0] == '/';
	}
	return false;
}

bool
cpus_cgroup_dir(const char *mnt, const char *root, const char *path, char *out, size_t outlen)
{
	size_t rl = strlen(root);
	const char *rest, *s;
	int n;

	if (path[0] != '/' || root[0] != '/')
		return false;
	/* Within root: root itself, or root then '/'. */
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	if (rl == 1)
		rest = path;
	else if (strncmp(path, root, rl) == 0 && (path[rl] == '\0' || path[rl] == '/'))
		rest = path + rl;
	else
		return false;
	for (s = rest; *s != '\0'; ) {
		const char *e = strchr(s, '/');
		size_t l = e != NULL ? (size_t)(e - s) : strlen(s);

		if (l == 2 && s[0] == '.' && s[1] == '.')
			return false;
		s += l + (e != NULL);
	}
	while (*rest == '/')
		rest++;
	n = snprintf(out, outlen, "%s%s%s", mnt,
	    *rest != '\0' && mnt[strlen(mnt) - 1] != '/' ? "/" : "", rest);
	return n >= 0 && (size_t)n < outlen;
}

/* A decimal number of at most 18 digits at *s (no sign), advancing *s. */
static bool
number(const char **s, long long *v)
{
	const char *p = *s;
	long long n = 0;
	int digits = 0;

	while (*p >= '0' && *p <= '9') {
		if (++digits > 18)
			return false;
		n = n * 10 + (*p - '0');
		p++;
	}
	if (digits == 0)
		return false;
	*v = n;
	*s = p;
	return true;
}

/* Only an optional '\n' left at s. */
static bool
at_end(const char *s)
{
	return s[0] == '\0' || (s[0] == '\n' && s[1] == '\0');
}

int
cpus_parse_max(const char *text, long long *quota, long long *period)
{
	const char *s = text;
	long long q = -1, p = 100000;

	if (strncmp(s, "max", 3) == 0)
		s += 3;
	else if (!number(&s, &q) || q == 0)
		return -1;
	if (*s == ' ') {
		s++;
		if (!number(&s, &p) || p == 0)
			return -1;
	} else if (q != -1)
		return -1;          /* a quota needs its period */
	if (!at_end(s))
		return -1;
	*quota = q;
	*period = p;
	return 0;
}

int
cpus_parse_v1(const char *quota_text, const char *period_text, long long *quota,
    long long *period)
{
	const char *s = quota_text;
	long long q, p;

	if (strncmp(s, "-1", 2) == 0 && at_end(s + 2))
		q = -1;
	else if (!number(&s, &q) || q == 0 || !at_end(s))
		return -1;
	s = period_text;
	if (!number(&s, &p) || p == 0 || !at_end(s))
		return -1;
	*quota = q;
	*period = p;
	return 0;
}

int
cpus_quota_cpus(long long quota, long long period)
{
	long long n;

	if (quota < 0 || period <= 0)
		return 0;
	n = quota / period + (quota % period != 0);
	if (n < 1)
		n = 1;
	return n > INT_MAX ? INT_MAX : (int)n;
}

int
cpus_usable(int online, int affinity, long long quota, long long period,
    const char *quota_where, char *why, size_t whylen)
{
	int n = online > 0 ? online : 1, q = cpus_quota_cpus(quota, period);

	if (affinity > 0 && affinity < n) {
		snprintf(why, whylen, "CPU affinity allows %d of %d online CPUs", affinity, n);
		n = affinity;
	} else
		snprintf(why, whylen, "%d online CPU%s", n, n == 1 ? "" : "s");
	if (q > 0 && q < n) {
		snprintf(why, whylen, "the cgroup CPU quota, %lld/%lld us in %s, allows %d of %d CPUs",
		    quota, period, quota_where != NULL ? quota_where : "the cgroup", q, n);
		n = q;
	}
	return n;
}
