/* tell.c - what the home says, and the subscription change it says it
 * about: presence, status and stanza errors from a channel, redirected
 * for contacts a node vouched for, and home_change(), which stores a
 * change of RFC 6121 state and keeps the watchers in step before anything
 * depending on it is sent.  Every file of the home below its entry points
 * (bind, fanout, federation, the iq answers) speaks through here. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs_jid.h"
#include "cs_log.h"
#include "cs_privilege.h"
#include "cs_stanza.h"
#include "cs_sub.h"
#include "cs_text.h"
#include "cs_homestate.h"

/* XEP-0172: the display name of the channel at address from, for the
 * subscription request it sends its owner; NULL when it has none or an
 * unusable one (caller frees).  A channel not loaded (the binding cursor
 * loads none) costs one read by key. */
static char *channel_nick(struct home *h, const char *from)
{
    const char *at = strchr(from, '@');
    struct channel *c;
    char *name, *dn = NULL;
    if (at == NULL)
        return NULL;
    name = xstrndup(from, (size_t)(at - from));
    c = chancache_loaded(&h->cache, name);
    if (c && c->display_name)
        dn = xstrdup(c->display_name);
    else if (c == NULL && roster_display_name(h->roster, name, &dn) != 0)
        dn = NULL;
    free(name);
    if (dn && !text_name_ok(dn)) {
        free(dn);
        dn = NULL;
    }
    return dn;
}

void home_send_presence(struct home *h, const char *from, const char *to, const char *type,
                        const char *status_text)
{
    struct xml_node *p = xml_elem_new("presence", NULL);
    xml_set_attr(p, "from", from);
    xml_set_attr(p, "to", to);
    if (type)
        xml_set_attr(p, "type", type);
    if (status_text)
        xml_add_text(xml_add_child(p, "status", NULL), status_text);
    if (type && strcmp(type, "subscribe") == 0) {
        /* Only a channel asking its owner sends subscribe from here. */
        char *nick = channel_nick(h, from);
        if (nick)
            xml_add_text(xml_add_child(p, "nick", NS_NICK), nick);
        free(nick);
    }
    if (out_stanza(h->out, p) != 0)
        log_debug("home: presence to %s not sent: link down", to);
    xml_free(p);
}

struct xml_node *home_channel_presence(struct home *h, struct channel *c)
{
    struct status_view v;
    struct xml_node *p;
    status_set_view(&c->status, &v);
    p = status_presence(&v, c->jid);
    /* XEP-0153 section 4.1: every available presence names the avatar
     * (an empty photo: none), so that clients know when to fetch it. */
    if (v.show != SHOW_UNAVAILABLE && (c->remote ? c->photo_known : h->cache.props != NULL)) {
        struct xml_node *ph = xml_add_child(xml_add_child(p, "x", NS_VCARD_UPDATE), "photo", NULL);
        if (c->photo[0])
            xml_add_text(ph, c->photo);
    }
    return p;
}

void home_send_status_to(struct home *h, struct channel *c, const char *to)
{
    struct xml_node *p = home_channel_presence(h, c);
    xml_set_attr(p, "to", to);
    if (out_stanza(h->out, p) != 0)
        log_debug("home: status to %s not sent: link down", to);
    xml_free(p);
}

/* Presence from channel c to one of its contacts: straight to the
 * contact, or, for one a node vouched for, to its address at that node
 * (doc/federation.md); status never goes to those (the node has it). */
void home_tell(struct home *h, struct channel *c, const char *contact, const char *type)
{
    const char *node = channel_via(c, contact);
    struct xml_node *p;
    char *esc;
    struct strbuf to = {0};
    if (node == NULL) {
        home_send_presence(h, c->jid, contact, type, NULL);
        return;
    }
    if (type == NULL || strcmp(type, "unavailable") == 0)
        return;
    esc = jid_escape_local(contact);
    strbuf_printf(&to, "%s@%s", esc, node);
    p = xml_elem_new("presence", NULL);
    xml_set_attr(p, "from", c->jid);
    xml_set_attr(p, "to", to.data);
    xml_set_attr(p, "type", type);
    xml_add_child(p, "vouch", NS_FEDERATION);
    if (out_stanza(h->out, p) != 0)
        log_debug("home: %s to %s not sent: link down", type, to.data);
    xml_free(p);
    strbuf_free(&to);
    free(esc);
}

void home_tell_status(struct home *h, struct channel *c, const char *contact)
{
    if (channel_via(c, contact) == NULL)
        home_send_status_to(h, c, contact);
}

void home_reply_error(struct home *h, const struct stanza_in *st, const char *type,
                      const char *cond)
{
    struct xml_node *e = stanza_error_reply(st, h->domain, type, cond, NULL);
    if (out_stanza(h->out, e) != 0)
        log_debug("home: error reply not sent: link down");
    xml_free(e);
}

int home_change(struct home *h, const char *channel, struct channel *c, const char *contact,
                struct sub_row *row, enum sub_event ev)
{
    unsigned act = sub_apply(row, ev);
    if (roster_tx_begin(h->roster) != 0 || roster_put(h->roster, channel, contact, row) != 0) {
        log_error("home: cannot store %s for %s/%s", sub_event_name(ev), channel, contact);
        return -1;
    }
    if (c) {
        watchers_set(c, contact, sub_is_watcher(row->state) && channel_via(c, contact) == NULL);
        channel_note_state(c, contact, row->state);
    }
    log_debug("home: %s/%s: %s -> %s", channel, contact, sub_event_name(ev),
              sub_state_name(row->state));
    return (int)act;
}

bool home_owner_privileged(const struct home *h, const char *owner)
{
    const char *at = strchr(owner, '@');
    return h->priv && at && privileges_presence(h->priv, at + 1);
}
