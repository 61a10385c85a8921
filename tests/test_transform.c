/* SPDX-License-Identifier: ISC */
/*
 * test_transform.c: unit tests of the transformation module.
 *
 * Known hard cases and invalid sequences are checked against expected
 * bytes; random and exhaustive inputs are checked against Python's own
 * str.upper(), which is the definition of the product's behaviour.
 * Every input is also fed in pieces, which must not change the output,
 * and every output buffer is allocated at exactly TRANSFORM_BOUND() so
 * that a sanitizer catches any write past the documented bound.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <unicase.h>
#include <unistr.h>

#include "transform.h"

#define DEFAULT_SEED	20240611u
#define RANDOM_COUNT	3000
#define RANDOM_MAXLEN	200
#define LONG_COUNT	8
#define LONG_LEN	20000

/* Python's decoder, one hex-encoded byte string per line.  It reads all
 * of its input before it writes, so the caller cannot deadlock. */
static const char py_script[] =
    "import sys\n"
    "lines = sys.stdin.buffer.read().split(b'\\n')[:-1]\n"
    "out = [bytes.fromhex(l.decode()).decode('utf-8', 'surrogateescape')\n"
    "       .upper().encode('utf-8', 'surrogateescape').hex() for l in lines]\n"
    "sys.stdout.write(''.join(x + '\\n' for x in out))\n";

struct buf {
	uint8_t	*p;
	size_t	 len, cap;
};

static uint64_t rng_state;
static unsigned int seed;

/* splitmix64: small, and the same sequence everywhere for a seed. */
static uint64_t
rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t
rng_below(size_t n)
{
	return n ? (size_t)(rng() % n) : 0;
}

static void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void
print_hex(const char *label, const uint8_t *p, size_t n)
{
	size_t i;

	fprintf(stderr, "%s (%zu):", label, n);
	for (i = 0; i < n; i++)
		fprintf(stderr, " %02x", p[i]);
	fprintf(stderr, "\n");
}

static void
assert_same(const uint8_t *in, size_t n, const uint8_t *got, size_t glen,
    const uint8_t *want, size_t wlen, const char *what)
{
	if (glen == wlen && (wlen == 0 || memcmp(got, want, wlen) == 0))
		return;
	fprintf(stderr, "mismatch (%s), seed %u\n", what, seed);
	print_hex("input", in, n);
	print_hex("got  ", got, glen);
	print_hex("want ", want, wlen);
	fail();
}

/* transform_buffer into a buffer of exactly TRANSFORM_BOUND(n) bytes. */
static void
one_shot(enum transform_charset cs, const uint8_t *in, size_t n, struct buf *res)
{
	uint8_t *out = malloc(TRANSFORM_BOUND(n));
	size_t o;

	assert_non_null(out);
	o = transform_buffer(cs, in, n, out);
	assert_true(o <= TRANSFORM_BOUND(n));
	res->len = 0;
	buf_add(res, out, o);
	free(out);
}

/* Feed n bytes as pieces ending at cuts[0..ncuts), then the rest. */
static void
feed_cuts(enum transform_charset cs, const uint8_t *in, size_t n,
    const size_t *cuts, size_t ncuts, struct buf *res)
{
	struct transform t;
	size_t k, at = 0, end, o;
	uint8_t *out;

	transform_init(&t, cs);
	res->len = 0;
	for (k = 0; k <= ncuts; k++) {
		end = k < ncuts ? cuts[k] : n;
		out = malloc(TRANSFORM_BOUND(end - at));
		assert_non_null(out);
		o = transform_feed(&t, in + at, end - at, out);
		assert_true(o <= TRANSFORM_BOUND(end - at));
		assert_true(t.ncarry <= 3);
		buf_add(res, out, o);
		free(out);
		at = end;
	}
	out = malloc(3);
	assert_non_null(out);
	o = transform_finish(&t, out);
	assert_true(o <= 3);
	assert_int_equal(t.ncarry, 0);
	buf_add(res, out, o);
	free(out);
}

