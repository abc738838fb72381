"""Approve, closed and unknown channels with real clients; revocation by
the owner and by the watcher."""
import asyncio
import os

from xmpptest import Client, complete_command, run

P = int(os.environ["C2S_PORT"])
DESK = "desk@status.a.test"
VAULT = "vault@status.a.test"


async def main():
    bob = Client("bob@a.test", "bobpw", P, resource="pc")
    for plugin in ("xep_0004", "xep_0030", "xep_0050"):
        bob.register_plugin(plugin)
    await bob.login()
    # The channels ask bob (their owner) for his presence: he approves both.
    for ch in (DESK, VAULT):
        await bob.wait_for(lambda s, ch=ch: s.name == "presence" and s["type"] == "subscribe"
                           and s["from"].bare == ch, "subscribe from " + ch)
        bob.send_presence(pto=ch, ptype="subscribed")

    dave = Client("dave@a.test", "davepw", P)
    erin = Client("erin@a.test", "erinpw", P)
    await dave.login()
    await erin.login()

    # approve: the request reaches bob from dave's relay address...
    relay_dave = "dave\\40a.test@status.a.test"
    m = bob.mark()
    dave.send_presence(pto=DESK, ptype="subscribe")
    req = await bob.wait_for(lambda s: s.name == "presence" and s["type"] == "subscribe"
                             and s["from"].bare == relay_dave, "relayed request", since=m)
    assert "desk@status.a.test" in req["status"], req
    # ...nothing reaches dave before bob decides...
    await dave.expect_none(lambda s: s.name == "presence" and s["from"].bare == DESK,
                           "answer before the owner decided", 0.5)
    # ...bob approves: dave is subscribed and sees bob's status.
    bob.send_presence(pto=relay_dave, ptype="subscribed")
    await dave.expect_presence(DESK, "subscribed")
    await dave.expect_presence(DESK)

    # bob denies erin.
    relay_erin = "erin\\40a.test@status.a.test"
    m = bob.mark()
    erin.send_presence(pto=DESK, ptype="subscribe")
    await bob.wait_for(lambda s: s.name == "presence" and s["type"] == "subscribe"
                       and s["from"].bare == relay_erin, "relayed request", since=m)
    bob.send_presence(pto=relay_erin, ptype="unsubscribed")
    await erin.expect_presence(DESK, "unsubscribed")

    # closed: refused at once; unknown channel: refused too.
    erin.send_presence(pto=VAULT, ptype="subscribe")
    await erin.expect_presence(VAULT, "unsubscribed")
    erin.send_presence(pto="nosuch@status.a.test", ptype="subscribe")
    await erin.expect_presence("nosuch@status.a.test", "unsubscribed")

    # Status changes reach the approved watcher.
    m = dave.mark()
    bob.send_presence(pshow="chat", pstatus="at the desk")
    await dave.expect_presence(DESK, show="chat", status="at the desk", since=m)

    # erin asks again and is approved; then bob revokes her with the revoke
    # command (his relay contact for her holds no subscription after the
    # approval, so an unsubscribed there would stay at his server): she
    # gets unsubscribed and unavailable, and no more updates.
    m = bob.mark()
    erin.send_presence(pto=DESK, ptype="subscribe")
    await bob.wait_for(lambda s: s.name == "presence" and s["type"] == "subscribe"
                       and s["from"].bare == relay_erin, "relayed request", since=m)
    m = erin.mark()
    bob.send_presence(pto=relay_erin, ptype="subscribed")
    await erin.expect_presence(DESK, "subscribed", since=m)
    await erin.expect_presence(DESK, since=m)
    m = erin.mark()
    cmd = (await bob.plugin["xep_0050"].send_command(DESK, "urn:chanstat:cmd:revoke"))["command"]
    form = bob.plugin["xep_0004"].make_form(ftype="submit")
    form.add_field(var="revoke", value=["erin@a.test"])
    done = await complete_command(bob, DESK, "urn:chanstat:cmd:revoke", cmd["sessionid"], form)
    assert done["status"] == "completed", done
    await erin.expect_presence(DESK, "unsubscribed", since=m)
    await erin.expect_presence(DESK, "unavailable", since=m)
    m = erin.mark()
    bob.send_presence(pshow="away")
    await dave.expect_presence(DESK, show="away")
    await erin.expect_none(lambda s: s.name == "presence" and s["from"].bare == DESK
                           and s["type"] not in ("unavailable", "unsubscribed"),
                           "status after revocation", 1.0)

    # The owner revokes the channel's view of his presence: watchers see
    # unavailable.
    m = dave.mark()
    bob.send_presence(pto=DESK, ptype="unsubscribed")
    await dave.expect_presence(DESK, "unavailable", since=m)
    for c in (bob, dave, erin):
        c.disconnect()


run(main)
