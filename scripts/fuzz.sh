#!/bin/bash
# fuzz.sh [SECONDS] [TARGET...]: builds the fuzz targets of fuzz/ with
# clang's libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer
# (into fuzz/build, apart from the autotools build), seeds their corpora
# from fuzz/seeds, and runs each for SECONDS (default 60).  Any crash,
# leak, timeout or out-of-memory stops with exit status 1, the failing
# input kept in fuzz/build/crashes/TARGET.  `make fuzz` runs it, and CI
# runs every target for a short time.  FUZZ_JOBS runs that many workers
# per target (default 1); their logs are fuzz/build/crashes/TARGET/fuzz-N.log.
set -eu
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
secs=${1:-60}
shift || true
targets=${*:-jid stream config dispatch ctl}
out=$top/fuzz/build
cc=${FUZZ_CC:-clang}
command -v "$cc" >/dev/null || { echo "fuzz.sh: $cc is not installed" >&2; exit 2; }
flags="-g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE"
incs=""
for d in "$top"/src/*/; do incs="$incs -I$d"; done
incs="$incs -I$top/tests -I$out"
mkdir -p "$out/obj"
# config.h as configure would write it, for what the sources use.
{
    printf '#define PACKAGE_NAME "chanstat"\n#define PACKAGE_VERSION "fuzz"\n'
    printf '#define PACKAGE_STRING "chanstat fuzz"\n'
    if grep -q XML_SetReparseDeferralEnabled /usr/include/expat.h 2>/dev/null; then
        printf '#define HAVE_DECL_XML_SETREPARSEDEFERRALENABLED 1\n'
    else
        printf '#define HAVE_DECL_XML_SETREPARSEDEFERRALENABLED 0\n'
    fi
} > "$out/config.h.new"
cmp -s "$out/config.h.new" "$out/config.h" || mv "$out/config.h.new" "$out/config.h"
rm -f "$out/config.h.new"
libs="$(pkg-config --libs expat sqlite3 openssl inih icu-uc)"

# The library every target links: src/ without the programs' mains, and
# the test output port.  An object is rebuilt when any header or its
# source is newer (headers are few and shared, so no finer tracking).
newest_h=$(ls -t "$top"/src/*/*.h "$top"/tests/*.h "$out/config.h" | head -1)
objs=""
todo=""
for src in $(ls "$top"/src/*/*.c "$top/tests/testout.c" | grep -v -e src/daemon/chanstatd.c \
    -e src/admin/chanstatctl.c); do
    obj=$out/obj/$(basename "$(dirname "$src")")_$(basename "${src%.c}").o
    objs="$objs $obj"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_h" -nt "$obj" ]; then
        todo="$todo $src:$obj"
    fi
done
if [ -n "$todo" ]; then
    echo "fuzz: compiling $(echo "$todo" | wc -w) sources"
    export cc flags incs top
    # shellcheck disable=SC2016,SC2086
    printf '%s\n' $todo | xargs -P "$(nproc)" -I{} sh -c \
        'src=${1%%:*}; obj=${1#*:}; $cc $flags -include "$top/src/base/cs_banned.h" $incs -c -o "$obj" "$src"' _ {}
fi

failed=0
for t in $targets; do
    bin=$out/fuzz_$t
    if [ ! -x "$bin" ] || [ "$top/fuzz/fuzz_$t.c" -nt "$bin" ] || [ -n "$(find $objs -newer "$bin" | head -1)" ]; then
        echo "fuzz: linking fuzz_$t"
        # shellcheck disable=SC2086
        $cc ${flags/fuzzer-no-link/fuzzer} -include "$top/src/base/cs_banned.h" $incs -o "$bin" \
            "$top/fuzz/fuzz_$t.c" $objs $libs
    fi
    corpus=$out/corpus/$t
    crashes=$out/crashes/$t
    mkdir -p "$corpus" "$crashes"
    [ -d "$top/fuzz/seeds/$t" ] && cp -n "$top/fuzz/seeds/$t"/* "$corpus"/ 2>/dev/null || true
    dict=""
    [ -f "$top/fuzz/$t.dict" ] && dict="-dict=$top/fuzz/$t.dict"
    jobs=""
    [ "${FUZZ_JOBS:-1}" -gt 1 ] && jobs="-jobs=$FUZZ_JOBS -workers=$FUZZ_JOBS"
    before=$(find "$crashes" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'leak-*' \
        -o -maxdepth 1 -name 'timeout-*' -o -maxdepth 1 -name 'oom-*' | wc -l)
    echo "fuzz: fuzz_$t for ${secs}s"
    rc=0
    # shellcheck disable=SC2086
    (cd "$crashes" && "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        $dict $jobs -print_final_stats=1 "$corpus") > "$out/fuzz_$t.log" 2>&1 || rc=$?
    after=$(find "$crashes" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'leak-*' \
        -o -maxdepth 1 -name 'timeout-*' -o -maxdepth 1 -name 'oom-*' | wc -l)
    if [ "$rc" != 0 ] || [ "$after" != "$before" ]; then
        echo "fuzz: fuzz_$t failed (status $rc); its inputs are in $crashes; log $out/fuzz_$t.log" >&2
        tail -n 40 "$out/fuzz_$t.log" >&2
        for l in "$crashes"/fuzz-*.log; do
            [ -f "$l" ] && grep -q -e '^==[0-9]*==ERROR' -e 'ERROR: libFuzzer' "$l" &&
                { echo "---- $l" >&2; tail -n 40 "$l" >&2; }
        done
        failed=1
        continue
    fi
    grep -E "^#[0-9]+.*cov:" "$out/fuzz_$t.log" | tail -n 1
    grep -E "^Done|number_of_executed_units" "$out/fuzz_$t.log" | tail -n 1
done
exit $failed
