/* service.c - dispatch of inbound stanzas: addressing, the table of iq
 * handlers of the domain and of channels, disco. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cs_config.h"
#include "cs_fed.h"
#include "cs_federation.h"
#include "cs_home.h"
#include "cs_homestate.h"
#include "cs_iqwait.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_pepitem.h"
#include "cs_privilege.h"
#include "cs_route.h"
#include "cs_util.h"
#include "cs_text.h"
#include "service_priv.h"

#define NS_LAST "jabber:iq:last"

/* Where a handler serves. */
enum { AT_DOMAIN = 1, AT_CHANNEL = 2 };

typedef void iq_handler_fn(struct service *svc, const struct iq_ctx *q);

/* One row per (address kind, iq type, payload element); the rows also
 * make disco#info, in this order, so what is advertised is exactly what
 * is answered (XEP-0030 section 3.1).  A row whose enabled() is false is
 * neither served nor advertised. */
struct iq_handler {
    unsigned at;         /* AT_DOMAIN and/or AT_CHANNEL */
    bool set;            /* iq type: set, else get */
    const char *name;    /* payload element ... */
    const char *ns;      /* ... and its namespace */
    const char *feature; /* disco#info var; NULL: none (already listed) */
    bool (*enabled)(const struct service *svc);
    iq_handler_fn *handle;
};

static iq_handler_fn disco_info, disco_items, ping, version, last_activity, gateway_get,
    gateway_set;

static bool registration_on(const struct service *svc)
{
    return svc->opts.registration && svc->home != NULL;
}

static bool have_home(const struct service *svc)
{
    return svc->home != NULL;
}

static bool have_pep(const struct service *svc)
{
    return svc->home != NULL && home_pep(svc->home) != NULL;
}

/* clang-format off */
static const struct iq_handler handlers[] = {
    {AT_DOMAIN | AT_CHANNEL, false, "query", NS_DISCO_INFO, NS_DISCO_INFO, NULL, disco_info},
    {AT_DOMAIN | AT_CHANNEL, false, "query", NS_DISCO_ITEMS, NS_DISCO_ITEMS, NULL, disco_items},
    {AT_DOMAIN, false, "ping", NS_PING, NS_PING, NULL, ping},
    {AT_DOMAIN, false, "query", NS_VERSION, NS_VERSION, NULL, version},
    {AT_DOMAIN | AT_CHANNEL, false, "query", NS_LAST, NS_LAST, NULL, last_activity},
    {AT_CHANNEL, false, "vCard", NS_VCARD, NS_VCARD, NULL, vcard_get},
    {AT_CHANNEL, false, "pubsub", NS_PUBSUB, NS_PUBSUB, have_pep, pubsub_get},
    {AT_CHANNEL, true, "pubsub", NS_PUBSUB, NULL, have_pep, pubsub_set},
    {AT_CHANNEL, false, "pubsub", NS_PUBSUB_OWNER, NULL, have_pep, pubsub_owner},
    {AT_CHANNEL, true, "pubsub", NS_PUBSUB_OWNER, NULL, have_pep, pubsub_owner},
    {AT_DOMAIN, false, "query", NS_REGISTER, NS_REGISTER, registration_on, register_get},
    {AT_DOMAIN, true, "query", NS_REGISTER, NULL, registration_on, register_set},
    {AT_DOMAIN | AT_CHANNEL, true, "command", NS_COMMANDS, NS_COMMANDS, have_home, adhoc_command},
    {AT_DOMAIN, false, "query", NS_GATEWAY, NS_GATEWAY, have_home, gateway_get},
    {AT_DOMAIN, true, "query", NS_GATEWAY, NULL, have_home, gateway_set},
};
/* clang-format on */

void service_init(struct service *svc, const char *domain, struct home *home, struct route *route,
                  const struct out *out)
{
    memset(svc, 0, sizeof(*svc));
    svc->domain = domain;
    svc->home = home;
    svc->route = route;
    svc->out = out;
    svc->adhoc = adhoc_new();
}

void service_configure(struct service *svc, const struct service_opts *opts)
{
    svc->opts = *opts;
}

void service_deinit(struct service *svc)
{
    adhoc_free(&svc->adhoc);
    privileges_deinit(&svc->priv);
}

static struct xml_node *result_query(const struct service *svc, const struct stanza_in *iq,
                                     const char *ns, struct xml_node **query_r)
{
    struct xml_node *r = stanza_iq_result(iq, svc->domain);
    *query_r = xml_add_child(r, "query", ns);
    return r;
}

