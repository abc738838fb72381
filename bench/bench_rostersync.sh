#!/bin/bash
# bench_rostersync.sh [USERS] [ROWS_PER_USER]: what a full sync of the
# users' server rosters costs (XEP-0356 roster permission, src/xmpp/uroster.c).
#
# Brings up a private Prosody for a.test (tests/e2e/lib.sh, prosody_start
# with PROSODY_PRIVILEGE: mod_privilege grants status.a.test roster "both"
# and presence "managed_entity"; s2s off, log at info), with USERS
# accounts u1..uUSERS (default 10000).  A chanstat database gets
# CHANNELS channels (default 1000, env ROSTERSYNC_CHANNELS) with display
# names and ROWS_PER_USER (default 10) roster rows per user, subscription
# 'from', each in the group "Bench" and every second one also in
# "Team N", in one transaction while chanstatd is stopped (an import).
# Then:
#   1. chanstatd starts (log level info); Prosody announces the grant and
#      chanstatd reads every user's roster and sets the missing items.
#      Measured from the grant (chanstatd's log line "privilege: a.test
#      grants ...") until pushed_item holds every row: wall time, items/s;
#      from chanstatd's start to that point: the CPU time of Prosody and
#      of chanstatd (/proc/PID/stat); the peak RSS (VmHWM) of both.  Two
#      users' roster files in Prosody's data dir are checked item by item
#      (name, groups, subscription).
#   2. chanstatd is restarted (the stats table emptied first, so what it
#      holds then is the new process's): the second full sync only reads
#      (one iq get per user).  Measured from the grant until stats
#      roster_users_synced reaches USERS (stats are written once a second,
#      so this is up to a second late: the time of the last byte Prosody
#      sent on the component link, from ss(8), is printed as well);
#      roster_items_set and roster_items_removed must stay 0.
# Any warning or error from chanstatd, a stall (no progress for
# ROSTERSYNC_STALL seconds, default 60: twice the iq timeout) or a wrong
# figure fails the run.
#
# Not run by `make check`.  Run from the source tree after building:
#   bench/bench_rostersync.sh 1000
#   top_builddir=_b bench/bench_rostersync.sh 10000 10     (out-of-tree build)
# Needs what scripts/deps.sh installs (Prosody, prosody-modules, sqlite3, a
# built chanstatd), plus lua5.4 (Prosody's) and ss (iproute2).  Everything
# binds to loopback only.  ROSTERSYNC_KEEP=DIR keeps the scratch directory
# (logs, databases, Prosody's data) there.  Exit status 0 when every
# figure was measured and checked.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$here/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir

usage() {
    echo "usage: $0 [USERS] [ROWS_PER_USER]   (defaults 10000 10)" >&2
    exit 2
}

