"""Prosody stopped for OUTAGE_S seconds (default 30) in the middle of a
fan-out to 20,000 watchers, with edits made with sqlite3 meanwhile, then
started again (see fault_outage.test).

Checked: chanstatd reconnects with its backoff capped by reconnect_max_ms
(attempts counted), its RSS sampled every 0.2 s during the outage stays
within send_buffer_bytes + 16 MiB of what it was before, the edits made
during the outage reach users after the restart, a message stored before
the outage is delivered, and watchers converge to the truth.
argv: DB.  Prints "figure: ..." lines."""
import asyncio
import os
import subprocess
import sys
import time

from xmpptest import Client, Daemons, run

P = int(os.environ["C2S_PORT"])
DB = sys.argv[1]
OUTAGE_S = float(os.environ.get("OUTAGE_S", "30"))
SEND_BUFFER = int(os.environ.get("SEND_BUFFER", "1048576"))
CH = "alice@status.a.test"
BIG = "big@status.a.test"


def sql(q):
    out = subprocess.run(["sqlite3", "-cmd", ".timeout 5000", DB, q], check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def figure(text):
    print("figure: " + text, flush=True)


def mem(pid):
    """VmRSS and VmHWM of pid in KiB."""
    got = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                got[k] = int(v.split()[0])
    return got["VmRSS"], got["VmHWM"]


async def main():
    d = Daemons()
    owner = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="pc")
    await owner.login()
    carol = Client("carol@a.test", "carolpw", P)
    await carol.login()
    carol.send_presence(pto=CH, ptype="subscribe")
    await carol.expect_presence(CH, "subscribed")
    await carol.expect_presence(CH)
    # A message accepted before the outage: bob (desk's owner) is away.
    carol.send_message(mto="desk@status.a.test", mbody="kept across the outage", mtype="chat")
    for _ in range(50):
        if sql("SELECT count(*) FROM offline WHERE channel = 'desk'") == "1":
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the message to desk was not stored")
    await asyncio.sleep(1)
    rss0, hwm0 = mem(d.cs_pid)
    connects0 = d.log_count("link: connecting to")
    # A status change of big's owner starts a fan-out to 20,000 watchers
    # (1 KB each): Prosody goes while it is under way.
    owner.send_presence(pstatus="busy " + "x" * 1000)
    await asyncio.sleep(0.3)
    t_stop = time.monotonic()
    await d.stop_prosody()
    await d.wait_log("link: connection lost", 1)
    # During the outage: edits with sqlite3 (a watcher for dave, 5,000
    # more for big), and the RSS sampled.
    sql("INSERT INTO roster (channel, jid, subscription) VALUES ('alice', 'dave@a.test', 'from')")
    sql("WITH RECURSIVE n(i) AS (SELECT 20001 UNION ALL SELECT i + 1 FROM n WHERE i < 25000) "
        "INSERT INTO roster (channel, jid, subscription) SELECT 'big', 'w' || i || '@a.test', "
        "'from' FROM n")
    peak_rss = rss0
    while time.monotonic() - t_stop < OUTAGE_S:
        rss, hwm = mem(d.cs_pid)
        peak_rss = max(peak_rss, rss)
        await asyncio.sleep(0.2)
    rss, hwm = mem(d.cs_pid)
    attempts = d.log_count("link: connecting to") - connects0
    figure("outage %.0f s: %d connection attempts (reconnect_max_ms 1000); RSS before %d KiB, "
           "peak during the outage %d KiB, VmHWM %d KiB (send_buffer_bytes %d KiB)" % (
               OUTAGE_S, attempts, rss0, peak_rss, hwm, SEND_BUFFER // 1024))
    assert attempts <= OUTAGE_S * 2 + 2, "%d attempts: backoff not applied" % attempts
    assert attempts >= OUTAGE_S / 2, "only %d attempts" % attempts
    assert peak_rss - rss0 <= SEND_BUFFER // 1024 + 16384, "RSS grew by %d KiB" % (
        peak_rss - rss0)

    online = d.log_count("link: online")
    t_up = time.monotonic()
    await d.start_prosody()
    await d.wait_log("link: online", online + 1, timeout=5)
    figure("attached %.2f s after Prosody was started again" % (time.monotonic() - t_up))

    # Everybody's session went with Prosody: the owner is offline now,
    # and watchers must see it.
    carol = Client("carol@a.test", "carolpw", P)
    await carol.login()
    await carol.expect_presence(CH, "unavailable")
    dave = Client("dave@a.test", "davepw", P)
    await dave.login()
    # The owner comes back: carol and dave (added during the outage) see it.
    mc, md = carol.mark(), dave.mark()
    t = time.monotonic()
    owner = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="pc")
    await owner.login()
    owner.send_presence(pstatus="back")
    # Behind the fan-out of big (25,000 watchers) and the resync.
    await carol.expect_presence(CH, status="back", since=mc, timeout=60)
    await dave.expect_presence(CH, status="back", since=md, timeout=60)
    figure("after the restart the owner's status reached carol and dave (added during the "
           "outage) in %.2f s" % (time.monotonic() - t))
    # Nothing accepted was lost: bob gets the message stored before.
    bob = Client("bob@a.test", "bobpw", P, auto_accept=True, resource="pc")
    await bob.login()
    await bob.wait_for(lambda s: s.name == "message" and s["body"] == "kept across the outage",
                       "the message stored before the outage", timeout=15)
    assert sql("SELECT count(*) FROM roster WHERE channel = 'big' AND subscription = 'from'") \
        == "25000"
    rss, hwm = mem(d.cs_pid)
    figure("after recovery: RSS %d KiB, VmHWM %d KiB" % (rss, hwm))
    for c in (owner, carol, dave, bob):
        c.disconnect()


run(main, limit=OUTAGE_S + 150)
