/* pep.c - PEP events of channels to +notify resources and property
 * subscribers (see cs_pep.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_capsver.h"
#include "cs_config.h"
#include "cs_error.h"
#include "cs_iqwait.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_pep.h"
#include "cs_util.h"
#include "pep_priv.h"

/* Events per pump call, as for the status fan-out. */
#define PEP_STEP 16384

struct pep *pep_new(const struct pep_deps *deps, const struct pep_limits *limits)
{
    struct pep *p = xcalloc(1, sizeof(*p));
    p->d = *deps;
    p->lim = *limits;
    return p;
}

void pep_use_clock(struct pep *p, const struct cs_clock *clock)
{
    p->d.clock = clock;
}

int64_t pep_wall_s(const struct pep *p, int64_t now_ms)
{
    return cs_wall_of(p->d.clock, now_ms) / MS_PER_S;
}

const struct pep_stats *pep_stats(const struct pep *p)
{
    return &p->stats;
}

/* ---- Capabilities ---- */

static void free_waiters(struct caps *k)
{
    while (k->waiters) {
        struct waiter *w = k->waiters;
        k->waiters = w->next;
        free(w->channel);
        free(w);
    }
}

static void caps_free(struct caps *k)
{
    if (k->state == CAPS_ASKING)
        iqwait_cancel(k->pep->d.iqwait, k->id);
    free_waiters(k);
    free(k->ver);
    free(k->ask_node);
    free(k->ask_jid);
    free(k->ask_from);
    free(k);
}

/* Makes room for one more 'ver': drops those no resource uses and that
 * are not being asked or waiting to be.  O(kept), once per fill. */
static bool caps_room(struct pep *p)
{
    size_t pos = 0, nv = 0;
    const char *key;
    void *v;
    struct caps **victims;
    if (p->ncaps < PEP_CAPS_MAX)
        return true;
    victims = xmalloc(p->ncaps * sizeof(*victims));
    while (hash_next(&p->caps, &pos, &key, &v)) {
        struct caps *k = v;
        if (k->refs == 0 && (k->state == CAPS_KNOWN || k->state == CAPS_BAD))
            victims[nv++] = k;
    }
    for (size_t i = 0; i < nv; i++) {
        hash_del(&p->caps, victims[i]->ver);
        caps_free(victims[i]);
        p->ncaps--;
    }
    free(victims);
    if (p->ncaps < PEP_CAPS_MAX)
        return true;
    if (!p->full_logged)
        log_warning("props: %d capability hashes in use; new ones are not resolved", PEP_CAPS_MAX);
    p->full_logged = true;
    return false;
}

static void ask_next(struct pep *p, int64_t now_ms);

static void caps_queue(struct pep *p, struct caps *k, int64_t now_ms)
{
    k->state = CAPS_QUEUED;
    k->next_queued = NULL;
    if (p->q_tail)
        p->q_tail->next_queued = k;
    else
        p->q_head = k;
    p->q_tail = k;
    ask_next(p, now_ms);
}

static unsigned notify_of(const struct xml_node *query)
{
    unsigned mask = 0;
    for (const struct xml_node *f = xml_first_elem(query); f; f = xml_next_elem(f)) {
        const char *var = xml_attr(f, "var");
        size_t n;
        int node;
        char buf[128];
        if (strcmp(f->name, "feature") != 0 || var == NULL)
            continue;
        n = strlen(var);
        if (n <= 7 || n - 7 >= sizeof(buf) || strcmp(var + n - 7, "+notify") != 0)
            continue;
        memcpy(buf, var, n - 7);
        buf[n - 7] = '\0';
        node = pep_node_of(buf);
        if (node >= 0)
            mask |= 1u << node;
    }
    return mask;
}

static void send_current_to(struct pep *p, struct channel *c, unsigned mask, const char *to);

