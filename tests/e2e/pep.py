"""A channel's properties reach real clients through Prosody:

- every available presence of the channel carries the SHA-1 of its avatar
  (XEP-0153), and a new avatar (sqlite3 or chanstatctl) re-sends it;
- the PEP nodes at the channel's bare JID (XEP-0163): avatar metadata and
  data (XEP-0084), nick (XEP-0172), vCard4 (XEP-0292), read with XEP-0060
  items requests;
- +notify: a watcher's resource that sends the channel a directed presence
  with entity capabilities (XEP-0115) is asked disco#info once per 'ver'
  (a second client with the same 'ver' is not asked), gets the current
  item of each node it wants at once and one event per later change of
  that node; a 'ver' whose answer does not hash to it is not trusted for
  anybody else; watchers without +notify, and non-watchers, get nothing;
- property subscriptions with a lease bounded by [properties] lease_max
  (4 s here): events to the bare JID until the lease runs out or an
  unsubscribe; only watchers and the owner of a channel that is not open;
- bad requests get the XEP-0060 errors; text with & < > and non-ASCII
  arrives intact.
Environment: C2S_PORT, CS_DB, CS_CONF, CHANSTATCTL."""
import asyncio
import base64
import datetime
import hashlib
import os
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

from slixmpp.exceptions import IqError

from peptest import (DISCO, PS, PSE, UPDATE, disco_gets, events, items_of, photo_of,
                     record_pep, with_features)
from peptest import event as event_from
from xmpptest import TIMEOUT, Client, run

P = int(os.environ["C2S_PORT"])
DB = os.environ["CS_DB"]
D = "status.a.test"
DESK = "desk@" + D      # approve, owner bob: carol, dave, erin, frank watch it
VAULT = "vault@" + D    # closed, owner bob
NOBODY = "nobody@" + D  # open, no owner
PSERR = PS + "#errors"
META = "urn:xmpp:avatar:metadata"
DATA = "urn:xmpp:avatar:data"
NICK = "http://jabber.org/protocol/nick"
VC4 = "urn:xmpp:vcard4"
VC4NS = "urn:ietf:params:xml:ns:vcard-4.0"
LIMIT = 3.0  # an edit is polled every second; seen by clients within ~2 s
QUIET = 1.2  # how long to watch for what must not arrive

SIG = b"\x89PNG\r\n\x1a\n"
PNG1 = SIG + b"first avatar"
PNG2 = SIG + b"second avatar, a little longer"
PNG3 = SIG + bytes(range(256))

NOTIFY = [META + "+notify", NICK + "+notify"]
QA = "Q & <A> \u00e9"


async def event(c, node, frm, since, timeout=LIMIT):
    return await event_from(c, node, frm, since, timeout)


def sha1(b):
    return hashlib.sha1(b).hexdigest()


def sql(q):
    subprocess.run(["sqlite3", "-cmd", ".timeout 5000", DB, q], check=True)


def ctl(*args):
    subprocess.run([os.environ["CHANSTATCTL"], "-c", os.environ["CS_CONF"]] + list(args),
                   check=True, stdout=subprocess.DEVNULL)


