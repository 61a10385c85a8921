#!/bin/sh
# SPDX-License-Identifier: ISC
# run.sh: build the fuzz targets with clang and libFuzzer (plus ASan and
# UBSan) and run each for a bounded time.  "make fuzz" calls it, and
# "./dev test" does, between make check and make distcheck.
#
# usage: fuzz/run.sh [BUILDDIR]
#   BUILDDIR holds the configured config.h (default: $UPCASE_BUILDDIR, else
#   the source tree).  Environment:
#   FUZZ_TARGETS   which targets (default: every fuzz/fuzz_NAME.c there is)
#   FUZZ_SECONDS   seconds per target (default 20, or from FUZZ_TOTAL_SECONDS)
#   FUZZ_TOTAL_SECONDS  wall time for all the runs together: each target
#                  gets its share (FUZZ_SECONDS, if set, wins)
#   FUZZ_PARALLEL  targets fuzzed at once (default 1)
#   FUZZ_JOBS      parallel fuzzing processes per target (default 1; more
#                  use libFuzzer's -fork mode)
#   FUZZ_REGRESS   where a failing input is kept, in NAME/ (default
#                  fuzz/regress in the source tree, which make check
#                  replays: commit it with the fix)
#   FUZZ_REQUIRED  1: fail, not skip, when clang or libFuzzer is missing
#   FUZZ_WORKDIR   where to build and fuzz (default: a new temporary dir,
#                  removed when every target passed)
#   CC             the compiler (default clang)
#
# Each target starts from its seed corpus (fuzz/corpus/NAME) and the
# inputs that once failed (fuzz/regress/NAME); both are copied, never
# written.  Every target is linked against the library sources of
# Makefile.am (src_libupcase_a_SOURCES), built once with the fuzzing
# flags: a new fuzz/fuzz_NAME.c needs no entry here.  Exits 0 when every
# target ran clean, 1 on a crash, leak, timeout or failed check (the input
# is printed in hex and base64, and kept in FUZZ_REGRESS/NAME/), 0 with a
# message when clang or libFuzzer is missing (1 with FUZZ_REQUIRED=1).
set -u

srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-${UPCASE_BUILDDIR:-$srcdir}}
regress=${FUZZ_REGRESS:-$srcdir/fuzz/regress}
parallel=${FUZZ_PARALLEL:-1}
jobs=${FUZZ_JOBS:-1}
cc=${CC:-clang}
case $cc in *clang*) ;; *) cc=clang ;; esac
case $parallel in ''|*[!0-9]*|0) parallel=1 ;; esac

if [ -n "${FUZZ_TARGETS:-}" ]; then
	targets=$FUZZ_TARGETS
else
	targets=
	for f in "$srcdir"/fuzz/fuzz_*.c; do
		[ -f "$f" ] || continue
		t=${f##*/fuzz_}
		targets="$targets ${t%.c}"
	done
fi
# shellcheck disable=SC2086 # a word list
ntargets=$(echo $targets | wc -w)
if [ "$ntargets" -eq 0 ]; then
	echo "fuzz: no targets in $srcdir/fuzz" >&2
	exit 1
fi
if [ -n "${FUZZ_SECONDS:-}" ]; then
	seconds=$FUZZ_SECONDS
elif [ -n "${FUZZ_TOTAL_SECONDS:-}" ]; then
	# The targets run in rounds of $parallel; each round gets its share.
	rounds=$(( (ntargets + parallel - 1) / parallel ))
	seconds=$(( FUZZ_TOTAL_SECONDS / rounds ))
	[ "$seconds" -ge 1 ] || seconds=1
else
	seconds=20
fi

# Not able to fuzz: a message, and the exit status FUZZ_REQUIRED asks for.
cannot() {
	if [ "${FUZZ_REQUIRED:-}" = 1 ]; then
		echo "fuzz: FAILED: $1" >&2
		exit 1
	fi
	echo "fuzz: $1, skipping"
	exit 0
}

if ! command -v "$cc" >/dev/null 2>&1; then
	cannot "$cc not found (Debian: apt-get install clang libclang-rt-dev)"
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
	[ -z "${FUZZ_WORKDIR:-}" ] && rm -rf "$work"
	cannot "$cc cannot link -fsanitize=fuzzer (Debian: apt-get install libclang-rt-dev)"
fi

cflags="-std=gnu11 -g -O1 -pthread -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer
    -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes
    -I$builddir -I$srcdir/src -I$srcdir/fuzz"

# Inputs longer than transform.c's 4096-byte runs are worth trying there.
maxlen() {
	case $1 in
	transform) echo 20000 ;;
	conf*)     echo 8192 ;;
	srctable)  echo 2048 ;;	# operations: long runs fill and resize
	proxy)     echo 4400 ;;	# past PROXY_MAX_LEN (4096), the largest header taken
	handover)  echo 4096 ;;	# a few connections with output owed
	*)         echo 512 ;;
	esac
}

