/* roster.c - SQL for channels and roster rows (bound parameters only). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cs_error.h"
#include "cs_log.h"
#include "cs_roster.h"
#include "cs_store.h"
#include "cs_util.h"

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_GET,
    ST_PUT,
    ST_DELETE,
    ST_PENDING,
    ST_CHANNEL,
    ST_ITEMS,
    ST_OWNED_PAGE,
    ST_OWNER_CHANNELS,
    ST_STATE_GET,
    ST_STATE_PUT,
    ST_SHOWN_PAGE,
    ST_CONV_GET,
    ST_CONV_PUT,
    ST_ITEMS_PAGE,
    ST_QUIET_ON,
    ST_QUIET_OFF,
    ST_CHANNEL_ADD,
    ST_CHANNEL_DELETE,
    ST_CHANNEL_POLICY,
    ST_DISPLAY_NAME,
    ST_STATS_PUT,
    ST_RESOURCE_CLEAR,
    ST_RESOURCE_PUT,
    ST_LEASE_PUT,
    ST_LEASE_DELETE,
    ST_LEASES_ALL,
    ST_RW_PUT,
    ST_RW_DELETE,
    ST_RW_ALL,
    ST_VIA_PUT,
    ST_VIA_DELETE,
    ST_VIA_EACH,
    ST_LEASES_OF,
    ST_PREP_JID,
    ST_PREP_OWNER,
    ST_COUNT
};

static const char *const sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_GET] = "SELECT subscription, ask, pending_in, approved FROM roster"
               " WHERE channel = ?1 AND jid = ?2",
    [ST_PUT] = "INSERT INTO roster (channel, jid, subscription, ask, pending_in, approved)"
               " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
               " ON CONFLICT (channel, jid) DO UPDATE SET subscription = excluded.subscription,"
               " ask = excluded.ask, pending_in = excluded.pending_in,"
               " approved = excluded.approved",
    [ST_DELETE] = "DELETE FROM roster WHERE channel = ?1 AND jid = ?2"
                  " AND name IS NULL AND groups IS NULL",
    /* Rows counted in C up to the limit: the partial index roster_pending
     * holds only pending requests, so the work is min(pending, limit). */
    [ST_PENDING] = "SELECT 1 FROM roster WHERE channel = ?1 AND pending_in = 1 LIMIT ?2",
    [ST_CHANNEL] = "SELECT name, owner, policy FROM channel WHERE name = ?1",
    [ST_ITEMS] = "SELECT jid, subscription, ask, pending_in, approved FROM roster"
                 " WHERE channel = ?1",
    /* The queries below each read their rows from one index, in its order,
     * and stop at the limit: a page costs its rows, not the table.  Every
     * one of them is checked with EXPLAIN QUERY PLAN in check_store. */
    /* The partial index channel_owned holds only channels with an owner. */
    [ST_OWNED_PAGE] = "SELECT name, owner, policy FROM channel"
                      " WHERE owner IS NOT NULL AND name > ?1 ORDER BY name LIMIT ?2",
    /* channel_by_owner (owner, name). */
    [ST_OWNER_CHANNELS] = "SELECT name, owner, policy FROM channel WHERE owner = ?1"
                          " ORDER BY name LIMIT ?2",
    /* The primary key of channel_state. */
    [ST_STATE_GET] = "SELECT last_seen, shown FROM channel_state WHERE channel = ?1",
    [ST_STATE_PUT] = "INSERT INTO channel_state (channel, last_seen, shown) VALUES (?1, ?2, ?3)"
                     " ON CONFLICT (channel) DO UPDATE SET last_seen = excluded.last_seen,"
                     " shown = excluded.shown",
    /* The partial index channel_state_shown holds only shown = 1. */
    [ST_SHOWN_PAGE] = "SELECT channel FROM channel_state WHERE shown = 1 AND channel > ?1"
                      " ORDER BY channel LIMIT ?2",
    /* The primary key (owner, contact) of conversation. */
    [ST_CONV_GET] = "SELECT channel, via FROM conversation WHERE owner = ?1 AND contact = ?2",
    [ST_CONV_PUT] =
        "INSERT INTO conversation (owner, contact, channel, via) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT (owner, contact) DO UPDATE SET channel = excluded.channel,"
        " via = excluded.via",
    /* The primary key (channel, jid).  No LIMIT: rows that do not parse
     * are skipped, and the page stops in C once limit rows were passed. */
    [ST_ITEMS_PAGE] = "SELECT jid, subscription, ask, pending_in, approved FROM roster"
                      " WHERE channel = ?1 AND jid > ?2 ORDER BY jid",
    /* Our own writes are not logged for ourselves (change_log, schema 4). */
    [ST_QUIET_ON] = "UPDATE log_control SET quiet = 1",
    [ST_QUIET_OFF] = "UPDATE log_control SET quiet = 0",
    /* Channel rows chanstatd writes itself (registration, ad-hoc commands). */
    [ST_CHANNEL_ADD] = "INSERT INTO channel (name, owner, policy) VALUES (?1, ?2, ?3)",
    [ST_CHANNEL_DELETE] = "DELETE FROM channel WHERE name = ?1",
    [ST_CHANNEL_POLICY] = "UPDATE channel SET policy = ?2 WHERE name = ?1",
    /* A JID written by hand in another spelling, stored prepared
     * (roster_prepare_jid); never onto a row of the prepared JID. */
    [ST_PREP_JID] = "UPDATE roster SET jid = ?3 WHERE channel = ?1 AND jid = ?2 AND NOT EXISTS"
                    " (SELECT 1 FROM roster WHERE channel = ?1 AND jid = ?3)",
    [ST_PREP_OWNER] = "UPDATE channel SET owner = ?3 WHERE name = ?1 AND owner = ?2",
    [ST_DISPLAY_NAME] = "SELECT display_name FROM channel WHERE name = ?1",
    /* What admins read (chanstatctl stats/status), written once a second. */
    [ST_STATS_PUT] = "INSERT INTO stats (name, value, updated) VALUES (?1, ?2, ?3)"
                     " ON CONFLICT (name) DO UPDATE SET value = excluded.value,"
                     " updated = excluded.updated",
    [ST_RESOURCE_CLEAR] = "DELETE FROM channel_resource WHERE channel = ?1",
    [ST_RESOURCE_PUT] = "INSERT INTO channel_resource (channel, resource, show, status,"
                        " priority, since) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    /* Federation: leases at a home, remote watchers at a status service. */
    [ST_LEASE_PUT] = "INSERT INTO node_lease (channel, node, expires) VALUES (?1, ?2, ?3)"
                     " ON CONFLICT (channel, node) DO UPDATE SET expires = excluded.expires",
    [ST_LEASE_DELETE] = "DELETE FROM node_lease WHERE channel = ?1 AND node = ?2",
    [ST_LEASES_ALL] = "SELECT channel, node, expires FROM node_lease",
    [ST_RW_PUT] = "INSERT INTO remote_watcher (remote, jid, state) VALUES (?1, ?2, ?3)"
                  " ON CONFLICT (remote, jid) DO UPDATE SET state = excluded.state",
    [ST_RW_DELETE] = "DELETE FROM remote_watcher WHERE remote = ?1 AND jid = ?2",
    [ST_RW_ALL] = "SELECT remote, jid, state FROM remote_watcher ORDER BY remote",
    [ST_VIA_PUT] = "INSERT INTO watcher_via (channel, jid, node) VALUES (?1, ?2, ?3)"
                   " ON CONFLICT (channel, jid) DO UPDATE SET node = excluded.node",
    [ST_VIA_DELETE] = "DELETE FROM watcher_via WHERE channel = ?1 AND jid = ?2",
    [ST_VIA_EACH] = "SELECT jid, node, NULL FROM watcher_via WHERE channel = ?1",
    [ST_LEASES_OF] = "SELECT node, expires, NULL FROM node_lease WHERE channel = ?1",
};

