#!/bin/bash
# fanout_e2e.sh N [SERVERS] [CASES]: what one status change of an owner
# costs end to end, through a real server, with N watchers.
#
# For each server (SERVERS, default "prosody ejabberd": Prosody 0.12 or
# ejabberd 23.01, one domain a.test with the component status.a.test) and
# each case (CASES, default "native chanstat multicast"), on a fresh bed:
#   native     N watchers w1..wN@a.test subscribed to the plain user
#              carol@a.test; the server fans her presence out itself;
#   chanstat   the same N watchers subscribed to the channel
#              carol@status.a.test (owner carol@a.test, policy open);
#              chanstatd with [fanout] multicast = off: one presence per
#              watcher;
#   multicast  as chanstat with [fanout] multicast = auto and the
#              server's XEP-0033 service: on Prosody the module
#              contrib/prosody/mod_chanstat_multicast.lua, on ejabberd
#              mod_multicast (limits 1000 local and remote).
# carol then changes her status (a warm-up change, then FANOUT_REPEATS
# measured ones, default 5, alternately away and available, each with its
# own status text; fanout_e2e.py waits until the processes are idle
# between changes).  Per change: the server's and chanstatd's CPU
# (utime+stime from /proc/PID/stat, before the change and once all are idle
# again), the time to the last watcher (and the median and 90th percentile
# over the watchers), the bytes chanstatd wrote to the server.  Printed:
# per change, then one table per server with the medians and the ratios
# to native.
#
# Set-up (how N watchers come to exist and be subscribed):
#   Prosody (tests/e2e/lib.sh prosody_start_with; case multicast adds the
#     module on the VirtualHost): accounts and pre-approved rosters are
#     written straight into its internal store before anybody logs in
#     (data/a%2etest/accounts/USER.dat and roster/USER.dat, as Prosody
#     itself writes them; native: each watcher 'to' carol, carol 'from'
#     each watcher; channel cases: each watcher 'to' the channel), and the
#     channel's watcher rows into chanstatd's database (roster table,
#     subscription 'from', one transaction) before chanstatd starts.  At
#     login Prosody probes the target for each watcher; the run goes on
#     once every watcher has seen it available.  FANOUT_SETUP=protocol
#     subscribes over XMPP instead (each watcher sends subscribe, carol's
#     client or the channel approves); Prosody rewrites carol's whole
#     roster file per approval, so native then takes minutes from N=2000.
#   ejabberd: carol with one `ejabberdctl register` (timed and printed:
#     one Erlang VM per call), the watchers by in-band registration
#     (XEP-0077, mod_register, registration_timeout: infinity), 100 at a
#     time, then subscribed over XMPP, 100 in flight (native: carol's
#     client approves each; channel cases: chanstatd does, policy open).
#     Native is the slow one: every approval goes through carol's one
#     session and costs more as her roster grows (2000 in ~13 s, 10000 in
#     ~280 s here); the channel's 10000 take ~17 s.
#
# Limits raised for N=10000: `ulimit -n` to N+512 (each watcher is one
# socket in the pool and one in the server).  ejabberd runs as its user
# through setpriv, not su (su applies pam_limits, which resets the open
# files limit to 1024), with ERL_MAX_PORTS 65536, a c2s listen backlog of
# 4096 (with the default, parallel connects stall in SYN retries of 1 s),
# max_fsm_queue 1000000, c2s shaper none, registration_timeout infinity
# (default: one registration per IP address every 600 s), and the Erlang
# schedulers' busy wait off (+sbwt none ...) so that its CPU figures are
# the work done, not spinning.
#
# Not run by `make check`.  Run from the source tree after building:
#   bench/fanout_e2e.sh 2000
#   top_builddir=_b bench/fanout_e2e.sh 10000 prosody "native chanstat"
# Needs what scripts/deps.sh installs (Prosody, ejabberd, sqlite3, a built
# chanstatd and chanstatctl) plus setpriv (util-linux) and ss (iproute2).
# Everything binds to loopback only (ports as tests/e2e/lib.sh picks
# them); every process started is stopped on exit, failure or signal.
# FANOUT_KEEP=DIR keeps each case's scratch directory (logs, databases,
# the servers' data).  Exit status: 0 when every available case was
# measured; a case that is not available (chanstatd without [fanout]
# multicast, or the Prosody module missing) is reported as such.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$here/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${PYTHON3:=/usr/bin/python3}"
export top_srcdir top_builddir PYTHON3
PY=$here/fanout_e2e.py

