/* cs_roster.h - channels and roster rows in SQLite.
 *
 * Prepared statements are kept per handle.  Writes happen inside a
 * transaction the caller groups (roster_tx_begin ... roster_tx_commit):
 * the daemon commits once per batch of inbound stanzas, before any
 * stanza that depends on the new state is written to the socket. */
#ifndef CS_ROSTER_H
#define CS_ROSTER_H

#include <stdbool.h>

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

/* Number of contacts with a pending inbound request to channel. */
int roster_count_pending_in(struct roster *roster, const char *channel);

typedef void roster_channel_cb(void *ud, const char *name, const char *owner,
                               enum channel_policy policy);
typedef void roster_item_cb(void *ud, const char *jid, const struct sub_row *row);
/* Calls cb for every channel.  0 or CS_EDB. */
int roster_each_channel(struct roster *roster, roster_channel_cb *cb, void *ud);
/* Calls cb for channel name if it exists.  0 (found), CS_ENOTFOUND or CS_EDB. */
int roster_find_channel(struct roster *roster, const char *name, roster_channel_cb *cb, void *ud);
/* Calls cb for every roster row of channel.  0 or CS_EDB. */
int roster_each_item(struct roster *roster, const char *channel, roster_item_cb *cb, void *ud);

const char *channel_policy_name(enum channel_policy policy);
int channel_policy_parse(const char *s, enum channel_policy *policy_r);

#endif
