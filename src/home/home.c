/* home.c - channel presence at the home: RFC 6121 subscriptions per
 * channel policy, owner presence, answers to relayed requests.
 *
 * Addresses seen here:
 *   name@DOMAIN                  a channel
 *   escaped\40contact@DOMAIN     a relay address (XEP-0106, jid_relay_parse):
 *                                under the approve policy, the owner is asked
 *                                by and answers to this address
 * See doc/internals-subscriptions.md for the flows and their tables. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_privilege.h"
#include "cs_stanza.h"
#include "cs_sub.h"
#include "cs_text.h"
#include "home_priv.h"

/* Federation timers are checked at most this often (O(remote channels)). */
#define FED_CHECK_INTERVAL_MS 1000

/* The cache's forget hook: c leaves the fan-out and binding queues, then
 * the cache (keeping the resync cursor, which walks cache.all, exact). */
static void forget_channel(void *ud, struct channel *c)
{
    struct home *h = ud;
    fanout_unqueue(h, c);
    bind_unqueue(h, c);
    if (h->pep)
        pep_forget(h->pep, c);
    chancache_remove(&h->cache, c, h->resync_active && !h->resync_after ? &h->resync_index : NULL);
}

/* An empty cache, wired to federation (which frees its own state) and to
 * the queues above it. */
static void cache_start(struct home *h)
{
    const struct chancache_hooks hooks = {
        .free_remote = remote_free, .forget = forget_channel, .ud = h};
    chancache_init(&h->cache, h->domain, h->roster);
    chancache_set_hooks(&h->cache, &hooks);
}

struct home *home_new(const char *domain, struct roster *roster, const struct home_limits *limits,
                      const struct out *out)
{
    struct home *h = xcalloc(1, sizeof(*h));
    h->domain = domain;
    h->roster = roster;
    h->limits = *limits;
    h->out = out;
    cache_start(h);
    rate_init(&h->rate, limits->sub_burst, limits->sub_per_minute);
    rate_init(&h->domain_rate, limits->dom_burst, limits->dom_per_minute);
    rate_init(&h->node_rate, limits->node_burst, limits->node_per_minute);
    h->fed = limits->fed;
    if (fed_load(h) != 0)
        log_error("home: loading the watchers of remote channels failed");
    return h;
}

void home_set_limits(struct home *h, const struct home_limits *limits)
{
    h->limits.sub_burst = limits->sub_burst;
    h->limits.sub_per_minute = limits->sub_per_minute;
    h->limits.dom_burst = limits->dom_burst;
    h->limits.dom_per_minute = limits->dom_per_minute;
    h->limits.node_burst = limits->node_burst;
    h->limits.node_per_minute = limits->node_per_minute;
    h->limits.max_pending = limits->max_pending;
    rate_set(&h->rate, limits->sub_burst, limits->sub_per_minute);
    rate_set(&h->domain_rate, limits->dom_burst, limits->dom_per_minute);
    rate_set(&h->node_rate, limits->node_burst, limits->node_per_minute);
}

void home_free(struct home **hp)
{
    struct home *h = *hp;
    if (h == NULL)
        return;
    fanout_forget_all(h);
    bind_forget_all(h);
    fed_forget_all(h);
    homefed_forget_leases(h);
    fed_free_disco(h);
    pep_free(&h->pep); /* before the cache: it names channels */
    mcast_free(&h->mcast);
    chancache_deinit(&h->cache);
    rate_deinit(&h->rate);
    rate_deinit(&h->domain_rate);
    rate_deinit(&h->node_rate);
    strbuf_free(&h->scratch);
    strbuf_free(&h->batch_sb);
    free(h->batch_jids);
    free(h);
    *hp = NULL;
}

void home_use_clock(struct home *h, const struct cs_clock *clock)
{
    h->clock = clock;
    if (h->pep)
        pep_use_clock(h->pep, clock);
}

void home_use_props(struct home *h, struct chanprops *props, struct propsub *subs,
                    const struct pep_limits *limits)
{
    const struct pep_deps deps = {h->domain, h->out, &h->cache, subs, h->iqwait, h->clock};
    pep_free(&h->pep);
    chancache_use_props(&h->cache, props);
    h->pep = pep_new(&deps, limits);
}

void home_use_multicast(struct home *h, const struct mcast_opts *opts)
{
    mcast_free(&h->mcast);
    h->mcast = mcast_new(opts, h->domain, h->out, h->iqwait);
}

