/* register.c - XEP-0077 in-band registration on the component domain: a
 * user registers a channel name and owns the new channel.
 *
 * The <username/> field is the channel name.  A registrant may own
 * several channels (up to opts.max_channels_per_owner, counting those an
 * admin made): a get shows the ones owned with <registered/>, a set with
 * another name registers one more, <remove/> removes them all.  The
 * answers and their errors are listed in doc/xmpp.md; the service only
 * routes here while [registration] enabled is set (else
 * service-unavailable, XEP-0077 section 3.1). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_home.h"
#include "cs_log.h"
#include "service_priv.h"

#define INVALID_NAME "not a valid channel name: a JID localpart without an escaped '@'"

/* Channel names shown in the registered state; the rest are counted. */
#define REGISTER_LIST_MAX 20

struct owned {
    char **names; /* the first `keep` names, in name order */
    size_t n, total, keep;
    const char *want; /* a name to look for, or NULL */
    bool has_want;
};

static void on_owned(void *ud, const char *name)
{
    struct owned *o = ud;
    if (o->n < o->keep) {
        o->names = xrealloc(o->names, (o->n + 1) * sizeof(*o->names));
        o->names[o->n++] = xstrdup(name);
    }
    o->total++;
    if (o->want && strcmp(o->want, name) == 0)
        o->has_want = true;
}

static void owned_free(struct owned *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->names[i]);
    free(o->names);
    o->names = NULL;
    o->n = 0;
}

/* The channels owner owns, keeping the first keep names: one indexed
 * query, O(their number).  0 or CS_EDB. */
static int owned_by(struct service *svc, const char *owner, size_t keep, const char *want,
                    struct owned *o)
{
    memset(o, 0, sizeof(*o));
    o->keep = keep;
    o->want = want;
    return home_channels_of(svc->home, owner, on_owned, o);
}

/* May this sender own channels here?  A JID with a localpart (a domain
 * cannot answer the owner binding's subscription request), not at our
 * own domain, at a listed domain when [registration] domains is set.
 * NULL when it may, else the reason. */
static const char *refused(const struct service *svc, const struct iq_ctx *q)
{
    const struct config_list *allowed = svc->opts.registration_domains;
    if (q->from->local == NULL)
        return "only user accounts can own channels";
    if (strcasecmp(q->from->domain, svc->domain) == 0)
        return "addresses of this service cannot own channels";
    if (allowed && allowed->n > 0 && !config_list_has(allowed, q->from->domain))
        return "registration is not open to accounts of your domain";
    return NULL;
}

void register_get(struct service *svc, const struct iq_ctx *q)
{
    struct owned o;
    struct strbuf text = {0};
    struct xml_node *r, *rq;
    const char *why = refused(svc, q);

    if (why) {
        service_error(svc, q->in, "cancel", "not-allowed", why);
        return;
    }
    if (owned_by(svc, q->requester, REGISTER_LIST_MAX, NULL, &o) != 0) {
        service_error(svc, q->in, "wait", "internal-server-error", NULL);
        return;
    }
    r = stanza_iq_result(q->in, svc->domain);
    rq = xml_add_child(r, "query", NS_REGISTER);
    if (o.total == 0) {
        strbuf_printf(&text,
                      "Choose a channel name: the channel NAME@%s will be yours, and your "
                      "presence its status.",
                      svc->domain);
        xml_add_text(xml_add_child(rq, "instructions", NULL), text.data);
        xml_add_child(rq, "username", NULL);
    } else {
        /* XEP-0077 section 3.1: <registered/> and what is on file.  The
         * field holds one name; the instructions list them all. */
        xml_add_child(rq, "registered", NULL);
        strbuf_append_str(&text, "You own ");
        for (size_t i = 0; i < o.n; i++)
            strbuf_printf(&text, "%s%s@%s", i ? ", " : "", o.names[i], svc->domain);
        if (o.total > o.n)
            strbuf_printf(&text, " and %zu more", o.total - o.n);
        if ((long)o.total < svc->opts.max_channels_per_owner)
            strbuf_printf(&text,
                          ". Send another name to register one more (at most %d), or "
                          "remove to remove all of them.",
                          svc->opts.max_channels_per_owner);
        else
            strbuf_append_str(&text, ". Send remove to remove all of them.");
        xml_add_text(xml_add_child(rq, "instructions", NULL), text.data);
        xml_add_text(xml_add_child(rq, "username", NULL), o.names[0]);
    }
    service_send(svc, r);
    strbuf_free(&text);
    owned_free(&o);
}

/* <remove/>: every channel the sender owns goes; their watchers and the
 * owner are told (home_remove_channel). */
