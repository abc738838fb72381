/* fed.c - the status service: remote channels seen through this node.
 *
 * A local user subscribes to carol\40status.b.test@DOMAIN; this node
 * subscribes once to carol@status.b.test (after checking with disco#info
 * that status.b.test is a chanstat node), keeps the lease alive, caches
 * the status the home sends and fans it out to every local watcher with
 * the same cursor as a local channel (fanout.c).  The protocol is in
 * doc/federation.md.
 *
 * Each remote channel is a struct channel in the home's cache (its name
 * is the escaped JID) with a struct remote beside it; its local watchers
 * are rows of remote_watcher.  The timers (answer deadlines, renewals,
 * retries after errors, the linger before cancelling) are checked once a
 * second: O(remote channels) per second.  Whether a domain is a chanstat
 * node is asked by feddisco.c.
 *
 * At a cluster's front (doc/cluster.md) the same status service holds
 * the channels of its homes: alpha@h1.status.a.test is the channel
 * named alpha, at the front's own address alpha@DOMAIN, its watchers'
 * rows are kept under that address (a channel that moves keeps them),
 * its home is never asked whether it is a node, and any user may
 * watch it (fedcluster.c). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_fed.h"
#include "cs_iqwait.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_pep.h"
#include "cs_stanza.h"
#include "fed_priv.h"

#define UPSTREAM "upstream" /* the one pseudo-resource of a remote status */

static bool local_user(const struct home *h, const struct jid *j)
{
    /* A node serves the users of its parent domain, or the configured
     * local_domains (doc/federation.md). */
    return fed_serves(&h->fed, h->domain, j->domain);
}

void remote_free(struct remote *r)
{
    for (unsigned i = 0; i < r->npending; i++)
        free(r->pending[i]);
    free(r->pending);
    free(r->home);
    free(r->domain);
    free(r);
}

/* ---- Stanzas upstream ---- */

void remote_send(struct home *h, struct channel *c, const char *type, bool lease, int64_t now_ms)
{
    struct xml_node *p = xml_elem_new("presence", NULL);
    char secs[32];
    xml_set_attr(p, "from", h->domain);
    xml_set_attr(p, "to", c->remote->home);
    xml_set_attr(p, "type", type);
    if (lease) {
        struct xml_node *l = xml_add_child(p, "lease", NS_FEDERATION);
        snprintf(secs, sizeof(secs), "%lld", (long long)(h->fed.lease_ms / MS_PER_S));
        xml_set_attr(l, "seconds", secs);
        /* Nothing of its properties here yet (first request, or after
         * a restart): the home sends them with its answer. */
        if (h->pep && !pep_remote_heard(h->pep, c))
            xml_set_attr(l, "properties", "send");
    }
    if (out_stanza(h->out, p) != 0)
        log_debug("fed: %s to %s not sent: link down", type, c->remote->home);
    xml_free(p);
}

void remote_subscribe(struct home *h, struct channel *c, int64_t now_ms)
{
    struct remote *r = c->remote;
    r->state = R_SUBSCRIBE;
    r->last_sent = now_ms;
    r->deadline = now_ms + h->fed.request_timeout_ms;
    remote_send(h, c, "subscribe", true, now_ms);
}

void remote_discover(struct home *h, struct channel *c, int64_t now_ms)
{
    struct remote *r = c->remote;
    struct disco *d = hash_get(&h->fed_disco, r->domain);
    if (cluster_home(h, r->domain)) {
        remote_subscribe(h, c, now_ms); /* a front's home is a node */
        return;
    }
    if (d && d->known && d->expires > now_ms) {
        if (d->is_node) {
            remote_subscribe(h, c, now_ms);
        } else {
            r->state = R_DISCOVER; /* failed at once below */
            r->deadline = now_ms;
        }
        return;
    }
    r->state = R_DISCOVER;
    r->deadline = now_ms + h->fed.request_timeout_ms;
    disco_ask(h, r->domain, now_ms);
}

