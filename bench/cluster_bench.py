#!/usr/bin/python3
"""Set-up, load and tables for bench/cluster_bench.sh.

usage: cluster_bench.py store DATA_DIR N C       Prosody's accounts and rosters
       cluster_bench.py rows standalone|cluster DIR N C   the databases' rows
       cluster_bench.py run RESULT               one mode (environment below)
       cluster_bench.py table DIR N C            the table of both modes

Channel j (c1..cC, owner oj@a.test) has the watchers wi with
(i - 1) % C + 1 == j.  `run` reads MODE N C C2S_PORT SERVER_PID and
CS_PIDS ("name=pid ..."), CLUSTER_REPEATS (default 3)."""
import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fed_bench  # noqa: E402
from fanout_e2e import cpu_ns, lua_roster  # noqa: E402
from fed_bench import Conn, gather_limited, is_presence, local, status_of  # noqa: E402

DOMAIN = "a.test"
CS = "status." + DOMAIN
LOGIN_PARALLEL = 100
TIMEOUT = float(os.environ.get("CLUSTER_TIMEOUT", "120"))


def channel_of(i, c):
    return (i - 1) % c + 1


def write_store(data_dir, n, c):
    host = os.path.join(data_dir, DOMAIN.replace(".", "%2e"))
    acc, ros = os.path.join(host, "accounts"), os.path.join(host, "roster")
    os.makedirs(acc, exist_ok=True)
    os.makedirs(ros, exist_ok=True)
    users = [("o%d" % j, "c%d@%s" % (j, CS), "from") for j in range(1, c + 1)]
    users += [("w%d" % i, "c%d@%s" % (channel_of(i, c), CS), "to") for i in range(1, n + 1)]
    for name, jid, sub in users:
        with open(os.path.join(acc, name + ".dat"), "w") as f:
            f.write('return {\n\t["password"] = "%spw";\n};\n' % name)
        with open(os.path.join(ros, name + ".dat"), "w") as f:
            f.write(lua_roster([(jid, sub)]))


def write_rows(mode, d, n, c):
    def channels(db, which):
        con = sqlite3.connect(db)
        with con:
            con.executemany("INSERT INTO channel (name, owner, policy) VALUES (?, ?, 'open')",
                            (("c%d" % j, "o%d@%s" % (j, DOMAIN)) for j in which))
            con.executemany("INSERT INTO roster (channel, jid, subscription) VALUES (?, ?, 'to')",
                            (("c%d" % j, "o%d@%s" % (j, DOMAIN)) for j in which))
            if mode == "standalone":
                con.executemany(
                    "INSERT INTO roster (channel, jid, subscription) VALUES (?, ?, 'from')",
                    (("c%d" % channel_of(i, c), "w%d@%s" % (i, DOMAIN)) for i in range(1, n + 1)))
        con.close()
    if mode == "standalone":
        channels(os.path.join(d, "chanstatd.db"), range(1, c + 1))
        return
    homes = {}
    ctl = os.environ["CHANSTATCTL"]
    for j in range(1, c + 1):
        out = subprocess.run([ctl, "-c", os.path.join(d, "front.conf"), "--json", "placement",
                              "list", "c%d" % j], check=True, capture_output=True, text=True)
        homes.setdefault(json.loads(out.stdout)["home"].split(".")[0], []).append(j)
    for h, which in homes.items():
        channels(os.path.join(d, h + ".db"), which)
    con = sqlite3.connect(os.path.join(d, "front.db"))
    with con:
        con.executemany("INSERT INTO remote_watcher (remote, jid, state) VALUES (?, ?, 'watching')",
                        (("c%d@%s" % (channel_of(i, c), CS), "w%d@%s" % (i, DOMAIN))
                         for i in range(1, n + 1)))
    con.close()
    print("placement: " + ", ".join("%s %d channels" % (h, len(w)) for h, w in sorted(homes.items())))


class Load:
    def __init__(self, n, c, port):
        self.n, self.c = n, c
        addr = ("127.0.0.1", port)
        self.owners = [Conn("o%d" % j, DOMAIN, "o%dpw" % j, addr) for j in range(1, c + 1)]
        self.watchers = [Conn("w%d" % i, DOMAIN, "w%dpw" % i, addr) for i in range(1, n + 1)]
        self.text = "start"
        self.seen = {}        # watcher index -> time its channel's current text arrived
        self.messages = [0] * c
        self.done = asyncio.Event()
        self.want = 0
        for i, w in enumerate(self.watchers, 1):
            w.on_stanza = self._watcher(i)
        for j, o in enumerate(self.owners, 1):
            o.on_stanza = self._owner(j)

    def _watcher(self, i):
        target = "c%d@%s" % (channel_of(i, self.c), CS)

        def on(conn, el, t):
            if (is_presence(el) and el.get("type") is None
                    and el.get("from", "").split("/")[0] == target
                    and status_of(el) == self.text and i not in self.seen):
                self.seen[i] = t
                if len(self.seen) == self.want:
                    self.done.set()
        return on

    def _owner(self, j):
        def on(conn, el, t):
            if local(el.tag) == "message" and el.get("type") != "error":
                self.messages[j - 1] += 1
                if sum(self.messages) == self.want:
                    self.done.set()
        return on


def cpu_all(pids):
    """Each process's CPU in seconds, from its threads' schedstat (ns)."""
    return {name: cpu_ns(pid) / 1e9 for name, pid in pids.items()}


