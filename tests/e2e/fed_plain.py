"""Plain federation across s2s, no deduplication: a user on a.test
subscribes directly to the channel carol@status.b.test (chanstatd on
b.test is its home), sees the owner's status changes, and messages the
owner through the channel (carol hears it from the relay address
w1\\40a.test@status.b.test and replies).  Baseline: a user on a.test
subscribes to a plain user on b.test and sees her presence."""
import os

from xmpptest import Client, run

A = (os.environ["A_ADDR"], int(os.environ["A_C2S_PORT"]))
B = (os.environ["B_ADDR"], int(os.environ["B_C2S_PORT"]))
CH = "carol@status.b.test"
RELAY_W1 = "w1\\40a.test@status.b.test"


def on(server, jid, **kw):
    return Client(jid, jid.split("@")[0] + "pw", server[1], host=server[0], **kw)


def msg_from(jid, body):
    def pred(s):
        return (s.name == "message" and s["from"].bare == jid and s["type"] != "error"
                and s["body"] == body)
    return pred


async def channel(carol):
    w1 = on(A, "w1@a.test")
    await w1.login()
    w1.send_presence(pto=CH, ptype="subscribe")
    await w1.expect_presence(CH, "subscribed")
    await w1.expect_presence(CH)  # carol is online: the channel is available

    for show, status in (("away", "lunch"), ("dnd", "meeting"), ("chat", "back")):
        m = w1.mark()
        carol.send_presence(pshow=show, pstatus=status)
        await w1.expect_presence(CH, show=show, status=status, since=m)

    # w1 -> channel -> carol (from w1's relay address) -> reply -> w1.
    w1.send_message(mto=CH, mbody="hello from a.test", mtype="chat")
    await carol.wait_for(msg_from(RELAY_W1, "hello from a.test"), "w1's message via the channel")
    carol.send_message(mto=RELAY_W1, mbody="hi w1", mtype="chat")
    await w1.wait_for(msg_from(CH, "hi w1"), "carol's reply from the channel")
    return w1


async def baseline():
    bob = on(B, "bob@b.test", auto_accept=True)
    await bob.login()
    w2 = on(A, "w2@a.test")
    await w2.login()
    w2.send_presence(pto="bob@b.test", ptype="subscribe")
    await w2.expect_presence("bob@b.test", "subscribed")
    await w2.expect_presence("bob@b.test")
    m = w2.mark()
    bob.send_presence(pshow="xa", pstatus="gone fishing")
    await w2.expect_presence("bob@b.test", show="xa", status="gone fishing", since=m)
    return bob, w2


async def main():
    carol = on(B, "carol@b.test", auto_accept=True)  # approves the channel's request
    await carol.login()
    bob, w2 = await baseline()
    w1 = await channel(carol)

    # The owner leaves: the watcher across s2s sees the channel go away.
    m = w1.mark()
    carol.disconnect()
    await w1.expect_presence(CH, "unavailable", since=m)
    for c in (w1, w2, bob):
        c.disconnect()


run(main)
