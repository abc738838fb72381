/* feddisco.c - is a domain a chanstat node?  The disco#info of remote
 * domains (doc/federation.md, "Finding out that a domain is a chanstat
 * node"): one request per domain at a time, through the node's registry
 * of our iqs (cs_iqwait.h), the answer kept for discovery_ttl. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_fed.h"
#include "cs_iqwait.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_stanza.h"
#include "fed_priv.h"

/* A discovery in flight is dropped unanswered (the link went down, or
 * the home goes). */
void disco_stop(struct home *h, struct disco *d)
{
    if (d->asking)
        iqwait_cancel(h->iqwait, d->id);
    d->asking = false;
}

void fed_free_disco(struct home *h)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (hash_next(&h->fed_disco, &pos, &k, &v)) {
        disco_stop(h, v);
        free(v);
    }
    hash_clear(&h->fed_disco);
}

void fed_use_iqwait(struct home *h, struct iqwait *w)
{
    h->iqwait = w;
}

static iqwait_cb disco_answer;

/* Asks domain "are you a chanstat node?" (once at a time). */
struct disco *disco_ask(struct home *h, const char *domain, int64_t now_ms)
{
    struct disco *d = hash_get(&h->fed_disco, domain);
    if (d == NULL) {
        size_t len = strlen(domain);
        d = xcalloc(1, sizeof(*d) + len + 1);
        d->home = h;
        memcpy(d->domain, domain, len + 1);
        hash_put(&h->fed_disco, d->domain, d);
    }
    if (!d->asking) {
        const char *id = h->iqwait ? iqwait_add(h->iqwait, "fed-disco-", domain,
                                                now_ms + h->fed.request_timeout_ms, disco_answer, d)
                                   : NULL;
        struct xml_node *iq;
        if (id == NULL) {
            /* A home without the node's registry would never hear it. */
            log_debug("fed: disco#info to %s not asked: no answer could be heard", domain);
            return d;
        }
        d->asking = true;
        cs_strlcpy(d->id, id, sizeof(d->id));
        iq = stanza_iq_query(h->domain, domain, d->id, NS_DISCO_INFO, NULL);
        if (out_stanza(h->out, iq) != 0)
            log_debug("fed: disco#info to %s not sent: link down", domain);
        xml_free(iq);
    }
    return d;
}

void fed_on_remote_known(struct home *h, home_remote_known_cb *cb, void *ud)
{
    h->remote_known = cb;
    h->remote_known_ud = ud;
}

/* ---- Discovery answers ---- */

static bool has_feature(const struct xml_node *iq)
{
    const struct xml_node *q = xml_child(iq, "query", NS_DISCO_INFO);
    for (const struct xml_node *f = q ? xml_first_elem(q) : NULL; f; f = xml_next_elem(f)) {
        const char *var = xml_attr(f, "var");
        if (strcmp(f->name, "feature") == 0 && var && strcmp(var, NS_FEDERATION) == 0)
            return true;
    }
    return false;
}

/* The registry's callback for a disco#info of ours: the domain's answer
 * (from the domain itself: the registry checked), or NULL when nobody
 * answered within request_timeout. */
static void disco_answer(void *ud, const struct xml_node *iq, int64_t now_ms)
{
    struct disco *d = ud;
    struct home *h = d->home;
    const char *type = iq ? xml_attr(iq, "type") : NULL;
    d->asking = false;
    d->known = true;
    if (iq == NULL) {
        /* Not a node (retried after the error timer).  The channels
         * waiting for it are refused at their own deadline (fed_tick). */
        d->is_node = false;
        d->expires = now_ms + h->fed.retry_ms;
        log_info("fed: %s does not answer disco#info", d->domain);
        if (h->remote_known)
            h->remote_known(h->remote_known_ud, d->domain, false);
        return;
    }
    d->is_node = type && strcmp(type, "result") == 0 && has_feature(iq);
    /* An error (the domain's server answering for a component that is
     * down) says nothing lasting: kept only until the next retry. */
    d->expires =
        now_ms + (type && strcmp(type, "result") == 0 ? h->fed.discovery_ttl_ms : h->fed.retry_ms);
    if (type && strcmp(type, "error") == 0)
        log_info("fed: %s is not a chanstat node (an error: asked again in %lld s)", d->domain,
                 (long long)(h->fed.retry_ms / MS_PER_S));
    else
        log_info("fed: %s %s a chanstat node", d->domain, d->is_node ? "is" : "is not");
    if (h->remote_known)
        h->remote_known(h->remote_known_ud, d->domain, d->is_node);
    if (h->disco_done)
        h->disco_done(h, d->domain, d->is_node, now_ms); /* fed.c: the channels waiting */
}
