#!/usr/bin/python3
"""A fake XEP-0114 server for bad-input tests.

usage: fakeserver.py PORT SECRET SCENARIO [ARG]

Accepts chanstatd's connections one after another, checks the handshake
digest (hex SHA-1 of stream id + secret), accepts it, and on the FIRST
connection only plays SCENARIO:
  doctype       inject a DOCTYPE with an entity declaration
  pi            send a processing instruction
  oversize N    send a message whose body is N bytes, in 64 KiB writes
  deep N        open N nested elements inside a message
  bombs         stanzas small on the wire that are costly to build or to
                serialise (see bomb_shapes); before each it waits for the
                file $FAKE_GO.K (K = 0, 1, ...), then reports chanstatd's
                answer: "bomb K answered CONDITION" (or "no error")
Later connections only complete the handshake.  One line per event on
stdout, e.g. "conn 1 handshake ok", "conn 1 closed by peer after 131072
bytes".  Runs until killed."""
import hashlib
import os
import re
import socket
import sys
import time

port, secret, scenario = int(sys.argv[1]), sys.argv[2], sys.argv[3]
arg = int(sys.argv[4]) if len(sys.argv) > 4 else 0


def say(*a):
    print(*a, flush=True)


def read_until(conn, token, limit=65536):
    data = b""
    while token not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionError("peer closed during handshake")
        data += chunk
        if len(data) > limit:
            raise ConnectionError("no %r" % token)
    return data


def handshake(conn, n):
    read_until(conn, b">")  # the stream header (with or without XML decl)
    sid = "fake%d" % n
    conn.sendall(("<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/"
                  "streams' xmlns='jabber:component:accept' id='%s'>" % sid).encode())
    data = read_until(conn, b"</handshake>")
    digest = data.split(b"<handshake>")[1].split(b"</handshake>")[0].decode()
    want = hashlib.sha1((sid + secret).encode()).hexdigest()
    if digest != want:
        say("conn %d bad digest" % n)
        conn.close()
        return False
    conn.sendall(b"<handshake/>")
    say("conn %d handshake ok" % n)
    return True


def bomb_shapes():
    """Each under the default max_stanza_bytes (262144), from any user."""
    frm = "from='u@a.test/r' to='ch@status.a.test'"
    uri = "urn:" + "x" * 120000
    # A 120 KB default namespace and 30,000 children inheriting it.
    yield ("<message %s id='b0' type='chat' xmlns='%s'>" % (frm, uri)
           + "<a/>" * 30000 + "</message>")
    # The 180 KB variant: 60 KB namespace, 45,000 children.
    yield ("<message %s id='b1' type='chat'><x xmlns='%s'>" % (frm, "urn:" + "y" * 60000)
           + "<a/>" * 45000 + "</x></message>")
    # A prefix declared once, used by 9,000 attributes: serialising each
    # with its own declaration would write a gigabyte.
    yield ("<message %s id='b2' type='chat'><x xmlns:p='%s'>" % (frm, uri)
           + "<a p:b=''/>" * 9000 + "</x></message>")
    # The same inside an iq, whose error echoes the payload.
    yield ("<iq %s id='b3' type='get'><x xmlns='urn:q' xmlns:p='%s'>" % (frm, uri)
           + "<a p:b=''/>" * 9000 + "</x></iq>")
    # An element per 4 bytes: the tree costs more than 16 times its
    # bytes and is cut (policy-violation), the stream goes on.
    yield "<message %s id='b4' type='chat'><x>" % frm + "<a/>" * 64000 + "</x></message>"


def read_until_id(conn, ident, data=b""):
    while ("id='%s'" % ident).encode() not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("peer closed")
        data += chunk
    return data


def bombs(conn, n):
    go = os.environ["FAKE_GO"]
    conn.sendall(b"<iq from='u@a.test/r' to='status.a.test' id='p0' type='get'>"
                 b"<ping xmlns='urn:xmpp:ping'/></iq>")
    read_until_id(conn, "p0")
    say("ready")
    for k, shape in enumerate(bomb_shapes()):
        while not os.path.exists("%s.%d" % (go, k)):
            time.sleep(0.02)
        data = shape.encode()
        assert len(data) < 262144, len(data)
        conn.sendall(data)
        conn.sendall(("<iq from='u@a.test/r' to='status.a.test' id='p%d' type='get'>"
                      "<ping xmlns='urn:xmpp:ping'/></iq>" % (k + 1)).encode())
        got = read_until_id(conn, "p%d" % (k + 1))
        m = re.search(rb"id='b%d'[^>]*type='error'>.*?<([a-z-]+) xmlns='urn:ietf:params:xml:"
                      rb"ns:xmpp-stanzas'" % k, got, re.S)
        say("bomb %d (%d bytes) answered %s" % (k, len(data),
                                                 m.group(1).decode() if m else "no error"))


def play(conn, n):
    sent = 0
    try:
        if scenario == "bombs":
            bombs(conn, n)
        elif scenario == "doctype":
            conn.sendall(b"<!DOCTYPE foo [<!ENTITY x 'y'>]>")
        elif scenario == "pi":
            conn.sendall(b"<?evil data?>")
        elif scenario == "deep":
            conn.sendall(b"<message from='u@a.test' to='status.a.test'>" + b"<a>" * arg)
        elif scenario == "oversize":
            conn.sendall(b"<message from='u@a.test/r' to='status.a.test'><body>")
            chunk = b"x" * 65536
            while sent < arg:
                conn.sendall(chunk)
                sent += len(chunk)
            conn.sendall(b"</body></message>")
            say("conn %d wrote all %d bytes" % (n, sent))
        conn.settimeout(10)
        while conn.recv(4096):
            pass
        say("conn %d closed by peer after %d bytes" % (n, sent))
    except (BrokenPipeError, ConnectionResetError):
        say("conn %d closed by peer after %d bytes" % (n, sent))
    except socket.timeout:
        say("conn %d still open" % n)


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
        if handshake(conn, n) and n == 1:
            play(conn, n)
    except ConnectionError as e:
        say("conn %d error %s" % (n, e))
    keep.append(conn)  # later connections stay open
