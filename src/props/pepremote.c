/* pepremote.c - a remote channel's items at a status service (cs_pep.h,
 * doc/federation.md): kept from its home's events, repeats dropped, the
 * local events queued. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_log.h"
#include "cs_roster.h"
#include "pep_priv.h"

void pep_remote_items(struct pep *p, struct channel *c, const struct xml_node *items)
{
    int node = pep_node_of(xml_attr(items, "node"));
    const struct xml_node *ev_item = xml_child(items, "item", NULL);
    struct xml_node *it;
    struct pepchan *pc;
    struct strbuf a = {0}, b = {0};
    bool same;
    if (node < 0 || c->remote == NULL)
        return;
    pc = pepchan_get(p, c->name, true);
    pc->remote_heard = true;
    if (ev_item == NULL && pc->remote_item[node] == NULL)
        return;
    /* Kept without the event's namespace: an item answers items requests
     * (pubsub) and goes into events (pubsub#event) from here, and takes
     * the namespace of wherever it is put. */
    it = ev_item ? xml_copy(ev_item) : NULL;
    if (it)
        xml_set_ns(it, NULL);
    if (it && pc->remote_item[node]) {
        xml_serialize(it, XML_NS_COMPONENT, &a);
        xml_serialize(pc->remote_item[node], XML_NS_COMPONENT, &b);
        same = a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
        strbuf_free(&a);
        strbuf_free(&b);
        if (same) {
            xml_free(it);
            return; /* a repeat: nothing new for anybody */
        }
    }
    xml_free(pc->remote_item[node]);
    pc->remote_item[node] = it;
    if (node == PEP_AVATAR_META && it) {
        const struct xml_node *md = xml_child(it, "metadata", NULL);
        if (md && xml_child(md, "info", NULL) == NULL && pc->remote_item[PEP_AVATAR_DATA]) {
            /* XEP-0084 4.2: no avatar any more; its bytes are not one. */
            xml_free(pc->remote_item[PEP_AVATAR_DATA]);
            pc->remote_item[PEP_AVATAR_DATA] = NULL;
            pc->built_items &= ~(1u << PEP_AVATAR_DATA);
        }
    }
    pep_queue_nodes(p, pc, 1u << node);
}

bool pep_remote_heard(struct pep *p, const struct channel *c)
{
    const struct pepchan *pc = hash_get(&p->chans, c->name);
    return pc && pc->remote_heard;
}
