/* cs_roster.h - channels, roster rows and the channels' internal state in
 * SQLite (tables channel, roster, channel_state, conversation).
 *
 * Prepared statements are kept per handle.  Writes happen inside a
 * transaction the caller groups (roster_tx_begin ... roster_tx_commit):
 * the daemon commits once per batch of inbound stanzas, before any
 * stanza that depends on the new state is written to the socket.
 *
 * Strings passed to a callback are borrowed for the duration of the call.
 * A callback may use other functions of the handle, but not the one that
 * called it (its statement is in use).  Every query reads one index in its
 * order (see the SQL in src/store/roster.c); the paged ones stop at their limit,
 * and a limit <= 0 passes nothing. */
#ifndef CS_ROSTER_H
#define CS_ROSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs_sub.h"

struct store;
struct roster;

enum channel_policy { POLICY_OPEN = 0, POLICY_APPROVE, POLICY_CLOSED };

/* Caller frees with roster_free(). NULL with err filled on failure. */
struct roster *roster_new(struct store *store, char *err, size_t errlen);
void roster_free(struct roster **roster);

/* Starts a write transaction unless one is open.  0 or CS_EDB. */
int roster_tx_begin(struct roster *roster);
/* Commits the open transaction, if any.  0 or CS_EDB (rolled back). */
int roster_tx_commit(struct roster *roster);
void roster_tx_rollback(struct roster *roster);

/* Row of (channel, jid): 0 and *row_r, or CS_ENOTFOUND with *row_r =
 * {SUB_NONE, false}, or CS_EDB. */
int roster_get(struct roster *roster, const char *channel, const char *jid, struct sub_row *row_r);
/* Writes the row; a row back at None with nothing else in it (no
 * approval, name or groups) is deleted.  0 or CS_EDB. */
int roster_put(struct roster *roster, const char *channel, const char *jid,
               const struct sub_row *row);

/* Pending inbound requests of channel, counted up to limit (enough to
 * enforce a cap, and bounded work: the partial index roster_pending).
 * 0 with *count_r, or CS_EDB with *count_r 0: a failure is never a count,
 * and a caller enforcing a cap refuses on CS_EDB (fails closed). */
int roster_pending_in(struct roster *roster, const char *channel, int limit, int *count_r);

typedef void roster_channel_cb(void *ud, const char *name, const char *owner,
                               enum channel_policy policy);
typedef void roster_item_cb(void *ud, const char *jid, const struct sub_row *row);
/* Calls cb for channel name if it exists.  0 (found), CS_ENOTFOUND or CS_EDB. */
int roster_find_channel(struct roster *roster, const char *name, roster_channel_cb *cb, void *ud);
/* Calls cb for every roster row of channel.  0 or CS_EDB. */
int roster_each_item(struct roster *roster, const char *channel, roster_item_cb *cb, void *ud);

/* Paging: a page passes up to limit rows to cb and stores in *n_r how
 * many it passed (also on failure); *n_r < limit means the end was
 * reached.  The next page starts after the last key cb saw; after NULL or
 * "" starts from the beginning.  after is copied: cb may overwrite it. */

/* Up to limit channels with an owner and name > after, in name order; for
 * the owner probes that are paced after a (re)connect.  0 or CS_EDB. */
int roster_owned_page(struct roster *roster, const char *after, int limit, roster_channel_cb *cb,
                      void *ud, int *n_r);
/* Channels owned by owner (a bare JID, compared as stored), in name
 * order, at most limit.  0 or CS_EDB. */
int roster_channels_of_owner(struct roster *roster, const char *owner, int limit,
                             roster_channel_cb *cb, void *ud);
/* Up to limit roster rows of channel with jid > after, in jid order
 * (streamed loading of very large rosters).  0 or CS_EDB; *n_r as above.
 * A row whose columns form no RFC 6121 state (the CHECKs forbid it) is
 * logged and skipped without counting against limit. */
int roster_items_page(struct roster *roster, const char *channel, const char *after, int limit,
                      roster_item_cb *cb, void *ud, int *n_r);

/* channel_state: internal, persisted across restarts.  last_seen is the
 * owner's last-seen time (unix seconds, 0 = never); shown says whether the
 * watchers were last shown an available status, so that a restart knows
 * which watchers may hold a stale 'available'. */

/* 0 with the values (0 and false when the channel has no row), or CS_EDB
 * with the same defaults. */
int roster_state_get(struct roster *roster, const char *channel, int64_t *last_seen_r,
                     bool *shown_r);
/* Inserts or replaces the row inside the caller's transaction, starting
 * one if none is open: nothing is durable before roster_tx_commit, and
 * roster_free rolls back.  0, or CS_EDB (also for a channel that does not
 * exist). */
int roster_state_put(struct roster *roster, const char *channel, int64_t last_seen, bool shown);

