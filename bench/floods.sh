#!/bin/bash
# floods.sh [SCALE] [FLOOD...]: floods against chanstatd with the default
# limits, measured: for each, the limit, what happened (answers by kind,
# rows in the database), chanstatd's RSS before / peak / after, and a
# normal user's disco#info round trip idle and during the flood (p50/p99
# and the ratio).  See bench/floods.py for the floods (default: all) and
# how each is measured; SCALE (default 100000) is each flood's size, sent
# at FLOODS_RATE stanzas/s (default 5000; 0: as fast as possible).
#
# chanstatd is attached to a fake XEP-0114 server (floods.py) rather than
# to Prosody, whose own per-connection limits would cap the volume before
# chanstatd sees it; the fake server forges `from` as a server does for
# its users and a remote domain for its own.  What Prosody itself lets a
# client send past chanstatd's limits is tests/e2e/flood_oversize.test.
#
# Not run by `make check`.  Run from the source tree after building:
#   bench/floods.sh
#   top_builddir=_b bench/floods.sh 20000 sub_domain pending
# Channels: alice (the normal user's target), pub (open), o0..o1999
# (open), off (open, owner never online), desk (approve, owner bob).
# Everything binds to loopback; every process started is stopped on exit.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$here/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${PYTHON3:=/usr/bin/python3}"
CHANSTATD=$top_builddir/src/chanstatd
CTL=$top_builddir/src/chanstatctl
scale=${1:-100000}
shift
[ -x "$CHANSTATD" ] || { echo "no chanstatd at $CHANSTATD (build first)" >&2; exit 2; }
[ -x "$CTL" ] || { echo "no chanstatctl at $CTL (build first)" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "sqlite3 is needed" >&2; exit 2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/chanstat-floods.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    [ -n "${FLOODS_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

port=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$W/cs.conf" <<EOF
[component]
domain = status.a.test
secret = s3cret
server = 127.0.0.1
port = $port
[storage]
database = $W/chanstat.db
[log]
level = ${FLOODS_LOG_LEVEL:-warning}
EOF
printf '#!/bin/sh\nexec %s -c %s "$@"\n' "$CTL" "$W/cs.conf" > "$W/ctl"
chmod +x "$W/ctl"
"$CHANSTATD" -c "$W/cs.conf" --init-db >/dev/null || exit 1
sqlite3 "$W/chanstat.db" "
INSERT INTO channel (name, owner, policy) VALUES ('alice', 'alice@a.test', 'open'),
  ('pub', 'pubowner@a.test', 'open'), ('off', 'offowner@a.test', 'open'),
  ('desk', 'bob@a.test', 'approve');
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1999)
INSERT INTO channel (name, owner, policy) SELECT 'o' || i, 'x' || i || '@a.test', 'open' FROM n;" ||
    exit 1
echo "floods: scale $scale, chanstatd $("$CHANSTATD" --version 2>&1 | head -n 1), $(nproc) cores"
"$PYTHON3" -u "$here/floods.py" "$port" s3cret "$W" "$scale" "$@" > "$W/floods.out" 2>&1 &
PIDS+=("$!")
fpid=$!
for _ in $(seq 100); do grep -q listening "$W/floods.out" && break; sleep 0.05; done
"$CHANSTATD" -c "$W/cs.conf" 2>>"$W/chanstatd.log" &
PIDS+=("$!")
echo "$!" > "$W/cs.pid"
tail -n +1 -f "$W/floods.out" --pid "$fpid" | grep --line-buffered -v '^listening'
wait "$fpid"
grep -q '^done' "$W/floods.out" || { echo "floods.py did not finish" >&2; tail -n 20 "$W/chanstatd.log" >&2; exit 1; }
