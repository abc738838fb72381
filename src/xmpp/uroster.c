/* uroster.c - channels in the users' own server rosters (see cs_uroster.h
 * and doc/privilege.md): who may be synced, the queue of users and the
 * flow control, the iqs written and their answers, roster pushes.  One
 * user's changes are planned in urosterplan.c, the SQL is in syncdb.c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_config.h"
#include "cs_hash.h"
#include "cs_iqwait.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_stanza.h"
#include "cs_syncdb.h"
#include "cs_uroster.h"
#include "cs_util.h"
#include "uroster_priv.h"

/* Users read from the database per page of a full sync. */
#define FULL_PAGE 64
/* iqs written per pump call before the loop gets its inputs back. */
#define OPS_PER_CALL 256

/* An iq in flight: pending in u->iqwait (which calls op_answer) and in
 * the list u->inflight. */
struct op {
    char id[IQWAIT_ID_MAX];
    enum op_kind kind;
    struct uroster *u;
    struct uuser *user;
    struct item *item; /* SET/REMOVE: owned */
    struct op *prev, *next;
};

/* How a domain's server answers our roster sets. */
struct dstate {
    unsigned long ok; /* sets answered with a result */
    unsigned fails;   /* server failures since the last result */
    bool suspended;   /* fails every set: stopped until the next grant */
    char domain[];
};
/* Server failures (wait/internal-server-error and the like, not a
 * missing user) with no success at all before a domain's sync stops. */
#define SUSPEND_AFTER 8

/* A domain's full sync: its users page by page. */
struct full {
    char *suffix; /* "@domain" */
    char *after;
    int phase; /* 0: roster rows, 1: pushed items only */
};

/* ---- set-up ---- */

struct uroster *uroster_new(struct store *store, struct roster *roster, const char *domain,
                            const struct out *out, const struct privileges *priv, char *err,
                            size_t errlen)
{
    struct uroster *u = xcalloc(1, sizeof(*u));
    u->domain = domain;
    u->out = out;
    u->priv = priv;
    u->db = syncdb_new(store, roster, err, errlen);
    if (u->db == NULL) {
        uroster_free(&u);
        return NULL;
    }
    return u;
}

static void user_clear_todo(struct uuser *us)
{
    for (size_t i = us->itodo; i < us->ntodo; i++)
        uplan_item_free(us->todo[i]);
    free(us->todo);
    free(us->todo_kind);
    us->todo = NULL;
    us->todo_kind = NULL;
    us->ntodo = us->itodo = us->captodo = 0;
}

static void user_free(struct uuser *us)
{
    user_clear_todo(us);
    free(us->jid);
    free(us);
}

static void op_free(struct op *op)
{
    uplan_item_free(op->item);
    free(op);
}

static void inflight_del(struct uroster *u, struct op *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        u->inflight = op->next;
    if (op->next)
        op->next->prev = op->prev;
    u->ninflight--;
    op->user->inflight--;
}

/* Every iq in flight is dropped unanswered: its answer, should one still
 * come, is ignored. */
static void drop_inflight(struct uroster *u)
{
    while (u->inflight) {
        struct op *op = u->inflight;
        iqwait_cancel(u->iqwait, op->id);
        inflight_del(u, op);
        op_free(op);
    }
}

static void drop_dstates(struct uroster *u)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (hash_next(&u->dstates, &pos, &k, &v))
        free(v);
    hash_clear(&u->dstates);
}

static void drop_work(struct uroster *u)
{
    size_t pos = 0;
    const char *k;
    void *v;
    drop_inflight(u);
    drop_dstates(u);
    while (hash_next(&u->users, &pos, &k, &v))
        user_free(v);
    hash_clear(&u->users);
    u->head = u->tail = NULL;
    u->nactive = 0;
    for (size_t i = 0; i < u->nfull; i++) {
        free(u->full[i].suffix);
        free(u->full[i].after);
    }
    free(u->full);
    u->full = NULL;
    u->nfull = 0;
}

void uroster_free(struct uroster **up)
{
    struct uroster *u = *up;
    if (u == NULL)
        return;
    drop_work(u);
    syncdb_free(&u->db);
    strbuf_free(&u->sb);
    free(u);
    *up = NULL;
}

void uroster_on_removed(struct uroster *u, uroster_removed_cb *cb, void *ud)
{
    u->removed = cb;
    u->removed_ud = ud;
}