static void add_identity(struct xml_node *q, const char *category, const char *type,
                         const char *name)
{
    struct xml_node *id = xml_add_child(q, "identity", NULL);
    xml_set_attr(id, "category", category);
    xml_set_attr(id, "type", type);
    if (name)
        xml_set_attr(id, "name", name);
}

/* XEP-0030: the domain is a component; a channel looks like an account
 * (named by its display name when it has a usable one). */
static void disco_info(struct service *svc, const struct iq_ctx *q)
{
    const char *node = xml_attr(q->payload, "node");
    unsigned at = q->channel ? AT_CHANNEL : AT_DOMAIN;
    struct xml_node *rq;
    struct xml_node *r;

    if (node) {
        if (!adhoc_node_info(svc, q, node))
            service_error(svc, q->in, "cancel", "item-not-found", NULL);
        return;
    }
    r = result_query(svc, q->in, NS_DISCO_INFO, &rq);
    if (q->channel) {
        const char *owner, *policy, *display;
        home_channel_info(svc->home, q->channel, &owner, &policy, &display);
        add_identity(rq, "account", "registered",
                     display && text_name_ok(display) ? display : q->channel);
        if (have_pep(svc)) {
            /* XEP-0163 section 3: the channel's PEP service. */
            static const char *const pep_features[] = {NS_PUBSUB "#filtered-notifications",
                                                       NS_PUBSUB "#last-published",
                                                       NS_PUBSUB "#presence-notifications",
                                                       NS_PUBSUB "#retrieve-items",
                                                       NS_PUBSUB "#subscribe",
                                                       NS_PUBSUB "#subscription-options"};
            add_identity(rq, "pubsub", "pep", NULL);
            for (size_t i = 0; i < CS_ARRAY_SIZE(pep_features); i++)
                xml_set_attr(xml_add_child(rq, "feature", NULL), "var", pep_features[i]);
        }
    } else {
        add_identity(rq, "component", "presence", "chanstat");
        /* The node-to-node protocol (doc/federation.md): presence, no iq. */
        if (svc->home)
            xml_set_attr(xml_add_child(rq, "feature", NULL), "var", NS_FEDERATION);
        if (svc->opts.directory) /* its disco#items pages */
            xml_set_attr(xml_add_child(rq, "feature", NULL), "var", NS_RSM);
    }
    for (size_t i = 0; i < CS_ARRAY_SIZE(handlers); i++) {
        const struct iq_handler *h = &handlers[i];
        if ((h->at & at) && h->feature && (h->enabled == NULL || h->enabled(svc)))
            xml_set_attr(xml_add_child(rq, "feature", NULL), "var", h->feature);
    }
    service_send(svc, r);
}

static void disco_items(struct service *svc, const struct iq_ctx *q)
{
    const char *node = xml_attr(q->payload, "node");
    struct xml_node *rq;
    if (node && strcmp(node, NS_COMMANDS) == 0 && svc->home) {
        adhoc_items(svc, q);
        return;
    }
    if (node) {
        service_error(svc, q->in, "cancel", "item-not-found", NULL);
        return;
    }
    /* The domain lists the channels anyone may ask for, unless the
     * operator turned the directory off; a channel has no items. */
    if (q->channel == NULL && svc->opts.directory)
        browse_items(svc, q);
    else
        service_send(svc, result_query(svc, q->in, NS_DISCO_ITEMS, &rq));
}

static void ping(struct service *svc, const struct iq_ctx *q)
{
    service_send(svc, stanza_iq_result(q->in, svc->domain));
}

static void version(struct service *svc, const struct iq_ctx *q)
{
    struct xml_node *rq;
    struct xml_node *r = result_query(svc, q->in, NS_VERSION, &rq);
    xml_add_text(xml_add_child(rq, "name", NULL), PACKAGE_NAME);
    xml_add_text(xml_add_child(rq, "version", NULL), PACKAGE_VERSION);
    /* No <os/>: XEP-0092 makes it optional and it tells attackers too much. */
    service_send(svc, r);
}

/* XEP-0100 section 6.3: the prompt that turns a channel's plain address
 * into the address to watch it through this node. */
static void gateway_get(struct service *svc, const struct iq_ctx *q)
{
    struct xml_node *rq;
    struct xml_node *r = result_query(svc, q->in, NS_GATEWAY, &rq);
    xml_add_text(xml_add_child(rq, "desc", NULL),
                 "Enter the address of a channel on another chanstat node");
    xml_add_text(xml_add_child(rq, "prompt", NULL), "Channel address");
    service_send(svc, r);
}

