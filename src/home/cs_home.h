/* cs_home.h - the home of channels: subscriptions, owner binding, status
 * and its fan-out to watchers (doc/internals-subscriptions.md).
 *
 * The home is driven by inbound stanzas, link events and the time the
 * daemon passes in; it reads no clock and touches no socket.  Its output
 * goes through one struct out (cs_out.h).  Answers to an inbound stanza
 * are written at once; everything that can grow with the data (fan-out
 * of a status change to its watchers, the resync after a reconnect, the
 * owner probes after a (re)connect) is a cursor that home_pump() advances
 * while the output has room (doc/internals-flow.md).
 *
 * Every state change is written inside the roster's open transaction:
 * the caller commits it before the output reaches the socket.
 *
 * The code is split by job: home.c (presence and subscriptions),
 * channel.c (the channel cache), fanout.c (status to watchers, resync),
 * bind.c (owner binding), chaniq.c (queries to channels), rate.c (the
 * subscription flood limit). */
#ifndef CS_HOME_H
#define CS_HOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs_homestate.h"
#include "cs_mcast.h"
#include "cs_out.h"
#include "cs_pep.h"
#include "cs_stanza.h"
#include "cs_xml.h"

/* domain, roster and out must outlive the home.  Caller frees with
 * home_free().  Nothing is loaded: channels come in on first use. */
struct home *home_new(const char *domain, struct roster *roster, const struct home_limits *limits,
                      const struct out *out);
void home_free(struct home **home);
/* New subscription limits while running (SIGHUP): sub_burst,
 * sub_per_minute, dom_burst, dom_per_minute, node_burst, node_per_minute
 * and max_pending are taken,
 * the rest of limits is not.  Senders' buckets refill at the new rate, up to the new burst. */
void home_set_limits(struct home *home, const struct home_limits *limits);
/* The wall clock for stored and shown times: last seen, a lease's end as
 * stored (cs_util.h; borrowed; NULL: now_ms is the wall time too).
 * Deadlines use now_ms, which is monotonic. */
void home_use_clock(struct home *home, const struct cs_clock *clock);
/* Channel properties from now on (all borrowed, for the home's life):
 * the avatar hash in presence, PEP events and property subscriptions
 * (cs_pep.h).  Call after fed_use_iqwait(): capabilities are asked
 * through the same registry. */
void home_use_props(struct home *home, struct chanprops *props, struct propsub *subs,
                    const struct pep_limits *limits);
/* Fan-out in batches through the server's multicast service (XEP-0033,
 * cs_mcast.h) from the next connect on.  Call after fed_use_iqwait():
 * discovery asks through the same registry.  Without it, one stanza per
 * watcher. */
void home_use_multicast(struct home *home, const struct mcast_opts *opts);
const struct mcast_stats *home_multicast_stats(const struct home *home);
/* The PEP service, or NULL before home_use_props(). */
struct pep *home_pep(struct home *home);
/* Channel name, from the cache or loaded; NULL when there is none.
 * Borrowed until the channel is removed. */
struct channel *home_find_channel(struct home *home, const char *name);
/* Takes one token of sender's subscription rate limit (the one presence
 * subscriptions use); false, counted as rate-limited, when none is left. */
bool home_subscription_allowed(struct home *home, const char *sender, int64_t now_ms);

/* An inbound <presence/> whose 'to' is at our domain, parsed once at
 * dispatch. */
void home_presence(struct home *home, const struct stanza_in *presence);
/* The link came up: start binding owners (a paced cursor over the
 * channels with an owner: subscribe, or probe those who approved). */
void home_online(struct home *home, int64_t now_ms);
/* The link went down: owner resources are unknown until re-probed;
 * cursors stop (they restart from online/resync). */
void home_offline(struct home *home, int64_t now_ms);

/* Advances the cursors while the output has room.  Returns true when
 * they still have output to produce (call again once drained). */
bool home_pump(struct home *home, int64_t now_ms);
/* Timers: owner binding retries that are due.  Call about once a second. */
void home_tick(struct home *home, int64_t now_ms);
/* State in memory may differ from the database (a commit failed): forget
 * the cache; owners are probed again and watchers resynced. */
void home_reload(struct home *home, int64_t now_ms);

const struct home_stats *home_stats(const struct home *home);

