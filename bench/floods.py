#!/usr/bin/python3
"""floods.py - floods against chanstatd, measured (bench/floods.sh runs it).

usage: floods.py PORT SECRET WORKDIR SCALE [FLOOD...]

A fake XEP-0114 server on 127.0.0.1:PORT (chanstatd connects to it), so
that volume is not capped by a real server's own limits: it forges any
`from`, as a server may for its users and a remote domain for its own.
Reads WORKDIR/cs.pid (chanstatd's pid), WORKDIR/chanstat.db and runs
WORKDIR/ctl (chanstatctl with the config) for the admin listing.

For each flood it prints the limit in force, what happened (answers by
kind, rows in the database), chanstatd's RSS before / peak during /
after (VmRSS; the peak is VmHWM after resetting it through
/proc/PID/clear_refs), and the round trip of a normal user meanwhile: a
disco#info from normal@a.test/r to the channel alice@status.a.test,
p50/p99 idle (just before) and during, with the ratio.  SCALE is the
flood's size (stanzas; 100000 in the benchmark).  Floods (default all):
  sub_one      one sender subscribes to 2,000 open channels, SCALE times
  sub_domain   SCALE senders of one domain each subscribe to open `pub`
  sub_vouch    a remote node vouches for SCALE users subscribing to `pub`
  lease_renew  a remote node renews its lease on `pub` SCALE times
  lease_nodes  SCALE remote node domains each subscribe to `pub` with a lease
  offline      SCALE messages from SCALE senders to `off` (owner offline)
  pending      SCALE senders of SCALE/10 domains ask approve-policy `desk`
  oversize     SCALE/100 messages of 70 KB and 20 of 1.5 MB to `pub`
  ping_one     SCALE pings to the component from one sender
  ping_many    SCALE pings from SCALE senders, half to the domain, half to channels
Each flood is sent at FLOODS_RATE stanzas/s (default 5000, about half of
what Prosody routes in all on 2 cores; 0: as fast as the socket takes
them).  A flood chanstatd handles slower than that leaves a backlog on
the one component stream, which every other user waits behind: the
round trip during it shows that.  A line "FLOOD name" heads each."""
import hashlib
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import xml.parsers.expat

port, secret, work, scale = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
rate = int(os.environ.get("FLOODS_RATE", "5000"))  # stanzas/s; 0: as fast as possible
wanted = sys.argv[5:]
D = "status.a.test"
NORMAL = "normal@a.test/r"


def say(*a):
    print(*a, flush=True)


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


class Link:
    """The component stream: a reader thread counts every stanza chanstatd
    writes and wakes whoever waits for an iq id."""

    def __init__(self, conn):
        self.conn = conn
        self.wlock = threading.Lock()
        self.cv = threading.Condition()
        self.answered = {}  # id -> time answered
        self.counts = {}
        self.closed = False
        self.p = xml.parsers.expat.ParserCreate()
        self.p.StartElementHandler = self.start
        self.p.EndElementHandler = self.end
        self.depth = 0
        self.cur = None
        self.cond = None
        self.p.Parse(b"<stream>", False)
        threading.Thread(target=self.read, daemon=True).start()

    def start(self, name, attrs):
        self.depth += 1
        if self.depth == 2:
            self.cur = (name, attrs.get("type", ""), attrs.get("id", ""))
            self.cond = None
        elif self.depth == 4 and self.cur and self.cur[1] == "error" and name != "text":
            self.cond = name

    def end(self, name):
        if self.depth == 2:
            n, t, i = self.cur
            key = "%s/%s%s" % (n, t or "-", "/" + self.cond if self.cond else "")
            self.counts[key] = self.counts.get(key, 0) + 1
            if n == "iq" and i.startswith("rtt") or i.startswith("sync"):
                with self.cv:
                    self.answered[i] = time.perf_counter()
                    self.cv.notify_all()
        self.depth -= 1

    def read(self):
        while True:
            try:
                data = self.conn.recv(262144)
            except OSError:
                data = b""
            if not data:
                with self.cv:
                    self.closed = True
                    self.cv.notify_all()
                return
            self.p.Parse(data, False)

    def send(self, data):
        with self.wlock:
            self.conn.sendall(data)

    def wait(self, ident, timeout):
        end = time.time() + timeout
        with self.cv:
            while ident not in self.answered and not self.closed:
                left = end - time.time()
                if left <= 0:
                    return None
                self.cv.wait(left)
            return self.answered.pop(ident, None)


