/* front.c - the domain's public address over its homes (cs_cluster.h,
 * doc/cluster.md).
 *
 * Users write only to the front: alpha@DOMAIN, and relay addresses
 * such as carol\40a.test@DOMAIN.  What the front does with a stanza
 * from a user (anybody but a home and the front itself):
 *   - subscribe, unsubscribe, probe at a channel: the status service
 *     (fed.c), one upstream subscription per channel with watchers;
 *   - anything else at a channel: to name@HOME (the placement's home)
 *     from the user's relay address at the front, resource kept;
 *   - at a relay address: to the home that last wrote to the user from
 *     that address (relay_route), the same way;
 *   - at the front's bare domain, or a relay address no home wrote
 *     from: its own service (dispatch).
 * From a home, a stanza to a user's relay address at the front goes on
 * to the user, from the front's address of the same name; an error
 * loses what would name the home (its 'by', a text naming a home).
 * What a home says to the front itself (status, lease answers, its
 * answers about vouched users, events, pongs) is dispatched as usual.
 *
 * Each home is pinged every home_check / 2 and counts as down when a
 * ping is not answered within home_check / 2 or is bounced: its
 * channels' watchers see unavailable, and what users send its channels
 * is answered at once with recipient-unavailable, until a ping is
 * answered again. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_cluster.h"
#include "cs_error.h"
#include "cs_fed.h"
#include "cs_federation.h"
#include "cs_hash.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_xml.h"

#define NS_CAPS "http://jabber.org/protocol/caps"
/* Relay routes kept in memory before they are read from the database
 * again: a bound, not a cache size anybody tunes. */
#define ROUTES_MAX 65536

struct homestate {
    struct front *f;
    const char *domain; /* the config's */
    bool down;
    bool asking;
    char id[IQWAIT_ID_MAX];
    int64_t next_ping; /* ms */
};

struct front {
    char *domain;
    const struct config_list *homes;
    int64_t check_ms;
    struct home *home;
    struct roster *roster;
    struct placement *place;
    const struct out *out;
    struct iqwait *iqwait;
    struct homestate *hs;
    size_t nhs;
    struct hash routes;  /* "jid address" -> struct route */
    struct route *dirty; /* routes to write at the next tick */
    bool online;
    struct front_stats stats;
};

/* A relay route in memory; the key is "jid address" (neither holds a
 * space).  Routes learned are written once a tick (dirty list): a
 * message costs no write of its own, and a crash loses at most the last
 * second's new routes (an answer to one of them is then not routed). */
struct route {
    struct route *next_dirty;
    bool dirty;
    char home[JID_PART_MAX + 1];
    char key[];
};

static const char *placed(void *ud, const char *channel)
{
    struct front *f = ud;
    return placement_home(f->place, f->homes, channel);
}

struct front *front_new(const char *domain, const struct config_list *homes, int64_t check_ms,
                        struct home *home, struct roster *roster, struct placement *place,
                        const struct out *out, struct iqwait *iqwait)
{
    struct front *f = xcalloc(1, sizeof(*f));
    f->domain = xstrdup(domain);
    f->homes = homes;
    f->check_ms = check_ms;
    f->home = home;
    f->roster = roster;
    f->place = place;
    f->out = out;
    f->iqwait = iqwait;
    f->nhs = homes->n;
    f->hs = xcalloc(f->nhs, sizeof(*f->hs));
    for (size_t i = 0; i < f->nhs; i++) {
        f->hs[i].f = f;
        f->hs[i].domain = homes->v[i];
    }
    if (fed_use_cluster(home, homes, placed, f) != 0)
        log_error("cluster: cannot load the front's watchers");
    return f;
}

