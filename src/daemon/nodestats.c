/* nodestats.c - the node's counters for admins and chanstatctl,
 * gathered from the node's modules and its link. */
#include "config.h"

#include <stdint.h>

#include "cs_config.h"
#include "cs_home.h"
#include "cs_link.h"
#include "cs_log.h"
#include "cs_node.h"
#include "cs_roster.h"
#include "cs_route.h"
#include "cs_stats.h"
#include "cs_store.h"
#include "cs_uroster.h"
#include "cs_util.h"
#include "node_priv.h"

/* The module counters, gathered. */
static void refresh(struct node *n)
{
    const struct home_stats *hs = home_stats(n->home);
    const struct route_stats *rs = route_stats(n->route);
    n->counters.v[STAT_SUBSCRIPTIONS] = hs->subscriptions;
    n->counters.v[STAT_DELIVERIES] = hs->deliveries;
    n->counters.v[STAT_MCAST_BATCHES] = home_multicast_stats(n->home)->batches;
    n->counters.v[STAT_MCAST_BATCHED] = home_multicast_stats(n->home)->batched;
    n->counters.v[STAT_MCAST_REFUSED] = home_multicast_stats(n->home)->refused;
    n->counters.v[STAT_MCAST_FALLBACKS] = home_multicast_stats(n->home)->fallbacks;
    n->counters.v[STAT_ROUTED] = rs->routed;
    n->counters.v[STAT_STORED] = rs->stored;
    n->counters.v[STAT_FLUSHED] = rs->flushed;
    n->counters.v[STAT_EDITS_APPLIED] = n->stats.edits_applied;
    n->counters.v[STAT_ROSTER_ITEMS_SET] = uroster_stats(n->uroster)->items_set;
    n->counters.v[STAT_ROSTER_ITEMS_REMOVED] = uroster_stats(n->uroster)->items_removed;
    n->counters.v[STAT_ROSTER_USERS_SYNCED] = uroster_stats(n->uroster)->users_synced;
    n->counters.v[STAT_BINDS_SKIPPED] = hs->binds_skipped;
    n->counters.v[STAT_RATE_LIMITED] = hs->rate_limited;
    n->counters.v[STAT_PRESENCE_REFUSED] = hs->bad_presence;
    n->counters.v[STAT_OWNER_PROBES] = hs->probes_sent;
    n->counters.v[STAT_REPLIES] = rs->replies;
    n->counters.v[STAT_EXPIRED] = rs->expired;
    n->counters.v[STAT_MIRRORED] = rs->mirrored;
    n->counters.v[STAT_DROPPED] = n->svc.stats.dropped;
    n->counters.v[STAT_REGISTRATIONS] = n->svc.stats.registrations;
    n->counters.v[STAT_COMMAND_STEPS] = n->svc.stats.commands;
}

const struct stats *node_counters(struct node *n)
{
    refresh(n);
    return &n->counters;
}

void node_note_link(struct node *n, const struct link_stats *ls)
{
    n->counters.v[STAT_LINK_RECONNECTS] = ls->connects > 0 ? ls->connects - 1 : 0;
    n->counters.v[STAT_LINK_BYTES_IN] = ls->bytes_in;
    n->counters.v[STAT_LINK_BYTES_OUT] = ls->bytes_out;
    n->counters.v[STAT_LINK_INPUT_REJECTS] = ls->input_rejects;
}
