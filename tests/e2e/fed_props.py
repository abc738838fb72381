"""Channel properties across domains (doc/federation.md, "Channel
properties across domains"; xmpp.md, "Channel properties"): the channel
carol@status.b.test, with a display name, a description and a PNG avatar,
is watched from a.test through status.a.test at the escaped address
carol\\40status.b.test@status.a.test.

- the remote channel's presence to local watchers carries the home's
  avatar hash (XEP-0153);
- items requests at the escaped address (nick, avatar metadata and data,
  vCard4) are answered from what status.a.test keeps;
- +notify: local watcher resources that send the escaped address a
  directed presence with entity capabilities (XEP-0115) are asked
  disco#info once per 'ver', from the escaped address, then get the
  current items of the nodes they want; local property subscriptions
  (XEP-0060 subscribe at the escaped address) get events too;
- a display name edit at the home reaches every local +notify resource
  and property subscriber exactly once, within a few seconds, while the
  home holds ONE node subscription (one roster row for status.a.test, one
  node_lease row) and writes one event per changed node, whatever the
  number of local recipients: counted in status.b.test's counters
  (chanstatctl stats) and in what b.test's Prosody wrote to s2s;
- an avatar edit at the home: every local watcher gets the channel's
  presence again with the new hash, +notify resources and subscribers of
  the metadata node one event, and items requests at the escaped address
  show the new metadata id and the new bytes.
Environment: fed_setup / fed_chanstatd (A_*, B_*, CS_*_A, CS_*_B) and
CHANSTATCTL."""
import asyncio
import base64
import datetime
import hashlib
import json
import math
import os
import re
import subprocess
import time
import xml.etree.ElementTree as ET


from fedtest import A, B, log_size, on, read_log, sql
from peptest import DISCO, PS, PSE, UPDATE, disco_gets, photo_of, record_pep, with_features
from peptest import event as event_from, events as events_from, items_of as items_from
from xmpptest import TIMEOUT, run

CH = "carol@status.b.test"
ESC = "carol\\40status.b.test@status.a.test"
META = "urn:xmpp:avatar:metadata"
DATA = "urn:xmpp:avatar:data"
NICK = "http://jabber.org/protocol/nick"
VC4 = "urn:xmpp:vcard4"
VC4NS = "urn:ietf:params:xml:ns:vcard-4.0"
NOTIFY = [NICK + "+notify", META + "+notify"]
LIMIT = 5.0   # "within a few seconds" of an edit at the home
QUIET = 1.5   # how long to watch for what must not arrive

SIG = b"\x89PNG\r\n\x1a\n"
PNG1 = SIG + b"carol's first avatar"
PNG2 = SIG + bytes(range(256)) + b"carol's second avatar"
NAME1 = "Carol's channel"
NAME2 = "Carol & <co> \u00e9"
DESC = "News from b.test"


def items_of(s, node):
    return items_from(s, node, ESC)


def events(c, node, since=0):
    return events_from(c, node, ESC, since)


async def event(c, node, since, timeout=LIMIT):
    """The one item of the next event for node from the escaped address."""
    return await event_from(c, node, ESC, since, timeout)


def sha1(b):
    return hashlib.sha1(b).hexdigest()


def b_sql(q):
    """An edit at the home with the sqlite3 tool (a connection of its own)."""
    subprocess.run(["sqlite3", "-cmd", ".timeout 5000", os.environ["CS_DB_B"], q], check=True)


# ---- clients ----

def client(server, jid, resource=None, **kw):
    """A client that also records pubsub events and disco#info requests."""
    c = on(server, jid + ("/" + resource if resource else ""), **kw)
    return record_pep(c)


def available_from_esc(s):
    return s.name == "presence" and s["from"].bare == ESC and s["type"] == "available"


async def photo_presence(c, want, since=0, timeout=LIMIT):
    """The channel's next available presence with hash want."""
    return await c.wait_for(lambda s: available_from_esc(s) and photo_of(s) == want,
                            "presence of %s with photo %s" % (ESC, want), timeout=timeout,
                            since=since)


def assert_photos(c, since, good):
    """Every available presence of the channel since carries a hash of good."""
    for s in c.stanzas[since:]:
        if available_from_esc(s):
            assert photo_of(s) in good, "%s: presence of %s with photo %r, not one of %s: %s" % (
                c.boundjid, ESC, photo_of(s), good, s)


# ---- iq ----

