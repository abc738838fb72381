/* homefed.c - the home's side of federation: node subscriptions.
 *
 * A chanstat node subscribes to one of our channels from its bare domain
 * with a <lease/> (doc/federation.md).  It is let in whatever the policy
 * (it forwards status only to watchers it authorised), gets the lease
 * granted (at most ours) and the policy, and is one ordinary watcher row:
 * every status change reaches it once.  Leases are kept in node_lease and
 * swept once a second; a lease that ran out ends the node's row. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_log.h"
#include "cs_federation.h"

#define SWEEP_PAGE 100

static void send_subscribed(struct home *h, struct channel *c, const char *node, int64_t secs)
{
    struct xml_node *p = xml_elem_new("presence", NULL);
    struct xml_node *l;
    char buf[32];
    xml_set_attr(p, "from", c->jid);
    xml_set_attr(p, "to", node);
    xml_set_attr(p, "type", "subscribed");
    l = xml_add_child(p, "lease", NS_FEDERATION);
    snprintf(buf, sizeof(buf), "%lld", (long long)secs);
    xml_set_attr(l, "seconds", buf);
    xml_set_attr(l, "policy", channel_policy_name(c->policy));
    if (out_stanza(h->out, p) != 0)
        log_debug("home: lease answer to %s not sent: link down", node);
    xml_free(p);
}

bool homefed_presence(struct home *h, struct channel *c, const struct xml_node *p,
                      const struct jid *from, const char *node)
{
    const char *type = xml_attr(p, "type");
    const struct xml_node *lease = xml_child(p, "lease", NS_FEDERATION);
    struct sub_row row;
    int64_t asked;
    int64_t secs;
    bool renewal;

    if (from->local || from->resource || type == NULL)
        return false;
    if (strcmp(type, "unsubscribe") == 0) {
        /* The node cancels: the ordinary path ends the row; the lease goes. */
        if (roster_lease_delete(h->roster, c->name, node) != 0)
            log_error("home: cannot delete the lease of %s on %s", node, c->name);
        return false;
    }
    if (strcmp(type, "subscribe") != 0 || lease == NULL)
        return false;
    if (cs_parse_int(xml_attr(lease, "seconds"), 1, INT64_MAX, &asked) != 0)
        asked = 0; /* none, or no number: the default lease */
    secs = h->fed.lease_ms / MS_PER_S;
    if (asked > 0 && asked < secs)
        secs = asked;
    if (roster_get(h->roster, c->name, node, &row) == CS_EDB)
        return true;
    renewal = sub_is_watcher(row.state);
    if (!renewal) {
        if (home_change(h, c->name, c, node, &row, SUB_IN_SUBSCRIBE) < 0 ||
            home_change(h, c->name, c, node, &row, SUB_OUT_SUBSCRIBED) < 0)
            return true;
        log_info("home: node %s subscribed to %s (lease %lld s)", node, c->name, (long long)secs);
    }
    if (roster_lease_put(h->roster, c->name, node, h->now_ms / 1000 + secs) != 0) {
        log_error("home: cannot store the lease of %s on %s", node, c->name);
        return true;
    }
    send_subscribed(h, c, node, secs);
    if (!renewal) {
        watchers_set(c, node, false);
        homefed_refresh_node(h, c, node); /* status now, if it may have it */
    } else if (watchers_has(c, node)) {
        /* A renewal may come from a node that restarted or reconnected
         * and lost what it knew: the status goes with every answer. */
        home_send_status_to(h, c, node);
    }
    return true;
}

struct allowed_ctx {
    struct home *h;
    struct channel *c;
    const char *node;
    bool yes;
};

/* May node receive c's status?  An open channel: yes.  Otherwise only
 * while one of the node's users is a watcher the owner approved:
 * O(vouched watchers of c). */
