/* adminroster.c - the admin operations on what a channel holds: roster
 * rows and node leases, status, stored messages; the statistics; and the
 * output helpers of chanstatctl (times, JSON).  Validation and the SQLite
 * helpers come from admin.c (admin_priv.h). */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "admin_priv.h"
#include "cs_admin.h"
#include "cs_error.h"
#include "cs_store.h"
#include "cs_util.h"

/* ---- Roster rows ---- */

void admin_item_deinit(struct admin_item *it)
{
    free(it->channel);
    free(it->jid);
    free(it->name);
    free(it->groups);
    memset(it, 0, sizeof(*it));
}

#define ITEM_COLUMNS "channel, jid, subscription, ask, pending_in, approved, name, groups"

/* A row of ITEM_COLUMNS; strings borrowed from the statement. */
static void item_row(sqlite3_stmt *st, struct admin_item *it)
{
    memset(it, 0, sizeof(*it));
    it->channel = (char *)admin_col_text(st, 0);
    it->jid = (char *)admin_col_text(st, 1);
    cs_strlcpy(it->subscription, admin_col_text(st, 2) ? admin_col_text(st, 2) : "none",
               sizeof(it->subscription));
    it->ask = sqlite3_column_int64(st, 3) == 1;
    it->pending_in = sqlite3_column_int64(st, 4) == 1;
    it->approved = sqlite3_column_int64(st, 5) == 1;
    it->name = (char *)admin_col_text(st, 6);
    it->groups = (char *)admin_col_text(st, 7);
}

/* Reads row (channel, jid) into *it_r (owned copies).  0, CS_ENOTFOUND or
 * a database error. */
static int item_get(sqlite3 *db, const char *channel, const char *jid, struct admin_item *it_r,
                    char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc, r;
    memset(it_r, 0, sizeof(*it_r));
    r = admin_query(db, &st, err, errlen,
                    "SELECT " ITEM_COLUMNS " FROM roster WHERE channel = ?1 AND jid = ?2", 2,
                    channel, jid);
    if (r != 0)
        return r;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        item_row(st, it_r);
        it_r->channel = xstrdup(channel);
        it_r->jid = xstrdup(jid);
        it_r->name = admin_col_dup(st, 6);
        it_r->groups = admin_col_dup(st, 7);
        sqlite3_finalize(st);
        return 0;
    }
    r = admin_done(db, st, rc, err, errlen);
    return r != 0 ? r
                  : admin_fail(err, errlen, CS_ENOTFOUND,
                               "'%s' is not in the roster of channel '%s'", jid, channel);
}

static bool text_has_to(const char *sub)
{
    return strcmp(sub, "to") == 0 || strcmp(sub, "both") == 0;
}

static bool text_has_from(const char *sub)
{
    return strcmp(sub, "from") == 0 || strcmp(sub, "both") == 0;
}

/* Applies e to *it (owned strings) and clears what the new subscription
 * makes impossible (see admin_roster_add()). */
static void item_apply(struct admin_item *it, const struct admin_item_edit *e)
{
    if (e->subscription != NULL) {
        cs_strlcpy(it->subscription, e->subscription, sizeof(it->subscription));
        if (text_has_to(it->subscription))
            it->ask = false;
        if (text_has_from(it->subscription))
            it->pending_in = false;
        if (it->approved && (text_has_from(it->subscription) || it->pending_in))
            it->approved = false;
    }
    if (e->name != NULL) {
        free(it->name);
        it->name = e->name[0] != '\0' ? xstrdup(e->name) : NULL;
    }
    if (e->n_groups > 0) {
        struct strbuf sb = {0};
        for (size_t i = 0; i < e->n_groups; i++) {
            if (i > 0)
                strbuf_append_str(&sb, "\n");
            strbuf_append_str(&sb, e->groups[i]);
        }
        free(it->groups);
        it->groups = sb.data;
    }
}

