/* home.c - channel presence at the home: RFC 6121 subscriptions per
 * channel policy, owner binding, status aggregation and fan-out.
 *
 * Addresses seen here:
 *   name@DOMAIN                  a channel
 *   escaped\40contact@DOMAIN     a relay address (XEP-0106): under the
 *                                approve policy, the owner is asked by
 *                                and answers to this address
 * See doc/internals-subscriptions.md for the flows and their tables. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_home.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_roster.h"
#include "cs_stanza.h"
#include "cs_status.h"
#include "cs_sub.h"
#include "cs_util.h"

#define NS_LAST "jabber:iq:last"
#define NS_NICK "http://jabber.org/protocol/nick"
#define CHANNEL_BUCKETS 1024
#define RATE_BUCKETS 1024
#define RATE_MAX_SENDERS 10000

struct channel {
    char *name;
    char *jid;   /* name@DOMAIN */
    char *owner; /* normalised bare JID, or NULL */
    enum channel_policy policy;
    struct status_set status;
    char **watchers; /* bare JIDs in From/Both (+ Pending Out) */
    unsigned nwatchers, capwatchers;
    struct channel *next; /* hash chain */
};

struct rate {
    char *sender;
    double tokens;
    int64_t last; /* ms */
    struct rate *next;
};

/* Which channel a contact last wrote to, per owner: replies come from it. */
struct conv {
    char *key; /* owner '\n' contact */
    char *channel;
    struct conv *next;
};
#define CONV_BUCKETS 1024
#define CONV_MAX 100000

struct home {
    const char *domain;
    struct roster *roster;
    struct home_limits limits;
    struct home_sink sink;
    struct channel *buckets[CHANNEL_BUCKETS];
    struct rate *rates[RATE_BUCKETS];
    unsigned nrates;
    struct strbuf scratch; /* fan-out buffer */
    struct home_stats stats;
    struct conv *convs[CONV_BUCKETS];
    unsigned nconvs;
    home_deliverable_cb *deliverable;
    void *deliverable_ud;
};

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* ---- Channels in memory ---- */

