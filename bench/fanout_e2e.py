#!/usr/bin/python3
"""Watcher pool, set-up writer and tables for bench/fanout_e2e.sh.

usage: fanout_e2e.py store DATA_DIR CASE N rosters|accounts
                                    Prosody's accounts (and pre-approved rosters)
       fanout_e2e.py rows DB N      the channel's watcher rows in chanstatd's database
       fanout_e2e.py run RESULT     one case (environment below), figures to RESULT
       fanout_e2e.py na RESULT SERVER CASE REASON    a case that is not available
       fanout_e2e.py table DIR N SERVER CASES        the table of one server

`run` reads FANOUT_SERVER FANOUT_CASE FANOUT_N C2S_PORT COMP_PORT
SERVER_PIDS (space-separated) CS_PID (empty without chanstatd)
FANOUT_SETUP (store: the subscriptions were written by `store`/`rows`;
protocol: each watcher sends subscribe and the owner's client or the
channel approves) FANOUT_REGISTER (ibr: in-band registration, XEP-0077,
of carol and every watcher first) FANOUT_REPEATS FANOUT_NOTE.

The watchers are fed_bench.py's raw c2s connections (Conn), thousands in
one asyncio loop for the set-up.  Per status change of carol@a.test (a
warm-up change, then FANOUT_REPEATS measured ones, alternately away and
available, each with its own status text) the pool stops reading through
asyncio and reads every watcher's socket itself in one epoll loop until
the status text has arrived at all of them: a read, a clock reading and
a byte search per stanza (asyncio's per-socket callbacks and the XML
parser cost several times that, which made the pool as slow per stanza
as the servers on two cores).  The bytes are then handed back to each
connection's parser, which must find the text in a presence from the
target.  Recorded per change:
  - the CPU (utime+stime, /proc/PID/stat) of the server's processes and
    of chanstatd from just before the change until all of them were idle
    again (no tick for FANOUT_QUIET seconds), and the same from
    /proc/PID/task/*/schedstat (nanoseconds);
  - the time from sending the change to each watcher's read: first,
    median, 90th percentile and last;
  - the bytes chanstatd wrote on its component link (the server's socket
    counters, ss(8));
  - the pool's own CPU until the last arrival and its longest epoll batch
    (how long a ready socket may have waited to be read).
Exit status: 0 measured, 1 error."""
import asyncio
import glob
import json
import os
import re
import secrets
import select
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fed_bench  # noqa: E402
from fed_bench import (Conn, gather_limited, is_presence, local, pct,  # noqa: E402
                       proc_cpu, status_of, xml_attr)

DOMAIN = "a.test"
OWNER = "carol@" + DOMAIN
TARGETS = {
    "native": OWNER,
    "chanstat": "carol@status." + DOMAIN,
    "multicast": "carol@status." + DOMAIN,
}
PARALLEL = int(os.environ.get("FANOUT_PARALLEL", "100"))
SUB_TIMEOUT = float(os.environ.get("FANOUT_SUB_TIMEOUT", "120"))
RUN_TIMEOUT = float(os.environ.get("FANOUT_TIMEOUT", "120"))
QUIET = float(os.environ.get("FANOUT_QUIET", "0.5"))
REGISTER_NS = "jabber:iq:register"


# ---- set-up written straight into Prosody's internal store ----

def lua_roster(items):
    """A roster file as Prosody 0.12's internal storage writes it:
    items is a list of (jid, subscription)."""
    out = ['return {\n\t[false] = {\n\t\t["version"] = 1;\n\t\t["pending"] = {};\n\t};\n']
    for jid, sub in items:
        out.append('\t["%s"] = {\n\t\t["groups"] = {};\n\t\t["subscription"] = "%s";\n\t};\n'
                   % (jid, sub))
    out.append("};\n")
    return "".join(out)


