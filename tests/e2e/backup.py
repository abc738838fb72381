"""Load on a running chanstatd while backup.test copies its database.

bob, owner of desk, changes his directed presence to desk every 20 ms:
chanstatd commits each status and fans it out to alice, a watcher.  alice
writes to inbox, whose owner is offline, every 20 ms: chanstatd commits
each message to its offline store.  alice also pings the component every
50 ms and times the answers, apart while the file WINDOW exists (the
backups run then).

    backup.py READY STOP WINDOW

READY is created once load flows; the load stops when STOP exists.  The
last line printed holds the counts and the round trips (milliseconds)."""
import asyncio
import os
import sys

from xmpptest import Client, run

PORT = int(os.environ["C2S_PORT"])
READY, STOP, WINDOW = sys.argv[1:4]
SHOWS = ("away", "chat", "dnd", "xa")


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] if v else -1


async def main():
    alice = Client("alice@a.test", "alicepw", PORT)
    bob = Client("bob@a.test", "bobpw", PORT)
    alice.register_plugin("xep_0199")
    await alice.login()
    await bob.login()
    counts = {"presence_sent": 0, "messages_sent": 0}

    async def presence_load():
        i = 0
        while not os.path.exists(STOP):
            bob.send_presence(pto="desk@status.a.test", pshow=SHOWS[i % 4], pstatus="p%d" % i)
            i += 1
            counts["presence_sent"] = i
            await asyncio.sleep(0.02)

    async def message_load():
        i = 0
        while not os.path.exists(STOP):
            alice.send_message(mto="inbox@status.a.test", mbody="m%d" % i, mtype="chat")
            i += 1
            counts["messages_sent"] = i
            await asyncio.sleep(0.02)

    rtt = {"outside": [], "during": []}

    async def pings():
        while not os.path.exists(STOP):
            during = os.path.exists(WINDOW)
            try:
                t = await alice.plugin["xep_0199"].ping("status.a.test", timeout=5)
            except Exception as e:  # noqa: BLE001 - any failure is the finding
                raise AssertionError("ping unanswered%s: %r" % (" during a backup" if during else "", e))
            rtt["during" if during else "outside"].append(t * 1000.0)
            await asyncio.sleep(0.05)

    tasks = [asyncio.ensure_future(f()) for f in (presence_load, message_load, pings)]
    # Load flows once alice sees desk's status change.
    await alice.wait_for(lambda s: s.name == "presence" and s["from"].bare == "desk@status.a.test"
                         and s["status"].startswith("p"), "desk's status")
    open(READY, "w").close()
    await asyncio.gather(*tasks)
    seen = sum(1 for s in alice.stanzas
               if s.name == "presence" and s["from"].bare == "desk@status.a.test")
    errors = sum(1 for s in alice.stanzas if s.name == "message" and s["type"] == "error")
    print("presence_sent %d presence_seen %d messages_sent %d message_errors %d "
          "pings_outside %d p50_outside %.1f max_outside %.1f "
          "pings_during %d p50_during %.1f max_during %.1f" % (
              counts["presence_sent"], seen, counts["messages_sent"], errors,
              len(rtt["outside"]), pct(rtt["outside"], 0.5), pct(rtt["outside"], 1.0),
              len(rtt["during"]), pct(rtt["during"], 0.5), pct(rtt["during"], 1.0)))
    if errors:
        raise AssertionError("%d messages to inbox came back as errors" % errors)
    alice.disconnect()
    bob.disconnect()


run(main, limit=300)
