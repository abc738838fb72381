/* vcard.c - XEP-0054 vCards of channels: the display name as FN and
 * NICKNAME (the channel name where there is none), and the channel's
 * properties: DESC, EMAIL, URL and PHOTO. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cs_chanprops.h"
#include "cs_home.h"
#include "cs_log.h"
#include "cs_pepitem.h"
#include "cs_text.h"
#include "cs_util.h"
#include "service_priv.h"

static void add_properties(struct service *svc, struct xml_node *vc, const char *channel)
{
    struct chanprops_row p;
    if (chanprops_get(svc->opts.props, channel, &p) != 0)
        return; /* logged by the store; the vCard still names the channel */
    /* A text XML cannot carry (written by hand) is left out, logged. */
    if (pep_usable(p.description, "the description", channel))
        xml_add_text(xml_add_child(vc, "DESC", NULL), p.description);
    if (pep_usable(p.email, "the e-mail address", channel)) {
        struct xml_node *e = xml_add_child(vc, "EMAIL", NULL);
        xml_add_child(e, "INTERNET", NULL);
        xml_add_text(xml_add_child(e, "USERID", NULL), p.email);
    }
    if (pep_usable(p.url, "the web address", channel))
        xml_add_text(xml_add_child(vc, "URL", NULL), p.url);
    if (p.avatar_type && p.avatar) {
        struct xml_node *ph = xml_add_child(vc, "PHOTO", NULL);
        char *b64 = cs_base64(p.avatar, p.avatar_len);
        xml_add_text(xml_add_child(ph, "TYPE", NULL), p.avatar_type);
        xml_add_text(xml_add_child(ph, "BINVAL", NULL), b64);
        free(b64);
    }
    chanprops_row_free(&p);
}

void vcard_get(struct service *svc, const struct iq_ctx *q)
{
    const char *owner, *policy, *display;
    struct xml_node *r, *vc;
    const char *name;

    if (home_channel_info(svc->home, q->channel, &owner, &policy, &display) != 0) {
        service_error(svc, q->in, "cancel", "service-unavailable", NULL);
        return;
    }
    if (display && !text_name_ok(display)) {
        log_warning("service: display name of channel %s is not usable text; served as unset",
                    q->channel);
        display = NULL;
    }
    name = display ? display : q->channel;
    /* Public, like disco#info: the name is what watchers are meant to see. */
    r = stanza_iq_result(q->in, svc->domain);
    vc = xml_add_child(r, "vCard", NS_VCARD);
    xml_add_text(xml_add_child(vc, "FN", NULL), name);
    xml_add_text(xml_add_child(vc, "NICKNAME", NULL), name);
    if (svc->opts.props)
        add_properties(svc, vc, q->channel);
    service_send(svc, r);
}