def utc(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def from_utc(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


# ---- clients ----

def client(user, resource=None, **kw):
    """A client that also records pubsub events and disco#info requests."""
    c = Client(user + "@a.test", user + "pw", P, resource=resource, **kw)
    return record_pep(c)


async def photo_presence(c, want, since=0, timeout=LIMIT):
    """The channel's next available presence, which must carry hash want."""
    s = await c.wait_for(lambda s: s.name == "presence" and s["from"].bare == DESK
                         and s["type"] == "available" and photo_of(s) == want,
                         "desk's presence with photo %r" % want, timeout=timeout, since=since)
    return s


def assert_no_bad_photo(c, since, good):
    for s in c.stanzas[since:]:
        if s.name == "presence" and s["from"].bare == DESK and s["type"] == "available":
            assert photo_of(s) in good, "%s: desk's presence with photo %r, not one of %s: %s" % (
                c.boundjid, photo_of(s), good, s)


# ---- iq ----

async def ask(c, to, typ, payload):
    iq = c.Iq()
    iq["type"] = typ
    iq["to"] = to
    iq.append(ET.fromstring(payload))
    return await iq.send(timeout=TIMEOUT)


async def refused(c, to, typ, payload, etype, cond, app=None):
    """The request gets error etype/cond (with <app/> of pubsub#errors)."""
    try:
        r = await ask(c, to, typ, payload)
    except IqError as e:
        err = e.iq.xml.find("{jabber:client}error")
        got = (e.iq["error"]["type"], e.iq["error"]["condition"])
        assert got == (etype, cond), "%s to %s: error %s, not %s/%s: %s" % (
            payload, to, got, etype, cond, e.iq)
        if app:
            assert err.find("{%s}%s" % (PSERR, app)) is not None, \
                "%s to %s: no <%s/> in %s" % (payload, to, app, e.iq)
        return
    raise AssertionError("%s to %s was not refused: %s" % (payload, to, r))


async def items(c, to, node):
    r = await ask(c, to, "get", "<pubsub xmlns='%s'><items node='%s'/></pubsub>" % (PS, node))
    its = r.xml.find("{%s}pubsub/{%s}items" % (PS, PS))
    assert its is not None and its.get("node") == node, "items of %s at %s: %s" % (node, to, r)
    return its.findall("{%s}item" % PS)


def subscribe_xml(node, jid, expire=None):
    s = "<pubsub xmlns='%s'><subscribe node='%s' jid='%s'/>" % (PS, node, jid)
    if expire is not None:
        s += ("<options><x xmlns='jabber:x:data' type='submit'>"
              "<field var='FORM_TYPE' type='hidden'><value>%s#subscribe_options</value></field>"
              "<field var='pubsub#expire'><value>%s</value></field></x></options>" % (PS, expire))
    return s + "</pubsub>"


async def subscribe(c, to, node, expire=None):
    """Subscribes c's bare JID; the expiry granted (unix time)."""
    jid = c.boundjid.bare
    r = await ask(c, to, "set", subscribe_xml(node, jid, expire))
    sub = r.xml.find("{%s}pubsub/{%s}subscription" % (PS, PS))
    assert sub is not None, "no <subscription/> in %s" % r
    got = (sub.get("node"), sub.get("jid"), sub.get("subscription"))
    assert got == (node, jid, "subscribed"), "subscription to %s at %s: %s" % (node, to, r)
    assert sub.get("expiry"), "no expiry granted: %s" % r
    return from_utc(sub.get("expiry"))


# ---- checks of item contents ----

def check_meta(it, png):
    md = it.find("{%s}metadata" % META)
    assert md is not None, "no <metadata/>: %s" % ET.tostring(it)
    infos = md.findall("{%s}info" % META)
    if png is None:
        assert it.get("id") == "current" and infos == [], \
            "metadata without an avatar: %s" % ET.tostring(it)
        return
    assert it.get("id") == sha1(png), "metadata item id %s, not %s" % (it.get("id"), sha1(png))
    assert len(infos) == 1, ET.tostring(it)
    got = (infos[0].get("bytes"), infos[0].get("id"), infos[0].get("type"))
    assert got == (str(len(png)), sha1(png), "image/png"), "metadata info %s" % (got,)


def check_nick(it, want):
    assert it.get("id") == "current", ET.tostring(it)
    got = it.findtext("{%s}nick" % NICK)
    assert got == want, "nick %r, not %r" % (got, want)


def check_vcard4(it, fn, note=None, email=None, url=None):
    vc = it.find("{%s}vcard" % VC4NS)
    assert it.get("id") == "current" and vc is not None, ET.tostring(it)

    def text(name, kind):
        return vc.findtext("{%s}%s/{%s}%s" % (VC4NS, name, VC4NS, kind))
    got = (text("fn", "text"), text("nickname", "text"), text("note", "text"),
           text("email", "text"), text("url", "uri"))
    assert got == (fn, fn, note, email, url), "vCard4 %s, not %s" % (
        got, (fn, fn, note, email, url))


# ---- the parts ----

async def nodes_read(carol, alice):
    """disco#info names the PEP service; items of each node."""
    r = await ask(alice, DESK, "get", "<query xmlns='%s'/>" % DISCO)
    ids = [(i.get("category"), i.get("type")) for i in r.xml.iter("{%s}identity" % DISCO)]
    assert ("pubsub", "pep") in ids, "desk's disco#info has no pubsub/pep identity: %s" % r
    its = await items(carol, DESK, META)
    assert len(its) == 1, its
    check_meta(its[0], PNG1)
    its = await items(carol, DESK, DATA)
    assert len(its) == 1 and its[0].get("id") == sha1(PNG1), [ET.tostring(i) for i in its]
    data = its[0].findtext("{%s}data" % DATA)
    assert data and base64.b64decode(data) == PNG1, "avatar data %r" % data
    its = await items(carol, DESK, NICK)
    assert len(its) == 1, its
    check_nick(its[0], "Front desk")
    its = await items(carol, DESK, VC4)
    assert len(its) == 1, its
    check_vcard4(its[0], "Front desk", "Questions & <answers>", "desk@a.test",
                 "https://a.test/desk?a=1&b=2")
    # No avatar, no display name: the channel's name; no data item.
    its = await items(alice, NOBODY, META)
    assert len(its) == 1, its
    check_meta(its[0], None)
    its = await items(alice, NOBODY, DATA)
    assert its == [], "avatar data without an avatar: %s" % [ET.tostring(i) for i in its]
    check_nick((await items(alice, NOBODY, NICK))[0], "nobody")
    check_vcard4((await items(alice, NOBODY, VC4))[0], "nobody")
    print("nodes: read")


async def notify(carol, dave, erin, fx, fy, alice):
    """Directed presence with caps: one disco#info per 'ver', then the
    current items of the +notify nodes.  alice watches no desk: nothing."""
    node = carol["xep_0115"].caps_node
    ver = await with_features(carol, NOTIFY)
    assert ver == await with_features(dave, NOTIFY), "carol and dave have different 'ver's"
    m = carol.mark()
    carol.send_presence(pto=DESK)
    q = await carol.wait_for(lambda s: s.name == "iq", "desk's disco#info request", since=m)
    assert q["from"].full == DESK and q["to"].full == carol.boundjid.full, q
    assert q["disco_info"]["node"] == "%s#%s" % (node, ver), "asked about %s, not %s#%s" % (
        q["disco_info"]["node"], node, ver)
    check_meta(await event(carol, META, DESK, m), PNG1)
    check_nick(await event(carol, NICK, DESK, m), "Front desk")
    # Same 'ver': dave is not asked, yet gets the items at once.
    md = dave.mark()
    dave.send_presence(pto=DESK)
    check_meta(await event(dave, META, DESK, md), PNG1)
    check_nick(await event(dave, NICK, DESK, md), "Front desk")
    assert ver == await with_features(alice, NOTIFY), "alice's 'ver' is not carol's"
    alice.send_presence(pto=DESK)
    # erin: capabilities without +notify.
    await with_features(erin, [VC4, NICK])
    me = erin.mark()
    erin.send_presence(pto=DESK)
    await erin.wait_for(lambda s: s.name == "iq", "desk's disco#info request", since=me)
    # frank/x claims a 'ver' its features do not hash to; frank/y then
    # presents the same 'ver' without answering for it: frank/x's answer
    # must not be trusted for frank/y.
    forged = base64.b64encode(hashlib.sha1(b"not a real ver").digest()).decode()
    for c in (fx, fy):
        await c["xep_0115"].assign_verstring(c.boundjid.full, forged)
    await fx["xep_0030"].add_feature(NICK + "+notify", node="%s#%s" % (node, forged))
    mx = fx.mark()
    fx.send_presence(pto=DESK)
    await fx.wait_for(lambda s: s.name == "iq", "desk's disco#info request", since=mx)
    await asyncio.sleep(0.5)
    fy.send_presence(pto=DESK)
    # The same 'ver' again: nobody is asked again.
    again = carol.mark()
    carol.send_presence(pto=DESK)
    await asyncio.sleep(QUIET)
    assert len(disco_gets(carol)) == 1, "carol asked %d times: %s" % (
        len(disco_gets(carol)), disco_gets(carol))
    assert disco_gets(dave) == [], "dave was asked although carol's 'ver' was known: %s" % (
        disco_gets(dave))
    assert disco_gets(alice) == [], "alice, no watcher, was asked: %s" % disco_gets(alice)
    for c in (carol, dave):
        for n in (DATA, VC4):
            assert events(c, n, DESK) == [], "%s got %s without +notify: %s" % (
                c.boundjid, n, events(c, n, DESK))
        upto = again if c is carol else len(c.stanzas)  # before carol's second presence
        for n in (META, NICK):
            got = [s for s in c.stanzas[:upto] if items_of(s, n, DESK) is not None]
            assert len(got) == 1, "%s: %d events of %s for one item" % (c.boundjid, len(got), n)
    print("notify: carol asked once, dave not asked; fx got %d events" % sum(
        len(events(fx, n, DESK)) for n in (META, DATA, NICK, VC4)))


async def edits(carol, dave, erin, fx, fy, alice):
    """Each edit: one event per changed node to the +notify resources, a
    new photo hash in presence to every watcher."""
    all_ = (carol, dave, erin, fx, fy)
    # The display name (with & < > and non-ASCII): the nick node only.
    m = [c.mark() for c in all_]
    sql("UPDATE channel SET display_name = 'Q & <A> ' || char(233) WHERE name = 'desk'")
    t0 = time.monotonic()
    for c, mk in ((carol, m[0]), (dave, m[1])):
        check_nick(await event(c, NICK, DESK, mk), QA)
    print("display name: nick events in %.2f s" % (time.monotonic() - t0))
    await asyncio.sleep(QUIET)
    for c, mk in ((carol, m[0]), (dave, m[1])):
        assert len(events(c, NICK, DESK, mk)) == 1, "%s: %d nick events for one edit" % (
            c.boundjid, len(events(c, NICK, DESK, mk)))
        assert events(c, META, DESK, mk) == [], "%s: metadata event, the avatar is the same" % (
            c.boundjid)
    check_nick((await items(carol, DESK, NICK))[0], QA)
    check_vcard4((await items(carol, DESK, VC4))[0], QA, "Questions & <answers>", "desk@a.test",
                 "https://a.test/desk?a=1&b=2")

    # A new avatar three ways: sqlite3, chanstatctl, removed.
    steps = (("sqlite3", PNG2), ("chanstatctl", PNG3), ("removed", None))
    for how, png in steps:
        m = [c.mark() for c in all_]
        if how == "sqlite3":
            sql("UPDATE channel SET avatar = X'%s', avatar_type = 'image/png' WHERE name = 'desk'"
                % png.hex())
        elif how == "chanstatctl":
            with tempfile.NamedTemporaryFile(suffix=".png") as f:
                f.write(png)
                f.flush()
                ctl("channel", "set", "desk", "--avatar", f.name)
        else:
            sql("UPDATE channel SET avatar = NULL, avatar_type = NULL WHERE name = 'desk'")
        t0 = time.monotonic()
        want = sha1(png) if png else ""
        for c, mk in zip(all_, m):
            await photo_presence(c, want, since=mk)
        dt = time.monotonic() - t0
        for c, mk in ((carol, m[0]), (dave, m[1])):
            check_meta(await event(c, META, DESK, mk), png)
        print("avatar %s: presence and metadata events in %.2f s" % (how, dt))
        await asyncio.sleep(QUIET)
        for c, mk in zip(all_, m):
            assert_no_bad_photo(c, mk, (want,))
        for c, mk in ((carol, m[0]), (dave, m[1])):
            assert len(events(c, META, DESK, mk)) == 1, "%s: %d metadata events for one edit" % (
                c.boundjid, len(events(c, META, DESK, mk)))
            assert events(c, NICK, DESK, mk) == [], "%s: nick event, the name is the same" % (
                c.boundjid)
    for c in (erin, fy, alice):
        got = [s for s in c.stanzas if s.name == "message" and s["from"].bare == DESK]
        assert got == [], "%s wants no events, yet got: %s" % (c.boundjid, got)


async def bad_input(carol, alice):
    await refused(carol, DESK, "set", "<pubsub xmlns='%s'><publish node='%s'><item id='current'>"
                  "<nick xmlns='%s'>mine</nick></item></publish></pubsub>" % (PS, NICK, NICK),
                  "auth", "forbidden")
    await refused(carol, DESK, "set", "<pubsub xmlns='%s'><retract node='%s'>"
                  "<item id='current'/></retract></pubsub>" % (PS, NICK), "auth", "forbidden")
    await refused(carol, DESK, "get", "<pubsub xmlns='%s'><items node='urn:xmpp:nothing'/>"
                  "</pubsub>" % PS, "cancel", "item-not-found")
    ma = alice.mark()
    await refused(alice, NOBODY, "set", subscribe_xml(META, "alice@a.test", "tomorrow"),
                  "modify", "bad-request")
    for jid in ("carol@a.test", alice.boundjid.full):
        await refused(alice, NOBODY, "set", subscribe_xml(META, jid), "modify", "bad-request",
                      "invalid-jid")
    # Not open: only watchers and the owner.
    for ch in (DESK, VAULT):
        await refused(alice, ch, "set", subscribe_xml(NICK, "alice@a.test"), "auth",
                      "not-authorized", "presence-subscription-required")
    await refused(alice, DESK, "get", "<pubsub xmlns='%s'><items node='%s'/></pubsub>" % (PS, NICK),
                  "auth", "not-authorized", "presence-subscription-required")
    await asyncio.sleep(0.5)
    got = [s for s in alice.stanzas[ma:] if s.name == "message"]
    assert got == [], "refused subscriptions sent events: %s" % got
    print("bad input: refused")


async def leases(alice, carol, bob):
    """lease_max = 4 s: asked an hour, granted 4 s; events until then."""
    ma = alice.mark()
    t0 = time.time()
    exp = await subscribe(alice, NOBODY, NICK, utc(t0 + 3600))
    assert t0 + 2 <= exp <= t0 + 5.5, "asked an hour with lease_max 4 s, granted %+.1f s" % (
        exp - t0)
    ev = await alice.wait_for(lambda s: items_of(s, NICK, NOBODY) is not None,
                              "the current nick after subscribing", since=ma)
    assert ev["to"].full == "alice@a.test", "the event is not to the bare JID: %s" % ev
    check_nick(items_of(ev, NICK, NOBODY)[0], "nobody")
    # Without an expiry: lease_default, cut to lease_max as well.
    exp2 = await subscribe(alice, NOBODY, VC4)
    assert t0 + 2 <= exp2 <= t0 + 6.5, "no expiry asked: granted %+.1f s" % (exp2 - t0)
    check_vcard4(await event(alice, VC4, NOBODY, ma), "nobody")
    r = await ask(alice, NOBODY, "set", "<pubsub xmlns='%s'><unsubscribe node='%s' jid='%s'/>"
                  "</pubsub>" % (PS, VC4, "alice@a.test"))
    assert r["type"] == "result", r
    # An edit within the lease: the nick comes, the vCard4 does not.
    m = alice.mark()
    sql("UPDATE channel SET display_name = 'Nobody ' || char(233) WHERE name = 'nobody'")
    check_nick(await event(alice, NICK, NOBODY, m), "Nobody \u00e9")
    left = exp - time.time()
    assert left > 0, "the event came %.1f s after the lease ran out" % -left
    await asyncio.sleep(QUIET)
    assert events(alice, VC4, NOBODY, m) == [], "vCard4 event after unsubscribe: %s" % (
        events(alice, VC4, NOBODY, m))
    assert len(events(alice, NICK, NOBODY, m)) == 1, "more than one nick event for one edit"
    # After the lease: nothing.
    await asyncio.sleep(max(0, exp + 1.2 - time.time()))
    m = alice.mark()
    sql("UPDATE channel SET display_name = 'Gone', description = 'gone' WHERE name = 'nobody'")
    await asyncio.sleep(LIMIT)
    got = [s for s in alice.stanzas[m:] if s.name == "message"]
    assert got == [], "events after the lease ran out: %s" % got
    check_nick((await items(alice, NOBODY, NICK))[0], "Gone")
    # A watcher of an approve channel, and the owner of a closed one, may.
    mc, mb = carol.mark(), bob.mark()
    await subscribe(carol, DESK, VC4)
    check_vcard4(await event(carol, VC4, DESK, mc), QA, "Questions & <answers>", "desk@a.test",
                 "https://a.test/desk?a=1&b=2")
    await subscribe(bob, VAULT, NICK)
    check_nick(await event(bob, NICK, VAULT, mb), "vault")
    print("leases: granted %.1f s; events until then, none after" % (exp - t0))


async def main():
    sql("UPDATE channel SET display_name = 'Front desk', description = 'Questions & <answers>', "
        "email = 'desk@a.test', url = 'https://a.test/desk?a=1&b=2', avatar_type = 'image/png', "
        "avatar = X'%s' WHERE name = 'desk'" % PNG1.hex())
    sql("INSERT INTO roster (channel, jid, subscription) VALUES ('desk', 'carol@a.test', 'from'),"
        " ('desk', 'dave@a.test', 'both'), ('desk', 'erin@a.test', 'from'),"
        " ('desk', 'frank@a.test', 'from')")
    carol, dave, erin = client("carol", "pc"), client("dave", "pc"), client("erin", "pc")
    fx, fy = client("frank", "x"), client("frank", "y")
    alice = client("alice", "pc")
    watchers = (carol, dave, erin, fx, fy)
    for c in watchers + (alice,):
        await c.login()
    # The edits are polled: wait until carol may read desk's nodes and the
    # avatar is known, so that no presence can come before them.
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            its = await items(carol, DESK, META)
            if its and its[0].get("id") == sha1(PNG1):
                break
        except IqError:
            pass
        assert time.monotonic() < deadline, "the setup edits never took effect"
        await asyncio.sleep(0.2)
    # The owner comes online: desk's presence, with the avatar's hash.
    bob = client("bob", "pc", auto_accept=True)
    await bob.login()
    await bob.wait_for(lambda s: s.name == "presence" and s["type"] == "subscribe"
                       and s["from"].bare == DESK, "desk's subscribe")
    bob.send_presence(pstatus="at the desk")
    for c in watchers:
        await photo_presence(c, sha1(PNG1), timeout=TIMEOUT)
        assert_no_bad_photo(c, 0, (sha1(PNG1),))
    print("presence: photo %s" % sha1(PNG1))
    await nodes_read(carol, alice)
    await notify(carol, dave, erin, fx, fy, alice)
    await edits(carol, dave, erin, fx, fy, alice)
    await bad_input(carol, alice)
    await leases(alice, carol, bob)


run(main)