/* The resources that waited for k get the items they want. */
static void caps_resolved(struct pep *p, struct caps *k)
{
    while (k->waiters) {
        struct waiter *w = k->waiters;
        struct pepchan *pc = hash_get(&p->chans, w->channel);
        struct pepres *r = pc ? hash_get(&pc->res, w->full) : NULL;
        struct channel *c = r ? chancache_loaded(p->d.cache, w->channel) : NULL;
        k->waiters = w->next;
        if (c && r->caps == k && !r->use_own && k->state == CAPS_KNOWN && k->notify)
            send_current_to(p, c, k->notify, w->full);
        free(w->channel);
        free(w);
    }
}

static void on_caps_answer(void *ud, const struct xml_node *answer, int64_t now_ms)
{
    struct caps *k = ud;
    struct pep *p = k->pep;
    const char *type = answer ? xml_attr(answer, "type") : NULL;
    const struct xml_node *q = answer ? xml_child(answer, "query", NS_DISCO_INFO) : NULL;
    char ver[CAPSVER_LEN];

    p->inflight--;
    k->id[0] = '\0';
    if (type && strcmp(type, "result") == 0 && q && capsver_sha1(q, ver) == 0 &&
        strcmp(ver, k->ver) == 0) {
        k->state = CAPS_KNOWN;
        k->notify = notify_of(q);
        log_debug("props: capabilities %s resolved (notify mask %u)", k->ver, k->notify);
    } else {
        k->state = CAPS_BAD;
        k->retry_at = now_ms + PEP_CAPS_RETRY_MS;
        if (type && strcmp(type, "result") == 0 && q) {
            /* Section 5.4: not cached, but good for the one who sent it. */
            struct waiter *w;
            p->stats.caps_unverified++;
            log_info("props: %s answered for 'ver' %s with features that hash otherwise; "
                     "used for it alone",
                     k->ask_jid, k->ver);
            for (w = k->waiters; w; w = w->next) {
                struct pepchan *pc = hash_get(&p->chans, w->channel);
                struct pepres *r = pc ? hash_get(&pc->res, w->full) : NULL;
                struct channel *c = r ? chancache_loaded(p->d.cache, w->channel) : NULL;
                if (r && r->caps == k && strcmp(w->full, k->ask_jid) == 0) {
                    r->own = notify_of(q);
                    r->use_own = true;
                    if (c && r->own)
                        send_current_to(p, c, r->own, w->full);
                }
            }
        }
    }
    caps_resolved(p, k);
    ask_next(p, now_ms);
}

static void ask_next(struct pep *p, int64_t now_ms)
{
    while (p->q_head && p->inflight < PEP_CAPS_INFLIGHT) {
        struct caps *k = p->q_head;
        const char *id;
        struct xml_node *iq;
        p->q_head = k->next_queued;
        if (p->q_head == NULL)
            p->q_tail = NULL;
        if (k->refs == 0) {
            /* Nobody announces it any more (a resource that changed its
             * 'ver' or left while it waited): not asked, and free to be
             * dropped, so that a flood of 'ver's holds no room. */
            k->state = CAPS_BAD;
            k->retry_at = 0;
            free_waiters(k);
            continue;
        }
        id = iqwait_add(p->d.iqwait, "cp", k->ask_jid, now_ms + PEP_CAPS_TIMEOUT_MS, on_caps_answer,
                        k);
        if (id == NULL) {
            k->state = CAPS_BAD;
            k->retry_at = now_ms + PEP_CAPS_RETRY_MS;
            free_waiters(k);
            continue;
        }
        cs_strlcpy(k->id, id, sizeof(k->id));
        k->state = CAPS_ASKING;
        p->inflight++;
        p->stats.caps_lookups++;
        iq = stanza_iq_query(k->ask_from, k->ask_jid, k->id, NS_DISCO_INFO, k->ask_node);
        if (out_stanza(p->d.out, iq) != 0)
            log_debug("props: disco#info to %s not sent: link down", k->ask_jid);
        xml_free(iq);
    }
}

/* ---- Resources ---- */

struct pepchan *pepchan_get(struct pep *p, const char *name, bool create)
{
    struct pepchan *pc = hash_get(&p->chans, name);
    if (pc || !create)
        return pc;
    pc = xcalloc(1, sizeof(*pc));
    pc->name = xstrdup(name);
    pc->cur = -1;
    hash_put(&p->chans, pc->name, pc);
    return pc;
}