async def ask(c, to, typ, payload):
    iq = c.Iq()
    iq["type"] = typ
    iq["to"] = to
    iq.append(ET.fromstring(payload))
    return await iq.send(timeout=TIMEOUT)


async def items(c, to, node, n=None):
    """The <item/>s (XEP-0060 namespace) of an items request for node at
    to; n: how many there must be."""
    r = await ask(c, to, "get", "<pubsub xmlns='%s'><items node='%s'/></pubsub>" % (PS, node))
    its = r.xml.find("{%s}pubsub/{%s}items" % (PS, PS))
    assert its is not None and its.get("node") == node, "items of %s at %s: %s" % (node, to, r)
    got = its.findall("{%s}item" % PS)
    assert n is None or len(got) == n, "items of %s at %s: %d <item xmlns='%s'/>, want %d: %s" % (
        node, to, len(got), PS, n, r)
    return got


async def subscribe(c, node):
    """A property subscription of c's bare JID at the escaped address."""
    jid = c.boundjid.bare
    r = await ask(c, ESC, "set", "<pubsub xmlns='%s'><subscribe node='%s' jid='%s'/></pubsub>"
                  % (PS, node, jid))
    sub = r.xml.find("{%s}pubsub/{%s}subscription" % (PS, PS))
    assert sub is not None, "no <subscription/> in %s" % r
    got = (sub.get("node"), sub.get("jid"), sub.get("subscription"))
    assert got == (node, jid, "subscribed"), "subscription to %s at %s: %s" % (node, ESC, r)


# ---- item contents ----

def check_meta(it, png):
    md = it.find("{%s}metadata" % META)
    assert md is not None, "no <metadata/>: %s" % ET.tostring(it)
    infos = md.findall("{%s}info" % META)
    assert it.get("id") == sha1(png), "metadata item id %s, not %s" % (it.get("id"), sha1(png))
    assert len(infos) == 1, ET.tostring(it)
    got = (infos[0].get("bytes"), infos[0].get("id"), infos[0].get("type"))
    assert got == (str(len(png)), sha1(png), "image/png"), "metadata info %s" % (got,)


def check_data(its, png):
    assert len(its) == 1 and its[0].get("id") == sha1(png), \
        "avatar data items %s, want one of id %s" % ([ET.tostring(i) for i in its], sha1(png))
    data = its[0].findtext("{%s}data" % DATA)
    assert data and base64.b64decode(data) == png, "avatar data %r, want %r" % (
        data, base64.b64encode(png).decode())


def check_nick(it, want):
    assert it.get("id") == "current", ET.tostring(it)
    got = it.findtext("{%s}nick" % NICK)
    assert got == want, "nick %r, not %r" % (got, want)


def check_vcard4(it, fn, note):
    vc = it.find("{%s}vcard" % VC4NS)
    assert it.get("id") == "current" and vc is not None, ET.tostring(it)

    def text(name):
        return vc.findtext("{%s}%s/{%s}text" % (VC4NS, name, VC4NS))
    got = (text("fn"), text("nickname"), text("note"))
    assert got == (fn, fn, note), "vCard4 %s, not %s" % (got, (fn, fn, note))


# ---- the home: its node subscriptions, counters and s2s output ----

def node_subscriptions():
    """The home's roster rows and leases for status.a.test: exactly one
    each whatever the number of local watchers."""
    rows = sql("B", "SELECT channel, subscription FROM roster WHERE jid = 'status.a.test'")
    leases = sql("B", "SELECT channel, node FROM node_lease")
    assert rows == [("carol", "from")], "home roster rows for status.a.test: %r" % rows
    assert leases == [("carol", "status.a.test")], "home node leases: %r" % leases
    # No local watcher is known at the home: they are status.a.test's.
    others = sql("B", "SELECT jid FROM roster WHERE channel = 'carol' AND jid LIKE '%a.test'"
                 " AND jid <> 'status.a.test'")
    assert others == [], "watchers on a.test known at the home: %r" % others