const struct mcast_stats *home_multicast_stats(const struct home *h)
{
    static const struct mcast_stats none;
    return h->mcast ? mcast_stats(h->mcast) : &none;
}

struct pep *home_pep(struct home *h)
{
    return h->pep;
}

struct channel *home_find_channel(struct home *h, const char *name)
{
    return chancache_find(&h->cache, name);
}

/* One subscription stanza of sender (a bare JID), against its own
 * bucket, then its domain's: many senders of one domain (a server's
 * users, forged names of a hostile domain, a node's vouched users) share
 * one bucket, so they cannot add roster rows and commits without bound.
 * The sender's own bucket comes first: one flooder takes no more of its
 * domain's than its own allowance. */
static bool subscription_allowed(struct home *h, const char *sender, int64_t now_ms)
{
    const char *at = strchr(sender, '@');
    const char *domain = at ? at + 1 : sender;
    if (!rate_allow(&h->rate, sender, now_ms)) {
        log_info("home: subscription flood from %s; dropped", sender);
        return false;
    }
    if (h->limits.dom_burst > 0 && !rate_allow(&h->domain_rate, domain, now_ms)) {
        log_info("home: subscription flood from domain %s; dropped from %s", domain, sender);
        return false;
    }
    return true;
}

bool home_subscription_allowed(struct home *h, const char *sender, int64_t now_ms)
{
    if (subscription_allowed(h, sender, now_ms))
        return true;
    h->stats.rate_limited++;
    return false;
}

void home_reload(struct home *h, int64_t now_ms)
{
    fanout_forget_all(h);
    bind_forget_all(h);
    fed_forget_all(h);
    homefed_forget_leases(h);
    {
        struct chanprops *props = h->cache.props;
        if (h->pep) {
            /* Its channels go with the cache; capabilities stay known. */
            for (size_t i = 0; i < h->cache.n; i++)
                pep_forget(h->pep, h->cache.all[i]);
        }
        chancache_deinit(&h->cache);
        cache_start(h);
        chancache_use_props(&h->cache, props);
    }
    if (fed_load(h) != 0)
        log_error("home: reloading the watchers of remote channels failed");
    fed_online(h, now_ms);
    bind_start(h);
    home_resync(h);
}

const struct home_stats *home_stats(const struct home *h)
{
    return &h->stats;
}

void home_on_deliverable(struct home *h, home_deliverable_cb *cb, void *ud)
{
    h->deliverable = cb;
    h->deliverable_ud = ud;
}

/* ---- Output ---- */

/* Approve policy: ask the owner, from the contact's relay address. */
static void relay_request(struct home *h, struct channel *c, const char *contact)
{
    char *from = jid_relay_address(contact, h->domain);
    struct strbuf text = {0};
    struct xml_node *p = xml_elem_new("presence", NULL);
    strbuf_printf(&text, "%s asks to watch channel %s", contact, c->jid);
    xml_set_attr(p, "from", from);
    xml_set_attr(p, "to", c->owner);
    xml_set_attr(p, "type", "subscribe");
    xml_add_text(xml_add_child(p, "status", NULL), text.data);
    xml_add_text(xml_add_child(p, "nick", NS_NICK), contact);
    if (out_stanza(h->out, p) != 0)
        log_debug("home: request to %s not sent: link down (kept pending)", c->owner);
    xml_free(p);
    strbuf_free(&text);
    free(from);
}

/* A vouched contact no longer watching nor asking: the node's word is
 * spent. */
static void via_done(struct home *h, struct channel *c, const char *contact,
                     const struct sub_row *row)
{
    char *node;
    if (channel_via(c, contact) == NULL)
        return;
    node = xstrdup(channel_via(c, contact));
    if (!(sub_is_watcher(row->state) || row->state == SUB_NONE_IN || row->state == SUB_TO_IN ||
          row->state == SUB_NONE_OUT_IN)) {
        channel_set_via(c, contact, NULL);
        if (roster_via_delete(h->roster, c->name, contact) != 0)
            log_error("home: cannot forget the node of %s on %s", contact, c->name);
    }
    homefed_refresh_node(h, c, node); /* an approval or a revocation may change it */
    free(node);
}