USERS=${1:-10000}
ROWS=${2:-10}
CHANNELS=${ROSTERSYNC_CHANNELS:-1000}
STALL=${ROSTERSYNC_STALL:-60}
[ $# -le 2 ] || usage
for v in "$USERS" "$ROWS" "$CHANNELS" "$STALL"; do
    [ "$v" -gt 0 ] 2>/dev/null || usage
done
[ "$ROWS" -le "$CHANNELS" ] || { echo "ROWS_PER_USER must not exceed $CHANNELS channels" >&2; exit 2; }
ITEMS=$((USERS * ROWS))

. "$top_srcdir/tests/e2e/lib.sh"
need sqlite3
need lua5.4
need ss
[ -x "$CHANSTATD" ] || fail "chanstatd not built at $CHANSTATD"

keep_scratch() {
    if [ -n "${ROSTERSYNC_KEEP:-}" ] && [ -d "$T" ]; then
        mkdir -p "$ROSTERSYNC_KEEP" && cp -r "$T" "$ROSTERSYNC_KEEP/" \
            && echo "scratch directory kept in $ROSTERSYNC_KEEP/$(basename "$T")" >&2
    fi
}
trap 'keep_scratch; cleanup' EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# ticks PID: utime+stime of PID in clock ticks.
ticks() {
    local f
    f=$(cat "/proc/$1/stat") || return 1
    f=${f##*) }
    # Fields after "(comm) ": state is the 1st, utime the 12th, stime the 13th.
    set -- $f
    echo $((${12} + ${13}))
}

echo "roster sync: $USERS users x $ROWS rows = $ITEMS items, $CHANNELS channels"

# ---- Prosody with the grant, and the accounts ----

PROSODY_PRIVILEGE='roster = "both"; presence = "managed_entity"' prosody_start
PROSODY_PID=$(cat "$PROSODY_DIR/prosody.pid") || fail "prosody wrote no pidfile"
ACCOUNTS=$PROSODY_DIR/data/a%2etest/accounts
ROSTERS=$PROSODY_DIR/data/a%2etest/roster

# One account through prosodyctl: its file is the template of the others
# (internal_plain storage, one Lua file per user, same password for all).
t0=$(now)
prosody_register u1 pw
[ -f "$ACCOUNTS/u1.dat" ] || fail "prosodyctl register wrote no $ACCOUNTS/u1.dat"
grep -qF '["password"] = "pw";' "$ACCOUNTS/u1.dat" \
    || fail "unexpected account file format: $(cat "$ACCOUNTS/u1.dat")"
"$PYTHON3" - "$ACCOUNTS" "$USERS" <<'PY' || fail "cannot write the accounts"
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
with open(os.path.join(d, "u1.dat"), "rb") as f:
    body = f.read()
for i in range(2, n + 1):
    with open(os.path.join(d, "u%d.dat" % i), "wb") as f:
        f.write(body)
PY
t1=$(now)
nacc=$(find "$ACCOUNTS" -name 'u*.dat' | wc -l)
[ "$nacc" = "$USERS" ] || fail "$nacc account files, expected $USERS"
printf 'setup: %d accounts in %.2f s (1 by prosodyctl, the rest copies of its file)\n' \
    "$USERS" "$(elapsed "$t0" "$t1")"

# ---- the chanstat database ----

CS_CONF=$T/chanstatd.conf
CS_DB=$T/chanstat.db
CS_LEVEL=info CS_DB=$CS_DB chanstatd_config "$CS_CONF" status.a.test s3cret "$COMP_PORT"
"$CHANSTATD" -c "$CS_CONF" --init-db >/dev/null 2>>"$T/init-db.log" \
    || fail "chanstatd --init-db failed: $(cat "$T/init-db.log")"
t0=$(now)
sqlite3 "$CS_DB" <<SQL || fail "cannot fill the database"
.bail on
BEGIN;
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < $CHANNELS)
INSERT INTO channel (name, display_name) SELECT printf('c%d', i), printf('Channel %d', i) FROM c;
WITH RECURSIVE u(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM u WHERE i < $USERS),
     k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j + 1 < $ROWS)
INSERT INTO roster (channel, jid, subscription, groups)
SELECT printf('c%d', (i * $ROWS + j) % $CHANNELS), printf('u%d@a.test', i), 'from',
       CASE WHEN j % 2 = 0 THEN 'Bench' ELSE 'Bench' || char(10) || printf('Team %d', j % 5) END
FROM u, k;
COMMIT;
SQL
t1=$(now)
nrows=$(sqlite3 "$CS_DB" "SELECT count(*) FROM roster WHERE subscription = 'from'")
[ "$nrows" = "$ITEMS" ] || fail "$nrows roster rows, expected $ITEMS"
printf 'setup: %d channels and %d roster rows in one transaction, %.2f s\n' \
    "$CHANNELS" "$ITEMS" "$(elapsed "$t0" "$t1")"
# The inserts left one change_log entry per row; chanstatd drops them at
# start (doc/schema.md: an import made while it is stopped costs nothing
# at start).  The figures below include that.
echo "setup: $(sqlite3 "$CS_DB" "SELECT count(*) FROM change_log") change_log entries left to chanstatd"

# ---- measuring one sync ----