/* ---- What discovery and a cluster's placement say ---- */

int fed_remote_channel(struct home *h, const char *jid, int64_t now_ms)
{
    struct jid j;
    struct disco *d;
    int r;
    if (remote_of(h, jid, false))
        return 1;
    if (jid_parse(jid, &j) != 0 || j.local == NULL || strcmp(j.domain, h->domain) == 0) {
        if (j.domain)
            jid_deinit(&j);
        return 0;
    }
    d = hash_get(&h->fed_disco, j.domain);
    if (d && d->known && d->expires > now_ms)
        r = d->is_node ? 1 : 0;
    else {
        disco_ask(h, j.domain, now_ms);
        r = CS_EAGAIN;
    }
    jid_deinit(&j);
    return r;
}

bool fed_knows_remote(struct home *h, const char *jid)
{
    struct jid j;
    struct disco *d;
    bool yes;
    if (remote_of(h, jid, false))
        return true;
    if (jid_parse(jid, &j) != 0)
        return false;
    d = hash_get(&h->fed_disco, j.domain);
    yes = d && d->known && d->is_node;
    jid_deinit(&j);
    return yes;
}

/* The channels that waited for domain's answer (feddisco.c calls back). */
static void disco_done(struct home *h, const char *domain, bool is_node, int64_t now_ms)
{
    for (struct channel *c = h->fed_head; c; c = c->remote->next) {
        if (c->remote->state != R_DISCOVER || strcmp(c->remote->domain, domain) != 0)
            continue;
        if (is_node)
            remote_subscribe(h, c, now_ms);
        else if (c->remote->subscribed_once || c->nwatchers > 0)
            /* Acknowledged watchers are never dropped for a failed
             * discovery (the home's component down at a restart). */
            remote_error(h, c, "its domain does not answer as a chanstat node now", now_ms);
        else
            remote_refuse_all(h, c, "its domain is not a chanstat node", now_ms);
    }
}

bool cluster_home(const struct home *h, const char *domain)
{
    return h->cluster_homes && config_list_has(h->cluster_homes, domain);
}

char *cluster_home_jid(const struct home *h, const char *addr)
{
    struct jid j;
    const char *home;
    struct strbuf sb = {0};
    if (jid_parse(addr, &j) != 0)
        return NULL;
    if (strcmp(j.domain, h->domain) != 0 || j.local == NULL) {
        jid_deinit(&j);
        return xstrdup(addr); /* a remote channel's own JID */
    }
    /* The front's public address: wherever the channel lives now. */
    home = h->place ? h->place(h->place_ud, j.local) : NULL;
    if (home)
        strbuf_printf(&sb, "%s@%s", j.local, home);
    jid_deinit(&j);
    return sb.data;
}

/* ---- Local watchers ---- */

static void store_watcher(struct home *h, struct channel *c, const char *jid, const char *state)
{
    /* A cluster home's channel: under its public address, wherever it
     * lives. */
    const char *key = cluster_home(h, c->remote->domain) ? c->jid : c->remote->home;
    int r = state ? roster_remote_watcher_put(h->roster, key, jid, state)
                  : roster_remote_watcher_delete(h->roster, key, jid);
    if (r != 0)
        log_error("fed: cannot store watcher %s of %s", jid, key);
}

static int pending_index(const struct remote *r, const char *jid)
{
    for (unsigned i = 0; i < r->npending; i++) {
        if (strcmp(r->pending[i], jid) == 0)
            return (int)i;
    }
    return -1;
}

static void pending_add(struct remote *r, const char *jid)
{
    if (pending_index(r, jid) >= 0)
        return;
    if (r->npending == r->cappending) {
        r->cappending = r->cappending ? r->cappending * 2 : 4;
        r->pending = xrealloc(r->pending, r->cappending * sizeof(*r->pending));
    }
    r->pending[r->npending++] = xstrdup(jid);
}

