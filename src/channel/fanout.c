/* fanout.c - a channel's status to its watchers, as a resumable cursor.
 *
 * A status change queues the channel (once, however many changes arrive
 * before its turn) and resets its cursor; home_pump() then writes one
 * presence per watcher while the output has room.  A change in the middle
 * of a fan-out restarts it from the first watcher with the newest status:
 * every watcher ends up with the current status, intermediate ones may be
 * skipped (presence is state, not a log).  The presence is serialised
 * once per change; each watcher costs one copy with its own escaped 'to'.
 *
 * The resync after a (re)connect walks the loaded channels, then the
 * channels the database says were last shown available but are not
 * loaded (their watchers may hold a stale "available" from before a
 * restart), queueing each; it advances only while the queue is empty, so
 * the queue never holds more than a few channels' worth of work. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_log.h"
#include "cs_homestate.h"
#include "cs_mcast.h"

#define RESYNC_PAGE 64
/* Deliveries per pump call: the loop returns to its inputs in between
 * (about a millisecond of work). */
#define FANOUT_STEP 16384

/* Keeps channel_state in step: whether watchers are shown "available",
 * and the last-seen time: when the owner left, or, while available, when
 * it became so (after a crash that is the best known last sighting). */
static void persist_shown(struct home *h, struct channel *c, int64_t now_ms)
{
    struct status_view v;
    bool shown;
    status_set_view(&c->status, &v);
    shown = v.show != SHOW_UNAVAILABLE;
    if (shown && !c->shown)
        v.last_seen = cs_wall_of(h->clock, now_ms) / MS_PER_S;
    else if (shown)
        v.last_seen = c->saved_last_seen;
    if (shown == c->shown && v.last_seen == c->saved_last_seen)
        return;
    /* Written in the open transaction: durable before the fan-out leaves.
     * last_seen is kept with it, so XEP-0012 survives a restart. */
    if (roster_state_put(h->roster, c->name, v.last_seen, shown) != 0)
        log_error("home: cannot store the state of %s", c->name);
    c->shown = shown;
    c->saved_last_seen = v.last_seen;
}

void fanout_queue(struct home *h, struct channel *c, int64_t now_ms)
{
    if (c->remote == NULL) {
        /* A remote channel's state lives at its home. */
        persist_shown(h, c, now_ms);
        chancache_resources_dirty(&h->cache, c);
    }
    free(c->fan_body);
    c->fan_body = NULL;
    c->fan_pos = 0;
    if (c->fan_queued || c->nwatchers == 0)
        return;
    c->fan_queued = true;
    c->fan_next = NULL;
    if (h->fan_tail)
        h->fan_tail->fan_next = c;
    else
        h->fan_head = c;
    h->fan_tail = c;
}

static void pop(struct home *h)
{
    struct channel *c = h->fan_head;
    c->synced_epoch = h->online_epoch; /* every watcher has the current status */
    h->fan_head = c->fan_next;
    if (h->fan_head == NULL)
        h->fan_tail = NULL;
    c->fan_next = NULL;
    c->fan_queued = false;
    c->fan_pos = 0;
    free(c->fan_body);
    c->fan_body = NULL;
}

static void serialise_body(struct home *h, struct channel *c)
{
    struct strbuf sb = {0};
    struct xml_node *p = home_channel_presence(h, c);
    size_t skip = strlen("<presence");
    const char *gt;
    xml_serialize(p, XML_NS_COMPONENT, &sb);
    xml_free(p);
    c->fan_body_len = sb.len - skip;
    c->fan_body = xmalloc(c->fan_body_len + 1);
    memcpy(c->fan_body, sb.data + skip, c->fan_body_len + 1);
    /* Attribute values are written with '>' escaped: the first one ends
     * the start tag. */
    gt = strchr(c->fan_body, '>');
    c->fan_tag_end = gt ? (size_t)(gt - c->fan_body) : c->fan_body_len;
    strbuf_free(&sb);
}

/* Starts a fan-out stanza: "<presence id='...' to='TO'" with a fresh
 * id.  Every fan-out stanza has its own, whether it goes to one watcher
 * or to a batch: a client sees the same either way, and a refused batch
 * is known by it. */
