/* cs_jid.h - XMPP addresses (RFC 7622).
 *
 * Parsing validates the structure and the limits of RFC 7622 section 3:
 * each part at most 1023 bytes, localpart and resourcepart non-empty when
 * present, no characters the localpart forbids ("&'/:<>@ and space), no
 * control characters, well-formed UTF-8.  Normalisation is the part of
 * PRECIS that matters for routing: ASCII case folding of domain and
 * localpart and removal of a trailing dot in the domain.  Full Unicode
 * case mapping and NFC are not applied (documented in doc/). */
#ifndef CS_JID_H
#define CS_JID_H

#include <stdbool.h>
#include <stddef.h>

#define JID_PART_MAX 1023

struct jid {
    char *local;    /* NULL when absent; points into buf */
    char *domain;   /* never NULL after a successful parse */
    char *resource; /* NULL when absent */
    char *buf;      /* owned: one allocation holding all parts */
};

/* Parses s into jid_r.  Returns 0, or CS_EINVAL when s is not a valid JID
 * (jid_r then holds nothing to free).  Release with jid_deinit(). */
int jid_parse(const char *s, struct jid *jid_r);
void jid_deinit(struct jid *jid);

/* Writes local@domain (or domain) / the full form into a new string;
 * caller frees. */
char *jid_bare(const struct jid *jid);
char *jid_full(const struct jid *jid);

/* True when s parses and its normalised bare form equals bare. */
bool jid_bare_eq(const struct jid *a, const struct jid *b);

/* Validates a string as a localpart / domainpart (used for config and
 * stored names).  Returns 0 or CS_EINVAL. */
int jid_check_local(const char *s, size_t len);
int jid_check_domain(const char *s, size_t len);

/* XEP-0106 JID escaping of a localpart.  jid_escape_local() maps the ten
 * characters XEP-0106 lists (space " & ' / : < > @ and a backslash that
 * would start an escape sequence) onto \20 ... \5c; jid_unescape_local()
 * reverses it (only exact lowercase sequences are recognised, other
 * backslashes stay).  Both return a new string; caller frees. */
char *jid_escape_local(const char *s);
char *jid_unescape_local(const char *s);

/* The relay address of contact at domain: escape(contact)@domain (see
 * doc/internals-routing.md).  Caller frees. */
char *jid_relay_address(const char *contact, const char *domain);

#endif