void uroster_on_added(struct uroster *u, uroster_added_cb *cb, void *ud)
{
    u->added = cb;
    u->added_ud = ud;
}

void uroster_use_iqwait(struct uroster *u, struct iqwait *w)
{
    u->iqwait = w;
}

const struct uroster_stats *uroster_stats(const struct uroster *u)
{
    return &u->stats;
}

bool uroster_idle(const struct uroster *u)
{
    return u->users.n == 0 && u->ninflight == 0 && u->nfull == 0;
}

/* ---- who may be synced ---- */

static const char *domain_of(const char *jid)
{
    const char *at = strchr(jid, '@');
    return at ? at + 1 : NULL;
}

static struct dstate *dstate_of(struct uroster *u, const char *domain)
{
    struct dstate *d = hash_get(&u->dstates, domain);
    if (d == NULL) {
        size_t len = strlen(domain);
        d = xcalloc(1, sizeof(*d) + len + 1);
        memcpy(d->domain, domain, len + 1);
        hash_put(&u->dstates, d->domain, d);
    }
    return d;
}

static const struct privilege *grant_of(const struct uroster *u, const char *domain)
{
    const struct privilege *pv = domain ? privileges_of(u->priv, domain) : NULL;
    const struct dstate *d = domain ? hash_get(&u->dstates, domain) : NULL;
    if (d && d->suspended)
        return NULL;
    return pv && (pv->roster == PRIV_ROSTER_SET || pv->roster == PRIV_ROSTER_BOTH) ? pv : NULL;
}

static bool may_read(const struct privilege *pv)
{
    return pv->roster == PRIV_ROSTER_BOTH || pv->roster == PRIV_ROSTER_GET;
}

/* ---- the queue ---- */

void uroster_touch_user(struct uroster *u, const char *user)
{
    struct uuser *us;
    if (grant_of(u, domain_of(user)) == NULL)
        return;
    us = hash_get(&u->users, user);
    if (us) {
        if (us->active)
            us->again = true; /* synced once more when done */
        return;
    }
    us = xcalloc(1, sizeof(*us));
    us->jid = xstrdup(user);
    hash_put(&u->users, us->jid, us);
    if (u->tail)
        u->tail->next = us;
    else
        u->head = us;
    u->tail = us;
}

static void touch_one(void *ud, const char *user)
{
    uroster_touch_user(ud, user);
}

void uroster_touch_channel(struct uroster *u, const char *channel)
{
    if (syncdb_users_of_channel(u->db, channel, touch_one, u) != 0)
        log_error("uroster: reading the users of channel %s failed", channel);
}

void uroster_forget(struct uroster *u, const char *user, const char *channel)
{
    syncdb_delete(u->db, user, channel);
}

void uroster_granted(struct uroster *u, const char *domain, int64_t now_ms)
{
    size_t len = strlen(domain) + 2;
    struct full *f;
    free(hash_del(&u->dstates, domain)); /* a new session: a new chance */
    if (grant_of(u, domain) == NULL)
        return;
    for (size_t i = 0; i < u->nfull; i++) {
        if (strcmp(u->full[i].suffix + 1, domain) == 0) {
            free(u->full[i].after); /* start over */
            u->full[i].after = xstrdup("");
            u->full[i].phase = 0;
            return;
        }
    }
    u->full = xrealloc(u->full, (u->nfull + 1) * sizeof(*u->full));
    f = &u->full[u->nfull++];
    f->suffix = xmalloc(len);
    snprintf(f->suffix, len, "@%s", domain);
    f->after = xstrdup("");
    f->phase = 0;
    log_info("uroster: %s granted roster access: syncing its users' rosters", domain);
    if (!u->syncing) {
        u->syncing = true;
        u->sync_since = now_ms;
        u->sync_base = u->stats;
    }
}

/* The user page_user() saw last, for the next page of a full sync. */
struct page {
    struct uroster *u;
    char *last;
};

static void page_user(void *ud, const char *jid)
{
    struct page *pg = ud;
    free(pg->last);
    pg->last = xstrdup(jid);
    uroster_touch_user(pg->u, jid);
}

/* Moves a page of the first full sync into the queue.  false on a
 * database error (that sync is dropped until the next grant). */
