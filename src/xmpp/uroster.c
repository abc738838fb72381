/* uroster.c - channels in the users' own server rosters (see cs_uroster.h
 * and doc/privilege.md). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cs_error.h"
#include "cs_hash.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_roster.h"
#include "cs_stanza.h"
#include "cs_store.h"
#include "cs_uroster.h"
#include "cs_util.h"
#include "cs_text.h"

#define NS_ROSTER "jabber:iq:roster"
/* Users read from the database per page of a full sync. */
#define FULL_PAGE 64
/* iqs written per pump call before the loop gets its inputs back. */
#define OPS_PER_CALL 256

enum {
    ST_DESIRED,
    ST_PUSHED,
    ST_PUT,
    ST_DELETE,
    ST_FULL_ROWS,
    ST_FULL_PUSHED,
    ST_BY_CHANNEL,
    ST_HAS,
    ST_COUNT
};

static const char *const sql[ST_COUNT] = {
    /* The rows that make user a watcher, with what the item shows. */
    [ST_DESIRED] = "SELECT r.channel, r.subscription, r.groups, c.display_name"
                   " FROM roster r JOIN channel c ON c.name = r.channel"
                   " WHERE r.jid = ?1 AND r.subscription IN ('from', 'both')",
    [ST_PUSHED] = "SELECT channel, name, groups, subscription FROM pushed_item WHERE user = ?1",
    [ST_PUT] = "INSERT OR REPLACE INTO pushed_item (user, channel, name, groups, subscription)"
               " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_DELETE] = "DELETE FROM pushed_item WHERE user = ?1 AND channel = ?2",
    /* A full sync: the domain's watchers in jid order (roster_by_jid),
     * then users with pushed items and no such rows any more. */
    [ST_FULL_ROWS] = "SELECT DISTINCT jid FROM roster WHERE jid > ?1"
                     " AND substr(jid, -length(?2)) = ?2 AND subscription IN ('from', 'both')"
                     " ORDER BY jid LIMIT ?3",
    [ST_FULL_PUSHED] = "SELECT DISTINCT user FROM pushed_item p WHERE user > ?1"
                       " AND substr(user, -length(?2)) = ?2 AND NOT EXISTS (SELECT 1 FROM roster r"
                       " WHERE r.jid = p.user AND r.subscription IN ('from', 'both'))"
                       " ORDER BY user LIMIT ?3",
    [ST_BY_CHANNEL] = "SELECT user FROM pushed_item WHERE channel = ?1",
    [ST_HAS] = "SELECT 1 FROM pushed_item WHERE user = ?1 AND channel = ?2",
};

enum op_kind { OP_GET, OP_SET, OP_REMOVE };

/* One roster item as chanstat wants it, pushed it, or the server has it.
 * groups: sorted, newline-joined ("" for none). */
struct item {
    char *channel;
    char *name;
    char *groups;
    const char *sub; /* "to" or "both" */
    bool adds;       /* a set that puts the channel into the user's roster */
};

struct uuser;

struct op {
    char id[24];
    enum op_kind kind;
    struct uuser *user;
    struct item *item; /* SET/REMOVE: owned */
    int64_t deadline;
};

