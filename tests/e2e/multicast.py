"""Status fan-out through the server's XEP-0033 service, with real clients
(multicast_prosody.test, multicast_ejabberd.test).

Environment: MC_DOMAIN (the users' domain), MC_PORT (its c2s port),
MC_SERVICE (the multicast service's JID), MC_LIMIT (the limit it shows at
first), MC_LOWER (the limit after MC_LOWER_CMD, a shell command that
lowers it and has the server reload), CS_CONF (chanstatd's config, with
"multicast = off" at first), CHANSTATD, CHANSTATCTL, CS_LOG, CS_PID,
E2E_PIDFILE.

Channel news (owner bob, open) has watchers w1..w5 (real clients; w1 with
two resources) and x1..x30 (rows only, never online), so one change is
several batches.  Steps:
  1. multicast off: every client gets bob's status once; its stanza is
     kept;
  2. multicast auto (chanstatd restarted): the service is found with its
     limit; a change reaches every client exactly once, through batches
     (counters), and each client's stanza has exactly the attributes and
     children of step 1's (ids differ, each stanza has one);
  3. resync after a reconnect: chanstatd killed, bob leaves meanwhile,
     chanstatd back: every client is told 'unavailable' once, through
     batches;
  4. the service's limit lowered: the next change's batches are refused,
     every client still gets it exactly once (one stanza each), the
     service is asked again and the change after that goes in batches of
     the new limit."""
import asyncio
import datetime
import json
import math
import os
import re
import subprocess
import time

from xmpptest import Client, Daemons, run

D = os.environ["MC_DOMAIN"]
P = int(os.environ["MC_PORT"])
SERVICE = os.environ["MC_SERVICE"]
LIMIT = int(os.environ["MC_LIMIT"])
LOWER = int(os.environ["MC_LOWER"])
CH = "news@status." + D
WATCHERS = ["w%d" % i for i in range(1, 6)]
ROWS = 30
BATCHABLE = len(WATCHERS) + ROWS
SETTLE = 1.0


def stats(after=0):
    """The daemon's counters (chanstatctl --json stats); {} unless all
    were written after wall time `after` (once a second, stamped in whole
    seconds): a restarted daemon counts from 0."""
    out = subprocess.run([os.environ["CHANSTATCTL"], "-c", os.environ["CS_CONF"], "--json",
                          "stats"], check=True, capture_output=True, text=True).stdout
    rows = json.loads(out)["stats"]
    if not rows or min(from_utc(r["updated"]) for r in rows) < math.floor(after) + 1:
        return {}
    return {r["name"]: r["value"] for r in rows}


