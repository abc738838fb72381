# fedlib.sh - helpers of the federation tests (fed_*.test), on top of the
# two-domain bed of lib.sh (source lib.sh first).

# fed_accounts DOMAIN N: users w1..wN@DOMAIN (password wIpw) written
# straight into Prosody's internal_plain store (prosodyctl takes a Lua
# start-up per user); works while the instance runs, as Prosody reads an
# account when the user logs in.
fed_accounts() {
    local x
    case $1 in a.test) x=A ;; b.test) x=B ;; *) fail "no federated instance serves $1" ;; esac
    "$PYTHON3" - "$FED_DIR/$x/data/${1//./%2e}/accounts" "$2" <<'PY' || fail "cannot write accounts"
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
for i in range(1, n + 1):
    with open(os.path.join(d, "w%d.dat" % i), "w") as f:
        f.write('return {\n\t["password"] = "w%dpw";\n};\n' % i)
PY
}

# fed_spare_addr: a loopback address, neither A_ADDR nor B_ADDR, whose port
# 5269 is free (for a silent s2s peer the test runs itself).
fed_spare_addr() {
    local x
    for _ in $(seq 40); do
        x=127.0.$((RANDOM % 250 + 2)).$((RANDOM % 250 + 2))
        [ "$x" = "$A_ADDR" ] || [ "$x" = "$B_ADDR" ] && continue
        port_free_on "$x" 5269 && { echo "$x"; return 0; }
    done
    fail "no loopback address with port 5269 free"
}

# fed_hosts_add ADDR NAME...: more names in the bed's private hosts file.
# Prosody reads the file when it starts: restart the instances that must
# resolve them (fed_prosody_restart).
fed_hosts_add() {
    echo "$*" >> "$FED_DIR/hosts"
}

# fed_prosody_restart A|B: stops and starts one instance on its ports,
# with its config as it is now (re-exports A_PID or B_PID).
fed_prosody_restart() {
    local addr c2s comp
    case $1 in
    A) addr=$A_ADDR c2s=$A_C2S_PORT comp=$A_COMP_PORT ;;
    B) addr=$B_ADDR c2s=$B_C2S_PORT comp=$B_COMP_PORT ;;
    *) fail "no federated instance $1" ;;
    esac
    fed_prosody_down "$1"
    # Its s2s port is free again once the listener closed.
    for _ in $(seq 100); do port_free_on "$addr" 5269 && break; sleep 0.05; done
    fed_prosody_up "$1" "$addr" "$c2s" "$comp" || fail "prosody $1 did not come back (a port was taken)"
    export A_PID B_PID
}

# FED_KEEP=DIR: a copy of the scratch directory (both Prosodys' and
# chanstatds' logs and databases) is left in DIR when the test ends.
fed_keep() {
    [ -n "${FED_KEEP:-}" ] && rm -rf "$FED_KEEP" && cp -r "$T" "$FED_KEEP"
    cleanup
}
trap fed_keep EXIT
