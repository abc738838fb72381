/* cs_syncdb.h - the SQL of the roster sync (XEP-0356, xmpp/cs_uroster.h):
 * what the roster table wants in the users' own server rosters (tables
 * roster and channel), and the record of the items chanstat pushed there
 * (table pushed_item, schema 6).
 *
 * Statements are prepared once per handle, with bound parameters only.
 * Every function returns 0 or CS_EDB, and a failure is logged here with
 * SQLite's message: callers add only what it means for them.  Writes run
 * inside the caller's transaction, opened if none is (roster_tx_begin);
 * committing it is the caller's.
 *
 * Strings passed to a callback are borrowed for the duration of the call.
 * A callback must not call the function that called it (its statement is
 * in use); the other functions of the handle are fine. */
#ifndef CS_SYNCDB_H
#define CS_SYNCDB_H

#include <stdbool.h>
#include <stddef.h>

struct store;
struct roster;
struct syncdb;

/* store and roster are borrowed and must outlive the handle (roster for
 * its transaction).  Caller frees with syncdb_free().  NULL with err
 * filled when a statement cannot be prepared. */
struct syncdb *syncdb_new(struct store *store, struct roster *roster, char *err, size_t errlen);
/* Frees and NULLs *db; NULL-safe. */
void syncdb_free(struct syncdb **db);

/* One roster item as the database holds it, column by column (NULL
 * where the column is NULL). */
struct syncdb_item {
    const char *channel;
    const char *name;
    const char *groups;       /* newline-separated */
    const char *subscription; /* of the roster row, or as pushed */
};
typedef void syncdb_item_cb(void *ud, const struct syncdb_item *item);
typedef void syncdb_user_cb(void *ud, const char *user);

/* The rows that make user a watcher (subscription from or both), one
 * call of cb each: channel, name = the channel's display name (NULL when
 * it has none), groups of the row (NULL for none), subscription of the
 * row ("from" or "both").  0 or CS_EDB (cb may have been called). */
int syncdb_desired(struct syncdb *db, const char *user, syncdb_item_cb *cb, void *ud);
/* The items recorded as pushed to user, as they were pushed.  0 or CS_EDB
 * (cb may have been called). */
int syncdb_pushed(struct syncdb *db, const char *user, syncdb_item_cb *cb, void *ud);
/* Records (or replaces) the item channel of user as pushed.  0 or
 * CS_EDB. */
int syncdb_put(struct syncdb *db, const char *user, const char *channel, const char *name,
               const char *groups, const char *subscription);
/* Forgets the item channel of user (no error when there is none).  0 or
 * CS_EDB. */
int syncdb_delete(struct syncdb *db, const char *user, const char *channel);
/* Is the item channel of user recorded?  *has_r is false on failure.
 * 0 or CS_EDB. */
int syncdb_has(struct syncdb *db, const char *user, const char *channel, bool *has_r);
/* The users with a pushed item of channel.  0 or CS_EDB (cb may have
 * been called). */
int syncdb_users_of_channel(struct syncdb *db, const char *channel, syncdb_user_cb *cb, void *ud);

/* Paging the users of one domain for a full sync: suffix is "@domain"; a
 * page passes up to limit users > after, in order, to cb, and stores in
 * *n_r how many it passed (also on failure); *n_r < limit means the end
 * was reached.  after "" starts from the beginning; it is copied, so cb
 * may overwrite it.  A limit <= 0 passes nothing.  0 or CS_EDB. */

/* Users with rows that make them watchers (the index roster_by_jid). */
int syncdb_watchers_page(struct syncdb *db, const char *suffix, const char *after, int limit,
                         syncdb_user_cb *cb, void *ud, int *n_r);
/* Users with pushed items and no such rows any more. */
int syncdb_orphans_page(struct syncdb *db, const char *suffix, const char *after, int limit,
                        syncdb_user_cb *cb, void *ud, int *n_r);

#endif
