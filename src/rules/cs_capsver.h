/* cs_capsver.h - the XEP-0115 verification string of a disco#info answer.
 *
 * Entity capabilities name a client's features by a hash, 'ver', of its
 * disco#info (XEP-0115 section 5.1); chanstat asks for the features of a
 * 'ver' once and keeps them for every client announcing it.  It keeps
 * them only when the answer hashes to the 'ver' it was asked for, so that
 * nobody can announce a popular 'ver' and answer with features of their
 * choosing for everyone else (section 5.4).  Pure function: no I/O. */
#ifndef CS_CAPSVER_H
#define CS_CAPSVER_H

#include "cs_xml.h"

/* base64 of a SHA-1, with its NUL. */
#define CAPSVER_LEN 29

/* The 'ver' of query (a <query xmlns='http://jabber.org/protocol/disco#info'/>)
 * with hash function SHA-1 into out: 0, or CS_EINVAL when the answer is
 * one section 5.4 says not to process (an identity or feature twice, an
 * extended form without a hidden FORM_TYPE or two forms of one
 * FORM_TYPE). */
int capsver_sha1(const struct xml_node *query, char out[CAPSVER_LEN]);

#endif
