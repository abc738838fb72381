/* adminmove.c - a channel moved from one home's database to another's
 * (doc/cluster.md, "Moving a channel"): its row, roster, stored
 * messages, state, conversations, vouched watchers, node leases and
 * property subscriptions, in one transaction of the source connection
 * with the destination attached.  Both files have this binary's schema
 * (the destination is migrated first), and the columns are named, so
 * nothing depends on their order.  The running homes see the edit
 * through their change logs like any admin's: the destination takes the
 * channel up, the source lets it go. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "admin_priv.h"
#include "cs_error.h"
#include "cs_store.h"

/* table, the columns copied, and the key column that names the channel. */
static const struct {
    const char *table, *cols, *key;
} moved[] = {
    {"channel",
     "name, owner, policy, display_name, created, description, email, url, avatar_type, avatar",
     "name"},
    {"roster", "channel, jid, subscription, ask, pending_in, approved, name, groups", "channel"},
    {"offline", "channel, sender, stanza, bytes, stored", "channel"},
    {"channel_state", "channel, last_seen, shown", "channel"},
    {"conversation", "owner, contact, channel, via", "channel"},
    {"watcher_via", "channel, jid, node", "channel"},
    {"node_lease", "channel, node, expires", "channel"},
    {"prop_subscription", "channel, node, jid, expires", "channel"},
};

static int exec_sql(sqlite3 *db, const char *sql, const char *name, long long *changes, char *err,
                    size_t errlen)
{
    sqlite3_stmt *st;
    int r = admin_query(db, &st, err, errlen, sql, 1, name);
    if (r == 0)
        r = admin_exec_stmt(db, st, err, errlen);
    if (r == 0 && changes)
        *changes += sqlite3_changes(db);
    return r;
}

int admin_channel_move(struct store *store, const char *dst_path, const char *name_in,
                       struct admin_move *m, char *err, size_t errlen)
{
    sqlite3 *db = store_handle(store);
    sqlite3_stmt *st;
    char *name = NULL, sql[512];
    int r;

    memset(m, 0, sizeof(*m));
    if ((r = admin_channel_name(name_in, &name, err, errlen)) != 0)
        return r;
    r = admin_query(db, &st, err, errlen, "ATTACH DATABASE ?1 AS dst", 1, dst_path);
    if (r == 0)
        r = admin_exec_stmt(db, st, err, errlen);
    if (r != 0) {
        free(name);
        return r;
    }
    if ((r = admin_tx_begin(db, true, err, errlen)) == 0) {
        r = admin_channel_exists(db, name, err, errlen);
        if (r == 0 &&
            (r = admin_query(db, &st, err, errlen, "SELECT 1 FROM dst.channel WHERE name = ?1", 1,
                             name)) == 0) {
            int rc = sqlite3_step(st);
            if (rc == SQLITE_ROW) {
                sqlite3_finalize(st);
                r = admin_fail(err, errlen, CS_EEXIST,
                               "channel '%s' already exists in the destination", name);
            } else {
                r = admin_done(db, st, rc, err, errlen);
            }
        }
        for (size_t i = 0; r == 0 && i < sizeof(moved) / sizeof(moved[0]); i++) {
            long long *count = strcmp(moved[i].table, "roster") == 0    ? &m->roster
                               : strcmp(moved[i].table, "offline") == 0 ? &m->offline
                                                                        : &m->other;
            snprintf(sql, sizeof(sql),
                     "INSERT INTO dst.%s (%s) SELECT %s FROM main.%s WHERE %s = ?1%s",
                     moved[i].table, moved[i].cols, moved[i].cols, moved[i].table, moved[i].key,
                     strcmp(moved[i].table, "offline") == 0 ? " ORDER BY id" : "");
            r = exec_sql(db, sql, name, count, err, errlen);
        }
        /* Its other rows go with it (foreign keys and triggers). */
        if (r == 0)
            r = exec_sql(db, "DELETE FROM main.channel WHERE name = ?1", name, NULL, err, errlen);
        r = admin_tx_end(db, r, err, errlen);
    }
    if (admin_query(db, &st, NULL, 0, "DETACH DATABASE dst", 0) == 0)
        admin_exec_stmt(db, st, NULL, 0);
    free(name);
    return r;
}
