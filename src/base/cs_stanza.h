/* cs_stanza.h - XMPP stanza helpers shared by the protocol modules:
 * replies and stanza errors (RFC 6120 section 8.3).  Stanzas leave through
 * the one output path, cs_out.h. */
#ifndef CS_STANZA_H
#define CS_STANZA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs_jid.h"
#include "cs_xml.h"

#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_PING "urn:xmpp:ping"
#define NS_VERSION "jabber:iq:version"
#define NS_NICK "http://jabber.org/protocol/nick" /* XEP-0172 */
#define NS_VCARD_UPDATE "vcard-temp:x:update"     /* XEP-0153 */

/* ---- One inbound stanza, parsed once ----
 *
 * Dispatch (service_handle) parses what every handler needs, once: the
 * kind, the type, 'from' and 'to' as JIDs (normalised, RFC 7622) and a
 * relay address in 'to' decoded (XEP-0106), with the time it arrived.
 * Presence, routing, federation and the iq handlers read these; nobody
 * parses the attributes again. */

enum stanza_kind { STANZA_OTHER, STANZA_MESSAGE, STANZA_PRESENCE, STANZA_IQ };

struct stanza_in {
    const struct xml_node *xml; /* borrowed for the call */
    enum stanza_kind kind;
    const char *type; /* the type attribute, NULL when absent (borrowed from xml) */
    bool from_ok;     /* from is a valid JID (the server stamps it) */
    struct jid from;
    char *sender; /* from's bare JID when from_ok, else NULL */
    bool to_ok;   /* to is a valid JID */
    struct jid to;
    /* to.local as a relay address (jid_relay_parse): 0 it is one, decoded
     * in relay; CS_ENOTFOUND it is none (or there is no to.local);
     * CS_EINVAL an escaped '@' that names no bare JID. */
    int relay_rc;
    struct jid relay;
    int64_t now_ms; /* when it arrived */
};

/* Fills in from xml (borrowed: it must outlive in).  Never fails: what
 * does not parse is marked (from_ok, to_ok, relay_rc).  Release with
 * stanza_in_deinit(). */
void stanza_in_parse(struct stanza_in *in, const struct xml_node *xml, int64_t now_ms);
void stanza_in_deinit(struct stanza_in *in);
/* A deep copy of src describing xml, which the caller made as a copy of
 * src->xml and keeps as long as dst (for a stanza held for later).
 * Release with stanza_in_deinit(). */
void stanza_in_copy(struct stanza_in *dst, const struct stanza_in *src, const struct xml_node *xml);

/* ---- Answers ----
 *
 * A reply comes from the request's 'to' as parsed (normalised, RFC
 * 7622: case-folded domain and localpart, no trailing dot) when that is
 * a valid JID at domain (our component domain), else from domain itself,
 * so that nothing we write claims an address we do not own, however the
 * request spelled it.  It goes to the request's 'from' and keeps its id. */

/* A stanza error in reply to in (RFC 6120 8.3): same element name,
 * type='error', an <error type=TYPE> with the defined CONDITION and
 * optional text.  For an iq the request payload is echoed.  Caller owns
 * the result. */
struct xml_node *stanza_error_reply(const struct stanza_in *in, const char *domain,
                                    const char *type, const char *condition, const char *text);
/* An iq get of our own: <iq from to type='get' id><query xmlns=ns
 * [node=node]/></iq> (node may be NULL).  Caller owns the result. */
struct xml_node *stanza_iq_query(const char *from, const char *to, const char *id, const char *ns,
                                 const char *node);
/* <iq type='result'/> for an iq get/set; caller owns the result. */
struct xml_node *stanza_iq_result(const struct stanza_in *iq, const char *domain);

#endif
