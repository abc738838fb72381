/* route.c - dispatch of messages through the home: delivery to the owner,
 * replies from the channel address, the mirror path across nodes, and
 * messages held while a domain is asked whether it is a chanstat node.
 *
 * Owns struct route (route_new, route_free) and its held messages; calls
 * into convmem.c (conversation memory) and flush.c (the offline store and
 * its flush), never the other way round. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_federation.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_roster.h"
#include "cs_route.h"
#include "cs_util.h"
#include "route_priv.h"

/* A message waiting for "is that domain a chanstat node?". */
struct held {
    struct xml_node *msg;
    struct stanza_in in; /* msg as parsed when it arrived (a copy) */
    struct jid target;
    char *domain;
    struct held *next;
};
#define HELD_MAX 1000

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

void route_set_limits(struct route *r, const struct route_limits *limits)
{
    r->limits.max_message_bytes = limits->max_message_bytes;
    r->limits.offline_max_messages = limits->offline_max_messages;
    r->limits.offline_max_bytes = limits->offline_max_bytes;
    r->limits.offline_expiry_s = limits->offline_expiry_s;
}

void route_free(struct route **rp)
{
    struct route *r = *rp;
    if (r == NULL)
        return;
    flush_free_usage(r);
    conv_free_all(r);
    while (r->held_head) {
        struct held *hd = r->held_head;
        r->held_head = hd->next;
        stanza_in_deinit(&hd->in);
        jid_deinit(&hd->target);
        xml_free(hd->msg);
        free(hd->domain);
        free(hd);
    }
    free(r->sent);
    free(r);
    *rp = NULL;
}

void route_use_clock(struct route *r, const struct cs_clock *clock)
{
    r->clock = clock;
}

void route_on_commit(struct route *r, route_commit_cb *cb, void *ud)
{
    r->commit = cb;
    r->commit_ud = ud;
}

void route_reload(struct route *r)
{
    flush_free_usage(r);
}

const struct route_stats *route_stats(const struct route *r)
{
    return &r->stats;
}

