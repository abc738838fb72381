/* channel.c - the home's channel cache: lazy loading, watcher sets. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_channel.h"
#include "cs_chanprops.h"
#include "cs_error.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_util.h"

/* Invalid rows are logged one by one up to this many per load, then
 * counted: a table edited into nonsense must not flood the log. */
#define BAD_ROWS_LOGGED 10

void chancache_init(struct chancache *cc, const char *domain, struct roster *roster)
{
    memset(cc, 0, sizeof(*cc));
    cc->domain = domain;
    cc->roster = roster;
}

struct via {
    char *node;
    char jid[];
};

const char *channel_via(const struct channel *c, const char *contact)
{
    struct via *v = hash_get(&c->via, contact);
    return v ? v->node : NULL;
}

void channel_set_via(struct channel *c, const char *contact, const char *node)
{
    struct via *v = hash_get(&c->via, contact);
    if (v && node == NULL) {
        hash_del(&c->via, contact);
        free(v->node);
        free(v);
    } else if (v) {
        free(v->node);
        v->node = xstrdup(node);
    } else if (node) {
        size_t len = strlen(contact);
        v = xmalloc(sizeof(*v) + len + 1);
        memcpy(v->jid, contact, len + 1);
        v->node = xstrdup(node);
        hash_put(&c->via, v->jid, v);
    }
}

static void free_via(struct channel *c)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (hash_next(&c->via, &pos, &k, &v)) {
        free(((struct via *)v)->node);
        free(v);
    }
    hash_clear(&c->via);
}

void channel_note_state(struct channel *c, const char *contact, enum sub_state state)
{
    bool pending = state == SUB_NONE_IN || state == SUB_NONE_OUT_IN || state == SUB_TO_IN;
    char *own = hash_get(&c->pending, contact); /* the value is the owned key */
    if (pending && own == NULL) {
        own = xstrdup(contact);
        hash_put(&c->pending, own, own);
    } else if (!pending && own) {
        hash_del(&c->pending, contact);
        free(own);
    }
}

static void free_pending(struct channel *c)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (hash_next(&c->pending, &pos, &k, &v))
        free((char *)k);
    hash_clear(&c->pending);
}

static void channel_free(struct chancache *cc, struct channel *c)
{
    free_pending(c);
    free_via(c);
    if (c->remote && cc->hooks.free_remote)
        cc->hooks.free_remote(c->remote);
    for (unsigned i = 0; i < c->nwatchers; i++)
        free(c->watchers[i]);
    free(c->watchers);
    hash_clear(&c->watcher_idx);
    status_set_deinit(&c->status);
    free(c->fan_body);
    free(c->display_name);
    free(c->name);
    free(c->jid);
    free(c->owner);
    free(c);
}

void chancache_deinit(struct chancache *cc)
{
    for (size_t i = 0; i < cc->n; i++)
        channel_free(cc, cc->all[i]);
    free(cc->all);
    hash_clear(&cc->by_name);
    memset(cc, 0, sizeof(*cc));
}

struct channel *chancache_loaded(const struct chancache *cc, const char *name)
{
    return hash_get(&cc->by_name, name);
}

bool channel_jid_ok(const char *s)
{
    struct jid j;
    bool ok;
    char *bare;
    if (s == NULL || jid_parse(s, &j) != 0)
        return false;
    bare = jid_bare(&j);
    ok = j.resource == NULL && strcmp(bare, s) == 0;
    free(bare);
    jid_deinit(&j);
    return ok;
}

static void watcher_move(struct channel *c, unsigned from, unsigned to)
{
    c->watchers[to] = c->watchers[from];
    hash_put(&c->watcher_idx, c->watchers[to], (void *)(uintptr_t)(to + 1));
}

bool watchers_has(const struct channel *c, const char *jid)
{
    return hash_get(&c->watcher_idx, jid) != NULL;
}