static bool item_eq(const struct admin_item *a, const struct admin_item *b)
{
    return strcmp(a->subscription, b->subscription) == 0 && a->ask == b->ask &&
           a->pending_in == b->pending_in && a->approved == b->approved &&
           admin_str_eq(a->name, b->name) && admin_str_eq(a->groups, b->groups);
}

int admin_roster_add(struct store *store, const char *channel_in, const char *jid_in,
                     const struct admin_item_edit *e, struct admin_item *it_r,
                     enum admin_action *action_r, char *err, size_t errlen)
{
    sqlite3 *db = store_handle(store);
    struct admin_item old = {0};
    char *channel = NULL, *jid = NULL;
    bool exists = false;
    sqlite3_stmt *st = NULL;
    int r;

    memset(it_r, 0, sizeof(*it_r));
    *action_r = ADMIN_UNCHANGED;
    if ((r = admin_channel_name(channel_in, &channel, err, errlen)) != 0 ||
        (r = admin_bare_jid(jid_in, false, &jid, err, errlen)) != 0 ||
        (r = admin_item_edit_check(e, err, errlen)) != 0)
        goto out;

    if ((r = admin_tx_begin(db, true, err, errlen)) != 0)
        goto out;
    r = admin_channel_exists(db, channel, err, errlen);
    if (r == 0) {
        r = item_get(db, channel, jid, &old, err, errlen);
        exists = r == 0;
        if (r == CS_ENOTFOUND) {
            r = 0;
            old.channel = xstrdup(channel);
            old.jid = xstrdup(jid);
            cs_strlcpy(old.subscription, "none", sizeof(old.subscription));
        }
    }
    if (r == 0) {
        *it_r = old;
        it_r->channel = xstrdup(old.channel);
        it_r->jid = xstrdup(old.jid);
        it_r->name = old.name ? xstrdup(old.name) : NULL;
        it_r->groups = old.groups ? xstrdup(old.groups) : NULL;
        item_apply(it_r, e);
        *action_r = !exists ? ADMIN_ADDED : item_eq(&old, it_r) ? ADMIN_UNCHANGED : ADMIN_UPDATED;
    }
    /* jid stays out of the UPDATE: a row stored before schema 3 whose jid
     * the JID rules would refuse can still be edited. */
    if (r == 0 && *action_r == ADMIN_ADDED)
        r = admin_query(
            db, &st, err, errlen,
            "INSERT INTO roster (channel, jid, subscription, ask, pending_in, approved, name,"
            " groups) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            8, channel, jid, it_r->subscription, it_r->ask ? "1" : "0",
            it_r->pending_in ? "1" : "0", it_r->approved ? "1" : "0", it_r->name, it_r->groups);
    else if (r == 0 && *action_r == ADMIN_UPDATED)
        r = admin_query(
            db, &st, err, errlen,
            "UPDATE roster SET subscription = ?3, ask = ?4, pending_in = ?5, approved = ?6,"
            " name = ?7, groups = ?8 WHERE channel = ?1 AND jid = ?2",
            8, channel, jid, it_r->subscription, it_r->ask ? "1" : "0",
            it_r->pending_in ? "1" : "0", it_r->approved ? "1" : "0", it_r->name, it_r->groups);
    if (r == 0 && *action_r != ADMIN_UNCHANGED)
        r = admin_exec_stmt(db, st, err, errlen);
    r = admin_tx_end(db, r, err, errlen);
    if (r != 0) {
        admin_item_deinit(it_r);
        *action_r = ADMIN_UNCHANGED;
    }
out:
    admin_item_deinit(&old);
    free(jid);
    free(channel);
    return r;
}