struct roster {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    bool in_tx;
};

struct roster *roster_new(struct store *store, char *err, size_t errlen)
{
    struct roster *r = xcalloc(1, sizeof(*r));
    r->db = store_handle(store);
    if (store_prepare(store, sql, ST_COUNT, r->st, "roster", err, errlen) != 0) {
        roster_free(&r);
        return NULL;
    }
    return r;
}

void roster_free(struct roster **rp)
{
    struct roster *r = *rp;
    if (r == NULL)
        return;
    if (r->in_tx)
        roster_tx_rollback(r);
    store_finalize(r->st, ST_COUNT);
    free(r);
    *rp = NULL;
}

/* Steps a statement that returns no rows, unless binding its parameters
 * failed (bound is the first failing bind's code), and resets it.
 * 0 or CS_EDB. */
static int run_bound(struct roster *r, enum stmt_id id, int bound)
{
    int rc = bound == SQLITE_OK ? sqlite3_step(r->st[id]) : bound;
    return store_end(r->st[id], rc == SQLITE_ROW ? SQLITE_DONE : rc, "%s", sql[id]);
}

static int run(struct roster *r, enum stmt_id id)
{
    return run_bound(r, id, SQLITE_OK);
}

int roster_tx_begin(struct roster *r)
{
    if (r->in_tx)
        return 0;
    if (run(r, ST_BEGIN) != 0)
        return CS_EDB;
    if (run(r, ST_QUIET_ON) != 0) {
        run(r, ST_ROLLBACK);
        return CS_EDB;
    }
    r->in_tx = true;
    return 0;
}