static void res_drop(struct pepchan *pc, struct pepres *r)
{
    struct bare_count *bc = hash_get(&pc->per_bare, r->bare);
    hash_del(&pc->res, r->full);
    if (bc && --bc->n == 0) {
        hash_del(&pc->per_bare, bc->bare);
        free(bc);
    }
    if (r->caps)
        r->caps->refs--;
    free(r->bare);
    free(r);
}

/* Points r at the caps of ver (found or made); true when r's features
 * are already known. */
static void res_set_caps(struct pep *p, struct channel *c, struct pepres *r, const char *node,
                         const char *ver, int64_t now_ms)
{
    struct caps *k = hash_get(&p->caps, ver);
    if (r->caps == k && k)
        return; /* the same 'ver' again: nothing new to send */
    if (r->caps)
        r->caps->refs--;
    r->caps = NULL;
    r->use_own = false;
    r->own = 0;
    if (k == NULL) {
        if (!caps_room(p))
            return;
        k = xcalloc(1, sizeof(*k));
        k->pep = p;
        k->ver = xstrdup(ver);
        k->state = CAPS_BAD; /* until queued below */
        hash_put(&p->caps, k->ver, k);
        p->ncaps++;
    }
    r->caps = k;
    k->refs++;
    if (k->state == CAPS_KNOWN) {
        if (k->notify)
            send_current_to(p, c, k->notify, r->full);
        return;
    }
    if (k->state == CAPS_BAD && k->retry_at > now_ms)
        return;
    {
        size_t len = strlen(r->full);
        struct waiter *w = xmalloc(sizeof(*w) + len + 1);
        memcpy(w->full, r->full, len + 1);
        w->channel = xstrdup(c->name);
        w->next = k->waiters;
        k->waiters = w;
    }
    if (k->state == CAPS_BAD) {
        struct strbuf sb = {0};
        strbuf_printf(&sb, "%s#%s", node, ver);
        free(k->ask_node);
        free(k->ask_jid);
        free(k->ask_from);
        k->ask_node = sb.data;
        k->ask_jid = xstrdup(r->full);
        k->ask_from = xstrdup(c->jid);
        caps_queue(p, k, now_ms);
    }
}

void pep_presence(struct pep *p, struct channel *c, const struct stanza_in *in)
{
    const char *contact = in->sender;
    bool available = in->type == NULL;
    struct pepchan *pc = pepchan_get(p, c->name, false);
    const struct xml_node *caps = xml_child(in->xml, "c", NS_CAPS);
    const char *hash = caps ? xml_attr(caps, "hash") : NULL;
    const char *node = caps ? xml_attr(caps, "node") : NULL;
    const char *ver = caps ? xml_attr(caps, "ver") : NULL;
    struct pepres *r;
    char *full;

    if (in->from.resource == NULL)
        return;
    full = jid_full(&in->from);
    r = pc ? hash_get(&pc->res, full) : NULL;
    if (!available || !watchers_has(c, contact) || channel_via(c, contact)) {
        if (r)
            res_drop(pc, r);
        free(full);
        return;
    }
    /* Only SHA-1 'ver's can be checked (XEP-0115 section 5.4); others,
     * and legacy caps without 'hash', are not asked about. */
    if (hash == NULL || strcmp(hash, "sha-1") != 0 || node == NULL || ver == NULL ||
        strlen(ver) != CAPSVER_LEN - 1 || strlen(node) > 1024) {
        if (r)
            res_drop(pc, r);
        free(full);
        return;
    }
    if (r == NULL) {
        struct bare_count *bc;
        size_t len = strlen(full);
        pc = pepchan_get(p, c->name, true);
        bc = hash_get(&pc->per_bare, contact);
        if (bc && bc->n >= PEP_MAX_RESOURCES) {
            log_debug("props: %s has %d resources at %s; %s not kept", contact, PEP_MAX_RESOURCES,
                      c->name, full);
            free(full);
            return;
        }
        if (bc == NULL) {
            size_t bl = strlen(contact);
            bc = xcalloc(1, sizeof(*bc) + bl + 1);
            memcpy(bc->bare, contact, bl + 1);
            hash_put(&pc->per_bare, bc->bare, bc);
        }
        bc->n++;
        r = xcalloc(1, sizeof(*r) + len + 1);
        memcpy(r->full, full, len + 1);
        r->bare = xstrdup(contact);
        hash_put(&pc->res, r->full, r);
    }
    free(full);
    res_set_caps(p, c, r, node, ver, in->now_ms);
}