static void pending_del(struct remote *r, const char *jid)
{
    int i = pending_index(r, jid);
    if (i < 0)
        return;
    free(r->pending[i]);
    r->pending[i] = r->pending[--r->npending];
}

static bool open_policy(const struct remote *r)
{
    return strcmp(r->policy, "open") == 0;
}

/* Approve and closed channels decide per watcher at the home: we ask for
 * user, vouching for it (doc/federation.md). */
static void vouch_upstream(struct home *h, struct channel *c, const char *user, const char *type)
{
    char *esc = jid_escape_local(user);
    struct strbuf from = {0};
    struct xml_node *p = xml_elem_new("presence", NULL);
    strbuf_printf(&from, "%s@%s", esc, h->domain);
    xml_set_attr(p, "from", from.data);
    xml_set_attr(p, "to", c->remote->home);
    xml_set_attr(p, "type", type);
    xml_add_child(p, "vouch", NS_FEDERATION);
    if (out_stanza(h->out, p) != 0)
        log_debug("fed: %s for %s not sent: link down", type, user);
    xml_free(p);
    strbuf_free(&from);
    free(esc);
}

/* A watcher is admitted: told, and shown the cached status (once the
 * home told us one: never an "unavailable" we do not know to be true;
 * the home's status then reaches it with the fan-out). */
static void admit(struct home *h, struct channel *c, const char *jid)
{
    watchers_set(c, jid, true);
    store_watcher(h, c, jid, "watching");
    home_send_presence(h, c->jid, jid, "subscribed", NULL);
    if (c->remote->status_known)
        home_send_status_to(h, c, jid);
}

void remote_refuse_all(struct home *h, struct channel *c, const char *why, int64_t now_ms)
{
    struct remote *r = c->remote;
    log_info("fed: %s: %s; telling %u watcher(s)", r->home, why, r->npending + c->nwatchers);
    while (r->npending > 0) {
        char *w = r->pending[--r->npending];
        store_watcher(h, c, w, NULL);
        home_send_presence(h, c->jid, w, "unsubscribed", NULL);
        free(w);
    }
    while (c->nwatchers > 0) {
        char *w = xstrdup(c->watchers[c->nwatchers - 1]);
        watchers_set(c, w, false);
        store_watcher(h, c, w, NULL);
        home_send_presence(h, c->jid, w, "unsubscribed", NULL);
        home_send_presence(h, c->jid, w, "unavailable", NULL);
        free(w);
    }
    r->linger_at = now_ms; /* forgotten at the next check */
    r->state = R_ERROR;
    r->retry_at = INT64_MAX;
}

/* The upstream is gone or failing: nobody keeps a stale "available". */
void remote_error(struct home *h, struct channel *c, const char *why, int64_t now_ms)
{
    struct remote *r = c->remote;
    log_info("fed: %s: %s; retrying in %lld s", r->home, why,
             (long long)(h->fed.retry_ms / MS_PER_S));
    r->state = R_ERROR;
    r->retry_at = now_ms + h->fed.retry_ms;
    r->status_known = false;
    if (status_set_clear(&c->status, cs_wall_of(h->clock, now_ms) / MS_PER_S))
        fanout_queue(h, c, now_ms);
}

struct channel *remote_of(struct home *h, const char *home_jid, bool create)
{
    struct jid j;
    struct channel *c;
    char *local;
    if (jid_parse(home_jid, &j) != 0)
        return NULL;
    /* A cluster home's channel goes by its own name here. */
    local = cluster_home(h, j.domain) && j.local ? xstrdup(j.local) : jid_escape_local(home_jid);
    c = chancache_loaded(&h->cache, local);
    if (c && c->remote && strcmp(c->remote->home, home_jid) != 0)
        c = NULL; /* a home the channel has left */
    else if (c == NULL && create) {
        c = chancache_add(&h->cache, local);
        c->remote = xcalloc(1, sizeof(*c->remote));
        c->remote->home = xstrdup(home_jid);
        c->remote->domain = xstrdup(j.domain);
        c->remote->state = R_IDLE;
        c->policy = POLICY_CLOSED; /* until its home says otherwise */
        c->remote->next = h->fed_head;
        h->fed_head = c;
    }
    jid_deinit(&j);
    free(local);
    return c && c->remote ? c : NULL;
}

