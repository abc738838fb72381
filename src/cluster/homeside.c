/* homeside.c - a home's traffic goes through its front (cs_cluster.h).
 *
 * Outbound, the home's output port is wrapped: each top-level stanza's
 * 'to' is looked at, and one naming an address outside the front's and
 * the home's own domain (a user, or anybody else) becomes that
 * address's relay address at the front, its resource kept:
 * bob@a.test/phone -> bob\40a.test@status.a.test/phone.  The stanzas
 * are our own serialiser's (cs_xml.h: attribute values quoted and
 * escaped, '<' and '>' never raw), so a scan of the tags finds their
 * boundaries and their 'to'; nothing else is touched.  Bare domains (the
 * server) are written to as they are.
 *
 * Inbound, a stanza from a relay address at the front is read as from
 * the user it names (the node dispatches a copy with that 'from');
 * the front's own words (its bare domain, or anything carrying the
 * federation's <vouch/>) stay as they are.  From anybody else only a
 * server's iqs are taken (disco, pings); the rest is refused, a user's
 * message or iq with forbidden: a home answers only its front. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_cluster.h"
#include "cs_fed.h"
#include "cs_jid.h"
#include "cs_log.h"
#include "cs_xml.h"

struct homeside {
    char *domain; /* ours */
    char *front;
    const struct out *sink;
    struct out out;
    struct strbuf buf; /* a write, rewritten */
};

/* The new 'to' for value (raw, as written between the quotes), or NULL
 * to keep it. */
static char *mapped_to(const struct homeside *hs, const char *v, size_t len)
{
    const char *slash = memchr(v, '/', len);
    size_t bare_len = slash ? (size_t)(slash - v) : len;
    char *bare = xstrndup(v, bare_len), *relay;
    struct jid j;
    struct strbuf sb = {0};
    /* A valid bare JID holds no character the serialiser escapes. */
    if (memchr(bare, '&', bare_len) || jid_parse(bare, &j) != 0) {
        free(bare);
        return NULL;
    }
    if (j.local == NULL || strcmp(j.domain, hs->front) == 0 || strcmp(j.domain, hs->domain) == 0) {
        jid_deinit(&j);
        free(bare);
        return NULL;
    }
    jid_deinit(&j);
    relay = jid_relay_address(bare, hs->front);
    strbuf_append(&sb, relay, strlen(relay));
    if (slash)
        strbuf_append(&sb, slash, len - bare_len);
    free(relay);
    free(bare);
    return sb.data;
}

/* Copies the start tag [t, end) into out, its 'to' mapped. */
static void copy_start_tag(const struct homeside *hs, const char *t, const char *end,
                           struct strbuf *out)
{
    const char *p = t + 1;
    while (p < end && *p != ' ' && *p != '>' && *p != '/')
        p++; /* the element's name */
    while (p < end) {
        const char *name = p, *eq, *val, *close;
        char q, *to;
        while (p < end && *p == ' ')
            p++;
        name = p;
        eq = memchr(p, '=', (size_t)(end - p));
        if (eq == NULL || eq + 1 >= end || (eq[1] != '\'' && eq[1] != '"'))
            break;
        q = eq[1];
        val = eq + 2;
        close = memchr(val, q, (size_t)(end - val));
        if (close == NULL)
            break;
        if (eq - name == 2 && memcmp(name, "to", 2) == 0 &&
            (to = mapped_to(hs, val, (size_t)(close - val))) != NULL) {
            /* The relay address needs no escaping (XEP-0106 took every
             * character that would), the resource stays as written. */
            strbuf_append(out, t, (size_t)(val - t));
            strbuf_append(out, to, strlen(to));
            strbuf_append(out, close, (size_t)(end - close));
            free(to);
            return;
        }
        p = close + 1;
    }
    strbuf_append(out, t, (size_t)(end - t));
}

/* Rewrites one write: text and nested tags are copied, each top-level
 * start tag goes through copy_start_tag. */
static void rewrite(const struct homeside *hs, const char *xml, size_t len, struct strbuf *out)
{
    const char *p = xml, *end = xml + len;
    int depth = 0;
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p)), *gt;
        if (lt == NULL) {
            strbuf_append(out, p, (size_t)(end - p));
            return;
        }
        strbuf_append(out, p, (size_t)(lt - p));
        gt = memchr(lt, '>', (size_t)(end - lt));
        if (gt == NULL) {
            strbuf_append(out, lt, (size_t)(end - lt));
            return;
        }
        gt++;
        if (lt[1] == '/') {
            depth--;
            strbuf_append(out, lt, (size_t)(gt - lt));
        } else {
            if (depth == 0)
                copy_start_tag(hs, lt, gt, out);
            else
                strbuf_append(out, lt, (size_t)(gt - lt));
            if (gt[-2] != '/')
                depth++;
        }
        p = gt;
    }
}

