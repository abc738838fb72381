#!/bin/bash
# fed_bench.sh N [CASES]: what ONE status change costs across s2s.
#
# Brings up the two-domain bed of the end-to-end tests (tests/e2e/lib.sh,
# fed_setup: a.test and b.test, each its own Prosody, federated over
# loopback s2s), puts N watchers on a.test, changes carol@b.test's status
# once and prints, per case:
#   - presence stanzas and bytes that crossed s2s (both directions), counted
#     in the two Prosodys' debug logs,
#   - the time from the change to the first, median, 90th percentile and
#     last watcher receiving it,
#   - the CPU the watcher pool, both Prosodys and chanstatd used meanwhile.
# Cases (CASES, default "c b a"; each on a fresh bed):
#   c  watchers subscribed to the plain user carol@b.test (no chanstatd);
#   b  watchers subscribed directly to the channel carol@status.b.test
#      (chanstatd on b.test is the home, owner carol@b.test);
#   a  watchers subscribed through status.a.test to the escaped address
#      carol\40status.b.test@status.a.test: status.a.test holds one
#      upstream subscription and only one copy crosses s2s (if the node
#      answers unsubscribed, the case reports "not available" instead of
#      failing).  Its set-up is case_a_setup below.
#
# Not run by `make check`.  Run from the source tree after building:
#   bench/fed_bench.sh 100
#   top_builddir=_b bench/fed_bench.sh 2000 "c b"     (out-of-tree build)
# Needs what scripts/deps.sh installs (Prosody, lua-unbound, sqlite3, a
# built chanstatd); the watchers are raw c2s clients (fed_bench.py).
# Everything binds to loopback only.  Exit status: 0 when every case that
# is available was measured.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$here/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir

usage() {
    echo "usage: $0 N [CASES]   (N watchers, CASES a subset of 'c b a')" >&2
    exit 2
}

# The set-up of each case, after the two Prosodys are up.
case_c_setup() {
    :   # carol@b.test alone: Prosody fans out her presence.
}

case_b_setup() {
    fed_chanstatd b.test carol:carol@b.test:open
}

case_a_setup() {
    # status.b.test is carol's channel's home, as in case b; status.a.test
    # is the local relay the watchers subscribe to (remote channel address
    # carol\40status.b.test@status.a.test).  It has no channel of its own.
    fed_chanstatd b.test carol:carol@b.test:open
    fed_chanstatd a.test
}

# write_accounts N: w1..wN@a.test (password wIpw) straight into the
# internal_plain store (prosodyctl takes ~25 ms per user).
write_accounts() {
    "$PYTHON3" - "$FED_DIR/A/data/a%2etest/accounts" "$1" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
for i in range(1, n + 1):
    with open(os.path.join(d, "w%d.dat" % i), "w") as f:
        f.write('return {\n\t["password"] = "w%dpw";\n};\n' % i)
PY
}

run_case() {
    local c=$1 n=$2 want
    . "$top_srcdir/tests/e2e/lib.sh"
    # Each watcher is one socket here and one in Prosody a.test.
    want=$((n + 256))
    if [ "$(ulimit -n)" -lt "$want" ]; then
        ulimit -n "$want" 2>/dev/null || fail "need $want file descriptors (ulimit -n), have $(ulimit -n)"
    fi
    # chanstatd at info: debug would log every one of the N stanzas.
    export CS_LEVEL=${CS_LEVEL:-info}
    FED_PLUGIN_PATH=$here FED_MODULES=bench_s2s_bytes fed_setup carol@b.test
    write_accounts "$n"
    "case_${c}_setup"
    "$PYTHON3" "$here/fed_bench.py" "$c" "$n"
    local rc=$?
    # FED_BENCH_KEEP=DIR: keep the logs and databases of each case there.
    if [ -n "${FED_BENCH_KEEP:-}" ]; then
        mkdir -p "$FED_BENCH_KEEP" && cp -r "$T" "$FED_BENCH_KEEP/N$n-case-$c"
    fi
    [ "$rc" = 1 ] && fed_fail_logs
    return "$rc"
}

if [ "${1:-}" = --case ]; then
    [ $# = 3 ] || usage
    run_case "$2" "$3"
    exit $?
fi

if [ $# -lt 1 ] || ! [ "$1" -gt 0 ] 2>/dev/null; then usage; fi
N=$1
CASES=${2:-c b a}
status=0
for c in $CASES; do
    case $c in c|b|a) ;; *) usage ;; esac
    echo "=== N=$N case ($c) ==="
    bash "$0" --case "$c" "$N"
    rc=$?
    case $rc in
    0) ;;
    3) echo "case ($c): skipped in the figures (not available yet)" ;;
    *) echo "case ($c): FAILED (exit $rc)"; status=1 ;;
    esac
done
exit "$status"