int admin_roster_remove(struct store *store, const char *channel_in, const char *jid_in, char *err,
                        size_t errlen)
{
    sqlite3 *db = store_handle(store);
    char *channel = NULL, *jid = NULL;
    sqlite3_stmt *st;
    int r;

    if ((r = admin_channel_name(channel_in, &channel, err, errlen)) != 0 ||
        (r = admin_bare_jid(jid_in, false, &jid, err, errlen)) != 0)
        goto out;
    if ((r = admin_tx_begin(db, true, err, errlen)) != 0)
        goto out;
    r = admin_channel_exists(db, channel, err, errlen);
    if (r == 0)
        r = admin_query(db, &st, err, errlen, "DELETE FROM roster WHERE channel = ?1 AND jid = ?2",
                        2, channel, jid);
    if (r == 0)
        r = admin_exec_stmt(db, st, err, errlen);
    if (r == 0 && sqlite3_changes(db) == 0)
        r = admin_fail(err, errlen, CS_ENOTFOUND, "'%s' is not in the roster of channel '%s'", jid,
                       channel);
    r = admin_tx_end(db, r, err, errlen);
out:
    free(jid);
    free(channel);
    return r;
}

/* Passes every row of a query on ITEM_COLUMNS to cb (through sub_cb when
 * kind >= 0). */
static int each_item(sqlite3 *db, const char *sql, const char *channel, admin_item_cb *cb,
                     admin_sub_cb *sub_cb, enum admin_sub_kind kind, void *ud, char *err,
                     size_t errlen)
{
    sqlite3_stmt *st;
    int rc, r = admin_query(db, &st, err, errlen, sql, 1, channel);
    if (r != 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct admin_item it;
        item_row(st, &it);
        if (it.channel == NULL || it.jid == NULL)
            continue;
        if (sub_cb != NULL)
            sub_cb(ud, kind, &it);
        else
            cb(ud, &it);
    }
    return admin_done(db, st, rc, err, errlen);
}

int admin_roster_list(struct store *store, const char *channel_in, admin_item_cb *cb, void *ud,
                      char *err, size_t errlen)
{
    sqlite3 *db = store_handle(store);
    char *channel;
    int r;

    if ((r = admin_channel_name(channel_in, &channel, err, errlen)) != 0)
        return r;
    if ((r = admin_tx_begin(db, false, err, errlen)) == 0) {
        r = admin_channel_exists(db, channel, err, errlen);
        if (r == 0)
            r = each_item(db, "SELECT " ITEM_COLUMNS " FROM roster WHERE channel = ?1 ORDER BY jid",
                          channel, cb, NULL, ADMIN_WATCHER, ud, err, errlen);
        r = admin_tx_end(db, r, err, errlen);
    }
    free(channel);
    return r;
}

int admin_subscriptions(struct store *store, const char *channel_in, admin_sub_cb *cb, void *ud,
                        char *err, size_t errlen)
{
    static const char *const sql[] = {
        [ADMIN_WATCHER] = "SELECT " ITEM_COLUMNS " FROM roster WHERE channel = ?1"
                          " AND subscription IN ('from', 'both') ORDER BY jid",
        [ADMIN_PENDING_IN] = "SELECT " ITEM_COLUMNS " FROM roster WHERE channel = ?1"
                             " AND pending_in = 1 ORDER BY jid",
        [ADMIN_PENDING_OUT] = "SELECT " ITEM_COLUMNS " FROM roster WHERE channel = ?1"
                              " AND ask = 1 ORDER BY jid",
    };
    sqlite3 *db = store_handle(store);
    char *channel;
    int r;

    if ((r = admin_channel_name(channel_in, &channel, err, errlen)) != 0)
        return r;
    if ((r = admin_tx_begin(db, false, err, errlen)) == 0) {
        r = admin_channel_exists(db, channel, err, errlen);
        for (int k = ADMIN_WATCHER; k <= ADMIN_PENDING_OUT && r == 0; k++)
            r = each_item(db, sql[k], channel, NULL, cb, (enum admin_sub_kind)k, ud, err, errlen);
        r = admin_tx_end(db, r, err, errlen);
    }
    free(channel);
    return r;
}

