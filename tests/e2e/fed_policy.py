"""An approve channel across domains (doc/federation.md, "Authorisation
per watcher"): w2@a.test asks through status.a.test, the owner dave@b.test
decides on the request that reaches him from w2's relay address at the
home, w2 is told from the escaped address; w3 is denied.  The home keeps
the vouched watcher in watcher_via and sends status once, to the node.

Then a forged claim: a component of a.test that is not a chanstat node
(rogue.a.test, a raw XEP-0114 connection) vouches for a user of another
domain; the home refuses with forbidden, logs it and stores nothing."""
import asyncio
import hashlib
import os
import re

from fedtest import A, B, NS_FED, cs_log, log_quiet, log_size, on, one, \
    s2s_presences, sql, wait_log
from xmpptest import TIMEOUT, complete_command, run

CH = "dave@status.b.test"
ESC = "dave\\40status.b.test@status.a.test"
RELAY = "%s\\40a.test@status.b.test"              # a user of a.test as dave sees it


def presence_from(frm, ptype):
    return lambda s: s.name == "presence" and s["from"].bare == frm and s["type"] == ptype


async def approve(dave):
    w2 = on(A, "w2@a.test")
    w3 = on(A, "w3@a.test")
    await asyncio.gather(w2.login(), w3.login())

    # w2 asks; the request reaches dave from w2's relay address, exactly
    # as if w2 had asked the channel directly; nothing reaches w2 before
    # dave decides.
    m = dave.mark()
    w2.send_presence(pto=ESC, ptype="subscribe")
    req = await dave.wait_for(presence_from(RELAY % "w2", "subscribe"), "w2's request", since=m)
    assert NS_FED not in str(req), "federation payload reached dave: %s" % req
    await w2.expect_none(lambda s: s.name == "presence" and s["from"].bare == ESC,
                         "an answer before dave decided", 0.5)
    rows = sql("A", "SELECT state FROM remote_watcher WHERE remote=? AND jid='w2@a.test'", CH)
    assert rows == [("pending",)], "status.a.test stores w2 as %r" % rows

    m = w2.mark()
    dave.send_presence(pto=RELAY % "w2", ptype="subscribed")
    await w2.expect_presence(ESC, "subscribed", since=m)
    await w2.expect_presence(ESC, show="chat", status="taking questions", since=m)

    # The home: w2 is dave's watcher through status.a.test; the node is
    # subscribed once, with a lease.
    via = sql("B", "SELECT jid, node FROM watcher_via WHERE channel='dave'")
    assert via == [("w2@a.test", "status.a.test")], "watcher_via of dave: %r" % via
    sub = one("B", "SELECT subscription FROM roster WHERE channel='dave' AND jid='w2@a.test'")
    assert sub == "from", "w2's roster row at the home: %r" % sub
    nodes = sql("B", "SELECT jid, subscription FROM roster WHERE channel='dave' "
                "AND jid='status.a.test'")
    assert nodes == [("status.a.test", "from")], "node rows of dave: %r" % nodes
    assert sql("B", "SELECT node FROM node_lease WHERE channel='dave'") == [("status.a.test",)]
    state = one("A", "SELECT state FROM remote_watcher WHERE remote=? AND jid='w2@a.test'", CH)
    assert state == "watching", "status.a.test stores w2 as %r" % state

    # w3 asks and dave denies: unsubscribed from the escaped address,
    # nothing stored for w3 on either side.
    m = dave.mark()
    w3.send_presence(pto=ESC, ptype="subscribe")
    await dave.wait_for(presence_from(RELAY % "w3", "subscribe"), "w3's request", since=m)
    m = w3.mark()
    dave.send_presence(pto=RELAY % "w3", ptype="unsubscribed")
    await w3.expect_presence(ESC, "unsubscribed", since=m)
    sub = one("B", "SELECT subscription FROM roster WHERE channel='dave' AND jid='w3@a.test'")
    assert sub in (None, "none"), "denied w3 has a roster row %r at the home" % sub
    assert not sql("A", "SELECT 1 FROM remote_watcher WHERE jid='w3@a.test'"), \
        "denied w3 stayed stored at status.a.test"

    # A status change: one presence across s2s (to the node, never to w2
    # directly); w2 sees it, w3 does not.
    logs = [os.environ["A_LOG"], os.environ["B_LOG"]]
    await log_quiet(logs)
    off = log_size(logs[1])
    m2, m3 = w2.mark(), w3.mark()
    dave.send_presence(pshow="away", pstatus="back at two")
    await w2.expect_presence(ESC, show="away", status="back at two", since=m2)
    await log_quiet(logs)
    sent = s2s_presences(logs[1], off)
    assert len(sent) == 1, "b.test wrote %d presences to s2s for one change:\n  %s" % (
        len(sent), "\n  ".join(sent))
    assert "status.a.test" in sent[0] and "w2" not in sent[0], sent[0]
    assert not [s for s in w3.stanzas[m3:] if s.name == "presence" and s["from"].bare == ESC
                and s["type"] not in ("unavailable", "unsubscribed")], \
        "denied w3 saw dave's status"

    # dave revokes w2 with the revoke command (his relay contact for w2
    # holds no subscription any more: doc/xmpp.md, Relay addresses): the
    # node hears it and ends w2's subscription; later changes no longer
    # reach w2.
    m = w2.mark()
    cmd = (await dave.plugin["xep_0050"].send_command(CH, "urn:chanstat:cmd:revoke"))["command"]
    opts = [o["value"] for o in cmd["form"].get_fields()["revoke"]["options"]]
    assert opts == ["w2@a.test"], opts
    form = dave.plugin["xep_0004"].make_form(ftype="submit")
    form.add_field(var="revoke", value=["w2@a.test"])
    done = await complete_command(dave, CH, "urn:chanstat:cmd:revoke", cmd["sessionid"], form)
    assert done["status"] == "completed" and "Revoked 1." in done["notes"][0][1], done
    await w2.expect_presence(ESC, "unsubscribed", since=m)
    await w2.expect_presence(ESC, "unavailable", since=m)
    assert not sql("A", "SELECT 1 FROM remote_watcher WHERE jid='w2@a.test'"), \
        "revoked w2 stayed stored at status.a.test"
    m = w2.mark()
    dave.send_presence(pshow="dnd", pstatus="gone")
    await w2.expect_none(lambda s: s.name == "presence" and s["from"].bare == ESC,
                         "status after revocation", 1.0)
    return w2, w3


