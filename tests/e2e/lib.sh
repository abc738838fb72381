# lib.sh - shared helpers of the end-to-end tests (sourced by bash).
#
# Every test gets a private scratch directory, free loopback ports, its
# own Prosody (or ejabberd) and chanstatd, all torn down on exit whatever
# happens.  A missing server is a failure, never a skip.
set -u

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${CHANSTATD:=$top_builddir/src/chanstatd}"
: "${PYTHON3:=/usr/bin/python3}"
E2E_DIR=$top_srcdir/tests/e2e
XMPP_QUERY=$top_builddir/tests/e2e/xmpp_query
export PYTHONPATH=$E2E_DIR${PYTHONPATH:+:$PYTHONPATH}

T=$(mktemp -d "${TMPDIR:-/tmp}/chanstat-e2e.XXXXXX")
PIDS=()
PROSODY_DIR=
EJ_DIR=
CS_LOG=$T/chanstatd.log
CS_PID=

fail() {
    echo "FAIL: $*" >&2
    [ -n "${KEEP_LOGS:-}" ] && cp "$CS_LOG" "$KEEP_LOGS" 2>/dev/null
    if [ -s "$CS_LOG" ]; then
        echo "--- chanstatd log (tail) ---" >&2
        tail -n 40 "$CS_LOG" >&2
    fi
    if [ -n "$PROSODY_DIR" ] && [ -s "$PROSODY_DIR/prosody.log" ]; then
        echo "--- prosody log (tail) ---" >&2
        tail -n 20 "$PROSODY_DIR/prosody.log" >&2
    fi
    exit 1
}