static bool node_allowed(struct home *h, struct channel *c, const char *node)
{
    size_t pos = 0;
    const char *jid;
    void *v;
    if (c->policy == POLICY_OPEN)
        return true;
    while (hash_next(&c->via, &pos, &jid, &v)) {
        struct sub_row row;
        if (strcmp(channel_via(c, jid), node) == 0 &&
            roster_get(h->roster, c->name, jid, &row) == 0 && sub_is_watcher(row.state))
            return true;
    }
    return false;
}

void homefed_refresh_node(struct home *h, struct channel *c, const char *node)
{
    struct sub_row row;
    bool allowed, was = watchers_has(c, node);
    if (roster_get(h->roster, c->name, node, &row) != 0 || !sub_is_watcher(row.state))
        allowed = false;
    else
        allowed = node_allowed(h, c, node);
    watchers_set(c, node, allowed);
    if (allowed && !was)
        home_send_status_to(h, c, node);
}

char *homefed_vouched(struct home *h, struct channel *c, const struct xml_node *p,
                      const struct jid *from)
{
    const char *type = xml_attr(p, "type");
    struct jid user;
    char *bare;
    if (jid_relay_parse(from->local, &user) != 0 || user.local == NULL) {
        log_warning("home: %s: a vouched address that names no user: %s@%s", c->name, from->local,
                    from->domain);
        if (type == NULL || strcmp(type, "error") != 0)
            home_reply_error(h, p, "modify", "jid-malformed");
        if (jid_relay_parse(from->local, &user) == 0)
            jid_deinit(&user);
        return NULL;
    }
    bare = jid_bare(&user);
    /* A node vouches for users of its parent domain (status.a.test for
     * a.test), or any if this home trusts it: one node can never speak
     * for another domain's users otherwise. */
    if (!fed_may_vouch(&h->fed, from->domain, user.domain)) {
        log_warning("home: %s may not vouch for %s; refused", from->domain, bare);
        h->stats.bad_presence++;
        if (type == NULL || strcmp(type, "error") != 0)
            home_reply_error(h, p, "auth", "forbidden");
        free(bare);
        jid_deinit(&user);
        return NULL;
    }
    jid_deinit(&user);
    if (!channel_via(c, bare) || strcmp(channel_via(c, bare), from->domain) != 0) {
        channel_set_via(c, bare, from->domain);
        watchers_set(c, bare, false); /* its status goes to the node */
        if (roster_via_put(h->roster, c->name, bare, from->domain) != 0)
            log_error("home: cannot store the node of %s on %s", bare, c->name);
    }
    return bare;
}

struct expired {
    char *channel[SWEEP_PAGE];
    char *node[SWEEP_PAGE];
    int n;
};

static void on_expired(void *ud, const char *channel, const char *node, const char *unused)
{
    struct expired *e = ud;
    if (e->n < SWEEP_PAGE) {
        e->channel[e->n] = xstrdup(channel);
        e->node[e->n] = xstrdup(node);
        e->n++;
    }
}

/* Once a second: leases that ran out end their node's subscription. */
void homefed_tick(struct home *h, int64_t now_ms)
{
    struct expired e = {.n = 0};
    int n = 0;
    h->now_ms = now_ms;
    if (roster_leases_expired(h->roster, now_ms / 1000, SWEEP_PAGE, on_expired, &e, &n) != 0)
        return;
    for (int i = 0; i < e.n; i++) {
        struct channel *c = chancache_find(&h->cache, e.channel[i]);
        struct sub_row row;
        log_info("home: lease of %s on %s ran out", e.node[i], e.channel[i]);
        if (roster_lease_delete(h->roster, e.channel[i], e.node[i]) != 0)
            log_error("home: cannot delete the lease of %s on %s", e.node[i], e.channel[i]);
        if (c && roster_get(h->roster, c->name, e.node[i], &row) == 0 &&
            home_change(h, c->name, c, e.node[i], &row, SUB_OUT_UNSUBSCRIBED) >= 0)
            home_send_presence(h, c->jid, e.node[i], "unsubscribed", NULL);
        free(e.channel[i]);
        free(e.node[i]);
    }
}
