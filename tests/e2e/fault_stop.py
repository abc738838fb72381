"""Prosody not reading: SIGSTOP in the middle of a fan-out to 40,000
watchers of 1 KB each (see fault_stop.test; stall_timeout is 30 s):
about 44 MB, more than the kernel's socket buffers on loopback take (up
to 4 MiB to send and 32 MiB to receive here), so chanstatd still holds
output at the stop.  With 6,000 watchers the whole fan-out sometimes sat
in those buffers before the stop, nothing was pending, and no reset was
due.  The server is stopped once ann, the first watcher in the channel's
order, has the new status: the fan-out is under way, not still on its
way to chanstatd as it may be after a fixed pause on a loaded machine.

1. Stopped for 10 s: the link waits (no reset); after SIGCONT the last
   watcher, zoe, gets the new status.
2. Stopped for 60 s: once output queued 30 s ago is still unwritten (a
   stopped server's kernel may let a trickle through) the link is reset and
   reconnect attempts time out against the stopped server; after SIGCONT
   chanstatd attaches again, resyncs, and zoe gets the current status.
Both times chanstatd's RSS (sampled every 0.2 s) stays within
send_buffer_bytes + 16 MiB of what it was before.  What a user's ping
sent at the stop got is printed: Prosody serves the users too, so it
waits for SIGCONT; after a reset Prosody may still route it to the old
connection, and it is lost there.  Prints "figure: ..." lines."""
import asyncio
import os
import signal
import time

import slixmpp

from xmpptest import Client, Daemons, run

P = int(os.environ["C2S_PORT"])
SEND_BUFFER = int(os.environ.get("SEND_BUFFER", "1048576"))
LONG_S = float(os.environ.get("STOP_S", "60"))
BIG = "big@status.a.test"


def figure(text):
    print("figure: " + text, flush=True)


def mem(pid):
    got = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                got[k] = int(v.split()[0])
    return got["VmRSS"], got["VmHWM"]


async def answer_of(c, timeout):
    """What a ping to the component domain got (result or the error), and
    after how many seconds."""
    t = time.monotonic()
    try:
        await c.plugin["xep_0199"].send_ping("status.a.test", timeout=timeout)
        got = "result"
    except slixmpp.exceptions.IqError as e:
        got = "error " + e.iq["error"]["condition"]
    except slixmpp.exceptions.IqTimeout:
        got = "no answer"
    return got, time.monotonic() - t


def prosody_pid():
    with open(os.environ["PROSODY_PIDFILE"]) as f:
        return int(f.read())


async def stop_for(d, seconds, what, ann, zoe, owner, status, carol):
    pp = prosody_pid()
    rss0, _ = mem(d.cs_pid)
    m = zoe.mark()
    m_first = ann.mark()
    owner.send_presence(pstatus=status + " " + "x" * 1000)
    await ann.expect_presence(BIG, status=status + " " + "x" * 1000, since=m_first, timeout=30)
    os.kill(pp, signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        # A user's request while the server is stopped.
        pinger = asyncio.ensure_future(answer_of(carol, seconds + 20))
        peak = rss0
        while time.monotonic() - t0 < seconds:
            peak = max(peak, mem(d.cs_pid)[0])
            await asyncio.sleep(0.2)
    finally:
        os.kill(pp, signal.SIGCONT)
    t_cont = time.monotonic()
    await zoe.expect_presence(BIG, status=status + " " + "x" * 1000, since=m, timeout=90)
    conv = time.monotonic() - t_cont
    ping, ping_s = await pinger
    _, hwm = mem(d.cs_pid)
    figure("%s: RSS before %d KiB, peak while stopped %d KiB, VmHWM %d KiB (send_buffer_bytes "
           "%d KiB); a user's ping sent at the stop: %s, %.1f s after it was sent; "
           "the last of 40,000 watchers had the new status %.1f s after SIGCONT" % (
               what, rss0, peak, hwm, SEND_BUFFER // 1024, ping, ping_s, conv))
    assert peak - rss0 <= SEND_BUFFER // 1024 + 16384, "%s: RSS grew by %d KiB" % (
        what, peak - rss0)


async def main():
    d = Daemons()
    owner = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="pc")
    await owner.login()
    ann = Client("ann@a.test", "annpw", P)
    await ann.login()
    zoe = Client("zoe@a.test", "zoepw", P)
    await zoe.login()
    carol = Client("carol@a.test", "carolpw", P)
    carol.register_plugin("xep_0199")
    await carol.login()
    await zoe.expect_presence(BIG, timeout=30)
    await asyncio.sleep(2)

    t = time.monotonic()
    m = zoe.mark()
    owner.send_presence(pstatus="s0 " + "x" * 1000)
    await zoe.expect_presence(BIG, status="s0 " + "x" * 1000, since=m, timeout=90)
    figure("no stop: the last of 40,000 watchers had a 1 KB status %.1f s after the owner "
           "sent it" % (time.monotonic() - t))
    await stop_for(d, 10, "stopped 10 s", ann, zoe, owner, "s1", carol)
    assert d.log_count("not reading") == 0, "the link was reset for a 10 s stop"
    online = d.log_count("link: online")
    assert online == 1, "reconnected during a 10 s stop"

    await stop_for(d, LONG_S, "stopped %.0f s" % LONG_S, ann, zoe, owner, "s2", carol)
    assert d.log_count("server not reading") == 1, "the link was not reset once"
    assert d.log_count("link: online") == online + 1, "did not attach again"
    figure("stopped %.0f s: the link was reset once after stall_timeout (30 s); %d connection "
           "attempts from the reset until attached again" % (
               LONG_S, d.log_count("link: connecting to") - 1))
    for c in (owner, ann, zoe, carol):
        c.disconnect()


run(main, limit=LONG_S + 150)
