/* admin.c - validation and SQL of the admin operations (chanstatctl). */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "cs_admin.h"
#include "cs_error.h"
#include "cs_jid.h"
#include "cs_roster.h"
#include "cs_store.h"
#include "cs_text.h"
#include "cs_util.h"

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
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
static size_t utf8_seq(const unsigned char *s, size_t n)
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
        size_t k = utf8_seq(s + i, n - i);
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
        return fail(err, errlen, CS_EINVAL, "%s must not be empty", what);
    if (n > ADMIN_TEXT_MAX)
        return fail(err, errlen, CS_EINVAL, "%s is longer than %d bytes", what, ADMIN_TEXT_MAX);
    if (!text_ok(s, n))
        return fail(err, errlen, CS_EINVAL, "%s '%s' is not UTF-8 text without control characters",
                    what, quoted(s, q, sizeof(q)));
    return 0;
}

static void ascii_lower(char *s)
{
    for (; *s; s++) {
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
    }
}

/* ---- Validation ---- */

int admin_channel_name(const char *in, char **name_r, char *err, size_t errlen)
{
    char q[QUOTED_LEN];
    struct jid contact;
    char *name;
    int r;

    *name_r = NULL;
    if (jid_check_local(in, strlen(in)) != 0)
        return fail(err, errlen, CS_EINVAL,
                    "'%s' is not a valid channel name (1 to %d bytes of UTF-8, no space, control "
                    "character or any of \" & ' / : < > @)",
                    quoted(in, q, sizeof(q)), JID_PART_MAX);
    /* chanstatd finds a channel by the localpart of the address, which
     * jid_parse() has folded: the same folding gives the name it finds. */
    name = xstrdup(in);
    ascii_lower(name);
    /* An escaped '@' makes the address a relay address, never a channel. */
    r = jid_relay_parse(name, &contact);
    if (r != CS_ENOTFOUND) {
        if (r == 0)
            jid_deinit(&contact);
        free(name);
        return fail(err, errlen, CS_EINVAL,
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
        return fail(err, errlen, CS_EINVAL, "'%s' is not a valid JID", quoted(in, q, sizeof(q)));
    if (j.resource != NULL) {
        jid_deinit(&j);
        return fail(err, errlen, CS_EINVAL, "'%s' is not a bare JID", quoted(in, q, sizeof(q)));
    }
    if (need_local && j.local == NULL) {
        jid_deinit(&j);
        return fail(err, errlen, CS_EINVAL,
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
        return fail(err, errlen, CS_EINVAL, "'%s' is not a policy (open, approve or closed)",
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
    return fail(err, errlen, CS_EINVAL, "'%s' is not a subscription (none, to, from or both)",
                quoted(s, q, sizeof(q)));
}

int admin_channel_edit_check(const struct admin_channel_edit *e, char *err, size_t errlen)
{
    enum channel_policy p;
    char *owner;
    int r;
    if (e->owner != NULL && e->no_owner)
        return fail(err, errlen, CS_EINVAL, "an owner and no owner at once");
    if (e->owner != NULL) {
        r = admin_bare_jid(e->owner, true, &owner, err, errlen);
        if (r != 0)
            return r;
        free(owner);
    }
    if (e->policy != NULL && (r = check_policy(e->policy, &p, err, errlen)) != 0)
        return r;
    if (e->display_name != NULL)
        return check_text(e->display_name, "display name", true, err, errlen);
    return 0;
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
                return fail(err, errlen, CS_EINVAL, "group '%s' is given twice",
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
        return fail(err, errlen, CS_EAGAIN,
                    "the database is locked by another writer (waited [storage] busy_timeout_ms); "
                    "try again");
    case SQLITE_READONLY: return fail(err, errlen, CS_EREADONLY, "the database is read-only");
    case SQLITE_CONSTRAINT:
        return fail(err, errlen, CS_EDB, "the database refused the change: %s", sqlite3_errmsg(db));
    default: return fail(err, errlen, CS_EDB, "database error: %s", sqlite3_errmsg(db));
    }
}

/* Prepares sql and binds the n text arguments that follow it (a NULL one
 * binds NULL).  0 with *st_r the caller's (sqlite3_finalize()), or a
 * CS_E* code with *st_r NULL. */
static int query(sqlite3 *db, sqlite3_stmt **st_r, char *err, size_t errlen, const char *sql, int n,
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
static int done(sqlite3 *db, sqlite3_stmt *st, int rc, char *err, size_t errlen)
{
    int r = rc == SQLITE_DONE ? 0 : db_fail(db, rc, err, errlen);
    sqlite3_finalize(st);
    return r;
}

/* Runs a statement that returns no rows. */
static int exec_stmt(sqlite3 *db, sqlite3_stmt *st, char *err, size_t errlen)
{
    return done(db, st, sqlite3_step(st), err, errlen);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const char *s = col_text(st, i);
    return s ? xstrdup(s) : NULL;
}

/* Writes take the write lock at once, so what they read cannot change
 * before they write; reads take a snapshot. */
static int tx_begin(sqlite3 *db, bool write, char *err, size_t errlen)
{
    int rc = sqlite3_exec(db, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_fail(db, rc, err, errlen);
}

/* Commits when r is 0, else rolls back; returns r, or the commit's
 * error (rolled back too).  err keeps the first error's message. */
static int tx_end(sqlite3 *db, int r, char *err, size_t errlen)
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
    memset(c, 0, sizeof(*c));
}

#define CHANNEL_COLUMNS "name, owner, policy, display_name, created"

/* A row of CHANNEL_COLUMNS; strings borrowed from the statement. */
static void channel_row(sqlite3_stmt *st, struct admin_channel *c)
{
    c->name = (char *)col_text(st, 0);
    c->owner = (char *)col_text(st, 1);
    if (col_text(st, 2) == NULL || channel_policy_parse(col_text(st, 2), &c->policy) != 0)
        c->policy = POLICY_CLOSED; /* the CHECK forbids it; fail closed as chanstatd does */
    c->display_name = (char *)col_text(st, 3);
    c->created = sqlite3_column_int64(st, 4);
}

/* Reads channel name into *c_r (owned copies).  0, CS_ENOTFOUND or a
 * database error. */
static int channel_get(sqlite3 *db, const char *name, struct admin_channel *c_r, char *err,
                       size_t errlen)
{
    sqlite3_stmt *st;
    int rc, r;
    memset(c_r, 0, sizeof(*c_r));
    r = query(db, &st, err, errlen, "SELECT " CHANNEL_COLUMNS " FROM channel WHERE name = ?1", 1,
              name);
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
        return 0;
    }
    r = done(db, st, rc, err, errlen);
    return r != 0 ? r : fail(err, errlen, CS_ENOTFOUND, "no such channel '%s'", name);
}

/* Is there a channel name?  0 (yes), CS_ENOTFOUND or a database error. */
static int channel_exists(sqlite3 *db, const char *name, char *err, size_t errlen)
{
    struct admin_channel c;
    int r = channel_get(db, name, &c, err, errlen);
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

    if ((r = tx_begin(db, true, err, errlen)) != 0)
        goto out;
    r = channel_exists(db, name, err, errlen);
    if (r == 0)
        r = fail(err, errlen, CS_EEXIST, "channel '%s' already exists", name);
    else if (r == CS_ENOTFOUND)
        r = query(db, &st, err, errlen,
                  "INSERT INTO channel (name, owner, policy, display_name) VALUES (?1, ?2, ?3, ?4)",
                  4, name, owner, channel_policy_name(policy), display);
    if (r == 0)
        r = exec_stmt(db, st, err, errlen);
    if (r == 0)
        r = channel_get(db, name, c_r, err, errlen);
    r = tx_end(db, r, err, errlen);
    if (r != 0)
        admin_channel_deinit(c_r);
out:
    free(owner);
    free(name);
    return r;
}

static bool str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Sets one column of channel name when it differs (as set_column's
 * statement text says which). */
static int set_column(sqlite3 *db, const char *sql, const char *name, const char *value,
                      bool *changed, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int r = query(db, &st, err, errlen, sql, 2, name, value);
    if (r == 0)
        r = exec_stmt(db, st, err, errlen);
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

    if ((r = tx_begin(db, true, err, errlen)) != 0)
        goto out;
    r = channel_get(db, name, &old, err, errlen);
    /* Owner last: every change_log row this makes then carries the owner
     * before the edit. */
    if (r == 0 && e->display_name != NULL && !str_eq(display, old.display_name))
        r = set_column(db, "UPDATE channel SET display_name = ?2 WHERE name = ?1", name, display,
                       &changed, err, errlen);
    if (r == 0 && e->policy != NULL && policy != old.policy)
        r = set_column(db, "UPDATE channel SET policy = ?2 WHERE name = ?1", name,
                       channel_policy_name(policy), &changed, err, errlen);
    if (r == 0 && (e->owner != NULL || e->no_owner) && !str_eq(owner, old.owner))
        r = set_column(db, "UPDATE channel SET owner = ?2 WHERE name = ?1", name, owner, &changed,
                       err, errlen);
    if (r == 0)
        r = channel_get(db, name, c_r, err, errlen);
    r = tx_end(db, r, err, errlen);
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
    int rc, r = query(db, &st, err, errlen, sql, 1, arg);
    *n_r = 0;
    if (r != 0)
        return r;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *n_r = sqlite3_column_int64(st, 0);
        rc = sqlite3_step(st);
    }
    return done(db, st, rc, err, errlen);
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
    if ((r = tx_begin(db, true, err, errlen)) != 0)
        goto out;
    r = channel_exists(db, name, err, errlen);
    if (r == 0)
        r = count1(db, &removed_r->roster_rows, err, errlen,
                   "SELECT count(*) FROM roster WHERE channel = ?1", name);
    if (r == 0)
        r = count1(db, &removed_r->offline_messages, err, errlen,
                   "SELECT count(*) FROM offline WHERE channel = ?1", name);
    /* The foreign keys (and the triggers, for connections without them)
     * delete the roster rows, stored messages and internal rows. */
    if (r == 0)
        r = query(db, &st, err, errlen, "DELETE FROM channel WHERE name = ?1", 1, name);
    if (r == 0)
        r = exec_stmt(db, st, err, errlen);
    r = tx_end(db, r, err, errlen);
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
    int rc,
        r = query(db, &st, err, errlen, "SELECT " CHANNEL_COLUMNS " FROM channel ORDER BY name", 0);
    if (r != 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct admin_channel c;
        channel_row(st, &c);
        if (c.name != NULL)
            cb(ud, &c);
    }
    return done(db, st, rc, err, errlen);
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
    if ((r = tx_begin(db, false, err, errlen)) != 0)
        goto out;
    r = channel_get(db, name, &info_r->ch, err, errlen);
    if (r == 0)
        r = query(db, &st, err, errlen,
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
        r = done(db, st, rc, err, errlen);
    }
    r = tx_end(db, r, err, errlen);
    if (r != 0)
        admin_channel_deinit(&info_r->ch);
out:
    free(name);
    return r;
}

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
    it->channel = (char *)col_text(st, 0);
    it->jid = (char *)col_text(st, 1);
    cs_strlcpy(it->subscription, col_text(st, 2) ? col_text(st, 2) : "none",
               sizeof(it->subscription));
    it->ask = sqlite3_column_int64(st, 3) == 1;
    it->pending_in = sqlite3_column_int64(st, 4) == 1;
    it->approved = sqlite3_column_int64(st, 5) == 1;
    it->name = (char *)col_text(st, 6);
    it->groups = (char *)col_text(st, 7);
}

/* Reads row (channel, jid) into *it_r (owned copies).  0, CS_ENOTFOUND or
 * a database error. */
static int item_get(sqlite3 *db, const char *channel, const char *jid, struct admin_item *it_r,
                    char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc, r;
    memset(it_r, 0, sizeof(*it_r));
    r = query(db, &st, err, errlen,
              "SELECT " ITEM_COLUMNS " FROM roster WHERE channel = ?1 AND jid = ?2", 2, channel,
              jid);
    if (r != 0)
        return r;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        item_row(st, it_r);
        it_r->channel = xstrdup(channel);
        it_r->jid = xstrdup(jid);
        it_r->name = col_dup(st, 6);
        it_r->groups = col_dup(st, 7);
        sqlite3_finalize(st);
        return 0;
    }
    r = done(db, st, rc, err, errlen);
    return r != 0 ? r
                  : fail(err, errlen, CS_ENOTFOUND, "'%s' is not in the roster of channel '%s'",
                         jid, channel);
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
           str_eq(a->name, b->name) && str_eq(a->groups, b->groups);
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

    if ((r = tx_begin(db, true, err, errlen)) != 0)
        goto out;
    r = channel_exists(db, channel, err, errlen);
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
        r = query(db, &st, err, errlen,
                  "INSERT INTO roster (channel, jid, subscription, ask, pending_in, approved, name,"
                  " groups) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                  8, channel, jid, it_r->subscription, it_r->ask ? "1" : "0",
                  it_r->pending_in ? "1" : "0", it_r->approved ? "1" : "0", it_r->name,
                  it_r->groups);
    else if (r == 0 && *action_r == ADMIN_UPDATED)
        r = query(db, &st, err, errlen,
                  "UPDATE roster SET subscription = ?3, ask = ?4, pending_in = ?5, approved = ?6,"
                  " name = ?7, groups = ?8 WHERE channel = ?1 AND jid = ?2",
                  8, channel, jid, it_r->subscription, it_r->ask ? "1" : "0",
                  it_r->pending_in ? "1" : "0", it_r->approved ? "1" : "0", it_r->name,
                  it_r->groups);
    if (r == 0 && *action_r != ADMIN_UNCHANGED)
        r = exec_stmt(db, st, err, errlen);
    r = tx_end(db, r, err, errlen);
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
    if ((r = tx_begin(db, true, err, errlen)) != 0)
        goto out;
    r = channel_exists(db, channel, err, errlen);
    if (r == 0)
        r = query(db, &st, err, errlen, "DELETE FROM roster WHERE channel = ?1 AND jid = ?2", 2,
                  channel, jid);
    if (r == 0)
        r = exec_stmt(db, st, err, errlen);
    if (r == 0 && sqlite3_changes(db) == 0)
        r = fail(err, errlen, CS_ENOTFOUND, "'%s' is not in the roster of channel '%s'", jid,
                 channel);
    r = tx_end(db, r, err, errlen);
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
    int rc, r = query(db, &st, err, errlen, sql, 1, channel);
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
    return done(db, st, rc, err, errlen);
}

int admin_roster_list(struct store *store, const char *channel_in, admin_item_cb *cb, void *ud,
                      char *err, size_t errlen)
{
    sqlite3 *db = store_handle(store);
    char *channel;
    int r;

    if ((r = admin_channel_name(channel_in, &channel, err, errlen)) != 0)
        return r;
    if ((r = tx_begin(db, false, err, errlen)) == 0) {
        r = channel_exists(db, channel, err, errlen);
        if (r == 0)
            r = each_item(db, "SELECT " ITEM_COLUMNS " FROM roster WHERE channel = ?1 ORDER BY jid",
                          channel, cb, NULL, ADMIN_WATCHER, ud, err, errlen);
        r = tx_end(db, r, err, errlen);
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
    if ((r = tx_begin(db, false, err, errlen)) == 0) {
        r = channel_exists(db, channel, err, errlen);
        for (int k = ADMIN_WATCHER; k <= ADMIN_PENDING_OUT && r == 0; k++)
            r = each_item(db, sql[k], channel, NULL, cb, (enum admin_sub_kind)k, ud, err, errlen);
        r = tx_end(db, r, err, errlen);
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
    if ((r = tx_begin(db, false, err, errlen)) == 0) {
        r = channel_exists(db, channel, err, errlen);
        if (r == 0)
            r = query(db, &st, err, errlen,
                      "SELECT node, expires FROM node_lease WHERE channel = ?1 ORDER BY node", 1,
                      channel);
        if (r == 0) {
            while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *node = col_text(st, 0);
                if (node)
                    cb(ud, node, (long long)sqlite3_column_int64(st, 1));
            }
            r = done(db, st, rc, err, errlen);
        }
        r = tx_end(db, r, err, errlen);
    }
    free(channel);
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
    if ((r = tx_begin(db, false, err, errlen)) != 0)
        goto out;
    r = channel_get(db, channel, &c, err, errlen);
    /* The same order as the aggregation in src/rules/status.c: the first row,
     * if available, is the aggregate. */
    if (r == 0)
        r = query(db, &st, err, errlen,
                  "SELECT resource, show, status, priority, since FROM channel_resource"
                  " WHERE channel = ?1"
                  " ORDER BY show = 'unavailable', priority DESC, since DESC, resource",
                  1, channel);
    if (r == 0) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            struct admin_resource *res;
            if (col_text(st, 0) == NULL)
                continue;
            if (st_r->n_res == cap) {
                cap = cap ? 2 * cap : 4;
                st_r->res = xrealloc(st_r->res, cap * sizeof(*st_r->res));
            }
            res = &st_r->res[st_r->n_res++];
            res->resource = col_dup(st, 0);
            res->show = xstrdup(col_text(st, 1) ? col_text(st, 1) : "unavailable");
            res->status = col_dup(st, 2);
            res->priority = sqlite3_column_int64(st, 3);
            res->since = sqlite3_column_int64(st, 4);
        }
        r = done(db, st, rc, err, errlen);
    }
    if (r == 0)
        r = query(db, &st, err, errlen,
                  "SELECT last_seen, shown FROM channel_state WHERE channel = ?1", 1, channel);
    if (r == 0) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            st_r->last_seen = sqlite3_column_int64(st, 0);
            st_r->shown = sqlite3_column_int64(st, 1) == 1;
            rc = sqlite3_step(st);
        }
        r = done(db, st, rc, err, errlen);
    }
    r = tx_end(db, r, err, errlen);
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
    if ((r = tx_begin(db, false, err, errlen)) != 0)
        goto out;
    if (channel != NULL) {
        r = channel_exists(db, channel, err, errlen);
        if (r == 0)
            r = query(db, &st, err, errlen,
                      "SELECT id, channel, sender, stored, bytes FROM offline WHERE channel = ?1"
                      " ORDER BY id",
                      1, channel);
    } else {
        r = query(db, &st, err, errlen,
                  "SELECT id, channel, sender, stored, bytes FROM offline ORDER BY id", 0);
    }
    if (r == 0) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            struct admin_message m = {
                .id = sqlite3_column_int64(st, 0),
                .channel = col_text(st, 1),
                .sender = col_text(st, 2),
                .stored = sqlite3_column_int64(st, 3),
                .bytes = sqlite3_column_int64(st, 4),
            };
            if (m.channel != NULL && m.sender != NULL)
                cb(ud, &m);
        }
        r = done(db, st, rc, err, errlen);
    }
    r = tx_end(db, r, err, errlen);
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
    if ((r = tx_begin(db, true, err, errlen)) == 0) {
        r = channel_exists(db, channel, err, errlen);
        if (r == 0)
            r = query(db, &st, err, errlen, "DELETE FROM offline WHERE channel = ?1", 1, channel);
        if (r == 0)
            r = exec_stmt(db, st, err, errlen);
        if (r == 0)
            *n_r = sqlite3_changes64(db);
        r = tx_end(db, r, err, errlen);
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
    int rc,
        r = query(db, &st, err, errlen, "SELECT name, value, updated FROM stats ORDER BY name", 0);
    if (r != 0)
        return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (col_text(st, 0) != NULL)
            cb(ud, col_text(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2));
    }
    return done(db, st, rc, err, errlen);
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
        size_t k = utf8_seq(u + i, n - i);
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
