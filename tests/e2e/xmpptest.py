"""Scripted XMPP clients for chanstat's end-to-end tests (slixmpp).

Each Client logs in to the private test server, records every stanza it
receives, and lets a test wait for one that matches.  Tests run several
clients in one asyncio loop and fail with an AssertionError naming what
did not arrive."""
import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time

import slixmpp

TIMEOUT = float(os.environ.get("E2E_TIMEOUT", "10"))
HOST = "127.0.0.1"


class Client(slixmpp.ClientXMPP):
    """A real c2s client.  auto_accept: approve every subscription request
    (what an owner's client does when it trusts the channel).  host: the
    server's c2s address (the federated bed serves each domain on its own
    loopback address)."""

    def __init__(self, jid, password, port, auto_accept=False, resource=None, priority=0,
                 host=HOST):
        if resource:
            jid = jid + "/" + resource
        super().__init__(jid, password)
        self.port = port
        self.host = host
        self.priority = priority
        self.stanzas = []
        self.new_stanza = asyncio.Event()
        self.ready = asyncio.Event()
        # True: approve every request; None: leave requests to the test.
        self.roster.auto_authorize = True if auto_accept else None
        self.roster.auto_subscribe = False
        # Receipts, chat states and delay stamps as stanza fields; the test
        # sends and checks receipts itself.
        for plugin in ("xep_0184", "xep_0085", "xep_0203"):
            self.register_plugin(plugin)
        self.plugin["xep_0184"].auto_ack = False
        self.plugin["xep_0184"].auto_request = False
        self.add_event_handler("session_start", self._start)
        self.add_event_handler("presence", self._record)
        self.add_event_handler("message", self._record)
        self.add_event_handler("message_error", self._record)

    async def _start(self, _):
        await self.get_roster()
        self.ready.set()

    def _record(self, stanza):
        self.stanzas.append(stanza)
        self.new_stanza.set()

    async def login(self, send_presence=True):
        self.connect((self.host, self.port), force_starttls=False, disable_starttls=True)
        await asyncio.wait_for(self.ready.wait(), TIMEOUT)
        if send_presence:
            self.send_presence(ppriority=self.priority)

    async def wait_for(self, pred, what, timeout=TIMEOUT, since=0):
        """The first stanza (at index >= since) for which pred is true."""
        deadline = asyncio.get_event_loop().time() + timeout
        while True:
            for s in self.stanzas[since:]:
                if pred(s):
                    return s
            left = deadline - asyncio.get_event_loop().time()
            if left <= 0:
                raise AssertionError("%s: no %s within %.0fs; got:\n  %s" % (
                    self.boundjid, what, timeout,
                    "\n  ".join(str(s) for s in self.stanzas[since:][-15:])))
            self.new_stanza.clear()
            try:
                await asyncio.wait_for(self.new_stanza.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def expect_presence(self, frm, ptype=None, show=None, status=None, since=0,
                              timeout=TIMEOUT):
        """Presence from bare JID frm with the given type/show/status."""
        def pred(s):
            if s.name != "presence" or s["from"].bare != frm:
                return False
            t = s["type"]
            if ptype is None:
                if t in ("unavailable", "subscribe", "subscribed", "unsubscribe",
                         "unsubscribed", "probe", "error"):
                    return False
            elif t != ptype:
                return False
            if show is not None and s["show"] != show:
                return False
            if status is not None and s["status"] != status:
                return False
            return True
        return await self.wait_for(pred, "presence %s/%s/%s from %s" % (ptype, show, status, frm),
                                   timeout=timeout, since=since)

    async def expect_none(self, pred, what, seconds):
        """Nothing matching pred arrives within seconds."""
        start = len(self.stanzas)
        await asyncio.sleep(seconds)
        for s in self.stanzas[start:]:
            if pred(s):
                raise AssertionError("%s: unexpected %s: %s" % (self.boundjid, what, s))

    def mark(self):
        return len(self.stanzas)


async def complete_command(c, to, node, sid, form):
    """Submits form to the XEP-0050 session sid of node at to (action
    complete); the answer's <command/>.  c has the xep_0050 plugin."""
    iq = c.Iq()
    iq["type"] = "set"
    iq["to"] = to
    iq["command"]["node"] = node
    iq["command"]["sessionid"] = sid
    iq["command"]["action"] = "complete"
    iq["command"].append(form)
    return (await iq.send())["command"]


class Daemons:
    """Restarts chanstatd and Prosody from a scenario (pids are recorded
    for the shell harness to clean up)."""

    def __init__(self):
        self.cs_pid = int(os.environ["CS_PID"])

    def _record(self, pid):
        with open(os.environ["E2E_PIDFILE"], "a") as f:
            f.write("%d\n" % pid)

    def log_count(self, needle):
        with open(os.environ["CS_LOG"], errors="replace") as f:
            return f.read().count(needle)

    async def wait_log(self, needle, count, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while self.log_count(needle) < count:
            if time.monotonic() > deadline:
                raise AssertionError("log never showed %r %d times" % (needle, count))
            await asyncio.sleep(0.05)

    async def stop_chanstatd(self, sig=signal.SIGTERM):
        os.kill(self.cs_pid, sig)
        for _ in range(100):
            try:
                os.kill(self.cs_pid, 0)
            except ProcessLookupError:
                return
            try:
                os.waitpid(self.cs_pid, os.WNOHANG)
            except ChildProcessError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError("chanstatd did not stop")

    async def start_chanstatd(self):
        online = self.log_count("link: online")
        log = open(os.environ["CS_LOG"], "a")
        proc = subprocess.Popen([os.environ["CHANSTATD"], "-c", os.environ["CS_CONF"]],
                                stderr=log, stdin=subprocess.DEVNULL)
        self.cs_pid = proc.pid
        self._record(proc.pid)
        await self.wait_log("link: online", online + 1)

    async def stop_prosody(self):
        with open(os.environ["PROSODY_PIDFILE"]) as f:
            pid = int(f.read())
        os.kill(pid, signal.SIGTERM)
        for _ in range(200):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            await asyncio.sleep(0.05)
        os.kill(pid, signal.SIGKILL)

    async def start_prosody(self):
        subprocess.run(["prosody", "--config", os.environ["PROSODY_CFG"], "-D"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port = int(os.environ["C2S_PORT"])
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise AssertionError("prosody did not come back")


def run(main, limit=120):
    """Runs an async test body; exit status 0 on success, 1 on failure
    (also when the whole body takes more than `limit` seconds)."""
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    try:
        asyncio.get_event_loop().run_until_complete(asyncio.wait_for(main(), limit))
    except AssertionError as e:
        print("FAIL:", e)
        sys.exit(1)
    except asyncio.TimeoutError:
        print("FAIL: test timed out")
        sys.exit(1)
    print("OK")
    sys.exit(0)
