/* chaniq.c - queries to a channel address that need the home's state:
 * XEP-0012 last activity (the owner's last-seen time, kept across
 * restarts in channel_state).  Disco, vCards and commands of channels are
 * answered by the service (service.c), which routes these here. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_config.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_stanza.h"
#include "cs_homestate.h"

#define NS_LAST "jabber:iq:last"

static void send_result(struct home *h, struct xml_node *r)
{
    if (out_stanza(h->out, r) != 0)
        log_debug("home: iq result not sent: link down");
    xml_free(r);
}

/* XEP-0012 section 4: only those who may see the channel's presence
 * learn when it was last seen. */
static void last_activity(struct home *h, const struct stanza_in *iq, struct channel *c)
{
    const char *contact = iq->sender;
    struct status_view v;
    struct xml_node *res, *rq;
    char secs[32];
    long long s;

    if (!watchers_has(c, contact) && !(c->owner && strcmp(contact, c->owner) == 0)) {
        home_reply_error(h, iq, "auth", "forbidden");
        return;
    }
    status_set_view(&c->status, &v);
    if (v.show == SHOW_UNAVAILABLE && v.last_seen == 0) {
        home_reply_error(h, iq, "cancel", "item-not-found"); /* never seen */
        return;
    }
    res = stanza_iq_result(iq, h->domain);
    rq = xml_add_child(res, "query", NS_LAST);
    s = v.show == SHOW_UNAVAILABLE ? cs_wall_of(h->clock, iq->now_ms) / MS_PER_S - v.last_seen : 0;
    snprintf(secs, sizeof(secs), "%lld", s < 0 ? 0 : s);
    xml_set_attr(rq, "seconds", secs);
    send_result(h, res);
}

bool home_iq(struct home *h, const struct stanza_in *in)
{
    struct channel *c;
    const struct xml_node *q = xml_first_elem(in->xml);
    const char *ns = xml_ns(q);
    bool handled = false;

    if (q == NULL || ns == NULL || in->type == NULL || strcmp(in->type, "get") != 0 ||
        strcmp(q->name, "query") != 0)
        return false;
    if (!in->from_ok || !in->to_ok || in->to.local == NULL)
        return false;
    c = chancache_find(&h->cache, in->to.local);
    if (c == NULL) {
        /* not a channel (relay addresses included): service-unavailable */
    } else if (strcmp(ns, NS_LAST) == 0) {
        last_activity(h, in, c);
        handled = true;
    }
    return handled;
}