/* The channel approves (subscribed) or refuses (unsubscribed) contact. */
void home_decide(struct home *h, struct channel *c, const char *contact, struct sub_row *row,
                 bool approve)
{
    int act = home_change(h, c->name, c, contact, row,
                          approve ? SUB_OUT_SUBSCRIBED : SUB_OUT_UNSUBSCRIBED);
    if (act < 0)
        return;
    if (act & SUB_ACT_SEND)
        home_tell(h, c, contact, approve ? "subscribed" : "unsubscribed");
    if (act & SUB_ACT_SEND_STATUS)
        home_tell_status(h, c, contact);
    if (act & SUB_ACT_SEND_UNAVAILABLE)
        home_tell(h, c, contact, "unavailable");
    via_done(h, c, contact, row);
}

/* May another pending request be kept?  O(1): the loaded channel keeps
 * the set of its pending contacts. */
static bool pending_room(struct home *h, struct channel *c)
{
    return c->pending.n < (size_t)h->limits.max_pending;
}

static void inbound_subscribe(struct home *h, struct channel *c, const char *contact)
{
    struct sub_row row;
    int act;
    bool owner_asks = c->owner && strcmp(contact, c->owner) == 0;

    if (roster_get(h->roster, c->name, contact, &row) == CS_EDB)
        return;
    if (!sub_is_watcher(row.state) && !row.approved && c->policy == POLICY_APPROVE && !owner_asks &&
        row.state != SUB_NONE_IN && row.state != SUB_TO_IN && row.state != SUB_NONE_OUT_IN &&
        c->owner != NULL && !pending_room(h, c)) {
        log_info("home: %s has %d pending requests; refusing %s", c->name, h->limits.max_pending,
                 contact);
        home_tell(h, c, contact, "unsubscribed");
        return;
    }
    act = home_change(h, c->name, c, contact, &row, SUB_IN_SUBSCRIBE);
    if (act < 0)
        return;
    h->stats.subscriptions++;
    if (act & (SUB_ACT_AUTO_SUBSCRIBED | SUB_ACT_PREAPPROVED))
        home_tell(h, c, contact, "subscribed");
    if (act & SUB_ACT_SEND_STATUS)
        home_tell_status(h, c, contact);
    if (!(act & SUB_ACT_DELIVER))
        return;
    /* A new request: the channel's policy decides.  The owner is always
     * let in to watch the own channel. */
    if (c->policy == POLICY_OPEN || owner_asks)
        home_decide(h, c, contact, &row, true);
    else if (c->policy == POLICY_CLOSED || c->owner == NULL)
        home_decide(h, c, contact, &row, false);
    else
        relay_request(h, c, contact); /* stays pending; survives restarts */
}

void home_owner_lost(struct home *h, struct channel *c, int64_t now_ms)
{
    if (status_set_clear(&c->status, cs_wall_of(h->clock, now_ms) / MS_PER_S))
        fanout_queue(h, c, now_ms);
}

static void inbound_answer(struct home *h, struct channel *c, const char *contact,
                           enum sub_event ev, int64_t now_ms)
{
    struct sub_row row;
    int act;
    bool is_owner = c->owner && strcmp(contact, c->owner) == 0;

    if (roster_get(h->roster, c->name, contact, &row) == CS_EDB)
        return;
    act = home_change(h, c->name, c, contact, &row, ev);
    if (act < 0)
        return;
    if (act & SUB_ACT_SEND_UNAVAILABLE)
        home_tell(h, c, contact, "unavailable");
    via_done(h, c, contact, &row);
    if (!is_owner)
        return;
    /* The owner approved: only now may we probe (a probe before approval
     * makes Prosody cancel the pending request).  The owner revoked: the
     * channel has no status source any more. */
    if (ev == SUB_IN_SUBSCRIBED && (act & SUB_ACT_DELIVER))
        home_send_presence(h, c->jid, c->owner, "probe", NULL);
    if (ev == SUB_IN_UNSUBSCRIBED && (act & SUB_ACT_DELIVER))
        home_owner_lost(h, c, now_ms);
}

static void inbound_probe(struct home *h, struct channel *c, const char *contact,
                          const char *from_full)
{
    if (watchers_has(c, contact))
        home_send_status_to(h, c, from_full); /* answer the probing JID itself */
    else
        home_send_presence(h, c->jid, contact, "unsubscribed", NULL); /* RFC 6121 4.3.2 */
}

