/* cs_privilege.h - what a server lets this component do for its users
 * (XEP-0356, Privileged Entity).
 *
 * After the handshake a server that grants privileges sends the
 * component a <message/> from its own domain carrying
 * <privilege xmlns='urn:xmpp:privilege:2'> (Prosody's mod_privilege) or
 * 'urn:xmpp:privilege:1' (older servers), with one <perm/> per kind:
 * roster (none/get/set/both), message (none/outgoing), presence
 * (none/managed_entity/roster).  The latest message per server domain
 * wins; a reconnect starts with none.  Roster set makes chanstat keep
 * the users' rosters in step (cs_uroster.h), presence lets owners be
 * bound without a subscription (doc/privilege.md). */
#ifndef CS_PRIVILEGE_H
#define CS_PRIVILEGE_H

#include <stdbool.h>

#include "cs_hash.h"
#include "cs_stanza.h"
#include "cs_xml.h"

#define NS_PRIVILEGE_1 "urn:xmpp:privilege:1"
#define NS_PRIVILEGE_2 "urn:xmpp:privilege:2"

enum priv_roster { PRIV_ROSTER_NONE, PRIV_ROSTER_GET, PRIV_ROSTER_SET, PRIV_ROSTER_BOTH };
enum priv_message { PRIV_MESSAGE_NONE, PRIV_MESSAGE_OUTGOING };
enum priv_presence { PRIV_PRESENCE_NONE, PRIV_PRESENCE_MANAGED_ENTITY, PRIV_PRESENCE_ROSTER };

struct privilege {
    int version; /* 1 or 2: the namespace it came in */
    enum priv_roster roster;
    enum priv_message message;
    enum priv_presence presence;
    char domain[]; /* the granting server's domain */
};

/* Zero-initialised is empty.  Release with privileges_deinit(). */
struct privileges {
    struct hash by_domain; /* domain -> struct privilege * (owned) */
};

/* Forgets every grant (also at link loss: a new session announces
 * again); the table stays usable. */
void privileges_deinit(struct privileges *p);
/* Presence of domain's users arrives without a subscription, with the
 * unavailable of every closed session: granted in namespace 2 only. */
bool privileges_presence(const struct privileges *p, const char *domain);
/* Is domain one whose users this component serves? */
typedef bool privileges_serves_cb(void *ud, const char *domain);
/* If msg is a server's privilege announcement (from a bare domain, with
 * a <privilege/> child in either namespace), returns true: the caller
 * sends nothing back (it is no message for a channel).  It is recorded
 * and logged when serves says the domain is served (NULL: any), else
 * logged and ignored (a remote server speaks for nobody here); *granted_r
 * is then the record, else NULL.  false otherwise. */
bool privileges_message(struct privileges *p, const struct stanza_in *msg,
                        privileges_serves_cb *serves, void *ud, const struct privilege **granted_r);
/* What domain's server granted, or NULL (nothing announced). */
const struct privilege *privileges_of(const struct privileges *p, const char *domain);

const char *priv_roster_name(enum priv_roster r);
const char *priv_presence_name(enum priv_presence p);

#endif
