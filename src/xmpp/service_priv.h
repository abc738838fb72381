/* service_priv.h - what the files of the service share (not a public API).
 *
 * service.c dispatches through one table of iq handlers, which also
 * drives disco#info; handlers beyond disco and the small queries live in
 * their own files: register.c (XEP-0077 on the domain), adhoc.c
 * (XEP-0050 commands for owners and admins) and vcard.c (XEP-0054 vCards
 * of channels).  Every answer goes through service_send(). */
#ifndef CS_SERVICE_PRIV_H
#define CS_SERVICE_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "cs_jid.h"
#include "cs_service.h"
#include "cs_xml.h"

#define NS_COMMANDS "http://jabber.org/protocol/commands"
#define NS_REGISTER "jabber:iq:register"
#define NS_VCARD "vcard-temp"
#define NS_DATA "jabber:x:data"
#define NS_RSM "http://jabber.org/protocol/rsm"

/* One iq get/set being answered.  Everything borrowed for the call. */
struct iq_ctx {
    const struct xml_node *iq;
    const struct stanza_in *in;     /* the iq, parsed once at dispatch */
    const struct xml_node *payload; /* the one child element */
    const struct jid *from;         /* the sender, parsed */
    const char *requester;          /* its bare JID */
    const char *channel;            /* the addressed channel's name; NULL at the domain */
    int64_t now_ms;
};

/* Sends and frees st (the one output path). */
void service_send(struct service *svc, struct xml_node *st);
/* A stanza error in reply to st (RFC 6120 8.3), with optional text. */
void service_error(struct service *svc, const struct stanza_in *st, const char *type,
                   const char *cond, const char *text);
/* ... with an application-specific condition app (in namespace app_ns)
 * next to the defined one (RFC 6120 8.3.2). */
void service_error_app(struct service *svc, const struct stanza_in *st, const char *type,
                       const char *cond, const char *app, const char *app_ns, const char *text);
/* Is bare (a normalised bare JID) one of the configured admins? */
bool service_is_admin(const struct service *svc, const char *bare);
/* The address name@domain (caller frees). */
char *service_channel_jid(const struct service *svc, const char *name);

/* register.c: jabber:iq:register get and set to the domain. */
void register_get(struct service *svc, const struct iq_ctx *q);
void register_set(struct service *svc, const struct iq_ctx *q);

/* adhoc.c: the command sessions (caller frees with adhoc_free()). */
struct adhoc *adhoc_new(void);
void adhoc_free(struct adhoc **adhoc);
/* An iq set with <command/> to the domain or a channel. */
void adhoc_command(struct service *svc, const struct iq_ctx *q);
/* disco#items of node NS_COMMANDS: the commands q's sender may run. */
void adhoc_items(struct service *svc, const struct iq_ctx *q);
/* disco#info of a command node; false when node names none the sender
 * may run (the caller answers item-not-found). */
bool adhoc_node_info(struct service *svc, const struct iq_ctx *q, const char *node);

/* vcard.c: the vCard of channel q->channel. */
void vcard_get(struct service *svc, const struct iq_ctx *q);

/* pubsub.c: XEP-0060 at a channel: iq get and set of <pubsub/>, and of
 * the owner namespace. */
#define NS_PUBSUB_OWNER "http://jabber.org/protocol/pubsub#owner"
void pubsub_get(struct service *svc, const struct iq_ctx *q);
void pubsub_set(struct service *svc, const struct iq_ctx *q);
void pubsub_owner(struct service *svc, const struct iq_ctx *q);

/* browse.c: disco#items of the domain with svc->opts.directory set: a
 * page of the channel directory, at most BROWSE_PAGE_MAX items. */
#define BROWSE_PAGE_MAX 100
void browse_items(struct service *svc, const struct iq_ctx *q);

#endif