static void owner_presence(struct home *h, struct channel *c, const struct xml_node *p,
                           const struct jid *from, int64_t now_ms)
{
    struct status_update u;
    if (from->resource == NULL) {
        /* From the bare JID: a server's answer meaning "no resource
         * available" (e.g. to a subscribe before approval). */
        if (xml_attr(p, "type"))
            home_owner_lost(h, c, now_ms);
        return;
    }
    if (status_update_parse(p, from->resource, &u) != 0) {
        log_info("home: ignoring invalid presence from owner %s of %s", c->owner, c->name);
        h->stats.bad_presence++;
        status_update_deinit(&u);
        return;
    }
    if (status_set_apply(&c->status, &u, cs_wall_of(h->clock, now_ms) / MS_PER_S))
        fanout_queue(h, c, now_ms);
    status_update_deinit(&u);
    if (u.available && h->deliverable && status_set_message_target(&c->status))
        h->deliverable(h->deliverable_ud, c->name);
}

/* ---- Presence by permission (XEP-0356) ---- */

/* An owner's channel names, collected from roster_channels_of_owner()
 * (its statement must be done before the channels are looked at). */
struct owned {
    char **names;
    size_t n, cap;
    bool approve_only; /* only channels under the approve policy */
};

static void on_owned(void *ud, const char *name, const char *owner, enum channel_policy policy)
{
    struct owned *o = ud;
    (void)owner;
    if (o->approve_only && policy != POLICY_APPROVE)
        return;
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 8;
        o->names = xrealloc(o->names, o->cap * sizeof(*o->names));
    }
    o->names[o->n++] = xstrdup(name);
}

/* A user's presence sent to the component's domain because their server
 * grants presence: for owners, the status of each of their channels.
 * One indexed query for anybody else.  false when no grant covers it. */
static bool privileged_presence(struct home *h, const struct xml_node *p, const struct jid *from,
                                const char *contact, int64_t now_ms)
{
    struct owned owned = {0};
    if (h->priv == NULL || !privileges_presence(h->priv, from->domain))
        return false;
    if (roster_channels_of_owner(h->roster, contact, INT_MAX, on_owned, &owned) != 0)
        log_error("home: looking up the channels of %s failed", contact);
    for (size_t i = 0; i < owned.n; i++) {
        struct channel *c = chancache_find(&h->cache, owned.names[i]);
        if (c && c->owner && strcmp(c->owner, contact) == 0)
            owner_presence(h, c, p, from, now_ms);
        free(owned.names[i]);
    }
    free(owned.names);
    return true;
}

void home_set_privileges(struct home *h, const struct privileges *priv)
{
    h->priv = priv;
}

void home_set_bind_delay(struct home *h, int64_t ms)
{
    h->limits.bind_delay_ms = ms;
}

bool home_serves(const struct home *h, const char *domain)
{
    return fed_serves(&h->fed, h->domain, domain);
}

void home_on_unsubscribed(struct home *h, home_unsubscribed_cb *cb, void *ud)
{
    h->unsubscribed = cb;
    h->unsubscribed_ud = ud;
}

void home_status_to_watcher(struct home *h, const char *name, const char *contact)
{
    /* A channel not loaded has had no owner presence since the start:
     * unavailable, which a client assumes anyway.  Nothing is loaded for
     * this (an initial sync would load every channel). */
    struct channel *c = chancache_loaded(&h->cache, name);
    if (c && c->status.n > 0 && watchers_has(c, contact))
        home_tell_status(h, c, contact);
}

void home_user_removed(struct home *h, const char *name, const char *contact, int64_t now_ms)
{
    struct channel *c = chancache_find(&h->cache, name);
    if (c)
        inbound_answer(h, c, contact, SUB_IN_UNSUBSCRIBE, now_ms);
}

/* ---- Answers of owners at relay addresses ---- */

/* Presence to a relay address: the owner answering a relayed request.
 * Costs one indexed query plus the owner's own approve-policy channels. */
