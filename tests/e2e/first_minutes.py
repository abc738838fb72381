"""The first five minutes with an ordinary client: the domain answers at a
full JID as at the domain; the channel directory is browsed page by page
over 10,000 channels; under the approve policy the owner is asked again
after a cancel, a denial and a revocation (by the owner's client and by
the revoke command); and an owner's presence change costs one stanza at
the server, not one per approved watcher."""
import asyncio
import os
import sqlite3
import xml.etree.ElementTree as ET

from slixmpp.exceptions import IqError
from xmpptest import Client, complete_command, run

P = int(os.environ["C2S_PORT"])
USERS = os.environ.get("FM_USERS", "a.test")  # the server's user domain
D = "status." + USERS
DESK = "desk@" + D
RSM = "http://jabber.org/protocol/rsm"
ITEMS = "http://jabber.org/protocol/disco#items"
CHANNELS = int(os.environ["FM_CHANNELS"])      # open channels the shell made, c00000...
CLOSED = int(os.environ["FM_CLOSED"])          # closed ones, never listed
WATCHERS = int(os.environ["FM_WATCHERS"])      # approved watchers for the cost count
# What to run: "all", or "approve" (the owner asked again, and the cost).
PARTS = os.environ.get("FM_PARTS", "all")
# ejabberd shows subscription answers only to available resources.
WATCHER_PRESENCE = os.environ.get("FM_WATCHER_PRESENCE") == "1"


def client(user, **kw):
    c = Client(user + "@" + USERS, user + "pw", P, **kw)
    for plugin in ("xep_0004", "xep_0030", "xep_0050"):
        c.register_plugin(plugin)
    return c


async def ask(c, to, payload):
    iq = c.Iq()
    iq["type"] = "get"
    iq["to"] = to
    iq.append(ET.fromstring(payload))
    return await iq.send()


def body(iq):
    """The answer's payload as text (namespaces spelt out)."""
    return "".join(ET.tostring(e, encoding="unicode") for e in iq.xml)


async def full_jid_answers(alice):
    """Each query at status.a.test/anything is answered as at the domain,
    from the address asked."""
    for payload in ("<query xmlns='jabber:iq:version'/>", "<ping xmlns='urn:xmpp:ping'/>",
                    "<query xmlns='http://jabber.org/protocol/disco#info'/>",
                    "<query xmlns='jabber:iq:last'/>"):
        bare = await ask(alice, D, payload)
        full = await ask(alice, D + "/anything", payload)
        assert bare["type"] == full["type"] == "result", (bare, full)
        assert full["from"] == D + "/anything", full
        b, f = body(bare), body(full)
        if "jabber:iq:last" in payload:
            # uptime: the seconds may tick between the two
            assert int(bare.xml[0].get("seconds")) >= 0, bare
            assert abs(int(bare.xml[0].get("seconds")) - int(full.xml[0].get("seconds"))) <= 1
        else:
            assert b == f, (b, f)
    info = await ask(alice, D + "/x", "<query xmlns='http://jabber.org/protocol/disco#info'/>")
    for var in ("urn:xmpp:ping", "jabber:iq:version", "jabber:iq:last", RSM):
        assert "var=\"%s\"" % var in body(info), body(info)
    # A full JID of a channel still names no entity.
    try:
        await ask(alice, DESK + "/x", "<ping xmlns='urn:xmpp:ping'/>")
        raise AssertionError("a channel's full JID answered")
    except IqError as e:
        assert e.iq["error"]["condition"] == "service-unavailable", e.iq


async def page(c, max_=None, after=None, before=None, index=None):
    s = "<query xmlns='%s'><set xmlns='%s'>" % (ITEMS, RSM)
    if max_ is not None:
        s += "<max>%s</max>" % max_
    if after is not None:
        s += "<after>%s</after>" % after
    if before is not None:
        s += "<before>%s</before>" % before
    if index is not None:
        s += "<index>%s</index>" % index
    s += "</set></query>"
    r = await ask(c, D, s)
    q = r.xml.find("{%s}query" % ITEMS)
    items = [(i.get("jid"), i.get("name")) for i in q.findall("{%s}item" % ITEMS)]
    st = q.find("{%s}set" % RSM)
    assert st is not None, body(r)
    get = lambda n: st.findtext("{%s}%s" % (RSM, n))
    return items, get("first"), get("last"), get("count")


