#!/bin/bash
# valgrind-e2e.sh BUILDDIR [TEST...]: runs the end-to-end tests (default:
# all of them) with every chanstatd they start under valgrind's memcheck,
# then sums up the reports: runs, errors, and bytes definitely or
# indirectly lost.  Exit status 1 when any run reported an error or a leak.
# Tests are slower under valgrind, so some may fail on their own time
# limits; those are listed apart.  A plain (not sanitizer) build is needed.
set -u
build=$(cd "${1:?usage: valgrind-e2e.sh BUILDDIR [TEST...]}" && pwd)
shift
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v valgrind >/dev/null || { echo "valgrind-e2e.sh: valgrind is not installed" >&2; exit 2; }
if nm "$build/src/chanstatd" 2>/dev/null | grep -q __asan_init; then
    echo "valgrind-e2e.sh: $build is a sanitizer build; use a plain one" >&2
    exit 2
fi
out=$build/valgrind
rm -rf "$out"
mkdir -p "$out/logs"
cat > "$out/chanstatd" <<WRAP
#!/bin/sh
exec valgrind --leak-check=full --show-leak-kinds=definite,indirect \\
    --errors-for-leak-kinds=definite,indirect --track-origins=yes \\
    --log-file="$out/logs/vg.%p.log" "$build/src/chanstatd" "\$@"
WRAP
chmod +x "$out/chanstatd"
tests=${*:-$(grep -o 'tests/e2e/[a-z_0-9]*\.test' "$top/tests/e2e/local.mk" | sort -u)}
# shellcheck disable=SC2086
E2E_CHANSTATD="$out/chanstatd" make -C "$build" -k check TESTS="$(echo $tests)" > "$out/make.log" 2>&1
runs=0 bad=0
for l in "$out"/logs/vg.*.log; do
    [ -f "$l" ] || continue
    runs=$((runs + 1))
    e=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$l" | tail -1)
    if [ "${e:-x}" != 0 ]; then
        bad=$((bad + 1))
        echo "---- $l (errors: ${e:-no summary, killed?})"
        grep -E "definitely lost|indirectly lost|Invalid|uninitialised|ERROR SUMMARY" "$l" | head -n 20
    fi
done
nosum=$(grep -L "ERROR SUMMARY" "$out"/logs/vg.*.log 2>/dev/null | wc -l)
echo "valgrind: $runs chanstatd runs, $bad with errors or leaks ($nosum of them killed before a summary)"
grep -E '^(PASS|FAIL|ERROR):' "$out/make.log" | sort | uniq -c | awk '{print "tests:", $0}' | head -n 100
[ "$bad" -eq "$nosum" ]