static void write_routes(struct front *f)
{
    if (f->dirty && roster_tx_begin(f->roster) != 0) {
        log_error("cluster: cannot write relay routes; retried at the next tick");
        return;
    }
    while (f->dirty) {
        struct route *r = f->dirty;
        char *space = strchr(r->key, ' ');
        f->dirty = r->next_dirty;
        r->dirty = false;
        *space = '\0';
        if (relay_route_put(f->place, r->key, space + 1, r->home) != 0)
            log_error("cluster: cannot store the route of %s to %s", space + 1, r->key);
        *space = ' ';
    }
}

static void forget_routes(struct front *f)
{
    size_t pos = 0;
    const char *k;
    void *v;
    write_routes(f);
    while (hash_next(&f->routes, &pos, &k, &v))
        free(v);
    hash_clear(&f->routes);
}

void front_free(struct front **fp)
{
    struct front *f = *fp;
    if (f == NULL)
        return;
    front_offline(f);
    forget_routes(f);
    free(f->hs);
    free(f->domain);
    free(f);
    *fp = NULL;
}

const struct front_stats *front_stats(const struct front *f)
{
    return &f->stats;
}

static struct homestate *home_of(struct front *f, const char *domain)
{
    for (size_t i = 0; i < f->nhs; i++) {
        if (strcmp(f->hs[i].domain, domain) == 0)
            return &f->hs[i];
    }
    return NULL;
}

bool front_home_down(const struct front *f, const char *home)
{
    for (size_t i = 0; i < f->nhs; i++) {
        if (strcmp(f->hs[i].domain, home) == 0)
            return f->hs[i].down;
    }
    return false;
}

/* ---- Relay routes: which home wrote to a user from an address ---- */

static char *route_key(const char *jid, const char *address)
{
    struct strbuf sb = {0};
    strbuf_printf(&sb, "%s %s", jid, address);
    return sb.data;
}

/* Remembers that home wrote to jid from address; stored (at the next
 * tick) unless it came from the table. */
static void route_remember(struct front *f, const char *jid, const char *address, const char *home,
                           bool stored)
{
    char *key = route_key(jid, address);
    struct route *r = hash_get(&f->routes, key);
    if (r == NULL || strcmp(r->home, home) != 0) {
        if (r == NULL) {
            if (f->routes.n >= ROUTES_MAX)
                forget_routes(f);
            r = xcalloc(1, sizeof(*r) + strlen(key) + 1);
            memcpy(r->key, key, strlen(key) + 1);
            hash_put(&f->routes, r->key, r);
        }
        cs_strlcpy(r->home, home, sizeof(r->home));
        if (!stored && !r->dirty) {
            r->dirty = true;
            r->next_dirty = f->dirty;
            f->dirty = r;
        }
    }
    free(key);
}

/* The home to which a user's stanza to address goes, or false. */
static bool route_find(struct front *f, const char *jid, const char *address, char *home,
                       size_t len)
{
    char *key = route_key(jid, address);
    struct route *r = hash_get(&f->routes, key);
    bool found = r != NULL;
    if (r)
        cs_strlcpy(home, r->home, len);
    else if (relay_route_get(f->place, jid, address, home, len) == 0) {
        route_remember(f, jid, address, home, true);
        found = true;
    }
    free(key);
    return found;
}

static void set_down(struct front *f, struct homestate *hs, bool down, int64_t now_ms);

/* ---- Passing stanzas on ---- */

static char *with_resource(const char *bare, const char *resource)
{
    struct strbuf sb = {0};
    strbuf_printf(&sb, "%s%s%s", bare, resource ? "/" : "", resource ? resource : "");
    return sb.data;
}

static void unlink_child(struct xml_node *parent, struct xml_node *child)
{
    struct xml_node **pp = &parent->first_child, *prev = NULL;
    while (*pp && *pp != child) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp == NULL)
        return;
    *pp = child->next;
    if (parent->last_child == child)
        parent->last_child = prev;
    child->next = NULL;
    child->parent = NULL;
    xml_free(child);
}

static bool names_a_home(const struct front *f, const char *s)
{
    for (size_t i = 0; s && i < f->nhs; i++) {
        if (strstr(s, f->hs[i].domain))
            return true;
    }
    return false;
}