static struct channel *find_loaded(struct home *h, const char *name)
{
    for (struct channel *c = h->buckets[hash(name) % CHANNEL_BUCKETS]; c; c = c->next) {
        if (strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}

static int watcher_index(const struct channel *c, const char *jid)
{
    for (unsigned i = 0; i < c->nwatchers; i++) {
        if (strcmp(c->watchers[i], jid) == 0)
            return (int)i;
    }
    return -1;
}

static void watcher_set(struct channel *c, const char *jid, bool on)
{
    int i = watcher_index(c, jid);
    if (on && i < 0) {
        if (c->nwatchers == c->capwatchers) {
            c->capwatchers = c->capwatchers ? c->capwatchers * 2 : 8;
            c->watchers = xrealloc(c->watchers, c->capwatchers * sizeof(*c->watchers));
        }
        c->watchers[c->nwatchers++] = xstrdup(jid);
    } else if (!on && i >= 0) {
        free(c->watchers[i]);
        c->watchers[i] = c->watchers[--c->nwatchers];
    }
}

static void channel_free(struct channel *c)
{
    for (unsigned i = 0; i < c->nwatchers; i++)
        free(c->watchers[i]);
    free(c->watchers);
    status_set_deinit(&c->status);
    free(c->name);
    free(c->jid);
    free(c->owner);
    free(c);
}

static void on_item(void *ud, const char *jid, const struct sub_row *row)
{
    if (sub_is_watcher(row->state))
        watcher_set(ud, jid, true);
}

static void on_channel(void *ud, const char *name, const char *owner, enum channel_policy policy)
{
    struct home *h = ud;
    struct channel *c;
    struct jid oj;
    uint32_t b;

    if (find_loaded(h, name))
        return;
    c = xcalloc(1, sizeof(*c));
    c->name = xstrdup(name);
    c->jid = xmalloc(strlen(name) + strlen(h->domain) + 2);
    sprintf(c->jid, "%s@%s", name, h->domain);
    c->policy = policy;
    if (owner && jid_parse(owner, &oj) == 0) {
        c->owner = jid_bare(&oj);
        jid_deinit(&oj);
    } else if (owner) {
        log_warning("home: channel %s: owner '%s' is not a valid JID; ignored", name, owner);
    }
    b = hash(name) % CHANNEL_BUCKETS;
    c->next = h->buckets[b];
    h->buckets[b] = c;
}

/* A channel from memory, else from the database (rows added while we
 * run are picked up on first use).  NULL when there is none. */
static struct channel *find_channel(struct home *h, const char *name)
{
    struct channel *c = find_loaded(h, name);
    if (c)
        return c;
    /* One indexed lookup for a name we do not know (yet). */
    if (roster_find_channel(h->roster, name, on_channel, h) != 0)
        return NULL;
    c = find_loaded(h, name);
    if (c && roster_each_item(h->roster, c->name, on_item, c) != 0)
        log_error("home: loading the roster of %s failed", c->name);
    return c;
}

struct home *home_new(const char *domain, struct roster *roster, const struct home_limits *limits,
                      const struct home_sink *sink)
{
    struct home *h = xcalloc(1, sizeof(*h));
    h->domain = domain;
    h->roster = roster;
    h->limits = *limits;
    h->sink = *sink;
    return h;
}

void home_free(struct home **hp)
{
    struct home *h = *hp;
    if (h == NULL)
        return;
    for (int i = 0; i < CHANNEL_BUCKETS; i++) {
        while (h->buckets[i]) {
            struct channel *c = h->buckets[i];
            h->buckets[i] = c->next;
            channel_free(c);
        }
    }
    for (int i = 0; i < RATE_BUCKETS; i++) {
        while (h->rates[i]) {
            struct rate *r = h->rates[i];
            h->rates[i] = r->next;
            free(r->sender);
            free(r);
        }
    }
    for (int i = 0; i < CONV_BUCKETS; i++) {
        while (h->convs[i]) {
            struct conv *v = h->convs[i];
            h->convs[i] = v->next;
            free(v->key);
            free(v->channel);
            free(v);
        }
    }
    strbuf_free(&h->scratch);
    free(h);
    *hp = NULL;
}

int home_load(struct home *h)
{
    if (roster_each_channel(h->roster, on_channel, h) != 0)
        return CS_EDB;
    for (int i = 0; i < CHANNEL_BUCKETS; i++) {
        for (struct channel *c = h->buckets[i]; c; c = c->next) {
            if (roster_each_item(h->roster, c->name, on_item, c) != 0)
                return CS_EDB;
        }
    }
    return 0;
}

bool home_has_channel(struct home *h, const char *name)
{
    return find_channel(h, name) != NULL;
}

const struct home_stats *home_stats(const struct home *h)
{
    return &h->stats;
}

/* ---- Output ---- */

static void send_presence(struct home *h, const char *from, const char *to, const char *type,
                          const char *status_text)
{
    struct xml_node *p = xml_elem_new("presence", NULL);
    xml_set_attr(p, "from", from);
    xml_set_attr(p, "to", to);
    if (type)
        xml_set_attr(p, "type", type);
    if (status_text)
        xml_add_text(xml_add_child(p, "status", NULL), status_text);
    h->sink.send(h->sink.ud, p);
    xml_free(p);
}

static void send_status_to(struct home *h, struct channel *c, const char *to)
{
    struct status_view v;
    struct xml_node *p;
    status_set_view(&c->status, &v);
    p = status_presence(&v, c->jid);
    xml_set_attr(p, "to", to);
    h->sink.send(h->sink.ud, p);
    xml_free(p);
}

/* The fan-out: the presence is serialised once; each watcher costs one
 * copy of it with its own 'to'.  Bare JIDs that passed jid_parse() hold
 * no character that needs escaping in an attribute. */
static void broadcast(struct home *h, struct channel *c)
{
    struct status_view v;
    struct xml_node *p;
    struct strbuf body = {0};
    const char *rest;

    if (c->nwatchers == 0)
        return;
    status_set_view(&c->status, &v);
    p = status_presence(&v, c->jid);
    xml_serialize(p, XML_NS_COMPONENT, &body);
    xml_free(p);
    rest = body.data + strlen("<presence");
    for (unsigned i = 0; i < c->nwatchers; i++) {
        h->scratch.len = 0;
        strbuf_append(&h->scratch, "<presence to='", 14);
        strbuf_append_str(&h->scratch, c->watchers[i]);
        strbuf_append(&h->scratch, "'", 1);
        strbuf_append_str(&h->scratch, rest);
        h->sink.send_raw(h->sink.ud, h->scratch.data, h->scratch.len);
    }
    h->stats.deliveries += c->nwatchers;
    strbuf_free(&body);
}

void home_resync(struct home *h)
{
    for (int i = 0; i < CHANNEL_BUCKETS; i++) {
        for (struct channel *c = h->buckets[i]; c; c = c->next)
            broadcast(h, c);
    }
}

/* ---- Rate limit of subscription stanzas per sender (token bucket) ---- */

static bool rate_allow(struct home *h, const char *sender, int64_t now_ms)
{
    uint32_t b = hash(sender) % RATE_BUCKETS;
    double per_ms = h->limits.sub_per_minute / 60000.0;
    struct rate *r;

    for (r = h->rates[b]; r; r = r->next) {
        if (strcmp(r->sender, sender) == 0)
            break;
    }
    if (r == NULL) {
        if (h->nrates >= RATE_MAX_SENDERS) {
            /* Bounded memory: forget senders whose bucket refilled. */
            for (int i = 0; i < RATE_BUCKETS; i++) {
                for (struct rate **pp = &h->rates[i]; *pp;) {
                    struct rate *x = *pp;
                    if (x->tokens + (double)(now_ms - x->last) * per_ms >= h->limits.sub_burst) {
                        *pp = x->next;
                        free(x->sender);
                        free(x);
                        h->nrates--;
                    } else {
                        pp = &x->next;
                    }
                }
            }
            if (h->nrates >= RATE_MAX_SENDERS)
                return false; /* a flood from many senders: refuse newcomers */
        }
        r = xcalloc(1, sizeof(*r));
        r->sender = xstrdup(sender);
        r->tokens = h->limits.sub_burst;
        r->last = now_ms;
        r->next = h->rates[b];
        h->rates[b] = r;
        h->nrates++;
    }
    r->tokens += (double)(now_ms - r->last) * per_ms;
    if (r->tokens > h->limits.sub_burst)
        r->tokens = h->limits.sub_burst;
    r->last = now_ms;
    if (r->tokens < 1.0)
        return false;
    r->tokens -= 1.0;
    return true;
}

/* ---- Subscription state changes ---- */

/* Applies ev to (channel, contact), stores the row, keeps the watcher
 * list in step.  Returns the actions, or -1 when storing failed. */
static int change(struct home *h, struct channel *c, const char *contact, struct sub_row *row,
                  enum sub_event ev)
{
    unsigned act = sub_apply(row, ev);
    if (roster_tx_begin(h->roster) != 0 || roster_put(h->roster, c->name, contact, row) != 0) {
        log_error("home: cannot store %s for %s/%s", sub_event_name(ev), c->name, contact);
        return -1;
    }
    watcher_set(c, contact, sub_is_watcher(row->state));
    log_debug("home: %s/%s: %s -> %s", c->name, contact, sub_event_name(ev),
              sub_state_name(row->state));
    return (int)act;
}

/* Approve policy: ask the owner, from the contact's relay address. */
static void relay_request(struct home *h, struct channel *c, const char *contact)
{
    char *from = jid_relay_address(contact, h->domain);
    char text[512];
    struct xml_node *p = xml_elem_new("presence", NULL);
    snprintf(text, sizeof(text), "%s asks to watch channel %s", contact, c->jid);
    xml_set_attr(p, "from", from);
    xml_set_attr(p, "to", c->owner);
    xml_set_attr(p, "type", "subscribe");
    xml_add_text(xml_add_child(p, "status", NULL), text);
    xml_add_text(xml_add_child(p, "nick", NS_NICK), contact);
    h->sink.send(h->sink.ud, p);
    xml_free(p);
    free(from);
}

/* The channel approves (subscribed) or refuses (unsubscribed) contact. */
static void decide(struct home *h, struct channel *c, const char *contact, struct sub_row *row,
                   bool approve)
{
    int act = change(h, c, contact, row, approve ? SUB_OUT_SUBSCRIBED : SUB_OUT_UNSUBSCRIBED);
    if (act < 0)
        return;
    if (act & SUB_ACT_SEND)
        send_presence(h, c->jid, contact, approve ? "subscribed" : "unsubscribed", NULL);
    if (act & SUB_ACT_SEND_STATUS)
        send_status_to(h, c, contact);
    if (act & SUB_ACT_SEND_UNAVAILABLE)
        send_presence(h, c->jid, contact, "unavailable", NULL);
}

static void inbound_subscribe(struct home *h, struct channel *c, const char *contact)
{
    struct sub_row row;
    int act;
    bool owner_asks = c->owner && strcmp(contact, c->owner) == 0;

    if (roster_get(h->roster, c->name, contact, &row) == CS_EDB)
        return;
    if (!sub_is_watcher(row.state) && !row.approved && c->policy == POLICY_APPROVE &&
        !owner_asks && row.state != SUB_NONE_IN && row.state != SUB_TO_IN &&
        row.state != SUB_NONE_OUT_IN && roster_count_pending_in(h->roster, c->name) >= h->limits.max_pending) {
        log_info("home: %s has %d pending requests; refusing %s", c->name, h->limits.max_pending,
                 contact);
        send_presence(h, c->jid, contact, "unsubscribed", NULL);
        return;
    }
    act = change(h, c, contact, &row, SUB_IN_SUBSCRIBE);
    if (act < 0)
        return;
    if (act & (SUB_ACT_AUTO_SUBSCRIBED | SUB_ACT_PREAPPROVED))
        send_presence(h, c->jid, contact, "subscribed", NULL);
    if (act & SUB_ACT_SEND_STATUS)
        send_status_to(h, c, contact);
    if (!(act & SUB_ACT_DELIVER))
        return;
    /* A new request: the channel's policy decides.  The owner is always
     * let in to watch the own channel. */
    if (c->policy == POLICY_OPEN || owner_asks)
        decide(h, c, contact, &row, true);
    else if (c->policy == POLICY_CLOSED || c->owner == NULL)
        decide(h, c, contact, &row, false);
    else
        relay_request(h, c, contact); /* stays pending; survives restarts */
}

static void probe_owner(struct home *h, struct channel *c)
{
    send_presence(h, c->jid, c->owner, "probe", NULL);
}

static void owner_lost(struct home *h, struct channel *c, int64_t now)
{
    if (status_set_clear(&c->status, now))
        broadcast(h, c);
}

static void inbound_answer(struct home *h, struct channel *c, const char *contact,
                           enum sub_event ev, int64_t now)
{
    struct sub_row row;
    int act;
    bool is_owner = c->owner && strcmp(contact, c->owner) == 0;

    if (roster_get(h->roster, c->name, contact, &row) == CS_EDB)
        return;
    act = change(h, c, contact, &row, ev);
    if (act < 0)
        return;
    if (act & SUB_ACT_SEND_UNAVAILABLE)
        send_presence(h, c->jid, contact, "unavailable", NULL);
    if (!is_owner)
        return;
    /* The owner approved: only now may we probe (a probe before approval
     * makes Prosody cancel the pending request).  The owner revoked: the
     * channel has no status source any more. */
    if (ev == SUB_IN_SUBSCRIBED && (act & SUB_ACT_DELIVER))
        probe_owner(h, c);
    if (ev == SUB_IN_UNSUBSCRIBED && (act & SUB_ACT_DELIVER))
        owner_lost(h, c, now);
}

static void inbound_probe(struct home *h, struct channel *c, const char *contact,
                          const char *from_full)
{
    struct sub_row row;
    if (roster_get(h->roster, c->name, contact, &row) == CS_EDB)
        return;
    if (sub_is_watcher(row.state))
        send_status_to(h, c, from_full); /* answer the probing JID itself */
    else
        send_presence(h, c->jid, contact, "unsubscribed", NULL); /* RFC 6121 4.3.2 */
}

static void owner_presence(struct home *h, struct channel *c, const struct xml_node *p,
                           const struct jid *from, int64_t now)
{
    struct status_update u;
    if (from->resource == NULL) {
        /* From the bare JID: a server's answer meaning "no resource
         * available" (e.g. to a subscribe before approval). */
        if (xml_attr(p, "type"))
            owner_lost(h, c, now);
        return;
    }
    if (status_update_parse(p, from->resource, &u) != 0) {
        log_info("home: ignoring invalid presence from owner %s of %s", c->owner, c->name);
        h->stats.bad_presence++;
        status_update_deinit(&u);
        return;
    }
    if (status_set_apply(&c->status, &u, now))
        broadcast(h, c);
    status_update_deinit(&u);
    if (u.available && h->deliverable && status_set_message_target(&c->status))
        h->deliverable(h->deliverable_ud, c->name);
}

/* Presence to a relay address: the owner answering a relayed request. */
static void relay_answer(struct home *h, const char *contact_escaped, const char *owner,
                         const char *type, const char *relay)
{
    char *contact = jid_unescape_local(contact_escaped);
    struct jid cj;
    bool sub = strcmp(type, "subscribed") == 0;
    bool unsub = strcmp(type, "unsubscribed") == 0;

    if (jid_parse(contact, &cj) != 0 || cj.resource != NULL) {
        free(contact);
        return;
    }
    if (strcmp(type, "subscribe") == 0) {
        /* Clients often subscribe back when approving: relay addresses
         * have no presence to share. */
        send_presence(h, relay, owner, "unsubscribed", NULL);
    } else if (sub || unsub) {
        char *bare = jid_bare(&cj);
        for (int i = 0; i < CHANNEL_BUCKETS; i++) {
            for (struct channel *c = h->buckets[i]; c; c = c->next) {
                struct sub_row row;
                if (c->owner == NULL || strcmp(c->owner, owner) != 0 ||
                    c->policy != POLICY_APPROVE)
                    continue;
                if (roster_get(h->roster, c->name, bare, &row) != 0)
                    continue;
                /* Approve or deny a pending request; an unsubscribed to a
                 * current watcher's relay address revokes it (the owner
                 * removing the contact). */
                if (row.state == SUB_NONE_IN || row.state == SUB_NONE_OUT_IN ||
                    row.state == SUB_TO_IN || (unsub && sub_is_watcher(row.state)))
                    decide(h, c, bare, &row, sub);
            }
        }
        free(bare);
    }
    jid_deinit(&cj);
    free(contact);
}

static void reply_error(struct home *h, const struct xml_node *st, const char *type,
                        const char *cond)
{
    struct xml_node *e = stanza_error_reply(st, type, cond, NULL);
    h->sink.send(h->sink.ud, e);
    xml_free(e);
}

static bool is_subscription_type(const char *t)
{
    return strcmp(t, "subscribe") == 0 || strcmp(t, "subscribed") == 0 ||
           strcmp(t, "unsubscribe") == 0 || strcmp(t, "unsubscribed") == 0;
}

void home_presence(struct home *h, const struct xml_node *p, int64_t now)
{
    const char *type = xml_attr(p, "type");
    struct jid from, to;
    struct channel *c;
    char *contact;
    bool is_owner;

    if (type && strcmp(type, "error") == 0)
        return; /* RFC 6120 8.3.1; the sender has nothing to learn from us */
    if (type && !is_subscription_type(type) && strcmp(type, "probe") != 0 &&
        strcmp(type, "unavailable") != 0) {
        /* RFC 6120 8.3.3.1: an unknown type is a bad request. */
        h->stats.bad_presence++;
        reply_error(h, p, "modify", "bad-request");
        return;
    }
    if (jid_parse(xml_attr(p, "from"), &from) != 0) {
        h->stats.bad_presence++;
        return; /* the server stamps from: nobody to answer */
    }
    if (jid_parse(xml_attr(p, "to"), &to) != 0) {
        h->stats.bad_presence++;
        reply_error(h, p, "modify", "jid-malformed");
        jid_deinit(&from);
        return;
    }
    contact = jid_bare(&from);
    if (type && is_subscription_type(type) && !rate_allow(h, contact, cs_now_ms())) {
        h->stats.rate_limited++;
        log_info("home: subscription flood from %s; dropping %s", contact, type);
        goto out;
    }
    if (to.local == NULL) {
        /* The bare component domain has no presence to share. */
        if (type && (strcmp(type, "subscribe") == 0 || strcmp(type, "probe") == 0))
            send_presence(h, h->domain, contact, "unsubscribed", NULL);
        goto out;
    }
    if (strchr(to.local, '\\')) {
        char *un = jid_unescape_local(to.local);
        bool relay = strchr(un, '@') != NULL;
        free(un);
        if (relay) {
            char *relay_addr = jid_bare(&to);
            if (type)
                relay_answer(h, to.local, contact, type, relay_addr);
            free(relay_addr);
            goto out;
        }
    }
    c = find_channel(h, to.local);
    if (c == NULL) {
        /* RFC 6121 8.5.1: no such channel. */
        if (type && (strcmp(type, "subscribe") == 0 || strcmp(type, "probe") == 0)) {
            char *to_bare = jid_bare(&to);
            send_presence(h, to_bare, contact, "unsubscribed", NULL);
            free(to_bare);
        }
        goto out;
    }
    is_owner = c->owner && strcmp(contact, c->owner) == 0;
    if (type == NULL || strcmp(type, "unavailable") == 0) {
        if (is_owner)
            owner_presence(h, c, p, &from, now);
        goto out; /* presence from others to a channel means nothing */
    }
    if (strcmp(type, "probe") == 0) {
        char *full = jid_full(&from);
        inbound_probe(h, c, contact, full);
        free(full);
    } else if (strcmp(type, "subscribe") == 0) {
        inbound_subscribe(h, c, contact);
    } else if (strcmp(type, "unsubscribe") == 0) {
        inbound_answer(h, c, contact, SUB_IN_UNSUBSCRIBE, now);
    } else if (strcmp(type, "subscribed") == 0) {
        inbound_answer(h, c, contact, SUB_IN_SUBSCRIBED, now);
    } else {
        inbound_answer(h, c, contact, SUB_IN_UNSUBSCRIBED, now);
    }
out:
    free(contact);
    jid_deinit(&from);
    jid_deinit(&to);
}

/* ---- Link events ---- */

void home_online(struct home *h, int64_t now)
{
    for (int i = 0; i < CHANNEL_BUCKETS; i++) {
        for (struct channel *c = h->buckets[i]; c; c = c->next) {
            struct sub_row row;
            int act;
            if (c->owner == NULL)
                continue;
            if (roster_get(h->roster, c->name, c->owner, &row) == CS_EDB)
                continue;
            if (sub_has_to(row.state)) {
                probe_owner(h, c);
                continue;
            }
            /* Not approved yet: (re)send the request; the owner's server
             * keeps it for the next login. */
            act = change(h, c, c->owner, &row, SUB_OUT_SUBSCRIBE);
            if (act > 0 && (act & SUB_ACT_SEND))
                send_presence(h, c->jid, c->owner, "subscribe", NULL);
        }
    }
}

void home_offline(struct home *h, int64_t now)
{
    for (int i = 0; i < CHANNEL_BUCKETS; i++) {
        for (struct channel *c = h->buckets[i]; c; c = c->next)
            status_set_clear(&c->status, now);
    }
}

/* ---- Queries on a channel ---- */

bool home_iq(struct home *h, const struct xml_node *iq, int64_t now)
{
    struct jid from, to;
    struct channel *c;
    const struct xml_node *q = xml_first_elem(iq);
    const char *ns = xml_ns(q);
    bool handled = false;

    if (q == NULL || ns == NULL || strcmp(xml_attr(iq, "type"), "get") != 0)
        return false;
    if (jid_parse(xml_attr(iq, "from"), &from) != 0)
        return false;
    if (jid_parse(xml_attr(iq, "to"), &to) != 0 || to.local == NULL) {
        jid_deinit(&from);
        return false;
    }
    c = find_channel(h, to.local);
    if (c == NULL) {
        jid_deinit(&from);
        jid_deinit(&to);
        return false;
    }
    if (strcmp(q->name, "query") == 0 && strcmp(ns, NS_DISCO_INFO) == 0 &&
        xml_attr(q, "node") == NULL) {
        struct xml_node *r = stanza_iq_result(iq);
        struct xml_node *rq = xml_add_child(r, "query", NS_DISCO_INFO);
        struct xml_node *id = xml_add_child(rq, "identity", NULL);
        xml_set_attr(id, "category", "account");
        xml_set_attr(id, "type", "registered");
        xml_set_attr(id, "name", c->name);
        xml_set_attr(xml_add_child(rq, "feature", NULL), "var", NS_DISCO_INFO);
        xml_set_attr(xml_add_child(rq, "feature", NULL), "var", NS_LAST);
        h->sink.send(h->sink.ud, r);
        xml_free(r);
        handled = true;
    } else if (strcmp(q->name, "query") == 0 && strcmp(ns, NS_LAST) == 0) {
        /* XEP-0012 section 4: only those who may see the channel's
         * presence learn when it was last seen. */
        char *contact = jid_bare(&from);
        struct sub_row row;
        int r = roster_get(h->roster, c->name, contact, &row);
        if (r != CS_EDB && !sub_is_watcher(row.state) &&
            !(c->owner && strcmp(contact, c->owner) == 0)) {
            reply_error(h, iq, "auth", "forbidden");
        } else if (r != CS_EDB) {
            struct status_view v;
            char secs[32];
            status_set_view(&c->status, &v);
            if (v.show == SHOW_UNAVAILABLE && v.last_seen == 0) {
                reply_error(h, iq, "cancel", "item-not-found"); /* never seen */
            } else {
                struct xml_node *res = stanza_iq_result(iq);
                struct xml_node *rq = xml_add_child(res, "query", NS_LAST);
                long long s = v.show == SHOW_UNAVAILABLE ? now - v.last_seen : 0;
                snprintf(secs, sizeof(secs), "%lld", s < 0 ? 0 : s);
                xml_set_attr(rq, "seconds", secs);
                h->sink.send(h->sink.ud, res);
                xml_free(res);
            }
        }
        free(contact);
        handled = true;
    }
    jid_deinit(&from);
    jid_deinit(&to);
    return handled;
}

/* ---- Message routing support ---- */

int home_message_target(struct home *h, const char *name, const char **owner_r,
                        const char **resource_r, const char **jid_r)
{
    struct channel *c = find_channel(h, name);
    if (c == NULL)
        return CS_ENOTFOUND;
    *owner_r = c->owner;
    *resource_r = c->owner ? status_set_message_target(&c->status) : NULL;
    *jid_r = c->jid;
    return 0;
}

static struct conv **conv_slot(struct home *h, const char *key)
{
    struct conv **pp = &h->convs[hash(key) % CONV_BUCKETS];
    while (*pp && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->next;
    return pp;
}

static char *conv_key(const char *owner, const char *contact)
{
    char *k = xmalloc(strlen(owner) + strlen(contact) + 2);
    sprintf(k, "%s\n%s", owner, contact);
    return k;
}

void home_note_conversation(struct home *h, const char *name, const char *contact)
{
    struct channel *c = find_loaded(h, name);
    struct conv **pp;
    char *key;
    if (c == NULL || c->owner == NULL)
        return;
    key = conv_key(c->owner, contact);
    pp = conv_slot(h, key);
    if (*pp) {
        free(key);
        if (strcmp((*pp)->channel, c->name) != 0) {
            free((*pp)->channel);
            (*pp)->channel = xstrdup(c->name);
        }
        return;
    }
    if (h->nconvs >= CONV_MAX)
        return; /* bounded: further replies use the owner's first channel */
    *pp = xcalloc(1, sizeof(**pp));
    (*pp)->key = key;
    (*pp)->channel = xstrdup(c->name);
    h->nconvs++;
}

const char *home_reply_channel(struct home *h, const char *owner, const char *contact)
{
    char *key = conv_key(owner, contact);
    struct conv *v = *conv_slot(h, key);
    struct channel *first = NULL;
    free(key);
    if (v) {
        struct channel *c = find_loaded(h, v->channel);
        if (c && c->owner && strcmp(c->owner, owner) == 0)
            return c->jid;
    }
    for (int i = 0; i < CHANNEL_BUCKETS; i++) {
        for (struct channel *c = h->buckets[i]; c; c = c->next) {
            if (c->owner && strcmp(c->owner, owner) == 0 &&
                (first == NULL || strcmp(c->name, first->name) < 0))
                first = c;
        }
    }
    return first ? first->jid : NULL;
}

void home_on_deliverable(struct home *h, home_deliverable_cb *cb, void *ud)
{
    h->deliverable = cb;
    h->deliverable_ud = ud;
}
