"""The s2s link between a.test and b.test cut for CUT_S seconds (default
15) by stopping b.test's Prosody, then restored (see fault_s2s.test).

Three watchers on a.test watch carol@status.b.test through
status.a.test.  Checked: after the restore the watchers converge to
carol's new status, the home holds exactly one roster row and one lease
for status.a.test (no duplicate upstream subscription), and
status.a.test still has its three watchers.  Prints what the watchers
showed during the cut and the recovery time ("figure: ..." lines)."""
import asyncio
import os
import signal
import subprocess
import time

from fedtest import A, B, on, sql, until
from xmpptest import run

N = 3
ESC = "carol\\40status.b.test@status.a.test"
CUT_S = float(os.environ.get("CUT_S", "15"))
NOT_AVAILABLE = ("unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed",
                 "probe", "error")


def figure(text):
    print("figure: " + text, flush=True)


def last_status(w):
    cur = None
    for s in w.stanzas:
        if s.name != "presence" or s["from"].bare != ESC:
            continue
        if s["type"] == "unavailable":
            cur = None
        elif s["type"] not in NOT_AVAILABLE:
            cur = (s["show"], s["status"])
    return cur


def pid_of_b():
    """b.test's Prosody; after a start, its daemon may write the pid file a
    moment after the starting command has returned."""
    path = os.path.join(os.environ["FED_DIR"], "B", "prosody.pid")
    for _ in range(200):
        try:
            with open(path) as f:
                return int(f.read())
        except (FileNotFoundError, ValueError):
            time.sleep(0.05)
    raise AssertionError("b.test's Prosody wrote no pid file")


async def stop_b():
    pid = pid_of_b()
    os.kill(pid, signal.SIGTERM)
    for _ in range(200):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        await asyncio.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def start_b():
    subprocess.run(["prosody", "--config", os.environ["B_CFG"], "-D"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.environ["E2E_PIDFILE"], "a") as f:
        f.write("%d\n" % pid_of_b())


def upstream_rows():
    return (sql("B", "SELECT subscription FROM roster WHERE channel = 'carol' "
                "AND jid = 'status.a.test'"),
            sql("B", "SELECT count(*) FROM node_lease WHERE channel = 'carol'"))


async def main():
    carol = on(B, "carol@b.test", auto_accept=True)
    await carol.login(send_presence=False)
    carol.send_presence(pshow="chat", pstatus="first")
    ws = [on(A, "w%d@a.test" % i) for i in range(1, N + 1)]
    await asyncio.gather(*(w.login() for w in ws))
    for w in ws:
        w.send_presence(pto=ESC, ptype="subscribe")
    await asyncio.gather(*(w.expect_presence(ESC, "subscribed") for w in ws))
    await until(lambda: all(last_status(w) == ("chat", "first") for w in ws),
                "the first status", timeout=15)
    assert upstream_rows() == ([("from",)], [(1,)]), upstream_rows()

    # The cut: b.test's server goes, carol's session with it.
    await stop_b()
    t0 = time.monotonic()
    seen = set()
    while time.monotonic() - t0 < CUT_S:
        seen.update(repr(last_status(w)) for w in ws)
        await asyncio.sleep(0.2)
    figure("s2s cut %.0f s: the watchers on a.test showed %s during the cut" % (
        CUT_S, " then ".join(sorted(seen, key=lambda x: x != repr(("chat", "first"))))))

    # Restored: carol logs in again with a new status.
    start_b()
    t_up = time.monotonic()
    carol = on(B, "carol@b.test", auto_accept=True)
    for _ in range(100):
        try:
            await carol.login(send_presence=False)
            break
        except (asyncio.TimeoutError, OSError):
            carol = on(B, "carol@b.test", auto_accept=True)
            await asyncio.sleep(0.2)
    carol.send_presence(pshow="away", pstatus="after the cut")
    took = await until(lambda: all(last_status(w) == ("away", "after the cut") for w in ws),
                       "the watchers converge after the restore", timeout=60, step=0.1)
    figure("s2s restored: the watchers showed carol's new status %.1f s after b.test's server "
           "was started again" % (time.monotonic() - t_up))
    del took
    # One upstream subscription, as before; the watchers are kept.
    await asyncio.sleep(2)
    rows = upstream_rows()
    assert rows == ([("from",)], [(1,)]), "the home's rows for status.a.test: %r" % (rows,)
    n = sql("A", "SELECT count(*) FROM remote_watcher WHERE state = 'watching'")
    assert n == [(N,)], "status.a.test's watchers: %r" % n
    figure("after the restore: one roster row and one lease for status.a.test at the home, "
           "%d watchers at status.a.test" % N)
    for c in ws + [carol]:
        c.disconnect()


run(main, limit=CUT_S + 120)
