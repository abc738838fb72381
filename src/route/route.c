/* route.c - message routing through the home: owner delivery, replies
 * from the channel address, the offline store and its paced delivery. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs_error.h"
#include "cs_federation.h"
#include "cs_hash.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_offline.h"
#include "cs_roster.h"
#include "cs_route.h"
#include "cs_stanza.h"
#include "cs_util.h"

#define NS_DELAY "urn:xmpp:delay"
/* Stored messages read per step of the flush cursor (and never more
 * bytes than the output has room for). */
#define FLUSH_PAGE 64
#define FLUSH_PAGES_PER_CALL 4
/* Channels whose store usage is cached; above this, entries with nothing
 * stored are forgotten (read again on demand). */
#define USAGE_SWEEP 100000
/* Conversation memory kept in memory; the database keeps all of it. */
#define CONV_CACHE_MAX 100000
#define EXPIRE_INTERVAL_MS 60000

/* A channel's offline store: how much, and how far the cursor got. */
struct stored {
    int count; /* rows in the store, sent or not (no scan per message) */
    int64_t bytes;
    int64_t sent_upto;  /* highest id accepted by the link and not yet deleted */
    unsigned in_flight; /* of those, how many await route_drained */
    bool queued;        /* on the flush queue */
    struct stored *next;
    char channel[];
};

struct sent {
    int64_t id;
    struct stored *s;
    size_t bytes;
};

struct conv {
    bool dirty; /* not yet in the database */
    char *channel;
    char *via;  /* the node the contact wrote through, or NULL */
    char key[]; /* owner '\n' contact */
};

/* A message waiting for "is that domain a chanstat node?". */
struct held {
    struct xml_node *msg;
    char *domain;
    struct held *next;
};
#define HELD_MAX 1000

struct route {
    const char *domain;
    struct home *home;
    struct roster *roster;
    struct offline *offline;
    struct route_limits limits;
    const struct out *out;
    struct hash usage; /* channel -> struct stored * */
    size_t usage_sweep_at;
    struct stored *flush_head, *flush_tail;
    struct sent *sent; /* accepted by the link since the last drain */
    size_t nsent, capsent;
    struct hash convs; /* key -> struct conv * */
    unsigned ndirty;
    bool conv_failing; /* writing conversations fails (logged once) */
    int64_t next_expire;
    struct held *held_head, *held_tail;
    unsigned nheld;
    struct route_stats stats;
};

struct route *route_new(const char *domain, struct home *home, struct roster *roster,
                        struct offline *offline, const struct route_limits *limits,
                        const struct out *out)
{
    struct route *r = xcalloc(1, sizeof(*r));
    r->domain = domain;
    r->home = home;
    r->roster = roster;
    r->offline = offline;
    r->limits = *limits;
    r->out = out;
    r->usage_sweep_at = USAGE_SWEEP;
    return r;
}

static void free_usage(struct route *r)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (hash_next(&r->usage, &pos, &k, &v))
        free(v);
    hash_clear(&r->usage);
    r->flush_head = r->flush_tail = NULL;
    r->nsent = 0;
}

static void free_convs(struct route *r)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (hash_next(&r->convs, &pos, &k, &v)) {
        struct conv *c = v;
        free(c->channel);
        free(c->via);
        free(c);
    }
    hash_clear(&r->convs);
    r->ndirty = 0;
}

void route_free(struct route **rp)
{
    struct route *r = *rp;
    if (r == NULL)
        return;
    free_usage(r);
    free_convs(r);
    while (r->held_head) {
        struct held *hd = r->held_head;
        r->held_head = hd->next;
        xml_free(hd->msg);
        free(hd->domain);
        free(hd);
    }
    free(r->sent);
    free(r);
    *rp = NULL;
}

void route_reload(struct route *r)
{
    free_usage(r);
}

const struct route_stats *route_stats(const struct route *r)
{
    return &r->stats;
}

/* Forgets cached usage of channels with nothing stored or in flight:
 * amortised O(1) per insert (runs when the table doubled since). */
