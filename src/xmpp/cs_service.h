/* cs_service.h - stanza dispatch for the component domain.
 *
 * Pure core: service_handle() maps one inbound stanza to the stanzas to
 * send through the output path (cs_out.h); it never touches a socket or
 * reads the clock.  It validates addressing and gives every stanza its
 * defined answer (doc/xmpp.md):
 *   - iq get/set to the domain or a channel: one table of handlers,
 *     which also drives disco#info, so what is advertised is what is
 *     answered.  The domain answers XEP-0030 disco, XEP-0199 ping,
 *     XEP-0092 version, XEP-0077 registration (when configured) and
 *     XEP-0050 commands for admins; a channel answers disco, XEP-0012 last
 *     activity (the home), XEP-0054 vCard and XEP-0050 commands for its
 *     owner.  Anything else: service-unavailable.
 *   - presence and messages to channel addresses go to the home and the
 *     router.
 *   - iq results and errors: answers to our own requests, matched in
 *     the registry (cs_iqwait.h); the rest are dropped.
 *   - bad-request for malformed iq, jid-malformed for an unparseable 'to',
 *     silence for errors and results (RFC 6120 8.3.1: errors are never
 *     answered with errors).
 * Files: service.c (dispatch, disco), register.c, adhoc.c, vcard.c. */
#ifndef CS_SERVICE_H
#define CS_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "cs_out.h"
#include "cs_privilege.h"
#include "cs_stanza.h"

struct home;
struct route;
struct stats;
struct config_list;
struct adhoc;
struct iqwait;

/* Read by the node's stats (node.c); stanza errors are counted from the
 * output, by condition (cs_stats.h). */
struct service_stats {
    unsigned long dropped;       /* inbound stanzas dropped unanswered */
    unsigned long registrations; /* channels created by in-band registration */
    unsigned long commands;      /* ad-hoc command steps answered */
};

/* Who may do what.  Everything borrowed: must outlive the service. */
struct service_opts {
    bool registration;          /* XEP-0077 on the domain */
    int max_channels_per_owner; /* registering refused at this many owned channels */
    const struct config_list *registration_domains; /* NULL or empty: any domain */
    const struct config_list *admins;               /* NULL: no admins */
    /* The node's counters for the admins' stats command (NULL: the
     * command is not offered).  Borrowed result, valid for the call. */
    const struct stats *(*counters)(void *ud);
    void *counters_ud;
    int64_t started_ms; /* when the daemon started (monotonic): the domain's uptime */
    /* The channel directory listed by disco#items of the domain (NULL:
     * none is listed). */
    struct directory *directory;
    /* Channels' properties for their vCards (NULL: the vCard holds only
     * the name). */
    struct chanprops *props;
};

struct service {
    const char *domain; /* borrowed: the component domain */
    /* The domain users see in texts and forms: the component's, or at a
     * cluster's home its front's (set by node.c; NULL: domain). */
    const char *shown_domain;
    struct home *home;     /* borrowed: channels; NULL serves the domain only */
    struct route *route;   /* borrowed: messages; NULL answers them with errors */
    const struct out *out; /* borrowed: where answers go */
    struct service_opts opts;
    struct adhoc *adhoc;    /* owned: open command sessions (adhoc.c) */
    struct privileges priv; /* owned: what servers granted (XEP-0356) */
    /* Answers to our own iqs (the roster sync's, federation discovery)
     * go here and nowhere else (borrowed, set by node.c; NULL: every
     * answer is dropped). */
    struct iqwait *iqwait;
    /* Optional hooks (node.c): a server's grant was recorded. */
    void (*granted)(void *ud, const struct privilege *pv, int64_t now_ms);
    /* An iq set of jabber:iq:roster at the domain (a server's roster push
     * to a privileged entity): true when the hook answered it. */
    bool (*roster_push)(void *ud, const struct stanza_in *iq);
    void *hooks_ud;
    struct service_stats stats;
};

/* Registration off, no admins until service_configure().  Release with
 * service_deinit(). */
void service_init(struct service *svc, const char *domain, struct home *home, struct route *route,
                  const struct out *out);
void service_configure(struct service *svc, const struct service_opts *opts);
/* Frees the command sessions; safe to call twice. */
void service_deinit(struct service *svc);
/* The domain users see (struct service's shown_domain). */
static inline const char *service_shown_domain(const struct service *svc)
{
    return svc->shown_domain ? svc->shown_domain : svc->domain;
}
/* Handles one inbound stanza, parsed once by the caller (cs_stanza.h);
 * whoever answers it answers from in, never parsing it again. */
void service_dispatch(struct service *svc, const struct stanza_in *in);
/* stanza_in_parse() at now_ms (monotonic), then service_dispatch(). */
void service_handle(struct service *svc, const struct xml_node *stanza, int64_t now_ms);

#endif
