/* vcard.c - XEP-0054 vCards of channels: the display name as FN and
 * NICKNAME, the channel name where there is none. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "cs_home.h"
#include "cs_log.h"
#include "cs_text.h"
#include "service_priv.h"

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
    service_send(svc, r);
}