static void sweep_usage(struct route *r)
{
    struct hash keep = {0};
    size_t pos = 0;
    const char *k;
    void *v;
    while (hash_next(&r->usage, &pos, &k, &v)) {
        struct stored *s = v;
        if (s->count == 0 && s->in_flight == 0 && !s->queued)
            free(s);
        else
            hash_put(&keep, s->channel, s);
    }
    hash_clear(&r->usage);
    r->usage = keep;
    r->usage_sweep_at = r->usage.n * 2 > USAGE_SWEEP ? r->usage.n * 2 : USAGE_SWEEP;
}

/* The channel's store usage (one indexed query the first time).  NULL on
 * a database error. */
static struct stored *usage(struct route *r, const char *channel)
{
    struct stored *s = hash_get(&r->usage, channel);
    size_t len;
    if (s)
        return s;
    len = strlen(channel);
    s = xcalloc(1, sizeof(*s) + len + 1);
    memcpy(s->channel, channel, len + 1);
    if (offline_usage(r->offline, channel, &s->count, &s->bytes) != 0) {
        free(s);
        return NULL;
    }
    if (r->usage.n >= r->usage_sweep_at)
        sweep_usage(r);
    hash_put(&r->usage, s->channel, s);
    return s;
}

static void reply_error(struct route *r, const struct xml_node *msg, const char *type,
                        const char *cond, const char *text)
{
    struct xml_node *e = stanza_error_reply(msg, r->domain, type, cond, text);
    r->stats.errors_sent++;
    if (out_stanza(r->out, e) != 0)
        log_debug("route: error reply not sent: link down");
    xml_free(e);
}

/* A copy of msg readdressed; everything else (id, type, thread, bodies
 * with their languages, receipts, chat states, unknown payloads) stays.
 * 0 or CS_ENOTCONN. */
