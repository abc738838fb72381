/* peplease.c - property subscriptions with a lease (XEP-0060 subscribe
 * to a channel's PEP nodes, cs_pep.h): granting, ending, listing and
 * purging them.  Their events are sent by pep.c. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_log.h"
#include "cs_roster.h"
#include "pep_priv.h"

#define PURGE_EVERY_MS 60000
#define PURGE_BATCH 1000

int pep_subscribe(struct pep *p, struct channel *c, enum pep_node node, const char *bare,
                  int64_t expire_asked, int64_t now_ms, int64_t *expires_r)
{
    int64_t now = pep_wall_s(p, now_ms);
    int64_t expires = expire_asked > 0 ? expire_asked : now + p->lim.lease_default_s;
    long long n;
    struct roster *roster = p->d.cache->roster;

    if (expire_asked > 0 && expire_asked <= now)
        return CS_EINVAL;
    if (expires > now + p->lim.lease_max_s)
        expires = now + p->lim.lease_max_s;
    /* Counted without bare's own row: a renewal is never refused. */
    if (propsub_count(p->d.subs, c->name, pep_node_name(node), bare, &n) != 0)
        return CS_EDB;
    if (n >= p->lim.max_subscriptions) {
        log_info("props: channel %s has %lld property subscriptions; %s refused", c->name, n, bare);
        return CS_ELIMIT;
    }
    if (roster_tx_begin(roster) != 0 ||
        propsub_put(p->d.subs, c->name, pep_node_name(node), bare, expires) != 0)
        return CS_EDB;
    *expires_r = expires;
    return 0;
}

int pep_unsubscribe(struct pep *p, struct channel *c, enum pep_node node, const char *bare,
                    int64_t now_ms)
{
    if (roster_tx_begin(p->d.cache->roster) != 0)
        return CS_EDB;
    return propsub_delete(p->d.subs, c->name, pep_node_name(node), bare, pep_wall_s(p, now_ms));
}

int pep_each_subscription(struct pep *p, const char *channel, int64_t now_ms, propsub_cb *cb,
                          void *ud)
{
    return p->d.subs ? propsub_each(p->d.subs, channel, NULL, pep_wall_s(p, now_ms), cb, ud) : 0;
}

void pep_tick(struct pep *p, int64_t now_ms)
{
    int n = 0;
    if (p->d.subs == NULL || now_ms < p->next_purge)
        return;
    p->next_purge = now_ms + PURGE_EVERY_MS;
    if (roster_tx_begin(p->d.cache->roster) != 0 ||
        propsub_purge(p->d.subs, pep_wall_s(p, now_ms), PURGE_BATCH, &n) != 0)
        return;
    if (n > 0)
        log_debug("props: %d expired property subscriptions purged", n);
}

bool pep_wants_unloaded(struct pep *p, const char *name, int64_t now_ms)
{
    bool any = false;
    if (p->d.subs && propsub_any(p->d.subs, name, pep_wall_s(p, now_ms), &any) != 0)
        return false;
    return any;
}
