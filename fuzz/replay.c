/* SPDX-License-Identifier: ISC */
/*
 * replay.c: run a fuzz target over saved inputs without libFuzzer, so
 * the seed corpus (and every crash once fixed and added to it) is a
 * regression test under "make check" with any compiler.
 *
 * usage: replay_NAME [FILE | DIR]...
 *
 * Without arguments the inputs are the files in $FUZZ_CORPUS/NAME (NAME
 * from the program name: replay_conf reads .../conf), FUZZ_CORPUS being
 * fuzz/corpus when unset, then those in $FUZZ_REGRESS/NAME if there is
 * such a directory (fuzz/regress when unset: the inputs fuzz/run.sh kept
 * when a target failed).  A broken property abort()s; an input that
 * cannot be read, or no input at all, exits 99 (automake's hard error).
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#define EXIT_HARD_ERROR	99

static const char *progname = "replay";

static void __attribute__((format(printf, 1, 2), noreturn))
replay_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_HARD_ERROR);
}

/* The whole file, in a buffer of exactly its size (so over-reads show). */
static uint8_t *
replay_read(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t off = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1)
		replay_error("%s: %s", path, strerror(errno));
	if ((buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL)
		replay_error("%s: out of memory", path);
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			replay_error("%s: %s", path, n == 0 ? "file shrank" :
			    strerror(errno));
		off += (size_t)n;
	}
	close(fd);
	*len = off;
	return buf;
}

static void
replay_file(const char *path)
{
	size_t len;
	uint8_t *data = replay_read(path, &len);

	fprintf(stderr, "%s: %s (%zu bytes)\n", progname, path, len);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
}

static int
replay_visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Every file in dir, in name order so that runs are reproducible. */
static size_t
replay_dir(const char *dir)
{
	struct dirent **list;
	struct stat st;
	char path[PATH_MAX];
	size_t count = 0;
	int i, n;

	if ((n = scandir(dir, &list, replay_visible, alphasort)) == -1)
		replay_error("%s: %s", dir, strerror(errno));
	for (i = 0; i < n; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    list[i]->d_name) >= sizeof(path))
			replay_error("%s/%s: path too long", dir, list[i]->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			replay_file(path);
			count++;
		}
		free(list[i]);
	}
	free(list);
	return count;
}

static size_t
replay_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1)
		replay_error("%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return replay_dir(path);
	replay_file(path);
	return 1;
}

/* Every file in $env/name (dflt when env is unset); a missing directory is none if optional. */
static size_t
replay_env_dir(const char *env, const char *dflt, const char *name, bool optional)
{
	const char *top = getenv(env);
	char dir[PATH_MAX];
	struct stat st;

	if (top == NULL || *top == '\0')
		top = dflt;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", top, name) >= sizeof(dir))
		replay_error("%s/%s: path too long", top, name);
	if (optional && stat(dir, &st) == -1 && errno == ENOENT)
		return 0;
	return replay_dir(dir);
}

int
main(int argc, char *argv[])
{
	const char *base;
	size_t count = 0;
	int i;

	base = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 : argv[0];
	progname = base;
	if (strncmp(base, "replay_", 7) == 0)
		base += 7;

	/* libFuzzer always tries the empty input first; so do we. */
	LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
	if (argc > 1) {
		for (i = 1; i < argc; i++)
			count += replay_path(argv[i]);
	} else {
		count = replay_env_dir("FUZZ_CORPUS", "fuzz/corpus", base, false);
		count += replay_env_dir("FUZZ_REGRESS", "fuzz/regress", base, true);
	}
	if (count == 0)
		replay_error("no inputs to replay");
	fprintf(stderr, "%s: %zu inputs passed\n", progname, count);
	return 0;
}
