/* urosterplan.c - planning the roster sync of one user: the items the
 * roster table wants, those pushed before and those the user's server
 * roster holds, compared into the sets and removals that bring the
 * server in step (see cs_uroster.h and uroster_priv.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_syncdb.h"
#include "cs_text.h"
#include "cs_util.h"
#include "uroster_priv.h"

/* ---- items ---- */

void uplan_item_free(struct item *it)
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

static struct item *item_dup(const struct item *it)
{
    struct item *c = xcalloc(1, sizeof(*c));
    c->channel = xstrdup(it->channel);
    c->name = xstrdup(it->name);
    c->groups = xstrdup(it->groups);
    c->sub = it->sub;
    return c;
}

char *uplan_our_channel(const struct uroster *u, const char *jid)
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
        uplan_item_free(it); /* a server listing an item twice: the first counts */
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
        uplan_item_free(s->v[i]);
    free(s->v);
    hash_clear(&s->by_channel);
    s->v = NULL;
    s->n = s->cap = 0;
}

/* ---- reading the database ---- */

/* A row that makes the user a watcher, as the item it wants. */
static void add_wanted(void *ud, const struct syncdb_item *row)
{
    struct item *it = xcalloc(1, sizeof(*it));
    const char *display = row->name;
    it->channel = xstrdup(row->channel);
    it->sub = strcmp(row->subscription, "both") == 0 ? "both" : "to";
    it->groups = groups_canon(row->groups, it->channel);
    if (display && !text_name_ok(display)) {
        log_warning("uroster: display name of channel %s is not usable text; the name is used",
                    it->channel);
        display = NULL;
    }
    it->name = xstrdup(display ? display : it->channel);
    set_add(ud, it);
}

/* An item recorded as pushed. */
static void add_pushed(void *ud, const struct syncdb_item *row)
{
    struct item *it = xcalloc(1, sizeof(*it));
    it->channel = xstrdup(row->channel);
    it->name = xstrdup(row->name);
    it->groups = xstrdup(row->groups);
    it->sub = sub_of(row->subscription);
    set_add(ud, it);
}

/* What the user's rows want (desired) and what we pushed before.  The
 * pushed items are not read when the rows could not be. */
static int load_user(struct uroster *u, const char *user, struct itemset *want,
                     struct itemset *pushed)
{
    if (syncdb_desired(u->db, user, add_wanted, want) != 0)
        return CS_EDB;
    return syncdb_pushed(u->db, user, add_pushed, pushed);
}

static int record(struct uroster *u, const char *user, const struct item *it, bool put)
{
    if (put)
        return syncdb_put(u->db, user, it->channel, it->name, it->groups, it->sub);
    return syncdb_delete(u->db, user, it->channel);
}

/* ---- the user's roster at their server ---- */

/* The items of ours in a roster get result. */
static void read_server(struct uroster *u, const struct xml_node *iq, struct itemset *server)
{
    const struct xml_node *q = xml_child(iq, "query", NS_ROSTER);
    for (const struct xml_node *e = q ? xml_first_elem(q) : NULL; e; e = xml_next_elem(e)) {
        const char *jid = xml_attr(e, "jid");
        char *channel;
        struct item *it;
        struct strbuf groups = {0};
        if (strcmp(e->name, "item") != 0 || jid == NULL ||
            (channel = uplan_our_channel(u, jid)) == NULL)
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

/* Compares what is wanted with what we pushed (and, when read, what the
 * server has) and queues the iqs that bring the server in step.  server
 * NULL: not readable.  Records that need no iq are written here. */
static void plan(struct uroster *u, struct uuser *us, const struct itemset *server, int64_t now_ms)
{
    struct itemset want = {0}, pushed = {0};
    if (load_user(u, us->jid, &want, &pushed) != 0) {
        log_error("uroster: reading the rows of %s failed", us->jid);
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
                u->removed(u->removed_ud, w->channel, us->jid, now_ms);
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

void uplan_user(struct uroster *u, struct uuser *us, const struct xml_node *roster, int64_t now_ms)
{
    struct itemset server = {0};
    if (roster == NULL) {
        plan(u, us, NULL, now_ms);
        return;
    }
    read_server(u, roster, &server);
    plan(u, us, &server, now_ms);
    set_free(&server);
}
