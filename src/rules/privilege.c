/* privilege.c - XEP-0356 announcements from servers (see cs_privilege.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_jid.h"
#include "cs_log.h"
#include "cs_privilege.h"
#include "cs_util.h"

void privileges_deinit(struct privileges *p)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (hash_next(&p->by_domain, &pos, &k, &v))
        free(v);
    hash_clear(&p->by_domain);
}

const struct privilege *privileges_of(const struct privileges *p, const char *domain)
{
    return hash_get(&p->by_domain, domain);
}

const char *priv_roster_name(enum priv_roster r)
{
    static const char *const n[] = {"none", "get", "set", "both"};
    return n[r];
}

const char *priv_presence_name(enum priv_presence p)
{
    static const char *const n[] = {"none", "managed_entity", "roster"};
    return n[p];
}

/* Index of s in names, or -1. */
static int lookup(const char *s, const char *const *names, int n)
{
    for (int i = 0; s && i < n; i++) {
        if (strcmp(s, names[i]) == 0)
            return i;
    }
    return -1;
}

bool privileges_presence(const struct privileges *p, const char *domain)
{
    const struct privilege *pv = domain ? privileges_of(p, domain) : NULL;
    /* Version 2 (XEP-0356 0.4) says the server sends every initial and
     * unavailable presence.  A version 1 server need not: ejabberd 23.01
     * forwards no unavailable when a client closes its stream or drops,
     * which would leave owners shown online for ever. */
    return pv && pv->version >= 2 && pv->presence != PRIV_PRESENCE_NONE;
}

bool privileges_message(struct privileges *p, const struct stanza_in *in,
                        privileges_serves_cb *serves, void *ud, const struct privilege **granted_r)
{
    const struct xml_node *msg = in->xml;
    const struct jid *from = &in->from;
    static const char *const rosters[] = {"none", "get", "set", "both"};
    static const char *const messages[] = {"none", "outgoing"};
    static const char *const presences[] = {"none", "managed_entity", "roster"};
    const struct xml_node *priv = xml_child(msg, "privilege", NS_PRIVILEGE_2);
    struct privilege *pv;
    size_t len;
    int version = 2;

    if (priv == NULL) {
        priv = xml_child(msg, "privilege", NS_PRIVILEGE_1);
        version = 1;
    }
    *granted_r = NULL;
    if (priv == NULL || !in->from_ok)
        return false;
    if (from->local || from->resource)
        return false; /* only a server speaks for its users */
    if (serves && !serves(ud, from->domain)) {
        log_warning("privilege: ignoring an announcement from %s: not a domain whose users this "
                    "component serves",
                    from->domain);
        return true;
    }
    len = strlen(from->domain);
    pv = xcalloc(1, sizeof(*pv) + len + 1);
    memcpy(pv->domain, from->domain, len + 1);
    pv->version = version;
    for (const struct xml_node *perm = xml_first_elem(priv); perm; perm = xml_next_elem(perm)) {
        const char *access = xml_attr(perm, "access"), *type = xml_attr(perm, "type");
        int v;
        if (strcmp(perm->name, "perm") != 0 || access == NULL)
            continue;
        if (strcmp(access, "roster") == 0 && (v = lookup(type, rosters, 4)) >= 0)
            pv->roster = (enum priv_roster)v;
        else if (strcmp(access, "message") == 0 && (v = lookup(type, messages, 2)) >= 0)
            pv->message = (enum priv_message)v;
        else if (strcmp(access, "presence") == 0 && (v = lookup(type, presences, 3)) >= 0)
            pv->presence = (enum priv_presence)v;
    }
    free(hash_put(&p->by_domain, pv->domain, pv));
    log_info("privilege: %s grants roster %s, message %s, presence %s (XEP-0356, namespace %d)",
             pv->domain, priv_roster_name(pv->roster),
             pv->message == PRIV_MESSAGE_OUTGOING ? "outgoing" : "none",
             priv_presence_name(pv->presence), version);
    if (pv->presence != PRIV_PRESENCE_NONE && version < 2)
        log_warning("privilege: %s: presence permission of namespace 1 not used (such servers "
                    "need not forward a closed session's unavailable); owners stay bound by "
                    "subscription",
                    pv->domain);
    *granted_r = pv;
    return true;
}