def read_until(conn, token):
    data = b""
    while token not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionError("closed during handshake")
        data += chunk
    return data


def accept(srv, n):
    conn, _ = srv.accept()
    read_until(conn, b">")
    sid = "flood%d" % n
    conn.sendall(("<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/"
                  "streams' xmlns='jabber:component:accept' id='%s'>" % sid).encode())
    data = read_until(conn, b"</handshake>")
    digest = data.split(b"<handshake>")[1].split(b"</handshake>")[0].decode()
    if digest != hashlib.sha1((sid + secret).encode()).hexdigest():
        raise ConnectionError("bad handshake digest")
    conn.sendall(b"<handshake/>")
    # Else a probe written behind a flood chanstatd does not answer waits
    # for its delayed ACK (Nagle): 40 ms that are not chanstatd's.
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return Link(conn)


# ---- what is measured ----

def cs_pid():
    with open(os.path.join(work, "cs.pid")) as f:
        return int(f.read())


def mem(field):
    with open("/proc/%d/status" % cs_pid()) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def cpu_s():
    with open("/proc/%d/stat" % cs_pid()) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak():
    try:
        with open("/proc/%d/clear_refs" % cs_pid(), "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def db_query(sql):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(work, "chanstat.db"), uri=True,
                         timeout=30)
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.close()


def db_bytes():
    base = os.path.join(work, "chanstat.db")
    return sum(os.path.getsize(base + s) for s in ("", "-wal") if os.path.exists(base + s))


seq = [0]


def rtt_once(link, timeout=30):
    seq[0] += 1
    ident = "rtt%d" % seq[0]
    t0 = time.perf_counter()
    link.send(("<iq from='%s' to='alice@%s' id='%s' type='get'><query xmlns='http://jabber.org/"
               "protocol/disco#info'/></iq>" % (NORMAL, D, ident)).encode())
    t1 = link.wait(ident, timeout)
    return None if t1 is None else (t1 - t0) * 1000.0


def sync(link, timeout=600):
    """Waits until chanstatd has handled everything sent before: it
    answers in order."""
    seq[0] += 1
    ident = "sync%d" % seq[0]
    link.send(("<iq from='%s' to='%s' id='%s' type='get'><ping xmlns='urn:xmpp:ping'/></iq>"
               % (NORMAL, D, ident)).encode())
    return link.wait(ident, timeout) is not None


def idle_rtt(link, n=200):
    xs = []
    for _ in range(n):
        x = rtt_once(link)
        if x is not None:
            xs.append(x)
    return xs


class Prober(threading.Thread):
    """A normal user's round trips, one after another, during a flood."""

    def __init__(self, link):
        super().__init__(daemon=True)
        self.link, self.xs, self.lost, self.stop = link, [], 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            x = rtt_once(self.link)
            if x is None:
                self.lost += 1
            else:
                self.xs.append(x)
            time.sleep(0.005)


