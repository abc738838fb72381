/* changes.c - SQL of the change log (schema 4) and PRAGMA data_version. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cs_changes.h"
#include "cs_error.h"
#include "cs_log.h"
#include "cs_store.h"
#include "cs_util.h"

enum { ST_VERSION, ST_PAGE, ST_TRIM, ST_START, ST_COUNT };

static const char *const sql[ST_COUNT] = {
    [ST_VERSION] = "PRAGMA data_version",
    [ST_PAGE] = "SELECT seq, kind, channel, jid, old FROM change_log WHERE seq > ?1"
                " ORDER BY seq LIMIT ?2",
    [ST_TRIM] = "DELETE FROM change_log WHERE seq <= ?1",
    /* At start everything is derived from the tables anyway (owners are
     * bound, watchers get status from loaded channels); what the tables
     * no longer say is who stopped being a watcher. */
    [ST_START] = "DELETE FROM change_log"
                 " WHERE NOT (kind = 'roster' AND coalesce(old, '') IN ('from', 'both'))",
};

struct changes {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    int64_t version;
    bool polled;
};

struct changes *changes_new(struct store *store, char *err, size_t errlen)
{
    struct changes *ch = xcalloc(1, sizeof(*ch));
    ch->db = store_handle(store);
    if (store_prepare(store, sql, ST_COUNT, ch->st, "change-log", err, errlen) != 0) {
        changes_free(&ch);
        return NULL;
    }
    return ch;
}

void changes_free(struct changes **chp)
{
    struct changes *ch = *chp;
    if (ch == NULL)
        return;
    store_finalize(ch->st, ST_COUNT);
    free(ch);
    *chp = NULL;
}

static int fail(struct changes *ch, sqlite3_stmt *st, const char *what)
{
    log_error("store: %s: %s", what, sqlite3_errmsg(ch->db));
    sqlite3_reset(st);
    return CS_EDB;
}

int changes_poll(struct changes *ch)
{
    sqlite3_stmt *st = ch->st[ST_VERSION];
    int64_t v;
    if (sqlite3_step(st) != SQLITE_ROW)
        return fail(ch, st, "reading data_version");
    v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (ch->polled && v == ch->version)
        return 0;
    ch->polled = true;
    ch->version = v;
    return 1;
}

int changes_page(struct changes *ch, int64_t after, int limit, changes_cb *cb, void *ud, int *n_r)
{
    sqlite3_stmt *st = ch->st[ST_PAGE];
    int rc, n = 0;
    *n_r = 0;
    if (sqlite3_bind_int64(st, 1, after) != SQLITE_OK ||
        sqlite3_bind_int(st, 2, limit) != SQLITE_OK)
        return fail(ch, st, "reading the change log");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct change c = {
            .seq = sqlite3_column_int64(st, 0),
            .roster = strcmp((const char *)sqlite3_column_text(st, 1), "roster") == 0,
            .channel = (const char *)sqlite3_column_text(st, 2),
            .jid = (const char *)sqlite3_column_text(st, 3),
            .old = (const char *)sqlite3_column_text(st, 4),
        };
        if (c.channel == NULL)
            continue;
        cb(ud, &c);
        n++;
    }
    *n_r = n;
    if (rc != SQLITE_DONE)
        return fail(ch, st, "reading the change log");
    sqlite3_reset(st);
    return 0;
}

int changes_trim(struct changes *ch, int64_t upto)
{
    sqlite3_stmt *st = ch->st[ST_TRIM];
    if (sqlite3_bind_int64(st, 1, upto) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
        return fail(ch, st, "trimming the change log");
    sqlite3_reset(st);
    return 0;
}

int changes_at_start(struct changes *ch)
{
    sqlite3_stmt *st = ch->st[ST_START];
    if (sqlite3_step(st) != SQLITE_DONE)
        return fail(ch, st, "trimming the change log at start");
    sqlite3_reset(st);
    return 0;
}
