/* admin.c - the admin operations' validation, the SQLite helpers they
 * share (admin_priv.h) and the operations on channels.  Roster rows,
 * status, stored messages, statistics and the output helpers are in
 * adminroster.c, which builds on this file. */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "admin_priv.h"
#include "cs_admin.h"
#include "cs_error.h"
#include "cs_jid.h"
#include "cs_roster.h"
#include "cs_store.h"
#include "cs_text.h"
#include "cs_util.h"

int admin_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

int admin_exit_code(int err)
{
    switch (err) {
    case 0: return ADMIN_EXIT_OK;
    case CS_EINVAL:
    case CS_EEXIST: return ADMIN_EXIT_INVALID;
    case CS_ENOTFOUND: return ADMIN_EXIT_NOTFOUND;
    case CS_ECONFIG: return ADMIN_EXIT_USAGE;
    default: return ADMIN_EXIT_RUNTIME;
    }
}

const char *admin_action_name(enum admin_action a)
{
    static const char *const names[] = {"added", "updated", "unchanged", "removed"};
    return (unsigned)a < CS_ARRAY_SIZE(names) ? names[a] : "?";
}

/* ---- Text ---- */

/* The length of the well-formed UTF-8 sequence at s (n bytes left), or
 * 0 (cs_text.h). */
size_t admin_utf8_seq(const unsigned char *s, size_t n)
{
    uint32_t cp;
    return text_utf8_seq(s, n, &cp);
}

/* Is the well-formed sequence at s (len bytes) a character no text may
 * hold (cs_text.h)? */
static bool is_control(const unsigned char *s, size_t len)
{
    uint32_t cp;
    return text_utf8_seq(s, len, &cp) != len || text_forbidden(cp);
}

/* Input as it may appear inside '...' in a one-line message: control
 * characters and invalid bytes as \xHH, cut after about 80 bytes. */
static const char *quoted(const char *in, char *buf, size_t size)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n && o + 8 < size;) {
        size_t k = admin_utf8_seq(s + i, n - i);
        if (o > 80) {
            o += (size_t)snprintf(buf + o, size - o, "...");
            break;
        }
        if (k == 0 || is_control(s + i, k)) {
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", s[i]);
            i++;
        } else {
            memcpy(buf + o, s + i, k);
            o += k;
            i += k;
        }
    }
    buf[o < size ? o : size - 1] = '\0';
    return buf;
}
#define QUOTED_LEN 128

/* A display name, roster name or group: well-formed UTF-8 without control
 * characters, at most ADMIN_TEXT_MAX bytes; empty only if allowed. */
static int check_text(const char *s, const char *what, bool allow_empty, char *err, size_t errlen)
{
    size_t n = strlen(s);
    char q[QUOTED_LEN];
    if (n == 0 && !allow_empty)
        return admin_fail(err, errlen, CS_EINVAL, "%s must not be empty", what);
    if (n > ADMIN_TEXT_MAX)
        return admin_fail(err, errlen, CS_EINVAL, "%s is longer than %d bytes", what,
                          ADMIN_TEXT_MAX);
    if (!text_ok(s, n))
        return admin_fail(err, errlen, CS_EINVAL,
                          "%s '%s' is not UTF-8 text without control characters", what,
                          quoted(s, q, sizeof(q)));
    return 0;
}

/* ---- Validation ---- */

int admin_channel_name(const char *in, char **name_r, char *err, size_t errlen)
{
    char q[QUOTED_LEN];
    struct jid contact;
    char *name;
    int r;

    *name_r = NULL;
    /* chanstatd finds a channel by the localpart of the address, which
     * jid_parse() has prepared (nodeprep): the same preparation gives the
     * name it finds. */
    name = jid_prep_local(in);
    if (name == NULL)
        return admin_fail(
            err, errlen, CS_EINVAL,
            "'%s' is not a valid channel name (1 to %d bytes of UTF-8 that nodeprep accepts: "
            "no space, control character, any of \" & ' / : < > @, or mix of left-to-right "
            "and right-to-left letters)",
            quoted(in, q, sizeof(q)), JID_PART_MAX);
    /* An escaped '@' makes the address a relay address, never a channel. */
    r = jid_relay_parse(name, &contact);
    if (r != CS_ENOTFOUND) {
        if (r == 0)
            jid_deinit(&contact);
        free(name);
        return admin_fail(
            err, errlen, CS_EINVAL,
            "'%s' is not a valid channel name: it holds an escaped @ (\\40), so it reads "
            "as a relay address",
            quoted(in, q, sizeof(q)));
    }
    *name_r = name;
    return 0;
}

