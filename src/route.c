/* route.c - message routing through the home: owner delivery, replies
 * from the channel address, the offline store. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs_error.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_offline.h"
#include "cs_roster.h"
#include "cs_route.h"
#include "cs_stanza.h"
#include "cs_util.h"

#define NS_DELAY "urn:xmpp:delay"
/* Stored messages sent per flush; the next batch follows once the link
 * drained, so a large store never overflows the output buffer. */
#define FLUSH_BATCH 1000

/* A channel with stored messages, how much, and how far they were sent. */
struct stored {
    char *channel;
    int count;         /* rows in the store (kept here: no scan per message) */
    int64_t bytes;
    int64_t sent_upto; /* highest id handed to the link and not yet drained */
    struct stored *next;
};

struct route {
    const char *domain;
    struct home *home;
    struct roster *roster;
    struct offline *offline;
    struct route_limits limits;
    struct home_sink sink;
    struct stored *stored; /* short list: channels whose owner is offline with messages */
    int64_t *sent;         /* ids sent since the last drain */
    size_t nsent, capsent;
    struct route_stats stats;
};

struct route *route_new(const char *domain, struct home *home, struct roster *roster,
                        struct offline *offline, const struct route_limits *limits,
                        const struct home_sink *sink)
{
    struct route *r = xcalloc(1, sizeof(*r));
    r->domain = domain;
    r->home = home;
    r->roster = roster;
    r->offline = offline;
    r->limits = *limits;
    r->sink = *sink;
    return r;
}

void route_free(struct route **rp)
{
    struct route *r = *rp;
    if (r == NULL)
        return;
    while (r->stored) {
        struct stored *s = r->stored;
        r->stored = s->next;
        free(s->channel);
        free(s);
    }
    free(r->sent);
    free(r);
    *rp = NULL;
}

const struct route_stats *route_stats(const struct route *r)
{
    return &r->stats;
}

static struct stored *find_stored(struct route *r, const char *channel, bool create)
{
    struct stored *s;
    for (s = r->stored; s; s = s->next) {
        if (strcmp(s->channel, channel) == 0)
            return s;
    }
    if (!create)
        return NULL;
    s = xcalloc(1, sizeof(*s));
    s->channel = xstrdup(channel);
    if (offline_usage(r->offline, channel, &s->count, &s->bytes) != 0) {
        /* Unknown usage: count as full so nothing is stored unchecked. */
        s->count = r->limits.offline_max_messages;
    }
    s->next = r->stored;
    r->stored = s;
    return s;
}

static void drop_empty(struct route *r)
{
    for (struct stored **pp = &r->stored; *pp;) {
        if ((*pp)->count == 0) {
            struct stored *s = *pp;
            *pp = s->next;
            free(s->channel);
            free(s);
        } else {
            pp = &(*pp)->next;
        }
    }
}

static void on_channel(void *ud, const char *name, const char *owner, enum channel_policy p)
{
    find_stored(ud, name, true);
}

int route_load(struct route *r)
{
    int rc = roster_each_channel(r->roster, on_channel, r);
    drop_empty(r);
    return rc;
}

static void reply_error(struct route *r, const struct xml_node *msg, const char *type,
                        const char *cond, const char *text)
{
    struct xml_node *e = stanza_error_reply(msg, type, cond, text);
    r->stats.errors_sent++;
    r->sink.send(r->sink.ud, e);
    xml_free(e);
}

/* A copy of msg readdressed; everything else (id, type, thread, bodies
 * with their languages, receipts, chat states, unknown payloads) stays. */
