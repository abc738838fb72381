"""mod_chanstat_multicast (contrib/prosody) with real Prosody and real
clients; the component is a raw XEP-0114 connection of this script.

Cases: (a) disco#info of the host; (b) presence and message batches from
the trusted component reach each listed online resource once, as a stanza
sent directly would (offline store and blocking included); (c) refusals (untrusted sender, bad addresses, the
limit, changed by a config reload) deliver nothing and carry the batch's
id; (d) 1,000 addresses, 200 of them online.

Every "exactly once" and "nothing" is checked against a barrier: after a
batch, the component sends each client a marker message directly, then
pings the host; Prosody handles one component stream in order, so
whatever the batch caused is ahead of the markers and of the ping's
answer."""
import asyncio
import hashlib
import os
import re
import signal
import subprocess
import time
import xml.etree.ElementTree as ET

from xmpptest import Client, TIMEOUT, run

P = int(os.environ["C2S_PORT"])
COMP_PORT = int(os.environ["COMP_PORT"])
CFG = os.environ["PROSODY_CFG"]
PIDFILE = os.environ["PROSODY_PIDFILE"]
BIG_ONLINE = int(os.environ.get("BIG_ONLINE", "200"))
BIG_TOTAL = int(os.environ.get("BIG_TOTAL", "1000"))

NS_ADDR = "http://jabber.org/protocol/address"
NS_DISCO = "http://jabber.org/protocol/disco#info"
NS_DATA = "jabber:x:data"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_COMP = "jabber:component:accept"
NS_CLIENT = "jabber:client"
CH = "desk@status.a.test"
# The payload of every presence batch: what chanstatd sends.
PRES_BODY = ("<show>away</show><status>out</status>"
             "<x xmlns='vcard-temp:x:update'><photo/></x>")


def addresses(*jids, atype="bcc"):
    return "<addresses xmlns='%s'>%s</addresses>" % (NS_ADDR, "".join(
        "<address type='%s' jid='%s'/>" % (atype, j) for j in jids))


def local(tag):
    return tag.rsplit("}", 1)[-1]


# ---- a raw XEP-0114 component ----