static bool full_page(struct uroster *u)
{
    struct full *f = &u->full[0];
    struct page pg = {.u = u};
    int rc, n;

    if (f->phase == 0)
        rc = syncdb_watchers_page(u->db, f->suffix, f->after, FULL_PAGE, page_user, &pg, &n);
    else
        rc = syncdb_orphans_page(u->db, f->suffix, f->after, FULL_PAGE, page_user, &pg, &n);
    if (rc != 0) {
        log_error("uroster: reading users to sync failed");
        n = 0;
        f->phase = 1;
    }
    if (pg.last) {
        free(f->after);
        f->after = pg.last;
    }
    if (n < FULL_PAGE) {
        if (f->phase == 0) {
            f->phase = 1;
            free(f->after);
            f->after = xstrdup("");
        } else {
            log_info("uroster: %s: every user queued for the roster sync", f->suffix + 1);
            free(f->suffix);
            free(f->after);
            memmove(u->full, u->full + 1, (u->nfull - 1) * sizeof(*u->full));
            u->nfull--;
        }
    }
    return rc == 0;
}

/* ---- writing iqs ---- */

static struct op *op_new(struct uroster *u, struct uuser *us, enum op_kind kind, struct item *it)
{
    struct op *op = xcalloc(1, sizeof(*op));
    op->kind = kind;
    op->u = u;
    op->user = us;
    op->item = it;
    return op;
}

static void attr(struct strbuf *sb, const char *name, const char *value)
{
    strbuf_printf(sb, " %s='", name);
    xml_escape(sb, value, strlen(value), true);
    strbuf_append(sb, "'", 1);
}

/* Serialises op's iq into u->sb and writes it.  0 or CS_ENOTCONN. */
static int send_op(struct uroster *u, const struct op *op)
{
    struct strbuf *sb = &u->sb;
    const struct item *it = op->item;
    int r;
    sb->len = 0;
    strbuf_printf(sb, "<iq type='%s' id='%s'", op->kind == OP_GET ? "get" : "set", op->id);
    attr(sb, "from", u->domain);
    attr(sb, "to", op->user->jid);
    strbuf_append_str(sb, "><query xmlns='" NS_ROSTER "'");
    if (op->kind == OP_GET) {
        strbuf_append_str(sb, "/></iq>");
    } else {
        strbuf_append_str(sb, "><item");
        strbuf_printf(sb, " jid='");
        xml_escape(sb, it->channel, strlen(it->channel), true);
        strbuf_append(sb, "@", 1);
        xml_escape(sb, u->domain, strlen(u->domain), true);
        strbuf_append(sb, "'", 1);
        if (op->kind == OP_REMOVE) {
            strbuf_append_str(sb, " subscription='remove'/>");
        } else {
            const char *g = it->groups;
            attr(sb, "name", it->name);
            attr(sb, "subscription", it->sub);
            strbuf_append(sb, ">", 1);
            while (*g) {
                const char *nl = strchr(g, '\n');
                size_t n = nl ? (size_t)(nl - g) : strlen(g);
                strbuf_append_str(sb, "<group>");
                xml_escape(sb, g, n, false);
                strbuf_append_str(sb, "</group>");
                g += n + (nl ? 1 : 0);
            }
            strbuf_append_str(sb, "</item>");
        }
        strbuf_append_str(sb, "</query></iq>");
    }
    r = out_raw(u->out, sb->data, sb->len);
    return r;
}

/* Logs the end of a full sync once nothing is left to do. */
static void check_finished(struct uroster *u, int64_t now_ms)
{
    const struct uroster_stats *s = &u->stats, *b = &u->sync_base;
    if (!u->syncing || !uroster_idle(u))
        return;
    u->syncing = false;
    log_info("uroster: roster sync finished in %.1f s: %lu users, %lu items set, %lu removed, "
             "%lu left as the users' own, %lu removed by their users, %lu errors, %lu timeouts",
             (double)(now_ms - u->sync_since) / MS_PER_S, s->users_synced - b->users_synced,
             s->items_set - b->items_set, s->items_removed - b->items_removed,
             s->kept_own - b->kept_own, s->user_removed - b->user_removed, s->errors - b->errors,
             s->timeouts - b->timeouts);
}

static iqwait_cb op_answer;

