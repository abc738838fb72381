/* mcast.c - finding the server's multicast service, and what a refused
 * batch is owed (see cs_mcast.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_hash.h"
#include "cs_iqwait.h"
#include "cs_config.h"
#include "cs_log.h"
#include "cs_mcast.h"
#include "cs_util.h"

#define NS_DATA "jabber:x:data"

enum mcast_state {
    M_OFF,       /* disabled, or nothing found: one stanza per watcher */
    M_INFO,      /* disco#info of the users' domain asked */
    M_ITEMS,     /* disco#items of the users' domain asked */
    M_ITEM_INFO, /* disco#info of items[item] asked */
    M_READY,     /* batches go to service */
    M_SUSPENDED, /* refused twice within retry_ms: asked again at next_ask_ms */
};

/* A batch sent and held for its error, or owed after one.  The
 * recipients are NUL-separated in jids; next links the held FIFO (oldest
 * first, the order of expiry) or the owed queue. */
struct batch {
    struct batch *next;
    struct batch *prev; /* held FIFO only: taking a refused batch out is O(1) */
    char id[IQWAIT_ID_MAX];
    unsigned gen; /* the discovery it was sent under */
    int64_t sent_ms;
    unsigned n;   /* recipients */
    unsigned pos; /* owed: recipients already sent */
    size_t off;   /* owed: offset of recipient pos in jids */
    char *channel;
    char *service; /* where it went: only that address may refuse it */
    char jids[];
};

struct mcast {
    struct mcast_opts o;
    const char *from;
    const struct out *out;
    struct iqwait *iqw;
    enum mcast_state state;
    char asking[IQWAIT_ID_MAX]; /* id of the request pending, "" = none */
    char **items;               /* M_ITEMS / M_ITEM_INFO: JIDs to ask */
    unsigned nitems, item;
    char *service;
    unsigned limit;
    unsigned gen;
    int64_t next_ask_ms;    /* M_OFF / M_SUSPENDED: ask again then (0 = never) */
    int64_t rediscover_ms;  /* when a refusal last made us ask again */
    struct hash held_by_id; /* id -> struct batch * */
    struct batch *held_head, *held_tail;
    size_t held_recipients;
    struct batch *owed_head, *owed_tail;
    struct mcast_stats stats;
};

struct mcast *mcast_new(const struct mcast_opts *o, const char *from, const struct out *out,
                        struct iqwait *w)
{
    struct mcast *m = xcalloc(1, sizeof(*m));
    m->o = *o;
    m->from = from;
    m->out = out;
    m->iqw = w;
    return m;
}

static void drop_items(struct mcast *m)
{
    for (unsigned i = 0; i < m->nitems; i++)
        free(m->items[i]);
    free(m->items);
    m->items = NULL;
    m->nitems = m->item = 0;
}

static void cancel_ask(struct mcast *m)
{
    if (m->asking[0] && m->iqw)
        iqwait_cancel(m->iqw, m->asking);
    m->asking[0] = '\0';
}

static void free_list(struct batch *b)
{
    while (b) {
        struct batch *next = b->next;
        free(b->channel);
        free(b->service);
        free(b);
        b = next;
    }
}

static void forget_batches(struct mcast *m)
{
    hash_clear(&m->held_by_id);
    free_list(m->held_head);
    free_list(m->owed_head);
    m->held_head = m->held_tail = m->owed_head = m->owed_tail = NULL;
    m->held_recipients = 0;
}

void mcast_free(struct mcast **mp)
{
    struct mcast *m = *mp;
    if (m == NULL)
        return;
    cancel_ask(m);
    drop_items(m);
    forget_batches(m);
    free(m->service);
    free(m);
    *mp = NULL;
}

/* ---- Discovery ---- */

static iqwait_cb on_answer;