static int hs_write(void *ud, const char *xml, size_t len)
{
    struct homeside *hs = ud;
    int r;
    hs->buf.len = 0;
    rewrite(hs, xml, len, &hs->buf);
    r = hs->sink->write(hs->sink->ud, hs->buf.data ? hs->buf.data : "", hs->buf.len);
    return r;
}

static size_t hs_room(void *ud)
{
    struct homeside *hs = ud;
    return hs->sink->room(hs->sink->ud);
}

static size_t hs_mark(void *ud)
{
    struct homeside *hs = ud;
    return hs->sink->mark ? hs->sink->mark(hs->sink->ud) : 0;
}

static void hs_splice(void *ud, size_t from, size_t to, const char *repl, size_t len)
{
    struct homeside *hs = ud;
    if (hs->sink->splice == NULL)
        return;
    hs->buf.len = 0;
    rewrite(hs, repl, len, &hs->buf);
    hs->sink->splice(hs->sink->ud, from, to, hs->buf.data ? hs->buf.data : "", hs->buf.len);
}

struct homeside *homeside_new(const char *domain, const char *front, const struct out *sink)
{
    struct homeside *hs = xcalloc(1, sizeof(*hs));
    hs->domain = xstrdup(domain);
    hs->front = xstrdup(front);
    hs->sink = sink;
    hs->out = (struct out){hs_write, hs_room, hs_mark, hs_splice, hs};
    return hs;
}

void homeside_free(struct homeside **hsp)
{
    struct homeside *hs = *hsp;
    if (hs == NULL)
        return;
    strbuf_free(&hs->buf);
    free(hs->domain);
    free(hs->front);
    free(hs);
    *hsp = NULL;
}

const struct out *homeside_out(struct homeside *hs)
{
    return &hs->out;
}

static bool answered(const struct stanza_in *in)
{
    return in->type && (strcmp(in->type, "error") == 0 || strcmp(in->type, "result") == 0);
}

enum homeside_verdict homeside_inbound(struct homeside *hs, const struct stanza_in *in,
                                       struct xml_node **xml_r)
{
    struct jid user;
    char *full;
    *xml_r = NULL;
    if (!in->from_ok)
        return HOMESIDE_AS_IS; /* dispatch drops it */
    if (strcmp(in->from.domain, hs->front) == 0) {
        if (in->from.local == NULL || xml_child(in->xml, "vouch", NS_FEDERATION))
            return HOMESIDE_AS_IS; /* the front itself, or its status service */
        if (jid_relay_parse(in->from.local, &user) != 0 || user.local == NULL) {
            if (user.domain)
                jid_deinit(&user);
            log_debug("cluster: dropping <%s/> from %s at the front: no user's address",
                      in->xml->name, in->from.local);
            return HOMESIDE_REFUSED;
        }
        full = jid_bare(&user);
        jid_deinit(&user);
        *xml_r = xml_copy(in->xml);
        if (in->from.resource) {
            struct strbuf sb = {0};
            strbuf_printf(&sb, "%s/%s", full, in->from.resource);
            xml_set_attr(*xml_r, "from", sb.data);
            strbuf_free(&sb);
        } else {
            xml_set_attr(*xml_r, "from", full);
        }
        free(full);
        return HOMESIDE_REWRITTEN;
    }
    /* A server speaking for itself (disco, pings, answers): as is.  Any
     * other node's presence (a lease request) is no business of ours. */
    if (in->from.local == NULL && in->kind == STANZA_IQ)
        return HOMESIDE_AS_IS;
    log_debug("cluster: refusing <%s/> from %s: a home answers only its front %s", in->xml->name,
              in->sender, hs->front);
    if (!answered(in) && in->kind != STANZA_PRESENCE && in->from.local) {
        struct xml_node *e =
            stanza_error_reply(in, hs->domain, "cancel", "forbidden", "this address is not public");
        if (out_stanza(hs->sink, e) != 0)
            log_debug("cluster: refusal not sent: link down");
        xml_free(e);
    }
    return HOMESIDE_REFUSED;
}