int admin_node_leases(struct store *store, const char *channel_in, admin_lease_cb *cb, void *ud,
                      char *err, size_t errlen)
{
    sqlite3 *db = store_handle(store);
    sqlite3_stmt *st;
    char *channel;
    int r, rc;

    if ((r = admin_channel_name(channel_in, &channel, err, errlen)) != 0)
        return r;
    if ((r = admin_tx_begin(db, false, err, errlen)) == 0) {
        r = admin_channel_exists(db, channel, err, errlen);
        if (r == 0)
            r = admin_query(db, &st, err, errlen,
                            "SELECT node, expires FROM node_lease WHERE channel = ?1 ORDER BY node",
                            1, channel);
        if (r == 0) {
            while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *node = admin_col_text(st, 0);
                if (node)
                    cb(ud, node, (long long)sqlite3_column_int64(st, 1));
            }
            r = admin_done(db, st, rc, err, errlen);
        }
        r = admin_tx_end(db, r, err, errlen);
    }
    free(channel);
    return r;
}

int admin_front_watchers(struct store *store, const char *address, admin_lease_cb *cb, void *ud,
                         char *err, size_t errlen)
{
    sqlite3 *db = store_handle(store);
    sqlite3_stmt *st;
    int r, rc;
    if ((r = admin_tx_begin(db, false, err, errlen)) == 0) {
        r = admin_query(db, &st, err, errlen,
                        "SELECT jid, state FROM remote_watcher WHERE remote = ?1 ORDER BY jid", 1,
                        address);
        if (r == 0) {
            while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *jid = admin_col_text(st, 0), *state = admin_col_text(st, 1);
                if (jid && state)
                    cb(ud, jid, strcmp(state, "watching") == 0 ? 1 : 0);
            }
            r = admin_done(db, st, rc, err, errlen);
        }
        r = admin_tx_end(db, r, err, errlen);
    }
    return r;
}

/* ---- Status ---- */

void admin_status_deinit(struct admin_status *st)
{
    for (size_t i = 0; i < st->n_res; i++) {
        free(st->res[i].resource);
        free(st->res[i].show);
        free(st->res[i].status);
    }
    free(st->res);
    free(st->channel);
    free(st->owner);
    memset(st, 0, sizeof(*st));
}

static bool show_available(const char *show)
{
    return show != NULL && strcmp(show, "unavailable") != 0;
}

int admin_status(struct store *store, const char *channel_in, struct admin_status *st_r, char *err,
                 size_t errlen)
{
    sqlite3 *db = store_handle(store);
    struct admin_channel c = {0};
    size_t cap = 0;
    sqlite3_stmt *st;
    char *channel;
    int rc, r;

    memset(st_r, 0, sizeof(*st_r));
    if ((r = admin_channel_name(channel_in, &channel, err, errlen)) != 0)
        return r;
    if ((r = admin_tx_begin(db, false, err, errlen)) != 0)
        goto out;
    r = admin_channel_get(db, channel, &c, err, errlen);
    /* The same order as the aggregation in src/rules/status.c: the first row,
     * if available, is the aggregate. */
    if (r == 0)
        r = admin_query(db, &st, err, errlen,
                        "SELECT resource, show, status, priority, since FROM channel_resource"
                        " WHERE channel = ?1"
                        " ORDER BY show = 'unavailable', priority DESC, since DESC, resource",
                        1, channel);
    if (r == 0) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            struct admin_resource *res;
            if (admin_col_text(st, 0) == NULL)
                continue;
            if (st_r->n_res == cap) {
                cap = cap ? 2 * cap : 4;
                st_r->res = xrealloc(st_r->res, cap * sizeof(*st_r->res));
            }
            res = &st_r->res[st_r->n_res++];
            res->resource = admin_col_dup(st, 0);
            res->show = xstrdup(admin_col_text(st, 1) ? admin_col_text(st, 1) : "unavailable");
            res->status = admin_col_dup(st, 2);
            res->priority = sqlite3_column_int64(st, 3);
            res->since = sqlite3_column_int64(st, 4);
        }
        r = admin_done(db, st, rc, err, errlen);
    }
    if (r == 0)
        r = admin_query(db, &st, err, errlen,
                        "SELECT last_seen, shown FROM channel_state WHERE channel = ?1", 1,
                        channel);
    if (r == 0) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            st_r->last_seen = sqlite3_column_int64(st, 0);
            st_r->shown = sqlite3_column_int64(st, 1) == 1;
            rc = sqlite3_step(st);
        }
        r = admin_done(db, st, rc, err, errlen);
    }
    r = admin_tx_end(db, r, err, errlen);
    if (r == 0) {
        st_r->channel = c.name;
        st_r->owner = c.owner;
        c.name = c.owner = NULL;
        if (st_r->n_res > 0 && show_available(st_r->res[0].show))
            st_r->best = &st_r->res[0];
    } else {
        admin_status_deinit(st_r);
    }
