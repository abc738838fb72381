"""A remote channel seen through the watchers' own node (doc/federation.md):
20 users of a.test watch carol@status.b.test at
carol\\40status.b.test@status.a.test.  The home sees one subscriber
(status.a.test: one roster row, one lease), a status change crosses s2s
once and reaches all 20; a message and its reply travel the mirror path
on stable addresses with id and body intact; addresses that name no
channel, or a domain with no server, are refused with unsubscribed; the
owner's connection dropping makes every watcher see unavailable."""
import asyncio
import os
import socket
import time

from fedtest import A, B, NS_FED, Daemon, count, cs_log, log_quiet, log_size, on, one, \
    s2s_presences, sql
from xmpptest import run

N = 20
CH = "carol@status.b.test"
ESC = "carol\\40status.b.test@status.a.test"     # what a.test's users watch
RELAY_W1 = "w1\\40a.test@status.b.test"           # w1 as carol sees it
NOT_AVAILABLE = ("unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed",
                 "probe", "error")
ERRORS = []   # failures after which the later steps still mean something
REQUEST_TIMEOUT = 3                               # [federation] of status.a.test


def status_pred(frm, show, status):
    def pred(s):
        # (slixmpp reports the show of an available presence as its type.)
        return (s.name == "presence" and s["from"].bare == frm
                and s["type"] not in NOT_AVAILABLE and s["show"] == show
                and s["status"] == status)
    return pred


async def many_watchers(carol, ws):
    # All 20 ask at once, before status.a.test knows the channel: the
    # first starts discovery and the upstream subscription, the others
    # wait as pending; every one is answered.
    for w in ws:
        w.send_presence(pto=ESC, ptype="subscribe")
    await asyncio.gather(*(w.expect_presence(ESC, "subscribed") for w in ws))
    await asyncio.gather(*(w.expect_presence(ESC, show="away", status="at work") for w in ws))
    # carol was online all along: nobody may be told she is offline on the
    # way (after `subscribed`, before her status).
    flashed = []
    for w in ws:
        seq = [s["type"] for s in w.stanzas if s.name == "presence" and s["from"].bare == ESC]
        if "unavailable" in seq:
            flashed.append("%s: %s" % (w.boundjid.bare, " ".join(seq)))
    if flashed:
        ERRORS.append("%d of %d watchers were told unavailable while carol was online "
                      "(presence types from %s in order):\n    %s" % (
                          len(flashed), N, ESC, "\n    ".join(flashed[:3])))
        print("FAILED: " + ERRORS[-1])

    # The home sees one subscriber for all of them.
    # (Besides the owner's row: the channel watches carol@b.test.)
    rows = sql("B", "SELECT jid, subscription FROM roster WHERE channel='carol' "
               "AND jid != 'carol@b.test'")
    assert rows == [("status.a.test", "from")], "home roster of carol: %r" % rows
    leases = sql("B", "SELECT node FROM node_lease WHERE channel='carol'")
    assert leases == [("status.a.test",)], "home leases of carol: %r" % leases
    n = count(cs_log("B"), "home: node status.a.test subscribed to carol")
    assert n == 1, "the home logged %d node subscriptions" % n
    watching = one("A", "SELECT count(*) FROM remote_watcher WHERE remote=? AND state='watching'",
                   CH)
    assert watching == N, "status.a.test stores %r watching rows, want %d" % (watching, N)

    # One status change: exactly one presence crosses s2s (b.test ->
    # a.test), and all 20 watchers see it.
    logs = [os.environ["A_LOG"], os.environ["B_LOG"]]
    await log_quiet(logs)
    off_b, off_a = log_size(logs[1]), log_size(logs[0])
    marks = [w.mark() for w in ws]
    t0 = time.monotonic()
    carol.send_presence(pshow="dnd", pstatus="in a meeting")
    await asyncio.gather(*(w.expect_presence(ESC, show="dnd", status="in a meeting", since=m)
                           for w, m in zip(ws, marks)))
    took = time.monotonic() - t0
    await log_quiet(logs)
    sent = s2s_presences(logs[1], off_b)
    assert len(sent) == 1, "b.test wrote %d presences to s2s for one change:\n  %s" % (
        len(sent), "\n  ".join(sent))
    assert "to='status.a.test'" in sent[0] or 'to="status.a.test"' in sent[0], sent[0]
    back = s2s_presences(logs[0], off_a)
    assert not back, "a.test wrote presences to s2s meanwhile:\n  %s" % "\n  ".join(back)
    print("one status change: 1 s2s presence, %d watchers in %.0f ms" % (N, 1000 * took))
    # No duplicate fan-out: each watcher got the change exactly once.
    for w, m in zip(ws, marks):
        got = [s for s in w.stanzas[m:] if status_pred(ESC, "dnd", "in a meeting")(s)]
        assert len(got) == 1, "%s got the change %d times" % (w.boundjid, len(got))