void watchers_set(struct channel *c, const char *jid, bool on)
{
    uintptr_t at = (uintptr_t)hash_get(&c->watcher_idx, jid);
    if (on && at == 0) {
        if (c->nwatchers == c->capwatchers) {
            c->capwatchers = c->capwatchers ? c->capwatchers * 2 : 8;
            c->watchers = xrealloc(c->watchers, c->capwatchers * sizeof(*c->watchers));
        }
        c->watchers[c->nwatchers] = xstrdup(jid);
        hash_put(&c->watcher_idx, c->watchers[c->nwatchers], (void *)(uintptr_t)(c->nwatchers + 1));
        c->nwatchers++;
    } else if (!on && at != 0) {
        unsigned i = (unsigned)(at - 1);
        char *gone = c->watchers[i];
        hash_del(&c->watcher_idx, gone);
        if (c->fan_queued && i < c->fan_pos) {
            /* The hole is in the part already sent: fill it with the last
             * sent watcher, so the hole moves to the cursor's edge. */
            if (i != c->fan_pos - 1)
                watcher_move(c, c->fan_pos - 1, i);
            i = --c->fan_pos;
        }
        if (i != c->nwatchers - 1)
            watcher_move(c, c->nwatchers - 1, i); /* an unsent one stays unsent */
        c->nwatchers--;
        free(gone);
    }
}

/* A row whose JID is stored in another spelling than its prepared one
 * (written by hand: "M\xc3\xbcller@a.test"), handled after the rows that
 * are stored prepared, so that one of those wins. */
struct unprepared {
    struct unprepared *next;
    char *stored, *prepared;
    struct sub_row row;
};

struct load_ctx {
    struct chancache *cc;
    struct channel *c;
    unsigned logged;
    struct hash nodes_with_watchers; /* node -> (void *)1 */
    struct unprepared *unprepared;   /* owned list */
    char *owner_stored;              /* the owner as stored, when not prepared */
};

static void bad_row(struct load_ctx *lc, const char *what, const char *value)
{
    lc->cc->bad_rows++;
    if (lc->logged++ < BAD_ROWS_LOGGED)
        log_warning("channel: %s: %s '%s' is not a normalised bare JID; row ignored",
                    lc->c ? lc->c->name : "?", what, value);
}

static void item(struct load_ctx *lc, const char *jid, const struct sub_row *row);

static void on_item(void *ud, const char *jid, const struct sub_row *row)
{
    struct load_ctx *lc = ud;
    char *prepared = channel_jid_ok(jid) ? NULL : jid_prep_bare(jid);
    if (prepared) {
        struct unprepared *u = xmalloc(sizeof(*u));
        u->stored = xstrdup(jid);
        u->prepared = prepared;
        u->row = *row;
        u->next = lc->unprepared;
        lc->unprepared = u;
        return;
    }
    item(lc, jid, row);
}

/* The rows stored in another spelling are stored prepared (doc/schema.md)
 * and used under the prepared JID; a row whose prepared JID has a row
 * already is a second spelling of one JID: ignored, the prepared row
 * counts.  Each is logged when found: once for a row stored prepared,
 * once per load for an ignored one.  When the database refuses the write,
 * the row is used prepared for this load and logged again at the next. */
static void prepare_rows(struct load_ctx *lc)
{
    struct roster *r = lc->cc->roster;
    while (lc->unprepared) {
        struct unprepared *u = lc->unprepared;
        int rc = roster_prepare_jid(r, lc->c->name, u->stored, u->prepared, false);
        lc->unprepared = u->next;
        if (rc == CS_ENOTFOUND) {
            log_warning("channel: %s: roster jid '%s' is '%s' prepared, which has a row of its "
                        "own; row ignored",
                        lc->c->name, u->stored, u->prepared);
        } else {
            if (rc == 0)
                log_warning("channel: %s: roster jid '%s' stored prepared as '%s'", lc->c->name,
                            u->stored, u->prepared);
            else
                log_warning("channel: %s: roster jid '%s' used as '%s' (storing it prepared "
                            "failed)",
                            lc->c->name, u->stored, u->prepared);
            if (rc == 0 ||
                (!hash_get(&lc->c->pending, u->prepared) && !watchers_has(lc->c, u->prepared)))
                item(lc, u->prepared, &u->row);
        }
        free(u->stored);
        free(u->prepared);
        free(u);
    }
    if (lc->owner_stored && lc->c->owner) {
        int rc = roster_prepare_jid(r, lc->c->name, lc->owner_stored, lc->c->owner, true);
        log_warning("channel: %s: owner '%s' %s '%s'", lc->c->name, lc->owner_stored,
                    rc == 0 ? "stored prepared as" : "used as (storing it prepared failed)",
                    lc->c->owner);
        free(lc->owner_stored);
        lc->owner_stored = NULL;
    }
}