struct channel *fed_remote_at(struct home *h, const struct jid *remote)
{
    char *home_jid;
    struct channel *c;
    if (remote->local == NULL || strcmp(remote->domain, h->domain) == 0)
        return NULL;
    home_jid = jid_bare(remote);
    c = remote_of(h, home_jid, false);
    free(home_jid);
    return c;
}

bool fed_remote_event(struct home *h, const struct stanza_in *in)
{
    const struct xml_node *ev = xml_child(in->xml, "event", NS_PUBSUB_EVENT);
    struct channel *c;
    char *home_jid;
    if (ev == NULL || in->to.local || in->from.local == NULL || h->pep == NULL)
        return false;
    home_jid = jid_bare(&in->from);
    c = remote_of(h, home_jid, false);
    free(home_jid);
    /* From a remote channel we watch: its items, for local watchers and
     * subscribers.  Events from anybody else to the domain are nobody's
     * business: dropped (a headline is never answered). */
    for (const struct xml_node *it = c ? xml_first_elem(ev) : NULL; it; it = xml_next_elem(it))
        if (strcmp(it->name, "items") == 0)
            pep_remote_items(h->pep, c, it);
    return true;
}

bool fed_watching(struct home *h, const struct jid *from)
{
    char *home_jid;
    bool yes;
    if (from->local == NULL)
        return false;
    home_jid = jid_bare(from);
    yes = remote_of(h, home_jid, false) != NULL;
    free(home_jid);
    return yes;
}

bool fed_presence(struct home *h, const struct xml_node *p, const struct jid *from,
                  const struct jid *to, const struct jid *remote, int64_t now_ms)
{
    const char *type = xml_attr(p, "type");
    char *home_jid, *contact;
    struct channel *c;

    /* A front's channels are public: anybody may watch them. */
    if (!(local_user(h, from) || cluster_home(h, remote->domain)) || remote->local == NULL ||
        strcmp(remote->domain, h->domain) == 0)
        return false;
    home_jid = jid_bare(remote);
    contact = jid_bare(from);
    c = remote_of(h, home_jid, type && strcmp(type, "subscribe") == 0);
    if (c == NULL) {
        /* Not watched through us: a probe learns that. */
        if (type && strcmp(type, "probe") == 0) {
            char *addr = jid_bare(to);
            home_send_presence(h, addr, contact, "unsubscribed", NULL);
            free(addr);
        }
    } else if (type == NULL || strcmp(type, "unavailable") == 0) {
        /* presence from a watcher to a remote channel means nothing */
    } else if (strcmp(type, "subscribe") == 0) {
        if (watchers_has(c, contact)) {
            home_send_presence(h, c->jid, contact, "subscribed", NULL);
            home_send_status_to(h, c, contact);
        } else if (c->remote->state == R_ACTIVE && open_policy(c->remote)) {
            admit(h, c, contact); /* no s2s stanza at all */
        } else if (c->remote->state == R_ACTIVE) {
            pending_add(c->remote, contact);
            store_watcher(h, c, contact, "pending");
            vouch_upstream(h, c, contact, "subscribe"); /* the home decides */
        } else {
            pending_add(c->remote, contact);
            store_watcher(h, c, contact, "pending");
            if (c->remote->state == R_IDLE)
                remote_discover(h, c, now_ms);
        }
        c->remote->linger_at = 0;
    } else if (strcmp(type, "unsubscribe") == 0 || strcmp(type, "unsubscribed") == 0) {
        bool was = watchers_has(c, contact) || pending_index(c->remote, contact) >= 0;
        if (was && !open_policy(c->remote) && c->remote->state == R_ACTIVE)
            vouch_upstream(h, c, contact, "unsubscribe");
        watchers_set(c, contact, false);
        pending_del(c->remote, contact);
        store_watcher(h, c, contact, NULL);
        if (was)
            home_send_presence(h, c->jid, contact, "unavailable", NULL);
        if (c->nwatchers == 0 && c->remote->npending == 0)
            c->remote->linger_at = now_ms + h->fed.linger_ms;
    } else if (strcmp(type, "probe") == 0) {
        char *full = jid_full(from);
        if (watchers_has(c, contact))
            home_send_status_to(h, c, full);
        else
            home_send_presence(h, c->jid, contact, "unsubscribed", NULL);
        free(full);
    }
    free(home_jid);
    free(contact);
    return true;
}

