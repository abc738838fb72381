#!/usr/bin/python3
"""A fake XEP-0114 server that reads normally and counts what it gets,
for the flow-control tests (nothing generated may be dropped).

usage: flowserver.py PORT SECRET SCENARIO [ARG...]

SCENARIO on the first connection (later ones only handshake and count):
  fanout N       after the probe to o@a.test, send 5 status changes of
                 the owner of pub@status.a.test in ONE write, each with a
                 1,000-byte status text; expect every one of the N
                 watchers to get the last one
  probes         count owner probes until none arrives for 3 s
  flush          send the owner's available presence to pub, read slowly
                 (64 KiB per 20 ms), count messages until none arrives
                 for 3 s; report whether ids came in order
Prints one line per event; a final line "result ..." sums it up.
Runs until killed."""
import hashlib
import socket
import sys
import time
import xml.parsers.expat

port, secret, scenario = int(sys.argv[1]), sys.argv[2], sys.argv[3]
args = sys.argv[4:]


def say(*a):
    print(*a, flush=True)


class Counter:
    """Counts top-level stanzas of the component stream."""

    def __init__(self):
        self.p = xml.parsers.expat.ParserCreate()
        self.p.StartElementHandler = self.start
        self.p.EndElementHandler = self.end
        self.p.CharacterDataHandler = self.text
        self.depth = 0
        self.cur = None
        self.stanzas = []  # (name, attrs, texts)
        self.texts = []
        self.last_at = time.time()

    def feed(self, data):
        self.p.Parse(data, False)

    def start(self, name, attrs):
        self.depth += 1
        if self.depth == 2:
            self.cur = (name, dict(attrs))
            self.texts = []

    def text(self, t):
        if self.depth >= 3:
            self.texts.append(t)

    def end(self, name):
        if self.depth == 2:
            self.stanzas.append((self.cur[0], self.cur[1], "".join(self.texts)))
            self.last_at = time.time()
        self.depth -= 1


def read_until(conn, token):
    data = b""
    while token not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionError("peer closed during handshake")
        data += chunk
    return data


def handshake(conn, n):
    read_until(conn, b">")
    sid = "flow%d" % n
    conn.sendall(("<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/"
                  "streams' xmlns='jabber:component:accept' id='%s'>" % sid).encode())
    data = read_until(conn, b"</handshake>")
    digest = data.split(b"<handshake>")[1].split(b"</handshake>")[0].decode()
    if digest != hashlib.sha1((sid + secret).encode()).hexdigest():
        say("conn %d bad digest" % n)
        return None
    conn.sendall(b"<handshake/>")
    say("conn %d handshake ok" % n)
    c = Counter()
    c.feed(b"<stream>")
    rest = data.split(b"</handshake>", 1)[1]
    c.feed(rest)
    return c


def read_for(conn, c, quiet, until=None, chunk=65536, pause=0.0):
    """Reads until nothing came for quiet seconds (or until() is true)."""
    conn.settimeout(0.2)
    while True:
        try:
            data = conn.recv(chunk)
            if not data:
                say("closed by peer")
                return False
            c.feed(data)
        except socket.timeout:
            pass
        if until and until():
            return True
        if time.time() - c.last_at > quiet:
            return True
        if pause:
            time.sleep(pause)


def fanout(conn, c, n):
    read_for(conn, c, 10, until=lambda: any(s[0] == "presence" and s[1].get("type") == "probe"
                                            for s in c.stanzas))
    say("probe seen")
    burst = b""
    for i in range(1, 6):
        text = ("change%d " % i) + "x" * 992
        burst += ("<presence from='o@a.test/r' to='pub@status.a.test'><status>%s</status>"
                  "</presence>" % text).encode()
    conn.sendall(burst)
    t0 = time.time()
    final = {}
    read_for(conn, c, 5, until=lambda: len(
        {s[1]["to"] for s in c.stanzas if s[0] == "presence" and s[2].startswith("change5")}) >= n)
    for s in c.stanzas:
        if s[0] == "presence" and s[2].startswith("change"):
            final[s[1]["to"]] = s[2][:7]
    got = sum(1 for v in final.values() if v == "change5")
    say("result fanout watchers_with_last=%d of %d deliveries=%d in %.2f s" % (
        got, n, sum(1 for s in c.stanzas if s[0] == "presence" and s[2].startswith("change")),
        time.time() - t0))


def probes(conn, c):
    t0 = time.time()
    read_for(conn, c, 3)
    n = sum(1 for s in c.stanzas if s[0] == "presence" and s[1].get("type") == "probe")
    say("result probes=%d in %.2f s" % (n, c.last_at - t0))


def flush(conn, c):
    read_for(conn, c, 10, until=lambda: any(s[1].get("type") == "probe" for s in c.stanzas))
    conn.sendall(b"<presence from='o@a.test/r' to='pub@status.a.test'/>")
    read_for(conn, c, 3, chunk=65536, pause=0.02)
    msgs = [s for s in c.stanzas if s[0] == "message"]
    ids = [int(m[1].get("id", "-1")) for m in msgs]
    say("result flush messages=%d in_order=%s" % (len(msgs), ids == sorted(ids)))


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(4)
say("listening")
n = 0
keep = []
while True:
    conn, _ = srv.accept()
    n += 1
    say("conn %d accepted" % n)
    try:
        c = handshake(conn, n)
        if c and n == 1:
            if scenario == "fanout":
                fanout(conn, c, int(args[0]))
            elif scenario == "probes":
                probes(conn, c)
            elif scenario == "flush":
                flush(conn, c)
            say("conn 1 done")
    except ConnectionError as e:
        say("conn %d error %s" % (n, e))
    keep.append(conn)
