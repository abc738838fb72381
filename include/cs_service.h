/* cs_service.h - stanza dispatch for the component domain.
 *
 * Pure core: service_handle() maps one inbound stanza to the stanzas to
 * send through the output path (cs_out.h); it never touches a socket or
 * reads the clock.  It validates addressing, answers the
 * domain's own queries (XEP-0030 disco#info/#items, XEP-0199 ping,
 * XEP-0092 version) and gives every other stanza its defined answer:
 * Presence and queries to channel addresses go to the home.
 * service-unavailable for unknown iq get/set, bad-request for malformed
 * iq, jid-malformed for an unparseable 'to', silence for errors and
 * results (RFC 6120 8.3.1: errors are never answered with errors). */
#ifndef CS_SERVICE_H
#define CS_SERVICE_H

#include <stdint.h>

#include "cs_out.h"
#include "cs_stanza.h"

struct home;
struct route;

struct service_stats {
    unsigned long handled;
    unsigned long errors_sent;
    unsigned long dropped;
};

struct service {
    const char *domain;    /* borrowed: the component domain */
    struct home *home;     /* borrowed: channels; NULL serves the domain only */
    struct route *route;   /* borrowed: messages; NULL answers them with errors */
    const struct out *out; /* borrowed: where answers go */
    struct service_stats stats;
};

void service_init(struct service *svc, const char *domain, struct home *home, struct route *route,
                  const struct out *out);
/* Handles one inbound stanza received at now_ms (wall clock). */
void service_handle(struct service *svc, const struct xml_node *stanza, int64_t now_ms);

#endif