/* What a failed load leaves of the rows above. */
static void unprepared_free(struct load_ctx *lc)
{
    while (lc->unprepared) {
        struct unprepared *u = lc->unprepared;
        lc->unprepared = u->next;
        free(u->stored);
        free(u->prepared);
        free(u);
    }
    free(lc->owner_stored);
    lc->owner_stored = NULL;
}

static void item(struct load_ctx *lc, const char *jid, const struct sub_row *row)
{
    if (channel_jid_ok(jid))
        channel_note_state(lc->c, jid, row->state);
    if (sub_is_watcher(row->state) && channel_via(lc->c, jid)) {
        /* A vouched watcher's status goes to its node, which therefore
         * may have it (approve and closed channels). */
        struct via *v = hash_get(&lc->c->via, jid);
        hash_put(&lc->nodes_with_watchers, v->node, (void *)1);
        return;
    }
    if (!sub_is_watcher(row->state))
        return;
    if (!channel_jid_ok(jid)) {
        bad_row(lc, "roster jid", jid);
        return;
    }
    watchers_set(lc->c, jid, true);
}

static void on_via(void *ud, const char *jid, const char *node, const char *unused)
{
    channel_set_via(ud, jid, node);
}

/* A node holding a lease gets status: always for an open channel, else
 * only while it has a watcher the owner approved (doc/federation.md). */
static void on_lease(void *ud, const char *node, const char *expires, const char *unused)
{
    struct load_ctx *lc = ud;
    watchers_set(lc->c, node,
                 lc->c->policy == POLICY_OPEN || hash_get(&lc->nodes_with_watchers, node) != NULL);
}

static void on_channel(void *ud, const char *name, const char *owner, enum channel_policy policy)
{
    struct load_ctx *lc = ud;
    struct channel *c = xcalloc(1, sizeof(*c));
    size_t len = strlen(name) + strlen(lc->cc->domain) + 2;

    c->name = xstrdup(name);
    c->jid = xmalloc(len);
    snprintf(c->jid, len, "%s@%s", name, lc->cc->domain);
    c->policy = policy;
    lc->c = c;
    if (owner && channel_jid_ok(owner))
        c->owner = xstrdup(owner);
    else if (owner) {
        char *prepared = jid_prep_bare(owner);
        if (prepared && strchr(prepared, '@')) {
            c->owner = prepared;
            lc->owner_stored = xstrdup(owner); /* stored prepared by prepare_rows() */
        } else {
            free(prepared);
            bad_row(lc, "owner", owner);
        }
    }
}

/* Into the dense array (by index) and the table (by name). */
static void cache_insert(struct chancache *cc, struct channel *c)
{
    if (cc->n == cc->cap) {
        cc->cap = cc->cap ? cc->cap * 2 : 64;
        cc->all = xrealloc(cc->all, cc->cap * sizeof(*cc->all));
    }
    c->index = cc->n;
    cc->all[cc->n++] = c;
    hash_put(&cc->by_name, c->name, c);
}

struct channel *chancache_find(struct chancache *cc, const char *name)
{
    struct channel *c = hash_get(&cc->by_name, name);
    struct load_ctx lc = {.cc = cc};
    int64_t last_seen = 0;
    bool shown = false, ok;
    int r;

    if (c)
        return c;
    if (jid_check_local(name, strlen(name)) != 0)
        return NULL;
    /* One indexed lookup for a name we do not know (yet). */
    r = roster_find_channel(cc->roster, name, on_channel, &lc);
    if (r != 0 || lc.c == NULL) {
        if (r == CS_EDB)
            log_error("channel: looking up %s failed", name);
        return NULL;
    }
    c = lc.c;
    ok = roster_via_each(cc->roster, c->name, on_via, c) == 0 &&
         roster_each_item(cc->roster, c->name, on_item, &lc) == 0;
    if (ok)
        prepare_rows(&lc);
    unprepared_free(&lc);
    if (!ok || roster_leases_of(cc->roster, c->name, on_lease, &lc) != 0 ||
        roster_state_get(cc->roster, c->name, &last_seen, &shown) != 0) {
        log_error("channel: loading %s failed", c->name);
        hash_clear(&lc.nodes_with_watchers);
        channel_free(cc, c);
        return NULL;
    }
    hash_clear(&lc.nodes_with_watchers);
    channel_reload_props(cc, c);
    c->status.last_seen = c->saved_last_seen = last_seen;
    c->shown = shown;
    cache_insert(cc, c);
    return c;
}