static void ask(struct mcast *m, const char *to, const char *ns, int64_t now_ms)
{
    const char *id = iqwait_add(m->iqw, "mc-", to, now_ms + m->o.request_timeout_ms, on_answer, m);
    struct xml_node *iq;
    if (id == NULL) {
        log_warning("fanout: cannot ask %s for multicast (not a JID); one stanza per watcher", to);
        m->state = M_OFF;
        m->next_ask_ms = now_ms + MCAST_RECHECK_MS;
        return;
    }
    cs_strlcpy(m->asking, id, sizeof(m->asking));
    iq = stanza_iq_query(m->from, to, m->asking, ns, NULL);
    if (out_stanza(m->out, iq) != 0)
        log_debug("fanout: multicast discovery not sent: link down");
    xml_free(iq);
}

static void start_discovery(struct mcast *m, int64_t now_ms)
{
    cancel_ask(m);
    drop_items(m);
    free(m->service);
    m->service = NULL;
    m->next_ask_ms = 0;
    if (!m->o.enabled || m->iqw == NULL) {
        m->state = M_OFF;
        return;
    }
    m->state = M_INFO;
    ask(m, m->o.domain, NS_DISCO_INFO, now_ms);
}

/* The presence limit in a disco#info answer's extended information, or
 * 0 when it shows none (XEP-0128: a form of type result whose hidden
 * FORM_TYPE is the XEP-0033 namespace). */
static unsigned shown_limit(const struct xml_node *query)
{
    for (const struct xml_node *x = xml_first_elem(query); x; x = xml_next_elem(x)) {
        bool ours = false;
        unsigned limit = 0;
        if (strcmp(x->name, "x") != 0 || strcmp(xml_ns(x), NS_DATA) != 0)
            continue;
        for (const struct xml_node *f = xml_first_elem(x); f; f = xml_next_elem(f)) {
            const char *var = xml_attr(f, "var");
            struct xml_node *v = xml_child(f, "value", NS_DATA);
            char *text;
            int64_t n;
            if (strcmp(f->name, "field") != 0 || var == NULL || v == NULL)
                continue;
            text = xml_text_dup(v);
            if (strcmp(var, "FORM_TYPE") == 0)
                ours = strcmp(text, NS_ADDRESS) == 0;
            else if (strcmp(var, "presence") == 0 && cs_parse_int(text, 1, 1000000, &n) == 0)
                limit = (unsigned)n;
            free(text);
        }
        if (ours)
            return limit;
    }
    return 0;
}

static bool has_feature(const struct xml_node *query)
{
    for (const struct xml_node *f = xml_first_elem(query); f; f = xml_next_elem(f)) {
        const char *var = xml_attr(f, "var");
        if (strcmp(f->name, "feature") == 0 && var && strcmp(var, NS_ADDRESS) == 0)
            return true;
    }
    return false;
}

static void found(struct mcast *m, const char *service, unsigned shown, int64_t now_ms)
{
    unsigned limit = shown ? shown : MCAST_DEFAULT_LIMIT;
    char *copy = xstrdup(service); /* service may be one of the items */
    if (limit > m->o.max_addresses)
        limit = m->o.max_addresses;
    drop_items(m);
    free(m->service);
    m->service = copy;
    m->limit = limit;
    m->gen++;
    /* Asked again now and then: a service removed at run time (nothing
     * answers for a batch it never sees) is noticed within this. */
    m->next_ask_ms = now_ms + MCAST_RECHECK_MS;
    if (limit < 2) {
        /* One address per stanza saves nothing. */
        log_info("fanout: multicast service %s takes %u address(es) per stanza; not used", service,
                 limit);
        m->state = M_OFF;
        return;
    }
    m->state = M_READY;
    log_info("fanout: multicast through %s, up to %u watchers per stanza%s", m->service, limit,
             shown ? "" : " (no limit shown)");
}

static void nothing_found(struct mcast *m, int64_t now_ms)
{
    drop_items(m);
    m->state = M_OFF;
    m->next_ask_ms = now_ms + MCAST_RECHECK_MS;
    log_info("fanout: %s offers no multicast service (XEP-0033); one stanza per watcher",
             m->o.domain);
}

