"""Administration over XMPP with real clients through Prosody: carol
registers a channel and owns it; bob answers pending requests, lists his
watchers and sets his policy by ad-hoc commands; a stranger is refused;
alice, an admin, reads the counters; vCards show display names."""
import os

from slixmpp.exceptions import IqError
from xmpptest import Client, run

P = int(os.environ["C2S_PORT"])
D = "status.a.test"
DESK = "desk@" + D
NEWS = "carolnews@" + D
CMD = "urn:chanstat:cmd:"


def client(user, **kw):
    c = Client(user + "@a.test", user + "pw", P, **kw)
    for plugin in ("xep_0004", "xep_0030", "xep_0050", "xep_0054", "xep_0077", "xep_0172"):
        c.register_plugin(plugin)
    return c


def condition(e):
    return e.iq["error"]["condition"]


async def register(c, **fields):
    iq = c.Iq()
    iq["type"] = "set"
    iq["to"] = D
    for k, v in fields.items():
        iq["register"][k] = v
    return await iq.send()


async def register_get(c):
    iq = c.Iq()
    iq["type"] = "get"
    iq["to"] = D
    iq.enable("register")
    return (await iq.send())["register"]


async def expect_error(coro, cond, what):
    try:
        await coro
    except IqError as e:
        assert condition(e) == cond, "%s: %s instead of %s" % (what, condition(e), cond)
        return e
    raise AssertionError("%s: no %s error" % (what, cond))


async def command(c, jid, node, **kw):
    return (await c.plugin["xep_0050"].send_command(jid, CMD + node, **kw))["command"]


def submit(c, **values):
    form = c.plugin["xep_0004"].make_form(ftype="submit")
    for var, v in values.items():
        form.add_field(var=var, value=v)
    return form


