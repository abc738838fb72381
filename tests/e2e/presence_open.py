"""Open channel with real clients: subscribe -> subscribed + status; the
owner's changes (several resources, priorities) reach the watcher; a killed
owner connection makes the channel unavailable; unsubscribe ends it."""
import asyncio
import os
import time

from xmpptest import Client, run

P = int(os.environ["C2S_PORT"])
CH = "alice@status.a.test"


async def main():
    owner = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="laptop", priority=5)
    await owner.login()
    carol = Client("carol@a.test", "carolpw", P)
    await carol.login()
    carol.send_presence(pto=CH, ptype="subscribe")
    await carol.expect_presence(CH, "subscribed")
    await carol.expect_presence(CH)  # the owner is online: available

    m = carol.mark()
    owner.send_presence(pshow="away", pstatus="lunch", ppriority=5)
    await carol.expect_presence(CH, show="away", status="lunch", since=m)

    # A second resource with a higher priority wins; when it leaves the
    # first one's status comes back.
    phone = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="phone", priority=10)
    m = carol.mark()
    await phone.login(send_presence=False)
    phone.send_presence(pshow="dnd", pstatus="meeting", ppriority=10)
    await carol.expect_presence(CH, show="dnd", status="meeting", since=m)
    m = carol.mark()
    phone.disconnect()
    await carol.expect_presence(CH, show="away", status="lunch", since=m)

    # The owner's connection dies without an unavailable: Prosody tells the
    # channel, and the watcher sees unavailable within a second or two.
    m = carol.mark()
    t0 = time.monotonic()
    owner.transport.abort()
    await carol.expect_presence(CH, "unavailable", since=m, timeout=5)
    print("unavailable after killed owner connection: %.2fs" % (time.monotonic() - t0))

    # Unsubscribe: an unavailable, then nothing more.
    owner2 = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="laptop")
    await owner2.login()
    await carol.expect_presence(CH, since=m)
    m = carol.mark()
    carol.send_presence(pto=CH, ptype="unsubscribe")
    await carol.expect_presence(CH, "unavailable", since=m)
    m = carol.mark()
    owner2.send_presence(pshow="xa")
    await carol.expect_none(lambda s: s.name == "presence" and s["from"].bare == CH,
                            "presence after unsubscribe", 1.5)
    for c in (carol, owner2):
        c.disconnect()


run(main)
