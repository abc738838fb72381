/* bind.c - owner binding: the channel asks for its owner's presence.
 *
 * After every (re)connect, a cursor walks the channels that have an owner
 * in name order, a page at a time and only while the output has room: an
 * owner who approved is probed; one who has not is (re)sent the
 * subscription request (the owner's server keeps it for the next login).
 * Channels are not loaded for this: the owner's row is read by key, so a
 * million channels cost a million indexed reads spread over the time the
 * server takes to read the probes, and no memory.
 *
 * A presence error from an owner (their server refused or could not
 * deliver) schedules a retry after limits.retry_ms instead of waiting for
 * the next reconnect. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_log.h"
#include "cs_homestate.h"

#define BIND_PAGE 128
/* Pages per pump call: about a millisecond of indexed reads, then the
 * loop returns to its inputs (SIGTERM, stanzas) before the next. */
#define BIND_PAGES_PER_CALL 2
/* Output room taken per channel of a page (a probe or a subscribe with
 * long addresses stays well below it). */
#define BIND_BYTES_PER_CHANNEL 512

void bind_channel(struct home *h, const char *name, const char *owner, struct channel *c)
{
    struct sub_row row;
    int act;
    char *jid;
    size_t len;

    if (home_owner_privileged(h, owner)) {
        /* The owner's server sends us their presence (XEP-0356): no
         * subscription, no probe (it sent what it has at connect). */
        h->stats.binds_skipped++;
        return;
    }
    if (roster_get(h->roster, name, owner, &row) == CS_EDB)
        return;
    len = strlen(name) + strlen(h->domain) + 2;
    jid = xmalloc(len);
    snprintf(jid, len, "%s@%s", name, h->domain);
    if (sub_has_to(row.state)) {
        /* Only after approval: an early probe makes Prosody cancel the
         * pending request (TESTBED.md). */
        home_send_presence(h, jid, owner, "probe", NULL);
        h->stats.probes_sent++;
    } else {
        act = home_change(h, name, c, owner, &row, SUB_OUT_SUBSCRIBE);
        /* Repeated on every (re)connect: a request may have been lost. */
        if (act > 0 && (act & SUB_ACT_SEND)) {
            home_send_presence(h, jid, owner, "subscribe", NULL);
            h->stats.probes_sent++;
        }
    }
    free(jid);
}

struct page {
    char *name[BIND_PAGE];
    char *owner[BIND_PAGE];
    int n;
};

static void on_owned(void *ud, const char *name, const char *owner, enum channel_policy policy)
{
    struct page *pg = ud;
    if (pg->n < BIND_PAGE) {
        pg->name[pg->n] = xstrdup(name);
        pg->owner[pg->n] = owner ? xstrdup(owner) : NULL;
        pg->n++;
    }
}

bool bind_pump(struct home *h, int64_t now_ms)
{
    int pages = 0;
    while (h->bind_active) {
        if (pages++ == BIND_PAGES_PER_CALL)
            return true; /* more, with room: the caller pumps again soon */
        struct page pg = {.n = 0};
        size_t fit = out_room(h->out) / BIND_BYTES_PER_CHANNEL;
        int want = fit > BIND_PAGE ? BIND_PAGE : (int)fit;
        int n = 0;
        if (want == 0)
            return true; /* resumed when the output drains */
        if (roster_owned_page(h->roster, h->bind_after, want, on_owned, &pg, &n) != 0) {
            log_error("home: reading channel owners failed; binding retried at the next reconnect");
            bind_stop(h);
            return false;
        }
        for (int i = 0; i < pg.n; i++) {
            struct channel *c = chancache_loaded(&h->cache, pg.name[i]);
            const char *owner = c ? c->owner : pg.owner[i];
            if (owner && !channel_jid_ok(owner) && c == NULL) {
                /* Written by hand in another spelling: the load stores
                 * it prepared (channel.c) and holds the prepared owner. */
                c = chancache_find(&h->cache, pg.name[i]);
                owner = c ? c->owner : owner;
            }
            if (owner && channel_jid_ok(owner))
                bind_channel(h, pg.name[i], owner, c);
            else if (owner)
                log_warning("home: channel %s: owner '%s' is not a normalised bare JID; "
                            "not bound",
                            pg.name[i], owner);
        }
        if (pg.n > 0) {
            free(h->bind_after);
            h->bind_after = xstrdup(pg.name[pg.n - 1]);
        }
        for (int i = 0; i < pg.n; i++) {
            free(pg.name[i]);
            free(pg.owner[i]);
        }
        if (n < want)
            bind_stop(h);
    }
    return false;
}

void bind_start(struct home *h)
{
    free(h->bind_after);
    h->bind_after = xstrdup("");
    h->bind_active = true;
}

void bind_stop(struct home *h)
{
    h->bind_active = false;
    free(h->bind_after);
    h->bind_after = NULL;
}

void bind_retry_later(struct home *h, struct channel *c, int64_t now_ms)
{
    c->bind_retry_at = now_ms + h->limits.retry_ms;
    if (c->retry_queued)
        return;
    c->retry_queued = true;
    c->retry_next = h->retry_head;
    h->retry_head = c;
}

/* O(channels waiting for a retry). */
void bind_tick(struct home *h, int64_t now_ms)
{
    for (struct channel **pp = &h->retry_head; *pp;) {
        struct channel *c = *pp;
        if (c->bind_retry_at > now_ms) {
            pp = &c->retry_next;
            continue;
        }
        *pp = c->retry_next;
        c->retry_queued = false;
        c->retry_next = NULL;
        if (c->owner) {
            log_info("home: retrying owner binding of %s", c->name);
            bind_channel(h, c->name, c->owner, c);
        }
    }
}

void bind_forget_all(struct home *h)
{
    while (h->retry_head) {
        struct channel *c = h->retry_head;
        h->retry_head = c->retry_next;
        c->retry_queued = false;
        c->retry_next = NULL;
    }
    bind_stop(h);
}

void bind_unqueue(struct home *h, struct channel *c)
{
    if (!c->retry_queued)
        return;
    for (struct channel **pp = &h->retry_head; *pp; pp = &(*pp)->retry_next) {
        if (*pp == c) {
            *pp = c->retry_next;
            break;
        }
    }
    c->retry_next = NULL;
    c->retry_queued = false;
}
