/* cs_fed.h - federation between chanstat nodes (doc/federation.md).
 *
 * fed.c is the status service (remote channels seen through this node,
 * one upstream subscription each); homefed.c is the home's side (node
 * subscriptions with leases).  Both are parts of the home (cs_home.h)
 * and share its output path and clock. */
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
