#!/bin/bash
# fuzz.sh [SECONDS] [TARGET...]: builds the fuzz targets of fuzz/ with
# clang's libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer
# (into fuzz/build, apart from the autotools build), seeds their corpora
# from fuzz/seeds and the tests, and runs each for SECONDS (default 60).
# A crash stops with the failing input kept in fuzz/build/crashes and
# exit status 1.  `make fuzz` runs it.  FUZZ_JOBS runs that many workers
# per target (default 1; then a crash in a worker is reported in its own
# fuzz-N.log beside the crashes, and the exit status says nothing).
set -eu
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
secs=${1:-60}
shift || true
targets=${*:-jid stream config dispatch}
out=$top/fuzz/build
mkdir -p "$out/crashes"
cc=${FUZZ_CC:-clang}
command -v "$cc" >/dev/null || { echo "fuzz.sh: $cc is not installed" >&2; exit 2; }
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE"
incs=""
for d in "$top"/src/*/; do incs="$incs -I$d"; done
incs="$incs -I$top/tests -I$out"
# config.h as configure would write it, for what the sources use.
{
    printf '#define PACKAGE_NAME "chanstat"\n#define PACKAGE_VERSION "fuzz"\n'
    printf '#define PACKAGE_STRING "chanstat fuzz"\n'
    if grep -q XML_SetReparseDeferralEnabled /usr/include/expat.h 2>/dev/null; then
        printf '#define HAVE_DECL_XML_SETREPARSEDEFERRALENABLED 1\n'
    else
        printf '#define HAVE_DECL_XML_SETREPARSEDEFERRALENABLED 0\n'
    fi
} > "$out/config.h"
libs="$(pkg-config --libs expat sqlite3 openssl inih)"
core=$(ls "$top"/src/*/*.c | grep -v -e src/daemon/chanstatd.c -e src/admin/chanstatctl.c \
    -e src/admin/ctlprint.c -e src/admin/ctlplace.c)
for t in $targets; do
    bin=$out/fuzz_$t
    if [ ! -x "$bin" ] || [ -n "$(find "$top/src" "$top/fuzz/fuzz_$t.c" -newer "$bin" -name '*.[ch]' | head -1)" ]; then
        echo "fuzz: building fuzz_$t"
        # shellcheck disable=SC2086
        $cc $flags -include "$top/src/base/cs_banned.h" $incs -o "$bin" "$top/fuzz/fuzz_$t.c" \
            $core "$top/tests/testout.c" $libs
    fi
    corpus=$out/corpus/$t
    mkdir -p "$corpus"
    [ -d "$top/fuzz/seeds/$t" ] && cp -n "$top/fuzz/seeds/$t"/* "$corpus"/ 2>/dev/null || true
    echo "fuzz: fuzz_$t for ${secs}s"
    jobs=""
    [ "${FUZZ_JOBS:-1}" -gt 1 ] && jobs="-jobs=$FUZZ_JOBS -workers=$FUZZ_JOBS"
    # shellcheck disable=SC2086
    (cd "$out/crashes" && "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        $jobs -print_final_stats=1 "$corpus") > "$out/fuzz_$t.log" 2>&1 || {
        echo "fuzz: fuzz_$t failed; its input is in $out/crashes; log $out/fuzz_$t.log" >&2
        tail -n 30 "$out/fuzz_$t.log" >&2
        exit 1
    }
    grep -E "^#[0-9]+.*cov:" "$out/fuzz_$t.log" | tail -n 1
    grep -E "^Done|number_of_executed_units" "$out/fuzz_$t.log" | tail -n 1
done