static void relay_answer(struct home *h, const struct jid *contact_jid, const char *owner,
                         const char *type, const char *relay)
{
    bool sub = strcmp(type, "subscribed") == 0;
    bool unsub = strcmp(type, "unsubscribed") == 0;
    struct owned owned = {.approve_only = true};
    char *contact;

    if (strcmp(type, "subscribe") == 0) {
        /* Clients often subscribe back when approving: relay addresses
         * have no presence to share. */
        home_send_presence(h, relay, owner, "unsubscribed", NULL);
        return;
    }
    if (!sub && !unsub)
        return;
    if (roster_channels_of_owner(h->roster, owner, INT_MAX, on_owned, &owned) != 0) {
        log_error("home: looking up the channels of %s failed", owner);
        return;
    }
    contact = jid_bare(contact_jid);
    for (size_t i = 0; i < owned.n; i++) {
        struct channel *c = chancache_find(&h->cache, owned.names[i]);
        struct sub_row row;
        free(owned.names[i]);
        if (c == NULL || c->owner == NULL || strcmp(c->owner, owner) != 0 ||
            roster_get(h->roster, c->name, contact, &row) != 0)
            continue;
        /* Approve or deny a pending request.  An unsubscribed to a
         * current watcher's relay address changes nothing: after the
         * release below the relay contact holds no subscription at the
         * owner's server, which either drops the owner's unsubscribed
         * (Prosody) or sends one by itself in answer to the release
         * (ejabberd), so it says nothing about the owner's will.  The
         * owner revokes with the revoke command. */
        if (row.state == SUB_NONE_IN || row.state == SUB_NONE_OUT_IN || row.state == SUB_TO_IN)
            home_decide(h, c, contact, &row, sub);
    }
    free(owned.names);
    free(contact);
    if (sub && owned.n > 0)
        /* The owner's server now counts the relay address as subscribed
         * to the owner: it would send the owner's every presence change
         * there, and answer the contact's next request itself (RFC 6121
         * 3.1.3), so the owner would never be asked again.  The relay
         * address lets go of that subscription at once; the channel's own
         * subscription carries the owner's status. */
        home_send_presence(h, relay, owner, "unsubscribe", NULL);
}

struct relay_ctx {
    struct home *h;
    const char *contact;
    bool found;   /* a row of the contact in one of the owner's channels */
    bool pending; /* one of them a request the owner has yet to answer */
};

static void on_owned_row(void *ud, const char *name, const char *owner, enum channel_policy p)
{
    struct relay_ctx *rc = ud;
    struct sub_row row;
    if (rc->pending || roster_get(rc->h->roster, name, rc->contact, &row) != 0)
        return; /* known enough, or no row here */
    rc->found = true;
    rc->pending = rc->pending || row.state == SUB_NONE_IN || row.state == SUB_NONE_OUT_IN ||
                  row.state == SUB_TO_IN;
}

/* Is this presence an owner talking to one of its channels' contacts at
 * the contact's relay address (rather than a local user addressing a
 * remote channel)?  *pending_r: is one of the contact's requests to the
 * owner unanswered?  Indexed queries on the owner's channels. */
static bool owner_relay(struct home *h, const char *owner, const struct jid *relay, bool *pending_r)
{
    char *contact = jid_bare(relay);
    struct relay_ctx rc = {h, contact, false, false};
    if (roster_channels_of_owner(h->roster, owner, INT_MAX, on_owned_row, &rc) != 0)
        rc.found = false;
    free(contact);
    *pending_r = rc.found && rc.pending;
    return rc.found;
}

static bool is_subscription_type(const char *t)
{
    return strcmp(t, "subscribe") == 0 || strcmp(t, "subscribed") == 0 ||
           strcmp(t, "unsubscribe") == 0 || strcmp(t, "unsubscribed") == 0;
}

static void presence_error(struct home *h, const struct xml_node *p, const char *contact,
                           const struct jid *to, int64_t now_ms)
{
    /* RFC 6120 8.3.1: never answered.  From an owner it means binding
     * failed (their server refused or could not deliver): retry later. */
    struct channel *c;
    if (to->local == NULL)
        return;
    c = chancache_find(&h->cache, to->local);
    if (c && c->owner && strcmp(contact, c->owner) == 0) {
        log_info("home: presence error from owner %s of %s; binding retried in %lld s", contact,
                 c->name, (long long)(h->limits.retry_ms / MS_PER_S));
        bind_retry_later(h, c, now_ms);
    }
}

