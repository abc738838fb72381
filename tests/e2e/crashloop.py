"""The crash loop (scripts/crashloop.sh): chanstatd killed with SIGKILL at
random moments under a stream of real client traffic on two federated
domains, then checked for lost subscription changes, lost messages,
repeats the routing allows and watchers that never converge.

usage: crashloop.py CYCLES SEED     (environment from fed_setup/fed_chanstatd)

a.test: status.a.test homes c1..c4 (open), owned by w1..w4@a.test.
  c1, c2: owners always online, changing status; watchers come and go.
  c3, c4: owners come and go (messages to them wait in the offline store).
  w5..w7@a.test watch directly; w8, w9 are added and removed as watchers
  of c3/c4 by hand (sqlite3); w10 sends messages to all four channels.
b.test: status.b.test is the status service of w1..w3@b.test, who watch
  the channels at ci\\40status.a.test@status.b.test (one upstream
  subscription per channel).

Definitions (doc/reliability.md):
* A subscribe is acknowledged when the watcher receives `subscribed` from
  the address it asked (answers leave after the commit that stored them).
  An unsubscribe is acknowledged when the watcher receives the
  `unavailable` the service answers it with (RFC 6121 A.2.2) from the same
  run of the daemon that was up when it was sent.  A presence error, a
  refusal or no answer within OP_TIMEOUT leaves the pair undecided: either
  state passes, and the next operation on it is a subscribe.
* A message is accepted when it got no error and a disco#info query the
  sender sent after it on the same stream was answered by the same run of
  status.a.test that was up when the message was sent: that answer leaves
  only after the commit of every earlier stanza of the stream.
* A repeat is allowed only for a copy from the offline store (delay stamp)
  delivered again after status.a.test was killed (internals-routing.md).
Exit status 0 when nothing was lost, every repeat was allowed and every
watcher converged."""
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

from fedtest import A, B, Daemon, esc, on, sql
from slixmpp.exceptions import IqError, IqTimeout
from xmpptest import run

CYCLES = int(sys.argv[1])
SEED = int(sys.argv[2])
CHECK_EVERY = int(os.environ.get("CRASHLOOP_CHECK_EVERY", "0"))
rng = random.Random(SEED)

CHANNELS = ["c1", "c2", "c3", "c4"]
OWNER = {c: "w%d@a.test" % (i + 1) for i, c in enumerate(CHANNELS)}
STEADY = ["c1", "c2"]
MOVING = ["c3", "c4"]
LOCAL = ["w5@a.test", "w6@a.test", "w7@a.test"]
REMOTE = ["w1@b.test", "w2@b.test", "w3@b.test"]
EDITED = {"w8@a.test": "c3", "w9@a.test": "c4"}
SENDER = "w10@a.test"
RELAY_SENDER = esc(SENDER) + "@status.a.test"
SHOWS = ["", "away", "dnd", "xa", "chat"]
OP_TIMEOUT = 6.0
SETTLE = 20.0
NOT_STATUS = ("subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe", "error")
DISCO = "<query xmlns='http://jabber.org/protocol/disco#info'/>"


def now():
    return time.monotonic()


def address(watcher, ch):
    """Where a watcher sees channel ch: directly on a.test, through its own
    status service on b.test."""
    jid = "%s@status.a.test" % ch
    return jid if watcher.endswith("@a.test") else esc(jid) + "@status.b.test"


class Node:
    """One chanstatd: runs counted (inc), killed and restarted at once."""

    def __init__(self, dom):
        self.d = Daemon(dom)
        self.inc = 0
        self.up = True
        self.kills = []

    def run_id(self):
        return self.inc if self.up else None

    async def crash(self):
        self.up = False
        self.inc += 1
        self.kills.append(now())
        await self.d.stop(signal.SIGKILL)
        await self.d.start()
        self.up = True


