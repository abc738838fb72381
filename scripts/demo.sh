#!/bin/bash
# The demo: builds chanstat, starts a private Prosody for the domain
# "localhost" (c2s on 127.0.0.1:5222, component status.localhost on
# 127.0.0.1:5347), registers demo accounts, creates a demo database and
# runs chanstatd in the foreground.  Ctrl-C stops everything.
# DEMO_SMOKE=1 runs a short self-check instead of waiting for you.
set -eu
cd "$(dirname "$0")/.."
top=$PWD
run=$top/demo-run
bash scripts/deps.sh

# Out-of-tree build, so the test command's builds stay independent.
build=$top/_build-demo
[ -x configure ] || ./autogen.sh >/dev/null
mkdir -p "$build"
(cd "$build" && { [ -f Makefile ] || ../configure -q; } && make -j2 -s &&
    make -s tests/e2e/xmpp_query)
chanstatd=$build/src/chanstatd

for port in 5222 5347; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "demo: port $port is in use on 127.0.0.1; stop what listens there first" >&2
        exit 1
    fi
done

rm -rf "$run"
mkdir -p "$run/data" "$run/certs"
printf 'nameserver 127.0.0.1\n' > "$run/resolv.conf"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -keyout "$run/certs/localhost.key" \
    -out "$run/certs/localhost.crt" >/dev/null 2>&1
cat > "$run/prosody.cfg.lua" <<CFG
-- Demo Prosody: domain localhost, chanstat as component status.localhost.
local base = "$run"
run_as_root = true
pidfile = base .. "/prosody.pid"
data_path = base .. "/data"
certificates = base .. "/certs"
log = { info = base .. "/prosody.log" }
unbound = { resolvconf = base .. "/resolv.conf"; hoststxt = false }
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "presence"; "message"; "iq"; "posix"; "offline"; "privilege" }
modules_disabled = { "s2s" }
-- mod_privilege (prosody-modules): chanstat may write the users' rosters.
plugin_paths = { "/usr/lib/prosody/modules" }
authentication = "internal_plain"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
c2s_ports = { 5222 }
c2s_interfaces = { "127.0.0.1" }
s2s_ports = { }
component_ports = { 5347 }
component_interfaces = { "127.0.0.1" }
http_ports = { }
https_ports = { }
VirtualHost "localhost"
    ssl = { key = base .. "/certs/localhost.key"; certificate = base .. "/certs/localhost.crt" }
    privileged_entities = { ["status.localhost"] = { roster = "both" } }
Component "status.localhost"
    component_secret = "demo-secret"
    modules_enabled = { "privilege" }
CFG
cat > "$run/chanstat.conf" <<CFG
[component]
domain = status.localhost
secret = demo-secret
server = 127.0.0.1
port = 5347
[storage]
database = $run/chanstat.db
[log]
level = info
CFG

prosody --config "$run/prosody.cfg.lua" -D
stop_prosody() {
    [ -s "$run/prosody.pid" ] && kill "$(cat "$run/prosody.pid")" 2>/dev/null || true
}
trap stop_prosody EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/5222) 2>/dev/null && break; sleep 0.05; done
prosodyctl --config "$run/prosody.cfg.lua" register alice localhost alicepw
prosodyctl --config "$run/prosody.cfg.lua" register bob localhost bobpw

"$chanstatd" -c "$run/chanstat.conf" --init-db
sqlite3 "$run/chanstat.db" <<'SQL'
INSERT INTO channel (name, owner, policy, display_name) VALUES
    ('alice', 'alice@localhost', 'open', 'Alice'),
    ('desk', 'bob@localhost', 'approve', 'Front desk'),
    ('hall', 'bob@localhost', 'closed', 'Main hall');
SQL
ctl="$build/src/chanstatctl -c $run/chanstat.conf"
step6="sqlite3 -cmd '.timeout 5000' $run/chanstat.db \"INSERT INTO roster (channel, jid, subscription, groups) VALUES ('hall', 'alice@localhost', 'from', 'Work')\""