int admin_bare_jid(const char *in, bool need_local, char **jid_r, char *err, size_t errlen)
{
    char q[QUOTED_LEN];
    struct jid j;

    *jid_r = NULL;
    if (jid_parse(in, &j) != 0)
        return admin_fail(err, errlen, CS_EINVAL, "'%s' is not a valid JID",
                          quoted(in, q, sizeof(q)));
    if (j.resource != NULL) {
        jid_deinit(&j);
        return admin_fail(err, errlen, CS_EINVAL, "'%s' is not a bare JID",
                          quoted(in, q, sizeof(q)));
    }
    if (need_local && j.local == NULL) {
        jid_deinit(&j);
        return admin_fail(err, errlen, CS_EINVAL,
                          "'%s' cannot be an owner: an owner is an account, user@domain",
                          quoted(in, q, sizeof(q)));
    }
    *jid_r = jid_bare(&j);
    jid_deinit(&j);
    return 0;
}

static int check_policy(const char *s, enum channel_policy *p_r, char *err, size_t errlen)
{
    char q[QUOTED_LEN];
    if (channel_policy_parse(s, p_r) != 0)
        return admin_fail(err, errlen, CS_EINVAL, "'%s' is not a policy (open, approve or closed)",
                          quoted(s, q, sizeof(q)));
    return 0;
}

static int check_subscription(const char *s, char *err, size_t errlen)
{
    static const char *const subs[] = {"none", "to", "from", "both"};
    char q[QUOTED_LEN];
    for (size_t i = 0; i < CS_ARRAY_SIZE(subs); i++) {
        if (strcmp(s, subs[i]) == 0)
            return 0;
    }
    return admin_fail(err, errlen, CS_EINVAL, "'%s' is not a subscription (none, to, from or both)",
                      quoted(s, q, sizeof(q)));
}

int admin_channel_edit_check(const struct admin_channel_edit *e, char *err, size_t errlen)
{
    enum channel_policy p;
    char *owner;
    int r;
    if (e->owner != NULL && e->no_owner)
        return admin_fail(err, errlen, CS_EINVAL, "an owner and no owner at once");
    if (e->owner != NULL) {
        r = admin_bare_jid(e->owner, true, &owner, err, errlen);
        if (r != 0)
            return r;
        free(owner);
    }
    if (e->policy != NULL && (r = check_policy(e->policy, &p, err, errlen)) != 0)
        return r;
    if (e->display_name != NULL &&
        (r = check_text(e->display_name, "display name", true, err, errlen)) != 0)
        return r;
    return admin_props_check(e, err, errlen);
}

int admin_item_edit_check(const struct admin_item_edit *e, char *err, size_t errlen)
{
    int r;
    if (e->subscription != NULL && (r = check_subscription(e->subscription, err, errlen)) != 0)
        return r;
    if (e->name != NULL && (r = check_text(e->name, "roster name", true, err, errlen)) != 0)
        return r;
    for (size_t i = 0; i < e->n_groups; i++) {
        char q[QUOTED_LEN];
        /* The newline that separates groups is a control character, so no
         * valid group holds one. */
        if ((r = check_text(e->groups[i], "group", false, err, errlen)) != 0)
            return r;
        /* RFC 6121 2.1.2.2: no group twice in one item. */
        for (size_t k = 0; k < i; k++) {
            if (strcmp(e->groups[k], e->groups[i]) == 0)
                return admin_fail(err, errlen, CS_EINVAL, "group '%s' is given twice",
                                  quoted(e->groups[i], q, sizeof(q)));
        }
    }
    return 0;
}