async def browse(alice):
    listed = CHANNELS + 3  # alice, desk, nobody (vault is closed)
    items, first, last, count = await page(alice, max_=0)
    assert items == [] and first is None and int(count) == listed, (items, first, count)
    # Without a <set/>: the first 100, with the set.
    r = await ask(alice, D, "<query xmlns='%s'/>" % ITEMS)
    assert len(r.xml.findall(".//{%s}item" % ITEMS)) == 100, body(r)
    seen, after, pages = [], None, 0
    while True:
        items, first, last, count = await page(alice, max_=100, after=after)
        assert int(count) == listed
        if not items:
            assert first is None and last is None
            break
        assert first == items[0][0].split("@")[0] and last == items[-1][0].split("@")[0]
        seen += items
        after, pages = last, pages + 1
    jids = [j for j, _ in seen]
    assert len(jids) == listed == len(set(jids)), (len(jids), listed)
    assert jids == sorted(jids), "not in name order"
    assert not any(j.startswith("x") for j in jids), "a closed channel was listed"
    assert "vault@" + D not in jids
    names = dict(seen)
    assert names[DESK] == "Front desk" and names["c00007@" + D] == "Seven & <co> \u00e9", names
    assert names["nobody@" + D] is None
    # The last page, backwards, still in name order.
    items, first, last, count = await page(alice, max_=3, before="")
    assert [j for j, _ in items] == jids[-3:], items
    items, *_ = await page(alice, max_=2, before=jids[-3].split("@")[0])
    assert [j for j, _ in items] == jids[-5:-3], items
    # A max beyond the limit is capped at 100.
    items, *_ = await page(alice, max_=100000)
    assert len(items) == 100
    # Bad sets.
    for kw, cond in (({"index": 3}, "feature-not-implemented"), ({"max_": "x"}, "bad-request"),
                     ({"after": "a", "before": "b"}, "bad-request"), ({"after": ""}, "bad-request")):
        try:
            await page(alice, **kw)
            raise AssertionError("no error for %s" % kw)
        except IqError as e:
            assert e.iq["error"]["condition"] == cond, (kw, e.iq)
    return pages


def is_request(s, frm):
    return s.name == "presence" and s["type"] == "subscribe" and s["from"].bare == frm


async def asked(bob, contact, m):
    relay = contact.replace("@", "\\40") + "@" + D
    return await bob.wait_for(lambda s: is_request(s, relay), "request from " + relay, since=m)


async def request(bob, watcher, m=None):
    """watcher asks for desk; bob must be asked, and watcher must hear
    nothing before bob decides."""
    m = bob.mark() if m is None else m
    w = watcher.mark()
    watcher.send_presence(pto=DESK, ptype="subscribe")
    req = await asked(bob, watcher.boundjid.bare, m)
    assert DESK in req["status"], req
    await watcher.expect_none(lambda s: s.name == "presence" and s["from"].bare == DESK
                              and s["type"] not in ("unavailable", "unsubscribed"),
                              "let in before the owner decided", 0.5)
    return w


def relay_of(c):
    return c.boundjid.bare.replace("@", "\\40") + "@" + D


async def approve(bob, watcher):
    w = await request(bob, watcher)
    m = bob.mark()
    bob.send_presence(pto=relay_of(watcher), ptype="subscribed")
    await watcher.expect_presence(DESK, "subscribed", since=w)
    # The relay address lets go of what bob's server now counts as its
    # subscription to bob: bob's roster item for it goes back to none.
    await bob.wait_for(lambda s: s.name == "presence" and s["type"] == "unsubscribe"
                       and s["from"].bare == relay_of(watcher), "the let-go", since=m)
    for _ in range(50):
        if bob.client_roster[relay_of(watcher)]["subscription"] == "none":
            break
        await asyncio.sleep(0.1)
    assert bob.client_roster[relay_of(watcher)]["subscription"] == "none", \
        bob.client_roster[relay_of(watcher)]["subscription"]