usage() {
    echo "usage: $0 N [SERVERS] [CASES]   (SERVERS a subset of 'prosody ejabberd'," \
        "CASES of 'native chanstat multicast')" >&2
    exit 2
}

# ---- one case on a fresh bed: bash fanout_e2e.sh --case SERVER CASE N RESULT ----

# not_available REASON: records the case as not available and ends it.
not_available() {
    echo "$SERVER $CASE: case not available: $1"
    "$PYTHON3" "$PY" na "$RESULT" "$SERVER" "$CASE" "$1"
    exit 3
}

# fanout_section: CS_EXTRA_INI for the case's [fanout] multicast value,
# checked with chanstatd --check-config.  A chanstatd that does not know
# the section yet runs case chanstat without it (its only fan-out is one
# presence per watcher) and makes case multicast not available.
fanout_section() {
    local want=off conf=$T/check.conf msg
    [ "$CASE" = multicast ] && want=auto
    CS_EXTRA_INI='' chanstatd_config "$conf" status.a.test x 5347
    msg=$("$CHANSTATD" -c "$conf" --check-config 2>&1 >/dev/null) \
        || fail "chanstatd rejects the bench's basic config: $msg"
    CS_EXTRA_INI=$(printf '[fanout]\nmulticast = %s' "$want")
    chanstatd_config "$conf" status.a.test x 5347
    msg=$("$CHANSTATD" -c "$conf" --check-config 2>&1 >/dev/null) && return 0
    [ "$CASE" = multicast ] && not_available "chanstatd rejects '[fanout] multicast = auto' ($msg)"
    CS_EXTRA_INI=''
    NOTE="this chanstatd rejects '[fanout] multicast = off' ($msg); run without it (one presence per watcher)"
}

bench_prosody() {
    PROSODY_PLUGIN_PATHS='' PROSODY_HOST_MODULES='' PROSODY_HOST_EXTRA='' PROSODY_CONF_EXTRA=''
    if [ "$CASE" = multicast ]; then
        PROSODY_PLUGIN_PATHS=$top_srcdir/contrib/prosody
        PROSODY_HOST_MODULES=chanstat_multicast
        PROSODY_HOST_EXTRA='    chanstat_multicast = { "status.a.test" }
    chanstat_multicast_limit = 1000'
    fi
    PROSODY_OFFLINE='' PROSODY_LOG_LEVEL=info prosody_start_with "$SECRET"
    if grep -i "chanstat_multicast" "$PROSODY_DIR/prosody.log" | grep -qi "unable\|error"; then
        fail "Prosody could not load mod_chanstat_multicast"
    fi
    SERVER_PIDS=$(cat "$PROSODY_PIDFILE")
    echo "prosody: pid $SERVER_PIDS, open files limit $(awk '/Max open files/ {print $4}' "/proc/$SERVER_PIDS/limits")"
    # Prosody reads an account and a roster when it needs them (at login,
    # or carol's when the channel's request for her arrives): written
    # before anything logs in or chanstatd starts, they are as good as
    # made through the protocol.
    FANOUT_SETUP=${FANOUT_SETUP:-store}
    FANOUT_REGISTER=
    local t0=$SECONDS what=rosters
    [ "$FANOUT_SETUP" = store ] || what=accounts
    "$PYTHON3" "$PY" store "$PROSODY_DIR/data" "$CASE" "$N" "$what" || fail "cannot write Prosody's store"
    echo "set-up: $what of $N watchers written into Prosody's store in $((SECONDS - t0)) s"
}

# bench_ej ARGS: ejabberdctl as the ejabberd user (setpriv keeps this
# shell's open files limit; su, which lib.sh's ej uses, resets it to 1024
# through pam_limits).  run_one makes it lib.sh's ej.
bench_ej() {
    (cd "$EJ_DIR/spool" && HOME=$EJ_DIR/spool setpriv --reuid=ejabberd --regid=ejabberd \
        --init-groups ejabberdctl --config-dir "$EJ_DIR" --logs "$EJ_DIR/logs" \
        --spool "$EJ_DIR/spool" "$@")
}