/* Random pieces of 0..maxpiece bytes. */
static void
feed_random(enum transform_charset cs, const uint8_t *in, size_t n,
    size_t maxpiece, struct buf *res)
{
	size_t *cuts = malloc((2 * n + 2) * sizeof(*cuts));
	size_t ncuts = 0, at = 0, step, last = 1;

	assert_non_null(cuts);
	while (at < n) {
		/* 0 is an empty feed; never two in a row, so cuts suffices. */
		step = rng_below(maxpiece + 1);
		if (step == 0 && last == 0)
			step = 1;
		at = step > n - at ? n : at + step;
		cuts[ncuts++] = at;
		last = step;
	}
	feed_cuts(cs, in, n, cuts, ncuts, res);
	free(cuts);
}

/* One call; every 2-way and 3-way split; byte by byte with empty feeds. */
static void
check_splits(enum transform_charset cs, const uint8_t *in, size_t n,
    const uint8_t *want, size_t wlen)
{
	struct buf got = { 0 };
	size_t cuts[2 * 64 + 1], i, j;

	one_shot(cs, in, n, &got);
	assert_same(in, n, got.p, got.len, want, wlen, "one call");
	for (i = 0; i <= n; i++) {
		for (j = i; j <= n; j++) {
			cuts[0] = i;
			cuts[1] = j;
			feed_cuts(cs, in, n, cuts, 2, &got);
			assert_same(in, n, got.p, got.len, want, wlen, "split");
		}
	}
	if (n <= 64) {
		for (i = 0; i < n; i++) {
			cuts[2 * i] = i;
			cuts[2 * i + 1] = i + 1;
		}
		feed_cuts(cs, in, n, cuts, 2 * n, &got);
		assert_same(in, n, got.p, got.len, want, wlen, "bytewise");
	}
	buf_free(&got);
}

struct tcase {
	const char	*in;
	size_t		 inlen;
	const char	*out;
	size_t		 outlen;
};
#define T(a, b)	{ a, sizeof(a) - 1, b, sizeof(b) - 1 }

static const struct tcase hard_cases[] = {
	T("", ""),
	T("hello, world 0123 @[`{~", "HELLO, WORLD 0123 @[`{~"),
	T("straße", "STRASSE"),
	T("ß", "SS"),
	T("\xef\xac\x81 \xef\xac\x83", "FI FFI"),		/* U+FB01 U+FB03 */
	T("\xce\x90", "\xce\x99\xcc\x88\xcc\x81"),		/* U+0390, 3x */
	T("\xce\xb0", "\xce\xa5\xcc\x88\xcc\x81"),		/* U+03B0 */
	T("\xc5\x89", "\xca\xbcN"),				/* U+0149 */
	T("\xc7\xb0", "J\xcc\x8c"),				/* U+01F0 */
	T("\xe1\xbe\xb7", "\xce\x91\xcd\x82\xce\x99"),		/* U+1FB7 */
	T("\xd6\x87", "\xd4\xb5\xd5\x92"),			/* U+0587 */
	T("\xf0\x90\x90\xa8", "\xf0\x90\x90\x80"),		/* U+10428 */
	T("\xc4\xb1", "I"),					/* U+0131 */
	T("\xc4\xb0", "\xc4\xb0"),				/* U+0130 */
	T("\xc7\x85", "\xc7\x84"),				/* U+01C5 */
	T("\xc7\x86", "\xc7\x84"),				/* U+01C6 */
	T("\xcf\x82", "\xce\xa3"),				/* U+03C2 */
	T("όσος", "ΌΣΟΣ"),
	T("Grüße, Привет мир! 世界 😀 ǆ", "GRÜSSE, ПРИВЕТ МИР! 世界 😀 Ǆ"),
	T("ÀÉÎ already upper", "ÀÉÎ ALREADY UPPER"),
};