async def asked_again(bob, alice, carol, dave):
    # Approve, cancel, ask again: bob is asked again.
    await approve(bob, alice)
    w = alice.mark()
    alice.send_presence(pto=DESK, ptype="unsubscribe")
    await alice.expect_presence(DESK, "unavailable", since=w)
    await approve(bob, alice)
    # Deny, ask again: asked again.
    w = await request(bob, carol)
    bob.send_presence(pto=relay_of(carol), ptype="unsubscribed")
    await carol.expect_presence(DESK, "unsubscribed", since=w)
    await approve(bob, carol)
    # Revoked by the command: asked again.
    await approve(bob, dave)
    cmd = (await bob.plugin["xep_0050"].send_command(DESK, "urn:chanstat:cmd:revoke"))["command"]
    opts = [o["value"] for o in cmd["form"].get_fields()["revoke"]["options"]]
    assert sorted(opts) == [u + "@" + USERS for u in ("alice", "carol", "dave")], opts
    form = bob.plugin["xep_0004"].make_form(ftype="submit")
    form.add_field(var="revoke", value=["dave@" + USERS])
    w = dave.mark()
    done = await complete_command(bob, DESK, "urn:chanstat:cmd:revoke", cmd["sessionid"], form)
    assert done["status"] == "completed" and "Revoked 1." in done["notes"][0][1], done
    await dave.expect_presence(DESK, "unsubscribed", since=w)
    await dave.expect_presence(DESK, "unavailable", since=w)
    await approve(bob, dave)


def presence_in():
    db = sqlite3.connect(os.environ["CS_DB"], timeout=5)
    try:
        row = db.execute("SELECT value FROM stats WHERE name = 'stanzas_in.presence'").fetchone()
        return row[0] if row else 0
    finally:
        db.close()


async def settle(seconds=2.5):
    """The stats table is written once a second: wait until it holds what
    happened, and until the counter stops moving."""
    last = -1
    for _ in range(20):
        await asyncio.sleep(seconds / 2)
        now = presence_in()
        if now == last:
            return now
        last = now
    return last


async def owner_change_cost(bob):
    """WATCHERS accounts w1..wN ask for desk and bob approves each; then
    one change of bob's status: the presence stanzas that reach chanstatd
    are counted."""
    sem = asyncio.Semaphore(25)

    async def one(i):
        async with sem:
            w = Client("w%d@%s" % (i, USERS), "w%dpw" % i, P)
            await w.login(send_presence=WATCHER_PRESENCE)
            mark = w.mark()
            w.send_presence(pto=DESK, ptype="subscribe")
            await w.expect_presence(DESK, "subscribed", since=mark, timeout=60)
            w.disconnect()

    bob.roster.auto_authorize = True  # bob's client accepts every request now
    await asyncio.gather(*(one(i) for i in range(1, WATCHERS + 1)))
    db = sqlite3.connect(os.environ["CS_DB"], timeout=5)
    n = db.execute("SELECT count(*) FROM roster WHERE channel = 'desk' AND subscription = 'from'"
                   " AND jid LIKE 'w%@" + USERS + "'").fetchone()[0]
    db.close()
    assert n == WATCHERS, n
    costs = []
    for show in ("away", "dnd"):
        before = await settle()
        bob.send_presence(pshow=show, pstatus="change " + show)
        after = await settle()
        costs.append(after - before)
    print("presence stanzas reaching chanstatd per owner change with %d approved watchers: %s"
          % (WATCHERS, costs))
    for c in costs:
        assert c <= 5, "an owner change cost %d presence stanzas through the server" % c


async def main():
    alice, bob, carol, dave = (client(u) for u in ("alice", "bob", "carol", "dave"))
    for c in (alice, bob, carol, dave):
        await c.login()
    if PARTS == "all":
        await full_jid_answers(alice)
        pages = await browse(alice)
        print("browsed %d listed channels in %d pages" % (CHANNELS + 3, pages))
    # desk asks bob (its owner) for his presence once he is online.
    await bob.wait_for(lambda s: is_request(s, DESK), "subscribe from desk")
    bob.send_presence(pto=DESK, ptype="subscribed")
    await asked_again(bob, alice, carol, dave)
    await owner_change_cost(bob)


# 1,000 clients log in one after another (25 at a time) besides the
# browsing: about 80 s of the client library's CPU on two cores, so the
# whole-body limit is above run()'s default; each step keeps its own.
run(main, limit=300)