struct uuser {
    char *jid; /* key of users */
    bool active, again;
    struct uuser *next; /* the queue */
    unsigned inflight;
    /* Computed changes not written yet. */
    struct item **todo;
    enum op_kind *todo_kind;
    size_t ntodo, itodo, captodo;
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

struct full {
    char *suffix; /* "@domain" */
    char *after;
    int phase; /* 0: roster rows, 1: pushed items only */
};

struct uroster {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    struct roster *roster;
    const char *domain;
    const struct out *out;
    const struct privileges *priv;
    uroster_removed_cb *removed;
    void *removed_ud;
    uroster_added_cb *added;
    void *added_ud;
    struct hash users; /* jid -> struct uuser * (queued or active) */
    struct uuser *head, *tail;
    struct uuser *active[UROSTER_MAX_ACTIVE];
    unsigned nactive;
    struct hash inflight; /* id -> struct op * */
    struct hash dstates;  /* domain -> struct dstate * */
    unsigned seq;
    struct full *full;
    size_t nfull;
    int64_t now_ms;
    struct uroster_stats stats;
    /* A full sync in progress: since when, and the counts at its start. */
    bool syncing;
    int64_t sync_since;
    struct uroster_stats sync_base;
    struct strbuf sb;
};

/* ---- items ---- */

static void item_free(struct item *it)
{
    if (it == NULL)
        return;
    free(it->channel);
    free(it->name);
    free(it->groups);
    free(it);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* groups as stored (newline-separated, any order, maybe empty lines) to
 * the canonical form.  Unusable text (control characters, bad UTF-8) is
 * left out: it could not be written as XML. */
static char *groups_canon(const char *raw, const char *what)
{
    char *copy = xstrdup(raw ? raw : ""), *save = NULL, **v = NULL;
    size_t n = 0, cap = 0;
    struct strbuf sb = {0};

    for (char *g = strtok_r(copy, "\n", &save); g; g = strtok_r(NULL, "\n", &save)) {
        if (!text_name_ok(g)) {
            log_warning("uroster: %s: a roster group is not usable text; left out", what);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            v = xrealloc(v, cap * sizeof(*v));
        }
        v[n++] = g;
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_str);
    strbuf_append_str(&sb, "");
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(v[i], v[i - 1]) == 0)
            continue;
        if (sb.len > 0)
            strbuf_append(&sb, "\n", 1);
        strbuf_append_str(&sb, v[i]);
    }
    free(v);
    free(copy);
    return sb.data;
}

static bool item_same(const struct item *a, const struct item *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->groups, b->groups) == 0 &&
           strcmp(a->sub, b->sub) == 0;
}

static const char *sub_of(const char *s)
{
    return s && strcmp(s, "both") == 0 ? "both" : "to";
}

/* ---- set-up ---- */

struct uroster *uroster_new(struct store *store, struct roster *roster, const char *domain,
                            const struct out *out, const struct privileges *priv, char *err,
                            size_t errlen)
{
    struct uroster *u = xcalloc(1, sizeof(*u));
    u->db = store_handle(store);
    u->roster = roster;
    u->domain = domain;
    u->out = out;
    u->priv = priv;
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(u->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &u->st[i], NULL) !=
            SQLITE_OK) {
            snprintf(err, errlen, "preparing user-roster statement %d: %s", i,
                     sqlite3_errmsg(u->db));
            uroster_free(&u);
            return NULL;
        }
    }
    return u;
}