async def main():
    # ---- In-band registration ----
    carol = client("carol")
    await carol.login()
    info = await carol.plugin["xep_0030"].get_info(D)
    assert "jabber:iq:register" in info["disco_info"]["features"], info
    reg = await register_get(carol)
    assert not reg["registered"] and "username" in reg["fields"], reg
    m = carol.mark()
    await register(carol, username="CarolNews")
    # The new channel asks its owner for her presence at once.
    await carol.wait_for(lambda s: s.name == "presence" and s["type"] == "subscribe"
                         and s["from"].bare == NEWS, "subscribe from the new channel", since=m)
    carol.send_presence(pto=NEWS, ptype="subscribed")
    reg = await register_get(carol)
    assert reg["registered"] and reg["username"] == "carolnews", reg
    # Her channel works: dave subscribes (open policy) and sees her status.
    dave = client("dave")
    await dave.login()
    dave.send_presence(pto=NEWS, ptype="subscribe")
    await dave.expect_presence(NEWS, "subscribed")
    await dave.expect_presence(NEWS)
    # Errors: a taken name, an invalid one, beyond the limit.
    await expect_error(register(dave, username="carolnews"), "conflict", "taken name")
    await expect_error(register(dave, username="bad name"), "not-acceptable", "invalid name")
    await register(carol, username="spare")
    await expect_error(register(carol, username="third"), "not-allowed", "third channel")
    # Removal takes her channels; dave, a watcher, is told.
    m = dave.mark()
    iq = carol.Iq()
    iq["type"] = "set"
    iq["to"] = D
    iq["register"]["remove"] = True
    await iq.send()
    await dave.expect_presence(NEWS, "unsubscribed", since=m)
    await expect_error(register(carol, username="x y"), "not-acceptable", "after removal")
    # carol registers again (the shell checks the row and her approval).
    m = carol.mark()
    await register(carol, username="carolnews")
    await carol.wait_for(lambda s: s.name == "presence" and s["type"] == "subscribe"
                         and s["from"].bare == NEWS, "subscribe after re-registering", since=m)
    carol.send_presence(pto=NEWS, ptype="subscribed")

    # ---- The owner's commands ----
    bob = client("bob", resource="pc")
    await bob.login()
    req = await bob.wait_for(lambda s: s.name == "presence" and s["type"] == "subscribe"
                             and s["from"].bare == DESK, "subscribe from desk")
    # XEP-0172: the request names the channel by its display name.
    assert req["nick"]["nick"] == "Help Desk", req
    bob.send_presence(pto=DESK, ptype="subscribed")
    items = await bob.plugin["xep_0030"].get_items(DESK, node="http://jabber.org/protocol/commands")
    nodes = sorted(i[1] for i in items["disco_items"]["items"])
    assert nodes == [CMD + "pending", CMD + "policy", CMD + "revoke", CMD + "watchers"], nodes

    erin = client("erin")
    await erin.login()
    m = bob.mark()
    dave.send_presence(pto=DESK, ptype="subscribe")
    erin.send_presence(pto=DESK, ptype="subscribe")
    for who in ("dave", "erin"):
        await bob.wait_for(lambda s, who=who: s.name == "presence" and s["type"] == "subscribe"
                           and s["from"].bare == who + "\\40a.test@" + D, "request of " + who,
                           since=m)
    # bob answers both by command: approve dave, deny erin.
    c = await command(bob, DESK, "pending")
    assert c["status"] == "executing", c
    options = sorted(o["value"] for o in c["form"].get_fields()["approve"]["options"])
    assert options == ["dave@a.test", "erin@a.test"], options
    md, me = dave.mark(), erin.mark()
    c = await command(bob, DESK, "pending", action="complete", sessionid=c["sessionid"],
                      payload=submit(bob, approve=["dave@a.test"], deny=["erin@a.test"]))
    assert c["status"] == "completed", c
    assert "Approved 1, denied 1." in c["notes"][0][1], c["notes"]
    await dave.expect_presence(DESK, "subscribed", since=md)
    await dave.expect_presence(DESK, since=md)
    await erin.expect_presence(DESK, "unsubscribed", since=me)
    # The listing shows dave as a watcher and nothing pending.
    c = await command(bob, DESK, "watchers")
    assert c["status"] == "completed", c
    fields = c["form"].get_fields()
    assert fields["watchers"]["value"] == ["dave@a.test"], fields["watchers"]["value"]
    assert not fields["pending"]["value"], fields["pending"]["value"]
    # Policy: the form shows the current one; closed refuses the next request.
    c = await command(bob, DESK, "policy")
    assert c["form"].get_fields()["policy"]["value"] == "approve", c
    c = await command(bob, DESK, "policy", action="complete", sessionid=c["sessionid"],
                      payload=submit(bob, policy="closed"))
    assert c["status"] == "completed", c
    m = erin.mark()
    erin.send_presence(pto=DESK, ptype="subscribe")
    await erin.expect_presence(DESK, "unsubscribed", since=m)

    # ---- A stranger is refused, at the channel and at the domain ----
    await expect_error(command(erin, DESK, "watchers"), "forbidden", "stranger at the channel")
    await expect_error(command(erin, DESK, "pending"), "forbidden", "stranger, pending")
    await expect_error(command(bob, D, "stats"), "forbidden", "owner at the domain")

    # ---- An admin at the domain ----
    alice = client("alice")
    await alice.login()
    c = await command(alice, D, "stats")
    assert c["status"] == "completed", c
    values = c["form"].get_values()
    assert int(values["stanzas_in.iq"]) > 0, values
    c = await command(alice, D, "watchers")
    assert c["status"] == "executing", c
    c = await command(alice, D, "watchers", action="next", sessionid=c["sessionid"],
                      payload=submit(alice, channel="desk"))
    assert c["form"].get_fields()["watchers"]["value"] == ["dave@a.test"], c

    # ---- vCards ----
    vc = await alice.plugin["xep_0054"].get_vcard(DESK, cached=False)
    assert vc["vcard_temp"]["FN"] == "Help Desk", vc
    vc = await alice.plugin["xep_0054"].get_vcard(NEWS, cached=False)
    assert vc["vcard_temp"]["FN"] == "carolnews", vc

    for cl in (alice, bob, carol, dave, erin):
        cl.disconnect()


run(main)
