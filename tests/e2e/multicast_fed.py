"""The status service's fan-out of a remote channel to its local watchers
goes through a.test's multicast service (mod_chanstat_multicast), with
real clients on both domains (multicast_prosody.test): 12 users of a.test
watch carol@status.b.test through status.a.test; one status change of
carol crosses s2s once and reaches each watcher exactly once, in batches
of the limit a.test shows."""
import asyncio
import json
import os
import subprocess

from fedtest import A, B, cs_log, on
from xmpptest import run

N = 12
LIMIT = int(os.environ["MC_LIMIT"])
ESC = "carol\\40status.b.test@status.a.test"


def stats_a():
    out = subprocess.run([os.environ["CHANSTATCTL"], "-c", os.environ["CS_CONF_A"], "--json",
                          "stats"], check=True, capture_output=True, text=True).stdout
    return {r["name"]: r["value"] for r in json.loads(out)["stats"]}


def from_esc(s, status):
    return (s.name == "presence" and s["from"].bare == ESC and s["status"] == status
            and s["type"] not in ("unavailable", "error", "subscribed", "unsubscribed"))


async def main():
    with open(cs_log("A"), errors="replace") as f:
        assert "multicast through a.test, up to %d watchers" % LIMIT in f.read(), \
            "status.a.test never found a.test's multicast service"
    carol = on(B, "carol@b.test", auto_accept=True)
    await carol.login()
    carol.send_presence(pshow="away", pstatus="at work")
    ws = [on(A, "w%d@a.test" % i) for i in range(1, N + 1)]
    for w in ws:
        await w.login()
        w.send_presence(pto=ESC, ptype="subscribe")
    await asyncio.gather(*(w.expect_presence(ESC, "subscribed") for w in ws))
    await asyncio.gather(*(w.expect_presence(ESC, show="away", status="at work") for w in ws))
    await asyncio.sleep(1.5)
    before = stats_a().get("multicast_batches", 0)
    marks = [w.mark() for w in ws]
    carol.send_presence(pshow="dnd", pstatus="batched")
    for w, m in zip(ws, marks):
        await w.wait_for(lambda s: from_esc(s, "batched"), "status 'batched'", since=m)
    await asyncio.sleep(1.5)
    for w, m in zip(ws, marks):
        n = sum(1 for s in w.stanzas[m:] if from_esc(s, "batched"))
        assert n == 1, "%s got the change %d times" % (w.boundjid, n)
        s = next(s for s in w.stanzas[m:] if from_esc(s, "batched"))
        assert s["id"].startswith("fo"), "no fan-out id: %s" % s
        assert "jabber.org/protocol/address" not in str(s), "addresses left on: %s" % s
    after = stats_a().get("multicast_batches", 0)
    want = (N + LIMIT - 1) // LIMIT
    assert after - before == want, "status.a.test sent %d batches for one change, not %d" % (
        after - before, want)
    for c in ws + [carol]:
        c.disconnect()


run(main)
