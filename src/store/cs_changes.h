/* cs_changes.h - edits of the admin tables made by other connections.
 *
 * Schema 4 logs every write to `channel` and `roster` made by anybody but
 * chanstatd itself (sqlite3, chanstatctl) into `change_log` (triggers;
 * chanstatd's own transactions are quiet).  chanstatd polls PRAGMA
 * data_version, which changes only when another connection committed (so
 * an idle database costs one pragma per poll), then reads the log in seq
 * order, applies each entry by comparing the database with what it holds
 * (home_apply_change), and deletes what it applied. */
#ifndef CS_CHANGES_H
#define CS_CHANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct changes;

struct change {
    int64_t seq;
    bool roster;         /* a roster row; else a channel row */
    const char *channel; /* borrowed for the callback */
    const char *jid;     /* roster: the contact */
    const char *old;     /* roster: subscription before (NULL: new row);
                          * channel: owner before (NULL: none or new) */
};

/* store must outlive it.  NULL with err filled on failure.  Caller frees
 * with changes_free(). */
struct changes *changes_new(struct store *store, char *err, size_t errlen);
void changes_free(struct changes **ch);

/* 1 when another connection committed since the last call (the first
 * call answers 1), 0 when not, or CS_EDB. */
int changes_poll(struct changes *ch);
typedef void changes_cb(void *ud, const struct change *c);
/* Up to limit entries with seq > after, in seq order.  0 or CS_EDB; *n_r
 * how many were passed to cb. */
int changes_page(struct changes *ch, int64_t after, int limit, changes_cb *cb, void *ud, int *n_r);
/* At start: keeps only what the tables cannot tell any more (watchers
 * removed while chanstatd was stopped, who are owed unsubscribed and
 * unavailable); everything else is derived from the tables.  A bulk
 * import made while chanstatd was stopped costs nothing at start.
 * 0 or CS_EDB. */
int changes_at_start(struct changes *ch);
/* Deletes the entries with seq <= upto (in the open transaction, or its
 * own).  0 or CS_EDB. */
int changes_trim(struct changes *ch, int64_t upto);

#endif