bench_ejabberd() {
    need ejabberdctl
    need setpriv
    local multicast='' t0 t1
    if [ "$CASE" = multicast ]; then
        multicast='  mod_multicast:
    limits:
      local:
        message: 1000
        presence: 1000
      remote:
        message: 1000
        presence: 1000'
    fi
    EJ_DIR=$T/ejabberd
    mkdir -p "$EJ_DIR/logs" "$EJ_DIR/spool"
    chmod 755 "$T"
    C2S_PORT=$(free_port)
    COMP_PORT=$(free_port)
    EJ_NODE=fanout$$@localhost
    cat > "$EJ_DIR/ejabberd.yml" <<EOF
# fanout_e2e: a.test with the component status.a.test, loopback only
hosts:
  - a.test
loglevel: info
log_rotate_count: 0
certfiles: []
max_fsm_queue: 1000000
registration_timeout: infinity
listen:
  -
    port: $C2S_PORT
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    shaper: none
    backlog: 4096
    max_fsm_queue: 1000000
    access: c2s
    starttls: false
  -
    port: $COMP_PORT
    ip: "127.0.0.1"
    module: ejabberd_service
    access: all
    max_stanza_size: 524288
    hosts:
      status.a.test:
        password: "$SECRET"
auth_method: internal
auth_password_format: plain
s2s_access: none
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  register:
    allow: all
shaper_rules:
  max_user_sessions: 10
  c2s_shaper: none
modules:
  mod_roster: {}
  mod_disco: {}
  mod_ping: {}
  mod_register:
    access: register
$multicast
EOF
    {
        echo 'ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0 +sbwt none +sbwtdcpu none +sbwtdio none"'
        echo "ERLANG_NODE=$EJ_NODE"
        echo "ERL_DIST_PORT=$(free_port)"
        echo "INET_DIST_INTERFACE=127.0.0.1"
        echo "ERL_MAX_PORTS=65536"
        echo "EJABBERD_PID_PATH=$EJ_DIR/spool/ejabberd.pid"
        echo "EJABBERD_BYPASS_WARNINGS=true"
    } > "$EJ_DIR/ejabberdctl.cfg"
    printf '{lookup,["file"]}.\n{host,{127,0,0,1}, ["localhost"]}.\n{nameserver,{127,0,0,1},53}.\n' \
        > "$EJ_DIR/inetrc"
    chown -R ejabberd:ejabberd "$EJ_DIR"
    ej start >/dev/null 2>&1 || fail_ej "ejabberd did not start"
    ej started >/dev/null 2>&1 || fail_ej "ejabberd never finished starting"
    wait_port "$C2S_PORT" 20 || fail_ej "ejabberd c2s port never opened"
    SERVER_PIDS=$(pgrep -f -- "name $EJ_NODE" | tr '\n' ' ')
    [ -n "$SERVER_PIDS" ] || fail_ej "no Erlang VM found for $EJ_NODE"
    local p
    for p in $SERVER_PIDS; do
        echo "ejabberd: pid $p, open files limit $(awk '/Max open files/ {print $4}' "/proc/$p/limits")"
    done
    t0=$(date +%s.%N)
    ej register carol a.test carolpw >/dev/null || fail_ej "cannot register carol@a.test"
    t1=$(date +%s.%N)
    echo "set-up: one 'ejabberdctl register' took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
    FANOUT_SETUP=protocol
    FANOUT_REGISTER=ibr
}

fail_ej() {
    if [ -n "$EJ_DIR" ]; then
        tail -n 30 "$EJ_DIR/logs/ejabberd.log" "$EJ_DIR/logs/error.log" >&2 2>/dev/null
    fi
    fail "$@"
}

bench_chanstatd() {
    local conf=$T/chanstatd.conf ctl=$top_builddir/src/chanstatctl
    [ -x "$ctl" ] || fail "chanstatctl not built at $ctl"
    chanstatd_config "$conf" status.a.test "$SECRET" "$COMP_PORT"
    "$CHANSTATD" -c "$conf" --init-db >/dev/null 2>>"$CS_LOG" || fail "init-db"
    "$ctl" -c "$conf" channel add carol --owner carol@a.test --policy open >/dev/null \
        || fail "chanstatctl channel add carol"
    if [ "$FANOUT_SETUP" = store ]; then
        "$PYTHON3" "$PY" rows "$T/chanstat.db" "$N" || fail "cannot write the watcher rows"
    fi
    chanstatd_start "$conf"
    wait_log "link: online as status.a.test" 1 20
}

