/* pepitem.c - the items of a channel's PEP nodes (see cs_pepitem.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_log.h"
#include "cs_pepitem.h"
#include "cs_text.h"
#include "cs_util.h"

#define NS_AVATAR_META "urn:xmpp:avatar:metadata"
#define NS_AVATAR_DATA "urn:xmpp:avatar:data"
#define NS_NICK_NODE "http://jabber.org/protocol/nick"
#define NS_VCARD4_NODE "urn:xmpp:vcard4"
#define NS_VCARD4 "urn:ietf:params:xml:ns:vcard-4.0"

static const char *const names[PEP_NNODES] = {
    [PEP_AVATAR_META] = NS_AVATAR_META,
    [PEP_AVATAR_DATA] = NS_AVATAR_DATA,
    [PEP_NICK] = NS_NICK_NODE,
    [PEP_VCARD4] = NS_VCARD4_NODE,
};

const char *pep_node_name(enum pep_node n)
{
    return names[n];
}

int pep_node_of(const char *name)
{
    for (int i = 0; name && i < PEP_NNODES; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

const char *pep_usable(const char *s, const char *what, const char *channel)
{
    if (s == NULL || text_name_ok(s))
        return s;
    log_warning("props: %s of channel %s is not usable text; left out", what, channel);
    return NULL;
}

static struct xml_node *new_item(const char *id)
{
    struct xml_node *it = xml_elem_new("item", NULL);
    xml_set_attr(it, "id", id);
    return it;
}

/* <NAME><KIND>text</KIND></NAME> (RFC 6351's XML form) */
static void v4_prop(struct xml_node *vc, const char *name, const char *kind, const char *text)
{
    if (text)
        xml_add_text(xml_add_child(xml_add_child(vc, name, NULL), kind, NULL), text);
}

struct xml_node *pep_item(enum pep_node n, const struct pep_source *src)
{
    const struct chanprops_row *p = src->props;
    const char *display = pep_usable(src->display, "the display name", src->name);
    const char *nick = display ? display : src->name;
    bool avatar = src->photo[0] && p->avatar_type && p->avatar;
    struct xml_node *it;

    switch (n) {
    case PEP_AVATAR_META: {
        struct xml_node *md;
        it = new_item(avatar ? src->photo : "current");
        md = xml_add_child(it, "metadata", NS_AVATAR_META);
        if (avatar) {
            struct xml_node *info = xml_add_child(md, "info", NULL);
            char bytes[24];
            snprintf(bytes, sizeof(bytes), "%zu", p->avatar_len);
            xml_set_attr(info, "bytes", bytes);
            xml_set_attr(info, "id", src->photo);
            xml_set_attr(info, "type", p->avatar_type);
        }
        return it;
    }
    case PEP_AVATAR_DATA: {
        char *b64;
        if (!avatar)
            return NULL;
        it = new_item(src->photo);
        b64 = cs_base64(p->avatar, p->avatar_len);
        xml_add_text(xml_add_child(it, "data", NS_AVATAR_DATA), b64);
        free(b64);
        return it;
    }
    case PEP_NICK:
        it = new_item("current");
        xml_add_text(xml_add_child(it, "nick", NS_NICK_NODE), nick);
        return it;
    case PEP_VCARD4: {
        struct xml_node *vc;
        it = new_item("current");
        vc = xml_add_child(it, "vcard", NS_VCARD4);
        v4_prop(vc, "fn", "text", nick);
        v4_prop(vc, "nickname", "text", nick);
        v4_prop(vc, "note", "text", pep_usable(p->description, "the description", src->name));
        v4_prop(vc, "email", "text", pep_usable(p->email, "the e-mail address", src->name));
        v4_prop(vc, "url", "uri", pep_usable(p->url, "the web address", src->name));
        return it;
    }
    case PEP_NNODES: break;
    }
    return NULL;
}
