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
# Where Debian's prosody-modules installs the community modules.
: "${PROSODY_MODULES:=/usr/lib/prosody/modules}"
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

# cleanup [STATUS]: the EXIT trap; exits with STATUS (default: the status
# the test was ending with), or 1 when a sanitizer reported something.
cleanup() {
    local rc=${1:-$?} p bad
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
    # In the sanitizer build every chanstatd and chanstatctl the test ran
    # reports leaks and errors at exit into its log under $T: any report
    # fails the test, whatever else it checked.
    bad=$(grep -rlE 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error: ' "$T" 2>/dev/null)
    if [ -n "$bad" ]; then
        for p in $bad; do
            echo "--- sanitizer report in ${p#"$T"/} ---" >&2
            grep -E -A 30 'ERROR: (LeakSanitizer|AddressSanitizer)|runtime error: ' "$p" | head -n 60 >&2
        done
        rc=1
    fi
    rm -rf "$T"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

need() {
    command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed (run scripts/deps.sh)"
}

# sqlite3: the CLI as doc/operations.md tells admins to run it next to a
# running chanstatd, waiting up to 10 s for a write lock chanstatd holds
# instead of failing at once with "database is locked".
sqlite3() {
    command sqlite3 -cmd '.timeout 10000' "$@"
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
# PROSODY_PRIVILEGE, when set, grants status.a.test XEP-0356 permissions
# through mod_privilege (package prosody-modules): its value is the body
# of the entity's entry, e.g. 'roster = "both"; presence = "managed_entity"'.
# It is prosody_start_with (below) with none of its extras.
prosody_start() {
    local secret=${1:-s3cret}
    if [ -n "${PROSODY_PRIVILEGE:-}" ]; then
        [ -f "$PROSODY_MODULES/mod_privilege/mod_privilege.lua" ] \
            || fail "mod_privilege is not in $PROSODY_MODULES (run scripts/deps.sh)"
        PROSODY_PLUGIN_PATHS=$PROSODY_MODULES PROSODY_HOST_MODULES=privilege \
            PROSODY_HOST_EXTRA="    privileged_entities = { [\"status.a.test\"] = { $PROSODY_PRIVILEGE } }" \
            PROSODY_CONF_EXTRA='    modules_enabled = { "privilege" }' \
            PROSODY_OFFLINE= PROSODY_LOG_LEVEL= prosody_start_with "$secret"
    else
        PROSODY_PLUGIN_PATHS= PROSODY_HOST_MODULES= PROSODY_HOST_EXTRA= PROSODY_CONF_EXTRA= \
            PROSODY_OFFLINE= PROSODY_LOG_LEVEL= prosody_start_with "$secret"
    fi
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
# CS_EXTRA_INI, when set, is appended verbatim (extra sections or keys,
# e.g. short [federation] timers).
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
    [ -z "${CS_EXTRA_INI:-}" ] || printf '%s\n' "$CS_EXTRA_INI" >> "$1"
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

# ejabberd_start SECRET [TEMPLATE]: a private ejabberd for e.test with
# component status.e.test; sets EJ_C2S_PORT and EJ_COMP_PORT.  It runs as
# the ejabberd user with its own Erlang node and distribution port, no
# epmd.  TEMPLATE (default $EJ_TEMPLATE, else ejabberd.yml.in) names the
# config template in tests/e2e, e.g. ejabberd-privilege.yml.in.
# EJ_MCLIMIT fills @MCLIMIT@ (mod_multicast's limits) in a template.  A
# TEMPLATE starting with / is a file of the test's own (e.g. written in $T).
# The node's inetrc sends Erlang's own DNS queries (ejabberd's SRV
# lookups for outgoing s2s) to 127.0.0.1 port EJ_DNS_PORT (default 53,
# where nothing answers; dns_start runs a responder).  Without
# {resolv_conf,""} Erlang reads the machine's resolv.conf at the first
# query and asks the nameservers listed there instead.
ejabberd_start() {
    need ejabberdctl
    local secret=$1 template=${2:-${EJ_TEMPLATE:-ejabberd.yml.in}}
    case $template in /*) ;; *) template=$E2E_DIR/$template ;; esac
    [ -f "$template" ] || fail "no ejabberd template $template"
    EJ_DIR=$T/ejabberd
    mkdir -p "$EJ_DIR/logs" "$EJ_DIR/spool"
    chmod 755 "$T"
    EJ_C2S_PORT=$(free_port)
    EJ_COMP_PORT=$(free_port)
    EJ_NODE=ejtest$$@localhost
    sed -e "s/@C2S@/$EJ_C2S_PORT/" -e "s/@COMP@/$EJ_COMP_PORT/" -e "s/@SECRET@/$secret/" \
        -e "s/@MCLIMIT@/${EJ_MCLIMIT:-20}/" \
        "$template" > "$EJ_DIR/ejabberd.yml"
    {
        echo 'ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"'
        echo "ERLANG_NODE=$EJ_NODE"
        echo "ERL_DIST_PORT=$(free_port)"
        echo "INET_DIST_INTERFACE=127.0.0.1"
        echo "EJABBERD_PID_PATH=$EJ_DIR/spool/ejabberd.pid"
        echo "EJABBERD_BYPASS_WARNINGS=true"
    } > "$EJ_DIR/ejabberdctl.cfg"
    {
        printf '{lookup,["file"]}.\n{host,{127,0,0,1}, ["localhost"]}.\n'
        printf '{resolv_conf,""}.\n{nameserver,{127,0,0,1},%s}.\n' "${EJ_DNS_PORT:-53}"
    } > "$EJ_DIR/inetrc"
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

# ---- a DNS responder for ejabberd's outgoing s2s ----
#
# ejabberd 23.01 (xmpp_stream_out) finds a remote XMPP server by an SRV
# query (_xmpp-server._tcp.NAME, Erlang's own DNS client, to the
# nameserver of its inetrc), then turns each SRV target, or NAME itself
# when there is no SRV record, into addresses with the C library's
# getaddrinfo, which reads the machine's hosts file and resolver, never
# the inetrc.  So a peer is found without either when an SRV record
# names its address as the target: getaddrinfo takes "127.0.0.3" as a
# literal and asks nobody.

# dns_start "ADDR[:PORT] NAME..." ...: a DNS responder on 127.0.0.1 (UDP,
# a free port, set in DNS_PORT and EJ_DNS_PORT) answering, for each NAME,
# SRV _xmpp-server._tcp.NAME with target ADDR and PORT (default 5269) and
# A NAME with ADDR; NXDOMAIN for anything else.  It logs every query to
# $T/dns.log and is stopped by cleanup.
dns_start() {
    local portf=$T/dns.port
    rm -f "$portf"
    "$PYTHON3" - "$portf" "$@" >>"$T/dns.log" 2>&1 <<'PY' &
import os, socket, struct, sys

portf, specs = sys.argv[1], sys.argv[2:]
srv, addr = {}, {}
for spec in specs:
    target, *names = spec.split()
    ip, _, port = target.partition(":")
    for n in names:
        addr[n.lower()] = ip
        srv["_xmpp-server._tcp." + n.lower()] = (ip, int(port or 5269))


def name_bytes(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"


def answer(q):
    qid, flags, qd = struct.unpack("!HHH", q[:6])
    if qd != 1:
        return None
    i, labels = 12, []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
        i += 1 + q[i]
    qtype, qclass = struct.unpack("!HH", q[i + 1:i + 5])
    question = q[12:i + 5]
    name = ".".join(labels).lower()
    rr = b""
    if qtype == 33 and name in srv:
        ip, port = srv[name]
        data = struct.pack("!HHH", 0, 0, port) + name_bytes(ip)
        rr = struct.pack("!HHHIH", 0xC00C, 33, 1, 60, len(data)) + data
    elif qtype == 1 and name in addr:
        rr = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(addr[name])
    known = name in srv or name in addr
    print("query %s type %d: %s" % (name, qtype, "answer" if rr else
                                    "no data" if known else "nxdomain"), flush=True)
    rflags = 0x8400 | (flags & 0x0100) | (0 if known else 3)
    return struct.pack("!HHHHHH", qid, rflags, 1, 1 if rr else 0, 0, 0) + question + rr


s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
with open(portf + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(portf + ".tmp", portf)
while True:
    q, peer = s.recvfrom(4096)
    try:
        r = answer(q)
    except (IndexError, struct.error, UnicodeError):
        r = None
    if r:
        s.sendto(r, peer)
PY
    PIDS+=($!)
    for _ in $(seq 100); do [ -s "$portf" ] && break; sleep 0.05; done
    [ -s "$portf" ] || fail "the DNS responder did not start: $(tail -n 5 "$T/dns.log" 2>/dev/null)"
    DNS_PORT=$(cat "$portf")
    EJ_DNS_PORT=$DNS_PORT
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
    sqlite3 "${CS_DB:-$T/chanstat.db}" "INSERT INTO channel (name, owner, policy) VALUES
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

# ---- two federated domains (s2s) ----
#
# a.test and b.test, each its own Prosody with c2s and s2s on its own
# loopback address (s2s on port 5269: a peer that finds no SRV record
# connects to port 5269 of the domain's address), components status.a.test
# and status.b.test on 127.0.0.1.  Names resolve through a private hosts
# file read by Prosody's unbound resolver; nothing asks the machine's DNS.
# s2s is unencrypted with dialback.  Each instance logs at debug level to
# its own file (benchmarks count s2s stanzas there).

FED_DIR=
A_ADDR=
B_ADDR=

# free_port_on ADDR: a TCP port on ADDR nobody listens on right now.
free_port_on() {
    "$PYTHON3" -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$1"
}

# port_free_on ADDR PORT: true when a listener could bind ADDR:PORT (with
# SO_REUSEADDR, as Prosody does, so old TIME_WAIT connections do not count).
port_free_on() {
    "$PYTHON3" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
except OSError:
    sys.exit(1)' "$1" "$2"
}

# wait_port_on ADDR PORT [TIMEOUT]: until something accepts on ADDR:PORT.
wait_port_on() {
    local i
    for i in $(seq $((${3:-10} * 20))); do
        (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# fed_pick_addrs: A_ADDR and B_ADDR, two loopback addresses whose port 5269
# is free.  127.0.0.2 and 127.0.0.3 unless taken (another bed running in
# parallel); then a pair from 127.0.X.Y.  The private hosts file maps the
# domains to whatever is chosen, so nothing else depends on the values.
fed_pick_addrs() {
    local cand=(127.0.0.2 127.0.0.3) x
    for _ in $(seq 40); do
        x=127.0.$((RANDOM % 250 + 2)).$((RANDOM % 250 + 2))
        cand+=("$x")
    done
    A_ADDR='' B_ADDR=''
    for x in "${cand[@]}"; do
        port_free_on "$x" 5269 || continue
        if [ -z "$A_ADDR" ]; then A_ADDR=$x
        elif [ "$x" != "$A_ADDR" ]; then B_ADDR=$x; break
        fi
    done
    [ -n "$A_ADDR" ] && [ -n "$B_ADDR" ] || fail "no pair of loopback addresses with port 5269 free"
    if [ "$A_ADDR" != 127.0.0.2 ] || [ "$B_ADDR" != 127.0.0.3 ]; then
        echo "fed: port 5269 taken on 127.0.0.2/3, using $A_ADDR and $B_ADDR" >&2
    fi
}

# fed_conf NAME DOMAIN ADDR C2S_PORT COMP_PORT SECRET: writes
# $FED_DIR/NAME/prosody.cfg.lua.  FED_PLUGIN_PATH (a directory) and
# FED_MODULES (module names, space-separated) add Prosody modules.
# FED_CONF_EXTRA_A (or _B), when set, is appended verbatim to instance A's
# (B's) config, e.g. one more Component.
fed_conf() {
    local dir=$FED_DIR/$1 offline='"offline"' extra='' m paths='' more=FED_CONF_EXTRA_$1
    [ -n "${FED_OFFLINE:-}" ] && offline=
    for m in ${FED_MODULES:-}; do extra="$extra \"$m\";"; done
    [ -n "${FED_PLUGIN_PATH:-}" ] && paths="plugin_paths = { \"$FED_PLUGIN_PATH\" }"
    mkdir -p "$dir/data" "$dir/certs"
    cat > "$dir/prosody.cfg.lua" <<CFG
-- Federated test instance $1 for $2 (Prosody 0.12)
local base = "$dir"
run_as_root = true
pidfile = base .. "/prosody.pid"
data_path = base .. "/data"
certificates = base .. "/certs"
log = { debug = base .. "/prosody.log" }
-- Never the machine's resolver: SRV lookups go to 127.0.0.1:53 (nothing
-- there, they fail fast), addresses come from the private hosts file.
unbound = { resolvconf = "$FED_DIR/resolv.conf"; hoststxt = "$FED_DIR/hosts" }
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "presence"; "message"; "iq";
    "dialback"; "posix";$extra }
modules_disabled = { $offline }
$paths
authentication = "internal_plain"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
s2s_require_encryption = false
s2s_secure_auth = false
interfaces = { "$3" }
c2s_ports = { $4 }
c2s_interfaces = { "$3" }
s2s_ports = { 5269 }
s2s_interfaces = { "$3" }
component_ports = { $5 }
component_interfaces = { "127.0.0.1" }
http_ports = { }
https_ports = { }
VirtualHost "$2"
Component "status.$2"
    component_secret = "$6"
CFG
    [ -z "${!more:-}" ] || printf '%s\n' "${!more}" >> "$dir/prosody.cfg.lua"
}

# fed_prosody_up NAME C2S_ADDR C2S_PORT COMP_PORT: starts one instance and
# records its pid for cleanup (NAME_PID).  Returns 2, with the instance
# stopped again, when one of its ports was taken meanwhile (another bed
# started in parallel won the race); any other trouble fails the test.
fed_prosody_up() {
    local dir=$FED_DIR/$1 pid
    rm -f "$dir/prosody.pid"
    prosody --config "$dir/prosody.cfg.lua" -D >> "$dir/stdout.log" 2>&1 \
        || fail "prosody $1 did not start: $(tail -n 5 "$dir/stdout.log")"
    for _ in $(seq 100); do [ -s "$dir/prosody.pid" ] && break; sleep 0.05; done
    pid=$(cat "$dir/prosody.pid" 2>/dev/null) || fail "prosody $1 wrote no pidfile"
    PIDS+=("$pid")
    printf -v "${1}_PID" %s "$pid"
    # Prosody keeps running when a port cannot be bound: the ports being
    # open proves nothing (they may be somebody else's), its log does.
    if grep -q "Failed to open server port" "$dir/prosody.log" 2>/dev/null; then
        fed_prosody_down "$1"
        return 2
    fi
    wait_port_on "$2" "$3" 10 || fail "prosody $1 c2s $2:$3 never opened"
    wait_port_on "$2" 5269 10 || fail "prosody $1 s2s $2:5269 never opened"
    wait_port "$4" 10 || fail "prosody $1 component port $4 never opened"
    if grep -q "Old DNS resolver" "$dir/stdout.log" "$dir/prosody.log" 2>/dev/null; then
        fail "prosody $1 uses its old resolver (lua-unbound missing): federation would fail"
    fi
}

# fed_prosody_down NAME: stops one instance (by its pid) and forgets it.
fed_prosody_down() {
    local var=${1}_PID pid p keep=()
    pid=${!var:-}
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null
    for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
    printf -v "$var" %s ""
    rm -f "$FED_DIR/$1/prosody.pid"
}

# fed_setup [USER@DOMAIN...]: both instances up, the named users
# registered (password USERpw).  Exports for the Python scenarios:
# A_ADDR B_ADDR A_C2S_PORT B_C2S_PORT A_COMP_PORT B_COMP_PORT A_SECRET
# B_SECRET A_LOG B_LOG A_CFG B_CFG A_PID B_PID FED_DIR.  FED_OFFLINE=1
# keeps Prosody's offline module.  Torn down by cleanup (pids in PIDS).
# The private hosts file maps a.test and status.a.test to A_ADDR (b.test,
# status.b.test to B_ADDR); FED_NAMES_A / FED_NAMES_B add names to those
# lines and FED_HOSTS_EXTRA ("ADDR NAME..." lines) is appended verbatim.
fed_setup() {
    need prosody
    need prosodyctl
    # Without lua-unbound Prosody silently uses its old resolver, which
    # ignores the private hosts file: s2s would just time out.
    lua5.4 -e 'require "lunbound"' >/dev/null 2>&1 \
        || fail "lua-unbound is not installed (run scripts/deps.sh): Prosody would fall back to its old resolver"
    FED_DIR=$T/fed
    mkdir -p "$FED_DIR"
    printf 'nameserver 127.0.0.1\n' > "$FED_DIR/resolv.conf"
    A_CFG=$FED_DIR/A/prosody.cfg.lua
    B_CFG=$FED_DIR/B/prosody.cfg.lua
    A_LOG=$FED_DIR/A/prosody.log
    B_LOG=$FED_DIR/B/prosody.log
    A_SECRET=secretA$RANDOM
    B_SECRET=secretB$RANDOM
    local u try rc
    for try in 1 2 3 4 5; do
        fed_pick_addrs
        printf '%s a.test status.a.test%s\n%s b.test status.b.test%s\n' \
            "$A_ADDR" "${FED_NAMES_A:+ $FED_NAMES_A}" "$B_ADDR" "${FED_NAMES_B:+ $FED_NAMES_B}" \
            > "$FED_DIR/hosts"
        [ -z "${FED_HOSTS_EXTRA:-}" ] || printf '%s\n' "$FED_HOSTS_EXTRA" >> "$FED_DIR/hosts"
        A_C2S_PORT=$(free_port_on "$A_ADDR")
        B_C2S_PORT=$(free_port_on "$B_ADDR")
        A_COMP_PORT=$(free_port)
        B_COMP_PORT=$(free_port)
        fed_conf A a.test "$A_ADDR" "$A_C2S_PORT" "$A_COMP_PORT" "$A_SECRET"
        fed_conf B b.test "$B_ADDR" "$B_C2S_PORT" "$B_COMP_PORT" "$B_SECRET"
        if [ "$try" = 1 ]; then
            for u in "$@"; do fed_register "${u%@*}" "${u#*@}" "${u%@*}pw"; done
        fi
        fed_prosody_up A "$A_ADDR" "$A_C2S_PORT" "$A_COMP_PORT"
        rc=$?
        if [ "$rc" = 0 ]; then
            fed_prosody_up B "$B_ADDR" "$B_C2S_PORT" "$B_COMP_PORT"
            rc=$?
            [ "$rc" = 0 ] || fed_prosody_down A
        fi
        [ "$rc" = 0 ] && break
        echo "fed: a port was taken while starting (try $try), picking others" >&2
        mv "$A_LOG" "$A_LOG.try$try" 2>/dev/null
        mv "$B_LOG" "$B_LOG.try$try" 2>/dev/null
    done
    [ "$rc" = 0 ] || fail "could not start both Prosody instances (ports kept being taken)"
    export A_ADDR B_ADDR A_C2S_PORT B_C2S_PORT A_COMP_PORT B_COMP_PORT A_SECRET B_SECRET \
        A_LOG B_LOG A_CFG B_CFG A_PID B_PID FED_DIR E2E_PIDFILE=$T/pids
}

# fed_cfg DOMAIN: the Prosody config serving DOMAIN (a.test or b.test).
fed_cfg() {
    case $1 in
    a.test) echo "$FED_DIR/A/prosody.cfg.lua" ;;
    b.test) echo "$FED_DIR/B/prosody.cfg.lua" ;;
    *) fail "no federated instance serves $1" ;;
    esac
}

# fed_register USER DOMAIN PASSWORD: works before and after fed_setup
# started the servers (the configs must exist).
fed_register() {
    prosodyctl --config "$(fed_cfg "$2")" register "$1" "$2" "$3" >/dev/null 2>&1 \
        || fail "cannot register $1@$2"
}

# fed_chanstatd DOMAIN [CHANNEL:OWNER:POLICY...]: a chanstatd for
# status.DOMAIN attached to that domain's Prosody, with its own config,
# database and log ($T/cs-DOMAIN.{conf,db,log}) and the channels given;
# waits until it is online.  Sets and exports CS_CONF_A/CS_DB_A/CS_LOG_A/
# CS_PID_A (or _B).
fed_chanstatd() {
    local dom=$1 x port secret conf db log sql='' c rest o p
    shift
    case $dom in
    a.test) x=A port=$A_COMP_PORT secret=$A_SECRET ;;
    b.test) x=B port=$B_COMP_PORT secret=$B_SECRET ;;
    *) fail "no federated instance serves $dom" ;;
    esac
    conf=$T/cs-$dom.conf db=$T/cs-$dom.db log=$T/cs-$dom.log
    CS_DB=$db chanstatd_config "$conf" "status.$dom" "$secret" "$port"
    "$CHANSTATD" -c "$conf" --init-db >/dev/null 2>>"$log" || fail "init-db for status.$dom"
    for c in "$@"; do
        rest=${c#*:} o=${rest%:*} p=${rest##*:}
        sql="$sql INSERT INTO channel (name, owner, policy) VALUES ('${c%%:*}', '$o', '$p');"
    done
    [ -z "$sql" ] || sqlite3 "$db" "$sql" || fail "cannot create channels for status.$dom"
    chanstatd_start "$conf" "$log"
    wait_log "link: online as status.$dom" 1 10 "$log"
    printf -v "CS_CONF_$x" %s "$conf"
    printf -v "CS_DB_$x" %s "$db"
    printf -v "CS_LOG_$x" %s "$log"
    printf -v "CS_PID_$x" %s "$CS_PID"
    export "CS_CONF_$x" "CS_DB_$x" "CS_LOG_$x" "CS_PID_$x"
}

# fed_fail_logs: the tails of both Prosody logs and chanstatd logs on
# stderr (fail() shows only the single-domain ones), and of ejabberd's log
# and the DNS responder's when a test runs them beside the two domains.
fed_fail_logs() {
    local f
    for f in "$FED_DIR"/A/prosody.log "$FED_DIR"/B/prosody.log "$T"/cs-*.log \
        ${EJ_DIR:+"$EJ_DIR"/logs/ejabberd.log} "$T"/dns.log; do
        [ -s "$f" ] || continue
        echo "--- ${f#"$T"/} (tail) ---" >&2
        tail -n 30 "$f" >&2
    done
}

# run_fed_py SCRIPT ARGS...: a Python scenario against the federated bed;
# on failure both domains' logs are shown.
run_fed_py() {
    local s=$1; shift
    "$PYTHON3" "$E2E_DIR/$s" "$@" || { fed_fail_logs; fail "$s failed"; }
}

# prosody_start_with [SECRET]: prosody_start with more in the config; sets
# the same variables, plus PROSODY_CFG (the config file) and
# PROSODY_PIDFILE.  Read from the environment:
#   PROSODY_PLUGIN_PATHS  directories for plugin_paths (space-separated)
#   PROSODY_HOST_MODULES  modules enabled on VirtualHost "a.test" only
#                         (names, space-separated)
#   PROSODY_HOST_EXTRA    lines for the VirtualHost "a.test" section
#   PROSODY_CONF_EXTRA    appended at the end (e.g. more Component sections)
#   PROSODY_OFFLINE=1     keeps Prosody's offline message store
#   PROSODY_LOG_LEVEL     lowest level written to prosody.log (default info)
prosody_start_with() {
    need prosody
    local secret=${1:-s3cret} offline='; "offline"' paths='' p mods='' m
    [ -n "${PROSODY_OFFLINE:-}" ] && offline=
    for p in ${PROSODY_PLUGIN_PATHS:-}; do paths="$paths \"$p\";"; done
    [ -n "$paths" ] && paths=$'\n'"plugin_paths = {$paths }"
    for m in ${PROSODY_HOST_MODULES:-}; do mods="$mods \"$m\";"; done
    [ -n "$mods" ] && mods=$'\n'"    modules_enabled = {$mods }"
    PROSODY_DIR=$T/prosody
    PROSODY_CFG=$PROSODY_DIR/prosody.cfg.lua
    PROSODY_PIDFILE=$PROSODY_DIR/prosody.pid
    mkdir -p "$PROSODY_DIR/data"
    : "${C2S_PORT:=$(free_port)}"
    : "${COMP_PORT:=$(free_port)}"
    printf 'nameserver 127.0.0.1\n' > "$PROSODY_DIR/resolv.conf"
    cat > "$PROSODY_CFG" <<EOC
local base = "$PROSODY_DIR"
run_as_root = true
pidfile = base .. "/prosody.pid"
data_path = base .. "/data"
certificates = base .. "/data"
log = { ${PROSODY_LOG_LEVEL:-info} = base .. "/prosody.log" }
unbound = { resolvconf = base .. "/resolv.conf"; hoststxt = false }
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "presence"; "message"; "iq"; "posix" }
modules_disabled = { "s2s"$offline }$paths
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
VirtualHost "a.test"$mods
${PROSODY_HOST_EXTRA:-}
Component "status.a.test"
    component_secret = "$secret"
${PROSODY_CONF_EXTRA:-}
EOC
    prosody_up
}