static int forward(struct route *r, const struct xml_node *msg, const char *from, const char *to,
                   int64_t delayed)
{
    struct xml_node *m = xml_copy(msg);
    int rc;
    xml_set_attr(m, "from", from);
    xml_set_attr(m, "to", to);
    if (delayed) {
        /* XEP-0203: when the message was received, stamped by us. */
        char stamp[32];
        time_t t = (time_t)delayed;
        struct tm tm;
        struct xml_node *d = xml_add_child(m, "delay", NS_DELAY);
        gmtime_r(&t, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        xml_set_attr(d, "from", r->domain);
        xml_set_attr(d, "stamp", stamp);
    }
    rc = out_stanza(r->out, m);
    xml_free(m);
    return rc;
}

static char *full_of(const char *bare, const char *resource)
{
    struct strbuf sb = {0};
    strbuf_printf(&sb, "%s/%s", bare, resource);
    return sb.data;
}

/* Chat states and receipts alone carry nothing worth keeping. */
static bool has_content(const struct xml_node *msg)
{
    return xml_child(msg, "body", NULL) != NULL || xml_child(msg, "subject", NULL) != NULL;
}

/* Stores msg in the batch's transaction.  The sender hears of a failure
 * now; a failed commit is answered by the daemon (cs_node.h). */
static void store(struct route *r, const struct xml_node *msg, const char *channel,
                  const char *contact, const struct strbuf *sb, int64_t now_ms)
{
    struct stored *s = usage(r, channel);
    if (s == NULL) {
        reply_error(r, msg, "wait", "internal-server-error", NULL);
        return;
    }
    if (s->count + 1 > r->limits.offline_max_messages ||
        s->bytes + (int64_t)sb->len > r->limits.offline_max_bytes) {
        reply_error(r, msg, "wait", "resource-constraint", "the channel's offline store is full");
        return;
    }
    if (roster_tx_begin(r->roster) != 0 ||
        offline_put(r->offline, channel, contact, sb->data, sb->len, now_ms / 1000) != 0) {
        reply_error(r, msg, "wait", "internal-server-error", NULL);
        return;
    }
    s->count++;
    s->bytes += (int64_t)sb->len;
    r->stats.stored++;
}

/* ---- Conversation memory: which channel a contact last wrote to ---- */

static char *conv_key(const char *owner, const char *contact)
{
    struct strbuf sb = {0};
    strbuf_printf(&sb, "%s\n%s", owner, contact);
    return sb.data;
}

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* A database error is logged when writing conversations starts to fail
 * and once more when it works again, not at every retry. */
static void conv_write_failed(struct route *r)
{
    if (!r->conv_failing)
        log_error("route: cannot store conversations; retried until it works");
    r->conv_failing = true;
}

static void conv_write_ok(struct route *r)
{
    if (r->conv_failing)
        log_info("route: conversations are stored again");
    r->conv_failing = false;
}

/* Writes one conversation in the open transaction (started if none is).
 * 0, CS_ENOTFOUND when its channel is gone (logged here: the caller
 * forgets it, nothing else of the transaction is undone) or CS_EDB. */
static int put_conv(struct route *r, const char *owner, const char *contact, const char *channel,
                    const char *via)
{
    int rc = roster_conv_put(r->roster, owner, contact, channel, via);
    if (rc == CS_ENOTFOUND)
        log_warning("route: forgetting the conversation of %s with %s: channel %s no longer exists",
                    owner, contact, channel);
    return rc;
}

static void note_conversation(struct route *r, const char *owner, const char *contact,
                              const char *channel, const char *via)
{
    char *key = conv_key(owner, contact);
    struct conv *c = hash_get(&r->convs, key);
    if (c && strcmp(c->channel, channel) == 0 && same_str(c->via, via)) {
        free(key);
        return;
    }
    if (c == NULL) {
        size_t len = strlen(key);
        if (r->convs.n >= CONV_CACHE_MAX && r->ndirty == 0)
            free_convs(r); /* all in the database: start afresh */
        if (r->convs.n >= CONV_CACHE_MAX) {
            /* Dirty ones not yet written: write this one directly, in
             * the batch's transaction. */
            if (put_conv(r, owner, contact, channel, via) == CS_EDB)
                conv_write_failed(r);
            free(key);
            return;
        }
        c = xcalloc(1, sizeof(*c) + len + 1);
        memcpy(c->key, key, len + 1);
        hash_put(&r->convs, c->key, c);
    } else {
        free(c->channel);
        free(c->via);
    }
    c->channel = xstrdup(channel);
    c->via = via ? xstrdup(via) : NULL;
    if (!c->dirty) {
        c->dirty = true;
        r->ndirty++;
    }
    free(key);
}

struct first_ctx {
    char *name;
};

static void on_first(void *ud, const char *name, const char *owner, enum channel_policy p)
{
    struct first_ctx *f = ud;
    if (f->name == NULL)
        f->name = xstrdup(name);
}

/* The address a reply from owner to contact comes from; NULL when owner
 * owns no channel.  *via_r: the node the contact wrote through (a reply
 * goes back there), or NULL.  *known_r: there was a conversation.  Caller
 * frees both strings. */
static char *reply_channel(struct route *r, const char *owner, const char *contact, char **via_r,
                           bool *known_r)
{
    char *key = conv_key(owner, contact);
    struct conv *c = hash_get(&r->convs, key);
    char *name = NULL;
    const char *o, *res, *jid;
    struct first_ctx f = {0};

    free(key);
    *via_r = NULL;
    *known_r = false;
    if (c) {
        name = xstrdup(c->channel);
        *via_r = c->via ? xstrdup(c->via) : NULL;
    } else if (roster_conv_get(r->roster, owner, contact, &name, via_r) != 0) {
        name = NULL;
    }
    if (name && home_message_target(r->home, name, &o, &res, &jid) == 0 && o &&
        strcmp(o, owner) == 0) {
        char *out = xstrdup(jid);
        free(name);
        *known_r = true;
        return out;
    }
    free(name);
    free(*via_r);
    *via_r = NULL;
    if (roster_channels_of_owner(r->roster, owner, 1, on_first, &f) != 0 || f.name == NULL)
        return NULL;
    if (home_message_target(r->home, f.name, &o, &res, &jid) != 0) {
        free(f.name);
        return NULL;
    }
    free(f.name);
    return xstrdup(jid);
}

/* A copy of msg from `from` to escape(user)@node carrying <vouch/>: the
 * node-to-node hop of the mirror path (doc/federation.md). */
static int forward_vouched(struct route *r, const struct xml_node *msg, const char *from,
                           const char *user, const char *node)
{
    struct xml_node *m = xml_copy(msg);
    char *esc = jid_escape_local(user);
    struct strbuf to = {0};
    int rc;
    strbuf_printf(&to, "%s@%s", esc, node);
    xml_set_attr(m, "from", from);
    xml_set_attr(m, "to", to.data);
    if (xml_child(m, "vouch", NS_FEDERATION) == NULL)
        xml_add_child(m, "vouch", NS_FEDERATION);
    rc = out_stanza(r->out, m);
    xml_free(m);
    strbuf_free(&to);
    free(esc);
    return rc;
}

/* msg without our namespace's <vouch/> (before it reaches a user). */
static struct xml_node *without_vouch(const struct xml_node *msg)
{
    struct xml_node *m = xml_copy(msg);
    struct xml_node *v;
    while ((v = xml_child(m, "vouch", NS_FEDERATION)) != NULL) {
        struct xml_node **pp = &m->first_child, *prev = NULL;
        for (; *pp && *pp != v; prev = *pp, pp = &(*pp)->next)
            ;
        *pp = v->next;
        if (m->last_child == v)
            m->last_child = prev;
        v->next = NULL;
        v->parent = NULL;
        xml_free(v);
    }
    return m;
}

static void on_any(void *ud, const char *name, const char *owner, enum channel_policy p)
{
    *(bool *)ud = true;
}

static bool owns_channels(struct route *r, const char *who)
{
    bool yes = false;
    if (roster_channels_of_owner(r->roster, who, 1, on_any, &yes) != 0)
        return false;
    return yes;
}

static bool remote_target(struct route *r, const struct jid *target)
{
    char *bare = jid_bare(target);
    bool yes = fed_knows_remote(r->home, bare);
    free(bare);
    return yes;
}

/* A local user of this node (its parent domain, or local_domains). */
static bool local_user(const struct route *r, const char *domain)
{
    return fed_serves(&r->limits.fed, r->domain, domain);
}

/* The owner writes to a relay address: the reply goes to the contact
 * from the channel's address, through the contact's node if it wrote
 * through one.  Returns false when owner has no conversation with the
 * contact and `strict` asks for one (then the address may name a remote
 * channel instead). */
static bool reply(struct route *r, const struct xml_node *msg, const char *owner,
                  const struct jid *contact_jid, bool strict)
{
    char *contact = jid_bare(contact_jid), *via = NULL;
    bool known;
    char *channel_jid = reply_channel(r, owner, contact, &via, &known);

    if (strict && !known) {
        free(channel_jid);
        free(contact);
        return false;
    }
    if (channel_jid == NULL) {
        /* Not an owner: chanstat is no open relay. */
        reply_error(r, msg, "auth", "forbidden", NULL);
    } else if (via ? forward_vouched(r, msg, channel_jid, contact, via) == 0
                   : forward(r, msg, channel_jid, contact, 0) == 0) {
        r->stats.replies++;
    }
    free(via);
    free(channel_jid);
    free(contact);
    return true;
}

/* The status service's side of the mirror path: a local user writes to
 * escape(remote)@DOMAIN (goes to the remote channel from the user's
 * address here, vouched), or a remote channel's reply or error comes back
 * to escape(user)@DOMAIN (goes to the user from the escaped channel
 * address). */
/* msg without <vouch/>, from escape(from_jid)@DOMAIN to `to` (plus a
 * fresh <vouch/> when `vouch`). */
static void mirror_send(struct route *r, const struct xml_node *msg, const char *from_jid,
                        const char *to, bool vouch)
{
    char *esc = jid_escape_local(from_jid);
    struct strbuf addr = {0};
    struct xml_node *m = without_vouch(msg);
    strbuf_printf(&addr, "%s@%s", esc, r->domain);
    xml_set_attr(m, "from", addr.data);
    xml_set_attr(m, "to", to);
    if (vouch)
        xml_add_child(m, "vouch", NS_FEDERATION);
    if (out_stanza(r->out, m) == 0)
        r->stats.mirrored++;
    xml_free(m);
    strbuf_free(&addr);
    free(esc);
}

/* The status service's side of the mirror path: a local user writes to
 * escape(remote)@DOMAIN (goes to the remote channel from the user's
 * address here, vouched), or a remote channel's reply or error comes back
 * to escape(user)@DOMAIN (goes to the user from the escaped channel
 * address, the address the user wrote to). */
static bool mirror(struct route *r, const struct xml_node *msg, const struct jid *from,
                   const struct jid *target)
{
    const char *type = xml_attr(msg, "type");
    char *sender = jid_bare(from), *target_bare = jid_bare(target);
    bool done = true;

    if (local_user(r, from->domain) && target->local && strcmp(target->domain, r->domain) != 0 &&
        (type == NULL || strcmp(type, "error") != 0))
        mirror_send(r, msg, sender, target_bare, true); /* user -> remote channel */
    else if (local_user(r, target->domain) && strcmp(from->domain, r->domain) != 0 && from->local &&
             (xml_child(msg, "vouch", NS_FEDERATION) || (type && strcmp(type, "error") == 0)))
        mirror_send(r, msg, sender, target_bare, false); /* remote channel -> user */
    else
        done = false;
    free(sender);
    free(target_bare);
    return done;
}

/* Keeps msg until the target's domain said whether it is a chanstat
 * node (route_remote_known).  Bounded: HELD_MAX messages in all. */
static void hold(struct route *r, const struct xml_node *msg, const char *domain)
{
    struct held *hd;
    if (r->nheld >= HELD_MAX) {
        reply_error(r, msg, "wait", "resource-constraint", "too many messages waiting");
        return;
    }
    hd = xcalloc(1, sizeof(*hd));
    hd->msg = xml_copy(msg);
    hd->domain = xstrdup(domain);
    if (r->held_tail)
        r->held_tail->next = hd;
    else
        r->held_head = hd;
    r->held_tail = hd;
    r->nheld++;
}

/* A message to a relay address that is no conversation of the sender:
 * the mirror path when it names a remote channel and the sender is a
 * local user; else an owner's reply from its first channel, or
 * forbidden. */
static void relay_or_mirror(struct route *r, const struct xml_node *msg, const char *contact,
                            const struct jid *from, const struct jid *target)
{
    char *bare;
    int k;
    if (!local_user(r, from->domain)) {
        /* A remote channel answering one of our users (vouched), else an
         * owner elsewhere, or forbidden. */
        if (!mirror(r, msg, from, target))
            reply(r, msg, contact, target, false);
        return;
    }
    if (target->local == NULL || strcmp(target->domain, r->domain) == 0 ||
        (owns_channels(r, contact) && !remote_target(r, target))) {
        reply(r, msg, contact, target, false);
        return;
    }
    bare = jid_bare(target);
    k = fed_remote_channel(r->home, bare);
    free(bare);
    if (k == 1)
        mirror(r, msg, from, target);
    else if (k == CS_EAGAIN)
        hold(r, msg, target->domain);
    else
        reply(r, msg, contact, target, false); /* no chanstat node: forbidden */
}

void route_remote_known(void *ud, const char *domain, bool is_node)
{
    struct route *r = ud;
    struct held **pp = &r->held_head, *last = NULL;
    while (*pp) {
        struct held *hd = *pp;
        struct jid from, to, target;
        if (strcmp(hd->domain, domain) != 0) {
            last = hd;
            pp = &hd->next;
            continue;
        }
        *pp = hd->next;
        r->nheld--;
        if (jid_parse(xml_attr(hd->msg, "from"), &from) == 0) {
            if (jid_parse(xml_attr(hd->msg, "to"), &to) == 0) {
                if (to.local && jid_relay_parse(to.local, &target) == 0) {
                    if (is_node) {
                        mirror(r, hd->msg, &from, &target);
                    } else {
                        char *contact = jid_bare(&from);
                        reply(r, hd->msg, contact, &target, false);
                        free(contact);
                    }
                    jid_deinit(&target);
                }
                jid_deinit(&to);
            }
            jid_deinit(&from);
        }
        xml_free(hd->msg);
        free(hd->domain);
        free(hd);
    }
    r->held_tail = last;
    if (r->held_head == NULL)
        r->held_tail = NULL;
}

void route_message(struct route *r, const struct xml_node *msg, int64_t now_ms)
{
    const char *type = xml_attr(msg, "type");
    struct jid from, to, relay;
    struct strbuf sb = {0};
    char *contact = NULL;
    struct xml_node *clean = NULL; /* msg without <vouch/> */
    int rc;

    if (type == NULL)
        type = "normal";
    if (jid_parse(xml_attr(msg, "from"), &from) != 0)
        return;
    if (strcmp(type, "error") == 0) {
        /* RFC 6120 8.3.1: never answered.  An error on the mirror path goes
         * back to the user it concerns; others (bounces of relayed mail)
         * end here. */
        if (jid_parse(xml_attr(msg, "to"), &to) == 0) {
            if (to.local && jid_relay_parse(to.local, &relay) == 0) {
                mirror(r, msg, &from, &relay);
                jid_deinit(&relay);
            }
            jid_deinit(&to);
        }
        jid_deinit(&from);
        return;
    }
    if (jid_parse(xml_attr(msg, "to"), &to) != 0) {
        reply_error(r, msg, "modify", "jid-malformed", NULL);
        jid_deinit(&from);
        return;
    }
    xml_serialize(msg, XML_NS_COMPONENT, &sb);
    if (sb.len > (size_t)r->limits.max_message_bytes) {
        reply_error(r, msg, "modify", "policy-violation", "message too large");
        goto out;
    }
    contact = jid_bare(&from);
    if (to.local == NULL) {
        if (strcmp(type, "headline") != 0)
            reply_error(r, msg, "cancel", "service-unavailable", NULL);
        goto out;
    }
    rc = jid_relay_parse(to.local, &relay);
    if (rc == 0) {
        /* An owner answering a contact it talks to; else the mirror path
         * (federation); else an owner's first reply, or forbidden. */
        if (!reply(r, msg, contact, &relay, true))
            relay_or_mirror(r, msg, contact, &from, &relay);
        jid_deinit(&relay);
        goto out;
    }
    if (rc == CS_EINVAL) {
        reply_error(r, msg, "modify", "jid-malformed", "the relay address names no bare JID");
        goto out;
    }
    {
        const char *owner, *resource, *channel_jid, *via = NULL;
        const struct xml_node *m = msg;
        struct stored *s;
        if (home_message_target(r->home, to.local, &owner, &resource, &channel_jid) != 0 ||
            owner == NULL) {
            /* RFC 6121 8.5.2: no such channel, or nobody behind it. */
            if (strcmp(type, "headline") != 0)
                reply_error(r, msg, "cancel", "service-unavailable", NULL);
            goto out;
        }
        if (from.local && xml_child(msg, "vouch", NS_FEDERATION)) {
            /* A node passing on its user's message (the mirror path): the
             * owner sees the user's relay address here, as if the user
             * had written directly. */
            struct jid user;
            if (jid_relay_parse(from.local, &user) != 0) {
                reply_error(r, msg, "modify", "jid-malformed", NULL);
                goto out;
            }
            if (user.local == NULL || !fed_may_vouch(&r->limits.fed, from.domain, user.domain)) {
                log_warning("route: %s may not speak for %s@%s; refused", from.domain,
                            user.local ? user.local : "", user.domain);
                reply_error(r, msg, "auth", "forbidden", "that node may not speak for that user");
                jid_deinit(&user);
                goto out;
            }
            free(contact);
            contact = jid_bare(&user);
            jid_deinit(&user);
            via = from.domain;
            clean = without_vouch(msg);
            m = clean;
            sb.len = 0;
            xml_serialize(clean, XML_NS_COMPONENT, &sb);
        }
        note_conversation(r, owner, contact, to.local, via);
        s = usage(r, to.local);
        if (resource && s && s->count == 0) {
            char *from_addr = jid_relay_address(contact, r->domain);
            char *owner_full = full_of(owner, resource);
            if (forward(r, m, from_addr, owner_full, 0) == 0)
                r->stats.routed++;
            free(from_addr);
            free(owner_full);
            goto out;
        }
        /* Owner offline (or older messages still waiting: keep order). */
        if (strcmp(type, "headline") == 0 || !has_content(m))
            goto out; /* not stored: headlines, chat states and receipts alone */
        if (strcmp(type, "groupchat") == 0) {
            reply_error(r, msg, "cancel", "service-unavailable", NULL);
            goto out;
        }
        store(r, m, to.local, contact, &sb, now_ms);
        if (resource)
            route_flush(r, to.local); /* order kept: older ones first */
    }
out:
    xml_free(clean);
    strbuf_free(&sb);
    free(contact);
    jid_deinit(&from);
    jid_deinit(&to);
}

/* ---- The flush cursor ---- */

void route_flush(struct route *r, const char *channel)
{
    struct stored *s = usage(r, channel);
    if (s == NULL || s->count == 0 || s->queued)
        return;
    s->queued = true;
    s->next = NULL;
    if (r->flush_tail)
        r->flush_tail->next = s;
    else
        r->flush_head = s;
    r->flush_tail = s;
}

static void dequeue_head(struct route *r)
{
    struct stored *s = r->flush_head;
    r->flush_head = s->next;
    if (r->flush_head == NULL)
        r->flush_tail = NULL;
    s->next = NULL;
    s->queued = false;
}

struct flush_ctx {
    struct route *r;
    struct stored *s;
    const char *owner_full;
    int64_t now_s;
    bool stopped; /* the link refused: nothing more this round */
};

static void note_sent(struct route *r, struct stored *s, int64_t id, size_t bytes)
{
    if (r->nsent == r->capsent) {
        r->capsent = r->capsent ? r->capsent * 2 : 64;
        r->sent = xrealloc(r->sent, r->capsent * sizeof(*r->sent));
    }
    r->sent[r->nsent++] = (struct sent){id, s, bytes};
    s->sent_upto = id;
    s->in_flight++;
}

static void flush_one(void *ud, int64_t id, const char *sender, const char *stanza, int64_t stored)
{
    struct flush_ctx *f = ud;
    struct route *r = f->r;
    size_t len = strlen(stanza);
    struct xml_node *msg;
    char *from;

    if (f->stopped)
        return;
    msg = xml_parse_one(stanza, len);
    if (msg == NULL || stored < f->now_s - r->limits.offline_expiry_s) {
        /* Unreadable or expired: deleted with the others, never sent. */
        if (msg == NULL)
            log_error("route: stored message %lld is unreadable; dropped", (long long)id);
        else
            r->stats.expired++;
        xml_free(msg);
        note_sent(r, f->s, id, len);
        return;
    }
    from = jid_relay_address(sender, r->domain);
    if (forward(r, msg, from, f->owner_full, stored) == 0) {
        note_sent(r, f->s, id, len); /* recorded only once the link took it */
        r->stats.flushed++;
    } else {
        f->stopped = true;
    }
    free(from);
    xml_free(msg);
}

bool route_pump(struct route *r, int64_t now_ms)
{
    int pages = 0;
    while (r->flush_head) {
        if (pages++ == FLUSH_PAGES_PER_CALL)
            return true; /* more: the loop reads its inputs in between */
        struct stored *s = r->flush_head;
        const char *owner, *resource, *jid;
        struct flush_ctx f = {.r = r, .s = s, .now_s = now_ms / 1000};
        size_t room = out_room(r->out);
        char *owner_full;
        int n = 0;

        if (home_message_target(r->home, s->channel, &owner, &resource, &jid) != 0 ||
            owner == NULL || resource == NULL) {
            dequeue_head(r); /* the owner left again: queued at the next login */
            continue;
        }
        if (room == 0)
            return true;
        owner_full = full_of(owner, resource);
        f.owner_full = owner_full;
        if (offline_each_bytes(r->offline, s->channel, s->sent_upto, FLUSH_PAGE, room, flush_one,
                               &f, &n) != 0) {
            log_error("route: reading stored messages of %s failed", s->channel);
            dequeue_head(r);
        } else if (n == 0) {
            dequeue_head(r); /* all sent; deleted when drained */
        }
        free(owner_full);
        if (f.stopped)
            return true;
    }
    return false;
}

int route_drained(struct route *r)
{
    int rc = 0;
    if (r->nsent == 0)
        return 0;
    if (roster_tx_begin(r->roster) != 0)
        return CS_EDB;
    for (size_t i = 0; i < r->nsent && rc == 0; i++)
        rc = offline_delete(r->offline, r->sent[i].id);
    if (rc != 0 || roster_tx_commit(r->roster) != 0) {
        roster_tx_rollback(r->roster);
        return CS_EDB;
    }
    for (size_t i = 0; i < r->nsent; i++) {
        struct stored *s = r->sent[i].s;
        s->count--;
        s->bytes -= (int64_t)r->sent[i].bytes;
        s->in_flight--;
        if (s->count <= 0) {
            s->count = 0;
            s->bytes = 0;
            s->sent_upto = 0;
        }
    }
    r->nsent = 0;
    return 0;
}

void route_link_lost(struct route *r)
{
    size_t pos = 0;
    const char *k;
    void *v;
    r->nsent = 0;
    while (hash_next(&r->usage, &pos, &k, &v)) {
        struct stored *s = v;
        s->sent_upto = 0;
        s->in_flight = 0;
    }
    while (r->flush_head)
        dequeue_head(r);
}

/* After rows went away behind our back: O(cached channels), rare. */
static void recount(struct route *r)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (hash_next(&r->usage, &pos, &k, &v)) {
        struct stored *s = v;
        if (offline_usage(r->offline, s->channel, &s->count, &s->bytes) != 0)
            s->count = r->limits.offline_max_messages; /* unknown: store nothing unchecked */
    }
}