async def quiet(pids, settle=0.5, idle=0.005, limit=15):
    """Until the processes together used less than `idle` s of CPU in
    `settle` seconds (timers keep ticking once a second); their CPU then."""
    last, t0 = cpu_all(pids), time.monotonic()
    while time.monotonic() - t0 < limit:
        await asyncio.sleep(settle)
        now = cpu_all(pids)
        busy = sum(now[k] - last[k] for k in pids)
        last = now
        if busy < idle:
            break
    return last


async def run(result):
    n, c = int(os.environ["N"]), int(os.environ["C"])
    pids = dict(p.split("=") for p in os.environ["CS_PIDS"].split())
    pids["prosody"] = os.environ["SERVER_PID"]
    load = Load(n, c, int(os.environ["C2S_PORT"]))
    load.want = n
    t0 = time.monotonic()
    await gather_limited((o.login("<presence><status>start</status></presence>")
                          for o in load.owners), LOGIN_PARALLEL)
    await gather_limited((w.login() for w in load.watchers), LOGIN_PARALLEL)
    try:
        await asyncio.wait_for(load.done.wait(), TIMEOUT)
    except asyncio.TimeoutError:
        raise SystemExit("only %d of %d watchers saw their channel's status" % (len(load.seen), n))
    print("%s: %d owners and %d watchers logged in, every watcher has its channel's status, "
          "in %.1f s" % (os.environ["MODE"], c, n, time.monotonic() - t0))
    rounds = []
    for r in range(int(os.environ.get("CLUSTER_REPEATS", "3")) + 1):
        await quiet(pids)
        load.text, load.seen, load.done = "round-%d" % r, {}, asyncio.Event()
        before = cpu_all(pids)
        t0 = time.monotonic()
        for o in load.owners:
            o.send("<presence><status>%s</status></presence>" % load.text)
        await asyncio.wait_for(load.done.wait(), TIMEOUT)
        last = max(load.seen.values()) - t0
        after = await quiet(pids)
        if r > 0:  # round 0 warms up
            rounds.append({"last_s": last, "cpu": {k: after[k] - before[k] for k in pids}})
    msgs = []
    for r in range(2):
        # The first round writes every (owner, writer) pair's conversation
        # (and at a front its relay route); the second finds them known.
        await quiet(pids)
        load.want, load.done, load.messages = n, asyncio.Event(), [0] * c
        before = cpu_all(pids)
        t0 = time.monotonic()
        for i, w in enumerate(load.watchers, 1):
            w.send("<message type='chat' to='c%d@%s'><body>m-%d-%d</body></message>"
                   % (channel_of(i, c), CS, r, i))
        await asyncio.wait_for(load.done.wait(), TIMEOUT)
        msg_s = time.monotonic() - t0
        after = await quiet(pids)
        msgs.append({"n": n, "s": msg_s, "cpu": {k: after[k] - before[k] for k in pids}})
    out = {"mode": os.environ["MODE"], "n": n, "c": c, "rounds": rounds, "messages": msgs}
    with open(result, "w") as f:
        json.dump(out, f)
    for conn in load.owners + load.watchers:
        conn.close()
    print("%s: %d rounds, last watcher %s s; %d messages in %s s" % (
        out["mode"], len(rounds), ", ".join("%.3f" % x["last_s"] for x in rounds), n,
        " then ".join("%.2f" % m["s"] for m in msgs)))


def table(d, n, c):
    rows = []
    for mode in ("standalone", "cluster"):
        with open(os.path.join(d, mode + ".json")) as f:
            r = json.load(f)
        last = statistics.median(x["last_s"] for x in r["rounds"])
        procs = sorted(r["rounds"][0]["cpu"])
        cpu = {p: statistics.median(x["cpu"][p] for x in r["rounds"]) for p in procs}
        rows.append((mode, last, cpu, r["messages"]))
    print("\n%d watchers over %d channels, one status change of every channel "
          "(median of %d rounds); then one message from every watcher, twice (the first "
          "round new conversations, the second known ones)\n" % (n, c, len(r["rounds"])))
    print("| mode | deliveries/s | last watcher | chanstatd CPU per delivery | Prosody CPU per "
          "delivery |")
    print("|---|---|---|---|---|")
    for mode, last, cpu, _ in rows:
        cs = [p for p in sorted(cpu) if p != "prosody"]
        per = ", ".join("%s %.1f µs" % (p, cpu[p] / n * 1e6) for p in cs)
        print("| %s | %.0f | %.3f s | %s | %.1f µs |" % (mode, n / last, last, per,
                                                        cpu["prosody"] / n * 1e6))
    print("\n| mode | round | messages/s | chanstatd CPU per message | Prosody CPU per message |")
    print("|---|---|---|---|---|")
    for mode, _, cpu, msgs in rows:
        cs = [p for p in sorted(cpu) if p != "prosody"]
        for k, m in enumerate(msgs):
            per = ", ".join("%s %.1f µs" % (p, m["cpu"][p] / m["n"] * 1e6) for p in cs)
            print("| %s | %s | %.0f | %s | %.1f µs |" % (
                mode, ("new", "known")[k], m["n"] / m["s"], per, m["cpu"]["prosody"] / m["n"] * 1e6))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "store":
        write_store(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "rows":
        write_rows(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "run":
        asyncio.get_event_loop().run_until_complete(run(sys.argv[2]))
    elif cmd == "table":
        table(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)
