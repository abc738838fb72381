/* cs_pepitem.h - the PEP nodes of a channel and their one item each,
 * built from what is stored (XEP-0163 personal eventing, served by the
 * component at the channel's bare JID):
 *   urn:xmpp:avatar:metadata  XEP-0084: id and info id = SHA-1 hex of the
 *                             avatar, bytes, type; no avatar: an empty
 *                             <metadata/> (section 4.2) with id 'current'
 *   urn:xmpp:avatar:data      XEP-0084: the bytes in base64; no item
 *                             without an avatar
 *   http://jabber.org/protocol/nick  XEP-0172: the display name
 *   urn:xmpp:vcard4           XEP-0292: fn, nickname, note, email, url
 * Nick and vCard4 items have the id 'current'.  Where the display name is
 * unset (or not usable text) the channel's name stands in, as in its
 * vCard-temp. */
#ifndef CS_PEPITEM_H
#define CS_PEPITEM_H

#include <stdbool.h>

#include "cs_chanprops.h"
#include "cs_xml.h"

#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define NS_PUBSUB_EVENT "http://jabber.org/protocol/pubsub#event"
#define NS_PUBSUB_ERRORS "http://jabber.org/protocol/pubsub#errors"
#define NS_CAPS "http://jabber.org/protocol/caps"

enum pep_node { PEP_AVATAR_META, PEP_AVATAR_DATA, PEP_NICK, PEP_VCARD4, PEP_NNODES };
#define PEP_ALL_NODES ((1u << PEP_NNODES) - 1)

/* The node's name (its namespace, as XEP-0163 names nodes). */
const char *pep_node_name(enum pep_node n);
/* The node named name, or -1. */
int pep_node_of(const char *name);

/* What a channel's items are made of; all borrowed. */
struct pep_source {
    const char *name;    /* the channel */
    const char *display; /* its display name, or NULL */
    const struct chanprops_row *props;
    const char *photo; /* SHA-1 hex of the avatar, "" without */
};

/* The node's current <item/> (caller frees), or NULL when it has none
 * (the data node without an avatar). */
struct xml_node *pep_item(enum pep_node n, const struct pep_source *src);

/* s when it is text XML can carry, else NULL (logged once per call, as
 * `what` of channel: a row edited by hand into control characters). */
const char *pep_usable(const char *s, const char *what, const char *channel);

#endif
