/* cs_pep.h - a channel's properties pushed to those who asked for them:
 * the PEP service at every channel's bare JID (XEP-0163).
 *
 * Two kinds of recipients get a node's events (headline messages from
 * the channel's bare JID, XEP-0060 section 7.1.2):
 *   - a watcher's resource whose entity capabilities (XEP-0115) include
 *     NODE+notify.  Capabilities come from the <c/> of an available
 *     presence a watcher's full JID sends the channel; its 'ver' is
 *     resolved with one disco#info of NODE#VER per 'ver' (not per
 *     presence, not per watcher), kept only when the answer hashes to
 *     the 'ver' (cs_capsver.h); an answer that does not is used for the
 *     resource that gave it and nobody else.  When a resource's features
 *     become known it is sent the current item of each node it wants.
 *   - a bare JID with a property subscription (cs_propsub.h: XEP-0060
 *     subscribe with a lease), until the lease runs out.  A bare JID
 *     with a subscription is sent one event, not one per resource too.
 * Events are a cursor like the status fan-out: a change queues the
 * channel once; the pump serialises each node's event once and writes
 * one copy per recipient while the output has room; a change in the
 * middle restarts that channel with the newest items (state, not a log).
 *
 * Bounds: PEP_MAX_RESOURCES resources of one bare JID per channel,
 * PEP_CAPS_MAX distinct 'ver' values kept (those no resource uses are
 * dropped first), PEP_CAPS_INFLIGHT disco#info requests at once (the
 * rest queue), one request per 'ver' in PEP_CAPS_RETRY_MS after a
 * failure. */
#ifndef CS_PEP_H
#define CS_PEP_H

#include <stdbool.h>
#include <stdint.h>

#include "cs_channel.h"
#include "cs_out.h"
#include "cs_pepitem.h"
#include "cs_propsub.h"
#include "cs_stanza.h"

#define PEP_MAX_RESOURCES 16
#define PEP_CAPS_MAX 10000
#define PEP_CAPS_INFLIGHT 32
#define PEP_CAPS_TIMEOUT_MS 30000
#define PEP_CAPS_RETRY_MS 600000

struct iqwait;
struct cs_clock;
struct pep;

struct pep_limits {
    int64_t lease_default_s;     /* granted when a subscription names no expiry */
    int64_t lease_max_s;         /* the longest granted */
    long long max_subscriptions; /* property subscriptions per channel */
};

struct pep_stats {
    unsigned long long events;     /* event messages sent */
    unsigned long caps_lookups;    /* disco#info requests for a 'ver' */
    unsigned long caps_unverified; /* answers that did not hash to their 'ver' */
};

/* Everything borrowed, for the life of the pep. */
struct pep_deps {
    const char *domain;
    const struct out *out;
    struct chancache *cache; /* its roster opens transactions; its props are read */
    struct propsub *subs;
    struct iqwait *iqwait;
    const struct cs_clock *clock; /* wall clock for leases; NULL: now_ms */
};

/* Caller frees with pep_free(). */
struct pep *pep_new(const struct pep_deps *deps, const struct pep_limits *limits);
void pep_free(struct pep **pep);
const struct pep_stats *pep_stats(const struct pep *pep);
void pep_use_clock(struct pep *pep, const struct cs_clock *clock);

/* An available or unavailable presence from a resource of contact (a bare
 * JID, already known to be a watcher of c or not) to channel c. */
void pep_presence(struct pep *pep, struct channel *c, const struct stanza_in *in);
/* c's properties changed (CHANNEL_CHANGED_* bits): its events are queued. */
void pep_changed(struct pep *pep, struct channel *c, unsigned changed);
/* Has channel name (not loaded) property subscribers whose lease runs?
 * An edit of such a channel loads it and sends every node's item, as
 * what changed is not known (one read by key). */
bool pep_wants_unloaded(struct pep *pep, const char *name, int64_t now_ms);
/* c leaves the cache: everything kept for it goes. */
void pep_forget(struct pep *pep, struct channel *c);
/* Writes queued events while the output has room; true while some wait. */
bool pep_pump(struct pep *pep, int64_t now_ms);
/* The link went down: the event in progress starts over when it is back. */
void pep_offline(struct pep *pep);
/* Once a second: expired subscriptions are purged (a batch a minute). */
void pep_tick(struct pep *pep, int64_t now_ms);

/* ---- For the XEP-0060 requests at a channel (xmpp/pubsub.c) ---- */

/* May bare (a requester's bare JID) see c's properties?  Open channels:
 * anyone; others: watchers and the owner. */
bool pep_may_see(const struct channel *c, const char *bare);
/* The node's current item of c (caller frees), or NULL when it has none;
 * *err_r CS_EDB when the properties could not be read. */
struct xml_node *pep_current_item(struct pep *pep, struct channel *c, enum pep_node node,
                                  int *err_r);
/* Subscribes bare to node of c until the expiry asked (unix seconds; 0:
 * the default), bounded by the configured maximum; *expires_r: what is
 * granted.  Sends the node's current item to bare once the answer is
 * out (call pep_send_current after the reply).  0, CS_EINVAL (the expiry
 * asked has passed), CS_ELIMIT (the channel has max_subscriptions) or
 * CS_EDB. */
int pep_subscribe(struct pep *pep, struct channel *c, enum pep_node node, const char *bare,
                  int64_t expire_asked, int64_t now_ms, int64_t *expires_r);
/* The property subscriptions of channel whose lease runs at now_ms, in
 * (node, jid) order: cb(ud, node, jid, expires as unix seconds); the
 * seconds left are expires minus pep_wall_s().  0 or CS_EDB. */
int pep_each_subscription(struct pep *pep, const char *channel, int64_t now_ms, propsub_cb *cb,
                          void *ud);
/* now_ms as wall-clock seconds (leases are stored so). */
int64_t pep_wall_s(const struct pep *pep, int64_t now_ms);
/* 0, CS_ENOTFOUND (no subscription) or CS_EDB. */
int pep_unsubscribe(struct pep *pep, struct channel *c, enum pep_node node, const char *bare,
                    int64_t now_ms);
/* The current item of each node in mask (bits of enum pep_node) as
 * events to `to`. */
void pep_send_current(struct pep *pep, struct channel *c, unsigned mask, const char *to);

/* ---- Federation (doc/federation.md) ----
 *
 * At a home, a chanstat node subscribed to a channel (a watcher whose
 * JID is a bare domain) gets every node's events, as one +notify
 * resource would: one upstream property subscription per remote channel
 * for free, with the node subscription's lease.  At the status service
 * a remote channel's items come in as those events and are kept in
 * memory: items requests are answered from them, and they are fanned
 * out to local +notify resources and local property subscribers. */

/* items (an <items node='...'/> of an event from remote channel c's
 * home) replaces what is kept of that node, and its events are queued
 * when it changed.  An empty metadata item (no avatar) drops the data
 * item kept. */
void pep_remote_items(struct pep *pep, struct channel *c, const struct xml_node *items);
/* Has remote channel c's home sent any items since c was made here (a
 * status service that restarted has none: it asks for them with its
 * next lease request)? */
bool pep_remote_heard(struct pep *pep, const struct channel *c);

#endif
