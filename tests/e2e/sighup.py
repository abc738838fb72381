"""One message of SIZE bytes from carol to the channel alice@status.a.test,
whose owner is online: 'deliver' expects it at the owner and no error,
'refuse' expects policy-violation at carol and nothing at the owner
([limits] max_message_bytes, as the running chanstatd holds it)."""
import asyncio
import os
import sys

from xmpptest import Client, run

P = int(os.environ["C2S_PORT"])
CH = "alice@status.a.test"
MODE, SIZE = sys.argv[1], int(sys.argv[2])


def is_error(s):
    return s.name == "message" and s["type"] == "error"


def body_at_owner(body):
    return lambda s: s.name == "message" and s["type"] != "error" and s["body"] == body


async def main():
    owner = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="r", priority=5)
    carol = Client("carol@a.test", "carolpw", P)
    await owner.login()
    await carol.login()
    await asyncio.sleep(1.0)  # the channel learns the owner's resource
    body = "%s-%d-" % (MODE, SIZE)
    body += "x" * (SIZE - len(body))
    carol.send_message(mto=CH, mbody=body, mtype="chat")
    if MODE == "deliver":
        await owner.wait_for(body_at_owner(body), "the %d-byte message" % SIZE)
        await carol.expect_none(is_error, "error", 0.5)
    else:
        err = await carol.wait_for(is_error, "an error for the %d-byte message" % SIZE)
        cond = err.xml.find("{jabber:client}error/"
                            "{urn:ietf:params:xml:ns:xmpp-stanzas}policy-violation")
        assert cond is not None, "not policy-violation: %s" % err
        await owner.expect_none(body_at_owner(body), "the refused message", 0.5)
    owner.disconnect()
    carol.disconnect()


run(main, limit=40)
