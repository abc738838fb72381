/* node_priv.h - the node itself, shared by node.c and nodestats.c. */
#ifndef CS_NODE_PRIV_H
#define CS_NODE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs_home.h"
#include "cs_node.h"
#include "cs_out.h"
#include "cs_service.h"
#include "cs_stats.h"

/* The output of one inbound stanza that changed state, and the error its
 * sender gets instead should the batch's commit fail. */
struct taken {
    size_t from, to;
    char *error; /* serialised; "" when the stanza is not to be answered */
};

/* What a failed commit takes back besides the transaction. */
enum take_back {
    /* The batch's stanzas that changed state: their answers become the
     * errors noted in n->taken.  State is reloaded. */
    TAKE_BACK_ANSWERS,
    /* The output written since the mark given.  State is reloaded. */
    TAKE_BACK_OUTPUT,
    /* State only: the output went with the link.  State is reloaded. */
    TAKE_BACK_STATE,
    /* Nothing: what was written is derived from memory and written again
     * later, or the node is going away. */
    TAKE_BACK_NOTHING,
};

struct node {
    const struct config *cfg;
    const struct cs_clock *clock; /* node_use_clock(); NULL: now_ms is wall time */
    struct store *store;
    const struct out *out;  /* what the modules write to: counts, then sink */
    const struct out *sink; /* the daemon's (the link) */
    struct out counting;
    struct stats counters;
    int64_t (*clock_us)(void);
    int64_t stats_written; /* ms */
    bool stats_failing;    /* logged once until they are written again */
    struct roster *roster;
    struct offline *offline;
    struct changes *changes;
    struct directory *directory; /* NULL when [service] list_channels is off */
    struct chanprops *props;
    struct propsub *propsub;
    bool edits_pending; /* another connection committed: read the change log */
    bool pump_again;    /* producers stopped for their work limit, with room left */
    struct home *home;
    struct route *route;
    struct uroster *uroster; /* users' own rosters (XEP-0356) */
    struct iqwait *iqwait;   /* our own iqs awaiting answers (roster sync, discovery) */
    char *multicast_domain;  /* the users' domain of [fanout], normalised; NULL: none */
    struct service svc;
    /* [cluster] (doc/cluster.md): a front's placement and relay, or a
     * home's way through its front; both NULL when standalone. */
    struct placement *placement;
    struct front *front;
    struct homeside *homeside;
    struct taken *taken;
    size_t ntaken, captaken;
    /* A write of this batch failed (locked past busy_timeout_ms, disk
     * full, read-only): the batch is rolled back at its end as if its
     * commit had failed. */
    bool batch_broken;
    /* A reload after failed writes: due at reload_at (ms, 0 = none); the
     * delay before the next doubles while writes keep failing (a reload
     * probes every owner, whose answers would fail again). */
    int64_t reload_at, reload_backoff;
    int64_t resync_at; /* ms, 0 = none due */
    struct node_stats stats;
};

#endif