/* Where a message to channel name goes.  Returns CS_ENOTFOUND for no such
 * channel; else 0 with *owner_r the owner's bare JID (NULL: no owner),
 * *resource_r the owner resource to deliver to (NULL: none available),
 * *jid_r the channel's address.  All borrowed from the home, valid until
 * the next call into it. */
int home_message_target(struct home *home, const char *name, const char **owner_r,
                        const char **resource_r, const char **jid_r);

/* ---- Administration (homeadmin.c) ---- */

struct change;
/* Applies one entry of the change log (an edit made by another
 * connection): compares the database with what the home holds and sends
 * what RFC 6121 requires (doc/schema.md, "What an edit triggers"). */
void home_apply_change(struct home *home, const struct change *change, int64_t now_ms);

/* Writes the owner resources of channels whose status changed to
 * channel_resource (chanstatctl status), in the open transaction.  Call
 * about once a second.  0 or CS_EDB. */
int home_write_resources(struct home *home);

/* A channel's roster rows that matter to its owner: watchers and pending
 * requests, in no particular order.  0, CS_ENOTFOUND or CS_EDB. */
typedef void home_entry_cb(void *ud, const char *jid, const char *what);
int home_list_entries(struct home *home, const char *name, home_entry_cb *cb, void *ud);
/* The owner (or an admin) answers contact's pending request: approve or
 * deny.  0, CS_ENOTFOUND (no such channel or no pending request) or CS_EDB. */
int home_answer_request(struct home *home, const char *name, const char *contact, bool approve,
                        int64_t now_ms);
/* The owner (or an admin) revokes contact, a watcher of channel name: it
 * is told `unsubscribed` and sees the channel unavailable, as if the owner
 * had denied it at the relay address; a later request is put to the
 * owner again.  0, CS_ENOTFOUND (no such channel, or contact watches
 * none) or CS_EDB. */
int home_revoke(struct home *home, const char *name, const char *contact);
/* Sets the policy (applies to the next request).  0, CS_ENOTFOUND or CS_EDB. */
int home_set_policy(struct home *home, const char *name, const char *policy, int64_t now_ms);
/* Creates channel name owned by owner (open policy) and starts binding
 * the owner at once.  0, CS_EEXIST (taken), CS_EINVAL (not a valid
 * channel name) or CS_EDB. */
int home_create_channel(struct home *home, const char *name, const char *owner, int64_t now_ms);
/* Removes a channel: its watchers get unsubscribed and unavailable, the
 * owner unsubscribe and unsubscribed.  0, CS_ENOTFOUND or CS_EDB. */
int home_remove_channel(struct home *home, const char *name, int64_t now_ms);
/* Channel facts for queries: 0 and borrowed pointers (valid until the
 * next call into the home), or CS_ENOTFOUND. */
int home_channel_info(struct home *home, const char *name, const char **owner_r,
                      const char **policy_r, const char **display_name_r);
/* Names of the channels owned by owner, in name order.  0 or CS_EDB. */
typedef void home_name_cb(void *ud, const char *name);
int home_channels_of(struct home *home, const char *owner, home_name_cb *cb, void *ud);

/* Called when a channel's owner gains a resource that can receive
 * messages (to flush stored messages). */
/* What servers granted (XEP-0356; borrowed, must outlive the home): the
 * owners of a domain whose server grants presence are not bound by a
 * subscription; their presence comes to the component's domain. */
struct privileges;
void home_set_privileges(struct home *home, const struct privileges *priv);
/* See home_limits.bind_delay_ms. */
void home_set_bind_delay(struct home *home, int64_t ms);
/* Is domain one whose users this node serves (cs_fed.h fed_serves)? */
bool home_serves(const struct home *home, const char *domain);
/* contact unsubscribed from channel name (an inbound unsubscribe from the
 * contact): told so the roster sync stops managing that item. */
void home_on_unsubscribed(struct home *home, home_unsubscribed_cb *cb, void *ud);
/* channel name's current status to contact, if a watcher and the
 * channel is available (the channel was just added to the contact's
 * roster: a status sent before may have been dropped by a client that
 * did not list the channel yet). */
void home_status_to_watcher(struct home *home, const char *name, const char *contact);
/* contact removed channel name from their own roster (seen by reading
 * it): the same as their unsubscribe. */
void home_user_removed(struct home *home, const char *name, const char *contact, int64_t now_ms);

void home_on_deliverable(struct home *home, home_deliverable_cb *cb, void *ud);

#endif
