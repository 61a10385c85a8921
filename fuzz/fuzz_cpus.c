/* SPDX-License-Identifier: ISC */
/*
 * fuzz_cpus.c: fuzz target for src/cpus.c.
 *
 * The input is split at its first two NUL bytes into three texts, each
 * copied to a buffer of exactly its length plus the NUL (so that
 * AddressSanitizer sees a read past it): read as /proc/self/cgroup,
 * /proc/self/mountinfo and a quota file.  Checked on every input:
 *  - cpus_cgroup_path and cpus_cgroup_mount, for both hierarchies and an
 *    out buffer as long as the first byte says, write NUL-terminated
 *    strings that fit, an absolute path, and a path that is in the text;
 *  - cpus_cgroup_dir of what they found is the mount point followed by a
 *    path with no ".." component, or nothing;
 *  - cpus_parse_max and cpus_parse_v1 leave their outputs alone on
 *    failure, and give a quota of -1 or more than 0 and a period of more
 *    than 0 on success; a parsed value printed back parses the same;
 *  - cpus_quota_cpus and cpus_usable give at least 1 CPU (0 for no quota)
 *    and never more than the online count given.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpus.h"
#include "fuzz.h"

/* The next part of data up to a NUL, as a string of its own. */
static char *
part(const uint8_t **data, size_t *size)
{
	const uint8_t *nul = memchr(*data, 0, *size);
	size_t n = nul != NULL ? (size_t)(nul - *data) : *size;
	char *s = xmalloc(n + 1);

	memcpy(s, *data, n);
	s[n] = '\0';
	*data += n + (nul != NULL);
	*size -= n + (nul != NULL);
	return s;
}

static void
check_str(const char *what, const char *s, size_t len)
{
	if (memchr(s, 0, len) == NULL)
		fuzz_fail("%s: not terminated within %zu bytes", what, len);
	if (s[0] != '/')
		fuzz_fail("%s: \"%s\" is not absolute", what, s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t outlen = size > 0 ? (size_t)data[0] % 64 + 1 : 64;
	char *cgroup = part(&data, &size), *mountinfo = part(&data, &size);
	char *quota = part(&data, &size);
	char *path = xmalloc(outlen), *mnt = xmalloc(outlen), *root = xmalloc(outlen);
	char *dir = xmalloc(outlen), why[512];
	enum cpus_cgroup v;

	for (v = CPUS_CGROUP_V2; v <= CPUS_CGROUP_V1; v++) {
		bool hp = cpus_cgroup_path(cgroup, v, path, outlen);
		bool hm = cpus_cgroup_mount(mountinfo, v, mnt, outlen, root, outlen);

		if (hp) {
			check_str("cgroup path", path, outlen);
			if (strstr(cgroup, path) == NULL)
				fuzz_fail("cgroup path \"%s\" is not in the text", path);
		}
		if (hm) {
			check_str("mount point", mnt, outlen);
			check_str("mount root", root, outlen);
		}
		if (hp && hm && cpus_cgroup_dir(mnt, root, path, dir, outlen)) {
			const char *s;

			check_str("cgroup dir", dir, outlen);
			if (strncmp(dir, mnt, strlen(mnt)) != 0)
				fuzz_fail("cgroup dir \"%s\" is not under \"%s\"", dir, mnt);
			for (s = dir; (s = strstr(s, "..")) != NULL; s++)
				if ((s == dir || s[-1] == '/') && (s[2] == '\0' || s[2] == '/') &&
				    s >= dir + strlen(mnt))
					fuzz_fail("cgroup dir \"%s\" holds \"..\"", dir);
		}
	}

	{
		long long q = 12345, p = 6789;
		char back[64];

		if (cpus_parse_max(quota, &q, &p) == 0) {
			long long q2, p2;

			if (!(q == -1 || q > 0) || p <= 0)
				fuzz_fail("cpu.max \"%s\": quota %lld period %lld", quota, q, p);
			if (q == -1)
				snprintf(back, sizeof(back), "max %lld", p);
			else
				snprintf(back, sizeof(back), "%lld %lld", q, p);
			if (cpus_parse_max(back, &q2, &p2) != 0 || q2 != q || p2 != p)
				fuzz_fail("cpu.max \"%s\" printed back as \"%s\" reads differently",
				    quota, back);
		} else if (q != 12345 || p != 6789)
			fuzz_fail("cpu.max \"%s\": outputs changed on failure", quota);

		q = 12345, p = 6789;
		if (cpus_parse_v1(quota, mountinfo, &q, &p) == 0) {
			if (!(q == -1 || q > 0) || p <= 0)
				fuzz_fail("cfs \"%s\": quota %lld period %lld", quota, q, p);
		} else if (q != 12345 || p != 6789)
			fuzz_fail("cfs \"%s\": outputs changed on failure", quota);

		for (int online = 0; online <= 8; online += 4) {
			int n = cpus_usable(online, (int)(outlen % 9), q, p, "/q", why, sizeof(why));
			int qc = cpus_quota_cpus(q, p);

			if (n < 1 || (online > 0 && n > online))
				fuzz_fail("cpus_usable(%d, %zu, %lld, %lld) = %d", online,
				    outlen % 9, q, p, n);
			if (q >= 0 && p > 0 && qc < 1)
				fuzz_fail("cpus_quota_cpus(%lld, %lld) = %d", q, p, qc);
			if (memchr(why, 0, sizeof(why)) == NULL)
				fuzz_fail("why not terminated");
		}
	}
	free(cgroup);
	free(mountinfo);
	free(quota);
	free(path);
	free(mnt);
	free(root);
	free(dir);
	return 0;
}
