/* flush.c - the offline store as seen by routing: each channel's usage,
 * counted in memory against the limits, and the paced flush cursor that
 * delivers stored messages to the owner (doc/internals-flow.md).
 *
 * Owns the usage, flush queue, sent and next_expire fields of struct
 * route; calls nothing of route.c or convmem.c.  The error reply and the
 * forwarding of a message, which route.c uses too, live here. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs_error.h"
#include "cs_config.h"
#include "cs_hash.h"
#include "cs_home.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_offline.h"
#include "cs_out.h"
#include "cs_roster.h"
#include "cs_stanza.h"
#include "cs_util.h"
#include "route_priv.h"

#define NS_DELAY "urn:xmpp:delay"
/* Stored messages read per step of the flush cursor (and never more
 * bytes than the output has room for). */
#define FLUSH_PAGE 64
#define FLUSH_PAGES_PER_CALL 4
#define EXPIRE_INTERVAL_MS 60000

struct sent {
    int64_t id;
    struct stored *s;
    size_t bytes;
};

/* ---- Replies and forwarding (route.c's too) ---- */

void flush_reply_error(struct route *r, const struct stanza_in *msg, const char *type,
                       const char *cond, const char *text)
{
    struct xml_node *e = stanza_error_reply(msg, r->domain, type, cond, text);
    if (out_stanza(r->out, e) != 0)
        log_debug("route: error reply not sent: link down");
    xml_free(e);
}

/* A copy of msg readdressed; everything else (id, type, thread, bodies
 * with their languages, receipts, chat states, unknown payloads) stays.
 * 0 or CS_ENOTCONN. */
int flush_forward(struct route *r, const struct xml_node *msg, const char *from, const char *to,
                  int64_t delayed)
{
    struct xml_node *m = xml_copy(msg);
    int rc;
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
        /* At a cluster's home, users know only the front. */
        xml_set_attr(d, "from", r->limits.fed.front ? r->limits.fed.front : r->domain);
        xml_set_attr(d, "stamp", stamp);
    }
    rc = out_stanza(r->out, m);
    xml_free(m);
    return rc;
}

char *flush_full_of(const char *bare, const char *resource)
{
    struct strbuf sb = {0};
    strbuf_printf(&sb, "%s/%s", bare, resource);
    return sb.data;
}

/* ---- Per-channel usage of the store ---- */

void flush_free_usage(struct route *r)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (hash_next(&r->usage, &pos, &k, &v))
        free(v);
    hash_clear(&r->usage);
    r->flush_head = r->flush_tail = NULL;
    r->nsent = 0;
}

/* Forgets cached usage of channels with nothing stored or in flight:
 * amortised O(1) per insert (runs when the table doubled since). */
static void sweep_usage(struct route *r)
{
    struct hash keep = {0};
    size_t pos = 0;
    const char *k;
    void *v;
    while (hash_next(&r->usage, &pos, &k, &v)) {
        struct stored *s = v;
        if (s->count == 0 && s->in_flight == 0 && !s->queued)
            free(s);
        else
            hash_put(&keep, s->channel, s);
    }
    hash_clear(&r->usage);
    r->usage = keep;
    r->usage_sweep_at = r->usage.n * 2 > USAGE_SWEEP ? r->usage.n * 2 : USAGE_SWEEP;
}

/* The channel's store usage (one indexed query the first time).  NULL on
 * a database error. */
struct stored *flush_usage(struct route *r, const char *channel)
{
    struct stored *s = hash_get(&r->usage, channel);
    size_t len;
    if (s)
        return s;
    len = strlen(channel);
    s = xcalloc(1, sizeof(*s) + len + 1);
    memcpy(s->channel, channel, len + 1);
    if (offline_usage(r->offline, channel, &s->count, &s->bytes) != 0) {
        free(s);
        return NULL;
    }
    if (r->usage.n >= r->usage_sweep_at)
        sweep_usage(r);
    hash_put(&r->usage, s->channel, s);
    return s;
}

bool flush_store(struct route *r, const struct stanza_in *in, const char *channel,
                 const char *contact, const struct strbuf *sb)
{
    struct stored *s = flush_usage(r, channel);
    if (s == NULL) {
        flush_reply_error(r, in, "wait", "internal-server-error", NULL);
        return false;
    }
    if (s->count + 1 > r->limits.offline_max_messages ||
        s->bytes + (int64_t)sb->len > r->limits.offline_max_bytes) {
        flush_reply_error(r, in, "wait", "resource-constraint",
                          "the channel's offline store is full");
        return false;
    }
    if (roster_tx_begin(r->roster) != 0 ||
        offline_put(r->offline, channel, contact, sb->data, sb->len,
                    cs_wall_of(r->clock, in->now_ms) / MS_PER_S) != 0) {
        flush_reply_error(r, in, "wait", "internal-server-error", NULL);
        return false;
    }
    s->count++;
    s->bytes += (int64_t)sb->len;
    r->stats.stored++;
    return true;
}

/* ---- The flush cursor ---- */

void route_flush(struct route *r, const char *channel)
{
    struct stored *s = flush_usage(r, channel);
    if (s == NULL || s->count == 0 || s->queued)
        return;
    s->queued = true;
    s->next = NULL;
    if (r->flush_tail)
        r->flush_tail->next = s;
    else
        r->flush_head = s;
    r->flush_tail = s;
}

static void dequeue_head(struct route *r)
{
    struct stored *s = r->flush_head;
    r->flush_head = s->next;
    if (r->flush_head == NULL)
        r->flush_tail = NULL;
    s->next = NULL;
    s->queued = false;
}