# measure PHASE T_START PROSODY_TICKS0: waits for the sync chanstatd
# (CS_PID, log CS_LOG) runs and prints its figures.  PHASE 1: until
# pushed_item holds every row; 2: until stats roster_users_synced reaches
# USERS, and checks that no item was set or removed.
measure() {
    "$PYTHON3" - "$1" "$CS_DB" "$CS_LOG" "$CS_PID" "$PROSODY_PID" "$2" "$3" "$USERS" "$ITEMS" \
        "$COMP_PORT" "$STALL" <<'PY'
import datetime, os, re, sqlite3, subprocess, sys, time

(phase, db, log, cs_pid, pr_pid, t_start, pr_ticks0, users, items, port,
 stall) = sys.argv[1:]
phase, users, items, stall = int(phase), int(users), int(items), float(stall)
t_start, pr_ticks0 = float(t_start), int(pr_ticks0)
HZ = os.sysconf("SC_CLK_TCK")
POLL = 0.05
name = "first sync (reads and sets)" if phase == 1 else "second sync (reads only)"


def fail(msg):
    print("FAIL: %s: %s" % (name, msg), file=sys.stderr)
    try:
        with open(log) as f:
            lines = f.readlines()
        print("--- chanstatd log, uroster/privilege lines (last 15) ---", file=sys.stderr)
        for line in [l for l in lines if "uroster:" in l or "privilege:" in l][-15:]:
            sys.stderr.write(line)
        print("--- chanstatd log (last 15 lines) ---", file=sys.stderr)
        for line in lines[-15:]:
            sys.stderr.write(line)
    except OSError:
        pass
    sys.exit(1)


def ticks(pid):
    with open("/proc/%s/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    if rest[0] == "Z":
        return None
    return int(rest[11]) + int(rest[12])


def hwm(pid):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def log_time(pattern):
    """Epoch of the first log line containing pattern, or None."""
    try:
        with open(log) as f:
            for line in f:
                if pattern in line:
                    ts = line.split(" ", 1)[0]
                    dt = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")
                    return dt.replace(tzinfo=datetime.timezone.utc).timestamp()
    except OSError:
        pass
    return None


def link_bytes():
    """Bytes chanstatd received on its component link (tcp_info)."""
    out = subprocess.run(["ss", "-tinH", "state", "established", "( dport = :%s )" % port],
                         capture_output=True, text=True).stdout
    m = re.search(r"bytes_received:(\d+)", out)
    return int(m.group(1)) if m else 0


con = sqlite3.connect(db, timeout=5, isolation_level=None)


def one(sql, *args):
    row = con.execute(sql, args).fetchone()
    return row[0] if row else None


def stat(n):
    v = one("SELECT value FROM stats WHERE name = ?", n)
    return v if v is not None else 0


grant = None
last_progress = time.time()
last_value = None
last_bytes, bytes_t = -1, None
while True:
    t = time.time()
    if ticks(cs_pid) is None:
        fail("chanstatd exited")
    if grant is None:
        grant = log_time("privilege: a.test grants roster")
        if grant is None and t - t_start > 30:
            fail("no grant from Prosody within 30 s of chanstatd's start")
    if phase == 1:
        value = one("SELECT count(*) FROM pushed_item")
        done = value >= items
    else:
        value = stat("roster_users_synced")
        b = link_bytes()
        if b != last_bytes:
            last_bytes, bytes_t = b, t
            last_progress = t
        done = value >= users
    if value != last_value:
        last_value, last_progress = value, t
    if done:
        break
    if t - last_progress > stall:
        what = "pushed_item rows" if phase == 1 else "roster_users_synced"
        fail("stalled: %s at %s for %.0f s" % (what, value, stall))
    time.sleep(POLL)

t_done = time.time()
cs_cpu = ticks(cs_pid) / HZ
pr_cpu = (ticks(pr_pid) - pr_ticks0) / HZ
cs_rss, pr_rss = hwm(cs_pid), hwm(pr_pid)
if grant is None:
    grant = log_time("privilege: a.test grants roster")

# The counters of this process (written once a second).
deadline = time.time() + 5
while time.time() < deadline and (stat("roster_users_synced") < users
                                  or (phase == 1 and stat("roster_items_set") < items)):
    time.sleep(0.1)
if phase == 2:
    time.sleep(2)  # nothing may follow
synced, iset, irem = stat("roster_users_synced"), stat("roster_items_set"), stat("roster_items_removed")
queued = log_time("every user queued for the roster sync")
iq_out = stat("stanzas_out.iq")
pres_out = stat("stanzas_out.presence")
edits = stat("edits_applied")
pushed = one("SELECT count(*) FROM pushed_item")

wall = t_done - grant
print("%s: grant %.3f s after chanstatd's start; every user queued %s"
      % (name, grant - t_start,
         "%.3f s after the grant" % (queued - grant) if queued else "(not logged yet)"))
if phase == 1:
    print("%s: all %d items confirmed %.2f s after the grant: %.0f items/s, %.0f users/s"
          % (name, items, wall, items / wall, users / wall))
else:
    print("%s: roster_users_synced reached %d %.2f s after the grant: %.0f users/s"
          " (stats are written once a second)" % (name, users, wall, users / wall))
    if bytes_t is not None and bytes_t > grant:
        print("%s: last byte from Prosody on the link %.2f s after the grant: %.0f users/s"
              % (name, bytes_t - grant, users / (bytes_t - grant)))
    else:
        print("%s: last byte from Prosody on the link: not measured (ss showed no link)" % name)
span = t_done - t_start
print("%s: CPU from chanstatd's start (%.2f s of wall): chanstatd %.2f s (%.0f%% of one core),"
      " Prosody %.2f s (%.0f%%)" % (name, span, cs_cpu, 100 * cs_cpu / span, pr_cpu,
                                    100 * pr_cpu / span))
per = items if phase == 1 else users
unit = "item" if phase == 1 else "user"
print("%s: CPU per %s: chanstatd %.1f us, Prosody %.1f us"
      % (name, unit, 1e6 * cs_cpu / per, 1e6 * pr_cpu / per))
print("%s: peak RSS chanstatd %d KiB, Prosody %d KiB" % (name, cs_rss, pr_rss))
print("%s: stats roster_users_synced %d, roster_items_set %d, roster_items_removed %d,"
      " stanzas_out.iq %d, stanzas_out.presence %d, edits_applied %d; pushed_item rows %d"
      % (name, synced, iset, irem, iq_out, pres_out, edits, pushed))
bad = []
if synced != users:
    bad.append("roster_users_synced %d, expected %d" % (synced, users))
if pushed != items:
    bad.append("pushed_item holds %d rows, expected %d" % (pushed, items))
if irem != 0:
    bad.append("roster_items_removed %d, expected 0" % irem)
if phase == 1 and iset != items:
    bad.append("roster_items_set %d, expected %d" % (iset, items))
if phase == 2 and iset != 0:
    bad.append("roster_items_set %d in the second sync, expected 0" % iset)
if phase == 2 and iq_out != users:
    bad.append("%d iqs sent in the second sync, expected one get per user (%d)" % (iq_out, users))
if bad:
    fail("; ".join(bad))
PY
}

# check_log LOG: chanstatd's warnings and errors fail the run.
check_log() {
    local bad
    bad=$(grep -E '\] (warning|error): ' "$1" | head -n 20)
    [ -z "$bad" ] || fail "chanstatd logged warnings or errors:
$bad"
}

# check_roster N: Prosody's roster file of uN holds exactly the items its
# rows want (name, groups, subscription 'to').
check_roster() {
    local u=$1 f=$ROSTERS/u$1.dat
    [ -f "$f" ] || fail "no roster file $f"
    lua5.4 - "$f" "$u" "$ROWS" "$CHANNELS" <<'LUA' || fail "roster of u$u@a.test: $(cat "$f")"
local f, u, rows, channels = arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])
local t = assert(dofile(f))
local n, want = 0, {}
for j = 0, rows - 1 do
    local c = (u * rows + j) % channels
    local jid = ("c%d@status.a.test"):format(c)
    local it = t[jid]
    want[jid] = true
    if not it then error(jid .. " missing") end
    if it.name ~= ("Channel %d"):format(c) then error(jid .. ": name " .. tostring(it.name)) end
    if it.subscription ~= "to" then error(jid .. ": subscription " .. tostring(it.subscription)) end
    local g = { Bench = true }
    if j % 2 == 1 then g[("Team %d"):format(j % 5)] = true end
    for k in pairs(g) do if not it.groups[k] then error(jid .. ": no group " .. k) end end
    for k in pairs(it.groups) do if not g[k] then error(jid .. ": extra group " .. k) end end