static void remove_all(struct service *svc, const struct iq_ctx *q)
{
    struct owned o;
    int r;
    if (owned_by(svc, q->requester, SIZE_MAX, NULL, &o) != 0) {
        service_error(svc, q->in, "wait", "internal-server-error", NULL);
        return;
    }
    if (o.total == 0) {
        /* XEP-0077 section 3.2. */
        service_error(svc, q->in, "auth", "registration-required", "you own no channel");
        owned_free(&o);
        return;
    }
    r = 0;
    for (size_t i = 0; i < o.n && r == 0; i++) {
        r = home_remove_channel(svc->home, o.names[i], q->now_ms);
        if (r == CS_ENOTFOUND)
            r = 0; /* gone meanwhile */
        else if (r == 0)
            log_info("service: %s removed channel %s by in-band registration", q->requester,
                     o.names[i]);
    }
    owned_free(&o);
    /* A failed write: the node rolls the batch back and answers
     * internal-server-error in place of what was sent. */
    if (r != 0)
        service_error(svc, q->in, "wait", "internal-server-error", NULL);
    else
        service_send(svc, stanza_iq_result(q->in, svc->domain));
}

/* The text of <username/>; NULL when empty (caller frees). */
static char *channel_name(const struct xml_node *username)
{
    char *s = xml_text_dup(username);
    if (s[0] == '\0') {
        free(s);
        return NULL;
    }
    return s;
}

/* A channel name: a valid localpart that does not read as a relay
 * address (an escaped '@': cs_jid.h).  home_create_channel() checks the
 * same; checking first answers not-acceptable before the limits. */
static bool valid_name(const char *name)
{
    struct jid relay;
    int r;
    if (jid_check_local(name, strlen(name)) != 0)
        return false;
    r = jid_relay_parse(name, &relay);
    if (r == 0)
        jid_deinit(&relay);
    return r == CS_ENOTFOUND;
}

void register_set(struct service *svc, const struct iq_ctx *q)
{
    const struct xml_node *username = NULL;
    unsigned nusername = 0, nremove = 0, nother = 0;
    const char *why;
    struct owned o;
    char *name, *prepared;
    int r;

    for (const struct xml_node *c = xml_first_elem(q->payload); c; c = xml_next_elem(c)) {
        const char *ns = xml_ns(c);
        if (ns == NULL || strcmp(ns, NS_REGISTER) != 0) {
            /* A data form (we offer none) or anything foreign. */
            service_error(svc, q->in, "modify", "bad-request",
                          "only the fields of jabber:iq:register are accepted");
            return;
        }
        if (strcmp(c->name, "username") == 0) {
            username = c;
            nusername++;
        } else if (strcmp(c->name, "remove") == 0) {
            nremove++;
        } else {
            nother++; /* password, email ...: not asked for, ignored */
        }
    }
    if (nremove > 0) {
        /* XEP-0077 section 3.2: <remove/> must be the only child. */
        if (nremove + nusername + nother != 1) {
            service_error(svc, q->in, "modify", "bad-request",
                          "<remove/> must be the only child of <query/>");
            return;
        }
        remove_all(svc, q);
        return;
    }
    if (nusername > 1 || (username && xml_first_elem(username))) {
        service_error(svc, q->in, "modify", "bad-request", "one <username/> with text expected");
        return;
    }
    why = refused(svc, q);
    if (why) {
        service_error(svc, q->in, "cancel", "not-allowed", why);
        return;
    }
    name = username ? channel_name(username) : NULL;
    if (name == NULL) {
        /* XEP-0077 section 3.1: required information missing. */
        service_error(svc, q->in, "modify", "not-acceptable", "a channel name is required");
        return;
    }
    /* Prepared (nodeprep) as every localpart is when addressed. */
    prepared = jid_prep_local(name);
    free(name);
    name = prepared;
    if (name == NULL || !valid_name(name)) {
        service_error(svc, q->in, "modify", "not-acceptable", INVALID_NAME);
        free(name);
        return;
    }
    if (owned_by(svc, q->requester, 0, name, &o) != 0) {
        service_error(svc, q->in, "wait", "internal-server-error", NULL);
        free(name);
        return;
    }
    owned_free(&o);
    if (o.has_want) {
        service_send(svc, stanza_iq_result(q->in, svc->domain)); /* registered already */
        free(name);
        return;
    }
    if ((long)o.total >= svc->opts.max_channels_per_owner) {
        struct strbuf text = {0};
        strbuf_printf(&text, "you own %zu channels, the most allowed", o.total);
        service_error(svc, q->in, "cancel", "not-allowed", text.data);
        strbuf_free(&text);
        free(name);
        return;
    }
    r = home_create_channel(svc->home, name, q->requester, q->now_ms);
    if (r == 0) {
        svc->stats.registrations++;
        log_info("service: %s registered channel %s", q->requester, name);
        service_send(svc, stanza_iq_result(q->in, svc->domain));
    } else if (r == CS_EEXIST) {
        service_error(svc, q->in, "cancel", "conflict", "that channel name is taken");
    } else if (r == CS_EINVAL) {
        service_error(svc, q->in, "modify", "not-acceptable", INVALID_NAME);
    } else {
        service_error(svc, q->in, "wait", "internal-server-error", NULL);
    }
    free(name);
}