def flood(link, name, limit, gen, after=None):
    """Sends what gen yields (bytes per stanza) in batches while a prober
    measures; prints the figures."""
    idle = idle_rtt(link)
    rss0 = mem("VmRSS")
    reset_peak()
    before = dict(link.counts)
    pr = Prober(link)
    pr.start()
    c0 = cpu_s()
    t0 = time.perf_counter()
    sent, batch = 0, []
    for st in gen:
        batch.append(st)
        sent += 1
        if len(batch) >= 50:
            link.send(b"".join(batch))
            batch = []
            ahead = sent / rate - (time.perf_counter() - t0) if rate else 0
            if ahead > 0:
                time.sleep(ahead)
    if batch:
        link.send(b"".join(batch))
    ok = sync(link)
    dt = time.perf_counter() - t0
    cpu = cpu_s() - c0
    pr.stop.set()
    pr.join()
    hwm, rss1 = mem("VmHWM"), mem("VmRSS")
    got = {k: v - before.get(k, 0) for k, v in link.counts.items() if v != before.get(k, 0)}
    for k in [k for k in got if k.startswith("iq/result")]:
        got[k] -= len(pr.xs) + 1  # the prober's and sync's own
        if got[k] == 0:
            del got[k]
    extra = after() if after else ""
    p50i, p99i, p50d, p99d = pct(idle, 50), pct(idle, 99), pct(pr.xs, 50), pct(pr.xs, 99)
    say("FLOOD %s" % name)
    say("  limit: %s" % limit)
    say("  sent %d stanzas at %s; all handled after %.2f s (%.0f/s)%s" % (
        sent, "%d/s" % rate if rate else "full speed", dt, sent / dt,
        "" if ok else "; NO ANSWER to the sync ping"))
    say("  chanstatd CPU: %.2f s (%.0f%% of one core)" % (cpu, 100 * cpu / dt))
    say("  answers: %s" % (", ".join("%s=%d" % kv for kv in sorted(got.items())) or "none"))
    if extra:
        say("  %s" % extra)
    say("  chanstatd RSS: before %d KiB, peak %d KiB, after %d KiB" % (rss0, hwm, rss1))
    say("  normal user's disco#info RTT: idle p50 %.2f ms p99 %.2f ms; during p50 %.2f ms "
        "p99 %.2f ms (%d samples, %d lost); ratio p50 %.1fx p99 %.1fx"
        % (p50i, p99i, p50d, p99d, len(pr.xs), pr.lost, p50d / p50i, p99d / p99i))
    return got


# ---- the floods ----

def sub(frm, to, extra=""):
    return ("<presence from='%s' to='%s' type='subscribe'>%s</presence>"
            % (frm, to, extra)).encode()


def rows(where):
    return lambda: "roster rows %s: %d; database %.1f MB" % (
        where, db_query("SELECT count(*) FROM roster WHERE " + where), db_bytes() / 1e6)


NS_FED = "urn:chanstat:federation:0"