end
for k in pairs(t) do
    if type(k) == "string" and k ~= "pending" then
        n = n + 1
        if not want[k] then error("unexpected item " .. k) end
    end
end
if n ~= rows then error(("%d items, expected %d"):format(n, rows)) end
LUA
}

# pinger STOPFILE OUT: a real client (u1) pings status.a.test every 100 ms
# until STOPFILE exists, and writes one round trip in ms per line to OUT:
# whether the sync leaves other traffic its turn (through Prosody, which
# the sync keeps busy).
pinger() {
    "$PYTHON3" - "$1" "$2" "$C2S_PORT" <<'PY' &
import asyncio, os, sys, time
import slixmpp
stop, out, port = sys.argv[1], sys.argv[2], int(sys.argv[3])


class C(slixmpp.ClientXMPP):
    pass


async def main():
    c = C("u1@a.test/ping", "pw")
    c.register_plugin("xep_0199")
    ready = asyncio.Event()
    c.add_event_handler("session_start", lambda _: ready.set())
    c.connect(("127.0.0.1", port), force_starttls=False, disable_starttls=True)
    await asyncio.wait_for(ready.wait(), 30)
    with open(out, "w") as f:
        while not os.path.exists(stop):
            t0 = time.monotonic()
            await c["xep_0199"].ping("status.a.test", timeout=30)
            f.write("%.2f\n" % (1000 * (time.monotonic() - t0)))
            f.flush()
            await asyncio.sleep(0.1)
    c.disconnect()

asyncio.get_event_loop().run_until_complete(main())
PY
    PINGER=$!
    PIDS+=("$PINGER")
}

