/* service.c - dispatch of inbound stanzas and the domain's own queries. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cs_fed.h"
#include "cs_home.h"
#include "cs_jid.h"
#include "cs_route.h"
#include "cs_log.h"
#include "cs_service.h"
#include "cs_util.h"

/* Features the component domain implements (XEP-0030).  Keep in step
 * with what service_handle() answers. */
static const char *const domain_features[] = {
    NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_VERSION, NS_FEDERATION, NS_GATEWAY,
};

void service_init(struct service *svc, const char *domain, struct home *home, struct route *route,
                  const struct out *out)
{
    memset(svc, 0, sizeof(*svc));
    svc->domain = domain;
    svc->home = home;
    svc->route = route;
    svc->out = out;
}

/* Sends and frees an answer. */
static void send(struct service *svc, struct xml_node *st)
{
    if (out_stanza(svc->out, st) != 0)
        log_debug("service: answer not sent: link down");
    xml_free(st);
}

static void reply_error(struct service *svc, const struct xml_node *st, const char *type,
                        const char *cond, const char *text)
{
    svc->stats.errors_sent++;
    send(svc, stanza_error_reply(st, type, cond, text));
}

static struct xml_node *result_query(const struct xml_node *iq, const char *ns,
                                     struct xml_node **query_r)
{
    struct xml_node *r = stanza_iq_result(iq);
    *query_r = xml_add_child(r, "query", ns);
    return r;
}

static void disco_info(struct service *svc, const struct xml_node *iq)
{
    struct xml_node *q;
    struct xml_node *r = result_query(iq, NS_DISCO_INFO, &q);
    struct xml_node *id = xml_add_child(q, "identity", NULL);
    xml_set_attr(id, "category", "component");
    xml_set_attr(id, "type", "presence");
    xml_set_attr(id, "name", "chanstat");
    for (size_t i = 0; i < CS_ARRAY_SIZE(domain_features); i++)
        xml_set_attr(xml_add_child(q, "feature", NULL), "var", domain_features[i]);
    send(svc, r);
}

static void version(struct service *svc, const struct xml_node *iq)
{
    struct xml_node *q;
    struct xml_node *r = result_query(iq, NS_VERSION, &q);
    xml_add_text(xml_add_child(q, "name", NULL), PACKAGE_NAME);
    xml_add_text(xml_add_child(q, "version", NULL), PACKAGE_VERSION);
    /* No <os/>: XEP-0092 makes it optional and it tells attackers too much. */
    send(svc, r);
}

/* XEP-0100 section 6.3: the prompt that turns a channel's plain address
 * into the address to watch it through this node. */
static void gateway(struct service *svc, const struct xml_node *iq, const struct xml_node *payload,
                    bool get)
{
    struct xml_node *q, *r;
    if (get) {
        r = result_query(iq, NS_GATEWAY, &q);
        xml_add_text(xml_add_child(q, "desc", NULL),
                     "Enter the address of a channel on another chanstat node");
        xml_add_text(xml_add_child(q, "prompt", NULL), "Channel address");
        send(svc, r);
    } else {
        const struct xml_node *pr = xml_child(payload, "prompt", NULL);
        char *text = pr ? xml_text_dup(pr) : NULL;
        struct jid j;
        if (text == NULL || jid_parse(text, &j) != 0) {
            reply_error(svc, iq, "modify", "jid-malformed", "not an XMPP address");
        } else if (j.local == NULL || j.resource) {
            reply_error(svc, iq, "modify", "jid-malformed", "a channel address is name@domain");
            jid_deinit(&j);
        } else {
            char *bare = jid_bare(&j);
            char *esc = jid_escape_local(bare);
            struct strbuf addr = {0};
            strbuf_printf(&addr, "%s@%s", esc, svc->domain);
            r = result_query(iq, NS_GATEWAY, &q);
            /* XEP-0100 names both: <jid/> now, <prompt/> for old clients. */
            xml_add_text(xml_add_child(q, "jid", NULL), addr.data);
            xml_add_text(xml_add_child(q, "prompt", NULL), addr.data);
            send(svc, r);
            strbuf_free(&addr);
            free(esc);
            free(bare);
            jid_deinit(&j);
        }
        free(text);
    }
}

/* An iq get/set to the bare component domain. */
static void domain_iq(struct service *svc, const struct xml_node *iq,
                      const struct xml_node *payload)
{
    const char *type = xml_attr(iq, "type");
    const char *ns = xml_ns(payload);
    bool get = strcmp(type, "get") == 0;

    if (ns == NULL)
        ns = "";
    if (get && strcmp(payload->name, "query") == 0 && strcmp(ns, NS_DISCO_INFO) == 0) {
        if (xml_attr(payload, "node")) {
            reply_error(svc, iq, "cancel", "item-not-found", NULL);
            return;
        }
        disco_info(svc, iq);
        return;
    }
    if (get && strcmp(payload->name, "query") == 0 && strcmp(ns, NS_DISCO_ITEMS) == 0) {
        struct xml_node *q;
        if (xml_attr(payload, "node")) {
            reply_error(svc, iq, "cancel", "item-not-found", NULL);
            return;
        }
        /* Channels are not listed: enumerating them would disclose who
         * has one (see doc/xmpp.md). */
        send(svc, result_query(iq, NS_DISCO_ITEMS, &q));
        return;
    }
    if (get && strcmp(payload->name, "ping") == 0 && strcmp(ns, NS_PING) == 0) {
        send(svc, stanza_iq_result(iq));
        return;
    }
    if (get && strcmp(payload->name, "query") == 0 && strcmp(ns, NS_VERSION) == 0) {
        version(svc, iq);
        return;
    }
    if (strcmp(payload->name, "query") == 0 && strcmp(ns, NS_GATEWAY) == 0) {
        gateway(svc, iq, payload, get);
        return;
    }
    reply_error(svc, iq, "cancel", "service-unavailable", NULL);
}

