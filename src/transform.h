/* SPDX-License-Identifier: ISC */
/*
 * transform.h: the upper-casing transformation, a pure streaming module.
 *
 * Valid UTF-8 is upper-cased exactly as Python 3's str.upper() does
 * (libunistring's u8_toupper with no language); bytes that are not valid
 * UTF-8 pass unchanged.  Input may arrive in chunks of any size: a
 * multi-byte character split across chunks is carried (at most 3 bytes)
 * into the next call, and flushed unchanged by transform_finish() if it
 * never completes.  With TRANSFORM_ASCII only a-z are mapped.
 */
#ifndef UPCASE_TRANSFORM_H
#define UPCASE_TRANSFORM_H

#include <stddef.h>
#include <stdint.h>

enum transform_charset {
	TRANSFORM_UTF8 = 0,
	TRANSFORM_ASCII,
};

struct transform {
	enum transform_charset charset;
	uint8_t  carry[3];   /* incomplete UTF-8 prefix from the last chunk */
	uint8_t  ncarry;
};

/*
 * Worst-case output for n input bytes, carried bytes included: no code
 * point's upper case is more than 3 times its UTF-8 length (U+0390 ->
 * U+0399 U+0308 U+0301).
 */
#define TRANSFORM_BOUND(n) (3 * ((size_t)(n) + 3))

void   transform_init(struct transform *t, enum transform_charset cs);
/* Transform n bytes into out (room for TRANSFORM_BOUND(n)); returns bytes written. */
size_t transform_feed(struct transform *t, const uint8_t *in, size_t n, uint8_t *out);
/* End of stream: write the carried bytes unchanged (at most 3); returns their number. */
size_t transform_finish(struct transform *t, uint8_t *out);
/* One-shot: feed + finish.  out needs TRANSFORM_BOUND(n). */
size_t transform_buffer(enum transform_charset cs, const uint8_t *in, size_t n, uint8_t *out);

/* "utf-8" / "ascii" <-> enum; -1 if unknown. */
int transform_charset_from_name(const char *name);
const char *transform_charset_name(enum transform_charset cs);

#endif