/* Takes op into flight and writes it.  false when the link is down. */
static bool launch(struct uroster *u, struct op *op, int64_t now_ms)
{
    const char *id = u->iqwait ? iqwait_add(u->iqwait, "ur", op->user->jid,
                                            now_ms + UROSTER_TIMEOUT_MS, op_answer, op)
                               : NULL;
    if (id == NULL) {
        op_free(op);
        return false;
    }
    cs_strlcpy(op->id, id, sizeof(op->id));
    if (send_op(u, op) != 0) {
        iqwait_cancel(u->iqwait, op->id);
        op_free(op);
        return false;
    }
    op->next = u->inflight;
    if (u->inflight)
        u->inflight->prev = op;
    u->inflight = op;
    u->ninflight++;
    op->user->inflight++;
    return true;
}

static void deactivate(struct uroster *u, struct uuser *us)
{
    for (unsigned i = 0; i < u->nactive; i++) {
        if (u->active[i] == us) {
            u->active[i] = u->active[--u->nactive];
            break;
        }
    }
}

/* us has nothing left to write or hear: done, or queued again. */
static void maybe_done(struct uroster *u, struct uuser *us)
{
    if (us->inflight > 0 || us->itodo < us->ntodo || !us->active)
        return;
    user_clear_todo(us);
    deactivate(u, us);
    us->active = false;
    u->stats.users_synced++;
    if (us->again) {
        us->again = false;
        us->next = NULL;
        if (u->tail)
            u->tail->next = us;
        else
            u->head = us;
        u->tail = us;
        return;
    }
    hash_del(&u->users, us->jid);
    user_free(us);
}

/* Starts the first queued user: reads their roster (when allowed) or
 * plans at once. */
static void start_next(struct uroster *u, int64_t now_ms)
{
    struct uuser *us = u->head;
    const struct privilege *pv;
    u->head = us->next;
    if (u->head == NULL)
        u->tail = NULL;
    us->next = NULL;
    us->active = true;
    u->active[u->nactive++] = us;
    pv = grant_of(u, domain_of(us->jid));
    if (pv == NULL) {
        maybe_done(u, us); /* the grant went */
        return;
    }
    if (may_read(pv)) {
        if (launch(u, op_new(u, us, OP_GET, NULL), now_ms))
            u->stats.gets++;
        else
            maybe_done(u, us);
        return;
    }
    uplan_user(u, us, NULL, now_ms);
    maybe_done(u, us);
}

bool uroster_pump(struct uroster *u, int64_t now_ms)
{
    int budget = OPS_PER_CALL;
    while (budget > 0 && out_room(u->out) > 0) {
        bool progressed = false;
        /* Computed changes of active users first. */
        for (unsigned i = 0; i < u->nactive && budget > 0 && out_room(u->out) > 0; i++) {
            struct uuser *us = u->active[i];
            while (us->itodo < us->ntodo && u->ninflight < UROSTER_MAX_INFLIGHT && budget > 0 &&
                   out_room(u->out) > 0) {
                size_t k = us->itodo++;
                struct op *op = op_new(u, us, us->todo_kind[k], us->todo[k]);
                us->todo[k] = NULL;
                budget--;
                progressed = true;
                if (!launch(u, op, now_ms))
                    return false;
            }
        }
        if (u->ninflight >= UROSTER_MAX_INFLIGHT)
            break;
        if (u->head == NULL && u->nfull > 0) {
            full_page(u);
            progressed = true;
        }
        if (u->head && u->nactive < UROSTER_MAX_ACTIVE) {
            start_next(u, now_ms);
            budget--;
            progressed = true;
        }
        if (!progressed)
            break;
    }
    check_finished(u, now_ms);
    return budget == 0 && out_room(u->out) > 0;
}

/* ---- roster pushes from the server ---- */

static bool pushed(struct uroster *u, const char *user, const char *channel)
{
    bool has;
    syncdb_has(u->db, user, channel, &has);
    return has;
}

bool uroster_roster_push(struct uroster *u, const struct stanza_in *in)
{
    const struct xml_node *iq = in->xml;
    const struct xml_node *q = xml_child(iq, "query", NS_ROSTER);
    const struct privilege *pv;
    struct xml_node *r;
    const char *user = in->sender;

    if (q == NULL || !in->from_ok)
        return false;
    pv = in->from.local && !in->from.resource ? grant_of(u, in->from.domain) : NULL;
    if (pv == NULL || !may_read(pv))
        return false;
    for (const struct xml_node *e = xml_first_elem(q); e; e = xml_next_elem(e)) {
        const char *sub = xml_attr(e, "subscription");
        char *channel;
        if (strcmp(e->name, "item") != 0 || sub == NULL || strcmp(sub, "remove") != 0 ||
            (channel = uplan_our_channel(u, xml_attr(e, "jid") ? xml_attr(e, "jid") : "")) == NULL)
            continue;
        if (pushed(u, user, channel)) {
            u->stats.user_removed++;
            log_info("uroster: %s removed %s@%s from their roster; treated as their unsubscribe",
                     user, channel, u->domain);
            syncdb_delete(u->db, user, channel);
            if (u->removed)
                u->removed(u->removed_ud, channel, user, in->now_ms);
        }
        free(channel);
    }
    r = stanza_iq_result(in, u->domain);
    if (out_stanza(u->out, r) != 0)
        log_debug("uroster: answer to a roster push not sent: link down");
    xml_free(r);
    return true;
}

