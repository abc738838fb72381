#!/usr/bin/python3
"""Stanzas over chanstatd's limits, as any user sends them through Prosody.

usage: flood_oversize.py C2S_PORT ROUNDS

carol@a.test writes to the channel alice@status.a.test, ROUNDS times
each: a message whose child has 100 attributes, one whose stanza element
has 100, one nested 40 deep (max_depth is 32), one of 262,000 bytes
(Prosody's own limit for a client is 262,144) and one of 262,000
apostrophes, which Prosody passes on as &apos;, six bytes each.  Each must
come back as a policy-violation error with its id; then a disco#info to
the channel must still be answered.  Prints one line per kind with the
count answered and exits non-zero on any other outcome."""
import asyncio
import collections
import sys

import slixmpp

port, rounds = int(sys.argv[1]), int(sys.argv[2])
TO = "alice@status.a.test"


def shapes(k):
    attrs = " ".join("a%d=''" % i for i in range(100))
    yield "attrs", ("<message to='%s' id='attrs-%d' type='chat'><body>x</body>"
                    "<x xmlns='urn:flood'%s/></message>" % (TO, k, " " + attrs))
    yield "stanza-attrs", ("<message to='%s' id='stanza-attrs-%d' type='chat' %s>"
                           "<body>x</body></message>" % (TO, k, attrs))
    yield "deep", ("<message to='%s' id='deep-%d' type='chat'><body>x</body>"
                   "<a xmlns='urn:flood'>%s%s</a></message>" % (TO, k, "<a>" * 40, "</a>" * 40))
    yield "big", ("<message to='%s' id='big-%d' type='chat'><body>%s</body></message>"
                  % (TO, k, "x" * 262000))
    yield "apos", ("<message to='%s' id='apos-%d' type='chat'><body>%s</body></message>"
                   % (TO, k, "'" * 262000))


class C(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__("carol@a.test", "carolpw")
        self.ok = False
        self.errors = collections.Counter()
        self.bad = []
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("message_error", self.on_error)

    def on_error(self, m):
        kind = m["id"].rsplit("-", 1)[0]
        # slixmpp's error plugin knows no policy-violation (RFC 6120
        # added it): read the condition from the XML.
        err = m.xml.find("{jabber:client}error")
        conds = [c.tag.split("}")[1] for c in (err if err is not None else [])
                 if c.tag.startswith("{urn:ietf:params:xml:ns:xmpp-stanzas}")
                 and not c.tag.endswith("}text")]
        if conds == ["policy-violation"]:
            self.errors[kind] += 1
        else:
            self.bad.append("%s: %s" % (m["id"], conds))

    async def start(self, _):
        want = 0
        for k in range(rounds):
            for _, xml in shapes(k):
                self.send_raw(xml)
                want += 1
                await asyncio.sleep(0.05)
        for _ in range(600):
            if sum(self.errors.values()) + len(self.bad) >= want:
                break
            await asyncio.sleep(0.05)
        try:
            r = await self["xep_0030"].get_info(jid=TO, timeout=10)
            self.ok = r["type"] == "result"
        except (slixmpp.exceptions.IqError, slixmpp.exceptions.IqTimeout) as e:
            print("disco#info after the flood failed: %r" % e)
        self.disconnect()


c = C()
c.register_plugin("xep_0030")
c.connect(("127.0.0.1", port), force_starttls=False, disable_starttls=True)
c.loop.run_until_complete(c.disconnected)
for kind, _ in shapes(0):
    print("%s: %d of %d answered policy-violation" % (kind, c.errors[kind], rounds))
for b in c.bad:
    print("wrong answer", b)
good = all(c.errors[kind] == rounds for kind, _ in shapes(0)) and not c.bad and c.ok
print("disco#info after: %s" % ("answered" if c.ok else "NOT answered"))
sys.exit(0 if good else 1)
