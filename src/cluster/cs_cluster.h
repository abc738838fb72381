/* cs_cluster.h - one domain served by a front and several homes
 * (doc/cluster.md).
 *
 * front.c: the front is the domain's only public address.  A user's
 * subscription, unsubscription and probe at a channel are the front's
 * own business (the status service of fed.c: one upstream subscription
 * per channel that has watchers, at the home the placement names);
 * everything else a user sends a channel or a relay address goes on to
 * the channel's home from the user's relay address at the front, and
 * what a home sends a user's relay address at the front goes on to the
 * user from the front's address of the same name.  The front pings its
 * homes and answers for a home that stopped answering.
 *
 * homeside.c: a home speaks to users only through its front.  Every
 * stanza it writes to an address outside the front's and its own
 * domain goes to that address's relay address at the front instead (an
 * output port wrapping the link's, so no floor of the home knows), and
 * a stanza from a relay address at the front is read as from the user
 * it names.  Anybody else but the front is refused. */
#ifndef CS_CLUSTER_H
#define CS_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "cs_config.h"
#include "cs_home.h"
#include "cs_iqwait.h"
#include "cs_out.h"
#include "cs_placement.h"
#include "cs_roster.h"
#include "cs_stanza.h"

/* ---- front.c ---- */
struct front;
struct front_stats {
    unsigned long to_homes;   /* stanzas passed on to a home */
    unsigned long to_users;   /* stanzas passed on to a user */
    unsigned long home_down;  /* answered for a home that is down */
    unsigned long home_drops; /* from a home to nobody we know: dropped */
};
/* Everything borrowed must outlive the front; homes are the config's. */
struct front *front_new(const char *domain, const struct config_list *homes, int64_t check_ms,
                        struct home *home, struct roster *roster, struct placement *place,
                        const struct out *out, struct iqwait *iqwait);
void front_free(struct front **f);
/* A stanza in, before dispatch: true when the front took it (passed it
 * on, answered it or dropped it); false for the front's own service
 * (its bare domain, the status service's traffic with homes). */
bool front_stanza(struct front *f, const struct stanza_in *in);
/* Pings due homes; a home that does not answer within check_ms is down:
 * its channels' watchers see unavailable until it answers again.  Then
 * follows the edits of the placement made by other connections
 * (placement_log), in the roster's open transaction. */
void front_tick(struct front *f, int64_t now_ms);
/* The link is up: every home hears that the front is back (it asks its
 * owners again), and is pinged at the next tick. */
void front_online(struct front *f, int64_t now_ms);
void front_offline(struct front *f);
const struct front_stats *front_stats(const struct front *f);
/* Is home down (by its pings)? */
bool front_home_down(const struct front *f, const char *home);

/* ---- homeside.c ---- */
struct homeside;
/* sink (borrowed) is the link's output; the home writes to
 * homeside_out(). */
struct homeside *homeside_new(const char *domain, const char *front, const struct out *sink);
void homeside_free(struct homeside **hs);
const struct out *homeside_out(struct homeside *hs);
enum homeside_verdict {
    HOMESIDE_AS_IS,     /* dispatch it as it is */
    HOMESIDE_REWRITTEN, /* dispatch *xml_r (caller frees): from the user a relay address named */
    HOMESIDE_REFUSED,   /* not from the front: answered (errors never) and dropped */
};
enum homeside_verdict homeside_inbound(struct homeside *hs, const struct stanza_in *in,
                                       struct xml_node **xml_r);

#endif