void home_presence(struct home *h, const struct stanza_in *in)
{
    const struct xml_node *p = in->xml;
    const char *type = in->type;
    const struct jid *from = &in->from, *to = &in->to, *relay = &in->relay;
    int64_t now_ms = in->now_ms;
    struct channel *c;
    char *contact;
    bool is_owner;
    int r = in->relay_rc;

    if (type && strcmp(type, "error") != 0 && !is_subscription_type(type) &&
        strcmp(type, "probe") != 0 && strcmp(type, "unavailable") != 0) {
        /* RFC 6120 8.3.3.1: an unknown type is a bad request. */
        h->stats.bad_presence++;
        home_reply_error(h, in, "modify", "bad-request");
        return;
    }
    if (!in->from_ok) {
        h->stats.bad_presence++;
        return; /* the server stamps from: nobody to answer */
    }
    if (!in->to_ok) {
        h->stats.bad_presence++;
        if (type == NULL || strcmp(type, "error") != 0)
            home_reply_error(h, in, "modify", "jid-malformed");
        return;
    }
    contact = xstrdup(in->sender);
    if (to->local == NULL && from->local && fed_from_home(h, p, from, now_ms))
        goto out; /* a remote channel we watch, talking to this node */
    if (type && strcmp(type, "error") == 0) {
        if (from->local == NULL && mcast_refused(h->mcast, in))
            goto out; /* a multicast batch: its watchers are sent singly */
        if (!fed_vouch_error(h, in))
            presence_error(h, p, contact, to, now_ms);
        goto out;
    }
    /* A node's lease requests are not a subscription flood: one per
     * remote channel it watches (doc/federation.md).  Nor is an owner
     * answering requests at relay addresses: each answer acts only on a
     * pending request, of which a channel has at most max_pending. */
    if (type && is_subscription_type(type) &&
        !(r == 0 && (strcmp(type, "subscribed") == 0 || strcmp(type, "unsubscribed") == 0)) &&
        !(from->local == NULL && xml_child(p, "lease", NS_FEDERATION)) &&
        !(xml_child(p, "vouch", NS_FEDERATION) && fed_watching(h, from)) &&
        !subscription_allowed(h, contact, now_ms)) {
        h->stats.rate_limited++;
        goto out;
    }
    if (to->local == NULL) {
        if ((type == NULL || strcmp(type, "unavailable") == 0) && from->local &&
            privileged_presence(h, p, from, contact, now_ms))
            goto out;
        if (type == NULL && from->local == NULL && h->fed.front &&
            strcmp(from->domain, h->fed.front) == 0) {
            /* Our cluster's front is (back) online: what owners said
             * while it was away never came, so they are asked again. */
            log_info("home: front %s is online; asking owners again", from->domain);
            bind_start(h);
            goto out;
        }
        /* The bare component domain has no presence to share. */
        if (type && (strcmp(type, "subscribe") == 0 || strcmp(type, "probe") == 0))
            home_send_presence(h, h->domain, contact, "unsubscribed", NULL);
        goto out;
    }
    if (r == 0 && xml_child(p, "vouch", NS_FEDERATION) &&
        fed_vouched_answer(h, p, from, relay, now_ms))
        goto out;
    if (r == 0) {
        bool pending;
        bool ours = owner_relay(h, contact, relay, &pending);
        char *relay_addr;
        if (!ours && fed_presence(h, p, from, to, relay, now_ms)) {
            struct channel *rc;
            /* A local watcher's resource and a remote channel: its
             * capabilities, as for a local channel. */
            if (h->pep && (type == NULL || strcmp(type, "unavailable") == 0) &&
                (rc = fed_remote_at(h, relay)) != NULL)
                pep_presence(h->pep, rc, in);
            goto out;
        }
        relay_addr = jid_bare(to);
        if (type)
            relay_answer(h, relay, contact, type, relay_addr);
        else if (ours && !pending)
            /* The owner's server still counts the relay address as
             * subscribed to the owner (approved before chanstat let go of
             * it): let go now, once, and its broadcasts stop.  Not while
             * a request of the contact waits for the owner: the owner's
             * client may send presence there, and an unsubscribe would
             * withdraw the request at the owner's server. */
            home_send_presence(h, relay_addr, contact, "unsubscribe", NULL);
        free(relay_addr);
        goto out;
    }
    if (r == CS_EINVAL) {
        /* An escaped '@' that names no bare JID: no channel, no contact. */
        h->stats.bad_presence++;
        if (type && (strcmp(type, "subscribe") == 0 || strcmp(type, "probe") == 0))
            home_reply_error(h, in, "modify", "jid-malformed");
        goto out;
    }
    c = chancache_find(&h->cache, to->local);
    if (c == NULL) {
        /* RFC 6121 8.5.1: no such channel. */
        if (type && (strcmp(type, "subscribe") == 0 || strcmp(type, "probe") == 0)) {
            char *to_bare = jid_bare(to);
            home_send_presence(h, to_bare, contact, "unsubscribed", NULL);
            free(to_bare);
        }
        goto out;
    }
    if (from->local == NULL && homefed_presence(h, c, p, from, contact, now_ms))
        goto out; /* a chanstat node subscribing with a lease */
    if (from->local && xml_child(p, "vouch", NS_FEDERATION)) {
        /* A node speaking for one of its users (doc/federation.md). */
        char *vouched = homefed_vouched(h, c, in);
        if (vouched == NULL)
            goto out;
        free(contact);
        contact = vouched;
        if (type == NULL || strcmp(type, "unavailable") == 0 || strcmp(type, "probe") == 0)
            goto out; /* the node has the status; nothing else to say */
    }
    is_owner = c->owner && strcmp(contact, c->owner) == 0;
    if (type == NULL || strcmp(type, "unavailable") == 0) {
        if (is_owner)
            owner_presence(h, c, p, from, now_ms);
        else if (h->pep)
            /* A watcher's resource: its capabilities say which property
             * events it wants (XEP-0163 section 4). */
            pep_presence(h->pep, c, in);
        goto out;
    }
    if (strcmp(type, "probe") == 0) {
        char *full = jid_full(from);
        inbound_probe(h, c, contact, full);
        free(full);
    } else if (strcmp(type, "subscribe") == 0) {
        inbound_subscribe(h, c, contact);
    } else if (strcmp(type, "unsubscribe") == 0) {
        inbound_answer(h, c, contact, SUB_IN_UNSUBSCRIBE, now_ms);
        if (h->unsubscribed)
            h->unsubscribed(h->unsubscribed_ud, c->name, contact);
    } else if (strcmp(type, "subscribed") == 0) {
        inbound_answer(h, c, contact, SUB_IN_SUBSCRIBED, now_ms);
    } else {
        inbound_answer(h, c, contact, SUB_IN_UNSUBSCRIBED, now_ms);
    }
out:
    free(contact);
}

