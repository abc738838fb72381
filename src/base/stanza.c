/* stanza.c - replies and stanza errors. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cs_jid.h"
#include "cs_stanza.h"
#include "cs_util.h"

char *stanza_reply_from(const struct xml_node *orig, const char *domain)
{
    struct jid to;
    char *self;
    if (jid_parse(xml_attr(orig, "to"), &to) != 0)
        return xstrdup(domain);
    /* jid_parse normalises: folded case, no trailing dot. */
    self = strcasecmp(to.domain, domain) == 0 ? jid_full(&to) : xstrdup(domain);
    jid_deinit(&to);
    return self;
}

static struct xml_node *reply_skeleton(const struct xml_node *orig, const char *domain,
                                       const char *type)
{
    struct xml_node *r = xml_elem_new(orig->name, NULL);
    const char *from = xml_attr(orig, "from");
    const char *id = xml_attr(orig, "id");
    char *self = stanza_reply_from(orig, domain);
    xml_set_attr(r, "from", self);
    free(self);
    if (from)
        xml_set_attr(r, "to", from);
    if (id)
        xml_set_attr(r, "id", id);
    xml_set_attr(r, "type", type);
    return r;
}

struct xml_node *stanza_error_reply(const struct xml_node *orig, const char *domain,
                                    const char *type, const char *condition, const char *text)
{
    struct xml_node *r = reply_skeleton(orig, domain, "error");
    struct xml_node *err, *payload;

    if (strcmp(orig->name, "iq") == 0 && (payload = xml_first_elem(orig)) != NULL)
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

struct xml_node *stanza_iq_result(const struct xml_node *iq, const char *domain)
{
    return reply_skeleton(iq, domain, "result");
}
