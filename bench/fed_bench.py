#!/usr/bin/python3
"""Watcher pool and measurement for bench/fed_bench.sh (one case per run).

usage: fed_bench.py CASE N      (CASE: c, b or a; see fed_bench.sh)

Environment (set by fed_bench.sh / fed_setup): A_ADDR A_C2S_PORT B_ADDR
B_C2S_PORT A_LOG B_LOG A_PID B_PID, CS_PID_A / CS_PID_B when running.

The watchers are raw c2s clients (SASL PLAIN, bind, presence) multiplexed
in one asyncio loop, each with its own expat pull parser: a few KiB of
memory and a few tens of microseconds of CPU per stanza, so thousands of
them do not make the watcher side the slow part.  The run reports the
pool's own CPU time and the worst event-loop lag during the measurement
to show it.

Exit status: 0 measured, 3 case not available (the target refused or
ignored the subscription), 1 error."""
import asyncio
import base64
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

STREAM_NS = "http://etherx.jabber.org/streams"
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
BIND_NS = "urn:ietf:params:xml:ns:xmpp-bind"
LOGIN_PARALLEL = 50
SUB_TIMEOUT = float(os.environ.get("FED_BENCH_SUB_TIMEOUT", "60"))
RUN_TIMEOUT = float(os.environ.get("FED_BENCH_TIMEOUT", "120"))

TARGETS = {
    # case: (address the watchers subscribe to, what it is)
    "c": ("carol@b.test", "plain user carol@b.test (no chanstatd)"),
    "b": ("carol@status.b.test", "channel carol@status.b.test directly (home on b.test)"),
    "a": ("carol\\40status.b.test@status.a.test",
          "carol's channel through status.a.test (carol\\40status.b.test@status.a.test)"),
}


def local(tag):
    return tag.rsplit("}", 1)[-1]


def xml_attr(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace("'", "&apos;")
            .replace('"', "&quot;").replace(">", "&gt;"))