/* Writes the dirty conversations in one transaction.  One whose channel
 * is gone is forgotten (its row could never be written) and the others
 * commit; a database error rolls back and all are retried at the next
 * tick. */
static void persist_convs(struct route *r)
{
    struct conv **gone = NULL;
    size_t pos = 0, ngone = 0, capgone = 0;
    const char *k;
    void *v;
    bool failed = false;
    if (r->ndirty == 0)
        return;
    if (roster_tx_begin(r->roster) != 0) {
        conv_write_failed(r);
        return;
    }
    while (!failed && hash_next(&r->convs, &pos, &k, &v)) {
        struct conv *c = v;
        const char *nl = strchr(c->key, '\n');
        char *owner;
        int rc;
        if (!c->dirty)
            continue;
        owner = xstrndup(c->key, (size_t)(nl - c->key));
        rc = put_conv(r, owner, nl + 1, c->channel, c->via);
        free(owner);
        if (rc == CS_ENOTFOUND) {
            if (ngone == capgone) {
                capgone = capgone ? 2 * capgone : 16;
                gone = xrealloc(gone, capgone * sizeof(*gone));
            }
            gone[ngone++] = c;
        } else if (rc != 0) {
            failed = true;
        }
    }
    /* Not while iterating: a deletion moves entries of the table. */
    for (size_t i = 0; i < ngone; i++) {
        hash_del(&r->convs, gone[i]->key);
        free(gone[i]->channel);
        free(gone[i]->via);
        free(gone[i]);
        r->ndirty--;
    }
    free(gone);
    if (failed) {
        roster_tx_rollback(r->roster);
        conv_write_failed(r);
        return;
    }
    if (roster_tx_commit(r->roster) != 0) {
        conv_write_failed(r);
        return;
    }
    pos = 0;
    while (hash_next(&r->convs, &pos, &k, &v))
        ((struct conv *)v)->dirty = false;
    r->ndirty = 0;
    conv_write_ok(r);
}

void route_tick(struct route *r, int64_t now_ms)
{
    persist_convs(r);
    if (now_ms < r->next_expire)
        return;
    r->next_expire = now_ms + EXPIRE_INTERVAL_MS;
    if (r->nsent == 0) {
        int n = offline_expire(r->offline, now_ms / 1000 - r->limits.offline_expiry_s);
        if (n > 0) {
            log_info("route: %d stored message(s) expired", n);
            r->stats.expired += (unsigned long)n;
            recount(r);
        } else if (n < 0) {
            log_error("route: expiring stored messages failed");
        }
    }
}