async def messages(carol, w1):
    # w1 writes to the escaped address; carol hears it from w1's relay
    # address at her home; her reply reaches w1 from the address it wrote
    # to.  Ids and bodies pass unchanged, <vouch/> never reaches a user.
    m = carol.mark()
    msg = w1.make_message(mto=ESC, mbody="hello carol, from a.test", mtype="chat")
    msg["id"] = "fed-msg-1"
    msg.send()
    got = await carol.wait_for(lambda s: s.name == "message" and s["type"] != "error"
                               and s["body"] == "hello carol, from a.test",
                               "w1's message", since=m)
    assert got["from"].bare == RELAY_W1, "carol got w1's message from %s" % got["from"]
    assert got["id"] == "fed-msg-1", "id changed on the way: %r" % got["id"]
    assert NS_FED not in str(got), "federation payload reached carol: %s" % got

    m = w1.mark()
    reply = carol.make_message(mto=RELAY_W1, mbody="hi w1 <&> from b.test", mtype="chat")
    reply["id"] = "fed-reply-1"
    reply.send()
    got = await w1.wait_for(lambda s: s.name == "message" and s["type"] != "error"
                            and s["body"] == "hi w1 <&> from b.test", "carol's reply", since=m)
    assert got["from"].bare == ESC, "w1 got the reply from %s" % got["from"]
    assert got["id"] == "fed-reply-1", "id changed on the way: %r" % got["id"]
    assert NS_FED not in str(got), "federation payload reached w1: %s" % got


async def unknown(w):
    # No such channel at a chanstat node: unsubscribed.
    nobody = "nobody\\40status.b.test@status.a.test"
    w.send_presence(pto=nobody, ptype="subscribe")
    await w.expect_presence(nobody, "unsubscribed")
    assert not sql("A", "SELECT 1 FROM remote_watcher WHERE remote='nobody@status.b.test'"), \
        "a refused watcher stayed stored"

    # A domain no server answers for: unsubscribed within request_timeout.
    nosuch = "x\\40nosuch.test@status.a.test"
    t0 = time.monotonic()
    w.send_presence(pto=nosuch, ptype="subscribe")
    await w.expect_presence(nosuch, "unsubscribed", timeout=REQUEST_TIMEOUT + 2)
    print("x@nosuch.test refused after %.1f s" % (time.monotonic() - t0))
    assert not sql("A", "SELECT 1 FROM remote_watcher WHERE remote='x@nosuch.test'"), \
        "a refused watcher stayed stored"

    # A domain whose server accepts the s2s connection and never speaks:
    # Prosody bounces nothing for a long time, status.a.test gives up
    # after request_timeout.
    hole = socket.socket()
    hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hole.bind((os.environ["HOLE_ADDR"], 5269))
    hole.listen(16)
    silent = "x\\40hole.test@status.a.test"
    t0 = time.monotonic()
    w.send_presence(pto=silent, ptype="subscribe")
    await w.expect_presence(silent, "unsubscribed", timeout=REQUEST_TIMEOUT + 2)
    took = time.monotonic() - t0
    print("x@hole.test refused after %.1f s" % took)
    assert took >= REQUEST_TIMEOUT - 1, "refused before request_timeout: not the timer"
    assert not sql("A", "SELECT 1 FROM remote_watcher WHERE remote='x@hole.test'"), \
        "a refused watcher stayed stored"
    hole.close()
    for d in (Daemon("A"), Daemon("B")):
        assert d.alive(), "chanstatd of %s died" % d.domain
    # ...and still answers: a probe of the remote channel gets its status.
    m = w.mark()
    w.send_presence(pto=ESC, ptype="probe")
    await w.expect_presence(ESC, show="dnd", status="in a meeting", since=m)


async def main():
    carol = on(B, "carol@b.test", auto_accept=True)  # lets her channel see her presence
    await carol.login(send_presence=False)
    carol.send_presence(pshow="away", pstatus="at work")

    ws = [on(A, "w%d@a.test" % i) for i in range(1, N + 1)]
    await asyncio.gather(*(w.login() for w in ws))
    await many_watchers(carol, ws)
    await messages(carol, ws[0])
    await unknown(ws[-1])

    # carol's connection dies without a goodbye: Prosody b.test tells the
    # home, the home tells status.a.test, every watcher sees unavailable.
    marks = [w.mark() for w in ws]
    carol.transport.abort()
    await asyncio.gather(*(w.expect_presence(ESC, "unavailable", since=m, timeout=20)
                           for w, m in zip(ws, marks)))
    for w in ws:
        w.disconnect()
    assert not ERRORS, "\n  ".join(ERRORS)


run(main)