/* ---- answers ---- */

static bool condition_is(const struct xml_node *iq, const char *cond)
{
    const struct xml_node *e = xml_child(iq, "error", NULL);
    for (const struct xml_node *c = e ? xml_first_elem(e) : NULL; c; c = xml_next_elem(c)) {
        if (strcmp(c->name, cond) == 0)
            return true;
    }
    return false;
}

/* A set failed.  A missing user is the user's matter; a server that
 * fails every set (ejabberd 23.01 answers each privileged set with
 * internal-server-error) is not asked 100,000 times. */
static void server_failed(struct uroster *u, const char *user, const struct xml_node *iq)
{
    struct dstate *d;
    if (condition_is(iq, "service-unavailable") || condition_is(iq, "item-not-found") ||
        condition_is(iq, "bad-request"))
        return;
    d = dstate_of(u, domain_of(user));
    if (++d->fails >= SUSPEND_AFTER && d->ok == 0 && !d->suspended) {
        d->suspended = true;
        log_warning("uroster: %s failed the first %d roster sets with a server error; its "
                    "users' rosters are not synced until it grants roster access again (next "
                    "connect)",
                    d->domain, SUSPEND_AFTER);
    }
}

/* What op's answer does: a result, or an error (false ok). */
static void answered(struct uroster *u, struct op *op, const struct xml_node *iq, int64_t now_ms)
{
    const char *type = xml_attr(iq, "type");
    struct uuser *us = op->user;
    bool ok = type && strcmp(type, "result") == 0;
    switch (op->kind) {
    case OP_GET:
        if (ok) {
            uplan_user(u, us, iq, now_ms);
        } else {
            u->stats.errors++;
            log_info("uroster: reading the roster of %s failed; not synced", us->jid);
        }
        break;
    case OP_SET:
        if (ok) {
            u->stats.items_set++;
            dstate_of(u, domain_of(us->jid))->ok++;
            dstate_of(u, domain_of(us->jid))->fails = 0;
            syncdb_put(u->db, us->jid, op->item->channel, op->item->name, op->item->groups,
                       op->item->sub);
            if (op->item->adds && u->added)
                u->added(u->added_ud, op->item->channel, us->jid);
        } else {
            u->stats.errors++;
            log_info("uroster: %s refused the item %s@%s", us->jid, op->item->channel, u->domain);
            server_failed(u, us->jid, iq);
        }
        break;
    case OP_REMOVE:
        if (ok || condition_is(iq, "item-not-found")) {
            if (ok)
                u->stats.items_removed++;
            syncdb_delete(u->db, us->jid, op->item->channel);
        } else {
            u->stats.errors++;
            log_info("uroster: %s refused removing %s@%s", us->jid, op->item->channel, u->domain);
        }
        break;
    }
}

/* The registry's callback for op: its answer (from the user's own
 * address: the registry checked), or NULL when none came within
 * UROSTER_TIMEOUT_MS. */
static void op_answer(void *ud, const struct xml_node *iq, int64_t now_ms)
{
    struct op *op = ud;
    struct uroster *u = op->u;
    struct uuser *us = op->user;

    inflight_del(u, op);
    if (iq) {
        answered(u, op, iq, now_ms);
    } else {
        u->stats.timeouts++;
        log_warning("uroster: no answer from %s's server within %d s; synced again at the next "
                    "grant",
                    us->jid, (int)(UROSTER_TIMEOUT_MS / MS_PER_S));
    }
    op_free(op);
    maybe_done(u, us);
    check_finished(u, now_ms);
}

void uroster_offline(struct uroster *u)
{
    if (u->syncing)
        log_info("uroster: roster sync cut short by the link loss; it starts again at the next "
                 "grant");
    u->syncing = false;
    drop_work(u);
}
