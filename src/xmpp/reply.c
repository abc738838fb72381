/* reply.c - how the service's handlers answer: the one output path
 * (service_send), stanza errors with their counters, and the two facts of
 * the service every handler needs (who is an admin, a channel's address).
 * Below the handlers (register.c, adhoc.c, vcard.c) and the dispatch in
 * service.c, which all use it. */
#include "config.h"

#include <stdlib.h>

#include "cs_config.h"
#include "cs_log.h"
#include "cs_stanza.h"
#include "cs_util.h"
#include "service_priv.h"

void service_send(struct service *svc, struct xml_node *st)
{
    if (out_stanza(svc->out, st) != 0)
        log_debug("service: answer not sent: link down");
    xml_free(st);
}

void service_error_app(struct service *svc, const struct stanza_in *st, const char *type,
                       const char *cond, const char *app, const char *app_ns, const char *text)
{
    struct xml_node *e = stanza_error_reply(st, svc->domain, type, cond, text);
    if (app) {
        struct xml_node *err = xml_child(e, "error", NULL);
        /* RFC 6120 8.3.2: the application condition follows the defined
         * one and its text. */
        xml_add_child(err, app, app_ns);
    }
    service_send(svc, e);
}

void service_error(struct service *svc, const struct stanza_in *st, const char *type,
                   const char *cond, const char *text)
{
    service_error_app(svc, st, type, cond, NULL, NULL, text);
}

bool service_is_admin(const struct service *svc, const char *bare)
{
    return svc->opts.admins && config_list_has(svc->opts.admins, bare);
}

char *service_channel_jid(const struct service *svc, const char *name)
{
    struct strbuf sb = {0};
    strbuf_printf(&sb, "%s@%s", name, svc->domain);
    return sb.data;
}