int roster_tx_commit(struct roster *r)
{
    if (!r->in_tx)
        return 0;
    r->in_tx = false;
    if (run(r, ST_QUIET_OFF) != 0 || run(r, ST_COMMIT) != 0) {
        run(r, ST_ROLLBACK);
        return CS_EDB;
    }
    return 0;
}

void roster_tx_rollback(struct roster *r)
{
    if (r->in_tx) {
        r->in_tx = false;
        run(r, ST_ROLLBACK);
    }
}

static int row_from_stmt(sqlite3_stmt *st, int col, struct sub_row *row)
{
    const char *sub = (const char *)sqlite3_column_text(st, col);
    if (sub == NULL || sub_from_columns(sub, sqlite3_column_int(st, col + 1),
                                        sqlite3_column_int(st, col + 2), row) != 0)
        return CS_EINVAL;
    row->approved = sqlite3_column_int(st, col + 3) != 0;
    return 0;
}

int roster_get(struct roster *r, const char *channel, const char *jid, struct sub_row *row)
{
    sqlite3_stmt *st = r->st[ST_GET];
    int rc, ret = 0;
    row->state = SUB_NONE;
    row->approved = false;
    rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, jid, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && row_from_stmt(st, 0, row) != 0) {
        /* No Appendix A state (the CHECKs forbid it), or no memory. */
        log_error("store: reading roster %s/%s: unreadable row", channel, jid);
        row->state = SUB_NONE;
        row->approved = false;
        ret = CS_EDB;
    } else if (rc == SQLITE_DONE) {
        ret = CS_ENOTFOUND;
    }
    if (store_end(st, rc, "reading roster %s/%s", channel, jid) != 0)
        return CS_EDB;
    return ret;
}

/* Binds the columns of an upsert of (channel, jid); the first failing
 * bind's code, or SQLITE_OK. */
static int bind_put(sqlite3_stmt *st, const char *channel, const char *jid, const char *sub,
                    bool ask, bool in, bool approved)
{
    int rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, jid, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 3, sub, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 4, ask);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 5, in);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 6, approved);
    return rc;
}

int roster_put(struct roster *r, const char *channel, const char *jid, const struct sub_row *row)
{
    const char *sub;
    bool ask, in;
    int rc;

    sub_to_columns(row->state, &sub, &ask, &in);
    if (row->state != SUB_NONE || row->approved)
        return run_bound(r, ST_PUT,
                         bind_put(r->st[ST_PUT], channel, jid, sub, ask, in, row->approved));
    rc = sqlite3_bind_text(r->st[ST_DELETE], 1, channel, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(r->st[ST_DELETE], 2, jid, -1, SQLITE_STATIC);
    if (run_bound(r, ST_DELETE, rc) != 0)
        return CS_EDB;
    if (sqlite3_changes(r->db) == 0) {
        /* An admin row with a name or groups stays, at None.  Failing to
         * read it is a failure: it would keep its old state. */
        struct sub_row cur;
        rc = roster_get(r, channel, jid, &cur);
        if (rc == CS_EDB)
            return CS_EDB;
        if (rc == 0 && (cur.state != SUB_NONE || cur.approved))
            return run_bound(r, ST_PUT,
                             bind_put(r->st[ST_PUT], channel, jid, "none", false, false, false));
    }
    return 0;
}

int roster_pending_in(struct roster *r, const char *channel, int limit, int *count_r)
{
    sqlite3_stmt *st = r->st[ST_PENDING];
    int rc, n = 0;

    *count_r = 0;
    if (limit <= 0)
        return 0; /* SQLite reads a negative LIMIT as none */
    rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 2, limit);
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            n++;
    }
    if (store_end(st, rc, "counting pending requests of %s", channel) != 0)
        return CS_EDB;
    *count_r = n;
    return 0;
}