run_one() {
    SERVER=$1 CASE=$2 N=$3 RESULT=$4
    . "$top_srcdir/tests/e2e/lib.sh"
    ej() { bench_ej "$@"; }
    keep() {
        if [ -n "${FANOUT_KEEP:-}" ]; then
            mkdir -p "$FANOUT_KEEP" && cp -r "$T" "$FANOUT_KEEP/$SERVER-N$N-$CASE" 2>/dev/null
        fi
        cleanup
    }
    trap keep EXIT
    local want=$((N + 512)) rc
    if [ "$(ulimit -n)" -lt "$want" ]; then
        ulimit -n "$want" 2>/dev/null || fail "need $want open files (ulimit -n), have $(ulimit -n)"
    fi
    # chanstatd at info: debug would log every one of the N stanzas.
    export CS_LEVEL=${CS_LEVEL:-info}
    SECRET=fanout$RANDOM
    NOTE=''
    CS_EXTRA_INI=''
    SERVER_PIDS=''
    if [ "$CASE" = multicast ] && [ "$SERVER" = prosody ] \
        && ! [ -f "$top_srcdir/contrib/prosody/mod_chanstat_multicast.lua" ]; then
        not_available "contrib/prosody/mod_chanstat_multicast.lua does not exist"
    fi
    if [ "$CASE" != native ]; then
        # A copy: the build directory may be rebuilt while the case runs.
        [ -x "$CHANSTATD" ] || fail "chanstatd not built at $CHANSTATD"
        cp -p "$CHANSTATD" "$T/chanstatd" || fail "cannot copy $CHANSTATD"
        CHANSTATD=$T/chanstatd
        echo "chanstatd: $("$CHANSTATD" -V 2>&1 | head -n 1), built $(date -r "$CHANSTATD" '+%F %T' 2>/dev/null), sha256 $(sha256sum < "$CHANSTATD" | cut -c1-12)"
        fanout_section
    fi
    "bench_$SERVER"
    CS_PID=''
    [ "$CASE" = native ] || bench_chanstatd
    export FANOUT_SERVER=$SERVER FANOUT_CASE=$CASE FANOUT_N=$N C2S_PORT COMP_PORT SERVER_PIDS \
        CS_PID FANOUT_SETUP FANOUT_REGISTER FANOUT_NOTE=$NOTE
    [ -z "$NOTE" ] || echo "note: $NOTE"
    "$PYTHON3" "$PY" run "$RESULT" &
    PIDS+=("$!")
    wait "$!"
    rc=$?
    if [ "$rc" != 0 ]; then
        [ -s "$CS_LOG" ] && { echo "--- chanstatd log (tail) ---"; tail -n 20 "$CS_LOG"; } >&2
        [ -n "$PROSODY_DIR" ] && { echo "--- prosody log (tail) ---"; tail -n 20 "$PROSODY_DIR/prosody.log"; } >&2
        [ -n "$EJ_DIR" ] && { echo "--- ejabberd log (tail) ---"; tail -n 20 "$EJ_DIR/logs/ejabberd.log"; } >&2
    fi
    return "$rc"
}

if [ "${1:-}" = --case ]; then
    [ $# = 5 ] || usage
    run_one "$2" "$3" "$4" "$5"
    exit $?
fi

# ---- all cases ----

[ $# -ge 1 ] && [ $# -le 3 ] || usage
[ "$1" -gt 0 ] 2>/dev/null || usage
N=$1
SERVERS=${2:-prosody ejabberd}
CASES=${3:-native chanstat multicast}
for s in $SERVERS; do case $s in prosody|ejabberd) ;; *) usage ;; esac; done
for c in $CASES; do case $c in native|chanstat|multicast) ;; *) usage ;; esac; done

RES=$(mktemp -d "${TMPDIR:-/tmp}/fanout-e2e.XXXXXX")
child=''
finish() {
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null
        wait "$child" 2>/dev/null
    fi
    rm -rf "$RES"
}
trap finish EXIT
trap 'exit 1' INT TERM

status=0
for s in $SERVERS; do
    for c in $CASES; do
        echo "=== $s, N=$N, case $c ==="
        bash "$0" --case "$s" "$c" "$N" "$RES/$s-$c.json" &
        child=$!
        wait "$child"
        rc=$?
        child=''
        case $rc in
        0|3) ;;
        *) echo "$s $c: FAILED (exit $rc)"; status=1 ;;
        esac
    done
    "$PYTHON3" "$PY" table "$RES" "$N" "$s" "$CASES"
    echo
done
exit "$status"