static void forward(struct route *r, const struct xml_node *msg, const char *from, const char *to,
                    int64_t delayed)
{
    struct xml_node *m = xml_copy(msg);
    xml_set_attr(m, "from", from);
    xml_set_attr(m, "to", to);
    if (delayed) {
        /* XEP-0203: when the message was received, stamped by us. */
        char stamp[32];
        time_t t = (time_t)delayed;
        struct tm tm;
        struct xml_node *d = xml_add_child(m, "delay", NS_DELAY);
        gmtime_r(&t, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        xml_set_attr(d, "from", r->domain);
        xml_set_attr(d, "stamp", stamp);
    }
    r->sink.send(r->sink.ud, m);
    xml_free(m);
}

static char *full_of(const char *bare, const char *resource)
{
    char *s = xmalloc(strlen(bare) + strlen(resource) + 2);
    sprintf(s, "%s/%s", bare, resource);
    return s;
}

/* Chat states and receipts alone carry nothing worth keeping. */
static bool has_content(const struct xml_node *msg)
{
    return xml_child(msg, "body", NULL) != NULL || xml_child(msg, "subject", NULL) != NULL;
}

static void store(struct route *r, const struct xml_node *msg, const char *channel,
                  const char *contact, int64_t now)
{
    struct strbuf sb = {0};
    struct stored *s = find_stored(r, channel, true);

    xml_serialize(msg, XML_NS_COMPONENT, &sb);
    if (s->count + 1 > r->limits.offline_max_messages ||
        s->bytes + (int64_t)sb.len > r->limits.offline_max_bytes) {
        reply_error(r, msg, "wait", "resource-constraint",
                    "the channel's offline store is full");
        goto out;
    }
    if (roster_tx_begin(r->roster) != 0 ||
        offline_put(r->offline, channel, contact, sb.data, sb.len, now) != 0) {
        reply_error(r, msg, "wait", "internal-server-error", NULL);
        goto out;
    }
    s->count++;
    s->bytes += (int64_t)sb.len;
    r->stats.stored++;
out:
    strbuf_free(&sb);
}

/* The owner writes to a relay address: the reply goes to the contact
 * from the channel's address. */
static void reply(struct route *r, const struct xml_node *msg, const char *owner,
                  const char *escaped)
{
    char *contact = jid_unescape_local(escaped);
    struct jid cj;
    const char *channel_jid;

    if (jid_parse(contact, &cj) != 0 || cj.local == NULL) {
        reply_error(r, msg, "modify", "jid-malformed", NULL);
        free(contact);
        return;
    }
    channel_jid = home_reply_channel(r->home, owner, contact);
    if (channel_jid == NULL) {
        /* Not an owner: chanstat is no open relay. */
        reply_error(r, msg, "auth", "forbidden", NULL);
    } else {
        char *to = jid_full(&cj);
        forward(r, msg, channel_jid, to, 0);
        r->stats.replies++;
        free(to);
    }
    jid_deinit(&cj);
    free(contact);
}

void route_message(struct route *r, const struct xml_node *msg, int64_t now)
{
    const char *type = xml_attr(msg, "type");
    struct jid from, to;
    struct strbuf sb = {0};
    char *contact = NULL;

    if (type == NULL)
        type = "normal";
    if (strcmp(type, "error") == 0)
        return; /* RFC 6120 8.3.1: never answered; bounces of relayed mail end here */
    if (jid_parse(xml_attr(msg, "from"), &from) != 0)
        return;
    if (jid_parse(xml_attr(msg, "to"), &to) != 0) {
        reply_error(r, msg, "modify", "jid-malformed", NULL);
        jid_deinit(&from);
        return;
    }
    xml_serialize(msg, XML_NS_COMPONENT, &sb);
    if (sb.len > (size_t)r->limits.max_message_bytes) {
        reply_error(r, msg, "modify", "policy-violation", "message too large");
        goto out;
    }
    contact = jid_bare(&from);
    if (to.local == NULL) {
        if (strcmp(type, "headline") != 0)
            reply_error(r, msg, "cancel", "service-unavailable", NULL);
        goto out;
    }
    if (strchr(to.local, '\\')) {
        char *un = jid_unescape_local(to.local);
        bool relay = strchr(un, '@') != NULL;
        free(un);
        if (relay) {
            reply(r, msg, contact, to.local);
            goto out;
        }
    }
    {
        const char *owner, *resource, *channel_jid;
        if (home_message_target(r->home, to.local, &owner, &resource, &channel_jid) != 0 ||
            owner == NULL) {
            /* RFC 6121 8.5.2: no such channel, or nobody behind it. */
            if (strcmp(type, "headline") != 0)
                reply_error(r, msg, "cancel", "service-unavailable", NULL);
            goto out;
        }
        home_note_conversation(r->home, to.local, contact);
        if (resource && find_stored(r, to.local, false) == NULL) {
            char *from_addr = jid_relay_address(contact, r->domain);
            char *owner_full = full_of(owner, resource);
            forward(r, msg, from_addr, owner_full, 0);
            r->stats.routed++;
            free(from_addr);
            free(owner_full);
            goto out;
        }
        /* Owner offline (or older messages still waiting: keep order). */
        if (strcmp(type, "headline") == 0 || !has_content(msg))
            goto out; /* not stored: headlines, chat states and receipts alone */
        if (strcmp(type, "groupchat") == 0) {
            reply_error(r, msg, "cancel", "service-unavailable", NULL);
            goto out;
        }
        store(r, msg, to.local, contact, now);
        if (resource)
            route_flush(r, to.local, now); /* order kept: older ones first */
    }
out:
    strbuf_free(&sb);
    free(contact);
    jid_deinit(&from);
    jid_deinit(&to);
}

struct flush_ctx {
    struct route *r;
    struct stored *s;
    const char *owner_full;
    int64_t now;
    int64_t *expired;
    size_t nexpired, capexpired;
};

static void note_sent(struct route *r, int64_t id)
{
    if (r->nsent == r->capsent) {
        r->capsent = r->capsent ? r->capsent * 2 : 64;
        r->sent = xrealloc(r->sent, r->capsent * sizeof(*r->sent));
    }
    r->sent[r->nsent++] = id;
}

static void flush_one(void *ud, int64_t id, const char *sender, const char *stanza, int64_t stored)
{
    struct flush_ctx *f = ud;
    struct route *r = f->r;
    struct xml_node *msg;
    char *from;

    f->s->sent_upto = id;
    msg = xml_parse_one(stanza, strlen(stanza));
    if (msg == NULL || stored < f->now - r->limits.offline_expiry_s) {
        /* Unreadable or expired: dropped (deleted with the others). */
        if (msg == NULL)
            log_error("route: stored message %lld is unreadable; dropped", (long long)id);
        xml_free(msg);
        note_sent(r, id);
        return;
    }
    from = jid_relay_address(sender, r->domain);
    forward(r, msg, from, f->owner_full, stored);
    free(from);
    xml_free(msg);
    note_sent(r, id);
    r->stats.flushed++;
}

void route_flush(struct route *r, const char *channel, int64_t now)
{
    const char *owner, *resource, *jid;
    struct stored *s = find_stored(r, channel, false);
    struct flush_ctx f = {.r = r, .s = s, .now = now};
    char *owner_full;

    if (s == NULL || home_message_target(r->home, channel, &owner, &resource, &jid) != 0 ||
        owner == NULL || resource == NULL)
        return;
    owner_full = full_of(owner, resource);
    f.owner_full = owner_full;
    if (offline_each(r->offline, channel, s->sent_upto, FLUSH_BATCH, flush_one, &f) != 0)
        log_error("route: reading stored messages of %s failed", channel);
    free(owner_full);
}

int route_drained(struct route *r)
{
    int rc = 0;
    if (r->nsent == 0)
        return 0;
    if (roster_tx_begin(r->roster) != 0)
        return CS_EDB;
    for (size_t i = 0; i < r->nsent && rc == 0; i++)
        rc = offline_delete(r->offline, r->sent[i]);
    if (rc != 0 || roster_tx_commit(r->roster) != 0) {
        roster_tx_rollback(r->roster);
        return CS_EDB;
    }
    r->nsent = 0;
    /* Recount (once per drain); channels with nothing left stop being
     * special; the others send their next batch. */
    for (struct stored *s = r->stored; s; s = s->next) {
        if (offline_usage(r->offline, s->channel, &s->count, &s->bytes) != 0)
            s->count = r->limits.offline_max_messages;
    }
    drop_empty(r);
    for (struct stored *s = r->stored; s; s = s->next) {
        if (s->sent_upto > 0)
            route_flush(r, s->channel, cs_wall_s());
    }
    return 0;
}

void route_link_lost(struct route *r)
{
    r->nsent = 0;
    for (struct stored *s = r->stored; s; s = s->next)
        s->sent_upto = 0;
}
