/* propsub.c - SQL of property subscriptions (see cs_propsub.h). */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cs_error.h"
#include "cs_propsub.h"
#include "cs_store.h"
#include "cs_util.h"

enum { ST_PUT, ST_DELETE, ST_EACH, ST_EACH_NODE, ST_ANY, ST_COUNT_OF, ST_PURGE, ST_COUNT };

static const char *const sql[ST_COUNT] = {
    [ST_PUT] = "INSERT INTO prop_subscription (channel, node, jid, expires) VALUES (?1, ?2, ?3, ?4)"
               " ON CONFLICT (channel, node, jid) DO UPDATE SET expires = excluded.expires",
    [ST_DELETE] = "DELETE FROM prop_subscription"
                  " WHERE channel = ?1 AND node = ?2 AND jid = ?3 AND expires > ?4",
    [ST_EACH] = "SELECT node, jid, expires FROM prop_subscription"
                " WHERE channel = ?1 AND expires > ?2 ORDER BY node, jid",
    [ST_EACH_NODE] = "SELECT node, jid, expires FROM prop_subscription"
                     " WHERE channel = ?1 AND node = ?3 AND expires > ?2 ORDER BY jid",
    [ST_ANY] = "SELECT 1 FROM prop_subscription WHERE channel = ?1 AND expires > ?2 LIMIT 1",
    [ST_COUNT_OF] = "SELECT count(*) FROM prop_subscription"
                    " WHERE channel = ?1 AND NOT (node = ?2 AND jid = ?3)",
    /* Through the expiry index: the oldest first, a bounded batch. */
    [ST_PURGE] = "DELETE FROM prop_subscription WHERE (channel, node, jid) IN ("
                 " SELECT channel, node, jid FROM prop_subscription WHERE expires <= ?1"
                 " ORDER BY expires LIMIT ?2)",
};

struct propsub {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
};

struct propsub *propsub_new(struct store *store, char *err, size_t errlen)
{
    struct propsub *ps = xcalloc(1, sizeof(*ps));
    ps->db = store_handle(store);
    if (store_prepare(store, sql, ST_COUNT, ps->st, "property subscription", err, errlen) != 0) {
        propsub_free(&ps);
        return NULL;
    }
    return ps;
}

void propsub_free(struct propsub **psp)
{
    struct propsub *ps = *psp;
    if (ps == NULL)
        return;
    store_finalize(ps->st, ST_COUNT);
    free(ps);
    *psp = NULL;
}

int propsub_put(struct propsub *ps, const char *channel, const char *node, const char *jid,
                int64_t expires)
{
    sqlite3_stmt *st = ps->st[ST_PUT];
    int rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 3, jid, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 4, expires);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    return store_end(st, rc, "storing the subscription of %s to %s of %s", jid, node, channel);
}

int propsub_delete(struct propsub *ps, const char *channel, const char *node, const char *jid,
                   int64_t now)
{
    sqlite3_stmt *st = ps->st[ST_DELETE];
    int rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 3, jid, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 4, now);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    rc = store_end(st, rc, "deleting the subscription of %s to %s of %s", jid, node, channel);
    if (rc == 0 && sqlite3_changes(ps->db) == 0)
        return CS_ENOTFOUND;
    return rc;
}

int propsub_each(struct propsub *ps, const char *channel, const char *node, int64_t now,
                 propsub_cb *cb, void *ud)
{
    sqlite3_stmt *st = ps->st[node ? ST_EACH_NODE : ST_EACH];
    int rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, now);
    if (rc == SQLITE_OK && node)
        rc = sqlite3_bind_text(st, 3, node, -1, SQLITE_TRANSIENT);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        const unsigned char *n, *j;
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
            break;
        n = sqlite3_column_text(st, 0);
        j = sqlite3_column_text(st, 1);
        if (n && j)
            cb(ud, (const char *)n, (const char *)j, sqlite3_column_int64(st, 2));
    }
    return store_end(st, rc, "reading the property subscriptions of %s", channel);
}

int propsub_any(struct propsub *ps, const char *channel, int64_t now, bool *any_r)
{
    sqlite3_stmt *st = ps->st[ST_ANY];
    int rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_TRANSIENT);
    *any_r = false;
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, now);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *any_r = true;
        rc = SQLITE_DONE;
    }
    return store_end(st, rc, "looking for property subscriptions of %s", channel);
}

int propsub_count(struct propsub *ps, const char *channel, const char *node, const char *jid,
                  long long *n_r)
{
    sqlite3_stmt *st = ps->st[ST_COUNT_OF];
    int rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_TRANSIENT);
    *n_r = 0;
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, node, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 3, jid, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *n_r = sqlite3_column_int64(st, 0);
        rc = SQLITE_DONE;
    }
    return store_end(st, rc, "counting the property subscriptions of %s", channel);
}

int propsub_purge(struct propsub *ps, int64_t now, int limit, int *n_r)
{
    sqlite3_stmt *st = ps->st[ST_PURGE];
    int rc = sqlite3_bind_int64(st, 1, now);
    *n_r = 0;
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 2, limit);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    rc = store_end(st, rc, "purging expired property subscriptions");
    if (rc == 0)
        *n_r = sqlite3_changes(ps->db);
    return rc;
}
