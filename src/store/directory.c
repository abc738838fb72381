/* directory.c - SQL of the channel directory (see cs_directory.h). */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cs_directory.h"
#include "cs_error.h"
#include "cs_store.h"
#include "cs_util.h"

enum { ST_FIRST, ST_AFTER, ST_BEFORE, ST_LAST, ST_SIZE, ST_COUNT };

/* The WHERE repeats the partial index's condition, so that each page
 * reads channel_listed (name, display_name) and nothing else. */
#define LISTED "SELECT name, display_name FROM channel WHERE policy <> 'closed'"

static const char *const sql[ST_COUNT] = {
    [ST_FIRST] = LISTED " ORDER BY name LIMIT ?2",
    [ST_AFTER] = LISTED " AND name > ?1 ORDER BY name LIMIT ?2",
    /* Backwards from `before`: the rows come last first; the caller gets
     * them in name order. */
    [ST_BEFORE] = LISTED " AND name < ?1 ORDER BY name DESC LIMIT ?2",
    [ST_LAST] = LISTED " ORDER BY name DESC LIMIT ?2",
    [ST_SIZE] = "SELECT listed FROM directory_size",
};

struct directory {
    sqlite3_stmt *st[ST_COUNT];
};

struct directory *directory_new(struct store *store, char *err, size_t errlen)
{
    struct directory *d = xcalloc(1, sizeof(*d));
    if (store_prepare(store, sql, ST_COUNT, d->st, "directory", err, errlen) != 0) {
        directory_free(&d);
        return NULL;
    }
    return d;
}

void directory_free(struct directory **dp)
{
    struct directory *d = *dp;
    if (d == NULL)
        return;
    store_finalize(d->st, ST_COUNT);
    free(d);
    *dp = NULL;
}

struct row {
    char *name, *display;
};

int directory_page(struct directory *d, const char *after, const char *before, int limit,
                   directory_cb *cb, void *ud, int *n_r)
{
    bool back = before != NULL;
    int id = back ? (*before ? ST_BEFORE : ST_LAST) : after ? ST_AFTER : ST_FIRST;
    sqlite3_stmt *st = d->st[id];
    struct row *rows;
    int rc = SQLITE_OK, n = 0;

    *n_r = 0;
    if (limit <= 0)
        return 0;
    if (id == ST_AFTER || id == ST_BEFORE)
        rc = sqlite3_bind_text(st, 1, back ? before : after, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 2, limit);
    if (rc != SQLITE_OK)
        return store_end(st, rc, "binding a directory page");
    /* Copied out first: cb may take its time, and a backwards page is
     * passed in name order. */
    rows = xcalloc((size_t)limit, sizeof(*rows));
    while (n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *display = (const char *)sqlite3_column_text(st, 1);
        if (name == NULL)
            continue;
        rows[n].name = xstrdup(name);
        rows[n].display = display ? xstrdup(display) : NULL;
        n++;
    }
    rc = store_end(st, rc, "reading a directory page");
    for (int i = 0; i < n; i++) {
        struct row *r = &rows[back ? n - 1 - i : i];
        if (rc == 0)
            cb(ud, r->name, r->display);
        free(r->name);
        free(r->display);
    }
    free(rows);
    *n_r = rc == 0 ? n : 0;
    return rc;
}

int directory_count(struct directory *d, long long *n_r)
{
    sqlite3_stmt *st = d->st[ST_SIZE];
    int rc = sqlite3_step(st);
    bool found = rc == SQLITE_ROW;
    *n_r = found ? sqlite3_column_int64(st, 0) : 0;
    rc = store_end(st, rc, "counting the listed channels");
    return rc != 0 ? rc : found ? 0 : CS_ENOTFOUND;
}