class Component:
    """One component stream; records every top-level stanza it receives
    as an ElementTree element."""

    def __init__(self, domain, secret):
        self.domain, self.secret = domain, secret
        self.stanzas = []
        self.new = asyncio.Event()
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.stream_id = None
        self.closed = False
        self.raw = ""

    def _feed(self, data):
        self.parser.feed(data)
        for ev, el in self.parser.read_events():
            if ev == "start":
                self.depth += 1
                if self.depth == 1:
                    self.stream_id = el.get("id")
                    self.new.set()
            else:
                self.depth -= 1
                if self.depth == 1:
                    self.stanzas.append(el)
                    self.new.set()

    async def _reader(self):
        while True:
            data = await self.reader.read(65536)
            if not data:
                self.closed = True
                self.new.set()
                return
            self.raw += data.decode("utf-8", "replace")
            self._feed(data)

    async def wait_for(self, pred, what, since=0, timeout=TIMEOUT):
        loop = asyncio.get_event_loop()
        deadline = loop.time() + timeout
        while True:
            for s in self.stanzas[since:]:
                if pred(s):
                    return s
            left = deadline - loop.time()
            if self.closed or left <= 0:
                raise AssertionError("%s: no %s within %.0fs (closed: %s); got:\n  %s" % (
                    self.domain, what, timeout, self.closed,
                    "\n  ".join(ET.tostring(s, "unicode") for s in self.stanzas[since:][-10:])))
            self.new.clear()
            try:
                await asyncio.wait_for(self.new.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def connect(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", COMP_PORT)
        self.task = asyncio.ensure_future(self._reader())
        self.send("<stream:stream xmlns='%s' xmlns:stream='http://etherx.jabber.org/streams' "
                  "to='%s'>" % (NS_COMP, self.domain))
        loop = asyncio.get_event_loop()
        deadline = loop.time() + TIMEOUT
        while self.stream_id is None:
            assert loop.time() < deadline and not self.closed, "%s: no stream header" % self.domain
            self.new.clear()
            try:
                await asyncio.wait_for(self.new.wait(), 0.2)
            except asyncio.TimeoutError:
                pass
        digest = hashlib.sha1((self.stream_id + self.secret).encode()).hexdigest()
        self.send("<handshake>%s</handshake>" % digest)
        await self.wait_for(lambda s: local(s.tag) == "handshake", "handshake answer")

    def send(self, data):
        self.writer.write(data.encode())

    def mark(self):
        return len(self.stanzas)

    def wire(self, sid):
        """The stanza with id sid as it came over the stream."""
        m = re.search(r"<(presence|message|iq)\b[^>]*\bid=['\"]%s['\"].*?</\1>" % re.escape(sid),
                      self.raw, re.S)
        return m.group(0) if m else None

    def replies(self, sid, since=0):
        return [s for s in self.stanzas[since:] if s.get("id") == sid]

    async def error(self, sid, since=0):
        """The error answering id sid: (type, condition, text, element)."""
        e = await self.wait_for(lambda s: s.get("id") == sid and s.get("type") == "error",
                                "error for id %s" % sid, since)
        return parse_error(e)

    async def iq(self, xml, sid):
        since = self.mark()
        self.send(xml)
        return await self.wait_for(lambda s: local(s.tag) == "iq" and s.get("id") == sid,
                                   "answer to iq %s" % sid, since)


def parse_error(e):
    err = e.find("{%s}error" % e.tag.split("}")[0][1:])
    assert err is not None, "no <error/> in %s" % ET.tostring(e, "unicode")
    cond = [local(c.tag) for c in err if c.tag.startswith("{%s}" % NS_STANZAS) and
            local(c.tag) != "text"]
    text = err.findtext("{%s}text" % NS_STANZAS)
    return err.get("type"), cond[0] if cond else None, text, e


# ---- helpers on the clients' side ----

def by_id(c, sid, since=0):
    return [s for s in c.stanzas[since:] if s["id"] == sid]


async def barrier(comp, clients, tag):
    """Markers to every client's full JID, sent after whatever came before
    on the component stream; returns when every client has its own and
    the component has the answer to a ping sent after them."""
    for i, c in enumerate(clients):
        comp.send("<message from='%s' to='%s' id='%s-%d' type='headline'><body>mark</body>"
                  "</message>" % (CH, c.boundjid.full, tag, i))
    await asyncio.gather(*(c.wait_for(lambda s, i=i: s["id"] == "%s-%d" % (tag, i),
                                      "marker %s-%d" % (tag, i)) for i, c in enumerate(clients)))
    # And whatever the batch sent back to the component is ahead of the
    # answer to this ping.
    pong = await comp.iq("<iq type='get' from='%s' to='a.test' id='%s-ping'>"
                         "<ping xmlns='urn:xmpp:ping'/></iq>" % (CH, tag), tag + "-ping")
    assert pong.get("type") == "result", ET.tostring(pong, "unicode")


def canon(el, skip=("id",)):
    """A stanza as a comparable value: name, attributes but skip, and each
    child serialised."""
    attrs = tuple(sorted((k, v) for k, v in el.attrib.items() if k not in skip))
    return (local(el.tag), attrs, tuple(ET.tostring(ch, "unicode") for ch in el))


def form_fields(query):
    """FORM_TYPE -> {var: [values]} of the XEP-0128 forms in a disco#info
    <query/>, with each form's type and each field's type."""
    forms = {}
    for x in query.findall("{%s}x" % NS_DATA):
        fields, ftype = {}, None
        for f in x.findall("{%s}field" % NS_DATA):
            vals = [v.text for v in f.findall("{%s}value" % NS_DATA)]
            if f.get("var") == "FORM_TYPE":
                ftype = (vals[0] if vals else None, f.get("type"))
            else:
                fields[f.get("var")] = vals
        forms[ftype[0] if ftype else None] = (x.get("type"), ftype, fields)
    return forms


def check_disco(query, limit, who):
    feats = [f.get("var") for f in query.findall("{%s}feature" % NS_DISCO)]
    assert NS_ADDR in feats, "%s: disco#info of a.test lacks %s: %s" % (who, NS_ADDR, feats)
    forms = form_fields(query)
    assert NS_ADDR in forms, "%s: no form %s in %s" % (who, NS_ADDR, ET.tostring(query, "unicode"))
    xtype, ftype, fields = forms[NS_ADDR]
    assert xtype == "result", "%s: form type %s" % (who, xtype)
    assert ftype == (NS_ADDR, "hidden"), "%s: FORM_TYPE %s" % (who, ftype)
    want = {"presence": [str(limit)], "message": [str(limit)]}
    assert fields == want, "%s: form fields %s, want %s" % (who, fields, want)
    n = len([x for x in query.findall("{%s}x" % NS_DATA)
             if any(f.get("var") == "FORM_TYPE" and f.findtext("{%s}value" % NS_DATA) == NS_ADDR
                    for f in x.findall("{%s}field" % NS_DATA))])
    assert n == 1, "%s: %d forms of %s" % (who, n, NS_ADDR)


async def disco_comp(comp, sid):
    iq = await comp.iq("<iq type='get' from='%s' to='a.test' id='%s'><query xmlns='%s'/></iq>"
                       % (CH, sid, NS_DISCO), sid)
    assert iq.get("type") == "result", "disco#info failed: %s" % ET.tostring(iq, "unicode")
    return iq.find("{%s}query" % NS_DISCO)


async def disco_client(c):
    iq = await c.plugin["xep_0030"].get_info(jid="a.test", cached=False)
    return iq.xml.find("{%s}query" % NS_DISCO)


# ---- config reload ----

def set_limit(limit):
    """Rewrites chanstat_multicast_limit in the config (None: the line
    goes, the default applies) and has Prosody reload it."""
    with open(CFG) as f:
        text = f.read()
    line = "    chanstat_multicast_limit = %d\n" % limit if limit is not None else ""
    new, n = re.subn(r"(?m)^[ \t]*chanstat_multicast_limit = \d+\n", line, text)
    if n == 0:
        new = text.replace('    chanstat_multicast = {', line + '    chanstat_multicast = {', 1)
    assert new != text, "config not changed for limit %s" % limit
    with open(CFG, "w") as f:
        f.write(new)
    r = subprocess.run(["prosodyctl", "--config", CFG, "reload"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        # prosodyctl only signals the daemon; do it ourselves if it cannot.
        print("prosodyctl reload: exit %d: %s; sending SIGHUP" % (r.returncode, r.stdout))
        with open(PIDFILE) as f:
            os.kill(int(f.read()), signal.SIGHUP)


async def wait_limit(comp, limit, tag):
    """Until disco#info shows limit (the reload is asynchronous)."""
    deadline = time.monotonic() + TIMEOUT
    i = 0
    while True:
        i += 1
        q = await disco_comp(comp, "%s-%d" % (tag, i))
        try:
            check_disco(q, limit, "after reload")
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


# ---- the cases ----

async def case_disco(comp, w1):
    check_disco(await disco_client(w1), 10, "client w1")
    check_disco(await disco_comp(comp, "disco-a"), 10, "component")
    print("a) disco#info: feature and form, presence/message = 10, for a client and the component")


async def case_presence(comp, w1, w2a, w2b, w3a, w3b, w4):
    everyone = [w1, w2a, w2b, w3a, w3b, w4]
    marks = [c.mark() for c in everyone]
    cm = comp.mark()
    # The same presence sent directly, for comparison.
    for j, sid in (("w1@a.test", "d1"), ("w2@a.test", "d2"), ("w3@a.test/r1", "d3"),
                   ("w4@a.test", "d4")):
        comp.send("<presence from='%s' to='%s' id='%s'>%s</presence>" % (CH, j, sid, PRES_BODY))
    comp.send("<presence from='%s' to='a.test' id='m1f'>%s%s</presence>" % (
        CH, addresses("w1@a.test", "w2@a.test", "w3@a.test/r1", "w4@a.test", "W1@A.test",
                      "w5@a.test", "ghost@a.test"), PRES_BODY))
    await barrier(comp, everyone, "mk-b1")
    want = {id(w1): ("d1", 1), id(w2a): ("d2", 1), id(w2b): ("d2", 1), id(w3a): ("d3", 1),
            id(w3b): ("d3", 0), id(w4): ("d4", 1)}
    for c, m in zip(everyone, marks):
        direct, n = want[id(c)]
        got = by_id(c, "m1f", m)
        assert len(got) == n, "%s got the batch %d times, want %d: %s" % (
            c.boundjid, len(got), n, [str(s) for s in got])
        if n:
            d = by_id(c, direct, m)
            assert len(d) == 1, "%s: direct presence %s arrived %d times" % (c.boundjid, direct, len(d))
            assert canon(got[0].xml) == canon(d[0].xml), \
                "%s: batched copy differs from the direct one:\n  %s\n  %s" % (
                    c.boundjid, got[0], d[0])
            assert got[0]["from"] == CH and got[0]["show"] == "away" and \
                got[0]["status"] == "out", "%s: %s" % (c.boundjid, got[0])
            assert got[0].xml.find("{%s}addresses" % NS_ADDR) is None, \
                "%s: <addresses/> left in %s" % (c.boundjid, got[0])
    assert not comp.replies("m1f", cm), "the batch was answered: %s" % [
        ET.tostring(s, "unicode") for s in comp.replies("m1f", cm)]
    print("b) presence batch: w1 (listed twice) once, w2 on both resources, w3 on r1 only, w4; "
          "identical to the direct presence; no answer to the component")

    marks = [c.mark() for c in everyone]
    comp.send("<presence from='%s' to='a.test' id='m1u' type='unavailable'>%s"
              "<status>bye</status></presence>" % (
                  CH, addresses("w1@a.test", "w2@a.test", "w3@a.test/r1", "w4@a.test",
                                "w5@a.test")))
    await barrier(comp, everyone, "mk-b2")
    for c, m in zip(everyone, marks):
        n = want[id(c)][1]
        got = by_id(c, "m1u", m)
        assert len(got) == n, "%s got the unavailable batch %d times, want %d" % (
            c.boundjid, len(got), n)
        if n:
            assert got[0]["type"] == "unavailable" and got[0]["status"] == "bye" and \
                got[0].xml.find("{%s}addresses" % NS_ADDR) is None, str(got[0])
    print("b) unavailable batch: the same recipients, once each")


async def case_messages(comp, w1, w2a, w2b, w3a, w3b, w4):
    everyone = [w1, w2a, w2b, w3a, w3b, w4]
    # Headline: to every available resource with priority >= 0, dropped
    # for an offline user (mod_message's policy, as for a direct one).
    marks = [c.mark() for c in everyone]
    cm = comp.mark()
    comp.send("<message from='%s' to='w4@a.test' id='dh' type='headline'><body>news</body>"
              "</message>" % CH)
    comp.send("<message from='%s' to='a.test' id='mh' type='headline'>%s<body>news</body>"
              "</message>" % (CH, addresses("w1@a.test", "w2@a.test", "w4@a.test", "w5@a.test")))
    await barrier(comp, everyone, "mk-b3")
    for c, m in zip(everyone, marks):
        n = 0 if c in (w3a, w3b) else 1
        got = by_id(c, "mh", m)
        assert len(got) == n, "%s got the headline batch %d times, want %d" % (c.boundjid, len(got), n)
    d = by_id(w4, "dh", marks[-1])[0]
    assert canon(by_id(w4, "mh", marks[-1])[0].xml) == canon(d.xml), "headline differs from direct"

    # Normal message: an offline user's copy is stored by Prosody's offline
    # module; an address that is no account gets the error a direct
    # message would get (from that address, with the batch's id).
    marks = [c.mark() for c in everyone]
    comp.send("<message from='%s' to='w1@a.test' id='dn'><body>hello</body></message>" % CH)
    comp.send("<message from='%s' to='a.test' id='mn'>%s<body>hello</body></message>" % (
        CH, addresses("w1@a.test", "w4@a.test", "w5@a.test", "ghost@a.test")))
    await barrier(comp, everyone, "mk-b4")
    for c, m in zip(everyone, marks):
        n = 1 if c in (w1, w4) else 0
        got = by_id(c, "mn", m)
        assert len(got) == n, "%s got the message batch %d times, want %d" % (c.boundjid, len(got), n)
    d = by_id(w1, "dn", marks[0])[0]
    assert canon(by_id(w1, "mn", marks[0])[0].xml) == canon(d.xml), "message differs from direct"
    errs = comp.replies("mn", cm)
    assert len(errs) == 1 and errs[0].get("from") == "ghost@a.test", \
        "want one error from ghost@a.test, got %s" % [ET.tostring(e, "unicode") for e in errs]
    t, cond, _, _ = parse_error(errs[0])
    assert cond == "service-unavailable", "ghost: %s" % cond
    assert not [s for s in comp.replies("mh", cm)], "the headline batch was answered"

    # to, cc and bcc: to/cc recipients are shown, marked delivered; bcc is
    # gone; a carried replyto stays.
    marks = [c.mark() for c in everyone]
    comp.send("<message from='%s' to='a.test' id='mtc'><addresses xmlns='%s'>"
              "<address type='to' jid='w1@a.test'/><address type='cc' jid='w4@a.test'/>"
              "<address type='bcc' jid='w3@a.test/r1'/>"
              "<address type='replyto' jid='help@status.a.test'/></addresses>"
              "<body>to and cc</body></message>" % (CH, NS_ADDR))
    await barrier(comp, everyone, "mk-b5")
    for c, m in zip(everyone, marks):
        n = 1 if c in (w1, w4, w3a) else 0
        got = by_id(c, "mtc", m)
        assert len(got) == n, "%s got the to/cc batch %d times, want %d" % (c.boundjid, len(got), n)
        if n:
            a = got[0].xml.find("{%s}addresses" % NS_ADDR)
            assert a is not None, "%s: to/cc copy without <addresses/>" % c.boundjid
            seen = [(x.get("type"), x.get("jid"), x.get("delivered")) for x in a]
            assert seen == [("to", "w1@a.test", "true"), ("cc", "w4@a.test", "true"),
                            ("replyto", "help@status.a.test", None)], \
                "%s: addresses %s" % (c.boundjid, seen)
    print("b) message batches: headline to online resources only, normal message stored for "
          "offline w5, error from ghost@a.test with the batch id; to/cc shown as delivered, "
          "bcc hidden")


async def case_blocking(comp, w1, w4, everyone):
    """w4 blocks the sender (XEP-0191): its copies are Prosody's to drop
    or bounce, as for stanzas sent directly; w1's still arrive."""
    await w4.plugin["xep_0191"].block([CH])
    marks = [c.mark() for c in everyone]
    since = comp.mark()
    comp.send("<presence from='%s' to='a.test' id='k1'>%s%s</presence>" % (
        CH, addresses("w1@a.test", "w4@a.test"), PRES_BODY))
    comp.send("<message from='%s' to='a.test' id='k2'>%s<body>blocked?</body></message>" % (
        CH, addresses("w1@a.test", "w4@a.test")))
    await barrier(comp, [w1], "mk-k")
    for c, m in zip(everyone, marks):
        for sid in ("k1", "k2"):
            n = 1 if c is w1 else 0
            assert len(by_id(c, sid, m)) == n, "%s got %s %d times, want %d" % (
                c.boundjid, sid, len(by_id(c, sid, m)), n)
    # mod_blocklist bounces a normal message from a blocked sender to a
    # bare JID, as it would bounce one sent directly.
    errs = comp.replies("k2", since)
    assert [e.get("from") for e in errs] == ["w4@a.test"], [ET.tostring(e, "unicode") for e in errs]
    assert parse_error(errs[0])[1] == "service-unavailable", ET.tostring(errs[0], "unicode")
    assert not comp.replies("k1", since), "the presence batch was answered"
    await w4.plugin["xep_0191"].unblock([CH])
    print("b) w4 blocks the component: its copies dropped (presence) or bounced from w4@a.test "
          "(message), w1's delivered")


async def expect_refused(comp, watchers, xml, sid, etype, cond, text_has, who=None):
    """Sends xml (by who, default comp) and expects an error reply with the
    batch's id from a.test, and nothing at any watcher."""
    who = who or comp
    marks = [c.mark() for c in watchers]
    since = who.mark()
    if isinstance(who, Component):
        who.send(xml)
        t, c, text, e = await who.error(sid, since)
        frm, to = e.get("from"), e.get("to")
        shown = who.wire(sid) or ET.tostring(e, "unicode")
    else:
        who.send_raw(xml)
        s = await who.wait_for(lambda s: s["id"] == sid and s["type"] == "error",
                               "error for %s" % sid, since=since)
        shown = str(s)
        t, c, text = s["error"]["type"], s["error"]["condition"], s["error"]["text"]
        frm, to = s["from"].full, s["to"].full
    assert (t, c) == (etype, cond), "%s: error %s/%s (%s), want %s/%s: %s" % (
        sid, t, c, text, etype, cond, shown)
    assert frm == "a.test", "%s: error from %s" % (sid, frm)
    if text_has:
        assert text and text_has in text, "%s: text %r lacks %r" % (sid, text, text_has)
    await barrier(comp, watchers, "mk-" + sid)
    for w, m in zip(watchers, marks):
        got = [s for s in by_id(w, sid, m) if s["type"] != "error"]
        assert not got, "%s: refused batch %s delivered: %s" % (w.boundjid, sid, got[0])
    return shown


async def case_refusals(comp, other, w1, w4, everyone):
    two = addresses("w1@a.test", "w4@a.test")
    ex = await expect_refused(comp, everyone, "<presence from='news@other.a.test' to='a.test' "
                              "id='u1'>%s%s</presence>" % (two, PRES_BODY), "u1",
                              "cancel", "forbidden", None, who=other)
    print("c) untrusted component: %s" % ex)
    await expect_refused(comp, everyone, "<message from='other.a.test' to='a.test' id='u2' "
                         "type='headline'>%s<body>x</body></message>" % two, "u2",
                         "cancel", "forbidden", None, who=other)
    await expect_refused(comp, everyone, "<presence to='a.test' id='c1'>%s</presence>" % two,
                         "c1", "cancel", "forbidden", None, who=w4)
    print("c) untrusted component (presence, message) and a client: forbidden, nothing delivered")

    bad = [("f1", "x@b.test"), ("f2", "a@status.a.test"), ("f3", "a.test"),
           ("f4", "w@@a.test"), ("f5", "status.a.test")]
    for sid, j in bad:
        ex = await expect_refused(
            comp, everyone, "<presence from='%s' to='a.test' id='%s'>%s%s</presence>" % (
                CH, sid, addresses("w1@a.test", j, "w4@a.test"), PRES_BODY),
            sid, "modify", "not-acceptable", j)
        if sid == "f1":
            print("c) foreign address: %s" % ex)
    await expect_refused(comp, everyone, "<message from='%s' to='a.test' id='f6'><addresses "
                         "xmlns='%s'><address type='bcc' jid='w1@a.test'/><address type='to' "
                         "uri='mailto:x@example.org'/></addresses><body>x</body></message>"
                         % (CH, NS_ADDR), "f6", "modify", "not-acceptable", "mailto:x@example.org")
    await expect_refused(comp, everyone, "<presence from='%s' to='a.test' id='f7'><addresses "
                         "xmlns='%s'><address type='bcc' jid='w1@a.test'/><address type='bcc'/>"
                         "</addresses></presence>" % (CH, NS_ADDR), "f7",
                         "modify", "not-acceptable", "jid")
    print("c) foreign, host-only, malformed, uri and jid-less addresses: not-acceptable naming "
          "the address, nothing delivered")

    await expect_refused(comp, everyone, "<presence from='%s' to='a.test' id='e1'><addresses "
                         "xmlns='%s'/></presence>" % (CH, NS_ADDR), "e1", "modify", "bad-request",
                         None)
    await expect_refused(comp, everyone, "<presence from='%s' to='a.test' id='e2'><addresses "
                         "xmlns='%s'><address type='replyto' jid='w1@a.test'/><address type='bcc'"
                         " jid='w4@a.test' delivered='true'/></addresses></presence>"
                         % (CH, NS_ADDR), "e2", "modify", "bad-request", None)
    await expect_refused(comp, everyone, "<presence from='%s' to='a.test' id='e3' type='probe'>"
                         "%s</presence>" % (CH, two), "e3", "modify", "bad-request", None)
    await expect_refused(comp, everyone, "<presence from='%s' to='a.test' id='e4' type='available'>"
                         "%s</presence>" % (CH, two), "e4", "modify", "bad-request", None)
    await expect_refused(comp, everyone, "<message from='%s' to='a.test' id='e5' type='groupchat'>"
                         "%s<body>x</body></message>" % (CH, two), "e5", "modify", "bad-request",
                         "groupchat")
    print("c) no deliverable address, a probe, type='available', a groupchat message: bad-request")

    # An error is never answered (no loops between two services), nor
    # delivered.
    marks = [c.mark() for c in everyone]
    since = comp.mark()
    comp.send("<presence from='%s' to='a.test' id='x1' type='error'>%s<error type='cancel'>"
              "<gone xmlns='%s'/></error></presence>" % (CH, two, NS_STANZAS))
    await barrier(comp, everyone, "mk-x1")
    assert not comp.replies("x1", since), "an error batch was answered"
    for w, m in zip(everyone, marks):
        assert not by_id(w, "x1", m), "%s: an error batch was delivered" % w.boundjid
    print("c) a presence error with <addresses/>: neither answered nor delivered")

    # Without <addresses/> the module stays out: Prosody's own answer.
    since = comp.mark()
    comp.send("<message from='%s' to='a.test' id='p1'><body>hi</body></message>" % CH)
    t, c, text, e = await comp.error("p1", since)
    assert c == "service-unavailable", "message to the host without addresses: %s" % (
        ET.tostring(e, "unicode"))
    print("c) a message to the host without <addresses/>: Prosody's own service-unavailable")


async def case_limit(comp, w1, w2a, w2b, w3a, w3b, w4, everyone):
    set_limit(3)
    await wait_limit(comp, 3, "disco-l3")
    four = addresses("w1@a.test", "w2@a.test", "w3@a.test/r1", "w4@a.test")
    ex = await expect_refused(comp, everyone, "<presence from='%s' to='a.test' id='l1'>%s%s"
                              "</presence>" % (CH, four, PRES_BODY), "l1", "modify",
                              "not-acceptable", "Too many receiver fields")
    print("c) limit lowered to 3 by a reload: disco shows 3; 4 addresses: %s" % ex)
    marks = [c.mark() for c in everyone]
    comp.send("<presence from='%s' to='a.test' id='l2'>%s%s</presence>" % (
        CH, addresses("w1@a.test", "w3@a.test/r1", "w4@a.test"), PRES_BODY))
    await barrier(comp, everyone, "mk-l2")
    for c, m in zip(everyone, marks):
        n = 1 if c in (w1, w3a, w4) else 0
        assert len(by_id(c, "l2", m)) == n, "%s: batch of 3 at limit 3: %d" % (
            c.boundjid, len(by_id(c, "l2", m)))
    set_limit(5)
    await wait_limit(comp, 5, "disco-l5")
    marks = [c.mark() for c in everyone]
    comp.send("<presence from='%s' to='a.test' id='l3'>%s%s</presence>" % (CH, four, PRES_BODY))
    await barrier(comp, everyone, "mk-l3")
    for c, m in zip(everyone, marks):
        n = 1 if c in (w1, w2a, w2b, w3a, w4) else 0
        assert len(by_id(c, "l3", m)) == n, "%s: batch of 4 at limit 5" % c.boundjid
    print("c) 3 addresses at limit 3 delivered; raised to 5: disco shows 5, 4 addresses delivered")
    set_limit(None)
    await wait_limit(comp, 1000, "disco-ld")
    print("c) limit line removed: disco shows the default, 1000")


async def case_big(comp):
    online = [Client("m%d@a.test" % i, "m%dpw" % i, P) for i in range(1, BIG_ONLINE + 1)]
    t0 = time.monotonic()
    for k in range(0, len(online), 50):
        await asyncio.gather(*(c.login() for c in online[k:k + 50]))
    print("d) %d clients logged in in %.1fs" % (len(online), time.monotonic() - t0))
    cm = comp.mark()
    marks = [c.mark() for c in online]
    jids = ["m%d@a.test" % i for i in range(1, BIG_TOTAL + 1)]
    xml = "<presence from='%s' to='a.test' id='big1'>%s%s</presence>" % (
        CH, addresses(*jids), PRES_BODY)
    t0 = time.monotonic()
    comp.send(xml)
    await barrier(comp, online, "mk-big")
    dt = time.monotonic() - t0
    for c, m in zip(online, marks):
        got = by_id(c, "big1", m)
        assert len(got) == 1, "%s got the big batch %d times" % (c.boundjid, len(got))
        assert got[0]["show"] == "away" and got[0].xml.find("{%s}addresses" % NS_ADDR) is None
    assert not comp.replies("big1", cm), "the big batch was answered"
    with open(PIDFILE) as f:
        os.kill(int(f.read()), 0)
    check_disco(await disco_comp(comp, "disco-big"), 1000, "after the big batch")
    print("d) %d addresses (%d bytes), %d online: each once, in %.2fs with the markers" % (
        BIG_TOTAL, len(xml), len(online), dt))
    for c in online:
        c.disconnect()


async def main():
    comp = Component("status.a.test", "s3cret")
    other = Component("other.a.test", "0ther")
    await comp.connect()
    await other.connect()

    w1 = Client("w1@a.test", "w1pw", P, resource="r1")
    w1.register_plugin("xep_0030")
    w2a = Client("w2@a.test", "w2pw", P, resource="r1")
    w2b = Client("w2@a.test", "w2pw", P, resource="r2")
    w3a = Client("w3@a.test", "w3pw", P, resource="r1")
    w3b = Client("w3@a.test", "w3pw", P, resource="r2")
    w4 = Client("w4@a.test", "w4pw", P, resource="r1")
    w4.register_plugin("xep_0191")
    everyone = [w1, w2a, w2b, w3a, w3b, w4]
    await asyncio.gather(*(c.login() for c in everyone))

    await case_disco(comp, w1)
    await case_presence(comp, *everyone)
    await case_messages(comp, *everyone)

    # w5 was offline: its stored copy of the normal message comes at login
    # (once), the presence and headline batches are gone.
    w5 = Client("w5@a.test", "w5pw", P, resource="r1")
    await w5.login()
    # Prosody sends the stored messages when it handles the initial
    # presence, which the barrier (another stream) does not wait for.
    await w5.wait_for(lambda s: s["id"] == "mn", "the stored message")
    await barrier(comp, [w5], "mk-w5")
    assert len(by_id(w5, "mn")) == 1, "w5 got the stored message %d times" % len(by_id(w5, "mn"))
    assert by_id(w5, "mn")[0]["delay"]["stamp"], "stored message without delay stamp"
    for sid in ("m1f", "m1u", "mh", "mtc"):
        assert not by_id(w5, sid), "offline w5 got %s at login" % sid
    everyone.append(w5)
    print("b) offline w5: the normal message from the store at login, once; nothing else")
    await case_blocking(comp, w1, w4, everyone)

    await case_refusals(comp, other, w1, w4, everyone)
    await case_limit(comp, w1, w2a, w2b, w3a, w3b, w4, everyone)
    await case_big(comp)
    for c in everyone:
        c.disconnect()


run(main)
