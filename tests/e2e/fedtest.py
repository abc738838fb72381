"""Helpers of the federation scenarios (fed_*.py) on the two-domain bed of
lib.sh (fed_setup, fed_chanstatd): clients on either domain, the two
chanstatd databases and logs, the Prosody debug logs (what crossed s2s),
and killing / restarting one chanstatd.  Everything comes from the
environment fed_setup and fed_chanstatd export."""
import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import time

from xmpptest import TIMEOUT, Client

A = (os.environ["A_ADDR"], int(os.environ["A_C2S_PORT"]))
B = (os.environ["B_ADDR"], int(os.environ["B_C2S_PORT"]))
NS_FED = "urn:chanstat:federation:0"


def on(server, jid, **kw):
    """A client of jid (password USERpw) on server A or B."""
    return Client(jid, jid.split("@")[0] + "pw", server[1], host=server[0], **kw)


def esc(jid):
    """The XEP-0106 local part of a bare JID, as chanstat escapes it."""
    return jid.replace("\\", "\\5c").replace("@", "\\40")


def sql(dom, query, *args):
    """Rows of a query on the database of status.DOM (read-only, while the
    daemon runs: WAL readers do not block it)."""
    db = os.environ["CS_DB_" + dom]
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        return con.execute(query, args).fetchall()
    finally:
        con.close()


def one(dom, query, *args):
    rows = sql(dom, query, *args)
    return rows[0][0] if rows else None


def read_log(path, offset=0):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def log_size(path):
    return os.path.getsize(path)


def cs_log(dom):
    return os.environ["CS_LOG_" + dom]


def count(path, needle, offset=0):
    return read_log(path, offset).count(needle)


async def wait_log(path, needle, n=1, timeout=TIMEOUT, offset=0):
    """Until the log (from offset) holds needle n times; returns the time
    it took."""
    t0 = time.monotonic()
    while count(path, needle, offset) < n:
        if time.monotonic() - t0 > timeout:
            raise AssertionError("%s never showed %r %d time(s) within %.0fs" % (
                os.path.basename(path), needle, n, timeout))
        await asyncio.sleep(0.05)
    return time.monotonic() - t0


async def until(pred, what, timeout=TIMEOUT, step=0.1):
    """Until pred() is true; returns the time it took."""
    t0 = time.monotonic()
    while True:
        v = pred()
        if v:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError("%s: not within %.0fs" % (what, timeout))
        await asyncio.sleep(step)


async def log_quiet(paths, quiet=1.0, limit=30):
    """Until none of the logs grew for `quiet` seconds."""
    last, since, t0 = None, time.monotonic(), time.monotonic()
    while time.monotonic() - t0 < limit:
        sizes = [os.path.getsize(p) for p in paths]
        if sizes != last:
            last, since = sizes, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        await asyncio.sleep(0.1)


# Prosody 0.12 at debug level logs every stanza written to an s2s stream
# as "Sending[s2sout]: <presence ...>" (or s2sin on a bidirectional one).
S2S_SENT = re.compile(r"Sending\[s2s(?:out|in)\]: (<presence[^\n]*)")


def s2s_presences(path, offset):
    """The presence stanzas (first logged line of each) a Prosody wrote to
    s2s since offset in its log."""
    return S2S_SENT.findall(read_log(path, offset))


# ---- chanstatd processes ----

def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Daemon:
    """The chanstatd of status.DOM ("A" or "B")."""

    def __init__(self, dom):
        self.dom = dom
        self.pid = int(os.environ["CS_PID_" + dom])
        self.conf = os.environ["CS_CONF_" + dom]
        self.log = os.environ["CS_LOG_" + dom]
        self.domain = "status.%s.test" % dom.lower()

    def alive(self):
        return _alive(self.pid)

    async def stop(self, sig=signal.SIGTERM):
        os.kill(self.pid, sig)
        for _ in range(200):
            if not _alive(self.pid):
                try:
                    os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:
                    pass
                return
            await asyncio.sleep(0.05)
        raise AssertionError("chanstatd of %s did not stop" % self.domain)

    async def start(self):
        # Only the log written from now on is read: a long run's log is big.
        off = log_size(self.log)
        with open(self.log, "a") as log:
            proc = subprocess.Popen([os.environ["CHANSTATD"], "-c", self.conf], stderr=log,
                                    stdin=subprocess.DEVNULL)
        self.pid = proc.pid
        with open(os.environ["E2E_PIDFILE"], "a") as f:
            f.write("%d\n" % proc.pid)
        await wait_log(self.log, "link: online as " + self.domain, 1, offset=off)
