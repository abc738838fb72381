"""An account whose name has non-ASCII letters, registered as "Müller"
(Prosody's nodeprep makes it müller@a.test), matched by rows an admin
wrote in other spellings (jid_prep.test): it watches the closed channel
desk through the row 'Müller@a.test', watches dup through the prepared
one of two spellings, and its presence is the status of mchan, whose
owner was written 'MÜLLER@a.test'.  With --again (after a restart) the
rows, now stored prepared, still match."""
import asyncio
import os
import sys

from xmpptest import Client, run

P = int(os.environ["C2S_PORT"])
DESK, DUP, MCHAN = "desk@status.a.test", "dup@status.a.test", "mchan@status.a.test"


async def main():
    again = "--again" in sys.argv
    bob = Client("bob@a.test", "bobpw", P, auto_accept=True)
    await bob.login(send_presence=False)
    bob.send_presence(pshow="chat", pstatus="at the desk")
    mueller = Client("Müller@a.test", "muellerpw", P, auto_accept=True)
    await mueller.login(send_presence=False)
    assert mueller.boundjid.bare == "müller@a.test", mueller.boundjid
    mueller.send_presence(pshow="away", pstatus="gleich zurück")

    # After the restart the subscriptions exist: logging in, the
    # server probes the channels for us.
    for ch in (DESK, DUP):
        if not again:
            mueller.send_presence(pto=ch, ptype="subscribe")
            await mueller.expect_presence(ch, "subscribed")
        await mueller.expect_presence(ch, show="chat", status="at the desk")

    if not again:
        bob.send_presence(pto=MCHAN, ptype="subscribe")
        await bob.expect_presence(MCHAN, "subscribed")
    await bob.expect_presence(MCHAN, show="away", status="gleich zurück")
    m = bob.mark()
    mueller.send_presence(pshow="dnd", pstatus="bitte nicht stören")
    await bob.expect_presence(MCHAN, show="dnd", status="bitte nicht stören", since=m)
    for c in (bob, mueller):
        c.disconnect()


run(main)
