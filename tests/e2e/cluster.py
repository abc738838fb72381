"""A front and two homes on one Prosody, with real clients
(cluster_prosody.test): users see only status.a.test, channels live on
h1 (alpha, desk) and h2 (beta)."""
import asyncio
import os
import signal
import sqlite3
import subprocess
import time

from xmpptest import Client, run

P = int(os.environ["C2S_PORT"])
T = os.environ["T"]
ALPHA, DESK, BETA = "alpha@status.a.test", "desk@status.a.test", "beta@status.a.test"
RELAY_CAROL = "carol\\40a.test@status.a.test"
HOMES = ("h1.status.a.test", "h2.status.a.test")
PIDS = {n: int(os.environ["CL_PID_" + n]) for n in ("front", "h1", "h2")}
DOMAIN = {"front": "status.a.test", "h1": HOMES[0], "h2": HOMES[1]}


def db(name, sql):
    con = sqlite3.connect(os.path.join(T, name + ".db"))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def log_count(name, needle):
    with open(os.path.join(T, name + ".log"), errors="replace") as f:
        return f.read().count(needle)


async def wait_log(name, needle, count, timeout=20):
    deadline = time.monotonic() + timeout
    while log_count(name, needle) < count:
        assert time.monotonic() < deadline, "%s log never showed %r %d times" % (name, needle,
                                                                                 count)
        await asyncio.sleep(0.05)