static void next_item(struct mcast *m, int64_t now_ms)
{
    if (m->item >= m->nitems) {
        nothing_found(m, now_ms);
        return;
    }
    m->state = M_ITEM_INFO;
    ask(m, m->items[m->item++], NS_DISCO_INFO, now_ms);
}

static void take_items(struct mcast *m, const struct xml_node *query)
{
    for (const struct xml_node *it = xml_first_elem(query); it; it = xml_next_elem(it)) {
        const char *jid = xml_attr(it, "jid");
        struct jid j;
        if (m->nitems >= MCAST_ITEMS_MAX)
            break;
        if (strcmp(it->name, "item") != 0 || jid == NULL || xml_attr(it, "node"))
            continue;
        if (jid_parse(jid, &j) != 0)
            continue;
        /* A service is a domain of its own (multicast.example.org); we
         * are listed too, and know our own answer. */
        if (j.local == NULL && j.resource == NULL && strcmp(j.domain, m->from) != 0) {
            m->items = xrealloc(m->items, (m->nitems + 1) * sizeof(*m->items));
            m->items[m->nitems++] = xstrdup(j.domain);
        }
        jid_deinit(&j);
    }
}

static void on_answer(void *ud, const struct xml_node *answer, int64_t now_ms)
{
    struct mcast *m = ud;
    const char *type = answer ? xml_attr(answer, "type") : NULL;
    const struct xml_node *q = NULL;
    m->asking[0] = '\0';
    if (type && strcmp(type, "result") == 0)
        q = xml_child(answer, "query", m->state == M_ITEMS ? NS_DISCO_ITEMS : NS_DISCO_INFO);
    switch (m->state) {
    case M_INFO:
        if (q && has_feature(q)) {
            found(m, m->o.domain, shown_limit(q), now_ms);
            return;
        }
        m->state = M_ITEMS;
        ask(m, m->o.domain, NS_DISCO_ITEMS, now_ms);
        return;
    case M_ITEMS:
        if (q)
            take_items(m, q);
        next_item(m, now_ms);
        return;
    case M_ITEM_INFO:
        if (q && has_feature(q)) {
            found(m, m->items[m->item - 1], shown_limit(q), now_ms);
            return;
        }
        next_item(m, now_ms);
        return;
    default: return; /* cancelled requests never call back */
    }
}

void mcast_online(struct mcast *m, int64_t now_ms)
{
    start_discovery(m, now_ms);
}

void mcast_offline(struct mcast *m)
{
    cancel_ask(m);
    drop_items(m);
    forget_batches(m);
    free(m->service);
    m->service = NULL;
    m->state = M_OFF;
    m->next_ask_ms = 0;
}

/* ---- Batches held and owed ---- */

/* Takes b off the held FIFO and the id table (b stays allocated). */
static void unhold(struct mcast *m, struct batch *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        m->held_head = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        m->held_tail = b->prev;
    hash_del(&m->held_by_id, b->id);
    m->held_recipients -= b->n;
    b->next = b->prev = NULL;
}

void mcast_tick(struct mcast *m, int64_t now_ms)
{
    while (m->held_head && now_ms - m->held_head->sent_ms >= MCAST_HOLD_MS) {
        struct batch *b = m->held_head;
        unhold(m, b);
        free_list(b);
    }
    if ((m->state == M_OFF || m->state == M_SUSPENDED || m->state == M_READY) && m->next_ask_ms &&
        now_ms >= m->next_ask_ms)
        start_discovery(m, now_ms);
}

const char *mcast_service(const struct mcast *m, unsigned *limit_r)
{
    if (m == NULL || m->state != M_READY)
        return NULL;
    *limit_r = m->limit;
    return m->service;
}

bool mcast_batchable(const struct mcast *m, const char *jid)
{
    const char *at = strchr(jid, '@');
    return at && strcmp(at + 1, m->o.domain) == 0;
}