static void user_clear_todo(struct uuser *us)
{
    for (size_t i = us->itodo; i < us->ntodo; i++)
        item_free(us->todo[i]);
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

static void drop_inflight(struct uroster *u)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (hash_next(&u->inflight, &pos, &k, &v)) {
        struct op *op = v;
        item_free(op->item);
        free(op);
    }
    hash_clear(&u->inflight);
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
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(u->st[i]);
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

const struct uroster_stats *uroster_stats(const struct uroster *u)
{
    return &u->stats;
}

bool uroster_idle(const struct uroster *u)
{
    return u->users.n == 0 && u->inflight.n == 0 && u->nfull == 0;
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

void uroster_touch_channel(struct uroster *u, const char *channel)
{
    sqlite3_stmt *st = u->st[ST_BY_CHANNEL];
    int rc;
    sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        uroster_touch_user(u, (const char *)sqlite3_column_text(st, 0));
    if (rc != SQLITE_DONE)
        log_error("uroster: reading the users of channel %s failed: %s", channel,
                  sqlite3_errmsg(u->db));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

void uroster_granted(struct uroster *u, const char *domain, int64_t now_ms)
{
    size_t len = strlen(domain) + 2;
    struct full *f;
    u->now_ms = now_ms;
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

/* Moves a page of the first full sync into the queue.  false on a
 * database error (that sync is dropped until the next grant). */
static bool full_page(struct uroster *u)
{
    struct full *f = &u->full[0];
    sqlite3_stmt *st = u->st[f->phase == 0 ? ST_FULL_ROWS : ST_FULL_PUSHED];
    int rc, n = 0;
    char *last = NULL;

    sqlite3_bind_text(st, 1, f->after, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, f->suffix, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, FULL_PAGE);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *jid = (const char *)sqlite3_column_text(st, 0);
        n++;
        free(last);
        last = xstrdup(jid);
        uroster_touch_user(u, jid);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        log_error("uroster: reading users to sync failed: %s", sqlite3_errmsg(u->db));
        n = 0;
        f->phase = 1;
    }
    if (last) {
        free(f->after);
        f->after = last;
        last = NULL;
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
    return rc == SQLITE_DONE;
}

/* ---- reading the database ---- */

/* A user's items by channel: a user with ten thousand channels costs
 * ten thousand lookups, not their square. */
struct itemset {
    struct item **v;
    size_t n, cap;
    struct hash by_channel;
};

static void set_add(struct itemset *s, struct item *it)
{
    if (hash_get(&s->by_channel, it->channel)) {
        item_free(it); /* a server listing an item twice: the first counts */
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = it;
    hash_put(&s->by_channel, it->channel, it);
}

static struct item *set_find(const struct itemset *s, const char *channel)
{
    return hash_get(&s->by_channel, channel);
}

static void set_free(struct itemset *s)
{
    for (size_t i = 0; i < s->n; i++)
        item_free(s->v[i]);
    free(s->v);
    hash_clear(&s->by_channel);
    s->v = NULL;
    s->n = s->cap = 0;
}

static const char *col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* What the user's rows want (desired) and what we pushed before. */
static int load_user(struct uroster *u, const char *user, struct itemset *want,
                     struct itemset *pushed)
{
    sqlite3_stmt *st = u->st[ST_DESIRED];
    int rc;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct item *it = xcalloc(1, sizeof(*it));
        const char *display = col(st, 3);
        it->channel = xstrdup(col(st, 0));
        it->sub = strcmp(col(st, 1), "both") == 0 ? "both" : "to";
        it->groups = groups_canon(col(st, 2), it->channel);
        if (display && !text_name_ok(display)) {
            log_warning("uroster: display name of channel %s is not usable text; the name is used",
                        it->channel);
            display = NULL;
        }
        it->name = xstrdup(display ? display : it->channel);
        set_add(want, it);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return CS_EDB;
    st = u->st[ST_PUSHED];
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct item *it = xcalloc(1, sizeof(*it));
        it->channel = xstrdup(col(st, 0));
        it->name = xstrdup(col(st, 1));
        it->groups = xstrdup(col(st, 2));
        it->sub = sub_of(col(st, 3));
        set_add(pushed, it);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : CS_EDB;
}

static int record(struct uroster *u, const char *user, const struct item *it, bool put)
{
    sqlite3_stmt *st = u->st[put ? ST_PUT : ST_DELETE];
    int rc;
    if (roster_tx_begin(u->roster) != 0)
        return CS_EDB;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, it->channel, -1, SQLITE_STATIC);
    if (put) {
        sqlite3_bind_text(st, 3, it->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, it->groups, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, it->sub, -1, SQLITE_STATIC);
    }
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        log_error("uroster: recording the item %s of %s failed: %s", it->channel, user,
                  sqlite3_errmsg(u->db));
        return CS_EDB;
    }
    return 0;
}

void uroster_forget(struct uroster *u, const char *user, const char *channel)
{
    struct item it = {.channel = (char *)channel};
    record(u, user, &it, false);
}

/* ---- planning one user ---- */

static void todo_add(struct uuser *us, enum op_kind kind, struct item *it)
{
    if (us->ntodo == us->captodo) {
        us->captodo = us->captodo ? us->captodo * 2 : 8;
        us->todo = xrealloc(us->todo, us->captodo * sizeof(*us->todo));
        us->todo_kind = xrealloc(us->todo_kind, us->captodo * sizeof(*us->todo_kind));
    }
    us->todo[us->ntodo] = it;
    us->todo_kind[us->ntodo++] = kind;
}

static struct item *item_dup(const struct item *it)
{
    struct item *c = xcalloc(1, sizeof(*c));
    c->channel = xstrdup(it->channel);
    c->name = xstrdup(it->name);
    c->groups = xstrdup(it->groups);
    c->sub = it->sub;
    return c;
}

/* The channel part of item jid "name@domain", or NULL when it is not one
 * of this component's addresses. */
static char *our_channel(const struct uroster *u, const char *jid)
{
    struct jid j;
    char *name = NULL;
    if (jid_parse(jid, &j) != 0)
        return NULL;
    if (j.local && !j.resource && strcmp(j.domain, u->domain) == 0)
        name = xstrdup(j.local);
    jid_deinit(&j);
    return name;
}

/* Compares what is wanted with what we pushed (and, when read, what the
 * server has) and queues the iqs that bring the server in step.  server
 * NULL: not readable.  Records that need no iq are written here. */
static void plan(struct uroster *u, struct uuser *us, const struct itemset *server)
{
    struct itemset want = {0}, pushed = {0};
    if (load_user(u, us->jid, &want, &pushed) != 0) {
        log_error("uroster: reading the rows of %s failed: %s", us->jid, sqlite3_errmsg(u->db));
        u->stats.errors++;
        goto out;
    }
    for (size_t i = 0; i < want.n; i++) {
        struct item *w = want.v[i];
        struct item *p = set_find(&pushed, w->channel);
        struct item *s = server ? set_find(server, w->channel) : NULL;
        if (server && s && p == NULL) {
            u->stats.kept_own++; /* the user's own item: never ours to change */
            continue;
        }
        if (server && s == NULL && p) {
            /* We pushed it and it is gone: the user removed it. */
            u->stats.user_removed++;
            log_info("uroster: %s removed %s@%s from their roster; treated as their "
                     "unsubscribe",
                     us->jid, w->channel, u->domain);
            record(u, us->jid, p, false);
            if (u->removed)
                u->removed(u->removed_ud, w->channel, us->jid);
            continue;
        }
        if (server ? (s && item_same(s, w)) : (p && item_same(p, w))) {
            if (p == NULL || !item_same(p, w))
                record(u, us->jid, w, true);
            continue;
        }
        w = item_dup(w);
        /* Not listed as a subscription of the user's before this set. */
        w->adds = server ? (s == NULL || strcmp(s->sub, "none") == 0) : p == NULL;
        todo_add(us, OP_SET, w);
    }
    for (size_t i = 0; i < pushed.n; i++) {
        struct item *p = pushed.v[i];
        if (set_find(&want, p->channel))
            continue;
        if (server && set_find(server, p->channel) == NULL) {
            record(u, us->jid, p, false); /* already gone */
            continue;
        }
        todo_add(us, OP_REMOVE, item_dup(p));
    }
out:
    set_free(&want);
    set_free(&pushed);
}

/* ---- writing iqs ---- */

static struct op *op_new(struct uroster *u, struct uuser *us, enum op_kind kind, struct item *it)
{
    struct op *op = xcalloc(1, sizeof(*op));
    snprintf(op->id, sizeof(op->id), "ur%x", ++u->seq);
    op->kind = kind;
    op->user = us;
    op->item = it;
    op->deadline = u->now_ms + UROSTER_TIMEOUT_MS;
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
static void check_finished(struct uroster *u)
{
    const struct uroster_stats *s = &u->stats, *b = &u->sync_base;
    if (!u->syncing || !uroster_idle(u))
        return;
    u->syncing = false;
    log_info("uroster: roster sync finished in %.1f s: %lu users, %lu items set, %lu removed, "
             "%lu left as the users' own, %lu removed by their users, %lu errors, %lu timeouts",
             (double)(u->now_ms - u->sync_since) / 1000.0, s->users_synced - b->users_synced,
             s->items_set - b->items_set, s->items_removed - b->items_removed,
             s->kept_own - b->kept_own, s->user_removed - b->user_removed, s->errors - b->errors,
             s->timeouts - b->timeouts);
}

/* Takes op into flight and writes it.  false when the link is down. */
static bool launch(struct uroster *u, struct op *op)
{
    if (send_op(u, op) != 0) {
        item_free(op->item);
        free(op);
        return false;
    }
    hash_put(&u->inflight, op->id, op);
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
static void start_next(struct uroster *u)
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
        if (launch(u, op_new(u, us, OP_GET, NULL)))
            u->stats.gets++;
        else
            maybe_done(u, us);
        return;
    }
    plan(u, us, NULL);
    maybe_done(u, us);
}

bool uroster_pump(struct uroster *u, int64_t now_ms)
{
    int budget = OPS_PER_CALL;
    u->now_ms = now_ms;
    while (budget > 0 && out_room(u->out) > 0) {
        bool progressed = false;
        /* Computed changes of active users first. */
        for (unsigned i = 0; i < u->nactive && budget > 0 && out_room(u->out) > 0; i++) {
            struct uuser *us = u->active[i];
            while (us->itodo < us->ntodo && u->inflight.n < UROSTER_MAX_INFLIGHT && budget > 0 &&
                   out_room(u->out) > 0) {
                size_t k = us->itodo++;
                struct op *op = op_new(u, us, us->todo_kind[k], us->todo[k]);
                us->todo[k] = NULL;
                budget--;
                progressed = true;
                if (!launch(u, op))
                    return false;
            }
        }
        if (u->inflight.n >= UROSTER_MAX_INFLIGHT)
            break;
        if (u->head == NULL && u->nfull > 0) {
            full_page(u);
            progressed = true;
        }
        if (u->head && u->nactive < UROSTER_MAX_ACTIVE) {
            start_next(u);
            budget--;
            progressed = true;
        }
        if (!progressed)
            break;
    }
    check_finished(u);
    return budget == 0 && out_room(u->out) > 0;
}

/* ---- roster pushes from the server ---- */

static bool pushed(struct uroster *u, const char *user, const char *channel)
{
    sqlite3_stmt *st = u->st[ST_HAS];
    int rc;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, channel, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW;
}

bool uroster_roster_push(struct uroster *u, const struct xml_node *iq)
{
    const struct xml_node *q = xml_child(iq, "query", NS_ROSTER);
    const struct privilege *pv;
    struct xml_node *r;
    struct jid from;
    char *user;

    if (q == NULL || jid_parse(xml_attr(iq, "from"), &from) != 0)
        return false;
    pv = from.local && !from.resource ? grant_of(u, from.domain) : NULL;
    if (pv == NULL || !may_read(pv)) {
        jid_deinit(&from);
        return false;
    }
    user = jid_bare(&from);
    jid_deinit(&from);
    for (const struct xml_node *e = xml_first_elem(q); e; e = xml_next_elem(e)) {
        const char *sub = xml_attr(e, "subscription");
        char *channel;
        if (strcmp(e->name, "item") != 0 || sub == NULL || strcmp(sub, "remove") != 0 ||
            (channel = our_channel(u, xml_attr(e, "jid") ? xml_attr(e, "jid") : "")) == NULL)
            continue;
        if (pushed(u, user, channel)) {
            struct item it = {.channel = channel};
            u->stats.user_removed++;
            log_info("uroster: %s removed %s@%s from their roster; treated as their unsubscribe",
                     user, channel, u->domain);
            record(u, user, &it, false);
            if (u->removed)
                u->removed(u->removed_ud, channel, user);
        }
        free(channel);
    }
    free(user);
    r = stanza_iq_result(iq, u->domain);
    if (out_stanza(u->out, r) != 0)
        log_debug("uroster: answer to a roster push not sent: link down");
    xml_free(r);
    return true;
}

/* ---- answers ---- */

static void read_server(struct uroster *u, const struct xml_node *iq, struct itemset *server)
{
    const struct xml_node *q = xml_child(iq, "query", NS_ROSTER);
    for (const struct xml_node *e = q ? xml_first_elem(q) : NULL; e; e = xml_next_elem(e)) {
        const char *jid = xml_attr(e, "jid");
        char *channel;
        struct item *it;
        struct strbuf groups = {0};
        if (strcmp(e->name, "item") != 0 || jid == NULL || (channel = our_channel(u, jid)) == NULL)
            continue;
        it = xcalloc(1, sizeof(*it));
        it->channel = channel;
        it->name = xstrdup(xml_attr(e, "name") ? xml_attr(e, "name") : "");
        it->sub = xml_attr(e, "subscription") ? xml_attr(e, "subscription") : "none";
        /* Only to/both count as the same as ours. */
        if (strcmp(it->sub, "to") == 0 || strcmp(it->sub, "both") == 0)
            it->sub = sub_of(it->sub);
        else
            it->sub = "none";
        strbuf_append_str(&groups, "");
        for (const struct xml_node *g = xml_first_elem(e); g; g = xml_next_elem(g)) {
            char *t;
            if (strcmp(g->name, "group") != 0)
                continue;
            t = xml_text_dup(g);
            if (groups.len > 0)
                strbuf_append(&groups, "\n", 1);
            strbuf_append_str(&groups, t ? t : "");
            free(t);
        }
        it->groups = groups_canon(groups.data, jid);
        strbuf_free(&groups);
        set_add(server, it);
    }
}

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

bool uroster_iq_answer(struct uroster *u, const struct xml_node *iq, int64_t now_ms)
{
    const char *id = xml_attr(iq, "id"), *type = xml_attr(iq, "type"), *from = xml_attr(iq, "from");
    struct op *op = id ? hash_get(&u->inflight, id) : NULL;
    struct uuser *us;
    struct jid fj;
    bool ok;

    if (op == NULL)
        return false;
    /* Only the user's server answers for the user. */
    if (from == NULL || jid_parse(from, &fj) != 0)
        return false;
    {
        char *bare = jid_bare(&fj);
        bool match = strcmp(bare, op->user->jid) == 0;
        free(bare);
        jid_deinit(&fj);
        if (!match)
            return false;
    }
    u->now_ms = now_ms;
    hash_del(&u->inflight, id);
    us = op->user;
    us->inflight--;
    ok = type && strcmp(type, "result") == 0;
    switch (op->kind) {
    case OP_GET:
        if (ok) {
            struct itemset server = {0};
            read_server(u, iq, &server);
            plan(u, us, &server);
            set_free(&server);
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
            record(u, us->jid, op->item, true);
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
            record(u, us->jid, op->item, false);
        } else {
            u->stats.errors++;
            log_info("uroster: %s refused removing %s@%s", us->jid, op->item->channel, u->domain);
        }
        break;
    }
    item_free(op->item);
    free(op);
    maybe_done(u, us);
    check_finished(u);
    return true;
}

void uroster_tick(struct uroster *u, int64_t now_ms)
{
    struct op **late = NULL;
    size_t n = 0, pos = 0;
    const char *k;
    void *v;
    u->now_ms = now_ms;
    while (hash_next(&u->inflight, &pos, &k, &v)) {
        struct op *op = v;
        if (op->deadline <= now_ms) {
            late = xrealloc(late, (n + 1) * sizeof(*late));
            late[n++] = op;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct uuser *us = late[i]->user;
        hash_del(&u->inflight, late[i]->id);
        us->inflight--;
        u->stats.timeouts++;
        log_warning("uroster: no answer from %s's server within %d s; synced again at the next "
                    "grant",
                    us->jid, UROSTER_TIMEOUT_MS / 1000);
        item_free(late[i]->item);
        free(late[i]);
        maybe_done(u, us);
    }
    free(late);
    check_finished(u);
}

void uroster_offline(struct uroster *u)
{
    if (u->syncing)
        log_info("uroster: roster sync cut short by the link loss; it starts again at the next "
                 "grant");
    u->syncing = false;
    drop_work(u);
}
