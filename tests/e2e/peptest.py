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