# ping_summary FILE WHAT: count, median and 99th percentile of the pings.
ping_summary() {
    sort -n "$1" | awk -v what="$2" '{ v[NR] = $1 } END {
        if (NR == 0) { print what ": no ping answered"; exit 1 }
        i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
        i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
        printf "%s: %d pings, round trip p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", what, NR, v[i50], v[i99], v[NR] }'
}

# ---- 1: the first sync sets every item ----

CS_LOG=$T/chanstatd-1.log
pt0=$(ticks "$PROSODY_PID")
ts=$(now)
chanstatd_start "$CS_CONF" "$CS_LOG"
wait_log "link: online as status.a.test" 1 20
# Before the first page of work goes out the link is idle for a moment
# only: the baseline is taken after the sync (below).
pinger "$T/ping.stop" "$T/ping-sync.txt"
measure 1 "$ts" "$pt0" || exit 1
touch "$T/ping.stop"
wait "$PINGER" || fail "the pinger failed"
ping_summary "$T/ping-sync.txt" "first sync: pings of u1 to status.a.test during the sync" \
    || fail "no ping answered during the sync"
rm -f "$T/ping.stop"
pinger "$T/ping.stop" "$T/ping-idle.txt"
sleep 3
touch "$T/ping.stop"
wait "$PINGER" || fail "the pinger failed"
ping_summary "$T/ping-idle.txt" "idle after the first sync: pings of u1 to status.a.test" \
    || fail "no ping answered when idle"
check_log "$CS_LOG"
check_roster 1
check_roster "$USERS"
echo "first sync: roster files of u1@a.test and u$USERS@a.test in Prosody's data dir hold their $ROWS items (name, groups, subscription to)"

# ---- 2: restarted, everything in step: one get per user, no set ----

kill -TERM "$CS_PID"
wait "$CS_PID" 2>/dev/null
keep=()
for p in "${PIDS[@]}"; do [ "$p" = "$CS_PID" ] || keep+=("$p"); done
PIDS=("${keep[@]}")
sqlite3 "$CS_DB" "DELETE FROM stats" || fail "cannot empty the stats table"
CS_LOG=$T/chanstatd-2.log
pt0=$(ticks "$PROSODY_PID")
ts=$(now)
chanstatd_start "$CS_CONF" "$CS_LOG"
measure 2 "$ts" "$pt0" || exit 1
check_log "$CS_LOG"
check_roster 1

pw=$(grep -cE $'\t(warn|error)\t' "$PROSODY_DIR/prosody.log")
echo "prosody: $pw warning or error lines in its log"
grep -E $'\t(warn|error)\t' "$PROSODY_DIR/prosody.log" | head -n 5
exit 0