static const struct tcase invalid_cases[] = {
	T("a\xc0\x80z", "A\xc0\x80Z"),				/* overlong NUL */
	T("\xc1\xbf", "\xc1\xbf"),
	T("x\xe0\x80\x80y", "X\xe0\x80\x80Y"),
	T("\xe0\x9f\xbf\xc3\xa9", "\xe0\x9f\xbf\xc3\x89"),
	T("\xf0\x80\x80\x80q", "\xf0\x80\x80\x80Q"),
	T("\xf0\x8f\xbf\xbf", "\xf0\x8f\xbf\xbf"),
	T("\xed\xa0\x80", "\xed\xa0\x80"),			/* U+D800 */
	T("\xed\xbf\xbf\xc3\xa4", "\xed\xbf\xbf\xc3\x84"),	/* U+DFFF */
	T("\xed\x9f\xbf", "\xed\x9f\xbf"),			/* U+D7FF: valid */
	T("\xf4\x90\x80\x80", "\xf4\x90\x80\x80"),		/* U+110000 */
	T("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"),		/* U+10FFFF: valid */
	T("\xf5\x80\x80\x80", "\xf5\x80\x80\x80"),
	T("a\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff" "b", "A\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff" "B"),
	T("ab\xe2\x82", "AB\xe2\x82"),				/* truncated at end */
	T("ab\xf0\x9f\x98", "AB\xf0\x9f\x98"),
	T("\xc3", "\xc3"),
	T("\xe2\x82z", "\xe2\x82Z"),				/* truncated, then ASCII */
	T("\xf0\x9f\x98z\xc3\xa9", "\xf0\x9f\x98Z\xc3\x89"),
	T("\xf0\x9f\xc3\xa9", "\xf0\x9f\xc3\x89"),		/* truncated, then a char */
	T("\xf0\x90\x80\x80\x80", "\xf0\x90\x80\x80\x80"),	/* valid + stray */
	T("\x80\xbf\x80" "abc", "\x80\xbf\x80" "ABC"),		/* stray continuations */
	T("\xc3\xc3\xa9", "\xc3\xc3\x89"),
	T("a\0b\0\xc3\xa9\0", "A\0B\0\xc3\x89\0"),		/* NUL passes */
	T("\xc3\0\xa9", "\xc3\0\xa9"),
	T("\xe2\0\x82\xac", "\xe2\0\x82\xac"),
	T("\xff\xfe\xc3\x9f\xff", "\xff\xfeSS\xff"),
};

static void
run_table(const struct tcase *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		check_splits(TRANSFORM_UTF8, (const uint8_t *)c[i].in, c[i].inlen,
		    (const uint8_t *)c[i].out, c[i].outlen);
}

static void
test_hard_cases(void **state)
{
	(void)state;
	run_table(hard_cases, sizeof(hard_cases) / sizeof(hard_cases[0]));
}

static void
test_invalid(void **state)
{
	(void)state;
	run_table(invalid_cases, sizeof(invalid_cases) / sizeof(invalid_cases[0]));
}

