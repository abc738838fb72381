"""XEP-0356 with real ejabberd clients (privilege_ejabberd.test).

argv[1]: "grant" (ejabberd grants status.e.test roster both and presence
managed_entity) or "nogrant" (no mod_privilege); argv[2]: the database.
Channel news (owner bob@e.test, open, display name 'Daily News') exists;
carol becomes a watcher by a row written with sqlite3.

EJ_ROSTER_SET=1 when the server carries out privileged roster sets.
ejabberd before 23.10 answers every one of them with internal-server-error
(its mod_roster looks up its own options for the component's domain), so
no roster push can reach a user there; the channel's status still must.
ejabberd also keeps the stored subscription of an item a privileged set
changes (a new item gets 'none'): the pushed item's subscription is 'to'
where the server honours it, else 'none'.

EJ_OWNER_BY_PRESENCE=1 when the grant came in namespace urn:xmpp:privilege:2,
whose presence permission chanstat trusts to show it the owner: then the
owner is never asked to subscribe.  ejabberd 23.01 speaks namespace 1 and
forwards no unavailable when a client just closes its stream, so there
the owner is asked as without a grant."""
import asyncio
import os
import subprocess
import sys
import time

from xmpptest import Client, run

P = int(os.environ["EJ_C2S_PORT"])
MODE = sys.argv[1]
DB = sys.argv[2]
ROSTER_SET = os.environ.get("EJ_ROSTER_SET") == "1"
OWNER_BY_PRESENCE = os.environ.get("EJ_OWNER_BY_PRESENCE") == "1"
CH = "news@status.e.test"
LIMIT = 2.0
WATCHER = ("INSERT INTO roster (channel, jid, subscription, groups) "
           "VALUES ('news', 'carol@e.test', 'from', 'Feeds')")
NOT_AVAILABLE = ("unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed",
                 "probe", "error")
UNWATCH = "DELETE FROM roster WHERE channel = 'news' AND jid = 'carol@e.test'"


def sql(q):
    subprocess.run(["sqlite3", "-cmd", ".timeout 5000", DB, q], check=True)


def client(jid, password, **kw):
    """A Client that also records roster pushes (iq set) and results."""
    c = Client(jid, password, P, **kw)

    def record(iq):
        c.stanzas.append(iq)
        c.new_stanza.set()
    c.add_event_handler("roster_update", record)
    return c


def push_item(s):
    """The item for the channel in a roster push, or None."""
    if s.name != "iq" or s["type"] != "set":
        return None
    for jid, item in s["roster"]["items"].items():
        if str(jid) == CH:
            return item
    return None


def is_push(s):
    return push_item(s) is not None


def channel_presence(ptype=None, show=None, status=None):
    def pred(s):
        if s.name != "presence" or s["from"].bare != CH:
            return False
        if ptype is None:
            # slixmpp reports an available presence's show as its type.
            if s["type"] in NOT_AVAILABLE:
                return False
        elif s["type"] != ptype:
            return False
        return (show is None or s["show"] == show) and (status is None or s["status"] == status)
    return pred


def subscribe_from_channel(s):
    return s.name == "presence" and s["type"] == "subscribe" and s["from"].bare == CH


async def within(c, pred, what, since, t0):
    """The first stanza matching pred after index since, no later than
    LIMIT seconds after t0 (when the edit was made)."""
    s = await c.wait_for(pred, what, timeout=LIMIT + 1, since=since)
    dt = time.monotonic() - t0
    assert dt <= LIMIT, "%s took %.2f s" % (what, dt)
    print("%s: %.2f s" % (what, dt))
    return s


async def none_until(c, pred, what, since, t0, seconds):
    """Nothing matching pred arrived after index since until t0 + seconds."""
    await asyncio.sleep(max(0.0, t0 + seconds - time.monotonic()))
    for s in c.stanzas[since:]:
        assert not pred(s), "%s: unexpected %s: %s" % (c.boundjid, what, s)
    print("no %s within %.1f s" % (what, seconds))


async def scenario(owner_asked, roster_set):
    """owner_asked: chanstat binds the owner by subscription (today's way)
    rather than by the server's presence permission.  roster_set: the
    watcher row reaches the user's own roster."""
    carol = client("carol@e.test", "carolpw", resource="phone")
    await carol.login()
    # The owner comes online after chanstatd.
    t0 = time.monotonic()
    bob = client("bob@e.test", "bobpw", resource="pc", auto_accept=owner_asked)
    await bob.login()
    if owner_asked:
        # Asked at chanstatd's start (the request was stored while bob was
        # offline) or now; his client approves.
        await bob.wait_for(subscribe_from_channel, "the channel's subscribe to the owner")
        print("owner asked to subscribe: %.2f s after his login started" % (time.monotonic() - t0))
        await asyncio.sleep(0.3)
    bob.send_presence(pshow="away", pstatus="at lunch")
    await asyncio.sleep(0.5)

    m = carol.mark()
    t0 = time.monotonic()
    sql(WATCHER)
    if roster_set:
        s = await within(carol, is_push, "roster push after INSERT", m, t0)
        item = push_item(s)
        assert item["name"] == "Daily News", s
        assert list(item["groups"]) == ["Feeds"], s
        assert item["subscription"] in ("to", "none"), s
        print("pushed item: name %r, groups %r, subscription %s"
              % (item["name"], list(item["groups"]), item["subscription"]))
    await within(carol, channel_presence(show="away", status="at lunch"),
                 "owner's status at the watcher after INSERT", m, t0)
    if not roster_set:
        await none_until(carol, is_push, "roster push after INSERT", m, t0, LIMIT + 0.5)

    # The owner closes his stream without an unavailable (as slixmpp does):
    # the channel must not stay shown online.
    m = carol.mark()
    t0 = time.monotonic()
    bob.disconnect()
    await within(carol, channel_presence("unavailable"),
                 "unavailable after the owner closed his stream", m, t0)
    if not owner_asked:
        for s in bob.stanzas:
            assert not subscribe_from_channel(s), "the owner was asked to subscribe: %s" % s
        print("owner never asked to subscribe")

    m = carol.mark()
    t0 = time.monotonic()
    sql(UNWATCH)
    if roster_set:
        await within(carol, lambda s: is_push(s) and push_item(s)["subscription"] == "remove",
                     "roster push (remove) after DELETE", m, t0)
    else:
        await within(carol, channel_presence("unavailable"), "unavailable after DELETE", m, t0)
        await none_until(carol, is_push, "roster push after DELETE", m, t0, LIMIT + 0.5)
    carol.disconnect()


async def grant():
    await scenario(not OWNER_BY_PRESENCE, ROSTER_SET)


async def nogrant():
    await scenario(True, False)


run({"grant": grant, "nogrant": nogrant}[MODE])