static void start_stanza(struct home *h, struct strbuf *sb, const char *to, char id[24])
{
    static const char hex[] = "0123456789abcdef";
    unsigned long long v = ++h->fan_seq;
    char digits[16];
    int n = 0;
    /* Hex by hand: snprintf was a third of a single stanza's cost. */
    do {
        digits[n++] = hex[v & 15];
        v >>= 4;
    } while (v);
    id[0] = 'f';
    id[1] = 'o';
    for (int i = 0; i < n; i++)
        id[2 + i] = digits[n - 1 - i];
    id[2 + n] = '\0';
    sb->len = 0;
    strbuf_append(sb, "<presence id='", 14);
    strbuf_append(sb, id, (size_t)n + 2);
    strbuf_append(sb, "' to='", 6);
    xml_escape(sb, to, strlen(to), true);
    strbuf_append(sb, "'", 1);
}

/* One watcher's stanza: c's status to jid.  0 or CS_ENOTCONN. */
static int send_one(struct home *h, struct channel *c, const char *jid)
{
    char id[24];
    start_stanza(h, &h->scratch, jid, id);
    strbuf_append(&h->scratch, c->fan_body, c->fan_body_len);
    return out_raw(h->out, h->scratch.data, h->scratch.len);
}

/* One batch from c->fan_pos on: up to limit watchers at the users'
 * domain in one presence to the service (XEP-0033 'bcc' addresses),
 * fewer when the stanza would pass its byte cap (MCAST_BATCH_BYTES, or
 * the output's room when that is smaller); watchers elsewhere met on the
 * way get their own stanza.  The cursor moves past all of them.  false:
 * the link is down. */
static bool send_batch(struct home *h, struct channel *c, const char *service, unsigned limit,
                       unsigned *budget, int64_t now_ms)
{
    static const char close[] = "</presence>";
    struct strbuf *sb = &h->batch_sb;
    size_t room = out_room(h->out), cap = MCAST_BATCH_BYTES;
    bool selfclosing = c->fan_tag_end > 0 && c->fan_body[c->fan_tag_end - 1] == '/';
    size_t attrs_len = selfclosing ? c->fan_tag_end - 1 : c->fan_tag_end;
    unsigned pos = c->fan_pos;
    char id[24];
    if (room < cap)
        cap = room > 2048 ? room : 2048;
    h->batch_n = 0;
    start_stanza(h, sb, service, id);
    strbuf_append(sb, c->fan_body, attrs_len);
    strbuf_append_str(sb, "><addresses xmlns='" NS_ADDRESS "'>");
    for (; pos < c->nwatchers; pos++) {
        const char *w = c->watchers[pos];
        if (*budget == 0 || h->batch_n >= limit || (h->batch_n > 0 && sb->len + 64 >= cap))
            break;
        if (!mcast_batchable(h->mcast, w)) {
            /* Its own stanza, written now, while the output has room. */
            if (out_room(h->out) == 0)
                break;
            if (send_one(h, c, w) != 0)
                return false;
            h->stats.deliveries++;
            (*budget)--;
            continue;
        }
        if (h->batch_n == h->batch_cap) {
            h->batch_cap = h->batch_cap ? h->batch_cap * 2 : 64;
            h->batch_jids = xrealloc(h->batch_jids, h->batch_cap * sizeof(*h->batch_jids));
        }
        h->batch_jids[h->batch_n++] = w;
        strbuf_append_str(sb, "<address type='bcc' jid='");
        xml_escape(sb, w, strlen(w), true);
        strbuf_append(sb, "'/>", 3);
        (*budget)--;
    }
    if (h->batch_n > 0) {
        strbuf_append_str(sb, "</addresses>");
        if (!selfclosing) {
            /* The children, then the end tag, as the body has them. */
            strbuf_append(sb, c->fan_body + c->fan_tag_end + 1,
                          c->fan_body_len - c->fan_tag_end - 1);
        } else {
            strbuf_append(sb, close, sizeof(close) - 1);
        }
        if (out_raw(h->out, sb->data, sb->len) != 0)
            return false;
        mcast_sent(h->mcast, id, c->name, h->batch_jids, h->batch_n, now_ms);
        h->stats.deliveries += h->batch_n;
    }
    c->fan_pos = pos;
    return true;
}

/* Writes what the output takes of c's fan-out.  false: stopped (no room
 * or link down), true: finished. */
