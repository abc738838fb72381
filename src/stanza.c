/* stanza.c - replies and stanza errors. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_stanza.h"
#include "cs_util.h"

static struct xml_node *reply_skeleton(const struct xml_node *orig, const char *type)
{
    struct xml_node *r = xml_elem_new(orig->name, NULL);
    const char *from = xml_attr(orig, "from");
    const char *to = xml_attr(orig, "to");
    const char *id = xml_attr(orig, "id");
    if (to)
        xml_set_attr(r, "from", to);
    if (from)
        xml_set_attr(r, "to", from);
    if (id)
        xml_set_attr(r, "id", id);
    xml_set_attr(r, "type", type);
    return r;
}

struct xml_node *stanza_error_reply(const struct xml_node *orig, const char *type,
                                    const char *condition, const char *text)
{
    struct xml_node *r = reply_skeleton(orig, "error");
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

struct xml_node *stanza_iq_result(const struct xml_node *iq)
{
    return reply_skeleton(iq, "result");
}
