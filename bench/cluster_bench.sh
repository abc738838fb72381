#!/bin/bash
# cluster_bench.sh [N] [C]: one domain served by a standalone chanstatd,
# then by a front and two homes (doc/cluster.md), under the same load on
# one Prosody 0.12, in one run: N watchers (default 2000) over C channels
# (default 200, so N/C watchers each), every channel's owner online.
#
# Per mode, on a fresh bed (Prosody, the chanstatd processes, databases):
#   status    every owner changes status at once (a warm-up round, then
#             CLUSTER_REPEATS measured rounds, default 3, each with its
#             own status text); measured until every watcher has its
#             channel's new text: deliveries per second (N / time to the
#             last watcher), time to the last watcher, and the CPU
#             (utime+stime, /proc/PID/stat) of each chanstatd process and
#             of Prosody from the change until all were idle again, per
#             delivery;
#   messages  every watcher sends one message to its channel at once;
#             measured until every owner has all of theirs: messages
#             routed per second and CPU per message, per process; twice:
#             new conversations (each stored, and at a front each relay
#             route), then known ones.
# Set-up: accounts and pre-approved rosters are written into Prosody's
# internal store (watcher 'to' its channel, owner 'from' it), the
# channels, owners' and watchers' rows into the databases (standalone:
# the roster; cluster: the channels at the home the placement names and
# the front's remote_watcher rows; the front subscribes each channel at
# its home when its link comes up) before anything starts.  Watchers are
# raw c2s connections (bench/fed_bench.py's Conn) in one asyncio loop.
#
# Not run by `make check`.  From the source tree after building:
#   bench/cluster_bench.sh              (2000 watchers, 200 channels)
#   top_builddir=_b bench/cluster_bench.sh 10000 1000
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$here/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${CHANSTATCTL:=$top_builddir/src/chanstatctl}"
export top_srcdir top_builddir

if [ "${1:-}" = --mode ]; then
    MODE=$2 N=$3 C=$4 RESULT=$5
    . "$top_srcdir/tests/e2e/lib.sh"
    PY=$here/cluster_bench.py
    extra=$'[fanout]\nmulticast = off\n[limits]\nsubscriptions_per_minute = 100000\nsubscription_burst = 100000'
    comps=''
    [ "$MODE" = cluster ] && comps='Component "h1.status.a.test"
    component_secret = "secret-h1"
Component "h2.status.a.test"
    component_secret = "secret-h2"'
    PROSODY_PLUGIN_PATHS='' PROSODY_HOST_MODULES='' PROSODY_HOST_EXTRA='' PROSODY_OFFLINE='' \
        PROSODY_LOG_LEVEL=error PROSODY_CONF_EXTRA=$comps prosody_start_with secret-front
    "$PYTHON3" "$PY" store "$PROSODY_DIR/data" "$N" "$C" || fail "cannot write Prosody's store"
    member() { # NAME DOMAIN ROLE-LINES [SECRET-NAME]
        CS_LEVEL=info CS_DB=$T/$1.db CS_EXTRA_INI="$extra"$'\n'"$3" \
            chanstatd_config "$T/$1.conf" "$2" "secret-${4:-$1}" "$COMP_PORT"
        "$CHANSTATD" -c "$T/$1.conf" --init-db >/dev/null 2>>"$T/$1.log" || fail "init-db of $1"
    }
    if [ "$MODE" = standalone ]; then
        member chanstatd status.a.test '' front
        "$PYTHON3" "$PY" rows standalone "$T" "$N" "$C" || fail "cannot write the rows"
        names="chanstatd"
    else
        member front status.a.test $'[cluster]\nrole = front\nhomes = h1.status.a.test, h2.status.a.test'
        member h1 h1.status.a.test $'[cluster]\nrole = home\nfront = status.a.test'
        member h2 h2.status.a.test $'[cluster]\nrole = home\nfront = status.a.test'
        CHANSTATCTL=$CHANSTATCTL "$PYTHON3" "$PY" rows cluster "$T" "$N" "$C" \
            || fail "cannot write the rows"
        names="front h1 h2"
    fi
    pids=''
    for n in $names; do
        "$CHANSTATD" -c "$T/$n.conf" 2>>"$T/$n.log" &
        PIDS+=($!)
        pids="$pids $n=$!"
    done
    for n in $names; do wait_log "link: online as" 1 30 "$T/$n.log"; done
    MODE=$MODE N=$N C=$C C2S_PORT=$C2S_PORT CS_PIDS=$pids SERVER_PID=$(cat "$PROSODY_PIDFILE") \
        "$PYTHON3" "$PY" run "$RESULT" || fail "the $MODE run failed"
    [ -n "${CLUSTER_KEEP:-}" ] && mkdir -p "$CLUSTER_KEEP/$MODE" && cp "$T"/*.log "$CLUSTER_KEEP/$MODE/"
    exit 0
fi
N=${1:-2000}
C=${2:-200}
[ "$N" -ge "$C" ] && [ "$C" -ge 1 ] || { echo "usage: $0 [N] [C] (N >= C >= 1)" >&2; exit 2; }
want=$((N + C + 512))
[ "$(ulimit -n)" -ge "$want" ] || ulimit -n "$want" 2>/dev/null \
    || { echo "need $want open files (ulimit -n)" >&2; exit 1; }
OUT=$(mktemp -d /tmp/cluster-bench.XXXXXX)
for mode in standalone cluster; do
    bash "$here/cluster_bench.sh" --mode "$mode" "$N" "$C" "$OUT/$mode.json" \
        || { echo "mode $mode failed" >&2; rm -rf "$OUT"; exit 1; }
done
"${PYTHON3:-/usr/bin/python3}" "$here/cluster_bench.py" table "$OUT" "$N" "$C"
rm -rf "$OUT"
