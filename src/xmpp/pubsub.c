/* pubsub.c - XEP-0060 requests to a channel's PEP nodes (XEP-0163): items
 * of the nodes, subscriptions with a lease, and the answers to whatever
 * else is asked (nobody publishes to a channel's nodes but chanstat,
 * from its properties).  The nodes and their items: cs_pepitem.h; the
 * events: cs_pep.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_home.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_pep.h"
#include "cs_util.h"
#include "adhoc_priv.h"
#include "service_priv.h"

#define SUBSCRIBE_OPTIONS "http://jabber.org/protocol/pubsub#subscribe_options"

static void pubsub_error(struct service *svc, const struct iq_ctx *q, const char *type,
                         const char *cond, const char *app, const char *text)
{
    service_error_app(svc, q->in, type, cond, app, app ? NS_PUBSUB_ERRORS : NULL, text);
}

static void unsupported(struct service *svc, const struct iq_ctx *q, const char *feature)
{
    struct xml_node *r =
        stanza_error_reply(q->in, svc->domain, "cancel", "feature-not-implemented", NULL);
    struct xml_node *err = xml_child(r, "error", NULL);
    struct xml_node *u = xml_add_child(err, "unsupported", NS_PUBSUB_ERRORS);
    xml_set_attr(u, "feature", feature);
    service_send(svc, r);
}

/* The channel, its node and the right to see it, checked in the order
 * XEP-0060 answers them; NULL when an error was sent. */
static struct channel *node_of(struct service *svc, const struct iq_ctx *q,
                               const struct xml_node *el, enum pep_node *node_r)
{
    const char *name = xml_attr(el, "node");
    struct channel *c = home_find_channel(svc->home, q->channel);
    int node;
    if (c == NULL || home_pep(svc->home) == NULL) {
        service_error(svc, q->in, "cancel", "item-not-found", NULL);
        return NULL;
    }
    if (name == NULL) {
        pubsub_error(svc, q, "modify", "bad-request", "nodeid-required", NULL);
        return NULL;
    }
    node = pep_node_of(name);
    if (node < 0) {
        service_error(svc, q->in, "cancel", "item-not-found", NULL);
        return NULL;
    }
    /* Sections 6.1.3.2 and 6.5.9.2, the presence access model: whoever
     * may not see the channel's presence may not see its properties. */
    if (!pep_may_see(c, q->requester) && !service_is_admin(svc, q->requester)) {
        pubsub_error(svc, q, "auth", "not-authorized", "presence-subscription-required", NULL);
        return NULL;
    }
    *node_r = (enum pep_node)node;
    return c;
}

/* XEP-0060 section 6.5: the node's one item (or none). */
static void items_get(struct service *svc, const struct iq_ctx *q, const struct xml_node *el)
{
    enum pep_node node;
    struct channel *c = node_of(svc, q, el, &node);
    const struct xml_node *want = xml_child(el, "item", NULL);
    const char *want_id = want ? xml_attr(want, "id") : NULL;
    struct xml_node *r, *ps, *items, *it;
    int err;

    if (c == NULL)
        return;
    it = pep_current_item(home_pep(svc->home), c, node, &err);
    if (err == CS_EDB) {
        service_error(svc, q->in, "wait", "internal-server-error", NULL);
        return;
    }
    if (it && want_id && strcmp(want_id, xml_attr(it, "id")) != 0) {
        xml_free(it);
        it = NULL;
    }
    r = stanza_iq_result(q->in, svc->domain);
    ps = xml_add_child(r, "pubsub", NS_PUBSUB);
    items = xml_add_child(ps, "items", NULL);
    xml_set_attr(items, "node", pep_node_name(node));
    if (it)
        xml_append(items, it);
    service_send(svc, r);
}

void pubsub_get(struct service *svc, const struct iq_ctx *q)
{
    const struct xml_node *el = xml_first_elem(q->payload);
    if (el && strcmp(el->name, "items") == 0 && xml_next_elem(el) == NULL) {
        items_get(svc, q, el);
        return;
    }
    if (el && strcmp(el->name, "subscriptions") == 0)
        unsupported(svc, q, "retrieve-subscriptions");
    else if (el && strcmp(el->name, "affiliations") == 0)
        unsupported(svc, q, "retrieve-affiliations");
    else if (el && strcmp(el->name, "options") == 0)
        unsupported(svc, q, "subscription-options");
    else if (el && strcmp(el->name, "default") == 0)
        unsupported(svc, q, "retrieve-default");
    else
        service_error(svc, q->in, "modify", "bad-request", NULL);
}

/* 'jid' must be the requester's bare JID (section 6.1.3.1). */
static bool jid_is_requester(const struct iq_ctx *q, const char *jid)
{
    struct jid j;
    char *bare;
    bool same;
    if (jid == NULL || jid_parse(jid, &j) != 0)
        return false;
    bare = jid_bare(&j);
    same = j.resource == NULL && strcmp(bare, q->requester) == 0;
    free(bare);
    jid_deinit(&j);
    return same;
}

/* The expiry asked in <options/> (section 6.3.7) into *at_r (0: none
 * asked); false when an error was sent. */
