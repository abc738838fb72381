/* cs_route.h - messages through the home location (doc/internals-routing.md).
 *
 * A message to name@DOMAIN goes to the owner's best available resource,
 * from the sender's relay address (the sender's bare JID escaped per
 * XEP-0106 at DOMAIN); the owner's message to a relay address goes to the
 * unescaped JID from the channel the contact last wrote to (remembered
 * per owner and contact, persisted once a second by route_tick), else
 * from the owner's first channel.  With no owner resource available, chat
 * and normal messages with content are stored and delivered, in order and
 * with a XEP-0203 delay stamp, when the owner is next available.
 *
 * The delivery of stored messages is a cursor (route_pump): a page at a
 * time, within the output's room in bytes.  A stored message's id is
 * recorded only once the link accepted it, and the row is deleted only
 * once the link wrote it to the socket (route_drained): a crash can
 * repeat a message but never lose one.  See doc/internals-flow.md. */
#ifndef CS_ROUTE_H
#define CS_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "cs_fed.h"
#include "cs_home.h"
#include "cs_out.h"
#include "cs_stanza.h"
#include "cs_xml.h"

struct offline;
struct roster;
struct route;

struct route_limits {
    int max_message_bytes; /* serialised size; larger: policy-violation */
    int offline_max_messages;
    int offline_max_bytes;
    int offline_expiry_s;
    struct fed_limits fed; /* who is local, whom nodes may vouch for */
};

struct route_stats {
    unsigned long routed;   /* delivered to an owner at once */
    unsigned long replies;  /* owner -> contact */
    unsigned long stored;   /* kept offline */
    unsigned long flushed;  /* stored ones delivered */
    unsigned long expired;  /* stored ones dropped after offline_expiry_s */
    unsigned long mirrored; /* passed on along the federation mirror path */
};

/* Commits the open transaction for routing (conversation memory, the
 * deletion of delivered messages): true when committed; on failure it is
 * rolled back.  The node registers its one commit path here, which times
 * and counts every commit; without one, routing commits by itself. */
typedef bool route_commit_cb(void *ud, const char *what);

/* All pointers must outlive the route.  Caller frees with route_free(). */
struct route *route_new(const char *domain, struct home *home, struct roster *roster,
                        struct offline *offline, const struct route_limits *limits,
                        const struct out *out);
void route_free(struct route **route);
/* New limits while running (SIGHUP): the message size, the offline
 * store's caps and expiry are taken, fed is not.  Messages already
 * stored stay; the caps apply to the next one. */
void route_set_limits(struct route *route, const struct route_limits *limits);
void route_on_commit(struct route *route, route_commit_cb *cb, void *ud);
/* The wall clock for when a message was stored, its delay stamp and its
 * expiry (cs_util.h; borrowed; NULL: now_ms is the wall time). */
void route_use_clock(struct route *route, const struct cs_clock *clock);

/* An inbound <message/> whose 'to' is at our domain. */
void route_message(struct route *route, const struct stanza_in *msg);
/* The channel's owner can receive messages: queue its stored messages. */
void route_flush(struct route *route, const char *channel);
/* Writes stored messages while the output has room.  Returns true when
 * more are waiting for room. */
bool route_pump(struct route *route, int64_t now_ms);
/* Everything queued so far reached the socket: delete the stored
 * messages that were in it.  Runs its own transaction.  0 or CS_EDB (the
 * rows stay and may be delivered again). */
int route_drained(struct route *route);
/* The link dropped: stored messages sent but not yet drained stay stored
 * and go out again at the next flush. */
void route_link_lost(struct route *route);
/* Once a second: drops expired stored messages, persists conversation
 * memory.  Runs its own transaction. */
void route_tick(struct route *route, int64_t now_ms);
/* In-memory counts may differ from the database (a commit failed). */
void route_reload(struct route *route);

/* A domain answered (or failed to answer) whether it is a chanstat node:
 * messages held for it go on (fed_on_remote_known's callback). */
void route_remote_known(void *ud, const char *domain, bool is_node);

const struct route_stats *route_stats(const struct route *route);

#endif
