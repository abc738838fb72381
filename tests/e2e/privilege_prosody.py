"""XEP-0356 with Prosody (roster both, presence managed_entity): roster
rows edited with sqlite3 reach the users' own rosters within 2 seconds, the
items users made themselves are left alone, owners' presence reaches the
watchers without any subscription to the owner, a user who removes a
channel from her roster unsubscribes, and rows written while chanstatd was
down are in the rosters after it starts.  argv[1]: the database."""
import asyncio
import os
import subprocess
import sys
import time

from xmpptest import Client, Daemons, run

P = int(os.environ["C2S_PORT"])
DB = sys.argv[1]
NEWS = "news@status.a.test"
DESK = "desk@status.a.test"
SPORTS = "sports@status.a.test"
DAVE = "dave@a.test"
LIMIT = 2.0
SYNC_LIMIT = 5.0


def sql(q):
    subprocess.run(["sqlite3", "-cmd", ".timeout 5000", DB, q], check=True)


def sql_value(q):
    return subprocess.run(["sqlite3", "-cmd", ".timeout 5000", DB, q], check=True, capture_output=True,
                          text=True).stdout.strip()


class RosterClient(Client):
    """A Client that also records roster pushes and results (iq stanzas
    in stanzas) and keeps the roster as the server reported it: items,
    jid -> {name, subscription, groups, ask}."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.items = {}
        self.add_event_handler("roster_update", self._roster)

    def _roster(self, iq):
        for jid, item in iq["roster"]["items"].items():
            if item["subscription"] == "remove":
                self.items.pop(str(jid), None)
            else:
                self.items[str(jid)] = dict(item)
        self._record(iq)


def item_of(s, jid):
    """The roster item for jid in s when s is a roster push, else None."""
    if s.name != "iq" or s["type"] != "set":
        return None
    for k, v in s["roster"]["items"].items():
        if str(k) == jid:
            return v
    return None


def push(jid, pred=lambda it: True):
    return lambda s: item_of(s, jid) is not None and pred(item_of(s, jid))


def check_push(client, s, jid, name, groups, subscription):
    it = item_of(s, jid)
    # A push comes from the user's own account (Prosody sets no 'from').
    assert s["from"].bare in ("", client.boundjid.bare), "push from %s: %s" % (s["from"], s)
    assert it["name"] == name, "name %r, wanted %r: %s" % (it["name"], name, s)
    assert sorted(it["groups"]) == sorted(groups), "groups %r, wanted %r: %s" % (
        it["groups"], groups, s)
    assert it["subscription"] == subscription, "subscription %r, wanted %r: %s" % (
        it["subscription"], subscription, s)


async def within(client, pred, what, since, limit=LIMIT, t0=None):
    t0 = time.monotonic() if t0 is None else t0
    s = await client.wait_for(pred, what, timeout=limit + 1 - (time.monotonic() - t0),
                              since=since)
    dt = time.monotonic() - t0
    assert dt <= limit, "%s took %.2f s" % (what, dt)
    print("%s: %.2f s" % (what, dt))
    return s


def is_presence(frm, ptype=None, show=None, status=None):
    def pred(s):
        if s.name != "presence" or s["from"].bare != frm:
            return False
        t = s["type"]
        if ptype is None and t in ("unavailable", "subscribe", "subscribed", "unsubscribe",
                                   "unsubscribed", "probe", "error"):
            return False
        if ptype is not None and t != ptype:
            return False
        return (show is None or s["show"] == show) and (status is None or s["status"] == status)
    return pred


def no_subscribe(client, channels):
    for s in client.stanzas:
        if s.name == "presence" and s["type"] == "subscribe" and s["from"].bare in channels:
            raise AssertionError("%s was asked to subscribe (binding not skipped): %s" % (
                client.boundjid, s))


async def roster_holds(client, want, what, t0, limit):
    """Until client's roster (as the server reports it) holds want: jid ->
    (name, groups, subscription)."""
    def ok():
        for jid, (name, groups, sub) in want.items():
            it = client.items.get(jid)
            if (it is None or it["name"] != name or sorted(it["groups"]) != sorted(groups)
                    or it["subscription"] != sub):
                return False
        return True
    while not ok():
        if time.monotonic() - t0 > limit:
            raise AssertionError("%s: %s: roster %r, wanted %r" % (
                client.boundjid, what, client.items, want))
        await asyncio.sleep(0.05)
    print("%s: %.2f s" % (what, time.monotonic() - t0))


async def main():
    d = Daemons()
    bob = RosterClient("bob@a.test", "bobpw", P, resource="pc")
    await bob.login()
    bob.send_presence(pstatus="reading")
    alice = RosterClient("alice@a.test", "alicepw", P, resource="pc")
    await alice.login()
    carol = RosterClient("carol@a.test", "carolpw", P, resource="phone")
    await carol.login()

    # carol's own items, made before chanstat has anything of hers: a
    # contact, and a channel she subscribes to the ordinary way.
    await carol.update_roster(DAVE, name="Dave D", groups=["Friends"])
    await carol.update_roster(DESK, name="My Desk", groups=["Mine"])
    carol.send_presence(pto=DESK, ptype="subscribe")
    await carol.expect_presence(DESK, "subscribed")
    await roster_holds(carol, {DESK: ("My Desk", ["Mine"], "to")},
                       "carol's own subscription to desk", time.monotonic(), 5)
    own = carol.mark()

    # A watcher row written by hand: the item, then the channel's status.
    m = carol.mark()
    t0 = time.monotonic()
    sql("INSERT INTO roster (channel, jid, subscription, groups)"
        " VALUES ('news', 'carol@a.test', 'from', 'Feeds')")
    s = await within(carol, push(NEWS, lambda it: it["subscription"] == "to"),
                     "roster push after INSERT", m, t0=t0)
    check_push(carol, s, NEWS, "Daily News", ["Feeds"], "to")
    p = await within(carol, is_presence(NEWS), "channel status after the push", m)
    assert p["status"] == "reading", p
    it = carol.client_roster[NEWS]
    assert it["name"] == "Daily News" and it["groups"] == ["Feeds"] and it["to"], it
    assert carol.items.get(NEWS, {}).get("subscription") == "to", carol.items

    # Groups and the display name follow the database.
    m = carol.mark()
    t0 = time.monotonic()
    sql("UPDATE roster SET groups = 'Reading' || char(10) || 'Feeds'"
        " WHERE channel = 'news' AND jid = 'carol@a.test'")
    s = await within(carol, push(NEWS, lambda it: "Reading" in it["groups"]),
                     "roster push after UPDATE of groups", m, t0=t0)
    check_push(carol, s, NEWS, "Daily News", ["Reading", "Feeds"], "to")
    m = carol.mark()
    t0 = time.monotonic()
    sql("UPDATE channel SET display_name = 'News Today' WHERE name = 'news'")
    s = await within(carol, push(NEWS, lambda it: it["name"] == "News Today"),
                     "roster push after UPDATE of display_name", m, t0=t0)
    check_push(carol, s, NEWS, "News Today", ["Reading", "Feeds"], "to")

    # The owner's presence arrives through the presence permission.
    m = carol.mark()
    bob.send_presence(pshow="away", pstatus="at lunch")
    await within(carol, is_presence(NEWS, show="away", status="at lunch"),
                 "owner away reaches the watcher", m)
    m = carol.mark()
    bob.disconnect()
    await within(carol, is_presence(NEWS, "unavailable"), "owner offline reaches the watcher", m)
    no_subscribe(bob, (NEWS,))

    # The row goes: so does the item.
    m = carol.mark()
    t0 = time.monotonic()
    sql("DELETE FROM roster WHERE channel = 'news' AND jid = 'carol@a.test'")
    s = await within(carol, push(NEWS, lambda it: it["subscription"] == "remove"),
                     "roster push remove after DELETE", m, t0=t0)
    assert NEWS not in carol.items, carol.items

    # carol removes the channel from her roster herself: that is her
    # unsubscribe, and the item is not put back.
    m = carol.mark()
    t0 = time.monotonic()
    sql("INSERT INTO roster (channel, jid, subscription, groups)"
        " VALUES ('news', 'carol@a.test', 'from', 'Feeds')")
    await within(carol, push(NEWS, lambda it: it["subscription"] == "to"),
                 "roster push after the second INSERT", m, t0=t0)
    await asyncio.sleep(0.5)
    m = carol.mark()
    t0 = time.monotonic()
    await carol.update_roster(NEWS, subscription="remove")
    q = "SELECT subscription FROM roster WHERE channel = 'news' AND jid = 'carol@a.test'"
    while sql_value(q) in ("from", "both"):
        assert time.monotonic() - t0 <= LIMIT, "row still %r after carol removed the item" % (
            sql_value(q))
        await asyncio.sleep(0.05)
    print("row stops making carol a watcher: %.2f s (now %r)" % (time.monotonic() - t0,
                                                                 sql_value(q)))
    await asyncio.sleep(3)
    for s in carol.stanzas[m:]:
        it = item_of(s, NEWS)
        assert it is None or it["subscription"] == "remove", "item put back: %s" % s
    assert NEWS not in carol.items, carol.items
    print("no push re-adding the item within 3 s")

    # carol's own items were never touched.
    for s in carol.stanzas[own:]:
        for jid, name, groups in ((DESK, "My Desk", ["Mine"]), (DAVE, "Dave D", ["Friends"])):
            it = item_of(s, jid)
            assert it is None or (it["name"] == name and it["groups"] == groups
                                  and it["subscription"] != "remove"), "own item touched: %s" % s
    other = RosterClient("carol@a.test", "carolpw", P, resource="tablet")
    await other.login()
    assert other.items.get(DESK, {}).get("name") == "My Desk", other.items
    assert other.items[DESK]["groups"] == ["Mine"], other.items
    assert other.items.get(DAVE, {}).get("name") == "Dave D", other.items
    assert other.items[DAVE]["groups"] == ["Friends"], other.items
    assert NEWS not in other.items, other.items
    print("carol's own items kept")

    # Rows written while chanstatd is down are in the rosters after it
    # starts (the users are offline meanwhile).
    await d.stop_chanstatd()
    sql("INSERT INTO roster (channel, jid, subscription, groups) VALUES"
        " ('news', 'dave@a.test', 'from', 'Feeds'), ('sports', 'dave@a.test', 'from', NULL),"
        " ('news', 'erin@a.test', 'both', 'A' || char(10) || 'B'),"
        " ('sports', 'erin@a.test', 'from', 'Games'),"
        " ('news', 'frank@a.test', 'from', NULL), ('sports', 'frank@a.test', 'both', 'Games')")
    t0 = time.monotonic()
    await d.start_chanstatd()
    want = {
        "dave": {NEWS: ("News Today", ["Feeds"], "to"), SPORTS: ("sports", [], "to")},
        "erin": {NEWS: ("News Today", ["A", "B"], "both"), SPORTS: ("sports", ["Games"], "to")},
        "frank": {NEWS: ("News Today", [], "to"), SPORTS: ("sports", ["Games"], "both")},
    }
    for u, items in want.items():
        c = RosterClient(u + "@a.test", u + "pw", P, resource="r")
        await c.login(send_presence=False)
        await roster_holds(c, items, "initial sync in %s's roster" % u, t0, SYNC_LIMIT)

    # The owners were never asked to subscribe: bob logs in again (a
    # request stored meanwhile would come now), alice stayed online.
    bob = RosterClient("bob@a.test", "bobpw", P, resource="pc")
    await bob.login()
    await asyncio.sleep(1.5)
    no_subscribe(bob, (NEWS,))
    no_subscribe(alice, (DESK, SPORTS))
    print("no subscribe to the owners")


run(main)