class Conn:
    """One raw c2s connection.  on_stanza(conn, elem, t_read) sees every
    top-level stanza after login; t_read is when its bytes were read."""

    def __init__(self, user, domain, pw, addr, resource="bench"):
        self.user, self.domain, self.pw, self.addr = user, domain, pw, addr
        self.jid = "%s@%s" % (user, domain)
        self.resource = resource
        self.on_stanza = None
        self.waiters = []
        self.reader = self.writer = None
        self.task = None
        CONNS.append(self)

    def _new_parser(self):
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.root = None

    def send(self, data):
        self.writer.write(data.encode())

    def _header(self):
        self._new_parser()
        self.send("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
                  "xmlns:stream='%s' version='1.0'>" % (self.domain, STREAM_NS))

    async def _read_loop(self):
        while True:
            data = await self.reader.read(65536)
            if not data:
                return
            t = time.monotonic()
            self.parser.feed(data)
            for ev, el in self.parser.read_events():
                if ev == "start":
                    self.depth += 1
                    if self.depth == 1:
                        self.root = el
                    continue
                self.depth -= 1
                if self.depth != 1:
                    continue
                self.root.remove(el)
                self._dispatch(el, t)

    def _dispatch(self, el, t):
        for w in list(self.waiters):
            pred, fut = w
            if not fut.done() and pred(el):
                fut.set_result(el)
                self.waiters.remove(w)
                return
        if self.on_stanza:
            self.on_stanza(self, el, t)

    async def wait(self, pred, timeout):
        fut = asyncio.get_event_loop().create_future()
        self.waiters.append((pred, fut))
        return await asyncio.wait_for(fut, timeout)

    async def login(self, presence="<presence/>", timeout=30):
        host, port = self.addr
        self.reader, self.writer = await asyncio.open_connection(host, port)
        self._header()
        self.task = asyncio.ensure_future(self._read_loop())
        await self.wait(lambda e: local(e.tag) == "features", timeout)
        cred = base64.b64encode(("\0%s\0%s" % (self.user, self.pw)).encode()).decode()
        self.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (SASL_NS, cred))
        r = await self.wait(lambda e: local(e.tag) in ("success", "failure"), timeout)
        if local(r.tag) != "success":
            raise RuntimeError("%s: authentication failed" % self.jid)
        self._header()
        await self.wait(lambda e: local(e.tag) == "features", timeout)
        self.send("<iq type='set' id='bind'><bind xmlns='%s'><resource>%s</resource></bind></iq>"
                  % (BIND_NS, self.resource))
        r = await self.wait(lambda e: e.get("id") == "bind", timeout)
        if r.get("type") != "result":
            raise RuntimeError("%s: bind failed" % self.jid)
        self.send("<iq type='set' id='sess'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
        await self.wait(lambda e: e.get("id") == "sess", timeout)
        # Prosody delivers subscribed/unsubscribed only to resources that
        # asked for the roster ("interested" resources).
        self.send("<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>")
        await self.wait(lambda e: e.get("id") == "roster", timeout)
        if presence:
            self.send(presence)

    def close(self):
        if self.writer:
            try:
                self.send("</stream:stream>")
                self.writer.close()
            except Exception:
                pass
        if self.task:
            self.task.cancel()
        return self.task


def is_presence(el):
    return local(el.tag) == "presence"


def status_of(el):
    for c in el:
        if local(c.tag) == "status":
            return c.text or ""
    return ""


class Watcher:
    def __init__(self, i, target):
        self.conn = Conn("w%d" % i, "a.test", "w%dpw" % i,
                         (os.environ["A_ADDR"], int(os.environ["A_C2S_PORT"])))
        self.target = target
        self.answer = None          # subscribed / unsubscribed / error / None
        self.available = asyncio.Event()
        self.decided = asyncio.Event()
        self.marker = None
        self.got = None             # monotonic time the marker arrived
        self.conn.on_stanza = self._stanza

    def _stanza(self, conn, el, t):
        if not is_presence(el) or el.get("from", "").split("/")[0] != self.target:
            return
        typ = el.get("type", "available")
        if typ in ("subscribed", "unsubscribed", "error"):
            if self.answer != "subscribed":
                self.answer = typ
            self.decided.set()
        elif typ == "available":
            self.available.set()
            if self.marker and self.got is None and status_of(el) == self.marker:
                self.got = t
                BENCH.arrived()

    async def subscribe(self, timeout):
        self.conn.send("<presence to='%s' type='subscribe'/>" % xml_attr(self.target))
        try:
            await asyncio.wait_for(self.decided.wait(), timeout)
            if self.answer == "subscribed":
                await asyncio.wait_for(self.available.wait(), timeout)
        except asyncio.TimeoutError:
            pass


class Owner:
    """carol@b.test: approves every subscription request (the watchers' in
    case c, the channel's in cases b and a) and makes the status change."""

    def __init__(self):
        self.conn = Conn("carol", "b.test", "carolpw",
                         (os.environ["B_ADDR"], int(os.environ["B_C2S_PORT"])))
        self.conn.on_stanza = self._stanza
        self.approved = 0

    def _stanza(self, conn, el, t):
        if is_presence(el) and el.get("type") == "subscribe":
            self.conn.send("<presence to='%s' type='subscribed'/>" % xml_attr(el.get("from")))
            self.approved += 1


class Bench:
    def __init__(self):
        self.pending = 0
        self.all_in = asyncio.Event()

    def arrived(self):
        self.pending -= 1
        if self.pending == 0:
            self.all_in.set()


BENCH = None


def proc_cpu(pid):
    """utime+stime of a process in seconds, None if unknown."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def log_quiet(paths, quiet=1.0, limit=60):
    """Until none of the logs grew for `quiet` seconds."""
    last, since, t0 = None, time.monotonic(), time.monotonic()
    while time.monotonic() - t0 < limit:
        sizes = [os.path.getsize(p) for p in paths]
        if sizes != last:
            last, since = sizes, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return sizes
        await asyncio.sleep(0.1)
    return [os.path.getsize(p) for p in paths]


# What the logs show per s2s stanza (Prosody 0.12, debug level):
#   mod_s2s session.sends2s(): "Sending[s2sout]: <presence ...>" (top tag),
#     logged once for every stanza written to an s2s stream;
#   core/stanza_router: "Received[s2sin]: <presence ...>", once for every
#     stanza an authenticated incoming s2s stream delivers;
#   bench/mod_bench_s2s_bytes: "s2s-bytes out N: <presence", the exact
#     serialised size written for that stanza (same call, next filter).
SENT = re.compile(r"\tSending\[s2s(?:out|in)\]: <(\w+)[ />]")
TO = re.compile(r" to=(['\"])(.*?)\1")
RECV = re.compile(r"\tReceived\[s2sin\]: <(\w+)[ />]")
BYTES = re.compile(r"\ts2s-bytes out (\d+): <(\w+)")


def count_log(path, offset):
    with open(path, "rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    sent, recv, nbytes, nwrites, other, to = 0, 0, 0, 0, {}, set()
    for line in text.splitlines():
        m = SENT.search(line)
        if m:
            if m.group(1) == "presence":
                sent += 1
                t = TO.search(line)
                to.add(t.group(2) if t else "")
            else:
                other[m.group(1)] = other.get(m.group(1), 0) + 1
            continue
        m = RECV.search(line)
        if m and m.group(1) == "presence":
            recv += 1
            continue
        m = BYTES.search(line)
        if m and m.group(2) == "presence":
            nbytes += int(m.group(1))
            nwrites += 1
    return {"sent": sent, "recv": recv, "bytes": nbytes, "writes": nwrites, "other": other,
            "to": len(to)}


def tcp_b_to_a():
    """Bytes a.test's s2s sockets have received (its s2sin from b.test and
    the answers on its s2sout to b.test), from the kernel's counters via
    `ss`, or None without iproute2.  An independent check of the byte
    figure taken from the logs."""
    if not shutil.which("ss"):
        return None
    a_in = "%s:5269" % os.environ["A_ADDR"]
    b_in = "%s:5269" % os.environ["B_ADDR"]
    out = subprocess.run(["ss", "-tinH", "state", "established"], capture_output=True,
                         text=True).stdout.splitlines()
    total, sock = 0, None
    for line in out:
        if not line.startswith(("\t", " ")):
            f = line.split()
            sock = (f[-2], f[-1]) if len(f) >= 2 else None
            continue
        if sock and (sock[0] == a_in or sock[1] == b_in):
            m = re.search(r"bytes_received:(\d+)", line)
            if m:
                total += int(m.group(1))
    return total


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    i = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals))) - 1))
    return sorted_vals[i]


async def gather_limited(coros, limit):
    sem = asyncio.Semaphore(limit)

    async def one(c):
        async with sem:
            return await c
    return await asyncio.gather(*(one(c) for c in coros))


CONNS = []


async def main(case, n):
    try:
        return await measure(case, n)
    finally:
        tasks = [t for t in (c.close() for c in CONNS) if t]
        await asyncio.gather(*tasks, return_exceptions=True)


async def measure(case, n):
    global BENCH
    BENCH = Bench()
    target, what = TARGETS[case]
    print("case (%s): %d watchers on a.test subscribed to %s" % (case, n, what))

    owner = Owner()
    await owner.conn.login("<presence><status>start</status></presence>")
    await asyncio.sleep(0.5)  # stored requests (the channel's) replayed and approved

    watchers = [Watcher(i, target) for i in range(1, n + 1)]
    # One watcher first: a target that refuses or ignores the subscription
    # is reported as not available without logging in the whole pool.
    first = watchers[0]
    await first.conn.login()
    await first.subscribe(10)
    if first.answer != "subscribed" or not first.available.is_set():
        print("case (%s): %s: %s answered %s%s" % (
            case, "not available yet" if case == "a" else "FAILED", target,
            first.answer or "nothing within 10s",
            "" if first.answer != "subscribed" else " but sent no available presence"))
        return 3 if case == "a" else 1

    t0 = time.monotonic()
    await gather_limited([w.conn.login() for w in watchers[1:]], LOGIN_PARALLEL)
    t1 = time.monotonic()
    await gather_limited([w.subscribe(SUB_TIMEOUT) for w in watchers[1:]], LOGIN_PARALLEL)
    t2 = time.monotonic()
    ok = [w for w in watchers if w.answer == "subscribed" and w.available.is_set()]
    print("setup: %d logins in %.1fs, %d subscriptions in %.1fs (owner approved %d)" % (
        n - 1, t1 - t0, n - 1, t2 - t1, owner.approved))
    if len(ok) != n:
        answers = {}
        for w in watchers:
            k = w.answer or "nothing"
            if w.answer == "subscribed" and not w.available.is_set():
                k = "subscribed, no presence"
            answers[k] = answers.get(k, 0) + 1
        print("case (%s): only %d of %d watchers subscribed and saw the target available: %s"
              % (case, len(ok), n, answers))
        if case == "a":
            print("case (%s): not available yet" % case)
            return 3
        return 1

    logs = [os.environ["A_LOG"], os.environ["B_LOG"]]
    offs = await log_quiet(logs)
    pids = {"prosody a.test": os.environ.get("A_PID"), "prosody b.test": os.environ.get("B_PID"),
            "chanstatd status.a.test": os.environ.get("CS_PID_A"),
            "chanstatd status.b.test": os.environ.get("CS_PID_B")}
    cpu0 = {k: proc_cpu(p) for k, p in pids.items() if p}

    marker = "tick-" + secrets.token_hex(6)
    BENCH.pending = n
    for w in watchers:
        w.marker = marker
    lag = [0.0]

    async def lag_probe():
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.001)
            lag[0] = max(lag[0], time.monotonic() - t - 0.001)
    probe = asyncio.ensure_future(lag_probe())

    tcp0 = tcp_b_to_a()
    own0 = time.process_time()
    t_change = time.monotonic()
    owner.conn.send("<presence><show>away</show><status>%s</status></presence>" % marker)
    try:
        await asyncio.wait_for(BENCH.all_in.wait(), RUN_TIMEOUT)
    except asyncio.TimeoutError:
        pass
    t_done = time.monotonic()
    own = time.process_time() - own0
    probe.cancel()
    cpu1 = {k: proc_cpu(p) for k, p in pids.items() if p}
    await log_quiet(logs)
    tcp1 = tcp_b_to_a()

    times = sorted(w.got - t_change for w in watchers if w.got is not None)
    a = count_log(logs[0], offs[0])
    b = count_log(logs[1], offs[1])
    window = (times[-1] if times else t_done - t_change)
    print("status change -> watchers: %d of %d received; first %.1f ms, p50 %.1f ms, "
          "p90 %.1f ms, last %.1f ms" % (
              len(times), n, 1000 * times[0] if times else float("nan"),
              1000 * pct(times, 50), 1000 * pct(times, 90), 1000 * window))
    print("s2s b.test -> a.test: %d presence stanzas sent (b.test log) to %d distinct "
          "addresses, %d received (a.test log), %d bytes (%.0f per stanza, %d writes)" % (
              b["sent"], b["to"], a["recv"], b["bytes"],
              b["bytes"] / b["writes"] if b["writes"] else 0, b["writes"]))
    if b["sent"] > b["to"]:
        print("WARNING: %d extra copies (%d stanzas for %d addresses): duplicates in "
              "the fan-out" % (b["sent"] - b["to"], b["sent"], b["to"]))
    print("s2s a.test -> b.test: %d presence stanzas sent, %d received, %d bytes" % (
        a["sent"], b["recv"], a["bytes"]))
    if tcp0 is not None and tcp1 is not None:
        print("tcp check (kernel counters, ss): %d bytes b.test -> a.test on s2s sockets"
              % (tcp1 - tcp0))
    others = {k: a["other"].get(k, 0) + b["other"].get(k, 0)
              for k in set(a["other"]) | set(b["other"])}
    if others:
        print("other s2s stanzas in the window: %s" % others)
    print("watcher pool: %.2f s CPU during the %.2f s until the last arrival (%.0f%% of one "
          "core), worst event-loop lag %.1f ms" % (own, t_done - t_change,
                                                   100 * own / max(t_done - t_change, 1e-9),
                                                   1000 * lag[0]))
    busy = {k: cpu1[k] - cpu0[k] for k in cpu0
            if cpu0[k] is not None and cpu1.get(k) is not None}
    print("server CPU in that window (10 ms ticks): " + ", ".join(
        "%s %.2f s" % kv for kv in busy.items()))
    span = max(t_done - t_change, 1e-9)
    top = max(busy.items(), key=lambda kv: kv[1]) if busy else ("?", 0.0)
    print("bottleneck check: watcher pool busy %.0f%% of the window, %s %.0f%%: %s" % (
        100 * own / span, top[0], 100 * top[1] / span,
        "the watcher side is not the limit" if own < top[1] and own < 0.5 * span
        else "the watcher side may be limiting, compare with fewer watchers"))
    print("note: both Prosodys log at debug level (the counts come from their logs); "
          "the times include that cost")
    if b["sent"] != a["recv"] or b["sent"] != b["writes"]:
        print("WARNING: log counts disagree (sent %d, received %d, byte records %d)" % (
            b["sent"], a["recv"], b["writes"]))
    return 0 if len(times) == n else 1


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in TARGETS:
        sys.exit("usage: fed_bench.py c|b|a N")
    rc = asyncio.get_event_loop().run_until_complete(main(sys.argv[1], int(sys.argv[2])))
    sys.exit(rc)
