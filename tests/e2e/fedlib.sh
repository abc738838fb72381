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

# fed_spare_addr: a random loopback address (never 127.0.0.x, which the
# beds prefer) whose port 5269 is free now, for an s2s peer the test
# plays itself.  Call it before fed_setup to map a name to it there
# (FED_HOSTS_EXTRA).
fed_spare_addr() {
    local x
    for _ in $(seq 40); do
        x=127.0.$((RANDOM % 250 + 2)).$((RANDOM % 250 + 2))
        port_free_on "$x" 5269 && { echo "$x"; return 0; }
    done
    fail "no loopback address with port 5269 free"
}

# FED_KEEP=DIR: a copy of the scratch directory (both Prosodys' and
# chanstatds' logs and databases) is left in DIR when the test ends.
fed_keep() {
    local rc=$?
    [ -n "${FED_KEEP:-}" ] && rm -rf "$FED_KEEP" && cp -r "$T" "$FED_KEEP"
    cleanup "$rc"
}
trap fed_keep EXIT