def write_store(data_dir, case, n, rosters):
    """Accounts carol and w1..wN (password NAMEpw) and, with rosters,
    pre-approved rosters: native, each watcher 'to' carol@a.test and
    carol 'from' each watcher; chanstat and multicast, each watcher 'to'
    the channel (the channel's side is write_rows)."""
    host = os.path.join(data_dir, DOMAIN.replace(".", "%2e"))
    acc, ros = os.path.join(host, "accounts"), os.path.join(host, "roster")
    os.makedirs(acc, exist_ok=True)
    os.makedirs(ros, exist_ok=True)
    target = TARGETS[case]
    for name in ["carol"] + ["w%d" % i for i in range(1, n + 1)]:
        with open(os.path.join(acc, name + ".dat"), "w") as f:
            f.write('return {\n\t["password"] = "%spw";\n};\n' % name)
        if rosters and name != "carol":
            with open(os.path.join(ros, name + ".dat"), "w") as f:
                f.write(lua_roster([(target, "to")]))
    if rosters and case == "native":
        with open(os.path.join(ros, "carol.dat"), "w") as f:
            f.write(lua_roster([("w%d@%s" % (i, DOMAIN), "from") for i in range(1, n + 1)]))


def write_rows(db, n):
    """The channel's side: w1..wN@a.test subscribed ('from') to carol, in
    one transaction, while chanstatd is stopped (doc/schema.md: admins may
    edit the roster table)."""
    con = sqlite3.connect(db)
    with con:
        con.executemany("INSERT INTO roster (channel, jid, subscription) VALUES ('carol', ?, 'from')",
                        (("w%d@%s" % (i, DOMAIN),) for i in range(1, n + 1)))
    con.close()


# ---- measurement ----

def bare(jid):
    return (jid or "").split("/")[0]


def cpu_ns(pid):
    """CPU time of every thread of pid in nanoseconds (schedstat), or None."""
    total, seen = 0, False
    for p in glob.glob("/proc/%s/task/*/schedstat" % pid):
        try:
            with open(p) as f:
                total += int(f.read().split()[0])
            seen = True
        except (OSError, ValueError, IndexError):
            pass
    return total if seen else None


def machine_busy():
    """CPU seconds all processors spent busy since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def snapshot(pids):
    """(utime+stime seconds, schedstat ns) summed over pids."""
    s, ns = 0.0, 0
    for p in pids:
        s += proc_cpu(p) or 0.0
        ns += cpu_ns(p) or 0
    return s, ns


async def settle(pids, quiet=QUIET, limit=60):
    """Until the processes used no CPU tick for `quiet` seconds."""
    last, since, t0 = None, time.monotonic(), time.monotonic()
    while time.monotonic() - t0 < limit:
        v = snapshot(pids)[0]
        if v != last:
            last, since = v, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return True
        await asyncio.sleep(0.05)
    return False


def link_bytes(port):
    """Bytes the server's end of the component link(s) on `port` received
    (what chanstatd sent), from the kernel's counters; None without ss."""
    if not port or not shutil.which("ss"):
        return None
    out = subprocess.run(["ss", "-tinH", "state", "established", "( sport = :%s )" % port],
                         capture_output=True, text=True).stdout
    return sum(int(m) for m in re.findall(r"bytes_received:(\d+)", out))


class Watcher:
    def __init__(self, i, target, addr):
        self.conn = Conn("w%d" % i, DOMAIN, "w%dpw" % i, addr)
        self.conn.on_stanza = self._stanza
        self.target = target
        self.answer = None          # subscribed / unsubscribed / error
        self.available = asyncio.Event()
        self.decided = asyncio.Event()
        self.marker = None          # status text of the change being measured
        self.confirmed = False      # ... seen by the parser in presence from target
        self.got = None             # when its bytes were read
        self.kept = []              # bytes read during the window
        self.tail = b""
        self.fd = None

    def _stanza(self, conn, el, t):
        if not is_presence(el) or bare(el.get("from")) != self.target:
            return
        typ = el.get("type", "available")
        if typ in ("subscribed", "unsubscribed", "error"):
            if self.answer != "subscribed":
                self.answer = typ
            self.decided.set()
        elif typ == "available":
            self.available.set()
            if self.marker is not None and status_of(el) == self.marker:
                self.confirmed = True

    async def login(self):
        await self.conn.login()
        tr = self.conn.writer.transport
        self.fd = tr.get_extra_info("socket").fileno()
        # asyncio's selector transport reads up to 256 KiB at a time: a
        # buffer that size is an mmap and munmap per read, ten times the
        # cost of the read itself.
        if getattr(tr, "max_size", 0) > 65536:
            tr.max_size = 65536

    async def subscribe(self, timeout):
        self.conn.send("<presence to='%s' type='subscribe'/>" % xml_attr(self.target))
        try:
            await asyncio.wait_for(self.decided.wait(), timeout)
        except asyncio.TimeoutError:
            pass