/* Steps a channel query, calling cb per row, and resets it; *n_r = the
 * rows passed to cb, also on failure.  0 or CS_EDB. */
static int each_channel_row(struct roster *r, sqlite3_stmt *st, roster_channel_cb *cb, void *ud,
                            int *n_r)
{
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        enum channel_policy p;
        /* Asked before the text: a NULL owner is "no owner", but NULL text
         * for a non-NULL value (or for the NOT NULL name and policy) is
         * SQLite out of memory, not a row to pass on. */
        bool has_owner = sqlite3_column_type(st, 1) != SQLITE_NULL;
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *owner = (const char *)sqlite3_column_text(st, 1);
        const char *pol = (const char *)sqlite3_column_text(st, 2);
        if (name == NULL || pol == NULL || (has_owner && owner == NULL)) {
            rc = SQLITE_NOMEM;
            break;
        }
        if (channel_policy_parse(pol, &p) != 0)
            p = POLICY_CLOSED; /* cannot happen with the CHECK; fail closed */
        cb(ud, name, owner, p);
        n++;
    }
    *n_r = n;
    return store_end(st, rc, "reading channels");
}

int roster_find_channel(struct roster *r, const char *name, roster_channel_cb *cb, void *ud)
{
    sqlite3_stmt *st = r->st[ST_CHANNEL];
    int n, rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    if (rc != SQLITE_OK)
        return store_end(st, rc, "reading channel %s", name);
    if (each_channel_row(r, st, cb, ud, &n) != 0)
        return CS_EDB;
    return n == 0 ? CS_ENOTFOUND : 0;
}

int roster_each_item(struct roster *r, const char *channel, roster_item_cb *cb, void *ud)
{
    sqlite3_stmt *st = r->st[ST_ITEMS];
    int rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            struct sub_row row;
            const char *jid = (const char *)sqlite3_column_text(st, 0);
            if (jid == NULL) {
                rc = SQLITE_NOMEM; /* NOT NULL column: no memory */
                break;
            }
            if (row_from_stmt(st, 1, &row) != 0)
                continue;
            cb(ud, jid, &row);
        }
    }
    return store_end(st, rc, "listing roster of %s", channel);
}

/* Binds after (NULL = "") and limit as ?1 and ?2 of a page query, steps
 * it through each_channel_row and stores the rows passed in *n_r.  The
 * bound strings are copies: cb may overwrite the caller's cursor. */
static int channel_page(struct roster *r, enum stmt_id id, const char *key, int limit,
                        roster_channel_cb *cb, void *ud, int *n_r)
{
    sqlite3_stmt *st = r->st[id];
    int rc;

    *n_r = 0;
    if (limit <= 0)
        return 0;
    rc = sqlite3_bind_text(st, 1, key ? key : "", -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 2, limit);
    if (rc != SQLITE_OK)
        return store_end(st, rc, "reading channels after '%s'", key ? key : "");
    return each_channel_row(r, st, cb, ud, n_r);
}

int roster_owned_page(struct roster *r, const char *after, int limit, roster_channel_cb *cb,
                      void *ud, int *n_r)
{
    return channel_page(r, ST_OWNED_PAGE, after, limit, cb, ud, n_r);
}

int roster_channels_of_owner(struct roster *r, const char *owner, int limit, roster_channel_cb *cb,
                             void *ud)
{
    int n;
    if (owner == NULL)
        return 0; /* no channel has the owner NULL; "owner = NULL" would match none */
    return channel_page(r, ST_OWNER_CHANNELS, owner, limit, cb, ud, &n);
}