/* An error from a home reaches a user without anything naming a home:
 * no 'by', no text that names one (a server's bounce does). */
static void clean_error(const struct front *f, struct xml_node *x)
{
    struct xml_node *e = xml_child(x, "error", NULL);
    struct xml_node *t = e ? xml_child(e, "text", XML_NS_STANZAS) : NULL;
    char *text = t ? xml_text_dup(t) : NULL;
    if (e == NULL)
        return;
    xml_remove_attr(e, "by");
    if (t && names_a_home(f, text))
        unlink_child(e, t);
    free(text);
}

static void send_on(struct front *f, struct xml_node *x, const char *from, const char *to)
{
    xml_set_attr(x, "from", from);
    xml_set_attr(x, "to", to);
    if (out_stanza(f->out, x) != 0)
        log_debug("cluster: <%s/> to %s not passed on: link down", x->name, to);
    xml_free(x);
}

/* A user's stanza to local@home, from the user's relay address here. */
static void to_home(struct front *f, const struct stanza_in *in, const char *local,
                    const char *home)
{
    struct xml_node *x = xml_copy(in->xml), *caps;
    char *relay = jid_relay_address(in->sender, f->domain);
    char *from = with_resource(relay, in->from.resource);
    struct strbuf to = {0};
    strbuf_printf(&to, "%s@%s%s%s", local, home, in->to.resource ? "/" : "",
                  in->to.resource ? in->to.resource : "");
    /* Capabilities are the front's business (its watchers' +notify),
     * never a reason for a home to write to the user. */
    if (in->kind == STANZA_PRESENCE && (caps = xml_child(x, "c", NS_CAPS)) != NULL)
        unlink_child(x, caps);
    /* The federation's words are the front's own: a user who writes a
     * <vouch/> or a <lease/> does not get the home to believe it. */
    for (struct xml_node *c = x->first_child, *next; c; c = next) {
        next = c->next;
        if (c->type == XML_ELEMENT && c->ns && strcmp(c->ns, NS_FEDERATION) == 0)
            unlink_child(x, c);
    }
    send_on(f, x, from, to.data);
    f->stats.to_homes++;
    strbuf_free(&to);
    free(from);
    free(relay);
}

/* What a user sent a channel whose home is down: messages and iqs get
 * an error at once, from the address they were sent to.  Presence
 * still goes on: the home may be back before its ping says so (an
 * owner answering its probes). */
static void home_is_down(struct front *f, const struct stanza_in *in, const char *local,
                         const char *home)
{
    struct xml_node *e;
    if (in->kind == STANZA_PRESENCE) {
        to_home(f, in, local, home);
        return;
    }
    f->stats.home_down++;
    if (in->type && (strcmp(in->type, "error") == 0 || strcmp(in->type, "result") == 0 ||
                     strcmp(in->type, "headline") == 0))
        return;
    e = stanza_error_reply(in, f->domain, "wait", "recipient-unavailable", NULL);
    if (out_stanza(f->out, e) != 0)
        log_debug("cluster: error to %s not sent: link down", in->sender);
    xml_free(e);
}

/* A user's stanza to local@home, or the answer for a home that is down. */
static void pass_on(struct front *f, const struct stanza_in *in, const char *local,
                    const char *home)
{
    struct homestate *hs = home_of(f, home);
    if (hs && hs->down)
        home_is_down(f, in, local, home);
    else
        to_home(f, in, local, home);
}

