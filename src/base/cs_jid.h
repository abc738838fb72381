/* cs_jid.h - XMPP addresses (RFC 7622) and the relay addresses built on
 * XEP-0106 escaping.
 *
 * Parsing validates the structure and the limits of RFC 7622 section 3:
 * each part at most 1023 bytes, localpart and resourcepart non-empty when
 * present, no characters the localpart forbids ("&'/:<>@ and space), no
 * control characters, well-formed UTF-8; the domainpart is a hostname
 * without empty labels or an IPv6 literal in brackets.  Normalisation is
 * what the XMPP servers apply (Prosody's jid.prep, ejabberd's jid:make):
 * the stringprep profiles of RFC 3920 through ICU (jidprep()), nodeprep
 * on the localpart, nameprep on the domain after the removal of one
 * trailing dot, resourceprep on the resource; the limits and forbidden
 * characters above are checked on the prepared parts (doc/xmpp.md).
 *
 * A relay address stands for a contact's bare JID at our domain: its
 * localpart is the XEP-0106 escaped bare JID (after an escaped '@' when
 * the contact has no localpart), so it always holds an escaped '@' (\40)
 * and never collides with a channel name, which cannot contain '@'.
 * jid_relay_address() builds one; jid_relay_parse() is the one place that
 * reads one back (doc/internals-routing.md). */
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

/* The stringprep profiles of RFC 3920 appendix A (nodeprep), RFC 3491
 * (nameprep) and RFC 3920 appendix B (resourceprep), applied as Prosody
 * applies them: ICU's usprep with unassigned code points allowed, input
 * and result at most JID_PART_MAX bytes. */
enum jidprep_profile { JIDPREP_NODE, JIDPREP_NAME, JIDPREP_RESOURCE };

/* Prepares the len bytes at s (UTF-8) with profile p into out, which then
 * holds *outlen_r bytes and a NUL.  Returns 0, or CS_EINVAL when s cannot
 * be prepared: ill-formed UTF-8, a prohibited code point, a string that
 * breaks the bidi rules (RFC 3454 section 6), or input or result longer
 * than JID_PART_MAX bytes.  The result may be empty (a soft hyphen alone
 * maps to nothing).  Pure ASCII is prepared without ICU; jidprep_icu()
 * always asks ICU (for the tests that compare the two). */
int jidprep(enum jidprep_profile p, const char *s, size_t len, char out[JID_PART_MAX + 1],
            size_t *outlen_r);
int jidprep_icu(enum jidprep_profile p, const char *s, size_t len, char out[JID_PART_MAX + 1],
                size_t *outlen_r);

/* Parses s into jid_r, each part prepared (jidprep()).  Returns 0, or
 * CS_EINVAL when s is not a valid JID or a part cannot be prepared (jid_r
 * then holds nothing to free).  Release with jid_deinit(). */
int jid_parse(const char *s, struct jid *jid_r);
void jid_deinit(struct jid *jid);

/* Writes local@domain (or domain) / the full form into a new string;
 * caller frees. */
/* A deep copy of a parsed JID into dst (release with jid_deinit()): a
 * stanza kept for later keeps its parsed addresses, never re-parsed. */
void jid_copy(const struct jid *src, struct jid *dst);
char *jid_bare(const struct jid *jid);
char *jid_full(const struct jid *jid);

/* True when a and b (both parsed, so normalised) have the same bare JID;
 * resources are ignored. */
bool jid_bare_eq(const struct jid *a, const struct jid *b);

/* Validates a string as a localpart / domainpart, the checks jid_parse()
 * applies to each prepared part (no preparation: "Über" passes).  Returns
 * 0 or CS_EINVAL. */
int jid_check_local(const char *s, size_t len);
int jid_check_domain(const char *s, size_t len);

/* The prepared form of a localpart (nodeprep, then jid_check_local()), or
 * NULL when s has none.  Caller frees. */
char *jid_prep_local(const char *s);

/* The prepared bare JID of s (jid_bare() of jid_parse()), or NULL when s
 * is no valid JID or has a resource.  Caller frees. */
char *jid_prep_bare(const char *s);

/* XEP-0106 JID escaping of a localpart.  jid_escape_local() maps the ten
 * characters XEP-0106 lists (space " & ' / : < > @ and a backslash that
 * would start an escape sequence) onto \20 ... \5c; jid_unescape_local()
 * reverses it (only exact lowercase sequences are recognised, other
 * backslashes stay).  Both return a new string; caller frees. */
char *jid_escape_local(const char *s);
char *jid_unescape_local(const char *s);

/* The relay address of contact at domain, where contact is a normalised
 * bare JID (jid_bare() of a parsed JID): escape(contact)@domain, and for a
 * contact without a localpart \40 escape(contact)@domain, which unescapes
 * to "@contact".  Caller frees. */
char *jid_relay_address(const char *contact, const char *domain);

/* Is local (the localpart of an address at our domain) a relay address?
 * local is prepared first (nodeprep), as jid_parse() prepares every
 * localpart (so "\2F" reads as "\2f"), then unescaped per
 * jid_unescape_local().
 * Returns
 *   0 with *contact_r the contact's normalised bare JID parsed (local is
 *     NULL for the "@domain" form); release with jid_deinit();
 *   CS_ENOTFOUND when local is not a relay address: the unescaped form
 *     holds no '@', so local names a channel;
 *   CS_EINVAL when local is not a valid localpart (or cannot be
 *     prepared), or is a relay address
 *     whose unescaped form is not a valid bare JID (a resource or '/',
 *     empty parts, several '@', bad UTF-8 ...), or is not written the one
 *     way jid_relay_address() writes it (e.g. "\5c" before something that
 *     is no escape sequence, a trailing dot on the domain): every contact
 *     has exactly one relay address.
 * On any error *contact_r holds nothing to free. */
int jid_relay_parse(const char *local, struct jid *contact_r);

#endif