static void all_move(struct chancache *cc, size_t from, size_t to)
{
    cc->all[to] = cc->all[from];
    cc->all[to]->index = to;
}

void chancache_use_props(struct chancache *cc, struct chanprops *props)
{
    cc->props = props;
}

static bool same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* FNV-1a over the texts, each followed by a byte that says whether it
 * is set: tells an edit from no edit, not a secret. */
static uint64_t sig_of(const char *const *texts, int n)
{
    uint64_t h = 14695981039346656037ULL;
    for (int i = 0; i < n; i++) {
        for (const char *p = texts[i]; p && *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        h = (h ^ (texts[i] ? 1u : 2u)) * 1099511628211ULL;
    }
    return h;
}

unsigned channel_reload_props(struct chancache *cc, struct channel *c)
{
    unsigned changed = 0;
    char *dn = NULL;
    if (roster_display_name(cc->roster, c->name, &dn) != 0) {
        log_error("channel: reading the display name of %s failed", c->name);
        return 0;
    }
    if (!same_text(dn, c->display_name))
        changed |= CHANNEL_CHANGED_NAME;
    free(c->display_name);
    c->display_name = dn;
    if (cc->props && c->remote == NULL) {
        struct chanprops_row p;
        int r = chanprops_get(cc->props, c->name, &p);
        if (r == 0 || r == CS_ENOTFOUND) {
            const char *texts[] = {p.description, p.email, p.url};
            uint64_t sig = sig_of(texts, 3);
            char photo[41] = "";
            if (p.avatar_type && p.avatar)
                cs_sha1_hex(p.avatar, p.avatar_len, photo);
            if (sig != c->props_sig)
                changed |= CHANNEL_CHANGED_TEXT;
            if (strcmp(photo, c->photo) != 0)
                changed |= CHANNEL_CHANGED_AVATAR;
            c->props_sig = sig;
            memcpy(c->photo, photo, sizeof(photo));
            chanprops_row_free(&p);
        }
    }
    return changed;
}

void chancache_set_hooks(struct chancache *cc, const struct chancache_hooks *hooks)
{
    cc->hooks = *hooks;
}

void chancache_resources_dirty(struct chancache *cc, struct channel *c)
{
    if (c->res_dirty)
        return;
    c->res_dirty = true;
    c->res_next = cc->res_head;
    cc->res_head = c;
}

int chancache_write_resources(struct chancache *cc)
{
    while (cc->res_head) {
        struct channel *c = cc->res_head;
        if (roster_resources_clear(cc->roster, c->name) != 0)
            return CS_EDB;
        for (unsigned i = 0; i < c->status.n; i++) {
            const struct status_resource *r = &c->status.res[i];
            if (roster_resource_put(cc->roster, c->name, r->resource, status_show_name(r->show),
                                    r->text, r->priority, r->since) != 0)
                return CS_EDB;
        }
        cc->res_head = c->res_next;
        c->res_next = NULL;
        c->res_dirty = false;
    }
    return 0;
}

void chancache_forget(struct chancache *cc, struct channel *c)
{
    if (cc->hooks.forget)
        cc->hooks.forget(cc->hooks.ud, c);
    else
        chancache_remove(cc, c, NULL);
}

void chancache_remove(struct chancache *cc, struct channel *c, size_t *cursor)
{
    size_t i = c->index;
    if (c->res_dirty) {
        /* O(channels with unwritten resources): rare, small. */
        for (struct channel **pp = &cc->res_head; *pp; pp = &(*pp)->res_next) {
            if (*pp == c) {
                *pp = c->res_next;
                break;
            }
        }
    }
    hash_del(&cc->by_name, c->name);
    if (cursor && i < *cursor) {
        if (i != *cursor - 1)
            all_move(cc, *cursor - 1, i);
        i = --*cursor;
    }
    if (i != cc->n - 1)
        all_move(cc, cc->n - 1, i);
    cc->n--;
    channel_free(cc, c);
}

struct channel *chancache_add(struct chancache *cc, const char *name)
{
    struct channel *c = xcalloc(1, sizeof(*c));
    size_t len = strlen(name) + strlen(cc->domain) + 2;
    c->name = xstrdup(name);
    c->jid = xmalloc(len);
    snprintf(c->jid, len, "%s@%s", name, cc->domain);
    c->policy = POLICY_OPEN;
    cache_insert(cc, c);
    return c;
}
