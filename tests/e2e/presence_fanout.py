"""100 watchers on one channel all receive each status change."""
import asyncio
import os
import time

from xmpptest import Client, run

P = int(os.environ["C2S_PORT"])
N = int(os.environ.get("WATCHERS", "100"))
CH = "alice@status.a.test"


async def main():
    owner = Client("alice@a.test", "alicepw", P, auto_accept=True, resource="laptop")
    await owner.login()
    watchers = [Client("w%d@a.test" % i, "wpw", P) for i in range(N)]
    await asyncio.gather(*(w.login() for w in watchers))
    for w in watchers:
        w.send_presence(pto=CH, ptype="subscribe")
    await asyncio.gather(*(w.expect_presence(CH, "subscribed") for w in watchers))
    await asyncio.gather(*(w.expect_presence(CH) for w in watchers))

    for show, text in (("away", "one"), ("dnd", "two"), ("chat", "three")):
        marks = [w.mark() for w in watchers]
        t0 = time.monotonic()
        owner.send_presence(pshow=show, pstatus=text)
        await asyncio.gather(*(w.expect_presence(CH, show=show, status=text, since=m)
                               for w, m in zip(watchers, marks)))
        print("%s: all %d watchers in %.3fs" % (show, N, time.monotonic() - t0))
    marks = [w.mark() for w in watchers]
    owner.disconnect()
    await asyncio.gather(*(w.expect_presence(CH, "unavailable", since=m)
                           for w, m in zip(watchers, marks)))
    for w in watchers:
        w.disconnect()


run(main)
