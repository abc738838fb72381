/* placement.c - SQL of the front's tables (see cs_placement.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cs_config.h"
#include "cs_error.h"
#include "cs_log.h"
#include "cs_place.h"
#include "cs_placement.h"
#include "cs_store.h"
#include "cs_util.h"

enum {
    ST_GET,
    ST_SET,
    ST_REMOVE,
    ST_EACH,
    ST_EDITS,
    ST_TRIM,
    ST_ROUTE_GET,
    ST_ROUTE_PUT,
    ST_COUNT
};

static const char *const sql[ST_COUNT] = {
    [ST_GET] = "SELECT home FROM placement WHERE channel = ?1",
    [ST_SET] = "INSERT INTO placement (channel, home) VALUES (?1, ?2)"
               " ON CONFLICT (channel) DO UPDATE SET home = excluded.home"
               " WHERE home <> excluded.home",
    [ST_REMOVE] = "DELETE FROM placement WHERE channel = ?1",
    [ST_EACH] = "SELECT channel, home FROM placement ORDER BY channel",
    [ST_EDITS] = "SELECT seq, channel FROM placement_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [ST_TRIM] = "DELETE FROM placement_log WHERE seq <= ?1",
    [ST_ROUTE_GET] = "SELECT home FROM relay_route WHERE jid = ?1 AND address = ?2",
    [ST_ROUTE_PUT] = "INSERT INTO relay_route (jid, address, home) VALUES (?1, ?2, ?3)"
                     " ON CONFLICT (jid, address) DO UPDATE SET home = excluded.home"
                     " WHERE home <> excluded.home",
};

struct placement {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    char found[1024]; /* placement_home's answer */
};

struct placement *placement_new(struct store *store, char *err, size_t errlen)
{
    struct placement *p = xcalloc(1, sizeof(*p));
    p->db = store_handle(store);
    if (store_prepare(store, sql, ST_COUNT, p->st, "placement", err, errlen) != 0) {
        placement_free(&p);
        return NULL;
    }
    return p;
}

void placement_free(struct placement **pp)
{
    struct placement *p = *pp;
    if (p == NULL)
        return;
    store_finalize(p->st, ST_COUNT);
    free(p);
    *pp = NULL;
}

/* One text column of at most one row for the bound key(s). */
static int one_text(sqlite3_stmt *st, int rc, char *out, size_t len, const char *what,
                    const char *key)
{
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        cs_strlcpy(out, t ? (const char *)t : "", len);
        return store_end(st, rc, "reading the %s of %s", what, key) == 0 ? 0 : CS_EDB;
    }
    if (store_end(st, rc, "reading the %s of %s", what, key) != 0)
        return CS_EDB;
    return CS_ENOTFOUND;
}

int placement_get(struct placement *p, const char *channel, char *home, size_t len)
{
    sqlite3_stmt *st = p->st[ST_GET];
    int rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_TRANSIENT);
    return one_text(st, rc, home, len, "placement", channel);
}

const char *placement_home(struct placement *p, const struct config_list *homes,
                           const char *channel)
{
    int rc = placement_get(p, channel, p->found, sizeof(p->found));
    if (rc == 0)
        return p->found;
    if (rc != CS_ENOTFOUND || homes->n == 0)
        return NULL;
    return homes->v[place_pick(channel, (const char *const *)homes->v, homes->n)];
}

int placement_set(struct placement *p, const char *channel, const char *home)
{
    sqlite3_stmt *st = p->st[ST_SET];
    int rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, home, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    return store_end(st, rc, "placing %s on %s", channel, home);
}

int placement_remove(struct placement *p, const char *channel)
{
    sqlite3_stmt *st = p->st[ST_REMOVE];
    int rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (store_end(st, rc, "removing the placement of %s", channel) != 0)
        return CS_EDB;
    return sqlite3_changes(p->db) > 0 ? 0 : CS_ENOTFOUND;
}

int placement_each(struct placement *p, placement_cb *cb, void *ud)
{
    sqlite3_stmt *st = p->st[ST_EACH];
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        cb(ud, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1));
    return store_end(st, rc, "listing the placement");
}

int placement_edits(struct placement *p, int64_t after, int limit, placement_edit_cb *cb, void *ud,
                    int64_t *last_r, int *n_r)
{
    sqlite3_stmt *st = p->st[ST_EDITS];
    int rc = sqlite3_bind_int64(st, 1, after);
    *n_r = 0;
    *last_r = after;
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 2, limit);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *last_r = sqlite3_column_int64(st, 0);
        (*n_r)++;
        cb(ud, (const char *)sqlite3_column_text(st, 1));
        rc = SQLITE_OK;
    }
    return store_end(st, rc, "reading the placement log");
}

int placement_trim(struct placement *p, int64_t upto)
{
    sqlite3_stmt *st = p->st[ST_TRIM];
    int rc = sqlite3_bind_int64(st, 1, upto);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    return store_end(st, rc, "trimming the placement log");
}

int relay_route_get(struct placement *p, const char *jid, const char *address, char *home,
                    size_t len)
{
    sqlite3_stmt *st = p->st[ST_ROUTE_GET];
    int rc = sqlite3_bind_text(st, 1, jid, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, address, -1, SQLITE_TRANSIENT);
    return one_text(st, rc, home, len, "relay route", jid);
}

int relay_route_put(struct placement *p, const char *jid, const char *address, const char *home)
{
    sqlite3_stmt *st = p->st[ST_ROUTE_PUT];
    int rc = sqlite3_bind_text(st, 1, jid, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, address, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 3, home, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    return store_end(st, rc, "storing the relay route of %s to %s", address, jid);
}
