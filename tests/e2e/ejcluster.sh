# ejcluster.sh - a two-node ejabberd 23.01 cluster on loopback for the
# end-to-end tests (sourced after lib.sh; doc/cluster.md): nodes
# ejc1-PID@localhost and ejc2-PID@localhost with a private epmd, one vhost
# e.test, a c2s and a component listener per node, each listener taking
# the front status.e.test and the homes h1.status.e.test and
# h2.status.e.test (global_routes: false, so a connection claims only
# its own domain).  Node 2 joins node 1; users live in mnesia, on both.
#
# Pitfalls this avoids: ports come from below 32768 (an ephemeral port
# another test left in TIME_WAIT cannot be listened on here); the epmd
# is private (ERL_EPMD_PORT exported, -start_epmd false, so nothing
# lands on port 4369); the cookie is random; `ejabberdctl start` says 0
# even when the VM dies, so readiness is the log line plus both ports.

EJC_DIR=
EJC_EPMD_PID=

# low_port: a TCP port in 20000-31999 that binds on 127.0.0.1 now.
low_port() {
    "$PYTHON3" - <<'PY'
import random, socket
for _ in range(200):
    p = random.randint(20000, 31999)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
PY
}

ejc() { local n=$1; shift
    timeout -k 5 "${EJC_TIMEOUT:-60}" ejabberdctl --config-dir "$EJC_DIR/n$n" \
        --logs "$EJC_DIR/n$n/logs" --spool "$EJC_DIR/n$n/spool" "$@"; }

ejc_pid() { cat "$EJC_DIR/n$1/spool/ejabberd.pid" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ejc_node N C2S COMP: node N's files.
ejc_node() {
    local n=$1 d=$EJC_DIR/n$1
    mkdir -p "$d/logs" "$d/spool"
    cat > "$d/ejabberd.yml" <<EOY
hosts:
  - e.test
loglevel: info
log_rotate_count: 0
certfiles: []
listen:
  -
    port: $2
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    access: c2s
    starttls: false
  -
    port: $3
    ip: "127.0.0.1"
    module: ejabberd_service
    access: all
    max_stanza_size: 262144
    global_routes: false
    hosts:
      status.e.test:
        password: "secret-front"
      h1.status.e.test:
        password: "secret-h1"
      h2.status.e.test:
        password: "secret-h2"
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
shaper_rules:
  max_user_sessions: 10
modules:
  mod_roster: {}
  mod_disco: {}
  mod_ping: {}
EOY
    printf '{lookup,["file"]}.\n{host,{127,0,0,1}, ["localhost"]}.\n{nameserver,{127,0,0,1},53}.\n' \
        > "$d/inetrc"
    {
        echo "ERLANG_NODE=ejc$n-$$@localhost"
        echo "EJABBERD_PID_PATH=$d/spool/ejabberd.pid"
        echo "EJABBERD_BYPASS_WARNINGS=true"
        echo "ERL_OPTIONS=\"-env ERL_CRASH_DUMP_BYTES 0 -setcookie $EJC_COOKIE -kernel inet_dist_use_interface {127,0,0,1} -start_epmd false\""
        echo "ERL_EPMD_ADDRESS=127.0.0.1"
        echo "export ERL_EPMD_PORT=$EJC_EPMD_PORT"
    } > "$d/ejabberdctl.cfg"
    chown -R ejabberd:ejabberd "$d/logs" "$d/spool"
}

# ejc_ready N C2S COMP: the node logged that it started and listens.
ejc_ready() {
    local log=$EJC_DIR/n$1/logs/ejabberd.log
    for _ in $(seq 400); do
        if grep -q "is started in the node" "$log" 2>/dev/null && port_open "$2" && port_open "$3"
        then
            PIDS+=("$(ejc_pid "$1")")
            return 0
        fi
        sleep 0.1
    done
    fail "ejabberd node $1 did not start; its log: $(grep -E 'error|critical' "$log" | tail -3)"
}

# ejc_start N: (re)starts node N on its existing spool.
ejc_start() {
    local c2s comp
    [ "$1" = 1 ] && { c2s=$EJC_C2S1; comp=$EJC_COMP1; } || { c2s=$EJC_C2S2; comp=$EJC_COMP2; }
    : > "$EJC_DIR/n$1/logs/ejabberd.log"
    ejc "$1" start >/dev/null 2>&1 || fail "ejabberdctl start of node $1 failed"
    ejc_ready "$1" "$c2s" "$comp"
}

# ejc_up: both nodes, node 2 joined, users registered.  Sets EJC_C2S1/2
# and EJC_COMP1/2.
ejc_up() {
    need ejabberdctl
    need epmd
    EJC_DIR=$T/ejc
    chmod 755 "$T"
    mkdir -p "$EJC_DIR"
    EJC_COOKIE=ejc$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
    EJC_C2S1=$(low_port) EJC_C2S2=$(low_port) EJC_COMP1=$(low_port) EJC_COMP2=$(low_port)
    EJC_EPMD_PORT=$(low_port)
    ejc_node 1 "$EJC_C2S1" "$EJC_COMP1"
    ejc_node 2 "$EJC_C2S2" "$EJC_COMP2"
    ERL_EPMD_ADDRESS=127.0.0.1 setsid epmd -port "$EJC_EPMD_PORT" > "$EJC_DIR/epmd.log" 2>&1 \
        < /dev/null &
    EJC_EPMD_PID=$!
    PIDS+=("$EJC_EPMD_PID")
    for _ in $(seq 50); do epmd -port "$EJC_EPMD_PORT" -names >/dev/null 2>&1 && break; sleep 0.1; done
    epmd -port "$EJC_EPMD_PORT" -names >/dev/null 2>&1 || fail "the private epmd did not start"
    ejc 1 start >/dev/null 2>&1 || fail "ejabberdctl start of node 1 failed"
    ejc 2 start >/dev/null 2>&1 || fail "ejabberdctl start of node 2 failed"
    ejc_ready 1 "$EJC_C2S1" "$EJC_COMP1"
    ejc_ready 2 "$EJC_C2S2" "$EJC_COMP2"
    ejc 2 join_cluster "ejc1-$$@localhost" >/dev/null 2>&1 || fail "node 2 could not join node 1"
    # join_cluster restarted node 2: its listeners close and reopen.
    sleep 1
    ejc_ready 2 "$EJC_C2S2" "$EJC_COMP2"
}

# ejc_down: both nodes and the epmd, by pid (cleanup calls it too).
ejc_down() {
    local n p
    [ -n "$EJC_DIR" ] || return 0
    for n in 1 2; do
        p=$(ejc_pid $n)
        [ -n "$p" ] && kill -TERM "$p" 2>/dev/null
    done
    for n in 1 2; do
        p=$(ejc_pid $n)
        for _ in $(seq 100); do [ -n "$p" ] && kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        [ -n "$p" ] && kill -KILL "$p" 2>/dev/null
    done
    [ -n "$EJC_EPMD_PID" ] && kill -TERM "$EJC_EPMD_PID" 2>/dev/null
    EJC_DIR=
}