/* ---- Items and events ---- */

bool pep_may_see(const struct channel *c, const char *bare)
{
    return c->policy == POLICY_OPEN || watchers_has(c, bare) ||
           (c->owner && strcmp(c->owner, bare) == 0);
}

struct xml_node *pep_current_item(struct pep *p, struct channel *c, enum pep_node node, int *err_r)
{
    struct chanprops_row row;
    struct xml_node *it;
    int r;
    *err_r = 0;
    if (c->remote) {
        /* What the home sent, if anything yet. */
        struct pepchan *pc = pepchan_get(p, c->name, false);
        return pc && pc->remote_item[node] ? xml_copy(pc->remote_item[node]) : NULL;
    }
    r = p->d.cache->props ? chanprops_get(p->d.cache->props, c->name, &row) : CS_EDB;
    if (r != 0) {
        *err_r = r == CS_ENOTFOUND ? CS_ENOTFOUND : CS_EDB;
        return NULL;
    }
    struct pep_source src = {c->name, c->display_name, &row, c->photo};
    it = pep_item(node, &src);
    chanprops_row_free(&row);
    return it;
}

/* The event of node (its current item), serialised once per change;
 * NULL when the node has no item or the properties cannot be read. */
static const char *event_of(struct pep *p, struct pepchan *pc, struct channel *c,
                            enum pep_node node)
{
    if (!(pc->built_items & (1u << node))) {
        int err;
        struct xml_node *it = pep_current_item(p, c, node, &err), *ev, *items;
        struct strbuf sb = {0};
        if (err == CS_EDB)
            return NULL; /* logged by the store; tried again at the next use */
        ev = xml_elem_new("event", NS_PUBSUB_EVENT);
        items = xml_add_child(ev, "items", NULL);
        xml_set_attr(items, "node", pep_node_name(node));
        if (it)
            xml_append(items, it);
        xml_serialize(ev, XML_NS_COMPONENT, &sb);
        xml_free(ev);
        free(pc->event[node]);
        pc->event[node] = it ? sb.data : NULL;
        if (it == NULL)
            strbuf_free(&sb);
        pc->built_items |= 1u << node;
    }
    return pc->event[node];
}

/* One event message: to, from the channel, headline (XEP-0060 7.1.2). */
static int write_event(struct pep *p, const struct channel *c, const char *to, const char *event)
{
    struct strbuf *sb = &p->scratch;
    sb->len = 0;
    strbuf_append_str(sb, "<message to='");
    xml_escape(sb, to, strlen(to), true);
    strbuf_append_str(sb, "' from='");
    xml_escape(sb, c->jid, strlen(c->jid), true);
    strbuf_append_str(sb, "' type='headline'>");
    strbuf_append_str(sb, event);
    strbuf_append_str(sb, "</message>");
    if (out_raw(p->d.out, sb->data, sb->len) != 0)
        return CS_ENOTCONN;
    p->stats.events++;
    return 0;
}

static void send_current_to(struct pep *p, struct channel *c, unsigned mask, const char *to)
{
    struct pepchan *pc = pepchan_get(p, c->name, true);
    for (int n = 0; n < PEP_NNODES; n++) {
        const char *ev = (mask & (1u << n)) ? event_of(p, pc, c, (enum pep_node)n) : NULL;
        if (ev && write_event(p, c, to, ev) != 0)
            log_debug("props: event to %s not sent: link down", to);
    }
}