static bool from_user(struct front *f, const struct stanza_in *in)
{
    const struct jid *to = &in->to;
    char home[JID_PART_MAX + 1];
    const char *h;
    if (to->local == NULL || in->relay_rc == CS_EINVAL)
        return false;
    if (in->relay_rc == 0) {
        /* A relay address: back through the home that wrote from it. */
        if (!route_find(f, in->sender, to->local, home, sizeof(home)))
            return false;
        pass_on(f, in, to->local, home);
        return true;
    }
    h = placement_home(f->place, f->homes, to->local);
    if (h == NULL) {
        struct xml_node *e = stanza_error_reply(in, f->domain, "wait", "internal-server-error",
                                                "the channel's home cannot be read; try again");
        if (!(in->type && strcmp(in->type, "error") == 0) && out_stanza(f->out, e) != 0)
            log_debug("cluster: error not sent: link down");
        xml_free(e);
        return true;
    }
    cs_strlcpy(home, h, sizeof(home));
    if (in->kind == STANZA_PRESENCE && in->type &&
        (strcmp(in->type, "subscribe") == 0 || strcmp(in->type, "unsubscribe") == 0 ||
         strcmp(in->type, "probe") == 0)) {
        struct strbuf at = {0};
        struct jid remote;
        strbuf_printf(&at, "%s@%s", to->local, home);
        if (jid_parse(at.data, &remote) == 0) {
            fed_presence(f->home, in->xml, &in->from, &in->to, &remote, in->now_ms);
            jid_deinit(&remote);
        }
        strbuf_free(&at);
        return true;
    }
    pass_on(f, in, to->local, home);
    return true;
}

static bool from_home(struct front *f, struct homestate *hs, const struct stanza_in *in)
{
    struct xml_node *x;
    char *user, *to, *from;
    if (in->to.local == NULL || xml_child(in->xml, "vouch", NS_FEDERATION))
        return false; /* to the front itself, or about a user we vouched for */
    if (in->relay_rc != 0 || in->relay.local == NULL) {
        f->stats.home_drops++;
        log_debug("cluster: dropping <%s/> from %s to %s: no user's address", in->xml->name,
                  in->sender, in->to.local);
        return true;
    }
    user = jid_bare(&in->relay);
    to = with_resource(user, in->to.resource);
    if (in->from.local) {
        struct strbuf sb = {0};
        struct jid contact;
        strbuf_printf(&sb, "%s@%s", in->from.local, f->domain);
        from = with_resource(sb.data, in->from.resource);
        strbuf_free(&sb);
        /* From a relay address of the home: the user's answer to it goes
         * back there. */
        if (jid_relay_parse(in->from.local, &contact) == 0) {
            jid_deinit(&contact);
            route_remember(f, user, in->from.local, hs->domain, false);
        }
    } else {
        from = xstrdup(f->domain);
    }
    x = xml_copy(in->xml);
    if (in->type && strcmp(in->type, "error") == 0)
        clean_error(f, x);
    send_on(f, x, from, to);
    f->stats.to_users++;
    free(from);
    free(to);
    free(user);
    return true;
}

bool front_stanza(struct front *f, const struct stanza_in *in)
{
    struct homestate *hs;
    if (!in->from_ok || !in->to_ok || strcmp(in->to.domain, f->domain) != 0)
        return false; /* dispatch answers or drops it */
    hs = home_of(f, in->from.domain);
    if (hs && in->type && strcmp(in->type, "error") == 0 && in->to.local == NULL &&
        in->kind == STANZA_PRESENCE)
        /* The server bounced what we asked a home (it is not connected,
         * e.g. not started yet): down until a ping is answered, which
         * subscribes its channels again at once. */
        set_down(f, hs, true, in->now_ms);
    else if (hs && hs->down && !(in->type && strcmp(in->type, "error") == 0))
        set_down(f, hs, false, in->now_ms); /* it speaks: it is back */
    if (hs)
        return from_home(f, hs, in);
    if (strcmp(in->from.domain, f->domain) == 0)
        return false;
    return from_user(f, in);
}

/* ---- Placement edits ---- */

/* Edits of the placement read per tick. */
#define EDITS_PAGE 1000

struct edit_ctx {
    struct front *f;
    int64_t now_ms;
};

/* A channel's row was edited: its status service follows it to the
 * home it names now. */
