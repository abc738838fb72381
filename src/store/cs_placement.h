/* cs_placement.h - the front's tables (schema 11, doc/cluster.md):
 * placement rows pinning channels to homes, the log of their edits, and
 * the relay routes (which home last wrote to a user from a relay
 * address).  Where a channel lives: its row, or else rendezvous hashing
 * over the homes (cs_place.h). */
#ifndef CS_PLACEMENT_H
#define CS_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct placement;
struct config_list;

/* Caller frees with placement_free().  NULL with err filled on failure. */
struct placement *placement_new(struct store *store, char *err, size_t errlen);
void placement_free(struct placement **p);

/* The home channel lives on among homes (n > 0): its row when it has
 * one, else rendezvous hashing; a row naming a home not in homes counts
 * too (the admin pinned it).  Borrowed: valid until the next call.  NULL
 * on CS_EDB (logged). */
const char *placement_home(struct placement *p, const struct config_list *homes,
                           const char *channel);
/* channel's row: 0 (copied into home), CS_ENOTFOUND or CS_EDB. */
int placement_get(struct placement *p, const char *channel, char *home, size_t len);
/* Pins channel to home.  0 or CS_EDB. */
int placement_set(struct placement *p, const char *channel, const char *home);
/* Removes channel's row.  0, CS_ENOTFOUND or CS_EDB. */
int placement_remove(struct placement *p, const char *channel);
typedef void placement_cb(void *ud, const char *channel, const char *home);
/* Every row in channel order.  0 or CS_EDB. */
int placement_each(struct placement *p, placement_cb *cb, void *ud);
/* Up to limit channels whose row was edited (seq > after), in seq order;
 * *last_r the last seq seen.  0 or CS_EDB. */
typedef void placement_edit_cb(void *ud, const char *channel);
int placement_edits(struct placement *p, int64_t after, int limit, placement_edit_cb *cb, void *ud,
                    int64_t *last_r, int *n_r);
/* Deletes log entries with seq <= upto.  0 or CS_EDB. */
int placement_trim(struct placement *p, int64_t upto);

/* Which home last wrote to jid from the relay address (a localpart at
 * the front): 0 (copied into home), CS_ENOTFOUND or CS_EDB. */
int relay_route_get(struct placement *p, const char *jid, const char *address, char *home,
                    size_t len);
/* Records it (no write when it is already so).  0 or CS_EDB. */
int relay_route_put(struct placement *p, const char *jid, const char *address, const char *home);

#endif
