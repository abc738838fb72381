/* cs_offline.h - messages stored for a channel whose owner is offline.
 *
 * Rows live in the `offline` table (schema version 2), in arrival order.
 * Writes run inside the caller's open transaction (roster_tx_begin). */
#ifndef CS_OFFLINE_H
#define CS_OFFLINE_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct offline;

/* Caller frees with offline_free().  NULL with err filled on failure. */
struct offline *offline_new(struct store *store, char *err, size_t errlen);
void offline_free(struct offline **off);

/* Stores one message (the serialised stanza as received).  0 or CS_EDB. */
int offline_put(struct offline *off, const char *channel, const char *sender, const char *stanza,
                size_t bytes, int64_t now);
/* Messages and bytes stored for channel.  0 or CS_EDB. */
int offline_usage(struct offline *off, const char *channel, int *count_r, int64_t *bytes_r);

typedef void offline_cb(void *ud, int64_t id, const char *sender, const char *stanza,
                        int64_t stored);
/* Calls cb for up to limit stored messages of channel with id > after,
 * oldest first.  0 or CS_EDB. */
int offline_each(struct offline *off, const char *channel, int64_t after, int limit, offline_cb *cb,
                 void *ud);
/* The same, for a paced flush: also stops before the stanza bytes passed
 * to cb would exceed max_bytes, but always passes at least one message, so
 * one bigger than max_bytes still goes (alone).  *n_r is how many were
 * passed to cb (also on failure); since max_bytes may end a page early,
 * the end is a page that passes nothing.  limit <= 0 passes nothing.
 * The strings passed to cb are borrowed for the duration of the call; cb
 * must not call offline_each or offline_each_bytes (same statement).
 * 0 or CS_EDB. */
int offline_each_bytes(struct offline *off, const char *channel, int64_t after, int limit,
                       size_t max_bytes, offline_cb *cb, void *ud, int *n_r);
/* Deletes one message.  0 or CS_EDB. */
int offline_delete(struct offline *off, int64_t id);
/* Deletes messages stored before the given time; returns how many, or
 * CS_EDB.  Reads the whole table: for a periodic sweep. */
int offline_expire(struct offline *off, int64_t before);
/* The same for one channel's messages only (through the channel's index,
 * so the cost is that channel's rows); returns how many, or CS_EDB. */
int offline_expire_channel(struct offline *off, const char *channel, int64_t before);

#endif