/* ---- Answers from homes ---- */

static int64_t lease_of(const struct home *h, const struct xml_node *p, char *policy, size_t len)
{
    const struct xml_node *l = xml_child(p, "lease", NS_FEDERATION);
    const char *s = l ? xml_attr(l, "seconds") : NULL;
    const char *pol = l ? xml_attr(l, "policy") : NULL;
    int64_t v;
    cs_strlcpy(policy, pol ? pol : "open", len);
    /* Compared before it is scaled: any number a home sends is safe. */
    if (cs_parse_int(s, 1, INT64_MAX, &v) != 0 || v > h->fed.lease_ms / MS_PER_S)
        return h->fed.lease_ms;
    return v * MS_PER_S;
}

/* The XEP-0153 avatar hash in the home's presence, kept for local
 * watchers' presence; true when it changed.  Anything but 40 hex digits
 * (or an empty photo) is not a hash: ignored. */
static bool photo_from(struct channel *c, const struct xml_node *p)
{
    const struct xml_node *x = xml_child(p, "x", NS_VCARD_UPDATE);
    const struct xml_node *ph = x ? xml_child(x, "photo", NULL) : NULL;
    char *hash = ph ? xml_text_dup(ph) : NULL;
    bool ok =
        hash && (hash[0] == '\0' || strspn(hash, "0123456789abcdef") == 40) && strlen(hash) <= 40;
    bool changed = ok && (!c->photo_known || strcmp(hash, c->photo) != 0);
    if (changed) {
        cs_strlcpy(c->photo, hash, sizeof(c->photo));
        c->photo_known = true;
    }
    free(hash);
    return changed;
}

bool fed_from_home(struct home *h, const struct xml_node *p, const struct jid *from, int64_t now_ms)
{
    const char *type = xml_attr(p, "type");
    char *home_jid;
    struct channel *c;
    struct remote *r;

    if (from->local == NULL)
        return false;
    home_jid = jid_bare(from);
    c = remote_of(h, home_jid, false);
    free(home_jid);
    if (c == NULL)
        return false;
    r = c->remote;
    if (type == NULL || strcmp(type, "unavailable") == 0) {
        struct status_update u;
        if (!r->status_known) {
            /* The first word since we (re)subscribed: everybody gets it,
             * even if it equals what we held (a restart cleared it). */
            r->status_known = true;
            fanout_queue(h, c, now_ms);
        }
        if (type == NULL && photo_from(c, p))
            fanout_queue(h, c, now_ms); /* a new avatar hash for local watchers */
        if (type == NULL && status_update_parse(p, UPSTREAM, &u) == 0) {
            if (status_set_apply(&c->status, &u, cs_wall_of(h->clock, now_ms) / MS_PER_S))
                fanout_queue(h, c, now_ms);
        } else if (type && status_set_clear(&c->status, cs_wall_of(h->clock, now_ms) / MS_PER_S)) {
            fanout_queue(h, c, now_ms);
        }
        if (type == NULL)
            status_update_deinit(&u);
    } else if (strcmp(type, "subscribed") == 0) {
        r->lease_end = now_ms + lease_of(h, p, r->policy, sizeof(r->policy));
        /* Who may see its properties here (pep_may_see): anyone when
         * open, else its watchers. */
        c->policy = open_policy(r) ? POLICY_OPEN : POLICY_CLOSED;
        r->state = R_ACTIVE;
        r->subscribed_once = true;
        if (open_policy(r)) {
            while (r->npending > 0) {
                char *w = r->pending[--r->npending];
                admit(h, c, w);
                free(w);
            }
        } else {
            for (unsigned i = 0; i < r->npending; i++)
                vouch_upstream(h, c, r->pending[i], "subscribe");
        }
    } else if (strcmp(type, "unsubscribed") == 0) {
        if (!r->subscribed_once)
            remote_refuse_all(h, c, "no such channel at its home, or refused", now_ms);
        else
            remote_error(h, c, "the home ended our subscription", now_ms);
    } else if (strcmp(type, "error") == 0) {
        if (r->state == R_SUBSCRIBE && !r->subscribed_once && r->npending > 0 && c->nwatchers == 0)
            remote_refuse_all(h, c, "the home answered with an error", now_ms);
        else
            remote_error(h, c, "error from the home", now_ms);
    }
    return true;
}

