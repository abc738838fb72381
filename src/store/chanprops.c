/* chanprops.c - SQL of a channel's properties (see cs_chanprops.h). */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cs_chanprops.h"
#include "cs_error.h"
#include "cs_store.h"
#include "cs_util.h"

enum { ST_GET, ST_COUNT };

static const char *const sql[ST_COUNT] = {
    [ST_GET] = "SELECT description, email, url, avatar_type, avatar FROM channel WHERE name = ?1",
};

struct chanprops {
    sqlite3_stmt *st[ST_COUNT];
};

struct chanprops *chanprops_new(struct store *store, char *err, size_t errlen)
{
    struct chanprops *cp = xcalloc(1, sizeof(*cp));
    if (store_prepare(store, sql, ST_COUNT, cp->st, "channel property", err, errlen) != 0) {
        chanprops_free(&cp);
        return NULL;
    }
    return cp;
}

void chanprops_free(struct chanprops **cpp)
{
    struct chanprops *cp = *cpp;
    if (cp == NULL)
        return;
    store_finalize(cp->st, ST_COUNT);
    free(cp);
    *cpp = NULL;
}

static char *text_of(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? xstrdup((const char *)t) : NULL;
}

int chanprops_get(struct chanprops *cp, const char *name, struct chanprops_row *r)
{
    sqlite3_stmt *st = cp->st[ST_GET];
    int rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    bool found;

    memset(r, 0, sizeof(*r));
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    found = rc == SQLITE_ROW;
    if (found) {
        r->description = text_of(st, 0);
        r->email = text_of(st, 1);
        r->url = text_of(st, 2);
        r->avatar_type = text_of(st, 3);
        if (r->avatar_type && sqlite3_column_type(st, 4) == SQLITE_BLOB) {
            const void *b = sqlite3_column_blob(st, 4);
            r->avatar_len = (size_t)sqlite3_column_bytes(st, 4);
            r->avatar = xmalloc(r->avatar_len ? r->avatar_len : 1);
            if (r->avatar_len)
                memcpy(r->avatar, b, r->avatar_len);
        }
    }
    rc = store_end(st, rc, "reading the properties of %s", name);
    if (rc != 0 || !found) {
        chanprops_row_free(r);
        return rc != 0 ? rc : CS_ENOTFOUND;
    }
    return 0;
}

void chanprops_row_free(struct chanprops_row *r)
{
    free(r->description);
    free(r->email);
    free(r->url);
    free(r->avatar_type);
    free(r->avatar);
    memset(r, 0, sizeof(*r));
}
