/* homefed.c - the home's side of federation: node subscriptions.
 *
 * A chanstat node subscribes to one of our channels from its bare domain
 * with a <lease/> (doc/federation.md).  It is let in whatever the policy
 * (it forwards status only to watchers it authorised), gets the lease
 * granted (at most ours) and the policy, and is one ordinary watcher row:
 * every status change reaches it once.  A lease's end is kept twice: in
 * node_lease as wall-clock seconds, for chanstatctl and the next start,
 * and in memory as a deadline on the monotonic clock, which is what ends
 * it: a step of the wall clock neither shortens nor stretches a lease.
 * The deadlines are read from node_lease once (the first tick after start
 * or a reload) and kept in a min-heap beside the table: a tick costs
 * O(log leases) per lease that ends (or per renewal seen, whose old entry
 * is skipped as stale), never a scan. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_log.h"
#include "cs_pep.h"
#include "cs_federation.h"

#define SWEEP_PAGE 100

/* One lease in memory: key "channel\nnode". */
struct lease {
    int64_t deadline_ms; /* monotonic */
    char key[];
};

/* A deadline as it was set: stale once the lease was renewed or dropped
 * (the table holds another deadline, or none). */
struct lease_due {
    int64_t deadline_ms;
    char *key; /* owned */
};

static void due_swap(struct home *h, size_t a, size_t b)
{
    struct lease_due t = h->due[a];
    h->due[a] = h->due[b];
    h->due[b] = t;
}

static void due_push(struct home *h, int64_t deadline_ms, const char *key)
{
    size_t i;
    if (h->ndue == h->capdue) {
        h->capdue = h->capdue ? 2 * h->capdue : 64;
        h->due = xrealloc(h->due, h->capdue * sizeof(*h->due));
    }
    i = h->ndue++;
    h->due[i] = (struct lease_due){deadline_ms, xstrdup(key)};
    while (i > 0 && h->due[i].deadline_ms < h->due[(i - 1) / 2].deadline_ms) {
        due_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

/* Removes the earliest entry; the caller owns its key. */
static struct lease_due due_pop(struct home *h)
{
    struct lease_due top = h->due[0];
    size_t i = 0;
    h->due[0] = h->due[--h->ndue];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->ndue && h->due[l].deadline_ms < h->due[m].deadline_ms)
            m = l;
        if (r < h->ndue && h->due[r].deadline_ms < h->due[m].deadline_ms)
            m = r;
        if (m == i)
            break;
        due_swap(h, i, m);
        i = m;
    }
    return top;
}

/* Renewals leave stale entries behind until their old deadline: a node
 * renewing in a loop would grow the heap for a whole lease.  Once stale
 * entries outnumber live ones the heap is built again from the table:
 * O(leases log leases), at most once per that many renewals. */
static void due_compact(struct home *h)
{
    size_t pos = 0;
    const char *k;
    void *v;
    if (h->ndue <= 2 * h->leases.n + 64)
        return;
    for (size_t i = 0; i < h->ndue; i++)
        free(h->due[i].key);
    h->ndue = 0;
    while (hash_next(&h->leases, &pos, &k, &v)) {
        const struct lease *l = v;
        due_push(h, l->deadline_ms, l->key);
    }
}

static char *lease_key(const char *channel, const char *node)
{
    struct strbuf sb = {0};
    strbuf_printf(&sb, "%s\n%s", channel, node);
    return sb.data;
}

static void lease_set(struct home *h, const char *channel, const char *node, int64_t deadline_ms)
{
    char *key = lease_key(channel, node);
    struct lease *l = hash_get(&h->leases, key);
    if (l == NULL) {
        size_t len = strlen(key);
        l = xmalloc(sizeof(*l) + len + 1);
        memcpy(l->key, key, len + 1);
        hash_put(&h->leases, l->key, l);
    }
    l->deadline_ms = deadline_ms;
    due_push(h, deadline_ms, l->key);
    due_compact(h);
    free(key);
}

static void lease_drop(struct home *h, const char *channel, const char *node)
{
    char *key = lease_key(channel, node);
    free(hash_del(&h->leases, key));
    free(key);
}

void homefed_forget_leases(struct home *h)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (hash_next(&h->leases, &pos, &k, &v))
        free(v);
    hash_clear(&h->leases);
    for (size_t i = 0; i < h->ndue; i++)
        free(h->due[i].key);
    free(h->due);
    h->due = NULL;
    h->ndue = h->capdue = 0;
    h->leases_loaded = false;
}

struct load_ctx {
    struct home *h;
    int64_t now_ms, wall_ms;
};

/* A stored end in wall-clock seconds becomes a monotonic deadline: the
 * one conversion, at the boundary. */
static void on_lease_row(void *ud, const char *channel, const char *node, const char *expires)
{
    struct load_ctx *lc = ud;
    int64_t end_s;
    char *key = lease_key(channel, node);
    bool known = hash_get(&lc->h->leases, key) != NULL;
    free(key);
    if (known)
        return; /* granted by this process: its deadline is exact */
    if (cs_parse_int(expires, INT64_MIN / MS_PER_S, INT64_MAX / MS_PER_S, &end_s) != 0)
        end_s = 0; /* hand-written nonsense: ended */
    lease_set(lc->h, channel, node, lc->now_ms + (end_s * MS_PER_S - lc->wall_ms));
}