out:
    admin_channel_deinit(&c);
    free(channel);
    return r;
}

/* ---- Stored messages ---- */

int admin_offline_list(struct store *store, const char *channel_in, admin_message_cb *cb, void *ud,
                       char *err, size_t errlen)
{
    sqlite3 *db = store_handle(store);
    char *channel = NULL;
    sqlite3_stmt *st;
    int rc, r;

    if (channel_in != NULL && (r = admin_channel_name(channel_in, &channel, err, errlen)) != 0)
        return r;
    if ((r = admin_tx_begin(db, false, err, errlen)) != 0)
        goto out;
    if (channel != NULL) {
        r = admin_channel_exists(db, channel, err, errlen);
        if (r == 0)
            r = admin_query(
                db, &st, err, errlen,
                "SELECT id, channel, sender, stored, bytes FROM offline WHERE channel = ?1"
                " ORDER BY id",
                1, channel);
    } else {
        r = admin_query(db, &st, err, errlen,
                        "SELECT id, channel, sender, stored, bytes FROM offline ORDER BY id", 0);
    }
    if (r == 0) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            struct admin_message m = {
                .id = sqlite3_column_int64(st, 0),
                .channel = admin_col_text(st, 1),
                .sender = admin_col_text(st, 2),
                .stored = sqlite3_column_int64(st, 3),
                .bytes = sqlite3_column_int64(st, 4),
            };
            if (m.channel != NULL && m.sender != NULL)
                cb(ud, &m);
        }
        r = admin_done(db, st, rc, err, errlen);
    }
    r = admin_tx_end(db, r, err, errlen);
out:
    free(channel);
    return r;
}

int admin_offline_purge(struct store *store, const char *channel_in, int64_t *n_r, char *err,
                        size_t errlen)
{
    sqlite3 *db = store_handle(store);
    sqlite3_stmt *st;
    char *channel;
    int r;

    *n_r = 0;
    if ((r = admin_channel_name(channel_in, &channel, err, errlen)) != 0)
        return r;
    if ((r = admin_tx_begin(db, true, err, errlen)) == 0) {
        r = admin_channel_exists(db, channel, err, errlen);
        if (r == 0)
            r = admin_query(db, &st, err, errlen, "DELETE FROM offline WHERE channel = ?1", 1,
                            channel);
        if (r == 0)
            r = admin_exec_stmt(db, st, err, errlen);
        if (r == 0)
            *n_r = sqlite3_changes64(db);
        r = admin_tx_end(db, r, err, errlen);
        if (r != 0)
            *n_r = 0;
    }
    free(channel);
    return r;
}

/* ---- Statistics ---- */

int admin_stats(struct store *store, admin_stat_cb *cb, void *ud, char *err, size_t errlen)
{
    sqlite3 *db = store_handle(store);
    sqlite3_stmt *st;
    int rc, r = admin_query(db, &st, err, errlen,
                            "SELECT name, value, updated FROM stats ORDER BY name", 0);
    if (r != 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (admin_col_text(st, 0) != NULL)
            cb(ud, admin_col_text(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2));
    }
    return admin_done(db, st, rc, err, errlen);
}

