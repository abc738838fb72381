"""The database under faults, with real clients (see fault_db.test).

usage: fault_db.py lock|full DB MOUNT

lock      another writer holds the write lock for 10 s: a subscription
          during it gets wait/internal-server-error (nothing of it
          stored), pings and probes are answered, and the same request
          works once the lock is gone.
full      the filesystem of the database is full: messages to a channel
          whose owner is offline are stored until a write fails, then
          answered wait/internal-server-error; each message either got
          that error or is stored; after space is freed storing works
          again, and the owner gets every stored message.
Prints "figure: ..." lines for doc/reliability.md."""
import asyncio
import os
import subprocess
import sys
import time

from xmpptest import Client, run

P = int(os.environ["C2S_PORT"])
PHASE, DB, MNT = sys.argv[1], sys.argv[2], sys.argv[3]
CH = "alice@status.a.test"
STORE_ERR = "the change could not be stored; try again"


def sql(q):
    out = subprocess.run(["sqlite3", "-cmd", ".timeout 5000", DB, q], check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def figure(text):
    print("figure: " + text, flush=True)


def wait_error(s):
    """A stanza error of type wait saying the change was not stored."""
    e = s.xml.find("{jabber:client}error")
    return (s["type"] == "error" and e is not None and e.get("type") == "wait"
            and e.find("{urn:ietf:params:xml:ns:xmpp-stanzas}internal-server-error") is not None)


async def ping(c, what, limit):
    t = time.monotonic()
    await c.plugin["xep_0199"].send_ping("status.a.test", timeout=limit + 5)
    dt = time.monotonic() - t
    assert dt <= limit, "%s: ping took %.2f s" % (what, dt)
    return dt


def client(user, **kw):
    c = Client(user + "@a.test", user.split("@")[0] + "pw", P, **kw)
    c.register_plugin("xep_0199")
    return c


async def subscribe(c, since):
    c.send_presence(pto=CH, ptype="subscribe")
    return await c.wait_for(lambda s: s.name == "presence" and s["from"].bare == CH
                            and s["type"] in ("subscribed", "error"), "answer to subscribe",
                            since=since, timeout=15)


async def lock():
    owner = client("alice", auto_accept=True, resource="pc")
    await owner.login()
    carol = client("carol")
    await carol.login()
    dave = client("dave")
    await dave.login()
    r = await subscribe(carol, 0)
    assert r["type"] == "subscribed", r
    await carol.expect_presence(CH)
    holder = subprocess.Popen(["sqlite3", DB], stdin=subprocess.PIPE, text=True)
    holder.stdin.write("BEGIN EXCLUSIVE;\nINSERT INTO stats VALUES ('lock', 1, 1);\n")
    holder.stdin.flush()
    t0 = time.monotonic()
    await asyncio.sleep(0.5)
    # A write during the lock: waits busy_timeout_ms, then the error.
    t = time.monotonic()
    r = await subscribe(dave, dave.mark())
    wait_s = time.monotonic() - t
    assert wait_error(r), "subscribe during the lock: %s" % r
    assert STORE_ERR in str(r), r
    assert sql("SELECT count(*) FROM roster WHERE jid = 'dave@a.test'") == "0", "half-stored"
    figure("lock: a subscribe during the lock got wait/internal-server-error after %.1f s" % wait_s)
    # After one wait ran out, later writes fail at once; reads are served.
    t = time.monotonic()
    r = await subscribe(dave, dave.mark())
    assert wait_error(r), r
    fast = time.monotonic() - t
    assert fast < 2, "second write during the lock took %.2f s" % fast
    worst = 0
    while time.monotonic() - t0 < 9:
        worst = max(worst, await ping(dave, "ping during the lock", 1.5))
        m = carol.mark()
        carol.send_presence(pto=CH, ptype="probe")
        await carol.expect_presence(CH, since=m, timeout=3)
        await asyncio.sleep(0.3)
    figure("lock: the next subscribe failed in %.2f s; pings during the rest of the lock: "
           "worst %.3f s; probes answered" % (fast, worst))
    holder.stdin.write("ROLLBACK;\n")
    holder.stdin.close()
    holder.wait()
    t = time.monotonic()
    while True:
        r = await subscribe(dave, dave.mark())
        if r["type"] == "subscribed":
            break
        assert time.monotonic() - t < 5, "still refused after the lock: %s" % r
        await asyncio.sleep(0.2)
    figure("lock: the subscribe worked %.2f s after the lock was released" %
           (time.monotonic() - t))
    assert sql("SELECT subscription FROM roster WHERE jid = 'dave@a.test'") == "from"
    # Watchers converge: carol sees the owner's current status.
    m = carol.mark()
    owner.send_presence(pstatus="after the lock")
    await carol.expect_presence(CH, status="after the lock", since=m)
    for c in (owner, carol, dave):
        c.disconnect()


async def full():
    carol = client("carol")
    await carol.login()
    body = "x" * 8000
    refused = 0
    answers = {}

    def track(s):
        if s.name == "message" and s["type"] == "error" and s["id"].startswith("f"):
            answers[s["id"]] = s
    carol.add_event_handler("message_error", track)
    n = 0
    t0 = time.monotonic()
    while refused == 0 and n < 400:
        n += 1
        m = carol.make_message(mto=CH, mbody="%d %s" % (n, body), mtype="chat")
        m["id"] = "f%d" % n
        m.send()
        await asyncio.sleep(0.05)
        refused = len(answers)
    await asyncio.sleep(1)
    assert answers, "the filesystem never filled (%d messages)" % n
    for s in answers.values():
        assert wait_error(s), "full: %s" % s
    await ping(carol, "ping with a full disk", 2)
    stored = int(sql("SELECT count(*) FROM offline WHERE channel = 'alice'"))
    figure("full: %d messages of 8 KB sent until the first error in %.1f s; %d stored, "
           "%d answered wait/internal-server-error; ping answered" %
           (n, time.monotonic() - t0, stored, len(answers)))
    # Every message was either stored or refused.
    assert stored + len(answers) == n, "stored %d + refused %d != sent %d" % (
        stored, len(answers), n)
    os.remove(os.path.join(MNT, "filler"))
    before = len(answers)
    m = carol.make_message(mto=CH, mbody="after", mtype="chat")
    m["id"] = "after"
    m.send()
    await asyncio.sleep(1.5)
    assert len(answers) == before and "after" not in answers, "refused after space was freed"
    stored2 = int(sql("SELECT count(*) FROM offline WHERE channel = 'alice'"))
    assert stored2 == stored + 1, "after freeing space: %d stored, expected %d" % (stored2,
                                                                                 stored + 1)
    owner = client("alice", auto_accept=True, resource="pc")
    await owner.login()
    await owner.wait_for(lambda s: s.name == "message" and s["body"] == "after",
                         "the last stored message", timeout=15)
    got = [s for s in owner.stanzas if s.name == "message" and s["type"] != "error"]
    assert len(got) == stored2, "owner got %d of %d stored" % (len(got), stored2)
    figure("full: after freeing space the next message was stored; the owner got all %d"
           % stored2)
    carol.disconnect()
    owner.disconnect()


run({"lock": lock, "full": full}[PHASE])
