"""What the PEP tests' clients share (pep.py, fed_props.py): recording
the pubsub events and disco#info requests a client receives, and giving
it features so that its XEP-0115 'ver' follows."""
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

PS = "http://jabber.org/protocol/pubsub"
PSE = PS + "#event"
DISCO = "http://jabber.org/protocol/disco#info"


def record_pep(c):
    """c records pubsub events and disco#info gets in c.stanzas (slixmpp
    hands neither to its 'message' and 'presence' events); returns c."""
    for plugin in ("xep_0004", "xep_0030", "xep_0115"):
        c.register_plugin(plugin)

    def keep(stanza):
        c.stanzas.append(stanza.__copy__())  # the disco plugin answers in place
        c.new_stanza.set()

    def keep_get(iq):
        if iq["type"] == "get":
            keep(iq)

    c.register_handler(Callback("pep events", MatchXPath(
        "{jabber:client}message/{%s}event" % PSE), keep))
    c.register_handler(Callback("disco gets", MatchXPath(
        "{jabber:client}iq/{%s}query" % DISCO), keep_get))
    return c


async def with_features(c, features):
    """Adds features to c's own disco#info; its 'ver' follows."""
    for f in features:
        await c["xep_0030"].add_feature(f)
    await c["xep_0115"].update_caps(broadcast=False)
    return await c["xep_0115"].get_verstring()


def disco_gets(c, since=0):
    return [s for s in c.stanzas[since:] if s.name == "iq"]


UPDATE = "vcard-temp:x:update"


def items_of(s, node, frm):
    """The <item/>s of a pubsub event for node from frm; None if s is none."""
    if s.name != "message" or s["from"].full != frm:
        return None
    items = s.xml.find("{%s}event/{%s}items" % (PSE, PSE))
    if items is None or items.get("node") != node:
        return None
    return items.findall("{%s}item" % PSE)


def events(c, node, frm, since=0):
    return [s for s in c.stanzas[since:] if items_of(s, node, frm) is not None]


async def event(c, node, frm, since, timeout):
    """The one item of the next event for node from frm."""
    s = await c.wait_for(lambda s: items_of(s, node, frm) is not None,
                         "event of %s from %s" % (node, frm), timeout=timeout, since=since)
    assert s["type"] == "headline", "not a headline: %s" % s
    its = items_of(s, node, frm)
    assert len(its) == 1, "an event with %d items: %s" % (len(its), s)
    return its[0]


def photo_of(s):
    """The XEP-0153 hash in presence s: None without <x/>, '' for <photo/>."""
    x = s.xml.find("{%s}x" % UPDATE)
    if x is None:
        return None
    p = x.find("{%s}photo" % UPDATE)
    assert p is not None, "vcard-temp:x:update without <photo/>: %s" % s
    return p.text or ""
