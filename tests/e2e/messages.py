"""Messages through the home with real clients: delivery to the owner's
best resource from the sender's relay address, replies from the channel
address, receipts, the offline store (order, delay stamps, limits, kill -9)
and the named errors."""
import asyncio
import os

import slixmpp
from xmpptest import Client, Daemons, run

P = int(os.environ["C2S_PORT"])
CH = "alice@status.a.test"
RELAY_CAROL = "carol\\40a.test@status.a.test"
OFFLINE_MAX = int(os.environ.get("OFFLINE_MAX", "100"))


def msg_from(jid, body=None):
    def pred(s):
        return (s.name == "message" and s["from"].bare == jid and s["type"] != "error"
                and (body is None or s["body"] == body))
    return pred


def error_of(cond):
    def pred(s):
        return (s.name == "message" and s["type"] == "error" and s.xml.find(
            "{jabber:client}error/{urn:ietf:params:xml:ns:xmpp-stanzas}" + cond) is not None)
    return pred


async def main():
    d = Daemons()
    laptop = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="laptop", priority=5)
    phone = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="phone", priority=10)
    await laptop.login()
    await phone.login()
    carol = Client("carol@a.test", "carolpw", P)
    await carol.login()
    await asyncio.sleep(1.0)  # the channel learns the owner's resources

    # 1. To the highest-priority resource, from carol's relay address,
    # with id, thread, languages, receipt request and extensions intact.
    m = carol.make_message(mto=CH, mbody="hello", mtype="chat")
    m["id"] = "m1"
    m["thread"] = "t-42"
    m["body|de"] = "hallo"
    m["request_receipt"] = True
    m.append(slixmpp.xmlstream.ET.fromstring("<x xmlns='urn:example:ext' a='1'><y/></x>"))
    m.send()
    got = await phone.wait_for(msg_from(RELAY_CAROL, "hello"), "message on the phone")
    assert got["id"] == "m1" and got["thread"] == "t-42", got
    assert got["type"] == "chat" and got["body|de"] == "hallo", got
    assert got["request_receipt"], got
    assert got.xml.find("{urn:example:ext}x") is not None, got
    assert not [s for s in laptop.stanzas if s.name == "message"], "laptop got it too"

    # 2. The owner replies (and acknowledges): carol hears from the channel.
    r = phone.make_message(mto=RELAY_CAROL, mbody="hi carol", mtype="chat")
    r["receipt"] = "m1"
    r.send()
    back = await carol.wait_for(msg_from(CH, "hi carol"), "the reply")
    assert back["receipt"] == "m1", back
    assert back["from"].bare == CH

    # 3. Errors, each by name at the sender.
    carol.send_message(mto="nosuch@status.a.test", mbody="x", mtype="chat")
    await carol.wait_for(error_of("service-unavailable"), "service-unavailable (no channel)")
    carol.send_message(mto="nobody@status.a.test", mbody="x", mtype="chat")
    n = carol.mark()
    await carol.wait_for(error_of("service-unavailable"), "service-unavailable (no owner)")
    carol.send_message(mto="dave\\40a.test@status.a.test", mbody="relay me", mtype="chat")
    await carol.wait_for(error_of("forbidden"), "forbidden (not an owner)")
    carol.send_message(mto="bad\\40@status.a.test", mbody="x", mtype="chat")
    await carol.wait_for(error_of("jid-malformed"), "jid-malformed (relay to no JID)")
    carol.send_message(mto=CH, mbody="x" * 70000, mtype="chat")
    await carol.wait_for(error_of("policy-violation"), "policy-violation (too large)")

    # 4. The owner goes offline: messages are kept, in order; chat states
    # alone are not; over the limit: resource-constraint.
    laptop.disconnect()
    phone.disconnect()
    await asyncio.sleep(0.5)
    for i in range(1, 4):
        carol.send_message(mto=CH, mbody="stored %d" % i, mtype="chat")
    cs = carol.make_message(mto=CH, mtype="chat")
    cs["chat_state"] = "composing"
    cs.send()
    for i in range(4, OFFLINE_MAX + 1):
        carol.send_message(mto=CH, mbody="stored %d" % i, mtype="chat")
    n = carol.mark()
    carol.send_message(mto=CH, mbody="one too many", mtype="chat")
    await carol.wait_for(error_of("resource-constraint"), "resource-constraint", since=n)

    # 5. kill -9 with messages stored: none lost.
    await asyncio.sleep(0.3)
    await d.stop_chanstatd(sig=9)
    await d.start_chanstatd()

    # 6. The owner logs in: everything arrives once, in order, stamped.
    laptop = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="laptop")
    await laptop.login()
    want = ["stored %d" % i for i in range(1, OFFLINE_MAX + 1)]
    await laptop.wait_for(msg_from(RELAY_CAROL, want[-1]), "the last stored message", timeout=15)
    await asyncio.sleep(0.5)
    bodies = [s["body"] for s in laptop.stanzas if s.name == "message" and s["type"] != "error"]
    assert bodies == want, bodies
    for s in laptop.stanzas:
        if s.name == "message" and s["type"] != "error":
            delay = s.xml.find("{urn:xmpp:delay}delay")
            assert delay is not None and delay.get("from") == "status.a.test" and \
                delay.get("stamp", "").endswith("Z"), s
    print("offline: %d messages delivered in order with delay stamps" % len(bodies))
    for c in (laptop, carol):
        c.disconnect()


run(main)