class Owner:
    """carol@a.test: approves every subscription request (the watchers'
    when they subscribe to her over the protocol, the channel's own) and
    makes the status changes."""

    def __init__(self, addr):
        self.conn = Conn("carol", DOMAIN, "carolpw", addr, resource="owner")
        self.conn.on_stanza = self._stanza
        self.approved = 0

    def _stanza(self, conn, el, t):
        if is_presence(el) and el.get("type") == "subscribe":
            self.conn.send("<presence to='%s' type='subscribed'/>" % xml_attr(bare(el.get("from"))))
            self.approved += 1


async def register(user, addr, timeout=60):
    """XEP-0077 in-band registration of user (password USERpw) on its own
    short connection; an existing account counts as done."""
    c = Conn(user, DOMAIN, user + "pw", addr)
    c.reader, c.writer = await asyncio.open_connection(*addr)
    c._header()
    c.task = asyncio.ensure_future(c._read_loop())
    try:
        await c.wait(lambda e: local(e.tag) == "features", timeout)
        c.send("<iq type='set' id='reg'><query xmlns='%s'><username>%s</username>"
               "<password>%spw</password></query></iq>" % (REGISTER_NS, user, user))
        r = await c.wait(lambda e: e.get("id") == "reg", timeout)
        if r.get("type") != "result" and not any(local(x.tag) == "conflict"
                                                 for e in r for x in e):
            raise RuntimeError("%s: registration refused" % user)
    finally:
        c.close()
        c.writer = None


def read_window(ep, by_fd, marker, n, deadline):
    """Reads the watchers' sockets (registered in ep) until `marker` was
    in what every one of them read, or the deadline.  Sets each
    watcher's `got` to when the read that completed the marker returned.
    Returns the longest time spent on one batch of ready sockets."""
    pending, worst, mlen = n, 0.0, len(marker)
    while pending > 0:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        events = ep.poll(left)
        t_batch = time.monotonic()
        for fd, _ in events:
            w = by_fd[fd]
            try:
                data = os.read(fd, 65536)   # 256 KiB, as asyncio reads, costs an mmap
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            t = time.monotonic()
            if not data:
                ep.unregister(fd)
                continue
            w.kept.append(data)
            if w.got is None:
                if marker in (w.tail + data if w.tail else data):
                    w.got = t
                    pending -= 1
                else:
                    w.tail = data[-mlen:]
        worst = max(worst, time.monotonic() - t_batch)
    return worst


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


async def main(result):
    try:
        return await measure(result)
    finally:
        tasks = [t for t in (c.close() for c in fed_bench.CONNS) if t]
        await asyncio.gather(*tasks, return_exceptions=True)


