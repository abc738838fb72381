# clusterlib.sh - one Prosody for a.test with a cluster of chanstatd
# processes: the front status.a.test and the homes h1.status.a.test and
# h2.status.a.test, each its own component (own secret, database, log).
# Sourced after lib.sh.  Channels are added at their homes with
# chanstatctl, pinned with `chanstatctl placement set` at the front.

CL_HOMES="h1.status.a.test h2.status.a.test"

# cluster_conf NAME DOMAIN ROLE-LINES: $T/NAME.conf for one member.
cluster_conf() {
    CS_DB=$T/$1.db CS_EXTRA_INI=$'[federation]\non_error_retry_time = 2\nrequest_timeout = 5\nlinger = 1\n'"$3${CL_EXTRA_INI:+$'\n'$CL_EXTRA_INI}" \
        chanstatd_config "$T/$1.conf" "$2" "secret-$1" "$COMP_PORT"
    "$CHANSTATD" -c "$T/$1.conf" --init-db >/dev/null 2>>"$T/$1.log" || fail "init-db of $1"
}

# cluster_start NAME: starts one member, logging to $T/NAME.log, and waits
# for its link; its pid goes to CL_PID_NAME.
cluster_start() {
    local n=$1 d
    case $n in front) d=status.a.test ;; *) d=$n.status.a.test ;; esac
    local before
    before=$(count_log "link: online as $d" "$T/$n.log")
    "$CHANSTATD" -c "$T/$n.conf" 2>>"$T/$n.log" &
    PIDS+=($!)
    printf -v "CL_PID_$n" '%s' "$!"
    wait_log "link: online as $d" $((before + 1)) 20 "$T/$n.log"
}

# cluster_setup: Prosody with the three components, users, configs, and
# the databases initialised (nothing started).
cluster_setup() {
    PROSODY_PLUGIN_PATHS= PROSODY_HOST_MODULES= PROSODY_HOST_EXTRA= PROSODY_OFFLINE= \
        PROSODY_LOG_LEVEL= PROSODY_CONF_EXTRA='Component "h1.status.a.test"
    component_secret = "secret-h1"
Component "h2.status.a.test"
    component_secret = "secret-h2"' prosody_start_with secret-front
    local u
    for u in alice bob carol dave erin; do prosody_register "$u" "${u}pw"; done
    cluster_conf front status.a.test $'[cluster]\nrole = front\nhomes = h1.status.a.test, h2.status.a.test\nhome_check = 2'
    cluster_conf h1 h1.status.a.test $'[cluster]\nrole = home\nfront = status.a.test'
    cluster_conf h2 h2.status.a.test $'[cluster]\nrole = home\nfront = status.a.test'
    CS_LOG=$T/front.log
}

# cluster_fail_logs: the tails of every member's log, for a failure.
cluster_fail_logs() {
    local n
    [ -n "${KEEP_LOGS:-}" ] && mkdir -p "$KEEP_LOGS" && cp "$T"/*.log "$KEEP_LOGS"/
    for n in front h1 h2; do
        echo "--- $n log (tail) ---" >&2
        tail -n 30 "$T/$n.log" >&2
    done
}
