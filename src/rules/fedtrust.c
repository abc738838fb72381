/* fedtrust.c - which domains a chanstat node serves, and for whose users
 * a node may vouch at a home (doc/federation.md): by default the parent
 * domain of the node's own, else the configured lists.  Pure functions
 * of the [federation] settings. */
#include "config.h"

#include <string.h>

#include "cs_config.h"
#include "cs_fed.h"

static bool parent_is(const char *node, const char *domain)
{
    const char *dot = strchr(node, '.');
    return dot && strcmp(dot + 1, domain) == 0;
}

bool fed_serves(const struct fed_limits *f, const char *node_domain, const char *domain)
{
    if (f->local_domains && f->local_domains->n > 0)
        return config_list_has(f->local_domains, domain);
    return parent_is(node_domain, domain);
}

bool fed_may_vouch(const struct fed_limits *f, const char *node, const char *domain)
{
    if (f->trusted_nodes && config_list_has(f->trusted_nodes, node))
        return true;
    if (f->front && strcmp(f->front, node) == 0)
        return true;
    return parent_is(node, domain);
}