def run(link, name):
    s = scale
    if name == "sub_one":
        flood(link, name, "subscription_burst 10, subscriptions_per_minute 30 per sender",
              (sub("flooder@a.test/r", "o%d@%s" % (i % 2000, D)) for i in range(s)),
              rows("jid = 'flooder@a.test'"))
    elif name == "sub_domain":
        flood(link, name, "per sender (10, 30/min), then per domain: domain_subscription_burst 1000, "
              "domain_subscriptions_per_minute 6000",
              (sub("u%d@evil.test/r" % i, "pub@" + D) for i in range(s)),
              rows("jid LIKE 'u%@evil.test'"))
    elif name == "sub_vouch":
        flood(link, name, "per vouched user (10, 30/min), then the node's domain (1000, 6000/min)",
              (sub("v%d\\40evil.test@status.evil.test" % i, "pub@" + D,
                   "<vouch xmlns='%s'/>" % NS_FED) for i in range(s)),
              rows("jid LIKE 'v%@evil.test'"))
    elif name == "lease_renew":
        flood(link, name, "renewals are not rate-limited (one lease per node and channel)",
              (sub("status.evil.test", "pub@" + D, "<lease xmlns='%s' seconds='3600'/>" % NS_FED)
               for i in range(s)),
              lambda: "node_lease rows: %d" % db_query("SELECT count(*) FROM node_lease"))
    elif name == "lease_nodes":
        flood(link, name, "new node subscriptions, all nodes together: node_subscription_burst "
              "10000, node_subscriptions_per_minute 6000",
              (sub("status%d.evil.test" % i, "pub@" + D,
                   "<lease xmlns='%s' seconds='3600'/>" % NS_FED) for i in range(s)),
              lambda: "node_lease rows: %d; database %.1f MB" % (
                  db_query("SELECT count(*) FROM node_lease"), db_bytes() / 1e6))
    elif name == "offline":
        flood(link, name, "[offline] max_messages 100, max_bytes 1 MiB per channel",
              (("<message from='m%d@a.test/r' to='off@%s' id='o%d' type='chat'><body>hello %d"
                "</body></message>" % (i, D, i, i)).encode() for i in range(s)),
              lambda: time.sleep(1.5) or (
                  "offline rows for off: %d; conversation rows for off: %d; database %.1f MB" % (
                      db_query("SELECT count(*) FROM offline WHERE channel = 'off'"),
                      db_query("SELECT count(*) FROM conversation WHERE channel = 'off'"),
                      db_bytes() / 1e6)))
    elif name == "pending":
        def listing():
            t0 = time.perf_counter()
            r = subprocess.run([os.path.join(work, "ctl"), "subscriptions", "desk"],
                               capture_output=True, text=True)
            dt = time.perf_counter() - t0
            return ("pending rows for desk: %d; requests relayed to the owner: see "
                    "presence/subscribe; `chanstatctl subscriptions desk`: %.3f s, %d lines, "
                    "exit %d" % (db_query("SELECT count(*) FROM roster WHERE channel = 'desk' "
                                          "AND pending_in = 1"), dt,
                                 r.stdout.count("\n"), r.returncode))
        flood(link, name, "max_pending_per_channel 1000; beyond it `unsubscribed`",
              (sub("p%d@d%d.test/r" % (i, i % max(1, s // 10)), "desk@" + D) for i in range(s)),
              listing)
    elif name == "oversize":
        big = "x" * 70000
        huge = "&apos;" * 262000

        def gen():
            for i in range(max(1, s // 100)):
                yield ("<message from='b%d@a.test/r' to='pub@%s' id='big%d' type='chat'><body>"
                       "%s</body></message>" % (i, D, i, big)).encode()
            for i in range(20):
                yield ("<message from='h%d@a.test/r' to='pub@%s' id='huge%d' type='chat'><body>"
                       "%s</body></message>" % (i, D, i, huge)).encode()
        flood(link, name, "max_message_bytes 65536 (policy-violation), max_stanza_bytes "
              "262144 (cut, policy-violation)", gen())
    elif name == "ping_one":
        flood(link, name, "none (each answered)",
              (("<iq from='pinger@a.test/r' to='%s' id='p%d' type='get'><ping xmlns='urn:xmpp:"
                "ping'/></iq>" % (D, i)).encode() for i in range(s)))
    elif name == "ping_many":
        flood(link, name, "none (each answered; a channel answers service-unavailable)",
              (("<iq from='q%d@b.test/r' to='%s' id='q%d' type='get'><ping xmlns='urn:xmpp:"
                "ping'/></iq>" % (i, D if i % 2 else "o%d@%s" % (i % 2000, D), i)).encode()
               for i in range(s)))
    else:
        say("unknown flood %s" % name)


ALL = ["sub_one", "sub_domain", "sub_vouch", "lease_renew", "lease_nodes", "offline", "pending",
       "oversize", "ping_one", "ping_many"]

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(4)
say("listening")
link = accept(srv, 1)
say("chanstatd connected")
time.sleep(1.0)  # owner probes and the multicast disco go out first
sync(link)
for name in wanted or ALL:
    run(link, name)
    if link.closed:
        say("FLOOD %s: chanstatd closed the stream" % name)
        link = accept(srv, 2)
say("done")