async def kill(name, sig=signal.SIGKILL):
    pid = PIDS[name]
    os.kill(pid, sig)
    for _ in range(200):
        try:
            os.waitpid(pid, os.WNOHANG)
            os.kill(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("%s did not stop" % name)


async def start(name):
    online = log_count(name, "link: online as " + DOMAIN[name])
    log = open(os.path.join(T, name + ".log"), "a")
    proc = subprocess.Popen([os.environ["CHANSTATD"], "-c", os.path.join(T, name + ".conf")],
                            stderr=log, stdin=subprocess.DEVNULL)
    PIDS[name] = proc.pid
    with open(os.environ["E2E_PIDFILE"], "a") as f:
        f.write("%d\n" % proc.pid)
    await wait_log(name, "link: online as " + DOMAIN[name], online + 1)


def msg(frm, body=None):
    def pred(s):
        return (s.name == "message" and s["from"].bare == frm and s["type"] != "error"
                and (body is None or s["body"] == body))
    return pred


def error_msg(frm, mid, conds):
    def pred(s):
        if s.name != "message" or s["type"] != "error" or s["from"].bare != frm or s["id"] != mid:
            return False
        return any(s.xml.find("{jabber:client}error/{urn:ietf:params:xml:ns:xmpp-stanzas}" + c)
                   is not None for c in conds)
    return pred


def unavailable(frm):
    return lambda s: s.name == "presence" and s["from"].bare == frm and s["type"] == "unavailable"


def no_home_seen(clients):
    for c in clients:
        for s in c.stanzas:
            text = str(s)
            for h in HOMES:
                assert h not in text, "%s got a stanza naming %s: %s" % (c.boundjid, h, text)


async def main():
    alice = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="desk")
    bob = Client("bob@a.test", "bobpw", P, auto_accept=True, resource="desk")
    carol = Client("carol@a.test", "carolpw", P, resource="pc")
    dave = Client("dave@a.test", "davepw", P, resource="pc")
    everyone = (alice, bob, carol, dave)
    for c in everyone:
        await c.login()
    alice.send_presence(pshow="chat", pstatus="alpha is open")
    bob.send_presence(pshow="away", pstatus="beta at lunch")

    # 1. Owner binding: the homes ask their owners, from the front's address.
    await alice.expect_presence(ALPHA, "subscribe")
    await bob.expect_presence(BETA, "subscribe")

    # 2. Watchers subscribe at the front and see the owners' status.
    for w in (carol, dave):
        w.send_presence(pto=ALPHA, ptype="subscribe")
        w.send_presence(pto=BETA, ptype="subscribe")
    for w in (carol, dave):
        await w.expect_presence(ALPHA, "subscribed")
        await w.expect_presence(ALPHA, show="chat", status="alpha is open")
        await w.expect_presence(BETA, "subscribed")
        await w.expect_presence(BETA, show="away", status="beta at lunch")
    # One front subscription per channel at its home, whatever the watchers.
    for home, ch in (("h1", "alpha"), ("h2", "beta")):
        rows = db(home, "SELECT jid FROM roster WHERE channel = '%s' AND subscription "
                        "IN ('from', 'both') AND jid <> (SELECT owner FROM channel "
                        "WHERE name = '%s')" % (ch, ch))
        assert rows == [("status.a.test",)], "%s watchers at %s: %s" % (ch, home, rows)
        leases = db(home, "SELECT node FROM node_lease WHERE channel = '%s'" % ch)
        assert leases == [("status.a.test",)], leases
    held = db("front", "SELECT remote, jid FROM remote_watcher WHERE state = 'watching' "
                       "ORDER BY remote, jid")
    assert held == [(ALPHA, "carol@a.test"), (ALPHA, "dave@a.test"), (BETA, "carol@a.test"),
                    (BETA, "dave@a.test")], held

    # 3. A status change reaches every watcher from the channel's address.
    m = carol.mark()
    alice.send_presence(pshow="dnd", pstatus="busy with alpha")
    await carol.expect_presence(ALPHA, show="dnd", status="busy with alpha", since=m)
    await dave.expect_presence(ALPHA, show="dnd", status="busy with alpha", since=m)

    # 4. Messages: to the owner from the writer's relay address at the
    # front; the reply from the channel's address.
    carol.send_message(mto=ALPHA, mbody="hello alpha", mtype="chat")
    got = await alice.wait_for(msg(RELAY_CAROL, "hello alpha"), "carol's message")
    assert got["to"].resource == "desk", got
    alice.send_message(mto=RELAY_CAROL, mbody="hello carol", mtype="chat")
    await carol.wait_for(msg(ALPHA, "hello carol"), "alice's reply")

    # 5. Owner loss: watchers see alpha unavailable, beta untouched.
    m = carol.mark()
    alice.disconnect()
    await alice.disconnected
    await carol.wait_for(unavailable(ALPHA), "alpha unavailable", since=m)
    assert not [s for s in carol.stanzas[m:] if unavailable(BETA)(s)], "beta went unavailable"

    # 6. The offline store at the home: kept while alice is away, flushed
    # when she is back, through the front.
    carol.send_message(mto=ALPHA, mbody="while you were out", mtype="chat")
    for _ in range(100):
        if db("h1", "SELECT count(*) FROM offline WHERE channel = 'alpha'")[0][0] == 1:
            break
        await asyncio.sleep(0.05)
    assert db("h1", "SELECT count(*) FROM offline WHERE channel = 'alpha'")[0][0] == 1
    alice = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="desk")
    everyone = (alice, bob, carol, dave)
    await alice.login()
    alice.send_presence(pshow="chat", pstatus="back")
    await alice.wait_for(msg(RELAY_CAROL, "while you were out"), "the stored message")
    await carol.expect_presence(ALPHA, show="chat", status="back", since=m)
    no_home_seen(everyone)
    print("basics ok")

    # 7. An approve channel: the owner is asked from the watcher's relay
    # address at the front; her answer finds its way back to h1.
    dave.send_presence(pto=DESK, ptype="subscribe")
    await alice.expect_presence("dave\\40a.test@status.a.test", "subscribe")
    await dave.expect_presence(DESK, "subscribed")
    await dave.expect_presence(DESK, show="chat", status="back")
    print("approve ok")

    # 8. h1 killed: its channels' watchers see unavailable within
    # home_check, messages to them get an error at once, beta is
    # untouched; back, its watchers converge to the owner's status.
    m = carol.mark()
    await kill("h1")
    await carol.wait_for(unavailable(ALPHA), "alpha unavailable with h1 down", since=m,
                         timeout=8)
    await dave.wait_for(unavailable(DESK), "desk unavailable with h1 down", since=m, timeout=8)
    await wait_log("front", "home h1.status.a.test does not answer", 1)
    m2 = carol.mark()
    e = carol.make_message(mto=ALPHA, mbody="anyone?", mtype="chat")
    e["id"] = "down-1"
    e.send()
    await carol.wait_for(error_msg(ALPHA, "down-1", ("recipient-unavailable",
                                                     "remote-server-timeout")),
                         "an error for the message to alpha", since=m2, timeout=5)
    assert not [s for s in carol.stanzas[m:] if unavailable(BETA)(s)], "beta went unavailable"
    b = bob.mark()
    carol.send_message(mto=BETA, mbody="beta still there?", mtype="chat")
    await bob.wait_for(msg(RELAY_CAROL, "beta still there?"), "a message to beta", since=b)
    m = carol.mark()
    await start("h1")
    await carol.expect_presence(ALPHA, show="chat", status="back", since=m, timeout=15)
    await dave.expect_presence(DESK, show="chat", status="back", since=m, timeout=15)
    print("home restart ok")

    # 9. The front killed: what the homes store stays stored; back, its
    # watchers converge from its database, and the homes ask their owners
    # again (so the stored message reaches alice).
    alice.disconnect()
    await alice.disconnected
    carol.send_message(mto=ALPHA, mbody="stored before the front went", mtype="chat")
    for _ in range(100):
        if db("h1", "SELECT count(*) FROM offline WHERE channel = 'alpha'")[0][0] == 1:
            break
        await asyncio.sleep(0.05)
    assert db("h1", "SELECT count(*) FROM offline WHERE channel = 'alpha'")[0][0] == 1
    await kill("front")
    alice = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="desk")
    everyone = (alice, bob, carol, dave)
    await alice.login()
    alice.send_presence(pshow="chat", pstatus="front away")
    await asyncio.sleep(1.0)
    assert db("h1", "SELECT count(*) FROM offline WHERE channel = 'alpha'")[0][0] == 1, \
        "the stored message left h1 while the front was down"
    m = carol.mark()
    await start("front")
    await alice.wait_for(msg(RELAY_CAROL, "stored before the front went"),
                         "the stored message after the front came back", timeout=15)
    await carol.expect_presence(ALPHA, show="chat", status="front away", since=m, timeout=15)
    await carol.expect_presence(BETA, show="away", status="beta at lunch", since=m, timeout=15)
    for home, ch in (("h1", "alpha"), ("h1", "desk"), ("h2", "beta")):
        leases = db(home, "SELECT node FROM node_lease WHERE channel = '%s'" % ch)
        assert leases == [("status.a.test",)], (ch, leases)
    print("front restart ok")

    # 10. alpha moves to h2: its rows and stored messages with one
    # command, then the placement; its watchers converge.
    alice.disconnect()
    await alice.disconnected
    carol.send_message(mto=ALPHA, mbody="stored before the move", mtype="chat")
    for _ in range(100):
        if db("h1", "SELECT count(*) FROM offline WHERE channel = 'alpha'")[0][0] == 1:
            break
        await asyncio.sleep(0.05)
    ctl = os.environ["CHANSTATCTL"]
    out = subprocess.run([ctl, "-c", os.path.join(T, "h1.conf"), "channel", "move", "alpha",
                          "--to", os.path.join(T, "h2.conf")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([ctl, "-c", os.path.join(T, "front.conf"), "placement", "set", "alpha",
                          HOMES[1]], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert db("h1", "SELECT count(*) FROM channel WHERE name = 'alpha'")[0][0] == 0
    assert db("h2", "SELECT count(*) FROM offline WHERE channel = 'alpha'")[0][0] == 1
    # Long enough for h1 to apply the edit: letting alpha go must not end
    # alice's subscription with alpha@status.a.test, which lives on.
    await wait_log("h1", "channel alpha removed by an edit", 1)
    await asyncio.sleep(0.5)
    m = carol.mark()
    alice = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="desk")
    everyone = (alice, bob, carol, dave)
    await alice.login()
    sub = alice.client_roster[ALPHA]["subscription"]
    assert sub in ("from", "both"), "alice's roster has alpha as %r after the move" % sub
    alice.send_presence(pshow="chat", pstatus="alpha on h2")
    await alice.wait_for(msg(RELAY_CAROL, "stored before the move"), "the moved message",
                         timeout=15)
    await carol.expect_presence(ALPHA, show="chat", status="alpha on h2", since=m, timeout=15)
    carol.send_message(mto=ALPHA, mbody="after the move", mtype="chat")
    await alice.wait_for(msg(RELAY_CAROL, "after the move"), "a message after the move")
    alice.send_message(mto=RELAY_CAROL, mbody="reply from h2", mtype="chat")
    await carol.wait_for(msg(ALPHA, "reply from h2"), "the reply after the move")
    for _ in range(100):
        leases = db("h2", "SELECT node FROM node_lease WHERE channel = 'alpha'")
        if leases == [("status.a.test",)]:
            break
        await asyncio.sleep(0.05)
    assert leases == [("status.a.test",)], leases
    no_home_seen(everyone)
    print("move ok")


if __name__ == "__main__":
    run(main, limit=240)
