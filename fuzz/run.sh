#!/bin/sh
# run.sh: build the fuzz targets with clang and libFuzzer (plus ASan and
# UBSan) and run each for a bounded time.  "make fuzz" calls it.
#
# usage: fuzz/run.sh [BUILDDIR]
#   BUILDDIR holds the configured config.h (default: $UPCASE_BUILDDIR, else
#   the source tree).  Environment:
#   FUZZ_SECONDS  seconds per target (default 20)
#   FUZZ_TARGETS  which targets (default "transform conf confsrc addr access srctable")
#   FUZZ_JOBS     parallel fuzzing processes per target (default 1; more
#                 use libFuzzer's -fork mode)
#   FUZZ_WORKDIR  where to build and fuzz (default: a new temporary dir,
#                 removed when every target passed)
#   CC            the compiler (default clang)
#
# The seed corpus in fuzz/corpus/ is copied, never written.  Exits 0 when
# every target ran clean, 1 on a crash, leak or failed check (the input
# that did it is printed, and kept), 0 with a message when clang or
# libFuzzer is missing.
set -u

srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-${UPCASE_BUILDDIR:-$srcdir}}
seconds=${FUZZ_SECONDS:-20}
targets=${FUZZ_TARGETS:-transform conf confsrc addr access}
jobs=${FUZZ_JOBS:-1}
cc=${CC:-clang}
case $cc in *clang*) ;; *) cc=clang ;; esac

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz: $cc not found, skipping (Debian: apt-get install clang)"
	exit 0
fi
if [ ! -f "$builddir/config.h" ]; then
	echo "fuzz: no config.h in $builddir: run configure, or give the build directory" >&2
	exit 1
fi
if ! libconfig_cflags=$(pkg-config --cflags libconfig) ||
    ! libconfig_libs=$(pkg-config --libs libconfig); then
	echo "fuzz: pkg-config cannot find libconfig" >&2
	exit 1
fi

work=${FUZZ_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/upcase-fuzz.XXXXXX")}
mkdir -p "$work" || exit 1

# libFuzzer ships with clang but in a separate package on some systems.
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *, size_t);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
    > "$work/probe.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined -o "$work/probe" "$work/probe.c" \
    >/dev/null 2>&1; then
	echo "fuzz: $cc cannot link -fsanitize=fuzzer, skipping (Debian: libclang-rt-dev or clang's compiler-rt)"
	[ -z "${FUZZ_WORKDIR:-}" ] && rm -rf "$work"
	exit 0
fi

cflags="-std=gnu11 -g -O1 -pthread -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer
    -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes
    -I$builddir -I$srcdir/src -I$srcdir/fuzz"

# The source files each target exercises.
sources() {
	case $1 in
	transform) echo "src/transform.c" ;;
	conf)      echo "src/conf.c src/confsrc.c src/conffs.c src/access.c src/addr.c src/log.c src/transform.c" ;;
	confsrc)   echo "src/confsrc.c src/conf.c src/conffs.c src/access.c src/addr.c src/log.c src/transform.c" ;;
	addr)      echo "src/addr.c" ;;
	access)    echo "src/access.c" ;;
	srctable)  echo "src/srctable.c src/tbucket.c src/loopguard.c" ;;
	*)         return 1 ;;
	esac
}

# Inputs longer than transform.c's 4096-byte runs are worth trying there.
maxlen() {
	case $1 in
	transform) echo 20000 ;;
	conf)      echo 8192 ;;
	confsrc)   echo 8192 ;;
	srctable)  echo 2048 ;;	# operations: long runs fill and resize
	*)         echo 512 ;;
	esac
}

build() {
	t=$1
	set -- "$srcdir/fuzz/fuzz_$t.c"
	for s in $(sources "$t"); do
		set -- "$@" "$srcdir/$s"
	done
	# -Werror for the fuzz target only: a new clang warning in src/ should
	# not stop the fuzzing.
	# shellcheck disable=SC2086
	"$cc" $cflags $libconfig_cflags -Werror -fsyntax-only "$srcdir/fuzz/fuzz_$t.c" &&
	"$cc" $cflags $libconfig_cflags -o "$work/fuzz_$t" "$@" $libconfig_libs -lunistring
}

# Print the inputs libFuzzer kept for a failure, in hex too.
report() {
	t=$1
	for f in "$work/artifacts/$t"/*; do
		[ -f "$f" ] || continue
		echo "fuzz: $t: failing input: $f"
		od -An -tx1 -v "$f" | head -20
	done
}

# libconfig 1.5 leaks the strings its scanner allocated when the parse
# fails ("a = 1 \"x\";" or "a \"x\";" lose 64 bytes): a library bug, not
# ours.  Only the scanner is excused: a config_t never destroyed would
# still show through config_init.
printf 'leak:libconfig_yylex\nleak:strbuf_append\n' > "$work/lsan.supp"
LSAN_OPTIONS="suppressions=$work/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS

fork=
[ "$jobs" -gt 1 ] 2>/dev/null && fork="-fork=$jobs"

status=0
mkdir -p "$work/artifacts"
for t in $targets; do
	if ! sources "$t" >/dev/null; then
		echo "fuzz: unknown target $t" >&2
		status=1
		continue
	fi
	echo "fuzz: building $t in $work"
	if ! build "$t"; then
		echo "fuzz: $t: build failed" >&2
		status=1
		continue
	fi
	rm -rf "$work/corpus/$t"
	mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
	cp "$srcdir/fuzz/corpus/$t"/* "$work/corpus/$t/" 2>/dev/null
	dict=
	[ -f "$srcdir/fuzz/$t.dict" ] && dict="-dict=$srcdir/fuzz/$t.dict"
	echo "fuzz: running $t for ${seconds}s"
	# shellcheck disable=SC2086 # $fork and $dict are empty or one word
	if ! (cd "$work/artifacts/$t" && "$work/fuzz_$t" \
	    -max_total_time="$seconds" -max_len="$(maxlen "$t")" \
	    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    $fork $dict \
	    -artifact_prefix="$work/artifacts/$t/" "$work/corpus/$t") \
	    > "$work/$t.log" 2>&1; then
		tail -n 40 "$work/$t.log"
		echo "fuzz: $t FAILED (log: $work/$t.log)"
		report "$t"
		status=1
	else
		grep -E '^stat::(number_of_executed_units|peak_rss_mb)|cov:' \
		    "$work/$t.log" | tail -n 3
		echo "fuzz: $t passed"
	fi
done

if [ "$status" -eq 0 ] && [ -z "${FUZZ_WORKDIR:-}" ]; then
	rm -rf "$work"
else
	echo "fuzz: kept $work"
fi
exit "$status"