async def measure(result):
    env = os.environ
    server, case, n = env["FANOUT_SERVER"], env["FANOUT_CASE"], int(env["FANOUT_N"])
    setup, reg = env.get("FANOUT_SETUP", "store"), env.get("FANOUT_REGISTER", "")
    repeats = int(env.get("FANOUT_REPEATS", "5"))
    addr = ("127.0.0.1", int(env["C2S_PORT"]))
    server_pids = env["SERVER_PIDS"].split()
    cs_pids = env.get("CS_PID", "").split()
    target = TARGETS[case]
    print("%s %s: %d watchers of %s, set-up by %s" % (server, case, n, target, setup))

    times = {}
    if reg == "ibr":
        t0 = time.monotonic()
        await gather_limited([register(u, addr) for u in
                              ["carol"] + ["w%d" % i for i in range(1, n + 1)]], PARALLEL)
        times["register"] = time.monotonic() - t0
        print("set-up: %d accounts registered in-band in %.1f s (%d in parallel)"
              % (n + 1, times["register"], PARALLEL))

    owner = Owner(addr)
    await owner.conn.login("<presence><status>start</status></presence>")
    await asyncio.sleep(0.5)    # the channel's stored request replayed and approved

    watchers = [Watcher(i, target, addr) for i in range(1, n + 1)]
    first = watchers[0]
    await first.login()
    if setup == "protocol":
        await first.subscribe(10)
    try:
        await asyncio.wait_for(first.available.wait(), 10)
    except asyncio.TimeoutError:
        print("%s %s: FAILED: w1 never saw %s available (answer: %s)"
              % (server, case, target, first.answer or "none"))
        return 1

    t0 = time.monotonic()
    await gather_limited([w.login() for w in watchers[1:]], PARALLEL)
    times["login"] = time.monotonic() - t0
    if setup == "protocol":
        t0 = time.monotonic()
        await gather_limited([w.subscribe(SUB_TIMEOUT) for w in watchers[1:]], PARALLEL)
        times["subscribe"] = time.monotonic() - t0
    t0 = time.monotonic()
    missing = [w for w in watchers if not w.available.is_set()]
    try:
        await asyncio.wait_for(asyncio.gather(*(w.available.wait() for w in missing)),
                               SUB_TIMEOUT)
    except asyncio.TimeoutError:
        pass
    times["available"] = time.monotonic() - t0
    ok = sum(1 for w in watchers if w.available.is_set())
    print("set-up: %d logins in %.1f s%s; all saw the target available %.1f s later "
          "(owner approved %d)" % (
              n, times["login"],
              ", %d subscriptions in %.1f s" % (n - 1, times["subscribe"])
              if "subscribe" in times else "",
              times["available"], owner.approved))
    if ok != n:
        answers = {}
        for w in watchers:
            if not w.available.is_set():
                answers[w.answer or "nothing"] = answers.get(w.answer or "nothing", 0) + 1
        print("%s %s: FAILED: only %d of %d watchers saw %s available; the others got: %s"
              % (server, case, ok, n, target, answers))
        return 1

    all_pids = server_pids + cs_pids
    comp_port = env.get("COMP_PORT") if cs_pids else None
    by_fd = {w.fd: w for w in watchers}
    token = secrets.token_hex(4)
    rows = []
    if not await settle(all_pids):
        print("WARNING: the servers never went idle before the first change")
    for k in range(repeats + 1):
        marker = "change %d %s" % (k, token)
        show = "<show>away</show>" if k % 2 == 0 else ""
        # asyncio lets go of the sockets; read_window reads them.
        ep = select.epoll(len(watchers) + 1)
        for w in watchers:
            w.marker, w.got, w.confirmed, w.kept, w.tail = marker, None, False, [], b""
            w.conn.writer.transport.pause_reading()
            ep.register(w.fd, select.EPOLLIN)
        link0 = link_bytes(comp_port)
        srv0, cs0 = snapshot(server_pids), snapshot(cs_pids)
        busy0 = machine_busy()
        own0 = time.process_time()
        t_change = time.monotonic()
        owner.conn.send("<presence>%s<status>%s</status></presence>" % (show, marker))
        worst = read_window(ep, by_fd, marker.encode(), n, t_change + RUN_TIMEOUT)
        t_done = time.monotonic()
        own = time.process_time() - own0
        ep.close()
        # Back to asyncio: what was read goes to each connection's parser first.
        for w in watchers:
            if w.kept:
                w.conn.reader.feed_data(b"".join(w.kept))
            w.conn.writer.transport.resume_reading()
        quiet = await settle(all_pids)
        srv1, cs1 = snapshot(server_pids), snapshot(cs_pids)
        busy = machine_busy() - busy0
        own_all = time.process_time() - own0
        link1 = link_bytes(comp_port)
        got = sorted(w.got - t_change for w in watchers if w.got is not None)
        r = {
            "server_ms": 1000 * (srv1[0] - srv0[0]), "server_ns_ms": (srv1[1] - srv0[1]) / 1e6,
            "cs_ms": 1000 * (cs1[0] - cs0[0]) if cs_pids else None,
            "cs_ns_ms": (cs1[1] - cs0[1]) / 1e6 if cs_pids else None,
            "received": len(got),
            "first_ms": 1000 * got[0] if got else None,
            "last_ms": 1000 * got[-1] if got else None,
            "p50_ms": 1000 * pct(got, 50) if got else None,
            "p90_ms": 1000 * pct(got, 90) if got else None,
            "link_bytes": link1 - link0 if link0 is not None and link1 is not None else None,
            "pool_ms": 1000 * own, "window_ms": 1000 * (t_done - t_change),
            "batch_ms": 1000 * worst, "settled": quiet,
            # CPU of everything else on the machine meanwhile (noise)
            "other_ms": 1000 * (busy - own_all - (srv1[0] - srv0[0]) - (cs1[0] - cs0[0])),
        }
        nan = float("nan")
        print("%s %d (%s): %d/%d received, first %.1f ms, p50 %.1f, p90 %.1f, last %.1f; "
              "CPU ms server %.0f (%.1f), chanstatd %s, others %.0f; link %s bytes; pool %.0f ms "
              "CPU, longest batch %.1f ms%s" % (
                  "warm-up" if k == 0 else "change", k, "away" if show else "available",
                  len(got), n, r["first_ms"] or nan, r["p50_ms"] or nan, r["p90_ms"] or nan,
                  r["last_ms"] or nan, r["server_ms"], r["server_ns_ms"],
                  "%.0f (%.1f)" % (r["cs_ms"], r["cs_ns_ms"]) if cs_pids else "-",
                  r["other_ms"], r["link_bytes"] if r["link_bytes"] is not None else "?",
                  r["pool_ms"], r["batch_ms"], "" if quiet else ", NOT idle after 60 s"))
        # The parsers have had the bytes by now (settle yields to the loop).
        wrong = [w for w in watchers if w.got is not None and not w.confirmed]
        if wrong:
            print("%s %s: FAILED: the status text of change %d reached %s (and %d more) in "
                  "something else than available presence from %s"
                  % (server, case, k, wrong[0].conn.jid, len(wrong) - 1, target))
            return 1
        if len(got) != n:
            print("%s %s: FAILED: change %d reached %d of %d watchers within %.0f s"
                  % (server, case, k, len(got), n, RUN_TIMEOUT))
            return 1
        if k > 0:
            rows.append(r)

    summary = {k: med([r[k] for r in rows]) for k in rows[0] if k != "settled"}
    summary["batch_max_ms"] = max(r["batch_ms"] for r in rows)
    summary["pool_share"] = max(r["pool_ms"] / max(r["window_ms"], 1e-9) for r in rows)
    summary["pool_us"] = 1000 * summary["pool_ms"] / n
    out = {"server": server, "case": case, "n": n, "repeats": repeats, "status": "ok",
           "setup": setup, "setup_s": times, "median": summary, "changes": rows,
           "note": env.get("FANOUT_NOTE", "")}
    with open(result, "w") as f:
        json.dump(out, f)
    print("watcher pool: %.0f us CPU per watcher and change, at most %.0f%% of one core until "
          "the last arrival, longest epoll batch %.1f ms" % (
              summary["pool_us"], 100 * summary["pool_share"], summary["batch_max_ms"]))
    return 0


