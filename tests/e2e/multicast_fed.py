"""The status service's fan-out of a remote channel to its local watchers
goes through the watchers' server's multicast service (XEP-0033), with
real clients on both domains: 12 users of the watchers' domain watch
carol@status.b.test through their own status service; one status change
of carol crosses s2s once and reaches each watcher exactly once, in
batches of the limit the watchers' server shows.

The watchers' side comes from the environment, so one scenario serves
both servers:
  MC_LIMIT         the multicast limit the watchers' server announces
  MC_WATCH_DOMAIN  the watchers' domain (default a.test: Prosody A of
                   the bed, with mod_chanstat_multicast,
                   multicast_prosody.test); its status service is
                   status.MC_WATCH_DOMAIN
  MC_WATCH_ADDR, MC_WATCH_PORT
                   its c2s address and port (default A_ADDR, A_C2S_PORT)
  MC_SERVICE       the multicast service chanstatd finds there (default
                   the domain itself, as mod_chanstat_multicast serves it)
  MC_CS_CONF, MC_CS_LOG
                   config and log of the watchers' status service
                   (default CS_CONF_A, CS_LOG_A)
carol's home is always status.b.test on Prosody B, whose debug log (B_LOG)
shows what crossed s2s."""
import asyncio
import json
import os
import subprocess

from fedtest import B, log_quiet, log_size, on, s2s_presences
from xmpptest import run

N = 12
LIMIT = int(os.environ["MC_LIMIT"])
DOMAIN = os.environ.get("MC_WATCH_DOMAIN", "a.test")
SERVICE = "status." + DOMAIN
WATCH = (os.environ.get("MC_WATCH_ADDR") or os.environ["A_ADDR"],
         int(os.environ.get("MC_WATCH_PORT") or os.environ["A_C2S_PORT"]))
MCAST = os.environ.get("MC_SERVICE") or DOMAIN
CS_CONF = os.environ.get("MC_CS_CONF") or os.environ["CS_CONF_A"]
CS_LOG = os.environ.get("MC_CS_LOG") or os.environ["CS_LOG_A"]
ESC = "carol\\40status.b.test@" + SERVICE


def stats():
    out = subprocess.run([os.environ["CHANSTATCTL"], "-c", CS_CONF, "--json", "stats"],
                         check=True, capture_output=True, text=True).stdout
    return {r["name"]: r["value"] for r in json.loads(out)["stats"]}


def from_esc(s, status):
    return (s.name == "presence" and s["from"].bare == ESC and s["status"] == status
            and s["type"] not in ("unavailable", "error", "subscribed", "unsubscribed"))


def to_service(stanza):
    return "to='%s'" % SERVICE in stanza or 'to="%s"' % SERVICE in stanza


async def main():
    with open(CS_LOG, errors="replace") as f:
        assert "multicast through %s, up to %d watchers" % (MCAST, LIMIT) in f.read(), \
            "%s never found %s's multicast service %s" % (SERVICE, DOMAIN, MCAST)
    carol = on(B, "carol@b.test", auto_accept=True)
    await carol.login()
    carol.send_presence(pshow="away", pstatus="at work")
    ws = [on(WATCH, "w%d@%s" % (i, DOMAIN)) for i in range(1, N + 1)]
    for w in ws:
        await w.login()
        w.send_presence(pto=ESC, ptype="subscribe")
    await asyncio.gather(*(w.expect_presence(ESC, "subscribed") for w in ws))
    await asyncio.gather(*(w.expect_presence(ESC, show="away", status="at work") for w in ws))
    await asyncio.sleep(1.5)
    b_log = os.environ["B_LOG"]
    await log_quiet([b_log, CS_LOG])
    off_b = log_size(b_log)
    before = stats().get("multicast_batches", 0)
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
    after = stats().get("multicast_batches", 0)
    want = (N + LIMIT - 1) // LIMIT
    assert after - before == want, "%s sent %d batches for one change, not %d" % (
        SERVICE, after - before, want)
    # b.test wrote the change to s2s once, to the watchers' status service.
    await log_quiet([b_log])
    sent = [p for p in s2s_presences(b_log, off_b) if to_service(p)]
    assert len(sent) == 1, "b.test wrote %d presences to %s for one change:\n  %s" % (
        len(sent), SERVICE, "\n  ".join(sent))
    print("one change of carol: 1 s2s presence to %s, %d watchers, %d batches of up to %d"
          % (SERVICE, N, want, LIMIT))
    for c in ws + [carol]:
        c.disconnect()


run(main)
