/* cs_route.h - messages through the home location (DESIGN section 4).
 *
 * A message to name@DOMAIN goes to the owner's best available resource,
 * from the sender's relay address (the sender's bare JID escaped per
 * XEP-0106 at DOMAIN); the owner's message to a relay address goes to the
 * unescaped JID from the channel's address.  With no owner resource
 * available, chat and normal messages with content are stored and
 * delivered, in order and with a XEP-0203 delay stamp, when the owner is
 * next available.  Stored messages are deleted only once the link has
 * handed them to the server (route_drained), so a crash can repeat a
 * message but never lose one. */
#ifndef CS_ROUTE_H
#define CS_ROUTE_H

#include <stdint.h>

#include "cs_home.h"
#include "cs_xml.h"

struct offline;
struct roster;
struct route;

struct route_limits {
    int max_message_bytes; /* serialised size; larger: policy-violation */
    int offline_max_messages;
    int offline_max_bytes;
    int offline_expiry_s;
};

struct route_stats {
    unsigned long routed;       /* delivered to an owner at once */
    unsigned long replies;      /* owner -> contact */
    unsigned long stored;       /* kept offline */
    unsigned long flushed;      /* stored ones delivered */
    unsigned long errors_sent;
};

/* All pointers must outlive the route.  Caller frees with route_free(). */
struct route *route_new(const char *domain, struct home *home, struct roster *roster,
                        struct offline *offline, const struct route_limits *limits,
                        const struct home_sink *sink);
void route_free(struct route **route);
/* Learns which channels have stored messages.  0 or CS_EDB. */
int route_load(struct route *route);

/* An inbound <message/> whose 'to' is at our domain. */
void route_message(struct route *route, const struct xml_node *msg, int64_t now);
/* The channel's owner can receive messages: deliver what is stored. */
void route_flush(struct route *route, const char *channel, int64_t now);
/* Everything queued so far reached the server: forget (delete) the stored
 * messages that were in it.  Runs its own transaction.  0 or CS_EDB. */
int route_drained(struct route *route);
/* The link dropped: stored messages sent but not yet drained stay stored
 * and go out again at the next flush. */
void route_link_lost(struct route *route);

const struct route_stats *route_stats(const struct route *route);

#endif
