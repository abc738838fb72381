/* cs_fed.h - federation between chanstat nodes (doc/federation.md).
 *
 * The words both ends share: the namespace, the [federation] settings,
 * and which domains a node serves or may vouch for (fedtrust.c).  The
 * status service (fed.c) and the home's side (homefed.c) are on the
 * federation floor above the channel core (cs_federation.h). */
#ifndef CS_FED_H
#define CS_FED_H

#include <stdbool.h>
#include <stdint.h>

#define NS_FEDERATION "urn:chanstat:federation:0"
#define NS_GATEWAY "jabber:iq:gateway"

struct config_list;

/* The [federation] settings; timers in milliseconds. */
struct fed_limits {
    const struct config_list *local_domains; /* NULL or empty: the parent domain */
    const struct config_list *trusted_nodes; /* may vouch for any domain's users */
    const char *front;                       /* a cluster home's front: vouches for anybody */
    int64_t lease_ms;
    int64_t resubscribe_delta_ms;
    int64_t min_resubscribe_ms;
    int64_t retry_ms;
    int64_t linger_ms;
    int64_t discovery_ttl_ms;
    int64_t request_timeout_ms;
};

/* Is domain one whose users this node (node_domain) serves? */
bool fed_serves(const struct fed_limits *f, const char *node_domain, const char *domain);
/* May node vouch for a user of domain (at a home)? */
bool fed_may_vouch(const struct fed_limits *f, const char *node, const char *domain);

#endif
