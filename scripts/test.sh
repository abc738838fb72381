#!/bin/bash
# Installs what is needed, checks the sources (no banned C library calls,
# includes only down the floors of src/, clang-format clean), builds, and
# runs every test: the unit suites and end-to-end tests (make check), a
# smoke run of the demo's printed commands, the same suites under
# ASan+UBSan, a short run of every fuzz target, then make distcheck.  The last line is "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
top=$PWD
bash scripts/deps.sh || { echo "0 passed, 1 failed"; exit 1; }

failed_steps=0  # every failed step
other_failed=0  # failed steps other than the test runs, whose tests are counted instead
step() { # NAME DIR COMMAND...
    local name=$1 dir=$2; shift 2
    echo "== $name"
    if ! (cd "$dir" && "$@"); then
        echo "== $name FAILED"
        failed_steps=$((failed_steps + 1))
        case $name in
        check | check-asan) ;;
        *) other_failed=$((other_failed + 1)) ;;
        esac
        return 1
    fi
}

# Counts from an automake test-suite.log: "PASS FAIL" (ERROR/XPASS count as failed).
counts() {
    local log=$1 p f
    [ -f "$log" ] || { echo "0 1"; return; }
    p=$(sed -n 's/^# PASS: *//p' "$log" | head -1)
    f=$(awk '/^# (FAIL|ERROR|XPASS): */ {n += $3} END {print n + 0}' "$log")
    echo "${p:-0} $f"
}

show_failures() { # BUILDDIR
    local t
    for t in $(grep -l '^:test-result: \(FAIL\|ERROR\|XPASS\)' "$1"/tests/*.trs "$1"/tests/e2e/*.trs 2>/dev/null); do
        echo "---- ${t%.trs}.log"
        tail -n 60 "${t%.trs}.log"
    done
}

export PYTHONDONTWRITEBYTECODE=1
step autogen . ./autogen.sh
rm -rf _build _build-asan
mkdir -p _build _build-asan
step configure _build ../configure -q --enable-werror && {
    step check-banned _build make -s check-banned
    step check-layers _build make -s check-layers
    step format-check _build make -s format-check
    step build _build make -j2 -s &&
        { step check _build make -j2 check || show_failures _build; }
}
# The demo's walk-through: what the Quick start prints is run as printed.
step demo-smoke . env DEMO_SMOKE=1 bash scripts/demo.sh
step configure-asan _build-asan ../configure -q --enable-werror --enable-sanitizers &&
    step build-asan _build-asan make -j2 -s &&
    { ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        step check-asan _build-asan make -j2 check || show_failures _build-asan; }
# Every fuzz target for a short while (scripts/fuzz.sh; long runs: make fuzz).
step fuzz . bash scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
step distcheck _build make -j2 -s distcheck || show_failures "$(ls -d _build/chanstat-*/_build/sub 2>/dev/null | head -1)"

read -r p1 f1 < <(counts _build/test-suite.log)
read -r p2 f2 < <(counts _build-asan/test-suite.log)
echo "plain build: $p1 passed, $f1 failed; sanitizer build: $p2 passed, $f2 failed"
[ "$failed_steps" -gt 0 ] && echo "$failed_steps build step(s) failed (see above)"
passed=$((p1 + p2))
# Every failed step that is not a test run (check-banned, format-check,
# configure, build, distcheck...) counts as one failure on top of the
# failed tests; a test run that failed with no failed test in its log
# (make check broke outside the tests) still makes the total non-zero.
failed=$((f1 + f2 + other_failed))
if [ "$failed_steps" -gt 0 ] && [ "$failed" = 0 ]; then failed=$failed_steps; fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