int roster_state_get(struct roster *r, const char *channel, int64_t *last_seen_r, bool *shown_r)
{
    sqlite3_stmt *st = r->st[ST_STATE_GET];
    int rc;

    *last_seen_r = 0;
    *shown_r = false;
    rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *last_seen_r = sqlite3_column_int64(st, 0);
        *shown_r = sqlite3_column_int(st, 1) != 0;
    }
    return store_end(st, rc, "reading the state of %s", channel);
}

/* Steps a write binding texts (NULL binds NULL) then integers, in the
 * open transaction (started if none is).  0 or CS_EDB. */
static int put_row(struct roster *r, enum stmt_id id, const char *const *texts, int ntexts,
                   const int64_t *ints, int nints, const char *what)
{
    sqlite3_stmt *st = r->st[id];
    int rc = SQLITE_OK, i;
    if (roster_tx_begin(r) != 0)
        return CS_EDB;
    for (i = 0; i < ntexts && rc == SQLITE_OK; i++)
        rc = texts[i] ? sqlite3_bind_text(st, i + 1, texts[i], -1, SQLITE_TRANSIENT)
                      : sqlite3_bind_null(st, i + 1);
    for (int k = 0; k < nints && rc == SQLITE_OK; k++)
        rc = sqlite3_bind_int64(st, i + k + 1, ints[k]);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    return store_end(st, rc, "%s", what);
}

int roster_state_put(struct roster *r, const char *channel, int64_t last_seen, bool shown)
{
    const char *t[] = {channel};
    const int64_t v[] = {last_seen, shown ? 1 : 0};
    return put_row(r, ST_STATE_PUT, t, 1, v, 2, "writing the state of a channel");
}

int roster_shown_page(struct roster *r, const char *after, int limit, roster_name_cb *cb, void *ud,
                      int *n_r)
{
    sqlite3_stmt *st = r->st[ST_SHOWN_PAGE];
    int rc, n = 0;

    *n_r = 0;
    if (limit <= 0)
        return 0;
    rc = sqlite3_bind_text(st, 1, after ? after : "", -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 2, limit);
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 0);
            if (name == NULL) {
                rc = SQLITE_NOMEM; /* a primary key: NULL means no memory */
                break;
            }
            cb(ud, name);
            n++;
        }
    }
    *n_r = n;
    return store_end(st, rc, "reading shown channels after '%s'", after ? after : "");
}

int roster_conv_get(struct roster *r, const char *owner, const char *contact, char **channel_r,
                    char **via_r)
{
    sqlite3_stmt *st = r->st[ST_CONV_GET];
    int rc;

    *channel_r = NULL;
    *via_r = NULL;
    rc = sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, contact, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 0);
        const char *v = (const char *)sqlite3_column_text(st, 1);
        if (c != NULL)
            *channel_r = xstrdup(c);
        else
            rc = SQLITE_NOMEM; /* NOT NULL column: NULL means no memory */
        if (v != NULL)
            *via_r = xstrdup(v);
    }
    return store_end(st, rc, "reading the conversation of %s with %s", owner, contact);
}

int roster_conv_put(struct roster *r, const char *owner, const char *contact, const char *channel,
                    const char *via)
{
    sqlite3_stmt *st = r->st[ST_CONV_PUT];
    int rc;

    if (roster_tx_begin(r) != 0)
        return CS_EDB;
    rc = sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, contact, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 3, channel, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = via ? sqlite3_bind_text(st, 4, via, -1, SQLITE_STATIC) : sqlite3_bind_null(st, 4);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        /* The foreign key: the channel is gone.  Only this statement was
         * undone; the transaction and its other writes stay. */
        (void)sqlite3_reset(st);
        (void)sqlite3_clear_bindings(st);
        return CS_ENOTFOUND;
    }
    return store_end(st, rc, "writing the conversation of %s with %s", owner, contact);
}

int roster_items_page(struct roster *r, const char *channel, const char *after, int limit,
                      roster_item_cb *cb, void *ud, int *n_r)
{
    sqlite3_stmt *st = r->st[ST_ITEMS_PAGE];
    int rc, n = 0;

    *n_r = 0;
    if (limit <= 0)
        return 0;
    rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, after ? after : "", -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) {
        while (n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            struct sub_row row;
            const char *jid = (const char *)sqlite3_column_text(st, 0);
            const char *sub = (const char *)sqlite3_column_text(st, 1);
            if (jid == NULL || sub == NULL) {
                rc = SQLITE_NOMEM; /* NOT NULL columns: no memory */
                break;
            }
            if (row_from_stmt(st, 1, &row) != 0) {
                /* Cannot pass the CHECKs; logged, and the page reads on
                 * so that n < limit still means the end. */
                log_error("store: roster of %s: skipping unreadable row '%s'", channel, jid);
                continue;
            }
            cb(ud, jid, &row);
            n++;
        }
    }
    *n_r = n;
    return store_end(st, rc, "reading the roster of %s after '%s'", channel, after ? after : "");
}