cleanup() {
    local p
    # Processes the Python scenarios started themselves.
    [ -f "$T/pids" ] && PIDS+=($(cat "$T/pids"))
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    [ -n "$PROSODY_DIR" ] && prosody_stop
    [ -n "$EJ_DIR" ] && ejabberd_stop
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

need() {
    command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed (run scripts/deps.sh)"
}

# free_port: a TCP port on 127.0.0.1 nobody listens on right now.
free_port() {
    "$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT [TIMEOUT]: until something accepts on 127.0.0.1:PORT.
wait_port() {
    local i
    for i in $(seq $((${2:-10} * 20))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# ---- Prosody ----

# prosody_start [SECRET]: a private Prosody for a.test with component
# status.a.test; sets C2S_PORT and COMP_PORT (kept across restarts).
prosody_start() {
    need prosody
    local secret=${1:-s3cret}
    PROSODY_DIR=$T/prosody
    mkdir -p "$PROSODY_DIR/data"
    : "${C2S_PORT:=$(free_port)}"
    : "${COMP_PORT:=$(free_port)}"
    printf 'nameserver 127.0.0.1\n' > "$PROSODY_DIR/resolv.conf"
    cat > "$PROSODY_DIR/prosody.cfg.lua" <<EOF
local base = "$PROSODY_DIR"
run_as_root = true
pidfile = base .. "/prosody.pid"
data_path = base .. "/data"
certificates = base .. "/data"
log = { info = base .. "/prosody.log" }
unbound = { resolvconf = base .. "/resolv.conf"; hoststxt = false }
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "presence"; "message"; "iq"; "posix" }
modules_disabled = { "s2s"; "offline" }
authentication = "internal_plain"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
c2s_ports = { $C2S_PORT }
c2s_interfaces = { "127.0.0.1" }
s2s_ports = { }
component_ports = { $COMP_PORT }
component_interfaces = { "127.0.0.1" }
http_ports = { }
https_ports = { }
VirtualHost "a.test"
Component "status.a.test"
    component_secret = "$secret"
EOF
    prosody_up
}

prosody_up() {
    prosody --config "$PROSODY_DIR/prosody.cfg.lua" -D >> "$PROSODY_DIR/stdout.log" 2>&1 \
        || fail "prosody did not start"
    wait_port "$C2S_PORT" 10 || fail "prosody c2s port $C2S_PORT never opened"
    wait_port "$COMP_PORT" 10 || fail "prosody component port $COMP_PORT never opened"
}

prosody_stop() {
    local pidf=$PROSODY_DIR/prosody.pid pid
    [ -s "$pidf" ] || return 0
    pid=$(cat "$pidf")
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null
    rm -f "$pidf"
}

# prosody_register USER PASSWORD
prosody_register() {
    prosodyctl --config "$PROSODY_DIR/prosody.cfg.lua" register "$1" a.test "$2" >/dev/null 2>&1 \
        || fail "cannot register $1@a.test"
}

# ---- chanstatd ----

# chanstatd_config FILE DOMAIN SECRET PORT: writes a config for a test.
chanstatd_config() {
    cat > "$1" <<EOF
[component]
domain = $2
secret = $3
server = 127.0.0.1
port = $4
connect_timeout = 5
reconnect_min_ms = 100
reconnect_max_ms = 1000
[limits]
max_stanza_bytes = ${MAX_STANZA_BYTES:-262144}
max_depth = ${MAX_DEPTH:-32}
send_buffer_bytes = ${SEND_BUFFER:-1048576}
[offline]
max_messages = ${OFFLINE_MAX:-100}
[storage]
database = ${CS_DB:-$T/chanstat.db}
[log]
level = ${CS_LEVEL:-debug}
EOF
}

# chanstatd_start [CONFIG [LOG]]: starts chanstatd in the background.
chanstatd_start() {
    local conf=${1:-$T/chanstatd.conf} log=${2:-$CS_LOG}
    [ -x "$CHANSTATD" ] || fail "chanstatd not built at $CHANSTATD"
    [ -f "$conf" ] || chanstatd_config "$conf" status.a.test s3cret "$COMP_PORT"
    "$CHANSTATD" -c "$conf" 2>>"$log" &
    CS_PID=$!
    PIDS+=("$CS_PID")
}

# count_log PATTERN [LOG]: lines of the log containing PATTERN (fixed string).
count_log() {
    grep -cF -- "$1" "${2:-$CS_LOG}" 2>/dev/null || true
}

# wait_log PATTERN [COUNT] [TIMEOUT] [LOG]: until the log holds PATTERN COUNT times.
wait_log() {
    local n=${2:-1} t=${3:-10} log=${4:-$CS_LOG} i
    for i in $(seq $((t * 20))); do
        [ "$(count_log "$1" "$log")" -ge "$n" ] && return 0
        sleep 0.05
    done
    fail "log never showed '$1' $n time(s) within ${t}s"
}

# query USER PW XML: one iq through a real c2s connection; prints the reply.
query() {
    [ -x "$XMPP_QUERY" ] || fail "xmpp_query not built at $XMPP_QUERY"
    "$XMPP_QUERY" "$1@a.test" "$2" "$C2S_PORT" "$3"
}

# ---- ejabberd ----

# ejabberd_start SECRET: a private ejabberd for e.test with component
# status.e.test; sets EJ_C2S_PORT and EJ_COMP_PORT.  It runs as the
# ejabberd user with its own Erlang node and distribution port, no epmd.
ejabberd_start() {
    need ejabberdctl
    local secret=$1
    EJ_DIR=$T/ejabberd
    mkdir -p "$EJ_DIR/logs" "$EJ_DIR/spool"
    chmod 755 "$T"
    EJ_C2S_PORT=$(free_port)
    EJ_COMP_PORT=$(free_port)
    EJ_NODE=ejtest$$@localhost
    sed -e "s/@C2S@/$EJ_C2S_PORT/" -e "s/@COMP@/$EJ_COMP_PORT/" -e "s/@SECRET@/$secret/" \
        "$E2E_DIR/ejabberd.yml.in" > "$EJ_DIR/ejabberd.yml"
    {
        echo 'ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"'
        echo "ERLANG_NODE=$EJ_NODE"
        echo "ERL_DIST_PORT=$(free_port)"
        echo "INET_DIST_INTERFACE=127.0.0.1"
        echo "EJABBERD_PID_PATH=$EJ_DIR/spool/ejabberd.pid"
        echo "EJABBERD_BYPASS_WARNINGS=true"
    } > "$EJ_DIR/ejabberdctl.cfg"
    printf '{lookup,["file"]}.\n{host,{127,0,0,1}, ["localhost"]}.\n{nameserver,{127,0,0,1},53}.\n' \
        > "$EJ_DIR/inetrc"
    chown -R ejabberd:ejabberd "$EJ_DIR"
    ej start >/dev/null 2>&1 || fail "ejabberd did not start"
    ej started >/dev/null 2>&1 || fail "ejabberd never finished starting"
    wait_port "$EJ_C2S_PORT" 20 || fail "ejabberd c2s port never opened"
}

ej() {
    ejabberdctl --config-dir "$EJ_DIR" --logs "$EJ_DIR/logs" --spool "$EJ_DIR/spool" "$@"
}

ejabberd_stop() {
    local pid
    [ -d "$EJ_DIR" ] || return 0
    ej stop >/dev/null 2>&1 && ej stopped >/dev/null 2>&1
    # Whatever is left of this node (never another test's or the system's).
    for pid in $(pgrep -f -- "$EJ_NODE" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    EJ_DIR=
}

# ---- channels ----

# presence_setup: Prosody with users alice bob carol dave erin (password
# NAMEpw), channels alice (owner alice, open), desk (owner bob, approve),
# vault (owner bob, closed), and chanstatd online.
presence_setup() {
    prosody_start s3cret
    local u
    for u in alice bob carol dave erin; do prosody_register "$u" "${u}pw"; done
    chanstatd_config "$T/chanstatd.conf" status.a.test s3cret "$COMP_PORT"
    "$CHANSTATD" -c "$T/chanstatd.conf" --init-db >/dev/null 2>>"$CS_LOG" || fail "init-db"
    sqlite3 "$T/chanstat.db" "INSERT INTO channel (name, owner, policy) VALUES
        ('alice', 'alice@a.test', 'open'), ('desk', 'bob@a.test', 'approve'),
        ('vault', 'bob@a.test', 'closed'), ('nobody', NULL, 'open')" || fail "cannot create channels"
    chanstatd_start
    wait_log "link: online as status.a.test"
    export C2S_PORT COMP_PORT CHANSTATD CS_LOG CS_PID CS_CONF=$T/chanstatd.conf \
        PROSODY_CFG=$PROSODY_DIR/prosody.cfg.lua PROSODY_PIDFILE=$PROSODY_DIR/prosody.pid \
        E2E_PIDFILE=$T/pids
}

# run_py SCRIPT ARGS...: a Python scenario from tests/e2e.
run_py() {
    local s=$1; shift
    "$PYTHON3" "$E2E_DIR/$s" "$@" || fail "$s failed"
}
