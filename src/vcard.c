/* vcard.c - XEP-0054 vCards of channels: the display name as FN and
 * NICKNAME, the channel name where there is none. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "cs_home.h"
#include "cs_log.h"
#include "cs_vcard.h"
#include "service_priv.h"

/* Length of the UTF-8 sequence at s and its code point, or 0 when s
 * does not start a well-formed one (RFC 3629 section 4). */
static size_t utf8_seq(const unsigned char *s, uint32_t *cp_r)
{
    size_t n;
    uint32_t cp, min;
    if (s[0] < 0x80) {
        *cp_r = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2;
        cp = s[0] & 0x1f;
        min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3;
        cp = s[0] & 0x0f;
        min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4;
        cp = s[0] & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0; /* also stops at the terminating NUL */
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    *cp_r = cp;
    return n;
}

bool vcard_name_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    if (s == NULL || *p == '\0')
        return false;
    while (*p) {
        uint32_t cp;
        size_t n = utf8_seq(p, &cp);
        if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0xfffe || cp == 0xffff)
            return false;
        p += n;
    }
    return true;
}

void vcard_get(struct service *svc, const struct iq_ctx *q)
{
    const char *owner, *policy, *display;
    struct xml_node *r, *vc;
    const char *name;

    if (home_channel_info(svc->home, q->channel, &owner, &policy, &display) != 0) {
        service_error(svc, q->iq, "cancel", "service-unavailable", NULL);
        return;
    }
    if (display && !vcard_name_ok(display)) {
        log_warning("service: display name of channel %s is not usable text; served as unset",
                    q->channel);
        display = NULL;
    }
    name = display ? display : q->channel;
    /* Public, like disco#info: the name is what watchers are meant to see. */
    r = stanza_iq_result(q->iq, svc->domain);
    vc = xml_add_child(r, "vCard", NS_VCARD);
    xml_add_text(xml_add_child(vc, "FN", NULL), name);
    xml_add_text(xml_add_child(vc, "NICKNAME", NULL), name);
    service_send(svc, r);
}