/* ---- Link events and producers ---- */

void home_online(struct home *h, int64_t now_ms)
{
    h->online_epoch++;
    if (h->limits.bind_delay_ms > 0)
        h->bind_at = now_ms + h->limits.bind_delay_ms; /* home_tick starts it */
    else
        bind_start(h);
    fed_online(h, now_ms);
    if (h->mcast)
        mcast_online(h->mcast, now_ms);
}

void home_offline(struct home *h, int64_t now_ms)
{
    fed_offline(h, now_ms);
    if (h->pep)
        pep_offline(h->pep);
    if (h->mcast)
        mcast_offline(h->mcast);
    fanout_stop(h);
    bind_stop(h);
    h->bind_at = 0;
    for (size_t i = 0; i < h->cache.n; i++) {
        if (status_set_clear(&h->cache.all[i]->status, cs_wall_of(h->clock, now_ms) / MS_PER_S))
            chancache_resources_dirty(&h->cache, h->cache.all[i]);
    }
}

bool home_pump(struct home *h, int64_t now_ms)
{
    bool more;
    /* Status to watchers first: it is what users see. */
    more = fanout_pump(h, now_ms);
    if (h->pep && (!more || out_room(h->out) > 0))
        more = pep_pump(h->pep, now_ms) || more;
    if (!more || out_room(h->out) > 0)
        more = bind_pump(h, now_ms) || more;
    return more || h->fan_head || h->resync_active || h->bind_active;
}

void home_tick(struct home *h, int64_t now_ms)
{
    if (h->bind_at && now_ms >= h->bind_at) {
        h->bind_at = 0;
        bind_start(h);
    }
    bind_tick(h, now_ms);
    if (now_ms >= h->fed_next_check) {
        /* Once a second: remote channels' timers, leases that ran out. */
        h->fed_next_check = now_ms + FED_CHECK_INTERVAL_MS;
        fed_tick(h, now_ms);
        homefed_tick(h, now_ms);
        if (h->mcast)
            mcast_tick(h->mcast, now_ms);
        if (h->pep)
            pep_tick(h->pep, now_ms);
    }
}

/* ---- Message routing support ---- */

int home_message_target(struct home *h, const char *name, const char **owner_r,
                        const char **resource_r, const char **jid_r)
{
    struct channel *c = chancache_find(&h->cache, name);
    if (c == NULL)
        return CS_ENOTFOUND;
    *owner_r = c->owner;
    *resource_r = c->owner ? status_set_message_target(&c->status) : NULL;
    *jid_r = c->jid;
    return 0;
}