class Owner:
    def __init__(self, ch, stats):
        self.ch, self.jid, self.stats = ch, OWNER[ch], stats
        self.client = None
        self.online = False
        self.show, self.status = "", ""
        self.login_event = asyncio.Event()
        self.n = 0

    def _message(self, s):
        if s["type"] == "error" or s["from"].bare != RELAY_SENDER:
            return
        delayed = s.xml.find("{urn:xmpp:delay}delay") is not None
        self.stats.deliveries.setdefault(s["id"], []).append((now(), delayed, self.ch))

    def _next(self):
        self.n += 1
        self.show, self.status = rng.choice(SHOWS), "%s-%d" % (self.ch, self.n)

    def _send(self):
        self.client.send_presence(pshow=self.show or None, pstatus=self.status)

    async def login(self):
        c = on(A, self.jid, auto_accept=True, resource="r")
        c.add_event_handler("message", self._message)
        await c.login(send_presence=False)
        self.client = c
        self._next()
        self.online = True
        self._send()
        self.login_event.set()
        self.login_event.clear()

    def change(self):
        self._next()
        self._send()

    async def logout(self):
        # Unavailable first, and the stream kept open for a second: what
        # was routed to the resource meanwhile still reaches it.
        self.online = False
        self.client.send_presence(ptype="unavailable")
        await asyncio.sleep(1.0)
        c, self.client = self.client, None
        await c.disconnect()


class Pair:
    """A watcher and a channel: what the watcher knows was acknowledged."""

    def __init__(self, w, ch, churn):
        self.w, self.ch, self.churn = w, ch, churn
        self.addr = address(w, ch)
        self.known = "none"     # none, watching, or ? (undecided)
        self.busy = False
        self.ack_mark = 0       # index of the client's stanzas at the last ack


class Stats:
    def __init__(self):
        self.deliveries = {}    # message id -> [(time, delayed, channel)]
        self.msgs = {}          # id -> dict
        self.sub_acked = 0
        self.sub_undecided = 0
        self.sub_refused = 0
        self.edits = 0
        self.failures = []


