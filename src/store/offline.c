/* offline.c - SQL of the offline message store (bound parameters only). */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "cs_error.h"
#include "cs_log.h"
#include "cs_offline.h"
#include "cs_store.h"
#include "cs_util.h"

enum { ST_PUT, ST_USAGE, ST_EACH, ST_DELETE, ST_EXPIRE, ST_EXPIRE_CHANNEL, ST_COUNT };

static const char *const sql[ST_COUNT] = {
    [ST_PUT] = "INSERT INTO offline (channel, sender, stanza, bytes, stored)"
               " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_USAGE] = "SELECT count(*), coalesce(sum(bytes), 0) FROM offline WHERE channel = ?1",
    [ST_EACH] = "SELECT id, sender, stanza, stored FROM offline WHERE channel = ?1 AND id > ?2"
                " ORDER BY id LIMIT ?3",
    [ST_DELETE] = "DELETE FROM offline WHERE id = ?1",
    /* A scan of the whole table: a housekeeping sweep, not per message. */
    [ST_EXPIRE] = "DELETE FROM offline WHERE stored < ?1",
    /* offline_by_channel: the channel's rows only, bounded by its cap. */
    [ST_EXPIRE_CHANNEL] = "DELETE FROM offline WHERE channel = ?1 AND stored < ?2",
};

struct offline {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
};

struct offline *offline_new(struct store *store, char *err, size_t errlen)
{
    struct offline *o = xcalloc(1, sizeof(*o));
    o->db = store_handle(store);
    if (store_prepare(store, sql, ST_COUNT, o->st, "offline", err, errlen) != 0) {
        offline_free(&o);
        return NULL;
    }
    return o;
}

void offline_free(struct offline **op)
{
    struct offline *o = *op;
    if (o == NULL)
        return;
    store_finalize(o->st, ST_COUNT);
    free(o);
    *op = NULL;
}

/* Ends a use of st: logs unless rc is SQLITE_DONE (or SQLITE_ROW, where a
 * reader stopped early on purpose), then resets st and drops its bindings.
 * Logs first: a reset may overwrite the message of a failed bind.
 * sqlite3_reset only repeats the last step's error; sqlite3_clear_bindings
 * cannot fail.  0 or CS_EDB. */
static int done(struct offline *o, sqlite3_stmt *st, int rc, const char *what)
{
    int ret = 0;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        log_error("store: %s: %s", what, sqlite3_errmsg(o->db));
        ret = CS_EDB;
    }
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
    return ret;
}

int offline_put(struct offline *o, const char *channel, const char *sender, const char *stanza,
                size_t bytes, int64_t now)
{
    sqlite3_stmt *st = o->st[ST_PUT];
    int rc = bytes <= INT_MAX ? SQLITE_OK : SQLITE_TOOBIG;
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, sender, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 3, stanza, (int)bytes, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 4, (sqlite3_int64)bytes);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 5, now);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    return done(o, st, rc, "storing an offline message");
}

int offline_usage(struct offline *o, const char *channel, int *count_r, int64_t *bytes_r)
{
    sqlite3_stmt *st = o->st[ST_USAGE];
    int rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
    *count_r = 0;
    *bytes_r = 0;
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *count_r = sqlite3_column_int(st, 0);
        *bytes_r = sqlite3_column_int64(st, 1);
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_INTERNAL; /* an aggregate always has its row */
    }
    return done(o, st, rc, "counting offline messages");
}

int offline_each(struct offline *o, const char *channel, int64_t after, int limit, offline_cb *cb,
                 void *ud)
{
    int n;
    /* The same rows with no byte budget. */
    return offline_each_bytes(o, channel, after, limit, SIZE_MAX, cb, ud, &n);
}

int offline_each_bytes(struct offline *o, const char *channel, int64_t after, int limit,
                       size_t max_bytes, offline_cb *cb, void *ud, int *n_r)
{
    sqlite3_stmt *st = o->st[ST_EACH];
    size_t total = 0;
    int rc, n = 0;

    *n_r = 0;
    if (limit <= 0)
        return 0; /* SQLite reads a negative LIMIT as none */
    rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, after);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 3, limit);
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *sender = (const char *)sqlite3_column_text(st, 1);
            const char *stanza = (const char *)sqlite3_column_text(st, 2);
            /* The bytes cb gets, not the bytes column a hand edit may
             * have left wrong; column_bytes after column_text is the
             * length of that text. */
            size_t bytes = (size_t)sqlite3_column_bytes(st, 2);
            if (sender == NULL || stanza == NULL) {
                rc = SQLITE_NOMEM; /* NOT NULL columns: out of memory */
                break;
            }
            if (n > 0 && bytes > max_bytes - total)
                break; /* rc stays SQLITE_ROW: stopped on purpose */
            cb(ud, sqlite3_column_int64(st, 0), sender, stanza, sqlite3_column_int64(st, 3));
            /* Only the first row may exceed max_bytes alone: saturate. */
            total = bytes > max_bytes - total ? max_bytes : total + bytes;
            n++;
        }
    }
    *n_r = n;
    return done(o, st, rc, "reading offline messages");
}

int offline_delete(struct offline *o, int64_t id)
{
    sqlite3_stmt *st = o->st[ST_DELETE];
    int rc = sqlite3_bind_int64(st, 1, id);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    return done(o, st, rc, "deleting an offline message");
}

int offline_expire(struct offline *o, int64_t before)
{
    sqlite3_stmt *st = o->st[ST_EXPIRE];
    int rc = sqlite3_bind_int64(st, 1, before);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (done(o, st, rc, "expiring offline messages") != 0)
        return CS_EDB;
    return sqlite3_changes(o->db);
}

int offline_expire_channel(struct offline *o, const char *channel, int64_t before)
{
    sqlite3_stmt *st = o->st[ST_EXPIRE_CHANNEL];
    int rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, before);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (done(o, st, rc, "expiring offline messages of a channel") != 0)
        return CS_EDB;
    return sqlite3_changes(o->db);
}