/* The home's answer for one user we vouched for. */
bool fed_vouched_answer(struct home *h, const struct xml_node *p, const struct jid *from,
                        const struct jid *user, int64_t now_ms)
{
    const char *type = xml_attr(p, "type");
    char *home_jid = jid_bare(from), *bare;
    struct channel *c = remote_of(h, home_jid, false);
    free(home_jid);
    if (c == NULL || type == NULL)
        return c != NULL;
    bare = jid_bare(user);
    if (strcmp(type, "subscribed") == 0 && !watchers_has(c, bare)) {
        pending_del(c->remote, bare);
        admit(h, c, bare);
    } else if (strcmp(type, "unsubscribed") == 0) {
        bool watching = watchers_has(c, bare);
        if (watching || pending_index(c->remote, bare) >= 0) {
            watchers_set(c, bare, false);
            pending_del(c->remote, bare);
            store_watcher(h, c, bare, NULL);
            home_send_presence(h, c->jid, bare, "unsubscribed", NULL);
            if (watching)
                home_send_presence(h, c->jid, bare, "unavailable", NULL);
            if (c->nwatchers == 0 && c->remote->npending == 0)
                c->remote->linger_at = now_ms + h->fed.linger_ms;
        }
    }
    free(bare);
    return true;
}

bool fed_vouch_error(struct home *h, const struct stanza_in *in)
{
    const struct jid *from = &in->from, *user = &in->relay;
    char *home_jid, *bare;
    struct channel *c;
    if (in->relay_rc != 0 || user->local == NULL || !fed_watching(h, from))
        return false;
    /* The home refused what we asked for this user (a forbidden claim,
     * an error): the user is told, never left pending. */
    home_jid = jid_bare(from);
    bare = jid_bare(user);
    c = remote_of(h, home_jid, false);
    if (c && (pending_index(c->remote, bare) >= 0 || watchers_has(c, bare))) {
        log_info("fed: %s refused a request for %s", c->remote->home, bare);
        watchers_set(c, bare, false);
        pending_del(c->remote, bare);
        store_watcher(h, c, bare, NULL);
        home_send_presence(h, c->jid, bare, "unsubscribed", NULL);
        if (c->nwatchers == 0 && c->remote->npending == 0)
            c->remote->linger_at = in->now_ms + h->fed.linger_ms;
    }
    free(home_jid);
    free(bare);
    return true;
}

/* ---- Timers, link events ---- */

static void forget(struct home *h, struct channel **pp)
{
    struct channel *c = *pp;
    *pp = c->remote->next;
    log_debug("fed: forgetting %s", c->remote->home);
    chancache_forget(&h->cache, c);
}

