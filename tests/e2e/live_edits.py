"""Edits made with sqlite3 while chanstatd runs reach real clients within
2 seconds, with the stanzas RFC 6121 asks for.  argv[1]: the database."""
import asyncio
import os
import subprocess
import sys
import time

from xmpptest import Client, run

P = int(os.environ["C2S_PORT"])
DB = sys.argv[1]
CH = "alice@status.a.test"
LIMIT = 2.0


def sql(q):
    subprocess.run(["sqlite3", "-cmd", ".timeout 5000", DB, q], check=True)


async def within(client, pred, what, since):
    t0 = time.monotonic()
    s = await client.wait_for(pred, what, timeout=LIMIT + 1, since=since)
    dt = time.monotonic() - t0
    assert dt <= LIMIT, "%s took %.2f s" % (what, dt)
    print("%s: %.2f s" % (what, dt))
    return s


async def main():
    alice = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="pc")
    await alice.login()
    await alice.wait_for(lambda s: s.name == "presence" and s["type"] == "subscribe"
                         and s["from"].bare == CH, "the channel's subscribe")
    alice.send_presence(pstatus="at work")
    carol = Client("carol@a.test", "carolpw", P)
    dave = Client("dave@a.test", "davepw", P, resource="pc")
    erin = Client("erin@a.test", "erinpw", P)
    await carol.login()
    await dave.login()
    await erin.login()
    await asyncio.sleep(0.5)

    # A watcher row written by hand: carol sees the channel's status.
    m = carol.mark()
    sql("INSERT INTO roster (channel, jid, subscription) VALUES ('alice', 'carol@a.test', 'from')")
    p = await within(carol, lambda s: s.name == "presence" and s["from"].bare == CH
                     and s["type"] == "available", "status after INSERT", m)
    assert p["status"] == "at work", p

    # The row goes: carol sees unavailable.
    m = carol.mark()
    sql("DELETE FROM roster WHERE channel = 'alice' AND jid = 'carol@a.test'")
    await within(carol, lambda s: s.name == "presence" and s["from"].bare == CH
                 and s["type"] == "unavailable", "unavailable after DELETE", m)

    # A new owner: dave is asked, alice is unsubscribed.
    md, ma = dave.mark(), alice.mark()
    sql("UPDATE channel SET owner = 'dave@a.test' WHERE name = 'alice'")
    await within(dave, lambda s: s.name == "presence" and s["type"] == "subscribe"
                 and s["from"].bare == CH, "subscribe to the new owner", md)
    await within(alice, lambda s: s.name == "presence" and s["type"] == "unsubscribe"
                 and s["from"].bare == CH, "unsubscribe to the old owner", ma)

    # A policy change applies to the next request: erin's goes to dave.
    sql("UPDATE channel SET policy = 'approve' WHERE name = 'alice'")
    await asyncio.sleep(LIMIT)
    md = dave.mark()
    erin.send_presence(pto=CH, ptype="subscribe")
    await dave.wait_for(lambda s: s.name == "presence" and s["type"] == "subscribe"
                        and s["from"].bare == "erin\\40a.test@status.a.test",
                        "erin's request relayed to dave", since=md)
    # chanstatctl: a new channel's owner is asked at once; a watcher row
    # added with it brings the status.
    ctl = [os.environ["CHANSTATCTL"], "-c", os.environ["CS_CONF"]]
    me = erin.mark()
    subprocess.run(ctl + ["channel", "add", "news", "--owner", "erin@a.test"], check=True)
    await within(erin, lambda s: s.name == "presence" and s["type"] == "subscribe"
                 and s["from"].bare == "news@status.a.test", "subscribe after channel add", me)
    erin.send_presence(pto="news@status.a.test", ptype="subscribed")
    erin.send_presence(pstatus="reading")
    await asyncio.sleep(0.5)
    mc = carol.mark()
    subprocess.run(ctl + ["roster", "add", "news", "carol@a.test", "--subscription", "from"],
                   check=True)
    await within(carol, lambda s: s.name == "presence" and s["from"].bare == "news@status.a.test"
                 and s["type"] == "available", "status after roster add", mc)
    print("ok")


run(main)