/* Chat states and receipts alone carry nothing worth keeping. */
static bool has_content(const struct xml_node *msg)
{
    return xml_child(msg, "body", NULL) != NULL || xml_child(msg, "subject", NULL) != NULL;
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
static bool reply(struct route *r, const struct stanza_in *in, const char *owner,
                  const struct jid *contact_jid, bool strict)
{
    const struct xml_node *msg = in->xml;
    char *contact = jid_bare(contact_jid), *via = NULL;
    bool known;
    char *channel_jid = conv_reply_channel(r, owner, contact, &via, &known);

    if (strict && !known) {
        free(channel_jid);
        free(contact);
        return false;
    }
    if (channel_jid == NULL) {
        /* Not an owner: chanstat is no open relay. */
        flush_reply_error(r, in, "auth", "forbidden", NULL);
    } else if (via ? forward_vouched(r, msg, channel_jid, contact, via) == 0
                   : flush_forward(r, msg, channel_jid, contact, 0) == 0) {
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
static void hold(struct route *r, const struct stanza_in *in, const struct jid *target)
{
    struct held *hd;
    if (r->nheld >= HELD_MAX) {
        flush_reply_error(r, in, "wait", "resource-constraint", "too many messages waiting");
        return;
    }
    hd = xcalloc(1, sizeof(*hd));
    hd->msg = xml_copy(in->xml);
    stanza_in_copy(&hd->in, in, hd->msg);
    jid_copy(target, &hd->target);
    hd->domain = xstrdup(target->domain);
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
static void relay_or_mirror(struct route *r, const struct stanza_in *in, const char *contact,
                            const struct jid *target)
{
    const struct xml_node *msg = in->xml;
    const struct jid *from = &in->from;
    char *bare;
    int k;
    if (!local_user(r, from->domain)) {
        /* A remote channel answering one of our users (vouched), else an
         * owner elsewhere, or forbidden. */
        if (!mirror(r, msg, from, target))
            reply(r, in, contact, target, false);
        return;
    }
    if (target->local == NULL || strcmp(target->domain, r->domain) == 0 ||
        (owns_channels(r, contact) && !remote_target(r, target))) {
        reply(r, in, contact, target, false);
        return;
    }
    bare = jid_bare(target);
    k = fed_remote_channel(r->home, bare, in->now_ms);
    free(bare);
    if (k == 1)
        mirror(r, msg, from, target);
    else if (k == CS_EAGAIN)
        hold(r, in, target);
    else
        reply(r, in, contact, target, false); /* no chanstat node: forbidden */
}

void route_remote_known(void *ud, const char *domain, bool is_node)
{
    struct route *r = ud;
    struct held **pp = &r->held_head, *last = NULL;
    while (*pp) {
        struct held *hd = *pp;
        if (strcmp(hd->domain, domain) != 0) {
            last = hd;
            pp = &hd->next;
            continue;
        }
        *pp = hd->next;
        r->nheld--;
        if (is_node)
            mirror(r, hd->msg, &hd->in.from, &hd->target);
        else
            reply(r, &hd->in, hd->in.sender, &hd->target, false);
        stanza_in_deinit(&hd->in);
        jid_deinit(&hd->target);
        xml_free(hd->msg);
        free(hd->domain);
        free(hd);
    }
    r->held_tail = last;
    if (r->held_head == NULL)
        r->held_tail = NULL;
}

void route_message(struct route *r, const struct stanza_in *in)
{
    const struct xml_node *msg = in->xml;
    const char *type = in->type ? in->type : "normal";
    const struct jid *from = &in->from, *to = &in->to;
    struct strbuf sb = {0};
    char *contact = NULL;
    struct xml_node *clean = NULL; /* msg without <vouch/> */

    if (!in->from_ok)
        return;
    if (strcmp(type, "error") == 0) {
        /* RFC 6120 8.3.1: never answered.  An error on the mirror path goes
         * back to the user it concerns; others (bounces of relayed mail)
         * end here. */
        if (in->relay_rc == 0)
            mirror(r, msg, from, &in->relay);
        return;
    }
    if (!in->to_ok) {
        flush_reply_error(r, in, "modify", "jid-malformed", NULL);
        return;
    }
    xml_serialize(msg, XML_NS_COMPONENT, &sb);
    if (sb.len > (size_t)r->limits.max_message_bytes) {
        flush_reply_error(r, in, "modify", "policy-violation", "message too large");
        goto out;
    }
    contact = xstrdup(in->sender);
    if (to->local == NULL) {
        if (strcmp(type, "headline") != 0)
            flush_reply_error(r, in, "cancel", "service-unavailable", NULL);
        goto out;
    }
    if (in->relay_rc == 0) {
        /* An owner answering a contact it talks to; else the mirror path
         * (federation); else an owner's first reply, or forbidden. */
        if (!reply(r, in, contact, &in->relay, true))
            relay_or_mirror(r, in, contact, &in->relay);
        goto out;
    }
    if (in->relay_rc == CS_EINVAL) {
        flush_reply_error(r, in, "modify", "jid-malformed", "the relay address names no bare JID");
        goto out;
    }
    {
        const char *owner, *resource, *channel_jid, *via = NULL;
        const struct xml_node *m = msg;
        struct stored *s;
        if (home_message_target(r->home, to->local, &owner, &resource, &channel_jid) != 0 ||
            owner == NULL) {
            /* RFC 6121 8.5.2: no such channel, or nobody behind it. */
            if (strcmp(type, "headline") != 0)
                flush_reply_error(r, in, "cancel", "service-unavailable", NULL);
            goto out;
        }
        if (from->local && xml_child(msg, "vouch", NS_FEDERATION)) {
            /* A node passing on its user's message (the mirror path): the
             * owner sees the user's relay address here, as if the user
             * had written directly. */
            struct jid user;
            if (jid_relay_parse(from->local, &user) != 0) {
                flush_reply_error(r, in, "modify", "jid-malformed", NULL);
                goto out;
            }
            if (user.local == NULL || !fed_may_vouch(&r->limits.fed, from->domain, user.domain)) {
                log_warning("route: %s may not speak for %s@%s; refused", from->domain,
                            user.local ? user.local : "", user.domain);
                flush_reply_error(r, in, "auth", "forbidden",
                                  "that node may not speak for that user");
                jid_deinit(&user);
                goto out;
            }
            free(contact);
            contact = jid_bare(&user);
            jid_deinit(&user);
            via = from->domain;
            clean = without_vouch(msg);
            m = clean;
            sb.len = 0;
            xml_serialize(clean, XML_NS_COMPONENT, &sb);
        }
        /* The conversation is remembered only for a message the owner
         * gets or will get: a refused one leaves nothing behind, or
         * senders by the thousand (a flood at a full offline store)
         * would each leave a row. */
        s = flush_usage(r, to->local);
        if (resource && s && s->count == 0) {
            char *from_addr = jid_relay_address(contact, r->domain);
            char *owner_full = flush_full_of(owner, resource);
            conv_note(r, owner, contact, to->local, via);
            if (flush_forward(r, m, from_addr, owner_full, 0) == 0)
                r->stats.routed++;
            free(from_addr);
            free(owner_full);
            goto out;
        }
        /* Owner offline (or older messages still waiting: keep order). */
        if (strcmp(type, "headline") == 0 || !has_content(m))
            goto out; /* not stored: headlines, chat states and receipts alone */
        if (strcmp(type, "groupchat") == 0) {
            flush_reply_error(r, in, "cancel", "service-unavailable", NULL);
            goto out;
        }
        if (flush_store(r, in, to->local, contact, &sb))
            conv_note(r, owner, contact, to->local, via);
        if (resource)
            route_flush(r, to->local); /* order kept: older ones first */
    }
out:
    xml_free(clean);
    strbuf_free(&sb);
    free(contact);
}

void route_tick(struct route *r, int64_t now_ms)
{
    conv_persist(r);
    flush_expire(r, now_ms);
}
