/* syncdb.c - SQL of the roster sync (XEP-0356): the rows that want items
 * in the users' own rosters and the record of the items pushed there
 * (bound parameters only). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "cs_error.h"
#include "cs_log.h"
#include "cs_roster.h"
#include "cs_store.h"
#include "cs_syncdb.h"
#include "cs_util.h"

enum stmt_id {
    ST_DESIRED,
    ST_PUSHED,
    ST_PUT,
    ST_DELETE,
    ST_FULL_ROWS,
    ST_FULL_PUSHED,
    ST_BY_CHANNEL,
    ST_HAS,
    ST_COUNT
};

static const char *const sql[ST_COUNT] = {
    /* The rows that make user a watcher, with what the item shows. */
    [ST_DESIRED] = "SELECT r.channel, r.subscription, r.groups, c.display_name"
                   " FROM roster r JOIN channel c ON c.name = r.channel"
                   " WHERE r.jid = ?1 AND r.subscription IN ('from', 'both')",
    /* Columns in the order of ST_DESIRED: one reader for both. */
    [ST_PUSHED] = "SELECT channel, subscription, groups, name FROM pushed_item WHERE user = ?1",
    [ST_PUT] = "INSERT OR REPLACE INTO pushed_item (user, channel, name, groups, subscription)"
               " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_DELETE] = "DELETE FROM pushed_item WHERE user = ?1 AND channel = ?2",
    /* A full sync: the domain's watchers in jid order (roster_by_jid),
     * then users with pushed items and no such rows any more. */
    [ST_FULL_ROWS] = "SELECT DISTINCT jid FROM roster WHERE jid > ?1"
                     " AND substr(jid, -length(?2)) = ?2 AND subscription IN ('from', 'both')"
                     " ORDER BY jid LIMIT ?3",
    [ST_FULL_PUSHED] = "SELECT DISTINCT user FROM pushed_item p WHERE user > ?1"
                       " AND substr(user, -length(?2)) = ?2 AND NOT EXISTS (SELECT 1 FROM roster r"
                       " WHERE r.jid = p.user AND r.subscription IN ('from', 'both'))"
                       " ORDER BY user LIMIT ?3",
    [ST_BY_CHANNEL] = "SELECT user FROM pushed_item WHERE channel = ?1",
    [ST_HAS] = "SELECT 1 FROM pushed_item WHERE user = ?1 AND channel = ?2",
};

struct syncdb {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    struct roster *roster; /* its transaction */
};

struct syncdb *syncdb_new(struct store *store, struct roster *roster, char *err, size_t errlen)
{
    struct syncdb *s = xcalloc(1, sizeof(*s));
    s->db = store_handle(store);
    s->roster = roster;
    if (store_prepare(store, sql, ST_COUNT, s->st, "user-roster", err, errlen) != 0) {
        syncdb_free(&s);
        return NULL;
    }
    return s;
}

void syncdb_free(struct syncdb **sp)
{
    struct syncdb *s = *sp;
    if (s == NULL)
        return;
    store_finalize(s->st, ST_COUNT);
    free(s);
    *sp = NULL;
}

static const char *col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* Items of user from a statement selecting (channel, subscription,
 * groups, name): one callback per row. */
static int read_items(struct syncdb *s, int id, const char *user, syncdb_item_cb *cb, void *ud,
                      const char *what)
{
    sqlite3_stmt *st = s->st[id];
    int rc = sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            struct syncdb_item it = {.channel = col(st, 0),
                                     .subscription = col(st, 1),
                                     .groups = col(st, 2),
                                     .name = col(st, 3)};
            cb(ud, &it);
        }
    }
    return store_end(st, rc, "reading %s %s", what, user);
}

int syncdb_desired(struct syncdb *s, const char *user, syncdb_item_cb *cb, void *ud)
{
    return read_items(s, ST_DESIRED, user, cb, ud, "the roster rows of");
}

int syncdb_pushed(struct syncdb *s, const char *user, syncdb_item_cb *cb, void *ud)
{
    return read_items(s, ST_PUSHED, user, cb, ud, "the items pushed to");
}

int syncdb_put(struct syncdb *s, const char *user, const char *channel, const char *name,
               const char *groups, const char *subscription)
{
    sqlite3_stmt *st = s->st[ST_PUT];
    int rc;
    if (roster_tx_begin(s->roster) != 0)
        return CS_EDB;
    rc = sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, channel, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 4, groups, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 5, subscription, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    return store_end(st, rc == SQLITE_ROW ? SQLITE_DONE : rc, "recording the item %s of %s",
                     channel, user);
}

int syncdb_delete(struct syncdb *s, const char *user, const char *channel)
{
    sqlite3_stmt *st = s->st[ST_DELETE];
    int rc;
    if (roster_tx_begin(s->roster) != 0)
        return CS_EDB;
    rc = sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, channel, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    return store_end(st, rc == SQLITE_ROW ? SQLITE_DONE : rc, "forgetting the item %s of %s",
                     channel, user);
}

int syncdb_has(struct syncdb *s, const char *user, const char *channel, bool *has_r)
{
    sqlite3_stmt *st = s->st[ST_HAS];
    int rc = sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, channel, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    *has_r = rc == SQLITE_ROW;
    return store_end(st, rc, "looking up the item %s of %s", channel, user);
}

/* Steps st (bound, unless bound failed) and passes the user in its
 * first column of each row to cb; *n_r counts them. */
static int each_user(sqlite3_stmt *st, int bound, syncdb_user_cb *cb, void *ud, int *n_r)
{
    int rc = bound, n = 0;
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            cb(ud, col(st, 0));
            n++;
        }
    }
    *n_r = n;
    return rc;
}

int syncdb_users_of_channel(struct syncdb *s, const char *channel, syncdb_user_cb *cb, void *ud)
{
    sqlite3_stmt *st = s->st[ST_BY_CHANNEL];
    int n, rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
    rc = each_user(st, rc, cb, ud, &n);
    return store_end(st, rc, "reading the users of channel %s", channel);
}

static int users_page(struct syncdb *s, enum stmt_id id, const char *suffix, const char *after,
                      int limit, syncdb_user_cb *cb, void *ud, int *n_r)
{
    sqlite3_stmt *st = s->st[id];
    int rc;
    *n_r = 0;
    if (limit <= 0)
        return 0; /* SQLite reads a negative LIMIT as none */
    rc = sqlite3_bind_text(st, 1, after, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, suffix, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 3, limit);
    rc = each_user(st, rc, cb, ud, n_r);
    return store_end(st, rc, "reading users to sync (%s)", suffix);
}

int syncdb_watchers_page(struct syncdb *s, const char *suffix, const char *after, int limit,
                         syncdb_user_cb *cb, void *ud, int *n_r)
{
    return users_page(s, ST_FULL_ROWS, suffix, after, limit, cb, ud, n_r);
}

int syncdb_orphans_page(struct syncdb *s, const char *suffix, const char *after, int limit,
                        syncdb_user_cb *cb, void *ud, int *n_r)
{
    return users_page(s, ST_FULL_PUSHED, suffix, after, limit, cb, ud, n_r);
}