class Loop:
    def __init__(self):
        self.a, self.b = Node("A"), Node("B")
        self.st = Stats()
        self.owners = {c: Owner(c, self.st) for c in CHANNELS}
        self.clients = {}
        self.pairs = []
        self.edit_rows = {w: False for w in EDITED}
        self.running = asyncio.Event()
        self.stop = False
        self.mid = 0
        self.cycles = 0

    def node_of(self, watcher):
        return self.a if watcher.endswith("@a.test") else self.b

    def record_pids(self):
        with open(os.environ["E2E_PIDFILE"], "w") as f:
            f.write("%d\n%d\n" % (self.a.d.pid, self.b.d.pid))

    # ---- set-up ----

    async def setup(self):
        for c in CHANNELS:
            await self.owners[c].login()
        for w in LOCAL + list(EDITED) + [SENDER]:
            self.clients[w] = on(A, w)
        for w in REMOTE:
            self.clients[w] = on(B, w)
        await asyncio.gather(*(c.login() for c in self.clients.values()))
        s = self.clients[SENDER]
        s.add_event_handler("message_error", self._msg_error)
        deadline = now() + 20
        while now() < deadline:
            n = sql("A", "SELECT count(*) FROM roster r JOIN channel c ON r.channel = c.name "
                    "AND r.jid = c.owner WHERE r.subscription IN ('to', 'both')")[0][0]
            if n == len(CHANNELS):
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the owners never approved their channels")
        for w in LOCAL + REMOTE:
            for ch in CHANNELS:
                self.pairs.append(Pair(w, ch, ch in STEADY))
        # Everybody watches c3 and c4 for the whole run, without kills.
        for p in self.pairs:
            if not p.churn:
                c = self.clients[p.w]
                m = c.mark()
                c.send_presence(pto=p.addr, ptype="subscribe")
                await c.expect_presence(p.addr, "subscribed", since=m, timeout=15)
                p.known, p.ack_mark = "watching", c.mark()
        self.record_pids()

    # ---- the traffic ----

    def _msg_error(self, s):
        m = self.st.msgs.get(s["id"])
        if m is not None:
            m["err"] = s["error"]["condition"] or "error"

    async def sender(self):
        s = self.clients[SENDER]
        while not self.stop:
            await self.running.wait()
            self.mid += 1
            ch = rng.choice(CHANNELS + MOVING)
            mid = "m%d" % self.mid
            m = s.make_message(mto="%s@status.a.test" % ch, mbody=mid, mtype="chat")
            m["id"] = mid
            m.send()
            self.st.msgs[mid] = {"ch": ch, "t": now(), "run": self.a.run_id(), "err": None,
                                 "acc": False}
            if self.mid % 3 == 0:
                asyncio.ensure_future(self.barrier())
            await asyncio.sleep(rng.uniform(0.03, 0.12))

    async def barrier(self):
        run_id = self.a.run_id()
        if run_id is None:
            return
        ids = [k for k, m in self.st.msgs.items()
               if not m["acc"] and m["err"] is None and m["run"] == run_id]
        s = self.clients[SENDER]
        iq = s.Iq()
        iq["type"], iq["to"] = "get", "c1@status.a.test"
        iq.append(ET.fromstring(DISCO))
        try:
            await iq.send(timeout=5)
        except (IqError, IqTimeout):
            return
        if self.a.run_id() == run_id:
            for k in ids:
                self.st.msgs[k]["acc"] = True

    async def steady_owner(self, ch):
        o = self.owners[ch]
        while not self.stop:
            await self.running.wait()
            o.change()
            await asyncio.sleep(rng.uniform(0.3, 1.5))

    async def moving_owner(self, ch):
        o = self.owners[ch]
        while not self.stop:
            await self.running.wait()
            if not o.online:
                await o.login()
            elif rng.random() < 0.5:
                o.change()
            else:
                await o.logout()
            await asyncio.sleep(rng.uniform(0.5, 2.5))

    async def churn(self):
        while not self.stop:
            await self.running.wait()
            free = [p for p in self.pairs if p.churn and not p.busy]
            if free:
                asyncio.ensure_future(self.sub_op(rng.choice(free)))
            await asyncio.sleep(rng.uniform(0.05, 0.25))

    async def sub_op(self, p):
        p.busy = True
        c = self.clients[p.w]
        node = self.node_of(p.w)
        op = "unsubscribe" if p.known == "watching" else "subscribe"
        run_id = node.run_id()
        m = c.mark()
        c.send_presence(pto=p.addr, ptype=op)
        result, deadline = None, now() + OP_TIMEOUT
        while result is None and now() < deadline:
            for s in c.stanzas[m:]:
                if s.name != "presence" or s["from"].bare != p.addr:
                    continue
                t = s["type"]
                if t == "error":
                    result = "undecided"
                elif op == "subscribe" and t == "subscribed":
                    result = "watching"
                elif op == "subscribe" and t == "unsubscribed":
                    result = "refused"
                elif op == "unsubscribe" and t == "unavailable":
                    ok = run_id is not None and node.run_id() == run_id
                    result = "none" if ok else "undecided"
                if result:
                    break
            else:
                await asyncio.sleep(0.05)
        if result in ("watching", "none"):
            p.known, p.ack_mark = result, c.mark()
            self.st.sub_acked += 1
        else:
            p.known = "?"
            if result == "refused":
                self.st.sub_refused += 1
            else:
                self.st.sub_undecided += 1
        p.busy = False

    async def edits(self):
        db = os.environ["CS_DB_A"]
        while not self.stop:
            await self.running.wait()
            w = rng.choice(sorted(EDITED))
            ch = EDITED[w]
            if self.edit_rows[w]:
                q = "DELETE FROM roster WHERE channel = '%s' AND jid = '%s'" % (ch, w)
            else:
                q = ("INSERT INTO roster (channel, jid, subscription) VALUES ('%s', '%s', 'from')"
                     % (ch, w))
            proc = await asyncio.create_subprocess_exec(
                "sqlite3", "-cmd", ".timeout 5000", db, q, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE)
            _, err = await proc.communicate()
            if proc.returncode != 0:
                raise AssertionError("sqlite3 %s: %s" % (q, err.decode()))
            self.edit_rows[w] = not self.edit_rows[w]
            self.st.edits += 1
            await asyncio.sleep(rng.uniform(0.8, 2.5))

    # ---- the killer ----

    async def killer(self):
        while self.cycles < CYCLES:
            self.cycles += 1
            target = rng.choices(["A", "B", "AB"], weights=[6, 3, 1])[0]
            if "A" in target and rng.random() < 0.3:
                # During a flush: right after an owner of a channel with
                # stored messages came back.
                events = [asyncio.ensure_future(self.owners[c].login_event.wait())
                          for c in MOVING]
                await asyncio.wait(events, timeout=3, return_when=asyncio.FIRST_COMPLETED)
                for e in events:
                    e.cancel()
                await asyncio.sleep(rng.uniform(0.0, 0.3))
            else:
                await asyncio.sleep(rng.uniform(0.2, 2.0))
            nodes = [n for n, k in ((self.a, "A"), (self.b, "B")) if k in target]
            await asyncio.gather(*(n.crash() for n in nodes))
            self.record_pids()
            if CHECK_EVERY and self.cycles % CHECK_EVERY == 0 and self.cycles < CYCLES:
                await self.check("after cycle %d" % self.cycles)
                self.running.set()

    # ---- the checks ----

    def status_ok(self, p_addr, client, since, want):
        """The latest status presence from p_addr at client (from index
        since) is want: None (unavailable or nothing) or (show, status)."""
        last = None
        for s in client.stanzas[since:]:
            if s.name == "presence" and s["from"].bare == p_addr and s["type"] not in NOT_STATUS:
                last = s
        if want is None:
            return last is None or last["type"] == "unavailable", last
        return (last is not None and last["type"] != "unavailable" and last["show"] == want[0]
                and last["status"] == want[1]), last

    def truth(self, ch):
        o = self.owners[ch]
        return (o.show, o.status) if o.online else None

    async def check(self, when):
        self.running.clear()
        deadline = now() + OP_TIMEOUT + 2
        while any(p.busy for p in self.pairs) and now() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.2)    # an owner's logout in progress
        for c in MOVING:
            if not self.owners[c].online:
                await self.owners[c].login()
        fails = []
        # Messages: every accepted one delivered.
        t0 = now()
        while now() - t0 < SETTLE:
            lost = [k for k, m in self.st.msgs.items() if m["acc"] and k not in self.st.deliveries]
            if not lost:
                break
            await asyncio.sleep(0.2)
        for k in lost:
            fails.append("message %s (%s) accepted, never delivered" % (k, self.st.msgs[k]["ch"]))
        # Watchers converge to the owners' real status.
        t0 = now()
        while True:
            conv = []
            for p in self.pairs:
                if p.known == "watching":
                    ok, last = self.status_ok(p.addr, self.clients[p.w], 0, self.truth(p.ch))
                    if not ok:
                        conv.append("%s at %s: %s, owner %s" % (p.w, p.addr, last,
                                                                self.truth(p.ch)))
            for w, ch in EDITED.items():
                want = self.truth(ch) if self.edit_rows[w] else None
                ok, last = self.status_ok("%s@status.a.test" % ch, self.clients[w], 0, want)
                if not ok:
                    conv.append("%s (row %s) at %s: %s, want %s" % (
                        w, "present" if self.edit_rows[w] else "deleted", ch, last, want))
            if not conv or now() - t0 > SETTLE:
                break
            await asyncio.sleep(0.3)
        self.conv_time = now() - t0
        fails += ["not converged: " + x for x in conv]
        # Acknowledged subscription changes: in the database and the roster.
        for p in self.pairs:
            if p.known not in ("watching", "none"):
                continue
            c = self.clients[p.w]
            if p.w.endswith("@a.test"):
                rows = sql("A", "SELECT subscription FROM roster WHERE channel = ? AND jid = ?",
                           p.ch, p.w)
                stored = bool(rows) and rows[0][0] in ("from", "both")
            else:
                rows = sql("B", "SELECT state FROM remote_watcher WHERE remote = ? AND jid = ?",
                           "%s@status.a.test" % p.ch, p.w)
                stored = bool(rows) and rows[0][0] == "watching"
            want = p.known == "watching"
            if stored != want:
                fails.append("lost subscription change: %s %s %s, database says %r" % (
                    p.w, p.known, p.addr, rows))
            item = c.client_roster[p.addr]["subscription"] if p.addr in c.client_roster else None
            if (item in ("to", "both")) != want:
                fails.append("roster of %s: %s is %r, acknowledged %s" % (p.w, p.addr, item,
                                                                         p.known))
            if not want:
                ok, last = self.status_ok(p.addr, c, p.ack_mark, None)
                if not ok:
                    fails.append("%s got status from %s after unsubscribing: %s" % (
                        p.w, p.addr, last))
        # One upstream subscription per watched remote channel.
        for ch in CHANNELS:
            n = sql("B", "SELECT count(*) FROM remote_watcher WHERE remote = ? AND "
                    "state = 'watching'", "%s@status.a.test" % ch)[0][0]
            if n == 0:
                continue
            row = sql("A", "SELECT subscription FROM roster WHERE channel = ? AND "
                      "jid = 'status.b.test'", ch)
            leases = sql("A", "SELECT count(*) FROM node_lease WHERE channel = ? AND "
                         "node = 'status.b.test'", ch)[0][0]
            if row != [("from",)] or leases != 1:
                fails.append("%s: %d watchers at status.b.test, upstream row %r, %d leases" % (
                    ch, n, row, leases))
        print("check %s: %d cycles, %d failures, converged in %.1f s" % (
            when, self.cycles, len(fails), self.conv_time), flush=True)
        for f in fails[:20]:
            print("  " + f, flush=True)
        self.st.failures += fails

    # ---- the run ----

    def repeats(self):
        total, bad = 0, []
        for k, ds in self.st.deliveries.items():
            if len(ds) < 2:
                continue
            total += len(ds) - 1
            m = self.st.msgs.get(k)
            first = ds[0][0]
            for t, delayed, _ in ds[1:]:
                killed = any(first - 1.0 <= tk <= t for tk in self.a.kills)
                if not (delayed and ds[0][1] and killed):
                    bad.append("message %s repeated without a kill of status.a.test or not "
                               "from the offline store: %r" % (k, ds))
                    break
            if m is None:
                bad.append("unknown message %s delivered" % k)
        return total, bad

    async def main(self):
        t0 = now()
        await self.setup()
        print("crashloop: seed %d, set-up %.1f s" % (SEED, now() - t0), flush=True)
        t1 = now()
        self.running.set()
        tasks = [asyncio.ensure_future(x) for x in
                 [self.sender(), self.churn(), self.edits()]
                 + [self.steady_owner(c) for c in STEADY]
                 + [self.moving_owner(c) for c in MOVING]]
        await self.killer()
        loop_time = now() - t1
        await self.check("at the end")
        self.stop = True
        self.running.set()
        await asyncio.sleep(0.3)
        for t in tasks:
            t.cancel()
        msgs = self.st.msgs
        accepted = [k for k, m in msgs.items() if m["acc"]]
        refused = [k for k, m in msgs.items() if m["err"] is not None]
        delivered = [k for k in msgs if k in self.st.deliveries]
        lost = [k for k in accepted if k not in self.st.deliveries]
        phantom = [k for k in refused if k in self.st.deliveries]
        undecided_gone = [k for k, m in msgs.items() if not m["acc"] and m["err"] is None
                          and k not in self.st.deliveries]
        for k in phantom:
            self.st.failures.append("message %s refused (%s) but delivered" % (k, msgs[k]["err"]))
        nrep, bad = self.repeats()
        self.st.failures += bad
        sub_lost = sum(1 for f in self.st.failures if f.startswith("lost subscription"))
        conv = sum(1 for f in self.st.failures if f.startswith("not converged"))
        print("crashloop: cycles %d (kills: status.a.test %d, status.b.test %d); "
              "subscription changes acknowledged %d, lost %d, undecided %d, refused %d; "
              "messages sent %d, accepted %d, delivered %d, lost %d, repeated %d "
              "(not allowed %d), refused %d, unanswered and not delivered %d; "
              "live edits %d; convergence failures %d; failures %d; wall %.0f s "
              "(loop %.0f s, %.2f s/cycle)" % (
                  self.cycles, len(self.a.kills), len(self.b.kills), self.st.sub_acked,
                  sub_lost, self.st.sub_undecided, self.st.sub_refused, len(msgs),
                  len(accepted), len(delivered), len(lost), nrep, len(bad), len(refused),
                  len(undecided_gone), self.st.edits, conv, len(self.st.failures),
                  now() - t0, loop_time, loop_time / max(1, self.cycles)), flush=True)
        for c in list(self.clients.values()) + [o.client for o in self.owners.values()
                                                if o.client]:
            c.disconnect()
        await asyncio.sleep(0.3)
        if self.st.failures:
            raise AssertionError("%d failures (first: %s)" % (len(self.st.failures),
                                                              self.st.failures[0]))


run(Loop().main, limit=float(os.environ.get("CRASHLOOP_LIMIT", "7200")))
