"""Node subscriptions over time (doc/federation.md, "The node
subscription", "At the status service"), with the short timers of
fed_lease.test: status.a.test asks for a 6 s lease, renews 3 s before it
ends.

1. status.a.test killed (SIGKILL) while it has watchers, carol changes her
   status meanwhile, status.a.test restarted: the watchers converge to her
   true status within a few seconds and the home still has one roster row
   for the node.
2. status.b.test (the home) restarted with SIGTERM, then killed (SIGKILL)
   and restarted while carol changed: after carol's next
   change the watchers see it.
3. Renewals move the home's node_lease.expires forward and the lease never
   runs out while status.a.test lives; status.a.test killed: the home drops
   the node (log, roster row, lease) within lease + 2 s."""
import asyncio
import os
import signal
import time

from fedtest import A, B, Daemon, count, cs_log, log_size, on, one, sql, until, wait_log
from xmpptest import run

N = 5
CH = "carol@status.b.test"
ESC = "carol\\40status.b.test@status.a.test"
LEASE = 6
CONVERGE = 5          # "within a few seconds"
NOT_AVAILABLE = ("unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed",
                 "probe", "error")


def last_status(w):
    """What w's client shows for the channel now: (show, status) of the
    last available presence, or None after an unavailable."""
    cur = None
    for s in w.stanzas:
        if s.name != "presence" or s["from"].bare != ESC:
            continue
        if s["type"] == "unavailable":
            cur = None
        elif s["type"] not in NOT_AVAILABLE:
            cur = (s["show"], s["status"])
    return cur


def node_rows():
    return sql("B", "SELECT subscription FROM roster WHERE channel='carol' "
               "AND jid='status.a.test'")


ERRORS = []   # failures that leave the bed usable: the later steps still run


async def converge(ws, want, what, timeout=CONVERGE):
    def done():
        return all(last_status(w) == want for w in ws)
    try:
        took = await until(done, what, timeout=timeout, step=0.05)
    except AssertionError:
        ERRORS.append("%s: after %d s the watchers show %r, want %r" % (
            what, timeout, [last_status(w) for w in ws], want))
        print("FAILED: " + ERRORS[-1])
        return
    print("%s: converged in %.1f s" % (what, took))


async def restarts(carol, ws):
    a, b = Daemon("A"), Daemon("B")

    # 1. status.a.test dies without a word; carol changes meanwhile.
    await a.stop(signal.SIGKILL)
    carol.send_presence(pshow="dnd", pstatus="changed while status.a.test was down")
    await asyncio.sleep(1)
    await a.start()
    await converge(ws, ("dnd", "changed while status.a.test was down"),
                   "after status.a.test was killed and restarted")
    assert node_rows() == [("from",)], "home rows for the node: %r" % node_rows()
    assert sql("B", "SELECT count(*) FROM node_lease WHERE channel='carol'") == [(1,)]
    # ...and it keeps working.
    carol.send_presence(pshow="away", pstatus="after the restart")
    await converge(ws, ("away", "after the restart"), "next change")

    # 2. The home restarts (SIGTERM) while the node subscription exists.
    await b.stop(signal.SIGTERM)
    await b.start()
    carol.send_presence(pshow="xa", pstatus="after the home's restart")
    await converge(ws, ("xa", "after the home's restart"), "after status.b.test restarted")
    assert node_rows() == [("from",)], "home rows for the node: %r" % node_rows()

    # 3. The home dies without a word (kill -9); carol changes meanwhile.
    await b.stop(signal.SIGKILL)
    carol.send_presence(pshow="chat", pstatus="changed while the home was down")
    await asyncio.sleep(1)
    await b.start()
    await converge(ws, ("chat", "changed while the home was down"),
                   "after status.b.test was killed and restarted")
    assert node_rows() == [("from",)], "home rows for the node: %r" % node_rows()
    return a


async def lease(a, ws):
    # 3. Renewals: the lease end moves forward and never lapses.
    seen = []
    t_end = time.monotonic() + 10
    while time.monotonic() < t_end:
        exp = one("B", "SELECT expires FROM node_lease WHERE channel='carol' "
                  "AND node='status.a.test'")
        assert exp is not None, "the lease is gone while status.a.test runs"
        now = time.time()
        assert exp >= now - 1, "the lease ended %.1f s ago" % (now - exp)
        assert exp <= now + LEASE + 1, "lease longer than asked: ends in %.1f s" % (exp - now)
        if not seen or seen[-1] != exp:
            seen.append(exp)
        await asyncio.sleep(0.25)
    print("node_lease.expires over 10 s: %s" % seen)
    assert len(seen) >= 3 and seen == sorted(seen), \
        "expected at least two renewals moving the lease forward, saw %r" % seen
    assert count(cs_log("B"), "lease of status.a.test on carol ran out") == 0, \
        "the home dropped the lease while status.a.test was renewing it"
    assert node_rows() == [("from",)], "home rows for the node: %r" % node_rows()

    # status.a.test killed: nobody renews; the home drops the node when the
    # lease it stored has run out (whole seconds, swept once a second: by
    # its end + 2 s), which is within lease + 2 s of the kill.
    off = log_size(cs_log("B"))
    t_kill = time.time()
    await a.stop(signal.SIGKILL)
    exp = one("B", "SELECT expires FROM node_lease WHERE channel='carol'")
    assert exp is not None, "the lease went before it ran out"
    await wait_log(cs_log("B"), "home: lease of status.a.test on carol ran out", offset=off,
                   timeout=LEASE + 3)
    t_drop = time.time()
    print("home dropped the lease %.1f s after the kill, %.1f s after its stored end" % (
        t_drop - t_kill, t_drop - exp))
    assert t_drop >= exp - 0.1, "dropped %.1f s before the lease ended" % (exp - t_drop)
    assert t_drop <= exp + 2.3, "dropped %.1f s after the lease ended" % (t_drop - exp)
    assert exp <= t_kill + LEASE + 0.1, "the home granted more than %d s" % LEASE
    await until(lambda: not node_rows(), "the node's roster row removed", timeout=1)
    assert not sql("B", "SELECT 1 FROM node_lease"), "a lease stayed"


async def main():
    carol = on(B, "carol@b.test", auto_accept=True)
    await carol.login(send_presence=False)
    carol.send_presence(pshow="chat", pstatus="first")
    ws = [on(A, "w%d@a.test" % i) for i in range(1, N + 1)]
    await asyncio.gather(*(w.login() for w in ws))
    for w in ws:
        w.send_presence(pto=ESC, ptype="subscribe")
    await asyncio.gather(*(w.expect_presence(ESC, "subscribed") for w in ws))
    await converge(ws, ("chat", "first"), "first subscription")
    assert node_rows() == [("from",)], "home rows for the node: %r" % node_rows()

    a = await restarts(carol, ws)
    await lease(a, ws)
    for c in ws + [carol]:
        c.disconnect()
    assert not ERRORS, "\n  ".join(ERRORS)


run(main)
