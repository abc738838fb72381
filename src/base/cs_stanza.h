/* cs_stanza.h - XMPP stanza helpers shared by the protocol modules:
 * replies and stanza errors (RFC 6120 section 8.3).  Stanzas leave through
 * the one output path, cs_out.h. */
#ifndef CS_STANZA_H
#define CS_STANZA_H

#include <stddef.h>

#include "cs_xml.h"

#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_PING "urn:xmpp:ping"
#define NS_VERSION "jabber:iq:version"
#define NS_NICK "http://jabber.org/protocol/nick" /* XEP-0172 */

/* The address a reply to orig comes from: orig's 'to' normalised (RFC
 * 7622: case-folded domain and localpart, no trailing dot) when it is a
 * valid JID at domain (our component domain), else domain itself, so
 * that nothing we write claims an address we do not own, however the
 * request spelled it.  Caller frees. */
char *stanza_reply_from(const struct xml_node *orig, const char *domain);
/* A stanza error in reply to orig (RFC 6120 8.3): same element name and
 * id, to = orig's from, from = stanza_reply_from(orig, domain),
 * type='error', an <error type=TYPE> with the defined CONDITION and
 * optional text.  For an iq the request payload is echoed.  Caller owns
 * the result. */
struct xml_node *stanza_error_reply(const struct xml_node *orig, const char *domain,
                                    const char *type, const char *condition, const char *text);
/* <iq type='result'/> for an iq get/set, addressed as above; caller owns
 * the result. */
struct xml_node *stanza_iq_result(const struct xml_node *iq, const char *domain);

#endif