bool admin_group_next(const char **p, const char **group_r, size_t *len_r)
{
    const char *s = *p;
    if (s == NULL)
        return false;
    while (*s == '\n')
        s++;
    if (*s == '\0') {
        *p = s;
        return false;
    }
    *group_r = s;
    *len_r = strcspn(s, "\n");
    *p = s + *len_r;
    return true;
}

/* ---- SQLite ---- */

/* A failed SQLite call as a CS_E* code with a message. */
static int db_fail(sqlite3 *db, int rc, char *err, size_t errlen)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return admin_fail(
            err, errlen, CS_EAGAIN,
            "the database is locked by another writer (waited [storage] busy_timeout_ms); "
            "try again");
    case SQLITE_READONLY: return admin_fail(err, errlen, CS_EREADONLY, "the database is read-only");
    case SQLITE_CONSTRAINT:
        return admin_fail(err, errlen, CS_EDB, "the database refused the change: %s",
                          sqlite3_errmsg(db));
    default: return admin_fail(err, errlen, CS_EDB, "database error: %s", sqlite3_errmsg(db));
    }
}

/* Prepares sql and binds the n text arguments that follow it (a NULL one
 * binds NULL).  0 with *st_r the caller's (sqlite3_finalize()), or a
 * CS_E* code with *st_r NULL. */
