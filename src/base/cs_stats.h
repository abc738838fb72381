/* cs_stats.h - the node's counters, for admins.
 *
 * Kept in memory by the modules that count (no locking: one thread),
 * written to the `stats` table at most once a second (node_tick) for
 * chanstatctl, read by the admins' ad-hoc command, logged on SIGUSR1.
 * Names are stable: scripts read them. */
#ifndef CS_STATS_H
#define CS_STATS_H

#include <stddef.h>
#include <stdint.h>

enum stat_id {
    STAT_IN_MESSAGE,
    STAT_IN_PRESENCE,
    STAT_IN_IQ,
    STAT_OUT_MESSAGE,
    STAT_OUT_PRESENCE,
    STAT_OUT_IQ,
    STAT_SUBSCRIPTIONS,   /* subscription requests handled */
    STAT_DELIVERIES,      /* fan-out deliveries to watchers */
    STAT_ROUTED,          /* messages delivered to an owner at once */
    STAT_STORED,          /* messages stored offline */
    STAT_FLUSHED,         /* stored messages delivered */
    STAT_ERRORS_SENT,     /* stanza errors sent, all conditions */
    STAT_LINK_RECONNECTS, /* successful handshakes after the first */
    STAT_COMMITS,
    STAT_COMMIT_US_TOTAL, /* microseconds spent in commits */
    STAT_COMMIT_US_MAX,
    STAT_COMMIT_FAILURES,
    STAT_EDITS_APPLIED,
    STAT_ROSTER_ITEMS_SET,     /* items written to users' rosters (XEP-0356) */
    STAT_ROSTER_ITEMS_REMOVED, /* items removed from users' rosters */
    STAT_ROSTER_USERS_SYNCED,  /* users whose roster was brought in step */
    STAT_BINDS_SKIPPED,        /* owners bound by the presence permission */
    STAT_RATE_LIMITED,         /* subscription stanzas dropped by the flood limit */
    STAT_PRESENCE_REFUSED,     /* presence answered with an error or dropped as invalid */
    STAT_OWNER_PROBES,         /* owner probes and binding requests sent */
    STAT_REPLIES,              /* owner replies routed to a contact */
    STAT_EXPIRED,              /* stored messages dropped after offline expiry */
    STAT_MIRRORED,             /* messages passed on along the federation mirror path */
    STAT_DROPPED,              /* inbound stanzas dropped unanswered (as the RFCs say) */
    STAT_REGISTRATIONS,        /* channels created by in-band registration */
    STAT_COMMAND_STEPS,        /* ad-hoc command steps answered */
    STAT_LINK_BYTES_IN,        /* bytes read from the component link */
    STAT_LINK_BYTES_OUT,       /* bytes written to it */
    STAT_LINK_INPUT_REJECTS,   /* stream restarts for bad input */
    STAT_MCAST_BATCHES,        /* fan-out batches sent to the multicast service (XEP-0033) */
    STAT_MCAST_BATCHED,        /* deliveries asked of it in those batches */
    STAT_MCAST_REFUSED,        /* batches it refused */
    STAT_MCAST_FALLBACKS,      /* deliveries then sent one stanza each */
    STAT_COUNT
};

/* Errors by condition: the RFC 6120 8.3.3 conditions chanstat sends. */
#define STATS_MAX_CONDITIONS 24

struct stats {
    uint64_t v[STAT_COUNT];
    struct {
        const char *name; /* static: a condition name from the table in stats.c */
        uint64_t count;
    } errors[STATS_MAX_CONDITIONS];
};

/* Counts an outbound stanza by its serialised text (kind; for errors,
 * the condition).  s may be NULL. */
void stats_count_out(struct stats *s, const char *xml, size_t len);
/* Every counter as (name, value): the fixed ones, then
 * "errors.CONDITION" for each condition sent so far. */
typedef void stats_cb(void *ud, const char *name, uint64_t value);
void stats_each(const struct stats *s, stats_cb *cb, void *ud);

#endif