static void edited(void *ud, const char *channel)
{
    struct edit_ctx *ec = ud;
    const char *home = placement_home(ec->f->place, ec->f->homes, channel);
    if (home)
        fed_rehome(ec->f->home, channel, home, ec->now_ms);
}

/* Edits made with chanstatctl or sqlite3: a page a tick, trimmed in the
 * tick's commit.  Idle, one indexed read a second.  A restart needs none
 * of the log: the front places its channels from the table. */
static void follow_edits(struct front *f, int64_t now_ms)
{
    struct edit_ctx ec = {f, now_ms};
    int64_t last;
    int got;
    if (placement_edits(f->place, 0, EDITS_PAGE, edited, &ec, &last, &got) != 0 || got == 0)
        return;
    if (roster_tx_begin(f->roster) != 0 || placement_trim(f->place, last) != 0)
        log_error("cluster: trimming the placement log failed; its edits are read again");
}

/* ---- Pings ---- */

static void set_down(struct front *f, struct homestate *hs, bool down, int64_t now_ms)
{
    if (hs->down == down)
        return;
    hs->down = down;
    if (down) {
        log_warning("cluster: home %s does not answer; its channels are unavailable", hs->domain);
        fed_home_down(f->home, hs->domain, now_ms);
    } else {
        log_info("cluster: home %s answers", hs->domain);
        fed_home_up(f->home, hs->domain, now_ms);
    }
}

static void pong(void *ud, const struct xml_node *iq, int64_t now_ms)
{
    struct homestate *hs = ud;
    const char *type = iq ? xml_attr(iq, "type") : NULL;
    hs->asking = false;
    /* A result is a home that answers; a bounce from the server (the
     * home is not connected) or silence is one that does not. */
    set_down(hs->f, hs, !(type && strcmp(type, "result") == 0), now_ms);
}

static void ping(struct front *f, struct homestate *hs, int64_t now_ms)
{
    const char *id = iqwait_add(f->iqwait, "ping-", hs->domain, now_ms + f->check_ms / 2, pong, hs);
    struct xml_node *iq;
    if (id == NULL)
        return;
    hs->asking = true;
    cs_strlcpy(hs->id, id, sizeof(hs->id));
    iq = xml_elem_new("iq", NULL);
    xml_set_attr(iq, "from", f->domain);
    xml_set_attr(iq, "to", hs->domain);
    xml_set_attr(iq, "type", "get");
    xml_set_attr(iq, "id", hs->id);
    xml_add_child(iq, "ping", NS_PING);
    if (out_stanza(f->out, iq) != 0)
        log_debug("cluster: ping to %s not sent: link down", hs->domain);
    xml_free(iq);
}

void front_tick(struct front *f, int64_t now_ms)
{
    write_routes(f);
    follow_edits(f, now_ms);
    if (!f->online)
        return;
    for (size_t i = 0; i < f->nhs; i++) {
        struct homestate *hs = &f->hs[i];
        if (!hs->asking && now_ms >= hs->next_ping) {
            hs->next_ping = now_ms + f->check_ms / 2;
            ping(f, hs, now_ms);
        }
    }
}

void front_online(struct front *f, int64_t now_ms)
{
    f->online = true;
    for (size_t i = 0; i < f->nhs; i++) {
        /* What users said to the homes while we were away was lost:
         * they ask their owners again (homeside.c). */
        struct xml_node *p = xml_elem_new("presence", NULL);
        xml_set_attr(p, "from", f->domain);
        xml_set_attr(p, "to", f->hs[i].domain);
        if (out_stanza(f->out, p) != 0)
            log_debug("cluster: hello to %s not sent: link down", f->hs[i].domain);
        xml_free(p);
        f->hs[i].next_ping = now_ms; /* at the next tick */
    }
}

void front_offline(struct front *f)
{
    f->online = false;
    for (size_t i = 0; i < f->nhs; i++) {
        if (f->hs[i].asking)
            iqwait_cancel(f->iqwait, f->hs[i].id);
        f->hs[i].asking = false;
    }
}
