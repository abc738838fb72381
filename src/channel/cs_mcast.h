/* cs_mcast.h - fan-out through the server's multicast service (XEP-0033).
 *
 * A status change reaches N watchers as N presence stanzas that the
 * server must parse one by one.  Where the server offers Extended Stanza
 * Addressing, fan-out (fanout.c) sends one presence per batch of watchers
 * instead, with an <addresses/> list of 'bcc' addresses, and the server
 * delivers a copy to each: a client cannot tell it from a stanza sent to
 * it alone (same 'from', same 'id', no <addresses/> left on it).
 *
 * This module finds the service and keeps what a refusal needs:
 *   - Discovery (XEP-0033 section 2): after each (re)connect, disco#info
 *     of the users' domain; without the feature, disco#items of that
 *     domain and disco#info of each item (at most MCAST_ITEMS_MAX).  The
 *     limit is the 'presence' field of the service's extended information
 *     (XEP-0128 form http://jabber.org/protocol/address, as ejabberd's
 *     mod_multicast and contrib/prosody/mod_chanstat_multicast.lua show
 *     it), MCAST_DEFAULT_LIMIT when none is shown, never above the
 *     configured maximum.  Nothing found: one stanza per watcher, and the
 *     domain is asked again after MCAST_RECHECK_MS; a service found is
 *     asked again after that long too (one that went away at run time
 *     never answers for the batches it does not see).
 *   - Only watchers at the users' domain are batched: the service is that
 *     domain's (a watcher elsewhere, or a node's bare domain, gets its own
 *     stanza as before).
 *   - Every batch sent is held by its id for MCAST_HOLD_MS (at most
 *     MCAST_HOLD_MAX recipients in all, the oldest forgotten first).  An
 *     error from the service with a batch's id puts the batch's
 *     recipients on the owed queue, which fan-out drains first, one
 *     stanza each with the channel's current status: nothing refused is
 *     lost.  The first refusal after a discovery asks the service again at
 *     once (a lowered limit is learnt in one round trip) with batching
 *     off meanwhile; another refusal within retry_ms of that waits until
 *     retry_ms has passed, so a service that accepts nothing costs one
 *     round of batches per retry_ms.
 *
 * Costs: a batch held is one allocation with its recipients' JIDs; an
 * error is one hash lookup.  Times are passed in (monotonic ms). */
#ifndef CS_MCAST_H
#define CS_MCAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs_out.h"
#include "cs_stanza.h"

#define NS_ADDRESS "http://jabber.org/protocol/address"

/* No limit shown by the service: ejabberd's default for a sender that is
 * not one of its hosts (a component is not). */
#define MCAST_DEFAULT_LIMIT 20
/* A batch stanza stays under this many bytes, far below what servers
 * accept from a component (Prosody: 512 KiB). */
#define MCAST_BATCH_BYTES 65536
#define MCAST_HOLD_MS 30000
#define MCAST_HOLD_MAX 262144
#define MCAST_ITEMS_MAX 32
#define MCAST_RECHECK_MS (3600 * 1000)

struct iqwait;
struct mcast;

struct mcast_opts {
    bool enabled;               /* [fanout] multicast = auto */
    const char *domain;         /* the users' domain: asked, and the only one batched (borrowed) */
    unsigned max_addresses;     /* [fanout] multicast_max */
    int64_t request_timeout_ms; /* a disco request unanswered this long counts as no */
    int64_t retry_ms;           /* a second refusal waits this long before asking again */
};

struct mcast_stats {
    unsigned long long batches;   /* batch stanzas sent */
    unsigned long long batched;   /* deliveries asked of the service in them */
    unsigned long long refused;   /* batches the service refused */
    unsigned long long fallbacks; /* deliveries sent singly after a refusal */
};

/* from: the component domain the requests come from (borrowed).  out and
 * w are borrowed; w NULL: nothing is ever asked (batching stays off).
 * Never NULL. */
struct mcast *mcast_new(const struct mcast_opts *o, const char *from, const struct out *out,
                        struct iqwait *w);
/* Frees everything, cancelling a pending request; NULL-safe, sets *m NULL. */
void mcast_free(struct mcast **m);

/* The link is up: discovery starts (when enabled). */
void mcast_online(struct mcast *m, int64_t now_ms);
/* The link is down: what was found and every held and owed batch are
 * forgotten (the resync after the next connect tells every watcher). */
void mcast_offline(struct mcast *m);
/* Forgets held batches past MCAST_HOLD_MS; asks again when due. */
void mcast_tick(struct mcast *m, int64_t now_ms);

/* The service to send batches to, and in *limit_r the most addresses per
 * batch; NULL while batching is off (not found, asking, suspended). */
const char *mcast_service(const struct mcast *m, unsigned *limit_r);
/* May jid (a normalised bare JID) be an address in a batch? */
bool mcast_batchable(const struct mcast *m, const char *jid);

/* Holds a batch just sent: its id (the stanza's), the channel's name and
 * the recipients (all copied). */
void mcast_sent(struct mcast *m, const char *id, const char *channel, const char *const *jids,
                unsigned n, int64_t now_ms);
/* An inbound stanza of type error: true when it is the service refusing
 * a held batch (its recipients are owed singly from now); false for
 * anything else, which the caller handles as before. */
bool mcast_refused(struct mcast *m, const struct stanza_in *in);

/* The first delivery owed singly: the channel's name and the recipient,
 * borrowed until mcast_owed_pop; false when none is owed. */
bool mcast_owed(const struct mcast *m, const char **channel_r, const char **jid_r);
void mcast_owed_pop(struct mcast *m);

const struct mcast_stats *mcast_stats(const struct mcast *m);

#endif