struct flush_ctx {
    struct route *r;
    struct stored *s;
    const char *owner_full;
    int64_t now_s;
    bool stopped; /* the link refused: nothing more this round */
};

static void note_sent(struct route *r, struct stored *s, int64_t id, size_t bytes)
{
    if (r->nsent == r->capsent) {
        r->capsent = r->capsent ? r->capsent * 2 : 64;
        r->sent = xrealloc(r->sent, r->capsent * sizeof(*r->sent));
    }
    r->sent[r->nsent++] = (struct sent){id, s, bytes};
    s->sent_upto = id;
    s->in_flight++;
}

static void flush_one(void *ud, int64_t id, const char *sender, const char *stanza, int64_t stored)
{
    struct flush_ctx *f = ud;
    struct route *r = f->r;
    size_t len = strlen(stanza);
    struct xml_node *msg;
    char *from;

    if (f->stopped)
        return;
    msg = xml_parse_one(stanza, len);
    if (msg == NULL || stored < f->now_s - r->limits.offline_expiry_s) {
        /* Unreadable or expired: deleted with the others, never sent. */
        if (msg == NULL)
            log_error("route: stored message %lld is unreadable; dropped", (long long)id);
        else
            r->stats.expired++;
        xml_free(msg);
        note_sent(r, f->s, id, len);
        return;
    }
    from = jid_relay_address(sender, r->domain);
    if (flush_forward(r, msg, from, f->owner_full, stored) == 0) {
        note_sent(r, f->s, id, len); /* recorded only once the link took it */
        r->stats.flushed++;
    } else {
        f->stopped = true;
    }
    free(from);
    xml_free(msg);
}

bool route_pump(struct route *r, int64_t now_ms)
{
    int pages = 0;
    while (r->flush_head) {
        if (pages++ == FLUSH_PAGES_PER_CALL)
            return true; /* more: the loop reads its inputs in between */
        struct stored *s = r->flush_head;
        const char *owner, *resource, *jid;
        struct flush_ctx f = {.r = r, .s = s, .now_s = cs_wall_of(r->clock, now_ms) / MS_PER_S};
        size_t room = out_room(r->out);
        char *owner_full;
        int n = 0;

        if (home_message_target(r->home, s->channel, &owner, &resource, &jid) != 0 ||
            owner == NULL || resource == NULL) {
            dequeue_head(r); /* the owner left again: queued at the next login */
            continue;
        }
        if (room == 0)
            return true;
        owner_full = flush_full_of(owner, resource);
        f.owner_full = owner_full;
        if (offline_each_bytes(r->offline, s->channel, s->sent_upto, FLUSH_PAGE, room, flush_one,
                               &f, &n) != 0) {
            log_error("route: reading stored messages of %s failed", s->channel);
            dequeue_head(r);
        } else if (n == 0) {
            dequeue_head(r); /* all sent; deleted when drained */
        }
        free(owner_full);
        if (f.stopped)
            return true;
    }
    return false;
}

bool route_commit(struct route *r, const char *what)
{
    if (r->commit)
        return r->commit(r->commit_ud, what);
    if (roster_tx_commit(r->roster) == 0)
        return true;
    roster_tx_rollback(r->roster);
    return false;
}

int route_drained(struct route *r)
{
    int rc = 0;
    if (r->nsent == 0)
        return 0;
    if (roster_tx_begin(r->roster) != 0)
        return CS_EDB;
    for (size_t i = 0; i < r->nsent && rc == 0; i++)
        rc = offline_delete(r->offline, r->sent[i].id);
    if (rc != 0) {
        roster_tx_rollback(r->roster);
        return CS_EDB;
    }
    if (!route_commit(r, "delivered messages"))
        return CS_EDB;
    for (size_t i = 0; i < r->nsent; i++) {
        struct stored *s = r->sent[i].s;
        s->count--;
        s->bytes -= (int64_t)r->sent[i].bytes;
        s->in_flight--;
        if (s->count <= 0) {
            s->count = 0;
            s->bytes = 0;
            s->sent_upto = 0;
        }
    }
    r->nsent = 0;
    return 0;
}

void route_link_lost(struct route *r)
{
    size_t pos = 0;
    const char *k;
    void *v;
    r->nsent = 0;
    while (hash_next(&r->usage, &pos, &k, &v)) {
        struct stored *s = v;
        s->sent_upto = 0;
        s->in_flight = 0;
    }
    while (r->flush_head)
        dequeue_head(r);
}

/* After rows went away behind our back: O(cached channels), rare. */
static void recount(struct route *r)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (hash_next(&r->usage, &pos, &k, &v)) {
        struct stored *s = v;
        if (offline_usage(r->offline, s->channel, &s->count, &s->bytes) != 0)
            s->count = r->limits.offline_max_messages; /* unknown: store nothing unchecked */
    }
}

/* ---- Expiry ---- */

/* The step of route_tick: drops stored messages older than offline_expiry_s,
 * once a minute; not while sent rows await route_drained (they would be
 * subtracted twice). */
void flush_expire(struct route *r, int64_t now_ms)
{
    if (now_ms < r->next_expire)
        return;
    r->next_expire = now_ms + EXPIRE_INTERVAL_MS;
    if (r->nsent == 0) {
        int n = offline_expire(r->offline, cs_wall_of(r->clock, now_ms) / MS_PER_S -
                                               r->limits.offline_expiry_s);
        if (n > 0) {
            log_info("route: %d stored message(s) expired", n);
            r->stats.expired += (unsigned long)n;
            recount(r);
        } else if (n < 0) {
            log_error("route: expiring stored messages failed");
        }
    }
}
