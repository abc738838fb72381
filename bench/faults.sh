#!/bin/bash
# faults.sh - runs the server and database fault tests and prints what
# they measured: memory ceilings against the configured caps, connection
# attempts, log lines and CPU while the server is away, recovery times and
# what other users saw (doc/xmpp.md, "When the database or the server
# fails").
#
# usage: bench/faults.sh [BUILDDIR] [TEST...]
#   BUILDDIR  a configured and built tree (default: the current directory)
#   TEST      names among outage refused stop s2s db (default: all)
# Needs root (Prosody as a private process, a tmpfs for the database), as
# the end-to-end tests do.  Takes about five minutes for all of them.
set -u
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
top_builddir=$(cd "${1:-.}" && pwd)
[ $# -gt 0 ] && shift
[ -x "$top_builddir/src/chanstatd" ] || { echo "faults.sh: no chanstatd in $top_builddir/src" >&2; exit 2; }
export top_srcdir top_builddir
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(outage refused stop s2s db)
rc=0
for t in "${tests[@]}"; do
    f=$top_srcdir/tests/e2e/fault_$t.test
    [ -f "$f" ] || { echo "faults.sh: no test $f" >&2; rc=2; continue; }
    echo "== fault_$t"
    start=$(date +%s)
    out=$(bash "$f" 2>&1)
    status=$?
    grep '^figure: ' <<<"$out" | sed 's/^figure: /  /'
    if [ "$status" != 0 ]; then
        echo "  FAILED (exit $status):"
        grep -E 'FAIL' <<<"$out" | head -n 5 | sed 's/^/    /'
        rc=1
    fi
    echo "  ($(($(date +%s) - start)) s)"
done
exit "$rc"