/* ---- Output helpers ---- */

const char *admin_time_iso(int64_t t, char buf[ADMIN_TIME_LEN])
{
    struct tm tm;
    time_t tt = (time_t)t;
    if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL ||
        strftime(buf, ADMIN_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, ADMIN_TIME_LEN, "%" PRId64, t);
    return buf;
}

void admin_json_escape(struct strbuf *sb, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    strbuf_append(sb, "\"", 1);
    for (size_t i = 0; i < n;) {
        size_t k = admin_utf8_seq(u + i, n - i);
        unsigned char c = u[i];
        if (k == 0) {
            strbuf_append_str(sb, "\xef\xbf\xbd"); /* U+FFFD for a byte that is no UTF-8 */
            i++;
            continue;
        }
        if (k > 1) {
            strbuf_append(sb, u + i, k);
            i += k;
            continue;
        }
        switch (c) {
        case '"': strbuf_append_str(sb, "\\\""); break;
        case '\\': strbuf_append_str(sb, "\\\\"); break;
        case '\b': strbuf_append_str(sb, "\\b"); break;
        case '\f': strbuf_append_str(sb, "\\f"); break;
        case '\n': strbuf_append_str(sb, "\\n"); break;
        case '\r': strbuf_append_str(sb, "\\r"); break;
        case '\t': strbuf_append_str(sb, "\\t"); break;
        default:
            if (c < 0x20 || c == 0x7f)
                strbuf_printf(sb, "\\u%04x", c);
            else
                strbuf_append(sb, &c, 1);
        }
        i++;
    }
    strbuf_append(sb, "\"", 1);
}

/* Starts a value: the comma after the previous one, a new line, the
 * indentation, and the member name inside an object. */
static void json_value(struct admin_json *j, const char *key)
{
    if (j->comma)
        strbuf_append_str(&j->out, ",");
    if (j->depth > 0) {
        strbuf_append_str(&j->out, "\n");
        for (int i = 0; i < j->depth; i++)
            strbuf_append_str(&j->out, "  ");
    }
    if (key != NULL) {
        admin_json_escape(&j->out, key);
        strbuf_append_str(&j->out, ": ");
    }
    j->comma = true;
}

void admin_json_open(struct admin_json *j, const char *key, char bracket)
{
    json_value(j, key);
    strbuf_append(&j->out, &bracket, 1);
    j->depth++;
    j->comma = false;
}

void admin_json_close(struct admin_json *j, char bracket)
{
    char c = bracket == '{' || bracket == '}' ? '}' : ']';
    bool empty = !j->comma;
    j->depth--;
    if (!empty) {
        strbuf_append_str(&j->out, "\n");
        for (int i = 0; i < j->depth; i++)
            strbuf_append_str(&j->out, "  ");
    }
    strbuf_append(&j->out, &c, 1);
    j->comma = true;
    if (j->depth == 0)
        strbuf_append_str(&j->out, "\n");
}

void admin_json_str(struct admin_json *j, const char *key, const char *s)
{
    json_value(j, key);
    if (s == NULL)
        strbuf_append_str(&j->out, "null");
    else
        admin_json_escape(&j->out, s);
}

void admin_json_int(struct admin_json *j, const char *key, int64_t v)
{
    json_value(j, key);
    strbuf_printf(&j->out, "%" PRId64, v);
}

void admin_json_bool(struct admin_json *j, const char *key, bool v)
{
    json_value(j, key);
    strbuf_append_str(&j->out, v ? "true" : "false");
}

void admin_json_time(struct admin_json *j, const char *key, int64_t t)
{
    char buf[ADMIN_TIME_LEN];
    if (t <= 0)
        admin_json_str(j, key, NULL);
    else
        admin_json_str(j, key, admin_time_iso(t, buf));
}