cat <<TXT

  chanstat demo is running.

  XMPP accounts (server 127.0.0.1, port 5222; plain login on loopback is
  allowed, STARTTLS is offered with a self-signed certificate: accept it
  when the client asks, e.g. Gajim's "untrusted certificate" dialog, Dino's
  or Profanity's "/tls allow"; or turn TLS off for this account):
      alice@localhost   password alicepw   (owner of channel alice@status.localhost)
      bob@localhost     password bobpw     (owner of channels desk@ and hall@status.localhost)

  Try, in any XMPP client (Gajim, Dino, Profanity, ...):
    1. Log in as alice@localhost: alice@status.localhost asks to see your
       presence.  Accept: that is how the channel learns the status it
       shows its watchers (an owner is asked by each of their channels,
       once, at their first login).
    2. Log in as bob@localhost: desk@status.localhost and hall@status.localhost
       ask the same, for the same reason; accept both.  Add the contact
       alice@status.localhost: it is approved at once (open channel) and
       shows Alice's status; change Alice's status (away, busy, offline)
       and watch bob's view follow.
    3. As alice, add desk@status.localhost: bob is asked (approve policy),
       by the address alice\\40localhost@status.localhost, and his answer
       decides.  If alice later removes desk and asks again, bob is asked
       again.  To revoke her, bob runs the ad-hoc command "Revoke watchers"
       on desk@status.localhost (Gajim: Execute command; Profanity:
       /cmd exec urn:chanstat:cmd:revoke desk@status.localhost).
    4. As bob, send a message to alice@status.localhost: Alice gets it from
       bob\\40localhost@status.localhost; her reply reaches bob from
       alice@status.localhost.  Log Alice out and write again: the messages
       wait in chanstat and arrive, stamped, when she logs back in.
    5. Service discovery on status.localhost (Gajim: Accounts > Discover
       services; Profanity: /disco items status.localhost) lists the channels
       anyone may ask for (alice and desk; hall is closed) by their display
       names; ping it (/ping status.localhost) and ask its software
       version (/software status.localhost/x: Profanity wants a full JID).
    6. Prosody lets chanstat write its users' rosters (XEP-0356): while
       alice is logged in, make her a watcher of the closed channel hall by
       hand,
         $step6
       and "Main hall" appears in her contact list, in the group Work, with
       bob's status.  Deleting the row removes it again.  A channel a user
       added herself keeps the name her client gave it: display names reach
       contact lists through this roster sync, and clients that show a
       contact's vCard or disco name show it there.
  Admin:  $ctl channel list
          $ctl subscriptions desk
          (chanstatctl wants the configuration file, $run/chanstat.conf,
          which names the database $run/chanstat.db)

  Ctrl-C stops chanstatd and Prosody.

TXT

if [ "${DEMO_SMOKE:-}" = 1 ]; then
    "$chanstatd" -c "$run/chanstat.conf" 2> "$run/chanstatd.log" &
    cs=$!
    for _ in $(seq 100); do grep -q "link: online" "$run/chanstatd.log" && break; sleep 0.05; done
    for _ in $(seq 100); do grep -q "privilege: localhost grants roster both" "$run/chanstatd.log" && break; sleep 0.05; done
    grep "privilege: " "$run/chanstatd.log" || { echo "demo: Prosody granted chanstat nothing" >&2; exit 1; }
    # What the walk-through tells the reader to run, as printed.
    rc=0
    smoke() { echo "demo smoke: $*" >&2; rc=1; }
    q() { "$build/tests/e2e/xmpp_query" bob@localhost bobpw 5222 "$1" || true; }
    r=$(q "<iq type='get' to='status.localhost/x' id='v1'><query xmlns='jabber:iq:version'/></iq>")
    echo "$r" | grep -q '<name>chanstat</name>' || smoke "no version at a full JID: $r"
    r=$(q "<iq type='get' to='status.localhost' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
    echo "$r" | grep -q 'type="result"' || smoke "no ping answer: $r"
    r=$(q "<iq type='get' to='status.localhost' id='i1'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
    { echo "$r" | grep -q 'name="Front desk"' && echo "$r" | grep -q 'name="Alice"' &&
        ! echo "$r" | grep -q 'hall@'; } || smoke "the directory is not alice and desk: $r"
    $ctl channel list | grep -q '^hall' || smoke "'$ctl channel list' does not list hall"
    $ctl subscriptions desk >/dev/null || smoke "'$ctl subscriptions desk' failed"
    eval "$step6" || smoke "step 6's command failed"
    [ "$($ctl --json subscriptions hall | grep -c alice@localhost)" -ge 1 ] ||
        smoke "step 6 did not make alice a watcher of hall"
    err=$("$build/src/chanstatctl" -c "$run/chanstat.db" channel list 2>&1) || true
    echo "$err" | grep -q "is an SQLite database, not a configuration file" ||
        smoke "chanstatctl given the database: $err"
    kill -TERM "$cs"
    wait "$cs" || rc=1
    exit $rc
fi
"$chanstatd" -c "$run/chanstat.conf" || true