void pep_send_current(struct pep *p, struct channel *c, unsigned mask, const char *to)
{
    send_current_to(p, c, mask, to);
}

static void targets_free(struct pepchan *pc)
{
    for (unsigned i = 0; i < pc->ntargets; i++)
        free(pc->targets[i]);
    free(pc->targets);
    pc->targets = NULL;
    pc->ntargets = pc->pos = 0;
}

void pep_changed(struct pep *p, struct channel *c, unsigned changed)
{
    unsigned nodes = 0;
    struct pepchan *pc;
    if (changed & CHANNEL_CHANGED_AVATAR)
        nodes |= 1u << PEP_AVATAR_META | 1u << PEP_AVATAR_DATA;
    if (changed & CHANNEL_CHANGED_NAME)
        nodes |= 1u << PEP_NICK | 1u << PEP_VCARD4;
    if (changed & CHANNEL_CHANGED_TEXT)
        nodes |= 1u << PEP_VCARD4;
    if (nodes == 0)
        return;
    pc = pepchan_get(p, c->name, true);
    pep_queue_nodes(p, pc, nodes);
}

void pep_queue_nodes(struct pep *p, struct pepchan *pc, unsigned nodes)
{
    pc->built_items &= ~nodes;
    pc->dirty |= nodes;
    if (pc->cur >= 0 && (nodes & (1u << pc->cur))) {
        /* The one being sent changed: it starts over, newest item. */
        targets_free(pc);
        pc->cur = -1;
    }
    if (pc->queued)
        return;
    pc->queued = true;
    pc->next = NULL;
    if (p->ev_tail)
        p->ev_tail->next = pc;
    else
        p->ev_head = pc;
    p->ev_tail = pc;
}

struct collect {
    struct pep *p;
    struct pepchan *pc;
    const struct channel *c;
    struct hash leased; /* bare JIDs with a subscription: key = the target */
    unsigned cap;
};

static void push_target(struct collect *k, const char *jid)
{
    struct pepchan *pc = k->pc;
    if (pc->ntargets == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 64;
        pc->targets = xrealloc(pc->targets, k->cap * sizeof(*pc->targets));
    }
    pc->targets[pc->ntargets++] = xstrdup(jid);
}

static void on_sub(void *ud, const char *node, const char *jid, int64_t expires)
{
    struct collect *k = ud;
    if (!channel_jid_ok(jid) || !pep_may_see(k->c, jid) || hash_get(&k->leased, jid))
        return;
    push_target(k, jid);
    hash_put(&k->leased, k->pc->targets[k->pc->ntargets - 1], k);
}

/* Who gets node's event now: subscribers whose lease runs, then resources
 * that want it of watchers without a subscription.  O(subscribers +
 * resources of the channel).  false on a database error. */
static bool collect_targets(struct pep *p, struct pepchan *pc, struct channel *c,
                            enum pep_node node, int64_t now_ms)
{
    struct collect k = {.p = p, .pc = pc, .c = c};
    size_t pos = 0;
    const char *key;
    void *v;
    targets_free(pc);
    if (p->d.subs && propsub_each(p->d.subs, c->name, pep_node_name(node), pep_wall_s(p, now_ms),
                                  on_sub, &k) != 0) {
        targets_free(pc);
        hash_clear(&k.leased);
        return false;
    }
    /* Chanstat nodes subscribed to a local channel (their JID is a bare
     * domain): every node's events, for their own local watchers.
     * O(watchers), once per node's change. */
    for (unsigned i = 0; c->remote == NULL && i < c->nwatchers; i++)
        if (strchr(c->watchers[i], '@') == NULL && !hash_get(&k.leased, c->watchers[i]))
            push_target(&k, c->watchers[i]);
    while (hash_next(&pc->res, &pos, &key, &v)) {
        struct pepres *r = v;
        unsigned mask = r->use_own                                ? r->own
                        : r->caps && r->caps->state == CAPS_KNOWN ? r->caps->notify
                                                                  : 0;
        if ((mask & (1u << node)) && watchers_has(c, r->bare) && !channel_via(c, r->bare) &&
            !hash_get(&k.leased, r->bare))
            push_target(&k, r->full);
    }
    hash_clear(&k.leased);
    return true;
}

