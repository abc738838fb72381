/* cs_homestate.h - the home's state and the channel core around it.
 *
 * The home is split in three floors, each calling only the ones below:
 * the channel core (this floor: the cache of channels in channel.c, what
 * the home says in tell.c, owner binding in bind.c, fan-out of status in
 * fanout.c, queries to channels in chaniq.c), federation
 * (cs_federation.h) and the entry points (cs_home.h).  struct home is
 * theirs alone; the rest of the program sees cs_home.h. */
#ifndef CS_HOMESTATE_H
#define CS_HOMESTATE_H

#include "cs_channel.h"
#include "cs_fed.h"
#include "cs_jid.h"
#include "cs_out.h"
#include "cs_rate.h"
#include "cs_roster.h"
#include "cs_stanza.h"
#include "cs_util.h"
#include "cs_xml.h"

struct home;
struct iqwait;
struct privileges;
struct lease_due;
struct pep;
struct mcast;

struct home_limits {
    int sub_burst;         /* subscription stanzas one sender may send at once */
    int sub_per_minute;    /* ... and per minute after that */
    int dom_burst;         /* the same for all senders of one domain; 0: no limit */
    int dom_per_minute;    /* ... and per minute after that */
    int node_burst;        /* new node subscriptions (leases), all nodes; 0: no limit */
    int node_per_minute;   /* ... and per minute after that */
    int max_pending;       /* pending inbound requests per channel */
    int64_t retry_ms;      /* owner binding retried this long after an error */
    int64_t bind_delay_ms; /* binding starts this long after online: a server's
                              grant (XEP-0356) comes first */
    struct fed_limits fed; /* federation timers (cs_fed.h) */
};

struct home_stats {
    unsigned long long deliveries; /* presence stanzas fanned out to watchers */
    unsigned long rate_limited;    /* subscription stanzas dropped by the rate limit */
    unsigned long bad_presence;    /* presence answered with an error or dropped as invalid */
    unsigned long probes_sent;     /* owner probes and binding requests */
    unsigned long subscriptions;   /* subscription requests handled */
    unsigned long binds_skipped;   /* owners bound by the presence permission instead */
};

typedef void home_deliverable_cb(void *ud, const char *name);
/* contact unsubscribed from channel name (an inbound unsubscribe from the
 * contact): told so the roster sync stops managing that item. */
typedef void home_unsubscribed_cb(void *ud, const char *name, const char *contact);
typedef void home_remote_known_cb(void *ud, const char *domain, bool is_node);

struct home {
    const char *domain;
    struct roster *roster;
    struct home_limits limits;
    const struct out *out;
    struct chancache cache;
    struct rate_limiter rate;
    struct rate_limiter domain_rate; /* keyed by the sender's domain */
    struct rate_limiter node_rate;   /* new node subscriptions: one bucket, key "" */
    struct home_stats stats;
    const struct cs_clock *clock; /* wall clock for stored times (cs_util.h); NULL: now_ms */
    /* homefed.c: leases granted to nodes, by monotonic deadline. */
    struct hash leases;    /* "channel\nnode" -> struct lease * */
    struct lease_due *due; /* min-heap of deadlines as set (stale ones skipped) */
    size_t ndue, capdue;
    bool leases_loaded;
    unsigned online_epoch; /* counts link (re)connects */
    struct strbuf scratch; /* one fan-out stanza */
    home_deliverable_cb *deliverable;
    void *deliverable_ud;