typedef void roster_name_cb(void *ud, const char *name);
/* Up to limit channel names with shown = 1 and name > after, in name
 * order.  0 or CS_EDB; *n_r as above. */
int roster_shown_page(struct roster *roster, const char *after, int limit, roster_name_cb *cb,
                      void *ud, int *n_r);

/* conversation: per owner, the channel a contact last wrote to; a reply
 * from the owner to the contact goes out from that channel. */

/* 0 with *channel_r a new string the caller frees with free(), or NULL
 * when there is none; *via_r likewise: the chanstat node the contact
 * wrote through (federation), or NULL.  CS_EDB with both NULL. */
int roster_conv_get(struct roster *roster, const char *owner, const char *contact, char **channel_r,
                    char **via_r);
/* Inserts or replaces (owner, contact) -> (channel, via) inside the
 * caller's transaction, starting one if none is open (as
 * roster_state_put).  0, CS_ENOTFOUND when channel does not exist (not
 * logged; only this statement is undone, the transaction stays open) or
 * CS_EDB. */
int roster_conv_put(struct roster *roster, const char *owner, const char *contact,
                    const char *channel, const char *via);

/* Stores the prepared form of a JID that was written by hand in another
 * spelling ("M\xc3\xbcller@a.test" for "m\xc3\xbcller@a.test",
 * jid_prep_bare()): the roster row (channel, stored), or with owner the
 * owner of channel when it is stored, inside the open transaction
 * (started if none is).  0; CS_ENOTFOUND when nothing was changed: no
 * such row (any more), or a roster row of the prepared JID exists already
 * (then the row as stored is a second spelling the caller ignores);
 * CS_EEXIST when a constraint refused it; CS_EDB. */
int roster_prepare_jid(struct roster *roster, const char *channel, const char *stored,
                       const char *prepared, bool owner);

/* Channel rows written by chanstatd itself (in-band registration, owner
 * commands), inside the open transaction (started if none is).  0,
 * CS_EEXIST (add: the name is taken, or a CHECK/trigger refused it) or
 * CS_EDB.  Delete of a missing channel is 0. */
int roster_channel_add(struct roster *roster, const char *name, const char *owner,
                       enum channel_policy policy);
int roster_channel_delete(struct roster *roster, const char *name);
int roster_channel_set_policy(struct roster *roster, const char *name, enum channel_policy policy);
/* channel.display_name: *display_r a new string (caller frees) or NULL
 * when unset.  0 or CS_EDB. */
int roster_display_name(struct roster *roster, const char *name, char **display_r);

/* What admins read, written by chanstatd at most once a second, inside
 * the open transaction (started if none is).  0 or CS_EDB. */
int roster_stats_put(struct roster *roster, const char *name, int64_t value, int64_t updated);
int roster_resources_clear(struct roster *roster, const char *channel);
int roster_resource_put(struct roster *roster, const char *channel, const char *resource,
                        const char *show, const char *status, int priority, int64_t since);

/* Federation (schema 5), inside the open transaction (started if none
 * is).  0 or CS_EDB. */
typedef void roster_pair_cb(void *ud, const char *a, const char *b, const char *c);
/* At a home: the lease of node on channel (unix seconds). */
int roster_lease_put(struct roster *roster, const char *channel, const char *node, int64_t expires);
int roster_lease_delete(struct roster *roster, const char *channel, const char *node);
/* Every lease: cb(ud, channel, node, expires as text).  O(leases): read
 * once at start, the home then keeps their deadlines on the monotonic
 * clock. */
int roster_leases_all(struct roster *roster, roster_pair_cb *cb, void *ud);
/* At a status service: local watcher jid of remote channel remote, in
 * state "pending" or "watching". */
int roster_remote_watcher_put(struct roster *roster, const char *remote, const char *jid,
                              const char *state);
int roster_remote_watcher_delete(struct roster *roster, const char *remote, const char *jid);
/* Every row: cb(ud, remote, jid, state), grouped by remote. */
int roster_remote_watchers(struct roster *roster, roster_pair_cb *cb, void *ud);

/* At a home: contact jid of channel was vouched for by node (its status
 * goes to the node).  roster_via_each: cb(ud, jid, node, NULL). */
int roster_via_put(struct roster *roster, const char *channel, const char *jid, const char *node);
int roster_via_delete(struct roster *roster, const char *channel, const char *jid);
int roster_via_each(struct roster *roster, const char *channel, roster_pair_cb *cb, void *ud);
/* The nodes holding a lease on channel: cb(ud, node, expires as text, NULL). */
int roster_leases_of(struct roster *roster, const char *channel, roster_pair_cb *cb, void *ud);

const char *channel_policy_name(enum channel_policy policy);
int channel_policy_parse(const char *s, enum channel_policy *policy_r);

#endif