static uint8_t
ref_ascii(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/*
 * A non-ASCII character or a bad byte at every position of ASCII text of
 * every length up to 40: the word-at-a-time path must hand over exactly
 * where it stops.
 */
static void
test_ascii_boundaries(void **state)
{
	static const struct tcase marks[] = {
		T("\xc3\x9f", "SS"), T("\xff", "\xff"), T("\xe2\x82", "\xe2\x82"),
		T("\xce\x90", "\xce\x99\xcc\x88\xcc\x81"),
	};
	struct buf in = { 0 }, want = { 0 };
	size_t len, pos, m, i;
	uint8_t c;

	(void)state;
	for (m = 0; m < sizeof(marks) / sizeof(marks[0]); m++) {
		for (len = 0; len <= 40; len++) {
			for (pos = 0; pos <= len; pos++) {
				in.len = want.len = 0;
				for (i = 0; i <= len; i++) {
					if (i == pos) {
						buf_add(&in, marks[m].in, marks[m].inlen);
						buf_add(&want, marks[m].out, marks[m].outlen);
					}
					if (i == len)
						break;
					c = (uint8_t)rng_below(128);
					buf_add(&in, &c, 1);
					c = ref_ascii(c);
					buf_add(&want, &c, 1);
				}
				check_splits(TRANSFORM_UTF8, in.p, in.len, want.p, want.len);
			}
		}
	}
	buf_free(&in);
	buf_free(&want);
}

/* Runs longer than one u8_toupper call, cut anywhere. */
static void
test_long_runs(void **state)
{
	static const struct tcase units[] = {
		T("\xce\x90", "\xce\x99\xcc\x88\xcc\x81"), T("ß", "SS"),
		T("ж", "Ж"), T(" ", " "), T("😀", "😀"), T("\xf0\x90\x90\xa8", "\xf0\x90\x90\x80"),
	};
	struct buf in = { 0 }, want = { 0 }, got = { 0 };
	size_t i, k;

	(void)state;
	for (i = 0; i < 30000; i++) {
		k = rng_below(sizeof(units) / sizeof(units[0]));
		buf_add(&in, units[k].in, units[k].inlen);
		buf_add(&want, units[k].out, units[k].outlen);
	}
	one_shot(TRANSFORM_UTF8, in.p, in.len, &got);
	assert_same(in.p, 0, got.p, got.len, want.p, want.len, "long run");
	for (i = 0; i < 20; i++) {
		feed_random(TRANSFORM_UTF8, in.p, in.len, 1 + rng_below(9000), &got);
		assert_same(in.p, 0, got.p, got.len, want.p, want.len, "long run fed");
	}
	buf_free(&in);
	buf_free(&want);
	buf_free(&got);
}

static void
test_ascii_charset(void **state)
{
	struct buf in = { 0 }, want = { 0 }, got = { 0 };
	size_t i;
	uint8_t c;

	(void)state;
	for (i = 0; i < 4096 + 7; i++) {
		c = i < 256 ? (uint8_t)i : (uint8_t)rng();
		buf_add(&in, &c, 1);
		c = ref_ascii(c);
		buf_add(&want, &c, 1);
	}
	one_shot(TRANSFORM_ASCII, in.p, in.len, &got);
	assert_same(in.p, 0, got.p, got.len, want.p, want.len, "ascii");
	for (i = 0; i < 50; i++) {
		feed_random(TRANSFORM_ASCII, in.p, in.len, 1 + rng_below(100), &got);
		assert_same(in.p, 0, got.p, got.len, want.p, want.len, "ascii fed");
	}
	/* Not even a truncated UTF-8 prefix is held back. */
	check_splits(TRANSFORM_ASCII, (const uint8_t *)"\xc3\x9f\xe2\x82", 4,
	    (const uint8_t *)"\xc3\x9f\xe2\x82", 4);
	check_splits(TRANSFORM_ASCII, (const uint8_t *)"stra\xc3\x9f" "e", 7,
	    (const uint8_t *)"STRA\xc3\x9f" "E", 7);
	buf_free(&in);
	buf_free(&want);
	buf_free(&got);
}

static void
test_charset_names(void **state)
{
	(void)state;
	assert_int_equal(transform_charset_from_name("utf-8"), TRANSFORM_UTF8);
	assert_int_equal(transform_charset_from_name("UTF-8"), TRANSFORM_UTF8);
	assert_int_equal(transform_charset_from_name("Utf8"), TRANSFORM_UTF8);
	assert_int_equal(transform_charset_from_name("ASCII"), TRANSFORM_ASCII);
	assert_int_equal(transform_charset_from_name("ascii"), TRANSFORM_ASCII);
	assert_int_equal(transform_charset_from_name("latin1"), -1);
	assert_int_equal(transform_charset_from_name(""), -1);
	assert_int_equal(transform_charset_from_name("utf-8 "), -1);
	assert_string_equal(transform_charset_name(TRANSFORM_UTF8), "utf-8");
	assert_string_equal(transform_charset_name(TRANSFORM_ASCII), "ascii");
	assert_int_equal(transform_charset_from_name(transform_charset_name(TRANSFORM_ASCII)),
	    TRANSFORM_ASCII);
}

/* ------------------------------------------------- libunistring failures */

enum toupper_mode {
	TOUPPER_REAL,
	TOUPPER_ENOMEM,		/* fail as if out of memory */
	TOUPPER_MALLOC,		/* ignore resultbuf: return a malloc'ed result */
};
static enum toupper_mode toupper_mode;

static void rand_piece(struct buf *);

/*
 * This definition takes the place of libunistring's for transform.c (the
 * executable's symbol wins), so that the paths for its rarer answers can
 * be tested; the real function is reached through RTLD_NEXT.
 */
uint8_t *
u8_toupper(const uint8_t *s, size_t n, const char *lang, uninorm_t nf,
    uint8_t *resultbuf, size_t *lengthp)
{
	static uint8_t *(*real)(const uint8_t *, size_t, const char *,
	    uninorm_t, uint8_t *, size_t *);

	if (real == NULL) {
		*(void **)&real = dlsym(RTLD_NEXT, "u8_toupper");
		if (real == NULL)
			fail_msg("libunistring's u8_toupper not found: %s", dlerror());
	}
	switch (toupper_mode) {
	case TOUPPER_ENOMEM:
		errno = ENOMEM;
		return NULL;
	case TOUPPER_MALLOC:
		return real(s, n, lang, nf, NULL, lengthp);
	default:
		return real(s, n, lang, nf, resultbuf, lengthp);
	}
}

/* Back to the real function even when a check failed half-way. */
static int
toupper_real(void **state)
{
	(void)state;
	toupper_mode = TOUPPER_REAL;
	return 0;
}

static void
test_toupper_failures(void **state)
{
	struct buf in = { 0 }, normal = { 0 }, got = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < 3000; i++)
		rand_piece(&in);
	one_shot(TRANSFORM_UTF8, in.p, in.len, &normal);
	assert_true(normal.len != in.len || memcmp(normal.p, in.p, in.len) != 0);

	/* A malloc'ed result is copied (and freed: LeakSanitizer checks). */
	toupper_mode = TOUPPER_MALLOC;
	one_shot(TRANSFORM_UTF8, in.p, in.len, &got);
	assert_same(in.p, 0, got.p, got.len, normal.p, normal.len, "malloc'ed result");
	feed_random(TRANSFORM_UTF8, in.p, in.len, 50, &got);
	assert_same(in.p, 0, got.p, got.len, normal.p, normal.len, "malloc'ed, fed");

	/*
	 * ENOMEM: nothing lost.  Four-byte characters go through u8_toupper
	 * and come back unchanged; ASCII on the fast path is still mapped.
	 * (Shorter characters use tables filled at start-up.)
	 */
	{
		static const char text[] = "𐐨 𐐨 𐐨 abc 𐐨x 𐐨𐐨 𐐨\xff end";
		const uint8_t *t = (const uint8_t *)text;
		size_t tlen = sizeof(text) - 1;

		toupper_mode = TOUPPER_ENOMEM;
		one_shot(TRANSFORM_UTF8, t, tlen, &got);
		toupper_mode = TOUPPER_REAL;
		assert_int_equal(got.len, tlen);
		/* ASCII inside a failed run stays as it was, too. */
		for (i = 0; i < tlen; i++)
			assert_true(got.p[i] == t[i] || got.p[i] == ref_ascii(t[i]));
		assert_memory_equal(got.p + tlen - 3, "END", 3);	/* the fast path */
		assert_memory_equal(got.p, "𐐨", 4);
	}
	buf_free(&in);
	buf_free(&normal);
	buf_free(&got);
}