void fed_tick(struct home *h, int64_t now_ms)
{
    /* Discoveries nobody answered expire in the registry (disco_answer). */
    for (struct channel **pp = &h->fed_head; *pp;) {
        struct channel *c = *pp;
        struct remote *r = c->remote;
        if (c->nwatchers == 0 && r->npending == 0 && r->linger_at && r->linger_at <= now_ms) {
            if (r->state == R_ACTIVE || r->state == R_SUBSCRIBE)
                remote_send(h, c, "unsubscribe", false, now_ms);
            forget(h, pp);
            continue;
        }
        switch (r->state) {
        case R_IDLE:
            if (c->nwatchers > 0 || r->npending > 0)
                remote_discover(h, c, now_ms);
            break;
        case R_DISCOVER:
            if (now_ms >= r->deadline) {
                struct disco *d = hash_get(&h->fed_disco, r->domain);
                if (d && d->asking) {
                    disco_stop(h, d);
                    d->known = true;
                    d->is_node = false;
                    d->expires = now_ms + h->fed.retry_ms;
                }
                if (r->subscribed_once || c->nwatchers > 0)
                    remote_error(h, c, "its domain does not answer", now_ms);
                else
                    remote_refuse_all(h, c, "its domain does not answer as a chanstat node",
                                      now_ms);
            }
            break;
        case R_SUBSCRIBE:
            if (now_ms >= r->deadline) {
                if (r->subscribed_once || c->nwatchers > 0)
                    remote_error(h, c, "no answer from the home", now_ms);
                else
                    remote_refuse_all(h, c, "no answer from the home", now_ms);
            }
            break;
        case R_ACTIVE:
            if (now_ms >= r->lease_end) {
                remote_error(h, c, "lease ran out before it was renewed", now_ms);
            } else if (now_ms >= r->lease_end - h->fed.resubscribe_delta_ms &&
                       now_ms - r->last_sent >= h->fed.min_resubscribe_ms) {
                r->last_sent = now_ms;
                remote_send(h, c, "subscribe", true, now_ms); /* renewal; stays active */
            }
            break;
        case R_ERROR:
            if (now_ms >= r->retry_at)
                remote_discover(h, c, now_ms);
            break;
        }
        pp = &c->remote->next;
    }
}

void fed_online(struct home *h, int64_t now_ms)
{
    for (struct channel *c = h->fed_head; c; c = c->remote->next) {
        if (c->nwatchers > 0 || c->remote->npending > 0)
            remote_discover(h, c, now_ms); /* renewed at once after the link came up */
    }
}

void fed_offline(struct home *h, int64_t now_ms)
{
    for (struct channel *c = h->fed_head; c; c = c->remote->next) {
        c->remote->state = R_IDLE;
        c->policy = POLICY_CLOSED; /* until its home says otherwise */
        c->remote->status_known = false;
        status_set_clear(&c->status, cs_wall_of(h->clock, now_ms) / MS_PER_S);
    }
    /* Nothing in flight will be answered: asked again once online. */
    for (size_t pos = 0;;) {
        const char *k;
        void *v;
        if (!hash_next(&h->fed_disco, &pos, &k, &v))
            break;
        disco_stop(h, v);
    }
}

static void on_remote_watcher(void *ud, const char *remote, const char *jid, const char *state)
{
    struct home *h = ud;
    char *home_jid = cluster_home_jid(h, remote);
    struct channel *c = home_jid ? remote_of(h, home_jid, true) : NULL;
    free(home_jid);
    if (c == NULL || !channel_jid_ok(jid))
        return;
    if (strcmp(state, "watching") == 0)
        watchers_set(c, jid, true);
    else
        pending_add(c->remote, jid);
}

int fed_load(struct home *h)
{
    h->disco_done = disco_done;
    return roster_remote_watchers(h->roster, on_remote_watcher, h);
}

void fed_forget_all(struct home *h)
{
    h->fed_head = NULL; /* the channels themselves belong to the cache */
}
