/* cs_home.h - the home of channels: subscriptions, owner binding, status
 * and its fan-out to watchers (DESIGN sections 1 and 3).
 *
 * The home keeps every channel of the database in memory (owner, policy,
 * owner resources, watchers) and the roster rows in SQLite.  It is driven
 * by inbound stanzas and link events and writes its output through a
 * sink; it never touches a socket.  Every state change is written inside
 * the roster's open transaction: the caller commits it before the output
 * reaches the socket (see chanstatd.c). */
#ifndef CS_HOME_H
#define CS_HOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs_xml.h"

struct roster;
struct home;

struct home_sink {
    /* One stanza; the tree stays the home's. */
    void (*send)(void *ud, const struct xml_node *stanza);
    /* Pre-serialised stanza(s): the fan-out path. */
    void (*send_raw)(void *ud, const char *xml, size_t len);
    void *ud;
};

struct home_limits {
    int sub_burst;      /* subscription stanzas one sender may send at once */
    int sub_per_minute; /* ... and per minute after that */
    int max_pending;    /* pending inbound requests per channel */
};

struct home_stats {
    unsigned long long deliveries;  /* presence stanzas fanned out to watchers */
    unsigned long rate_limited;     /* subscription stanzas dropped by the rate limit */
    unsigned long bad_presence;     /* presence answered with an error or dropped as invalid */
};

/* domain, roster and sink must outlive the home.  Caller frees with
 * home_free(). */
struct home *home_new(const char *domain, struct roster *roster, const struct home_limits *limits,
                      const struct home_sink *sink);
void home_free(struct home **home);

/* Loads every channel and its roster.  0 or CS_EDB. */
int home_load(struct home *home);

/* An inbound <presence/> whose 'to' is at our domain. */
void home_presence(struct home *home, const struct xml_node *presence, int64_t now);
/* An inbound iq get/set to a channel JID.  Returns false when the home
 * serves no such query (the caller answers service-unavailable). */
bool home_iq(struct home *home, const struct xml_node *iq, int64_t now);

/* The link came up: bind owners (subscribe, or probe those who approved). */
void home_online(struct home *home, int64_t now);
/* The link went down: owner resources are unknown until re-probed. */
void home_offline(struct home *home, int64_t now);
/* Sends every watcher its channel's current status (after a reconnect,
 * once probe answers had time to arrive). */
void home_resync(struct home *home);

/* Is name a channel (loaded, or found in the database)? */
bool home_has_channel(struct home *home, const char *name);

const struct home_stats *home_stats(const struct home *home);

/* Where a message to channel name goes.  Returns CS_ENOTFOUND for no such
 * channel; else 0 with *owner_r the owner's bare JID (NULL: no owner),
 * *resource_r the owner resource to deliver to (NULL: none available),
 * *jid_r the channel's address.  All borrowed from the home. */
int home_message_target(struct home *home, const char *name, const char **owner_r,
                        const char **resource_r, const char **jid_r);
/* The address of a channel owned by owner that a reply to contact should
 * come from: the channel contact last wrote to, else the owner's first
 * channel by name.  NULL when owner owns none.  Borrowed. */
const char *home_reply_channel(struct home *home, const char *owner, const char *contact);
/* Records that contact wrote to channel name (for home_reply_channel). */
void home_note_conversation(struct home *home, const char *name, const char *contact);

/* Called when a channel's owner gains a resource that can receive
 * messages (to flush stored messages). */
typedef void home_deliverable_cb(void *ud, const char *name);
void home_on_deliverable(struct home *home, home_deliverable_cb *cb, void *ud);

#endif