int admin_query(sqlite3 *db, sqlite3_stmt **st_r, char *err, size_t errlen, const char *sql, int n,
                ...)
{
    va_list ap;
    int rc = sqlite3_prepare_v2(db, sql, -1, st_r, NULL);
    if (rc != SQLITE_OK) {
        *st_r = NULL;
        return db_fail(db, rc, err, errlen);
    }
    va_start(ap, n);
    for (int i = 1; i <= n && rc == SQLITE_OK; i++) {
        const char *s = va_arg(ap, const char *);
        rc = s ? sqlite3_bind_text(*st_r, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(*st_r, i);
    }
    va_end(ap);
    if (rc != SQLITE_OK) {
        rc = db_fail(db, rc, err, errlen);
        sqlite3_finalize(*st_r);
        *st_r = NULL;
    }
    return rc;
}

/* Ends a statement stepped until rc: 0 after SQLITE_DONE, else the
 * error.  Finalizes it either way. */
int admin_done(sqlite3 *db, sqlite3_stmt *st, int rc, char *err, size_t errlen)
{
    int r = rc == SQLITE_DONE ? 0 : db_fail(db, rc, err, errlen);
    sqlite3_finalize(st);
    return r;
}

/* Runs a statement that returns no rows. */
int admin_exec_stmt(sqlite3 *db, sqlite3_stmt *st, char *err, size_t errlen)
{
    return admin_done(db, st, sqlite3_step(st), err, errlen);
}

const char *admin_col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

char *admin_col_dup(sqlite3_stmt *st, int i)
{
    const char *s = admin_col_text(st, i);
    return s ? xstrdup(s) : NULL;
}

/* Writes take the write lock at once, so what they read cannot change
 * before they write; reads take a snapshot. */
int admin_tx_begin(sqlite3 *db, bool write, char *err, size_t errlen)
{
    int rc = sqlite3_exec(db, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_fail(db, rc, err, errlen);
}

/* Commits when r is 0, else rolls back; returns r, or the commit's
 * error (rolled back too).  err keeps the first error's message. */
int admin_tx_end(sqlite3 *db, int r, char *err, size_t errlen)
{
    if (r == 0) {
        int rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return 0;
        r = db_fail(db, rc, err, errlen);
    }
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

/* ---- Channels ---- */

void admin_channel_deinit(struct admin_channel *c)
{
    free(c->name);
    free(c->owner);
    free(c->display_name);
    free(c->description);
    free(c->email);
    free(c->url);
    free(c->avatar_type);
    memset(c, 0, sizeof(*c));
}

#define CHANNEL_COLUMNS "name, owner, policy, display_name, created"

/* A row of CHANNEL_COLUMNS; strings borrowed from the statement. */
static void channel_row(sqlite3_stmt *st, struct admin_channel *c)
{
    memset(c, 0, sizeof(*c)); /* the properties are read by admin_channel_get only */
    c->name = (char *)admin_col_text(st, 0);
    c->owner = (char *)admin_col_text(st, 1);
    if (admin_col_text(st, 2) == NULL ||
        channel_policy_parse(admin_col_text(st, 2), &c->policy) != 0)
        c->policy = POLICY_CLOSED; /* the CHECK forbids it; fail closed as chanstatd does */
    c->display_name = (char *)admin_col_text(st, 3);
    c->created = sqlite3_column_int64(st, 4);
}

/* Reads channel name into *c_r (owned copies).  0, CS_ENOTFOUND or a
 * database error. */
int admin_channel_get(sqlite3 *db, const char *name, struct admin_channel *c_r, char *err,
                      size_t errlen)
{
    sqlite3_stmt *st;
    int rc, r;
    memset(c_r, 0, sizeof(*c_r));
    r = admin_query(db, &st, err, errlen, "SELECT " CHANNEL_COLUMNS " FROM channel WHERE name = ?1",
                    1, name);
    if (r != 0)
        return r;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        struct admin_channel b;
        channel_row(st, &b);
        c_r->name = xstrdup(b.name ? b.name : name);
        c_r->owner = b.owner ? xstrdup(b.owner) : NULL;
        c_r->policy = b.policy;
        c_r->display_name = b.display_name ? xstrdup(b.display_name) : NULL;
        c_r->created = b.created;
        sqlite3_finalize(st);
        r = admin_props_read(db, c_r->name, c_r, err, errlen);
        if (r != 0)
            admin_channel_deinit(c_r);
        return r;
    }
    r = admin_done(db, st, rc, err, errlen);
    return r != 0 ? r : admin_fail(err, errlen, CS_ENOTFOUND, "no such channel '%s'", name);
}

/* Is there a channel name?  0 (yes), CS_ENOTFOUND or a database error. */
int admin_channel_exists(sqlite3 *db, const char *name, char *err, size_t errlen)
{
    struct admin_channel c;
    int r = admin_channel_get(db, name, &c, err, errlen);
    admin_channel_deinit(&c);
    return r;
}

/* The validated, normalised inputs of channel add/set: *name_r and
 * *owner_r (NULL when not given) are the caller's to free; *display_r
 * borrows e's text (NULL when empty).  0 or an input error. */
static int edit_inputs(const char *name_in, const struct admin_channel_edit *e, char **name_r,
                       char **owner_r, enum channel_policy *policy_r, const char **display_r,
                       char *err, size_t errlen)
{
    int r;
    if ((r = admin_channel_name(name_in, name_r, err, errlen)) != 0 ||
        (r = admin_channel_edit_check(e, err, errlen)) != 0)
        return r;
    if (e->owner != NULL && (r = admin_bare_jid(e->owner, true, owner_r, err, errlen)) != 0)
        return r;
    if (e->policy != NULL && (r = check_policy(e->policy, policy_r, err, errlen)) != 0)
        return r;
    if (e->display_name != NULL && e->display_name[0] != '\0')
        *display_r = e->display_name;
    return 0;
}

int admin_channel_add(struct store *store, const char *name_in, const struct admin_channel_edit *e,
                      struct admin_channel *c_r, char *err, size_t errlen)
{
    sqlite3 *db = store_handle(store);
    enum channel_policy policy = POLICY_OPEN;
    char *name = NULL, *owner = NULL;
    const char *display = NULL;
    sqlite3_stmt *st = NULL;
    int r;

    memset(c_r, 0, sizeof(*c_r));
    if ((r = edit_inputs(name_in, e, &name, &owner, &policy, &display, err, errlen)) != 0)
        goto out;

    if ((r = admin_tx_begin(db, true, err, errlen)) != 0)
        goto out;
    r = admin_channel_exists(db, name, err, errlen);
    if (r == 0)
        r = admin_fail(err, errlen, CS_EEXIST, "channel '%s' already exists", name);
    else if (r == CS_ENOTFOUND)
        r = admin_query(
            db, &st, err, errlen,
            "INSERT INTO channel (name, owner, policy, display_name) VALUES (?1, ?2, ?3, ?4)", 4,
            name, owner, channel_policy_name(policy), display);
    if (r == 0)
        r = admin_exec_stmt(db, st, err, errlen);
    if (r == 0) {
        bool changed = false;
        r = admin_props_write(db, name, e, NULL, &changed, err, errlen);
    }
    if (r == 0)
        r = admin_channel_get(db, name, c_r, err, errlen);
    r = admin_tx_end(db, r, err, errlen);
    if (r != 0)
        admin_channel_deinit(c_r);
out:
    free(owner);
    free(name);
    return r;
}

bool admin_str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Sets one column of channel name when it differs (as set_column's
 * statement text says which). */
static int set_column(sqlite3 *db, const char *sql, const char *name, const char *value,
                      bool *changed, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int r = admin_query(db, &st, err, errlen, sql, 2, name, value);
    if (r == 0)
        r = admin_exec_stmt(db, st, err, errlen);
    if (r == 0)
        *changed = true;
    return r;
}

int admin_channel_set(struct store *store, const char *name_in, const struct admin_channel_edit *e,
                      struct admin_channel *c_r, enum admin_action *action_r, char *err,
                      size_t errlen)
{
    sqlite3 *db = store_handle(store);
    struct admin_channel old = {0};
    enum channel_policy policy = POLICY_OPEN;
    char *name = NULL, *owner = NULL;
    const char *display = NULL;
    bool changed = false;
    int r;

    memset(c_r, 0, sizeof(*c_r));
    *action_r = ADMIN_UNCHANGED;
    if ((r = edit_inputs(name_in, e, &name, &owner, &policy, &display, err, errlen)) != 0)
        goto out;

    if ((r = admin_tx_begin(db, true, err, errlen)) != 0)
        goto out;
    r = admin_channel_get(db, name, &old, err, errlen);
    /* Owner last: every change_log row this makes then carries the owner
     * before the edit. */
    if (r == 0 && e->display_name != NULL && !admin_str_eq(display, old.display_name))
        r = set_column(db, "UPDATE channel SET display_name = ?2 WHERE name = ?1", name, display,
                       &changed, err, errlen);
    if (r == 0)
        r = admin_props_write(db, name, e, &old, &changed, err, errlen);
    if (r == 0 && e->policy != NULL && policy != old.policy)
        r = set_column(db, "UPDATE channel SET policy = ?2 WHERE name = ?1", name,
                       channel_policy_name(policy), &changed, err, errlen);
    if (r == 0 && (e->owner != NULL || e->no_owner) && !admin_str_eq(owner, old.owner))
        r = set_column(db, "UPDATE channel SET owner = ?2 WHERE name = ?1", name, owner, &changed,
                       err, errlen);
    if (r == 0)
        r = admin_channel_get(db, name, c_r, err, errlen);
    r = admin_tx_end(db, r, err, errlen);
    if (r != 0)
        admin_channel_deinit(c_r);
    else
        *action_r = changed ? ADMIN_UPDATED : ADMIN_UNCHANGED;
out:
    admin_channel_deinit(&old);
    free(owner);
    free(name);
    return r;
}

/* A count, or the first column of a one-row query, into *n_r. */
static int count1(sqlite3 *db, int64_t *n_r, char *err, size_t errlen, const char *sql,
                  const char *arg)
{
    sqlite3_stmt *st;
    int rc, r = admin_query(db, &st, err, errlen, sql, 1, arg);
    *n_r = 0;
    if (r != 0)
        return r;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *n_r = sqlite3_column_int64(st, 0);
        rc = sqlite3_step(st);
    }
    return admin_done(db, st, rc, err, errlen);
}

int admin_channel_remove(struct store *store, const char *name_in, struct admin_removed *removed_r,
                         char *err, size_t errlen)
{
    sqlite3 *db = store_handle(store);
    sqlite3_stmt *st;
    char *name;
    int r;

    memset(removed_r, 0, sizeof(*removed_r));
    if ((r = admin_channel_name(name_in, &name, err, errlen)) != 0)
        return r;
    if ((r = admin_tx_begin(db, true, err, errlen)) != 0)
        goto out;
    r = admin_channel_exists(db, name, err, errlen);
    if (r == 0)
        r = count1(db, &removed_r->roster_rows, err, errlen,
                   "SELECT count(*) FROM roster WHERE channel = ?1", name);
    if (r == 0)
        r = count1(db, &removed_r->offline_messages, err, errlen,
                   "SELECT count(*) FROM offline WHERE channel = ?1", name);
    /* The foreign keys (and the triggers, for connections without them)
     * delete the roster rows, stored messages and internal rows. */
    if (r == 0)
        r = admin_query(db, &st, err, errlen, "DELETE FROM channel WHERE name = ?1", 1, name);
    if (r == 0)
        r = admin_exec_stmt(db, st, err, errlen);
    r = admin_tx_end(db, r, err, errlen);
    if (r != 0)
        memset(removed_r, 0, sizeof(*removed_r));
out:
    free(name);
    return r;
}

int admin_channel_list(struct store *store, admin_channel_cb *cb, void *ud, char *err,
                       size_t errlen)
{
    sqlite3 *db = store_handle(store);
    sqlite3_stmt *st;
    int rc, r = admin_query(db, &st, err, errlen,
                            "SELECT " CHANNEL_COLUMNS " FROM channel ORDER BY name", 0);
    if (r != 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct admin_channel c;
        channel_row(st, &c);
        if (c.name != NULL)
            cb(ud, &c);
    }
    return admin_done(db, st, rc, err, errlen);
}

int admin_channel_show(struct store *store, const char *name_in, struct admin_channel_info *info_r,
                       char *err, size_t errlen)
{
    sqlite3 *db = store_handle(store);
    sqlite3_stmt *st;
    char *name;
    int rc, r;

    memset(info_r, 0, sizeof(*info_r));
    if ((r = admin_channel_name(name_in, &name, err, errlen)) != 0)
        return r;
    if ((r = admin_tx_begin(db, false, err, errlen)) != 0)
        goto out;
    r = admin_channel_get(db, name, &info_r->ch, err, errlen);
    if (r == 0)
        r = admin_query(db, &st, err, errlen,
                        "SELECT (SELECT count(*) FROM roster WHERE channel = ?1),"
                        " (SELECT count(*) FROM roster WHERE channel = ?1"
                        "   AND subscription IN ('from', 'both')),"
                        " (SELECT count(*) FROM roster WHERE channel = ?1 AND pending_in = 1),"
                        " (SELECT count(*) FROM roster WHERE channel = ?1 AND ask = 1),"
                        " (SELECT count(*) FROM offline WHERE channel = ?1),"
                        " (SELECT coalesce(sum(bytes), 0) FROM offline WHERE channel = ?1),"
                        " (SELECT last_seen FROM channel_state WHERE channel = ?1),"
                        " (SELECT shown FROM channel_state WHERE channel = ?1)",
                        1, name);
    if (r == 0) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            info_r->roster_rows = sqlite3_column_int64(st, 0);
            info_r->watchers = sqlite3_column_int64(st, 1);
            info_r->pending_in = sqlite3_column_int64(st, 2);
            info_r->pending_out = sqlite3_column_int64(st, 3);
            info_r->offline_messages = sqlite3_column_int64(st, 4);
            info_r->offline_bytes = sqlite3_column_int64(st, 5);
            info_r->last_seen = sqlite3_column_int64(st, 6);
            info_r->shown = sqlite3_column_int64(st, 7) == 1;
            rc = sqlite3_step(st);
        }
        r = admin_done(db, st, rc, err, errlen);
    }
    r = admin_tx_end(db, r, err, errlen);
    if (r != 0)
        admin_channel_deinit(&info_r->ch);
out:
    free(name);
    return r;
}
