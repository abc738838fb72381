/* out.c - serialising stanzas onto the output path (see cs_out.h). */
#include "config.h"

#include "cs_out.h"
#include "cs_util.h"

int out_stanza(const struct out *o, const struct xml_node *stanza)
{
    struct strbuf sb = {0};
    int r;
    xml_serialize(stanza, XML_NS_COMPONENT, &sb);
    r = o->write(o->ud, sb.data, sb.len);
    strbuf_free(&sb);
    return r;
}