    /* fanout.c: channels whose watchers are owed their current status. */
    struct channel *fan_head, *fan_tail;
    /* fanout.c: the id of the last fan-out stanza (each has its own),
     * and the multicast batch being built: its stanza and recipients
     * (borrowed from the channel's watchers for the call). */
    unsigned long long fan_seq;
    struct strbuf batch_sb;
    const char **batch_jids;
    unsigned batch_n, batch_cap;
    /* mcast.c: the server's multicast service (XEP-0033); NULL: one
     * stanza per watcher always (home_use_multicast). */
    struct mcast *mcast;
    /* fanout.c: the resync cursor: loaded channels by index, then the
     * channels the database says were shown available. */
    bool resync_active;
    size_t resync_index;
    char *resync_after; /* name cursor of the database phase, NULL = loaded phase */
    /* bind.c: the owner binding cursor after a (re)connect. */
    bool bind_active;
    char *bind_after;
    /* bind.c: channels whose binding is retried after an error. */
    struct channel *retry_head;
    /* fed.c: the status service's remote channels, and what domains said
     * to "are you a chanstat node?". */
    struct fed_limits fed;
    struct channel *fed_head;
    struct hash fed_disco;  /* domain -> struct disco * */
    struct iqwait *iqwait;  /* borrowed: where our disco#info await answers */
    int64_t fed_next_check; /* ms */
    home_remote_known_cb *remote_known;
    void *remote_known_ud;
    /* A domain answered "chanstat node or not" (set by fed.c, called by
     * feddisco.c): the channels waiting for it go on. */
    void (*disco_done)(struct home *h, const char *domain, bool is_node, int64_t now_ms);
    /* A cluster's front (fedcluster.c): its homes, and where a channel
     * lives now (a port the front registers at wiring time). */
    const struct config_list *cluster_homes;
    const char *(*place)(void *ud, const char *channel);
    void *place_ud;
    /* XEP-0356: grants, and the roster sync told of unsubscriptions. */
    const struct privileges *priv;
    home_unsubscribed_cb *unsubscribed;
    void *unsubscribed_ud;
    int64_t bind_at; /* ms: owner binding starts (0: not waiting) */
    /* props/pep.c: channel properties to +notify resources and property
     * subscribers; NULL until home_use_props(). */
    struct pep *pep;
};

/* tell.c */
void home_send_presence(struct home *h, const char *from, const char *to, const char *type,
                        const char *status_text);
/* c's current status as a presence from its address (no 'to'), with the
 * XEP-0153 avatar hash when available; caller frees. */
struct xml_node *home_channel_presence(struct home *h, struct channel *c);
void home_send_status_to(struct home *h, struct channel *c, const char *to);
void home_reply_error(struct home *h, const struct stanza_in *st, const char *type,
                      const char *cond);
/* Presence from c to contact, redirected for vouched contacts. */
void home_tell(struct home *h, struct channel *c, const char *contact, const char *type);
void home_tell_status(struct home *h, struct channel *c, const char *contact);
/* Applies ev to (channel, contact): stores the row, keeps the watchers in
 * step.  c may be NULL for a channel not loaded.  Returns the actions, or
 * -1 when storing failed. */
int home_change(struct home *h, const char *channel, struct channel *c, const char *contact,
                struct sub_row *row, enum sub_event ev);

/* Are owner's presences given to us by their server's grant (no
 * binding needed)? */
bool home_owner_privileged(const struct home *h, const char *owner);

/* fanout.c: c's status changed (or its watchers must be told again). */
void fanout_queue(struct home *h, struct channel *c, int64_t now_ms);
bool fanout_pump(struct home *h, int64_t now_ms);
void fanout_stop(struct home *h);
/* c is being freed or the cache forgotten: take it off the queue. */
void fanout_forget_all(struct home *h);
void fanout_unqueue(struct home *h, struct channel *c);

/* bind.c */
void bind_start(struct home *h);
bool bind_pump(struct home *h, int64_t now_ms);
void bind_stop(struct home *h);
/* Binds one channel's owner now: probe when approved, else subscribe. */
void bind_channel(struct home *h, const char *name, const char *owner, struct channel *c);
void bind_retry_later(struct home *h, struct channel *c, int64_t now_ms);
void bind_tick(struct home *h, int64_t now_ms);
void bind_forget_all(struct home *h);
void bind_unqueue(struct home *h, struct channel *c);

/* chaniq.c */
/* An inbound iq get/set to a channel JID.  Returns false when the home
 * serves no such query (the caller answers service-unavailable). */
bool home_iq(struct home *home, const struct stanza_in *iq);
/* fanout.c */
/* Starts sending every watcher that may hold a stale view its channel's
 * current status (a while after online, when probe answers are in). */
void home_resync(struct home *home);

#endif