# ---- the table ----

def fmt(v, nd=1):
    return "-" if v is None else "%.*f" % (nd, v)


def ratio(v, ref):
    return "" if v is None or not ref else "x%.2f" % (v / ref)


def table(d, n, server, cases):
    res = {}
    for c in cases:
        p = os.path.join(d, "%s-%s.json" % (server, c))
        if os.path.exists(p):
            with open(p) as f:
                res[c] = json.load(f)
    ok = [c for c in cases if c in res and res[c]["status"] == "ok"]
    nat = res["native"]["median"] if "native" in ok else None
    reps = max([res[c]["repeats"] for c in ok] + [0])
    print()
    print("%s, N=%d: medians over %d status changes (CPU: utime+stime, /proc/PID/stat, "
          "10 ms ticks; x = ratio to native)" % (server, n, reps))
    hdr = ("%-10s %15s %16s %15s %17s %8s %8s %11s" % (
        "case", "server CPU ms", "chanstatd CPU ms", "total CPU ms", "last watcher ms",
        "p50 ms", "p90 ms", "link bytes"))
    print(hdr)
    print("-" * len(hdr))
    for c in cases:
        r = res.get(c)
        if r is None:
            print("%-10s %s" % (c, "FAILED (no figures)"))
            continue
        if r["status"] != "ok":
            print("%-10s %s" % (c, "case not available: " + r.get("reason", "")))
            continue
        m = r["median"]
        tot = (m["server_ms"] or 0) + (m["cs_ms"] or 0)
        ref_cpu = nat["server_ms"] if nat else None
        print("%-10s %8s %6s %9s %6s %8s %6s %9s %7s %8s %8s %11s" % (
            c, fmt(m["server_ms"], 0), ratio(m["server_ms"], ref_cpu),
            fmt(m["cs_ms"], 0), ratio(m["cs_ms"], ref_cpu),
            fmt(tot, 0), ratio(tot, ref_cpu),
            fmt(m["last_ms"]), ratio(m["last_ms"], nat["last_ms"] if nat else None),
            fmt(m["p50_ms"]), fmt(m["p90_ms"]),
            "-" if m["link_bytes"] is None else "%.0f" % m["link_bytes"]))
    if ok:
        print("CPU ms from schedstat (ns): " + "; ".join(
            "%s server %.1f%s" % (c, res[c]["median"]["server_ns_ms"],
                                  ", chanstatd %.1f" % res[c]["median"]["cs_ns_ms"]
                                  if res[c]["median"]["cs_ns_ms"] is not None else "")
            for c in ok))
        print("watcher pool: " + "; ".join(
            "%s %.0f us/watcher, <= %.0f%% of a core, batch <= %.1f ms" % (
                c, res[c]["median"]["pool_us"], 100 * res[c]["median"]["pool_share"],
                res[c]["median"]["batch_max_ms"])
            for c in ok))
        print("CPU of other processes per change (machine busy time less the above and the "
              "pool; noise): " + "; ".join("%s %.0f ms" % (c, res[c]["median"]["other_ms"])
                                           for c in ok))
        print("set-up: " + "; ".join(
            "%s %s" % (c, ", ".join("%s %.1f s" % kv for kv in res[c]["setup_s"].items()))
            for c in ok))
    for c in cases:
        if c in res and res[c].get("note"):
            print("note (%s): %s" % (c, res[c]["note"]))
    print("x for chanstatd and total: against native's server CPU; link bytes: what chanstatd "
          "wrote to the server per change")


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) == 5 and a[0] == "store" and a[2] in TARGETS and a[4] in ("rosters", "accounts"):
        write_store(a[1], a[2], int(a[3]), a[4] == "rosters")
    elif len(a) == 3 and a[0] == "rows":
        write_rows(a[1], int(a[2]))
    elif len(a) == 2 and a[0] == "run":
        sys.exit(asyncio.get_event_loop().run_until_complete(main(a[1])))
    elif len(a) == 5 and a[0] == "na":
        with open(a[1], "w") as f:
            json.dump({"server": a[2], "case": a[3], "status": "na", "reason": a[4]}, f)
    elif len(a) == 5 and a[0] == "table":
        table(a[1], int(a[2]), a[3], a[4].split())
    else:
        sys.exit(__doc__.split("\n\n")[0])
