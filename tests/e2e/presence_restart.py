"""Restarts: chanstatd restarted while the owner stays online, chanstatd
down while the owner leaves (no stale "available" afterwards), and Prosody
restarted under everyone.  Watchers converge to the truth each time."""
import asyncio
import os

from xmpptest import Client, Daemons, run

P = int(os.environ["C2S_PORT"])
CH = "alice@status.a.test"


def last_from(client, jid):
    seen = [s for s in client.stanzas if s.name == "presence" and s["from"].bare == jid]
    return seen[-1] if seen else None


async def converge(client, want_available, what, timeout=8):
    """The latest presence of CH at client ends up (un)available."""
    deadline = asyncio.get_event_loop().time() + timeout
    while asyncio.get_event_loop().time() < deadline:
        s = last_from(client, CH)
        if s is not None and (s["type"] != "unavailable") == want_available:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("%s: %s never converged to %s; last: %s" % (
        client.boundjid, what, "available" if want_available else "unavailable",
        last_from(client, CH)))


async def main():
    d = Daemons()
    owner = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="laptop")
    await owner.login()
    carol = Client("carol@a.test", "carolpw", P)
    await carol.login()
    carol.send_presence(pto=CH, ptype="subscribe")
    await carol.expect_presence(CH, "subscribed")
    await carol.expect_presence(CH)

    # 1. chanstatd restarts; the owner stays online: still available.
    m = carol.mark()
    await d.stop_chanstatd()
    await d.start_chanstatd()
    await carol.expect_presence(CH, since=m)  # re-sent after the probe answer
    await converge(carol, True, "after a chanstatd restart")

    # 2. chanstatd is down while the owner leaves: Prosody bounces the
    # unavailable; after the restart the watcher must see unavailable.
    await d.stop_chanstatd()
    owner.disconnect()
    await asyncio.sleep(0.5)
    await d.start_chanstatd()
    await converge(carol, False, "owner left while chanstatd was down")

    # 3. kill -9: same convergence (the owner comes back meanwhile).
    await d.stop_chanstatd(sig=9)
    owner = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="laptop")
    await owner.login()
    await d.start_chanstatd()
    await converge(carol, True, "owner came back while chanstatd was killed")

    # 4. Prosody restarts under everyone.  The watcher logs in again first
    # (its login probe is answered from the channel's status), then the
    # owner: the watcher sees the owner come and go.
    online = d.log_count("link: online")
    await d.stop_prosody()
    await d.start_prosody()
    await d.wait_log("link: online", online + 1, timeout=15)
    carol = Client("carol@a.test", "carolpw", P)
    await carol.login()
    await converge(carol, False, "after the Prosody restart, owner offline")
    m = carol.mark()
    owner = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="laptop")
    await owner.login()
    await carol.expect_presence(CH, since=m)
    m = carol.mark()
    owner.transport.abort()
    await carol.expect_presence(CH, "unavailable", since=m)
    carol.disconnect()


run(main)