static int leases_load(struct home *h, int64_t now_ms)
{
    struct load_ctx lc = {h, now_ms, cs_wall_of(h->clock, now_ms)};
    if (roster_leases_all(h->roster, on_lease_row, &lc) != 0)
        return CS_EDB;
    h->leases_loaded = true;
    return 0;
}

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
                      const struct jid *from, const char *node, int64_t now_ms)
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
        lease_drop(h, c->name, node);
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
        if (h->limits.node_burst > 0 && !rate_allow(&h->node_rate, "", now_ms)) {
            /* Dropped like any subscription over its limit: the node asks
             * again after request_timeout and on_error_retry_time. */
            h->stats.rate_limited++;
            log_info("home: new node subscriptions over node_subscription_burst; dropped %s on %s",
                     node, c->name);
            return true;
        }
        if (home_change(h, c->name, c, node, &row, SUB_IN_SUBSCRIBE) < 0 ||
            home_change(h, c->name, c, node, &row, SUB_OUT_SUBSCRIBED) < 0)
            return true;
        log_info("home: node %s subscribed to %s (lease %lld s)", node, c->name, (long long)secs);
    }
    if (roster_lease_put(h->roster, c->name, node,
                         cs_wall_of(h->clock, now_ms) / MS_PER_S + secs) != 0) {
        log_error("home: cannot store the lease of %s on %s", node, c->name);
        return true;
    }
    if (!h->leases_loaded)
        (void)leases_load(h, now_ms); /* the stored ones first: this one is exact */
    lease_set(h, c->name, node, now_ms + secs * MS_PER_S);
    send_subscribed(h, c, node, secs);
    if (!renewal) {
        watchers_set(c, node, false);
        homefed_refresh_node(h, c, node); /* status now, if it may have it */
    } else if (watchers_has(c, node)) {
        /* A renewal may come from a node that restarted or reconnected
         * and lost what it knew: the status goes with every answer, the
         * properties when it says it has none (it asks once). */
        const char *props = xml_attr(lease, "properties");
        home_send_status_to(h, c, node);
        if (h->pep && props && strcmp(props, "send") == 0)
            pep_send_current(h->pep, c, PEP_ALL_NODES, node);
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
    if (allowed && !was) {
        home_send_status_to(h, c, node);
        /* Its properties too: the node keeps them for its users. */
        if (h->pep)
            pep_send_current(h->pep, c, PEP_ALL_NODES, node);
    }
}

char *homefed_vouched(struct home *h, struct channel *c, const struct stanza_in *in)
{
    const char *type = in->type;
    const struct jid *from = &in->from;
    struct jid user;
    char *bare;
    int rc = jid_relay_parse(from->local, &user);
    if (rc != 0 || user.local == NULL) {
        log_warning("home: %s: a vouched address that names no user: %s@%s", c->name, from->local,
                    from->domain);
        if (type == NULL || strcmp(type, "error") != 0)
            home_reply_error(h, in, "modify", "jid-malformed");
        if (rc == 0)
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
            home_reply_error(h, in, "auth", "forbidden");
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

/* Once a second: leases whose monotonic deadline passed end their
 * node's subscription, at most SWEEP_PAGE a second.  A lease removed
 * behind our back (the channel removed, an edit) is only forgotten. */
void homefed_tick(struct home *h, int64_t now_ms)
{
    char *due[SWEEP_PAGE];
    int n = 0;

    if (!h->leases_loaded && leases_load(h, now_ms) != 0)
        return; /* logged by the store; tried again next tick */
    /* A lease is valid through its last ms. */
    while (n < SWEEP_PAGE && h->ndue > 0 && h->due[0].deadline_ms < now_ms) {
        struct lease_due d = due_pop(h);
        const struct lease *l = hash_get(&h->leases, d.key);
        if (l && l->deadline_ms == d.deadline_ms)
            due[n++] = d.key;
        else
            free(d.key); /* renewed or dropped since: stale */
    }
    for (int i = 0; i < n; i++) {
        char *nl = strchr(due[i], '\n');
        const char *node = nl + 1;
        struct channel *c;
        struct sub_row row;
        *nl = '\0';
        lease_drop(h, due[i], node);
        c = chancache_find(&h->cache, due[i]);
        log_info("home: lease of %s on %s ran out", node, due[i]);
        if (roster_lease_delete(h->roster, due[i], node) != 0)
            log_error("home: cannot delete the lease of %s on %s", node, due[i]);
        if (c && roster_get(h->roster, c->name, node, &row) == 0 &&
            home_change(h, c->name, c, node, &row, SUB_OUT_UNSUBSCRIBED) >= 0)
            home_send_presence(h, c->jid, node, "unsubscribed", NULL);
        free(due[i]);
    }
}