def from_utc(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


async def home_stats(after):
    """status.b.test's counters (chanstatctl --json stats), as the daemon
    wrote them after wall time `after` (it writes them once a second,
    stamped in whole seconds)."""
    deadline = time.monotonic() + 5
    while True:
        out = subprocess.run([os.environ["CHANSTATCTL"], "-c", os.environ["CS_CONF_B"], "--json",
                              "stats"], check=True, capture_output=True, text=True).stdout
        rows = json.loads(out)["stats"]
        if rows and min(from_utc(r["updated"]) for r in rows) >= math.floor(after) + 1:
            return {r["name"]: r["value"] for r in rows}
        assert time.monotonic() < deadline, \
            "status.b.test's counters not written since %.0f: %s" % (after, out)
        await asyncio.sleep(0.2)


# Prosody at debug level logs the start tag of each stanza it writes to
# s2s ("Sending[s2sout]: <message ...>", s2sin on a bidirectional stream).
S2S_OUT = re.compile(r"Sending\[s2s(?:out|in)\]: (<message\b[^>]*>)")
# chanstatd at debug level logs what it reads from its link ("link: in:").
LINK_IN_MSG = re.compile(r"<message\b[^>]*>.*?</message>", re.S)


def attr(tag, name):
    m = re.search(r"\b%s=(?:'([^']*)'|\"([^\"]*)\")" % name, tag)
    return (m.group(1) if m.group(1) is not None else m.group(2)) if m else None


def s2s_headlines(offset):
    """The headline messages of the channel b.test's Prosody wrote to s2s
    since offset in its log, as (to, type) pairs."""
    out = []
    for tag in S2S_OUT.findall(read_log(os.environ["B_LOG"], offset)):
        if attr(tag, "from") == CH:
            out.append((attr(tag, "to"), attr(tag, "type")))
    return out


def events_in_a(offset):
    """(to, node) of each pubsub event from the channel that status.a.test
    read from its link since offset in its log."""
    out = []
    for line in read_log(os.environ["CS_LOG_A"], offset).splitlines():
        if "link: in:" not in line:
            continue
        for m in LINK_IN_MSG.findall(line):
            tag = m[:m.index(">") + 1]
            if attr(tag, "from") != CH or PSE not in m:
                continue
            node = re.search(r"<items\b[^>]*>", m)
            out.append((attr(tag, "to"), attr(node.group(0), "node") if node else None))
    return sorted(out)


async def settled():
    """Until both chanstatds have been quiet a while (nothing in flight)."""
    paths = [os.environ["CS_LOG_A"], os.environ["CS_LOG_B"], os.environ["B_LOG"]]
    last, since = None, time.monotonic()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 10:
        sizes = [os.path.getsize(p) for p in paths]
        if sizes != last:
            last, since = sizes, time.monotonic()
        elif time.monotonic() - since >= 0.5:
            return
        await asyncio.sleep(0.1)


ERRORS = []   # failures that leave the bed usable: the later steps still run


async def soft(coro):
    """Runs a check whose failure does not stop the scenario; reported at
    the end."""
    try:
        await coro
    except AssertionError as e:
        ERRORS.append(str(e))
        print("FAILED: %s" % e)


# ---- the parts ----

async def watch(ws):
    """The watchers subscribe at the escaped address: subscribed, then the
    channel's presence with the home's avatar hash."""
    for w in ws:
        w.send_presence(pto=ESC, ptype="subscribe")
    for w in ws:
        await w.expect_presence(ESC, "subscribed")
        await photo_presence(w, sha1(PNG1), timeout=TIMEOUT)
        assert_photos(w, 0, (sha1(PNG1),))
    print("presence: %d watchers see photo %s" % (len(ws), sha1(PNG1)))


async def read_nodes(w, name, png):
    """Items requests at the escaped address, answered from status.a.test's
    copy of what the home sent (each node checked on its own)."""
    async def nick():
        check_nick((await items(w, ESC, NICK, 1))[0], name)

    async def vcard4():
        check_vcard4((await items(w, ESC, VC4, 1))[0], name, DESC)

    async def meta():
        check_meta((await items(w, ESC, META, 1))[0], png)

    async def data():
        check_data(await items(w, ESC, DATA, 1), png)
    n = len(ERRORS)
    for check in (nick, vcard4, meta, data):
        await soft(check())
    if len(ERRORS) == n:
        print("items at %s: nick %r, vCard4, metadata and data %s" % (ESC, name, sha1(png)))


async def notify(first, others):
    """first announces +notify with its caps: asked disco#info of node#ver
    by the escaped address, then the current nick and metadata; the
    others have the same 'ver': not asked, items at once."""
    node = first["xep_0115"].caps_node
    ver = await with_features(first, NOTIFY)
    for c in others:
        assert await with_features(c, NOTIFY) == ver, "%s has another 'ver'" % c.boundjid
    m = first.mark()
    first.send_presence(pto=ESC)
    q = await first.wait_for(lambda s: s.name == "iq", "disco#info request", since=m)
    assert q["from"].full == ESC and q["to"].full == first.boundjid.full, \
        "disco#info not from the escaped address to %s: %s" % (first.boundjid, q)
    assert q["disco_info"]["node"] == "%s#%s" % (node, ver), "asked about %s, not %s#%s" % (
        q["disco_info"]["node"], node, ver)
    check_nick(await event(first, NICK, m), NAME1)
    check_meta(await event(first, META, m), PNG1)
    for c in others:
        mc = c.mark()
        c.send_presence(pto=ESC)
        check_nick(await event(c, NICK, mc), NAME1)
        check_meta(await event(c, META, mc), PNG1)
    await asyncio.sleep(QUIET)
    assert len(disco_gets(first)) == 1, "%s asked %d times: %s" % (
        first.boundjid, len(disco_gets(first)), disco_gets(first))
    for c in (first,) + tuple(others):
        if c is not first:
            assert disco_gets(c) == [], "%s asked although the 'ver' was known: %s" % (
                c.boundjid, disco_gets(c))
        for n in (NICK, META):
            assert len(events(c, n)) == 1, "%s: %d events of %s for one item" % (
                c.boundjid, len(events(c, n)), n)
        for n in (DATA, VC4):
            assert events(c, n) == [], "%s got %s without +notify" % (c.boundjid, n)
    print("notify: %s asked once (node#ver %s#%s), %d more resources not asked" % (
        first.boundjid, node, ver, len(others)))


async def subscriptions(subs):
    """Property subscriptions at the escaped address: the current item."""
    for c, nodes in subs:
        for n in nodes:
            m = c.mark()
            await subscribe(c, n)
            it = await event(c, n, m)
            s = events(c, n, m)[0]
            assert s["to"].full == c.boundjid.bare, "event not to the bare JID: %s" % s
            if n == NICK:
                check_nick(it, NAME1)
            else:
                check_meta(it, PNG1)
    print("subscriptions: %s" % ", ".join("%s %s" % (c.boundjid.bare, " ".join(ns))
                                          for c, ns in subs))


async def rename(notified, subs, everybody):
    """A display name edit at the home: one nick event for every +notify
    resource and every nick subscriber; the home writes one event per
    changed node (nick, vCard4) to status.a.test, once."""
    await settled()
    t_before = time.time()
    before = await home_stats(t_before)
    off, off_a = log_size(os.environ["B_LOG"]), log_size(os.environ["CS_LOG_A"])
    m = {c: c.mark() for c in everybody}
    b_sql("UPDATE channel SET display_name = 'Carol & <co> ' || char(233) WHERE name = 'carol'")
    t0 = time.monotonic()
    for c in notified + subs:
        check_nick(await event(c, NICK, m[c]), NAME2)
    took = time.monotonic() - t0
    await asyncio.sleep(QUIET)
    await settled()
    for c in notified + subs:
        got = events(c, NICK, m[c])
        assert len(got) == 1, "%s: %d nick events for one edit: %s" % (c.boundjid, len(got), got)
    for c in everybody:
        for n in (META, DATA, VC4):
            assert events(c, n, m[c]) == [], "%s: %s event for a display name edit: %s" % (
                c.boundjid, n, events(c, n, m[c]))
        assert_photos(c, m[c], (sha1(PNG1),))
    # One crossing: what b.test's Prosody wrote to s2s, and the home's count.
    crossed = s2s_headlines(off)
    assert crossed == [("status.a.test", "headline")] * 2, \
        "messages of %s written to s2s by b.test for one display name edit (the nick and " \
        "vCard4 events to status.a.test): %r" % (CH, crossed)
    arrived = events_in_a(off_a)
    assert arrived == [("status.a.test", NICK), ("status.a.test", VC4)], \
        "events status.a.test read for one display name edit: %r" % arrived
    after = await home_stats(time.time())
    sent = after["stanzas_out.message"] - before["stanzas_out.message"]
    assert sent == 2, "status.b.test sent %d messages for one display name edit (nick and " \
        "vCard4 to status.a.test: 2), with %d local recipients" % (sent, len(notified + subs))
    node_subscriptions()
    print("display name: %d local recipients in %.2f s; the home sent %d events, %d crossed s2s" % (
        len(notified + subs), took, sent, len(crossed)))


async def new_avatar(watchers, notified, meta_subs, everybody):
    """An avatar edit at the home: the presence again with the new hash to
    every watcher; one metadata event to the +notify resources and the
    metadata subscribers; the items at the escaped address follow."""
    await settled()
    t_before = time.time()
    before = await home_stats(t_before)
    off, off_a = log_size(os.environ["B_LOG"]), log_size(os.environ["CS_LOG_A"])
    m = {c: c.mark() for c in everybody}
    b_sql("UPDATE channel SET avatar = X'%s', avatar_type = 'image/png' WHERE name = 'carol'"
          % PNG2.hex())
    t0 = time.monotonic()
    for c in watchers:
        await photo_presence(c, sha1(PNG2), since=m[c])
    for c in notified + meta_subs:
        check_meta(await event(c, META, m[c]), PNG2)
    took = time.monotonic() - t0
    await asyncio.sleep(QUIET)
    await settled()
    for c in everybody:
        assert_photos(c, m[c], (sha1(PNG2),))
        assert events(c, NICK, m[c]) == [], "%s: nick event for an avatar edit" % c.boundjid
        assert events(c, DATA, m[c]) == [], "%s: data event without subscription" % c.boundjid
    for c in notified + meta_subs:
        got = events(c, META, m[c])
        assert len(got) == 1, "%s: %d metadata events for one edit: %s" % (
            c.boundjid, len(got), got)
    crossed = s2s_headlines(off)
    assert crossed == [("status.a.test", "headline")] * 2, \
        "messages of %s written to s2s by b.test for one avatar edit (the metadata and " \
        "data events to status.a.test): %r" % (CH, crossed)
    arrived = events_in_a(off_a)
    assert arrived == [("status.a.test", DATA), ("status.a.test", META)], \
        "events status.a.test read for one avatar edit: %r" % arrived
    after = await home_stats(time.time())
    sent = after["stanzas_out.message"] - before["stanzas_out.message"]
    assert sent == 2, "status.b.test sent %d messages for one avatar edit (metadata and data " \
        "to status.a.test: 2)" % sent
    node_subscriptions()
    print("avatar: presence to %d watchers and metadata events to %d in %.2f s; "
          "the home sent %d events, %d crossed s2s" % (len(watchers), len(notified + meta_subs),
                                                     took, sent, len(crossed)))


async def main():
    b_sql("UPDATE channel SET display_name = '%s', description = '%s', avatar_type = 'image/png',"
          " avatar = X'%s' WHERE name = 'carol'" % (NAME1.replace("'", "''"), DESC, PNG1.hex()))
    carol = client(B, "carol@b.test", "pc", auto_accept=True)  # approves the channel's request
    await carol.login()
    # Edits are polled: until the home shows the avatar to its owner.
    deadline = time.monotonic() + TIMEOUT
    while True:
        its = await items(carol, CH, META)
        if its and its[0].get("id") == sha1(PNG1):
            break
        assert time.monotonic() < deadline, "the setup edit never took effect at the home"
        await asyncio.sleep(0.2)

    # w1 with two resources and w2: +notify watchers; w3: a watcher
    # without capabilities, subscribed to the nick node; w4: no watcher,
    # subscribed to nick and metadata (the channel is open).
    w1pc, w1ph = client(A, "w1@a.test", "pc"), client(A, "w1@a.test", "phone")
    w2 = client(A, "w2@a.test", "pc")
    w3 = client(A, "w3@a.test", "pc")
    w4 = client(A, "w4@a.test", "pc")
    everybody = [w1pc, w1ph, w2, w3, w4]
    await asyncio.gather(*(c.login() for c in everybody))
    await watch([w1pc, w2, w3])
    node_subscriptions()
    await read_nodes(w3, NAME1, PNG1)
    await notify(w1pc, (w1ph, w2))
    await subscriptions([(w3, [NICK]), (w4, [NICK, META])])
    for c in (w3, w4):
        assert disco_gets(c) == [], "%s, without capabilities, was asked: %s" % (
            c.boundjid, disco_gets(c))
    node_subscriptions()
    await rename([w1pc, w1ph, w2], [w3, w4], everybody)
    await read_nodes(w1pc, NAME2, PNG1)
    await new_avatar([w1pc, w1ph, w2, w3], [w1pc, w1ph, w2], [w4], everybody)
    await read_nodes(w4, NAME2, PNG2)
    for c in everybody + [carol]:
        c.disconnect()
    assert not ERRORS, "\n  ".join(ERRORS)


run(main)
