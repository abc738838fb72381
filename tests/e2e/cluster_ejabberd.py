"""The cluster on a two-node ejabberd cluster (cluster_ejabberd.test):
alice and dave on node 1, bob and carol on node 2; alpha at h1 (node 1),
beta at h2 (node 2), the front on node 1."""
import asyncio
import os
import signal
import subprocess
import time

from xmpptest import Client, run

N1, N2 = int(os.environ["EJC_C2S1"]), int(os.environ["EJC_C2S2"])
ALPHA, BETA = "alpha@status.e.test", "beta@status.e.test"
HOMES = ("h1.status.e.test", "h2.status.e.test")


def msg(frm, body):
    return lambda s: (s.name == "message" and s["from"].bare == frm and s["type"] != "error"
                      and s["body"] == body)


def unavailable(frm):
    return lambda s: s.name == "presence" and s["from"].bare == frm and s["type"] == "unavailable"


def no_home_seen(clients):
    for c in clients:
        for s in c.stanzas:
            for h in HOMES:
                assert h not in str(s), "%s got a stanza naming %s: %s" % (c.boundjid, h, s)


async def node2_killed():
    with open(os.environ["NODE2_PIDFILE"]) as f:
        pid = int(f.read())
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("node 2 did not die")


async def node2_back():
    with open(os.environ["NODE2_LOG"], "w"):
        pass
    subprocess.run(os.environ["NODE2_START"], shell=True, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 40
    while True:
        with open(os.environ["NODE2_LOG"], errors="replace") as f:
            if "is started in the node" in f.read():
                break
        assert time.monotonic() < deadline, "node 2 did not come back"
        await asyncio.sleep(0.1)
    with open(os.environ["NODE2_PIDFILE"]) as f:
        with open(os.environ["E2E_PIDFILE"], "a") as p:
            p.write(f.read().strip() + "\n")


async def main():
    alice = Client("alice@e.test", "alicepw", N1, auto_accept=True, resource="desk")
    dave = Client("dave@e.test", "davepw", N1, resource="pc")
    bob = Client("bob@e.test", "bobpw", N2, auto_accept=True, resource="desk")
    carol = Client("carol@e.test", "carolpw", N2, resource="pc")
    for c in (alice, dave, bob, carol):
        await c.login()
    alice.send_presence(pshow="chat", pstatus="alpha on node 1")
    bob.send_presence(pshow="away", pstatus="beta on node 2")
    await alice.expect_presence(ALPHA, "subscribe", timeout=15)
    await bob.expect_presence(BETA, "subscribe", timeout=15)
    for w in (carol, dave):
        w.send_presence(pto=ALPHA, ptype="subscribe")
        w.send_presence(pto=BETA, ptype="subscribe")
    for w in (carol, dave):
        await w.expect_presence(ALPHA, show="chat", status="alpha on node 1", timeout=15)
        await w.expect_presence(BETA, show="away", status="beta on node 2", timeout=15)
    # Status across nodes: bob (node 2) at h2 (node 2) through the front
    # (node 1) to dave (node 1) and carol (node 2).
    m, n = carol.mark(), dave.mark()
    bob.send_presence(pshow="dnd", pstatus="beta busy")
    await carol.expect_presence(BETA, show="dnd", status="beta busy", since=m)
    await dave.expect_presence(BETA, show="dnd", status="beta busy", since=n)
    # Message and reply: carol (node 2) -> alpha (h1, node 1) -> alice
    # (node 1); alice's reply back to node 2.
    relay = "carol\\40e.test@status.e.test"
    carol.send_message(mto=ALPHA, mbody="from node 2", mtype="chat")
    await alice.wait_for(msg(relay, "from node 2"), "carol's message")
    alice.send_message(mto=relay, mbody="to node 2", mtype="chat")
    await carol.wait_for(msg(ALPHA, "to node 2"), "alice's reply")
    dave.send_message(mto=BETA, mbody="from node 1", mtype="chat")
    await bob.wait_for(msg("dave\\40e.test@status.e.test", "from node 1"), "dave's message")
    # Owner loss across nodes.
    n = dave.mark()
    bob.disconnect()
    await bob.disconnected
    await dave.wait_for(unavailable(BETA), "beta unavailable when bob left", since=n)
    bob = Client("bob@e.test", "bobpw", N2, auto_accept=True, resource="desk")
    await bob.login()
    bob.send_presence(pshow="chat", pstatus="beta back")
    await dave.expect_presence(BETA, show="chat", status="beta back", since=n, timeout=15)
    no_home_seen((alice, dave, bob, carol))
    print("both nodes ok")

    # Node 2 killed: h2's channels go unavailable at the front (node 1);
    # alpha stays.
    n = dave.mark()
    await node2_killed()
    await dave.wait_for(unavailable(BETA), "beta unavailable with node 2 gone", since=n,
                        timeout=15)
    assert not [s for s in dave.stanzas[n:] if unavailable(ALPHA)(s)], "alpha went unavailable"
    m = alice.mark()
    dave.send_message(mto=ALPHA, mbody="alpha still here", mtype="chat")
    await alice.wait_for(msg("dave\\40e.test@status.e.test", "alpha still here"),
                         "a message to alpha with node 2 gone", since=m)
    # Back: h2 reconnects to node 2, bob logs in again, beta is back.
    await node2_back()
    bob = Client("bob@e.test", "bobpw", N2, auto_accept=True, resource="desk")
    for _ in range(100):
        try:
            await bob.login()
            break
        except (OSError, asyncio.TimeoutError):
            bob = Client("bob@e.test", "bobpw", N2, auto_accept=True, resource="desk")
            await asyncio.sleep(0.2)
    bob.send_presence(pshow="chat", pstatus="node 2 is back")
    await dave.expect_presence(BETA, show="chat", status="node 2 is back", since=n, timeout=30)
    no_home_seen((alice, dave))
    print("node loss ok")


if __name__ == "__main__":
    run(main, limit=240)