void mcast_sent(struct mcast *m, const char *id, const char *channel, const char *const *jids,
                unsigned n, int64_t now_ms)
{
    size_t len = 0, off = 0;
    struct batch *b;
    for (unsigned i = 0; i < n; i++)
        len += strlen(jids[i]) + 1;
    b = xmalloc(sizeof(*b) + len);
    b->next = b->prev = NULL;
    cs_strlcpy(b->id, id, sizeof(b->id));
    b->gen = m->gen;
    b->sent_ms = now_ms;
    b->n = n;
    b->pos = 0;
    b->off = 0;
    b->channel = xstrdup(channel);
    b->service = xstrdup(m->service ? m->service : "");
    for (unsigned i = 0; i < n; i++) {
        size_t l = strlen(jids[i]) + 1;
        memcpy(b->jids + off, jids[i], l);
        off += l;
    }
    /* Bounded: the oldest held batches go first (their errors, if any,
     * came long ago on a local link). */
    while (m->held_head && m->held_recipients + n > MCAST_HOLD_MAX) {
        struct batch *old = m->held_head;
        unhold(m, old);
        free_list(old);
    }
    if (hash_put(&m->held_by_id, b->id, b) != NULL)
        log_error("fanout: multicast batch id %s used twice", b->id); /* never: ids are fresh */
    b->prev = m->held_tail;
    if (m->held_tail)
        m->held_tail->next = b;
    else
        m->held_head = b;
    m->held_tail = b;
    m->held_recipients += n;
    m->stats.batches++;
    m->stats.batched += n;
}

bool mcast_refused(struct mcast *m, const struct stanza_in *in)
{
    const char *id = xml_attr(in->xml, "id");
    struct batch *b;
    char *from;
    bool ours;
    if (m == NULL || id == NULL || !in->from_ok)
        return false;
    b = hash_get(&m->held_by_id, id);
    if (b == NULL)
        return false;
    from = jid_bare(&in->from);
    ours = strcmp(from, b->service) == 0 && in->from.resource == NULL;
    free(from);
    if (!ours)
        return false; /* only the service answers for a batch */
    unhold(m, b);
    if (m->owed_tail)
        m->owed_tail->next = b;
    else
        m->owed_head = b;
    m->owed_tail = b;
    m->stats.refused++;
    log_info("fanout: multicast batch %s of %s refused by %s; its %u watchers are sent "
             "one stanza each",
             b->id, b->channel, b->service, b->n);
    if (m->state == M_READY && b->gen == m->gen) {
        int64_t now_ms = in->now_ms;
        if (m->rediscover_ms == 0 || now_ms - m->rediscover_ms >= m->o.retry_ms) {
            /* Perhaps a lowered limit: learnt in one round trip. */
            m->rediscover_ms = now_ms;
            start_discovery(m, now_ms);
        } else {
            m->state = M_SUSPENDED;
            m->next_ask_ms = m->rediscover_ms + m->o.retry_ms;
            log_warning("fanout: multicast service %s refused again; one stanza per watcher "
                        "for %lld s",
                        m->service, (long long)((m->next_ask_ms - now_ms) / MS_PER_S));
        }
    }
    return true;
}

bool mcast_owed(const struct mcast *m, const char **channel_r, const char **jid_r)
{
    if (m == NULL || m->owed_head == NULL)
        return false;
    *channel_r = m->owed_head->channel;
    *jid_r = m->owed_head->jids + m->owed_head->off;
    return true;
}

void mcast_owed_pop(struct mcast *m)
{
    struct batch *b = m->owed_head;
    b->off += strlen(b->jids + b->off) + 1;
    m->stats.fallbacks++;
    if (++b->pos < b->n)
        return;
    m->owed_head = b->next;
    if (m->owed_head == NULL)
        m->owed_tail = NULL;
    b->next = NULL;
    free_list(b);
}

const struct mcast_stats *mcast_stats(const struct mcast *m)
{
    return &m->stats;
}