def from_utc(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


async def stat_at_least(name, want, after=0, timeout=5):
    """Waits until counter name, written after wall time `after`, reaches
    want."""
    deadline = time.monotonic() + timeout
    while True:
        v = stats(after).get(name, -1)
        if v >= want:
            return v
        assert time.monotonic() < deadline, "%s is %d, never reached %d" % (name, v, want)
        await asyncio.sleep(0.2)


def from_channel(s, ptype=None, status=None):
    if s.name != "presence" or s["from"].bare != CH:
        return False
    if ptype == "unavailable":
        return s["type"] == "unavailable"
    if s["type"] in ("unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed",
                     "probe", "error"):
        return False
    return status is None or s["status"] == status


async def each_once(clients, what, marks, **kw):
    """Every client got exactly one presence from the channel matching kw
    since its mark; returns them."""
    got = []
    for c, m in zip(clients, marks):
        await c.wait_for(lambda s: from_channel(s, **kw), what, since=m)
    await asyncio.sleep(SETTLE)
    for c, m in zip(clients, marks):
        n = [s for s in c.stanzas[m:] if from_channel(s, **kw)]
        assert len(n) == 1, "%s got %s %d times: %s" % (c.boundjid, what, len(n),
                                                         [str(s) for s in n])
        got.append(n[0])
    return got


def shape(s):
    """What a client sees of the stanza, its id's value and the status
    text left out; with the id's presence and its 'fo' form kept."""
    x = str(s)
    assert re.search(r" id=\"fo[0-9a-f]+\"", x), "no fan-out id: %s" % x
    assert "jabber.org/protocol/address" not in x, "addresses left on: %s" % x
    x = re.sub(r" id=\"fo[0-9a-f]+\"", " id=\"ID\"", x)
    return re.sub(r"<status>[^<]*</status>", "<status/>", x)


def set_multicast(value):
    conf = os.environ["CS_CONF"]
    with open(conf) as f:
        text = f.read()
    text = re.sub(r"(?m)^multicast = \w+$", "multicast = " + value, text)
    with open(conf, "w") as f:
        f.write(text)


async def main():
    d = Daemons()
    bob = Client("bob@" + D, "bobpw", P, auto_accept=True)
    clients = [Client("%s@%s" % (w, D), w + "pw", P, resource="r1") for w in WATCHERS]
    clients.append(Client("w1@" + D, "w1pw", P, resource="r2"))
    for c in clients:
        await c.login()
    await bob.login()

    # 1. One stanza per watcher.
    marks = [c.mark() for c in clients]
    bob.send_presence(pshow="away", pstatus="one")
    before = await each_once(clients, "status one", marks, status="one")
    assert (await stat_at_least("multicast_batches", 0, time.time())) == 0

    # 2. Batches.
    set_multicast("auto")
    await d.stop_chanstatd()
    found = d.log_count("multicast through %s, up to %d watchers" % (SERVICE, LIMIT))
    await d.start_chanstatd()
    await d.wait_log("multicast through %s, up to %d watchers" % (SERVICE, LIMIT), found + 1)
    await asyncio.sleep(3)  # the restart's own fan-out and resync are over
    b0 = await stat_at_least("multicast_batches", 0, time.time())
    marks = [c.mark() for c in clients]
    bob.send_presence(pshow="dnd", pstatus="two")
    after = await each_once(clients, "status two", marks, status="two")
    want = (BATCHABLE + LIMIT - 1) // LIMIT
    b1 = await stat_at_least("multicast_batches", b0 + want, time.time())
    assert b1 == b0 + want, "%d batches for one change, not %d" % (b1 - b0, want)
    for x, y in zip(before, after):
        sx, sy = shape(x), shape(y).replace("<show>dnd</show>", "<show>away</show>")
        assert sx == sy, "multicast changed what a client sees:\n  %s\n  %s" % (sx, sy)

    # 3. Resync after a reconnect.
    await d.stop_chanstatd(9)
    bob.disconnect()
    await asyncio.sleep(1)
    marks = [c.mark() for c in clients]
    restart = time.time()
    await d.start_chanstatd()
    await each_once(clients, "unavailable after the resync", marks, ptype="unavailable")
    await stat_at_least("multicast_batches", want, restart)
    assert stats(restart).get("multicast_fallbacks", -1) == 0

    # 4. The limit lowered at the server.
    bob = Client("bob@" + D, "bobpw", P, auto_accept=True)
    marks = [c.mark() for c in clients]
    await bob.login()
    bob.send_presence(pshow="away", pstatus="three")
    await each_once(clients, "status three", marks, status="three")
    subprocess.run(os.environ["MC_LOWER_CMD"], shell=True, check=True)
    await asyncio.sleep(1)
    refused = d.log_count("refused by " + SERVICE)
    relearnt = d.log_count("multicast through %s, up to %d watchers" % (SERVICE, LOWER))
    marks = [c.mark() for c in clients]
    bob.send_presence(pshow="xa", pstatus="four")
    await each_once(clients, "status four", marks, status="four")
    assert d.log_count("refused by " + SERVICE) > refused, "no batch was refused"
    await d.wait_log("multicast through %s, up to %d watchers" % (SERVICE, LOWER), relearnt + 1)
    await stat_at_least("multicast_refused", 1, restart)
    await stat_at_least("multicast_fallbacks", 1, restart)
    b0 = await stat_at_least("multicast_batches", 0, time.time())
    marks = [c.mark() for c in clients]
    bob.send_presence(pshow="chat", pstatus="five")
    await each_once(clients, "status five", marks, status="five")
    want = (BATCHABLE + LOWER - 1) // LOWER
    b1 = await stat_at_least("multicast_batches", b0 + want, time.time())
    assert b1 == b0 + want, "%d batches of %d, not %d" % (b1 - b0, LOWER, want)
    for c in clients + [bob]:
        c.disconnect()


run(main)