static void handle_iq(struct service *svc, const struct xml_node *iq, const struct jid *to,
                      int64_t now_ms)
{
    const char *type = xml_attr(iq, "type");
    const struct xml_node *payload;

    if (type && (strcmp(type, "result") == 0 || strcmp(type, "error") == 0)) {
        /* Answers to our own requests (federation discovery); answers to
         * nothing are dropped (RFC 6120 8.3.1 for errors). */
        if (svc->home)
            home_iq_answer(svc->home, iq, now_ms);
        return;
    }
    /* RFC 6120 8.2.3: an iq needs an id and a type of get/set, and a
     * get/set has exactly one child element. */
    if (type == NULL || (strcmp(type, "get") != 0 && strcmp(type, "set") != 0)) {
        reply_error(svc, iq, "modify", "bad-request", "iq type must be get, set, result or error");
        return;
    }
    if (xml_attr(iq, "id") == NULL || xml_count_elems(iq) != 1) {
        reply_error(svc, iq, "modify", "bad-request",
                    xml_attr(iq, "id") ? "iq get/set needs exactly one child element"
                                       : "iq needs an id");
        return;
    }
    payload = xml_first_elem(iq);
    if (to->local == NULL && to->resource == NULL) {
        domain_iq(svc, iq, payload);
        return;
    }
    if (svc->home && to->resource == NULL && home_iq(svc->home, iq, now_ms))
        return;
    /* RFC 6121 8.5.1: an iq to no such channel, or a query a channel does
     * not serve. */
    reply_error(svc, iq, "cancel", "service-unavailable", NULL);
}

static void handle_message(struct service *svc, const struct xml_node *msg)
{
    const char *type = xml_attr(msg, "type");
    /* RFC 6121 8.5.2: headlines to a bare address nobody serves are
     * dropped silently; other types get service-unavailable. */
    if (type && strcmp(type, "headline") == 0) {
        svc->stats.dropped++;
        return;
    }
    reply_error(svc, msg, "cancel", "service-unavailable", NULL);
}

void service_handle(struct service *svc, const struct xml_node *stanza, int64_t now_ms)
{
    const char *from = xml_attr(stanza, "from");
    const char *to = xml_attr(stanza, "to");
    const char *type = xml_attr(stanza, "type");
    struct jid from_jid, to_jid;

    svc->stats.handled++;
    if (type && strcmp(type, "error") == 0) {
        /* RFC 6120 8.3.1: never answered with an error.  Still news: an
         * owner's server refused binding (retried on a timer), a remote
         * node refused or failed (federation).  Each handler only
         * records it. */
        if (svc->home && strcmp(stanza->name, "presence") == 0)
            home_presence(svc->home, stanza, now_ms);
        else if (svc->home && strcmp(stanza->name, "iq") == 0)
            home_iq_answer(svc->home, stanza, now_ms);
        else if (svc->route && strcmp(stanza->name, "message") == 0)
            route_message(svc->route, stanza, now_ms); /* the mirror path's errors */
        else
            svc->stats.dropped++;
        return;
    }
    if (from == NULL || jid_parse(from, &from_jid) != 0) {
        /* The server stamps 'from'; without a valid one there is nobody
         * to answer. */
        log_debug("service: dropping <%s/> with missing or invalid from", stanza->name);
        svc->stats.dropped++;
        return;
    }
    jid_deinit(&from_jid);
    if (to == NULL || jid_parse(to, &to_jid) != 0) {
        reply_error(svc, stanza, "modify", "jid-malformed", NULL);
        return;
    }
    if (strcasecmp(to_jid.domain, svc->domain) != 0) {
        log_debug("service: dropping <%s/> addressed to foreign domain %s", stanza->name,
                  to_jid.domain);
        svc->stats.dropped++;
        jid_deinit(&to_jid);
        return;
    }
    if (strcmp(stanza->name, "iq") == 0)
        handle_iq(svc, stanza, &to_jid, now_ms);
    else if (strcmp(stanza->name, "message") == 0 && svc->route)
        route_message(svc->route, stanza, now_ms);
    else if (strcmp(stanza->name, "message") == 0)
        handle_message(svc, stanza);
    else if (strcmp(stanza->name, "presence") == 0 && svc->home)
        home_presence(svc->home, stanza, now_ms);
    else if (strcmp(stanza->name, "presence") == 0)
        svc->stats.dropped++; /* RFC 6121 8.5.1: presence to nobody: ignored */
    else
        svc->stats.dropped++;
    jid_deinit(&to_jid);
}
