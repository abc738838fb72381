/* stanza.c - replies and stanza errors. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cs_error.h"
#include "cs_jid.h"
#include "cs_stanza.h"
#include "cs_util.h"

/* The address a reply comes from (see cs_stanza.h); caller frees. */
static char *reply_from(const struct stanza_in *in, const char *domain)
{
    /* jid_parse normalised in->to: folded case, no trailing dot. */
    if (in->to_ok && strcasecmp(in->to.domain, domain) == 0)
        return jid_full(&in->to);
    return xstrdup(domain);
}

static struct xml_node *reply_skeleton(const struct stanza_in *in, const char *domain,
                                       const char *type)
{
    const struct xml_node *orig = in->xml;
    struct xml_node *r = xml_elem_new(orig->name, NULL);
    const char *from = xml_attr(orig, "from");
    const char *id = xml_attr(orig, "id");
    char *self = reply_from(in, domain);
    xml_set_attr(r, "from", self);
    free(self);
    if (from)
        xml_set_attr(r, "to", from);
    if (id)
        xml_set_attr(r, "id", id);
    xml_set_attr(r, "type", type);
    return r;
}

struct xml_node *stanza_error_reply(const struct stanza_in *in, const char *domain,
                                    const char *type, const char *condition, const char *text)
{
    struct xml_node *r = reply_skeleton(in, domain, "error");
    struct xml_node *err, *payload;

    if (in->kind == STANZA_IQ && (payload = xml_first_elem(in->xml)) != NULL)
        xml_append(r, xml_copy(payload));
    err = xml_add_child(r, "error", NULL);
    xml_set_attr(err, "type", type);
    xml_add_child(err, condition, XML_NS_STANZAS);
    if (text) {
        struct xml_node *t = xml_add_child(err, "text", XML_NS_STANZAS);
        xml_set_attr(t, "xml:lang", "en");
        xml_add_text(t, text);
    }
    return r;
}

struct xml_node *stanza_iq_result(const struct stanza_in *iq, const char *domain)
{
    return reply_skeleton(iq, domain, "result");
}

void stanza_in_parse(struct stanza_in *in, const struct xml_node *xml, int64_t now_ms)
{
    memset(in, 0, sizeof(*in));
    in->xml = xml;
    in->now_ms = now_ms;
    in->kind = strcmp(xml->name, "message") == 0    ? STANZA_MESSAGE
               : strcmp(xml->name, "presence") == 0 ? STANZA_PRESENCE
               : strcmp(xml->name, "iq") == 0       ? STANZA_IQ
                                                    : STANZA_OTHER;
    in->type = xml_attr(xml, "type");
    in->from_ok = jid_parse(xml_attr(xml, "from"), &in->from) == 0;
    if (in->from_ok)
        in->sender = jid_bare(&in->from);
    in->to_ok = jid_parse(xml_attr(xml, "to"), &in->to) == 0;
    in->relay_rc =
        in->to_ok && in->to.local ? jid_relay_parse(in->to.local, &in->relay) : CS_ENOTFOUND;
}

void stanza_in_deinit(struct stanza_in *in)
{
    if (in->from_ok)
        jid_deinit(&in->from);
    if (in->to_ok)
        jid_deinit(&in->to);
    if (in->relay_rc == 0)
        jid_deinit(&in->relay);
    free(in->sender);
    memset(in, 0, sizeof(*in));
}

void stanza_in_copy(struct stanza_in *dst, const struct stanza_in *src, const struct xml_node *xml)
{
    *dst = *src;
    dst->xml = xml;
    dst->type = xml_attr(xml, "type");
    if (src->from_ok)
        jid_copy(&src->from, &dst->from);
    if (src->to_ok)
        jid_copy(&src->to, &dst->to);
    if (src->relay_rc == 0)
        jid_copy(&src->relay, &dst->relay);
    dst->sender = src->sender ? xstrdup(src->sender) : NULL;
}

struct xml_node *stanza_iq_query(const char *from, const char *to, const char *id, const char *ns,
                                 const char *node)
{
    struct xml_node *iq = xml_elem_new("iq", NULL), *q;
    xml_set_attr(iq, "from", from);
    xml_set_attr(iq, "to", to);
    xml_set_attr(iq, "type", "get");
    xml_set_attr(iq, "id", id);
    q = xml_add_child(iq, "query", ns);
    if (node)
        xml_set_attr(q, "node", node);
    return iq;
}