# The library the daemon and the tests link (Makefile.am's
# src_libupcase_a_SOURCES), compiled once with the fuzzing flags, $parallel
# files at a time.  A target pulls in only the members it uses.
build_lib() {
	libsrcs=$(awk '/^src_libupcase_a_SOURCES/ { on = 1 }
	    on { for (i = 1; i <= NF; i++) if ($i ~ /\.c$/) print $i; if ($0 !~ /\\$/) on = 0 }' \
	    "$srcdir/Makefile.am")
	[ -n "$libsrcs" ] || { echo "fuzz: no src_libupcase_a_SOURCES in Makefile.am" >&2; return 1; }
	mkdir -p "$work/lib"
	rm -f "$work/lib"/*.o "$work/libupcase-fuzz.a"
	n=0
	for s in $libsrcs; do
		o="$work/lib/$(basename "$s" .c).o"
		# shellcheck disable=SC2086
		( "$cc" $cflags $libconfig_cflags -c -o "$o" "$srcdir/$s" ||
		    echo "$s" >> "$work/lib/failed" ) &
		n=$((n + 1))
		[ $((n % parallel)) -eq 0 ] && wait
	done
	wait
	if [ -f "$work/lib/failed" ]; then
		echo "fuzz: the library did not build: $(cat "$work/lib/failed")" >&2
		return 1
	fi
	ar cr "$work/libupcase-fuzz.a" "$work/lib"/*.o
}

build() {
	t=$1
	# -Werror for the fuzz target only: a new clang warning in src/ should
	# not stop the fuzzing.
	# shellcheck disable=SC2086
	"$cc" $cflags $libconfig_cflags -Werror -o "$work/fuzz_$t" "$srcdir/fuzz/fuzz_$t.c" \
	    "$work/libupcase-fuzz.a" $libconfig_libs -lunistring
}

# Keep the inputs libFuzzer saved for a failure in $regress/NAME/, so that
# make check replays them from now on, and print them.
keep() {
	t=$1
	for f in "$work/artifacts/$t"/*; do
		[ -f "$f" ] || continue
		case ${f##*/} in crash-*|leak-*|timeout-*|oom-*) ;; *) continue ;; esac
		mkdir -p "$regress/$t" && cp "$f" "$regress/$t/" &&
		    kept="$regress/$t/${f##*/}" || kept=$f
		size=$(wc -c < "$f")
		echo "fuzz: $t: failing input ($size bytes) kept as $kept"
		echo "fuzz: $t: replay it: fuzz/replay_$t '$kept' (make check replays fuzz/regress/$t)"
		echo "fuzz: $t: hex:"
		od -An -tx1 -v "$f" | head -n 32
		[ "$size" -gt 512 ] && echo "  ... (the first 512 bytes)"
		if [ "$size" -le 4096 ]; then
			echo "fuzz: $t: base64:"
			base64 "$f"
		fi
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

# One target: fuzz it from a copy of its corpus and regression inputs;
# the result goes to $work/$t.rc.
fuzz_one() {
	t=$1
	rm -rf "$work/corpus/$t" "$work/artifacts/$t"
	mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
	cp "$srcdir/fuzz/corpus/$t"/* "$work/corpus/$t/" 2>/dev/null
	[ -d "$regress/$t" ] && cp "$regress/$t"/* "$work/corpus/$t/" 2>/dev/null
	dict=
	[ -f "$srcdir/fuzz/$t.dict" ] && dict="-dict=$srcdir/fuzz/$t.dict"
	# shellcheck disable=SC2086 # $fork and $dict are empty or one word
	(cd "$work/artifacts/$t" && "$work/fuzz_$t" \
	    -max_total_time="$seconds" -max_len="$(maxlen "$t")" \
	    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    $fork $dict \
	    -artifact_prefix="$work/artifacts/$t/" "$work/corpus/$t") \
	    > "$work/$t.log" 2>&1
	echo $? > "$work/$t.rc"
}

status=0
mkdir -p "$work/artifacts"
echo "fuzz: building the library and $ntargets targets in $work"
build_lib || exit 1
ready=
for t in $targets; do
	if [ ! -f "$srcdir/fuzz/fuzz_$t.c" ]; then
		echo "fuzz: unknown target $t (no fuzz/fuzz_$t.c)" >&2
		status=1
	elif ! build "$t"; then
		echo "fuzz: $t: build failed" >&2
		status=1
	else
		ready="$ready $t"
	fi
done

echo "fuzz: running$ready for ${seconds}s each, $parallel at a time"
# shellcheck disable=SC2086 # a word list
set -- $ready
while [ $# -gt 0 ]; do
	batch=
	for _ in $(seq "$parallel"); do
		[ $# -gt 0 ] || break
		batch="$batch $1"
		fuzz_one "$1" &
		shift
	done
	wait
	for t in $batch; do
		rc=$(cat "$work/$t.rc" 2>/dev/null || echo 1)
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -n 1)
		cov=$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -n 1)
		if [ "$rc" -ne 0 ]; then
			tail -n 40 "$work/$t.log"
			echo "fuzz: $t FAILED (exit $rc; log: $work/$t.log)"
			keep "$t"
			status=1
		else
			echo "fuzz: $t passed: ${execs:-?} executions in ${seconds}s (${cov:-cov: ?})"
		fi
	done
done

if [ "$status" -eq 0 ] && [ -z "${FUZZ_WORKDIR:-}" ]; then
	rm -rf "$work"
else
	echo "fuzz: kept $work"
fi
exit "$status"