static void ev_pop(struct pep *p)
{
    struct pepchan *pc = p->ev_head;
    p->ev_head = pc->next;
    if (p->ev_head == NULL)
        p->ev_tail = NULL;
    pc->next = NULL;
    pc->queued = false;
    pc->cur = -1;
    targets_free(pc);
}

bool pep_pump(struct pep *p, int64_t now_ms)
{
    unsigned budget = PEP_STEP;
    while (p->ev_head && budget > 0 && out_room(p->d.out) > 0) {
        struct pepchan *pc = p->ev_head;
        struct channel *c = chancache_loaded(p->d.cache, pc->name);
        const char *ev;
        if (c == NULL || (pc->cur < 0 && pc->dirty == 0)) {
            pc->dirty = 0;
            ev_pop(p);
            continue;
        }
        if (pc->cur < 0) {
            int n = 0;
            while (!(pc->dirty & (1u << n)))
                n++;
            pc->dirty &= ~(1u << n);
            pc->cur = n;
            if (!collect_targets(p, pc, c, (enum pep_node)n, now_ms))
                log_error("props: the event of %s at %s goes to nobody: reading its "
                          "subscriptions failed",
                          pep_node_name((enum pep_node)n), c->name);
        }
        /* NULL: no item, or the properties could not be read (logged). */
        ev = event_of(p, pc, c, (enum pep_node)pc->cur);
        while (ev && pc->pos < pc->ntargets) {
            if (budget == 0 || out_room(p->d.out) == 0)
                return true;
            budget--;
            if (write_event(p, c, pc->targets[pc->pos], ev) != 0)
                return true;
            pc->pos++;
        }
        /* This node is done (or has no item to send). */
        targets_free(pc);
        pc->cur = -1;
        if (pc->dirty == 0)
            ev_pop(p);
    }
    return p->ev_head != NULL;
}

void pep_offline(struct pep *p)
{
    if (p->ev_head && p->ev_head->cur >= 0) {
        struct pepchan *pc = p->ev_head;
        pc->dirty |= 1u << pc->cur;
        pc->cur = -1;
        targets_free(pc);
    }
}

/* ---- Teardown ---- */

static void chan_free(struct pepchan *pc)
{
    size_t pos = 0;
    const char *key;
    void *v;
    while (hash_next(&pc->res, &pos, &key, &v)) {
        struct pepres *r = v;
        if (r->caps)
            r->caps->refs--;
        free(r->bare);
        free(r);
    }
    hash_clear(&pc->res);
    pos = 0;
    while (hash_next(&pc->per_bare, &pos, &key, &v))
        free(v);
    hash_clear(&pc->per_bare);
    for (int i = 0; i < PEP_NNODES; i++) {
        free(pc->event[i]);
        xml_free(pc->remote_item[i]);
    }
    targets_free(pc);
    free(pc->name);
    free(pc);
}

void pep_forget(struct pep *p, struct channel *c)
{
    struct pepchan *pc = hash_get(&p->chans, c->name);
    if (pc == NULL)
        return;
    if (pc->queued) {
        struct pepchan **pp = &p->ev_head, *prev = NULL;
        while (*pp && *pp != pc) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        if (*pp)
            *pp = pc->next;
        if (p->ev_tail == pc)
            p->ev_tail = prev;
    }
    hash_del(&p->chans, pc->name);
    chan_free(pc);
}

void pep_free(struct pep **pp)
{
    struct pep *p = *pp;
    size_t pos = 0;
    const char *key;
    void *v;
    if (p == NULL)
        return;
    while (hash_next(&p->chans, &pos, &key, &v))
        chan_free(v);
    hash_clear(&p->chans);
    pos = 0;
    while (hash_next(&p->caps, &pos, &key, &v))
        caps_free(v);
    hash_clear(&p->caps);
    strbuf_free(&p->scratch);
    free(p);
    *pp = NULL;
}