# ---- a raw XEP-0114 component ----

class Component:
    def __init__(self, domain, secret, port):
        self.domain, self.secret, self.port = domain, secret, port
        self.buf = ""

    async def read_until(self, pattern, what):
        rx = re.compile(pattern, re.S)
        loop = asyncio.get_event_loop()
        deadline = loop.time() + TIMEOUT
        while True:
            m = rx.search(self.buf)
            if m:
                return m
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError("%s: no %s within %.0fs; got:\n%s" % (
                    self.domain, what, TIMEOUT, self.buf[-2000:]))
            try:
                data = await asyncio.wait_for(self.reader.read(65536), left)
            except asyncio.TimeoutError:
                continue
            if not data:
                raise AssertionError("%s: stream closed while waiting for %s; got:\n%s" % (
                    self.domain, what, self.buf[-2000:]))
            self.buf += data.decode("utf-8", "replace")

    async def connect(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.send("<stream:stream xmlns='jabber:component:accept' "
                  "xmlns:stream='http://etherx.jabber.org/streams' to='%s'>" % self.domain)
        m = await self.read_until(r"<stream:stream[^>]*\sid=['\"]([^'\"]+)['\"]", "stream header")
        digest = hashlib.sha1((m.group(1) + self.secret).encode()).hexdigest()
        self.send("<handshake>%s</handshake>" % digest)
        await self.read_until(r"<handshake\s*/>|<handshake></handshake>", "handshake answer")

    def send(self, data):
        self.writer.write(data.encode())

    def close(self):
        self.send("</stream:stream>")
        self.writer.close()


async def forged(dave):
    rogue = Component("rogue.a.test", os.environ["ROGUE_SECRET"], int(os.environ["A_COMP_PORT"]))
    await rogue.connect()
    m = dave.mark()
    rogue.send("<presence from='x\\40c.test@rogue.a.test' to='%s' type='subscribe' id='forged-1'>"
               "<vouch xmlns='%s'/></presence>" % (CH, NS_FED))
    err = await rogue.read_until(r"<presence\b[^>]*type=['\"]error['\"].*?</presence>",
                                 "presence error")
    stanza = err.group(0)
    assert "forbidden" in stanza, "the refusal is not forbidden: %s" % stanza
    assert "x\\40c.test@rogue.a.test" in stanza, "the error goes elsewhere: %s" % stanza
    await wait_log(cs_log("B"), "home: rogue.a.test may not vouch for x@c.test")
    # Nothing stored for the forged user, nothing asked of dave.
    assert not sql("B", "SELECT * FROM roster WHERE jid LIKE 'x@c.test%'"), "x@c.test stored"
    assert not sql("B", "SELECT * FROM watcher_via WHERE jid LIKE 'x@c.test%'"), \
        "x@c.test stored in watcher_via"
    await dave.expect_none(lambda s: s.name == "presence" and "c.test" in str(s["from"]),
                           "the forged request", 0.5)
    rogue.close()
    print("forged claim refused: %s" % stanza)


async def main():
    dave = on(B, "dave@b.test")
    for plugin in ("xep_0004", "xep_0030", "xep_0050"):
        dave.register_plugin(plugin)
    await dave.login()
    # The channel asks dave for his presence (Prosody replays the stored
    # request on his initial presence); he approves it.
    await dave.wait_for(presence_from(CH, "subscribe"), "the channel's request")
    dave.send_presence(pto=CH, ptype="subscribed")
    dave.send_presence(pshow="chat", pstatus="taking questions")

    w2, w3 = await approve(dave)
    await forged(dave)
    for c in (w2, w3, dave):
        c.disconnect()


run(main)