static void gateway_set(struct service *svc, const struct iq_ctx *q)
{
    const struct xml_node *pr = xml_child(q->payload, "prompt", NULL);
    char *text = pr ? xml_text_dup(pr) : NULL;
    struct jid j;
    if (text == NULL || jid_parse(text, &j) != 0) {
        service_error(svc, q->in, "modify", "jid-malformed", "not an XMPP address");
    } else if (j.local == NULL || j.resource) {
        service_error(svc, q->in, "modify", "jid-malformed", "a channel address is name@domain");
        jid_deinit(&j);
    } else {
        char *bare = jid_bare(&j);
        char *esc = jid_escape_local(bare);
        struct strbuf addr = {0};
        struct xml_node *rq;
        struct xml_node *r = result_query(svc, q->in, NS_GATEWAY, &rq);
        strbuf_printf(&addr, "%s@%s", esc, svc->domain);
        /* XEP-0100 names both: <jid/> now, <prompt/> for old clients. */
        xml_add_text(xml_add_child(rq, "jid", NULL), addr.data);
        xml_add_text(xml_add_child(rq, "prompt", NULL), addr.data);
        service_send(svc, r);
        strbuf_free(&addr);
        free(esc);
        free(bare);
        jid_deinit(&j);
    }
    free(text);
}

/* XEP-0012: at the domain, the seconds since the service started
 * (section 5); on a channel, when it was last seen, which the home
 * answers as it knows who may see it (chaniq.c). */
static void last_activity(struct service *svc, const struct iq_ctx *q)
{
    if (q->channel == NULL) {
        struct xml_node *rq;
        struct xml_node *r = result_query(svc, q->in, NS_LAST, &rq);
        char secs[32];
        int64_t up = (q->now_ms - svc->opts.started_ms) / MS_PER_S;
        snprintf(secs, sizeof(secs), "%lld", (long long)(up < 0 ? 0 : up));
        xml_set_attr(rq, "seconds", secs);
        service_send(svc, r);
    } else if (svc->home == NULL || !home_iq(svc->home, q->in)) {
        service_error(svc, q->in, "cancel", "service-unavailable", NULL);
    }
}

static const struct iq_handler *find_handler(const struct service *svc, unsigned at, bool set,
                                             const struct xml_node *payload)
{
    const char *ns = xml_ns(payload);
    for (size_t i = 0; i < CS_ARRAY_SIZE(handlers); i++) {
        const struct iq_handler *h = &handlers[i];
        if ((h->at & at) && h->set == set && strcmp(h->name, payload->name) == 0 && ns &&
            strcmp(h->ns, ns) == 0 && (h->enabled == NULL || h->enabled(svc)))
            return h;
    }
    return NULL;
}

/* An iq result or error: the answer to one of our own requests (roster
 * sync, federation discovery) when its id and sender match one in the
 * registry, which calls its requester back; anything else is dropped
 * (RFC 6120 8.3.1 for errors). */
static void iq_answer(struct service *svc, const struct stanza_in *in)
{
    if (svc->iqwait == NULL || !iqwait_answer(svc->iqwait, in))
        log_debug("service: dropping an iq %s with id %s: no request of ours awaits it", in->type,
                  xml_attr(in->xml, "id") ? xml_attr(in->xml, "id") : "(none)");
}

static void handle_iq(struct service *svc, const struct stanza_in *in)
{
    const struct xml_node *iq = in->xml;
    const char *type = in->type;
    const struct jid *to = &in->to;
    const struct iq_handler *h;
    struct iq_ctx q = {.iq = iq, .in = in, .from = &in->from, .now_ms = in->now_ms};

    if (type && (strcmp(type, "result") == 0 || strcmp(type, "error") == 0)) {
        iq_answer(svc, in);
        return;
    }
    /* RFC 6120 8.2.3: an iq needs an id and a type of get/set, and a
     * get/set has exactly one child element. */
    if (type == NULL || (strcmp(type, "get") != 0 && strcmp(type, "set") != 0)) {
        service_error(svc, in, "modify", "bad-request",
                      "iq type must be get, set, result or error");
        return;
    }
    if (xml_attr(iq, "id") == NULL || xml_count_elems(iq) != 1) {
        service_error(svc, in, "modify", "bad-request",
                      xml_attr(iq, "id") ? "iq get/set needs exactly one child element"
                                         : "iq needs an id");
        return;
    }
    q.payload = xml_first_elem(iq);
    q.channel = to->local;
    if (!to->local && !to->resource && strcmp(type, "set") == 0 && svc->roster_push &&
        strcmp(q.payload->name, "query") == 0 && xml_ns(q.payload) &&
        strcmp(xml_ns(q.payload), "jabber:iq:roster") == 0 && svc->roster_push(svc->hooks_ud, in))
        return;
    /* The domain answers at any full JID of it as at the domain (some
     * clients ask only full JIDs); a full JID of a channel names no
     * entity.  RFC 6121 8.5.1: an iq to no such channel gets
     * service-unavailable. */
    h = to->local && to->resource ? NULL
                                  : find_handler(svc, to->local ? AT_CHANNEL : AT_DOMAIN,
                                                 strcmp(type, "set") == 0, q.payload);
    if (h && to->local) {
        const char *owner, *policy, *display;
        if (svc->home == NULL ||
            home_channel_info(svc->home, to->local, &owner, &policy, &display) != 0)
            h = NULL;
    }
    if (h == NULL) {
        service_error(svc, in, "cancel", "service-unavailable", NULL);
        return;
    }
    q.requester = in->sender;
    h->handle(svc, &q);
}