const char *channel_policy_name(enum channel_policy p)
{
    static const char *const names[] = {"open", "approve", "closed"};
    return (unsigned)p < CS_ARRAY_SIZE(names) ? names[p] : "?";
}

int channel_policy_parse(const char *s, enum channel_policy *p)
{
    for (int i = POLICY_OPEN; i <= POLICY_CLOSED; i++) {
        if (strcmp(s, channel_policy_name((enum channel_policy)i)) == 0) {
            *p = (enum channel_policy)i;
            return 0;
        }
    }
    return CS_EINVAL;
}

/* Binds text parameters 1..n (NULL binds NULL) and steps a write. */
static int write_texts(struct roster *r, enum stmt_id id, int n, const char *const *v)
{
    sqlite3_stmt *st = r->st[id];
    int rc = SQLITE_OK;
    for (int i = 0; i < n && rc == SQLITE_OK; i++)
        rc = v[i] ? sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_TRANSIENT)
                  : sqlite3_bind_null(st, i + 1);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        (void)sqlite3_reset(st);
        return CS_EEXIST;
    }
    return store_end(st, rc, "%s", sql[id]);
}

int roster_channel_add(struct roster *r, const char *name, const char *owner,
                       enum channel_policy policy)
{
    const char *v[] = {name, owner, channel_policy_name(policy)};
    if (roster_tx_begin(r) != 0)
        return CS_EDB;
    return write_texts(r, ST_CHANNEL_ADD, 3, v);
}

int roster_prepare_jid(struct roster *r, const char *channel, const char *stored,
                       const char *prepared, bool owner)
{
    const char *v[] = {channel, stored, prepared};
    int rc;
    if (roster_tx_begin(r) != 0)
        return CS_EDB;
    rc = write_texts(r, owner ? ST_PREP_OWNER : ST_PREP_JID, 3, v);
    if (rc == 0 && sqlite3_changes(r->db) == 0)
        rc = CS_ENOTFOUND;
    return rc;
}

int roster_channel_delete(struct roster *r, const char *name)
{
    const char *v[] = {name};
    if (roster_tx_begin(r) != 0)
        return CS_EDB;
    return write_texts(r, ST_CHANNEL_DELETE, 1, v);
}

int roster_channel_set_policy(struct roster *r, const char *name, enum channel_policy policy)
{
    const char *v[] = {name, channel_policy_name(policy)};
    if (roster_tx_begin(r) != 0)
        return CS_EDB;
    return write_texts(r, ST_CHANNEL_POLICY, 2, v);
}

int roster_display_name(struct roster *r, const char *name, char **display_r)
{
    sqlite3_stmt *st = r->st[ST_DISPLAY_NAME];
    int rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    *display_r = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (t == NULL)
            rc = SQLITE_NOMEM;
        else
            *display_r = xstrdup(t);
    }
    return store_end(st, rc, "reading the display name of %s", name);
}

int roster_stats_put(struct roster *r, const char *name, int64_t value, int64_t updated)
{
    const char *t[] = {name};
    const int64_t v[] = {value, updated};
    return put_row(r, ST_STATS_PUT, t, 1, v, 2, "storing a stat");
}

int roster_resources_clear(struct roster *r, const char *channel)
{
    const char *v[] = {channel};
    if (roster_tx_begin(r) != 0)
        return CS_EDB;
    return write_texts(r, ST_RESOURCE_CLEAR, 1, v);
}

int roster_resource_put(struct roster *r, const char *channel, const char *resource,
                        const char *show, const char *status, int priority, int64_t since)
{
    sqlite3_stmt *st = r->st[ST_RESOURCE_PUT];
    int rc;
    if (roster_tx_begin(r) != 0)
        return CS_EDB;
    rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, resource, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 3, show, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = status ? sqlite3_bind_text(st, 4, status, -1, SQLITE_TRANSIENT)
                    : sqlite3_bind_null(st, 4);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, 5, priority);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 6, since);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    return store_end(st, rc, "storing a resource of %s", channel);
}