static bool run_channel(struct home *h, struct channel *c, unsigned *budget, int64_t now_ms)
{
    unsigned limit = 0;
    const char *service = mcast_service(h->mcast, &limit);
    if (c->fan_body == NULL)
        serialise_body(h, c);
    while (c->fan_pos < c->nwatchers) {
        if (out_room(h->out) == 0 || *budget == 0)
            return false;
        if (service && mcast_batchable(h->mcast, c->watchers[c->fan_pos])) {
            if (!send_batch(h, c, service, limit, budget, now_ms))
                return false; /* link down: offline() resets; resync follows online() */
            continue;
        }
        (*budget)--;
        if (send_one(h, c, c->watchers[c->fan_pos]) != 0)
            return false; /* link down: offline() resets; resync follows online() */
        c->fan_pos++;
        h->stats.deliveries++;
    }
    return true;
}

/* Watchers a refused batch left without the status: one stanza each,
 * with their channel's current status (presence is state).  One who
 * stopped watching meanwhile is skipped.  false: stopped. */
static bool run_owed(struct home *h, unsigned *budget)
{
    const char *name, *jid;
    while (mcast_owed(h->mcast, &name, &jid)) {
        struct channel *c;
        if (out_room(h->out) == 0 || *budget == 0)
            return false;
        (*budget)--;
        c = chancache_find(&h->cache, name);
        if (c && watchers_has(c, jid)) {
            bool once = c->fan_body == NULL;
            int r;
            if (once)
                serialise_body(h, c);
            r = send_one(h, c, jid);
            if (once) {
                free(c->fan_body);
                c->fan_body = NULL;
            }
            if (r != 0)
                return false;
        }
        mcast_owed_pop(h->mcast);
    }
    return true;
}

struct shown_ctx {
    struct home *h;
    int64_t now_ms;
};

static void on_shown(void *ud, const char *name)
{
    struct shown_ctx *sc = ud;
    struct home *h = sc->h;
    int64_t now_ms = sc->now_ms;
    struct channel *c;
    free(h->resync_after);
    h->resync_after = xstrdup(name);
    if (chancache_loaded(&h->cache, name))
        return; /* done in the first phase */
    c = chancache_find(&h->cache, name);
    if (c)
        fanout_queue(h, c, now_ms);
}

/* Queues the next resync step.  false when the resync is complete. */
static bool resync_step(struct home *h, int64_t now_ms)
{
    struct shown_ctx sc = {h, now_ms};
    int n = 0;
    if (h->resync_after == NULL) {
        while (h->resync_index < h->cache.n) {
            struct channel *c = h->cache.all[h->resync_index++];
            /* Already told everyone since the link came up (an owner's
             * answer to the probe): not again. */
            if (c->synced_epoch != h->online_epoch || c->fan_queued) {
                fanout_queue(h, c, now_ms);
                return true;
            }
        }
        h->resync_after = xstrdup("");
    }
    if (roster_shown_page(h->roster, h->resync_after, RESYNC_PAGE, on_shown, &sc, &n) != 0) {
        log_error("home: resync: reading channel states failed; resync cut short");
        return false;
    }
    return n > 0;
}

bool fanout_pump(struct home *h, int64_t now_ms)
{
    unsigned budget = FANOUT_STEP;
    if (!run_owed(h, &budget))
        return true;
    for (;;) {
        while (h->fan_head) {
            if (!run_channel(h, h->fan_head, &budget, now_ms))
                return true;
            pop(h);
        }
        if (!h->resync_active)
            return false;
        if (out_room(h->out) == 0 || budget == 0)
            return true;
        budget = budget > 64 ? budget - 64 : 0; /* a resync step loads a channel */
        if (!resync_step(h, now_ms)) {
            h->resync_active = false;
            free(h->resync_after);
            h->resync_after = NULL;
        }
    }
}

void home_resync(struct home *h)
{
    h->resync_active = true;
    h->resync_index = 0;
    free(h->resync_after);
    h->resync_after = NULL;
}

void fanout_stop(struct home *h)
{
    while (h->fan_head)
        pop(h);
    h->resync_active = false;
    free(h->resync_after);
    h->resync_after = NULL;
}

void fanout_forget_all(struct home *h)
{
    fanout_stop(h);
}

void fanout_unqueue(struct home *h, struct channel *c)
{
    struct channel *prev = NULL;
    if (!c->fan_queued)
        return;
    for (struct channel *x = h->fan_head; x; prev = x, x = x->fan_next) {
        if (x != c)
            continue;
        if (prev)
            prev->fan_next = c->fan_next;
        else
            h->fan_head = c->fan_next;
        if (h->fan_tail == c)
            h->fan_tail = prev;
        break;
    }
    c->fan_next = NULL;
    c->fan_queued = false;
}