static void handle_message(struct service *svc, const struct stanza_in *msg)
{
    const char *type = msg->type;
    /* RFC 6121 8.5.2: headlines to a bare address nobody serves are
     * dropped silently; other types get service-unavailable. */
    if (type && strcmp(type, "headline") == 0) {
        svc->stats.dropped++;
        return;
    }
    service_error(svc, msg, "cancel", "service-unavailable", NULL);
}

static bool serves(void *ud, const char *domain)
{
    const struct service *svc = ud;
    return home_serves(svc->home, domain);
}

void service_dispatch(struct service *svc, const struct stanza_in *in)
{
    const struct xml_node *stanza = in->xml;
    const char *type = in->type;
    const struct privilege *granted = NULL;

    if (type && strcmp(type, "error") == 0) {
        /* RFC 6120 8.3.1: never answered with an error.  Still news when
         * an owner's server refused binding (retried on a timer): the
         * home only records it. */
        if (svc->home && in->kind == STANZA_PRESENCE)
            home_presence(svc->home, in);
        else if (in->kind == STANZA_IQ)
            iq_answer(svc, in); /* a user's server or a remote node */
        else if (svc->route && in->kind == STANZA_MESSAGE)
            route_message(svc->route, in); /* the mirror path's errors */
        else
            svc->stats.dropped++;
        return;
    }
    if (!in->from_ok) {
        /* The server stamps 'from'; without a valid one there is nobody
         * to answer. */
        log_debug("service: dropping <%s/> with missing or invalid from", stanza->name);
        svc->stats.dropped++;
        return;
    }
    if (stanza->truncated) {
        /* The parser cut it: its tree would have cost too much memory
         * (cs_xml.h).  Never acted on; answered unless it answers us. */
        if (type && strcmp(type, "result") == 0)
            svc->stats.dropped++;
        else
            service_error(svc, in, "modify", "policy-violation", "stanza too large");
        return;
    }
    if (!in->to_ok) {
        service_error(svc, in, "modify", "jid-malformed", NULL);
        return;
    }
    if (strcasecmp(in->to.domain, svc->domain) != 0) {
        log_debug("service: dropping <%s/> addressed to foreign domain %s", stanza->name,
                  in->to.domain);
        svc->stats.dropped++;
        return;
    }
    if (in->kind == STANZA_MESSAGE && in->to.local == NULL &&
        privileges_message(&svc->priv, in, svc->home ? serves : NULL, svc, &granted)) {
        /* A server's XEP-0356 announcement: recorded, never answered. */
        if (granted && svc->granted)
            svc->granted(svc->hooks_ud, granted, in->now_ms);
    } else if (in->kind == STANZA_IQ)
        handle_iq(svc, in);
    else if (in->kind == STANZA_MESSAGE && in->to.local == NULL && svc->home &&
             fed_remote_event(svc->home, in))
        ; /* a remote channel's property event, kept and fanned out locally */
    else if (in->kind == STANZA_MESSAGE && svc->route)
        route_message(svc->route, in);
    else if (in->kind == STANZA_MESSAGE)
        handle_message(svc, in);
    else if (in->kind == STANZA_PRESENCE && svc->home)
        home_presence(svc->home, in);
    else if (in->kind == STANZA_PRESENCE)
        svc->stats.dropped++; /* RFC 6121 8.5.1: presence to nobody: ignored */
    else
        svc->stats.dropped++;
}

void service_handle(struct service *svc, const struct xml_node *stanza, int64_t now_ms)
{
    struct stanza_in in;
    stanza_in_parse(&in, stanza, now_ms);
    service_dispatch(svc, &in);
    stanza_in_deinit(&in);
}