int roster_lease_put(struct roster *r, const char *channel, const char *node, int64_t expires)
{
    const char *t[] = {channel, node};
    const int64_t v[] = {expires};
    return put_row(r, ST_LEASE_PUT, t, 2, v, 1, "storing a node's lease");
}

int roster_lease_delete(struct roster *r, const char *channel, const char *node)
{
    const char *v[] = {channel, node};
    if (roster_tx_begin(r) != 0)
        return CS_EDB;
    return write_texts(r, ST_LEASE_DELETE, 2, v);
}

/* Steps st, passing each row's first ncols (2 or 3) text columns to cb
 * (a missing third as NULL).  Returns the last sqlite3_step() code
 * (SQLITE_DONE at the end); *n_r counts the rows passed. */
static int step_rows(sqlite3_stmt *st, int ncols, roster_pair_cb *cb, void *ud, int *n_r)
{
    int rc;
    *n_r = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *a = (const char *)sqlite3_column_text(st, 0);
        const char *b = (const char *)sqlite3_column_text(st, 1);
        const char *c = ncols > 2 ? (const char *)sqlite3_column_text(st, 2) : NULL;
        if (a == NULL || b == NULL || (ncols > 2 && c == NULL))
            return SQLITE_NOMEM; /* NOT NULL columns: NULL means no memory */
        cb(ud, a, b, c);
        (*n_r)++;
    }
    return rc;
}

int roster_leases_all(struct roster *r, roster_pair_cb *cb, void *ud)
{
    sqlite3_stmt *st = r->st[ST_LEASES_ALL];
    int n;
    return store_end(st, step_rows(st, 3, cb, ud, &n), "reading the leases");
}

int roster_remote_watcher_put(struct roster *r, const char *remote, const char *jid,
                              const char *state)
{
    const char *v[] = {remote, jid, state};
    if (roster_tx_begin(r) != 0)
        return CS_EDB;
    return write_texts(r, ST_RW_PUT, 3, v) == CS_EEXIST ? CS_EDB : 0;
}

int roster_remote_watcher_delete(struct roster *r, const char *remote, const char *jid)
{
    const char *v[] = {remote, jid};
    if (roster_tx_begin(r) != 0)
        return CS_EDB;
    return write_texts(r, ST_RW_DELETE, 2, v);
}

int roster_remote_watchers(struct roster *r, roster_pair_cb *cb, void *ud)
{
    sqlite3_stmt *st = r->st[ST_RW_ALL];
    int n;
    return store_end(st, step_rows(st, 3, cb, ud, &n), "reading remote watchers");
}

int roster_via_put(struct roster *r, const char *channel, const char *jid, const char *node)
{
    const char *v[] = {channel, jid, node};
    if (roster_tx_begin(r) != 0)
        return CS_EDB;
    return write_texts(r, ST_VIA_PUT, 3, v) == 0 ? 0 : CS_EDB;
}

int roster_via_delete(struct roster *r, const char *channel, const char *jid)
{
    const char *v[] = {channel, jid};
    if (roster_tx_begin(r) != 0)
        return CS_EDB;
    return write_texts(r, ST_VIA_DELETE, 2, v);
}

static int pairs_of(struct roster *r, enum stmt_id id, const char *channel, roster_pair_cb *cb,
                    void *ud);

int roster_leases_of(struct roster *r, const char *channel, roster_pair_cb *cb, void *ud)
{
    return pairs_of(r, ST_LEASES_OF, channel, cb, ud);
}

int roster_via_each(struct roster *r, const char *channel, roster_pair_cb *cb, void *ud)
{
    return pairs_of(r, ST_VIA_EACH, channel, cb, ud);
}

/* Rows of (text, text) for one channel: cb(ud, a, b, NULL). */
static int pairs_of(struct roster *r, enum stmt_id id, const char *channel, roster_pair_cb *cb,
                    void *ud)
{
    sqlite3_stmt *st = r->st[id];
    int n, rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = step_rows(st, 2, cb, ud, &n);
    return store_end(st, rc, "%s (%s)", sql[id], channel);
}