/* ---------------------------------------------------------------- Python */

static void
hex_line(struct buf *b, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char two[2];
	size_t i;

	for (i = 0; i < n; i++) {
		two[0] = digits[p[i] >> 4];
		two[1] = digits[p[i] & 15];
		buf_add(b, two, 2);
	}
	buf_add(b, "\n", 1);
}

static int
hex_digit(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode the hex line at *pos of text into res; advance *pos past it. */
static void
unhex_line(const struct buf *text, size_t *pos, struct buf *res)
{
	size_t i = *pos;
	int hi, lo;
	uint8_t c;

	res->len = 0;
	while (i < text->len && text->p[i] != '\n') {
		assert_true(i + 1 < text->len);
		hi = hex_digit(text->p[i]);
		lo = hex_digit(text->p[i + 1]);
		assert_true(hi >= 0 && lo >= 0);
		c = (uint8_t)(hi << 4 | lo);
		buf_add(res, &c, 1);
		i += 2;
	}
	assert_true(i < text->len);	/* every line ends in a newline */
	*pos = i + 1;
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Run python3 (from PATH) on the hex lines in req; its reply goes to
 * res.  Returns python's exit status, 127 if it could not be started.
 */
static int
python_upper(const struct buf *req, struct buf *res)
{
	int to[2], from[2], status;
	uint8_t chunk[65536];
	ssize_t r;
	pid_t pid;

	assert_int_equal(pipe(to), 0);
	assert_int_equal(pipe(from), 0);
	if ((pid = fork()) == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[0]); close(to[1]); close(from[0]); close(from[1]);
		execlp("python3", "python3", "-c", py_script, (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	close(to[0]);
	close(from[1]);
	(void)write_all(to[1], req->p, req->len);	/* EPIPE: see status */
	close(to[1]);
	res->len = 0;
	while ((r = read(from[0], chunk, sizeof(chunk))) > 0)
		buf_add(res, chunk, (size_t)r);
	close(from[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Check each string of ins against Python's answer for it. */
static void
compare_python(struct buf *ins, size_t count, int chunked)
{
	struct buf req = { 0 }, res = { 0 }, want = { 0 }, got = { 0 };
	size_t i, pos = 0;
	int rc;

	for (i = 0; i < count; i++)
		hex_line(&req, ins[i].p, ins[i].len);
	rc = python_upper(&req, &res);
	if (rc == 127)
		skip();		/* no python3 in PATH */
	assert_int_equal(rc, 0);
	for (i = 0; i < count; i++) {
		unhex_line(&res, &pos, &want);
		one_shot(TRANSFORM_UTF8, ins[i].p, ins[i].len, &got);
		assert_same(ins[i].p, ins[i].len, got.p, got.len, want.p, want.len,
		    "python, one call");
		assert_true(got.len <= 3 * ins[i].len);	/* transform.h's claim */
		/*
		 * Valid in, valid out.  (This call also keeps libunistring
		 * linked under --as-needed, for u8_toupper's RTLD_NEXT.)
		 */
		if (u8_check(ins[i].p, ins[i].len) == NULL)
			assert_null(u8_check(got.p, got.len));
		if (!chunked)
			continue;
		feed_random(TRANSFORM_UTF8, ins[i].p, ins[i].len,
		    1 + rng_below(ins[i].len + 1), &got);
		assert_same(ins[i].p, ins[i].len, got.p, got.len, want.p, want.len,
		    "python, fed in pieces");
	}
	assert_int_equal(pos, res.len);
	buf_free(&req);
	buf_free(&res);
	buf_free(&want);
	buf_free(&got);
}

static size_t
utf8_put(uint8_t *s, uint32_t cp)
{
	if (cp < 0x80) {
		s[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		s[0] = (uint8_t)(0xc0 | cp >> 6);
		s[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		s[0] = (uint8_t)(0xe0 | cp >> 12);
		s[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		s[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	s[0] = (uint8_t)(0xf0 | cp >> 18);
	s[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	s[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	s[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* A code point where case mappings are dense. */
static uint32_t
rand_cased(void)
{
	static const uint32_t ranges[][2] = {
		{ 0x80, 0x800 }, { 0x1e00, 0x2000 }, { 0x2c00, 0x2d30 },
		{ 0xa640, 0xa800 }, { 0xfb00, 0xfb18 }, { 0xff21, 0xff5b },
		{ 0x10400, 0x10450 }, { 0x1e900, 0x1e960 },
	};
	size_t r = rng_below(sizeof(ranges) / sizeof(ranges[0]));

	return ranges[r][0] + (uint32_t)rng_below(ranges[r][1] - ranges[r][0]);
}

/* Bytes Python must reject, or cut short: the edges of the UTF-8 table. */
static size_t
rand_invalid(uint8_t *s)
{
	static const uint8_t leads[][2] = {
		{ 0xc0, 0x80 }, { 0xc1, 0xbf }, { 0xe0, 0x9f }, { 0xed, 0xa0 },
		{ 0xed, 0xbf }, { 0xf0, 0x8f }, { 0xf4, 0x90 }, { 0xf5, 0x80 },
	};
	size_t r, len;

	switch (rng_below(3)) {
	case 0:
		s[0] = (uint8_t)(0x80 + rng_below(0x80));
		return 1;
	case 1:
		r = rng_below(sizeof(leads) / sizeof(leads[0]));
		s[0] = leads[r][0];
		s[1] = leads[r][1];
		s[2] = (uint8_t)(0x80 + rng_below(0x40));
		return 2 + rng_below(2);
	default:
		len = utf8_put(s, (uint32_t)(0x80 + rng_below(0x10ff80)));
		if (s[0] == 0xed && s[1] >= 0xa0)
			s[1] = 0x80;	/* keep it a valid prefix */
		return 1 + rng_below(len - 1);
	}
}

/* Append one random piece: ASCII, a character of any plane, or bad bytes. */
static void
rand_piece(struct buf *b)
{
	uint8_t s[4];
	uint32_t cp;
	size_t n;

	switch (rng_below(8)) {
	case 0: case 1:
		s[0] = (uint8_t)('a' + rng_below(26));
		n = 1;
		break;
	case 2:
		s[0] = (uint8_t)rng_below(0x80);
		n = 1;
		break;
	case 3: case 4:
		n = utf8_put(s, rand_cased());
		break;
	case 5:
		do
			cp = (uint32_t)rng_below(0x110000);
		while (cp >= 0xd800 && cp < 0xe000);
		n = utf8_put(s, cp);
		break;
	default:
		n = rand_invalid(s);
		break;
	}
	buf_add(b, s, n);
}

static void
test_python_random(void **state)
{
	struct buf ins[RANDOM_COUNT + LONG_COUNT];
	size_t i, len;

	(void)state;
	memset(ins, 0, sizeof(ins));
	for (i = 0; i < RANDOM_COUNT + LONG_COUNT; i++) {
		len = i < RANDOM_COUNT ? rng_below(RANDOM_MAXLEN + 1) : LONG_LEN;
		while (ins[i].len < len)
			rand_piece(&ins[i]);
	}
	compare_python(ins, RANDOM_COUNT + LONG_COUNT, 1);
	for (i = 0; i < RANDOM_COUNT + LONG_COUNT; i++)
		buf_free(&ins[i]);
}

/* Every scalar value, one per line, so a mismatch names its code point. */
static void
test_python_all_code_points(void **state)
{
	size_t count = 0x110000 - 0x800, i = 0;
	struct buf *ins = calloc(count, sizeof(*ins));
	uint8_t s[4];
	uint32_t cp;

	(void)state;
	assert_non_null(ins);
	for (cp = 0; cp < 0x110000; cp++) {
		if (cp >= 0xd800 && cp < 0xe000)
			continue;
		ins[i].p = malloc(4);
		assert_non_null(ins[i].p);
		ins[i].cap = 4;
		ins[i].len = utf8_put(s, cp);
		memcpy(ins[i].p, s, ins[i].len);
		i++;
	}
	assert_int_equal(i, count);
	compare_python(ins, count, 0);
	for (i = 0; i < count; i++)
		buf_free(&ins[i]);
	free(ins);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hard_cases),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_ascii_boundaries),
		cmocka_unit_test(test_long_runs),
		cmocka_unit_test(test_ascii_charset),
		cmocka_unit_test(test_charset_names),
		cmocka_unit_test_teardown(test_toupper_failures, toupper_real),
		cmocka_unit_test(test_python_random),
		cmocka_unit_test(test_python_all_code_points),
	};
	const char *env = getenv("TRANSFORM_SEED");

	seed = env != NULL ? (unsigned int)strtoul(env, NULL, 0) : DEFAULT_SEED;
	rng_state = seed;
	printf("# test_transform: seed %u (set TRANSFORM_SEED to change)\n", seed);
	fflush(stdout);
	signal(SIGPIPE, SIG_IGN);	/* a dead python3 shows in its status */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
