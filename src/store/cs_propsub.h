/* cs_propsub.h - property subscriptions as stored (schema version 10,
 * table prop_subscription): who gets the events of which of a channel's
 * PEP nodes until when.  Times are unix seconds (wall clock: they are
 * stored and shown).  Rows are written only by chanstatd; whoever reads
 * them checks the JID before using it (an admin may edit the table). */
#ifndef CS_PROPSUB_H
#define CS_PROPSUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct propsub;

/* Caller frees with propsub_free().  NULL with err filled on failure. */
struct propsub *propsub_new(struct store *store, char *err, size_t errlen);
void propsub_free(struct propsub **ps);

/* Creates or renews jid's subscription to node of channel.  0 or CS_EDB. */
int propsub_put(struct propsub *ps, const char *channel, const char *node, const char *jid,
                int64_t expires);
/* Ends it: 0, CS_ENOTFOUND (none that has not expired at now) or CS_EDB. */
int propsub_delete(struct propsub *ps, const char *channel, const char *node, const char *jid,
                   int64_t now);

typedef void propsub_cb(void *ud, const char *node, const char *jid, int64_t expires);
/* The subscriptions to channel that have not expired at now, of node
 * (NULL: every node), in (node, jid) order.  O(rows of the channel).
 * 0 or CS_EDB. */
int propsub_each(struct propsub *ps, const char *channel, const char *node, int64_t now,
                 propsub_cb *cb, void *ud);
/* Has channel a subscription that has not expired at now?  0 or CS_EDB. */
int propsub_any(struct propsub *ps, const char *channel, int64_t now, bool *any_r);
/* How many rows channel has besides jid's to node, expired ones included
 * (they count until purged).  0 or CS_EDB. */
int propsub_count(struct propsub *ps, const char *channel, const char *node, const char *jid,
                  long long *n_r);
/* Deletes up to limit rows that expired at or before now, oldest first;
 * *n_r: how many.  0 or CS_EDB. */
int propsub_purge(struct propsub *ps, int64_t now, int limit, int *n_r);

#endif