static bool expiry_asked(struct service *svc, const struct iq_ctx *q,
                         const struct xml_node *options, int64_t *at_r)
{
    const struct xml_node *x = options ? xml_child(options, "x", NS_DATA) : NULL;
    const char *type = x ? xml_attr(x, "type") : NULL;
    char *form_type, *expire;
    int64_t at = 0;

    *at_r = 0;
    if (options == NULL)
        return true;
    if (x == NULL || type == NULL || strcmp(type, "submit") != 0) {
        pubsub_error(svc, q, "modify", "bad-request", "invalid-options",
                     "options must be a submitted data form");
        return false;
    }
    form_type = adhoc_form_value(x, "FORM_TYPE");
    if (form_type == NULL || strcmp(form_type, SUBSCRIBE_OPTIONS) != 0) {
        free(form_type);
        pubsub_error(svc, q, "modify", "bad-request", "invalid-options",
                     "FORM_TYPE must be " SUBSCRIBE_OPTIONS);
        return false;
    }
    free(form_type);
    expire = adhoc_form_value(x, "pubsub#expire");
    if (expire && cs_parse_utc(expire, &at) != 0) {
        free(expire);
        pubsub_error(svc, q, "modify", "bad-request", "invalid-options",
                     "pubsub#expire must be a UTC date and time, as 2026-12-31T23:59:59Z");
        return false;
    }
    /* The epoch itself or before: passed, like any other past time. */
    if (expire)
        *at_r = at > 0 ? at : 1;
    free(expire);
    return true;
}

static void subscribe(struct service *svc, const struct iq_ctx *q, const struct xml_node *el,
                      const struct xml_node *options)
{
    enum pep_node node;
    struct channel *c;
    int64_t asked, expires = 0;
    struct xml_node *r, *sub;
    char when[CS_UTC_LEN];
    int rc;

    if (!jid_is_requester(q, xml_attr(el, "jid"))) {
        pubsub_error(svc, q, "modify", "bad-request", "invalid-jid", NULL);
        return;
    }
    c = node_of(svc, q, el, &node);
    if (c == NULL || !expiry_asked(svc, q, options, &asked))
        return;
    /* Counted with presence subscriptions: one limit per sender. */
    if (!home_subscription_allowed(svc->home, q->requester, q->now_ms)) {
        service_error(svc, q->in, "wait", "resource-constraint",
                      "too many subscriptions; try again in a minute");
        return;
    }
    rc = pep_subscribe(home_pep(svc->home), c, node, q->requester, asked, q->now_ms, &expires);
    if (rc == CS_EINVAL) {
        pubsub_error(svc, q, "modify", "bad-request", "invalid-options",
                     "pubsub#expire is in the past");
        return;
    }
    if (rc == CS_ELIMIT) {
        service_error(svc, q->in, "wait", "resource-constraint",
                      "this channel has as many property subscriptions as it takes");
        return;
    }
    if (rc != 0) {
        service_error(svc, q->in, "wait", "internal-server-error", NULL);
        return;
    }
    cs_format_utc(expires, when);
    r = stanza_iq_result(q->in, svc->domain);
    sub = xml_add_child(xml_add_child(r, "pubsub", NS_PUBSUB), "subscription", NULL);
    xml_set_attr(sub, "node", pep_node_name(node));
    xml_set_attr(sub, "jid", q->requester);
    xml_set_attr(sub, "subscription", "subscribed");
    xml_set_attr(sub, "expiry", when);
    service_send(svc, r);
    /* Section 6.1.7: the last published item follows the answer. */
    pep_send_current(home_pep(svc->home), c, 1u << node, q->requester);
}

static void unsubscribe(struct service *svc, const struct iq_ctx *q, const struct xml_node *el)
{
    enum pep_node node;
    struct channel *c;
    int rc;
    if (!jid_is_requester(q, xml_attr(el, "jid"))) {
        pubsub_error(svc, q, "modify", "bad-request", "invalid-jid", NULL);
        return;
    }
    c = node_of(svc, q, el, &node);
    if (c == NULL)
        return;
    rc = pep_unsubscribe(home_pep(svc->home), c, node, q->requester, q->now_ms);
    if (rc == CS_ENOTFOUND)
        pubsub_error(svc, q, "cancel", "unexpected-request", "not-subscribed", NULL);
    else if (rc != 0)
        service_error(svc, q->in, "wait", "internal-server-error", NULL);
    else
        service_send(svc, stanza_iq_result(q->in, svc->domain));
}

void pubsub_set(struct service *svc, const struct iq_ctx *q)
{
    const struct xml_node *el = xml_first_elem(q->payload);
    const struct xml_node *next = el ? xml_next_elem(el) : NULL;
    if (el && strcmp(el->name, "subscribe") == 0 &&
        (next == NULL || (strcmp(next->name, "options") == 0 && xml_next_elem(next) == NULL))) {
        subscribe(svc, q, el, next);
        return;
    }
    if (el && strcmp(el->name, "unsubscribe") == 0 && next == NULL) {
        unsubscribe(svc, q, el);
        return;
    }
    if (el && (strcmp(el->name, "publish") == 0 || strcmp(el->name, "retract") == 0 ||
               strcmp(el->name, "create") == 0 || strcmp(el->name, "configure") == 0)) {
        /* The items are the channel's properties: only its admins change
         * them (chanstatctl, sqlite3), never through the nodes. */
        service_error(svc, q->in, "auth", "forbidden",
                      "a channel's nodes show its properties; nobody publishes to them");
        return;
    }
    if (el && strcmp(el->name, "options") == 0)
        unsupported(svc, q, "subscription-options");
    else
        service_error(svc, q->in, "modify", "bad-request", NULL);
}

/* The owner namespace (node configuration, deletion, affiliations):
 * nobody owns a channel's nodes but chanstat. */
void pubsub_owner(struct service *svc, const struct iq_ctx *q)
{
    service_error(svc, q->in, "auth", "forbidden",
                  "a channel's nodes show its properties; nobody configures them");
}
